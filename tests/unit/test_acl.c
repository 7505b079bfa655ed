#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl/acl.h"
#include "catalog/catalog.h"
#include "tests/unit/helpers.h"

struct fixture {
	char dir[64];
	struct catalog *cat;
};

/* A principal as principal_init would make it, for users this machine does not have. */
static void principal_fake(struct principal *p, const char *name, const char *const *groups,
			   size_t ngroups)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->groups = calloc(ngroups ? ngroups : 1, sizeof(*p->groups));
	assert_non_null(p->groups);
	for (i = 0; i < ngroups; i++) {
		p->groups[i] = strdup(groups[i]);
		assert_non_null(p->groups[i]);
	}
	p->ngroups = ngroups;
}

static void product_create(struct catalog *cat, const char *domain, const char *name)
{
	static const char *const tables[] = {"t"};
	struct catalog_contract_meta m = {
	    .yaml = "kind: DataContract\n",
	    .semver = "1.0.0",
	    .description = "",
	    .status = "active",
	    .tables = tables,
	    .ntables = 1,
	    .search_text = name,
	};

	assert_int_equal(catalog_product_create(cat, domain, name, &m, "root", 1000), 0);
}

/*
 * The mesh of every test: team orders-team (alice) owns domain orders (products customers and
 * invoices); team pay-team (bob) owns payments (product cards); team analysts (carol) owns
 * nothing.
 */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct mfs_error err;

	assert_non_null(f);
	strcpy(f->dir, "/tmp/meshfs-test-acl-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	mfs_error_clear(&err);
	assert_int_equal(catalog_open(&f->cat, f->dir, CATALOG_CREATE, &err), 0);
	assert_int_equal(catalog_team_create(f->cat, "orders-team"), 0);
	assert_int_equal(catalog_team_add(f->cat, "orders-team", "alice"), 0);
	assert_int_equal(catalog_team_create(f->cat, "pay-team"), 0);
	assert_int_equal(catalog_team_add(f->cat, "pay-team", "bob"), 0);
	assert_int_equal(catalog_team_create(f->cat, "analysts"), 0);
	assert_int_equal(catalog_team_add(f->cat, "analysts", "carol"), 0);
	assert_int_equal(catalog_domain_create(f->cat, "orders", "orders-team", "", 1000), 0);
	assert_int_equal(catalog_domain_create(f->cat, "payments", "pay-team", "", 1000), 0);
	product_create(f->cat, "orders", "customers");
	product_create(f->cat, "orders", "invoices");
	product_create(f->cat, "payments", "cards");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	catalog_close(f->cat);
	assert_int_equal(remove_tree(f->dir), 0);
	free(f);
	return 0;
}

/* acl_allowed on every object a test looks at, as a string of 0s and 1s, one a privilege in
 * the order read, unmask, publish, admin. */
static void expect(struct catalog *cat, const struct principal *p, const char *domain,
		   const char *product, const char *want)
{
	char got[5];
	int priv, rc;

	for (priv = PRIV_READ; priv <= PRIV_ADMIN; priv++) {
		rc = acl_allowed(cat, p, (enum privilege)priv, domain, product);
		assert_true(rc == 0 || rc == 1);
		got[priv] = (char)('0' + rc);
	}
	got[4] = '\0';
	if (strcmp(got, want))
		fail_msg("%s on %s%s%s: got %s, want %s", p->name, domain ? domain : "the mesh",
			 product ? "/" : "", product ? product : "", got, want);
}

static void test_privilege_names(void **state)
{
	static const char *const names[] = {"read", "unmask", "publish", "admin"};
	enum privilege priv;
	size_t i;

	for (i = 0; i < 4; i++) {
		assert_int_equal(privilege_parse(names[i], &priv), 0);
		assert_int_equal(priv, (enum privilege)i);
		assert_string_equal(privilege_name(priv), names[i]);
	}
	assert_int_equal(privilege_parse("write", &priv), -EINVAL);
	assert_int_equal(privilege_parse("Read", &priv), -EINVAL);
	assert_int_equal(privilege_parse("", &priv), -EINVAL);
}

static void test_principal_init_known_user(void **state)
{
	struct principal p;
	struct passwd *pw = getpwuid(getuid());
	struct group *gr = getgrgid(getgid());
	size_t i, j;
	int found = 0;

	assert_non_null(pw);
	assert_int_equal(principal_init(&p, getuid(), getgid()), 0);
	assert_int_equal(p.uid, getuid());
	assert_int_equal(p.gid, getgid());
	assert_string_equal(p.name, pw->pw_name);
	assert_true(p.ngroups >= 1);
	for (i = 0; i < p.ngroups; i++) {
		if (gr && !strcmp(p.groups[i], gr->gr_name))
			found = 1;
		for (j = 0; j < i; j++)
			assert_string_not_equal(p.groups[i], p.groups[j]);
	}
	assert_true(found);
	principal_release(&p);
	assert_null(p.groups);
	assert_int_equal(p.ngroups, 0);
}

