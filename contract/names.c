#include "contract/names.h"

#include <stddef.h>

int mesh_name_valid(const char *name)
{
	size_t i;
	char c;

	for (i = 0; name[i]; i++) {
		c = name[i];
		if (i >= MESH_NAME_MAX - 1)
			return 0;
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (i > 0 && (c == '_' || c == '-'))
			continue;
		return 0;
	}
	return i > 0;
}
