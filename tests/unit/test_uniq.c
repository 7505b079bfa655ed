#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "contract/contract.h"
#include "table/checks.h"
#include "table/csv.h"
#include "table/uniq.h"
#include "tests/unit/helpers.h"

/* The smallest memory a set takes: its table holds about a hundred digests. */
#define TINY 4096

/* AddressSanitizer keeps freed memory in quarantine and adds its shadow memory: resident memory
 * tells nothing about the sets' own then. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static char *temp_dir(void)
{
	char *dir = strdup("/tmp/meshfs-test-uniq-XXXXXX");

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static size_t dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* Removes a directory the sets left empty: their files are never linked. */
static void temp_dir_remove(char *dir)
{
	assert_int_equal(dir_entries(dir), 0);
	assert_int_equal(rmdir(dir), 0);
	free(dir);
}

static int add_str(struct uniq *u, const char *s, unsigned long line, unsigned long *first)
{
	return uniq_add(u, s, strlen(s), line, first);
}

static void test_duplicates_found_with_first_line(void **state)
{
	struct uniq *u = uniq_new(0, NULL, 0);
	unsigned long first = 0;
	uint64_t total = 1;

	(void)state;
	assert_non_null(u);
	assert_int_equal(uniq_add(u, "a", 1, 2, &first), 1);
	assert_int_equal(uniq_add(u, "b", 1, 3, &first), 1);
	assert_int_equal(uniq_add(u, "ab", 2, 4, &first), 1);
	assert_int_equal(uniq_add(u, "", 0, 5, &first), 1);
	assert_int_equal(uniq_add(u, "a", 1, 6, &first), 0);
	assert_int_equal(first, 2);
	assert_int_equal(uniq_add(u, "", 0, 7, &first), 0);
	assert_int_equal(first, 5);
	/* nothing spilled: nothing more to find */
	assert_int_equal(uniq_finish(u, NULL, 0, &total), 0);
	assert_int_equal(total, 0);
	uniq_free(u);
	uniq_free(NULL);
}

static void test_many_values_survive_growth(void **state)
{
	struct uniq *u = uniq_new(64 << 20, NULL, 0);
	unsigned long first;
	char buf[32];

	(void)state;
	for (unsigned long i = 0; i < 200000; i++) {
		int n = snprintf(buf, sizeof(buf), "v%lu", i);

		assert_int_equal(uniq_add(u, buf, (size_t)n, i + 1, &first), 1);
	}
	for (unsigned long i = 0; i < 200000; i += 997) {
		int n = snprintf(buf, sizeof(buf), "v%lu", i);

		assert_int_equal(uniq_add(u, buf, (size_t)n, 999999, &first), 0);
		assert_int_equal(first, i + 1);
	}
	uniq_free(u);
}

/* Values spilled in many runs are found again by the merge, in order of the later line. */
static void test_spilled_runs_merge(void **state)
{
	char *dir = temp_dir(), buf[32];
	struct uniq_dup dups[8], all[200];
	struct uniq *u = uniq_new(TINY, dir, 0);
	unsigned long first;
	uint64_t total;
	int rc;

	(void)state;
	assert_non_null(u);
	/* 20,000 values: about two hundred runs */
	for (unsigned long i = 0; i < 20000; i++) {
		snprintf(buf, sizeof(buf), "k%lu", i);
		assert_int_equal(add_str(u, buf, i + 1, &first), 1);
	}
	/* the file is there, but under no name */
	assert_int_equal(dir_entries(dir), 0);
	/* still in memory: reported at once */
	assert_int_equal(add_str(u, "k19999", 20001, &first), 0);
	assert_int_equal(first, 20000);
	/* spilled long ago: taken as new, found at the end */
	for (unsigned long i = 0; i < 200; i++) {
		snprintf(buf, sizeof(buf), "k%lu", (199 - i) * 97);
		rc = add_str(u, buf, 30000 + i, &first);
		assert_int_equal(rc, 1);
	}
	assert_int_equal(uniq_finish(u, all, 200, &total), 0);
	assert_int_equal(total, 200);
	for (unsigned long i = 0; i < 200; i++) {
		assert_int_equal(all[i].line, 30000 + i);
		assert_int_equal(all[i].first, (199 - i) * 97 + 1);
	}
	uniq_free(u);

	/* The same, keeping only the first eight. */
	u = uniq_new(TINY, dir, 0);
	for (unsigned long i = 0; i < 20000; i++) {
		snprintf(buf, sizeof(buf), "k%lu", i);
		assert_int_equal(add_str(u, buf, i + 1, &first), 1);
	}
	for (unsigned long i = 0; i < 200; i++) {
		snprintf(buf, sizeof(buf), "k%lu", i * 13);
		assert_true(add_str(u, buf, 30000 + 2 * (200 - i), &first) >= 0);
	}
	assert_int_equal(uniq_finish(u, dups, 8, &total), 0);
	assert_int_equal(total, 200);
	for (unsigned long i = 0; i < 8; i++) {
		assert_int_equal(dups[i].line, 30002 + 2 * i);
		assert_int_equal(dups[i].first, (199 - i) * 13 + 1);
	}
	uniq_free(u);
	temp_dir_remove(dir);
}

