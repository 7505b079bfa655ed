/*
 * CSV as RFC 4180 has it: fields separated by commas, records by CRLF or LF, fields optionally
 * in double quotes, inside which commas, CR, LF and doubled quotes ("") are data. The reader
 * streams: it pulls bytes from a source function, so input of any size is read in memory bounded
 * by the longest record.
 */
#ifndef MESHFS_CSV_H
#define MESHFS_CSV_H

#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"
#include "common/strbuf.h"

/* Pulls up to len bytes into buf: returns bytes read, 0 at end of input, or -errno. */
typedef ssize_t (*csv_source_fn)(void *ctx, void *buf, size_t len);

struct csv_field {
	const char *data; /* unquoted value (quotes removed, "" turned into "); NUL-terminated */
	size_t len;
	unsigned long line; /* where the field starts, 1-based */
	unsigned long col;  /* byte column where the field starts, 1-based */
	int quoted;
	/* 1 when data is known to hold no comma, quote, CR or LF, so that CSV takes it as it is
	 * (csv_field_append would not quote it); 0 when that is not known */
	int verbatim;
};

struct csv_limits {
	size_t max_field;  /* bytes in one field; default 16 MiB */
	size_t max_fields; /* fields in one record; default 4096 */
};

struct csv_reader {
	csv_source_fn source;
	void *source_ctx;
	const char *filename; /* for messages */
	struct csv_limits limits;
	/* private */
	char *in; /* in_cap bytes of input and CSV_PAD more, with a NUL after the in_len read */
	size_t in_len, in_pos, in_cap;
	size_t rec_start;  /* where the record being read, or the last one returned, starts */
	size_t line_start; /* where the line of in_pos starts, so that a column is an offset */
	int eof;
	unsigned long line;
	struct csv_field *fields;
	size_t fields_cap;
	size_t nrecord; /* fields of the record last returned */
	unsigned long record_line;
};

/* Prepares a reader over source. limits may be NULL for the defaults. */
void csv_reader_init(struct csv_reader *r, csv_source_fn source, void *ctx, const char *filename,
		     const struct csv_limits *limits);
/*
 * Reads the next record. Returns 1 with *fields and *nfields set (valid until the next call: they
 * point into the reader's input buffer, where the record lies in one piece, its delimiters
 * replaced by the fields' NULs), 0 at end of input, or -EINVAL with err "FILE:LINE:COL: …" for
 * malformed input: a quote inside an unquoted field, text after a closing quote, an unterminated
 * quoted field, a NUL byte, a field or record over the limits. A final record without a line ending
 * is a record; a blank line is a record of one empty field (callers decide what that means).
 */
int csv_reader_next(struct csv_reader *r, struct csv_field **fields, size_t *nfields,
		    struct mfs_error *err);
/* Line on which the record last returned starts. */
unsigned long csv_reader_record_line(const struct csv_reader *r);
/* The bytes in which the fields of the record last returned lie, data and NULs: its text as
 * parsed in place, *len bytes. */
const char *csv_reader_record_bytes(const struct csv_reader *r, size_t *len);
/* Frees the reader's memory, zeroing it (it may have held PII). */
void csv_reader_release(struct csv_reader *r);

/* Appends value as one normalized CSV field: quoted (with quotes doubled) only when it holds a
 * comma, a quote, CR or LF. Returns 0 or -ENOMEM. */
int csv_field_append(struct strbuf *out, const char *value, size_t len);

#endif
