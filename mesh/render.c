/* The generated documents of the tree: Markdown for people, CSV for scripts. */
#include "mesh/render.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>

#include "catalog/contract.h"
#include "table/csv.h"

#define RECENT_VERSIONS 10

void render_time(int64_t t, char out[RENDER_TIME_LEN])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, RENDER_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, RENDER_TIME_LEN, "%lld", (long long)t);
}

const char *render_freshness(const struct catalog_product *p, int64_t now)
{
	if (!p->latest)
		return "never";
	if (p->frequency_seconds > 0 && now - p->updated_at > p->frequency_seconds)
		return "stale";
	return "fresh";
}

static void render_duration(int64_t s, char *out, size_t size)
{
	if (s % (7 * 86400) == 0)
		snprintf(out, size, "%lld week%s", (long long)(s / (7 * 86400)),
			 s == 7 * 86400 ? "" : "s");
	else if (s % 86400 == 0)
		snprintf(out, size, "%lld day%s", (long long)(s / 86400), s == 86400 ? "" : "s");
	else if (s % 3600 == 0)
		snprintf(out, size, "%lld hour%s", (long long)(s / 3600), s == 3600 ? "" : "s");
	else
		snprintf(out, size, "%lld minutes", (long long)(s / 60));
}

/* Markdown table cells: a pipe or a line break would end the cell. */
static int md_cell(struct strbuf *out, const char *text)
{
	int rc = 0;

	for (const char *s = text; *s && !rc; s++) {
		if (*s == '|')
			rc = strbuf_addstr(out, "\\|");
		else if (*s == '\n' || *s == '\r')
			rc = strbuf_addch(out, ' ');
		else
			rc = strbuf_addch(out, *s);
	}
	return rc;
}

struct team_members {
	const char *team;
	struct strbuf *out;
	int found;
};

static int team_members_cb(const char *team, const char *members, void *ctx)
{
	struct team_members *t = ctx;

	if (strcmp(team, t->team))
		return 0;
	t->found = 1;
	return strbuf_addstr(t->out, *members ? members : "(no members yet)");
}

static int render_team(struct mesh *m, const char *team, struct strbuf *out)
{
	struct team_members t = {.team = team, .out = out};
	int rc = strbuf_addf(out, "team **%s** (", team);

	if (!rc)
		rc = catalog_team_list(m->cat, team_members_cb, &t);
	if (!rc && !t.found)
		rc = strbuf_addstr(out, "unknown team");
	if (!rc)
		rc = strbuf_addch(out, ')');
	return rc;
}

struct rows {
	struct mesh *m;
	struct strbuf *out;
	int64_t now;
	size_t count;
};

static int domain_product_row(const struct catalog_product *p, void *ctx)
{
	struct rows *r = ctx;
	char when[RENDER_TIME_LEN] = "-";
	int rc;

	if (p->latest)
		render_time(p->updated_at, when);
	rc = strbuf_addf(r->out, "| [%s](%s/README.md) | %lld | %s | %s | ", p->name, p->name,
			 (long long)p->latest, render_freshness(p, r->now), when);
	if (!rc)
		rc = md_cell(r->out, p->description);
	if (!rc)
		rc = strbuf_addstr(r->out, " |\n");
	r->count++;
	return rc;
}

static int count_product(const struct catalog_product *p, void *ctx)
{
	(void)p;
	((struct rows *)ctx)->count++;
	return 0;
}

static int mesh_domain_row(const struct catalog_domain *d, void *ctx)
{
	struct rows *r = ctx;
	struct rows products = {0};
	int rc = catalog_product_list(r->m->cat, d->name, count_product, &products);

	if (!rc)
		rc = strbuf_addf(r->out, "| [%s](%s/README.md) | %s | %zu | ", d->name, d->name,
				 d->owner, products.count);
	if (!rc)
		rc = md_cell(r->out, d->description);
	if (!rc)
		rc = strbuf_addstr(r->out, " |\n");
	r->count++;
	return rc;
}

