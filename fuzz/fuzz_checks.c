/*
 * The publish-time checks (table/checks.h): a contract and rows, both from the input.
 *
 * Input: u8 detectors (bit i enables detector_table[i]; 0x80: all, the default) | a contract's
 * YAML | a line "#rows" | CSV rows for its first table (row i's column k is field k mod n of
 * record i; the header row is not special).
 *
 * Checks:
 * - a contract the parser accepts can be checked, or is refused with -EINVAL saying why;
 * - the report adds up: problems kept plus dropped are the errors plus the warnings, at most
 *   CHECK_PROBLEMS_MAX are kept, policy errors first, then contract errors, then warnings; each
 *   message is one line; check_report_errno agrees with the counts;
 * - no message and no summary line quotes a value of a PII column, nor a value a detector fires
 *   on (checks.h: they go to logs and the audit table).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "contract/contract.h"
#include "common/strbuf.h"
#include "fuzz/fuzz.h"
#include "table/checks.h"
#include "table/csv.h"
#include "table/detect.h"

#define MARKER	     "\n#rows\n"
#define MAX_COLUMNS  64
#define SECRET_BYTES 8

/* Values that must never be quoted (each NUL-terminated), and those that may be. */
struct values {
	struct strbuf secret, open;
};

static void keep(struct strbuf *sb, const char *v, size_t len)
{
	FUZZ_CHECK(!strbuf_add(sb, v, len) && !strbuf_addch(sb, '\0'));
}

/*
 * Whether needle is in hay. A loop of its own, not strstr: libFuzzer learns the strings passed
 * to strstr, and would soon write the messages' own words into PII columns.
 */
static int contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++) {
		size_t i = 0;

		while (i < n && hay[i] == needle[i])
			i++;
		if (i == n)
			return 1;
	}
	return 0;
}

/* A value that looks like what the checks must not leak, and that no message would hold by
 * chance: long enough, with an '@' or four digits in a row. */
static int telling(const char *s)
{
	size_t digits = 0, len = strlen(s);

	if (len < SECRET_BYTES)
		return 0;
	for (; *s; s++) {
		if (*s == '@')
			return 1;
		digits = *s >= '0' && *s <= '9' ? digits + 1 : 0;
		if (digits == 4)
			return 1;
	}
	return 0;
}

/* No telling secret value is in text, unless a value allowed in messages, or the contract,
 * holds it too. */
static void check_no_secret(const struct values *v, const char *text, const char *contract)
{
	for (const char *s = v->secret.buf; s < v->secret.buf + v->secret.len; s += strlen(s) + 1) {
		int quotable = 0;

		if (!telling(s) || !contains(text, s) || contains(contract, s))
			continue;
		for (const char *o = v->open.buf; o < v->open.buf + v->open.len && !quotable;
		     o += strlen(o) + 1)
			quotable = contains(o, s);
		if (!quotable)
			fuzz_fail(__FILE__, __LINE__, text);
	}
}

static void check_report(const struct check_report *r, const struct values *v, const char *contract)
{
	int phase = 0; /* 0: policy errors, 1: contract errors, 2: warnings */
	size_t errors = 0, policy = 0, warnings = 0;

	FUZZ_CHECK(r->nproblems <= CHECK_PROBLEMS_MAX);
	FUZZ_CHECK(r->nproblems + r->dropped == r->errors + r->warnings);
	FUZZ_CHECK(r->policy_errors <= r->errors);
	for (size_t i = 0; i < r->nproblems; i++) {
		const struct check_problem *p = &r->problems[i];
		int now = p->warning ? 2 : p->policy ? 0 : 1;

		FUZZ_CHECK(now >= phase);
		phase = now;
		FUZZ_CHECK(memchr(p->rule, '\0', sizeof(p->rule)) && p->rule[0]);
		FUZZ_CHECK(memchr(p->message, '\0', sizeof(p->message)) && p->message[0]);
		FUZZ_CHECK(!strchr(p->message, '\n'));
		check_no_secret(v, p->message, contract);
		errors += !p->warning;
		policy += !p->warning && p->policy;
		warnings += p->warning;
	}
	FUZZ_CHECK(errors <= r->errors && policy <= r->policy_errors && warnings <= r->warnings);
	check_no_secret(v, r->summary.buf, contract);
	if (r->policy_errors)
		FUZZ_CHECK(check_report_errno(r) == -EPERM);
	else
		FUZZ_CHECK(check_report_errno(r) == (r->errors ? -EINVAL : 0));
}

/* Checks the rows of csv against table t; d lists the detectors. */
static void run_checks(const struct contract_table *t, const char *const *detectors,
		       const char *csv, size_t len, const char *contract)
{
	struct check_policy policy = {detectors, NULL, 64 * 1024};
	struct fuzz_source src = {csv, len, {0}, 0};
	struct csv_field row[MAX_COLUMNS], *f;
	struct table_checks *c;
	struct check_report report;
	struct csv_reader r;
	struct mfs_error err;
	struct values v;
	uint64_t rows = 0;
	size_t n;
	int rc = 0;

	if (t->ncolumns > MAX_COLUMNS)
		return;
	mfs_error_clear(&err);
	rc = table_checks_new(&c, t, &policy, "rows.csv", &err);
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL && err.msg[0]);
		return;
	}
	strbuf_init(&v.secret);
	strbuf_init(&v.open);
	csv_reader_init(&r, fuzz_source_read, &src, "rows.csv", NULL);
	while (rc == 0 && csv_reader_next(&r, &f, &n, &err) == 1) {
		for (size_t i = 0; i < t->ncolumns; i++) {
			row[i] = f[i % n];
			if (t->columns[i].pii || detector_any(row[i].data, row[i].len))
				keep(&v.secret, row[i].data, row[i].len);
			else
				keep(&v.open, row[i].data, row[i].len);
		}
		rc = table_checks_row(c, row, csv_reader_record_line(&r));
		FUZZ_CHECK(rc == 0 || rc == 1);
		rows++;
	}
	csv_reader_release(&r);
	FUZZ_CHECK(!table_checks_finish(c, &report));
	FUZZ_CHECK(report.rows == rows || (rc == 1 && report.rows <= rows));
	check_report(&report, &v, contract);
	check_report_release(&report);
	strbuf_release_secure(&v.secret);
	strbuf_release_secure(&v.open);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	const char *detectors[DETECTOR_COUNT + 1], *text, *m, *rows;
	size_t ndetectors = 0, len, rows_len;
	struct mfs_error err;
	struct contract c;
	char *contract;
	uint8_t sel;

	fuzz_begin();
	sel = fuzz_u8(&in);
	for (size_t i = 0; i < DETECTOR_COUNT; i++)
		if (sel >> i & 1)
			detectors[ndetectors++] = detector_table[i].name;
	detectors[ndetectors] = NULL;
	text = (const char *)in.p;
	m = memmem(text, in.left, MARKER, strlen(MARKER));
	if (!m)
		return 0;
	len = (size_t)(m - text) + 1;
	rows = m + strlen(MARKER);
	rows_len = in.left - len - (strlen(MARKER) - 1);
	mfs_error_clear(&err);
	if (contract_parse(&c, text, len, "contract.yaml", NULL, &err))
		return 0;
	/* The contract's own text may be quoted (column names, rules): a NUL-terminated copy. */
	contract = strndup(text, len);
	FUZZ_CHECK(contract);
	if (c.ntables)
		run_checks(&c.tables[0], sel & 0x80 ? NULL : detectors, rows, rows_len, contract);
	free(contract);
	contract_release(&c);
	return 0;
}
