/*
 * A mesh, opened as one object for the CLI and the daemon: either local, the directory holding
 * catalog.db, store/, keys/ and staging/ (docs/DESIGN.md §1), or shared by many hosts, its catalog
 * on PostgreSQL (named by a postgresql:// URL), its store an object store or shared directory
 * whose location the catalog records, and its master key a file each host is given
 * (docs/DEPLOYMENT.md).
 */
#ifndef MESHFS_MESH_H
#define MESHFS_MESH_H

#include <stdatomic.h>
#include <stdint.h>

#include "acl/acl.h"
#include "acl/keys.h"
#include "backends/store.h"
#include "catalog/catalog.h"
#include "common/error.h"

/* How this host reaches a mesh: what is not recorded in the mesh itself. */
struct mesh_options {
	const char *key_file; /* the master key; NULL: $MESHFS_KEY, else (local mesh only)
				 MESH/keys/master.key */
	const char
	    *cache_dir;	     /* a shared mesh's files on this host: its block cache, staging and
				daemon log. NULL: $MESHFS_CACHE_DIR, else ~/.cache/meshfs/MESH_ID */
	uint64_t cache_size; /* the block cache's bound in bytes; 0: the store's default */
	/* 1: the open proves that a shared mesh's store answers and takes its credential; 0: the
	 * first read or write finds out, and metadata works with the store away */
	int check_store;
};

/* What a new shared mesh records: where its segments live. */
struct mesh_init {
	const char *store;    /* s3://BUCKET[/PREFIX] or file:///DIR */
	const char *endpoint; /* of an S3 service other than AWS's; NULL: $AWS_ENDPOINT_URL */
	const char *region;   /* NULL: $AWS_REGION */
};

struct mesh {
	char *target;	 /* as given: a directory or a PostgreSQL URL */
	char *dir;	 /* the directory of a local mesh; NULL for a shared one */
	char *local_dir; /* this host's files of the mesh: dir, or the shared mesh's cache dir */
	char *key_file;
	uint64_t cache_size;
	struct catalog *cat;
	struct store *store;
	struct keyring *keys;
};

/* What a shared mesh's catalog records of it (catalog_setting_get): a random id naming its cache
 * directory on each host, and its store's URL, endpoint and region. */
#define MESH_SETTING_ID	      "mesh.id"
#define MESH_SETTING_STORE    "store"
#define MESH_SETTING_ENDPOINT "store.endpoint"
#define MESH_SETTING_REGION   "store.region"

/*
 * Creates a new mesh at target: catalog, store, master key, the masking key, the default policy;
 * admin on the mesh for the user called admin. A local mesh is made in a directory that may exist
 * but must be empty (init and o->key_file must be NULL: it keeps all in the directory). A shared
 * one in an existing PostgreSQL database holding no mesh yet, with its segments at init->store
 * and its master key created in o->key_file (or $MESHFS_KEY), which must not exist. Returns 0 or
 * -errno with err set.
 */
int mesh_create(const char *target, const char *admin, const struct mesh_init *init,
		const struct mesh_options *o, struct mfs_error *err);
/*
 * Opens an existing mesh: its catalog and store. For a local mesh: -ENOENT "not a mesh" when the
 * directory lacks catalog.db, -EACCES when the caller may not read it. The keys are not loaded:
 * what shows metadata only works without the master key, which is loaded when an audit row is
 * first written (to seal it). m must stay where it is until mesh_close. o may be NULL.
 */
int mesh_open(struct mesh *m, const char *target, const struct mesh_options *o,
	      struct mfs_error *err);
/* Opens the mesh like is open on, with the same options: another connection to it. */
int mesh_open_like(struct mesh *m, const struct mesh *like, struct mfs_error *err);
/*
 * Loads the keys (the master key and the keys it wraps) into m->keys, once. -EIO naming the key
 * file when it is missing, other -errno as keyring_open.
 */
int mesh_keys(struct mesh *m, struct mfs_error *err);
void mesh_close(struct mesh *m);
/* Records in cat what a new shared mesh keeps of itself: a new id (no host takes another mesh's
 * cache for its own) and where its store is. */
int mesh_record(struct catalog *cat, const struct mesh_init *init, struct mfs_error *err);
/*
 * Moves mesh m to a new shared mesh at target (a PostgreSQL database holding no mesh yet): its
 * master key into key_file (which must not exist), every segment into the store init names, and
 * every row of its catalog, ids included; m itself is left as it was, locked against publishes
 * meanwhile. progress (may be NULL) hears what was copied: "segments", "bytes", then each
 * table's rows. On failure the key file is removed and the new catalog holds nothing.
 */
int mesh_migrate(struct mesh *m, const char *target, const struct mesh_init *init,
		 const char *key_file, int (*progress)(const char *what, uint64_t n, void *ctx),
		 void *ctx, struct mfs_error *err);
/*
 * Removes blobs no version refers to and leftovers of interrupted writes; *removed gets how many.
 * Lists the store without the mesh lock, then takes it exclusively without waiting (0 with
 * nothing removed when a publish holds it) for the removals, which spare whatever the catalog
 * refers to once the lock is held. stop (may be NULL) set by another thread ends it between two
 * blobs with -ECANCELED.
 */
int mesh_clean_orphans(struct mesh *m, const atomic_int *stop, unsigned long *removed);
/*
 * Takes the mesh lock, shared by every publish from its first stored byte to its catalog commit,
 * exclusive for orphan clean-up: MESH/lock on a local mesh, the catalog's lock on a shared one,
 * which holds across hosts. wait = 0 gives -EBUSY instead of waiting. Returns a lock for
 * mesh_unlock (never negative), or -errno.
 */
int mesh_lock(struct mesh *m, int exclusive, int wait);
/* Releases what mesh_lock returned; a negative lock (none taken) is ignored. */
void mesh_unlock(struct mesh *m, int lock);
/* Calls cb (may be NULL) for each blob of the store no version refers to; *count gets how many
 * there were. Removes nothing: a publish in flight may have stored some of them. */
int mesh_orphans(struct mesh *m, int (*cb)(const char *id, void *ctx), void *ctx,
		 unsigned long *count);
/* Fills meta from a parsed contract and its text; *tables (free() it) and search hold what meta
 * points to. */
struct contract;
struct strbuf;
int mesh_contract_meta(const struct contract *c, const char *yaml, struct strbuf *search,
		       const char ***tables, struct catalog_contract_meta *meta);
/* Current time in Unix seconds; MESHFS_NOW overrides it, so tests can move the clock. */
int64_t mesh_now(void);
/*
 * Parses an instant of time travel (versions/@INSTANT, meshfs export D/P@INSTANT): an RFC 3339
 * date-time, YYYY-MM-DDThh:mm:ss with an optional fraction of at most 9 digits and a zone, Z or
 * +hh:mm / -hh:mm ('t' and 'z' may be in lower case). A fraction is dropped: publish times are
 * whole seconds. Stores Unix seconds in *out; -EINVAL for anything else (a date alone, no seconds,
 * no zone, no such day).
 */
int mesh_instant_parse(const char *s, int64_t *out);

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
