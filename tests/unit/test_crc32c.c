/* Unit tests of CRC-32C: known values, and the hardware and table implementations agreeing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/crc32c.h"

/* Both implementations, so that a test checks each (crc32c is the hardware one where it runs). */
static uint32_t both(uint32_t crc, const void *buf, size_t len)
{
	uint32_t c = crc32c(crc, buf, len);

	assert_int_equal(crc32c_portable(crc, buf, len), c);
	return c;
}

static void test_check_values(void **state)
{
	uint8_t buf[32];
	size_t i;

	assert_int_equal(both(0, "123456789", 9), 0xe3069283);
	assert_int_equal(both(0, "", 0), 0);
	assert_int_equal(both(0x12345678, "", 0), 0x12345678);
	assert_int_equal(both(0, "a", 1), 0xc1d04330);
	/* The test vectors of RFC 3720 (iSCSI), appendix B.4. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(both(0, buf, sizeof(buf)), 0x8a9136aa);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(both(0, buf, sizeof(buf)), 0x62a8ab43);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(both(0, buf, sizeof(buf)), 0x46dd794e);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(both(0, buf, sizeof(buf)), 0x113fdb5c);
}

/* The CRC one bit at a time, straight from the definition: the reference for the others. */
static uint32_t crc_bitwise(const uint8_t *p, size_t len)
{
	uint32_t c = 0xffffffff;
	int k;

	while (len--) {
		c ^= *p++;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78 : c >> 1;
	}
	return ~c;
}

/* Every length up to 1000, at every alignment of the start, on random bytes. */
static void test_every_length(void **state)
{
	uint8_t *buf = malloc(1000 + 8);
	size_t len, shift;

	assert_non_null(buf);
	randombytes_buf(buf, 1000 + 8);
	for (shift = 0; shift < 8; shift++) {
		for (len = 0; len <= 1000; len++)
			assert_int_equal(both(0, buf + shift, len), crc_bitwise(buf + shift, len));
	}
	free(buf);
}

/*
 * Lengths around the three-chain block sizes (3 x 256 and 3 x 8192 bytes) and far beyond them,
 * at odd starts, so that every way of combining chains and tails is taken.
 */
static void test_large(void **state)
{
	static const size_t lengths[] = {767,
					 768,
					 769,
					 775,
					 776,
					 1535,
					 1536,
					 1543,
					 24575,
					 24576,
					 24577,
					 24583,
					 25343,
					 25344,
					 25345,
					 49152,
					 49153,
					 50000,
					 100003,
					 1 << 20,
					 (1 << 20) + 13,
					 3 << 20,
					 (3 << 20) + 771};
	size_t max = (3 << 20) + 771 + 8, i, shift;
	uint8_t *buf = malloc(max);
	uint32_t c;

	assert_non_null(buf);
	randombytes_buf(buf, max);
	for (i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		for (shift = 0; shift < 8; shift += 3) {
			c = both(0, buf + shift, lengths[i]);
			if (lengths[i] < 200000)
				assert_int_equal(c, crc_bitwise(buf + shift, lengths[i]));
		}
	}
	/* All zeros and all ones exercise other table entries than random bytes. */
	memset(buf, 0, max);
	both(0, buf, max);
	memset(buf, 0xff, max);
	both(0, buf, max);
	free(buf);
}

/* A CRC extended piece by piece is the CRC of the whole, wherever the cuts fall. */
static void test_extend(void **state)
{
	size_t len = 100000, i, cut, cut2;
	uint8_t *buf = malloc(len);
	uint32_t whole, c;

	assert_non_null(buf);
	randombytes_buf(buf, len);
	whole = both(0, buf, len);
	for (i = 0; i < 200; i++) {
		cut = randombytes_uniform((uint32_t)len + 1);
		cut2 = cut + randombytes_uniform((uint32_t)(len - cut) + 1);
		c = both(0, buf, cut);
		c = both(c, buf + cut, cut2 - cut);
		c = both(c, buf + cut2, len - cut2);
		assert_int_equal(c, whole);
	}
	free(buf);
}

/* A single flipped bit anywhere changes the CRC (a CRC catches every 1-bit error). */
static void test_flipped_bit(void **state)
{
	size_t len = 4096, i;
	uint8_t *buf = malloc(len);
	uint32_t whole;

	assert_non_null(buf);
	randombytes_buf(buf, len);
	whole = crc32c(0, buf, len);
	for (i = 0; i < 8 * len; i += 7) {
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_not_equal(crc32c(0, buf, len), whole);
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	assert_int_equal(crc32c(0, buf, len), whole);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_values), cmocka_unit_test(test_every_length),
	    cmocka_unit_test(test_large),	 cmocka_unit_test(test_extend),
	    cmocka_unit_test(test_flipped_bit),
	};

#if defined(__x86_64__)
	if (!__builtin_cpu_supports("sse4.2"))
		fprintf(stderr, "note: no SSE4.2 here: only the table implementation is tested\n");
#endif
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
