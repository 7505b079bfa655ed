/* Unit tests of segments: writing tables, reading both views at any offset, and tampering. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/mask.h"
#include "crypto/seal.h"
#include "backends/store.h"
#include "table/csv.h"
#include "table/segment.h"
#include "tests/unit/helpers.h"
#include "tests/unit/segment_format1.h"

#define BINDING "sales/orders/customers"
#define KEY_ID	7
#define HEAD	24 /* the file header: magic, format, reserved, segment id */
#define TRAILER 24 /* index offset and length, its CRC, end magic */

struct fixture {
	char dir[64];
	struct store *st;
	uint8_t data_key[32];
	uint8_t mask_key[32];
};

struct keyctx {
	const uint8_t *key;
	uint32_t id;
	int calls;
};

static int test_key(void *ctx, uint32_t key_id, uint8_t key[32])
{
	struct keyctx *k = ctx;

	k->calls++;
	if (key_id != k->id)
		return -ENOENT;
	memcpy(key, k->key, 32);
	return 0;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct mfs_error err;

	assert_non_null(fx);
	assert_true(sodium_init() >= 0);
	strcpy(fx->dir, "/tmp/meshfs-test-segment-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	mfs_error_clear(&err);
	assert_int_equal(store_local_open(fx->dir, 1, &fx->st, &err), 0);
	randombytes_buf(fx->data_key, sizeof(fx->data_key));
	randombytes_buf(fx->mask_key, sizeof(fx->mask_key));
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	store_close(fx->st);
	assert_int_equal(remove_tree(fx->dir), 0);
	free(fx);
	return 0;
}

/* A table: its columns and rows (ncolumns values per row). */
struct table {
	const struct segment_column *columns;
	size_t ncolumns;
	const char *const *values;
	size_t nrows;
};

/* What a table should look like once stored. */
struct expected {
	struct strbuf masked, plain;
	size_t header_len;
	/* bytes of each row in each view, to find where groups start */
	size_t *row_masked, *row_plain;
};

static void expected_build(const struct fixture *fx, const struct table *t, struct expected *e)
{
	struct strbuf mask;
	const char *v;
	size_t i, j, m0, p0;

	strbuf_init(&e->masked);
	strbuf_init(&e->plain);
	strbuf_init(&mask);
	e->row_masked = calloc(t->nrows + 1, sizeof(size_t));
	e->row_plain = calloc(t->nrows + 1, sizeof(size_t));
	assert_non_null(e->row_masked);
	assert_non_null(e->row_plain);
	for (j = 0; j < t->ncolumns; j++) {
		if (j)
			strbuf_addch(&e->masked, ',');
		strbuf_addstr(&e->masked, t->columns[j].name);
	}
	strbuf_addch(&e->masked, '\n');
	strbuf_add(&e->plain, e->masked.buf, e->masked.len);
	e->header_len = e->masked.len;
	for (i = 0; i < t->nrows; i++) {
		m0 = e->masked.len;
		p0 = e->plain.len;
		for (j = 0; j < t->ncolumns; j++) {
			v = t->values[i * t->ncolumns + j];
			if (j) {
				strbuf_addch(&e->masked, ',');
				strbuf_addch(&e->plain, ',');
			}
			assert_int_equal(csv_field_append(&e->plain, v, strlen(v)), 0);
			if (!t->columns[j].pii) {
				assert_int_equal(csv_field_append(&e->masked, v, strlen(v)), 0);
				continue;
			}
			strbuf_reset(&mask);
			assert_int_equal(
			    mask_apply(t->columns[j].mask, fx->mask_key, v, strlen(v), &mask), 0);
			assert_int_equal(csv_field_append(&e->masked, mask.buf, mask.len), 0);
		}
		strbuf_addch(&e->masked, '\n');
		strbuf_addch(&e->plain, '\n');
		e->row_masked[i] = e->masked.len - m0;
		e->row_plain[i] = e->plain.len - p0;
	}
	strbuf_release(&mask);
}

static void expected_release(struct expected *e)
{
	strbuf_release(&e->masked);
	strbuf_release(&e->plain);
	free(e->row_masked);
	free(e->row_plain);
}

static void write_table(const struct fixture *fx, const struct table *t, size_t group_rows,
			size_t group_bytes, struct segment_info *info)
{
	struct segment_params p = {
	    .binding = BINDING,
	    .columns = t->columns,
	    .ncolumns = t->ncolumns,
	    .data_key = fx->data_key,
	    .key_id = KEY_ID,
	    .mask_key = fx->mask_key,
	    .group_rows = group_rows,
	    .group_bytes = group_bytes,
	};
	struct segment_writer *w;
	struct csv_field *f;
	struct mfs_error err;
	size_t i, j;

	f = calloc(t->ncolumns, sizeof(*f));
	assert_non_null(f);
	mfs_error_clear(&err);
	assert_int_equal(segment_writer_open(&w, fx->st, &p, &err), 0);
	for (i = 0; i < t->nrows; i++) {
		for (j = 0; j < t->ncolumns; j++) {
			f[j].data = t->values[i * t->ncolumns + j];
			f[j].len = strlen(f[j].data);
		}
		assert_int_equal(segment_writer_add(w, f, t->ncolumns), 0);
	}
	assert_int_equal(segment_writer_finish(w, info, &err), 0);
	assert_string_equal(err.msg, "");
	assert_int_equal(strlen(info->id), STORE_ID_HEX);
	free(f);
}

static struct segment *open_ok(const struct fixture *fx, const char *id, const char *binding)
{
	struct segment *seg = NULL;
	struct mfs_error err;

	mfs_error_clear(&err);
	assert_int_equal(segment_open(&seg, fx->st, id, binding, &err), 0);
	assert_non_null(seg);
	return seg;
}

/* Reads the whole view in one call and in small sequential steps. */
static void check_full(struct segment *seg, enum segment_view view, const struct strbuf *want,
		       struct keyctx *k)
{
	struct segment_cache *cache = segment_cache_new();
	char *buf = malloc(want->len + 64);
	size_t off = 0;
	ssize_t n;

	assert_non_null(cache);
	assert_non_null(buf);
	assert_int_equal(segment_view_size(seg, view), want->len);
	n = segment_read(seg, view, buf, want->len + 64, 0, test_key, k, NULL);
	assert_int_equal(n, want->len);
	assert_memory_equal(buf, want->buf, want->len);
	memset(buf, 0, want->len);
	while ((n = segment_read(seg, view, buf + off, 5, off, test_key, k, cache)) > 0)
		off += (size_t)n;
	assert_int_equal(n, 0);
	assert_int_equal(off, want->len);
	assert_memory_equal(buf, want->buf, want->len);
	/* At and past the end. */
	assert_int_equal(segment_read(seg, view, buf, 10, want->len, test_key, k, cache), 0);
	assert_int_equal(segment_read(seg, view, buf, 10, want->len + 100, test_key, k, cache), 0);
	segment_cache_free(cache);
	free(buf);
}

/* Every offset, every length: each read is the matching slice of the full view. */
static void check_every_slice(struct segment *seg, enum segment_view view,
			      const struct strbuf *want, struct keyctx *k)
{
	struct segment_cache *cache = segment_cache_new();
	char *buf = malloc(want->len + 1);
	size_t off, len;
	ssize_t n;

	assert_non_null(cache);
	assert_non_null(buf);
	for (off = 0; off < want->len; off++) {
		for (len = 1; len <= want->len - off; len++) {
			/* Without a cache now and then, so that both paths are covered. */
			n = segment_read(seg, view, buf, len, off, test_key, k,
					 (off + len) % 5 ? cache : NULL);
			assert_int_equal(n, len);
			assert_memory_equal(buf, want->buf + off, len);
		}
	}
	segment_cache_free(cache);
	free(buf);
}

static const struct segment_column people_columns[] = {
    {.name = "id"},
    {.name = "email", .pii = 1, .mask = MASK_TOKEN},
    {.name = "name", .pii = 1, .mask = MASK_LAST4},
    {.name = "city"},
    {.name = "card", .pii = 1, .mask = MASK_REDACT},
    {.name = "secret", .pii = 1, .mask = MASK_NULL},
};

static const char *const people_values[] = {
    "1",
    "ann@example.com",
    "Ann Smith",
    "Paris",
    "4111111111111111",
    "s1",
    "2",
    "bob@example.com",
    "Bob, Jr.",
    "New\nYork",
    "",
    "x",
    "3",
    "",
    "",
    "",
    "",
    "",
    "4",
    "q\"uote@example.com",
    "Zo\xc3\xab \xc3\x98rsted",
    "a,b",
    "1234",
    "multi\nline",
    "5",
    "eve@example.com",
    "Eve",
    "Lyon",
    "5500000000000004",
    "\"q\"",
    "6",
    "ann@example.com",
    "Ann Smith",
    "Paris",
    "4111111111111111",
    "s1",
    "7",
    "x@y.z",
    "Al",
    "Rome",
    "9",
    "",
    "8",
    "long.name@example.com",
    "Maximilian Mustermann",
    "Berlin",
    "6011000990139424",
    "comma, inside",
    "9",
    "",
    "Noor",
    "",
    "1",
    "r\r\nn",
    "10",
    "ten@example.com",
    "Ten",
    "Oslo",
    "",
    "t",
    "11",
    "z@z.z",
    "Zed",
    "Nice",
    "4000056655665556",
    "last",
};

static const struct table people = {
    .columns = people_columns,
    .ncolumns = 6,
    .values = people_values,
    .nrows = sizeof(people_values) / sizeof(people_values[0]) / 6,
};

static void test_pii_views(void **state)
{
	struct fixture *fx = *state;
	struct keyctx k = {.key = fx->data_key, .id = KEY_ID};
	struct segment_info info;
	struct expected e;
	struct segment *seg;
	const char *line;
	size_t i;

	expected_build(fx, &people, &e);
	write_table(fx, &people, 3, 0, &info);
	assert_int_equal(info.rows, 11);
	assert_int_equal(info.masked_size, e.masked.len);
	assert_int_equal(info.plain_size, e.plain.len);
	assert_true(info.has_pii);

	/* The masks, spelled out for the first row. */
	line = e.masked.buf + e.header_len;
	assert_memory_equal(e.masked.buf, "id,email,name,city,card,secret\n", e.header_len);
	assert_memory_equal(line, "1,tok_", 6);
	for (i = 6; i < 22; i++)
		assert_non_null(strchr("0123456789abcdef", line[i]));
	assert_memory_equal(line + 22, ",****mith,Paris,REDACTED,\n", 26);
	/* Plain is the input, normalized. */
	assert_memory_equal(e.plain.buf + e.header_len + e.row_plain[0],
			    "2,bob@example.com,\"Bob, Jr.\",\"New\nYork\",,x\n", e.row_plain[1]);

	seg = open_ok(fx, info.id, BINDING);
	assert_int_equal(segment_rows(seg), 11);
	assert_true(segment_has_pii(seg));
	check_full(seg, SEGMENT_MASKED, &e.masked, &k);
	check_full(seg, SEGMENT_PLAIN, &e.plain, &k);
	check_every_slice(seg, SEGMENT_MASKED, &e.masked, &k);
	check_every_slice(seg, SEGMENT_PLAIN, &e.plain, &k);
	segment_close(seg);
	expected_release(&e);
}

static void test_no_pii(void **state)
{
	static const struct segment_column cols[] = {{.name = "sku"}, {.name = "label"}};
	static const char *const values[] = {"a1",    "plain", "b2", "with,comma", "c3",
					     "\"q\"", "d4",    "",   "e5",	   "multi\nline"};
	const struct table t = {.columns = cols, .ncolumns = 2, .values = values, .nrows = 5};
	struct fixture *fx = *state;
	struct segment_info info;
	struct expected e;
	struct segment *seg;
	char buf[256];

	expected_build(fx, &t, &e);
	assert_int_equal(e.masked.len, e.plain.len);
	assert_memory_equal(e.masked.buf, e.plain.buf, e.plain.len);
	write_table(fx, &t, 2, 0, &info);
	assert_false(info.has_pii);
	assert_int_equal(info.rows, 5);
	assert_int_equal(info.masked_size, e.masked.len);
	assert_int_equal(info.plain_size, e.masked.len);
	seg = open_ok(fx, info.id, BINDING);
	assert_false(segment_has_pii(seg));
	assert_int_equal(segment_view_size(seg, SEGMENT_PLAIN), e.plain.len);
	/* No keys needed for either view. */
	assert_int_equal(segment_read(seg, SEGMENT_PLAIN, buf, sizeof(buf), 0, NULL, NULL, NULL),
			 e.plain.len);
	assert_memory_equal(buf, e.plain.buf, e.plain.len);
	check_every_slice(seg, SEGMENT_MASKED, &e.masked, NULL);
	segment_close(seg);
	expected_release(&e);
}

static void test_zero_rows(void **state)
{
	const struct table t = {.columns = people_columns, .ncolumns = 6, .nrows = 0};
	struct fixture *fx = *state;
	struct keyctx k = {.key = fx->data_key, .id = KEY_ID};
	struct segment_info info;
	struct expected e;
	struct segment *seg;

	expected_build(fx, &t, &e);
	write_table(fx, &t, 3, 0, &info);
	assert_int_equal(info.rows, 0);
	assert_int_equal(info.masked_size, e.header_len);
	assert_int_equal(info.plain_size, e.header_len);
	seg = open_ok(fx, info.id, BINDING);
	assert_int_equal(segment_rows(seg), 0);
	check_full(seg, SEGMENT_MASKED, &e.masked, &k);
	check_full(seg, SEGMENT_PLAIN, &e.plain, &k);
	check_every_slice(seg, SEGMENT_PLAIN, &e.plain, &k);
	assert_int_equal(k.calls, 0);
	segment_close(seg);
	expected_release(&e);
}

/* Groups closed by size rather than by rows. */
static void test_group_bytes(void **state)
{
	struct fixture *fx = *state;
	struct keyctx k = {.key = fx->data_key, .id = KEY_ID};
	struct segment_info info;
	struct expected e;
	struct segment *seg;

	expected_build(fx, &people, &e);
	write_table(fx, &people, 0, 70, &info);
	seg = open_ok(fx, info.id, BINDING);
	check_full(seg, SEGMENT_MASKED, &e.masked, &k);
	check_full(seg, SEGMENT_PLAIN, &e.plain, &k);
	check_every_slice(seg, SEGMENT_PLAIN, &e.plain, &k);
	segment_close(seg);
	expected_release(&e);
}

/* A random table with every kind of awkward byte, read at random places. */
static void test_random(void **state)
{
	static const char alphabet[] = "ab,\"\n\r xyz\xc3\xa9"
				       "0123";
	struct fixture *fx = *state;
	struct keyctx k = {.key = fx->data_key, .id = KEY_ID};
	struct segment_cache *cache = segment_cache_new();
	const size_t nrows = 700, ncols = 6;
	char **values = calloc(nrows * ncols, sizeof(char *));
	struct table t = {.columns = people_columns, .ncolumns = ncols, .nrows = nrows};
	struct segment_info info;
	struct expected e;
	struct segment *seg;
	const struct strbuf *want;
	enum segment_view view;
	size_t i, j, len, off;
	char *buf;
	ssize_t n;

	assert_non_null(values);
	assert_non_null(cache);
	for (i = 0; i < nrows * ncols; i++) {
		len = randombytes_uniform(12);
		values[i] = calloc(len + 1, 1);
		assert_non_null(values[i]);
		for (j = 0; j < len; j++)
			values[i][j] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
	}
	t.values = (const char *const *)values;
	expected_build(fx, &t, &e);
	write_table(fx, &t, 7, 0, &info);
	seg = open_ok(fx, info.id, BINDING);
	check_full(seg, SEGMENT_MASKED, &e.masked, &k);
	check_full(seg, SEGMENT_PLAIN, &e.plain, &k);
	buf = malloc(e.plain.len + e.masked.len);
	assert_non_null(buf);
	for (i = 0; i < 5000; i++) {
		view = i % 2 ? SEGMENT_PLAIN : SEGMENT_MASKED;
		want = view == SEGMENT_PLAIN ? &e.plain : &e.masked;
		off = randombytes_uniform((uint32_t)want->len);
		len = 1 + randombytes_uniform(i % 3 ? 300 : (uint32_t)want->len);
		if (len > want->len - off)
			len = want->len - off;
		n = segment_read(seg, view, buf, len, off, test_key, &k, i % 4 ? cache : NULL);
		assert_int_equal(n, len);
		assert_memory_equal(buf, want->buf + off, len);
	}
	free(buf);
	segment_close(seg);
	segment_cache_free(cache);
	expected_release(&e);
	for (i = 0; i < nrows * ncols; i++)
		free(values[i]);
	free(values);
}

static void test_cache(void **state)
{
	struct fixture *fx = *state;
	struct keyctx k = {.key = fx->data_key, .id = KEY_ID};
	struct segment_cache *cache = segment_cache_new();
	struct segment_info info;
	struct expected e;
	struct segment *seg;
	char buf[8];
	int calls;

	assert_non_null(cache);
	expected_build(fx, &people, &e);
	write_table(fx, &people, 3, 0, &info);
	seg = open_ok(fx, info.id, BINDING);
	assert_int_equal(
	    segment_read(seg, SEGMENT_PLAIN, buf, 4, e.header_len, test_key, &k, cache), 4);
	calls = k.calls;
	assert_true(calls > 0);
	/* The same group again comes from the cache: no key, no chunk. */
	assert_int_equal(
	    segment_read(seg, SEGMENT_PLAIN, buf, 4, e.header_len + 5, test_key, &k, cache), 4);
	assert_int_equal(k.calls, calls);
	assert_memory_equal(buf, e.plain.buf + e.header_len + 5, 4);
	/* Another group is decoded, under the key the cache kept. */
	assert_int_equal(
	    segment_read(seg, SEGMENT_PLAIN, buf, 4, e.plain.len - 4, test_key, &k, cache), 4);
	assert_int_equal(k.calls, calls);
	assert_memory_equal(buf, e.plain.buf + e.plain.len - 4, 4);
	/* The masked view needs no key at all. */
	calls = k.calls;
	assert_int_equal(
	    segment_read(seg, SEGMENT_MASKED, buf, 8, e.header_len, test_key, &k, cache), 8);
	assert_int_equal(k.calls, calls);
	segment_close(seg);
	segment_cache_free(cache);
	expected_release(&e);
}

/* The blob's bytes, for making damaged copies. */
static char *blob_bytes(const struct fixture *fx, const char *id, size_t *len)
{
	struct store_blob *b;
	char *buf;

	assert_int_equal(store_blob_open(fx->st, id, &b), 0);
	*len = store_blob_size(b);
	buf = malloc(*len);
	assert_non_null(buf);
	assert_int_equal(store_blob_pread(b, buf, *len, 0), *len);
	store_blob_close(b);
	return buf;
}

static void put_blob(const struct fixture *fx, const void *data, size_t len,
		     char id[STORE_ID_HEX + 1])
{
	struct store_writer *w;

	assert_int_equal(store_writer_open(fx->st, &w), 0);
	assert_int_equal(store_writer_write(w, data, len), 0);
	assert_int_equal(store_writer_commit(w, id), 0);
}

static void test_tampered_chunk(void **state)
{
	struct fixture *fx = *state;
	struct keyctx k = {.key = fx->data_key, .id = KEY_ID};
	struct segment_info info;
	struct expected e;
	struct segment *seg;
	char id[STORE_ID_HEX + 1], *bytes, *buf;
	size_t len, chunk, g0_masked, g0_plain, at[3], i;

	expected_build(fx, &people, &e);
	write_table(fx, &people, 3, 0, &info);
	bytes = blob_bytes(fx, info.id, &len);
	buf = malloc(e.plain.len);
	assert_non_null(buf);
	g0_masked = e.row_masked[0] + e.row_masked[1] + e.row_masked[2];
	g0_plain = e.row_plain[0] + e.row_plain[1] + e.row_plain[2];
	/* The first chunk of group 0 follows its masked bytes. */
	chunk = HEAD + e.header_len + g0_masked;
	at[0] = chunk + SEAL_HEADER + 3; /* ciphertext */
	at[1] = chunk + 1;		 /* key id */
	at[2] = chunk + SEAL_HEADER - 1; /* nonce */
	for (i = 0; i < 3; i++) {
		bytes[at[i]] ^= 0x20;
		put_blob(fx, bytes, len, id);
		bytes[at[i]] ^= 0x20;
		seg = open_ok(fx, id, BINDING);
		/* The masked view does not depend on chunks. */
		check_full(seg, SEGMENT_MASKED, &e.masked, &k);
		/* The header line needs no chunk either. */
		assert_int_equal(
		    segment_read(seg, SEGMENT_PLAIN, buf, e.header_len, 0, test_key, &k, NULL),
		    e.header_len);
		/* Group 0, alone or as part of a longer read: nothing partial. */
		assert_int_equal(
		    segment_read(seg, SEGMENT_PLAIN, buf, 1, e.header_len, test_key, &k, NULL),
		    -EIO);
		assert_int_equal(
		    segment_read(seg, SEGMENT_PLAIN, buf, e.plain.len, 0, test_key, &k, NULL),
		    -EIO);
		/* Group 1 is fine. */
		assert_int_equal(segment_read(seg, SEGMENT_PLAIN, buf, 10, e.header_len + g0_plain,
					      test_key, &k, NULL),
				 10);
		assert_memory_equal(buf, e.plain.buf + e.header_len + g0_plain, 10);
		segment_close(seg);
	}
	free(bytes);
	free(buf);
	expected_release(&e);
}

static uint32_t le32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

static uint64_t le64(const char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Where the sealed chunk of group g lies in a segment of format 2 with PII, from its index. */
static void chunk_of(const char *bytes, size_t len, size_t g, size_t *off, size_t *clen)
{
	const char *ix = bytes + le64(bytes + len - TRAILER);
	uint32_t ncolumns = le32(ix + 16), i;

	ix += 20;
	for (i = 0; i < ncolumns; i++)
		ix += 2 + (unsigned char)ix[0] + (unsigned char)ix[1] * 256 + 2;
	/* header line length and CRC, rows, both views' sizes, number of groups */
	ix += 8 + 4 * 8;
	ix += g * (24 + 16) + 24;
	*off = (size_t)le64(ix);
	*clen = (size_t)le64(ix + 8);
}

/*
 * Chunks that authenticate but whose cell records are wrong (what a bug or a holder of the key
 * could produce) must not be spliced: -EIO. The chunk is opened and resealed with the key and the
 * associated data described in segment_format.h, keeping its length so that the index still fits.
 */
static void test_forged_cells(void **state)
{
	struct fixture *fx = *state;
	struct keyctx k = {.key = fx->data_key, .id = KEY_ID};
	struct segment_info info;
	struct expected e;
	struct segment *seg;
	struct strbuf ad, pt, orig, sealed;
	char id[STORE_ID_HEX + 1], *bytes, *buf;
	size_t len, chunk, chunk_len, rec[16], nrec = 0, at, i;
	uint8_t group[8] = {0};

	expected_build(fx, &people, &e);
	write_table(fx, &people, 3, 0, &info);
	bytes = blob_bytes(fx, info.id, &len);
	buf = malloc(e.plain.len);
	assert_non_null(buf);
	chunk_of(bytes, len, 0, &chunk, &chunk_len);
	/* One chunk for all PII columns, right after the group's masked bytes. */
	assert_int_equal(chunk,
			 HEAD + e.header_len + e.row_masked[0] + e.row_masked[1] + e.row_masked[2]);
	strbuf_init(&ad);
	strbuf_init(&pt);
	strbuf_init(&orig);
	strbuf_init(&sealed);
	strbuf_addstr(&ad, BINDING "/");
	strbuf_add(&ad, "", 1);
	strbuf_add(&ad, bytes + 8, 16);
	strbuf_add(&ad, group, sizeof(group));
	assert_int_equal(seal_open(fx->data_key, ad.buf, ad.len, bytes + chunk, chunk_len, &pt), 0);
	/* The records are what segment_format.h describes; every varint here takes one byte. */
	for (at = 0; at < pt.len; at += 3 + (unsigned char)pt.buf[at + 2]) {
		assert_true(nrec < 16);
		assert_true(((unsigned char)pt.buf[at] | (unsigned char)pt.buf[at + 1] |
			     (unsigned char)pt.buf[at + 2]) < 0x80);
		rec[nrec++] = at;
	}
	assert_int_equal(at, pt.len);
	/* row 1: email, name, card, secret; row 2: email, name, secret; row 3: none */
	assert_int_equal(nrec, 7);
	assert_int_equal(pt.buf[0], strlen("1,"));
	assert_int_equal(pt.buf[1], 20);
	assert_int_equal(pt.buf[2], 15);
	assert_memory_equal(pt.buf + 3, "ann@example.com", 15);
	assert_int_equal(pt.buf[rec[1]], 1);	 /* the comma after the token */
	assert_int_equal(pt.buf[rec[3] + 1], 0); /* secret: masked to nothing */
	assert_true(e.row_masked[0] + e.row_masked[1] + e.row_masked[2] < 0x7f - 20);
	strbuf_add(&orig, pt.buf, pt.len);

	for (i = 0; i < 4; i++) {
		memcpy(pt.buf, orig.buf, orig.len);
		switch (i) {
		case 0: /* beyond the masked bytes */
			pt.buf[rec[0]] = 0x7f;
			break;
		case 1: /* running into the next cell and past the masked bytes */
			pt.buf[rec[0] + 1] = 0x7f;
			break;
		case 2: /* a record running past the end */
			pt.buf[rec[nrec - 1] + 2]++;
			break;
		case 3: /* two cells at one position, after a field masked to nothing */
			pt.buf[rec[4]] = 0;
			break;
		}
		strbuf_reset(&sealed);
		assert_int_equal(
		    seal_chunk(fx->data_key, KEY_ID, ad.buf, ad.len, pt.buf, pt.len, &sealed), 0);
		assert_int_equal(sealed.len, chunk_len);
		memcpy(bytes + chunk, sealed.buf, sealed.len);
		put_blob(fx, bytes, len, id);
		seg = open_ok(fx, id, BINDING);
		assert_int_equal(
		    segment_read(seg, SEGMENT_PLAIN, buf, 1, e.header_len, test_key, &k, NULL),
		    -EIO);
		segment_close(seg);
	}
	strbuf_release_secure(&pt);
	strbuf_release_secure(&orig);
	strbuf_release(&ad);
	strbuf_release(&sealed);
	free(bytes);
	free(buf);
	expected_release(&e);
}

/*
 * Segments of format 1 (a sealed chunk per PII column) stay in stores and must read as they
 * did: both views at every offset, and a damaged chunk refused.
 */
static void test_format1(void **state)
{
	struct fixture *fx = *state;
	uint8_t key[32];
	struct keyctx k = {.key = key, .id = 7};
	struct strbuf masked, plain;
	struct segment *seg;
	char id[STORE_ID_HEX + 1], *bytes, buf[256];
	size_t i, at;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 0x11 + 1);
	strbuf_init(&masked);
	strbuf_init(&plain);
	strbuf_addstr(&plain, "id,email,note,name\n"
			      "1,ann@example.com,\"a, \"\"quoted\"\" note\",Ann Lee\n"
			      "2,,plain,Bo\n"
			      "3,cy@example.org,,Cy Dee\n"
			      "4,dee@example.net,x,\"Dee\nEl\"\n"
			      "5,e@example.com,last,\n");
	strbuf_addstr(&masked, "id,email,note,name\n"
			       "1,tok_5955567ed445e0ac,\"a, \"\"quoted\"\" note\",REDACTED\n"
			       "2,,plain,REDACTED\n"
			       "3,tok_cd8ccd5bcd36f8f6,,REDACTED\n"
			       "4,tok_ef97f59e5bf44ca4,x,REDACTED\n"
			       "5,tok_cc379d55150b9892,last,\n");
	assert_int_equal(segment_format1[4], 1);
	put_blob(fx, segment_format1, sizeof(segment_format1), id);
	seg = open_ok(fx, id, "sales/orders/customers");
	assert_true(segment_has_pii(seg));
	assert_int_equal(segment_rows(seg), 5);
	check_full(seg, SEGMENT_MASKED, &masked, &k);
	check_full(seg, SEGMENT_PLAIN, &plain, &k);
	check_every_slice(seg, SEGMENT_PLAIN, &plain, &k);
	check_every_slice(seg, SEGMENT_MASKED, &masked, &k);
	segment_close(seg);
	/* The second chunk (delivery "name") of group 0 lies after the first; damage it. */
	bytes = malloc(sizeof(segment_format1));
	assert_non_null(bytes);
	memcpy(bytes, segment_format1, sizeof(segment_format1));
	at = HEAD + strlen("id,email,note,name\n") +
	     strlen(
		 "1,tok_5955567ed445e0ac,\"a, \"\"quoted\"\" note\",REDACTED\n2,,plain,REDACTED\n");
	assert_int_equal(bytes[at], 1); /* the first chunk's format byte */
	bytes[at + 0x60] ^= 1;
	put_blob(fx, bytes, sizeof(segment_format1), id);
	seg = open_ok(fx, id, "sales/orders/customers");
	check_full(seg, SEGMENT_MASKED, &masked, &k);
	assert_int_equal(segment_read(seg, SEGMENT_PLAIN, buf, 10, 25, test_key, &k, NULL), -EIO);
	/* the other groups still read */
	assert_int_equal(
	    segment_read(seg, SEGMENT_PLAIN, buf, 10, plain.len - 10, test_key, &k, NULL), 10);
	assert_memory_equal(buf, plain.buf + plain.len - 10, 10);
	segment_close(seg);
	free(bytes);
	strbuf_release(&masked);
	strbuf_release_secure(&plain);
}

static void test_wrong_binding_and_key(void **state)
{
	struct fixture *fx = *state;
	struct keyctx k = {.key = fx->data_key, .id = KEY_ID};
	struct keyctx other = {.key = fx->mask_key, .id = KEY_ID};
	struct keyctx unknown = {.key = fx->data_key, .id = KEY_ID + 1};
	struct segment_info info;
	struct expected e;
	struct segment *seg;
	char buf[64];

	expected_build(fx, &people, &e);
	write_table(fx, &people, 3, 0, &info);
	seg = open_ok(fx, info.id, "sales/orders/other");
	check_full(seg, SEGMENT_MASKED, &e.masked, &k);
	assert_int_equal(
	    segment_read(seg, SEGMENT_PLAIN, buf, 10, e.header_len, test_key, &k, NULL), -EIO);
	segment_close(seg);

	seg = open_ok(fx, info.id, BINDING);
	assert_int_equal(
	    segment_read(seg, SEGMENT_PLAIN, buf, 10, e.header_len, test_key, &other, NULL), -EIO);
	assert_int_equal(
	    segment_read(seg, SEGMENT_PLAIN, buf, 10, e.header_len, test_key, &unknown, NULL),
	    -EIO);
	assert_int_equal(
	    segment_read(seg, SEGMENT_PLAIN, buf, 10, e.header_len, test_key, &k, NULL), 10);
	assert_memory_equal(buf, e.plain.buf + e.header_len, 10);
	segment_close(seg);
	expected_release(&e);
}

static void expect_bad(const struct fixture *fx, const void *data, size_t len)
{
	struct segment *seg = NULL;
	struct mfs_error err;
	char id[STORE_ID_HEX + 1];

	put_blob(fx, data, len, id);
	mfs_error_clear(&err);
	assert_int_equal(segment_open(&seg, fx->st, id, BINDING, &err), -EIO);
	assert_null(seg);
	assert_non_null(strstr(err.msg, "not a well-formed segment"));
}

static void test_bad_blobs(void **state)
{
	struct fixture *fx = *state;
	struct segment_info info;
	struct segment *seg = NULL;
	struct mfs_error err;
	char *bytes, junk[512];
	size_t len, cut[] = {0, 1, 23, 24, 47, 48, 100}, i;
	size_t flip[] = {0, 3, 4, 5, 6, 7, 8, 23};

	write_table(fx, &people, 3, 0, &info);
	bytes = blob_bytes(fx, info.id, &len);
	for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++)
		expect_bad(fx, bytes, cut[i]);
	expect_bad(fx, bytes, len / 2);
	expect_bad(fx, bytes, len - 1);
	expect_bad(fx, bytes + 1, len - 1);
	/* The file header, the trailer. */
	for (i = 0; i < sizeof(flip) / sizeof(flip[0]); i++) {
		bytes[flip[i]] ^= 1;
		expect_bad(fx, bytes, len);
		bytes[flip[i]] ^= 1;
	}
	for (i = len - TRAILER; i < len; i++) {
		bytes[i] ^= 0x40;
		expect_bad(fx, bytes, len);
		bytes[i] ^= 0x40;
	}
	randombytes_buf(junk, sizeof(junk));
	expect_bad(fx, junk, sizeof(junk));
	/* Right magic at both ends, garbage between. */
	memcpy(junk, bytes, HEAD);
	memcpy(junk + sizeof(junk) - TRAILER, bytes + len - TRAILER, TRAILER);
	expect_bad(fx, junk, sizeof(junk));
	free(bytes);

	mfs_error_clear(&err);
	assert_int_equal(
	    segment_open(&seg, fx->st,
			 "0000000000000000000000000000000000000000000000000000000000000000",
			 BINDING, &err),
	    -ENOENT);
	assert_null(seg);
}

