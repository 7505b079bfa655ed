/* The catalog, on SQLite, or on PostgreSQL when MESHFS_TEST_CATALOG names one
 * (tests/unit/target.h); the tests of what a shared catalog adds skip on SQLite. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/strbuf.h"
#include "tests/unit/target.h"

struct fixture {
	struct test_target t;
	struct catalog *cat;
};

/* Another connection to the fixture's catalog. */
static int reopen(const struct fixture *f, struct catalog **cat, int flags, struct mfs_error *err)
{
	return catalog_open(cat, target_catalog(&f->t), flags, err);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct mfs_error err = {{0}};

	assert_non_null(f);
	target_init(&f->t, "catalog.db");
	assert_int_equal(reopen(f, &f->cat, CATALOG_CREATE, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	catalog_close(f->cat);
	target_release(&f->t);
	free(f);
	return 0;
}

/* A segment id from a number: 64 hex digits. */
static void seg(char out[65], unsigned n)
{
	snprintf(out, 65, "%064x", n);
}

static struct catalog_contract_meta meta(const char *yaml, const char *description,
					 const char *const *tables, size_t ntables)
{
	struct catalog_contract_meta m = {
	    .yaml = yaml,
	    .semver = "1.0.0",
	    .description = description,
	    .status = "active",
	    .frequency_seconds = 86400,
	    .tables = tables,
	    .ntables = ntables,
	    .search_text = "orders customers email",
	};
	return m;
}

static const char *const two_tables[] = {"customers", "orders"};

/* A team "sales" owning domain "orders" with product "orders/daily". */
static int64_t make_product(struct catalog *cat)
{
	struct catalog_contract_meta m = meta("yaml: 1\n", "Daily orders", two_tables, 2);
	struct catalog_product p;
	int64_t id;

	assert_int_equal(catalog_team_create(cat, "sales"), 0);
	assert_int_equal(catalog_domain_create(cat, "orders", "sales", "All orders", 100), 0);
	assert_int_equal(catalog_product_create(cat, "orders", "daily", &m, "alice", 200), 0);
	assert_int_equal(catalog_product_get(cat, "orders", "daily", &p), 0);
	id = p.id;
	catalog_product_release(&p);
	return id;
}

static void table(struct catalog_table_version *t, const char *name, unsigned segment,
		  uint64_t rows, int has_pii)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	seg(t->segment, segment);
	t->rows = rows;
	t->masked_size = rows * 10;
	t->plain_size = rows * 10 + (has_pii ? 5 : 0);
	t->has_pii = has_pii;
}

static void test_open(void **state)
{
	struct fixture *f = *state;
	struct mfs_error err = {{0}};
	struct catalog *cat, *ro;
	struct stat sb;

	if (!f->t.pg) {
		assert_int_equal(stat(f->t.file, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
	}
	assert_int_equal(catalog_is_shared(f->cat), f->t.pg);
	assert_int_equal(catalog_target_shared(target_catalog(&f->t)), f->t.pg);

	assert_int_equal(reopen(f, &cat, CATALOG_CREATE, &err), -EEXIST);
	assert_non_null(strstr(err.msg, f->t.pg ? "already holds a mesh" : "catalog.db"));
	assert_null(cat);

	mfs_error_clear(&err);
	if (!f->t.pg) {
		assert_int_equal(catalog_open(&cat, "/nonexistent-meshfs-dir", 0, &err), -ENOENT);
		assert_true(err.msg[0] != '\0');
	}
	assert_int_equal(reopen(f, &cat, CATALOG_CREATE | CATALOG_READONLY, NULL), -EINVAL);

	/* Reopened, the catalog keeps what was written. */
	assert_int_equal(catalog_team_create(f->cat, "sales"), 0);
	catalog_close(f->cat);
	f->cat = NULL;
	assert_int_equal(reopen(f, &f->cat, 0, &err), 0);
	assert_int_equal(catalog_team_has_member(f->cat, "sales", "nobody"), 0);
	assert_int_equal(catalog_team_create(f->cat, "sales"), -EEXIST);

	/* Read-only: reads work, writes are refused. */
	assert_int_equal(reopen(f, &ro, CATALOG_READONLY, &err), 0);
	assert_int_equal(catalog_team_add(ro, "sales", "alice"), -EROFS);
	assert_int_equal(catalog_team_add(f->cat, "sales", "alice"), 0);
	assert_int_equal(catalog_team_has_member(ro, "sales", "alice"), 1);
	catalog_close(ro);
}

/* Nowhere to create: no such directory, or no such database on the server. */
static void test_create_in_missing_place(void **state)
{
	struct test_target t;
	struct mfs_error err = {{0}};
	struct catalog *cat;
	char *url;

	if (!target_is_pg()) {
		assert_int_equal(
		    catalog_open(&cat, "/nonexistent-meshfs-dir", CATALOG_CREATE, NULL), -ENOENT);
		return;
	}
	target_init(&t, NULL);
	url = target_url_db(&t, "meshfs_none");
	assert_true(catalog_open(&cat, url, CATALOG_CREATE, &err) < 0);
	assert_null(cat);
	assert_non_null(strstr(err.msg, "meshfs_none"));
	free(url);
	target_release(&t);
}

/* A password in the URL is never in a message, wherever libpq put it. */
static void test_password_hidden(void **state)
{
	static const char secret[] = "Secret-pw-42";
	struct fixture *f = *state;
	struct mfs_error err = {{0}};
	struct catalog *cat;
	char *url, *bad, *shown;

	if (!f->t.pg)
		skip();
	url = target_url_password(&f->t, secret);
	/* the server refuses it: the message says why, without it */
	assert_true(catalog_open(&cat, url, 0, &err) < 0);
	assert_true(err.msg[0] != '\0');
	assert_null(strstr(err.msg, secret));
	shown = catalog_target_display(url);
	assert_non_null(shown);
	assert_string_equal(shown, f->t.base);
	free(shown);
	/* libpq quotes the text of a parameter it cannot read */
	assert_true(asprintf(&bad, "%s%cpassword=%s&port=x%s", url, strchr(url, '?') ? '&' : '?',
			     secret, secret) > 0);
	mfs_error_clear(&err);
	assert_true(catalog_open(&cat, bad, 0, &err) < 0);
	assert_true(err.msg[0] != '\0');
	assert_null(strstr(err.msg, secret));
	free(bad);
	free(url);
}

static void test_migrations(void **state)
{
	struct fixture *f = *state;
	struct test_target t2;
	struct mfs_error err = {{0}};
	struct catalog *cat;
	char mode[16];
	int pg = f->t.pg, fd;
	const char *version = pg ? "SELECT version FROM meshfs_schema" : "PRAGMA user_version";

	assert_int_equal(target_int(&f->t, version), 6);
	if (pg) {
		assert_int_equal(target_int(&f->t, "SELECT count(*) FROM information_schema.tables "
						   "WHERE table_schema = current_schema()"),
				 16);
	} else {
		target_text(&f->t, "PRAGMA journal_mode", mode, sizeof(mode));
		assert_string_equal(mode, "wal");
		assert_int_equal(
		    target_int(
			&f->t,
			"SELECT count(*) FROM sqlite_schema WHERE name IN ('teams', "
			"'team_members', 'domains', 'products', 'contracts', "
			"'contract_tables', 'contract_inputs', 'product_search', 'versions', "
			"'version_tables', 'grants', 'audit', 'keys', 'policies', "
			"'product_fts', 'settings')"),
		    16);
	}

	/* A catalog from a newer meshfs is refused with a clear message. */
	catalog_close(f->cat);
	f->cat = NULL;
	target_exec(&f->t, pg ? "UPDATE meshfs_schema SET version = 8" : "PRAGMA user_version = 8");
	assert_int_equal(reopen(f, &cat, 0, &err), -ENOTSUP);
	assert_non_null(strstr(err.msg, "newer"));
	target_exec(&f->t, pg ? "UPDATE meshfs_schema SET version = 6" : "PRAGMA user_version = 6");
	assert_int_equal(reopen(f, &f->cat, 0, NULL), 0);

	/* An empty database (schema version 0) is brought up to date on open. */
	target_init(&t2, "catalog.db");
	if (!pg) {
		fd = open(t2.file, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	/* Read-only cannot migrate. */
	mfs_error_clear(&err);
	assert_int_equal(catalog_open(&cat, target_catalog(&t2), CATALOG_READONLY, &err), -EROFS);
	assert_int_equal(catalog_open(&cat, target_catalog(&t2), 0, &err), 0);
	assert_int_equal(catalog_team_create(cat, "t1"), 0);
	catalog_close(cat);
	assert_int_equal(target_int(&t2, version), 6);
	target_release(&t2);
}

struct team_seen {
	char text[256];
	int calls;
	int stop_at;
};

static int team_cb(const char *team, const char *members, void *ctx)
{
	struct team_seen *s = ctx;
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "%s=[%s];", team, members);
	return ++s->calls == s->stop_at ? 42 : 0;
}

static int name_cb(const char *name, void *ctx)
{
	struct team_seen *s = ctx;
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "%s;", name);
	s->calls++;
	return 0;
}

static void test_teams(void **state)
{
	struct catalog *cat = ((struct fixture *)*state)->cat;
	struct team_seen s = {.calls = 0};

	assert_int_equal(catalog_team_create(cat, "sales"), 0);
	assert_int_equal(catalog_team_create(cat, "data-eng"), 0);
	assert_int_equal(catalog_team_create(cat, "empty"), 0);
	assert_int_equal(catalog_team_create(cat, "sales"), -EEXIST);
	assert_int_equal(catalog_team_create(cat, "Sales"), -EINVAL);
	assert_int_equal(catalog_team_create(cat, ""), -EINVAL);
	assert_int_equal(catalog_team_create(cat, NULL), -EINVAL);

	assert_int_equal(catalog_team_add(cat, "sales", "bob"), 0);
	assert_int_equal(catalog_team_add(cat, "sales", "alice"), 0);
	assert_int_equal(catalog_team_add(cat, "sales", "alice"), 0); /* present: fine */
	assert_int_equal(catalog_team_add(cat, "data-eng", "alice"), 0);
	assert_int_equal(catalog_team_add(cat, "nosuch", "alice"), -ENOENT);
	assert_int_equal(catalog_team_add(cat, "sales", "two words"), -EINVAL);
	assert_int_equal(catalog_team_add(cat, "sales", ""), -EINVAL);

	assert_int_equal(catalog_team_has_member(cat, "sales", "alice"), 1);
	assert_int_equal(catalog_team_has_member(cat, "sales", "carol"), 0);
	assert_int_equal(catalog_team_has_member(cat, "nosuch", "alice"), 0);

	assert_int_equal(catalog_team_list(cat, team_cb, &s), 0);
	assert_string_equal(s.text, "data-eng=[alice];empty=[];sales=[alice bob];");
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	assert_int_equal(catalog_team_list(cat, team_cb, &s), 42);
	assert_int_equal(s.calls, 2);

	memset(&s, 0, sizeof(s));
	assert_int_equal(catalog_user_teams(cat, "alice", name_cb, &s), 0);
	assert_string_equal(s.text, "data-eng;sales;");

	assert_int_equal(catalog_team_remove(cat, "sales", "alice"), 0);
	assert_int_equal(catalog_team_remove(cat, "sales", "alice"), 0); /* absent: fine */
	assert_int_equal(catalog_team_remove(cat, "nosuch", "alice"), -ENOENT);
	assert_int_equal(catalog_team_has_member(cat, "sales", "alice"), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(catalog_user_teams(cat, "alice", name_cb, &s), 0);
	assert_string_equal(s.text, "data-eng;");
}

static int domain_cb(const struct catalog_domain *d, void *ctx)
{
	struct team_seen *s = ctx;
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "%s:%s:%s;", d->name, d->owner, d->description);
	return 0;
}

static void test_domains(void **state)
{
	struct catalog *cat = ((struct fixture *)*state)->cat;
	struct catalog_domain d, d2;
	struct team_seen s = {.calls = 0};

	assert_int_equal(catalog_team_create(cat, "sales"), 0);
	assert_int_equal(catalog_domain_create(cat, "orders", "nosuch", NULL, 1), -ENOENT);
	assert_int_equal(catalog_domain_create(cat, "orders", "sales", "All orders", 100), 0);
	assert_int_equal(catalog_domain_create(cat, "orders", "sales", NULL, 100), -EEXIST);
	assert_int_equal(catalog_domain_create(cat, "payments", "sales", NULL, 101), 0);
	assert_int_equal(catalog_domain_create(cat, "mesh", "sales", NULL, 1), -EINVAL);
	assert_int_equal(catalog_domain_create(cat, "a/b", "sales", NULL, 1), -EINVAL);

	assert_int_equal(catalog_domain_get(cat, "orders", &d), 0);
	assert_string_equal(d.name, "orders");
	assert_string_equal(d.owner, "sales");
	assert_string_equal(d.description, "All orders");
	assert_int_equal(d.created_at, 100);
	assert_int_equal(catalog_domain_get_by_id(cat, d.id, &d2), 0);
	assert_string_equal(d2.name, "orders");
	catalog_domain_release(&d2);
	catalog_domain_release(&d);
	assert_int_equal(catalog_domain_get(cat, "payments", &d), 0);
	assert_string_equal(d.description, "");
	catalog_domain_release(&d);
	assert_int_equal(catalog_domain_get(cat, "nosuch", &d), -ENOENT);
	assert_int_equal(catalog_domain_get_by_id(cat, 999, &d), -ENOENT);

	assert_int_equal(catalog_domain_list(cat, domain_cb, &s), 0);
	assert_string_equal(s.text, "orders:sales:All orders;payments:sales:;");
}

static int pair_cb(const char *domain, const char *product, void *ctx)
{
	struct team_seen *s = ctx;
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "%s/%s;", domain, product);
	return 0;
}

struct list_ctx {
	struct catalog *cat;
	char text[256];
};

/* Calls back into the catalog, as callbacks may. */
static int product_cb(const struct catalog_product *p, void *ctx)
{
	struct list_ctx *l = ctx;
	struct catalog_product again;
	size_t n = strlen(l->text);

	assert_int_equal(catalog_product_get(l->cat, p->domain, p->name, &again), 0);
	assert_int_equal(again.id, p->id);
	catalog_product_release(&again);
	snprintf(l->text + n, sizeof(l->text) - n, "%s/%s@%" PRId64 ";", p->domain, p->name,
		 p->latest);
	return 0;
}

static void test_products(void **state)
{
	struct catalog *cat = ((struct fixture *)*state)->cat;
	static const char *const one_table[] = {"customers"};
	static const char *const dup_tables[] = {"a", "a"};
	static const char *const inputs[] = {"orders/daily", "crm/contacts"};
	static const char *const bad_inputs[] = {"orders"};
	struct catalog_contract_meta m;
	struct catalog_product p;
	struct team_seen s = {.calls = 0};
	struct list_ctx l = {0};
	int64_t id, seq = 0;
	char *yaml;

	id = make_product(cat);
	assert_int_equal(catalog_product_get(cat, "orders", "daily", &p), 0);
	assert_string_equal(p.domain, "orders");
	assert_string_equal(p.name, "daily");
	assert_string_equal(p.owner, "sales");
	assert_string_equal(p.description, "Daily orders");
	assert_string_equal(p.status, "active");
	assert_int_equal(p.contract_seq, 1);
	assert_int_equal(p.latest, 0);
	assert_int_equal(p.created_at, 200);
	assert_int_equal(p.updated_at, 200);
	assert_int_equal(p.frequency_seconds, 86400);
	catalog_product_release(&p);
	assert_int_equal(catalog_product_get_by_id(cat, id, &p), 0);
	assert_string_equal(p.name, "daily");
	catalog_product_release(&p);
	assert_int_equal(catalog_product_get_by_id(cat, id + 100, &p), -ENOENT);

	m = meta("yaml: dup\n", NULL, two_tables, 2);
	assert_int_equal(catalog_product_create(cat, "orders", "daily", &m, "alice", 1), -EEXIST);
	assert_int_equal(catalog_product_create(cat, "nosuch", "daily", &m, "alice", 1), -ENOENT);
	assert_int_equal(catalog_product_create(cat, "orders", "Bad", &m, "alice", 1), -EINVAL);
	assert_int_equal(catalog_product_create(cat, "orders", "x", &m, "", 1), -EINVAL);
	m.tables = dup_tables;
	assert_int_equal(catalog_product_create(cat, "orders", "x", &m, "alice", 1), -EINVAL);
	m = meta("yaml: x\n", NULL, two_tables, 2);
	m.inputs = bad_inputs;
	m.ninputs = 1;
	assert_int_equal(catalog_product_create(cat, "orders", "x", &m, "alice", 1), -EINVAL);
	assert_int_equal(catalog_product_get(cat, "orders", "x", &p), -ENOENT);

	/* A second product, fed by the first. */
	assert_int_equal(catalog_domain_create(cat, "finance", "sales", NULL, 300), 0);
	m = meta("yaml: revenue\n", "Revenue", one_table, 1);
	m.inputs = inputs;
	m.ninputs = 2;
	m.frequency_seconds = 0;
	assert_int_equal(catalog_product_create(cat, "finance", "revenue", &m, "bob", 300), 0);
	assert_int_equal(catalog_downstream(cat, "orders", "daily", pair_cb, &s), 0);
	assert_string_equal(s.text, "finance/revenue;");
	assert_int_equal(catalog_product_get(cat, "finance", "revenue", &p), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(catalog_upstream(cat, p.id, pair_cb, &s), 0);
	assert_string_equal(s.text, "crm/contacts;orders/daily;");

	/* A new contract replaces the lineage and becomes current; the old one is kept. */
	m = meta("yaml: revenue v2\n", "Revenue, v2", one_table, 1);
	m.status = "deprecated";
	m.semver = "2.0.0";
	assert_int_equal(catalog_contract_add(cat, p.id, &m, "bob", 400, &seq), 0);
	assert_int_equal(seq, 2);
	catalog_product_release(&p);
	assert_int_equal(catalog_product_get(cat, "finance", "revenue", &p), 0);
	assert_int_equal(p.contract_seq, 2);
	assert_string_equal(p.description, "Revenue, v2");
	assert_string_equal(p.status, "deprecated");
	assert_int_equal(catalog_contract_get(cat, p.id, 0, &yaml, &seq), 0);
	assert_string_equal(yaml, "yaml: revenue v2\n");
	assert_int_equal(seq, 2);
	free(yaml);
	assert_int_equal(catalog_contract_get(cat, p.id, 1, &yaml, &seq), 0);
	assert_string_equal(yaml, "yaml: revenue\n");
	assert_int_equal(seq, 1);
	free(yaml);
	assert_int_equal(catalog_contract_get(cat, p.id, 3, &yaml, NULL), -ENOENT);
	assert_null(yaml);
	assert_int_equal(catalog_contract_get(cat, 9999, 0, &yaml, NULL), -ENOENT);
	memset(&s, 0, sizeof(s));
	assert_int_equal(catalog_downstream(cat, "orders", "daily", pair_cb, &s), 0);
	assert_string_equal(s.text, "");
	assert_int_equal(catalog_upstream(cat, p.id, pair_cb, &s), 0);
	assert_string_equal(s.text, "");
	assert_int_equal(catalog_upstream(cat, 9999, pair_cb, &s), -ENOENT);
	assert_int_equal(catalog_contract_add(cat, 9999, &m, "bob", 400, &seq), -ENOENT);
	catalog_product_release(&p);

	l.cat = cat;
	assert_int_equal(catalog_product_list(cat, NULL, product_cb, &l), 0);
	assert_string_equal(l.text, "finance/revenue@0;orders/daily@0;");
	l.text[0] = '\0';
	assert_int_equal(catalog_product_list(cat, "orders", product_cb, &l), 0);
	assert_string_equal(l.text, "orders/daily@0;");
	assert_int_equal(catalog_product_list(cat, "nosuch", product_cb, &l), -ENOENT);
}

static int depth_cb(const char *domain, const char *product, int depth, void *ctx)
{
	struct team_seen *s = ctx;
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "%s/%s@%d;", domain, product, depth);
	return ++s->calls == s->stop_at ? 42 : 0;
}

/* Creates domain/name in domain "d" with the given inputs and search text. */
static void lineage_product(struct catalog *cat, const char *name, const char *const *inputs,
			    size_t ninputs, const char *search_text)
{
	struct catalog_contract_meta m = meta("yaml: x\n", name, two_tables, 2);

	m.inputs = inputs;
	m.ninputs = ninputs;
	m.search_text = search_text;
	assert_int_equal(catalog_product_create(cat, "d", name, &m, "alice", 1), 0);
}

static void test_downstream_all(void **state)
{
	struct catalog *cat = ((struct fixture *)*state)->cat;
	static const char *const from_a[] = {"d/a"};
	static const char *const from_b[] = {"d/b"};
	static const char *const from_a_c[] = {"d/a", "d/c"};
	static const char *const from_e[] = {"d/e"};
	static const char *const from_f[] = {"d/f"};
	static const char *const from_later[] = {"d/later"};
	struct catalog_contract_meta m;
	struct catalog_product p;
	struct team_seen s = {.calls = 0};

	/* a -> b -> c -> d, and a -> d directly (so d is at distance 1); e <-> f a cycle */
	assert_int_equal(catalog_team_create(cat, "t"), 0);
	assert_int_equal(catalog_domain_create(cat, "d", "t", NULL, 1), 0);
	lineage_product(cat, "a", NULL, 0, "a");
	lineage_product(cat, "b", from_a, 1, "b");
	lineage_product(cat, "c", from_b, 1, "c");
	lineage_product(cat, "d", from_a_c, 2, "d");
	lineage_product(cat, "e", from_f, 1, "e");
	lineage_product(cat, "f", from_e, 1, "f");
	lineage_product(cat, "g", from_later, 1, "g");

	assert_int_equal(catalog_downstream_all(cat, "d", "a", depth_cb, &s), 0);
	assert_string_equal(s.text, "d/b@1;d/d@1;d/c@2;");
	memset(&s, 0, sizeof(s));
	assert_int_equal(catalog_downstream_all(cat, "d", "b", depth_cb, &s), 0);
	assert_string_equal(s.text, "d/c@1;d/d@2;");
	memset(&s, 0, sizeof(s));
	assert_int_equal(catalog_downstream_all(cat, "d", "d", depth_cb, &s), 0);
	assert_string_equal(s.text, "");
	/* a cycle ends, and the product itself is not its own downstream */
	assert_int_equal(catalog_downstream_all(cat, "d", "e", depth_cb, &s), 0);
	assert_string_equal(s.text, "d/f@1;");
	/* an input that is not a product (yet) still has its consumers */
	memset(&s, 0, sizeof(s));
	assert_int_equal(catalog_downstream_all(cat, "d", "later", depth_cb, &s), 0);
	assert_string_equal(s.text, "d/g@1;");
	memset(&s, 0, sizeof(s));
	assert_int_equal(catalog_downstream_all(cat, "nosuch", "x", depth_cb, &s), 0);
	assert_int_equal(s.calls, 0);
	assert_int_equal(catalog_downstream_all(cat, "d", "Bad", depth_cb, &s), -EINVAL);
	assert_int_equal(catalog_downstream_all(cat, NULL, "a", depth_cb, &s), -EINVAL);
	/* a callback's non-zero return stops the walk and is returned */
	s.stop_at = 2;
	assert_int_equal(catalog_downstream_all(cat, "d", "a", depth_cb, &s), 42);
	assert_int_equal(s.calls, 2);

	/* a new contract of c without inputs cuts the path a -> b -> c */
	assert_int_equal(catalog_product_get(cat, "d", "c", &p), 0);
	m = meta("yaml: c2\n", "c", two_tables, 2);
	m.search_text = "c";
	assert_int_equal(catalog_contract_add(cat, p.id, &m, "alice", 2, NULL), 0);
	catalog_product_release(&p);
	memset(&s, 0, sizeof(s));
	assert_int_equal(catalog_downstream_all(cat, "d", "a", depth_cb, &s), 0);
	assert_string_equal(s.text, "d/b@1;d/d@1;");
}

struct search_seen {
	char text[512];
	int calls;
	int stop_at;
};

static int search_cb(const struct catalog_product *p, void *ctx)
{
	struct search_seen *s = ctx;
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "%s/%s;", p->domain, p->name);
	return ++s->calls == s->stop_at ? 42 : 0;
}

static int product_desc_cb(const struct catalog_product *p, void *ctx)
{
	struct search_seen *s = ctx;
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "%s/%s:%s:%s;", p->domain, p->name,
		 p->description, p->owner);
	return 0;
}

