/*
 * Keys (docs/DESIGN.md §7.4). A 32-byte master key lives in MESH/keys/master.key (mode 0600). Every
 * other key — the masking key, per-domain data keys — is random, wrapped by the master key and kept
 * in the catalog's keys table; a key is known by its catalog id. Unwrapped keys live only in
 * memory.
 */
#ifndef MESHFS_KEYS_H
#define MESHFS_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define KEY_BYTES   32
#define KEY_WRAPPED (24 + KEY_BYTES + 16) /* nonce | secretbox(key) */

struct catalog;

/* Creates MESH_DIR/keys/master.key with a new random key, mode 0600; -EEXIST if present. */
int keys_create_master(const char *mesh_dir, struct mfs_error *err);
/* Loads the master key. Refuses (-EPERM, with a clear message) a key file that group or world can
 * read, and (-EINVAL) one of the wrong size. */
int keys_load_master(const char *mesh_dir, uint8_t master[KEY_BYTES], struct mfs_error *err);
/* Wraps key under master (XChaCha20-Poly1305 secretbox, random nonce). */
void keys_wrap(const uint8_t master[KEY_BYTES], const uint8_t key[KEY_BYTES],
	       uint8_t wrapped[KEY_WRAPPED]);
/* Unwraps; -EIO if the wrapped key does not authenticate under master (a wrong master key). */
int keys_unwrap(const uint8_t master[KEY_BYTES], const uint8_t wrapped[KEY_WRAPPED],
		uint8_t key[KEY_BYTES]);

/* The keys a process uses: the master key and a cache of unwrapped keys (mlocked memory). */
struct keyring;

/* Loads the master key of the mesh at mesh_dir and checks that it opens the catalog's masking key
 * (-EIO "wrong master key" if not). */
int keyring_open(struct keyring **out, const char *mesh_dir, struct catalog *cat,
		 struct mfs_error *err);
void keyring_close(struct keyring *kr);
/* Creates the mesh's masking key in the catalog (at init). */
int keyring_create_mask_key(struct keyring *kr);
/* Creates a new active data key for domain (at domain creation and on rotation); the previous
 * one stays readable. Stores its id in *key_id. */
int keyring_rotate_domain(struct keyring *kr, const char *domain, uint32_t *key_id);
/* The masking key. */
int keyring_mask_key(struct keyring *kr, uint8_t key[KEY_BYTES]);
/* The active data key of domain for new writes, with its id. */
int keyring_domain_key(struct keyring *kr, const char *domain, uint32_t *key_id,
		       uint8_t key[KEY_BYTES]);
/* Any key by id, for reading old versions. -ENOENT if unknown, -EIO if it does not unwrap. */
int keyring_key(struct keyring *kr, uint32_t key_id, uint8_t key[KEY_BYTES]);

#endif
