#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract/contract.h"
#include "common/strbuf.h"

#define REST                                                                                       \
	"kind: DataContract\n"                                                                     \
	"domain: orders\n"                                                                         \
	"dataProduct: customers\n"                                                                 \
	"version: 1.0.0\n"

#define HEAD "apiVersion: v3.0.0\n" REST

#define SCHEMA                                                                                     \
	"schema:\n"                                                                                \
	"  - name: t\n"                                                                            \
	"    properties:\n"                                                                        \
	"      - name: a\n"

/* A contract with a table t whose one column is a; what follows continues column a (line 10). */
#define TABLE HEAD SCHEMA

static const char full[] = "# Every feature meshfs reads, and some it does not.\n"
			   "apiVersion: v3.0.2\n"
			   "kind: DataContract\n"
			   "id: urn:meshfs:orders:customers\n"
			   "name: Customers\n"
			   "version: 2.1.0-rc.1+build.7\n"
			   "status: active\n"
			   "domain: orders\n"
			   "dataProduct: customers\n"
			   "tenant: acme\n"
			   "description:\n"
			   "  purpose: Every customer who ever placed an order.\n"
			   "  usage: Join with orders/orders on id.\n"
			   "tags: [customers, gold]\n"
			   "team:\n"
			   "  - username: alice\n"
			   "    role: owner\n"
			   "  - username: bob\n"
			   "    dateIn: 2024-01-01\n"
			   "servers:\n"
			   "  - server: local\n"
			   "    type: csv\n"
			   "schema:\n"
			   "  - name: customers\n"
			   "    physicalType: table\n"
			   "    physicalName: customers_v2\n"
			   "    description: One row per customer.\n"
			   "    properties:\n"
			   "      - name: id\n"
			   "        logicalType: integer\n"
			   "        physicalType: bigint\n"
			   "        primaryKey: yes\n"
			   "        description: Customer number.\n"
			   "        logicalTypeOptions:\n"
			   "          minimum: 1\n"
			   "          maximum: 1e9\n"
			   "        quality:\n"
			   "          - metric: duplicateValues\n"
			   "            mustBe: 0\n"
			   "      - name: email\n"
			   "        logicalType: string\n"
			   "        classification: PII\n"
			   "        unique: true\n"
			   "        logicalTypeOptions:\n"
			   "          minLength: 3\n"
			   "          maxLength: 254\n"
			   "          pattern: '^[^@]+@[^@]+$'\n"
			   "        customProperties:\n"
			   "          - property: mask\n"
			   "            value: redact\n"
			   "        quality:\n"
			   "          - type: library\n"
			   "            name: few_nulls\n"
			   "            metric: nullValues\n"
			   "            mustBeLessThan: 5\n"
			   "            unit: percent\n"
			   "            severity: warning\n"
			   "          - metric: invalidValues\n"
			   "            arguments:\n"
			   "              pattern: '@'\n"
			   "            mustBe: 0\n"
			   "      - name: card\n"
			   "        classification: sensitive\n"
			   "        customProperties:\n"
			   "          - property: note\n"
			   "            value: [not, a, mask]\n"
			   "          - property: mask\n"
			   "            value: last4\n"
			   "      - name: phone\n"
			   "        classification: pii\n"
			   "        customProperties:\n"
			   "          - {property: mask, value: null}\n"
			   "      - name: country\n"
			   "        logicalType: string\n"
			   "        required: true\n"
			   "        classification: public\n"
			   "        customProperties:\n"
			   "          - property: mask\n"
			   "            value: token\n"
			   "        quality:\n"
			   "          - metric: invalidValues\n"
			   "            arguments:\n"
			   "              validValues: [FR, DE, \"NO\"]\n"
			   "            mustBeLessOrEqualTo: 0\n"
			   "          - metric: missingValues\n"
			   "            arguments:\n"
			   "              missingValues: [null, '', 'N/A']\n"
			   "            mustNotBeBetween: [10, 20]\n"
			   "            unit: rows\n"
			   "            severity: info\n"
			   "      - name: born\n"
			   "        logicalType: date\n"
			   "        logicalTypeOptions:\n"
			   "          minimum: \"1900-01-01\"\n"
			   "          format: yyyy-MM-dd\n"
			   "      - name: seen_at\n"
			   "        logicalType: timestamp\n"
			   "        required: No\n"
			   "      - name: score\n"
			   "        logicalType: number\n"
			   "        logicalTypeOptions: {minimum: -1.5, maximum: .5}\n"
			   "        quality:\n"
			   "          - type: sql\n"
			   "            query: SELECT COUNT(*) FROM {object} WHERE {property} > 0\n"
			   "            mustBeGreaterOrEqualTo: 1\n"
			   "          - type: text\n"
			   "            description: Scores come from the model.\n"
			   "          - type: custom\n"
			   "            engine: soda\n"
			   "            implementation: whatever\n"
			   "            mustBeSomething: 3\n"
			   "      - name: active\n"
			   "        logicalType: boolean\n"
			   "        unique: no\n"
			   "    quality:\n"
			   "      - metric: rowCount\n"
			   "        mustBeBetween: [1, 1000000]\n"
			   "        severity: error\n"
			   "      - metric: duplicateValues\n"
			   "        mustBe: 0\n"
			   "        arguments:\n"
			   "          properties: [email, country]\n"
			   "      - rule: uniqueCheck\n"
			   "      - type: sql\n"
			   "        name: not_empty\n"
			   "        query: SELECT COUNT(*) FROM customers\n"
			   "        mustBeGreaterThan: 0\n"
			   "  - name: addresses\n"
			   "    logicalType: object\n"
			   "    properties:\n"
			   "      - name: customer_id\n"
			   "        logicalType: integer\n"
			   "        required: true\n"
			   "  - name: customer_view\n"
			   "    physicalType: view\n"
			   "    properties: []\n"
			   "  - name: events\n"
			   "    physicalType: topic\n"
			   "slaProperties:\n"
			   "  - property: latency\n"
			   "    value: 4\n"
			   "    unit: d\n"
			   "  - property: frequency\n"
			   "    value: 1\n"
			   "    unit: d\n"
			   "  - property: retention\n"
			   "    value: 3\n"
			   "    unit: y\n"
			   "customProperties:\n"
			   "  - property: note\n"
			   "    value: anything\n"
			   "  - property: inputs\n"
			   "    value: [sales/orders, \"crm/contacts\"]\n"
			   "price:\n"
			   "  priceAmount: 9.95\n";

