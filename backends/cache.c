/*
 * The block cache: files under a directory shared by the processes of one host, or a handful
 * of blocks in memory. Writes need no fsync: a block that a crash left damaged fails its CRC at
 * the next get and is fetched again.
 */
#include "backends/cache.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/crc32c.h"

#define MAGIC	    "MFSBLK1\n"
#define ID_HEX	    64
#define NAME_MAX_   (2 + 1 + ID_HEX + 1 + 20 + 1) /* "ab/ID.INDEX" */
#define MEM_BLOCKS  8				  /* blocks kept in memory at most */
#define ALLOC_UNIT  4096 /* what a file costs on disk is counted in these */
#define TMP_PREFIX  ".tmp-"
#define TMP_AGE_S   60
#define USAGE_FILE  "usage"
#define DIR_MODE    0700
#define FILE_MODE   0600
#define EVICT_TO(b) ((b) / 8 * 7) /* an eviction frees a little more than needed */
/* What the directories and DIR/usage may take, kept out of the blocks' share of the bound. */
#define OVERHEAD (ALLOC_UNIT * (256 + 2))

/* In host byte order: the cache never leaves its host. */
struct block_header {
	char magic[8];
	uint64_t blob_size;
	uint64_t index;
	uint32_t block_size;
	uint32_t len;
	uint32_t crc; /* CRC32C of this header (crc 0) and the bytes */
	uint32_t zero;
};

struct mem_block {
	char id[ID_HEX + 1];
	uint64_t index;
	uint64_t blob_size;
	size_t len;
	uint64_t used; /* tick of the last use: the least recent goes first */
	uint8_t *data; /* NULL: free slot */
};

struct cache {
	uint64_t bound; /* for the blocks' files, temporaries included */
	uint32_t block_size;
	int dfd;      /* the directory, or -1 in memory */
	int usage_fd; /* DIR/usage: the total, 8 bytes, under flock */
	/* Threads of this process: flock does not tell them apart. Also guards the memory blocks.
	 */
	pthread_mutex_t lock;
	struct mem_block mem[MEM_BLOCKS];
	size_t nmem;
	uint64_t tick;
};

static uint64_t disk_cost(uint64_t bytes)
{
	return (bytes + ALLOC_UNIT - 1) / ALLOC_UNIT * ALLOC_UNIT;
}

static void block_name(const char *id, uint64_t index, char name[NAME_MAX_])
{
	snprintf(name, NAME_MAX_, "%.2s/%s.%" PRIu64, id, id, index);
}

static uint32_t block_crc(struct block_header h, const void *data, size_t len)
{
	h.crc = 0;
	return crc32c(crc32c(0, &h, sizeof(h)), data, len);
}

/* A cached file worth counting: "ID.INDEX", not a temporary. */
static int is_block_name(const char *name)
{
	return strlen(name) > ID_HEX + 1 && name[ID_HEX] == '.' && name[0] != '.';
}

/* What a file takes on disk: its blocks, or its size rounded up if more. */
static uint64_t file_cost(const struct stat *sb)
{
	uint64_t blocks = (uint64_t)sb->st_blocks * 512, size = disk_cost((uint64_t)sb->st_size);

	return blocks > size ? blocks : size;
}

static int is_fanout_name(const char *name)
{
	return strlen(name) == 2 && name[0] != '.';
}

struct entry {
	struct timespec mtime;
	uint64_t cost;
	char name[NAME_MAX_];
};

static int entry_older(const void *a, const void *b)
{
	const struct timespec *x = &((const struct entry *)a)->mtime;
	const struct timespec *y = &((const struct entry *)b)->mtime;

	if (x->tv_sec != y->tv_sec)
		return x->tv_sec < y->tv_sec ? -1 : 1;
	return x->tv_nsec < y->tv_nsec ? -1 : x->tv_nsec > y->tv_nsec;
}

