/*
 * Reading a segment (see segment.h and segment_format.h): open and its checks, the two views,
 * reads and the masked view's file extents.
 *
 * Integrity. The trailer's CRC32C covers the index and is checked before the index is parsed;
 * the header line is checked at open and served from memory from then on. Every read that goes
 * to the file checks what it read before any of it is returned: a group's masked bytes against
 * their CRC, its sealed chunks by their AEAD. Nothing is remembered as checked, because the file
 * can change under an open segment (a failing disk, pages read again after the kernel dropped
 * them); only bytes held in a reader's cache, checked when they were read, are served without
 * reading the file again. Hence whole groups are read, and groups are kept small by the writer.
 * CRC32C catches accidental damage only (see common/crc32c.h); sealed chunks carry their own
 * authentication.
 */
#include "table/segment.h"
#include "table/segment_format.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <sodium.h>

#include "crypto/seal.h"
#include "common/crc32c.h"

/* Groups read whole by one read of the file at most; between sealed chunks (the masked view of a
 * table with PII) that read has two vectors a group. */
#define SEGMENT_RUN_MAX 256

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
	unsigned format; /* SEGMENT_FORMAT or SEGMENT_FORMAT_COLUMNS */
	size_t nchunks;	 /* sealed chunks a group: npii in format 1, one (or none) in format 2 */
	char *header;	 /* the header line, checked at open */
	uint32_t header_len;
	uint64_t rows;
	uint64_t size[2]; /* of each view */
	uint64_t index_off;
	struct segment_group *groups;
	size_t ngroups;
	struct segment_chunk *chunks; /* ngroups × nchunks */
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

/* cursor_varint past its first byte. */
static uint32_t cursor_varint_long(struct cursor *c)
{
	uint32_t v = 0;
	const uint8_t *p;

	for (unsigned shift = 0; shift < 7 * SEGMENT_VARINT_MAX; shift += 7) {
		p = cursor_take(c, 1);
		if (!p)
			return 0;
		if (shift == 28 && *p > 0x0f)
			break;
		v |= (uint32_t)(*p & 0x7f) << shift;
		if (!(*p & 0x80))
			return v;
	}
	c->bad = 1;
	return 0;
}

