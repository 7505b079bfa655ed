#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "contract/contract.h"
#include "table/batch.h"
#include "table/checks.h"
#include "table/csv.h"
#include "tests/unit/helpers.h"

#define HEAD                                                                                       \
	"apiVersion: v3.0.2\n"                                                                     \
	"kind: DataContract\n"                                                                     \
	"domain: sales\n"                                                                          \
	"dataProduct: orders\n"                                                                    \
	"version: 1.0.0\n"                                                                         \
	"schema:\n"                                                                                \
	"  - name: orders\n"                                                                       \
	"    physicalType: table\n"

struct run {
	struct contract contract;
	struct check_report rep;
	unsigned long stopped_at; /* row (1-based, header excluded) on which row() gave 1 */
	int late_rows;		  /* rows after that which row() still answered 1 */
};

/* Checks csv (a header in contract order, then rows) against table orders of yaml. */
static void run(struct run *r, const char *yaml, const char *csv, const struct check_policy *pol)
{
	struct mem_source m = {.data = csv, .len = strlen(csv)};
	struct table_checks *c;
	struct mfs_error err = {""};
	struct csv_reader rd;
	struct csv_field *f;
	unsigned long row = 0;
	size_t n;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = contract_parse(&r->contract, yaml, strlen(yaml), "contract.yaml", NULL, &err);
	if (rc)
		fail_msg("contract: %s", err.msg);
	assert_int_equal(r->contract.ntables, 1);
	rc = table_checks_new(&c, &r->contract.tables[0], pol, "data.csv", &err);
	if (rc)
		fail_msg("table_checks_new: %d %s", rc, err.msg);
	csv_reader_init(&rd, mem_read, &m, "data.csv", NULL);
	assert_int_equal(csv_reader_next(&rd, &f, &n, &err), 1);
	while ((rc = csv_reader_next(&rd, &f, &n, &err)) > 0) {
		row++;
		assert_int_equal(n, r->contract.tables[0].ncolumns);
		rc = table_checks_row(c, f, csv_reader_record_line(&rd));
		assert_true(rc == 0 || rc == 1);
		if (rc == 1 && !r->stopped_at)
			r->stopped_at = row;
		else if (rc == 1)
			r->late_rows++;
	}
	assert_int_equal(rc, 0);
	csv_reader_release(&rd);
	assert_int_equal(table_checks_finish(c, &r->rep), 0);
}

static void run_release(struct run *r)
{
	check_report_release(&r->rep);
	contract_release(&r->contract);
}

/* Table checks_new refuses yaml with -EINVAL; returns its message. */
static void refused(const char *yaml, const struct check_policy *pol, struct mfs_error *err)
{
	struct contract ct;
	struct table_checks *c = (void *)1;

	mfs_error_clear(err);
	if (contract_parse(&ct, yaml, strlen(yaml), "contract.yaml", NULL, err))
		fail_msg("contract: %s", err->msg);
	assert_int_equal(table_checks_new(&c, &ct.tables[0], pol, "data.csv", err), -EINVAL);
	assert_null(c);
	assert_true(err->msg[0]);
	contract_release(&ct);
}

static const struct check_problem *problem(const struct check_report *rep, const char *rule)
{
	size_t i;

	for (i = 0; i < rep->nproblems; i++)
		if (!strcmp(rep->problems[i].rule, rule))
			return &rep->problems[i];
	return NULL;
}

static size_t count_rule(const struct check_report *rep, const char *rule)
{
	size_t i, n = 0;

	for (i = 0; i < rep->nproblems; i++)
		n += !strcmp(rep->problems[i].rule, rule);
	return n;
}

static void expect_problem(const struct check_report *rep, const char *rule, const char *message)
{
	const struct check_problem *p = problem(rep, rule);

	if (!p)
		fail_msg("no problem %s; first is %s", rule,
			 rep->nproblems ? rep->problems[0].message : "(none)");
	assert_string_equal(p->message, message);
}

static void expect_line(const struct check_report *rep, const char *line)
{
	const char *s = rep->summary.buf, *hit;
	size_t n = strlen(line);

	for (hit = strstr(s, line); hit; hit = strstr(hit + 1, line))
		if ((hit == s || hit[-1] == '\n') && hit[n] == '\n')
			return;
	fail_msg("summary lacks \"%s\":\n%s", line, s);
}

static const char orders_yaml[] = HEAD "    properties:\n"
				       "      - name: order_id\n"
				       "        logicalType: integer\n"
				       "        required: true\n"
				       "        primaryKey: true\n"
				       "      - name: amount\n"
				       "        logicalType: number\n"
				       "        required: true\n"
				       "      - name: status\n"
				       "        logicalType: string\n"
				       "        required: true\n"
				       "      - name: note\n"
				       "        logicalType: string\n"
				       "      - name: placed\n"
				       "        logicalType: date\n";

static void test_good_table_passes(void **state)
{
	struct run r;

	(void)state;
	run(&r, orders_yaml,
	    "order_id,amount,status,note,placed\n"
	    "1,12.50,placed,,2024-01-05\n"
	    "2,7.25,shipped,\"gift, wrapped\",\n"
	    "3,100,placed,call before 5pm,2024-01-07\n",
	    NULL);
	assert_int_equal(r.rep.rows, 3);
	assert_int_equal(r.rep.errors, 0);
	assert_int_equal(r.rep.policy_errors, 0);
	assert_int_equal(r.rep.warnings, 0);
	assert_int_equal(r.rep.nproblems, 0);
	assert_int_equal(r.rep.dropped, 0);
	assert_int_equal(r.stopped_at, 0);
	assert_int_equal(check_report_errno(&r.rep), 0);
	assert_string_equal(r.rep.summary.buf,
			    "orders: type, required, primaryKey on 3 rows: passed\n"
			    "orders: undeclared PII (email, phone, card, iban, national_id) in 5 "
			    "columns: passed\n");
	run_release(&r);
}

