#include "catalog/catalog.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "backends/store.h"
#include "contract/contract.h"
#include "common/strbuf.h"

/* Long enough for a publish by the CLI to finish while the daemon waits, and the reverse. */
#define CATALOG_BUSY_MS 10000

/* Audit rows are handed to callbacks in batches so that a long audit trail is never all in
 * memory at once. */
#define AUDIT_BATCH 256

#define KEY_WRAPPED_MAX 4096

/* Names are checked before they are written; the schema makes sure of it too. */
#define NAME_CHECK(col) "CHECK (length(CAST(" col " AS BLOB)) BETWEEN 1 AND 63)"

/*
 * Schema migrations, applied in order, each in its own transaction; step i brings the schema from
 * user_version i to i + 1 and says so itself (a pragma's value cannot be a bound parameter).
 * Never change a step that has shipped: add one.
 */
/* clang-format off */
static const char *const migrations[] = {
	/* 1: the initial schema */
	"CREATE TABLE teams ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE " NAME_CHECK("name") ");"
	"CREATE TABLE team_members ("
	"  team_id INTEGER NOT NULL REFERENCES teams (id),"
	"  user TEXT NOT NULL " NAME_CHECK("user") ","
	"  PRIMARY KEY (team_id, user)"
	") WITHOUT ROWID;"
	"CREATE INDEX team_members_user ON team_members (user);"
	"CREATE TABLE domains ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE " NAME_CHECK("name") ","
	"  owner_id INTEGER NOT NULL REFERENCES teams (id),"
	"  description TEXT NOT NULL DEFAULT '',"
	"  created_at INTEGER NOT NULL);"
	"CREATE INDEX domains_owner ON domains (owner_id);"
	"CREATE TABLE products ("
	"  id INTEGER PRIMARY KEY,"
	"  domain_id INTEGER NOT NULL REFERENCES domains (id),"
	"  name TEXT NOT NULL " NAME_CHECK("name") ","
	"  created_at INTEGER NOT NULL,"
	"  UNIQUE (domain_id, name));"
	/* Every accepted contract is kept; a product's current one has the highest seq. The YAML
	 * comes last so that product lookups read the short columns without its overflow pages. */
	"CREATE TABLE contracts ("
	"  id INTEGER PRIMARY KEY,"
	"  product_id INTEGER NOT NULL REFERENCES products (id),"
	"  seq INTEGER NOT NULL CHECK (seq >= 1),"
	"  semver TEXT NOT NULL,"
	"  description TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL DEFAULT '',"
	"  frequency_seconds INTEGER NOT NULL DEFAULT 0 CHECK (frequency_seconds >= 0),"
	"  created_at INTEGER NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  yaml TEXT NOT NULL,"
	"  UNIQUE (product_id, seq));"
	"CREATE TABLE contract_tables ("
	"  contract_id INTEGER NOT NULL REFERENCES contracts (id),"
	"  name TEXT NOT NULL " NAME_CHECK("name") ","
	"  PRIMARY KEY (contract_id, name)"
	") WITHOUT ROWID;"
	/* Lineage: the inputs of each product's current contract, replaced along with it. They
	 * are names, as an upstream product may be created after its consumers. */
	"CREATE TABLE contract_inputs ("
	"  product_id INTEGER NOT NULL REFERENCES products (id),"
	"  domain TEXT NOT NULL,"
	"  product TEXT NOT NULL,"
	"  PRIMARY KEY (product_id, domain, product)"
	") WITHOUT ROWID;"
	"CREATE INDEX contract_inputs_target ON contract_inputs (domain, product);"
	/* Plain text so that a later migration can build a full-text index from it. */
	"CREATE TABLE product_search ("
	"  product_id INTEGER PRIMARY KEY REFERENCES products (id),"
	"  text TEXT NOT NULL);"
	"CREATE TABLE versions ("
	"  id INTEGER PRIMARY KEY,"
	"  product_id INTEGER NOT NULL REFERENCES products (id),"
	"  number INTEGER NOT NULL CHECK (number >= 1),"
	"  contract_seq INTEGER NOT NULL,"
	"  published_at INTEGER NOT NULL,"
	"  published_by TEXT NOT NULL " NAME_CHECK("published_by") ","
	"  rows INTEGER NOT NULL DEFAULT 0,"
	"  bytes INTEGER NOT NULL DEFAULT 0,"
	"  checks TEXT NOT NULL DEFAULT '',"
	"  UNIQUE (product_id, number),"
	"  FOREIGN KEY (product_id, contract_seq) REFERENCES contracts (product_id, seq));"
	"CREATE TABLE version_tables ("
	"  version_id INTEGER NOT NULL REFERENCES versions (id),"
	"  name TEXT NOT NULL " NAME_CHECK("name") ","
	"  segment TEXT NOT NULL CHECK (length(segment) = 64),"
	"  rows INTEGER NOT NULL CHECK (rows >= 0),"
	"  masked_size INTEGER NOT NULL CHECK (masked_size >= 0),"
	"  plain_size INTEGER NOT NULL CHECK (plain_size >= 0),"
	"  has_pii INTEGER NOT NULL CHECK (has_pii IN (0, 1)),"
	"  PRIMARY KEY (version_id, name)"
	") WITHOUT ROWID;"
	"CREATE INDEX version_tables_segment ON version_tables (segment);"
	"CREATE TABLE grants ("
	"  privilege TEXT NOT NULL CHECK (privilege IN ('read', 'unmask', 'publish', 'admin')),"
	"  scope TEXT NOT NULL,"
	"  principal TEXT NOT NULL,"
	"  granted_by TEXT NOT NULL,"
	"  granted_at INTEGER NOT NULL,"
	"  PRIMARY KEY (privilege, scope, principal)"
	") WITHOUT ROWID;"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  principal TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  object TEXT NOT NULL,"
	"  version INTEGER NOT NULL DEFAULT 0,"
	"  view TEXT NOT NULL DEFAULT '',"
	"  outcome TEXT NOT NULL,"
	"  detail TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX audit_at ON audit (at);"
	"CREATE INDEX audit_principal ON audit (principal, at);"
	"CREATE TABLE keys ("
	"  id INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('mask', 'data')),"
	"  domain_id INTEGER REFERENCES domains (id),"
	"  wrapped BLOB NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  active INTEGER NOT NULL CHECK (active IN (0, 1)),"
	"  CHECK ((kind = 'mask') = (domain_id IS NULL)));"
	/* NULLs are distinct in a unique index: coalesce gives the mask key a slot of its own. */
	"CREATE UNIQUE INDEX keys_active ON keys (kind, coalesce(domain_id, 0)) WHERE active;"
	"PRAGMA user_version = 1;",

	/* 2: mesh policies (every accepted one kept) and full-text search over products */
	"CREATE TABLE policies ("
	"  seq INTEGER PRIMARY KEY,"
	"  yaml TEXT NOT NULL,"
	"  set_at INTEGER NOT NULL,"
	"  set_by TEXT NOT NULL);"
	/* The search text stays in product_search (the content table); the index refers to it. */
	"CREATE VIRTUAL TABLE product_fts USING fts5("
	"  text, content='product_search', content_rowid='product_id',"
	"  tokenize='unicode61 remove_diacritics 2');"
	"INSERT INTO product_fts (rowid, text) SELECT product_id, text FROM product_search;"
	"CREATE TRIGGER product_search_ai AFTER INSERT ON product_search BEGIN"
	"  INSERT INTO product_fts (rowid, text) VALUES (new.product_id, new.text);"
	"END;"
	"CREATE TRIGGER product_search_ad AFTER DELETE ON product_search BEGIN"
	"  INSERT INTO product_fts (product_fts, rowid, text)"
	"    VALUES ('delete', old.product_id, old.text);"
	"END;"
	"CREATE TRIGGER product_search_au AFTER UPDATE ON product_search BEGIN"
	"  INSERT INTO product_fts (product_fts, rowid, text)"
	"    VALUES ('delete', old.product_id, old.text);"
	"  INSERT INTO product_fts (rowid, text) VALUES (new.product_id, new.text);"
	"END;"
	"PRAGMA user_version = 2;",

	/* 3: how many quality rules of severity warning failed in a version (for meshfs status) */
	"ALTER TABLE versions ADD COLUMN warnings INTEGER NOT NULL DEFAULT 0;"
	"PRAGMA user_version = 3;",

	/* 4: a principal's recent rows on one object (publish.log), without scanning the rest */
	"CREATE INDEX audit_principal_object ON audit (principal, object, at);"
	"PRAGMA user_version = 4;",
};
/* clang-format on */

