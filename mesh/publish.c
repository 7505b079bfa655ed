/* The publish pipeline: input → checks → segment → store → one catalog transaction. */
#include "mesh/publish.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/contract.h"
#include "common/strbuf.h"
#include "table/check.h"
#include "table/segment.h"
#include "table/uniq.h"
#include "mesh/render.h"

#include <sodium.h>

/* Values quoted in messages are cut to this many bytes. */
#define QUOTE_MAX 40

struct publish_ctx {
	struct mesh *m;
	const struct principal *p;
	const char *domain, *product, *table;
	const char *filename;
	struct mfs_error *err;
	struct contract contract;
	const struct contract_table *tb;
	struct catalog_product prod;
	struct segment_column *columns;
	size_t *order;   /* order[i]: the input field holding contract column i */
	size_t nfields;  /* fields in each input record */
	struct csv_field *row;
	struct uniq **unique;    /* per column with unique: true, else NULL */
	struct uniq *key;        /* the primary key's values (a tuple when it has several columns) */
	size_t nkey;             /* columns in the primary key */
	struct strbuf key_value; /* the primary key of the current row, length-prefixed parts */
	uint8_t data_key[32], mask_key[32];
	uint32_t key_id;
};

/* Appends value for a message, unless its column may hold PII. */
static void quote_value(char *out, size_t size, const struct contract_column *col,
			const char *value, size_t len)
{
	if (col->pii) {
		snprintf(out, size, "(value hidden: PII column)");
		return;
	}
	snprintf(out, size, "'%.*s%s'", (int)(len > QUOTE_MAX ? QUOTE_MAX : len), value,
		 len > QUOTE_MAX ? "…" : "");
}

