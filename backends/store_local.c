/*
 * The local-directory store: blob ID lives at DIR/ID[0..1]/ID[2..63]; writers stage in DIR/tmp/
 * and rename into place once the bytes are durable. Every path is resolved relative to directory
 * descriptors opened once, so the store keeps working whatever the process's cwd and its methods
 * may run from many threads at once (nothing in struct local_store changes after open).
 */
#include "backends/store.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/fileio.h"

#define FANOUT	     2			/* hex characters of the directory level */
#define BLOB_NAME    (STORE_ID_HEX + 2) /* "ab/cdef…" and its NUL */
#define TMP_DIR	     "tmp"
#define TMP_NAME     24	       /* "w-" + 16 hex + NUL, rounded up */
#define VERIFY_CHUNK (1 << 20) /* read size when re-hashing */
#define DIR_MODE     0700
#define BLOB_MODE    0400 /* blobs are immutable */
#define HASH_BYTES   (STORE_ID_HEX / 2)
#define WRITEBACK    (8 << 20) /* bytes after which a writer starts them on their way to disk */

_Static_assert(HASH_BYTES == crypto_generichash_BYTES, "blob ids are BLAKE2b-256");

struct local_store {
	struct store base;
	int dfd;   /* the store's root */
	int tmpfd; /* DIR/tmp */
};

struct local_writer {
	struct store_writer base;
	crypto_generichash_state hash; /* needs its own alignment: see local_writer_open */
	int fd;
	int error; /* first write failure: sticks, so that a failed blob never commits */
	off_t written, flushed; /* bytes written; of which writeback was started */
	char name[TMP_NAME];
};

struct local_blob {
	struct store_blob base;
	int fd;
	uint64_t size;
};

static struct local_store *to_local(struct store *st)
{
	return (struct local_store *)st;
}

static int is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

/* "ab/cdef…" for a well-formed id; -EINVAL otherwise. */
static int blob_name(const char *id, char name[BLOB_NAME])
{
	if (!id || strlen(id) != STORE_ID_HEX || !is_lower_hex(id, STORE_ID_HEX))
		return -EINVAL;
	memcpy(name, id, FANOUT);
	name[FANOUT] = '/';
	memcpy(name + FANOUT + 1, id + FANOUT, STORE_ID_HEX - FANOUT + 1);
	return 0;
}

