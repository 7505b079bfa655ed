/*
 * The CSV reader (table/csv.h) on any bytes.
 *
 * Input: u8 max_field | u8 max_fields | u16 seed of the source's chunk sizes | CSV text.
 *
 * Checks:
 * - the same text read in tiny chunks (1 to 8 bytes, with -EINTR now and then) and in one piece
 *   gives the same records, the same positions and the same error, message included;
 * - every record keeps the limits; a field's bytes are NUL-terminated and hold no NUL; an
 *   unquoted field holds no comma, quote, CR or LF;
 * - csv_field_append round-trips: the records read, written back with it, read back the same.
 */
#include <errno.h>
#include <string.h>

#include "common/strbuf.h"
#include "fuzz/fuzz.h"
#include "table/csv.h"

static void check_record(const struct csv_reader *r, const struct csv_field *f, size_t n)
{
	FUZZ_CHECK(n >= 1 && n <= r->limits.max_fields);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(f[i].data && f[i].len <= r->limits.max_field);
		FUZZ_CHECK(f[i].data[f[i].len] == '\0');
		FUZZ_CHECK(!memchr(f[i].data, '\0', f[i].len));
		FUZZ_CHECK(f[i].line >= csv_reader_record_line(r) && f[i].col >= 1);
		if (!f[i].quoted)
			FUZZ_CHECK(!strpbrk(f[i].data, ",\"\r\n"));
	}
}

static int same_fields(const struct csv_field *a, size_t na, const struct csv_field *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++) {
		if (a[i].len != b[i].len || memcmp(a[i].data, b[i].data, a[i].len) ||
		    a[i].line != b[i].line || a[i].col != b[i].col || a[i].quoted != b[i].quoted)
			return 0;
	}
	return 1;
}

/* Appends the record as csv_field_append writes it, and its fields as u32 length | bytes. */
static void keep_record(const struct csv_field *f, size_t n, struct strbuf *csv,
			struct strbuf *fields)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t len = (uint32_t)f[i].len;

		FUZZ_CHECK(!(i && strbuf_addch(csv, ',')));
		FUZZ_CHECK(!csv_field_append(csv, f[i].data, f[i].len));
		FUZZ_CHECK(!strbuf_add(fields, &len, sizeof(len)));
		FUZZ_CHECK(!strbuf_add(fields, f[i].data, f[i].len));
	}
	FUZZ_CHECK(!strbuf_addch(csv, '\n'));
}

/* Reads csv (what keep_record wrote) back: the same records, field for field. */
static void check_round_trip(const struct strbuf *csv, const struct strbuf *fields, size_t nrecords,
			     uint16_t seed)
{
	struct fuzz_source src = {csv->buf, csv->len, {seed}, 0};
	const char *want = fields->buf, *end = fields->buf + fields->len;
	struct csv_reader r;
	struct csv_field *f;
	struct mfs_error err;
	size_t n, records = 0;
	int rc;

	mfs_error_clear(&err);
	csv_reader_init(&r, fuzz_source_read, &src, "round-trip.csv", NULL);
	while ((rc = csv_reader_next(&r, &f, &n, &err)) == 1) {
		for (size_t i = 0; i < n; i++) {
			uint32_t len;

			FUZZ_CHECK((size_t)(end - want) >= sizeof(len));
			memcpy(&len, want, sizeof(len));
			want += sizeof(len);
			FUZZ_CHECK(f[i].len == len && (size_t)(end - want) >= len);
			FUZZ_CHECK(!memcmp(f[i].data, want, len));
			want += len;
		}
		records++;
	}
	if (rc)
		fuzz_fail(__FILE__, __LINE__, err.msg);
	FUZZ_CHECK(want == end && records == nrecords);
	csv_reader_release(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A normalized file written from the top starts with a byte order mark, so that a first
	 * field that itself starts with one is not taken for the mark. */
	static const char bom[] = "\xef\xbb\xbf";
	struct fuzz_input in = {data, size};
	struct csv_limits limits;
	struct fuzz_source small, whole;
	struct csv_reader a, b;
	struct csv_field *fa, *fb;
	struct mfs_error ea, eb;
	struct strbuf csv, fields;
	size_t na, nb, nrecords = 0;
	uint16_t seed;
	int ra, rb;

	fuzz_begin();
	limits.max_field = 1 + fuzz_u8(&in) % 64;
	limits.max_fields = 1 + fuzz_u8(&in) % 16;
	seed = fuzz_u16(&in);
	small = (struct fuzz_source){(const char *)in.p, in.left, {seed | 1u}, 0};
	whole = (struct fuzz_source){(const char *)in.p, in.left, {0}, 0};
	mfs_error_clear(&ea);
	mfs_error_clear(&eb);
	strbuf_init(&csv);
	strbuf_init(&fields);
	FUZZ_CHECK(!strbuf_addstr(&csv, bom));
	csv_reader_init(&a, fuzz_source_read, &small, "fuzz.csv", &limits);
	csv_reader_init(&b, fuzz_source_read, &whole, "fuzz.csv", &limits);
	for (;;) {
		ra = csv_reader_next(&a, &fa, &na, &ea);
		rb = csv_reader_next(&b, &fb, &nb, &eb);
		FUZZ_CHECK(ra == rb);
		if (ra != 1)
			break;
		FUZZ_CHECK(csv_reader_record_line(&a) == csv_reader_record_line(&b));
		check_record(&a, fa, na);
		FUZZ_CHECK(same_fields(fa, na, fb, nb));
		keep_record(fa, na, &csv, &fields);
		nrecords++;
	}
	FUZZ_CHECK(ra == 0 || ra == -EINVAL);
	FUZZ_CHECK(!strcmp(ea.msg, eb.msg));
	FUZZ_CHECK(ra == 0 ? !ea.msg[0] : !!ea.msg[0]);
	csv_reader_release(&a);
	csv_reader_release(&b);
	check_round_trip(&csv, &fields, nrecords, seed);
	strbuf_release(&csv);
	strbuf_release(&fields);
	return 0;
}
