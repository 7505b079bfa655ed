/*
 * PostgreSQL connection URLs as libpq reads them
 * (postgresql://[USER[:PASSWORD]@][HOST][:PORT][,…][/DBNAME][?PARAM=VALUE&…]), and keeping their
 * passwords out of every message: the one in the user part and a password parameter.
 */
#ifndef MESHFS_CATALOG_PG_URL_H
#define MESHFS_CATALOG_PG_URL_H

#include "common/strbuf.h"

/* Whether s is a PostgreSQL URL: it starts with "postgresql://" or "postgres://". */
int pg_url_is(const char *s);
/* Appends url to out without its passwords. 0 or -ENOMEM. */
int pg_url_display(const char *url, struct strbuf *out);
/* Appends msg to out with every occurrence of a password of url, as written in it or decoded,
 * replaced by "***". 0 or -ENOMEM. */
int pg_url_scrub(const char *url, const char *msg, struct strbuf *out);

#endif
