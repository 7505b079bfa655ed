/*
 * The PostgreSQL engine of the database layer, through libpq: the catalog of a mesh that many
 * hosts share. Its schema version is the one row of table meshfs_schema.
 *
 * Every round trip is bounded by mfs_timeout_ms(): the connection is made and every command
 * runs with libpq's asynchronous calls, polling the socket until a deadline, so that a server
 * that stopped answering gives -ETIMEDOUT instead of a hang. The connection is then dropped, not
 * cancelled: libpq's PQcancel blocks, without a bound, on the very server that stopped. The
 * server ends what it was running on its own instead, as each session sets statement_timeout and
 * lock_timeout a little under the client's bound and checks for a vanished client
 * (client_connection_check_interval).
 *
 * Commands go out as pipelines: a statement prepared for the first time on a connection, a
 * savepoint around it inside a transaction, BEGIN and the write lock, each one round trip. A
 * statement finding its connection lost makes a new one, outside a transaction and the mesh
 * lock, whose loss it reports as -EIO instead.
 */
#include "catalog/db_engine.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "catalog/pg_url.h"
#include "common/clock.h"
#include "common/strbuf.h"
#include "common/timeout.h"

/* The type oids of the columns read (PostgreSQL's catalog/pg_type.dat, which libpq does not
 * install). */
enum {
	OID_BOOL = 16,
	OID_BYTEA = 17,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_TEXT = 25,
	OID_OID = 26,
	OID_FLOAT4 = 700,
	OID_FLOAT8 = 701,
	OID_NUMERIC = 1700,
};

/* Advisory locks, by (class, id): "mesh" in ASCII, then which. Every outermost transaction holds
 * the write lock, as SQLite's BEGIN IMMEDIATE would; sessions hold the mesh lock (db_lock). */
#define LOCK_CLASS "1835365224"
#define WRITE_LOCK LOCK_CLASS ", 1"
#define MESH_LOCK  LOCK_CLASS ", 2"

/* A session idle inside a transaction this many bounds is taken for a client that died, and
 * ended by the server: it holds the write lock of the whole mesh. */
#define IDLE_IN_TX_BOUNDS 6

struct pg {
	PGconn *pg; /* NULL while there is none */
	char *url;
	struct strbuf name; /* url without its passwords */
	int readonly;
	int in_tx;    /* BEGIN ran; neither COMMIT nor ROLLBACK since */
	int locks[2]; /* mesh locks held: shared, exclusive */
	int lost;     /* the loss of the connection was told, its return not yet */
	/* Until then a lost connection is not made again: the server let the last attempt wait
	 * its whole bound, and the requests queued behind it would each wait as long. */
	int64_t down_until;
	/* connections made: a statement prepared on an earlier one is prepared again */
	uint64_t generation;
	unsigned nstmts;      /* statements named so far */
	uint64_t stamp;	      /* db_change_stamp */
	int64_t data_version; /* db_data_version */
	int64_t waited;	      /* the data version changes_wait last answered for */
	char errmsg[512];
	char farewell[256]; /* why the server said it ends the session, if it did */
};

struct pg_stmt {
	struct pg *c;
	char name[24];
	char *sql; /* placeholders $N */
	int nparams;
	uint64_t generation; /* of the connection it is prepared on; 0: none */
	PGresult *res;	     /* its rows, once run */
	int row;	     /* the current one; -1 before the first step */
	unsigned char *blob; /* the last bytea column decoded */
	const char **values;
	int *lengths, *formats;
	Oid *types;
	char (*ints)[24]; /* the text of integer parameters */
};

/* Records msg as the connection's last failure: on one line, without the URL's passwords. */
static void set_errmsg(struct pg *c, const char *msg)
{
	struct strbuf sb;
	size_t i, j;

	strbuf_init(&sb);
	if (pg_url_scrub(c->url, msg, &sb)) {
		snprintf(c->errmsg, sizeof(c->errmsg), "out of memory");
	} else {
		/* libpq ends lines with newlines and indents its hints */
		for (i = j = 0; i < sb.len; i++)
			if (!isspace((unsigned char)sb.buf[i]) || (j && sb.buf[j - 1] != ' '))
				sb.buf[j++] = isspace((unsigned char)sb.buf[i]) ? ' ' : sb.buf[i];
		while (j && sb.buf[j - 1] == ' ')
			j--;
		snprintf(c->errmsg, sizeof(c->errmsg), "%.*s", (int)j, sb.buf);
	}
	strbuf_release(&sb);
}

/* Closes a connection that failed (why, unless the server said why first), telling so once
 * until one is made again. */
static void conn_drop(struct pg *c, const char *why)
{
	set_errmsg(c, c->farewell[0] ? c->farewell : why);
	c->farewell[0] = '\0';
	if (!c->lost)
		fprintf(stderr, "meshfs: catalog: lost the connection to %s: %s\n", c->name.buf,
			c->errmsg);
	c->lost = 1;
	PQfinish(c->pg);
	c->pg = NULL;
}

