#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mfs_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* A regular file only writes nothing when there is no room left. */
		if (n == 0)
			return -ENOSPC;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int mfs_fsync_dirat(int dfd, const char *name)
{
	int fd, rc = 0;

	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

char *mfs_parent_dup(const char *file)
{
	char *copy = strdup(file), *slash;

	if (!copy)
		return NULL;
	slash = strrchr(copy, '/');
	if (!slash) {
		free(copy);
		return strdup(".");
	}
	if (slash == copy)
		copy[1] = '\0';
	else
		*slash = '\0';
	return copy;
}

int mfs_fsync_parent(const char *file)
{
	char *dir = mfs_parent_dup(file);
	int rc;

	if (!dir)
		return -ENOMEM;
	rc = mfs_fsync_dirat(AT_FDCWD, dir);
	free(dir);
	return rc;
}
