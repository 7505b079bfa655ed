/*
 * The logical types of contract columns (ODCS logicalType) and the check of a single value
 * against one (ISO 8601 dates and timestamps). Checks of whole tables are table/checks.h.
 */
#ifndef MESHFS_LOGICAL_TYPE_H
#define MESHFS_LOGICAL_TYPE_H

#include <stddef.h>

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

#endif
