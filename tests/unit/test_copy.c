/* catalog_copy: a local catalog (SQLite) copied into a new one, SQLite or, when
 * MESHFS_TEST_CATALOG names one, PostgreSQL (tests/unit/target.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "tests/unit/helpers.h"
#include "tests/unit/target.h"

struct fixture {
	char dir[64];	      /* the source mesh directory */
	struct catalog *from; /* SQLite, filled by setup */
	struct test_target t; /* the destination */
	struct catalog *to;   /* created empty */
	int64_t product;      /* orders/orders in from */
	uint32_t key_id;      /* the data key of orders in from */
	uint8_t wrapped[72];  /* its wrapped bytes */
};

static const char *const tables[] = {"orders", "order_items"};

static void fill(struct fixture *f)
{
	struct catalog_contract_meta m = {
	    .yaml = "dataProduct: orders\n",
	    .semver = "1.0.0",
	    .description = "Orders placed in the web shop",
	    .status = "active",
	    .frequency_seconds = 86400,
	    .tables = tables,
	    .ntables = 2,
	    .search_text = "orders web shop customers",
	};
	struct catalog_table_version tv = {
	    .name = "orders", .rows = 3, .masked_size = 100, .plain_size = 120, .has_pii = 1};
	struct catalog_audit a = {.at = 1500,
				  .principal = "alice",
				  .action = "publish",
				  .object = "orders/orders",
				  .version = 1,
				  .view = "",
				  .outcome = "ok",
				  .detail = ""};
	int64_t number;

	assert_int_equal(catalog_team_create(f->from, "shop"), 0);
	assert_int_equal(catalog_team_add(f->from, "shop", "alice"), 0);
	assert_int_equal(catalog_domain_create(f->from, "orders", "shop", "What was sold", 1000),
			 0);
	assert_int_equal(catalog_product_create(f->from, "orders", "orders", &m, "alice", 1100), 0);
	f->product = 0;
	{
		struct catalog_product p;

		assert_int_equal(catalog_product_get(f->from, "orders", "orders", &p), 0);
		f->product = p.id;
		catalog_product_release(&p);
	}
	memset(tv.segment, 'a', 64);
	assert_int_equal(
	    catalog_put_version(f->from, f->product, &tv, 1, "alice", "3 rows", 0, 1200, &number),
	    0);
	memset(tv.segment, 'b', 64);
	assert_int_equal(
	    catalog_put_version(f->from, f->product, &tv, 1, "alice", "3 rows", 1, 1300, &number),
	    0);
	assert_int_equal(number, 2);
	assert_int_equal(catalog_grant(f->from, "read", "orders", "team:shop", "alice", 1400), 0);
	assert_int_equal(catalog_audit_add(f->from, &a), 0);
	for (size_t i = 0; i < sizeof(f->wrapped); i++)
		f->wrapped[i] = (uint8_t)(i * 7 + 1);
	/* a zero byte inside: the copy must not take the wrapped key for text */
	f->wrapped[5] = 0;
	assert_int_equal(catalog_key_add(f->from, "data", "orders", f->wrapped, sizeof(f->wrapped),
					 1000, &f->key_id),
			 0);
	assert_int_equal(catalog_policy_set(f->from, "version: 1\n", "alice", 1000), 0);
	assert_int_equal(catalog_setting_set(f->from, "mesh.id", "0123abcd"), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct mfs_error err = {{0}};

	assert_non_null(f);
	strcpy(f->dir, "/tmp/meshfs-test-copy-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(catalog_open(&f->from, f->dir, CATALOG_CREATE, &err), 0);
	fill(f);
	target_init(&f->t, "catalog.db");
	assert_int_equal(catalog_open(&f->to, target_catalog(&f->t), CATALOG_CREATE, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	catalog_close(f->from);
	catalog_close(f->to);
	target_release(&f->t);
	remove_tree(f->dir);
	free(f);
	return 0;
}

struct counts {
	char names[512];
	uint64_t total;
};

static int count_cb(const char *table, uint64_t rows, void *ctx)
{
	struct counts *c = ctx;
	size_t n = strlen(c->names);

	snprintf(c->names + n, sizeof(c->names) - n, "%s=%llu ", table, (unsigned long long)rows);
	c->total += rows;
	return 0;
}

static int search_cb(const struct catalog_product *p, void *ctx)
{
	(*(int *)ctx)++;
	assert_string_equal(p->name, "orders");
	return 0;
}

/* Everything arrives with its ids, and what the copy refers to by id still resolves. */
static void test_copy_all(void **state)
{
	struct fixture *f = *state;
	struct catalog_product p;
	struct catalog_version v;
	struct mfs_error err = {{0}};
	struct counts c = {.total = 0};
	uint8_t wrapped[sizeof(f->wrapped)];
	uint32_t id;
	char *value;
	int found = 0, rc;

	rc = catalog_copy(f->from, f->to, count_cb, &c, &err);
	if (rc)
		print_error("%s\n", err.msg);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(c.names, "teams=1 "));
	assert_non_null(strstr(c.names, "versions=2 "));
	assert_non_null(strstr(c.names, "version_tables=2 "));
	assert_non_null(strstr(c.names, "keys=1 "));
	assert_non_null(strstr(c.names, "audit=1 "));

	assert_int_equal(catalog_product_get(f->to, "orders", "orders", &p), 0);
	assert_int_equal(p.id, f->product);
	assert_int_equal(p.latest, 2);
	assert_string_equal(p.owner, "shop");
	assert_string_equal(p.description, "Orders placed in the web shop");
	catalog_product_release(&p);
	assert_int_equal(catalog_version_get(f->to, f->product, 1, &v), 0);
	assert_int_equal(v.published_at, 1200);
	assert_int_equal(v.ntables, 1);
	assert_int_equal(v.tables[0].has_pii, 1);
	assert_int_equal(v.tables[0].segment[0], 'a');
	catalog_version_release(&v);
	assert_int_equal(catalog_version_get(f->to, f->product, 2, &v), 0);
	assert_int_equal(v.warnings, 1);
	catalog_version_release(&v);
	assert_int_equal(catalog_team_has_member(f->to, "shop", "alice"), 1);

	/* the wrapped key, byte for byte, under its id: segments name their key by it */
	assert_int_equal(catalog_key_get(f->to, f->key_id, wrapped, sizeof(wrapped)), 0);
	assert_memory_equal(wrapped, f->wrapped, sizeof(wrapped));
	assert_int_equal(catalog_key_active(f->to, "data", "orders", &id, wrapped, sizeof(wrapped)),
			 0);
	assert_int_equal(id, f->key_id);

	assert_int_equal(catalog_setting_get(f->to, "mesh.id", &value), 0);
	assert_string_equal(value, "0123abcd");
	free(value);
	/* the search index follows the copied text */
	assert_int_equal(catalog_search(f->to, "customers", 10, search_cb, &found), 0);
	assert_int_equal(found, 1);
	assert_int_equal(catalog_integrity_check(f->to, &err), 0);
}

/* New rows after a copy get ids past the copied ones, and the next version number follows. */
static void test_ids_after_copy(void **state)
{
	struct fixture *f = *state;
	struct catalog_table_version tv = {.name = "orders", .rows = 1};
	struct mfs_error err = {{0}};
	int64_t number;
	uint32_t id;

	assert_int_equal(catalog_copy(f->from, f->to, NULL, NULL, &err), 0);
	assert_int_equal(catalog_team_create(f->to, "ops"), 0);
	assert_int_equal(catalog_domain_create(f->to, "ops", "ops", "", 2000), 0);
	memset(tv.segment, 'c', 64);
	assert_int_equal(
	    catalog_put_version(f->to, f->product, &tv, 1, "alice", "", 0, 2100, &number), 0);
	assert_int_equal(number, 3);
	assert_int_equal(
	    catalog_key_add(f->to, "data", "ops", f->wrapped, sizeof(f->wrapped), 2000, &id), 0);
	assert_true(id > f->key_id);
}

/* A destination that is not empty takes nothing: the copy is one transaction. */
static void test_copy_refused_whole(void **state)
{
	struct fixture *f = *state;
	struct mfs_error err = {{0}};
	char *value;

	assert_int_equal(catalog_setting_set(f->to, "mesh.id", "other"), 0);
	assert_int_equal(catalog_copy(f->from, f->to, NULL, NULL, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "settings"));
	assert_int_equal(catalog_team_create(f->to, "shop"), 0);
	assert_int_equal(catalog_setting_get(f->to, "mesh.id", &value), 0);
	assert_string_equal(value, "other");
	free(value);
}

static int stop_cb(const char *table, uint64_t rows, void *ctx)
{
	(void)rows;
	(void)ctx;
	return strcmp(table, "versions") ? 0 : -ECANCELED;
}

/* A progress callback can stop the copy, which then leaves nothing behind. */
static void test_copy_stopped(void **state)
{
	struct fixture *f = *state;
	struct catalog_product p;
	struct mfs_error err = {{0}};

	assert_int_equal(catalog_copy(f->from, f->to, stop_cb, NULL, &err), -ECANCELED);
	assert_int_equal(catalog_product_get(f->to, "orders", "orders", &p), -ENOENT);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_copy_all),
	    T(test_ids_after_copy),
	    T(test_copy_refused_whole),
	    T(test_copy_stopped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
