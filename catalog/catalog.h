/*
 * The catalog: what exists in the mesh (docs/DESIGN.md §7.7, "the catalog is the truth"). A
 * database reached through catalog/db.h: SQLite (MESH/catalog.db, WAL mode) for a mesh on one
 * host, or PostgreSQL for a mesh that many hosts share, with a schema version and migrations
 * applied in order at open. Every statement is prepared; every result code checked.
 *
 * All functions return 0 on success or -errno: -ENOENT for a missing object, -EEXIST for a
 * duplicate, -EINVAL for a bad argument, -EIO for a database failure (with err set where taken),
 * -ETIMEDOUT when a PostgreSQL server did not answer within mfs_timeout_ms() (common/timeout.h),
 * -EBUSY when the catalog stayed locked by others as long. A struct catalog is used by one
 * thread at a time; threads open their own or lock around it. Times are Unix seconds.
 */
#ifndef MESHFS_CATALOG_H
#define MESHFS_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "contract/names.h"

struct catalog;

enum catalog_open_flags {
	/* create MESH/catalog.db, -EEXIST if it exists; in PostgreSQL, the schema, in a database
	 * that exists and holds none yet (-EEXIST if it holds a mesh's) */
	CATALOG_CREATE = 1,
	CATALOG_READONLY = 2, /* open without write access */
};

/*
 * Opens a catalog and migrates its schema to the current version. target is a mesh directory
 * (its catalog is DIR/catalog.db) or a PostgreSQL URL (catalog_target_shared()), taken with
 * libpq's conventions: a password from the URL, PGPASSWORD or ~/.pgpass (PGPASSFILE), sslmode,
 * service and the other parameters. Messages never show the URL's password.
 */
int catalog_open(struct catalog **out, const char *target, int flags, struct mfs_error *err);
void catalog_close(struct catalog *cat);
/* Whether target names a PostgreSQL catalog: it starts with "postgresql://" or "postgres://". */
int catalog_target_shared(const char *target);
/* target as a message may show it (a URL without its password), malloc'd; NULL: no memory. */
char *catalog_target_display(const char *target);
/* Whether the catalog is shared by hosts (PostgreSQL) rather than kept in the mesh directory. */
int catalog_is_shared(const struct catalog *cat);
/* A number that changes whenever another connection commits: once it returns, every commit
 * that ended before the call counts (PRAGMA data_version; PostgreSQL: the notifications of other
 * sessions, after a round trip). */
int catalog_data_version(struct catalog *cat, int64_t *out);
/*
 * Waits up to timeout_ms for a change by another connection: 1 when one may have come, 0 when
 * none did, or -errno. PostgreSQL is told of each commit (LISTEN/NOTIFY); SQLite is not, so
 * that this sleeps the timeout and answers 1. For a watcher between two catalog_changes_poll().
 */
int catalog_changes_wait(struct catalog *cat, int timeout_ms);
/*
 * The mesh lock of a shared catalog: held shared by every publish from its first stored byte to
 * its commit, and exclusive to remove what no version refers to, across every host. A shared
 * lock may be taken several times and is then released as many times. wait 0 gives -EBUSY when
 * it is held the other way; otherwise it waits, at most mfs_timeout_ms(), then -EBUSY.
 * -ENOTSUP for a catalog in a mesh directory, which has its file lock (MESH/lock) for this.
 * While it is held a lost connection is not made again: statements fail with -EIO until it is
 * released, as the server has released it already.
 */
int catalog_lock(struct catalog *cat, int exclusive, int wait);
void catalog_unlock(struct catalog *cat, int exclusive);

/*
 * What other connections (the CLI, other mounts) changed in the catalog that a listing of the
 * mesh shows: new domains, new products, products with a new version or contract. Changes made
 * through cat itself are not reported.
 */
enum catalog_change {
	CATALOG_DOMAINS, /* a domain was made (id 0) */
	CATALOG_DOMAIN,	 /* a product was made in domain id */
	CATALOG_PRODUCT, /* product id has a new version or contract */
};
struct catalog_product_state {
	int64_t id, domain_id, contract_seq, latest;
};
struct catalog_changes {
	int taken;
	int64_t data_version;
	int64_t ndomains;
	struct catalog_product_state *products; /* by id */
	size_t nproducts;
};
void catalog_changes_init(struct catalog_changes *c);
void catalog_changes_release(struct catalog_changes *c);
/*
 * The first call takes the catalog's state. Each later one, if another connection committed
 * since, calls cb for each change since the state it took last, and takes the state again. A
 * non-zero return of cb stops the calls and is returned; the new state is taken all the same.
 */