static const char *const full_pii[] = {"pii", "sensitive", NULL};

static int parse(struct contract *c, const char *yaml, struct mfs_error *err)
{
	return contract_parse(c, yaml, strlen(yaml), "c.yaml", NULL, err);
}

static const struct contract_column *column(const struct contract_table *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->ncolumns; i++)
		if (!strcmp(t->columns[i].name, name))
			return &t->columns[i];
	fail_msg("no column %s", name);
	return NULL;
}

static void test_full_contract(void **state)
{
	const struct contract_table *t;
	const struct contract_column *col;
	const struct quality_rule *r;
	struct mfs_error err;
	struct contract c;
	int rc;

	(void)state;
	mfs_error_clear(&err);
	rc = contract_parse(&c, full, strlen(full), "contract.yaml", full_pii, &err);
	if (rc)
		fail_msg("parse failed: %s", err.msg);
	assert_string_equal(err.msg, "");
	assert_string_equal(c.api_version, "v3.0.2");
	assert_string_equal(c.id, "urn:meshfs:orders:customers");
	assert_string_equal(c.name, "Customers");
	assert_string_equal(c.domain, "orders");
	assert_string_equal(c.data_product, "customers");
	assert_string_equal(c.version, "2.1.0-rc.1+build.7");
	assert_int_equal(c.major, 2);
	assert_int_equal(c.minor, 1);
	assert_int_equal(c.patch, 0);
	assert_string_equal(c.status, "active");
	assert_string_equal(c.purpose, "Every customer who ever placed an order.");
	assert_int_equal(c.ntags, 2);
	assert_string_equal(c.tags[0], "customers");
	assert_string_equal(c.tags[1], "gold");
	assert_int_equal(c.nteam, 2);
	assert_string_equal(c.team[0].username, "alice");
	assert_string_equal(c.team[0].role, "owner");
	assert_string_equal(c.team[1].username, "bob");
	assert_null(c.team[1].role);
	assert_int_equal(c.frequency_seconds, 86400);
	assert_string_equal(c.retention, "3y");
	assert_int_equal(c.ninputs, 2);
	assert_string_equal(c.inputs[0], "sales/orders");
	assert_string_equal(c.inputs[1], "crm/contacts");

	/* customers and addresses; the view and the topic are not tables. */
	assert_int_equal(c.ntables, 2);
	assert_null(contract_table(&c, "customer_view"));
	assert_null(contract_table(&c, "events"));
	t = contract_table(&c, "customers");
	assert_non_null(t);
	assert_ptr_equal(t, &c.tables[0]);
	assert_string_equal(t->description, "One row per customer.");
	assert_int_equal(t->line, 24);
	assert_int_equal(t->col, 5);
	assert_int_equal(t->ncolumns, 9);
	assert_string_equal(t->columns[0].name, "id");
	assert_string_equal(t->columns[8].name, "active");

	col = column(t, "id");
	assert_int_equal(col->type, LT_INTEGER);
	assert_true(col->primary_key);
	assert_true(col->required); /* implied by the key */
	assert_false(col->unique);
	assert_false(col->pii);
	assert_null(col->classification);
	assert_string_equal(col->description, "Customer number.");
	assert_true(col->has_minimum);
	assert_true(col->has_maximum);
	assert_true(col->minimum == 1.0);
	assert_true(col->maximum == 1e9);
	assert_int_equal(col->min_length, -1);
	assert_int_equal(col->max_length, -1);
	assert_int_equal(col->line, 29);
	assert_int_equal(col->col, 9);
	assert_int_equal(col->nquality, 1);
	assert_string_equal(col->quality[0].metric, "duplicateValues");
	assert_int_equal(col->quality[0].op, QOP_MUST_BE);
	assert_true(col->quality[0].a == 0.0);

	col = column(t, "email");
	assert_int_equal(col->type, LT_STRING);
	assert_true(col->pii); /* "PII" is "pii" */
	assert_string_equal(col->classification, "PII");
	assert_int_equal(col->mask, MASK_REDACT);
	assert_true(col->unique);
	assert_false(col->required);
	assert_false(col->has_minimum);
	assert_int_equal(col->min_length, 3);
	assert_int_equal(col->max_length, 254);
	assert_string_equal(col->pattern, "^[^@]+@[^@]+$");
	assert_null(col->format);
	assert_int_equal(col->nquality, 2);
	r = &col->quality[0];
	assert_string_equal(r->type, "library");
	assert_string_equal(r->name, "few_nulls");
	assert_null(r->description);
	assert_string_equal(r->metric, "nullValues");
	assert_int_equal(r->op, QOP_LESS);
	assert_true(r->a == 5.0);
	assert_true(r->percent);
	assert_true(r->warning);
	assert_int_equal(r->line, 52);
	assert_int_equal(r->col, 13);
	assert_null(r->query);
	r = &col->quality[1];
	assert_string_equal(r->metric, "invalidValues");
	assert_string_equal(r->pattern, "@");
	assert_int_equal(r->nvalid, 0);
	assert_false(r->warning);
	assert_false(r->percent);

	col = column(t, "card");
	assert_true(col->pii); /* listed in the mesh's PII classes */
	assert_int_equal(col->mask, MASK_LAST4);
	assert_int_equal(col->type, LT_STRING);
	col = column(t, "phone");
	assert_true(col->pii);
	assert_int_equal(col->mask, MASK_NULL);

	col = column(t, "country");
	assert_false(col->pii);
	assert_true(col->required);
	assert_int_equal(col->mask, MASK_TOKEN);
	assert_int_equal(col->nquality, 2);
	r = &col->quality[0];
	assert_int_equal(r->op, QOP_LESS_OR_EQUAL);
	assert_int_equal(r->nvalid, 3);
	assert_string_equal(r->valid_values[0], "FR");
	assert_string_equal(r->valid_values[2], "NO");
	r = &col->quality[1];
	assert_string_equal(r->metric, "missingValues");
	assert_int_equal(r->op, QOP_NOT_BETWEEN);
	assert_true(r->a == 10.0 && r->b == 20.0);
	assert_true(r->warning); /* info */
	assert_int_equal(r->nvalid, 3);
	assert_string_equal(r->valid_values[0], "");
	assert_string_equal(r->valid_values[1], "");
	assert_string_equal(r->valid_values[2], "N/A");

	col = column(t, "born");
	assert_int_equal(col->type, LT_DATE);
	assert_false(col->has_minimum); /* a date, not a number: left alone */
	assert_string_equal(col->format, "yyyy-MM-dd");
	col = column(t, "seen_at");
	assert_int_equal(col->type, LT_TIMESTAMP);
	assert_false(col->required);

	col = column(t, "score");
	assert_int_equal(col->type, LT_NUMBER);
	assert_true(col->minimum == -1.5 && col->maximum == 0.5);
	assert_int_equal(col->nquality, 3);
	assert_string_equal(col->quality[0].type, "sql");
	assert_string_equal(col->quality[0].query,
			    "SELECT COUNT(*) FROM {object} WHERE {property} > 0");
	assert_int_equal(col->quality[0].op, QOP_GREATER_OR_EQUAL);
	assert_null(col->quality[0].metric);
	assert_string_equal(col->quality[1].type, "text");
	assert_null(col->quality[1].metric);
	assert_null(col->quality[1].query);
	assert_string_equal(col->quality[1].description, "Scores come from the model.");
	assert_int_equal(col->quality[1].op, QOP_NONE);
	assert_string_equal(col->quality[2].type, "custom");
	assert_int_equal(col->quality[2].op, QOP_NONE);

	col = column(t, "active");
	assert_int_equal(col->type, LT_BOOLEAN);
	assert_false(col->unique);

	/* Table rules; the old `rule:` form is skipped. */
	assert_int_equal(t->nquality, 3);
	r = &t->quality[0];
	assert_string_equal(r->metric, "rowCount");
	assert_int_equal(r->op, QOP_BETWEEN);
	assert_true(r->a == 1.0 && r->b == 1000000.0);
	assert_false(r->warning);
	r = &t->quality[1];
	assert_string_equal(r->metric, "duplicateValues");
	assert_int_equal(r->nproperties, 2);
	assert_string_equal(r->properties[0], "email");
	assert_string_equal(r->properties[1], "country");
	r = &t->quality[2];
	assert_string_equal(r->type, "sql");
	assert_string_equal(r->name, "not_empty");
	assert_string_equal(r->query, "SELECT COUNT(*) FROM customers");
	assert_null(r->metric);
	assert_int_equal(r->op, QOP_GREATER);

	t = contract_table(&c, "addresses");
	assert_non_null(t);
	assert_int_equal(t->ncolumns, 1);
	assert_string_equal(t->description, "");
	assert_int_equal(t->columns[0].type, LT_INTEGER);
	assert_true(t->columns[0].required);

	contract_release(&c);
	assert_null(c.tables);
	assert_int_equal(c.ntables, 0);
}

