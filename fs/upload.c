/*
 * Writing through the mount (docs/DESIGN.md §5): uploads, publishers' own inodes of the current
 * tables and contract, and publishing at the opener's close.
 */
#include "fs/internal.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/staging.h"
#include "mesh/publish.h"

/* Names in a product directory that are the mesh's own, never a writer's. */
static int reserved_name(const char *name)
{
	return !strcmp(name, "README.md") || !strcmp(name, "publish.log") ||
	       !strcmp(name, "versions");
}

/* The upload an N_UPLOAD node names, or NULL once it is gone: a stale generation misses. */
struct upload *upload_at(struct fs *fs, const struct node *n)
{
	struct upload *up;

	if (n->id < 0 || n->id >= MAX_UPLOADS)
		return NULL;
	up = fs->uploads[n->id];
	return up && up->gen == (uint32_t)n->ver ? up : NULL;
}

/* The writer's upload called name in a product directory. */
struct upload *upload_find(struct fs *fs, int64_t product_id, const char *name, uid_t uid)
{
	for (size_t i = 0; i < MAX_UPLOADS; i++) {
		struct upload *up = fs->uploads[i];

		if (up && up->linked && up->product_id == product_id && up->uid == uid &&
		    !strcmp(up->name, name))
			return up;
	}
	return NULL;
}

/* The node of an upload, for its inode number. */
void upload_node(struct fs *fs, const struct upload *up, struct node *n)
{
	memset(n, 0, sizeof(*n));
	n->kind = N_UPLOAD;
	for (size_t i = 0; i < MAX_UPLOADS; i++)
		if (fs->uploads[i] == up)
			n->id = (int64_t)i;
	n->ver = up->gen;
}

static int upload_new(struct fs *fs, int64_t product_id, const char *name,
		      const struct fuse_ctx *ctx, int linked, struct upload **out)
{
	struct upload *up;
	size_t slot;
	char staging[4096];
	int rc;

	for (slot = 0; slot < MAX_UPLOADS && fs->uploads[slot]; slot++)
		;
	if (slot == MAX_UPLOADS)
		return -ENFILE;
	up = calloc(1, sizeof(*up));
	if (!up)
		return -ENOMEM;
	up->name = strdup(name);
	snprintf(staging, sizeof(staging), "%s/staging", fs->m.local_dir);
	rc = up->name ? staging_create(&up->st, staging) : -ENOMEM;
	if (rc) {
		free(up->name);
		free(up);
		return rc;
	}
	up->product_id = product_id;
	up->uid = ctx->uid;
	up->gid = ctx->gid;
	up->linked = linked;
	up->mode = 0644;
	up->mtime = (int64_t)time(NULL);
	/* Generations make a stale inode number of a reused slot miss instead of alias. */
	up->gen = ++fs->upload_gen & INO_MASK(INO_VER_BITS);
	fs->uploads[slot] = up;
	*out = up;
	return 0;
}

/* Frees an upload nobody has open and nobody can name any more. */
static void upload_settle(struct fs *fs, struct upload *up)
{
	if (up->opens || up->linked)
		return;
	if (up->through && up->through->gen == up->through_gen) {
		assert(up->through->writers > 0);
		up->through->writers--;
	}
	for (size_t i = 0; i < MAX_UPLOADS; i++)
		if (fs->uploads[i] == up)
			fs->uploads[i] = NULL;
	staging_free(up->st);
	free(up->name);
	free(up);
}

/* Attributes of an upload: its writer's, with the size staged so far. Returns 0. */
int upload_stat(struct fs *fs, const struct upload *up, fuse_ino_t ino, struct stat *st)
{
	node_stat_fill(st, ino, S_IFREG | (up->mode & 07777), staging_size(up->st), up->mtime, fs);
	st->st_uid = up->uid;
	st->st_gid = up->gid;
	return 0;
}

/*
 * The writable inode of uid for target: looked for in a few slots from a place the pair hashes
 * to. One that a file is open through is not handed out again: a writer's writes grow the
 * kernel's size of the inode they go through, which a reader of the same inode would read past
 * (see fs_open for what is left of that). A fresh one is made in a slot nobody has open,
 * reusing the one made first.
 */