#define SCHEMA_VERSION ((int64_t)(sizeof(migrations) / sizeof(migrations[0])))

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_DATA_VERSION,
	ST_INTEGRITY,
	ST_FK_CHECK,
	ST_TEAM_INSERT,
	ST_TEAM_ID,
	ST_MEMBER_INSERT,
	ST_MEMBER_DELETE,
	ST_MEMBER_HAS,
	ST_TEAM_LIST,
	ST_USER_TEAMS,
	ST_DOMAIN_INSERT,
	ST_DOMAIN_ID,
	ST_DOMAIN_GET,
	ST_DOMAIN_GET_BY_ID,
	ST_DOMAIN_LIST,
	ST_PRODUCT_INSERT,
	ST_PRODUCT_ID,
	ST_PRODUCT_EXISTS,
	ST_PRODUCT_GET,
	ST_PRODUCT_GET_BY_ID,
	ST_PRODUCT_LIST,
	ST_PRODUCT_STATES,
	ST_PRODUCT_NAMES,
	ST_DOMAIN_COUNT,
	ST_CONTRACT_MAXSEQ,
	ST_CONTRACT_INSERT,
	ST_CONTRACT_TABLE_INSERT,
	ST_INPUTS_DELETE,
	ST_INPUT_INSERT,
	ST_SEARCH_PUT,
	ST_CONTRACT_GET,
	ST_DOWNSTREAM,
	ST_DOWNSTREAM_ALL,
	ST_UPSTREAM,
	ST_SEARCH,
	ST_VERSION_MAX,
	ST_VERSION_INSERT,
	ST_VTABLE_INSERT,
	ST_VTABLE_CARRY,
	ST_VERSION_TOTALS,
	ST_VERSION_GET,
	ST_VERSION_LIST,
	ST_VTABLES,
	ST_SEGMENTS,
	ST_GRANT_INSERT,
	ST_GRANT_DELETE,
	ST_GRANT_LIST,
	ST_GRANT_LIST_ALL,
	ST_AUDIT_INSERT,
	ST_AUDIT_LIST,
	ST_AUDIT_RECENT,
	ST_POLICY_INSERT,
	ST_POLICY_GET,
	ST_KEY_DEACTIVATE,
	ST_KEY_INSERT,
	ST_KEY_GET,
	ST_KEY_ACTIVE,
	ST_COUNT
};

#define DOMAIN_SELECT                                                                              \
	"SELECT d.id, d.name, t.name, d.description, d.created_at "                                \
	"FROM domains d JOIN teams t ON t.id = d.owner_id "

/* The current contract is the one with the highest seq, the latest version the one with the
 * highest number: both are found through the unique indexes, which keeps this cheap enough for
 * FUSE lookups. */
#define PRODUCT_COLUMNS                                                                            \
	"SELECT p.id, d.name, p.name, t.name, c.description, c.status, c.seq, v.number, "          \
	"p.created_at, v.published_at, c.frequency_seconds "
/* What PRODUCT_COLUMNS needs joined to "products p". */
#define PRODUCT_JOINS                                                                              \
	"JOIN domains d ON d.id = p.domain_id JOIN teams t ON t.id = d.owner_id "                  \
	"JOIN contracts c ON c.product_id = p.id "                                                 \
	"AND c.seq = (SELECT max(seq) FROM contracts WHERE product_id = p.id) "                    \
	"LEFT JOIN versions v ON v.product_id = p.id "                                             \
	"AND v.number = (SELECT max(number) FROM versions WHERE product_id = p.id) "
#define PRODUCT_SELECT PRODUCT_COLUMNS "FROM products p " PRODUCT_JOINS

#define VERSION_SELECT                                                                             \
	"SELECT id, number, published_at, published_by, contract_seq, rows, bytes, checks, "       \
	"warnings FROM versions "

/* clang-format off */
static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT nested",
	[ST_RELEASE] = "RELEASE nested",
	[ST_ROLLBACK_TO] = "ROLLBACK TO nested",
	[ST_DATA_VERSION] = "PRAGMA data_version",
	[ST_INTEGRITY] = "PRAGMA integrity_check",
	[ST_FK_CHECK] = "PRAGMA foreign_key_check",
	[ST_TEAM_INSERT] = "INSERT INTO teams (name) VALUES (?1)",
	[ST_TEAM_ID] = "SELECT id FROM teams WHERE name = ?1",
	[ST_MEMBER_INSERT] = "INSERT INTO team_members (team_id, user) VALUES (?1, ?2) "
		"ON CONFLICT DO NOTHING",
	[ST_MEMBER_DELETE] = "DELETE FROM team_members WHERE team_id = ?1 AND user = ?2",
	[ST_MEMBER_HAS] = "SELECT 1 FROM team_members m JOIN teams t ON t.id = m.team_id "
		"WHERE t.name = ?1 AND m.user = ?2",
	[ST_TEAM_LIST] = "SELECT t.name, m.user FROM teams t "
		"LEFT JOIN team_members m ON m.team_id = t.id ORDER BY t.name, m.user",
	[ST_USER_TEAMS] = "SELECT t.name FROM team_members m JOIN teams t ON t.id = m.team_id "
		"WHERE m.user = ?1 ORDER BY t.name",
	[ST_DOMAIN_INSERT] = "INSERT INTO domains (name, owner_id, description, created_at) "
		"SELECT ?1, id, ?3, ?4 FROM teams WHERE name = ?2",
	[ST_DOMAIN_ID] = "SELECT id FROM domains WHERE name = ?1",
	[ST_DOMAIN_GET] = DOMAIN_SELECT "WHERE d.name = ?1",
	[ST_DOMAIN_GET_BY_ID] = DOMAIN_SELECT "WHERE d.id = ?1",
	[ST_DOMAIN_LIST] = DOMAIN_SELECT "ORDER BY d.name",
	[ST_PRODUCT_INSERT] = "INSERT INTO products (domain_id, name, created_at) "
		"VALUES (?1, ?2, ?3)",
	[ST_PRODUCT_ID] = "SELECT p.id FROM products p JOIN domains d ON d.id = p.domain_id "
		"WHERE d.name = ?1 AND p.name = ?2",
	[ST_PRODUCT_EXISTS] = "SELECT 1 FROM products WHERE id = ?1",
	[ST_PRODUCT_GET] = PRODUCT_SELECT "WHERE d.name = ?1 AND p.name = ?2",
	[ST_PRODUCT_GET_BY_ID] = PRODUCT_SELECT "WHERE p.id = ?1",
	[ST_PRODUCT_LIST] = PRODUCT_SELECT "WHERE ?1 IS NULL OR d.name = ?1 ORDER BY d.name, p.name",
	[ST_PRODUCT_STATES] = "SELECT p.id, p.domain_id, "
		"(SELECT max(seq) FROM contracts WHERE product_id = p.id), "
		"(SELECT max(number) FROM versions WHERE product_id = p.id) "
		"FROM products p ORDER BY p.id",
	[ST_DOMAIN_COUNT] = "SELECT count(*) FROM domains",
	[ST_PRODUCT_NAMES] = "SELECT id, name FROM products WHERE domain_id = ?1 ORDER BY name",
	[ST_CONTRACT_MAXSEQ] = "SELECT max(seq) FROM contracts WHERE product_id = ?1",
	[ST_CONTRACT_INSERT] = "INSERT INTO contracts (product_id, seq, semver, description, "
		"status, frequency_seconds, created_at, created_by, yaml) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_CONTRACT_TABLE_INSERT] = "INSERT INTO contract_tables (contract_id, name) "
		"VALUES (?1, ?2)",
	[ST_INPUTS_DELETE] = "DELETE FROM contract_inputs WHERE product_id = ?1",
	[ST_INPUT_INSERT] = "INSERT INTO contract_inputs (product_id, domain, product) "
		"VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
	[ST_SEARCH_PUT] = "INSERT INTO product_search (product_id, text) VALUES (?1, ?2) "
		"ON CONFLICT (product_id) DO UPDATE SET text = excluded.text",
	[ST_CONTRACT_GET] = "SELECT yaml, seq FROM contracts WHERE product_id = ?1 AND seq = "
		"CASE WHEN ?2 = 0 THEN (SELECT max(seq) FROM contracts "
		"WHERE product_id = ?1) ELSE ?2 END",
	[ST_DOWNSTREAM] = "SELECT d.name, p.name FROM contract_inputs i "
		"JOIN products p ON p.id = i.product_id "
		"JOIN domains d ON d.id = p.domain_id "
		"WHERE i.domain = ?1 AND i.product = ?2 ORDER BY d.name, p.name",
	/* Rows are (product, distance) pairs, each at most once (UNION), and no distance exceeds
	 * the number of products: a cycle ends there instead of going round for ever. The
	 * shortest distance of each product is the one reported. */
	[ST_DOWNSTREAM_ALL] = "WITH RECURSIVE down (id, depth) AS ("
		"SELECT i.product_id, 1 FROM contract_inputs i "
		"WHERE i.domain = ?1 AND i.product = ?2 "
		"UNION "
		"SELECT i.product_id, down.depth + 1 FROM down "
		"JOIN products p ON p.id = down.id JOIN domains d ON d.id = p.domain_id "
		"JOIN contract_inputs i ON i.domain = d.name AND i.product = p.name "
		"WHERE down.depth < (SELECT count(*) FROM products)) "
		"SELECT d.name, p.name, min(down.depth) AS depth FROM down "
		"JOIN products p ON p.id = down.id JOIN domains d ON d.id = p.domain_id "
		"WHERE NOT (d.name = ?1 AND p.name = ?2) "
		"GROUP BY p.id ORDER BY depth, d.name, p.name",
	[ST_UPSTREAM] = "SELECT domain, product FROM contract_inputs WHERE product_id = ?1 "
		"ORDER BY domain, product",
	/* bm25 is lower for better matches; ties go by name so that the order is stable. */
	[ST_SEARCH] = PRODUCT_COLUMNS "FROM (SELECT rowid AS id, bm25(product_fts) AS score "
		"FROM product_fts WHERE product_fts MATCH ?1) s "
		"JOIN products p ON p.id = s.id " PRODUCT_JOINS
		"ORDER BY s.score, d.name, p.name",
	[ST_VERSION_MAX] = "SELECT coalesce(max(number), 0) FROM versions WHERE product_id = ?1",
	[ST_VERSION_INSERT] = "INSERT INTO versions (product_id, number, contract_seq, "
		"published_at, published_by, checks, warnings) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_VTABLE_INSERT] = "INSERT INTO version_tables (version_id, name, segment, rows, "
		"masked_size, plain_size, has_pii) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_VTABLE_CARRY] = "INSERT INTO version_tables (version_id, name, segment, rows, "
		"masked_size, plain_size, has_pii) "
		"SELECT ?1, o.name, o.segment, o.rows, o.masked_size, o.plain_size, "
		"o.has_pii FROM version_tables o JOIN versions v ON v.id = o.version_id "
		"WHERE v.product_id = ?2 AND v.number = ?3 AND o.name NOT IN "
		"(SELECT name FROM version_tables WHERE version_id = ?1) AND o.name IN "
		"(SELECT ct.name FROM contract_tables ct JOIN contracts c ON c.id = ct.contract_id "
		"JOIN versions nv ON nv.id = ?1 "
		"WHERE c.product_id = ?2 AND c.seq = nv.contract_seq)",
	[ST_VERSION_TOTALS] = "UPDATE versions SET "
		"rows = (SELECT coalesce(sum(rows), 0) FROM version_tables "
		"WHERE version_id = ?1), "
		"bytes = (SELECT coalesce(sum(masked_size), 0) FROM version_tables "
		"WHERE version_id = ?1) WHERE id = ?1",
	[ST_VERSION_GET] = VERSION_SELECT
		"WHERE product_id = ?1 AND number = CASE WHEN ?2 = 0 THEN "
		"(SELECT max(number) FROM versions WHERE product_id = ?1) ELSE ?2 END",
	[ST_VERSION_LIST] = VERSION_SELECT "WHERE product_id = ?1 ORDER BY number DESC LIMIT ?2",
	[ST_VTABLES] = "SELECT name, segment, rows, masked_size, plain_size, has_pii "
		"FROM version_tables WHERE version_id = ?1 ORDER BY name",
	[ST_SEGMENTS] = "SELECT DISTINCT segment FROM version_tables ORDER BY segment",
	[ST_GRANT_INSERT] = "INSERT INTO grants (privilege, scope, principal, granted_by, "
		"granted_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
	[ST_GRANT_DELETE] = "DELETE FROM grants WHERE privilege = ?1 AND scope = ?2 "
		"AND principal = ?3",
	[ST_GRANT_LIST] = "SELECT principal FROM grants WHERE privilege = ?1 AND scope = ?2 "
		"ORDER BY principal",
	[ST_GRANT_LIST_ALL] = "SELECT privilege, scope, principal FROM grants "
		"ORDER BY scope, privilege, principal",
	[ST_AUDIT_INSERT] = "INSERT INTO audit (at, principal, action, object, version, view, "
		"outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	/* Keyset pagination on (at, id): resumes after the last row of the previous batch. */
	[ST_AUDIT_LIST] = "SELECT id, at, principal, action, object, version, view, outcome, "
		"detail FROM audit WHERE (at, id) > (?1, ?2) "
		"AND (?3 IS NULL OR principal = ?3) ORDER BY at, id LIMIT ?4",
	/* the newest first: the caller takes the last `limit` and gives them oldest first */
	[ST_AUDIT_RECENT] = "SELECT id, at, principal, action, object, version, view, outcome, "
		"detail FROM audit WHERE principal = ?1 AND object >= ?2 AND object < ?3 "
		"AND action IN ('publish', 'reject') ORDER BY at DESC, id DESC LIMIT ?4",
	[ST_POLICY_INSERT] = "INSERT INTO policies (yaml, set_at, set_by) VALUES (?1, ?2, ?3)",
	[ST_POLICY_GET] = "SELECT yaml, seq FROM policies ORDER BY seq DESC LIMIT 1",
	/* Domain ids start at 1: a bound 0 stands for the mask key's NULL domain. */
	[ST_KEY_DEACTIVATE] = "UPDATE keys SET active = 0 "
		"WHERE kind = ?1 AND domain_id IS nullif(?2, 0) AND active",
	[ST_KEY_INSERT] = "INSERT INTO keys (kind, domain_id, wrapped, created_at, active) "
		"VALUES (?1, nullif(?2, 0), ?3, ?4, 1)",
	[ST_KEY_GET] = "SELECT wrapped FROM keys WHERE id = ?1",
	[ST_KEY_ACTIVE] = "SELECT id, wrapped FROM keys "
		"WHERE kind = ?1 AND domain_id IS nullif(?2, 0) AND active",
};
/* clang-format on */

struct catalog {
	sqlite3 *db;
	int depth; /* nesting of open transactions */
	sqlite3_stmt *stmt[ST_COUNT];
};

static const char *const privileges[] = {"read", "unmask", "publish", "admin"};
static const char *const outcomes[] = {"ok", "denied", "rejected", "error"};

static int sql_errno(int rc)
{
	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return -EEXIST;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return -ENOENT;
	case SQLITE_CONSTRAINT_CHECK:
	case SQLITE_CONSTRAINT_NOTNULL:
	case SQLITE_TOOBIG:
	case SQLITE_MISMATCH:
		return -EINVAL;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	}
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	}
	return -EIO;
}