static void test_type_and_required(void **state)
{
	struct run r;

	(void)state;
	run(&r, orders_yaml,
	    "order_id,amount,status,note,placed\n"
	    "1,12.50,placed,,2024-01-05\n"
	    "2,abc,shipped,,2024-02-30\n"
	    "x3,1,,,\n",
	    NULL);
	assert_int_equal(r.rep.errors, 4);
	assert_int_equal(r.rep.nproblems, 4);
	assert_int_equal(check_report_errno(&r.rep), -EINVAL);
	assert_string_equal(r.rep.problems[0].message,
			    "data.csv:3:3: column 'amount' (number): 'abc': not a number");
	assert_string_equal(r.rep.problems[0].rule, "type");
	assert_int_equal(r.rep.problems[0].line, 3);
	assert_int_equal(r.rep.problems[0].col, 3);
	assert_int_equal(r.rep.problems[0].policy, 0);
	assert_int_equal(r.rep.problems[0].warning, 0);
	assert_string_equal(r.rep.problems[1].message,
			    "data.csv:3:16: column 'placed' (date): '2024-02-30': no such day");
	assert_string_equal(r.rep.problems[2].message,
			    "data.csv:4:1: column 'order_id' (integer): 'x3': not an integer");
	expect_problem(&r.rep, "required", "data.csv:4:6: column 'status' is required but empty");
	expect_line(&r.rep, "orders: type, required, primaryKey on 3 rows: failed (4 errors)");
	run_release(&r);
}

static void test_unique_columns(void **state)
{
	static const char yaml[] = HEAD "    properties:\n"
					"      - name: sku\n"
					"        unique: true\n"
					"      - name: code\n"
					"        unique: true\n";
	struct run r;

	(void)state;
	run(&r, yaml,
	    "sku,code\n"
	    "a,\n"
	    "b,\n"
	    "a,x\n"
	    "c,x\n",
	    NULL);
	/* Nulls are not values: the two empty codes do not collide. */
	assert_int_equal(r.rep.errors, 2);
	expect_problem(&r.rep, "unique",
		       "data.csv:4:1: column 'sku' must be unique: the same value is on line 2");
	assert_string_equal(
	    r.rep.problems[1].message,
	    "data.csv:5:3: column 'code' must be unique: the same value is on line 4");
	expect_line(&r.rep, "orders: type, unique on 4 rows: failed (2 errors)");
	run_release(&r);
}

static void test_primary_key(void **state)
{
	static const char yaml[] = HEAD "    properties:\n"
					"      - name: order_id\n"
					"        logicalType: integer\n"
					"        primaryKey: true\n"
					"        unique: true\n"
					"      - name: line\n"
					"        logicalType: integer\n"
					"        primaryKey: true\n"
					"      - name: item\n";
	static const char single[] = HEAD "    properties:\n"
					  "      - name: id\n"
					  "        primaryKey: true\n"
					  "        unique: true\n";
	struct run r;

	(void)state;
	/* A tuple: (1, 1) and (1, 2) differ; "1,12" and "11,2" differ too. A column that is
	 * unique by itself stays so inside a composite key. */
	run(&r, yaml,
	    "order_id,line,item\n"
	    "1,1,a\n"
	    "1,2,b\n"
	    "11,2,c\n"
	    "1,1,d\n"
	    "2,,e\n",
	    NULL);
	assert_int_equal(count_rule(&r.rep, "unique"), 2);
	assert_int_equal(count_rule(&r.rep, "primaryKey"), 1);
	assert_int_equal(r.rep.errors, 4);
	expect_problem(&r.rep, "primaryKey",
		       "data.csv:5:1: the primary key (order_id, line) must be unique: the same "
		       "key is on line 2");
	/* The parser makes key columns required. */
	assert_string_equal(r.rep.problems[3].message,
			    "data.csv:6:3: column 'line' is required but empty");
	run_release(&r);

	/* A key of one column: a repeat is a primaryKey problem, not also a unique one. */
	run(&r, single, "id\nk1\nk2\nk1\n", NULL);
	assert_int_equal(r.rep.errors, 1);
	assert_int_equal(count_rule(&r.rep, "primaryKey"), 1);
	expect_line(&r.rep, "orders: type, required, primaryKey on 3 rows: failed (1 error)");
	run_release(&r);
}

static void test_options(void **state)
{
	static const char yaml[] = HEAD "    properties:\n"
					"      - name: qty\n"
					"        logicalType: integer\n"
					"        logicalTypeOptions:\n"
					"          minimum: 1\n"
					"          maximum: 9007199254740992\n"
					"      - name: price\n"
					"        logicalType: number\n"
					"        logicalTypeOptions:\n"
					"          minimum: 0.5\n"
					"          maximum: 10\n"
					"      - name: code\n"
					"        logicalTypeOptions:\n"
					"          minLength: 3\n"
					"          maxLength: 4\n"
					"          pattern: '^[A-Z]\\d+$'\n"
					"      - name: ref\n"
					"        logicalTypeOptions:\n"
					"          format: uuid\n"
					"      - name: link\n"
					"        logicalTypeOptions:\n"
					"          format: URI\n"
					"      - name: other\n"
					"        logicalTypeOptions:\n"
					"          format: hostname\n";
	struct run r;

	(void)state;
	run(&r, yaml,
	    "qty,price,code,ref,link,other\n"
	    "1,0.5,Ä12,123e4567-e89b-12d3-a456-426614174000,https://example.com/x,?\n"
	    "9007199254740992,10,B123,,mailto:x,\n"
	    "0,0.49,Q1,123e4567-e89b-12d3-a456-42661417400,no scheme,\n"
	    "9007199254740993,10.01,Q12345,,1http://x,\n",
	    NULL);
	/* Line 2: Ä12 is 3 characters (4 bytes) but does not match ^[A-Z] (not ASCII). */
	expect_problem(&r.rep, "pattern",
		       "data.csv:2:7: column 'code': 'Ä12' does not match the pattern "
		       "'^[A-Z]\\d+$'");
	assert_int_equal(count_rule(&r.rep, "pattern"), 1);
	assert_int_equal(count_rule(&r.rep, "minimum"), 2);
	assert_int_equal(count_rule(&r.rep, "maximum"), 2);
	assert_int_equal(count_rule(&r.rep, "minLength"), 1);
	assert_int_equal(count_rule(&r.rep, "maxLength"), 1);
	assert_int_equal(count_rule(&r.rep, "format"), 3);
	assert_int_equal(r.rep.errors, 10);
	expect_problem(&r.rep, "minimum",
		       "data.csv:4:1: column 'qty': '0' is less than the minimum 1");
	/* Integers compare exactly, beyond the 53 bits of a double. */
	expect_problem(&r.rep, "maximum",
		       "data.csv:5:1: column 'qty': '9007199254740993' is greater than the maximum "
		       "9007199254740992");
	expect_problem(
	    &r.rep, "minLength",
	    "data.csv:4:8: column 'code': 'Q1' has 2 characters, fewer than minLength 3");
	expect_problem(&r.rep, "maxLength",
		       "data.csv:5:24: column 'code': 'Q12345' has 6 characters, more than "
		       "maxLength 4");
	expect_problem(&r.rep, "format",
		       "data.csv:4:11: column 'ref': '123e4567-e89b-12d3-a456-42661417400' is not "
		       "a valid uuid (format)");
	expect_line(&r.rep, "orders: type, minimum, maximum, minLength, maxLength, pattern, format "
			    "on 4 rows: failed (10 errors)");
	run_release(&r);
}

