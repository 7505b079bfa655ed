/*
 * The mounted tree (docs/DESIGN.md §3) on the low-level libfuse API: the session, the daemon's
 * state and its caches of the catalog, how each request starts (fs_request_begin), and the table
 * of operations, which the other files of fs/ implement (see fs/internal.h).
 *
 * Inode numbers are not a table in memory: each encodes what it names (kind, catalog id,
 * version, table, view), so that the daemon keeps no per-inode state, forget is free, and a
 * number means the same thing for the life of the mesh. Table files resolve to one inode per view
 * of a version (§7.5): the kernel's page cache of an immutable view is never shared with another
 * view, and open re-checks that the caller may have the view the inode names.
 *
 * The catalog is the truth (§7.7): what the daemon caches of it is checked against its change
 * stamp, and what the kernel keeps is dropped when it changes (fs/watch.c); docs/ARCHITECTURE.md
 * says what is kept for how long.
 */
#include "fs/fs.h"
#include "fs/internal.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "backends/store_s3.h"
#include "fs/staging.h"
#include "mesh/render.h"

/* fs->lock serializes the use of the catalog connection and the caches. */
void fs_lock(struct fs *fs)
{
	pthread_mutex_lock(&fs->lock);
	fs->stamp_known = 0;
}

void fs_unlock(struct fs *fs)
{
	pthread_mutex_unlock(&fs->lock);
}

/* The catalog's change stamp, read once while the lock is held: one request sees one state of
 * the caches that depend on it. */
int fs_stamp(struct fs *fs, uint64_t *stamp)
{
	int rc = 0;

	if (!fs->stamp_known) {
		rc = catalog_change_stamp(fs->m.cat, &fs->stamp);
		fs->stamp_known = !rc;
	}
	*stamp = fs->stamp;
	return rc;
}

/* The daemon's state, which every request carries. */
struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The inode number of n: 0, or -EOVERFLOW when a field does not fit its bits. */
int fs_ino_encode(const struct node *n, fuse_ino_t *ino)
{
	if (n->kind == N_ROOT) {
		*ino = FUSE_ROOT_ID;
		return 0;
	}
	if (n->id < 0 || (uint64_t)n->id > INO_MASK(INO_ID_BITS) || n->ver < 0 ||
	    (uint64_t)n->ver > INO_MASK(INO_VER_BITS) || n->tidx > INO_MASK(INO_TIDX_BITS))
		return -EOVERFLOW;
	*ino = (uint64_t)n->kind << INO_KIND_SHIFT | (uint64_t)n->id << INO_ID_SHIFT |
	       (uint64_t)n->ver << INO_VER_SHIFT | (uint64_t)n->tidx << INO_TIDX_SHIFT |
	       (uint64_t)n->view << INO_VIEW_SHIFT;
	return 0;
}

/* The node inode number ino names: 0, or -ENOENT for a number no node has. */
int fs_ino_decode(fuse_ino_t ino, struct node *n)
{
	memset(n, 0, sizeof(*n));
	if (ino == FUSE_ROOT_ID) {
		n->kind = N_ROOT;
		return 0;
	}
	n->kind = (enum node_kind)(ino >> INO_KIND_SHIFT & INO_MASK(INO_KIND_BITS));
	n->id = (int64_t)(ino >> INO_ID_SHIFT & INO_MASK(INO_ID_BITS));
	n->ver = (int64_t)(ino >> INO_VER_SHIFT & INO_MASK(INO_VER_BITS));
	n->tidx = (unsigned)(ino >> INO_TIDX_SHIFT & INO_MASK(INO_TIDX_BITS));
	n->view = (enum segment_view)(ino >> INO_VIEW_SHIFT & INO_MASK(INO_VIEW_BITS));
	if (n->kind == N_ROOT || n->kind > N_KIND_LAST)
		return -ENOENT;
	return 0;
}

/* ---- principals (callers of requests), cached briefly: NSS look-ups are slow ---- */

