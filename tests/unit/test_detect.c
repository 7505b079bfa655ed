#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "table/detect.h"

/* Each value fires, and its profile lets a caller try the detector on it. */
static void expect_fires(const char *name, detect_fn fn, const char *const *values)
{
	const struct detector *d = detector_find(name);
	struct detect_profile p;

	assert_non_null(d);
	for (; *values; values++) {
		if (!fn(*values, strlen(*values)))
			fail_msg("%s missed \"%s\"", name, *values);
		detect_profile(*values, strlen(*values), &p);
		if (!detector_may_fire(d, &p))
			fail_msg("the profile of \"%s\" hides %s", *values, name);
	}
}

static void expect_quiet(const char *name, detect_fn fn, const char *const *values)
{
	for (; *values; values++)
		if (fn(*values, strlen(*values)))
			fail_msg("%s fired on \"%s\"", name, *values);
}

/* What tables are full of: no detector may fire on any of it. */
static const char *const everyday[] = {
    "ORD-2024-000123",
    "ord_8f3a2c1d",
    "1234567890",
    "4155552671",
    "14155552671",
    "9999999999",
    "12.50",
    "-0.01",
    "1234567.89",
    "1e10",
    "+12.50",
    "+12345678.90",
    "2024-01-15",
    "2024-01-15T10:30:00Z",
    "2024-01-15T10:30:00.123456+05:30",
    "2024-01-15 10:30:00",
    "20240115103000",
    "1700000000000",
    "1700000000",
    "9780306406157",
    "978-0-306-40615-7",
    "ISBN 978-3-16-148410-0",
    "550e8400-e29b-41d4-a716-446655440000",
    "123e4567-e89b-12d3-a456-426614174000",
    "12345678-1234-4123-8123-123456789012",
    "v1.2.3",
    "1.10.0-rc.1",
    "2.7.18",
    "192.168.0.1",
    "10.0.0.255",
    "SKU-AB12CD34",
    "txn_a1b2c3d4",
    "INV-DE-123456",
    "CC-1234",
    "EUR",
    "d41d8cd98f00b204e9800998ecf8427e",
    "D41D8CD98F00B204E9800998ECF8427E",
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "Gift, wrapped; deliver after 5pm @ back door",
    "@support",
    "user@localhost",
    "pkg@1.2.3",
    "Order 1234 shipped in 3 boxes of 12",
    "ORD4111111111111111",
    "0.4111111111111111",
    "4111111111111111.5",
    "9223372036854775807",
    "-9223372036854775808",
    "",
    NULL,
};

static void test_everyday_values_are_quiet(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < DETECTOR_COUNT; i++)
		expect_quiet(detector_table[i].name, detector_table[i].fn, everyday);
	for (i = 0; everyday[i]; i++)
		assert_null(detector_any(everyday[i], strlen(everyday[i])));
}

static void test_email(void **state)
{
	static const char *const yes[] = {
	    "alice@example.com",
	    "Alice.Smith+tag@mail.example.co.uk",
	    "contact: bob_99@example.org.",
	    "mailto:carol@example.net",
	    "<dave@example.com>",
	    "write to o'brien and e.lee-park@example-mail.de today",
	    "x@y.io",
	    NULL,
	};
	static const char *const no[] = {
	    "@handle",
	    "user@localhost",
	    "a@b.c",
	    "pkg@1.2.3",
	    "foo@bar",
	    "john@",
	    "@example.com",
	    "x@-example.com",
	    "x@example-.com",
	    ".@example.com",
	    "email at example dot com",
	    "a@@example.com",
	    "sha256@abc123",
	    NULL,
	};

	(void)state;
	expect_fires("email", detect_email, yes);
	expect_quiet("email", detect_email, no);
}