int render_mesh_readme(struct mesh *m, struct strbuf *out)
{
	struct rows r = {.m = m, .out = out};
	int rc;

	rc = strbuf_addstr(out,
			   "# Data mesh\n\n"
			   "Every directory here is a business domain; in it, each directory is a "
			   "data product owned by the domain's team, described by its contract "
			   "(`contract.yaml`, ODCS v3) and data sheet (`README.md`).\n\n"
			   "## Domains\n\n"
			   "| domain | owner | products | description |\n"
			   "|---|---|---|---|\n");
	if (!rc)
		rc = catalog_domain_list(m->cat, mesh_domain_row, &r);
	if (!rc && !r.count)
		rc = strbuf_addstr(out, "| (none yet) | | | |\n");
	if (!rc)
		rc = strbuf_addstr(
			out,
			"\n## Reading\n\n"
			"- `catalog.csv` lists every product with its owner, latest version and "
			"freshness.\n"
			"- `DOMAIN/PRODUCT/TABLE.csv` is the latest version of a table; "
			"`DOMAIN/PRODUCT/versions/N/` holds version N as it was published.\n"
			"- Read it with the tools you use: `head`, `grep`, `awk`, pandas, DuckDB.\n"
			"- Table data needs the `read` privilege. Columns classified as PII show their "
			"real values only to principals with `unmask`; others see masked values "
			"(tokens join across products).\n"
			"- Extended attributes give `user.meshfs.version`, `.rows`, `.published_at`, "
			"`.published_by`, `.hash` and `.view` (`getfattr -d`).\n"
			"\n## Publishing\n\n"
			"A domain team publishes a new version of a table with `meshfs publish "
			"DOMAIN/PRODUCT/TABLE FILE`: the file is checked against the contract before "
			"it becomes an immutable version.\n");
	return rc;
}

int render_domain_readme(struct mesh *m, const char *domain, struct strbuf *out)
{
	struct catalog_domain d = {0};
	struct rows r = {.m = m, .out = out, .now = mesh_now()};
	int rc;

	rc = catalog_domain_get(m->cat, domain, &d);
	if (rc)
		return rc;
	rc = strbuf_addf(out, "# Domain %s\n\n", d.name);
	if (!rc && *d.description)
		rc = strbuf_addf(out, "%s\n\n", d.description);
	if (!rc)
		rc = strbuf_addstr(out, "Owned by ");
	if (!rc)
		rc = render_team(m, d.owner, out);
	if (!rc)
		rc = strbuf_addstr(out, ".\n\n## Products\n\n"
					"| product | version | freshness | updated | description |\n"
					"|---|---|---|---|---|\n");
	if (!rc)
		rc = catalog_product_list(m->cat, domain, domain_product_row, &r);
	if (!rc && !r.count)
		rc = strbuf_addstr(out, "| (none yet) | | | | |\n");
	catalog_domain_release(&d);
	return rc;
}

static const char *quality_op_name(enum quality_op op)
{
	static const char *const names[] = {
		[QOP_NONE] = "",
		[QOP_MUST_BE] = "=",
		[QOP_MUST_NOT_BE] = "!=",
		[QOP_GREATER] = ">",
		[QOP_GREATER_OR_EQUAL] = ">=",
		[QOP_LESS] = "<",
		[QOP_LESS_OR_EQUAL] = "<=",
		[QOP_BETWEEN] = "between",
		[QOP_NOT_BETWEEN] = "not between",
	};
	return names[op];
}

static int render_quality(struct strbuf *out, const char *where, const struct quality_rule *q)
{
	int rc = strbuf_addf(out, "- %s: %s", where,
			     q->metric ? q->metric : q->type ? q->type : "rule");

	if (!rc && q->op == QOP_BETWEEN)
		rc = strbuf_addf(out, " between %g and %g", q->a, q->b);
	else if (!rc && q->op == QOP_NOT_BETWEEN)
		rc = strbuf_addf(out, " not between %g and %g", q->a, q->b);
	else if (!rc && q->op != QOP_NONE)
		rc = strbuf_addf(out, " %s %g", quality_op_name(q->op), q->a);
	if (!rc && q->op != QOP_NONE && q->percent)
		rc = strbuf_addstr(out, "%");
	if (!rc && q->warning)
		rc = strbuf_addstr(out, " (warning only)");
	if (!rc && q->description)
		rc = strbuf_addf(out, " — %s", q->description);
	if (!rc)
		rc = strbuf_addch(out, '\n');
	return rc;
}

static int render_column(struct strbuf *out, const struct contract_column *c)
{
	int rc = strbuf_addf(out, "| %s | %s | %s | ", c->name, logical_type_name(c->type),
			     c->required ? "yes" : "no");

	if (!rc && c->primary_key)
		rc = strbuf_addstr(out, "primary key ");
	else if (!rc && c->unique)
		rc = strbuf_addstr(out, "unique ");
	if (!rc && c->has_minimum)
		rc = strbuf_addf(out, "min %g ", c->minimum);
	if (!rc && c->has_maximum)
		rc = strbuf_addf(out, "max %g ", c->maximum);
	if (!rc && c->min_length >= 0)
		rc = strbuf_addf(out, "length >= %ld ", c->min_length);
	if (!rc && c->max_length >= 0)
		rc = strbuf_addf(out, "length <= %ld ", c->max_length);
	if (!rc && c->pattern) {
		rc = strbuf_addstr(out, "pattern `");
		if (!rc)
			rc = md_cell(out, c->pattern);
		if (!rc)
			rc = strbuf_addstr(out, "` ");
	}
	if (!rc && c->format)
		rc = strbuf_addf(out, "format %s ", c->format);
	if (!rc)
		rc = strbuf_addstr(out, "| ");
	if (!rc && c->pii)
		rc = strbuf_addf(out, "PII (%s, masked as %s)", c->classification,
				 mask_kind_name(c->mask));
	else if (!rc && c->classification)
		rc = strbuf_addstr(out, c->classification);
	if (!rc)
		rc = strbuf_addstr(out, " | ");
	if (!rc && c->description)
		rc = md_cell(out, c->description);
	if (!rc)
		rc = strbuf_addstr(out, " |\n");
	return rc;
}

