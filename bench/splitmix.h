/*
 * splitmix64, the pseudo-random offsets of the benchmarks: the same stream for the same seed on
 * every machine, so that bench-pread and bench-plain read the same places run after run.
 */
#ifndef MESHFS_BENCH_SPLITMIX_H
#define MESHFS_BENCH_SPLITMIX_H

#include <stdint.h>

/* The next number of the stream that *state (the seed, at first) stands for. */
static inline uint64_t splitmix_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#endif
