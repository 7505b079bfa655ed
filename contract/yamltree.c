#include "contract/yamltree.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

static int vfail_at(struct ytree *t, unsigned long line, unsigned long col, const char *fmt,
		    va_list ap)
{
	char msg[768];
	char *s;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Values quoted from the document must not break the one-line-per-problem output. */
	for (s = msg; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
	return mfs_error_at(t->err, EINVAL, t->file, line, col, "%s", msg);
}

int ytree_fail_at(struct ytree *t, unsigned long line, unsigned long col, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail_at(t, line, col, fmt, ap);
	va_end(ap);
	return rc;
}

int ytree_fail(struct ytree *t, const struct ytree_node *n, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail_at(t, n->line, n->col, fmt, ap);
	va_end(ap);
	return rc;
}

int ytree_nomem(struct ytree *t)
{
	return mfs_error_set(t->err, ENOMEM, "%s: out of memory", t->file);
}

/* ---- building the tree from libyaml events ---- */

static int yaml_failure(struct ytree *t, const yaml_parser_t *yp, const char *text, size_t len)
{
	unsigned long line = 1, col = 1;
	size_t i;

	switch (yp->error) {
	case YAML_MEMORY_ERROR:
		return ytree_nomem(t);
	case YAML_READER_ERROR:
		/* libyaml gives the byte offset only: count lines and characters up to it. */
		for (i = 0; i < yp->problem_offset && i < len; i++) {
			if (text[i] == '\n') {
				line++;
				col = 1;
			} else if (((unsigned char)text[i] & 0xc0) != 0x80) {
				col++;
			}
		}
		return ytree_fail_at(t, line, col, "%s",
				     yp->problem ? yp->problem : "unreadable text");
	default:
		line = yp->problem_mark.line + 1;
		col = yp->problem_mark.column + 1;
		if (yp->context)
			return ytree_fail_at(t, line, col, "%s (%s at %lu:%lu)",
					     yp->problem ? yp->problem : "invalid YAML",
					     yp->context, (unsigned long)yp->context_mark.line + 1,
					     (unsigned long)yp->context_mark.column + 1);
		return ytree_fail_at(t, line, col, "%s",
				     yp->problem ? yp->problem : "invalid YAML");
	}
}

/* Adds a node under parent (0: it is the root) and returns its index in *out. */
static int add_node(struct ytree *t, size_t parent, enum ytree_kind kind, const yaml_mark_t *mark,
		    size_t *out)
{
	struct ytree_node *n, *grown;
	size_t cap;

	if (t->nnodes > YTREE_MAX_NODES)
		return ytree_fail_at(t, mark->line + 1, mark->column + 1,
				     "more than %d YAML nodes: not a %s", YTREE_MAX_NODES, t->what);
	if (t->nnodes >= t->cap) {
		cap = t->cap ? t->cap * 2 : 256;
		grown = realloc(t->nodes, cap * sizeof(*grown));
		if (!grown)
			return ytree_nomem(t);
		t->nodes = grown;
		t->cap = cap;
	}
	n = &t->nodes[t->nnodes];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->line = mark->line + 1;
	n->col = mark->column + 1;
	*out = t->nnodes++;
	if (parent) {
		n = &t->nodes[parent];
		if (n->last)
			t->nodes[n->last].next = *out;
		else
			n->first = *out;
		n->last = *out;
		n->count++;
	}
	return 0;
}

static int add_scalar(struct ytree *t, size_t parent, const yaml_event_t *ev, size_t *out)
{
	const char *value = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	struct ytree_node *n;
	int rc;

	/* A NUL would make the C string say less than the YAML did. */
	if (memchr(value, '\0', len))
		return ytree_fail_at(t, ev->start_mark.line + 1, ev->start_mark.column + 1,
				     "NUL character in a value");
	rc = add_node(t, parent, YTREE_SCALAR, &ev->start_mark, out);
	if (rc)
		return rc;
	n = &t->nodes[*out];
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	n->text = strndup(value, len);
	if (!n->text)
		return ytree_nomem(t);
	return 0;
}

/* Turns one libyaml event into nodes; stack holds the open collections, depth of them. */
static int add_event(struct ytree *t, const yaml_event_t *ev, size_t *stack, size_t *depth,
		     size_t *docs)
{
	const yaml_mark_t *mark = &ev->start_mark;
	size_t parent = *depth ? stack[*depth - 1] : 0, idx;
	int rc = 0;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if ((*docs)++)
			rc = ytree_fail_at(t, mark->line + 1, mark->column + 1,
					   "more than one YAML document");
		break;
	case YAML_ALIAS_EVENT:
		rc = ytree_fail_at(t, mark->line + 1, mark->column + 1,
				   "alias *%.64s: aliases are not allowed in a %s (write the "
				   "value out)",
				   (const char *)ev->data.alias.anchor, t->what);
		break;
	case YAML_SCALAR_EVENT:
		rc = add_scalar(t, parent, ev, &idx);
		if (!rc && !*depth)
			t->root = idx;
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (*depth == YTREE_MAX_DEPTH) {
			rc = ytree_fail_at(t, mark->line + 1, mark->column + 1,
					   "nested more than %d levels deep", YTREE_MAX_DEPTH);
			break;
		}
		rc = add_node(t, parent,
			      ev->type == YAML_MAPPING_START_EVENT ? YTREE_MAPPING : YTREE_SEQUENCE,
			      mark, &idx);
		if (rc)
			break;
		if (!*depth)
			t->root = idx;
		stack[(*depth)++] = idx;
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		assert(*depth > 0);
		(*depth)--;
		break;
	default:
		break;
	}
	return rc;
}

