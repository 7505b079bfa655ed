#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "crypto/mask.h"

static uint8_t key[MASK_KEY_BYTES];

static int setup(void **state)
{
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	return 0;
}

/* The masked form of value, in a static buffer. */
static const char *masked(enum mask_kind kind, const uint8_t *k, const char *value)
{
	static char res[256];
	struct strbuf sb;

	strbuf_init(&sb);
	assert_int_equal(mask_apply(kind, k, value, strlen(value), &sb), 0);
	assert_true(sb.len < sizeof(res));
	assert_int_equal(strlen(sb.buf), sb.len);
	memcpy(res, sb.buf, sb.len + 1);
	strbuf_release(&sb);
	return res;
}

static void test_parse_name(void **state)
{
	static const char *const names[] = {"token", "redact", "last4", "null"};
	enum mask_kind k;

	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(mask_kind_parse(names[i], &k), 0);
		assert_int_equal(k, (enum mask_kind)i);
		assert_string_equal(mask_kind_name(k), names[i]);
	}
	assert_int_equal(mask_kind_parse("Token", &k), -EINVAL);
	assert_int_equal(mask_kind_parse("", &k), -EINVAL);
	assert_int_equal(mask_kind_parse("hash", &k), -EINVAL);
}

static void test_token_known_answer(void **state)
{
	/* BLAKE2b, keyed, 8-byte output, over "meshfs-token-v1\0" || value: any change to the
	 * derivation changes every token of every mesh, so it is pinned here. */
	assert_string_equal(masked(MASK_TOKEN, key, "alice@example.com"), "tok_50201b0d60ce264b");
}

static void test_token_shape(void **state)
{
	const char *t = masked(MASK_TOKEN, key, "+44 20 7946 0958");

	assert_int_equal(strlen(t), 4 + 16);
	assert_memory_equal(t, "tok_", 4);
	for (size_t i = 4; i < 20; i++)
		assert_true(isxdigit((unsigned char)t[i]) && !isupper((unsigned char)t[i]));
}

static void test_token_stable_and_distinct(void **state)
{
	char a[32], b[32];

	strcpy(a, masked(MASK_TOKEN, key, "alice@example.com"));
	strcpy(b, masked(MASK_TOKEN, key, "alice@example.com"));
	assert_string_equal(a, b);
	strcpy(b, masked(MASK_TOKEN, key, "alice@example.con"));
	assert_string_not_equal(a, b);
	strcpy(b, masked(MASK_TOKEN, key, "Alice@example.com"));
	assert_string_not_equal(a, b);
}

static void test_token_key_dependent(void **state)
{
	uint8_t other[MASK_KEY_BYTES];
	char a[32];

	memcpy(other, key, sizeof(other));
	other[0] ^= 1;
	strcpy(a, masked(MASK_TOKEN, key, "alice@example.com"));
	assert_string_not_equal(a, masked(MASK_TOKEN, other, "alice@example.com"));
}

static void test_token_embedded_nul(void **state)
{
	struct strbuf a, b;

	/* The length, not a NUL, ends a value. */
	strbuf_init(&a);
	strbuf_init(&b);
	assert_int_equal(mask_apply(MASK_TOKEN, key, "ab\0c", 4, &a), 0);
	assert_int_equal(mask_apply(MASK_TOKEN, key, "ab\0d", 4, &b), 0);
	assert_string_not_equal(a.buf, b.buf);
	strbuf_release(&a);
	strbuf_release(&b);
}

static void test_redact_null(void **state)
{
	assert_string_equal(masked(MASK_REDACT, key, "alice@example.com"), "REDACTED");
	assert_string_equal(masked(MASK_REDACT, key, "x"), "REDACTED");
	assert_string_equal(masked(MASK_NULL, key, "alice@example.com"), "");
}

static void test_last4_ascii(void **state)
{
	assert_string_equal(masked(MASK_LAST4, key, "4111111111111111"), "****1111");
	assert_string_equal(masked(MASK_LAST4, key, "12345"), "****2345");
	assert_string_equal(masked(MASK_LAST4, key, "1234"), "****");
	assert_string_equal(masked(MASK_LAST4, key, "123"), "****");
	assert_string_equal(masked(MASK_LAST4, key, "1"), "****");
}

static void test_last4_utf8(void **state)
{
	/* "Zoë Müller": the tail keeps whole code points. */
	assert_string_equal(masked(MASK_LAST4, key, "Zo\xc3\xab M\xc3\xbcller"), "****ller");
	assert_string_equal(masked(MASK_LAST4, key, "M\xc3\xbcll"), "****");
	assert_string_equal(masked(MASK_LAST4, key, "xM\xc3\xbcll"), "****M\xc3\xbcll");
	/* Four characters of 3 and 4 bytes each: exactly 4 characters show nothing. */
	assert_string_equal(
	    masked(MASK_LAST4, key, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xf0\x9f\x98\x80"),
	    "****");
	assert_string_equal(
	    masked(MASK_LAST4, key, "a\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xf0\x9f\x98\x80"),
	    "****\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xf0\x9f\x98\x80");
}

static void test_last4_invalid_utf8(void **state)
{
	const char *m;

	/* Stray continuation bytes never make the shown tail longer than 4 x 4 bytes. */
	m = masked(MASK_LAST4, key,
		   "secret\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80");
	assert_memory_equal(m, "****", 4);
	assert_true(strlen(m) <= 4 + 16);
	assert_null(strstr(m, "secret"));
}

static void test_empty(void **state)
{
	for (int k = MASK_TOKEN; k <= MASK_NULL; k++)
		assert_string_equal(masked((enum mask_kind)k, key, ""), "");
}

static void test_appends(void **state)
{
	struct strbuf sb;

	strbuf_init(&sb);
	assert_int_equal(strbuf_addstr(&sb, "a,"), 0);
	assert_int_equal(mask_apply(MASK_LAST4, key, "987654", 6, &sb), 0);
	assert_int_equal(strbuf_addch(&sb, ','), 0);
	assert_int_equal(mask_apply(MASK_REDACT, key, "x", 1, &sb), 0);
	assert_string_equal(sb.buf, "a,****7654,REDACTED");
	strbuf_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_name),
	    cmocka_unit_test(test_token_known_answer),
	    cmocka_unit_test(test_token_shape),
	    cmocka_unit_test(test_token_stable_and_distinct),
	    cmocka_unit_test(test_token_key_dependent),
	    cmocka_unit_test(test_token_embedded_nul),
	    cmocka_unit_test(test_redact_null),
	    cmocka_unit_test(test_last4_ascii),
	    cmocka_unit_test(test_last4_utf8),
	    cmocka_unit_test(test_last4_invalid_utf8),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_appends),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