/* The products text finds, in order, as "D/P;D/P;". */
static const char *search(struct catalog *cat, const char *text, size_t limit)
{
	static struct search_seen s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(catalog_search(cat, text, limit, search_cb, &s), 0);
	return s.text;
}

static void test_search(void **state)
{
	struct catalog *cat = ((struct fixture *)*state)->cat;
	static const char *const syntax[] = {
	    "\"", "AND", "OR",		 "NOT",	  "a AND", "NEAR(a b)", "text:orders", "*",  "^a",
	    "(",  ")",	 "\"unbalanced", "a + b", "-x",	   "{a b}:c",	"''",	       "\\",
	};
	struct search_seen s = {.calls = 0};
	struct catalog_contract_meta m;
	struct catalog_product p;
	size_t i;

	assert_int_equal(catalog_team_create(cat, "t"), 0);
	assert_int_equal(catalog_domain_create(cat, "d", "t", NULL, 1), 0);
	lineage_product(cat, "orders", NULL, 0,
			"d orders Every order placed in the shop orders order_id amount");
	lineage_product(cat, "refunds", NULL, 0,
			"d refunds Money paid back for returned orders refund_id amount");
	lineage_product(cat, "customers", NULL, 0,
			"d customers People who bought something, with their e-mail address "
			"Café loyalty tier");

	/* ranked: the product about orders comes before the one that mentions them */
	assert_string_equal(search(cat, "orders", 0), "d/orders;d/refunds;");
	assert_string_equal(search(cat, "orders", 1), "d/orders;");
	/* a product named by the word comes first, even when another says it more often */
	lineage_product(cat, "order_log", NULL, 0, "d order_log orders orders orders orders");
	assert_string_equal(search(cat, "orders", 0), "d/orders;d/order_log;d/refunds;");
	assert_string_equal(search(cat, "orders", 2), "d/orders;d/order_log;");
	assert_string_equal(search(cat, "log", 0), "d/order_log;");
	assert_string_equal(search(cat, "ord", 0), "d/order_log;d/orders;d/refunds;");
	/* every word must match; the last is a prefix; case and diacritics do not matter */
	assert_string_equal(search(cat, "returned ord", 0), "d/refunds;");
	assert_string_equal(search(cat, "  ORDERS   returned  ", 0), "d/refunds;");
	assert_string_equal(search(cat, "cafe", 0), "d/customers;");
	assert_string_equal(search(cat, "CAFÉ", 0), "d/customers;");
	assert_string_equal(search(cat, "loyal", 0), "d/customers;");
	assert_string_equal(search(cat, "tier loyal", 0), "d/customers;");
	assert_string_equal(search(cat, "loyal tier", 0), "");
	assert_string_equal(search(cat, "e-mail", 0), "d/customers;");
	assert_string_equal(search(cat, "order_id", 0), "d/orders;");
	assert_string_equal(search(cat, "nothing", 0), "");
	/* words are words, not query syntax; punctuation alone is no word */
	for (i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++)
		search(cat, syntax[i], 0);
	assert_string_equal(search(cat, "\"", 0), "");
	assert_string_equal(search(cat, "", 0), "");
	assert_string_equal(search(cat, " \t", 0), "");
	assert_string_equal(search(cat, "orders \" -", 0), "d/orders;d/order_log;d/refunds;");
	assert_string_equal(search(cat, "\"orders\"", 0), "d/orders;d/order_log;d/refunds;");
	assert_string_equal(search(cat, "orders AND refunds", 0), "");
	assert_string_equal(search(cat, "orders OR customers", 0), "");
	assert_int_equal(catalog_search(cat, NULL, 0, search_cb, &s), -EINVAL);
	/* a non-zero return stops */
	s.stop_at = 1;
	assert_int_equal(catalog_search(cat, "amount", 0, search_cb, &s), 42);
	assert_int_equal(s.calls, 1);

	/* the index follows the current contract */
	assert_int_equal(catalog_product_get(cat, "d", "customers", &p), 0);
	assert_string_equal(search(cat, "customers", 0), "d/customers;");
	m = meta("yaml: c2\n", "Clients", two_tables, 2);
	m.search_text = "d customers Clients of the shop";
	assert_int_equal(catalog_contract_add(cat, p.id, &m, "alice", 2, NULL), 0);
	catalog_product_release(&p);
	assert_string_equal(search(cat, "cafe", 0), "");
	assert_string_equal(search(cat, "clients shop", 0), "d/customers;");
	/* the callback gets the whole product */
	memset(&s, 0, sizeof(s));
	assert_int_equal(catalog_search(cat, "clients", 0, product_desc_cb, &s), 0);
	assert_string_equal(s.text, "d/customers:Clients:t;");
}

