#include "contract/policy.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/lookup.h"
#include "contract/yamltree.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define POLICY_API_VERSION "meshfs/v1"
#define POLICY_KIND	   "MeshPolicy"

static const char *const detector_names[] = {"email", "phone", "card", "iban", "national_id"};

enum required_field {
	REQ_TEAM,
	REQ_PURPOSE,
	REQ_FREQUENCY,
	REQ_RETENTION,
	REQ_TAGS,
	REQ_STATUS,
	REQ_ID,
	REQ_INPUTS,
	REQ_TABLE_DESCRIPTION,
	REQ_COLUMN_DESCRIPTION,
	REQ_COLUMN_CLASSIFICATION,
};

static const char *const required_paths[] = {
    [REQ_TEAM] = "team",
    [REQ_PURPOSE] = "description.purpose",
    [REQ_FREQUENCY] = "slaProperties.frequency",
    [REQ_RETENTION] = "slaProperties.retention",
    [REQ_TAGS] = "tags",
    [REQ_STATUS] = "status",
    [REQ_ID] = "id",
    [REQ_INPUTS] = "customProperties.inputs",
    [REQ_TABLE_DESCRIPTION] = "schema.description",
    [REQ_COLUMN_DESCRIPTION] = "schema.properties.description",
    [REQ_COLUMN_CLASSIFICATION] = "schema.properties.classification",
};

static const char *const top_keys[] = {"apiVersion",	"kind",	    "pii",
				       "compatibility", "required", "naming"};
static const char *const pii_keys[] = {"classifications", "detectors"};
static const char *const naming_keys[] = {"table", "column"};

static const char default_yaml[] =
    "# The mesh policy: the rules every publish and every contract change is checked against.\n"
    "# Change it with 'meshfs policy set FILE'. A change applies from the next publish on and\n"
    "# never rewrites a version already published.\n"
    "apiVersion: " POLICY_API_VERSION "\n"
    "kind: " POLICY_KIND "\n"
    "pii:\n"
    "  # Column classifications that make a column PII: its cells are encrypted at rest and\n"
    "  # masked for readers without the unmask right.\n"
    "  classifications: [pii]\n"
    "  # Detectors of undeclared PII, run on every column that is not PII: a value that looks\n"
    "  # like personal data there rejects the publish. Known: email, phone, card, iban,\n"
    "  # national_id.\n"
    "  detectors: [email, phone, card, iban, national_id]\n"
    "# How a new contract is checked against the current one: backward (a breaking change needs\n"
    "# a new major version, proposed by the owning team) or none (the version must still go up).\n"
    "compatibility: backward\n"
    "# Contract fields every product must fill in. Known: team, description.purpose,\n"
    "# slaProperties.frequency, slaProperties.retention, tags, status, id,\n"
    "# customProperties.inputs, schema.description, schema.properties.description,\n"
    "# schema.properties.classification.\n"
    "required: []\n"
    "# Names of tables and columns must match these POSIX extended regular expressions\n"
    "# (anchor them with ^ and $), for example:\n"
    "# naming:\n"
    "#   table: '^[a-z][a-z0-9_]*$'\n"
    "#   column: '^[a-z][a-z0-9_]*$'\n";

const char *policy_default_yaml(void)
{
	return default_yaml;
}

static void strings_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void policy_release(struct mesh_policy *p)
{
	strings_free(p->pii_classes, p->npii_classes);
	strings_free(p->detectors, p->ndetectors);
	strings_free(p->required, p->nrequired);
	pattern_free(p->table_re);
	pattern_free(p->column_re);
	free(p->table_pattern);
	free(p->column_pattern);
	memset(p, 0, sizeof(*p));
}

/* ---- parsing ---- */

/* Appends names to buf as "a, b, c" for messages. */
static void list_names(char *buf, size_t size, const char *const *names, size_t n)
{
	size_t i, used = 0;
	int k;

	buf[0] = '\0';
	for (i = 0; i < n && used < size; i++) {
		k = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
		if (k < 0)
			break;
		used += (size_t)k;
	}
}

