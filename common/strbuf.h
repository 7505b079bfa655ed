/* Growable byte buffers, always NUL-terminated so that text can be used as a C string. */
#ifndef MESHFS_STRBUF_H
#define MESHFS_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char *buf; /* never NULL after strbuf_init; buf[len] == '\0' */
	size_t len;
	size_t cap;
};

/* Prepares an empty buffer; never fails (no allocation until the first add). */
void strbuf_init(struct strbuf *sb);
/* Frees the memory; the buffer is empty and usable again afterwards. */
void strbuf_release(struct strbuf *sb);
/* Sets len to 0 and keeps the memory for reuse. */
void strbuf_reset(struct strbuf *sb);
/* Makes room for at least n more bytes. Returns 0 or -ENOMEM. */
int strbuf_grow(struct strbuf *sb, size_t n);
/* Like strbuf_grow, but the old block is zeroed before it is freed: for buffers of secrets or
 * PII, of which realloc would leave a copy behind in the heap. */
int strbuf_grow_secure(struct strbuf *sb, size_t n);
/* Zeroes the bytes in use and empties the buffer, keeping its memory. */
void strbuf_reset_secure(struct strbuf *sb);
/* Appends bytes. Returns 0 or -ENOMEM (buffer unchanged on failure). */
int strbuf_add(struct strbuf *sb, const void *data, size_t len);
int strbuf_addstr(struct strbuf *sb, const char *s);
int strbuf_addch(struct strbuf *sb, char c);
int strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
/* Hands the buffer to the caller (free() it) and leaves sb empty. */
char *strbuf_detach(struct strbuf *sb, size_t *len);
/* Overwrites the bytes with zeros before freeing: for buffers that held secrets or PII. */
void strbuf_release_secure(struct strbuf *sb);

#endif
