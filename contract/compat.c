#include "contract/compat.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A name and where it sits in its list, sorted by name so that lookups stay O(log n) however
 * many tables and columns a contract has. */
struct named {
	const char *name;
	size_t idx;
};

struct compat {
	const char *file;
	struct compat_report *r;
	size_t cap;
};

static const char *const kind_words[] = {
    [COMPAT_FINE] = "compatible",
    [COMPAT_BREAKING] = "breaking",
    [COMPAT_REFUSED] = "refused",
};

static int add(struct compat *x, enum compat_kind kind, unsigned long line, unsigned long col,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int add(struct compat *x, enum compat_kind kind, unsigned long line, unsigned long col,
	       const char *fmt, ...)
{
	struct compat_report *r = x->r;
	struct compat_change *c;
	va_list ap;
	size_t cap;
	int n;

	if (r->nchanges == x->cap) {
		cap = x->cap ? 2 * x->cap : 16;
		c = reallocarray(r->changes, cap, sizeof(*c));
		if (!c)
			return -ENOMEM;
		r->changes = c;
		x->cap = cap;
	}
	c = &r->changes[r->nchanges++];
	c->kind = kind;
	c->line = line;
	c->col = col;
	if (line)
		n = snprintf(c->message, sizeof(c->message), "%s:%lu:%lu: %s: ", x->file, line, col,
			     kind_words[kind]);
	else
		n = snprintf(c->message, sizeof(c->message), "%s: %s: ", x->file, kind_words[kind]);
	if (n < 0 || (size_t)n >= sizeof(c->message))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(c->message + n, sizeof(c->message) - (size_t)n, fmt, ap);
	va_end(ap);
	if (kind == COMPAT_BREAKING)
		r->breaking++;
	else if (kind == COMPAT_REFUSED)
		r->refused++;
	return 0;
}

/* ---- semver ---- */

struct semver {
	unsigned long long part[3];
	const char *pre; /* after the '-', up to pre_len; NULL for a release */
	size_t pre_len;
};

/* The number of len bytes at s, without leading zeros. */
static int semver_number(const char *s, size_t len, unsigned long long *out)
{
	unsigned long long v = 0;

	if (!len || (*s == '0' && len > 1))
		return -EINVAL;
	for (; len; len--, s++) {
		if (*s < '0' || *s > '9' || v > (~0ULL - (unsigned long long)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (unsigned long long)(*s - '0');
	}
	*out = v;
	return 0;
}

/* Dot-separated identifiers of [0-9A-Za-z-], none empty; numeric ones without leading zeros when
 * numeric_rule (prereleases). */
static int semver_identifiers(const char *s, size_t len, int numeric_rule)
{
	size_t i = 0, start, n;

	do {
		start = i;
		n = 0;
		while (i < len && s[i] != '.') {
			if (!(s[i] == '-' || (s[i] >= '0' && s[i] <= '9') ||
			      (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
				return -EINVAL;
			n += s[i] >= '0' && s[i] <= '9';
			i++;
		}
		if (i == start)
			return -EINVAL;
		if (numeric_rule && n == i - start && n > 1 && s[start] == '0')
			return -EINVAL;
	} while (i++ < len);
	return 0;
}

/* MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] */
static int semver_parse(const char *s, struct semver *v)
{
	const char *end = s + strcspn(s, "+"), *dash = memchr(s, '-', (size_t)(end - s));
	const char *core_end = dash ? dash : end, *dot;
	int i;

	if (*end == '+' && semver_identifiers(end + 1, strlen(end + 1), 0))
		return -EINVAL;
	v->pre = dash ? dash + 1 : NULL;
	v->pre_len = dash ? (size_t)(end - dash - 1) : 0;
	if (dash && semver_identifiers(v->pre, v->pre_len, 1))
		return -EINVAL;
	for (i = 0; i < 3; i++, s = dot + 1) {
		dot = i < 2 ? memchr(s, '.', (size_t)(core_end - s)) : core_end;
		if (!dot || semver_number(s, (size_t)(dot - s), &v->part[i]))
			return -EINVAL;
	}
	return 0;
}

/* Compares one prerelease identifier each of a and b (a_len, b_len bytes). */
static int identifier_compare(const char *a, size_t a_len, const char *b, size_t b_len)
{
	int a_num = strspn(a, "0123456789") >= a_len, b_num = strspn(b, "0123456789") >= b_len;
	int c;

	/* Numeric identifiers have no leading zeros: the longer one is the larger. */
	if (a_num && b_num) {
		if (a_len != b_len)
			return a_len < b_len ? -1 : 1;
		return memcmp(a, b, a_len);
	}
	if (a_num != b_num)
		return a_num ? -1 : 1;
	c = memcmp(a, b, a_len < b_len ? a_len : b_len);
	if (c)
		return c;
	return a_len < b_len ? -1 : a_len > b_len;
}

static int prerelease_compare(const struct semver *a, const struct semver *b)
{
	size_t i = 0, j = 0, a_end, b_end;
	int c;

	if (!a->pre || !b->pre)
		return !a->pre - !b->pre; /* a release is above its prereleases */
	while (i < a->pre_len && j < b->pre_len) {
		for (a_end = i; a_end < a->pre_len && a->pre[a_end] != '.'; a_end++)
			;
		for (b_end = j; b_end < b->pre_len && b->pre[b_end] != '.'; b_end++)
			;
		c = identifier_compare(a->pre + i, a_end - i, b->pre + j, b_end - j);
		if (c)
			return c;
		i = a_end + 1;
		j = b_end + 1;
	}
	/* The one with more identifiers is the larger. */
	return (i < a->pre_len) - (j < b->pre_len);
}

int semver_compare(const char *a, const char *b, int *out)
{
	struct semver va, vb;
	int i;

	if (semver_parse(a, &va) || semver_parse(b, &vb))
		return -EINVAL;
	for (i = 0; i < 3; i++) {
		if (va.part[i] != vb.part[i]) {
			*out = va.part[i] < vb.part[i] ? -1 : 1;
			return 0;
		}
	}
	*out = prerelease_compare(&va, &vb);
	return 0;
}

/* ---- lookups by name ---- */

static int named_compare(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

/* Where name is in v (n sorted entries), or -1. */
static long named_find(const struct named *v, size_t n, const char *name)
{
	size_t lo = 0, hi = n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(name, v[mid].name);
		if (!c)
			return (long)v[mid].idx;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

static struct named *tables_index(const struct contract *c)
{
	struct named *v = calloc(c->ntables ? c->ntables : 1, sizeof(*v));
	size_t i;

	if (!v)
		return NULL;
	for (i = 0; i < c->ntables; i++) {
		v[i].name = c->tables[i].name;
		v[i].idx = i;
	}
	qsort(v, c->ntables, sizeof(*v), named_compare);
	return v;
}

static struct named *columns_index(const struct contract_table *t)
{
	struct named *v = calloc(t->ncolumns ? t->ncolumns : 1, sizeof(*v));
	size_t i;

	if (!v)
		return NULL;
	for (i = 0; i < t->ncolumns; i++) {
		v[i].name = t->columns[i].name;
		v[i].idx = i;
	}
	qsort(v, t->ncolumns, sizeof(*v), named_compare);
	return v;
}

/* ---- what changed ---- */

static int text_differs(const char *a, const char *b)
{
	if (!a || !b)
		return !a != !b;
	return strcmp(a, b) != 0;
}

static int strings_differ(char *const *a, size_t na, char *const *b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 1;
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return 1;
	return 0;
}

static int rule_differs(const struct quality_rule *a, const struct quality_rule *b)
{
	return text_differs(a->name, b->name) || text_differs(a->description, b->description) ||
	       text_differs(a->type, b->type) || text_differs(a->metric, b->metric) ||
	       text_differs(a->query, b->query) || a->op != b->op || a->a != b->a || a->b != b->b ||
	       a->percent != b->percent || a->warning != b->warning ||
	       strings_differ(a->valid_values, a->nvalid, b->valid_values, b->nvalid) ||
	       text_differs(a->pattern, b->pattern) ||
	       strings_differ(a->properties, a->nproperties, b->properties, b->nproperties);
}

static int rules_differ(const struct quality_rule *a, size_t na, const struct quality_rule *b,
			size_t nb)
{
	size_t i;

	if (na != nb)
		return 1;
	for (i = 0; i < na; i++)
		if (rule_differs(&a[i], &b[i]))
			return 1;
	return 0;
}

static int team_differs(const struct contract *a, const struct contract *b)
{
	size_t i;

	if (a->nteam != b->nteam)
		return 1;
	for (i = 0; i < a->nteam; i++)
		if (strcmp(a->team[i].username, b->team[i].username) ||
		    text_differs(a->team[i].role, b->team[i].role))
			return 1;
	return 0;
}

/* A lower bound (minimum, minLength) moved: up is breaking, down or dropped compatible. */
static int lower_bound(struct compat *x, const struct contract_column *col, const char *where,
		       const char *what, int had, double was, int has, double is)
{
	if (had && !has)
		return add(x, COMPAT_FINE, col->line, col->col, "%s drops its %s (%g)", where, what,
			   was);
	if (!had && has)
		return add(x, COMPAT_BREAKING, col->line, col->col, "%s gains a %s (%g)", where,
			   what, is);
	if (had && is > was)
		return add(x, COMPAT_BREAKING, col->line, col->col,
			   "%s raises its %s from %g to %g", where, what, was, is);
	if (had && is < was)
		return add(x, COMPAT_FINE, col->line, col->col, "%s lowers its %s from %g to %g",
			   where, what, was, is);
	return 0;
}

/* An upper bound (maximum, maxLength) moved: down is breaking, up or dropped compatible. */
static int upper_bound(struct compat *x, const struct contract_column *col, const char *where,
		       const char *what, int had, double was, int has, double is)
{
	if (had && !has)
		return add(x, COMPAT_FINE, col->line, col->col, "%s drops its %s (%g)", where, what,
			   was);
	if (!had && has)
		return add(x, COMPAT_BREAKING, col->line, col->col, "%s gains a %s (%g)", where,
			   what, is);
	if (had && is < was)
		return add(x, COMPAT_BREAKING, col->line, col->col,
			   "%s lowers its %s from %g to %g", where, what, was, is);
	if (had && is > was)
		return add(x, COMPAT_FINE, col->line, col->col, "%s raises its %s from %g to %g",
			   where, what, was, is);
	return 0;
}

/* A pattern or a format: gaining or changing one is breaking, dropping it compatible. */
static int text_rule(struct compat *x, const struct contract_column *col, const char *where,
		     const char *what, const char *was, const char *is)
{
	if (!text_differs(was, is))
		return 0;
	if (!is)
		return add(x, COMPAT_FINE, col->line, col->col, "%s drops its %s", where, what);
	if (!was)
		return add(x, COMPAT_BREAKING, col->line, col->col, "%s gains a %s", where, what);
	return add(x, COMPAT_BREAKING, col->line, col->col, "%s changes its %s", where, what);
}

/* A yes/no constraint (required, unique, primaryKey): turning it on is breaking. */
static int flag_rule(struct compat *x, const struct contract_column *col, const char *where,
		     int was, int is, const char *on, const char *off)
{
	if (was == is)
		return 0;
	if (is)
		return add(x, COMPAT_BREAKING, col->line, col->col, "%s %s", where, on);
	return add(x, COMPAT_FINE, col->line, col->col, "%s %s", where, off);
}

static int column_type(struct compat *x, const struct contract_column *a,
		       const struct contract_column *b, const char *where)
{
	if (a->type == b->type)
		return 0;
	return add(x, a->type == LT_INTEGER && b->type == LT_NUMBER ? COMPAT_FINE : COMPAT_BREAKING,
		   b->line, b->col, "%s changes type from %s to %s", where,
		   logical_type_name(a->type), logical_type_name(b->type));
}

static int column_classification(struct compat *x, const struct contract_column *a,
				 const struct contract_column *b, const char *where)
{
	const char *was = a->classification ? a->classification : "none";
	const char *is = b->classification ? b->classification : "none";

	if (a->pii && !b->pii)
		return add(x, COMPAT_BREAKING, b->line, b->col,
			   "%s lowers its classification from %s to %s: it would no longer be PII",
			   where, was, is);
	if (!a->pii && b->pii)
		return add(x, COMPAT_FINE, b->line, b->col,
			   "%s becomes PII (classification %s): encrypted and masked from the next "
			   "version",
			   where, is);
	if (strcasecmp(was, is))
		return add(x, COMPAT_FINE, b->line, b->col,
			   "%s changes its classification from %s to %s", where, was, is);
	return 0;
}

/* The changes of a column present in both contracts. */
static int column_changes(struct compat *x, const char *table, const struct contract_column *a,
			  const struct contract_column *b)
{
	char where[160]; /* two names of at most 63 bytes */
	int rc;

	snprintf(where, sizeof(where), "column %s.%s", table, b->name);
	rc = column_type(x, a, b, where);
	if (!rc)
		rc = flag_rule(x, b, where, a->required, b->required, "becomes required",
			       "becomes optional");
	if (!rc)
		rc = flag_rule(x, b, where, a->unique, b->unique, "becomes unique",
			       "is no longer unique");
	if (!rc)
		rc = flag_rule(x, b, where, a->primary_key, b->primary_key,
			       "becomes part of the primary key", "leaves the primary key");
	if (!rc)
		rc = lower_bound(x, b, where, "minimum", a->has_minimum, a->minimum, b->has_minimum,
				 b->minimum);
	if (!rc)
		rc = upper_bound(x, b, where, "maximum", a->has_maximum, a->maximum, b->has_maximum,
				 b->maximum);
	if (!rc)
		rc = lower_bound(x, b, where, "minLength", a->min_length >= 0,
				 (double)a->min_length, b->min_length >= 0, (double)b->min_length);
	if (!rc)
		rc = upper_bound(x, b, where, "maxLength", a->max_length >= 0,
				 (double)a->max_length, b->max_length >= 0, (double)b->max_length);
	if (!rc)
		rc = text_rule(x, b, where, "pattern", a->pattern, b->pattern);
	if (!rc)
		rc = text_rule(x, b, where, "format", a->format, b->format);
	if (!rc)
		rc = column_classification(x, a, b, where);
	if (!rc && a->mask != b->mask)
		rc = add(x, COMPAT_FINE, b->line, b->col, "%s changes its mask from %s to %s",
			 where, mask_kind_name(a->mask), mask_kind_name(b->mask));
	if (!rc && text_differs(a->description, b->description))
		rc = add(x, COMPAT_FINE, b->line, b->col, "%s changes its description", where);
	if (!rc && rules_differ(a->quality, a->nquality, b->quality, b->nquality))
		rc = add(x, COMPAT_FINE, b->line, b->col, "%s changes its quality rules", where);
	return rc;
}

/* Whether the columns both tables have come in a different order. */
static int reordered(const struct contract_table *a, const struct named *a_index,
		     const struct contract_table *b)
{
	long at, last = -1;
	size_t i;

	for (i = 0; i < b->ncolumns; i++) {
		at = named_find(a_index, a->ncolumns, b->columns[i].name);
		if (at < 0)
			continue;
		if (at < last)
			return 1;
		last = at;
	}
	return 0;
}

/* The changes of a table present in both contracts. */
static int table_changes(struct compat *x, const struct contract_table *a,
			 const struct contract_table *b)
{
	struct named *a_index = columns_index(a), *b_index = columns_index(b);
	const struct contract_column *col;
	size_t i;
	long at;
	int rc = 0;

	if (!a_index || !b_index) {
		rc = -ENOMEM;
		goto out;
	}
	/* A renamed column reads as one removed and one added: readers of the old name break. */
	for (i = 0; !rc && i < a->ncolumns; i++)
		if (named_find(b_index, b->ncolumns, a->columns[i].name) < 0)
			rc = add(x, COMPAT_BREAKING, b->line, b->col, "column %s.%s is removed",
				 b->name, a->columns[i].name);
	for (i = 0; !rc && i < b->ncolumns; i++) {
		col = &b->columns[i];
		at = named_find(a_index, a->ncolumns, col->name);
		if (at >= 0)
			rc = column_changes(x, b->name, &a->columns[at], col);
		else if (col->required)
			rc = add(x, COMPAT_BREAKING, col->line, col->col,
				 "column %s.%s is added as required: the data published so far "
				 "lacks it",
				 b->name, col->name);
		else
			rc = add(x, COMPAT_FINE, col->line, col->col,
				 "column %s.%s is added (optional)", b->name, col->name);
	}
	if (!rc && reordered(a, a_index, b))
		rc = add(x, COMPAT_FINE, b->line, b->col,
			 "table %s orders its columns differently (TABLE.csv follows the contract)",
			 b->name);
	if (!rc && text_differs(a->description, b->description))
		rc = add(x, COMPAT_FINE, b->line, b->col, "table %s changes its description",
			 b->name);
	if (!rc && rules_differ(a->quality, a->nquality, b->quality, b->nquality))
		rc = add(x, COMPAT_FINE, b->line, b->col, "table %s changes its quality rules",
			 b->name);
out:
	free(a_index);
	free(b_index);
	return rc;
}

static int schema_changes(struct compat *x, const struct contract *a, const struct contract *b)
{
	struct named *a_index = tables_index(a), *b_index = tables_index(b);
	const struct contract_table *t;
	size_t i;
	long at;
	int rc = 0;

	if (!a_index || !b_index) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; !rc && i < a->ntables; i++)
		if (named_find(b_index, b->ntables, a->tables[i].name) < 0)
			rc =
			    add(x, COMPAT_BREAKING, 0, 0, "table %s is removed", a->tables[i].name);
	for (i = 0; !rc && i < b->ntables; i++) {
		t = &b->tables[i];
		at = named_find(a_index, a->ntables, t->name);
		if (at >= 0)
			rc = table_changes(x, &a->tables[at], t);
		else
			rc = add(x, COMPAT_FINE, t->line, t->col, "table %s is added", t->name);
	}
out:
	free(a_index);
	free(b_index);
	return rc;
}

/* What changes about the product as a whole: never a reason to refuse. */
static int product_changes(struct compat *x, const struct contract *a, const struct contract *b)
{
	int rc = 0;

	if (text_differs(a->purpose, b->purpose))
		rc = add(x, COMPAT_FINE, 0, 0, "description.purpose changes");
	if (!rc && strcmp(a->status, b->status))
		rc =
		    add(x, COMPAT_FINE, 0, 0, "status changes from %s to %s", a->status, b->status);
	if (!rc && strings_differ(a->tags, a->ntags, b->tags, b->ntags))
		rc = add(x, COMPAT_FINE, 0, 0, "tags change");
	if (!rc && team_differs(a, b))
		rc = add(x, COMPAT_FINE, 0, 0, "team changes");
	if (!rc && a->frequency_seconds != b->frequency_seconds)
		rc = add(x, COMPAT_FINE, 0, 0, "slaProperties frequency changes");
	if (!rc && text_differs(a->retention, b->retention))
		rc = add(x, COMPAT_FINE, 0, 0, "slaProperties retention changes");
	if (!rc && strings_differ(a->inputs, a->ninputs, b->inputs, b->ninputs))
		rc = add(x, COMPAT_FINE, 0, 0, "lineage inputs change");
	return rc;
}

/* What no version number makes right. */
static int refusals(struct compat *x, const struct contract *a, const struct contract *b)
{
	int rc = 0, order;

	if (strcmp(a->domain, b->domain))
		rc = add(x, COMPAT_REFUSED, 0, 0,
			 "domain changes from %s to %s: a product stays in its domain", a->domain,
			 b->domain);
	if (!rc && strcmp(a->data_product, b->data_product))
		rc = add(x, COMPAT_REFUSED, 0, 0,
			 "dataProduct changes from %s to %s: a product keeps its name",
			 a->data_product, b->data_product);
	if (rc)
		return rc;
	if (semver_compare(b->version, a->version, &order))
		return add(x, COMPAT_REFUSED, 0, 0, "version %s or %s is not semver", b->version,
			   a->version);
	if (order <= 0)
		return add(x, COMPAT_REFUSED, 0, 0,
			   "version %s is not higher than the current version %s", b->version,
			   a->version);
	return 0;
}

int contract_compat(const struct contract *old, const struct contract *next, int mode,
		    const char *filename, struct compat_report *out)
{
	struct compat x = {.file = filename, .r = out};
	int rc;

	assert(mode == COMPAT_BACKWARD || mode == COMPAT_NONE);
	memset(out, 0, sizeof(*out));
	out->major_up = next->major > old->major;
	rc = refusals(&x, old, next);
	if (!rc && mode == COMPAT_BACKWARD)
		rc = product_changes(&x, old, next);
	if (!rc && mode == COMPAT_BACKWARD)
		rc = schema_changes(&x, old, next);
	if (rc)
		return rc;
	if (out->refused)
		return -EINVAL;
	if (out->breaking && !out->major_up)
		return -EPERM;
	return 0;
}

size_t compat_report_breaking(const struct compat_report *r)
{
	return r->breaking;
}

void compat_report_explain(const struct compat_report *r, struct mfs_error *err)
{
	size_t i;

	for (i = 0; i < r->nchanges; i++)
		if (r->changes[i].kind != COMPAT_FINE)
			mfs_error_add(err, EPERM, "%s", r->changes[i].message);
}

void compat_report_release(struct compat_report *r)
{
	free(r->changes);
	memset(r, 0, sizeof(*r));
}
