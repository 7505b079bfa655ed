/* meshfs policy: show and set the mesh policy (docs/DESIGN.md §2). */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A policy is a few dozen lines: a bigger file is the wrong file. */
#define POLICY_FILE_MAX (1024 * 1024)

/* Reads the policy file path ("-": standard input) into out. Returns 0 or -errno. */
static int read_policy(const char *path, struct strbuf *out)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	char buf[8192];
	size_t n;
	int rc = 0;

	if (!f)
		return -errno;
	while (!rc && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
		rc = strbuf_add(out, buf, n);
		if (!rc && out->len > POLICY_FILE_MAX)
			rc = -EFBIG;
	}
	if (!rc && ferror(f))
		rc = -EIO;
	if (f != stdin)
		fclose(f);
	return rc;
}

static int run_policy_show(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_session s;
	struct cli_args a;
	char *yaml = NULL;
	size_t len;
	int rc;

	rc = cli_start(cmd, NULL, argc, argv, &a, &s);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = mesh_policy_text(&s.mesh, &yaml);
	if (rc) {
		rc = cli_fail(rc, NULL, "cannot read the mesh policy");
		goto out;
	}
	len = strlen(yaml);
	fputs(yaml, stdout);
	if (len && yaml[len - 1] != '\n')
		putchar('\n');
	rc = CLI_EXIT_OK;
out:
	free(yaml);
	cli_close(&s);
	return rc;
}

static int run_policy_set(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_session s;
	struct mfs_error err;
	struct cli_args a;
	struct strbuf yaml;
	const char *file, *name;
	int rc;

	rc = cli_parse(cmd, NULL, argc, argv, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	file = a.args[0];
	name = strcmp(file, "-") ? file : "stdin";
	rc = cli_open(&s, cmd, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	strbuf_init(&yaml);
	rc = read_policy(file, &yaml);
	if (rc == -EFBIG) {
		rc = cli_error("%s: larger than %d bytes: not a policy", name, POLICY_FILE_MAX);
		goto out;
	}
	if (rc) {
		rc = cli_fail(rc, NULL, "%s", name);
		goto out;
	}
	mfs_error_clear(&err);
	rc = mesh_policy_set(&s.mesh, &s.me, yaml.buf, yaml.len, name, &err);
	if (rc) {
		rc = cli_fail(rc, &err, "cannot set the mesh policy");
		goto out;
	}
	printf("the mesh policy is now %s; it applies from the next publish and contract change\n",
	       name);
	rc = CLI_EXIT_OK;
out:
	strbuf_release(&yaml);
	cli_close(&s);
	return rc;
}

static const struct cli_cmd policy_show = {
    .name = "policy show",
    .synopsis = "",
    .summary = "Print the mesh policy (YAML), as MOUNT/policy.yaml shows it.",
    .min_args = 0,
    .max_args = 0,
    .run = run_policy_show,
};

static const struct cli_cmd policy_set = {
    .name = "policy set",
    .synopsis = "FILE",
    .summary = "Make FILE (- for standard input) the mesh policy. Needs admin on the mesh.",
    .help = "The policy is checked first: an unknown key, detector or required field, or a\n"
	    "naming rule that is not a valid regular expression, is reported as FILE:LINE:COLUMN\n"
	    "and changes nothing. A new policy applies from the next publish and contract change\n"
	    "on; versions already published stay as they are. Every attempt is audited.\n"
	    "Start from 'meshfs policy show > policy.yaml'.\n",
    .min_args = 1,
    .max_args = 1,
    .run = run_policy_set,
};

static const struct cli_cmd *const policy_subs[] = {&policy_show, &policy_set, NULL};

const struct cli_cmd cli_cmd_policy = {
    .name = "policy",
    .synopsis = "show | set FILE",
    .summary = "The mesh policy: PII classifications and detectors, compatibility, required "
	       "fields, naming.",
    .subs = policy_subs,
};
