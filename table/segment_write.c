/*
 * Writing a segment (see segment.h and segment_format.h): rows are masked and normalized into
 * the open row group as they come, a group is written with one sealed chunk for all its PII
 * cells when it is full, and the index and the trailer close the blob. It always writes the
 * current format; segment_read.c reads the earlier ones too. Plaintext stays in memory only as
 * long as its group is open, in buffers that are zeroed before they are freed.
 */
#include "table/segment.h"
#include "table/segment_format.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/seal.h"
#include "common/crc32c.h"

/*
 * Every read checks whole groups (segment_read.c), and the plain view decodes them: small
 * groups keep a random read of a few KiB from reading and decoding much more. Smaller still
 * with PII: the plain view's random reads decode every group they touch, and a group costs one
 * sealed chunk to open, whatever its number of PII columns (docs/PERFORMANCE.md).
 */
#define SEGMENT_DEFAULT_ROWS	  8192
#define SEGMENT_DEFAULT_BYTES	  (16 * 1024)
#define SEGMENT_DEFAULT_PII_BYTES (4 * 1024)

/* Appends value as a normalized CSV field without leaving a copy of it in freed memory. */
static int field_append_secure(struct strbuf *sb, const char *value, size_t len)
{
	int rc;

	if (len > (SIZE_MAX - 2) / 2)
		return -ENOMEM;
	rc = strbuf_grow_secure(sb, 2 * len + 2);
	if (rc)
		return rc;
	return csv_field_append(sb, value, len);
}

/* One PII cell of the row being built. */
struct segment_cell {
	size_t pos;  /* of its masked field bytes in w->row */
	size_t mlen; /* masked field bytes */
	size_t poff; /* of its plain field bytes in w->row_plain */
	size_t plen; /* plain field bytes */
};

struct segment_writer {
	const struct segment_params *p;
	struct store_writer *sw;
	uint8_t id[SEGMENT_ID_BYTES];
	size_t *pii; /* indexes of the PII columns */
	size_t npii;
	size_t group_rows, group_bytes;
	uint64_t off; /* bytes written so far */
	uint32_t header_len, header_crc;
	uint32_t
	    head_crc; /* of the first SEGMENT_HEAD bytes: format 2's index CRC starts from it */
	uint64_t rows, masked_size, plain_size, ngroups;
	int failed; /* the first error after which the segment cannot be completed */
	/* the open group */
	struct strbuf masked;
	uint64_t group_plain;
	size_t group_nrows;
	struct strbuf cells; /* the cell records (plaintext) */
	uint64_t cells_end;  /* where the last cell recorded ends in the group's masked bytes */
	/* the row being built */
	struct strbuf row;	 /* masked view */
	struct strbuf row_plain; /* plain field bytes of the PII cells */
	struct strbuf mask;	 /* one mask */
	struct segment_cell *row_cells;
	/* scratch */
	struct strbuf chunk;
	struct strbuf ad;
	struct strbuf groups; /* the index's group entries so far */
};

static void segment_writer_free(struct segment_writer *w)
{
	strbuf_release_secure(&w->cells);
	free(w->pii);
	free(w->row_cells);
	strbuf_release(&w->masked);
	strbuf_release(&w->row);
	strbuf_release_secure(&w->row_plain);
	strbuf_release_secure(&w->mask);
	strbuf_release(&w->chunk);
	strbuf_release(&w->ad);
	strbuf_release(&w->groups);
	free(w);
}

static int segment_write(struct segment_writer *w, const void *data, size_t len)
{
	int rc = store_writer_write(w->sw, data, len);

	if (!rc)
		w->off += len;
	return rc;
}

