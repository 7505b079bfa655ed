/* Unit tests of upload ingest: single tables, compressed tables, archives, and their limits. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/strbuf.h"
#include "table/ingest.h"
#include "tests/unit/helpers.h"

#define MiB (1024 * 1024)

/* What goes into a test archive. */
struct member {
	const char *name;
	int type; /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFIFO; 1: a hard link to "orders.csv" */
	const char *data;
	size_t len; /* 0: strlen(data) */
};

static la_ssize_t sb_write(struct archive *a, void *ctx, const void *buf, size_t len)
{
	(void)a;
	return strbuf_add(ctx, buf, len) ? -1 : (la_ssize_t)len;
}

enum filter { F_NONE, F_GZIP, F_BZIP2, F_XZ, F_ZSTD };

/* Adds a compression filter to a writer: 0, or -1 when this libarchive cannot write it. */
static int add_filter(struct archive *w, enum filter f)
{
	switch (f) {
	case F_NONE:
		return 0;
	case F_GZIP:
		return archive_write_add_filter_gzip(w) == ARCHIVE_OK ? 0 : -1;
	case F_BZIP2:
		return archive_write_add_filter_bzip2(w) == ARCHIVE_OK ? 0 : -1;
	case F_XZ:
		return archive_write_add_filter_xz(w) == ARCHIVE_OK ? 0 : -1;
	case F_ZSTD:
		return archive_write_add_filter_zstd(w) == ARCHIVE_OK ? 0 : -1;
	}
	return -1;
}

/* Writes a tar (pax) or zip archive of members into out, compressed with f. */
static int make_archive(struct strbuf *out, int zip, enum filter f, const struct member *m,
			size_t n)
{
	struct archive *w = archive_write_new();
	struct archive_entry *e;
	size_t i, len;

	assert_non_null(w);
	if (zip)
		assert_int_equal(archive_write_set_format_zip(w), ARCHIVE_OK);
	else
		assert_int_equal(archive_write_set_format_pax_restricted(w), ARCHIVE_OK);
	if (add_filter(w, f)) {
		archive_write_free(w);
		return -1;
	}
	/* Compressors do not pad their output to a block, nor does a raw copy. */
	if (f != F_NONE)
		assert_int_equal(archive_write_set_bytes_in_last_block(w, 1), ARCHIVE_OK);
	assert_int_equal(archive_write_open(w, out, NULL, sb_write, NULL), ARCHIVE_OK);
	for (i = 0; i < n; i++) {
		e = archive_entry_new();
		archive_entry_set_pathname(e, m[i].name);
		archive_entry_set_perm(e, 0644);
		len = m[i].len ? m[i].len : m[i].data ? strlen(m[i].data) : 0;
		if (m[i].type == 1) {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, "orders.csv");
			len = 0;
		} else {
			archive_entry_set_filetype(e, (unsigned)m[i].type);
		}
		if (m[i].type == AE_IFLNK)
			archive_entry_set_symlink(e, "/etc/passwd");
		archive_entry_set_size(e, (la_int64_t)len);
		assert_int_equal(archive_write_header(w, e), ARCHIVE_OK);
		if (len)
			assert_int_equal(archive_write_data(w, m[i].data, len), (la_ssize_t)len);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(w), ARCHIVE_OK);
	archive_write_free(w);
	return 0;
}

/* Compresses len bytes of data (or of zeros when data is NULL) into out with f. */
static int compress_raw(struct strbuf *out, enum filter f, const char *data, size_t len)
{
	static const char zeros[1 << 16];
	struct archive *w = archive_write_new();
	struct archive_entry *e;
	size_t done, n;

	assert_non_null(w);
	assert_int_equal(archive_write_set_format_raw(w), ARCHIVE_OK);
	if (add_filter(w, f)) {
		archive_write_free(w);
		return -1;
	}
	assert_int_equal(archive_write_set_bytes_in_last_block(w, 1), ARCHIVE_OK);
	assert_int_equal(archive_write_open(w, out, NULL, sb_write, NULL), ARCHIVE_OK);
	e = archive_entry_new();
	archive_entry_set_pathname(e, "data");
	archive_entry_set_filetype(e, AE_IFREG);
	assert_int_equal(archive_write_header(w, e), ARCHIVE_OK);
	for (done = 0; done < len; done += n) {
		n = len - done > sizeof(zeros) ? sizeof(zeros) : len - done;
		assert_int_equal(archive_write_data(w, data ? data + done : zeros, n),
				 (la_ssize_t)n);
	}
	archive_entry_free(e);
	assert_int_equal(archive_write_close(w), ARCHIVE_OK);
	archive_write_free(w);
	return 0;
}

