/* Checks of the names the catalog stores, made before they are written (the schema checks their
 * length again). */
#include "catalog/internal.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

void catalog_name_copy(char dst[MESH_NAME_MAX], const char *src)
{
	size_t n = strlen(src);

	assert(n < MESH_NAME_MAX);
	memcpy(dst, src, n + 1);
}

int catalog_name_valid(const char *s)
{
	return s && mesh_name_valid(s);
}

int catalog_user_name_valid(const char *s)
{
	size_t n;

	if (!s)
		return 0;
	n = strlen(s);
	if (n == 0 || n >= MESH_NAME_MAX)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == ':')
			return 0;
	return 1;
}

int catalog_pair_split(const char *s, char domain[MESH_NAME_MAX], char product[MESH_NAME_MAX])
{
	const char *slash;
	size_t n;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash)
		return -EINVAL;
	n = (size_t)(slash - s);
	if (n >= MESH_NAME_MAX || strlen(slash + 1) >= MESH_NAME_MAX)
		return -EINVAL;
	memcpy(domain, s, n);
	domain[n] = '\0';
	strcpy(product, slash + 1);
	if (!catalog_name_valid(domain) || !catalog_name_valid(product))
		return -EINVAL;
	return 0;
}

int catalog_one_of(const char *s, const char *const *set, size_t n)
{
	size_t i;

	if (!s)
		return 0;
	for (i = 0; i < n; i++)
		if (!strcmp(s, set[i]))
			return 1;
	return 0;
}
