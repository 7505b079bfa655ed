#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "contract/logical_type.h"

static void expect_valid(enum logical_type t, const char *const *values)
{
	const char *r;

	for (; *values; values++) {
		r = logical_type_check(t, *values, strlen(*values));
		if (r)
			fail_msg("%s \"%s\" refused: %s", logical_type_name(t), *values, r);
	}
}

static void expect_invalid(enum logical_type t, const char *const *values)
{
	for (; *values; values++)
		if (!logical_type_check(t, *values, strlen(*values)))
			fail_msg("%s \"%s\" accepted", logical_type_name(t), *values);
}

static void test_empty_is_null(void **state)
{
	enum logical_type t;

	(void)state;
	for (t = LT_STRING; t <= LT_TIMESTAMP; t++)
		assert_null(logical_type_check(t, "", 0));
}

static void test_string(void **state)
{
	static const char *const ok[] = {"x", " ", "anything at all", "ünïcødé", "1e999", NULL};

	(void)state;
	expect_valid(LT_STRING, ok);
}

static void test_integer(void **state)
{
	static const char *const ok[] = {"0",
					 "7",
					 "-7",
					 "+7",
					 "007",
					 "-0",
					 "9223372036854775807",
					 "-9223372036854775808",
					 "+9223372036854775807",
					 "000000000000000000000000009223372036854775807",
					 NULL};
	static const char *const bad[] = {"-",
					  "+",
					  "1.0",
					  "1e3",
					  " 1",
					  "1 ",
					  "0x10",
					  "1_000",
					  "1,000",
					  "--1",
					  "+-1",
					  "9223372036854775808",
					  "-9223372036854775809",
					  "99999999999999999999999",
					  "abc",
					  "١",
					  NULL};

	(void)state;
	expect_valid(LT_INTEGER, ok);
	expect_invalid(LT_INTEGER, bad);
	assert_string_equal(logical_type_check(LT_INTEGER, "9223372036854775808", 19),
			    "integer out of range");
	assert_string_equal(logical_type_check(LT_INTEGER, "12a", 3), "not an integer");
}

static void test_number(void **state)
{
	static const char *const ok[] = {"0",
					 "-0",
					 "1",
					 "+1",
					 "-1.5",
					 "3.14159",
					 ".5",
					 "-.5",
					 "+.5e3",
					 "1e10",
					 "1E10",
					 "1e+10",
					 "1.5e-10",
					 "0.000",
					 "1e-400", /* underflows to zero: still a finite number */
					 "0e999999999999",
					 "1e308",
					 "1.7976931348623157e308",
					 "17976931348623157e292",
					 "0.00017976931348623157e312",
					 "1.79769313486231580793728971405303415079934132e308",
					 "-1.7976931348623158e308",
					 "9223372036854775808",
					 NULL};
	static const char *const bad[] = {".",
					  "-",
					  "+",
					  "1.",
					  "-1.",
					  "e5",
					  "1e",
					  "1e+",
					  "1.5.5",
					  "1,5",
					  " 1",
					  "1 ",
					  "nan",
					  "NaN",
					  "inf",
					  "-inf",
					  "Infinity",
					  "0x1p3",
					  "0x10",
					  "1_000",
					  "1e308x",
					  "2e308",
					  "1e309",
					  "-1e309",
					  "1.797693134862315808e308",
					  "1.8e308",
					  "179769313486231580793728971405303415079934133e264",
					  "1e99999999999999999999",
					  NULL};

	(void)state;
	expect_valid(LT_NUMBER, ok);
	expect_invalid(LT_NUMBER, bad);
	assert_string_equal(logical_type_check(LT_NUMBER, "2e308", 5), "number out of range");
	assert_string_equal(logical_type_check(LT_NUMBER, "nan", 3), "not a number");
}