static int segment_params_check(const struct segment_params *p, size_t *npii, struct mfs_error *err)
{
	size_t i, len;

	if (!p->binding || !p->columns || !p->ncolumns || p->ncolumns > SEGMENT_MAX_COLUMNS)
		return mfs_error_set(err, EINVAL, "segment: no binding or a bad number of columns");
	*npii = 0;
	for (i = 0; i < p->ncolumns; i++) {
		len = p->columns[i].name ? strlen(p->columns[i].name) : 0;
		if (!len || len > UINT16_MAX)
			return mfs_error_set(err, EINVAL, "segment: column %zu has a bad name",
					     i + 1);
		if (!p->columns[i].pii)
			continue;
		if ((unsigned)p->columns[i].mask > MASK_NULL)
			return mfs_error_set(err, EINVAL, "segment: column %s has a bad mask",
					     p->columns[i].name);
		(*npii)++;
	}
	if (*npii && (!p->data_key || !p->mask_key))
		return mfs_error_set(err, EINVAL,
				     "segment: PII columns need a data and a mask key");
	return 0;
}

int segment_writer_open(struct segment_writer **out, struct store *st,
			const struct segment_params *p, struct mfs_error *err)
{
	struct segment_writer *w;
	struct strbuf head;
	uint8_t fh[SEGMENT_HEAD];
	size_t i, npii = 0, k = 0;
	int rc;

	strbuf_init(&head);
	rc = segment_params_check(p, &npii, err);
	if (rc)
		return rc;
	if (sodium_init() < 0)
		return mfs_error_set(err, ENOMEM, "segment: libsodium does not initialize");
	w = calloc(1, sizeof(*w));
	if (!w)
		return mfs_error_set(err, ENOMEM, "out of memory");
	w->p = p;
	w->npii = npii;
	w->group_rows = p->group_rows ? p->group_rows : SEGMENT_DEFAULT_ROWS;
	if (w->group_rows > UINT32_MAX)
		w->group_rows = UINT32_MAX;
	w->group_bytes = p->group_bytes ? p->group_bytes
			 : npii		? SEGMENT_DEFAULT_PII_BYTES
					: SEGMENT_DEFAULT_BYTES;
	strbuf_init(&w->masked);
	strbuf_init(&w->row);
	strbuf_init(&w->row_plain);
	strbuf_init(&w->mask);
	strbuf_init(&w->chunk);
	strbuf_init(&w->ad);
	strbuf_init(&w->groups);
	strbuf_init(&w->cells);
	w->pii = calloc(npii ? npii : 1, sizeof(*w->pii));
	w->row_cells = calloc(npii ? npii : 1, sizeof(*w->row_cells));
	if (!w->pii || !w->row_cells) {
		rc = mfs_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < p->ncolumns; i++) {
		if (p->columns[i].pii)
			w->pii[k++] = i;
	}
	randombytes_buf(w->id, sizeof(w->id));

	for (i = 0; i < p->ncolumns; i++) {
		if ((i && strbuf_addch(&head, ',')) ||
		    csv_field_append(&head, p->columns[i].name, strlen(p->columns[i].name))) {
			rc = mfs_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
	}
	if (strbuf_addch(&head, '\n')) {
		rc = mfs_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	if (head.len > UINT32_MAX) {
		rc = mfs_error_set(err, EFBIG, "segment: header line too long");
		goto out;
	}
	w->header_len = (uint32_t)head.len;
	w->header_crc = crc32c(0, head.buf, head.len);
	w->masked_size = w->plain_size = head.len;

	rc = store_writer_open(st, &w->sw);
	if (rc) {
		mfs_error_set(err, rc, "segment: cannot start a blob: %s", strerror(-rc));
		goto out;
	}
	memcpy(fh, SEGMENT_MAGIC, 4);
	put_u16(fh + SEGMENT_HEAD_FORMAT, SEGMENT_FORMAT);
	put_u16(fh + SEGMENT_HEAD_RESERVED, 0);
	memcpy(fh + SEGMENT_HEAD_ID, w->id, SEGMENT_ID_BYTES);
	w->head_crc = crc32c(0, fh, sizeof(fh));
	rc = segment_write(w, fh, sizeof(fh));
	if (!rc)
		rc = segment_write(w, head.buf, head.len);
	if (rc) {
		mfs_error_set(err, rc, "segment: write failed: %s", strerror(-rc));
		goto out;
	}
	*out = w;
	w = NULL;
out:
	strbuf_release(&head);
	if (w) {
		store_writer_abort(w->sw);
		segment_writer_free(w);
	}
	return rc;
}

/* Builds the row in w->row (masked view) and w->row_plain and w->row_cells (its PII cells). */
static int segment_row_build(struct segment_writer *w, const struct csv_field *values)
{
	const struct segment_params *p = w->p;
	struct segment_cell *cell;
	size_t i, k = 0;
	int rc;

	strbuf_reset(&w->row);
	strbuf_reset_secure(&w->row_plain);
	for (i = 0; i < p->ncolumns; i++) {
		if (i && strbuf_addch(&w->row, ','))
			return -ENOMEM;
		if (!p->columns[i].pii) {
			rc = csv_field_append(&w->row, values[i].data, values[i].len);
			if (rc)
				return rc;
			continue;
		}
		cell = &w->row_cells[k++];
		strbuf_reset_secure(&w->mask);
		/* A mask is at most a token, REDACTED or "****" and part of the value. */
		rc = strbuf_grow_secure(&w->mask, values[i].len + 32);
		if (!rc)
			rc = mask_apply(p->columns[i].mask, p->mask_key, values[i].data,
					values[i].len, &w->mask);
		if (rc)
			return rc;
		cell->pos = w->row.len;
		rc = csv_field_append(&w->row, w->mask.buf, w->mask.len);
		if (rc)
			return rc;
		cell->mlen = w->row.len - cell->pos;
		cell->poff = w->row_plain.len;
		rc = field_append_secure(&w->row_plain, values[i].data, values[i].len);
		if (rc)
			return rc;
		cell->plen = w->row_plain.len - cell->poff;
	}
	return strbuf_addch(&w->row, '\n');
}

/* Seals the open group's cells and writes the group; the group is empty afterwards. */
static int segment_group_close(struct segment_writer *w)
{
	uint8_t entry[SEGMENT_GROUP_HEAD], ce[SEGMENT_CHUNK_ENTRY];
	int rc;

	if (!w->group_nrows)
		return 0;
	assert(w->masked.len <= UINT32_MAX && w->group_plain <= UINT32_MAX);
	put_u64(entry, w->off);
	put_u32(entry + 8, (uint32_t)w->masked.len);
	put_u32(entry + 12, (uint32_t)w->group_plain);
	put_u32(entry + 16, (uint32_t)w->group_nrows);
	put_u32(entry + 20, crc32c(0, w->masked.buf, w->masked.len));
	rc = strbuf_add(&w->groups, entry, sizeof(entry));
	if (rc)
		return rc;
	rc = segment_write(w, w->masked.buf, w->masked.len);
	if (rc)
		return rc;
	if (w->npii) {
		rc = segment_chunk_ad(&w->ad, w->p->binding, "", w->id, w->ngroups);
		if (rc)
			return rc;
		strbuf_reset(&w->chunk);
		rc = seal_chunk(w->p->data_key, w->p->key_id, w->ad.buf, w->ad.len, w->cells.buf,
				w->cells.len, &w->chunk);
		strbuf_reset_secure(&w->cells);
		w->cells_end = 0;
		if (rc)
			return rc;
		put_u64(ce, w->off);
		put_u64(ce + 8, w->chunk.len);
		rc = strbuf_add(&w->groups, ce, sizeof(ce));
		if (rc)
			return rc;
		rc = segment_write(w, w->chunk.buf, w->chunk.len);
		if (rc)
			return rc;
	}
	w->rows += w->group_nrows;
	w->masked_size += w->masked.len;
	w->plain_size += w->group_plain;
	w->ngroups++;
	strbuf_reset(&w->masked);
	w->group_plain = 0;
	w->group_nrows = 0;
	return 0;
}

/* Moves the built row into the open group. */
static int segment_row_append(struct segment_writer *w, uint64_t row_plain_len)
{
	const struct segment_cell *cell;
	uint8_t rec[SEGMENT_CELL_HEAD];
	size_t base = w->masked.len, k, n;
	uint64_t pos;
	int rc;

	rc = strbuf_add(&w->masked, w->row.buf, w->row.len);
	if (rc)
		return rc;
	/* Columns are in order within a row, so positions only grow within the group. */
	for (k = 0; k < w->npii; k++) {
		cell = &w->row_cells[k];
		if (!cell->plen)
			continue;
		pos = base + cell->pos;
		assert(pos >= w->cells_end);
		n = put_varint(rec, (uint32_t)(pos - w->cells_end));
		n += put_varint(rec + n, (uint32_t)cell->mlen);
		n += put_varint(rec + n, (uint32_t)cell->plen);
		rc = strbuf_grow_secure(&w->cells, n + cell->plen);
		if (rc)
			return rc;
		strbuf_add(&w->cells, rec, n);
		strbuf_add(&w->cells, w->row_plain.buf + cell->poff, cell->plen);
		w->cells_end = pos + cell->mlen;
	}
	w->group_plain += row_plain_len;
	w->group_nrows++;
	return 0;
}

/*
 * Appends a row without PII whose values all go into CSV as they are (verbatim) straight to the
 * open group, as segment_row_build and segment_row_append would, without building it apart.
 */
static int segment_row_verbatim(struct segment_writer *w, const struct csv_field *values)
{
	size_t n = w->p->ncolumns, len = n, i;
	char *p;
	int rc;

	for (i = 0; i < n; i++)
		len += values[i].len;
	if (len > UINT32_MAX)
		return -EFBIG;
	if (w->masked.len + len > UINT32_MAX) {
		rc = segment_group_close(w);
		if (rc)
			return rc;
	}
	rc = strbuf_grow(&w->masked, len);
	if (rc)
		return rc;
	p = w->masked.buf + w->masked.len;
	for (i = 0; i < n; i++) {
		memcpy(p, values[i].data, values[i].len);
		p += values[i].len;
		*p++ = ',';
	}
	p[-1] = '\n';
	*p = '\0';
	w->masked.len += len;
	w->group_plain += len;
	w->group_nrows++;
	if (w->group_nrows >= w->group_rows || w->masked.len >= w->group_bytes)
		return segment_group_close(w);
	return 0;
}

/* Whether a row can take segment_row_verbatim. */
static int segment_row_is_verbatim(const struct segment_writer *w, const struct csv_field *values)
{
	if (w->npii)
		return 0;
	for (size_t i = 0; i < w->p->ncolumns; i++)
		if (!values[i].verbatim)
			return 0;
	return 1;
}

int segment_writer_add(struct segment_writer *w, const struct csv_field *values, size_t n)
{
	uint64_t plain_len;
	size_t k;
	int rc;

	if (w->failed)
		return w->failed;
	if (n != w->p->ncolumns)
		return -EINVAL;
	if (segment_row_is_verbatim(w, values)) {
		rc = segment_row_verbatim(w, values);
		if (rc)
			w->failed = rc;
		return rc;
	}
	rc = segment_row_build(w, values);
	if (rc)
		goto out;
	plain_len = w->row.len;
	for (k = 0; k < w->npii; k++)
		plain_len = plain_len - w->row_cells[k].mlen + w->row_cells[k].plen;
	/* Positions and lengths within a group are 32-bit. */
	if (w->row.len > UINT32_MAX || plain_len > UINT32_MAX) {
		rc = -EFBIG;
		goto out;
	}
	if (w->masked.len + w->row.len > UINT32_MAX || w->group_plain + plain_len > UINT32_MAX) {
		rc = segment_group_close(w);
		if (rc)
			goto out;
	}
	rc = segment_row_append(w, plain_len);
	if (rc)
		goto out;
	if (w->group_nrows >= w->group_rows || w->masked.len >= w->group_bytes)
		rc = segment_group_close(w);
out:
	strbuf_reset_secure(&w->row_plain);
	strbuf_reset_secure(&w->mask);
	if (rc)
		w->failed = rc;
	return rc;
}

static int segment_index_build(struct segment_writer *w, struct strbuf *ix)
{
	const struct segment_column *c;
	size_t i;
	int rc;

	rc = strbuf_add(ix, w->id, SEGMENT_ID_BYTES);
	if (!rc)
		rc = add_u32(ix, (uint32_t)w->p->ncolumns);
	for (i = 0; !rc && i < w->p->ncolumns; i++) {
		c = &w->p->columns[i];
		rc = add_u16(ix, (uint16_t)strlen(c->name));
		if (!rc)
			rc = strbuf_addstr(ix, c->name);
		if (!rc)
			rc = add_u8(ix, c->pii ? 1 : 0);
		if (!rc)
			rc = add_u8(ix, c->pii ? (uint8_t)c->mask : 0);
	}
	if (!rc)
		rc = add_u32(ix, w->header_len);
	if (!rc)
		rc = add_u32(ix, w->header_crc);
	if (!rc)
		rc = add_u64(ix, w->rows);
	if (!rc)
		rc = add_u64(ix, w->masked_size);
	if (!rc)
		rc = add_u64(ix, w->plain_size);
	if (!rc)
		rc = add_u64(ix, w->ngroups);
	if (!rc)
		rc = strbuf_add(ix, w->groups.buf, w->groups.len);
	return rc;
}

int segment_writer_finish(struct segment_writer *w, struct segment_info *info,
			  struct mfs_error *err)
{
	struct strbuf ix;
	uint8_t trailer[SEGMENT_TRAILER];
	uint64_t index_off;
	int rc;

	strbuf_init(&ix);
	rc = w->failed;
	if (rc) {
		mfs_error_set(err, rc, "segment: an earlier row failed: %s", strerror(-rc));
		goto out;
	}
	rc = segment_group_close(w);
	if (rc) {
		mfs_error_set(err, rc, "segment: cannot write a row group: %s", strerror(-rc));
		goto out;
	}
	rc = segment_index_build(w, &ix);
	if (rc) {
		mfs_error_set(err, rc, "out of memory");
		goto out;
	}
	if (ix.len > UINT32_MAX) {
		rc = mfs_error_set(err, EFBIG, "segment: index too large");
		goto out;
	}
	index_off = w->off;
	put_u64(trailer, index_off);
	put_u32(trailer + SEGMENT_TRAILER_INDEX_LEN, (uint32_t)ix.len);
	put_u32(trailer + SEGMENT_TRAILER_INDEX_CRC, crc32c(w->head_crc, ix.buf, ix.len));
	memcpy(trailer + SEGMENT_TRAILER_END, SEGMENT_END, 8);
	rc = segment_write(w, ix.buf, ix.len);
	if (!rc)
		rc = segment_write(w, trailer, sizeof(trailer));
	if (rc) {
		mfs_error_set(err, rc, "segment: write failed: %s", strerror(-rc));
		goto out;
	}
	rc = store_writer_commit(w->sw, info->id);
	w->sw = NULL;
	if (rc) {
		mfs_error_set(err, rc, "segment: cannot commit the blob: %s", strerror(-rc));
		goto out;
	}
	info->rows = w->rows;
	info->masked_size = w->masked_size;
	info->plain_size = w->plain_size;
	info->has_pii = w->npii > 0;
out:
	strbuf_release(&ix);
	store_writer_abort(w->sw);
	segment_writer_free(w);
	return rc;
}

void segment_writer_abort(struct segment_writer *w)
{
	if (!w)
		return;
	store_writer_abort(w->sw);
	segment_writer_free(w);
}
