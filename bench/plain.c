/*
 * bench-plain: the compute limit of reading a table, for bench/run (docs/PERFORMANCE.md, the
 * compute limit).
 *
 *   bench-plain MESH DOMAIN/PRODUCT/TABLE [-j THREADS] [-n PASSES] [-b BYTES] [--masked]
 *               [-r COUNT]
 *
 * Opens the segment of the table's latest version once and reads its plain view (or with
 * --masked its masked view) from start to end with segment_read, in requests of BYTES (default
 * 256 KiB: what the kernel asks of a FUSE filesystem per read), in one process. Each of THREADS
 * threads (default 1) reads its own contiguous share of the view with its own group cache, so
 * every group is opened and spliced once per pass, as the daemon's worker threads would do with
 * no kernel, no FUSE and no copies to a reader in between. A first pass warms the page cache
 * and is not counted; the median of PASSES (default 3) timed passes is printed as
 *
 *   view=plain threads=1 bytes=174834036 passes=3 seconds=0.512 mbps=341.5
 *
 * (mbps: 10^6 bytes a second). With -r COUNT it makes instead, in one thread, COUNT requests of
 * BYTES (default 8 KiB: what the kernel asks for an unaligned 4 KiB pread) at pseudo-random
 * page-aligned offsets from a fixed seed, each with the reader's cache of the one before, as the
 * daemon serves a random reader; it prints the CPU time a request takes:
 *
 *   view=plain reads=20000 bytes=8192 seconds=0.400 us_per_read=20.0
 *
 * The buffers that held plaintext are zeroed before they are freed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "bench/splitmix.h"
#include "catalog/catalog.h"
#include "common/error.h"
#include "mesh/mesh.h"
#include "table/segment.h"

#define DEFAULT_BYTES (256 * 1024)
#define RANDOM_BYTES  (8 * 1024)
#define PAGE	      4096
#define MAX_THREADS   64
#define MAX_PASSES    99

struct bench {
	struct mesh m;
	pthread_mutex_t key_lock; /* a catalog connection serves one thread at a time */
	struct segment *seg;
	enum segment_view view;
	uint64_t size;
	size_t req;
};

struct share {
	struct bench *b;
	uint64_t start, end;
	int rc;
};

static int bench_key(void *ctx, uint32_t key_id, uint8_t key[32])
{
	struct bench *b = ctx;
	int rc;

	pthread_mutex_lock(&b->key_lock);
	rc = mesh_segment_key(&b->m, key_id, key);
	pthread_mutex_unlock(&b->key_lock);
	return rc;
}

static void *share_read(void *arg)
{
	struct share *s = arg;
	struct bench *b = s->b;
	struct segment_cache *cache = NULL;
	uint64_t off = s->start;
	char *buf;
	ssize_t got;

	buf = malloc(b->req);
	if (b->view == SEGMENT_PLAIN)
		cache = segment_cache_new();
	if (!buf || (b->view == SEGMENT_PLAIN && !cache)) {
		s->rc = -ENOMEM;
		goto out;
	}
	while (off < s->end) {
		got = segment_read(b->seg, b->view, buf, b->req, off, bench_key, b, cache);
		if (got <= 0) {
			s->rc = got < 0 ? (int)got : -EIO;
			goto out;
		}
		off += (uint64_t)got;
	}
out:
	if (buf)
		sodium_memzero(buf, b->req);
	free(buf);
	segment_cache_free(cache);
	return NULL;
}

static double seconds_between(const struct timespec *t0, const struct timespec *t1)
{
	return (double)(t1->tv_sec - t0->tv_sec) + (double)(t1->tv_nsec - t0->tv_nsec) / 1e9;
}