/* The cached statement id with arguments bound: fmt has one letter per parameter, 't' a string
 * (NULL binds NULL), 'i' an int64_t, 'b' a pointer and a size_t. */
static int vquery(struct catalog *cat, enum stmt_id id, sqlite3_stmt **out, const char *fmt,
		  va_list ap)
{
	sqlite3_stmt *st;
	const void *blob;
	size_t len;
	int i, rc;

	assert(id < ST_COUNT);
	/* An error inside a transaction can make SQLite roll all of it back; what follows must not
	 * then run, and commit, on its own. */
	if (cat->depth > 0 && sqlite3_get_autocommit(cat->db))
		return -EIO;
	if (!cat->stmt[id]) {
		rc = sqlite3_prepare_v3(cat->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					&cat->stmt[id], NULL);
		if (rc != SQLITE_OK)
			return sql_errno(rc);
	}
	st = cat->stmt[id];
	assert(strlen(fmt) == (size_t)sqlite3_bind_parameter_count(st));
	rc = SQLITE_OK;
	for (i = 1; *fmt && rc == SQLITE_OK; fmt++, i++) {
		switch (*fmt) {
		case 't':
			rc = sqlite3_bind_text(st, i, va_arg(ap, const char *), -1, SQLITE_STATIC);
			break;
		case 'i':
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		case 'b':
			blob = va_arg(ap, const void *);
			len = va_arg(ap, size_t);
			rc = sqlite3_bind_blob64(st, i, blob, len, SQLITE_STATIC);
			break;
		default:
			assert(!"bad bind format");
		}
	}
	if (rc != SQLITE_OK) {
		sqlite3_clear_bindings(st);
		return sql_errno(rc);
	}
	*out = st;
	return 0;
}

static int query(struct catalog *cat, enum stmt_id id, sqlite3_stmt **out, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vquery(cat, id, out, fmt, ap);
	va_end(ap);
	return rc;
}

/* Releases the statement's read snapshot and its bindings: a statement left pending would keep
 * this connection from seeing other connections' commits. */
static void stmt_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* 1 for a row, 0 when done, or -errno. */
static int step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return sql_errno(rc);
}

/* Runs a statement that returns no rows. */
static int exec(struct catalog *cat, enum stmt_id id, const char *fmt, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vquery(cat, id, &st, fmt, ap);
	va_end(ap);
	if (rc)
		return rc;
	while ((rc = step(st)) == 1)
		;
	stmt_done(st);
	return rc;
}

/* The first column of the first row as an integer: 1 if there was a non-NULL value, 0 if not. */
static int query_int(struct catalog *cat, enum stmt_id id, int64_t *out, const char *fmt, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vquery(cat, id, &st, fmt, ap);
	va_end(ap);
	if (rc)
		return rc;
	rc = step(st);
	if (rc == 1) {
		if (sqlite3_column_type(st, 0) == SQLITE_NULL)
			rc = 0;
		else
			*out = sqlite3_column_int64(st, 0);
	}
	stmt_done(st);
	return rc;
}

static int tx_begin(struct catalog *cat)
{
	int rc = exec(cat, cat->depth ? ST_SAVEPOINT : ST_BEGIN, "");

	if (!rc)
		cat->depth++;
	return rc;
}

static void tx_rollback(struct catalog *cat)
{
	assert(cat->depth > 0);
	/* Errors are ignored: SQLite may have rolled back already, and nothing else can be done. */
	if (cat->depth == 1) {
		cat->depth = 0;
		exec(cat, ST_ROLLBACK, "");
	} else {
		if (!exec(cat, ST_ROLLBACK_TO, ""))
			exec(cat, ST_RELEASE, "");
		cat->depth--;
	}
}

static int tx_commit(struct catalog *cat)
{
	int rc;

	assert(cat->depth > 0);
	rc = exec(cat, cat->depth == 1 ? ST_COMMIT : ST_RELEASE, "");
	if (rc) {
		tx_rollback(cat);
		return rc;
	}
	cat->depth--;
	return 0;
}

/* Rows copied out of a statement, so that callbacks run with no statement pending. */
struct cell {
	int64_t i;
	char *s; /* text columns only */
};

struct rows {
	struct cell *cell;
	size_t ncols, n, cap;
};

static char empty_text[1];

static void rows_release(struct rows *r)
{
	size_t k;

	for (k = 0; k < r->n * r->ncols; k++)
		free(r->cell[k].s);
	free(r->cell);
	memset(r, 0, sizeof(*r));
}

