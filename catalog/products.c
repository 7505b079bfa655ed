/* Products and their contracts, and the lineage the contracts declare. */
#include "catalog/internal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int meta_valid(const struct catalog_contract_meta *m)
{
	char domain[MESH_NAME_MAX], product[MESH_NAME_MAX];
	size_t i, j;

	if (!m || !m->yaml || !m->semver || !m->semver[0] || m->frequency_seconds < 0)
		return 0;
	if ((m->ntables && !m->tables) || (m->ninputs && !m->inputs))
		return 0;
	for (i = 0; i < m->ntables; i++) {
		if (!catalog_name_valid(m->tables[i]))
			return 0;
		for (j = 0; j < i; j++)
			if (!strcmp(m->tables[i], m->tables[j]))
				return 0;
	}
	for (i = 0; i < m->ninputs; i++)
		if (catalog_pair_split(m->inputs[i], domain, product))
			return 0;
	return 1;
}

int catalog_product_names(struct catalog *cat, int64_t domain_id,
			  int (*cb)(int64_t id, const char *name, void *ctx), void *ctx)
{
	struct db_rows r;
	int rc;

	rc = db_collect(cat->db, ST_PRODUCT_NAMES, &r, "i", domain_id);
	if (rc)
		return rc;
	for (size_t i = 0; !rc && i < r.n; i++)
		rc = cb(db_rows_int64(&r, i, 0), db_rows_text(&r, i, 1), ctx);
	db_rows_release(&r);
	return rc;
}

void catalog_product_release(struct catalog_product *p)
{
	free(p->description);
	free(p->status);
	p->description = NULL;
	p->status = NULL;
}

void catalog_product_from_row(struct catalog_product *p, const struct db_rows *r, size_t i)
{
	p->id = db_rows_int64(r, i, 0);
	catalog_name_copy(p->domain, db_rows_text(r, i, 1));
	catalog_name_copy(p->name, db_rows_text(r, i, 2));
	catalog_name_copy(p->owner, db_rows_text(r, i, 3));
	p->description = db_rows_text(r, i, 4);
	p->status = db_rows_text(r, i, 5);
	p->contract_seq = db_rows_int64(r, i, 6);
	p->latest = db_rows_int64(r, i, 7); /* NULL, so 0, when never published */
	p->created_at = db_rows_int64(r, i, 8);
	p->updated_at = p->latest ? db_rows_int64(r, i, 9) : p->created_at;
	p->frequency_seconds = db_rows_int64(r, i, 10);
}

/* Records contract seq of a product from m, and makes its lineage and search text current. */
static int contract_insert(struct catalog *cat, int64_t product_id, int64_t seq,
			   const struct catalog_contract_meta *m, const char *by, int64_t now)
{
	char domain[MESH_NAME_MAX], product[MESH_NAME_MAX];
	int64_t contract_id;
	size_t i;
	int rc;

	rc = db_lookup(cat->db, ST_CONTRACT_INSERT, &contract_id, "iitttiitt", product_id, seq,
		       m->semver, m->description ? m->description : "", m->status ? m->status : "",
		       m->frequency_seconds, now, by, m->yaml);
	if (rc)
		return rc;
	for (i = 0; i < m->ntables && !rc; i++)
		rc = db_exec(cat->db, ST_CONTRACT_TABLE_INSERT, "it", contract_id, m->tables[i]);
	if (!rc)
		rc = db_exec(cat->db, ST_INPUTS_DELETE, "i", product_id);
	for (i = 0; i < m->ninputs && !rc; i++) {
		rc = catalog_pair_split(m->inputs[i], domain, product);
		assert(!rc); /* checked by meta_valid */
		rc = db_exec(cat->db, ST_INPUT_INSERT, "itt", product_id, domain, product);
	}
	if (!rc)
		rc = db_exec(cat->db, ST_SEARCH_PUT, "it", product_id,
			     m->search_text ? m->search_text : "");
	return rc;
}

int catalog_product_create(struct catalog *cat, const char *domain, const char *name,
			   const struct catalog_contract_meta *m, const char *by, int64_t now)
{
	int64_t domain_id, product_id;
	int rc;

	if (!catalog_name_valid(domain) || !catalog_name_valid(name) || !meta_valid(m) ||
	    !catalog_user_name_valid(by))
		return -EINVAL;
	rc = db_begin(cat->db);
	if (rc)
		return rc;
	rc = catalog_domain_id(cat, domain, &domain_id);
	if (!rc)
		rc =
		    db_lookup(cat->db, ST_PRODUCT_INSERT, &product_id, "iti", domain_id, name, now);
	if (!rc)
		rc = contract_insert(cat, product_id, 1, m, by, now);
	return db_finish(cat->db, rc);
}

/* Fills out with a copy of the only row of r, if any, and releases r. */
static int product_take(struct db_rows *r, struct catalog_product *out)
{
	int rc = 0;

	if (!r->n) {
		rc = -ENOENT;
		goto out;
	}
	catalog_product_from_row(out, r, 0);
	out->description = strdup(out->description);
	out->status = strdup(out->status);
	if (!out->description || !out->status) {
		catalog_product_release(out);
		rc = -ENOMEM;
	}
out:
	db_rows_release(r);
	return rc;
}

