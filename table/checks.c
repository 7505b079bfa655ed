/*
 * The publish-time checks. table_checks_new works out once, per column, what applies to its
 * values (type, options, compiled patterns, uniqueness sets, quality counters, detectors), so
 * that the per-cell work of table_checks_row is only the checks themselves, without allocation.
 */
#include "table/checks.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "contract/logical_type.h"
#include "contract/pattern.h"
#include "table/detect.h"
#include "table/uniq.h"

/* Values quoted in messages are cut to this many bytes. */
#define QUOTE_MAX 40
/* Rows whose values table_checks_batch prepares for the uniqueness sets ahead of their checks
 * (uniq_prepare): enough for the cache misses of that many adds to overlap. */
#define AHEAD 16

enum metric {
	METRIC_NULL,
	METRIC_MISSING,
	METRIC_INVALID,
	METRIC_DUPLICATE,
	METRIC_ROWS,
	METRIC_NOT_RUN, /* sql, text, custom */
};

enum format {
	FORMAT_NONE,
	FORMAT_EMAIL,
	FORMAT_UUID,
	FORMAT_URI,
};

static const char *const format_names[] = {NULL, "email", "uuid", "uri"};

/*
 * The values of a rule's list (validValues, missingValues), found by a hash of their bytes
 * rather than compared one by one; clean[i]: none of the detectors the policy enables fires on
 * values[i], so that a value found in the list need not be scanned for PII again.
 */
struct value_set {
	char *const *values;
	size_t *lens;
	unsigned char *clean;
	uint32_t *slots; /* 1 + an index into values, 0 for none; mask + 1 of them */
	size_t mask;
};

struct rule {
	const struct quality_rule *q;
	const struct contract_column *def; /* NULL for a table-level rule */
	enum metric metric;
	struct value_set *list; /* q's valid_values, or NULL */
	struct pattern *re;	/* invalidValues' pattern, or NULL */
	struct uniq *seen;	/* a table-level duplicateValues: the tuples seen */
	size_t *props;		/* its columns */
	size_t nprops;
	uint64_t count;
};

struct column {
	const struct contract_column *def;
	struct pattern *re; /* logicalTypeOptions.pattern, or NULL */
	enum format format;
	struct uniq *seen;		/* values seen, for unique or duplicateValues */
	struct uniq_ahead ahead[AHEAD]; /* for seen, of the rows to come (table_checks_batch) */
	unsigned long seen_col;		/* where they start: see seen_at */
	int unique;			/* a repeated value is an error */
	const struct detector *detect[DETECTOR_COUNT];
	size_t ndetect;		      /* 0 once the column is flagged */
	const struct detector *found; /* what flagged it */
	/* Valid booleans, dates and timestamps cannot hold what the detectors look for. */
	int detect_valid;
	struct rule *rules; /* the column's rules, in table_checks.rules */
	size_t nrules;
};

struct table_checks {
	const struct contract_table *tb;
	const char *filename;
	locale_t c_locale; /* numbers are read with '.' whatever the process locale */
	struct column *cols;
	struct rule *rules; /* column rules in column order, then table rules */
	size_t nrules;
	size_t ntable_rules;
	size_t *key; /* primary key columns */
	size_t nkey;
	struct uniq *key_seen;
	struct uniq_ahead key_ahead[AHEAD]; /* for key_seen of a key of one column */
	int at;				    /* the row's place in the ahead rings, or -1 for none */
	unsigned long key_col;	 /* where the first key column's values start: see seen_at */
	struct strbuf key_names; /* "order_id, line" */
	struct strbuf tuple;	 /* length-prefixed values of a key; may hold PII */
	size_t nenabled;	 /* detectors the policy enables */
	const struct detector *enabled[DETECTOR_COUNT];
	struct check_report rep;
	int stopped;
};

/* ---- messages ---- */

