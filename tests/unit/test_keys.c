#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl/keys.h"
#include "catalog/catalog.h"
#include "tests/unit/helpers.h"

struct fixture {
	char mesh[64];
	char key_path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char dir[128];

	assert_non_null(f);
	strcpy(f->mesh, "/tmp/meshfs-test-keys-XXXXXX");
	assert_non_null(mkdtemp(f->mesh));
	assert_int_equal(keys_master_path(f->key_path, sizeof(f->key_path), f->mesh), 0);
	snprintf(dir, sizeof(dir), "%s/keys", f->mesh);
	assert_int_equal(mkdir(dir, 0700), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	remove_tree(f->mesh);
	free(f);
	return 0;
}

static void write_key_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_create_load(void **state)
{
	struct fixture *f = *state;
	uint8_t a[KEY_BYTES], b[KEY_BYTES], zero[KEY_BYTES] = {0};
	struct mfs_error err;
	char dir[128];
	struct stat sb;
	int fd;

	mfs_error_clear(&err);
	assert_int_equal(keys_create_master(f->key_path, &err), 0);
	snprintf(dir, sizeof(dir), "%s/keys/master.key", f->mesh);
	assert_string_equal(f->key_path, dir);
	assert_int_equal(stat(f->key_path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(sb.st_size, KEY_BYTES);

	assert_int_equal(keys_load_master(f->key_path, a, &err), 0);
	assert_memory_not_equal(a, zero, KEY_BYTES);
	fd = open(f->key_path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, b, sizeof(b)), KEY_BYTES);
	close(fd);
	assert_memory_equal(a, b, KEY_BYTES);

	/* Never overwritten. */
	assert_int_equal(keys_create_master(f->key_path, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "already exists"));
	assert_int_equal(keys_load_master(f->key_path, b, NULL), 0);
	assert_memory_equal(a, b, KEY_BYTES);
}

/* A key file is made where it is asked for, never a directory on the way. */
static void test_create_no_dir(void **state)
{
	struct fixture *f = *state;
	struct mfs_error err;
	char path[160];

	mfs_error_clear(&err);
	snprintf(path, sizeof(path), "%s/nodir/master.key", f->mesh);
	assert_int_equal(keys_create_master(path, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "nodir/master.key"));
	assert_int_equal(access(path, F_OK), -1);
}

static void test_load_missing(void **state)
{
	struct fixture *f = *state;
	uint8_t key[KEY_BYTES];
	struct mfs_error err;

	mfs_error_clear(&err);
	assert_int_equal(keys_load_master(f->key_path, key, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "master.key"));
}

static void test_permissions_refused(void **state)
{
	static const mode_t bad[] = {0640, 0604, 0620, 0602, 0610, 0601, 0644, 0666};
	struct fixture *f = *state;
	uint8_t key[KEY_BYTES];
	struct mfs_error err;

	assert_int_equal(keys_create_master(f->key_path, NULL), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(f->key_path, bad[i]), 0);
		mfs_error_clear(&err);
		assert_int_equal(keys_load_master(f->key_path, key, &err), -EPERM);
		assert_non_null(strstr(err.msg, "chmod 600"));
		assert_non_null(strstr(err.msg, f->key_path));
	}
	assert_int_equal(chmod(f->key_path, 0400), 0);
	assert_int_equal(keys_load_master(f->key_path, key, NULL), 0);
	assert_int_equal(chmod(f->key_path, 0600), 0);
	assert_int_equal(keys_load_master(f->key_path, key, NULL), 0);
}

static void test_wrong_size(void **state)
{
	struct fixture *f = *state;
	uint8_t data[KEY_BYTES + 1] = {1, 2, 3};
	uint8_t key[KEY_BYTES];
	struct mfs_error err;

	assert_int_equal(keys_create_master(f->key_path, NULL), 0);
	write_key_file(f->key_path, data, KEY_BYTES - 1, 0600);
	mfs_error_clear(&err);
	assert_int_equal(keys_load_master(f->key_path, key, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "32 bytes"));
	write_key_file(f->key_path, data, KEY_BYTES + 1, 0600);
	assert_int_equal(keys_load_master(f->key_path, key, NULL), -EINVAL);
	write_key_file(f->key_path, data, 0, 0600);
	assert_int_equal(keys_load_master(f->key_path, key, NULL), -EINVAL);
	write_key_file(f->key_path, data, KEY_BYTES, 0600);
	assert_int_equal(keys_load_master(f->key_path, key, NULL), 0);
	assert_memory_equal(key, data, KEY_BYTES);
}

static void test_wrap_unwrap(void **state)
{
	uint8_t master[KEY_BYTES], other[KEY_BYTES], key[KEY_BYTES], back[KEY_BYTES];
	uint8_t w1[KEY_WRAPPED], w2[KEY_WRAPPED];

	for (int i = 0; i < KEY_BYTES; i++) {
		master[i] = (uint8_t)i;
		other[i] = (uint8_t)i;
		key[i] = (uint8_t)(0xa0 + i);
	}
	other[5] ^= 1;
	keys_wrap(master, key, w1);
	keys_wrap(master, key, w2);
	assert_memory_not_equal(w1, w2, KEY_WRAPPED);
	assert_null(memmem(w1, KEY_WRAPPED, key, 8));
	assert_int_equal(keys_unwrap(master, w1, back), 0);
	assert_memory_equal(back, key, KEY_BYTES);
	memset(back, 0, sizeof(back));
	assert_int_equal(keys_unwrap(master, w2, back), 0);
	assert_memory_equal(back, key, KEY_BYTES);
	assert_int_equal(keys_unwrap(other, w1, back), -EIO);
	for (int i = 0; i < KEY_WRAPPED; i++) {
		w1[i] ^= 0x10;
		assert_int_equal(keys_unwrap(master, w1, back), -EIO);
		w1[i] ^= 0x10;
	}
	assert_int_equal(keys_unwrap(master, w1, back), 0);
}

/* A mesh with a master key and a catalog holding team "ops" and domains orders and users. */
static struct catalog *make_mesh(struct fixture *f)
{
	struct catalog *cat;
	struct mfs_error err;

