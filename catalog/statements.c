/*
 * The catalog's schema and statements, in one place: the migrations that build the schema and
 * the text of every statement the concern files run, by id (enum catalog_stmt). Statements are
 * written for every engine where the SQL is standard; where it is not (full-text search,
 * comparisons with NULL, booleans), each engine's dialect has its own text.
 */
#include "catalog/internal.h"

/* Names are checked before they are written; the schema makes sure of it too. */
#define NAME_CHECK(col)	   "CHECK (length(CAST(" col " AS BLOB)) BETWEEN 1 AND 63)"
#define PG_NAME_CHECK(col) "CHECK (octet_length(" col ") BETWEEN 1 AND 63)"

/* PostgreSQL: text compared and sorted byte by byte, as SQLite does (prefix ranges of the audit,
 * listing orders), whatever the database's locale. */
#define PG_TEXT "TEXT COLLATE \"C\""
#define PG_ID	"BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
/* A table whose changes a mount shows tells the other hosts, once a statement: the audit, which
 * every plaintext read writes, does not. */
#define PG_NOTIFY(table)                                                                           \
	"CREATE TRIGGER " table "_notify AFTER INSERT OR UPDATE OR DELETE ON " table               \
	" FOR EACH STATEMENT EXECUTE FUNCTION meshfs_notify();"

/*
 * Schema migrations (see struct db_schema). SQLite's steps record their version in user_version
 * themselves, as a pragma's value cannot be a bound parameter; PostgreSQL's in meshfs_schema.
 * Never change a step that has shipped: add one.
 */
