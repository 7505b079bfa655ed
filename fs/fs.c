/*
 * The mounted tree (DESIGN §3) on the low-level libfuse API.
 *
 * Inode numbers are not a table in memory: each encodes what it names (kind, catalog id,
 * version, table, view), so that the daemon keeps no per-inode state, forget is free, and a
 * number means the same thing for the life of the mesh. Table files resolve to one inode per view
 * of a version (§7.5): the kernel's page cache of an immutable view is never shared with another
 * view, and open re-checks that the caller may have the view the inode names.
 *
 * The catalog is asked for every metadata operation (it is the truth, §7.7), so changes made by
 * the CLI show at once; only immutable things are cached: open segments, and the kernel's caches
 * of immutable inodes.
 */
#include "fs/fs.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fuse_lowlevel.h>
#include <sodium.h>

#include "acl/acl.h"
#include "catalog/contract.h"
#include "common/crc32c.h"
#include "common/strbuf.h"
#include "backends/staging.h"
#include "mesh/mesh.h"
#include "mesh/publish.h"
#include "mesh/render.h"
#include "table/segment.h"

enum node_kind {
	N_ROOT = 0,
	N_ROOT_README,
	N_CATALOG_CSV,
	N_DOMAIN,
	N_DOMAIN_README,
	N_PRODUCT,
	N_PRODUCT_README,
	N_CONTRACT, /* ver = contract seq */
	N_VERSIONS,
	N_VERSION,
	N_LATEST,
	N_TABLE, /* ver = version, tidx = table's index in the version, view */
	N_PUBLISH_LOG,
	N_UPLOAD, /* id = slot in fs->uploads, ver = its generation */
	N_POLICY,
	N_LINEAGE,
	N_SEARCH,	/* .search/ */
	N_SEARCH_QUERY, /* .search/TEXT/: id = slot in fs->queries, ver = its generation */
	N_SEARCH_LINK,	/* .search/TEXT/DOMAIN.PRODUCT: id = product id */
	N_WRITABLE,	/* a publisher's own inode of a current table or contract: id = slot in
			   fs->writables, ver = its generation */
	N_KIND_LAST = N_WRITABLE,
};

/* Bits of an inode number: kind 6 | id 24 | ver 20 | tidx 13 | view 1. */
#define INO_ID_BITS   24
#define INO_VER_BITS  20
#define INO_TIDX_BITS 13

struct node {
	enum node_kind kind;
	int64_t id;
	int64_t ver;
	unsigned tidx;
	enum segment_view view;
};

/* Attributes of immutable inodes may stay in the kernel's caches; generated ones may not. */
#define TIMEOUT_IMMUTABLE 3600.0
#define TIMEOUT_LISTING	  1.0
/* Listings and versions/latest: the watcher thread drops them when the catalog changes. */
#define TIMEOUT_WATCHED 60.0
#define WATCH_MS	200

#define SEGMENT_POOL	64
#define PRINCIPAL_CACHE 32
#define PRINCIPAL_TTL	5

struct pooled_segment {
	char id[STORE_ID_HEX + 1];
	struct segment *seg;
	unsigned refs;
	uint64_t used; /* for eviction of the least recently used idle entry */
};

struct cached_principal {
	struct principal p;
	int64_t at; /* 0: empty slot */
};

/*
 * A file being written through the mount. Under a name that publishes (a table file, an archive,
 * contract.yaml) it lives from open to release; under any other name it is a private staging
 * file of its writer, listed only to them, until renamed onto a name that publishes or removed.
 */
struct upload {
	int64_t product_id;
	char *name;
	uid_t uid;
	gid_t gid;
	uint32_t gen;
	struct staging *st;
	unsigned opens;
	int linked; /* has its name in the writer's view of the product directory */
	/* written since the last publish attempt. Opening with O_TRUNC does not count: a shell
	 * redirection closes a duplicate of the descriptor before the first write, and that flush
	 * must not publish an empty file. */
	int dirty;
	mode_t mode;
	int64_t mtime;
	struct writable *through; /* the publisher's inode it was opened through, if any */
	uint32_t through_gen;
};

#define MAX_UPLOADS 1024
/* Search texts looked up under .search/, by slot: the oldest is reused when all are taken. */
#define MAX_QUERIES  256
#define SEARCH_LIMIT 100

struct query {
	char *text;
	uint32_t gen;
};

/*
 * Publishers get inodes of their own for the current tables and contract.yaml: a writer's
 * open and truncate act on the kernel's inode (its size, its page cache), and the inode of a
 * published view is shared by all its readers, who must never see a writer's upload.
 */
#define MAX_WRITABLES	4096
#define WRITABLE_PROBES 8

/*
 * Access decisions, for lookups and listings that ask them for every entry: valid while the
 * catalog has not changed, and no longer than a principal's cached groups.
 */
#define DECISION_CACHE 4096

struct cached_decision {
	uid_t uid;
	gid_t gid;
	enum privilege priv;
	int64_t product_id; /* the product decided on; 0: empty slot */
	uint64_t stamp;
	int64_t at;
	int allowed;
};

/* Versions never change once recorded: the daemon keeps the last ones it read. */
#define VERSION_CACHE 4096

/* Versions never change: a direct-mapped cache by product and number. */
struct cached_version {
	int64_t product_id; /* 0: empty */
	struct catalog_version v;
};

/* Products, valid while the catalog's change stamp stays the same. */
#define PRODUCT_CACHE 4096
struct cached_product {
	uint64_t stamp;
	struct catalog_product p; /* p.id 0: empty */
};

/*
 * Sizes of generated documents, for stat: rendering one costs catalog queries, and ls -l of a
 * product directory stats its README and publish.log. Valid while the catalog has not changed,
 * for DOC_TTL seconds: freshness depends on the time. A size is only a hint, as documents are
 * read as rendered at open.
 */
#define DOC_CACHE 8192
#define DOC_TTL	  10

struct cached_doc {
	struct node n;
	uid_t uid;
	uint64_t stamp;
	int64_t at;
	size_t size; /* 0 with at == 0: empty slot */
};

struct writable {
	uid_t uid;
	struct node target; /* N_TABLE or N_CONTRACT */
	uint32_t gen;	    /* 0: empty slot */
	unsigned writers;   /* uploads opened through it and not yet released */
	uint64_t made;
};

struct fs {
	struct mesh m;
	char *mesh_dir;
	/* guards m.cat (one connection, one thread at a time) and principals */
	pthread_mutex_t lock;
	struct cached_principal principals[PRINCIPAL_CACHE];
	pthread_mutex_t pool_lock;
	struct pooled_segment pool[SEGMENT_POOL];
	uint64_t pool_clock;
	int64_t started;
	/* under lock */
	struct upload *uploads[MAX_UPLOADS];
	uint32_t upload_gen;
	struct query queries[MAX_QUERIES];
	uint32_t query_gen;
	size_t query_next;
	struct writable writables[MAX_WRITABLES];
	struct cached_version versions[VERSION_CACHE];
	struct cached_product products[PRODUCT_CACHE];
	/* the catalog's change stamp, read once per hold of the lock (fs_stamp) */
	uint64_t stamp;
	int stamp_known;
	struct cached_doc docs[DOC_CACHE];
	struct cached_decision decisions[DECISION_CACHE];
	uint32_t writable_gen;
	uint64_t writables_made;
	uid_t uid;
	gid_t gid;
	struct fuse_session *se; /* for notifications to the kernel */
	int cache_dirs;		 /* the kernel may keep listings (fs_init) */
	/* every open file: the kernel releases them, but not when the daemon is stopped first */
	pthread_mutex_t files_lock;
	struct open_file *files;
	pthread_t watcher; /* watch_main */
	pthread_mutex_t watch_lock;
	pthread_cond_t watch_cond;
	int watch_stop;
	int no_opendir; /* ... and open directories without asking */
};

struct dir_entry {
	char *name;
	fuse_ino_t ino;
	mode_t mode;
};

struct dir_list {
	struct dir_entry *e;
	size_t n, cap;
	/* may list differently for another caller: a table with PII (an inode per view), or
	 * uploads, listed to their writers only */
	int per_caller;
};

/* What an open file serves: either a segment view or a document rendered at open. */
struct open_file {
	struct upload *up; /* a file open for writing */
	pid_t opener;	   /* the process that opened it */
	struct pooled_segment *ps;
	enum segment_view view;
	/* reads of one open file may run on several threads at once; its cache is not shared */
	pthread_mutex_t cache_lock;
	struct segment_cache *cache;
	struct strbuf doc;
	struct open_file *prev, *next; /* in fs->files */
};

/* fs->lock serializes the use of the catalog connection and the caches. */
static void fs_lock(struct fs *fs)
{
	pthread_mutex_lock(&fs->lock);
	fs->stamp_known = 0;
}

static void fs_unlock(struct fs *fs)
{
	pthread_mutex_unlock(&fs->lock);
}

/* The catalog's change stamp, read once while the lock is held: one request sees one state of
 * the caches that depend on it. */
