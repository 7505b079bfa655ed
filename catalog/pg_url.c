/* PostgreSQL URLs: their parts found as libpq finds them (conninfo_uri_parse_options), so that
 * what is kept out of messages is what libpq takes for a password. */
#include "catalog/pg_url.h"

#include <string.h>

static const char *const schemes[] = {"postgresql://", "postgres://"};

/* The length of the scheme url starts with, or 0. */
static size_t scheme_len(const char *url)
{
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (!strncmp(url, schemes[i], strlen(schemes[i])))
			return strlen(schemes[i]);
	return 0;
}

int pg_url_is(const char *s)
{
	return s && scheme_len(s) > 0;
}

/* The parts of a URL that hold passwords. */
struct url_parts {
	const char *user; /* the user part, without its password; NULL if the URL has none */
	size_t user_len;
	const char *password; /* in the user part: NULL if none */
	size_t password_len;
	const char *host; /* what follows the user part, up to the parameters */
	size_t host_len;
	const char *params; /* after the '?'; NULL if none */
};

/* The user part ends at the first '@' before any '/', as libpq reads it. */
static void url_split(const char *url, struct url_parts *u)
{
	const char *start = url + scheme_len(url), *p, *colon;

	memset(u, 0, sizeof(*u));
	for (p = start; *p && *p != '@' && *p != '/'; p++)
		;
	if (*p == '@') {
		u->user = start;
		u->user_len = (size_t)(p - start);
		colon = memchr(start, ':', u->user_len);
		if (colon) {
			u->user_len = (size_t)(colon - start);
			u->password = colon + 1;
			u->password_len = (size_t)(p - colon - 1);
		}
		start = p + 1;
	}
	u->host = start;
	p = strchr(start, '?');
	u->host_len = p ? (size_t)(p - start) : strlen(start);
	u->params = p ? p + 1 : NULL;
}

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Appends the len bytes at p to out, percent-decoded (a malformed escape is kept as written). */
static int decode(const char *p, size_t len, struct strbuf *out)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < len; i++) {
		if (p[i] == '%' && i + 2 < len && hex(p[i + 1]) >= 0 && hex(p[i + 2]) >= 0) {
			rc = strbuf_addch(out, (char)(hex(p[i + 1]) << 4 | hex(p[i + 2])));
			i += 2;
		} else {
			rc = strbuf_addch(out, p[i]);
		}
	}
	return rc;
}

/* Whether the parameter of len bytes at p (KEY=VALUE) sets the password; *value is its value. */
static int param_is_password(const char *p, size_t len, const char **value, size_t *value_len)
{
	const char *eq = memchr(p, '=', len);
	struct strbuf key;
	int is;

	if (!eq)
		return 0;
	strbuf_init(&key);
	/* out of memory: counted as a password, which keeps it out of messages */
	is = decode(p, (size_t)(eq - p), &key) || !strcmp(key.buf, "password");
	strbuf_release(&key);
	*value = eq + 1;
	*value_len = len - (size_t)(eq + 1 - p);
	return is;
}

int pg_url_display(const char *url, struct strbuf *out)
{
	struct url_parts u;
	struct strbuf sb;
	const char *p, *value;
	size_t len, value_len;
	int rc, first = 1;

	strbuf_init(&sb);
	url_split(url, &u);
	rc = strbuf_add(&sb, url, scheme_len(url));
	if (!rc && u.user)
		rc = strbuf_add(&sb, u.user, u.user_len);
	if (!rc && u.user)
		rc = strbuf_addch(&sb, '@');
	if (!rc)
		rc = strbuf_add(&sb, u.host, u.host_len);
	for (p = u.params; !rc && p && *p; p += len + !!p[len]) {
		len = strcspn(p, "&");
		if (!len || param_is_password(p, len, &value, &value_len))
			continue;
		rc = strbuf_addch(&sb, first ? '?' : '&');
		if (!rc)
			rc = strbuf_add(&sb, p, len);
		first = 0;
	}
	/* the password may be elsewhere in it too */
	if (!rc)
		rc = pg_url_scrub(url, sb.buf, out);
	strbuf_release_secure(&sb);
	return rc;
}

/* Adds a password, as written and decoded, to the NUL-separated list in secrets. */
static int secret_add(struct strbuf *secrets, const char *p, size_t len)
{
	int rc;

	if (!len)
		return 0;
	rc = strbuf_add(secrets, p, len);
	if (!rc)
		rc = strbuf_add(secrets, "", 1);
	if (!rc)
		rc = decode(p, len, secrets);
	if (!rc)
		rc = strbuf_add(secrets, "", 1);
	return rc;
}

/* The secret of the NUL-separated list that msg starts with, or 0. */
static size_t secret_at(const struct strbuf *secrets, const char *msg)
{
	size_t n;

	for (const char *s = secrets->buf; s < secrets->buf + secrets->len; s += n + 1) {
		n = strlen(s);
		if (n && !strncmp(msg, s, n))
			return n;
	}
	return 0;
}

int pg_url_scrub(const char *url, const char *msg, struct strbuf *out)
{
	struct strbuf secrets;
	struct url_parts u;
	const char *p, *value;
	size_t len, value_len;
	int rc;

	strbuf_init(&secrets);
	url_split(url, &u);
	rc = secret_add(&secrets, u.password, u.password_len);
	for (p = u.params; !rc && p && *p; p += len + !!p[len]) {
		len = strcspn(p, "&");
		if (len && param_is_password(p, len, &value, &value_len))
			rc = secret_add(&secrets, value, value_len);
	}
	while (!rc && *msg) {
		len = secret_at(&secrets, msg);
		rc = len ? strbuf_addstr(out, "***") : strbuf_addch(out, *msg);
		msg += len ? len : 1;
	}
	strbuf_release_secure(&secrets);
	return rc;
}
