/*
 * The stored form of one table version (docs/DESIGN.md §7.2): a segment, one immutable blob.
 *
 * A table has two views, each a normalized CSV text (LF line ends, header first, columns in
 * contract order, fields quoted only when needed): the masked view, in which every PII cell is
 * replaced by its mask, and the plain view with the real values. The segment stores the masked
 * view's bytes, split in row groups, and for each group one sealed chunk with that group's
 * plaintext PII cells and where each sits in the masked bytes (one chunk per PII column in
 * segments of format 1, which are still read). The plain view is the masked
 * view with those cells spliced in. An index at the end gives each group's place in the file
 * and in both views, so a read at any offset of either view is a binary search away.
 *
 * File layout (integers little-endian):
 *   "MSEG" | u16 format | u16 reserved | 16-byte segment id (random; bound into sealed chunks)
 *   the header line (group -1: same bytes in both views)
 *   for each group: its masked bytes, then its sealed chunk (format 1: one per PII column)
 *   index (see segment_format.h)
 *   u64 index offset | u32 index length | u32 CRC32C of the index | "MSEGEND\n"
 *   (format 2: the CRC32C of the first 24 bytes, then the index, so that no byte is unchecked)
 *
 * Every byte a reader is given is checked first: the index against the CRC in the trailer and
 * the header line against the CRC in the index when the segment opens, each group's masked bytes
 * against their CRC in the index and the sealed chunks by their AEAD every time they are read
 * from the file, since the file may change under an open segment. A damaged part gives -EIO for
 * the reads that touch it, and only for them. CRCs catch accidental damage; tampering is for
 * `meshfs verify` and the AEAD.
 */
#ifndef MESHFS_SEGMENT_H
#define MESHFS_SEGMENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crypto/mask.h"
#include "backends/store.h"
#include "common/error.h"
#include "table/csv.h"

enum segment_view {
	SEGMENT_MASKED = 0,
	SEGMENT_PLAIN = 1,
};

struct segment_column {
	const char *name;
	int pii;
	enum mask_kind mask; /* for PII columns */
};

struct segment_params {
	/* "DOMAIN/PRODUCT/TABLE": bound, with the column, into every sealed chunk */
	const char *binding;
	const struct segment_column *columns;
	size_t ncolumns;
	/* needed when a column is PII */
	const uint8_t *data_key; /* 32 bytes */
	uint32_t key_id;
	const uint8_t *mask_key; /* 32 bytes */
	/* a group closes at whichever comes first; 0 for the defaults (segment_write.c) */
	size_t group_rows;
	size_t group_bytes;
};

struct segment_info {
	char id[STORE_ID_HEX + 1]; /* the blob */
	uint64_t rows;
	uint64_t masked_size; /* bytes of the masked view, header included */
	uint64_t plain_size;  /* bytes of the plain view; equal to masked_size without PII */
	int has_pii;
};

struct segment_writer;

/* Starts a segment in st. The parameters must stay valid until finish or abort. */
int segment_writer_open(struct segment_writer **out, struct store *st,
			const struct segment_params *p, struct mfs_error *err);
/* Adds one row: exactly ncolumns values, raw (as a CSV reader returns them). Memory stays bounded
 * by one row group. Returns 0 or -errno. */
int segment_writer_add(struct segment_writer *w, const struct csv_field *values, size_t n);
/* Writes the last group and the index and commits the blob; fills info. Frees the writer. */
int segment_writer_finish(struct segment_writer *w, struct segment_info *info,
			  struct mfs_error *err);
/* Drops the segment, leaving nothing in the store; frees the writer. NULL is fine. */
void segment_writer_abort(struct segment_writer *w);

/* Looks up a data key by id, for the plain view: 0 or -errno. */
typedef int (*segment_key_fn)(void *ctx, uint32_t key_id, uint8_t key[32]);

struct segment;
/* A reader's cache of the last group it read in part, checked (and decoded for the plain view)
 * when it was read, and of the buffers and data key it reads with: one per reader, not shared. */
struct segment_cache;

/*
 * Opens the segment in blob id, reading only its index. binding must be the one it was written
 * with (sealed chunks do not open otherwise). -EIO if the blob is not a well-formed segment.
 * An open segment is safe to read from many threads at once.
 */
int segment_open(struct segment **out, struct store *st, const char *id, const char *binding,
		 struct mfs_error *err);
void segment_close(struct segment *seg);
uint64_t segment_rows(const struct segment *seg);
int segment_has_pii(const struct segment *seg);
/* Size of a view; O(1). */
uint64_t segment_view_size(const struct segment *seg, enum segment_view view);
/*
 * Reads len bytes of view at off into buf: exactly the bytes a sequential read would give there;
 * short only at the end of the view. Every group touched is read from the file and checked
 * (its CRC, and for the plain view the AEAD of its chunks), except the one cache holds, which
 * was checked when the cache read it. The plain view needs keys (keyfn); cache (may be NULL)
 * keeps the last group read in part and the last key for the next read. Returns bytes read, or -EIO
 * if a chunk does not authenticate or a group's bytes do not match their CRC (nothing partial is
 * returned: a failed read of the plain view leaves buf zeroed).
 */
ssize_t segment_read(struct segment *seg, enum segment_view view, void *buf, size_t len,
		     uint64_t off, segment_key_fn keyfn, void *keyctx, struct segment_cache *cache);

/* A descriptor of the segment's file, for advice to the kernel on how it is read, or -1. */
int segment_fd(const struct segment *seg);

struct segment_cache *segment_cache_new(void);
/* Frees the cache, zeroing the plaintext it held. NULL is fine. */
void segment_cache_free(struct segment_cache *cache);

#endif