/* Integer bounds compare exactly, also fractional ones and at the ends of int64. */
static void test_integer_bounds(void **state)
{
	static const char yaml[] = HEAD "    properties:\n"
					"      - name: n\n"
					"        logicalType: integer\n"
					"        logicalTypeOptions:\n"
					"          minimum: -1.5\n"
					"          maximum: 2.5\n"
					"      - name: x\n"
					"        logicalType: number\n"
					"        logicalTypeOptions:\n"
					"          minimum: 0.1\n"
					"          maximum: 1e300\n";
	struct run r;

	(void)state;
	run(&r, yaml,
	    "n,x\n"
	    "-1,0.1\n"
	    "2,1e300\n"
	    "-2,0.09999\n"
	    "3,1.1e300\n"
	    "-9223372036854775808,\n"
	    "9223372036854775807,\n",
	    NULL);
	assert_int_equal(count_rule(&r.rep, "minimum"), 3);
	assert_int_equal(count_rule(&r.rep, "maximum"), 3);
	assert_int_equal(r.rep.errors, 6);
	assert_int_equal(r.rep.problems[0].line, 4);
	assert_string_equal(r.rep.problems[0].message,
			    "data.csv:4:1: column 'n': '-2' is less than the minimum -1.5");
	assert_string_equal(r.rep.problems[1].message,
			    "data.csv:4:4: column 'x': '0.09999' is less than the minimum 0.1");
	assert_string_equal(
	    r.rep.problems[3].message,
	    "data.csv:5:3: column 'x': '1.1e300' is greater than the maximum 1e+300");
	assert_int_equal(r.rep.problems[4].line, 6);
	assert_int_equal(r.rep.problems[5].line, 7);
	run_release(&r);
}

static void test_format_email(void **state)
{
	static const char yaml[] = HEAD "    properties:\n"
					"      - name: email\n"
					"        classification: pii\n"
					"        logicalTypeOptions:\n"
					"          format: email\n";
	struct run r;

	(void)state;
	run(&r, yaml,
	    "email\n"
	    "a@example.com\n"
	    "first.last@sub.example.org\n"
	    "no-at-sign\n"
	    "two@@example.com\n"
	    "a b@example.com\n"
	    "x@nodot\n"
	    "x@example.\n"
	    "@example.com\n",
	    NULL);
	assert_int_equal(count_rule(&r.rep, "format"), 6);
	assert_int_equal(r.rep.problems[0].line, 4);
	assert_string_equal(
	    r.rep.problems[0].message,
	    "data.csv:4:1: column 'email': the value (not shown: PII column) is not a "
	    "valid email (format)");
	expect_line(&r.rep, "orders: undeclared PII: every column is classified PII");
	run_release(&r);
}

static void test_patterns(void **state)
{
	static const char yaml[] = HEAD "    properties:\n"
					"      - name: a\n"
					"        logicalTypeOptions:\n"
					"          pattern: '^\\w+\\s\\d{2}$'\n"
					"      - name: b\n"
					"        logicalTypeOptions:\n"
					"          pattern: '^[\\d\\-]+$'\n"
					"      - name: c\n"
					"        logicalTypeOptions:\n"
					"          pattern: '^\\S+\\.\\D$'\n"
					"      - name: d\n"
					"        logicalTypeOptions:\n"
					"          pattern: '^[\\]\\^x]+$'\n"
					"      - name: e\n"
					"        logicalTypeOptions:\n"
					"          pattern: 'ab'\n";
	struct run r;

	(void)state;
	/* The second row breaks every pattern; unanchored "ab" matches anywhere. */
	run(&r, yaml,
	    "a,b,c,d,e\n"
	    "x_1 42,12-34,a.b,]^x,cabin\n"
	    "x-1 42,12+34,a b.c,]-x,ba\n",
	    NULL);
	assert_int_equal(count_rule(&r.rep, "pattern"), 5);
	assert_int_equal(r.rep.problems[0].line, 3);
	assert_int_equal(r.rep.problems[4].line, 3);
	run_release(&r);
}

static void test_bad_setup(void **state)
{
	static const char *const bad[] = {
	    HEAD "    properties:\n"
		 "      - name: a\n"
		 "        logicalTypeOptions:\n"
		 "          pattern: '(?<x'\n",
	    HEAD "    properties:\n"
		 "      - name: a\n"
		 "        logicalTypeOptions:\n"
		 "          pattern: 'a+++'\n",
	    HEAD "    properties:\n"
		 "      - name: a\n"
		 "        logicalTypeOptions:\n"
		 "          pattern: 'abc\\'\n",
	    HEAD "    properties:\n"
		 "      - name: a\n"
		 "        logicalTypeOptions:\n"
		 "          pattern: '[abc'\n",
	    HEAD "    properties:\n"
		 "      - name: a\n"
		 "        quality:\n"
		 "          - metric: invalidValues\n"
		 "            arguments:\n"
		 "              pattern: 'a{2,1}'\n"
		 "            mustBe: 0\n",
	};
	static const char *const unknown[] = {"email", "ssn", NULL};
	struct check_policy pol = {.detectors = unknown};
	struct mfs_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		refused(bad[i], NULL, &err);
		assert_non_null(strstr(err.msg, "column 'a'"));
		assert_non_null(strstr(err.msg, "not a regular expression meshfs can run"));
	}
	refused(bad[1], NULL, &err);
	assert_non_null(strstr(err.msg, "at offset 3"));
	refused(orders_yaml, &pol, &err);
	assert_string_equal(err.msg, "unknown detector 'ssn' in the mesh policy (expected email, "
				     "phone, card, iban, national_id)");
}