/* Copies s as 'text' into out, cut to max bytes at a character boundary, control bytes as '?'. */
static void quote_text(char *out, size_t size, const char *s, size_t len, size_t max)
{
	size_t n = len, i, o = 0;
	int cut = 0;

	assert(size > max + 8);
	if (n > max) {
		n = max;
		while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
		cut = 1;
	}
	out[o++] = '\'';
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		out[o++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	snprintf(out + o, size - o, "%s'", cut ? "…" : "");
}

/* A value for a message: quoted only if its column is not PII and no detector fires on it. */
static void quote_value(char *out, size_t size, const struct column *k, const struct csv_field *v)
{
	if (k->def->pii)
		snprintf(out, size, "the value (not shown: PII column)");
	else if (detector_any(v->data, v->len))
		snprintf(out, size, "the value (not shown: it looks like personal data)");
	else
		quote_text(out, size, v->data, v->len, QUOTE_MAX);
}

/* The shortest decimal that reads back as v: "0.1", "10", "9007199254740992". */
static const char *number_text(char *out, size_t size, double v)
{
	int prec;

	/* Whole numbers in full: "%g" would write 20 as 2e+01. */
	if (v > -1e17 && v < 1e17 && v == (double)(long long)v) {
		snprintf(out, size, "%.0f", v);
		return out;
	}
	for (prec = 1; prec < 17; prec++) {
		snprintf(out, size, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return out;
	}
	snprintf(out, size, "%.17g", v);
	return out;
}

/* Problems in the order a report lists them. */
static int problem_class(const struct check_problem *p)
{
	return p->warning ? 2 : p->policy ? 0 : 1;
}

static void problem_add(struct table_checks *c, int policy, int warning, unsigned long line,
			unsigned long col, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static void problem_add(struct table_checks *c, int policy, int warning, unsigned long line,
			unsigned long col, const char *rule, const char *fmt, ...)
{
	struct check_report *r = &c->rep;
	struct check_problem *p = NULL;
	size_t k;
	va_list ap;
	int n;

	if (warning) {
		r->warnings++;
	} else {
		r->errors++;
		r->policy_errors += policy ? 1 : 0;
	}
	if (r->nproblems < CHECK_PROBLEMS_MAX) {
		p = &r->problems[r->nproblems++];
	} else if (!warning) {
		/* An error is worth more than a warning: the last warning kept makes room. */
		for (k = r->nproblems; k-- > 0;)
			if (r->problems[k].warning)
				break;
		if (k < r->nproblems) {
			memmove(&r->problems[k], &r->problems[k + 1],
				(r->nproblems - k - 1) * sizeof(*p));
			p = &r->problems[r->nproblems - 1];
		}
		r->dropped++;
	} else {
		r->dropped++;
	}
	if (!p)
		return;
	p->policy = policy;
	p->warning = warning;
	p->line = line;
	p->col = col;
	snprintf(p->rule, sizeof(p->rule), "%s", rule);
	if (line && col)
		n = snprintf(p->message, sizeof(p->message), "%s:%lu:%lu: ", c->filename, line,
			     col);
	else if (line)
		n = snprintf(p->message, sizeof(p->message), "%s:%lu: ", c->filename, line);
	else
		n = snprintf(p->message, sizeof(p->message), "%s: ", c->filename);
	if (n < 0 || (size_t)n >= sizeof(p->message))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(p->message + n, sizeof(p->message) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* ---- patterns ---- */

/* Compiles a contract pattern; where names it in the message ("column 'sku'"). */
static int checks_pattern(struct pattern **re, const char *pattern, const char *table,
			  const char *where, unsigned long line, struct mfs_error *err)
{
	char why[160], shown[128];
	int rc = pattern_compile(re, pattern, why, sizeof(why));

	if (rc == -EINVAL) {
		quote_text(shown, sizeof(shown), pattern, strlen(pattern), 80);
		mfs_error_set(err, EINVAL,
			      "table %s, %s (contract line %lu): pattern %s is not a regular "
			      "expression meshfs can run: %s",
			      table, where, line, shown, why);
	}
	return rc;
}

/*
 * Whether value v matches re, for the rule named rule of column def. A match that gave up at its
 * bounds is a problem of its own (the publish fails, saying which pattern and line), counted as a
 * match so that it is not reported twice.
 */
static int checks_match(struct table_checks *c, struct pattern *re, const struct column *k,
			const struct csv_field *v, const char *rule)
{
	char quoted[QUOTE_MAX + 64], shown[96];
	int rc = pattern_match(re, v->data, v->len);

	if (rc >= 0)
		return rc;
	quote_value(quoted, sizeof(quoted), k, v);
	quote_text(shown, sizeof(shown), pattern_text(re), strlen(pattern_text(re)), 60);
	problem_add(c, 0, 0, v->line, v->col, rule,
		    "column '%s': the pattern %s could not be run on %s: %s", k->def->name, shown,
		    quoted,
		    rc == -E2BIG ? "it backtracks too much (simplify the pattern)" : strerror(-rc));
	return 1;
}

/* ---- formats ---- */

static int is_hex(int ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static int is_alpha(int ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

static int is_space_or_control(int ch)
{
	return ch <= 0x20 || ch == 0x7f;
}

/* local@domain.tld: one '@', no spaces, a dot inside the domain with labels on both sides. */
static int format_email(const char *s, size_t len)
{
	const char *at = memchr(s, '@', len), *dot;
	size_t i;

	if (!at || at == s || memchr(at + 1, '@', len - (size_t)(at + 1 - s)))
		return 0;
	for (i = 0; i < len; i++)
		if (is_space_or_control((unsigned char)s[i]))
			return 0;
	dot = memrchr(at + 1, '.', len - (size_t)(at + 1 - s));
	return dot && dot > at + 1 && dot + 1 < s + len &&
	       !memmem(at, len - (size_t)(at - s), "..", 2);
}

/* 8-4-4-4-12 hexadecimal digits. */
static int format_uuid(const char *s, size_t len)
{
	size_t i;

	if (len != 36)
		return 0;
	for (i = 0; i < len; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-'
							    : !is_hex((unsigned char)s[i]))
			return 0;
	return 1;
}

/* scheme:rest (RFC 3986), without spaces or characters that are never in a URI. */
static int format_uri(const char *s, size_t len)
{
	size_t i = 0;

	if (!is_alpha((unsigned char)s[0]))
		return 0;
	while (i < len && (is_alpha((unsigned char)s[i]) || (s[i] >= '0' && s[i] <= '9') ||
			   s[i] == '+' || s[i] == '-' || s[i] == '.'))
		i++;
	if (i == len || s[i] != ':' || i + 1 == len)
		return 0;
	for (; i < len; i++)
		if (is_space_or_control((unsigned char)s[i]) || strchr("\"<>\\^`{|}", s[i]))
			return 0;
	return 1;
}

static int format_valid(enum format f, const char *s, size_t len)
{
	switch (f) {
	case FORMAT_NONE:
		return 1;
	case FORMAT_EMAIL:
		return format_email(s, len);
	case FORMAT_UUID:
		return format_uuid(s, len);
	case FORMAT_URI:
		return format_uri(s, len);
	}
	assert(!"unknown format");
	return 1;
}

/* ---- rows ---- */

/* UTF-8 characters in s: the bytes that do not continue a character. */
static size_t utf8_length(const char *s, size_t len)
{
	size_t n = 0, i;

	for (i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xC0) != 0x80;
	return n;
}

/* -1, 0 or 1 as integer v is below, at or above bound, exactly: a double cannot hold every
 * int64, so v is not converted. */
static int compare_integer(long long v, double bound)
{
	long long t;
	double frac;

	if (bound >= 9223372036854775808.0)
		return -1;
	if (bound < -9223372036854775808.0)
		return 1;
	t = (long long)bound; /* exact: a truncated double is a whole double */
	frac = bound - (double)t;
	if (v != t)
		return v < t ? -1 : 1;
	return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

/* The number a valid integer (logical_type_check) writes: what strtoll reads from it. */
static long long integer_value(const char *s, size_t len)
{
	size_t i = s[0] == '-' || s[0] == '+';
	uint64_t m = 0;

	for (; i < len; i++)
		m = m * 10 + (uint64_t)(s[i] - '0');
	/* -2^63 included: its magnitude fits in uint64_t and wraps to itself */
	return s[0] == '-' ? (long long)(0 - m) : (long long)m;
}

/* -1, 0 or 1 as the valid integer or number v is below, at or above bound. */
static int compare_bound(const struct table_checks *c, enum logical_type t,
			 const struct csv_field *v, double bound)
{
	double x;

	if (t == LT_INTEGER)
		return compare_integer(integer_value(v->data, v->len), bound);
	x = strtod_l(v->data, NULL, c->c_locale);
	return x < bound ? -1 : x > bound ? 1 : 0;
}

static void check_options(struct table_checks *c, const struct column *k, const struct csv_field *v)
{
	const struct contract_column *def = k->def;
	char quoted[QUOTE_MAX + 64], shown[96], bound[32];
	size_t n;

	quoted[0] = '\0';
	if (def->type == LT_INTEGER || def->type == LT_NUMBER) {
		if (def->has_minimum && compare_bound(c, def->type, v, def->minimum) < 0) {
			quote_value(quoted, sizeof(quoted), k, v);
			problem_add(c, 0, 0, v->line, v->col, "minimum",
				    "column '%s': %s is less than the minimum %s", def->name,
				    quoted, number_text(bound, sizeof(bound), def->minimum));
		}
		if (def->has_maximum && compare_bound(c, def->type, v, def->maximum) > 0) {
			quote_value(quoted, sizeof(quoted), k, v);
			problem_add(c, 0, 0, v->line, v->col, "maximum",
				    "column '%s': %s is greater than the maximum %s", def->name,
				    quoted, number_text(bound, sizeof(bound), def->maximum));
		}
	}
	if (def->min_length >= 0 || def->max_length >= 0) {
		n = utf8_length(v->data, v->len);
		if (def->min_length >= 0 && n < (size_t)def->min_length) {
			quote_value(quoted, sizeof(quoted), k, v);
			problem_add(c, 0, 0, v->line, v->col, "minLength",
				    "column '%s': %s has %zu characters, fewer than minLength %ld",
				    def->name, quoted, n, def->min_length);
		}
		if (def->max_length >= 0 && n > (size_t)def->max_length) {
			quote_value(quoted, sizeof(quoted), k, v);
			problem_add(c, 0, 0, v->line, v->col, "maxLength",
				    "column '%s': %s has %zu characters, more than maxLength %ld",
				    def->name, quoted, n, def->max_length);
		}
	}
	if (k->re && !checks_match(c, k->re, k, v, "pattern")) {
		quote_value(quoted, sizeof(quoted), k, v);
		quote_text(shown, sizeof(shown), def->pattern, strlen(def->pattern), 60);
		problem_add(c, 0, 0, v->line, v->col, "pattern",
			    "column '%s': %s does not match the pattern %s", def->name, quoted,
			    shown);
	}
	if (!format_valid(k->format, v->data, v->len)) {
		quote_value(quoted, sizeof(quoted), k, v);
		problem_add(c, 0, 0, v->line, v->col, "format",
			    "column '%s': %s is not a valid %s (format)", def->name, quoted,
			    format_names[k->format]);
	}
}

/* v is a valid value of its column's type when valid is 1. */
static void check_pii(struct table_checks *c, struct column *k, const struct csv_field *v,
		      int valid)
{
	struct detect_profile prof;
	const struct detector *d;
	char rule[64];
	size_t i;

	/* A valid integer is digits after an optional sign: its profile without a scan. */
	if (valid && k->def->type == LT_INTEGER) {
		prof.digits = v->len - (v->data[0] == '-' || v->data[0] == '+');
		prof.has = v->data[0] == '+' ? DETECT_PLUS : v->data[0] == '-' ? DETECT_DASH : 0;
	} else {
		detect_profile(v->data, v->len, &prof);
	}
	for (i = 0; i < k->ndetect; i++) {
		d = k->detect[i];
		if (!detector_may_fire(d, &prof) || !d->fn(v->data, v->len))
			continue;
		snprintf(rule, sizeof(rule), "undeclared-pii:%s", d->name);
		problem_add(c, 1, 0, v->line, v->col, rule,
			    "column '%s' holds what looks like %s, but the column is not "
			    "classified as PII (declare classification: pii, or remove the data)",
			    k->def->name, d->what);
		k->found = d;
		k->ndetect = 0;
		return;
	}
}

static uint64_t load64(const char *s)
{
	uint64_t w;

	memcpy(&w, s, sizeof(w));
	return w;
}

static uint32_t load32(const char *s)
{
	uint32_t w;

	memcpy(&w, s, sizeof(w));
	return w;
}

/*
 * A hash of the first and the last eight bytes and the length, in fixed-size loads: list values
 * are mostly short, and those it confuses are told apart by bytes_equal.
 */
static uint64_t value_hash(const char *s, size_t len)
{
	uint64_t a, b;

	if (len >= 8) {
		a = load64(s);
		b = load64(s + len - 8);
	} else if (len >= 4) {
		a = load32(s);
		b = load32(s + len - 4);
	} else {
		a = len ? (unsigned char)s[0] | (unsigned char)s[len / 2] << 8 |
			      (unsigned)(unsigned char)s[len - 1] << 16
			: 0;
		b = 0;
	}
	a = (a ^ (uint64_t)len) * 0x9e3779b97f4a7c15ULL;
	b = (b ^ (a >> 29)) * 0xff51afd7ed558ccdULL;
	return b ^ (b >> 32);
}

/* Whether the len bytes at a and at b are the same, eight at a time. */
static int bytes_equal(const char *a, const char *b, size_t len)
{
	size_t i;

	if (len < 8)
		return len >= 4
			   ? load32(a) == load32(b) && load32(a + len - 4) == load32(b + len - 4)
			   : !len || (a[0] == b[0] && a[len / 2] == b[len / 2] &&
				      a[len - 1] == b[len - 1]);
	for (i = 0; i + 8 < len; i += 8)
		if (load64(a + i) != load64(b + i))
			return 0;
	return load64(a + len - 8) == load64(b + len - 8);
}

/* The index in set of the value v, or -1. */
static long value_set_find(const struct value_set *set, const struct csv_field *v)
{
	size_t i = (size_t)value_hash(v->data, v->len) & set->mask;
	uint32_t j;

	for (; (j = set->slots[i]); i = (i + 1) & set->mask)
		if (set->lens[j - 1] == v->len && bytes_equal(set->values[j - 1], v->data, v->len))
			return (long)j - 1;
	return -1;
}

/*
 * Keeps the byte column where the values added to a set start while it is the same for all (as
 * for the first column of a CSV file), 0 once it differs: a duplicate found at the end, in runs
 * the set spilled, is known by its line only.
 */
static void seen_at(unsigned long *col, unsigned long at)
{
	if (*col == ULONG_MAX)
		*col = at;
	else if (*col != at)
		*col = 0;
}

static int check_value(struct table_checks *c, struct column *k, const struct csv_field *v,
		       unsigned long line)
{
	const struct contract_column *def = k->def;
	char quoted[QUOTE_MAX + 64];
	unsigned long first;
	struct rule *r;
	const char *why;
	int rc, dup = 0, clean = 0;
	long at;

	if (!v->len) {
		if (def->required)
			problem_add(c, 0, 0, v->line, v->col, "required",
				    "column '%s' is required but empty", def->name);
		for (r = k->rules; r < k->rules + k->nrules; r++)
			if (r->metric == METRIC_NULL || r->metric == METRIC_MISSING)
				r->count++;
		return 0;
	}
	/* any text is a string */
	why = def->type == LT_STRING ? NULL : logical_type_check(def->type, v->data, v->len);
	if (why) {
		quote_value(quoted, sizeof(quoted), k, v);
		problem_add(c, 0, 0, v->line, v->col, "type", "column '%s' (%s): %s: %s", def->name,
			    logical_type_name(def->type), quoted, why);
	} else {
		check_options(c, k, v);
	}
	if (k->seen) {
		rc = c->at < 0
			 ? uniq_add(k->seen, v->data, v->len, line, &first)
			 : uniq_add_ahead(k->seen, v->data, v->len, &k->ahead[c->at], line, &first);
		if (rc < 0)
			return rc;
		seen_at(&k->seen_col, v->col);
		dup = !rc;
		if (dup && k->unique)
			problem_add(c, 0, 0, v->line, v->col, "unique",
				    "column '%s' must be unique: the same value is on line %lu",
				    def->name, first);
	}
	for (r = k->rules; r < k->rules + k->nrules; r++) {
		switch (r->metric) {
		case METRIC_MISSING:
			at = r->list ? value_set_find(r->list, v) : -1;
			r->count += at >= 0;
			clean |= at >= 0 && r->list->clean[at];
			break;
		case METRIC_INVALID:
			at = r->list ? value_set_find(r->list, v) : -1;
			clean |= at >= 0 && r->list->clean[at];
			if ((r->list && at < 0) ||
			    (r->re && !checks_match(c, r->re, k, v, "invalidValues")))
				r->count++;
			break;
		case METRIC_DUPLICATE:
			r->count += (uint64_t)dup;
			break;
		default:
			break;
		}
	}
	if (k->ndetect && (why || k->detect_valid) && !clean)
		check_pii(c, k, v, !why);
	return 0;
}

/* Appends one value of a tuple, length first, so that ("a,b") and ("a", "b") differ. */
static int tuple_add(struct strbuf *t, const struct csv_field *v)
{
	uint64_t len = v->len;
	int rc = strbuf_grow_secure(t, sizeof(len) + v->len);

	if (!rc)
		rc = strbuf_add(t, &len, sizeof(len));
	if (!rc)
		rc = strbuf_add(t, v->data, v->len);
	return rc;
}

static int check_key(struct table_checks *c, const struct csv_field *values, unsigned long line)
{
	const struct csv_field *v;
	unsigned long first;
	int rc, null = 0;
	size_t i;

	strbuf_reset_secure(&c->tuple);
	for (i = 0; i < c->nkey; i++) {
		v = &values[c->key[i]];
		if (!v->len) {
			/* A required column has said so already. */
			if (!c->cols[c->key[i]].def->required)
				problem_add(c, 0, 0, v->line, v->col, "primaryKey",
					    "column '%s' is part of the primary key and cannot "
					    "be empty",
					    c->cols[c->key[i]].def->name);
			null = 1;
			continue;
		}
		/* A key of one column is its value: no tuple, and the set may keep ascending
		 * integers as such (table/uniq.h). */
		if (c->nkey > 1 && (rc = tuple_add(&c->tuple, v)))
			return rc;
	}
	if (null)
		return 0;
	v = &values[c->key[0]];
	if (c->nkey == 1)
		rc = c->at < 0 ? uniq_add(c->key_seen, v->data, v->len, line, &first)
			       : uniq_add_ahead(c->key_seen, v->data, v->len, &c->key_ahead[c->at],
						line, &first);
	else
		rc = uniq_add(c->key_seen, c->tuple.buf, c->tuple.len, line, &first);
	if (rc < 0)
		return rc;
	seen_at(&c->key_col, v->col);
	if (!rc)
		problem_add(c, 0, 0, v->line, v->col, "primaryKey",
			    "the primary key (%s) must be unique: the same key is on line %lu",
			    c->key_names.buf, first);
	return 0;
}

/* A table-level duplicateValues rule: whether this row's tuple was seen before. */
static int count_duplicate_row(struct table_checks *c, struct rule *r,
			       const struct csv_field *values, unsigned long line)
{
	unsigned long first;
	size_t i;
	int rc;

	strbuf_reset_secure(&c->tuple);
	for (i = 0; i < r->nprops; i++) {
		rc = tuple_add(&c->tuple, &values[r->props[i]]);
		if (rc)
			return rc;
	}
	rc = uniq_add(r->seen, c->tuple.buf, c->tuple.len, line, &first);
	if (rc < 0)
		return rc;
	r->count += rc ? 0 : 1;
	return 0;
}

int table_checks_row(struct table_checks *c, const struct csv_field *values, unsigned long line)
{
	struct rule *r;
	size_t i;
	int rc;

	if (c->stopped)
		return 1;
	for (i = 0; i < c->tb->ncolumns; i++) {
		rc = check_value(c, &c->cols[i], &values[i], line);
		if (rc)
			return rc;
	}
	if (c->nkey) {
		rc = check_key(c, values, line);
		if (rc)
			return rc;
	}
	for (r = c->rules + c->nrules - c->ntable_rules; r < c->rules + c->nrules; r++) {
		if (r->metric != METRIC_DUPLICATE)
			continue;
		rc = count_duplicate_row(c, r, values, line);
		if (rc)
			return rc;
	}
	c->rep.rows++;
	if (c->rep.errors >= CHECK_PROBLEMS_MAX) {
		c->stopped = 1;
		return 1;
	}
	return 0;
}

/* Prepares the adds of a row's values to the sets of one value, at place at of their rings. */
static void prepare_row(struct table_checks *c, const struct csv_field *values, size_t at)
{
	const struct csv_field *v;

	for (size_t i = 0; i < c->tb->ncolumns; i++) {
		v = &values[i];
		if (c->cols[i].seen && v->len)
			uniq_prepare(c->cols[i].seen, v->data, v->len, &c->cols[i].ahead[at]);
	}
	v = &values[c->nkey ? c->key[0] : 0];
	if (c->nkey == 1 && v->len)
		uniq_prepare(c->key_seen, v->data, v->len, &c->key_ahead[at]);
}

int table_checks_batch(struct table_checks *c, const struct csv_field *rows,
		       const unsigned long *lines, size_t n)
{
	size_t nc = c->tb->ncolumns, i;
	int rc = 0;

	for (i = 0; i < n && i < AHEAD; i++)
		prepare_row(c, rows + i * nc, i);
	for (i = 0; !rc && i < n; i++) {
		c->at = (int)(i % AHEAD);
		rc = table_checks_row(c, rows + i * nc, lines[i]);
		/* row i is done with its place: row i + AHEAD takes it */
		if (i + AHEAD < n)
			prepare_row(c, rows + (i + AHEAD) * nc, (i + AHEAD) % AHEAD);
	}
	c->at = -1;
	return rc;
}

/* ---- results ---- */

static const char *const op_names[] = {
    [QOP_NONE] = "",
    [QOP_MUST_BE] = "mustBe",
    [QOP_MUST_NOT_BE] = "mustNotBe",
    [QOP_GREATER] = "mustBeGreaterThan",
    [QOP_GREATER_OR_EQUAL] = "mustBeGreaterOrEqualTo",
    [QOP_LESS] = "mustBeLessThan",
    [QOP_LESS_OR_EQUAL] = "mustBeLessOrEqualTo",
    [QOP_BETWEEN] = "mustBeBetween",
    [QOP_NOT_BETWEEN] = "mustNotBeBetween",
};

static const char *const op_phrases[] = {
    [QOP_NONE] = "",
    [QOP_MUST_BE] = "be",
    [QOP_MUST_NOT_BE] = "not be",
    [QOP_GREATER] = "be greater than",
    [QOP_GREATER_OR_EQUAL] = "be at least",
    [QOP_LESS] = "be less than",
    [QOP_LESS_OR_EQUAL] = "be at most",
    [QOP_BETWEEN] = "be between",
    [QOP_NOT_BETWEEN] = "not be between",
};

static int rule_holds(const struct quality_rule *q, double v)
{
	switch (q->op) {
	case QOP_NONE:
		return 1;
	case QOP_MUST_BE:
		return v == q->a;
	case QOP_MUST_NOT_BE:
		return v != q->a;
	case QOP_GREATER:
		return v > q->a;
	case QOP_GREATER_OR_EQUAL:
		return v >= q->a;
	case QOP_LESS:
		return v < q->a;
	case QOP_LESS_OR_EQUAL:
		return v <= q->a;
	case QOP_BETWEEN:
		return v >= q->a && v <= q->b;
	case QOP_NOT_BETWEEN:
		return v < q->a || v > q->b;
	}
	assert(!"unknown operator");
	return 0;
}

/* "orders.amount nullValues" or "orders duplicateValues(order_id, line)". */
static int rule_label(struct strbuf *out, const struct table_checks *c, const struct rule *r)
{
	int rc = strbuf_addstr(out, c->tb->name);
	size_t i;

	if (!rc && r->def)
		rc = strbuf_addf(out, ".%s", r->def->name);
	if (!rc)
		rc = strbuf_addf(out, " %s",
				 r->q->metric ? r->q->metric
				 : r->q->type ? r->q->type
					      : "rule");
	if (!rc && r->metric == METRIC_DUPLICATE && !r->def && r->q->nproperties) {
		for (i = 0; !rc && i < r->q->nproperties; i++)
			rc = strbuf_addf(out, "%s%s", i ? ", " : "(", r->q->properties[i]);
		if (!rc)
			rc = strbuf_addch(out, ')');
	}
	return rc;
}

/* "0 (mustBe 0)", "2.5% (mustBeBetween [1%, 5%])". */
static int rule_result(struct strbuf *out, const struct quality_rule *q, uint64_t count, double v)
{
	const char *u = q->percent ? "%" : "";
	char a[32], b[32];
	int rc;

	if (q->percent)
		rc = strbuf_addf(out, "%.4g%%", v);
	else
		rc = strbuf_addf(out, "%llu", (unsigned long long)count);
	if (rc)
		return rc;
	number_text(a, sizeof(a), q->a);
	if (q->op == QOP_BETWEEN || q->op == QOP_NOT_BETWEEN)
		return strbuf_addf(out, " (%s [%s%s, %s%s])", op_names[q->op], a, u,
				   number_text(b, sizeof(b), q->b), u);
	return strbuf_addf(out, " (%s %s%s)", op_names[q->op], a, u);
}

static void rule_problem(struct table_checks *c, const struct rule *r, double v)
{
	const struct quality_rule *q = r->q;
	const char *u = q->percent ? "%" : "";
	char name[QUOTE_MAX + 16] = "", where[96], value[64], must[96];
	char rule[64], a[32], b[32];

	number_text(a, sizeof(a), q->a);
	number_text(b, sizeof(b), q->b);
	if (q->name) {
		name[0] = ' ';
		quote_text(name + 1, sizeof(name) - 1, q->name, strlen(q->name), QUOTE_MAX);
	}
	if (r->def)
		snprintf(where, sizeof(where), "column '%s'", r->def->name);
	else
		snprintf(where, sizeof(where), "table %s", c->tb->name);
	if (q->percent)
		snprintf(value, sizeof(value), "%.4g%% (%llu of %llu rows)", v,
			 (unsigned long long)r->count, (unsigned long long)c->rep.rows);
	else
		snprintf(value, sizeof(value), "%llu", (unsigned long long)r->count);
	if (q->op == QOP_BETWEEN || q->op == QOP_NOT_BETWEEN)
		snprintf(must, sizeof(must), "%s %s%s and %s%s", op_phrases[q->op], a, u, b, u);
	else
		snprintf(must, sizeof(must), "%s %s%s", op_phrases[q->op], a, u);
	snprintf(rule, sizeof(rule), "quality:%s", q->metric);
	problem_add(c, 0, q->warning, 0, 0, rule, "%squality rule%s on %s: %s is %s; it must %s",
		    q->warning ? "warning: " : "", name, where, q->metric, value, must);
}

/* Evaluates a rule, records a problem if it fails and adds its summary line. */
static int rule_finish(struct table_checks *c, struct rule *r, struct strbuf *sum)
{
	const struct quality_rule *q = r->q;
	double v;
	int rc = rule_label(sum, c, r);

	if (rc)
		return rc;
	if (r->metric == METRIC_NOT_RUN) {
		if (q->name) {
			char name[QUOTE_MAX + 16];

			quote_text(name, sizeof(name), q->name, strlen(q->name), QUOTE_MAX);
			rc = strbuf_addf(sum, " %s", name);
		}
		return rc ? rc : strbuf_addstr(sum, ": not run\n");
	}
	if (c->stopped)
		return strbuf_addf(sum, ": not run (the checks stopped after %zu errors)\n",
				   c->rep.errors);
	if (r->metric == METRIC_ROWS)
		r->count = c->rep.rows;
	v = (double)r->count;
	if (q->percent)
		v = c->rep.rows ? v / (double)c->rep.rows * 100.0 : 0.0;
	rc = strbuf_addstr(sum, " = ");
	if (!rc)
		rc = rule_result(sum, q, r->count, v);
	if (rc)
		return rc;
	if (rule_holds(q, v))
		return strbuf_addstr(sum, ": passed\n");
	rule_problem(c, r, v);
	return strbuf_addstr(sum, q->warning ? ": failed (warning)\n" : ": failed\n");
}

/* "orders: type, required, unique on 120 rows: passed". */
static int summary_values(struct table_checks *c, struct strbuf *sum)
{
	int req = 0, uniq = 0, min = 0, max = 0, minl = 0, maxl = 0, pat = 0, fmt = 0;
	size_t i, errors = c->rep.errors - c->rep.policy_errors;
	int rc;

	for (i = 0; i < c->tb->ncolumns; i++) {
		const struct contract_column *def = c->cols[i].def;

		req |= def->required;
		uniq |= c->cols[i].unique;
		min |= def->has_minimum;
		max |= def->has_maximum;
		minl |= def->min_length >= 0;
		maxl |= def->max_length >= 0;
		pat |= c->cols[i].re != NULL;
		fmt |= c->cols[i].format != FORMAT_NONE;
	}
	rc = strbuf_addf(
	    sum, "%s: type%s%s%s%s%s%s%s%s%s on %llu rows: ", c->tb->name, req ? ", required" : "",
	    uniq ? ", unique" : "", c->nkey ? ", primaryKey" : "", min ? ", minimum" : "",
	    max ? ", maximum" : "", minl ? ", minLength" : "", maxl ? ", maxLength" : "",
	    pat ? ", pattern" : "", fmt ? ", format" : "", (unsigned long long)c->rep.rows);
	if (rc)
		return rc;
	if (!errors)
		return strbuf_addstr(sum, "passed\n");
	if (c->stopped)
		return strbuf_addf(sum, "failed (%zu errors; the checks stopped there)\n", errors);
	return strbuf_addf(sum, "failed (%zu error%s)\n", errors, errors == 1 ? "" : "s");
}

/* "orders: undeclared PII (email, phone) in 5 columns: passed". */
static int summary_pii(struct table_checks *c, struct strbuf *sum)
{
	size_t i, scanned = 0, found = 0;
	int rc;

	for (i = 0; i < c->tb->ncolumns; i++)
		scanned += !c->cols[i].def->pii;
	if (!c->nenabled)
		return strbuf_addf(sum,
				   "%s: undeclared PII: not checked (the mesh policy enables "
				   "no detector)\n",
				   c->tb->name);
	if (!scanned)
		return strbuf_addf(sum, "%s: undeclared PII: every column is classified PII\n",
				   c->tb->name);
	rc = strbuf_addf(sum, "%s: undeclared PII (", c->tb->name);
	for (i = 0; !rc && i < c->nenabled; i++)
		rc = strbuf_addf(sum, "%s%s", i ? ", " : "", c->enabled[i]->name);
	if (!rc)
		rc = strbuf_addf(sum, ") in %zu column%s: ", scanned, scanned == 1 ? "" : "s");
	for (i = 0; !rc && i < c->tb->ncolumns; i++) {
		if (!c->cols[i].found)
			continue;
		rc =
		    strbuf_addf(sum, "%s%s (%s)", found++ ? ", " : "failed: ", c->cols[i].def->name,
				c->cols[i].found->name);
	}
	if (rc)
		return rc;
	return strbuf_addstr(sum, found ? "\n" : "passed\n");
}

/*
 * Ends set u: *total values were repeated apart, in runs it spilled. When they are errors
 * (unique), dups gets the first *n of them by line; problem_add would drop the others, the report
 * being full of errors after CHECK_PROBLEMS_MAX more, so they are only counted.
 */
static int finish_set(struct table_checks *c, struct uniq *u, int unique, struct uniq_dup *dups,
		      size_t *n, uint64_t *total)
{
	int rc = uniq_finish(u, dups, unique ? CHECK_PROBLEMS_MAX : 0, total);

	*n = 0;
	if (rc || !unique)
		return rc;
	*n = *total < CHECK_PROBLEMS_MAX ? (size_t)*total : CHECK_PROBLEMS_MAX;
	c->rep.errors += *total - *n;
	c->rep.dropped += *total - *n;
	return 0;
}

/* The duplicates the sets find at the end, as problems and in the duplicateValues counts. */
static int finish_sets(struct table_checks *c)
{
	struct uniq_dup dups[CHECK_PROBLEMS_MAX];
	struct column *k;
	struct rule *r;
	uint64_t total;
	size_t i, j, n;
	int rc;

	/* The rows not read have nothing to be compared with. */
	if (c->stopped)
		return 0;
	if (c->key_seen) {
		rc = finish_set(c, c->key_seen, 1, dups, &n, &total);
		if (rc)
			return rc;
		for (j = 0; j < n; j++)
			problem_add(
			    c, 0, 0, dups[j].line, c->key_col, "primaryKey",
			    "the primary key (%s) must be unique: the same key is on line %lu",
			    c->key_names.buf, dups[j].first);
	}
	for (i = 0; i < c->tb->ncolumns; i++) {
		k = &c->cols[i];
		if (!k->seen)
			continue;
		rc = finish_set(c, k->seen, k->unique, dups, &n, &total);
		if (rc)
			return rc;
		for (j = 0; j < n; j++)
			problem_add(c, 0, 0, dups[j].line, k->seen_col, "unique",
				    "column '%s' must be unique: the same value is on line %lu",
				    k->def->name, dups[j].first);
		for (r = k->rules; r < k->rules + k->nrules; r++)
			if (r->metric == METRIC_DUPLICATE)
				r->count += total;
	}
	for (r = c->rules + c->nrules - c->ntable_rules; r < c->rules + c->nrules; r++) {
		if (!r->seen)
			continue;
		rc = finish_set(c, r->seen, 0, dups, &n, &total);
		if (rc)
			return rc;
		r->count += total;
	}
	return 0;
}

int table_checks_finish(struct table_checks *c, struct check_report *out)
{
	struct check_report *r = &c->rep;
	struct check_problem p;
	size_t i, j;
	int rc;

	rc = finish_sets(c);
	if (!rc)
		rc = summary_values(c, &r->summary);
	if (!rc)
		rc = summary_pii(c, &r->summary);
	for (i = 0; !rc && i < c->nrules; i++)
		rc = rule_finish(c, &c->rules[i], &r->summary);
	/* Insertion sort, stable, of at most CHECK_PROBLEMS_MAX problems. */
	for (i = 1; i < r->nproblems; i++) {
		p = r->problems[i];
		for (j = i; j > 0 && problem_class(&r->problems[j - 1]) > problem_class(&p); j--)
			r->problems[j] = r->problems[j - 1];
		r->problems[j] = p;
	}
	if (!rc) {
		*out = *r;
		memset(r, 0, sizeof(*r));
		strbuf_init(&r->summary);
	}
	table_checks_abort(c);
	if (rc) {
		memset(out, 0, sizeof(*out));
		strbuf_init(&out->summary);
	}
	return rc;
}

/* ---- setup ---- */

static void value_set_free(struct value_set *set)
{
	if (!set)
		return;
	free(set->lens);
	free(set->clean);
	free(set->slots);
	free(set);
}

/* The set of q's list, each value's clean flag from the detectors enabled (c->enabled). */
static struct value_set *value_set_new(const struct table_checks *c, const struct quality_rule *q)
{
	struct value_set *set = calloc(1, sizeof(*set));
	size_t cap = 64, i, k, h;
	struct csv_field v = {0};

	if (!set || q->nvalid > UINT32_MAX / 8)
		goto fail;
	/* sparse, so that a lookup mostly finds its value, or nothing, in its first slot */
	while (cap < 8 * q->nvalid)
		cap *= 2;
	set->values = q->valid_values;
	set->mask = cap - 1;
	set->lens = calloc(q->nvalid, sizeof(*set->lens));
	set->clean = calloc(q->nvalid, 1);
	set->slots = calloc(cap, sizeof(*set->slots));
	if (!set->lens || !set->clean || !set->slots)
		goto fail;
	for (i = 0; i < q->nvalid; i++) {
		v.data = q->valid_values[i];
		v.len = set->lens[i] = strlen(v.data);
		set->clean[i] = 1;
		for (k = 0; k < c->nenabled; k++)
			if (c->enabled[k]->fn(v.data, v.len))
				set->clean[i] = 0;
		if (value_set_find(set, &v) >= 0)
			continue; /* listed twice */
		for (h = (size_t)value_hash(v.data, v.len) & set->mask; set->slots[h];
		     h = (h + 1) & set->mask)
			;
		set->slots[h] = (uint32_t)i + 1;
	}
	return set;
fail:
	value_set_free(set);
	return NULL;
}

static void rule_release(struct rule *r)
{
	value_set_free(r->list);
	pattern_free(r->re);
	uniq_free(r->seen);
	free(r->props);
}

void table_checks_abort(struct table_checks *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; c->cols && i < c->tb->ncolumns; i++) {
		pattern_free(c->cols[i].re);
		uniq_free(c->cols[i].seen);
	}
	for (i = 0; i < c->nrules; i++)
		rule_release(&c->rules[i]);
	free(c->cols);
	free(c->rules);
	free(c->key);
	uniq_free(c->key_seen);
	strbuf_release(&c->key_names);
	strbuf_release_secure(&c->tuple);
	check_report_release(&c->rep);
	if (c->c_locale)
		freelocale(c->c_locale);
	free(c);
}

void check_report_release(struct check_report *r)
{
	free(r->problems);
	strbuf_release(&r->summary);
	memset(r, 0, sizeof(*r));
	strbuf_init(&r->summary);
}

int check_report_errno(const struct check_report *r)
{
	if (r->policy_errors)
		return -EPERM;
	return r->errors ? -EINVAL : 0;
}

int check_report_error(const struct check_report *r, struct mfs_error *err)
{
	size_t i, shown = 0;

	for (i = 0; i < r->nproblems; i++) {
		if (r->problems[i].warning)
			continue;
		mfs_error_add(err, EINVAL, "%s", r->problems[i].message);
		shown++;
	}
	if (r->errors > shown)
		mfs_error_add(err, EINVAL, "… and %zu more problem%s", r->errors - shown,
			      r->errors - shown == 1 ? "" : "s");
	return check_report_errno(r);
}

/* The detectors the policy enables, in the order of the detector table. */
static int setup_detectors(struct table_checks *c, const struct check_policy *policy,
			   struct mfs_error *err)
{
	const char *const *names = policy ? policy->detectors : NULL;
	const struct detector *d;
	int want[DETECTOR_COUNT] = {0};
	size_t i;

	for (i = 0; i < DETECTOR_COUNT; i++)
		want[i] = !names;
	for (; names && *names; names++) {
		d = detector_find(*names);
		if (!d)
			return mfs_error_set(
			    err, EINVAL,
			    "unknown detector '%.64s' in the mesh policy (expected "
			    "email, phone, card, iban, national_id)",
			    *names);
		want[d - detector_table] = 1;
	}
	for (i = 0; i < DETECTOR_COUNT; i++)
		if (want[i])
			c->enabled[c->nenabled++] = &detector_table[i];
	return 0;
}

/* Column index of name, or tb->ncolumns. */
static size_t column_index(const struct contract_table *tb, const char *name)
{
	size_t i;

	for (i = 0; i < tb->ncolumns && strcmp(tb->columns[i].name, name); i++)
		;
	return i;
}

static int setup_rule(struct table_checks *c, struct rule *r, const struct quality_rule *q,
		      const struct contract_column *def, struct mfs_error *err)
{
	static const char *const metrics[] = {
	    [METRIC_NULL] = "nullValues",	[METRIC_MISSING] = "missingValues",
	    [METRIC_INVALID] = "invalidValues", [METRIC_DUPLICATE] = "duplicateValues",
	    [METRIC_ROWS] = "rowCount",
	};
	const struct contract_table *tb = c->tb;
	char where[96];
	size_t i;
	int rc;

	r->q = q;
	r->def = def;
	r->metric = METRIC_NOT_RUN;
	if ((q->type && strcmp(q->type, "library")) || !q->metric)
		return 0;
	for (i = 0; i < METRIC_NOT_RUN && strcmp(metrics[i], q->metric); i++)
		;
	r->metric = (enum metric)i;
	if (r->metric == METRIC_NOT_RUN)
		return 0;
	if (def && (r->metric == METRIC_INVALID || r->metric == METRIC_MISSING) && q->nvalid &&
	    !(r->list = value_set_new(c, q)))
		return -ENOMEM;
	if (r->metric == METRIC_INVALID && q->pattern) {
		snprintf(where, sizeof(where), "column '%s', quality rule invalidValues",
			 def ? def->name : "?");
		rc = checks_pattern(&r->re, q->pattern, tb->name, where, q->line, err);
		if (rc)
			return rc;
	}
	if (r->metric != METRIC_DUPLICATE || def)
		return 0;
	r->nprops = q->nproperties ? q->nproperties : tb->ncolumns;
	r->props = calloc(r->nprops, sizeof(*r->props));
	if (!r->props)
		return -ENOMEM;
	for (i = 0; i < r->nprops; i++) {
		r->props[i] = q->nproperties ? column_index(tb, q->properties[i]) : i;
		if (r->props[i] == tb->ncolumns)
			return mfs_error_set(err, EINVAL,
					     "table %s (contract line %lu): duplicateValues names "
					     "'%.64s', which is not a column",
					     tb->name, q->line, q->properties[i]);
	}
	return 0;
}

static int setup_column(struct table_checks *c, struct column *k, const struct contract_column *def,
			struct mfs_error *err)
{
	char where[96];
	size_t i;
	int rc;

	k->def = def;
	if (def->pattern) {
		snprintf(where, sizeof(where), "column '%s'", def->name);
		rc = checks_pattern(&k->re, def->pattern, c->tb->name, where, def->line, err);
		if (rc)
			return rc;
	}
	for (i = 1; def->format && i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (!strcasecmp(def->format, format_names[i]))
			k->format = (enum format)i;
	k->unique = def->unique && !(def->primary_key && c->nkey == 1);
	for (i = 0; i < k->nrules; i++) {
		rc = setup_rule(c, &k->rules[i], &def->quality[i], def, err);
		if (rc)
			return rc;
	}
	if (!def->pii) {
		memcpy(k->detect, c->enabled, c->nenabled * sizeof(c->enabled[0]));
		k->ndetect = c->nenabled;
	}
	k->detect_valid =
	    def->type == LT_STRING || def->type == LT_INTEGER || def->type == LT_NUMBER;
	return 0;
}

static int column_needs_set(const struct column *k)
{
	for (size_t i = 0; i < k->nrules; i++)
		if (k->rules[i].metric == METRIC_DUPLICATE)
			return 1;
	return k->unique;
}

/*
 * The uniqueness sets, sharing the policy's memory: the primary key's, those of the columns that
 * are unique or count duplicateValues, and those of the table-level duplicateValues rules. The
 * values of a column that is not PII may be kept as ascending integers; a tuple never is one.
 */
static int setup_sets(struct table_checks *c, const struct check_policy *policy)
{
	const char *dir = policy ? policy->spill_dir : NULL;
	size_t memory = policy && policy->uniq_memory ? policy->uniq_memory : CHECK_UNIQ_MEMORY;
	size_t i, n = c->nkey ? 1 : 0;
	struct rule *r, *table_rules = c->rules + c->nrules - c->ntable_rules;
	struct column *k;

	for (i = 0; i < c->tb->ncolumns; i++)
		n += (size_t)column_needs_set(&c->cols[i]);
	for (r = table_rules; r < c->rules + c->nrules; r++)
		n += r->metric == METRIC_DUPLICATE;
	if (!n)
		return 0;
	memory /= n;
	c->key_col = ULONG_MAX;
	if (c->nkey) {
		k = &c->cols[c->key[0]];
		c->key_seen =
		    uniq_new(memory, dir, c->nkey == 1 && !k->def->pii ? UNIQ_INTEGERS : 0);
		if (!c->key_seen)
			return -ENOMEM;
	}
	for (i = 0; i < c->tb->ncolumns; i++) {
		k = &c->cols[i];
		k->seen_col = ULONG_MAX;
		if (!column_needs_set(k))
			continue;
		k->seen = uniq_new(memory, dir, k->def->pii ? 0 : UNIQ_INTEGERS);
		if (!k->seen)
			return -ENOMEM;
	}
	for (r = table_rules; r < c->rules + c->nrules; r++)
		if (r->metric == METRIC_DUPLICATE && !(r->seen = uniq_new(memory, dir, 0)))
			return -ENOMEM;
	return 0;
}

int table_checks_new(struct table_checks **out, const struct contract_table *tb,
		     const struct check_policy *policy, const char *filename, struct mfs_error *err)
{
	struct table_checks *c;
	size_t i, nrules, nkey = 0;
	int rc = -ENOMEM;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->tb = tb;
	c->filename = filename ? filename : "-";
	c->at = -1;
	strbuf_init(&c->key_names);
	strbuf_init(&c->tuple);
	strbuf_init(&c->rep.summary);
	c->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	nrules = tb->nquality;
	for (i = 0; i < tb->ncolumns; i++) {
		nrules += tb->columns[i].nquality;
		nkey += tb->columns[i].primary_key ? 1 : 0;
	}
	c->cols = calloc(tb->ncolumns, sizeof(*c->cols));
	c->rules = calloc(nrules ? nrules : 1, sizeof(*c->rules));
	c->key = calloc(nkey ? nkey : 1, sizeof(*c->key));
	c->rep.problems = calloc(CHECK_PROBLEMS_MAX, sizeof(*c->rep.problems));
	if (!c->c_locale || !c->cols || !c->rules || !c->key || !c->rep.problems)
		goto out;
	rc = setup_detectors(c, policy, err);
	if (rc)
		goto out;
	for (i = 0; i < tb->ncolumns; i++) {
		if (!tb->columns[i].primary_key)
			continue;
		rc = strbuf_addf(&c->key_names, "%s%s", c->nkey ? ", " : "", tb->columns[i].name);
		if (rc)
			goto out;
		c->key[c->nkey++] = i;
	}
	for (i = 0; i < tb->ncolumns; i++) {
		c->cols[i].rules = c->rules + c->nrules;
		c->cols[i].nrules = tb->columns[i].nquality;
		/* Counted before setup so that a failure frees what setup made. */
		c->nrules += tb->columns[i].nquality;
		rc = setup_column(c, &c->cols[i], &tb->columns[i], err);
		if (rc)
			goto out;
	}
	for (i = 0; i < tb->nquality; i++) {
		c->nrules++;
		c->ntable_rules++;
		rc = setup_rule(c, &c->rules[c->nrules - 1], &tb->quality[i], NULL, err);
		if (rc)
			goto out;
	}
	rc = setup_sets(c, policy);
	if (rc)
		goto out;
	*out = c;
	return 0;
out:
	table_checks_abort(c);
	return rc;
}