static const char *format_name(enum ingest_format f)
{
	switch (f) {
	case INGEST_CSV:
		return "csv";
	case INGEST_JSONL:
		return "jsonl";
	case INGEST_CONTRACT:
		return "contract";
	}
	return "?";
}

/*
 * Reads every entry of an upload, pulling it in reads of at most step bytes from the source and
 * reading entries in buffers of 1 to 7 bytes in turn (so that every path through ingest_read is
 * taken), and describes it: "NAME TABLE FORMAT LEN:CONTENT" per entry, then "end" or
 * "error RC MESSAGE".
 */
static char *ingest_all(const char *name, const char *data, size_t len, size_t step,
			const struct ingest_limits *lim)
{
	struct mem_source m = {.data = data, .len = len, .step = step};
	struct ingest_entry entry;
	struct mfs_error err;
	struct ingest *in;
	struct strbuf out, content;
	char buf[8];
	ssize_t n;
	size_t k = 0;
	int rc;

	strbuf_init(&out);
	strbuf_init(&content);
	mfs_error_clear(&err);
	rc = ingest_open(&in, name, mem_read, &m, lim, &err);
	if (rc) {
		assert_null(in);
		strbuf_addf(&out, "error %d %s", rc, err.msg);
		return strbuf_detach(&out, NULL);
	}
	while ((rc = ingest_next(in, &entry, &err)) == 1) {
		strbuf_reset(&content);
		while ((n = ingest_read(in, buf, 1 + k++ % 7)) > 0)
			strbuf_add(&content, buf, (size_t)n);
		if (n < 0) {
			strbuf_addf(&out, "error %zd %s", n, ingest_error(in));
			/* Errors stick. */
			assert_int_equal(ingest_read(in, buf, sizeof(buf)), n);
			assert_int_equal(ingest_next(in, &entry, NULL), n);
			goto out;
		}
		strbuf_addf(&out, "%s %s %s %zu:%s\n", entry.name, entry.table,
			    format_name(entry.format), content.len, content.buf);
	}
	if (rc == 0) {
		strbuf_addstr(&out, "end");
		/* The end stays the end. */
		assert_int_equal(ingest_next(in, &entry, NULL), 0);
		assert_int_equal(ingest_read(in, buf, sizeof(buf)), 0);
	} else {
		strbuf_addf(&out, "error %d %s", rc, err.msg);
		assert_string_equal(ingest_error(in), err.msg);
	}
out:
	ingest_close(in);
	strbuf_release(&content);
	return strbuf_detach(&out, NULL);
}

/* Ingests with source reads of 1 byte, 7 bytes and any size: all must agree and give want. */
static void expect(const char *name, const struct strbuf *data, const char *want,
		   const struct ingest_limits *lim)
{
	static const size_t steps[] = {0, 1, 7};
	size_t i;
	char *got;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		got = ingest_all(name, data->buf, data->len, steps[i], lim);
		assert_string_equal(got, want);
		free(got);
	}
}

static const char orders[] = "id,amount\n1,9.50\n2,3\n";
static const char customers[] = "{\"id\":1,\"email\":\"a@example.com\"}\n";
static const char contract[] = "apiVersion: v3.0.2\nkind: DataContract\n";