static void test_defaults(void **state)
{
	static const char yaml[] = TABLE;
	const struct contract_column *col;
	struct mfs_error err;
	struct contract c;

	(void)state;
	mfs_error_clear(&err);
	assert_int_equal(parse(&c, yaml, &err), 0);
	assert_string_equal(c.id, "");
	assert_string_equal(c.name, "customers");
	assert_string_equal(c.status, "active");
	assert_null(c.purpose);
	assert_int_equal(c.ntags, 0);
	assert_int_equal(c.nteam, 0);
	assert_int_equal(c.ninputs, 0);
	assert_int_equal(c.frequency_seconds, 0);
	assert_null(c.retention);
	assert_int_equal(c.ntables, 1);
	col = &c.tables[0].columns[0];
	assert_string_equal(col->name, "a");
	assert_string_equal(col->description, "");
	assert_int_equal(col->type, LT_STRING);
	assert_false(col->required || col->unique || col->primary_key || col->pii);
	assert_int_equal(col->mask, MASK_TOKEN);
	assert_int_equal(col->min_length, -1);
	assert_int_equal(col->max_length, -1);
	assert_null(col->pattern);
	assert_null(col->classification);
	contract_release(&c);
}

static void test_team_forms(void **state)
{
	static const char v31[] = "apiVersion: v3.1.0\n" REST SCHEMA "team:\n"
				  "  name: sellers\n"
				  "  description: The team.\n"
				  "  members:\n"
				  "    - username: carol\n"
				  "      role: owner\n"
				  "    - username: dave\n";
	static const char nobody[] = TABLE "team:\n"
					   "  name: nobody\n";
	static const char v30[] = TABLE "team:\n"
					"  - username: erin\n"
					"    role: steward\n";
	struct mfs_error err;
	struct contract c;

	(void)state;
	mfs_error_clear(&err);
	if (parse(&c, v31, &err))
		fail_msg("%s", err.msg);
	assert_string_equal(c.api_version, "v3.1.0");
	assert_int_equal(c.nteam, 2);
	assert_string_equal(c.team[0].username, "carol");
	assert_string_equal(c.team[0].role, "owner");
	assert_string_equal(c.team[1].username, "dave");
	assert_null(c.team[1].role);
	contract_release(&c);

	assert_int_equal(parse(&c, nobody, &err), 0);
	assert_int_equal(c.nteam, 0);
	contract_release(&c);

	assert_int_equal(parse(&c, v30, &err), 0);
	assert_int_equal(c.nteam, 1);
	assert_string_equal(c.team[0].username, "erin");
	assert_string_equal(c.team[0].role, "steward");
	contract_release(&c);
}

