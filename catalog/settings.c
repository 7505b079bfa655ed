/* Settings of the mesh: named values that every host of a shared mesh reads alike, such as where
 * its store is. */
#include "catalog/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int setting_name_valid(const char *s)
{
	size_t n;

	if (!s || *s < 'a' || *s > 'z')
		return 0;
	for (n = 0; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') ||
		      strchr(".-_", s[n])))
			return 0;
	return n < MESH_NAME_MAX;
}

int catalog_setting_get(struct catalog *cat, const char *name, char **value)
{
	struct db_stmt *st;
	int rc;

	*value = NULL;
	if (!setting_name_valid(name))
		return -EINVAL;
	rc = db_query(cat->db, ST_SETTING_GET, &st, "t", name);
	if (rc)
		return rc;
	rc = db_step(st);
	if (rc == 1) {
		*value = strdup(db_column_text(st, 0));
		rc = *value ? 0 : -ENOMEM;
	} else if (rc == 0) {
		rc = -ENOENT;
	}
	db_reset(st);
	return rc;
}

int catalog_setting_set(struct catalog *cat, const char *name, const char *value)
{
	if (!setting_name_valid(name) || !value || strlen(value) > CATALOG_SETTING_MAX)
		return -EINVAL;
	return db_exec(cat->db, ST_SETTING_SET, "tt", name, value);
}
