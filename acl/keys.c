/*
 * Keys (docs/DESIGN.md §7.4).
 *
 * Wrapping: a wrapped key is nonce (24 random bytes) | XChaCha20-Poly1305 (IETF AEAD) of the
 * 32-byte key under the master key, tag appended: KEY_WRAPPED = 72 bytes. The associated data is
 * a fixed context string, so that a wrapped key can never be mistaken for any other ciphertext
 * made with the master key.
 *
 * The keyring serializes everything behind one mutex, catalog look-ups included: the daemon's
 * threads share it, and a struct catalog is for one thread at a time. Active keys are looked up in
 * the catalog on every call, so a rotation made by the CLI while mounted is seen at once; the
 * unwrapped keys themselves are cached by id in guarded, mlocked memory.
 */
#include "acl/keys.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "catalog/catalog.h"
#include "common/fileio.h"

#define KEYS_DIR      "keys"
#define MASTER_FILE   "master.key"
#define WRAP_NONCE    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define KEYRING_CACHE 32
#define WRONG_MASTER                                                                               \
	"wrong master key for this mesh (keys/master.key does not open the catalog's keys)"

_Static_assert(KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(KEY_WRAPPED == WRAP_NONCE + KEY_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES,
	       "wrapped key size");

static const char wrap_context[] = "meshfs-wrap-v1";

struct keyring_entry {
	uint32_t id;
	int used;
	uint8_t key[KEY_BYTES];
};

/* Everything secret, in one sodium_malloc'd block. */
struct keyring_secrets {
	uint8_t master[KEY_BYTES];
	struct keyring_entry cache[KEYRING_CACHE];
};

struct keyring {
	pthread_mutex_t lock;
	struct catalog *cat;
	struct keyring_secrets *sec;
	size_t next; /* cache slot replaced next (round robin) */
};

int keys_master_path(char *buf, size_t size, const char *mesh_dir)
{
	int n = snprintf(buf, size, "%s/%s/%s", mesh_dir, KEYS_DIR, MASTER_FILE);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int keys_save_master(const char *path, const uint8_t master[KEY_BYTES], struct mfs_error *err)
{
	int fd, rc;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return mfs_error_set(err, EEXIST, "%s: a master key already exists", path);
		return mfs_error_set(err, errno, "%s: cannot create: %s", path, strerror(errno));
	}
	/* The umask could have left the owner without read access. */
	if (fchmod(fd, 0600) < 0) {
		rc = -errno;
		goto out;
	}
	rc = mfs_write_all(fd, master, KEY_BYTES);
	if (rc)
		goto out;
	if (fsync(fd) < 0) {
		rc = -errno;
		goto out;
	}
	rc = close(fd) < 0 ? -errno : 0;
	fd = -1;
	if (rc)
		goto out;
	rc = mfs_fsync_parent(path);
out:
	if (fd >= 0)
		close(fd);
	if (rc) {
		/* A partial key file would block a retry and could never load. */
		unlink(path);
		mfs_error_set(err, -rc, "%s: cannot write the master key: %s", path, strerror(-rc));
	}
	return rc;
}

int keys_create_master(const char *path, struct mfs_error *err)
{
	uint8_t key[KEY_BYTES];
	int rc;

	if (sodium_init() < 0)
		return mfs_error_set(err, ENOMEM, "cannot initialize libsodium");
	randombytes_buf(key, sizeof(key));
	rc = keys_save_master(path, key, err);
	sodium_memzero(key, sizeof(key));
	return rc;
}

int keys_load_master(const char *path, uint8_t master[KEY_BYTES], struct mfs_error *err)
{
	struct stat sb;
	size_t got = 0;
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return mfs_error_set(err, ENOENT,
					     "%s: the master key is missing: PII cannot be sealed "
					     "or opened without it (restore it from its backup)",
					     path);
		return mfs_error_set(err, errno, "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &sb) < 0) {
		rc = mfs_error_set(err, errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = mfs_error_set(err, EINVAL, "%s: not a regular file", path);
		goto out;
	}
	if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
		rc = mfs_error_set(
		    err, EPERM,
		    "%s: the master key is accessible to group or others (mode %04o); "
		    "refusing to use it: run `chmod 600 %s`",
		    path, (unsigned)(sb.st_mode & 07777), path);
		goto out;
	}
	if (sb.st_size != KEY_BYTES) {
		rc = mfs_error_set(err, EINVAL, "%s: a master key is %d bytes, this file has %lld",
				   path, KEY_BYTES, (long long)sb.st_size);
		goto out;
	}
	while (got < KEY_BYTES) {
		n = read(fd, master + got, KEY_BYTES - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = mfs_error_set(err, n < 0 ? errno : EINVAL, "%s: cannot read: %s", path,
					   n < 0 ? strerror(errno) : "file shrank");
			sodium_memzero(master, KEY_BYTES);
			goto out;
		}
		got += (size_t)n;
	}
out:
	close(fd);
	return rc;
}

void keys_wrap(const uint8_t master[KEY_BYTES], const uint8_t key[KEY_BYTES],
	       uint8_t wrapped[KEY_WRAPPED])
{
	unsigned long long clen;
	int rc = sodium_init();

	/* Callers hold a master key, which takes an initialized libsodium to load or make. */
	assert(rc >= 0);
	(void)rc;
	randombytes_buf(wrapped, WRAP_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped + WRAP_NONCE, &clen, key, KEY_BYTES,
						   (const uint8_t *)wrap_context,
						   sizeof(wrap_context) - 1, NULL, wrapped, master);
	assert(clen == KEY_WRAPPED - WRAP_NONCE);
}

int keys_unwrap(const uint8_t master[KEY_BYTES], const uint8_t wrapped[KEY_WRAPPED],
		uint8_t key[KEY_BYTES])
{
	unsigned long long plen;

	if (sodium_init() < 0)
		return -ENOMEM;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		key, &plen, NULL, wrapped + WRAP_NONCE, KEY_WRAPPED - WRAP_NONCE,
		(const uint8_t *)wrap_context, sizeof(wrap_context) - 1, wrapped, master) != 0)
		return -EIO;
	assert(plen == KEY_BYTES);
	return 0;
}