static int local_writer_open(struct store *st, struct store_writer **out)
{
	struct local_store *ls = to_local(st);
	struct local_writer *w;
	uint8_t rnd[8];
	int rc;

	if (sodium_init() < 0)
		return -ENOMEM;
	/* crypto_generichash_state is over-aligned; malloc does not promise that. */
	w = aligned_alloc(_Alignof(struct local_writer), sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->base.st = st;
	w->error = 0;
	w->written = w->flushed = 0;
	for (;;) {
		randombytes_buf(rnd, sizeof(rnd));
		memcpy(w->name, "w-", 2);
		sodium_bin2hex(w->name + 2, sizeof(w->name) - 2, rnd, sizeof(rnd));
		w->fd =
		    openat(ls->tmpfd, w->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, BLOB_MODE);
		if (w->fd >= 0)
			break;
		if (errno != EEXIST && errno != EINTR) {
			rc = -errno;
			goto out;
		}
	}
	crypto_generichash_init(&w->hash, NULL, 0, HASH_BYTES);
	*out = &w->base;
	return 0;
out:
	free(w);
	return rc;
}

static void local_writer_free(struct local_writer *w, int unlink_tmp)
{
	struct local_store *ls = to_local(w->base.st);

	if (w->fd >= 0)
		close(w->fd);
	if (unlink_tmp)
		unlinkat(ls->tmpfd, w->name, 0);
	free(w);
}

static int local_writer_write(struct store_writer *sw, const void *data, size_t len)
{
	struct local_writer *w = (struct local_writer *)sw;
	int rc;

	if (w->error)
		return w->error;
	rc = mfs_write_all(w->fd, data, len);
	if (rc) {
		w->error = rc;
		return rc;
	}
	crypto_generichash_update(&w->hash, data, len);
	/* Started now, the writeback of a large blob overlaps its making, and the fsync of the
	 * commit waits for its tail only. A hint: the fsync reports what fails. */
	w->written += (off_t)len;
	if (w->written - w->flushed >= WRITEBACK) {
		(void)sync_file_range(w->fd, w->flushed, w->written - w->flushed,
				      SYNC_FILE_RANGE_WRITE);
		w->flushed = w->written;
	}
	return 0;
}

static int local_writer_commit(struct store_writer *sw, char id[STORE_ID_HEX + 1])
{
	struct local_writer *w = (struct local_writer *)sw;
	struct local_store *ls = to_local(sw->st);
	uint8_t h[HASH_BYTES];
	char name[BLOB_NAME], dir[FANOUT + 1];
	struct stat sb;
	int rc, fd;

	rc = w->error;
	if (rc)
		goto out;
	/* The data must be on disk before its name is: a crash then leaves either no blob or a
	 * whole one. close() can report a delayed write error too. */
	if (fsync(w->fd) < 0) {
		rc = -errno;
		goto out;
	}
	fd = w->fd;
	w->fd = -1;
	if (close(fd) < 0) {
		rc = -errno;
		goto out;
	}
	crypto_generichash_final(&w->hash, h, sizeof(h));
	sodium_bin2hex(id, STORE_ID_HEX + 1, h, sizeof(h));
	rc = blob_name(id, name);
	assert(rc == 0);
	memcpy(dir, id, FANOUT);
	dir[FANOUT] = '\0';
	if (mkdirat(ls->dfd, dir, DIR_MODE) == 0) {
		if (fsync(ls->dfd) < 0) {
			rc = -errno;
			goto out;
		}
	} else if (errno != EEXIST) {
		rc = -errno;
		goto out;
	}
	if (fstatat(ls->dfd, name, &sb, 0) == 0)
		goto out; /* same bytes already stored: the temporary is dropped below */
	if (errno != ENOENT) {
		rc = -errno;
		goto out;
	}
	if (renameat(ls->tmpfd, w->name, ls->dfd, name) < 0) {
		rc = -errno;
		goto out;
	}
	rc = mfs_fsync_dirat(ls->dfd, dir);
	local_writer_free(w, 0);
	return rc;
out:
	local_writer_free(w, 1);
	return rc;
}

static void local_writer_abort(struct store_writer *sw)
{
	local_writer_free((struct local_writer *)sw, 1);
}

static int local_blob_open(struct store *st, const char *id, struct store_blob **out)
{
	struct local_store *ls = to_local(st);
	struct local_blob *b;
	char name[BLOB_NAME];
	struct stat sb;
	int rc;

	rc = blob_name(id, name);
	if (rc)
		return rc;
	b = malloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->base.st = st;
	b->fd = openat(ls->dfd, name, O_RDONLY | O_CLOEXEC);
	if (b->fd < 0) {
		rc = -errno;
		goto out;
	}
	if (fstat(b->fd, &sb) < 0) {
		rc = -errno;
		goto out;
	}
	b->size = (uint64_t)sb.st_size;
	*out = &b->base;
	return 0;
out:
	if (b->fd >= 0)
		close(b->fd);
	free(b);
	return rc;
}

static ssize_t local_blob_pread(struct store_blob *sb, void *buf, size_t len, uint64_t off)
{
	struct local_blob *b = (struct local_blob *)sb;
	size_t done = 0;
	ssize_t n;

	if (off >= b->size)
		return 0;
	if (len > b->size - off)
		len = (size_t)(b->size - off);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	while (done < len) {
		n = pread(b->fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* Shorter than fstat said: the immutable file changed under us. */
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static uint64_t local_blob_size(const struct store_blob *sb)
{
	return ((const struct local_blob *)sb)->size;
}

static int local_blob_fd(const struct store_blob *sb)
{
	return ((const struct local_blob *)sb)->fd;
}

static void local_blob_close(struct store_blob *sb)
{
	struct local_blob *b = (struct local_blob *)sb;

	close(b->fd);
	free(b);
}

static int local_verify(struct store *st, const char *id)
{
	struct local_store *ls = to_local(st);
	crypto_generichash_state hash;
	uint8_t h[HASH_BYTES];
	char name[BLOB_NAME], hex[STORE_ID_HEX + 1];
	uint8_t *buf = NULL;
	ssize_t n;
	int fd, rc;

	rc = blob_name(id, name);
	if (rc)
		return rc;
	if (sodium_init() < 0)
		return -ENOMEM;
	fd = openat(ls->dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	buf = malloc(VERIFY_CHUNK);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	crypto_generichash_init(&hash, NULL, 0, sizeof(h));
	for (;;) {
		n = read(fd, buf, VERIFY_CHUNK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		crypto_generichash_update(&hash, buf, (size_t)n);
	}
	crypto_generichash_final(&hash, h, sizeof(h));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	if (strcmp(hex, id))
		rc = -EIO;
out:
	free(buf);
	close(fd);
	return rc;
}

static int local_remove(struct store *st, const char *id)
{
	char name[BLOB_NAME];
	int rc;

	rc = blob_name(id, name);
	if (rc)
		return rc;
	if (unlinkat(to_local(st)->dfd, name, 0) < 0)
		return -errno;
	return 0;
}

/* Opens a directory stream for name under dfd without disturbing dfd itself. */
static DIR *opendirat(int dfd, const char *name)
{
	DIR *d;
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d)
		close(fd);
	return d;
}

/* Calls cb for every blob of one fan-out directory. */
static int list_fanout(int dfd, const char *dir, int (*cb)(const char *id, void *ctx), void *ctx)
{
	char id[STORE_ID_HEX + 1];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	d = opendirat(dfd, dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	memcpy(id, dir, FANOUT);
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			rc = -errno;
			break;
		}
		if (strlen(de->d_name) != STORE_ID_HEX - FANOUT ||
		    !is_lower_hex(de->d_name, STORE_ID_HEX - FANOUT))
			continue;
		memcpy(id + FANOUT, de->d_name, STORE_ID_HEX - FANOUT + 1);
		rc = cb(id, ctx);
		if (rc)
			break;
	}
	closedir(d);
	return rc;
}

static int local_list(struct store *st, int (*cb)(const char *id, void *ctx), void *ctx)
{
	struct local_store *ls = to_local(st);
	struct dirent *de;
	DIR *d;
	int rc = 0;

	d = opendirat(ls->dfd, ".");
	if (!d)
		return -errno;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			rc = -errno;
			break;
		}
		if (strlen(de->d_name) != FANOUT || !is_lower_hex(de->d_name, FANOUT))
			continue;
		rc = list_fanout(ls->dfd, de->d_name, cb, ctx);
		if (rc)
			break;
	}
	closedir(d);
	return rc;
}

static int local_clean_staging(struct store *st)
{
	struct local_store *ls = to_local(st);
	struct dirent *de;
	DIR *d;
	int rc = 0;

	d = opendirat(ls->tmpfd, ".");
	if (!d)
		return -errno;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			rc = -errno;
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(ls->tmpfd, de->d_name, 0) < 0 && errno != ENOENT) {
			rc = -errno;
			break;
		}
	}
	closedir(d);
	return rc;
}

