/*
 * The mesh policy (docs/DESIGN.md §2 `meshfs policy`, §3 MOUNT/policy.yaml): the rules every
 * publish and every contract change is checked against. It is meshfs's own YAML format:
 *
 *   apiVersion: meshfs/v1
 *   kind: MeshPolicy
 *   pii:
 *     classifications: [pii, sensitive]   # what makes a column PII (default: [pii])
 *     detectors: [email, phone, card, iban, national_id]   # undeclared PII (default: all)
 *   compatibility: backward               # backward | none (default: backward)
 *   required: [team, description.purpose, slaProperties.frequency]   # (default: none)
 *   naming:                               # POSIX extended regular expressions (default: none)
 *     table: '^[a-z][a-z0-9_]*$'
 *     column: '^[a-z][a-z0-9_]*$'
 *
 * Detectors: email, phone, card, iban, national_id. Required fields: team, description.purpose,
 * slaProperties.frequency, slaProperties.retention, tags, status, id, customProperties.inputs,
 * schema.description (every table's), schema.properties.description and
 * schema.properties.classification (every column's).
 *
 * Unlike a contract, a policy is strict: an unknown key, detector or required field is an error,
 * so that a typo cannot switch a rule off unnoticed. The catalog keeps every policy ever set; a
 * new one applies to the next publish and never to versions already published.
 */
#ifndef MESHFS_POLICY_H
#define MESHFS_POLICY_H

#include <stddef.h>

#include "contract/compat.h"
#include "contract/contract.h"
#include "contract/pattern.h"
#include "common/error.h"

struct mesh_policy {
	char **pii_classes; /* NULL-terminated, as contract_parse takes them; at least one */
	size_t npii_classes;
	char **detectors; /* NULL-terminated names of the undeclared-PII detectors to run */
	size_t ndetectors;
	enum compat_mode compatibility;
	char **required; /* NULL-terminated contract field paths every contract must fill */
	size_t nrequired;
	char *table_pattern;  /* naming.table as written; NULL when there is no rule */
	char *column_pattern; /* naming.column as written; NULL when there is no rule */
	struct pattern *table_re, *column_re; /* compiled when the pattern is set */
};

/*
 * Parses a policy from text (len bytes; need not be NUL-terminated), named filename in messages.
 * Returns 0 (p owns everything; release it with policy_release), -EINVAL with err
 * "FILE:LINE:COLUMN: …" for text that is not a valid policy, or -ENOMEM. On failure p holds
 * nothing.
 */
int policy_parse(struct mesh_policy *p, const char *text, size_t len, const char *filename,
		 struct mfs_error *err);
void policy_release(struct mesh_policy *p);
/* The policy of a new mesh, as commented YAML: PII is classification pii, every detector runs,
 * compatibility backward, no required fields and no naming rule. */
const char *policy_default_yaml(void);
/*
 * Checks a contract (read from filename) against the policy: every required field filled, every
 * table and column name matching the naming rules. Returns 0, or -EPERM with err listing every
 * violation, one per line ("FILE:LINE:COLUMN: …" where the contract has a position for it).
 */
int policy_check_contract(const struct mesh_policy *p, const struct contract *c,
			  const char *filename, struct mfs_error *err);

#endif
