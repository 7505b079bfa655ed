/*
 * The publish pipeline (docs/DESIGN.md §5): an upload → its entries (libarchive) → rows (CSV or
 * JSON Lines) → checks and a segment per table, in one streaming pass → one catalog transaction
 * that records the new contract, if any, and the new version. Until that transaction commits
 * nothing is visible; if anything fails, nothing changes but for blobs no version refers to, which
 * the next start removes.
 */
#include "mesh/publish.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "contract/compat.h"
#include "contract/contract.h"
#include "contract/policy.h"
#include "common/strbuf.h"
#include "mesh/render.h"
#include "table/batch.h"
#include "table/checks.h"
#include "table/ingest.h"
#include "table/jsonl.h"
#include "table/segment.h"

/* One upload being published. */
struct publish {
	struct mesh *m;
	const struct principal *p;
	const char *domain, *product;
	const char *upload;	  /* its file name */
	char spill_dir[PATH_MAX]; /* MESH/staging: where uniqueness checks spill their digests */
	const char *label;	  /* what messages call a single-table upload */
	int archive;
	struct mfs_error *err;
	struct catalog_product prod;
	struct mesh_policy policy;
	struct contract current;
	char *current_yaml;
	/* what an accepted upload changed that readers should know: breaking changes made with a
	 * new major version, and whom they affect */
	struct mfs_error note;
	/* a contract.yaml in the upload: the tables are checked against it */
	struct contract proposed;
	struct strbuf proposed_yaml;
	const struct contract *contract;
	uint8_t data_key[32], mask_key[32];
	uint32_t key_id;
	/* the tables published so far */
	struct catalog_table_version *tables;
	size_t ntables;
	struct strbuf summary;
	uint64_t warnings;
};

/* A table's rows, from CSV or JSON Lines: the first record is the header either way. */
struct rows {
	int jsonl;
	struct csv_reader csv;
	struct jsonl_reader json;
};

static int rows_next(struct rows *r, struct csv_field **f, size_t *n, struct mfs_error *err)
{
	return r->jsonl ? jsonl_reader_next(&r->json, f, n, err)
			: csv_reader_next(&r->csv, f, n, err);
}

static unsigned long rows_line(const struct rows *r)
{
	return r->jsonl ? jsonl_reader_record_line(&r->json) : csv_reader_record_line(&r->csv);
}

/* Copies the record last read, as row (its fields in contract order), into b. */
static int rows_keep(struct rows *r, struct row_batch *b, const struct csv_field *row)
{
	const char *text;
	size_t len;

	if (r->jsonl)
		return row_batch_add(b, row, rows_line(r));
	text = csv_reader_record_bytes(&r->csv, &len);
	return row_batch_add_text(b, row, rows_line(r), text, len);
}

static void rows_release(struct rows *r)
{
	if (r->jsonl)
		jsonl_reader_release(&r->json);
	else
		csv_reader_release(&r->csv);
}

/* One table of the upload. */
struct table_run {
	const struct contract_table *tb;
	const char *entry;  /* the entry's name, for messages */
	const char **names; /* column names, for the JSON Lines reader */
	struct segment_column *columns;
	size_t *order;	/* order[i]: the input field holding contract column i */
	size_t nfields; /* fields in each input record */
	struct csv_field *row;
};

static void table_run_release(struct table_run *t)
{
	free(t->names);
	free(t->columns);
	free(t->order);
	free(t->row);
}

static int table_run_init(struct table_run *t, const struct contract_table *tb, const char *entry)
{
	memset(t, 0, sizeof(*t));
	t->tb = tb;
	t->entry = entry;
	t->names = calloc(tb->ncolumns, sizeof(*t->names));
	t->columns = calloc(tb->ncolumns, sizeof(*t->columns));
	t->order = calloc(tb->ncolumns, sizeof(*t->order));
	t->row = calloc(tb->ncolumns, sizeof(*t->row));
	if (!t->names || !t->columns || !t->order || !t->row)
		return -ENOMEM;
	for (size_t i = 0; i < tb->ncolumns; i++) {
		t->names[i] = tb->columns[i].name;
		t->columns[i].name = tb->columns[i].name;
		t->columns[i].pii = tb->columns[i].pii;
		t->columns[i].mask = tb->columns[i].mask;
	}
	return 0;
}

