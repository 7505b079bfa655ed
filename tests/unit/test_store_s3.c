/*
 * The S3 store against a real Swift (s3api, tempauth): run by tests/servers/with_swift.sh, which
 * exports the endpoint and the keys. Faults come from tests/servers/faultproxy.py, a proxy in
 * front of Swift that answers 503 SlowDown to its first requests, and that the cases stop with
 * SIGSTOP to play a hung store.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backends/s3.h"
#include "backends/store.h"
#include "backends/store_s3.h"
#include "tests/unit/helpers.h"

#define BUCKET	 "meshfs-test"
#define HELLO	 "hello, mesh\n"
#define HELLO_ID "81ce8f2b772811e03845e84b02f239a573f6c12693a45b8fd45fa37ffc25ce0b"
#define EMPTY_ID "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
#define MIB	 (1u << 20)

static const struct store_s3_tuning small_parts = {STORE_S3_PART_MIN, STORE_S3_LIST_PAGE,
						   STORE_S3_STAGING_S};

struct fixture {
	char root[64];	/* scratch: cache and staging */
	char url[128];	/* s3://BUCKET/CASE */
	char cache[96]; /* root/cache */
	struct store *st;
	pid_t proxy; /* a fault proxy, or 0 */
	char endpoint[64];
	char proxy_log[160];
};

static int fixture_open(struct fixture *f, const char *endpoint, const char *cache_dir,
			uint64_t cache_size, struct mfs_error *err)
{
	struct store_options o = {.endpoint = endpoint,
				  .cache_dir = cache_dir,
				  .cache_size = cache_size,
				  .tmp_dir = f->root};

	mfs_error_clear(err);
	return store_open_url(f->url, &o, 1, &f->st, err);
}

