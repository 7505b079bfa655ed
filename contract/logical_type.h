/*
 * The logical types of contract columns (ODCS logicalType) and the check of a single value
 * against one (ISO 8601 dates and timestamps). Checks of whole tables are table/checks.h.
 */
#ifndef MESHFS_LOGICAL_TYPE_H
#define MESHFS_LOGICAL_TYPE_H

#include <stddef.h>
#include <stdint.h>

enum logical_type {
	LT_STRING = 0,
	LT_INTEGER,
	LT_NUMBER,
	LT_BOOLEAN,
	LT_DATE,
	LT_TIMESTAMP,
};

/* "string", "integer", … */
const char *logical_type_name(enum logical_type t);
/* Sets *out to the type called name ("integer") and returns 0, or returns -EINVAL. */
int logical_type_parse(const char *name, enum logical_type *out);

/*
 * Returns NULL if value (len bytes; an empty value is a null and always passes here) is a valid
 * t, else a short reason ("not an integer"). integer: optional sign and digits, within int64;
 * number: a decimal number with optional exponent, finite; boolean: true/false (any case), 1/0;
 * date: YYYY-MM-DD, a real day; timestamp: date, 'T' or space, hh:mm[:ss[.fraction]], optional Z
 * or ±hh:mm.
 */
const char *logical_type_check(enum logical_type t, const char *value, size_t len);

/* Also accept what people type rather than what programs write: a date alone, 't' and 'z' in
 * lower case, a fraction after ',' and of any length, a zone of hours alone (±hh). */
#define LT_TIMESTAMP_LENIENT 1u

/*
 * Checks an LT_TIMESTAMP value (len bytes) as logical_type_check does, widened by flags, and when
 * it passes stores in *secs (unless NULL) its Unix seconds; a time without a zone is UTC and a
 * leap second counts as the first second of the next minute. Returns NULL, or the reason why not
 * ("no such day").
 */
const char *logical_type_timestamp(const char *s, size_t len, unsigned flags, int64_t *secs);

#endif
