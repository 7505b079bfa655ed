/*
 * A mesh: the directory holding catalog.db, store/, keys/ and staging/ (docs/DESIGN.md §1), opened
 * as one object for the CLI and the daemon.
 */
#ifndef MESHFS_MESH_H
#define MESHFS_MESH_H

#include <stdint.h>

#include "acl/acl.h"
#include "acl/keys.h"
#include "backends/store.h"
#include "catalog/catalog.h"
#include "common/error.h"

struct mesh {
	char *dir;
	struct catalog *cat;
	struct store *store;
	struct keyring *keys;
};

/*
 * Creates a new mesh in dir (which may exist but must be empty): catalog, store, master key, the
 * masking key, the default policy; admin on the mesh for the user called admin. Returns 0 or
 * -errno with err set.
 */
int mesh_create(const char *dir, const char *admin, struct mfs_error *err);
/*
 * Opens an existing mesh: its catalog and store. -ENOENT "not a mesh" when dir lacks catalog.db,
 * -EACCES when the caller may not read it. The keys are not loaded: what shows metadata only
 * works without the master key.
 */
int mesh_open(struct mesh *m, const char *dir, struct mfs_error *err);
/*
 * Loads the keys (the master key and the keys it wraps) into m->keys, once. -EIO naming the key
 * file when it is missing, other -errno as keyring_open.
 */
int mesh_keys(struct mesh *m, struct mfs_error *err);
void mesh_close(struct mesh *m);
/* Removes blobs no version refers to and leftovers of interrupted writes; returns how many. Only
 * when no other process writes the mesh (at mount start, under the caller's lock). */
int mesh_clean_orphans(struct mesh *m, unsigned long *removed);
/*
 * Takes the mesh lock (MESH/lock): shared by every publish from its first stored byte to its
 * catalog commit, exclusive for orphan clean-up. wait = 0 gives -EBUSY instead of waiting.
 * Returns a descriptor for mesh_unlock, or -errno.
 */
int mesh_lock(struct mesh *m, int exclusive, int wait);
void mesh_unlock(int fd);
/* Calls cb (may be NULL) for each blob of the store no version refers to, removing it when remove
 * is set; *count gets how many there were. */
int mesh_orphans(struct mesh *m, int remove, int (*cb)(const char *id, void *ctx), void *ctx,
		 unsigned long *count);
/* Fills meta from a parsed contract and its text; *tables (free() it) and search hold what meta
 * points to. */
struct contract;
struct strbuf;
int mesh_contract_meta(const struct contract *c, const char *yaml, struct strbuf *search,
		       const char ***tables, struct catalog_contract_meta *meta);
/* Current time in Unix seconds; MESHFS_NOW overrides it, so tests can move the clock. */
int64_t mesh_now(void);

/* ---- the mesh policy (contract/policy.h) ---- */
struct mesh_policy;
/* The current policy's YAML text (*yaml malloc'd): the last one set, else the default one. */
int mesh_policy_text(struct mesh *m, char **yaml);
/* The current policy, parsed into out (release it with policy_release, even on failure). */
int mesh_policy_get(struct mesh *m, struct mesh_policy *out, struct mfs_error *err);
/*
 * Makes yaml (len bytes, named filename in messages) the mesh policy from the next publish on, as
 * principal p. Returns 0, -EACCES unless p is an admin of the mesh, -EINVAL (err
 * "FILE:LINE:COLUMN: …") for text that is not a valid policy, or -errno. Each attempt gets an
 * audit row, action "policy" on object "mesh".
 */
int mesh_policy_set(struct mesh *m, const struct principal *p, const char *yaml, size_t len,
		    const char *filename, struct mfs_error *err);

/* Creates a domain owned by team, with a data key. */
int mesh_domain_create(struct mesh *m, const char *domain, const char *team,
		       const char *description, struct mfs_error *err);
/* Parses contract text and creates DOMAIN/PRODUCT with it; the contract's domain and
 * dataProduct must match. */
int mesh_product_create(struct mesh *m, const char *domain, const char *product, const char *yaml,
			size_t len, const char *filename, const char *by, struct mfs_error *err);
/* The binding ("DOMAIN/PRODUCT/TABLE") of a table's segments. */
void mesh_binding(char *out, size_t size, const char *domain, const char *product,
		  const char *table);
/* Key lookup for segment_read: ctx is the struct mesh. */
int mesh_segment_key(void *ctx, uint32_t key_id, uint8_t key[32]);

#endif