static int rows_collect(sqlite3_stmt *st, struct rows *r)
{
	struct cell *row, *cell;
	const char *text;
	size_t j, cap;
	int rc, len;

	memset(r, 0, sizeof(*r));
	r->ncols = (size_t)sqlite3_column_count(st);
	assert(r->ncols > 0);
	while ((rc = step(st)) == 1) {
		if (r->n == r->cap) {
			cap = r->cap ? 2 * r->cap : 16;
			cell = reallocarray(r->cell, cap * r->ncols, sizeof(*cell));
			if (!cell) {
				rc = -ENOMEM;
				break;
			}
			r->cell = cell;
			r->cap = cap;
		}
		row = r->cell + r->n * r->ncols;
		memset(row, 0, r->ncols * sizeof(*row));
		r->n++;
		for (j = 0; j < r->ncols; j++) {
			switch (sqlite3_column_type(st, (int)j)) {
			case SQLITE_INTEGER:
				row[j].i = sqlite3_column_int64(st, (int)j);
				break;
			case SQLITE_TEXT:
				/* Text first, then its length, as the SQLite manual advises. */
				text = (const char *)sqlite3_column_text(st, (int)j);
				len = sqlite3_column_bytes(st, (int)j);
				row[j].s = text ? strndup(text, (size_t)len) : NULL;
				if (!row[j].s)
					rc = -ENOMEM;
				break;
			}
		}
		if (rc < 0)
			break;
	}
	stmt_done(st);
	if (rc < 0)
		rows_release(r);
	return rc;
}

/* Runs the cached statement id and collects all its rows. */
static int collect(struct catalog *cat, enum stmt_id id, struct rows *r, const char *fmt, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vquery(cat, id, &st, fmt, ap);
	va_end(ap);
	if (rc)
		return rc;
	return rows_collect(st, r);
}

static char *rows_text(const struct rows *r, size_t row, size_t col)
{
	char *s;

	assert(row < r->n && col < r->ncols);
	s = r->cell[row * r->ncols + col].s;
	return s ? s : empty_text;
}

static int64_t rows_int(const struct rows *r, size_t row, size_t col)
{
	assert(row < r->n && col < r->ncols);
	return r->cell[row * r->ncols + col].i;
}

/* Copies a name read back from the catalog, whose schema bounds its length. */
static void name_copy(char dst[MESH_NAME_MAX], const char *src)
{
	size_t n = strlen(src);

	assert(n < MESH_NAME_MAX);
	memcpy(dst, src, n + 1);
}

/* mesh_name_valid(), with NULL for invalid. */
static int name_valid(const char *s)
{
	return s && mesh_name_valid(s);
}

/* A Unix user or group name as the system gives it (or a decimal uid): printable, without
 * spaces (team members are listed space-separated) or colons (principals are "kind:NAME"). */
static int user_name_valid(const char *s)
{
	size_t n;

	if (!s)
		return 0;
	n = strlen(s);
	if (n == 0 || n >= MESH_NAME_MAX)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == ':')
			return 0;
	return 1;
}

static int one_of(const char *s, const char *const *set, size_t n)
{
	size_t i;

	if (!s)
		return 0;
	for (i = 0; i < n; i++)
		if (!strcmp(s, set[i]))
			return 1;
	return 0;
}

#define ONE_OF(s, set) one_of(s, set, sizeof(set) / sizeof(set[0]))

static int principal_valid(const char *s)
{
	if (!s)
		return 0;
	if (!strcmp(s, "everyone"))
		return 1;
	if (!strncmp(s, "user:", 5))
		return user_name_valid(s + 5);
	if (!strncmp(s, "group:", 6))
		return user_name_valid(s + 6);
	if (!strncmp(s, "team:", 5))
		return name_valid(s + 5);
	return 0;
}

/* Splits "DOMAIN/PRODUCT" into two valid names. */
static int split_pair(const char *s, char domain[MESH_NAME_MAX], char product[MESH_NAME_MAX])
{
	const char *slash;
	size_t n;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash)
		return -EINVAL;
	n = (size_t)(slash - s);
	if (n >= MESH_NAME_MAX || strlen(slash + 1) >= MESH_NAME_MAX)
		return -EINVAL;
	memcpy(domain, s, n);
	domain[n] = '\0';
	strcpy(product, slash + 1);
	if (!name_valid(domain) || !name_valid(product))
		return -EINVAL;
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
		rc = split_pair(scope, domain, product);
		if (rc || !must_exist)
			return rc;
		rc = query_int(cat, ST_PRODUCT_ID, &id, "tt", domain, product);
	} else {
		if (!name_valid(scope))
			return -EINVAL;
		if (!must_exist)
			return 0;
		rc = query_int(cat, ST_DOMAIN_ID, &id, "t", scope);
	}
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

static int meta_valid(const struct catalog_contract_meta *m)
{
	char domain[MESH_NAME_MAX], product[MESH_NAME_MAX];
	size_t i, j;

	if (!m || !m->yaml || !m->semver || !m->semver[0] || m->frequency_seconds < 0)
		return 0;
	if ((m->ntables && !m->tables) || (m->ninputs && !m->inputs))
		return 0;
	for (i = 0; i < m->ntables; i++) {
		if (!name_valid(m->tables[i]))
			return 0;
		for (j = 0; j < i; j++)
			if (!strcmp(m->tables[i], m->tables[j]))
				return 0;
	}
	for (i = 0; i < m->ninputs; i++)
		if (split_pair(m->inputs[i], domain, product))
			return 0;
	return 1;
}

static int run_script(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	const char *tail;
	int rc;

	while (*sql) {
		rc = sqlite3_prepare_v2(db, sql, -1, &st, &tail);
		if (rc != SQLITE_OK)
			return rc;
		sql = tail;
		if (!st) /* whitespace at the end */
			continue;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			;
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return rc;
	}
	return SQLITE_OK;
}

/* Runs a pragma and copies its first result (if any) into out. */
static int pragma(sqlite3 *db, const char *sql, char *out, size_t size)
{
	sqlite3_stmt *st;
	const unsigned char *text;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && out) {
		text = sqlite3_column_text(st, 0);
		snprintf(out, size, "%s", text ? (const char *)text : "");
	}
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(st);
	return rc;
}

static int db_error(struct catalog *cat, int rc, const char *path, struct mfs_error *err)
{
	return mfs_error_set(err, -sql_errno(rc), "%s: %s", path,
			     cat->db ? sqlite3_errmsg(cat->db) : sqlite3_errstr(rc));
}

static int schema_version(struct catalog *cat, int64_t *v)
{
	char buf[32];
	int rc;

	rc = pragma(cat->db, "PRAGMA user_version", buf, sizeof(buf));
	if (rc == SQLITE_OK)
		*v = strtoll(buf, NULL, 10);
	return rc;
}

/* Brings the schema up to SCHEMA_VERSION, one step per transaction. The version is read again
 * under the write lock, since another process may be migrating the same file. */
static int migrate(struct catalog *cat, int readonly, const char *path, struct mfs_error *err)
{
	int64_t v;
	int rc;

	for (;;) {
		rc = schema_version(cat, &v);
		if (rc != SQLITE_OK)
			return db_error(cat, rc, path, err);
		if (v > SCHEMA_VERSION)
			return mfs_error_set(err, ENOTSUP,
					     "%s: schema version %" PRId64
					     " is newer than this meshfs knows (%" PRId64
					     "); use a newer meshfs",
					     path, v, SCHEMA_VERSION);
		if (v == SCHEMA_VERSION)
			return 0;
		if (readonly)
			return mfs_error_set(err, EROFS,
					     "%s: schema version %" PRId64
					     " must be upgraded, which a read-only open cannot do",
					     path, v);
		rc = run_script(cat->db, "BEGIN IMMEDIATE");
		if (rc != SQLITE_OK)
			return db_error(cat, rc, path, err);
		rc = schema_version(cat, &v);
		if (rc == SQLITE_OK && v >= 0 && v < SCHEMA_VERSION)
			rc = run_script(cat->db, migrations[v]);
		if (rc == SQLITE_OK)
			rc = run_script(cat->db, "COMMIT");
		if (rc != SQLITE_OK) {
			rc = db_error(cat, rc, path, err);
			run_script(cat->db, "ROLLBACK");
			return mfs_error_set(err, -rc,
					     "%s: migration to schema version %" PRId64 " failed",
					     path, v + 1);
		}
	}
}

static int configure(struct catalog *cat, int readonly, const char *path, struct mfs_error *err)
{
	char mode[16];
	int rc;

	rc = sqlite3_extended_result_codes(cat->db, 1);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(cat->db, CATALOG_BUSY_MS);
	if (rc == SQLITE_OK)
		rc = pragma(cat->db, "PRAGMA foreign_keys = ON", NULL, 0);
	if (rc != SQLITE_OK || readonly)
		goto out;
	rc = pragma(cat->db, "PRAGMA journal_mode = WAL", mode, sizeof(mode));
	if (rc == SQLITE_OK && strcmp(mode, "wal"))
		return mfs_error_set(
		    err, EIO, "%s: cannot use write-ahead logging (journal mode %s)", path, mode);
	/* FULL: a publish that was reported done survives a power failure too, not only the
	 * previous version (which NORMAL would already keep intact). */
	if (rc == SQLITE_OK)
		rc = pragma(cat->db, "PRAGMA synchronous = FULL", NULL, 0);
out:
	return rc == SQLITE_OK ? 0 : db_error(cat, rc, path, err);
}