static void test_api_versions(void **state)
{
	static const char *const ok[] = {"v3.0.0", "v3.0.1", "v3.0.2", "v3.0.17", "v3.1.0", NULL};
	static const char *const bad[] = {"v2.2.0", "v3.2.0", "v3.0", "3.0.0", "v3.0.x",
					  "v3.1.1", "v3.0.",  "v4",   NULL};
	const char *const *v;
	struct mfs_error err;
	struct contract c;
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb);
	for (v = ok; *v; v++) {
		strbuf_reset(&sb);
		assert_int_equal(strbuf_addf(&sb, "apiVersion: %s\n" REST SCHEMA, *v), 0);
		mfs_error_clear(&err);
		if (parse(&c, sb.buf, &err))
			fail_msg("%s refused: %s", *v, err.msg);
		assert_string_equal(c.api_version, *v);
		contract_release(&c);
	}
	for (v = bad; *v; v++) {
		strbuf_reset(&sb);
		assert_int_equal(strbuf_addf(&sb, "apiVersion: %s\n" REST SCHEMA, *v), 0);
		mfs_error_clear(&err);
		assert_int_equal(parse(&c, sb.buf, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "c.yaml:1:13: unsupported apiVersion"));
		assert_null(c.api_version);
	}
	strbuf_release(&sb);
}

static void test_versions(void **state)
{
	static const struct {
		const char *version;
		int ok, major, minor, patch;
	} cases[] = {
	    {"1.0.0", 1, 1, 0, 0},
	    {"0.0.1", 1, 0, 0, 1},
	    {"10.20.30", 1, 10, 20, 30},
	    {"1.2.3-alpha", 1, 1, 2, 3},
	    {"1.2.3-alpha.1.x-y", 1, 1, 2, 3},
	    {"1.2.3+20240101", 1, 1, 2, 3},
	    {"1.2.3-rc.1+sha.5114f85", 1, 1, 2, 3},
	    {"1.0", 0, 0, 0, 0},
	    {"1", 0, 0, 0, 0},
	    {"1.0.0.0", 0, 0, 0, 0},
	    {"01.0.0", 0, 0, 0, 0},
	    {"1.00.0", 0, 0, 0, 0},
	    {"v1.0.0", 0, 0, 0, 0},
	    {"1.0.0-", 0, 0, 0, 0},
	    {"1.0.0-a..b", 0, 0, 0, 0},
	    {"1.0.0+", 0, 0, 0, 0},
	    {"1.0.0-ü", 0, 0, 0, 0},
	    {"99999999999.0.0", 0, 0, 0, 0},
	    {"-1.0.0", 0, 0, 0, 0},
	};
	struct mfs_error err;
	struct contract c;
	struct strbuf sb;
	size_t i;
	int rc;

	(void)state;
	strbuf_init(&sb);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		strbuf_reset(&sb);
		assert_int_equal(strbuf_addf(&sb,
					     "apiVersion: v3.0.0\n"
					     "kind: DataContract\n"
					     "domain: orders\n"
					     "dataProduct: customers\n"
					     "version: \"%s\"\n" SCHEMA,
					     cases[i].version),
				 0);
		mfs_error_clear(&err);
		rc = parse(&c, sb.buf, &err);
		if (!cases[i].ok) {
			if (rc != -EINVAL)
				fail_msg("%s accepted", cases[i].version);
			assert_non_null(strstr(err.msg, "is not semver"));
			continue;
		}
		if (rc)
			fail_msg("%s refused: %s", cases[i].version, err.msg);
		assert_string_equal(c.version, cases[i].version);
		assert_int_equal(c.major, cases[i].major);
		assert_int_equal(c.minor, cases[i].minor);
		assert_int_equal(c.patch, cases[i].patch);
		contract_release(&c);
	}
	strbuf_release(&sb);
}

static void test_frequency_units(void **state)
{
	static const struct {
		const char *value, *unit;
		int64_t seconds;
	} cases[] = {
	    {"1", "h", 3600},		{"2", "d", 172800},    {"1", "w", 604800},
	    {"30", "m", 1800},		{"1", "y", 31536000},  {"6", "hours", 21600},
	    {"1", "hour", 3600},	{"1", "day", 86400},   {"3", "days", 259200},
	    {"2", "weeks", 1209600},	{"1", "week", 604800}, {"15", "minutes", 900},
	    {"0.5", "h", 1800},		{"1", "H", 3600},      {"1", "Day", 86400},
	    {"2", "years", 63072000},	{"1", "min", 60},      {"1.5", "d", 129600},
	    {"1", "yr", 31536000},	{"4", "hr", 14400},    {"10", "minute", 600},
	    {"100", "y", 3153600000LL},
	};
	struct mfs_error err;
	struct contract c;
	struct strbuf sb;
	size_t i;

	(void)state;
	strbuf_init(&sb);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		strbuf_reset(&sb);
		assert_int_equal(strbuf_addf(&sb,
					     "%sslaProperties:\n"
					     "  - property: Frequency\n"
					     "    value: %s\n"
					     "    unit: %s\n",
					     TABLE, cases[i].value, cases[i].unit),
				 0);
		mfs_error_clear(&err);
		if (parse(&c, sb.buf, &err))
			fail_msg("%s %s: %s", cases[i].value, cases[i].unit, err.msg);
		if (c.frequency_seconds != cases[i].seconds)
			fail_msg("%s %s gave %lld seconds", cases[i].value, cases[i].unit,
				 (long long)c.frequency_seconds);
		contract_release(&c);
	}
	strbuf_release(&sb);
}

static void test_retention_text(void **state)
{
	static const char yaml[] = TABLE "slaProperties:\n"
					 "  - property: retention\n"
					 "    value: 7\n"
					 "    unit: years\n";
	static const char bare[] = TABLE "slaProperties:\n"
					 "  - property: re\n"
					 "    value: forever\n";
	struct mfs_error err;
	struct contract c;

	(void)state;
	assert_int_equal(parse(&c, yaml, &err), 0);
	assert_string_equal(c.retention, "7 years");
	contract_release(&c);
	assert_int_equal(parse(&c, bare, &err), 0);
	assert_string_equal(c.retention, "forever");
	contract_release(&c);
}

