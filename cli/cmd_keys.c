/* meshfs key: rotating the per-domain data keys (docs/DESIGN.md §7.4). */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "contract/contract.h"

/* The names of the domains a rotation covers, gathered before any key changes: no catalog query
 * runs while the listing is being stepped. */
struct domain_names {
	char (*names)[MESH_NAME_MAX];
	size_t n, cap;
};

static int domain_names_add(const struct catalog_domain *d, void *ctx)
{
	struct domain_names *dn = ctx;
	char(*p)[MESH_NAME_MAX];
	size_t cap;

	if (dn->n == dn->cap) {
		cap = dn->cap ? 2 * dn->cap : 16;
		p = realloc(dn->names, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		dn->names = p;
		dn->cap = cap;
	}
	memcpy(dn->names[dn->n++], d->name, MESH_NAME_MAX);
	return 0;
}

static int key_audit(struct cli_session *s, const char *object, const char *outcome,
		     const char *detail)
{
	struct catalog_audit a = {0};

	a.at = mesh_now();
	a.principal = s->me.name;
	a.action = "key-rotate";
	a.object = object;
	a.view = "";
	a.outcome = outcome;
	a.detail = detail;
	return catalog_audit_add(s->mesh.cat, &a);
}

/* Fills dn with domain (when given; it must exist) or with every domain. */
static int rotation_domains(struct cli_session *s, const char *domain, struct domain_names *dn)
{
	struct catalog_domain d;
	int rc;

	if (!domain) {
		rc = catalog_domain_list(s->mesh.cat, domain_names_add, dn);
		return rc ? cli_fail(rc, NULL, "cannot list the domains") : CLI_CONTINUE;
	}
	rc = catalog_domain_get(s->mesh.cat, domain, &d);
	if (rc == -ENOENT)
		return cli_error("no domain %s (see 'meshfs domain list')", domain);
	if (!rc) {
		rc = domain_names_add(&d, dn);
		catalog_domain_release(&d);
	}
	return rc ? cli_fail(rc, NULL, "cannot look up domain %s", domain) : CLI_CONTINUE;
}

static int run_key_rotate(const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *domain = NULL;
	const struct cli_opt opts[] = {
	    {.name = "domain", .short_name = 'd', .kind = CLI_OPT_VALUE, .value = &domain},
	    {.name = NULL},
	};
	struct mfs_error err = {{0}};
	struct domain_names dn = {0};
	struct cli_session s;
	struct cli_args a;
	uint32_t *ids = NULL;
	char detail[64];
	size_t i;
	int rc;

	rc = cli_parse(cmd, opts, argc, argv, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if (domain && !mesh_name_valid(domain))
		return cli_usage_error(cmd, "invalid domain name '%s'", domain);
	rc = cli_open(&s, cmd, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = acl_allowed(s.mesh.cat, &s.me, PRIV_ADMIN, NULL, NULL);
	if (rc == 0) {
		/* a refused attempt on the keys is worth an audit row; best effort */
		(void)key_audit(&s, domain ? domain : "mesh", "denied", "");
		rc = cli_require(&s, PRIV_ADMIN, NULL, NULL);
		goto out;
	}
	if (rc < 0) {
		rc = cli_fail(rc, NULL, "cannot check the rights of %s", s.me.name);
		goto out;
	}
	rc = rotation_domains(&s, domain, &dn);
	if (rc != CLI_CONTINUE)
		goto out;
	if (!dn.n) {
		printf("no domain yet: there is no data key to rotate\n");
		rc = CLI_EXIT_OK;
		goto out;
	}
	ids = calloc(dn.n, sizeof(*ids));
	if (!ids) {
		rc = cli_error("out of memory");
		goto out;
	}
	rc = mesh_keys(&s.mesh, &err);
	if (rc) {
		rc = cli_fail(rc, &err, "cannot load the keys");
		goto out;
	}
	/* every domain or none: a half-done rotation would be hard to read in the audit table */
	rc = catalog_begin(s.mesh.cat);
	for (i = 0; !rc && i < dn.n; i++) {
		rc = keyring_rotate_domain(s.mesh.keys, dn.names[i], &ids[i]);
		if (rc)
			break;
		snprintf(detail, sizeof(detail), "new data key %lu", (unsigned long)ids[i]);
		rc = key_audit(&s, dn.names[i], "ok", detail);
	}
	if (!rc)
		rc = catalog_commit(s.mesh.cat);
	if (rc) {
		catalog_rollback(s.mesh.cat);
		rc = cli_fail(rc, NULL, "cannot rotate the data keys");
		goto out;
	}
	for (i = 0; i < dn.n; i++)
		printf("rotated the data key of domain %s: new writes use key %lu\n", dn.names[i],
		       (unsigned long)ids[i]);
	rc = CLI_EXIT_OK;
out:
	free(ids);
	free(dn.names);
	cli_close(&s);
	return rc;
}

static const struct cli_cmd key_rotate = {
    .name = "key rotate",
    .synopsis = "[--domain DOMAIN]",
    .summary = "Give domains new data keys for new writes. Needs admin on the mesh.",
    .help = "Options:\n"
	    "  -d, --domain DOMAIN   rotate the key of this domain only (default: every "
	    "domain)\n"
	    "Versions published from now on are sealed with the new key; every older version\n"
	    "stays readable with the key it was written with, which is kept wrapped in the\n"
	    "catalog. The masking key does not rotate: tokens must stay equal across the mesh\n"
	    "so that masked tables still join. A running mount uses the new key at once.\n",
    .min_args = 0,
    .max_args = 0,
    .run = run_key_rotate,
};

static const struct cli_cmd *const key_subs[] = {&key_rotate, NULL};

const struct cli_cmd cli_cmd_key = {
    .name = "key",
    .synopsis = "rotate",
    .summary = "Manage the keys that seal PII at rest.",
    .subs = key_subs,
};
