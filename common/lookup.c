#include "common/lookup.h"

#include <string.h>
#include <strings.h>

int mfs_name_index(const char *const *name, size_t n, size_t stride, const char *s, int fold)
{
	const char *entry = (const char *)name;
	size_t i;

	for (i = 0; i < n; i++, entry += stride) {
		const char *const *p = (const char *const *)entry;

		if (fold ? !strcasecmp(*p, s) : !strcmp(*p, s))
			return (int)i;
	}
	return -1;
}
