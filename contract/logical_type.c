#include "contract/logical_type.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/lookup.h"

static const char *const type_names[] = {
    [LT_STRING] = "string",   [LT_INTEGER] = "integer", [LT_NUMBER] = "number",
    [LT_BOOLEAN] = "boolean", [LT_DATE] = "date",	[LT_TIMESTAMP] = "timestamp",
};

const char *logical_type_name(enum logical_type t)
{
	assert((size_t)t < sizeof(type_names) / sizeof(type_names[0]));
	return type_names[t];
}

int logical_type_parse(const char *name, enum logical_type *out)
{
	int i = mfs_name_index(type_names, sizeof(type_names) / sizeof(type_names[0]),
			       sizeof(type_names[0]), name, 0);

	if (i < 0)
		return -EINVAL;
	*out = (enum logical_type)i;
	return 0;
}

static const char not_integer[] = "not an integer";
static const char not_number[] = "not a number";
static const char not_date[] = "not a date (YYYY-MM-DD)";
static const char not_timestamp[] = "not a timestamp (YYYY-MM-DDThh:mm[:ss[.fraction]][Z|+hh:mm])";

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The value of the n digits at s, or -1 if one is not a digit. */
static int digits(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static const char *check_integer(const char *s, size_t len)
{
	uint64_t limit = INT64_MAX, v = 0;
	unsigned d;
	int overflow = 0;
	size_t i = 0;

	if (s[0] == '+' || s[0] == '-') {
		if (s[0] == '-')
			limit = (uint64_t)INT64_MAX + 1;
		i++;
	}
	if (i == len)
		return not_integer;
	for (; i < len; i++) {
		if (!is_digit(s[i]))
			return not_integer;
		d = (unsigned)(s[i] - '0');
		if (v > (limit - d) / 10)
			overflow = 1;
		else
			v = v * 10 + d;
	}
	return overflow ? "integer out of range" : NULL;
}

/*
 * The significant digits of the smallest decimal that rounds to infinity as a double
 * (2^1024 - 2^970, times 10^-308), enough of them that only a value written with more digits
 * than this can be wrongly called out of range.
 */
static const char overflow_digits[] = "179769313486231580793728971405303415079934132";

/*
 * Whether the digits of a number with decimal exponent 308 (d.ddd × 10^308) reach the overflow
 * threshold. k is the first significant digit; the digits run over [k, int_end) then
 * [frac_start, frac_end).
 */
static int overflows(const char *s, size_t k, size_t int_end, size_t frac_start, size_t frac_end)
{
	size_t j;
	char d;

	for (j = 0; overflow_digits[j]; j++) {
		d = '0';
		if (k < frac_end) {
			d = s[k++];
			if (k == int_end)
				k = frac_start;
		}
		if (d != overflow_digits[j])
			return d > overflow_digits[j];
	}
	for (; k < frac_end; k++)
		if (k != int_end && s[k] != '0')
			return 1;
	return 0;
}

/* [-+]digits[.digits][e[-+]digits] or [-+].digits[…]; finite as a double. */
static const char *check_number(const char *s, size_t len)
{
	size_t i = 0, k, int_start, int_end, frac_start, frac_end;
	long exp = 0, e;
	int neg_exp = 0;

	if (s[i] == '+' || s[i] == '-')
		i++;
	int_start = i;
	while (i < len && is_digit(s[i]))
		i++;
	int_end = frac_start = frac_end = i;
	if (i < len && s[i] == '.') {
		frac_start = ++i;
		while (i < len && is_digit(s[i]))
			i++;
		frac_end = i;
		if (frac_end == frac_start)
			return not_number;
	}
	if (int_end == int_start && frac_end == frac_start)
		return not_number;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			neg_exp = s[i++] == '-';
		if (i == len || !is_digit(s[i]))
			return not_number;
		/* Saturate: any exponent this large is out of range or rounds to zero anyway. */
		for (; i < len && is_digit(s[i]); i++)
			if (exp < 1000000)
				exp = exp * 10 + (s[i] - '0');
	}
	if (i != len)
		return not_number;

	/* Decimal exponent of the first significant digit, to refuse what would be infinite. */
	for (k = int_start; k < int_end && s[k] == '0'; k++)
		;
	if (k < int_end) {
		e = (long)(int_end - k) - 1;
	} else {
		for (k = frac_start; k < frac_end && s[k] == '0'; k++)
			;
		if (k == frac_end)
			return NULL; /* zero */
		e = -(long)(k - frac_start) - 1;
	}
	e += neg_exp ? -exp : exp;
	if (e < 308)
		return NULL;
	if (e > 308 || overflows(s, k, int_end, frac_start, frac_end))
		return "number out of range";
	return NULL;
}

