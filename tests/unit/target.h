/*
 * The database a catalog test runs on, empty: SQLite, a file in a temporary directory; or, when
 * MESHFS_TEST_CATALOG holds a PostgreSQL URL, a schema of the test's own in that database (the
 * URL's search_path names it, and its application_name too, which finds the test's sessions),
 * dropped after. tests/servers/with_pg.sh sets the variable.
 */
#ifndef MESHFS_TEST_TARGET_H
#define MESHFS_TEST_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct test_target {
	int pg;		/* PostgreSQL rather than SQLite */
	char dir[64];	/* SQLite: the temporary directory */
	char file[128]; /* SQLite: the database file in it */
	char *url;	/* PostgreSQL: MESHFS_TEST_CATALOG in the test's schema */
	char *base;	/* PostgreSQL: MESHFS_TEST_CATALOG as given */
	char schema[48];
};

/* Whether the tests run on PostgreSQL. */
int target_is_pg(void);
/* A new empty target; file is the name of the SQLite database in the directory (not made). */
void target_init(struct test_target *t, const char *file);
void target_release(struct test_target *t);
/* What catalog_open takes (the directory, or the URL), and what db_open does (the file, or the
 * URL). */
const char *target_catalog(const struct test_target *t);
const char *target_db(const struct test_target *t);
/* The URL of t with a different database (PostgreSQL). */
char *target_url_db(const struct test_target *t, const char *dbname);
/* The URL of t with user:password in it (PostgreSQL). */
char *target_url_password(const struct test_target *t, const char *password);

/* SQL of the test's own on the target, through a connection of its own: runs sql, or gives the
 * first column of its first row as an integer or (into out) as text. */
void target_exec(const struct test_target *t, const char *sql);
int64_t target_int(const struct test_target *t, const char *sql);
void target_text(const struct test_target *t, const char *sql, char *out, size_t size);

/* PostgreSQL: ends the sessions of the target's connections (pg_terminate_backend) and waits
 * until they are gone. Returns how many there were. */
int target_terminate(const struct test_target *t);
/* PostgreSQL: the server's postmaster. */
pid_t target_server_pid(const struct test_target *t);
/* Sends sig to the postmaster and every process it started; SIGSTOP stops the postmaster first,
 * and SIGCONT lets it go last. */
void target_server_signal(pid_t postmaster, int sig);
/* PostgreSQL: restarts the server (pg_ctl restart); -1 when with_pg.sh did not say how. */
int target_server_restart(void);

#endif
