#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"
#include "catalog/catalog.h"
#include "contract/contract.h"
#include "contract/policy.h"
#include "common/strbuf.h"
#include "mesh/mesh.h"
#include "tests/unit/helpers.h"

#define HEAD "apiVersion: meshfs/v1\nkind: MeshPolicy\n"

static const char example[] =
    HEAD "pii:\n"
	 "  classifications: [pii, sensitive]\n"
	 "  detectors: [email, card]\n"
	 "compatibility: none\n"
	 "required: [team, description.purpose, slaProperties.frequency]\n"
	 "naming:\n"
	 "  column: '^[a-z][a-z0-9_]*$'\n"
	 "  table: '^[a-z]+$'\n";

static int parse(struct mesh_policy *p, const char *yaml, struct mfs_error *err)
{
	mfs_error_clear(err);
	return policy_parse(p, yaml, strlen(yaml), "p.yaml", err);
}

static void assert_list(char **got, size_t n, const char *const *want)
{
	size_t i;

	for (i = 0; want[i]; i++) {
		assert_true(i < n);
		assert_string_equal(got[i], want[i]);
	}
	assert_int_equal(n, i);
	assert_null(got[n]);
}

static void test_example(void **state)
{
	static const char *const classes[] = {"pii", "sensitive", NULL};
	static const char *const detectors[] = {"email", "card", NULL};
	static const char *const required[] = {"team", "description.purpose",
					       "slaProperties.frequency", NULL};
	struct mesh_policy p;
	struct mfs_error err;

	assert_int_equal(parse(&p, example, &err), 0);
	assert_string_equal(err.msg, "");
	assert_list(p.pii_classes, p.npii_classes, classes);
	assert_list(p.detectors, p.ndetectors, detectors);
	assert_list(p.required, p.nrequired, required);
	assert_int_equal(p.compatibility, COMPAT_NONE);
	assert_string_equal(p.column_pattern, "^[a-z][a-z0-9_]*$");
	assert_string_equal(p.table_pattern, "^[a-z]+$");
	assert_int_equal(pattern_match(p.table_re, "orders", 6), 1);
	assert_int_equal(pattern_match(p.table_re, "orders_2", 8), 0);
	policy_release(&p);
	assert_null(p.pii_classes);
	assert_null(p.table_pattern);
}

static void test_defaults(void **state)
{
	static const char *const classes[] = {"pii", NULL};
	static const char *const all[] = {"email", "phone", "card", "iban", "national_id", NULL};
	static const char *const none[] = {NULL};
	struct mesh_policy p;
	struct mfs_error err;

	/* What a policy leaves out takes the default. */
	assert_int_equal(parse(&p, HEAD, &err), 0);
	assert_list(p.pii_classes, p.npii_classes, classes);
	assert_list(p.detectors, p.ndetectors, all);
	assert_list(p.required, p.nrequired, none);
	assert_int_equal(p.compatibility, COMPAT_BACKWARD);
	assert_null(p.table_pattern);
	assert_null(p.column_pattern);
	policy_release(&p);

	/* Null sections count as absent; an empty detector list turns detection off. */
	assert_int_equal(parse(&p,
			       HEAD "pii:\n  classifications:\n  detectors: []\nrequired:\n"
				    "naming:\ncompatibility: ~\n",
			       &err),
			 0);
	assert_list(p.pii_classes, p.npii_classes, classes);
	assert_list(p.detectors, p.ndetectors, none);
	assert_int_equal(p.compatibility, COMPAT_BACKWARD);
	policy_release(&p);

	/* The default policy of a new mesh parses, and says what the header promises. */
	assert_int_equal(parse(&p, policy_default_yaml(), &err), 0);
	assert_list(p.pii_classes, p.npii_classes, classes);
	assert_list(p.detectors, p.ndetectors, all);
	assert_list(p.required, p.nrequired, none);
	assert_int_equal(p.compatibility, COMPAT_BACKWARD);
	assert_null(p.table_pattern);
	assert_null(p.column_pattern);
	policy_release(&p);
}

static void test_not_nul_terminated(void **state)
{
	struct mesh_policy p;
	struct mfs_error err;
	char *copy = malloc(sizeof(example) - 1);

	assert_non_null(copy);
	memcpy(copy, example, sizeof(example) - 1);
	mfs_error_clear(&err);
	assert_int_equal(policy_parse(&p, copy, sizeof(example) - 1, "p.yaml", &err), 0);
	assert_int_equal(p.ndetectors, 2);
	policy_release(&p);
	free(copy);
}

