/* meshfs export: a version of a product as an archive (mesh/export.h). */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/export.h"

/*
 * Splits "DOMAIN/PRODUCT[@N|@INSTANT]": N a version number (1, 2, …), INSTANT an RFC 3339 time
 * (mesh_instant_parse). Without either *number is 0; with an instant *at is set and *number -1.
 */
static int split_versioned(const struct cli_cmd *cmd, const char *text, char name[2][MESH_NAME_MAX],
			   int64_t *number, int64_t *at)
{
	const char *at_sign = strchr(text, '@');
	char *copy, *end;
	long long n;
	int rc;

	*number = 0;
	if (at_sign && strspn(at_sign + 1, "0123456789") == strlen(at_sign + 1)) {
		errno = 0;
		n = strtoll(at_sign + 1, &end, 10);
		if (at_sign[1] < '1' || at_sign[1] > '9' || *end || errno)
			return cli_usage_error(cmd,
					       "'%s': the version after @ must be a number "
					       "from 1 up",
					       text);
		*number = n;
	} else if (at_sign) {
		if (mesh_instant_parse(at_sign + 1, at))
			return cli_usage_error(
			    cmd,
			    "'%s': after @ comes a version number or an RFC 3339 "
			    "time, YYYY-MM-DDThh:mm:ssZ (a fraction and a "
			    "+hh:mm zone may follow the seconds)",
			    text);
		*number = -1;
	}
	copy = strndup(text, at_sign ? (size_t)(at_sign - text) : strlen(text));
	if (!copy)
		return cli_error("out of memory");
	rc = cli_split_name(cmd, copy, 2, name);
	free(copy);
	return rc;
}

static int run_export(const struct cli_cmd *cmd, int argc, char **argv)
{
	char name[2][MESH_NAME_MAX];
	struct export_result res;
	enum export_format format;
	struct cli_session s;
	struct mfs_error err;
	struct cli_args a;
	int64_t number, at = 0;
	const char *file;
	int rc;

	rc = cli_parse(cmd, NULL, argc, argv, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = split_versioned(cmd, a.args[0], name, &number, &at);
	if (rc != CLI_CONTINUE)
		return rc;
	file = a.args[1];
	if (export_format_of(file, &format))
		return cli_usage_error(cmd,
				       "'%s': unknown archive type (use .tar, .tar.gz, .tgz, "
				       ".tar.bz2, .tar.xz, .tar.zst or .zip)",
				       file);
	rc = cli_open(&s, cmd, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	mfs_error_clear(&err);
	rc = number < 0 ? export_version_at(&s.mesh, name[0], name[1], at, &number, &err) : 0;
	if (!rc)
		rc = export_product(&s.mesh, &s.me, name[0], name[1], number, file, &res, &err);
	if (rc) {
		rc = cli_fail(rc, &err, "cannot export %s", a.args[0]);
		goto out;
	}
	printf("exported %s/%s version %lld to %s: contract.yaml and %zu table%s", name[0], name[1],
	       (long long)res.version, file, res.ntables, res.ntables == 1 ? "" : "s");
	if (res.nplain)
		printf(" (%zu with PII in plaintext)", res.nplain);
	printf("\n");
	rc = CLI_EXIT_OK;
out:
	cli_close(&s);
	return rc;
}

const struct cli_cmd cli_cmd_export = {
    .name = "export",
    .synopsis = "DOMAIN/PRODUCT[@N|@TIME] FILE",
    .summary = "Write a version (default: the latest) as an archive: contract.yaml and TABLE.csv.",
    .help = "@N names version N; @TIME the version current at that time, an RFC 3339 UTC\n"
	    "time such as 2026-12-01T10:00:00Z (or with a fraction, or a +hh:mm zone): the\n"
	    "last one published at or before it, as versions/@TIME in the mount.\n"
	    "The archive type follows FILE's extension: .tar, .tar.gz or .tgz, .tar.bz2,\n"
	    ".tar.xz, .tar.zst or .zip. Each table is in your view, exactly as the mount shows\n"
	    "it: PII in plaintext with unmask on the product, masked otherwise. The entries'\n"
	    "times are the version's publish time. FILE is written whole or not at all (through\n"
	    "FILE.tmp); an export holding plaintext PII is created with mode 0600 and written to\n"
	    "the audit table. Needs read on the product.\n",
    .min_args = 2,
    .max_args = 2,
    .run = run_export,
};