/* Calls fn for each file of each fan-out directory. */
static int scan(struct cache *c,
		int (*fn)(struct cache *c, const char *dir, const char *name, const struct stat *sb,
			  void *ctx),
		void *ctx)
{
	struct dirent *top, *de;
	DIR *d = NULL, *sub;
	int fd, rc = 0;

	fd = openat(c->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while (!rc && (top = readdir(d))) {
		if (!is_fanout_name(top->d_name))
			continue;
		fd = openat(c->dfd, top->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		sub = fdopendir(fd);
		if (!sub) {
			close(fd);
			continue;
		}
		while (!rc && (de = readdir(sub))) {
			struct stat sb;

			if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
				continue;
			if (fstatat(dirfd(sub), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(sb.st_mode))
				continue;
			rc = fn(c, top->d_name, de->d_name, &sb, ctx);
		}
		closedir(sub);
	}
	closedir(d);
	return rc;
}

struct listing {
	struct entry *e;
	size_t n, cap;
	uint64_t total;
};

/* Lists a block for eviction. A temporary being written counts with the size its writer
 * reserved (in its name, ".tmp-RANDOM-COST"), and one older than TMP_AGE_S, whose writer died,
 * is removed. */
static int list_block(struct cache *c, const char *dir, const char *name, const struct stat *sb,
		      void *ctx)
{
	struct listing *l = ctx;
	char path[NAME_MAX_];
	const char *dash;
	struct entry *e;
	uint64_t cost;

	if (!strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX))) {
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (sb->st_mtime < time(NULL) - TMP_AGE_S) {
			if (unlinkat(c->dfd, path, 0) < 0 && errno != ENOENT)
				return -errno;
			return 0;
		}
		dash = strrchr(name, '-');
		cost = dash ? strtoull(dash + 1, NULL, 10) : 0;
		l->total += cost > file_cost(sb) ? cost : file_cost(sb);
		return 0;
	}
	if (!is_block_name(name))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;

		e = realloc(l->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		l->e = e;
		l->cap = cap;
	}
	e = &l->e[l->n++];
	e->mtime = sb->st_mtim;
	e->cost = file_cost(sb);
	snprintf(e->name, sizeof(e->name), "%s/%s", dir, name);
	l->total += e->cost;
	return 0;
}

/* With the lock held: removes the least recently used blocks until at most target bytes are
 * left, and returns what is left (the true total, whatever DIR/usage said). */
static int64_t evict(struct cache *c, uint64_t target)
{
	struct listing l = {0};
	int rc;

	rc = scan(c, list_block, &l);
	if (rc) {
		free(l.e);
		return rc;
	}
	if (l.n)
		qsort(l.e, l.n, sizeof(*l.e), entry_older);
	for (size_t i = 0; i < l.n && l.total > target; i++) {
		if (unlinkat(c->dfd, l.e[i].name, 0) == 0 || errno == ENOENT)
			l.total -= l.e[i].cost;
	}
	free(l.e);
	return (int64_t)l.total;
}

static int usage_lock(struct cache *c)
{
	pthread_mutex_lock(&c->lock);
	while (flock(c->usage_fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int rc = -errno;

			pthread_mutex_unlock(&c->lock);
			return rc;
		}
	}
	return 0;
}

static void usage_unlock(struct cache *c)
{
	flock(c->usage_fd, LOCK_UN);
	pthread_mutex_unlock(&c->lock);
}

static uint64_t usage_read(struct cache *c)
{
	uint64_t v = 0;

	if (pread(c->usage_fd, &v, sizeof(v), 0) != sizeof(v))
		v = 0;
	return v;
}

static int usage_write(struct cache *c, uint64_t v)
{
	ssize_t n = pwrite(c->usage_fd, &v, sizeof(v), 0);

	return n == sizeof(v) ? 0 : n < 0 ? -errno : -EIO;
}

/* With the lock held: counts the blocks anew (and evicts to the bound). */
static int usage_recount(struct cache *c)
{
	int64_t total = evict(c, c->bound);

	return total < 0 ? (int)total : usage_write(c, (uint64_t)total);
}

int cache_open(const char *dir, uint64_t bound, uint32_t block_size, struct cache **out,
	       struct mfs_error *err)
{
	struct cache *c;
	int rc;

	assert(block_size > 0);
	c = calloc(1, sizeof(*c));
	if (!c)
		return mfs_error_set(err, ENOMEM, "out of memory");
	c->bound = bound;
	if (dir)
		c->bound = bound > OVERHEAD ? bound - OVERHEAD : 0;
	c->block_size = block_size;
	c->dfd = -1;
	c->usage_fd = -1;
	rc = pthread_mutex_init(&c->lock, NULL);
	if (rc) {
		free(c);
		return mfs_error_set(err, rc, "cannot create a mutex");
	}
	if (!dir) {
		c->nmem = bound / block_size < MEM_BLOCKS ? bound / block_size : MEM_BLOCKS;
		*out = c;
		return 0;
	}
	if (mkdir(dir, DIR_MODE) < 0 && errno != EEXIST) {
		rc = mfs_error_set(err, errno, "%s: cannot create the cache: %s", dir,
				   strerror(errno));
		goto out;
	}
	c->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dfd < 0) {
		rc = mfs_error_set(err, errno, "%s: cannot open the cache: %s", dir,
				   strerror(errno));
		goto out;
	}
	c->usage_fd = openat(c->dfd, USAGE_FILE, O_RDWR | O_CREAT | O_CLOEXEC, FILE_MODE);
	if (c->usage_fd < 0) {
		rc = mfs_error_set(err, errno, "%s/%s: cannot open: %s", dir, USAGE_FILE,
				   strerror(errno));
		goto out;
	}
	/* The bound may be smaller than last time, and the total may have drifted. */
	rc = usage_lock(c);
	if (!rc) {
		rc = usage_recount(c);
		usage_unlock(c);
	}
	if (rc) {
		rc = mfs_error_set(err, -rc, "%s: cannot count the cache: %s", dir, strerror(-rc));
		goto out;
	}
	*out = c;
	return 0;
out:
	cache_close(c);
	return rc;
}

