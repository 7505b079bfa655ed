/*
 * A streaming JSON Lines reader with its own strict scanner. Lines are found with memchr in an
 * input buffer that grows only as far as the longest line needs (within the limit). Each line is
 * decoded straight into one strbuf, sized beforehand for the whole line: decoded values are
 * never longer than their JSON text, so field pointers stay valid while the record is built and
 * no value needs an allocation of its own.
 */
#include "table/jsonl.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define JSONL_IN_SIZE	       (256 * 1024)
#define JSONL_DEFAULT_MAX_LINE (16 * 1024 * 1024)
/* Bytes of a key quoted in a message. */
#define JSONL_QUOTE_MAX 64

/* Bytes that a string holds as they are: printable ASCII but the quote and the backslash. */
static const unsigned char jsonl_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* The state of one line being decoded. */
struct jsonl_line {
	struct jsonl_reader *r;
	const char *start, *p, *end;
	unsigned long line;
	char *o; /* where decoded bytes go */
	struct mfs_error *err;
};

void jsonl_reader_init(struct jsonl_reader *r, csv_source_fn source, void *ctx,
		       const char *filename, const char *const *columns, size_t ncolumns,
		       const struct jsonl_limits *limits)
{
	assert(ncolumns > 0);
	memset(r, 0, sizeof(*r));
	r->source = source;
	r->source_ctx = ctx;
	r->filename = filename ? filename : "-";
	r->columns = columns;
	r->ncolumns = ncolumns;
	if (limits)
		r->limits = *limits;
	if (!r->limits.max_line || r->limits.max_line > SIZE_MAX / 2)
		r->limits.max_line = r->limits.max_line ? SIZE_MAX / 2 : JSONL_DEFAULT_MAX_LINE;
	r->line = 1;
	strbuf_init(&r->data);
}

static int jsonl_read_error(struct jsonl_reader *r, ssize_t n, struct mfs_error *err)
{
	return mfs_error_at(err, (int)-n, r->filename, 0, 0, "read error: %s", strerror((int)-n));
}

/* Reads more input after the buffered bytes, growing the buffer when full. Returns 0 or -errno. */
static int jsonl_fill(struct jsonl_reader *r, struct mfs_error *err)
{
	size_t avail = r->in_len - r->in_pos, cap;
	ssize_t n;
	char *in;

	if (r->in_pos) {
		memmove(r->in, r->in + r->in_pos, avail);
		r->in_len = avail;
		r->in_pos = 0;
	}
	if (r->in_len == r->in_cap) {
		cap = r->in_cap * 2;
		if (cap > r->limits.max_line + 2)
			cap = r->limits.max_line + 2;
		assert(cap > r->in_cap);
		in = malloc(cap);
		if (!in)
			return mfs_error_set(err, ENOMEM, "out of memory");
		memcpy(in, r->in, r->in_len);
		sodium_memzero(r->in, r->in_cap);
		free(r->in);
		r->in = in;
		r->in_cap = cap;
	}
	do
		n = r->source(r->source_ctx, r->in + r->in_len, r->in_cap - r->in_len);
	while (n == -EINTR);
	if (n < 0)
		return jsonl_read_error(r, n, err);
	assert((size_t)n <= r->in_cap - r->in_len);
	if (!n)
		r->eof = 1;
	r->in_len += (size_t)n;
	return 0;
}

/* Finds the next line, without its line ending: 1 with *line and *len set, 0 at end of input,
 * or -errno. */
static int jsonl_next_line(struct jsonl_reader *r, const char **line, size_t *len,
			   struct mfs_error *err)
{
	size_t avail;
	char *start, *nl;
	int rc;

