/*
 * A streaming RFC 4180 reader. Bytes are pulled from the source into a fixed input buffer; the
 * bytes of the record being read are copied, unquoted, into one strbuf (each field followed by a
 * NUL), so that a record may span any number of refills.
 *
 * While a record is read, a field's len holds the offset where its bytes start in r->data: the
 * strbuf may move as it grows, so data pointers are set only once the record is complete.
 */
#include "table/csv.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define CSV_IN_SIZE	       (256 * 1024)
#define CSV_DEFAULT_MAX_FIELD  (16 * 1024 * 1024)
#define CSV_DEFAULT_MAX_FIELDS 4096

/* How a field ended. */
enum csv_end {
	CSV_END_COMMA,
	CSV_END_LINE,
	CSV_END_INPUT,
};

/* Bytes that end a run of unquoted field data. */
static const unsigned char csv_special[256] = {
    [','] = 1, ['\n'] = 1, ['\r'] = 1, ['"'] = 1, ['\0'] = 1,
};

void csv_reader_init(struct csv_reader *r, csv_source_fn source, void *ctx, const char *filename,
		     const struct csv_limits *limits)
{
	memset(r, 0, sizeof(*r));
	r->source = source;
	r->source_ctx = ctx;
	r->filename = filename ? filename : "-";
	if (limits)
		r->limits = *limits;
	if (!r->limits.max_field)
		r->limits.max_field = CSV_DEFAULT_MAX_FIELD;
	if (!r->limits.max_fields)
		r->limits.max_fields = CSV_DEFAULT_MAX_FIELDS;
	r->line = 1;
	r->col = 1;
	strbuf_init(&r->data);
}

static int csv_data_add(struct csv_reader *r, const void *data, size_t len)
{
	int rc = strbuf_grow_secure(&r->data, len);

	if (rc)
		return rc;
	return strbuf_add(&r->data, data, len);
}

/* Makes sure unread input is buffered: 1 if there is some, 0 at end of input, or -errno. */
static int csv_fill(struct csv_reader *r, struct mfs_error *err)
{
	ssize_t n;

	if (r->in_pos < r->in_len)
		return 1;
	if (r->eof)
		return 0;
	do
		n = r->source(r->source_ctx, r->in, r->in_cap);
	while (n == -EINTR);
	if (n < 0)
		return mfs_error_at(err, (int)-n, r->filename, 0, 0, "read error: %s",
				    strerror((int)-n));
	assert((size_t)n <= r->in_cap);
	r->in_pos = 0;
	r->in_len = (size_t)n;
	if (!n) {
		r->eof = 1;
		return 0;
	}
	return 1;
}

/* Allocates the input buffer and skips a UTF-8 byte order mark at the very start. */
static int csv_start(struct csv_reader *r, struct mfs_error *err)
{
	static const unsigned char bom[3] = {0xef, 0xbb, 0xbf};
	ssize_t n;

	r->in = malloc(CSV_IN_SIZE);
	if (!r->in)
		return mfs_error_set(err, ENOMEM, "out of memory");
	r->in_cap = CSV_IN_SIZE;
	/* A source may hand out one byte at a time: gather enough to recognize the mark. */
	while (!r->eof && r->in_len < sizeof(bom)) {
		n = r->source(r->source_ctx, r->in + r->in_len, r->in_cap - r->in_len);
		if (n == -EINTR)
			continue;
		if (n < 0)
			return mfs_error_at(err, (int)-n, r->filename, 0, 0, "read error: %s",
					    strerror((int)-n));
		if (!n)
			r->eof = 1;
		r->in_len += (size_t)n;
	}
	if (r->in_len >= sizeof(bom) && !memcmp(r->in, bom, sizeof(bom)))
		r->in_pos = sizeof(bom);
	return 0;
}

static int csv_field_too_long(struct csv_reader *r, const struct csv_field *f,
			      struct mfs_error *err)
{
	return mfs_error_at(err, EINVAL, r->filename, f->line, f->col,
			    "field longer than %zu bytes", r->limits.max_field);
}

/* Appends a run of field bytes, within the field limit. */
static int csv_field_add(struct csv_reader *r, const struct csv_field *f, const char *p, size_t len,
			 struct mfs_error *err)
{
	size_t have = r->data.len - f->len;

	if (len > r->limits.max_field - have)
		return csv_field_too_long(r, f, err);
	if (csv_data_add(r, p, len))
		return mfs_error_set(err, ENOMEM, "out of memory");
	return 0;
}

/* Consumes a line feed (or the end of input) after a CR; 1 if the record ends there, 0 if the
 * CR stands alone, or -errno. */
static int csv_after_cr(struct csv_reader *r, struct mfs_error *err)
{
	int rc = csv_fill(r, err);

	if (rc <= 0)
		return rc < 0 ? rc : 1;
	if (r->in[r->in_pos] != '\n')
		return 0;
	r->in_pos++;
	r->line++;
	r->col = 1;
	return 1;
}

