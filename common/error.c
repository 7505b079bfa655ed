#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

int mfs_error_add(struct mfs_error *err, int code, const char *fmt, ...)
{
	static const char more[] = "\n(more problems not shown)";
	char line[sizeof(err->msg)];
	size_t len, n;
	va_list ap;

	if (!err)
		return code > 0 ? -code : code;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	len = strlen(err->msg);
	if (!len) {
		snprintf(err->msg, sizeof(err->msg), "%s", line);
		return code > 0 ? -code : code;
	}
	if (strstr(err->msg, more))
		return code > 0 ? -code : code;
	n = strlen(line);
	if (len + 1 + n + sizeof(more) <= sizeof(err->msg))
		snprintf(err->msg + len, sizeof(err->msg) - len, "\n%s", line);
	else if (len + sizeof(more) <= sizeof(err->msg))
		snprintf(err->msg + len, sizeof(err->msg) - len, "%s", more);
	return code > 0 ? -code : code;
}