int catalog_open(struct catalog **out, const char *mesh_dir, int flags, struct mfs_error *err)
{
	struct catalog *cat = NULL;
	struct strbuf path;
	struct stat sb;
	int readonly = flags & CATALOG_READONLY;
	int created = 0;
	int fd, rc;

	*out = NULL;
	strbuf_init(&path);
	if ((flags & ~(CATALOG_CREATE | CATALOG_READONLY)) ||
	    flags == (CATALOG_CREATE | CATALOG_READONLY))
		return mfs_error_set(err, EINVAL, "catalog: invalid open flags %d", flags);
	rc = strbuf_addf(&path, "%s/catalog.db", mesh_dir);
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
	cat = calloc(1, sizeof(*cat));
	if (!cat) {
		rc = -ENOMEM;
		goto out;
	}
	rc = sqlite3_open_v2(
	    path.buf, &cat->db,
	    (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = db_error(cat, rc, path.buf, err);
		goto out;
	}
	rc = configure(cat, readonly, path.buf, err);
	if (!rc)
		rc = migrate(cat, readonly, path.buf, err);
out:
	if (rc) {
		catalog_close(cat);
		if (created)
			unlink(path.buf);
	} else {
		*out = cat;
	}
	strbuf_release(&path);
	return rc;
}

void catalog_close(struct catalog *cat)
{
	size_t i;
	int rc;

	if (!cat)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(cat->stmt[i]);
	/* Every statement is finalized, so the close cannot be refused; an open transaction is
	 * rolled back. */
	rc = sqlite3_close(cat->db);
	assert(rc == SQLITE_OK);
	(void)rc;
	free(cat);
}

int catalog_data_version(struct catalog *cat, int64_t *out)
{
	int rc = query_int(cat, ST_DATA_VERSION, out, "");

	if (rc < 0)
		return rc;
	return rc ? 0 : -EIO;
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
	sqlite3_stmt *st;
	int rc;

	*n = 0;
	rc = query(cat, ST_PRODUCT_STATES, &st, "");
	if (rc)
		return rc;
	while ((rc = step(st)) == 1) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 256;
			grown = realloc(a, cap * sizeof(*a));
			if (!grown) {
				rc = -ENOMEM;
				break;
			}
			a = grown;
		}
		a[*n].id = sqlite3_column_int64(st, 0);
		a[*n].domain_id = sqlite3_column_int64(st, 1);
		a[*n].contract_seq = sqlite3_column_int64(st, 2);
		a[*n].latest = sqlite3_column_int64(st, 3);
		assert(!*n || a[*n].id > a[*n - 1].id);
		(*n)++;
	}
	stmt_done(st);
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
	rc = query_int(cat, ST_DOMAIN_COUNT, &ndomains, "");
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
	int64_t others;
	int rc = catalog_data_version(cat, &others);

	if (!rc)
		*out = (uint64_t)others << 32 ^ (uint64_t)sqlite3_total_changes64(cat->db);
	return rc;
}

int catalog_begin(struct catalog *cat)
{
	return tx_begin(cat);
}

int catalog_commit(struct catalog *cat)
{
	return tx_commit(cat);
}

void catalog_rollback(struct catalog *cat)
{
	if (cat->depth > 0)
		tx_rollback(cat);
}

int catalog_integrity_check(struct catalog *cat, struct mfs_error *err)
{
	struct rows r;
	int rc;

	rc = collect(cat, ST_INTEGRITY, &r, "");
	if (rc)
		return mfs_error_set(err, -rc, "catalog: integrity check failed to run");
	if (r.n != 1 || !r.cell[0].s || strcmp(r.cell[0].s, "ok"))
		rc = mfs_error_set(err, EIO, "catalog: %s",
				   r.n ? rows_text(&r, 0, 0) : "integrity check gave no result");
	rows_release(&r);
	if (rc)
		return rc;
	rc = collect(cat, ST_FK_CHECK, &r, "");
	if (rc)
		return mfs_error_set(err, -rc, "catalog: foreign key check failed to run");
	/* Rows of foreign_key_check: table, rowid, parent table, constraint index. */
	if (r.n)
		rc = mfs_error_set(err, EIO,
				   "catalog: row %" PRId64 " of %s refers to a missing row of %s",
				   rows_int(&r, 0, 1), rows_text(&r, 0, 0), rows_text(&r, 0, 2));
	rows_release(&r);
	return rc;
}

/* ---- teams ---- */

int catalog_team_create(struct catalog *cat, const char *team)
{
	if (!name_valid(team))
		return -EINVAL;
	return exec(cat, ST_TEAM_INSERT, "t", team);
}

static int team_id(struct catalog *cat, const char *team, int64_t *id)
{
	int rc;

	if (!name_valid(team))
		return -EINVAL;
	rc = query_int(cat, ST_TEAM_ID, id, "t", team);
	if (rc < 0)
		return rc;
	return rc ? 0 : -ENOENT;
}

int catalog_team_add(struct catalog *cat, const char *team, const char *user)
{
	int64_t id;
	int rc;

	if (!user_name_valid(user))
		return -EINVAL;
	rc = team_id(cat, team, &id);
	if (rc)
		return rc;
	return exec(cat, ST_MEMBER_INSERT, "it", id, user);
}

int catalog_team_remove(struct catalog *cat, const char *team, const char *user)
{
	int64_t id;
	int rc;

	if (!user_name_valid(user))
		return -EINVAL;
	rc = team_id(cat, team, &id);
	if (rc)
		return rc;
	return exec(cat, ST_MEMBER_DELETE, "it", id, user);
}

int catalog_team_has_member(struct catalog *cat, const char *team, const char *user)
{
	int64_t one;

	if (!name_valid(team) || !user_name_valid(user))
		return 0;
	return query_int(cat, ST_MEMBER_HAS, &one, "tt", team, user);
}

int catalog_team_list(struct catalog *cat,
		      int (*cb)(const char *team, const char *members, void *ctx), void *ctx)
{
	struct strbuf members;
	struct rows r;
	size_t i;
	int rc;

	strbuf_init(&members);
	rc = collect(cat, ST_TEAM_LIST, &r, "");
	if (rc)
		return rc;
	/* One row per member, teams without members once with a NULL member. */
	for (i = 0; i < r.n && !rc; i++) {
		if (r.cell[i * r.ncols + 1].s) {
			if (members.len)
				rc = strbuf_addch(&members, ' ');
			if (!rc)
				rc = strbuf_addstr(&members, rows_text(&r, i, 1));
			if (rc)
				break;
		}
		if (i + 1 < r.n && !strcmp(rows_text(&r, i, 0), rows_text(&r, i + 1, 0)))
			continue;
		rc = cb(rows_text(&r, i, 0), members.buf, ctx);
		strbuf_reset(&members);
	}
	strbuf_release(&members);
	rows_release(&r);
	return rc;
}

int catalog_user_teams(struct catalog *cat, const char *user,
		       int (*cb)(const char *team, void *ctx), void *ctx)
{
	struct rows r;
	size_t i;
	int rc;

	if (!user_name_valid(user))
		return -EINVAL;
	rc = collect(cat, ST_USER_TEAMS, &r, "t", user);
	if (rc)
		return rc;
	for (i = 0; !rc && i < r.n; i++)
		rc = cb(rows_text(&r, i, 0), ctx);
	rows_release(&r);
	return rc;
}

/* ---- domains ---- */

void catalog_domain_release(struct catalog_domain *d)
{
	free(d->description);
	d->description = NULL;
}

int catalog_domain_create(struct catalog *cat, const char *name, const char *owner,
			  const char *description, int64_t now)
{
	int rc;

	/* "mesh" names the whole mesh as a grant scope. */
	if (!name_valid(name) || !strcmp(name, "mesh") || !name_valid(owner))
		return -EINVAL;
	rc = exec(cat, ST_DOMAIN_INSERT, "ttti", name, owner, description ? description : "", now);
	if (rc)
		return rc;
	return sqlite3_changes(cat->db) ? 0 : -ENOENT;
}

/* Fills d from row i of r; its strings stay in r. */
static void domain_from_row(struct catalog_domain *d, const struct rows *r, size_t i)
{
	d->id = rows_int(r, i, 0);
	name_copy(d->name, rows_text(r, i, 1));
	name_copy(d->owner, rows_text(r, i, 2));
	d->description = rows_text(r, i, 3);
	d->created_at = rows_int(r, i, 4);
}

/* Fills out with a copy of the only row of r, if any, and releases r. */
static int domain_take(struct rows *r, struct catalog_domain *out)
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
	rows_release(r);
	return rc;
}

int catalog_domain_get(struct catalog *cat, const char *name, struct catalog_domain *out)
{
	struct rows r;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!name_valid(name))
		return -EINVAL;
	rc = collect(cat, ST_DOMAIN_GET, &r, "t", name);
	if (rc)
		return rc;
	return domain_take(&r, out);
}

int catalog_domain_get_by_id(struct catalog *cat, int64_t id, struct catalog_domain *out)
{
	struct rows r;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = collect(cat, ST_DOMAIN_GET_BY_ID, &r, "i", id);
	if (rc)
		return rc;
	return domain_take(&r, out);
}

int catalog_domain_list(struct catalog *cat, int (*cb)(const struct catalog_domain *d, void *ctx),
			void *ctx)
{
	struct catalog_domain d;
	struct rows r;
	size_t i;
	int rc;

	rc = collect(cat, ST_DOMAIN_LIST, &r, "");
	if (rc)
		return rc;
	for (i = 0; !rc && i < r.n; i++) {
		domain_from_row(&d, &r, i);
		rc = cb(&d, ctx);
	}
	rows_release(&r);
	return rc;
}

/* ---- products and contracts ---- */

int catalog_product_names(struct catalog *cat, int64_t domain_id,
			  int (*cb)(int64_t id, const char *name, void *ctx), void *ctx)
{
	struct rows r;
	int rc;

	rc = collect(cat, ST_PRODUCT_NAMES, &r, "i", domain_id);
	if (rc)
		return rc;
	for (size_t i = 0; !rc && i < r.n; i++)
		rc = cb(rows_int(&r, i, 0), rows_text(&r, i, 1), ctx);
	rows_release(&r);
	return rc;
}

void catalog_product_release(struct catalog_product *p)
{
	free(p->description);
	free(p->status);
	p->description = NULL;
	p->status = NULL;
}

