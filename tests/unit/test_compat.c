#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract/compat.h"
#include "contract/contract.h"
#include "common/strbuf.h"

static const char *const pii_classes[] = {"pii", "sensitive", NULL};

/*
 * A contract of orders/orders: table orders (line 7, column 5) with column id and then column c
 * (line 12, column 9) whose further properties are props, then extra at the top level.
 */
static void make(struct contract *c, const char *version, const char *props, const char *extra)
{
	struct mfs_error err;
	struct strbuf yaml;

	strbuf_init(&yaml);
	assert_int_equal(strbuf_addf(&yaml,
				     "apiVersion: v3.0.2\n"
				     "kind: DataContract\n"
				     "domain: orders\n"
				     "dataProduct: orders\n"
				     "version: %s\n"
				     "schema:\n"
				     "  - name: orders\n"
				     "    properties:\n"
				     "      - name: id\n"
				     "        logicalType: integer\n"
				     "        required: true\n"
				     "      - name: c\n"
				     "%s%s",
				     version, props, extra),
			 0);
	mfs_error_clear(&err);
	if (contract_parse(c, yaml.buf, yaml.len, "new.yaml", pii_classes, &err))
		fail_msg("%s\n%s", err.msg, yaml.buf);
	strbuf_release(&yaml);
}

/* The change of r with exactly message msg, which must be there. */
static const struct compat_change *find(const struct compat_report *r, const char *msg)
{
	size_t i;

	for (i = 0; i < r->nchanges; i++)
		if (!strcmp(r->changes[i].message, msg))
			return &r->changes[i];
	for (i = 0; i < r->nchanges; i++)
		print_message("  have: %s\n", r->changes[i].message);
	fail_msg("no change \"%s\"", msg);
	return NULL;
}

#define T "        logicalType: "
#define O "        logicalTypeOptions:\n"

