/*
 * Uniqueness of a column's values within one upload, in bounded memory and without keeping the
 * values: each value is remembered by a keyed SipHash digest (96 of its 128 bits) under a key that
 * lives only in memory as long as the set, so neither the set nor what it spills to disk holds
 * plaintext PII, and neither can be used to confirm a guessed value afterwards.
 *
 * The digests go to an in-memory hash table; when it reaches the set's memory, its entries are
 * written as a run sorted by digest to an unlinked temporary file and the table starts empty
 * again. A value seen again while its first occurrence is in the table is reported at once by
 * uniq_add; one whose first occurrence was spilled is found by uniq_finish, which merges the runs.
 *
 * With UNIQ_INTEGERS, values that are canonical decimal integers in strictly ascending order (ids)
 * are kept as arithmetic progressions of numbers instead: no hashing and almost no memory. This
 * keeps the numbers themselves in memory, so it is only for values that are not secret.
 */
#ifndef MESHFS_UNIQ_H
#define MESHFS_UNIQ_H

#include <stddef.h>
#include <stdint.h>

/* Flags of uniq_new. */
#define UNIQ_INTEGERS 1 /* the values are not PII: ascending integers may be kept as numbers */

struct uniq;

/* A value seen on line that uniq_add could not report: it was first seen on line first. */
struct uniq_dup {
	unsigned long line;
	unsigned long first;
};

/*
 * A new empty set with a fresh random key, using at most about memory bytes (a few KiB at
 * least), and spilling past that to an unlinked file in spill_dir (NULL: $TMPDIR, else /tmp),
 * created only when needed. flags: 0 or UNIQ_INTEGERS. NULL when out of memory.
 */
struct uniq *uniq_new(size_t memory, const char *spill_dir, int flags);
/* Frees the set and closes its file (NULL is fine). */
void uniq_free(struct uniq *u);
/*
 * Adds value, seen on line (lines are kept up to 2^32 - 1, larger ones as that). Returns 1 if it
 * is new as far as memory tells, 0 if it was already there (then *first gets a line it was seen
 * on before), -ENOMEM, or another -errno when spilling to disk fails. After an error, only
 * uniq_free may follow.
 */
int uniq_add(struct uniq *u, const void *value, size_t len, unsigned long line,
	     unsigned long *first);
/*
 * A value's digest made ahead of its add (uniq_prepare), so that the part of the table it will
 * go to is on its way into the CPU cache while other values are checked: a table larger than
 * the cache otherwise waits for memory at almost every add.
 */
struct uniq_ahead {
	uint64_t hi;
	uint32_t lo;
	int made; /* 0: none was made (a value the set may keep as an integer) */
};

/* Prepares a later uniq_add_ahead of value to u, in *a; other values may be added to u in
 * between. Changes nothing in u. */
void uniq_prepare(const struct uniq *u, const void *value, size_t len, struct uniq_ahead *a);
/* uniq_add of value, given what uniq_prepare made of the same value for the same set. */
int uniq_add_ahead(struct uniq *u, const void *value, size_t len, const struct uniq_ahead *a,
		   unsigned long line, unsigned long *first);

/*
 * Ends the adds (only uniq_free may follow) and finds the values uniq_add took as new although
 * they had been seen before, in a run already spilled. Sets *total to how many there are and
 * stores the first min(*total, max) of them in dups, in order of line. Frees the memory of the
 * set first: the merge of the runs reads them through buffers within the set's memory. Returns 0,
 * -ENOMEM, or another -errno when reading the runs fails.
 */
int uniq_finish(struct uniq *u, struct uniq_dup *dups, size_t max, uint64_t *total);

#endif
