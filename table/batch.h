/*
 * Rows copied out of a reader, so that they outlive its next call: one thread fills a batch
 * while others check and store the one before. The bytes may be plaintext PII: they are wiped
 * when the batch is reset or released, and never leave memory.
 */
#ifndef MESHFS_TABLE_BATCH_H
#define MESHFS_TABLE_BATCH_H

#include <stddef.h>

#include "common/strbuf.h"
#include "table/csv.h"

struct row_batch {
	size_t ncolumns;
	size_t nrows, cap;	  /* rows held, rows there is room for */
	struct strbuf data;	  /* every field's bytes, each followed by a NUL */
	struct csv_field *fields; /* nrows * ncolumns; data set by row_batch_seal */
	size_t *offsets;	  /* where each field's bytes start in data */
	unsigned long *lines;	  /* the input line of each row */
	int sealed;
};

void row_batch_init(struct row_batch *b, size_t ncolumns);
/* Wipes the bytes and frees the memory. */
void row_batch_release(struct row_batch *b);
/* Wipes the bytes and empties the batch, keeping its memory for the next rows. */
void row_batch_reset(struct row_batch *b);
/* Copies a row of ncolumns fields, found on line. Returns 0 or -ENOMEM. */
int row_batch_add(struct row_batch *b, const struct csv_field *row, unsigned long line);
/* The same for a row whose fields' bytes, NULs included, all lie in the len bytes at text (a
 * record as its reader holds it, csv_reader_record_bytes): they are copied in one piece. */
int row_batch_add_text(struct row_batch *b, const struct csv_field *row, unsigned long line,
		       const char *text, size_t len);
/* Ends the adding: from then on rows can be read, until the next reset. */
void row_batch_seal(struct row_batch *b);
/* Row i (< nrows) of a sealed batch: ncolumns fields. */
const struct csv_field *row_batch_row(const struct row_batch *b, size_t i);

#endif