/* Counts the notifications that came: every one changes the stamp, another session's the data
 * version too. */
static void notifications_take(struct pg *c)
{
	PGnotify *n;

	while ((n = PQnotifies(c->pg))) {
		if (n->be_pid != PQbackendPID(c->pg))
			c->data_version++;
		c->stamp++;
		PQfreemem(n);
	}
}

/* Reads what the server sent unasked (notifications, or the end of the connection) without
 * waiting for more. libpq stops at the end of what one read gave: a server that ends a session
 * sends why, then closes, which only the next read finds. */
static void conn_input(struct pg *c)
{
	struct pollfd p;

	if (!c->pg)
		return;
	do {
		if (PQstatus(c->pg) != CONNECTION_OK || !PQconsumeInput(c->pg) ||
		    PQstatus(c->pg) != CONNECTION_OK) {
			conn_drop(c, PQerrorMessage(c->pg));
			return;
		}
		notifications_take(c);
		p = (struct pollfd){.fd = PQsocket(c->pg), .events = POLLIN};
	} while (poll(&p, 1, 0) > 0);
}

/* Waits until fd is ready for events, or -ETIMEDOUT at deadline. */
static int fd_wait(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	int64_t left;
	int n;

	for (;;) {
		left = deadline - mfs_clock_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/*
 * The server last found away, for every connection of the process: the mount publishes on a
 * connection of its own each time, which would otherwise wait the whole bound again after the
 * daemon's connection had just waited it (a close through the mount took two bounds). Known by a
 * hash of its URL, so that no copy of a password is kept.
 */
static pthread_mutex_t away_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t away_url;
static int64_t away_until;

static uint64_t url_hash(const char *url)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */

	for (; *url; url++)
		h = (h ^ (unsigned char)*url) * 1099511628211ull;
	return h;
}

/* Whether another connection to c's server found it away a moment ago. */
static int away_elsewhere(struct pg *c)
{
	uint64_t h = url_hash(c->url);
	int away;

	pthread_mutex_lock(&away_lock);
	away = away_url == h && mfs_clock_ms() < away_until;
	pthread_mutex_unlock(&away_lock);
	return away;
}

/* A server that let a request wait its whole bound is not asked again for a while
 * (mfs_away_ms), by any connection of the process to it. */
static void down_hold(struct pg *c)
{
	c->down_until = mfs_clock_ms() + mfs_away_ms();
	pthread_mutex_lock(&away_lock);
	away_url = url_hash(c->url);
	away_until = c->down_until;
	pthread_mutex_unlock(&away_lock);
}

/* Ends a round trip that did not complete (rc): the connection is dropped. */
static int trip_failed(struct pg *c, int rc)
{
	char why[64];

	if (rc == -ETIMEDOUT) {
		snprintf(why, sizeof(why), "no answer within %d s", mfs_timeout_ms() / 1000);
		conn_drop(c, why);
		down_hold(c);
	} else {
		conn_drop(c, PQerrorMessage(c->pg));
	}
	return rc;
}

/* Sends what libpq holds for the server. */
static int trip_flush(struct pg *c, int64_t deadline)
{
	int r, rc;

	while ((r = PQflush(c->pg)) == 1) {
		rc = fd_wait(PQsocket(c->pg), POLLIN | POLLOUT, deadline);
		if (rc)
			return rc;
		if (!PQconsumeInput(c->pg))
			return -EIO;
	}
	return r ? -EIO : 0;
}

/* The next result, once it can be had without blocking; NULL ends a command's results. */
static int trip_result(struct pg *c, int64_t deadline, PGresult **res)
{
	int rc;

	*res = NULL;
	while (PQisBusy(c->pg)) {
		rc = fd_wait(PQsocket(c->pg), POLLIN, deadline);
		if (rc)
			return rc;
		if (!PQconsumeInput(c->pg))
			return -EIO;
	}
	*res = PQgetResult(c->pg);
	return PQstatus(c->pg) == CONNECTION_OK ? 0 : -EIO;
}

/* A command of a round trip. */
struct cmd {
	enum { CMD_QUERY, CMD_PREPARE, CMD_EXEC } kind;
	const char *sql; /* CMD_QUERY, with nparams text parameters */
	int nparams;
	const char *const *params;
	struct pg_stmt *st; /* CMD_PREPARE, CMD_EXEC */
	PGresult *res;	    /* its result, which the caller clears */
};

static int cmd_send(struct pg *c, const struct cmd *m)
{
	const struct pg_stmt *st = m->st;

	switch (m->kind) {
	case CMD_QUERY:
		return PQsendQueryParams(c->pg, m->sql, m->nparams, NULL, m->params, NULL, NULL, 0);
	case CMD_PREPARE:
		return PQsendPrepare(c->pg, st->name, st->sql, st->nparams, st->types);
	case CMD_EXEC:
		return PQsendQueryPrepared(c->pg, st->name, st->nparams, st->values, st->lengths,
					   st->formats, 0);
	}
	return 0;
}

static void cmds_clear(struct cmd *cmds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		PQclear(cmds[i].res);
		cmds[i].res = NULL;
	}
}