static int fs_stamp(struct fs *fs, uint64_t *stamp)
{
	int rc = 0;

	if (!fs->stamp_known) {
		rc = catalog_change_stamp(fs->m.cat, &fs->stamp);
		fs->stamp_known = !rc;
	}
	*stamp = fs->stamp;
	return rc;
}

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static int ino_encode(const struct node *n, fuse_ino_t *ino)
{
	if (n->kind == N_ROOT) {
		*ino = FUSE_ROOT_ID;
		return 0;
	}
	if (n->id < 0 || n->id >= (1LL << INO_ID_BITS) || n->ver < 0 ||
	    n->ver >= (1LL << INO_VER_BITS) || n->tidx >= (1U << INO_TIDX_BITS))
		return -EOVERFLOW;
	*ino = ((uint64_t)n->kind << 58) | ((uint64_t)n->id << 34) | ((uint64_t)n->ver << 14) |
	       ((uint64_t)n->tidx << 1) | (uint64_t)n->view;
	return 0;
}

static int ino_decode(fuse_ino_t ino, struct node *n)
{
	memset(n, 0, sizeof(*n));
	if (ino == FUSE_ROOT_ID) {
		n->kind = N_ROOT;
		return 0;
	}
	n->kind = (enum node_kind)(ino >> 58);
	n->id = (int64_t)((ino >> 34) & ((1ULL << INO_ID_BITS) - 1));
	n->ver = (int64_t)((ino >> 14) & ((1ULL << INO_VER_BITS) - 1));
	n->tidx = (unsigned)((ino >> 1) & ((1U << INO_TIDX_BITS) - 1));
	n->view = (enum segment_view)(ino & 1);
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

/* ---- caches of what the catalog says (under fs->lock) ---- */

/* acl_allowed on a product, from the cache while the catalog stays the same. */
static int fs_allowed(struct fs *fs, const struct principal *pr, enum privilege priv,
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

/* catalog_version_get, from the cache where it can: a version never changes. */
static int fs_version_get(struct fs *fs, int64_t product_id, int64_t number,
			  struct catalog_version *out)
{
	struct cached_version *c = &fs->versions[cache_index(product_id, number, VERSION_CACHE)];
	int rc;

	if (!number)
		return catalog_version_get(fs->m.cat, product_id, number, out);
	if (c->product_id == product_id && c->v.number == number)
		return version_copy(out, &c->v);
	rc = catalog_version_get(fs->m.cat, product_id, number, out);
	if (rc)
		return rc;
	if (c->product_id)
		catalog_version_release(&c->v);
	c->product_id = version_copy(&c->v, out) ? 0 : product_id;
	return 0;
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
static int fs_product_get(struct fs *fs, int64_t id, struct catalog_product *out)
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

/* ---- resolving nodes (all under fs->lock) ---- */

static void stat_fill(struct stat *st, fuse_ino_t ino, mode_t mode, uint64_t size, int64_t mtime,
		      const struct fs *fs)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = mode;
	st->st_nlink = S_ISDIR(mode) ? 2 : 1;
	st->st_size = (off_t)size;
	st->st_blksize = 65536;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_mtime = st->st_ctime = st->st_atime = (time_t)mtime;
}

/* Renders a generated document, as pr sees it, into out. */
static int node_render(struct fs *fs, const struct principal *pr, const struct node *n,
		       struct strbuf *out)
{
	struct catalog_domain d = {0};
	struct catalog_product p = {0};
	int rc;

	switch (n->kind) {
	case N_ROOT_README:
		return render_mesh_readme(&fs->m, out);
	case N_CATALOG_CSV:
		return render_catalog_csv(&fs->m, mesh_now(), out);
	case N_DOMAIN_README:
		rc = catalog_domain_get_by_id(fs->m.cat, n->id, &d);
		if (!rc)
			rc = render_domain_readme(&fs->m, d.name, out);
		catalog_domain_release(&d);
		return rc;
	case N_PRODUCT_README:
		rc = fs_product_get(fs, n->id, &p);
		if (!rc)
			rc = render_product_readme(&fs->m, p.domain, p.name, out);
		catalog_product_release(&p);
		return rc;
	case N_CONTRACT: {
		char *yaml = NULL;
		int64_t seq;

		rc = catalog_contract_get(fs->m.cat, n->id, n->ver, &yaml, &seq);
		if (!rc)
			rc = strbuf_addstr(out, yaml);
		free(yaml);
		return rc;
	}
	case N_PUBLISH_LOG:
		rc = fs_product_get(fs, n->id, &p);
		if (!rc)
			rc = publish_log_render(&fs->m, pr, p.domain, p.name, out);
		catalog_product_release(&p);
		return rc;
	case N_POLICY: {
		char *yaml = NULL;

		rc = mesh_policy_text(&fs->m, &yaml);
		if (!rc)
			rc = strbuf_addstr(out, yaml);
		free(yaml);
		return rc;
	}
	case N_LINEAGE:
		return render_lineage_dot(&fs->m, out);
	default:
		return -EINVAL;
	}
}

static struct cached_doc *doc_slot(struct fs *fs, const struct node *n, uid_t uid)
{
	uint64_t h = (uint64_t)n->kind * 0x9E3779B97F4A7C15ULL ^
		     (uint64_t)n->id * 0xC2B2AE3D27D4EB4FULL ^
		     (uint64_t)n->ver * 0x165667B19E3779F9ULL ^ uid;

	return &fs->docs[(h ^ h >> 29) % DOC_CACHE];
}

/* The size of a rendered document if the cache knows it; else renders it and remembers. */
static int doc_size(struct fs *fs, const struct principal *pr, const struct node *n, size_t *size)
{
	/* publish.log is the caller's own; the other documents are the same for everyone */
	uid_t uid = n->kind == N_PUBLISH_LOG ? pr->uid : 0;
	struct cached_doc *c = doc_slot(fs, n, uid);
	int64_t now = (int64_t)time(NULL);
	struct strbuf doc;
	uint64_t stamp;
	int rc;

	rc = fs_stamp(fs, &stamp);
	if (rc)
		return rc;
	if (now - c->at < DOC_TTL && c->stamp == stamp && c->uid == uid &&
	    !memcmp(&c->n, n, sizeof(*n))) {
		*size = c->size;
		return 0;
	}
	strbuf_init(&doc);
	rc = node_render(fs, pr, n, &doc);
	if (!rc) {
		*size = doc.len;
		c->n = *n;
		c->uid = uid;
		c->stamp = stamp;
		c->at = now;
		c->size = doc.len;
	}
	strbuf_release(&doc);
	return rc;
}

static int is_document(enum node_kind k)
{
	return k == N_ROOT_README || k == N_CATALOG_CSV || k == N_DOMAIN_README ||
	       k == N_PRODUCT_README || k == N_CONTRACT || k == N_PUBLISH_LOG || k == N_POLICY ||
	       k == N_LINEAGE;
}

/* ---- uploads: writing through the mount (DESIGN §5) ---- */

/* Names in a product directory that are the mesh's own, never a writer's. */
static int reserved_name(const char *name)
{
	return !strcmp(name, "README.md") || !strcmp(name, "publish.log") ||
	       !strcmp(name, "versions");
}

static struct upload *upload_at(struct fs *fs, const struct node *n)
{
	struct upload *up;

	if (n->id < 0 || n->id >= MAX_UPLOADS)
		return NULL;
	up = fs->uploads[n->id];
	return up && up->gen == (uint32_t)n->ver ? up : NULL;
}

/* The writer's upload called name in a product directory. */
static struct upload *upload_find(struct fs *fs, int64_t product_id, const char *name, uid_t uid)
{
	for (size_t i = 0; i < MAX_UPLOADS; i++) {
		struct upload *up = fs->uploads[i];

		if (up && up->linked && up->product_id == product_id && up->uid == uid &&
		    !strcmp(up->name, name))
			return up;
	}
	return NULL;
}

static void upload_node(struct fs *fs, const struct upload *up, struct node *n)
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
	snprintf(staging, sizeof(staging), "%s/staging", fs->mesh_dir);
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
	up->gen = ++fs->upload_gen & ((1U << INO_VER_BITS) - 1);
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

static int upload_stat(struct fs *fs, const struct upload *up, fuse_ino_t ino, struct stat *st)
{
	stat_fill(st, ino, S_IFREG | (up->mode & 07777), staging_size(up->st), up->mtime, fs);
	st->st_uid = up->uid;
	st->st_gid = up->gid;
	return 0;
}

/* ---- .search/TEXT/: each text looked up gets a slot, so that its directory has an inode ---- */

static const char *query_at(struct fs *fs, const struct node *n)
{
	if (n->id < 0 || n->id >= MAX_QUERIES)
		return NULL;
	return fs->queries[n->id].text && fs->queries[n->id].gen == (uint32_t)n->ver
		   ? fs->queries[n->id].text
		   : NULL;
}

static int query_node(struct fs *fs, const char *text, struct node *n)
{
	struct query *q;
	size_t slot;
	char *copy;

	for (slot = 0; slot < MAX_QUERIES; slot++)
		if (fs->queries[slot].text && !strcmp(fs->queries[slot].text, text))
			goto found;
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	slot = fs->query_next;
	fs->query_next = (fs->query_next + 1) % MAX_QUERIES;
	q = &fs->queries[slot];
	free(q->text);
	q->text = copy;
	q->gen = ++fs->query_gen & ((1U << INO_VER_BITS) - 1);
found:
	memset(n, 0, sizeof(*n));
	n->kind = N_SEARCH_QUERY;
	n->id = (int64_t)slot;
	n->ver = fs->queries[slot].gen;
	return 0;
}

/* The name of a search result: "DOMAIN.PRODUCT" (neither name may hold a dot). */
static void search_link_name(char *out, size_t size, const struct catalog_product *p)
{
	snprintf(out, size, "%s.%s", p->domain, p->name);
}

static int search_link_target(struct fs *fs, int64_t product_id, char *out, size_t size)
{
	struct catalog_product p = {0};
	int rc = fs_product_get(fs, product_id, &p);

	if (!rc)
		snprintf(out, size, "../../%s/%s", p.domain, p.name);
	catalog_product_release(&p);
	return rc;
}

/* The writable inode of uid for target, made when there is none: looked for in a few slots
 * from a place the pair hashes to; when all are taken, the one made first is reused. */
static void writable_node(struct fs *fs, uid_t uid, struct node *n)
{
	uint64_t h = (uint64_t)n->kind * 0x9E3779B97F4A7C15ULL ^
		     (uint64_t)n->id * 0xC2B2AE3D27D4EB4FULL ^
		     (uint64_t)n->ver * 0x165667B19E3779F9ULL ^ (uint64_t)n->tidx << 40 ^ uid;
	size_t home = (size_t)((h ^ h >> 29) % MAX_WRITABLES), slot = home;
	struct writable *w;

	for (size_t i = 0; i < WRITABLE_PROBES; i++) {
		size_t at = (home + i) % MAX_WRITABLES;

		w = &fs->writables[at];
		if (w->gen && w->uid == uid && !memcmp(&w->target, n, sizeof(*n))) {
			slot = at;
			goto found;
		}
		if (!w->gen || (fs->writables[slot].gen && w->made < fs->writables[slot].made))
			slot = at;
	}
	w = &fs->writables[slot];
	w->uid = uid;
	w->target = *n;
	w->writers = 0;
	w->made = ++fs->writables_made;
	w->gen = (++fs->writable_gen & ((1U << INO_VER_BITS) - 1)) ?: ++fs->writable_gen;
found:
	memset(n, 0, sizeof(*n));
	n->kind = N_WRITABLE;
	n->id = (int64_t)slot;
	n->ver = w->gen;
}

/* What a node shows: a writable inode shows its target. *writable says which it was. */
static int node_target(struct fs *fs, const struct node *n, struct node *target, int *writable)
{
	const struct writable *w;

	*writable = n->kind == N_WRITABLE;
	if (!*writable) {
		*target = *n;
		return 0;
	}
	if (n->id < 0 || n->id >= MAX_WRITABLES)
		return -ENOENT;
	w = &fs->writables[n->id];
	if (!w->gen || w->gen != (uint32_t)n->ver)
		return -ESTALE;
	*target = w->target;
	return 0;
}

static int dir_stamp(struct fs *fs, const struct principal *pr, const struct node *n,
		     struct stat *st, double *timeout);

/* Attributes of node n as pr sees it; *timeout says how long the kernel may keep them. */
static int node_stat(struct fs *fs, const struct principal *pr, const struct node *n,
		     fuse_ino_t ino, struct stat *st, double *timeout)
{
	struct catalog_domain d = {0};
	struct catalog_product p = {0};
	struct catalog_version v = {0};
	char num[2 * CATALOG_NAME_MAX + 16];
	int rc = 0;

	*timeout = TIMEOUT_LISTING;
	if (n->kind == N_WRITABLE) {
		struct node t;
		int writable;

		rc = node_target(fs, n, &t, &writable);
		if (!rc)
			rc = node_stat(fs, pr, &t, ino, st, timeout);
		if (!rc)
			st->st_mode = (st->st_mode & ~07777U) | 0644;
		/* Not kept while written through: the kernel grows this inode's size as its user
		 * writes, and with attributes expired it asks again before each read. */
		if (!rc && fs->writables[n->id].writers)
			*timeout = 0;
		goto out;
	}
	switch (n->kind) {
	case N_ROOT:
	case N_SEARCH:
		stat_fill(st, ino, S_IFDIR | 0555, 0, fs->started, fs);
		*timeout = TIMEOUT_WATCHED;
		break;
	case N_SEARCH_QUERY:
		rc = query_at(fs, n) ? 0 : -ENOENT;
		if (!rc)
			stat_fill(st, ino, S_IFDIR | 0555, 0, mesh_now(), fs);
		*timeout = 0;
		break;
	case N_SEARCH_LINK:
		rc = search_link_target(fs, n->id, num, sizeof(num));
		if (!rc)
			stat_fill(st, ino, S_IFLNK | 0777, strlen(num), fs->started, fs);
		break;
	case N_DOMAIN:
		rc = catalog_domain_get_by_id(fs->m.cat, n->id, &d);
		if (!rc)
			stat_fill(st, ino, S_IFDIR | 0555, 0, d.created_at, fs);
		*timeout = TIMEOUT_WATCHED;
		break;
	case N_PRODUCT:
	case N_VERSIONS:
		rc = fs_product_get(fs, n->id, &p);
		if (!rc)
			stat_fill(st, ino, S_IFDIR | 0555, 0, p.updated_at, fs);
		*timeout = TIMEOUT_WATCHED;
		break;
	case N_VERSION:
		rc = fs_version_get(fs, n->id, n->ver, &v);
		if (!rc) {
			stat_fill(st, ino, S_IFDIR | 0555, 0, v.published_at, fs);
			*timeout = TIMEOUT_IMMUTABLE;
		}
		break;
	case N_LATEST:
		rc = fs_product_get(fs, n->id, &p);
		if (!rc && !p.latest)
			rc = -ENOENT;
		if (!rc)
			stat_fill(st, ino, S_IFLNK | 0777,
				  (uint64_t)snprintf(num, sizeof(num), "%lld", (long long)p.latest),
				  p.updated_at, fs);
		*timeout = TIMEOUT_WATCHED;
		break;
	case N_UPLOAD: {
		const struct upload *up = upload_at(fs, n);

		rc = up && up->uid == pr->uid ? upload_stat(fs, up, ino, st) : -ENOENT;
		*timeout = 0;
		break;
	}
	case N_TABLE:
		rc = fs_version_get(fs, n->id, n->ver, &v);
		if (!rc && n->tidx >= v.ntables)
			rc = -ENOENT;
		if (!rc) {
			const struct catalog_table_version *t = &v.tables[n->tidx];

			stat_fill(st, ino, S_IFREG | 0444,
				  n->view == SEGMENT_PLAIN ? t->plain_size : t->masked_size,
				  v.published_at, fs);
			*timeout = TIMEOUT_IMMUTABLE;
		}
		break;
	default: {
		size_t size;

		assert(is_document(n->kind));
		rc = doc_size(fs, pr, n, &size);
		if (!rc) {
			int64_t mtime = fs->started;

			if (n->kind == N_CONTRACT || n->kind == N_PRODUCT_README) {
				rc = fs_product_get(fs, n->id, &p);
				mtime = p.updated_at;
			}
			stat_fill(st, ino, S_IFREG | 0444, size, mtime, fs);
			/*
			 * A size is only a hint: documents are read as rendered at open. A
			 * product's README changes with the product (product_changed) and, as it
			 * turns stale, with the time.
			 */
			if (n->kind == N_CONTRACT)
				*timeout = TIMEOUT_IMMUTABLE;
			else if (n->kind == N_PRODUCT_README)
				*timeout = TIMEOUT_WATCHED;
			else if (n->kind == N_PUBLISH_LOG)
				*timeout = 0;
		}
		break;
	}
	}
	if (!rc && S_ISDIR(st->st_mode))
		rc = dir_stamp(fs, pr, n, st, timeout);
out:
	catalog_domain_release(&d);
	catalog_product_release(&p);
	catalog_version_release(&v);
	return rc;
}

/* The view of a table the caller gets: plain only with unmask, and only where there is PII. */
static int table_view(struct fs *fs, const struct principal *pr, const struct catalog_product *p,
		      const struct catalog_table_version *t, enum segment_view *view)
{
	int rc;

	*view = SEGMENT_MASKED;
	if (!t->has_pii)
		return 0;
	rc = fs_allowed(fs, pr, PRIV_UNMASK, p);
	if (rc < 0)
		return rc;
	if (rc)
		*view = SEGMENT_PLAIN;
	return 0;
}

/* Splits "NAME.csv" into the table name; returns 0 if name is a table file name. */
static int table_name(const char *name, char out[CATALOG_NAME_MAX])
{
	size_t len = strlen(name);

	if (len <= 4 || len - 4 >= CATALOG_NAME_MAX || strcmp(name + len - 4, ".csv"))
		return -ENOENT;
	memcpy(out, name, len - 4);
	out[len - 4] = '\0';
	return 0;
}

/* The table node called name in version number of product p. */
static int lookup_table(struct fs *fs, const struct principal *pr, const struct catalog_product *p,
			int64_t number, const char *name, struct node *child)
{
	struct catalog_version v = {0};
	char table[CATALOG_NAME_MAX];
	int rc;

	rc = table_name(name, table);
	if (!rc && !number)
		rc = -ENOENT;
	if (!rc)
		rc = fs_version_get(fs, p->id, number, &v);
	if (rc)
		goto out;
	rc = -ENOENT;
	for (size_t i = 0; i < v.ntables; i++) {
		if (strcmp(v.tables[i].name, table))
			continue;
		child->kind = N_TABLE;
		child->id = p->id;
		child->ver = number;
		child->tidx = (unsigned)i;
		rc = table_view(fs, pr, p, &v.tables[i], &child->view);
		break;
	}
out:
	catalog_version_release(&v);
	return rc;
}

static int parse_version(const char *name, int64_t *out)
{
	char *end;
	long long v;

	if (name[0] < '1' || name[0] > '9')
		return -ENOENT;
	errno = 0;
	v = strtoll(name, &end, 10);
	if (errno || *end)
		return -ENOENT;
	*out = v;
	return 0;
}

static int node_lookup(struct fs *fs, const struct principal *pr, const struct node *parent,
		       const char *name, struct node *child)
{
	struct upload *up;
	struct catalog_domain d = {0};
	struct catalog_product p = {0};
	struct catalog_version v = {0};
	int rc = 0;

	memset(child, 0, sizeof(*child));
	switch (parent->kind) {
	case N_ROOT:
		if (!strcmp(name, "README.md")) {
			child->kind = N_ROOT_README;
		} else if (!strcmp(name, "catalog.csv")) {
			child->kind = N_CATALOG_CSV;
		} else if (!strcmp(name, "policy.yaml")) {
			child->kind = N_POLICY;
		} else if (!strcmp(name, "lineage.dot")) {
			child->kind = N_LINEAGE;
		} else if (!strcmp(name, ".search")) {
			child->kind = N_SEARCH;
		} else {
			rc = catalog_domain_get(fs->m.cat, name, &d);
			child->kind = N_DOMAIN;
			child->id = d.id;
		}
		break;
	case N_DOMAIN:
		child->id = parent->id;
		if (!strcmp(name, "README.md")) {
			child->kind = N_DOMAIN_README;
			break;
		}
		rc = catalog_domain_get_by_id(fs->m.cat, parent->id, &d);
		if (!rc)
			rc = catalog_product_get(fs->m.cat, d.name, name, &p);
		child->kind = N_PRODUCT;
		child->id = p.id;
		break;
	case N_PRODUCT:
		child->id = parent->id;
		rc = fs_product_get(fs, parent->id, &p);
		if (rc)
			break;
		/* the writer's own uploads stand in front of what they will replace */
		if ((up = upload_find(fs, parent->id, name, pr->uid))) {
			upload_node(fs, up, child);
		} else if (!strcmp(name, "README.md")) {
			child->kind = N_PRODUCT_README;
		} else if (!strcmp(name, "publish.log")) {
			child->kind = N_PUBLISH_LOG;
		} else if (!strcmp(name, "contract.yaml")) {
			child->kind = N_CONTRACT;
			child->ver = p.contract_seq;
		} else if (!strcmp(name, "versions")) {
			child->kind = N_VERSIONS;
		} else {
			rc = lookup_table(fs, pr, &p, p.latest, name, child);
		}
		if (!rc && (child->kind == N_TABLE || child->kind == N_CONTRACT) &&
		    fs_allowed(fs, pr, PRIV_PUBLISH, &p) == 1)
			writable_node(fs, pr->uid, child);
		break;
	case N_VERSIONS:
		child->id = parent->id;
		rc = fs_product_get(fs, parent->id, &p);
		if (rc)
			break;
		if (!strcmp(name, "latest")) {
			child->kind = N_LATEST;
			rc = p.latest ? 0 : -ENOENT;
		} else {
			child->kind = N_VERSION;
			rc = parse_version(name, &child->ver);
			if (!rc && child->ver > p.latest)
				rc = -ENOENT;
		}
		break;
	case N_VERSION:
		rc = fs_product_get(fs, parent->id, &p);
		if (rc)
			break;
		if (!strcmp(name, "contract.yaml")) {
			rc = fs_version_get(fs, parent->id, parent->ver, &v);
			child->kind = N_CONTRACT;
			child->id = parent->id;
			child->ver = v.contract_seq;
		} else {
			rc = lookup_table(fs, pr, &p, parent->ver, name, child);
		}
		break;
	case N_SEARCH:
		rc = query_node(fs, name, child);
		break;
	case N_SEARCH_QUERY: {
		char domain[CATALOG_NAME_MAX];
		const char *dot = strchr(name, '.');

		rc = -ENOENT;
		if (!query_at(fs, parent) || !dot || (size_t)(dot - name) >= sizeof(domain))
			break;
		memcpy(domain, name, (size_t)(dot - name));
		domain[dot - name] = '\0';
		rc = catalog_product_get(fs->m.cat, domain, dot + 1, &p);
		child->kind = N_SEARCH_LINK;
		child->id = p.id;
		break;
	}
	default:
		rc = -ENOTDIR;
		break;
	}
	catalog_domain_release(&d);
	catalog_product_release(&p);
	catalog_version_release(&v);
	return rc;
}

/*
 * How long the kernel may keep the lookup of child in parent. Names in the mesh never go away and
 * mostly always mean the same node, so most lookups may be kept; not the names that resolve
 * differently as versions come or per caller: a product's current tables and contract (and a
 * publisher's own inode of them), a table with PII in a version (one inode per view), uploads
 * and search results.
 */
static double entry_timeout(struct fs *fs, const struct node *parent, const struct node *child)
{
	struct catalog_version v = {0};
	double timeout = TIMEOUT_IMMUTABLE;

	switch (child->kind) {
	case N_TABLE:
		if (parent->kind != N_VERSION || fs_version_get(fs, child->id, child->ver, &v) ||
		    child->tidx >= v.ntables || v.tables[child->tidx].has_pii)
			timeout = 0;
		break;
	case N_CONTRACT:
		if (parent->kind != N_VERSION)
			timeout = 0;
		break;
	case N_UPLOAD:
	case N_SEARCH_QUERY:
	case N_SEARCH_LINK:
	case N_WRITABLE:
		timeout = 0;
		break;
	default:
		break;
	}
	catalog_version_release(&v);
	return timeout;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	const struct principal *pr;
	struct node pn, cn;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = ino_decode(parent, &pn);
	if (rc)
		goto reply;
	fs_lock(fs);
	pr = fs_principal(fs, req);
	rc = pr ? node_lookup(fs, pr, &pn, name, &cn) : -EACCES;
	if (!rc)
		rc = ino_encode(&cn, &e.ino);
	if (!rc)
		rc = node_stat(fs, pr, &cn, e.ino, &e.attr, &e.attr_timeout);
	if (!rc)
		e.entry_timeout = entry_timeout(fs, &pn, &cn);
	fs_unlock(fs);
reply:
	if (rc == -ENOENT) {
		/* A negative entry with timeout 0: names appear as soon as the catalog has them. */
		e.ino = 0;
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	const struct principal *pr;
	struct stat st;
	struct node n;
	double timeout;
	int rc;

	(void)fi;
	rc = ino_decode(ino, &n);
	if (!rc) {
		fs_lock(fs);
		pr = fs_principal(fs, req);
		rc = pr ? node_stat(fs, pr, &n, ino, &st, &timeout) : -EACCES;
		fs_unlock(fs);
	}
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, timeout);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct catalog_product p = {0};
	char target[2 * CATALOG_NAME_MAX + 16];
	struct node n;
	int rc;

	rc = ino_decode(ino, &n);
	if (!rc && n.kind != N_LATEST && n.kind != N_SEARCH_LINK)
		rc = -EINVAL;
	if (!rc) {
		fs_lock(fs);
		if (n.kind == N_SEARCH_LINK) {
			rc = search_link_target(fs, n.id, target, sizeof(target));
		} else {
			rc = fs_product_get(fs, n.id, &p);
			if (!rc && !p.latest)
				rc = -ENOENT;
			snprintf(target, sizeof(target), "%lld", (long long)p.latest);
		}
		fs_unlock(fs);
	}
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, target);
	catalog_product_release(&p);
}

/* ---- directories: listed whole at opendir, served from the list ---- */

static int dir_add(struct dir_list *l, const char *name, const struct node *n, mode_t mode)
{
	struct dir_entry *e;
	fuse_ino_t ino;
	int rc;

	rc = ino_encode(n, &ino);
	if (rc)
		return rc;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;

		e = realloc(l->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		l->e = e;
		l->cap = cap;
	}
	e = &l->e[l->n];
	e->name = strdup(name);
	if (!e->name)
		return -ENOMEM;
	e->ino = ino;
	e->mode = mode;
	l->n++;
	return 0;
}

static void dir_release(struct dir_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
	memset(l, 0, sizeof(*l));
}

struct dir_fill {
	struct dir_list *l;
};

static int list_domain(const struct catalog_domain *d, void *ctx)
{
	struct node n = {.kind = N_DOMAIN, .id = d->id};

	return dir_add(ctx, d->name, &n, S_IFDIR);
}

static int list_product(const struct catalog_product *p, void *ctx)
{
	struct node n = {.kind = N_PRODUCT, .id = p->id};

	return dir_add(ctx, p->name, &n, S_IFDIR);
}

static int list_search_result(const struct catalog_product *p, void *ctx)
{
	struct node n = {.kind = N_SEARCH_LINK, .id = p->id};
	char name[2 * CATALOG_NAME_MAX];

	search_link_name(name, sizeof(name), p);
	return dir_add(ctx, name, &n, S_IFLNK);
}

static int list_tables(struct fs *fs, const struct principal *pr, const struct catalog_product *p,
		       int64_t number, struct dir_list *l)
{
	struct catalog_version v = {0};
	char name[CATALOG_NAME_MAX + 4];
	int rc;

	rc = fs_version_get(fs, p->id, number, &v);
	for (size_t i = 0; !rc && i < v.ntables; i++) {
		struct node n = {.kind = N_TABLE, .id = p->id, .ver = number, .tidx = (unsigned)i};

		rc = table_view(fs, pr, p, &v.tables[i], &n.view);
		l->per_caller |= v.tables[i].has_pii;
		snprintf(name, sizeof(name), "%s.csv", v.tables[i].name);
		/* in the top-level listing, the writer's upload of the same name stands in front */
		if (!rc && !(number == p->latest && upload_find(fs, p->id, name, pr->uid)))
			rc = dir_add(l, name, &n, S_IFREG);
	}
	catalog_version_release(&v);
	return rc;
}

static int dir_build(struct fs *fs, const struct principal *pr, const struct node *dn,
		     struct dir_list *l)
{
	struct catalog_domain d = {0};
	struct catalog_product p = {0};
	struct catalog_version v = {0};
	struct node n = {.id = dn->id};
	char num[32];
	int rc;

	rc = dir_add(l, ".", dn, S_IFDIR);
	if (!rc)
		rc = dir_add(l, "..", &(struct node){.kind = N_ROOT}, S_IFDIR);
	if (rc)
		goto out;
	switch (dn->kind) {
	case N_ROOT:
		n.kind = N_ROOT_README;
		rc = dir_add(l, "README.md", &n, S_IFREG);
		n.kind = N_CATALOG_CSV;
		if (!rc)
			rc = dir_add(l, "catalog.csv", &n, S_IFREG);
		n.kind = N_POLICY;
		if (!rc)
			rc = dir_add(l, "policy.yaml", &n, S_IFREG);
		n.kind = N_LINEAGE;
		if (!rc)
			rc = dir_add(l, "lineage.dot", &n, S_IFREG);
		n.kind = N_SEARCH;
		if (!rc)
			rc = dir_add(l, ".search", &n, S_IFDIR);
		if (!rc)
			rc = catalog_domain_list(fs->m.cat, list_domain, l);
		break;
	case N_SEARCH:
		/* queries are looked up, not listed */
		break;
	case N_SEARCH_QUERY: {
		const char *text = query_at(fs, dn);

		rc = text ? catalog_search(fs->m.cat, text, SEARCH_LIMIT, list_search_result, l)
			  : -ENOENT;
		break;
	}
	case N_DOMAIN:
		rc = catalog_domain_get_by_id(fs->m.cat, dn->id, &d);
		n.kind = N_DOMAIN_README;
		if (!rc)
			rc = dir_add(l, "README.md", &n, S_IFREG);
		if (!rc)
			rc = catalog_product_list(fs->m.cat, d.name, list_product, l);
		break;
	case N_PRODUCT:
		rc = fs_product_get(fs, dn->id, &p);
		if (rc)
			break;
		n.kind = N_PRODUCT_README;
		rc = dir_add(l, "README.md", &n, S_IFREG);
		n.kind = N_CONTRACT;
		n.ver = p.contract_seq;
		if (!rc)
			rc = dir_add(l, "contract.yaml", &n, S_IFREG);
		n.kind = N_PUBLISH_LOG;
		n.ver = 0;
		if (!rc)
			rc = dir_add(l, "publish.log", &n, S_IFREG);
		n.kind = N_VERSIONS;
		if (!rc)
			rc = dir_add(l, "versions", &n, S_IFDIR);
		if (!rc && p.latest)
			rc = list_tables(fs, pr, &p, p.latest, l);
		for (size_t i = 0; !rc && i < MAX_UPLOADS; i++) {
			struct upload *up = fs->uploads[i];

			if (!up || !up->linked || up->product_id != dn->id)
				continue;
			l->per_caller = 1;
			if (up->uid != pr->uid)
				continue;
			upload_node(fs, up, &n);
			rc = dir_add(l, up->name, &n, S_IFREG);
		}
		break;
	case N_VERSIONS:
		rc = fs_product_get(fs, dn->id, &p);
		n.kind = N_VERSION;
		for (int64_t i = 1; !rc && i <= p.latest; i++) {
			n.ver = i;
			snprintf(num, sizeof(num), "%lld", (long long)i);
			rc = dir_add(l, num, &n, S_IFDIR);
		}
		n.kind = N_LATEST;
		n.ver = 0;
		if (!rc && p.latest)
			rc = dir_add(l, "latest", &n, S_IFLNK);
		break;
	case N_VERSION:
		rc = fs_product_get(fs, dn->id, &p);
		if (!rc)
			rc = fs_version_get(fs, dn->id, dn->ver, &v);
		n.kind = N_CONTRACT;
		n.ver = v.contract_seq;
		if (!rc)
			rc = dir_add(l, "contract.yaml", &n, S_IFREG);
		if (!rc)
			rc = list_tables(fs, pr, &p, dn->ver, l);
		break;
	default:
		rc = -ENOTDIR;
		break;
	}
out:
	catalog_domain_release(&d);
	catalog_product_release(&p);
	catalog_version_release(&v);
	return rc;
}

/*
 * A directory's mtime carries in its nanoseconds a digest of its listing as the caller sees it.
 * The kernel keeps a listing while the mtime stays the same: a new version, a new product or
 * another caller's view changes it, and the kernel lists again. A listing that may differ
 * between callers keeps no attributes, so that each caller's opendir asks.
 */
static int dir_stamp(struct fs *fs, const struct principal *pr, const struct node *n,
		     struct stat *st, double *timeout)
{
	struct dir_list l = {0};
	uint32_t crc = 0;
	int rc;

	rc = dir_build(fs, pr, n, &l);
	for (size_t i = 0; !rc && i < l.n; i++) {
		crc = crc32c(crc, l.e[i].name, strlen(l.e[i].name) + 1);
		crc = crc32c(crc, &l.e[i].ino, sizeof(l.e[i].ino));
	}
	if (!rc) {
		st->st_mtim.tv_nsec = (long)(crc % 1000000000U);
		if (l.per_caller)
			*timeout = 0;
	}
	dir_release(&l);
	return rc;
}

/* Listings are built for each request, so an open has nothing to hold and, where the kernel
 * can do without, is not asked for. */
static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct node n;
	int rc;

	rc = ino_decode(ino, &n);
	if (!rc && fs->no_opendir)
		rc = -ENOSYS;
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->cache_readdir = fi->keep_cache = fs->cache_dirs;
	fuse_reply_open(req, fi);
}