/* Every key of map must be one of keys: a misspelt key would silently switch a rule off. */
static int known_keys(struct ytree *t, const struct ytree_node *map, const char *where,
		      const char *const *keys, size_t nkeys)
{
	const struct ytree_node *k;
	char expected[256];

	for (k = ytree_child(t, map); k; k = ytree_next(t, ytree_next(t, k))) {
		if (k->kind == YTREE_SCALAR &&
		    mfs_name_index(keys, nkeys, sizeof(*keys), k->text, 0) >= 0)
			continue;
		list_names(expected, sizeof(expected), keys, nkeys);
		if (k->kind != YTREE_SCALAR)
			return ytree_fail(t, k, "keys of %s must be single values", where);
		return ytree_fail(t, k, "unknown key \"%.64s\" in %s (expected %s)", k->text, where,
				  expected);
	}
	return 0;
}

/* A required single value at key, which must be exactly want. */
static int expect_value(struct ytree *t, const struct ytree_node *root, const char *key,
			const char *want)
{
	const struct ytree_node *v;
	int rc = ytree_map_get(t, root, key, &v);

	if (rc)
		return rc;
	if (!v)
		return ytree_fail(t, root,
				  "missing %s (a policy starts with apiVersion: " POLICY_API_VERSION
				  " and kind: " POLICY_KIND ")",
				  key);
	if (v->kind != YTREE_SCALAR || strcmp(v->text, want))
		return ytree_fail(t, v, "%s must be %s", key, want);
	return 0;
}

/*
 * The list at n (what: its key) into a NULL-terminated array *out of *count: single values that
 * are not empty, each given once (case-blind when fold), each one of allowed when allowed is not
 * NULL; item names one in messages.
 */
static int name_list(struct ytree *t, const struct ytree_node *n, const char *what,
		     const char *item_name, const char *const *allowed, size_t nallowed, int fold,
		     char ***out, size_t *count)
{
	const struct ytree_node *item, *prev;
	char expected[512];
	int rc = ytree_want_kind(t, n, YTREE_SEQUENCE, what);

	if (rc)
		return rc;
	*out = calloc(n->count + 1, sizeof(**out));
	if (!*out)
		return ytree_nomem(t);
	for (item = ytree_child(t, n); item; item = ytree_next(t, item)) {
		if (item->kind != YTREE_SCALAR || ytree_node_is_null(item) || !item->text[0])
			return ytree_fail(t, item, "%s must be a list of names", what);
		if (allowed &&
		    mfs_name_index(allowed, nallowed, sizeof(*allowed), item->text, 0) < 0) {
			list_names(expected, sizeof(expected), allowed, nallowed);
			return ytree_fail(t, item, "unknown %s \"%.64s\" (expected %s)", item_name,
					  item->text, expected);
		}
		for (prev = ytree_child(t, n); prev != item; prev = ytree_next(t, prev))
			if (fold ? !strcasecmp(prev->text, item->text)
				 : !strcmp(prev->text, item->text))
				return ytree_fail(t, item, "%s \"%.64s\" is listed twice",
						  item_name, item->text);
		(*out)[*count] = strdup(item->text);
		if (!(*out)[*count])
			return ytree_nomem(t);
		(*count)++;
	}
	return 0;
}

/* A list of built-in names, for what the policy leaves out. */
static int default_list(struct ytree *t, const char *const *names, size_t n, char ***out,
			size_t *count)
{
	size_t i;

	*out = calloc(n + 1, sizeof(**out));
	if (!*out)
		return ytree_nomem(t);
	for (i = 0; i < n; i++) {
		(*out)[i] = strdup(names[i]);
		if (!(*out)[i])
			return ytree_nomem(t);
		(*count)++;
	}
	return 0;
}

static int walk_pii(struct ytree *t, const struct ytree_node *root, struct mesh_policy *p)
{
	static const char *const default_classes[] = {"pii"};
	const struct ytree_node *pii, *classes = NULL, *detectors = NULL;
	int rc = ytree_map_get(t, root, "pii", &pii);

	if (!rc && pii)
		rc = ytree_want_kind(t, pii, YTREE_MAPPING, "pii");
	if (!rc && pii)
		rc = known_keys(t, pii, "pii", pii_keys, ARRAY_SIZE(pii_keys));
	if (!rc && pii)
		rc = ytree_map_get(t, pii, "classifications", &classes);
	/* A null could mean no detector or every one: only a list says which. */
	if (!rc && pii)
		rc = ytree_map_get_raw(t, pii, "detectors", &detectors);
	if (rc)
		return rc;
	if (classes) {
		rc = name_list(t, classes, "pii.classifications", "classification", NULL, 0, 1,
			       &p->pii_classes, &p->npii_classes);
		if (!rc && !p->npii_classes)
			rc = ytree_fail(t, classes,
					"pii.classifications must list at least one classification "
					"(without one, nothing would be encrypted)");
	} else {
		rc = default_list(t, default_classes, ARRAY_SIZE(default_classes), &p->pii_classes,
				  &p->npii_classes);
	}
	if (rc)
		return rc;
	if (detectors)
		return name_list(t, detectors, "pii.detectors", "detector", detector_names,
				 ARRAY_SIZE(detector_names), 0, &p->detectors, &p->ndetectors);
	return default_list(t, detector_names, ARRAY_SIZE(detector_names), &p->detectors,
			    &p->ndetectors);
}