static const char quality_yaml[] = HEAD "    properties:\n"
					"      - name: id\n"
					"        logicalType: integer\n"
					"      - name: unit\n"
					"        quality:\n"
					"          - metric: nullValues\n"
					"            mustBe: 1\n"
					"          - metric: nullValues\n"
					"            unit: percent\n"
					"            mustBeLessThan: 20\n"
					"          - metric: missingValues\n"
					"            arguments:\n"
					"              missingValues: [null, 'N/A', '-']\n"
					"            mustBe: 3\n"
					"          - metric: invalidValues\n"
					"            arguments:\n"
					"              validValues: [kg, lb, N/A, '-']\n"
					"            mustBe: 1\n"
					"          - metric: invalidValues\n"
					"            arguments:\n"
					"              pattern: '^[a-z]+$'\n"
					"            mustBe: 2\n"
					"          - metric: invalidValues\n"
					"            arguments:\n"
					"              validValues: [kg, lb, g, N/A]\n"
					"              pattern: '^[a-z]+$'\n"
					"            mustBe: 2\n"
					"          - metric: duplicateValues\n"
					"            mustBe: 3\n"
					"          - metric: duplicateValues\n"
					"            unit: percent\n"
					"            mustBeBetween: [37, 38]\n"
					"      - name: batch\n"
					"    quality:\n"
					"      - metric: rowCount\n"
					"        mustBe: 8\n"
					"      - metric: duplicateValues\n"
					"        arguments:\n"
					"          properties: [unit, batch]\n"
					"        mustBe: 2\n"
					"      - metric: duplicateValues\n"
					"        mustBe: 1\n"
					"      - type: sql\n"
					"        name: totals\n"
					"        query: SELECT COUNT(*) FROM orders\n"
					"        mustBe: 0\n"
					"      - type: text\n"
					"        description: Checked by hand.\n";

static void test_quality_metrics(void **state)
{
	struct run r;

	(void)state;
	/* unit: kg kg - N/A (null) g g g: nulls 1; missing: the null, '-' and 'N/A'; not in
	 * [kg, lb, N/A, -]: the three g; not matching ^[a-z]+$: '-' and 'N/A'. */
	run(&r, quality_yaml,
	    "id,unit,batch\n"
	    "1,kg,a\n"
	    "2,kg,b\n"
	    "3,-,a\n"
	    "4,N/A,a\n"
	    "5,,a\n"
	    "6,g,a\n"
	    "7,g,a\n"
	    "7,g,a\n",
	    NULL);
	assert_int_equal(r.rep.rows, 8);
	expect_line(&r.rep, "orders.unit nullValues = 1 (mustBe 1): passed");
	expect_line(&r.rep, "orders.unit nullValues = 12.5% (mustBeLessThan 20%): passed");
	expect_line(&r.rep, "orders.unit missingValues = 3 (mustBe 3): passed");
	expect_line(&r.rep, "orders.unit invalidValues = 3 (mustBe 1): failed");
	expect_line(&r.rep, "orders.unit invalidValues = 2 (mustBe 2): passed");
	/* Both: valid only if listed and matching; 'N/A' is listed but does not match. */
	expect_line(&r.rep, "orders.unit invalidValues = 2 (mustBe 2): passed");
	/* kg, g, g again; nulls are never duplicates. */
	expect_line(&r.rep, "orders.unit duplicateValues = 3 (mustBe 3): passed");
	expect_line(&r.rep,
		    "orders.unit duplicateValues = 37.5% (mustBeBetween [37%, 38%]): passed");
	expect_line(&r.rep, "orders rowCount = 8 (mustBe 8): passed");
	/* (kg, a) (kg, b) (-, a) (N/A, a) (, a) (g, a) (g, a) (g, a); whole rows: 7,g,a twice. */
	expect_line(&r.rep, "orders duplicateValues(unit, batch) = 2 (mustBe 2): passed");
	expect_line(&r.rep, "orders duplicateValues = 1 (mustBe 1): passed");
	expect_line(&r.rep, "orders sql 'totals': not run");
	expect_line(&r.rep, "orders text: not run");
	assert_int_equal(r.rep.errors, 1);
	expect_problem(&r.rep, "quality:invalidValues",
		       "data.csv: quality rule on column 'unit': invalidValues is 3; it must be 1");
	assert_int_equal(r.rep.problems[0].line, 0);
	assert_int_equal(r.rep.problems[0].col, 0);
	assert_int_equal(check_report_errno(&r.rep), -EINVAL);
	run_release(&r);
}

/* Every operator, on rowCount = 4, once holding and once not. */
static void test_operators(void **state)
{
	static const char yaml[] = HEAD "    properties:\n"
					"      - name: a\n"
					"    quality:\n"
					"      - {metric: rowCount, mustBe: 4}\n"
					"      - {metric: rowCount, mustBe: 3}\n"
					"      - {metric: rowCount, mustNotBe: 3}\n"
					"      - {metric: rowCount, mustNotBe: 4}\n"
					"      - {metric: rowCount, mustBeGreaterThan: 3}\n"
					"      - {metric: rowCount, mustBeGreaterThan: 4}\n"
					"      - {metric: rowCount, mustBeGreaterOrEqualTo: 4}\n"
					"      - {metric: rowCount, mustBeGreaterOrEqualTo: 5}\n"
					"      - {metric: rowCount, mustBeLessThan: 5}\n"
					"      - {metric: rowCount, mustBeLessThan: 4}\n"
					"      - {metric: rowCount, mustBeLessOrEqualTo: 4}\n"
					"      - {metric: rowCount, mustBeLessOrEqualTo: 3}\n"
					"      - {metric: rowCount, mustBeBetween: [4, 4]}\n"
					"      - {metric: rowCount, mustBeBetween: [5, 9]}\n"
					"      - {metric: rowCount, mustNotBeBetween: [5, 9]}\n"
					"      - {metric: rowCount, mustNotBeBetween: [1, 4]}\n";
	static const char *const lines[] = {
	    "orders rowCount = 4 (mustBe 4): passed",
	    "orders rowCount = 4 (mustBe 3): failed",
	    "orders rowCount = 4 (mustNotBe 3): passed",
	    "orders rowCount = 4 (mustNotBe 4): failed",
	    "orders rowCount = 4 (mustBeGreaterThan 3): passed",
	    "orders rowCount = 4 (mustBeGreaterThan 4): failed",
	    "orders rowCount = 4 (mustBeGreaterOrEqualTo 4): passed",
	    "orders rowCount = 4 (mustBeGreaterOrEqualTo 5): failed",
	    "orders rowCount = 4 (mustBeLessThan 5): passed",
	    "orders rowCount = 4 (mustBeLessThan 4): failed",
	    "orders rowCount = 4 (mustBeLessOrEqualTo 4): passed",
	    "orders rowCount = 4 (mustBeLessOrEqualTo 3): failed",
	    "orders rowCount = 4 (mustBeBetween [4, 4]): passed",
	    "orders rowCount = 4 (mustBeBetween [5, 9]): failed",
	    "orders rowCount = 4 (mustNotBeBetween [5, 9]): passed",
	    "orders rowCount = 4 (mustNotBeBetween [1, 4]): failed",
	};
	static const char *const messages[] = {
	    "data.csv: quality rule on table orders: rowCount is 4; it must be 3",
	    "data.csv: quality rule on table orders: rowCount is 4; it must not be 4",
	    "data.csv: quality rule on table orders: rowCount is 4; it must be greater than 4",
	    "data.csv: quality rule on table orders: rowCount is 4; it must be at least 5",
	    "data.csv: quality rule on table orders: rowCount is 4; it must be less than 4",
	    "data.csv: quality rule on table orders: rowCount is 4; it must be at most 3",
	    "data.csv: quality rule on table orders: rowCount is 4; it must be between 5 and 9",
	    "data.csv: quality rule on table orders: rowCount is 4; it must not be between 1 and "
	    "4",
	};
	struct run r;
	size_t i;

	(void)state;
	run(&r, yaml, "a\n1\n2\n3\n4\n", NULL);
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		expect_line(&r.rep, lines[i]);
	assert_int_equal(r.rep.errors, 8);
	assert_int_equal(r.rep.nproblems, 8);
	for (i = 0; i < 8; i++) {
		assert_string_equal(r.rep.problems[i].message, messages[i]);
		assert_string_equal(r.rep.problems[i].rule, "quality:rowCount");
	}
	run_release(&r);
}