/* Lines need not come in order: the earliest of a value's is the first. */
static void test_lines_in_any_order(void **state)
{
	char *dir = temp_dir(), buf[32];
	struct uniq *u = uniq_new(TINY, dir, 0);
	struct uniq_dup dups[2];
	unsigned long first;
	uint64_t total;

	(void)state;
	assert_int_equal(add_str(u, "a", 5000, &first), 1);
	for (unsigned long i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "k%lu", i);
		assert_int_equal(add_str(u, buf, 4000 - i, &first), 1);
	}
	assert_int_equal(add_str(u, "a", 7, &first), 1);
	assert_int_equal(uniq_finish(u, dups, 2, &total), 0);
	assert_int_equal(total, 1);
	assert_int_equal(dups[0].line, 5000);
	assert_int_equal(dups[0].first, 7);
	uniq_free(u);
	temp_dir_remove(dir);
}

/* A set that cannot spill says so, and only when it has to. */
static void test_spill_errors(void **state)
{
	char *dir = temp_dir(), missing[256], buf[32];
	struct uniq *u;
	unsigned long first, i;
	int rc = 0;

	(void)state;
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	u = uniq_new(TINY, missing, 0);
	for (i = 0; i < 100000 && rc >= 0; i++) {
		snprintf(buf, sizeof(buf), "%lu", i);
		rc = add_str(u, buf, i + 1, &first);
	}
	assert_int_equal(rc, -ENOENT);
	assert_true(i > 50);
	uniq_free(u);
	temp_dir_remove(dir);
}

/*
 * Ascending integers are kept as numbers: a million of them fit in the smallest set, which
 * would have to spill (and cannot, here) if it hashed them.
 */
static void test_ascending_integers(void **state)
{
	char *dir = temp_dir(), missing[256], buf[32];
	struct uniq *u;
	unsigned long first;
	uint64_t total = 1;

	(void)state;
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	u = uniq_new(TINY, missing, UNIQ_INTEGERS);
	assert_non_null(u);
	for (unsigned long i = 1; i <= 1000000; i++) {
		snprintf(buf, sizeof(buf), "%lu", i);
		assert_int_equal(add_str(u, buf, i + 1, &first), 1);
	}
	/* other texts go to the table and do not break the run */
	assert_int_equal(add_str(u, "x", 1000002, &first), 1);
	assert_int_equal(add_str(u, "007", 1000003, &first), 1);
	assert_int_equal(add_str(u, "1000001", 1000004, &first), 1);
	assert_int_equal(add_str(u, "x", 1000005, &first), 0);
	assert_int_equal(first, 1000002);
	/* the first that does not ascend ends the run; the run still answers */
	assert_int_equal(add_str(u, "500000", 1000006, &first), 0);
	assert_int_equal(first, 500001);
	assert_int_equal(add_str(u, "1", 1000007, &first), 0);
	assert_int_equal(first, 2);
	assert_int_equal(add_str(u, "1000001", 1000008, &first), 0);
	assert_int_equal(first, 1000004);
	assert_int_equal(add_str(u, "7", 1000009, &first), 0);
	assert_int_equal(first, 8);
	/* integers the run does not hold go to the table */
	assert_int_equal(add_str(u, "0", 1000010, &first), 1);
	assert_int_equal(add_str(u, "1000002", 1000011, &first), 1);
	assert_int_equal(add_str(u, "1000002", 1000012, &first), 0);
	assert_int_equal(first, 1000011);
	assert_int_equal(add_str(u, "-3", 1000013, &first), 1);
	assert_int_equal(add_str(u, "07", 1000014, &first), 1);
	assert_int_equal(add_str(u, "+7", 1000015, &first), 1);
	assert_int_equal(uniq_finish(u, NULL, 0, &total), 0);
	assert_int_equal(total, 0);
	uniq_free(u);
	temp_dir_remove(dir);
}

