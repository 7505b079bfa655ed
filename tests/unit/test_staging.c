#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/staging.h"

struct fixture {
	char dir[64];
	struct staging *st;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/meshfs-test-staging-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	if (staging_create(&f->st, f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	staging_free(f->st);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A model of the file in memory, compared with what the staged file reads back. */
static void check_equal(struct staging *st, const uint8_t *model, size_t size)
{
	uint8_t *buf = malloc(size + 100);

	assert_int_equal(staging_size(st), size);
	assert_int_equal(staging_pread(st, buf, size + 100, 0), (ssize_t)size);
	assert_memory_equal(buf, model, size);
	free(buf);
}

static void test_random_writes_read_back(void **state)
{
	struct fixture *f = *state;
	size_t cap = 400000, size = 0;
	uint8_t *model = calloc(1, cap), chunk[9000];
	unsigned seed = 7;

	for (int i = 0; i < 300; i++) {
		size_t off = (size_t)rand_r(&seed) % (cap - sizeof(chunk));
		size_t len = 1 + (size_t)rand_r(&seed) % sizeof(chunk);

		for (size_t k = 0; k < len; k++)
			chunk[k] = (uint8_t)rand_r(&seed);
		assert_int_equal(staging_pwrite(f->st, chunk, len, off), (ssize_t)len);
		memcpy(model + off, chunk, len);
		if (off + len > size)
			size = off + len;
	}
	check_equal(f->st, model, size);
	/* shrink to mid-block, grow again: the dropped tail reads as zeros */
	assert_int_equal(staging_truncate(f->st, 70000), 0);
	assert_int_equal(staging_truncate(f->st, 140000), 0);
	memset(model + 70000, 0, 70000);
	check_equal(f->st, model, 140000);
	free(model);
}

static void test_sparse_write_gives_zeros(void **state)
{
	struct fixture *f = *state;
	uint8_t model[300000] = {0};

	assert_int_equal(staging_pwrite(f->st, "tail", 4, 299996), 4);
	memcpy(model + 299996, "tail", 4);
	check_equal(f->st, model, sizeof(model));
}

/* The plaintext must not be found in the file on disk (nor in any file of the directory). */
static void test_nothing_in_the_clear(void **state)
{
	struct fixture *f = *state;
	static const char secret[] = "alice.secret@example.com,+4915112345678";
	char buf[1 << 16];
	struct dirent *e;
	DIR *d;

	for (int i = 0; i < 100; i++)
		assert_int_equal(staging_pwrite(f->st, secret, sizeof(secret) - 1,
						(uint64_t)i * (sizeof(secret) - 1)),
				 (ssize_t)sizeof(secret) - 1);
	d = opendir(f->dir);
	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[512];
		int fd;
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", f->dir, e->d_name);
		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			assert_null(memmem(buf, (size_t)n, "alice.secret", 12));
		close(fd);
	}
	closedir(d);
	/* The unlinked file is reachable through /proc: check it there too. */
	{
		char link[64], path[256];
		int fd;
		ssize_t n;
		int found_fd = 0;

		for (int i = 3; i < 64; i++) {
			snprintf(link, sizeof(link), "/proc/self/fd/%d", i);
			n = readlink(link, path, sizeof(path) - 1);
			if (n <= 0)
				continue;
			path[n] = '\0';
			if (!strstr(path, f->dir))
				continue;
			found_fd = 1;
			fd = open(link, O_RDONLY);
			assert_true(fd >= 0);
			while ((n = read(fd, buf, sizeof(buf))) > 0)
				assert_null(memmem(buf, (size_t)n, "alice.secret", 12));
			close(fd);
		}
		assert_true(found_fd);
	}
}

static void test_second_stage_cannot_read_first(void **state)
{
	struct fixture *f = *state;
	struct staging *other;
	char buf[8];

	assert_int_equal(staging_pwrite(f->st, "abcdefgh", 8, 0), 8);
	assert_int_equal(staging_create(&other, f->dir), 0);
	assert_int_equal(staging_pread(other, buf, 8, 0), 0);
	staging_free(other);
	assert_int_equal(staging_pread(f->st, buf, 8, 0), 8);
	assert_memory_equal(buf, "abcdefgh", 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_random_writes_read_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sparse_write_gives_zeros, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nothing_in_the_clear, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_second_stage_cannot_read_first, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