struct version_seen {
	char text[512];
};

static int version_cb(const struct catalog_version *v, void *ctx)
{
	struct version_seen *s = ctx;
	size_t i, n = strlen(s->text);

	n += (size_t)snprintf(s->text + n, sizeof(s->text) - n, "%" PRId64 ":", v->number);
	for (i = 0; i < v->ntables; i++)
		n += (size_t)snprintf(s->text + n, sizeof(s->text) - n, "%s=%c%c,",
				      v->tables[i].name, v->tables[i].segment[62],
				      v->tables[i].segment[63]);
	snprintf(s->text + n, sizeof(s->text) - n, ";");
	return 0;
}

struct changes_seen {
	int domains;
	int64_t domain, product;
	int calls;
};

static int change_cb(enum catalog_change what, int64_t id, void *ctx)
{
	struct changes_seen *s = ctx;

	s->calls++;
	if (what == CATALOG_DOMAINS)
		s->domains++;
	else if (what == CATALOG_DOMAIN)
		s->domain = id;
	else
		s->product = id;
	return 0;
}

/* Another connection's changes are reported once each; the tracker's own connection's not. */
static void test_changes(void **state)
{
	struct fixture *f = *state;
	struct catalog_contract_meta m = meta("yaml: 2\n", "v2", two_tables, 2);
	struct catalog_changes c;
	struct changes_seen s = {0};
	struct catalog_table_version t;
	struct catalog_domain d;
	struct catalog *other;
	int64_t id, number;

	assert_int_equal(reopen(f, &other, 0, NULL), 0);
	catalog_changes_init(&c);
	assert_int_equal(catalog_changes_poll(f->cat, &c, change_cb, &s), 0);
	assert_int_equal(catalog_changes_poll(f->cat, &c, change_cb, &s), 0);
	assert_int_equal(s.calls, 0);

	id = make_product(other);
	assert_int_equal(catalog_domain_get(f->cat, "orders", &d), 0);
	assert_int_equal(catalog_changes_poll(f->cat, &c, change_cb, &s), 0);
	assert_int_equal(s.domains, 1);
	assert_int_equal(s.domain, d.id);
	assert_int_equal(s.calls, 2);
	catalog_domain_release(&d);

	table(&t, "orders", 0x21, 5, 0);
	assert_int_equal(catalog_put_version(other, id, &t, 1, "bob", NULL, 0, 3000, &number), 0);
	assert_int_equal(catalog_changes_poll(f->cat, &c, change_cb, &s), 0);
	assert_int_equal(s.product, id);
	assert_int_equal(s.calls, 3);
	assert_int_equal(catalog_changes_poll(f->cat, &c, change_cb, &s), 0);
	assert_int_equal(s.calls, 3);

	s.product = 0;
	assert_int_equal(catalog_contract_add(other, id, &m, "bob", 4000, NULL), 0);
	assert_int_equal(catalog_changes_poll(f->cat, &c, change_cb, &s), 0);
	assert_int_equal(s.product, id);
	assert_int_equal(s.calls, 4);

	/* through the tracker's own connection: not reported */
	assert_int_equal(catalog_put_version(f->cat, id, NULL, 0, "bob", NULL, 0, 5000, &number),
			 0);
	assert_int_equal(catalog_changes_poll(f->cat, &c, change_cb, &s), 0);
	assert_int_equal(s.calls, 4);

	catalog_changes_release(&c);
	catalog_close(other);
}

static int names_cb(int64_t id, const char *name, void *ctx)
{
	struct strbuf *out = ctx;

	return strbuf_addf(out, "%lld:%s ", (long long)id, name);
}

