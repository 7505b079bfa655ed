/*
 * The S3 client: a pool of curl easy handles (each keeps its connection between requests; taken
 * and given back under a mutex), requests signed by curl's CURLOPT_AWS_SIGV4, each attempt bounded
 * by a connect timeout, a low-speed limit and the call's deadline, and the answers' XML read with
 * libxml2.
 */
#include "backends/s3.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <sodium.h>

#include "common/timeout.h"

#define POOL_MAX     16		 /* idle handles kept; more may be in use at once */
#define ANSWER_MAX   (32u << 20) /* an XML answer or error larger than this is refused */
#define BACKOFF_MS   100	 /* first retry's ceiling, doubled each time */
#define BACKOFF_MAX  2000	 /* ceiling of one wait */
#define LOW_SPEED    1024	 /* bytes a second under which a transfer is stalled */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DEFAULT_REGN "us-east-1"

struct s3_client {
	char *endpoint; /* without a trailing '/' */
	char *region;
	char *bucket;
	char *sigv4; /* "aws:amz:REGION:s3" */
	/* The credential: wiped at close. */
	char *key_id;
	char *secret;
	char *token_header; /* "x-amz-security-token: ..." or NULL */
	pthread_mutex_t lock;
	CURL *idle[POOL_MAX];
	int nidle;
	/* Until then calls fail at once: the store let the last one wait its whole bound, and the
	 * calls queued behind it (the mount opens segments one at a time) would each wait as long.
	 * Under lock. */
	int64_t down_until;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

/* curl and libxml2 both want their global set-up done once, before threads use them. */
static void global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || sodium_init() < 0) {
		global_rc = -ENOMEM;
		return;
	}
	xmlInitParser();
}

