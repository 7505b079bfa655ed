/* Sealed chunks: XChaCha20-Poly1305 (IETF) with a random nonce; see seal.h for the layout. */
#include "crypto/seal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define SEAL_PREFIX 5 /* format byte and key id: authenticated as associated data */
#define SEAL_NONCE  crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_TAG    crypto_aead_xchacha20poly1305_ietf_ABYTES

_Static_assert(SEAL_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(SEAL_HEADER == SEAL_PREFIX + SEAL_NONCE, "header size");
_Static_assert(SEAL_OVERHEAD == SEAL_HEADER + SEAL_TAG, "overhead size");

/*
 * The AEAD takes one associated-data buffer; the caller's binding and the chunk prefix are
 * joined into it. Bindings are short (names and numbers), so a small stack buffer covers
 * nearly every call.
 */
struct seal_ad {
	uint8_t stack[256];
	uint8_t *buf;
	size_t len;
};

static int seal_ad_build(struct seal_ad *a, const void *ad, size_t adlen,
			 const uint8_t prefix[SEAL_PREFIX])
{
	if (adlen > SIZE_MAX - SEAL_PREFIX)
		return -ENOMEM;
	a->len = adlen + SEAL_PREFIX;
	if (a->len <= sizeof(a->stack)) {
		a->buf = a->stack;
	} else {
		a->buf = malloc(a->len);
		if (!a->buf)
			return -ENOMEM;
	}
	if (adlen)
		memcpy(a->buf, ad, adlen);
	memcpy(a->buf + adlen, prefix, SEAL_PREFIX);
	return 0;
}

static void seal_ad_release(struct seal_ad *a)
{
	if (a->buf != a->stack)
		free(a->buf);
}

static void seal_prefix(uint8_t prefix[SEAL_PREFIX], uint32_t key_id)
{
	prefix[0] = SEAL_FORMAT;
	prefix[1] = (uint8_t)key_id;
	prefix[2] = (uint8_t)(key_id >> 8);
	prefix[3] = (uint8_t)(key_id >> 16);
	prefix[4] = (uint8_t)(key_id >> 24);
}

int seal_chunk(const uint8_t key[SEAL_KEY_BYTES], uint32_t key_id, const void *ad, size_t adlen,
	       const void *pt, size_t ptlen, struct strbuf *out)
{
	struct seal_ad a;
	unsigned long long clen;
	uint8_t *chunk;
	int rc;

	/* sodium_init() is idempotent and thread-safe; it must precede randombytes. */
	if (sodium_init() < 0)
		return -ENOMEM;
	if (ptlen > SIZE_MAX - SEAL_OVERHEAD)
		return -ENOMEM;
	rc = strbuf_grow(out, ptlen + SEAL_OVERHEAD);
	if (rc)
		return rc;
	chunk = (uint8_t *)out->buf + out->len;
	seal_prefix(chunk, key_id);
	rc = seal_ad_build(&a, ad, adlen, chunk);
	if (rc)
		return rc;
	randombytes_buf(chunk + SEAL_PREFIX, SEAL_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(chunk + SEAL_HEADER, &clen, pt, ptlen, a.buf,
						   a.len, NULL, chunk + SEAL_PREFIX, key);
	assert(clen == ptlen + SEAL_TAG);
	out->len += SEAL_HEADER + (size_t)clen;
	out->buf[out->len] = '\0';
	seal_ad_release(&a);
	return 0;
}

int seal_chunk_key_id(const void *chunk, size_t len, uint32_t *key_id)
{
	const uint8_t *c = chunk;

	if (len < SEAL_OVERHEAD || c[0] != SEAL_FORMAT)
		return -EIO;
	*key_id =
	    (uint32_t)c[1] | (uint32_t)c[2] << 8 | (uint32_t)c[3] << 16 | (uint32_t)c[4] << 24;
	return 0;
}

int seal_open(const uint8_t key[SEAL_KEY_BYTES], const void *ad, size_t adlen, const void *chunk,
	      size_t len, struct strbuf *out)
{
	const uint8_t *c = chunk;
	struct seal_ad a;
	unsigned long long plen;
	uint32_t key_id;
	size_t ptlen;
	int rc;

	rc = seal_chunk_key_id(chunk, len, &key_id);
	if (rc)
		return rc;
	if (sodium_init() < 0)
		return -ENOMEM;
	ptlen = len - SEAL_OVERHEAD;
	rc = strbuf_grow(out, ptlen);
	if (rc)
		return rc;
	rc = seal_ad_build(&a, ad, adlen, c);
	if (rc)
		return rc;
	/* Decrypts in place at the end of out; on failure libsodium leaves nothing usable and
	 * out->len is untouched, so no partial plaintext is ever visible. */
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((uint8_t *)out->buf + out->len, &plen, NULL,
						       c + SEAL_HEADER, len - SEAL_HEADER, a.buf,
						       a.len, c + SEAL_PREFIX, key) != 0) {
		rc = -EIO;
		goto out;
	}
	assert(plen == ptlen);
	out->len += (size_t)plen;
	out->buf[out->len] = '\0';
out:
	seal_ad_release(&a);
	return rc;
}
