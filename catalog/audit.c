/* The audit trail: who did what to which object, and how it went. */
#include "catalog/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* Audit rows are handed to callbacks in batches so that a long audit trail is never all in
 * memory at once. */
#define AUDIT_BATCH 256

static const char *const outcomes[] = {"ok", "denied", "rejected", "error"};

/* The setting recording where the chain starts: "N MAX", the rows from before it (ids 1 … MAX). */
#define AUDIT_START_SETTING "audit.start"

void catalog_audit_keyer(struct catalog *cat,
			 int (*keyer)(void *ctx, uint8_t key[CATALOG_AUDIT_KEY]), void *ctx)
{
	if (cat->audit_key)
		sodium_memzero(cat->audit_key, CATALOG_AUDIT_KEY);
	cat->audit_keyer = keyer;
	cat->audit_keyer_ctx = ctx;
	cat->audit_key_state = 0;
}

/* 0 with the audit key in cat->audit_key, or -errno (-ENOKEY: no keyer). A keyer's failure is
 * remembered only when asking again cannot help: no key to be had, or no right to it. */
static int audit_key(struct catalog *cat)
{
	int rc;

	if (cat->audit_key_state)
		return cat->audit_key_state == 1 ? 0 : cat->audit_key_state;
	if (!cat->audit_keyer)
		return -ENOKEY;
	if (!cat->audit_key) {
		/* the key, like the master key it comes from, stays out of swap and core dumps */
		if (sodium_init() < 0)
			return -EIO;
		cat->audit_key = sodium_malloc(CATALOG_AUDIT_KEY);
		if (!cat->audit_key)
			return -ENOMEM;
	}
	rc = cat->audit_keyer(cat->audit_keyer_ctx, cat->audit_key);
	if (!rc)
		cat->audit_key_state = 1;
	else if (rc == -ENOKEY || rc == -EACCES || rc == -EPERM || rc == -ENOENT)
		cat->audit_key_state = rc;
	if (rc)
		sodium_memzero(cat->audit_key, CATALOG_AUDIT_KEY);
	return rc < 0 ? rc : rc ? -EIO : 0;
}

static void hash_u64(crypto_generichash_state *st, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
	crypto_generichash_update(st, b, sizeof(b));
}

/* Each text is its length then its bytes, so that no two rows share an encoding. */
static void hash_text(crypto_generichash_state *st, const char *s)
{
	size_t len = strlen(s);

	hash_u64(st, len);
	crypto_generichash_update(st, (const uint8_t *)s, len);
}

/*
 * The hash at place seq of the chain: keyed BLAKE2b-256 of a tag naming this encoding, the
 * previous place's hash (zeros before the first), seq, and every field of the row but its id
 * (where a row sits is its place; a moved row keeps both).
 */
static void audit_hash(const uint8_t key[CATALOG_AUDIT_KEY], const uint8_t prev[32], int64_t seq,
		       const struct catalog_audit *a, uint8_t out[32])
{
	static const char tag[] = "meshfs audit chain 1";
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, CATALOG_AUDIT_KEY, 32);
	crypto_generichash_update(&st, (const uint8_t *)tag, sizeof(tag));
	crypto_generichash_update(&st, prev, 32);
	hash_u64(&st, (uint64_t)seq);
	hash_u64(&st, (uint64_t)a->at);
	hash_text(&st, a->principal);
	hash_text(&st, a->action);
	hash_text(&st, a->object);
	hash_u64(&st, (uint64_t)a->version);
	hash_text(&st, a->view);
	hash_text(&st, a->outcome);
	hash_text(&st, a->detail);
	crypto_generichash_final(&st, out, 32);
}

/* What the chain's first place follows: the keyed hash of the record of the rows before it. */
static void audit_start_hash(const uint8_t key[CATALOG_AUDIT_KEY], int64_t n, int64_t max,
			     uint8_t out[32])
{
	static const char tag[] = "meshfs audit chain start 1";
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, CATALOG_AUDIT_KEY, 32);
	crypto_generichash_update(&st, (const uint8_t *)tag, sizeof(tag));
	hash_u64(&st, (uint64_t)n);
	hash_u64(&st, (uint64_t)max);
	crypto_generichash_final(&st, out, 32);
}

