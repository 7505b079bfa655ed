/*
 * What the fuzz targets share. Each target is one LLVMFuzzerTestOneInput, linked either with
 * libFuzzer (meson -Dfuzz=true, clang) or with replay.c, which runs the saved corpora and the
 * regressions as an ordinary test.
 *
 * A target must give the same result for the same input every time: libsodium's random bytes
 * (segment ids, nonces) come from a generator that fuzz_begin() rewinds to the same seed.
 */
#ifndef MESHFS_FUZZ_H
#define MESHFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backends/store.h"

/* Fails the run however the target was built: unlike assert(), never compiled out. */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail(__FILE__, __LINE__, #cond);                                      \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((noreturn)) void fuzz_fail(const char *file, int line, const char *what);

/* Call first in every run: installs the deterministic random bytes (once) and rewinds them. */
void fuzz_begin(void);

/* A store in a temporary directory, made on first use and removed, with the store closed, when
 * the process exits. */
struct store *fuzz_store(void);

/* Reads the input front to back; past its end every read gives zeros. */
struct fuzz_input {
	const uint8_t *p;
	size_t left;
};

uint8_t fuzz_u8(struct fuzz_input *in);
uint16_t fuzz_u16(struct fuzz_input *in);
uint32_t fuzz_u32(struct fuzz_input *in);

/* A small, fast generator for choices derived from the input (offsets, chunk sizes). */
struct fuzz_rng {
	uint64_t state;
};

uint64_t fuzz_rng_next(struct fuzz_rng *r);
/* Uniform enough in [0, n); n > 0. */
uint64_t fuzz_rng_below(struct fuzz_rng *r, uint64_t n);

/* A reader's source (csv_read_fn and the like) handing out text; with a nonzero rng state, in
 * pieces of 1 to 8 bytes and now and then -EINTR, never twice in a row so that a retry makes
 * progress. */
struct fuzz_source {
	const char *p;
	size_t left;
	struct fuzz_rng rng; /* state 0: as much as asked */
	int interrupted;     /* the last call returned -EINTR */
};

ssize_t fuzz_source_read(void *ctx, void *buf, size_t len);

#endif