/* Each policy is refused with exactly this message. */
static const struct {
	const char *yaml;
	const char *msg;
} rejections[] = {
    {"", "p.yaml:1:1: empty policy"},
    {"~\n", "p.yaml:1:1: empty policy"},
    {"- a\n", "p.yaml:1:1: a policy must be a YAML mapping (apiVersion, kind, …)"},
    {"kind: MeshPolicy\n",
     "p.yaml:1:1: missing apiVersion (a policy starts with apiVersion: meshfs/v1 and kind: "
     "MeshPolicy)"},
    {"apiVersion: meshfs/v2\nkind: MeshPolicy\n", "p.yaml:1:13: apiVersion must be meshfs/v1"},
    {"apiVersion: meshfs/v1\nkind: DataContract\n", "p.yaml:2:7: kind must be MeshPolicy"},
    {HEAD "compatability: none\n",
     "p.yaml:3:1: unknown key \"compatability\" in a policy (expected apiVersion, kind, pii, "
     "compatibility, required, naming)"},
    {HEAD "[a]: b\n", "p.yaml:3:1: keys of a policy must be single values"},
    {HEAD "kind: MeshPolicy\n", "p.yaml:3:1: duplicate key \"kind\""},
    {HEAD "pii: [email]\n", "p.yaml:3:6: pii must be a mapping"},
    {HEAD "pii:\n  detector: [email]\n",
     "p.yaml:4:3: unknown key \"detector\" in pii (expected classifications, detectors)"},
    {HEAD "pii:\n  detectors: [email, fax]\n",
     "p.yaml:4:22: unknown detector \"fax\" (expected email, phone, card, iban, national_id)"},
    {HEAD "pii:\n  detectors: [card, card]\n", "p.yaml:4:21: detector \"card\" is listed twice"},
    {HEAD "pii:\n  detectors: ~\n", "p.yaml:4:14: pii.detectors must be a list"},
    {HEAD "pii:\n  detectors: [[email]]\n", "p.yaml:4:15: pii.detectors must be a list of names"},
    {HEAD "pii:\n  classifications: []\n",
     "p.yaml:4:20: pii.classifications must list at least one classification (without one, "
     "nothing would be encrypted)"},
    {HEAD "pii:\n  classifications: [pii, PII]\n",
     "p.yaml:4:26: classification \"PII\" is listed twice"},
    {HEAD "pii:\n  classifications: [pii, '']\n",
     "p.yaml:4:26: pii.classifications must be a list of names"},
    {HEAD "compatibility: forward\n",
     "p.yaml:3:16: unknown compatibility \"forward\" (expected backward, none)"},
    {HEAD "compatibility: [none]\n", "p.yaml:3:16: compatibility must be a single value"},
    {HEAD "required: [team, owner]\n",
     "p.yaml:3:18: unknown required field \"owner\" (expected team, description.purpose, "
     "slaProperties.frequency, slaProperties.retention, tags, status, id, "
     "customProperties.inputs, schema.description, schema.properties.description, "
     "schema.properties.classification)"},
    {HEAD "required: team\n", "p.yaml:3:11: required must be a list"},
    {HEAD "naming:\n  columns: x\n",
     "p.yaml:4:3: unknown key \"columns\" in naming (expected table, column)"},
    {HEAD "naming: '^a$'\n", "p.yaml:3:9: naming must be a mapping"},
    {HEAD "naming:\n  table: '^[a-$'\n",
     "p.yaml:4:10: naming.table: invalid regular expression \"^[a-$\": "},
    {HEAD "naming:\n  table: '^[a-z]+$'\n  column: '('\n",
     "p.yaml:5:11: naming.column: invalid regular expression \"(\": "},
    {HEAD "naming:\n  column: ''\n", "p.yaml:4:11: naming.column must be a regular expression"},
    {HEAD "pii: &p\n  detectors: [email]\nnaming: *p\n",
     "p.yaml:5:9: alias *p: aliases are not allowed in a policy (write the value out)"},
    {HEAD "---\n" HEAD, "p.yaml:3:1: more than one YAML document"},
    {HEAD "pii: [\n", "p.yaml:4:1: did not find expected node content (while parsing a flow "
		      "node at 4:1)"},
};

