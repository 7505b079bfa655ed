/*
 * Segments (table/segment.h): opening and reading blobs made from the input.
 *
 * Input, first byte even (a blob as it is):
 *   u8 mode | u32 seed of the reads | the blob's bytes
 * Input, first byte odd (a table written, then possibly damaged):
 *   u8 mode | u8 columns | u8 PII columns (bit set) | u8 masks (2 bits a column) |
 *   u8 rows a group | u8 bytes a group | u8 damages, then per damage u16 offset | u8 xor |
 *   u32 seed of the reads | CSV rows (row i's column k is field k mod n of record i)
 *
 * Checks, on every blob that opens (one that does not must say -EIO):
 * - the views' sizes add up (equal without PII); each view reads whole or fails with -EIO,
 *   never partly;
 * - a read at any offset gives exactly the bytes of the whole view there, short only at its
 *   end, with or without a cache, and so does reading the view in pieces;
 * - the plain view never opens under a wrong key or binding;
 * - a table written with segment_writer reads back as the normalized CSV of its rows, each PII
 *   cell masked in the masked view, and its totals are right;
 * - every byte of a segment is checked (segment.h): a damaged one never reads whole in both
 *   views.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/mask.h"
#include "backends/store.h"
#include "common/strbuf.h"
#include "fuzz/fuzz.h"
#include "table/csv.h"
#include "table/segment.h"

#define BINDING	    "fuzz/segment/t"
#define KEY_ID	    3
#define MAX_COLUMNS 4
#define MAX_WHOLE   (1u << 20) /* views larger than this are only read in places */
#define MAX_READ    4096
#define MAX_DAMAGES 3

static const char *const column_names[MAX_COLUMNS] = {"c0", "c1", "c2", "c3"};
static uint8_t data_key[32], mask_key[32];

static int right_key(void *ctx, uint32_t key_id, uint8_t key[32])
{
	(void)ctx;
	if (key_id != KEY_ID)
		return -ENOENT;
	memcpy(key, data_key, 32);
	return 0;
}

static int wrong_key(void *ctx, uint32_t key_id, uint8_t key[32])
{
	(void)ctx;
	(void)key_id;
	memcpy(key, mask_key, 32);
	return 0;
}

static void put_blob(struct store *st, const void *data, size_t len, char id[STORE_ID_HEX + 1])
{
	struct store_writer *w;

	FUZZ_CHECK(!store_writer_open(st, &w));
	FUZZ_CHECK(!store_writer_write(w, data, len));
	FUZZ_CHECK(!store_writer_commit(w, id));
}

/* The whole view, or NULL when it is too large or damaged. */
static char *read_whole(struct segment *seg, enum segment_view view)
{
	uint64_t size = segment_view_size(seg, view);
	ssize_t got;
	char *buf;

	if (size > MAX_WHOLE)
		return NULL;
	buf = malloc(size + 1);
	FUZZ_CHECK(buf);
	got = segment_read(seg, view, buf, (size_t)size, 0, right_key, NULL, NULL);
	if (got == -EIO) {
		free(buf);
		return NULL;
	}
	FUZZ_CHECK(got >= 0 && (uint64_t)got == size);
	return buf;
}

/* Reads the view front to back in pieces of random sizes through one cache. */
static void check_pieces(struct segment *seg, enum segment_view view, const char *whole,
			 struct fuzz_rng *rng)
{
	struct segment_cache *cache = segment_cache_new();
	uint64_t size = segment_view_size(seg, view), off = 0;
	char buf[MAX_READ];

	FUZZ_CHECK(cache);
	while (off < size) {
		size_t len = 1 + (size_t)fuzz_rng_below(rng, sizeof(buf));
		ssize_t got = segment_read(seg, view, buf, len, off, right_key, NULL, cache);
		uint64_t want = size - off < len ? size - off : len;

		FUZZ_CHECK(got >= 0 && (uint64_t)got == want);
		FUZZ_CHECK(!memcmp(buf, whole + off, (size_t)got));
		off += (uint64_t)got;
	}
	segment_cache_free(cache);
}

/* Reads at random offsets: exactly the whole view's bytes there, when they are known. */
static void check_random(struct segment *seg, enum segment_view view, const char *whole,
			 struct fuzz_rng *rng)
{
	struct segment_cache *cache = segment_cache_new();
	uint64_t size = segment_view_size(seg, view);
	unsigned reads = 1 + (unsigned)fuzz_rng_below(rng, 16);
	char buf[MAX_READ];

	FUZZ_CHECK(cache);
	for (unsigned i = 0; i < reads; i++) {
		uint64_t off = fuzz_rng_below(rng, size < UINT64_MAX - 16 ? size + 16 : size);
		size_t len = (size_t)fuzz_rng_below(rng, sizeof(buf) + 1);
		uint64_t want = off >= size ? 0 : size - off < len ? size - off : len;
		ssize_t got = segment_read(seg, view, buf, len, off, right_key, NULL,
					   fuzz_rng_next(rng) & 1 ? cache : NULL);

		if (got == -EIO && !whole)
			continue;
		FUZZ_CHECK(got >= 0 && (uint64_t)got == want);
		if (whole)
			FUZZ_CHECK(!memcmp(buf, whole + off, (size_t)got));
	}
	segment_cache_free(cache);
}