static void secret_free(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* Reads the key id, secret and token of profile from the shared credentials file (an INI file
 * of [profile] sections with aws_access_key_id = ... lines). */
static int credentials_file(struct s3_client *c, struct mfs_error *err)
{
	const char *path = getenv("AWS_SHARED_CREDENTIALS_FILE");
	const char *profile = getenv("AWS_PROFILE");
	char home_path[4096], line[4096], *name, *value, *eq, *end;
	char *token = NULL;
	int in_section = 0, rc = 0;
	FILE *f;

	if (!profile || !*profile)
		profile = "default";
	if (!path || !*path) {
		const char *home = getenv("HOME");

		if (!home || !*home)
			return 0;
		snprintf(home_path, sizeof(home_path), "%s/.aws/credentials", home);
		path = home_path;
	}
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0
				       : mfs_error_set(err, errno, "%s: cannot read: %s", path,
						       strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		name = trim(line);
		if (*name == '[') {
			end = strchr(name, ']');
			if (end)
				*end = '\0';
			in_section = !strcmp(trim(name + 1), profile);
			continue;
		}
		eq = strchr(name, '=');
		if (!in_section || *name == '#' || *name == ';' || !eq)
			continue;
		*eq = '\0';
		value = trim(eq + 1);
		name = trim(name);
		char **slot = !strcmp(name, "aws_access_key_id")       ? &c->key_id
			      : !strcmp(name, "aws_secret_access_key") ? &c->secret
			      : !strcmp(name, "aws_session_token")     ? &token
								       : NULL;
		if (!slot)
			continue;
		secret_free(*slot);
		*slot = strdup(value);
		if (!*slot) {
			rc = mfs_error_set(err, ENOMEM, "out of memory");
			break;
		}
	}
	sodium_memzero(line, sizeof(line));
	fclose(f);
	if (!rc && token) {
		if (asprintf(&c->token_header, "x-amz-security-token: %s", token) < 0) {
			c->token_header = NULL;
			rc = mfs_error_set(err, ENOMEM, "out of memory");
		}
	}
	secret_free(token);
	return rc;
}

static int credentials(struct s3_client *c, struct mfs_error *err)
{
	const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN");
	int rc;

	if (id && *id && secret && *secret) {
		c->key_id = strdup(id);
		c->secret = strdup(secret);
		if (!c->key_id || !c->secret)
			return mfs_error_set(err, ENOMEM, "out of memory");
		if (token && *token &&
		    asprintf(&c->token_header, "x-amz-security-token: %s", token) < 0) {
			c->token_header = NULL;
			return mfs_error_set(err, ENOMEM, "out of memory");
		}
		return 0;
	}
	rc = credentials_file(c, err);
	if (rc)
		return rc;
	if (!c->key_id || !c->secret)
		return mfs_error_set(err, EACCES,
				     "s3://%s: no credential: set AWS_ACCESS_KEY_ID and "
				     "AWS_SECRET_ACCESS_KEY, or write ~/.aws/credentials",
				     c->bucket);
	return 0;
}

int s3_client_open(const char *endpoint, const char *region, const char *bucket,
		   struct s3_client **out, struct mfs_error *err)
{
	struct s3_client *c;
	size_t n;
	int rc;

	pthread_once(&global_once, global_init);
	if (global_rc)
		return mfs_error_set(err, -global_rc, "cannot initialise libcurl");
	c = calloc(1, sizeof(*c));
	if (!c)
		return mfs_error_set(err, ENOMEM, "out of memory");
	rc = pthread_mutex_init(&c->lock, NULL);
	if (rc) {
		free(c);
		return mfs_error_set(err, rc, "cannot create a mutex");
	}
	if (!region || !*region)
		region = getenv("AWS_REGION");
	if (!region || !*region)
		region = getenv("AWS_DEFAULT_REGION");
	if (!region || !*region)
		region = DEFAULT_REGN;
	if (!endpoint || !*endpoint)
		endpoint = getenv("AWS_ENDPOINT_URL");
	if (endpoint && *endpoint)
		c->endpoint = strdup(endpoint);
	else if (asprintf(&c->endpoint, "https://s3.%s.amazonaws.com", region) < 0)
		c->endpoint = NULL;
	c->region = strdup(region);
	c->bucket = strdup(bucket);
	if (asprintf(&c->sigv4, "aws:amz:%s:s3", region) < 0)
		c->sigv4 = NULL;
	if (!c->endpoint || !c->region || !c->bucket || !c->sigv4) {
		rc = mfs_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	if (strncmp(c->endpoint, "http://", 7) && strncmp(c->endpoint, "https://", 8)) {
		rc = mfs_error_set(err, EINVAL,
				   "%s: the endpoint must be an http:// or https:// URL",
				   c->endpoint);
		goto out;
	}
	n = strlen(c->endpoint);
	while (n > 0 && c->endpoint[n - 1] == '/')
		c->endpoint[--n] = '\0';
	rc = credentials(c, err);
	if (rc)
		goto out;
	*out = c;
	return 0;
out:
	s3_client_close(c);
	return rc;
}

void s3_client_close(struct s3_client *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->nidle; i++)
		curl_easy_cleanup(c->idle[i]);
	pthread_mutex_destroy(&c->lock);
	secret_free(c->key_id);
	secret_free(c->secret);
	secret_free(c->token_header);
	free(c->endpoint);
	free(c->region);
	free(c->bucket);
	free(c->sigv4);
	free(c);
}

const char *s3_client_bucket(const struct s3_client *c)
{
	return c->bucket;
}

const char *s3_client_region(const struct s3_client *c)
{
	return c->region;
}

static CURL *handle_take(struct s3_client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->nidle > 0)
		h = c->idle[--c->nidle];
	pthread_mutex_unlock(&c->lock);
	return h ? h : curl_easy_init();
}

static void handle_give(struct s3_client *c, CURL *h)
{
	/* Options go, the connection stays. */
	curl_easy_reset(h);
	pthread_mutex_lock(&c->lock);
	if (c->nidle < POOL_MAX) {
		c->idle[c->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (h)
		curl_easy_cleanup(h);
}

void s3_call_init(struct s3_call *call, const char *method, const char *key)
{
	memset(call, 0, sizeof(*call));
	call->method = method;
	call->key = key;
	strbuf_init(&call->answer);
}

void s3_call_release(struct s3_call *call)
{
	strbuf_release(&call->answer);
}

/* Appends s encoded as SigV4 wants a query value: all but A-Z a-z 0-9 - _ . ~ as %XX. */
static int uri_encode(struct strbuf *sb, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (; *s && !rc; s++) {
		unsigned char ch = (unsigned char)*s;

		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			rc = strbuf_addch(sb, (char)ch);
		} else {
			char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};

			rc = strbuf_add(sb, esc, sizeof(esc));
		}
	}
	return rc;
}