static void test_rejections(void **state)
{
	struct mesh_policy p;
	struct mfs_error err;
	size_t i, n;
	int rc;

	for (i = 0; i < sizeof(rejections) / sizeof(rejections[0]); i++) {
		rc = parse(&p, rejections[i].yaml, &err);
		if (rc != -EINVAL)
			fail_msg("policy %zu: got %d, want -EINVAL (%s)", i, rc, err.msg);
		/* regerror's words differ between C libraries: only the start is compared */
		n = strlen(rejections[i].msg);
		if (rejections[i].msg[n - 2] == ':' ? strncmp(err.msg, rejections[i].msg, n)
						    : strcmp(err.msg, rejections[i].msg))
			fail_msg("policy %zu:\n got: %s\nwant: %s", i, err.msg, rejections[i].msg);
		/* A refused policy leaves nothing behind. */
		assert_null(p.pii_classes);
		assert_null(p.detectors);
		assert_null(p.required);
		assert_null(p.table_pattern);
		assert_null(p.column_pattern);
	}
}

/* ---- checking contracts ---- */

static const char contract_ok[] = "apiVersion: v3.0.2\n"
				  "kind: DataContract\n"
				  "id: urn:orders\n"
				  "domain: orders\n"
				  "dataProduct: orders\n"
				  "version: 1.0.0\n"
				  "status: active\n"
				  "description:\n"
				  "  purpose: Every order.\n"
				  "tags: [orders]\n"
				  "team:\n"
				  "  - username: alice\n"
				  "schema:\n"
				  "  - name: orders\n"
				  "    description: One row per order.\n"
				  "    properties:\n"
				  "      - name: order_id\n"
				  "        description: The order number.\n"
				  "        classification: internal\n"
				  "slaProperties:\n"
				  "  - property: frequency\n"
				  "    value: 1\n"
				  "    unit: d\n"
				  "  - property: retention\n"
				  "    value: 3\n"
				  "    unit: y\n"
				  "customProperties:\n"
				  "  - property: inputs\n"
				  "    value: [shop/carts]\n";

/* Lines 13 on: a table and columns that break every per-table and per-column rule. */
static const char contract_bare[] = "apiVersion: v3.0.2\n"
				    "kind: DataContract\n"
				    "domain: orders\n"
				    "dataProduct: orders\n"
				    "version: 1.0.0\n"
				    "schema:\n"
				    "  - name: orders-2\n"
				    "    properties:\n"
				    "      - name: order_id\n"
				    "      - name: total-net\n"
				    "        description: x\n"
				    "        classification: internal\n";

static const char policy_all[] = HEAD "required: [team, description.purpose, "
				      "slaProperties.frequency, slaProperties.retention, tags, "
				      "status, id, customProperties.inputs, schema.description, "
				      "schema.properties.description, "
				      "schema.properties.classification]\n"
				      "naming:\n"
				      "  table: '^[a-z_]+$'\n"
				      "  column: '^[a-z][a-z0-9_]*$'\n";

static void parse_contract(struct contract *c, const char *yaml)
{
	struct mfs_error err;

	mfs_error_clear(&err);
	if (contract_parse(c, yaml, strlen(yaml), "c.yaml", NULL, &err))
		fail_msg("contract: %s", err.msg);
}

