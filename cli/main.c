/* meshfs: the command line (docs/DESIGN.md §2). The dispatcher and what every command shares. */
#include "cli/cli.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "contract/contract.h"

static const struct cli_cmd *const root_subs[] = {
    &cli_cmd_init,
    &cli_cmd_mount,
    &cli_cmd_team,
    &cli_cmd_domain,
    &cli_cmd_product,
    &cli_cmd_publish,
    &cli_cmd_contract,
    &cli_cmd_grant,
    &cli_cmd_revoke,
    &cli_cmd_log,
    &cli_cmd_audit,
    &cli_cmd_verify,
    &cli_cmd_policy,
    &cli_cmd_key,
    &cli_cmd_export,
    &cli_cmd_search,
    &cli_cmd_status,
    &cli_cmd_migrate,
    NULL,
};

static const struct cli_cmd root = {
    .name = "",
    .synopsis = "COMMAND [ARGS...] [-m DIR]",
    .summary = "meshfs mounts a data mesh: every domain's data products as a directory tree.",
    .help = "Every command takes the mesh from -m DIR or --mesh DIR, else from $MESHFS_MESH.\n"
	    "  --version  print the version and exit\n",
    .subs = root_subs,
};

int cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("meshfs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_EXIT_FAIL;
}

int cli_fail(int rc, const struct mfs_error *err, const char *fmt, ...)
{
	va_list ap;

	if (err && err->msg[0]) {
		/* one "meshfs: " line per problem */
		for (const char *line = err->msg; *line;) {
			size_t len = strcspn(line, "\n");

			cli_error("%.*s", (int)len, line);
			line += len + (line[len] == '\n');
		}
		return CLI_EXIT_FAIL;
	}
	fputs("meshfs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(rc < 0 ? -rc : rc));
	return CLI_EXIT_FAIL;
}

int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "meshfs: %s%s", cmd->name, cmd->name[0] ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'meshfs %s%s--help' for more information.\n", cmd->name,
		cmd->name[0] ? " " : "");
	return CLI_EXIT_USAGE;
}

/* The word that names cmd in its group: "create" for "team create". */
static const char *cmd_word(const struct cli_cmd *cmd)
{
	const char *sp = strrchr(cmd->name, ' ');

	return sp ? sp + 1 : cmd->name;
}

static void print_help(const struct cli_cmd *cmd)
{
	const struct cli_cmd *const *sub;
	struct cli_table t;
	char line[256];

	printf("Usage: meshfs %s%s%s\n\n%s\n", cmd->name, cmd->name[0] ? " " : "", cmd->synopsis,
	       cmd->summary);
	if (cmd->help)
		printf("\n%s", cmd->help);
	if (cmd->subs) {
		cli_table_init(&t, 2);
		for (sub = cmd->subs; *sub; sub++) {
			/* the top level lists words only: some synopses are long */
			snprintf(line, sizeof(line), "  %s%s%s", cmd_word(*sub),
				 cmd->name[0] ? " " : "", cmd->name[0] ? (*sub)->synopsis : "");
			if (cli_table_add(&t, line, (*sub)->summary))
				break;
		}
		printf("\nCommands:\n");
		cli_table_print(&t, stdout);
		cli_table_release(&t);
		printf("\nRun 'meshfs %s%sCOMMAND --help' for the help of a command.\n", cmd->name,
		       cmd->name[0] ? " " : "");
		return;
	}
	printf("\nCommon options:\n"
	       "  -m, --mesh DIR|URL  the mesh: a directory, or postgresql://… for a shared one\n"
	       "                      (default: $MESHFS_MESH)\n"
	       "  --key FILE          a shared mesh's master key (default: $MESHFS_KEY)\n"
	       "  -h, --help          print this help and exit\n");
}

