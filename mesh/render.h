/* Generated documents of the mounted tree (docs/DESIGN.md §3), also printed by the CLI. */
#ifndef MESHFS_RENDER_H
#define MESHFS_RENDER_H

#include <stdint.h>

#include "common/strbuf.h"
#include "mesh/mesh.h"

/* MOUNT/README.md: what the mesh is, its domains, how to read and publish. */
int render_mesh_readme(struct mesh *m, struct strbuf *out);
/* MOUNT/DOMAIN/README.md. -ENOENT for an unknown domain. */
int render_domain_readme(struct mesh *m, const char *domain, struct strbuf *out);
/* MOUNT/DOMAIN/PRODUCT/README.md, the data sheet. -ENOENT for an unknown product. */
int render_product_readme(struct mesh *m, const char *domain, const char *product,
			  struct strbuf *out);
/* MOUNT/catalog.csv: domain,product,description,owner,status,version,updated_at,freshness. */
int render_catalog_csv(struct mesh *m, int64_t now, struct strbuf *out);
#define RENDER_TIME_LEN 32
/* t as ISO 8601 UTC: "2026-11-25T06:40:00Z". */
void render_time(int64_t t, char out[RENDER_TIME_LEN]);
/* A positive number of seconds in words, in the largest unit that divides it: "1 day",
 * "2 weeks", "36 hours", "90 minutes", "1 second". */
void render_duration(int64_t s, char *out, size_t size);
/* "fresh", "stale" or "never" for a product at time now. */
const char *render_freshness(const struct catalog_product *p, int64_t now);
/* When a product became stale, its last publish plus its SLA frequency; 0 when it is not stale at
 * now (fresh, never published, or without a frequency). */
int64_t render_stale_since(const struct catalog_product *p, int64_t now);
/*
 * MOUNT/lineage.dot: the whole mesh's lineage as a Graphviz digraph, one cluster per domain with
 * a node per product ("DOMAIN/PRODUCT", labelled with its latest version), an edge from each input
 * to the product whose current contract names it, and a dashed node for each input that is no
 * product of the mesh. The same catalog gives the same bytes: products by domain and name, edges
 * by product then input; no time is in it.
 */
int render_lineage_dot(struct mesh *m, struct strbuf *out);

#endif