static const struct principal *fs_principal(struct fs *fs, fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int64_t now = (int64_t)time(NULL);
	struct cached_principal *slot = &fs->principals[0];

	for (size_t i = 0; i < PRINCIPAL_CACHE; i++) {
		struct cached_principal *c = &fs->principals[i];

		if (c->at && c->p.uid == ctx->uid && c->p.gid == ctx->gid &&
		    now - c->at < PRINCIPAL_TTL)
			return &c->p;
		if (c->at < slot->at)
			slot = c;
	}
	if (slot->at)
		principal_release(&slot->p);
	slot->at = 0;
	if (principal_init(&slot->p, ctx->uid, ctx->gid))
		return NULL;
	slot->at = now;
	return &slot->p;
}

/*
 * How a request on inode ino starts: decodes it into *n, takes fs->lock and resolves the caller
 * into *pr. Returns 0 with the lock held, or -errno without it: -EACCES when the caller cannot be
 * resolved.
 */
int fs_request_begin(struct fs *fs, fuse_req_t req, fuse_ino_t ino, struct node *n,
		     const struct principal **pr)
{
	int rc;

	rc = fs_ino_decode(ino, n);
	if (rc)
		return rc;
	fs_lock(fs);
	*pr = fs_principal(fs, req);
	if (*pr)
		return 0;
	fs_unlock(fs);
	return -EACCES;
}

/* ---- caches of what the catalog says (under fs->lock) ---- */

/* acl_allowed on a product, from the cache while the catalog stays the same. */
int fs_allowed(struct fs *fs, const struct principal *pr, enum privilege priv,
	       const struct catalog_product *p)
{
	uint64_t h = ((uint64_t)pr->uid * 0x9E3779B97F4A7C15ULL) ^
		     ((uint64_t)p->id * 0xC2B2AE3D27D4EB4FULL) ^ ((uint64_t)priv << 7);
	struct cached_decision *c = &fs->decisions[(h ^ h >> 31) % DECISION_CACHE];
	int64_t now = (int64_t)time(NULL);
	uint64_t stamp;
	int rc;

	rc = fs_stamp(fs, &stamp);
	if (rc)
		return rc;
	if (c->product_id == p->id && c->uid == pr->uid && c->gid == pr->gid && c->priv == priv &&
	    c->stamp == stamp && now - c->at < PRINCIPAL_TTL)
		return c->allowed;
	rc = acl_allowed(fs->m.cat, pr, priv, p->domain, p->name);
	if (rc < 0)
		return rc;
	*c = (struct cached_decision){.uid = pr->uid,
				      .gid = pr->gid,
				      .priv = priv,
				      .product_id = p->id,
				      .stamp = stamp,
				      .at = now,
				      .allowed = rc};
	return rc;
}

static int version_copy(struct catalog_version *dst, const struct catalog_version *src)
{
	*dst = *src;
	dst->checks = strdup(src->checks);
	dst->tables = malloc((src->ntables ? src->ntables : 1) * sizeof(*dst->tables));
	if (!dst->checks || !dst->tables) {
		free(dst->checks);
		free(dst->tables);
		memset(dst, 0, sizeof(*dst));
		return -ENOMEM;
	}
	memcpy(dst->tables, src->tables, src->ntables * sizeof(*dst->tables));
	return 0;
}

static size_t cache_index(int64_t a, int64_t b, size_t size)
{
	uint64_t h = (uint64_t)a * 0x9E3779B97F4A7C15ULL ^ (uint64_t)b * 0xC2B2AE3D27D4EB4FULL;

	return (size_t)((h ^ h >> 29) % size);
}

static void version_cache_put(struct fs *fs, int64_t product_id, const struct catalog_version *v)
{
	struct cached_version *c = &fs->versions[cache_index(product_id, v->number, VERSION_CACHE)];

	if (c->product_id)
		catalog_version_release(&c->v);
	c->product_id = version_copy(&c->v, v) ? 0 : product_id;
}

struct version_fetch {
	struct fs *fs;
	int64_t product_id;
	int64_t number;
	struct catalog_version *out;
	int found;
};

static int version_fetched(const struct catalog_version *v, void *ctx)
{
	struct version_fetch *f = ctx;
	int rc;

	version_cache_put(f->fs, f->product_id, v);
	if (v->number != f->number)
		return 0;
	rc = version_copy(f->out, v);
	f->found = !rc;
	return rc;
}

/*
 * catalog_version_get, from the cache where it can: a version never changes. A miss reads the
 * versions around it too, in the same round trip: a walk of versions/ asks for each in turn.
 */
