#include "contract/contract.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/lookup.h"
#include "contract/yamltree.h"
#include "contract/logical_type.h"
#include "contract/pattern.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define NAME_RULE  "1 to 63 characters of a-z, 0-9, _ and -, starting with a letter or digit"
#define TYPE_NAMES "string, integer, number, boolean, date, timestamp"

/*
 * Names met so far in one list (open addressing), so that duplicates are found in linear time
 * however long a hostile contract makes the list.
 */
struct name_slot {
	const char *name;
	size_t idx; /* position in its list */
};

struct name_set {
	struct name_slot *slots;
	size_t mask;
};

struct parser {
	struct ytree t;
	const char *const *pii_classes;
	locale_t c_locale; /* numbers in YAML are written the C way, whatever the process locale */
	const struct name_set *columns; /* of the table being read, for its rules to name */
};

static const char *const default_pii_classes[] = {"pii", NULL};

static const struct {
	const char *name;
	enum quality_op op;
} quality_ops[] = {
    {"mustBe", QOP_MUST_BE},
    {"mustNotBe", QOP_MUST_NOT_BE},
    {"mustBeGreaterThan", QOP_GREATER},
    {"mustBeGreaterOrEqualTo", QOP_GREATER_OR_EQUAL},
    {"mustBeLessThan", QOP_LESS},
    {"mustBeLessOrEqualTo", QOP_LESS_OR_EQUAL},
    {"mustBeBetween", QOP_BETWEEN},
    {"mustNotBeBetween", QOP_NOT_BETWEEN},
};

static const struct {
	const char *name;
	int64_t seconds;
} time_units[] = {
    {"m", 60},		{"min", 60},	     {"mins", 60},    {"minute", 60},	{"minutes", 60},
    {"h", 3600},	{"hr", 3600},	     {"hrs", 3600},   {"hour", 3600},	{"hours", 3600},
    {"d", 86400},	{"day", 86400},	     {"days", 86400}, {"w", 604800},	{"wk", 604800},
    {"week", 604800},	{"weeks", 604800},   {"y", 31536000}, {"yr", 31536000}, {"yrs", 31536000},
    {"year", 31536000}, {"years", 31536000},
};

const struct contract_table *contract_table(const struct contract *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->ntables; i++)
		if (!strcmp(c->tables[i].name, name))
			return &c->tables[i];
	return NULL;
}

static void free_strings(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void rule_release(struct quality_rule *r)
{
	free(r->name);
	free(r->description);
	free(r->type);
	free(r->metric);
	free(r->query);
	free_strings(r->valid_values, r->nvalid);
	free(r->pattern);
	free_strings(r->properties, r->nproperties);
}

static void rules_release(struct quality_rule *rules, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		rule_release(&rules[i]);
	free(rules);
}

static void table_release(struct contract_table *t)
{
	struct contract_column *col;
	size_t i;

	for (i = 0; i < t->ncolumns; i++) {
		col = &t->columns[i];
		free(col->name);
		free(col->description);
		free(col->classification);
		free(col->pattern);
		free(col->format);
		rules_release(col->quality, col->nquality);
	}
	free(t->columns);
	rules_release(t->quality, t->nquality);
	free(t->name);
	free(t->description);
}

void contract_release(struct contract *c)
{
	size_t i;

	free(c->api_version);
	free(c->id);
	free(c->name);
	free(c->domain);
	free(c->data_product);
	free(c->version);
	free(c->status);
	free(c->purpose);
	free_strings(c->tags, c->ntags);
	for (i = 0; i < c->nteam; i++) {
		free(c->team[i].username);
		free(c->team[i].role);
	}
	free(c->team);
	for (i = 0; i < c->ntables; i++)
		table_release(&c->tables[i]);
	free(c->tables);
	free(c->retention);
	free_strings(c->inputs, c->ninputs);
	memset(c, 0, sizeof(*c));
}

/* The value at key, which must be there. */
static int get_required(struct parser *p, const struct ytree_node *map, const char *key,
			const struct ytree_node **out)
{
	int rc = ytree_map_get(&p->t, map, key, out);

	if (!rc && !*out)
		rc = ytree_fail(&p->t, map, "missing %s", key);
	return rc;
}

/*
 * The string at key, into *out (left NULL when absent, unless required); *at, when at is not
 * NULL, is where it was written.
 */
static int get_string(struct parser *p, const struct ytree_node *map, const char *key, int required,
		      char **out, const struct ytree_node **at)
{
	const struct ytree_node *v;
	int rc = required ? get_required(p, map, key, &v) : ytree_map_get(&p->t, map, key, &v);

	if (rc || !v)
		return rc;
	if (at)
		*at = v;
	return ytree_string(&p->t, v, key, out);
}

/* A regular expression at key. Only its length is checked here: a contract already in the
 * catalog must always parse, and the checks compile it (and say what is wrong) at a publish. */
static int get_pattern(struct parser *p, const struct ytree_node *map, char **out)
{
	const struct ytree_node *v = NULL;
	int rc = get_string(p, map, "pattern", 0, out, &v);

	if (rc || !*out || strlen(*out) <= PATTERN_MAX_LEN)
		return rc;
	return ytree_fail(&p->t, v, "pattern is longer than %d bytes", PATTERN_MAX_LEN);
}

/* A meshfs name at key; what names the kind of name in messages. */
static int get_name(struct parser *p, const struct ytree_node *map, const char *key,
		    const char *what, char **out)
{
	const struct ytree_node *v;
	int rc = get_required(p, map, key, &v);

	if (rc)
		return rc;
	rc = ytree_string(&p->t, v, key, out);
	if (rc)
		return rc;
	if (!mesh_name_valid(*out))
		return ytree_fail(&p->t, v, "invalid %s name \"%.64s\" (" NAME_RULE ")", what,
				  *out);
	return 0;
}

static int default_string(struct parser *p, char **s, const char *value)
{
	if (*s)
		return 0;
	*s = strdup(value);
	return *s ? 0 : ytree_nomem(&p->t);
}

static int get_bool(struct parser *p, const struct ytree_node *map, const char *key, int *out)
{
	const struct ytree_node *v;
	int rc = ytree_map_get(&p->t, map, key, &v);

	if (rc || !v)
		return rc;
	if (v->kind == YTREE_SCALAR) {
		if (!strcasecmp(v->text, "true") || !strcasecmp(v->text, "yes")) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(v->text, "false") || !strcasecmp(v->text, "no")) {
			*out = 0;
			return 0;
		}
		return ytree_fail(&p->t, v, "%s must be true or false, not \"%.64s\"", key,
				  v->text);
	}
	return ytree_fail(&p->t, v, "%s must be true or false", key);
}

