/* The catalog's database layer, on its own schema: migrations, statements, transactions. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "catalog/db.h"

/* clang-format off */
static const struct db_sql steps[] = {
	{.own[DB_SQLITE] =
	 "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	 "  note TEXT, n INTEGER NOT NULL DEFAULT 0 CHECK (n >= 0),"
	 "  parent INTEGER REFERENCES t (id), data BLOB);"
	 "CREATE TABLE steps (step INTEGER NOT NULL);"
	 "INSERT INTO steps VALUES (1);"
	 "PRAGMA user_version = 1;"},
	/* needs the table of step 1: fails if run before it, or twice */
	{.own[DB_SQLITE] =
	 "ALTER TABLE steps ADD COLUMN again INTEGER;"
	 "INSERT INTO steps (step) VALUES (2);"
	 "PRAGMA user_version = 2;"},
	{.own[DB_SQLITE] =
	 "INSERT INTO steps (step) VALUES (3);"
	 "PRAGMA user_version = 3;"},
	/* forgets to record its version */
	{.own[DB_SQLITE] = "INSERT INTO steps (step) VALUES (4);"},
};
/* clang-format on */

enum {
	ST_INSERT,
	ST_INSERT_NOTE,
	ST_INSERT_BLOB,
	ST_NAME,
	ST_NOTE_IS_NULL,
	ST_NOTE,
	ST_DATA,
	ST_COUNT_ROWS,
	ST_STEPS,
	ST_VERSION,
	ST_NCOUNT
};

static const struct db_sql statements[ST_NCOUNT] = {
    [ST_INSERT] = {.sql = "INSERT INTO t (name, n, parent) VALUES (?1, ?2, ?3) RETURNING id"},
    [ST_INSERT_NOTE] = {.sql = "INSERT INTO t (name, note) VALUES (?1, ?2)"},
    [ST_INSERT_BLOB] = {.sql = "INSERT INTO t (name, data) VALUES (?1, ?2)"},
    [ST_NAME] = {.sql = "SELECT name FROM t WHERE id = ?1"},
    [ST_NOTE_IS_NULL] = {.sql = "SELECT note IS NULL FROM t WHERE name = ?1"},
    [ST_NOTE] = {.sql = "SELECT note, n FROM t WHERE name = ?1"},
    [ST_DATA] = {.sql = "SELECT data FROM t WHERE name = ?1"},
    [ST_COUNT_ROWS] = {.sql = "SELECT count(*) FROM t"},
    [ST_STEPS] = {.sql = "SELECT group_concat(step, ',') FROM (SELECT step FROM steps ORDER BY "
			 "rowid)"},
    /* a dialect's own text wins over the common one */
    [ST_VERSION] = {.sql = "SELECT -1", .own[DB_SQLITE] = "PRAGMA user_version"},
};

struct fixture {
	char dir[64];
	char path[96];
	struct db *db;
};

static struct db_schema schema_of(size_t nmigrations)
{
	return (struct db_schema){.migrations = steps,
				  .nmigrations = nmigrations,
				  .statements = statements,
				  .nstatements = ST_NCOUNT};
}