int catalog_changes_poll(struct catalog *cat, struct catalog_changes *c,
			 int (*cb)(enum catalog_change what, int64_t id, void *ctx), void *ctx);
/* A number that changes whenever the catalog does, through this connection or another: for
 * caches of what is derived from it. No round trip to a server: another host's change shows
 * within moments (PostgreSQL), and after a lost connection everything counts as changed. */
int catalog_change_stamp(struct catalog *cat, uint64_t *out);
/* Explicit transactions, for multi-step changes: the outermost takes the catalog's write lock at
 * once (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock of the whole mesh), so that what
 * it reads stays true until it commits. They nest (inner levels are savepoints), also with the
 * functions below that make several changes in one transaction. A commit that fails has rolled
 * back; a rollback outside any transaction does nothing. A connection lost inside one loses it:
 * everything fails with -EIO until the outermost rollback. */
int catalog_begin(struct catalog *cat);
int catalog_commit(struct catalog *cat);
void catalog_rollback(struct catalog *cat);
/* The engine's check (SQLite: PRAGMA integrity_check and foreign_key_check; PostgreSQL:
 * constraints left unvalidated, triggers turned off): 0, else -EIO with the first problem. */
int catalog_integrity_check(struct catalog *cat, struct mfs_error *err);

/* ---- teams ---- */
int catalog_team_create(struct catalog *cat, const char *team);
/* Adding a present member or removing an absent one is not an error. -ENOENT: no such team. */
int catalog_team_add(struct catalog *cat, const char *team, const char *user);
int catalog_team_remove(struct catalog *cat, const char *team, const char *user);
/* 1 if user is a member of team, 0 if not (or no such team). */
int catalog_team_has_member(struct catalog *cat, const char *team, const char *user);
/* Calls cb for each team in name order with its members, space-separated ("" if none). */
int catalog_team_list(struct catalog *cat,
		      int (*cb)(const char *team, const char *members, void *ctx), void *ctx);
/* Calls cb for each team user belongs to. */
int catalog_user_teams(struct catalog *cat, const char *user,
		       int (*cb)(const char *team, void *ctx), void *ctx);

/* ---- domains ---- */
struct catalog_domain {
	int64_t id;
	char name[MESH_NAME_MAX];
	char owner[MESH_NAME_MAX]; /* owning team */
	char *description;	   /* never NULL; "" when none */
	int64_t created_at;
};
void catalog_domain_release(struct catalog_domain *d);
/* -ENOENT if owner is not a team; -EINVAL for "mesh", which names the mesh as a grant scope. */
int catalog_domain_create(struct catalog *cat, const char *name, const char *owner,
			  const char *description, int64_t now);
int catalog_domain_get(struct catalog *cat, const char *name, struct catalog_domain *out);
/* The domain with catalog id id (inode numbers of the mount carry ids). */
int catalog_domain_get_by_id(struct catalog *cat, int64_t id, struct catalog_domain *out);
/* cb gets a domain valid for the call only; a non-zero return stops and is returned. */
int catalog_domain_list(struct catalog *cat, int (*cb)(const struct catalog_domain *d, void *ctx),
			void *ctx);

/* ---- products and contracts ---- */
struct catalog_product {
	int64_t id;
	char domain[MESH_NAME_MAX];
	char name[MESH_NAME_MAX];
	char owner[MESH_NAME_MAX]; /* the domain's owning team */
	char *description;	   /* the contract's purpose; never NULL */
	char *status;		   /* the contract's status; never NULL */
	int64_t contract_seq;	   /* current contract (1, 2, …) */
	int64_t latest;		   /* latest version number; 0 when never published */
	int64_t created_at;
	int64_t updated_at;	   /* latest version's publish time, or created_at */
	int64_t frequency_seconds; /* SLA frequency from the current contract; 0 if none */
};
void catalog_product_release(struct catalog_product *p);
/*
 * Creates DOMAIN/PRODUCT with its first contract (the YAML text as given, and what was parsed from
 * it: description, status, semver, SLA frequency, table names, lineage inputs, search text).
 */
struct catalog_contract_meta {
	const char *yaml;
	const char *semver;
	const char *description;
	const char *status;
	int64_t frequency_seconds;
	const char *const *tables; /* names of the contract's tables */
	size_t ntables;
	const char *const *inputs; /* lineage: "DOMAIN/PRODUCT" */
	size_t ninputs;
	const char *search_text; /* names, purpose, tags, columns and their descriptions */
};
int catalog_product_create(struct catalog *cat, const char *domain, const char *name,
			   const struct catalog_contract_meta *m, const char *by, int64_t now);
