#include "contract/pattern.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/*
 * Bounds of one match. Backtracking steps: a linear pattern needs a few per byte of a value,
 * and a value is at most a CSV field; a million steps is milliseconds, so a pathological
 * pattern fails the publish quickly instead of running for minutes. Memory for the
 * interpreter's backtracking frames, in KiB.
 */
#define MATCH_LIMIT	1000000
#define MATCH_DEPTH	10000
#define MATCH_HEAP_KIB	4096
#define PARENS_NEST_MAX 64

struct pattern {
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	char *text;
	int jit; /* compiled by the JIT */
};

int pattern_compile(struct pattern **out, const char *text, char *why, size_t why_size)
{
	pcre2_compile_context *cctx = NULL;
	struct pattern *p = NULL;
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE at = 0;
	size_t len = strlen(text);
	int rc = 0, e;

	*out = NULL;
	if (why_size)
		why[0] = '\0';
	if (len > PATTERN_MAX_LEN) {
		snprintf(why, why_size, "longer than %d bytes", PATTERN_MAX_LEN);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	cctx = pcre2_compile_context_create(NULL);
	if (!p || !cctx || !(p->text = strdup(text))) {
		rc = -ENOMEM;
		goto out;
	}
	if (pcre2_set_parens_nest_limit(cctx, PARENS_NEST_MAX) ||
	    pcre2_set_max_pattern_length(cctx, PATTERN_MAX_LEN)) {
		rc = -EINVAL;
		goto out;
	}
	p->code = pcre2_compile((PCRE2_SPTR)text, len, PCRE2_UTF, &e, &at, cctx);
	if (!p->code) {
		if (e == PCRE2_ERROR_NOMEMORY) {
			rc = -ENOMEM;
			goto out;
		}
		pcre2_get_error_message(e, msg, sizeof(msg));
		snprintf(why, why_size, "%s at offset %zu", (const char *)msg, (size_t)at);
		rc = -EINVAL;
		goto out;
	}
	/* Without a JIT (a machine PCRE2 has none for, or no executable memory) the interpreter
	 * gives the same answers, under the same bounds. */
	p->jit = pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE) == 0;
	p->md = pcre2_match_data_create(1, NULL);
	p->mctx = pcre2_match_context_create(NULL);
	if (!p->md || !p->mctx) {
		rc = -ENOMEM;
		goto out;
	}
	if (pcre2_set_match_limit(p->mctx, MATCH_LIMIT) ||
	    pcre2_set_depth_limit(p->mctx, MATCH_DEPTH) ||
	    pcre2_set_heap_limit(p->mctx, MATCH_HEAP_KIB)) {
		rc = -EINVAL;
		goto out;
	}
	*out = p;
	p = NULL;
out:
	pcre2_compile_context_free(cctx);
	pattern_free(p);
	return rc;
}

/* Whether the len bytes at s are ASCII, eight at a time. */
static int is_ascii(const char *s, size_t len)
{
	uint64_t w, any = 0;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		any |= w;
	}
	for (; i < len; i++)
		any |= (unsigned char)s[i];
	return !(any & 0x8080808080808080ULL);
}

int pattern_match(struct pattern *p, const char *s, size_t len)
{
	int n;

	assert(p && p->code);
	/* ASCII is valid UTF-8: the JIT's own entry, which checks nothing, gives the same answer
	 * as pcre2_match, without its UTF-8 check of every value. */
	if (p->jit && is_ascii(s, len))
		n = pcre2_jit_match(p->code, (PCRE2_SPTR)s, len, 0, 0, p->md, p->mctx);
	else
		n = pcre2_match(p->code, (PCRE2_SPTR)s, len, 0, 0, p->md, p->mctx);
	if (n >= 0)
		return 1;
	switch (n) {
	case PCRE2_ERROR_NOMATCH:
		return 0;
	case PCRE2_ERROR_MATCHLIMIT:
	case PCRE2_ERROR_DEPTHLIMIT:
	case PCRE2_ERROR_HEAPLIMIT:
	case PCRE2_ERROR_JIT_STACKLIMIT:
		return -E2BIG;
	case PCRE2_ERROR_NOMEMORY:
		return -ENOMEM;
	default:
		/* The UTF-8 checks' errors: the value is not text. */
		return -EINVAL;
	}
}

const char *pattern_text(const struct pattern *p)
{
	return p->text;
}

void pattern_free(struct pattern *p)
{
	if (!p)
		return;
	pcre2_match_context_free(p->mctx);
	pcre2_match_data_free(p->md);
	pcre2_code_free(p->code);
	free(p->text);
	free(p);
}