/* The offset of the index, from the trailer. */
static size_t index_offset(const char *bytes, size_t len)
{
	size_t off = 0, i;

	for (i = 0; i < 8; i++)
		off |= (size_t)(unsigned char)bytes[len - TRAILER + i] << (8 * i);
	assert_true(off >= HEAD && off < len - TRAILER);
	return off;
}

/*
 * Any single damaged byte of the index, even one that would parse (a letter of a column name, a
 * mask kind, a group's CRC): the index's CRC no longer matches and the segment does not open.
 */
static void test_damaged_index(void **state)
{
	struct fixture *fx = *state;
	struct segment_info info;
	char *bytes;
	size_t len, index_off, i;

	write_table(fx, &people, 3, 0, &info);
	bytes = blob_bytes(fx, info.id, &len);
	index_off = index_offset(bytes, len);
	for (i = index_off; i < len - TRAILER; i++) {
		bytes[i] ^= 0x01;
		expect_bad(fx, bytes, len);
		bytes[i] ^= 0x01;
	}
	free(bytes);
}

/* Any damaged byte of the header line: the segment does not open. */
static void test_damaged_header(void **state)
{
	struct fixture *fx = *state;
	struct segment_info info;
	struct segment *seg = NULL;
	struct mfs_error err;
	struct expected e;
	char id[STORE_ID_HEX + 1], *bytes;
	size_t len, i;

	expected_build(fx, &people, &e);
	write_table(fx, &people, 3, 0, &info);
	bytes = blob_bytes(fx, info.id, &len);
	assert_memory_equal(bytes + HEAD, e.masked.buf, e.header_len);
	for (i = 0; i < e.header_len; i++) {
		bytes[HEAD + i] ^= 0x08;
		expect_bad(fx, bytes, len);
		bytes[HEAD + i] ^= 0x08;
	}
	/* The message says what is wrong. */
	bytes[HEAD + 1] ^= 0x08;
	put_blob(fx, bytes, len, id);
	mfs_error_clear(&err);
	assert_int_equal(segment_open(&seg, fx->st, id, BINDING, &err), -EIO);
	assert_non_null(strstr(err.msg, "header line"));
	free(bytes);
	expected_release(&e);
}

