/*
 * Opening and reading files: the pool of open segments, the views of tables (read and checked
 * for every request, never spliced from the segment file unchecked), and generated documents
 * rendered at open.
 */
#include "fs/internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fs/staging.h"

/* ---- the segment pool: open segments shared by every open file of the same blob ---- */

static int pool_get(struct fs *fs, const char *id, const char *binding, struct pooled_segment **out)
{
	struct pooled_segment *free_slot = NULL, *ps;
	struct mfs_error err = {{0}};
	int rc = 0;

	pthread_mutex_lock(&fs->pool_lock);
	for (size_t i = 0; i < SEGMENT_POOL; i++) {
		ps = &fs->pool[i];
		if (ps->seg && !strcmp(ps->id, id)) {
			ps->refs++;
			ps->used = ++fs->pool_clock;
			*out = ps;
			goto out;
		}
		if (!ps->seg && !free_slot)
			free_slot = ps;
		else if (ps->seg && !ps->refs &&
			 (!free_slot || (free_slot->seg && ps->used < free_slot->used)))
			free_slot = ps;
	}
	if (!free_slot) {
		rc = -EMFILE;
		goto out;
	}
	if (free_slot->seg) {
		segment_close(free_slot->seg);
		free_slot->seg = NULL;
	}
	rc = segment_open(&free_slot->seg, fs->m.store, id, binding, &err);
	if (rc) {
		fuse_log(FUSE_LOG_ERR, "meshfs: segment %s: %s\n", id, err.msg);
		goto out;
	}
	/* Readers mostly go front to back, and a masked read skips the sealed chunks between
	 * groups, which the kernel's readahead would otherwise take for random access. */
	if (segment_fd(free_slot->seg) >= 0)
		(void)posix_fadvise(segment_fd(free_slot->seg), 0, 0, POSIX_FADV_SEQUENTIAL);
	snprintf(free_slot->id, sizeof(free_slot->id), "%s", id);
	free_slot->refs = 1;
	free_slot->used = ++fs->pool_clock;
	*out = free_slot;
out:
	pthread_mutex_unlock(&fs->pool_lock);
	return rc;
}

static void pool_put(struct fs *fs, struct pooled_segment *ps)
{
	pthread_mutex_lock(&fs->pool_lock);
	assert(ps->refs > 0);
	ps->refs--;
	pthread_mutex_unlock(&fs->pool_lock);
}

/* ---- opening and reading ---- */

static void audit_plain_open(struct fs *fs, const struct principal *pr,
			     const struct catalog_product *p, const struct catalog_version *v,
			     const struct catalog_table_version *t)
{
	char object[3 * MESH_NAME_MAX];
	struct catalog_audit a = {0};

	mesh_binding(object, sizeof(object), p->domain, p->name, t->name);
	a.at = mesh_now();
	a.principal = pr->name;
	a.action = "open-plain";
	a.object = object;
	a.version = v->number;
	a.view = "plain";
	a.outcome = "ok";
	a.detail = "";
	(void)catalog_audit_add(fs->m.cat, &a);
}

/* Checks that the caller may read the view node n names, and opens its segment. */
static int open_table(struct fs *fs, const struct principal *pr, const struct node *n,
		      struct open_file *of)
{
	struct catalog_product p = {0};
	struct catalog_version v = {0};
	const struct catalog_table_version *t;
	char binding[3 * MESH_NAME_MAX];
	int rc;