/* Each contract is refused with exactly this message (file c.yaml). */
static const struct {
	const char *yaml, *msg;
} rejections[] = {
    {"", "c.yaml:1:1: empty contract"},
    {"# nothing\n", "c.yaml:1:1: empty contract"},
    {"- a\n- b\n", "c.yaml:1:1: a contract must be a YAML mapping (apiVersion, kind, …)"},
    {"a: [1, 2\n", "c.yaml:2:1: did not find expected ',' or ']' (while parsing a flow "
		   "sequence at 1:4)"},
    {"a: b\n c: d\n", "c.yaml:2:3: mapping values are not allowed in this context"},
    {HEAD "---\na: 1\n", "c.yaml:6:1: more than one YAML document"},
    {"apiVersion: v2.2.0\n",
     "c.yaml:1:13: unsupported apiVersion \"v2.2.0\" (expected v3.0.x or v3.1.0)"},
    {"kind: DataContract\n", "c.yaml:1:1: missing apiVersion"},
    {"apiVersion: v3.0.0\nkind: DataProduct\n", "c.yaml:2:7: kind must be DataContract"},
    {"apiVersion: v3.0.0\nkind: DataContract\n", "c.yaml:1:1: missing domain"},
    {"apiVersion: v3.0.0\nkind: DataContract\ndomain: Orders\n",
     "c.yaml:3:9: invalid domain name \"Orders\" (1 to 63 characters of a-z, 0-9, _ and -, "
     "starting with a letter or digit)"},
    {"apiVersion: v3.0.0\nkind: DataContract\ndomain: orders\n", "c.yaml:1:1: missing dataProduct"},
    {"apiVersion: v3.0.0\nkind: DataContract\ndomain: orders\ndataProduct: _x\n",
     "c.yaml:4:14: invalid product name \"_x\" (1 to 63 characters of a-z, 0-9, _ and -, "
     "starting with a letter or digit)"},
    {"apiVersion: v3.0.0\nkind: DataContract\ndomain: orders\ndataProduct: c\n",
     "c.yaml:1:1: missing version"},
    {"apiVersion: v3.0.0\nkind: DataContract\ndomain: orders\ndataProduct: c\nversion: 1.0\n",
     "c.yaml:5:10: version \"1.0\" is not semver (MAJOR.MINOR.PATCH)"},
    {HEAD, "c.yaml:1:1: missing schema"},
    {HEAD "domain: sales\n", "c.yaml:6:1: duplicate key \"domain\""},
    {HEAD "schema:\n  name: t\n", "c.yaml:7:3: schema must be a list"},
    {HEAD "schema:\n  - name: t\n", "c.yaml:7:5: table \"t\" has no properties (columns)"},
    {HEAD "schema:\n  - name: t\n    properties: []\n",
     "c.yaml:8:17: table \"t\" has no properties (columns)"},
    {HEAD "schema:\n  - properties: [{name: a}]\n", "c.yaml:7:5: missing name"},
    {HEAD "schema:\n  - name: T\n", "c.yaml:7:11: invalid table name \"T\" (1 to 63 characters "
				    "of a-z, 0-9, _ and -, starting with a letter or digit)"},
    {TABLE "  - name: t\n    properties: [{name: b}]\n",
     "c.yaml:10:5: duplicate table \"t\" (first at 7:5)"},
    {HEAD "schema:\n  - name: t\n    properties:\n      - logicalType: string\n",
     "c.yaml:9:9: missing name"},
    {TABLE "      - name: a\n", "c.yaml:10:9: duplicate column \"a\" (first at 9:9)"},
    {TABLE "      - name: bad name\n",
     "c.yaml:10:15: invalid column name \"bad name\" (1 to 63 characters of a-z, 0-9, _ and -, "
     "starting with a letter or digit)"},
    {TABLE "        logicalType: strng\n",
     "c.yaml:10:22: unknown logicalType \"strng\" (expected string, integer, number, boolean, "
     "date, timestamp)"},
    {TABLE "        logicalType: [string]\n",
     "c.yaml:10:22: logicalType must be one of string, integer, number, boolean, date, "
     "timestamp"},
    {TABLE "        required: maybe\n",
     "c.yaml:10:19: required must be true or false, not \"maybe\""},
    {TABLE "        unique: 2\n", "c.yaml:10:17: unique must be true or false, not \"2\""},
    {TABLE "        primaryKey: {a: 1}\n", "c.yaml:10:21: primaryKey must be true or false"},
    {TABLE "        logicalType: integer\n        logicalTypeOptions:\n          minimum: abc\n",
     "c.yaml:12:20: minimum must be a number, not \"abc\""},
    {TABLE "        logicalType: number\n        logicalTypeOptions:\n          maximum: .inf\n",
     "c.yaml:12:20: maximum must be a number, not \".inf\""},
    {TABLE "        logicalType: number\n        logicalTypeOptions:\n          minimum: 5\n"
	   "          maximum: 1\n",
     "c.yaml:12:11: minimum 5 is greater than maximum 1"},
    {TABLE "        logicalTypeOptions:\n          minLength: 5\n          maxLength: 4\n",
     "c.yaml:11:11: minLength 5 is greater than maxLength 4"},
    {TABLE "        logicalTypeOptions:\n          minLength: -1\n",
     "c.yaml:11:22: minLength must be a whole number, 0 or more"},
    {TABLE "        logicalTypeOptions:\n          maxLength: 1.5\n",
     "c.yaml:11:22: maxLength must be a whole number, 0 or more"},
    {TABLE "        logicalTypeOptions: [1]\n",
     "c.yaml:10:29: logicalTypeOptions must be a mapping"},
    {TABLE "        customProperties:\n          - property: mask\n            value: hide\n",
     "c.yaml:12:20: unknown mask \"hide\" (expected token, redact, last4, null)"},
    {TABLE "        customProperties:\n          - property: mask\n",
     "c.yaml:11:13: missing value"},
    {TABLE "        customProperties:\n          - value: x\n", "c.yaml:11:13: missing property"},
    {TABLE "        quality:\n          - metric: nullValue\n            mustBe: 0\n",
     "c.yaml:11:21: unknown metric \"nullValue\" (expected nullValues, missingValues, "
     "invalidValues, duplicateValues, rowCount)"},
    {TABLE "        quality:\n          - mustBe: 0\n", "c.yaml:11:13: missing metric"},
    {TABLE "        quality:\n          - metric: nullValues\n            mustBeGreaterThen: 0\n",
     "c.yaml:12:13: unknown operator \"mustBeGreaterThen\" (expected mustBe, mustNotBe, "
     "mustBeGreaterThan, mustBeGreaterOrEqualTo, mustBeLessThan, mustBeLessOrEqualTo, "
     "mustBeBetween, mustNotBeBetween)"},
    {TABLE "        quality:\n          - metric: nullValues\n",
     "c.yaml:11:13: quality rule without an operator (mustBe, mustBeLessThan, mustBeBetween, "
     "…)"},
    {TABLE "        quality:\n          - metric: nullValues\n            mustBeGreaterThan: 0\n"
	   "            mustBeLessThan: 9\n",
     "c.yaml:13:13: more than one operator in a rule (for a range, use mustBeBetween: [a, b])"},
    {TABLE "        quality:\n          - metric: nullValues\n            mustBe: none\n",
     "c.yaml:12:21: mustBe must be a number, not \"none\""},
    {TABLE "        quality:\n          - metric: nullValues\n            mustBeBetween: [1]\n",
     "c.yaml:12:28: mustBeBetween takes a list of two numbers, [low, high]"},
    {TABLE "        quality:\n          - metric: nullValues\n            mustBeBetween: 3\n",
     "c.yaml:12:28: mustBeBetween takes a list of two numbers, [low, high]"},
    {TABLE "        quality:\n          - metric: nullValues\n"
	   "            mustNotBeBetween: [5, 1]\n",
     "c.yaml:12:31: mustNotBeBetween: low 5 is greater than high 1"},
    {TABLE "        quality:\n          - metric: nullValues\n            mustBeBetween: [1, x]\n",
     "c.yaml:12:32: mustBeBetween must be a number, not \"x\""},
    {TABLE "        quality:\n          - metric: rowCount\n            mustBe: 0\n",
     "c.yaml:11:21: metric rowCount applies to a table, not a column"},
    {TABLE "    quality:\n      - metric: nullValues\n        mustBe: 0\n",
     "c.yaml:11:17: metric nullValues applies to a column, not a table"},
    {TABLE "    quality:\n      - metric: rowCount\n        mustBe: 0\n        unit: percent\n",
     "c.yaml:13:15: unit percent does not apply to rowCount"},
    {TABLE "        quality:\n          - metric: invalidValues\n            mustBe: 0\n",
     "c.yaml:11:13: invalidValues needs arguments.validValues or arguments.pattern"},
    {TABLE "        quality:\n          - metric: invalidValues\n            mustBe: 0\n"
	   "            arguments:\n              validValues: [[1]]\n",
     "c.yaml:14:29: arguments.validValues must be a list of single values"},
    {TABLE "    quality:\n      - metric: duplicateValues\n        mustBe: 0\n"
	   "        arguments:\n          properties: [a, zz]\n",
     "c.yaml:14:27: unknown property \"zz\" in table \"t\""},
    {TABLE "        quality:\n          - type: great\n",
     "c.yaml:11:19: unknown quality type \"great\" (expected library, sql, text, custom)"},
    {TABLE "        quality:\n          - metric: nullValues\n            mustBe: 0\n"
	   "            severity: fatal\n",
     "c.yaml:13:23: unknown severity \"fatal\" (expected error, warning, info)"},
    {TABLE "        quality:\n          - metric: nullValues\n            mustBe: 0\n"
	   "            unit: bytes\n",
     "c.yaml:13:19: unknown unit \"bytes\" (expected rows, percent)"},
    {TABLE "        quality:\n          - type: sql\n            mustBe: 0\n",
     "c.yaml:11:13: missing query"},
    {TABLE "        quality: nope\n", "c.yaml:10:18: quality must be a list"},
    {TABLE "slaProperties:\n  - property: frequency\n    value: 1\n    unit: fortnight\n",
     "c.yaml:13:11: unknown unit \"fortnight\" for frequency (expected m, h, d, w, y)"},
    {TABLE "slaProperties:\n  - property: frequency\n    value: 1\n",
     "c.yaml:11:5: frequency needs a unit (m, h, d, w, y)"},
    {TABLE "slaProperties:\n  - property: frequency\n    unit: d\n", "c.yaml:11:5: missing value"},
    {TABLE "slaProperties:\n  - property: frequency\n    value: 0\n    unit: d\n",
     "c.yaml:12:12: frequency must be at least a second and at most centuries"},
    {TABLE "slaProperties:\n  - property: frequency\n    value: daily\n    unit: d\n",
     "c.yaml:12:12: frequency must be a number, not \"daily\""},
    {TABLE "slaProperties:\n  - {property: frequency, value: 1, unit: d}\n"
	   "  - {property: frequency, value: 2, unit: d}\n",
     "c.yaml:12:5: more than one frequency"},
    {TABLE "customProperties:\n  - property: inputs\n    value: [sales]\n",
     "c.yaml:12:13: invalid input \"sales\" (expected DOMAIN/PRODUCT)"},
    {TABLE "customProperties:\n  - property: inputs\n    value: [sales/orders/x]\n",
     "c.yaml:12:13: invalid input \"sales/orders/x\" (expected DOMAIN/PRODUCT)"},
    {TABLE "customProperties:\n  - property: inputs\n    value: [Sales/orders]\n",
     "c.yaml:12:13: invalid input \"Sales/orders\" (expected DOMAIN/PRODUCT)"},
    {TABLE "customProperties:\n  - property: inputs\n    value: [a/b, orders/customers]\n",
     "c.yaml:12:18: a product cannot be its own input"},
    {TABLE "customProperties:\n  - property: inputs\n    value: [a/b, c/d, a/b]\n",
     "c.yaml:12:23: duplicate input \"a/b\""},
    {TABLE "customProperties:\n  - property: inputs\n    value: a/b\n",
     "c.yaml:12:12: inputs must be a list"},
    {TABLE "customProperties:\n  - {property: inputs, value: [a/b]}\n"
	   "  - {property: inputs, value: [c/d]}\n",
     "c.yaml:12:5: more than one inputs property (first at 11:5)"},
    {TABLE "team: alice\n", "c.yaml:10:7: team must be a list of members, or a mapping with "
			    "members"},
    {TABLE "team:\n  - role: owner\n", "c.yaml:11:5: missing username"},
    {TABLE "team:\n  members: {username: x}\n",
     "c.yaml:11:12: team must be a list of members, or a mapping with members"},
    {TABLE "tags: gold\n", "c.yaml:10:7: tags must be a list"},
    {TABLE "description: [a]\n", "c.yaml:10:14: description must be a mapping"},
    {TABLE "description:\n  purpose: {a: b}\n", "c.yaml:11:12: purpose must be a single value"},
    {TABLE "        description: \"a\\0b\"\n", "c.yaml:10:22: NUL character in a value"},
    {TABLE "x: *anchor\n", "c.yaml:10:4: alias *anchor: aliases are not allowed in a contract "
			   "(write the value out)"},
    {"a: \"\xff\"\n", "c.yaml:1:5: invalid leading UTF-8 octet"},
};

