/* meshfs mount: hands the command line over to the filesystem (fs/fs.h). */
#include "cli/cli.h"

#include "fs/fs.h"

static int run_mount(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct fs_options o = {0};
	struct strbuf fuse_opts;
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
	rc = cli_parse(cmd, opts, argc, argv, &a);
	if (rc != CLI_CONTINUE)
		goto out;
	if (!a.mesh) {
		rc = cli_usage_error(cmd, "no mesh given: use -m DIR or set MESHFS_MESH");
		goto out;
	}
	o.mesh_dir = a.mesh;
	o.mountpoint = a.args[0];
	/* debug output goes to the terminal, so it keeps the process there as libfuse's -d does */
	if (o.debug)
		o.foreground = 1;
	o.fuse_opts = fuse_opts.len ? fuse_opts.buf : NULL;
	mfs_error_clear(&err);
	rc = fs_mount(&o, &err);
	if (rc) {
		rc = cli_fail(rc, &err, "cannot mount %s on %s", a.mesh, a.args[0]);
		goto out;
	}
	rc = CLI_EXIT_OK;
out:
	strbuf_release(&fuse_opts);
	return rc;
}

const struct cli_cmd cli_cmd_mount = {
    .name = "mount",
    .synopsis = "-m DIR MOUNTPOINT [-f] [-o OPT[,OPT...]] [-d]",
    .summary = "Mount the mesh at MOUNTPOINT; 'fusermount3 -u MOUNTPOINT' unmounts it.",
    .help = "Options:\n"
	    "  -f, --foreground       stay in the foreground (else run in the background once "
	    "mounted)\n"
	    "  -o, --options OPT,...  mount options for libfuse, e.g. allow_other (may be "
	    "repeated)\n"
	    "  -d, --debug            print every FUSE request (implies -f)\n"
	    "With -o allow_other, meshfs enforces its access rules for every user who reaches\n"
	    "the mount; run it as a service user that alone can read the mesh directory.\n",
    .min_args = 1,
    .max_args = 1,
    .run = run_mount,
};