int catalog_product_get(struct catalog *cat, const char *domain, const char *name,
			struct catalog_product *out);
/* The product with catalog id id. */
int catalog_product_get_by_id(struct catalog *cat, int64_t id, struct catalog_product *out);
/* In domain (NULL: all), ordered by domain then name. */
int catalog_product_list(struct catalog *cat, const char *domain,
			 int (*cb)(const struct catalog_product *p, void *ctx), void *ctx);
/* The ids and names of the products of domain domain_id, by name: what a listing of the domain
 * needs, without the joins of catalog_product_list. */
int catalog_product_names(struct catalog *cat, int64_t domain_id,
			  int (*cb)(int64_t id, const char *name, void *ctx), void *ctx);
/* Records a new current contract for a product (seq = previous + 1). */
int catalog_contract_add(struct catalog *cat, int64_t product_id,
			 const struct catalog_contract_meta *m, const char *by, int64_t now,
			 int64_t *seq);
/* The YAML of contract seq of a product (0: the current one); *yaml is malloc'd. */
int catalog_contract_get(struct catalog *cat, int64_t product_id, int64_t seq, char **yaml,
			 int64_t *seq_out);
/* Products whose current contract lists DOMAIN/PRODUCT as an input. */
int catalog_downstream(struct catalog *cat, const char *domain, const char *product,
		       int (*cb)(const char *domain, const char *product, void *ctx), void *ctx);
/* Inputs of a product's current contract. */
int catalog_upstream(struct catalog *cat, int64_t product_id,
		     int (*cb)(const char *domain, const char *product, void *ctx), void *ctx);
/*
 * Products downstream of DOMAIN/PRODUCT, directly or through others: what a breaking change of
 * it would affect. Each is given once, with depth its shortest distance (1: lists DOMAIN/PRODUCT
 * as an input), nearest first, then by domain and name. Cycles are safe; the product itself is
 * never listed.
 */
int catalog_downstream_all(struct catalog *cat, const char *domain, const char *product,
			   int (*cb)(const char *domain, const char *product, int depth, void *ctx),
			   void *ctx);
/*
 * Full-text search over products' names, purposes, tags, table and column names and their
 * descriptions: calls cb for at most limit (0: all) products matching every word of text, best
 * match first: products whose own or domain's name holds the words, then by bm25, then by domain
 * and name. text is what a user typed, never query syntax:
 * each word is matched as written (quotes, AND, NEAR… are plain words), case and diacritics
 * ignored, the last word as a prefix. Text without a word matches nothing (0, no call).
 */
int catalog_search(struct catalog *cat, const char *text, size_t limit,
		   int (*cb)(const struct catalog_product *p, void *ctx), void *ctx);

/* ---- versions ---- */
struct catalog_table_version {
	char name[MESH_NAME_MAX];
	char segment[65]; /* blob id */
	uint64_t rows;
	uint64_t masked_size;
	uint64_t plain_size;
	int has_pii;
};
struct catalog_version {
	int64_t number;
	int64_t published_at;
	char published_by[MESH_NAME_MAX];
	int64_t contract_seq;
	uint64_t rows;			      /* over all tables */
	uint64_t bytes;			      /* masked bytes over all tables */
	char *checks;			      /* summary of the checks run; never NULL */
	uint64_t warnings;		      /* quality rules of severity warning that failed */
	struct catalog_table_version *tables; /* in name order */
	size_t ntables;
};
void catalog_version_release(struct catalog_version *v);
/* Version number of a product (0: the latest); -ENOENT if none. */
int catalog_version_get(struct catalog *cat, int64_t product_id, int64_t number,
			struct catalog_version *out);
/* Versions newest first, tables included; at most limit (0: all). */
int catalog_version_list(struct catalog *cat, int64_t product_id, size_t limit,
			 int (*cb)(const struct catalog_version *v, void *ctx), void *ctx);
/* Versions numbered from up, oldest first, tables included; at most limit (0: all). In one
 * round trip: for those who will want the next versions too. */
int catalog_version_range(struct catalog *cat, int64_t product_id, int64_t from, size_t limit,
			  int (*cb)(const struct catalog_version *v, void *ctx), void *ctx);