/* The record of where the chain starts: 0, -ENOENT if there is none, -EIO if it is not one. */
static int audit_start_get(struct catalog *cat, int64_t *n, int64_t *max)
{
	char *v, end;
	int rc;

	rc = catalog_setting_get(cat, AUDIT_START_SETTING, &v);
	if (rc)
		return rc;
	if (sscanf(v, "%" SCNd64 " %" SCNd64 "%c", n, max, &end) != 2 || *n < 0 || *max < 0)
		rc = -EIO;
	free(v);
	return rc;
}

/*
 * Inside the write transaction of the chain's first row: the hash that row follows, from the
 * record of the rows before it, written now unless a chain whose rows were all deleted left one.
 */
static int audit_start(struct catalog *cat, uint8_t prev[32])
{
	struct db_stmt *st;
	char v[64];
	int64_t n = 0, max = 0;
	int rc;

	rc = audit_start_get(cat, &n, &max);
	if (rc == -ENOENT || rc == -EIO) {
		rc = db_query(cat->db, ST_AUDIT_BEFORE, &st, "");
		if (rc)
			return rc;
		rc = db_step(st);
		if (rc == 1) {
			n = db_column_int64(st, 0);
			max = db_column_int64(st, 1);
			rc = 0;
		} else if (rc == 0) {
			rc = -EIO;
		}
		db_reset(st);
		if (!rc) {
			snprintf(v, sizeof(v), "%" PRId64 " %" PRId64, n, max);
			rc = catalog_setting_set(cat, AUDIT_START_SETTING, v);
		}
	}
	if (!rc)
		audit_start_hash(cat->audit_key, n, max, prev);
	return rc;
}

/* The chain's last place and its hash: 0 and zeros while it is empty. */
static int audit_head(struct catalog *cat, int64_t *seq, uint8_t hash[32])
{
	struct db_stmt *st;
	const void *p;
	size_t len;
	int rc;

	*seq = 0;
	memset(hash, 0, 32);
	rc = db_query(cat->db, ST_AUDIT_HEAD, &st, "");
	if (rc)
		return rc;
	rc = db_step(st);
	if (rc == 1) {
		*seq = db_column_int64(st, 0);
		p = db_column_blob(st, 1, &len);
		/* the schema checks the length; a changed schema is a damaged catalog */
		if (*seq < 1 || !p || len != 32)
			rc = -EIO;
		else {
			memcpy(hash, p, 32);
			rc = 0;
		}
	}
	db_reset(st);
	return rc;
}

int catalog_audit_add(struct catalog *cat, const struct catalog_audit *a)
{
	struct catalog_audit row;
	uint8_t prev[32], hash[32] = {0};
	int64_t seq = 0;
	int rc, key;

	if (!a || !a->principal || !a->principal[0] || !a->action || !a->action[0] || !a->object ||
	    !CATALOG_ONE_OF(a->outcome, outcomes) || a->version < 0)
		return -EINVAL;
	row = *a;
	row.view = a->view ? a->view : "";
	row.detail = a->detail ? a->detail : "";
	if (row.view[0] && strcmp(row.view, "plain") && strcmp(row.view, "masked"))
		return -EINVAL;
	rc = db_begin(cat->db);
	if (rc)
		return rc;
	/* the transaction's write lock keeps the head the head until the row is in */
	key = audit_key(cat);
	if (!key) {
		rc = audit_head(cat, &seq, prev);
		if (!rc && !seq)
			rc = audit_start(cat, prev);
		if (!rc)
			audit_hash(cat->audit_key, prev, ++seq, &row, hash);
	}
	if (!rc)
		rc = db_exec(cat->db, ST_AUDIT_INSERT, "itttitttib", row.at, row.principal,
			     row.action, row.object, row.version, row.view, row.outcome, row.detail,
			     seq, hash, sizeof(hash));
	rc = db_finish(cat->db, rc);
	/* once a process, so that a mesh writing unsealed rows is not silent until verified */
	if (!rc && key && !cat->audit_unsealed_told) {
		cat->audit_unsealed_told = 1;
		fprintf(stderr, "meshfs: audit rows written unsealed: no audit key: %s\n",
			strerror(-key));
	}
	return rc;
}

