/* How long an operation that needs a remote server (the shared catalog, the object store) may
 * take before it fails, so that the mount never hangs on a server that is gone. */
#ifndef MESHFS_TIMEOUT_H
#define MESHFS_TIMEOUT_H

#define MFS_TIMEOUT_DEFAULT_S 10
#define MFS_TIMEOUT_MAX_S     3600

/* The bound in milliseconds: $MESHFS_TIMEOUT in whole seconds (1 to MFS_TIMEOUT_MAX_S) when it
 * is set to one, else MFS_TIMEOUT_DEFAULT_S. The mount's -o timeout=N sets the variable. */
int mfs_timeout_ms(void);
/* How long a server that let a request wait the whole bound is taken to be away, failing the
 * requests meanwhile at once: long enough for those queued behind it (a mount's requests share
 * a connection) not to wait the bound each in turn, short enough to see it back soon. The bound,
 * but at most a second. */
int mfs_away_ms(void);
/* Whether s is a valid $MESHFS_TIMEOUT (seconds, 1 to MFS_TIMEOUT_MAX_S). */
int mfs_timeout_valid(const char *s);

#endif