int s3_query_add(struct strbuf *query, const char *key, const char *value)
{
	int rc = 0;

	if (query->len)
		rc = strbuf_addch(query, '&');
	return rc ?: strbuf_addf(query, "%s=", key) ?: uri_encode(query, value);
}

/* What one attempt's callbacks share. */
struct transfer {
	CURL *h;
	struct s3_call *call;
	size_t sent;  /* bytes of the body read by curl */
	int overflow; /* a 2xx body longer than dst_cap, or an answer past ANSWER_MAX */
	int nomem;
};

static size_t on_body(char *data, size_t size, size_t n, void *p)
{
	struct transfer *t = p;
	struct s3_call *call = t->call;
	long status = 0;

	n *= size;
	curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
	if (call->dst && status >= 200 && status < 300) {
		if (n > call->dst_cap - call->dst_len) {
			t->overflow = 1;
			return 0;
		}
		memcpy((char *)call->dst + call->dst_len, data, n);
		call->dst_len += n;
		return n;
	}
	if (call->answer.len + n > ANSWER_MAX) {
		t->overflow = 1;
		return 0;
	}
	if (strbuf_add(&call->answer, data, n)) {
		t->nomem = 1;
		return 0;
	}
	return n;
}

static size_t on_header(char *data, size_t size, size_t n, void *p)
{
	struct transfer *t = p;
	size_t len = size * n, v;

	if (len > 5 && !strncasecmp(data, "etag:", 5)) {
		v = 5;
		while (v < len && (data[v] == ' ' || data[v] == '\t'))
			v++;
		while (len > v &&
		       (data[len - 1] == '\r' || data[len - 1] == '\n' || data[len - 1] == ' '))
			len--;
		if (len - v < sizeof(t->call->etag)) {
			memcpy(t->call->etag, data + v, len - v);
			t->call->etag[len - v] = '\0';
		}
	}
	return size * n;
}

static size_t on_send(char *buf, size_t size, size_t n, void *p)
{
	struct transfer *t = p;
	size_t left = t->call->body_len - t->sent;

	n *= size;
	if (n > left)
		n = left;
	memcpy(buf, (const char *)t->call->body + t->sent, n);
	t->sent += n;
	return n;
}

static int on_seek(void *p, curl_off_t off, int origin)
{
	struct transfer *t = p;

	if (origin != SEEK_SET || off < 0 || (uint64_t)off > t->call->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	t->sent = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The payload hash that x-amz-content-sha256 carries: curl signs what that header says. */
static void payload_sha256(const struct s3_call *call, char hex[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	if (!call->body_len) {
		memcpy(hex, EMPTY_SHA256, 65);
		return;
	}
	crypto_hash_sha256(h, call->body, call->body_len);
	sodium_bin2hex(hex, 65, h, sizeof(h));
}

static int call_url(const struct s3_client *c, const struct s3_call *call, struct strbuf *url)
{
	int rc = strbuf_addf(url, "%s/%s", c->endpoint, c->bucket);

	if (!rc && call->key)
		rc = strbuf_addf(url, "/%s", call->key);
	if (!rc && call->query)
		rc = strbuf_addf(url, "?%s", call->query);
	return rc;
}

/* One attempt: the curl code of the transfer; call->status and the answer are filled. */
static CURLcode attempt(struct s3_client *c, CURL *h, struct s3_call *call, const char *url,
			struct curl_slist *headers, int64_t left_ms, struct transfer *t)
{
	int timeout_ms = mfs_timeout_ms();

	*t = (struct transfer){.h = h, .call = call};
	call->status = 0;
	call->dst_len = 0;
	call->etag[0] = '\0';
	strbuf_reset(&call->answer);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->sigv4);
	/* USERNAME and PASSWORD, not USERPWD: a tempauth key id has a colon in it. */
	curl_easy_setopt(h, CURLOPT_USERNAME, c->key_id);
	curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(left_ms < timeout_ms ? left_ms : timeout_ms));
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)LOW_SPEED);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)(timeout_ms + 999) / 1000);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
	if (!strcmp(call->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(call->method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)call->body_len);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_send);
		curl_easy_setopt(h, CURLOPT_READDATA, t);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, t);
	} else if (!strcmp(call->method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, call->body ? call->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
	} else if (strcmp(call->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call->method);
	}
	CURLcode cc = curl_easy_perform(h);
	curl_off_t length = -1;

	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &call->status);
	if (curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK &&
	    length >= 0)
		call->content_length = (uint64_t)length;
	return cc;
}

