/* The bound on remote operations, read from the environment each time: cheap, and the mount
 * sets it before it opens anything. */
#include "common/timeout.h"

#include <errno.h>
#include <stdlib.h>

static long timeout_parse(const char *s)
{
	char *end;
	long v;

	/* strtol would take leading blanks and a sign */
	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > MFS_TIMEOUT_MAX_S)
		return -1;
	return v;
}

int mfs_timeout_valid(const char *s)
{
	return timeout_parse(s) > 0;
}

int mfs_timeout_ms(void)
{
	long v = timeout_parse(getenv("MESHFS_TIMEOUT"));

	return (int)((v > 0 ? v : MFS_TIMEOUT_DEFAULT_S) * 1000);
}

int mfs_away_ms(void)
{
	int ms = mfs_timeout_ms();

	return ms < 1000 ? ms : 1000;
}
