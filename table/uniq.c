/*
 * A uniqueness set in three parts: the progressions of a run of ascending integers
 * (UNIQ_INTEGERS), a hash table of keyed digests with linear probing, and the runs of that table
 * spilled to an unlinked file, merged by uniq_finish.
 *
 * The table does not wrap around: a digest's home slot grows with the digest, so the slots are
 * in digest order but for the short displacements of probing, and a spill sorts them with an
 * insertion sort in about linear time instead of a full sort.
 */
#include "table/uniq.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/fileio.h"

#define MEMORY_MIN 4096
/* Slots past the last home slot, where probing goes on instead of wrapping around. A probe that
 * runs off them makes the table grow or spill, as a full one does. */
#define TABLE_PAD   64
#define TABLE_START 1024
/* Integers are stored biased, so that unsigned order is numeric order and the difference of two
 * is exact in uint64_t. */
#define BIAS ((uint64_t)1 << 63)

/* A digest, also the record of a spilled run. 96 bits: a false duplicate among a billion values
 * has odds of about 1 in 10^11. */
struct slot {
	uint64_t hi;
	uint32_t lo;
	uint32_t line; /* 0: an empty slot (lines start at 1) */
};

/* Values first + k * step, seen on lines line + k * dline, for k < n. Unsigned arithmetic wraps
 * exactly, whatever the order of the lines. */
struct progression {
	uint64_t first; /* biased */
	uint64_t step;	/* 0 while n is 1 */
	uint64_t line;
	uint64_t dline;
	uint64_t n;
};

enum run_state {
	RUN_OFF,    /* every value goes to the table */
	RUN_ON,	    /* the integers so far ascend: they are the progressions */
	RUN_FROZEN, /* an integer did not ascend: the progressions only answer lookups */
};

struct spill {
	off_t off;
	size_t n;
};

struct uniq {
	uint8_t key[crypto_shorthash_siphashx24_KEYBYTES];
	size_t memory;
	char *dir;

	enum run_state run;
	struct progression *prog;
	size_t nprog, prog_cap, prog_max;
	uint64_t last, last_line; /* the last integer of the run (biased) and its line */

	struct slot *slots; /* cap + TABLE_PAD of them */
	size_t cap, used;

	int fd; /* -1 until the first spill */
	off_t size;
	struct spill *spills;
	size_t nspills, spills_cap;
	int finished;
};

struct uniq *uniq_new(size_t memory, const char *spill_dir, int flags)
{
	const char *dir = spill_dir;
	struct uniq *u;

	if (sodium_init() < 0)
		return NULL;
	if (!dir || !*dir)
		dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->dir = strdup(dir);
	if (!u->dir) {
		free(u);
		return NULL;
	}
	u->fd = -1;
	u->memory = memory < MEMORY_MIN ? MEMORY_MIN : memory;
	if (flags & UNIQ_INTEGERS) {
		u->run = RUN_ON;
		/* the rest is the table's: a run needs more progressions than that only when its
		 * values are too far from a progression to gain from one */
		u->prog_max = u->memory / 4 / sizeof(struct progression);
	}
	randombytes_buf(u->key, sizeof(u->key));
	return u;
}

void uniq_free(struct uniq *u)
{
	if (!u)
		return;
	sodium_memzero(u->key, sizeof(u->key));
	if (u->fd >= 0)
		close(u->fd);
	free(u->dir);
	free(u->prog);
	free(u->slots);
	free(u->spills);
	free(u);
}

/* ---- the run of ascending integers ---- */

/*
 * Whether s is the canonical decimal text of an int64 ("0", "-12"; not "012", "+1", "-0",
 * " 1"): then no other text has its number, so equal numbers are equal values. *out gets the
 * number, biased.
 */
static int canonical_integer(const char *s, size_t len, uint64_t *out)
{
	size_t i = len && s[0] == '-';
	uint64_t m = 0;

	if (len == 1 && s[0] == '0') {
		*out = BIAS;
		return 1;
	}
	/* 19 digits cannot overflow uint64_t */
	if (i == len || len - i > 19 || s[i] < '1' || s[i] > '9')
		return 0;
	for (size_t j = i; j < len; j++) {
		unsigned d = (unsigned)((unsigned char)s[j] - '0');

		if (d > 9)
			return 0;
		m = m * 10 + d;
	}
	if (m > (uint64_t)INT64_MAX + i)
		return 0;
	*out = i ? BIAS - m : BIAS + m;
	return 1;
}