/* Column c as it was (old) and as proposed (new): one change, of kind, saying msg. */
static const struct {
	const char *old, *new;
	enum compat_kind kind;
	const char *msg;
} column_cases[] = {
    {T "integer\n", T "number\n", COMPAT_FINE, "changes type from integer to number"},
    {T "number\n", T "integer\n", COMPAT_BREAKING, "changes type from number to integer"},
    {T "string\n", T "integer\n", COMPAT_BREAKING, "changes type from string to integer"},
    {T "integer\n", T "string\n", COMPAT_BREAKING, "changes type from integer to string"},
    {T "date\n", T "timestamp\n", COMPAT_BREAKING, "changes type from date to timestamp"},
    {"", "        required: true\n", COMPAT_BREAKING, "becomes required"},
    {"        required: true\n", "", COMPAT_FINE, "becomes optional"},
    {"", "        unique: true\n", COMPAT_BREAKING, "becomes unique"},
    {"        unique: true\n", "        unique: false\n", COMPAT_FINE, "is no longer unique"},
    {"        required: true\n", "        required: true\n        primaryKey: true\n",
     COMPAT_BREAKING, "becomes part of the primary key"},
    {"        required: true\n        primaryKey: true\n", "        required: true\n", COMPAT_FINE,
     "leaves the primary key"},
    {T "integer\n", T "integer\n" O "          minimum: 0\n", COMPAT_BREAKING,
     "gains a minimum (0)"},
    {T "integer\n" O "          minimum: 0\n", T "integer\n", COMPAT_FINE, "drops its minimum (0)"},
    {T "integer\n" O "          minimum: 0\n", T "integer\n" O "          minimum: 1\n",
     COMPAT_BREAKING, "raises its minimum from 0 to 1"},
    {T "number\n" O "          minimum: 0.5\n", T "number\n" O "          minimum: -1\n",
     COMPAT_FINE, "lowers its minimum from 0.5 to -1"},
    {T "integer\n", T "integer\n" O "          maximum: 10\n", COMPAT_BREAKING,
     "gains a maximum (10)"},
    {T "integer\n" O "          maximum: 10\n", T "integer\n", COMPAT_FINE,
     "drops its maximum (10)"},
    {T "integer\n" O "          maximum: 10\n", T "integer\n" O "          maximum: 9\n",
     COMPAT_BREAKING, "lowers its maximum from 10 to 9"},
    {T "integer\n" O "          maximum: 10\n", T "integer\n" O "          maximum: 1e6\n",
     COMPAT_FINE, "raises its maximum from 10 to 1e+06"},
    {"", O "          minLength: 2\n", COMPAT_BREAKING, "gains a minLength (2)"},
    {O "          minLength: 2\n", O "          minLength: 1\n", COMPAT_FINE,
     "lowers its minLength from 2 to 1"},
    {O "          minLength: 2\n", O "          minLength: 3\n", COMPAT_BREAKING,
     "raises its minLength from 2 to 3"},
    {O "          maxLength: 8\n", "", COMPAT_FINE, "drops its maxLength (8)"},
    {O "          maxLength: 8\n", O "          maxLength: 7\n", COMPAT_BREAKING,
     "lowers its maxLength from 8 to 7"},
    {O "          maxLength: 8\n", O "          maxLength: 80\n", COMPAT_FINE,
     "raises its maxLength from 8 to 80"},
    {"", O "          pattern: '^[A-Z]+$'\n", COMPAT_BREAKING, "gains a pattern"},
    {O "          pattern: '^[A-Z]+$'\n", "", COMPAT_FINE, "drops its pattern"},
    {O "          pattern: '^[A-Z]+$'\n", O "          pattern: '^[A-Z]*$'\n", COMPAT_BREAKING,
     "changes its pattern"},
    {"", O "          format: email\n", COMPAT_BREAKING, "gains a format"},
    {O "          format: email\n", "", COMPAT_FINE, "drops its format"},
    {"        classification: pii\n", "        classification: internal\n", COMPAT_BREAKING,
     "lowers its classification from pii to internal: it would no longer be PII"},
    {"        classification: sensitive\n", "", COMPAT_BREAKING,
     "lowers its classification from sensitive to none: it would no longer be PII"},
    {"        classification: internal\n", "        classification: pii\n", COMPAT_FINE,
     "becomes PII (classification pii): encrypted and masked from the next version"},
    {"        classification: pii\n", "        classification: sensitive\n", COMPAT_FINE,
     "changes its classification from pii to sensitive"},
    {"        classification: internal\n", "        classification: public\n", COMPAT_FINE,
     "changes its classification from internal to public"},
    {"        classification: pii\n",
     "        classification: pii\n        customProperties:\n"
     "          - property: mask\n            value: last4\n",
     COMPAT_FINE, "changes its mask from token to last4"},
    {"        description: old\n", "        description: new\n", COMPAT_FINE,
     "changes its description"},
    {"", "        quality:\n          - metric: nullValues\n            mustBe: 0\n", COMPAT_FINE,
     "changes its quality rules"},
    {"        quality:\n          - metric: nullValues\n            mustBe: 0\n",
     "        quality:\n          - metric: nullValues\n            mustBe: 1\n", COMPAT_FINE,
     "changes its quality rules"},
};

static void test_column_rules(void **state)
{
	struct contract a, b, major;
	struct compat_report r;
	char msg[COMPAT_MESSAGE_MAX];
	const struct compat_change *ch;
	size_t i;
	int rc, breaking;

	for (i = 0; i < sizeof(column_cases) / sizeof(column_cases[0]); i++) {
		breaking = column_cases[i].kind == COMPAT_BREAKING;
		make(&a, "1.0.0", column_cases[i].old, "");
		make(&b, "1.1.0", column_cases[i].new, "");
		rc = contract_compat(&a, &b, COMPAT_BACKWARD, "new.yaml", &r);
		if (rc != (breaking ? -EPERM : 0))
			fail_msg("case %zu: got %d", i, rc);
		snprintf(msg, sizeof(msg), "new.yaml:12:9: %s: column orders.c %s",
			 breaking ? "breaking" : "compatible", column_cases[i].msg);
		ch = find(&r, msg);
		assert_int_equal(ch->kind, column_cases[i].kind);
		assert_int_equal(ch->line, 12);
		assert_int_equal(ch->col, 9);
		assert_int_equal(r.refused, 0);
		assert_int_equal(r.major_up, 0);
		assert_int_equal(r.nchanges, 1);
		assert_int_equal(compat_report_breaking(&r), breaking ? 1 : 0);
		compat_report_release(&r);

		/* A new major version allows it, and so does a mesh without checks. */
		make(&major, "2.0.0", column_cases[i].new, "");
		assert_int_equal(contract_compat(&a, &major, COMPAT_BACKWARD, "new.yaml", &r), 0);
		assert_int_equal(r.major_up, 1);
		assert_int_equal(compat_report_breaking(&r), breaking ? 1 : 0);
		compat_report_release(&r);
		assert_int_equal(contract_compat(&a, &b, COMPAT_NONE, "new.yaml", &r), 0);
		assert_int_equal(r.nchanges, 0);
		compat_report_release(&r);
		contract_release(&major);

		contract_release(&a);
		contract_release(&b);
	}
}

