/*
 * bench-s3read: the first read of an object through the S3 store with a cold cache, against
 * plain ranged GETs of the same object from the same server.
 *
 *   bench-s3read s3://BUCKET[/PREFIX] [-m MIB] [-n PASSES] [-b BYTES]
 *   bench-s3read s3://BUCKET[/PREFIX] -o ID [-n PASSES]
 *
 * Stores one blob of MIB MiB (default 256) of random bytes, then, PASSES times (default 3)
 * each: reads it start to end with libcurl alone, one keep-alive connection, ranged GETs of
 * STORE_S3_BLOCK bytes signed as the store signs them (the reference); and reads it through
 * store_blob_pread in requests of BYTES (default 1 MiB, what the kernel asks of a FUSE
 * filesystem at most), on a store opened afresh with an empty cache directory. The endpoint,
 * region and keys come from the environment, as the store takes them (tests/servers/swift.sh
 * writes them). Prints the medians:
 *
 *   bytes=268435456 passes=3 plain_mbps=412.0 store_mbps=388.1 ratio=0.94
 *
 * (mbps: 10^6 bytes a second; ratio: store over plain). The blob is removed at the end.
 *
 * With -o, only the plain ranged GETs, of the blob ID already in the store (a segment of a
 * mesh, so that bench/run can set a mount's first read against the same object):
 *
 *   bytes=164012345 passes=3 plain_mbps=412.0 seconds=0.398
 *
 * (seconds: the median pass).
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "backends/store.h"
#include "backends/store_s3.h"
#include "common/error.h"

#define MAX_PASSES 99
#define EMPTY_HASH "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct sink {
	char *buf;
	size_t len, cap;
};

static size_t sink_write(char *data, size_t size, size_t n, void *p)
{
	struct sink *s = p;

	n *= size;
	if (n > s->cap - s->len)
		return 0;
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	return n;
}

/* The reference: the object read in ranged GETs of STORE_S3_BLOCK bytes on one connection. */
static int plain_read(const char *url, uint64_t size, double *seconds)
{
	const char *region = getenv("AWS_REGION"), *id = getenv("AWS_ACCESS_KEY_ID"),
		   *secret = getenv("AWS_SECRET_ACCESS_KEY");
	struct sink s = {.cap = STORE_S3_BLOCK};
	struct curl_slist *headers = NULL;
	char sigv4[128], range[96];
	long status = 0;
	double t0;
	int rc = 0;
	CURL *h;

	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", region ? region : "us-east-1");
	s.buf = malloc(s.cap);
	h = curl_easy_init();
	if (!s.buf || !h || !id || !secret) {
		fprintf(stderr, "bench-s3read: no memory, or no AWS_ACCESS_KEY_ID and secret\n");
		rc = -1;
		goto out;
	}
	t0 = now_s();
	for (uint64_t off = 0; off < size && !rc; off += STORE_S3_BLOCK) {
		uint64_t end = off + STORE_S3_BLOCK < size ? off + STORE_S3_BLOCK : size;

		curl_slist_free_all(headers);
		snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", (unsigned long long)off,
			 (unsigned long long)end - 1);
		headers = curl_slist_append(NULL, "x-amz-content-sha256: " EMPTY_HASH);
		headers = curl_slist_append(headers, range);
		s.len = 0;
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
		curl_easy_setopt(h, CURLOPT_USERNAME, id);
		curl_easy_setopt(h, CURLOPT_PASSWORD, secret);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
		if (curl_easy_perform(h) != CURLE_OK ||
		    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
		    status != 206 || s.len != end - off) {
			fprintf(stderr, "bench-s3read: plain GET at %llu: status %ld, %zu bytes\n",
				(unsigned long long)off, status, s.len);
			rc = -1;
		}
	}
	*seconds = now_s() - t0;
out:
	curl_slist_free_all(headers);
	if (h)
		curl_easy_cleanup(h);
	free(s.buf);
	return rc;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* The blob read through a store opened with an empty cache directory. */
static int store_read(const char *url, const char *id, size_t req, double *seconds)
{
	char dir[] = "/tmp/bench-s3read-XXXXXX";
	struct store_options o = {0};
	struct store_blob *b = NULL;
	struct store *st = NULL;
	struct mfs_error err;
	uint64_t off = 0;
	char *buf = malloc(req);
	double t0;
	ssize_t n;
	int rc;

	if (!buf || !mkdtemp(dir))
		return -1;
	o.cache_dir = dir;
	mfs_error_clear(&err);
	rc = store_open_url(url, &o, 0, &st, &err);
	if (rc) {
		fprintf(stderr, "bench-s3read: %s\n", err.msg);
		goto out;
	}
	t0 = now_s();
	rc = store_blob_open(st, id, &b);
	while (!rc && (n = store_blob_pread(b, buf, req, off)) > 0)
		off += (uint64_t)n;
	*seconds = now_s() - t0;
	if (!rc && (n < 0 || off != store_blob_size(b))) {
		fprintf(stderr, "bench-s3read: store read stopped at %llu: %zd\n",
			(unsigned long long)off, n);
		rc = -1;
	}
out:
	store_blob_close(b);
	store_close(st);
	if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "bench-s3read: cannot remove %s\n", dir);
	free(buf);
	return rc;
}

