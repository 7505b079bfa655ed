/*
 * Resolving names and nodes: lookups, attributes, generated documents and their sizes,
 * search results, and the extended attributes of table files.
 */
#include "fs/internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/publish.h"
#include "mesh/render.h"

/* Attributes of an inode of the mesh, owned by the user the daemon runs as. */
void node_stat_fill(struct stat *st, fuse_ino_t ino, mode_t mode, uint64_t size, int64_t mtime,
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
int node_render(struct fs *fs, const struct principal *pr, const struct node *n, struct strbuf *out)
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

/* Whether nodes of kind k are documents, rendered at open. */
int node_is_document(enum node_kind k)
{
	return k == N_ROOT_README || k == N_CATALOG_CSV || k == N_DOMAIN_README ||
	       k == N_PRODUCT_README || k == N_CONTRACT || k == N_PUBLISH_LOG || k == N_POLICY ||
	       k == N_LINEAGE;
}

/* ---- .search/TEXT/: each text looked up gets a slot, so that its directory has an inode ---- */

/* The text of a .search/TEXT/ node, or NULL once its slot went to another text. */
const char *node_query_at(struct fs *fs, const struct node *n)
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
	q->gen = ++fs->query_gen & INO_MASK(INO_VER_BITS);
found:
	memset(n, 0, sizeof(*n));
	n->kind = N_SEARCH_QUERY;
	n->id = (int64_t)slot;
	n->ver = fs->queries[slot].gen;
	return 0;
}

/* The name of a search result: "DOMAIN.PRODUCT" (neither name may hold a dot). */
void node_search_link_name(char *out, size_t size, const struct catalog_product *p)
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

/*
 * Where versions/latest or versions/@INSTANT points ("N", in out) and since when (the time of
 * the version it names). An @INSTANT inode names its version itself, so that it never changes.
 */
static int version_link_target(struct fs *fs, const struct node *n, char *out, size_t size,
			       int64_t *mtime)
{
	struct catalog_product p = {0};
	struct catalog_version v = {0};
	int64_t number;
	int rc;

	assert(n->kind == N_LATEST || n->kind == N_AT);
	if (n->kind == N_AT) {
		rc = fs_version_get(fs, n->id, n->ver, &v);
		number = v.number;
		*mtime = v.published_at;
	} else {
		rc = fs_product_get(fs, n->id, &p);
		if (!rc && !p.latest)
			rc = -ENOENT;
		number = p.latest;
		*mtime = p.updated_at;
	}
	if (!rc)
		snprintf(out, size, "%lld", (long long)number);
	catalog_product_release(&p);
	catalog_version_release(&v);
	return rc;
}

/* What a node shows: a writable inode shows its target. *writable says which it was. */
int node_target(struct fs *fs, const struct node *n, struct node *target, int *writable)
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

