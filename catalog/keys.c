/* Keys, wrapped by the master key (acl/keys.h): one active per kind and domain. */
#include "catalog/internal.h"

#include <errno.h>
#include <string.h>

#define KEY_WRAPPED_MAX 4096

/* The domain id a key of kind belongs to: 0 for the mask key (no domain). */
static int key_domain(struct catalog *cat, const char *kind, const char *domain, int64_t *id)
{
	*id = 0;
	if (kind && !strcmp(kind, "mask"))
		return domain ? -EINVAL : 0;
	if (!kind || strcmp(kind, "data") || !catalog_name_valid(domain))
		return -EINVAL;
	return catalog_domain_id(cat, domain, id);
}

int catalog_key_add(struct catalog *cat, const char *kind, const char *domain,
		    const uint8_t *wrapped, size_t len, int64_t now, uint32_t *id)
{
	int64_t domain_id, key_id = 0;
	int rc;

	if (!wrapped || !len || len > KEY_WRAPPED_MAX)
		return -EINVAL;
	rc = key_domain(cat, kind, domain, &domain_id);
	if (rc)
		return rc;
	rc = db_begin(cat->db);
	if (rc)
		return rc;
	rc = db_exec(cat->db, ST_KEY_DEACTIVATE, "ti", kind, domain_id);
	if (!rc)
		rc = db_lookup(cat->db, ST_KEY_INSERT, &key_id, "tibi", kind, domain_id,
			       (const void *)wrapped, len, now);
	if (!rc && key_id > UINT32_MAX)
		rc = -EOVERFLOW;
	rc = db_finish(cat->db, rc);
	if (!rc && id)
		*id = (uint32_t)key_id;
	return rc;
}

/* Copies the wrapped key in column col of the statement's current row. */
static int key_copy(struct db_stmt *st, int col, uint8_t *wrapped, size_t len)
{
	size_t n;
	const void *blob = db_column_blob(st, col, &n);

	if (!blob || n != len)
		return -EINVAL;
	memcpy(wrapped, blob, len);
	return 0;
}

int catalog_key_get(struct catalog *cat, uint32_t id, uint8_t *wrapped, size_t len)
{
	struct db_stmt *st;
	int rc;

	rc = db_query(cat->db, ST_KEY_GET, &st, "i", (int64_t)id);
	if (rc)
		return rc;
	rc = db_step(st);
	if (rc == 1)
		rc = key_copy(st, 0, wrapped, len);
	else if (rc == 0)
		rc = -ENOENT;
	db_reset(st);
	return rc;
}

int catalog_key_active(struct catalog *cat, const char *kind, const char *domain, uint32_t *id,
		       uint8_t *wrapped, size_t len)
{
	struct db_stmt *st;
	int64_t domain_id;
	int rc;

	rc = key_domain(cat, kind, domain, &domain_id);
	if (rc)
		return rc;
	rc = db_query(cat->db, ST_KEY_ACTIVE, &st, "ti", kind, domain_id);
	if (rc)
		return rc;
	rc = db_step(st);
	if (rc == 1) {
		*id = (uint32_t)db_column_int64(st, 0);
		rc = key_copy(st, 1, wrapped, len);
	} else if (rc == 0) {
		rc = -ENOENT;
	}
	db_reset(st);
	return rc;
}
