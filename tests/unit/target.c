#include "tests/unit/target.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "tests/unit/helpers.h"

int target_is_pg(void)
{
	const char *url = getenv("MESHFS_TEST_CATALOG");

	return url && *url;
}

/* A connection of the test's own to the target, in its schema. */
static PGconn *admin_connect(const struct test_target *t)
{
	const char *keys[] = {"dbname", "application_name", NULL};
	const char *values[] = {t->base, "meshfs-test-admin", NULL};
	const char *params[] = {t->schema};
	PGconn *pg = PQconnectdbParams(keys, values, 1);
	PGresult *res;

	assert_non_null(pg);
	if (PQstatus(pg) != CONNECTION_OK)
		fail_msg("%s", PQerrorMessage(pg));
	res = PQexecParams(pg,
			   "SELECT set_config('search_path', $1, false), "
			   "set_config('client_min_messages', 'warning', false)",
			   1, NULL, params, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	return pg;
}

/* Runs sql (with nparams text parameters) on pg; its result, which must have succeeded. */
static PGresult *admin_query(PGconn *pg, const char *sql, int nparams, const char *const *params)
{
	PGresult *res = PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	return res;
}

/* Runs an SQL text built around the schema's name, quoted as an identifier. */
static void admin_schema_sql(const struct test_target *t, PGconn *pg, const char *fmt)
{
	char *id = PQescapeIdentifier(pg, t->schema, strlen(t->schema)), sql[256];

	assert_non_null(id);
	snprintf(sql, sizeof(sql), fmt, id);
	PQfreemem(id);
	PQclear(admin_query(pg, sql, 0, NULL));
}

void target_init(struct test_target *t, const char *file)
{
	static unsigned n;
	const char *base = getenv("MESHFS_TEST_CATALOG");
	PGconn *pg;

	memset(t, 0, sizeof(*t));
	t->pg = target_is_pg();
	if (!t->pg) {
		strcpy(t->dir, "/tmp/meshfs-test-catalog-XXXXXX");
		assert_non_null(mkdtemp(t->dir));
		snprintf(t->file, sizeof(t->file), "%s/%s", t->dir, file);
		return;
	}
	snprintf(t->schema, sizeof(t->schema), "meshfs_test_%ld_%u", (long)getpid(), ++n);
	t->base = strdup(base);
	assert_non_null(t->base);
	/* the name needs no escaping in a URL: letters, digits and underscores */
	assert_true(asprintf(&t->url, "%s%coptions=-csearch_path%%3D%s&application_name=%s", base,
			     strchr(base, '?') ? '&' : '?', t->schema, t->schema) > 0);
	pg = admin_connect(t);
	admin_schema_sql(t, pg, "CREATE SCHEMA %s");
	PQfinish(pg);
}

void target_release(struct test_target *t)
{
	PGconn *pg;

	if (t->pg) {
		pg = admin_connect(t);
		admin_schema_sql(t, pg, "DROP SCHEMA %s CASCADE");
		PQfinish(pg);
	} else {
		assert_int_equal(remove_tree(t->dir), 0);
	}
	free(t->url);
	free(t->base);
	memset(t, 0, sizeof(*t));
}

const char *target_catalog(const struct test_target *t)
{
	return t->pg ? t->url : t->dir;
}

const char *target_db(const struct test_target *t)
{
	return t->pg ? t->url : t->file;
}

char *target_url_db(const struct test_target *t, const char *dbname)
{
	const char *host = strstr(t->base, "://"), *path, *query;
	char *url;

	assert_true(t->pg && host);
	path = strchr(host + 3, '/');
	assert_non_null(path);
	query = strchr(path, '?');
	assert_true(asprintf(&url, "%.*s/%s%s", (int)(path - t->base), t->base, dbname,
			     query ? query : "") > 0);
	return url;
}

char *target_url_password(const struct test_target *t, const char *password)
{
	const char *at = strchr(t->base, '@');
	char *url;

	assert_true(t->pg && at);
	assert_true(asprintf(&url, "%.*s:%s%s", (int)(at - t->base), t->base, password, at) > 0);
	return url;
}

static void sqlite_query(const struct test_target *t, const char *sql, char *out, size_t size)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int rc;

	assert_int_equal(sqlite3_open_v2(t->file, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	if (!out) {
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	} else {
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		rc = sqlite3_step(st);
		assert_int_equal(rc, SQLITE_ROW);
		snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
}

static void pg_query(const struct test_target *t, const char *sql, char *out, size_t size)
{
	PGconn *pg = admin_connect(t);
	PGresult *res = admin_query(pg, sql, 0, NULL);

	if (out) {
		assert_true(PQntuples(res) > 0);
		snprintf(out, size, "%s", PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	PQfinish(pg);
}

void target_exec(const struct test_target *t, const char *sql)
{
	(t->pg ? pg_query : sqlite_query)(t, sql, NULL, 0);
}

void target_text(const struct test_target *t, const char *sql, char *out, size_t size)
{
	(t->pg ? pg_query : sqlite_query)(t, sql, out, size);
}

int64_t target_int(const struct test_target *t, const char *sql)
{
	char buf[32];

	target_text(t, sql, buf, sizeof(buf));
	return strtoll(buf, NULL, 10);
}

int target_terminate(const struct test_target *t)
{
	const char *params[] = {t->schema};
	struct timespec pause = {0, 20000000};
	PGconn *pg = admin_connect(t);
	PGresult *res;
	int n, i;

	res = admin_query(pg,
			  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
			  "WHERE application_name = $1",
			  1, params);
	n = PQntuples(res);
	PQclear(res);
	for (i = 0; i < 250; i++) {
		res = admin_query(
		    pg, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", 1,
		    params);
		if (!strcmp(PQgetvalue(res, 0, 0), "0"))
			i = 1000;
		PQclear(res);
		nanosleep(&pause, NULL);
	}
	PQfinish(pg);
	assert_int_equal(i, 1001);
	return n;
}

/* The parent of process pid (from /proc/PID/stat, after the command's closing parenthesis), or
 * -1 if it is gone. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;
	long ppid;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %ld", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

pid_t target_server_pid(const struct test_target *t)
{
	PGconn *pg = admin_connect(t);
	pid_t pid = parent_of(PQbackendPID(pg));

	PQfinish(pg);
	assert_true(pid > 1);
	return pid;
}

void target_server_signal(pid_t postmaster, int sig)
{
	struct dirent *e;
	DIR *d;
	long pid;

	if (sig == SIGSTOP)
		assert_int_equal(kill(postmaster, sig), 0);
	d = opendir("/proc");
	assert_non_null(d);
	while ((e = readdir(d))) {
		pid = strtol(e->d_name, NULL, 10);
		if (pid > 0 && parent_of((pid_t)pid) == postmaster)
			kill((pid_t)pid, sig);
	}
	closedir(d);
	if (sig != SIGSTOP)
		assert_int_equal(kill(postmaster, sig), 0);
}

int target_server_restart(void)
{
	const char *sh = getenv("MESHFS_PG_SH"), *dir = getenv("MESHFS_PG_DIR");
	pid_t pid;
	int status;

	if (!sh || !dir)
		return -1;
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		execl(sh, sh, "restart", dir, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