void upload_writable_node(struct fs *fs, uid_t uid, struct node *n)
{
	uint64_t h = (uint64_t)n->kind * 0x9E3779B97F4A7C15ULL ^
		     (uint64_t)n->id * 0xC2B2AE3D27D4EB4FULL ^
		     (uint64_t)n->ver * 0x165667B19E3779F9ULL ^ (uint64_t)n->tidx << 40 ^ uid;
	size_t home = (size_t)((h ^ h >> 29) % MAX_WRITABLES), slot = MAX_WRITABLES;
	struct writable *w;

	for (size_t i = 0; i < WRITABLE_PROBES; i++) {
		size_t at = (home + i) % MAX_WRITABLES;

		w = &fs->writables[at];
		if (w->opens || w->writers)
			continue;
		if (w->gen && w->uid == uid && !memcmp(&w->target, n, sizeof(*n))) {
			slot = at;
			goto found;
		}
		if (slot == MAX_WRITABLES || !w->gen ||
		    (fs->writables[slot].gen && w->made < fs->writables[slot].made))
			slot = at;
	}
	/* every slot open: the one here goes stale for whoever has it open */
	if (slot == MAX_WRITABLES)
		slot = home;
	w = &fs->writables[slot];
	w->uid = uid;
	w->target = *n;
	w->writers = 0;
	w->opens = 0;
	w->made = ++fs->writables_made;
	w->gen = (++fs->writable_gen & INO_MASK(INO_VER_BITS)) ?: ++fs->writable_gen;
found:
	memset(n, 0, sizeof(*n));
	n->kind = N_WRITABLE;
	n->id = (int64_t)slot;
	n->ver = w->gen;
}

/* Ends one open of an upload; an upload under a name that publishes had its publish at flush. */
void upload_release(struct fs *fs, struct upload *up)
{
	fs_lock(fs);
	assert(up->opens > 0);
	up->opens--;
	if (!up->opens && publish_name_publishes(up->name))
		up->linked = 0;
	upload_settle(fs, up);
	fs_unlock(fs);
}

struct staging_cursor {
	struct staging *st;
	uint64_t off;
};

static ssize_t staging_source(void *ctx, void *buf, size_t len)
{
	struct staging_cursor *c = ctx;
	ssize_t n = staging_pread(c->st, buf, len, c->off);

	if (n > 0)
		c->off += (uint64_t)n;
	return n;
}

/* Drops the kernel's attributes of a node, if it has its inode: it asks for them again, and a
 * directory's mtime tells it whether the listing it kept is still right (dir_stamp). */
void upload_node_changed(struct fs *fs, enum node_kind kind, int64_t id)
{
	struct node n = {.kind = kind, .id = id};
	fuse_ino_t ino;

	if (fs->se && !fs_ino_encode(&n, &ino))
		(void)fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
}

/* After a publish, here or by others: the product's listings, README and versions/latest are out
 * of date. Called without fs->lock, so that the kernel can ask while it takes the notice. */
void upload_product_changed(struct fs *fs, int64_t product_id)
{
	upload_node_changed(fs, N_PRODUCT, product_id);
	upload_node_changed(fs, N_VERSIONS, product_id);
	upload_node_changed(fs, N_LATEST, product_id);
	upload_node_changed(fs, N_PRODUCT_README, product_id);
}

/*
 * The publish committed on a connection of its own. The mount's connection learns of it from the
 * notification (PostgreSQL), which may still be on its way, and its caches, kept while the change
 * stamp stays the same, would answer the writer's next request with the version before: one
 * round trip takes it in. A failure leaves it to the notification, as for anyone else's change.
 * Called with fs->lock held.
 */
static void upload_seen(struct fs *fs)
{
	int64_t version;

	if (catalog_data_version(fs->m.cat, &version))
		fuse_log(FUSE_LOG_DEBUG, "meshfs: the catalog's notifications are late\n");
}

/*
 * Publishes what up holds under the name as_name. The catalog lock is not held meanwhile: a
 * publish reads the whole upload, and the rest of the mount must go on. It uses a mesh handle of
 * its own (a catalog connection is for one thread at a time).
 */