/* Stores size random bytes; their id goes to id. */
static int make_blob(const char *url, uint64_t size, char id[STORE_ID_HEX + 1])
{
	const size_t chunk = 1 << 20;
	struct store_options o = {.cache_size = 1}; /* nothing written through */
	struct store_writer *w;
	struct store *st;
	struct mfs_error err;
	char *buf = malloc(chunk);
	int rc;

	mfs_error_clear(&err);
	rc = store_open_url(url, &o, 1, &st, &err);
	if (rc || !buf) {
		fprintf(stderr, "bench-s3read: %s\n", rc ? err.msg : "out of memory");
		free(buf);
		return -1;
	}
	rc = store_writer_open(st, &w);
	for (uint64_t off = 0; !rc && off < size; off += chunk) {
		randombytes_buf(buf, chunk);
		rc = store_writer_write(w, buf, size - off < chunk ? size - off : chunk);
	}
	rc = rc ? (store_writer_abort(w), rc) : store_writer_commit(w, id);
	store_close(st);
	free(buf);
	return rc;
}

static int remove_blob(const char *url, const char *id)
{
	struct store_options o = {.cache_size = 1};
	struct store *st;
	struct mfs_error err;
	int rc;

	mfs_error_clear(&err);
	rc = store_open_url(url, &o, 0, &st, &err);
	if (!rc) {
		rc = store_remove(st, id);
		store_close(st);
	}
	return rc;
}

/* The size of blob id, as the store sees it. */
static int blob_size(const char *url, const char *id, uint64_t *size)
{
	struct store_options o = {.cache_size = 1};
	struct store_blob *b = NULL;
	struct store *st;
	struct mfs_error err;
	int rc;

	mfs_error_clear(&err);
	rc = store_open_url(url, &o, 0, &st, &err);
	if (rc) {
		fprintf(stderr, "bench-s3read: %s\n", err.msg);
		return rc;
	}
	rc = store_blob_open(st, id, &b);
	if (!rc)
		*size = store_blob_size(b);
	else
		fprintf(stderr, "bench-s3read: blob %s: %s\n", id, strerror(-rc));
	store_blob_close(b);
	store_close(st);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	double plain[MAX_PASSES], stored[MAX_PASSES], mb;
	char id[STORE_ID_HEX + 1], object[2048];
	const char *url, *endpoint = getenv("AWS_ENDPOINT_URL"), *bucket, *slash, *existing = NULL;
	long mib = 256, passes = 3, req = 1 << 20;
	uint64_t size;
	int opt, rc = 0;

	while ((opt = getopt(argc, argv, "m:n:b:o:")) != -1) {
		if (opt == 'm')
			mib = strtol(optarg, NULL, 10);
		else if (opt == 'n')
			passes = strtol(optarg, NULL, 10);
		else if (opt == 'b')
			req = strtol(optarg, NULL, 10);
		else if (opt == 'o' && strlen(optarg) == STORE_ID_HEX)
			existing = optarg;
		else
			goto usage;
	}
	if (optind + 1 != argc || mib < 1 || passes < 1 || passes > MAX_PASSES || req < 1 ||
	    strncmp(argv[optind], "s3://", 5) || !endpoint)
		goto usage;
	url = argv[optind];
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	if (existing) {
		memcpy(id, existing, sizeof(id));
		if (blob_size(url, id, &size))
			return 1;
	} else {
		size = (uint64_t)mib << 20;
		if (make_blob(url, size, id))
			return 1;
	}
	/* The object's URL, path-style, as the store addresses it. */
	bucket = url + 5;
	slash = strchr(bucket, '/');
	if (slash)
		snprintf(object, sizeof(object), "%s/%.*s/%s/blobs/%.2s/%s", endpoint,
			 (int)(slash - bucket), bucket, slash + 1, id, id + 2);
	else
		snprintf(object, sizeof(object), "%s/%s/blobs/%.2s/%s", endpoint, bucket, id,
			 id + 2);
	if (existing) {
		for (long i = 0; i < passes && !rc; i++)
			rc = plain_read(object, size, &plain[i]);
		if (rc)
			return 1;
		qsort(plain, (size_t)passes, sizeof(double), cmp_double);
		printf("bytes=%llu passes=%ld plain_mbps=%.1f seconds=%.3f\n",
		       (unsigned long long)size, passes, (double)size / 1e6 / plain[passes / 2],
		       plain[passes / 2]);
		return 0;
	}
	for (long i = 0; i < passes && !rc; i++)
		rc = plain_read(object, size, &plain[i]) ||
		     store_read(url, id, (size_t)req, &stored[i]);
	if (remove_blob(url, id))
		fprintf(stderr, "bench-s3read: cannot remove blob %s\n", id);
	if (rc)
		return 1;
	qsort(plain, (size_t)passes, sizeof(double), cmp_double);
	qsort(stored, (size_t)passes, sizeof(double), cmp_double);
	mb = (double)((uint64_t)mib << 20) / 1e6;
	printf("bytes=%llu passes=%ld plain_mbps=%.1f store_mbps=%.1f ratio=%.2f\n",
	       (unsigned long long)mib << 20, passes, mb / plain[passes / 2],
	       mb / stored[passes / 2], plain[passes / 2] / stored[passes / 2]);
	return 0;
usage:
	fprintf(stderr, "usage: bench-s3read s3://BUCKET[/PREFIX] [-m MIB] [-n PASSES] "
			"[-b BYTES]\n       bench-s3read s3://BUCKET[/PREFIX] -o ID [-n "
			"PASSES]\n(with AWS_ENDPOINT_URL and the keys in the environment)\n");
	return 2;
}
