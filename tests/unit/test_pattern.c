#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "contract/pattern.h"

static struct pattern *compiled(const char *text)
{
	struct pattern *p = NULL;
	char why[200];

	if (pattern_compile(&p, text, why, sizeof(why)))
		fail_msg("pattern %s refused: %s", text, why);
	return p;
}

static int matches(const char *text, const char *value)
{
	struct pattern *p = compiled(text);
	int rc = pattern_match(p, value, strlen(value));

	pattern_free(p);
	return rc;
}

/* What ODCS users write, in the Perl/ECMA style, means what it means there. */
static void test_perl_syntax(void **state)
{
	(void)state;
	assert_int_equal(matches("^\\d{3}-\\d{4}$", "555-1234"), 1);
	assert_int_equal(matches("^\\d{3}-\\d{4}$", "555-12345"), 0);
	assert_int_equal(matches("^\\w+$", "snake_case_9"), 1);
	assert_int_equal(matches("^\\w+$", "two words"), 0);
	assert_int_equal(matches("(?i)^sku-[a-z]{2,4}$", "SKU-AbC"), 1);
	assert_int_equal(matches("^(?!test)\\w+", "testing"), 0);
	assert_int_equal(matches("^(?!test)\\w+", "prod"), 1);
	assert_int_equal(matches("(?<=EUR )\\d+", "EUR 12"), 1);
	assert_int_equal(matches("^[\\d\\-]+$", "12-34"), 1);
	assert_int_equal(matches("^(ab)\\1$", "abab"), 1);
	assert_int_equal(matches("^(ab)\\1$", "abba"), 0);
	assert_int_equal(matches("^\\p{Lu}", "Ärger"), 1);
}

/* Unanchored patterns search, as POSIX regexec did before. */
static void test_search(void **state)
{
	(void)state;
	assert_int_equal(matches("\\d", "abc7def"), 1);
	assert_int_equal(matches("\\d", "abcdef"), 0);
	assert_int_equal(matches("", "anything"), 1);
}

static void test_len_is_respected(void **state)
{
	struct pattern *p = compiled("^abc$");

	(void)state;
	assert_int_equal(pattern_match(p, "abcdef", 3), 1);
	assert_int_equal(pattern_match(p, "abcdef", 4), 0);
	assert_string_equal(pattern_text(p), "^abc$");
	pattern_free(p);
}

static void test_refused_with_reason(void **state)
{
	static const char *const bad[] = {"a++++", "(unclosed", "[z-a]",   "a{2,1}",
					  "\\",	   "*a",	"(?<name", NULL};
	const char *const *t;
	struct pattern *p;
	char why[200];

	(void)state;
	for (t = bad; *t; t++) {
		p = (struct pattern *)1;
		why[0] = '\0';
		assert_int_equal(pattern_compile(&p, *t, why, sizeof(why)), -EINVAL);
		assert_null(p);
		if (!strstr(why, "offset"))
			fail_msg("pattern %s: reason '%s' does not say where", *t, why);
	}
}

static void test_size_bounds(void **state)
{
	char *long_text = malloc(PATTERN_MAX_LEN + 2), *nested = malloc(2 * 200 + 2);
	struct pattern *p = NULL;
	char why[200];
	size_t i;

	(void)state;
	memset(long_text, 'a', PATTERN_MAX_LEN + 1);
	long_text[PATTERN_MAX_LEN + 1] = '\0';
	assert_int_equal(pattern_compile(&p, long_text, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "longer than"));
	for (i = 0; i < 200; i++) {
		nested[i] = '(';
		nested[200 + i] = ')';
	}
	nested[400] = '\0';
	assert_int_equal(pattern_compile(&p, nested, why, sizeof(why)), -EINVAL);
	/* Counted repetition that POSIX engines expand is compiled as a loop here. */
	assert_int_equal(pattern_compile(&p, "((a{1000}){1000}){100}", why, sizeof(why)), -EINVAL);
	free(long_text);
	free(nested);
}

/* Catastrophic backtracking stops at the bounds instead of running for minutes. */
static void test_match_bounded(void **state)
{
	static const char *const evil[] = {"^(a+)+$", "^(\\w+\\s?)*$", "^(a|a)*\\1b$",
					   "^((a*)*)*b$", NULL};
	char value[4096];
	const char *const *t;
	struct pattern *p;
	int rc;

	(void)state;
	memset(value, 'a', sizeof(value) - 2);
	value[sizeof(value) - 2] = '!';
	value[sizeof(value) - 1] = '\0';
	for (t = evil; *t; t++) {
		p = compiled(*t);
		rc = pattern_match(p, value, strlen(value));
		if (rc != -E2BIG && rc != 0)
			fail_msg("pattern %s on a pathological value: %d", *t, rc);
		pattern_free(p);
	}
}

static void test_not_utf8(void **state)
{
	struct pattern *p = compiled("^.+$");

	(void)state;
	assert_int_equal(pattern_match(p, "\xff\xfe", 2), -EINVAL);
	pattern_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_perl_syntax),	     cmocka_unit_test(test_search),
	    cmocka_unit_test(test_len_is_respected), cmocka_unit_test(test_refused_with_reason),
	    cmocka_unit_test(test_size_bounds),	     cmocka_unit_test(test_match_bounded),
	    cmocka_unit_test(test_not_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