/* A domain's products by name, ids with them; nothing for an unknown domain. */
static void test_product_names(void **state)
{
	struct catalog *cat = ((struct fixture *)*state)->cat;
	struct catalog_contract_meta m = meta("yaml: 1\n", "Refunds", two_tables, 2);
	struct catalog_domain d;
	struct strbuf got;
	char want[64];
	int64_t daily = make_product(cat);
	struct catalog_product p;

	assert_int_equal(catalog_product_create(cat, "orders", "alpha", &m, "alice", 300), 0);
	assert_int_equal(catalog_product_get(cat, "orders", "alpha", &p), 0);
	assert_int_equal(catalog_domain_get(cat, "orders", &d), 0);
	strbuf_init(&got);
	assert_int_equal(catalog_product_names(cat, d.id, names_cb, &got), 0);
	snprintf(want, sizeof(want), "%lld:alpha %lld:daily ", (long long)p.id, (long long)daily);
	assert_string_equal(got.buf, want);
	strbuf_reset(&got);
	assert_int_equal(catalog_product_names(cat, d.id + 100, names_cb, &got), 0);
	assert_string_equal(got.buf, "");
	strbuf_release(&got);
	catalog_product_release(&p);
	catalog_domain_release(&d);
}

/* Tables carry over to the next version only while the contract still has them. */
static void test_carry_follows_contract(void **state)
{
	struct catalog *cat = ((struct fixture *)*state)->cat;
	static const char *const orders_only[] = {"orders"};
	struct catalog_contract_meta m = meta("yaml: 2\n", "v2", orders_only, 1);
	struct catalog_table_version t[2];
	struct catalog_version v;
	int64_t id, number;

	id = make_product(cat);
	table(&t[0], "customers", 0x31, 10, 1);
	table(&t[1], "orders", 0x32, 20, 0);
	assert_int_equal(catalog_put_version(cat, id, t, 2, "alice", NULL, 0, 1000, &number), 0);
	/* the same contract: both carry over */
	assert_int_equal(catalog_put_version(cat, id, NULL, 0, "alice", NULL, 0, 1100, &number), 0);
	assert_int_equal(catalog_version_get(cat, id, number, &v), 0);
	assert_int_equal(v.ntables, 2);
	catalog_version_release(&v);
	/* a contract without customers: only orders does */
	assert_int_equal(catalog_contract_add(cat, id, &m, "bob", 1200, NULL), 0);
	assert_int_equal(catalog_put_version(cat, id, NULL, 0, "bob", NULL, 0, 1300, &number), 0);
	assert_int_equal(number, 3);
	assert_int_equal(catalog_version_get(cat, id, number, &v), 0);
	assert_int_equal(v.ntables, 1);
	assert_string_equal(v.tables[0].name, "orders");
	catalog_version_release(&v);
	/* and the old versions keep theirs */
	assert_int_equal(catalog_version_get(cat, id, 2, &v), 0);
	assert_int_equal(v.ntables, 2);
	catalog_version_release(&v);
}

/* Asserts what catalog_version_range of product id from number from (at most limit) gives. */
static void expect_range(struct catalog *cat, int64_t id, int64_t from, size_t limit,
			 const char *want)
{
	struct version_seen s = {{0}};

	assert_int_equal(catalog_version_range(cat, id, from, limit, version_cb, &s), 0);
	assert_string_equal(s.text, want);
}

static void test_versions(void **state)
{
	struct catalog *cat = ((struct fixture *)*state)->cat;
	struct catalog_table_version t[2];
	struct catalog_version v;
	struct catalog_product p;
	struct catalog_contract_meta m = meta("yaml: 2\n", "v2", two_tables, 2);
	struct version_seen s = {{0}};
	int64_t id, seq, number = 0;

	id = make_product(cat);
	assert_int_equal(catalog_version_get(cat, id, 0, &v), -ENOENT);
	/* Nothing to carry over: a first version needs tables. */
	assert_int_equal(catalog_put_version(cat, id, NULL, 0, "bob", NULL, 0, 3000, &number),
			 -EINVAL);

	table(&t[0], "customers", 0x11, 10, 1);
	table(&t[1], "orders", 0x12, 20, 0);
	assert_int_equal(
	    catalog_put_version(cat, id, t, 2, "alice", "5 checks passed", 0, 1000, &number), 0);
	assert_int_equal(number, 1);

	/* Only orders is published: customers carries over. */
	table(&t[0], "orders", 0x22, 30, 0);
	assert_int_equal(catalog_put_version(cat, id, t, 1, "bob", NULL, 0, 2000, &number), 0);
	assert_int_equal(number, 2);

	assert_int_equal(catalog_version_get(cat, id, 0, &v), 0);
	assert_int_equal(v.number, 2);
	assert_int_equal(v.published_at, 2000);
	assert_string_equal(v.published_by, "bob");
	assert_int_equal(v.contract_seq, 1);
	assert_string_equal(v.checks, "");
	assert_int_equal(v.ntables, 2);
	assert_string_equal(v.tables[0].name, "customers");
	assert_string_equal(v.tables[0].segment + 62, "11");
	assert_int_equal(v.tables[0].rows, 10);
	assert_int_equal(v.tables[0].masked_size, 100);
	assert_int_equal(v.tables[0].plain_size, 105);
	assert_int_equal(v.tables[0].has_pii, 1);
	assert_string_equal(v.tables[1].name, "orders");
	assert_string_equal(v.tables[1].segment + 62, "22");
	assert_int_equal(v.tables[1].has_pii, 0);
	assert_int_equal(v.rows, 40);
	assert_int_equal(v.bytes, 400);
	catalog_version_release(&v);

	assert_int_equal(catalog_version_get(cat, id, 1, &v), 0);
	assert_int_equal(v.number, 1);
	assert_string_equal(v.checks, "5 checks passed");
	assert_int_equal(v.rows, 30);
	assert_string_equal(v.tables[1].segment + 62, "12");
	catalog_version_release(&v);
	assert_int_equal(catalog_version_get(cat, id, 3, &v), -ENOENT);
	assert_int_equal(catalog_version_get(cat, id + 1, 0, &v), -ENOENT);

	assert_int_equal(catalog_product_get(cat, "orders", "daily", &p), 0);
	assert_int_equal(p.latest, 2);
	assert_int_equal(p.updated_at, 2000);
	catalog_product_release(&p);

	assert_int_equal(catalog_version_list(cat, id, 0, version_cb, &s), 0);
	assert_string_equal(s.text, "2:customers=11,orders=22,;1:customers=11,orders=12,;");
	memset(&s, 0, sizeof(s));
	assert_int_equal(catalog_version_list(cat, id, 1, version_cb, &s), 0);
	assert_string_equal(s.text, "2:customers=11,orders=22,;");
	assert_int_equal(catalog_version_list(cat, id + 1, 0, version_cb, &s), -ENOENT);
	/* a range: oldest first, from a number, tables and all */
	expect_range(cat, id, 1, 0, "1:customers=11,orders=12,;2:customers=11,orders=22,;");
	expect_range(cat, id, 2, 5, "2:customers=11,orders=22,;");
	expect_range(cat, id, 1, 1, "1:customers=11,orders=12,;");
	expect_range(cat, id, 3, 0, "");
	assert_int_equal(catalog_version_range(cat, id + 1, 1, 0, version_cb, &s), -ENOENT);

	/* Bad arguments change nothing. */
	table(&t[0], "orders", 0x33, 1, 0);
	t[0].segment[5] = 'X';
	assert_int_equal(catalog_put_version(cat, id, t, 1, "bob", NULL, 0, 3000, &number),
			 -EINVAL);
	table(&t[0], "orders", 0x33, 1, 0);
	table(&t[1], "orders", 0x34, 1, 0);
	assert_int_equal(catalog_put_version(cat, id, t, 2, "bob", NULL, 0, 3000, &number),
			 -EINVAL);
	assert_int_equal(catalog_put_version(cat, id, t, 1, "", NULL, 0, 3000, &number), -EINVAL);
	t[0].rows = UINT64_MAX;
	assert_int_equal(catalog_put_version(cat, id, t, 1, "bob", NULL, 0, 3000, &number),
			 -EINVAL);
	table(&t[0], "orders", 0x33, 1, 0);
	assert_int_equal(catalog_put_version(cat, id + 1, t, 1, "bob", NULL, 0, 3000, &number),
			 -ENOENT);
	assert_int_equal(catalog_version_get(cat, id, 0, &v), 0);
	assert_int_equal(v.number, 2);
	catalog_version_release(&v);

	/* A new contract alone: every table carries over, under contract 2. */
	assert_int_equal(catalog_contract_add(cat, id, &m, "bob", 3500, &seq), 0);
	assert_int_equal(catalog_put_version(cat, id, NULL, 0, "bob", "contract", 0, 4000, &number),
			 0);
	assert_int_equal(number, 3);
	assert_int_equal(catalog_version_get(cat, id, 3, &v), 0);
	assert_int_equal(v.contract_seq, 2);
	assert_int_equal(v.ntables, 2);
	assert_string_equal(v.tables[1].segment + 62, "22");
	assert_int_equal(v.rows, 40);
	catalog_version_release(&v);
}

/* Asserts what catalog_version_at answers for product id at instant at: want, or -ENOENT for 0. */
static void expect_version_at(struct catalog *cat, int64_t id, int64_t at, int64_t want)
{
	int64_t number = -1;

	assert_int_equal(catalog_version_at(cat, id, at, &number), want ? 0 : -ENOENT);
	if (want)
		assert_int_equal(number, want);
}

static void test_version_at(void **state)
{
	struct catalog *cat = ((struct fixture *)*state)->cat;
	struct catalog_table_version t;
	int64_t id, number;

	id = make_product(cat);
	expect_version_at(cat, id, INT64_MAX, 0);
	table(&t, "orders", 0x41, 10, 0);
	assert_int_equal(catalog_put_version(cat, id, &t, 1, "alice", NULL, 0, 1000, &number), 0);
	expect_version_at(cat, id, 999, 0);
	expect_version_at(cat, id, INT64_MIN, 0);
	expect_version_at(cat, id, 1000, 1);
	expect_version_at(cat, id, 1999, 1);
	/* two versions in one second: the later one */
	assert_int_equal(catalog_put_version(cat, id, &t, 1, "alice", NULL, 0, 2000, &number), 0);
	assert_int_equal(catalog_put_version(cat, id, &t, 1, "bob", NULL, 0, 2000, &number), 0);
	expect_version_at(cat, id, 1999, 1);
	expect_version_at(cat, id, 2000, 3);
	expect_version_at(cat, id, INT64_MAX, 3);
	/* a host whose clock is behind records version 4 before version 3's time: from its time on
	 * the answer is 4, and it never goes back to 3 as the instant grows */
	assert_int_equal(catalog_put_version(cat, id, &t, 1, "bob", NULL, 0, 1500, &number), 0);
	expect_version_at(cat, id, 1499, 1);
	expect_version_at(cat, id, 1500, 4);
	expect_version_at(cat, id, 2000, 4);
	expect_version_at(cat, id + 1, INT64_MAX, 0);
}

static int segment_cb(const char *id, void *ctx)
{
	struct team_seen *s = ctx;
	size_t n = strlen(s->text);

	assert_int_equal(strlen(id), 64);
	snprintf(s->text + n, sizeof(s->text) - n, "%s;", id + 62);
	s->calls++;
	return 0;
}

