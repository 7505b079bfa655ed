/*
 * mmapcheck FILE -r REF [-n ROUNDS]
 *
 * Checks that a memory mapping of FILE shows the bytes read() gives and that both are REF's
 * (docs/DESIGN.md §7.5: the page cache of one view is never served to a reader of another). Each
 * round opens FILE, checks that fstat's size is REF's, drops the file's cached pages, maps it,
 * compares the mapping with REF page by page from the end backwards (so that the kernel faults
 * pages in out of order), drops the pages again, reads the whole file with read() and compares that
 * too. Rounds repeat so that readers of other views can run at the same time.
 *
 * Prints one line per mismatch (the first MAX_REPORTS) and a summary line. Exit 0 when every
 * round agrees, 1 on a mismatch, 2 on a usage or I/O error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_REPORTS 20

struct bytes {
	unsigned char *data;
	size_t len;
};

struct checker {
	const char *path;
	const struct bytes *want;
	unsigned char *buf; /* want->len + 1 bytes: a read that gives more is seen */
	unsigned long mismatches;
};

static void usage(void)
{
	fprintf(stderr, "usage: mmapcheck FILE -r REF [-n ROUNDS]\n");
}

static void report(struct checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(struct checker *c, const char *fmt, ...)
{
	va_list ap;

	c->mismatches++;
	if (c->mismatches > MAX_REPORTS)
		return;
	fprintf(stdout, "mmapcheck: %s: ", c->path);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

static int read_ref(const char *path, struct bytes *out)
{
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	out->len = (size_t)st.st_size;
	out->data = malloc(out->len + 1);
	if (!out->data) {
		ret = -ENOMEM;
		goto out;
	}
	while (got < out->len) {
		n = read(fd, out->data + got, out->len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			goto out;
		}
		got += (size_t)n;
	}
out:
	close(fd);
	return ret;
}

static size_t first_difference(const unsigned char *a, const unsigned char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			break;
	return i;
}

/* Compares the mapping of fd with the reference, last page first. */
static int check_mapping(struct checker *c, int fd)
{
	size_t len = c->want->len, page = (size_t)sysconf(_SC_PAGESIZE), start, n, diff;
	unsigned char *map;

	if (!len)
		return 0;
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		int e = errno;

		fprintf(stderr, "mmapcheck: %s: mmap: %s\n", c->path, strerror(e));
		return -e;
	}
	for (start = (len - 1) / page * page;; start -= page) {
		n = len - start < page ? len - start : page;
		diff = first_difference(map + start, c->want->data + start, n);
		if (diff != n) {
			report(c, "the mapping differs at offset %zu", start + diff);
			break;
		}
		if (!start)
			break;
	}
	munmap(map, len);
	return 0;
}

/* Reads the whole file with read() and compares it. */
static int check_read(struct checker *c, int fd)
{
	size_t got = 0, diff;
	ssize_t n;

	for (;;) {
		n = read(fd, c->buf + got, c->want->len + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			fprintf(stderr, "mmapcheck: %s: read: %s\n", c->path, strerror(e));
			return -e;
		}
		if (n == 0 || (got += (size_t)n) > c->want->len)
			break;
	}
	if (got != c->want->len) {
		report(c, "read() gave %s%zu bytes, expected %zu",
		       got > c->want->len ? "more than " : "", got, c->want->len);
		return 0;
	}
	diff = first_difference(c->buf, c->want->data, got);
	if (diff != got)
		report(c, "read() differs at offset %zu", diff);
	return 0;
}

static int check_round(struct checker *c)
{
	struct stat st;
	int fd, ret;

	fd = open(c->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		fprintf(stderr, "mmapcheck: %s: %s\n", c->path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		fprintf(stderr, "mmapcheck: %s: fstat: %s\n", c->path, strerror(-ret));
		goto out;
	}
	if ((uint64_t)st.st_size != c->want->len) {
		/* a mapping of the wrong size would only repeat the same mismatch */
		report(c, "fstat size %lld, expected %zu", (long long)st.st_size, c->want->len);
		ret = 0;
		goto out;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	ret = check_mapping(c, fd);
	if (ret)
		goto out;
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	ret = check_read(c, fd);
out:
	close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	const char *ref_path = NULL;
	unsigned long rounds = 1, i;
	struct bytes ref = {0};
	struct checker c = {0};
	int opt, ret = 0, status = 2;
	char *end;

	while ((opt = getopt(argc, argv, "r:n:h")) != -1) {
		switch (opt) {
		case 'r':
			ref_path = optarg;
			break;
		case 'n':
			rounds = strtoul(optarg, &end, 10);
			if (end == optarg || *end) {
				fprintf(stderr, "mmapcheck: -n needs a number, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc - 1 || !ref_path) {
		usage();
		return 2;
	}
	c.path = argv[optind];
	ret = read_ref(ref_path, &ref);
	if (ret < 0) {
		fprintf(stderr, "mmapcheck: %s: %s\n", ref_path, strerror(-ret));
		goto out;
	}
	c.want = &ref;
	c.buf = malloc(ref.len + 1);
	if (!c.buf) {
		fprintf(stderr, "mmapcheck: out of memory\n");
		goto out;
	}
	for (i = 0; !ret && i < rounds; i++)
		ret = check_round(&c);
	if (ret < 0)
		goto out;
	printf("mmapcheck: %s: %zu bytes, %lu rounds, %lu mismatches\n", c.path, ref.len, rounds,
	       c.mismatches);
	status = c.mismatches ? 1 : 0;
out:
	free(c.buf);
	free(ref.data);
	return status;
}
