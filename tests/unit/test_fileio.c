#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/fileio.h"

/*
 * Short writes, EINTR and a write that makes no progress do not happen on demand with a real
 * file, so this program's write() stands in for libc's: it fails or shortens calls as told and
 * passes the rest to the kernel.
 */
static struct {
	int eintr;   /* calls still to fail with EINTR */
	int error;   /* errno of every call when set */
	int stall;   /* every call writes nothing */
	size_t most; /* bytes a call writes at most; 0: no limit */
	int calls;   /* calls that reached the kernel */
} fake;

ssize_t write(int fd, const void *buf, size_t len)
{
	if (fake.eintr) {
		fake.eintr--;
		errno = EINTR;
		return -1;
	}
	if (fake.error) {
		errno = fake.error;
		return -1;
	}
	if (fake.stall)
		return 0;
	if (fake.most && len > fake.most)
		len = fake.most;
	fake.calls++;
	return syscall(SYS_write, fd, buf, len);
}

struct fixture {
	char dir[64];
	char file[96];
	int fd;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	memset(&fake, 0, sizeof(fake));
	strcpy(f->dir, "/tmp/meshfs-test-fileio-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->file, sizeof(f->file), "%s/data", f->dir);
	f->fd = open(f->file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(f->fd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->fd);
	unlink(f->file);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The file's whole content must be exactly want. */
static void assert_content(struct fixture *f, const char *want, size_t len)
{
	char got[256];

	assert_true(len < sizeof(got));
	assert_int_equal(pread(f->fd, got, sizeof(got), 0), (ssize_t)len);
	assert_memory_equal(got, want, len);
}

static void test_write_whole(void **state)
{
	struct fixture *f = *state;
	const char text[] = "all of it at once";

	assert_int_equal(mfs_write_all(f->fd, text, sizeof(text)), 0);
	assert_int_equal(fake.calls, 1);
	assert_content(f, text, sizeof(text));
	assert_int_equal(mfs_write_all(f->fd, text, 0), 0);
	assert_int_equal(fake.calls, 1);
}

static void test_write_short(void **state)
{
	struct fixture *f = *state;
	const char text[] = "written three bytes a call";

	fake.most = 3;
	assert_int_equal(mfs_write_all(f->fd, text, sizeof(text)), 0);
	assert_int_equal(fake.calls, (sizeof(text) + 2) / 3);
	assert_content(f, text, sizeof(text));
}

static void test_write_eintr(void **state)
{
	struct fixture *f = *state;
	const char text[] = "interrupted, then resumed";

	fake.eintr = 2;
	fake.most = 10;
	assert_int_equal(mfs_write_all(f->fd, text, sizeof(text)), 0);
	assert_int_equal(fake.eintr, 0);
	assert_content(f, text, sizeof(text));
}

static void test_write_errors(void **state)
{
	struct fixture *f = *state;
	int rdonly;

	fake.error = EIO;
	assert_int_equal(mfs_write_all(f->fd, "x", 1), -EIO);
	fake.error = 0;
	fake.stall = 1;
	assert_int_equal(mfs_write_all(f->fd, "x", 1), -ENOSPC);
	fake.stall = 0;
	assert_content(f, "", 0);
	/* A real failure from the kernel comes back as its -errno. */
	rdonly = open(f->file, O_RDONLY | O_CLOEXEC);
	assert_true(rdonly >= 0);
	assert_int_equal(mfs_write_all(rdonly, "x", 1), -EBADF);
	close(rdonly);
}

static void expect_parent(const char *file, const char *want)
{
	char *dir = mfs_parent_dup(file);

	assert_non_null(dir);
	assert_string_equal(dir, want);
	free(dir);
}

static void test_parent(void **state)
{
	expect_parent("/tmp/x/data.csv", "/tmp/x");
	expect_parent("x/data.csv", "x");
	expect_parent("/data.csv", "/");
	expect_parent("data.csv", ".");
	expect_parent("x/", "x");
}

static void test_fsync_dirat(void **state)
{
	struct fixture *f = *state;
	int dfd;

	assert_int_equal(mfs_fsync_dirat(AT_FDCWD, f->dir), 0);
	dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(mfs_fsync_dirat(dfd, "."), 0);
	assert_int_equal(mfs_fsync_dirat(dfd, "missing"), -ENOENT);
	assert_int_equal(mfs_fsync_dirat(dfd, "data"), -ENOTDIR);
	close(dfd);
}

static void test_fsync_parent(void **state)
{
	struct fixture *f = *state;
	char missing[128], cwd[4096];

	assert_int_equal(mfs_fsync_parent(f->file), 0);
	assert_int_equal(mfs_fsync_parent("/top-level"), 0);
	snprintf(missing, sizeof(missing), "%s/no/such", f->dir);
	assert_int_equal(mfs_fsync_parent(missing), -ENOENT);
	/* A bare name is in the working directory. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	assert_int_equal(mfs_fsync_parent("data"), 0);
	assert_int_equal(chdir(cwd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_write_whole, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_short, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_eintr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_errors, setup, teardown),
	    cmocka_unit_test(test_parent),
	    cmocka_unit_test_setup_teardown(test_fsync_dirat, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fsync_parent, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