static void test_number_len_is_respected(void **state)
{
	/* Values are cut out of a CSV line: the bytes after len belong to the next cell. */
	(void)state;
	assert_null(logical_type_check(LT_NUMBER, "12,x", 2));
	assert_null(logical_type_check(LT_INTEGER, "12,x", 2));
	assert_null(logical_type_check(LT_DATE, "2024-02-29,x", 10));
	assert_null(logical_type_check(LT_TIMESTAMP, "2024-02-29T10:00,x", 16));
	assert_null(logical_type_check(LT_BOOLEAN, "true,x", 4));
	assert_non_null(logical_type_check(LT_NUMBER, "1.", 2));
}

static void test_boolean(void **state)
{
	static const char *const ok[] = {"true",  "false", "TRUE", "FALSE", "True",
					 "False", "tRuE",  "1",	   "0",	    NULL};
	static const char *const bad[] = {"yes", "no", "t",	"f",	 "2",	  "10",	  "-1",
					  "on",	 "00", "true ", " true", "truee", "fals", NULL};

	(void)state;
	expect_valid(LT_BOOLEAN, ok);
	expect_invalid(LT_BOOLEAN, bad);
}

static void test_date(void **state)
{
	static const char *const ok[] = {"2024-01-01", "2024-12-31", "2024-02-29",
					 "2000-02-29", "1999-02-28", "0001-01-01",
					 "9999-12-31", "2023-04-30", NULL};
	static const char *const bad[] = {
	    "2023-02-29", "1900-02-29",	      "2100-02-29",  "2024-02-30",
	    "2024-04-31", "2024-13-01",	      "2024-00-10",  "2024-01-00",
	    "2024-01-32", "2024-1-01",	      "24-01-01",    "2024/01/01",
	    "20240101",	  "2024-01-01T00:00", "2024-01-01 ", "2024-0a-01",
	    "+024-01-01", "2024-01-1",	      NULL};

	(void)state;
	expect_valid(LT_DATE, ok);
	expect_invalid(LT_DATE, bad);
	assert_string_equal(logical_type_check(LT_DATE, "2023-02-29", 10), "no such day");
}

static void test_timestamp(void **state)
{
	static const char *const ok[] = {"2024-01-01T00:00",
					 "2024-01-01 00:00",
					 "2024-01-01T23:59:59",
					 "2024-02-29T12:30:00Z",
					 "2024-01-01T12:30:00.5",
					 "2024-01-01T12:30:00.123456789",
					 "2024-01-01T12:30:00.123+02:00",
					 "2024-01-01T12:30:00-0530",
					 "2024-01-01T12:30Z",
					 "2024-01-01T12:30+01:00",
					 "2016-12-31T23:59:60Z",
					 "2024-01-01 12:30:00+00:00",
					 NULL};
	static const char *const bad[] = {"2024-01-01",
					  "2024-01-01T",
					  "2024-01-01T1:00",
					  "2024-01-01T24:00",
					  "2024-01-01T12:60",
					  "2024-01-01T12:30:61",
					  "2024-01-01X12:30",
					  "2024-01-01t12:30",
					  "2024-01-01T12:30:",
					  "2024-01-01T12:30:0",
					  "2024-01-01T12:30:00.",
					  "2024-01-01T12:30:00.1234567890",
					  "2024-01-01T12:30.5",
					  "2024-01-01T12:30:00ZZ",
					  "2024-01-01T12:30:00+1",
					  "2024-01-01T12:30:00+01",
					  "2024-01-01T12:30:00+01:0",
					  "2024-01-01T12:30:00+24:00",
					  "2024-01-01T12:30:00+01:60",
					  "2024-01-01T12:30:00+01:00:00",
					  "2024-01-01T12:30:00 +01:00",
					  "2023-02-29T12:30",
					  "2024-01-01T12-30",
					  "2024-01-01T12:30:00 ",
					  NULL};

	(void)state;
	expect_valid(LT_TIMESTAMP, ok);
	expect_invalid(LT_TIMESTAMP, bad);
	assert_string_equal(logical_type_check(LT_TIMESTAMP, "2023-02-29T12:30", 16),
			    "no such day");
}

