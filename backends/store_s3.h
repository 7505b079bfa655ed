/*
 * The S3 store: blob ID is the object PREFIX/blobs/ab/cdef… of a bucket (the local store's
 * fan-out), written once from a staged temporary (one PUT, or a multipart upload for large
 * blobs) and read in ranged GETs of fixed blocks through a bounded cache (backends/cache.h).
 */
#ifndef MESHFS_STORE_S3_H
#define MESHFS_STORE_S3_H

#include <stdint.h>

#include "backends/store.h"

#define STORE_S3_BLOCK	   (4u << 20)  /* bytes of a ranged GET and of a cached block */
#define STORE_S3_PART	   (16u << 20) /* bytes of a multipart part; a blob up to this is one PUT */
#define STORE_S3_PART_MIN  (5u << 20)  /* S3's smallest part but the last */
#define STORE_S3_LIST_PAGE 1000	       /* keys a listing asks for per page */
#define STORE_S3_STAGING_S 3600 /* age at which an unfinished multipart upload is abandoned */

/*
 * Opens the store of bucket under prefix (NULL or "": the bucket's top) with options o (may be
 * NULL; see struct store_options). Checks the bucket and the credential with one listing; with
 * create != 0 a missing bucket is made first. Returns 0 or -errno with err set: -ENOENT for a
 * missing bucket, -EACCES when the credential is refused, -ETIMEDOUT or -EIO when the service
 * does not answer as it should.
 */
int store_s3_open(const char *bucket, const char *prefix, const struct store_options *o, int create,
		  struct store **out, struct mfs_error *err);

/* What a test may shrink so that a case stays small. */
struct store_s3_tuning {
	uint32_t part_size;   /* at least STORE_S3_PART_MIN; default STORE_S3_PART */
	uint32_t list_page;   /* 1 to 1000; default STORE_S3_LIST_PAGE */
	uint32_t staging_age; /* seconds; 0: any age; default STORE_S3_STAGING_S */
};

/* Sets the tuning of an S3 store st (opened by store_s3_open) before it is used: every member
 * as given. */
void store_s3_tune(struct store *st, const struct store_s3_tuning *t);

#endif
