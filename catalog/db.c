#include "catalog/db.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/db_engine.h"

struct db_stmt {
	const struct db_engine *engine;
	void *h;     /* NULL until first handed out */
	int pending; /* handed out and not reset since */
};

/* Statement ids are the schema's, 0 … schema->nstatements - 1. */
struct db {
	const struct db_engine *engine;
	const struct db_schema *schema;
	void *conn;
	int depth; /* nesting of open transactions */
	size_t nstmt;
	struct db_stmt stmt[];
};

struct db_cell {
	enum db_type type; /* DB_NULL for what is not kept */
	int64_t i;
	char *s; /* text columns only */
};

/* The text of sql in the engine's dialect. */
static const char *dialect_text(const struct db *db, const struct db_sql *sql)
{
	return sql->own[db->engine->dialect] ? sql->own[db->engine->dialect] : sql->sql;
}

int db_stmt(struct db *db, size_t id, struct db_stmt **out)
{
	struct db_stmt *st;
	const char *sql;
	int rc;

	assert(id < db->nstmt);
	if (db->depth > 0 && !db->engine->in_transaction(db->conn))
		return -EIO;
	st = &db->stmt[id];
	assert(!st->pending);
	if (!st->h) {
		sql = dialect_text(db, &db->schema->statements[id]);
		assert(sql); /* every statement has a text for every engine */
		rc = db->engine->prepare(db->conn, sql, &st->h);
		if (rc)
			return rc;
	}
	st->pending = 1;
	*out = st;
	return 0;
}

int db_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	assert(st->pending);
	return st->engine->bind_int64(st->h, i, v);
}

int db_bind_text(struct db_stmt *st, int i, const char *s)
{
	assert(st->pending && s);
	return st->engine->bind_text(st->h, i, s);
}

int db_bind_blob(struct db_stmt *st, int i, const void *p, size_t len)
{
	assert(st->pending && (p || !len));
	return st->engine->bind_blob(st->h, i, p, len);
}

int db_bind_null(struct db_stmt *st, int i)
{
	assert(st->pending);
	return st->engine->bind_null(st->h, i);
}

int db_step(struct db_stmt *st)
{
	assert(st->pending);
	return st->engine->step(st->h);
}

void db_reset(struct db_stmt *st)
{
	assert(st->pending);
	st->engine->reset(st->h);
	st->pending = 0;
}

int db_column_count(struct db_stmt *st)
{
	return st->engine->column_count(st->h);
}

enum db_type db_column_type(struct db_stmt *st, int col)
{
	return st->engine->column_type(st->h, col);
}

int64_t db_column_int64(struct db_stmt *st, int col)
{
	return st->engine->column_int64(st->h, col);
}

const char *db_column_text(struct db_stmt *st, int col)
{
	return st->engine->column_text(st->h, col);
}

const void *db_column_blob(struct db_stmt *st, int col, size_t *len)
{
	return st->engine->column_blob(st->h, col, len);
}

static int vquery(struct db *db, size_t id, struct db_stmt **out, const char *fmt, va_list ap)
{
	struct db_stmt *st;
	const char *s;
	const void *blob;
	size_t len;
	int i, rc;

	rc = db_stmt(db, id, &st);
	if (rc)
		return rc;
	assert(strlen(fmt) == (size_t)st->engine->param_count(st->h));
	for (i = 1; *fmt && !rc; fmt++, i++) {
		switch (*fmt) {
		case 't':
			s = va_arg(ap, const char *);
			rc = s ? db_bind_text(st, i, s) : db_bind_null(st, i);
			break;
		case 'i':
			rc = db_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		case 'b':
			blob = va_arg(ap, const void *);
			len = va_arg(ap, size_t);
			rc = db_bind_blob(st, i, blob, len);
			break;
		default:
			assert(!"bad bind format");
		}
	}
	if (rc)
		db_reset(st);
	else
		*out = st;
	return rc;
}

int db_query(struct db *db, size_t id, struct db_stmt **out, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vquery(db, id, out, fmt, ap);
	va_end(ap);
	return rc;
}

