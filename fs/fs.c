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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fuse_lowlevel.h>
#include <sodium.h>

#include "acl/acl.h"
#include "catalog/contract.h"
#include "common/strbuf.h"
#include "mesh/mesh.h"
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
#define TIMEOUT_LISTING   1.0

#define SEGMENT_POOL 64
#define PRINCIPAL_CACHE 32
#define PRINCIPAL_TTL 5

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

struct fs {
	struct mesh m;
	/* guards m.cat (one connection, one thread at a time) and principals */
	pthread_mutex_t lock;
	struct cached_principal principals[PRINCIPAL_CACHE];
	pthread_mutex_t pool_lock;
	struct pooled_segment pool[SEGMENT_POOL];
	uint64_t pool_clock;
	int64_t started;
	uid_t uid;
	gid_t gid;
};

struct dir_entry {
	char *name;
	fuse_ino_t ino;
	mode_t mode;
};

struct dir_list {
	struct dir_entry *e;
	size_t n, cap;
};

/* What an open file serves: either a segment view or a document rendered at open. */
struct open_file {
	struct pooled_segment *ps;
	enum segment_view view;
	/* reads of one open file may run on several threads at once; its cache is not shared */
	pthread_mutex_t cache_lock;
	struct segment_cache *cache;
	struct strbuf doc;
};

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
	if (n->kind == N_ROOT || n->kind > N_TABLE)
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

/* ---- the segment pool: open segments shared by every open file of the same blob ---- */

static int pool_get(struct fs *fs, const char *id, const char *binding,
		    struct pooled_segment **out)
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
		else if (ps->seg && !ps->refs && (!free_slot || (free_slot->seg &&
								 ps->used < free_slot->used)))
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

/* Renders a generated document into out. */
static int node_render(struct fs *fs, const struct node *n, struct strbuf *out)
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
		rc = catalog_product_get_by_id(fs->m.cat, n->id, &p);
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
	default:
		return -EINVAL;
	}
}

static int is_document(enum node_kind k)
{
	return k == N_ROOT_README || k == N_CATALOG_CSV || k == N_DOMAIN_README ||
	       k == N_PRODUCT_README || k == N_CONTRACT;
}

/* Attributes of node n; *timeout says how long the kernel may keep them. */
static int node_stat(struct fs *fs, const struct node *n, fuse_ino_t ino, struct stat *st,
		     double *timeout)
{
	struct catalog_domain d = {0};
	struct catalog_product p = {0};
	struct catalog_version v = {0};
	struct strbuf doc;
	char num[32];
	int rc = 0;

	strbuf_init(&doc);
	*timeout = TIMEOUT_LISTING;
	switch (n->kind) {
	case N_ROOT:
		stat_fill(st, ino, S_IFDIR | 0555, 0, fs->started, fs);
		break;
	case N_DOMAIN:
		rc = catalog_domain_get_by_id(fs->m.cat, n->id, &d);
		if (!rc)
			stat_fill(st, ino, S_IFDIR | 0555, 0, d.created_at, fs);
		break;
	case N_PRODUCT:
	case N_VERSIONS:
		rc = catalog_product_get_by_id(fs->m.cat, n->id, &p);
		if (!rc)
			stat_fill(st, ino, S_IFDIR | 0555, 0, p.updated_at, fs);
		break;
	case N_VERSION:
		rc = catalog_version_get(fs->m.cat, n->id, n->ver, &v);
		if (!rc) {
			stat_fill(st, ino, S_IFDIR | 0555, 0, v.published_at, fs);
			*timeout = TIMEOUT_IMMUTABLE;
		}
		break;
	case N_LATEST:
		rc = catalog_product_get_by_id(fs->m.cat, n->id, &p);
		if (!rc && !p.latest)
			rc = -ENOENT;
		if (!rc)
			stat_fill(st, ino, S_IFLNK | 0777,
				  (uint64_t)snprintf(num, sizeof(num), "%lld", (long long)p.latest),
				  p.updated_at, fs);
		*timeout = 0;
		break;
	case N_TABLE:
		rc = catalog_version_get(fs->m.cat, n->id, n->ver, &v);
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
	default:
		assert(is_document(n->kind));
		rc = node_render(fs, n, &doc);
		if (!rc) {
			int64_t mtime = fs->started;

			if (n->kind == N_CONTRACT || n->kind == N_PRODUCT_README) {
				rc = catalog_product_get_by_id(fs->m.cat, n->id, &p);
				mtime = p.updated_at;
			}
			stat_fill(st, ino, S_IFREG | 0444, doc.len, mtime, fs);
			*timeout = n->kind == N_CONTRACT ? TIMEOUT_IMMUTABLE : 0;
		}
		break;
	}
	catalog_domain_release(&d);
	catalog_product_release(&p);
	catalog_version_release(&v);
	strbuf_release(&doc);
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
	rc = acl_allowed(fs->m.cat, pr, PRIV_UNMASK, p->domain, p->name);
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
		rc = catalog_version_get(fs->m.cat, p->id, number, &v);
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
		rc = catalog_product_get_by_id(fs->m.cat, parent->id, &p);
		if (rc)
			break;
		if (!strcmp(name, "README.md")) {
			child->kind = N_PRODUCT_README;
		} else if (!strcmp(name, "contract.yaml")) {
			child->kind = N_CONTRACT;
			child->ver = p.contract_seq;
		} else if (!strcmp(name, "versions")) {
			child->kind = N_VERSIONS;
		} else {
			rc = lookup_table(fs, pr, &p, p.latest, name, child);
		}
		break;
	case N_VERSIONS:
		child->id = parent->id;
		rc = catalog_product_get_by_id(fs->m.cat, parent->id, &p);
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
		rc = catalog_product_get_by_id(fs->m.cat, parent->id, &p);
		if (rc)
			break;
		if (!strcmp(name, "contract.yaml")) {
			rc = catalog_version_get(fs->m.cat, parent->id, parent->ver, &v);
			child->kind = N_CONTRACT;
			child->id = parent->id;
			child->ver = v.contract_seq;
		} else {
			rc = lookup_table(fs, pr, &p, parent->ver, name, child);
		}
		break;
	default:
		rc = -ENOTDIR;
		break;
	}
	catalog_domain_release(&d);
	catalog_product_release(&p);
	catalog_version_release(&v);
	return rc;
}