static int upload_publish(struct fs *fs, struct upload *up, const char *as_name)
{
	struct catalog_product p = {0};
	struct staging_cursor cur = {.st = up->st};
	struct publish_result res;
	struct principal pr = {0};
	struct mfs_error err = {{0}};
	struct mesh m;
	int rc, opened = 0;

	fs_lock(fs);
	up->dirty = 0;
	up->attempted = 1;
	rc = fs_product_get(fs, up->product_id, &p);
	fs_unlock(fs);
	if (rc)
		goto out;
	rc = principal_init(&pr, up->uid, up->gid);
	if (rc)
		goto out;
	rc = mesh_open_like(&m, &fs->m, &err);
	if (rc)
		goto out;
	opened = 1;
	rc = publish_upload(&m, &pr, p.domain, p.name, as_name, NULL, staging_source, &cur, &res,
			    &err);
out:
	if (rc)
		fuse_log(FUSE_LOG_WARNING, "meshfs: %s/%s/%s by %s: rejected: %s\n", p.domain,
			 p.name, as_name, pr.name, err.msg[0] ? err.msg : strerror(-rc));
	else
		fuse_log(FUSE_LOG_INFO, "meshfs: %s/%s/%s by %s: version %lld\n", p.domain, p.name,
			 as_name, pr.name, (long long)res.version);
	if (!rc) {
		fs_lock(fs);
		upload_seen(fs);
		fs_unlock(fs);
		upload_product_changed(fs, up->product_id);
	}
	if (opened)
		mesh_close(&m);
	principal_release(&pr);
	catalog_product_release(&p);
	return rc;
}

/* Checks that the caller may publish to the product, for opens and creates; a refusal is
 * audited like any other (docs/DESIGN.md §5), under the name being written. */
static int may_publish(struct fs *fs, const struct principal *pr, int64_t product_id,
		       const char *name, struct catalog_product *p)
{
	char object[2 * MESH_NAME_MAX + NAME_MAX + 4];
	struct catalog_audit a = {0};
	int rc = fs_product_get(fs, product_id, p);

	if (!rc)
		rc = acl_allowed(fs->m.cat, pr, PRIV_PUBLISH, p->domain, p->name);
	if (rc)
		return rc < 0 ? rc : 0;
	snprintf(object, sizeof(object), "%s/%s/%s", p->domain, p->name, name);
	a.at = mesh_now();
	a.principal = pr->name;
	a.action = "reject";
	a.object = object;
	a.view = "";
	a.outcome = "denied";
	a.detail = "no publish right";
	(void)catalog_audit_add(fs->m.cat, &a);
	fuse_log(FUSE_LOG_WARNING, "meshfs: %s by %s: refused: no publish right\n", object,
		 pr->name);
	return -EACCES;
}

/*
 * Whether process tgid still has a descriptor open for writing on inode ino of this mount: the
 * kernel sends a FLUSH for every close(), and removes the descriptor before it. Read from
 * /proc/TGID/fdinfo (which names the inode without asking this daemon for it); where that says
 * nothing (an older kernel, no /proc), the answer is yes, so that nothing empty is published
 * on a guess.
 */
static int upload_held_elsewhere(struct fs *fs, pid_t tgid, fuse_ino_t ino)
{
	char path[64], line[128];
	unsigned long long at;
	unsigned flags, mnt;
	int held = 0, named = 0, writes, here, same;
	struct dirent *de;
	FILE *f;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)tgid);
	d = opendir(path);
	if (!d)
		return 1;
	while (!held && (de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", (int)tgid, de->d_name) >=
			(int)sizeof(path) ||
		    !(f = fopen(path, "re")))
			continue;
		writes = 0;
		here = 1;
		same = 0;
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "flags: %o", &flags) == 1)
				writes = (flags & O_ACCMODE) != O_RDONLY;
			else if (sscanf(line, "mnt_id: %u", &mnt) == 1)
				here = !fs->mnt_id || mnt == fs->mnt_id;
			else if (sscanf(line, "ino: %llu", &at) == 1) {
				named = 1;
				same = at == (unsigned long long)ino;
			}
		}
		fclose(f);
		held = writes && here && same;
	}
	closedir(d);
	return held || !named;
}

/*
 * Publishes an upload written since its last publish attempt, if its name publishes. An upload
 * never written (cp of an empty file) is published too, and so rejected with its reason, once
 * its opener holds no other descriptor of it: a shell redirection's first close comes before
 * the command writes anything.
 */
