#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include "common/timeout.h"

static void test_default(void **state)
{
	unsetenv("MESHFS_TIMEOUT");
	assert_int_equal(mfs_timeout_ms(), MFS_TIMEOUT_DEFAULT_S * 1000);
	setenv("MESHFS_TIMEOUT", "", 1);
	assert_int_equal(mfs_timeout_ms(), MFS_TIMEOUT_DEFAULT_S * 1000);
}

static void test_set(void **state)
{
	setenv("MESHFS_TIMEOUT", "3", 1);
	assert_int_equal(mfs_timeout_ms(), 3000);
	setenv("MESHFS_TIMEOUT", "3600", 1);
	assert_int_equal(mfs_timeout_ms(), 3600 * 1000);
	unsetenv("MESHFS_TIMEOUT");
}

/* What is not a whole number of seconds in range falls back to the default. */
static void test_invalid(void **state)
{
	static const char *const bad[] = {"0",	"-1", "3601", "1.5",
					  "2s", " 2", "abc",  "99999999999999999999"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(mfs_timeout_valid(bad[i]));
		setenv("MESHFS_TIMEOUT", bad[i], 1);
		assert_int_equal(mfs_timeout_ms(), MFS_TIMEOUT_DEFAULT_S * 1000);
	}
	assert_true(mfs_timeout_valid("1"));
	assert_false(mfs_timeout_valid(NULL));
	unsetenv("MESHFS_TIMEOUT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default),
	    cmocka_unit_test(test_set),
	    cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
