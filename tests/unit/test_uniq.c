#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "table/uniq.h"

static void test_duplicates_found_with_first_line(void **state)
{
	struct uniq *u = uniq_new();
	unsigned long first = 0;

	(void)state;
	assert_non_null(u);
	assert_int_equal(uniq_add(u, "a", 1, 2, &first), 1);
	assert_int_equal(uniq_add(u, "b", 1, 3, &first), 1);
	assert_int_equal(uniq_add(u, "ab", 2, 4, &first), 1);
	assert_int_equal(uniq_add(u, "", 0, 5, &first), 1);
	assert_int_equal(uniq_add(u, "a", 1, 6, &first), 0);
	assert_int_equal(first, 2);
	assert_int_equal(uniq_add(u, "", 0, 7, &first), 0);
	assert_int_equal(first, 5);
	uniq_free(u);
}

static void test_many_values_survive_growth(void **state)
{
	struct uniq *u = uniq_new();
	unsigned long first;
	char buf[32];

	(void)state;
	for (unsigned long i = 0; i < 200000; i++) {
		int n = snprintf(buf, sizeof(buf), "%lu", i);

		assert_int_equal(uniq_add(u, buf, (size_t)n, i + 1, &first), 1);
	}
	for (unsigned long i = 0; i < 200000; i += 997) {
		int n = snprintf(buf, sizeof(buf), "%lu", i);

		assert_int_equal(uniq_add(u, buf, (size_t)n, 999999, &first), 0);
		assert_int_equal(first, i + 1);
	}
	uniq_free(u);
	uniq_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duplicates_found_with_first_line),
	    cmocka_unit_test(test_many_values_survive_growth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