static struct db_schema schema3;

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int fd;

	assert_non_null(f);
	strcpy(f->dir, "/tmp/meshfs-test-db-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/test.db", f->dir);
	fd = open(f->path, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	schema3 = schema_of(3);
	assert_int_equal(db_open(&f->db, &db_sqlite, f->path, 0, &schema3, NULL), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[128];

	db_close(f->db);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void steps_equal(struct db *db, const char *want)
{
	struct db_rows r;

	assert_int_equal(db_collect(db, ST_STEPS, &r, ""), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(db_rows_text(&r, 0, 0), want);
	db_rows_release(&r);
}

static void test_migrations(void **state)
{
	struct fixture *f = *state;
	struct db_schema two = schema_of(2), four = schema_of(4);
	struct mfs_error err = {{0}};
	struct db *db;
	int64_t v;

	/* in order, once each */
	steps_equal(f->db, "1,2,3");
	assert_int_equal(db_query_int64(f->db, ST_VERSION, &v, ""), 1);
	assert_int_equal(v, 3);
	db_close(f->db);
	f->db = NULL;

	/* Reopened, nothing runs again. */
	assert_int_equal(db_open(&f->db, &db_sqlite, f->path, 0, &schema3, NULL), 0);
	steps_equal(f->db, "1,2,3");

	/* A schema that knows fewer steps refuses the newer database. */
	assert_int_equal(db_open(&db, &db_sqlite, f->path, 0, &two, &err), -ENOTSUP);
	assert_null(db);
	assert_non_null(strstr(err.msg, "newer"));

	/* A step that does not record its version fails, and is rolled back. */
	mfs_error_clear(&err);
	assert_int_equal(db_open(&db, &db_sqlite, f->path, 0, &four, &err), -EIO);
	assert_non_null(strstr(err.msg, "step 4"));
	steps_equal(f->db, "1,2,3");

	/* A read-only open cannot migrate. */
	assert_int_equal(db_open(&db, &db_sqlite, f->path, DB_READONLY, &schema3, NULL), 0);
	db_close(db);
	assert_int_equal(db_open(&db, &db_sqlite, f->path, DB_READONLY, &four, NULL), -EROFS);
}

static void test_missing(void **state)
{
	struct fixture *f = *state;
	struct mfs_error err = {{0}};
	char path[128];
	struct db *db;

	snprintf(path, sizeof(path), "%s/none.db", f->dir);
	assert_true(db_open(&db, &db_sqlite, path, 0, &schema3, &err) < 0);
	assert_null(db);
	assert_non_null(strstr(err.msg, "none.db"));
}

static int64_t count(struct db *db)
{
	int64_t n = -1;

	assert_int_equal(db_query_int64(db, ST_COUNT_ROWS, &n, ""), 1);
	return n;
}

static void insert(struct db *db, const char *name)
{
	int64_t id;

	assert_int_equal(db_lookup(db, ST_INSERT, &id, "tit", name, (int64_t)0, NULL), 0);
}

static void test_transactions(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;

	/* an inner level rolled back leaves the outer one's changes */
	assert_int_equal(db_begin(db), 0);
	insert(db, "a");
	assert_int_equal(db_begin(db), 0);
	insert(db, "b");
	assert_int_equal(count(db), 2);
	db_rollback(db);
	assert_int_equal(count(db), 1);
	/* an inner level committed is undone with the outer one */
	assert_int_equal(db_begin(db), 0);
	insert(db, "c");
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(count(db), 2);
	db_rollback(db);
	assert_int_equal(count(db), 0);

	/* three levels, all committed */
	assert_int_equal(db_begin(db), 0);
	insert(db, "a");
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_begin(db), 0);
	insert(db, "b");
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(count(db), 2);

	/* db_finish commits on 0, rolls back and passes the error on otherwise */
	assert_int_equal(db_begin(db), 0);
	insert(db, "c");
	assert_int_equal(db_finish(db, -EINVAL), -EINVAL);
	assert_int_equal(count(db), 2);
	assert_int_equal(db_begin(db), 0);
	insert(db, "c");
	assert_int_equal(db_finish(db, 0), 0);
	assert_int_equal(count(db), 3);

	/* outside any transaction, a rollback does nothing */
	db_rollback(db);
	assert_int_equal(count(db), 3);
}

static void test_reuse(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	struct db_stmt *st;
	int64_t a, b;

	assert_int_equal(db_lookup(db, ST_INSERT, &a, "tit", "first", (int64_t)1, NULL), 0);
	assert_int_equal(db_lookup(db, ST_INSERT, &b, "tit", "second", (int64_t)2, NULL), 0);
	assert_true(b > a);

	/* by hand: bind, step, reset, and again with other values */
	assert_int_equal(db_stmt(db, ST_NAME, &st), 0);
	assert_int_equal(db_bind_int64(st, 1, a), 0);
	assert_int_equal(db_step(st), 1);
	assert_int_equal(db_column_count(st), 1);
	assert_string_equal(db_column_text(st, 0), "first");
	assert_int_equal(db_step(st), 0);
	db_reset(st);
	assert_int_equal(db_stmt(db, ST_NAME, &st), 0);
	assert_int_equal(db_bind_int64(st, 1, b), 0);
	assert_int_equal(db_step(st), 1);
	assert_string_equal(db_column_text(st, 0), "second");
	db_reset(st);
	/* reset unbinds: no id matches NULL */
	assert_int_equal(db_stmt(db, ST_NAME, &st), 0);
	assert_int_equal(db_step(st), 0);
	db_reset(st);
}

static void test_null_and_empty(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	struct db_stmt *st;
	struct db_rows r;
	int64_t is_null;

	assert_int_equal(db_exec(db, ST_INSERT_NOTE, "tt", "none", NULL), 0);
	assert_int_equal(db_exec(db, ST_INSERT_NOTE, "tt", "empty", ""), 0);
	assert_int_equal(db_query_int64(db, ST_NOTE_IS_NULL, &is_null, "t", "none"), 1);
	assert_int_equal(is_null, 1);
	assert_int_equal(db_query_int64(db, ST_NOTE_IS_NULL, &is_null, "t", "empty"), 1);
	assert_int_equal(is_null, 0);

	assert_int_equal(db_query(db, ST_NOTE, &st, "t", "none"), 0);
	assert_int_equal(db_step(st), 1);
	assert_int_equal(db_column_type(st, 0), DB_NULL);
	assert_null(db_column_text(st, 0));
	db_reset(st);
	assert_int_equal(db_query(db, ST_NOTE, &st, "t", "empty"), 0);
	assert_int_equal(db_step(st), 1);
	assert_int_equal(db_column_type(st, 0), DB_TEXT);
	assert_string_equal(db_column_text(st, 0), "");
	db_reset(st);

	/* rows keep the difference; an integer 0 is not NULL */
	assert_int_equal(db_collect(db, ST_NOTE, &r, "t", "none"), 0);
	assert_int_equal(r.n, 1);
	assert_true(db_rows_is_null(&r, 0, 0));
	assert_string_equal(db_rows_text(&r, 0, 0), "");
	assert_false(db_rows_is_null(&r, 0, 1));
	assert_int_equal(db_rows_int64(&r, 0, 1), 0);
	db_rows_release(&r);
	assert_int_equal(db_collect(db, ST_NOTE, &r, "t", "empty"), 0);
	assert_false(db_rows_is_null(&r, 0, 0));
	db_rows_release(&r);

	/* no row at all */
	assert_int_equal(db_query_int64(db, ST_NOTE_IS_NULL, &is_null, "t", "nosuch"), 0);
	assert_int_equal(db_lookup(db, ST_NOTE_IS_NULL, &is_null, "t", "nosuch"), -ENOENT);
	assert_int_equal(db_collect(db, ST_NOTE, &r, "t", "nosuch"), 0);
	assert_int_equal(r.n, 0);
	db_rows_release(&r);
}

static void test_blob(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	static const uint8_t data[] = {0, 1, 2, 0, 255};
	struct db_stmt *st;
	const void *p;
	size_t len;

	assert_int_equal(db_exec(db, ST_INSERT_BLOB, "tb", "bin", (const void *)data, sizeof(data)),
			 0);
	assert_int_equal(db_query(db, ST_DATA, &st, "t", "bin"), 0);
	assert_int_equal(db_step(st), 1);
	assert_int_equal(db_column_type(st, 0), DB_BLOB);
	p = db_column_blob(st, 0, &len);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(p, data, sizeof(data));
	db_reset(st);
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	struct db *ro;
	int64_t id;

	insert(f->db, "a");
	assert_int_equal(db_lookup(f->db, ST_INSERT, &id, "tit", "a", (int64_t)0, NULL), -EEXIST);
	assert_int_equal(db_lookup(f->db, ST_INSERT, &id, "tit", "b", (int64_t)-1, NULL), -EINVAL);
	assert_int_equal(db_lookup(f->db, ST_INSERT, &id, "tii", "b", (int64_t)0, (int64_t)999),
			 -ENOENT);
	assert_int_equal(db_exec(f->db, ST_INSERT_NOTE, "tt", NULL, "x"), -EINVAL);
	/* a failed statement inside a transaction leaves the rest of it */
	assert_int_equal(db_begin(f->db), 0);
	insert(f->db, "b");
	assert_int_equal(db_lookup(f->db, ST_INSERT, &id, "tit", "b", (int64_t)0, NULL), -EEXIST);
	assert_int_equal(db_commit(f->db), 0);
	assert_int_equal(count(f->db), 2);

	assert_int_equal(db_open(&ro, &db_sqlite, f->path, DB_READONLY, &schema3, NULL), 0);
	assert_int_equal(db_lookup(ro, ST_INSERT, &id, "tit", "c", (int64_t)0, NULL), -EROFS);
	assert_int_equal(count(ro), 2);
	db_close(ro);
}

static void test_change_detection(void **state)
{
	struct fixture *f = *state;
	int64_t before, after;
	uint64_t s1, s2;
	struct db *other;

	assert_int_equal(db_open(&other, &db_sqlite, f->path, 0, &schema3, NULL), 0);
	assert_int_equal(db_data_version(f->db, &before), 0);
	assert_int_equal(db_change_stamp(f->db, &s1), 0);
	/* own commits change the stamp, not the data version */
	insert(f->db, "mine");
	assert_int_equal(db_data_version(f->db, &after), 0);
	assert_int_equal(after, before);
	assert_int_equal(db_change_stamp(f->db, &s2), 0);
	assert_true(s2 != s1);
	/* another connection's commit changes both */
	insert(other, "theirs");
	assert_int_equal(db_data_version(f->db, &after), 0);
	assert_true(after != before);
	assert_int_equal(db_change_stamp(f->db, &s1), 0);
	assert_true(s1 != s2);
	db_close(other);
}

static void test_check(void **state)
{
	struct mfs_error err = {{0}};

	assert_int_equal(db_check(((struct fixture *)*state)->db, &err), 0);
	assert_string_equal(err.msg, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reuse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_null_and_empty, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_blob, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_change_detection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