/* Whether a failed transfer may succeed if sent again: the connection broke or was refused. */
static int transient(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
		return 1;
	default:
		return 0;
	}
}

/* Reads the error's <Code> out of the answer. */
static void error_code(struct s3_call *call)
{
	xmlDoc *doc;
	xmlNode *root;

	call->code[0] = '\0';
	doc = s3_xml_parse(&call->answer);
	if (!doc)
		return;
	root = xmlDocGetRootElement(doc);
	if (root && !strcmp((const char *)root->name, "Error") &&
	    s3_xml_text(root, "Code", call->code, sizeof(call->code)) < 0)
		call->code[0] = '\0';
	xmlFreeDoc(doc);
}

static int later(const struct s3_call *call)
{
	return call->status >= 500 || call->status == 429 || !strcmp(call->code, "SlowDown");
}

/* Fills call->error for a final answer and returns its -errno. */
static int outcome(struct s3_client *c, struct s3_call *call, const char *what, int tries,
		   int64_t spent_ms, int *print)
{
	const char *code = call->code[0] ? call->code : NULL;

	*print = 1;
	switch (call->status) {
	case 403:
		snprintf(
		    call->error, sizeof(call->error), "%s: the credential was refused (403 %s)%s",
		    what, code ? code : "Forbidden",
		    code && !strcmp(code, "AccessDenied") ? ": it may not use this bucket" : "");
		return -EACCES;
	case 404:
		if (code && !strcmp(code, "NoSuchBucket")) {
			snprintf(call->error, sizeof(call->error),
				 "%s: the bucket %s does not exist (NoSuchBucket)", what,
				 c->bucket);
		} else {
			snprintf(call->error, sizeof(call->error), "%s: not found (404%s%s)", what,
				 code ? " " : "", code ? code : "");
			*print = 0;
		}
		return -ENOENT;
	case 409:
		snprintf(call->error, sizeof(call->error), "%s: conflict (409%s%s)", what,
			 code ? " " : "", code ? code : "");
		*print = 0;
		return -EEXIST;
	default:
		if (later(call))
			snprintf(call->error, sizeof(call->error),
				 "%s: the store answered %ld%s%s %d times in %lld ms; giving up",
				 what, call->status, code ? " " : "", code ? code : "", tries,
				 (long long)spent_ms);
		else
			snprintf(call->error, sizeof(call->error), "%s: the store answered %ld%s%s",
				 what, call->status, code ? " " : "", code ? code : "");
		return -EIO;
	}
}

static int store_away(struct s3_client *c)
{
	int away;

	pthread_mutex_lock(&c->lock);
	away = now_ms() < c->down_until;
	pthread_mutex_unlock(&c->lock);
	return away;
}

static void store_hold(struct s3_client *c)
{
	pthread_mutex_lock(&c->lock);
	c->down_until = now_ms() + mfs_away_ms();
	pthread_mutex_unlock(&c->lock);
}