/* Attributes of node n as pr sees it; *timeout says how long the kernel may keep them. */
int node_stat(struct fs *fs, const struct principal *pr, const struct node *n, fuse_ino_t ino,
	      struct stat *st, double *timeout)
{
	struct catalog_domain d = {0};
	struct catalog_product p = {0};
	struct catalog_version v = {0};
	char num[2 * MESH_NAME_MAX + 16];
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
		node_stat_fill(st, ino, S_IFDIR | 0555, 0, fs->started, fs);
		*timeout = TIMEOUT_WATCHED;
		break;
	case N_SEARCH_QUERY:
		rc = node_query_at(fs, n) ? 0 : -ENOENT;
		if (!rc)
			node_stat_fill(st, ino, S_IFDIR | 0555, 0, mesh_now(), fs);
		*timeout = 0;
		break;
	case N_SEARCH_LINK:
		rc = search_link_target(fs, n->id, num, sizeof(num));
		if (!rc)
			node_stat_fill(st, ino, S_IFLNK | 0777, strlen(num), fs->started, fs);
		break;
	case N_DOMAIN:
		rc = catalog_domain_get_by_id(fs->m.cat, n->id, &d);
		if (!rc)
			node_stat_fill(st, ino, S_IFDIR | 0555, 0, d.created_at, fs);
		*timeout = TIMEOUT_WATCHED;
		break;
	case N_PRODUCT:
	case N_VERSIONS:
		rc = fs_product_get(fs, n->id, &p);
		if (!rc)
			node_stat_fill(st, ino, S_IFDIR | 0555, 0, p.updated_at, fs);
		*timeout = TIMEOUT_WATCHED;
		break;
	case N_VERSION:
		rc = fs_version_get(fs, n->id, n->ver, &v);
		if (!rc) {
			node_stat_fill(st, ino, S_IFDIR | 0555, 0, v.published_at, fs);
			*timeout = TIMEOUT_IMMUTABLE;
		}
		break;
	case N_LATEST:
	case N_AT: {
		int64_t mtime;

		rc = version_link_target(fs, n, num, sizeof(num), &mtime);
		if (!rc)
			node_stat_fill(st, ino, S_IFLNK | 0777, strlen(num), mtime, fs);
		*timeout = n->kind == N_AT ? TIMEOUT_IMMUTABLE : TIMEOUT_WATCHED;
		break;
	}
	case N_UPLOAD: {
		const struct upload *up = upload_at(fs, n);

		rc = up && up->uid == pr->uid ? upload_stat(fs, up, ino, st) : -ENOENT;
		*timeout = 0;
		break;
	}
	case N_TABLE: {
		const struct catalog_table_version *t;

		rc = fs_table_get(fs, n, &v, &t);
		if (!rc) {
			node_stat_fill(st, ino, S_IFREG | 0444,
				       n->view == SEGMENT_PLAIN ? t->plain_size : t->masked_size,
				       v.published_at, fs);
			*timeout = TIMEOUT_IMMUTABLE;
		}
		break;
	}
	default: {
		size_t size;

		assert(node_is_document(n->kind));
		rc = doc_size(fs, pr, n, &size);
		if (!rc) {
			int64_t mtime = fs->started;

			if (n->kind == N_CONTRACT || n->kind == N_PRODUCT_README) {
				rc = fs_product_get(fs, n->id, &p);
				mtime = p.updated_at;
			}
			node_stat_fill(st, ino, S_IFREG | 0444, size, mtime, fs);
			/*
			 * A size is only a hint: documents are read as rendered at open. A
			 * product's README changes with the product (upload_product_changed) and,
			 * as it turns stale, with the time.
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
int node_table_view(struct fs *fs, const struct principal *pr, const struct catalog_product *p,
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
static int table_name(const char *name, char out[MESH_NAME_MAX])
{
	size_t len = strlen(name);

	if (len <= 4 || len - 4 >= MESH_NAME_MAX || strcmp(name + len - 4, ".csv"))
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
	char table[MESH_NAME_MAX];
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
		rc = node_table_view(fs, pr, p, &v.tables[i], &child->view);
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

/* What the root holds besides the domains, in the order it lists them. */
const struct root_file node_root_files[ROOT_FILES] = {
    {"README.md", N_ROOT_README, S_IFREG}, {"catalog.csv", N_CATALOG_CSV, S_IFREG},
    {"policy.yaml", N_POLICY, S_IFREG},	   {"lineage.dot", N_LINEAGE, S_IFREG},
    {".search", N_SEARCH, S_IFDIR},
};

/* The child called name in directory parent, as pr sees it: 0 or -errno (-ENOENT: no such
 * name, -ENOTDIR: parent is no directory). */
int node_lookup(struct fs *fs, const struct principal *pr, const struct node *parent,
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
		for (size_t i = 0; i < ROOT_FILES && !child->kind; i++)
			if (!strcmp(name, node_root_files[i].name))
				child->kind = node_root_files[i].kind;
		if (!child->kind) {
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
			upload_writable_node(fs, pr->uid, child);
		break;
	case N_VERSIONS:
		child->id = parent->id;
		rc = fs_product_get(fs, parent->id, &p);
		if (rc)
			break;
		if (!strcmp(name, "latest")) {
			child->kind = N_LATEST;
			rc = p.latest ? 0 : -ENOENT;
		} else if (name[0] == '@') {
			int64_t at;

			/* looked up, never listed: there is a name for every instant */
			child->kind = N_AT;
			rc = mesh_instant_parse(name + 1, &at)
				 ? -ENOENT
				 : catalog_version_at(fs->m.cat, p.id, at, &child->ver);
			/* the catalog may know of a version another host published that this
			 * mount's versions/ does not show yet: the link names one that it does */
			if (!rc && child->ver > p.latest) {
				child->ver = p.latest;
				rc = p.latest ? 0 : -ENOENT;
			}
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
		char domain[MESH_NAME_MAX];
		const char *dot = strchr(name, '.');

		rc = -ENOENT;
		if (!node_query_at(fs, parent) || !dot || (size_t)(dot - name) >= sizeof(domain))
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
double node_entry_timeout(struct fs *fs, const struct node *parent, const struct node *child)
{
	struct catalog_version v = {0};
	const struct catalog_table_version *t;
	double timeout = TIMEOUT_IMMUTABLE;

	switch (child->kind) {
	case N_TABLE:
		if (parent->kind != N_VERSION || fs_table_get(fs, child, &v, &t) || t->has_pii)
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
	/* an instant after the latest version, or published at on another host, may come to mean
	 * a newer one */
	case N_AT:
		timeout = 0;
		break;
	default:
		break;
	}
	catalog_version_release(&v);
	return timeout;
}

void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	const struct principal *pr;
	struct node pn, cn;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = fs_request_begin(fs, req, parent, &pn, &pr);
	if (rc)
		goto reply;
	rc = node_lookup(fs, pr, &pn, name, &cn);
	if (!rc)
		rc = fs_ino_encode(&cn, &e.ino);
	if (!rc)
		rc = node_stat(fs, pr, &cn, e.ino, &e.attr, &e.attr_timeout);
	if (!rc)
		e.entry_timeout = node_entry_timeout(fs, &pn, &cn);
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

void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	const struct principal *pr;
	struct stat st;
	struct node n;
	double timeout;
	int rc;

	(void)fi;
	rc = fs_request_begin(fs, req, ino, &n, &pr);
	if (!rc) {
		rc = node_stat(fs, pr, &n, ino, &st, &timeout);
		fs_unlock(fs);
	}
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, timeout);
}

void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	char target[2 * MESH_NAME_MAX + 16];
	struct node n;
	int64_t mtime;
	int rc;

	rc = fs_ino_decode(ino, &n);
	if (!rc && n.kind != N_LATEST && n.kind != N_AT && n.kind != N_SEARCH_LINK)
		rc = -EINVAL;
	if (!rc) {
		fs_lock(fs);
		if (n.kind == N_SEARCH_LINK)
			rc = search_link_target(fs, n.id, target, sizeof(target));
		else
			rc = version_link_target(fs, &n, target, sizeof(target), &mtime);
		fs_unlock(fs);
	}
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, target);
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
	rc = fs_table_get(fs, n, &v, &t);
	if (rc)
		goto out;
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

void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs *fs = fs_of(req);
	char value[128];
	struct node n, t;
	size_t len;
	int rc, writable;

	rc = fs_ino_decode(ino, &n);
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

void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs *fs = fs_of(req);
	struct strbuf names;
	struct node n, t;
	int rc, writable;

	strbuf_init(&names);
	rc = fs_ino_decode(ino, &n);
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