int fs_version_get(struct fs *fs, int64_t product_id, int64_t number, struct catalog_version *out)
{
	struct cached_version *c = &fs->versions[cache_index(product_id, number, VERSION_CACHE)];
	struct version_fetch f = {.fs = fs, .product_id = product_id, .number = number, .out = out};
	int rc;

	if (!number)
		return catalog_version_get(fs->m.cat, product_id, number, out);
	if (c->product_id == product_id && c->v.number == number)
		return version_copy(out, &c->v);
	memset(out, 0, sizeof(*out));
	/* around it: a product's listing asks for its latest version first, then versions/ for
	 * each from the first */
	rc =
	    catalog_version_range(fs->m.cat, product_id,
				  number > VERSION_PREFETCH / 2 ? number - VERSION_PREFETCH / 2 : 1,
				  VERSION_PREFETCH, version_fetched, &f);
	if (!rc && !f.found)
		rc = -ENOENT;
	if (rc && f.found)
		catalog_version_release(out);
	return rc;
}

/*
 * The version of table node n in *v and, in *t, its table: 0, -ENOENT when the version has no
 * table at n->tidx, or another -errno. *v is to be released either way.
 */
int fs_table_get(struct fs *fs, const struct node *n, struct catalog_version *v,
		 const struct catalog_table_version **t)
{
	int rc;

	rc = fs_version_get(fs, n->id, n->ver, v);
	if (!rc && n->tidx >= v->ntables)
		rc = -ENOENT;
	*t = rc ? NULL : &v->tables[n->tidx];
	return rc;
}

static int product_copy(struct catalog_product *dst, const struct catalog_product *src)
{
	*dst = *src;
	dst->description = strdup(src->description);
	dst->status = strdup(src->status);
	if (!dst->description || !dst->status) {
		catalog_product_release(dst);
		memset(dst, 0, sizeof(*dst));
		return -ENOMEM;
	}
	return 0;
}

/* catalog_product_get_by_id, from the cache while the catalog stays the same: listings and
 * lookups ask for the same product many times. */
int fs_product_get(struct fs *fs, int64_t id, struct catalog_product *out)
{
	struct cached_product *c = &fs->products[cache_index(id, 0, PRODUCT_CACHE)];
	uint64_t stamp;
	int rc;

	rc = fs_stamp(fs, &stamp);
	if (rc)
		return rc;
	if (c->p.id == id && c->stamp == stamp)
		return product_copy(out, &c->p);
	rc = catalog_product_get_by_id(fs->m.cat, id, out);
	if (rc)
		return rc;
	catalog_product_release(&c->p);
	if (product_copy(&c->p, out))
		c->p.id = 0;
	c->stamp = stamp;
	return 0;
}

/* ---- the rest of the operations, and the session ---- */

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)parent, (void)name, (void)mode, (void)rdev;
	fuse_reply_err(req, EPERM);
}

static void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	(void)ino, (void)name, (void)value, (void)size, (void)flags;
	fuse_reply_err(req, EROFS);
}

static void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino, (void)name;
	fuse_reply_err(req, EROFS);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st = {.f_bsize = 65536, .f_frsize = 65536, .f_namemax = 255};

	(void)ino;
	fuse_reply_statfs(req, &st);
}

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;

	/* Listings kept by the kernel are checked against the directory's mtime (see
	 * dir_stamp), which it asks for again only with this. */
	fs->cache_dirs = (conn->want & FUSE_CAP_AUTO_INVAL_DATA) != 0;
	if (fs->cache_dirs && (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT)) {
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
		fs->no_opendir = 1;
	}
	/* Large requests: a table is read in few round trips. */
	conn->max_readahead = conn->max_readahead < 1048576 ? conn->max_readahead : 1048576;
	conn->time_gran = 1000000000;
	/* No FUSE_CAP_ATOMIC_O_TRUNC: with it, the kernel empties the inode of the published
	 * table, shared by all its readers, on a writer's open(O_TRUNC). Without it the truncate
	 * comes as a setattr on the writer's handle, whose reply keeps the readers' size. */
	conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
}

