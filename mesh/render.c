/* The generated documents of the tree: Markdown for people, CSV for scripts. */
#include "mesh/render.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>

#include "contract/contract.h"
#include "contract/policy.h"
#include "table/csv.h"

#define RECENT_VERSIONS 10

void render_time(int64_t t, char out[RENDER_TIME_LEN])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, RENDER_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, RENDER_TIME_LEN, "%lld", (long long)t);
}

int64_t render_stale_since(const struct catalog_product *p, int64_t now)
{
	if (!p->latest || p->frequency_seconds <= 0 || now - p->updated_at <= p->frequency_seconds)
		return 0;
	return p->updated_at + p->frequency_seconds;
}

const char *render_freshness(const struct catalog_product *p, int64_t now)
{
	if (!p->latest)
		return "never";
	return render_stale_since(p, now) ? "stale" : "fresh";
}

void render_duration(int64_t s, char *out, size_t size)
{
	if (s % (7 * 86400) == 0)
		snprintf(out, size, "%lld week%s", (long long)(s / (7 * 86400)),
			 s == 7 * 86400 ? "" : "s");
	else if (s % 86400 == 0)
		snprintf(out, size, "%lld day%s", (long long)(s / 86400), s == 86400 ? "" : "s");
	else if (s % 3600 == 0)
		snprintf(out, size, "%lld hour%s", (long long)(s / 3600), s == 3600 ? "" : "s");
	else if (s % 60 == 0)
		snprintf(out, size, "%lld minute%s", (long long)(s / 60), s == 60 ? "" : "s");
	else
		snprintf(out, size, "%lld second%s", (long long)s, s == 1 ? "" : "s");
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

/* The first sentence of text on one line, for lists where a whole purpose would be too much. */
static int md_first_sentence(struct strbuf *out, const char *text)
{
	size_t n = 0;
	char *copy;
	int rc;

	while (text[n] && !(text[n] == '.' && (!text[n + 1] || strchr(" \n", text[n + 1]))))
		n++;
	copy = strndup(text, text[n] ? n + 1 : n);
	if (!copy)
		return -ENOMEM;
	rc = md_cell(out, copy);
	free(copy);
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
		rc =
		    strbuf_addstr(out, ".\n\n## Products\n\n"
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
			     q->metric ? q->metric
			     : q->type ? q->type
				       : "rule");

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
	struct catalog_product p;
	int rc;

	r->count++;
	rc = strbuf_addf(r->out, "- [%s/%s](../../%s/%s/README.md)", domain, product, domain,
			 product);
	if (rc)
		return rc;
	/* an input may be named before its product is created */
	rc = catalog_product_get(r->m->cat, domain, product, &p);
	if (!rc) {
		if (*p.description)
			rc = strbuf_addstr(r->out, ": ");
		if (!rc)
			rc = md_first_sentence(r->out, p.description);
		catalog_product_release(&p);
	} else if (rc == -ENOENT) {
		rc = strbuf_addstr(r->out, " (not in the mesh yet)");
	}
	if (!rc)
		rc = strbuf_addch(r->out, '\n');
	return rc;
}

/* What a breaking change would reach: counted, and listed past the direct consumers, which the
 * data sheet has listed already. */
struct impact {
	struct strbuf indirect;
	size_t direct, all;
};

static int impact_item(const char *domain, const char *product, int depth, void *ctx)
{
	struct impact *im = ctx;

	im->all++;
	if (depth == 1) {
		im->direct++;
		return 0;
	}
	return strbuf_addf(&im->indirect, "- [%s/%s](../../%s/%s/README.md), %d steps away\n",
			   domain, product, domain, product, depth);
}

static int version_row(const struct catalog_version *v, void *ctx)
{
	struct rows *r = ctx;
	char when[RENDER_TIME_LEN];
	int rc;

	render_time(v->published_at, when);
	rc =
	    strbuf_addf(r->out, "| %lld | %s | %s | %llu | %llu | ", (long long)v->number, when,
			v->published_by, (unsigned long long)v->rows, (unsigned long long)v->bytes);
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
	struct impact im = {.all = 0};
	int rc;

	strbuf_init(&im.indirect);
	rc = strbuf_addstr(out,
			   "## Lineage\n\n### Upstream: the inputs this product is made from\n\n");
	if (!rc)
		rc = catalog_upstream(m->cat, p->id, lineage_item, &r);
	if (!rc && !r.count)
		rc = strbuf_addstr(out, "- none\n");
	if (!rc)
		rc = strbuf_addstr(out, "\n### Downstream: the products made from this one\n\n");
	r.count = 0;
	if (!rc)
		rc = catalog_downstream(m->cat, p->domain, p->name, lineage_item, &r);
	if (!rc && !r.count)
		rc = strbuf_addstr(out, "- none\n");
	if (!rc)
		rc = catalog_downstream_all(m->cat, p->domain, p->name, impact_item, &im);
	if (rc)
		goto out;
	rc = strbuf_addstr(out, "\n### Impact of a breaking change\n\n");
	if (!rc && !im.all)
		rc = strbuf_addstr(out, "No other product reads this one, directly or through "
					"others.\n\n");
	else if (!rc && im.all == im.direct)
		rc = strbuf_addf(out,
				 "A breaking change of the contract would affect the %zu product%s "
				 "downstream, and no other.\n\n",
				 im.all, im.all == 1 ? "" : "s");
	else if (!rc)
		rc = strbuf_addf(
		    out,
		    "A breaking change of the contract would affect %zu products: the %zu "
		    "downstream and, through them:\n\n%s\n",
		    im.all, im.direct, im.indirect.buf);
out:
	strbuf_release(&im.indirect);
	return rc;
}

static int render_contacts(struct mesh *m, const struct catalog_product *p,
			   const struct contract *c, struct strbuf *out)
{
	int rc = strbuf_addf(out, "## Owner and contacts\n\n- Domain %s is owned by ", p->domain);

	if (!rc)
		rc = render_team(m, p->owner, out);
	if (!rc)
		rc = strbuf_addstr(out, ".\n");
	if (!rc && c->nteam)
		rc = strbuf_addstr(out, "- People named in the contract:\n");
	for (size_t i = 0; !rc && i < c->nteam; i++)
		rc = strbuf_addf(out, "  - **%s**%s%s\n", c->team[i].username,
				 c->team[i].role ? ", " : "",
				 c->team[i].role ? c->team[i].role : "");
	if (!rc)
		rc = strbuf_addstr(out, "- Questions about the data go to these people; a publish "
					"that was rejected is explained in `publish.log`.\n\n");
	return rc;
}

static int render_freshness_line(const struct catalog_product *p, const struct contract *c,
				 int64_t now, struct strbuf *out)
{
	char when[RENDER_TIME_LEN], since[RENDER_TIME_LEN], due[RENDER_TIME_LEN];
	int64_t stale = render_stale_since(p, now);

	if (!p->latest)
		return strbuf_addstr(out, "- Freshness: **never** published.\n");
	render_time(p->updated_at, when);
	if (stale) {
		render_time(stale, since);
		return strbuf_addf(out, "- Freshness: **stale** since %s (last published %s).\n",
				   since, when);
	}
	if (!c->frequency_seconds)
		return strbuf_addf(out, "- Freshness: **fresh** (last published %s).\n", when);
	render_time(p->updated_at + c->frequency_seconds, due);
	return strbuf_addf(out, "- Freshness: **fresh** (last published %s; next due by %s).\n",
			   when, due);
}

static int render_sla(const struct contract *c, struct strbuf *out)
{
	char freq[64];
	int rc;

	if (c->frequency_seconds) {
		render_duration(c->frequency_seconds, freq, sizeof(freq));
		rc = strbuf_addf(out, "- Service level: a new version every %s", freq);
	} else {
		rc = strbuf_addstr(out, "- Service level: no publishing frequency (never stale)");
	}
	if (!rc && c->retention)
		rc = strbuf_addf(out, "; retention %s", c->retention);
	if (!rc)
		rc = strbuf_addstr(out, ".\n");
	return rc;
}

static int render_latest_checks(const struct catalog_version *v, struct strbuf *out)
{
	char when[RENDER_TIME_LEN];
	int rc;

	render_time(v->published_at, when);
	rc = strbuf_addf(out,
			 "## Quality of the latest version\n\n"
			 "- Version %lld, published %s by %s: %llu row%s.\n",
			 (long long)v->number, when, v->published_by, (unsigned long long)v->rows,
			 v->rows == 1 ? "" : "s");
	if (!rc && *v->checks) {
		rc = strbuf_addstr(out, "- Checks: ");
		if (!rc)
			rc = md_cell(out, v->checks);
		if (!rc)
			rc = strbuf_addstr(out, "\n");
	}
	if (!rc && v->warnings)
		rc = strbuf_addf(out,
				 "- **%llu warning%s**: quality rule%s of severity warning failed "
				 "(the data was published all the same).\n\n",
				 (unsigned long long)v->warnings, v->warnings == 1 ? "" : "s",
				 v->warnings == 1 ? "" : "s");
	else if (!rc)
		rc = strbuf_addstr(out, "- No warnings: every quality rule held.\n\n");
	return rc;
}

int render_product_readme(struct mesh *m, const char *domain, const char *product,
			  struct strbuf *out)
{
	struct catalog_product p = {0};
	struct catalog_version v = {0};
	struct contract c = {0};
	struct mesh_policy policy;
	struct rows r = {.m = m, .out = out};
	int64_t seq, now = mesh_now();
	char *yaml = NULL;
	int rc, have_policy = 0;

	rc = catalog_product_get(m->cat, domain, product, &p);
	if (rc)
		goto out;
	rc = catalog_contract_get(m->cat, p.id, 0, &yaml, &seq);
	if (rc)
		goto out;
	/* PII marks as the policy of today has them */
	rc = mesh_policy_get(m, &policy, NULL);
	if (rc)
		goto out;
	have_policy = 1;
	rc = contract_parse(&c, yaml, strlen(yaml), "contract.yaml",
			    (const char *const *)policy.pii_classes, NULL);
	if (rc)
		goto out;
	rc = strbuf_addf(
	    out, "# %s/%s\n\n%s\n\n- Contract: `contract.yaml`, version %s, status %s\n", domain,
	    product, *p.description ? p.description : "(no purpose given)", c.version, p.status);
	for (size_t i = 0; !rc && i < c.ntags; i++)
		rc = strbuf_addf(out, "%s`%s`%s", i ? ", " : "- Tags: ", c.tags[i],
				 i + 1 == c.ntags ? "\n" : "");
	if (!rc)
		rc = render_sla(&c, out);
	if (!rc)
		rc = render_freshness_line(&p, &c, now, out);
	if (!rc)
		rc = strbuf_addch(out, '\n');
	if (!rc)
		rc = render_contacts(m, &p, &c, out);
	if (!rc)
		rc = strbuf_addstr(out, "## Tables\n\n");
	if (!rc)
		rc = render_tables(out, &c);
	if (!rc && p.latest) {
		rc = catalog_version_get(m->cat, p.id, 0, &v);
		if (!rc)
			rc = render_latest_checks(&v, out);
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
	if (have_policy)
		policy_release(&policy);
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

/* ---- lineage.dot ---- */

struct dot_product {
	char domain[MESH_NAME_MAX];
	char name[MESH_NAME_MAX];
	int64_t id;
	int64_t latest;
	char *description;
};

struct dot_edge {
	char domain[MESH_NAME_MAX]; /* the input */
	char name[MESH_NAME_MAX];
	size_t to; /* index of the product it feeds */
};

struct dot_graph {
	struct dot_product *products; /* by domain then name, as the catalog lists them */
	size_t nproducts, products_cap;
	struct dot_edge *edges;
	size_t nedges, edges_cap;
	size_t to; /* the product whose inputs are being collected */
};

static int dot_product_add(const struct catalog_product *p, void *ctx)
{
	struct dot_graph *g = ctx;
	struct dot_product *dp;

	if (g->nproducts == g->products_cap) {
		size_t cap = g->products_cap ? 2 * g->products_cap : 64;

		dp = reallocarray(g->products, cap, sizeof(*dp));
		if (!dp)
			return -ENOMEM;
		g->products = dp;
		g->products_cap = cap;
	}
	dp = &g->products[g->nproducts];
	memcpy(dp->domain, p->domain, sizeof(dp->domain));
	memcpy(dp->name, p->name, sizeof(dp->name));
	dp->id = p->id;
	dp->latest = p->latest;
	dp->description = strdup(p->description);
	if (!dp->description)
		return -ENOMEM;
	g->nproducts++;
	return 0;
}

static int dot_edge_add(const char *domain, const char *product, void *ctx)
{
	struct dot_graph *g = ctx;
	struct dot_edge *e;

	if (g->nedges == g->edges_cap) {
		size_t cap = g->edges_cap ? 2 * g->edges_cap : 64;

		e = reallocarray(g->edges, cap, sizeof(*e));
		if (!e)
			return -ENOMEM;
		g->edges = e;
		g->edges_cap = cap;
	}
	e = &g->edges[g->nedges++];
	snprintf(e->domain, sizeof(e->domain), "%s", domain);
	snprintf(e->name, sizeof(e->name), "%s", product);
	e->to = g->to;
	return 0;
}

static void dot_graph_release(struct dot_graph *g)
{
	for (size_t i = 0; i < g->nproducts; i++)
		free(g->products[i].description);
	free(g->products);
	free(g->edges);
}

/* Orders edges by their input: domain, then name. */
static int dot_name_cmp(const void *a, const void *b)
{
	const struct dot_edge *x = a, *y = b;
	int c = strcmp(x->domain, y->domain);

	return c ? c : strcmp(x->name, y->name);
}

static int dot_has_product(const struct dot_graph *g, const struct dot_edge *e)
{
	for (size_t i = 0; i < g->nproducts; i++)
		if (!strcmp(g->products[i].domain, e->domain) &&
		    !strcmp(g->products[i].name, e->name))
			return 1;
	return 0;
}

/* A DOT string: quoted, with quotes and backslashes escaped and line breaks as spaces. */
static int dot_string(struct strbuf *out, const char *text)
{
	int rc = strbuf_addch(out, '"');

	for (const char *c = text; *c && !rc; c++) {
		if (*c == '"' || *c == '\\')
			rc = strbuf_addch(out, '\\');
		if (!rc)
			rc = strbuf_addch(out, *c == '\n' || *c == '\r' ? ' ' : *c);
	}
	if (!rc)
		rc = strbuf_addch(out, '"');
	return rc;
}

static int dot_node(struct strbuf *out, const struct dot_product *p)
{
	int rc;

	if (p->latest)
		rc = strbuf_addf(out, "\t\t\"%s/%s\" [label=\"%s\\nv%lld\", tooltip=", p->domain,
				 p->name, p->name, (long long)p->latest);
	else
		rc = strbuf_addf(out,
				 "\t\t\"%s/%s\" [label=\"%s\\nnever published\", "
				 "fillcolor=\"#eeeeee\", tooltip=",
				 p->domain, p->name, p->name);
	if (!rc)
		rc = dot_string(out, p->description);
	if (!rc)
		rc = strbuf_addf(out, ", URL=\"%s/%s/README.md\"];\n", p->domain, p->name);
	return rc;
}

/* Inputs named in contracts that are no product of the mesh (yet), each once, by name. */
static int dot_missing_nodes(const struct dot_graph *g, struct strbuf *out)
{
	struct dot_edge *missing;
	size_t n = 0;
	int rc = 0;

	missing = calloc(g->nedges ? g->nedges : 1, sizeof(*missing));
	if (!missing)
		return -ENOMEM;
	for (size_t i = 0; i < g->nedges; i++)
		if (!dot_has_product(g, &g->edges[i]))
			missing[n++] = g->edges[i];
	qsort(missing, n, sizeof(*missing), dot_name_cmp);
	for (size_t i = 0; !rc && i < n; i++)
		if (!i || dot_name_cmp(&missing[i - 1], &missing[i]))
			rc = strbuf_addf(out,
					 "\t\"%s/%s\" [label=\"%s/%s\\nnot in the mesh\", "
					 "style=dashed];\n",
					 missing[i].domain, missing[i].name, missing[i].domain,
					 missing[i].name);
	free(missing);
	return rc;
}

int render_lineage_dot(struct mesh *m, struct strbuf *out)
{
	struct dot_graph g = {0};
	const struct dot_product *p;
	int rc;

	rc = catalog_product_list(m->cat, NULL, dot_product_add, &g);
	for (g.to = 0; !rc && g.to < g.nproducts; g.to++)
		rc = catalog_upstream(m->cat, g.products[g.to].id, dot_edge_add, &g);
	if (rc)
		goto out;
	rc = strbuf_addstr(out,
			   "// The lineage of the data mesh: an arrow goes from an input to the "
			   "product made from it.\n"
			   "// Render it with Graphviz: dot -Tsvg lineage.dot > lineage.svg\n"
			   "digraph mesh {\n"
			   "\tgraph [rankdir=LR, fontname=\"Helvetica\", fontsize=11];\n"
			   "\tnode [shape=box, style=\"rounded,filled\", fillcolor=white, "
			   "fontname=\"Helvetica\", fontsize=10];\n"
			   "\tedge [color=\"#555555\"];\n");
	for (size_t i = 0; !rc && i < g.nproducts; i++) {
		p = &g.products[i];
		if (!i || strcmp(g.products[i - 1].domain, p->domain))
			rc = strbuf_addf(
			    out,
			    "\tsubgraph \"cluster_%s\" {\n"
			    "\t\tlabel=\"%s\";\n\t\tstyle=rounded;\n\t\tcolor=\"#999999\";\n",
			    p->domain, p->domain);
		if (!rc)
			rc = dot_node(out, p);
		if (!rc && (i + 1 == g.nproducts || strcmp(g.products[i + 1].domain, p->domain)))
			rc = strbuf_addstr(out, "\t}\n");
	}
	if (!rc)
		rc = dot_missing_nodes(&g, out);
	for (size_t i = 0; !rc && i < g.nedges; i++) {
		p = &g.products[g.edges[i].to];
		rc = strbuf_addf(out, "\t\"%s/%s\" -> \"%s/%s\";\n", g.edges[i].domain,
				 g.edges[i].name, p->domain, p->name);
	}
	if (!rc)
		rc = strbuf_addstr(out, "}\n");
out:
	dot_graph_release(&g);
	return rc;
}
