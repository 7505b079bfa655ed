/* Domains: the parts of the mesh, each owned by a team. */
#include "catalog/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void catalog_domain_release(struct catalog_domain *d)
{
	free(d->description);
	d->description = NULL;
}

int catalog_domain_create(struct catalog *cat, const char *name, const char *owner,
			  const char *description, int64_t now)
{
	int64_t id;

	/* "mesh" names the whole mesh as a grant scope. */
	if (!catalog_name_valid(name) || !strcmp(name, "mesh") || !catalog_name_valid(owner))
		return -EINVAL;
	/* no row when there is no team owner */
	return db_lookup(cat->db, ST_DOMAIN_INSERT, &id, "ttti", name, owner,
			 description ? description : "", now);
}

/* Fills d from row i of r; its strings stay in r. */
static void domain_from_row(struct catalog_domain *d, const struct db_rows *r, size_t i)
{
	d->id = db_rows_int64(r, i, 0);
	catalog_name_copy(d->name, db_rows_text(r, i, 1));
	catalog_name_copy(d->owner, db_rows_text(r, i, 2));
	d->description = db_rows_text(r, i, 3);
	d->created_at = db_rows_int64(r, i, 4);
}

/* Fills out with a copy of the only row of r, if any, and releases r. */
static int domain_take(struct db_rows *r, struct catalog_domain *out)
{
	int rc = 0;

	if (!r->n) {
		rc = -ENOENT;
		goto out;
	}
	domain_from_row(out, r, 0);
	out->description = strdup(out->description);
	if (!out->description)
		rc = -ENOMEM;
out:
	db_rows_release(r);
	return rc;
}

int catalog_domain_get(struct catalog *cat, const char *name, struct catalog_domain *out)
{
	struct db_rows r;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!catalog_name_valid(name))
		return -EINVAL;
	rc = db_collect(cat->db, ST_DOMAIN_GET, &r, "t", name);
	if (rc)
		return rc;
	return domain_take(&r, out);
}

int catalog_domain_get_by_id(struct catalog *cat, int64_t id, struct catalog_domain *out)
{
	struct db_rows r;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = db_collect(cat->db, ST_DOMAIN_GET_BY_ID, &r, "i", id);
	if (rc)
		return rc;
	return domain_take(&r, out);
}

int catalog_domain_list(struct catalog *cat, int (*cb)(const struct catalog_domain *d, void *ctx),
			void *ctx)
{
	struct catalog_domain d;
	struct db_rows r;
	size_t i;
	int rc;

	rc = db_collect(cat->db, ST_DOMAIN_LIST, &r, "");
	if (rc)
		return rc;
	for (i = 0; !rc && i < r.n; i++) {
		domain_from_row(&d, &r, i);
		rc = cb(&d, ctx);
	}
	db_rows_release(&r);
	return rc;
}

int catalog_domain_id(struct catalog *cat, const char *name, int64_t *id)
{
	return db_lookup(cat->db, ST_DOMAIN_ID, id, "t", name);
}