static void test_name_kind(void **state)
{
	static const struct {
		const char *name;
		int kind, archive;
		const char *table;
		enum ingest_format format;
	} cases[] = {
	    {"orders.csv", 1, 0, "orders", INGEST_CSV},
	    {"orders.jsonl", 1, 0, "orders", INGEST_JSONL},
	    {"orders.csv.gz", 1, 0, "orders", INGEST_CSV},
	    {"order_lines-2.jsonl.bz2", 1, 0, "order_lines-2", INGEST_JSONL},
	    {"orders.csv.xz", 1, 0, "orders", INGEST_CSV},
	    {"orders.jsonl.zst", 1, 0, "orders", INGEST_JSONL},
	    {"batch.tar", 1, 1, "", INGEST_CSV},
	    {"batch.tar.gz", 1, 1, "", INGEST_CSV},
	    {"Batch 2024.tgz", 1, 1, "", INGEST_CSV},
	    {"b.tar.bz2", 1, 1, "", INGEST_CSV},
	    {"b.tar.xz", 1, 1, "", INGEST_CSV},
	    {"b.tar.zst", 1, 1, "", INGEST_CSV},
	    {"b.zip", 1, 1, "", INGEST_CSV},
	    {"orders.txt", 0, 0, "", INGEST_CSV},
	    {"Orders.csv", 0, 0, "", INGEST_CSV},
	    {"_orders.csv", 0, 0, "", INGEST_CSV},
	    {".orders.csv.swp", 0, 0, "", INGEST_CSV},
	    {".orders.csv", 0, 0, "", INGEST_CSV},
	    {".batch.tar", 0, 0, "", INGEST_CSV},
	    {"orders.csv~", 0, 0, "", INGEST_CSV},
	    {"orders.csv.gz.tmp", 0, 0, "", INGEST_CSV},
	    {"orders.gz", 0, 0, "", INGEST_CSV},
	    {"orders.csv.lz4", 0, 0, "", INGEST_CSV},
	    {".csv", 0, 0, "", INGEST_CSV},
	    {".tar", 0, 0, "", INGEST_CSV},
	    {"contract.yaml", 0, 0, "", INGEST_CSV},
	    {"4913", 0, 0, "", INGEST_CSV},
	    {"a/orders.csv", 0, 0, "", INGEST_CSV},
	    {"a234567890123456789012345678901234567890123456789012345678901234.csv", 0, 0, "",
	     INGEST_CSV},
	};
	char table[MESH_NAME_MAX];
	enum ingest_format format;
	size_t i;
	int archive;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		format = INGEST_CSV;
		archive = -1;
		assert_int_equal(ingest_name_kind(cases[i].name, table, &format, &archive),
				 cases[i].kind);
		assert_int_equal(archive, cases[i].archive);
		assert_string_equal(table, cases[i].table);
		assert_int_equal(format, cases[i].format);
	}
	/* The outputs are optional. */
	assert_int_equal(ingest_name_kind("orders.csv", NULL, NULL, NULL), 1);
}

static void test_single(void **state)
{
	static const enum filter filters[] = {F_NONE, F_GZIP, F_BZIP2, F_XZ, F_ZSTD};
	static const char *const suffix[] = {"", ".gz", ".bz2", ".xz", ".zst"};
	char name[64], want[256];
	struct strbuf data;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		strbuf_init(&data);
		if (compress_raw(&data, filters[i], orders, strlen(orders))) {
			printf("skipped: this libarchive cannot write %s\n", suffix[i]);
			continue;
		}
		snprintf(name, sizeof(name), "orders.csv%s", suffix[i]);
		snprintf(want, sizeof(want), "%s orders csv %zu:%s\nend", name, strlen(orders),
			 orders);
		expect(name, &data, want, NULL);
		/* Content decides: the same bytes under a plain name read the same. */
		snprintf(want, sizeof(want), "orders.csv orders csv %zu:%s\nend", strlen(orders),
			 orders);
		expect("orders.csv", &data, want, NULL);
		strbuf_release(&data);
	}
	strbuf_init(&data);
	assert_int_equal(compress_raw(&data, F_GZIP, customers, strlen(customers)), 0);
	snprintf(want, sizeof(want), "customers.jsonl.gz customers jsonl %zu:%s\nend",
		 strlen(customers), customers);
	expect("customers.jsonl.gz", &data, want, NULL);
	strbuf_release(&data);
}

static void test_empty(void **state)
{
	struct strbuf data;

	(void)state;
	strbuf_init(&data);
	expect("orders.csv", &data, "orders.csv orders csv 0:\nend", NULL);
	assert_int_equal(compress_raw(&data, F_GZIP, "", 0), 0);
	assert_true(data.len > 0);
	expect("orders.csv.gz", &data, "orders.csv.gz orders csv 0:\nend", NULL);
	strbuf_release(&data);
	/* An archive of nothing is no archive. */
	expect("batch.tar", &data,
	       "error -22 batch.tar: cannot read the archive: Unrecognized archive format", NULL);
}