/* Maps the header's fields onto the contract's columns: any order, each column once. */
static int table_header(struct table_run *t, struct csv_field *f, size_t n, struct mfs_error *err)
{
	const struct contract_table *tb = t->tb;

	for (size_t i = 0; i < tb->ncolumns; i++)
		t->order[i] = SIZE_MAX;
	for (size_t k = 0; k < n; k++) {
		size_t i;

		for (i = 0; i < tb->ncolumns; i++)
			if (strlen(tb->columns[i].name) == f[k].len &&
			    !memcmp(tb->columns[i].name, f[k].data, f[k].len))
				break;
		if (i == tb->ncolumns)
			return mfs_error_at(err, EINVAL, t->entry, f[k].line, f[k].col,
					    "column '%.*s' is not in the contract of table %s",
					    (int)(f[k].len > 64 ? 64 : f[k].len), f[k].data,
					    tb->name);
		if (t->order[i] != SIZE_MAX)
			return mfs_error_at(err, EINVAL, t->entry, f[k].line, f[k].col,
					    "column '%s' appears twice in the header",
					    tb->columns[i].name);
		t->order[i] = k;
	}
	for (size_t i = 0; i < tb->ncolumns; i++)
		if (t->order[i] == SIZE_MAX)
			return mfs_error_at(err, EINVAL, t->entry, 1, 0,
					    "the header lacks column '%s' of table %s",
					    tb->columns[i].name, tb->name);
	t->nfields = n;
	return 0;
}

/* A blank line is a record of one empty unquoted field: nothing to publish. */
static int blank_record(const struct csv_field *f, size_t n)
{
	return n == 1 && !f[0].len && !f[0].quoted;
}

/*
 * Rows go through in batches, in three stages: read (the rows into a batch), checked and written
 * into the segment, each stage taking the batches in order. Two threads, the publishing one and
 * a helper, each take whatever stage of whatever batch is ready and not taken: reading first, so
 * that the ring of batches fills, then checking, then writing. So both cores stay busy whichever
 * stage is the longest, and no batch is read while an earlier one in its place is still being
 * checked or written.
 *
 * The outcome is that of one row at a time, whatever the threads did first. Checks see the rows
 * in order; when reading fails, the rows before the failure are checked, so that a table with
 * enough problems before a broken line gets its report, not the broken line; when writing a batch
 * fails, the checks count up to that batch only, the rows after it being as good as not read.
 */
#define BATCH_ROWS  4096
#define BATCH_BYTES (1U << 20)
#define NBATCH	    4

enum stage {
	STAGE_NONE,
	STAGE_READ,
	STAGE_CHECK,
	STAGE_WRITE,
};

struct pipeline {
	struct table_run *t;
	struct rows *r;
	struct table_checks *checks;
	struct segment_writer *w;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct row_batch b[NBATCH];	/* batch n is in b[n % NBATCH] */
	size_t read, checked, written;	/* the batches each stage is done with */
	int reading, checking, writing; /* a thread is at that stage */
	int ended;			/* the input is read (or failed): no batch after read */
	int read_rc;			/* < 0: reading failed in batch read - 1, see read_err */
	struct mfs_error read_err;
	int check_rc; /* table_checks_batch's first result that is not 0 */
	size_t check_at;
	int write_rc; /* the first failure of segment_writer_add */
	size_t write_at;
};

/* Reads the rows after the header into b, until it is full or the input ends: 1 if it is full,
 * 0 at the end, or -errno with err set. */
static int batch_fill(struct table_run *t, struct rows *r, struct row_batch *b,
		      struct mfs_error *err)
{
	struct csv_field *f;
	size_t n;
	int rc;

