/*
 * The on-disk form of a segment, as both its writer (segment_write.c) and its reader
 * (segment_read.c) know it; segment.h gives the file layout. All integers are little-endian.
 * The file header's format number says which of two forms the sealed chunks take; the writer
 * writes format 2, the reader reads both (segments are immutable and stay in the store).
 *
 * Format 2: a group of a table with PII has one sealed chunk, with the group's non-empty PII
 * cells of every column in the order they come in the masked bytes (row by row, columns in
 * order), each as
 *   varint bytes between the end of the masked field of the cell before (or the group's start)
 *          and this cell's masked field
 *   varint length of the masked field bytes there
 *   varint length of the plain field bytes | the plain field bytes (CSV-normalized)
 * varints are LEB128: 7 bits a byte, low first, at most 5 bytes, the value 32 bits. Its
 * associated data (seal_chunk adds its own format byte and key id) is
 *   binding "/" | NUL | 16-byte segment id | u64 group index
 * (that of format 1 with an empty column name, which no column has).
 *
 * Format 1: a group has one sealed chunk per PII column, in column order, with that column's
 * non-empty cells in row order, each as
 *   u32 position of the cell's field bytes in the group's masked bytes
 *   u32 length of the masked field bytes there
 *   u32 length of the plain field bytes | the plain field bytes (CSV-normalized)
 * and its associated data is
 *   binding "/" column name | NUL | 16-byte segment id | u64 group index
 *
 * An empty cell is empty in both views, so it needs no record. The associated data makes a
 * chunk open only in its table, segment and group (and in format 1 its column): chunks cannot
 * be swapped between columns, moved between groups or grafted into another segment.
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
 *              per sealed chunk (format 2: one if the table has PII; format 1: one per PII
 *              column, in column order): u64 chunk offset | u64 chunk length
 * Groups and their chunks follow each other without gaps, from the end of the header line to the
 * index. A reader checks all of this before it trusts any of it.
 */
#ifndef MESHFS_SEGMENT_FORMAT_H
#define MESHFS_SEGMENT_FORMAT_H

#include <errno.h>
#include <stdint.h>

#include "common/strbuf.h"

#define SEGMENT_MAGIC	       "MSEG"
#define SEGMENT_END	       "MSEGEND\n"
#define SEGMENT_FORMAT	       2 /* written */
#define SEGMENT_FORMAT_COLUMNS 1 /* a sealed chunk per PII column: still read */
#define SEGMENT_ID_BYTES       16
#define SEGMENT_CELL_HEAD      15 /* three varints of format 2 */
#define SEGMENT_CELL_HEAD_1    12 /* three u32 of format 1 */
#define SEGMENT_VARINT_MAX     5
#define SEGMENT_GROUP_HEAD     (8 + 4 + 4 + 4 + 4)
#define SEGMENT_CHUNK_ENTRY    (8 + 8)
#define SEGMENT_MAX_COLUMNS    65535

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

/* Writes v as a varint at p: the bytes it took. */
static inline size_t put_varint(uint8_t *p, uint32_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
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
 * file; format 2 passes ""): 0 or -ENOMEM. */
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
