/* File writes and durability steps that every layer which persists bytes needs alike. */
#ifndef MESHFS_FILEIO_H
#define MESHFS_FILEIO_H

#include <stddef.h>

/* Writes all len bytes to fd, resuming after short writes and EINTR. Returns 0, or -errno of the
 * failing write (-ENOSPC when a write makes no progress); bytes before the failure may have been
 * written. */
int mfs_write_all(int fd, const void *buf, size_t len);
/* Flushes directory name (relative to dfd, or AT_FDCWD) to disk, so that the entries created or
 * renamed in it survive a crash. Returns 0 or -errno. */
int mfs_fsync_dirat(int dfd, const char *name);
/* The directory that holds file, to free(): "." when file names no directory, "/" for one at the
 * root. Returns NULL when out of memory. */
char *mfs_parent_dup(const char *file);
/* Same for the directory that holds file ("." when file names no directory). Returns 0 or
 * -errno. */
int mfs_fsync_parent(const char *file);

#endif