/*
 * A flipped byte in a group's masked bytes: every read touching that group fails with -EIO in
 * both views, with a cache or without, whichever comes first on an open segment, and keeps
 * failing; the header line and the other groups read as before.
 */
static void test_damaged_group(void **state)
{
	struct fixture *fx = *state;
	struct keyctx k = {.key = fx->data_key, .id = KEY_ID};
	struct segment_cache *cache = segment_cache_new();
	struct segment_info info;
	struct expected e;
	struct segment *seg;
	char id[STORE_ID_HEX + 1], *bytes, *buf, *at;
	size_t len, m1, m2, p1, p2, g1, first;
	int round;

	assert_non_null(cache);
	expected_build(fx, &people, &e);
	write_table(fx, &people, 3, 0, &info);
	bytes = blob_bytes(fx, info.id, &len);
	buf = malloc(e.plain.len + 1);
	assert_non_null(buf);
	/* Group 1 is rows 3 to 5: [m1, m2) of the masked view, [p1, p2) of the plain one. */
	m1 = e.header_len + e.row_masked[0] + e.row_masked[1] + e.row_masked[2];
	g1 = e.row_masked[3] + e.row_masked[4] + e.row_masked[5];
	m2 = m1 + g1;
	p1 = e.header_len + e.row_plain[0] + e.row_plain[1] + e.row_plain[2];
	p2 = p1 + e.row_plain[3] + e.row_plain[4] + e.row_plain[5];
	at = memmem(bytes, len, e.masked.buf + m1, g1);
	assert_non_null(at);
	at[g1 / 2] ^= 0x04;
	put_blob(fx, bytes, len, id);

	/* Each round starts on a fresh open with a different kind of read. */
	for (round = 0; round < 3; round++) {
		seg = open_ok(fx, id, BINDING);
		switch (round) {
		case 0:
			first = segment_read(seg, SEGMENT_MASKED, buf, 1, m1, test_key, &k, NULL);
			break;
		case 1:
			first = segment_read(seg, SEGMENT_PLAIN, buf, 1, p1, test_key, &k, cache);
			break;
		default:
			first = segment_read(seg, SEGMENT_MASKED, buf, 1, m1, test_key, &k, cache);
			break;
		}
		assert_int_equal(first, -EIO);
		/* Any read touching group 1, in any view, again and again. */
		assert_int_equal(
		    segment_read(seg, SEGMENT_MASKED, buf, 1, m2 - 1, test_key, &k, NULL), -EIO);
		assert_int_equal(
		    segment_read(seg, SEGMENT_MASKED, buf, 6, m1 - 3, test_key, &k, NULL), -EIO);
		assert_int_equal(
		    segment_read(seg, SEGMENT_MASKED, buf, e.masked.len, 0, test_key, &k, NULL),
		    -EIO);
		assert_int_equal(
		    segment_read(seg, SEGMENT_PLAIN, buf, p2 - p1, p1, test_key, &k, cache), -EIO);
		assert_int_equal(
		    segment_read(seg, SEGMENT_PLAIN, buf, e.plain.len, 0, test_key, &k, NULL),
		    -EIO);
		assert_int_equal(
		    segment_read(seg, SEGMENT_MASKED, buf, 2, m1 + 1, test_key, &k, cache), -EIO);
		assert_int_equal(segment_read(seg, SEGMENT_MASKED, buf, 1, m1, test_key, &k, NULL),
				 -EIO);
		/* Everything else reads as it should. */
		assert_int_equal(segment_read(seg, SEGMENT_MASKED, buf, m1, 0, test_key, &k, NULL),
				 m1);
		assert_memory_equal(buf, e.masked.buf, m1);
		assert_int_equal(
		    segment_read(seg, SEGMENT_MASKED, buf, e.masked.len, m2, test_key, &k, cache),
		    e.masked.len - m2);
		assert_memory_equal(buf, e.masked.buf + m2, e.masked.len - m2);
		assert_int_equal(segment_read(seg, SEGMENT_PLAIN, buf, p1, 0, test_key, &k, cache),
				 p1);
		assert_memory_equal(buf, e.plain.buf, p1);
		assert_int_equal(
		    segment_read(seg, SEGMENT_PLAIN, buf, e.plain.len, p2, test_key, &k, NULL),
		    e.plain.len - p2);
		assert_memory_equal(buf, e.plain.buf + p2, e.plain.len - p2);
		segment_close(seg);
	}
	free(bytes);
	free(buf);
	segment_cache_free(cache);
	expected_release(&e);
}