static int run(struct db_stmt *st)
{
	int rc;

	while ((rc = db_step(st)) == 1)
		;
	db_reset(st);
	return rc;
}

int db_exec(struct db *db, size_t id, const char *fmt, ...)
{
	struct db_stmt *st;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vquery(db, id, &st, fmt, ap);
	va_end(ap);
	return rc ? rc : run(st);
}

/* Binds column col of src's current row to parameter col + 1 of dst. */
static int bind_column(struct db_stmt *dst, struct db_stmt *src, int col)
{
	const void *p;
	size_t len;

	switch (db_column_type(src, col)) {
	case DB_NULL:
		return db_bind_null(dst, col + 1);
	case DB_INTEGER:
		return db_bind_int64(dst, col + 1, db_column_int64(src, col));
	case DB_BLOB:
		p = db_column_blob(src, col, &len);
		/* an empty blob reads as NULL; it is still a value */
		return db_bind_blob(dst, col + 1, p ? p : "", len);
	case DB_FLOAT:
	case DB_TEXT:
		break;
	}
	return db_bind_text(dst, col + 1, db_column_text(src, col));
}

int db_copy(struct db *from, size_t select_id, struct db *to, size_t insert_id, uint64_t *rows)
{
	struct db_stmt *src, *dst;
	int rc, n;

	*rows = 0;
	rc = db_stmt(from, select_id, &src);
	if (rc)
		return rc;
	while ((rc = db_step(src)) == 1) {
		rc = db_stmt(to, insert_id, &dst);
		if (rc)
			break;
		n = db_column_count(src);
		for (int col = 0; !rc && col < n; col++)
			rc = bind_column(dst, src, col);
		/* src's values stay valid until its next step: dst runs first */
		if (rc)
			db_reset(dst);
		else
			rc = run(dst);
		if (rc)
			break;
		(*rows)++;
	}
	db_reset(src);
	return rc;
}

/* 1 with *out set if the statement gives a row whose first column is not NULL, 0 if not; the
 * statement is reset. */
static int first_int64(struct db_stmt *st, int64_t *out)
{
	int rc = db_step(st);

	if (rc == 1) {
		if (db_column_type(st, 0) == DB_NULL)
			rc = 0;
		else
			*out = db_column_int64(st, 0);
	}
	db_reset(st);
	return rc;
}

int db_query_int64(struct db *db, size_t id, int64_t *out, const char *fmt, ...)
{
	struct db_stmt *st;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vquery(db, id, &st, fmt, ap);
	va_end(ap);
	return rc ? rc : first_int64(st, out);
}

int db_lookup(struct db *db, size_t id, int64_t *out, const char *fmt, ...)
{
	struct db_stmt *st;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vquery(db, id, &st, fmt, ap);
	va_end(ap);
	if (!rc)
		rc = first_int64(st, out);
	return rc < 0 ? rc : rc ? 0 : -ENOENT;
}

static char empty_text[1];

void db_rows_release(struct db_rows *r)
{
	size_t k;

	for (k = 0; k < r->n * r->ncols; k++)
		free(r->cell[k].s);
	free(r->cell);
	memset(r, 0, sizeof(*r));
}

/* Makes room for one more row of r and returns it, zeroed; NULL when out of memory. */
static struct db_cell *rows_add(struct db_rows *r)
{
	struct db_cell *cell;
	size_t cap;

	if (r->n == r->cap) {
		cap = r->cap ? 2 * r->cap : 16;
		cell = reallocarray(r->cell, cap * r->ncols, sizeof(*cell));
		if (!cell)
			return NULL;
		r->cell = cell;
		r->cap = cap;
	}
	cell = r->cell + r->n++ * r->ncols;
	memset(cell, 0, r->ncols * sizeof(*cell));
	return cell;
}