static void test_check_contract(void **state)
{
	struct mesh_policy p;
	struct contract c;
	struct mfs_error err;

	assert_int_equal(parse(&p, policy_all, &err), 0);

	parse_contract(&c, contract_ok);
	mfs_error_clear(&err);
	assert_int_equal(policy_check_contract(&p, &c, "c.yaml", &err), 0);
	assert_string_equal(err.msg, "");
	contract_release(&c);

	/* Every violation is listed, one a line, in the order of the policy. */
	parse_contract(&c, contract_bare);
	mfs_error_clear(&err);
	assert_int_equal(policy_check_contract(&p, &c, "c.yaml", &err), -EPERM);
	assert_string_equal(
	    err.msg,
	    "c.yaml: missing team, which the mesh policy requires\n"
	    "c.yaml: missing description.purpose, which the mesh policy requires\n"
	    "c.yaml: missing slaProperties.frequency, which the mesh policy requires\n"
	    "c.yaml: missing slaProperties.retention, which the mesh policy requires\n"
	    "c.yaml: missing tags, which the mesh policy requires\n"
	    "c.yaml: missing status, which the mesh policy requires\n"
	    "c.yaml: missing id, which the mesh policy requires\n"
	    "c.yaml: missing customProperties.inputs, which the mesh policy requires\n"
	    "c.yaml:7:5: table orders-2 has no description, which the mesh policy requires\n"
	    "c.yaml:9:9: column orders-2.order_id has no description, which the mesh policy "
	    "requires\n"
	    "c.yaml:9:9: column orders-2.order_id has no classification, which the mesh policy "
	    "requires\n"
	    "c.yaml:7:5: table name orders-2 does not match the mesh policy's naming rule "
	    "^[a-z_]+$\n"
	    "c.yaml:10:9: column name orders-2.total-net does not match the mesh policy's naming "
	    "rule "
	    "^[a-z][a-z0-9_]*$");
	contract_release(&c);
	policy_release(&p);

	/* The default policy asks for nothing a valid contract lacks. */
	assert_int_equal(parse(&p, policy_default_yaml(), &err), 0);
	parse_contract(&c, contract_bare);
	mfs_error_clear(&err);
	assert_int_equal(policy_check_contract(&p, &c, "c.yaml", &err), 0);
	assert_string_equal(err.msg, "");
	contract_release(&c);
	policy_release(&p);
}

static void test_check_status(void **state)
{
	struct mesh_policy p;
	struct contract c;
	struct mfs_error err;
	struct strbuf yaml;

	/* status defaults to active, but a policy that requires it wants it written. */
	assert_int_equal(parse(&p, HEAD "required: [status]\n", &err), 0);
	parse_contract(&c, contract_bare);
	assert_string_equal(c.status, "active");
	mfs_error_clear(&err);
	assert_int_equal(policy_check_contract(&p, &c, "c.yaml", &err), -EPERM);
	assert_string_equal(err.msg, "c.yaml: missing status, which the mesh policy requires");
	contract_release(&c);
	strbuf_init(&yaml);
	assert_int_equal(strbuf_addf(&yaml, "%sstatus: active\n", contract_bare), 0);
	parse_contract(&c, yaml.buf);
	mfs_error_clear(&err);
	assert_int_equal(policy_check_contract(&p, &c, "c.yaml", &err), 0);
	contract_release(&c);
	strbuf_release(&yaml);
	policy_release(&p);
}

/* ---- catalog and mesh ---- */

static void test_catalog_round_trip(void **state)
{
	char dir[] = "/tmp/meshfs-test-policy-XXXXXX";
	struct catalog *cat;
	struct mfs_error err;
	char *yaml = NULL;
	int64_t seq = 0;

	assert_non_null(mkdtemp(dir));
	mfs_error_clear(&err);
	assert_int_equal(catalog_open(&cat, dir, CATALOG_CREATE, &err), 0);
	assert_int_equal(catalog_policy_get(cat, &yaml, &seq), -ENOENT);
	assert_null(yaml);
	assert_int_equal(catalog_policy_set(cat, "first", "alice", 1000), 0);
	assert_int_equal(catalog_policy_get(cat, &yaml, &seq), 0);
	assert_string_equal(yaml, "first");
	assert_int_equal(seq, 1);
	free(yaml);
	assert_int_equal(catalog_policy_set(cat, "second\n# é\n", "bob", 2000), 0);
	assert_int_equal(catalog_policy_get(cat, &yaml, NULL), 0);
	assert_string_equal(yaml, "second\n# é\n");
	free(yaml);
	assert_int_equal(catalog_policy_get(cat, &yaml, &seq), 0);
	assert_int_equal(seq, 2);
	free(yaml);
	assert_int_equal(catalog_policy_set(cat, NULL, "bob", 2000), -EINVAL);
	assert_int_equal(catalog_policy_set(cat, "x", "", 2000), -EINVAL);
	assert_int_equal(catalog_policy_set(cat, "x", "a b", 2000), -EINVAL);
	catalog_close(cat);

	/* Every policy is kept, across a reopen. */
	assert_int_equal(catalog_open(&cat, dir, 0, &err), 0);
	assert_int_equal(catalog_policy_get(cat, &yaml, &seq), 0);
	assert_string_equal(yaml, "second\n# é\n");
	assert_int_equal(seq, 2);
	free(yaml);
	catalog_close(cat);
	assert_int_equal(remove_tree(dir), 0);
}

