#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/store.h"
#include "tests/unit/helpers.h"

#define HELLO	 "hello, mesh\n"
#define HELLO_ID "81ce8f2b772811e03845e84b02f239a573f6c12693a45b8fd45fa37ffc25ce0b"
#define EMPTY_ID "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"

struct fixture {
	char root[64];
	char dir[96];
	struct store *st;
};

/* The cases run on a store opened by url, as the mesh opens it. */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct mfs_error err;
	char url[128];

	assert_non_null(f);
	strcpy(f->root, "/tmp/meshfs-test-store-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->dir, sizeof(f->dir), "%s/store", f->root);
	snprintf(url, sizeof(url), "file://%s", f->dir);
	mfs_error_clear(&err);
	assert_int_equal(store_open_url(url, NULL, 1, &f->st, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	remove_tree(f->root);
	free(f);
	return 0;
}

static size_t count_entries(const char *dir)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static size_t count_tmp(struct fixture *f)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/tmp", f->dir);
	return count_entries(path);
}

static void put(struct store *st, const void *data, size_t len, char id[STORE_ID_HEX + 1])
{
	struct store_writer *w;

	assert_int_equal(store_writer_open(st, &w), 0);
	assert_int_equal(store_writer_write(w, data, len), 0);
	assert_int_equal(store_writer_commit(w, id), 0);
}

static void blob_path(struct fixture *f, const char *id, char *path, size_t size)
{
	snprintf(path, size, "%s/%.2s/%s", f->dir, id, id + 2);
}

static void test_write_read(void **state)
{
	struct fixture *f = *state;
	struct store_writer *w;
	struct store_blob *b;
	char id[STORE_ID_HEX + 1], path[256], buf[64];
	struct stat sb;

	assert_int_equal(store_writer_open(f->st, &w), 0);
	assert_int_equal(count_tmp(f), 1);
	/* Written in pieces, hashed as a whole. */
	assert_int_equal(store_writer_write(w, "hello", 5), 0);
	assert_int_equal(store_writer_write(w, "", 0), 0);
	assert_int_equal(store_writer_write(w, ", mesh\n", 7), 0);
	assert_int_equal(store_writer_commit(w, id), 0);
	assert_string_equal(id, HELLO_ID);
	assert_int_equal(count_tmp(f), 0);
	blob_path(f, id, path, sizeof(path));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, strlen(HELLO));

	assert_int_equal(store_blob_open(f->st, id, &b), 0);
	assert_int_equal(store_blob_size(b), strlen(HELLO));
	assert_int_equal(store_blob_pread(b, buf, sizeof(buf), 0), strlen(HELLO));
	assert_memory_equal(buf, HELLO, strlen(HELLO));
	assert_int_equal(store_blob_pread(b, buf, 4, 7), 4);
	assert_memory_equal(buf, "mesh", 4);
	/* Short only at the end. */
	assert_int_equal(store_blob_pread(b, buf, 100, 9), 3);
	assert_memory_equal(buf, "sh\n", 3);
	assert_int_equal(store_blob_pread(b, buf, 10, strlen(HELLO)), 0);
	assert_int_equal(store_blob_pread(b, buf, 10, 1000), 0);
	assert_true(store_blob_fd(b) >= 0);
	assert_int_equal(pread(store_blob_fd(b), buf, 5, 0), 5);
	assert_memory_equal(buf, "hello", 5);
	store_blob_close(b);
	assert_int_equal(store_verify(f->st, id), 0);
}

static void test_empty_blob(void **state)
{
	struct fixture *f = *state;
	struct store_blob *b;
	char id[STORE_ID_HEX + 1], buf[4];

	put(f->st, "", 0, id);
	assert_string_equal(id, EMPTY_ID);
	assert_int_equal(store_blob_open(f->st, id, &b), 0);
	assert_int_equal(store_blob_size(b), 0);
	assert_int_equal(store_blob_pread(b, buf, sizeof(buf), 0), 0);
	store_blob_close(b);
	assert_int_equal(store_verify(f->st, id), 0);
}

