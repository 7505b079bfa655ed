/*
 * bench-mesh: a mesh of many small products, for the browsing figures of bench/run
 * (docs/PERFORMANCE.md).
 *
 *   bench-mesh DIR PRODUCTS VERSIONS
 *
 * Creates a mesh in DIR (new or empty) with PRODUCTS products, spread over domains of at most
 * 100 products each and owned by one team of the caller, and publishes VERSIONS versions of each
 * product's one table (a few rows without PII) through the same publish pipeline as the mount and
 * the CLI, in this process: the catalog, the store and the contracts are exactly what as many
 * `meshfs publish` runs would leave, without starting thousands of processes. Prints one line:
 *
 *   products=2000 domains=20 versions=10000 seconds=12.3
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "acl/acl.h"
#include "catalog/catalog.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "mesh/mesh.h"
#include "mesh/publish.h"

#define DOMAIN_PRODUCTS 100
#define BASE_ROWS	20
#define MAX_PRODUCTS	100000
#define MAX_VERSIONS	100
#define TEAM		"bench"

static const char contract_fmt[] = "apiVersion: v3.0.2\n"
				   "kind: DataContract\n"
				   "id: bench-%s-%s\n"
				   "name: %s\n"
				   "version: 1.0.0\n"
				   "status: active\n"
				   "domain: %s\n"
				   "dataProduct: %s\n"
				   "description:\n"
				   "  purpose: A product of the browsing benchmark.\n"
				   "tags: [bench]\n"
				   "team:\n"
				   "  - username: %s\n"
				   "    role: owner\n"
				   "slaProperties:\n"
				   "  - property: frequency\n"
				   "    value: 1\n"
				   "    unit: d\n"
				   "schema:\n"
				   "  - name: items\n"
				   "    physicalType: table\n"
				   "    description: Items of the benchmark.\n"
				   "    properties:\n"
				   "      - name: item_id\n"
				   "        logicalType: integer\n"
				   "        primaryKey: true\n"
				   "        required: true\n"
				   "      - name: label\n"
				   "        logicalType: string\n"
				   "      - name: amount\n"
				   "        logicalType: number\n"
				   "      - name: day\n"
				   "        logicalType: date\n";

struct mem_source {
	const char *p;
	size_t left;
};

static ssize_t mem_read(void *ctx, void *buf, size_t len)
{
	struct mem_source *s = ctx;

	if (len > s->left)
		len = s->left;
	memcpy(buf, s->p, len);
	s->p += len;
	s->left -= len;
	return (ssize_t)len;
}

/* The table's CSV for one version of one product: a few more rows with each version. */
static int table_csv(struct strbuf *out, unsigned long product, unsigned long version)
{
	int rc;

	strbuf_reset(out);
	rc = strbuf_addstr(out, "item_id,label,amount,day\n");
	for (unsigned long r = 1; !rc && r <= BASE_ROWS + version; r++)
		rc = strbuf_addf(out, "%lu,item-%lu-v%lu,%lu.%02lu,2025-%02lu-%02lu\n", r, product,
				 version, r * 3 + product % 7, r % 100, 1 + r % 12, 1 + r % 28);
	return rc;
}

static int product_create(struct mesh *m, const struct principal *me, const char *domain,
			  unsigned long i, unsigned long versions, struct strbuf *buf,
			  struct mfs_error *err)
{
	struct publish_result res;
	struct mem_source src;
	char product[32];
	int rc;

	snprintf(product, sizeof(product), "product%05lu", i);
	strbuf_reset(buf);
	rc = strbuf_addf(buf, contract_fmt, domain, product, product, domain, product, me->name);
	if (!rc)
		rc = mesh_product_create(m, domain, product, buf->buf, buf->len, "contract.yaml",
					 me->name, err);
	for (unsigned long v = 1; !rc && v <= versions; v++) {
		rc = table_csv(buf, i, v);
		src.p = buf->buf;
		src.left = buf->len;
		if (!rc)
			rc = publish_upload(m, me, domain, product, "items.csv", NULL, mem_read,
					    &src, &res, err);
	}
	return rc;
}

static int build(const char *dir, unsigned long products, unsigned long versions,
		 unsigned long *ndomains, struct mfs_error *err)
{
	struct principal me = {0};
	struct mesh m = {0};
	struct strbuf buf;
	char domain[32];
	int rc;

	strbuf_init(&buf);
	rc = principal_init(&me, getuid(), getgid());
	if (rc) {
		mfs_error_set(err, -rc, "cannot resolve the caller: %s", strerror(-rc));
		goto out;
	}
	rc = mesh_create(dir, me.name, NULL, NULL, err);
	if (!rc)
		rc = mesh_open(&m, dir, NULL, err);
	if (rc)
		goto out;
	rc = catalog_team_create(m.cat, TEAM);
	if (!rc)
		rc = catalog_team_add(m.cat, TEAM, me.name);
	if (rc) {
		mfs_error_set(err, -rc, "cannot create team %s: %s", TEAM, strerror(-rc));
		goto out;
	}
	*ndomains = 0;
	for (unsigned long i = 0; !rc && i < products; i++) {
		if (i % DOMAIN_PRODUCTS == 0) {
			snprintf(domain, sizeof(domain), "domain%03lu", i / DOMAIN_PRODUCTS);
			rc =
			    mesh_domain_create(&m, domain, TEAM, "A domain of the benchmark.", err);
			++*ndomains;
		}
		if (!rc)
			rc = product_create(&m, &me, domain, i, versions, &buf, err);
	}
out:
	mesh_close(&m);
	principal_release(&me);
	strbuf_release(&buf);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned long products, versions, ndomains = 0;
	struct timespec t0, t1;
	struct mfs_error err;
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: bench-mesh DIR PRODUCTS VERSIONS\n");
		return 2;
	}
	products = strtoul(argv[2], NULL, 10);
	versions = strtoul(argv[3], NULL, 10);
	if (!products || products > MAX_PRODUCTS || !versions || versions > MAX_VERSIONS) {
		fprintf(stderr, "bench-mesh: PRODUCTS must be 1 to %d and VERSIONS 1 to %d\n",
			MAX_PRODUCTS, MAX_VERSIONS);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "bench-mesh: cannot initialize libsodium\n");
		return 1;
	}
	mfs_error_clear(&err);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = build(argv[1], products, versions, &ndomains, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc) {
		fprintf(stderr, "bench-mesh: %s\n", err.msg[0] ? err.msg : strerror(-rc));
		return 1;
	}
	printf("products=%lu domains=%lu versions=%lu seconds=%.1f\n", products, ndomains,
	       products * versions,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