/* A varint of at most 32 bits (segment_format.h); longer or larger ones set bad. */
static inline uint32_t cursor_varint(struct cursor *c)
{
	/* most lengths and gaps are below 128 */
	if (c->left && c->p[0] < 0x80) {
		c->left--;
		return *c->p++;
	}
	return cursor_varint_long(c);
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

/* A check of the blob's bytes failed: -EIO, and the store is to fetch them again next time, so
 * that damage it kept a copy of (a bad answer, an object since repaired) does not stay. */
static int damaged(const struct segment *seg)
{
	store_blob_forget(seg->blob);
	return -EIO;
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
	free(seg->header);
	free(seg->groups);
	free(seg->chunks);
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
	size_t i, k;

	seg->rows = cursor_u64(c);
	seg->size[SEGMENT_MASKED] = cursor_u64(c);
	seg->size[SEGMENT_PLAIN] = cursor_u64(c);
	ngroups = cursor_u64(c);
	if (c->bad)
		return "truncated index";
	seg->nchunks = seg->format == SEGMENT_FORMAT_COLUMNS ? seg->npii : seg->npii > 0;
	entry = SEGMENT_GROUP_HEAD + (uint64_t)seg->nchunks * SEGMENT_CHUNK_ENTRY;
	if (ngroups != c->left / entry || c->left % entry)
		return "bad number of groups";
	seg->ngroups = (size_t)ngroups;
	seg->groups = calloc(ngroups ? ngroups : 1, sizeof(*seg->groups));
	seg->chunks =
	    calloc(ngroups && seg->nchunks ? ngroups * seg->nchunks : 1, sizeof(*seg->chunks));
	if (!seg->groups || !seg->chunks)
		return segment_oom;
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
		for (k = 0; k < seg->nchunks; k++) {
			ch = &seg->chunks[i * seg->nchunks + k];
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

/* Reads the header line and checks it against its CRC; NULL on success, else what is wrong. */
static const char *segment_check_header(struct segment *seg, uint32_t crc)
{
	seg->header = malloc(seg->header_len);
	if (!seg->header)
		return segment_oom;
	if (blob_read(seg->blob, seg->header, seg->header_len, SEGMENT_HEAD))
		return "unreadable header line";
	if (crc32c(0, seg->header, seg->header_len) != crc)
		return "header line damaged (CRC mismatch)";
	return NULL;
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
	seg->format = get_u16(head + SEGMENT_HEAD_FORMAT);
	if ((seg->format != SEGMENT_FORMAT && seg->format != SEGMENT_FORMAT_COLUMNS) ||
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
	/* Format 2's covers the head as well: a format field or id changed would read */
	if (crc32c(seg->format == SEGMENT_FORMAT_COLUMNS ? 0 : crc32c(0, head, sizeof(head)),
		   *index, index_len) != get_u32(trailer + SEGMENT_TRAILER_INDEX_CRC))
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
	seg->index_off = index_off;
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
	if (!seg->binding) {
		rc = mfs_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	rc = store_blob_open(st, id, &seg->blob);
	if (rc) {
		mfs_error_set(err, rc, "segment %s: %s", id, strerror(-rc));
		goto out;
	}
	why = segment_parse(seg, &index);
	if (why) {
		if (why == segment_oom) {
			rc = mfs_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
		rc = damaged(seg);
		mfs_error_set(err, EIO, "segment %s: not a well-formed segment: %s", id, why);
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

/* One PII column's cell records while they are merged (format 1). */
struct cell_cursor {
	struct cursor c;
	int has;
	uint32_t pos, mlen, plen;
	const uint8_t *plain;
};

/*
 * What a reader keeps between reads: the last group that a read did not take whole, as checked
 * (and for the plain view decoded) when it was read, so that the next read, which usually
 * starts there, need not read it again; and what decoding reuses: buffers and the data key.
 */
struct segment_cache {
	int valid;
	enum segment_view view;
	uint8_t id[SEGMENT_ID_BYTES]; /* of the segment the group belongs to */
	size_t group;
	struct strbuf bytes;  /* the group's bytes in that view: plaintext for the plain view */
	struct strbuf file;   /* the file bytes of the groups being decoded */
	struct strbuf *cells; /* per PII column, the plaintext cells of one chunk */
	struct cell_cursor *cursors;
	size_t ncells; /* entries of cells and cursors */
	struct strbuf ad;
	/* the last data key looked up, and through what */
	int have_key;
	uint32_t key_id;
	segment_key_fn keyfn;
	void *keyctx;
	uint8_t key[SEAL_KEY_BYTES];
};

static void segment_cache_init(struct segment_cache *c)
{
	memset(c, 0, sizeof(*c));
	strbuf_init(&c->bytes);
	strbuf_init(&c->file);
	strbuf_init(&c->ad);
}

static void segment_cache_release(struct segment_cache *c)
{
	size_t k;

	strbuf_release_secure(&c->bytes);
	strbuf_release(&c->file);
	strbuf_release(&c->ad);
	for (k = 0; k < c->ncells; k++)
		strbuf_release_secure(&c->cells[k]);
	free(c->cells);
	free(c->cursors);
	sodium_memzero(c->key, sizeof(c->key));
}

struct segment_cache *segment_cache_new(void)
{
	struct segment_cache *c = malloc(sizeof(*c));

	if (c)
		segment_cache_init(c);
	return c;
}

void segment_cache_free(struct segment_cache *cache)
{
	if (!cache)
		return;
	segment_cache_release(cache);
	free(cache);
}

/* Makes room for the cells of npii sealed chunks: 0 or -ENOMEM. */
static int cache_cells(struct segment_cache *c, size_t npii)
{
	struct strbuf *cells;
	struct cell_cursor *cursors;
	size_t k;

	if (npii <= c->ncells)
		return 0;
	cells = calloc(npii, sizeof(*cells));
	cursors = calloc(npii, sizeof(*cursors));
	if (!cells || !cursors) {
		free(cells);
		free(cursors);
		return -ENOMEM;
	}
	for (k = 0; k < npii; k++) {
		if (k < c->ncells)
			cells[k] = c->cells[k];
		else
			strbuf_init(&cells[k]);
	}
	free(c->cells);
	free(c->cursors);
	c->cells = cells;
	c->cursors = cursors;
	c->ncells = npii;
	return 0;
}

static int cache_holds(const struct segment_cache *c, const struct segment *seg,
		       enum segment_view view, size_t g)
{
	return c->valid && c->view == view && c->group == g &&
	       !memcmp(c->id, seg->id, SEGMENT_ID_BYTES);
}

/* Empties the cache for a group of view, zeroing the plaintext it held. */
static void cache_drop(struct segment_cache *c, enum segment_view view)
{
	c->valid = 0;
	if (c->view == SEGMENT_PLAIN)
		strbuf_reset_secure(&c->bytes);
	else
		strbuf_reset(&c->bytes);
	c->view = view;
}

/* The cache's bytes are group g's, len of them. */
static void cache_keep(struct segment_cache *c, const struct segment *seg, size_t g, size_t len)
{
	c->bytes.len = len;
	c->valid = 1;
	c->group = g;
	memcpy(c->id, seg->id, SEGMENT_ID_BYTES);
}

/* The data key key_id into c->key, looked up only if c does not hold it: 0 or keyfn's error. */
static int cache_key(struct segment_cache *c, uint32_t key_id, segment_key_fn keyfn, void *keyctx)
{
	int rc;

	if (c->have_key && c->key_id == key_id && c->keyfn == keyfn && c->keyctx == keyctx)
		return 0;
	c->have_key = 0;
	rc = keyfn(keyctx, key_id, c->key);
	if (rc)
		return rc;
	c->have_key = 1;
	c->key_id = key_id;
	c->keyfn = keyfn;
	c->keyctx = keyctx;
	return 0;
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

/* Where group g's file bytes (its masked bytes and sealed chunks) end. */
static uint64_t group_file_end(const struct segment *seg, size_t g)
{
	return g + 1 < seg->ngroups ? seg->groups[g + 1].off : seg->index_off;
}

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
 * Format 2: splices the cells of a group's opened chunk into its mlen masked bytes, giving
 * exactly plain_len bytes at out. Each cell must lie within the masked bytes, after the one
 * before and not at its position: anything else is -EIO.
 */
static int segment_splice(const uint8_t *masked, uint32_t mlen, const struct strbuf *cells,
			  uint32_t plain_len, char *out)
{
	struct cursor c = {.p = (const uint8_t *)cells->buf, .left = cells->len};
	uint64_t end = 0, len = 0;
	uint32_t gap, cell_mlen = 1, plen;
	const uint8_t *plain;

	while (c.left) {
		gap = cursor_varint(&c);
		/* two cells at one position: only after an empty masked field */
		if (!gap && !cell_mlen)
			return -EIO;
		cell_mlen = cursor_varint(&c);
		plen = cursor_varint(&c);
		plain = cursor_take(&c, plen);
		if (c.bad || gap > mlen - end || cell_mlen > mlen - end - gap ||
		    len + gap + plen > plain_len)
			return -EIO;
		memcpy(out + len, masked + end, gap);
		len += gap;
		memcpy(out + len, plain, plen);
		len += plen;
		end += (uint64_t)gap + cell_mlen;
	}
	if (len + (mlen - end) != plain_len)
		return -EIO;
	memcpy(out + len, masked + end, mlen - end);
	return 0;
}

/*
 * Format 1: splices the cells of every PII column into a group's mlen masked bytes, giving
 * exactly plain_len bytes at out. Cells must come in increasing positions, each within the
 * masked bytes and none overlapping another: anything else is -EIO.
 */
static int segment_splice_columns(const uint8_t *masked, uint32_t mlen, const struct strbuf *cells,
				  struct cell_cursor *cc, size_t npii, uint32_t plain_len,
				  char *out)
{
	struct cell_cursor *next;
	uint64_t end = 0, len = 0;
	uint32_t last_pos = 0;
	int first = 1, rc;
	size_t k;

	for (k = 0; k < npii; k++) {
		cc[k].c.p = (const uint8_t *)cells[k].buf;
		cc[k].c.left = cells[k].len;
		cc[k].c.bad = 0;
		rc = cell_next(&cc[k]);
		if (rc)
			return rc;
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
		    (uint64_t)next->pos + next->mlen > mlen ||
		    len + (next->pos - end) + next->plen > plain_len)
			return -EIO;
		memcpy(out + len, masked + end, next->pos - end);
		len += next->pos - end;
		memcpy(out + len, next->plain, next->plen);
		len += next->plen;
		end = (uint64_t)next->pos + next->mlen;
		last_pos = next->pos;
		first = 0;
		rc = cell_next(next);
		if (rc)
			return rc;
	}
	if (len + (mlen - end) != plain_len)
		return -EIO;
	memcpy(out + len, masked + end, mlen - end);
	return 0;
}

/*
 * Checks group g's file bytes at p (its masked bytes, then its sealed chunks) and writes its
 * plain bytes at out, which has room for them: 0, -EIO, -ENOMEM or keyfn's error. The
 * plaintext cells do not outlive the call.
 */
static int group_decode(const struct segment *seg, size_t g, const uint8_t *p,
			struct segment_cache *c, segment_key_fn keyfn, void *keyctx, char *out)
{
	const struct segment_group *grp = &seg->groups[g];
	const struct segment_chunk *ch;
	const uint8_t *chunk;
	uint32_t key_id;
	size_t k;
	int rc = 0;

	if (crc32c(0, p, grp->len[SEGMENT_MASKED]) != grp->crc)
		return damaged(seg);
	for (k = 0; k < seg->nchunks && !rc; k++) {
		ch = &seg->chunks[g * seg->nchunks + k];
		chunk = p + (ch->off - grp->off);
		rc = seal_chunk_key_id(chunk, (size_t)ch->len, &key_id);
		if (!rc)
			rc = cache_key(c, key_id, keyfn, keyctx);
		if (!rc)
			rc = segment_chunk_ad(
			    &c->ad, seg->binding,
			    seg->format == SEGMENT_FORMAT_COLUMNS ? seg->pii_names[k] : "", seg->id,
			    g);
		if (!rc)
			rc = strbuf_grow_secure(&c->cells[k], (size_t)ch->len - SEAL_OVERHEAD);
		if (!rc)
			rc = seal_open(c->key, c->ad.buf, c->ad.len, chunk, (size_t)ch->len,
				       &c->cells[k]);
	}
	if (!rc && seg->format == SEGMENT_FORMAT_COLUMNS)
		rc = segment_splice_columns(p, grp->len[SEGMENT_MASKED], c->cells, c->cursors,
					    seg->npii, grp->len[SEGMENT_PLAIN], out);
	else if (!rc)
		rc = segment_splice(p, grp->len[SEGMENT_MASKED], c->cells, grp->len[SEGMENT_PLAIN],
				    out);
	for (k = 0; k < seg->nchunks; k++)
		strbuf_reset_secure(&c->cells[k]);
	return rc == -EIO ? damaged(seg) : rc;
}

/* One segment_read: bytes [off, off + len) of view into buf, done of them so far. */
struct read_state {
	const struct segment *seg;
	enum segment_view view;
	char *buf;
	uint64_t off;
	size_t len, done;
	segment_key_fn keyfn;
	void *keyctx;
	struct segment_cache *c;
};

/* Where the read's next byte lies in group g (pos) and how many of its bytes g holds (n). */
static void read_piece(const struct read_state *r, size_t g, uint64_t *pos, size_t *n)
{
	const struct segment_group *grp = &r->seg->groups[g];

	*pos = r->off + r->done - grp->view_off[r->view];
	*n = r->len - r->done;
	if (*n > grp->len[r->view] - *pos)
		*n = (size_t)(grp->len[r->view] - *pos);
}

/* Whether the masked bytes of group g follow those of group g - 1 in the file (no PII). */
static int masked_adjacent(const struct segment *seg, size_t g)
{
	const struct segment_group *prev = &seg->groups[g - 1];

	return prev->off + prev->len[SEGMENT_MASKED] == seg->groups[g].off;
}

/*
 * Reads the masked bytes of groups [g0, g1] with one preadv of fd: each group's to its place at
 * out, the sealed chunks between them to sink, which has room for the largest: 0 or -EIO.
 */
static int readv_masked(const struct segment *seg, int fd, size_t g0, size_t g1, char *out,
			char *sink)
{
	struct iovec iov[SEGMENT_RUN_MAX * 2];
	const struct segment_group *grp;
	uint64_t off = seg->groups[g0].off;
	size_t g, n = 0;
	ssize_t got;

	assert(g1 - g0 < SEGMENT_RUN_MAX);
	for (g = g0; g <= g1; g++) {
		grp = &seg->groups[g];
		iov[n].iov_base = out;
		iov[n++].iov_len = grp->len[SEGMENT_MASKED];
		out += grp->len[SEGMENT_MASKED];
		if (g == g1)
			break;
		iov[n].iov_base = sink;
		iov[n++].iov_len =
		    (size_t)(seg->groups[g + 1].off - grp->off - grp->len[SEGMENT_MASKED]);
	}
	for (g = 0; g < n;) {
		got = preadv(fd, iov + g, (int)(n - g), (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -EIO;
		off += (uint64_t)got;
		for (; g < n && (size_t)got >= iov[g].iov_len; g++)
			got -= (ssize_t)iov[g].iov_len;
		if (g < n) {
			iov[g].iov_base = (char *)iov[g].iov_base + got;
			iov[g].iov_len -= (size_t)got;
		}
	}
	return 0;
}

/*
 * Reads the masked bytes of groups [g0, g1] straight to out, one after the other, and checks
 * them: 0, -EIO or -ENOMEM. One read of the file: the groups lie next to each other there, or
 * the sealed chunks between them go to a scratch buffer of c.
 */
static int read_masked_whole(const struct segment *seg, struct segment_cache *c, size_t g0,
			     size_t g1, char *out)
{
	const struct segment_group *grp;
	uint64_t start = seg->groups[g0].off, gap, sink = 0;
	size_t g, done = 0;
	int rc = 0;

	for (g = g0 + 1; g <= g1; g++) {
		grp = &seg->groups[g - 1];
		gap = seg->groups[g].off - grp->off - grp->len[SEGMENT_MASKED];
		sink = gap > sink ? gap : sink;
	}
	if (!sink) {
		grp = &seg->groups[g1];
		rc = blob_read(seg->blob, out,
			       (size_t)(grp->off + grp->len[SEGMENT_MASKED] - start), start);
	} else {
		strbuf_reset(&c->file);
		rc = strbuf_grow(&c->file, (size_t)sink);
		if (!rc)
			rc = readv_masked(seg, segment_fd(seg), g0, g1, out, c->file.buf);
	}
	for (g = g0; g <= g1 && !rc; g++) {
		grp = &seg->groups[g];
		if (crc32c(0, out + done, grp->len[SEGMENT_MASKED]) != grp->crc)
			rc = damaged(seg);
		done += grp->len[SEGMENT_MASKED];
	}
	return rc;
}

/* Reads group g's masked bytes into the cache and checks them: 0, -EIO or -ENOMEM. */
static int cache_fill_masked(const struct segment *seg, struct segment_cache *c, size_t g)
{
	const struct segment_group *grp = &seg->groups[g];
	size_t len = grp->len[SEGMENT_MASKED];
	int rc;

	cache_drop(c, SEGMENT_MASKED);
	rc = strbuf_grow(&c->bytes, len);
	if (!rc)
		rc = blob_read(seg->blob, c->bytes.buf, len, grp->off);
	if (!rc && crc32c(0, c->bytes.buf, len) != grp->crc)
		rc = damaged(seg);
	if (!rc)
		cache_keep(c, seg, g, len);
	return rc;
}

/*
 * The masked view from group g on. Groups the read takes whole go straight from the file to
 * buf, in runs of one read each (of groups next to each other in the file, or of any where the
 * segment's file has a descriptor); a group taken in part goes through the cache.
 */
static int read_masked(struct read_state *r, size_t g)
{
	const struct segment *seg = r->seg;
	const struct segment_group *grp;
	size_t n, run = SIZE_MAX, run_done = 0;
	int vector = segment_fd(seg) >= 0, rc = 0;
	uint64_t pos;

	for (; r->done < r->len && !rc; g++) {
		assert(g < seg->ngroups);
		grp = &seg->groups[g];
		read_piece(r, g, &pos, &n);
		if (n == grp->len[SEGMENT_MASKED] && !cache_holds(r->c, seg, SEGMENT_MASKED, g)) {
			if (run != SIZE_MAX &&
			    (g - run == SEGMENT_RUN_MAX || (!vector && !masked_adjacent(seg, g)))) {
				rc = read_masked_whole(seg, r->c, run, g - 1, r->buf + run_done);
				run = SIZE_MAX;
			}
			if (run == SIZE_MAX) {
				run = g;
				run_done = r->done;
			}
			r->done += n;
			continue;
		}
		if (run != SIZE_MAX) {
			rc = read_masked_whole(seg, r->c, run, g - 1, r->buf + run_done);
			run = SIZE_MAX;
		}
		if (!rc && !cache_holds(r->c, seg, SEGMENT_MASKED, g))
			rc = cache_fill_masked(seg, r->c, g);
		if (!rc) {
			memcpy(r->buf + r->done, r->c->bytes.buf + pos, n);
			r->done += n;
		}
	}
	if (!rc && run != SIZE_MAX)
		rc = read_masked_whole(seg, r->c, run, g - 1, r->buf + run_done);
	return rc;
}

/*
 * The plain view of groups [g0, g1], with one read of their file bytes: each group the read
 * takes whole is decoded straight into buf, one taken in part into the cache.
 */
static int read_plain_run(struct read_state *r, size_t g0, size_t g1)
{
	const struct segment *seg = r->seg;
	struct segment_cache *c = r->c;
	const struct segment_group *grp;
	uint64_t start = seg->groups[g0].off, pos;
	size_t span = (size_t)(group_file_end(seg, g1) - start), n, g;
	const uint8_t *p;
	int rc;

	strbuf_reset(&c->file);
	rc = strbuf_grow(&c->file, span);
	if (!rc)
		rc = blob_read(seg->blob, c->file.buf, span, start);
	for (g = g0; g <= g1 && !rc; g++) {
		grp = &seg->groups[g];
		p = (const uint8_t *)c->file.buf + (grp->off - start);
		read_piece(r, g, &pos, &n);
		if (n == grp->len[SEGMENT_PLAIN]) {
			rc = group_decode(seg, g, p, c, r->keyfn, r->keyctx, r->buf + r->done);
		} else {
			cache_drop(c, SEGMENT_PLAIN);
			rc = strbuf_grow_secure(&c->bytes, grp->len[SEGMENT_PLAIN]);
			/* counted from now on, so that a failed decode's bytes are zeroed too */
			if (!rc)
				c->bytes.len = grp->len[SEGMENT_PLAIN];
			if (!rc)
				rc = group_decode(seg, g, p, c, r->keyfn, r->keyctx, c->bytes.buf);
			if (!rc) {
				cache_keep(c, seg, g, grp->len[SEGMENT_PLAIN]);
				memcpy(r->buf + r->done, c->bytes.buf + pos, n);
			}
		}
		if (!rc)
			r->done += n;
	}
	return rc;
}

/* The plain view from group g on: the group in the cache from there, the others in runs. */
static int read_plain(struct read_state *r, size_t g)
{
	const struct segment *seg = r->seg;
	struct segment_cache *c = r->c;
	size_t last, n;
	uint64_t pos;
	int rc;

	rc = cache_cells(c, seg->nchunks);
	while (!rc && r->done < r->len) {
		if (cache_holds(c, seg, SEGMENT_PLAIN, g)) {
			read_piece(r, g, &pos, &n);
			memcpy(r->buf + r->done, c->bytes.buf + pos, n);
			r->done += n;
			g++;
			continue;
		}
		last = segment_find_group(seg, SEGMENT_PLAIN, r->off + r->len - 1);
		if (c->valid && c->view == SEGMENT_PLAIN && c->group > g && c->group <= last &&
		    !memcmp(c->id, seg->id, SEGMENT_ID_BYTES))
			last = c->group - 1;
		rc = read_plain_run(r, g, last);
		g = last + 1;
	}
	return rc;
}

ssize_t segment_read(struct segment *seg, enum segment_view view, void *buf, size_t len,
		     uint64_t off, segment_key_fn keyfn, void *keyctx, struct segment_cache *cache)
{
	struct segment_cache local;
	struct read_state r = {
	    .seg = seg, .buf = buf, .off = off, .keyfn = keyfn, .keyctx = keyctx};
	uint64_t size;
	size_t n;
	int rc = 0;

	r.view = seg->npii ? view : SEGMENT_MASKED;
	assert(r.view == SEGMENT_MASKED || keyfn);
	size = seg->size[r.view];
	if (off >= size || !len)
		return 0;
	r.len = len > size - off ? (size_t)(size - off) : len;
	if (r.len > SSIZE_MAX)
		r.len = SSIZE_MAX;
	if (off < seg->header_len) {
		n = (size_t)(seg->header_len - off);
		if (n > r.len)
			n = r.len;
		memcpy(r.buf, seg->header + off, n);
		r.done = n;
	}
	if (r.done == r.len)
		return (ssize_t)r.len;
	segment_cache_init(&local);
	r.c = cache ? cache : &local;
	if (r.view == SEGMENT_MASKED)
		rc = read_masked(&r, segment_find_group(seg, r.view, off + r.done));
	else
		rc = read_plain(&r, segment_find_group(seg, r.view, off + r.done));
	if (rc) {
		/* a cached group may be half decoded, and buf may hold plaintext */
		cache_drop(r.c, r.view);
		if (r.view == SEGMENT_PLAIN)
			sodium_memzero(buf, r.len);
		if (rc != -ENOMEM)
			rc = -EIO;
	}
	segment_cache_release(&local);
	return rc ? rc : (ssize_t)r.len;
}

int segment_fd(const struct segment *seg)
{
	return store_blob_fd(seg->blob);
}