#define C_REQUIRED "        required: true\n"
#define D	   "      - name: d\n"

static void test_columns_and_tables(void **state)
{
	static const char swapped[] = "apiVersion: v3.0.2\n"
				      "kind: DataContract\n"
				      "domain: orders\n"
				      "dataProduct: orders\n"
				      "version: 1.0.1\n"
				      "schema:\n"
				      "  - name: orders\n"
				      "    properties:\n"
				      "      - name: d\n"
				      "      - name: id\n"
				      "        logicalType: integer\n"
				      "        required: true\n"
				      "      - name: c\n";
	struct contract a, b;
	struct compat_report r;
	struct mfs_error err;

	/* Adding an optional column is fine; a required one is not. */
	make(&a, "1.0.0", "", "");
	make(&b, "1.0.1", D, "");
	assert_int_equal(contract_compat(&a, &b, COMPAT_BACKWARD, "new.yaml", &r), 0);
	assert_int_equal(r.nchanges, 1);
	find(&r, "new.yaml:13:9: compatible: column orders.d is added (optional)");
	compat_report_release(&r);
	contract_release(&b);
	make(&b, "1.1.0", D C_REQUIRED, "");
	assert_int_equal(contract_compat(&a, &b, COMPAT_BACKWARD, "new.yaml", &r), -EPERM);
	find(&r, "new.yaml:13:9: breaking: column orders.d is added as required: the data "
		 "published so far lacks it");
	compat_report_release(&r);

	/* Removing a column breaks; placed at its table in the new contract. */
	assert_int_equal(contract_compat(&b, &a, COMPAT_BACKWARD, "new.yaml", &r), -EINVAL);
	find(&r, "new.yaml:7:5: breaking: column orders.d is removed");
	find(&r, "new.yaml: refused: version 1.0.0 is not higher than the current version 1.1.0");
	assert_int_equal(r.refused, 1);
	compat_report_release(&r);
	contract_release(&b);
	contract_release(&a);

	/* Renaming is removing one and adding another. */
	make(&a, "1.0.0", D, "");
	make(&b, "1.1.0", "      - name: e\n", "");
	assert_int_equal(contract_compat(&a, &b, COMPAT_BACKWARD, "new.yaml", &r), -EPERM);
	assert_int_equal(r.nchanges, 2);
	assert_int_equal(compat_report_breaking(&r), 1);
	find(&r, "new.yaml:7:5: breaking: column orders.d is removed");
	find(&r, "new.yaml:13:9: compatible: column orders.e is added (optional)");
	compat_report_release(&r);
	contract_release(&b);

	/* Reordering columns is noted, not refused. */
	mfs_error_clear(&err);
	assert_int_equal(
	    contract_parse(&b, swapped, strlen(swapped), "new.yaml", pii_classes, &err), 0);
	assert_int_equal(contract_compat(&a, &b, COMPAT_BACKWARD, "new.yaml", &r), 0);
	assert_int_equal(r.nchanges, 1);
	find(&r, "new.yaml:7:5: compatible: table orders orders its columns differently "
		 "(TABLE.csv follows the contract)");
	compat_report_release(&r);
	contract_release(&a);
	contract_release(&b);

	/* Adding a table is fine; removing one breaks. */
	make(&a, "1.0.0", "", "");
	make(&b, "1.1.0", "",
	     "  - name: refunds\n"
	     "    properties:\n"
	     "      - name: id\n");
	assert_int_equal(contract_compat(&a, &b, COMPAT_BACKWARD, "new.yaml", &r), 0);
	assert_int_equal(r.nchanges, 1);
	find(&r, "new.yaml:13:5: compatible: table refunds is added");
	compat_report_release(&r);
	assert_int_equal(contract_compat(&b, &a, COMPAT_BACKWARD, "new.yaml", &r), -EINVAL);
	find(&r, "new.yaml: breaking: table refunds is removed");
	compat_report_release(&r);
	contract_release(&a);
	contract_release(&b);
}