static void test_phone(void **state)
{
	static const char *const yes[] = {
	    "+14155552671",
	    "+1 415 555 2671",
	    "+44 20 7946 0958",
	    "+44 (0)20 7946 0958",
	    "+49-30-123456",
	    "+33 1 23 45 67 89",
	    "+81.3.1234.5678",
	    "tel:+14155552671",
	    "(555) 123-4567",
	    "(555)123-4567",
	    "555-123-4567",
	    "555.123.4567",
	    "555 123 4567",
	    "1-800-555-1234",
	    "call me at 555-123-4567 tonight",
	    "reach us on +353 1 234 5678.",
	    NULL,
	};
	static const char *const no[] = {
	    "4155552671",
	    "14155552671",
	    "+1234567",
	    "+0123456789",
	    "+12345678.90",
	    "+1.5551234567",
	    "+15551234567x",
	    "123-456-7890",
	    "555-1234",
	    "555-123-45678",
	    "5555-123-4567",
	    "555-123-4567-89",
	    "2024-01-15T10:30:00+05:30",
	    "+1234567890123456",
	    "(155) 123-4567",
	    "555-123.4567",
	    NULL,
	};

	(void)state;
	expect_fires("phone", detect_phone, yes);
	expect_quiet("phone", detect_phone, no);
}

static void test_card(void **state)
{
	static const char *const yes[] = {
	    "4111111111111111",
	    "4012888888881881",
	    "4222222222222",
	    "4111111111111111003",
	    "5555555555554444",
	    "5105105105105100",
	    "2223003122003222",
	    "378282246310005",
	    "371449635398431",
	    "6011111111111117",
	    "6011000990139424",
	    "6445000000000000",
	    "6512345000000000002",
	    "3530111333300000",
	    "3566002020360505",
	    "4111 1111 1111 1111",
	    "4111-1111-1111-1111",
	    "3782 822463 10005",
	    "paid with card 5555 5555 5555 4444 yesterday",
	    "card:4111111111111111.",
	    "ref 12 4111 1111 1111 1111",
	    "-4111111111111111",
	    NULL,
	};
	static const char *const no[] = {
	    "4111111111111112",
	    "411111111111108",
	    "1234567890123456",
	    "7111111111111114",
	    "4111 1111 1111",
	    "4111  1111  1111  1111",
	    "4111 1111-1111 1111",
	    "4111111111111111abc",
	    "x4111111111111111",
	    "1,4111111111111111",
	    "84111111111111111",
	    "5555555555554444000",
	    NULL,
	};

	(void)state;
	expect_fires("card", detect_card, yes);
	expect_quiet("card", detect_card, no);
}

static void test_iban(void **state)
{
	static const char *const yes[] = {
	    "DE89370400440532013000",
	    "DE89 3704 0044 0532 0130 00",
	    "GB82WEST12345698765432",
	    "GB82 WEST 1234 5698 7654 32",
	    "GB29NWBK60161331926819",
	    "FR1420041010050500013M02606",
	    "NL91ABNA0417164300",
	    "NO9386011117947",
	    "BE68539007547034",
	    "ES9121000418450200051332",
	    "IT60X0542811101000000123456",
	    "IBAN: CH9300762011623852957 (main account)",
	    NULL,
	};
	static const char *const no[] = {
	    "DE89370400440532013001",  "DE12345678901234567890",
	    "XX89370400440532013000",  "DE8937040044053201300",
	    "DE893704004405320130000", "de89370400440532013000",
	    "ADE89370400440532013000", "DE89 3704 0044 0532 0130 0",
	    "AB12CDEF1234567890",      NULL,
	};

	(void)state;
	expect_fires("iban", detect_iban, yes);
	expect_quiet("iban", detect_iban, no);
}

static void test_national_id(void **state)
{
	static const char *const yes[] = {
	    "123-45-6789", "SSN 219-09-9999 on file", "078-05-1120", "AB123456C", "AB 12 34 56 C",
	    "JG103759A",   "NINO: ZY 98 76 54 D.",    NULL,
	};
	static const char *const no[] = {
	    "000-12-3456",   "666-12-3456",   "900-12-3456",
	    "999-99-9999",   "123-00-4567",   "123-45-0000",
	    "123456789",     "12-345-6789",   "1-123-45-6789",
	    "123-45-6789-1", "QQ 12 34 56 C", "QQ123456C",
	    "GB123456A",     "TN123456A",     "AB123456E",
	    "DA123456A",     "AO123456A",     "ABC123456C",
	    "AB123456CD",    "ab123456c",     NULL,
	};

	(void)state;
	expect_fires("national_id", detect_national_id, yes);
	expect_quiet("national_id", detect_national_id, no);
}