/* Fills a from row i of the audit columns (id, at, principal, action, object, version, view,
 * outcome, detail); its strings stay in r. */
static void audit_from_row(struct catalog_audit *a, const struct db_rows *r, size_t i)
{
	a->id = db_rows_int64(r, i, 0);
	a->at = db_rows_int64(r, i, 1);
	a->principal = db_rows_text(r, i, 2);
	a->action = db_rows_text(r, i, 3);
	a->object = db_rows_text(r, i, 4);
	a->version = db_rows_int64(r, i, 5);
	a->view = db_rows_text(r, i, 6);
	a->outcome = db_rows_text(r, i, 7);
	a->detail = db_rows_text(r, i, 8);
}

int catalog_audit_list(struct catalog *cat, int64_t since, const char *principal,
		       int (*cb)(const struct catalog_audit *a, void *ctx), void *ctx)
{
	struct catalog_audit a;
	struct db_rows r;
	int64_t at = since ? since : INT64_MIN, id = 0;
	size_t i, n;
	int rc;

	/* (at, id) > (since, 0) selects at >= since, as ids start at 1. */
	do {
		rc = db_collect(cat->db, ST_AUDIT_LIST, &r, "iiti", at, id, principal,
				(int64_t)AUDIT_BATCH);
		if (rc)
			return rc;
		for (i = 0; !rc && i < r.n; i++) {
			audit_from_row(&a, &r, i);
			rc = cb(&a, ctx);
			id = a.id;
			at = a.at;
		}
		n = r.n;
		db_rows_release(&r);
	} while (!rc && n == AUDIT_BATCH);
	return rc;
}

int catalog_audit_recent(struct catalog *cat, const char *principal, const char *prefix,
			 size_t limit, int (*cb)(const struct catalog_audit *a, void *ctx),
			 void *ctx)
{
	struct catalog_audit a;
	struct db_rows r;
	char *end;
	size_t len = strlen(prefix);
	int rc;

	/* the objects that start with prefix: from prefix up to prefix with its last byte + 1 */
	if (!len || (unsigned char)prefix[len - 1] == 0xff)
		return -EINVAL;
	end = strdup(prefix);
	if (!end)
		return -ENOMEM;
	end[len - 1]++;
	rc = db_collect(cat->db, ST_AUDIT_RECENT, &r, "ttti", principal, prefix, end,
			(int64_t)(limit ? limit : INT64_MAX));
	free(end);
	if (rc)
		return rc;
	for (size_t i = r.n; !rc && i-- > 0;) {
		audit_from_row(&a, &r, i);
		rc = cb(&a, ctx);
	}
	db_rows_release(&r);
	return rc;
}

/* Places of the chain not seen yet in the walk, each range with the rows it lies between. */
struct audit_gap {
	int64_t from, to; /* places from … to, inclusive */
	int64_t after_id, before_id;
};

struct audit_walk {
	struct catalog *cat;
	int (*cb)(const struct catalog_audit_break *b, void *ctx);
	void *ctx;
	struct catalog_audit_head *head;
	int64_t last_id; /* the row holding head->seq */
	int last_failed; /* whether that row's hash did not match */
	int start;	 /* the record of the chain's start: 0, -ENOENT (none) or -EIO (not one) */
	int64_t start_n, start_max;
	struct audit_gap *gaps;
	size_t ngaps, capgaps;
};

static int walk_report(struct audit_walk *w, enum catalog_audit_problem what, int64_t id,
		       int64_t seq, int64_t other_id, int64_t count)
{
	struct catalog_audit_break b = {
	    .what = what, .id = id, .seq = seq, .other_id = other_id, .count = count};

	return w->cb(&b, w->ctx);
}

static int walk_gap_add(struct audit_walk *w, int64_t from, int64_t to, int64_t before_id)
{
	struct audit_gap *g;

	if (w->ngaps == w->capgaps) {
		g = reallocarray(w->gaps, w->capgaps ? 2 * w->capgaps : 8, sizeof(*g));
		if (!g)
			return -ENOMEM;
		w->gaps = g;
		w->capgaps = w->capgaps ? 2 * w->capgaps : 8;
	}
	w->gaps[w->ngaps++] = (struct audit_gap){from, to, w->last_id, before_id};
	return 0;
}