/* A fresh prefix per case, in the one bucket of the run: cases never see each other's blobs. */
static int setup(void **state)
{
	static unsigned n;
	struct fixture *f = calloc(1, sizeof(*f));
	struct mfs_error err;

	assert_non_null(f);
	strcpy(f->root, "/tmp/meshfs-test-s3-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->cache, sizeof(f->cache), "%s/cache", f->root);
	snprintf(f->url, sizeof(f->url), "s3://" BUCKET "/run%ld-%u", (long)getpid(), ++n);
	assert_int_equal(fixture_open(f, NULL, f->cache, 0, &err), 0);
	*state = f;
	return 0;
}

static void proxy_stop(struct fixture *f)
{
	if (f->proxy > 0) {
		kill(f->proxy, SIGCONT);
		kill(f->proxy, SIGTERM);
		waitpid(f->proxy, NULL, 0);
		f->proxy = 0;
	}
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	proxy_stop(f);
	remove_tree(f->root);
	free(f);
	return 0;
}

/* Starts the fault proxy in front of Swift, failing its first `failures` requests; its URL goes
 * to f->endpoint. */
static void proxy_start(struct fixture *f, int failures)
{
	const char *src = getenv("MESHFS_SOURCE_ROOT"), *up = getenv("MESHFS_S3_ENDPOINT");
	char script[512], port_file[128], n[16], line[32];
	FILE *pf = NULL;

	assert_non_null(src);
	snprintf(script, sizeof(script), "%s/tests/servers/faultproxy.py", src);
	snprintf(port_file, sizeof(port_file), "%s/proxy.port", f->root);
	snprintf(f->proxy_log, sizeof(f->proxy_log), "%s.log", port_file);
	snprintf(n, sizeof(n), "%d", failures);
	f->proxy = fork();
	assert_true(f->proxy >= 0);
	if (f->proxy == 0) {
		execlp("python3", "python3", script, up, port_file, n, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && !(pf = fopen(port_file, "r")); i++)
		usleep(50000);
	assert_non_null(pf);
	assert_non_null(fgets(line, sizeof(line), pf));
	fclose(pf);
	snprintf(f->endpoint, sizeof(f->endpoint), "http://127.0.0.1:%d", atoi(line));
}

static int proxy_failed(const struct fixture *f)
{
	FILE *log = fopen(f->proxy_log, "r");
	char line[512];
	int n = 0;

	if (!log)
		return 0;
	while (fgets(line, sizeof(line), log))
		n += !strncmp(line, "503 ", 4);
	fclose(log);
	return n;
}

static void put(struct store *st, const void *data, size_t len, char id[STORE_ID_HEX + 1])
{
	struct store_writer *w;

	assert_int_equal(store_writer_open(st, &w), 0);
	assert_int_equal(store_writer_write(w, data, len), 0);
	assert_int_equal(store_writer_commit(w, id), 0);
}

static unsigned char *pattern(size_t size, unsigned seed)
{
	unsigned char *p = malloc(size);

	assert_non_null(p);
	for (size_t i = 0; i < size; i++)
		p[i] = (unsigned char)((i + seed) * 2654435761u >> 13);
	return p;
}

static void put_pieces(struct store *st, const unsigned char *data, size_t size,
		       char id[STORE_ID_HEX + 1])
{
	struct store_writer *w;

	assert_int_equal(store_writer_open(st, &w), 0);
	for (size_t off = 0; off < size; off += 999999)
		assert_int_equal(
		    store_writer_write(w, data + off, size - off < 999999 ? size - off : 999999),
		    0);
	assert_int_equal(store_writer_commit(w, id), 0);
}

static void key_of(const struct fixture *f, const char *id, char *key, size_t cap)
{
	const char *prefix = f->url + strlen("s3://" BUCKET "/");

	snprintf(key, cap, "%s/blobs/%.2s/%s", prefix, id, id + 2);
}

static struct s3_client *client(void)
{
	struct s3_client *c;
	struct mfs_error err;

	mfs_error_clear(&err);
	assert_int_equal(s3_client_open(NULL, NULL, BUCKET, &c, &err), 0);
	return c;
}

/* A request of the test's own, beside the store: to see or change what the store cannot. */
static int raw(const char *method, const char *key, const char *query, const void *body, size_t len,
	       struct s3_call *out)
{
	struct s3_client *c = client();
	struct s3_call call;
	int rc;

	s3_call_init(&call, method, key);
	call.query = query;
	call.body = body;
	call.body_len = len;
	call.quiet = 1;
	rc = s3_call_run(c, &call);
	if (out)
		*out = call;
	else
		s3_call_release(&call);
	s3_client_close(c);
	return rc;
}

static void test_write_read(void **state)
{
	struct fixture *f = *state;
	struct store_writer *w;
	struct store_blob *b;
	char id[STORE_ID_HEX + 1], again[STORE_ID_HEX + 1], buf[64];

	assert_int_equal(store_writer_open(f->st, &w), 0);
	assert_int_equal(store_writer_write(w, "hello", 5), 0);
	assert_int_equal(store_writer_write(w, "", 0), 0);
	assert_int_equal(store_writer_write(w, ", mesh\n", 7), 0);
	assert_int_equal(store_writer_commit(w, id), 0);
	assert_string_equal(id, HELLO_ID);
	assert_int_equal(store_blob_open(f->st, id, &b), 0);
	assert_int_equal(store_blob_size(b), strlen(HELLO));
	assert_int_equal(store_blob_pread(b, buf, sizeof(buf), 0), strlen(HELLO));
	assert_memory_equal(buf, HELLO, strlen(HELLO));
	assert_int_equal(store_blob_pread(b, buf, 4, 7), 4);
	assert_memory_equal(buf, "mesh", 4);
	assert_int_equal(store_blob_pread(b, buf, 100, 9), 3);
	assert_int_equal(store_blob_pread(b, buf, 10, 1000), 0);
	assert_int_equal(store_blob_fd(b), -1);
	store_blob_close(b);
	assert_int_equal(store_verify(f->st, id), 0);
	/* The same bytes again: no error, the same id, and still one object. */
	put(f->st, HELLO, strlen(HELLO), again);
	assert_string_equal(again, id);
	assert_int_equal(store_verify(f->st, id), 0);
}

static void test_empty_blob(void **state)
{
	struct fixture *f = *state;
	struct store_blob *b;
	char id[STORE_ID_HEX + 1], buf[4];

	put(f->st, "", 0, id);
	assert_string_equal(id, EMPTY_ID);
	assert_int_equal(store_blob_open(f->st, id, &b), 0);
	assert_int_equal(store_blob_size(b), 0);
	assert_int_equal(store_blob_pread(b, buf, sizeof(buf), 0), 0);
	store_blob_close(b);
	assert_int_equal(store_verify(f->st, id), 0);
}

/* Reads [off, off + len) and compares it with data. */
static void read_at(struct store_blob *b, const unsigned char *data, uint64_t off, size_t len)
{
	unsigned char *buf = malloc(len);

	assert_non_null(buf);
	assert_int_equal(store_blob_pread(b, buf, len, off), len);
	assert_memory_equal(buf, data + off, len);
	free(buf);
}

static void test_large_multipart(void **state)
{
	struct fixture *f = *state;
	const size_t size = 2 * STORE_S3_PART_MIN + 12345; /* three parts */
	unsigned char *data = pattern(size, 1);
	char id[STORE_ID_HEX + 1], key[512];
	struct store_blob *b;
	struct s3_call call;

	store_s3_tune(f->st, &small_parts);
	put_pieces(f->st, data, size, id);
	/* An object made of parts says how many in its ETag. */
	key_of(f, id, key, sizeof(key));
	assert_int_equal(raw("HEAD", key, NULL, NULL, 0, &call), 0);
	assert_non_null(strstr(call.etag, "-3"));
	assert_int_equal(call.content_length, size);
	s3_call_release(&call);

	assert_int_equal(store_blob_open(f->st, id, &b), 0);
	assert_int_equal(store_blob_size(b), size);
	/* Odd offsets, across block boundaries, backwards and forwards. */
	read_at(b, data, STORE_S3_BLOCK - 7, 100);
	read_at(b, data, STORE_S3_BLOCK + 3, STORE_S3_BLOCK + 11);
	read_at(b, data, 1, 1);
	read_at(b, data, 12345, 2 * STORE_S3_BLOCK);
	read_at(b, data, size - 5, 5);
	read_at(b, data, 0, size);
	store_blob_close(b);
	assert_int_equal(store_verify(f->st, id), 0);
	free(data);
}

static void test_missing(void **state)
{
	struct fixture *f = *state;
	struct store_blob *b;

	assert_int_equal(store_blob_open(f->st, HELLO_ID, &b), -ENOENT);
	assert_int_equal(store_verify(f->st, HELLO_ID), -ENOENT);
	assert_int_equal(store_remove(f->st, HELLO_ID), -ENOENT);
	assert_int_equal(store_blob_open(f->st, "abc", &b), -EINVAL);
	assert_int_equal(store_blob_open(f->st, "../" HELLO_ID, &b), -EINVAL);
	assert_int_equal(store_verify(f->st, ""), -EINVAL);
}

static void test_verify_damaged(void **state)
{
	struct fixture *f = *state;
	char id[STORE_ID_HEX + 1], key[512];

	put(f->st, HELLO, strlen(HELLO), id);
	assert_int_equal(store_verify(f->st, id), 0);
	key_of(f, id, key, sizeof(key));
	assert_int_equal(raw("PUT", key, NULL, "hello, Mesh\n", strlen(HELLO), NULL), 0);
	assert_int_equal(store_verify(f->st, id), -EIO);
}

struct seen {
	char ids[16][STORE_ID_HEX + 1];
	size_t n, stop_after;
};

static int collect(const char *id, void *ctx)
{
	struct seen *s = ctx;

	assert_true(s->n < 16);
	strcpy(s->ids[s->n++], id);
	return s->stop_after && s->n == s->stop_after ? 42 : 0;
}

static int seen_has(const struct seen *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->ids[i], id))
			return 1;
	return 0;
}