static int is_help(const char *arg)
{
	return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

/* Whether arg is the option --LONG (or -SHORT, when not 0), with its value in the same argument
 * (*inline_value set) or not. */
static int is_common_opt(const char *arg, const char *lng, char shrt, const char **inline_value)
{
	size_t n = strlen(lng);

	*inline_value = NULL;
	if (arg[0] != '-')
		return 0;
	if (shrt && arg[1] == shrt) {
		*inline_value = arg[2] ? arg + 2 : NULL;
		return 1;
	}
	if (arg[1] != '-' || strncmp(arg + 2, lng, n))
		return 0;
	if (arg[2 + n] == '=')
		*inline_value = arg + 3 + n;
	return arg[2 + n] == '=' || !arg[2 + n];
}

/* Whether arg is -m/--mesh. */
static int is_mesh_opt(const char *arg, const char **inline_value)
{
	return is_common_opt(arg, "mesh", 'm', inline_value);
}

int cli_dispatch(const struct cli_cmd *group, int argc, char **argv)
{
	const struct cli_cmd *const *sub;
	const char *value;
	char *word;
	int i;

	assert(group->subs);
	for (i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			print_help(group);
			return CLI_EXIT_OK;
		}
		if (group == &root && !strcmp(argv[i], "--version")) {
			printf("meshfs %s\n", MESHFS_VERSION);
			return CLI_EXIT_OK;
		}
		if (is_mesh_opt(argv[i], &value)) {
			if (!value && ++i == argc)
				return cli_usage_error(group, "option '%s' needs a value",
						       argv[i - 1]);
			continue;
		}
		if (argv[i][0] == '-')
			return cli_usage_error(group, "unknown option '%s'", argv[i]);
		break;
	}
	if (i >= argc)
		return cli_usage_error(group, "missing command");
	word = argv[i];
	for (sub = group->subs; *sub; sub++)
		if (!strcmp(cmd_word(*sub), word))
			break;
	if (!*sub)
		return cli_usage_error(group, "unknown command '%s'", word);
	/* the subcommand's argv: its word first, then every other argument in order */
	memmove(argv + 2, argv + 1, (size_t)(i - 1) * sizeof(*argv));
	argv[1] = word;
	if ((*sub)->subs)
		return cli_dispatch(*sub, argc - 1, argv + 1);
	return (*sub)->run(*sub, argc - 1, argv + 1);
}

static const struct cli_opt *find_long(const struct cli_opt *opts, const char *name, size_t len)
{
	for (; opts && opts->name; opts++)
		if (strlen(opts->name) == len && !strncmp(opts->name, name, len))
			return opts;
	return NULL;
}

static const struct cli_opt *find_short(const struct cli_opt *opts, char c)
{
	for (; opts && opts->name; opts++)
		if (opts->short_name && opts->short_name == c)
			return opts;
	return NULL;
}

/* Applies one option; value NULL when it was given without one. */
static int apply_opt(const struct cli_opt *o, const char *value)
{
	switch (o->kind) {
	case CLI_OPT_FLAG:
		*o->flag = 1;
		return 0;
	case CLI_OPT_VALUE:
		*o->value = value;
		return 0;
	case CLI_OPT_LIST:
		if ((o->list->len && strbuf_addch(o->list, ',')) || strbuf_addstr(o->list, value))
			return cli_error("out of memory");
		return 0;
	}
	assert(0);
	return CLI_EXIT_FAIL;
}

