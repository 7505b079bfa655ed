/*
 * Uniqueness of a column's values within one upload, without keeping the values: each value is
 * remembered by a keyed BLAKE2b digest (12 bytes) under a key that lives only as long as the set,
 * so the set holds no plaintext PII and cannot be used to confirm a guessed value afterwards.
 */
#ifndef MESHFS_UNIQ_H
#define MESHFS_UNIQ_H

#include <stddef.h>
#include <stdint.h>

struct uniq;

/* A new empty set with a fresh random key. NULL when out of memory. */
struct uniq *uniq_new(void);
/* Frees the set (NULL is fine). */
void uniq_free(struct uniq *u);
/*
 * Adds value, first seen on line. Returns 1 if it was new, 0 if it was already there (then *first
 * gets the line it was first seen on), or -ENOMEM.
 */
int uniq_add(struct uniq *u, const void *value, size_t len, unsigned long line,
	     unsigned long *first);

#endif
