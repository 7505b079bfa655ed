/*
 * The S3 store. Writers stage their bytes in an unlinked temporary file while hashing them, and
 * upload at commit under the content's key, once: one PUT up to a part's size, else a multipart
 * upload that is aborted on any failure, so the key holds a whole blob or nothing. Readers fetch
 * fixed blocks with ranged GETs through the cache; a reader that goes forward has the next blocks
 * fetched by background threads while it reads. A block that several threads need at once is
 * fetched once: fetches in flight are listed, and latecomers wait for theirs.
 */
#include "backends/store_s3.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "backends/cache.h"
#include "backends/s3.h"
#include "common/strbuf.h"

#define FANOUT	      2
#define HASH_BYTES    (STORE_ID_HEX / 2)
#define KEY_MAX	      1024
#define PARTS_MAX     10000 /* S3's limit on the parts of one upload */
#define READ_AHEAD    2	    /* blocks fetched ahead of a sequential reader */
#define WORKERS	      2	    /* threads that fetch them */
#define QUEUE_MAX     16    /* read-ahead fetches waiting at most */
#define UPLOAD_ID_MAX 512
#define TOKEN_MAX     1024

_Static_assert(HASH_BYTES == crypto_generichash_BYTES, "blob ids are BLAKE2b-256");

enum fetch_state { FETCH_QUEUED, FETCH_RUNNING, FETCH_DONE };

/* A block being fetched (or waiting for a worker), shared by whoever needs it. */
struct fetch {
	struct fetch *next;
	char id[STORE_ID_HEX + 1];
	uint64_t index, blob_size;
	enum fetch_state state;
	int refs;   /* each waiter, and the queue or runner: the last one frees */
	ssize_t rc; /* bytes, or -errno */
	uint8_t *buf;
};

struct s3_store {
	struct store base;
	struct s3_client *client;
	struct cache *cache;
	char *prefix; /* "PREFIX/blobs/" or "blobs/" */
	char *tmp_dir;
	uint64_t cache_bound;
	struct store_s3_tuning tune;
	pthread_mutex_t lock;	/* fetches */
	pthread_cond_t changed; /* a fetch is done or queued, or the store closes */
	struct fetch *fetches;	/* queued and running, oldest first */
	size_t queued;
	int stopping;
	pthread_t workers[WORKERS];
	int nworkers;
};

struct s3_writer {
	struct store_writer base;
	crypto_generichash_state hash; /* over-aligned: see s3_writer_open */
	int fd;
	uint64_t size;
	int error; /* the first failure sticks: a failed blob never commits */
};

struct s3_blob {
	struct store_blob base;
	char id[STORE_ID_HEX + 1];
	uint64_t size;
	pthread_mutex_t lock; /* what follows */
	uint8_t *block;	      /* the last block read, so that small reads of it stay local */
	uint64_t block_index;
	size_t block_len;
	uint64_t next_off; /* where a sequential reader reads next */
	uint64_t ra_next;  /* the first block not yet asked for ahead */
};

static const struct store_ops s3_ops;

static struct s3_store *to_s3(struct store *st)
{
	assert(st->ops == &s3_ops);
	return (struct s3_store *)st;
}

static int is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int id_valid(const char *id)
{
	return id && strlen(id) == STORE_ID_HEX && is_lower_hex(id, STORE_ID_HEX);
}

/* PREFIX/blobs/ab/cdef… for a well-formed id; -EINVAL otherwise. */
static int blob_key(const struct s3_store *s, const char *id, char key[KEY_MAX])
{
	if (!id_valid(id))
		return -EINVAL;
	snprintf(key, KEY_MAX, "%s%.*s/%s", s->prefix, FANOUT, id, id + FANOUT);
	return 0;
}

static uint64_t block_count(uint64_t size)
{
	return (size + STORE_S3_BLOCK - 1) / STORE_S3_BLOCK;
}

static size_t block_len(uint64_t size, uint64_t index)
{
	uint64_t off = index * STORE_S3_BLOCK;

	return (size_t)(size - off < STORE_S3_BLOCK ? size - off : STORE_S3_BLOCK);
}

/* HEAD of the object: its size, or -ENOENT. */
static int head_as(struct s3_store *s, const char *key, int cleanup, uint64_t *size)
{
	struct s3_call call;
	int rc;

	s3_call_init(&call, "HEAD", key);
	call.cleanup = cleanup;
	rc = s3_call_run(s->client, &call);
	if (!rc)
		*size = call.content_length;
	s3_call_release(&call);
	return rc;
}

static int head(struct s3_store *s, const char *key, uint64_t *size)
{
	return head_as(s, key, 0, size);
}

