/* The SQLite engine of the database layer: one file, in WAL mode, its schema version in PRAGMA
 * user_version. */
#include "catalog/db_engine.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/clock.h"

/* Long enough for a publish by the CLI to finish while the daemon waits, and the reverse. */
#define BUSY_MS 10000

struct conn {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *data_version; /* polled often: kept prepared */
	sqlite3_stmt *tx[DB_TX_COUNT];
};

static const char *const tx_sql[DB_TX_COUNT] = {
    [DB_TX_BEGIN] = "BEGIN IMMEDIATE",	[DB_TX_COMMIT] = "COMMIT",
    [DB_TX_ROLLBACK] = "ROLLBACK",	[DB_TX_SAVEPOINT] = "SAVEPOINT nested",
    [DB_TX_RELEASE] = "RELEASE nested", [DB_TX_ROLLBACK_TO] = "ROLLBACK TO nested",
};

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

static int ok(int rc)
{
	return rc == SQLITE_OK ? 0 : sql_errno(rc);
}

static int sq_script(void *conn, const char *sql)
{
	struct conn *c = conn;
	sqlite3_stmt *st;
	const char *tail;
	int rc;

	while (*sql) {
		rc = sqlite3_prepare_v2(c->db, sql, -1, &st, &tail);
		if (rc != SQLITE_OK)
			return sql_errno(rc);
		sql = tail;
		if (!st) /* whitespace at the end */
			continue;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			;
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return sql_errno(rc);
	}
	return 0;
}

/* Runs a pragma and copies its first result (if any) into out. */
static int pragma(sqlite3 *db, const char *sql, char *out, size_t size)
{
	sqlite3_stmt *st;
	const unsigned char *text;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_errno(rc);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && out) {
		text = sqlite3_column_text(st, 0);
		snprintf(out, size, "%s", text ? (const char *)text : "");
	}
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(st);
	return ok(rc);
}

static int configure(struct conn *c, int readonly, const char *path, struct mfs_error *err)
{
	char mode[16];
	int rc;

	rc = ok(sqlite3_extended_result_codes(c->db, 1));
	if (!rc)
		rc = ok(sqlite3_busy_timeout(c->db, BUSY_MS));
	if (!rc)
		rc = pragma(c->db, "PRAGMA foreign_keys = ON", NULL, 0);
	if (rc || readonly)
		goto out;
	rc = pragma(c->db, "PRAGMA journal_mode = WAL", mode, sizeof(mode));
	if (!rc && strcmp(mode, "wal"))
		return mfs_error_set(
		    err, EIO, "%s: cannot use write-ahead logging (journal mode %s)", path, mode);
	/* FULL: a publish that was reported done survives a power failure too, not only the
	 * previous version (which NORMAL would already keep intact). */
	if (!rc)
		rc = pragma(c->db, "PRAGMA synchronous = FULL", NULL, 0);
out:
	return rc ? mfs_error_set(err, rc, "%s: %s", path, sqlite3_errmsg(c->db)) : 0;
}

static void sq_close(void *conn)
{
	struct conn *c = conn;
	int rc;

	sqlite3_finalize(c->data_version);
	for (int i = 0; i < DB_TX_COUNT; i++)
		sqlite3_finalize(c->tx[i]);
	/* Every statement is finalized, so the close cannot be refused; an open transaction is
	 * rolled back. */
	rc = sqlite3_close(c->db);
	assert(rc == SQLITE_OK);
	(void)rc;
	free(c->path);
	free(c);
}

static int sq_open(void **conn, const char *path, int readonly, struct mfs_error *err)
{
	struct conn *c;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return mfs_error_set(err, ENOMEM, "%s: out of memory", path);
	c->path = strdup(path);
	if (!c->path) {
		free(c);
		return mfs_error_set(err, ENOMEM, "%s: out of memory", path);
	}
	rc = sqlite3_open_v2(
	    path, &c->db,
	    (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = mfs_error_set(err, sql_errno(rc), "%s: %s", path,
				   c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		goto out;
	}
	rc = configure(c, readonly, path, err);
out:
	if (rc)
		sq_close(c);
	else
		*conn = c;
	return rc;
}

static const char *sq_name(void *conn)
{
	return ((struct conn *)conn)->path;
}

static const char *sq_errmsg(void *conn)
{
	return sqlite3_errmsg(((struct conn *)conn)->db);
}

static int sq_in_transaction(void *conn)
{
	return !sqlite3_get_autocommit(((struct conn *)conn)->db);
}

static int sq_schema_version(void *conn, int64_t *v)
{
	char buf[32];
	int rc;

	rc = pragma(((struct conn *)conn)->db, "PRAGMA user_version", buf, sizeof(buf));
	if (!rc)
		*v = strtoll(buf, NULL, 10);
	return rc;
}

static int sq_prepare(void *conn, const char *sql, void **st)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v3(((struct conn *)conn)->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s,
				NULL);
	if (rc != SQLITE_OK)
		return sql_errno(rc);
	*st = s;
	return 0;
}

static void sq_finalize(void *st)
{
	sqlite3_finalize(st);
}

static int sq_param_count(void *st)
{
	return sqlite3_bind_parameter_count(st);
}

static int sq_bind_int64(void *st, int i, int64_t v)
{
	return ok(sqlite3_bind_int64(st, i, v));
}

static int sq_bind_text(void *st, int i, const char *s)
{
	return ok(sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC));
}

static int sq_bind_blob(void *st, int i, const void *p, size_t len)
{
	return ok(sqlite3_bind_blob64(st, i, p, len, SQLITE_STATIC));
}