int upload_flush(struct fs *fs, struct upload *up, pid_t opener, fuse_ino_t ino)
{
	char name[NAME_MAX + 1];
	int dirty, never_written;

	fs_lock(fs);
	dirty = up->dirty;
	never_written = !up->attempted && !staging_size(up->st);
	snprintf(name, sizeof(name), "%s", up->name);
	fs_unlock(fs);
	if (!publish_name_publishes(name))
		return 0;
	if (!dirty && (!never_written || !opener || upload_held_elsewhere(fs, opener, ino)))
		return 0;
	return upload_publish(fs, up, name);
}

/* The process (thread group) of a thread: FUSE requests name the calling thread. */
pid_t upload_task_tgid(pid_t tid)
{
	char path[64], line[128];
	pid_t tgid = tid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return tid;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

/* Opens for writing the name a table or contract inode stands for: a new, empty upload that
 * replaces it as a whole when published; published versions are never modified. */
int upload_open_for_publish(struct fs *fs, fuse_req_t req, const struct principal *pr,
			    const struct node *n, struct writable *w, struct open_file *of)
{
	struct catalog_product p = {0};
	struct catalog_version v = {0};
	const struct catalog_table_version *t;
	char name[MESH_NAME_MAX + 8];
	int rc;

	/* Only publishers' own inodes of TABLE.csv and contract.yaml come here: writing the name
	 * starts an upload, even when another publish made a newer version since the lookup. */
	if (n->kind == N_CONTRACT) {
		snprintf(name, sizeof(name), "contract.yaml");
	} else {
		rc = fs_table_get(fs, n, &v, &t);
		if (rc)
			goto out;
		snprintf(name, sizeof(name), "%s.csv", t->name);
	}
	rc = may_publish(fs, pr, n->id, name, &p);
	if (rc)
		goto out;
	rc = upload_new(fs, n->id, name, fuse_req_ctx(req), 0, &of->up);
	if (!rc) {
		of->up->opens++;
		of->up->through = w;
		of->up->through_gen = w->gen;
		w->writers++;
	}
out:
	catalog_product_release(&p);
	catalog_version_release(&v);
	return rc;
}

/* Opens an upload again, for its writer only (EACCES for others); O_TRUNC empties it. */
int upload_open(struct fs *fs, const struct principal *pr, const struct node *n, int flags,
		struct open_file *of)
{
	struct upload *up = upload_at(fs, n);
	int rc = 0;

	if (!up)
		return -ENOENT;
	if (up->uid != pr->uid)
		return -EACCES;
	if (flags & O_TRUNC)
		rc = staging_truncate(up->st, 0);
	if (!rc) {
		up->opens++;
		of->up = up;
	}
	return rc;
}

/*
 * A write to a shared inode of a table or contract: one of a past version (EROFS), or the
 * current one reached by someone who may not publish (EACCES, audited) or by a publisher
 * through versions/ (EROFS: TABLE.csv is the name that publishes).
 */
int upload_refuse_write(struct fs *fs, const struct principal *pr, const struct node *n)
{
	struct catalog_product p = {0};
	struct catalog_version v = {0};
	const struct catalog_table_version *t;
	char name[MESH_NAME_MAX + 8] = "contract.yaml";
	int rc;

	rc = fs_product_get(fs, n->id, &p);
	if (!rc && (n->kind == N_CONTRACT ? n->ver == p.contract_seq : n->ver == p.latest)) {
		if (n->kind == N_TABLE && !fs_table_get(fs, n, &v, &t))
			snprintf(name, sizeof(name), "%s.csv", t->name);
		catalog_product_release(&p);
		rc = may_publish(fs, pr, n->id, name, &p);
	}
	catalog_product_release(&p);
	catalog_version_release(&v);
	return rc ? rc : -EROFS;
}

void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct catalog_product p = {0};
	struct fuse_entry_param e;
	const struct principal *pr;
	struct open_file *of;
	struct upload *up = NULL;
	struct node pn, cn;
	int rc;

	memset(&e, 0, sizeof(e));
	of = read_open_file_new(fs);
	rc = of ? fs_request_begin(fs, req, parent, &pn, &pr) : -ENOMEM;
	if (rc)
		goto fail;
	if (pn.kind != N_PRODUCT)
		rc = pn.kind == N_VERSIONS || pn.kind == N_VERSION ? -EROFS : -EPERM;
	else if (reserved_name(name))
		rc = -EPERM;
	else
		rc = may_publish(fs, pr, pn.id, name, &p);
	if (!rc) {
		/* create() meets an existing upload only when racing another open of it */
		up = upload_find(fs, pn.id, name, pr->uid);
		if (up && (fi->flags & O_EXCL))
			rc = -EEXIST;
		else if (up && (fi->flags & O_TRUNC))
			rc = staging_truncate(up->st, 0);
		else if (!up && !(rc = upload_new(fs, pn.id, name, fuse_req_ctx(req), 1, &up)))
			up->mode = mode & 07777;
	}
	if (!rc) {
		up->opens++;
		of->up = up;
		upload_node(fs, up, &cn);
		rc = fs_ino_encode(&cn, &e.ino);
		if (!rc)
			upload_stat(fs, up, e.ino, &e.attr);
	}
	fs_unlock(fs);
	catalog_product_release(&p);
	if (rc)
		goto fail;
	of->opener = upload_task_tgid(fuse_req_ctx(req)->pid);
	fi->fh = (uintptr_t)of;
	fi->direct_io = 1;
	if (fuse_reply_create(req, &e, fi) == -ENOENT)
		read_open_file_free(fs, of);
	return;
fail:
	read_open_file_free(fs, of);
	fuse_reply_err(req, -rc);
}