static int node_number(struct parser *p, const struct ytree_node *n, const char *what, double *out)
{
	if (n->kind != YTREE_SCALAR)
		return ytree_fail(&p->t, n, "%s must be a number", what);
	if (!n->text[0] || logical_type_check(LT_NUMBER, n->text, strlen(n->text)))
		return ytree_fail(&p->t, n, "%s must be a number, not \"%.64s\"", what, n->text);
	if (!p->c_locale) {
		p->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
		if (!p->c_locale)
			return ytree_nomem(&p->t);
	}
	*out = strtod_l(n->text, NULL, p->c_locale);
	return 0;
}

static int get_length(struct parser *p, const struct ytree_node *map, const char *key, long *out)
{
	const struct ytree_node *v;
	int rc = ytree_map_get(&p->t, map, key, &v);

	if (rc || !v)
		return rc;
	if (v->kind != YTREE_SCALAR || !v->text[0] || v->text[0] == '-' ||
	    logical_type_check(LT_INTEGER, v->text, strlen(v->text)))
		return ytree_fail(&p->t, v, "%s must be a whole number, 0 or more", key);
	*out = strtol(v->text, NULL, 10);
	return 0;
}

static int name_set_init(struct parser *p, struct name_set *set, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	set->mask = cap - 1;
	set->slots = calloc(cap, sizeof(*set->slots));
	return set->slots ? 0 : ytree_nomem(&p->t);
}

static void name_set_release(struct name_set *set)
{
	free(set->slots);
	set->slots = NULL;
}

static struct name_slot *name_set_slot(const struct name_set *set, const char *name)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */
	const unsigned char *s;
	size_t i;

	for (s = (const unsigned char *)name; *s; s++)
		h = (h ^ *s) * 1099511628211ULL;
	for (i = (size_t)h & set->mask; set->slots[i].name; i = (i + 1) & set->mask)
		if (!strcmp(set->slots[i].name, name))
			break;
	return &set->slots[i];
}

static int name_set_has(const struct name_set *set, const char *name)
{
	return name_set_slot(set, name)->name != NULL;
}

/*
 * Adds name, the idx-th of its list (set sized for the list, so there is room). Returns the
 * position of an equal name added before, or -1.
 */
static long name_set_add(struct name_set *set, const char *name, size_t idx)
{
	struct name_slot *slot = name_set_slot(set, name);

	if (slot->name)
		return (long)slot->idx;
	slot->name = name;
	slot->idx = idx;
	return -1;
}

/* ---- the contract ---- */

static int api_version_valid(const char *v)
{
	size_t n;

	if (!strcmp(v, "v3.1.0"))
		return 1;
	if (strncmp(v, "v3.0.", 5))
		return 0;
	n = strspn(v + 5, "0123456789");
	return n > 0 && !v[5 + n];
}