static void test_rejections(void **state)
{
	struct mfs_error err;
	struct contract c;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(rejections) / sizeof(rejections[0]); i++) {
		mfs_error_clear(&err);
		rc = parse(&c, rejections[i].yaml, &err);
		if (rc != -EINVAL)
			fail_msg("case %zu: rc %d, not -EINVAL (%s)", i, rc, err.msg);
		if (strcmp(err.msg, rejections[i].msg))
			fail_msg("case %zu:\n  got      %s\n  expected %s", i, err.msg,
				 rejections[i].msg);
		/* A refused contract leaves nothing behind. */
		assert_null(c.api_version);
		assert_null(c.domain);
		assert_null(c.tables);
		assert_int_equal(c.ntables, 0);
	}
}

static void test_anchors_and_aliases(void **state)
{
	/* An anchor alone is plain data; following an alias is refused. */
	static const char anchored[] = TABLE "        description: &d Shared text.\n";
	static const char merge[] = TABLE "defaults: &defaults\n"
					  "  logicalType: string\n"
					  "other:\n"
					  "  <<: *defaults\n";
	struct mfs_error err;
	struct contract c;

	(void)state;
	mfs_error_clear(&err);
	assert_int_equal(parse(&c, anchored, &err), 0);
	assert_string_equal(c.tables[0].columns[0].description, "Shared text.");
	contract_release(&c);

	mfs_error_clear(&err);
	assert_int_equal(parse(&c, merge, &err), -EINVAL);
	assert_string_equal(err.msg, "c.yaml:13:7: alias *defaults: aliases are not allowed in a "
				     "contract (write the value out)");
}

