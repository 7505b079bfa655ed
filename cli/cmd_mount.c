/* meshfs mount: hands the command line over to the filesystem (fs/fs.h). */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeout.h"
#include "fs/fs.h"

/* A size: digits with an optional K, M, G or T (powers of 1024). 0, or -EINVAL. */
static int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	const char *u;
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		u = strchr(units, *end);
		if (!u || end[1])
			return -EINVAL;
		for (long i = 0; i <= u - units; i++) {
			if (v > UINT64_MAX / 1024)
				return -EINVAL;
			v *= 1024;
		}
	}
	*out = v;
	return 0;
}

/*
 * Takes meshfs's own options (cache_dir=DIR, cache_size=SIZE, timeout=SECONDS) out of the -o
 * list into o, leaving libfuse's in rest. The timeout goes to $MESHFS_TIMEOUT, which every remote
 * call reads. Returns CLI_CONTINUE or a usage error of cmd.
 */
static int mount_options(const struct cli_cmd *cmd, char *list, struct fs_options *o,
			 struct strbuf *rest)
{
	char *opt, *save = NULL;

	for (opt = strtok_r(list, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		if (!strncmp(opt, "cache_dir=", 10) && opt[10]) {
			o->cache_dir = opt + 10;
		} else if (!strncmp(opt, "cache_size=", 11)) {
			if (parse_size(opt + 11, &o->cache_size) || !o->cache_size)
				return cli_usage_error(cmd,
						       "cache_size: give a size, e.g. 512M or 20G");
		} else if (!strncmp(opt, "timeout=", 8)) {
			if (!mfs_timeout_valid(opt + 8))
				return cli_usage_error(cmd, "timeout: give whole seconds, 1 to %d",
						       MFS_TIMEOUT_MAX_S);
			if (setenv("MESHFS_TIMEOUT", opt + 8, 1))
				return cli_error("out of memory");
		} else if ((rest->len && strbuf_addch(rest, ',')) || strbuf_addstr(rest, opt)) {
			return cli_error("out of memory");
		}
	}
	return CLI_CONTINUE;
}

static int run_mount(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct fs_options o = {0};
	struct strbuf fuse_opts, passed;
	const struct cli_opt opts[] = {
	    {.name = "foreground", .short_name = 'f', .kind = CLI_OPT_FLAG, .flag = &o.foreground},
	    {.name = "debug", .short_name = 'd', .kind = CLI_OPT_FLAG, .flag = &o.debug},
	    {.name = "options", .short_name = 'o', .kind = CLI_OPT_LIST, .list = &fuse_opts},
	    {.name = NULL},
	};
	struct mfs_error err;
	struct cli_args a;
	int rc;

	strbuf_init(&fuse_opts);
	strbuf_init(&passed);
	rc = cli_parse(cmd, opts, argc, argv, &a);
	if (rc != CLI_CONTINUE)
		goto out;
	if (fuse_opts.len && (rc = mount_options(cmd, fuse_opts.buf, &o, &passed)) != CLI_CONTINUE)
		goto out;
	if (!a.mesh) {
		rc = cli_usage_error(cmd, "no mesh given: use -m DIR or set MESHFS_MESH");
		goto out;
	}
	o.mesh_dir = a.mesh;
	o.key_file = a.key;
	o.mountpoint = a.args[0];
	/* debug output goes to the terminal, so it keeps the process there as libfuse's -d does */
	if (o.debug)
		o.foreground = 1;
	o.fuse_opts = passed.len ? passed.buf : NULL;
	mfs_error_clear(&err);
	rc = fs_mount(&o, &err);
	if (rc) {
		rc = cli_fail(rc, &err, "cannot mount %s on %s", a.display, a.args[0]);
		goto out;
	}
	rc = CLI_EXIT_OK;
out:
	strbuf_release(&fuse_opts);
	strbuf_release(&passed);
	return rc;
}

const struct cli_cmd cli_cmd_mount = {
    .name = "mount",
    .synopsis = "-m DIR|URL MOUNTPOINT [-f] [-o OPT[,OPT...]] [-d]",
    .summary = "Mount the mesh at MOUNTPOINT; 'fusermount3 -u MOUNTPOINT' unmounts it.",
    .help = "Options:\n"
	    "  -f, --foreground       stay in the foreground (else run in the background once "
	    "mounted)\n"
	    "  -o, --options OPT,...  mount options for libfuse, e.g. allow_other (may be "
	    "repeated)\n"
	    "  -d, --debug            print every FUSE request (implies -f)\n"
	    "meshfs's own -o options, for a shared mesh:\n"
	    "  cache_dir=DIR          this host's files of the mesh: the cache of segments read\n"
	    "                         from the store (kept sealed), staging, the daemon's log\n"
	    "                         (default: ~/.cache/meshfs/MESH_ID)\n"
	    "  cache_size=SIZE        the cache's bound, e.g. 20G (default: 1G)\n"
	    "  timeout=SECONDS        how long a call to the catalog or the store may take before\n"
	    "                         it fails with EIO or ETIMEDOUT (default: 10)\n"
	    "With -o allow_other, meshfs enforces its access rules for every user who reaches\n"
	    "the mount; run it as a service user that alone can read the mesh directory.\n",
    .min_args = 1,
    .max_args = 1,
    .run = run_mount,
};
