/*
 * Who may do what (docs/DESIGN.md §2 grant/revoke, §6, §8). A principal is the Unix user behind a
 * request, with their Unix groups (supplementary ones too) and their catalog teams.
 *
 * Rules: admin on the mesh implies every privilege everywhere; admin on a domain implies every
 * privilege in it; the domain's owning team has publish and unmask on the domain; unmask implies
 * read; publish implies read. A grant at mesh scope covers every domain and product, a grant on a
 * domain covers its products. Metadata needs no privilege at all.
 */
#ifndef MESHFS_ACL_H
#define MESHFS_ACL_H

#include <sys/types.h>

#include "catalog/catalog.h"

enum privilege {
	PRIV_READ = 0,
	PRIV_UNMASK,
	PRIV_PUBLISH,
	PRIV_ADMIN,
};

struct principal {
	uid_t uid;
	gid_t gid;
	char name[MESH_NAME_MAX]; /* user name, or the decimal uid when the system has no name */
	char **groups;		  /* names of the user's groups, primary and supplementary */
	size_t ngroups;
};

/* Resolves uid (with primary gid) through the system's user database. Returns 0 or -errno. */
int principal_init(struct principal *p, uid_t uid, gid_t gid);
void principal_release(struct principal *p);

/* Parses "read", "unmask", "publish", "admin". Returns 0 or -EINVAL. */
int privilege_parse(const char *s, enum privilege *out);
const char *privilege_name(enum privilege priv);

/*
 * Whether p has priv on the object: domain NULL means the mesh itself, product NULL the domain.
 * Returns 1 (allowed), 0 (not), or -errno when the catalog cannot answer.
 */
int acl_allowed(struct catalog *cat, const struct principal *p, enum privilege priv,
		const char *domain, const char *product);

#endif