/* Takes the ',', LF or CRLF at in_pos that ends a field. Returns CSV_END_COMMA or CSV_END_LINE,
 * or -errno; a CR alone is the error cr_alone. */
static int csv_field_end(struct csv_reader *r, const char *cr_alone, struct mfs_error *err)
{
	char c = r->in[r->in_pos];
	int rc;

	r->in_pos++;
	if (c == '\n') {
		r->line++;
		r->col = 1;
		return CSV_END_LINE;
	}
	r->col++;
	if (c == ',')
		return CSV_END_COMMA;
	rc = csv_after_cr(r, err);
	if (rc < 0)
		return rc;
	if (!rc)
		return mfs_error_at(err, EINVAL, r->filename, r->line, r->col - 1, "%s", cr_alone);
	return CSV_END_LINE;
}

/* Reads an unquoted field up to its end. Returns an enum csv_end or -errno. */
static int csv_read_unquoted(struct csv_reader *r, struct csv_field *f, struct mfs_error *err)
{
	const char *p, *end;
	int rc;

	for (;;) {
		rc = csv_fill(r, err);
		if (rc < 0)
			return rc;
		if (!rc)
			return CSV_END_INPUT;
		p = r->in + r->in_pos;
		end = r->in + r->in_len;
		while (p < end && !csv_special[(unsigned char)*p])
			p++;
		rc = csv_field_add(r, f, r->in + r->in_pos, (size_t)(p - (r->in + r->in_pos)), err);
		if (rc)
			return rc;
		r->col += (unsigned long)(p - (r->in + r->in_pos));
		r->in_pos = (size_t)(p - r->in);
		if (p == end)
			continue;
		switch (*p) {
		case ',':
		case '\n':
		case '\r':
			return csv_field_end(r,
					     "carriage return not followed by a line feed in an "
					     "unquoted field",
					     err);
		case '"':
			return mfs_error_at(err, EINVAL, r->filename, r->line, r->col,
					    "quote inside an unquoted field");
		default:
			assert(*p == '\0');
			return mfs_error_at(err, EINVAL, r->filename, r->line, r->col, "NUL byte");
		}
	}
}

/* Accounts lines and columns for a run of quoted data. */
static void csv_advance(struct csv_reader *r, const char *p, size_t len)
{
	const char *end = p + len, *nl;

	while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
		r->line++;
		r->col = 1;
		p = nl + 1;
	}
	r->col += (unsigned long)(end - p);
}

/* Reads a quoted field, its opening quote consumed. Returns an enum csv_end or -errno. */
static int csv_read_quoted(struct csv_reader *r, struct csv_field *f, struct mfs_error *err)
{
	const char *p, *q, *nul;
	size_t run;
	int rc;

	for (;;) {
		rc = csv_fill(r, err);
		if (rc < 0)
			return rc;
		if (!rc)
			return mfs_error_at(err, EINVAL, r->filename, f->line, f->col,
					    "quoted field not terminated");
		p = r->in + r->in_pos;
		q = memchr(p, '"', r->in_len - r->in_pos);
		run = q ? (size_t)(q - p) : r->in_len - r->in_pos;
		/* The field's limit applies to the bytes before a NUL too, as it does when they
		 * come in smaller reads: the same input always gives the same error. */
		nul = memchr(p, '\0', run);
		rc = csv_field_add(r, f, p, nul ? (size_t)(nul - p) : run, err);
		if (rc)
			return rc;
		if (nul) {
			csv_advance(r, p, (size_t)(nul - p));
			return mfs_error_at(err, EINVAL, r->filename, r->line, r->col, "NUL byte");
		}
		csv_advance(r, p, run);
		r->in_pos += run;
		if (!q)
			continue;
		r->in_pos++;
		r->col++;
		rc = csv_fill(r, err);
		if (rc < 0)
			return rc;
		if (!rc)
			return CSV_END_INPUT;
		switch (r->in[r->in_pos]) {
		case '"':
			rc = csv_field_add(r, f, "\"", 1, err);
			if (rc)
				return rc;
			r->in_pos++;
			r->col++;
			break;
		case ',':
		case '\n':
		case '\r':
			return csv_field_end(r, "text after a closing quote", err);
		default:
			return mfs_error_at(err, EINVAL, r->filename, r->line, r->col,
					    "text after a closing quote");
		}
	}
}