/* The canonical text of biased integer b, which canonical_integer reads back. */
static size_t integer_text(char *out, uint64_t b)
{
	char tmp[20];
	uint64_t m = b >= BIAS ? b - BIAS : BIAS - b;
	size_t n = 0, len = 0;

	do {
		tmp[n++] = (char)('0' + m % 10);
		m /= 10;
	} while (m);
	if (b < BIAS)
		out[len++] = '-';
	while (n)
		out[len++] = tmp[--n];
	return len;
}

/* Appends b, greater than every integer of the run, seen on line. -ENOSPC when it would take
 * a progression more than the set may have. */
static int run_append(struct uniq *u, uint64_t b, uint64_t line)
{
	struct progression *p = u->nprog ? &u->prog[u->nprog - 1] : NULL;

	if (p && p->n == 1) {
		p->step = b - p->first;
		p->dline = line - p->line;
		p->n = 2;
	} else if (p && b - u->last == p->step && line - u->last_line == p->dline) {
		p->n++;
	} else {
		if (u->nprog == u->prog_cap) {
			size_t cap = u->prog_cap ? u->prog_cap * 2 : 16, room = u->memory;
			struct progression *grown;

			if (u->slots)
				room -= (u->cap + TABLE_PAD) * sizeof(struct slot);
			if (cap > room / sizeof(*grown))
				cap = room / sizeof(*grown);
			if (cap > u->prog_max)
				cap = u->prog_max;
			if (cap <= u->nprog)
				return -ENOSPC;
			grown = realloc(u->prog, cap * sizeof(*grown));
			if (!grown)
				return -ENOMEM;
			u->prog = grown;
			u->prog_cap = cap;
		}
		p = &u->prog[u->nprog++];
		*p = (struct progression){.first = b, .line = line, .n = 1};
	}
	u->last = b;
	u->last_line = line;
	return 0;
}

/* Whether the run holds b; if so *line gets where it was seen. */
static int run_find(const struct uniq *u, uint64_t b, uint64_t *line)
{
	size_t lo = 0, hi = u->nprog;
	const struct progression *p;
	uint64_t k;

	if (!u->nprog || b < u->prog[0].first || b > u->last)
		return 0;
	/* the last progression starting at or before b */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (u->prog[mid].first <= b)
			lo = mid;
		else
			hi = mid;
	}
	p = &u->prog[lo];
	if (b == p->first) {
		k = 0;
	} else {
		if (p->n == 1 || (b - p->first) % p->step)
			return 0;
		k = (b - p->first) / p->step;
		if (k >= p->n)
			return 0;
	}
	*line = p->line + k * p->dline;
	return 1;
}

/* ---- the table ---- */

static void digest(const struct uniq *u, const void *value, size_t len, struct slot *s)
{
	uint8_t d[crypto_shorthash_siphashx24_BYTES];

	crypto_shorthash_siphashx24(d, value, len, u->key);
	memcpy(&s->hi, d, sizeof(s->hi));
	memcpy(&s->lo, d + sizeof(s->hi), sizeof(s->lo));
}

static int slot_before(const struct slot *a, const struct slot *b)
{
	return a->hi < b->hi || (a->hi == b->hi && a->lo < b->lo);
}

/* The first slot a digest may take: its top 32 bits as a fraction of the capacity. */
static size_t slot_home(uint64_t hi, size_t cap)
{
	return (size_t)(((hi >> 32) * (uint64_t)cap) >> 32);
}

/* The slot holding s's digest, or the empty one where it goes; NULL if probing runs off the
 * end, and then the digest is not in the table. */
static struct slot *table_find(struct slot *slots, size_t cap, const struct slot *s)
{
	for (size_t i = slot_home(s->hi, cap); i < cap + TABLE_PAD; i++)
		if (!slots[i].line || (slots[i].hi == s->hi && slots[i].lo == s->lo))
			return &slots[i];
	return NULL;
}

