/*
 * Exporting a version of a data product as one archive file (docs/DESIGN.md §2, `meshfs export`):
 * its contract.yaml and every TABLE.csv, each table in the caller's view exactly as the mount shows
 * it, so that what leaves the mesh is what the caller could have copied out of the mount. The
 * entries are flat (contract.yaml and TABLE.csv at the top), so an export can be published
 * again as one archive.
 */
#ifndef MESHFS_EXPORT_H
#define MESHFS_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "mesh/mesh.h"

enum export_format {
	EXPORT_TAR = 0,
	EXPORT_TAR_GZ,
	EXPORT_TAR_BZ2,
	EXPORT_TAR_XZ,
	EXPORT_TAR_ZST,
	EXPORT_ZIP,
};

/* The format named by file's extension: .tar, .tar.gz or .tgz, .tar.bz2 or .tbz2, .tar.xz or
 * .txz, .tar.zst or .tzst, .zip (case-insensitive). Returns 0, or -EINVAL for anything else. */
int export_format_of(const char *file, enum export_format *out);

struct export_result {
	int64_t version; /* the version exported */
	size_t ntables;	 /* TABLE.csv entries written */
	size_t nplain;	 /* of them, in the plain view (PII in plaintext) */
	uint64_t bytes;	 /* bytes of table data written, before compression */
	int64_t mtime;	 /* the entries' modification time: the version's publish time */
};

/*
 * The version of DOMAIN/PRODUCT current at instant at (Unix seconds; see catalog_version_at), in
 * *number: what DOMAIN/PRODUCT@INSTANT names. Needs no right, versions being metadata. Returns 0,
 * -ENOENT (no such product, or none of its versions was published by then), or -errno, with err
 * set.
 */
int export_version_at(struct mesh *m, const char *domain, const char *product, int64_t at,
		      int64_t *number, struct mfs_error *err);

/*
 * Writes version number (0: the latest) of DOMAIN/PRODUCT, as principal p sees it, into the
 * archive file, in the format of its extension. Each table is in the plain view when it holds
 * PII and p has unmask, else masked. The archive is written to "FILE.tmp" (mode 0600 when it
 * holds plaintext PII) and renamed onto file once complete, so file is either the whole export
 * or untouched. A file inside the mesh directory is refused: no plaintext may rest there.
 * An export holding plaintext writes an audit row (action "export", view plain).
 *
 * Returns 0, -EACCES (no read right), -ENOENT (no such product or version), -EINVAL (unknown
 * extension, or a file in the mesh), -EIO (a sealed chunk does not open), or -errno, with err set.
 */
int export_product(struct mesh *m, const struct principal *p, const char *domain,
		   const char *product, int64_t number, const char *file, struct export_result *res,
		   struct mfs_error *err);

#endif
