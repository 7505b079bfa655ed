#include "common/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static char strbuf_empty[1];

void strbuf_init(struct strbuf *sb)
{
	sb->buf = strbuf_empty;
	sb->len = 0;
	sb->cap = 0;
}

void strbuf_release(struct strbuf *sb)
{
	if (sb->cap)
		free(sb->buf);
	strbuf_init(sb);
}

void strbuf_release_secure(struct strbuf *sb)
{
	if (sb->cap)
		sodium_memzero(sb->buf, sb->cap);
	strbuf_release(sb);
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	/* never a write to the shared empty buffer, which other threads read */
	if (sb->cap)
		sb->buf[0] = '\0';
}

/* The capacity that holds n more bytes and the NUL: 0 if the buffer has room, SIZE_MAX if no
 * size can. */
static size_t strbuf_new_cap(const struct strbuf *sb, size_t n)
{
	size_t want, cap;

	if (n > SIZE_MAX - sb->len - 1)
		return SIZE_MAX;
	want = sb->len + n + 1;
	if (want <= sb->cap)
		return 0;
	cap = sb->cap ? sb->cap : 64;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	return cap;
}

int strbuf_grow(struct strbuf *sb, size_t n)
{
	size_t cap = strbuf_new_cap(sb, n);
	char *p;

	if (!cap)
		return 0;
	if (cap == SIZE_MAX)
		return -ENOMEM;
	p = realloc(sb->cap ? sb->buf : NULL, cap);
	if (!p)
		return -ENOMEM;
	if (!sb->cap)
		p[0] = '\0';
	sb->buf = p;
	sb->cap = cap;
	return 0;
}

int strbuf_grow_secure(struct strbuf *sb, size_t n)
{
	size_t cap = strbuf_new_cap(sb, n);
	char *p;

	if (!cap)
		return 0;
	if (cap == SIZE_MAX)
		return -ENOMEM;
	p = malloc(cap);
	if (!p)
		return -ENOMEM;
	memcpy(p, sb->buf, sb->len + 1);
	if (sb->cap) {
		sodium_memzero(sb->buf, sb->cap);
		free(sb->buf);
	}
	sb->buf = p;
	sb->cap = cap;
	return 0;
}

void strbuf_reset_secure(struct strbuf *sb)
{
	if (sb->len)
		sodium_memzero(sb->buf, sb->len);
	strbuf_reset(sb);
}

int strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
	int rc = strbuf_grow(sb, len);

	if (rc)
		return rc;
	if (len)
		memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
	return 0;
}

int strbuf_addstr(struct strbuf *sb, const char *s)
{
	return strbuf_add(sb, s, strlen(s));
}

int strbuf_addch(struct strbuf *sb, char c)
{
	return strbuf_add(sb, &c, 1);
}

int strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int n, rc;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return -EINVAL;
	rc = strbuf_grow(sb, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
	return 0;
}

int strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
	return rc;
}

char *strbuf_detach(struct strbuf *sb, size_t *len)
{
	char *p;

	if (!sb->cap && strbuf_grow(sb, 0))
		return NULL;
	p = sb->buf;
	if (len)
		*len = sb->len;
	strbuf_init(sb);
	return p;
}
