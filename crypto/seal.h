/*
 * Sealed chunks (docs/DESIGN.md §7.3): XChaCha20-Poly1305 (IETF) with a random nonce. A chunk is
 *
 *   u8 format (SEAL_FORMAT) | u32le key id | 24-byte nonce | ciphertext | 16-byte tag
 *
 * The format byte and key id are authenticated too: the associated data is the caller's
 * binding (table, column, segment, group) followed by the chunk's first 5 bytes.
 */
#ifndef MESHFS_SEAL_H
#define MESHFS_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"

#define SEAL_FORMAT    1
#define SEAL_KEY_BYTES 32
#define SEAL_HEADER    (1 + 4 + 24)
#define SEAL_OVERHEAD  (SEAL_HEADER + 16)

/* Appends the chunk sealing pt under key to out. Returns 0 or -ENOMEM. */
int seal_chunk(const uint8_t key[SEAL_KEY_BYTES], uint32_t key_id, const void *ad, size_t adlen,
	       const void *pt, size_t ptlen, struct strbuf *out);
/* Reads the key id from a chunk's header. Returns 0, or -EIO if the chunk is too short or of an
 * unknown format. */
int seal_chunk_key_id(const void *chunk, size_t len, uint32_t *key_id);
/* Appends the plaintext of chunk to out. Returns 0, or -EIO for anything that does not
 * authenticate (tampered, truncated, wrong key, wrong binding): never partial plaintext. */
int seal_open(const uint8_t key[SEAL_KEY_BYTES], const void *ad, size_t adlen, const void *chunk,
	      size_t len, struct strbuf *out);

#endif
