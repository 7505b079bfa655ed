/*
 * Changes made by others (the CLI, other mounts): a thread that follows the catalog and drops
 * what the kernel keeps of what changed.
 */
#include "fs/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct change_list {
	struct change {
		enum catalog_change what;
		int64_t id;
	} * a;
	size_t n, cap;
};

static int change_add(enum catalog_change what, int64_t id, void *ctx)
{
	struct change_list *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct change *a = realloc(l->a, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		l->a = a;
		l->cap = cap;
	}
	l->a[l->n].what = what;
	l->a[l->n++].id = id;
	return 0;
}

static int watch_stopped(struct fs *fs)
{
	int stop;

	pthread_mutex_lock(&fs->watch_lock);
	stop = fs->watch_stop;
	pthread_mutex_unlock(&fs->watch_lock);
	return stop;
}

/* Sleeps WATCH_MS, or less if the watcher is stopped meanwhile. */
static void watch_pause(struct fs *fs)
{
	struct timespec at;

	clock_gettime(CLOCK_REALTIME, &at);
	at.tv_nsec += WATCH_MS * 1000000L;
	at.tv_sec += at.tv_nsec / 1000000000L;
	at.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&fs->watch_lock);
	while (!fs->watch_stop &&
	       pthread_cond_timedwait(&fs->watch_cond, &fs->watch_lock, &at) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&fs->watch_lock);
}

/* Waits until another connection may have changed the catalog, in waits of WATCH_MS at most,
 * between which a stop is seen. Returns whether the watcher is stopped. */
static int watch_wait(struct fs *fs)
{
	int rc;

	do {
		rc = catalog_changes_wait(fs->watch_cat, WATCH_MS);
		if (rc < 0) /* the next poll says what fails */
			watch_pause(fs);
		if (watch_stopped(fs))
			return 1;
	} while (rc == 0);
	return 0;
}

/*
 * The kernel keeps listings and their attributes for TIMEOUT_WATCHED: what the CLI or another
 * mount changes in the catalog reaches it as this thread drops what changed, within WATCH_MS
 * (SQLite, looked at that often) or as soon as the server tells of the commit (PostgreSQL).
 */
static void *watch_main(void *arg)
{
	struct fs *fs = arg;
	struct change_list l = {0};
	struct catalog_changes c;
	int rc, last_rc = 0;

	catalog_changes_init(&c);
	do {
		rc = catalog_changes_poll(fs->watch_cat, &c, change_add, &l);
		if (rc && rc != last_rc)
			fuse_log(FUSE_LOG_WARNING, "meshfs: cannot follow catalog changes: %s\n",
				 strerror(-rc));
		last_rc = rc;
		for (size_t i = 0; i < l.n; i++) {
			if (l.a[i].what == CATALOG_DOMAINS)
				upload_node_changed(fs, N_ROOT, 0);
			else if (l.a[i].what == CATALOG_DOMAIN)
				upload_node_changed(fs, N_DOMAIN, l.a[i].id);
			else
				upload_product_changed(fs, l.a[i].id);
		}
		l.n = 0;
	} while (!watch_wait(fs));
	free(l.a);
	catalog_changes_release(&c);
	return NULL;
}

int watch_start(struct fs *fs)
{
	struct mfs_error err = {{0}};
	int rc;

	/* a connection of its own: following the catalog never waits for fs->lock, nor holds it */
	rc = catalog_open(&fs->watch_cat, fs->mesh_dir, CATALOG_READONLY, &err);
	if (rc) {
		fuse_log(FUSE_LOG_ERR, "meshfs: %s\n", err.msg);
		return rc;
	}
	rc = -pthread_create(&fs->watcher, NULL, watch_main, fs);
	if (rc) {
		catalog_close(fs->watch_cat);
		fs->watch_cat = NULL;
	}
	return rc;
}

void watch_stop(struct fs *fs)
{
	pthread_mutex_lock(&fs->watch_lock);
	fs->watch_stop = 1;
	pthread_cond_signal(&fs->watch_cond);
	pthread_mutex_unlock(&fs->watch_lock);
	pthread_join(fs->watcher, NULL);
	catalog_close(fs->watch_cat);
	fs->watch_cat = NULL;
}
