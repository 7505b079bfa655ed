/*
 * A streaming RFC 4180 reader that parses in place. Bytes are pulled from the source into one
 * input buffer, and a record is read where it lies: each field's end (its comma, line ending or
 * closing quote) is overwritten with the field's NUL, and a quoted field's doubled quotes are
 * undone by moving its bytes down over them, so that no byte is copied but for those. A record
 * that reaches the end of the buffer is moved to its start before more is read, and the buffer
 * grows while one record does not fit.
 *
 * The input is followed by a NUL and CSV_PAD bytes of padding: the scans for the bytes that end
 * a run of data stop at that NUL, and may read 16 bytes at a time without looking at the end.
 * Positions during a record are offsets from its start, which the moves leave as they are.
 */
#include "table/csv.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define CSV_IN_SIZE	       (256 * 1024)
#define CSV_PAD		       64
#define CSV_DEFAULT_MAX_FIELD  (16 * 1024 * 1024)
#define CSV_DEFAULT_MAX_FIELDS 4096

/* How a field ended. */
enum csv_end {
	CSV_END_COMMA,
	CSV_END_LINE,
	CSV_END_INPUT,
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
}

/* ---- scans ---- */

/*
 * The first byte at or after p that ends a run of unquoted data: a comma, CR, LF, quote or NUL
 * (the one after the input at least). *high gets the top bits of the bytes before it, which are
 * 0 for ASCII.
 */
static const char *scan_unquoted(const char *p, unsigned *high)
{
#ifdef __SSE2__
	const __m128i comma = _mm_set1_epi8(','), lf = _mm_set1_epi8('\n');
	const __m128i cr = _mm_set1_epi8('\r'), quote = _mm_set1_epi8('"');
	const __m128i zero = _mm_setzero_si128();

	for (;; p += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i m = _mm_or_si128(
		    _mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, lf)),
		    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, quote)),
				 _mm_cmpeq_epi8(v, zero)));
		unsigned bits = (unsigned)_mm_movemask_epi8(m);
		unsigned top = (unsigned)_mm_movemask_epi8(v);

		if (bits) {
			*high |= top & ((bits & -bits) - 1);
			return p + __builtin_ctz(bits);
		}
		*high |= top;
	}
#else
	static const unsigned char special[256] = {
	    [','] = 1, ['\n'] = 1, ['\r'] = 1, ['"'] = 1, ['\0'] = 1,
	};

	for (; !special[(unsigned char)*p]; p++)
		*high |= (unsigned char)*p & 0x80;
	return p;
#endif
}

/* The first quote, LF or NUL at or after p: what a quoted field's data runs up to. */
static const char *scan_quoted(const char *p)
{
#ifdef __SSE2__
	const __m128i lf = _mm_set1_epi8('\n'), quote = _mm_set1_epi8('"');
	const __m128i zero = _mm_setzero_si128();

	for (;; p += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		unsigned bits = (unsigned)_mm_movemask_epi8(
		    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, lf)),
				 _mm_cmpeq_epi8(v, zero)));

		if (bits)
			return p + __builtin_ctz(bits);
	}
#else
	while (*p != '"' && *p != '\n' && *p)
		p++;
	return p;
#endif
}

/* ---- input ---- */

static int csv_read_error(struct csv_reader *r, ssize_t n, struct mfs_error *err)
{
	return mfs_error_at(err, (int)-n, r->filename, 0, 0, "read error: %s", strerror((int)-n));
}

/* A buffer of cap bytes and the padding, all zero: scans read the padding. */
static char *csv_buffer_new(size_t cap)
{
	return cap > SIZE_MAX - CSV_PAD ? NULL : calloc(1, cap + CSV_PAD);
}