/*
 * The version of a product current at instant at (Unix seconds): the highest number published
 * at or before it, in *number. -ENOENT when none was (at is before the first version, or there is
 * no such product). An instant after the latest version gives the latest.
 */
int catalog_version_at(struct catalog *cat, int64_t product_id, int64_t at, int64_t *number);
/*
 * Records the next version of a product in one transaction: number = latest + 1; its tables are
 * the given ones plus every table of the previous version not among them (carried over). The
 * version is tied to the product's current contract. Stores the number in *number. ntables may be
 * 0 when there is a previous version. The previous version's tables not given carry over, under
 * the current contract, if it still has them: a table the contract dropped ends there.
 */
int catalog_put_version(struct catalog *cat, int64_t product_id,
			const struct catalog_table_version *tables, size_t ntables, const char *by,
			const char *checks, uint64_t warnings, int64_t now, int64_t *number);
/* Every segment any version refers to (for verify and orphan clean-up); each id once. */
int catalog_segment_list(struct catalog *cat, int (*cb)(const char *id, void *ctx), void *ctx);

/* ---- grants ---- */
/* privilege: read|unmask|publish|admin; scope: "mesh", "DOMAIN" or "DOMAIN/PRODUCT";
 * principal: "user:NAME", "team:NAME", "group:NAME" or "everyone". Granting twice is fine;
 * revoking what was not granted is -ENOENT. */
int catalog_grant(struct catalog *cat, const char *privilege, const char *scope,
		  const char *principal, const char *by, int64_t now);
int catalog_revoke(struct catalog *cat, const char *privilege, const char *scope,
		   const char *principal);
/* Grants of privilege at exactly scope. */
int catalog_grant_list(struct catalog *cat, const char *privilege, const char *scope,
		       int (*cb)(const char *principal, void *ctx), void *ctx);
/* Grants of any privilege at any of the nscopes scopes (1 to 3), in one round trip: what a
 * check of access weighs. */
int catalog_grant_list_at(struct catalog *cat, const char *const *scopes, size_t nscopes,
			  int (*cb)(const char *privilege, const char *scope, const char *principal,
				    void *ctx),
			  void *ctx);
/* All grants, for listing. */
int catalog_grant_list_all(struct catalog *cat,
			   int (*cb)(const char *privilege, const char *scope,
				     const char *principal, void *ctx),
			   void *ctx);

/* ---- mesh policies (contract/policy.h); every policy ever set is kept ---- */
/* Records yaml (the text as given) as the current policy, set by user by at now. */
int catalog_policy_set(struct catalog *cat, const char *yaml, const char *by, int64_t now);
/* The current policy's text (*yaml malloc'd) and its number (seq may be NULL); -ENOENT if none
 * was ever set. */
int catalog_policy_get(struct catalog *cat, char **yaml, int64_t *seq);

/* ---- settings of the mesh (where its store is: "store", "store.endpoint", …) ---- */
/* name: 1 to 63 lowercase letters, digits and ".-_", starting with a letter; value: at most
 * CATALOG_SETTING_MAX bytes. */
#define CATALOG_SETTING_MAX 4096
/* The value of setting name, malloc'd in *value; -ENOENT if it is not set. */
int catalog_setting_get(struct catalog *cat, const char *name, char **value);
/* Sets name to value, replacing what it was. */
int catalog_setting_set(struct catalog *cat, const char *name, const char *value);

/* ---- copying (moving a mesh) ---- */
/*
 * Copies every row of every table of from into to, which must be a catalog just created (empty),
 * ids included, in one transaction on to: all of it or nothing. progress (may be NULL) is told
 * each table's row count as it is done; a non-zero return stops the copy with that value. err
 * names the table that failed.
 */
int catalog_copy(struct catalog *from, struct catalog *to,
		 int (*progress)(const char *table, uint64_t rows, void *ctx), void *ctx,
		 struct mfs_error *err);

/* ---- audit ---- */
struct catalog_audit {
	int64_t id;
	int64_t at;
	const char *principal;
	const char *action;  /* open-plain, publish, reject, grant, revoke, contract, … */
	const char *object;  /* DOMAIN/PRODUCT[/TABLE] or a scope */
	int64_t version;     /* 0 when none */
	const char *view;    /* plain|masked|"" */
	const char *outcome; /* ok|denied|rejected|error */
	const char *detail;  /* "" when none */
};
/*
 * Appends a row, sealed into the audit's hash chain (docs/SECURITY.md): its place (seq, 1, 2, …)
 * and hash = keyed BLAKE2b-256 of the previous sealed row's hash and of the row's fields, in one
 * transaction whose write lock serializes the chain across every writer (nested inside the
 * caller's, if any). Without a key (catalog_audit_keyer) the row is still written, unsealed,
 * which catalog_audit_verify reports.
 */