static void test_list_pages(void **state)
{
	struct fixture *f = *state;
	const struct store_s3_tuning pages = {STORE_S3_PART, 2, STORE_S3_STAGING_S};
	char ids[5][STORE_ID_HEX + 1], name[8], key[512];
	struct seen s = {0};

	store_s3_tune(f->st, &pages);
	assert_int_equal(store_list(f->st, collect, &s), 0);
	assert_int_equal(s.n, 0);
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "blob %d", i);
		put(f->st, name, strlen(name), ids[i]);
	}
	/* Not a blob's key, though under the prefix. */
	key_of(f, ids[0], key, sizeof(key));
	strcat(key, ".junk");
	assert_int_equal(raw("PUT", key, NULL, "x", 1, NULL), 0);
	/* Five blobs, two a page: three pages, the token carried from one to the next. */
	assert_int_equal(store_list(f->st, collect, &s), 0);
	assert_int_equal(s.n, 5);
	for (int i = 0; i < 5; i++)
		assert_true(seen_has(&s, ids[i]));
	memset(&s, 0, sizeof(s));
	s.stop_after = 3;
	assert_int_equal(store_list(f->st, collect, &s), 42);
	assert_int_equal(s.n, 3);
}

static void test_remove(void **state)
{
	struct fixture *f = *state;
	char id[STORE_ID_HEX + 1];
	struct store_blob *b;

	put(f->st, HELLO, strlen(HELLO), id);
	assert_int_equal(store_remove(f->st, id), 0);
	/* Gone from the cache too: the write-through copy must not answer for it. */
	assert_int_equal(store_blob_open(f->st, id, &b), -ENOENT);
	assert_int_equal(store_remove(f->st, id), -ENOENT);
	put(f->st, HELLO, strlen(HELLO), id);
	assert_int_equal(store_verify(f->st, id), 0);
}

