/*
 * What an upload holds (docs/DESIGN.md §5), read through libarchive: one table (TABLE.csv or
 * TABLE.jsonl, optionally compressed with .gz, .bz2, .xz or .zst), or an archive (.tar, .tar.gz,
 * .tgz, .tar.bz2, .tar.xz, .tar.zst, .zip and the like) of several tables and optionally one
 * contract.yaml, to be published as one version.
 *
 * Uploads come from anyone with the publish right, so everything is bounded: bytes per entry and
 * in all, the number of entries, how much the data may expand (decompression bombs), the size of
 * a contract. Decompressed data stays in memory: it may be PII.
 */
#ifndef MESHFS_INGEST_H
#define MESHFS_INGEST_H

#include <stdint.h>
#include <sys/types.h>

#include "contract/names.h"
#include "common/error.h"
#include "table/csv.h"

enum ingest_format {
	INGEST_CSV,
	INGEST_JSONL,
	INGEST_CONTRACT,
};

/* A zero member takes its default. */
struct ingest_limits {
	uint64_t max_entry_bytes;    /* decompressed bytes of one entry; default 64 GiB */
	uint64_t max_total_bytes;    /* decompressed bytes of all entries; default 256 GiB */
	unsigned max_entries;	     /* entries in an archive, directories included; default 1000 */
	unsigned max_ratio;	     /* decompressed bytes per compressed byte read, checked once
					past 16 MiB decompressed; default 250 */
	uint64_t max_contract_bytes; /* bytes of contract.yaml; default 1 MiB */
};

struct ingest_entry {
	const char *name;	   /* as in the upload, for messages; valid until the next
				      ingest_next or ingest_close */
	char table[MESH_NAME_MAX]; /* TABLE for a table; "" for the contract */
	enum ingest_format format;
};

struct ingest;

/*
 * Starts reading an upload called name (its file name: "orders.csv", "orders.jsonl.gz",
 * "batch.tar.gz"), which decides what it is; its bytes are pulled from read(ctx). Whatever the
 * name, compressed content is recognized by its bytes, so a gzipped body named orders.csv reads
 * as CSV. limits may be NULL for the defaults. Returns 0, -EINVAL (name not an upload name, see
 * ingest_name_kind; data that is no archive of a known kind), or -errno (of read too), with err
 * set.
 */
int ingest_open(struct ingest **out, const char *name, csv_source_fn read, void *ctx,
		const struct ingest_limits *limits, struct mfs_error *err);
/*
 * Moves to the next entry, skipping what is left of the current one (within the limits).
 * Returns 1 with *entry set, 0 after the last, or -errno with err set. A single-table upload
 * has exactly one entry, named as the upload (an upload of no bytes is an entry of no bytes).
 * In an archive, directories are skipped; an entry must be at the top level ("./" in front is
 * fine) and be TABLE.csv, TABLE.jsonl (TABLE a valid mesh name, each table once) or
 * contract.yaml (once). Anything else is -EINVAL naming the entry: a path that is absolute or
 * has a ".." component, a link, device or FIFO, another name, a compressed file or an archive,
 * an encrypted entry. -EFBIG: over max_entries, or an entry declared larger than its limit.
 * Entries come in the archive's order: a contract.yaml may come after the tables.
 */
int ingest_next(struct ingest *in, struct ingest_entry *entry, struct mfs_error *err);
/*
 * A csv_source_fn (in is the struct ingest) over the decompressed bytes of the current entry:
 * returns bytes read, 0 at its end (or when there is no current entry), or -errno: -EFBIG when
 * a limit is reached, -EINVAL for corrupt data, a compressed file or archive inside the
 * upload, the error of read. ingest_error tells why. Errors stick: every later call fails.
 */
ssize_t ingest_read(void *in, void *buf, size_t len);
/* The message of the last failure ("" if none): "UPLOAD: ENTRY: why". */
const char *ingest_error(const struct ingest *in);
/* Frees everything, zeroing buffers that held upload data. in may be NULL. */
void ingest_close(struct ingest *in);

/*
 * What a file written into a product directory publishes, by its name alone: 1 for a table
 * (TABLE.csv, TABLE.jsonl, each optionally + .gz .bz2 .xz .zst; TABLE a valid mesh name: table
 * and format set, *archive 0) or an archive (.tar, .tar.gz, .tgz, .tar.bz2, .tbz2, .tar.xz,
 * .txz, .tar.zst, .tzst, .zip: table "", *archive 1); 0 for any other name (a private staging
 * file, contract.yaml included: it is not an upload of data). table and format may be NULL.
 */
int ingest_name_kind(const char *name, char table[MESH_NAME_MAX], enum ingest_format *format,
		     int *archive);

#endif