void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	      struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;
	ssize_t n;
	int inval;

	if (!of->up) {
		fuse_reply_err(req, EBADF);
		return;
	}
	n = staging_pwrite(of->up->st, buf, size, (uint64_t)off);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	fs_lock(fs);
	of->up->dirty = 1;
	of->up->mtime = (int64_t)time(NULL);
	/* a table's or contract's name: written through an inode that readers may hold */
	inval = !of->up->linked;
	fs_unlock(fs);
	/* Once replied to, the file may be released (and of freed) by another thread. */
	fuse_reply_write(req, (size_t)n);
	/*
	 * The kernel grows the inode's size to the end of a write. Through a publisher's own
	 * inode of a table, its readers of the same user would then read past the published
	 * bytes: dropping its attributes makes the kernel ask for them, and the size, again.
	 */
	if (inval && fs->se)
		(void)fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
}

/*
 * A close. Every close of a descriptor of the file sends one, also from children that inherited
 * it (`{ cat a; cat b; } > TABLE.csv`): only the opening process's close publishes, so that
 * close() fails when the publish is rejected, and a file written by several processes in turn is
 * published once, whole. fsync publishes too.
 */
void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	if (!of->up || upload_task_tgid(fuse_req_ctx(req)->pid) != of->opener)
		fuse_reply_err(req, 0);
	else
		fuse_reply_err(req, -upload_flush(fs_of(req), of->up, of->opener, ino));
}

void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	(void)datasync;
	fuse_reply_err(req, of->up ? -upload_flush(fs_of(req), of->up, 0, ino) : 0);
}

/* Whether name exists in the directory for the caller: what cannot be removed must say EPERM,
 * what is not there ENOENT. */
int upload_name_exists(struct fs *fs, const struct principal *pr, const struct node *parent,
		       const char *name)
{
	struct node child;
	int rc = node_lookup(fs, pr, parent, name, &child);

	return rc == -ENOENT ? 0 : rc < 0 ? rc : 1;
}

void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	const struct principal *pr;
	struct upload *up = NULL;
	struct node pn;
	int rc;

	rc = fs_request_begin(fs, req, parent, &pn, &pr);
	if (rc)
		goto reply;
	if (pn.kind == N_PRODUCT && (up = upload_find(fs, pn.id, name, pr->uid)))
		up->linked = 0;
	else
		rc = upload_name_exists(fs, pr, &pn, name);
	if (up)
		upload_settle(fs, up);
	fs_unlock(fs);
	/* Published versions are immutable: nothing of the mesh can be removed here. */
	if (rc == 1)
		rc = -EPERM;
	else if (!rc && !up)
		rc = -ENOENT;
reply:
	fuse_reply_err(req, -rc);
}

