/* Moving a mesh to a shared one: its master key, its segments and its catalog, checked. */
#include "mesh/mesh.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#define COPY_CHUNK (1 << 20)

struct blob_ids {
	char **id;
	size_t n, cap;
};

static int blob_ids_add(const char *id, void *ctx)
{
	struct blob_ids *b = ctx;

	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		char **grown = realloc(b->id, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		b->id = grown;
		b->cap = cap;
	}
	b->id[b->n] = strdup(id);
	return b->id[b->n++] ? 0 : -ENOMEM;
}

static void blob_ids_release(struct blob_ids *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->id[i]);
	free(b->id);
}

/* Copies blob id from one store to another, which must give it the same id. */
static int blob_copy(struct store *from, struct store *to, const char *id, void *buf,
		     uint64_t *bytes, struct mfs_error *err)
{
	struct store_writer *w = NULL;
	struct store_blob *b = NULL;
	char got[STORE_ID_HEX + 1];
	uint64_t off = 0, size;
	ssize_t n;
	int rc;

	rc = store_blob_open(from, id, &b);
	if (rc) {
		mfs_error_set(err, rc, "segment %s: %s", id, strerror(-rc));
		goto out;
	}
	size = store_blob_size(b);
	rc = store_writer_open(to, &w);
	while (!rc && off < size) {
		n = store_blob_pread(b, buf, COPY_CHUNK, off);
		if (n <= 0) {
			rc = n < 0 ? (int)n : -EIO;
			break;
		}
		rc = store_writer_write(w, buf, (size_t)n);
		off += (uint64_t)n;
	}
	if (!rc) {
		rc = store_writer_commit(w, got);
		w = NULL;
	}
	if (!rc && strcmp(got, id))
		rc = -EIO; /* the bytes read are not the blob the catalog names */
	if (rc)
		mfs_error_set(err, rc, "cannot copy segment %s: %s", id, strerror(-rc));
	else
		*bytes += size;
out:
	if (w)
		store_writer_abort(w);
	store_blob_close(b);
	return rc;
}

/* Every segment any version of m refers to, into the store at init. */
static int segments_copy(struct mesh *m, const struct mesh_init *init,
			 int (*progress)(const char *what, uint64_t n, void *ctx), void *ctx,
			 struct mfs_error *err)
{
	struct store_options so = {.endpoint = init->endpoint, .region = init->region};
	struct blob_ids ids = {0};
	struct store *to = NULL;
	uint64_t bytes = 0;
	void *buf = NULL;
	int rc;

	rc = catalog_segment_list(m->cat, blob_ids_add, &ids);
	if (rc) {
		mfs_error_set(err, rc, "cannot list the segments: %s", strerror(-rc));
		goto out;
	}
	rc = store_open_url(init->store, &so, 1, &to, err);
	if (rc)
		goto out;
	buf = malloc(COPY_CHUNK);
	if (!buf) {
		rc = mfs_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; !rc && i < ids.n; i++)
		rc = blob_copy(m->store, to, ids.id[i], buf, &bytes, err);
	if (!rc && progress)
		rc = progress("segments", ids.n, ctx);
	if (!rc && progress)
		rc = progress("bytes", bytes, ctx);
out:
	free(buf);
	store_close(to);
	blob_ids_release(&ids);
	return rc;
}

struct table_progress {
	int (*progress)(const char *what, uint64_t n, void *ctx);
	void *ctx;
};

static int table_done(const char *table, uint64_t rows, void *ctx)
{
	struct table_progress *t = ctx;

	return t->progress ? t->progress(table, rows, t->ctx) : 0;
}

/* The catalog of m copied into a new one at target, with what a shared mesh records of itself,
 * in one transaction. */
static int catalog_move(struct mesh *m, const char *target, const struct mesh_init *init,
			int (*progress)(const char *what, uint64_t n, void *ctx), void *ctx,
			struct mfs_error *err)
{
	struct table_progress tp = {progress, ctx};
	struct catalog *to = NULL;
	int rc;

	rc = catalog_open(&to, target, CATALOG_CREATE, err);
	if (rc)
		return rc;
	rc = catalog_begin(to);
	if (rc) {
		mfs_error_set(err, rc, "catalog busy: %s", strerror(-rc));
		goto out;
	}
	rc = catalog_copy(m->cat, to, table_done, &tp, err);
	if (!rc)
		rc = mesh_record(to, init, err);
	if (rc) {
		catalog_rollback(to);
		goto out;
	}
	rc = catalog_commit(to);
	if (rc)
		mfs_error_set(err, rc, "cannot commit the moved catalog: %s", strerror(-rc));
out:
	catalog_close(to);
	return rc;
}

int mesh_migrate(struct mesh *m, const char *target, const struct mesh_init *init,
		 const char *key_file, int (*progress)(const char *what, uint64_t n, void *ctx),
		 void *ctx, struct mfs_error *err)
{
	uint8_t *master = NULL;
	int lock = -1, made_key = 0, rc;

	if (!catalog_target_shared(target) || !init || !init->store || !key_file)
		return mfs_error_set(err, EINVAL,
				     "a mesh moves to a shared one: a PostgreSQL URL, a store and "
				     "a key file to create");
	/* no publish may land in the old catalog once its copy has begun */
	lock = mesh_lock(m, 1, 0);
	if (lock == -EBUSY) {
		rc = mfs_error_set(err, EBUSY,
				   "a publish is in progress: try again once it is done (and stop "
				   "the mesh's mounts first)");
		goto out;
	}
	if (lock < 0) {
		rc = mfs_error_set(err, -lock, "cannot lock the mesh: %s", strerror(-lock));
		goto out;
	}
	/* the key first: it proves the mesh opens, and is the one step a retry cannot redo */
	rc = mesh_keys(m, err);
	if (rc)
		goto out;
	master = sodium_malloc(KEY_BYTES);
	if (!master) {
		rc = mfs_error_set(err, ENOMEM, "cannot allocate protected memory for the key");
		goto out;
	}
	rc = keys_load_master(m->key_file, master, err);
	if (!rc)
		rc = keys_save_master(key_file, master, err);
	if (rc)
		goto out;
	made_key = 1;
	rc = segments_copy(m, init, progress, ctx, err);
	if (!rc)
		rc = catalog_move(m, target, init, progress, ctx, err);
out:
	if (rc && made_key)
		unlink(key_file);
	sodium_free(master);
	mesh_unlock(m, lock);
	return rc;
}