static void test_percent_and_warnings(void **state)
{
	static const char yaml[] = HEAD "    properties:\n"
					"      - name: a\n"
					"        quality:\n"
					"          - name: few_nulls\n"
					"            metric: nullValues\n"
					"            unit: percent\n"
					"            mustBeLessThan: 20\n"
					"            severity: warning\n"
					"          - metric: nullValues\n"
					"            unit: percent\n"
					"            mustBeLessOrEqualTo: 25\n";
	static const char empty_yaml[] = HEAD "    properties:\n"
					      "      - name: a\n"
					      "        quality:\n"
					      "          - metric: nullValues\n"
					      "            unit: percent\n"
					      "            mustBe: 0\n"
					      "    quality:\n"
					      "      - metric: rowCount\n"
					      "        mustBeGreaterThan: 0\n"
					      "        severity: info\n";
	struct run r;

	(void)state;
	run(&r, yaml, "a\nx\n\ny\nz\n", NULL);
	expect_line(&r.rep, "orders.a nullValues = 25% (mustBeLessThan 20%): failed (warning)");
	expect_line(&r.rep, "orders.a nullValues = 25% (mustBeLessOrEqualTo 25%): passed");
	assert_int_equal(r.rep.errors, 0);
	assert_int_equal(r.rep.warnings, 1);
	assert_int_equal(r.rep.nproblems, 1);
	assert_int_equal(r.rep.problems[0].warning, 1);
	assert_string_equal(r.rep.problems[0].rule, "quality:nullValues");
	assert_string_equal(
	    r.rep.problems[0].message,
	    "data.csv: warning: quality rule 'few_nulls' on column 'a': nullValues is "
	    "25% (1 of 4 rows); it must be less than 20%");
	/* A warning does not reject. */
	assert_int_equal(check_report_errno(&r.rep), 0);
	run_release(&r);

	/* No rows: a percentage of nothing is 0. */
	run(&r, empty_yaml, "a\n", NULL);
	expect_line(&r.rep, "orders.a nullValues = 0% (mustBe 0%): passed");
	expect_line(&r.rep, "orders rowCount = 0 (mustBeGreaterThan 0): failed (warning)");
	assert_int_equal(r.rep.warnings, 1);
	assert_int_equal(r.rep.errors, 0);
	assert_int_equal(check_report_errno(&r.rep), 0);
	run_release(&r);
}

static void test_undeclared_pii(void **state)
{
	static const char yaml[] = HEAD "    properties:\n"
					"      - name: id\n"
					"        logicalType: integer\n"
					"      - name: notes\n"
					"      - name: email\n"
					"        classification: pii\n"
					"      - name: memo\n"
					"      - name: seen\n"
					"        logicalType: date\n";
	static const char csv[] = "id,notes,email,memo,seen\n"
				  "1,fine,a@example.com,ok,2024-01-01\n"
				  "2,write to bob@example.org,b@example.com,ok,2024-01-02\n"
				  "3,card 4111 1111 1111 1111,c@example.com,+44 20 7946 0958,\n"
				  "4,x,d@example.com,ok,joe@example.com\n"
				  "4111111111111111,x,e@example.com,ok,\n";
	static const char *const only_card[] = {"card", NULL};
	static const char *const none[] = {NULL};
	struct check_policy card = {.detectors = only_card}, off = {.detectors = none};
	const struct check_problem *p;
	struct run r;

	(void)state;
	run(&r, yaml, csv, NULL);
	/* Only the first hit in a column; the PII column is not scanned; a value of the date
	 * column that is not a date is. */
	assert_int_equal(r.rep.policy_errors, 4);
	assert_int_equal(r.rep.errors, 5);
	assert_int_equal(check_report_errno(&r.rep), -EPERM);
	p = &r.rep.problems[0];
	assert_string_equal(p->rule, "undeclared-pii:email");
	assert_int_equal(p->policy, 1);
	assert_int_equal(p->line, 3);
	assert_int_equal(p->col, 3);
	assert_string_equal(
	    p->message, "data.csv:3:3: column 'notes' holds what looks like an e-mail address, but "
			"the column is not classified as PII (declare classification: pii, or "
			"remove the data)");
	assert_string_equal(r.rep.problems[1].rule, "undeclared-pii:phone");
	assert_int_equal(r.rep.problems[1].line, 4);
	assert_string_equal(r.rep.problems[2].rule, "undeclared-pii:email");
	assert_int_equal(r.rep.problems[2].line, 5);
	assert_string_equal(r.rep.problems[3].rule, "undeclared-pii:card");
	assert_int_equal(r.rep.problems[3].line, 6);
	/* Policy problems come first; the date error found before two of them comes after. */
	assert_string_equal(r.rep.problems[4].rule, "type");
	assert_string_equal(r.rep.problems[4].message,
			    "data.csv:5:22: column 'seen' (date): the value (not shown: it looks "
			    "like personal data): not a date (YYYY-MM-DD)");
	expect_line(&r.rep,
		    "orders: undeclared PII (email, phone, card, iban, national_id) in 4 "
		    "columns: failed: id (card), notes (email), memo (phone), seen (email)");
	run_release(&r);

	run(&r, yaml, csv, &card);
	assert_int_equal(r.rep.policy_errors, 2);
	assert_string_equal(r.rep.problems[0].rule, "undeclared-pii:card");
	assert_int_equal(r.rep.problems[0].line, 4);
	expect_line(&r.rep, "orders: undeclared PII (card) in 4 columns: failed: id (card), "
			    "notes (card)");
	run_release(&r);

	run(&r, yaml, csv, &off);
	assert_int_equal(r.rep.policy_errors, 0);
	assert_int_equal(r.rep.errors, 1);
	assert_int_equal(check_report_errno(&r.rep), -EINVAL);
	expect_line(&r.rep, "orders: undeclared PII: not checked (the mesh policy enables no "
			    "detector)");
	run_release(&r);
}