/* clang-format off */
static const struct db_sql migrations[] = {
	/* 1: the initial schema */
	{.own[DB_SQLITE] =
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
	 .own[DB_PG] =
	"CREATE TABLE meshfs_schema (version INTEGER NOT NULL);"
	"INSERT INTO meshfs_schema VALUES (1);"
	"CREATE FUNCTION meshfs_notify() RETURNS trigger LANGUAGE plpgsql AS "
	"$$BEGIN PERFORM pg_notify('" DB_PG_CHANNEL "', ''); RETURN NULL; END$$;"
	"CREATE TABLE teams ("
	"  id " PG_ID ","
	"  name " PG_TEXT " NOT NULL UNIQUE " PG_NAME_CHECK("name") ");"
	/* user is a reserved word of PostgreSQL's */
	"CREATE TABLE team_members ("
	"  team_id BIGINT NOT NULL REFERENCES teams (id),"
	"  \"user\" " PG_TEXT " NOT NULL " PG_NAME_CHECK("\"user\"") ","
	"  PRIMARY KEY (team_id, \"user\"));"
	"CREATE INDEX team_members_user ON team_members (\"user\");"
	"CREATE TABLE domains ("
	"  id " PG_ID ","
	"  name " PG_TEXT " NOT NULL UNIQUE " PG_NAME_CHECK("name") ","
	"  owner_id BIGINT NOT NULL REFERENCES teams (id),"
	"  description TEXT NOT NULL DEFAULT '',"
	"  created_at BIGINT NOT NULL);"
	"CREATE INDEX domains_owner ON domains (owner_id);"
	"CREATE TABLE products ("
	"  id " PG_ID ","
	"  domain_id BIGINT NOT NULL REFERENCES domains (id),"
	"  name " PG_TEXT " NOT NULL " PG_NAME_CHECK("name") ","
	"  created_at BIGINT NOT NULL,"
	"  UNIQUE (domain_id, name));"
	"CREATE TABLE contracts ("
	"  id " PG_ID ","
	"  product_id BIGINT NOT NULL REFERENCES products (id),"
	"  seq BIGINT NOT NULL CHECK (seq >= 1),"
	"  semver " PG_TEXT " NOT NULL,"
	"  description TEXT NOT NULL DEFAULT '',"
	"  status " PG_TEXT " NOT NULL DEFAULT '',"
	"  frequency_seconds BIGINT NOT NULL DEFAULT 0 CHECK (frequency_seconds >= 0),"
	"  created_at BIGINT NOT NULL,"
	"  created_by " PG_TEXT " NOT NULL,"
	"  yaml TEXT NOT NULL,"
	"  UNIQUE (product_id, seq));"
	"CREATE TABLE contract_tables ("
	"  contract_id BIGINT NOT NULL REFERENCES contracts (id),"
	"  name " PG_TEXT " NOT NULL " PG_NAME_CHECK("name") ","
	"  PRIMARY KEY (contract_id, name));"
	"CREATE TABLE contract_inputs ("
	"  product_id BIGINT NOT NULL REFERENCES products (id),"
	"  domain " PG_TEXT " NOT NULL,"
	"  product " PG_TEXT " NOT NULL,"
	"  PRIMARY KEY (product_id, domain, product));"
	"CREATE INDEX contract_inputs_target ON contract_inputs (domain, product);"
	/* in the database's collation: the search folds the case of more than ASCII */
	"CREATE TABLE product_search ("
	"  product_id BIGINT PRIMARY KEY REFERENCES products (id),"
	"  text TEXT NOT NULL);"
	"CREATE TABLE versions ("
	"  id " PG_ID ","
	"  product_id BIGINT NOT NULL REFERENCES products (id),"
	"  number BIGINT NOT NULL CHECK (number >= 1),"
	"  contract_seq BIGINT NOT NULL,"
	"  published_at BIGINT NOT NULL,"
	"  published_by " PG_TEXT " NOT NULL " PG_NAME_CHECK("published_by") ","
	"  rows BIGINT NOT NULL DEFAULT 0,"
	"  bytes BIGINT NOT NULL DEFAULT 0,"
	"  checks TEXT NOT NULL DEFAULT '',"
	"  UNIQUE (product_id, number),"
	"  FOREIGN KEY (product_id, contract_seq) REFERENCES contracts (product_id, seq));"
	"CREATE TABLE version_tables ("
	"  version_id BIGINT NOT NULL REFERENCES versions (id),"
	"  name " PG_TEXT " NOT NULL " PG_NAME_CHECK("name") ","
	"  segment " PG_TEXT " NOT NULL CHECK (length(segment) = 64),"
	"  rows BIGINT NOT NULL CHECK (rows >= 0),"
	"  masked_size BIGINT NOT NULL CHECK (masked_size >= 0),"
	"  plain_size BIGINT NOT NULL CHECK (plain_size >= 0),"
	"  has_pii SMALLINT NOT NULL CHECK (has_pii IN (0, 1)),"
	"  PRIMARY KEY (version_id, name));"
	"CREATE INDEX version_tables_segment ON version_tables (segment);"
	"CREATE TABLE grants ("
	"  privilege " PG_TEXT " NOT NULL CHECK (privilege IN ('read', 'unmask', 'publish', 'admin')),"
	"  scope " PG_TEXT " NOT NULL,"
	"  principal " PG_TEXT " NOT NULL,"
	"  granted_by " PG_TEXT " NOT NULL,"
	"  granted_at BIGINT NOT NULL,"
	"  PRIMARY KEY (privilege, scope, principal));"
	"CREATE TABLE audit ("
	"  id " PG_ID ","
	"  at BIGINT NOT NULL,"
	"  principal " PG_TEXT " NOT NULL,"
	"  action " PG_TEXT " NOT NULL,"
	"  object " PG_TEXT " NOT NULL,"
	"  version BIGINT NOT NULL DEFAULT 0,"
	"  view " PG_TEXT " NOT NULL DEFAULT '',"
	"  outcome " PG_TEXT " NOT NULL,"
	"  detail TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX audit_at ON audit (at);"
	"CREATE INDEX audit_principal ON audit (principal, at);"
	"CREATE TABLE keys ("
	"  id " PG_ID ","
	"  kind " PG_TEXT " NOT NULL CHECK (kind IN ('mask', 'data')),"
	"  domain_id BIGINT REFERENCES domains (id),"
	"  wrapped BYTEA NOT NULL,"
	"  created_at BIGINT NOT NULL,"
	"  active BOOLEAN NOT NULL,"
	"  CHECK ((kind = 'mask') = (domain_id IS NULL)));"
	"CREATE UNIQUE INDEX keys_active ON keys (kind, coalesce(domain_id, 0)) WHERE active;"
	PG_NOTIFY("teams") PG_NOTIFY("team_members") PG_NOTIFY("domains") PG_NOTIFY("products")
	PG_NOTIFY("contracts") PG_NOTIFY("contract_tables") PG_NOTIFY("contract_inputs")
	PG_NOTIFY("product_search") PG_NOTIFY("versions") PG_NOTIFY("version_tables")
	PG_NOTIFY("grants") PG_NOTIFY("keys")},

	/* 2: mesh policies (every accepted one kept) and full-text search over products */
	{.own[DB_SQLITE] =
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
	 .own[DB_PG] =
	"UPDATE meshfs_schema SET version = 2;"
	"CREATE TABLE policies ("
	"  seq " PG_ID ","
	"  yaml TEXT NOT NULL,"
	"  set_at BIGINT NOT NULL,"
	"  set_by " PG_TEXT " NOT NULL);"
	PG_NOTIFY("policies")
	/* The words as SQLite's index cuts them (unicode61, remove_diacritics): runs of letters
	 * and digits, without case or diacritics. PostgreSQL's own parser would keep e-mail
	 * addresses, hyphenated words and numbers with dots whole. */
	"CREATE FUNCTION meshfs_search_words(t TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE "
	"PARALLEL SAFE RETURN lower(regexp_replace(regexp_replace(normalize(t, NFD), "
	"'[\\u0300-\\u036f]+', '', 'g'), '[^[:alnum:]]+', ' ', 'g'));"
	"ALTER TABLE product_search ADD COLUMN words tsvector GENERATED ALWAYS AS "
	"(to_tsvector('simple', meshfs_search_words(text))) STORED;"
	"CREATE INDEX product_search_words ON product_search USING gin (words);"},

	/* 3: how many quality rules of severity warning failed in a version (for meshfs status) */
	{.own[DB_SQLITE] =
	"ALTER TABLE versions ADD COLUMN warnings INTEGER NOT NULL DEFAULT 0;"
	"PRAGMA user_version = 3;",
	 .own[DB_PG] =
	"UPDATE meshfs_schema SET version = 3;"
	"ALTER TABLE versions ADD COLUMN warnings BIGINT NOT NULL DEFAULT 0;"},

	/* 4: a principal's recent rows on one object (publish.log), without scanning the rest */
	{.own[DB_SQLITE] =
	"CREATE INDEX audit_principal_object ON audit (principal, object, at);"
	"PRAGMA user_version = 4;",
	 .own[DB_PG] =
	"UPDATE meshfs_schema SET version = 4;"
	"CREATE INDEX audit_principal_object ON audit (principal, object, at);"},

	/* 5: settings of the mesh, such as where its store is */
	{.own[DB_SQLITE] =
	"CREATE TABLE settings ("
	"  name TEXT PRIMARY KEY " NAME_CHECK("name") ","
	"  value TEXT NOT NULL"
	") WITHOUT ROWID;"
	"PRAGMA user_version = 5;",
	 .own[DB_PG] =
	"UPDATE meshfs_schema SET version = 5;"
	"CREATE TABLE settings ("
	"  name " PG_TEXT " PRIMARY KEY " PG_NAME_CHECK("name") ","
	"  value TEXT NOT NULL);"
	PG_NOTIFY("settings")},

	/* 6: the audit's hash chain (catalog/audit.c): each sealed row's place in it and its hash.
	 * Rows from before stay unsealed, ahead of the chain: their hash would need the master
	 * key, which a migration does not have. */
	{.own[DB_SQLITE] =
	"ALTER TABLE audit ADD COLUMN seq INTEGER CHECK (seq >= 1);"
	"ALTER TABLE audit ADD COLUMN chain BLOB "
	"CHECK ((chain IS NULL) = (seq IS NULL) AND (chain IS NULL OR length(chain) = 32));"
	"CREATE UNIQUE INDEX audit_seq ON audit (seq) WHERE seq IS NOT NULL;"
	"PRAGMA user_version = 6;",
	 .own[DB_PG] =
	"UPDATE meshfs_schema SET version = 6;"
	"ALTER TABLE audit ADD COLUMN seq BIGINT CHECK (seq >= 1),"
	"  ADD COLUMN chain BYTEA "
	"CHECK ((chain IS NULL) = (seq IS NULL) AND (chain IS NULL OR octet_length(chain) = 32));"
	"CREATE UNIQUE INDEX audit_seq ON audit (seq) WHERE seq IS NOT NULL;"},
};
/* clang-format on */