	rc = fs_product_get(fs, n->id, &p);
	if (!rc)
		rc = fs_table_get(fs, n, &v, &t);
	if (rc)
		goto out;
	rc = fs_allowed(fs, pr, n->view == SEGMENT_PLAIN ? PRIV_UNMASK : PRIV_READ, &p);
	/* unmask revoked between the lookup and this open: the name now stands for the masked
	 * view, and ESTALE makes the kernel look it up again */
	if (rc == 0 && n->view == SEGMENT_PLAIN && fs_allowed(fs, pr, PRIV_READ, &p) == 1)
		rc = -ESTALE;
	if (rc == 0)
		rc = -EACCES;
	if (rc < 0)
		goto out;
	if (n->view == SEGMENT_PLAIN && !t->has_pii) {
		rc = -ENOENT;
		goto out;
	}
	mesh_binding(binding, sizeof(binding), p.domain, p.name, t->name);
	rc = pool_get(fs, t->segment, binding, &of->ps);
	if (rc)
		goto out;
	of->view = n->view;
	of->cache = segment_cache_new();
	if (!of->cache) {
		rc = -ENOMEM;
		goto out;
	}
	if (n->view == SEGMENT_PLAIN)
		audit_plain_open(fs, pr, &p, &v, t);
out:
	catalog_product_release(&p);
	catalog_version_release(&v);
	return rc;
}

/* Ends an open file, letting go of its upload, segment and writable inode. NULL is fine. */
void read_open_file_free(struct fs *fs, struct open_file *of)
{
	if (!of)
		return;
	pthread_mutex_lock(&fs->files_lock);
	if (of->prev)
		of->prev->next = of->next;
	else
		fs->files = of->next;
	if (of->next)
		of->next->prev = of->prev;
	pthread_mutex_unlock(&fs->files_lock);
	if (of->through) {
		fs_lock(fs);
		if (of->through->gen == of->through_gen) {
			assert(of->through->opens > 0);
			of->through->opens--;
		}
		fs_unlock(fs);
	}
	if (of->up)
		upload_release(fs, of->up);
	if (of->ps)
		pool_put(fs, of->ps);
	segment_cache_free(of->cache);
	pthread_mutex_destroy(&of->cache_lock);
	strbuf_release(&of->doc);
	free(of);
}

/* A new open file, listed in fs->files (see struct fs), or NULL. */
struct open_file *read_open_file_new(struct fs *fs)
{
	struct open_file *of = calloc(1, sizeof(*of));

	if (!of)
		return NULL;
	strbuf_init(&of->doc);
	pthread_mutex_init(&of->cache_lock, NULL);
	pthread_mutex_lock(&fs->files_lock);
	of->next = fs->files;
	if (fs->files)
		fs->files->prev = of;
	fs->files = of;
	pthread_mutex_unlock(&fs->files_lock);
	return of;
}

void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	const struct principal *pr;
	struct writable *w;
	struct open_file *of;
	struct node n, t;
	int rc, writable, written = 0;
	int writing = (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);

	of = read_open_file_new(fs);
	rc = of ? fs_request_begin(fs, req, ino, &n, &pr) : -ENOMEM;
	if (rc)
		goto fail;
	rc = node_target(fs, &n, &t, &writable);
	w = !rc && writable ? &fs->writables[n.id] : NULL;
	n = t;
	if (rc)
		;
	else if (n.kind == N_UPLOAD)
		rc = upload_open(fs, pr, &n, fi->flags, of);
	else if (writing && writable)
		rc = upload_open_for_publish(fs, req, pr, &n, w, of);
	else if (writing && (n.kind == N_TABLE || n.kind == N_CONTRACT))
		rc = upload_refuse_write(fs, pr, &n);
	else if (writing)
		rc = node_is_document(n.kind) ? -EPERM : -EISDIR;
	else if (n.kind == N_TABLE)
		rc = open_table(fs, pr, &n, of);
	else if (node_is_document(n.kind))
		rc = node_render(fs, pr, &n, &of->doc);
	else
		rc = -EISDIR;
	if (!rc && w) {
		w->opens++;
		of->through = w;
		of->through_gen = w->gen;
		written = w->writers > 0;
	}
	fs_unlock(fs);
	if (rc)
		goto fail;
	/*
	 * Immutable inodes keep their page cache; generated documents are read as rendered at
	 * this open, whatever size an earlier stat saw; uploads change under their writer. A
	 * publisher's inode that an upload is being written through has the size the writes gave
	 * it in the kernel, past which a read through the page cache would find zeros: read
	 * straight from the daemon, which ends the file where the published view ends.
	 */
	if (!of->up && (n.kind == N_TABLE || n.kind == N_CONTRACT) && !written)
		fi->keep_cache = 1;
	else
		fi->direct_io = 1;
	if (of->up)
		of->opener = upload_task_tgid(fuse_req_ctx(req)->pid);
	fi->fh = (uintptr_t)of;
	if (fuse_reply_open(req, fi) == -ENOENT)
		read_open_file_free(fs, of);
	return;
