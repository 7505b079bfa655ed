/*
 * bench-duckdb-sql: what a user would run instead of a publish, for bench/run
 * (docs/PERFORMANCE.md, publishing against DuckDB).
 *
 *   bench-duckdb-sql CONTRACT TABLE CSV
 *
 * Prints one DuckDB query that reads CSV with read_csv in strict mode, every column typed as
 * the contract types it (so that a value of the wrong type fails the read, as it fails a
 * publish), and counts in one pass the rows that break each of the table's value rules, one
 * output column per rule: the nulls of required columns, the repeats of unique columns and of
 * the primary key, values not matching a pattern, below a minimum or above a maximum, shorter
 * or longer than the length bounds, and invalidValues (validValues, pattern). A rule it cannot
 * say in SQL is refused with a message rather than left out, so that the query never checks
 * less than the publish does. Undeclared-PII detection has no DuckDB counterpart: the publish
 * does it on top.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "contract/contract.h"

/* DuckDB's type for a logical type. */
static const char *sql_type(enum logical_type t)
{
	switch (t) {
	case LT_STRING:
		return "VARCHAR";
	case LT_INTEGER:
		return "BIGINT";
	case LT_NUMBER:
		return "DOUBLE";
	case LT_BOOLEAN:
		return "BOOLEAN";
	case LT_DATE:
		return "DATE";
	case LT_TIMESTAMP:
		return "TIMESTAMPTZ";
	}
	return NULL;
}

/* s as an SQL string literal. */
static int add_literal(struct strbuf *out, const char *s)
{
	int rc = strbuf_addch(out, '\'');

	for (; !rc && *s; s++)
		rc = *s == '\'' ? strbuf_addstr(out, "''") : strbuf_addch(out, *s);
	return rc ? rc : strbuf_addch(out, '\'');
}

/* name as an SQL identifier. */
static int add_ident(struct strbuf *out, const char *name)
{
	int rc = strbuf_addch(out, '"');

	for (; !rc && *name; name++)
		rc = *name == '"' ? strbuf_addstr(out, "\"\"") : strbuf_addch(out, *name);
	return rc ? rc : strbuf_addch(out, '"');
}

/* ",\n  count(*) FILTER (WHERE cond) AS "col: rule"" */
static int add_count(struct strbuf *out, const char *cond, const char *col, const char *rule)
{
	char label[256];
	int rc;

	snprintf(label, sizeof(label), "%s: %s", col, rule);
	rc = strbuf_addf(out, ",\n  count(*) FILTER (WHERE %s) AS ", cond);
	return rc ? rc : add_ident(out, label);
}

/* "col OP" or "FN(col) OP", col quoted, into cond (emptied first). */
static int cond_column(struct strbuf *cond, const char *fn, const char *col, const char *op)
{
	int rc;

	strbuf_reset(cond);
	rc = strbuf_addf(cond, "%s%s", fn, *fn ? "(" : "");
	if (!rc)
		rc = add_ident(cond, col);
	return rc ? rc : strbuf_addf(cond, "%s %s", *fn ? ")" : "", op);
}

/* "regexp_matches(col, 'pattern')" appended to cond: a search, as a contract pattern is. */
static int cond_pattern(struct strbuf *cond, const char *col, const char *pattern)
{
	int rc = strbuf_addstr(cond, "regexp_matches(");

	if (!rc)
		rc = add_ident(cond, col);
	if (!rc)
		rc = strbuf_addstr(cond, ", ");
	if (!rc)
		rc = add_literal(cond, pattern);
	return rc ? rc : strbuf_addch(cond, ')');
}

/* invalidValues: non-null values not among validValues, or not matching its pattern. */
static int cond_invalid(struct strbuf *cond, const char *col, const struct quality_rule *q)
{
	int rc = cond_column(cond, "", col, "IS NOT NULL AND (");

	if (!rc && q->nvalid) {
		rc = add_ident(cond, col);
		if (!rc)
			rc = strbuf_addstr(cond, " NOT IN (");
		for (size_t j = 0; !rc && j < q->nvalid; j++) {
			rc = j ? strbuf_addstr(cond, ", ") : 0;
			if (!rc)
				rc = add_literal(cond, q->valid_values[j]);
		}
		if (!rc)
			rc = strbuf_addch(cond, ')');
	}
	if (!rc && q->pattern) {
		rc = strbuf_addstr(cond, q->nvalid ? " OR NOT " : "NOT ");
		if (!rc)
			rc = cond_pattern(cond, col, q->pattern);
	}
	return rc ? rc : strbuf_addch(cond, ')');
}

/* The rules of column c, of a table whose primary key has nkey columns. */
static int add_column_rules(struct strbuf *out, const struct contract_column *c, size_t nkey,
			    struct strbuf *cond)
{
	char op[64];
	int rc = 0;