	mfs_error_clear(&err);
	assert_int_equal(keys_create_master(f->key_path, &err), 0);
	assert_int_equal(catalog_open(&cat, f->mesh, CATALOG_CREATE, &err), 0);
	assert_int_equal(catalog_team_create(cat, "ops"), 0);
	assert_int_equal(catalog_domain_create(cat, "orders", "ops", "", 1), 0);
	assert_int_equal(catalog_domain_create(cat, "users", "ops", "", 1), 0);
	return cat;
}

static void test_keyring_mask(void **state)
{
	struct fixture *f = *state;
	uint8_t k1[KEY_BYTES], k2[KEY_BYTES], zero[KEY_BYTES] = {0};
	struct catalog *cat = make_mesh(f);
	struct keyring *kr;
	struct mfs_error err;

	mfs_error_clear(&err);
	/* A fresh mesh has no masking key yet, which is not an error. */
	assert_int_equal(keyring_open(&kr, f->key_path, cat, &err), 0);
	assert_int_equal(keyring_mask_key(kr, k1), -ENOENT);
	assert_int_equal(keyring_create_mask_key(kr), 0);
	assert_int_equal(keyring_create_mask_key(kr), -EEXIST);
	assert_int_equal(keyring_mask_key(kr, k1), 0);
	assert_memory_not_equal(k1, zero, KEY_BYTES);
	keyring_close(kr);

	/* The same key after a restart, unwrapped from the catalog. */
	assert_int_equal(keyring_open(&kr, f->key_path, cat, &err), 0);
	assert_int_equal(keyring_mask_key(kr, k2), 0);
	assert_memory_equal(k1, k2, KEY_BYTES);
	keyring_close(kr);
	catalog_close(cat);
}

static void test_keyring_domain_rotation(void **state)
{
	struct fixture *f = *state;
	uint8_t k1[KEY_BYTES], k2[KEY_BYTES], k3[KEY_BYTES], u[KEY_BYTES], back[KEY_BYTES];
	uint32_t id1, id2, id3, uid, got;
	struct catalog *cat = make_mesh(f);
	struct keyring *kr;
	struct mfs_error err;

	mfs_error_clear(&err);
	assert_int_equal(keyring_open(&kr, f->key_path, cat, &err), 0);
	assert_int_equal(keyring_create_mask_key(kr), 0);
	assert_int_equal(keyring_domain_key(kr, "orders", &got, k1), -ENOENT);
	assert_int_equal(keyring_rotate_domain(kr, "orders", &id1), 0);
	assert_int_equal(keyring_domain_key(kr, "orders", &got, k1), 0);
	assert_int_equal(got, id1);
	assert_int_equal(keyring_rotate_domain(kr, "users", &uid), 0);
	assert_int_not_equal(uid, id1);
	assert_int_equal(keyring_domain_key(kr, "users", &got, u), 0);
	assert_int_equal(got, uid);
	assert_memory_not_equal(u, k1, KEY_BYTES);

	/* Rotation: a new active key for new writes, the old one still readable by id. */
	assert_int_equal(keyring_rotate_domain(kr, "orders", &id2), 0);
	assert_int_not_equal(id2, id1);
	assert_int_equal(keyring_domain_key(kr, "orders", &got, k2), 0);
	assert_int_equal(got, id2);
	assert_memory_not_equal(k1, k2, KEY_BYTES);
	assert_int_equal(keyring_key(kr, id1, back), 0);
	assert_memory_equal(back, k1, KEY_BYTES);
	assert_int_equal(keyring_key(kr, id2, back), 0);
	assert_memory_equal(back, k2, KEY_BYTES);
	/* Other domains are untouched. */
	assert_int_equal(keyring_domain_key(kr, "users", &got, back), 0);
	assert_int_equal(got, uid);
	assert_memory_equal(back, u, KEY_BYTES);
	assert_int_equal(keyring_key(kr, 999999, back), -ENOENT);
	keyring_close(kr);

	/* After a restart (empty cache) every key comes back from the catalog. */
	assert_int_equal(keyring_open(&kr, f->key_path, cat, &err), 0);
	assert_int_equal(keyring_key(kr, id1, back), 0);
	assert_memory_equal(back, k1, KEY_BYTES);
	assert_int_equal(keyring_domain_key(kr, "orders", &got, back), 0);
	assert_int_equal(got, id2);
	assert_memory_equal(back, k2, KEY_BYTES);

	/* A rotation made through another keyring (the CLI, while mounted) is seen at once. */
	{
		struct keyring *cli;

		assert_int_equal(keyring_open(&cli, f->key_path, cat, &err), 0);
		assert_int_equal(keyring_rotate_domain(cli, "orders", &id3), 0);
		assert_int_equal(keyring_domain_key(cli, "orders", &got, k3), 0);
		keyring_close(cli);
	}
	assert_int_equal(keyring_domain_key(kr, "orders", &got, back), 0);
	assert_int_equal(got, id3);
	assert_memory_equal(back, k3, KEY_BYTES);
	keyring_close(kr);
	catalog_close(cat);
}

static void test_keyring_many_keys(void **state)
{
	struct fixture *f = *state;
	uint8_t keys[80][KEY_BYTES], back[KEY_BYTES];
	uint32_t ids[80], got;
	struct catalog *cat = make_mesh(f);
	struct keyring *kr;

	/* More keys than the cache holds: evicted ones are unwrapped again. */
	assert_int_equal(keyring_open(&kr, f->key_path, cat, NULL), 0);
	for (int i = 0; i < 80; i++) {
		assert_int_equal(keyring_rotate_domain(kr, "orders", &ids[i]), 0);
		assert_int_equal(keyring_domain_key(kr, "orders", &got, keys[i]), 0);
		assert_int_equal(got, ids[i]);
	}
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 80; i++) {
			assert_int_equal(keyring_key(kr, ids[i], back), 0);
			assert_memory_equal(back, keys[i], KEY_BYTES);
		}
	}
	keyring_close(kr);
	catalog_close(cat);
}