static void test_segments(void **state)
{
	struct catalog *cat = ((struct fixture *)*state)->cat;
	struct catalog_table_version t[2];
	struct team_seen s = {.calls = 0};
	int64_t id, number;

	assert_int_equal(catalog_segment_list(cat, segment_cb, &s), 0);
	assert_int_equal(s.calls, 0);
	id = make_product(cat);
	table(&t[0], "customers", 0xa1, 1, 0);
	table(&t[1], "orders", 0xa2, 1, 0);
	assert_int_equal(catalog_put_version(cat, id, t, 2, "alice", NULL, 0, 1, &number), 0);
	table(&t[0], "orders", 0xa3, 1, 0);
	assert_int_equal(catalog_put_version(cat, id, t, 1, "alice", NULL, 0, 2, &number), 0);
	/* The same bytes published again: the same blob. */
	table(&t[0], "orders", 0xa2, 1, 0);
	assert_int_equal(catalog_put_version(cat, id, t, 1, "alice", NULL, 0, 3, &number), 0);
	assert_int_equal(catalog_segment_list(cat, segment_cb, &s), 0);
	assert_string_equal(s.text, "a1;a2;a3;");
}

/* Two connections on one file, publishing in turn. */
static void test_two_connections(void **state)
{
	struct fixture *f = *state;
	struct catalog_table_version t;
	struct catalog *other;
	struct catalog_version v;
	int64_t id, number, i;

	id = make_product(f->cat);
	assert_int_equal(reopen(f, &other, 0, NULL), 0);
	for (i = 1; i <= 10; i++) {
		table(&t, i % 2 ? "orders" : "customers", (unsigned)i, (uint64_t)i, 0);
		assert_int_equal(catalog_put_version(i % 2 ? f->cat : other, id, &t, 1,
						     i % 2 ? "alice" : "bob", NULL, 0, i, &number),
				 0);
		assert_int_equal(number, i);
	}
	assert_int_equal(catalog_version_get(other, id, 0, &v), 0);
	assert_int_equal(v.number, 10);
	assert_int_equal(v.ntables, 2);
	assert_int_equal(v.tables[0].rows, 10); /* customers from version 10 */
	assert_int_equal(v.tables[1].rows, 9);	/* orders carried from version 9 */
	catalog_version_release(&v);
	catalog_close(other);
}

static int count_cb(const struct catalog_version *v, void *ctx)
{
	int64_t *expect = ctx;

	assert_int_equal(v->number, *expect);
	(*expect)--;
	return 0;
}

/*
 * Runs work(cat, i, ctx) in nprocs processes at once (i = 0 ... nprocs - 1), each on a connection
 * of its own made after the fork (SQLite state must not cross one), and asserts that each
 * succeeded; f->cat is closed first and opened again after.
 */
static void in_processes(struct fixture *f, int nprocs,
			 int (*work)(struct catalog *cat, int i, void *ctx), void *ctx)
{
	struct catalog *cat;
	pid_t pid[8];
	int i, status, ok;

	assert_true(nprocs <= (int)(sizeof(pid) / sizeof(pid[0])));
	catalog_close(f->cat);
	f->cat = NULL;
	for (i = 0; i < nprocs; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i])
			continue;
		ok = reopen(f, &cat, 0, NULL) == 0 && work(cat, i, ctx) == 0;
		if (ok)
			catalog_close(cat);
		_exit(ok ? 0 : 1);
	}
	for (i = 0; i < nprocs; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(reopen(f, &f->cat, 0, NULL), 0);
}

struct publishing {
	int64_t product_id;
	int each; /* versions a process publishes */
};

/* in_processes' work: process i publishes its versions. */
static int publish_versions(struct catalog *cat, int i, void *ctx)
{
	const struct publishing *p = ctx;
	struct catalog_table_version t;
	int64_t number;
	int rc = 0;

	for (int j = 0; !rc && j < p->each; j++) {
		table(&t, "orders", (unsigned)(i * 1000 + j), 1, 0);
		rc = catalog_put_version(cat, p->product_id, &t, 1, "alice", NULL, 0, j, &number);
	}
	return rc;
}

/* Two processes publishing at the same time get dense, unique numbers. */
static void test_concurrent_processes(void **state)
{
	struct fixture *f = *state;
	enum { PROCS = 3, EACH = 30 };
	struct publishing p = {.each = EACH};
	int64_t id, expect;

	id = p.product_id = make_product(f->cat);
	in_processes(f, PROCS, publish_versions, &p);
	expect = PROCS * EACH;
	assert_int_equal(catalog_version_list(f->cat, id, 0, count_cb, &expect), 0);
	assert_int_equal(expect, 0);
}

static int grant_cb(const char *principal, void *ctx)
{
	return name_cb(principal, ctx);
}

static int grant_all_cb(const char *privilege, const char *scope, const char *principal, void *ctx)
{
	struct team_seen *s = ctx;
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "%s %s %s;", privilege, scope, principal);
	return 0;
}

static void test_grants(void **state)
{
	struct catalog *cat = ((struct fixture *)*state)->cat;
	struct team_seen s = {.calls = 0};

	make_product(cat);
	assert_int_equal(catalog_grant(cat, "admin", "mesh", "user:root", "root", 1), 0);
	assert_int_equal(catalog_grant(cat, "read", "orders", "everyone", "root", 2), 0);
	assert_int_equal(catalog_grant(cat, "read", "orders", "everyone", "root", 3), 0);
	assert_int_equal(catalog_grant(cat, "read", "orders", "group:analysts", "root", 3), 0);
	assert_int_equal(catalog_grant(cat, "unmask", "orders/daily", "team:sales", "root", 4), 0);
	assert_int_equal(catalog_grant(cat, "publish", "orders/daily", "user:bob", "root", 4), 0);

	assert_int_equal(catalog_grant(cat, "read", "nosuch", "everyone", "root", 5), -ENOENT);
	assert_int_equal(catalog_grant(cat, "read", "orders/nosuch", "everyone", "root", 5),
			 -ENOENT);
	assert_int_equal(catalog_grant(cat, "write", "mesh", "everyone", "root", 5), -EINVAL);
	assert_int_equal(catalog_grant(cat, "read", "mesh", "bob", "root", 5), -EINVAL);
	assert_int_equal(catalog_grant(cat, "read", "mesh", "team:Bad", "root", 5), -EINVAL);
	assert_int_equal(catalog_grant(cat, "read", "mesh", "user:", "root", 5), -EINVAL);
	assert_int_equal(catalog_grant(cat, "read", "a/b/c", "everyone", "root", 5), -EINVAL);
	assert_int_equal(catalog_grant(cat, "read", "", "everyone", "root", 5), -EINVAL);

	assert_int_equal(catalog_grant_list(cat, "read", "orders", grant_cb, &s), 0);
	assert_string_equal(s.text, "everyone;group:analysts;");
	memset(&s, 0, sizeof(s));
	assert_int_equal(catalog_grant_list(cat, "read", "orders/daily", grant_cb, &s), 0);
	assert_string_equal(s.text, "");
	assert_int_equal(catalog_grant_list(cat, "nope", "orders", grant_cb, &s), -EINVAL);

	assert_int_equal(catalog_grant_list_all(cat, grant_all_cb, &s), 0);
	assert_string_equal(s.text, "admin mesh user:root;read orders everyone;read orders "
				    "group:analysts;publish orders/daily user:bob;unmask "
				    "orders/daily team:sales;");

	assert_int_equal(catalog_revoke(cat, "read", "orders", "everyone"), 0);
	assert_int_equal(catalog_revoke(cat, "read", "orders", "everyone"), -ENOENT);
	assert_int_equal(catalog_revoke(cat, "read", "gone", "everyone"), -ENOENT);
	assert_int_equal(catalog_revoke(cat, "bad", "orders", "everyone"), -EINVAL);
	memset(&s, 0, sizeof(s));
	assert_int_equal(catalog_grant_list(cat, "read", "orders", grant_cb, &s), 0);
	assert_string_equal(s.text, "group:analysts;");
}

struct audit_seen {
	int64_t last_at, last_id;
	int calls;
	char text[256];
};

static int audit_cb(const struct catalog_audit *a, void *ctx)
{
	struct audit_seen *s = ctx;
	size_t n = strlen(s->text);

	/* Oldest first. */
	assert_true(a->at > s->last_at || (a->at == s->last_at && a->id > s->last_id));
	s->last_at = a->at;
	s->last_id = a->id;
	s->calls++;
	if (n < 200)
		snprintf(s->text + n, sizeof(s->text) - n, "%" PRId64 ":%s:%s:%s:%s;", a->at,
			 a->principal, a->action, a->view, a->outcome);
	return 0;
}

static void test_audit(void **state)
{
	struct catalog *cat = ((struct fixture *)*state)->cat;
	struct catalog_audit a = {
	    .at = 300,
	    .principal = "alice",
	    .action = "open-plain",
	    .object = "orders/daily/customers",
	    .version = 3,
	    .view = "plain",
	    .outcome = "ok",
	};
	struct audit_seen s = {.last_at = INT64_MIN};
	int i;

	assert_int_equal(catalog_audit_add(cat, &a), 0);
	a.at = 100;
	a.principal = "bob";
	a.action = "publish";
	a.view = NULL;
	a.outcome = "rejected";
	a.detail = "customers.csv:3:2: not an integer";
	assert_int_equal(catalog_audit_add(cat, &a), 0);
	a.at = 200;
	a.outcome = "denied";
	assert_int_equal(catalog_audit_add(cat, &a), 0);

	a.outcome = "maybe";
	assert_int_equal(catalog_audit_add(cat, &a), -EINVAL);
	a.outcome = "ok";
	a.view = "clear";
	assert_int_equal(catalog_audit_add(cat, &a), -EINVAL);
	a.view = NULL;
	a.principal = NULL;
	assert_int_equal(catalog_audit_add(cat, &a), -EINVAL);

	assert_int_equal(catalog_audit_list(cat, 0, NULL, audit_cb, &s), 0);
	assert_string_equal(s.text, "100:bob:publish::rejected;200:bob:publish::denied;"
				    "300:alice:open-plain:plain:ok;");
	memset(&s, 0, sizeof(s));
	s.last_at = INT64_MIN;
	assert_int_equal(catalog_audit_list(cat, 200, NULL, audit_cb, &s), 0);
	assert_string_equal(s.text, "200:bob:publish::denied;300:alice:open-plain:plain:ok;");
	memset(&s, 0, sizeof(s));
	s.last_at = INT64_MIN;
	assert_int_equal(catalog_audit_list(cat, 0, "bob", audit_cb, &s), 0);
	assert_string_equal(s.text, "100:bob:publish::rejected;200:bob:publish::denied;");
	memset(&s, 0, sizeof(s));
	s.last_at = INT64_MIN;
	assert_int_equal(catalog_audit_list(cat, 150, "alice", audit_cb, &s), 0);
	assert_string_equal(s.text, "300:alice:open-plain:plain:ok;");

	/* Many rows with equal times: listed in batches, each once, in order. */
	a.principal = "carol";
	for (i = 0; i < 700; i++) {
		a.at = 1000 + i / 300;
		assert_int_equal(catalog_audit_add(cat, &a), 0);
	}
	memset(&s, 0, sizeof(s));
	s.last_at = INT64_MIN;
	assert_int_equal(catalog_audit_list(cat, 0, "carol", audit_cb, &s), 0);
	assert_int_equal(s.calls, 700);
	memset(&s, 0, sizeof(s));
	s.last_at = INT64_MIN;
	assert_int_equal(catalog_audit_list(cat, 1001, NULL, audit_cb, &s), 0);
	assert_int_equal(s.calls, 400);
}