static int publish_header(struct publish_ctx *x, struct csv_reader *r)
{
	const struct contract_table *tb = x->tb;
	struct csv_field *f;
	size_t n;
	int rc;

	rc = csv_reader_next(r, &f, &n, x->err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return mfs_error_at(x->err, EINVAL, x->filename, 1, 0,
				    "empty file: expected a header row naming the columns of %s",
				    tb->name);
	for (size_t i = 0; i < tb->ncolumns; i++)
		x->order[i] = SIZE_MAX;
	for (size_t k = 0; k < n; k++) {
		size_t i;

		for (i = 0; i < tb->ncolumns; i++)
			if (strlen(tb->columns[i].name) == f[k].len &&
			    !memcmp(tb->columns[i].name, f[k].data, f[k].len))
				break;
		if (i == tb->ncolumns)
			return mfs_error_at(x->err, EINVAL, x->filename, f[k].line, f[k].col,
					    "column '%.*s' is not in the contract of table %s",
					    (int)(f[k].len > 64 ? 64 : f[k].len), f[k].data,
					    tb->name);
		if (x->order[i] != SIZE_MAX)
			return mfs_error_at(x->err, EINVAL, x->filename, f[k].line, f[k].col,
					    "column '%s' appears twice in the header",
					    tb->columns[i].name);
		x->order[i] = k;
	}
	for (size_t i = 0; i < tb->ncolumns; i++)
		if (x->order[i] == SIZE_MAX)
			return mfs_error_at(x->err, EINVAL, x->filename, 1, 0,
					    "header lacks column '%s' of the contract of table %s",
					    tb->columns[i].name, tb->name);
	x->nfields = n;
	return 0;
}

static int publish_duplicate(struct publish_ctx *x, const struct csv_field *v, const char *what,
			     unsigned long first)
{
	return mfs_error_at(x->err, EINVAL, x->filename, v->line, v->col,
			    "%s must be unique: the same value is on line %lu", what, first);
}

/* Uniqueness of unique columns and of the primary key, over the rows seen so far. Nulls are
 * not values: they never collide. */
static int publish_unique(struct publish_ctx *x, struct csv_reader *r)
{
	const struct contract_table *tb = x->tb;
	unsigned long line = csv_reader_record_line(r), first;
	const struct csv_field *last = NULL;
	char what[CATALOG_NAME_MAX + 32];
	int rc;

	for (size_t i = 0; i < tb->ncolumns; i++) {
		const struct csv_field *v = &x->row[i];

		if (x->unique[i] && v->len) {
			rc = uniq_add(x->unique[i], v->data, v->len, line, &first);
			if (rc < 0)
				return rc;
			snprintf(what, sizeof(what), "column '%s'", tb->columns[i].name);
			if (!rc)
				return publish_duplicate(x, v, what, first);
		}
	}
	if (!x->key)
		return 0;
	strbuf_reset_secure(&x->key_value);
	for (size_t i = 0; i < tb->ncolumns; i++) {
		const struct csv_field *v = &x->row[i];
		uint64_t len = v->len;

		if (!tb->columns[i].primary_key)
			continue;
		rc = strbuf_grow_secure(&x->key_value, sizeof(len) + v->len);
		if (!rc)
			rc = strbuf_add(&x->key_value, &len, sizeof(len));
		if (!rc)
			rc = strbuf_add(&x->key_value, v->data, v->len);
		if (rc)
			return rc;
		last = v;
	}
	rc = uniq_add(x->key, x->key_value.buf, x->key_value.len, line, &first);
	if (rc < 0)
		return rc;
	if (!rc)
		return publish_duplicate(x, last, "the primary key",
					 first);
	return 0;
}

/* Checks one record and puts its values in contract order into x->row. */
static int publish_record(struct publish_ctx *x, struct csv_reader *r, struct csv_field *f,
			  size_t n)
{
	const struct contract_table *tb = x->tb;
	char quoted[QUOTE_MAX + 48];
	const char *why;

	if (n != x->nfields)
		return mfs_error_at(x->err, EINVAL, x->filename, csv_reader_record_line(r), 0,
				    "expected %zu fields as in the header, found %zu", x->nfields,
				    n);
	for (size_t i = 0; i < tb->ncolumns; i++) {
		const struct contract_column *col = &tb->columns[i];
		const struct csv_field *v = &f[x->order[i]];

		if (!v->len) {
			if (col->required)
				return mfs_error_at(x->err, EINVAL, x->filename, v->line, v->col,
						    "column '%s' is required but empty",
						    col->name);
		} else if ((why = check_type(col->type, v->data, v->len))) {
			quote_value(quoted, sizeof(quoted), col, v->data, v->len);
			return mfs_error_at(x->err, EINVAL, x->filename, v->line, v->col,
					    "column '%s' (%s): %s %s", col->name,
					    logical_type_name(col->type), quoted, why);
		}
		x->row[i] = *v;
	}
	return publish_unique(x, r);
}

/* A blank line is a record of one empty unquoted field: nothing to publish. */
static int blank_record(const struct csv_field *f, size_t n)
{
	return n == 1 && !f[0].len && !f[0].quoted;
}

static int publish_stream(struct publish_ctx *x, csv_source_fn source, void *ctx,
			  struct segment_info *info)
{
	const struct contract_table *tb = x->tb;
	struct segment_writer *w = NULL;
	struct segment_params params = {0};
	struct csv_reader r;
	struct csv_field *f;
	char binding[3 * CATALOG_NAME_MAX];
	size_t n;
	int rc;

	csv_reader_init(&r, source, ctx, x->filename, NULL);
	rc = publish_header(x, &r);
	if (rc)
		goto out;
	mesh_binding(binding, sizeof(binding), x->domain, x->product, x->table);
	params.binding = binding;
	params.columns = x->columns;
	params.ncolumns = tb->ncolumns;
	params.data_key = x->data_key;
	params.key_id = x->key_id;
	params.mask_key = x->mask_key;
	rc = segment_writer_open(&w, x->m->store, &params, x->err);
	if (rc)
		goto out;
	while ((rc = csv_reader_next(&r, &f, &n, x->err)) > 0) {
		if (blank_record(f, n) && x->nfields > 1)
			continue;
		rc = publish_record(x, &r, f, n);
		if (rc)
			goto out;
		rc = segment_writer_add(w, x->row, tb->ncolumns);
		if (rc) {
			mfs_error_set(x->err, rc, "cannot store %s: %s", x->filename,
				      strerror(-rc));
			goto out;
		}
	}
	if (rc < 0)
		goto out;
	rc = segment_writer_finish(w, info, x->err);
	w = NULL;
out:
	segment_writer_abort(w);
	csv_reader_release(&r);
	return rc;
}

static int publish_prepare(struct publish_ctx *x)
{
	char *yaml = NULL;
	int64_t seq;
	int rc;

	rc = catalog_product_get(x->m->cat, x->domain, x->product, &x->prod);
	if (rc == -ENOENT)
		return mfs_error_set(x->err, rc, "no product %s/%s", x->domain, x->product);
	if (rc)
		return mfs_error_set(x->err, rc, "catalog: %s", strerror(-rc));
	rc = catalog_contract_get(x->m->cat, x->prod.id, 0, &yaml, &seq);
	if (rc)
		return mfs_error_set(x->err, rc, "cannot read the contract of %s/%s: %s", x->domain,
				     x->product, strerror(-rc));
	rc = contract_parse(&x->contract, yaml, strlen(yaml), "contract.yaml", NULL, x->err);
	free(yaml);
	if (rc)
		return rc;
	x->tb = contract_table(&x->contract, x->table);
	if (!x->tb)
		return mfs_error_set(x->err, ENOENT, "%s/%s has no table '%s' in its contract",
				     x->domain, x->product, x->table);
	x->columns = calloc(x->tb->ncolumns, sizeof(*x->columns));
	x->order = calloc(x->tb->ncolumns, sizeof(*x->order));
	x->row = calloc(x->tb->ncolumns, sizeof(*x->row));
	x->unique = calloc(x->tb->ncolumns, sizeof(*x->unique));
	if (!x->columns || !x->order || !x->row || !x->unique)
		return -ENOMEM;
	for (size_t i = 0; i < x->tb->ncolumns; i++) {
		const struct contract_column *col = &x->tb->columns[i];

		x->columns[i].name = col->name;
		x->columns[i].pii = col->pii;
		x->columns[i].mask = col->mask;
		if (col->unique && !col->primary_key && !(x->unique[i] = uniq_new()))
			return -ENOMEM;
		x->nkey += col->primary_key ? 1 : 0;
	}
	if (x->nkey && !(x->key = uniq_new()))
		return -ENOMEM;
	rc = keyring_domain_key(x->m->keys, x->domain, &x->key_id, x->data_key);
	if (!rc)
		rc = keyring_mask_key(x->m->keys, x->mask_key);
	if (rc)
		return mfs_error_set(x->err, rc, "cannot load the keys of domain %s: %s",
				     x->domain, strerror(-rc));
	return 0;
}

static void publish_audit(struct publish_ctx *x, int64_t version, int rc)
{
	char object[3 * CATALOG_NAME_MAX];
	struct catalog_audit a = {0};

	mesh_binding(object, sizeof(object), x->domain, x->product, x->table);
	a.at = mesh_now();
	a.principal = x->p->name;
	a.action = rc ? "reject" : "publish";
	a.object = object;
	a.version = version;
	a.view = "";
	a.outcome = rc == -EACCES ? "denied" : rc ? "rejected" : "ok";
	a.detail = rc && x->err && x->err->msg[0] ? x->err->msg : "";
	/* The audit row is best effort: a full catalog must not turn a publish into a failure
	 * after the fact, nor hide the real reason of a rejection. */
	(void)catalog_audit_add(x->m->cat, &a);
}

int publish_table(struct mesh *m, const struct principal *p, const char *domain,
		  const char *product, const char *table, csv_source_fn source, void *ctx,
		  const char *filename, struct publish_result *res, struct mfs_error *err)
{
	struct publish_ctx x = {.m = m, .p = p, .domain = domain, .product = product,
				.table = table, .filename = filename, .err = err};
	struct catalog_table_version tv = {0};
	struct segment_info info;
	char checks[128];
	int64_t number = 0;
	int lock = -1, rc;

	memset(res, 0, sizeof(*res));
	strbuf_init(&x.key_value);
	rc = acl_allowed(m->cat, p, PRIV_PUBLISH, domain, product);
	if (rc == 0)
		rc = mfs_error_set(err, EACCES, "%s may not publish to %s/%s", p->name, domain,
				   product);
	if (rc < 0)
		goto out;
	rc = publish_prepare(&x);
	if (rc)
		goto out;
	lock = mesh_lock(m, 0, 1);
	if (lock < 0) {
		rc = mfs_error_set(err, lock, "cannot lock the mesh: %s", strerror(-lock));
		goto out;
	}
	rc = publish_stream(&x, source, ctx, &info);
	if (rc)
		goto out;
	snprintf(tv.name, sizeof(tv.name), "%s", table);
	snprintf(tv.segment, sizeof(tv.segment), "%s", info.id);
	tv.rows = info.rows;
	tv.masked_size = info.masked_size;
	tv.plain_size = info.plain_size;
	tv.has_pii = info.has_pii;
	snprintf(checks, sizeof(checks), "%s: header, types, required, unique: passed (%llu rows)", table,
		 (unsigned long long)info.rows);
	rc = catalog_put_version(m->cat, x.prod.id, &tv, 1, p->name, checks, 0, mesh_now(), &number);
	if (rc) {
		mfs_error_set(err, rc, "cannot record the new version of %s/%s: %s", domain,
			      product, strerror(-rc));
		goto out;
	}
	res->version = number;
	res->rows = info.rows;
	res->bytes = info.masked_size;
out:
	mesh_unlock(lock);
	publish_audit(&x, number, rc);
	sodium_memzero(x.data_key, sizeof(x.data_key));
	sodium_memzero(x.mask_key, sizeof(x.mask_key));
	free(x.columns);
	free(x.order);
	free(x.row);
	for (size_t i = 0; x.unique && i < x.tb->ncolumns; i++)
		uniq_free(x.unique[i]);
	free(x.unique);
	uniq_free(x.key);
	strbuf_release_secure(&x.key_value);
	contract_release(&x.contract);
	catalog_product_release(&x.prod);
	return rc;
}

/* The table a single-table upload name publishes: "orders.csv" → "orders". */
static int upload_table(const char *name, char table[CATALOG_NAME_MAX])
{
	size_t len = strlen(name);

	if (len <= 4 || len - 4 >= CATALOG_NAME_MAX || strcmp(name + len - 4, ".csv"))
		return 0;
	memcpy(table, name, len - 4);
	table[len - 4] = '\0';
	return mesh_name_valid(table);
}

int publish_name_publishes(const char *name)
{
	char table[CATALOG_NAME_MAX];

	return !strcmp(name, "contract.yaml") || upload_table(name, table);
}

/* Reads a whole contract upload; contracts are small, and a bound keeps hostile ones so. */
#define CONTRACT_MAX (1 << 20)

static int read_contract(csv_source_fn source, void *ctx, const char *name, struct strbuf *out,
			 struct mfs_error *err)
{
	char buf[65536];
	ssize_t n;
	int rc;

	while ((n = source(ctx, buf, sizeof(buf))) > 0) {
		if (out->len + (size_t)n > CONTRACT_MAX)
			return mfs_error_at(err, EINVAL, name, 0, 0,
					    "a contract may not exceed %d bytes", CONTRACT_MAX);
		rc = strbuf_add(out, buf, (size_t)n);
		if (rc)
			return rc;
	}
	if (n < 0)
		return mfs_error_set(err, (int)n, "cannot read %s: %s", name, strerror((int)-n));
	if (strlen(out->buf) != out->len)
		return mfs_error_at(err, EINVAL, name, 0, 0, "contract contains a NUL byte");
	return 0;
}

static void contract_audit(struct mesh *m, const struct principal *p, const char *domain,
			   const char *product, int64_t version, int rc, struct mfs_error *err)
{
	char object[2 * CATALOG_NAME_MAX + 16];
	struct catalog_audit a = {0};

	snprintf(object, sizeof(object), "%s/%s/contract.yaml", domain, product);
	a.at = mesh_now();
	a.principal = p->name;
	a.action = rc ? "reject" : "contract";
	a.object = object;
	a.version = version;
	a.view = "";
	a.outcome = rc == -EACCES ? "denied" : rc ? "rejected" : "ok";
	a.detail = rc && err && err->msg[0] ? err->msg : "";
	(void)catalog_audit_add(m->cat, &a);
}

/* A proposed contract for DOMAIN/PRODUCT: becomes current, and a new version over the previous
 * version's tables when the product has versions. */
static int publish_contract(struct mesh *m, const struct principal *p, const char *domain,
			    const char *product, const char *name, csv_source_fn source, void *ctx,
			    struct publish_result *res, struct mfs_error *err)
{
	struct catalog_product prod = {0};
	struct catalog_contract_meta meta;
	struct contract c = {0};
	struct strbuf text, search;
	const char **tables = NULL;
	int64_t seq, number = 0;
	int rc, tx = 0;

	strbuf_init(&text);
	strbuf_init(&search);
	rc = acl_allowed(m->cat, p, PRIV_PUBLISH, domain, product);
	if (rc == 0)
		rc = mfs_error_set(err, EACCES, "%s may not change the contract of %s/%s", p->name,
				   domain, product);
	if (rc < 0)
		goto out;
	rc = catalog_product_get(m->cat, domain, product, &prod);
	if (rc) {
		mfs_error_set(err, rc, "no product %s/%s", domain, product);
		goto out;
	}
	rc = read_contract(source, ctx, name, &text, err);
	if (!rc)
		rc = contract_parse(&c, text.buf, text.len, name, NULL, err);
	if (rc)
		goto out;
	if (strcmp(c.domain, domain) || strcmp(c.data_product, product)) {
		rc = mfs_error_at(err, EINVAL, name, 0, 0,
				  "contract is for %s/%s, not %s/%s: domain and dataProduct must "
				  "name this product",
				  c.domain, c.data_product, domain, product);
		goto out;
	}
	rc = mesh_contract_meta(&c, text.buf, &search, &tables, &meta);
	if (rc)
		goto out;
	rc = catalog_begin(m->cat);
	if (rc)
		goto out;
	tx = 1;
	rc = catalog_contract_add(m->cat, prod.id, &meta, p->name, mesh_now(), &seq);
	if (!rc && prod.latest)
		rc = catalog_put_version(m->cat, prod.id, NULL, 0, p->name, "contract changed", 0,
					 mesh_now(), &number);
	if (!rc)
		rc = catalog_commit(m->cat);
	if (rc)
		mfs_error_set(err, rc, "cannot record the contract of %s/%s: %s", domain, product,
			      strerror(-rc));
	else
		tx = 0;
	res->version = number;
out:
	if (tx)
		catalog_rollback(m->cat);
	contract_audit(m, p, domain, product, number, rc, err);
	free(tables);
	contract_release(&c);
	catalog_product_release(&prod);
	strbuf_release(&text);
	strbuf_release(&search);
	return rc;
}

int publish_upload(struct mesh *m, const struct principal *p, const char *domain,
		   const char *product, const char *name, csv_source_fn source, void *ctx,
		   struct publish_result *res, struct mfs_error *err)
{
	char table[CATALOG_NAME_MAX];

	memset(res, 0, sizeof(*res));
	if (!strcmp(name, "contract.yaml"))
		return publish_contract(m, p, domain, product, name, source, ctx, res, err);
	if (upload_table(name, table))
		return publish_table(m, p, domain, product, table, source, ctx, name, res, err);
	return mfs_error_set(err, EINVAL,
			     "%s: not a name that publishes (TABLE.csv or contract.yaml)", name);
}

struct log_rows {
	struct strbuf *out;
	const char *prefix; /* "DOMAIN/PRODUCT/" */
	size_t prefix_len;
};

static int log_row(const struct catalog_audit *a, void *ctx)
{
	struct log_rows *l = ctx;
	char when[RENDER_TIME_LEN];
	int rc;

	if (strncmp(a->object, l->prefix, l->prefix_len) ||
	    (strcmp(a->action, "publish") && strcmp(a->action, "reject") &&
	     strcmp(a->action, "contract")))
		return 0;
	render_time(a->at, when);
	rc = strbuf_addf(l->out, "%s %s %s", when, a->object + l->prefix_len,
			 strcmp(a->action, "reject") ? "accepted" : "REJECTED");
	if (!rc && a->version)
		rc = strbuf_addf(l->out, " as version %lld", (long long)a->version);
	if (!rc)
		rc = strbuf_addch(l->out, '\n');
	/* the reasons, one per line, indented */
	for (const char *line = a->detail; !rc && *line;) {
		size_t len = strcspn(line, "\n");

		rc = strbuf_addf(l->out, "    %.*s\n", (int)len, line);
		line += len + (line[len] == '\n');
	}
	return rc;
}

int publish_log_render(struct mesh *m, const struct principal *p, const char *domain,
		       const char *product, struct strbuf *out)
{
	char prefix[2 * CATALOG_NAME_MAX + 2];
	struct log_rows l = {.out = out, .prefix = prefix};
	int rc;

	snprintf(prefix, sizeof(prefix), "%s/%s/", domain, product);
	l.prefix_len = strlen(prefix);
	rc = strbuf_addf(out, "# Your publish attempts on %s/%s (as %s)\n", domain, product,
			 p->name);
	if (!rc)
		rc = catalog_audit_list(m->cat, 0, p->name, log_row, &l);
	return rc;
}