/* A value of a PII column, or one a detector fires on, never reaches a message. */
static void test_no_pii_in_messages(void **state)
{
	static const char yaml[] = HEAD "    properties:\n"
					"      - name: ssn\n"
					"        classification: pii\n"
					"        unique: true\n"
					"        logicalTypeOptions:\n"
					"          pattern: '^[0-9]{3}-[0-9]{2}-[0-9]{4}$'\n"
					"          maxLength: 11\n"
					"      - name: born\n"
					"        logicalType: date\n"
					"        classification: pii\n"
					"      - name: score\n"
					"        logicalType: integer\n"
					"        logicalTypeOptions:\n"
					"          maximum: 10\n"
					"      - name: remark\n"
					"        logicalTypeOptions:\n"
					"          maxLength: 10\n";
	static const char *const secrets[] = {
	    "SECRET-7731",
	    "1999-13-45",
	    "z@example.com",
	    "4111111111111111",
	};
	const char *long_value = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ";
	struct mfs_error err = {""};
	struct strbuf csv;
	struct run r;
	size_t i, j;

	(void)state;
	strbuf_init(&csv);
	assert_int_equal(strbuf_addf(&csv,
				     "ssn,born,score,remark\n"
				     "SECRET-7731,1999-13-45,4111111111111111,%s\n"
				     "SECRET-7731,2000-01-01,11,ok\n"
				     "123-45-6789,2000-01-01,1,reach z@example.com\n",
				     long_value),
			 0);
	run(&r, yaml, csv.buf, NULL);
	assert_true(r.rep.nproblems >= 8);
	for (i = 0; i < r.rep.nproblems; i++)
		for (j = 0; j < sizeof(secrets) / sizeof(secrets[0]); j++)
			if (strstr(r.rep.problems[i].message, secrets[j]))
				fail_msg("\"%s\" in \"%s\"", secrets[j], r.rep.problems[i].message);
	for (j = 0; j < sizeof(secrets) / sizeof(secrets[0]); j++)
		assert_null(strstr(r.rep.summary.buf, secrets[j]));
	/* Other values are quoted, cut to 40 bytes. */
	expect_problem(
	    &r.rep, "maxLength",
	    "data.csv:2:41: column 'remark': '0123456789abcdefghijklmnopqrstuvwxyzABCD…' "
	    "has 46 characters, more than maxLength 10");
	expect_problem(&r.rep, "unique",
		       "data.csv:3:1: column 'ssn' must be unique: the same value is on line 2");
	assert_non_null(problem(&r.rep, "undeclared-pii:card"));
	assert_non_null(problem(&r.rep, "undeclared-pii:email"));
	assert_int_equal(check_report_error(&r.rep, &err), -EPERM);
	for (j = 0; j < sizeof(secrets) / sizeof(secrets[0]); j++)
		assert_null(strstr(err.msg, secrets[j]));
	run_release(&r);
	strbuf_release(&csv);
}

static void test_caps_and_order(void **state)
{
	static const char yaml[] = HEAD "    properties:\n"
					"      - name: n\n"
					"        logicalType: integer\n"
					"      - name: note\n"
					"    quality:\n"
					"      - {metric: rowCount, mustBe: 0, severity: warning}\n"
					"      - {metric: rowCount, mustBe: 0}\n";
	struct mfs_error err = {""};
	struct strbuf csv;
	struct run r;
	size_t i;

	(void)state;
	/* 60 bad rows: the 50th error ends the checks. */
	strbuf_init(&csv);
	assert_int_equal(strbuf_addstr(&csv, "n,note\n"), 0);
	for (i = 0; i < 60; i++)
		assert_int_equal(strbuf_addf(&csv, "x%zu,\n", i), 0);
	run(&r, yaml, csv.buf, NULL);
	assert_int_equal(r.stopped_at, 50);
	assert_int_equal(r.late_rows, 10);
	assert_int_equal(r.rep.rows, 50);
	assert_int_equal(r.rep.errors, 50);
	assert_int_equal(r.rep.nproblems, CHECK_PROBLEMS_MAX);
	assert_int_equal(r.rep.dropped, 0);
	assert_int_equal(r.rep.problems[49].line, 51);
	expect_line(&r.rep,
		    "orders: type on 50 rows: failed (50 errors; the checks stopped there)");
	expect_line(&r.rep, "orders rowCount: not run (the checks stopped after 50 errors)");
	run_release(&r);

	/* 49 row errors, then a failing warning and a failing error: the error takes the
	 * warning's place, and a policy error found last is listed first. */
	strbuf_reset(&csv);
	assert_int_equal(strbuf_addstr(&csv, "n,note\n"), 0);
	for (i = 0; i < 48; i++)
		assert_int_equal(strbuf_addf(&csv, "x%zu,\n", i), 0);
	assert_int_equal(strbuf_addstr(&csv, "1,a@example.com\n"), 0);
	run(&r, yaml, csv.buf, NULL);
	assert_int_equal(r.stopped_at, 0);
	assert_int_equal(r.rep.errors, 50);
	assert_int_equal(r.rep.policy_errors, 1);
	assert_int_equal(r.rep.warnings, 1);
	assert_int_equal(r.rep.nproblems, CHECK_PROBLEMS_MAX);
	assert_int_equal(r.rep.dropped, 1);
	assert_string_equal(r.rep.problems[0].rule, "undeclared-pii:email");
	assert_int_equal(r.rep.problems[1].line, 2);
	assert_string_equal(r.rep.problems[1].rule, "type");
	assert_string_equal(r.rep.problems[48].rule, "type");
	assert_string_equal(r.rep.problems[49].rule, "quality:rowCount");
	for (i = 0; i < r.rep.nproblems; i++)
		assert_int_equal(r.rep.problems[i].warning, 0);
	expect_line(&r.rep, "orders rowCount = 49 (mustBe 0): failed (warning)");
	expect_line(&r.rep, "orders rowCount = 49 (mustBe 0): failed");

	/* As one error message: every rejecting problem, one a line, and what did not fit. */
	assert_int_equal(check_report_error(&r.rep, &err), -EPERM);
	assert_non_null(strstr(err.msg, "data.csv:50:3: column 'note' holds what looks like"));
	assert_non_null(strchr(err.msg, '\n'));
	assert_non_null(strstr(err.msg, "more problems not shown"));
	run_release(&r);
	strbuf_release(&csv);
}

