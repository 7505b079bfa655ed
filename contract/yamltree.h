/*
 * A YAML document as a tree of nodes, for the readers of meshfs's YAML files (contracts, the mesh
 * policy). libyaml's events are gathered into one array of nodes linked by index, so that a reader
 * can look keys up in any order, and every node keeps its line and column for messages.
 *
 * A tree refuses what a plain data file has no use for: more than one document, aliases (anchors
 * are not followed), NUL characters in values, nesting deeper than YTREE_MAX_DEPTH and more than
 * YTREE_MAX_NODES nodes, so that a hostile file cannot exhaust memory or the stack.
 */
#ifndef MESHFS_YAMLTREE_H
#define MESHFS_YAMLTREE_H

#include <stddef.h>

#include "common/error.h"

#define YTREE_MAX_DEPTH 64
#define YTREE_MAX_NODES 100000

enum ytree_kind {
	YTREE_SCALAR,
	YTREE_SEQUENCE,
	YTREE_MAPPING,
};

struct ytree_node {
	enum ytree_kind kind;
	int plain;  /* an unquoted scalar, the only kind that can be a YAML null */
	char *text; /* scalars */
	unsigned long line, col;
	size_t first, last, next; /* indexes of children and sibling, 0 for none; a mapping's
				     children alternate key, value */
	size_t count;		  /* children */
};

struct ytree {
	const char *file;	  /* the document's name in messages */
	const char *what;	  /* what the document is ("contract"), in messages */
	struct mfs_error *err;	  /* may be NULL */
	struct ytree_node *nodes; /* index 0 stands for "no node" and holds nothing */
	size_t nnodes, cap;
	size_t root;
};

/*
 * Reads the one YAML document of text (len bytes; need not be NUL-terminated) into t. what names
 * the kind of document in messages ("empty contract"); file and err are kept for the readers'
 * messages. Returns 0, or -EINVAL (err "FILE:LINE:COLUMN: …") for text that is not such a
 * document, or -ENOMEM. t must be released either way.
 */
int ytree_build(struct ytree *t, const char *text, size_t len, const char *file, const char *what,
		struct mfs_error *err);
void ytree_release(struct ytree *t);
/* The node at index i, or NULL for 0. */
const struct ytree_node *ytree_at(const struct ytree *t, size_t i);
/* The top node of the document. */
const struct ytree_node *ytree_root(const struct ytree *t);
/* The first child of n, and the next sibling of n; NULL when there is none. */
const struct ytree_node *ytree_child(const struct ytree *t, const struct ytree_node *n);
const struct ytree_node *ytree_next(const struct ytree *t, const struct ytree_node *n);
/* Whether n is a YAML null: an unquoted empty, ~ or null scalar. */
int ytree_node_is_null(const struct ytree_node *n);

/*
 * Records "FILE:LINE:COLUMN: message" (control characters of quoted values made blanks, to keep
 * one problem on one line). Returns -EINVAL. ytree_fail places it at node n.
 */
int ytree_fail_at(struct ytree *t, unsigned long line, unsigned long col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int ytree_fail(struct ytree *t, const struct ytree_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records "FILE: out of memory". Returns -ENOMEM. */
int ytree_nomem(struct ytree *t);

/*
 * The value of key in mapping map, null values included (*out NULL when the key is absent).
 * A key given twice is an error (-EINVAL): YAML forbids it, and which one wins would otherwise
 * depend on the reader.
 */
int ytree_map_get_raw(struct ytree *t, const struct ytree_node *map, const char *key,
		      const struct ytree_node **out);
/* Same, a null value counting as absent. */
int ytree_map_get(struct ytree *t, const struct ytree_node *map, const char *key,
		  const struct ytree_node **out);
/* 0 if n is of kind, else -EINVAL with "WHAT must be a mapping" (a list, a single value). */
int ytree_want_kind(struct ytree *t, const struct ytree_node *n, enum ytree_kind kind,
		    const char *what);
/* A copy of the text of scalar n into *out (which must be NULL); what names it in messages. */
int ytree_string(struct ytree *t, const struct ytree_node *n, const char *what, char **out);
/*
 * The single values of list n, copied into a new array *out of *n (both zero on entry); YAML nulls
 * become empty strings. On failure what was copied is left for the caller to free.
 */
int ytree_strings(struct ytree *t, const struct ytree_node *list, const char *what, char ***out,
		  size_t *n);

#endif