/* The audit key of the tests: any fixed 32 bytes. */
static int test_audit_key(void *ctx, uint8_t key[CATALOG_AUDIT_KEY])
{
	memset(key, *(const int *)ctx, CATALOG_AUDIT_KEY);
	return 0;
}

static int audit_keys[] = {7, 8};

/* Adds n rows of principal alice whose detail is "d" and their number from first. */
static void audit_rows(struct catalog *cat, int first, int n)
{
	struct catalog_audit a = {
	    .principal = "alice", .action = "grant", .object = "mesh", .outcome = "ok"};
	char detail[16];

	for (int i = first; i < first + n; i++) {
		snprintf(detail, sizeof(detail), "d%d", i);
		a.at = 1000 + i;
		a.detail = detail;
		assert_int_equal(catalog_audit_add(cat, &a), 0);
	}
}

/* What a verify found: each problem as "WHAT:id:other_id:count;" and the head. */
struct audit_breaks {
	char text[256];
	int n;
	struct catalog_audit_head head;
};

static int audit_break_cb(const struct catalog_audit_break *b, void *ctx)
{
	static const char *const what[] = {"unsealed", "edited",  "unlinked", "moved",
					   "repeated", "deleted", "start",    "before"};
	struct audit_breaks *s = ctx;
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "%s:%" PRId64 ":%" PRId64 ":%" PRId64 ";",
		 what[b->what], b->id, b->other_id, b->count);
	s->n++;
	return 0;
}

static const char *audit_verify(struct catalog *cat, struct audit_breaks *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(catalog_audit_verify(cat, audit_break_cb, s, &s->head), 0);
	return s->text;
}

/* Rows kept aside by a tamper with raw SQL, and put back. */
#define AUDIT_COLS "at, principal, action, object, version, view, outcome, detail, seq, chain"

static void audit_put_back(const struct fixture *f)
{
	target_exec(&f->t, f->t.pg ? "INSERT INTO audit OVERRIDING SYSTEM VALUE SELECT * FROM keep"
				   : "INSERT INTO audit SELECT * FROM keep");
	target_exec(&f->t, "DROP TABLE keep");
}

/* An unsealed row at id, as whoever can write the database would insert it. */
static void audit_insert_raw(const struct fixture *f, int id)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "INSERT INTO audit (id, at, principal, action, object, outcome) %s "
		 "VALUES (%d, 1, 'x', 'grant', 'mesh', 'ok')",
		 f->t.pg ? "OVERRIDING SYSTEM VALUE" : "", id);
	target_exec(&f->t, sql);
}

/* Swaps every column but the id between rows 6 and 7: the rows trade places. */
static void audit_swap_6_7(const struct fixture *f)
{
	target_exec(&f->t, "CREATE TABLE keep AS SELECT * FROM audit WHERE id IN (6, 7)");
	target_exec(&f->t, "UPDATE audit SET (" AUDIT_COLS ") = (SELECT " AUDIT_COLS
			   " FROM keep WHERE keep.id = 13 - audit.id) WHERE id IN (6, 7)");
	target_exec(&f->t, "DROP TABLE keep");
}

/*
 * The audit's hash chain: rows written without a key stay outside it (first) or are named
 * (later); a delete, an edit of a field or of a hash, two rows trading places and a copied row
 * are each found and named by row, with raw SQL as whoever can write the database would.
 */
static void test_audit_chain(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat = f->cat;
	struct audit_breaks s;
	struct catalog_audit_head h;
	uint8_t head[32];

	/* rows from before the chain (or without its key) */
	audit_rows(cat, 1, 2);
	assert_int_equal(catalog_audit_verify(cat, audit_break_cb, &s, &h), -ENOKEY);
	assert_int_equal(target_int(&f->t, "SELECT count(*) FROM audit WHERE seq IS NULL"), 2);

	catalog_audit_keyer(cat, test_audit_key, &audit_keys[0]);
	audit_rows(cat, 3, 10);
	assert_string_equal(audit_verify(cat, &s), "");
	assert_int_equal(s.head.rows, 12);
	assert_int_equal(s.head.unchained, 2);
	assert_int_equal(s.head.unchained_max, 2);
	assert_true(s.head.start_sealed);
	assert_int_equal(s.head.first_id, 3);
	assert_int_equal(s.head.seq, 10);
	assert_int_equal(s.head.id, 12);
	memcpy(head, s.head.hash, sizeof(head));

	/* an edited field */
	target_exec(&f->t, "UPDATE audit SET detail = 'forged' WHERE id = 5");
	assert_string_equal(audit_verify(cat, &s), "edited:5:4:0;");
	target_exec(&f->t, "UPDATE audit SET at = 1005, detail = 'd5' WHERE id = 5");
	target_exec(&f->t, "UPDATE audit SET at = 1 WHERE id = 5");
	assert_string_equal(audit_verify(cat, &s), "edited:5:4:0;");
	target_exec(&f->t, "UPDATE audit SET at = 1005 WHERE id = 5");
	assert_string_equal(audit_verify(cat, &s), "");

	/* an edited hash: its row, and the next, which no longer follows it */
	target_exec(&f->t, "CREATE TABLE keep AS SELECT * FROM audit WHERE id = 8");
	target_exec(&f->t, "UPDATE audit SET chain = (SELECT chain FROM audit WHERE id = 3) "
			   "WHERE id = 8");
	assert_string_equal(audit_verify(cat, &s), "edited:8:7:0;unlinked:9:8:0;");
	target_exec(&f->t, "DELETE FROM audit WHERE id = 8");
	audit_put_back(f);
	assert_string_equal(audit_verify(cat, &s), "");

	/* deleted rows in the middle, and the first of the chain */
	target_exec(&f->t, "CREATE TABLE keep AS SELECT * FROM audit WHERE id IN (6, 7)");
	target_exec(&f->t, "DELETE FROM audit WHERE id IN (6, 7)");
	assert_string_equal(audit_verify(cat, &s), "deleted:8:5:2;");
	audit_put_back(f);
	target_exec(&f->t, "CREATE TABLE keep AS SELECT * FROM audit WHERE id = 3");
	target_exec(&f->t, "DELETE FROM audit WHERE id = 3");
	assert_string_equal(audit_verify(cat, &s), "deleted:4:0:1;");
	audit_put_back(f);

	/* two rows trading places (once the unique place is out of the way) */
	target_exec(&f->t, "DROP INDEX audit_seq");
	audit_swap_6_7(f);
	assert_string_equal(audit_verify(cat, &s), "moved:7:6:0;");
	audit_swap_6_7(f);
	assert_string_equal(audit_verify(cat, &s), "");

	/* a copy of a row, and a row whose place and hash were removed */
	target_exec(&f->t, "CREATE TABLE keep AS SELECT * FROM audit WHERE id = 4");
	target_exec(&f->t, "UPDATE keep SET id = 100");
	audit_put_back(f);
	assert_string_equal(audit_verify(cat, &s), "repeated:100:0:0;");
	target_exec(&f->t, "DELETE FROM audit WHERE id = 100");
	target_exec(&f->t, "CREATE UNIQUE INDEX audit_seq ON audit (seq) WHERE seq IS NOT NULL");
	target_exec(&f->t, "CREATE TABLE keep AS SELECT * FROM audit WHERE id = 12");
	target_exec(&f->t, "UPDATE audit SET seq = NULL, chain = NULL WHERE id = 12");
	assert_string_equal(audit_verify(cat, &s), "unsealed:12:0:0;");
	target_exec(&f->t, "DELETE FROM audit WHERE id = 12");
	audit_put_back(f);

	/* A cut tail leaves an intact chain: only the head recorded elsewhere shows it. */
	target_exec(&f->t, "CREATE TABLE keep AS SELECT * FROM audit WHERE id = 12");
	target_exec(&f->t, "DELETE FROM audit WHERE id = 12");
	assert_string_equal(audit_verify(cat, &s), "");
	assert_int_equal(s.head.seq, 9);
	assert_memory_not_equal(s.head.hash, head, sizeof(head));
	audit_put_back(f);
	assert_string_equal(audit_verify(cat, &s), "");
	assert_memory_equal(s.head.hash, head, sizeof(head));

	/* Unsealed rows where no id is given out are named; the rows from before the chain are
	 * counted against the record the chain's first row seals. */
	audit_insert_raw(f, 0);
	assert_string_equal(audit_verify(cat, &s), "unsealed:0:0:0;");
	audit_insert_raw(f, -5);
	assert_string_equal(audit_verify(cat, &s), "unsealed:-5:0:0;unsealed:0:0:0;");
	target_exec(&f->t, "DELETE FROM audit WHERE id <= 0");
	target_exec(&f->t, "CREATE TABLE keep AS SELECT * FROM audit WHERE id = 1");
	target_exec(&f->t, "DELETE FROM audit WHERE id = 1");
	assert_string_equal(audit_verify(cat, &s), "before:2:2:1;");
	audit_put_back(f);
	assert_string_equal(audit_verify(cat, &s), "");
	/* the record of the rows before the chain, widened or removed */
	target_exec(&f->t, "UPDATE settings SET value = '3 4' WHERE name = 'audit.start'");
	assert_string_equal(audit_verify(cat, &s), "start:3:0:0;");
	target_exec(&f->t, "DELETE FROM settings WHERE name = 'audit.start'");
	assert_string_equal(audit_verify(cat, &s), "start:3:0:0;");
	target_exec(&f->t, "INSERT INTO settings (name, value) VALUES ('audit.start', '2 2')");
	assert_string_equal(audit_verify(cat, &s), "");

	/* another key does not agree with any row of the chain */
	catalog_audit_keyer(cat, test_audit_key, &audit_keys[1]);
	audit_verify(cat, &s);
	assert_int_equal(s.n, 10);
}

/* A keyer that fails with *ctx once (then counts its calls) and gives key 7 after. */
static int flaky_audit_key(void *ctx, uint8_t key[CATALOG_AUDIT_KEY])
{
	int *state = ctx;

	if ((*state)++ == 0)
		return -EIO;
	memset(key, 7, CATALOG_AUDIT_KEY);
	return 0;
}

static int denied_audit_key(void *ctx, uint8_t key[CATALOG_AUDIT_KEY])
{
	(void)key;
	(*(int *)ctx)++;
	return -EACCES;
}

/* A passing failure to load the key leaves one row unsealed, not every later one; a lasting
 * one is not asked again for each row. */
