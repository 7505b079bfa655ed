/* Copying a whole catalog into a new one (a local mesh moved to a shared one): every table, rows
 * and ids as they are, so that what refers to an id (a segment's key id, a version's contract)
 * still finds it. */
#include "catalog/internal.h"

#include <assert.h>
#include <string.h>

/* In the order of their references: a row's referents are copied before it. */
static const struct {
	const char *name;
	enum catalog_stmt from, into;
} tables[] = {
    {"teams", ST_COPY_FROM_TEAMS, ST_COPY_INTO_TEAMS},
    {"team_members", ST_COPY_FROM_MEMBERS, ST_COPY_INTO_MEMBERS},
    {"domains", ST_COPY_FROM_DOMAINS, ST_COPY_INTO_DOMAINS},
    {"products", ST_COPY_FROM_PRODUCTS, ST_COPY_INTO_PRODUCTS},
    {"contracts", ST_COPY_FROM_CONTRACTS, ST_COPY_INTO_CONTRACTS},
    {"contract_tables", ST_COPY_FROM_CTABLES, ST_COPY_INTO_CTABLES},
    {"contract_inputs", ST_COPY_FROM_INPUTS, ST_COPY_INTO_INPUTS},
    {"product_search", ST_COPY_FROM_SEARCHTEXT, ST_COPY_INTO_SEARCHTEXT},
    {"versions", ST_COPY_FROM_VERSIONS, ST_COPY_INTO_VERSIONS},
    {"version_tables", ST_COPY_FROM_VTABLES, ST_COPY_INTO_VTABLES},
    {"grants", ST_COPY_FROM_GRANTS, ST_COPY_INTO_GRANTS},
    {"audit", ST_COPY_FROM_AUDIT, ST_COPY_INTO_AUDIT},
    {"keys", ST_COPY_FROM_KEYS, ST_COPY_INTO_KEYS},
    {"policies", ST_COPY_FROM_POLICIES, ST_COPY_INTO_POLICIES},
    {"settings", ST_COPY_FROM_SETTINGS, ST_COPY_INTO_SETTINGS},
};

int catalog_copy(struct catalog *from, struct catalog *to,
		 int (*progress)(const char *table, uint64_t rows, void *ctx), void *ctx,
		 struct mfs_error *err)
{
	uint64_t rows;
	int rc;

	assert(from != to);
	rc = db_begin(to->db);
	if (rc)
		return mfs_error_set(err, rc, "%s: cannot start the copy: %s", db_name(to->db),
				     strerror(-rc));
	for (size_t i = 0; !rc && i < sizeof(tables) / sizeof(tables[0]); i++) {
		rc = db_copy(from->db, tables[i].from, to->db, tables[i].into, &rows);
		if (rc)
			mfs_error_set(err, rc, "cannot copy table %s into %s: %s", tables[i].name,
				      db_name(to->db), strerror(-rc));
		else if (progress)
			rc = progress(tables[i].name, rows, ctx);
	}
	if (!rc && (rc = db_exec(to->db, ST_COPY_RESTART, "")))
		mfs_error_set(err, rc, "%s: cannot move the ids past the copied ones: %s",
			      db_name(to->db), strerror(-rc));
	rc = db_finish(to->db, rc);
	if (rc && err && !err->msg[0])
		mfs_error_set(err, rc, "%s: cannot commit the copy: %s", db_name(to->db),
			      strerror(-rc));
	return rc;
}