int s3_call_run(struct s3_client *c, struct s3_call *call)
{
	struct curl_slist *headers = NULL, *more;
	struct strbuf url, what;
	struct transfer t;
	char hex[65], line[128];
	int64_t start = now_ms(), deadline, left, wait, budget = 0;
	int rc = 0, tries = 0, print = 1;
	unsigned int ceiling = BACKOFF_MS;
	CURLcode cc = CURLE_OK;
	CURL *h = NULL;

	strbuf_init(&url);
	strbuf_init(&what);
	deadline = start + mfs_timeout_ms();
	call->error[0] = '\0';
	call->code[0] = '\0';
	if (call_url(c, call, &url) ||
	    strbuf_addf(&what, "%s s3://%s%s%s", call->method, c->bucket, call->key ? "/" : "",
			call->key ? call->key : "")) {
		rc = -ENOMEM;
		snprintf(call->error, sizeof(call->error), "out of memory");
		goto out;
	}
	payload_sha256(call, hex);
	snprintf(line, sizeof(line), "x-amz-content-sha256: %s", hex);
	headers = curl_slist_append(headers, line);
	if (headers && call->range_len) {
		snprintf(line, sizeof(line), "Range: bytes=%llu-%llu",
			 (unsigned long long)call->range_off,
			 (unsigned long long)(call->range_off + call->range_len - 1));
		more = curl_slist_append(headers, line);
		headers = more ? more : (curl_slist_free_all(headers), NULL);
	}
	if (headers && c->token_header) {
		more = curl_slist_append(headers, c->token_header);
		headers = more ? more : (curl_slist_free_all(headers), NULL);
	}
	if (!call->cleanup && store_away(c)) {
		rc = -ETIMEDOUT;
		snprintf(call->error, sizeof(call->error),
			 "%s: no answer in time (the store did not answer a moment ago)", what.buf);
		goto out;
	}
	h = handle_take(c);
	if (!headers || !h) {
		rc = -ENOMEM;
		snprintf(call->error, sizeof(call->error), "out of memory");
		goto out;
	}
	for (;;) {
		left = deadline - now_ms();
		/* A try with little of the bound left would time out and hide the store's last
		 * answer (a 503, a SlowDown) behind a timeout of its own making. */
		if (tries && cc == CURLE_OK && left < (deadline - start) / 2)
			break;
		if (left < 1)
			left = 1;
		budget = left;
		tries++;
		cc = attempt(c, h, call, url.buf, headers, left, &t);
		if (t.nomem) {
			rc = -ENOMEM;
			snprintf(call->error, sizeof(call->error), "%s: out of memory", what.buf);
			goto out;
		}
		if (t.overflow) {
			rc = -EIO;
			snprintf(call->error, sizeof(call->error),
				 "%s: the answer is longer than asked for", what.buf);
			goto out;
		}
		if (cc == CURLE_OK) {
			if (call->status < 200 || call->status >= 300)
				error_code(call);
			if (!later(call))
				break;
		} else if (!transient(cc)) {
			rc = -EIO;
			snprintf(call->error, sizeof(call->error), "%s: %s", what.buf,
				 curl_easy_strerror(cc));
			goto out;
		}
		/* Full jitter: clients that failed together do not come back together. */
		wait = 1 + randombytes_uniform(ceiling);
		if (ceiling < BACKOFF_MAX)
			ceiling *= 2;
		if (now_ms() + wait >= deadline)
			break;
		struct timespec ts = {.tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
	if (cc != CURLE_OK) {
		int timed_out = cc == CURLE_OPERATION_TIMEDOUT;

		rc = timed_out ? -ETIMEDOUT : -EIO;
		/* Only a try that had the time to be answered says the store is away. */
		if (timed_out && budget >= (deadline - start) / 2)
			store_hold(c);
		snprintf(call->error, sizeof(call->error), "%s: %s (%s; %d tries in %lld ms)",
			 what.buf, timed_out ? "no answer in time" : "cannot reach the store",
			 curl_easy_strerror(cc), tries, (long long)(now_ms() - start));
		goto out;
	}
	if (call->status >= 200 && call->status < 300)
		goto out;
	rc = outcome(c, call, what.buf, tries, now_ms() - start, &print);
out:
	if (h)
		handle_give(c, h);
	curl_slist_free_all(headers);
	if (rc && print && !call->quiet)
		fprintf(stderr, "meshfs: store: %s\n", call->error);
	strbuf_release(&url);
	strbuf_release(&what);
	return rc;
}

xmlDoc *s3_xml_parse(const struct strbuf *answer)
{
	if (!answer->len || answer->len > ANSWER_MAX)
		return NULL;
	/* No network, no entities from outside: the answer is data, not a document to fetch. */
	return xmlReadMemory(answer->buf, (int)answer->len, NULL, NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static int is_element(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

xmlNode *s3_xml_child(const xmlNode *parent, const char *name)
{
	for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
		if (is_element(n, name))
			return n;
	return NULL;
}

xmlNode *s3_xml_next(const xmlNode *node)
{
	for (xmlNode *n = node->next; n; n = n->next)
		if (is_element(n, (const char *)node->name))
			return n;
	return NULL;
}

int s3_xml_text(const xmlNode *parent, const char *name, char *buf, size_t cap)
{
	xmlNode *n = s3_xml_child(parent, name);
	xmlChar *text;
	size_t len;
	int rc;

	if (!n)
		return -ENOENT;
	text = xmlNodeGetContent(n);
	if (!text)
		return -ENOMEM;
	len = strlen((const char *)text);
	if (len >= cap) {
		rc = -ENAMETOOLONG;
	} else {
		memcpy(buf, text, len + 1);
		rc = (int)len;
	}
	xmlFree(text);
	return rc;
}