void cache_close(struct cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nmem; i++)
		free(c->mem[i].data);
	if (c->usage_fd >= 0)
		close(c->usage_fd);
	if (c->dfd >= 0)
		close(c->dfd);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static struct mem_block *mem_find(struct cache *c, const char *id, uint64_t index)
{
	for (size_t i = 0; i < c->nmem; i++)
		if (c->mem[i].data && c->mem[i].index == index && !strcmp(c->mem[i].id, id))
			return &c->mem[i];
	return NULL;
}

static ssize_t mem_get(struct cache *c, const char *id, uint64_t index, void *buf,
		       uint64_t *blob_size)
{
	struct mem_block *m;
	ssize_t rc = -ENOENT;

	pthread_mutex_lock(&c->lock);
	m = mem_find(c, id, index);
	if (m) {
		memcpy(buf, m->data, m->len);
		*blob_size = m->blob_size;
		m->used = ++c->tick;
		rc = (ssize_t)m->len;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static int mem_put(struct cache *c, const char *id, uint64_t index, const void *buf, size_t len,
		   uint64_t blob_size)
{
	struct mem_block *m, *victim = NULL;
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	if (mem_find(c, id, index))
		goto out;
	for (size_t i = 0; i < c->nmem; i++) {
		m = &c->mem[i];
		if (!m->data || !victim || (victim->data && m->used < victim->used))
			victim = m;
		if (!m->data)
			break;
	}
	if (!victim->data)
		victim->data = malloc(c->block_size);
	if (!victim->data) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(victim->id, id, ID_HEX + 1);
	victim->index = index;
	victim->blob_size = blob_size;
	victim->len = len;
	victim->used = ++c->tick;
	memcpy(victim->data, buf, len);
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

ssize_t cache_get(struct cache *c, const char *id, uint64_t index, void *buf, uint64_t *blob_size)
{
	char name[NAME_MAX_];
	struct block_header h;
	struct stat sb;
	ssize_t rc;
	int fd;

	if (c->dfd < 0)
		return mem_get(c, id, index, buf, blob_size);
	block_name(id, index, name);
	fd = openat(c->dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	rc = -ENOENT;
	if (fstat(fd, &sb) < 0 || pread(fd, &h, sizeof(h), 0) != sizeof(h))
		goto damaged;
	if (memcmp(h.magic, MAGIC, sizeof(h.magic)) || h.index != index ||
	    h.block_size != c->block_size || h.len > c->block_size ||
	    (uint64_t)sb.st_size != sizeof(h) + h.len ||
	    pread(fd, buf, h.len, sizeof(h)) != (ssize_t)h.len || block_crc(h, buf, h.len) != h.crc)
		goto damaged;
	/* A hit makes the block the most recently used. */
	futimens(fd, NULL);
	close(fd);
	*blob_size = h.blob_size;
	return (ssize_t)h.len;
damaged:
	close(fd);
	unlinkat(c->dfd, name, 0);
	return rc;
}

int cache_has(struct cache *c, const char *id, uint64_t index)
{
	char name[NAME_MAX_];
	int found;

	if (c->dfd < 0) {
		pthread_mutex_lock(&c->lock);
		found = mem_find(c, id, index) != NULL;
		pthread_mutex_unlock(&c->lock);
		return found;
	}
	block_name(id, index, name);
	return faccessat(c->dfd, name, F_OK, 0) == 0;
}

/* Writes the block to a new temporary in the block's directory, its reserved cost in its name;
 * the name goes to tmp. */
static int write_temp(struct cache *c, const char *id, const struct block_header *h,
		      const void *buf, uint64_t cost, char tmp[NAME_MAX_])
{
	char dir[3] = {id[0], id[1], '\0'};
	uint8_t rnd[8];
	char hex[17];
	struct iovec iov[2] = {{(void *)h, sizeof(*h)}, {(void *)buf, h->len}};
	ssize_t n;
	int fd, rc = 0;

	if (mkdirat(c->dfd, dir, DIR_MODE) < 0 && errno != EEXIST)
		return -errno;
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(tmp, NAME_MAX_, "%s/" TMP_PREFIX "%s-%" PRIu64, dir, hex, cost);
	fd = openat(c->dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, FILE_MODE);
	if (fd < 0)
		return -errno;
	n = writev(fd, iov, 2);
	if (n != (ssize_t)(sizeof(*h) + h->len))
		rc = n < 0 ? -errno : -ENOSPC;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (rc)
		unlinkat(c->dfd, tmp, 0);
	return rc;
}

/* With the lock held: makes room for cost more bytes and counts them. */
static int reserve(struct cache *c, uint64_t cost)
{
	uint64_t usage = usage_read(c), target;
	int64_t left;

	if (usage + cost > c->bound) {
		target = EVICT_TO(c->bound) > cost ? EVICT_TO(c->bound) - cost : c->bound - cost;
		left = evict(c, target);
		if (left < 0)
			return (int)left;
		usage = (uint64_t)left;
		/* Temporaries of other writers may hold the room still. */
		if (usage + cost > c->bound)
			return -ENOSPC;
	}
	return usage_write(c, usage + cost);
}

int cache_put(struct cache *c, const char *id, uint64_t index, const void *buf, size_t len,
	      uint64_t blob_size)
{
	struct block_header h = {.blob_size = blob_size,
				 .index = index,
				 .block_size = c->block_size,
				 .len = (uint32_t)len};
	char name[NAME_MAX_], tmp[NAME_MAX_];
	uint64_t cost = disk_cost(sizeof(h) + len), usage;
	int rc, placed = 0;

	assert(len <= c->block_size);
	if (c->dfd < 0)
		return c->nmem ? mem_put(c, id, index, buf, len, blob_size) : 0;
	if (cost > c->bound)
		return 0;
	block_name(id, index, name);
	if (faccessat(c->dfd, name, F_OK, 0) == 0)
		return 0;
	memcpy(h.magic, MAGIC, sizeof(h.magic));
	h.crc = block_crc(h, buf, len);
	/* Counted before it is written: the temporary takes room on disk too. */
	rc = usage_lock(c);
	if (rc)
		return rc;
	rc = reserve(c, cost);
	usage_unlock(c);
	if (rc)
		return rc;
	rc = write_temp(c, id, &h, buf, cost, tmp);
	if (usage_lock(c))
		return rc ? rc : -EIO;
	if (!rc) {
		if (renameat(c->dfd, tmp, c->dfd, name) == 0)
			placed = 1;
		else
			rc = -errno;
		if (!placed)
			unlinkat(c->dfd, tmp, 0);
	}
	if (!placed) {
		usage = usage_read(c);
		usage_write(c, usage > cost ? usage - cost : 0);
	}
	usage_unlock(c);
	return rc;
}

void cache_drop(struct cache *c, const char *id, uint64_t blob_size)
{
	uint64_t blocks = (blob_size + c->block_size - 1) / c->block_size;
	char name[NAME_MAX_];

	if (c->dfd < 0) {
		pthread_mutex_lock(&c->lock);
		for (size_t i = 0; i < c->nmem; i++)
			if (c->mem[i].data && !strcmp(c->mem[i].id, id)) {
				free(c->mem[i].data);
				c->mem[i].data = NULL;
			}
		pthread_mutex_unlock(&c->lock);
		return;
	}
	/* DIR/usage counts them still: the next eviction's scan puts that right. */
	for (uint64_t i = 0; i < blocks; i++) {
		block_name(id, i, name);
		unlinkat(c->dfd, name, 0);
	}
}

int cache_clean(struct cache *c)
{
	int rc;

	if (c->dfd < 0)
		return 0;
	/* The count's scan removes the temporaries of writers that died. */
	rc = usage_lock(c);
	if (rc)
		return rc;
	rc = usage_recount(c);
	usage_unlock(c);
	return rc;
}