/* Makes count random requests of b->req bytes; *seconds gets the thread's CPU time. */
static int bench_random(struct bench *b, unsigned long count, double *seconds)
{
	struct segment_cache *cache = segment_cache_new();
	struct timespec t0, t1;
	uint64_t state = 1, pages, off;
	char *buf = malloc(b->req);
	ssize_t got;
	int rc = 0;

	if (!buf || !cache || b->size < b->req) {
		rc = buf && cache ? -EINVAL : -ENOMEM;
		goto out;
	}
	pages = (b->size - b->req) / PAGE + 1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	for (unsigned long i = 0; i < count && !rc; i++) {
		off = splitmix_next(&state) % pages * PAGE;
		got = segment_read(b->seg, b->view, buf, b->req, off, bench_key, b, cache);
		if (got != (ssize_t)b->req)
			rc = got < 0 ? (int)got : -EIO;
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	*seconds = seconds_between(&t0, &t1);
out:
	if (buf)
		sodium_memzero(buf, b->req);
	free(buf);
	segment_cache_free(cache);
	return rc;
}

/* Reads the whole view once with nthreads threads; *seconds gets the wall time. */
static int bench_pass(struct bench *b, int nthreads, double *seconds)
{
	struct share shares[MAX_THREADS];
	pthread_t tids[MAX_THREADS];
	struct timespec t0, t1;
	int started = 0, rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < nthreads; i++) {
		shares[i].b = b;
		shares[i].start = b->size * (uint64_t)i / (uint64_t)nthreads;
		shares[i].end = b->size * (uint64_t)(i + 1) / (uint64_t)nthreads;
		shares[i].rc = 0;
		rc = -pthread_create(&tids[i], NULL, share_read, &shares[i]);
		if (rc)
			break;
		started++;
	}
	for (int i = 0; i < started; i++) {
		pthread_join(tids[i], NULL);
		if (!rc)
			rc = shares[i].rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*seconds = seconds_between(&t0, &t1);
	return rc;
}

/* Opens the segment of the latest version of DOMAIN/PRODUCT/TABLE. */
static int bench_open(struct bench *b, const char *mesh_dir, const char *name,
		      struct mfs_error *err)
{
	struct catalog_product p = {0};
	struct catalog_version v = {0};
	char domain[MESH_NAME_MAX], product[MESH_NAME_MAX], table[MESH_NAME_MAX];
	char binding[3 * MESH_NAME_MAX];
	const struct catalog_table_version *t = NULL;
	int rc;

	if (sscanf(name, "%63[^/]/%63[^/]/%63s", domain, product, table) != 3)
		return mfs_error_set(err, EINVAL, "%s: not DOMAIN/PRODUCT/TABLE", name);
	rc = mesh_open(&b->m, mesh_dir, NULL, err);
	if (rc)
		return rc;
	rc = catalog_product_get(b->m.cat, domain, product, &p);
	if (!rc)
		rc = catalog_version_get(b->m.cat, p.id, 0, &v);
	if (rc) {
		mfs_error_set(err, -rc, "%s/%s: no published version: %s", domain, product,
			      strerror(-rc));
		goto out;
	}
	for (size_t i = 0; i < v.ntables; i++)
		if (!strcmp(v.tables[i].name, table))
			t = &v.tables[i];
	if (!t) {
		rc = mfs_error_set(err, ENOENT, "%s: no such table in the latest version", name);
		goto out;
	}
	if (b->view == SEGMENT_PLAIN && !t->has_pii) {
		rc = mfs_error_set(err, EINVAL, "%s: no PII, so no plain view", name);
		goto out;
	}
	mesh_binding(binding, sizeof(binding), domain, product, table);
	rc = segment_open(&b->seg, b->m.store, t->segment, binding, err);
	if (rc)
		goto out;
	b->size = segment_view_size(b->seg, b->view);
out:
	catalog_product_release(&p);
	catalog_version_release(&v);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench-plain MESH DOMAIN/PRODUCT/TABLE [-j THREADS] [-n PASSES] "
			"[-b BYTES] [--masked] [-r COUNT]\n");
}

int main(int argc, char **argv)
{
	struct bench b = {.view = SEGMENT_PLAIN, .req = DEFAULT_BYTES};
	struct mfs_error err;
	double secs[MAX_PASSES], warm;
	const char *args[2];
	unsigned long count = 0;
	int nargs = 0, nthreads = 1, npasses = 3, req_given = 0, rc;

	mfs_error_clear(&err);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--masked")) {
			b.view = SEGMENT_MASKED;
		} else if (i + 1 < argc && !strcmp(argv[i], "-j")) {
			nthreads = atoi(argv[++i]);
		} else if (i + 1 < argc && !strcmp(argv[i], "-n")) {
			npasses = atoi(argv[++i]);
		} else if (i + 1 < argc && !strcmp(argv[i], "-r")) {
			count = strtoul(argv[++i], NULL, 10);
		} else if (i + 1 < argc && !strcmp(argv[i], "-b")) {
			b.req = (size_t)strtoul(argv[++i], NULL, 10);
			req_given = 1;
		} else if (argv[i][0] != '-' && nargs < 2) {
			args[nargs++] = argv[i];
		} else {
			usage();
			return 2;
		}
	}
	if (count && !req_given)
		b.req = RANDOM_BYTES;
	if (nargs != 2 || nthreads < 1 || nthreads > MAX_THREADS || npasses < 1 ||
	    npasses > MAX_PASSES || !b.req) {
		usage();
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "bench-plain: cannot initialize libsodium\n");
		return 1;
	}
	pthread_mutex_init(&b.key_lock, NULL);
	rc = bench_open(&b, args[0], args[1], &err);
	if (!rc)
		rc = bench_pass(&b, nthreads, &warm);
	if (count) {
		if (!rc)
			rc = bench_random(&b, count, &warm);
		if (!rc)
			printf("view=%s reads=%lu bytes=%zu seconds=%.4f us_per_read=%.2f\n",
			       b.view == SEGMENT_PLAIN ? "plain" : "masked", count, b.req, warm,
			       warm * 1e6 / (double)count);
		npasses = 0;
	}
	for (int i = 0; !rc && i < npasses; i++)
		rc = bench_pass(&b, nthreads, &secs[i]);
	if (rc) {
		fprintf(stderr, "bench-plain: %s\n", err.msg[0] ? err.msg : strerror(-rc));
	} else if (npasses) {
		qsort(secs, (size_t)npasses, sizeof(*secs), cmp_double);
		printf("view=%s threads=%d bytes=%llu passes=%d seconds=%.4f mbps=%.1f\n",
		       b.view == SEGMENT_PLAIN ? "plain" : "masked", nthreads,
		       (unsigned long long)b.size, npasses, secs[npasses / 2],
		       (double)b.size / secs[npasses / 2] / 1e6);
	}
	segment_close(b.seg);
	/* also after a failed open: mesh_open leaves a closed mesh behind */
	mesh_close(&b.m);
	pthread_mutex_destroy(&b.key_lock);
	return rc ? 1 : 0;
}