static void test_audit_chain_key_retry(void **state)
{
	struct fixture *f = *state;
	struct audit_breaks s;
	int calls = 0;

	catalog_audit_keyer(f->cat, denied_audit_key, &calls);
	audit_rows(f->cat, 1, 2);
	assert_int_equal(calls, 1);
	catalog_audit_keyer(f->cat, test_audit_key, &audit_keys[0]);
	audit_rows(f->cat, 3, 1);
	catalog_audit_keyer(f->cat, flaky_audit_key, &calls);
	calls = 0;
	audit_rows(f->cat, 4, 3);
	assert_int_equal(calls, 2);
	catalog_audit_keyer(f->cat, test_audit_key, &audit_keys[0]);
	assert_string_equal(audit_verify(f->cat, &s), "unsealed:4:0:0;");
	assert_int_equal(s.head.unchained, 2);
	assert_int_equal(s.head.seq, 3);
}

/* in_processes' work: process i writes *ctx sealed audit rows. */
static int write_audit_rows(struct catalog *cat, int i, void *ctx)
{
	int each = *(const int *)ctx;

	catalog_audit_keyer(cat, test_audit_key, &audit_keys[0]);
	audit_rows(cat, i * each, each);
	return 0;
}

/* Writers in many processes at once still make one chain, each place once, in id order. */
static void test_audit_chain_concurrent(void **state)
{
	struct fixture *f = *state;
	enum { PROCS = 3, EACH = 40 };
	struct audit_breaks s;
	int each = EACH;

	in_processes(f, PROCS, write_audit_rows, &each);
	catalog_audit_keyer(f->cat, test_audit_key, &audit_keys[0]);
	assert_string_equal(audit_verify(f->cat, &s), "");
	assert_int_equal(s.head.rows, PROCS * EACH);
	assert_int_equal(s.head.seq, PROCS * EACH);
}

static void test_keys(void **state)
{
	struct catalog *cat = ((struct fixture *)*state)->cat;
	uint8_t k1[72], k2[72], k3[72], out[72];
	uint32_t id1, id2, id3, id;

	memset(k1, 1, sizeof(k1));
	memset(k2, 2, sizeof(k2));
	memset(k3, 3, sizeof(k3));
	assert_int_equal(catalog_key_active(cat, "mask", NULL, &id, out, sizeof(out)), -ENOENT);
	assert_int_equal(catalog_key_add(cat, "mask", NULL, k1, sizeof(k1), 10, &id1), 0);
	assert_int_equal(catalog_key_active(cat, "mask", NULL, &id, out, sizeof(out)), 0);
	assert_int_equal(id, id1);
	assert_memory_equal(out, k1, sizeof(k1));

	assert_int_equal(catalog_key_add(cat, "mask", NULL, k2, sizeof(k2), 20, &id2), 0);
	assert_true(id2 != id1);
	assert_int_equal(catalog_key_active(cat, "mask", NULL, &id, out, sizeof(out)), 0);
	assert_int_equal(id, id2);
	assert_memory_equal(out, k2, sizeof(k2));
	/* The old key stays readable. */
	assert_int_equal(catalog_key_get(cat, id1, out, sizeof(out)), 0);
	assert_memory_equal(out, k1, sizeof(k1));
	assert_int_equal(catalog_key_get(cat, id1, out, sizeof(out) - 1), -EINVAL);
	assert_int_equal(catalog_key_get(cat, 9999, out, sizeof(out)), -ENOENT);

	/* Data keys are per domain, apart from the mask key. */
	assert_int_equal(catalog_key_add(cat, "data", "orders", k3, sizeof(k3), 30, &id3), -ENOENT);
	make_product(cat);
	assert_int_equal(catalog_key_active(cat, "data", "orders", &id, out, sizeof(out)), -ENOENT);
	assert_int_equal(catalog_key_add(cat, "data", "orders", k3, sizeof(k3), 30, &id3), 0);
	assert_int_equal(catalog_key_active(cat, "data", "orders", &id, out, sizeof(out)), 0);
	assert_int_equal(id, id3);
	assert_memory_equal(out, k3, sizeof(k3));
	assert_int_equal(catalog_key_active(cat, "mask", NULL, &id, out, sizeof(out)), 0);
	assert_int_equal(id, id2);

	assert_int_equal(catalog_key_add(cat, "mask", "orders", k1, sizeof(k1), 1, &id), -EINVAL);
	assert_int_equal(catalog_key_add(cat, "data", NULL, k1, sizeof(k1), 1, &id), -EINVAL);
	assert_int_equal(catalog_key_add(cat, "other", NULL, k1, sizeof(k1), 1, &id), -EINVAL);
	assert_int_equal(catalog_key_add(cat, "mask", NULL, k1, 0, 1, &id), -EINVAL);
	assert_int_equal(catalog_key_active(cat, "data", "nosuch", &id, out, sizeof(out)), -ENOENT);
}

static void test_data_version(void **state)
{
	struct fixture *f = *state;
	struct catalog *other;
	int64_t before, after, mine;

	assert_int_equal(reopen(f, &other, 0, NULL), 0);
	assert_int_equal(catalog_data_version(f->cat, &before), 0);
	assert_int_equal(catalog_data_version(f->cat, &after), 0);
	assert_int_equal(before, after);
	assert_int_equal(catalog_data_version(other, &mine), 0);
	assert_int_equal(catalog_team_create(other, "sales"), 0);
	assert_int_equal(catalog_data_version(f->cat, &after), 0);
	assert_true(after != before);
	/* A connection's own commits do not change its number. */
	assert_int_equal(catalog_data_version(other, &before), 0);
	assert_int_equal(before, mine);
	catalog_close(other);
}

static void test_transactions(void **state)
{
	struct catalog *cat = ((struct fixture *)*state)->cat;
	uint8_t k[72] = {7};
	struct catalog_domain d;
	uint32_t id;

	/* "Create a domain and its key" as one change, rolled back. */
	assert_int_equal(catalog_team_create(cat, "sales"), 0);
	assert_int_equal(catalog_begin(cat), 0);
	assert_int_equal(catalog_domain_create(cat, "orders", "sales", NULL, 1), 0);
	assert_int_equal(catalog_key_add(cat, "data", "orders", k, sizeof(k), 1, &id), 0);
	catalog_rollback(cat);
	assert_int_equal(catalog_domain_get(cat, "orders", &d), -ENOENT);
	assert_int_equal(catalog_key_get(cat, id, k, sizeof(k)), -ENOENT);

	/* Committed, with nesting. */
	assert_int_equal(catalog_begin(cat), 0);
	assert_int_equal(catalog_begin(cat), 0);
	assert_int_equal(catalog_domain_create(cat, "orders", "sales", NULL, 1), 0);
	assert_int_equal(catalog_commit(cat), 0);
	assert_int_equal(catalog_key_add(cat, "data", "orders", k, sizeof(k), 1, &id), 0);
	assert_int_equal(catalog_commit(cat), 0);
	assert_int_equal(catalog_domain_get(cat, "orders", &d), 0);
	catalog_domain_release(&d);
	assert_int_equal(catalog_key_get(cat, id, k, sizeof(k)), 0);
}

/* A failed step inside an outer transaction undoes only itself. */
static void test_nested_failure(void **state)
{
	struct catalog *cat = ((struct fixture *)*state)->cat;
	struct catalog_contract_meta m = meta("y\n", NULL, two_tables, 2);
	struct catalog_domain d;

	make_product(cat);
	assert_int_equal(catalog_begin(cat), 0);
	assert_int_equal(catalog_domain_create(cat, "payments", "sales", NULL, 1), 0);
	assert_int_equal(catalog_product_create(cat, "orders", "daily", &m, "alice", 1), -EEXIST);
	assert_int_equal(catalog_commit(cat), 0);
	assert_int_equal(catalog_domain_get(cat, "payments", &d), 0);
	catalog_domain_release(&d);
	/* Rollback outside a transaction does nothing. */
	catalog_rollback(cat);
	assert_int_equal(catalog_domain_get(cat, "payments", &d), 0);
	catalog_domain_release(&d);
}

static void test_integrity(void **state)
{
	struct fixture *f = *state;
	struct mfs_error err = {{0}};

	make_product(f->cat);
	assert_int_equal(catalog_integrity_check(f->cat, &err), 0);
	assert_string_equal(err.msg, "");

	if (f->t.pg) {
		/* PostgreSQL keeps references whole unless a superuser says otherwise; what the
		 * owner may turn off is the notification of other hosts */
		target_exec(&f->t, "ALTER TABLE team_members DISABLE TRIGGER team_members_notify");
	} else {
		/* A row pointing nowhere, written behind the catalog's back. */
		target_exec(&f->t,
			    "PRAGMA foreign_keys = OFF; "
			    "INSERT INTO team_members (team_id, user) VALUES (999, 'ghost')");
	}
	assert_int_equal(catalog_integrity_check(f->cat, &err), -EIO);
	assert_non_null(strstr(err.msg, "team_members"));
}

static void test_settings(void **state)
{
	struct fixture *f = *state;
	char *v, big[CATALOG_SETTING_MAX + 2], name[65];
	struct catalog *other, *ro;

	assert_int_equal(catalog_setting_get(f->cat, "store", &v), -ENOENT);
	assert_null(v);
	assert_int_equal(catalog_setting_set(f->cat, "store", "s3://bucket/prefix"), 0);
	assert_int_equal(catalog_setting_set(f->cat, "store.endpoint", "http://127.0.0.1:9000"), 0);
	assert_int_equal(catalog_setting_set(f->cat, "store.region", "us-east-1"), 0);
	assert_int_equal(catalog_setting_set(f->cat, "store", "s3://other/mesh"), 0);
	assert_int_equal(catalog_setting_get(f->cat, "store", &v), 0);
	assert_string_equal(v, "s3://other/mesh");
	free(v);

	/* every connection reads the same; a read-only one cannot set */
	assert_int_equal(reopen(f, &other, 0, NULL), 0);
	assert_int_equal(catalog_setting_get(other, "store.endpoint", &v), 0);
	assert_string_equal(v, "http://127.0.0.1:9000");
	free(v);
	assert_int_equal(catalog_setting_set(other, "empty", ""), 0);
	assert_int_equal(catalog_setting_get(f->cat, "empty", &v), 0);
	assert_string_equal(v, "");
	free(v);
	catalog_close(other);
	assert_int_equal(reopen(f, &ro, CATALOG_READONLY, NULL), 0);
	assert_int_equal(catalog_setting_set(ro, "store", "s3://x"), -EROFS);
	catalog_close(ro);

	assert_int_equal(catalog_setting_set(f->cat, "", "x"), -EINVAL);
	assert_int_equal(catalog_setting_set(f->cat, "Store", "x"), -EINVAL);
	assert_int_equal(catalog_setting_set(f->cat, "1store", "x"), -EINVAL);
	assert_int_equal(catalog_setting_set(f->cat, "a b", "x"), -EINVAL);
	assert_int_equal(catalog_setting_set(f->cat, NULL, "x"), -EINVAL);
	assert_int_equal(catalog_setting_set(f->cat, "store", NULL), -EINVAL);
	/* names up to 63 bytes */
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(catalog_setting_set(f->cat, name, "x"), -EINVAL);
	name[63] = '\0';
	assert_int_equal(catalog_setting_set(f->cat, name, "x"), 0);
	assert_int_equal(catalog_setting_get(f->cat, "a b", &v), -EINVAL);
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(catalog_setting_set(f->cat, "big", big), -EINVAL);
	big[CATALOG_SETTING_MAX] = '\0';
	assert_int_equal(catalog_setting_set(f->cat, "big", big), 0);
	assert_int_equal(catalog_setting_get(f->cat, "big", &v), 0);
	assert_int_equal(strlen(v), CATALOG_SETTING_MAX);
	free(v);
}

