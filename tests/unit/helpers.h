/* What several unit suites share: in-memory sources for the readers, temporary trees. */
#ifndef MESHFS_TEST_HELPERS_H
#define MESHFS_TEST_HELPERS_H

#include <stddef.h>
#include <sys/types.h>

/* An in-memory source handing out at most step bytes per call. */
struct mem_source {
	const char *data;
	size_t len, pos, step; /* step 0: as much as asked */
	int fail_at;	       /* call number that fails with -EIO; 0: never */
	int calls;
};

/* Reads from a struct mem_source, as the readers' read callbacks do: bytes, 0 at the end. */
ssize_t mem_read(void *ctx, void *buf, size_t len);

/* Removes dir and all below it, links not followed. Returns 0 or -1 as nftw does. */
int remove_tree(const char *dir);

#endif