static uint64_t disk_usage(const char *dir)
{
	char path[512];
	struct dirent *de;
	struct stat sb;
	uint64_t total = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		assert_int_equal(lstat(path, &sb), 0);
		total += S_ISDIR(sb.st_mode) ? disk_usage(path) : (uint64_t)sb.st_blocks * 512;
	}
	closedir(d);
	return total;
}

static void test_cache_bound(void **state)
{
	struct fixture *f = *state;
	const uint64_t bound = 10 * MIB;
	const size_t size = 25 * MIB + 7;
	unsigned char *data = pattern(size, 2), *buf = malloc(MIB);
	char id[STORE_ID_HEX + 1];
	struct store_blob *b;
	struct mfs_error err;

	assert_non_null(buf);
	store_close(f->st);
	assert_int_equal(fixture_open(f, NULL, f->cache, bound, &err), 0);
	put_pieces(f->st, data, size, id);
	assert_int_equal(store_blob_open(f->st, id, &b), 0);
	/* As a reader reads a file: forward, in pieces, more than the bound in all. */
	for (uint64_t off = 0; off < size; off += MIB) {
		size_t len = size - off < MIB ? size - off : MIB;

		assert_int_equal(store_blob_pread(b, buf, MIB, off), len);
		assert_memory_equal(buf, data + off, len);
		assert_true(disk_usage(f->cache) <= bound);
	}
	store_blob_close(b);
	assert_true(disk_usage(f->cache) <= bound);
	/* Something was kept. */
	assert_true(disk_usage(f->cache) >= STORE_S3_BLOCK);
	free(buf);
	free(data);
}

/* The path of a cached block's file. */
static void cached_path(const struct fixture *f, const char *id, int index, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%.2s/%s.%d", f->cache, id, id, index);
}