fail:
	read_open_file_free(fs, of);
	fuse_reply_err(req, -rc);
}

/* Key look-up for plain reads: a key not yet cached is read from the catalog, which is shared. */
static int fs_segment_key(void *ctx, uint32_t key_id, uint8_t key[32])
{
	struct fs *fs = ctx;
	int rc;

	fs_lock(fs);
	rc = mesh_segment_key(&fs->m, key_id, key);
	fs_unlock(fs);
	return rc;
}

/* Each FUSE thread's reply buffer, kept between requests: no allocation and no fresh pages
 * to fault in for every read. What held plaintext is zeroed after each reply. */
struct reply_buffer {
	char *buf;
	size_t cap;
};

static pthread_key_t reply_key;
static pthread_once_t reply_once = PTHREAD_ONCE_INIT;

static void reply_buffer_free(void *p)
{
	struct reply_buffer *b = p;

	if (b->cap)
		sodium_memzero(b->buf, b->cap);
	free(b->buf);
	free(b);
}

static void reply_key_make(void)
{
	if (pthread_key_create(&reply_key, reply_buffer_free))
		abort();
}

static char *reply_buffer(size_t size)
{
	struct reply_buffer *b;
	char *p;

	pthread_once(&reply_once, reply_key_make);
	b = pthread_getspecific(reply_key);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b || pthread_setspecific(reply_key, b)) {
			free(b);
			return NULL;
		}
	}
	if (size > b->cap) {
		p = malloc(size);
		if (!p)
			return NULL;
		if (b->cap)
			sodium_memzero(b->buf, b->cap);
		free(b->buf);
		b->buf = p;
		b->cap = size;
	}
	return b->buf;
}

void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;
	ssize_t got;
	char *buf;
	int secret;

	(void)ino;
	if (!of->up && !of->ps) {
		size_t start = (size_t)off < of->doc.len ? (size_t)off : of->doc.len;
		size_t len = of->doc.len - start < size ? of->doc.len - start : size;

		fuse_reply_buf(req, of->doc.buf + start, len);
		return;
	}
	buf = reply_buffer(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* Once replied to, the file may be released (and of freed) by another thread. */
	secret = of->up || of->view == SEGMENT_PLAIN;
	if (of->up) {
		got = staging_pread(of->up->st, buf, size, (uint64_t)off);
	} else if (pthread_mutex_trylock(&of->cache_lock) == 0) {
		got = segment_read(of->ps->seg, of->view, buf, size, (uint64_t)off, fs_segment_key,
				   fs, of->cache);
		pthread_mutex_unlock(&of->cache_lock);
	} else {
		/* The kernel's readahead sends requests of one file at once: they need not wait
		 * for one cache. */
		got = segment_read(of->ps->seg, of->view, buf, size, (uint64_t)off, fs_segment_key,
				   fs, NULL);
	}
	if (got < 0)
		fuse_reply_err(req, (int)-got);
	else
		fuse_reply_buf(req, buf, (size_t)got);
	/* a failed read may have filled part of the buffer */
	if (secret)
		sodium_memzero(buf, got > 0 ? (size_t)got : size);
}

void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	/* Written after the opener's last close (by a child that kept the descriptor): published
	 * now, though nobody sees the outcome but publish.log. */
	if (of->up)
		(void)upload_flush(fs_of(req), of->up, 0, ino);
	read_open_file_free(fs_of(req), of);
	fuse_reply_err(req, 0);
}