/* Steps of values and of lines other than 1, and the ends of int64. */
static void test_progressions(void **state)
{
	static const char *const edges[] = {
	    "-9223372036854775808", "-9223372036854775807", "-10", "-1", "0", "1",
	    "9223372036854775806",  "9223372036854775807",
	};
	struct uniq *u = uniq_new(1 << 20, NULL, UNIQ_INTEGERS);
	unsigned long first;
	char buf[32];
	int rc;

	(void)state;
	/* 10, 20 … 1000 on lines 5, 8, 11 …; then 1003, 1006 … 2000 on lines 1000, 1001 … */
	for (unsigned long i = 1; i <= 100; i++) {
		snprintf(buf, sizeof(buf), "%lu", i * 10);
		assert_int_equal(add_str(u, buf, 2 + 3 * i, &first), 1);
	}
	for (unsigned long v = 1003, line = 1000; v <= 2000; v += 3, line++) {
		snprintf(buf, sizeof(buf), "%lu", v);
		assert_int_equal(add_str(u, buf, line, &first), 1);
	}
	for (unsigned long v = 0; v <= 2001; v++) {
		int in =
		    (v % 10 == 0 && v >= 10 && v <= 1000) || (v >= 1003 && (v - 1003) % 3 == 0);

		snprintf(buf, sizeof(buf), "%lu", v);
		rc = add_str(u, buf, 5000 + v, &first);
		assert_int_equal(rc, !in);
		if (in && v <= 1000)
			assert_int_equal(first, 2 + 3 * (v / 10));
		else if (in)
			assert_int_equal(first, 1000 + (v - 1003) / 3);
	}
	uniq_free(u);

	u = uniq_new(1 << 20, NULL, UNIQ_INTEGERS);
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		assert_int_equal(add_str(u, edges[i], i + 1, &first), 1);
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		assert_int_equal(add_str(u, edges[i], 100 + i, &first), 0);
		assert_int_equal(first, i + 1);
	}
	/* out of int64, or not canonical: other values */
	assert_int_equal(add_str(u, "9223372036854775808", 200, &first), 1);
	assert_int_equal(add_str(u, "-9223372036854775809", 201, &first), 1);
	assert_int_equal(add_str(u, "-0", 202, &first), 1);
	assert_int_equal(add_str(u, "00", 203, &first), 1);
	assert_int_equal(add_str(u, "-", 204, &first), 1);
	assert_int_equal(add_str(u, "", 205, &first), 1);
	assert_int_equal(add_str(u, "1e3", 206, &first), 1);
	assert_int_equal(add_str(u, "-0", 207, &first), 0);
	assert_int_equal(first, 202);
	uniq_free(u);
}

/* A run with too many progressions for its memory moves into the table, which spills. */
static void test_run_poured_into_table(void **state)
{
	char *dir = temp_dir(), buf[32];
	struct uniq *u = uniq_new(TINY, dir, UNIQ_INTEGERS);
	struct uniq_dup dups[4];
	unsigned long first, v = 0;
	uint64_t total;

	(void)state;
	/* gaps of 1, 2, 1, 2 …: a progression for every two values */
	for (unsigned long i = 0; i < 3000; i++) {
		v += 1 + i % 2;
		snprintf(buf, sizeof(buf), "%lu", v);
		assert_int_equal(add_str(u, buf, i + 1, &first), 1);
	}
	/* the first value, spilled long ago; the last one, still in memory */
	assert_int_equal(add_str(u, "1", 3001, &first), 1);
	snprintf(buf, sizeof(buf), "%lu", v);
	assert_int_equal(add_str(u, buf, 3002, &first), 0);
	assert_int_equal(first, 3000);
	assert_int_equal(add_str(u, "3", 3003, &first), 1);
	assert_int_equal(uniq_finish(u, dups, 4, &total), 0);
	assert_int_equal(total, 2);
	assert_int_equal(dups[0].line, 3001);
	assert_int_equal(dups[0].first, 1);
	assert_int_equal(dups[1].line, 3003);
	assert_int_equal(dups[1].first, 2);
	uniq_free(u);
	temp_dir_remove(dir);
}

