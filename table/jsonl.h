/*
 * JSON Lines (one JSON object per line) read as a table: the reader hands out the same records
 * as the CSV reader, so that the publish pipeline checks both alike. The first record is the
 * column names (standing in for a CSV header row); each later record has one field per column,
 * in column order, taken from the object's members of those names.
 *
 * Values: a string (all JSON escapes, \uXXXX and surrogate pairs decoded to UTF-8), a number
 * (kept as written), true and false ("true", "false"), null (an empty field: a null). Objects
 * and arrays as values, keys that are not columns, a key twice, invalid UTF-8, raw control
 * characters in strings, unpaired surrogates and \u0000 are errors. A missing key is a null.
 * Blank lines are skipped; lines may end in LF or CRLF; a UTF-8 byte order mark at the very
 * start is skipped.
 */
#ifndef MESHFS_JSONL_H
#define MESHFS_JSONL_H

#include <stddef.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "table/csv.h"

struct jsonl_limits {
	size_t max_line; /* bytes in one line; default 16 MiB */
};

struct jsonl_reader {
	csv_source_fn source;
	void *source_ctx;
	const char *filename; /* for messages */
	const char *const *columns;
	size_t ncolumns;
	struct jsonl_limits limits;
	/* private */
	char *in;
	size_t in_len, in_pos, in_cap;
	size_t scan; /* bytes after in_pos known to hold no line feed */
	int eof;
	int started;
	unsigned long line;
	unsigned long record_line;
	size_t hint; /* the column the next key most likely names */
	struct strbuf data;
	struct csv_field *fields;
};

/*
 * Prepares a reader over source, for a table of ncolumns columns named columns (the array and
 * the names must outlive the reader). limits may be NULL for the defaults.
 */
void jsonl_reader_init(struct jsonl_reader *r, csv_source_fn source, void *ctx,
		       const char *filename, const char *const *columns, size_t ncolumns,
		       const struct jsonl_limits *limits);
/*
 * Reads the next record, like csv_reader_next: returns 1 with *fields and *nfields set (valid
 * until the next call), 0 at end of input, or -errno (-EINVAL for malformed input) with err
 * "FILE:LINE:COL: …". The first call returns the column names as a record (line 0), unless the
 * input is empty (no bytes at all): then it returns 0, as a CSV reader does for a file without
 * a header. Every later record has exactly ncolumns fields; a string value is marked quoted;
 * a field for a missing key or null is empty, at the column of the object's opening brace.
 */
int jsonl_reader_next(struct jsonl_reader *r, struct csv_field **fields, size_t *nfields,
		      struct mfs_error *err);
/* Line of the record last returned (0 for the column names). */
unsigned long jsonl_reader_record_line(const struct jsonl_reader *r);
/* Frees the reader's memory, zeroing it (it may have held PII). */
void jsonl_reader_release(struct jsonl_reader *r);

#endif