static const struct fuse_lowlevel_ops fs_ops = {
    .init = fs_init,
    .lookup = fs_lookup,
    .getattr = fs_getattr,
    .readlink = fs_readlink,
    .opendir = fs_opendir,
    .readdir = fs_readdir,
    .readdirplus = fs_readdirplus,
    .open = fs_open,
    .read = fs_read,
    .release = fs_release,
    .getxattr = fs_getxattr,
    .listxattr = fs_listxattr,
    .create = fs_create,
    .write = fs_write,
    .flush = fs_flush,
    .fsync = fs_fsync,
    .mknod = fs_mknod,
    .mkdir = fs_mkdir,
    .unlink = fs_unlink,
    .rmdir = fs_unlink,
    .rename = fs_rename,
    .setattr = fs_setattr,
    .setxattr = fs_setxattr,
    .removexattr = fs_removexattr,
    .statfs = fs_statfs,
};

/*
 * The daemon's log. In the foreground it is standard error; in the background, where standard
 * error is gone, MESH/meshfs.log (a shared mesh: in its cache directory): publishes and their
 * rejections with the reasons (which never hold PII values, see table/checks.h), refused writes,
 * problems.
 */
static FILE *daemon_log;

static void daemon_log_write(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char when[RENDER_TIME_LEN];

	if (level > FUSE_LOG_INFO)
		return;
	render_time((int64_t)time(NULL), when);
	flockfile(daemon_log);
	fprintf(daemon_log, "%s [%d] ", when, (int)getpid());
	vfprintf(daemon_log, fmt, ap);
	fflush(daemon_log);
	funlockfile(daemon_log);
}

static void daemon_log_open(const char *local_dir)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/meshfs.log", local_dir);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || !(daemon_log = fdopen(fd, "a"))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	fuse_set_log_func(daemon_log_write);
}

/* What the layers below report on standard error (a catalog connection lost, a store that does
 * not answer) goes to the log too: fuse_daemonize pointed standard error at /dev/null. */
static void daemon_log_stderr(void)
{
	if (daemon_log && dup2(fileno(daemon_log), STDERR_FILENO) < 0)
		fuse_log(FUSE_LOG_WARNING,
			 "meshfs: what the catalog and the store report will not be logged: %s\n",
			 strerror(errno));
}

/* The id the kernel gave the mount at mnt, as /proc/PID/fdinfo names it; 0 if not found. */
static unsigned fs_mount_id(const char *mnt)
{
	char line[4096], point[4096];
	unsigned id = 0, at;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return 0;
	while (!id && fgets(line, sizeof(line), f))
		if (sscanf(line, "%u %*u %*s %*s %4095s", &at, point) == 2 && !strcmp(point, mnt))
			id = at;
	fclose(f);
	return id;
}

static void fs_release_all(struct fs *fs)
{
	while (fs->files)
		read_open_file_free(fs, fs->files);
	dir_listing_release(fs);
	for (size_t i = 0; i < SEGMENT_POOL; i++)
		segment_close(fs->pool[i].seg);
	for (size_t i = 0; i < MAX_QUERIES; i++)
		free(fs->queries[i].text);
	for (size_t i = 0; i < VERSION_CACHE; i++)
		if (fs->versions[i].product_id)
			catalog_version_release(&fs->versions[i].v);
	for (size_t i = 0; i < PRODUCT_CACHE; i++)
		catalog_product_release(&fs->products[i].p);
	for (size_t i = 0; i < MAX_UPLOADS; i++) {
		if (fs->uploads[i]) {
			staging_free(fs->uploads[i]->st);
			free(fs->uploads[i]->name);
			free(fs->uploads[i]);
		}
	}
	for (size_t i = 0; i < PRINCIPAL_CACHE; i++)
		if (fs->principals[i].at)
			principal_release(&fs->principals[i].p);
	mesh_close(&fs->m);
	pthread_mutex_destroy(&fs->lock);
	pthread_mutex_destroy(&fs->pool_lock);
	pthread_mutex_destroy(&fs->watch_lock);
	pthread_mutex_destroy(&fs->files_lock);
	pthread_cond_destroy(&fs->watch_cond);
}

static int fs_args(const struct fs_options *o, struct fuse_args *args)
{
	struct strbuf opts;
	int rc;

	strbuf_init(&opts);
	rc = strbuf_addstr(&opts, "fsname=meshfs,subtype=meshfs");
	if (!rc && o->fuse_opts && *o->fuse_opts)
		rc = strbuf_addf(&opts, ",%s", o->fuse_opts);
	if (!rc && (fuse_opt_add_arg(args, "meshfs") || fuse_opt_add_arg(args, "-o") ||
		    fuse_opt_add_arg(args, opts.buf) || (o->debug && fuse_opt_add_arg(args, "-d"))))
		rc = -ENOMEM;
	strbuf_release(&opts);
	return rc;
}

