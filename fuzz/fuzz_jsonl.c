/*
 * The JSON Lines reader (table/jsonl.h) on any bytes.
 *
 * Input: u8 columns (1 to 4 of id, name, email, note) | u8 max_line | u16 seed of the source's
 * chunk sizes | JSON Lines text.
 *
 * Checks:
 * - the same text read in tiny chunks (with -EINTR now and then) and in one piece gives the same
 *   records, positions and error, message included;
 * - the column names come first (unless there is no byte at all), then records of exactly one
 *   field per column, each NUL-terminated, without NUL, valid UTF-8; a value not in quotes is
 *   true, false, a JSON number or empty (null or missing);
 * - the records written back as JSON Lines (strings escaped, nulls left out) read back the same.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/strbuf.h"
#include "fuzz/fuzz.h"
#include "table/jsonl.h"

static const char *const all_columns[] = {"id", "name", "email", "note"};

/* Well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). */
static int utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i], n, cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (len - i - 1 < n)
			return 0;
		for (unsigned k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

/* A JSON number as RFC 8259 writes it. */
static int json_number(const char *s, size_t len)
{
	size_t i = 0, d;

	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0') {
		i++;
	} else {
		for (d = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return 0;
	}
	if (i < len && s[i] == '.') {
		for (d = ++i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return 0;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return 0;
	}
	return i == len;
}

static void check_record(const struct csv_field *f, size_t n, size_t ncolumns, unsigned long line)
{
	FUZZ_CHECK(n == ncolumns);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(f[i].data && f[i].data[f[i].len] == '\0');
		FUZZ_CHECK(!memchr(f[i].data, '\0', f[i].len));
		FUZZ_CHECK(utf8_valid((const unsigned char *)f[i].data, f[i].len));
		FUZZ_CHECK(f[i].line == line && f[i].col >= 1);
		if (!f[i].quoted)
			FUZZ_CHECK(!f[i].len || !strcmp(f[i].data, "true") ||
				   !strcmp(f[i].data, "false") || json_number(f[i].data, f[i].len));
	}
}

static int same_fields(const struct csv_field *a, const struct csv_field *b, size_t n, int where)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i].len != b[i].len || memcmp(a[i].data, b[i].data, a[i].len) ||
		    a[i].quoted != b[i].quoted)
			return 0;
		if (where && (a[i].line != b[i].line || a[i].col != b[i].col))
			return 0;
	}
	return 1;
}

static void add_json_string(struct strbuf *out, const char *s, size_t len)
{
	FUZZ_CHECK(!strbuf_addch(out, '"'));
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			FUZZ_CHECK(!strbuf_addch(out, '\\') && !strbuf_addch(out, (char)c));
		else if (c < 0x20)
			FUZZ_CHECK(!strbuf_addf(out, "\\u%04x", c));
		else
			FUZZ_CHECK(!strbuf_addch(out, (char)c));
	}
	FUZZ_CHECK(!strbuf_addch(out, '"'));
}

/* Appends the record as a JSON object: a string in quotes, true, false and numbers as they are,
 * a null now written as null, now left out. */
static void keep_record(const struct csv_field *f, size_t n, struct fuzz_rng *rng,
			struct strbuf *out, struct strbuf *fields)
{
	int first = 1;

	FUZZ_CHECK(!strbuf_addch(out, '{'));
	for (size_t i = 0; i < n; i++) {
		uint32_t len = (uint32_t)f[i].len;
		uint8_t quoted = (uint8_t)f[i].quoted;

		FUZZ_CHECK(!strbuf_add(fields, &quoted, 1) && !strbuf_add(fields, &len, 4));
		FUZZ_CHECK(!strbuf_add(fields, f[i].data, f[i].len));
		if (!f[i].quoted && !f[i].len && fuzz_rng_next(rng) & 1)
			continue;
		FUZZ_CHECK(!(!first && strbuf_addstr(out, ", ")));
		first = 0;
		add_json_string(out, all_columns[i], strlen(all_columns[i]));
		FUZZ_CHECK(!strbuf_addch(out, ':'));
		if (f[i].quoted)
			add_json_string(out, f[i].data, f[i].len);
		else if (f[i].len)
			FUZZ_CHECK(!strbuf_add(out, f[i].data, f[i].len));
		else
			FUZZ_CHECK(!strbuf_addstr(out, "null"));
	}
	FUZZ_CHECK(!strbuf_addstr(out, "}\n"));
}