/* The cache slot holding id, or NULL. Called with the lock held. */
static struct keyring_entry *keyring_find(struct keyring *kr, uint32_t id)
{
	for (size_t i = 0; i < KEYRING_CACHE; i++) {
		if (kr->sec->cache[i].used && kr->sec->cache[i].id == id)
			return &kr->sec->cache[i];
	}
	return NULL;
}

/*
 * Copies key id to key: from the cache, else by unwrapping wrapped (fetched from the catalog when
 * NULL) and caching the result. Called with the lock held.
 */
static int keyring_resolve(struct keyring *kr, uint32_t id, const uint8_t *wrapped,
			   uint8_t key[KEY_BYTES])
{
	uint8_t buf[KEY_WRAPPED];
	struct keyring_entry *e = keyring_find(kr, id);
	int rc;

	if (!e) {
		if (!wrapped) {
			rc = catalog_key_get(kr->cat, id, buf, sizeof(buf));
			if (rc)
				return rc;
			wrapped = buf;
		}
		e = &kr->sec->cache[kr->next];
		kr->next = (kr->next + 1) % KEYRING_CACHE;
		e->used = 0;
		rc = keys_unwrap(kr->sec->master, wrapped, e->key);
		if (rc)
			return rc;
		e->id = id;
		e->used = 1;
	}
	memcpy(key, e->key, KEY_BYTES);
	return 0;
}

/* The active key of kind (and domain). Called with the lock held. */
static int keyring_active(struct keyring *kr, const char *kind, const char *domain, uint32_t *id,
			  uint8_t key[KEY_BYTES])
{
	uint8_t wrapped[KEY_WRAPPED];
	int rc;

	rc = catalog_key_active(kr->cat, kind, domain, id, wrapped, sizeof(wrapped));
	if (rc)
		return rc;
	return keyring_resolve(kr, *id, wrapped, key);
}

/* Makes a new key of kind (and domain), records it wrapped as the active one and caches it.
 * Called with the lock held. */
static int keyring_add(struct keyring *kr, const char *kind, const char *domain, uint32_t *id)
{
	uint8_t wrapped[KEY_WRAPPED];
	struct keyring_entry *e;
	int rc;

	e = &kr->sec->cache[kr->next];
	e->used = 0;
	randombytes_buf(e->key, KEY_BYTES);
	keys_wrap(kr->sec->master, e->key, wrapped);
	rc = catalog_key_add(kr->cat, kind, domain, wrapped, sizeof(wrapped), (int64_t)time(NULL),
			     id);
	if (rc) {
		sodium_memzero(e->key, KEY_BYTES);
		return rc;
	}
	e->id = *id;
	e->used = 1;
	kr->next = (kr->next + 1) % KEYRING_CACHE;
	return 0;
}