/* Allocates the input buffer and skips a UTF-8 byte order mark at the very start. */
static int csv_start(struct csv_reader *r, struct mfs_error *err)
{
	static const unsigned char bom[3] = {0xef, 0xbb, 0xbf};
	ssize_t n;

	r->in = csv_buffer_new(CSV_IN_SIZE);
	if (!r->in)
		return mfs_error_set(err, ENOMEM, "out of memory");
	r->in_cap = CSV_IN_SIZE;
	/* A source may hand out one byte at a time: gather enough to recognize the mark. */
	while (!r->eof && r->in_len < sizeof(bom)) {
		n = r->source(r->source_ctx, r->in + r->in_len, r->in_cap - r->in_len);
		if (n == -EINTR)
			continue;
		if (n < 0)
			return csv_read_error(r, n, err);
		assert((size_t)n <= r->in_cap - r->in_len);
		if (!n)
			r->eof = 1;
		r->in_len += (size_t)n;
	}
	r->in[r->in_len] = '\0';
	if (r->in_len >= sizeof(bom) && !memcmp(r->in, bom, sizeof(bom)))
		r->in_pos = sizeof(bom);
	r->rec_start = r->line_start = r->in_pos;
	return 0;
}

/*
 * Reads more input after the in_len bytes buffered, keeping those from rec_start on; the n
 * fields of the record so far follow them if they move. Returns 1 if it read some, 0 at the end
 * of input, or -errno.
 */
static int csv_more(struct csv_reader *r, size_t n, struct mfs_error *err)
{
	size_t shift = r->rec_start, keep = r->in_len - r->rec_start, i;
	char *in = r->in;
	ssize_t got;

	if (r->eof)
		return 0;
	/* Room at the end for at least half a buffer: move the record down, or grow. */
	if (r->in_cap - r->in_len < r->in_cap / 2) {
		if (keep > r->in_cap / 2) {
			size_t cap = r->in_cap * 2;

			if (cap < r->in_cap || !(in = csv_buffer_new(cap)))
				return mfs_error_set(err, ENOMEM, "out of memory");
			memcpy(in, r->in + shift, keep);
		} else {
			memmove(in, in + shift, keep);
		}
		for (i = 0; i < n; i++)
			r->fields[i].data = in + (r->fields[i].data - (r->in + shift));
		if (in != r->in) {
			sodium_memzero(r->in, r->in_cap + CSV_PAD);
			free(r->in);
			r->in_cap *= 2;
			r->in = in;
		}
		r->in_len -= shift;
		r->in_pos -= shift;
		r->line_start -= shift;
		r->rec_start = 0;
	}
	do
		got = r->source(r->source_ctx, r->in + r->in_len, r->in_cap - r->in_len);
	while (got == -EINTR);
	if (got < 0)
		return csv_read_error(r, got, err);
	assert((size_t)got <= r->in_cap - r->in_len);
	r->in_len += (size_t)got;
	r->in[r->in_len] = '\0';
	if (!got)
		r->eof = 1;
	return got > 0;
}

/* ---- records ---- */

/* The state of one record being read; offsets from its start. */
struct csv_rec {
	struct csv_reader *r;
	char *base;	/* r->in + r->rec_start */
	size_t end;	/* of the buffered input: base[end] is its NUL */
	size_t nfields; /* fields begun */
	unsigned high;	/* the record may not be ASCII */
};

static size_t rec_col(const struct csv_rec *x, size_t at)
{
	return at + x->r->rec_start - x->r->line_start + 1;
}

static int rec_error(struct csv_rec *x, size_t at, const char *what, struct mfs_error *err)
{
	return mfs_error_at(err, EINVAL, x->r->filename, x->r->line, rec_col(x, at), "%s", what);
}

/* Reads more of the record; its offsets stay, the buffer may move. */
static int rec_more(struct csv_rec *x, size_t at, struct mfs_error *err)
{
	struct csv_reader *r = x->r;
	int rc;

	r->in_pos = r->rec_start + at;
	rc = csv_more(r, x->nfields, err);
	x->base = r->in + r->rec_start;
	x->end = r->in_len - r->rec_start;
	return rc;
}

/* The line ends at LF at: the next line starts after it. */
static void rec_newline(struct csv_rec *x, size_t at)
{
	x->r->line++;
	x->r->line_start = x->r->rec_start + at + 1;
}