/* An absolute form of path (NULL stays NULL): the daemon leaves the working directory when it
 * goes to the background. The path need not exist. */
static int fs_absolute(const char *path, char **out)
{
	char cwd[PATH_MAX];
	struct strbuf sb;

	*out = NULL;
	if (!path)
		return 0;
	if (path[0] == '/') {
		*out = strdup(path);
		return *out ? 0 : -ENOMEM;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	strbuf_init(&sb);
	if (strbuf_addf(&sb, "%s/%s", cwd, path)) {
		strbuf_release(&sb);
		return -ENOMEM;
	}
	*out = strbuf_detach(&sb, NULL);
	return 0;
}

/*
 * Removes a shared mesh's orphaned blobs (and stale staging) on a connection of its own, while the
 * mount already answers: nothing it removes is referenced, and it holds the mesh lock only for
 * the removals (mesh_clean_orphans), so serving reads meanwhile is safe and a publish that starts
 * meanwhile waits for those. fs->janitor_stop ends it early, for a prompt unmount.
 */
static void *janitor_main(void *arg)
{
	struct fs *fs = arg;
	struct mfs_error err = {{0}};
	unsigned long removed = 0;
	struct mesh m;
	int rc;

	rc = mesh_open_like(&m, &fs->m, &err);
	if (rc) {
		fuse_log(FUSE_LOG_WARNING, "meshfs: orphaned blobs not cleaned: %s\n", err.msg);
		return NULL;
	}
	rc = mesh_clean_orphans(&m, &fs->janitor_stop, &removed);
	mesh_close(&m);
	if (rc == -ECANCELED)
		fuse_log(FUSE_LOG_INFO, "meshfs: orphan clean-up stopped by the unmount\n");
	else if (rc)
		fuse_log(FUSE_LOG_WARNING, "meshfs: orphaned blobs not cleaned: %s\n",
			 strerror(-rc));
	else if (removed)
		fuse_log(FUSE_LOG_INFO, "meshfs: removed %lu orphaned blobs\n", removed);
	return NULL;
}

int fs_mount(const struct fs_options *o, struct mfs_error *err)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	char *mesh_dir = NULL, *mountpoint = NULL, *key_file = NULL, *cache_dir = NULL;
	char *local_dir = NULL;
	struct mesh_options mo = {.cache_size = o->cache_size};
	struct fuse_loop_config loop = {.clone_fd = 0, .max_idle_threads = 10};
	struct fuse_session *se = NULL;
	struct fs *fs;
	unsigned long removed = 0;
	int mounted = 0, handlers = 0, rc;

	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->pool_lock, NULL);
	pthread_mutex_init(&fs->watch_lock, NULL);
	pthread_mutex_init(&fs->files_lock, NULL);
	pthread_cond_init(&fs->watch_cond, NULL);
	/* A core dump would write plaintext PII from memory to disk (docs/DESIGN.md §7.4). */
	prctl(PR_SET_DUMPABLE, 0);
	/* A shared mesh's reads come in blocks of STORE_S3_BLOCK, each malloc'd and freed on its
	 * own thread. glibc's threshold would rise past them after the first free, and each
	 * thread's arena would then keep a few: a cold read of 164 MB peaked at 77 MiB, with it at
	 * 39 MiB. */
	if (catalog_target_shared(o->mesh_dir) && !mallopt(M_MMAP_THRESHOLD, STORE_S3_BLOCK))
		fuse_log(FUSE_LOG_WARNING, "meshfs: cannot bound the memory of reads\n");
	fs->started = mesh_now();
	fs->uid = getuid();
	fs->gid = getgid();
	/* Absolute paths: the daemon leaves the working directory when it goes to the background.
	 */
	mesh_dir =
	    catalog_target_shared(o->mesh_dir) ? strdup(o->mesh_dir) : realpath(o->mesh_dir, NULL);
	mountpoint = realpath(o->mountpoint, NULL);
	if (!mesh_dir) {
		rc = mfs_error_set(err, errno, "mesh %s: %s", o->mesh_dir, strerror(errno));
		goto out;
	}
	if ((rc = fs_absolute(o->key_file, &key_file)) ||
	    (rc = fs_absolute(o->cache_dir, &cache_dir))) {
		mfs_error_set(err, rc, "%s", strerror(-rc));
		goto out;
	}
	mo.key_file = key_file;
	mo.cache_dir = cache_dir;
	if (!mountpoint) {
		rc =
		    mfs_error_set(err, errno, "mount point %s: %s", o->mountpoint, strerror(errno));
		goto out;
	}
	/* Opened here so that a bad mesh (or a store that refuses the credential) is reported on
	 * the terminal, then closed: a SQLite connection must not cross the fork of daemonizing. */
	mo.check_store = 1;
	rc = mesh_open(&fs->m, mesh_dir, &mo, err);
	if (!rc)
		rc = mesh_keys(&fs->m, err);
	if (rc)
		goto out;
	/* A shared mesh's store lists as slowly as the mesh is big: its orphans are cleaned once
	 * the mount answers (janitor_main). */
	if (!catalog_target_shared(mesh_dir) && (rc = mesh_clean_orphans(&fs->m, NULL, &removed))) {
		mfs_error_set(err, rc, "cannot clean up the mesh: %s", strerror(-rc));
		goto out;
	}
	local_dir = strdup(fs->m.local_dir);
	mesh_close(&fs->m);
	if (!local_dir) {
		rc = -ENOMEM;
		goto out;
	}
	rc = fs_args(o, &args);
	if (rc)
		goto out;
	se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs);
	fs->se = se;
	if (!se) {
		rc = mfs_error_set(err, EINVAL, "cannot start a FUSE session (bad -o option?)");
		goto out;
	}
	if (fuse_set_signal_handlers(se)) {
		rc = mfs_error_set(err, EIO, "cannot install signal handlers");
		goto out;
	}
	handlers = 1;
	if (fuse_session_mount(se, mountpoint)) {
		rc = mfs_error_set(err, EIO, "cannot mount on %s", o->mountpoint);
		goto out;
	}
	mounted = 1;
	fs->mnt_id = fs_mount_id(mountpoint);
	if (!o->foreground)
		daemon_log_open(local_dir);
	if (fuse_daemonize(o->foreground)) {
		rc = mfs_error_set(err, EIO, "cannot go to the background");
		goto out;
	}
	if (!o->foreground)
		daemon_log_stderr();
	fs->mesh_dir = mesh_dir;
	/* The keys stay in memory for the life of the mount: reads keep working, and what can no
	 * longer work without the key file (a publish) says why. */
	mo.check_store = 0;
	rc = mesh_open(&fs->m, mesh_dir, &mo, err);
	if (!rc)
		rc = mesh_keys(&fs->m, err);
	if (rc) {
		fuse_log(FUSE_LOG_ERR, "meshfs: %s\n", err->msg);
		goto out;
	}
	if (removed)
		fuse_log(FUSE_LOG_INFO, "meshfs: removed %lu orphaned blobs\n", removed);
	rc = watch_start(fs);
	if (rc) {
		fuse_log(FUSE_LOG_ERR, "meshfs: cannot follow the catalog: %s\n", strerror(-rc));
		goto out;
	}
	if (catalog_target_shared(mesh_dir)) {
		if (pthread_create(&fs->janitor, NULL, janitor_main, fs))
			fuse_log(FUSE_LOG_WARNING,
				 "meshfs: orphaned blobs not cleaned: no thread\n");
		else
			fs->janitor_started = 1;
	}
	rc = fuse_session_loop_mt(se, &loop);
	rc = rc > 0 ? 0 : rc; /* a signal ended the loop: a clean stop */
	if (fs->janitor_started) {
		atomic_store(&fs->janitor_stop, 1);
		pthread_join(fs->janitor, NULL);
	}
	watch_stop(fs);
out:
	if (mounted)
		fuse_session_unmount(se);
	if (handlers)
		fuse_remove_signal_handlers(se);
	if (se)
		fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	fs->mesh_dir = NULL;
	free(mesh_dir);
	free(mountpoint);
	free(key_file);
	free(cache_dir);
	free(local_dir);
	fs_release_all(fs);
	free(fs);
	return rc;
}
