/*
 * What the files of the catalog share: the struct catalog, the ids of its statements (their
 * text is in catalog/statements.c) and the checks and lookups more than one concern makes.
 */
#ifndef MESHFS_CATALOG_INTERNAL_H
#define MESHFS_CATALOG_INTERNAL_H

#include <stdint.h>

#include "catalog/catalog.h"
#include "catalog/db.h"

struct catalog {
	struct db *db;
	/* where the key sealing the audit chain comes from (catalog_audit_keyer) */
	int (*audit_keyer)(void *ctx, uint8_t key[CATALOG_AUDIT_KEY]);
	void *audit_keyer_ctx;
	int audit_key_state;	 /* 0: not asked yet; 1: in audit_key; -errno: the keyer cannot */
	int audit_unsealed_told; /* whether a row written unsealed was logged */
	uint8_t *audit_key; /* CATALOG_AUDIT_KEY bytes of libsodium's guarded memory, or NULL */
};

/* The migrations and statements of the catalog, by enum catalog_stmt. */
extern const struct db_schema catalog_schema;

enum catalog_stmt {
	ST_TEAM_INSERT,
	ST_TEAM_ID,
	ST_MEMBER_INSERT,
	ST_MEMBER_DELETE,
	ST_MEMBER_HAS,
	ST_TEAM_LIST,
	ST_USER_TEAMS,
	ST_DOMAIN_INSERT,
	ST_DOMAIN_ID,
	ST_DOMAIN_GET,
	ST_DOMAIN_GET_BY_ID,
	ST_DOMAIN_LIST,
	ST_PRODUCT_INSERT,
	ST_PRODUCT_ID,
	ST_PRODUCT_EXISTS,
	ST_PRODUCT_GET,
	ST_PRODUCT_GET_BY_ID,
	ST_PRODUCT_LIST,
	ST_PRODUCT_STATES,
	ST_PRODUCT_NAMES,
	ST_DOMAIN_COUNT,
	ST_CONTRACT_MAXSEQ,
	ST_CONTRACT_INSERT,
	ST_CONTRACT_TABLE_INSERT,
	ST_INPUTS_DELETE,
	ST_INPUT_INSERT,
	ST_SEARCH_PUT,
	ST_CONTRACT_GET,
	ST_DOWNSTREAM,
	ST_DOWNSTREAM_ALL,
	ST_UPSTREAM,
	ST_SEARCH,
	ST_VERSION_MAX,
	ST_VERSION_INSERT,
	ST_VTABLE_INSERT,
	ST_VTABLE_CARRY,
	ST_VERSION_TOTALS,
	ST_VERSION_GET,
	ST_VERSION_LIST,
	ST_VERSION_RANGE,
	ST_VERSION_AT,
	ST_SEGMENTS,
	ST_GRANT_INSERT,
	ST_GRANT_DELETE,
	ST_GRANT_LIST,
	ST_GRANT_LIST_ALL,
	ST_GRANT_LIST_AT,
	ST_AUDIT_INSERT,
	ST_AUDIT_LIST,
	ST_AUDIT_RECENT,
	ST_AUDIT_HEAD,
	ST_AUDIT_BEFORE,
	ST_AUDIT_CHAIN,
	ST_POLICY_INSERT,
	ST_POLICY_GET,
	ST_KEY_DEACTIVATE,
	ST_KEY_INSERT,
	ST_KEY_GET,
	ST_KEY_ACTIVE,
	ST_SETTING_GET,
	ST_SETTING_SET,
	/* a whole table, read from one catalog and written into another (catalog_copy) */
	ST_COPY_FROM_TEAMS,
	ST_COPY_INTO_TEAMS,
	ST_COPY_FROM_MEMBERS,
	ST_COPY_INTO_MEMBERS,
	ST_COPY_FROM_DOMAINS,
	ST_COPY_INTO_DOMAINS,
	ST_COPY_FROM_PRODUCTS,
	ST_COPY_INTO_PRODUCTS,
	ST_COPY_FROM_CONTRACTS,
	ST_COPY_INTO_CONTRACTS,
	ST_COPY_FROM_CTABLES,
	ST_COPY_INTO_CTABLES,
	ST_COPY_FROM_INPUTS,
	ST_COPY_INTO_INPUTS,
	ST_COPY_FROM_SEARCHTEXT,
	ST_COPY_INTO_SEARCHTEXT,
	ST_COPY_FROM_VERSIONS,
	ST_COPY_INTO_VERSIONS,
	ST_COPY_FROM_VTABLES,
	ST_COPY_INTO_VTABLES,
	ST_COPY_FROM_GRANTS,
	ST_COPY_INTO_GRANTS,
	ST_COPY_FROM_AUDIT,
	ST_COPY_INTO_AUDIT,
	ST_COPY_FROM_KEYS,
	ST_COPY_INTO_KEYS,
	ST_COPY_FROM_POLICIES,
	ST_COPY_INTO_POLICIES,
	ST_COPY_FROM_SETTINGS,
	ST_COPY_INTO_SETTINGS,
	ST_COPY_RESTART,
	ST_COUNT
};

/* mesh_name_valid(), with NULL for invalid. */
int catalog_name_valid(const char *s);
/* A Unix user or group name as the system gives it (or a decimal uid): printable, without
 * spaces (team members are listed space-separated) or colons (principals are "kind:NAME"). */
int catalog_user_name_valid(const char *s);
/* Splits "DOMAIN/PRODUCT" into two valid names; -EINVAL if it is not that. */
int catalog_pair_split(const char *s, char domain[MESH_NAME_MAX], char product[MESH_NAME_MAX]);
/* Whether s (NULL: no) is one of the n strings of set. */
int catalog_one_of(const char *s, const char *const *set, size_t n);
#define CATALOG_ONE_OF(s, set) catalog_one_of(s, set, sizeof(set) / sizeof(set[0]))
/* Copies a name read back from the catalog, whose schema bounds its length. */
void catalog_name_copy(char dst[MESH_NAME_MAX], const char *src);

/* The id of the domain with the valid name name; -ENOENT if there is none. */
int catalog_domain_id(struct catalog *cat, const char *name, int64_t *id);
/* 0 if the product with id exists, else -ENOENT. */
int catalog_product_exists(struct catalog *cat, int64_t id);
/* Fills p from row i of a statement that selects PRODUCT_COLUMNS (catalog/statements.c); its
 * strings stay in r. */
void catalog_product_from_row(struct catalog_product *p, const struct db_rows *r, size_t i);
/* From the only row of r, (yaml, seq), if any: a copy of the text in *yaml and the number in
 * *seq (seq may be NULL); -ENOENT if r has no row. Releases r. */
int catalog_yaml_take(struct db_rows *r, char **yaml, int64_t *seq);

#endif