/*
 * Checks an open segment; want (may be NULL) is what each view must read as. Returns 1 if both
 * views read whole.
 */
static int check_segment(struct segment *seg, const struct strbuf *want, struct fuzz_rng *rng)
{
	char *whole[2];
	int clean;

	if (!segment_has_pii(seg))
		FUZZ_CHECK(segment_view_size(seg, SEGMENT_MASKED) ==
			   segment_view_size(seg, SEGMENT_PLAIN));
	for (int v = SEGMENT_MASKED; v <= SEGMENT_PLAIN; v++) {
		whole[v] = read_whole(seg, v);
		if (want) {
			FUZZ_CHECK(whole[v] && segment_view_size(seg, v) == want[v].len);
			FUZZ_CHECK(!memcmp(whole[v], want[v].buf, want[v].len));
		}
		if (whole[v])
			check_pieces(seg, v, whole[v], rng);
		check_random(seg, v, whole[v], rng);
	}
	clean = whole[0] && whole[1];
	if (!segment_has_pii(seg) && clean)
		FUZZ_CHECK(!memcmp(whole[0], whole[1], segment_view_size(seg, SEGMENT_MASKED)));
	free(whole[0]);
	free(whole[1]);
	return clean;
}

/* Opens blob id: it must be well-formed or be refused with -EIO. Returns 1 if it opens and both
 * its views read whole. */
static int check_blob(struct store *st, const char *id, struct fuzz_rng *rng)
{
	struct segment *seg;
	struct mfs_error err;
	int rc, clean;

	mfs_error_clear(&err);
	rc = segment_open(&seg, st, id, BINDING, &err);
	if (rc) {
		FUZZ_CHECK(rc == -EIO && err.msg[0]);
		return 0;
	}
	clean = check_segment(seg, NULL, rng);
	segment_close(seg);
	return clean;
}

struct table {
	struct segment_column columns[MAX_COLUMNS];
	struct segment_params params;
	struct strbuf want[2]; /* masked and plain view */
	struct strbuf mask;
	uint64_t rows;
};

/* Appends one row to both expected views. */
static void table_expect(struct table *t, const struct csv_field *row)
{
	for (size_t i = 0; i < t->params.ncolumns; i++) {
		const struct segment_column *c = &t->columns[i];

		FUZZ_CHECK(!(i && strbuf_addch(&t->want[0], ',')));
		FUZZ_CHECK(!(i && strbuf_addch(&t->want[1], ',')));
		FUZZ_CHECK(!csv_field_append(&t->want[1], row[i].data, row[i].len));
		if (!c->pii) {
			FUZZ_CHECK(!csv_field_append(&t->want[0], row[i].data, row[i].len));
			continue;
		}
		strbuf_reset(&t->mask);
		FUZZ_CHECK(!mask_apply(c->mask, mask_key, row[i].data, row[i].len, &t->mask));
		FUZZ_CHECK(!csv_field_append(&t->want[0], t->mask.buf, t->mask.len));
	}
	FUZZ_CHECK(!strbuf_addch(&t->want[0], '\n') && !strbuf_addch(&t->want[1], '\n'));
}

/* Writes the rows of the CSV text as a segment; t->want gets what its views must read as. */
static void table_write(struct table *t, struct store *st, struct fuzz_input *in,
			struct segment_info *info)
{
	struct fuzz_source src = {(const char *)in->p, in->left, {0}, 0};
	struct csv_field row[MAX_COLUMNS], *f;
	struct segment_writer *w;
	struct csv_reader r;
	struct mfs_error err;
	size_t n;
	int npii = 0;

	mfs_error_clear(&err);
	for (size_t i = 0; i < t->params.ncolumns; i++) {
		FUZZ_CHECK(!(i && strbuf_addch(&t->want[0], ',')));
		FUZZ_CHECK(!strbuf_addstr(&t->want[0], column_names[i]));
		npii += t->columns[i].pii;
	}
	FUZZ_CHECK(!strbuf_addch(&t->want[0], '\n'));
	FUZZ_CHECK(!strbuf_add(&t->want[1], t->want[0].buf, t->want[0].len));
	FUZZ_CHECK(!segment_writer_open(&w, st, &t->params, &err));
	csv_reader_init(&r, fuzz_source_read, &src, "rows.csv", NULL);
	while (csv_reader_next(&r, &f, &n, &err) == 1) {
		for (size_t i = 0; i < t->params.ncolumns; i++)
			row[i] = f[i % n];
		FUZZ_CHECK(!segment_writer_add(w, row, t->params.ncolumns));
		table_expect(t, row);
		t->rows++;
	}
	csv_reader_release(&r);
	FUZZ_CHECK(!segment_writer_finish(w, info, &err));
	FUZZ_CHECK(info->rows == t->rows && info->has_pii == (npii > 0));
	FUZZ_CHECK(info->masked_size == t->want[0].len && info->plain_size == t->want[1].len);
}