/* A principal as principal_init would make it, for users this machine does not have. */
static void principal_fake(struct principal *p, const char *name)
{
	memset(p, 0, sizeof(*p));
	p->uid = 64000;
	p->gid = 64000;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->groups = calloc(1, sizeof(*p->groups));
	assert_non_null(p->groups);
}

struct audit_rows {
	char outcomes[8][16];
	size_t n;
};

static int audit_cb(const struct catalog_audit *a, void *ctx)
{
	struct audit_rows *r = ctx;

	if (strcmp(a->action, "policy"))
		return 0;
	assert_string_equal(a->object, "mesh");
	assert_true(r->n < 8);
	snprintf(r->outcomes[r->n++], sizeof(r->outcomes[0]), "%s", a->outcome);
	return 0;
}

static void test_mesh_policy(void **state)
{
	char dir[] = "/tmp/meshfs-test-policy-XXXXXX";
	static const char bad[] = HEAD "pii:\n  detectors: [fax]\n";
	struct principal admin, mallory;
	struct audit_rows rows = {0};
	struct mesh_policy p;
	struct mfs_error err;
	struct mesh m;
	char *yaml;

	assert_non_null(mkdtemp(dir));
	mfs_error_clear(&err);
	assert_int_equal(mesh_create(dir, "alice", NULL, NULL, &err), 0);
	assert_int_equal(mesh_open(&m, dir, NULL, &err), 0);
	principal_fake(&admin, "alice");
	principal_fake(&mallory, "mallory");

	/* A new mesh holds the default policy. */
	assert_int_equal(mesh_policy_text(&m, &yaml), 0);
	assert_string_equal(yaml, policy_default_yaml());
	free(yaml);
	assert_int_equal(mesh_policy_get(&m, &p, &err), 0);
	assert_int_equal(p.ndetectors, 5);
	assert_int_equal(p.compatibility, COMPAT_BACKWARD);
	policy_release(&p);

	/* Only mesh admins set it. */
	mfs_error_clear(&err);
	assert_int_equal(mesh_policy_set(&m, &mallory, example, strlen(example), "p.yaml", &err),
			 -EACCES);
	assert_string_equal(err.msg, "permission denied: mallory has no admin right on the mesh, "
				     "which setting the policy needs");

	/* An invalid policy changes nothing. */
	mfs_error_clear(&err);
	assert_int_equal(mesh_policy_set(&m, &admin, bad, strlen(bad), "p.yaml", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "p.yaml:4:15: unknown detector \"fax\""));
	mfs_error_clear(&err);
	assert_int_equal(mesh_policy_set(&m, &admin, HEAD "\0x", sizeof(HEAD) + 1, "p.yaml", &err),
			 -EINVAL);
	assert_string_equal(err.msg, "p.yaml: policy contains a NUL byte");
	assert_int_equal(mesh_policy_text(&m, &yaml), 0);
	assert_string_equal(yaml, policy_default_yaml());
	free(yaml);

	mfs_error_clear(&err);
	assert_int_equal(mesh_policy_set(&m, &admin, example, strlen(example), "p.yaml", &err), 0);
	assert_int_equal(mesh_policy_text(&m, &yaml), 0);
	assert_string_equal(yaml, example);
	free(yaml);
	assert_int_equal(mesh_policy_get(&m, &p, &err), 0);
	assert_int_equal(p.ndetectors, 2);
	assert_int_equal(p.compatibility, COMPAT_NONE);
	policy_release(&p);

	/* Every attempt is in the audit table. */
	assert_int_equal(catalog_audit_list(m.cat, 0, NULL, audit_cb, &rows), 0);
	assert_int_equal(rows.n, 4);
	assert_string_equal(rows.outcomes[0], "denied");
	assert_string_equal(rows.outcomes[1], "rejected");
	assert_string_equal(rows.outcomes[2], "rejected");
	assert_string_equal(rows.outcomes[3], "ok");

	principal_release(&admin);
	principal_release(&mallory);
	mesh_close(&m);
	assert_int_equal(remove_tree(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_example),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_not_nul_terminated),
	    cmocka_unit_test(test_rejections),
	    cmocka_unit_test(test_check_contract),
	    cmocka_unit_test(test_check_status),
	    cmocka_unit_test(test_catalog_round_trip),
	    cmocka_unit_test(test_mesh_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