/*
 * Entries from off on, as the caller sees them; with plus, with their attributes: ls -l and find
 * get a directory in one request instead of a lookup per name. Names that must be looked up
 * each time go without theirs.
 */
static void dir_reply(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int plus)
{
	struct fs *fs = fs_of(req);
	struct dir_list l = {0};
	const struct principal *pr;
	struct node dn, cn;
	size_t used = 0;
	char *buf;
	int rc;

	rc = ino_decode(ino, &dn);
	buf = rc ? NULL : malloc(size);
	if (!buf) {
		fuse_reply_err(req, rc ? -rc : ENOMEM);
		return;
	}
	fs_lock(fs);
	pr = fs_principal(fs, req);
	rc = pr ? dir_build(fs, pr, &dn, &l) : -EACCES;
	for (size_t i = (size_t)off; !rc && i < l.n; i++) {
		struct fuse_entry_param e = {
		    .attr = {.st_ino = l.e[i].ino, .st_mode = l.e[i].mode}};
		size_t need;

		/* the kernel takes no attributes for . and .. */
		if (plus && i >= 2 && !ino_decode(l.e[i].ino, &cn) &&
		    !node_stat(fs, pr, &cn, l.e[i].ino, &e.attr, &e.attr_timeout)) {
			e.entry_timeout = entry_timeout(fs, &dn, &cn);
			if (e.entry_timeout > 0)
				e.ino = l.e[i].ino;
		}
		if (!e.ino)
			e.attr = (struct stat){.st_ino = l.e[i].ino, .st_mode = l.e[i].mode};
		need = plus ? fuse_add_direntry_plus(req, buf + used, size - used, l.e[i].name, &e,
						     (off_t)(i + 1))
			    : fuse_add_direntry(req, buf + used, size - used, l.e[i].name, &e.attr,
						(off_t)(i + 1));
		if (need > size - used)
			break;
		used += need;
	}
	fs_unlock(fs);
	dir_release(&l);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	dir_reply(req, ino, size, off, 0);
}