/* ---- against a reference ---- */

struct sample {
	char value[24];
	unsigned long line;
	unsigned long first; /* of the reference: 0 if new */
	int reported;
};

static int by_value_then_line(const void *a, const void *b)
{
	const struct sample *x = *(struct sample *const *)a, *y = *(struct sample *const *)b;
	int c = strcmp(x->value, y->value);

	return c ? c : x->line < y->line ? -1 : x->line > y->line;
}

/* Values of every kind the fast path must tell apart, mixed by mode. */
static void sample_make(struct sample *s, size_t n, int mode, uint64_t *rng)
{
	long long next = (long long)(rng_next(rng) % 100) - 50;
	unsigned long line = 0;
	unsigned r;

	for (size_t i = 0; i < n; i++) {
		line += rng_next(rng) % 10 ? 1 : 2;
		s[i].line = line;
		r = (unsigned)(rng_next(rng) % 100);
		if (mode == 0 && i < n / 5 * 4) /* ascending ids and a few names, then a mix */
			r = r < 95 ? 0 : 80;
		else if (mode == 1) /* ascending with gaps, repeats, texts that are no integer */
			r = r < 70 ? 0 : r < 85 ? 50 : r;
		if (r < 40) {
			next += mode == 1 ? (long long)(1 + rng_next(rng) % 5) : 1;
			snprintf(s[i].value, sizeof(s[i].value), "%lld", next);
		} else if (r < 60 && i) {
			memcpy(s[i].value, s[rng_next(rng) % i].value, sizeof(s[i].value));
		} else if (r < 75) {
			snprintf(s[i].value, sizeof(s[i].value), "%lld",
				 (long long)(rng_next(rng) % 400) - 200);
		} else if (r < 85) {
			snprintf(s[i].value, sizeof(s[i].value), "v%u",
				 (unsigned)(rng_next(rng) % 300));
		} else if (r < 92) {
			snprintf(s[i].value, sizeof(s[i].value), "0%u",
				 (unsigned)(rng_next(rng) % 50));
		} else {
			snprintf(
			    s[i].value, sizeof(s[i].value), "%s",
			    (const char *[]){"-0", "+1", "00", "", "-", " 1"}[rng_next(rng) % 6]);
		}
	}
}

/* Every value seen before is reported exactly once, at once or by uniq_finish, against a line
 * where it was indeed seen before; the rest never are. */
static void check_against_reference(size_t n, int mode, size_t memory, int flags, uint64_t seed,
				    const char *dir)
{
	struct sample *s = calloc(n, sizeof(*s));
	struct sample **order = calloc(n, sizeof(*order));
	struct uniq_dup *dups = calloc(n, sizeof(*dups));
	struct uniq *u = uniq_new(memory, dir, flags);
	uint64_t rng = seed, total, expected = 0;
	unsigned long first;
	size_t i, j;
	int rc;

	assert_true(s && order && dups && u);
	sample_make(s, n, mode, &rng);
	for (i = 0; i < n; i++)
		order[i] = &s[i];
	qsort(order, n, sizeof(*order), by_value_then_line);
	for (i = 1; i < n; i++) {
		if (!strcmp(order[i]->value, order[i - 1]->value)) {
			order[i]->first =
			    order[i - 1]->first ? order[i - 1]->first : order[i - 1]->line;
			expected++;
		}
	}
	for (i = 0; i < n; i++) {
		rc = add_str(u, s[i].value, s[i].line, &first);
		assert_true(rc == 0 || rc == 1);
		if (rc)
			continue;
		assert_true(s[i].first);
		/* a line where the value was before */
		for (j = 0; j < i && s[j].line != first; j++)
			;
		assert_true(j < i);
		assert_string_equal(s[j].value, s[i].value);
		s[i].reported++;
	}
	assert_int_equal(uniq_finish(u, dups, n, &total), 0);
	for (i = 0; i < total; i++) {
		struct sample *at;

		if (i)
			assert_true(dups[i - 1].line < dups[i].line);
		assert_true(dups[i].first < dups[i].line);
		/* samples are in line order */
		for (j = 0; j < n && s[j].line != dups[i].line; j++)
			;
		assert_true(j < n);
		at = &s[j];
		assert_true(at->first);
		at->reported++;
		for (j = 0; j < n && s[j].line != dups[i].first; j++)
			;
		assert_true(j < n);
		assert_string_equal(s[j].value, at->value);
	}
	for (i = 0; i < n; i++)
		assert_int_equal(s[i].reported, s[i].first ? 1 : 0);
	assert_true(expected > 0);
	uniq_free(u);
	free(s);
	free(order);
	free(dups);
}

