/*
 * Masks: what a reader without `unmask` sees in place of a PII cell (docs/DESIGN.md §6).
 * A mask is computed once, at publish, and stored in the masked view of the segment.
 */
#ifndef MESHFS_MASK_H
#define MESHFS_MASK_H

#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"

#define MASK_KEY_BYTES 32

enum mask_kind {
	MASK_TOKEN = 0, /* "tok_" + 16 lowercase hex digits of keyed BLAKE2b(value) */
	MASK_REDACT,	/* "REDACTED" */
	MASK_LAST4, /* "****" + the last 4 characters (bytes of a UTF-8 code point kept whole) */
	MASK_NULL,  /* empty */
};

/* Parses "token", "redact", "last4", "null". Returns 0 or -EINVAL. */
int mask_kind_parse(const char *s, enum mask_kind *out);
/* The name mask_kind_parse accepts. */
const char *mask_kind_name(enum mask_kind kind);
/*
 * Appends the masked form of value (raw bytes, not CSV-quoted) to out. An empty value stays
 * empty whatever the mask: emptiness is not hidden. Tokens depend only on the key and the value,
 * so equal values give equal tokens across the whole mesh. Returns 0 or -ENOMEM.
 */
int mask_apply(enum mask_kind kind, const uint8_t key[MASK_KEY_BYTES], const char *value,
	       size_t len, struct strbuf *out);

#endif
