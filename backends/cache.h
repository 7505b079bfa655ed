/*
 * A bounded cache of blocks of blobs, as stored (sealed bytes stay sealed: nothing is decrypted
 * here). Block INDEX of blob ID holds the blob's bytes [INDEX * block_size, + block_size), the
 * last block fewer.
 *
 * On disk (a cache directory) each block is one file DIR/ab/ID.INDEX: a header (the blob's size,
 * the block's place and length, a CRC32C of header and bytes) then the bytes. A block is written
 * to a temporary and renamed, so a crash never leaves half a block under its name; a block whose
 * file does not check is removed and reported missing, so the caller fetches it again rather
 * than serve damaged bytes. The files' total size stays under the bound: a put that would pass it
 * first removes the least recently used blocks (a hit refreshes a file's mtime). Two processes
 * may share one directory: the total is kept in DIR/usage, under flock.
 *
 * Without a directory the cache is a few blocks in memory, under the same bound.
 */
#ifndef MESHFS_CACHE_H
#define MESHFS_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

struct cache;

/* Opens (creating it if need be) the cache in dir, or in memory when dir is NULL, holding at
 * most bound bytes of blocks of block_size bytes. Returns 0 or -errno with err set. */
int cache_open(const char *dir, uint64_t bound, uint32_t block_size, struct cache **out,
	       struct mfs_error *err);
/* Closes the cache; its files stay for the next open. */
void cache_close(struct cache *c);

/* Copies block index of blob id into buf (room for block_size bytes) and sets *blob_size.
 * Returns the block's length, or -ENOENT when it is not cached or its copy was damaged (and is
 * now removed). Thread-safe. */
ssize_t cache_get(struct cache *c, const char *id, uint64_t index, void *buf, uint64_t *blob_size);
/* Whether block index of blob id is cached, without reading or checking it. Thread-safe. */
int cache_has(struct cache *c, const char *id, uint64_t index);
/* Keeps a block of len bytes (the block_size of the cache, less for a blob's last block) of the
 * blob id of blob_size bytes, evicting the least recently used blocks to stay under the bound.
 * Nothing is kept when the block alone exceeds the bound. Returns 0 or -errno (the cache then
 * holds the block or not, whole either way). Thread-safe. */
int cache_put(struct cache *c, const char *id, uint64_t index, const void *buf, size_t len,
	      uint64_t blob_size);
/* Drops the blocks of blob id of blob_size bytes. Thread-safe. */
void cache_drop(struct cache *c, const char *id, uint64_t blob_size);
/* Removes temporaries that writers which died left in the directory (older than a minute).
 * Returns 0 or -errno. */
int cache_clean(struct cache *c);

#endif
