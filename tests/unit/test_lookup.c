#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/lookup.h"

static const char *const colours[] = {"red", "green", "blue"};

static const struct {
	int value;
	const char *name;
} units[] = {{60, "min"}, {3600, "h"}, {86400, "day"}};

static void test_strings(void **state)
{
	assert_int_equal(mfs_name_index(colours, 3, sizeof(*colours), "red", 0), 0);
	assert_int_equal(mfs_name_index(colours, 3, sizeof(*colours), "blue", 0), 2);
	assert_int_equal(mfs_name_index(colours, 3, sizeof(*colours), "Blue", 0), -1);
	assert_int_equal(mfs_name_index(colours, 3, sizeof(*colours), "Blue", 1), 2);
	assert_int_equal(mfs_name_index(colours, 3, sizeof(*colours), "", 0), -1);
	assert_int_equal(mfs_name_index(colours, 3, sizeof(*colours), "blu", 0), -1);
	/* Only the first n entries are searched. */
	assert_int_equal(mfs_name_index(colours, 2, sizeof(*colours), "blue", 0), -1);
	assert_int_equal(mfs_name_index(colours, 0, sizeof(*colours), "red", 0), -1);
}

static void test_structs(void **state)
{
	int i;

	/* The name need not be the first member. */
	i = mfs_name_index(&units[0].name, 3, sizeof(units[0]), "h", 0);
	assert_int_equal(i, 1);
	assert_int_equal(units[i].value, 3600);
	assert_int_equal(mfs_name_index(&units[0].name, 3, sizeof(units[0]), "DAY", 1), 2);
	assert_int_equal(mfs_name_index(&units[0].name, 3, sizeof(units[0]), "DAY", 0), -1);
	assert_int_equal(mfs_name_index(&units[0].name, 3, sizeof(units[0]), "60", 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_structs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