/*
 * Runs the n commands in one round trip (a pipeline): each gets its result, which after a
 * failed one is PGRES_PIPELINE_ABORTED. -ETIMEDOUT or -EIO, the connection dropped, when the
 * round trip did not complete. With n 0, a bare round trip: every notification the server sent
 * before it has come.
 */
static int trip(struct pg *c, struct cmd *cmds, size_t n)
{
	int64_t deadline = mfs_clock_ms() + mfs_timeout_ms();
	PGresult *res = NULL;
	size_t i;
	int rc = 0;

	assert(c->pg);
	for (i = 0; i < n; i++)
		cmds[i].res = NULL;
	if (!PQenterPipelineMode(c->pg))
		rc = -EIO;
	for (i = 0; !rc && i < n; i++)
		if (!cmd_send(c, &cmds[i]))
			rc = -EIO;
	if (!rc && !PQpipelineSync(c->pg))
		rc = -EIO;
	if (!rc)
		rc = trip_flush(c, deadline);
	for (i = 0; !rc && i < n; i++) {
		rc = trip_result(c, deadline, &cmds[i].res);
		if (!rc && !cmds[i].res)
			rc = -EIO;
		if (!rc)
			rc = trip_result(c, deadline, &res);
		if (!rc && res)
			rc = -EIO; /* one result a command */
		PQclear(res);
		res = NULL;
	}
	if (!rc)
		rc = trip_result(c, deadline, &res);
	if (!rc && PQresultStatus(res) != PGRES_PIPELINE_SYNC)
		rc = -EIO;
	PQclear(res);
	if (!rc && !PQexitPipelineMode(c->pg))
		rc = -EIO;
	if (rc) {
		cmds_clear(cmds, n);
		return trip_failed(c, rc);
	}
	notifications_take(c);
	return 0;
}

/* The errno an SQLSTATE stands for (catalog/db.h): by code, or by class for two letters. */
static int state_errno(const char *state)
{
	static const struct {
		const char *state;
		int err;
	} map[] = {
	    {"23505", EEXIST},	  {"23503", ENOENT}, {"23514", EINVAL}, {"23502", EINVAL},
	    {"22", EINVAL},	  {"54000", EINVAL}, {"40001", EBUSY},	{"40P01", EBUSY},
	    {"55P03", EBUSY},	  {"25006", EROFS},  {"42501", EACCES}, {"28", EACCES},
	    {"57014", ETIMEDOUT}, {"53100", ENOSPC}, {"53200", ENOMEM},
	};

	for (size_t i = 0; state && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strncmp(state, map[i].state, strlen(map[i].state)))
			return -map[i].err;
	return -EIO;
}

/* 0 for a result that succeeded; else its errno, with its message recorded. */
static int result_errno(struct pg *c, const PGresult *res)
{
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_EMPTY_QUERY:
		return 0;
	case PGRES_PIPELINE_ABORTED:
		return -EIO; /* the failure before it was recorded */
	default:
		set_errmsg(c, PQresultErrorMessage(res));
		return state_errno(PQresultErrorField(res, PG_DIAG_SQLSTATE));
	}
}

/* trip(), failing with the first command that failed; the results are cleared. */
static int trip_check(struct pg *c, struct cmd *cmds, size_t n)
{
	int rc = trip(c, cmds, n);

	for (size_t i = 0; !rc && i < n; i++)
		rc = result_errno(c, cmds[i].res);
	cmds_clear(cmds, n);
	return rc;
}

/*
 * Runs the n (at most 2) commands of body, in one round trip, keeping their results in body
 * (cleared on failure). Inside a transaction a savepoint around them undoes them when one fails,
 * as in SQLite, where PostgreSQL would fail the rest of the transaction.
 */
static int run(struct pg *c, struct cmd *body, size_t n)
{
	static const char *const savepoint[] = {"SAVEPOINT meshfs_statement",
						"RELEASE meshfs_statement",
						"ROLLBACK TO meshfs_statement"};
	struct cmd cmds[4], undo[2] = {{.kind = CMD_QUERY, .sql = savepoint[2]},
				       {.kind = CMD_QUERY, .sql = savepoint[1]}};
	size_t k = 0, i;
	int inside, rc;

	assert(c->pg && n <= 2);
	inside = PQtransactionStatus(c->pg) == PQTRANS_INTRANS;
	if (inside)
		cmds[k++] = (struct cmd){.kind = CMD_QUERY, .sql = savepoint[0]};
	memcpy(cmds + k, body, n * sizeof(*body));
	k += n;
	if (inside)
		cmds[k++] = (struct cmd){.kind = CMD_QUERY, .sql = savepoint[1]};
	rc = trip(c, cmds, k);
	if (rc)
		return rc;
	for (i = 0; i < k && !rc; i++)
		rc = result_errno(c, cmds[i].res);
	for (i = 0; i < n; i++) {
		body[i].res = cmds[i + !!inside].res;
		cmds[i + !!inside].res = NULL;
	}
	cmds_clear(cmds, k);
	if (rc)
		cmds_clear(body, n);
	if (rc && inside && !trip(c, undo, 2))
		cmds_clear(undo, 2);
	return rc;
}

