/*
 * preadcheck FILE [-r REF] [-n COUNT] [-s SEED]
 *
 * Checks that random access to FILE is exact (docs/DESIGN.md §6): reads FILE from start to end,
 * then makes COUNT reads at pseudo-random offsets and lengths (fixed seed, so a failure can be
 * replayed) and compares each with the same slice of the sequential read, or of REF when given
 * (then the sequential read must equal REF too). Reads that start near or past the end must be
 * short by exactly the right amount, and fstat must report the size a sequential read gives.
 *
 * The file's cached pages are dropped before the random reads and every few reads after, so
 * that the reads reach the filesystem instead of being served from what the sequential read
 * left in the page cache.
 *
 * Prints one line per mismatch (the first MAX_REPORTS) and a summary line. Exit 0 when every read
 * agrees, 1 on a mismatch, 2 on a usage or I/O error.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_REPORTS 20
#define DROP_EVERY  8

struct bytes {
	unsigned char *data;
	size_t len;
};

struct checker {
	const char *path;
	const struct bytes *want;
	unsigned char *buf;
	size_t buf_len;
	unsigned long reads;
	unsigned long mismatches;
};

static void usage(void)
{
	fprintf(stderr, "usage: preadcheck FILE [-r REF] [-n COUNT] [-s SEED]\n");
}

/* splitmix64: a small PRNG whose sequence is the same on every machine. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t random_below(uint64_t *state, uint64_t bound)
{
	return bound ? next_random(state) % bound : 0;
}

static int read_all(const char *path, struct bytes *out)
{
	size_t cap = 1 << 16;
	int fd, ret = 0;

	out->len = 0;
	out->data = malloc(cap);
	if (!out->data)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (out->len == cap) {
			unsigned char *p = realloc(out->data, cap * 2);

			if (!p) {
				ret = -ENOMEM;
				goto out;
			}
			out->data = p;
			cap *= 2;
		}
		n = read(fd, out->data + out->len, cap - out->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
	}
out:
	if (fd >= 0)
		close(fd);
	if (ret < 0) {
		free(out->data);
		out->data = NULL;
		out->len = 0;
	}
	return ret;
}

/* Offset of the first byte where a and b differ, or the shorter length when one is a prefix. */
static size_t first_difference(const unsigned char *a, size_t alen, const unsigned char *b,
			       size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			break;
	return i;
}