static int rec_too_long(struct csv_rec *x, const struct csv_field *f, struct mfs_error *err)
{
	return mfs_error_at(err, EINVAL, x->r->filename, f->line, f->col,
			    "field longer than %zu bytes", x->r->limits.max_field);
}

/*
 * Takes the comma, LF or CRLF at *at that ends a field, moving *at past it. Returns
 * CSV_END_COMMA or CSV_END_LINE, or -errno; a CR alone is the error cr_alone.
 */
static int rec_field_end(struct csv_rec *x, size_t *at, const char *cr_alone, struct mfs_error *err)
{
	size_t q = *at;
	int rc;

	*at = q + 1;
	if (x->base[q] == ',')
		return CSV_END_COMMA;
	if (x->base[q] == '\n') {
		rec_newline(x, q);
		return CSV_END_LINE;
	}
	assert(x->base[q] == '\r');
	if (q + 1 == x->end) {
		rc = rec_more(x, q + 1, err);
		if (rc < 0)
			return rc;
		if (!rc)
			return CSV_END_LINE; /* a CR right before the end of input */
	}
	if (x->base[q + 1] != '\n')
		return rec_error(x, q, cr_alone, err);
	*at = q + 2;
	rec_newline(x, q + 1);
	return CSV_END_LINE;
}

/* Reads an unquoted field from *at, where f starts, up to its end. Returns an enum csv_end or
 * -errno. */
static int rec_unquoted(struct csv_rec *x, struct csv_field *f, size_t *at, struct mfs_error *err)
{
	size_t start = *at, q = *at;
	char c;
	int rc;

	for (;;) {
		q = (size_t)(scan_unquoted(x->base + q, &x->high) - x->base);
		if (q - start > x->r->limits.max_field)
			return rec_too_long(x, f, err);
		if (q < x->end)
			break;
		rc = rec_more(x, q, err);
		if (rc < 0)
			return rc;
		if (!rc) {
			f->len = q - start;
			*at = q;
			return CSV_END_INPUT;
		}
	}
	c = x->base[q];
	f->len = q - start;
	switch (c) {
	case ',':
	case '\n':
	case '\r':
		*at = q;
		rc = rec_field_end(x, at,
				   "carriage return not followed by a line feed in an unquoted "
				   "field",
				   err);
		x->base[start + f->len] = '\0';
		return rc;
	case '"':
		return rec_error(x, q, "quote inside an unquoted field", err);
	default:
		assert(c == '\0');
		return rec_error(x, q, "NUL byte", err);
	}
}

/*
 * Reads a quoted field whose opening quote is at *at - 1. Its data goes from *at on, a doubled
 * quote taken as one by moving what follows down. Returns an enum csv_end or -errno.
 */
static int rec_quoted(struct csv_rec *x, struct csv_field *f, size_t *at, struct mfs_error *err)
{
	size_t start = *at, w = *at, s = *at, q = *at, max = x->r->limits.max_field;
	int rc;

	for (;;) {
		q = (size_t)(scan_quoted(x->base + q) - x->base);
		if (x->base[q] == '\n') {
			rec_newline(x, q);
			q++;
			continue;
		}
		/* the data so far: what was moved down, and the run since */
		if (w - start + (q - s) > max)
			return rec_too_long(x, f, err);
		if (w != s)
			memmove(x->base + w, x->base + s, q - s);
		w += q - s;
		s = q;
		if (x->base[q] == '\0' && q < x->end)
			return rec_error(x, q, "NUL byte", err);
		if (q == x->end) {
			rc = rec_more(x, q, err);
			if (rc < 0)
				return rc;
			if (!rc)
				return mfs_error_at(err, EINVAL, x->r->filename, f->line, f->col,
						    "quoted field not terminated");
			continue;
		}
		/* a quote at q: doubled, or the end of the field */
		if (q + 1 == x->end) {
			rc = rec_more(x, q + 1, err);
			if (rc < 0)
				return rc;
			if (!rc) {
				f->len = w - start;
				x->base[w] = '\0';
				*at = q + 1;
				return CSV_END_INPUT;
			}
		}
		switch (x->base[q + 1]) {
		case '"':
			if (w - start + 1 > max)
				return rec_too_long(x, f, err);
			x->base[w++] = '"';
			s = q = q + 2;
			break;
		case ',':
		case '\n':
		case '\r':
			*at = q + 1;
			rc = rec_field_end(x, at, "text after a closing quote", err);
			f->len = w - start;
			x->base[w] = '\0';
			return rc;
		default:
			return rec_error(x, q + 1, "text after a closing quote", err);
		}
	}
}