static int conn_connect(struct pg *c);

/* The connection to run a command on: the one there is, or a new one when it was lost, unless
 * what it held is lost with it (a transaction, the mesh lock). */
static int conn_ready(struct pg *c)
{
	conn_input(c);
	if (c->pg)
		return 0;
	if (c->in_tx) {
		set_errmsg(c, "the connection was lost, and the transaction with it");
		return -EIO;
	}
	if (c->locks[0] || c->locks[1]) {
		set_errmsg(c, "the connection was lost, and the mesh lock with it");
		return -EIO;
	}
	/* errmsg still says why the last attempt failed */
	if (mfs_clock_ms() < c->down_until)
		return -ETIMEDOUT;
	return conn_connect(c);
}

/* Runs the query sql (nparams text parameters) and copies the first column of its first row
 * into out ("" for none, or NULL). */
static int query_text(struct pg *c, const char *sql, int nparams, const char *const *params,
		      char *out, size_t size)
{
	struct cmd m = {.kind = CMD_QUERY, .sql = sql, .nparams = nparams, .params = params};
	int rc;

	rc = conn_ready(c);
	if (!rc)
		rc = run(c, &m, 1);
	if (rc)
		return rc;
	snprintf(out, size, "%s",
		 PQntuples(m.res) && PQnfields(m.res) ? PQgetvalue(m.res, 0, 0) : "");
	PQclear(m.res);
	return 0;
}

/* What libpq would print of the server's notices (a text search without words, …) is not
 * printed; one that ends the session (FATAL, as from pg_terminate_backend or a shutdown) says
 * why the connection is lost. */