static int walk_compatibility(struct ytree *t, const struct ytree_node *root, struct mesh_policy *p)
{
	const struct ytree_node *v;
	int rc = ytree_map_get(t, root, "compatibility", &v);

	if (!rc && v)
		rc = ytree_want_kind(t, v, YTREE_SCALAR, "compatibility");
	if (rc || !v)
		return rc;
	if (!strcmp(v->text, "backward"))
		p->compatibility = COMPAT_BACKWARD;
	else if (!strcmp(v->text, "none"))
		p->compatibility = COMPAT_NONE;
	else
		return ytree_fail(t, v, "unknown compatibility \"%.64s\" (expected backward, none)",
				  v->text);
	return 0;
}

static int walk_required(struct ytree *t, const struct ytree_node *root, struct mesh_policy *p)
{
	const struct ytree_node *v;
	int rc = ytree_map_get(t, root, "required", &v);

	if (!rc && v)
		return name_list(t, v, "required", "required field", required_paths,
				 ARRAY_SIZE(required_paths), 0, &p->required, &p->nrequired);
	if (!rc)
		rc = default_list(t, NULL, 0, &p->required, &p->nrequired);
	return rc;
}

/* One naming rule: a regular expression that must compile. */
static int walk_pattern(struct ytree *t, const struct ytree_node *naming, const char *key,
			char **pattern, struct pattern **re)
{
	const struct ytree_node *v;
	char why[160];
	int rc = ytree_map_get(t, naming, key, &v);

	if (rc || !v)
		return rc;
	if (v->kind != YTREE_SCALAR || !v->text[0])
		return ytree_fail(t, v, "naming.%s must be a regular expression", key);
	rc = pattern_compile(re, v->text, why, sizeof(why));
	if (rc == -ENOMEM)
		return ytree_nomem(t);
	if (rc)
		return ytree_fail(t, v, "naming.%s: invalid regular expression \"%.64s\": %s", key,
				  v->text, why);
	*pattern = strdup(v->text);
	if (!*pattern) {
		pattern_free(*re);
		*re = NULL;
		return ytree_nomem(t);
	}
	return 0;
}

static int walk_naming(struct ytree *t, const struct ytree_node *root, struct mesh_policy *p)
{
	const struct ytree_node *naming;
	int rc = ytree_map_get(t, root, "naming", &naming);

	if (rc || !naming)
		return rc;
	rc = ytree_want_kind(t, naming, YTREE_MAPPING, "naming");
	if (!rc)
		rc = known_keys(t, naming, "naming", naming_keys, ARRAY_SIZE(naming_keys));
	if (!rc)
		rc = walk_pattern(t, naming, "table", &p->table_pattern, &p->table_re);
	if (!rc)
		rc = walk_pattern(t, naming, "column", &p->column_pattern, &p->column_re);
	return rc;
}

static int walk_policy(struct ytree *t, const struct ytree_node *root, struct mesh_policy *p)
{
	int rc;

	if (ytree_node_is_null(root))
		return ytree_fail(t, root, "empty policy");
	if (root->kind != YTREE_MAPPING)
		return ytree_fail(t, root, "a policy must be a YAML mapping (apiVersion, kind, …)");
	rc = known_keys(t, root, "a policy", top_keys, ARRAY_SIZE(top_keys));
	if (!rc)
		rc = expect_value(t, root, "apiVersion", POLICY_API_VERSION);
	if (!rc)
		rc = expect_value(t, root, "kind", POLICY_KIND);
	if (!rc)
		rc = walk_pii(t, root, p);
	if (!rc)
		rc = walk_compatibility(t, root, p);
	if (!rc)
		rc = walk_required(t, root, p);
	if (!rc)
		rc = walk_naming(t, root, p);
	return rc;
}

int policy_parse(struct mesh_policy *p, const char *text, size_t len, const char *filename,
		 struct mfs_error *err)
{
	struct ytree t;
	int rc;

