#include "tests/unit/helpers.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>

ssize_t mem_read(void *ctx, void *buf, size_t len)
{
	struct mem_source *m = ctx;
	size_t n = m->len - m->pos;

	if (m->fail_at && ++m->calls == m->fail_at)
		return -EIO;
	if (n > len)
		n = len;
	if (m->step && n > m->step)
		n = m->step;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

int remove_tree(const char *dir)
{
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
