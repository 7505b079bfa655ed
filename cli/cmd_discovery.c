/* The commands that find and watch products: search and status. */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "contract/contract.h"
#include "mesh/render.h"

#define SEARCH_LIMIT 20

/* ---- search ---- */

struct search_ctx {
	struct cli_table t;
	int64_t now;
	size_t count;
};

static int search_row(const struct catalog_product *p, void *ctx)
{
	struct search_ctx *sc = ctx;
	char name[2 * MESH_NAME_MAX], version[24];
	char *description;
	int rc;

	snprintf(name, sizeof(name), "%s/%s", p->domain, p->name);
	if (p->latest)
		snprintf(version, sizeof(version), "%lld", (long long)p->latest);
	else
		snprintf(version, sizeof(version), "-");
	/* one row a product: the first line of the purpose */
	description = strndup(p->description, strcspn(p->description, "\n"));
	if (!description)
		return -ENOMEM;
	rc = cli_table_add(&sc->t, name, version, render_freshness(p, sc->now), p->owner,
			   description);
	free(description);
	sc->count++;
	return rc;
}

static int run_search(const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *limit_text = NULL;
	const struct cli_opt opts[] = {
	    {.name = "limit", .short_name = 'n', .kind = CLI_OPT_VALUE, .value = &limit_text},
	    {.name = NULL},
	};
	struct search_ctx sc = {.count = 0};
	struct cli_session s;
	struct cli_args a;
	struct strbuf text;
	unsigned long long limit = SEARCH_LIMIT;
	char *end;
	int rc;

	rc = cli_parse(cmd, opts, argc, argv, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if (limit_text) {
		errno = 0;
		limit = strtoull(limit_text, &end, 10);
		if (errno || end == limit_text || *end || *limit_text == '-')
			return cli_usage_error(cmd, "--limit needs a whole number, not '%s'",
					       limit_text);
	}
	rc = cli_open(&s, cmd, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	strbuf_init(&text);
	cli_table_init(&sc.t, 5);
	rc = cli_table_add(&sc.t, "PRODUCT", "VERSION", "FRESHNESS", "OWNER", "DESCRIPTION");
	for (int i = 0; !rc && i < a.nargs; i++)
		rc = strbuf_addf(&text, "%s%s", i ? " " : "", a.args[i]);
	sc.now = mesh_now();
	if (!rc)
		rc = catalog_search(s.mesh.cat, text.buf, limit, search_row, &sc);
	if (rc) {
		rc = cli_fail(rc, NULL, "cannot search the catalog");
		goto out;
	}
	if (!sc.count) {
		rc = cli_error("no product matches '%s'", text.buf);
		goto out;
	}
	cli_table_print(&sc.t, stdout);
	rc = CLI_EXIT_OK;
out:
	cli_table_release(&sc.t);
	strbuf_release(&text);
	cli_close(&s);
	return rc;
}

const struct cli_cmd cli_cmd_search = {
    .name = "search",
    .synopsis = "TEXT... [--limit N]",
    .summary = "Find products by name, purpose, tags, tables and columns, best match first.",
    .help = "Every word of TEXT must appear in the product's names, purpose, tags, table or\n"
	    "column names or descriptions; case and accents do not matter, and the last word\n"
	    "may be the start of a word. Words are taken as written, never as query syntax.\n"
	    "The same search is a directory in the mount: ls MOUNT/.search/TEXT/.\n"
	    "Exit 1 when no product matches.\n"
	    "Options:\n"
	    "  -n, --limit N   show at most N products (default 20; 0: all)\n",
    .min_args = 1,
    .max_args = -1,
    .run = run_search,
};

/* ---- status ---- */

struct status_ctx {
	struct cli_session *s;
	int64_t now;
	size_t products, fresh, stale, never, warned, problems;
};

/* A product never published is overdue once a whole period of its SLA has passed since it was
 * created: it is not stale (it has no data to be stale), but a monitor must hear of it. */
static void status_never(struct status_ctx *st, const struct catalog_product *p)
{
	char due[RENDER_TIME_LEN], every[64];

	st->never++;
	if (!p->frequency_seconds || st->now - p->created_at <= p->frequency_seconds)
		return;
	st->problems++;
	render_time(p->created_at + p->frequency_seconds, due);
	render_duration(p->frequency_seconds, every, sizeof(every));
	cli_error("%s/%s (%s): never published; its first version was due by %s (every %s)",
		  p->domain, p->name, p->owner, due, every);
}

static int status_product(const struct catalog_product *p, void *ctx)
{
	struct status_ctx *st = ctx;
	struct catalog_version v;
	char since[RENDER_TIME_LEN], when[RENDER_TIME_LEN], every[64];
	int64_t stale;
	int rc;

	st->products++;
	if (!p->latest) {
		status_never(st, p);
		return 0;
	}
	stale = render_stale_since(p, st->now);
	if (stale) {
		st->stale++;
		st->problems++;
		render_time(stale, since);
		render_time(p->updated_at, when);
		render_duration(p->frequency_seconds, every, sizeof(every));
		cli_error("%s/%s (%s): stale since %s; last published %s, due every %s", p->domain,
			  p->name, p->owner, since, when, every);
	} else {
		st->fresh++;
	}
	rc = catalog_version_get(st->s->mesh.cat, p->id, 0, &v);
	if (rc)
		return rc;
	if (v.warnings) {
		st->warned++;
		st->problems++;
		/* one line per problem, though the summary of the checks may span several */
		for (char *c = v.checks; *c; c++)
			if (*c == '\n' || *c == '\r')
				*c = ' ';
		cli_error("%s/%s (%s): version %lld failed %llu quality rule%s of severity "
			  "warning%s%s",
			  p->domain, p->name, p->owner, (long long)v.number,
			  (unsigned long long)v.warnings, v.warnings == 1 ? "" : "s",
			  *v.checks ? ": " : "", v.checks);
	}
	catalog_version_release(&v);
	return 0;
}

static int run_status(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct status_ctx st = {.products = 0};
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
	if (domain) {
		rc = catalog_domain_get(s.mesh.cat, domain, &d);
		if (rc == -ENOENT) {
			rc = cli_error("no domain %s (see 'meshfs domain list')", domain);
			goto out;
		}
		if (rc) {
			rc = cli_fail(rc, NULL, "cannot read domain %s", domain);
			goto out;
		}
		catalog_domain_release(&d);
	}
	st.s = &s;
	st.now = mesh_now();
	rc = catalog_product_list(s.mesh.cat, domain, status_product, &st);
	if (rc) {
		rc = cli_fail(rc, NULL, "cannot read the products");
		goto out;
	}
	printf("%zu product%s: %zu fresh, %zu stale, %zu never published; %zu latest version%s "
	       "with failed warnings\n",
	       st.products, st.products == 1 ? "" : "s", st.fresh, st.stale, st.never, st.warned,
	       st.warned == 1 ? "" : "s");
	if (st.problems)
		printf("%zu problem%s\n", st.problems, st.problems == 1 ? "" : "s");
	else
		printf("ok\n");
	rc = st.problems ? CLI_EXIT_FAIL : CLI_EXIT_OK;
out:
	cli_close(&s);
	return rc;
}

const struct cli_cmd cli_cmd_status = {
    .name = "status",
    .synopsis = "[DOMAIN]",
    .summary = "Report stale products and failed quality checks; exit 1 if there are any.",
    .help = "For monitoring. Each problem is one line on stderr, naming the product and its\n"
	    "owning team:\n"
	    "  - a product is stale: its latest version is older than its SLA frequency;\n"
	    "  - a product with an SLA frequency was never published, and a whole period has\n"
	    "    passed since it was created;\n"
	    "  - the latest version of a product failed quality rules of severity warning.\n"
	    "A summary goes to stdout. Exit 0 when there is no problem, 1 otherwise.\n",
    .min_args = 0,
    .max_args = 1,
    .run = run_status,
};
