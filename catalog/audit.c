/* The audit trail: who did what to which object, and how it went. */
#include "catalog/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Audit rows are handed to callbacks in batches so that a long audit trail is never all in
 * memory at once. */
#define AUDIT_BATCH 256

static const char *const outcomes[] = {"ok", "denied", "rejected", "error"};

int catalog_audit_add(struct catalog *cat, const struct catalog_audit *a)
{
	const char *view;

	if (!a || !a->principal || !a->principal[0] || !a->action || !a->action[0] || !a->object ||
	    !CATALOG_ONE_OF(a->outcome, outcomes) || a->version < 0)
		return -EINVAL;
	view = a->view ? a->view : "";
	if (view[0] && strcmp(view, "plain") && strcmp(view, "masked"))
		return -EINVAL;
	return db_exec(cat->db, ST_AUDIT_INSERT, "itttittt", a->at, a->principal, a->action,
		       a->object, a->version, view, a->outcome, a->detail ? a->detail : "");
}

/* Fills a from row i of the audit columns (id, at, principal, action, object, version, view,
 * outcome, detail); its strings stay in r. */
static void audit_from_row(struct catalog_audit *a, const struct db_rows *r, size_t i)
{
	a->id = db_rows_int64(r, i, 0);
	a->at = db_rows_int64(r, i, 1);
	a->principal = db_rows_text(r, i, 2);
	a->action = db_rows_text(r, i, 3);
	a->object = db_rows_text(r, i, 4);
	a->version = db_rows_int64(r, i, 5);
	a->view = db_rows_text(r, i, 6);
	a->outcome = db_rows_text(r, i, 7);
	a->detail = db_rows_text(r, i, 8);
}

int catalog_audit_list(struct catalog *cat, int64_t since, const char *principal,
		       int (*cb)(const struct catalog_audit *a, void *ctx), void *ctx)
{
	struct catalog_audit a;
	struct db_rows r;
	int64_t at = since ? since : INT64_MIN, id = 0;
	size_t i, n;
	int rc;

	/* (at, id) > (since, 0) selects at >= since, as ids start at 1. */
	do {
		rc = db_collect(cat->db, ST_AUDIT_LIST, &r, "iiti", at, id, principal,
				(int64_t)AUDIT_BATCH);
		if (rc)
			return rc;
		for (i = 0; !rc && i < r.n; i++) {
			audit_from_row(&a, &r, i);
			rc = cb(&a, ctx);
			id = a.id;
			at = a.at;
		}
		n = r.n;
		db_rows_release(&r);
	} while (!rc && n == AUDIT_BATCH);
	return rc;
}

int catalog_audit_recent(struct catalog *cat, const char *principal, const char *prefix,
			 size_t limit, int (*cb)(const struct catalog_audit *a, void *ctx),
			 void *ctx)
{
	struct catalog_audit a;
	struct db_rows r;
	char *end;
	size_t len = strlen(prefix);
	int rc;

	/* the objects that start with prefix: from prefix up to prefix with its last byte + 1 */
	if (!len || (unsigned char)prefix[len - 1] == 0xff)
		return -EINVAL;
	end = strdup(prefix);
	if (!end)
		return -ENOMEM;
	end[len - 1]++;
	rc = db_collect(cat->db, ST_AUDIT_RECENT, &r, "ttti", principal, prefix, end,
			(int64_t)(limit ? limit : INT64_MAX));
	free(end);
	if (rc)
		return rc;
	for (size_t i = r.n; !rc && i-- > 0;) {
		audit_from_row(&a, &r, i);
		rc = cb(&a, ctx);
	}
	db_rows_release(&r);
	return rc;
}
