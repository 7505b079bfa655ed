/*
 * Where bytes live: a store of immutable, content-addressed blobs. A blob's id is the
 * lowercase hex of its BLAKE2b-256 hash (64 characters). Blobs are written once through a
 * writer (temporary file, fsync, rename into place) and then only read or removed.
 *
 * The store is an interface: the local-directory backend (store_local.c) and the S3 one
 * (store_s3.c), chosen by the scheme of a url (store_open_url).
 */
#ifndef MESHFS_STORE_H
#define MESHFS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

#define STORE_ID_HEX	    64 /* characters in a blob id, without the NUL */
#define STORE_CACHE_DEFAULT (1ULL << 30)

struct store;

/* Backends embed these as the first member of their own writer and blob structures. */
struct store_writer {
	struct store *st;
};

struct store_blob {
	struct store *st;
};

struct store_ops {
	int (*writer_open)(struct store *st, struct store_writer **out);
	int (*writer_write)(struct store_writer *w, const void *data, size_t len);
	int (*writer_commit)(struct store_writer *w, char id[STORE_ID_HEX + 1]);
	void (*writer_abort)(struct store_writer *w);
	int (*blob_open)(struct store *st, const char *id, struct store_blob **out);
	ssize_t (*blob_pread)(struct store_blob *b, void *buf, size_t len, uint64_t off);
	uint64_t (*blob_size)(const struct store_blob *b);
	int (*blob_fd)(const struct store_blob *b);
	void (*blob_close)(struct store_blob *b);
	void (*blob_forget)(struct store_blob *b); /* may be NULL: nothing kept */
	int (*verify)(struct store *st, const char *id);
	int (*remove)(struct store *st, const char *id);
	int (*list)(struct store *st, int (*cb)(const char *id, void *ctx), void *ctx);
	int (*clean_staging)(struct store *st);
	void (*close)(struct store *st);
};

struct store {
	const struct store_ops *ops;
};

/*
 * Opens (creating with create != 0) the local-directory store rooted at dir: blobs at
 * dir/ab/cdef…, temporaries in dir/tmp/. Returns 0 or -errno with err set.
 */
int store_local_open(const char *dir, int create, struct store **out, struct mfs_error *err);

/* How store_open_url reaches and caches a remote store; a NULL member takes its default. */
struct store_options {
	/* s3: URL of the service, e.g. http://127.0.0.1:8080; NULL: $AWS_ENDPOINT_URL, else
	 * https://s3.REGION.amazonaws.com */
	const char *endpoint;
	/* NULL: $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1 */
	const char *region;
	/* where read blocks are kept between opens, bounded; NULL: memory only */
	const char *cache_dir;
	/* the cache's bound in bytes; 0: STORE_CACHE_DEFAULT (1 GiB) */
	uint64_t cache_size;
	/* where a writer stages bytes before upload; NULL: $TMPDIR, else /tmp */
	const char *tmp_dir;
	/* s3: 0: the open proves that the bucket exists and that the credential may read it (one
	 * listing of one key); 1: no request until the first read or write, which reports what is
	 * wrong, so that what needs the catalog only works with the store away */
	int lazy;
};
/* Opens the store at url: file:///DIR (a local or shared POSIX directory, as store_local_open) or
 * s3://BUCKET[/PREFIX]. create != 0 makes it (the bucket if missing; a bucket that exists and is
 * ours is fine). o may be NULL. -EINVAL with a clear message for a malformed url or unknown scheme.
 */
int store_open_url(const char *url, const struct store_options *o, int create, struct store **out,
		   struct mfs_error *err);

/* Starts a new blob. The bytes are hashed as they are written. */
int store_writer_open(struct store *st, struct store_writer **out);
/* Appends bytes to the blob being written. Returns 0 or -errno (ENOSPC on a full disk). */
int store_writer_write(struct store_writer *w, const void *data, size_t len);
/* Makes the blob durable and visible under its id (fsync of file and directory, rename); frees
 * the writer whatever the outcome. Writing a blob that already exists is not an error. */
int store_writer_commit(struct store_writer *w, char id[STORE_ID_HEX + 1]);
/* Drops the blob being written, leaving nothing behind; frees the writer. */
void store_writer_abort(struct store_writer *w);

/* Opens a blob for reading. -ENOENT if it does not exist, -EINVAL if id is malformed. */
int store_blob_open(struct store *st, const char *id, struct store_blob **out);
/* Reads up to len bytes at off; short only at the end of the blob. Returns bytes or -errno. */
ssize_t store_blob_pread(struct store_blob *b, void *buf, size_t len, uint64_t off);
uint64_t store_blob_size(const struct store_blob *b);
/* A file descriptor with the blob's bytes at their offsets, for zero-copy replies; or -1. */
int store_blob_fd(const struct store_blob *b);
void store_blob_close(struct store_blob *b);
/* The blob's bytes failed a reader's check: the copies of them the store keeps (the block in
 * memory, the cache) are dropped, so that the next read fetches them again and a repaired blob
 * reads without a new open. Nothing for a store that keeps none. */
void store_blob_forget(struct store_blob *b);

/* Re-hashes a blob: 0 if present and intact, -ENOENT if missing, -EIO if its hash is wrong. */
int store_verify(struct store *st, const char *id);
/* Removes a blob (orphan clean-up, a failed publish's segments): tried even when the store
 * just failed to answer. -ENOENT if absent. */
int store_remove(struct store *st, const char *id);
/* Calls cb for every blob id; stops and returns cb's value when it is non-zero. */
int store_list(struct store *st, int (*cb)(const char *id, void *ctx), void *ctx);
/* Removes temporaries left by writers that never finished (a crash). No writer of this store may
 * be open in any process: call it at start, under the mesh lock. */
int store_clean_staging(struct store *st);
/* Closes the store; open blobs must be closed first. */
void store_close(struct store *st);

#endif
