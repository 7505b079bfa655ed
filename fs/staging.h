/*
 * Staged uploads: the bytes of a file being written through the mount, before it is published.
 * They may be PII, so they never reach the disk in the clear (docs/DESIGN.md §7.4): the file is
 * kept encrypted under a random key that exists only in this process's memory, in blocks sealed
 * with XChaCha20-Poly1305, so writes may come in any order and be rewritten, and reads give back
 * what was written. The file is unlinked from the start (O_TMPFILE where the filesystem has it), so
 * a crash leaves nothing behind to clean, and the key dies with the process.
 */
#ifndef MESHFS_STAGING_H
#define MESHFS_STAGING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct staging;

/* Creates an empty staged file in dir. Returns 0 or -errno. */
int staging_create(struct staging **out, const char *dir);
/* Frees the staged file and its key (NULL is fine). */
void staging_free(struct staging *st);
/* Writes len bytes at off, growing the file (a gap reads as zeros). Returns len or -errno
 * (ENOSPC on a full disk). Safe to call from several threads. */
ssize_t staging_pwrite(struct staging *st, const void *buf, size_t len, uint64_t off);
/* Reads up to len bytes at off; short only at the end. Returns bytes or -errno (EIO if a block
 * does not authenticate). */
ssize_t staging_pread(struct staging *st, void *buf, size_t len, uint64_t off);
/* Sets the size: shortening drops bytes, growing adds zeros. */
int staging_truncate(struct staging *st, uint64_t size);
uint64_t staging_size(struct staging *st);

#endif
