/*
 * One human-readable problem, carried up to whoever prints it. Functions that can fail for a
 * reason a user must read take a `struct mfs_error *` (may be NULL) besides returning -errno.
 * Input problems are written "FILE:LINE:COLUMN: message".
 */
#ifndef MESHFS_ERROR_H
#define MESHFS_ERROR_H

struct mfs_error {
	char msg[1024]; /* empty when no problem was recorded */
};

/* Clears the message. */
void mfs_error_clear(struct mfs_error *err);
/* Records a problem unless one is already recorded (the first cause is the one that matters).
 * err may be NULL. Returns -code when code > 0 so that callers can `return mfs_error_set(...)`. */
int mfs_error_set(struct mfs_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, prefixed with "FILE:LINE:COLUMN: " (line/column 1-based; 0 omits them). */
int mfs_error_at(struct mfs_error *err, int code, const char *file, unsigned long line,
		 unsigned long col, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Appends one more problem as a new line of the message (as room allows: past it, the message
 * ends with a line saying how many more there were). Returns -code like mfs_error_set. */
int mfs_error_add(struct mfs_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