static size_t contract_table_column_rules(const struct contract_table *tb)
{
	size_t n = 0;

	for (size_t k = 0; k < tb->ncolumns; k++)
		n += tb->columns[k].nquality;
	return n;
}

static int render_tables(struct strbuf *out, const struct contract *c)
{
	int rc = 0;

	for (size_t t = 0; !rc && t < c->ntables; t++) {
		const struct contract_table *tb = &c->tables[t];

		rc = strbuf_addf(out, "### %s.csv\n\n", tb->name);
		if (!rc && tb->description && *tb->description)
			rc = strbuf_addf(out, "%s\n\n", tb->description);
		if (!rc)
			rc = strbuf_addstr(out, "| column | type | required | constraints | "
						"classification | description |\n"
						"|---|---|---|---|---|---|\n");
		for (size_t k = 0; !rc && k < tb->ncolumns; k++)
			rc = render_column(out, &tb->columns[k]);
		if (!rc)
			rc = strbuf_addch(out, '\n');
		for (size_t q = 0; !rc && q < tb->nquality; q++)
			rc = render_quality(out, tb->name, &tb->quality[q]);
		for (size_t k = 0; !rc && k < tb->ncolumns; k++)
			for (size_t q = 0; !rc && q < tb->columns[k].nquality; q++)
				rc = render_quality(out, tb->columns[k].name,
						    &tb->columns[k].quality[q]);
		if (!rc && tb->nquality + contract_table_column_rules(tb))
			rc = strbuf_addch(out, '\n');
	}
	return rc;
}

static int lineage_item(const char *domain, const char *product, void *ctx)
{
	struct rows *r = ctx;

	r->count++;
	return strbuf_addf(r->out, "- [%s/%s](../../%s/%s/README.md)\n", domain, product, domain,
			   product);
}

static int version_row(const struct catalog_version *v, void *ctx)
{
	struct rows *r = ctx;
	char when[RENDER_TIME_LEN];
	int rc;

	render_time(v->published_at, when);
	rc = strbuf_addf(r->out, "| %lld | %s | %s | %llu | %llu | ", (long long)v->number, when,
			 v->published_by, (unsigned long long)v->rows,
			 (unsigned long long)v->bytes);
	if (!rc)
		rc = md_cell(r->out, v->checks);
	if (!rc)
		rc = strbuf_addstr(r->out, " |\n");
	r->count++;
	return rc;
}

static int render_lineage(struct mesh *m, const struct catalog_product *p, struct strbuf *out)
{
	struct rows r = {.m = m, .out = out};
	int rc = strbuf_addstr(out, "## Lineage\n\nUpstream (inputs):\n\n");

	if (!rc)
		rc = catalog_upstream(m->cat, p->id, lineage_item, &r);
	if (!rc && !r.count)
		rc = strbuf_addstr(out, "- none\n");
	if (!rc)
		rc = strbuf_addstr(out, "\nDownstream (products that read this one):\n\n");
	r.count = 0;
	if (!rc)
		rc = catalog_downstream(m->cat, p->domain, p->name, lineage_item, &r);
	if (!rc && !r.count)
		rc = strbuf_addstr(out, "- none\n");
	if (!rc)
		rc = strbuf_addch(out, '\n');
	return rc;
}

static int render_contacts(struct mesh *m, const struct catalog_product *p,
			   const struct contract *c, struct strbuf *out)
{
	int rc = strbuf_addstr(out, "## Owner\n\nDomain team: ");

	if (!rc)
		rc = render_team(m, p->owner, out);
	if (!rc)
		rc = strbuf_addch(out, '\n');
	for (size_t i = 0; !rc && i < c->nteam; i++)
		rc = strbuf_addf(out, "%s- %s%s%s%s\n", i ? "" : "\nContract team:\n\n",
				 c->team[i].username, c->team[i].role ? " (" : "",
				 c->team[i].role ? c->team[i].role : "", c->team[i].role ? ")" : "");
	if (!rc)
		rc = strbuf_addch(out, '\n');
	return rc;
}

static int render_sla(const struct catalog_product *p, const struct contract *c,
		      struct strbuf *out)
{
	char freq[64], when[RENDER_TIME_LEN];
	int64_t now = mesh_now();
	int rc = strbuf_addstr(out, "## Service level\n\n");

