#include "acl/acl.h"

#include <assert.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "contract/contract.h"
#include "common/lookup.h"
#include "common/strbuf.h"

static const char *const privilege_names[] = {
    [PRIV_READ] = "read",
    [PRIV_UNMASK] = "unmask",
    [PRIV_PUBLISH] = "publish",
    [PRIV_ADMIN] = "admin",
};

#define NPRIVILEGES (sizeof(privilege_names) / sizeof(privilege_names[0]))

int privilege_parse(const char *s, enum privilege *out)
{
	int i = mfs_name_index(privilege_names, NPRIVILEGES, sizeof(privilege_names[0]), s, 0);

	if (i < 0)
		return -EINVAL;
	*out = (enum privilege)i;
	return 0;
}

const char *privilege_name(enum privilege priv)
{
	assert((size_t)priv < NPRIVILEGES);
	return privilege_names[priv];
}

/* The getpw and getgr _r functions want a buffer of a size only a retry finds out for sure. */
static long initial_bufsize(int name)
{
	long n = sysconf(name);

	return n > 0 ? n : 1024;
}

/* "No such entry" is 0 and a NULL result, but some name services say it with an error. */
static int not_found(int err)
{
	return err == ENOENT || err == ESRCH;
}

static int group_name(gid_t gid, char **out)
{
	struct group gr, *res;
	size_t size = (size_t)initial_bufsize(_SC_GETGR_R_SIZE_MAX);
	char *buf = NULL, *p;
	int rc;

	for (;;) {
		p = realloc(buf, size);
		if (!p) {
			rc = -ENOMEM;
			goto out;
		}
		buf = p;
		rc = getgrgid_r(gid, &gr, buf, size, &res);
		if (rc != ERANGE)
			break;
		size *= 2;
	}
	if (rc && !not_found(rc)) {
		rc = -rc;
		goto out;
	}
	if (!rc && res)
		*out = strdup(gr.gr_name);
	else if (asprintf(out, "%lu", (unsigned long)gid) < 0)
		*out = NULL;
	rc = *out ? 0 : -ENOMEM;
out:
	free(buf);
	return rc;
}

/* Fills p->groups from the gids, once each. */
static int principal_add_groups(struct principal *p, const gid_t *gids, int ngids)
{
	int i, j, rc;

	p->groups = calloc((size_t)ngids, sizeof(*p->groups));
	if (!p->groups)
		return -ENOMEM;
	for (i = 0; i < ngids; i++) {
		for (j = 0; j < i; j++)
			if (gids[j] == gids[i])
				break;
		if (j < i)
			continue;
		rc = group_name(gids[i], &p->groups[p->ngroups]);
		if (rc)
			return rc;
		p->ngroups++;
	}
	return 0;
}

int principal_init(struct principal *p, uid_t uid, gid_t gid)
{
	struct passwd pw, *res;
	size_t size = (size_t)initial_bufsize(_SC_GETPW_R_SIZE_MAX);
	char *buf = NULL, *tmp;
	gid_t *gids = NULL, *gtmp;
	int ngids = 16;
	int rc;

	memset(p, 0, sizeof(*p));
	p->uid = uid;
	p->gid = gid;
	for (;;) {
		tmp = realloc(buf, size);
		if (!tmp) {
			rc = -ENOMEM;
			goto out;
		}
		buf = tmp;
		rc = getpwuid_r(uid, &pw, buf, size, &res);
		if (rc != ERANGE)
			break;
		size *= 2;
	}
	if (rc && !not_found(rc)) {
		rc = -rc;
		goto out;
	}
	if (rc || !res) {
		snprintf(p->name, sizeof(p->name), "%lu", (unsigned long)uid);
		rc = principal_add_groups(p, &gid, 1);
		goto out;
	}
	if (strlen(pw.pw_name) >= sizeof(p->name)) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	strcpy(p->name, pw.pw_name);
	for (;;) {
		int n = ngids;

		gtmp = realloc(gids, (size_t)ngids * sizeof(*gids));
		if (!gtmp) {
			rc = -ENOMEM;
			goto out;
		}
		gids = gtmp;
		if (getgrouplist(p->name, gid, gids, &n) >= 0) {
			ngids = n;
			break;
		}
		/* n now holds the count needed; grow at least by doubling in case it changed */
		ngids = n > ngids ? n : ngids * 2;
	}
	rc = principal_add_groups(p, gids, ngids);
out:
	free(gids);
	free(buf);
	if (rc)
		principal_release(p);
	return rc;
}

