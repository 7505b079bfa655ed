/*
 * A staged file is a sequence of fixed-size slots, one per block of STAGING_BLOCK plaintext bytes:
 *   24-byte random nonce | ciphertext of the whole block (zero-padded) | 16-byte tag
 * with the block's index as associated data, so blocks cannot be moved. A fresh nonce on every
 * rewrite of a block: nothing is ever encrypted twice under one nonce. A slot that was never
 * written (a hole, or beyond the end of the file) reads as zeros.
 */
#include "fs/staging.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#define STAGING_BLOCK 65536
#define NONCE	      crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG	      crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SLOT	      (NONCE + STAGING_BLOCK + TAG)

struct staging {
	int fd;
	uint64_t size;
	pthread_mutex_t lock;
	uint8_t *key;	/* sodium_malloc'd: guarded and never swapped out */
	uint8_t *plain; /* one block of plaintext, sodium_malloc'd */
	uint8_t slot[SLOT];
};

static int staging_open_file(const char *dir)
{
	char path[4096];
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd >= 0 ? fd : -errno;
	/* No O_TMPFILE here: a named file, unlinked at once. */
	if ((size_t)snprintf(path, sizeof(path), "%s/upload-XXXXXX", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(path);
	return fd;
}

int staging_create(struct staging **out, const char *dir)
{
	struct staging *st;
	int rc;

	if (sodium_init() < 0)
		return -EIO;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->fd = -1;
	pthread_mutex_init(&st->lock, NULL);
	st->key = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	st->plain = sodium_malloc(STAGING_BLOCK);
	if (!st->key || !st->plain) {
		rc = -ENOMEM;
		goto out;
	}
	crypto_aead_xchacha20poly1305_ietf_keygen(st->key);
	rc = staging_open_file(dir);
	if (rc < 0)
		goto out;
	st->fd = rc;
	rc = 0;
out:
	if (rc)
		staging_free(st);
	else
		*out = st;
	return rc;
}

void staging_free(struct staging *st)
{
	if (!st)
		return;
	if (st->fd >= 0)
		close(st->fd);
	sodium_free(st->key);
	sodium_free(st->plain);
	sodium_memzero(st->slot, sizeof(st->slot));
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static void block_ad(uint64_t block, uint8_t ad[8])
{
	for (int i = 0; i < 8; i++)
		ad[i] = (uint8_t)(block >> (8 * i));
}

/* Loads block into st->plain (zeros for a hole). */
static int block_load(struct staging *st, uint64_t block)
{
	static const uint8_t zero_nonce[NONCE];
	unsigned long long plen;
	uint8_t ad[8];
	ssize_t got;

	got = pread(st->fd, st->slot, SLOT, (off_t)(block * SLOT));
	if (got < 0)
		return -errno;
	if (got < (ssize_t)SLOT || !memcmp(st->slot, zero_nonce, NONCE)) {
		memset(st->plain, 0, STAGING_BLOCK);
		return 0;
	}
	block_ad(block, ad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(st->plain, &plen, NULL, st->slot + NONCE,
						       STAGING_BLOCK + TAG, ad, sizeof(ad),
						       st->slot, st->key) ||
	    plen != STAGING_BLOCK)
		return -EIO;
	return 0;
}

static int block_store(struct staging *st, uint64_t block)
{
	unsigned long long clen;
	uint8_t ad[8];
	size_t done = 0;
	ssize_t n;

	randombytes_buf(st->slot, NONCE);
	block_ad(block, ad);
	crypto_aead_xchacha20poly1305_ietf_encrypt(st->slot + NONCE, &clen, st->plain,
						   STAGING_BLOCK, ad, sizeof(ad), NULL, st->slot,
						   st->key);
	assert(clen == STAGING_BLOCK + TAG);
	while (done < SLOT) {
		n = pwrite(st->fd, st->slot + done, SLOT - done, (off_t)(block * SLOT + done));
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}

ssize_t staging_pwrite(struct staging *st, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	size_t done = 0;
	int rc = 0;

	if (off > UINT64_MAX - len)
		return -EFBIG;
	pthread_mutex_lock(&st->lock);
	while (done < len) {
		uint64_t pos = off + done, block = pos / STAGING_BLOCK;
		size_t in = (size_t)(pos % STAGING_BLOCK);
		size_t n = STAGING_BLOCK - in < len - done ? STAGING_BLOCK - in : len - done;

		/* A whole block overwritten needs no read of the old one. */
		if (n < STAGING_BLOCK && (rc = block_load(st, block)))
			break;
		memcpy(st->plain + in, p + done, n);
		rc = block_store(st, block);
		if (rc)
			break;
		done += n;
		if (pos + n > st->size)
			st->size = pos + n;
	}
	sodium_memzero(st->plain, STAGING_BLOCK);
	pthread_mutex_unlock(&st->lock);
	return rc ? rc : (ssize_t)len;
}

ssize_t staging_pread(struct staging *st, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	size_t done = 0;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	if (off >= st->size)
		len = 0;
	else if (len > st->size - off)
		len = (size_t)(st->size - off);
	while (done < len) {
		uint64_t pos = off + done, block = pos / STAGING_BLOCK;
		size_t in = (size_t)(pos % STAGING_BLOCK);
		size_t n = STAGING_BLOCK - in < len - done ? STAGING_BLOCK - in : len - done;

		rc = block_load(st, block);
		if (rc)
			break;
		memcpy(p + done, st->plain + in, n);
		done += n;
	}
	sodium_memzero(st->plain, STAGING_BLOCK);
	pthread_mutex_unlock(&st->lock);
	return rc ? rc : (ssize_t)len;
}

int staging_truncate(struct staging *st, uint64_t size)
{
	uint64_t block = size / STAGING_BLOCK;
	size_t in = (size_t)(size % STAGING_BLOCK);
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	if (size < st->size) {
		/* The tail of the last kept block must read as zeros if the file grows again. */
		if (in) {
			rc = block_load(st, block);
			if (!rc) {
				memset(st->plain + in, 0, STAGING_BLOCK - in);
				rc = block_store(st, block);
			}
			block++;
		}
		if (!rc && ftruncate(st->fd, (off_t)(block * SLOT)))
			rc = -errno;
	}
	if (!rc)
		st->size = size;
	sodium_memzero(st->plain, STAGING_BLOCK);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

uint64_t staging_size(struct staging *st)
{
	uint64_t size;

	pthread_mutex_lock(&st->lock);
	size = st->size;
	pthread_mutex_unlock(&st->lock);
	return size;
}
