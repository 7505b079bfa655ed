/* Looking a word up in the constant tables that map names to values. */
#ifndef MESHFS_LOOKUP_H
#define MESHFS_LOOKUP_H

#include <stddef.h>

/* Index of the entry named s among n entries stride bytes apart, of which *name is the first
 * entry's name (for a plain array of strings, stride is sizeof(char *); for an array of structs,
 * pass &table[0].name and sizeof(table[0])). Names are compared case-blind when fold. Returns
 * the index or -1. */
int mfs_name_index(const char *const *name, size_t n, size_t stride, const char *s, int fold);

#endif