void principal_release(struct principal *p)
{
	size_t i;

	if (p->groups) {
		for (i = 0; i < p->ngroups; i++)
			free(p->groups[i]);
		free(p->groups);
	}
	p->groups = NULL;
	p->ngroups = 0;
}

static int principal_in_group(const struct principal *p, const char *group)
{
	size_t i;

	for (i = 0; i < p->ngroups; i++)
		if (!strcmp(p->groups[i], group))
			return 1;
	return 0;
}

struct grant_match {
	const struct principal *p;
	enum privilege priv; /* the one asked for */
	int matched;
	/* team names seen, NUL-separated: checked after the listing, so that no query of the
	 * catalog runs while another one is being stepped */
	struct strbuf teams;
	int oom;
};

static int grant_match_cb(const char *principal, void *ctx)
{
	struct grant_match *gm = ctx;

	if (!strcmp(principal, "everyone") ||
	    (!strncmp(principal, "user:", 5) && !strcmp(principal + 5, gm->p->name)) ||
	    (!strncmp(principal, "group:", 6) && principal_in_group(gm->p, principal + 6))) {
		gm->matched = 1;
		return 1;
	}
	if (!strncmp(principal, "team:", 5) &&
	    strbuf_add(&gm->teams, principal + 5, strlen(principal + 5) + 1)) {
		gm->oom = 1;
		return 1;
	}
	return 0;
}

/* The privileges whose grant gives priv: itself, and every one that implies it. */
static int implied_by(enum privilege priv, enum privilege held)
{
	if (held == priv || held == PRIV_ADMIN)
		return 1;
	return priv == PRIV_READ && (held == PRIV_UNMASK || held == PRIV_PUBLISH);
}

static int grant_at_cb(const char *privilege, const char *scope, const char *principal, void *ctx)
{
	struct grant_match *gm = ctx;
	enum privilege held;

	(void)scope;
	if (privilege_parse(privilege, &held) || !implied_by(gm->priv, held))
		return 0;
	return grant_match_cb(principal, gm);
}

/* Whether p holds a grant of gm->priv (or one that implies it) at any of the nscopes scopes,
 * directly or through a group or team: one query of the grants, then of the teams named. */
static int granted(struct catalog *cat, struct grant_match *gm, const char *const *scopes,
		   size_t nscopes)
{
	const char *team;
	int rc;

	strbuf_init(&gm->teams);
	rc = catalog_grant_list_at(cat, scopes, nscopes, grant_at_cb, gm);
	if (rc < 0)
		goto out;
	if (gm->oom) {
		rc = -ENOMEM;
		goto out;
	}
	rc = gm->matched;
	for (team = gm->teams.buf; !rc && team < gm->teams.buf + gm->teams.len;
	     team += strlen(team) + 1)
		rc = catalog_team_has_member(cat, team, gm->p->name);
out:
	strbuf_release(&gm->teams);
	return rc;
}

static int owning_team_member(struct catalog *cat, const struct principal *p, const char *domain)
{
	struct catalog_domain d;
	int rc;

	rc = catalog_domain_get(cat, domain, &d);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	rc = catalog_team_has_member(cat, d.owner, p->name);
	catalog_domain_release(&d);
	return rc;
}

int acl_allowed(struct catalog *cat, const struct principal *p, enum privilege priv,
		const char *domain, const char *product)
{
	char scopes[3][2 * MESH_NAME_MAX];
	const char *at[3];
	struct grant_match gm = {.p = p, .priv = priv};
	size_t nscopes = 0, i;
	int named, rc;

	assert(!product || domain);
	/* a name no object can have gets no grant of its own: only the mesh's apply */
	named = domain && mesh_name_valid(domain) && (!product || mesh_name_valid(product));
	strcpy(scopes[nscopes++], "mesh");
	if (named)
		strcpy(scopes[nscopes++], domain);
	if (named && product)
		snprintf(scopes[nscopes++], sizeof(scopes[0]), "%s/%s", domain, product);
	for (i = 0; i < nscopes; i++)
		at[i] = scopes[i];
	rc = granted(cat, &gm, at, nscopes);
	if (rc)
		return rc;
	if (named && priv != PRIV_ADMIN)
		return owning_team_member(cat, p, domain);
	return 0;
}