/* A table read from one catalog and written into another, with its columns in the same order;
 * PostgreSQL takes the ids of a table whose ids it generates only when told to. */
#define COPY(key, table, cols, order, params)                                                      \
	[ST_COPY_FROM_##key] = {.sql = "SELECT " cols " FROM " table " ORDER BY " order},          \
	[ST_COPY_INTO_##key] = {.sql = "INSERT INTO " table " (" cols ") VALUES (" params ")"}
#define COPY_ID(key, table, cols, order, params)                                                   \
	[ST_COPY_FROM_##key] = {.sql = "SELECT " cols " FROM " table " ORDER BY " order},          \
	[ST_COPY_INTO_##key] = {.sql = "INSERT INTO " table " (" cols ") VALUES (" params ")",     \
				.own[DB_PG] = "INSERT INTO " table " (" cols ")"                   \
					      " OVERRIDING SYSTEM VALUE VALUES (" params ")"}

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

/* A version's row once for each of its tables, in name order (once, with NULLs, when it has
 * none): a version and its tables in one round trip. */
#define VERSION_SELECT                                                                             \
	"SELECT v.id, v.number, v.published_at, v.published_by, v.contract_seq, v.rows, v.bytes, " \
	"v.checks, v.warnings, t.name, t.segment, t.rows, t.masked_size, t.plain_size, "           \
	"t.has_pii FROM "
#define VERSION_TABLES "LEFT JOIN version_tables t ON t.version_id = v.id "

/* clang-format off */
static const struct db_sql statements[ST_COUNT] = {
	[ST_TEAM_INSERT] = {.sql = "INSERT INTO teams (name) VALUES (?1)"},
	[ST_TEAM_ID] = {.sql = "SELECT id FROM teams WHERE name = ?1"},
	/* "user" quoted: a reserved word of PostgreSQL's, where a bare user is the session's */
	[ST_MEMBER_INSERT] = {.sql = "INSERT INTO team_members (team_id, \"user\") VALUES (?1, ?2) "
		"ON CONFLICT DO NOTHING"},
	[ST_MEMBER_DELETE] = {.sql = "DELETE FROM team_members WHERE team_id = ?1 AND \"user\" = ?2"},
	[ST_MEMBER_HAS] = {.sql = "SELECT 1 FROM team_members m JOIN teams t ON t.id = m.team_id "
		"WHERE t.name = ?1 AND m.\"user\" = ?2"},
	[ST_TEAM_LIST] = {.sql = "SELECT t.name, m.\"user\" FROM teams t "
		"LEFT JOIN team_members m ON m.team_id = t.id ORDER BY t.name, m.\"user\""},
	[ST_USER_TEAMS] = {.sql = "SELECT t.name FROM team_members m JOIN teams t ON t.id = m.team_id "
		"WHERE m.\"user\" = ?1 ORDER BY t.name"},
	[ST_DOMAIN_INSERT] = {.sql = "INSERT INTO domains (name, owner_id, description, created_at) "
		"SELECT ?1, id, ?3, ?4 FROM teams WHERE name = ?2 RETURNING id"},
	[ST_DOMAIN_ID] = {.sql = "SELECT id FROM domains WHERE name = ?1"},
	[ST_DOMAIN_GET] = {.sql = DOMAIN_SELECT "WHERE d.name = ?1"},
	[ST_DOMAIN_GET_BY_ID] = {.sql = DOMAIN_SELECT "WHERE d.id = ?1"},
	[ST_DOMAIN_LIST] = {.sql = DOMAIN_SELECT "ORDER BY d.name"},
	[ST_PRODUCT_INSERT] = {.sql = "INSERT INTO products (domain_id, name, created_at) "
		"VALUES (?1, ?2, ?3) RETURNING id"},
	[ST_PRODUCT_ID] = {.sql = "SELECT p.id FROM products p JOIN domains d ON d.id = p.domain_id "
		"WHERE d.name = ?1 AND p.name = ?2"},
	[ST_PRODUCT_EXISTS] = {.sql = "SELECT 1 FROM products WHERE id = ?1"},
	[ST_PRODUCT_GET] = {.sql = PRODUCT_SELECT "WHERE d.name = ?1 AND p.name = ?2"},
	[ST_PRODUCT_GET_BY_ID] = {.sql = PRODUCT_SELECT "WHERE p.id = ?1"},
	/* CAST: PostgreSQL types a parameter by its first use, which IS NULL does not tell */
	[ST_PRODUCT_LIST] = {.sql = PRODUCT_SELECT "WHERE CAST(?1 AS TEXT) IS NULL OR d.name = ?1 "
		"ORDER BY d.name, p.name"},
	[ST_PRODUCT_STATES] = {.sql = "SELECT p.id, p.domain_id, "
		"(SELECT max(seq) FROM contracts WHERE product_id = p.id), "
		"(SELECT max(number) FROM versions WHERE product_id = p.id) "
		"FROM products p ORDER BY p.id"},
	[ST_DOMAIN_COUNT] = {.sql = "SELECT count(*) FROM domains"},
	[ST_PRODUCT_NAMES] = {.sql = "SELECT id, name FROM products WHERE domain_id = ?1 ORDER BY name"},
	[ST_CONTRACT_MAXSEQ] = {.sql = "SELECT max(seq) FROM contracts WHERE product_id = ?1"},
	[ST_CONTRACT_INSERT] = {.sql = "INSERT INTO contracts (product_id, seq, semver, description, "
		"status, frequency_seconds, created_at, created_by, yaml) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id"},
	[ST_CONTRACT_TABLE_INSERT] = {.sql = "INSERT INTO contract_tables (contract_id, name) "
		"VALUES (?1, ?2)"},
	[ST_INPUTS_DELETE] = {.sql = "DELETE FROM contract_inputs WHERE product_id = ?1"},
	[ST_INPUT_INSERT] = {.sql = "INSERT INTO contract_inputs (product_id, domain, product) "
		"VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING"},
	[ST_SEARCH_PUT] = {.sql = "INSERT INTO product_search (product_id, text) VALUES (?1, ?2) "
		"ON CONFLICT (product_id) DO UPDATE SET text = excluded.text"},
	[ST_CONTRACT_GET] = {.sql = "SELECT yaml, seq FROM contracts WHERE product_id = ?1 AND seq = "
		"CASE WHEN ?2 = 0 THEN (SELECT max(seq) FROM contracts "
		"WHERE product_id = ?1) ELSE ?2 END"},
	[ST_DOWNSTREAM] = {.sql = "SELECT d.name, p.name FROM contract_inputs i "
		"JOIN products p ON p.id = i.product_id "
		"JOIN domains d ON d.id = p.domain_id "
		"WHERE i.domain = ?1 AND i.product = ?2 ORDER BY d.name, p.name"},
	/* Rows are (product, distance) pairs, each at most once (UNION), and no distance exceeds
	 * the number of products: a cycle ends there instead of going round for ever. The
	 * shortest distance of each product is the one reported. The names are grouped by too, as
	 * PostgreSQL wants of what it selects beside an aggregate. */
	[ST_DOWNSTREAM_ALL] = {.sql = "WITH RECURSIVE down (id, depth) AS ("
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
		"GROUP BY p.id, d.name, p.name ORDER BY depth, d.name, p.name"},
	/* one row with NULLs for a product without inputs, none for no product */
	[ST_UPSTREAM] = {.sql = "SELECT i.domain, i.product FROM products p "
		"LEFT JOIN contract_inputs i ON i.product_id = p.id WHERE p.id = ?1 "
		"ORDER BY i.domain, i.product"},
	/*
	 * ?1 is the terms of the query, one a line, each matched as a phrase of its words, the last
	 * as a prefix. SQLite quotes each as an FTS5 phrase (quotes doubled), so that no term is
	 * query syntax; bm25 is lower for better matches. PostgreSQL cuts each term as the index
	 * does and turns it into a phrase of tsquery (a term without words drops out), ranked by
	 * ts_rank over the length of the text. Ties go by name so that the order is stable.
	 */
	[ST_SEARCH] = {.own[DB_SQLITE] = PRODUCT_COLUMNS "FROM (SELECT rowid AS id, bm25(product_fts) AS score "
		"FROM product_fts WHERE product_fts MATCH "
		"'\"' || replace(replace(?1, '\"', '\"\"'), char(10), '\" \"') || '\"*') s "
		"JOIN products p ON p.id = s.id " PRODUCT_JOINS
		"ORDER BY s.score, d.name, p.name",
		.own[DB_PG] = "WITH t AS (SELECT u.n, phraseto_tsquery('simple', "
		"meshfs_search_words(u.term)) AS phrase "
		"FROM unnest(string_to_array(?1, chr(10))) WITH ORDINALITY AS u (term, n)), "
		"w AS (SELECT n, phrase, max(n) OVER () AS last FROM t WHERE numnode(phrase) > 0), "
		"q AS (SELECT string_agg('(' || phrase::text || CASE WHEN n = last THEN ':*' ELSE '' END "
		"|| ')', ' & ' ORDER BY n)::tsquery AS q FROM w) "
		PRODUCT_COLUMNS "FROM (SELECT s.product_id AS id, ts_rank(s.words, q.q, 1) AS score "
		"FROM product_search s, q WHERE s.words @@ q.q) s "
		"JOIN products p ON p.id = s.id " PRODUCT_JOINS
		"ORDER BY s.score DESC, d.name, p.name"},
	[ST_VERSION_MAX] = {.sql = "SELECT coalesce(max(number), 0) FROM versions WHERE product_id = ?1"},
	[ST_VERSION_INSERT] = {.sql = "INSERT INTO versions (product_id, number, contract_seq, "
		"published_at, published_by, checks, warnings) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id"},
	[ST_VTABLE_INSERT] = {.sql = "INSERT INTO version_tables (version_id, name, segment, rows, "
		"masked_size, plain_size, has_pii) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
	[ST_VTABLE_CARRY] = {.sql = "INSERT INTO version_tables (version_id, name, segment, rows, "
		"masked_size, plain_size, has_pii) "
		"SELECT ?1, o.name, o.segment, o.rows, o.masked_size, o.plain_size, "
		"o.has_pii FROM version_tables o JOIN versions v ON v.id = o.version_id "
		"WHERE v.product_id = ?2 AND v.number = ?3 AND o.name NOT IN "
		"(SELECT name FROM version_tables WHERE version_id = ?1) AND o.name IN "
		"(SELECT ct.name FROM contract_tables ct JOIN contracts c ON c.id = ct.contract_id "
		"JOIN versions nv ON nv.id = ?1 "
		"WHERE c.product_id = ?2 AND c.seq = nv.contract_seq)"},
	[ST_VERSION_TOTALS] = {.sql = "UPDATE versions SET "
		"rows = (SELECT coalesce(sum(rows), 0) FROM version_tables "
		"WHERE version_id = ?1), "
		"bytes = (SELECT coalesce(sum(masked_size), 0) FROM version_tables "
		"WHERE version_id = ?1) WHERE id = ?1"},
	[ST_VERSION_GET] = {.sql = VERSION_SELECT "versions v " VERSION_TABLES
		"WHERE v.product_id = ?1 AND v.number = CASE WHEN ?2 = 0 THEN "
		"(SELECT max(number) FROM versions WHERE product_id = ?1) ELSE ?2 END "
		"ORDER BY t.name"},
	[ST_VERSION_LIST] = {.sql = VERSION_SELECT "(SELECT * FROM versions WHERE product_id = ?1 "
		"ORDER BY number DESC LIMIT ?2) v " VERSION_TABLES "ORDER BY v.number DESC, t.name"},
	[ST_VERSION_RANGE] = {.sql = VERSION_SELECT "(SELECT * FROM versions WHERE product_id = ?1 "
		"AND number >= ?2 ORDER BY number LIMIT ?3) v " VERSION_TABLES
		"ORDER BY v.number, t.name"},
	[ST_VERSION_AT] = {.sql = "SELECT max(number) FROM versions "
		"WHERE product_id = ?1 AND published_at <= ?2"},
	[ST_SEGMENTS] = {.sql = "SELECT DISTINCT segment FROM version_tables ORDER BY segment"},
	[ST_GRANT_INSERT] = {.sql = "INSERT INTO grants (privilege, scope, principal, granted_by, "
		"granted_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING"},
	[ST_GRANT_DELETE] = {.sql = "DELETE FROM grants WHERE privilege = ?1 AND scope = ?2 "
		"AND principal = ?3 RETURNING 1"},
	[ST_GRANT_LIST] = {.sql = "SELECT principal FROM grants WHERE privilege = ?1 AND scope = ?2 "
		"ORDER BY principal"},
	[ST_GRANT_LIST_ALL] = {.sql = "SELECT privilege, scope, principal FROM grants "
		"ORDER BY scope, privilege, principal"},
	[ST_GRANT_LIST_AT] = {.sql = "SELECT privilege, scope, principal FROM grants "
		"WHERE scope IN (?1, ?2, ?3) ORDER BY scope, privilege, principal"},
	/* seq 0 writes an unsealed row: no place in the chain, no hash */
	[ST_AUDIT_INSERT] = {.sql = "INSERT INTO audit (at, principal, action, object, version, view, "
		"outcome, detail, seq, chain) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, nullif(?9, 0), "
		"CASE WHEN ?9 = 0 THEN NULL ELSE ?10 END)"},
	/* the head of the chain: the sealed row with the highest place, found in the index of the
	 * sealed rows without passing the unsealed ones */
	[ST_AUDIT_HEAD] = {.sql = "SELECT seq, chain FROM audit WHERE seq IS NOT NULL "
		"ORDER BY seq DESC LIMIT 1"},
	/* the rows from before the chain, when its first row is written */
	[ST_AUDIT_BEFORE] = {.sql = "SELECT count(*), COALESCE(max(id), 0) FROM audit WHERE id >= 1"},
	/* every row in id order, in batches from id ?1 */
	[ST_AUDIT_CHAIN] = {.sql = "SELECT id, at, principal, action, object, version, view, outcome, "
		"detail, seq, chain FROM audit WHERE id >= ?1 ORDER BY id LIMIT ?2"},
	/* Keyset pagination on (at, id): resumes after the last row of the previous batch. */
	[ST_AUDIT_LIST] = {.sql = "SELECT id, at, principal, action, object, version, view, outcome, "
		"detail FROM audit WHERE (at, id) > (?1, ?2) "
		"AND (CAST(?3 AS TEXT) IS NULL OR principal = ?3) ORDER BY at, id LIMIT ?4"},
	/* the newest first: the caller takes the last `limit` and gives them oldest first */
	[ST_AUDIT_RECENT] = {.sql = "SELECT id, at, principal, action, object, version, view, outcome, "
		"detail FROM audit WHERE principal = ?1 AND object >= ?2 AND object < ?3 "
		"AND action IN ('publish', 'reject') ORDER BY at DESC, id DESC LIMIT ?4"},
	[ST_POLICY_INSERT] = {.sql = "INSERT INTO policies (yaml, set_at, set_by) VALUES (?1, ?2, ?3)"},
	[ST_POLICY_GET] = {.sql = "SELECT yaml, seq FROM policies ORDER BY seq DESC LIMIT 1"},
	/* Domain ids start at 1: a bound 0 stands for the mask key's NULL domain. */
	/* SQLite stores active as 0 or 1 and reads true as 1; PostgreSQL's is a boolean. */
	[ST_KEY_DEACTIVATE] = {.own[DB_SQLITE] = "UPDATE keys SET active = 0 "
		"WHERE kind = ?1 AND domain_id IS nullif(?2, 0) AND active",
		.own[DB_PG] = "UPDATE keys SET active = false "
		"WHERE kind = ?1 AND domain_id IS NOT DISTINCT FROM nullif(?2, 0) AND active"},
	[ST_KEY_INSERT] = {.sql = "INSERT INTO keys (kind, domain_id, wrapped, created_at, active) "
		"VALUES (?1, nullif(?2, 0), ?3, ?4, true) RETURNING id"},
	[ST_KEY_GET] = {.sql = "SELECT wrapped FROM keys WHERE id = ?1"},
	[ST_KEY_ACTIVE] = {.own[DB_SQLITE] = "SELECT id, wrapped FROM keys "
		"WHERE kind = ?1 AND domain_id IS nullif(?2, 0) AND active",
		.own[DB_PG] = "SELECT id, wrapped FROM keys "
		"WHERE kind = ?1 AND domain_id IS NOT DISTINCT FROM nullif(?2, 0) AND active"},
	[ST_SETTING_GET] = {.sql = "SELECT value FROM settings WHERE name = ?1"},
	[ST_SETTING_SET] = {.sql = "INSERT INTO settings (name, value) VALUES (?1, ?2) "
		"ON CONFLICT (name) DO UPDATE SET value = excluded.value"},
	/* catalog_copy: every column of every table, rows in key order, ids kept */
	COPY_ID(TEAMS, "teams",
		"id, name",
		"id", "?1, ?2"),
	COPY(MEMBERS, "team_members",
		"team_id, \"user\"",
		"team_id, \"user\"", "?1, ?2"),
	COPY_ID(DOMAINS, "domains",
		"id, name, owner_id, description, created_at",
		"id", "?1, ?2, ?3, ?4, ?5"),
	COPY_ID(PRODUCTS, "products",
		"id, domain_id, name, created_at",
		"id", "?1, ?2, ?3, ?4"),
	COPY_ID(CONTRACTS, "contracts",
		"id, product_id, seq, semver, description, status, frequency_seconds,"
		" created_at, created_by, yaml",
		"id", "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10"),
	COPY(CTABLES, "contract_tables",
		"contract_id, name",
		"contract_id, name", "?1, ?2"),
	COPY(INPUTS, "contract_inputs",
		"product_id, domain, product",
		"product_id, domain, product", "?1, ?2, ?3"),
	COPY(SEARCHTEXT, "product_search",
		"product_id, text",
		"product_id", "?1, ?2"),
	COPY_ID(VERSIONS, "versions",
		"id, product_id, number, contract_seq, published_at, published_by, rows,"
		" bytes, checks, warnings",
		"id", "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10"),
	COPY(VTABLES, "version_tables",
		"version_id, name, segment, rows, masked_size, plain_size, has_pii",
		"version_id, name", "?1, ?2, ?3, ?4, ?5, ?6, ?7"),
	COPY(GRANTS, "grants",
		"privilege, scope, principal, granted_by, granted_at",
		"privilege, scope, principal", "?1, ?2, ?3, ?4, ?5"),
	COPY_ID(AUDIT, "audit",
		"id, at, principal, action, object, version, view, outcome, detail, seq, chain",
		"id", "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11"),
	/* active is an integer in SQLite and a boolean in PostgreSQL: through text, either
	 * becomes the other */
	[ST_COPY_FROM_KEYS] = {.sql = "SELECT id, kind, domain_id, wrapped, created_at, active "
		"FROM keys ORDER BY id"},
	[ST_COPY_INTO_KEYS] = {.sql = "INSERT INTO keys (id, kind, domain_id, wrapped, created_at, "
		"active) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
		.own[DB_PG] = "INSERT INTO keys (id, kind, domain_id, wrapped, created_at, active) "
		"OVERRIDING SYSTEM VALUE "
		"VALUES (?1, ?2, ?3, ?4, ?5, CAST(CAST(?6 AS TEXT) AS BOOLEAN))"},
	COPY_ID(POLICIES, "policies",
		"seq, yaml, set_at, set_by",
		"seq", "?1, ?2, ?3, ?4"),
	COPY(SETTINGS, "settings",
		"name, value",
		"name", "?1, ?2"),
	/* after a copy: each table's next id past the ids copied (SQLite takes the highest id plus
	 * one by itself) */
	[ST_COPY_RESTART] = {.sql = "SELECT 0",
		.own[DB_PG] = "SELECT "
		"setval(pg_get_serial_sequence('teams', 'id'), "
		"(SELECT COALESCE(MAX(id), 0) + 1 FROM teams), false), "
		"setval(pg_get_serial_sequence('domains', 'id'), "
		"(SELECT COALESCE(MAX(id), 0) + 1 FROM domains), false), "
		"setval(pg_get_serial_sequence('products', 'id'), "
		"(SELECT COALESCE(MAX(id), 0) + 1 FROM products), false), "
		"setval(pg_get_serial_sequence('contracts', 'id'), "
		"(SELECT COALESCE(MAX(id), 0) + 1 FROM contracts), false), "
		"setval(pg_get_serial_sequence('versions', 'id'), "
		"(SELECT COALESCE(MAX(id), 0) + 1 FROM versions), false), "
		"setval(pg_get_serial_sequence('audit', 'id'), "
		"(SELECT COALESCE(MAX(id), 0) + 1 FROM audit), false), "
		"setval(pg_get_serial_sequence('keys', 'id'), "
		"(SELECT COALESCE(MAX(id), 0) + 1 FROM keys), false), "
		"setval(pg_get_serial_sequence('policies', 'seq'), "
		"(SELECT COALESCE(MAX(seq), 0) + 1 FROM policies), false)"},
};
/* clang-format on */

const struct db_schema catalog_schema = {
    .migrations = migrations,
    .nmigrations = sizeof(migrations) / sizeof(migrations[0]),
    .statements = statements,
    .nstatements = ST_COUNT,
};
