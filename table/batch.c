#include "table/batch.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void row_batch_init(struct row_batch *b, size_t ncolumns)
{
	memset(b, 0, sizeof(*b));
	b->ncolumns = ncolumns;
	strbuf_init(&b->data);
}

void row_batch_release(struct row_batch *b)
{
	strbuf_release_secure(&b->data);
	free(b->fields);
	free(b->offsets);
	free(b->lines);
	row_batch_init(b, b->ncolumns);
}

void row_batch_reset(struct row_batch *b)
{
	strbuf_reset_secure(&b->data);
	b->nrows = 0;
	b->sealed = 0;
}

static int row_batch_grow(struct row_batch *b)
{
	size_t cap = b->cap ? 2 * b->cap : 256, cells;
	struct csv_field *fields;
	size_t *offsets;
	unsigned long *lines;

	if (!b->ncolumns || cap > SIZE_MAX / sizeof(*fields) / b->ncolumns)
		return -ENOMEM;
	cells = cap * b->ncolumns;
	fields = realloc(b->fields, cells * sizeof(*fields));
	if (!fields)
		return -ENOMEM;
	b->fields = fields;
	offsets = realloc(b->offsets, cells * sizeof(*offsets));
	if (!offsets)
		return -ENOMEM;
	b->offsets = offsets;
	lines = realloc(b->lines, cap * sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	b->lines = lines;
	b->cap = cap;
	return 0;
}

int row_batch_add(struct row_batch *b, const struct csv_field *row, unsigned long line)
{
	size_t at = b->nrows * b->ncolumns, bytes = 0;
	char *p;
	int rc = 0;

	assert(!b->sealed);
	if (b->nrows == b->cap)
		rc = row_batch_grow(b);
	for (size_t i = 0; !rc && i < b->ncolumns; i++) {
		if (row[i].len > SIZE_MAX / 2 - bytes)
			rc = -ENOMEM;
		bytes += row[i].len + 1;
	}
	if (!rc)
		rc = strbuf_grow_secure(&b->data, bytes);
	if (rc)
		return rc;
	/* offsets, not pointers: the buffer may move while it grows */
	p = b->data.buf + b->data.len;
	for (size_t i = 0; i < b->ncolumns; i++) {
		b->fields[at + i] = row[i];
		b->fields[at + i].data = NULL;
		b->offsets[at + i] = (size_t)(p - b->data.buf);
		memcpy(p, row[i].data, row[i].len);
		p += row[i].len;
		*p++ = '\0';
	}
	b->data.len = (size_t)(p - b->data.buf);
	*p = '\0';
	b->lines[b->nrows++] = line;
	return 0;
}

int row_batch_add_text(struct row_batch *b, const struct csv_field *row, unsigned long line,
		       const char *text, size_t len)
{
	size_t at = b->nrows * b->ncolumns, base = b->data.len;
	int rc = 0;

	assert(!b->sealed);
	if (b->nrows == b->cap)
		rc = row_batch_grow(b);
	if (!rc)
		rc = strbuf_grow_secure(&b->data, len);
	if (rc)
		return rc;
	memcpy(b->data.buf + base, text, len);
	b->data.len += len;
	b->data.buf[b->data.len] = '\0';
	for (size_t i = 0; i < b->ncolumns; i++) {
		assert(row[i].data >= text && row[i].data + row[i].len < text + len);
		b->fields[at + i] = row[i];
		b->fields[at + i].data = NULL;
		b->offsets[at + i] = base + (size_t)(row[i].data - text);
	}
	b->lines[b->nrows++] = line;
	return 0;
}

void row_batch_seal(struct row_batch *b)
{
	for (size_t i = 0; i < b->nrows * b->ncolumns; i++)
		b->fields[i].data = b->data.buf + b->offsets[i];
	b->sealed = 1;
}

const struct csv_field *row_batch_row(const struct row_batch *b, size_t i)
{
	assert(b->sealed && i < b->nrows);
	return &b->fields[i * b->ncolumns];
}
