/* Dispatch from the store interface to the backend, and from a url to the backend that opens it. */
#include "backends/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backends/store_s3.h"

#define FILE_SCHEME "file://"
#define S3_SCHEME   "s3://"
#define BUCKET_MIN  3
#define BUCKET_MAX  63
#define PREFIX_MAX  512

/* S3's rules for a bucket name: 3 to 63 of a-z 0-9 . -, starting and ending with a letter or
 * digit. */
static int bucket_valid(const char *b, size_t n)
{
	if (n < BUCKET_MIN || n > BUCKET_MAX || b[0] == '-' || b[0] == '.' || b[n - 1] == '-' ||
	    b[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' ||
		      b[i] == '.'))
			return 0;
	return 1;
}

/* A prefix of path segments of A-Z a-z 0-9 - _ . (not "." or ".."), joined by single slashes:
 * keys that need no escaping in a signed path. */
static int prefix_valid(const char *p)
{
	size_t seg = 0, n = strlen(p);

	if (n > PREFIX_MAX)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		char c = p[i];

		if (c == '/' || !c) {
			if (seg == 0 || (seg == 1 && p[i - 1] == '.') ||
			    (seg == 2 && p[i - 1] == '.' && p[i - 2] == '.'))
				return 0;
			seg = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.') {
			seg++;
		} else {
			return 0;
		}
	}
	return 1;
}

static int open_s3(const char *url, const struct store_options *o, int create, struct store **out,
		   struct mfs_error *err)
{
	const char *bucket = url + strlen(S3_SCHEME), *slash = strchr(bucket, '/');
	size_t n = slash ? (size_t)(slash - bucket) : strlen(bucket);
	char name[BUCKET_MAX + 1], prefix[PREFIX_MAX + 1] = "";

	if (!bucket_valid(bucket, n))
		return mfs_error_set(err, EINVAL,
				     "%s: not a bucket name (3 to 63 of a-z 0-9 . -): "
				     "s3://BUCKET[/PREFIX]",
				     url);
	memcpy(name, bucket, n);
	name[n] = '\0';
	if (slash && slash[1]) {
		n = strlen(slash + 1);
		/* One trailing slash is what people write for a folder. */
		if (slash[n] == '/')
			n--;
		if (n <= PREFIX_MAX) {
			memcpy(prefix, slash + 1, n);
			prefix[n] = '\0';
		}
		if (n > PREFIX_MAX || !prefix_valid(prefix))
			return mfs_error_set(err, EINVAL,
					     "%s: the prefix must be path segments of A-Z a-z 0-9 "
					     "- _ . joined by single slashes: s3://BUCKET[/PREFIX]",
					     url);
	}
	return store_s3_open(name, prefix, o, create, out, err);
}

int store_open_url(const char *url, const struct store_options *o, int create, struct store **out,
		   struct mfs_error *err)
{
	if (!url || !*url)
		return mfs_error_set(err, EINVAL,
				     "no store url (file:///DIR or s3://BUCKET[/PREFIX])");
	if (!strncmp(url, FILE_SCHEME, strlen(FILE_SCHEME))) {
		const char *dir = url + strlen(FILE_SCHEME);

		/* file://HOST/... names another machine's file, which is no store of ours. */
		if (dir[0] != '/')
			return mfs_error_set(
			    err, EINVAL, "%s: a file url names an absolute directory: file:///DIR",
			    url);
		return store_local_open(dir, create, out, err);
	}
	if (!strncmp(url, S3_SCHEME, strlen(S3_SCHEME)))
		return open_s3(url, o, create, out, err);
	return mfs_error_set(err, EINVAL,
			     "%s: not a store url (file:///DIR or s3://BUCKET[/PREFIX])", url);
}

int store_writer_open(struct store *st, struct store_writer **out)
{
	return st->ops->writer_open(st, out);
}

int store_writer_write(struct store_writer *w, const void *data, size_t len)
{
	return w->st->ops->writer_write(w, data, len);
}

int store_writer_commit(struct store_writer *w, char id[STORE_ID_HEX + 1])
{
	return w->st->ops->writer_commit(w, id);
}

void store_writer_abort(struct store_writer *w)
{
	if (w)
		w->st->ops->writer_abort(w);
}

int store_blob_open(struct store *st, const char *id, struct store_blob **out)
{
	return st->ops->blob_open(st, id, out);
}

ssize_t store_blob_pread(struct store_blob *b, void *buf, size_t len, uint64_t off)
{
	return b->st->ops->blob_pread(b, buf, len, off);
}

uint64_t store_blob_size(const struct store_blob *b)
{
	return b->st->ops->blob_size(b);
}

int store_blob_fd(const struct store_blob *b)
{
	return b->st->ops->blob_fd(b);
}

void store_blob_close(struct store_blob *b)
{
	if (b)
		b->st->ops->blob_close(b);
}

void store_blob_forget(struct store_blob *b)
{
	if (b->st->ops->blob_forget)
		b->st->ops->blob_forget(b);
}

int store_verify(struct store *st, const char *id)
{
	return st->ops->verify(st, id);
}

int store_remove(struct store *st, const char *id)
{
	return st->ops->remove(st, id);
}

int store_list(struct store *st, int (*cb)(const char *id, void *ctx), void *ctx)
{
	return st->ops->list(st, cb, ctx);
}

int store_clean_staging(struct store *st)
{
	return st->ops->clean_staging(st);
}

void store_close(struct store *st)
{
	if (st)
		st->ops->close(st);
}
