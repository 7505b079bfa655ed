/*
 * Runs a fuzz target over saved inputs, without libFuzzer: the seed corpora and the regressions
 * become an ordinary test of every build, the sanitizer build included.
 *
 *   fuzz-replay-TARGET FILE|DIR…   every FILE, and every regular file in each DIR
 *
 * A failed check aborts, which fails the test; so does a sanitizer report.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/strbuf.h"
#include "fuzz/fuzz.h"

/* Runs the target on one file: 0, or -errno if the file cannot be read. */
static int replay_file(const char *path)
{
	struct strbuf sb;
	char buf[65536];
	size_t n;
	FILE *f;
	int rc = 0;

	strbuf_init(&sb);
	f = fopen(path, "rb");
	if (!f)
		return -errno;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		rc = strbuf_add(&sb, buf, n);
		if (rc)
			goto out;
	}
	if (ferror(f)) {
		rc = -EIO;
		goto out;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)sb.buf, sb.len);
out:
	fclose(f);
	strbuf_release(&sb);
	return rc;
}

static int visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Runs the target on dir/name if it is a regular file, counting it. */
static int replay_entry(const char *dir, const char *name, unsigned *count)
{
	char path[4096];
	struct stat st;
	int len = snprintf(path, sizeof(path), "%s/%s", dir, name), rc;

	if (len < 0 || (size_t)len >= sizeof(path)) {
		rc = -ENAMETOOLONG;
	} else if (stat(path, &st) < 0) {
		rc = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		return 0;
	} else {
		(*count)++;
		rc = replay_file(path);
	}
	if (rc)
		fprintf(stderr, "%s/%s: %s\n", dir, name, strerror(-rc));
	return rc;
}

/* Runs the target on every file of dir, in name order. */
static int replay_dir(const char *dir, unsigned *count)
{
	struct dirent **names;
	int n, rc = 0;

	n = scandir(dir, &names, visible, alphasort);
	if (n < 0) {
		rc = -errno;
		fprintf(stderr, "%s: %s\n", dir, strerror(-rc));
		return rc;
	}
	for (int i = 0; i < n; i++) {
		if (!rc)
			rc = replay_entry(dir, names[i]->d_name, count);
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	struct stat st;
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc && !rc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			rc = replay_dir(argv[i], &count);
			continue;
		}
		rc = replay_file(argv[i]);
		if (rc)
			fprintf(stderr, "%s: %s\n", argv[i], strerror(-rc));
		count++;
	}
	if (rc)
		return 1;
	printf("%u inputs replayed\n", count);
	return 0;
}