void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	       const char *newname, unsigned int flags)
{
	struct fs *fs = fs_of(req);
	const struct principal *pr;
	struct upload *up = NULL, *other;
	struct node pn;
	char *copy;
	int rc, publish = 0;

	rc = fs_request_begin(fs, req, parent, &pn, &pr);
	if (rc)
		goto reply;
	if (pn.kind != N_PRODUCT || !(up = upload_find(fs, pn.id, name, pr->uid)))
		rc = upload_name_exists(fs, pr, &pn, name) == 1 ? -EPERM : -ENOENT;
	else if (newparent != parent)
		rc = -EXDEV;
	else if (flags & RENAME_EXCHANGE)
		rc = -EINVAL;
	else if (reserved_name(newname))
		rc = -EPERM;
	else if ((flags & RENAME_NOREPLACE) && upload_name_exists(fs, pr, &pn, newname))
		rc = -EEXIST;
	else if ((publish = publish_name_publishes(newname)))
		up->opens++; /* keeps it while the lock is let go for the publish */
	else if (!(copy = strdup(newname)))
		rc = -ENOMEM;
	else {
		other = upload_find(fs, pn.id, newname, pr->uid);
		if (other && other != up) {
			other->linked = 0;
			upload_settle(fs, other);
		}
		free(up->name);
		up->name = copy;
	}
	fs_unlock(fs);
	if (!rc && publish) {
		/* Renaming onto a name that publishes is how rsync and many libraries finish a
		 * write: the rename is the publish, and reports its outcome. */
		rc = upload_publish(fs, up, newname);
		fs_lock(fs);
		up->opens--;
		if (!rc)
			up->linked = 0;
		upload_settle(fs, up);
		fs_unlock(fs);
	}
reply:
	fuse_reply_err(req, -rc);
}

void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	const struct principal *pr;
	struct upload *up = NULL;
	struct stat st;
	struct node n, t;
	double timeout;
	int rc, writable;

	rc = fs_request_begin(fs, req, ino, &n, &pr);
	if (rc)
		goto reply;
	rc = node_target(fs, &n, &t, &writable);
	if (rc) {
		fs_unlock(fs);
		goto reply;
	}
	/* an open file's handle is an open_file only for files, never for directories */
	if (fi && (t.kind == N_TABLE || t.kind == N_CONTRACT || t.kind == N_UPLOAD))
		up = ((struct open_file *)(uintptr_t)fi->fh)->up;
	if (!up && n.kind == N_UPLOAD)
		up = upload_at(fs, &n);
	/* ftruncate of a published table opened for writing, before any write: that would
	 * modify a version, not replace it */
	if (fi && up && writable && !up->dirty && !staging_size(up->st) &&
	    (to_set & FUSE_SET_ATTR_SIZE))
		up = NULL;
	if (!up && writable && !fi && (to_set & FUSE_SET_ATTR_SIZE) && !attr->st_size)
		/* The truncate the kernel sends, without the handle, after open(O_TRUNC): the
		 * upload that open started is empty already. The reply keeps the readers' size. */
		rc = 0;
	else if (!up || up->uid != pr->uid)
		rc = -EPERM; /* published versions and the mesh's files are immutable */
	else if ((to_set & FUSE_SET_ATTR_UID && attr->st_uid != up->uid) ||
		 (to_set & FUSE_SET_ATTR_GID && attr->st_gid != up->gid))
		rc = -EPERM;
	/* A truncate that changes nothing (the O_TRUNC of `: > TABLE.csv`) leaves nothing to
	 * publish. */
	if (!rc && up && (to_set & FUSE_SET_ATTR_SIZE) &&
	    (uint64_t)attr->st_size != staging_size(up->st)) {
		rc = staging_truncate(up->st, (uint64_t)attr->st_size);
		up->dirty = 1;
	}
	if (!rc && up && (to_set & FUSE_SET_ATTR_MODE))
		up->mode = attr->st_mode & 07777;
	if (!rc && up && (to_set & FUSE_SET_ATTR_MTIME))
		up->mtime = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? (int64_t)time(NULL)
							       : (int64_t)attr->st_mtime;
	/*
	 * The inode of a published table is shared by all its readers: the kernel takes the size
	 * of this reply for it, so a writer's truncate of its upload must not shrink their view.
	 */
	if (!rc && n.kind != N_UPLOAD)
		rc = node_stat(fs, pr, &n, ino, &st, &timeout);
	else if (!rc)
		upload_stat(fs, up, ino, &st);
	fs_unlock(fs);
reply:
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, 0);
}