static void test_principal_init_unknown_user(void **state)
{
	uid_t uid = 3999999991u;
	gid_t gid = 3999999992u;
	struct principal p;

	assert_null(getpwuid(uid));
	assert_null(getgrgid(gid));
	assert_int_equal(principal_init(&p, uid, gid), 0);
	assert_string_equal(p.name, "3999999991");
	assert_int_equal(p.ngroups, 1);
	assert_string_equal(p.groups[0], "3999999992");
	principal_release(&p);
}

static void test_nothing_by_default(void **state)
{
	struct fixture *f = *state;
	struct principal dave;

	principal_fake(&dave, "dave", NULL, 0);
	expect(f->cat, &dave, NULL, NULL, "0000");
	expect(f->cat, &dave, "orders", NULL, "0000");
	expect(f->cat, &dave, "orders", "customers", "0000");
	principal_release(&dave);
}

static void test_mesh_admin(void **state)
{
	struct fixture *f = *state;
	struct principal root, dave;

	principal_fake(&root, "root", NULL, 0);
	principal_fake(&dave, "dave", NULL, 0);
	assert_int_equal(catalog_grant(f->cat, "admin", "mesh", "user:root", "root", 1000), 0);
	expect(f->cat, &root, NULL, NULL, "1111");
	expect(f->cat, &root, "orders", NULL, "1111");
	expect(f->cat, &root, "payments", "cards", "1111");
	/* a domain nobody created yet: still the mesh admin's, and no error */
	expect(f->cat, &root, "nowhere", NULL, "1111");
	expect(f->cat, &dave, "orders", "customers", "0000");
	principal_release(&root);
	principal_release(&dave);
}

static void test_domain_admin(void **state)
{
	struct fixture *f = *state;
	struct principal erin;

	principal_fake(&erin, "erin", NULL, 0);
	assert_int_equal(catalog_grant(f->cat, "admin", "payments", "user:erin", "root", 1000), 0);
	expect(f->cat, &erin, "payments", NULL, "1111");
	expect(f->cat, &erin, "payments", "cards", "1111");
	expect(f->cat, &erin, "orders", NULL, "0000");
	expect(f->cat, &erin, "orders", "customers", "0000");
	expect(f->cat, &erin, NULL, NULL, "0000");
	principal_release(&erin);
}

static void test_owning_team(void **state)
{
	struct fixture *f = *state;
	struct principal alice, bob;

	principal_fake(&alice, "alice", NULL, 0);
	principal_fake(&bob, "bob", NULL, 0);
	/* read, unmask, publish on the domain and its products; never admin */
	expect(f->cat, &alice, "orders", NULL, "1110");
	expect(f->cat, &alice, "orders", "customers", "1110");
	expect(f->cat, &alice, "orders", "invoices", "1110");
	expect(f->cat, &alice, "payments", "cards", "0000");
	expect(f->cat, &alice, NULL, NULL, "0000");
	expect(f->cat, &bob, "payments", "cards", "1110");
	expect(f->cat, &bob, "orders", "customers", "0000");
	/* leaving the team is leaving its rights */
	assert_int_equal(catalog_team_remove(f->cat, "orders-team", "alice"), 0);
	expect(f->cat, &alice, "orders", "customers", "0000");
	principal_release(&alice);
	principal_release(&bob);
}

static void test_implied_privileges(void **state)
{
	struct fixture *f = *state;
	struct principal u1, u2, u3;

	principal_fake(&u1, "u1", NULL, 0);
	principal_fake(&u2, "u2", NULL, 0);
	principal_fake(&u3, "u3", NULL, 0);
	assert_int_equal(catalog_grant(f->cat, "unmask", "orders", "user:u1", "root", 1000), 0);
	assert_int_equal(catalog_grant(f->cat, "publish", "orders", "user:u2", "root", 1000), 0);
	assert_int_equal(catalog_grant(f->cat, "read", "orders", "user:u3", "root", 1000), 0);
	expect(f->cat, &u1, "orders", "customers", "1100");
	expect(f->cat, &u2, "orders", "customers", "1010");
	expect(f->cat, &u3, "orders", "customers", "1000");
	principal_release(&u1);
	principal_release(&u2);
	principal_release(&u3);
}

