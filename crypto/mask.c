/* Masks for PII cells (docs/DESIGN.md §6). */
#include "crypto/mask.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "common/lookup.h"

#define TOKEN_PREFIX "tok_"
#define TOKEN_BYTES  8
#define LAST4_CHARS  4
#define STARS	     "****"

_Static_assert(MASK_KEY_BYTES >= crypto_generichash_KEYBYTES_MIN &&
		   MASK_KEY_BYTES <= crypto_generichash_KEYBYTES_MAX,
	       "mask key size");

/* Domain separation: the masking key is only ever used for tokens of this version, so a hash
 * made with it for any other purpose can never collide with a token. The NUL is included. */
static const char token_domain[] = "meshfs-token-v1";

static const char *const mask_names[] = {
    [MASK_TOKEN] = "token",
    [MASK_REDACT] = "redact",
    [MASK_LAST4] = "last4",
    [MASK_NULL] = "null",
};

int mask_kind_parse(const char *s, enum mask_kind *out)
{
	int i = mfs_name_index(mask_names, sizeof(mask_names) / sizeof(mask_names[0]),
			       sizeof(mask_names[0]), s, 0);

	if (i < 0)
		return -EINVAL;
	*out = (enum mask_kind)i;
	return 0;
}

const char *mask_kind_name(enum mask_kind kind)
{
	assert((size_t)kind < sizeof(mask_names) / sizeof(mask_names[0]));
	return mask_names[kind];
}

static int mask_token(const uint8_t key[MASK_KEY_BYTES], const char *value, size_t len,
		      struct strbuf *out)
{
	crypto_generichash_state st;
	uint8_t h[TOKEN_BYTES];
	char hex[2 * TOKEN_BYTES + 1];
	int rc;

	if (sodium_init() < 0)
		return -ENOMEM;
	crypto_generichash_init(&st, key, MASK_KEY_BYTES, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)token_domain, sizeof(token_domain));
	crypto_generichash_update(&st, (const uint8_t *)value, len);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	rc = strbuf_grow(out, strlen(TOKEN_PREFIX) + 2 * TOKEN_BYTES);
	if (!rc) {
		strbuf_addstr(out, TOKEN_PREFIX);
		strbuf_add(out, hex, 2 * TOKEN_BYTES);
	}
	/* The hash state saw the value. */
	sodium_memzero(&st, sizeof(st));
	return rc;
}

static int utf8_continuation(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/*
 * Where the last LAST4_CHARS characters of value start, or len when the value has no more than
 * that many (then nothing of it is shown). A character starts at any byte that is not a UTF-8
 * continuation byte; a run of stray continuation bytes counts as a character every 4 bytes, so
 * that invalid input cannot make the tail longer than a valid one.
 */
static size_t last4_start(const char *value, size_t len)
{
	size_t i = len, chars = 0, run = 0;

	while (i > 0) {
		i--;
		run++;
		if (!utf8_continuation((unsigned char)value[i]) || run == 4) {
			chars++;
			run = 0;
			if (chars == LAST4_CHARS)
				break;
		}
	}
	if (chars < LAST4_CHARS || i == 0)
		return len;
	return i;
}

static int mask_last4(const char *value, size_t len, struct strbuf *out)
{
	size_t start = last4_start(value, len);
	int rc;

	rc = strbuf_grow(out, strlen(STARS) + (len - start));
	if (rc)
		return rc;
	strbuf_addstr(out, STARS);
	strbuf_add(out, value + start, len - start);
	return 0;
}

int mask_apply(enum mask_kind kind, const uint8_t key[MASK_KEY_BYTES], const char *value,
	       size_t len, struct strbuf *out)
{
	if (!len)
		return 0;
	switch (kind) {
	case MASK_TOKEN:
		return mask_token(key, value, len, out);
	case MASK_REDACT:
		return strbuf_addstr(out, "REDACTED");
	case MASK_LAST4:
		return mask_last4(value, len, out);
	case MASK_NULL:
		return 0;
	}
	return -EINVAL;
}
