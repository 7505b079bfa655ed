/*
 * What the files of the `meshfs` command line share (docs/DESIGN.md §2): the command tables, a
 * small option parser every command uses, opening the mesh as the calling user, and printing.
 *
 * Exit status: 0 success, 1 a problem (one line "meshfs: …" on stderr per problem), 2 a usage
 * error (one line and a hint to run --help).
 */
#ifndef MESHFS_CLI_H
#define MESHFS_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "acl/acl.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "mesh/mesh.h"

#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2
/* cli_parse's "go on with the command" (every other value is an exit status) */
#define CLI_CONTINUE (-1)

/*
 * A command, or a group of subcommands (run NULL, subs set). name is the full name after
 * "meshfs" ("team create"); lists of subcommands end with NULL.
 */
struct cli_cmd {
	const char *name;
	const char *synopsis;	/* operands and options after the name */
	const char *summary;	/* one line for the listing of the group */
	const char *help;	/* more --help text (what it does, its own options); may be NULL */
	int min_args, max_args; /* operands; max_args -1: no limit */
	int (*run)(const struct cli_cmd *cmd, int argc, char **argv);
	const struct cli_cmd *const *subs;
};

enum cli_opt_kind {
	CLI_OPT_FLAG,  /* sets *flag to 1 */
	CLI_OPT_VALUE, /* stores the argument in *value (the last one given wins) */
	CLI_OPT_LIST,  /* appends the argument to *list, comma-separated */
};

/* One option of a command: --name VALUE, --name=VALUE, -c VALUE or -cVALUE. Tables end with an
 * entry whose name is NULL. -m/--mesh, --key and -h/--help are known to every command. */
struct cli_opt {
	const char *name; /* long name without the dashes */
	char short_name;  /* 0 when none */
	enum cli_opt_kind kind;
	int *flag;
	const char **value;
	struct strbuf *list;
};

struct cli_args {
	const char *mesh;   /* -m/--mesh, else $MESHFS_MESH, else NULL */
	char display[1024]; /* mesh for messages, any password in it redacted */
	const char *key;    /* --key FILE: the master key of a shared mesh (else $MESHFS_KEY) */
	char **args;	    /* the operands, in order */
	int nargs;
};

/* Runs group (the whole command line is group "" with argv[0] the program) on argv: finds the
 * subcommand among the arguments and runs it with its own argv. Returns the exit status. */
int cli_dispatch(const struct cli_cmd *group, int argc, char **argv);
/*
 * Parses argv (argv[0] the command's word) for cmd with its options opts (may be NULL). Operands
 * may come before, between or after options; "--" ends the options. Returns CLI_CONTINUE, or an
 * exit status to return at once: CLI_EXIT_OK after printing --help, CLI_EXIT_USAGE after
 * reporting a usage error. The operands point into argv.
 */
int cli_parse(const struct cli_cmd *cmd, const struct cli_opt *opts, int argc, char **argv,
	      struct cli_args *a);
/* Reports a usage error of cmd: "meshfs: NAME: MESSAGE" and the --help hint. Returns
 * CLI_EXIT_USAGE. */
int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints "meshfs: MESSAGE" on stderr. Returns CLI_EXIT_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reports a failed call: err's message when it has one, else "MESSAGE: strerror(-rc)". Returns
 * CLI_EXIT_FAIL. */
int cli_fail(int rc, const struct mfs_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The mesh opened by a command, and the calling user as the principal. */
struct cli_session {
	struct mesh mesh;
	struct principal me;
};

/* Opens the mesh of a (a usage error of cmd when none was given) for the calling user. Returns
 * CLI_CONTINUE, or an exit status after reporting why it could not. */
int cli_open(struct cli_session *s, const struct cli_cmd *cmd, const struct cli_args *a);
void cli_close(struct cli_session *s);
/* cli_parse, then cli_open: what most commands start with. Returns CLI_CONTINUE with s open, or
 * an exit status. */
int cli_start(const struct cli_cmd *cmd, const struct cli_opt *opts, int argc, char **argv,
	      struct cli_args *a, struct cli_session *s);
/* Whether the caller has priv on the object (domain NULL: the mesh; product NULL: the domain).
 * Returns CLI_CONTINUE, or CLI_EXIT_FAIL after saying what right is missing. */
int cli_require(struct cli_session *s, enum privilege priv, const char *domain,
		const char *product);

/*
 * Splits "DOMAIN/PRODUCT" (n 2) or "DOMAIN/PRODUCT/TABLE" (n 3) of text into parts, each a valid
 * mesh name. Returns CLI_CONTINUE, or CLI_EXIT_USAGE after a usage error of cmd.
 */
int cli_split_name(const struct cli_cmd *cmd, const char *text, size_t n,
		   char parts[][MESH_NAME_MAX]);

#define CLI_TIME_MAX 32
/* Unix seconds as ISO 8601 UTC, "2026-11-25T06:40:00Z". */
void cli_format_time(int64_t t, char out[CLI_TIME_MAX]);

/* Text laid out in aligned columns; every column but the last is padded. */
struct cli_table {
	size_t ncols;
	char **cells;
	size_t ncells, cap;
};

void cli_table_init(struct cli_table *t, size_t ncols);
/* Adds a row of exactly ncols strings (copied). Returns 0 or -ENOMEM. */
int cli_table_add(struct cli_table *t, ...);
void cli_table_print(const struct cli_table *t, FILE *out);
void cli_table_release(struct cli_table *t);

/* The commands, in cmd_admin.c, cmd_product.c, cmd_mount.c, cmd_keys.c and cmd_export.c. */
extern const struct cli_cmd cli_cmd_init, cli_cmd_team, cli_cmd_domain, cli_cmd_grant,
    cli_cmd_revoke, cli_cmd_audit, cli_cmd_verify, cli_cmd_migrate;
extern const struct cli_cmd cli_cmd_product, cli_cmd_publish, cli_cmd_contract, cli_cmd_log;
extern const struct cli_cmd cli_cmd_mount;
extern const struct cli_cmd cli_cmd_policy;		    /* cmd_policy.c */
extern const struct cli_cmd cli_cmd_search, cli_cmd_status; /* cmd_discovery.c */
extern const struct cli_cmd cli_cmd_key, cli_cmd_export;

#endif