static const struct member batch[] = {
    {"./", AE_IFDIR, NULL, 0},
    {"./orders.csv", AE_IFREG, orders, 0},
    {"docs/", AE_IFDIR, NULL, 0},
    {"customers.jsonl", AE_IFREG, customers, 0},
    {"contract.yaml", AE_IFREG, contract, 0},
    {"empty.csv", AE_IFREG, "", 0},
};

static void test_archives(void **state)
{
	static const struct {
		const char *name;
		int zip;
		enum filter filter;
	} kinds[] = {
	    {"batch.tar", 0, F_NONE},  {"batch.tar.gz", 0, F_GZIP},
	    {"batch.tgz", 0, F_GZIP},  {"batch.tar.bz2", 0, F_BZIP2},
	    {"batch.tar.xz", 0, F_XZ}, {"batch.tar.zst", 0, F_ZSTD},
	    {"batch.zip", 1, F_NONE},
	};
	struct strbuf data, want;
	size_t i;

	(void)state;
	strbuf_init(&want);
	strbuf_addf(&want,
		    "./orders.csv orders csv %zu:%s\n"
		    "customers.jsonl customers jsonl %zu:%s\n"
		    "contract.yaml  contract %zu:%s\n"
		    "empty.csv empty csv 0:\n"
		    "end",
		    strlen(orders), orders, strlen(customers), customers, strlen(contract),
		    contract);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		strbuf_init(&data);
		if (make_archive(&data, kinds[i].zip, kinds[i].filter, batch,
				 sizeof(batch) / sizeof(batch[0]))) {
			printf("skipped: this libarchive cannot write %s\n", kinds[i].name);
			continue;
		}
		expect(kinds[i].name, &data, want.buf, NULL);
		strbuf_release(&data);
	}
	strbuf_release(&want);
}

/* Entries left unread are skipped; the next entry reads right. */
static void test_skip_unread(void **state)
{
	struct mem_source m = {0};
	struct ingest_entry entry;
	struct mfs_error err;
	struct ingest *in;
	struct strbuf data;
	char buf[64];
	ssize_t n;

	(void)state;
	strbuf_init(&data);
	assert_int_equal(make_archive(&data, 0, F_GZIP, batch, sizeof(batch) / sizeof(batch[0])),
			 0);
	m.data = data.buf;
	m.len = data.len;
	mfs_error_clear(&err);
	assert_int_equal(ingest_open(&in, "batch.tar.gz", mem_read, &m, NULL, &err), 0);
	assert_int_equal(ingest_next(in, &entry, &err), 1);
	assert_string_equal(entry.table, "orders");
	assert_int_equal(ingest_read(in, buf, 3), 3);
	assert_int_equal(ingest_next(in, &entry, &err), 1);
	assert_string_equal(entry.table, "customers");
	assert_int_equal(ingest_next(in, &entry, &err), 1);
	assert_int_equal(entry.format, INGEST_CONTRACT);
	n = ingest_read(in, buf, sizeof(buf));
	assert_int_equal(n, strlen(contract));
	assert_memory_equal(buf, contract, (size_t)n);
	assert_int_equal(ingest_read(in, buf, sizeof(buf)), 0);
	assert_int_equal(ingest_next(in, &entry, &err), 1);
	assert_string_equal(entry.name, "empty.csv");
	assert_int_equal(ingest_next(in, &entry, &err), 0);
	assert_string_equal(ingest_error(in), "");
	ingest_close(in);
	strbuf_release(&data);
}