/* A ranged GET of [off, off + len) into buf; -EIO unless exactly len bytes came. */
static int get_range(struct s3_store *s, const char *key, uint64_t off, size_t len, void *buf)
{
	struct s3_call call;
	int rc;

	s3_call_init(&call, "GET", key);
	call.range_off = off;
	call.range_len = len;
	call.dst = buf;
	call.dst_cap = len;
	rc = s3_call_run(s->client, &call);
	if (!rc && call.dst_len != len) {
		fprintf(stderr, "meshfs: store: GET s3://%s/%s: %zu bytes at %llu, wanted %zu\n",
			s3_client_bucket(s->client), key, call.dst_len, (unsigned long long)off,
			len);
		rc = -EIO;
	}
	s3_call_release(&call);
	return rc;
}

/* ---- reading blocks ---- */

/* Fetches f's block from the store into f->buf and keeps it in the cache. No lock held. */
static void fetch_run(struct s3_store *s, struct fetch *f)
{
	size_t len = block_len(f->blob_size, f->index);
	char key[KEY_MAX];
	int rc;

	f->buf = malloc(STORE_S3_BLOCK);
	if (!f->buf) {
		f->rc = -ENOMEM;
		return;
	}
	rc = blob_key(s, f->id, key);
	assert(rc == 0);
	rc = get_range(s, key, f->index * STORE_S3_BLOCK, len, f->buf);
	if (rc) {
		f->rc = rc;
		return;
	}
	/* A block that cannot be cached is still served. */
	cache_put(s->cache, f->id, f->index, f->buf, len, f->blob_size);
	f->rc = (ssize_t)len;
}

static struct fetch *fetch_find(struct s3_store *s, const char *id, uint64_t index)
{
	for (struct fetch *f = s->fetches; f; f = f->next)
		if (f->index == index && !strcmp(f->id, id))
			return f;
	return NULL;
}

static struct fetch *fetch_new(struct s3_store *s, const char *id, uint64_t index,
			       uint64_t blob_size, enum fetch_state state, int refs)
{
	struct fetch *f = calloc(1, sizeof(*f)), **tail;

	if (!f)
		return NULL;
	memcpy(f->id, id, STORE_ID_HEX + 1);
	f->index = index;
	f->blob_size = blob_size;
	f->state = state;
	f->refs = refs;
	for (tail = &s->fetches; *tail; tail = &(*tail)->next)
		;
	*tail = f;
	return f;
}

/* With the lock held: drops a reference. */
static void fetch_put(struct fetch *f)
{
	assert(f->refs > 0);
	if (--f->refs == 0) {
		free(f->buf);
		free(f);
	}
}

/* With the lock held: f is fetched; it leaves the list and its waiters wake. */
static void fetch_done(struct s3_store *s, struct fetch *f)
{
	struct fetch **p;

	f->state = FETCH_DONE;
	for (p = &s->fetches; *p != f; p = &(*p)->next)
		;
	*p = f->next;
	pthread_cond_broadcast(&s->changed);
	fetch_put(f);
}

/* Reads block index of blob id into buf (STORE_S3_BLOCK bytes of room): from the cache, from a
 * fetch already under way, or fetched here. Returns its length or -errno. */