int cli_parse(const struct cli_cmd *cmd, const struct cli_opt *opts, int argc, char **argv,
	      struct cli_args *a)
{
	const struct cli_opt *o;
	const char *arg, *value, *eq;
	char *display;
	int i, rc, nopts_done = 0;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (is_help(argv[i])) {
			print_help(cmd);
			return CLI_EXIT_OK;
		}
	}
	a->mesh = NULL;
	a->key = NULL;
	a->args = argv + 1;
	a->nargs = 0;
	for (i = 1; i < argc; i++) {
		arg = argv[i];
		if (nopts_done || arg[0] != '-' || !arg[1]) {
			a->args[a->nargs++] = argv[i];
			continue;
		}
		if (!strcmp(arg, "--")) {
			nopts_done = 1;
			continue;
		}
		if (is_mesh_opt(arg, &value)) {
			if (!value && ++i == argc)
				return cli_usage_error(cmd, "option '%s' needs a value", arg);
			a->mesh = value ? value : argv[i];
			continue;
		}
		if (is_common_opt(arg, "key", 0, &value)) {
			if (!value && ++i == argc)
				return cli_usage_error(cmd, "option '%s' needs a value", arg);
			a->key = value ? value : argv[i];
			continue;
		}
		value = NULL;
		if (arg[1] == '-') {
			eq = strchr(arg + 2, '=');
			o = find_long(opts, arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2));
			if (eq)
				value = eq + 1;
		} else {
			o = find_short(opts, arg[1]);
			if (arg[2])
				value = arg + 2;
		}
		if (!o)
			return cli_usage_error(cmd, "unknown option '%s'", arg);
		if (o->kind == CLI_OPT_FLAG && value)
			return cli_usage_error(cmd, "option '%s' takes no value", arg);
		if (o->kind != CLI_OPT_FLAG && !value) {
			if (++i == argc)
				return cli_usage_error(cmd, "option '%s' needs a value", arg);
			value = argv[i];
		}
		rc = apply_opt(o, value);
		if (rc)
			return rc;
	}
	if (!a->mesh) {
		a->mesh = getenv("MESHFS_MESH");
		if (a->mesh && !a->mesh[0])
			a->mesh = NULL;
	}
	display = catalog_target_display(a->mesh ? a->mesh : "");
	if (!display)
		return cli_error("out of memory");
	snprintf(a->display, sizeof(a->display), "%s", display);
	free(display);
	if (a->nargs < cmd->min_args)
		return cli_usage_error(cmd, "missing operand (usage: meshfs %s %s)", cmd->name,
				       cmd->synopsis);
	if (cmd->max_args >= 0 && a->nargs > cmd->max_args)
		return cli_usage_error(cmd, "unexpected operand '%s'", a->args[cmd->max_args]);
	return CLI_CONTINUE;
}

int cli_open(struct cli_session *s, const struct cli_cmd *cmd, const struct cli_args *a)
{
	struct mfs_error err;
	int rc;

	if (!a->mesh)
		return cli_usage_error(cmd, "no mesh given: use -m DIR or set MESHFS_MESH");
	mfs_error_clear(&err);
	rc = principal_init(&s->me, getuid(), getgid());
	if (rc)
		return cli_fail(rc, NULL, "cannot resolve the calling user (uid %lu)",
				(unsigned long)getuid());
	rc = mesh_open(&s->mesh, a->mesh, &(struct mesh_options){.key_file = a->key}, &err);
	if (rc) {
		principal_release(&s->me);
		return cli_fail(rc, &err, "%s: cannot open the mesh", a->display);
	}
	return CLI_CONTINUE;
}

int cli_start(const struct cli_cmd *cmd, const struct cli_opt *opts, int argc, char **argv,
	      struct cli_args *a, struct cli_session *s)
{
	int rc = cli_parse(cmd, opts, argc, argv, a);

	return rc == CLI_CONTINUE ? cli_open(s, cmd, a) : rc;
}

void cli_close(struct cli_session *s)
{
	mesh_close(&s->mesh);
	principal_release(&s->me);
}

int cli_require(struct cli_session *s, enum privilege priv, const char *domain, const char *product)
{
	int rc = acl_allowed(s->mesh.cat, &s->me, priv, domain, product);

	if (rc == 1)
		return CLI_CONTINUE;
	if (rc < 0)
		return cli_fail(rc, NULL, "cannot check the rights of %s", s->me.name);
	if (product)
		return cli_error("permission denied: %s has no %s right on %s/%s", s->me.name,
				 privilege_name(priv), domain, product);
	if (domain)
		return cli_error("permission denied: %s has no %s right on domain %s", s->me.name,
				 privilege_name(priv), domain);
	return cli_error("permission denied: %s has no %s right on the mesh", s->me.name,
			 privilege_name(priv));
}