/* The Unix seconds of a timestamp, which must pass under flags. */
static int64_t seconds_of(const char *s, unsigned flags)
{
	int64_t secs = -12345;
	const char *r = logical_type_timestamp(s, strlen(s), flags, &secs);

	if (r)
		fail_msg("\"%s\" refused: %s", s, r);
	return secs;
}

static void test_timestamp_seconds(void **state)
{
	(void)state;
	assert_int_equal(seconds_of("1970-01-01T00:00Z", 0), 0);
	assert_int_equal(seconds_of("1969-12-31T23:59:59Z", 0), -1);
	assert_int_equal(seconds_of("2024-02-29T12:34:56+01:00", 0), 1709206496);
	assert_int_equal(seconds_of("2024-02-29 12:34:56.999+0100", 0), 1709206496);
	assert_int_equal(seconds_of("9999-12-31T23:59:59-23:59", 0), 253402387139);
	/* A leap second is the first second of the next minute. */
	assert_int_equal(seconds_of("2024-06-30T23:59:60", 0), 1719792000);
	/* The same answer with the lenient flag, and NULL for the seconds is allowed. */
	assert_int_equal(seconds_of("2024-02-29T12:34:56+01:00", LT_TIMESTAMP_LENIENT), 1709206496);
	assert_null(logical_type_timestamp("2024-01-01T00:00", 16, 0, NULL));
	assert_string_equal(logical_type_timestamp("2024-01-01T24:00", 16, 0, NULL),
			    "no such time");
}

static void test_timestamp_lenient(void **state)
{
	static const char *const bad[] = {"2024-01-0",
					  "2024-13-01",
					  "2023-02-29",
					  "2024-01-01T",
					  "2024-01-01T12",
					  "2024-01-01T12:3",
					  "2024-01-01T12:30:",
					  "2024-01-01T12:30:00,",
					  "2024-01-01X",
					  "2024-01-01ZZ",
					  "2024-01-01+1",
					  "2024-01-01+24",
					  "2024-01-01+01:6",
					  "2024-01-01+01:60",
					  "2024-01-01 ",
					  "2024-01-01T12:30:00 +01:00",
					  NULL};
	const char *const *v;

	(void)state;
	assert_int_equal(seconds_of("2000-03-01", LT_TIMESTAMP_LENIENT), 951868800);
	assert_int_equal(seconds_of("2024-01-01t10:20z", LT_TIMESTAMP_LENIENT), 1704104400);
	assert_int_equal(seconds_of("2024-01-01 10:20:00,123456789012+05:30", LT_TIMESTAMP_LENIENT),
			 1704084600);
	assert_int_equal(seconds_of("2024-01-01T10:20+05", LT_TIMESTAMP_LENIENT), 1704086400);
	assert_int_equal(seconds_of("2024-01-01T10:20+05:", LT_TIMESTAMP_LENIENT), 1704086400);
	assert_int_equal(seconds_of("2024-01-01-0230", LT_TIMESTAMP_LENIENT), 1704076200);
	/* None of these is a timestamp of a contract. */
	assert_non_null(logical_type_timestamp("2000-03-01", 10, 0, NULL));
	assert_non_null(logical_type_timestamp("2024-01-01T10:20+05", 19, 0, NULL));
	for (v = bad; *v; v++)
		if (!logical_type_timestamp(*v, strlen(*v), LT_TIMESTAMP_LENIENT, NULL))
			fail_msg("\"%s\" accepted", *v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_is_null),
	    cmocka_unit_test(test_string),
	    cmocka_unit_test(test_integer),
	    cmocka_unit_test(test_number),
	    cmocka_unit_test(test_number_len_is_respected),
	    cmocka_unit_test(test_boolean),
	    cmocka_unit_test(test_date),
	    cmocka_unit_test(test_timestamp),
	    cmocka_unit_test(test_timestamp_seconds),
	    cmocka_unit_test(test_timestamp_lenient),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