/* Dot-separated [0-9A-Za-z-]+ identifiers of a prerelease or build; advances *s past them. */
static int semver_identifiers(const char **s)
{
	size_t n;

	for (;;) {
		n = strspn(*s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-");
		if (!n)
			return 0;
		*s += n;
		if (**s != '.')
			return 1;
		(*s)++;
	}
}

/* MAJOR.MINOR.PATCH[-prerelease][+build] (semver.org), without leading zeros. */
static int semver_parse(const char *s, int *major, int *minor, int *patch)
{
	int *parts[3] = {major, minor, patch};
	int i, v;

	for (i = 0; i < 3; i++) {
		if (i && *s++ != '.')
			return 0;
		if (*s < '0' || *s > '9' || (*s == '0' && s[1] >= '0' && s[1] <= '9'))
			return 0;
		for (v = 0; *s >= '0' && *s <= '9'; s++) {
			if (v > (INT_MAX - (*s - '0')) / 10)
				return 0;
			v = v * 10 + (*s - '0');
		}
		*parts[i] = v;
	}
	if (*s == '-') {
		s++;
		if (!semver_identifiers(&s))
			return 0;
	}
	if (*s == '+') {
		s++;
		if (!semver_identifiers(&s))
			return 0;
	}
	return !*s;
}

static int is_pii_class(struct parser *p, const char *classification)
{
	const char *const *k;

	/* Case-blind: "PII" must not slip through as a different class. */
	for (k = p->pii_classes; *k; k++)
		if (!strcasecmp(*k, classification))
			return 1;
	return 0;
}

static int walk_quality(struct parser *p, const struct ytree_node *list,
			const struct contract_table *table, struct quality_rule **out, size_t *n);

/* Calls fn on each item of an ODCS customProperties list whose property is name, stopping at the
 * first failure; the other properties are for other readers and are skipped. */
static int walk_custom(struct parser *p, const struct ytree_node *list, const char *name,
		       int (*fn)(struct parser *p, const struct ytree_node *item, void *arg),
		       void *arg)
{
	const struct ytree_node *item, *prop;
	int rc = ytree_want_kind(&p->t, list, YTREE_SEQUENCE, "customProperties");

	for (item = rc ? NULL : ytree_child(&p->t, list); item && !rc;
	     item = ytree_next(&p->t, item)) {
		rc = ytree_want_kind(&p->t, item, YTREE_MAPPING, "a custom property");
		if (!rc)
			rc = get_required(p, item, "property", &prop);
		if (!rc && prop->kind == YTREE_SCALAR && !strcmp(prop->text, name))
			rc = fn(p, item, arg);
	}
	return rc;
}

/* A column's mask property; the last one given counts. */
static int custom_mask(struct parser *p, const struct ytree_node *item, void *arg)
{
	struct contract_column *col = arg;
	const struct ytree_node *v;
	int rc = ytree_map_get_raw(&p->t, item, "value", &v);

	if (rc)
		return rc;
	if (!v)
		return ytree_fail(&p->t, item, "missing value");
	/* `value: null` is the null mask, however YAML spells its null. */
	if (ytree_node_is_null(v))
		col->mask = MASK_NULL;
	else if (v->kind != YTREE_SCALAR || mask_kind_parse(v->text, &col->mask))
		return ytree_fail(&p->t, v,
				  "unknown mask \"%.64s\" (expected token, redact, last4, null)",
				  v->kind == YTREE_SCALAR ? v->text : "");
	return 0;
}

static int walk_options(struct parser *p, const struct ytree_node *opts,
			struct contract_column *col)
{
	const struct ytree_node *v;
	int rc = ytree_want_kind(&p->t, opts, YTREE_MAPPING, "logicalTypeOptions");

	/* minimum and maximum of other types (dates, say) are not numbers; they are left alone. */
	if (!rc && (col->type == LT_INTEGER || col->type == LT_NUMBER)) {
		rc = ytree_map_get(&p->t, opts, "minimum", &v);
		if (!rc && v) {
			col->has_minimum = 1;
			rc = node_number(p, v, "minimum", &col->minimum);
		}
		if (!rc)
			rc = ytree_map_get(&p->t, opts, "maximum", &v);
		if (!rc && v) {
			col->has_maximum = 1;
			rc = node_number(p, v, "maximum", &col->maximum);
		}
	}
	if (!rc)
		rc = get_length(p, opts, "minLength", &col->min_length);
	if (!rc)
		rc = get_length(p, opts, "maxLength", &col->max_length);
	if (!rc)
		rc = get_pattern(p, opts, &col->pattern);
	if (!rc)
		rc = get_string(p, opts, "format", 0, &col->format, NULL);
	if (rc)
		return rc;
	if (col->has_minimum && col->has_maximum && col->minimum > col->maximum)
		return ytree_fail(&p->t, opts, "minimum %g is greater than maximum %g",
				  col->minimum, col->maximum);
	if (col->min_length >= 0 && col->max_length >= 0 && col->min_length > col->max_length)
		return ytree_fail(&p->t, opts, "minLength %ld is greater than maxLength %ld",
				  col->min_length, col->max_length);
	return 0;
}

static int walk_column(struct parser *p, const struct ytree_node *prop, struct contract_column *col)
{
	const struct ytree_node *v;
	int rc = ytree_want_kind(&p->t, prop, YTREE_MAPPING, "a property");

	col->line = prop->line;
	col->col = prop->col;
	col->type = LT_STRING;
	col->mask = MASK_TOKEN;
	col->min_length = col->max_length = -1;
	if (!rc)
		rc = get_name(p, prop, "name", "column", &col->name);
	if (!rc)
		rc = get_string(p, prop, "description", 0, &col->description, NULL);
	if (!rc)
		rc = default_string(p, &col->description, "");
	if (!rc)
		rc = ytree_map_get(&p->t, prop, "logicalType", &v);
	if (rc)
		return rc;
	if (v) {
		if (v->kind != YTREE_SCALAR)
			return ytree_fail(&p->t, v, "logicalType must be one of " TYPE_NAMES);
		if (logical_type_parse(v->text, &col->type))
			return ytree_fail(&p->t, v,
					  "unknown logicalType \"%.64s\" (expected " TYPE_NAMES ")",
					  v->text);
	}
	rc = get_bool(p, prop, "required", &col->required);
	if (!rc)
		rc = get_bool(p, prop, "unique", &col->unique);
	if (!rc)
		rc = get_bool(p, prop, "primaryKey", &col->primary_key);
	if (!rc)
		rc = get_string(p, prop, "classification", 0, &col->classification, NULL);
	if (rc)
		return rc;
	/* A key cannot be missing; ODCS leaves that implied, meshfs makes it explicit. */
	if (col->primary_key)
		col->required = 1;
	col->pii = col->classification && is_pii_class(p, col->classification);

	rc = ytree_map_get(&p->t, prop, "logicalTypeOptions", &v);
	if (!rc && v)
		rc = walk_options(p, v, col);
	if (!rc)
		rc = ytree_map_get(&p->t, prop, "customProperties", &v);
	if (!rc && v)
		rc = walk_custom(p, v, "mask", custom_mask, col);
	if (!rc)
		rc = ytree_map_get(&p->t, prop, "quality", &v);
	if (!rc && v)
		rc = walk_quality(p, v, NULL, &col->quality, &col->nquality);
	return rc;
}

static int walk_table(struct parser *p, const struct ytree_node *obj, struct contract_table *t)
{
	const struct ytree_node *props, *prop;
	struct contract_column *col;
	struct name_set names = {0};
	long first;
	int rc;

	t->line = obj->line;
	t->col = obj->col;
	rc = get_name(p, obj, "name", "table", &t->name);
	if (!rc)
		rc = get_string(p, obj, "description", 0, &t->description, NULL);
	if (!rc)
		rc = default_string(p, &t->description, "");
	if (!rc)
		rc = ytree_map_get(&p->t, obj, "properties", &props);
	if (rc)
		return rc;
	if (!props)
		return ytree_fail(&p->t, obj, "table \"%s\" has no properties (columns)", t->name);
	rc = ytree_want_kind(&p->t, props, YTREE_SEQUENCE, "properties");
	if (rc)
		return rc;
	if (!props->count)
		return ytree_fail(&p->t, props, "table \"%s\" has no properties (columns)",
				  t->name);
	t->columns = calloc(props->count, sizeof(*t->columns));
	if (!t->columns)
		return ytree_nomem(&p->t);
	rc = name_set_init(p, &names, props->count);
	for (prop = rc ? NULL : ytree_child(&p->t, props); prop; prop = ytree_next(&p->t, prop)) {
		col = &t->columns[t->ncolumns++];
		rc = walk_column(p, prop, col);
		if (rc)
			goto out;
		first = name_set_add(&names, col->name, t->ncolumns - 1);
		if (first >= 0) {
			rc = ytree_fail(&p->t, prop, "duplicate column \"%s\" (first at %lu:%lu)",
					col->name, t->columns[first].line, t->columns[first].col);
			goto out;
		}
	}
	if (!rc)
		rc = ytree_map_get(&p->t, obj, "quality", &props);
	if (!rc && props) {
		p->columns = &names;
		rc = walk_quality(p, props, t, &t->quality, &t->nquality);
		p->columns = NULL;
	}
out:
	name_set_release(&names);
	return rc;
}

/* Objects with physicalType table are tables; so are objects without one (ODCS's default). */
static int is_table(struct parser *p, const struct ytree_node *obj, int *yes)
{
	const struct ytree_node *v;
	int rc = ytree_map_get(&p->t, obj, "physicalType", &v);

	if (rc)
		return rc;
	if (v) {
		*yes = v->kind == YTREE_SCALAR && !strcasecmp(v->text, "table");
		return 0;
	}
	rc = ytree_map_get(&p->t, obj, "logicalType", &v);
	if (rc)
		return rc;
	*yes = !v || (v->kind == YTREE_SCALAR && !strcmp(v->text, "object"));
	return 0;
}

static int walk_schema(struct parser *p, const struct ytree_node *schema, struct contract *c)
{
	const struct ytree_node *obj;
	struct contract_table *t;
	struct name_set names = {0};
	long first;
	int rc = ytree_want_kind(&p->t, schema, YTREE_SEQUENCE, "schema"), yes;

	if (rc || !schema->count)
		return rc;
	c->tables = calloc(schema->count, sizeof(*c->tables));
	if (!c->tables)
		return ytree_nomem(&p->t);
	rc = name_set_init(p, &names, schema->count);
	for (obj = rc ? NULL : ytree_child(&p->t, schema); obj; obj = ytree_next(&p->t, obj)) {
		rc = ytree_want_kind(&p->t, obj, YTREE_MAPPING, "a schema object");
		if (!rc)
			rc = is_table(p, obj, &yes);
		if (rc)
			goto out;
		if (!yes)
			continue;
		t = &c->tables[c->ntables++];
		rc = walk_table(p, obj, t);
		if (rc)
			goto out;
		first = name_set_add(&names, t->name, c->ntables - 1);
		if (first >= 0) {
			rc = ytree_fail(&p->t, obj, "duplicate table \"%s\" (first at %lu:%lu)",
					t->name, c->tables[first].line, c->tables[first].col);
			goto out;
		}
	}
out:
	name_set_release(&names);
	return rc;
}

/* ---- quality rules ---- */

static int rule_operator(struct parser *p, const struct ytree_node *item, struct quality_rule *r)
{
	const struct ytree_node *k, *v, *a, *b;
	int i, rc;

	for (k = ytree_child(&p->t, item); k; k = ytree_next(&p->t, v)) {
		v = ytree_next(&p->t, k);
		if (k->kind != YTREE_SCALAR || strncmp(k->text, "must", 4))
			continue;
		i = mfs_name_index(&quality_ops[0].name, ARRAY_SIZE(quality_ops),
				   sizeof(quality_ops[0]), k->text, 0);
		if (i < 0)
			return ytree_fail(
			    &p->t, k,
			    "unknown operator \"%.64s\" (expected mustBe, mustNotBe, "
			    "mustBeGreaterThan, mustBeGreaterOrEqualTo, mustBeLessThan, "
			    "mustBeLessOrEqualTo, mustBeBetween, mustNotBeBetween)",
			    k->text);
		if (r->op != QOP_NONE)
			return ytree_fail(&p->t, k,
					  "more than one operator in a rule (for a range, use "
					  "mustBeBetween: [a, b])");
		r->op = quality_ops[i].op;
		if (r->op != QOP_BETWEEN && r->op != QOP_NOT_BETWEEN) {
			rc = node_number(p, v, k->text, &r->a);
			if (rc)
				return rc;
			continue;
		}
		if (v->kind != YTREE_SEQUENCE || v->count != 2)
			return ytree_fail(&p->t, v, "%s takes a list of two numbers, [low, high]",
					  k->text);
		a = ytree_child(&p->t, v);
		b = ytree_next(&p->t, a);
		rc = node_number(p, a, k->text, &r->a);
		if (!rc)
			rc = node_number(p, b, k->text, &r->b);
		if (rc)
			return rc;
		if (r->a > r->b)
			return ytree_fail(&p->t, v, "%s: low %g is greater than high %g", k->text,
					  r->a, r->b);
	}
	return 0;
}

/* arguments.properties of a table-level duplicateValues: columns of that table. */
static int rule_properties(struct parser *p, const struct ytree_node *list,
			   const struct contract_table *table, struct quality_rule *r)
{
	const struct ytree_node *item;
	size_t i = 0;
	int rc =
	    ytree_strings(&p->t, list, "arguments.properties", &r->properties, &r->nproperties);

	if (rc)
		return rc;
	for (item = ytree_child(&p->t, list); item; item = ytree_next(&p->t, item), i++)
		if (!name_set_has(p->columns, r->properties[i]))
			return ytree_fail(&p->t, item, "unknown property \"%.64s\" in table \"%s\"",
					  r->properties[i], table->name);
	return 0;
}

static int rule_arguments(struct parser *p, const struct ytree_node *item,
			  const struct contract_table *table, struct quality_rule *r)
{
	const struct ytree_node *args, *v = NULL;
	int rc = ytree_map_get(&p->t, item, "arguments", &args);

	if (!rc && args)
		rc = ytree_want_kind(&p->t, args, YTREE_MAPPING, "arguments");
	if (rc)
		return rc;
	if (!strcmp(r->metric, "missingValues")) {
		if (args)
			rc = ytree_map_get(&p->t, args, "missingValues", &v);
		if (!rc && v)
			rc = ytree_strings(&p->t, v, "arguments.missingValues", &r->valid_values,
					   &r->nvalid);
	} else if (!strcmp(r->metric, "invalidValues")) {
		if (args)
			rc = ytree_map_get(&p->t, args, "validValues", &v);
		if (!rc && v)
			rc = ytree_strings(&p->t, v, "arguments.validValues", &r->valid_values,
					   &r->nvalid);
		if (!rc && args)
			rc = get_pattern(p, args, &r->pattern);
		if (!rc && !v && !r->pattern)
			rc = ytree_fail(
			    &p->t, item,
			    "invalidValues needs arguments.validValues or arguments.pattern");
	} else if (!strcmp(r->metric, "duplicateValues") && table) {
		if (args)
			rc = ytree_map_get(&p->t, args, "properties", &v);
		if (!rc && v)
			rc = rule_properties(p, v, table, r);
	}
	return rc;
}

static const char *const quality_types[] = {"library", "sql", "text", "custom"};
static const char *const metric_names[] = {"nullValues", "missingValues", "invalidValues",
					   "duplicateValues", "rowCount"};

static int rule_metric(struct parser *p, const struct ytree_node *item,
		       const struct contract_table *table, struct quality_rule *r,
		       const struct ytree_node *unit)
{
	const struct ytree_node *v;
	int i, rc = ytree_map_get(&p->t, item, "metric", &v);

	if (rc)
		return rc;
	if (!v)
		return ytree_fail(&p->t, item, "missing metric");
	i = v->kind == YTREE_SCALAR ? mfs_name_index(metric_names, ARRAY_SIZE(metric_names),
						     sizeof(*metric_names), v->text, 0)
				    : -1;
	if (i < 0)
		return ytree_fail(&p->t, v,
				  "unknown metric \"%.64s\" (expected nullValues, missingValues, "
				  "invalidValues, duplicateValues, rowCount)",
				  v->kind == YTREE_SCALAR ? v->text : "");
	r->metric = strdup(metric_names[i]);
	if (!r->metric)
		return ytree_nomem(&p->t);
	if (table && strcmp(r->metric, "rowCount") && strcmp(r->metric, "duplicateValues"))
		return ytree_fail(&p->t, v, "metric %s applies to a column, not a table",
				  r->metric);
	if (!table && !strcmp(r->metric, "rowCount"))
		return ytree_fail(&p->t, v, "metric rowCount applies to a table, not a column");
	if (!strcmp(r->metric, "rowCount") && r->percent)
		return ytree_fail(&p->t, unit, "unit percent does not apply to rowCount");
	return rule_arguments(p, item, table, r);
}

static int walk_rule(struct parser *p, const struct ytree_node *item,
		     const struct contract_table *table, struct quality_rule *r)
{
	const struct ytree_node *type, *severity, *unit;
	int i, rc;

	r->line = item->line;
	r->col = item->col;
	rc = get_string(p, item, "name", 0, &r->name, NULL);
	if (!rc)
		rc = get_string(p, item, "description", 0, &r->description, NULL);
	if (!rc)
		rc = ytree_map_get(&p->t, item, "type", &type);
	if (rc)
		return rc;
	i = 0; /* library, the default */
	if (type && type->kind == YTREE_SCALAR)
		i = mfs_name_index(quality_types, ARRAY_SIZE(quality_types), sizeof(*quality_types),
				   type->text, 1);
	else if (type)
		i = -1;
	if (i < 0)
		return ytree_fail(
		    &p->t, type,
		    "unknown quality type \"%.64s\" (expected library, sql, text, custom)",
		    type->kind == YTREE_SCALAR ? type->text : "");
	r->type = strdup(quality_types[i]);
	if (!r->type)
		return ytree_nomem(&p->t);
	/* text and custom rules are for people and other tools: kept, not checked. */
	if (!strcmp(r->type, "text") || !strcmp(r->type, "custom"))
		return 0;

	rc = ytree_map_get(&p->t, item, "severity", &severity);
	if (!rc && severity) {
		if (severity->kind == YTREE_SCALAR && !strcasecmp(severity->text, "error"))
			r->warning = 0;
		else if (severity->kind == YTREE_SCALAR &&
			 (!strcasecmp(severity->text, "warning") ||
			  !strcasecmp(severity->text, "info")))
			r->warning = 1;
		else
			rc =
			    ytree_fail(&p->t, severity,
				       "unknown severity \"%.64s\" (expected error, warning, info)",
				       severity->kind == YTREE_SCALAR ? severity->text : "");
	}
	if (!rc)
		rc = ytree_map_get(&p->t, item, "unit", &unit);
	if (!rc && unit) {
		if (unit->kind == YTREE_SCALAR && !strcasecmp(unit->text, "percent"))
			r->percent = 1;
		else if (unit->kind != YTREE_SCALAR || strcasecmp(unit->text, "rows"))
			rc = ytree_fail(&p->t, unit,
					"unknown unit \"%.64s\" (expected rows, percent)",
					unit->kind == YTREE_SCALAR ? unit->text : "");
	}
	if (!rc)
		rc = rule_operator(p, item, r);
	if (rc)
		return rc;
	if (r->op == QOP_NONE)
		return ytree_fail(&p->t, item,
				  "quality rule without an operator (mustBe, mustBeLessThan, "
				  "mustBeBetween, …)");
	if (!strcmp(r->type, "sql"))
		return get_string(p, item, "query", 1, &r->query, NULL);
	return rule_metric(p, item, table, r, unit);
}

static int walk_quality(struct parser *p, const struct ytree_node *list,
			const struct contract_table *table, struct quality_rule **out, size_t *n)
{
	const struct ytree_node *item, *metric, *rule, *type;
	int rc = ytree_want_kind(&p->t, list, YTREE_SEQUENCE, "quality");

	if (rc || !list->count)
		return rc;
	*out = calloc(list->count, sizeof(**out));
	if (!*out)
		return ytree_nomem(&p->t);
	for (item = ytree_child(&p->t, list); item; item = ytree_next(&p->t, item)) {
		rc = ytree_want_kind(&p->t, item, YTREE_MAPPING, "a quality rule");
		if (!rc)
			rc = ytree_map_get(&p->t, item, "metric", &metric);
		if (!rc)
			rc = ytree_map_get(&p->t, item, "rule", &rule);
		if (!rc)
			rc = ytree_map_get(&p->t, item, "type", &type);
		if (rc)
			return rc;
		/* ODCS v3.0 `rule:` library checks predate the metric library meshfs runs. */
		if (rule && !metric &&
		    (!type || (type->kind == YTREE_SCALAR && !strcasecmp(type->text, "library"))))
			continue;
		rc = walk_rule(p, item, table, &(*out)[(*n)++]);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- team, SLA, lineage ---- */

static int walk_team(struct parser *p, const struct ytree_node *team, struct contract *c)
{
	const struct ytree_node *members = team, *m;
	int rc;

	/* ODCS v3.0 lists members directly; v3.1 wraps them in an object with members:. */
	if (team->kind == YTREE_MAPPING) {
		rc = ytree_map_get(&p->t, team, "members", &members);
		if (rc || !members)
			return rc;
	}
	if (members->kind != YTREE_SEQUENCE)
		return ytree_fail(&p->t, members,
				  "team must be a list of members, or a mapping with members");
	if (!members->count)
		return 0;
	c->team = calloc(members->count, sizeof(*c->team));
	if (!c->team)
		return ytree_nomem(&p->t);
	for (m = ytree_child(&p->t, members); m; m = ytree_next(&p->t, m)) {
		rc = ytree_want_kind(&p->t, m, YTREE_MAPPING, "a team member");
		if (rc)
			return rc;
		c->nteam++;
		rc = get_string(p, m, "username", 1, &c->team[c->nteam - 1].username, NULL);
		if (!rc)
			rc = get_string(p, m, "role", 0, &c->team[c->nteam - 1].role, NULL);
		if (rc)
			return rc;
	}
	return 0;
}

static int walk_frequency(struct parser *p, const struct ytree_node *item, struct contract *c)
{
	const struct ytree_node *v, *unit;
	double value, seconds;
	int i, rc;

	if (c->frequency_seconds)
		return ytree_fail(&p->t, item, "more than one frequency");
	rc = get_required(p, item, "value", &v);
	if (!rc)
		rc = node_number(p, v, "frequency", &value);
	if (!rc)
		rc = ytree_map_get(&p->t, item, "unit", &unit);
	if (rc)
		return rc;
	if (!unit)
		return ytree_fail(&p->t, item, "frequency needs a unit (m, h, d, w, y)");
	i = unit->kind == YTREE_SCALAR ? mfs_name_index(&time_units[0].name, ARRAY_SIZE(time_units),
							sizeof(time_units[0]), unit->text, 1)
				       : -1;
	if (i < 0)
		return ytree_fail(&p->t, unit,
				  "unknown unit \"%.64s\" for frequency (expected m, h, d, w, y)",
				  unit->kind == YTREE_SCALAR ? unit->text : "");
	seconds = value * (double)time_units[i].seconds + 0.5;
	if (!(seconds >= 1 && seconds < 9.2e18))
		return ytree_fail(&p->t, v,
				  "frequency must be at least a second and at most centuries");
	c->frequency_seconds = (int64_t)seconds;
	return 0;
}

static int walk_retention(struct parser *p, const struct ytree_node *item, struct contract *c)
{
	const struct ytree_node *v, *unit;
	int rc, n;

	if (c->retention)
		return ytree_fail(&p->t, item, "more than one retention");
	rc = get_required(p, item, "value", &v);
	if (!rc)
		rc = ytree_want_kind(&p->t, v, YTREE_SCALAR, "retention");
	if (!rc)
		rc = ytree_map_get(&p->t, item, "unit", &unit);
	if (!rc && unit)
		rc = ytree_want_kind(&p->t, unit, YTREE_SCALAR, "unit");
	if (rc)
		return rc;
	/* As people write it: "3y", but "3 years". */
	if (!unit)
		n = asprintf(&c->retention, "%s", v->text);
	else
		n = asprintf(&c->retention, strlen(unit->text) <= 2 ? "%s%s" : "%s %s", v->text,
			     unit->text);
	if (n < 0) {
		c->retention = NULL;
		return ytree_nomem(&p->t);
	}
	return 0;
}

static int walk_sla(struct parser *p, const struct ytree_node *list, struct contract *c)
{
	const struct ytree_node *item, *prop;
	int rc = ytree_want_kind(&p->t, list, YTREE_SEQUENCE, "slaProperties");

	for (item = rc ? NULL : ytree_child(&p->t, list); item; item = ytree_next(&p->t, item)) {
		rc = ytree_want_kind(&p->t, item, YTREE_MAPPING, "an SLA property");
		if (!rc)
			rc = get_required(p, item, "property", &prop);
		if (!rc)
			rc = ytree_want_kind(&p->t, prop, YTREE_SCALAR, "property");
		if (rc)
			return rc;
		/* SLA property names are case-insensitive in ODCS, with short synonyms. */
		if (!strcasecmp(prop->text, "frequency") || !strcasecmp(prop->text, "fy"))
			rc = walk_frequency(p, item, c);
		else if (!strcasecmp(prop->text, "retention") || !strcasecmp(prop->text, "re"))
			rc = walk_retention(p, item, c);
		if (rc)
			return rc;
	}
	return rc;
}

/* "DOMAIN/PRODUCT" with both parts valid names. */
static int input_valid(const char *s)
{
	const char *slash = strchr(s, '/');
	char domain[64];
	size_t n;

	if (!slash || strchr(slash + 1, '/'))
		return 0;
	n = (size_t)(slash - s);
	if (n >= sizeof(domain))
		return 0;
	memcpy(domain, s, n);
	domain[n] = '\0';
	return mesh_name_valid(domain) && mesh_name_valid(slash + 1);
}

static int walk_inputs(struct parser *p, const struct ytree_node *item, struct contract *c)
{
	const struct ytree_node *list, *v;
	struct name_set names = {0};
	size_t i = 0, n;
	int rc = ytree_map_get(&p->t, item, "value", &list);

	if (rc || !list)
		return rc;
	rc = ytree_strings(&p->t, list, "inputs", &c->inputs, &c->ninputs);
	if (!rc)
		rc = name_set_init(p, &names, c->ninputs);
	n = strlen(c->domain);
	for (v = rc ? NULL : ytree_child(&p->t, list); v; v = ytree_next(&p->t, v), i++) {
		if (!input_valid(c->inputs[i]))
			rc = ytree_fail(&p->t, v,
					"invalid input \"%.64s\" (expected DOMAIN/PRODUCT)",
					c->inputs[i]);
		else if (!strncmp(c->inputs[i], c->domain, n) && c->inputs[i][n] == '/' &&
			 !strcmp(c->inputs[i] + n + 1, c->data_product))
			rc = ytree_fail(&p->t, v, "a product cannot be its own input");
		else if (name_set_add(&names, c->inputs[i], i) >= 0)
			rc = ytree_fail(&p->t, v, "duplicate input \"%s\"", c->inputs[i]);
		if (rc)
			break;
	}
	name_set_release(&names);
	return rc;
}

struct custom_inputs {
	struct contract *c;
	const struct ytree_node *first; /* the inputs property read already */
};

static int custom_inputs(struct parser *p, const struct ytree_node *item, void *arg)
{
	struct custom_inputs *in = arg;

	if (in->first)
		return ytree_fail(&p->t, item, "more than one inputs property (first at %lu:%lu)",
				  in->first->line, in->first->col);
	in->first = item;
	return walk_inputs(p, item, in->c);
}

static int walk_description(struct parser *p, const struct ytree_node *root, struct contract *c)
{
	const struct ytree_node *v;
	int rc = ytree_map_get(&p->t, root, "description", &v);

	if (rc || !v)
		return rc;
	/* ODCS makes it an object (purpose, usage, limitations); a bare text is the purpose. */
	if (v->kind == YTREE_SCALAR)
		return ytree_string(&p->t, v, "description", &c->purpose);
	rc = ytree_want_kind(&p->t, v, YTREE_MAPPING, "description");
	if (!rc)
		rc = get_string(p, v, "purpose", 0, &c->purpose, NULL);
	return rc;
}

static int walk_contract(struct parser *p, const struct ytree_node *root, struct contract *c)
{
	struct custom_inputs inputs = {.c = c};
	const struct ytree_node *v;
	int rc;

	if (ytree_node_is_null(root))
		return ytree_fail(&p->t, root, "empty contract");
	if (root->kind != YTREE_MAPPING)
		return ytree_fail(&p->t, root,
				  "a contract must be a YAML mapping (apiVersion, kind, …)");
	rc = get_string(p, root, "apiVersion", 1, &c->api_version, &v);
	if (!rc && !api_version_valid(c->api_version))
		rc = ytree_fail(&p->t, v,
				"unsupported apiVersion \"%.64s\" (expected v3.0.x or v3.1.0)",
				c->api_version);
	if (!rc)
		rc = get_required(p, root, "kind", &v);
	if (!rc && (v->kind != YTREE_SCALAR || strcmp(v->text, "DataContract")))
		rc = ytree_fail(&p->t, v, "kind must be DataContract");
	if (!rc)
		rc = get_string(p, root, "id", 0, &c->id, NULL);
	if (!rc)
		rc = get_string(p, root, "name", 0, &c->name, NULL);
	if (!rc)
		rc = get_name(p, root, "domain", "domain", &c->domain);
	if (!rc)
		rc = get_name(p, root, "dataProduct", "product", &c->data_product);
	if (!rc)
		rc = get_string(p, root, "version", 1, &c->version, &v);
	if (!rc && !semver_parse(c->version, &c->major, &c->minor, &c->patch))
		rc = ytree_fail(&p->t, v, "version \"%.64s\" is not semver (MAJOR.MINOR.PATCH)",
				c->version);
	if (!rc)
		rc = get_string(p, root, "status", 0, &c->status, NULL);
	c->status_given = c->status != NULL;
	if (!rc)
		rc = walk_description(p, root, c);
	if (!rc)
		rc = ytree_map_get(&p->t, root, "tags", &v);
	if (!rc && v)
		rc = ytree_strings(&p->t, v, "tags", &c->tags, &c->ntags);
	if (!rc)
		rc = ytree_map_get(&p->t, root, "team", &v);
	if (!rc && v)
		rc = walk_team(p, v, c);
	if (!rc)
		rc = ytree_map_get(&p->t, root, "schema", &v);
	if (!rc && !v)
		rc = ytree_fail(&p->t, root, "missing schema");
	if (!rc)
		rc = walk_schema(p, v, c);
	if (!rc)
		rc = ytree_map_get(&p->t, root, "slaProperties", &v);
	if (!rc && v)
		rc = walk_sla(p, v, c);
	if (!rc)
		rc = ytree_map_get(&p->t, root, "customProperties", &v);
	if (!rc && v)
		rc = walk_custom(p, v, "inputs", custom_inputs, &inputs);
	if (rc)
		return rc;
	/* Optional in meshfs, but never NULL for those who print them. */
	rc = default_string(p, &c->id, "");
	if (!rc)
		rc = default_string(p, &c->name, c->data_product);
	if (!rc)
		rc = default_string(p, &c->status, "active");
	return rc;
}

int contract_parse(struct contract *c, const char *text, size_t len, const char *filename,
		   const char *const *pii_classes, struct mfs_error *err)
{
	struct parser p = {
	    .pii_classes = pii_classes ? pii_classes : default_pii_classes,
	};
	int rc;

	assert(filename);
	memset(c, 0, sizeof(*c));
	rc = ytree_build(&p.t, text, len, filename, "contract", err);
	if (!rc)
		rc = walk_contract(&p, ytree_root(&p.t), c);
	if (rc)
		contract_release(c);
	ytree_release(&p.t);
	if (p.c_locale)
		freelocale(p.c_locale);
	return rc;
}
