/* Full-text search over products. */
#include "catalog/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"

/* Whether a term of the user's text holds a character the index's tokenizer keeps: a term of
 * punctuation alone would be an empty phrase. Bytes of multi-byte UTF-8 sequences
 * count, as most of what they encode are letters. */
static int fts_term_has_token(const char *term, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (isalnum((unsigned char)term[i]) || (unsigned char)term[i] >= 0x80)
			return 1;
	return 0;
}

/*
 * The terms of what a user typed, for ST_SEARCH: its whitespace-separated terms that hold a
 * token, one a line (the statement makes each a phrase of the engine's query language, so that
 * AND, NEAR, column filters and stray quotes are plain words, and the last a prefix, as the user
 * may still be typing it). Returns the number of terms (0: nothing to look for) or -ENOMEM.
 */
static int search_terms(const char *text, struct strbuf *q)
{
	static const char space[] = " \t\n\r\f\v";
	const char *term;
	size_t len;
	int n = 0, rc = 0;

	term = text;
	while (!rc && *(term += strspn(term, space))) {
		len = strcspn(term, space);
		if (fts_term_has_token(term, len)) {
			if (n++)
				rc = strbuf_addch(q, '\n');
			if (!rc)
				rc = strbuf_add(q, term, len);
		}
		term += len;
	}
	return rc ? rc : n;
}

/* Whether name has a part (between '_' and '-') equal to the len bytes of word, or starting with
 * them when prefix is set. */
static int name_has_word(const char *name, const char *word, size_t len, int prefix)
{
	size_t n;

	for (; *name; name += n + !!name[n]) {
		n = strcspn(name, "_-");
		if ((n == len || (prefix && n > len)) && !strncmp(name, word, len))
			return 1;
	}
	return 0;
}

/*
 * How well a product's own names match the words of text: 2 for each word that is a part of
 * the product's name, 1 for each that is a part of its domain's. The index's rank alone puts a
 * product that mentions a word often above the product named by it; an analyst typing "orders"
 * wants orders/orders first. Words are cut as the index cuts them, at anything but letters and
 * digits; the last is a prefix, as in the query.
 */
static int name_bonus(const char *domain, const char *product, const char *text)
{
	char word[MESH_NAME_MAX];
	const char *w, *last = NULL;
	size_t len;
	int bonus = 0;

	for (w = text; *w; w++)
		if (isalnum((unsigned char)*w) && (w == text || !isalnum((unsigned char)w[-1])))
			last = w;
	for (w = text; *w; w += len) {
		for (len = 0; isalnum((unsigned char)w[len]); len++)
			if (len < sizeof(word))
				word[len] = (char)tolower((unsigned char)w[len]);
		if (!len) {
			len = 1;
			continue;
		}
		/* names are shorter: a longer word cannot be one */
		if (len >= sizeof(word))
			continue;
		if (name_has_word(product, word, len, w == last))
			bonus += 2;
		if (name_has_word(domain, word, len, w == last))
			bonus += 1;
	}
	return bonus;
}

struct search_hit {
	size_t row; /* rows come by the index's rank */
	int bonus;
};

static int search_hit_cmp(const void *a, const void *b)
{
	const struct search_hit *x = a, *y = b;

	if (x->bonus != y->bonus)
		return x->bonus > y->bonus ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

int catalog_search(struct catalog *cat, const char *text, size_t limit,
		   int (*cb)(const struct catalog_product *p, void *ctx), void *ctx)
{
	struct catalog_product p;
	struct search_hit *hits = NULL;
	struct db_rows r = {0};
	struct strbuf q;
	size_t i;
	int rc;

	if (!text)
		return -EINVAL;
	strbuf_init(&q);
	rc = search_terms(text, &q);
	if (rc <= 0)
		goto out;
	rc = db_collect(cat->db, ST_SEARCH, &r, "t", q.buf);
	if (rc)
		goto out;
	hits = calloc(r.n ? r.n : 1, sizeof(*hits));
	if (!hits) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < r.n; i++) {
		hits[i].row = i;
		hits[i].bonus = name_bonus(db_rows_text(&r, i, 1), db_rows_text(&r, i, 2), text);
	}
	qsort(hits, r.n, sizeof(*hits), search_hit_cmp);
	for (i = 0; !rc && i < r.n && (!limit || i < limit); i++) {
		catalog_product_from_row(&p, &r, hits[i].row);
		rc = cb(&p, ctx);
	}
out:
	free(hits);
	db_rows_release(&r);
	strbuf_release(&q);
	return rc;
}
