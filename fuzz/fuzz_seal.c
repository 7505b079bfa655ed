/*
 * Sealed chunks (crypto/seal.h) under a fixed key.
 *
 * Input: u8 length of the associated data (mod 64) | associated data | chunk.
 *
 * Checks:
 * - seal_chunk_key_id accepts exactly the chunks long enough and of the known format, and reads
 *   the key id where seal.h puts it;
 * - seal_open of the chunk either fails with -EIO leaving the output as it was (no partial
 *   plaintext), or succeeds only because the chunk is the very sealing of that plaintext under
 *   the key, nonce and associated data: garbage never opens;
 * - the chunk's bytes, sealed as plaintext, open again to the same bytes; with any one byte of
 *   the sealed chunk changed, one byte of associated data more, or its last byte dropped, they
 *   do not open.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "crypto/seal.h"
#include "common/strbuf.h"
#include "fuzz/fuzz.h"

#define PREFIX "kept"

static uint8_t key[SEAL_KEY_BYTES];

/* Opens chunk into a buffer already holding PREFIX: returns seal_open's result, and checks that
 * a failure leaves the buffer as it was. The plaintext, if any, is left in out after PREFIX. */
static int open_into(const void *ad, size_t adlen, const void *chunk, size_t len,
		     struct strbuf *out)
{
	int rc;

	strbuf_reset(out);
	FUZZ_CHECK(!strbuf_addstr(out, PREFIX));
	rc = seal_open(key, ad, adlen, chunk, len, out);
	if (rc) {
		FUZZ_CHECK(rc == -EIO);
		FUZZ_CHECK(out->len == strlen(PREFIX) && !strcmp(out->buf, PREFIX));
	} else {
		FUZZ_CHECK(out->len == strlen(PREFIX) + len - SEAL_OVERHEAD);
		FUZZ_CHECK(out->buf[out->len] == '\0');
	}
	return rc;
}

/* The chunk opened to out's plaintext: it must be exactly what sealing that plaintext with the
 * chunk's own nonce gives. */
static void check_genuine(const uint8_t *ad, size_t adlen, const uint8_t *chunk, size_t len,
			  const struct strbuf *out)
{
	uint8_t full_ad[64 + 5], ct[4096 + SEAL_OVERHEAD];
	size_t ptlen = len - SEAL_OVERHEAD;
	unsigned long long clen;

	FUZZ_CHECK(adlen <= 64 && ptlen <= 4096);
	memcpy(full_ad, ad, adlen);
	memcpy(full_ad + adlen, chunk, 5);
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen,
						   (const uint8_t *)out->buf + strlen(PREFIX),
						   ptlen, full_ad, adlen + 5, NULL, chunk + 5, key);
	FUZZ_CHECK(clen == len - SEAL_HEADER && !memcmp(ct, chunk + SEAL_HEADER, clen));
}

static void check_round_trip(const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t ptlen,
			     uint32_t key_id, struct strbuf *out)
{
	uint8_t more_ad[64 + 1];
	struct strbuf sealed;
	uint32_t id;
	size_t at;

	strbuf_init(&sealed);
	FUZZ_CHECK(!seal_chunk(key, key_id, ad, adlen, pt, ptlen, &sealed));
	FUZZ_CHECK(sealed.len == ptlen + SEAL_OVERHEAD);
	FUZZ_CHECK(!seal_chunk_key_id(sealed.buf, sealed.len, &id) && id == key_id);
	FUZZ_CHECK(!open_into(ad, adlen, sealed.buf, sealed.len, out));
	FUZZ_CHECK(!memcmp(out->buf + strlen(PREFIX), pt, ptlen));

	at = (size_t)(key_id % sealed.len);
	sealed.buf[at] ^= (char)(1u << (key_id >> 8) % 8);
	FUZZ_CHECK(open_into(ad, adlen, sealed.buf, sealed.len, out) == -EIO);
	sealed.buf[at] ^= (char)(1u << (key_id >> 8) % 8);

	memcpy(more_ad, ad, adlen);
	more_ad[adlen] = 0;
	FUZZ_CHECK(open_into(more_ad, adlen + 1, sealed.buf, sealed.len, out) == -EIO);
	FUZZ_CHECK(open_into(ad, adlen, sealed.buf, sealed.len - 1, out) == -EIO);
	strbuf_release(&sealed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	const uint8_t *ad, *chunk;
	size_t adlen, len;
	struct strbuf out;
	uint32_t id;
	int rc;

	fuzz_begin();
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0x5a ^ i * 29);
	adlen = fuzz_u8(&in) % 64;
	if (adlen > in.left)
		adlen = in.left;
	ad = in.p;
	chunk = in.p + adlen;
	len = in.left - adlen;
	if (len > 4096)
		return 0;
	strbuf_init(&out);

	rc = seal_chunk_key_id(chunk, len, &id);
	if (len < SEAL_OVERHEAD || chunk[0] != SEAL_FORMAT) {
		FUZZ_CHECK(rc == -EIO);
	} else {
		FUZZ_CHECK(rc == 0);
		FUZZ_CHECK(id == ((uint32_t)chunk[1] | (uint32_t)chunk[2] << 8 |
				  (uint32_t)chunk[3] << 16 | (uint32_t)chunk[4] << 24));
	}
	if (!open_into(ad, adlen, chunk, len, &out))
		check_genuine(ad, adlen, chunk, len, &out);

	check_round_trip(ad, adlen, chunk, len, rc ? (uint32_t)len : id, &out);
	strbuf_release_secure(&out);
	return 0;
}