static void test_against_reference(void **state)
{
	static const size_t memories[] = {TINY, 16384, 1 << 20};
	char *dir = temp_dir();

	(void)state;
	for (int mode = 0; mode < 3; mode++)
		for (size_t m = 0; m < sizeof(memories) / sizeof(memories[0]); m++)
			for (uint64_t seed = 1; seed <= 6; seed++)
				check_against_reference(3000, mode, memories[m],
							seed % 2 ? UNIQ_INTEGERS : 0,
							seed * 7919 + (uint64_t)mode, dir);
	temp_dir_remove(dir);
}

/* ---- five million values ---- */

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The peak of resident memory in KiB since the last rss_reset, or since exec. Not ru_maxrss:
 * Linux carries it over exec, so under a test runner it starts at the runner's own.
 */
static long rss_peak(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	assert_non_null(f);
	while (kib < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) != 1)
			kib = -1;
	fclose(f);
	assert_true(kib > 0);
	return kib;
}

/* Starts a new peak from the current resident memory (Linux 4.0 on; else the peak goes on). */
static long rss_reset(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	if (f) {
		fputs("5", f);
		fclose(f);
	}
	return rss_peak();
}

/*
 * Five million ascending ids, then five million keys like the benchmark's event ids with a
 * repeat every million: the memory stays within the set's, and every repeat is found. First of
 * the tests, so that the peaks of resident memory it measures are its own.
 */
static void test_five_million(void **state)
{
	const size_t memory = CHECK_UNIQ_MEMORY;
	const unsigned long n = 5000000;
	struct uniq_dup dups[8];
	unsigned long first, reported = 0;
	char *dir = temp_dir(), buf[32];
	long rss = rss_reset();
	struct uniq *u;
	uint64_t total;
	double t = seconds();
	int rc;

	(void)state;
	/* ascending ids first: their peak is near nothing, and the next one's is its own */
	u = uniq_new(memory, dir, UNIQ_INTEGERS);
	for (unsigned long i = 1; i <= n; i++) {
		snprintf(buf, sizeof(buf), "%lu", i);
		assert_int_equal(add_str(u, buf, i + 1, &first), 1);
	}
	assert_int_equal(add_str(u, "4999999", n + 2, &first), 0);
	assert_int_equal(first, 5000000);
	assert_int_equal(uniq_finish(u, dups, 8, &total), 0);
	assert_int_equal(total, 0);
	uniq_free(u);
	print_message("uniq: 5M ascending ids: %.2f s, peak RSS +%ld KiB\n", seconds() - t,
		      rss_peak() - rss);
	assert_true(SANITIZED || rss_peak() - rss < 1024);

	rss = rss_reset();
	t = seconds();
	u = uniq_new(memory, dir, UNIQ_INTEGERS);
	for (unsigned long i = 0; i < n; i++) {
		unsigned long src = i % 1000000 == 999999 ? i - 999998 : i;
		/* a bijection of 32 bits: distinct, in no order */
		uint32_t x = (uint32_t)src * 2654435761u;

		snprintf(buf, sizeof(buf), "evt_%08x", x ^ (x >> 16));
		rc = add_str(u, buf, i + 2, &first);
		assert_true(rc == 0 || rc == 1);
		reported += !rc;
	}
	assert_int_equal(uniq_finish(u, dups, 8, &total), 0);
	assert_int_equal(reported + total, 5);
	for (unsigned long i = 0; i < total; i++)
		assert_int_equal(dups[i].line - dups[i].first, 999998);
	uniq_free(u);
	print_message("uniq: 5M event ids: %.2f s, peak RSS +%ld KiB (set memory %zu KiB)\n",
		      seconds() - t, rss_peak() - rss, memory >> 10);
	/* the set's memory (the merge's buffers come after the table is freed), and some slack */
	assert_true(SANITIZED || rss_peak() - rss < (long)(memory >> 10) + 2048);
	temp_dir_remove(dir);
}