int ytree_build(struct ytree *t, const char *text, size_t len, const char *file, const char *what,
		struct mfs_error *err)
{
	size_t stack[YTREE_MAX_DEPTH];
	size_t depth = 0, docs = 0;
	yaml_parser_t yp;
	yaml_event_t ev;
	int rc = 0, done = 0;

	assert(file && what);
	memset(t, 0, sizeof(*t));
	t->file = file;
	t->what = what;
	t->err = err;
	if (!yaml_parser_initialize(&yp))
		return ytree_nomem(t);
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	/* Index 0 stands for "no node", so it holds nothing. */
	t->nnodes = 1;
	while (!done) {
		if (!yaml_parser_parse(&yp, &ev)) {
			rc = yaml_failure(t, &yp, text, len);
			goto out;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = add_event(t, &ev, stack, &depth, &docs);
		yaml_event_delete(&ev);
		if (rc)
			goto out;
	}
	if (!t->root)
		rc = ytree_fail_at(t, 1, 1, "empty %s", what);
out:
	yaml_parser_delete(&yp);
	return rc;
}

void ytree_release(struct ytree *t)
{
	size_t i;

	for (i = 1; i < t->nnodes; i++)
		free(t->nodes[i].text);
	free(t->nodes);
	t->nodes = NULL;
	t->nnodes = t->cap = t->root = 0;
}

/* ---- reading the tree ---- */

const struct ytree_node *ytree_at(const struct ytree *t, size_t i)
{
	assert(i < t->nnodes || !i);
	return i ? &t->nodes[i] : NULL;
}

const struct ytree_node *ytree_root(const struct ytree *t)
{
	return ytree_at(t, t->root);
}

const struct ytree_node *ytree_child(const struct ytree *t, const struct ytree_node *n)
{
	return ytree_at(t, n->first);
}

const struct ytree_node *ytree_next(const struct ytree *t, const struct ytree_node *n)
{
	return ytree_at(t, n->next);
}

int ytree_node_is_null(const struct ytree_node *n)
{
	if (n->kind != YTREE_SCALAR || !n->plain)
		return 0;
	return !n->text[0] || !strcmp(n->text, "~") || !strcmp(n->text, "null") ||
	       !strcmp(n->text, "Null") || !strcmp(n->text, "NULL");
}

int ytree_map_get_raw(struct ytree *t, const struct ytree_node *map, const char *key,
		      const struct ytree_node **out)
{
	const struct ytree_node *k, *v, *found = NULL;

	assert(map->kind == YTREE_MAPPING);
	*out = NULL;
	for (k = ytree_child(t, map); k; k = ytree_next(t, v)) {
		v = ytree_next(t, k);
		assert(v);
		if (k->kind != YTREE_SCALAR || strcmp(k->text, key))
			continue;
		if (found)
			return ytree_fail(t, k, "duplicate key \"%s\"", key);
		found = v;
	}
	*out = found;
	return 0;
}

int ytree_map_get(struct ytree *t, const struct ytree_node *map, const char *key,
		  const struct ytree_node **out)
{
	int rc = ytree_map_get_raw(t, map, key, out);

	if (!rc && *out && ytree_node_is_null(*out))
		*out = NULL;
	return rc;
}

int ytree_want_kind(struct ytree *t, const struct ytree_node *n, enum ytree_kind kind,
		    const char *what)
{
	if (n->kind == kind)
		return 0;
	if (kind == YTREE_MAPPING)
		return ytree_fail(t, n, "%s must be a mapping", what);
	if (kind == YTREE_SEQUENCE)
		return ytree_fail(t, n, "%s must be a list", what);
	return ytree_fail(t, n, "%s must be a single value", what);
}

int ytree_string(struct ytree *t, const struct ytree_node *n, const char *what, char **out)
{
	int rc = ytree_want_kind(t, n, YTREE_SCALAR, what);

	if (rc)
		return rc;
	assert(!*out);
	*out = strdup(n->text);
	return *out ? 0 : ytree_nomem(t);
}

int ytree_strings(struct ytree *t, const struct ytree_node *list, const char *what, char ***out,
		  size_t *n)
{
	const struct ytree_node *item;
	int rc = ytree_want_kind(t, list, YTREE_SEQUENCE, what);

	if (rc || !list->count)
		return rc;
	*out = calloc(list->count, sizeof(**out));
	if (!*out)
		return ytree_nomem(t);
	for (item = ytree_child(t, list); item; item = ytree_next(t, item)) {
		if (item->kind != YTREE_SCALAR)
			return ytree_fail(t, item, "%s must be a list of single values", what);
		(*out)[*n] = strdup(ytree_node_is_null(item) ? "" : item->text);
		if (!(*out)[*n])
			return ytree_nomem(t);
		(*n)++;
	}
	return 0;
}
