/* The commands that set up and look after a mesh: init, team, domain, grant, revoke, audit,
 * verify. */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "contract/contract.h"
#include "contract/logical_type.h"

/* A Unix user or group name as the catalog takes it: printable, no blank (members are listed
 * space-separated), no colon (principals are "kind:NAME"). */
static int user_name_valid(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;

	if (!*p || strlen(name) >= MESH_NAME_MAX)
		return 0;
	for (; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == ':')
			return 0;
	return 1;
}

/* Records an administrative action of the caller in the audit table. */
static int audit_add(struct cli_session *s, const char *action, const char *object,
		     const char *outcome, const char *detail)
{
	struct catalog_audit a = {0};

	a.at = mesh_now();
	a.principal = s->me.name;
	a.action = action;
	a.object = object;
	a.view = "";
	a.outcome = outcome;
	a.detail = detail;
	return catalog_audit_add(s->mesh.cat, &a);
}

/* ---- init ---- */

static int run_init(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct mesh_init init = {0};
	struct mesh_options o = {0};
	const struct cli_opt opts[] = {
	    {.name = "store", .kind = CLI_OPT_VALUE, .value = &init.store},
	    {.name = "endpoint", .kind = CLI_OPT_VALUE, .value = &init.endpoint},
	    {.name = "region", .kind = CLI_OPT_VALUE, .value = &init.region},
	    {.name = NULL},
	};
	struct principal me;
	struct mfs_error err;
	struct cli_args a;
	int shared, rc;

	rc = cli_parse(cmd, opts, argc, argv, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if (!a.mesh)
		return cli_usage_error(cmd, "no mesh given: use -m DIR or set MESHFS_MESH");
	shared = catalog_target_shared(a.mesh);
	if (!shared && (init.store || init.endpoint || init.region || a.key))
		return cli_usage_error(cmd,
				       "--store, --endpoint, --region and --key are for a shared "
				       "mesh (-m postgresql://…); a local one keeps all in DIR");
	if (shared && !init.store)
		return cli_usage_error(cmd, "a shared mesh needs --store s3://BUCKET[/PREFIX] or "
					    "--store file:///DIR");
	o.key_file = a.key;
	rc = principal_init(&me, getuid(), getgid());
	if (rc)
		return cli_fail(rc, NULL, "cannot resolve the calling user");
	mfs_error_clear(&err);
	rc = mesh_create(a.mesh, me.name, shared ? &init : NULL, &o, &err);
	if (rc) {
		rc = cli_fail(rc, &err, "cannot create a mesh");
		goto out;
	}
	if (shared)
		printf(
		    "Created a shared mesh:\n"
		    "  catalog           %s (PostgreSQL)\n"
		    "  store             %s, as immutable blobs\n"
		    "  master key        %s: every host needs a copy (mode 0600); keep it secret "
		    "and back it up\n",
		    a.display, init.store, a.key ? a.key : getenv("MESHFS_KEY"));
	else
		printf(
		    "Created a mesh in %s:\n"
		    "  catalog.db        the catalog (SQLite)\n"
		    "  store/            the data, as immutable blobs\n"
		    "  keys/master.key   the master key: keep it secret, and back it up with the "
		    "mesh\n",
		    a.mesh);
	printf("%s is a mesh admin.\n\nNext steps:\n  export MESHFS_MESH=%s\n", me.name, a.display);
	if (shared)
		printf("  export MESHFS_KEY=%s\n", a.key ? a.key : getenv("MESHFS_KEY"));
	printf("  meshfs team create TEAM USER...\n"
	       "  meshfs domain create DOMAIN --owner TEAM\n"
	       "  meshfs product create DOMAIN/PRODUCT --contract CONTRACT.yaml\n"
	       "  meshfs publish DOMAIN/PRODUCT/TABLE FILE.csv\n"
	       "  meshfs mount MOUNTPOINT\n");
	rc = CLI_EXIT_OK;
out:
	principal_release(&me);
	return rc;
}

const struct cli_cmd cli_cmd_init = {
    .name = "init",
    .synopsis = "-m DIR | -m postgresql://… --store URL [--endpoint URL] [--region R] --key FILE",
    .summary = "Create a mesh (local in DIR, or shared); the caller becomes a mesh admin.",
    .help = "A local mesh is a directory (new or empty) holding the catalog, the data and the "
	    "key.\n"
	    "A shared mesh, for many hosts, has its catalog in an existing PostgreSQL database\n"
	    "(libpq's URL, .pgpass, PGPASSWORD, sslmode and service files apply) and its data in\n"
	    "an object store; its master key is a new file every host is then given.\n"
	    "Options:\n"
	    "  --store URL     where the data go: s3://BUCKET[/PREFIX] (made if missing), or\n"
	    "                  file:///DIR for a directory every host mounts\n"
	    "  --endpoint URL  the S3 service, when not AWS (default: $AWS_ENDPOINT_URL)\n"
	    "  --region R      the S3 region (default: $AWS_REGION, else us-east-1)\n"
	    "  --key FILE      the master key to create (default: $MESHFS_KEY)\n"
	    "S3 credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN\n"
	    "or ~/.aws/credentials, on each host; the catalog never records them.\n",
    .min_args = 0,
    .max_args = 0,
    .run = run_init,
};

/* ---- team ---- */

/* Parses the operands of a team command and opens the mesh as a mesh admin. */
static int team_begin(const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *a,
		      struct cli_session *s)
{
	int i, rc;

	rc = cli_parse(cmd, NULL, argc, argv, a);
	if (rc != CLI_CONTINUE)
		return rc;
	if (a->nargs && !mesh_name_valid(a->args[0]))
		return cli_usage_error(cmd,
				       "invalid team name '%s' (1-63 characters of a-z, 0-9, _ "
				       "and -, starting with a letter or digit)",
				       a->args[0]);
	for (i = 1; i < a->nargs; i++)
		if (!user_name_valid(a->args[i]))
			return cli_usage_error(cmd, "invalid user name '%s'", a->args[i]);
	rc = cli_open(s, cmd, a);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_require(s, PRIV_ADMIN, NULL, NULL);
	if (rc != CLI_CONTINUE)
		cli_close(s);
	return rc;
}

enum team_change { TEAM_CREATE, TEAM_ADD, TEAM_REMOVE };

/* Creates a team or changes its members, with its audit row, in one transaction. */
static int team_change(const struct cli_cmd *cmd, int argc, char **argv, enum team_change what)
{
	static const char *const actions[] = {"team-create", "team-add", "team-remove"};
	struct cli_session s;
	struct cli_args a;
	struct strbuf detail;
	const char *team;
	int i, rc;

	rc = team_begin(cmd, argc, argv, &a, &s);
	if (rc != CLI_CONTINUE)
		return rc;
	strbuf_init(&detail);
	team = a.args[0];
	for (i = 1; i < a.nargs; i++) {
		if (strbuf_addf(&detail, "%s%s", i > 1 ? " " : "", a.args[i])) {
			rc = cli_error("out of memory");
			goto out;
		}
	}
	rc = catalog_begin(s.mesh.cat);
	if (rc) {
		rc = cli_fail(rc, NULL, "cannot change team %s", team);
		goto out;
	}
	if (what == TEAM_CREATE)
		rc = catalog_team_create(s.mesh.cat, team);
	for (i = 1; !rc && i < a.nargs; i++) {
		if (what == TEAM_REMOVE)
			rc = catalog_team_remove(s.mesh.cat, team, a.args[i]);
		else
			rc = catalog_team_add(s.mesh.cat, team, a.args[i]);
	}
	if (!rc)
		rc = audit_add(&s, actions[what], team, "ok", detail.buf);
	if (!rc)
		rc = catalog_commit(s.mesh.cat);
	if (rc) {
		catalog_rollback(s.mesh.cat);
		if (rc == -EEXIST)
			rc = cli_error("team %s already exists", team);
		else if (rc == -ENOENT)
			rc = cli_error("no team %s (see 'meshfs team list')", team);
		else
			rc = cli_fail(rc, NULL, "cannot change team %s", team);
		goto out;
	}
	if (what == TEAM_CREATE)
		printf("created team %s%s%s\n", team, detail.len ? " with " : "", detail.buf);
	else
		printf("%s %s %s team %s\n", what == TEAM_ADD ? "added" : "removed", detail.buf,
		       what == TEAM_ADD ? "to" : "from", team);
	rc = CLI_EXIT_OK;
out:
	strbuf_release(&detail);
	cli_close(&s);
	return rc;
}

static int run_team_create(const struct cli_cmd *cmd, int argc, char **argv)
{
	return team_change(cmd, argc, argv, TEAM_CREATE);
}

static int run_team_add(const struct cli_cmd *cmd, int argc, char **argv)
{
	return team_change(cmd, argc, argv, TEAM_ADD);
}

static int run_team_remove(const struct cli_cmd *cmd, int argc, char **argv)
{
	return team_change(cmd, argc, argv, TEAM_REMOVE);
}

static int team_list_cb(const char *team, const char *members, void *ctx)
{
	return cli_table_add(ctx, team, members);
}

static int run_team_list(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_session s;
	struct cli_args a;
	struct cli_table t;
	int rc;

	rc = cli_start(cmd, NULL, argc, argv, &a, &s);
	if (rc != CLI_CONTINUE)
		return rc;
	cli_table_init(&t, 2);
	rc = cli_table_add(&t, "TEAM", "MEMBERS");
	if (!rc)
		rc = catalog_team_list(s.mesh.cat, team_list_cb, &t);
	if (rc) {
		rc = cli_fail(rc, NULL, "cannot list the teams");
		goto out;
	}
	cli_table_print(&t, stdout);
	rc = CLI_EXIT_OK;
out:
	cli_table_release(&t);
	cli_close(&s);
	return rc;
}

static const struct cli_cmd team_create = {
    .name = "team create",
    .synopsis = "TEAM [USER...]",
    .summary = "Create a team, with its first members. Needs admin on the mesh.",
    .min_args = 1,
    .max_args = -1,
    .run = run_team_create,
};

static const struct cli_cmd team_add = {
    .name = "team add",
    .synopsis = "TEAM USER...",
    .summary = "Add Unix users to a team. Needs admin on the mesh.",
    .min_args = 2,
    .max_args = -1,
    .run = run_team_add,
};

static const struct cli_cmd team_remove = {
    .name = "team remove",
    .synopsis = "TEAM USER...",
    .summary = "Remove users from a team. Needs admin on the mesh.",
    .min_args = 2,
    .max_args = -1,
    .run = run_team_remove,
};

static const struct cli_cmd team_list = {
    .name = "team list",
    .synopsis = "",
    .summary = "List the teams and their members.",
    .min_args = 0,
    .max_args = 0,
    .run = run_team_list,
};

static const struct cli_cmd *const team_subs[] = {&team_create, &team_add, &team_remove, &team_list,
						  NULL};

const struct cli_cmd cli_cmd_team = {
    .name = "team",
    .synopsis = "create | add | remove | list",
    .summary = "Manage teams: the groups of users that own domains and receive grants.",
    .subs = team_subs,
};

/* ---- domain ---- */

static int run_domain_create(const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *owner = NULL, *description = NULL;
	const struct cli_opt opts[] = {
	    {.name = "owner", .short_name = 'o', .kind = CLI_OPT_VALUE, .value = &owner},
	    {.name = "description",
	     .short_name = 'd',
	     .kind = CLI_OPT_VALUE,
	     .value = &description},
	    {.name = NULL},
	};
	struct cli_session s;
	struct mfs_error err;
	struct cli_args a;
	int rc;

	rc = cli_parse(cmd, opts, argc, argv, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if (!owner)
		return cli_usage_error(cmd, "missing --owner TEAM");
	rc = cli_open(&s, cmd, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_require(&s, PRIV_ADMIN, NULL, NULL);
	if (rc != CLI_CONTINUE)
		goto out;
	mfs_error_clear(&err);
	rc = mesh_domain_create(&s.mesh, a.args[0], owner, description, &err);
	if (rc) {
		rc = cli_fail(rc, &err, "cannot create domain %s", a.args[0]);
		goto out;
	}
	printf("created domain %s, owned by team %s\n", a.args[0], owner);
	rc = CLI_EXIT_OK;
out:
	cli_close(&s);
	return rc;
}

static int domain_list_cb(const struct catalog_domain *d, void *ctx)
{
	char created[CLI_TIME_MAX];

	cli_format_time(d->created_at, created);
	return cli_table_add(ctx, d->name, d->owner, created, d->description);
}

static int run_domain_list(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_session s;
	struct cli_args a;
	struct cli_table t;
	int rc;

	rc = cli_start(cmd, NULL, argc, argv, &a, &s);
	if (rc != CLI_CONTINUE)
		return rc;
	cli_table_init(&t, 4);
	rc = cli_table_add(&t, "DOMAIN", "OWNER", "CREATED", "DESCRIPTION");
	if (!rc)
		rc = catalog_domain_list(s.mesh.cat, domain_list_cb, &t);
	if (rc) {
		rc = cli_fail(rc, NULL, "cannot list the domains");
		goto out;
	}
	cli_table_print(&t, stdout);
	rc = CLI_EXIT_OK;
out:
	cli_table_release(&t);
	cli_close(&s);
	return rc;
}

static const struct cli_cmd domain_create = {
    .name = "domain create",
    .synopsis = "DOMAIN --owner TEAM [--description TEXT]",
    .summary = "Create a domain owned by a team. Needs admin on the mesh.",
    .help = "Options:\n"
	    "  -o, --owner TEAM           the owning team: it may publish and unmask in the "
	    "domain\n"
	    "  -d, --description TEXT     what the domain is about\n",
    .min_args = 1,
    .max_args = 1,
    .run = run_domain_create,
};

static const struct cli_cmd domain_list = {
    .name = "domain list",
    .synopsis = "",
    .summary = "List the domains and their owning teams.",
    .min_args = 0,
    .max_args = 0,
    .run = run_domain_list,
};

static const struct cli_cmd *const domain_subs[] = {&domain_create, &domain_list, NULL};

const struct cli_cmd cli_cmd_domain = {
    .name = "domain",
    .synopsis = "create | list",
    .summary = "Manage domains: the business areas that hold data products.",
    .subs = domain_subs,
};

/* ---- grant, revoke ---- */

struct team_find {
	const char *name;
	int found;
};

static int team_find_cb(const char *team, const char *members, void *ctx)
{
	struct team_find *f = ctx;

	f->found = !strcmp(team, f->name);
	return f->found;
}

/* Checks that the principal of a grant is well formed and names a team that exists. */
static int grant_principal_check(const struct cli_cmd *cmd, struct cli_session *s,
				 const char *principal)
{
	struct team_find f = {.name = principal + 5};
	int rc;

	if (!strcmp(principal, "everyone"))
		return CLI_CONTINUE;
	if (!strncmp(principal, "user:", 5) && user_name_valid(principal + 5))
		return CLI_CONTINUE;
	if (!strncmp(principal, "group:", 6) && user_name_valid(principal + 6))
		return CLI_CONTINUE;
	if (strncmp(principal, "team:", 5) || !mesh_name_valid(principal + 5))
		return cli_usage_error(cmd,
				       "invalid principal '%s' (user:NAME, team:NAME, group:NAME "
				       "or everyone)",
				       principal);
	rc = catalog_team_list(s->mesh.cat, team_find_cb, &f);
	if (rc < 0)
		return cli_fail(rc, NULL, "cannot look up team %s", f.name);
	if (!f.found)
		return cli_error("no team %s (see 'meshfs team list')", f.name);
	return CLI_CONTINUE;
}

/* Checks that scope is "mesh", a domain or a product that exists, and splits it. */
static int grant_scope_check(const struct cli_cmd *cmd, struct cli_session *s, const char *scope,
			     char parts[2][MESH_NAME_MAX], const char **domain,
			     const char **product)
{
	struct catalog_product p;
	struct catalog_domain d;
	int rc;

	*domain = *product = NULL;
	if (!strcmp(scope, "mesh"))
		return CLI_CONTINUE;
	if (strchr(scope, '/')) {
		rc = cli_split_name(cmd, scope, 2, parts);
		if (rc != CLI_CONTINUE)
			return rc;
		rc = catalog_product_get(s->mesh.cat, parts[0], parts[1], &p);
		if (rc == -ENOENT)
			return cli_error("no product %s (see 'meshfs product list')", scope);
		if (rc)
			return cli_fail(rc, NULL, "cannot look up %s", scope);
		catalog_product_release(&p);
		*product = parts[1];
	} else {
		if (!mesh_name_valid(scope))
			return cli_usage_error(
			    cmd, "invalid scope '%s' (mesh, DOMAIN or DOMAIN/PRODUCT)", scope);
		snprintf(parts[0], MESH_NAME_MAX, "%s", scope);
		rc = catalog_domain_get(s->mesh.cat, parts[0], &d);
		if (rc == -ENOENT)
			return cli_error("no domain %s (see 'meshfs domain list')", scope);
		if (rc)
			return cli_fail(rc, NULL, "cannot look up %s", scope);
		catalog_domain_release(&d);
	}
	*domain = parts[0];
	return CLI_CONTINUE;
}

struct admin_count {
	const char *principal;
	size_t n;
	int has;
};

static int admin_count_cb(const char *principal, void *ctx)
{
	struct admin_count *c = ctx;

	c->n++;
	c->has |= !strcmp(principal, c->principal);
	return 0;
}

/* Refuses to revoke the last admin grant on the mesh: nobody could grant anything again. */
static int last_mesh_admin(struct cli_session *s, const char *principal)
{
	struct admin_count c = {.principal = principal};
	int rc;

	rc = catalog_grant_list(s->mesh.cat, "admin", "mesh", admin_count_cb, &c);
	if (rc)
		return cli_fail(rc, NULL, "cannot list the admins of the mesh");
	if (c.n == 1 && c.has)
		return cli_error(
		    "%s holds the last admin grant on the mesh: grant admin on the mesh "
		    "to someone else first",
		    principal);
	return CLI_CONTINUE;
}

/* grant and revoke: checks, then the change and its audit row in one transaction. */
static int grant_change(const struct cli_cmd *cmd, int argc, char **argv, int grant)
{
	const char *action = grant ? "grant" : "revoke";
	char parts[2][MESH_NAME_MAX];
	const char *domain, *product, *privilege, *scope, *principal;
	enum privilege priv;
	struct cli_session s;
	struct cli_args a;
	struct strbuf detail;
	int rc;

	rc = cli_parse(cmd, NULL, argc, argv, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	privilege = a.args[0];
	scope = a.args[1];
	principal = a.args[2];
	if (privilege_parse(privilege, &priv))
		return cli_usage_error(
		    cmd, "unknown privilege '%s' (read, unmask, publish or admin)", privilege);
	rc = cli_open(&s, cmd, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	strbuf_init(&detail);
	rc = grant_scope_check(cmd, &s, scope, parts, &domain, &product);
	if (rc == CLI_CONTINUE)
		rc = grant_principal_check(cmd, &s, principal);
	if (rc != CLI_CONTINUE)
		goto out;
	if (strbuf_addf(&detail, "%s %s %s", privilege, grant ? "to" : "from", principal)) {
		rc = cli_error("out of memory");
		goto out;
	}
	rc = acl_allowed(s.mesh.cat, &s.me, PRIV_ADMIN, domain, product);
	if (rc == 0) {
		/* refused changes of rights are worth an audit row too; best effort */
		(void)audit_add(&s, action, scope, "denied", detail.buf);
		rc = cli_require(&s, PRIV_ADMIN, domain, product);
		goto out;
	}
	if (rc < 0) {
		rc = cli_fail(rc, NULL, "cannot check the rights of %s", s.me.name);
		goto out;
	}
	if (!grant && priv == PRIV_ADMIN && !domain) {
		rc = last_mesh_admin(&s, principal);
		if (rc != CLI_CONTINUE)
			goto out;
	}
	rc = catalog_begin(s.mesh.cat);
	if (!rc) {
		if (grant)
			rc = catalog_grant(s.mesh.cat, privilege, scope, principal, s.me.name,
					   mesh_now());
		else
			rc = catalog_revoke(s.mesh.cat, privilege, scope, principal);
		if (!rc)
			rc = audit_add(&s, action, scope, "ok", detail.buf);
		if (!rc)
			rc = catalog_commit(s.mesh.cat);
		if (rc)
			catalog_rollback(s.mesh.cat);
	}
	if (rc == -ENOENT && !grant) {
		rc = cli_error("%s has no %s grant on %s", principal, privilege, scope);
		goto out;
	}
	if (rc) {
		rc = cli_fail(rc, NULL, "cannot %s %s on %s", action, privilege, scope);
		goto out;
	}
	printf("%s %s on %s %s %s\n", grant ? "granted" : "revoked", privilege, scope,
	       grant ? "to" : "from", principal);
	rc = CLI_EXIT_OK;
out:
	strbuf_release(&detail);
	cli_close(&s);
	return rc;
}

static int run_grant(const struct cli_cmd *cmd, int argc, char **argv)
{
	return grant_change(cmd, argc, argv, 1);
}

static int run_revoke(const struct cli_cmd *cmd, int argc, char **argv)
{
	return grant_change(cmd, argc, argv, 0);
}

#define GRANT_HELP                                                                                 \
	"PRIVILEGE  read: read table data (masked); unmask: see PII in plaintext;\n"               \
	"           publish: publish versions; admin: all of them, and grant them\n"               \
	"SCOPE      mesh, DOMAIN or DOMAIN/PRODUCT; a grant covers what is inside its scope\n"     \
	"PRINCIPAL  user:NAME, team:NAME, group:NAME (a Unix group) or everyone\n"                 \
	"Needs admin on the scope. Every change is written to the audit table.\n"

const struct cli_cmd cli_cmd_grant = {
    .name = "grant",
    .synopsis = "PRIVILEGE SCOPE PRINCIPAL",
    .summary = "Give a principal a privilege on the mesh, a domain or a product.",
    .help = GRANT_HELP,
    .min_args = 3,
    .max_args = 3,
    .run = run_grant,
};

const struct cli_cmd cli_cmd_revoke = {
    .name = "revoke",
    .synopsis = "PRIVILEGE SCOPE PRINCIPAL",
    .summary = "Take back a privilege given with 'meshfs grant'.",
    .help = GRANT_HELP,
    .min_args = 3,
    .max_args = 3,
    .run = run_revoke,
};

/* ---- audit ---- */

/* Unix seconds, or an ISO 8601 date or time as people type it (logical_type_timestamp, lenient);
 * a time without a zone is UTC. Returns 0 or -EINVAL. */
static int parse_time(const char *s, int64_t *out)
{
	long long secs;
	char *end;

	if (*s && strspn(s, "0123456789") == strlen(s)) {
		errno = 0;
		secs = strtoll(s, &end, 10);
		if (errno)
			return -EINVAL;
		*out = secs;
		return 0;
	}
	return logical_type_timestamp(s, strlen(s), LT_TIMESTAMP_LENIENT, out) ? -EINVAL : 0;
}

static int audit_list_cb(const struct catalog_audit *r, void *ctx)
{
	char at[CLI_TIME_MAX], version[24];

	cli_format_time(r->at, at);
	if (r->version)
		snprintf(version, sizeof(version), "%lld", (long long)r->version);
	else
		snprintf(version, sizeof(version), "-");
	return cli_table_add(ctx, at, r->principal, r->action, r->object, version,
			     r->view[0] ? r->view : "-", r->outcome, r->detail);
}

/* One line for each break of the chain; the row named is where it shows. */
static int audit_break_cb(const struct catalog_audit_break *b, void *ctx)
{
	long long id = b->id, other = b->other_id;

	(*(int64_t *)ctx)++;
	switch (b->what) {
	case AUDIT_UNSEALED:
		cli_error("audit row %lld: not sealed: written without the master key, or its "
			  "hash removed",
			  id);
		break;
	case AUDIT_EDITED:
		cli_error("audit row %lld: edited: its fields or its hash do not match the chain",
			  id);
		break;
	case AUDIT_UNLINKED:
		cli_error("audit row %lld: does not follow row %lld, whose hash was changed", id,
			  other);
		break;
	case AUDIT_MOVED:
		cli_error("audit row %lld: out of order: it was written before row %lld", id,
			  other);
		break;
	case AUDIT_REPEATED:
		cli_error(
		    "audit row %lld: repeats place %lld of the chain: a copy of an earlier row", id,
		    (long long)b->seq);
		break;
	case AUDIT_DELETED:
		if (other)
			cli_error("audit rows deleted: %lld between row %lld and row %lld",
				  (long long)b->count, other, id);
		else
			cli_error("audit rows deleted: %lld before row %lld", (long long)b->count,
				  id);
		break;
	case AUDIT_START:
		if (id)
			cli_error(
			    "audit row %lld: the chain's first row does not follow the record "
			    "of the rows before the chain: the record, or the row, was changed",
			    id);
		else
			cli_error("audit rows deleted: every row of the chain after its recorded "
				  "start");
		break;
	case AUDIT_BEFORE:
		cli_error("audit rows from before the chain: %lld where %lld were recorded, "
			  "with ids 1 to %lld",
			  (long long)b->count, other, id);
		break;
	}
	return 0;
}

/* meshfs audit verify: the chain walked, each break a line, the head to record elsewhere. */
static int audit_verify(struct cli_session *s)
{
	struct catalog_audit_head head;
	struct mfs_error err = {{0}};
	char hex[2 * sizeof(head.hash) + 1];
	int64_t problems = 0;
	int rc;

	rc = cli_require(s, PRIV_ADMIN, NULL, NULL);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = mesh_keys(&s->mesh, &err);
	if (rc)
		return cli_fail(rc, &err, "the audit chain is sealed with the master key");
	rc = catalog_audit_verify(s->mesh.cat, audit_break_cb, &problems, &head);
	if (rc)
		return cli_fail(rc, NULL, "cannot read the audit table");
	if (head.unchained)
		printf("%lld rows from before the chain existed (ids up to %lld) are not in it%s\n",
		       (long long)head.unchained, (long long)head.unchained_max,
		       head.start_sealed ? ", their count sealed by its first row" : "");
	if (problems)
		return cli_error("audit chain broken: %lld problem%s in %lld rows",
				 (long long)problems, problems == 1 ? "" : "s",
				 (long long)head.rows);
	sodium_bin2hex(hex, sizeof(hex), head.hash, sizeof(head.hash));
	printf("%lld rows, chain intact\n", (long long)head.rows);
	if (head.seq)
		printf("head: place %lld at row %lld, hash %s\n", (long long)head.seq,
		       (long long)head.id, hex);
	return CLI_EXIT_OK;
}

static int run_audit(const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *since_text = NULL, *principal = NULL;
	const struct cli_opt opts[] = {
	    {.name = "since", .short_name = 's', .kind = CLI_OPT_VALUE, .value = &since_text},
	    {.name = "principal", .short_name = 'p', .kind = CLI_OPT_VALUE, .value = &principal},
	    {.name = NULL},
	};
	struct cli_session s;
	struct cli_args a;
	struct cli_table t;
	int64_t since = 0;
	int rc;

	rc = cli_parse(cmd, opts, argc, argv, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if (since_text && parse_time(since_text, &since))
		return cli_usage_error(cmd,
				       "invalid time '%s' (YYYY-MM-DD, YYYY-MM-DDThh:mm:ssZ or "
				       "Unix seconds)",
				       since_text);
	if (a.nargs && strcmp(a.args[0], "verify"))
		return cli_usage_error(cmd, "unknown operand '%s' (only 'verify')", a.args[0]);
	if (a.nargs && (since_text || principal))
		return cli_usage_error(cmd, "verify takes neither --since nor --principal");
	rc = cli_open(&s, cmd, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	cli_table_init(&t, 8);
	if (a.nargs) {
		rc = audit_verify(&s);
		goto out;
	}
	rc = acl_allowed(s.mesh.cat, &s.me, PRIV_ADMIN, NULL, NULL);
	if (rc < 0) {
		rc = cli_fail(rc, NULL, "cannot check the rights of %s", s.me.name);
		goto out;
	}
	/* the trail of others is for mesh admins; everyone may read their own */
	if (!rc) {
		if (principal && strcmp(principal, s.me.name)) {
			rc = cli_require(&s, PRIV_ADMIN, NULL, NULL);
			goto out;
		}
		principal = s.me.name;
	}
	rc = cli_table_add(&t, "TIME", "PRINCIPAL", "ACTION", "OBJECT", "VERSION", "VIEW",
			   "OUTCOME", "DETAIL");
	if (!rc)
		rc = catalog_audit_list(s.mesh.cat, since, principal, audit_list_cb, &t);
	if (rc) {
		rc = cli_fail(rc, NULL, "cannot read the audit table");
		goto out;
	}
	cli_table_print(&t, stdout);
	rc = CLI_EXIT_OK;
out:
	cli_table_release(&t);
	cli_close(&s);
	return rc;
}

const struct cli_cmd cli_cmd_audit = {
    .name = "audit",
    .synopsis = "[--since TIME] [--principal USER] | verify",
    .summary = "Show who read or published what, and the outcome, oldest first; verify its chain.",
    .help =
	"Options:\n"
	"  -s, --since TIME       only rows at or after TIME: YYYY-MM-DD, "
	"YYYY-MM-DDThh:mm[:ss][Z|±hh:mm]\n"
	"                         (UTC when no zone is given) or Unix seconds\n"
	"  -p, --principal USER   only the rows of USER\n"
	"Mesh admins see every row; others see only their own.\n"
	"\n"
	"audit verify (mesh admins, with the master key) checks the hash chain that seals\n"
	"every row: it names each row deleted, edited, moved or copied, one line each, and\n"
	"exits 1 if any; else prints the head of the chain, worth recording elsewhere, since a\n"
	"cut tail leaves no trace in the table itself (docs/SECURITY.md).\n",
    .min_args = 0,
    .max_args = 1,
    .run = run_audit,
};

/* ---- verify ---- */

/* Every segment the catalog refers to, sorted, with what store_verify said of it. */
struct verify_state {
	struct cli_session *s;
	char **ids;
	int *outcome;
	size_t n, cap;
	unsigned long bad, problems;
};

static int verify_add_id(const char *id, void *ctx)
{
	struct verify_state *v = ctx;
	char **ids;

	if (v->n == v->cap) {
		v->cap = v->cap ? 2 * v->cap : 64;
		ids = realloc(v->ids, v->cap * sizeof(*ids));
		if (!ids)
			return -ENOMEM;
		v->ids = ids;
	}
	v->ids[v->n] = strdup(id);
	if (!v->ids[v->n])
		return -ENOMEM;
	v->n++;
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Re-hashes each segment once, however many versions share it. */
static int verify_segments(struct verify_state *v)
{
	size_t i;
	int rc;

	rc = catalog_segment_list(v->s->mesh.cat, verify_add_id, v);
	if (rc)
		return rc;
	qsort(v->ids, v->n, sizeof(*v->ids), cmp_id);
	v->outcome = calloc(v->n ? v->n : 1, sizeof(*v->outcome));
	if (!v->outcome)
		return -ENOMEM;
	for (i = 0; i < v->n; i++) {
		v->outcome[i] = store_verify(v->s->mesh.store, v->ids[i]);
		if (v->outcome[i])
			v->bad++;
	}
	return 0;
}

struct verify_product {
	struct verify_state *v;
	const char *domain, *product;
};

/* Names every table version whose segment is bad: that is what a user can act on. */
static int verify_version_cb(const struct catalog_version *ver, void *ctx)
{
	struct verify_product *vp = ctx;
	const struct catalog_table_version *tv;
	const char *id;
	char **hit;
	size_t i;
	int outcome;

	for (i = 0; i < ver->ntables; i++) {
		tv = &ver->tables[i];
		id = tv->segment;
		hit = bsearch(&id, vp->v->ids, vp->v->n, sizeof(*vp->v->ids), cmp_id);
		outcome =
		    hit ? vp->v->outcome[hit - vp->v->ids] : store_verify(vp->v->s->mesh.store, id);
		if (!outcome)
			continue;
		vp->v->problems++;
		cli_error("%s/%s/%s version %lld: segment %s %s", vp->domain, vp->product, tv->name,
			  (long long)ver->number, id,
			  outcome == -ENOENT ? "is missing"
			  : outcome == -EIO  ? "is damaged (its hash is wrong)"
					     : strerror(-outcome));
	}
	return 0;
}

struct product_ref {
	int64_t id;
	char domain[MESH_NAME_MAX];
	char name[MESH_NAME_MAX];
};

struct product_refs {
	struct product_ref *items;
	size_t n, cap;
};

static int product_refs_add(const struct catalog_product *p, void *ctx)
{
	struct product_refs *r = ctx;
	struct product_ref *items;

	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 32;
		items = realloc(r->items, r->cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		r->items = items;
	}
	r->items[r->n].id = p->id;
	memcpy(r->items[r->n].domain, p->domain, sizeof(p->domain));
	memcpy(r->items[r->n].name, p->name, sizeof(p->name));
	r->n++;
	return 0;
}

static int orphan_report_cb(const char *id, void *ctx)
{
	printf("unreferenced blob %s (no version refers to it; the next mount removes it)\n", id);
	return 0;
}

/* Reports blobs no version refers to; skipped while a publish holds the mesh lock, since its
 * blob is stored before the catalog records it. */
static int verify_orphans(struct cli_session *s, unsigned long *count)
{
	int lock, rc;

	*count = 0;
	lock = mesh_lock(&s->mesh, 1, 0);
	if (lock == -EBUSY) {
		printf("a publish is in progress: unreferenced blobs were not looked for\n");
		return 0;
	}
	if (lock < 0)
		return lock;
	rc = mesh_orphans(&s->mesh, orphan_report_cb, NULL, count);
	mesh_unlock(&s->mesh, lock);
	return rc;
}

/* Checks the mesh s has open as verify does; prints each problem and a summary. Returns the exit
 * status. */
static int verify_run(struct cli_session *s)
{
	struct product_refs refs = {0};
	struct verify_state v = {0};
	struct verify_product vp;
	struct mfs_error err;
	unsigned long orphans = 0;
	size_t i;
	int rc;

	v.s = s;
	mfs_error_clear(&err);
	rc = catalog_integrity_check(s->mesh.cat, &err);
	if (rc) {
		v.problems++;
		cli_fail(rc, &err, "catalog integrity check failed");
	}
	rc = verify_segments(&v);
	/* the products first: no catalog query runs inside another one's callback */
	if (!rc && v.bad)
		rc = catalog_product_list(s->mesh.cat, NULL, product_refs_add, &refs);
	for (i = 0; !rc && i < refs.n; i++) {
		vp.v = &v;
		vp.domain = refs.items[i].domain;
		vp.product = refs.items[i].name;
		rc = catalog_version_list(s->mesh.cat, refs.items[i].id, 0, verify_version_cb, &vp);
	}
	if (!rc)
		rc = verify_orphans(s, &orphans);
	if (rc) {
		rc = cli_fail(rc, NULL, "verify could not finish");
		goto out;
	}
	printf("%zu segment%s checked: %lu problem%s, %lu unreferenced blob%s\n", v.n,
	       v.n == 1 ? "" : "s", v.problems, v.problems == 1 ? "" : "s", orphans,
	       orphans == 1 ? "" : "s");
	rc = v.problems || v.bad ? CLI_EXIT_FAIL : CLI_EXIT_OK;
out:
	for (i = 0; i < v.n; i++)
		free(v.ids[i]);
	free(v.ids);
	free(v.outcome);
	free(refs.items);
	return rc;
}

static int run_verify(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_session s;
	struct cli_args a;
	int rc;

	rc = cli_start(cmd, NULL, argc, argv, &a, &s);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = verify_run(&s);
	cli_close(&s);
	return rc;
}

const struct cli_cmd cli_cmd_verify = {
    .name = "verify",
    .synopsis = "",
    .summary = "Check that every segment is present with the right hash, and the catalog.",
    .help = "Re-hashes every segment any version refers to and runs SQLite's integrity check\n"
	    "on the catalog; prints each problem and a summary. Exit 1 if anything is wrong.\n"
	    "Blobs no version refers to (left by an interrupted publish) are reported, not\n"
	    "removed: the next mount cleans them up.\n",
    .min_args = 0,
    .max_args = 0,
    .run = run_verify,
};

/* ---- migrate ---- */

static int migrate_progress(const char *what, uint64_t n, void *ctx)
{
	(void)ctx;
	if (!strcmp(what, "bytes"))
		printf("  %.1f MB of segments\n", (double)n / 1e6);
	else
		printf("  %-16s %llu\n", what, (unsigned long long)n);
	return 0;
}

static int run_migrate(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct mesh_init init = {0};
	const char *to = NULL;
	const struct cli_opt opts[] = {
	    {.name = "to", .kind = CLI_OPT_VALUE, .value = &to},
	    {.name = "store", .kind = CLI_OPT_VALUE, .value = &init.store},
	    {.name = "endpoint", .kind = CLI_OPT_VALUE, .value = &init.endpoint},
	    {.name = "region", .kind = CLI_OPT_VALUE, .value = &init.region},
	    {.name = NULL},
	};
	const char *key_file;
	struct cli_session s, moved;
	struct mfs_error err;
	struct cli_args a;
	char *display;
	int rc;

	rc = cli_parse(cmd, opts, argc, argv, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	key_file = a.key ? a.key : getenv("MESHFS_KEY");
	if (!to || !catalog_target_shared(to))
		return cli_usage_error(cmd, "--to postgresql://… names the shared mesh to create");
	if (!init.store)
		return cli_usage_error(cmd, "--store s3://BUCKET[/PREFIX] or file:///DIR: where "
					    "the segments go");
	if (!key_file || !*key_file)
		return cli_usage_error(cmd, "--key FILE (or MESHFS_KEY): the new mesh's key file");
	/* --key names the new mesh's key: the mesh being moved keeps using its own */
	a.key = NULL;
	rc = cli_open(&s, cmd, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_require(&s, PRIV_ADMIN, NULL, NULL);
	if (rc != CLI_CONTINUE)
		goto out;
	display = catalog_target_display(to);
	printf("Moving %s to %s, its segments to %s:\n", a.display, display ? display : "",
	       init.store);
	mfs_error_clear(&err);
	rc = mesh_migrate(&s.mesh, to, &init, key_file, migrate_progress, NULL, &err);
	if (rc) {
		rc = cli_fail(rc, &err, "cannot move the mesh");
		free(display);
		goto out;
	}
	printf("Checking the moved mesh:\n");
	a.mesh = to;
	a.key = key_file;
	snprintf(a.display, sizeof(a.display), "%s", display ? display : "");
	free(display);
	rc = cli_open(&moved, cmd, &a);
	if (rc != CLI_CONTINUE)
		goto out;
	rc = verify_run(&moved);
	cli_close(&moved);
	if (rc == CLI_EXIT_OK)
		printf("Done. %s is left as it was; mount the shared mesh with:\n"
		       "  MESHFS_KEY=%s meshfs mount -m %s MOUNTPOINT\n",
		       s.mesh.target, key_file, a.display);
out:
	cli_close(&s);
	return rc;
}

const struct cli_cmd cli_cmd_migrate = {
    .name = "migrate",
    .synopsis = "-m MESH --to postgresql://… --store URL [--endpoint URL] [--region R] --key FILE",
    .summary = "Move a mesh to a new shared one: key, segments, catalog; then verify it.",
    .help = "Copies the master key into the new key FILE (which must not exist), every segment\n"
	    "into the store (s3://BUCKET[/PREFIX] or file:///DIR), and every row of the catalog\n"
	    "(teams, domains, products, contracts, versions, grants, audit, keys) into the\n"
	    "PostgreSQL database, which must exist and hold no mesh; then checks the new mesh\n"
	    "as 'meshfs verify' does. The mesh moved is left as it was, locked against publishes\n"
	    "while it is copied: stop its mounts first. Needs admin on the mesh.\n",
    .min_args = 0,
    .max_args = 0,
    .run = run_migrate,
};
