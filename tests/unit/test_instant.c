/* Instants of time travel (mesh_instant_parse): RFC 3339 date-times, and what is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>

#include "mesh/mesh.h"

/* 2026-12-01T10:00:00Z */
#define T0 1796119200

static void expect(const char *s, int64_t want)
{
	int64_t got = -1;

	assert_int_equal(mesh_instant_parse(s, &got), 0);
	assert_int_equal(got, want);
}

static void test_valid(void **state)
{
	(void)state;
	expect("2026-12-01T10:00:00Z", T0);
	expect("2026-12-01t10:00:00z", T0);
	/* a fraction is dropped, whole seconds being what publish times hold */
	expect("2026-12-01T10:00:00.999999999Z", T0);
	expect("2026-12-01T12:30:00+02:30", T0);
	expect("2026-12-01T09:00:00-01:00", T0);
	expect("2026-12-01T10:00:00.5-00:00", T0);
	expect("1970-01-01T00:00:00Z", 0);
	expect("1969-12-31T23:59:59Z", -1);
	/* a leap second is the first second of the next minute */
	expect("2016-12-31T23:59:60Z", 1483228800);
	expect("2024-02-29T00:00:00Z", 1709164800);
}

static void test_invalid(void **state)
{
	static const char *const bad[] = {
	    "",
	    "2026-12-01",
	    "2026-12-01T10:00Z",
	    "2026-12-01T10:00:00",
	    "2026-12-01 10:00:00Z",
	    "2026-12-01T10:00:00+02",
	    "2026-12-01T10:00:00+0200",
	    "2026-12-01T10:00:00.Z",
	    "2026-12-01T10:00:00.1234567890Z",
	    "2026-02-30T10:00:00Z",
	    "2026-12-01T24:00:00Z",
	    "2026-12-01T10:00:00+24:00",
	    "2026-12-01T10:00:00ZZ",
	    "1764583200",
	    "latest",
	    "x2026-12-01T10:00:00Z",
	};
	int64_t got = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		if (mesh_instant_parse(bad[i], &got) != -EINVAL)
			fail_msg("'%s' was taken", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
