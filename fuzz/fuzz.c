/* What the fuzz targets share; see fuzz.h. */
#include "fuzz/fuzz.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/error.h"

/* ---- deterministic random bytes ---- */

/*
 * Every call to the generator draws from its own ChaCha20 stream, keyed by a counter that
 * fuzz_begin() resets: the same input then sees the same segment ids and nonces. Nothing here
 * is secret; these binaries never handle real keys.
 */
static uint64_t fuzz_random_calls;

static void fuzz_random_buf(void *const buf, const size_t size)
{
	uint8_t seed[randombytes_SEEDBYTES] = {0};
	uint64_t n = fuzz_random_calls++;

	for (size_t i = 0; i < sizeof(n); i++)
		seed[i] = (uint8_t)(n >> (8 * i));
	randombytes_buf_deterministic(buf, size, seed);
}

static uint32_t fuzz_random_u32(void)
{
	uint32_t v;

	fuzz_random_buf(&v, sizeof(v));
	return v;
}

static const char *fuzz_random_name(void)
{
	return "meshfs-fuzz";
}

static randombytes_implementation fuzz_random = {
    .implementation_name = fuzz_random_name,
    .random = fuzz_random_u32,
    .buf = fuzz_random_buf,
};

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
	abort();
}

void fuzz_begin(void)
{
	static int ready;

	if (!ready) {
		/* Must come before sodium_init(), which fixes the implementation. */
		if (randombytes_set_implementation(&fuzz_random) != 0 || sodium_init() < 0)
			fuzz_fail(__FILE__, __LINE__, "libsodium does not initialize");
		ready = 1;
	}
	fuzz_random_calls = 0;
}

/* ---- the temporary store ---- */

static char fuzz_dir[4096];
static struct store *fuzz_st;

static int fuzz_remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void fuzz_store_cleanup(void)
{
	if (fuzz_st)
		store_close(fuzz_st);
	fuzz_st = NULL;
	if (fuzz_dir[0])
		nftw(fuzz_dir, fuzz_remove_one, 16, FTW_DEPTH | FTW_PHYS);
	fuzz_dir[0] = '\0';
}

struct store *fuzz_store(void)
{
	struct mfs_error err;
	const char *tmp = getenv("TMPDIR");
	int n;

	if (fuzz_st)
		return fuzz_st;
	if (!tmp || !*tmp)
		tmp = "/tmp";
	n = snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/meshfs-fuzz-XXXXXX", tmp);
	if (n < 0 || (size_t)n >= sizeof(fuzz_dir) || !mkdtemp(fuzz_dir))
		fuzz_fail(__FILE__, __LINE__, "cannot make a temporary directory");
	atexit(fuzz_store_cleanup);
	mfs_error_clear(&err);
	if (store_local_open(fuzz_dir, 1, &fuzz_st, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		fuzz_fail(__FILE__, __LINE__, "cannot open the temporary store");
	}
	return fuzz_st;
}

/* ---- reading the input ---- */

uint8_t fuzz_u8(struct fuzz_input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

uint16_t fuzz_u16(struct fuzz_input *in)
{
	uint16_t lo = fuzz_u8(in);

	return (uint16_t)(lo | fuzz_u8(in) << 8);
}

uint32_t fuzz_u32(struct fuzz_input *in)
{
	uint32_t lo = fuzz_u16(in);

	return lo | (uint32_t)fuzz_u16(in) << 16;
}

uint64_t fuzz_rng_next(struct fuzz_rng *r)
{
	/* splitmix64 */
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t fuzz_rng_below(struct fuzz_rng *r, uint64_t n)
{
	return fuzz_rng_next(r) % n;
}

ssize_t fuzz_source_read(void *ctx, void *buf, size_t len)
{
	struct fuzz_source *c = ctx;
	size_t n = len < c->left ? len : c->left;

	if (c->rng.state) {
		uint64_t r = fuzz_rng_next(&c->rng);

		if (!c->interrupted && r % 16 == 0) {
			c->interrupted = 1;
			return -EINTR;
		}
		if (n > 1 + (r >> 8) % 8)
			n = 1 + (r >> 8) % 8;
	}
	c->interrupted = 0;
	memcpy(buf, c->p, n);
	c->p += n;
	c->left -= n;
	return (ssize_t)n;
}