/* Archives holding something else than top-level tables and one contract. */
static void test_refused_entries(void **state)
{
	static const struct {
		struct member m;
		const char *error;
	} cases[] = {
	    {{"../orders.csv", AE_IFREG, orders, 0},
	     "b.tar: ../orders.csv: a path with a '..' component is not allowed in an archive"},
	    {{"a/../orders.csv", AE_IFREG, orders, 0},
	     "b.tar: a/../orders.csv: a path with a '..' component is not allowed in an archive"},
	    /* A directory's name gets a final '/'. */
	    {{"x/..", AE_IFDIR, NULL, 0},
	     "b.tar: x/../: a path with a '..' component is not allowed in an archive"},
	    {{"/orders.csv", AE_IFREG, orders, 0},
	     "b.tar: /orders.csv: an absolute path is not allowed in an archive"},
	    {{"link.csv", AE_IFLNK, NULL, 0},
	     "b.tar: link.csv: is a symbolic link: an archive must hold regular files only"},
	    {{"copy.csv", 1, NULL, 0},
	     "b.tar: copy.csv: is a hard link: an archive must hold regular files only"},
	    {{"fifo.csv", AE_IFIFO, NULL, 0},
	     "b.tar: fifo.csv: is a device, FIFO or socket: an archive must hold regular files "
	     "only"},
	    {{"inner.tar.gz", AE_IFREG, "x", 0},
	     "b.tar: inner.tar.gz: is compressed or an archive: archives and compressed files "
	     "inside an archive are not supported"},
	    {{"customers.csv.gz", AE_IFREG, "x", 0},
	     "b.tar: customers.csv.gz: is compressed or an archive: archives and compressed "
	     "files inside an archive are not supported"},
	    {{"notes.txt", AE_IFREG, "x", 0},
	     "b.tar: notes.txt: is not TABLE.csv, TABLE.jsonl or contract.yaml (TABLE made of "
	     "lowercase letters, digits, '_' and '-')"},
	    {{"Customers.csv", AE_IFREG, "x", 0},
	     "b.tar: Customers.csv: is not TABLE.csv, TABLE.jsonl or contract.yaml (TABLE made "
	     "of lowercase letters, digits, '_' and '-')"},
	    {{"sub/customers.csv", AE_IFREG, "x", 0},
	     "b.tar: sub/customers.csv: is not at the top level of the archive (directories "
	     "are not allowed)"},
	    {{"orders.jsonl", AE_IFREG, "{}", 0},
	     "b.tar: orders.jsonl: table orders is in the "
	     "archive twice"},
	    {{"./orders.csv", AE_IFREG, orders, 0},
	     "b.tar: ./orders.csv: table orders is in the archive twice"},
	    {{"contract.yaml", AE_IFREG, contract, 0},
	     "b.tar: contract.yaml: a second contract.yaml"},
	    {{"bad\n\x01name", AE_IFREG, "x", 0},
	     "b.tar: bad??name: is not TABLE.csv, TABLE.jsonl or contract.yaml (TABLE made of "
	     "lowercase letters, digits, '_' and '-')"},
	};
	struct member m[3] = {{"orders.csv", AE_IFREG, orders, 0},
			      {"contract.yaml", AE_IFREG, contract, 0}};
	char want[512], *got;
	struct strbuf data;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m[2] = cases[i].m;
		strbuf_init(&data);
		assert_int_equal(make_archive(&data, 0, F_NONE, m, 3), 0);
		snprintf(
		    want, sizeof(want),
		    "orders.csv orders csv %zu:%s\ncontract.yaml  contract %zu:%s\nerror -22 %s",
		    strlen(orders), orders, strlen(contract), contract, cases[i].error);
		got = ingest_all("b.tar", data.buf, data.len, 0, NULL);
		assert_string_equal(got, want);
		free(got);
		strbuf_release(&data);
	}
}