static void test_same_content_twice(void **state)
{
	struct fixture *f = *state;
	char a[STORE_ID_HEX + 1], b[STORE_ID_HEX + 1], path[128];
	struct store_blob *blob;

	put(f->st, HELLO, strlen(HELLO), a);
	assert_int_equal(store_blob_open(f->st, a, &blob), 0);
	put(f->st, HELLO, strlen(HELLO), b);
	assert_string_equal(a, b);
	assert_int_equal(count_tmp(f), 0);
	snprintf(path, sizeof(path), "%s/%.2s", f->dir, a);
	assert_int_equal(count_entries(path), 1);
	/* A reader of the first copy is undisturbed. */
	assert_int_equal(store_blob_size(blob), strlen(HELLO));
	store_blob_close(blob);
}

static void test_abort(void **state)
{
	struct fixture *f = *state;
	struct store_writer *w;
	size_t before = count_entries(f->dir);

	assert_int_equal(store_writer_open(f->st, &w), 0);
	assert_int_equal(store_writer_write(w, HELLO, strlen(HELLO)), 0);
	store_writer_abort(w);
	store_writer_abort(NULL);
	assert_int_equal(count_tmp(f), 0);
	assert_int_equal(count_entries(f->dir), before);
	assert_int_equal(store_blob_open(f->st, HELLO_ID, &(struct store_blob *){NULL}), -ENOENT);
}

static void test_large_blob(void **state)
{
	struct fixture *f = *state;
	const size_t size = 3 * (1 << 20) + 12345;
	char id[STORE_ID_HEX + 1], path[256];
	struct store_writer *w;
	struct store_blob *b;
	unsigned char *data, *back;
	int fd;

	data = malloc(size);
	back = malloc(size);
	assert_non_null(data);
	assert_non_null(back);
	for (size_t i = 0; i < size; i++)
		data[i] = (unsigned char)(i * 2654435761u >> 13);
	assert_int_equal(store_writer_open(f->st, &w), 0);
	for (size_t off = 0; off < size; off += 100000)
		assert_int_equal(
		    store_writer_write(w, data + off, size - off < 100000 ? size - off : 100000),
		    0);
	assert_int_equal(store_writer_commit(w, id), 0);
	assert_int_equal(store_blob_open(f->st, id, &b), 0);
	assert_int_equal(store_blob_size(b), size);
	assert_int_equal(store_blob_pread(b, back, size, 0), size);
	assert_memory_equal(back, data, size);
	assert_int_equal(store_blob_pread(b, back, 10, size - 5), 5);
	assert_memory_equal(back, data + size - 5, 5);
	store_blob_close(b);
	assert_int_equal(store_verify(f->st, id), 0);

	/* Flip one byte past the first verify buffer. */
	blob_path(f, id, path, sizeof(path));
	assert_int_equal(chmod(path, 0600), 0);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	data[size - 1] ^= 0xff;
	assert_int_equal(pwrite(fd, data + size - 1, 1, size - 1), 1);
	close(fd);
	assert_int_equal(store_verify(f->st, id), -EIO);
	free(data);
	free(back);
}

static void test_verify(void **state)
{
	struct fixture *f = *state;
	char id[STORE_ID_HEX + 1], path[256];
	int fd;

	put(f->st, HELLO, strlen(HELLO), id);
	assert_int_equal(store_verify(f->st, id), 0);
	blob_path(f, id, path, sizeof(path));
	assert_int_equal(chmod(path, 0600), 0);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "H", 1, 0), 1);
	close(fd);
	assert_int_equal(store_verify(f->st, id), -EIO);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(store_verify(f->st, id), -ENOENT);
	assert_int_equal(store_verify(f->st, EMPTY_ID), -ENOENT);
}

static void test_remove(void **state)
{
	struct fixture *f = *state;
	char id[STORE_ID_HEX + 1];
	struct store_blob *b;

	put(f->st, HELLO, strlen(HELLO), id);
	assert_int_equal(store_remove(f->st, id), 0);
	assert_int_equal(store_blob_open(f->st, id, &b), -ENOENT);
	assert_int_equal(store_remove(f->st, id), -ENOENT);
	/* Removed content can be written again. */
	put(f->st, HELLO, strlen(HELLO), id);
	assert_int_equal(store_verify(f->st, id), 0);
}

struct seen {
	char ids[8][STORE_ID_HEX + 1];
	size_t n;
	size_t stop_after;
};

static int collect(const char *id, void *ctx)
{
	struct seen *s = ctx;

	assert_true(s->n < 8);
	assert_int_equal(strlen(id), STORE_ID_HEX);
	strcpy(s->ids[s->n++], id);
	return s->stop_after && s->n == s->stop_after ? 42 : 0;
}