static int sq_bind_null(void *st, int i)
{
	return ok(sqlite3_bind_null(st, i));
}

static int sq_step(void *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return sql_errno(rc);
}

/* The result of sqlite3_reset() repeats the last step's, already reported. */
static void sq_reset(void *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static int sq_tx(void *conn, enum db_tx what)
{
	struct conn *c = conn;
	int rc;

	if (!c->tx[what]) {
		rc = sqlite3_prepare_v3(c->db, tx_sql[what], -1, SQLITE_PREPARE_PERSISTENT,
					&c->tx[what], NULL);
		if (rc != SQLITE_OK)
			return sql_errno(rc);
	}
	rc = sq_step(c->tx[what]);
	sq_reset(c->tx[what]);
	return rc;
}

static int sq_column_count(void *st)
{
	return sqlite3_column_count(st);
}

static enum db_type sq_column_type(void *st, int col)
{
	switch (sqlite3_column_type(st, col)) {
	case SQLITE_INTEGER:
		return DB_INTEGER;
	case SQLITE_FLOAT:
		return DB_FLOAT;
	case SQLITE_TEXT:
		return DB_TEXT;
	case SQLITE_BLOB:
		return DB_BLOB;
	}
	return DB_NULL;
}

static int64_t sq_column_int64(void *st, int col)
{
	return sqlite3_column_int64(st, col);
}

static const char *sq_column_text(void *st, int col)
{
	return (const char *)sqlite3_column_text(st, col);
}

static const void *sq_column_blob(void *st, int col, size_t *len)
{
	/* The blob first, then its length, as the SQLite manual advises. */
	const void *p = sqlite3_column_blob(st, col);

	*len = (size_t)sqlite3_column_bytes(st, col);
	return p;
}

static int sq_data_version(void *conn, int64_t *out)
{
	struct conn *c = conn;
	int rc;

	if (!c->data_version) {
		rc = sq_prepare(c, "PRAGMA data_version", (void **)&c->data_version);
		if (rc)
			return rc;
	}
	rc = sq_step(c->data_version);
	if (rc == 1)
		*out = sqlite3_column_int64(c->data_version, 0);
	sq_reset(c->data_version);
	return rc < 0 ? rc : rc ? 0 : -EIO;
}

static int sq_change_stamp(void *conn, uint64_t *out)
{
	int64_t others;
	int rc = sq_data_version(conn, &others);

	if (!rc)
		*out = (uint64_t)others << 32 ^
		       (uint64_t)sqlite3_total_changes64(((struct conn *)conn)->db);
	return rc;
}

/* SQLite tells no one of commits: the caller looks again after the timeout. */
static int sq_changes_wait(void *conn, int timeout_ms)
{
	mfs_sleep_ms(timeout_ms);
	return 1;
}

/* Runs the check sql and hands report its first row, or NULL when it gave none. */
static int check_run(struct conn *c, const char *sql, const char *what,
		     int (*report)(sqlite3_stmt *row, struct mfs_error *err), struct mfs_error *err)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return mfs_error_set(err, sql_errno(rc), "catalog: %s failed to run", what);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		rc = report(rc == SQLITE_ROW ? st : NULL, err);
	else
		rc = mfs_error_set(err, sql_errno(rc), "catalog: %s failed to run", what);
	sqlite3_finalize(st);
	return rc;
}

static const char *text_or(sqlite3_stmt *st, int col, const char *none)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return s ? (const char *)s : none;
}

/* integrity_check gives one row, "ok", or rows of problems. */
static int integrity_report(sqlite3_stmt *row, struct mfs_error *err)
{
	if (!row)
		return mfs_error_set(err, EIO, "catalog: integrity check gave no result");
	if (strcmp(text_or(row, 0, ""), "ok"))
		return mfs_error_set(err, EIO, "catalog: %s", text_or(row, 0, ""));
	return 0;
}

/* Rows of foreign_key_check: table, rowid, parent table, constraint index. */
static int fk_report(sqlite3_stmt *row, struct mfs_error *err)
{
	if (!row)
		return 0;
	return mfs_error_set(
	    err, EIO, "catalog: row %" PRId64 " of %s refers to a missing row of %s",
	    (int64_t)sqlite3_column_int64(row, 1), text_or(row, 0, ""), text_or(row, 2, ""));
}

static int sq_check(void *conn, struct mfs_error *err)
{
	int rc;

	rc = check_run(conn, "PRAGMA integrity_check", "integrity check", integrity_report, err);
	if (!rc)
		rc = check_run(conn, "PRAGMA foreign_key_check", "foreign key check", fk_report,
			       err);
	return rc;
}

/* The mesh's file lock stands in for db_lock (MESH/lock). */
const struct db_engine db_sqlite = {
    .dialect = DB_SQLITE,
    .shared = 0,
    .open = sq_open,
    .close = sq_close,
    .name = sq_name,
    .errmsg = sq_errmsg,
    .in_transaction = sq_in_transaction,
    .tx = sq_tx,
    .schema_version = sq_schema_version,
    .script = sq_script,
    .prepare = sq_prepare,
    .finalize = sq_finalize,
    .param_count = sq_param_count,
    .bind_int64 = sq_bind_int64,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .reset = sq_reset,
    .column_count = sq_column_count,
    .column_type = sq_column_type,
    .column_int64 = sq_column_int64,
    .column_text = sq_column_text,
    .column_blob = sq_column_blob,
    .data_version = sq_data_version,
    .change_stamp = sq_change_stamp,
    .changes_wait = sq_changes_wait,
    .check = sq_check,
};
