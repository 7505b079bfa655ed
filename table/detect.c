/* Byte scans for personal data; detect.h says what each one takes and why. */
#include "table/detect.h"

#include <stdint.h>
#include <string.h>

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_upper(int c)
{
	return c >= 'A' && c <= 'Z';
}

static int is_alpha(int c)
{
	return is_upper(c) || (c >= 'a' && c <= 'z');
}

static int is_alnum(int c)
{
	return is_digit(c) || is_alpha(c);
}

/* Byte i of s, or 0 outside it: scans look one byte past their ends without bounds tests. */
static int at(const char *s, size_t len, size_t i)
{
	return i < len ? (unsigned char)s[i] : 0;
}

/* Whether a token may start at i: not glued to a letter or digit before it. */
static int starts_token(const char *s, size_t i)
{
	return !i || !is_alnum((unsigned char)s[i - 1]);
}

/* Whether the digits starting at i continue a number before them ("1.5", "1-5", "1,5"). */
static int continues_number(const char *s, size_t i, const char *seps)
{
	return i >= 2 && s[i - 1] && strchr(seps, s[i - 1]) && is_digit((unsigned char)s[i - 2]);
}

/* Whether the digits ending before i go on into a number after them. */
static int number_goes_on(const char *s, size_t len, size_t i, const char *seps)
{
	int c = at(s, len, i);

	return c && strchr(seps, c) && is_digit(at(s, len, i + 1));
}

/* ---- email ---- */

static int email_local_char(int c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* Whether a domain of two or more labels, the last of two or more letters, starts at i. */
static int email_domain(const char *s, size_t len, size_t i)
{
	size_t labels = 0, start, letters;
	int c;

	for (;;) {
		start = i;
		letters = 0;
		while (i < len && (is_alnum(c = (unsigned char)s[i]) || c == '-')) {
			letters += is_alpha(c) ? 1 : 0;
			i++;
		}
		if (i == start || s[start] == '-' || s[i - 1] == '-' || i - start > 63)
			return 0;
		labels++;
		if (at(s, len, i) != '.' || !is_alnum(at(s, len, i + 1)))
			break;
		i++;
	}
	return labels >= 2 && i - start >= 2 && letters == i - start;
}

int detect_email(const char *s, size_t len)
{
	const char *p = s;
	size_t i, j;

	while ((p = memchr(p, '@', len - (size_t)(p - s)))) {
		i = (size_t)(p - s);
		p++;
		for (j = i; j > 0 && email_local_char((unsigned char)s[j - 1]); j--)
			;
		while (j < i && s[j] == '.')
			j++;
		if (j == i || s[i - 1] == '.')
			continue;
		if (email_domain(s, len, i + 1))
			return 1;
	}
	return 0;
}

/* ---- phone ---- */

static int phone_sep(int c)
{
	return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')';
}

/* "+" at i, then 8 to 15 digits. */
static int phone_e164(const char *s, size_t len, size_t i)
{
	size_t digits = 0, dots = 0, others = 0, run;
	int c = at(s, len, i + 1);

	if (!starts_token(s, i) || !is_digit(c) || c == '0')
		return 0;
	for (i++; i < len;) {
		if (is_digit((unsigned char)s[i])) {
			if (++digits > 15)
				return 0;
			i++;
			continue;
		}
		for (run = 0; phone_sep(at(s, len, i + run)); run++)
			;
		if (!run || run > 2 || !is_digit(at(s, len, i + run)))
			break;
		for (; run; run--, i++)
			*(s[i] == '.' ? &dots : &others) += 1;
	}
	/* A letter right after the digits makes the whole an identifier or a number like 1e10. */
	if (is_alpha(at(s, len, i)))
		return 0;
	return digits >= 8 && !(dots == 1 && !others);
}

/* Whether n digits are at i; *i moves past them. */
static int phone_digits(const char *s, size_t len, size_t *i, size_t n)
{
	for (; n; n--, (*i)++)
		if (!is_digit(at(s, len, *i)))
			return 0;
	return 1;
}

/* A NANP number at i: "(NXX) XXX-XXXX", "NXX-XXX-XXXX" and the like, optionally after "1-". */
static int phone_nanp(const char *s, size_t len, size_t i)
{
	int sep, c;

	if (!starts_token(s, i) || continues_number(s, i, "-.+"))
		return 0;
	if (at(s, len, i) == '1' && (c = at(s, len, i + 1)) && strchr(" -.", c) &&
	    (is_digit(at(s, len, i + 2)) || at(s, len, i + 2) == '('))
		i += 2;
	if (at(s, len, i) == '(') {
		i++;
		if (at(s, len, i) < '2' || !phone_digits(s, len, &i, 3) || at(s, len, i) != ')')
			return 0;
		i += at(s, len, i + 1) == ' ' ? 2 : 1;
		if (!phone_digits(s, len, &i, 3))
			return 0;
		sep = at(s, len, i);
		if (sep != '-' && sep != '.' && sep != ' ')
			return 0;
	} else {
		if (at(s, len, i) < '2' || !phone_digits(s, len, &i, 3))
			return 0;
		sep = at(s, len, i);
		if (sep != '-' && sep != '.' && sep != ' ')
			return 0;
		i++;
		if (!phone_digits(s, len, &i, 3) || at(s, len, i) != sep)
			return 0;
	}
	i++;
	if (!phone_digits(s, len, &i, 4))
		return 0;
	return !is_alnum(at(s, len, i)) && !number_goes_on(s, len, i, "-.");
}

int detect_phone(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '+' ? phone_e164(s, len, i)
			     : (c == '(' || (c >= '1' && c <= '9')) && phone_nanp(s, len, i))
			return 1;
	}
	return 0;
}