	if (c->required && !(rc = cond_column(cond, "", c->name, "IS NULL")))
		rc = add_count(out, cond->buf, c->name, "required");
	/* unique, and a primary key of one column: count(col) leaves out the nulls, which never
	 * collide */
	if (!rc && (c->unique || (c->primary_key && nkey == 1))) {
		rc = strbuf_addstr(out, ",\n  count(");
		if (!rc)
			rc = add_ident(out, c->name);
		if (!rc)
			rc = strbuf_addstr(out, ") - count(DISTINCT ");
		if (!rc)
			rc = add_ident(out, c->name);
		if (!rc)
			rc = strbuf_addf(out, ") AS \"%s: %s\"", c->name,
					 c->unique ? "unique" : "primaryKey");
	}
	if (!rc && c->pattern && !(rc = cond_column(cond, "", c->name, "IS NOT NULL AND NOT ")))
		rc = cond_pattern(cond, c->name, c->pattern);
	if (!rc && c->pattern)
		rc = add_count(out, cond->buf, c->name, "pattern");
	if (!rc && c->has_minimum) {
		snprintf(op, sizeof(op), "< %.17g", c->minimum);
		if (!(rc = cond_column(cond, "", c->name, op)))
			rc = add_count(out, cond->buf, c->name, "minimum");
	}
	if (!rc && c->has_maximum) {
		snprintf(op, sizeof(op), "> %.17g", c->maximum);
		if (!(rc = cond_column(cond, "", c->name, op)))
			rc = add_count(out, cond->buf, c->name, "maximum");
	}
	if (!rc && c->min_length >= 0) {
		snprintf(op, sizeof(op), "< %ld", c->min_length);
		if (!(rc = cond_column(cond, "length", c->name, op)))
			rc = add_count(out, cond->buf, c->name, "minLength");
	}
	if (!rc && c->max_length >= 0) {
		snprintf(op, sizeof(op), "> %ld", c->max_length);
		if (!(rc = cond_column(cond, "length", c->name, op)))
			rc = add_count(out, cond->buf, c->name, "maxLength");
	}
	if (!rc && c->format) {
		fprintf(stderr, "bench-duckdb-sql: column %s: format %s is not translated\n",
			c->name, c->format);
		return -EINVAL;
	}
	for (size_t i = 0; !rc && i < c->nquality; i++) {
		const struct quality_rule *q = &c->quality[i];

		if (!q->metric || strcmp(q->metric, "invalidValues") || q->op != QOP_MUST_BE ||
		    q->a != 0 || q->percent || q->warning) {
			fprintf(stderr,
				"bench-duckdb-sql: column %s: of the quality rules, only "
				"invalidValues mustBe 0 is translated\n",
				c->name);
			return -EINVAL;
		}
		rc = cond_invalid(cond, c->name, q);
		if (!rc)
			rc = add_count(out, cond->buf, c->name, "invalidValues");
	}
	return rc;
}

static int build(struct strbuf *out, const struct contract_table *tb, const char *csv)
{
	struct strbuf cond;
	size_t nkey = 0;
	int rc;

	if (tb->nquality) {
		fprintf(stderr, "bench-duckdb-sql: table-level quality rules are not translated\n");
		return -EINVAL;
	}
	for (size_t i = 0; i < tb->ncolumns; i++)
		nkey += tb->columns[i].primary_key ? 1 : 0;
	strbuf_init(&cond);
	rc = strbuf_addstr(out, "SELECT count(*) AS rows");
	for (size_t i = 0; !rc && i < tb->ncolumns; i++)
		rc = add_column_rules(out, &tb->columns[i], nkey, &cond);
	strbuf_release(&cond);
	if (!rc && nkey > 1) {
		const char *sep = "";

		rc = strbuf_addstr(out, ",\n  count(*) - count(DISTINCT (");
		for (size_t i = 0; !rc && i < tb->ncolumns; i++) {
			if (!tb->columns[i].primary_key)
				continue;
			rc = strbuf_addstr(out, sep);
			if (!rc)
				rc = add_ident(out, tb->columns[i].name);
			sep = ", ";
		}
		if (!rc)
			rc = strbuf_addstr(out, ")) AS \"primaryKey\"");
	}
	if (!rc)
		rc = strbuf_addstr(out, "\nFROM read_csv(");
	if (!rc)
		rc = add_literal(out, csv);
	if (!rc)
		rc = strbuf_addstr(out, ", header = true, strict_mode = true, auto_detect = false, "
					"delim = ',', quote = '\"', escape = '\"', columns = {");
	for (size_t i = 0; !rc && i < tb->ncolumns; i++) {
		rc = i ? strbuf_addstr(out, ", ") : 0;
		if (!rc)
			rc = add_literal(out, tb->columns[i].name);
		if (!rc)
			rc = strbuf_addf(out, ": '%s'", sql_type(tb->columns[i].type));
	}
	return rc ? rc : strbuf_addstr(out, "});\n");
}

int main(int argc, char **argv)
{
	const struct contract_table *tb;
	struct contract c = {0};
	struct mfs_error err;
	struct strbuf text, sql;
	FILE *f;
	char buf[65536];
	size_t n;
	int rc = 1;

	strbuf_init(&text);
	strbuf_init(&sql);
	mfs_error_clear(&err);
	if (argc != 4) {
		fprintf(stderr, "usage: bench-duckdb-sql CONTRACT TABLE CSV\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		goto out;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&text, buf, n);
	fclose(f);
	if (contract_parse(&c, text.buf, text.len, argv[1], NULL, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		goto out;
	}
	tb = contract_table(&c, argv[2]);
	if (!tb) {
		fprintf(stderr, "bench-duckdb-sql: %s has no table %s\n", argv[1], argv[2]);
		goto out;
	}
	if (build(&sql, tb, argv[3]))
		goto out;
	fputs(sql.buf, stdout);
	rc = 0;
out:
	contract_release(&c);
	strbuf_release(&text);
	strbuf_release(&sql);
	return rc;
}
