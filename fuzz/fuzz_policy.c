/*
 * The mesh policy (contract/policy.h): parsing any bytes, and checking contracts against it.
 *
 * Input: a policy's YAML text; if a line "#contract" follows it, the text after that line is a
 * contract, else a small built-in contract is checked.
 *
 * Checks: the default policy parses; a rejection says why; an accepted policy has at least one
 * PII classification, only known detectors, a known compatibility mode, and its lists end in
 * NULL; parsing again gives the same answer; checking a contract (parsed with the policy's PII
 * classifications) either passes without a word or fails with -EPERM saying why, and a policy
 * without required fields or naming rules passes every contract.
 */
#include <errno.h>
#include <string.h>

#include "contract/compat.h"
#include "contract/contract.h"
#include "contract/policy.h"
#include "fuzz/fuzz.h"
#include "table/detect.h"

#define MARKER "\n#contract\n"

static const char builtin_contract[] = "apiVersion: v3.0.2\n"
				       "kind: DataContract\n"
				       "version: 1.0.0\n"
				       "domain: shop\n"
				       "dataProduct: orders\n"
				       "schema:\n"
				       "  - name: Orders_2024\n"
				       "    physicalType: table\n"
				       "    properties:\n"
				       "      - name: id\n"
				       "        logicalType: integer\n"
				       "      - name: email\n"
				       "        logicalType: string\n"
				       "        classification: sensitive\n"
				       "        description: where to write\n";

static void check_list(char **list, size_t n)
{
	FUZZ_CHECK(list && !list[n]);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(list[i] && list[i][0]);
}

static void check_policy(const struct mesh_policy *p)
{
	check_list(p->pii_classes, p->npii_classes);
	FUZZ_CHECK(p->npii_classes >= 1);
	check_list(p->detectors, p->ndetectors);
	for (size_t i = 0; i < p->ndetectors; i++)
		FUZZ_CHECK(detector_find(p->detectors[i]));
	FUZZ_CHECK(p->compatibility == COMPAT_BACKWARD || p->compatibility == COMPAT_NONE);
	check_list(p->required, p->nrequired);
}

static void check_contract(const struct mesh_policy *p, const char *text, size_t len)
{
	struct mfs_error err;
	struct contract c;
	int rc;

	mfs_error_clear(&err);
	if (contract_parse(&c, text, len, "contract.yaml", (const char *const *)p->pii_classes,
			   &err))
		return;
	rc = policy_check_contract(p, &c, "contract.yaml", &err);
	FUZZ_CHECK(rc == 0 || rc == -EPERM);
	FUZZ_CHECK(rc ? !!err.msg[0] : !err.msg[0]);
	if (!p->nrequired && !p->table_pattern && !p->column_pattern)
		FUZZ_CHECK(rc == 0);
	contract_release(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int checked_default;
	const char *text = (const char *)data, *contract = builtin_contract;
	size_t len = size, clen = sizeof(builtin_contract) - 1;
	struct mesh_policy p;
	struct mfs_error ea, eb;
	int ra, rb;

	fuzz_begin();
	if (!checked_default) {
		const char *yaml = policy_default_yaml();

		mfs_error_clear(&ea);
		FUZZ_CHECK(!policy_parse(&p, yaml, strlen(yaml), "policy.yaml", &ea));
		check_policy(&p);
		policy_release(&p);
		checked_default = 1;
	}
	if (size) {
		const char *m = memmem(data, size, MARKER, strlen(MARKER));

		if (m) {
			len = (size_t)(m - text) + 1;
			contract = m + strlen(MARKER);
			clen = size - len - (strlen(MARKER) - 1);
		}
	}
	if (fuzz_regex_heavy(text, len))
		return 0;
	mfs_error_clear(&ea);
	mfs_error_clear(&eb);
	ra = policy_parse(&p, text, len, "policy.yaml", &ea);
	FUZZ_CHECK(ra == 0 || ra == -EINVAL);
	FUZZ_CHECK(ra == 0 || ea.msg[0]);
	if (!ra) {
		check_policy(&p);
		check_contract(&p, contract, clen);
		policy_release(&p);
	}
	rb = policy_parse(&p, text, len, "policy.yaml", &eb);
	FUZZ_CHECK(ra == rb && !strcmp(ea.msg, eb.msg));
	if (!rb)
		policy_release(&p);
	return 0;
}