/* ---- card ---- */

#define CARD_MIN    13
#define CARD_MAX    19
#define CARD_GROUPS 8

/* Whether a number of n digits starting with d has the prefix and length of a card issuer. */
static int card_issuer(const char *d, size_t n)
{
	int p2 = (d[0] - '0') * 10 + (d[1] - '0');
	int p4 = p2 * 100 + (d[2] - '0') * 10 + (d[3] - '0');

	if (d[0] == '4')
		return n == 13 || n == 16 || n == 19;
	if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))
		return n == 16;
	if (p2 == 34 || p2 == 37)
		return n == 15;
	if (p4 == 6011 || p2 == 65 || (p4 / 10 >= 644 && p4 / 10 <= 649) || p2 == 35)
		return n >= 16;
	return 0;
}

/*
 * Whether groups first..last (offsets off[], lengths glen[]) make a card number. The digits are
 * read where they are, not gathered in a buffer: nothing is left behind of a number that may
 * be real.
 */
static int card_number(const char *s, const size_t *off, const size_t *glen, size_t first,
		       size_t last)
{
	unsigned sum = 0, v, k = 0;
	size_t n = 0, g, i;

	for (g = first; g <= last; g++)
		n += glen[g];
	/* The first group has 4 digits or more: the issuer prefix is in one piece. */
	if (n < CARD_MIN || n > CARD_MAX || !card_issuer(s + off[first], n))
		return 0;
	for (g = last + 1; g-- > first;) {
		for (i = glen[g]; i-- > 0; k++) {
			v = (unsigned)(s[off[g] + i] - '0');
			if (k & 1)
				v = v * 2 > 9 ? v * 2 - 9 : v * 2;
			sum += v;
		}
	}
	return sum % 10 == 0;
}

/*
 * Digit groups from i: runs of digits joined by one space or dash (the same throughout).
 * Returns where they end; *ng gets how many there are, of which the first CARD_GROUPS are kept.
 */
static size_t card_groups(const char *s, size_t len, size_t i, size_t *off, size_t *glen,
			  size_t *ng)
{
	int sep = 0;
	size_t start;

	for (*ng = 0;; (*ng)++) {
		start = i;
		while (i < len && is_digit((unsigned char)s[i]))
			i++;
		if (*ng < CARD_GROUPS) {
			off[*ng] = start;
			glen[*ng] = i - start;
		}
		if ((at(s, len, i) != ' ' && at(s, len, i) != '-') ||
		    !is_digit(at(s, len, i + 1)) || (sep && at(s, len, i) != sep)) {
			(*ng)++;
			return i;
		}
		sep = (unsigned char)s[i++];
	}
}

