#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "crypto/seal.h"

static const char binding[] = "orders/customers/customers/email|v3|g7";
static const char secret[] = "alice@example.com\nbob@example.org\n";

static void fill_key(uint8_t key[SEAL_KEY_BYTES], uint8_t seed)
{
	for (size_t i = 0; i < SEAL_KEY_BYTES; i++)
		key[i] = (uint8_t)(seed + i * 7);
}

static void seal_secret(const uint8_t key[SEAL_KEY_BYTES], uint32_t key_id, struct strbuf *out)
{
	size_t before = out->len;

	assert_int_equal(
	    seal_chunk(key, key_id, binding, strlen(binding), secret, strlen(secret), out), 0);
	assert_int_equal(out->len - before, strlen(secret) + SEAL_OVERHEAD);
}

static void test_round_trip(void **state)
{
	uint8_t key[SEAL_KEY_BYTES];
	struct strbuf chunk, pt;

	fill_key(key, 1);
	strbuf_init(&chunk);
	strbuf_init(&pt);
	seal_secret(key, 42, &chunk);
	/* The plaintext does not appear in the chunk. */
	assert_null(memmem(chunk.buf, chunk.len, "alice", 5));
	assert_int_equal(seal_open(key, binding, strlen(binding), chunk.buf, chunk.len, &pt), 0);
	assert_int_equal(pt.len, strlen(secret));
	assert_memory_equal(pt.buf, secret, pt.len);
	assert_int_equal(pt.buf[pt.len], '\0');
	strbuf_release(&chunk);
	strbuf_release_secure(&pt);
}

static void test_appends(void **state)
{
	uint8_t key[SEAL_KEY_BYTES];
	struct strbuf chunk, pt;

	fill_key(key, 2);
	strbuf_init(&chunk);
	strbuf_init(&pt);
	assert_int_equal(strbuf_addstr(&chunk, "prefix"), 0);
	seal_secret(key, 1, &chunk);
	assert_int_equal(chunk.len, 6 + strlen(secret) + SEAL_OVERHEAD);
	assert_memory_equal(chunk.buf, "prefix", 6);
	assert_int_equal(strbuf_addstr(&pt, "head:"), 0);
	assert_int_equal(
	    seal_open(key, binding, strlen(binding), chunk.buf + 6, chunk.len - 6, &pt), 0);
	assert_string_equal(pt.buf, "head:alice@example.com\nbob@example.org\n");
	strbuf_release(&chunk);
	strbuf_release_secure(&pt);
}

