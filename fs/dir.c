/*
 * Directories: listings, built for each request as READDIRPLUS and kept by the kernel against
 * the digest each directory's mtime carries (dir_stamp), and mkdir of domains and products.
 */
#include "fs/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"

static int dir_add(struct dir_list *l, const char *name, const struct node *n, mode_t mode)
{
	struct dir_entry *e;
	fuse_ino_t ino;
	int rc;

	rc = fs_ino_encode(n, &ino);
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

static int list_domain(const struct catalog_domain *d, void *ctx)
{
	struct node n = {.kind = N_DOMAIN, .id = d->id};

	return dir_add(ctx, d->name, &n, S_IFDIR);
}

static int list_product(int64_t id, const char *name, void *ctx)
{
	struct node n = {.kind = N_PRODUCT, .id = id};

	return dir_add(ctx, name, &n, S_IFDIR);
}

static int list_search_result(const struct catalog_product *p, void *ctx)
{
	struct node n = {.kind = N_SEARCH_LINK, .id = p->id};
	char name[2 * MESH_NAME_MAX];

	node_search_link_name(name, sizeof(name), p);
	return dir_add(ctx, name, &n, S_IFLNK);
}

static int list_tables(struct fs *fs, const struct principal *pr, const struct catalog_product *p,
		       int64_t number, struct dir_list *l)
{
	struct catalog_version v = {0};
	char name[MESH_NAME_MAX + 4];
	int rc;

	rc = fs_version_get(fs, p->id, number, &v);
	for (size_t i = 0; !rc && i < v.ntables; i++) {
		struct node n = {.kind = N_TABLE, .id = p->id, .ver = number, .tidx = (unsigned)i};

		rc = node_table_view(fs, pr, p, &v.tables[i], &n.view);
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
		for (size_t i = 0; !rc && i < ROOT_FILES; i++) {
			n.kind = node_root_files[i].kind;
			rc = dir_add(l, node_root_files[i].name, &n, node_root_files[i].mode);
		}
		if (!rc)
			rc = catalog_domain_list(fs->m.cat, list_domain, l);
		break;
	case N_SEARCH:
		/* queries are looked up, not listed */
		break;
	case N_SEARCH_QUERY: {
		const char *text = node_query_at(fs, dn);

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
			rc = catalog_product_names(fs->m.cat, dn->id, list_product, l);
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
int dir_stamp(struct fs *fs, const struct principal *pr, const struct node *n, struct stat *st,
	      double *timeout)
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
void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct node n;
	int rc;

	rc = fs_ino_decode(ino, &n);
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
 * The listing of dn as pr sees it, for a read from off: a directory larger than a request is
 * read in several, and the listing built for the first is kept (one, in fs->listing) for the
 * rest while the catalog stays the same. Valid until the lock is released.
 */
static int dir_listing(struct fs *fs, const struct principal *pr, const struct node *dn, off_t off,
		       struct dir_list **out)
{
	struct dir_listing *c = &fs->listing;
	uint64_t stamp;
	int rc;

	rc = fs_stamp(fs, &stamp);
	if (rc)
		return rc;
	if (!(off && c->valid && c->stamp == stamp && c->uid == pr->uid &&
	      !memcmp(&c->node, dn, sizeof(*dn)))) {
		dir_release(&c->l);
		c->valid = 0;
		rc = dir_build(fs, pr, dn, &c->l);
		if (rc) {
			dir_release(&c->l);
			return rc;
		}
		c->node = *dn;
		c->uid = pr->uid;
		c->stamp = stamp;
		c->valid = 1;
	}
	*out = &c->l;
	return 0;
}

void dir_listing_release(struct fs *fs)
{
	dir_release(&fs->listing.l);
	fs->listing.valid = 0;
}

/*
 * Entries from off on, as the caller sees them; with plus, with their attributes: ls -l and find
 * get a directory in one request instead of a lookup per name. Names that must be looked up
 * each time go without theirs.
 */
static void dir_reply(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int plus)
{
	struct fs *fs = fs_of(req);
	struct dir_list *l = NULL;
	const struct principal *pr;
	struct node dn, cn;
	size_t used = 0;
	char *buf;
	int rc;

	buf = malloc(size);
	rc = buf ? fs_request_begin(fs, req, ino, &dn, &pr) : -ENOMEM;
	if (rc)
		goto out;
	rc = dir_listing(fs, pr, &dn, off, &l);
	for (size_t i = (size_t)off; !rc && i < l->n; i++) {
		struct fuse_entry_param e = {
		    .attr = {.st_ino = l->e[i].ino, .st_mode = l->e[i].mode}};
		size_t need;

		/* the kernel takes no attributes for . and .. */
		if (plus && i >= 2 && !fs_ino_decode(l->e[i].ino, &cn) &&
		    !node_stat(fs, pr, &cn, l->e[i].ino, &e.attr, &e.attr_timeout)) {
			e.entry_timeout = node_entry_timeout(fs, &dn, &cn);
			if (e.entry_timeout > 0)
				e.ino = l->e[i].ino;
		}
		if (!e.ino)
			e.attr = (struct stat){.st_ino = l->e[i].ino, .st_mode = l->e[i].mode};
		need = plus ? fuse_add_direntry_plus(req, buf + used, size - used, l->e[i].name, &e,
						     (off_t)(i + 1))
			    : fuse_add_direntry(req, buf + used, size - used, l->e[i].name, &e.attr,
						(off_t)(i + 1));
		if (need > size - used)
			break;
		used += need;
	}
	fs_unlock(fs);
out:
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	dir_reply(req, ino, size, off, 0);
}

void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)fi;
	dir_reply(req, ino, size, off, 1);
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

void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fs *fs = fs_of(req);
	struct mfs_error err = {{0}};
	struct fuse_entry_param e;
	const struct principal *pr;
	struct node pn, cn;
	int rc;

	(void)mode;
	memset(&e, 0, sizeof(e));
	rc = fs_request_begin(fs, req, parent, &pn, &pr);
	if (rc)
		goto reply;
	if (upload_name_exists(fs, pr, &pn, name))
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
		rc = fs_ino_encode(&cn, &e.ino);
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