static ssize_t block_read(struct s3_store *s, const char *id, uint64_t index, uint64_t blob_size,
			  uint8_t *buf)
{
	uint64_t cached_size;
	struct fetch *f;
	ssize_t n;

	n = cache_get(s->cache, id, index, buf, &cached_size);
	if (n >= 0 && cached_size == blob_size)
		return n;
	pthread_mutex_lock(&s->lock);
	f = fetch_find(s, id, index);
	if (!f) {
		f = fetch_new(s, id, index, blob_size, FETCH_RUNNING, 1);
		if (!f) {
			pthread_mutex_unlock(&s->lock);
			return -ENOMEM;
		}
		/* Ours to run: the runner's reference and ours. */
		f->refs++;
	} else {
		f->refs++;
		if (f->state == FETCH_QUEUED) {
			/* Still waiting for a worker: run it now, with the queue's reference. */
			f->state = FETCH_RUNNING;
			s->queued--;
		} else {
			while (f->state != FETCH_DONE)
				pthread_cond_wait(&s->changed, &s->lock);
			goto copy;
		}
	}
	pthread_mutex_unlock(&s->lock);
	fetch_run(s, f);
	pthread_mutex_lock(&s->lock);
	fetch_done(s, f);
copy:
	n = f->rc;
	if (n > 0)
		memcpy(buf, f->buf, (size_t)n);
	fetch_put(f);
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Asks the workers for block index unless it is cached or under way already. */
static void read_ahead(struct s3_store *s, const char *id, uint64_t index, uint64_t blob_size)
{
	if (cache_has(s->cache, id, index))
		return;
	pthread_mutex_lock(&s->lock);
	if (!s->stopping && s->queued < QUEUE_MAX && !fetch_find(s, id, index) &&
	    fetch_new(s, id, index, blob_size, FETCH_QUEUED, 1)) {
		s->queued++;
		pthread_cond_signal(&s->changed);
	}
	pthread_mutex_unlock(&s->lock);
}

static void *worker(void *p)
{
	struct s3_store *s = p;
	struct fetch *f;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		for (f = s->fetches; f && f->state != FETCH_QUEUED; f = f->next)
			;
		if (s->stopping)
			break;
		if (!f) {
			pthread_cond_wait(&s->changed, &s->lock);
			continue;
		}
		f->state = FETCH_RUNNING;
		s->queued--;
		pthread_mutex_unlock(&s->lock);
		fetch_run(s, f);
		pthread_mutex_lock(&s->lock);
		fetch_done(s, f);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- writers ---- */

static int s3_writer_open(struct store *st, struct store_writer **out)
{
	struct s3_store *s = to_s3(st);
	struct s3_writer *w;
	char path[PATH_MAX];
	int rc;

	w = aligned_alloc(_Alignof(struct s3_writer), sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->base.st = st;
	w->size = 0;
	w->error = 0;
	/* Unnamed from the start: a crash leaves nothing to clean up. */
	w->fd = open(s->tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (w->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
		snprintf(path, sizeof(path), "%s/meshfs-s3-XXXXXX", s->tmp_dir);
		w->fd = mkostemp(path, O_CLOEXEC);
		if (w->fd >= 0)
			unlink(path);
	}
	if (w->fd < 0) {
		rc = -errno;
		fprintf(stderr, "meshfs: store: %s: cannot stage a blob: %s\n", s->tmp_dir,
			strerror(errno));
		free(w);
		return rc;
	}
	crypto_generichash_init(&w->hash, NULL, 0, HASH_BYTES);
	*out = &w->base;
	return 0;
}

static int s3_writer_write(struct store_writer *sw, const void *data, size_t len)
{
	struct s3_writer *w = (struct s3_writer *)sw;
	const char *p = data;
	ssize_t n;

	if (w->error)
		return w->error;
	for (size_t done = 0; done < len; done += (size_t)n) {
		n = write(w->fd, p + done, len - done);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			w->error = n < 0 ? -errno : -ENOSPC;
			return w->error;
		}
	}
	crypto_generichash_update(&w->hash, data, len);
	w->size += len;
	return 0;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

static int put_object(struct s3_store *s, const char *key, int fd, uint64_t size)
{
	struct s3_call call;
	uint8_t *buf;
	int rc;

	buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	rc = pread_full(fd, buf, size, 0);
	if (rc)
		goto out;
	s3_call_init(&call, "PUT", key);
	call.body = buf;
	call.body_len = size;
	rc = s3_call_run(s->client, &call);
	s3_call_release(&call);
out:
	free(buf);
	return rc;
}

/* The root element of an XML answer, its name checked; NULL with a message otherwise. */
static xmlNode *answer_root(xmlDoc *doc, const char *name, const char *what)
{
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;

	if (root && !strcmp((const char *)root->name, name))
		return root;
	fprintf(stderr, "meshfs: store: %s: the answer is not a %s\n", what, name);
	return NULL;
}

static int multipart_start(struct s3_store *s, const char *key, char upload_id[UPLOAD_ID_MAX],
			   struct strbuf *id_query)
{
	struct s3_call call;
	xmlDoc *doc = NULL;
	xmlNode *root;
	int rc;

	s3_call_init(&call, "POST", key);
	call.query = "uploads=";
	rc = s3_call_run(s->client, &call);
	if (rc)
		goto out;
	doc = s3_xml_parse(&call.answer);
	root = answer_root(doc, "InitiateMultipartUploadResult", "a multipart upload");
	if (!root || s3_xml_text(root, "UploadId", upload_id, UPLOAD_ID_MAX) <= 0) {
		rc = -EIO;
		goto out;
	}
	rc = s3_query_add(id_query, "uploadId", upload_id);
out:
	xmlFreeDoc(doc);
	s3_call_release(&call);
	return rc;
}

/* Uploads the staged bytes in parts and completes the upload; on any failure the upload is
 * aborted, so that no part lingers and nothing appears under key. */
static int put_multipart(struct s3_store *s, const char *key, int fd, uint64_t size)
{
	uint64_t part = s->tune.part_size, off;
	char upload_id[UPLOAD_ID_MAX];
	struct strbuf id_query, query, done;
	struct s3_call call;
	uint8_t *buf = NULL;
	xmlDoc *doc = NULL;
	int rc, started = 0;

	strbuf_init(&id_query);
	strbuf_init(&query);
	strbuf_init(&done);
	if (size / part >= PARTS_MAX)
		part = (size + PARTS_MAX - 1) / PARTS_MAX;
	buf = malloc(part);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	rc = multipart_start(s, key, upload_id, &id_query);
	if (rc)
		goto out;
	started = 1;
	rc = strbuf_addstr(&done, "<CompleteMultipartUpload>");
	for (int n = 1; !rc && (off = (uint64_t)(n - 1) * part) < size; n++) {
		size_t len = (size_t)(size - off < part ? size - off : part);

		rc = pread_full(fd, buf, len, off);
		if (rc)
			break;
		strbuf_reset(&query);
		/* Sorted, as it is signed: partNumber before uploadId. */
		rc = strbuf_addf(&query, "partNumber=%d&%s", n, id_query.buf);
		if (rc)
			break;
		s3_call_init(&call, "PUT", key);
		call.query = query.buf;
		call.body = buf;
		call.body_len = len;
		rc = s3_call_run(s->client, &call);
		if (!rc && !call.etag[0]) {
			fprintf(stderr, "meshfs: store: PUT s3://%s/%s part %d: no ETag\n",
				s3_client_bucket(s->client), key, n);
			rc = -EIO;
		}
		if (!rc)
			rc = strbuf_addf(&done,
					 "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>",
					 n, call.etag);
		s3_call_release(&call);
	}
	if (!rc)
		rc = strbuf_addstr(&done, "</CompleteMultipartUpload>");
	if (rc)
		goto out;
	s3_call_init(&call, "POST", key);
	call.query = id_query.buf;
	call.body = done.buf;
	call.body_len = done.len;
	rc = s3_call_run(s->client, &call);
	/* A 200 may still carry an <Error>: the completion failed after it began to answer. */
	if (!rc) {
		doc = s3_xml_parse(&call.answer);
		if (!answer_root(doc, "CompleteMultipartUploadResult", "a completed upload"))
			rc = -EIO;
	}
	s3_call_release(&call);
	if (!rc)
		started = 0;
out:
	if (started) {
		s3_call_init(&call, "DELETE", key);
		call.query = id_query.buf;
		call.cleanup = 1;
		s3_call_run(s->client, &call);
		s3_call_release(&call);
	}
	xmlFreeDoc(doc);
	free(buf);
	strbuf_release(&id_query);
	strbuf_release(&query);
	strbuf_release(&done);
	return rc;
}

/* Puts a committed blob's blocks into the cache, so that its writer's first read is local:
 * only a blob that takes no more than half the cache, so that one blob never empties it. */
static void write_through(struct s3_store *s, const char *id, int fd, uint64_t size)
{
	uint8_t *buf;

	if (size == 0 || size > s->cache_bound / 2)
		return;
	buf = malloc(STORE_S3_BLOCK);
	if (!buf)
		return;
	for (uint64_t i = 0; i < block_count(size); i++) {
		size_t len = block_len(size, i);

		if (pread_full(fd, buf, len, i * STORE_S3_BLOCK) ||
		    cache_put(s->cache, id, i, buf, len, size))
			break;
	}
	free(buf);
}

static void s3_writer_free(struct s3_writer *w)
{
	close(w->fd);
	free(w);
}

static int s3_writer_commit(struct store_writer *sw, char id[STORE_ID_HEX + 1])
{
	struct s3_writer *w = (struct s3_writer *)sw;
	struct s3_store *s = to_s3(sw->st);
	uint8_t h[HASH_BYTES];
	char key[KEY_MAX];
	uint64_t size;
	int rc;

	rc = w->error;
	if (rc)
		goto out;
	crypto_generichash_final(&w->hash, h, sizeof(h));
	sodium_bin2hex(id, STORE_ID_HEX + 1, h, sizeof(h));
	rc = blob_key(s, id, key);
	assert(rc == 0);
	rc = head(s, key, &size);
	if (rc == 0)
		goto out; /* the same bytes are stored already */
	if (rc != -ENOENT)
		goto out;
	if (w->size <= s->tune.part_size)
		rc = put_object(s, key, w->fd, w->size);
	else
		rc = put_multipart(s, key, w->fd, w->size);
	if (!rc)
		write_through(s, id, w->fd, w->size);
out:
	s3_writer_free(w);
	return rc;
}

static void s3_writer_abort(struct store_writer *sw)
{
	s3_writer_free((struct s3_writer *)sw);
}

/* ---- blobs ---- */

static int s3_blob_open(struct store *st, const char *id, struct store_blob **out)
{
	struct s3_store *s = to_s3(st);
	struct s3_blob *b;
	char key[KEY_MAX];
	uint64_t size;
	int rc;

	rc = blob_key(s, id, key);
	if (rc)
		return rc;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->block = malloc(STORE_S3_BLOCK);
	if (!b->block) {
		rc = -ENOMEM;
		goto out;
	}
	/* The first block, if cached, knows the blob's size: no round trip. */
	rc = (int)cache_get(s->cache, id, 0, b->block, &size);
	if (rc >= 0 && (size_t)rc == block_len(size, 0) && size > 0) {
		b->block_len = (size_t)rc;
	} else {
		rc = head(s, key, &size);
		if (rc)
			goto out;
		b->block_index = UINT64_MAX;
	}
	rc = pthread_mutex_init(&b->lock, NULL);
	if (rc) {
		rc = -rc;
		goto out;
	}
	b->base.st = st;
	memcpy(b->id, id, STORE_ID_HEX + 1);
	b->size = size;
	*out = &b->base;
	return 0;
out:
	free(b->block);
	free(b);
	return rc;
}

static ssize_t s3_blob_pread(struct store_blob *sb, void *buf, size_t len, uint64_t off)
{
	struct s3_blob *b = (struct s3_blob *)sb;
	struct s3_store *s = to_s3(sb->st);
	uint64_t last, from;
	uint8_t *block = NULL, *old;
	size_t done = 0;
	ssize_t n = 0;
	int sequential;

	if (off >= b->size)
		return 0;
	if (len > b->size - off)
		len = (size_t)(b->size - off);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	if (!len)
		return 0;
	last = (off + len - 1) / STORE_S3_BLOCK;
	pthread_mutex_lock(&b->lock);
	sequential = off == b->next_off;
	b->next_off = off + len;
	if (!sequential)
		b->ra_next = 0;
	from = b->ra_next > last + 1 ? b->ra_next : last + 1;
	if (sequential)
		b->ra_next = last + 1 + READ_AHEAD;
	pthread_mutex_unlock(&b->lock);
	/* Asked for before this read's own fetch, so that they travel beside it. */
	for (uint64_t i = from; sequential && i <= last + READ_AHEAD && i < block_count(b->size);
	     i++)
		read_ahead(s, b->id, i, b->size);

	while (done < len) {
		uint64_t pos = off + done, index = pos / STORE_S3_BLOCK;
		size_t in = (size_t)(pos % STORE_S3_BLOCK), take;

		pthread_mutex_lock(&b->lock);
		if (b->block_index == index) {
			take = b->block_len - in < len - done ? b->block_len - in : len - done;
			memcpy((char *)buf + done, b->block + in, take);
			pthread_mutex_unlock(&b->lock);
			done += take;
			continue;
		}
		pthread_mutex_unlock(&b->lock);
		if (!block) {
			block = malloc(STORE_S3_BLOCK);
			if (!block) {
				n = -ENOMEM;
				break;
			}
		}
		n = block_read(s, b->id, index, b->size, block);
		if (n >= 0 && (size_t)n != block_len(b->size, index))
			n = -EIO;
		if (n < 0)
			break;
		take = (size_t)n - in < len - done ? (size_t)n - in : len - done;
		memcpy((char *)buf + done, block + in, take);
		done += take;
		/* Kept as the blob's current block; the one it replaces is reused. */
		pthread_mutex_lock(&b->lock);
		old = b->block;
		b->block = block;
		b->block_index = index;
		b->block_len = (size_t)n;
		pthread_mutex_unlock(&b->lock);
		block = old;
	}
	free(block);
	return n < 0 ? n : (ssize_t)done;
}

static void s3_blob_forget(struct store_blob *sb)
{
	struct s3_blob *b = (struct s3_blob *)sb;

	pthread_mutex_lock(&b->lock);
	b->block_index = UINT64_MAX;
	b->block_len = 0;
	pthread_mutex_unlock(&b->lock);
	cache_drop(to_s3(sb->st)->cache, b->id, b->size);
}

static uint64_t s3_blob_size(const struct store_blob *sb)
{
	return ((const struct s3_blob *)sb)->size;
}

static int s3_blob_fd(const struct store_blob *sb)
{
	return -1;
}

static void s3_blob_close(struct store_blob *sb)
{
	struct s3_blob *b = (struct s3_blob *)sb;

	pthread_mutex_destroy(&b->lock);
	free(b->block);
	free(b);
}

/* ---- the rest of the interface ---- */

static int s3_verify(struct store *st, const char *id)
{
	struct s3_store *s = to_s3(st);
	crypto_generichash_state hash;
	uint8_t h[HASH_BYTES], *buf = NULL;
	char key[KEY_MAX], hex[STORE_ID_HEX + 1];
	uint64_t size, off;
	int rc;

	rc = blob_key(s, id, key);
	if (rc)
		return rc;
	rc = head(s, key, &size);
	if (rc)
		return rc;
	buf = malloc(STORE_S3_PART);
	if (!buf)
		return -ENOMEM;
	crypto_generichash_init(&hash, NULL, 0, sizeof(h));
	/* In bounded pieces: each request then has the same deadline, whatever the blob's size. */
	for (off = 0; off < size; off += STORE_S3_PART) {
		size_t len = (size_t)(size - off < STORE_S3_PART ? size - off : STORE_S3_PART);

		rc = get_range(s, key, off, len, buf);
		if (rc)
			goto out;
		crypto_generichash_update(&hash, buf, len);
	}
	crypto_generichash_final(&hash, h, sizeof(h));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	if (strcmp(hex, id))
		rc = -EIO;
out:
	free(buf);
	return rc;
}

static int s3_remove(struct store *st, const char *id)
{
	struct s3_store *s = to_s3(st);
	struct s3_call call;
	char key[KEY_MAX];
	uint64_t size;
	int rc;

	rc = blob_key(s, id, key);
	if (rc)
		return rc;
	/* S3 deletes a missing key without complaint; the interface says -ENOENT. A removal is
	 * clean-up (of a failed publish, of orphans): not refused while the store is held. */
	rc = head_as(s, key, 1, &size);
	if (rc)
		return rc;
	s3_call_init(&call, "DELETE", key);
	call.cleanup = 1;
	rc = s3_call_run(s->client, &call);
	s3_call_release(&call);
	cache_drop(s->cache, id, size);
	return rc;
}

/* The id of a key PREFIX/blobs/ab/cdef…, or 0 if the key is not a blob's. */
static int key_id(const struct s3_store *s, const char *key, char id[STORE_ID_HEX + 1])
{
	size_t n = strlen(s->prefix);

	if (strncmp(key, s->prefix, n))
		return 0;
	key += n;
	if (strlen(key) != STORE_ID_HEX + 1 || key[FANOUT] != '/')
		return 0;
	memcpy(id, key, FANOUT);
	memcpy(id + FANOUT, key + FANOUT + 1, STORE_ID_HEX - FANOUT + 1);
	return is_lower_hex(id, STORE_ID_HEX);
}

static int s3_list(struct store *st, int (*cb)(const char *id, void *ctx), void *ctx)
{
	struct s3_store *s = to_s3(st);
	char token[TOKEN_MAX] = "", key[KEY_MAX], id[STORE_ID_HEX + 1], truncated[8], max_keys[16];
	struct strbuf query;
	struct s3_call call;
	xmlDoc *doc = NULL;
	xmlNode *root, *n;
	int rc = 0;

	strbuf_init(&query);
	do {
		strbuf_reset(&query);
		snprintf(max_keys, sizeof(max_keys), "%u", s->tune.list_page);
		/* Sorted, as it is signed. */
		if (token[0])
			rc = s3_query_add(&query, "continuation-token", token);
		rc = rc ?: s3_query_add(&query, "list-type", "2") ?:
		     s3_query_add(&query, "max-keys", max_keys) ?:
		     s3_query_add(&query, "prefix", s->prefix);
		if (rc)
			break;
		s3_call_init(&call, "GET", NULL);
		call.query = query.buf;
		rc = s3_call_run(s->client, &call);
		if (!rc) {
			doc = s3_xml_parse(&call.answer);
			root = answer_root(doc, "ListBucketResult", "a listing");
			rc = root ? 0 : -EIO;
		}
		s3_call_release(&call);
		if (rc)
			break;
		for (n = s3_xml_child(root, "Contents"); n && !rc; n = s3_xml_next(n))
			if (s3_xml_text(n, "Key", key, sizeof(key)) > 0 && key_id(s, key, id))
				rc = cb(id, ctx);
		if (!rc && s3_xml_text(root, "IsTruncated", truncated, sizeof(truncated)) > 0 &&
		    !strcmp(truncated, "true")) {
			if (s3_xml_text(root, "NextContinuationToken", token, sizeof(token)) <= 0) {
				fprintf(stderr,
					"meshfs: store: a truncated listing of s3://%s "
					"without a continuation token\n",
					s3_client_bucket(s->client));
				rc = -EIO;
			}
		} else {
			token[0] = '\0';
		}
		xmlFreeDoc(doc);
		doc = NULL;
	} while (!rc && token[0]);
	strbuf_release(&query);
	return rc;
}

/* Seconds since the epoch of an ISO 8601 UTC time (2024-05-01T12:00:00.000Z), or -1. */
static time_t parse_time(const char *s)
{
	struct tm tm = {0};
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

	return end ? timegm(&tm) : (time_t)-1;
}

/* Aborts one page of unfinished uploads older than the staging age; sets the markers of the
 * next page, or clears them at the last. */
static int abandon_page(struct s3_store *s, xmlNode *root, char *key_marker, char *id_marker)
{
	char key[KEY_MAX], upload_id[UPLOAD_ID_MAX], when[64], truncated[8];
	struct strbuf query;
	struct s3_call call;
	time_t now = time(NULL), t;
	int rc = 0;

	strbuf_init(&query);
	for (xmlNode *n = s3_xml_child(root, "Upload"); n && !rc; n = s3_xml_next(n)) {
		if (s3_xml_text(n, "Key", key, sizeof(key)) <= 0 ||
		    s3_xml_text(n, "UploadId", upload_id, sizeof(upload_id)) <= 0 ||
		    s3_xml_text(n, "Initiated", when, sizeof(when)) <= 0)
			continue;
		t = parse_time(when);
		/* Age 0 takes all, even one that the service's clock, ahead of ours, dates later
		 * than now. */
		if (t < 0 || (s->tune.staging_age && now - t < (time_t)s->tune.staging_age) ||
		    strncmp(key, s->prefix, strlen(s->prefix)))
			continue;
		strbuf_reset(&query);
		rc = s3_query_add(&query, "uploadId", upload_id);
		if (rc)
			break;
		s3_call_init(&call, "DELETE", key);
		call.query = query.buf;
		rc = s3_call_run(s->client, &call);
		/* Gone already: another cleaner was first. */
		if (rc == -ENOENT)
			rc = 0;
		s3_call_release(&call);
	}
	if (!rc && s3_xml_text(root, "IsTruncated", truncated, sizeof(truncated)) > 0 &&
	    !strcmp(truncated, "true")) {
		if (s3_xml_text(root, "NextKeyMarker", key_marker, KEY_MAX) < 0 ||
		    s3_xml_text(root, "NextUploadIdMarker", id_marker, UPLOAD_ID_MAX) < 0)
			rc = -EIO;
	} else {
		key_marker[0] = id_marker[0] = '\0';
	}
	strbuf_release(&query);
	return rc;
}

static int s3_clean_staging(struct store *st)
{
	struct s3_store *s = to_s3(st);
	char key_marker[KEY_MAX] = "", id_marker[UPLOAD_ID_MAX] = "";
	struct strbuf query;
	struct s3_call call;
	xmlDoc *doc;
	xmlNode *root;
	int rc = 0;

	strbuf_init(&query);
	do {
		strbuf_reset(&query);
		/* Sorted, as it is signed. */
		if (key_marker[0])
			rc = s3_query_add(&query, "key-marker", key_marker);
		rc = rc ?: s3_query_add(&query, "prefix", s->prefix);
		if (!rc && id_marker[0])
			rc = s3_query_add(&query, "upload-id-marker", id_marker);
		rc = rc ?: s3_query_add(&query, "uploads", "");
		if (rc)
			break;
		s3_call_init(&call, "GET", NULL);
		call.query = query.buf;
		rc = s3_call_run(s->client, &call);
		doc = rc ? NULL : s3_xml_parse(&call.answer);
		s3_call_release(&call);
		if (rc)
			break;
		root = answer_root(doc, "ListMultipartUploadsResult", "a list of uploads");
		rc = root ? abandon_page(s, root, key_marker, id_marker) : -EIO;
		xmlFreeDoc(doc);
	} while (!rc && key_marker[0]);
	strbuf_release(&query);
	return rc ?: cache_clean(s->cache);
}

static void s3_close(struct store *st)
{
	struct s3_store *s = to_s3(st);
	struct fetch *f;

	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i], NULL);
	/* Only queued fetches are left: no reader is open, no worker runs. */
	while ((f = s->fetches)) {
		assert(f->state == FETCH_QUEUED && f->refs == 1);
		s->fetches = f->next;
		fetch_put(f);
	}
	pthread_cond_destroy(&s->changed);
	pthread_mutex_destroy(&s->lock);
	cache_close(s->cache);
	s3_client_close(s->client);
	free(s->prefix);
	free(s->tmp_dir);
	free(s);
}

static const struct store_ops s3_ops = {
    .writer_open = s3_writer_open,
    .writer_write = s3_writer_write,
    .writer_commit = s3_writer_commit,
    .writer_abort = s3_writer_abort,
    .blob_open = s3_blob_open,
    .blob_pread = s3_blob_pread,
    .blob_size = s3_blob_size,
    .blob_fd = s3_blob_fd,
    .blob_close = s3_blob_close,
    .blob_forget = s3_blob_forget,
    .verify = s3_verify,
    .remove = s3_remove,
    .list = s3_list,
    .clean_staging = s3_clean_staging,
    .close = s3_close,
};

void store_s3_tune(struct store *st, const struct store_s3_tuning *t)
{
	struct s3_store *s = to_s3(st);

	assert(t->part_size >= STORE_S3_PART_MIN && t->list_page >= 1 && t->list_page <= 1000);
	s->tune = *t;
}

/* One listing of at most one key: proves that the bucket exists and that the credential may
 * read it. */
static int probe(struct s3_store *s, struct mfs_error *err)
{
	struct strbuf query;
	struct s3_call call;
	int rc;

	strbuf_init(&query);
	rc = s3_query_add(&query, "list-type", "2") ?: s3_query_add(&query, "max-keys", "1") ?:
	     s3_query_add(&query, "prefix", s->prefix);
	if (rc) {
		strbuf_release(&query);
		return mfs_error_set(err, ENOMEM, "out of memory");
	}
	s3_call_init(&call, "GET", NULL);
	call.query = query.buf;
	call.quiet = 1;
	rc = s3_call_run(s->client, &call);
	if (rc)
		mfs_error_set(err, -rc, "%s", call.error);
	s3_call_release(&call);
	strbuf_release(&query);
	return rc;
}

static int make_bucket(struct s3_store *s, struct mfs_error *err)
{
	const char *region = s3_client_region(s->client);
	struct s3_call call;
	char body[256];
	int rc;

	s3_call_init(&call, "PUT", NULL);
	call.quiet = 1;
	/* us-east-1 is the one region that wants no location. */
	if (strcmp(region, "us-east-1")) {
		snprintf(body, sizeof(body),
			 "<CreateBucketConfiguration><LocationConstraint>%s</LocationConstraint>"
			 "</CreateBucketConfiguration>",
			 region);
		call.body = body;
		call.body_len = strlen(body);
	}
	rc = s3_call_run(s->client, &call);
	/* Made in between by someone else: the probe that follows says whether it is ours. */
	if (rc == -EEXIST)
		rc = 0;
	if (rc)
		mfs_error_set(err, -rc, "%s", call.error);
	s3_call_release(&call);
	return rc;
}

int store_s3_open(const char *bucket, const char *prefix, const struct store_options *o, int create,
		  struct store **out, struct mfs_error *err)
{
	static const struct store_options none;
	struct s3_store *s;
	const char *tmp;
	int rc;

	if (!o)
		o = &none;
	s = calloc(1, sizeof(*s));
	if (!s)
		return mfs_error_set(err, ENOMEM, "out of memory");
	s->base.ops = &s3_ops;
	s->tune = (struct store_s3_tuning){STORE_S3_PART, STORE_S3_LIST_PAGE, STORE_S3_STAGING_S};
	s->cache_bound = o->cache_size ? o->cache_size : STORE_CACHE_DEFAULT;
	tmp = o->tmp_dir ? o->tmp_dir : getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	s->tmp_dir = strdup(tmp);
	if (prefix && *prefix)
		rc = asprintf(&s->prefix, "%s/blobs/", prefix);
	else
		rc = asprintf(&s->prefix, "blobs/");
	if (rc < 0)
		s->prefix = NULL;
	if (!s->tmp_dir || !s->prefix) {
		rc = mfs_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	rc = pthread_mutex_init(&s->lock, NULL);
	if (rc) {
		rc = mfs_error_set(err, rc, "cannot create a mutex");
		goto out;
	}
	rc = pthread_cond_init(&s->changed, NULL);
	if (rc) {
		pthread_mutex_destroy(&s->lock);
		rc = mfs_error_set(err, rc, "cannot create a condition variable");
		goto out;
	}
	rc = s3_client_open(o->endpoint, o->region, bucket, &s->client, err);
	if (rc)
		goto out_sync;
	rc = cache_open(o->cache_dir, s->cache_bound, STORE_S3_BLOCK, &s->cache, err);
	if (rc)
		goto out_sync;
	rc = create || !o->lazy ? probe(s, err) : 0;
	if (rc == -ENOENT && create) {
		mfs_error_clear(err);
		rc = make_bucket(s, err) ?: probe(s, err);
	}
	if (rc)
		goto out_sync;
	for (; s->nworkers < WORKERS; s->nworkers++) {
		rc = pthread_create(&s->workers[s->nworkers], NULL, worker, s);
		if (rc) {
			s3_close(&s->base);
			return mfs_error_set(err, rc, "cannot start a thread");
		}
	}
	*out = &s->base;
	return 0;
out_sync:
	pthread_cond_destroy(&s->changed);
	pthread_mutex_destroy(&s->lock);
out:
	cache_close(s->cache);
	s3_client_close(s->client);
	free(s->prefix);
	free(s->tmp_dir);
	free(s);
	return rc;
}