static void test_nonce_random(void **state)
{
	uint8_t key[SEAL_KEY_BYTES];
	struct strbuf a, b;

	fill_key(key, 3);
	strbuf_init(&a);
	strbuf_init(&b);
	seal_secret(key, 1, &a);
	seal_secret(key, 1, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_not_equal(a.buf, b.buf, a.len);
	strbuf_release(&a);
	strbuf_release(&b);
}

static void test_empty_plaintext(void **state)
{
	uint8_t key[SEAL_KEY_BYTES];
	struct strbuf chunk, pt;

	fill_key(key, 4);
	strbuf_init(&chunk);
	strbuf_init(&pt);
	assert_int_equal(seal_chunk(key, 9, NULL, 0, "", 0, &chunk), 0);
	assert_int_equal(chunk.len, SEAL_OVERHEAD);
	assert_int_equal(seal_open(key, NULL, 0, chunk.buf, chunk.len, &pt), 0);
	assert_int_equal(pt.len, 0);
	strbuf_release(&chunk);
	strbuf_release(&pt);
}

static void test_tamper_every_byte(void **state)
{
	uint8_t key[SEAL_KEY_BYTES];
	struct strbuf chunk, pt;

	fill_key(key, 5);
	strbuf_init(&chunk);
	strbuf_init(&pt);
	seal_secret(key, 7, &chunk);
	for (size_t i = 0; i < chunk.len; i++) {
		chunk.buf[i] ^= 0x01;
		assert_int_equal(
		    seal_open(key, binding, strlen(binding), chunk.buf, chunk.len, &pt), -EIO);
		/* Nothing at all is appended on failure. */
		assert_int_equal(pt.len, 0);
		chunk.buf[i] ^= 0x01;
	}
	assert_int_equal(seal_open(key, binding, strlen(binding), chunk.buf, chunk.len, &pt), 0);
	strbuf_release(&chunk);
	strbuf_release_secure(&pt);
}

static void test_wrong_key(void **state)
{
	uint8_t key[SEAL_KEY_BYTES], other[SEAL_KEY_BYTES];
	struct strbuf chunk, pt;

	fill_key(key, 6);
	memcpy(other, key, sizeof(other));
	other[31] ^= 0x80;
	strbuf_init(&chunk);
	strbuf_init(&pt);
	seal_secret(key, 7, &chunk);
	assert_int_equal(seal_open(other, binding, strlen(binding), chunk.buf, chunk.len, &pt),
			 -EIO);
	assert_int_equal(pt.len, 0);
	strbuf_release(&chunk);
	strbuf_release(&pt);
}

static void test_wrong_ad(void **state)
{
	static const char other[] = "orders/customers/customers/phone|v3|g7";
	uint8_t key[SEAL_KEY_BYTES];
	struct strbuf chunk, pt;

	fill_key(key, 7);
	strbuf_init(&chunk);
	strbuf_init(&pt);
	seal_secret(key, 7, &chunk);
	assert_int_equal(seal_open(key, other, strlen(other), chunk.buf, chunk.len, &pt), -EIO);
	assert_int_equal(seal_open(key, binding, strlen(binding) - 1, chunk.buf, chunk.len, &pt),
			 -EIO);
	assert_int_equal(seal_open(key, NULL, 0, chunk.buf, chunk.len, &pt), -EIO);
	assert_int_equal(pt.len, 0);
	strbuf_release(&chunk);
	strbuf_release(&pt);
}

static void test_long_ad(void **state)
{
	char ad[1000];
	uint8_t key[SEAL_KEY_BYTES];
	struct strbuf chunk, pt;

	memset(ad, 'a', sizeof(ad));
	fill_key(key, 8);
	strbuf_init(&chunk);
	strbuf_init(&pt);
	assert_int_equal(seal_chunk(key, 3, ad, sizeof(ad), secret, strlen(secret), &chunk), 0);
	assert_int_equal(seal_open(key, ad, sizeof(ad), chunk.buf, chunk.len, &pt), 0);
	assert_string_equal(pt.buf, secret);
	ad[999] = 'b';
	strbuf_reset(&pt);
	assert_int_equal(seal_open(key, ad, sizeof(ad), chunk.buf, chunk.len, &pt), -EIO);
	strbuf_release(&chunk);
	strbuf_release_secure(&pt);
}

static void test_truncated(void **state)
{
	uint8_t key[SEAL_KEY_BYTES];
	struct strbuf chunk, pt;

	fill_key(key, 9);
	strbuf_init(&chunk);
	strbuf_init(&pt);
	seal_secret(key, 7, &chunk);
	for (size_t len = 0; len < chunk.len; len++)
		assert_int_equal(seal_open(key, binding, strlen(binding), chunk.buf, len, &pt),
				 -EIO);
	assert_int_equal(pt.len, 0);
	strbuf_release(&chunk);
	strbuf_release(&pt);
}

static void test_key_id(void **state)
{
	uint8_t key[SEAL_KEY_BYTES];
	struct strbuf chunk;
	uint32_t id = 0;

	fill_key(key, 10);
	strbuf_init(&chunk);
	seal_secret(key, 0xa1b2c3d4u, &chunk);
	assert_int_equal(seal_chunk_key_id(chunk.buf, chunk.len, &id), 0);
	assert_int_equal(id, 0xa1b2c3d4u);
	assert_int_equal((uint8_t)chunk.buf[0], SEAL_FORMAT);
	assert_int_equal((uint8_t)chunk.buf[1], 0xd4);
	assert_int_equal((uint8_t)chunk.buf[4], 0xa1);
	assert_int_equal(seal_chunk_key_id(chunk.buf, SEAL_OVERHEAD - 1, &id), -EIO);
	assert_int_equal(seal_chunk_key_id(chunk.buf, 0, &id), -EIO);
	chunk.buf[0] = SEAL_FORMAT + 1;
	assert_int_equal(seal_chunk_key_id(chunk.buf, chunk.len, &id), -EIO);
	strbuf_release(&chunk);
}

static void test_key_id_bound(void **state)
{
	uint8_t key[SEAL_KEY_BYTES];
	struct strbuf chunk, pt;
	uint32_t id = 0;

	/* Relabelling a chunk with another key id must not open. */
	fill_key(key, 11);
	strbuf_init(&chunk);
	strbuf_init(&pt);
	seal_secret(key, 5, &chunk);
	chunk.buf[1] = 6;
	assert_int_equal(seal_chunk_key_id(chunk.buf, chunk.len, &id), 0);
	assert_int_equal(id, 6);
	assert_int_equal(seal_open(key, binding, strlen(binding), chunk.buf, chunk.len, &pt), -EIO);
	strbuf_release(&chunk);
	strbuf_release(&pt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),	      cmocka_unit_test(test_appends),
	    cmocka_unit_test(test_nonce_random),      cmocka_unit_test(test_empty_plaintext),
	    cmocka_unit_test(test_tamper_every_byte), cmocka_unit_test(test_wrong_key),
	    cmocka_unit_test(test_wrong_ad),	      cmocka_unit_test(test_long_ad),
	    cmocka_unit_test(test_truncated),	      cmocka_unit_test(test_key_id),
	    cmocka_unit_test(test_key_id_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
