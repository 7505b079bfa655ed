/*
 * Patterns of contracts (logicalTypeOptions.pattern, invalidValues' pattern) and of the mesh
 * policy's naming rules, in the Perl/ECMA syntax ODCS users write (\d, \w, (?i), lookarounds,
 * {n,m}), run by PCRE2: compiled once (with its JIT where the machine has one), each match
 * bounded in steps and memory, so that no pattern can stall a publish. A match is a search: a
 * pattern without ^ and $ matches anywhere in the value.
 */
#ifndef MESHFS_PATTERN_H
#define MESHFS_PATTERN_H

#include <stddef.h>

/* Longest pattern text accepted, in bytes. */
#define PATTERN_MAX_LEN 1000

struct pattern;

/*
 * Compiles text (NUL-terminated, UTF-8). Returns 0 and sets *out, or -EINVAL with why (at most
 * why_size bytes, NUL-terminated) saying what is wrong and where ("quantifier does not follow
 * a repeatable item at offset 3"), or -ENOMEM.
 */
int pattern_compile(struct pattern **out, const char *text, char *why, size_t why_size);

/*
 * Whether the len bytes at s (valid UTF-8) match: 1 if they do, 0 if not, -E2BIG if the match
 * gave up at its bounds (the pattern backtracks too much on this value), -EINVAL for a value
 * that is not UTF-8. A struct pattern is used by one thread at a time (it holds the match's
 * working memory).
 */
int pattern_match(struct pattern *p, const char *s, size_t len);

/* The text the pattern was compiled from. */
const char *pattern_text(const struct pattern *p);

void pattern_free(struct pattern *p);

#endif
