/*
 * bench-pread: random reads of a file, the way DuckDB and pandas read, for bench/run
 * (docs/PERFORMANCE.md).
 *
 *   bench-pread FILE [-n COUNT] [-b BYTES] [-s SEED]
 *
 * Makes COUNT (default 10000) preads of BYTES (default 4096) at pseudo-random offsets of FILE,
 * not aligned to pages, drawn from a fixed seed so that a second run reads the very same places
 * (the "again" figure). Each read must return BYTES bytes. Prints one line:
 *
 *   reads=10000 bytes=40960000 seconds=0.210 mbps=195.0 iops=47619
 *
 * (mbps: 10^6 bytes a second). The buffer is zeroed before exit: the file may be a plain view.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/splitmix.h"

static void usage(void)
{
	fprintf(stderr, "usage: bench-pread FILE [-n COUNT] [-b BYTES] [-s SEED]\n");
}

/* Makes the reads; -errno on the first that fails or comes back short. */
static int read_all(int fd, char *buf, size_t bytes, uint64_t size, unsigned long count,
		    uint64_t seed)
{
	uint64_t state = seed, off;
	ssize_t got;

	for (unsigned long i = 0; i < count; i++) {
		off = splitmix_next(&state) % (size - bytes + 1);
		got = pread(fd, buf, bytes, (off_t)off);
		if (got < 0)
			return -errno;
		if ((size_t)got != bytes)
			return -EIO;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	unsigned long count = 10000;
	size_t bytes = 4096;
	uint64_t seed = 1;
	struct timespec t0, t1;
	struct stat st;
	char *buf = NULL;
	double secs;
	int fd = -1, rc = 1;

	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && !strcmp(argv[i], "-n"))
			count = strtoul(argv[++i], NULL, 10);
		else if (i + 1 < argc && !strcmp(argv[i], "-b"))
			bytes = (size_t)strtoul(argv[++i], NULL, 10);
		else if (i + 1 < argc && !strcmp(argv[i], "-s"))
			seed = strtoull(argv[++i], NULL, 10);
		else if (argv[i][0] != '-' && !path)
			path = argv[i];
		else {
			usage();
			return 2;
		}
	}
	if (!path || !count || !bytes) {
		usage();
		return 2;
	}
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "bench-pread: %s: %s\n", path, strerror(errno));
		goto out;
	}
	if ((uint64_t)st.st_size < bytes) {
		fprintf(stderr, "bench-pread: %s: smaller than one read\n", path);
		goto out;
	}
	buf = malloc(bytes);
	if (!buf) {
		fprintf(stderr, "bench-pread: out of memory\n");
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = read_all(fd, buf, bytes, (uint64_t)st.st_size, count, seed);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc) {
		fprintf(stderr, "bench-pread: %s: %s\n", path, strerror(-rc));
		rc = 1;
		goto out;
	}
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("reads=%lu bytes=%llu seconds=%.4f mbps=%.1f iops=%.0f\n", count,
	       (unsigned long long)count * bytes, secs, (double)count * (double)bytes / secs / 1e6,
	       (double)count / secs);
out:
	if (buf)
		explicit_bzero(buf, bytes);
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}