#define REST                                                                                       \
	"description:\n  purpose: Orders.\n"                                                       \
	"tags: [a]\n"                                                                              \
	"status: active\n"                                                                         \
	"team:\n  - username: alice\n"                                                             \
	"slaProperties:\n  - property: frequency\n    value: 1\n    unit: d\n"                     \
	"  - property: retention\n    value: 1\n    unit: y\n"                                     \
	"customProperties:\n  - property: inputs\n    value: [shop/carts]\n"

static void test_product_changes(void **state)
{
	static const char *const msgs[] = {
	    "new.yaml: compatible: description.purpose changes",
	    "new.yaml: compatible: status changes from active to deprecated",
	    "new.yaml: compatible: tags change",
	    "new.yaml: compatible: team changes",
	    "new.yaml: compatible: slaProperties frequency changes",
	    "new.yaml: compatible: slaProperties retention changes",
	    "new.yaml: compatible: lineage inputs change",
	};
	struct contract a, b;
	struct compat_report r;
	size_t i;

	make(&a, "1.0.0", "", REST);
	make(&b, "1.0.1", "",
	     "description:\n  purpose: All orders.\n"
	     "tags: [a, b]\n"
	     "status: deprecated\n"
	     "team:\n  - username: bob\n"
	     "slaProperties:\n  - property: frequency\n    value: 2\n    unit: d\n"
	     "  - property: retention\n    value: 2\n    unit: y\n"
	     "customProperties:\n  - property: inputs\n    value: [shop/baskets]\n");
	assert_int_equal(contract_compat(&a, &b, COMPAT_BACKWARD, "new.yaml", &r), 0);
	assert_int_equal(r.nchanges, sizeof(msgs) / sizeof(msgs[0]));
	for (i = 0; i < r.nchanges; i++) {
		assert_string_equal(r.changes[i].message, msgs[i]);
		assert_int_equal(r.changes[i].kind, COMPAT_FINE);
		assert_int_equal(r.changes[i].line, 0);
	}
	compat_report_release(&r);
	contract_release(&b);

	/* The same contract under a higher version changes nothing. */
	make(&b, "1.0.1", "", REST);
	assert_int_equal(contract_compat(&a, &b, COMPAT_BACKWARD, "new.yaml", &r), 0);
	assert_int_equal(r.nchanges, 0);
	compat_report_release(&r);
	contract_release(&a);
	contract_release(&b);
}

static void replace(char **field, const char *value)
{
	free(*field);
	*field = strdup(value);
	assert_non_null(*field);
}

static void test_refusals(void **state)
{
	struct contract a, b;
	struct compat_report r;
	struct mfs_error err;

	make(&a, "1.0.0", "", "");
	make(&b, "1.0.0", "", "");
	assert_int_equal(contract_compat(&a, &b, COMPAT_BACKWARD, "new.yaml", &r), -EINVAL);
	assert_int_equal(r.refused, 1);
	find(&r, "new.yaml: refused: version 1.0.0 is not higher than the current version 1.0.0");
	compat_report_release(&r);
	/* Even without compatibility checks, the version goes up. */
	assert_int_equal(contract_compat(&a, &b, COMPAT_NONE, "new.yaml", &r), -EINVAL);
	assert_int_equal(r.nchanges, 1);
	compat_report_release(&r);
	contract_release(&b);

	/* Another domain or product is refused, whatever the version. */
	make(&b, "2.0.0", "", "");
	replace(&b.domain, "sales");
	replace(&b.data_product, "sales-orders");
	assert_int_equal(contract_compat(&a, &b, COMPAT_NONE, "new.yaml", &r), -EINVAL);
	assert_int_equal(r.refused, 2);
	assert_int_equal(r.major_up, 1);
	find(&r, "new.yaml: refused: domain changes from orders to sales: a product stays in its "
		 "domain");
	find(&r, "new.yaml: refused: dataProduct changes from orders to sales-orders: a product "
		 "keeps its name");
	mfs_error_clear(&err);
	compat_report_explain(&r, &err);
	assert_string_equal(err.msg, "new.yaml: refused: domain changes from orders to sales: a "
				     "product stays in its domain\n"
				     "new.yaml: refused: dataProduct changes from orders to "
				     "sales-orders: a product keeps its name");
	compat_report_release(&r);
	contract_release(&a);
	contract_release(&b);
}