static void test_cache_damaged(void **state)
{
	struct fixture *f = *state;
	const size_t size = 100000;
	unsigned char *data = pattern(size, 3), *buf = malloc(size);
	char id[STORE_ID_HEX + 1], path[512], key[512];
	struct store_blob *b;
	struct mfs_error err;
	struct stat sb;
	int fd;

	assert_non_null(buf);
	put(f->st, data, size, id);
	/* Written through: the block is in the cache already. */
	cached_path(f, id, 0, path, sizeof(path));
	assert_int_equal(stat(path, &sb), 0);
	store_close(f->st);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\xff\xfe", 2, (off_t)sb.st_size - 1000), 2);
	close(fd);

	/* Damaged: fetched again, served right, and put back whole. */
	assert_int_equal(fixture_open(f, NULL, f->cache, 0, &err), 0);
	assert_int_equal(store_blob_open(f->st, id, &b), 0);
	assert_int_equal(store_blob_pread(b, buf, size, 0), size);
	assert_memory_equal(buf, data, size);
	store_blob_close(b);
	store_close(f->st);

	/* With the object gone behind the store's back, the repaired block alone answers. */
	key_of(f, id, key, sizeof(key));
	assert_int_equal(raw("DELETE", key, NULL, NULL, 0, NULL), 0);
	assert_int_equal(fixture_open(f, NULL, f->cache, 0, &err), 0);
	assert_int_equal(store_blob_open(f->st, id, &b), 0);
	memset(buf, 0, size);
	assert_int_equal(store_blob_pread(b, buf, size, 0), size);
	assert_memory_equal(buf, data, size);
	store_blob_close(b);
	free(buf);
	free(data);
}

/* Bytes a reader found damaged are not served again from the block in memory or the cache: once
 * forgotten, the object is fetched again, so that one repaired reads without a new open. */
static void test_forget(void **state)
{
	struct fixture *f = *state;
	char id[STORE_ID_HEX + 1], key[512], buf[64];
	struct store_blob *b, *again;

	put(f->st, HELLO, strlen(HELLO), id);
	assert_int_equal(store_blob_open(f->st, id, &b), 0);
	assert_int_equal(store_blob_pread(b, buf, sizeof(buf), 0), strlen(HELLO));
	key_of(f, id, key, sizeof(key));
	assert_int_equal(raw("PUT", key, NULL, "hello, Mesh\n", strlen(HELLO), NULL), 0);
	/* Kept: the store takes its objects not to change. */
	assert_int_equal(store_blob_pread(b, buf, sizeof(buf), 0), strlen(HELLO));
	assert_memory_equal(buf, HELLO, strlen(HELLO));

	store_blob_forget(b);
	assert_int_equal(store_blob_pread(b, buf, sizeof(buf), 0), strlen(HELLO));
	assert_memory_equal(buf, "hello, Mesh\n", strlen(HELLO));
	/* Repaired, then forgotten again: the next open and read meet the object as it is now. */
	assert_int_equal(raw("PUT", key, NULL, HELLO, strlen(HELLO), NULL), 0);
	store_blob_forget(b);
	store_blob_close(b);
	assert_int_equal(store_blob_open(f->st, id, &again), 0);
	assert_int_equal(store_blob_pread(again, buf, sizeof(buf), 0), strlen(HELLO));
	assert_memory_equal(buf, HELLO, strlen(HELLO));
	store_blob_close(again);
}

/* Runs store_open_url with the key id and secret in the environment replaced. */
static int open_as(struct fixture *f, const char *id, const char *secret, struct mfs_error *err)
{
	char *old_id = strdup(getenv("AWS_ACCESS_KEY_ID")),
	     *old_secret = strdup(getenv("AWS_SECRET_ACCESS_KEY"));
	struct store *st = NULL;
	int rc;

	setenv("AWS_ACCESS_KEY_ID", id, 1);
	setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
	mfs_error_clear(err);
	rc = store_open_url(f->url, NULL, 0, &st, err);
	setenv("AWS_ACCESS_KEY_ID", old_id, 1);
	setenv("AWS_SECRET_ACCESS_KEY", old_secret, 1);
	free(old_id);
	free(old_secret);
	if (!rc)
		store_close(st);
	return rc;
}

static void test_wrong_secret(void **state)
{
	struct fixture *f = *state;
	const char *wrong = "not-the-secret-at-all";
	struct mfs_error err;

	assert_int_equal(open_as(f, getenv("AWS_ACCESS_KEY_ID"), wrong, &err), -EACCES);
	assert_non_null(strstr(err.msg, "credential was refused"));
	assert_non_null(strstr(err.msg, "SignatureDoesNotMatch"));
	assert_null(strstr(err.msg, wrong));
}