static void product_from_row(struct catalog_product *p, const struct rows *r, size_t i)
{
	p->id = rows_int(r, i, 0);
	name_copy(p->domain, rows_text(r, i, 1));
	name_copy(p->name, rows_text(r, i, 2));
	name_copy(p->owner, rows_text(r, i, 3));
	p->description = rows_text(r, i, 4);
	p->status = rows_text(r, i, 5);
	p->contract_seq = rows_int(r, i, 6);
	p->latest = rows_int(r, i, 7); /* NULL, so 0, when never published */
	p->created_at = rows_int(r, i, 8);
	p->updated_at = p->latest ? rows_int(r, i, 9) : p->created_at;
	p->frequency_seconds = rows_int(r, i, 10);
}

/* Records contract seq of a product from m, and makes its lineage and search text current. */
static int contract_insert(struct catalog *cat, int64_t product_id, int64_t seq,
			   const struct catalog_contract_meta *m, const char *by, int64_t now)
{
	char domain[MESH_NAME_MAX], product[MESH_NAME_MAX];
	int64_t contract_id;
	size_t i;
	int rc;

	rc = exec(cat, ST_CONTRACT_INSERT, "iitttiitt", product_id, seq, m->semver,
		  m->description ? m->description : "", m->status ? m->status : "",
		  m->frequency_seconds, now, by, m->yaml);
	if (rc)
		return rc;
	contract_id = sqlite3_last_insert_rowid(cat->db);
	for (i = 0; i < m->ntables && !rc; i++)
		rc = exec(cat, ST_CONTRACT_TABLE_INSERT, "it", contract_id, m->tables[i]);
	if (!rc)
		rc = exec(cat, ST_INPUTS_DELETE, "i", product_id);
	for (i = 0; i < m->ninputs && !rc; i++) {
		rc = split_pair(m->inputs[i], domain, product);
		assert(!rc); /* checked by meta_valid */
		rc = exec(cat, ST_INPUT_INSERT, "itt", product_id, domain, product);
	}
	if (!rc)
		rc = exec(cat, ST_SEARCH_PUT, "it", product_id,
			  m->search_text ? m->search_text : "");
	return rc;
}

int catalog_product_create(struct catalog *cat, const char *domain, const char *name,
			   const struct catalog_contract_meta *m, const char *by, int64_t now)
{
	int64_t domain_id, product_id;
	int rc;

	if (!name_valid(domain) || !name_valid(name) || !meta_valid(m) || !user_name_valid(by))
		return -EINVAL;
	rc = tx_begin(cat);
	if (rc)
		return rc;
	rc = query_int(cat, ST_DOMAIN_ID, &domain_id, "t", domain);
	if (rc <= 0) {
		rc = rc ? rc : -ENOENT;
		goto out;
	}
	rc = exec(cat, ST_PRODUCT_INSERT, "iti", domain_id, name, now);
	if (rc)
		goto out;
	product_id = sqlite3_last_insert_rowid(cat->db);
	rc = contract_insert(cat, product_id, 1, m, by, now);
out:
	if (rc)
		tx_rollback(cat);
	else
		rc = tx_commit(cat);
	return rc;
}

/* Fills out with a copy of the only row of r, if any, and releases r. */
static int product_take(struct rows *r, struct catalog_product *out)
{
	int rc = 0;

	if (!r->n) {
		rc = -ENOENT;
		goto out;
	}
	product_from_row(out, r, 0);
	out->description = strdup(out->description);
	out->status = strdup(out->status);
	if (!out->description || !out->status) {
		catalog_product_release(out);
		rc = -ENOMEM;
	}
out:
	rows_release(r);
	return rc;
}

int catalog_product_get(struct catalog *cat, const char *domain, const char *name,
			struct catalog_product *out)
{
	struct rows r;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!name_valid(domain) || !name_valid(name))
		return -EINVAL;
	rc = collect(cat, ST_PRODUCT_GET, &r, "tt", domain, name);
	if (rc)
		return rc;
	return product_take(&r, out);
}

int catalog_product_get_by_id(struct catalog *cat, int64_t id, struct catalog_product *out)
{
	struct rows r;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = collect(cat, ST_PRODUCT_GET_BY_ID, &r, "i", id);
	if (rc)
		return rc;
	return product_take(&r, out);
}

int catalog_product_list(struct catalog *cat, const char *domain,
			 int (*cb)(const struct catalog_product *p, void *ctx), void *ctx)
{
	struct catalog_product p;
	struct rows r;
	int64_t id;
	size_t i;
	int rc;

	if (domain) {
		if (!name_valid(domain))
			return -EINVAL;
		rc = query_int(cat, ST_DOMAIN_ID, &id, "t", domain);
		if (rc <= 0)
			return rc ? rc : -ENOENT;
	}
	rc = collect(cat, ST_PRODUCT_LIST, &r, "t", domain);
	if (rc)
		return rc;
	for (i = 0; !rc && i < r.n; i++) {
		product_from_row(&p, &r, i);
		rc = cb(&p, ctx);
	}
	rows_release(&r);
	return rc;
}

int catalog_contract_add(struct catalog *cat, int64_t product_id,
			 const struct catalog_contract_meta *m, const char *by, int64_t now,
			 int64_t *seq)
{
	int64_t prev;
	int rc;

	if (!meta_valid(m) || !user_name_valid(by))
		return -EINVAL;
	rc = tx_begin(cat);
	if (rc)
		return rc;
	rc = query_int(cat, ST_CONTRACT_MAXSEQ, &prev, "i", product_id);
	if (rc <= 0) {
		rc = rc ? rc : -ENOENT;
		goto out;
	}
	rc = contract_insert(cat, product_id, prev + 1, m, by, now);
out:
	if (rc)
		tx_rollback(cat);
	else
		rc = tx_commit(cat);
	if (!rc && seq)
		*seq = prev + 1;
	return rc;
}

int catalog_contract_get(struct catalog *cat, int64_t product_id, int64_t seq, char **yaml,
			 int64_t *seq_out)
{
	struct rows r;
	int rc;

	*yaml = NULL;
	if (seq < 0)
		return -EINVAL;
	rc = collect(cat, ST_CONTRACT_GET, &r, "ii", product_id, seq);
	if (rc)
		return rc;
	if (!r.n) {
		rc = -ENOENT;
		goto out;
	}
	*yaml = strdup(rows_text(&r, 0, 0));
	if (!*yaml) {
		rc = -ENOMEM;
		goto out;
	}
	if (seq_out)
		*seq_out = rows_int(&r, 0, 1);
out:
	rows_release(&r);
	return rc;
}

/* Calls cb with each (domain, product) pair of r. */
static int pairs_call(const struct rows *r,
		      int (*cb)(const char *domain, const char *product, void *ctx), void *ctx)
{
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < r->n; i++)
		rc = cb(rows_text(r, i, 0), rows_text(r, i, 1), ctx);
	return rc;
}

int catalog_downstream(struct catalog *cat, const char *domain, const char *product,
		       int (*cb)(const char *domain, const char *product, void *ctx), void *ctx)
{
	struct rows r;
	int rc;

	if (!name_valid(domain) || !name_valid(product))
		return -EINVAL;
	rc = collect(cat, ST_DOWNSTREAM, &r, "tt", domain, product);
	if (rc)
		return rc;
	rc = pairs_call(&r, cb, ctx);
	rows_release(&r);
	return rc;
}

static int product_exists(struct catalog *cat, int64_t product_id)
{
	int64_t one;
	int rc = query_int(cat, ST_PRODUCT_EXISTS, &one, "i", product_id);

	if (rc < 0)
		return rc;
	return rc ? 0 : -ENOENT;
}

int catalog_upstream(struct catalog *cat, int64_t product_id,
		     int (*cb)(const char *domain, const char *product, void *ctx), void *ctx)
{
	struct rows r;
	int rc;

	rc = product_exists(cat, product_id);
	if (rc)
		return rc;
	rc = collect(cat, ST_UPSTREAM, &r, "i", product_id);
	if (rc)
		return rc;
	rc = pairs_call(&r, cb, ctx);
	rows_release(&r);
	return rc;
}

int catalog_downstream_all(struct catalog *cat, const char *domain, const char *product,
			   int (*cb)(const char *domain, const char *product, int depth, void *ctx),
			   void *ctx)
{
	struct rows r;
	size_t i;
	int rc;

	if (!name_valid(domain) || !name_valid(product))
		return -EINVAL;
	rc = collect(cat, ST_DOWNSTREAM_ALL, &r, "tt", domain, product);
	if (rc)
		return rc;
	for (i = 0; !rc && i < r.n; i++)
		rc = cb(rows_text(&r, i, 0), rows_text(&r, i, 1), (int)rows_int(&r, i, 2), ctx);
	rows_release(&r);
	return rc;
}

/* Whether a term of the user's text holds a character the index's tokenizer (unicode61) keeps:
 * a term of punctuation alone would be an empty phrase. Bytes of multi-byte UTF-8 sequences
 * count, as most of what they encode are letters. */
static int fts_term_has_token(const char *term, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (isalnum((unsigned char)term[i]) || (unsigned char)term[i] >= 0x80)
			return 1;
	return 0;
}

/*
 * Turns what a user typed into an FTS5 query that cannot be a syntax error: each
 * whitespace-separated term becomes a quoted phrase (quotes doubled inside), so that AND, NEAR,
 * column filters and stray quotes are plain words; the last term matches as a prefix, as the
 * user may still be typing it. Terms are ANDed. Returns the number of terms (0: nothing to look
 * for) or -ENOMEM.
 */