/* ---- as the publish checks use it ---- */

/* Checks csv against the one table of yaml with the smallest sets, spilling to dir. */
static void checks_run(const char *yaml, const char *csv, const char *dir, struct check_report *rep)
{
	struct check_policy pol = {
	    .detectors = (const char *const[]){NULL}, .spill_dir = dir, .uniq_memory = 1};
	struct mem_source m = {.data = csv, .len = strlen(csv)};
	struct mfs_error err = {""};
	struct table_checks *c;
	struct contract ct;
	struct csv_reader rd;
	struct csv_field *f;
	size_t n;
	int rc;

	if (contract_parse(&ct, yaml, strlen(yaml), "contract.yaml", NULL, &err))
		fail_msg("contract: %s", err.msg);
	assert_int_equal(table_checks_new(&c, &ct.tables[0], &pol, "data.csv", &err), 0);
	csv_reader_init(&rd, mem_read, &m, "data.csv", NULL);
	assert_int_equal(csv_reader_next(&rd, &f, &n, &err), 1);
	while ((rc = csv_reader_next(&rd, &f, &n, &err)) > 0)
		assert_int_equal(table_checks_row(c, f, csv_reader_record_line(&rd)), 0);
	assert_int_equal(rc, 0);
	csv_reader_release(&rd);
	assert_int_equal(table_checks_finish(c, rep), 0);
	contract_release(&ct);
}

static void test_checks_report_spilled_duplicates(void **state)
{
	static const char yaml[] = "apiVersion: v3.0.2\n"
				   "kind: DataContract\n"
				   "domain: sales\n"
				   "dataProduct: orders\n"
				   "version: 1.0.0\n"
				   "schema:\n"
				   "  - name: orders\n"
				   "    physicalType: table\n"
				   "    properties:\n"
				   "      - name: id\n"
				   "        primaryKey: true\n"
				   "      - name: code\n"
				   "        unique: true\n"
				   "      - name: n\n"
				   "        logicalType: integer\n"
				   "        quality:\n"
				   "          - type: library\n"
				   "            metric: duplicateValues\n"
				   "            mustBe: 0\n";
	char *dir = temp_dir();
	struct check_report rep;
	struct strbuf csv;
	unsigned long i;

	(void)state;
	strbuf_init(&csv);
	assert_int_equal(strbuf_addstr(&csv, "id,code,n\n"), 0);
	/* rows 2 to 3001; row 2502 repeats the key of row 2, row 2802 the code of row 102 and
	 * row 2902 the n of row 7 (ascending until then, so the set keeps them as numbers) */
	for (i = 0; i < 3000; i++)
		assert_int_equal(strbuf_addf(&csv, "k%05lu,c%05lu,%lu\n", i == 2500 ? 0 : i,
					     i == 2800 ? 100 : i, i == 2900 ? 5 : i),
				 0);
	checks_run(yaml, csv.buf, dir, &rep);
	assert_int_equal(rep.errors, 3);
	assert_int_equal(rep.nproblems, 3);
	assert_string_equal(rep.problems[0].message,
			    "data.csv:2502:1: the primary key (id) must be unique: the same key is "
			    "on line 2");
	assert_string_equal(
	    rep.problems[1].message,
	    "data.csv:2802:8: column 'code' must be unique: the same value is on line 102");
	assert_string_equal(rep.problems[2].rule, "quality:duplicateValues");
	assert_non_null(strstr(rep.summary.buf, "orders.n duplicateValues = 1 (mustBe 0): failed"));
	check_report_release(&rep);
	strbuf_release(&csv);
	temp_dir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_five_million),
	    cmocka_unit_test(test_duplicates_found_with_first_line),
	    cmocka_unit_test(test_many_values_survive_growth),
	    cmocka_unit_test(test_spilled_runs_merge),
	    cmocka_unit_test(test_lines_in_any_order),
	    cmocka_unit_test(test_spill_errors),
	    cmocka_unit_test(test_ascending_integers),
	    cmocka_unit_test(test_progressions),
	    cmocka_unit_test(test_run_poured_into_table),
	    cmocka_unit_test(test_against_reference),
	    cmocka_unit_test(test_checks_report_spilled_duplicates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