static int rows_collect(struct db_stmt *st, struct db_rows *r)
{
	struct db_cell *row;
	size_t j;
	int rc;

	memset(r, 0, sizeof(*r));
	while ((rc = db_step(st)) == 1) {
		/* an engine may know the columns only once the statement ran */
		if (!r->ncols)
			r->ncols = (size_t)db_column_count(st);
		assert(r->ncols > 0);
		row = rows_add(r);
		if (!row) {
			rc = -ENOMEM;
			break;
		}
		for (j = 0; j < r->ncols && rc >= 0; j++) {
			row[j].type = db_column_type(st, (int)j);
			switch (row[j].type) {
			case DB_INTEGER:
				row[j].i = db_column_int64(st, (int)j);
				break;
			case DB_TEXT:
				row[j].s = strdup(db_column_text(st, (int)j));
				if (!row[j].s)
					rc = -ENOMEM;
				break;
			default:
				row[j].type = DB_NULL;
				break;
			}
		}
		if (rc < 0)
			break;
	}
	db_reset(st);
	if (rc < 0)
		db_rows_release(r);
	return rc;
}

int db_collect(struct db *db, size_t id, struct db_rows *r, const char *fmt, ...)
{
	struct db_stmt *st;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vquery(db, id, &st, fmt, ap);
	va_end(ap);
	if (rc)
		return rc;
	return rows_collect(st, r);
}

static const struct db_cell *rows_cell(const struct db_rows *r, size_t row, size_t col)
{
	assert(row < r->n && col < r->ncols);
	return &r->cell[row * r->ncols + col];
}

char *db_rows_text(const struct db_rows *r, size_t row, size_t col)
{
	char *s = rows_cell(r, row, col)->s;

	return s ? s : empty_text;
}

int64_t db_rows_int64(const struct db_rows *r, size_t row, size_t col)
{
	return rows_cell(r, row, col)->i;
}

int db_rows_is_null(const struct db_rows *r, size_t row, size_t col)
{
	return rows_cell(r, row, col)->type == DB_NULL;
}

/* Runs transaction statement what; once the engine has ended the transaction, only the
 * outermost rollback, which the engine must hear of. */
static int tx_exec(struct db *db, enum db_tx what)
{
	if (db->depth > 0 && what != DB_TX_ROLLBACK && !db->engine->in_transaction(db->conn))
		return -EIO;
	return db->engine->tx(db->conn, what);
}

int db_begin(struct db *db)
{
	int rc = tx_exec(db, db->depth ? DB_TX_SAVEPOINT : DB_TX_BEGIN);

	if (!rc)
		db->depth++;
	return rc;
}

void db_rollback(struct db *db)
{
	if (!db->depth)
		return;
	/* Errors are ignored: the engine may have rolled back already, and nothing else can be
	 * done. */
	if (db->depth == 1) {
		db->depth = 0;
		tx_exec(db, DB_TX_ROLLBACK);
	} else {
		if (!tx_exec(db, DB_TX_ROLLBACK_TO))
			tx_exec(db, DB_TX_RELEASE);
		db->depth--;
	}
}

int db_commit(struct db *db)
{
	int rc;

	assert(db->depth > 0);
	rc = tx_exec(db, db->depth == 1 ? DB_TX_COMMIT : DB_TX_RELEASE);
	if (rc) {
		db_rollback(db);
		return rc;
	}
	db->depth--;
	return 0;
}

int db_finish(struct db *db, int rc)
{
	if (rc) {
		db_rollback(db);
		return rc;
	}
	return db_commit(db);
}

/* Records the engine's message for a failure rc while opening the database. */
static int open_error(struct db *db, int rc, struct mfs_error *err)
{
	return mfs_error_set(err, rc, "%s: %s", db_name(db), db->engine->errmsg(db->conn));
}

/* With DB_CREATE, the schema must be empty: -EEXIST if v says it is not. */
static int create_check(struct db *db, int create, int64_t v, struct mfs_error *err)
{
	if (create && v != 0)
		return mfs_error_set(err, EEXIST,
				     "%s: already holds a mesh (schema version %" PRId64 ")",
				     db_name(db), v);
	return 0;
}

/* Brings the schema up to the latest version, one step per transaction. The version is read
 * again under the write lock, since another process may be migrating the same database. */
