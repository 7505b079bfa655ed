/*
 * Reading a segment (see segment.h and segment_format.h): open and its checks, the two views,
 * reads and the masked view's file extents.
 *
 * Integrity. The trailer's CRC32C covers the index and is checked before the index is parsed;
 * the header line is checked at open. A group's masked bytes are checked before any of them is
 * returned, by segment_read in either view or by segment_masked_extents: a bit per group in
 * struct segment records that it was done, so that each group is read for checking once per open
 * segment, however many readers share it. The plain view checks the masked bytes it splices into
 * on every decode, as it holds them anyway. CRC32C catches accidental damage only (see
 * common/crc32c.h); sealed chunks carry their own authentication.
 */
#include "table/segment.h"
#include "table/segment_format.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/seal.h"
#include "common/crc32c.h"

/* Bytes read at a time when a group is checked straight from the file: fits a core's L2 cache. */
#define SEGMENT_CHECK_BYTES (64 * 1024)
/* Locks that make readers needing the same unchecked group wait for one check, not repeat it. */
#define SEGMENT_CHECK_LOCKS 16
/* Bits in a word of the bitmap of checked groups. */
#define SEGMENT_WORD_BITS (sizeof(unsigned long) * CHAR_BIT)

struct segment_group {
	uint64_t off;	      /* of its masked bytes in the blob */
	uint64_t view_off[2]; /* where it starts in each view */
	uint32_t len[2];      /* its length in each view */
	uint32_t crc;	      /* CRC32C of its masked bytes */
};

struct segment_chunk {
	uint64_t off, len;
};

struct segment {
	struct store_blob *blob;
	char *binding;
	uint8_t id[SEGMENT_ID_BYTES];
	char **pii_names; /* names of the PII columns, in column order */
	size_t npii;
	uint32_t header_len;
	uint64_t rows;
	uint64_t size[2]; /* of each view */
	struct segment_group *groups;
	size_t ngroups;
	struct segment_chunk *chunks; /* ngroups × npii */
	/*
	 * Bit g: group g's masked bytes matched their CRC. Readers of a const segment set bits as
	 * they check groups, from many threads at once, hence atomics; a bit guards no other
	 * memory, so relaxed order is enough.
	 */
	atomic_ulong *checked;
	/* Lock g % SEGMENT_CHECK_LOCKS is held while group g is checked from the file, so that
	 * readers of one group (the kernel's readahead sends several) check it once. */
	pthread_mutex_t *check_locks;
	size_t nlocks; /* initialized */
};

struct segment_cache {
	int valid;
	uint8_t id[SEGMENT_ID_BYTES]; /* of the segment the group belongs to */
	size_t group;
	struct strbuf plain;
};

/* The parse functions return NULL or what is wrong; this one is not the file's fault. */
static const char segment_oom[] = "out of memory";

/* A bounded view of the index: reads past its end set bad instead. */
struct cursor {
	const uint8_t *p;
	size_t left;
	int bad;
};

static const uint8_t *cursor_take(struct cursor *c, size_t n)
{
	const uint8_t *p = c->p;

	if (c->bad || n > c->left) {
		c->bad = 1;
		return NULL;
	}
	c->p += n;
	c->left -= n;
	return p;
}

static uint8_t cursor_u8(struct cursor *c)
{
	const uint8_t *p = cursor_take(c, 1);

	return p ? p[0] : 0;
}

static uint16_t cursor_u16(struct cursor *c)
{
	const uint8_t *p = cursor_take(c, 2);

	return p ? get_u16(p) : 0;
}

static uint32_t cursor_u32(struct cursor *c)
{
	const uint8_t *p = cursor_take(c, 4);

	return p ? get_u32(p) : 0;
}

static uint64_t cursor_u64(struct cursor *c)
{
	const uint8_t *p = cursor_take(c, 8);

	return p ? get_u64(p) : 0;
}