	row_batch_reset(b);
	while (b->nrows < BATCH_ROWS && b->data.len < BATCH_BYTES) {
		rc = rows_next(r, &f, &n, err);
		if (rc <= 0)
			return rc;
		if (blank_record(f, n) && t->nfields > 1)
			continue;
		if (n != t->nfields)
			return mfs_error_at(err, EINVAL, t->entry, rows_line(r), 0,
					    "expected %zu fields as in the header, found %zu",
					    t->nfields, n);
		for (size_t i = 0; i < t->tb->ncolumns; i++)
			t->row[i] = f[t->order[i]];
		if (rows_keep(r, b, t->row))
			return mfs_error_set(err, ENOMEM, "out of memory");
	}
	return 1;
}

/* What a thread may do now, under the lock. */
static enum stage pipeline_next(const struct pipeline *p)
{
	/* the batch read - NBATCH, whose place the next one takes, is done with */
	int room =
	    p->read < NBATCH || (p->checked > p->read - NBATCH && p->written > p->read - NBATCH);
	int stopped = p->check_rc || p->write_rc;

	if (!p->reading && !p->ended && !stopped && room)
		return STAGE_READ;
	/* after a failed write, the checks of the batches up to it decide */
	if (!p->checking && p->checked < p->read && !p->check_rc &&
	    !(p->write_rc && p->checked > p->write_at))
		return STAGE_CHECK;
	/* the rows before a failure to read are checked, not stored */
	if (!p->writing && p->written < p->read && !stopped &&
	    !(p->read_rc && p->written == p->read - 1))
		return STAGE_WRITE;
	return STAGE_NONE;
}

/* Runs one stage of one batch, without the lock. */
static void pipeline_run(struct pipeline *p, enum stage st, size_t n)
{
	struct row_batch *b = &p->b[n % NBATCH];
	int rc = 0;

	switch (st) {
	case STAGE_READ:
		rc = batch_fill(p->t, p->r, b, &p->read_err);
		row_batch_seal(b);
		pthread_mutex_lock(&p->lock);
		p->read = n + 1;
		p->ended = rc <= 0;
		p->read_rc = rc < 0 ? rc : 0;
		break;
	case STAGE_CHECK:
		if (b->nrows)
			rc = table_checks_batch(p->checks, row_batch_row(b, 0), b->lines, b->nrows);
		pthread_mutex_lock(&p->lock);
		p->checked = n + 1;
		if (rc) {
			p->check_rc = rc;
			p->check_at = n;
		}
		break;
	case STAGE_WRITE:
		for (size_t i = 0; !rc && i < b->nrows; i++)
			rc = segment_writer_add(p->w, row_batch_row(b, i), p->t->tb->ncolumns);
		pthread_mutex_lock(&p->lock);
		p->written = n + 1;
		if (rc) {
			p->write_rc = rc;
			p->write_at = n;
		}
		break;
	case STAGE_NONE:
		assert(!"no stage to run");
		break;
	}
}