/* A lazy open asks nothing of the store: the first read is what finds the credential refused. */
static void test_lazy_open(void **state)
{
	struct fixture *f = *state;
	char *secret = strdup(getenv("AWS_SECRET_ACCESS_KEY"));
	struct store_options o = {.lazy = 1};
	struct mfs_error err;
	struct store_blob *b;
	struct store *st;

	setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-at-all", 1);
	mfs_error_clear(&err);
	assert_int_equal(store_open_url(f->url, &o, 0, &st, &err), 0);
	assert_int_equal(store_blob_open(st, HELLO_ID, &b), -EACCES);
	store_close(st);
	setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
	free(secret);
	assert_int_equal(store_open_url("s3://meshfs-no-such-bucket/x", &o, 0, &st, &err), 0);
	assert_int_equal(store_blob_open(st, HELLO_ID, &b), -ENOENT);
	store_close(st);
}

static void test_other_user(void **state)
{
	struct fixture *f = *state;
	const char *id = getenv("MESHFS_S3_OTHER_ACCESS_KEY_ID");
	const char *secret = getenv("MESHFS_S3_OTHER_SECRET_ACCESS_KEY");
	struct mfs_error err;

	assert_non_null(id);
	assert_non_null(secret);
	assert_int_equal(open_as(f, id, secret, &err), -EACCES);
	assert_non_null(strstr(err.msg, "credential was refused"));
	assert_non_null(strstr(err.msg, "AccessDenied"));
	assert_null(strstr(err.msg, secret));
}

static void test_no_bucket(void **state)
{
	struct fixture *f = *state;
	struct mfs_error err;
	struct store *st;

	mfs_error_clear(&err);
	assert_int_equal(store_open_url("s3://meshfs-no-such-bucket/x", NULL, 0, &st, &err),
			 -ENOENT);
	assert_non_null(strstr(err.msg, "meshfs-no-such-bucket does not exist"));
	(void)f;
}

/* Unfinished multipart uploads under the prefix. */
static int uploads(const struct fixture *f)
{
	const char *prefix = f->url + strlen("s3://" BUCKET "/");
	struct strbuf query;
	struct s3_call call;
	int n = 0;

	strbuf_init(&query);
	assert_int_equal(s3_query_add(&query, "prefix", prefix), 0);
	assert_int_equal(s3_query_add(&query, "uploads", ""), 0);
	assert_int_equal(raw("GET", NULL, query.buf, NULL, 0, &call), 0);
	for (const char *p = call.answer.buf; (p = strstr(p, "<UploadId>")); p++)
		n++;
	s3_call_release(&call);
	strbuf_release(&query);
	return n;
}

static void test_clean_staging(void **state)
{
	struct fixture *f = *state;
	struct store_s3_tuning now = small_parts;
	char key[512];

	/* As a writer that died mid-upload leaves it. */
	key_of(f, HELLO_ID, key, sizeof(key));
	assert_int_equal(raw("POST", key, "uploads=", NULL, 0, NULL), 0);
	assert_int_equal(uploads(f), 1);
	/* Younger than an hour: left to its writer. */
	assert_int_equal(store_clean_staging(f->st), 0);
	assert_int_equal(uploads(f), 1);
	now.staging_age = 0;
	store_s3_tune(f->st, &now);
	assert_int_equal(store_clean_staging(f->st), 0);
	assert_int_equal(uploads(f), 0);
}