static void test_scopes(void **state)
{
	struct fixture *f = *state;
	struct principal m, d, p;

	principal_fake(&m, "m", NULL, 0);
	principal_fake(&d, "d", NULL, 0);
	principal_fake(&p, "p", NULL, 0);
	assert_int_equal(catalog_grant(f->cat, "read", "mesh", "user:m", "root", 1000), 0);
	assert_int_equal(catalog_grant(f->cat, "read", "orders", "user:d", "root", 1000), 0);
	assert_int_equal(catalog_grant(f->cat, "read", "orders/customers", "user:p", "root", 1000),
			 0);
	/* mesh covers everything */
	expect(f->cat, &m, NULL, NULL, "1000");
	expect(f->cat, &m, "orders", "customers", "1000");
	expect(f->cat, &m, "payments", "cards", "1000");
	/* a domain covers its products, and nothing outside */
	expect(f->cat, &d, NULL, NULL, "0000");
	expect(f->cat, &d, "orders", NULL, "1000");
	expect(f->cat, &d, "orders", "invoices", "1000");
	expect(f->cat, &d, "payments", "cards", "0000");
	/* a product covers itself only */
	expect(f->cat, &p, "orders", "customers", "1000");
	expect(f->cat, &p, "orders", "invoices", "0000");
	expect(f->cat, &p, "orders", NULL, "0000");
	expect(f->cat, &p, NULL, NULL, "0000");
	principal_release(&m);
	principal_release(&d);
	principal_release(&p);
}

static void test_team_grant(void **state)
{
	struct fixture *f = *state;
	struct principal carol, dave;

	principal_fake(&carol, "carol", NULL, 0);
	principal_fake(&dave, "dave", NULL, 0);
	assert_int_equal(catalog_grant(f->cat, "read", "orders", "team:analysts", "root", 1000), 0);
	expect(f->cat, &carol, "orders", "customers", "1000");
	expect(f->cat, &dave, "orders", "customers", "0000");
	assert_int_equal(catalog_team_add(f->cat, "analysts", "dave"), 0);
	expect(f->cat, &dave, "orders", "customers", "1000");
	assert_int_equal(catalog_team_remove(f->cat, "analysts", "carol"), 0);
	expect(f->cat, &carol, "orders", "customers", "0000");
	principal_release(&carol);
	principal_release(&dave);
}

static void test_group_grant(void **state)
{
	struct fixture *f = *state;
	static const char *const finance[] = {"staff", "finance"};
	static const char *const staff[] = {"staff"};
	struct principal in, out;

	principal_fake(&in, "gina", finance, 2);
	principal_fake(&out, "hank", staff, 1);
	assert_int_equal(catalog_grant(f->cat, "unmask", "payments", "group:finance", "root", 1000),
			 0);
	expect(f->cat, &in, "payments", "cards", "1100");
	expect(f->cat, &out, "payments", "cards", "0000");
	/* the name of a group is not the name of a user */
	assert_int_equal(catalog_grant(f->cat, "read", "orders", "user:staff", "root", 1000), 0);
	expect(f->cat, &out, "orders", "customers", "0000");
	principal_release(&in);
	principal_release(&out);
}

static void test_everyone(void **state)
{
	struct fixture *f = *state;
	struct principal x;

	principal_fake(&x, "anybody", NULL, 0);
	assert_int_equal(
	    catalog_grant(f->cat, "read", "orders/customers", "everyone", "root", 1000), 0);
	expect(f->cat, &x, "orders", "customers", "1000");
	expect(f->cat, &x, "orders", "invoices", "0000");
	principal_release(&x);
}

static void test_revocation(void **state)
{
	struct fixture *f = *state;
	struct principal ivy;

	principal_fake(&ivy, "ivy", NULL, 0);
	assert_int_equal(catalog_grant(f->cat, "publish", "orders", "user:ivy", "root", 1000), 0);
	assert_int_equal(catalog_grant(f->cat, "read", "mesh", "everyone", "root", 1000), 0);
	expect(f->cat, &ivy, "orders", "customers", "1010");
	assert_int_equal(catalog_revoke(f->cat, "publish", "orders", "user:ivy"), 0);
	expect(f->cat, &ivy, "orders", "customers", "1000");
	assert_int_equal(catalog_revoke(f->cat, "read", "mesh", "everyone"), 0);
	expect(f->cat, &ivy, "orders", "customers", "0000");
	assert_int_equal(catalog_revoke(f->cat, "read", "mesh", "everyone"), -ENOENT);
	principal_release(&ivy);
}

static void test_invalid_names(void **state)
{
	struct fixture *f = *state;
	struct principal root, alice;

	principal_fake(&root, "root", NULL, 0);
	principal_fake(&alice, "alice", NULL, 0);
	assert_int_equal(catalog_grant(f->cat, "admin", "mesh", "user:root", "root", 1000), 0);
	/* names no object can have are no catalog error: only the mesh's grants apply */
	expect(f->cat, &alice, "Orders", NULL, "0000");
	expect(f->cat, &alice, "orders", "Bad/Name", "0000");
	expect(f->cat, &root, "Orders", "x", "1111");
	principal_release(&root);
	principal_release(&alice);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_privilege_names),
	    cmocka_unit_test(test_principal_init_known_user),
	    cmocka_unit_test(test_principal_init_unknown_user),
	    cmocka_unit_test_setup_teardown(test_nothing_by_default, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mesh_admin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_domain_admin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_owning_team, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_implied_privileges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scopes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_team_grant, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_grant, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_everyone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revocation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_names, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