/* Reads exactly len bytes at off: -EIO for anything short (the index said they are there). */
static int blob_read(struct store_blob *b, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = store_blob_pread(b, (char *)buf + done, len - done, off + done);
		if (n == -EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

void segment_close(struct segment *seg)
{
	size_t i;

	if (!seg)
		return;
	store_blob_close(seg->blob);
	if (seg->pii_names) {
		for (i = 0; i < seg->npii; i++)
			free(seg->pii_names[i]);
	}
	free(seg->pii_names);
	free(seg->binding);
	free(seg->groups);
	free(seg->chunks);
	free(seg->checked);
	for (i = 0; i < seg->nlocks; i++)
		pthread_mutex_destroy(&seg->check_locks[i]);
	free(seg->check_locks);
	free(seg);
}

/* Reads the columns of the index; NULL on success, else what is wrong. */
static const char *segment_parse_columns(struct segment *seg, struct cursor *c)
{
	const uint8_t *name;
	uint32_t ncolumns, i;
	uint16_t len;
	uint8_t flags, mask;
	size_t k = 0;
	struct cursor scan;

	ncolumns = cursor_u32(c);
	if (c->bad || !ncolumns || ncolumns > SEGMENT_MAX_COLUMNS)
		return "bad number of columns";
	/* A first pass counts the PII columns, so that their names fit one allocation. */
	scan = *c;
	for (i = 0; i < ncolumns; i++) {
		len = cursor_u16(&scan);
		cursor_take(&scan, len);
		flags = cursor_u8(&scan);
		cursor_u8(&scan);
		if (scan.bad)
			return "truncated columns";
		seg->npii += flags & 1;
	}
	seg->pii_names = calloc(seg->npii ? seg->npii : 1, sizeof(*seg->pii_names));
	if (!seg->pii_names)
		return segment_oom;
	for (i = 0; i < ncolumns; i++) {
		len = cursor_u16(c);
		name = cursor_take(c, len);
		flags = cursor_u8(c);
		mask = cursor_u8(c);
		assert(!c->bad);
		if (!len || memchr(name, '\0', len))
			return "bad column name";
		if (flags > 1 || mask > MASK_NULL || (!flags && mask))
			return "bad column flags";
		if (!flags)
			continue;
		seg->pii_names[k] = strndup((const char *)name, len);
		if (!seg->pii_names[k++])
			return segment_oom;
	}
	return NULL;
}

/* Reads and checks the groups of the index; NULL on success, else what is wrong. */
static const char *segment_parse_groups(struct segment *seg, struct cursor *c, uint64_t index_off)
{
	uint64_t ngroups, rows = 0, pos, entry, view[2];
	struct segment_group *g;
	struct segment_chunk *ch;
	uint32_t grows;
	size_t i, k, words;

	seg->rows = cursor_u64(c);
	seg->size[SEGMENT_MASKED] = cursor_u64(c);
	seg->size[SEGMENT_PLAIN] = cursor_u64(c);
	ngroups = cursor_u64(c);
	if (c->bad)
		return "truncated index";
	entry = SEGMENT_GROUP_HEAD + (uint64_t)seg->npii * SEGMENT_CHUNK_ENTRY;
	if (ngroups != c->left / entry || c->left % entry)
		return "bad number of groups";
	seg->ngroups = (size_t)ngroups;
	seg->groups = calloc(ngroups ? ngroups : 1, sizeof(*seg->groups));
	seg->chunks = calloc(ngroups && seg->npii ? ngroups * seg->npii : 1, sizeof(*seg->chunks));
	words = seg->ngroups / SEGMENT_WORD_BITS + 1;
	seg->checked = malloc(words * sizeof(*seg->checked));
	if (!seg->groups || !seg->chunks || !seg->checked)
		return segment_oom;
	for (i = 0; i < words; i++)
		atomic_init(&seg->checked[i], 0);
	pos = SEGMENT_HEAD + (uint64_t)seg->header_len;
	view[0] = view[1] = seg->header_len;
	for (i = 0; i < seg->ngroups; i++) {
		g = &seg->groups[i];
		g->off = cursor_u64(c);
		g->len[SEGMENT_MASKED] = cursor_u32(c);
		g->len[SEGMENT_PLAIN] = cursor_u32(c);
		grows = cursor_u32(c);
		g->crc = cursor_u32(c);
		assert(!c->bad);
		if (g->off != pos || !g->len[0] || !g->len[1] || !grows)
			return "bad group";
		if (!seg->npii && g->len[0] != g->len[1])
			return "bad group length";
		if (g->len[0] > index_off - pos)
			return "group beyond the index";
		pos += g->len[0];
		g->view_off[0] = view[0];
		g->view_off[1] = view[1];
		view[0] += g->len[0];
		view[1] += g->len[1];
		rows += grows;
		for (k = 0; k < seg->npii; k++) {
			ch = &seg->chunks[i * seg->npii + k];
			ch->off = cursor_u64(c);
			ch->len = cursor_u64(c);
			assert(!c->bad);
			if (ch->off != pos || ch->len < SEAL_OVERHEAD || ch->len > index_off - pos)
				return "bad chunk";
			pos += ch->len;
		}
	}
	if (pos != index_off)
		return "data does not end at the index";
	if (rows != seg->rows || view[0] != seg->size[0] || view[1] != seg->size[1])
		return "totals do not add up";
	return NULL;
}

/* Checks the header line against its CRC; NULL on success, else what is wrong. */
static const char *segment_check_header(struct segment *seg, uint32_t crc)
{
	const char *why = NULL;
	uint8_t *line;

	line = malloc(seg->header_len);
	if (!line)
		return segment_oom;
	if (blob_read(seg->blob, line, seg->header_len, SEGMENT_HEAD))
		why = "unreadable header line";
	else if (crc32c(0, line, seg->header_len) != crc)
		why = "header line damaged (CRC mismatch)";
	free(line);
	return why;
}

/*
 * Reads and checks the file header, trailer, index and header line; NULL on success, else what
 * is wrong.
 */
static const char *segment_parse(struct segment *seg, uint8_t **index)
{
	uint8_t head[SEGMENT_HEAD], trailer[SEGMENT_TRAILER];
	uint64_t size, index_off;
	uint32_t index_len, header_crc;
	struct cursor c;
	const char *why;

	size = store_blob_size(seg->blob);
	if (size < SEGMENT_HEAD + SEGMENT_TRAILER)
		return "too short";
	if (blob_read(seg->blob, head, sizeof(head), 0) ||
	    blob_read(seg->blob, trailer, sizeof(trailer), size - SEGMENT_TRAILER))
		return "unreadable";
	if (memcmp(head, SEGMENT_MAGIC, 4) || memcmp(trailer + SEGMENT_TRAILER_END, SEGMENT_END, 8))
		return "bad magic";
	if (get_u16(head + SEGMENT_HEAD_FORMAT) != SEGMENT_FORMAT ||
	    get_u16(head + SEGMENT_HEAD_RESERVED))
		return "unknown format";
	memcpy(seg->id, head + SEGMENT_HEAD_ID, SEGMENT_ID_BYTES);
	index_off = get_u64(trailer);
	index_len = get_u32(trailer + SEGMENT_TRAILER_INDEX_LEN);
	if (index_off < SEGMENT_HEAD || index_off > size - SEGMENT_TRAILER ||
	    index_len != size - SEGMENT_TRAILER - index_off)
		return "bad index position";
	*index = malloc(index_len ? index_len : 1);
	if (!*index)
		return segment_oom;
	if (blob_read(seg->blob, *index, index_len, index_off))
		return "unreadable index";
	/* Before parsing: damage can be well-formed (a letter of a name, a mask kind). */
	if (crc32c(0, *index, index_len) != get_u32(trailer + SEGMENT_TRAILER_INDEX_CRC))
		return "index damaged (CRC mismatch)";
	c.p = *index;
	c.left = index_len;
	c.bad = 0;
	if (!cursor_take(&c, SEGMENT_ID_BYTES) || memcmp(*index, seg->id, SEGMENT_ID_BYTES))
		return "index of another segment";
	why = segment_parse_columns(seg, &c);
	if (why)
		return why;
	seg->header_len = cursor_u32(&c);
	header_crc = cursor_u32(&c);
	if (c.bad || !seg->header_len || seg->header_len > index_off - SEGMENT_HEAD)
		return "bad header line";
	why = segment_parse_groups(seg, &c, index_off);
	if (why)
		return why;
	return segment_check_header(seg, header_crc);
}

int segment_open(struct segment **out, struct store *st, const char *id, const char *binding,
		 struct mfs_error *err)
{
	struct segment *seg;
	uint8_t *index = NULL;
	const char *why;
	int rc;

	seg = calloc(1, sizeof(*seg));
	if (!seg)
		return mfs_error_set(err, ENOMEM, "out of memory");
	seg->binding = strdup(binding);
	seg->check_locks = malloc(SEGMENT_CHECK_LOCKS * sizeof(*seg->check_locks));
	if (!seg->binding || !seg->check_locks) {
		rc = mfs_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	for (; seg->nlocks < SEGMENT_CHECK_LOCKS; seg->nlocks++) {
		rc = pthread_mutex_init(&seg->check_locks[seg->nlocks], NULL);
		if (rc) {
			rc = mfs_error_set(err, rc, "segment: %s", strerror(rc));
			goto out;
		}
	}
	rc = store_blob_open(st, id, &seg->blob);
	if (rc) {
		mfs_error_set(err, rc, "segment %s: %s", id, strerror(-rc));
		goto out;
	}
	why = segment_parse(seg, &index);
	if (why) {
		if (why == segment_oom)
			rc = mfs_error_set(err, ENOMEM, "out of memory");
		else
			rc = mfs_error_set(err, EIO, "segment %s: not a well-formed segment: %s",
					   id, why);
		goto out;
	}
	*out = seg;
	seg = NULL;
out:
	free(index);
	segment_close(seg);
	return rc;
}

uint64_t segment_rows(const struct segment *seg)
{
	return seg->rows;
}

int segment_has_pii(const struct segment *seg)
{
	return seg->npii > 0;
}

uint64_t segment_view_size(const struct segment *seg, enum segment_view view)
{
	return seg->size[view];
}

struct segment_cache *segment_cache_new(void)
{
	struct segment_cache *c = calloc(1, sizeof(*c));

	if (c)
		strbuf_init(&c->plain);
	return c;
}

void segment_cache_free(struct segment_cache *cache)
{
	if (!cache)
		return;
	strbuf_release_secure(&cache->plain);
	free(cache);
}

/* The group holding byte pos (past the header line) of view. */
static size_t segment_find_group(const struct segment *seg, enum segment_view view, uint64_t pos)
{
	size_t lo = 0, hi = seg->ngroups, mid;

	assert(seg->ngroups && pos >= seg->groups[0].view_off[view]);
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (seg->groups[mid].view_off[view] <= pos)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static int segment_checked(const struct segment *seg, size_t g)
{
	return (atomic_load_explicit(&seg->checked[g / SEGMENT_WORD_BITS], memory_order_relaxed) >>
		(g % SEGMENT_WORD_BITS)) &
	       1;
}

/* Compares the CRC a reader computed over group g's masked bytes with the index's: 0 (and g is
 * checked from now on) or -EIO. */
static int segment_check(const struct segment *seg, size_t g, uint32_t crc)
{
	if (crc != seg->groups[g].crc)
		return -EIO;
	atomic_fetch_or_explicit(&seg->checked[g / SEGMENT_WORD_BITS],
				 1UL << (g % SEGMENT_WORD_BITS), memory_order_relaxed);
	return 0;
}

/*
 * Checks group g's masked bytes in the file unless this open segment did already: 0, -EIO or
 * -ENOMEM. The file is read a piece at a time into a buffer that stays in cache for the CRC: one
 * copy from the page cache per group and open segment, and the bytes are then in cache for the
 * reply. Read rather than mapped: through a mapping, a disk error would be a SIGBUS that takes
 * the daemon down, instead of -EIO for one read.
 */
static int segment_check_file(const struct segment *seg, size_t g)
{
	const struct segment_group *grp = &seg->groups[g];
	uint32_t crc = 0, done, n;
	pthread_mutex_t *lock;
	uint8_t *buf = NULL;
	int rc = 0;

	if (segment_checked(seg, g))
		return 0;
	lock = &seg->check_locks[g % SEGMENT_CHECK_LOCKS];
	pthread_mutex_lock(lock);
	/* Another reader may have checked it while this one waited. */
	if (segment_checked(seg, g))
		goto out;
	buf = malloc(SEGMENT_CHECK_BYTES);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	for (done = 0; done < grp->len[SEGMENT_MASKED]; done += n) {
		n = grp->len[SEGMENT_MASKED] - done;
		if (n > SEGMENT_CHECK_BYTES)
			n = SEGMENT_CHECK_BYTES;
		rc = blob_read(seg->blob, buf, n, grp->off + done);
		if (rc)
			goto out;
		crc = crc32c(crc, buf, n);
	}
	rc = segment_check(seg, g, crc);
out:
	pthread_mutex_unlock(lock);
	free(buf);
	return rc;
}

/* One PII column's cell records while they are merged. */
struct cell_cursor {
	struct cursor c;
	int has;
	uint32_t pos, mlen, plen;
	const uint8_t *plain;
};

/* Steps to the next record: 0 (has tells whether there is one) or -EIO if it is cut short. */
static int cell_next(struct cell_cursor *cc)
{
	cc->has = 0;
	if (!cc->c.left)
		return 0;
	cc->pos = cursor_u32(&cc->c);
	cc->mlen = cursor_u32(&cc->c);
	cc->plen = cursor_u32(&cc->c);
	cc->plain = cursor_take(&cc->c, cc->plen);
	if (cc->c.bad)
		return -EIO;
	cc->has = 1;
	return 0;
}

/*
 * Splices the cells of every PII column into the masked bytes of a group, giving exactly
 * plain_len bytes in out (which has room for them). Cells must come in increasing positions,
 * each within the masked bytes and none overlapping another: anything else is -EIO.
 */
static int segment_splice(const struct strbuf *masked, struct strbuf *cells, size_t npii,
			  uint32_t plain_len, struct strbuf *out)
{
	struct cell_cursor *cc;
	struct cell_cursor *next;
	uint64_t end = 0;
	int first = 1, rc = 0;
	uint32_t last_pos = 0;
	size_t k;

	cc = calloc(npii, sizeof(*cc));
	if (!cc)
		return -ENOMEM;
	for (k = 0; k < npii; k++) {
		cc[k].c.p = (const uint8_t *)cells[k].buf;
		cc[k].c.left = cells[k].len;
		rc = cell_next(&cc[k]);
		if (rc)
			goto out;
	}
	for (;;) {
		next = NULL;
		for (k = 0; k < npii; k++) {
			if (cc[k].has && (!next || cc[k].pos < next->pos))
				next = &cc[k];
		}
		if (!next)
			break;
		/* Records of one column in the wrong order also end up here. */
		if (next->pos < end || (!first && next->pos == last_pos) ||
		    (uint64_t)next->pos + next->mlen > masked->len ||
		    out->len + (next->pos - end) + next->plen > plain_len) {
			rc = -EIO;
			goto out;
		}
		strbuf_add(out, masked->buf + end, next->pos - end);
		strbuf_add(out, next->plain, next->plen);
		end = (uint64_t)next->pos + next->mlen;
		last_pos = next->pos;
		first = 0;
		rc = cell_next(next);
		if (rc)
			goto out;
	}
	if (out->len + (masked->len - end) != plain_len) {
		rc = -EIO;
		goto out;
	}
	strbuf_add(out, masked->buf + end, masked->len - end);
out:
	free(cc);
	return rc;
}

/* Decodes the plain bytes of group g into cache (unless they are there already). */
static int segment_decode(struct segment *seg, size_t g, segment_key_fn keyfn, void *keyctx,
			  struct segment_cache *cache)
{
	const struct segment_group *grp = &seg->groups[g];
	const struct segment_chunk *ch;
	struct strbuf masked, chunk, ad, *cells;
	uint8_t key[SEAL_KEY_BYTES];
	uint32_t key_id, have_id = 0;
	int have_key = 0, rc = 0;
	size_t k;

	if (cache->valid && cache->group == g && !memcmp(cache->id, seg->id, SEGMENT_ID_BYTES))
		return 0;
	cache->valid = 0;
	strbuf_reset_secure(&cache->plain);
	strbuf_init(&masked);
	strbuf_init(&chunk);
	strbuf_init(&ad);
	cells = calloc(seg->npii, sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	for (k = 0; k < seg->npii; k++)
		strbuf_init(&cells[k]);

	rc = strbuf_grow(&masked, grp->len[SEGMENT_MASKED]);
	if (rc)
		goto out;
	rc = blob_read(seg->blob, masked.buf, grp->len[SEGMENT_MASKED], grp->off);
	if (rc)
		goto out;
	masked.len = grp->len[SEGMENT_MASKED];
	masked.buf[masked.len] = '\0';
	/* Always, not once: these are the very bytes spliced, and they are in cache. */
	rc = segment_check(seg, g, crc32c(0, masked.buf, masked.len));
	if (rc)
		goto out;
	for (k = 0; k < seg->npii; k++) {
		ch = &seg->chunks[g * seg->npii + k];
		strbuf_reset(&chunk);
		rc = strbuf_grow(&chunk, (size_t)ch->len);
		if (rc)
			goto out;
		rc = blob_read(seg->blob, chunk.buf, (size_t)ch->len, ch->off);
		if (rc)
			goto out;
		chunk.len = (size_t)ch->len;
		rc = seal_chunk_key_id(chunk.buf, chunk.len, &key_id);
		if (rc)
			goto out;
		if (!have_key || key_id != have_id) {
			rc = keyfn(keyctx, key_id, key);
			if (rc)
				goto out;
			have_key = 1;
			have_id = key_id;
		}
		rc = segment_chunk_ad(&ad, seg->binding, seg->pii_names[k], seg->id, g);
		if (rc)
			goto out;
		rc = strbuf_grow_secure(&cells[k], chunk.len - SEAL_OVERHEAD);
		if (rc)
			goto out;
		rc = seal_open(key, ad.buf, ad.len, chunk.buf, chunk.len, &cells[k]);
		if (rc)
			goto out;
	}
	rc = strbuf_grow_secure(&cache->plain, grp->len[SEGMENT_PLAIN]);
	if (rc)
		goto out;
	rc = segment_splice(&masked, cells, seg->npii, grp->len[SEGMENT_PLAIN], &cache->plain);
	if (rc)
		goto out;
	cache->valid = 1;
	cache->group = g;
	memcpy(cache->id, seg->id, SEGMENT_ID_BYTES);
out:
	sodium_memzero(key, sizeof(key));
	for (k = 0; k < seg->npii; k++)
		strbuf_release_secure(&cells[k]);
	free(cells);
	strbuf_release(&masked);
	strbuf_release(&chunk);
	strbuf_release(&ad);
	if (rc) {
		strbuf_reset_secure(&cache->plain);
		if (rc != -ENOMEM)
			rc = -EIO;
	}
	return rc;
}

/*
 * Calls fn for each piece of bytes [off, off + len) of view, in order: the header line (g ==
 * SIZE_MAX), then each group touched, with pos the piece's offset in it and n its length.
 * Returns the bytes covered (short only at the end of the view) or fn's error.
 */
static ssize_t segment_walk(const struct segment *seg, enum segment_view view, uint64_t off,
			    size_t len,
			    int (*fn)(const struct segment *seg, size_t g, uint64_t pos, size_t n,
				      size_t done, void *ctx),
			    void *ctx)
{
	const struct segment_group *grp;
	uint64_t size = seg->size[view], pos;
	size_t done = 0, n, g;
	int rc;

	if (off >= size || !len)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	if (off < seg->header_len) {
		n = (size_t)(seg->header_len - off);
		if (n > len)
			n = len;
		rc = fn(seg, SIZE_MAX, off, n, 0, ctx);
		if (rc)
			return rc;
		done = n;
	}
	g = done < len ? segment_find_group(seg, view, off + done) : 0;
	for (; done < len; g++) {
		assert(g < seg->ngroups);
		grp = &seg->groups[g];
		pos = off + done - grp->view_off[view];
		n = len - done;
		if (n > grp->len[view] - pos)
			n = (size_t)(grp->len[view] - pos);
		rc = fn(seg, g, pos, n, done, ctx);
		if (rc)
			return rc;
		done += n;
	}
	return (ssize_t)done;
}

/* Where a piece of the masked view lies in the file: it is stored as is. */
static uint64_t masked_file_off(const struct segment *seg, size_t g, uint64_t pos)
{
	return g == SIZE_MAX ? SEGMENT_HEAD + pos : seg->groups[g].off + pos;
}

struct read_ctx {
	char *buf;
	enum segment_view view;
	segment_key_fn keyfn;
	void *keyctx;
	struct segment_cache *cache;
};

static int read_piece(const struct segment *seg, size_t g, uint64_t pos, size_t n, size_t done,
		      void *ctx)
{
	struct read_ctx *r = ctx;
	int rc;

	if (g == SIZE_MAX)
		return blob_read(seg->blob, r->buf + done, n, masked_file_off(seg, g, pos));
	if (r->view == SEGMENT_MASKED) {
		rc = segment_check_file(seg, g);
		if (!rc)
			rc = blob_read(seg->blob, r->buf + done, n, masked_file_off(seg, g, pos));
		return rc;
	}
	rc = segment_decode((struct segment *)seg, g, r->keyfn, r->keyctx, r->cache);
	if (!rc)
		memcpy(r->buf + done, r->cache->plain.buf + pos, n);
	return rc;
}

ssize_t segment_read(struct segment *seg, enum segment_view view, void *buf, size_t len,
		     uint64_t off, segment_key_fn keyfn, void *keyctx, struct segment_cache *cache)
{
	struct segment_cache local = {0};
	struct read_ctx r = {
	    .buf = buf, .keyfn = keyfn, .keyctx = keyctx, .cache = cache ? cache : &local};
	ssize_t rc;

	strbuf_init(&local.plain);
	r.view = seg->npii ? view : SEGMENT_MASKED;
	assert(r.view == SEGMENT_MASKED || keyfn);
	rc = segment_walk(seg, r.view, off, len, read_piece, &r);
	strbuf_release_secure(&local.plain);
	return rc;
}

struct extent_ctx {
	int (*cb)(uint64_t file_off, size_t n, void *ctx);
	void *ctx;
};

static int extent_piece(const struct segment *seg, size_t g, uint64_t pos, size_t n, size_t done,
			void *ctx)
{
	struct extent_ctx *e = ctx;
	int rc;

	(void)done;
	if (g != SIZE_MAX) {
		rc = segment_check_file(seg, g);
		if (rc)
			return rc;
	}
	return e->cb(masked_file_off(seg, g, pos), n, e->ctx);
}

ssize_t segment_masked_extents(const struct segment *seg, uint64_t off, size_t len,
			       int (*cb)(uint64_t file_off, size_t n, void *ctx), void *ctx)
{
	struct extent_ctx e = {.cb = cb, .ctx = ctx};

	return segment_walk(seg, SEGMENT_MASKED, off, len, extent_piece, &e);
}

int segment_fd(const struct segment *seg)
{
	return store_blob_fd(seg->blob);
}