static void test_keyring_wrong_master(void **state)
{
	struct fixture *f = *state;
	uint8_t other[KEY_BYTES];
	struct catalog *cat = make_mesh(f);
	struct keyring *kr;
	struct mfs_error err;

	assert_int_equal(keyring_open(&kr, f->key_path, cat, NULL), 0);
	assert_int_equal(keyring_create_mask_key(kr), 0);
	keyring_close(kr);

	memset(other, 0x5a, sizeof(other));
	write_key_file(f->key_path, other, sizeof(other), 0600);
	mfs_error_clear(&err);
	kr = NULL;
	assert_int_equal(keyring_open(&kr, f->key_path, cat, &err), -EIO);
	assert_null(kr);
	assert_string_equal(err.msg, "wrong master key for this mesh (keys/master.key does not "
				     "open the catalog's keys)");

	/* A key file others can read is refused before anything else. */
	assert_int_equal(chmod(f->key_path, 0644), 0);
	mfs_error_clear(&err);
	assert_int_equal(keyring_open(&kr, f->key_path, cat, &err), -EPERM);
	assert_non_null(strstr(err.msg, "chmod 600"));
	catalog_close(cat);
}

struct reader {
	struct keyring *kr;
	const uint32_t *ids;
	uint8_t (*keys)[KEY_BYTES];
	int failed;
};

static void *read_keys(void *p)
{
	struct reader *r = p;
	uint8_t back[KEY_BYTES];

	for (int round = 0; round < 200; round++) {
		int i = round % 40;

		if (keyring_key(r->kr, r->ids[i], back) || memcmp(back, r->keys[i], KEY_BYTES))
			r->failed = 1;
	}
	return NULL;
}

static void test_keyring_threads(void **state)
{
	struct fixture *f = *state;
	uint8_t keys[40][KEY_BYTES];
	uint32_t ids[40], got;
	struct catalog *cat = make_mesh(f);
	struct reader r[6];
	pthread_t t[6];
	struct keyring *kr;

	assert_int_equal(keyring_open(&kr, f->key_path, cat, NULL), 0);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(keyring_rotate_domain(kr, i % 2 ? "orders" : "users", &ids[i]), 0);
		assert_int_equal(keyring_domain_key(kr, i % 2 ? "orders" : "users", &got, keys[i]),
				 0);
	}
	for (int i = 0; i < 6; i++) {
		r[i] = (struct reader){.kr = kr, .ids = ids, .keys = keys};
		assert_int_equal(pthread_create(&t[i], NULL, read_keys, &r[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_false(r[i].failed);
	}
	keyring_close(kr);
	catalog_close(cat);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_create_load),
	    T(test_create_no_dir),
	    T(test_load_missing),
	    T(test_permissions_refused),
	    T(test_wrong_size),
	    cmocka_unit_test(test_wrap_unwrap),
	    T(test_keyring_mask),
	    T(test_keyring_domain_rotation),
	    T(test_keyring_many_keys),
	    T(test_keyring_wrong_master),
	    T(test_keyring_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