static void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)fi;
	dir_reply(req, ino, size, off, 1);
}

/* ---- files ---- */

static void audit_plain_open(struct fs *fs, const struct principal *pr,
			     const struct catalog_product *p, const struct catalog_version *v,
			     const struct catalog_table_version *t)
{
	char object[3 * CATALOG_NAME_MAX];
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
	char binding[3 * CATALOG_NAME_MAX];
	int rc;

	rc = fs_product_get(fs, n->id, &p);
	if (!rc)
		rc = fs_version_get(fs, n->id, n->ver, &v);
	if (!rc && n->tidx >= v.ntables)
		rc = -ENOENT;
	if (rc)
		goto out;
	t = &v.tables[n->tidx];
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
	if (n->view == SEGMENT_PLAIN) {
		of->cache = segment_cache_new();
		if (!of->cache) {
			rc = -ENOMEM;
			goto out;
		}
		audit_plain_open(fs, pr, &p, &v, t);
	}
out:
	catalog_product_release(&p);
	catalog_version_release(&v);
	return rc;
}

/* Ends one open of an upload; an upload under a name that publishes had its publish at flush. */
static void release_upload(struct fs *fs, struct upload *up)
{
	fs_lock(fs);
	assert(up->opens > 0);
	up->opens--;
	if (!up->opens && publish_name_publishes(up->name))
		up->linked = 0;
	upload_settle(fs, up);
	fs_unlock(fs);
}

