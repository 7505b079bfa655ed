/* An open-addressing hash set of keyed digests. */
#include "table/uniq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* 96 bits: a false duplicate among a billion values has odds of about 1 in 10^11. */
#define DIGEST 12

struct uniq_slot {
	uint8_t digest[DIGEST];
	uint32_t line; /* 0: empty slot (lines start at 1); saturates past 2^32 - 1 */
};

struct uniq {
	uint8_t key[crypto_generichash_KEYBYTES];
	struct uniq_slot *slots;
	size_t cap; /* a power of two */
	size_t used;
};

struct uniq *uniq_new(void)
{
	struct uniq *u;

	if (sodium_init() < 0)
		return NULL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->cap = 1024;
	u->slots = calloc(u->cap, sizeof(*u->slots));
	if (!u->slots) {
		free(u);
		return NULL;
	}
	randombytes_buf(u->key, sizeof(u->key));
	return u;
}

void uniq_free(struct uniq *u)
{
	if (!u)
		return;
	sodium_memzero(u->key, sizeof(u->key));
	free(u->slots);
	free(u);
}

static struct uniq_slot *uniq_find(struct uniq_slot *slots, size_t cap, const uint8_t *digest)
{
	uint64_t h;
	size_t i;

	/* The digest is already uniformly random: its first bytes are the hash. */
	memcpy(&h, digest, sizeof(h));
	for (i = (size_t)h & (cap - 1);; i = (i + 1) & (cap - 1))
		if (!slots[i].line || !memcmp(slots[i].digest, digest, DIGEST))
			return &slots[i];
}

static int uniq_grow(struct uniq *u)
{
	size_t cap = u->cap * 2;
	struct uniq_slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < u->cap; i++)
		if (u->slots[i].line)
			*uniq_find(slots, cap, u->slots[i].digest) = u->slots[i];
	free(u->slots);
	u->slots = slots;
	u->cap = cap;
	return 0;
}

int uniq_add(struct uniq *u, const void *value, size_t len, unsigned long line,
	     unsigned long *first)
{
	uint8_t digest[DIGEST];
	struct uniq_slot *s;
	int rc;

	if (u->used + 1 > u->cap / 4 * 3 && (rc = uniq_grow(u)))
		return rc;
	crypto_generichash(digest, sizeof(digest), value, len, u->key, sizeof(u->key));
	s = uniq_find(u->slots, u->cap, digest);
	if (s->line) {
		*first = (unsigned long)s->line;
		return 0;
	}
	memcpy(s->digest, digest, DIGEST);
	s->line = !line ? 1 : line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
	u->used++;
	return 1;
}