static int rec_next_field(struct csv_rec *x, size_t at, struct mfs_error *err)
{
	struct csv_reader *r = x->r;
	struct csv_field *fields;
	size_t cap;

	if (x->nfields == r->limits.max_fields)
		return mfs_error_at(err, EINVAL, r->filename, r->line, rec_col(x, at),
				    "more than %zu fields in a record", r->limits.max_fields);
	if (x->nfields < r->fields_cap)
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
	struct csv_rec x = {.r = r};
	struct csv_field *f;
	size_t at = 0, q, i;
	int rc;

	if (!r->in) {
		rc = csv_start(r, err);
		if (rc)
			return rc;
	}
	r->rec_start = r->in_pos;
	x.base = r->in + r->rec_start;
	x.end = r->in_len - r->rec_start;
	if (!x.end) {
		/* nothing buffered: start again at the top of the buffer */
		r->in_len = r->in_pos = r->rec_start = r->line_start = 0;
		rc = rec_more(&x, 0, err);
		if (rc <= 0)
			return rc;
	}
	r->record_line = r->line;
	do {
		if (x.nfields >= r->fields_cap || x.nfields == r->limits.max_fields) {
			rc = rec_next_field(&x, at, err);
			if (rc)
				return rc;
		}
		/* whether the field is quoted is in its first byte */
		if (at == x.end && (rc = rec_more(&x, at, err)) < 0)
			return rc;
		f = &r->fields[x.nfields++];
		f->line = r->line;
		f->col = rec_col(&x, at);
		f->quoted = x.base[at] == '"'; /* never the NUL after the input */
		f->verbatim = !f->quoted;
		if (f->quoted) {
			/* not known to be ASCII: the scan of quoted data does not look */
			x.high = 1;
			at++;
			f->data = x.base + at;
			rc = rec_quoted(&x, f, &at, err);
		} else {
			f->data = x.base + at;
			q = (size_t)(scan_unquoted(x.base + at, &x.high) - x.base);
			/* most fields: ended by a comma in the buffer, within the limit */
			if (x.base[q] == ',' && q - at <= r->limits.max_field) {
				f->len = q - at;
				x.base[q] = '\0';
				at = q + 1;
				rc = CSV_END_COMMA;
			} else {
				rc = rec_unquoted(&x, f, &at, err);
			}
		}
		if (rc < 0)
			return rc;
	} while (rc == CSV_END_COMMA);
	r->in_pos = r->rec_start + at;

	for (i = 0; x.high && i < x.nfields; i++) {
		if (!utf8_valid(r->fields[i].data, r->fields[i].len))
			return mfs_error_at(err, EINVAL, r->filename, r->fields[i].line,
					    r->fields[i].col, "not valid UTF-8 text");
	}
	*fields = r->fields;
	*nfields = r->nrecord = x.nfields;
	return 1;
}

unsigned long csv_reader_record_line(const struct csv_reader *r)
{
	return r->record_line;
}

const char *csv_reader_record_bytes(const struct csv_reader *r, size_t *len)
{
	const struct csv_field *last;

	assert(r->nrecord);
	last = &r->fields[r->nrecord - 1];
	*len = (size_t)(last->data + last->len + 1 - (r->in + r->rec_start));
	return r->in + r->rec_start;
}

void csv_reader_release(struct csv_reader *r)
{
	if (r->in) {
		sodium_memzero(r->in, r->in_cap + CSV_PAD);
		free(r->in);
	}
	r->in = NULL;
	r->in_len = r->in_pos = r->in_cap = 0;
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