/* The same without PII: the plain view is the masked bytes, checked the same way. */
static void test_damaged_group_no_pii(void **state)
{
	static const struct segment_column cols[] = {{.name = "sku"}, {.name = "label"}};
	static const char *const values[] = {"a1", "plain", "b2", "with,comma", "c3", "last"};
	const struct table t = {.columns = cols, .ncolumns = 2, .values = values, .nrows = 3};
	struct fixture *fx = *state;
	struct segment_info info;
	struct expected e;
	struct segment *seg;
	char id[STORE_ID_HEX + 1], *bytes, buf[64], *at;
	size_t len, m1;

	expected_build(fx, &t, &e);
	write_table(fx, &t, 1, 0, &info);
	bytes = blob_bytes(fx, info.id, &len);
	m1 = e.header_len + e.row_masked[0];
	at = memmem(bytes, len, e.masked.buf + m1, e.row_masked[1]);
	assert_non_null(at);
	at[0] ^= 0x20;
	put_blob(fx, bytes, len, id);
	seg = open_ok(fx, id, BINDING);
	assert_int_equal(segment_read(seg, SEGMENT_PLAIN, buf, 1, m1, NULL, NULL, NULL), -EIO);
	assert_int_equal(segment_read(seg, SEGMENT_MASKED, buf, 2, m1 - 1, NULL, NULL, NULL), -EIO);
	assert_int_equal(segment_read(seg, SEGMENT_PLAIN, buf, m1, 0, NULL, NULL, NULL), m1);
	assert_memory_equal(buf, e.plain.buf, m1);
	assert_int_equal(segment_read(seg, SEGMENT_PLAIN, buf, sizeof(buf), m1 + e.row_masked[1],
				      NULL, NULL, NULL),
			 e.row_masked[2]);
	assert_memory_equal(buf, e.plain.buf + m1 + e.row_masked[1], e.row_masked[2]);
	segment_close(seg);
	free(bytes);
	expected_release(&e);
}