/* The most slots the table may have beside the progressions. */
static size_t table_cap_max(const struct uniq *u)
{
	size_t cap = (u->memory - u->prog_cap * sizeof(struct progression)) / sizeof(struct slot);

	assert(cap > 2 * TABLE_PAD);
	/* slot_home multiplies a 32-bit fraction by the capacity */
	return cap - TABLE_PAD > UINT32_MAX ? UINT32_MAX : cap - TABLE_PAD;
}

static int spill_open(struct uniq *u)
{
	char path[PATH_MAX];
	int fd;

	fd = open(u->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		goto out;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	/* a file system without O_TMPFILE: a named file, unlinked at once */
	if ((size_t)snprintf(path, sizeof(path), "%s/.meshfs-uniq-XXXXXX", u->dir) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (unlink(path)) {
		int rc = -errno;

		close(fd);
		return rc;
	}
out:
	u->fd = fd;
	return 0;
}

/* Writes the table's digests as a run sorted by digest, and empties it. */
static int table_spill(struct uniq *u)
{
	size_t n = 0, i, j;
	struct slot s;
	int rc;

	if (u->fd < 0 && (rc = spill_open(u)))
		return rc;
	if (u->nspills == u->spills_cap) {
		size_t cap = u->spills_cap ? u->spills_cap * 2 : 16;
		struct spill *grown = realloc(u->spills, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		u->spills = grown;
		u->spills_cap = cap;
	}
	for (i = 0; i < u->cap + TABLE_PAD; i++)
		if (u->slots[i].line)
			u->slots[n++] = u->slots[i];
	assert(n == u->used);
	for (i = 1; i < n; i++) {
		s = u->slots[i];
		for (j = i; j > 0 && slot_before(&s, &u->slots[j - 1]); j--)
			u->slots[j] = u->slots[j - 1];
		u->slots[j] = s;
	}
	rc = mfs_write_all(u->fd, u->slots, n * sizeof(*u->slots));
	if (rc)
		return rc;
	u->spills[u->nspills++] = (struct spill){.off = u->size, .n = n};
	u->size += (off_t)(n * sizeof(*u->slots));
	memset(u->slots, 0, (u->cap + TABLE_PAD) * sizeof(*u->slots));
	u->used = 0;
	return 0;
}

/*
 * Doubles the table, up to the set's memory. When the old and the new table would not fit in it
 * together, the old one is spilled instead of moved. -ENOSPC when the table cannot grow, or when
 * a probe would run off the end of the new table: the caller spills instead.
 */
static int table_grow(struct uniq *u)
{
	size_t cap = u->cap * 2, max = table_cap_max(u);
	struct slot *slots, *s;
	int rc;

	if (cap > max)
		cap = max;
	if (cap <= u->cap)
		return -ENOSPC;
	if (u->cap + cap + 2 * TABLE_PAD > max + TABLE_PAD) {
		rc = table_spill(u);
		if (rc)
			return rc;
		free(u->slots);
		u->slots = calloc(cap + TABLE_PAD, sizeof(*u->slots));
		if (!u->slots)
			return -ENOMEM;
		u->cap = cap;
		return 0;
	}
	slots = calloc(cap + TABLE_PAD, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < u->cap + TABLE_PAD; i++) {
		if (!u->slots[i].line)
			continue;
		s = table_find(slots, cap, &u->slots[i]);
		if (!s) {
			free(slots);
			return -ENOSPC;
		}
		*s = u->slots[i];
	}
	free(u->slots);
	u->slots = slots;
	u->cap = cap;
	return 0;
}

/* Adds digest s (its line set); returns 1, 0 with *first set if it is there already, or -errno. */
static int table_add(struct uniq *u, const struct slot *s, unsigned long *first)
{
	struct slot *at;
	int rc;

	if (!u->slots) {
		u->cap = table_cap_max(u) < TABLE_START ? table_cap_max(u) : TABLE_START;
		u->slots = calloc(u->cap + TABLE_PAD, sizeof(*u->slots));
		if (!u->slots)
			return -ENOMEM;
	}
	at = table_find(u->slots, u->cap, s);
	if (at && at->line) {
		*first = at->line;
		return 0;
	}
	while (!at || u->used + 1 > u->cap / 4 * 3) {
		rc = table_grow(u);
		if (rc == -ENOSPC)
			rc = table_spill(u);
		if (rc)
			return rc;
		at = table_find(u->slots, u->cap, s);
	}
	*at = *s;
	u->used++;
	return 1;
}

/* Moves the run into the table: the set keeps more progressions than memory allows. */
static int run_pour(struct uniq *u)
{
	unsigned long first;
	char text[24];
	struct slot s;
	uint64_t line;
	size_t len;
	int rc;

	for (size_t i = 0; i < u->nprog; i++) {
		const struct progression *p = &u->prog[i];

		for (uint64_t k = 0; k < p->n; k++) {
			len = integer_text(text, p->first + k * p->step);
			digest(u, text, len, &s);
			line = p->line + k * p->dline;
			s.line = !line ? 1 : line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
			/* The table holds no integer: 0 would be two digests colliding, and
			 * the integer is then as good as there. */
			rc = table_add(u, &s, &first);
			if (rc < 0)
				return rc;
		}
	}
	free(u->prog);
	u->prog = NULL;
	u->nprog = u->prog_cap = 0;
	u->run = RUN_OFF;
	return 0;
}

/* uniq_add, with the digest of value in *made if it was made already, else NULL. */
static int uniq_add_made(struct uniq *u, const void *value, size_t len, unsigned long line,
			 unsigned long *first, const struct slot *made)
{
	uint64_t b, seen;
	struct slot s;
	int rc;

	assert(!u->finished);
	/* Other texts cannot equal an integer of the run: they skip it. */
	if (u->run != RUN_OFF && canonical_integer(value, len, &b)) {
		if (u->run == RUN_ON && (!u->nprog || b > u->last)) {
			rc = run_append(u, b, line);
			if (rc != -ENOSPC)
				return rc ? rc : 1;
			rc = run_pour(u);
			if (rc)
				return rc;
		} else {
			u->run = RUN_FROZEN;
			if (run_find(u, b, &seen)) {
				*first = (unsigned long)seen;
				return 0;
			}
		}
	}
	if (made)
		s = *made;
	else
		digest(u, value, len, &s);
	s.line = !line ? 1 : line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
	return table_add(u, &s, first);
}

int uniq_add(struct uniq *u, const void *value, size_t len, unsigned long line,
	     unsigned long *first)
{
	return uniq_add_made(u, value, len, line, first, NULL);
}

void uniq_prepare(const struct uniq *u, const void *value, size_t len, struct uniq_ahead *a)
{
	struct slot s;
	uint64_t b;

	a->made = 0;
	/* an integer the run may take needs no digest */
	if (u->run != RUN_OFF && canonical_integer(value, len, &b))
		return;
	digest(u, value, len, &s);
	a->hi = s.hi;
	a->lo = s.lo;
	a->made = 1;
	if (u->slots)
		__builtin_prefetch(&u->slots[slot_home(s.hi, u->cap)]);
}

int uniq_add_ahead(struct uniq *u, const void *value, size_t len, const struct uniq_ahead *a,
		   unsigned long line, unsigned long *first)
{
	struct slot s = {.hi = a->hi, .lo = a->lo};

	return uniq_add_made(u, value, len, line, first, a->made ? &s : NULL);
}

/* ---- the merge ---- */

/* One run being read: buffered records, and what is left of the run in the file. */
struct cursor {
	struct slot *buf;
	size_t pos, n, cap;
	off_t off;
	size_t left;
};

static int cursor_fill(int fd, struct cursor *c)
{
	size_t want = c->left < c->cap ? c->left : c->cap;
	size_t bytes = want * sizeof(*c->buf), got = 0;
	ssize_t n;

	while (got < bytes) {
		n = pread(fd, (char *)c->buf + got, bytes - got, c->off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the file is shorter than what was written to it */
		got += (size_t)n;
	}
	c->off += (off_t)bytes;
	c->left -= want;
	c->pos = 0;
	c->n = want;
	return 0;
}

static int cursor_before(const struct cursor *a, const struct cursor *b)
{
	const struct slot *x = &a->buf[a->pos], *y = &b->buf[b->pos];

	/* in a group of equal digests, the earliest line first, whatever order the lines came in */
	return slot_before(x, y) || (x->hi == y->hi && x->lo == y->lo && x->line < y->line);
}

static void heap_down(struct cursor **heap, size_t n, size_t i)
{
	struct cursor *c = heap[i];
	size_t child;

	while ((child = 2 * i + 1) < n) {
		if (child + 1 < n && cursor_before(heap[child + 1], heap[child]))
			child++;
		if (!cursor_before(heap[child], c))
			break;
		heap[i] = heap[child];
		i = child;
	}
	heap[i] = c;
}

static int dup_after(const struct uniq_dup *a, const struct uniq_dup *b)
{
	return a->line > b->line || (a->line == b->line && a->first > b->first);
}

/* Sifts down in a heap of dups whose top is the latest. */
static void dups_down(struct uniq_dup *d, size_t n, size_t i)
{
	struct uniq_dup x = d[i];
	size_t child;

	while ((child = 2 * i + 1) < n) {
		if (child + 1 < n && dup_after(&d[child + 1], &d[child]))
			child++;
		if (!dup_after(&d[child], &x))
			break;
		d[i] = d[child];
		i = child;
	}
	d[i] = x;
}

/* Keeps the max earliest dups seen so far; kept of them are in dups, as a heap. */
static void dups_keep(struct uniq_dup *dups, size_t max, size_t *kept, struct uniq_dup d)
{
	size_t i;

	if (*kept < max) {
		for (i = (*kept)++; i > 0 && dup_after(&d, &dups[(i - 1) / 2]); i = (i - 1) / 2)
			dups[i] = dups[(i - 1) / 2];
		dups[i] = d;
	} else if (max && dup_after(&dups[0], &d)) {
		dups[0] = d;
		dups_down(dups, max, 0);
	}
}

/* The k-way merge of the runs: in each group of equal digests, every one but the earliest
 * line is a duplicate of it. */
static int merge(struct uniq *u, struct uniq_dup *dups, size_t max, uint64_t *total)
{
	size_t k = u->nspills, per = u->memory / sizeof(struct slot) / k, n = 0, kept = 0, i;
	struct cursor *cursors, **heap;
	struct slot *bufs, group = {0}, *rec;
	int rc = -ENOMEM;

	if (!per)
		per = 1;
	cursors = calloc(k, sizeof(*cursors));
	heap = calloc(k, sizeof(*heap));
	bufs = calloc(k * per, sizeof(*bufs));
	if (!cursors || !heap || !bufs)
		goto out;
	for (i = 0; i < k; i++) {
		cursors[i] = (struct cursor){.buf = bufs + i * per,
					     .cap = per,
					     .off = u->spills[i].off,
					     .left = u->spills[i].n};
		rc = cursor_fill(u->fd, &cursors[i]);
		if (rc)
			goto out;
		if (cursors[i].n)
			heap[n++] = &cursors[i];
	}
	for (i = n / 2; i-- > 0;)
		heap_down(heap, n, i);
	while (n) {
		struct cursor *c = heap[0];

		rec = &c->buf[c->pos];
		if (group.line && rec->hi == group.hi && rec->lo == group.lo) {
			(*total)++;
			dups_keep(dups, max, &kept,
				  (struct uniq_dup){.line = rec->line, .first = group.line});
		} else {
			group = *rec;
		}
		if (++c->pos == c->n) {
			rc = cursor_fill(u->fd, c);
			if (rc)
				goto out;
			if (!c->n)
				heap[0] = heap[--n];
		}
		if (n)
			heap_down(heap, n, 0);
	}
	/* the heap, sorted: the latest goes last */
	for (i = kept; i-- > 1;) {
		struct uniq_dup t = dups[0];

		dups[0] = dups[i];
		dups[i] = t;
		dups_down(dups, i, 0);
	}
	rc = 0;
out:
	free(cursors);
	free(heap);
	free(bufs);
	return rc;
}

int uniq_finish(struct uniq *u, struct uniq_dup *dups, size_t max, uint64_t *total)
{
	int rc = 0;

	assert(!u->finished);
	u->finished = 1;
	*total = 0;
	if (u->nspills && u->used)
		rc = table_spill(u);
	free(u->slots);
	u->slots = NULL;
	u->used = 0;
	free(u->prog);
	u->prog = NULL;
	u->nprog = 0;
	if (!rc && u->nspills)
		rc = merge(u, dups, max, total);
	return rc;
}
