/*
 * CRC-32C (Castagnoli, the polynomial of iSCSI and ext4), the checksum of segment bytes.
 *
 * It detects accidental damage (a flipped bit on a disk, a torn or misdirected write), cheaply
 * enough to check every byte served. It is no defence against tampering: anyone who can write a
 * blob can recompute it. Tampering is caught by `meshfs verify` (each blob's BLAKE2b-256 against
 * its content address in the catalog) and, for PII, by the AEAD of the sealed chunks.
 */
#ifndef MESHFS_CRC32C_H
#define MESHFS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Extends crc with len bytes of buf; start with crc 0. crc32c(crc32c(0, a, m), b, n) is the CRC
 * of a followed by b. Uses the SSE4.2 CRC32 instruction where the CPU has it (chosen at run time),
 * else crc32c_portable: both give the same value. Thread-safe.
 */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* The same CRC computed with tables (slicing by 8), on any machine: what crc32c falls back to,
 * exposed so that tests can check that both agree. Thread-safe. */
uint32_t crc32c_portable(uint32_t crc, const void *buf, size_t len);

#endif