/* Takes place seq out of the gap holding it: 1 if one did, 0 if none. */
static int walk_gap_take(struct audit_walk *w, int64_t seq, int64_t *before_id)
{
	struct audit_gap *g;

	for (size_t i = 0; i < w->ngaps; i++) {
		g = &w->gaps[i];
		if (seq < g->from || seq > g->to)
			continue;
		*before_id = g->before_id;
		if (g->from == g->to) {
			memmove(g, g + 1, (w->ngaps - i - 1) * sizeof(*g));
			w->ngaps--;
		} else if (seq == g->from) {
			g->from++;
		} else if (seq == g->to) {
			g->to--;
		} else {
			/* split: the upper part becomes a gap of its own, at the end */
			struct audit_gap upper = *g;
			int rc;

			upper.from = seq + 1;
			g->to = seq - 1;
			rc = walk_gap_add(w, upper.from, upper.to, upper.before_id);
			if (rc)
				return rc;
			w->gaps[w->ngaps - 1].after_id = upper.after_id;
		}
		return 1;
	}
	return 0;
}

/* Whether the row a at place 1 has hash when it follows prev. */
static int walk_follows(struct audit_walk *w, const struct catalog_audit *a, const uint8_t *prev,
			const uint8_t *hash)
{
	uint8_t want[32];

	audit_hash(w->cat->audit_key, prev, 1, a, want);
	return sodium_memcmp(want, hash, 32) == 0;
}

/*
 * The chain's first row: it follows the record of the rows before it, or zeros in a chain begun
 * before that record was kept (then an edited, added or removed record is named here).
 */
static int walk_first(struct audit_walk *w, const struct catalog_audit *a, const uint8_t *hash,
		      int *failed)
{
	static const uint8_t zeros[32];
	uint8_t prev[32];

	*failed = 0;
	/* a record missed at the start may have been written with this row since */
	if (w->start)
		w->start = audit_start_get(w->cat, &w->start_n, &w->start_max);
	if (w->start && w->start != -ENOENT && w->start != -EIO)
		return w->start;
	if (!w->start) {
		audit_start_hash(w->cat->audit_key, w->start_n, w->start_max, prev);
		if (walk_follows(w, a, prev, hash)) {
			w->head->start_sealed = 1;
			return 0;
		}
	}
	*failed = !walk_follows(w, a, zeros, hash);
	if (!*failed && w->start == -ENOENT)
		return 0;
	/* the record, or this row, was changed: nothing to count the rows before the chain by */
	w->start = -EIO;
	return walk_report(w, AUDIT_START, a->id, 1, 0, 0);
}

/* One row of the walk: a (whose id is set), at place seq (0: unsealed) with hash. */
static int walk_row(struct audit_walk *w, const struct catalog_audit *a, int64_t seq,
		    const uint8_t *hash)
{
	struct catalog_audit_head *h = w->head;
	uint8_t want[32];
	int64_t before_id;
	int rc = 0, failed;

	h->rows++;
	if (!seq) {
		/* Rows from before the chain: those of the record, or with none (a chain begun
		 * without one), the rows ahead of its first. Ids below 1 are never given out. */
		if (a->id >= 1 && (!w->start ? a->id <= w->start_max : !h->first_id)) {
			h->unchained++;
			if (a->id > h->unchained_max)
				h->unchained_max = a->id;
			return 0;
		}
		return walk_report(w, AUDIT_UNSEALED, a->id, 0, 0, 0);
	}
	if (!h->first_id)
		h->first_id = a->id;
	if (seq <= h->seq) {
		rc = walk_gap_take(w, seq, &before_id);
		if (rc < 0)
			return rc;
		return rc ? walk_report(w, AUDIT_MOVED, a->id, seq, before_id, 0)
			  : walk_report(w, AUDIT_REPEATED, a->id, seq, 0, 0);
	}
	if (seq > h->seq + 1) {
		/* the previous place's hash is gone: this row's own cannot be checked */
		rc = walk_gap_add(w, h->seq + 1, seq - 1, a->id);
		failed = 0;
	} else if (seq == 1) {
		rc = walk_first(w, a, hash, &failed);
	} else {
		audit_hash(w->cat->audit_key, h->hash, seq, a, want);
		failed = sodium_memcmp(want, hash, 32) != 0;
		if (failed)
			rc = walk_report(w, w->last_failed ? AUDIT_UNLINKED : AUDIT_EDITED, a->id,
					 seq, w->last_id, 0);
	}
	h->seq = seq;
	h->id = a->id;
	memcpy(h->hash, hash, 32);
	w->last_id = a->id;
	w->last_failed = failed;
	return rc;
}

