/*
 * CRC-32C, reflected (bits are taken least significant first), polynomial 0x1EDC6F41, register
 * preset to all ones and inverted at the end. A call inverts the crc it is given back into the
 * register, so that a CRC can be extended.
 *
 * Two implementations that must agree: slicing by 8 (eight 256-entry tables, one table lookup per
 * byte), and on x86-64 the SSE4.2 CRC32 instruction. The instruction takes 3 cycles but a new one
 * can start every cycle, so one dependent chain runs at a third of the speed the unit can give.
 * Long buffers are therefore cut in three consecutive blocks whose CRCs are computed at once, as
 * three independent chains, and then combined: the CRC register is linear in its input, so the
 * register after blocks A and B is the register after A pushed through |B| zero bytes, xor the
 * register of B alone started from zero. Pushing through a fixed number of zeros is a fixed
 * 32x32 bit matrix, applied with four table lookups (one per byte of the register).
 */
#include "common/crc32c.h"

#include <assert.h>
#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define CRC32C_POLY 0x82f63b78u /* 0x1EDC6F41 with its bits reversed */

static uint32_t crc32c_table[8][256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	       (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

#if defined(__x86_64__)
/* Bytes per chain in the three-chain loops: long buffers first, then what is left of them. */
#define CRC32C_LONG  8192
#define CRC32C_SHORT 256

/* Push a register through CRC32C_LONG or CRC32C_SHORT zero bytes, a byte of it at a time. */
static uint32_t crc32c_long[4][256];
static uint32_t crc32c_short[4][256];

/* The image of v under the GF(2)-linear map op, op[i] being the image of bit i. */
static uint32_t gf2_apply(const uint32_t op[32], uint32_t v)
{
	uint32_t r = 0;
	int i;

	for (i = 0; v; i++, v >>= 1) {
		if (v & 1)
			r ^= op[i];
	}
	return r;
}

/* Fills zeros with the map that pushes a register through len zero bytes (len a power of 2). */
static void crc32c_zeros_init(uint32_t zeros[4][256], size_t len)
{
	uint32_t op[32], square[32], n;
	uint64_t bits;
	int i;

	assert(len && !(len & (len - 1)));
	/* One zero bit: the register shifts right, taking in the polynomial if bit 0 was set. */
	op[0] = CRC32C_POLY;
	for (i = 1; i < 32; i++)
		op[i] = 1u << (i - 1);
	/* Squaring the map doubles the number of bits it pushes through. */
	for (bits = 1; bits < 8 * (uint64_t)len; bits *= 2) {
		for (i = 0; i < 32; i++)
			square[i] = gf2_apply(op, op[i]);
		memcpy(op, square, sizeof(op));
	}
	for (n = 0; n < 256; n++) {
		for (i = 0; i < 4; i++)
			zeros[i][n] = gf2_apply(op, n << (8 * i));
	}
}

static uint32_t crc32c_shift(const uint32_t zeros[4][256], uint32_t crc)
{
	return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^ zeros[2][(crc >> 16) & 0xff] ^
	       zeros[3][crc >> 24];
}
#endif

static void crc32c_init(void)
{
	uint32_t c, n;
	int k;

	for (n = 0; n < 256; n++) {
		c = n;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc32c_table[0][n] = c;
	}
	/* Table k advances a byte followed by k zero bytes. */
	for (n = 0; n < 256; n++) {
		for (k = 1; k < 8; k++) {
			c = crc32c_table[k - 1][n];
			crc32c_table[k][n] = (c >> 8) ^ crc32c_table[0][c & 0xff];
		}
	}
#if defined(__x86_64__)
	crc32c_zeros_init(crc32c_long, CRC32C_LONG);
	crc32c_zeros_init(crc32c_short, CRC32C_SHORT);
#endif
}

uint32_t crc32c_portable(uint32_t crc, const void *buf, size_t len)
{
	const uint32_t(*t)[256] = crc32c_table;
	const unsigned char *p = buf;
	uint32_t c = ~crc;
	uint64_t v;

	pthread_once(&crc32c_once, crc32c_init);
	for (; len >= 8; p += 8, len -= 8) {
		v = le64(p) ^ c;
		c = t[7][v & 0xff] ^ t[6][(v >> 8) & 0xff] ^ t[5][(v >> 16) & 0xff] ^
		    t[4][(v >> 24) & 0xff] ^ t[3][(v >> 32) & 0xff] ^ t[2][(v >> 40) & 0xff] ^
		    t[1][(v >> 48) & 0xff] ^ t[0][v >> 56];
	}
	for (; len; p++, len--)
		c = t[0][(c ^ *p) & 0xff] ^ (c >> 8);
	return ~c;
}

#if defined(__x86_64__)
/* Runs three chains over blocks of block bytes while three fit; advances *p and *len. */
__attribute__((target("sse4.2"))) static inline uint64_t
crc32c_sse42_3way(uint64_t c0, const unsigned char **p, size_t *len, size_t block,
		  const uint32_t zeros[4][256])
{
	const unsigned char *q = *p, *end;
	uint64_t c1, c2, v0, v1, v2;
	size_t n = *len;

	for (; n >= 3 * block; n -= 3 * block) {
		c1 = c2 = 0;
		for (end = q + block; q < end; q += 8) {
			/* memcpy rather than a cast: no aliasing or alignment assumed */
			memcpy(&v0, q, 8);
			memcpy(&v1, q + block, 8);
			memcpy(&v2, q + 2 * block, 8);
			c0 = _mm_crc32_u64(c0, v0);
			c1 = _mm_crc32_u64(c1, v1);
			c2 = _mm_crc32_u64(c2, v2);
		}
		c0 = crc32c_shift(zeros, (uint32_t)c0) ^ c1;
		c0 = crc32c_shift(zeros, (uint32_t)c0) ^ c2;
		q += 2 * block;
	}
	*p = q;
	*len = n;
	return c0;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const void *buf,
							       size_t len)
{
	const unsigned char *p = buf;
	uint64_t c = ~crc, v;

	/* Aligned 8-byte loads do not straddle cache lines. */
	for (; len && ((uintptr_t)p & 7); p++, len--)
		c = _mm_crc32_u8((uint32_t)c, *p);
	c = crc32c_sse42_3way(c, &p, &len, CRC32C_LONG, crc32c_long);
	c = crc32c_sse42_3way(c, &p, &len, CRC32C_SHORT, crc32c_short);
	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
	}
	for (; len; p++, len--)
		c = _mm_crc32_u8((uint32_t)c, *p);
	return ~(uint32_t)c;
}
#endif

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2")) {
		pthread_once(&crc32c_once, crc32c_init);
		return crc32c_sse42(crc, buf, len);
	}
#endif
	return crc32c_portable(crc, buf, len);
}