static int migrate(struct db *db, int flags, struct mfs_error *err)
{
	const struct db_sql *step;
	int64_t latest = (int64_t)db->schema->nmigrations, v, now;
	int create = flags & DB_CREATE;
	int rc;

	for (;;) {
		rc = db->engine->schema_version(db->conn, &v);
		if (rc)
			return open_error(db, rc, err);
		rc = create_check(db, create, v, err);
		if (rc)
			return rc;
		if (v > latest)
			return mfs_error_set(err, ENOTSUP,
					     "%s: schema version %" PRId64
					     " is newer than this meshfs knows (%" PRId64
					     "); use a newer meshfs",
					     db_name(db), v, latest);
		if (v == latest)
			return 0;
		if (flags & DB_READONLY)
			return mfs_error_set(err, EROFS,
					     "%s: schema version %" PRId64
					     " must be upgraded, which a read-only open cannot do",
					     db_name(db), v);
		rc = db_begin(db);
		if (rc)
			return open_error(db, rc, err);
		rc = db->engine->schema_version(db->conn, &v);
		/* another creator may have come first */
		if (!rc && create_check(db, create, v, err)) {
			db_rollback(db);
			return -EEXIST;
		}
		if (!rc && v >= 0 && v < latest) {
			step = &db->schema->migrations[v];
			rc = db->engine->script(db->conn, dialect_text(db, step));
			/* a step that does not record its version would run again */
			if (!rc)
				rc = db->engine->schema_version(db->conn, &now);
			if (!rc && now != v + 1)
				rc = mfs_error_set(err, EIO,
						   "%s: migration step %" PRId64
						   " records version %" PRId64,
						   db_name(db), v + 1, now);
		}
		if (!rc)
			rc = db_commit(db);
		if (rc) {
			rc = open_error(db, rc, err);
			db_rollback(db);
			return mfs_error_set(err, rc,
					     "%s: migration to schema version %" PRId64 " failed",
					     db_name(db), v + 1);
		}
		create = 0; /* the steps that follow find what the first made */
	}
}

int db_open(struct db **out, const struct db_engine *engine, const char *target, int flags,
	    const struct db_schema *schema, struct mfs_error *err)
{
	struct db *db;
	size_t i, n = schema->nstatements;
	int rc;

	assert(!(flags & ~(DB_READONLY | DB_CREATE)));
	*out = NULL;
	db = calloc(1, sizeof(*db) + n * sizeof(db->stmt[0]));
	if (!db) {
		/* not target: a URL may hold a password */
		rc = mfs_error_set(err, ENOMEM, "catalog: out of memory");
		goto out;
	}
	db->engine = engine;
	db->schema = schema;
	db->nstmt = n;
	for (i = 0; i < n; i++)
		db->stmt[i].engine = engine;
	rc = engine->open(&db->conn, target, flags & DB_READONLY, err);
	if (rc) {
		free(db);
		db = NULL;
		goto out;
	}
	rc = migrate(db, flags, err);
out:
	if (rc)
		db_close(db);
	else
		*out = db;
	return rc;
}

void db_close(struct db *db)
{
	size_t i;

	if (!db)
		return;
	for (i = 0; i < db->nstmt; i++) {
		assert(!db->stmt[i].pending);
		if (db->stmt[i].h)
			db->engine->finalize(db->stmt[i].h);
	}
	db->engine->close(db->conn);
	free(db);
}

const char *db_name(const struct db *db)
{
	return db->engine->name(db->conn);
}

int db_is_shared(const struct db *db)
{
	return db->engine->shared;
}

int db_data_version(struct db *db, int64_t *out)
{
	return db->engine->data_version(db->conn, out);
}

int db_change_stamp(struct db *db, uint64_t *out)
{
	return db->engine->change_stamp(db->conn, out);
}

int db_changes_wait(struct db *db, int timeout_ms)
{
	assert(timeout_ms >= 0);
	return db->engine->changes_wait(db->conn, timeout_ms);
}

int db_lock(struct db *db, int exclusive, int wait)
{
	return db->engine->lock ? db->engine->lock(db->conn, exclusive, wait) : -ENOTSUP;
}

void db_unlock(struct db *db, int exclusive)
{
	if (db->engine->unlock)
		db->engine->unlock(db->conn, exclusive);
}

int db_check(struct db *db, struct mfs_error *err)
{
	return db->engine->check(db->conn, err);
}