/* A compressed file or an archive under the name of a plain table is found by its bytes. */
static void test_nested_content(void **state)
{
	static const struct member inner[] = {{"orders.csv", AE_IFREG, orders, 0}};
	struct strbuf tar, gz, zip, outer;
	struct member m;
	char *got;

	(void)state;
	strbuf_init(&tar);
	strbuf_init(&gz);
	strbuf_init(&zip);
	strbuf_init(&outer);
	assert_int_equal(make_archive(&tar, 0, F_NONE, inner, 1), 0);
	assert_int_equal(make_archive(&zip, 1, F_NONE, inner, 1), 0);
	assert_int_equal(compress_raw(&gz, F_GZIP, orders, strlen(orders)), 0);
	/* A tar named orders.csv, bare or gzipped. */
	expect("orders.csv", &tar,
	       "error -22 orders.csv: holds tar data, not a table: name an archive .tar, .tar.gz, "
	       ".zip and so on, and a compressed table TABLE.csv.gz and so on",
	       NULL);
	strbuf_reset(&gz);
	assert_int_equal(compress_raw(&gz, F_GZIP, tar.buf, tar.len), 0);
	expect("orders.csv.gz", &gz,
	       "error -22 orders.csv.gz: holds tar data, not a table: name an archive .tar, "
	       ".tar.gz, .zip and so on, and a compressed table TABLE.csv.gz and so on",
	       NULL);
	expect("orders.csv", &zip,
	       "error -22 orders.csv: holds zip data, not a table: name an archive .tar, .tar.gz, "
	       ".zip and so on, and a compressed table TABLE.csv.gz and so on",
	       NULL);
	/* Inside an archive, under a table's name: gzip, bzip2, a tar. */
	strbuf_reset(&gz);
	assert_int_equal(compress_raw(&gz, F_GZIP, orders, strlen(orders)), 0);
	m = (struct member){"orders.csv", AE_IFREG, gz.buf, gz.len};
	assert_int_equal(make_archive(&outer, 0, F_NONE, &m, 1), 0);
	got = ingest_all("b.tar", outer.buf, outer.len, 0, NULL);
	assert_string_equal(got, "error -22 b.tar: orders.csv: holds gzip data: archives and "
				 "compressed files inside an archive are not supported");
	free(got);
	strbuf_reset(&gz);
	assert_int_equal(compress_raw(&gz, F_BZIP2, orders, strlen(orders)), 0);
	m = (struct member){"orders.csv", AE_IFREG, gz.buf, gz.len};
	strbuf_reset(&outer);
	assert_int_equal(make_archive(&outer, 1, F_NONE, &m, 1), 0);
	got = ingest_all("b.zip", outer.buf, outer.len, 0, NULL);
	assert_string_equal(got, "error -22 b.zip: orders.csv: holds bzip2 data: archives and "
				 "compressed files inside an archive are not supported");
	free(got);
	strbuf_reset(&gz);
	assert_int_equal(compress_raw(&gz, F_XZ, orders, strlen(orders)), 0);
	m = (struct member){"orders.csv", AE_IFREG, gz.buf, gz.len};
	strbuf_reset(&outer);
	assert_int_equal(make_archive(&outer, 0, F_NONE, &m, 1), 0);
	got = ingest_all("b.tar", outer.buf, outer.len, 0, NULL);
	assert_string_equal(got, "error -22 b.tar: orders.csv: holds xz data: archives and "
				 "compressed files inside an archive are not supported");
	free(got);
	m = (struct member){"customers.jsonl", AE_IFREG, tar.buf, tar.len};
	strbuf_reset(&outer);
	assert_int_equal(make_archive(&outer, 0, F_GZIP, &m, 1), 0);
	got = ingest_all("b.tgz", outer.buf, outer.len, 0, NULL);
	assert_string_equal(got, "error -22 b.tgz: customers.jsonl: holds tar data: archives and "
				 "compressed files inside an archive are not supported");
	free(got);
	strbuf_release(&tar);
	strbuf_release(&gz);
	strbuf_release(&zip);
	strbuf_release(&outer);
}

static void test_limits(void **state)
{
	struct ingest_limits lim = {0};
	struct strbuf data;
	char want[512];

	(void)state;
	strbuf_init(&data);
	assert_int_equal(make_archive(&data, 0, F_NONE, batch, sizeof(batch) / sizeof(batch[0])),
			 0);
	/* Directories count as entries. */
	lim = (struct ingest_limits){.max_entries = 3};
	snprintf(want, sizeof(want),
		 "./orders.csv orders csv %zu:%s\nerror -27 b.tar: customers.jsonl: more than 3 "
		 "entries in "
		 "the archive",
		 strlen(orders), orders);
	expect("b.tar", &data, want, &lim);
	/* A tar header says the size: refused before reading. */
	lim = (struct ingest_limits){.max_entry_bytes = 10};
	expect("b.tar", &data,
	       "error -27 b.tar: ./orders.csv: larger than 10 bytes (the limit of one table)",
	       &lim);
	lim = (struct ingest_limits){.max_contract_bytes = 16};
	snprintf(want, sizeof(want),
		 "./orders.csv orders csv %zu:%s\ncustomers.jsonl customers jsonl %zu:%s\n"
		 "error -27 b.tar: contract.yaml: larger than 16 bytes (the limit of a contract)",
		 strlen(orders), orders, strlen(customers), customers);
	expect("b.tar", &data, want, &lim);
	lim = (struct ingest_limits){.max_total_bytes = 40};
	snprintf(want, sizeof(want),
		 "./orders.csv orders csv %zu:%s\nerror -27 b.tar: customers.jsonl: the upload "
		 "decompresses to more than 40 bytes (the limit)",
		 strlen(orders), orders);
	expect("b.tar", &data, want, &lim);
	/* A zip entry may not say its size before its data: counted while read. */
	strbuf_reset(&data);
	assert_int_equal(compress_raw(&data, F_GZIP, orders, strlen(orders)), 0);
	lim = (struct ingest_limits){.max_entry_bytes = 10};
	expect("orders.csv.gz", &data,
	       "error -27 orders.csv.gz: more than 10 bytes decompressed (the limit of one table)",
	       &lim);
	strbuf_release(&data);
}