/* Damages one byte of blob id in place, as a failing disk would under an open segment. */
static void damage_in_place(const struct fixture *fx, const char *id, size_t off)
{
	char path[sizeof(fx->dir) + STORE_ID_HEX + 3];
	unsigned char c;
	int fd;

	snprintf(path, sizeof(path), "%s/%.2s/%.*s", fx->dir, id, STORE_ID_HEX - 2, id + 2);
	assert_int_equal(chmod(path, 0600), 0);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
	c ^= 0x10;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)off), 1);
	assert_int_equal(close(fd), 0);
}

/*
 * A segment opened and read, then damaged on disk under it: the next read of that range fails
 * with -EIO in either view, as a fresh open does, though the group read whole before (issue 13:
 * it was checked once per open segment and then served as it was). A cache that read the group
 * before the damage still serves what it checked then.
 */
static void test_damaged_after_read(void **state)
{
	struct fixture *fx = *state;
	struct keyctx k = {.key = fx->data_key, .id = KEY_ID};
	struct segment_cache *cache = segment_cache_new();
	struct segment_info info;
	struct expected e;
	struct segment *seg, *fresh;
	char *bytes, *buf;
	size_t len, m1, p1;

	assert_non_null(cache);
	expected_build(fx, &people, &e);
	buf = malloc(e.plain.len);
	assert_non_null(buf);
	write_table(fx, &people, 3, 0, &info);
	bytes = blob_bytes(fx, info.id, &len);
	m1 = e.header_len + e.row_masked[0] + e.row_masked[1] + e.row_masked[2];
	p1 = e.header_len + e.row_plain[0] + e.row_plain[1] + e.row_plain[2];
	seg = open_ok(fx, info.id, BINDING);
	assert_int_equal(segment_read(seg, SEGMENT_MASKED, buf, 4, m1, test_key, &k, NULL), 4);
	assert_int_equal(segment_read(seg, SEGMENT_PLAIN, buf, 4, p1, test_key, &k, NULL), 4);
	assert_int_equal(segment_read(seg, SEGMENT_PLAIN, buf, 4, p1, test_key, &k, cache), 4);
	assert_memory_equal(buf, e.plain.buf + p1, 4);
	/* The group's first byte, "4" of row 3, changes on disk under the open segment. */
	damage_in_place(
	    fx, info.id,
	    (size_t)((char *)memmem(bytes, len, e.masked.buf + m1, e.row_masked[3]) - bytes));
	assert_int_equal(segment_read(seg, SEGMENT_MASKED, buf, 4, m1, test_key, &k, NULL), -EIO);
	assert_int_equal(segment_read(seg, SEGMENT_MASKED, buf, 1, m1 + 2, test_key, &k, NULL),
			 -EIO);
	assert_int_equal(segment_read(seg, SEGMENT_PLAIN, buf, 4, p1, test_key, &k, NULL), -EIO);
	assert_int_equal(
	    segment_read(seg, SEGMENT_MASKED, buf, e.masked.len, 0, test_key, &k, NULL), -EIO);
	/* Bytes checked before the damage, held in memory, are still the true ones. */
	assert_int_equal(segment_read(seg, SEGMENT_PLAIN, buf, 4, p1, test_key, &k, cache), 4);
	assert_memory_equal(buf, e.plain.buf + p1, 4);
	/* The groups around it still read. */
	assert_int_equal(segment_read(seg, SEGMENT_MASKED, buf, 4, m1 - 4, test_key, &k, NULL), 4);
	assert_memory_equal(buf, e.masked.buf + m1 - 4, 4);
	fresh = open_ok(fx, info.id, BINDING);
	assert_int_equal(segment_read(fresh, SEGMENT_MASKED, buf, 4, m1, test_key, &k, NULL), -EIO);
	segment_close(fresh);
	segment_close(seg);
	segment_cache_free(cache);
	free(buf);
	free(bytes);
	expected_release(&e);
}

