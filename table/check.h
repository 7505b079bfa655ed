/* Checks of single values against a column's logical type (ISO 8601 dates and timestamps). */
#ifndef MESHFS_CHECK_H
#define MESHFS_CHECK_H

#include <stddef.h>

#include "catalog/contract.h"

/*
 * Returns NULL if value (len bytes; an empty value is a null and always passes here) is a valid
 * t, else a short reason ("not an integer"). integer: optional sign and digits, within int64;
 * number: a decimal number with optional exponent, finite; boolean: true/false (any case), 1/0;
 * date: YYYY-MM-DD, a real day; timestamp: date, 'T' or space, hh:mm[:ss[.fraction]], optional Z
 * or ±hh:mm.
 */
const char *check_type(enum logical_type t, const char *value, size_t len);

/*
 * Whether a regular expression (POSIX ERE) is small enough to compile: glibc's regcomp expands
 * counted repetition, so '((a{1000}){1000}){100}' would take gigabytes. Returns NULL if it is
 * fine, else why not: over 1,000 bytes, a count over 255, or a counted repetition of something
 * that holds one already.
 */
const char *check_pattern_bounded(const char *pattern);

#endif
