/* Versions of products: what each publish recorded, table by table. */
#include "catalog/internal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backends/store.h"

void catalog_version_release(struct catalog_version *v)
{
	free(v->checks);
	free(v->tables);
	v->checks = NULL;
	v->tables = NULL;
	v->ntables = 0;
}

/* Fills v from row i of VERSION_SELECT results, tables aside; v->checks is a copy. */
static int version_from_row(struct catalog_version *v, const struct db_rows *r, size_t i)
{
	memset(v, 0, sizeof(*v));
	v->number = db_rows_int64(r, i, 1);
	v->published_at = db_rows_int64(r, i, 2);
	catalog_name_copy(v->published_by, db_rows_text(r, i, 3));
	v->contract_seq = db_rows_int64(r, i, 4);
	v->rows = (uint64_t)db_rows_int64(r, i, 5);
	v->bytes = (uint64_t)db_rows_int64(r, i, 6);
	v->warnings = (uint64_t)db_rows_int64(r, i, 8);
	v->checks = strdup(db_rows_text(r, i, 7));
	return v->checks ? 0 : -ENOMEM;
}

/*
 * Fills v from the rows of VERSION_SELECT results that start at *i and belong to one version,
 * its tables too; *i moves past them. v is to be released either way.
 */
static int version_from_rows(struct catalog_version *v, const struct db_rows *r, size_t *i)
{
	int64_t id = db_rows_int64(r, *i, 0);
	struct catalog_table_version *t;
	size_t end = *i;
	int rc;

	rc = version_from_row(v, r, *i);
	if (rc)
		return rc;
	while (end < r->n && db_rows_int64(r, end, 0) == id)
		end++;
	/* a version without tables comes as one row with NULL table columns */
	if (db_rows_is_null(r, *i, 9)) {
		*i = end;
		return 0;
	}
	v->tables = calloc(end - *i, sizeof(*v->tables));
	if (!v->tables)
		return -ENOMEM;
	for (; *i < end; (*i)++) {
		t = &v->tables[v->ntables++];
		catalog_name_copy(t->name, db_rows_text(r, *i, 9));
		assert(strlen(db_rows_text(r, *i, 10)) == STORE_ID_HEX);
		memcpy(t->segment, db_rows_text(r, *i, 10), STORE_ID_HEX + 1);
		t->rows = (uint64_t)db_rows_int64(r, *i, 11);
		t->masked_size = (uint64_t)db_rows_int64(r, *i, 12);
		t->plain_size = (uint64_t)db_rows_int64(r, *i, 13);
		t->has_pii = (int)db_rows_int64(r, *i, 14);
	}
	return 0;
}

int catalog_version_get(struct catalog *cat, int64_t product_id, int64_t number,
			struct catalog_version *out)
{
	struct db_rows r;
	size_t i = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (number < 0)
		return -EINVAL;
	rc = db_collect(cat->db, ST_VERSION_GET, &r, "ii", product_id, number);
	if (rc)
		return rc;
	if (!r.n) {
		rc = -ENOENT;
		goto out;
	}
	rc = version_from_rows(out, &r, &i);
	if (rc)
		catalog_version_release(out);
out:
	db_rows_release(&r);
	return rc;
}