static void notice_take(void *arg, const PGresult *res)
{
	struct pg *c = arg;
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

	if (severity && (!strcmp(severity, "FATAL") || !strcmp(severity, "PANIC")))
		snprintf(c->farewell, sizeof(c->farewell), "%s",
			 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
}

/* Sets the session up: notifications, the server's own bounds, and read-only if so opened. */
static int conn_setup(struct pg *c)
{
	char statement[16], lock[16], idle[16], keepalive[16], interval[16], user[16];
	const char *params[] = {
	    statement, lock, idle, keepalive, interval, user, c->readonly ? "on" : "off"};
	struct cmd cmds[2] = {
	    {.kind = CMD_QUERY, .sql = "LISTEN " DB_PG_CHANNEL},
	    {.kind = CMD_QUERY,
	     .sql = "SELECT set_config('statement_timeout', $1, false), "
		    "set_config('lock_timeout', $2, false), "
		    "set_config('idle_in_transaction_session_timeout', $3, false), "
		    "set_config('client_connection_check_interval', '1000', false), "
		    "set_config('tcp_keepalives_idle', $4, false), "
		    "set_config('tcp_keepalives_interval', $5, false), "
		    "set_config('tcp_keepalives_count', '3', false), "
		    "set_config('tcp_user_timeout', $6, false), "
		    "set_config('default_transaction_read_only', $7, false)",
	     .nparams = 7,
	     .params = params},
	};
	int ms = mfs_timeout_ms(), s = ms / 1000, margin = ms / 8 < 500 ? ms / 8 : 500;

	/* The server gives up first, while the client still listens for why; on a lock first of
	 * all, so that a wait that lasts says -EBUSY. */
	snprintf(statement, sizeof(statement), "%d", ms - margin);
	snprintf(lock, sizeof(lock), "%d", ms - 2 * margin);
	snprintf(idle, sizeof(idle), "%d", ms * IDLE_IN_TX_BOUNDS);
	snprintf(keepalive, sizeof(keepalive), "%d", s);
	snprintf(interval, sizeof(interval), "%d", s / 3 ? s / 3 : 1);
	snprintf(user, sizeof(user), "%d", ms);
	return trip_check(c, cmds, 2);
}

/* Makes the connection, within the bound: the first, or again after one was lost. */
static int conn_connect(struct pg *c)
{
	char timeout_s[16], user_timeout[16], idle[16], interval[16];
	const char *const keys[] = {"dbname",
				    "connect_timeout",
				    "keepalives",
				    "keepalives_idle",
				    "keepalives_interval",
				    "keepalives_count",
				    "tcp_user_timeout",
				    "client_encoding",
				    "fallback_application_name",
				    NULL};
	/* after the URL, so that these win over what it says */
	const char *const values[] = {c->url, timeout_s,    "1",    idle,     interval,
				      "3",    user_timeout, "UTF8", "meshfs", NULL};
	int ms = mfs_timeout_ms(), s = ms / 1000, rc = 0;
	int64_t deadline = mfs_clock_ms() + ms;
	PostgresPollingStatusType state = PGRES_POLLING_WRITING;

	assert(!c->pg);
	if (away_elsewhere(c)) {
		snprintf(c->errmsg, sizeof(c->errmsg), "no answer within %d s", s);
		return -ETIMEDOUT;
	}
	snprintf(timeout_s, sizeof(timeout_s), "%d", s);
	snprintf(user_timeout, sizeof(user_timeout), "%d", ms);
	snprintf(idle, sizeof(idle), "%d", s);
	snprintf(interval, sizeof(interval), "%d", s / 3 ? s / 3 : 1);
	c->pg = PQconnectStartParams(keys, values, 1);
	if (!c->pg) {
		set_errmsg(c, "out of memory");
		return -ENOMEM;
	}
	while (PQstatus(c->pg) != CONNECTION_BAD && state != PGRES_POLLING_OK &&
	       state != PGRES_POLLING_FAILED) {
		rc = fd_wait(PQsocket(c->pg), state == PGRES_POLLING_READING ? POLLIN : POLLOUT,
			     deadline);
		if (rc)
			break;
		state = PQconnectPoll(c->pg);
	}
	if (rc == -ETIMEDOUT) {
		snprintf(c->errmsg, sizeof(c->errmsg), "no answer within %d s", s);
		down_hold(c);
	} else if (rc)
		snprintf(c->errmsg, sizeof(c->errmsg), "%s", strerror(-rc));
	else if (state != PGRES_POLLING_OK)
		set_errmsg(c, PQerrorMessage(c->pg));
	if (!rc && state != PGRES_POLLING_OK)
		rc = PQconnectionNeedsPassword(c->pg) ? -EACCES : -EIO;
	if (!rc && PQsetnonblocking(c->pg, 1)) {
		set_errmsg(c, PQerrorMessage(c->pg));
		rc = -EIO;
	}
	if (rc) {
		PQfinish(c->pg);
		c->pg = NULL;
		return rc;
	}
	PQsetNoticeReceiver(c->pg, notice_take, c);
	rc = conn_setup(c);
	if (rc) {
		PQfinish(c->pg);
		c->pg = NULL;
		return rc;
	}
	/* what the lost one missed is not known: anything may have changed */
	if (c->generation++) {
		c->stamp++;
		c->data_version++;
	}
	if (c->lost)
		fprintf(stderr, "meshfs: catalog: connected again to %s\n", c->name.buf);
	c->lost = 0;
	return 0;
}

static void pg_close(void *conn)
{
	struct pg *c = conn;

	PQfinish(c->pg);
	if (c->url)
		explicit_bzero(c->url, strlen(c->url));
	free(c->url);
	strbuf_release(&c->name);
	free(c);
}

static int pg_open(void **conn, const char *target, int readonly, struct mfs_error *err)
{
	struct pg *c;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return mfs_error_set(err, ENOMEM, "catalog: out of memory");
	strbuf_init(&c->name);
	c->readonly = readonly;
	c->url = strdup(target);
	if (!c->url || pg_url_display(target, &c->name)) {
		rc = mfs_error_set(err, ENOMEM, "catalog: out of memory");
		goto out;
	}
	rc = conn_connect(c);
	if (rc)
		rc = mfs_error_set(err, rc, "%s: %s", c->name.buf, c->errmsg);
	c->waited = c->data_version;
out:
	if (rc)
		pg_close(c);
	else
		*conn = c;
	return rc;
}

static const char *pg_name(void *conn)
{
	return ((struct pg *)conn)->name.buf;
}

static const char *pg_errmsg(void *conn)
{
	return ((struct pg *)conn)->errmsg;
}

static int pg_in_transaction(void *conn)
{
	struct pg *c = conn;
	PGTransactionStatusType s;

	if (!c->pg)
		return 0;
	s = PQtransactionStatus(c->pg);
	return s == PQTRANS_INTRANS || s == PQTRANS_INERROR;
}

/* BEGIN and the write lock, one round trip. */
static int tx_begin(struct pg *c)
{
	struct cmd cmds[2] = {
	    {.kind = CMD_QUERY, .sql = "BEGIN"},
	    {.kind = CMD_QUERY, .sql = "SELECT pg_advisory_xact_lock(" WRITE_LOCK ")"},
	};
	struct cmd undo = {.kind = CMD_QUERY, .sql = "ROLLBACK"};
	int rc;

	assert(!c->in_tx);
	rc = conn_ready(c);
	if (!rc)
		rc = trip_check(c, cmds, 2);
	if (!rc)
		c->in_tx = 1;
	else if (c->pg && PQtransactionStatus(c->pg) != PQTRANS_IDLE && !trip(c, &undo, 1))
		cmds_clear(&undo, 1);
	return rc;
}

static int pg_tx(void *conn, enum db_tx what)
{
	static const char *const sql[DB_TX_COUNT] = {
	    [DB_TX_COMMIT] = "COMMIT",
	    [DB_TX_ROLLBACK] = "ROLLBACK",
	    [DB_TX_SAVEPOINT] = "SAVEPOINT meshfs_nested",
	    [DB_TX_RELEASE] = "RELEASE meshfs_nested",
	    [DB_TX_ROLLBACK_TO] = "ROLLBACK TO meshfs_nested",
	};
	struct pg *c = conn;
	struct cmd m = {.kind = CMD_QUERY, .sql = sql[what]};
	int rc;

	if (what == DB_TX_BEGIN)
		return tx_begin(c);
	/* the layer rolls back after a COMMIT that failed, which ended the transaction already */
	assert(c->in_tx || what == DB_TX_ROLLBACK);
	if (what == DB_TX_ROLLBACK || what == DB_TX_COMMIT)
		c->in_tx = 0;
	/* without the connection, the server rolled it back when the connection went */
	if (what == DB_TX_ROLLBACK && (!c->pg || PQtransactionStatus(c->pg) == PQTRANS_IDLE))
		return 0;
	if (!c->pg)
		return -EIO;
	rc = trip(c, &m, 1);
	if (rc)
		return rc;
	rc = result_errno(c, m.res);
	/* COMMIT of a transaction that failed rolls it back, and says so */
	if (!rc && what == DB_TX_COMMIT && !strcmp(PQcmdStatus(m.res), "ROLLBACK")) {
		set_errmsg(c, "the transaction failed and was rolled back");
		rc = -EIO;
	}
	if (!rc && what == DB_TX_COMMIT)
		c->stamp++;
	PQclear(m.res);
	return rc;
}

static int pg_schema_version(void *conn, int64_t *v)
{
	struct pg *c = conn;
	char buf[32];
	int rc;

	/* asked first: a query of a table that is not there would fail the transaction */
	rc = query_text(c, "SELECT to_regclass('meshfs_schema') IS NOT NULL", 0, NULL, buf,
			sizeof(buf));
	if (!rc && !strcmp(buf, "t"))
		rc = query_text(c, "SELECT coalesce(max(version), 0) FROM meshfs_schema", 0, NULL,
				buf, sizeof(buf));
	if (!rc)
		*v = strcmp(buf, "f") ? strtoll(buf, NULL, 10) : 0;
	return rc;
}

static int pg_script(void *conn, const char *sql)
{
	struct pg *c = conn;
	int64_t deadline;
	PGresult *res;
	int rc, failed = 0;

	rc = conn_ready(c);
	if (rc)
		return rc;
	deadline = mfs_clock_ms() + mfs_timeout_ms();
	/* the simple protocol: the one that takes several statements */
	if (!PQsendQuery(c->pg, sql))
		return trip_failed(c, -EIO);
	rc = trip_flush(c, deadline);
	while (!rc) {
		rc = trip_result(c, deadline, &res);
		if (rc || !res)
			break;
		if (!failed)
			failed = result_errno(c, res);
		PQclear(res);
	}
	if (rc)
		return trip_failed(c, rc);
	notifications_take(c);
	return failed;
}

/* Rewrites the ?N placeholders of sql to PostgreSQL's $N, in place (outside quoted text);
 * *n is the highest N. */
static int placeholders(char *sql, int *n)
{
	char quote = 0, *end;
	long v;

	*n = 0;
	for (char *p = sql; *p; p++) {
		if (quote) {
			if (*p == quote)
				quote = 0;
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
		} else if (*p == '?') {
			if (!isdigit((unsigned char)p[1]))
				return -EINVAL;
			*p = '$';
			v = strtol(p + 1, &end, 10);
			if (v < 1 || v > 65535)
				return -EINVAL;
			if (v > *n)
				*n = (int)v;
			p = end - 1;
		}
	}
	return quote ? -EINVAL : 0;
}

static void pg_finalize(void *p)
{
	struct pg_stmt *st = p;

	PQclear(st->res);
	PQfreemem(st->blob);
	free(st->sql);
	free(st->values);
	free(st->lengths);
	free(st->formats);
	free(st->types);
	free(st->ints);
	free(st);
}

/* Prepared on the server when first run on each connection (pg_step). */
static int pg_prepare(void *conn, const char *sql, void **out)
{
	struct pg *c = conn;
	struct pg_stmt *st;
	size_t n;
	int rc;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->c = c;
	st->row = -1;
	st->sql = strdup(sql);
	if (!st->sql) {
		rc = -ENOMEM;
		goto out;
	}
	rc = placeholders(st->sql, &st->nparams);
	if (rc) {
		snprintf(c->errmsg, sizeof(c->errmsg), "bad placeholders in: %s", sql);
		goto out;
	}
	n = (size_t)st->nparams + 1;
	st->values = calloc(n, sizeof(*st->values));
	st->lengths = calloc(n, sizeof(*st->lengths));
	st->formats = calloc(n, sizeof(*st->formats));
	st->types = calloc(n, sizeof(*st->types));
	st->ints = calloc(n, sizeof(*st->ints));
	if (!st->values || !st->lengths || !st->formats || !st->types || !st->ints) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(st->name, sizeof(st->name), "meshfs_%u", ++c->nstmts);
out:
	if (rc)
		pg_finalize(st);
	else
		*out = st;
	return rc;
}

static int pg_param_count(void *st)
{
	return ((struct pg_stmt *)st)->nparams;
}

/* Parameter i of st, as text or (format 1) bytes, of type oid (0: the server infers it). The
 * types of the first run are those the statement is prepared with. */
static int param_set(struct pg_stmt *st, int i, const char *value, int len, int format, Oid oid)
{
	assert(i >= 1 && i <= st->nparams && !st->res);
	st->values[i - 1] = value;
	st->lengths[i - 1] = len;
	st->formats[i - 1] = format;
	st->types[i - 1] = oid;
	return 0;
}

static int pg_bind_int64(void *p, int i, int64_t v)
{
	struct pg_stmt *st = p;

	assert(i >= 1 && i <= st->nparams);
	snprintf(st->ints[i - 1], sizeof(st->ints[0]), "%" PRId64, v);
	return param_set(st, i, st->ints[i - 1], 0, 0, OID_INT8);
}

static int pg_bind_text(void *st, int i, const char *s)
{
	return param_set(st, i, s, 0, 0, OID_TEXT);
}

static int pg_bind_blob(void *st, int i, const void *p, size_t len)
{
	if (len > INT_MAX)
		return -EINVAL;
	/* a bytea that is not NULL needs a pointer, even when empty */
	return param_set(st, i, len ? p : "", (int)len, 1, OID_BYTEA);
}

static int pg_bind_null(void *st, int i)
{
	return param_set(st, i, NULL, 0, 0, 0);
}

/* Runs st: prepares it first on a connection it is new to. */
static int stmt_run(struct pg_stmt *st)
{
	struct pg *c = st->c;
	struct cmd cmds[2];
	size_t n = 0;
	int prepare, rc;

	rc = conn_ready(c);
	if (rc)
		return rc;
	prepare = st->generation != c->generation;
	if (prepare)
		cmds[n++] = (struct cmd){.kind = CMD_PREPARE, .st = st};
	cmds[n++] = (struct cmd){.kind = CMD_EXEC, .st = st};
	rc = run(c, cmds, n);
	if (rc)
		return rc;
	if (prepare)
		st->generation = c->generation;
	st->res = cmds[n - 1].res;
	PQclear(prepare ? cmds[0].res : NULL);
	/* a write counts as a change of this connection's: its commit follows or it was one */
	if (strncmp(PQcmdStatus(st->res), "SELECT", 6))
		c->stamp++;
	return 0;
}

static int pg_step(void *p)
{
	struct pg_stmt *st = p;
	int rc;

	if (!st->res) {
		rc = stmt_run(st);
		if (rc)
			return rc;
	}
	PQfreemem(st->blob);
	st->blob = NULL;
	if (st->row < PQntuples(st->res))
		st->row++;
	return st->row < PQntuples(st->res);
}

static void pg_reset(void *p)
{
	struct pg_stmt *st = p;

	PQclear(st->res);
	st->res = NULL;
	st->row = -1;
	PQfreemem(st->blob);
	st->blob = NULL;
	for (int i = 0; i < st->nparams; i++)
		st->values[i] = NULL;
}

static int pg_column_count(void *st)
{
	return PQnfields(((struct pg_stmt *)st)->res);
}

/* Whether column col of the current row is NULL. */
static int column_null(const struct pg_stmt *st, int col)
{
	assert(st->res && st->row >= 0 && st->row < PQntuples(st->res));
	return PQgetisnull(st->res, st->row, col);
}

static enum db_type pg_column_type(void *p, int col)
{
	struct pg_stmt *st = p;

	if (column_null(st, col))
		return DB_NULL;
	switch (PQftype(st->res, col)) {
	case OID_BOOL:
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
	case OID_OID:
		return DB_INTEGER;
	case OID_FLOAT4:
	case OID_FLOAT8:
	case OID_NUMERIC:
		return DB_FLOAT;
	case OID_BYTEA:
		return DB_BLOB;
	}
	return DB_TEXT;
}

static int64_t pg_column_int64(void *p, int col)
{
	struct pg_stmt *st = p;
	const char *v;

	if (column_null(st, col))
		return 0;
	v = PQgetvalue(st->res, st->row, col);
	if (PQftype(st->res, col) == OID_BOOL)
		return v[0] == 't';
	return strtoll(v, NULL, 10);
}

static const char *pg_column_text(void *p, int col)
{
	struct pg_stmt *st = p;

	return column_null(st, col) ? NULL : PQgetvalue(st->res, st->row, col);
}

static const void *pg_column_blob(void *p, int col, size_t *len)
{
	struct pg_stmt *st = p;
	const char *v;

	*len = 0;
	if (column_null(st, col))
		return NULL;
	v = PQgetvalue(st->res, st->row, col);
	if (PQftype(st->res, col) != OID_BYTEA) {
		*len = (size_t)PQgetlength(st->res, st->row, col);
	} else {
		PQfreemem(st->blob);
		st->blob = PQunescapeBytea((const unsigned char *)v, len);
		if (!st->blob)
			*len = 0;
		v = (const char *)st->blob;
	}
	return *len ? v : NULL;
}

/* Exact, at the cost of a round trip: every commit that ended before has notified. */
static int pg_data_version(void *conn, int64_t *out)
{
	struct pg *c = conn;
	int rc;

	rc = conn_ready(c);
	if (!rc)
		rc = trip(c, NULL, 0);
	if (!rc)
		*out = c->data_version;
	return rc;
}

/* No round trip: what has come of the notifications. */
static int pg_change_stamp(void *conn, uint64_t *out)
{
	struct pg *c = conn;

	conn_input(c);
	*out = c->stamp;
	return 0;
}

static int pg_changes_wait(void *conn, int timeout_ms)
{
	struct pg *c = conn;
	int64_t deadline = mfs_clock_ms() + timeout_ms;
	int rc;

	conn_input(c);
	/* the next command connects again; anything may change meanwhile */
	if (!c->pg) {
		mfs_sleep_ms(timeout_ms);
		return 1;
	}
	while (c->data_version == c->waited) {
		rc = fd_wait(PQsocket(c->pg), POLLIN, deadline);
		if (rc)
			return rc == -ETIMEDOUT ? 0 : rc;
		conn_input(c);
		if (!c->pg)
			return 1;
	}
	c->waited = c->data_version;
	return 1;
}

static int pg_lock(void *conn, int exclusive, int wait)
{
	static const char *const sql[2][2] = {
	    {"SELECT pg_try_advisory_lock_shared(" MESH_LOCK ")",
	     "SELECT pg_advisory_lock_shared(" MESH_LOCK ")"},
	    {"SELECT pg_try_advisory_lock(" MESH_LOCK ")",
	     "SELECT pg_advisory_lock(" MESH_LOCK ")"},
	};
	struct pg *c = conn;
	char got[8];
	int rc;

	rc = query_text(c, sql[!!exclusive][!!wait], 0, NULL, got, sizeof(got));
	if (rc)
		return rc;
	if (!wait && strcmp(got, "t")) {
		set_errmsg(c, "the mesh lock is held");
		return -EBUSY;
	}
	c->locks[!!exclusive]++;
	return 0;
}

static void pg_unlock(void *conn, int exclusive)
{
	static const char *const sql[2] = {"SELECT pg_advisory_unlock_shared(" MESH_LOCK ")",
					   "SELECT pg_advisory_unlock(" MESH_LOCK ")"};
	struct pg *c = conn;
	char got[8];

	assert(c->locks[!!exclusive] > 0);
	c->locks[!!exclusive]--;
	conn_input(c);
	/* without the connection the server has released it already */
	if (c->pg)
		query_text(c, sql[!!exclusive], 0, NULL, got, sizeof(got));
}

/* What PostgreSQL could be told to stop checking in the catalog's schema: constraints added
 * without validation, and triggers turned off (those of foreign keys, and those that notify
 * other hosts of changes). */
static const char check_sql[] =
    "SELECT c.relname || ': ' || x.what FROM ("
    "SELECT conrelid AS rel, 'constraint ' || conname || ' is not validated' AS what "
    "FROM pg_constraint WHERE NOT convalidated "
    "UNION ALL SELECT tgrelid, 'trigger ' || tgname || ' is disabled' FROM pg_trigger "
    "WHERE tgenabled = 'D') x "
    "JOIN pg_class c ON c.oid = x.rel JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() ORDER BY 1 LIMIT 1";

static int pg_check(void *conn, struct mfs_error *err)
{
	struct pg *c = conn;
	char problem[256];
	int rc;

	rc = query_text(c, check_sql, 0, NULL, problem, sizeof(problem));
	if (rc)
		return mfs_error_set(err, rc, "catalog: check failed to run: %s", c->errmsg);
	if (problem[0])
		return mfs_error_set(err, EIO, "catalog: %s", problem);
	return 0;
}

const struct db_engine db_pg = {
    .dialect = DB_PG,
    .shared = 1,
    .open = pg_open,
    .close = pg_close,
    .name = pg_name,
    .errmsg = pg_errmsg,
    .in_transaction = pg_in_transaction,
    .tx = pg_tx,
    .schema_version = pg_schema_version,
    .script = pg_script,
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .param_count = pg_param_count,
    .bind_int64 = pg_bind_int64,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .reset = pg_reset,
    .column_count = pg_column_count,
    .column_type = pg_column_type,
    .column_int64 = pg_column_int64,
    .column_text = pg_column_text,
    .column_blob = pg_column_blob,
    .data_version = pg_data_version,
    .change_stamp = pg_change_stamp,
    .changes_wait = pg_changes_wait,
    .lock = pg_lock,
    .unlock = pg_unlock,
    .check = pg_check,
};
