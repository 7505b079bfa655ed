/*
 * The publish pipeline (DESIGN §5): an input file becomes a new version of a product, or nothing
 * changes. One streaming pass reads the input, checks it against the contract and stores the
 * segment; then one catalog transaction records the version.
 */
#ifndef MESHFS_PUBLISH_H
#define MESHFS_PUBLISH_H

#include <stdint.h>
#include <sys/types.h>

#include "mesh/mesh.h"
#include "table/csv.h"

struct publish_result {
	int64_t version; /* the new version's number */
	uint64_t rows;
	uint64_t bytes;
};

/*
 * Publishes table of DOMAIN/PRODUCT from CSV pulled from source (named filename in messages), as
 * principal p. Returns 0, -EACCES (no publish right), -ENOENT (no such product or table),
 * -EINVAL (the data breaks the contract: err says FILE:LINE:COLUMN and why), or -errno.
 */
int publish_table(struct mesh *m, const struct principal *p, const char *domain,
		  const char *product, const char *table, csv_source_fn source, void *ctx,
		  const char *filename, struct publish_result *res, struct mfs_error *err);

/*
 * Publishes an upload to DOMAIN/PRODUCT as one new version. name is the upload's file name and
 * says what it is: TABLE.csv, TABLE.jsonl (either maybe compressed), an archive of several tables
 * and maybe a contract, or contract.yaml (a proposed contract). Returns 0, -EACCES (no publish
 * right), -EPERM (a governance policy), -EINVAL (the data breaks the contract; err lists where
 * and why, one line per problem), or -errno. Nothing changes unless it returns 0.
 */
int publish_upload(struct mesh *m, const struct principal *p, const char *domain,
		   const char *product, const char *name, csv_source_fn source, void *ctx,
		   struct publish_result *res, struct mfs_error *err);
/* Whether an upload called name publishes when closed (else it is a private staging file). */
int publish_name_publishes(const char *name);
/* publish.log: p's recent publish attempts on DOMAIN/PRODUCT, newest last, with reasons. */
int publish_log_render(struct mesh *m, const struct principal *p, const char *domain,
		       const char *product, struct strbuf *out);

#endif
