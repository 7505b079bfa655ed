/* Dispatch from the store interface to the backend, and from a url to the backend that opens it. */
#include "backends/store.h"

#include <errno.h>
#include <string.h>

#define FILE_SCHEME "file://"

int store_open_url(const char *url, const struct store_options *o, int create, struct store **out,
		   struct mfs_error *err)
{
	(void)o;
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
