/*
 * The contract parser (contract/contract.h) on any bytes, taken whole as the YAML text.
 *
 * Checks: a rejection says why; an accepted contract has what contract.h promises (valid names,
 * no duplicate tables or columns, a table found by its name, PII only where classified so);
 * parsing again gives the same answer; with more PII classifications a column can only become
 * PII, never stop being it.
 */
#include <errno.h>
#include <string.h>

#include "contract/contract.h"
#include "fuzz/fuzz.h"

static const char *const pii_classes[] = {"pii", "sensitive", NULL};

static void check_table(const struct contract *c, const struct contract_table *t)
{
	FUZZ_CHECK(mesh_name_valid(t->name));
	FUZZ_CHECK(contract_table(c, t->name) == t);
	FUZZ_CHECK(t->ncolumns >= 1);
	for (size_t i = 0; i < t->ncolumns; i++) {
		const struct contract_column *col = &t->columns[i];

		FUZZ_CHECK(mesh_name_valid(col->name));
		FUZZ_CHECK(logical_type_name(col->type) != NULL);
		FUZZ_CHECK((unsigned)col->mask <= MASK_NULL);
		FUZZ_CHECK(!col->pii || col->classification);
		FUZZ_CHECK(col->min_length >= -1 && col->max_length >= -1);
		for (size_t k = 0; k < i; k++)
			FUZZ_CHECK(strcmp(t->columns[k].name, col->name));
	}
}

static void check_contract(const struct contract *c)
{
	FUZZ_CHECK(c->api_version && !strncmp(c->api_version, "v3.", 3));
	FUZZ_CHECK(mesh_name_valid(c->domain) && mesh_name_valid(c->data_product));
	FUZZ_CHECK(c->version && c->id && c->name && c->status);
	FUZZ_CHECK(c->major >= 0 && c->minor >= 0 && c->patch >= 0);
	FUZZ_CHECK(c->frequency_seconds >= 0);
	for (size_t i = 0; i < c->ntables; i++) {
		check_table(c, &c->tables[i]);
		for (size_t k = 0; k < i; k++)
			FUZZ_CHECK(strcmp(c->tables[k].name, c->tables[i].name));
	}
	for (size_t i = 0; i < c->nteam; i++)
		FUZZ_CHECK(c->team[i].username);
	for (size_t i = 0; i < c->ntags; i++)
		FUZZ_CHECK(c->tags[i]);
	for (size_t i = 0; i < c->ninputs; i++)
		FUZZ_CHECK(c->inputs[i]);
}

/* b was parsed from the same text as a, with fewer PII classifications. */
static void check_same(const struct contract *a, const struct contract *b)
{
	FUZZ_CHECK(a->ntables == b->ntables);
	FUZZ_CHECK(!strcmp(a->version, b->version) && !strcmp(a->domain, b->domain));
	for (size_t i = 0; i < a->ntables; i++) {
		const struct contract_table *ta = &a->tables[i], *tb = &b->tables[i];

		FUZZ_CHECK(!strcmp(ta->name, tb->name) && ta->ncolumns == tb->ncolumns);
		for (size_t k = 0; k < ta->ncolumns; k++) {
			FUZZ_CHECK(!strcmp(ta->columns[k].name, tb->columns[k].name));
			FUZZ_CHECK(ta->columns[k].pii || !tb->columns[k].pii);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct contract a, b;
	struct mfs_error ea, eb;
	int ra, rb;

	fuzz_begin();
	mfs_error_clear(&ea);
	mfs_error_clear(&eb);
	ra = contract_parse(&a, (const char *)data, size, "fuzz.yaml", pii_classes, &ea);
	FUZZ_CHECK(ra == 0 || ra == -EINVAL);
	FUZZ_CHECK(ra == 0 || ea.msg[0]);
	if (!ra)
		check_contract(&a);

	/* The struct is reusable after a release, and the answer does not change. */
	contract_release(&a);
	rb = contract_parse(&a, (const char *)data, size, "fuzz.yaml", pii_classes, &eb);
	FUZZ_CHECK(ra == rb && !strcmp(ea.msg, eb.msg));

	mfs_error_clear(&eb);
	rb = contract_parse(&b, (const char *)data, size, "fuzz.yaml", NULL, &eb);
	FUZZ_CHECK(rb == 0 || rb == -EINVAL);
	if (!ra && !rb)
		check_same(&a, &b);
	contract_release(&a);
	contract_release(&b);
	return 0;
}