static long max_rss_kib(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 200 MB of zeros in about 200 KB of gzip: refused after about 16 MiB, fast, in little memory. */
static void test_gzip_bomb(void **state)
{
	struct ingest_limits lim = {.max_ratio = 100};
	struct mem_source m = {0};
	struct ingest_entry entry;
	struct mfs_error err;
	struct strbuf bomb;
	struct ingest *in;
	uint64_t got = 0;
	long rss;
	double t;
	char buf[65536];
	ssize_t n;

	(void)state;
	strbuf_init(&bomb);
	assert_int_equal(compress_raw(&bomb, F_GZIP, NULL, 200 * 1000 * 1000), 0);
	assert_true(bomb.len < 400 * 1024);
	rss = max_rss_kib();
	t = now();
	m.data = bomb.buf;
	m.len = bomb.len;
	mfs_error_clear(&err);
	assert_int_equal(ingest_open(&in, "orders.csv.gz", mem_read, &m, &lim, &err), 0);
	assert_int_equal(ingest_next(in, &entry, &err), 1);
	while ((n = ingest_read(in, buf, sizeof(buf))) > 0)
		got += (uint64_t)n;
	assert_int_equal(n, -EFBIG);
	assert_string_equal(ingest_error(in),
			    "orders.csv.gz: the data expands to more than 100 times its compressed "
			    "size: refused as a likely decompression bomb");
	/* The read that passed 16 MiB failed: its bytes are not in got. */
	assert_true(got >= 15 * MiB && got < 17 * MiB);
	/* Only a small part of the input was needed to tell. */
	assert_true(m.pos < bomb.len / 2);
	ingest_close(in);
	assert_true(now() - t < 2.0);
	assert_true(max_rss_kib() - rss < 16 * 1024);

	/* The default ratio lets this bomb through; the size limit of an entry does not. */
	lim = (struct ingest_limits){.max_entry_bytes = 8 * MiB};
	m = (struct mem_source){.data = bomb.buf, .len = bomb.len, .step = 1};
	mfs_error_clear(&err);
	got = 0;
	assert_int_equal(ingest_open(&in, "orders.csv.gz", mem_read, &m, &lim, &err), 0);
	assert_int_equal(ingest_next(in, &entry, &err), 1);
	while ((n = ingest_read(in, buf, sizeof(buf))) > 0)
		got += (uint64_t)n;
	assert_int_equal(n, -EFBIG);
	assert_true(got > 7 * MiB && got <= 8 * MiB);
	assert_string_equal(ingest_error(in), "orders.csv.gz: more than 8 MiB decompressed (the "
					      "limit of one table)");
	ingest_close(in);
	strbuf_release(&bomb);
}

/* A bomb in an entry nobody reads is still caught while it is skipped. */
static void test_bomb_skipped(void **state)
{
	struct ingest_limits lim = {.max_ratio = 100};
	struct mem_source m = {0};
	struct ingest_entry entry;
	struct mfs_error err;
	struct archive *w;
	struct archive_entry *e;
	struct strbuf data;
	struct ingest *in;
	static const char zeros[1 << 16];
	size_t i;
	int rc;

	(void)state;
	strbuf_init(&data);
	w = archive_write_new();
	assert_int_equal(archive_write_set_format_pax_restricted(w), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_gzip(w), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_in_last_block(w, 1), ARCHIVE_OK);
	assert_int_equal(archive_write_open(w, &data, NULL, sb_write, NULL), ARCHIVE_OK);
	e = archive_entry_new();
	archive_entry_set_pathname(e, "big.csv");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_size(e, 1600 * (la_int64_t)sizeof(zeros));
	assert_int_equal(archive_write_header(w, e), ARCHIVE_OK);
	for (i = 0; i < 1600; i++)
		assert_int_equal(archive_write_data(w, zeros, sizeof(zeros)), sizeof(zeros));
	archive_entry_free(e);
	assert_int_equal(archive_write_close(w), ARCHIVE_OK);
	archive_write_free(w);

	m.data = data.buf;
	m.len = data.len;
	mfs_error_clear(&err);
	assert_int_equal(ingest_open(&in, "b.tar.gz", mem_read, &m, &lim, &err), 0);
	assert_int_equal(ingest_next(in, &entry, &err), 1);
	assert_string_equal(entry.name, "big.csv");
	rc = ingest_next(in, &entry, &err);
	assert_int_equal(rc, -EFBIG);
	assert_string_equal(err.msg, "b.tar.gz: big.csv: the data expands to more than 100 times "
				     "its compressed size: refused as a likely decompression bomb");
	ingest_close(in);
	strbuf_release(&data);
}

static void test_bad_input(void **state)
{
	struct mem_source m = {0};
	struct ingest_entry entry;
	struct mfs_error err;
	struct strbuf data;
	struct ingest *in;
	char buf[64];
	ssize_t n;

	(void)state;
	strbuf_init(&data);
	/* A name that publishes nothing. */
	mfs_error_clear(&err);
	assert_int_equal(ingest_open(&in, "notes.txt", mem_read, &m, NULL, &err), -EINVAL);
	assert_null(in);
	assert_string_equal(err.msg,
			    "notes.txt: not a name that publishes: TABLE.csv or TABLE.jsonl "
			    "(optionally compressed: .gz, .bz2, .xz, .zst) or an archive (.tar, "
			    ".tar.gz, .tgz, .tar.bz2, .tar.xz, .tar.zst, .zip)");
	/* Text is no archive. */
	assert_int_equal(strbuf_addstr(&data, orders), 0);
	expect("batch.zip", &data,
	       "error -22 batch.zip: cannot read the archive: Unrecognized archive format", NULL);
	/* A gzip stream cut short. */
	strbuf_reset(&data);
	assert_int_equal(compress_raw(&data, F_GZIP, NULL, 1000000), 0);
	data.len -= 20;
	m = (struct mem_source){.data = data.buf, .len = data.len};
	mfs_error_clear(&err);
	assert_int_equal(ingest_open(&in, "orders.csv.gz", mem_read, &m, NULL, &err), 0);
	assert_int_equal(ingest_next(in, &entry, &err), 1);
	while ((n = ingest_read(in, buf, sizeof(buf))) > 0)
		;
	assert_int_equal(n, -EINVAL);
	assert_non_null(strstr(ingest_error(in), "orders.csv.gz: cannot read the data: "));
	ingest_close(in);
	/* The source fails: its error comes through, at open or later. */
	m = (struct mem_source){.data = data.buf, .len = data.len, .fail_at = 1};
	mfs_error_clear(&err);
	assert_int_equal(ingest_open(&in, "orders.csv.gz", mem_read, &m, NULL, &err), -EIO);
	assert_string_equal(err.msg, "orders.csv.gz: read error: Input/output error");
	m = (struct mem_source){.data = data.buf, .len = data.len, .step = 100, .fail_at = 5};
	mfs_error_clear(&err);
	assert_int_equal(ingest_open(&in, "orders.csv.gz", mem_read, &m, NULL, &err), 0);
	assert_int_equal(ingest_next(in, &entry, &err), 1);
	while ((n = ingest_read(in, buf, sizeof(buf))) > 0)
		;
	assert_int_equal(n, -EIO);
	assert_string_equal(ingest_error(in), "orders.csv.gz: read error: Input/output error");
	ingest_close(in);
	ingest_close(NULL);
	strbuf_release(&data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_kind),	   cmocka_unit_test(test_single),
	    cmocka_unit_test(test_empty),	   cmocka_unit_test(test_archives),
	    cmocka_unit_test(test_skip_unread),	   cmocka_unit_test(test_refused_entries),
	    cmocka_unit_test(test_nested_content), cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_gzip_bomb),	   cmocka_unit_test(test_bomb_skipped),
	    cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
