/* The commands about data products: product, publish, log. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "contract/contract.h"
#include "mesh/publish.h"
#include "mesh/render.h"

/* Opens FILE for reading, "-" being standard input. Returns a descriptor or -errno. */
static int open_input(const char *path)
{
	int fd;

	if (!strcmp(path, "-"))
		return STDIN_FILENO;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static void close_input(int fd)
{
	if (fd != STDIN_FILENO)
		close(fd);
}

static ssize_t fd_source(void *ctx, void *buf, size_t len)
{
	int fd = *(int *)ctx;
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* Contracts are small: the same bound as for a contract proposed through the mount. */
#define CONTRACT_MAX (1 << 20)

/* Reads a whole contract file; -EFBIG past CONTRACT_MAX. */
static int read_input(const char *path, struct strbuf *out)
{
	char buf[65536];
	ssize_t n;
	int fd, rc = 0;

	fd = open_input(path);
	if (fd < 0)
		return fd;
	while ((n = fd_source(&fd, buf, sizeof(buf))) > 0) {
		if (out->len + (size_t)n > CONTRACT_MAX) {
			rc = -EFBIG;
			break;
		}
		rc = strbuf_add(out, buf, (size_t)n);
		if (rc)
			break;
	}
	if (n < 0)
		rc = (int)n;
	close_input(fd);
	return rc;
}

static const char *input_name(const char *path)
{
	return strcmp(path, "-") ? path : "stdin";
}

/* ---- product ---- */

static int run_product_create(const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *contract = NULL;
	const struct cli_opt opts[] = {
	    {.name = "contract", .short_name = 'c', .kind = CLI_OPT_VALUE, .value = &contract},
	    {.name = NULL},
	};
	char name[2][MESH_NAME_MAX];
	struct cli_session s;
	struct mfs_error err;
	struct cli_args a;
	struct strbuf yaml;
	int rc;

	rc = cli_parse(cmd, opts, argc, argv, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if (!contract)
		return cli_usage_error(cmd, "missing --contract FILE");
	rc = cli_split_name(cmd, a.args[0], 2, name);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_open(&s, cmd, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	strbuf_init(&yaml);
	rc = cli_require(&s, PRIV_PUBLISH, name[0], NULL);
	if (rc != CLI_CONTINUE)
		goto out;
	rc = read_input(contract, &yaml);
	if (rc) {
		rc = cli_fail(rc, NULL, "%s", input_name(contract));
		goto out;
	}
	mfs_error_clear(&err);
	rc = mesh_product_create(&s.mesh, name[0], name[1], yaml.buf, yaml.len,
				 input_name(contract), s.me.name, &err);
	if (rc) {
		rc = cli_fail(rc, &err, "cannot create %s", a.args[0]);
		goto out;
	}
	printf("created product %s/%s\n", name[0], name[1]);
	rc = CLI_EXIT_OK;
out:
	strbuf_release(&yaml);
	cli_close(&s);
	return rc;
}

static int run_product_show(const struct cli_cmd *cmd, int argc, char **argv)
{
	char name[2][MESH_NAME_MAX];
	struct cli_session s;
	struct cli_args a;
	struct strbuf out;
	int rc;

	rc = cli_parse(cmd, NULL, argc, argv, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_split_name(cmd, a.args[0], 2, name);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_open(&s, cmd, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	strbuf_init(&out);
	rc = render_product_readme(&s.mesh, name[0], name[1], &out);
	if (rc == -ENOENT) {
		rc = cli_error("no product %s/%s (see 'meshfs product list')", name[0], name[1]);
		goto out;
	}
	if (rc) {
		rc = cli_fail(rc, NULL, "cannot describe %s/%s", name[0], name[1]);
		goto out;
	}
	fwrite(out.buf, 1, out.len, stdout);
	rc = CLI_EXIT_OK;
out:
	strbuf_release(&out);
	cli_close(&s);
	return rc;
}

struct product_list_ctx {
	struct cli_table t;
	int64_t now;
};

static int product_list_cb(const struct catalog_product *p, void *ctx)
{
	struct product_list_ctx *pl = ctx;
	char name[2 * MESH_NAME_MAX], version[24], *description, *nl;
	char when[RENDER_TIME_LEN], freshness[RENDER_TIME_LEN + 16];
	int64_t since;
	int rc;

	snprintf(name, sizeof(name), "%s/%s", p->domain, p->name);
	if (p->latest)
		snprintf(version, sizeof(version), "%lld", (long long)p->latest);
	else
		snprintf(version, sizeof(version), "-");
	/* one row a product: the first line of the purpose */
	description = strdup(p->description);
	if (!description)
		return -ENOMEM;
	nl = strchr(description, '\n');
	if (nl)
		*nl = '\0';
	since = render_stale_since(p, pl->now);
	if (since) {
		render_time(since, when);
		snprintf(freshness, sizeof(freshness), "stale since %s", when);
	} else {
		snprintf(freshness, sizeof(freshness), "%s", render_freshness(p, pl->now));
	}
	rc = cli_table_add(&pl->t, name, version, p->status, freshness, p->owner, description);
	free(description);
	return rc;
}

static int run_product_list(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct product_list_ctx pl;
	struct catalog_domain d;
	struct cli_session s;
	struct cli_args a;
	const char *domain;
	int rc;

	rc = cli_parse(cmd, NULL, argc, argv, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	domain = a.nargs ? a.args[0] : NULL;
	if (domain && !mesh_name_valid(domain))
		return cli_usage_error(cmd, "invalid domain name '%s'", domain);
	rc = cli_open(&s, cmd, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	cli_table_init(&pl.t, 6);
	pl.now = mesh_now();
	rc = domain ? catalog_domain_get(s.mesh.cat, domain, &d) : 0;
	if (rc == -ENOENT) {
		rc = cli_error("no domain %s (see 'meshfs domain list')", domain);
		goto out;
	}
	if (!rc && domain)
		catalog_domain_release(&d);
	if (!rc)
		rc = cli_table_add(&pl.t, "PRODUCT", "VERSION", "STATUS", "FRESHNESS", "OWNER",
				   "DESCRIPTION");
	if (!rc)
		rc = catalog_product_list(s.mesh.cat, domain, product_list_cb, &pl);
	if (rc) {
		rc = cli_fail(rc, NULL, "cannot list the products");
		goto out;
	}
	cli_table_print(&pl.t, stdout);
	rc = CLI_EXIT_OK;
out:
	cli_table_release(&pl.t);
	cli_close(&s);
	return rc;
}

static const struct cli_cmd product_create = {
    .name = "product create",
    .synopsis = "DOMAIN/PRODUCT --contract FILE",
    .summary = "Create a data product from its contract. Needs publish on the domain.",
    .help = "Options:\n"
	    "  -c, --contract FILE   the ODCS v3 contract (YAML; - for standard input); its\n"
	    "                        domain and dataProduct must be DOMAIN and PRODUCT\n",
    .min_args = 1,
    .max_args = 1,
    .run = run_product_create,
};

static const struct cli_cmd product_show = {
    .name = "product show",
    .synopsis = "DOMAIN/PRODUCT",
    .summary = "Print the data sheet of a product (its README.md in the mount).",
    .min_args = 1,
    .max_args = 1,
    .run = run_product_show,
};

static const struct cli_cmd product_list = {
    .name = "product list",
    .synopsis = "[DOMAIN]",
    .summary = "List the products (of one domain): version, status, freshness, owner.",
    .min_args = 0,
    .max_args = 1,
    .run = run_product_list,
};

static const struct cli_cmd *const product_subs[] = {&product_create, &product_show, &product_list,
						     NULL};

const struct cli_cmd cli_cmd_product = {
    .name = "product",
    .synopsis = "create | show | list",
    .summary = "Manage data products.",
    .subs = product_subs,
};

/* ---- publish ---- */

static int run_publish(const struct cli_cmd *cmd, int argc, char **argv)
{
	char name[3][MESH_NAME_MAX], upload[NAME_MAX + 1];
	struct publish_result res;
	struct cli_session s;
	struct mfs_error err;
	struct cli_args a;
	const char *file, *base;
	int fd, rc;

	rc = cli_parse(cmd, NULL, argc, argv, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	file = a.args[1];
	/* DOMAIN/PRODUCT/TABLE FILE publishes one table; DOMAIN/PRODUCT FILE an upload named
	 * like FILE (an archive, or TABLE.csv / TABLE.jsonl, maybe compressed). */
	if (strchr(a.args[0], '/') != strrchr(a.args[0], '/')) {
		rc = cli_split_name(cmd, a.args[0], 3, name);
		if (rc != CLI_CONTINUE)
			return rc;
		if (publish_upload_name(name[2], file, upload, sizeof(upload)))
			return cli_usage_error(cmd, "%s cannot be published as one table", file);
	} else {
		rc = cli_split_name(cmd, a.args[0], 2, name);
		if (rc != CLI_CONTINUE)
			return rc;
		base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
		if (strlen(base) > NAME_MAX || !publish_name_publishes(base))
			return cli_usage_error(
			    cmd,
			    "%s: name it TABLE.csv, TABLE.jsonl (maybe .gz, .bz2, "
			    ".xz, .zst), an archive (.tar, .tar.gz, .zip…) or "
			    "contract.yaml, or give DOMAIN/PRODUCT/TABLE",
			    file);
		snprintf(upload, sizeof(upload), "%s", base);
	}
	rc = cli_open(&s, cmd, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	fd = open_input(file);
	if (fd < 0) {
		rc = cli_fail(fd, NULL, "%s", file);
		goto out;
	}
	mfs_error_clear(&err);
	rc = publish_upload(&s.mesh, &s.me, name[0], name[1], upload, input_name(file), fd_source,
			    &fd, &res, &err);
	close_input(fd);
	if (rc) {
		rc = cli_fail(rc, &err, "cannot publish %s", a.args[0]);
		goto out;
	}
	if (res.version)
		printf("published %s/%s version %lld: %llu rows, %llu bytes\n", name[0], name[1],
		       (long long)res.version, (unsigned long long)res.rows,
		       (unsigned long long)res.bytes);
	else
		printf("%s/%s: contract accepted (no version yet)\n", name[0], name[1]);
	rc = CLI_EXIT_OK;
out:
	cli_close(&s);
	return rc;
}

/* ---- contract ---- */

static int run_contract(const struct cli_cmd *cmd, int argc, char **argv)
{
	char name[2][MESH_NAME_MAX];
	struct publish_result res;
	struct cli_session s;
	struct mfs_error err;
	struct cli_args a;
	int fd, rc;

	rc = cli_parse(cmd, NULL, argc, argv, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_split_name(cmd, a.args[0], 2, name);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_open(&s, cmd, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	fd = open_input(a.args[1]);
	if (fd < 0) {
		rc = cli_fail(fd, NULL, "%s", a.args[1]);
		goto out;
	}
	mfs_error_clear(&err);
	rc = publish_upload(&s.mesh, &s.me, name[0], name[1], "contract.yaml",
			    input_name(a.args[1]), fd_source, &fd, &res, &err);
	close_input(fd);
	if (rc) {
		rc = cli_fail(rc, &err, "cannot change the contract of %s", a.args[0]);
		goto out;
	}
	if (res.version)
		printf("%s/%s: new contract in force from version %lld\n", name[0], name[1],
		       (long long)res.version);
	else
		printf("%s/%s: new contract in force\n", name[0], name[1]);
	rc = CLI_EXIT_OK;
out:
	cli_close(&s);
	return rc;
}

const struct cli_cmd cli_cmd_contract = {
    .name = "contract",
    .synopsis = "DOMAIN/PRODUCT FILE",
    .summary = "Propose a new contract (ODCS v3) for a product, checked for compatibility.",
    .help = "The same pipeline as writing contract.yaml through the mount: the contract must\n"
	    "parse, name DOMAIN/PRODUCT, have a higher version and satisfy the mesh policy.\n"
	    "Breaking changes (removing or renaming a column or table, changing a type\n"
	    "incompatibly, making a column required, lowering a classification) need a new\n"
	    "major version, proposed by the owning team; the products downstream are named.\n"
	    "Once the product has versions, the new contract starts a new version over the\n"
	    "previous version's tables.\n",
    .min_args = 2,
    .max_args = 2,
    .run = run_contract,
};

const struct cli_cmd cli_cmd_publish = {
    .name = "publish",
    .synopsis = "DOMAIN/PRODUCT/TABLE FILE | DOMAIN/PRODUCT FILE",
    .summary = "Publish FILE as a new version (- for standard input).",
    .help = "FILE is CSV with a header row or JSON Lines (TABLE.jsonl), either maybe\n"
	    "compressed (.gz .bz2 .xz .zst); with DOMAIN/PRODUCT only, FILE's name says what it\n"
	    "is: TABLE.csv, TABLE.jsonl, an archive (.tar, .tar.gz, .zip…) of several tables and\n"
	    "maybe a contract.yaml, published as one version, or contract.yaml alone.\n"
	    "The same checks as a write through the mount: the header, every value against\n"
	    "the contract, quality rules and the mesh policy. A rejected file changes nothing\n"
	    "and each reason is printed as FILE:LINE:COLUMN: message. Needs publish on the\n"
	    "product.\n",
    .min_args = 2,
    .max_args = 2,
    .run = run_publish,
};

/* ---- log ---- */

/* Versions kept past their callback, to compare the tables of each with the one before it. */
struct log_list {
	struct catalog_version *items;
	size_t n, cap;
};

static int log_list_add(const struct catalog_version *v, void *ctx)
{
	struct log_list *l = ctx;
	struct catalog_version *items, *lv;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		items = realloc(l->items, l->cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		l->items = items;
	}
	lv = &l->items[l->n];
	*lv = *v;
	lv->checks = strdup(v->checks);
	lv->tables = malloc((v->ntables ? v->ntables : 1) * sizeof(*v->tables));
	if (!lv->checks || !lv->tables) {
		free(lv->checks);
		free(lv->tables);
		return -ENOMEM;
	}
	memcpy(lv->tables, v->tables, v->ntables * sizeof(*v->tables));
	l->n++;
	return 0;
}

static void log_list_release(struct log_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->items[i].checks);
		free(l->items[i].tables);
	}
	free(l->items);
}

/* Whether table t of a version has the same segment in the version before it (prev, may be
 * NULL). */
static int carried_over(const struct catalog_table_version *t, const struct catalog_version *prev)
{
	size_t i;

	for (i = 0; prev && i < prev->ntables; i++)
		if (!strcmp(prev->tables[i].name, t->name))
			return !strcmp(prev->tables[i].segment, t->segment);
	return 0;
}

static void log_print(const struct catalog_version *v, const struct catalog_version *prev)
{
	const struct catalog_table_version *t;
	char at[CLI_TIME_MAX];
	size_t i;

	cli_format_time(v->published_at, at);
	printf("version %lld  %s  by %s  %llu row%s  %llu bytes  contract %lld\n",
	       (long long)v->number, at, v->published_by, (unsigned long long)v->rows,
	       v->rows == 1 ? "" : "s", (unsigned long long)v->bytes, (long long)v->contract_seq);
	printf("  tables:");
	for (i = 0; i < v->ntables; i++) {
		t = &v->tables[i];
		printf("%s %s (%llu row%s%s)", i ? "," : "", t->name, (unsigned long long)t->rows,
		       t->rows == 1 ? "" : "s", carried_over(t, prev) ? ", carried over" : "");
	}
	printf("\n  checks: %s\n", v->checks[0] ? v->checks : "-");
}

static int run_log(const struct cli_cmd *cmd, int argc, char **argv)
{
	char name[2][MESH_NAME_MAX];
	struct log_list l = {0};
	struct catalog_product p;
	struct cli_session s;
	struct cli_args a;
	size_t i;
	int rc;

	rc = cli_parse(cmd, NULL, argc, argv, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_split_name(cmd, a.args[0], 2, name);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_open(&s, cmd, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = catalog_product_get(s.mesh.cat, name[0], name[1], &p);
	if (rc == -ENOENT) {
		rc = cli_error("no product %s/%s (see 'meshfs product list')", name[0], name[1]);
		goto out;
	}
	if (rc) {
		rc = cli_fail(rc, NULL, "cannot read %s/%s", name[0], name[1]);
		goto out;
	}
	rc = catalog_version_list(s.mesh.cat, p.id, 0, log_list_add, &l);
	catalog_product_release(&p);
	if (rc) {
		rc = cli_fail(rc, NULL, "cannot list the versions of %s/%s", name[0], name[1]);
		goto out;
	}
	if (!l.n)
		printf("%s/%s has no version yet\n", name[0], name[1]);
	/* newest first: the version before items[i] is items[i + 1] */
	for (i = 0; i < l.n; i++)
		log_print(&l.items[i], i + 1 < l.n ? &l.items[i + 1] : NULL);
	rc = CLI_EXIT_OK;
out:
	log_list_release(&l);
	cli_close(&s);
	return rc;
}

const struct cli_cmd cli_cmd_log = {
    .name = "log",
    .synopsis = "DOMAIN/PRODUCT",
    .summary = "List the versions of a product, newest first: time, who, rows, bytes, checks.",
    .min_args = 1,
    .max_args = 1,
    .run = run_log,
};