/* What each of the two threads does until nothing is left to do. */
static void *pipeline_work(void *arg)
{
	struct pipeline *p = arg;
	enum stage st;
	size_t n;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		st = pipeline_next(p);
		if (st == STAGE_NONE) {
			/* nothing ready, and nothing under way that could make something ready */
			if (!p->reading && !p->checking && !p->writing)
				break;
			pthread_cond_wait(&p->cond, &p->lock);
			continue;
		}
		switch (st) {
		case STAGE_READ:
			p->reading = 1;
			n = p->read;
			break;
		case STAGE_CHECK:
			p->checking = 1;
			n = p->checked;
			break;
		default:
			p->writing = 1;
			n = p->written;
			break;
		}
		pthread_mutex_unlock(&p->lock);
		pipeline_run(p, st, n); /* returns with the lock held */
		if (st == STAGE_READ)
			p->reading = 0;
		else if (st == STAGE_CHECK)
			p->checking = 0;
		else
			p->writing = 0;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static int publish_rows(struct publish *pub, struct table_run *t, struct rows *r,
			struct table_checks *checks, struct segment_writer *w)
{
	struct pipeline p = {.t = t, .r = r, .checks = checks, .w = w};
	struct csv_field *f;
	pthread_t thread;
	size_t n;
	int rc;

	rc = rows_next(r, &f, &n, pub->err);
	if (rc == 0)
		return mfs_error_at(pub->err, EINVAL, t->entry, 1, 0,
				    "empty: expected a header row naming the columns of %s",
				    t->tb->name);
	if (rc < 0)
		return rc;
	rc = table_header(t, f, n, pub->err);
	if (rc)
		return rc;
	for (size_t i = 0; i < NBATCH; i++)
		row_batch_init(&p.b[i], t->tb->ncolumns);
	mfs_error_clear(&p.read_err);
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.cond, NULL);
	rc = -pthread_create(&thread, NULL, pipeline_work, &p);
	if (rc) {
		mfs_error_set(pub->err, rc, "%s: cannot start a thread: %s", t->entry,
			      strerror(-rc));
		goto out;
	}
	pipeline_work(&p);
	pthread_join(thread, NULL);
	if (p.check_rc && (!p.write_rc || p.check_at <= p.write_at)) {
		mfs_error_clear(pub->err);
		if (p.check_rc < 0)
			rc = mfs_error_set(pub->err, p.check_rc, "%s: cannot check the table: %s",
					   t->entry, strerror(-p.check_rc));
		/* else enough problems: the report says them */
	} else if (p.write_rc) {
		rc = mfs_error_set(pub->err, p.write_rc, "%s: cannot store the table: %s", t->entry,
				   strerror(-p.write_rc));
	} else if (p.read_rc) {
		rc = mfs_error_set(pub->err, p.read_rc, "%s", p.read_err.msg);
	}
out:
	pthread_cond_destroy(&p.cond);
	pthread_mutex_destroy(&p.lock);
	for (size_t i = 0; i < NBATCH; i++)
		row_batch_release(&p.b[i]);
	return rc < 0 ? rc : 0;
}

/* Publishes one table entry: checks and a segment in one pass over its rows. */
static int publish_entry_table(struct publish *pub, const struct ingest_entry *e, struct ingest *in)
{
	const struct contract_table *tb = contract_table(pub->contract, e->table);
	struct check_policy cpol = {.detectors = (const char *const *)pub->policy.detectors,
				    .spill_dir = pub->spill_dir};
	struct segment_params params = {0};
	struct table_checks *checks = NULL;
	struct segment_writer *w = NULL;
	struct check_report report = {0};
	struct catalog_table_version *tv;
	struct segment_info info;
	char binding[3 * MESH_NAME_MAX];
	struct table_run t;
	struct rows r = {.jsonl = e->format == INGEST_JSONL};
	int rc, have_report = 0;

	if (!tb)
		return mfs_error_at(pub->err, EINVAL, pub->archive ? e->name : pub->label, 0, 0,
				    "%s/%s has no table '%s' in its contract", pub->domain,
				    pub->product, e->table);
	rc = table_run_init(&t, tb, pub->archive ? e->name : pub->label);
	if (rc)
		goto out;
	if (r.jsonl)
		jsonl_reader_init(&r.json, ingest_read, in, t.entry, t.names, tb->ncolumns, NULL);
	else
		csv_reader_init(&r.csv, ingest_read, in, t.entry, NULL);
	rc = table_checks_new(&checks, tb, &cpol, t.entry, pub->err);
	if (rc)
		goto out;
	mesh_binding(binding, sizeof(binding), pub->domain, pub->product, tb->name);
	params.binding = binding;
	params.columns = t.columns;
	params.ncolumns = tb->ncolumns;
	params.data_key = pub->data_key;
	params.key_id = pub->key_id;
	params.mask_key = pub->mask_key;
	rc = segment_writer_open(&w, pub->m->store, &params, pub->err);
	if (!rc)
		rc = publish_rows(pub, &t, &r, checks, w);
	/* the reason a limit stopped the upload, rather than the reader's "read error" */
	if (rc && ingest_error(in)[0]) {
		mfs_error_clear(pub->err);
		mfs_error_set(pub->err, rc, "%s", ingest_error(in));
	}
	if (rc)
		goto out;
	rc = table_checks_finish(checks, &report);
	checks = NULL;
	have_report = !rc;
	if (rc)
		mfs_error_set(pub->err, rc, "%s: cannot check the table: %s", t.entry,
			      strerror(-rc));
	if (!rc)
		rc = check_report_error(&report, pub->err);
	if (rc)
		goto out;
	rc = segment_writer_finish(w, &info, pub->err);
	w = NULL;
	if (rc)
		goto out;
	tv = &pub->tables[pub->ntables++];
	memset(tv, 0, sizeof(*tv));
	snprintf(tv->name, sizeof(tv->name), "%s", tb->name);
	snprintf(tv->segment, sizeof(tv->segment), "%s", info.id);
	tv->rows = info.rows;
	tv->masked_size = info.masked_size;
	tv->plain_size = info.plain_size;
	tv->has_pii = info.has_pii;
	pub->warnings += report.warnings;
	rc = strbuf_add(&pub->summary, report.summary.buf, report.summary.len);
out:
	if (have_report)
		check_report_release(&report);
	table_checks_abort(checks);
	segment_writer_abort(w);
	rows_release(&r);
	table_run_release(&t);
	return rc;
}

