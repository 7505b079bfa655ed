/* How the kernel sees a mesh: the FUSE low-level filesystem of docs/DESIGN.md §3. */
#ifndef MESHFS_FS_H
#define MESHFS_FS_H

#include <stdint.h>

#include "common/error.h"

struct fs_options {
	const char *mesh_dir;  /* a directory or a shared mesh's PostgreSQL URL */
	const char *key_file;  /* a shared mesh's master key (--key); NULL: $MESHFS_KEY */
	const char *cache_dir; /* -o cache_dir: a shared mesh's files on this host */
	uint64_t cache_size;   /* -o cache_size: the block cache's bound in bytes; 0: default */
	const char *mountpoint;
	int foreground;	       /* stay in the foreground (-f); else daemonize once mounted */
	int debug;	       /* libfuse debug output (-o debug) */
	const char *fuse_opts; /* comma-separated -o options passed to libfuse (allow_other, …) */
};

/*
 * Opens the mesh, mounts it at o->mountpoint and serves requests until unmounted (fusermount3 -u)
 * or signalled. Returns 0 after a clean unmount, or -errno with err set when the mesh cannot be
 * opened or mounted (then nothing is left mounted).
 */
int fs_mount(const struct fs_options *o, struct mfs_error *err);

#endif
