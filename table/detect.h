/*
 * Detectors of personal data in free values, for the mesh policy against undeclared PII
 * (docs/DESIGN.md §5): a value in a column not classified PII that looks like an e-mail address, a
 * phone number, a payment card number, an IBAN or a national id number rejects the publish.
 *
 * Each detector answers 1 if s (len bytes, need not be NUL-terminated) holds something of its
 * kind, also inside longer text ("call +44 20 7946 0958 after 5"), else 0. They run on every cell
 * of every non-PII column, so they are plain byte scans: no allocation, no regex, linear time.
 *
 * A detector errs on one side or the other. A false positive rejects a good publish (the owner
 * must reclassify the column or change the data), a false negative lets PII through unmasked.
 * The shapes below are chosen so that the values a table is full of (order ids, amounts, dates,
 * timestamps, UUIDs, ISBNs, version strings, IP addresses, 10-digit integers) never match, at the
 * price of missing PII that is written in unusual ways. A candidate must stand as a token of its
 * own: digits glued to letters ("ORD4111111111111111") or inside a decimal number
 * ("0.4111111111111111") are part of something else.
 *
 *  email        local@domain.tld: a local part of letters, digits and "._%+-", a domain of two or
 *               more labels whose last one (the TLD) is two or more letters. Misses: quoted local
 *               parts, addresses at IP literals or at single-label hosts ("root@localhost").
 *               Fires on: anything address-shaped, also "git@github.com:org/repo".
 *  phone        E.164: "+", a country code not starting with 0, 8 to 15 digits in all, separated
 *               by runs of up to two of " -.()"; a lone "." makes it a signed decimal
 *               ("+12345678.90"), not a phone. NANP: "(555) 123-4567", "(555)123-4567",
 *               "555-123-4567", "555.123.4567", "555 123 4567", optionally after "1" and a
 *               separator, area code starting with 2-9. Never bare runs of digits, which are
 *               far more often ids and amounts. Misses: national formats of other countries
 *               without "+", NANP numbers written as bare digits. Fires on: signed integers of
 *               8 or more digits written with an explicit "+" ("+12345678").
 *  card         13 to 19 digits, either in one run or in groups of 3 to 6 separated by single
 *               spaces or dashes with a first group of 4 ("4111 1111 1111 1111",
 *               "3782 822463 10005"); a known issuer prefix with one of its lengths (Visa 4:
 *               13, 16, 19; Mastercard 51-55 and 2221-2720: 16; Amex 34, 37: 15; Discover 6011,
 *               644-649, 65: 16-19; JCB 35: 16-19) and a valid Luhn check digit. Misses: other
 *               networks (UnionPay 62, Maestro, Diners 36). Fires on: about one in ten 16-digit
 *               ids that start with 4 or 51-55, which is why ids glued to letters are spared.
 *  iban         two capital letters of a country of the IBAN registry, two check digits, then
 *               capital letters and digits up to the length that country's IBANs have, in one
 *               run or in groups of 4 separated by single spaces; ISO 13616 mod 97 == 1.
 *               Misses: IBANs in lower case, countries outside the table below.
 *  national_id  US Social Security numbers written ddd-dd-dddd, without the ranges never issued
 *               (area 000, 666, 900-999; group 00; serial 0000); bare 9-digit runs are not
 *               taken (ids). UK National Insurance numbers, "AB123456C" or "AB 12 34 56 C":
 *               a prefix allowed by HMRC (first letter not D, F, I, Q, U, V; second not D, F, I,
 *               O, Q, U, V; not BG, GB, KN, NK, NT, TN, ZZ), six digits, suffix A-D. The
 *               specimen "QQ 12 34 56 C" is not a valid number and does not fire. Fires on:
 *               product codes of exactly that shape.
 */
#ifndef MESHFS_DETECT_H
#define MESHFS_DETECT_H

#include <stddef.h>

/* 1 if s (len bytes) holds something of the kind, as described above, else 0. */
int detect_email(const char *s, size_t len);
int detect_phone(const char *s, size_t len);
int detect_card(const char *s, size_t len);
int detect_iban(const char *s, size_t len);
int detect_national_id(const char *s, size_t len);

typedef int (*detect_fn)(const char *s, size_t len);

/* Bytes without which detectors cannot fire (struct detector's needs). */
#define DETECT_AT    1u	 /* '@' */
#define DETECT_UPPER 2u	 /* 'A' to 'Z' */
#define DETECT_DASH  4u	 /* '-' */
#define DETECT_PLUS  8u	 /* '+' */
#define DETECT_SEP   16u /* ' ', '.', '(' */

struct detector {
	const char *name; /* as the mesh policy names it: "email" */
	const char *what; /* for messages: "an e-mail address" */
	detect_fn fn;
	/* A value with fewer ASCII digits than this never matches, so a caller that counts the
	 * digits of a value once may skip the detector. */
	size_t min_digits;
	/* DETECT_ bits: a value holding none of these bytes never matches (0: no such bytes) */
	unsigned needs;
};

/* What a value holds of what the detectors need (detect_profile). */
struct detect_profile {
	size_t digits; /* ASCII digits */
	unsigned has;  /* DETECT_ bits of the bytes it holds */
};

#define DETECTOR_COUNT 5

/* All detectors: email, phone, card, iban, national_id. */
extern const struct detector detector_table[DETECTOR_COUNT];

/* The detector called name, or NULL. */
const struct detector *detector_find(const char *name);
/* The first detector that fires on s, or NULL. */
const struct detector *detector_any(const char *s, size_t len);
/* The profile of the len bytes at s, in one pass over them. */
void detect_profile(const char *s, size_t len, struct detect_profile *p);
/* Whether d may fire on a value of profile p: when not, d->fn returns 0 on it. */
static inline int detector_may_fire(const struct detector *d, const struct detect_profile *p)
{
	return p->digits >= d->min_digits && (!d->needs || (p->has & d->needs));
}

#endif