static int fts_query(const char *text, struct strbuf *q)
{
	static const char space[] = " \t\n\r\f\v";
	const char *term, *c;
	size_t len;
	int n = 0, rc = 0;

	term = text;
	while (!rc && *(term += strspn(term, space))) {
		len = strcspn(term, space);
		if (fts_term_has_token(term, len)) {
			if (n++)
				rc = strbuf_addch(q, ' ');
			if (!rc)
				rc = strbuf_addch(q, '"');
			for (c = term; !rc && c < term + len; c++)
				rc = *c == '"' ? strbuf_addstr(q, "\"\"") : strbuf_addch(q, *c);
			if (!rc)
				rc = strbuf_addch(q, '"');
		}
		term += len;
	}
	if (!rc && n)
		rc = strbuf_addch(q, '*');
	return rc ? rc : n;
}

/* Whether name has a part (between '_' and '-') equal to the len bytes of word, or starting with
 * them when prefix is set. */
static int name_has_word(const char *name, const char *word, size_t len, int prefix)
{
	size_t n;

	for (; *name; name += n + !!name[n]) {
		n = strcspn(name, "_-");
		if ((n == len || (prefix && n > len)) && !strncmp(name, word, len))
			return 1;
	}
	return 0;
}

/*
 * How well a product's own names match the words of text: 2 for each word that is a part of
 * the product's name, 1 for each that is a part of its domain's. bm25 alone ranks a product that
 * mentions a word often above the product named by it; an analyst typing "orders" wants
 * orders/orders first. Words are cut as the index cuts them, at anything but letters and digits;
 * the last is a prefix, as in the query.
 */
static int name_bonus(const char *domain, const char *product, const char *text)
{
	char word[MESH_NAME_MAX];
	const char *w, *last = NULL;
	size_t len;
	int bonus = 0;

	for (w = text; *w; w++)
		if (isalnum((unsigned char)*w) && (w == text || !isalnum((unsigned char)w[-1])))
			last = w;
	for (w = text; *w; w += len) {
		for (len = 0; isalnum((unsigned char)w[len]); len++)
			if (len < sizeof(word))
				word[len] = (char)tolower((unsigned char)w[len]);
		if (!len) {
			len = 1;
			continue;
		}
		/* names are shorter: a longer word cannot be one */
		if (len >= sizeof(word))
			continue;
		if (name_has_word(product, word, len, w == last))
			bonus += 2;
		if (name_has_word(domain, word, len, w == last))
			bonus += 1;
	}
	return bonus;
}

struct search_hit {
	size_t row; /* rows come by bm25 */
	int bonus;
};

static int search_hit_cmp(const void *a, const void *b)
{
	const struct search_hit *x = a, *y = b;

	if (x->bonus != y->bonus)
		return x->bonus > y->bonus ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

int catalog_search(struct catalog *cat, const char *text, size_t limit,
		   int (*cb)(const struct catalog_product *p, void *ctx), void *ctx)
{
	struct catalog_product p;
	struct search_hit *hits = NULL;
	struct rows r = {0};
	struct strbuf q;
	size_t i;
	int rc;

	if (!text)
		return -EINVAL;
	strbuf_init(&q);
	rc = fts_query(text, &q);
	if (rc <= 0)
		goto out;
	rc = collect(cat, ST_SEARCH, &r, "t", q.buf);
	if (rc)
		goto out;
	hits = calloc(r.n ? r.n : 1, sizeof(*hits));
	if (!hits) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < r.n; i++) {
		hits[i].row = i;
		hits[i].bonus = name_bonus(rows_text(&r, i, 1), rows_text(&r, i, 2), text);
	}
	qsort(hits, r.n, sizeof(*hits), search_hit_cmp);
	for (i = 0; !rc && i < r.n && (!limit || i < limit); i++) {
		product_from_row(&p, &r, hits[i].row);
		rc = cb(&p, ctx);
	}
out:
	free(hits);
	rows_release(&r);
	strbuf_release(&q);
	return rc;
}

/* ---- versions ---- */

void catalog_version_release(struct catalog_version *v)
{
	free(v->checks);
	free(v->tables);
	v->checks = NULL;
	v->tables = NULL;
	v->ntables = 0;
}

/* Fills v from row i of VERSION_SELECT results, tables aside; v->checks is a copy. */
static int version_from_row(struct catalog_version *v, const struct rows *r, size_t i)
{
	memset(v, 0, sizeof(*v));
	v->number = rows_int(r, i, 1);
	v->published_at = rows_int(r, i, 2);
	name_copy(v->published_by, rows_text(r, i, 3));
	v->contract_seq = rows_int(r, i, 4);
	v->rows = (uint64_t)rows_int(r, i, 5);
	v->bytes = (uint64_t)rows_int(r, i, 6);
	v->warnings = (uint64_t)rows_int(r, i, 8);
	v->checks = strdup(rows_text(r, i, 7));
	return v->checks ? 0 : -ENOMEM;
}