static void open_file_free(struct fs *fs, struct open_file *of)
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
	if (of->up)
		release_upload(fs, of->up);
	if (of->ps)
		pool_put(fs, of->ps);
	segment_cache_free(of->cache);
	pthread_mutex_destroy(&of->cache_lock);
	strbuf_release(&of->doc);
	free(of);
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

/*
 * Publishes what up holds under the name as_name. The catalog lock is not held meanwhile: a
 * publish reads the whole upload, and the rest of the mount must go on. It uses a mesh handle of
 * its own (a catalog connection is for one thread at a time).
 */
/* Drops the kernel's attributes of a node, if it has its inode: it asks for them again, and a
 * directory's mtime tells it whether the listing it kept is still right (dir_stamp). */
static void node_changed(struct fs *fs, enum node_kind kind, int64_t id)
{
	struct node n = {.kind = kind, .id = id};
	fuse_ino_t ino;

	if (fs->se && !ino_encode(&n, &ino))
		(void)fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
}

/* After a publish: the product's listings, README and versions/latest are out of date. Called
 * without fs->lock, so that the kernel can ask while it takes the notice. */
static void product_changed(struct fs *fs, int64_t product_id)
{
	node_changed(fs, N_PRODUCT, product_id);
	node_changed(fs, N_VERSIONS, product_id);
	node_changed(fs, N_LATEST, product_id);
	node_changed(fs, N_PRODUCT_README, product_id);
}

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
	rc = fs_product_get(fs, up->product_id, &p);
	fs_unlock(fs);
	if (rc)
		goto out;
	rc = principal_init(&pr, up->uid, up->gid);
	if (rc)
		goto out;
	rc = mesh_open(&m, fs->mesh_dir, &err);
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
	if (!rc)
		product_changed(fs, up->product_id);
	if (opened)
		mesh_close(&m);
	principal_release(&pr);
	catalog_product_release(&p);
	return rc;
}