int keyring_open(struct keyring **out, const char *key_path, struct catalog *cat,
		 struct mfs_error *err)
{
	struct keyring *kr;
	uint8_t key[KEY_BYTES];
	uint32_t id;
	int rc;

	if (sodium_init() < 0)
		return mfs_error_set(err, ENOMEM, "cannot initialize libsodium");
	kr = calloc(1, sizeof(*kr));
	if (!kr)
		return mfs_error_set(err, ENOMEM, "out of memory");
	rc = pthread_mutex_init(&kr->lock, NULL);
	if (rc) {
		free(kr);
		return mfs_error_set(err, rc, "cannot create a mutex: %s", strerror(rc));
	}
	kr->cat = cat;
	kr->sec = sodium_malloc(sizeof(*kr->sec));
	if (!kr->sec) {
		rc = mfs_error_set(err, ENOMEM, "cannot allocate protected memory for keys");
		goto out;
	}
	sodium_memzero(kr->sec, sizeof(*kr->sec));
	rc = keys_load_master(key_path, kr->sec->master, err);
	if (rc)
		goto out;
	/* A fresh mesh has no masking key yet: nothing to check against. */
	rc = keyring_active(kr, "mask", NULL, &id, key);
	sodium_memzero(key, sizeof(key));
	if (rc == -ENOENT)
		rc = 0;
	else if (rc == -EIO)
		rc = mfs_error_set(err, EIO, "%s", WRONG_MASTER);
	else if (rc)
		rc = mfs_error_set(err, -rc, "cannot read the masking key from the catalog: %s",
				   strerror(-rc));
	if (rc)
		goto out;
	*out = kr;
	return 0;
out:
	keyring_close(kr);
	return rc;
}

void keyring_close(struct keyring *kr)
{
	if (!kr)
		return;
	/* sodium_free zeroes the block before releasing it. */
	sodium_free(kr->sec);
	pthread_mutex_destroy(&kr->lock);
	free(kr);
}

int keyring_create_mask_key(struct keyring *kr)
{
	uint8_t wrapped[KEY_WRAPPED];
	uint32_t id;
	int rc;

	pthread_mutex_lock(&kr->lock);
	/* A second masking key would change every token and break joins on masked columns. */
	rc = catalog_key_active(kr->cat, "mask", NULL, &id, wrapped, sizeof(wrapped));
	if (rc == 0)
		rc = -EEXIST;
	else if (rc == -ENOENT)
		rc = keyring_add(kr, "mask", NULL, &id);
	pthread_mutex_unlock(&kr->lock);
	return rc;
}

int keyring_rotate_domain(struct keyring *kr, const char *domain, uint32_t *key_id)
{
	int rc;

	pthread_mutex_lock(&kr->lock);
	rc = keyring_add(kr, "data", domain, key_id);
	pthread_mutex_unlock(&kr->lock);
	return rc;
}

int keyring_mask_key(struct keyring *kr, uint8_t key[KEY_BYTES])
{
	uint32_t id;
	int rc;

	pthread_mutex_lock(&kr->lock);
	rc = keyring_active(kr, "mask", NULL, &id, key);
	pthread_mutex_unlock(&kr->lock);
	return rc;
}

void keyring_audit_key(struct keyring *kr, uint8_t key[KEY_BYTES])
{
	/* a key of its own purpose: what the audit key opens, the master key does not and back */
	static const char purpose[] = "meshfs audit chain key 1";

	pthread_mutex_lock(&kr->lock);
	crypto_generichash(key, KEY_BYTES, (const uint8_t *)purpose, sizeof(purpose),
			   kr->sec->master, KEY_BYTES);
	pthread_mutex_unlock(&kr->lock);
}

int keyring_domain_key(struct keyring *kr, const char *domain, uint32_t *key_id,
		       uint8_t key[KEY_BYTES])
{
	int rc;

	pthread_mutex_lock(&kr->lock);
	rc = keyring_active(kr, "data", domain, key_id, key);
	pthread_mutex_unlock(&kr->lock);
	return rc;
}

int keyring_key(struct keyring *kr, uint32_t key_id, uint8_t key[KEY_BYTES])
{
	int rc;

	pthread_mutex_lock(&kr->lock);
	rc = keyring_resolve(kr, key_id, NULL, key);
	pthread_mutex_unlock(&kr->lock);
	return rc;
}