static int version_load_tables(struct catalog *cat, int64_t version_id, struct catalog_version *v)
{
	struct catalog_table_version *t;
	struct rows r;
	size_t i;
	int rc;

	rc = collect(cat, ST_VTABLES, &r, "i", version_id);
	if (rc)
		return rc;
	if (r.n) {
		v->tables = calloc(r.n, sizeof(*v->tables));
		if (!v->tables) {
			rc = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < r.n; i++) {
		t = &v->tables[i];
		name_copy(t->name, rows_text(&r, i, 0));
		assert(strlen(rows_text(&r, i, 1)) == STORE_ID_HEX);
		memcpy(t->segment, rows_text(&r, i, 1), STORE_ID_HEX + 1);
		t->rows = (uint64_t)rows_int(&r, i, 2);
		t->masked_size = (uint64_t)rows_int(&r, i, 3);
		t->plain_size = (uint64_t)rows_int(&r, i, 4);
		t->has_pii = (int)rows_int(&r, i, 5);
	}
	v->ntables = r.n;
out:
	rows_release(&r);
	return rc;
}

int catalog_version_get(struct catalog *cat, int64_t product_id, int64_t number,
			struct catalog_version *out)
{
	struct rows r;
	int rc;

	memset(out, 0, sizeof(*out));
	if (number < 0)
		return -EINVAL;
	rc = collect(cat, ST_VERSION_GET, &r, "ii", product_id, number);
	if (rc)
		return rc;
	if (!r.n) {
		rc = -ENOENT;
		goto out;
	}
	rc = version_from_row(out, &r, 0);
	if (!rc)
		rc = version_load_tables(cat, rows_int(&r, 0, 0), out);
	if (rc)
		catalog_version_release(out);
out:
	rows_release(&r);
	return rc;
}

int catalog_version_list(struct catalog *cat, int64_t product_id, size_t limit,
			 int (*cb)(const struct catalog_version *v, void *ctx), void *ctx)
{
	struct catalog_version *v = NULL;
	struct rows r;
	size_t i, n = 0;
	int rc;

	rc = product_exists(cat, product_id);
	if (rc)
		return rc;
	rc = collect(cat, ST_VERSION_LIST, &r, "ii", product_id,
		     limit && limit <= INT64_MAX ? (int64_t)limit : (int64_t)-1);
	if (rc)
		return rc;
	if (r.n) {
		v = calloc(r.n, sizeof(*v));
		if (!v) {
			rc = -ENOMEM;
			goto out;
		}
	}
	for (n = 0; n < r.n && !rc; n++) {
		rc = version_from_row(&v[n], &r, n);
		if (!rc)
			rc = version_load_tables(cat, rows_int(&r, n, 0), &v[n]);
	}
	for (i = 0; i < n && !rc; i++)
		rc = cb(&v[i], ctx);
out:
	for (i = 0; i < n; i++)
		catalog_version_release(&v[i]);
	free(v);
	rows_release(&r);
	return rc;
}

static int tables_valid(const struct catalog_table_version *tables, size_t ntables)
{
	size_t i, j;

	if (ntables && !tables)
		return 0;
	for (i = 0; i < ntables; i++) {
		if (!memchr(tables[i].name, '\0', sizeof(tables[i].name)) ||
		    !name_valid(tables[i].name) || !segment_valid(tables[i].segment))
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

	if (!tables_valid(tables, ntables) || !user_name_valid(by))
		return -EINVAL;
	/* BEGIN IMMEDIATE takes the write lock before reading the latest number, so that two
	 * processes publishing at once get consecutive numbers. */
	rc = tx_begin(cat);
	if (rc)
		return rc;
	rc = query_int(cat, ST_CONTRACT_MAXSEQ, &seq, "i", product_id);
	if (rc <= 0) {
		rc = rc ? rc : -ENOENT;
		goto out;
	}
	rc = query_int(cat, ST_VERSION_MAX, &prev, "i", product_id);
	if (rc < 0)
		goto out;
	assert(rc == 1);
	/* Without tables, a version is only a new contract over the previous version's tables. */
	if (!ntables && !prev) {
		rc = -EINVAL;
		goto out;
	}
	rc = exec(cat, ST_VERSION_INSERT, "iiiitti", product_id, prev + 1, seq, now, by,
		  checks ? checks : "", (int64_t)warnings);
	if (rc)
		goto out;
	version_id = sqlite3_last_insert_rowid(cat->db);
	for (i = 0; i < ntables && !rc; i++) {
		t = &tables[i];
		rc = exec(cat, ST_VTABLE_INSERT, "ittiiii", version_id, t->name, t->segment,
			  (int64_t)t->rows, (int64_t)t->masked_size, (int64_t)t->plain_size,
			  (int64_t)(t->has_pii != 0));
	}
	if (!rc && prev)
		rc = exec(cat, ST_VTABLE_CARRY, "iii", version_id, product_id, prev);
	if (!rc)
		rc = exec(cat, ST_VERSION_TOTALS, "i", version_id);
out:
	if (rc)
		tx_rollback(cat);
	else
		rc = tx_commit(cat);
	if (!rc && number)
		*number = prev + 1;
	return rc;
}

int catalog_segment_list(struct catalog *cat, int (*cb)(const char *id, void *ctx), void *ctx)
{
	struct rows r;
	size_t i;
	int rc;

	rc = collect(cat, ST_SEGMENTS, &r, "");
	if (rc)
		return rc;
	for (i = 0; !rc && i < r.n; i++)
		rc = cb(rows_text(&r, i, 0), ctx);
	rows_release(&r);
	return rc;
}

/* ---- grants ---- */

int catalog_grant(struct catalog *cat, const char *privilege, const char *scope,
		  const char *principal, const char *by, int64_t now)
{
	int rc;

	if (!ONE_OF(privilege, privileges) || !principal_valid(principal) || !user_name_valid(by))
		return -EINVAL;
	rc = scope_check(cat, scope, 1);
	if (rc)
		return rc;
	return exec(cat, ST_GRANT_INSERT, "tttti", privilege, scope, principal, by, now);
}

int catalog_revoke(struct catalog *cat, const char *privilege, const char *scope,
		   const char *principal)
{
	int rc;

	if (!ONE_OF(privilege, privileges) || !principal_valid(principal))
		return -EINVAL;
	rc = scope_check(cat, scope, 0);
	if (!rc)
		rc = exec(cat, ST_GRANT_DELETE, "ttt", privilege, scope, principal);
	if (rc)
		return rc;
	return sqlite3_changes(cat->db) ? 0 : -ENOENT;
}

int catalog_grant_list(struct catalog *cat, const char *privilege, const char *scope,
		       int (*cb)(const char *principal, void *ctx), void *ctx)
{
	struct rows r;
	size_t i;
	int rc;

	if (!ONE_OF(privilege, privileges))
		return -EINVAL;
	rc = scope_check(cat, scope, 0);
	if (rc)
		return rc;
	rc = collect(cat, ST_GRANT_LIST, &r, "tt", privilege, scope);
	if (rc)
		return rc;
	for (i = 0; !rc && i < r.n; i++)
		rc = cb(rows_text(&r, i, 0), ctx);
	rows_release(&r);
	return rc;
}

int catalog_grant_list_all(struct catalog *cat,
			   int (*cb)(const char *privilege, const char *scope,
				     const char *principal, void *ctx),
			   void *ctx)
{
	struct rows r;
	size_t i;
	int rc;

	rc = collect(cat, ST_GRANT_LIST_ALL, &r, "");
	if (rc)
		return rc;
	for (i = 0; !rc && i < r.n; i++)
		rc = cb(rows_text(&r, i, 0), rows_text(&r, i, 1), rows_text(&r, i, 2), ctx);
	rows_release(&r);
	return rc;
}

/* ---- policies ---- */

int catalog_policy_set(struct catalog *cat, const char *yaml, const char *by, int64_t now)
{
	if (!yaml || !user_name_valid(by))
		return -EINVAL;
	return exec(cat, ST_POLICY_INSERT, "tit", yaml, now, by);
}

int catalog_policy_get(struct catalog *cat, char **yaml, int64_t *seq)
{
	struct rows r;
	int rc;

	*yaml = NULL;
	rc = collect(cat, ST_POLICY_GET, &r, "");
	if (rc)
		return rc;
	if (!r.n) {
		rc = -ENOENT;
		goto out;
	}
	*yaml = strdup(rows_text(&r, 0, 0));
	if (!*yaml) {
		rc = -ENOMEM;
		goto out;
	}
	if (seq)
		*seq = rows_int(&r, 0, 1);
out:
	rows_release(&r);
	return rc;
}

/* ---- audit ---- */

int catalog_audit_add(struct catalog *cat, const struct catalog_audit *a)
{
	const char *view;

	if (!a || !a->principal || !a->principal[0] || !a->action || !a->action[0] || !a->object ||
	    !ONE_OF(a->outcome, outcomes) || a->version < 0)
		return -EINVAL;
	view = a->view ? a->view : "";
	if (view[0] && strcmp(view, "plain") && strcmp(view, "masked"))
		return -EINVAL;
	return exec(cat, ST_AUDIT_INSERT, "itttittt", a->at, a->principal, a->action, a->object,
		    a->version, view, a->outcome, a->detail ? a->detail : "");
}

int catalog_audit_list(struct catalog *cat, int64_t since, const char *principal,
		       int (*cb)(const struct catalog_audit *a, void *ctx), void *ctx)
{
	struct catalog_audit a;
	struct rows r;
	int64_t at = since ? since : INT64_MIN, id = 0;
	size_t i, n;
	int rc;

	/* (at, id) > (since, 0) selects at >= since, as ids start at 1. */
	do {
		rc = collect(cat, ST_AUDIT_LIST, &r, "iiti", at, id, principal,
			     (int64_t)AUDIT_BATCH);
		if (rc)
			return rc;
		for (i = 0; !rc && i < r.n; i++) {
			a.id = rows_int(&r, i, 0);
			a.at = rows_int(&r, i, 1);
			a.principal = rows_text(&r, i, 2);
			a.action = rows_text(&r, i, 3);
			a.object = rows_text(&r, i, 4);
			a.version = rows_int(&r, i, 5);
			a.view = rows_text(&r, i, 6);
			a.outcome = rows_text(&r, i, 7);
			a.detail = rows_text(&r, i, 8);
			rc = cb(&a, ctx);
			id = a.id;
			at = a.at;
		}
		n = r.n;
		rows_release(&r);
	} while (!rc && n == AUDIT_BATCH);
	return rc;
}

int catalog_audit_recent(struct catalog *cat, const char *principal, const char *prefix,
			 size_t limit, int (*cb)(const struct catalog_audit *a, void *ctx),
			 void *ctx)
{
	struct catalog_audit a;
	struct rows r;
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
	rc = collect(cat, ST_AUDIT_RECENT, &r, "ttti", principal, prefix, end,
		     (int64_t)(limit ? limit : INT64_MAX));
	free(end);
	if (rc)
		return rc;
	for (size_t i = r.n; !rc && i-- > 0;) {
		a.id = rows_int(&r, i, 0);
		a.at = rows_int(&r, i, 1);
		a.principal = rows_text(&r, i, 2);
		a.action = rows_text(&r, i, 3);
		a.object = rows_text(&r, i, 4);
		a.version = rows_int(&r, i, 5);
		a.view = rows_text(&r, i, 6);
		a.outcome = rows_text(&r, i, 7);
		a.detail = rows_text(&r, i, 8);
		rc = cb(&a, ctx);
	}
	rows_release(&r);
	return rc;
}

/* ---- keys ---- */

/* The domain id a key of kind belongs to: 0 for the mask key (no domain). */
static int key_domain(struct catalog *cat, const char *kind, const char *domain, int64_t *id)
{
	int rc;

	*id = 0;
	if (kind && !strcmp(kind, "mask"))
		return domain ? -EINVAL : 0;
	if (!kind || strcmp(kind, "data") || !name_valid(domain))
		return -EINVAL;
	rc = query_int(cat, ST_DOMAIN_ID, id, "t", domain);
	if (rc < 0)
		return rc;
	return rc ? 0 : -ENOENT;
}

int catalog_key_add(struct catalog *cat, const char *kind, const char *domain,
		    const uint8_t *wrapped, size_t len, int64_t now, uint32_t *id)
{
	int64_t domain_id, key_id = 0;
	int rc;

	if (!wrapped || !len || len > KEY_WRAPPED_MAX)
		return -EINVAL;
	rc = key_domain(cat, kind, domain, &domain_id);
	if (rc)
		return rc;
	rc = tx_begin(cat);
	if (rc)
		return rc;
	rc = exec(cat, ST_KEY_DEACTIVATE, "ti", kind, domain_id);
	if (!rc)
		rc = exec(cat, ST_KEY_INSERT, "tibi", kind, domain_id, (const void *)wrapped, len,
			  now);
	if (!rc) {
		key_id = sqlite3_last_insert_rowid(cat->db);
		if (key_id > UINT32_MAX)
			rc = -EOVERFLOW;
	}
	if (rc)
		tx_rollback(cat);
	else
		rc = tx_commit(cat);
	if (!rc && id)
		*id = (uint32_t)key_id;
	return rc;
}

/* Copies the wrapped key in column col of the statement's current row. */
static int key_copy(sqlite3_stmt *st, int col, uint8_t *wrapped, size_t len)
{
	const void *blob = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);

	if (!blob || n < 0 || (size_t)n != len)
		return -EINVAL;
	memcpy(wrapped, blob, len);
	return 0;
}

int catalog_key_get(struct catalog *cat, uint32_t id, uint8_t *wrapped, size_t len)
{
	sqlite3_stmt *st;
	int rc;

	rc = query(cat, ST_KEY_GET, &st, "i", (int64_t)id);
	if (rc)
		return rc;
	rc = step(st);
	if (rc == 1)
		rc = key_copy(st, 0, wrapped, len);
	else if (rc == 0)
		rc = -ENOENT;
	stmt_done(st);
	return rc;
}

int catalog_key_active(struct catalog *cat, const char *kind, const char *domain, uint32_t *id,
		       uint8_t *wrapped, size_t len)
{
	sqlite3_stmt *st;
	int64_t domain_id;
	int rc;

	rc = key_domain(cat, kind, domain, &domain_id);
	if (rc)
		return rc;
	rc = query(cat, ST_KEY_ACTIVE, &st, "ti", kind, domain_id);
	if (rc)
		return rc;
	rc = step(st);
	if (rc == 1) {
		*id = (uint32_t)sqlite3_column_int64(st, 0);
		rc = key_copy(st, 1, wrapped, len);
	} else if (rc == 0) {
		rc = -ENOENT;
	}
	stmt_done(st);
	return rc;
}
