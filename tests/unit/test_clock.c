#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/clock.h"

static void test_sleep(void **state)
{
	int64_t t0 = mfs_clock_ms(), t1;

	mfs_sleep_ms(0);
	mfs_sleep_ms(30);
	t1 = mfs_clock_ms();
	assert_true(t1 - t0 >= 30);
	/* forward only */
	assert_true(mfs_clock_ms() >= t1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sleep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