static void local_close(struct store *st)
{
	struct local_store *ls = to_local(st);

	close(ls->tmpfd);
	close(ls->dfd);
	free(ls);
}

static const struct store_ops local_ops = {
    .writer_open = local_writer_open,
    .writer_write = local_writer_write,
    .writer_commit = local_writer_commit,
    .writer_abort = local_writer_abort,
    .blob_open = local_blob_open,
    .blob_pread = local_blob_pread,
    .blob_size = local_blob_size,
    .blob_fd = local_blob_fd,
    .blob_close = local_blob_close,
    .verify = local_verify,
    .remove = local_remove,
    .list = local_list,
    .clean_staging = local_clean_staging,
    .close = local_close,
};

int store_local_open(const char *dir, int create, struct store **out, struct mfs_error *err)
{
	struct local_store *ls;
	int rc;

	if (create && mkdir(dir, DIR_MODE) < 0 && errno != EEXIST)
		return mfs_error_set(err, errno, "%s: cannot create the store: %s", dir,
				     strerror(errno));
	ls = malloc(sizeof(*ls));
	if (!ls)
		return mfs_error_set(err, ENOMEM, "out of memory");
	ls->base.ops = &local_ops;
	ls->tmpfd = -1;
	ls->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ls->dfd < 0) {
		rc = mfs_error_set(err, errno, "%s: cannot open the store: %s", dir,
				   strerror(errno));
		goto out;
	}
	if (create && mkdirat(ls->dfd, TMP_DIR, DIR_MODE) < 0 && errno != EEXIST) {
		rc = mfs_error_set(err, errno, "%s/%s: cannot create: %s", dir, TMP_DIR,
				   strerror(errno));
		goto out;
	}
	if (create && fsync(ls->dfd) < 0) {
		rc = mfs_error_set(err, errno, "%s: cannot sync: %s", dir, strerror(errno));
		goto out;
	}
	ls->tmpfd = openat(ls->dfd, TMP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ls->tmpfd < 0) {
		rc = mfs_error_set(err, errno, "%s: not a meshfs store (%s/: %s)", dir, TMP_DIR,
				   strerror(errno));
		goto out;
	}
	*out = &ls->base;
	return 0;
out:
	if (ls->dfd >= 0)
		close(ls->dfd);
	free(ls);
	return rc;
}
