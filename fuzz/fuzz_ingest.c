/*
 * Uploads (table/ingest.h) through libarchive: single tables, compressed or not, and archives.
 *
 * Input: u8 upload name (one of names[]) | u8 limits | u16 seed of the source's chunk sizes and
 * of the reader's choices | the upload's bytes.
 *
 * Checks:
 * - a name that ingest_name_kind does not take is refused at open; a refusal says why;
 * - a single table is one entry named as the upload, with the table and format of its name;
 *   an archive's entries are valid table names, each once, and at most one contract.yaml;
 * - no entry hands out more bytes than its limit, nor all of them more than the total, nor an
 *   archive more entries than allowed;
 * - a failure says why and sticks: every later read and ingest_next fails the same way; an
 *   upload whose source failed never reads as complete;
 * - after the last entry ingest_next keeps answering 0.
 */
#include <errno.h>
#include <string.h>

#include "contract/contract.h"
#include "fuzz/fuzz.h"
#include "table/ingest.h"

static const char *const names[] = {
    "orders.csv",    "orders.jsonl",	 "orders.csv.gz", "orders.jsonl.bz2",
    "orders.csv.xz", "orders.jsonl.zst", "batch.tar",	  "batch.tar.gz",
    "batch.tgz",     "batch.tar.bz2",	 "batch.tar.xz",  "batch.tar.zst",
    "batch.zip",     "notes.txt",	 "contract.yaml", "Orders.csv",
};

#define NNAMES (sizeof(names) / sizeof(names[0]))

struct source {
	const uint8_t *p;
	size_t left;
	struct fuzz_rng *rng;
	int fail;   /* fail with -EIO once this many bytes are left; -1: never */
	int failed; /* it did */
	int interrupted;
};

static ssize_t source_read(void *ctx, void *buf, size_t len)
{
	struct source *s = ctx;
	uint64_t r = fuzz_rng_next(s->rng);
	size_t n = len < s->left ? len : s->left;

	if (s->fail >= 0 && s->left <= (size_t)s->fail) {
		s->failed = 1;
		return -EIO;
	}
	if (!s->interrupted && r % 32 == 0) {
		s->interrupted = 1;
		return -EINTR;
	}
	s->interrupted = 0;
	if (n > 1 + (r >> 8) % 700)
		n = 1 + (r >> 8) % 700;
	memcpy(buf, s->p, n);
	s->p += n;
	s->left -= n;
	return (ssize_t)n;
}

/* After a failure rc: every later call fails the same way. */
static void check_stuck(struct ingest *in, int rc)
{
	struct ingest_entry entry;
	struct mfs_error err;
	char buf[16];

	FUZZ_CHECK(rc < 0 && ingest_error(in)[0]);
	FUZZ_CHECK(ingest_read(in, buf, sizeof(buf)) == rc);
	mfs_error_clear(&err);
	FUZZ_CHECK(ingest_next(in, &entry, &err) == rc && err.msg[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input input = {data, size};
	struct ingest_limits limits = {0};
	char tables[64][MESH_NAME_MAX], table[MESH_NAME_MAX];
	struct ingest_entry entry;
	enum ingest_format format;
	struct mfs_error err;
	struct fuzz_rng rng;
	struct source src;
	struct ingest *in;
	const char *name;
	uint64_t total = 0;
	unsigned entries = 0, contracts = 0, ntables = 0;
	uint8_t sel;
	int kind, archive, rc;
	char buf[4096];

	fuzz_begin();
	name = names[fuzz_u8(&input) % NNAMES];
	sel = fuzz_u8(&input);
	rng.state = fuzz_u16(&input);
	limits.max_entry_bytes = 256u << (sel & 7);
	limits.max_total_bytes = 2 * limits.max_entry_bytes;
	limits.max_entries = 1 + (sel >> 3 & 7);
	limits.max_contract_bytes = 1024;
	src = (struct source){input.p, input.left, &rng, sel & 0x80 ? (int)(sel & 0x3f) : -1, 0, 0};
	kind = ingest_name_kind(name, table, &format, &archive);

	mfs_error_clear(&err);
	rc = ingest_open(&in, name, source_read, &src, &limits, &err);
	if (rc) {
		FUZZ_CHECK(rc < 0 && err.msg[0] && !in);
		if (!kind)
			FUZZ_CHECK(rc == -EINVAL);
		return 0;
	}
	FUZZ_CHECK(kind);
	while ((rc = ingest_next(in, &entry, &err)) == 1) {
		uint64_t bytes = 0, max;
		ssize_t n;

		entries++;
		FUZZ_CHECK(entry.name);
		if (!archive) {
			FUZZ_CHECK(entries == 1 && !strcmp(entry.name, name));
			FUZZ_CHECK(!strcmp(entry.table, table) && entry.format == format);
		} else {
			FUZZ_CHECK(entries <= limits.max_entries);
		}
		if (entry.format == INGEST_CONTRACT) {
			FUZZ_CHECK(archive && !entry.table[0] && ++contracts == 1);
			max = limits.max_contract_bytes;
		} else {
			FUZZ_CHECK(mesh_name_valid(entry.table));
			for (unsigned i = 0; i < ntables; i++)
				FUZZ_CHECK(strcmp(tables[i], entry.table));
			if (ntables < 64)
				memcpy(tables[ntables++], entry.table, MESH_NAME_MAX);
			max = limits.max_entry_bytes;
		}
		/* Now and then the rest of an entry is left to ingest_next to skip. */
		while (fuzz_rng_next(&rng) % 8 &&
		       (n = ingest_read(in, buf, 1 + fuzz_rng_below(&rng, sizeof(buf)))) > 0) {
			bytes += (uint64_t)n;
			total += (uint64_t)n;
		}
		FUZZ_CHECK(bytes <= max && total <= limits.max_total_bytes);
	}
	/* An upload cut short by its source is never taken for a whole one. */
	FUZZ_CHECK(rc < 0 || !src.failed);
	if (rc < 0) {
		check_stuck(in, rc);
	} else {
		FUZZ_CHECK(ingest_next(in, &entry, &err) == 0);
		FUZZ_CHECK(archive || entries == 1);
	}
	ingest_close(in);
	return 0;
}