/* The blob with the damages of the input applied; 0 if they cancel out. */
static int damage(struct store *st, const char *id, const uint16_t *offset, const uint8_t * xor,
		  unsigned n, char damaged[STORE_ID_HEX + 1])
{
	struct store_blob *b;
	uint64_t size;
	char *bytes;

	FUZZ_CHECK(!store_blob_open(st, id, &b));
	size = store_blob_size(b);
	bytes = malloc(size ? size : 1);
	FUZZ_CHECK(bytes && store_blob_pread(b, bytes, size, 0) == (ssize_t)size);
	store_blob_close(b);
	for (unsigned i = 0; i < n; i++)
		bytes[offset[i] % size] ^= (char)xor[i];
	put_blob(st, bytes, size, damaged);
	free(bytes);
	return strcmp(id, damaged) != 0;
}

static void fuzz_table(struct store *st, struct fuzz_input *in)
{
	uint16_t offset[MAX_DAMAGES];
	uint8_t xor [MAX_DAMAGES], piis, masks;
	char damaged[STORE_ID_HEX + 1];
	struct segment_info info;
	struct mfs_error err;
	struct segment *seg;
	struct fuzz_rng rng;
	struct table t;
	unsigned ndamages;
	char buf[64];

	memset(&t, 0, sizeof(t));
	t.params.binding = BINDING;
	t.params.columns = t.columns;
	t.params.ncolumns = 1 + fuzz_u8(in) % MAX_COLUMNS;
	piis = fuzz_u8(in);
	masks = fuzz_u8(in);
	for (size_t i = 0; i < t.params.ncolumns; i++) {
		t.columns[i].name = column_names[i];
		t.columns[i].pii = piis >> i & 1;
		t.columns[i].mask = (enum mask_kind)(masks >> (2 * i) & 3);
	}
	t.params.data_key = data_key;
	t.params.key_id = KEY_ID;
	t.params.mask_key = mask_key;
	t.params.group_rows = 1 + fuzz_u8(in) % 8;
	t.params.group_bytes = 1 + fuzz_u8(in);
	ndamages = fuzz_u8(in) % (MAX_DAMAGES + 1);
	for (unsigned i = 0; i < ndamages; i++) {
		offset[i] = fuzz_u16(in);
		xor[i] = fuzz_u8(in) | 1;
	}
	rng.state = fuzz_u32(in);
	for (int v = 0; v < 2; v++)
		strbuf_init(&t.want[v]);
	strbuf_init(&t.mask);

	table_write(&t, st, in, &info);
	mfs_error_clear(&err);
	FUZZ_CHECK(!segment_open(&seg, st, info.id, BINDING, &err));
	FUZZ_CHECK(segment_rows(seg) == t.rows);
	FUZZ_CHECK(segment_has_pii(seg) == info.has_pii);
	FUZZ_CHECK(check_segment(seg, t.want, &rng));
	if (segment_has_pii(seg) && t.rows)
		FUZZ_CHECK(segment_read(seg, SEGMENT_PLAIN, buf, sizeof(buf), t.want[1].len - 1,
					wrong_key, NULL, NULL) == -EIO);
	segment_close(seg);
	/* Chunks are bound to their table: under another binding the plain view does not open. */
	FUZZ_CHECK(!segment_open(&seg, st, info.id, "fuzz/segment/other", &err));
	if (segment_has_pii(seg) && t.rows)
		FUZZ_CHECK(segment_read(seg, SEGMENT_PLAIN, buf, sizeof(buf), 0, right_key, NULL,
					NULL) == -EIO);
	segment_close(seg);

	if (ndamages && damage(st, info.id, offset, xor, ndamages, damaged)) {
		FUZZ_CHECK(!check_blob(st, damaged, &rng));
		FUZZ_CHECK(!store_remove(st, damaged));
	}
	FUZZ_CHECK(!store_remove(st, info.id));
	for (int v = 0; v < 2; v++)
		strbuf_release_secure(&t.want[v]);
	strbuf_release_secure(&t.mask);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	char id[STORE_ID_HEX + 1];
	struct store *st;
	struct fuzz_rng rng;

	fuzz_begin();
	for (size_t i = 0; i < 32; i++) {
		data_key[i] = (uint8_t)(0x17 + i * 3);
		mask_key[i] = (uint8_t)(0xc3 ^ i * 11);
	}
	st = fuzz_store();
	if (fuzz_u8(&in) & 1) {
		fuzz_table(st, &in);
		return 0;
	}
	rng.state = fuzz_u32(&in);
	put_blob(st, in.p, in.left, id);
	check_blob(st, id, &rng);
	FUZZ_CHECK(!store_remove(st, id));
	return 0;
}