/* Whether lookups of this child may be cached: table names and the current contract resolve
 * differently as versions come and per caller, so never. */
static double entry_timeout(const struct node *child)
{
	switch (child->kind) {
	case N_TABLE:
	case N_CONTRACT:
	case N_LATEST:
		return 0;
	case N_VERSION:
		return TIMEOUT_IMMUTABLE;
	default:
		return TIMEOUT_LISTING;
	}
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
	pthread_mutex_lock(&fs->lock);
	pr = fs_principal(fs, req);
	rc = pr ? node_lookup(fs, pr, &pn, name, &cn) : -EACCES;
	if (!rc)
		rc = ino_encode(&cn, &e.ino);
	if (!rc)
		rc = node_stat(fs, &cn, e.ino, &e.attr, &e.attr_timeout);
	pthread_mutex_unlock(&fs->lock);
	e.entry_timeout = rc ? 0 : entry_timeout(&cn);
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
	struct stat st;
	struct node n;
	double timeout;
	int rc;

	(void)fi;
	rc = ino_decode(ino, &n);
	if (!rc) {
		pthread_mutex_lock(&fs->lock);
		rc = node_stat(fs, &n, ino, &st, &timeout);
		pthread_mutex_unlock(&fs->lock);
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
	char target[32];
	struct node n;
	int rc;

	rc = ino_decode(ino, &n);
	if (!rc && n.kind != N_LATEST)
		rc = -EINVAL;
	if (!rc) {
		pthread_mutex_lock(&fs->lock);
		rc = catalog_product_get_by_id(fs->m.cat, n.id, &p);
		pthread_mutex_unlock(&fs->lock);
	}
	if (!rc && !p.latest)
		rc = -ENOENT;
	if (rc) {
		fuse_reply_err(req, -rc);
	} else {
		snprintf(target, sizeof(target), "%lld", (long long)p.latest);
		fuse_reply_readlink(req, target);
	}
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

static void dir_free(struct dir_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
	free(l);
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

static int list_tables(struct fs *fs, const struct principal *pr, const struct catalog_product *p,
		       int64_t number, struct dir_list *l)
{
	struct catalog_version v = {0};
	char name[CATALOG_NAME_MAX + 4];
	int rc;

	rc = catalog_version_get(fs->m.cat, p->id, number, &v);
	for (size_t i = 0; !rc && i < v.ntables; i++) {
		struct node n = {.kind = N_TABLE, .id = p->id, .ver = number, .tidx = (unsigned)i};

		rc = table_view(fs, pr, p, &v.tables[i], &n.view);
		snprintf(name, sizeof(name), "%s.csv", v.tables[i].name);
		if (!rc)
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
		if (!rc)
			rc = catalog_domain_list(fs->m.cat, list_domain, l);
		break;
	case N_DOMAIN:
		rc = catalog_domain_get_by_id(fs->m.cat, dn->id, &d);
		n.kind = N_DOMAIN_README;
		if (!rc)
			rc = dir_add(l, "README.md", &n, S_IFREG);
		if (!rc)
			rc = catalog_product_list(fs->m.cat, d.name, list_product, l);
		break;
	case N_PRODUCT:
		rc = catalog_product_get_by_id(fs->m.cat, dn->id, &p);
		if (rc)
			break;
		n.kind = N_PRODUCT_README;
		rc = dir_add(l, "README.md", &n, S_IFREG);
		n.kind = N_CONTRACT;
		n.ver = p.contract_seq;
		if (!rc)
			rc = dir_add(l, "contract.yaml", &n, S_IFREG);
		n.kind = N_VERSIONS;
		n.ver = 0;
		if (!rc)
			rc = dir_add(l, "versions", &n, S_IFDIR);
		if (!rc && p.latest)
			rc = list_tables(fs, pr, &p, p.latest, l);
		break;
	case N_VERSIONS:
		rc = catalog_product_get_by_id(fs->m.cat, dn->id, &p);
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
		rc = catalog_product_get_by_id(fs->m.cat, dn->id, &p);
		if (!rc)
			rc = catalog_version_get(fs->m.cat, dn->id, dn->ver, &v);
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

static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	const struct principal *pr;
	struct dir_list *l;
	struct node n;
	int rc;

	l = calloc(1, sizeof(*l));
	if (!l) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = ino_decode(ino, &n);
	if (!rc) {
		pthread_mutex_lock(&fs->lock);
		pr = fs_principal(fs, req);
		rc = pr ? dir_build(fs, pr, &n, l) : -EACCES;
		pthread_mutex_unlock(&fs->lock);
	}
	if (rc) {
		dir_free(l);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)l;
	if (fuse_reply_open(req, fi) == -ENOENT)
		dir_free(l);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct dir_list *l = (struct dir_list *)(uintptr_t)fi->fh;
	char *buf;
	size_t used = 0;

	(void)ino;
	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = (size_t)off; i < l->n; i++) {
		struct stat st = {.st_ino = l->e[i].ino, .st_mode = l->e[i].mode};
		size_t need = fuse_add_direntry(req, buf + used, size - used, l->e[i].name, &st,
						(off_t)(i + 1));

		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	dir_free((struct dir_list *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
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

	rc = catalog_product_get_by_id(fs->m.cat, n->id, &p);
	if (!rc)
		rc = catalog_version_get(fs->m.cat, n->id, n->ver, &v);
	if (!rc && n->tidx >= v.ntables)
		rc = -ENOENT;
	if (rc)
		goto out;
	t = &v.tables[n->tidx];
	rc = acl_allowed(fs->m.cat, pr, n->view == SEGMENT_PLAIN ? PRIV_UNMASK : PRIV_READ,
			 p.domain, p.name);
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

static void open_file_free(struct fs *fs, struct open_file *of)
{
	if (!of)
		return;
	if (of->ps)
		pool_put(fs, of->ps);
	segment_cache_free(of->cache);
	pthread_mutex_destroy(&of->cache_lock);
	strbuf_release(&of->doc);
	free(of);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	const struct principal *pr;
	struct open_file *of;
	struct node n;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	rc = ino_decode(ino, &n);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	of = calloc(1, sizeof(*of));
	if (!of) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	strbuf_init(&of->doc);
	pthread_mutex_init(&of->cache_lock, NULL);
	pthread_mutex_lock(&fs->lock);
	pr = fs_principal(fs, req);
	if (!pr)
		rc = -EACCES;
	else if (n.kind == N_TABLE)
		rc = open_table(fs, pr, &n, of);
	else if (is_document(n.kind))
		rc = node_render(fs, &n, &of->doc);
	else
		rc = -EISDIR;
	pthread_mutex_unlock(&fs->lock);
	if (rc) {
		open_file_free(fs, of);
		fuse_reply_err(req, -rc);
		return;
	}
	/* Immutable inodes keep their page cache; generated documents are read as rendered at
	 * this open, whatever size an earlier stat saw. */
	if (n.kind == N_TABLE || n.kind == N_CONTRACT)
		fi->keep_cache = 1;
	else
		fi->direct_io = 1;
	fi->fh = (uintptr_t)of;
	if (fuse_reply_open(req, fi) == -ENOENT)
		open_file_free(fs, of);
}

/* Key look-up for plain reads: a key not yet cached is read from the catalog, which is shared. */
static int fs_segment_key(void *ctx, uint32_t key_id, uint8_t key[32])
{
	struct fs *fs = ctx;
	int rc;

	pthread_mutex_lock(&fs->lock);
	rc = mesh_segment_key(&fs->m, key_id, key);
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;
	ssize_t got;
	char *buf;

	(void)ino;
	if (!of->ps) {
		size_t start = (size_t)off < of->doc.len ? (size_t)off : of->doc.len;
		size_t len = of->doc.len - start < size ? of->doc.len - start : size;

		fuse_reply_buf(req, of->doc.buf + start, len);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (of->cache)
		pthread_mutex_lock(&of->cache_lock);
	got = segment_read(of->ps->seg, of->view, buf, size, (uint64_t)off, fs_segment_key, fs,
			   of->cache);
	if (of->cache)
		pthread_mutex_unlock(&of->cache_lock);
	if (got < 0)
		fuse_reply_err(req, (int)-got);
	else
		fuse_reply_buf(req, buf, (size_t)got);
	if (of->view == SEGMENT_PLAIN)
		sodium_memzero(buf, size);
	free(buf);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	open_file_free(fs_of(req), (struct open_file *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* ---- extended attributes of table files ---- */

static const char *const xattr_names[] = {
	"user.meshfs.version",      "user.meshfs.rows", "user.meshfs.published_at",
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
	rc = catalog_version_get(fs->m.cat, n->id, n->ver, &v);
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
	struct node n;
	size_t len;
	int rc;

	rc = ino_decode(ino, &n);
	if (!rc) {
		pthread_mutex_lock(&fs->lock);
		rc = xattr_value(fs, &n, name, value, sizeof(value));
		pthread_mutex_unlock(&fs->lock);
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
	struct strbuf names;
	struct node n;
	int rc;

	strbuf_init(&names);
	rc = ino_decode(ino, &n);
	for (size_t i = 0; !rc && n.kind == N_TABLE && i < sizeof(xattr_names) / sizeof(*xattr_names);
	     i++)
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

/* ---- the rest: read-only for now ---- */

static void fs_erofs_entry(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent, (void)name, (void)mode;
	fuse_reply_err(req, EROFS);
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	(void)fi;
	fs_erofs_entry(req, parent, name, mode);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)rdev;
	fs_erofs_entry(req, parent, name, mode);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs_erofs_entry(req, parent, name, 0);
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	(void)newparent, (void)newname, (void)flags;
	fs_erofs_entry(req, parent, name, 0);
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	(void)ino, (void)attr, (void)to_set, (void)fi;
	fuse_reply_err(req, EROFS);
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
	(void)userdata;
	/* Large requests: a table is read in few round trips. */
	conn->max_readahead = conn->max_readahead < 1048576 ? conn->max_readahead : 1048576;
	conn->time_gran = 1000000000;
}

static const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.getattr = fs_getattr,
	.readlink = fs_readlink,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.releasedir = fs_releasedir,
	.open = fs_open,
	.read = fs_read,
	.release = fs_release,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.create = fs_create,
	.mknod = fs_mknod,
	.mkdir = fs_erofs_entry,
	.unlink = fs_unlink,
	.rmdir = fs_unlink,
	.rename = fs_rename,
	.setattr = fs_setattr,
	.setxattr = fs_setxattr,
	.removexattr = fs_removexattr,
	.statfs = fs_statfs,
};

static void fs_release_all(struct fs *fs)
{
	for (size_t i = 0; i < SEGMENT_POOL; i++)
		segment_close(fs->pool[i].seg);
	for (size_t i = 0; i < PRINCIPAL_CACHE; i++)
		if (fs->principals[i].at)
			principal_release(&fs->principals[i].p);
	mesh_close(&fs->m);
	pthread_mutex_destroy(&fs->lock);
	pthread_mutex_destroy(&fs->pool_lock);
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
	fs->started = mesh_now();
	fs->uid = getuid();
	fs->gid = getgid();
	/* Absolute paths: the daemon leaves the working directory when it goes to the background. */
	mesh_dir = realpath(o->mesh_dir, NULL);
	mountpoint = realpath(o->mountpoint, NULL);
	if (!mesh_dir) {
		rc = mfs_error_set(err, errno, "mesh %s: %s", o->mesh_dir, strerror(errno));
		goto out;
	}
	if (!mountpoint) {
		rc = mfs_error_set(err, errno, "mount point %s: %s", o->mountpoint,
				   strerror(errno));
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
	if (fuse_daemonize(o->foreground)) {
		rc = mfs_error_set(err, EIO, "cannot go to the background");
		goto out;
	}
	rc = mesh_open(&fs->m, mesh_dir, err);
	if (rc) {
		fuse_log(FUSE_LOG_ERR, "meshfs: %s\n", err->msg);
		goto out;
	}
	if (removed)
		fuse_log(FUSE_LOG_INFO, "meshfs: removed %lu orphaned blobs\n", removed);
	rc = fuse_session_loop_mt(se, &loop);
	rc = rc > 0 ? 0 : rc; /* a signal ended the loop: a clean stop */
out:
	if (mounted)
		fuse_session_unmount(se);
	if (handlers)
		fuse_remove_signal_handlers(se);
	if (se)
		fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	free(mesh_dir);
	free(mountpoint);
	fs_release_all(fs);
	free(fs);
	return rc;
}
