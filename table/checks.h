/*
 * The checks a table must pass to be published (docs/DESIGN.md §4, §5), in one streaming pass over
 * its rows with memory bounded by the contract, not by the data (uniqueness is kept as keyed
 * digests, see table/uniq.h):
 *
 *  - per value: the logical type; required (an empty value is a null); unique (per column; nulls
 *    never collide); the primary key (all primaryKey columns as one tuple, no nulls);
 *    logicalTypeOptions minimum and maximum (numbers), minLength and maxLength (in UTF-8
 *    characters), pattern (POSIX extended regular expression, searched for anywhere in the value
 *    as JSON Schema does: anchor it with ^…$ to match the whole; the PCRE shorthands \d \w \s \D
 *    \W \S are translated), format email, uuid and uri (unknown formats are ignored);
 *  - quality rules of the library (column and table level): nullValues; missingValues (nulls and
 *    the values listed in arguments.missingValues); invalidValues (non-null values not among
 *    arguments.validValues, or not matching arguments.pattern, when given); duplicateValues (a
 *    column's non-null values seen before; at table level, rows whose arguments.properties, or
 *    whole rows when none are given, were seen before); rowCount. unit: percent compares
 *    metric / rows * 100 (0 when there are no rows). sql, text and custom rules are listed in the
 *    summary as not run;
 *  - the mesh policy against undeclared PII: the enabled detectors (table/detect.h) run on every
 *    non-empty value of every column not classified PII; the first hit in a column is a policy
 *    problem, and the column is not scanned further.
 *
 * No message ever holds a value of a PII column or a value any detector fires on: messages go to
 * logs and to the audit table. Other values may be quoted, cut to 40 bytes.
 */
#ifndef MESHFS_CHECKS_H
#define MESHFS_CHECKS_H

#include <stddef.h>
#include <stdint.h>

#include "contract/contract.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "table/csv.h"

/* Problems a report keeps; reaching this many errors also ends the checks. */
#define CHECK_PROBLEMS_MAX 50
/* Memory of the uniqueness sets of one table, together, unless the policy says otherwise. */
#define CHECK_UNIQ_MEMORY ((size_t)4 << 20)

/* What the mesh policy asks of every publish. A NULL policy means the defaults. */
struct check_policy {
	/* NULL-terminated detector names (email, phone, card, iban, national_id); NULL: all of
	 * them; an empty list: none. */
	const char *const *detectors;
	/* Where the uniqueness sets spill keyed digests past their memory (table/uniq.h), in
	 * unlinked files; NULL: $TMPDIR, else /tmp. */
	const char *spill_dir;
	/* Memory of the table's uniqueness sets together; 0: CHECK_UNIQ_MEMORY. */
	size_t uniq_memory;
};

struct check_problem {
	int policy;  /* 1: a governance policy (rejects with EPERM); 0: the contract (EINVAL) */
	int warning; /* severity warning: recorded, does not reject */
	unsigned long line, col; /* where in the input; 0 for table-level results */
	char rule[64];	   /* "type", "required", "unique", "primaryKey", "minimum", "maximum",
			      "minLength", "maxLength", "pattern", "format", "quality:nullValues",
			      "undeclared-pii:email", … */
	char message[320]; /* "FILE:LINE:COL: column 'x' …", one line, ready to print */
};

struct check_report {
	/* At most CHECK_PROBLEMS_MAX: policy errors, then contract errors, then warnings, each in
	 * the order found. Errors are kept rather than warnings when there are too many. */
	struct check_problem *problems;
	size_t nproblems;
	size_t errors;	      /* problems that reject, policy ones included */
	size_t policy_errors; /* of which governance policy */
	size_t warnings;
	size_t dropped; /* problems counted above but not kept in problems */
	/* One line per check evaluated, for the data sheet and the version log:
	 * "orders: type, required, unique, primaryKey on 120 rows: passed",
	 * "orders: undeclared PII (email, phone, card, iban, national_id) in 5 columns: passed",
	 * "orders.amount nullValues = 0 (mustBe 0): passed", "orders rowCount = 120
	 * (mustBeGreaterThan 0): passed", "orders.amount nullValues = 2.5% (mustBeLessThan 1%):
	 * failed (warning)", "orders sql 'totals': not run" */
	struct strbuf summary;
	uint64_t rows; /* rows checked */
};

struct table_checks;

/*
 * Prepares the checks of table tb (which must outlive them) under policy (NULL: defaults);
 * filename names the input in messages. Returns 0, -ENOMEM, or -EINVAL with err set when the
 * contract or the policy cannot be applied: a pattern that is not a valid regular expression, an
 * unknown detector.
 */
int table_checks_new(struct table_checks **out, const struct contract_table *tb,
		     const struct check_policy *policy, const char *filename,
		     struct mfs_error *err);
/*
 * Checks one row: values holds one field per contract column, in contract order; line is where
 * the record starts. Returns 0 to go on (problems may have been recorded), 1 when
 * CHECK_PROBLEMS_MAX errors are recorded and reading on is pointless (from then on rows are not
 * checked, and the quality rules are not run), -ENOMEM, or another -errno when a uniqueness set
 * cannot spill to disk.
 */
int table_checks_row(struct table_checks *c, const struct csv_field *values, unsigned long line);
/*
 * Checks n rows as table_checks_row would one after the other, with the same outcome: rows holds
 * n × the table's columns fields, lines the line of each row. The values to come are made ready
 * for the uniqueness sets while rows before them are checked. Returns table_checks_row's first
 * result that is not 0, or 0.
 */
int table_checks_batch(struct table_checks *c, const struct csv_field *rows,
		       const unsigned long *lines, size_t n);
/*
 * Runs the table-level rules, fills out (release it with check_report_release) and frees c,
 * also on failure. Values repeated far apart, in runs a uniqueness set spilled, are found here:
 * their problems come after those of the rows. Returns 0, -ENOMEM, or another -errno when the
 * spilled runs cannot be read; whether the table passed is check_report_errno's to say.
 */
int table_checks_finish(struct table_checks *c, struct check_report *out);
/* Frees c without a report. NULL is fine. */
void table_checks_abort(struct table_checks *c);

void check_report_release(struct check_report *r);
/* 0 if nothing rejects; -EPERM if a governance policy does; else -EINVAL if the contract does. */
int check_report_errno(const struct check_report *r);
/*
 * Adds each rejecting problem of r to err as a line (mfs_error_add), and a last line saying how
 * many more there were when some were dropped. Returns check_report_errno(r).
 */
int check_report_error(const struct check_report *r, struct mfs_error *err);

#endif