static void test_report_error_lines(void **state)
{
	struct mfs_error err = {""};
	struct run r;

	(void)state;
	run(&r, orders_yaml,
	    "order_id,amount,status,note,placed\n"
	    "1,x,placed,,\n"
	    "1,1,placed,,\n",
	    NULL);
	assert_int_equal(check_report_error(&r.rep, &err), -EINVAL);
	assert_string_equal(err.msg, "data.csv:2:3: column 'amount' (number): 'x': not a number\n"
				     "data.csv:3:1: the primary key (order_id) must be unique: the "
				     "same key is on line 2");
	run_release(&r);

	mfs_error_clear(&err);
	run(&r, orders_yaml, "order_id,amount,status,note,placed\n1,1,placed,,\n", NULL);
	assert_int_equal(check_report_error(&r.rep, &err), 0);
	assert_string_equal(err.msg, "");
	run_release(&r);
}

/* A key column not marked required (a table not from the parser) still refuses nulls. */
static void test_null_in_key(void **state)
{
	struct contract ct;
	struct mfs_error err = {""};
	struct check_report rep;
	struct table_checks *c;
	struct csv_field f[5] = {
	    {"", 0, 2, 1, 0, 0}, {"1", 1, 2, 2, 0, 0}, {"s", 1, 2, 4, 0, 0},
	    {"", 0, 2, 6, 0, 0}, {"", 0, 2, 7, 0, 0},
	};

	(void)state;
	assert_int_equal(
	    contract_parse(&ct, orders_yaml, strlen(orders_yaml), "c.yaml", NULL, &err), 0);
	ct.tables[0].columns[0].required = 0;
	assert_int_equal(table_checks_new(&c, &ct.tables[0], NULL, "in.csv", &err), 0);
	assert_int_equal(table_checks_row(c, f, 2), 0);
	assert_int_equal(table_checks_row(c, f, 3), 0);
	assert_int_equal(table_checks_finish(c, &rep), 0);
	/* Two null keys: two problems, and no duplicate between them. */
	assert_int_equal(rep.errors, 2);
	assert_string_equal(rep.problems[0].rule, "primaryKey");
	assert_string_equal(
	    rep.problems[0].message,
	    "in.csv:2:1: column 'order_id' is part of the primary key and cannot be "
	    "empty");
	check_report_release(&rep);
	contract_release(&ct);
}

static void test_abort(void **state)
{
	struct contract ct;
	struct mfs_error err = {""};
	struct table_checks *c;
	struct csv_field f[5] = {
	    {"1", 1, 2, 1, 0, 0}, {"1", 1, 2, 3, 0, 0}, {"s", 1, 2, 5, 0, 0},
	    {"", 0, 2, 7, 0, 0},  {"", 0, 2, 8, 0, 0},
	};

	(void)state;
	assert_int_equal(
	    contract_parse(&ct, orders_yaml, strlen(orders_yaml), "c.yaml", NULL, &err), 0);
	assert_int_equal(table_checks_new(&c, &ct.tables[0], NULL, NULL, &err), 0);
	assert_int_equal(table_checks_row(c, f, 2), 0);
	assert_int_equal(table_checks_row(c, f, 3), 0);
	table_checks_abort(c);
	table_checks_abort(NULL);
	contract_release(&ct);
}

/* Values of a list are found whatever their length, and values one byte off are not. */
static void test_list_lookups(void **state)
{
	static const char yaml[] = HEAD
	    "    properties:\n"
	    "      - name: v\n"
	    "        quality:\n"
	    "          - metric: invalidValues\n"
	    "            arguments:\n"
	    "              validValues: [a, ab, abc, abcd, abcde, abcdefg, abcdefgh, abcdefghi,\n"
	    "                            abcdefghijklmnop, abcdefghijklmnopq, bcd, x, x, 'N/A']\n"
	    "            mustBe: 0\n";
	static const char *const listed[] = {
	    "a",
	    "ab",
	    "abc",
	    "abcd",
	    "abcde",
	    "abcdefg",
	    "abcdefgh",
	    "abcdefghi",
	    "abcdefghijklmnop",
	    "abcdefghijklmnopq",
	    "bcd",
	    "x",
	    "N/A",
	};
	const size_t nlisted = sizeof(listed) / sizeof(listed[0]);
	struct strbuf csv, want;
	char v[32];
	struct run r;
	size_t i, j, k, off = 0;

	(void)state;
	strbuf_init(&csv);
	strbuf_init(&want);
	strbuf_addstr(&csv, "v\n");
	/* each value, then it with each byte changed, one at a time, and one byte more or less;
	 * off counts those that are not listed, as a plain search does */
	for (i = 0; i < nlisted; i++) {
		size_t len = strlen(listed[i]);

		for (j = 0; j <= len + 2; j++) {
			snprintf(v, sizeof(v), "%s", listed[i]);
			if (j < len) {
				v[j] ^= 1;
			} else if (j == len) {
				v[len] = 'z';
				v[len + 1] = '\0';
			} else if (j == len + 1) {
				v[len - 1] = '\0';
			}
			if (!v[0])
				continue; /* "" is a null, not a value */
			strbuf_addf(&csv, "%s\n", v);
			for (k = 0; k < nlisted && strcmp(listed[k], v); k++)
				;
			off += k == nlisted;
		}
	}
	run(&r, yaml, csv.buf, NULL);
	assert_true(off > 50);
	strbuf_addf(&want, "orders.v invalidValues = %zu (mustBe 0): failed", off);
	expect_line(&r.rep, want.buf);
	run_release(&r);
	strbuf_release(&csv);
	strbuf_release(&want);
}