int catalog_audit_add(struct catalog *cat, const struct catalog_audit *a);

/* The key that seals the audit chain: derived from the master key (keys_audit_key). */
#define CATALOG_AUDIT_KEY 32
/*
 * Tells the catalog where the audit key comes from: keyer is called once, when a row is first
 * written or verified, and fills key or returns -errno (remembered: rows are then unsealed).
 * keyer NULL forgets the key.
 */
void catalog_audit_keyer(struct catalog *cat,
			 int (*keyer)(void *ctx, uint8_t key[CATALOG_AUDIT_KEY]), void *ctx);

/* What catalog_audit_verify finds wrong, each at the row (id) where it shows. */
enum catalog_audit_problem {
	AUDIT_UNSEALED, /* a row after the chain began has no place or hash in it */
	AUDIT_EDITED,	/* its fields (or its hash) do not match the chain */
	AUDIT_UNLINKED, /* after an edited row: does not follow its hash (that hash was changed) */
	AUDIT_MOVED,	/* sealed before the row other_id that precedes it */
	AUDIT_REPEATED, /* takes a place in the chain that a row before it took */
	AUDIT_DELETED,	/* count places missing before it, after row other_id (0: the start) */
	AUDIT_START,	/* the chain's first row (id; 0: none left) does not follow the record of
			   the rows before the chain: the record or the row was changed */
	AUDIT_BEFORE,	/* count rows from before the chain where other_id were recorded with ids
			   1 … id */
};
struct catalog_audit_break {
	enum catalog_audit_problem what;
	int64_t id;	  /* the row */
	int64_t seq;	  /* its place in the chain (AUDIT_DELETED: the first missing place) */
	int64_t other_id; /* the row before it in the chain (AUDIT_MOVED: the one it was sealed
			     before) */
	int64_t count;	  /* AUDIT_DELETED: how many places are missing; AUDIT_BEFORE: rows */
};
/* What the chain ends with: record hash elsewhere to notice a cut tail later. */
struct catalog_audit_head {
	int64_t rows;	       /* every row */
	int64_t unchained;     /* unsealed rows from before the chain existed */
	int64_t unchained_max; /* the highest id among them; 0 if none */
	int start_sealed;      /* whether the chain's first row seals their count and ids */
	int64_t first_id;      /* the chain's first row; 0 if none */
	int64_t seq, id;       /* the last place and the row holding it; 0 if none */
	uint8_t hash[32];      /* the hash at that place; zeros if none */
};
/*
 * Walks every audit row in id order and checks the chain: calls cb (which must not use cat) for
 * each problem, in the order they show; a non-zero return of cb stops and is returned. Fills head.
 * -ENOKEY when the catalog has no audit key. Returns 0 when the walk ended, problems or not.
 */
int catalog_audit_verify(struct catalog *cat,
			 int (*cb)(const struct catalog_audit_break *b, void *ctx), void *ctx,
			 struct catalog_audit_head *head);
/* Rows at or after since (0: all) and of principal (NULL: all), oldest first. */
int catalog_audit_list(struct catalog *cat, int64_t since, const char *principal,
		       int (*cb)(const struct catalog_audit *a, void *ctx), void *ctx);

/* The newest limit (0: all) publish and reject rows of principal on objects starting with
 * prefix, given oldest first. */
int catalog_audit_recent(struct catalog *cat, const char *principal, const char *prefix,
			 size_t limit, int (*cb)(const struct catalog_audit *a, void *ctx),
			 void *ctx);

/* ---- keys (wrapped by the master key; see acl/keys.h) ---- */
/* kind: "mask" or "data"; domain NULL for "mask". The new key becomes the active one of its kind
 * and domain. */
int catalog_key_add(struct catalog *cat, const char *kind, const char *domain,
		    const uint8_t *wrapped, size_t len, int64_t now, uint32_t *id);
/* The wrapped key with id (len bytes must match). */
int catalog_key_get(struct catalog *cat, uint32_t id, uint8_t *wrapped, size_t len);
/* The active key of kind (and domain). */
int catalog_key_active(struct catalog *cat, const char *kind, const char *domain, uint32_t *id,
		       uint8_t *wrapped, size_t len);

#endif