static int csv_next_field(struct csv_reader *r, size_t n, struct mfs_error *err)
{
	struct csv_field *fields;
	size_t cap;

	if (n == r->limits.max_fields)
		return mfs_error_at(err, EINVAL, r->filename, r->line, r->col,
				    "more than %zu fields in a record", r->limits.max_fields);
	if (n < r->fields_cap)
		return 0;
	cap = r->fields_cap ? r->fields_cap * 2 : 16;
	if (cap > r->limits.max_fields)
		cap = r->limits.max_fields;
	fields = reallocarray(r->fields, cap, sizeof(*fields));
	if (!fields)
		return mfs_error_set(err, ENOMEM, "out of memory");
	r->fields = fields;
	r->fields_cap = cap;
	return 0;
}

/* Whether bytes are UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF). ASCII, the common case, is checked eight bytes at a time. */
static int utf8_valid(const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len;

	while (p < end) {
		uint64_t word;

		if (end - p >= 8) {
			memcpy(&word, p, 8);
			if (!(word & 0x8080808080808080ULL)) {
				p += 8;
				continue;
			}
		}
		if (*p < 0x80) {
			p++;
		} else if (*p >= 0xC2 && *p <= 0xDF) {
			if (end - p < 2 || (p[1] & 0xC0) != 0x80)
				return 0;
			p += 2;
		} else if (*p >= 0xE0 && *p <= 0xEF) {
			if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
			    (*p == 0xE0 && p[1] < 0xA0) || (*p == 0xED && p[1] > 0x9F))
				return 0;
			p += 3;
		} else if (*p >= 0xF0 && *p <= 0xF4) {
			if (end - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
			    (p[3] & 0xC0) != 0x80 || (*p == 0xF0 && p[1] < 0x90) ||
			    (*p == 0xF4 && p[1] > 0x8F))
				return 0;
			p += 4;
		} else {
			return 0;
		}
	}
	return 1;
}

int csv_reader_next(struct csv_reader *r, struct csv_field **fields, size_t *nfields,
		    struct mfs_error *err)
{
	struct csv_field *f;
	size_t n = 0, i, end;
	int rc;

	if (!r->in) {
		rc = csv_start(r, err);
		if (rc)
			return rc;
	}
	strbuf_reset(&r->data);
	rc = csv_fill(r, err);
	if (rc <= 0)
		return rc;
	r->record_line = r->line;
	do {
		rc = csv_next_field(r, n, err);
		if (rc)
			return rc;
		f = &r->fields[n++];
		f->data = NULL;
		f->len = r->data.len;
		f->line = r->line;
		f->col = r->col;
		f->quoted = 0;
		rc = csv_fill(r, err);
		if (rc < 0)
			return rc;
		if (rc && r->in[r->in_pos] == '"') {
			f->quoted = 1;
			r->in_pos++;
			r->col++;
			rc = csv_read_quoted(r, f, err);
		} else {
			rc = csv_read_unquoted(r, f, err);
		}
		if (rc < 0)
			return rc;
		if (csv_data_add(r, "", 1))
			return mfs_error_set(err, ENOMEM, "out of memory");
	} while (rc == CSV_END_COMMA);

	for (i = 0; i < n; i++) {
		end = i + 1 < n ? r->fields[i + 1].len : r->data.len;
		r->fields[i].data = r->data.buf + r->fields[i].len;
		r->fields[i].len = end - r->fields[i].len - 1;
		if (!utf8_valid(r->fields[i].data, r->fields[i].len))
			return mfs_error_at(err, EINVAL, r->filename, r->fields[i].line,
					    r->fields[i].col, "not valid UTF-8 text");
	}
	*fields = r->fields;
	*nfields = n;
	return 1;
}

unsigned long csv_reader_record_line(const struct csv_reader *r)
{
	return r->record_line;
}

void csv_reader_release(struct csv_reader *r)
{
	if (r->in) {
		sodium_memzero(r->in, r->in_cap);
		free(r->in);
	}
	r->in = NULL;
	r->in_len = r->in_pos = r->in_cap = 0;
	strbuf_release_secure(&r->data);
	free(r->fields);
	r->fields = NULL;
	r->fields_cap = 0;
}

int csv_field_append(struct strbuf *out, const char *value, size_t len)
{
	size_t i, quotes = 0;
	int special = 0, rc;
	char *p;

	for (i = 0; i < len; i++) {
		switch (value[i]) {
		case '"':
			quotes++;
			/* fallthrough */
		case ',':
		case '\r':
		case '\n':
			special = 1;
			break;
		default:
			break;
		}
	}
	if (!special)
		return strbuf_add(out, value, len);
	if (len > SIZE_MAX - quotes - 2)
		return -ENOMEM;
	rc = strbuf_grow(out, len + quotes + 2);
	if (rc)
		return rc;
	p = out->buf + out->len;
	*p++ = '"';
	for (i = 0; i < len; i++) {
		if (value[i] == '"')
			*p++ = '"';
		*p++ = value[i];
	}
	*p++ = '"';
	out->len = (size_t)(p - out->buf);
	out->buf[out->len] = '\0';
	return 0;
}