static void check_round_trip(const struct strbuf *text, const struct strbuf *fields,
			     size_t ncolumns, size_t nrecords)
{
	struct fuzz_source src = {text->buf, text->len, {0}, 0};
	const char *want = fields->buf, *end = fields->buf + fields->len;
	struct jsonl_reader r;
	struct csv_field *f;
	struct mfs_error err;
	size_t n, records = 0;
	int rc;

	mfs_error_clear(&err);
	jsonl_reader_init(&r, fuzz_source_read, &src, "round-trip.jsonl", all_columns, ncolumns,
			  NULL);
	rc = jsonl_reader_next(&r, &f, &n, &err);
	FUZZ_CHECK(rc == (text->len ? 1 : 0));
	while (rc == 1 && (rc = jsonl_reader_next(&r, &f, &n, &err)) == 1) {
		FUZZ_CHECK(n == ncolumns);
		for (size_t i = 0; i < n; i++) {
			uint32_t len;

			FUZZ_CHECK((size_t)(end - want) >= 5);
			FUZZ_CHECK(f[i].quoted == want[0]);
			memcpy(&len, want + 1, 4);
			want += 5;
			FUZZ_CHECK(f[i].len == len && (size_t)(end - want) >= len);
			FUZZ_CHECK(!memcmp(f[i].data, want, len));
			want += len;
		}
		records++;
	}
	if (rc)
		fuzz_fail(__FILE__, __LINE__, err.msg);
	FUZZ_CHECK(want == end && records == nrecords);
	jsonl_reader_release(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	struct jsonl_limits limits;
	struct fuzz_source small, whole;
	struct jsonl_reader a, b;
	struct csv_field *fa, *fb;
	struct mfs_error ea, eb;
	struct strbuf text, fields;
	struct fuzz_rng rng;
	size_t ncolumns, na, nb, nrecords = 0;
	uint16_t seed;
	int ra, rb, header = 1;

	fuzz_begin();
	ncolumns = 1 + fuzz_u8(&in) % 4;
	limits.max_line = 1 + fuzz_u8(&in);
	seed = fuzz_u16(&in);
	rng.state = seed;
	small = (struct fuzz_source){(const char *)in.p, in.left, {seed | 1u}, 0};
	whole = (struct fuzz_source){(const char *)in.p, in.left, {0}, 0};
	mfs_error_clear(&ea);
	mfs_error_clear(&eb);
	strbuf_init(&text);
	strbuf_init(&fields);
	jsonl_reader_init(&a, fuzz_source_read, &small, "fuzz.jsonl", all_columns, ncolumns,
			  &limits);
	jsonl_reader_init(&b, fuzz_source_read, &whole, "fuzz.jsonl", all_columns, ncolumns,
			  &limits);
	for (;;) {
		ra = jsonl_reader_next(&a, &fa, &na, &ea);
		rb = jsonl_reader_next(&b, &fb, &nb, &eb);
		FUZZ_CHECK(ra == rb);
		if (ra != 1)
			break;
		FUZZ_CHECK(na == nb && same_fields(fa, fb, na, 1));
		FUZZ_CHECK(jsonl_reader_record_line(&a) == jsonl_reader_record_line(&b));
		if (header) {
			/* The column names, standing in for a header row. */
			FUZZ_CHECK(na == ncolumns && jsonl_reader_record_line(&a) == 0);
			for (size_t i = 0; i < na; i++)
				FUZZ_CHECK(!strcmp(fa[i].data, all_columns[i]));
			header = 0;
			continue;
		}
		check_record(fa, na, ncolumns, jsonl_reader_record_line(&a));
		keep_record(fa, na, &rng, &text, &fields);
		nrecords++;
	}
	FUZZ_CHECK(ra == 0 || ra == -EINVAL);
	FUZZ_CHECK(!strcmp(ea.msg, eb.msg));
	FUZZ_CHECK(ra == 0 ? !ea.msg[0] : !!ea.msg[0]);
	FUZZ_CHECK(ra < 0 || header == !in.left);
	jsonl_reader_release(&a);
	jsonl_reader_release(&b);
	check_round_trip(&text, &fields, ncolumns, nrecords);
	strbuf_release(&text);
	strbuf_release(&fields);
	return 0;
}