static void nested(struct strbuf *sb, int levels)
{
	int i;

	strbuf_reset(sb);
	assert_int_equal(strbuf_addstr(sb, TABLE "deep: "), 0);
	for (i = 0; i < levels; i++)
		assert_int_equal(strbuf_addch(sb, '['), 0);
	for (i = 0; i < levels; i++)
		assert_int_equal(strbuf_addch(sb, ']'), 0);
	assert_int_equal(strbuf_addch(sb, '\n'), 0);
}

static void test_depth_bound(void **state)
{
	struct mfs_error err;
	struct contract c;
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb);
	/* The top mapping is one level: 63 more are fine, 64 more are too deep. */
	nested(&sb, 63);
	mfs_error_clear(&err);
	if (parse(&c, sb.buf, &err))
		fail_msg("%s", err.msg);
	contract_release(&c);

	nested(&sb, 64);
	mfs_error_clear(&err);
	assert_int_equal(parse(&c, sb.buf, &err), -EINVAL);
	assert_string_equal(err.msg, "c.yaml:10:70: nested more than 64 levels deep");

	nested(&sb, 100000);
	mfs_error_clear(&err);
	assert_int_equal(parse(&c, sb.buf, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "nested more than 64 levels deep"));
	strbuf_release(&sb);
}

static void test_node_bound(void **state)
{
	struct mfs_error err;
	struct contract c;
	struct strbuf sb;
	int i;

	(void)state;
	strbuf_init(&sb);
	assert_int_equal(strbuf_addstr(&sb, TABLE "many: ["), 0);
	for (i = 0; i < 100000; i++)
		assert_int_equal(strbuf_addstr(&sb, "1,"), 0);
	assert_int_equal(strbuf_addstr(&sb, "1]\n"), 0);
	mfs_error_clear(&err);
	assert_int_equal(parse(&c, sb.buf, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "more than 100000 YAML nodes"));
	assert_int_equal(strncmp(err.msg, "c.yaml:10:", 10), 0);

	/* Well under the bound, a long list of unknown data is fine. */
	strbuf_reset(&sb);
	assert_int_equal(strbuf_addstr(&sb, TABLE "many: ["), 0);
	for (i = 0; i < 90000; i++)
		assert_int_equal(strbuf_addstr(&sb, "1,"), 0);
	assert_int_equal(strbuf_addstr(&sb, "1]\n"), 0);
	mfs_error_clear(&err);
	if (parse(&c, sb.buf, &err))
		fail_msg("%s", err.msg);
	contract_release(&c);
	strbuf_release(&sb);
}