/* One reader thread of test_threads: its own cache, the segment and the truth shared. */
struct reader {
	struct segment *seg;
	const struct expected *e;
	struct keyctx k;
	uint64_t bad[2][2]; /* per view: the damaged group's [start, end) */
	int failures;	    /* reads that did not give what they should */
};

static void *reader_thread(void *arg)
{
	struct reader *r = arg;
	struct segment_cache *cache = segment_cache_new();
	const struct strbuf *want;
	size_t i, off, len, v;
	char *buf;
	ssize_t n, expect;

	buf = malloc(r->e->plain.len + r->e->masked.len);
	if (!cache || !buf) {
		r->failures++;
		goto out;
	}
	for (i = 0; i < 3000; i++) {
		v = i % 2;
		want = v == SEGMENT_PLAIN ? &r->e->plain : &r->e->masked;
		off = randombytes_uniform((uint32_t)want->len);
		len = 1 + randombytes_uniform(i % 5 ? 2000 : (uint32_t)want->len);
		if (len > want->len - off)
			len = want->len - off;
		expect = off < r->bad[v][1] && off + len > r->bad[v][0] ? -EIO : (ssize_t)len;
		n = segment_read(r->seg, (enum segment_view)v, buf, len, off, test_key, &r->k,
				 i % 4 < 2 ? cache : NULL);
		if (n != expect || (n > 0 && memcmp(buf, want->buf + off, len)))
			r->failures++;
	}
out:
	segment_cache_free(cache);
	free(buf);
	return NULL;
}