int catalog_product_get(struct catalog *cat, const char *domain, const char *name,
			struct catalog_product *out)
{
	struct db_rows r;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!catalog_name_valid(domain) || !catalog_name_valid(name))
		return -EINVAL;
	rc = db_collect(cat->db, ST_PRODUCT_GET, &r, "tt", domain, name);
	if (rc)
		return rc;
	return product_take(&r, out);
}

int catalog_product_get_by_id(struct catalog *cat, int64_t id, struct catalog_product *out)
{
	struct db_rows r;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = db_collect(cat->db, ST_PRODUCT_GET_BY_ID, &r, "i", id);
	if (rc)
		return rc;
	return product_take(&r, out);
}

int catalog_product_list(struct catalog *cat, const char *domain,
			 int (*cb)(const struct catalog_product *p, void *ctx), void *ctx)
{
	struct catalog_product p;
	struct db_rows r;
	int64_t id;
	size_t i;
	int rc;

	if (domain) {
		if (!catalog_name_valid(domain))
			return -EINVAL;
		rc = catalog_domain_id(cat, domain, &id);
		if (rc)
			return rc;
	}
	rc = db_collect(cat->db, ST_PRODUCT_LIST, &r, "t", domain);
	if (rc)
		return rc;
	for (i = 0; !rc && i < r.n; i++) {
		catalog_product_from_row(&p, &r, i);
		rc = cb(&p, ctx);
	}
	db_rows_release(&r);
	return rc;
}

int catalog_contract_add(struct catalog *cat, int64_t product_id,
			 const struct catalog_contract_meta *m, const char *by, int64_t now,
			 int64_t *seq)
{
	int64_t prev;
	int rc;

	if (!meta_valid(m) || !catalog_user_name_valid(by))
		return -EINVAL;
	rc = db_begin(cat->db);
	if (rc)
		return rc;
	rc = db_lookup(cat->db, ST_CONTRACT_MAXSEQ, &prev, "i", product_id);
	if (!rc)
		rc = contract_insert(cat, product_id, prev + 1, m, by, now);
	rc = db_finish(cat->db, rc);
	if (!rc && seq)
		*seq = prev + 1;
	return rc;
}

int catalog_yaml_take(struct db_rows *r, char **yaml, int64_t *seq)
{
	int rc = 0;

	if (!r->n) {
		rc = -ENOENT;
		goto out;
	}
	*yaml = strdup(db_rows_text(r, 0, 0));
	if (!*yaml) {
		rc = -ENOMEM;
		goto out;
	}
	if (seq)
		*seq = db_rows_int64(r, 0, 1);
out:
	db_rows_release(r);
	return rc;
}

int catalog_contract_get(struct catalog *cat, int64_t product_id, int64_t seq, char **yaml,
			 int64_t *seq_out)
{
	struct db_rows r;
	int rc;

	*yaml = NULL;
	if (seq < 0)
		return -EINVAL;
	rc = db_collect(cat->db, ST_CONTRACT_GET, &r, "ii", product_id, seq);
	if (rc)
		return rc;
	return catalog_yaml_take(&r, yaml, seq_out);
}

/* Calls cb with each (domain, product) pair of r. */
static int pairs_call(const struct db_rows *r,
		      int (*cb)(const char *domain, const char *product, void *ctx), void *ctx)
{
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < r->n; i++)
		rc = cb(db_rows_text(r, i, 0), db_rows_text(r, i, 1), ctx);
	return rc;
}

int catalog_downstream(struct catalog *cat, const char *domain, const char *product,
		       int (*cb)(const char *domain, const char *product, void *ctx), void *ctx)
{
	struct db_rows r;
	int rc;

	if (!catalog_name_valid(domain) || !catalog_name_valid(product))
		return -EINVAL;
	rc = db_collect(cat->db, ST_DOWNSTREAM, &r, "tt", domain, product);
	if (rc)
		return rc;
	rc = pairs_call(&r, cb, ctx);
	db_rows_release(&r);
	return rc;
}

int catalog_product_exists(struct catalog *cat, int64_t product_id)
{
	int64_t one;

	return db_lookup(cat->db, ST_PRODUCT_EXISTS, &one, "i", product_id);
}

int catalog_upstream(struct catalog *cat, int64_t product_id,
		     int (*cb)(const char *domain, const char *product, void *ctx), void *ctx)
{
	struct db_rows r;
	int rc;

	rc = db_collect(cat->db, ST_UPSTREAM, &r, "i", product_id);
	if (rc)
		return rc;
	if (!r.n)
		rc = -ENOENT;
	else if (!db_rows_is_null(&r, 0, 0))
		rc = pairs_call(&r, cb, ctx);
	db_rows_release(&r);
	return rc;
}

int catalog_downstream_all(struct catalog *cat, const char *domain, const char *product,
			   int (*cb)(const char *domain, const char *product, int depth, void *ctx),
			   void *ctx)
{
	struct db_rows r;
	size_t i;
	int rc;

	if (!catalog_name_valid(domain) || !catalog_name_valid(product))
		return -EINVAL;
	rc = db_collect(cat->db, ST_DOWNSTREAM_ALL, &r, "tt", domain, product);
	if (rc)
		return rc;
	for (i = 0; !rc && i < r.n; i++)
		rc = cb(db_rows_text(&r, i, 0), db_rows_text(&r, i, 1),
			(int)db_rows_int64(&r, i, 2), ctx);
	db_rows_release(&r);
	return rc;
}