static void report(struct checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(struct checker *c, const char *fmt, ...)
{
	va_list ap;

	c->mismatches++;
	if (c->mismatches > MAX_REPORTS)
		return;
	fprintf(stdout, "preadcheck: %s: ", c->path);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

/*
 * Reads len bytes at off, looping over short reads as a careful reader would, and compares them
 * with the expected slice. Returns 0, or -errno when pread itself fails.
 */
static int check_read(struct checker *c, int fd, uint64_t off, size_t len)
{
	const struct bytes *want = c->want;
	size_t expect_len = 0, got = 0, diff;

	assert(len <= c->buf_len);
	if (off < want->len)
		expect_len = want->len - off < len ? (size_t)(want->len - off) : len;
	while (got < len) {
		ssize_t n = pread(fd, c->buf + got, len - got, (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			fprintf(stderr, "preadcheck: %s: pread(off=%" PRIu64 ", len=%zu): %s\n",
				c->path, off, len, strerror(e));
			return -e;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	c->reads++;
	if (got != expect_len) {
		report(c, "pread(off=%" PRIu64 ", len=%zu) gave %zu bytes, expected %zu", off, len,
		       got, expect_len);
		return 0;
	}
	if (!expect_len)
		return 0;
	diff = first_difference(c->buf, got, want->data + off, expect_len);
	if (diff != got)
		report(c, "pread(off=%" PRIu64 ", len=%zu) differs at file offset %" PRIu64, off,
		       len, off + diff);
	return 0;
}

/* Drops the file's cached pages so that the next reads reach the filesystem (best effort). */
static void drop_cache(int fd)
{
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

/*
 * Lengths of three kinds: a few bytes (cells and line ends), up to a few pages, and up to a few
 * MiB (spanning row groups, larger than one FUSE request).
 */
static size_t random_length(uint64_t *state, size_t max)
{
	size_t len;

	switch (random_below(state, 3)) {
	case 0:
		len = 1 + random_below(state, 64);
		break;
	case 1:
		len = 1 + random_below(state, 3 * 4096);
		break;
	default:
		len = 1 + random_below(state, 3 << 20);
		break;
	}
	return len < max ? len : max;
}

/* Offsets anywhere in the file, near its end, and past it. */
static uint64_t random_offset(uint64_t *state, uint64_t size)
{
	switch (random_below(state, 8)) {
	case 0:
		return size > 4096 ? size - random_below(state, 4096)
				   : random_below(state, size + 1);
	case 1:
		return size + random_below(state, 8192);
	default:
		return random_below(state, size + 1);
	}
}

static int check_file(struct checker *c, unsigned long count, uint64_t seed)
{
	/* Reads that cross or start at the end, and one of the whole file and more. */
	const struct {
		int64_t from_end;
		size_t len;
	} edges[] = {
	    {1, 1}, {1, 2}, {10, 100}, {0, 1}, {0, 4096}, {-100, 10}, {4096, 8192},
	};
	uint64_t state = seed;
	uint64_t size = c->want->len;
	struct stat st;
	size_t i;
	int fd, ret = 0;

	fd = open(c->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "preadcheck: %s: %s\n", c->path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		fprintf(stderr, "preadcheck: %s: fstat: %s\n", c->path, strerror(errno));
		goto out;
	}
	if ((uint64_t)st.st_size != size)
		report(c, "fstat size %" PRIu64 ", expected %" PRIu64 " bytes",
		       (uint64_t)st.st_size, size);
	drop_cache(fd);
	ret = check_read(c, fd, 0, size + 100);
	for (i = 0; !ret && i < sizeof(edges) / sizeof(edges[0]); i++) {
		int64_t off = (int64_t)size - edges[i].from_end;

		drop_cache(fd);
		ret = check_read(c, fd, off < 0 ? 0 : (uint64_t)off, edges[i].len);
	}
	for (unsigned long n = 0; !ret && n < count; n++) {
		uint64_t off = random_offset(&state, size);

		if (n % DROP_EVERY == 0)
			drop_cache(fd);
		ret = check_read(c, fd, off, random_length(&state, c->buf_len));
	}
out:
	close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	const char *ref_path = NULL;
	unsigned long count = 1000;
	uint64_t seed = 1;
	struct bytes seq = {0}, ref = {0};
	struct checker c = {0};
	int opt, ret, status = 2;

	while ((opt = getopt(argc, argv, "r:n:s:h")) != -1) {
		char *end = NULL;

		switch (opt) {
		case 'r':
			ref_path = optarg;
			break;
		case 'n':
			count = strtoul(optarg, &end, 10);
			break;
		case 's':
			seed = strtoull(optarg, &end, 10);
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
		if (end && (end == optarg || *end)) {
			fprintf(stderr, "preadcheck: -%c needs a number, not '%s'\n", opt, optarg);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage();
		return 2;
	}
	c.path = argv[optind];
	ret = read_all(c.path, &seq);
	if (ret < 0) {
		fprintf(stderr, "preadcheck: %s: %s\n", c.path, strerror(-ret));
		goto out;
	}
	c.want = &seq;
	if (ref_path) {
		size_t diff;

		ret = read_all(ref_path, &ref);
		if (ret < 0) {
			fprintf(stderr, "preadcheck: %s: %s\n", ref_path, strerror(-ret));
			goto out;
		}
		diff = first_difference(seq.data, seq.len, ref.data, ref.len);
		if (diff != seq.len || seq.len != ref.len)
			report(&c,
			       "a sequential read (%zu bytes) differs from %s (%zu bytes) at %zu",
			       seq.len, ref_path, ref.len, diff);
		c.want = &ref;
	}
	/* Room for a read of the whole file and past its end, or the largest random read. */
	c.buf_len = (c.want->len > (3 << 20) ? c.want->len : (3 << 20)) + 8192;
	c.buf = malloc(c.buf_len);
	if (!c.buf) {
		fprintf(stderr, "preadcheck: out of memory\n");
		goto out;
	}
	ret = check_file(&c, count, seed);
	if (ret < 0)
		goto out;
	printf("preadcheck: %s: %zu bytes, %lu reads, %lu mismatches (seed %" PRIu64 ")\n", c.path,
	       c.want->len, c.reads, c.mismatches, seed);
	status = c.mismatches ? 1 : 0;
out:
	free(c.buf);
	free(seq.data);
	free(ref.data);
	return status;
}