static void test_long_lists(void **state)
{
	struct mfs_error err;
	struct contract c;
	struct strbuf sb;
	char expect[128];
	int i;

	(void)state;
	strbuf_init(&sb);
	/* 20,000 columns, the last repeating one from the middle. */
	assert_int_equal(strbuf_addstr(&sb, HEAD "schema:\n  - name: t\n    properties:\n"), 0);
	for (i = 0; i < 20000; i++)
		assert_int_equal(strbuf_addf(&sb, "      - {name: c%d}\n", i), 0);
	mfs_error_clear(&err);
	if (parse(&c, sb.buf, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(c.tables[0].ncolumns, 20000);
	assert_string_equal(c.tables[0].columns[19999].name, "c19999");
	contract_release(&c);
	assert_int_equal(strbuf_addstr(&sb, "      - {name: c12345}\n"), 0);
	assert_int_equal(parse(&c, sb.buf, &err), -EINVAL);
	snprintf(expect, sizeof(expect), "c.yaml:%d:9: duplicate column \"c12345\" (first at %d:9)",
		 9 + 20000, 9 + 12345);
	assert_string_equal(err.msg, expect);

	/* 20,000 inputs, then one named twice. */
	strbuf_reset(&sb);
	assert_int_equal(strbuf_addstr(&sb, TABLE "customProperties:\n  - property: inputs\n"
						  "    value:\n"),
			 0);
	for (i = 0; i < 20000; i++)
		assert_int_equal(strbuf_addf(&sb, "      - d%d/p\n", i), 0);
	mfs_error_clear(&err);
	if (parse(&c, sb.buf, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(c.ninputs, 20000);
	assert_string_equal(c.inputs[777], "d777/p");
	contract_release(&c);
	assert_int_equal(strbuf_addstr(&sb, "      - d777/p\n"), 0);
	assert_int_equal(parse(&c, sb.buf, &err), -EINVAL);
	snprintf(expect, sizeof(expect), "c.yaml:%d:9: duplicate input \"d777/p\"", 13 + 20000);
	assert_string_equal(err.msg, expect);
	strbuf_release(&sb);
}

static void test_pii_classes(void **state)
{
	static const char yaml[] =
	    TABLE "        classification: confidential\n"
		  "      - name: b\n"
		  "        classification: Pii\n"
		  "      - name: c\n"
		  "        classification: public\n"
		  "        customProperties: [{property: mask, value: last4}]\n";
	static const char *const classes[] = {"pii", "confidential", NULL};
	static const char *const none[] = {NULL};
	struct mfs_error err;
	struct contract c;

	(void)state;
	assert_int_equal(parse(&c, yaml, &err), 0);
	assert_false(c.tables[0].columns[0].pii);
	assert_true(c.tables[0].columns[1].pii);
	assert_false(c.tables[0].columns[2].pii); /* a mask alone does not make PII */
	contract_release(&c);

	assert_int_equal(contract_parse(&c, yaml, strlen(yaml), "c.yaml", classes, &err), 0);
	assert_true(c.tables[0].columns[0].pii);
	assert_true(c.tables[0].columns[1].pii);
	assert_false(c.tables[0].columns[2].pii);
	contract_release(&c);

	assert_int_equal(contract_parse(&c, yaml, strlen(yaml), "c.yaml", none, &err), 0);
	assert_false(c.tables[0].columns[0].pii);
	assert_false(c.tables[0].columns[1].pii);
	contract_release(&c);
}

static void test_length_bounds_text(void **state)
{
	/* Only len bytes are the contract: what follows must not be read. */
	static const char yaml[] = TABLE "garbage: [unclosed";
	struct mfs_error err;
	struct contract c;

	(void)state;
	mfs_error_clear(&err);
	assert_int_equal(contract_parse(&c, yaml, strlen(TABLE), "c.yaml", NULL, &err), 0);
	assert_int_equal(c.ntables, 1);
	contract_release(&c);
	assert_int_equal(contract_parse(&c, yaml, strlen(yaml), "c.yaml", NULL, &err), -EINVAL);
}

static void test_reparse(void **state)
{
	struct mfs_error err;
	struct contract c;
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		mfs_error_clear(&err);
		assert_int_equal(parse(&c, full, &err), 0);
		assert_int_equal(c.ntables, 2);
		contract_release(&c);
		/* Releasing twice is harmless: release leaves an empty contract. */
		contract_release(&c);
		assert_int_equal(parse(&c, TABLE "        logicalType: strng\n", &err), -EINVAL);
		contract_release(&c);
	}
}

static void test_numbers_ignore_locale(void **state)
{
	static const char yaml[] =
	    TABLE "        logicalType: number\n"
		  "        logicalTypeOptions: {minimum: 1.25, maximum: 2.5e3}\n";
	static const char *const locales[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "C.UTF-8", "C"};
	struct mfs_error err;
	struct contract c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(locales) / sizeof(locales[0]); i++) {
		if (!setlocale(LC_NUMERIC, locales[i]))
			continue;
		mfs_error_clear(&err);
		assert_int_equal(parse(&c, yaml, &err), 0);
		assert_true(c.tables[0].columns[0].minimum == 1.25);
		assert_true(c.tables[0].columns[0].maximum == 2500.0);
		contract_release(&c);
	}
	setlocale(LC_NUMERIC, "C");
}

static void test_names(void **state)
{
	static const char *const ok[] = {
	    "a",
	    "orders",
	    "0day",
	    "a_b-c",
	    "x9",
	    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghija"
	    "bc",
	    NULL};
	static const char *const bad[] = {
	    "",
	    "A",
	    "_a",
	    "-a",
	    "a b",
	    "a/b",
	    "a.b",
	    "é",
	    "a\n",
	    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
	    "abcd",
	    NULL};
	const char *const *s;

	(void)state;
	assert_int_equal(strlen(ok[5]), 63);
	assert_int_equal(strlen(bad[9]), 64);
	for (s = ok; *s; s++)
		if (!mesh_name_valid(*s))
			fail_msg("\"%s\" refused", *s);
	for (s = bad; *s; s++)
		if (mesh_name_valid(*s))
			fail_msg("\"%s\" accepted", *s);
	assert_string_equal(logical_type_name(LT_STRING), "string");
	assert_string_equal(logical_type_name(LT_INTEGER), "integer");
	assert_string_equal(logical_type_name(LT_NUMBER), "number");
	assert_string_equal(logical_type_name(LT_BOOLEAN), "boolean");
	assert_string_equal(logical_type_name(LT_DATE), "date");
	assert_string_equal(logical_type_name(LT_TIMESTAMP), "timestamp");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_contract),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_team_forms),
	    cmocka_unit_test(test_api_versions),
	    cmocka_unit_test(test_versions),
	    cmocka_unit_test(test_frequency_units),
	    cmocka_unit_test(test_retention_text),
	    cmocka_unit_test(test_rejections),
	    cmocka_unit_test(test_anchors_and_aliases),
	    cmocka_unit_test(test_depth_bound),
	    cmocka_unit_test(test_node_bound),
	    cmocka_unit_test(test_long_lists),
	    cmocka_unit_test(test_pii_classes),
	    cmocka_unit_test(test_length_bounds_text),
	    cmocka_unit_test(test_reparse),
	    cmocka_unit_test(test_numbers_ignore_locale),
	    cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