int detect_card(const char *s, size_t len)
{
	size_t off[CARD_GROUPS], glen[CARD_GROUPS], ng, kept, end, a, b, total, i = 0;

	while (i < len) {
		if (!is_digit((unsigned char)s[i])) {
			i++;
			continue;
		}
		end = card_groups(s, len, i, off, glen, &ng);
		/* Digits glued to letters or inside a decimal number are something else. */
		if (!starts_token(s, i) || continues_number(s, i, ".,")) {
			i = off[0] + glen[0];
			continue;
		}
		kept = ng < CARD_GROUPS ? ng : CARD_GROUPS;
		if (ng <= CARD_GROUPS &&
		    (is_alpha(at(s, len, end)) || number_goes_on(s, len, end, ".,")))
			kept--;
		for (a = 0; a < kept; a++) {
			if (glen[a] >= CARD_MIN && glen[a] <= CARD_MAX &&
			    card_number(s, off, glen, a, a))
				return 1;
			if (glen[a] != 4)
				continue;
			total = glen[a];
			for (b = a + 1; b < kept && glen[b] >= 3 && glen[b] <= 6; b++) {
				total += glen[b];
				if (total > CARD_MAX)
					break;
				if (total >= CARD_MIN && card_number(s, off, glen, a, b))
					return 1;
			}
		}
		i = end;
	}
	return 0;
}

/* ---- iban ---- */

#define C(a, b, n) [(a) - 'A'][(b) - 'A'] = (n)

/* Length of the IBANs of each country of the IBAN registry (SWIFT), 0 for other codes. */
static const unsigned char iban_lengths[26][26] = {
    C('A', 'D', 24), C('A', 'E', 23), C('A', 'L', 28), C('A', 'T', 20), C('A', 'Z', 28),
    C('B', 'A', 20), C('B', 'E', 16), C('B', 'G', 22), C('B', 'H', 22), C('B', 'I', 27),
    C('B', 'R', 29), C('B', 'Y', 28), C('C', 'H', 21), C('C', 'R', 22), C('C', 'Y', 28),
    C('C', 'Z', 24), C('D', 'E', 22), C('D', 'J', 27), C('D', 'K', 18), C('D', 'O', 28),
    C('E', 'E', 20), C('E', 'G', 29), C('E', 'S', 24), C('F', 'I', 18), C('F', 'K', 18),
    C('F', 'O', 18), C('F', 'R', 27), C('G', 'B', 22), C('G', 'E', 22), C('G', 'I', 23),
    C('G', 'L', 18), C('G', 'R', 27), C('G', 'T', 28), C('H', 'N', 28), C('H', 'R', 21),
    C('H', 'U', 28), C('I', 'E', 22), C('I', 'L', 23), C('I', 'Q', 23), C('I', 'S', 26),
    C('I', 'T', 27), C('J', 'O', 30), C('K', 'W', 30), C('K', 'Z', 20), C('L', 'B', 28),
    C('L', 'C', 32), C('L', 'I', 21), C('L', 'T', 20), C('L', 'U', 20), C('L', 'V', 21),
    C('L', 'Y', 25), C('M', 'C', 27), C('M', 'D', 24), C('M', 'E', 22), C('M', 'K', 19),
    C('M', 'N', 20), C('M', 'R', 27), C('M', 'T', 31), C('M', 'U', 30), C('N', 'I', 28),
    C('N', 'L', 18), C('N', 'O', 15), C('O', 'M', 23), C('P', 'K', 24), C('P', 'L', 28),
    C('P', 'S', 29), C('P', 'T', 25), C('Q', 'A', 29), C('R', 'O', 24), C('R', 'S', 22),
    C('R', 'U', 33), C('S', 'A', 24), C('S', 'C', 31), C('S', 'D', 18), C('S', 'E', 24),
    C('S', 'I', 19), C('S', 'K', 24), C('S', 'M', 27), C('S', 'O', 23), C('S', 'T', 25),
    C('S', 'V', 28), C('T', 'L', 23), C('T', 'N', 24), C('T', 'R', 26), C('U', 'A', 29),
    C('V', 'A', 22), C('V', 'G', 24), C('X', 'K', 20), C('Y', 'E', 30),
};