static int read_all(csv_source_fn source, void *ctx, const char *name, size_t max,
		    struct strbuf *out, struct mfs_error *err)
{
	char buf[65536];
	ssize_t n;
	int rc;

	while ((n = source(ctx, buf, sizeof(buf))) > 0) {
		if (out->len + (size_t)n > max)
			return mfs_error_at(err, EINVAL, name, 0, 0,
					    "a contract may not exceed %zu bytes", max);
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

/* Whether p belongs to the team that owns the product's domain: only it may break a contract. */
static int owning_team(struct publish *pub)
{
	return catalog_team_has_member(pub->m->cat, pub->prod.owner, pub->p->name);
}

struct downstream {
	struct strbuf names;
	size_t n;
};

static int downstream_add(const char *domain, const char *product, int depth, void *ctx)
{
	struct downstream *d = ctx;

	(void)depth;
	d->n++;
	return strbuf_addf(&d->names, "%s%s/%s", d->names.len ? ", " : "", domain, product);
}

/*
 * Checks a proposed contract (its text in yaml) and makes it pub->proposed: it must parse, name
 * this product, satisfy the mesh policy and be compatible with the current contract, or break
 * it only with a new major version proposed by the owning team. A breaking change names the
 * products downstream of this one.
 */
static int propose_contract(struct publish *pub, const char *name)
{
	struct compat_report report = {0};
	struct downstream down = {.n = 0};
	int rc;

	strbuf_init(&down.names);
	/* the current contract again (an exported version published back): no change */
	if (!strcmp(pub->proposed_yaml.buf, pub->current_yaml))
		return 0;
	rc = contract_parse(&pub->proposed, pub->proposed_yaml.buf, pub->proposed_yaml.len, name,
			    (const char *const *)pub->policy.pii_classes, pub->err);
	if (rc)
		goto out;
	if (strcmp(pub->proposed.domain, pub->domain) ||
	    strcmp(pub->proposed.data_product, pub->product)) {
		rc = mfs_error_at(pub->err, EINVAL, name, 0, 0,
				  "contract is for %s/%s, not %s/%s: domain and dataProduct must "
				  "name this product",
				  pub->proposed.domain, pub->proposed.data_product, pub->domain,
				  pub->product);
		goto out;
	}
	rc = policy_check_contract(&pub->policy, &pub->proposed, name, pub->err);
	if (rc)
		goto out;
	rc = contract_compat(&pub->current, &pub->proposed, pub->policy.compatibility, name,
			     &report);
	if (!rc && compat_report_breaking(&report) && owning_team(pub) != 1) {
		rc = mfs_error_set(
		    pub->err, EPERM,
		    "%s: breaking changes with a new major version may only come from "
		    "the owning team %s",
		    name, pub->prod.owner);
	}
	if (rc == -EPERM || rc == -EINVAL)
		compat_report_explain(&report, pub->err);
	else if (!rc && compat_report_breaking(&report))
		compat_report_explain(&report, &pub->note);
	if (rc == -EPERM || (!rc && compat_report_breaking(&report))) {
		int drc = catalog_downstream_all(pub->m->cat, pub->domain, pub->product,
						 downstream_add, &down);

		if (!drc && down.n)
			mfs_error_add(rc ? pub->err : &pub->note, 0,
				      "%s: downstream products affected: %s", name, down.names.buf);
	}
out:
	compat_report_release(&report);
	strbuf_release(&down.names);
	if (!rc)
		pub->contract = &pub->proposed;
	return rc;
}

static int publish_entry_contract(struct publish *pub, const struct ingest_entry *e,
				  struct ingest *in)
{
	int rc;

	if (pub->ntables)
		return mfs_error_at(pub->err, EINVAL, e->name, 0, 0,
				    "contract.yaml must come before the tables in an archive, so "
				    "that they are checked against it");
	rc = read_all(ingest_read, in, e->name, SIZE_MAX, &pub->proposed_yaml, pub->err);
	if (rc && ingest_error(in)[0])
		mfs_error_set(pub->err, rc, "%s", ingest_error(in));
	return rc ? rc : propose_contract(pub, e->name);
}

/* What every publish of the product needs: who may, the product, its contract, the policy, keys. */
static int publish_prepare(struct publish *pub)
{
	char *yaml;
	int64_t seq;
	int rc;

	rc = acl_allowed(pub->m->cat, pub->p, PRIV_PUBLISH, pub->domain, pub->product);
	if (rc == 0)
		return mfs_error_set(pub->err, EACCES, "%s may not publish to %s/%s", pub->p->name,
				     pub->domain, pub->product);
	if (rc < 0)
		return rc;
	rc = catalog_product_get(pub->m->cat, pub->domain, pub->product, &pub->prod);
	if (rc)
		return mfs_error_set(pub->err, rc, "no product %s/%s", pub->domain, pub->product);
	rc = mesh_policy_get(pub->m, &pub->policy, pub->err);
	if (rc)
		return rc;
	rc = catalog_contract_get(pub->m->cat, pub->prod.id, 0, &yaml, &seq);
	if (rc)
		return mfs_error_set(pub->err, rc, "cannot read the contract of %s/%s: %s",
				     pub->domain, pub->product, strerror(-rc));
	pub->current_yaml = yaml;
	/* Under the policy of today: a classification it adds to PII applies from now on. */
	rc = contract_parse(&pub->current, yaml, strlen(yaml), "contract.yaml",
			    (const char *const *)pub->policy.pii_classes, pub->err);
	if (rc)
		return rc;
	pub->contract = &pub->current;
	rc = mesh_keys(pub->m, pub->err);
	if (rc)
		return rc;
	rc = keyring_domain_key(pub->m->keys, pub->domain, &pub->key_id, pub->data_key);
	if (!rc)
		rc = keyring_mask_key(pub->m->keys, pub->mask_key);
	if (rc)
		return mfs_error_set(pub->err, rc, "cannot load the keys of domain %s: %s",
				     pub->domain, strerror(-rc));
	return 0;
}

/* Records what the upload brought, in one transaction: the new contract, then the version. */
static int publish_commit(struct publish *pub, struct publish_result *res)
{
	struct catalog_contract_meta meta;
	struct strbuf search;
	const char **tables = NULL;
	int64_t seq, number = 0;
	int rc = 0;

	strbuf_init(&search);
	/* the current contract sent again, and nothing else: nothing changes */
	if (pub->contract != &pub->proposed && !pub->ntables)
		goto out;
	rc = catalog_begin(pub->m->cat);
	if (rc)
		goto out;
	if (pub->contract == &pub->proposed) {
		rc = mesh_contract_meta(&pub->proposed, pub->proposed_yaml.buf, &search, &tables,
					&meta);
		if (!rc)
			rc = catalog_contract_add(pub->m->cat, pub->prod.id, &meta, pub->p->name,
						  mesh_now(), &seq);
		if (!rc && !pub->ntables)
			rc = strbuf_addstr(&pub->summary, "contract changed\n");
	}
	/* A contract alone makes a version only where there are tables to carry over. */
	if (!rc && (pub->ntables || pub->prod.latest))
		rc = catalog_put_version(pub->m->cat, pub->prod.id, pub->tables, pub->ntables,
					 pub->p->name, pub->summary.buf, pub->warnings, mesh_now(),
					 &number);
	if (!rc)
		rc = catalog_commit(pub->m->cat);
	else
		catalog_rollback(pub->m->cat);
	if (rc) {
		mfs_error_set(pub->err, rc, "cannot record the new version of %s/%s: %s",
			      pub->domain, pub->product, strerror(-rc));
		goto out;
	}
	res->version = number;
	for (size_t i = 0; i < pub->ntables; i++) {
		res->rows += pub->tables[i].rows;
		res->bytes += pub->tables[i].masked_size;
	}
out:
	free(tables);
	strbuf_release(&search);
	return rc;
}

static void publish_audit(struct publish *pub, int64_t version, int rc)
{
	char object[2 * MESH_NAME_MAX + NAME_MAX + 4];
	struct catalog_audit a = {0};

	snprintf(object, sizeof(object), "%s/%s/%s", pub->domain, pub->product, pub->upload);
	a.at = mesh_now();
	a.principal = pub->p->name;
	a.action = rc ? "reject" : "publish";
	a.object = object;
	a.version = version;
	a.view = "";
	a.outcome = rc == -EACCES ? "denied" : rc ? "rejected" : "ok";
	a.detail = rc && pub->err && pub->err->msg[0] ? pub->err->msg : rc ? "" : pub->note.msg;
	/* Best effort: a full catalog must neither turn a publish into a failure after the fact
	 * nor hide the reason of a rejection. The messages hold no PII (table/checks.h). */
	(void)catalog_audit_add(pub->m->cat, &a);
}

static void publish_release(struct publish *pub)
{
	sodium_memzero(pub->data_key, sizeof(pub->data_key));
	sodium_memzero(pub->mask_key, sizeof(pub->mask_key));
	free(pub->tables);
	free(pub->current_yaml);
	contract_release(&pub->current);
	contract_release(&pub->proposed);
	policy_release(&pub->policy);
	catalog_product_release(&pub->prod);
	strbuf_release(&pub->proposed_yaml);
	strbuf_release(&pub->summary);
}

/* Reads the upload entry by entry: a contract first if there is one, then the tables. */
static int publish_entries(struct publish *pub, struct ingest *in)
{
	struct ingest_entry e;
	size_t cap = 0;
	int rc;

	while ((rc = ingest_next(in, &e, pub->err)) > 0) {
		if (e.format == INGEST_CONTRACT) {
			rc = publish_entry_contract(pub, &e, in);
		} else {
			if (pub->ntables == cap) {
				struct catalog_table_version *t;

				cap = cap ? cap * 2 : 4;
				t = realloc(pub->tables, cap * sizeof(*t));
				if (!t)
					return -ENOMEM;
				pub->tables = t;
			}
			rc = publish_entry_table(pub, &e, in);
		}
		if (rc)
			return rc;
	}
	if (!rc && !pub->ntables && pub->contract != &pub->proposed)
		rc = mfs_error_at(pub->err, EINVAL, pub->upload, 0, 0,
				  "nothing to publish: no table and no contract in it");
	return rc;
}

static int publish_run(struct publish *pub, csv_source_fn source, void *ctx,
		       struct publish_result *res)
{
	struct ingest *in = NULL;
	int lock = -1, rc;

	rc = publish_prepare(pub);
	if (rc)
		goto out;
	/* Shared: clean-up of orphaned blobs at a mount start must not take ours for one. */
	lock = mesh_lock(pub->m, 0, 1);
	if (lock < 0) {
		rc = mfs_error_set(pub->err, lock, "cannot lock the mesh: %s", strerror(-lock));
		goto out;
	}
	if (!strcmp(pub->upload, "contract.yaml")) {
		rc = read_all(source, ctx, pub->label, 1 << 20, &pub->proposed_yaml, pub->err);
		if (!rc)
			rc = propose_contract(pub, pub->label);
	} else {
		rc = ingest_open(&in, pub->upload, source, ctx, NULL, pub->err);
		if (!rc)
			rc = publish_entries(pub, in);
	}
	if (!rc)
		rc = publish_commit(pub, res);
	/* Segments this publish stored are no version's: each holds a random id, so no other
	 * publish can share its blob. Removed now rather than at the next mount start. */
	for (size_t i = 0; rc && i < pub->ntables; i++)
		(void)store_remove(pub->m->store, pub->tables[i].segment);
out:
	ingest_close(in);
	mesh_unlock(pub->m, lock);
	publish_audit(pub, res->version, rc);
	return rc;
}

int publish_upload(struct mesh *m, const struct principal *p, const char *domain,
		   const char *product, const char *name, const char *label, csv_source_fn source,
		   void *ctx, struct publish_result *res, struct mfs_error *err)
{
	struct publish pub = {.m = m,
			      .p = p,
			      .domain = domain,
			      .product = product,
			      .upload = name,
			      .label = label ? label : name,
			      .err = err};
	int rc;

	ingest_name_kind(name, NULL, NULL, &pub.archive);
	snprintf(pub.spill_dir, sizeof(pub.spill_dir), "%s/staging", m->local_dir);
	memset(res, 0, sizeof(*res));
	strbuf_init(&pub.proposed_yaml);
	strbuf_init(&pub.summary);
	if (!publish_name_publishes(name))
		rc = mfs_error_set(err, EINVAL,
				   "%s: not a name that publishes: TABLE.csv, TABLE.jsonl (maybe "
				   "compressed), an archive, or contract.yaml",
				   name);
	else
		rc = publish_run(&pub, source, ctx, res);
	publish_release(&pub);
	return rc;
}

int publish_upload_name(const char *table, const char *file, char *out, size_t size)
{
	static const char *const kinds[] = {".csv", ".jsonl"};
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	int n = -1;

	for (size_t i = 0; n < 0 && i < sizeof(kinds) / sizeof(*kinds); i++) {
		const char *at = strstr(base, kinds[i]);

		/* "x.csv", "x.csv.gz": the kind and what follows it, after the table's name */
		if (at && (!at[strlen(kinds[i])] || at[strlen(kinds[i])] == '.'))
			n = snprintf(out, size, "%s%s", table, at);
	}
	if (n < 0)
		n = snprintf(out, size, "%s.csv", table);
	return n > 0 && (size_t)n < size && ingest_name_kind(out, NULL, NULL, NULL) ? 0 : -EINVAL;
}

int publish_name_publishes(const char *name)
{
	return !strcmp(name, "contract.yaml") || ingest_name_kind(name, NULL, NULL, NULL);
}

/* Attempts publish.log shows. */
#define PUBLISH_LOG_ROWS 200

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
	char prefix[2 * MESH_NAME_MAX + 2];
	struct log_rows l = {.out = out, .prefix = prefix};
	int rc;

	snprintf(prefix, sizeof(prefix), "%s/%s/", domain, product);
	l.prefix_len = strlen(prefix);
	rc = strbuf_addf(out, "# Your last publish attempts on %s/%s (as %s)\n", domain, product,
			 p->name);
	if (!rc)
		rc = catalog_audit_recent(m->cat, p->name, prefix, PUBLISH_LOG_ROWS, log_row, &l);
	return rc;
}