/*
 * Many threads reading one open segment at once, each with its own cache, in both views, as
 * the FUSE daemon does: a damaged group gives -EIO to every reader and never a wrong byte, the
 * others read exactly.
 */
static void test_threads(void **state)
{
	struct fixture *fx = *state;
	const size_t nrows = 2000, group_rows = 7, damaged = 150;
	char **values = calloc(nrows * 6, sizeof(char *));
	struct table t = {.columns = people_columns, .ncolumns = 6, .nrows = nrows};
	struct segment_info info;
	struct reader r[6];
	pthread_t th[6];
	struct expected e;
	struct segment *seg;
	char id[STORE_ID_HEX + 1], *bytes, *at;
	size_t len, i, v, row;
	uint64_t bad[2][2];

	assert_non_null(values);
	for (i = 0; i < nrows; i++) {
		assert_true(asprintf(&values[i * 6], "%zu", i) > 0);
		assert_true(asprintf(&values[i * 6 + 1], "user%zu@example.com", i) > 0);
		assert_true(asprintf(&values[i * 6 + 2], "Name %zu", i) > 0);
		values[i * 6 + 3] = strdup(i % 3 ? "Paris" : "a,b");
		values[i * 6 + 4] = strdup(i % 2 ? "4111111111111111" : "");
		assert_non_null(values[i * 6 + 3]);
		assert_non_null(values[i * 6 + 4]);
		assert_true(asprintf(&values[i * 6 + 5], "s%zu", i * 7) > 0);
	}
	t.values = (const char *const *)values;
	expected_build(fx, &t, &e);
	write_table(fx, &t, group_rows, 0, &info);
	/* Where the damaged group lies in each view. */
	for (v = 0; v < 2; v++) {
		bad[v][0] = e.header_len;
		for (row = 0; row < damaged * group_rows; row++)
			bad[v][0] += v ? e.row_plain[row] : e.row_masked[row];
		bad[v][1] = bad[v][0];
		for (; row < (damaged + 1) * group_rows; row++)
			bad[v][1] += v ? e.row_plain[row] : e.row_masked[row];
	}
	bytes = blob_bytes(fx, info.id, &len);
	at = memmem(bytes, len, e.masked.buf + bad[0][0], bad[0][1] - bad[0][0]);
	assert_non_null(at);
	at[3] ^= 0x01;
	put_blob(fx, bytes, len, id);
	seg = open_ok(fx, id, BINDING);
	for (i = 0; i < 6; i++) {
		r[i] =
		    (struct reader){.seg = seg, .e = &e, .k = {.key = fx->data_key, .id = KEY_ID}};
		memcpy(r[i].bad, bad, sizeof(bad));
		assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &r[i]), 0);
	}
	for (i = 0; i < 6; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(r[i].failures, 0);
	}
	segment_close(seg);
	free(bytes);
	expected_release(&e);
	for (i = 0; i < nrows * 6; i++)
		free(values[i]);
	free(values);
}