/* Checks that the caller may publish to the product, for opens and creates; a refusal is
 * audited like any other (DESIGN §5), under the name being written. */
static int may_publish(struct fs *fs, const struct principal *pr, int64_t product_id,
		       const char *name, struct catalog_product *p)
{
	char object[2 * CATALOG_NAME_MAX + NAME_MAX + 4];
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

/* Publishes an upload written since its last publish attempt, if its name publishes. */
static int flush_upload(struct fs *fs, struct upload *up)
{
	char name[NAME_MAX + 1];
	int dirty;

	fs_lock(fs);
	dirty = up->dirty;
	snprintf(name, sizeof(name), "%s", up->name);
	fs_unlock(fs);
	if (!dirty || !publish_name_publishes(name))
		return 0;
	return upload_publish(fs, up, name);
}

/* The process (thread group) of a thread: FUSE requests name the calling thread. */
static pid_t task_tgid(pid_t tid)
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

static struct open_file *open_file_new(struct fs *fs)
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

/* Opens for writing the name a table or contract inode stands for: a new, empty upload that
 * replaces it as a whole when published; published versions are never modified. */
static int open_for_publish(struct fs *fs, fuse_req_t req, const struct principal *pr,
			    const struct node *n, struct writable *w, struct open_file *of)
{
	struct catalog_product p = {0};
	struct catalog_version v = {0};
	char name[CATALOG_NAME_MAX + 8];
	int rc;

	/* Only publishers' own inodes of TABLE.csv and contract.yaml come here: writing the name
	 * starts an upload, even when another publish made a newer version since the lookup. */
	if (n->kind == N_CONTRACT) {
		snprintf(name, sizeof(name), "contract.yaml");
	} else {
		rc = fs_version_get(fs, n->id, n->ver, &v);
		if (!rc && n->tidx >= v.ntables)
			rc = -ENOENT;
		if (rc)
			goto out;
		snprintf(name, sizeof(name), "%s.csv", v.tables[n->tidx].name);
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

static int open_upload(struct fs *fs, const struct principal *pr, const struct node *n, int flags,
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
static int refuse_write(struct fs *fs, const struct principal *pr, const struct node *n)
{
	struct catalog_product p = {0};
	struct catalog_version v = {0};
	char name[CATALOG_NAME_MAX + 8] = "contract.yaml";
	int rc;

	rc = fs_product_get(fs, n->id, &p);
	if (!rc && (n->kind == N_CONTRACT ? n->ver == p.contract_seq : n->ver == p.latest)) {
		if (n->kind == N_TABLE && !fs_version_get(fs, n->id, n->ver, &v) &&
		    n->tidx < v.ntables)
			snprintf(name, sizeof(name), "%s.csv", v.tables[n->tidx].name);
		catalog_product_release(&p);
		rc = may_publish(fs, pr, n->id, name, &p);
	}
	catalog_product_release(&p);
	catalog_version_release(&v);
	return rc ? rc : -EROFS;
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	const struct principal *pr;
	struct writable *w;
	struct open_file *of;
	struct node n, t;
	int rc, writable, writing = (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);

	rc = ino_decode(ino, &n);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	of = open_file_new(fs);
	if (!of) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_lock(fs);
	pr = fs_principal(fs, req);
	rc = node_target(fs, &n, &t, &writable);
	w = !rc && writable ? &fs->writables[n.id] : NULL;
	n = t;
	if (!rc && !pr)
		rc = -EACCES;
	if (rc)
		;
	else if (n.kind == N_UPLOAD)
		rc = open_upload(fs, pr, &n, fi->flags, of);
	else if (writing && writable)
		rc = open_for_publish(fs, req, pr, &n, w, of);
	else if (writing && (n.kind == N_TABLE || n.kind == N_CONTRACT))
		rc = refuse_write(fs, pr, &n);
	else if (writing)
		rc = is_document(n.kind) ? -EPERM : -EISDIR;
	else if (n.kind == N_TABLE)
		rc = open_table(fs, pr, &n, of);
	else if (is_document(n.kind))
		rc = node_render(fs, pr, &n, &of->doc);
	else
		rc = -EISDIR;
	fs_unlock(fs);
	if (rc) {
		open_file_free(fs, of);
		fuse_reply_err(req, -rc);
		return;
	}
	/* Immutable inodes keep their page cache; generated documents are read as rendered at
	 * this open, whatever size an earlier stat saw; uploads change under their writer. */
	if (!of->up && (n.kind == N_TABLE || n.kind == N_CONTRACT))
		fi->keep_cache = 1;
	else
		fi->direct_io = 1;
	if (of->up)
		of->opener = task_tgid(fuse_req_ctx(req)->pid);
	fi->fh = (uintptr_t)of;
	if (fuse_reply_open(req, fi) == -ENOENT)
		open_file_free(fs, of);
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

/* A reply of the masked view straight from the segment file: a few pieces, no copy here. */
#define REPLY_EXTENTS 16

struct reply_extents {
	struct fuse_bufvec bv;
	struct fuse_buf more[REPLY_EXTENTS - 1]; /* bv.buf[1..]: the array goes on here */
	int fd;
};

static int reply_extent(uint64_t file_off, size_t n, void *ctx)
{
	struct reply_extents *r = ctx;
	struct fuse_buf *b;

	if (r->bv.count == REPLY_EXTENTS)
		return -E2BIG;
	b = &r->bv.buf[r->bv.count++];
	memset(b, 0, sizeof(*b));
	b->size = n;
	b->flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	b->fd = r->fd;
	b->pos = (off_t)file_off;
	return 0;
}

/* Replies with bytes of the masked view from the file; -E2BIG when they lie in too many
 * pieces (then the caller copies). */
static int reply_masked(fuse_req_t req, struct segment *seg, size_t size, off_t off)
{
	struct reply_extents r = {.fd = segment_fd(seg)};
	ssize_t n;

	if (r.fd < 0)
		return -E2BIG;
	r.bv.count = 0;
	n = segment_masked_extents(seg, (uint64_t)off, size, reply_extent, &r);
	if (n < 0 && n != -E2BIG)
		fuse_reply_err(req, (int)-n);
	if (n < 0)
		return (int)n;
	if (!r.bv.count) {
		fuse_reply_buf(req, NULL, 0);
		return 0;
	}
	fuse_reply_data(req, &r.bv, FUSE_BUF_SPLICE_MOVE);
	return 0;
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

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
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
	if (of->ps && of->view == SEGMENT_MASKED &&
	    reply_masked(req, of->ps->seg, size, off) != -E2BIG)
		return;
	buf = reply_buffer(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* Once replied to, the file may be released (and of freed) by another thread. */
	secret = of->up || of->view == SEGMENT_PLAIN;
	if (of->up) {
		got = staging_pread(of->up->st, buf, size, (uint64_t)off);
	} else {
		if (of->cache)
			pthread_mutex_lock(&of->cache_lock);
		got = segment_read(of->ps->seg, of->view, buf, size, (uint64_t)off, fs_segment_key,
				   fs, of->cache);
		if (of->cache)
			pthread_mutex_unlock(&of->cache_lock);
	}
	if (got < 0)
		fuse_reply_err(req, (int)-got);
	else
		fuse_reply_buf(req, buf, (size_t)got);
	/* a failed read may have filled part of the buffer */
	if (secret)
		sodium_memzero(buf, got > 0 ? (size_t)got : size);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	(void)ino;
	/* Written after the opener's last close (by a child that kept the descriptor): published
	 * now, though nobody sees the outcome but publish.log. */
	if (of->up)
		(void)flush_upload(fs_of(req), of->up);
	open_file_free(fs_of(req), of);
	fuse_reply_err(req, 0);
}

/* ---- extended attributes of table files ---- */

static const char *const xattr_names[] = {
    "user.meshfs.version",	"user.meshfs.rows", "user.meshfs.published_at",
    "user.meshfs.published_by", "user.meshfs.hash", "user.meshfs.view",
};

static int xattr_value(struct fs *fs, const struct node *n, const char *name, char *out,
		       size_t size)
{
	struct catalog_version v = {0};
	const struct catalog_table_version *t;
	char when[RENDER_TIME_LEN];
	int rc;

	if (n->kind != N_TABLE)
		return -ENODATA;
	rc = fs_version_get(fs, n->id, n->ver, &v);
	if (!rc && n->tidx >= v.ntables)
		rc = -ENOENT;
	if (rc)
		goto out;
	t = &v.tables[n->tidx];
	render_time(v.published_at, when);
	if (!strcmp(name, "user.meshfs.version"))
		snprintf(out, size, "%lld", (long long)v.number);
	else if (!strcmp(name, "user.meshfs.rows"))
		snprintf(out, size, "%llu", (unsigned long long)t->rows);
	else if (!strcmp(name, "user.meshfs.published_at"))
		snprintf(out, size, "%s", when);
	else if (!strcmp(name, "user.meshfs.published_by"))
		snprintf(out, size, "%s", v.published_by);
	else if (!strcmp(name, "user.meshfs.hash"))
		snprintf(out, size, "blake2b:%s", t->segment);
	else if (!strcmp(name, "user.meshfs.view"))
		snprintf(out, size, "%s", n->view == SEGMENT_PLAIN ? "plain" : "masked");
	else
		rc = -ENODATA;
out:
	catalog_version_release(&v);
	return rc;
}

static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs *fs = fs_of(req);
	char value[128];
	struct node n, t;
	size_t len;
	int rc, writable;

	rc = ino_decode(ino, &n);
	/*
	 * ls -l asks every file for its security label and ACL. Saying the namespace is not
	 * supported, rather than that the file has no such attribute, lets it stop asking files of
	 * this mount; the kernel forwards each question as a request.
	 */
	if (!rc && strncmp(name, "user.", 5))
		rc = -EOPNOTSUPP;
	else if (!rc && strncmp(name, "user.meshfs.", 12))
		rc = -ENODATA;
	if (!rc) {
		fs_lock(fs);
		rc = node_target(fs, &n, &t, &writable);
		if (!rc)
			rc = xattr_value(fs, &t, name, value, sizeof(value));
		fs_unlock(fs);
	}
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	len = strlen(value);
	if (!size)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, value, len);
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs *fs = fs_of(req);
	struct strbuf names;
	struct node n, t;
	int rc, writable;

	strbuf_init(&names);
	rc = ino_decode(ino, &n);
	if (!rc) {
		fs_lock(fs);
		rc = node_target(fs, &n, &t, &writable);
		fs_unlock(fs);
		n = t;
	}
	for (size_t i = 0;
	     !rc && n.kind == N_TABLE && i < sizeof(xattr_names) / sizeof(*xattr_names); i++)
		rc = strbuf_add(&names, xattr_names[i], strlen(xattr_names[i]) + 1);
	if (rc)
		fuse_reply_err(req, -rc);
	else if (!size)
		fuse_reply_xattr(req, names.len);
	else if (size < names.len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, names.buf, names.len);
	strbuf_release(&names);
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct catalog_product p = {0};
	struct fuse_entry_param e;
	const struct principal *pr;
	struct open_file *of = NULL;
	struct upload *up = NULL;
	struct node pn, cn;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = ino_decode(parent, &pn);
	if (!rc && pn.kind != N_PRODUCT)
		rc = pn.kind == N_VERSIONS || pn.kind == N_VERSION ? -EROFS : -EPERM;
	if (!rc && reserved_name(name))
		rc = -EPERM;
	if (!rc && !(of = open_file_new(fs)))
		rc = -ENOMEM;
	if (rc)
		goto reply;
	fs_lock(fs);
	pr = fs_principal(fs, req);
	rc = pr ? may_publish(fs, pr, pn.id, name, &p) : -EACCES;
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
		rc = ino_encode(&cn, &e.ino);
		if (!rc)
			upload_stat(fs, up, e.ino, &e.attr);
	}
	fs_unlock(fs);
	catalog_product_release(&p);
	if (rc) {
		open_file_free(fs, of);
		goto reply;
	}
	of->opener = task_tgid(fuse_req_ctx(req)->pid);
	fi->fh = (uintptr_t)of;
	fi->direct_io = 1;
	if (fuse_reply_create(req, &e, fi) == -ENOENT)
		open_file_free(fs, of);
	return;
reply:
	fuse_reply_err(req, -rc);
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
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
static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	(void)ino;
	if (!of->up || task_tgid(fuse_req_ctx(req)->pid) != of->opener)
		fuse_reply_err(req, 0);
	else
		fuse_reply_err(req, -flush_upload(fs_of(req), of->up));
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	(void)ino, (void)datasync;
	fuse_reply_err(req, of->up ? -flush_upload(fs_of(req), of->up) : 0);
}

/* Whether name exists in the directory for the caller: what cannot be removed must say EPERM,
 * what is not there ENOENT. */
static int name_exists(struct fs *fs, const struct principal *pr, const struct node *parent,
		       const char *name)
{
	struct node child;
	int rc = node_lookup(fs, pr, parent, name, &child);

	return rc == -ENOENT ? 0 : rc < 0 ? rc : 1;
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	const struct principal *pr;
	struct upload *up = NULL;
	struct node pn;
	int rc;

	rc = ino_decode(parent, &pn);
	if (rc)
		goto reply;
	fs_lock(fs);
	pr = fs_principal(fs, req);
	if (!pr)
		rc = -EACCES;
	else if (pn.kind == N_PRODUCT && (up = upload_find(fs, pn.id, name, pr->uid)))
		up->linked = 0;
	else
		rc = name_exists(fs, pr, &pn, name);
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

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct fs *fs = fs_of(req);
	const struct principal *pr;
	struct upload *up = NULL, *other;
	struct node pn;
	char *copy;
	int rc, publish = 0;

	rc = ino_decode(parent, &pn);
	if (rc)
		goto reply;
	fs_lock(fs);
	pr = fs_principal(fs, req);
	if (!pr)
		rc = -EACCES;
	else if (pn.kind != N_PRODUCT || !(up = upload_find(fs, pn.id, name, pr->uid)))
		rc = name_exists(fs, pr, &pn, name) == 1 ? -EPERM : -ENOENT;
	else if (newparent != parent)
		rc = -EXDEV;
	else if (flags & RENAME_EXCHANGE)
		rc = -EINVAL;
	else if (reserved_name(newname))
		rc = -EPERM;
	else if ((flags & RENAME_NOREPLACE) && name_exists(fs, pr, &pn, newname))
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

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	const struct principal *pr;
	struct upload *up = NULL;
	struct stat st;
	struct node n, t;
	double timeout;
	int rc, writable;

	rc = ino_decode(ino, &n);
	if (rc)
		goto reply;
	fs_lock(fs);
	pr = fs_principal(fs, req);
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
	if (!pr)
		rc = -EACCES;
	else if (!up && writable && !fi && (to_set & FUSE_SET_ATTR_SIZE) && !attr->st_size)
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

/* The contract a product made with mkdir starts with: no tables yet. */
static int draft_contract(struct strbuf *out, const char *domain, const char *product,
			  const char *user)
{
	return strbuf_addf(
	    out,
	    "apiVersion: v3.0.2\n"
	    "kind: DataContract\n"
	    "id: %s-%s\n"
	    "domain: %s\n"
	    "dataProduct: %s\n"
	    "version: 0.1.0\n"
	    "status: draft\n"
	    "description:\n"
	    "  purpose: Created with mkdir by %s; write contract.yaml to describe it.\n"
	    "schema: []\n",
	    domain, product, domain, product, user);
}

static int make_domain(struct fs *fs, const struct principal *pr, const char *name,
		       struct mfs_error *err)
{
	char description[128];
	int rc;

	rc = acl_allowed(fs->m.cat, pr, PRIV_ADMIN, NULL, NULL);
	if (rc <= 0)
		return rc ? rc : -EACCES;
	/* The owner is the team of the same name, made with its creator when there is none. */
	rc = catalog_team_create(fs->m.cat, name);
	if (!rc)
		rc = catalog_team_add(fs->m.cat, name, pr->name);
	if (rc && rc != -EEXIST)
		return rc;
	snprintf(description, sizeof(description), "Created with mkdir by %s.", pr->name);
	return mesh_domain_create(&fs->m, name, name, description, err);
}

static int make_product(struct fs *fs, const struct principal *pr, int64_t domain_id,
			const char *name, struct mfs_error *err)
{
	struct catalog_domain d = {0};
	struct strbuf yaml;
	int rc;

	strbuf_init(&yaml);
	rc = catalog_domain_get_by_id(fs->m.cat, domain_id, &d);
	if (!rc) {
		rc = acl_allowed(fs->m.cat, pr, PRIV_PUBLISH, d.name, NULL);
		rc = rc < 0 ? rc : rc ? 0 : -EACCES;
	}
	if (!rc)
		rc = draft_contract(&yaml, d.name, name, pr->name);
	if (!rc)
		rc = mesh_product_create(&fs->m, d.name, name, yaml.buf, yaml.len, "contract.yaml",
					 pr->name, err);
	strbuf_release(&yaml);
	catalog_domain_release(&d);
	return rc;
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fs *fs = fs_of(req);
	struct mfs_error err = {{0}};
	struct fuse_entry_param e;
	const struct principal *pr;
	struct node pn, cn;
	int rc;

	(void)mode;
	memset(&e, 0, sizeof(e));
	rc = ino_decode(parent, &pn);
	if (rc)
		goto reply;
	fs_lock(fs);
	pr = fs_principal(fs, req);
	if (!pr)
		rc = -EACCES;
	else if (name_exists(fs, pr, &pn, name))
		rc = -EEXIST;
	else if (pn.kind == N_ROOT)
		rc = make_domain(fs, pr, name, &err);
	else if (pn.kind == N_DOMAIN)
		rc = make_product(fs, pr, pn.id, name, &err);
	else
		rc = pn.kind == N_VERSIONS || pn.kind == N_VERSION ? -EROFS : -EPERM;
	fs->stamp_known = 0; /* this connection changed the catalog */
	if (!rc)
		rc = node_lookup(fs, pr, &pn, name, &cn);
	if (!rc)
		rc = ino_encode(&cn, &e.ino);
	if (!rc)
		rc = node_stat(fs, pr, &cn, e.ino, &e.attr, &e.attr_timeout);
	fs_unlock(fs);
	if (err.msg[0])
		fuse_log(FUSE_LOG_WARNING, "meshfs: mkdir %s: %s\n", name, err.msg);
	e.entry_timeout = TIMEOUT_IMMUTABLE; /* domains and products are never removed */
reply:
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

/* ---- the rest ---- */

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
	/* Masked views are replied straight from the segment files. */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
}

/* ---- changes made by others ---- */

struct change_list {
	struct change {
		enum catalog_change what;
		int64_t id;
	} * a;
	size_t n, cap;
};

static int change_add(enum catalog_change what, int64_t id, void *ctx)
{
	struct change_list *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct change *a = realloc(l->a, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		l->a = a;
		l->cap = cap;
	}
	l->a[l->n].what = what;
	l->a[l->n++].id = id;
	return 0;
}

/*
 * The kernel keeps listings and their attributes for TIMEOUT_WATCHED: what the CLI or another
 * mount changes in the catalog reaches it within WATCH_MS, as this thread drops what changed.
 */
static void *watch_main(void *arg)
{
	struct fs *fs = arg;
	struct change_list l = {0};
	struct catalog_changes c;
	struct timespec at;
	int rc, last_rc = 0, stop = 0;

	catalog_changes_init(&c);
	while (!stop) {
		fs_lock(fs);
		rc = catalog_changes_poll(fs->m.cat, &c, change_add, &l);
		fs_unlock(fs);
		if (rc && rc != last_rc)
			fuse_log(FUSE_LOG_WARNING, "meshfs: cannot follow catalog changes: %s\n",
				 strerror(-rc));
		last_rc = rc;
		for (size_t i = 0; i < l.n; i++) {
			if (l.a[i].what == CATALOG_DOMAINS)
				node_changed(fs, N_ROOT, 0);
			else if (l.a[i].what == CATALOG_DOMAIN)
				node_changed(fs, N_DOMAIN, l.a[i].id);
			else
				product_changed(fs, l.a[i].id);
		}
		l.n = 0;
		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_nsec += WATCH_MS * 1000000L;
		at.tv_sec += at.tv_nsec / 1000000000L;
		at.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&fs->watch_lock);
		while (!fs->watch_stop &&
		       pthread_cond_timedwait(&fs->watch_cond, &fs->watch_lock, &at) != ETIMEDOUT)
			;
		stop = fs->watch_stop;
		pthread_mutex_unlock(&fs->watch_lock);
	}
	free(l.a);
	catalog_changes_release(&c);
	return NULL;
}

static void watch_stop(struct fs *fs)
{
	pthread_mutex_lock(&fs->watch_lock);
	fs->watch_stop = 1;
	pthread_cond_signal(&fs->watch_cond);
	pthread_mutex_unlock(&fs->watch_lock);
	pthread_join(fs->watcher, NULL);
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
 * error is gone, MESH/meshfs.log: publishes and their rejections with the reasons (which never
 * hold PII values, see table/checks.h), refused writes, problems.
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

static void daemon_log_open(const char *mesh_dir)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/meshfs.log", mesh_dir);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || !(daemon_log = fdopen(fd, "a"))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	fuse_set_log_func(daemon_log_write);
}

static void fs_release_all(struct fs *fs)
{
	while (fs->files)
		open_file_free(fs, fs->files);
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

int fs_mount(const struct fs_options *o, struct mfs_error *err)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	char *mesh_dir = NULL, *mountpoint = NULL;
	struct fuse_loop_config loop = {.clone_fd = 0, .max_idle_threads = 10};
	struct fuse_session *se = NULL;
	struct fs *fs;
	unsigned long removed;
	int mounted = 0, handlers = 0, rc;

	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->pool_lock, NULL);
	pthread_mutex_init(&fs->watch_lock, NULL);
	pthread_mutex_init(&fs->files_lock, NULL);
	pthread_cond_init(&fs->watch_cond, NULL);
	/* A core dump would write plaintext PII from memory to disk (DESIGN §7.4). */
	prctl(PR_SET_DUMPABLE, 0);
	fs->started = mesh_now();
	fs->uid = getuid();
	fs->gid = getgid();
	/* Absolute paths: the daemon leaves the working directory when it goes to the background.
	 */
	mesh_dir = realpath(o->mesh_dir, NULL);
	mountpoint = realpath(o->mountpoint, NULL);
	if (!mesh_dir) {
		rc = mfs_error_set(err, errno, "mesh %s: %s", o->mesh_dir, strerror(errno));
		goto out;
	}
	if (!mountpoint) {
		rc =
		    mfs_error_set(err, errno, "mount point %s: %s", o->mountpoint, strerror(errno));
		goto out;
	}
	/* Opened here so that a bad mesh is reported on the terminal, then closed: a SQLite
	 * connection must not cross the fork of daemonizing. */
	rc = mesh_open(&fs->m, mesh_dir, err);
	if (rc)
		goto out;
	rc = mesh_clean_orphans(&fs->m, &removed);
	if (rc) {
		mfs_error_set(err, rc, "cannot clean up the mesh: %s", strerror(-rc));
		goto out;
	}
	mesh_close(&fs->m);
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
	if (!o->foreground)
		daemon_log_open(mesh_dir);
	if (fuse_daemonize(o->foreground)) {
		rc = mfs_error_set(err, EIO, "cannot go to the background");
		goto out;
	}
	fs->mesh_dir = mesh_dir;
	rc = mesh_open(&fs->m, mesh_dir, err);
	if (rc) {
		fuse_log(FUSE_LOG_ERR, "meshfs: %s\n", err->msg);
		goto out;
	}
	if (removed)
		fuse_log(FUSE_LOG_INFO, "meshfs: removed %lu orphaned blobs\n", removed);
	rc = -pthread_create(&fs->watcher, NULL, watch_main, fs);
	if (rc) {
		fuse_log(FUSE_LOG_ERR, "meshfs: cannot start a thread: %s\n", strerror(-rc));
		goto out;
	}
	rc = fuse_session_loop_mt(se, &loop);
	rc = rc > 0 ? 0 : rc; /* a signal ended the loop: a clean stop */
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
	fs_release_all(fs);
	free(fs);
	return rc;
}
