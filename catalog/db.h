/*
 * The catalog's database layer: one connection to one SQL engine, its schema migrated at open,
 * its statements prepared once and cached, transactions that nest, and a way to see what other
 * connections committed. The rest of catalog/ reaches the database through these functions
 * only, so that an engine is one file behind struct db_engine (catalog/db_engine.h).
 *
 * Functions return 0 (or what they say) on success and -errno on failure: -EEXIST for a unique
 * or primary key violation, -ENOENT for a foreign key one, -EINVAL for a check, NOT NULL or type
 * violation or a value too big, -EBUSY when the database stays locked, -EROFS for a write on a
 * read-only connection, -EACCES, -ENOMEM, -ENOSPC, -ETIMEDOUT when a database server did not
 * answer within mfs_timeout_ms() (common/timeout.h), and -EIO for anything else, a lost
 * connection among them. A struct db is used by one thread at a time.
 */
#ifndef MESHFS_CATALOG_DB_H
#define MESHFS_CATALOG_DB_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct db;
struct db_stmt;
struct db_engine;

/* The SQL dialects the layer knows, one per engine. */
enum db_dialect {
	DB_SQLITE,
	DB_PG,
	DB_DIALECTS,
};

extern const struct db_engine db_sqlite; /* target: the path of the database file */
extern const struct db_engine db_pg;	 /* target: a PostgreSQL URL (see catalog/pg_url.h) */

/* The channel a PostgreSQL schema's triggers notify when a table that others follow changes;
 * db_pg listens on it (db_data_version, db_changes_wait). */
#define DB_PG_CHANNEL "meshfs_changes"

/*
 * The text of a statement or a migration step: sql for every engine, unless the engine's dialect
 * has its own in own[]. Parameters are written ?1, ?2, … (a number may appear more than once); an
 * engine whose placeholders differ rewrites them when it prepares the statement.
 */
struct db_sql {
	const char *sql;
	const char *own[DB_DIALECTS];
};

struct db_schema {
	/* Step i brings the schema from version i to i + 1 and records version i + 1 itself, in the
	 * engine's way (SQLite: PRAGMA user_version; PostgreSQL: the one row of table
	 * meshfs_schema, which step 1 creates). Never change a step that has shipped. */
	const struct db_sql *migrations;
	size_t nmigrations;
	const struct db_sql *statements; /* by statement id, from 0 */
	size_t nstatements;
};

enum db_open_flags {
	DB_READONLY = 1,
	DB_CREATE = 2, /* the database must hold no schema yet: -EEXIST if it does */
};

/*
 * Opens the database at target, which must exist, with engine, and brings its schema to the
 * latest version of schema, one step per transaction. -ENOTSUP if the database has a newer
 * version than schema knows, -EROFS if it needs migrating and flags has DB_READONLY. schema must
 * outlive the db. err says what failed, naming target as db_name() does.
 */
int db_open(struct db **out, const struct db_engine *engine, const char *target, int flags,
	    const struct db_schema *schema, struct mfs_error *err);
/* Finalizes the statements and closes; an open transaction is rolled back. db may be NULL. */
void db_close(struct db *db);
/* The target as messages may show it: a URL without its password. */
const char *db_name(const struct db *db);
/* Whether other hosts reach the same database (a server), rather than this host alone. */
int db_is_shared(const struct db *db);

/*
 * Statement id, prepared (once per connection) and ready to bind and step. When done with it,
 * db_reset() it: a statement left pending keeps a read snapshot, and must not be handed out
 * again. -EIO if the engine has ended the transaction in progress on its own (after an error),
 * so that what follows does not run, and commit, outside it.
 */
int db_stmt(struct db *db, size_t id, struct db_stmt **out);
/* Parameters are numbered from 1. Text and blobs are not copied: they must stay valid until the
 * statement is reset. */
int db_bind_int64(struct db_stmt *st, int i, int64_t v);
int db_bind_text(struct db_stmt *st, int i, const char *s);
int db_bind_blob(struct db_stmt *st, int i, const void *p, size_t len);
int db_bind_null(struct db_stmt *st, int i);
/* 1 when a row is ready, 0 when the statement is done, or -errno. */
int db_step(struct db_stmt *st);
/* Unbinds and rewinds the statement, which may then be handed out again. */
void db_reset(struct db_stmt *st);

