/*
 * The on-disk form of a segment, as both its writer (segment_write.c) and its reader
 * (segment_read.c) know it; segment.h gives the file layout. All integers are little-endian.
 *
 * A PII column's sealed chunk for one group holds that group's non-empty cells of the column, in
 * row order, each as
 *   u32 position of the cell's field bytes in the group's masked bytes
 *   u32 length of the masked field bytes there
 *   u32 length of the plain field bytes | the plain field bytes (CSV-normalized)
 * An empty cell is empty in both views, so it needs no record.
 *
 * The chunk's associated data (seal_chunk adds its own format byte and key id) is
 *   binding "/" column name | NUL | 16-byte segment id | u64 group index
 * so that a chunk opens only in its table, column, segment and group: chunks cannot be swapped
 * between columns, moved between groups or grafted into another segment.
 *
 * The index:
 *   16-byte segment id (the same as in the file header)
 *   u32 number of columns
 *   per column: u16 name length | name | u8 flags (1: PII) | u8 mask (enum mask_kind)
 *   u32 header line length (the header line starts right after the file header) |
 *   u32 CRC32C of the header line
 *   u64 rows | u64 masked view size | u64 plain view size (both include the header line)
 *   u64 number of groups
 *   per group: u64 file offset of its masked bytes | u32 masked length | u32 plain length |
 *              u32 rows | u32 CRC32C of its masked bytes |
 *              per PII column, in column order: u64 chunk offset | u64 chunk length
 * Groups and their chunks follow each other without gaps, from the end of the header line to the
 * index. A reader checks all of this before it trusts any of it.
 */
#ifndef MESHFS_SEGMENT_FORMAT_H
#define MESHFS_SEGMENT_FORMAT_H

#include <errno.h>
#include <stdint.h>

#include "common/strbuf.h"

#define SEGMENT_MAGIC	    "MSEG"
#define SEGMENT_END	    "MSEGEND\n"
#define SEGMENT_FORMAT	    1
#define SEGMENT_ID_BYTES    16
#define SEGMENT_CELL_HEAD   12
#define SEGMENT_GROUP_HEAD  (8 + 4 + 4 + 4 + 4)
#define SEGMENT_CHUNK_ENTRY (8 + 8)
#define SEGMENT_MAX_COLUMNS 65535

/* Where the fields of the file header and of the trailer sit in them. */
#define SEGMENT_HEAD_FORMAT	  4
#define SEGMENT_HEAD_RESERVED	  6
#define SEGMENT_HEAD_ID		  8
#define SEGMENT_HEAD		  (SEGMENT_HEAD_ID + SEGMENT_ID_BYTES)
#define SEGMENT_TRAILER_INDEX_LEN 8
#define SEGMENT_TRAILER_INDEX_CRC 12
#define SEGMENT_TRAILER_END	  16
#define SEGMENT_TRAILER		  (SEGMENT_TRAILER_END + 8)

static inline void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put_u32(uint8_t *p, uint32_t v)
{
	put_u16(p, (uint16_t)v);
	put_u16(p + 2, (uint16_t)(v >> 16));
}

static inline void put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)v);
	put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)get_u16(p) | (uint32_t)get_u16(p + 2) << 16;
}

static inline uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static inline int add_u8(struct strbuf *sb, uint8_t v)
{
	return strbuf_add(sb, &v, 1);
}

static inline int add_u16(struct strbuf *sb, uint16_t v)
{
	uint8_t b[2];

	put_u16(b, v);
	return strbuf_add(sb, b, sizeof(b));
}

static inline int add_u32(struct strbuf *sb, uint32_t v)
{
	uint8_t b[4];

	put_u32(b, v);
	return strbuf_add(sb, b, sizeof(b));
}

static inline int add_u64(struct strbuf *sb, uint64_t v)
{
	uint8_t b[8];

	put_u64(b, v);
	return strbuf_add(sb, b, sizeof(b));
}

/* Makes ad the associated data of the chunk of column name in group g (see the top of this
 * file): 0 or -ENOMEM. */
static inline int segment_chunk_ad(struct strbuf *ad, const char *binding, const char *name,
				   const uint8_t id[SEGMENT_ID_BYTES], uint64_t g)
{
	strbuf_reset(ad);
	if (strbuf_addstr(ad, binding) || strbuf_addch(ad, '/') || strbuf_addstr(ad, name) ||
	    strbuf_add(ad, "", 1) || strbuf_add(ad, id, SEGMENT_ID_BYTES) || add_u64(ad, g))
		return -ENOMEM;
	return 0;
}

#endif