#undef C

/* One more character of an IBAN into a running mod 97: digits as themselves, letters as 10..35. */
static unsigned iban_mod(unsigned v, int c)
{
	return is_digit(c) ? (v * 10 + (unsigned)(c - '0')) % 97
			   : (v * 100 + (unsigned)(c - 'A' + 10)) % 97;
}

/*
 * An IBAN at i, compact or in groups of four. ISO 13616 moves the first four characters to the
 * end before taking mod 97; a running remainder does that without copying the characters.
 */
static int iban_at(const char *s, size_t len, size_t i)
{
	size_t n, want, start = i;
	unsigned v = 0;
	int spaced, c;

	if (!starts_token(s, i) || !is_upper(at(s, len, i + 1)) || !is_digit(at(s, len, i + 2)) ||
	    !is_digit(at(s, len, i + 3)))
		return 0;
	want = iban_lengths[s[i] - 'A'][s[i + 1] - 'A'];
	if (!want)
		return 0;
	i += 4;
	spaced = at(s, len, i) == ' ';
	for (n = 4; n < want; n++) {
		if (spaced && n % 4 == 0 && at(s, len, i) == ' ')
			i++;
		c = at(s, len, i);
		if (!is_upper(c) && !is_digit(c))
			return 0;
		v = iban_mod(v, c);
		i++;
	}
	if (is_alnum(at(s, len, i)))
		return 0;
	for (n = 0; n < 4; n++)
		v = iban_mod(v, (unsigned char)s[start + n]);
	return v == 1;
}

int detect_iban(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i + 15 <= len; i++)
		if (is_upper((unsigned char)s[i]) && iban_at(s, len, i))
			return 1;
	return 0;
}

/* ---- national_id ---- */