static void test_table(void **state)
{
	static const char *const samples[DETECTOR_COUNT] = {
	    "alice@example.com",      "+44 20 7946 0958", "4111 1111 1111 1111",
	    "DE89370400440532013000", "AB 12 34 56 C",
	};
	size_t i, j, digits;

	(void)state;
	assert_string_equal(detector_table[0].name, "email");
	assert_string_equal(detector_table[4].name, "national_id");
	for (i = 0; i < DETECTOR_COUNT; i++) {
		assert_ptr_equal(detector_find(detector_table[i].name), &detector_table[i]);
		assert_non_null(detector_table[i].what);
		assert_true(detector_table[i].fn(samples[i], strlen(samples[i])));
		/* The digit counts callers may skip on must not hide a hit. */
		for (digits = 0, j = 0; samples[i][j]; j++)
			digits += samples[i][j] >= '0' && samples[i][j] <= '9';
		assert_true(digits >= detector_table[i].min_digits);
	}
	assert_null(detector_find("ssn"));
	assert_null(detector_find(""));
	assert_ptr_equal(detector_any("mail me: a@example.com", 22), &detector_table[0]);
	assert_ptr_equal(detector_any("4111111111111111", 16), &detector_table[2]);
	assert_null(detector_any("nothing here", 12));
}

/*
 * Random values made of the bytes detectors look for: whenever a detector fires, the profile of
 * the value lets a caller try it. The values come from a fixed seed, so a failure repeats.
 */
static void test_profile_hides_nothing(void **state)
{
	static const char alphabet[] = "0123456789012345678901234567890123456789"
				       "      ----....++(())@@@__%%ABCDEFGHNQTUVWXYZabcdxyz,:/";
	unsigned long seed = 12345, fired[DETECTOR_COUNT] = {0};
	struct detect_profile p;
	char v[40];
	size_t len, i, k;

	(void)state;
	for (unsigned n = 0; n < 400000; n++) {
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		/* now and then a Visa card's 16 digits (a tenth pass Luhn) or a German IBAN's
		 * shape (one in 97 passes its check), which random bytes would hardly make */
		len = n % 8 == 0 ? 16 : n % 8 == 1 ? 22 : 1 + (seed >> 33) % (sizeof(v) - 1);
		for (i = 0; i < len; i++) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			v[i] = n % 8 < 2 ? (char)('0' + (seed >> 33) % 10)
					 : alphabet[(seed >> 33) % (sizeof(alphabet) - 1)];
		}
		if (n % 8 == 0)
			v[0] = '4';
		if (n % 8 == 1)
			memcpy(v, "DE", 2);
		detect_profile(v, len, &p);
		for (k = 0; k < DETECTOR_COUNT; k++) {
			if (!detector_table[k].fn(v, len))
				continue;
			fired[k]++;
			if (!detector_may_fire(&detector_table[k], &p))
				fail_msg("the profile of \"%.*s\" hides %s", (int)len, v,
					 detector_table[k].name);
		}
	}
	/* the test means something only if each detector fired now and then */
	for (k = 0; k < DETECTOR_COUNT; k++)
		if (!fired[k])
			fail_msg("%s never fired", detector_table[k].name);
}

/* Length, not the NUL, ends a value: bytes after len are never looked at. */
static void test_length_bounds_the_scan(void **state)
{
	static const char email[] = "alice@example.com";
	static const char card[] = "4111111111111111";
	static const char iban[] = "DE89370400440532013000";
	static const char phone[] = "555-123-4567";

	(void)state;
	assert_false(detect_email(email, 12)); /* "alice@exampl" */
	assert_false(detect_card(card, 15));
	assert_false(detect_iban(iban, 21));
	assert_false(detect_phone(phone, 11));
	assert_false(detect_national_id("123-45-6789", 10));
	assert_true(detect_national_id("123-45-67890", 11));
	assert_false(detect_email("", 0));
	assert_false(detect_phone("+", 1));
	assert_false(detect_card("4", 1));
	assert_false(detect_iban("DE", 2));
	assert_false(detect_national_id("A", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_everyday_values_are_quiet),
	    cmocka_unit_test(test_email),
	    cmocka_unit_test(test_phone),
	    cmocka_unit_test(test_card),
	    cmocka_unit_test(test_iban),
	    cmocka_unit_test(test_national_id),
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_profile_hides_nothing),
	    cmocka_unit_test(test_length_bounds_the_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