/* Hands cb each version of r, the rows of a VERSION_SELECT of a product's versions. */
static int versions_each(struct catalog *cat, int64_t product_id, const struct db_rows *r,
			 int (*cb)(const struct catalog_version *v, void *ctx), void *ctx)
{
	struct catalog_version *v = NULL;
	size_t i, row = 0, n = 0;
	int rc = 0;

	/* rows are versions of the product, which therefore exists */
	if (!r->n)
		return catalog_product_exists(cat, product_id);
	v = calloc(r->n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	while (row < r->n && !rc)
		rc = version_from_rows(&v[n++], r, &row);
	for (i = 0; i < n && !rc; i++)
		rc = cb(&v[i], ctx);
	for (i = 0; i < n; i++)
		catalog_version_release(&v[i]);
	free(v);
	return rc;
}

static int64_t version_limit(size_t limit)
{
	return (int64_t)(limit && limit <= INT64_MAX ? limit : INT64_MAX);
}

int catalog_version_list(struct catalog *cat, int64_t product_id, size_t limit,
			 int (*cb)(const struct catalog_version *v, void *ctx), void *ctx)
{
	struct db_rows r;
	int rc;

	rc = db_collect(cat->db, ST_VERSION_LIST, &r, "ii", product_id, version_limit(limit));
	if (rc)
		return rc;
	rc = versions_each(cat, product_id, &r, cb, ctx);
	db_rows_release(&r);
	return rc;
}

int catalog_version_range(struct catalog *cat, int64_t product_id, int64_t from, size_t limit,
			  int (*cb)(const struct catalog_version *v, void *ctx), void *ctx)
{
	struct db_rows r;
	int rc;

	rc = db_collect(cat->db, ST_VERSION_RANGE, &r, "iii", product_id, from,
			version_limit(limit));
	if (rc)
		return rc;
	rc = versions_each(cat, product_id, &r, cb, ctx);
	db_rows_release(&r);
	return rc;
}

int catalog_version_at(struct catalog *cat, int64_t product_id, int64_t at, int64_t *number)
{
	int rc;

	/* The highest number, not the one with the latest time: hosts sharing a catalog may
	 * disagree on the time by a little, and a version recorded with a time before its
	 * predecessor's must not make the answer go back as the instant grows. */
	rc = db_query_int64(cat->db, ST_VERSION_AT, number, "ii", product_id, at);
	if (rc < 0)
		return rc;
	return rc ? 0 : -ENOENT;
}

static int segment_valid(const char *s)
{
	size_t i;

	for (i = 0; i < STORE_ID_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[i] == '\0';
}

static int tables_valid(const struct catalog_table_version *tables, size_t ntables)
{
	size_t i, j;

	if (ntables && !tables)
		return 0;
	for (i = 0; i < ntables; i++) {
		if (!memchr(tables[i].name, '\0', sizeof(tables[i].name)) ||
		    !catalog_name_valid(tables[i].name) || !segment_valid(tables[i].segment))
			return 0;
		/* SQLite integers are signed. */
		if (tables[i].rows > INT64_MAX || tables[i].masked_size > INT64_MAX ||
		    tables[i].plain_size > INT64_MAX)
			return 0;
		for (j = 0; j < i; j++)
			if (!strcmp(tables[i].name, tables[j].name))
				return 0;
	}
	return 1;
}

int catalog_put_version(struct catalog *cat, int64_t product_id,
			const struct catalog_table_version *tables, size_t ntables, const char *by,
			const char *checks, uint64_t warnings, int64_t now, int64_t *number)
{
	const struct catalog_table_version *t;
	int64_t seq, prev, version_id;
	size_t i;
	int rc;

	if (!tables_valid(tables, ntables) || !catalog_user_name_valid(by))
		return -EINVAL;
	/* BEGIN IMMEDIATE takes the write lock before reading the latest number, so that two
	 * processes publishing at once get consecutive numbers. */
	rc = db_begin(cat->db);
	if (rc)
		return rc;
	rc = db_lookup(cat->db, ST_CONTRACT_MAXSEQ, &seq, "i", product_id);
	if (rc)
		goto out;
	rc = db_query_int64(cat->db, ST_VERSION_MAX, &prev, "i", product_id);
	if (rc < 0)
		goto out;
	assert(rc == 1);
	/* Without tables, a version is only a new contract over the previous version's tables. */
	if (!ntables && !prev) {
		rc = -EINVAL;
		goto out;
	}
	rc = db_lookup(cat->db, ST_VERSION_INSERT, &version_id, "iiiitti", product_id, prev + 1,
		       seq, now, by, checks ? checks : "", (int64_t)warnings);
	if (rc)
		goto out;
	for (i = 0; i < ntables && !rc; i++) {
		t = &tables[i];
		rc = db_exec(cat->db, ST_VTABLE_INSERT, "ittiiii", version_id, t->name, t->segment,
			     (int64_t)t->rows, (int64_t)t->masked_size, (int64_t)t->plain_size,
			     (int64_t)(t->has_pii != 0));
	}
	if (!rc && prev)
		rc = db_exec(cat->db, ST_VTABLE_CARRY, "iii", version_id, product_id, prev);
	if (!rc)
		rc = db_exec(cat->db, ST_VERSION_TOTALS, "i", version_id);
out:
	rc = db_finish(cat->db, rc);
	if (!rc && number)
		*number = prev + 1;
	return rc;
}

int catalog_segment_list(struct catalog *cat, int (*cb)(const char *id, void *ctx), void *ctx)
{
	struct db_rows r;
	size_t i;
	int rc;

	rc = db_collect(cat->db, ST_SEGMENTS, &r, "");
	if (rc)
		return rc;
	for (i = 0; !rc && i < r.n; i++)
		rc = cb(db_rows_text(&r, i, 0), ctx);
	db_rows_release(&r);
	return rc;
}