/* Rows are read in batches, so that neither engine holds the whole trail at once. */
static int walk_batch(struct audit_walk *w, int64_t *after, size_t *n)
{
	struct catalog_audit a;
	struct db_stmt *st;
	const void *hash;
	size_t len;
	int64_t seq;
	int rc, last = 0;

	*n = 0;
	rc = db_query(w->cat->db, ST_AUDIT_CHAIN, &st, "ii", *after, (int64_t)AUDIT_BATCH);
	if (rc)
		return rc;
	while (!rc && (rc = db_step(st)) == 1) {
		a.id = db_column_int64(st, 0);
		a.at = db_column_int64(st, 1);
		a.principal = db_column_text(st, 2);
		a.action = db_column_text(st, 3);
		a.object = db_column_text(st, 4);
		a.version = db_column_int64(st, 5);
		a.view = db_column_text(st, 6);
		a.outcome = db_column_text(st, 7);
		a.detail = db_column_text(st, 8);
		seq = db_column_type(st, 9) == DB_NULL ? 0 : db_column_int64(st, 9);
		hash = db_column_blob(st, 10, &len);
		/* the schema keeps both or neither, of the right length, unless it was changed */
		if (!a.principal || !a.action || !a.object || !a.view || !a.outcome || !a.detail ||
		    (seq && (!hash || len != 32)))
			rc = -EIO;
		else
			rc = walk_row(w, &a, seq, hash);
		/* no id follows the highest */
		last = a.id == INT64_MAX;
		*after = last ? a.id : a.id + 1;
		(*n)++;
	}
	db_reset(st);
	if (last)
		*n = 0;
	return rc;
}

int catalog_audit_verify(struct catalog *cat,
			 int (*cb)(const struct catalog_audit_break *b, void *ctx), void *ctx,
			 struct catalog_audit_head *head)
{
	struct audit_walk w = {.cat = cat, .cb = cb, .ctx = ctx, .head = head};
	int64_t after = INT64_MIN;
	size_t n;
	int rc;

	memset(head, 0, sizeof(*head));
	rc = audit_key(cat);
	if (rc)
		return rc;
	w.start = audit_start_get(cat, &w.start_n, &w.start_max);
	if (w.start && w.start != -ENOENT && w.start != -EIO)
		return w.start;
	/* No transaction: it would hold off writers for the whole walk. Ids are taken under the
	 * write lock, so a row written meanwhile has a higher id than every row already read. */
	do
		rc = walk_batch(&w, &after, &n);
	while (!rc && n == AUDIT_BATCH);
	/* what is still missing was deleted */
	for (size_t i = 0; !rc && i < w.ngaps; i++)
		rc = walk_report(&w, AUDIT_DELETED, w.gaps[i].before_id, w.gaps[i].from,
				 w.gaps[i].after_id, w.gaps[i].to - w.gaps[i].from + 1);
	/* a recorded start with no chain after it: every sealed row was deleted */
	if (!rc && w.start != -ENOENT && !head->first_id)
		rc = walk_report(&w, AUDIT_START, 0, 1, 0, 0);
	if (!rc && !w.start && (head->unchained != w.start_n || head->unchained_max > w.start_max))
		rc = walk_report(&w, AUDIT_BEFORE, w.start_max, 0, w.start_n, head->unchained);
	free(w.gaps);
	return rc;
}