static int seen_has(const struct seen *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->ids[i], id))
			return 1;
	return 0;
}

static void test_list(void **state)
{
	struct fixture *f = *state;
	char ids[3][STORE_ID_HEX + 1], junk[256];
	struct seen s = {0};
	struct store_writer *w;
	int fd;

	assert_int_equal(store_list(f->st, collect, &s), 0);
	assert_int_equal(s.n, 0);
	put(f->st, "one", 3, ids[0]);
	put(f->st, "two", 3, ids[1]);
	put(f->st, "three", 5, ids[2]);
	/* Neither a writer in progress nor stray files are blobs. */
	assert_int_equal(store_writer_open(f->st, &w), 0);
	snprintf(junk, sizeof(junk), "%s/%.2s/not-a-blob", f->dir, ids[0]);
	fd = open(junk, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(junk, sizeof(junk), "%s/README", f->dir);
	fd = open(junk, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);

	assert_int_equal(store_list(f->st, collect, &s), 0);
	assert_int_equal(s.n, 3);
	for (int i = 0; i < 3; i++)
		assert_true(seen_has(&s, ids[i]));

	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	assert_int_equal(store_list(f->st, collect, &s), 42);
	assert_int_equal(s.n, 2);
	store_writer_abort(w);
}

static void test_clean_staging(void **state)
{
	struct fixture *f = *state;
	struct store_writer *w1, *w2;
	char id[STORE_ID_HEX + 1];
	struct seen s = {0};

	put(f->st, HELLO, strlen(HELLO), id);
	assert_int_equal(store_writer_open(f->st, &w1), 0);
	assert_int_equal(store_writer_open(f->st, &w2), 0);
	assert_int_equal(store_writer_write(w1, "partial", 7), 0);
	/* As after a crash: nobody will finish these writers, their files are left. */
	assert_int_equal(count_tmp(f), 2);
	assert_int_equal(store_clean_staging(f->st), 0);
	assert_int_equal(count_tmp(f), 0);
	assert_int_equal(store_list(f->st, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(store_verify(f->st, id), 0);
	store_writer_abort(w1);
	store_writer_abort(w2);
	assert_int_equal(store_clean_staging(f->st), 0);
}

static void test_bad_id(void **state)
{
	static const char *const bad[] = {
	    "",
	    "abc",
	    "../" EMPTY_ID,
	    "0E5751C026E543B2E8AB2EB06099DAA1D1E5DF47778F7787FAAB45CDF12FE3A8",
	    "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a",
	    "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a80",
	    "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3g8",
	    "0e/751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8",
	};
	struct fixture *f = *state;
	struct store_blob *b;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(store_blob_open(f->st, bad[i], &b), -EINVAL);
		assert_int_equal(store_verify(f->st, bad[i]), -EINVAL);
		assert_int_equal(store_remove(f->st, bad[i]), -EINVAL);
	}
}

static void test_write_error_sticks(void **state)
{
	struct fixture *f = *state;
	char id[STORE_ID_HEX + 1], block[4096];
	struct store_writer *w;
	struct rlimit old, small;
	void (*prev)(int);
	int rc = 0;

	/* A file size limit stands in for a full disk: the write fails part-way and the blob
	 * must never become visible, even if the caller commits anyway. */
	memset(block, 'x', sizeof(block));
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 10000;
	prev = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(store_writer_open(f->st, &w), 0);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	for (int i = 0; i < 10 && !rc; i++)
		rc = store_writer_write(w, block, sizeof(block));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	assert_int_equal(rc, -EFBIG);
	assert_int_equal(store_writer_write(w, "y", 1), -EFBIG);
	assert_int_equal(store_writer_commit(w, id), -EFBIG);
	assert_int_equal(count_tmp(f), 0);
	assert_int_equal(count_entries(f->dir), 1); /* tmp/ only */
}

struct thread_arg {
	struct store *st;
	int n;
	char id[STORE_ID_HEX + 1];
	int failed;
};

static void *writer_thread(void *p)
{
	struct thread_arg *a = p;
	struct store_writer *w;
	struct store_blob *b;
	char data[5000], back[5000];

	memset(data, 'a' + a->n, sizeof(data));
	for (int round = 0; round < 20; round++) {
		data[0] = (char)round;
		if (store_writer_open(a->st, &w) || store_writer_write(w, data, sizeof(data)) ||
		    store_writer_commit(w, a->id) || store_blob_open(a->st, a->id, &b)) {
			a->failed = 1;
			return NULL;
		}
		if (store_blob_pread(b, back, sizeof(back), 0) != sizeof(back) ||
		    memcmp(back, data, sizeof(data)))
			a->failed = 1;
		store_blob_close(b);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct fixture *f = *state;
	struct thread_arg args[8];
	pthread_t t[8];

	for (int i = 0; i < 8; i++) {
		args[i] = (struct thread_arg){.st = f->st, .n = i % 4};
		assert_int_equal(pthread_create(&t[i], NULL, writer_thread, &args[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_false(args[i].failed);
		assert_int_equal(store_verify(f->st, args[i].id), 0);
	}
	assert_int_equal(count_tmp(f), 0);
	/* Threads with the same n wrote the same blobs. */
	assert_string_equal(args[0].id, args[4].id);
}

static void test_open_missing(void **state)
{
	char root[] = "/tmp/meshfs-test-store-XXXXXX", dir[64];
	struct mfs_error err;
	struct store *st;

	assert_non_null(mkdtemp(root));
	snprintf(dir, sizeof(dir), "%s/nope", root);
	mfs_error_clear(&err);
	assert_int_equal(store_local_open(dir, 0, &st, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "nope"));
	/* A directory that is not a store. */
	mfs_error_clear(&err);
	assert_int_equal(store_local_open(root, 0, &st, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "not a meshfs store"));
	/* Opening an existing store with create is fine. */
	assert_int_equal(store_local_open(dir, 1, &st, &err), 0);
	store_close(st);
	assert_int_equal(store_local_open(dir, 1, &st, &err), 0);
	store_close(st);
	assert_int_equal(store_local_open(dir, 0, &st, &err), 0);
	store_close(st);
	remove_tree(root);
}

static void test_open_url(void **state)
{
	static const char *const bad[] = {
	    "", "/tmp/store", "file:", "file://host/tmp/store", "ftp://host/x", "FILE:///tmp",
	};
	static const char *const bad_s3[] = {
	    "s3://",	       "s3://ab",	   "s3://Bucket",      "s3://-bucket",
	    "s3://bucket-/x",  "s3://bu_cket",	   "s3://bucket/../x", "s3://bucket//x",
	    "s3://bucket/a b", "s3://bucket/x%2F", "s3://bucket/./x",  "s3://bucket/x//",
	};
	char root[] = "/tmp/meshfs-test-store-XXXXXX", url[96];
	struct mfs_error err;
	struct store *st;
	char id[STORE_ID_HEX + 1];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mfs_error_clear(&err);
		assert_int_equal(store_open_url(bad[i], NULL, 1, &st, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "file:///DIR"));
	}
	/* Refused before anything is sent. */
	for (size_t i = 0; i < sizeof(bad_s3) / sizeof(bad_s3[0]); i++) {
		mfs_error_clear(&err);
		assert_int_equal(store_open_url(bad_s3[i], NULL, 1, &st, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "s3://BUCKET[/PREFIX]"));
	}
	mfs_error_clear(&err);
	assert_int_equal(store_open_url(NULL, NULL, 0, &st, &err), -EINVAL);
	assert_non_null(mkdtemp(root));
	snprintf(url, sizeof(url), "file://%s/s", root);
	mfs_error_clear(&err);
	assert_int_equal(store_open_url(url, NULL, 0, &st, &err), -ENOENT);
	assert_int_equal(store_open_url(url, &(struct store_options){0}, 1, &st, &err), 0);
	put(st, HELLO, strlen(HELLO), id);
	store_close(st);
	/* The same directory as store_local_open sees it. */
	snprintf(url, sizeof(url), "%s/s", root);
	assert_int_equal(store_local_open(url, 0, &st, &err), 0);
	assert_int_equal(store_verify(st, HELLO_ID), 0);
	store_close(st);
	remove_tree(root);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_write_read),
	    T(test_empty_blob),
	    T(test_same_content_twice),
	    T(test_abort),
	    T(test_large_blob),
	    T(test_verify),
	    T(test_remove),
	    T(test_list),
	    T(test_clean_staging),
	    T(test_bad_id),
	    T(test_write_error_sticks),
	    T(test_threads),
	    cmocka_unit_test(test_open_missing),
	    cmocka_unit_test(test_open_url),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
