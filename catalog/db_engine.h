/*
 * What an SQL engine implements for the database layer (catalog/db.h), which does the rest:
 * caching statements, binding from formats, collecting rows, nesting transactions and running
 * migrations. A connection and a statement are the engine's own (void *); every function that
 * can fail returns 0 (or what it says) or -errno, mapped as catalog/db.h lists.
 */
#ifndef MESHFS_CATALOG_DB_ENGINE_H
#define MESHFS_CATALOG_DB_ENGINE_H

#include "catalog/db.h"

/* The statements of a transaction, in the engine's words. */
enum db_tx {
	DB_TX_BEGIN, /* takes the write lock */
	DB_TX_COMMIT,
	DB_TX_ROLLBACK,
	DB_TX_SAVEPOINT,   /* an inner level */
	DB_TX_RELEASE,	   /* commits the innermost savepoint */
	DB_TX_ROLLBACK_TO, /* undoes what the innermost savepoint holds, keeping it */
	DB_TX_COUNT,
};

struct db_engine {
	enum db_dialect dialect; /* which db_sql.own[] text it takes */
	int shared;		 /* whether other hosts reach the same database */

	/* Opens target and configures the connection; err names target as name() does. */
	int (*open)(void **conn, const char *target, int readonly, struct mfs_error *err);
	/* Every statement has been finalized. */
	void (*close)(void *conn);
	/* The target as messages may show it. */
	const char *(*name)(void *conn);
	/* The message of the connection's last failure. */
	const char *(*errmsg)(void *conn);
	/* Whether a transaction is open: an engine may end one on its own after an error. */
	int (*in_transaction)(void *conn);
	/* Runs a statement of a transaction. The layer asks for DB_TX_ROLLBACK also after the
	 * engine ended the transaction, and for nothing else then. */
	int (*tx)(void *conn, enum db_tx what);

	/* The version the migration steps record. */
	int (*schema_version)(void *conn, int64_t *v);
	/* Runs the statements of a migration step, which has no parameters. */
	int (*script)(void *conn, const char *sql);

	int (*prepare)(void *conn, const char *sql, void **st);
	void (*finalize)(void *st);
	int (*param_count)(void *st);
	int (*bind_int64)(void *st, int i, int64_t v);
	int (*bind_text)(void *st, int i, const char *s);
	int (*bind_blob)(void *st, int i, const void *p, size_t len);
	int (*bind_null)(void *st, int i);
	/* 1 for a row, 0 when done, or -errno. */
	int (*step)(void *st);
	/* Rewinds the statement, drops its bindings and releases what it holds of the database. */
	void (*reset)(void *st);
	int (*column_count)(void *st);
	enum db_type (*column_type)(void *st, int col);
	int64_t (*column_int64)(void *st, int col);
	const char *(*column_text)(void *st, int col);
	const void *(*column_blob)(void *st, int col, size_t *len);

	int (*data_version)(void *conn, int64_t *out);
	int (*change_stamp)(void *conn, uint64_t *out);
	int (*changes_wait)(void *conn, int timeout_ms);
	/* The mesh lock (db_lock); NULL for an engine without one. */
	int (*lock)(void *conn, int exclusive, int wait);
	void (*unlock)(void *conn, int exclusive);
	int (*check)(void *conn, struct mfs_error *err);
};

#endif