	*line = NULL;
	*len = 0;
	for (;;) {
		start = r->in + r->in_pos;
		avail = r->in_len - r->in_pos;
		nl = memchr(start + r->scan, '\n', avail - r->scan);
		if (nl || (r->eof && avail)) {
			*len = nl ? (size_t)(nl - start) : avail;
			r->in_pos += *len + (nl ? 1 : 0);
			r->scan = 0;
			if (*len && start[*len - 1] == '\r')
				(*len)--;
			*line = start;
			if (*len > r->limits.max_line)
				break;
			return 1;
		}
		if (r->eof)
			return 0;
		r->scan = avail;
		/* Past max_line + 1 bytes no line feed can end an acceptable line (the one more
		 * byte may be its carriage return). */
		if (avail > r->limits.max_line + 1)
			break;
		rc = jsonl_fill(r, err);
		if (rc)
			return rc;
	}
	return mfs_error_at(err, EINVAL, r->filename, r->line, 0, "line longer than %zu bytes",
			    r->limits.max_line);
}

static unsigned long jsonl_col(const struct jsonl_line *l, const char *p)
{
	return (unsigned long)(p - l->start) + 1;
}

static int jsonl_fail(struct jsonl_line *l, const char *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int jsonl_fail(struct jsonl_line *l, const char *p, const char *fmt, ...)
{
	char msg[sizeof(l->err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mfs_error_at(l->err, EINVAL, l->r->filename, l->line, jsonl_col(l, p), "%s", msg);
}

/* Copies a key for a message: at most JSONL_QUOTE_MAX bytes, not cutting a UTF-8 character,
 * control characters shown as '?'. */
static void jsonl_quote(char *out, size_t size, const char *s, size_t len)
{
	size_t i, n = len;

	assert(size > JSONL_QUOTE_MAX + 3);
	if (n > JSONL_QUOTE_MAX) {
		n = JSONL_QUOTE_MAX;
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	snprintf(out + n, size - n, "%s", n < len ? "..." : "");
}

static void jsonl_skip_ws(struct jsonl_line *l)
{
	while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\r'))
		l->p++;
}

/* Length of the well-formed UTF-8 character at p (of a lead byte >= 0x80), or 0. */
static size_t jsonl_utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (*p >= 0xc2 && *p <= 0xdf)
		n = 2;
	else if (*p >= 0xe0 && *p <= 0xef)
		n = 3;
	else if (*p >= 0xf0 && *p <= 0xf4)
		n = 4;
	else
		return 0;
	/* The second byte's range excludes overlong forms, surrogates and code points past
	 * U+10FFFF. */
	if (*p == 0xe0)
		lo = 0xa0;
	else if (*p == 0xed)
		hi = 0x9f;
	else if (*p == 0xf0)
		lo = 0x90;
	else if (*p == 0xf4)
		hi = 0x8f;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

static int jsonl_hex4(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;
	int i;

	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static void jsonl_put_utf8(struct jsonl_line *l, unsigned cp)
{
	unsigned char *o = (unsigned char *)l->o;

	if (cp < 0x80) {
		*o++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*o++ = (unsigned char)(0xc0 | cp >> 6);
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (unsigned char)(0xe0 | cp >> 12);
		*o++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (unsigned char)(0xf0 | cp >> 18);
		*o++ = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	}
	l->o = (char *)o;
}

/* Decodes a \u escape (l->p at the backslash) into l->o. */
static int jsonl_unicode(struct jsonl_line *l)
{
	const char *esc = l->p;
	unsigned cp, lo;

	if (jsonl_hex4(esc + 2, l->end, &cp))
		return jsonl_fail(l, esc, "\\u must be followed by four hexadecimal digits");
	l->p = esc + 6;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return jsonl_fail(l, esc, "unpaired surrogate \\u%04x", cp);
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (l->end - l->p < 2 || l->p[0] != '\\' || l->p[1] != 'u' ||
		    jsonl_hex4(l->p + 2, l->end, &lo) || lo < 0xdc00 || lo > 0xdfff)
			return jsonl_fail(l, esc, "unpaired surrogate \\u%04x", cp);
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		l->p += 6;
	}
	if (!cp)
		return jsonl_fail(l, esc, "\\u0000 (a NUL character) is not allowed");
	jsonl_put_utf8(l, cp);
	return 0;
}

/* Decodes a string (l->p at its opening quote) into l->o. */
static int jsonl_string(struct jsonl_line *l)
{
	const char *open = l->p, *q;
	size_t n;
	char c;

	l->p++;
	for (;;) {
		for (q = l->p; q < l->end && jsonl_plain[(unsigned char)*q]; q++)
			;
		memcpy(l->o, l->p, (size_t)(q - l->p));
		l->o += q - l->p;
		l->p = q;
		if (q == l->end)
			return jsonl_fail(l, open, "string not terminated");
		c = *q;
		if (c == '"') {
			l->p++;
			return 0;
		}
		if ((unsigned char)c >= 0x80) {
			n = jsonl_utf8_len((const unsigned char *)q, (const unsigned char *)l->end);
			if (!n)
				return jsonl_fail(l, q, "invalid UTF-8");
			memcpy(l->o, q, n);
			l->o += n;
			l->p += n;
			continue;
		}
		if (c != '\\')
			return jsonl_fail(l, q,
					  "control character 0x%02x in a string (write it escaped)",
					  (unsigned)c);
		if (l->end - q < 2)
			return jsonl_fail(l, open, "string not terminated");
		switch (q[1]) {
		case '"':
		case '\\':
		case '/':
			*l->o++ = q[1];
			break;
		case 'b':
			*l->o++ = '\b';
			break;
		case 'f':
			*l->o++ = '\f';
			break;
		case 'n':
			*l->o++ = '\n';
			break;
		case 'r':
			*l->o++ = '\r';
			break;
		case 't':
			*l->o++ = '\t';
			break;
		case 'u':
			if (jsonl_unicode(l))
				return -EINVAL;
			continue;
		default:
			return jsonl_fail(l, q, "invalid escape sequence");
		}
		l->p += 2;
	}
}

static int jsonl_digits(struct jsonl_line *l)
{
	const char *p = l->p;

	while (l->p < l->end && *l->p >= '0' && *l->p <= '9')
		l->p++;
	return l->p > p;
}

/* Copies a number (l->p at its first byte) as written, after checking JSON's grammar. */
static int jsonl_number(struct jsonl_line *l)
{
	const char *start = l->p;

	if (*l->p == '-')
		l->p++;
	if (l->p < l->end && *l->p == '0')
		l->p++;
	else if (!jsonl_digits(l))
		goto bad;
	if (l->p < l->end && *l->p == '.') {
		l->p++;
		if (!jsonl_digits(l))
			goto bad;
	}
	if (l->p < l->end && (*l->p == 'e' || *l->p == 'E')) {
		l->p++;
		if (l->p < l->end && (*l->p == '+' || *l->p == '-'))
			l->p++;
		if (!jsonl_digits(l))
			goto bad;
	}
	/* "1x", "01", "1.2.3": a number runs into more number-like text. */
	if (l->p < l->end &&
	    (*l->p == '.' || *l->p == '+' || *l->p == '-' || (*l->p >= '0' && *l->p <= '9') ||
	     (*l->p >= 'a' && *l->p <= 'z') || (*l->p >= 'A' && *l->p <= 'Z')))
		goto bad;
	memcpy(l->o, start, (size_t)(l->p - start));
	l->o += l->p - start;
	return 0;
bad:
	return jsonl_fail(l, start, "invalid number");
}

/* Matches true, false or null at l->p; copies the first two. */
static int jsonl_literal(struct jsonl_line *l, const char *word, int copy)
{
	size_t n = strlen(word);

	if ((size_t)(l->end - l->p) < n || memcmp(l->p, word, n))
		return jsonl_fail(l, l->p, "invalid value");
	if (copy) {
		memcpy(l->o, word, n);
		l->o += n;
	}
	l->p += n;
	return 0;
}

/* Decodes the value of column i (l->p at its first byte). */
static int jsonl_value(struct jsonl_line *l, size_t i)
{
	struct csv_field *f = &l->r->fields[i];
	int rc;

	f->data = l->o;
	f->line = l->line;
	f->col = jsonl_col(l, l->p);
	f->quoted = 0;
	if (l->p == l->end)
		return jsonl_fail(l, l->p, "expected a value for key '%s'", l->r->columns[i]);
	switch (*l->p) {
	case '"':
		f->quoted = 1;
		rc = jsonl_string(l);
		break;
	case 't':
		rc = jsonl_literal(l, "true", 1);
		break;
	case 'f':
		rc = jsonl_literal(l, "false", 1);
		break;
	case 'n':
		rc = jsonl_literal(l, "null", 0);
		break;
	case '{':
	case '[':
		return jsonl_fail(l, l->p,
				  "key '%s': nested objects and arrays are not supported "
				  "(a value must be a string, number, true, false or null)",
				  l->r->columns[i]);
	default:
		if (*l->p == '-' || (*l->p >= '0' && *l->p <= '9'))
			rc = jsonl_number(l);
		else
			rc = jsonl_fail(l, l->p, "invalid value for key '%s'", l->r->columns[i]);
		break;
	}
	if (rc)
		return rc;
	f->len = (size_t)(l->o - f->data);
	*l->o++ = '\0';
	return 0;
}

/* The column a key of klen bytes at k names, or ncolumns. Keys usually come in column order,
 * so the column after the last one found is tried first. */
static size_t jsonl_column(struct jsonl_reader *r, const char *k, size_t klen)
{
	size_t i;

	for (i = 0; i < r->ncolumns; i++) {
		size_t c = (r->hint + i) % r->ncolumns;

		if (!strncmp(r->columns[c], k, klen) && !r->columns[c][klen]) {
			r->hint = c + 1;
			return c;
		}
	}
	return r->ncolumns;
}

/* Decodes one member (l->p at its key). */
static int jsonl_member(struct jsonl_line *l)
{
	struct jsonl_reader *r = l->r;
	const char *key = l->p;
	char quoted[JSONL_QUOTE_MAX + 8];
	char *k = l->o;
	size_t i, klen;
	int rc;

	if (l->p == l->end || *l->p != '"')
		return jsonl_fail(l, l->p, "expected a key (a string in double quotes)");
	/* The key is decoded where the values go and then forgotten: it takes no room a value
	 * would need. */
	rc = jsonl_string(l);
	if (rc)
		return rc;
	klen = (size_t)(l->o - k);
	l->o = k;
	i = jsonl_column(r, k, klen);
	if (i == r->ncolumns) {
		jsonl_quote(quoted, sizeof(quoted), k, klen);
		return jsonl_fail(l, key, "key '%s' is not a column of the table", quoted);
	}
	if (r->fields[i].line)
		return jsonl_fail(l, key, "key '%s' appears twice", r->columns[i]);
	jsonl_skip_ws(l);
	if (l->p == l->end || *l->p != ':')
		return jsonl_fail(l, l->p, "expected ':' after key '%s'", r->columns[i]);
	l->p++;
	jsonl_skip_ws(l);
	return jsonl_value(l, i);
}

/* Decodes one line into r->fields: 1 for a record, 0 for a blank line, or -errno. */
static int jsonl_parse(struct jsonl_reader *r, const char *line, size_t len, unsigned long lineno,
		       struct mfs_error *err)
{
	struct jsonl_line l = {
	    .r = r, .start = line, .p = line, .end = line + len, .line = lineno, .err = err};
	unsigned long brace;
	size_t i;
	int rc;

	jsonl_skip_ws(&l);
	if (l.p == l.end)
		return 0;
	if (*l.p != '{')
		return jsonl_fail(&l, l.p, "expected a JSON object ('{') on each line");
	brace = jsonl_col(&l, l.p);
	l.p++;
	/* Each value is at most as long as its text, plus its NUL. */
	strbuf_reset(&r->data);
	if (len > SIZE_MAX - r->ncolumns - 1 || strbuf_grow_secure(&r->data, len + r->ncolumns + 1))
		return mfs_error_set(err, ENOMEM, "out of memory");
	l.o = r->data.buf;
	for (i = 0; i < r->ncolumns; i++)
		r->fields[i].line = 0;
	jsonl_skip_ws(&l);
	if (l.p < l.end && *l.p == '}') {
		l.p++;
	} else {
		for (;;) {
			rc = jsonl_member(&l);
			if (rc)
				return rc;
			jsonl_skip_ws(&l);
			if (l.p < l.end && *l.p == ',') {
				l.p++;
				jsonl_skip_ws(&l);
				continue;
			}
			if (l.p < l.end && *l.p == '}') {
				l.p++;
				break;
			}
			return jsonl_fail(&l, l.p, "expected ',' or '}'");
		}
	}
	jsonl_skip_ws(&l);
	if (l.p != l.end)
		return jsonl_fail(&l, l.p, "text after the object");
	r->data.len = (size_t)(l.o - r->data.buf);
	assert(r->data.len < r->data.cap);
	r->data.buf[r->data.len] = '\0';
	for (i = 0; i < r->ncolumns; i++) {
		struct csv_field *f = &r->fields[i];

		if (f->line)
			continue;
		f->data = "";
		f->len = 0;
		f->line = lineno;
		f->col = brace;
		f->quoted = 0;
	}
	return 1;
}

/* Allocates the buffers, skips a byte order mark and hands out the column names. Returns 1,
 * 0 for an input without a single byte, or -errno. */
static int jsonl_start(struct jsonl_reader *r, struct csv_field **fields, size_t *nfields,
		       struct mfs_error *err)
{
	static const char bom[3] = {'\xef', '\xbb', '\xbf'};
	size_t i;
	int rc;

	r->in = malloc(JSONL_IN_SIZE);
	r->fields = calloc(r->ncolumns, sizeof(*r->fields));
	if (!r->in || !r->fields)
		return mfs_error_set(err, ENOMEM, "out of memory");
	r->in_cap = JSONL_IN_SIZE;
	r->started = 1;
	while (!r->eof && r->in_len < sizeof(bom)) {
		rc = jsonl_fill(r, err);
		if (rc)
			return rc;
	}
	if (!r->in_len)
		return 0;
	if (r->in_len >= sizeof(bom) && !memcmp(r->in, bom, sizeof(bom)))
		r->in_pos = sizeof(bom);
	for (i = 0; i < r->ncolumns; i++) {
		r->fields[i].data = r->columns[i];
		r->fields[i].len = strlen(r->columns[i]);
		r->fields[i].line = 0;
		r->fields[i].col = 0;
		r->fields[i].quoted = 0;
	}
	*fields = r->fields;
	*nfields = r->ncolumns;
	return 1;
}

int jsonl_reader_next(struct jsonl_reader *r, struct csv_field **fields, size_t *nfields,
		      struct mfs_error *err)
{
	const char *line;
	unsigned long lineno;
	size_t len;
	int rc;

	if (!r->started)
		return jsonl_start(r, fields, nfields, err);
	do {
		rc = jsonl_next_line(r, &line, &len, err);
		if (rc <= 0)
			return rc;
		lineno = r->line++;
		rc = jsonl_parse(r, line, len, lineno, err);
		if (rc < 0)
			return rc;
	} while (!rc);
	r->record_line = lineno;
	*fields = r->fields;
	*nfields = r->ncolumns;
	return 1;
}

unsigned long jsonl_reader_record_line(const struct jsonl_reader *r)
{
	return r->record_line;
}

void jsonl_reader_release(struct jsonl_reader *r)
{
	if (r->in) {
		sodium_memzero(r->in, r->in_cap);
		free(r->in);
	}
	r->in = NULL;
	r->in_len = r->in_pos = r->in_cap = r->scan = 0;
	strbuf_release_secure(&r->data);
	free(r->fields);
	r->fields = NULL;
}