/* A cache temporary whose writer died is removed; one being written is not. */
static void test_clean_cache_temporaries(void **state)
{
	struct fixture *f = *state;
	const struct timespec old[2] = {{.tv_sec = 1000000}, {.tv_sec = 1000000}};
	char dir[160], dead[192], live[192];
	int fd;

	snprintf(dir, sizeof(dir), "%s/ab", f->cache);
	assert_true(mkdir(dir, 0700) == 0 || errno == EEXIST);
	snprintf(dead, sizeof(dead), "%s/.tmp-0123456789abcdef-4096", dir);
	snprintf(live, sizeof(live), "%s/.tmp-fedcba9876543210-4096", dir);
	fd = open(dead, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(futimens(fd, old), 0);
	close(fd);
	fd = open(live, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(store_clean_staging(f->st), 0);
	assert_int_equal(access(dead, F_OK), -1);
	assert_int_equal(access(live, F_OK), 0);
}

static void test_credentials_file(void **state)
{
	struct fixture *f = *state;
	char *id = strdup(getenv("AWS_ACCESS_KEY_ID")),
	     *secret = strdup(getenv("AWS_SECRET_ACCESS_KEY"));
	char path[128], text[512];
	struct mfs_error err;
	struct store *st;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/credentials", f->root);
	snprintf(text, sizeof(text),
		 "[default]\naws_access_key_id = nobody:x\naws_secret_access_key = wrong\n\n"
		 "[meshfs]\n# the profile the test asks for\naws_access_key_id = %s\n"
		 "aws_secret_access_key=%s\n",
		 id, secret);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), strlen(text));
	close(fd);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	setenv("AWS_PROFILE", "meshfs", 1);
	mfs_error_clear(&err);
	rc = store_open_url(f->url, NULL, 0, &st, &err);
	if (!rc)
		store_close(st);
	/* The default profile's key is refused: the section chosen is the one read. */
	unsetenv("AWS_PROFILE");
	mfs_error_clear(&err);
	assert_int_equal(store_open_url(f->url, NULL, 0, &st, &err), -EACCES);
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	setenv("AWS_ACCESS_KEY_ID", id, 1);
	setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
	assert_int_equal(rc, 0);
	free(id);
	free(secret);
}

