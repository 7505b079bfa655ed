#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>

void mfs_error_clear(struct mfs_error *err)
{
	if (err)
		err->msg[0] = '\0';
}

int mfs_error_set(struct mfs_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && !err->msg[0]) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code > 0 ? -code : code;
}

int mfs_error_at(struct mfs_error *err, int code, const char *file, unsigned long line,
		 unsigned long col, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (err && !err->msg[0]) {
		if (line && col)
			n = snprintf(err->msg, sizeof(err->msg), "%s:%lu:%lu: ", file, line, col);
		else if (line)
			n = snprintf(err->msg, sizeof(err->msg), "%s:%lu: ", file, line);
		else
			n = snprintf(err->msg, sizeof(err->msg), "%s: ", file);
		if (n < 0 || (size_t)n >= sizeof(err->msg))
			n = 0;
		va_start(ap, fmt);
		vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return code > 0 ? -code : code;
}