static void test_explain(void **state)
{
	struct contract a, b;
	struct compat_report r;
	struct mfs_error err;

	make(&a, "1.0.0", T "integer\n", D);
	make(&b, "1.1.0", T "string\n        description: text now\n", "");
	assert_int_equal(contract_compat(&a, &b, COMPAT_BACKWARD, "new.yaml", &r), -EPERM);
	assert_int_equal(compat_report_breaking(&r), 2);
	assert_int_equal(r.nchanges, 3);
	/* Only what stands in the way is explained. */
	mfs_error_clear(&err);
	compat_report_explain(&r, &err);
	assert_string_equal(err.msg, "new.yaml:7:5: breaking: column orders.d is removed\n"
				     "new.yaml:12:9: breaking: column orders.c changes type from "
				     "integer to string");
	compat_report_release(&r);
	contract_release(&a);
	contract_release(&b);
}

static void test_semver(void **state)
{
	/* In ascending order (semver.org §11, and numbers compared as numbers). */
	static const char *const order[] = {
	    "0.9.9",
	    "1.0.0-alpha",
	    "1.0.0-alpha.1",
	    "1.0.0-alpha.beta",
	    "1.0.0-beta",
	    "1.0.0-beta.2",
	    "1.0.0-beta.11",
	    "1.0.0-rc.1",
	    "1.0.0",
	    "1.0.1",
	    "1.9.0",
	    "1.10.0",
	    "1.10.1-0",
	    "1.10.1-1",
	    "1.10.1-a",
	    "1.10.1",
	    "2.0.0",
	    "10.0.0",
	    "18446744073709551615.0.0",
	};
	static const char *const invalid[] = {
	    "",	      "1",	  "1.0",	"1.0.0.0",
	    "01.0.0", "1.00.0",	  "v1.0.0",	"1.0.0-",
	    "1.0.0+", "1.0.0-01", "1.0.0-a..b", "1.0.0-a_b",
	    "1.0.0 ", "-1.0.0",	  "1..0",	"18446744073709551616.0.0",
	};
	size_t n = sizeof(order) / sizeof(order[0]), i, j;
	int cmp;

	for (i = 0; i < n; i++) {
		for (j = 0; j < n; j++) {
			assert_int_equal(semver_compare(order[i], order[j], &cmp), 0);
			if ((i < j && cmp >= 0) || (i == j && cmp) || (i > j && cmp <= 0))
				fail_msg("%s vs %s: %d", order[i], order[j], cmp);
		}
	}
	/* Build metadata does not count. */
	assert_int_equal(semver_compare("1.0.0+build.1", "1.0.0+build.2", &cmp), 0);
	assert_int_equal(cmp, 0);
	assert_int_equal(semver_compare("1.0.0-rc.1+x", "1.0.0-rc.1", &cmp), 0);
	assert_int_equal(cmp, 0);
	assert_int_equal(semver_compare("1.0.0-x-y", "1.0.0-x", &cmp), 0);
	assert_true(cmp > 0);
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		if (semver_compare(invalid[i], "1.0.0", &cmp) != -EINVAL ||
		    semver_compare("1.0.0", invalid[i], &cmp) != -EINVAL)
			fail_msg("'%s' taken for semver", invalid[i]);
}

static void test_version_order(void **state)
{
	struct contract a, b;
	struct compat_report r;

	make(&a, "1.9.0", "", "");
	make(&b, "1.10.0", "", "");
	assert_int_equal(contract_compat(&a, &b, COMPAT_BACKWARD, "new.yaml", &r), 0);
	assert_int_equal(r.major_up, 0);
	compat_report_release(&r);
	contract_release(&b);

	/* A prerelease of the same version is lower; of the next major, higher (and a major). */
	make(&b, "1.9.0-rc.1", "", "");
	assert_int_equal(contract_compat(&a, &b, COMPAT_BACKWARD, "new.yaml", &r), -EINVAL);
	compat_report_release(&r);
	contract_release(&b);
	make(&b, "2.0.0-rc.1", "", "");
	assert_int_equal(contract_compat(&a, &b, COMPAT_BACKWARD, "new.yaml", &r), 0);
	assert_int_equal(r.major_up, 1);
	compat_report_release(&r);
	contract_release(&b);
	contract_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_column_rules),    cmocka_unit_test(test_columns_and_tables),
	    cmocka_unit_test(test_product_changes), cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_explain),	    cmocka_unit_test(test_semver),
	    cmocka_unit_test(test_version_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