static int lower_equal(const char *s, size_t len, const char *lower)
{
	size_t i;
	char c;

	for (i = 0; i < len; i++) {
		c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lower[i])
			return 0;
	}
	return lower[len] == '\0';
}

static const char *check_boolean(const char *s, size_t len)
{
	if (len == 1 && (s[0] == '0' || s[0] == '1'))
		return NULL;
	if (lower_equal(s, len, "true") || lower_equal(s, len, "false"))
		return NULL;
	return "not a boolean (true, false, 1, 0)";
}

static int days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);

	return days[month - 1] + (month == 2 && leap);
}

/* The 10 bytes at s as a date: NULL, or why not. */
static const char *date_at(const char *s)
{
	int year = digits(s, 4), month = digits(s + 5, 2), day = digits(s + 8, 2);

	if (year < 0 || month < 0 || day < 0 || s[4] != '-' || s[7] != '-')
		return not_date;
	if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
		return "no such day";
	return NULL;
}

/* Days from 1970-01-01 to a day of the proleptic Gregorian calendar. */
static int64_t days_from_civil(int year, int month, int day)
{
	int64_t y = year - (month <= 2), era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400, doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;

	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

const char *logical_type_timestamp(const char *s, size_t len, unsigned flags, int64_t *secs)
{
	int lenient = flags & LT_TIMESTAMP_LENIENT;
	int hour = 0, minute = 0, second = 0, zone = 0, zh, zm, n;
	const char *r;
	size_t i = 10;

	if (len < (lenient ? 10u : 16u))
		return not_timestamp;
	r = date_at(s);
	if (r)
		return r == not_date ? not_timestamp : r;
	if (i < len && (s[i] == 'T' || s[i] == ' ' || (lenient && s[i] == 't'))) {
		if (len < 16)
			return not_timestamp;
		hour = digits(s + 11, 2);
		minute = digits(s + 14, 2);
		if (hour < 0 || minute < 0 || s[13] != ':')
			return not_timestamp;
		if (hour > 23 || minute > 59)
			return "no such time";
		i = 16;
		if (i < len && s[i] == ':') {
			if (len - i < 3)
				return not_timestamp;
			second = digits(s + i + 1, 2);
			if (second < 0)
				return not_timestamp;
			if (second > 60)
				return "no such time";
			i += 3;
			if (i < len && (s[i] == '.' || (lenient && s[i] == ','))) {
				for (i++, n = 0; i < len && is_digit(s[i]); i++)
					n++;
				if (n < 1 || (n > 9 && !lenient))
					return not_timestamp;
			}
		}
	} else if (!lenient) {
		return not_timestamp;
	}
	if (i < len && (s[i] == 'Z' || (lenient && s[i] == 'z'))) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		zone = s[i++] == '-' ? -1 : 1;
		if (len - i < 2 || (zh = digits(s + i, 2)) < 0)
			return not_timestamp;
		i += 2;
		if (i < len && s[i] == ':')
			i++;
		zm = 0;
		/* what people type may name the hour alone */
		if (i < len || !lenient) {
			if (len - i < 2 || (zm = digits(s + i, 2)) < 0)
				return not_timestamp;
			i += 2;
		}
		if (zh > 23 || zm > 59)
			return not_timestamp;
		zone *= zh * 3600 + zm * 60;
	}
	if (i != len)
		return not_timestamp;
	if (secs)
		*secs = days_from_civil(digits(s, 4), digits(s + 5, 2), digits(s + 8, 2)) * 86400 +
			hour * 3600 + minute * 60 + second - zone;
	return NULL;
}

const char *logical_type_check(enum logical_type t, const char *value, size_t len)
{
	if (!len)
		return NULL;
	switch (t) {
	case LT_STRING:
		return NULL;
	case LT_INTEGER:
		return check_integer(value, len);
	case LT_NUMBER:
		return check_number(value, len);
	case LT_BOOLEAN:
		return check_boolean(value, len);
	case LT_DATE:
		return len == 10 ? date_at(value) : not_date;
	case LT_TIMESTAMP:
		return logical_type_timestamp(value, len, 0, NULL);
	}
	assert(!"unknown logical type");
	return "unknown type";
}