/* Every problem and line of a report, in order, as one text. */
static void report_text(const struct check_report *rep, struct strbuf *out)
{
	strbuf_addf(out, "rows %llu errors %zu policy %zu warnings %zu dropped %zu\n",
		    (unsigned long long)rep->rows, rep->errors, rep->policy_errors, rep->warnings,
		    rep->dropped);
	for (size_t i = 0; i < rep->nproblems; i++)
		strbuf_addf(out, "%s %s\n", rep->problems[i].rule, rep->problems[i].message);
	strbuf_addstr(out, rep->summary.buf);
}

/*
 * Checks csv with table_checks_batch in batches of step rows (0: row by row with
 * table_checks_row) and describes the report.
 */
static void run_batches(const struct contract_table *tb, const char *csv, size_t step,
			const struct check_policy *pol, struct strbuf *out)
{
	struct mem_source m = {.data = csv, .len = strlen(csv)};
	struct table_checks *c;
	struct mfs_error err = {""};
	struct check_report rep;
	struct row_batch b;
	struct csv_reader rd;
	struct csv_field *f;
	size_t n, i;
	int rc = 0;

	assert_int_equal(table_checks_new(&c, tb, pol, "data.csv", &err), 0);
	csv_reader_init(&rd, mem_read, &m, "data.csv", NULL);
	row_batch_init(&b, tb->ncolumns);
	assert_int_equal(csv_reader_next(&rd, &f, &n, &err), 1);
	while (csv_reader_next(&rd, &f, &n, &err) > 0)
		assert_int_equal(row_batch_add(&b, f, csv_reader_record_line(&rd)), 0);
	row_batch_seal(&b);
	for (i = 0; rc == 0 && i < b.nrows; i += step ? step : 1) {
		if (!step) {
			rc = table_checks_row(c, row_batch_row(&b, i), b.lines[i]);
			continue;
		}
		n = b.nrows - i < step ? b.nrows - i : step;
		rc = table_checks_batch(c, row_batch_row(&b, i), b.lines + i, n);
	}
	assert_true(rc == 0 || rc == 1);
	assert_int_equal(table_checks_finish(c, &rep), 0);
	report_text(&rep, out);
	check_report_release(&rep);
	row_batch_release(&b);
	csv_reader_release(&rd);
}

/*
 * table_checks_batch, whose uniqueness sets look ahead, says what table_checks_row says row by
 * row: the same problems in the same order, the same counts, where the checks stop.
 */
static void test_batch_as_row_by_row(void **state)
{
	/* %s: the key's type, so that the set of the key takes integers or hashes texts */
	static const char yaml[] =
	    HEAD "    properties:\n"
		 "      - name: id\n"
		 "        logicalType: %s\n"
		 "        primaryKey: true\n"
		 "      - name: code\n"
		 "        unique: true\n"
		 "      - name: kind\n"
		 "        quality:\n"
		 "          - metric: invalidValues\n"
		 "            arguments:\n"
		 "              validValues: [red, green, 'call +44 20 7946 0958']\n"
		 "            mustBe: 0\n"
		 "          - metric: duplicateValues\n"
		 "            mustBeGreaterThan: 0\n"
		 "      - name: n\n"
		 "        logicalType: integer\n";
	static const size_t steps[] = {1, 7, 16, 17, 100, 4096};
	/* repeats at distances around the look-ahead, and far apart, past spills */
	static const unsigned gaps[] = {1, 5, 15, 16, 17, 31, 300, 2500};
	struct check_policy pol = {.uniq_memory = 16 * 1024};
	struct strbuf csv, want, got;
	struct contract ct;
	struct mfs_error err = {""};
	char text[sizeof(yaml) + 16];
	unsigned i, id;

	(void)state;
	for (int run = 0; run < 4; run++) {
		int errors = run & 1, texts = run >> 1;

		snprintf(text, sizeof(text), yaml, texts ? "string" : "integer");
		assert_int_equal(contract_parse(&ct, text, strlen(text), "c.yaml", NULL, &err), 0);
		strbuf_init(&csv);
		strbuf_addstr(&csv, "id,code,kind,n\n");
		for (i = 0; i < 6000; i++) {
			/* ids ascend, but for some that repeat one seen gaps[] rows before */
			id = i % 397 == 13 ? i - gaps[i % 8] : i + 1;
			if (i > 3000 && i % 5 == 0)
				id = 7 * i % 6000 + 1; /* out of order: the run of integers ends */
			strbuf_addf(&csv, "%s%u,c%u,%s,%s\n", texts ? "k" : "", id,
				    i % 389 == 7 ? i - gaps[i % 8] : i,
				    i % 3 == 0	   ? "red"
				    : i == 1000	   ? "call +44 20 7946 0958"
				    : i % 500 == 9 ? "blue"
						   : "green",
				    errors && i % 40 == 3 ? "x" : "1");
		}
		strbuf_init(&want);
		run_batches(&ct.tables[0], csv.buf, 0, &pol, &want);
		for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
			strbuf_init(&got);
			run_batches(&ct.tables[0], csv.buf, steps[k], &pol, &got);
			assert_string_equal(got.buf, want.buf);
			strbuf_release(&got);
		}
		/* the data has what the test is about */
		assert_non_null(strstr(want.buf, "primaryKey"));
		assert_non_null(strstr(want.buf, "unique"));
		assert_non_null(strstr(want.buf, "undeclared-pii:phone"));
		strbuf_release(&want);
		strbuf_release(&csv);
		contract_release(&ct);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_table_passes), cmocka_unit_test(test_type_and_required),
	    cmocka_unit_test(test_unique_columns),    cmocka_unit_test(test_primary_key),
	    cmocka_unit_test(test_options),	      cmocka_unit_test(test_integer_bounds),
	    cmocka_unit_test(test_format_email),      cmocka_unit_test(test_patterns),
	    cmocka_unit_test(test_bad_setup),	      cmocka_unit_test(test_quality_metrics),
	    cmocka_unit_test(test_operators),	      cmocka_unit_test(test_percent_and_warnings),
	    cmocka_unit_test(test_undeclared_pii),    cmocka_unit_test(test_no_pii_in_messages),
	    cmocka_unit_test(test_caps_and_order),    cmocka_unit_test(test_report_error_lines),
	    cmocka_unit_test(test_null_in_key),	      cmocka_unit_test(test_abort),
	    cmocka_unit_test(test_list_lookups),      cmocka_unit_test(test_batch_as_row_by_row),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
