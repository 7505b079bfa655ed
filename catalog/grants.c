/* Grants of privileges on scopes of the mesh, and the mesh policies. */
#include "catalog/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const privileges[] = {"read", "unmask", "publish", "admin"};

static int principal_valid(const char *s)
{
	if (!s)
		return 0;
	if (!strcmp(s, "everyone"))
		return 1;
	if (!strncmp(s, "user:", 5))
		return catalog_user_name_valid(s + 5);
	if (!strncmp(s, "group:", 6))
		return catalog_user_name_valid(s + 6);
	if (!strncmp(s, "team:", 5))
		return catalog_name_valid(s + 5);
	return 0;
}

/* Checks a grant scope: "mesh", "DOMAIN" or "DOMAIN/PRODUCT"; with must_exist, that it names a
 * domain or product of the catalog (-ENOENT if not). */
static int scope_check(struct catalog *cat, const char *scope, int must_exist)
{
	char domain[MESH_NAME_MAX], product[MESH_NAME_MAX];
	int64_t id;
	int rc;

	if (!scope)
		return -EINVAL;
	if (!strcmp(scope, "mesh"))
		return 0;
	if (strchr(scope, '/')) {
		rc = catalog_pair_split(scope, domain, product);
		if (rc || !must_exist)
			return rc;
		return db_lookup(cat->db, ST_PRODUCT_ID, &id, "tt", domain, product);
	}
	if (!catalog_name_valid(scope))
		return -EINVAL;
	return must_exist ? catalog_domain_id(cat, scope, &id) : 0;
}

int catalog_grant(struct catalog *cat, const char *privilege, const char *scope,
		  const char *principal, const char *by, int64_t now)
{
	int rc;

	if (!CATALOG_ONE_OF(privilege, privileges) || !principal_valid(principal) ||
	    !catalog_user_name_valid(by))
		return -EINVAL;
	rc = scope_check(cat, scope, 1);
	if (rc)
		return rc;
	return db_exec(cat->db, ST_GRANT_INSERT, "tttti", privilege, scope, principal, by, now);
}

int catalog_revoke(struct catalog *cat, const char *privilege, const char *scope,
		   const char *principal)
{
	int64_t one;
	int rc;

	if (!CATALOG_ONE_OF(privilege, privileges) || !principal_valid(principal))
		return -EINVAL;
	rc = scope_check(cat, scope, 0);
	/* no row when nothing was granted */
	if (!rc)
		rc = db_lookup(cat->db, ST_GRANT_DELETE, &one, "ttt", privilege, scope, principal);
	return rc;
}

int catalog_grant_list(struct catalog *cat, const char *privilege, const char *scope,
		       int (*cb)(const char *principal, void *ctx), void *ctx)
{
	struct db_rows r;
	size_t i;
	int rc;

	if (!CATALOG_ONE_OF(privilege, privileges))
		return -EINVAL;
	rc = scope_check(cat, scope, 0);
	if (rc)
		return rc;
	rc = db_collect(cat->db, ST_GRANT_LIST, &r, "tt", privilege, scope);
	if (rc)
		return rc;
	for (i = 0; !rc && i < r.n; i++)
		rc = cb(db_rows_text(&r, i, 0), ctx);
	db_rows_release(&r);
	return rc;
}

/* Hands cb each row of grants r: privilege, scope, principal. */
static int grants_each(struct db_rows *r,
		       int (*cb)(const char *privilege, const char *scope, const char *principal,
				 void *ctx),
		       void *ctx)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < r->n; i++)
		rc = cb(db_rows_text(r, i, 0), db_rows_text(r, i, 1), db_rows_text(r, i, 2), ctx);
	db_rows_release(r);
	return rc;
}

int catalog_grant_list_at(struct catalog *cat, const char *const *scopes, size_t nscopes,
			  int (*cb)(const char *privilege, const char *scope, const char *principal,
				    void *ctx),
			  void *ctx)
{
	struct db_rows r;
	int rc;

	if (nscopes < 1 || nscopes > 3)
		return -EINVAL;
	for (size_t i = 0; i < nscopes; i++)
		if ((rc = scope_check(cat, scopes[i], 0)))
			return rc;
	/* fewer scopes repeat the last one */
	rc = db_collect(cat->db, ST_GRANT_LIST_AT, &r, "ttt", scopes[0],
			scopes[nscopes > 1 ? 1 : 0], scopes[nscopes - 1]);
	return rc ? rc : grants_each(&r, cb, ctx);
}

int catalog_grant_list_all(struct catalog *cat,
			   int (*cb)(const char *privilege, const char *scope,
				     const char *principal, void *ctx),
			   void *ctx)
{
	struct db_rows r;
	int rc;

	rc = db_collect(cat->db, ST_GRANT_LIST_ALL, &r, "");
	return rc ? rc : grants_each(&r, cb, ctx);
}

int catalog_policy_set(struct catalog *cat, const char *yaml, const char *by, int64_t now)
{
	if (!yaml || !catalog_user_name_valid(by))
		return -EINVAL;
	return db_exec(cat->db, ST_POLICY_INSERT, "tit", yaml, now, by);
}

int catalog_policy_get(struct catalog *cat, char **yaml, int64_t *seq)
{
	struct db_rows r;
	int rc;

	*yaml = NULL;
	rc = db_collect(cat->db, ST_POLICY_GET, &r, "");
	if (rc)
		return rc;
	return catalog_yaml_take(&r, yaml, seq);
}