enum db_type {
	DB_NULL,
	DB_INTEGER,
	DB_FLOAT,
	DB_TEXT,
	DB_BLOB,
};
/* Columns of the current row (after a step gave one), numbered from 0. Pointers stay valid
 * until the next step or reset. */
int db_column_count(struct db_stmt *st);
enum db_type db_column_type(struct db_stmt *st, int col);
/* 0 for a NULL value. */
int64_t db_column_int64(struct db_stmt *st, int col);
/* NUL-terminated; NULL for a NULL value. */
const char *db_column_text(struct db_stmt *st, int col);
/* *len bytes; NULL for a NULL value or an empty blob. */
const void *db_column_blob(struct db_stmt *st, int col, size_t *len);

/*
 * The conveniences below bind the parameters of statement id from fmt, one letter each:
 * 't' a const char * (NULL binds NULL), 'i' an int64_t, 'b' a const void * and a size_t.
 */
/* The statement, bound; reset it when done. */
int db_query(struct db *db, size_t id, struct db_stmt **out, const char *fmt, ...);
/* Runs the statement to its end, ignoring any rows. */
int db_exec(struct db *db, size_t id, const char *fmt, ...);
/* The first column of the first row: 1 with *out set if there was a row and its value is not
 * NULL, 0 if not. */
int db_query_int64(struct db *db, size_t id, int64_t *out, const char *fmt, ...);
/* The same, but 0 with *out set, or -ENOENT: for a lookup, or the id an INSERT … RETURNING
 * gives. */
int db_lookup(struct db *db, size_t id, int64_t *out, const char *fmt, ...);

/* Every row of a statement, copied out so that callbacks run with no statement pending. Integer
 * and text columns are kept (others read as NULL). */
struct db_rows {
	struct db_cell *cell;
	size_t ncols, n, cap;
};
/* Runs the statement and collects its rows into r, which is then db_rows_release()d. */
int db_collect(struct db *db, size_t id, struct db_rows *r, const char *fmt, ...);
void db_rows_release(struct db_rows *r);
/* A text column; "" when NULL. Valid until r is released. */
char *db_rows_text(const struct db_rows *r, size_t row, size_t col);
/* An integer column; 0 when NULL. */
int64_t db_rows_int64(const struct db_rows *r, size_t row, size_t col);
int db_rows_is_null(const struct db_rows *r, size_t row, size_t col);

/*
 * Runs statement select_id on from and, for each row, statement insert_id on to with the row's
 * columns as its parameters, in order; *rows counts them. For copying a table between databases
 * of one schema: the caller holds a transaction on to.
 */
int db_copy(struct db *from, size_t select_id, struct db *to, size_t insert_id, uint64_t *rows);

/* Transactions nest: the outermost takes the write lock at once (so that what it reads stays
 * true until it commits), inner levels are savepoints. A commit that fails has rolled back its
 * level; a rollback outside any transaction does nothing. A statement that fails inside a
 * transaction undoes only itself. When the engine loses the transaction (a lost connection),
 * everything up to the outermost rollback fails with -EIO. */
int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);
/* Ends the level db_begin() opened for a change whose outcome is rc: commits if rc is 0, else
 * rolls back. Returns rc, or the commit's failure. */
int db_finish(struct db *db, int rc);

/* A number that changes whenever another connection commits: once this returns, every commit
 * that ended before the call is counted. */
int db_data_version(struct db *db, int64_t *out);
/* A number that changes whenever the database does, through this connection or another. Cheap
 * (no round trip to a server): another connection's commit shows within moments, not at once. */
int db_change_stamp(struct db *db, uint64_t *out);
/* Waits up to timeout_ms for another connection's commit: 1 when one may have come (always, for
 * an engine that is not told of them: it sleeps the timeout), 0 when none did, or -errno. */
int db_changes_wait(struct db *db, int timeout_ms);
/*
 * The mesh lock, held by this connection's session across transactions: shared (taken as many
 * times as it is released) or exclusive. wait 0 gives -EBUSY at once when it is held the other
 * way; else it waits, at most mfs_timeout_ms(), then -EBUSY. -ENOTSUP for an engine without one.
 * A connection lost while it is held fails every statement with -EIO until it is released.
 */
int db_lock(struct db *db, int exclusive, int wait);
void db_unlock(struct db *db, int exclusive);
/* The engine's own check of the database and its references: 0, or -EIO with the first problem
 * in err. */
int db_check(struct db *db, struct mfs_error *err);

#endif