static int count_blob(const char *id, void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

static void test_abort_and_misuse(void **state)
{
	struct fixture *fx = *state;
	struct segment_params p = {
	    .binding = BINDING,
	    .columns = people_columns,
	    .ncolumns = 6,
	    .data_key = fx->data_key,
	    .key_id = KEY_ID,
	    .mask_key = fx->mask_key,
	    .group_rows = 1,
	};
	struct csv_field f[6] = {{.data = "1", .len = 1}, {.data = "a@b.c", .len = 5},
				 {.data = "", .len = 0},  {.data = "", .len = 0},
				 {.data = "", .len = 0},  {.data = "", .len = 0}};
	struct segment_writer *w = NULL;
	struct mfs_error err;
	int count = 0;

	assert_int_equal(store_list(fx->st, count_blob, &count), 0);
	assert_int_equal(count, 0);
	mfs_error_clear(&err);
	assert_int_equal(segment_writer_open(&w, fx->st, &p, &err), 0);
	assert_int_equal(segment_writer_add(w, f, 6), 0);
	assert_int_equal(segment_writer_add(w, f, 6), 0);
	assert_int_equal(segment_writer_add(w, f, 5), -EINVAL);
	segment_writer_abort(w);
	segment_writer_abort(NULL);
	/* Nothing was left behind. */
	assert_int_equal(store_list(fx->st, count_blob, &count), 0);
	assert_int_equal(count, 0);

	/* PII without keys is refused. */
	p.data_key = NULL;
	w = NULL;
	assert_int_equal(segment_writer_open(&w, fx->st, &p, &err), -EINVAL);
	assert_null(w);
	assert_string_not_equal(err.msg, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pii_views, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_pii, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_rows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_random, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tampered_chunk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forged_cells, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_format1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_binding_and_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_blobs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damaged_index, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damaged_header, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damaged_group, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damaged_group_no_pii, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damaged_after_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_abort_and_misuse, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
