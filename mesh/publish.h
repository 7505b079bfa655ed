/*
 * The publish pipeline (docs/DESIGN.md §5): an input file becomes a new version of a product, or
 * nothing changes. One streaming pass reads the input, checks it against the contract and stores
 * the segment; then one catalog transaction records the version.
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
 * Publishes an upload to DOMAIN/PRODUCT as one new version. name is the upload's file name and
 * says what it is: TABLE.csv, TABLE.jsonl (either maybe compressed), an archive of several tables
 * and maybe a contract, or contract.yaml (a proposed contract). Returns 0, -EACCES (no publish
 * right), -EPERM (a governance policy), -EINVAL (the data breaks the contract; err lists where
 * and why, one line per problem), or -errno. Nothing changes unless it returns 0. label (NULL:
 * name) is what messages call a single-table upload or a contract, such as the path a user gave.
 */
int publish_upload(struct mesh *m, const struct principal *p, const char *domain,
		   const char *product, const char *name, const char *label, csv_source_fn source,
		   void *ctx, struct publish_result *res, struct mfs_error *err);
/*
 * The upload name under which FILE publishes TABLE: the table's name with FILE's kind and
 * compression ("x.jsonl.gz" → "TABLE.jsonl.gz"; "-" or no known kind → "TABLE.csv"). Returns 0,
 * or -EINVAL when the result is no upload name (an archive's name, say).
 */
int publish_upload_name(const char *table, const char *file, char *out, size_t size);
/* Whether an upload called name publishes when closed (else it is a private staging file). */
int publish_name_publishes(const char *name);
/* publish.log: p's recent publish attempts on DOMAIN/PRODUCT, newest last, with reasons. */
int publish_log_render(struct mesh *m, const struct principal *p, const char *domain,
		       const char *product, struct strbuf *out);

#endif
