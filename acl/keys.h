/*
 * Keys (docs/DESIGN.md §7.4). A 32-byte master key lives in a file of mode 0600:
 * MESH/keys/master.key for a local mesh, the file given with --key (or $MESHFS_KEY) on every host
 * of a shared one. Every other key — the masking key, per-domain data keys — is random, wrapped by
 * the master key and kept in the catalog's keys table; a key is known by its catalog id. Unwrapped
 * keys live only in memory.
 */
#ifndef MESHFS_KEYS_H
#define MESHFS_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define KEY_BYTES   32
#define KEY_WRAPPED (24 + KEY_BYTES + 16) /* nonce | secretbox(key) */

struct catalog;

/* The master key's file in a local mesh, MESH_DIR/keys/master.key. -ENAMETOOLONG if it does not
 * fit in size. */
int keys_master_path(char *buf, size_t size, const char *mesh_dir);
/* Creates the key file path (its directory must exist) with a new random key, mode 0600, durably;
 * -EEXIST if present. */
int keys_create_master(const char *path, struct mfs_error *err);
/* Writes master to a new key file path the same way (a moved mesh keeps its key). */
int keys_save_master(const char *path, const uint8_t master[KEY_BYTES], struct mfs_error *err);
/* Loads the master key from path. Refuses (-EPERM, with a clear message) a key file that group or
 * world can read, and (-EINVAL) one of the wrong size; -ENOENT names the missing file. */
int keys_load_master(const char *path, uint8_t master[KEY_BYTES], struct mfs_error *err);
/* Wraps key under master (XChaCha20-Poly1305 secretbox, random nonce). */
void keys_wrap(const uint8_t master[KEY_BYTES], const uint8_t key[KEY_BYTES],
	       uint8_t wrapped[KEY_WRAPPED]);
/* Unwraps; -EIO if the wrapped key does not authenticate under master (a wrong master key). */
int keys_unwrap(const uint8_t master[KEY_BYTES], const uint8_t wrapped[KEY_WRAPPED],
		uint8_t key[KEY_BYTES]);

/* The keys a process uses: the master key and a cache of unwrapped keys (mlocked memory). */
struct keyring;

/* Loads the master key from key_path and checks that it opens the catalog's masking key (-EIO
 * "wrong master key" if not). */
int keyring_open(struct keyring **out, const char *key_path, struct catalog *cat,
		 struct mfs_error *err);
void keyring_close(struct keyring *kr);
/* Creates the mesh's masking key in the catalog (at init). */
int keyring_create_mask_key(struct keyring *kr);
/* Creates a new active data key for domain (at domain creation and on rotation); the previous
 * one stays readable. Stores its id in *key_id. */
int keyring_rotate_domain(struct keyring *kr, const char *domain, uint32_t *key_id);
/* The masking key. */
int keyring_mask_key(struct keyring *kr, uint8_t key[KEY_BYTES]);
/* The key sealing the audit chain (catalog_audit_keyer), derived from the master key: who can
 * write the catalog but lacks the master key cannot make the chain agree with an edit. */
void keyring_audit_key(struct keyring *kr, uint8_t key[KEY_BYTES]);
/* The active data key of domain for new writes, with its id. */
int keyring_domain_key(struct keyring *kr, const char *domain, uint32_t *key_id,
		       uint8_t key[KEY_BYTES]);
/* Any key by id, for reading old versions. -ENOENT if unknown, -EIO if it does not unwrap. */
int keyring_key(struct keyring *kr, uint32_t key_id, uint8_t key[KEY_BYTES]);

#endif