int cli_split_name(const struct cli_cmd *cmd, const char *text, size_t n,
		   char parts[][MESH_NAME_MAX])
{
	static const char *const forms[] = {NULL, NULL, "DOMAIN/PRODUCT", "DOMAIN/PRODUCT/TABLE"};
	const char *p = text;
	size_t i, len;

	assert(n == 2 || n == 3);
	for (i = 0; i < n; i++, p += len + 1) {
		len = strcspn(p, "/");
		if ((i + 1 < n) != (p[len] == '/'))
			return cli_usage_error(cmd, "'%s' is not of the form %s", text, forms[n]);
		if (len < MESH_NAME_MAX) {
			memcpy(parts[i], p, len);
			parts[i][len] = '\0';
			if (mesh_name_valid(parts[i]))
				continue;
		}
		return cli_usage_error(cmd,
				       "invalid name '%.*s' in '%s' (1-63 characters of a-z, 0-9, "
				       "_ and -, starting with a letter or digit)",
				       (int)len, p, text);
	}
	return CLI_CONTINUE;
}

void cli_format_time(int64_t t, char out[CLI_TIME_MAX])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, CLI_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, CLI_TIME_MAX, "%lld", (long long)t);
}

void cli_table_init(struct cli_table *t, size_t ncols)
{
	assert(ncols > 0);
	t->ncols = ncols;
	t->cells = NULL;
	t->ncells = 0;
	t->cap = 0;
}

int cli_table_add(struct cli_table *t, ...)
{
	va_list ap;
	char **p;
	size_t i, cap;
	int rc = 0;

	if (t->ncells + t->ncols > t->cap) {
		cap = t->cap ? 2 * t->cap : 16 * t->ncols;
		p = realloc(t->cells, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		t->cells = p;
		t->cap = cap;
	}
	va_start(ap, t);
	for (i = 0; i < t->ncols; i++) {
		t->cells[t->ncells + i] = strdup(va_arg(ap, const char *));
		if (!t->cells[t->ncells + i])
			rc = -ENOMEM;
	}
	va_end(ap);
	if (rc) {
		for (i = 0; i < t->ncols; i++)
			free(t->cells[t->ncells + i]);
		return rc;
	}
	t->ncells += t->ncols;
	return 0;
}

/* Characters on screen: UTF-8 continuation bytes take no column. */
static size_t display_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

void cli_table_print(const struct cli_table *t, FILE *out)
{
	size_t widths[16] = {0};
	size_t r, c, w, last;

	assert(t->ncols <= sizeof(widths) / sizeof(widths[0]));
	for (r = 0; r < t->ncells; r += t->ncols)
		for (c = 0; c < t->ncols; c++) {
			w = display_width(t->cells[r + c]);
			if (w > widths[c])
				widths[c] = w;
		}
	for (r = 0; r < t->ncells; r += t->ncols) {
		/* no padding after the last cell with text: no trailing blanks */
		for (last = t->ncols - 1; last > 0 && !t->cells[r + last][0]; last--)
			;
		for (c = 0; c < last; c++) {
			fputs(t->cells[r + c], out);
			fprintf(out, "%*s", (int)(widths[c] - display_width(t->cells[r + c]) + 2),
				"");
		}
		fprintf(out, "%s\n", t->cells[r + last]);
	}
}

void cli_table_release(struct cli_table *t)
{
	size_t i;

	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	cli_table_init(t, t->ncols);
}

int main(int argc, char **argv)
{
	int rc;

	/* Commands hold plaintext PII and keys in memory: no core dump may write them out. */
	prctl(PR_SET_DUMPABLE, 0);
	rc = cli_dispatch(&root, argc, argv);
	if (fflush(stdout) || ferror(stdout))
		return cli_error("cannot write the output: %s", strerror(errno));
	return rc;
}