/* Another connection's commit reaches the change stamp within a second (PostgreSQL: by the
 * notification, without a round trip); so does one's own, at once. */
static void test_stamp_follows_others(void **state)
{
	struct fixture *f = *state;
	struct catalog *other;
	uint64_t s0, s = 0;
	int64_t t0, ms;

	assert_int_equal(reopen(f, &other, 0, NULL), 0);
	assert_int_equal(catalog_change_stamp(f->cat, &s0), 0);
	assert_int_equal(catalog_team_create(other, "sales"), 0);
	t0 = mfs_clock_ms();
	do {
		assert_int_equal(catalog_change_stamp(f->cat, &s), 0);
		if (s == s0)
			mfs_sleep_ms(2);
	} while (s == s0 && mfs_clock_ms() - t0 < 1000);
	ms = mfs_clock_ms() - t0;
	assert_true(s != s0);
	print_message("another connection's commit reached the stamp in %" PRId64 " ms\n", ms);
	catalog_close(other);

	assert_int_equal(catalog_team_create(f->cat, "mine"), 0);
	assert_int_equal(catalog_change_stamp(f->cat, &s0), 0);
	assert_true(s0 != s);
}

struct later {
	struct catalog *cat;
	int ms;
	int exclusive; /* for unlock_later */
	int rc;
};

static void *create_later(void *arg)
{
	struct later *l = arg;

	mfs_sleep_ms(l->ms);
	l->rc = catalog_team_create(l->cat, "later");
	return NULL;
}

/* A wait for others' changes ends promptly when one comes, and only then. */
static void test_changes_wait(void **state)
{
	struct fixture *f = *state;
	struct later l = {.ms = 300};
	pthread_t thread;
	int64_t t0, ms;
	int rc;

	assert_int_equal(catalog_changes_wait(f->cat, -1), -EINVAL);
	if (!f->t.pg) {
		/* SQLite is not told: it sleeps, and then anything may have changed */
		t0 = mfs_clock_ms();
		assert_int_equal(catalog_changes_wait(f->cat, 100), 1);
		assert_true(mfs_clock_ms() - t0 >= 100);
		return;
	}
	assert_int_equal(reopen(f, &l.cat, 0, NULL), 0);
	assert_int_equal(catalog_changes_wait(f->cat, 0), 0);
	/* its own commits are none */
	assert_int_equal(catalog_team_create(f->cat, "mine"), 0);
	t0 = mfs_clock_ms();
	assert_int_equal(catalog_changes_wait(f->cat, 200), 0);
	assert_true(mfs_clock_ms() - t0 >= 200);

	assert_int_equal(pthread_create(&thread, NULL, create_later, &l), 0);
	t0 = mfs_clock_ms();
	rc = catalog_changes_wait(f->cat, 5000);
	ms = mfs_clock_ms() - t0;
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(l.rc, 0);
	assert_int_equal(rc, 1);
	assert_true(ms >= 250 && ms < 1000);
	print_message("a wait ended %" PRId64 " ms after another connection's commit\n", ms - l.ms);
	/* once */
	assert_int_equal(catalog_changes_wait(f->cat, 100), 0);
	catalog_close(l.cat);
}

static void *unlock_later(void *arg)
{
	struct later *l = arg;

	mfs_sleep_ms(l->ms);
	catalog_unlock(l->cat, l->exclusive);
	return NULL;
}

/* The mesh lock across two connections: shared with shared, exclusive alone. */
static void test_lock(void **state)
{
	struct fixture *f = *state;
	struct later l = {.ms = 300, .exclusive = 1};
	struct catalog *other, *brief;
	pthread_t thread;
	int64_t t0, ms;

	if (!f->t.pg) {
		/* the mesh's file lock does it there */
		assert_int_equal(catalog_lock(f->cat, 0, 0), -ENOTSUP);
		assert_int_equal(catalog_lock(f->cat, 1, 1), -ENOTSUP);
		return;
	}
	assert_int_equal(reopen(f, &other, 0, NULL), 0);
	/* shared twice here, once there */
	assert_int_equal(catalog_lock(f->cat, 0, 0), 0);
	assert_int_equal(catalog_lock(f->cat, 0, 1), 0);
	assert_int_equal(catalog_lock(other, 0, 0), 0);
	assert_int_equal(catalog_lock(other, 1, 0), -EBUSY);
	catalog_unlock(other, 0);
	/* released as many times as taken */
	catalog_unlock(f->cat, 0);
	assert_int_equal(catalog_lock(other, 1, 0), -EBUSY);
	catalog_unlock(f->cat, 0);
	assert_int_equal(catalog_lock(other, 1, 0), 0);
	assert_int_equal(catalog_lock(f->cat, 0, 0), -EBUSY);
	assert_int_equal(catalog_lock(f->cat, 1, 0), -EBUSY);
	/* statements go on while it is held */
	assert_int_equal(catalog_team_create(other, "held"), 0);

	/* waiting: until the other lets go */
	l.cat = other;
	assert_int_equal(pthread_create(&thread, NULL, unlock_later, &l), 0);
	t0 = mfs_clock_ms();
	assert_int_equal(catalog_lock(f->cat, 0, 1), 0);
	ms = mfs_clock_ms() - t0;
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_true(ms >= 250);

	/* or at most the bound (with its margin for the server to answer first) */
	setenv("MESHFS_TIMEOUT", "2", 1);
	assert_int_equal(reopen(f, &brief, 0, NULL), 0);
	unsetenv("MESHFS_TIMEOUT");
	t0 = mfs_clock_ms();
	assert_int_equal(catalog_lock(brief, 1, 1), -EBUSY);
	ms = mfs_clock_ms() - t0;
	assert_true(ms >= 1000 && ms < 2500);
	catalog_close(brief);
	catalog_unlock(f->cat, 0);
	assert_int_equal(catalog_lock(other, 1, 0), 0);
	catalog_unlock(other, 1);
	catalog_close(other);
}

/* A server that stops answering: -ETIMEDOUT within the bound for a commit; the requests right
 * after it fail at once instead of each waiting as long (they would queue in a mount); once it
 * answers again the same catalog works within a second, without being opened again. */
static void test_server_stopped(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat;
	int64_t t0, first_ms, again_ms, back_ms;
	int first, again, soon, after;
	pid_t server;

	if (!f->t.pg)
		skip();
	setenv("MESHFS_TIMEOUT", "2", 1);
	assert_int_equal(reopen(f, &cat, 0, NULL), 0);
	assert_int_equal(catalog_team_create(cat, "before"), 0);
	assert_int_equal(catalog_begin(cat), 0);
	assert_int_equal(catalog_team_add(cat, "before", "alice"), 0);
	server = target_server_pid(&f->t);
	/* nothing that can fail before SIGCONT: a failed assertion would leave it stopped */
	target_server_signal(server, SIGSTOP);
	t0 = mfs_clock_ms();
	first = catalog_commit(cat);
	first_ms = mfs_clock_ms() - t0;
	t0 = mfs_clock_ms();
	again = catalog_team_has_member(cat, "before", "alice");
	again_ms = mfs_clock_ms() - t0;
	target_server_signal(server, SIGCONT);
	/* whether the commit took effect, the server alone knows: it had it */
	soon = catalog_team_add(cat, "before", "bob");
	t0 = mfs_clock_ms();
	while ((after = catalog_team_add(cat, "before", "bob")) == -ETIMEDOUT &&
	       mfs_clock_ms() - t0 < 3000)
		mfs_sleep_ms(50);
	back_ms = mfs_clock_ms() - t0;
	unsetenv("MESHFS_TIMEOUT");

	assert_int_equal(first, -ETIMEDOUT);
	assert_true(first_ms >= 1900 && first_ms < 3000);
	assert_int_equal(again, -ETIMEDOUT);
	assert_true(again_ms < 200);
	assert_int_equal(soon, -ETIMEDOUT);
	print_message("stopped server: a commit failed after %" PRId64
		      " ms, the next request after %" PRId64
		      " ms (bound 2000 ms); back after %" PRId64 " ms\n",
		      first_ms, again_ms, back_ms);
	assert_int_equal(after, 0);
	assert_true(back_ms < 1500);
	assert_int_equal(catalog_team_has_member(cat, "before", "bob"), 1);
	catalog_close(cat);
}

/* A restarted server: the next statement connects again, and everything counts as changed. */
static void test_server_restart(void **state)
{
	struct fixture *f = *state;
	int64_t v1, v2;
	uint64_t s1, s2;
	int rc;

	if (!f->t.pg)
		skip();
	assert_int_equal(catalog_team_create(f->cat, "before"), 0);
	assert_int_equal(catalog_change_stamp(f->cat, &s1), 0);
	assert_int_equal(catalog_data_version(f->cat, &v1), 0);
	rc = target_server_restart();
	if (rc == -1)
		skip();
	assert_int_equal(rc, 0);
	assert_int_equal(catalog_team_create(f->cat, "after"), 0);
	assert_int_equal(catalog_change_stamp(f->cat, &s2), 0);
	assert_true(s2 != s1);
	assert_int_equal(catalog_data_version(f->cat, &v2), 0);
	assert_true(v2 != v1);
	assert_int_equal(catalog_team_has_member(f->cat, "before", "nobody"), 0);
}

/* A session the server ended: made again, unless it held the mesh lock, which went with it. */
static void test_session_ended(void **state)
{
	struct fixture *f = *state;

	if (!f->t.pg)
		skip();
	assert_int_equal(catalog_team_create(f->cat, "t"), 0);
	assert_int_equal(target_terminate(&f->t), 1);
	assert_int_equal(catalog_team_add(f->cat, "t", "alice"), 0);

	assert_int_equal(catalog_lock(f->cat, 0, 0), 0);
	assert_int_equal(target_terminate(&f->t), 1);
	assert_int_equal(catalog_team_add(f->cat, "t", "bob"), -EIO);
	assert_int_equal(catalog_team_add(f->cat, "t", "bob"), -EIO);
	catalog_unlock(f->cat, 0);
	assert_int_equal(catalog_team_add(f->cat, "t", "bob"), 0);
	assert_int_equal(catalog_team_has_member(f->cat, "t", "alice"), 1);
	assert_int_equal(catalog_team_has_member(f->cat, "t", "bob"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open, setup, teardown),
	    cmocka_unit_test(test_create_in_missing_place),
	    cmocka_unit_test_setup_teardown(test_password_hidden, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_teams, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_products, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_downstream_all, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_search, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_version_at, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_segments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_connections, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_processes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_grants, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_chain_key_retry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_chain_concurrent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_data_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_product_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_carry_follows_contract, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nested_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_integrity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stamp_follows_others, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_changes_wait, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_stopped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_ended, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