/* The value of n digits at i, or -1. */
static int digits_value(const char *s, size_t len, size_t i, size_t n)
{
	int v = 0;

	for (; n; n--, i++) {
		if (!is_digit(at(s, len, i)))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* A US Social Security number ddd-dd-dddd at i, in a range that is issued. */
static int ssn_at(const char *s, size_t len, size_t i)
{
	int area, group, serial;

	if (!starts_token(s, i) || continues_number(s, i, "-.") || at(s, len, i + 3) != '-' ||
	    at(s, len, i + 6) != '-')
		return 0;
	area = digits_value(s, len, i, 3);
	group = digits_value(s, len, i + 4, 2);
	serial = digits_value(s, len, i + 7, 4);
	if (area <= 0 || area == 666 || area >= 900 || group <= 0 || serial <= 0)
		return 0;
	return !is_alnum(at(s, len, i + 11)) && !number_goes_on(s, len, i + 11, "-.");
}

/* A UK National Insurance number at i: prefix, three pairs of digits, suffix, spaces optional. */
static int nino_at(const char *s, size_t len, size_t i)
{
	static const char *const banned[] = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"};
	int a = at(s, len, i), b = at(s, len, i + 1), pair;
	size_t k;

	if (!starts_token(s, i) || !is_upper(a) || !is_upper(b) || strchr("DFIQUV", a) ||
	    strchr("DFIOQUV", b))
		return 0;
	for (k = 0; k < sizeof(banned) / sizeof(banned[0]); k++)
		if (a == banned[k][0] && b == banned[k][1])
			return 0;
	i += 2;
	for (pair = 0; pair < 3; pair++) {
		if (at(s, len, i) == ' ')
			i++;
		if (digits_value(s, len, i, 2) < 0)
			return 0;
		i += 2;
	}
	if (at(s, len, i) == ' ')
		i++;
	a = at(s, len, i);
	return a >= 'A' && a <= 'D' && !is_alnum(at(s, len, i + 1));
}

int detect_national_id(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if ((is_digit(c) && ssn_at(s, len, i)) || (is_upper(c) && nino_at(s, len, i)))
			return 1;
	}
	return 0;
}

/* ---- the table ---- */

/*
 * What each one needs besides digits: an address its '@'; an E.164 number its '+' and a NANP
 * number its "(" or the separator after the area code; an IBAN its country's letters; an SSN
 * its dashes and a NINO its prefix. A card number may be digits alone.
 */
const struct detector detector_table[DETECTOR_COUNT] = {
    {"email", "an e-mail address", detect_email, 0, DETECT_AT},
    {"phone", "a phone number", detect_phone, 8, DETECT_PLUS | DETECT_DASH | DETECT_SEP},
    {"card", "a payment card number", detect_card, CARD_MIN, 0},
    {"iban", "an IBAN", detect_iban, 2, DETECT_UPPER},
    {"national_id", "a national identity number", detect_national_id, 6,
     DETECT_DASH | DETECT_UPPER},
};

/* Bit 7: a digit; the others DETECT_ bits. */
#define PROFILE_DIGIT 0x80u

static const unsigned char profile_bits[256] = {
    ['0'] = PROFILE_DIGIT, ['1'] = PROFILE_DIGIT, ['2'] = PROFILE_DIGIT, ['3'] = PROFILE_DIGIT,
    ['4'] = PROFILE_DIGIT, ['5'] = PROFILE_DIGIT, ['6'] = PROFILE_DIGIT, ['7'] = PROFILE_DIGIT,
    ['8'] = PROFILE_DIGIT, ['9'] = PROFILE_DIGIT, ['@'] = DETECT_AT,	 ['-'] = DETECT_DASH,
    ['+'] = DETECT_PLUS,   [' '] = DETECT_SEP,	  ['.'] = DETECT_SEP,	 ['('] = DETECT_SEP,
    ['A'] = DETECT_UPPER,  ['B'] = DETECT_UPPER,  ['C'] = DETECT_UPPER,	 ['D'] = DETECT_UPPER,
    ['E'] = DETECT_UPPER,  ['F'] = DETECT_UPPER,  ['G'] = DETECT_UPPER,	 ['H'] = DETECT_UPPER,
    ['I'] = DETECT_UPPER,  ['J'] = DETECT_UPPER,  ['K'] = DETECT_UPPER,	 ['L'] = DETECT_UPPER,
    ['M'] = DETECT_UPPER,  ['N'] = DETECT_UPPER,  ['O'] = DETECT_UPPER,	 ['P'] = DETECT_UPPER,
    ['Q'] = DETECT_UPPER,  ['R'] = DETECT_UPPER,  ['S'] = DETECT_UPPER,	 ['T'] = DETECT_UPPER,
    ['U'] = DETECT_UPPER,  ['V'] = DETECT_UPPER,  ['W'] = DETECT_UPPER,	 ['X'] = DETECT_UPPER,
    ['Y'] = DETECT_UPPER,  ['Z'] = DETECT_UPPER,
};

void detect_profile(const char *s, size_t len, struct detect_profile *p)
{
	size_t digits = 0, i;
	unsigned has = 0, b;

	for (i = 0; i < len; i++) {
		b = profile_bits[(unsigned char)s[i]];
		digits += b >> 7;
		has |= b;
	}
	p->digits = digits;
	p->has = has & ~PROFILE_DIGIT;
}

const struct detector *detector_find(const char *name)
{
	size_t i;

	for (i = 0; i < DETECTOR_COUNT; i++)
		if (!strcmp(detector_table[i].name, name))
			return &detector_table[i];
	return NULL;
}

const struct detector *detector_any(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < DETECTOR_COUNT; i++)
		if (detector_table[i].fn(s, len))
			return &detector_table[i];
	return NULL;
}