/* Nothing listens: the open fails within the bound, saying so, after retrying. */
static void test_unreachable(void **state)
{
	struct fixture *f = *state;
	struct store_options o = {.endpoint = "http://127.0.0.1:9"};
	struct mfs_error err;
	struct timespec t0, t1;
	struct store *st;

	setenv("MESHFS_TIMEOUT", "1", 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	mfs_error_clear(&err);
	assert_int_equal(store_open_url(f->url, &o, 0, &st, &err), -EIO);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	unsetenv("MESHFS_TIMEOUT");
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	assert_non_null(strstr(err.msg, "cannot reach the store"));
	assert_null(strstr(err.msg, " 1 tries"));
}

struct thread_arg {
	struct store *st;
	int n;
	char id[STORE_ID_HEX + 1];
	int failed;
};

static void *reader_writer(void *p)
{
	struct thread_arg *a = p;
	const size_t size = 5 * MIB + 333;
	unsigned char *data = pattern(size, (unsigned)a->n), *back = malloc(size);
	struct store_writer *w;
	struct store_blob *b;

	for (int round = 0; round < 3 && !a->failed; round++) {
		data[0] = (unsigned char)round;
		if (store_writer_open(a->st, &w) || store_writer_write(w, data, size) ||
		    store_writer_commit(w, a->id) || store_blob_open(a->st, a->id, &b)) {
			a->failed = 1;
			break;
		}
		/* Two halves, the second first: reads that cross the reader's own block. */
		if (store_blob_pread(b, back + size / 2, size - size / 2, size / 2) !=
			(ssize_t)(size - size / 2) ||
		    store_blob_pread(b, back, size / 2, 0) != (ssize_t)(size / 2) ||
		    memcmp(back, data, size))
			a->failed = 1;
		store_blob_close(b);
	}
	free(data);
	free(back);
	return NULL;
}

static void test_threads(void **state)
{
	struct fixture *f = *state;
	struct thread_arg args[6];
	pthread_t t[6];
	struct mfs_error err;

	/* A cache of a few blocks in memory: the threads contend for it. */
	store_close(f->st);
	assert_int_equal(fixture_open(f, NULL, NULL, 3 * STORE_S3_BLOCK, &err), 0);
	for (int i = 0; i < 6; i++) {
		args[i] = (struct thread_arg){.st = f->st, .n = i % 3};
		assert_int_equal(pthread_create(&t[i], NULL, reader_writer, &args[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_false(args[i].failed);
		assert_int_equal(store_verify(f->st, args[i].id), 0);
	}
	assert_string_equal(args[0].id, args[3].id);
}

static void test_retry_slowdown(void **state)
{
	struct fixture *f = *state;
	char id[STORE_ID_HEX + 1], buf[32];
	struct store_blob *b;
	struct mfs_error err;

	store_close(f->st);
	f->st = NULL;
	/* Three refusals: the open's own listing meets them, backs off and goes through. */
	proxy_start(f, 3);
	assert_int_equal(fixture_open(f, f->endpoint, NULL, 0, &err), 0);
	assert_int_equal(proxy_failed(f), 3);
	put(f->st, HELLO, strlen(HELLO), id);
	assert_int_equal(store_blob_open(f->st, id, &b), 0);
	assert_int_equal(store_blob_pread(b, buf, sizeof(buf), 0), strlen(HELLO));
	assert_memory_equal(buf, HELLO, strlen(HELLO));
	store_blob_close(b);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_hung_store(void **state)
{
	struct fixture *f = *state;
	const size_t size = 2 * STORE_S3_BLOCK + 10;
	unsigned char *data = pattern(size, 4), *buf = malloc(size);
	char id[STORE_ID_HEX + 1], other[STORE_ID_HEX + 1];
	struct store_blob *b, *b2;
	struct mfs_error err;
	struct timespec t0;
	ssize_t n;
	int rc;

	assert_non_null(buf);
	store_close(f->st);
	f->st = NULL;
	proxy_start(f, 0);
	/* No cache worth the name: every read goes to the store. */
	assert_int_equal(fixture_open(f, f->endpoint, NULL, 1, &err), 0);
	put(f->st, data, size, id);
	put(f->st, HELLO, strlen(HELLO), other);
	assert_int_equal(store_blob_open(f->st, id, &b), 0);
	setenv("MESHFS_TIMEOUT", "2", 1);
	assert_int_equal(kill(f->proxy, SIGSTOP), 0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = store_blob_pread(b, buf, 100, STORE_S3_BLOCK + 1);
	assert_true(n == -ETIMEDOUT || n == -EIO);
	assert_true(seconds_since(&t0) < 4.5);
	/* The store let that call wait its whole bound: the calls queued behind it fail at once
	 * instead of each waiting as long (a mount opens segments one at a time). */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = store_blob_open(f->st, other, &b2);
	assert_int_equal(rc, -ETIMEDOUT);
	assert_true(seconds_since(&t0) < 0.5);

	/* Back: the same store, without reopening, reads again once the hold (a second) is over. */
	assert_int_equal(kill(f->proxy, SIGCONT), 0);
	unsetenv("MESHFS_TIMEOUT");
	usleep(1100 * 1000);
	assert_int_equal(store_blob_pread(b, buf, size, 0), size);
	assert_memory_equal(buf, data, size);
	store_blob_close(b);
	assert_int_equal(store_blob_open(f->st, other, &b2), 0);
	store_blob_close(b2);
	free(buf);
	free(data);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_write_read),	      T(test_empty_blob),
	    T(test_large_multipart),  T(test_missing),
	    T(test_verify_damaged),   T(test_list_pages),
	    T(test_remove),	      T(test_cache_bound),
	    T(test_cache_damaged),    T(test_wrong_secret),
	    T(test_other_user),	      T(test_no_bucket),
	    T(test_clean_staging),    T(test_clean_cache_temporaries),
	    T(test_credentials_file), T(test_lazy_open),
	    T(test_unreachable),      T(test_threads),
	    T(test_retry_slowdown),   T(test_hung_store),
	    T(test_forget),
	};

	if (!getenv("MESHFS_S3_ENDPOINT")) {
		printf("skip: no MESHFS_S3_ENDPOINT: run under tests/servers/with_swift.sh\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