	assert(filename);
	memset(p, 0, sizeof(*p));
	p->compatibility = COMPAT_BACKWARD;
	rc = ytree_build(&t, text, len, filename, "policy", err);
	if (!rc)
		rc = walk_policy(&t, ytree_root(&t), p);
	if (rc)
		policy_release(p);
	ytree_release(&t);
	return rc;
}

/* ---- checking a contract ---- */

struct violations {
	const char *file;
	struct mfs_error *err;
	size_t n;
};

static void violation(struct violations *v, unsigned long line, unsigned long col, const char *fmt,
		      ...) __attribute__((format(printf, 4, 5)));

static void violation(struct violations *v, unsigned long line, unsigned long col, const char *fmt,
		      ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		mfs_error_add(v->err, EPERM, "%s:%lu:%lu: %s", v->file, line, col, msg);
	else
		mfs_error_add(v->err, EPERM, "%s: %s", v->file, msg);
	v->n++;
}

static void check_columns(struct violations *v, const struct contract *c, enum required_field f)
{
	const struct contract_column *col;
	size_t i, k;

	for (i = 0; i < c->ntables; i++) {
		for (k = 0; k < c->tables[i].ncolumns; k++) {
			col = &c->tables[i].columns[k];
			if (f == REQ_COLUMN_DESCRIPTION && !col->description[0])
				violation(v, col->line, col->col,
					  "column %s.%s has no description, which the mesh policy "
					  "requires",
					  c->tables[i].name, col->name);
			else if (f == REQ_COLUMN_CLASSIFICATION && !col->classification)
				violation(v, col->line, col->col,
					  "column %s.%s has no classification, which the mesh "
					  "policy requires",
					  c->tables[i].name, col->name);
		}
	}
}

static void check_required(struct violations *v, const struct contract *c, enum required_field f)
{
	const char *path = required_paths[f];
	size_t i;
	int missing = 0;

	switch (f) {
	case REQ_TEAM:
		missing = !c->nteam;
		break;
	case REQ_PURPOSE:
		missing = !c->purpose || !c->purpose[0];
		break;
	case REQ_FREQUENCY:
		missing = !c->frequency_seconds;
		break;
	case REQ_RETENTION:
		missing = !c->retention;
		break;
	case REQ_TAGS:
		missing = !c->ntags;
		break;
	case REQ_STATUS:
		missing = !c->status_given;
		break;
	case REQ_ID:
		missing = !c->id[0];
		break;
	case REQ_INPUTS:
		missing = !c->ninputs;
		break;
	case REQ_TABLE_DESCRIPTION:
		for (i = 0; i < c->ntables; i++)
			if (!c->tables[i].description[0])
				violation(v, c->tables[i].line, c->tables[i].col,
					  "table %s has no description, which the mesh policy "
					  "requires",
					  c->tables[i].name);
		return;
	case REQ_COLUMN_DESCRIPTION:
	case REQ_COLUMN_CLASSIFICATION:
		check_columns(v, c, f);
		return;
	}
	if (missing)
		violation(v, 0, 0, "missing %s, which the mesh policy requires", path);
}

static void check_names(struct violations *v, const struct mesh_policy *p, const struct contract *c)
{
	const struct contract_table *t;
	const struct contract_column *col;
	size_t i, k;

	for (i = 0; i < c->ntables; i++) {
		t = &c->tables[i];
		if (p->table_pattern && pattern_match(p->table_re, t->name, strlen(t->name)) != 1)
			violation(v, t->line, t->col,
				  "table name %s does not match the mesh policy's naming rule %s",
				  t->name, p->table_pattern);
		for (k = 0; p->column_pattern && k < t->ncolumns; k++) {
			col = &t->columns[k];
			if (pattern_match(p->column_re, col->name, strlen(col->name)) != 1)
				violation(v, col->line, col->col,
					  "column name %s.%s does not match the mesh policy's "
					  "naming rule %s",
					  t->name, col->name, p->column_pattern);
		}
	}
}

int policy_check_contract(const struct mesh_policy *p, const struct contract *c,
			  const char *filename, struct mfs_error *err)
{
	struct violations v = {.file = filename, .err = err};
	size_t i;
	int f;

	for (i = 0; i < p->nrequired; i++) {
		f = mfs_name_index(required_paths, ARRAY_SIZE(required_paths),
				   sizeof(*required_paths), p->required[i], 0);
		assert(f >= 0);
		check_required(&v, c, (enum required_field)f);
	}
	check_names(&v, p, c);
	return v.n ? -EPERM : 0;
}