	if (!rc && c->frequency_seconds) {
		render_duration(c->frequency_seconds, freq, sizeof(freq));
		rc = strbuf_addf(out, "- Published every %s.\n", freq);
	} else if (!rc) {
		rc = strbuf_addstr(out, "- No publishing frequency declared.\n");
	}
	if (!rc && c->retention)
		rc = strbuf_addf(out, "- Retention: %s.\n", c->retention);
	if (!rc && p->latest) {
		render_time(p->updated_at, when);
		rc = strbuf_addf(out, "- Freshness: **%s** (last published %s).\n\n",
				 render_freshness(p, now), when);
	} else if (!rc) {
		rc = strbuf_addstr(out, "- Freshness: **never** published.\n\n");
	}
	return rc;
}

int render_product_readme(struct mesh *m, const char *domain, const char *product,
			  struct strbuf *out)
{
	struct catalog_product p = {0};
	struct catalog_version v = {0};
	struct contract c = {0};
	struct rows r = {.m = m, .out = out};
	char *yaml = NULL;
	int64_t seq;
	int rc;

	rc = catalog_product_get(m->cat, domain, product, &p);
	if (rc)
		goto out;
	rc = catalog_contract_get(m->cat, p.id, 0, &yaml, &seq);
	if (rc)
		goto out;
	rc = contract_parse(&c, yaml, strlen(yaml), "contract.yaml", NULL, NULL);
	if (rc)
		goto out;
	rc = strbuf_addf(out, "# %s/%s\n\n%s\n\n- Contract: `contract.yaml`, version %s, status %s\n",
			 domain, product, *p.description ? p.description : "(no purpose given)",
			 c.version, p.status);
	for (size_t i = 0; !rc && i < c.ntags; i++)
		rc = strbuf_addf(out, "%s`%s`%s", i ? ", " : "- Tags: ", c.tags[i],
				 i + 1 == c.ntags ? "\n" : "");
	if (!rc)
		rc = strbuf_addch(out, '\n');
	if (!rc)
		rc = render_contacts(m, &p, &c, out);
	if (!rc)
		rc = render_sla(&p, &c, out);
	if (!rc)
		rc = strbuf_addstr(out, "## Tables\n\n");
	if (!rc)
		rc = render_tables(out, &c);
	if (!rc && p.latest) {
		rc = catalog_version_get(m->cat, p.id, 0, &v);
		if (!rc)
			rc = strbuf_addf(out, "## Checks of the latest version (%lld)\n\n%s\n\n",
					 (long long)v.number, v.checks);
	}
	if (!rc)
		rc = render_lineage(m, &p, out);
	if (!rc)
		rc = strbuf_addstr(out, "## Recent versions\n\n"
					"| version | published | by | rows | bytes | checks |\n"
					"|---|---|---|---|---|---|\n");
	if (!rc)
		rc = catalog_version_list(m->cat, p.id, RECENT_VERSIONS, version_row, &r);
	if (!rc && !r.count)
		rc = strbuf_addstr(out, "| (none yet) | | | | | |\n");
out:
	free(yaml);
	contract_release(&c);
	catalog_version_release(&v);
	catalog_product_release(&p);
	return rc;
}

static int catalog_csv_row(const struct catalog_product *p, void *ctx)
{
	struct rows *r = ctx;
	char when[RENDER_TIME_LEN] = "";
	int rc;

	if (p->latest)
		render_time(p->updated_at, when);
	rc = csv_field_append(r->out, p->domain, strlen(p->domain));
	if (!rc)
		rc = strbuf_addch(r->out, ',');
	if (!rc)
		rc = csv_field_append(r->out, p->name, strlen(p->name));
	if (!rc)
		rc = strbuf_addch(r->out, ',');
	if (!rc)
		rc = csv_field_append(r->out, p->description, strlen(p->description));
	if (!rc)
		rc = strbuf_addch(r->out, ',');
	if (!rc)
		rc = csv_field_append(r->out, p->owner, strlen(p->owner));
	if (!rc)
		rc = strbuf_addch(r->out, ',');
	if (!rc)
		rc = csv_field_append(r->out, p->status, strlen(p->status));
	if (!rc)
		rc = strbuf_addf(r->out, ",%lld,%s,%s\n", (long long)p->latest, when,
				 render_freshness(p, r->now));
	return rc;
}

int render_catalog_csv(struct mesh *m, int64_t now, struct strbuf *out)
{
	struct rows r = {.m = m, .out = out, .now = now};
	int rc = strbuf_addstr(
		out, "domain,product,description,owner,status,version,updated_at,freshness\n");

	if (!rc)
		rc = catalog_product_list(m->cat, NULL, catalog_csv_row, &r);
	return rc;
}
