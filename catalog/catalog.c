/* The catalog as a whole: opening it (in a mesh directory or on a PostgreSQL server),
 * transactions, the mesh lock, its integrity and what other connections change in it. The
 * concerns it holds have a file each. */
#include "catalog/internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "catalog/pg_url.h"
#include "common/strbuf.h"

int catalog_target_shared(const char *target)
{
	return pg_url_is(target);
}

char *catalog_target_display(const char *target)
{
	struct strbuf sb;

	strbuf_init(&sb);
	if (catalog_target_shared(target) ? pg_url_display(target, &sb)
					  : strbuf_addstr(&sb, target)) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb, NULL);
}

/* The catalog of the mesh in directory dir: DIR/catalog.db, made first with CATALOG_CREATE. */
static int open_dir(struct catalog *cat, const char *dir, int flags, struct mfs_error *err)
{
	struct strbuf path;
	struct stat sb;
	int created = 0;
	int fd, rc;

	strbuf_init(&path);
	rc = strbuf_addf(&path, "%s/catalog.db", dir);
	if (rc)
		goto out;
	if (flags & CATALOG_CREATE) {
		fd = open(path.buf, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			rc = mfs_error_set(err, errno, "%s: %s", path.buf, strerror(errno));
			goto out;
		}
		close(fd);
		created = 1;
	} else if (stat(path.buf, &sb)) {
		rc = mfs_error_set(err, errno, "%s: %s", path.buf, strerror(errno));
		goto out;
	}
	rc = db_open(&cat->db, &db_sqlite, path.buf,
		     (flags & CATALOG_READONLY ? DB_READONLY : 0) |
			 (flags & CATALOG_CREATE ? DB_CREATE : 0),
		     &catalog_schema, err);
	if (rc && created)
		unlink(path.buf);
out:
	strbuf_release(&path);
	return rc;
}

int catalog_open(struct catalog **out, const char *target, int flags, struct mfs_error *err)
{
	struct catalog *cat = NULL;
	int rc;

	*out = NULL;
	if ((flags & ~(CATALOG_CREATE | CATALOG_READONLY)) ||
	    flags == (CATALOG_CREATE | CATALOG_READONLY))
		return mfs_error_set(err, EINVAL, "catalog: invalid open flags %d", flags);
	cat = calloc(1, sizeof(*cat));
	if (!cat)
		return mfs_error_set(err, ENOMEM, "catalog: out of memory");
	if (catalog_target_shared(target))
		rc = db_open(&cat->db, &db_pg, target,
			     (flags & CATALOG_READONLY ? DB_READONLY : 0) |
				 (flags & CATALOG_CREATE ? DB_CREATE : 0),
			     &catalog_schema, err);
	else
		rc = open_dir(cat, target, flags, err);
	if (rc)
		catalog_close(cat);
	else
		*out = cat;
	return rc;
}

void catalog_close(struct catalog *cat)
{
	if (!cat)
		return;
	db_close(cat->db);
	sodium_free(cat->audit_key); /* wipes it */
	free(cat);
}

int catalog_is_shared(const struct catalog *cat)
{
	return db_is_shared(cat->db);
}

int catalog_data_version(struct catalog *cat, int64_t *out)
{
	return db_data_version(cat->db, out);
}

int catalog_changes_wait(struct catalog *cat, int timeout_ms)
{
	if (timeout_ms < 0)
		return -EINVAL;
	return db_changes_wait(cat->db, timeout_ms);
}

int catalog_lock(struct catalog *cat, int exclusive, int wait)
{
	return db_lock(cat->db, exclusive, wait);
}

void catalog_unlock(struct catalog *cat, int exclusive)
{
	db_unlock(cat->db, exclusive);
}

void catalog_changes_init(struct catalog_changes *c)
{
	memset(c, 0, sizeof(*c));
}

void catalog_changes_release(struct catalog_changes *c)
{
	free(c->products);
	catalog_changes_init(c);
}

/* The state of every product, by id. */
static int product_states(struct catalog *cat, struct catalog_product_state **out, size_t *n)
{
	struct catalog_product_state *a = NULL, *grown;
	size_t cap = 0;
	struct db_stmt *st;
	int rc;

	*n = 0;
	rc = db_query(cat->db, ST_PRODUCT_STATES, &st, "");
	if (rc)
		return rc;
	while ((rc = db_step(st)) == 1) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 256;
			grown = realloc(a, cap * sizeof(*a));
			if (!grown) {
				rc = -ENOMEM;
				break;
			}
			a = grown;
		}
		a[*n].id = db_column_int64(st, 0);
		a[*n].domain_id = db_column_int64(st, 1);
		a[*n].contract_seq = db_column_int64(st, 2);
		a[*n].latest = db_column_int64(st, 3);
		assert(!*n || a[*n].id > a[*n - 1].id);
		(*n)++;
	}
	db_reset(st);
	if (rc)
		free(a);
	else
		*out = a;
	return rc;
}

int catalog_changes_poll(struct catalog *cat, struct catalog_changes *c,
			 int (*cb)(enum catalog_change what, int64_t id, void *ctx), void *ctx)
{
	struct catalog_product_state *now = NULL;
	int64_t version, ndomains = 0;
	size_t n = 0, i, j;
	int rc;

	rc = catalog_data_version(cat, &version);
	if (rc || (c->taken && version == c->data_version))
		return rc;
	rc = db_query_int64(cat->db, ST_DOMAIN_COUNT, &ndomains, "");
	if (rc >= 0)
		rc = product_states(cat, &now, &n);
	if (rc < 0)
		return rc;
	rc = 0;
	if (c->taken && ndomains != c->ndomains)
		rc = cb(CATALOG_DOMAINS, 0, ctx);
	/* both by id, and products are never removed: a merge */
	for (i = j = 0; c->taken && !rc && i < n; i++) {
		while (j < c->nproducts && c->products[j].id < now[i].id)
			j++;
		if (j == c->nproducts || c->products[j].id != now[i].id)
			rc = cb(CATALOG_DOMAIN, now[i].domain_id, ctx);
		else if (c->products[j].latest != now[i].latest ||
			 c->products[j].contract_seq != now[i].contract_seq)
			rc = cb(CATALOG_PRODUCT, now[i].id, ctx);
	}
	free(c->products);
	c->products = now;
	c->nproducts = n;
	c->ndomains = ndomains;
	c->data_version = version;
	c->taken = 1;
	return rc;
}

int catalog_change_stamp(struct catalog *cat, uint64_t *out)
{
	return db_change_stamp(cat->db, out);
}

int catalog_begin(struct catalog *cat)
{
	return db_begin(cat->db);
}

int catalog_commit(struct catalog *cat)
{
	return db_commit(cat->db);
}

void catalog_rollback(struct catalog *cat)
{
	db_rollback(cat->db);
}

int catalog_integrity_check(struct catalog *cat, struct mfs_error *err)
{
	return db_check(cat->db, err);
}
