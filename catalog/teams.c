/* Teams and their members. */
#include "catalog/internal.h"

#include <errno.h>
#include <string.h>

#include "common/strbuf.h"

int catalog_team_create(struct catalog *cat, const char *team)
{
	if (!catalog_name_valid(team))
		return -EINVAL;
	return db_exec(cat->db, ST_TEAM_INSERT, "t", team);
}

static int team_id(struct catalog *cat, const char *team, int64_t *id)
{
	if (!catalog_name_valid(team))
		return -EINVAL;
	return db_lookup(cat->db, ST_TEAM_ID, id, "t", team);
}

/* Runs statement id, which adds or removes a member, on user in team. */
static int member_change(struct catalog *cat, enum catalog_stmt id, const char *team,
			 const char *user)
{
	int64_t tid;
	int rc;

	if (!catalog_user_name_valid(user))
		return -EINVAL;
	rc = team_id(cat, team, &tid);
	if (rc)
		return rc;
	return db_exec(cat->db, id, "it", tid, user);
}

int catalog_team_add(struct catalog *cat, const char *team, const char *user)
{
	return member_change(cat, ST_MEMBER_INSERT, team, user);
}

int catalog_team_remove(struct catalog *cat, const char *team, const char *user)
{
	return member_change(cat, ST_MEMBER_DELETE, team, user);
}

int catalog_team_has_member(struct catalog *cat, const char *team, const char *user)
{
	int64_t one;

	if (!catalog_name_valid(team) || !catalog_user_name_valid(user))
		return 0;
	return db_query_int64(cat->db, ST_MEMBER_HAS, &one, "tt", team, user);
}

int catalog_team_list(struct catalog *cat,
		      int (*cb)(const char *team, const char *members, void *ctx), void *ctx)
{
	struct strbuf members;
	struct db_rows r;
	size_t i;
	int rc;

	strbuf_init(&members);
	rc = db_collect(cat->db, ST_TEAM_LIST, &r, "");
	if (rc)
		return rc;
	/* One row per member, teams without members once with a NULL member. */
	for (i = 0; i < r.n && !rc; i++) {
		if (!db_rows_is_null(&r, i, 1)) {
			if (members.len)
				rc = strbuf_addch(&members, ' ');
			if (!rc)
				rc = strbuf_addstr(&members, db_rows_text(&r, i, 1));
			if (rc)
				break;
		}
		if (i + 1 < r.n && !strcmp(db_rows_text(&r, i, 0), db_rows_text(&r, i + 1, 0)))
			continue;
		rc = cb(db_rows_text(&r, i, 0), members.buf, ctx);
		strbuf_reset(&members);
	}
	strbuf_release(&members);
	db_rows_release(&r);
	return rc;
}

int catalog_user_teams(struct catalog *cat, const char *user,
		       int (*cb)(const char *team, void *ctx), void *ctx)
{
	struct db_rows r;
	size_t i;
	int rc;

	if (!catalog_user_name_valid(user))
		return -EINVAL;
	rc = db_collect(cat->db, ST_USER_TEAMS, &r, "t", user);
	if (rc)
		return rc;
	for (i = 0; !rc && i < r.n; i++)
		rc = cb(db_rows_text(&r, i, 0), ctx);
	db_rows_release(&r);
	return rc;
}
