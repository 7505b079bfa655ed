/* Opening, creating and cleaning a mesh directory; the steps that span catalog, keys and store. */
#include "mesh/mesh.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <pwd.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "contract/contract.h"
#include "contract/logical_type.h"
#include "contract/policy.h"
#include "common/strbuf.h"

static int mesh_path(struct strbuf *sb, const char *dir, const char *name)
{
	strbuf_reset(sb);
	return strbuf_addf(sb, "%s/%s", dir, name);
}

static int dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 1;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

int64_t mesh_now(void)
{
	const char *fake = getenv("MESHFS_NOW");
	char *end;
	long long v;

	if (fake && *fake) {
		errno = 0;
		v = strtoll(fake, &end, 10);
		if (!errno && !*end)
			return v;
	}
	return (int64_t)time(NULL);
}

/* The longest instant: 19 characters, a fraction of 9 digits and a zone of 6. */
#define INSTANT_MAX 35

int mesh_instant_parse(const char *s, int64_t *out)
{
	char buf[INSTANT_MAX + 1];
	size_t len = strlen(s);

	if (len < 20 || len > INSTANT_MAX)
		return -EINVAL;
	memcpy(buf, s, len + 1);
	if (buf[10] == 't')
		buf[10] = 'T';
	if (buf[len - 1] == 'z')
		buf[len - 1] = 'Z';
	/* RFC 3339 asks more than a timestamp column does: 'T', seconds and a zone, hh:mm. */
	if (buf[10] != 'T' || buf[16] != ':' ||
	    !(buf[len - 1] == 'Z' ||
	      ((buf[len - 6] == '+' || buf[len - 6] == '-') && buf[len - 3] == ':')))
		return -EINVAL;
	return logical_type_timestamp(buf, len, 0, out) ? -EINVAL : 0;
}

/* The master key's file: the one given, else $MESHFS_KEY for a shared mesh, else the local
 * mesh's own (*out NULL for a shared mesh given none: its key is asked for when needed). */
static int key_file_choose(const char *target, const struct mesh_options *o, char **out)
{
	const char *env = getenv("MESHFS_KEY");
	char path[4096];

	*out = NULL;
	if (o && o->key_file)
		*out = strdup(o->key_file);
	else if (catalog_target_shared(target) && env && *env)
		*out = strdup(env);
	else if (catalog_target_shared(target))
		return 0;
	else if (keys_master_path(path, sizeof(path), target))
		return -ENAMETOOLONG;
	else
		*out = strdup(path);
	return *out ? 0 : -ENOMEM;
}

int mesh_record(struct catalog *cat, const struct mesh_init *init, struct mfs_error *err)
{
	unsigned char id[16];
	char hex[sizeof(id) * 2 + 1];
	int rc;

	randombytes_buf(id, sizeof(id));
	sodium_bin2hex(hex, sizeof(hex), id, sizeof(id));
	rc = catalog_setting_set(cat, MESH_SETTING_ID, hex);
	if (!rc)
		rc = catalog_setting_set(cat, MESH_SETTING_STORE, init->store);
	if (!rc && init->endpoint)
		rc = catalog_setting_set(cat, MESH_SETTING_ENDPOINT, init->endpoint);
	if (!rc && init->region)
		rc = catalog_setting_set(cat, MESH_SETTING_REGION, init->region);
	if (rc)
		mfs_error_set(err, rc, "cannot record the store: %s", strerror(-rc));
	return rc;
}

/* The catalog, masking key, first admin and policy every new mesh starts with, in one
 * transaction. */
static int mesh_seed(struct catalog *cat, const char *key_file, const char *admin,
		     const struct mesh_init *init, struct mfs_error *err)
{
	struct keyring *kr = NULL;
	struct strbuf sb;
	int rc;

	strbuf_init(&sb);
	rc = catalog_begin(cat);
	if (rc) {
		mfs_error_set(err, rc, "catalog busy: %s", strerror(-rc));
		goto out;
	}
	if (init && (rc = mesh_record(cat, init, err)))
		goto out;
	rc = keyring_open(&kr, key_file, cat, err);
	if (rc)
		goto out;
	rc = keyring_create_mask_key(kr);
	if (rc) {
		mfs_error_set(err, rc, "cannot create the masking key: %s", strerror(-rc));
		goto out;
	}
	if ((rc = strbuf_addf(&sb, "user:%s", admin)))
		goto out;
	rc = catalog_grant(cat, "admin", "mesh", sb.buf, admin, mesh_now());
	if (rc) {
		mfs_error_set(err, rc, "cannot make %s a mesh admin: %s", admin, strerror(-rc));
		goto out;
	}
	rc = catalog_policy_set(cat, policy_default_yaml(), admin, mesh_now());
	if (rc) {
		mfs_error_set(err, rc, "cannot store the mesh policy: %s", strerror(-rc));
		goto out;
	}
	rc = catalog_commit(cat);
	if (rc)
		mfs_error_set(err, rc, "cannot commit the new mesh: %s", strerror(-rc));
out:
	if (rc)
		catalog_rollback(cat);
	keyring_close(kr);
	strbuf_release(&sb);
	return rc;
}

/* A new local mesh: everything in dir. */
static int mesh_create_local(const char *dir, const char *admin, const char *key_file,
			     struct mfs_error *err)
{
	static const char *const subdirs[] = {"staging", "keys"};
	struct strbuf path;
	struct catalog *cat = NULL;
	struct store *st = NULL;
	int rc;

	strbuf_init(&path);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		rc = mfs_error_set(err, errno, "cannot create %s: %s", dir, strerror(errno));
		goto out;
	}
	rc = dir_is_empty(dir);
	if (rc < 0) {
		mfs_error_set(err, rc, "cannot read %s: %s", dir, strerror(-rc));
		goto out;
	}
	if (!rc) {
		rc = mfs_error_set(err, EEXIST,
				   "%s is not empty: a new mesh needs an empty directory", dir);
		goto out;
	}
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if ((rc = mesh_path(&path, dir, subdirs[i])) ||
		    (mkdir(path.buf, 0700) && (rc = -errno))) {
			mfs_error_set(err, rc, "cannot create %s: %s", path.buf, strerror(-rc));
			goto out;
		}
	}
	if ((rc = mesh_path(&path, dir, "store")))
		goto out;
	rc = store_local_open(path.buf, 1, &st, err);
	if (rc)
		goto out;
	rc = catalog_open(&cat, dir, CATALOG_CREATE, err);
	if (rc)
		goto out;
	rc = keys_create_master(key_file, err);
	if (!rc)
		rc = mesh_seed(cat, key_file, admin, NULL, err);
out:
	catalog_close(cat);
	store_close(st);
	strbuf_release(&path);
	return rc;
}

/* A new shared mesh: the key file first (the one step that cannot be redone if lost), then the
 * store, then the catalog. */
static int mesh_create_shared(const char *target, const char *admin, const struct mesh_init *init,
			      const char *key_file, struct mfs_error *err)
{
	struct store_options so = {0};
	struct catalog *cat = NULL;
	struct store *st = NULL;
	int rc, made_key = 0;

	if (!init || !init->store) {
		rc = mfs_error_set(err, EINVAL,
				   "a shared mesh needs a store for its segments: --store "
				   "s3://BUCKET[/PREFIX] or --store file:///DIR");
		goto out;
	}
	if (!key_file) {
		rc =
		    mfs_error_set(err, EINVAL,
				  "a shared mesh needs a master key file that every host is given: "
				  "--key FILE or MESHFS_KEY");
		goto out;
	}
	rc = keys_create_master(key_file, err);
	if (rc)
		goto out;
	made_key = 1;
	so.endpoint = init->endpoint;
	so.region = init->region;
	rc = store_open_url(init->store, &so, 1, &st, err);
	if (rc)
		goto out;
	rc = catalog_open(&cat, target, CATALOG_CREATE, err);
	if (rc)
		goto out;
	rc = mesh_seed(cat, key_file, admin, init, err);
out:
	catalog_close(cat);
	store_close(st);
	/* a key that opens nothing would only mislead a second attempt */
	if (rc && made_key)
		unlink(key_file);
	return rc;
}

int mesh_create(const char *target, const char *admin, const struct mesh_init *init,
		const struct mesh_options *o, struct mfs_error *err)
{
	char *key_file;
	int rc;

	if (!catalog_target_shared(target) && (init || (o && o->key_file)))
		return mfs_error_set(err, EINVAL,
				     "a local mesh keeps its store and key in its directory: "
				     "--store and --key are for a shared mesh (-m postgresql://…)");
	rc = key_file_choose(target, o, &key_file);
	if (rc)
		return mfs_error_set(err, rc, "%s", strerror(-rc));
	if (catalog_target_shared(target))
		rc = mesh_create_shared(target, admin, init, key_file, err);
	else
		rc = mesh_create_local(target, admin, key_file, err);
	free(key_file);
	return rc;
}

/* mkdir -p of a private directory. */
static int mkdir_private(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	return mkdir(path, 0700) && errno != EEXIST ? -errno : 0;
}

/* The shared mesh's files on this host, made if missing: o->cache_dir, $MESHFS_CACHE_DIR, or
 * ~/.cache/meshfs/MESH_ID (one directory a mesh, so two meshes never share a cache). */
static int mesh_local_dir(struct mesh *m, const struct mesh_options *o, struct mfs_error *err)
{
	const char *env = getenv("MESHFS_CACHE_DIR"), *home = getenv("HOME");
	struct strbuf sb;
	char *id = NULL;
	int rc;

	strbuf_init(&sb);
	if (o && o->cache_dir) {
		rc = strbuf_addstr(&sb, o->cache_dir);
	} else if (env && *env) {
		rc = strbuf_addstr(&sb, env);
	} else {
		rc = catalog_setting_get(m->cat, MESH_SETTING_ID, &id);
		if (rc) {
			mfs_error_set(err, rc, "cannot read the mesh's id from the catalog: %s",
				      strerror(-rc));
			goto out;
		}
		if (!home || !*home) {
			struct passwd *pw = getpwuid(getuid());

			home = pw ? pw->pw_dir : "/tmp";
		}
		rc = strbuf_addf(&sb, "%s/.cache/meshfs/%s", home, id);
	}
	if (!rc)
		rc = mkdir_private(sb.buf);
	if (!rc) {
		m->local_dir = strbuf_detach(&sb, NULL);
		rc = m->local_dir ? 0 : -ENOMEM;
	}
	if (!rc) {
		strbuf_reset(&sb);
		rc = mesh_path(&sb, m->local_dir, "staging");
		if (!rc && mkdir(sb.buf, 0700) && errno != EEXIST)
			rc = -errno;
	}
	if (rc)
		mfs_error_set(err, rc, "cannot make the mesh's local directory %s: %s",
			      m->local_dir ? m->local_dir : sb.buf, strerror(-rc));
out:
	free(id);
	strbuf_release(&sb);
	return rc;
}

/* The store a shared mesh's catalog records, with its cache in the local directory. */
static int mesh_open_store(struct mesh *m, int check, struct mfs_error *err)
{
	char *url = NULL, *endpoint = NULL, *region = NULL;
	struct strbuf cache, tmp;
	struct store_options so = {0};
	int rc;

	strbuf_init(&cache);
	strbuf_init(&tmp);
	rc = catalog_setting_get(m->cat, MESH_SETTING_STORE, &url);
	if (rc == -ENOENT) {
		rc = mfs_error_set(
		    err, EIO, "the catalog records no store: its 'meshfs init' did not finish");
		goto out;
	}
	if (!rc && (rc = catalog_setting_get(m->cat, MESH_SETTING_ENDPOINT, &endpoint)) == -ENOENT)
		rc = 0;
	if (!rc && (rc = catalog_setting_get(m->cat, MESH_SETTING_REGION, &region)) == -ENOENT)
		rc = 0;
	if (rc) {
		mfs_error_set(err, rc, "cannot read the store's location: %s", strerror(-rc));
		goto out;
	}
	if ((rc = mesh_path(&cache, m->local_dir, "blocks")) ||
	    (rc = mesh_path(&tmp, m->local_dir, "staging")))
		goto out;
	so.endpoint = endpoint;
	so.region = region;
	so.cache_dir = cache.buf;
	so.cache_size = m->cache_size;
	so.tmp_dir = tmp.buf;
	so.lazy = !check;
	rc = store_open_url(url, &so, 0, &m->store, err);
out:
	free(url);
	free(endpoint);
	free(region);
	strbuf_release(&cache);
	strbuf_release(&tmp);
	return rc;
}

/* Checks that dir holds a catalog the caller may read, with the messages a user needs. */
static int mesh_check_dir(const char *dir, struct mfs_error *err)
{
	struct strbuf path;
	struct stat stbuf;
	int rc = 0;

	strbuf_init(&path);
	if (stat(dir, &stbuf)) {
		rc = mfs_error_set(err, errno, "mesh %s: %s", dir, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(stbuf.st_mode)) {
		rc = mfs_error_set(err, ENOTDIR, "mesh %s: not a directory", dir);
		goto out;
	}
	if ((rc = mesh_path(&path, dir, "catalog.db")))
		goto out;
	if (access(path.buf, F_OK) && errno == ENOENT) {
		rc =
		    mfs_error_set(err, ENOENT,
				  "%s is not a meshfs mesh (it has no catalog.db); create one with "
				  "'meshfs init -m %s'",
				  dir, dir);
		goto out;
	}
	/* A mesh kept from the caller (its service user's, mode 0700) must say so, not pass for
	 * no mesh at all. */
	if (access(path.buf, R_OK))
		rc = mfs_error_set(err, errno, "mesh %s: %s", dir, strerror(errno));
out:
	strbuf_release(&path);
	return rc;
}

/* The catalog's audit keyer: the master key is loaded only when a row is first written. */
static int mesh_audit_key(void *ctx, uint8_t key[CATALOG_AUDIT_KEY])
{
	struct mesh *m = ctx;
	int rc = mesh_keys(m, NULL);

	if (!rc)
		keyring_audit_key(m->keys, key);
	return rc;
}

int mesh_open(struct mesh *m, const char *target, const struct mesh_options *o,
	      struct mfs_error *err)
{
	struct strbuf path;
	int shared = catalog_target_shared(target);
	int rc;

	memset(m, 0, sizeof(*m));
	strbuf_init(&path);
	/* What works on a mesh keeps secrets in libsodium's guarded memory, keys loaded or not. */
	if (sodium_init() < 0) {
		rc = mfs_error_set(err, EIO, "cannot initialize libsodium");
		goto out;
	}
	if (!shared && (rc = mesh_check_dir(target, err)))
		goto out;
	m->target = strdup(target);
	if (!m->target || (!shared && !(m->dir = strdup(target))) ||
	    (!shared && !(m->local_dir = strdup(target)))) {
		rc = mfs_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	rc = key_file_choose(target, o, &m->key_file);
	if (rc) {
		mfs_error_set(err, rc, "%s", strerror(-rc));
		goto out;
	}
	m->cache_size = o ? o->cache_size : 0;
	rc = catalog_open(&m->cat, target, 0, err);
	if (rc)
		goto out;
	catalog_audit_keyer(m->cat, mesh_audit_key, m);
	if (shared) {
		rc = mesh_local_dir(m, o, err);
		if (!rc)
			rc = mesh_open_store(m, o && o->check_store, err);
		goto out;
	}
	if ((rc = mesh_path(&path, target, "store")))
		goto out;
	rc = store_local_open(path.buf, 0, &m->store, err);
out:
	if (rc)
		mesh_close(m);
	strbuf_release(&path);
	return rc;
}

int mesh_open_like(struct mesh *m, const struct mesh *like, struct mfs_error *err)
{
	struct mesh_options o = {
	    .key_file = like->key_file,
	    .cache_dir = like->dir ? NULL : like->local_dir,
	    .cache_size = like->cache_size,
	};

	return mesh_open(m, like->target, &o, err);
}

int mesh_keys(struct mesh *m, struct mfs_error *err)
{
	int rc;

	if (m->keys)
		return 0;
	if (!m->key_file)
		return mfs_error_set(
		    err, EIO,
		    "a shared mesh needs its master key to seal and open PII: give "
		    "--key FILE or set MESHFS_KEY");
	rc = keyring_open(&m->keys, m->key_file, m->cat, err);
	/* The catalog is there, so the key went missing: the mesh is damaged, not absent. */
	if (rc == -ENOENT)
		rc = -EIO;
	return rc;
}

void mesh_close(struct mesh *m)
{
	keyring_close(m->keys);
	store_close(m->store);
	catalog_close(m->cat);
	free(m->target);
	free(m->dir);
	free(m->local_dir);
	free(m->key_file);
	memset(m, 0, sizeof(*m));
}

int mesh_lock(struct mesh *m, int exclusive, int wait)
{
	struct strbuf path;
	int fd, rc;

	if (!m->dir) {
		rc = catalog_lock(m->cat, exclusive, wait);
		return rc ? rc : !!exclusive;
	}
	strbuf_init(&path);
	if ((rc = mesh_path(&path, m->dir, "lock")))
		goto out;
	fd = open(path.buf, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB))) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(fd);
		goto out;
	}
	rc = fd;
out:
	strbuf_release(&path);
	return rc;
}

void mesh_unlock(struct mesh *m, int lock)
{
	if (lock < 0)
		return;
	if (m->dir)
		close(lock);
	else
		catalog_unlock(m->cat, lock);
}

struct referenced {
	char **ids;
	size_t n, cap;
};

static int referenced_add(const char *id, void *ctx)
{
	struct referenced *r = ctx;
	char **p;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		p = realloc(r->ids, r->cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		r->ids = p;
	}
	r->ids[r->n] = strdup(id);
	if (!r->ids[r->n])
		return -ENOMEM;
	r->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct orphan_walk {
	struct referenced *live;
	struct referenced dead;
	const atomic_int *stop;
};

static int stopped(const atomic_int *stop)
{
	return stop && atomic_load(stop);
}

/* Whether the sorted ids r holds include id. */
static int referenced_has(const struct referenced *r, const char *id)
{
	return r->n && bsearch(&id, r->ids, r->n, sizeof(char *), cmp_str);
}

static int orphan_check(const char *id, void *ctx)
{
	struct orphan_walk *w = ctx;

	if (stopped(w->stop))
		return -ECANCELED;
	return referenced_has(w->live, id) ? 0 : referenced_add(id, &w->dead);
}

static void referenced_release(struct referenced *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->ids[i]);
	free(r->ids);
	memset(r, 0, sizeof(*r));
}

/* The catalog's segments, sorted for bsearch. */
static int referenced_read(struct mesh *m, struct referenced *live)
{
	int rc;

	rc = catalog_segment_list(m->cat, referenced_add, live);
	if (!rc && live->n) /* qsort's array may not be NULL, even empty */
		qsort(live->ids, live->n, sizeof(char *), cmp_str);
	return rc;
}

/* Fills dead with the store's blobs that the catalog named none of when the listing began. */
static int orphans_list(struct mesh *m, const atomic_int *stop, struct referenced *dead)
{
	struct referenced live = {0};
	struct orphan_walk w = {.live = &live, .stop = stop};
	int rc;

	rc = referenced_read(m, &live);
	if (!rc)
		rc = store_list(m->store, orphan_check, &w);
	referenced_release(&live);
	if (rc)
		referenced_release(&w.dead);
	else
		*dead = w.dead;
	return rc;
}

int mesh_orphans(struct mesh *m, int (*cb)(const char *id, void *ctx), void *ctx,
		 unsigned long *count)
{
	struct referenced dead = {0};
	int rc;

	*count = 0;
	rc = orphans_list(m, NULL, &dead);
	for (size_t i = 0; !rc && i < dead.n; i++) {
		if (cb && (rc = cb(dead.ids[i], ctx)))
			break;
		(*count)++;
	}
	referenced_release(&dead);
	return rc;
}

int mesh_clean_orphans(struct mesh *m, const atomic_int *stop, unsigned long *removed)
{
	struct referenced listed = {0}, live = {0};
	int lock = -1, rc;

	*removed = 0;
	/* Listing takes as long as the store is big, so it runs without the lock: a publish may
	 * store blobs meanwhile, and some of them be listed. */
	rc = orphans_list(m, stop, &listed);
	if (rc)
		goto out;
	/* Only with no publish in flight anywhere: each holds the lock shared from its first
	 * stored byte to its commit, so those that stored what was listed have committed or
	 * failed by now. */
	lock = mesh_lock(m, 1, 0);
	if (lock == -EBUSY) {
		rc = 0;
		goto out;
	}
	if (lock < 0) {
		rc = lock;
		goto out;
	}
	rc = store_clean_staging(m->store);
	if (rc)
		goto out;
	/* Read under the lock, which this read also proves held: the catalog's connection is not
	 * made again while the lock is, and a session lost would have released it. */
	rc = referenced_read(m, &live);
	for (size_t i = 0; !rc && i < listed.n; i++) {
		if (stopped(stop)) {
			rc = -ECANCELED;
			break;
		}
		if (referenced_has(&live, listed.ids[i]))
			continue;
		rc = store_remove(m->store, listed.ids[i]);
		if (rc == -ENOENT)
			rc = 0;
		if (!rc)
			(*removed)++;
	}
out:
	mesh_unlock(m, lock);
	referenced_release(&live);
	referenced_release(&listed);
	return rc;
}

int mesh_domain_create(struct mesh *m, const char *domain, const char *team,
		       const char *description, struct mfs_error *err)
{
	uint32_t key_id;
	int rc;

	if (!mesh_name_valid(domain))
		return mfs_error_set(err, EINVAL,
				     "invalid domain name '%s': use 1-63 characters of a-z, 0-9, _ "
				     "and -, starting with a letter or digit",
				     domain);
	if (!strcmp(domain, "mesh"))
		return mfs_error_set(
		    err, EINVAL, "'mesh' cannot name a domain: it names the whole mesh in grants");
	rc = catalog_begin(m->cat);
	if (rc)
		return mfs_error_set(err, rc, "catalog busy: %s", strerror(-rc));
	rc =
	    catalog_domain_create(m->cat, domain, team, description ? description : "", mesh_now());
	if (rc == -EEXIST) {
		mfs_error_set(err, rc, "domain '%s' already exists", domain);
		goto out;
	}
	if (rc == -ENOENT) {
		mfs_error_set(err, rc, "no team '%s' (create it with 'meshfs team create %s')",
			      team, team);
		goto out;
	}
	if (rc) {
		mfs_error_set(err, rc, "cannot create domain '%s': %s", domain, strerror(-rc));
		goto out;
	}
	rc = mesh_keys(m, err);
	if (rc)
		goto out;
	rc = keyring_rotate_domain(m->keys, domain, &key_id);
	if (rc) {
		mfs_error_set(err, rc, "cannot create a data key for '%s': %s", domain,
			      strerror(-rc));
		goto out;
	}
	rc = catalog_commit(m->cat);
out:
	if (rc)
		catalog_rollback(m->cat);
	return rc;
}

/* The text product search runs over: names, purpose, tags, columns and their descriptions. */
static int contract_search_text(const struct contract *c, struct strbuf *sb)
{
	int rc = strbuf_addf(sb, "%s %s", c->domain, c->data_product);

	if (!rc && c->purpose)
		rc = strbuf_addf(sb, " %s", c->purpose);
	for (size_t i = 0; !rc && i < c->ntags; i++)
		rc = strbuf_addf(sb, " %s", c->tags[i]);
	for (size_t t = 0; !rc && t < c->ntables; t++) {
		const struct contract_table *tb = &c->tables[t];

		rc = strbuf_addf(sb, " %s", tb->name);
		if (!rc && tb->description)
			rc = strbuf_addf(sb, " %s", tb->description);
		for (size_t k = 0; !rc && k < tb->ncolumns; k++) {
			rc = strbuf_addf(sb, " %s", tb->columns[k].name);
			if (!rc && tb->columns[k].description)
				rc = strbuf_addf(sb, " %s", tb->columns[k].description);
		}
	}
	return rc;
}

int mesh_contract_meta(const struct contract *c, const char *yaml, struct strbuf *search,
		       const char ***tables, struct catalog_contract_meta *meta)
{
	const char **names;
	int rc;

	names = calloc(c->ntables ? c->ntables : 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < c->ntables; i++)
		names[i] = c->tables[i].name;
	rc = contract_search_text(c, search);
	if (rc) {
		free(names);
		return rc;
	}
	memset(meta, 0, sizeof(*meta));
	meta->yaml = yaml;
	meta->semver = c->version;
	meta->description = c->purpose ? c->purpose : "";
	meta->status = c->status ? c->status : "active";
	meta->frequency_seconds = c->frequency_seconds;
	meta->tables = names;
	meta->ntables = c->ntables;
	meta->inputs = (const char *const *)c->inputs;
	meta->ninputs = c->ninputs;
	meta->search_text = search->buf;
	*tables = names;
	return 0;
}

int mesh_product_create(struct mesh *m, const char *domain, const char *product, const char *yaml,
			size_t len, const char *filename, const char *by, struct mfs_error *err)
{
	struct contract c = {0};
	struct catalog_domain d = {0};
	struct catalog_contract_meta meta;
	struct mesh_policy policy;
	struct strbuf search, text;
	const char **tables = NULL;
	int rc, have_policy = 0;

	strbuf_init(&search);
	strbuf_init(&text);
	if (!mesh_name_valid(product)) {
		rc = mfs_error_set(err, EINVAL,
				   "invalid product name '%s': use 1-63 characters of a-z, 0-9, _ "
				   "and -, starting with a letter or digit",
				   product);
		goto out;
	}
	rc = catalog_domain_get(m->cat, domain, &d);
	if (rc == -ENOENT) {
		mfs_error_set(err, rc, "no domain '%s' (see 'meshfs domain list')", domain);
		goto out;
	}
	if (rc)
		goto out;
	/* The catalog keeps the text; a NUL-terminated copy also guards against embedded NULs. */
	if ((rc = strbuf_add(&text, yaml, len)))
		goto out;
	if (strlen(text.buf) != len) {
		rc = mfs_error_at(err, EINVAL, filename, 0, 0, "contract contains a NUL byte");
		goto out;
	}
	rc = mesh_policy_get(m, &policy, err);
	if (rc)
		goto out;
	have_policy = 1;
	rc = contract_parse(&c, text.buf, text.len, filename,
			    (const char *const *)policy.pii_classes, err);
	if (!rc)
		rc = policy_check_contract(&policy, &c, filename, err);
	if (rc)
		goto out;
	if (strcmp(c.domain, domain)) {
		rc = mfs_error_at(err, EINVAL, filename, 0, 0,
				  "contract is for domain '%s', not '%s'", c.domain, domain);
		goto out;
	}
	if (strcmp(c.data_product, product)) {
		rc = mfs_error_at(err, EINVAL, filename, 0, 0,
				  "contract is for data product '%s', not '%s'", c.data_product,
				  product);
		goto out;
	}
	rc = mesh_contract_meta(&c, text.buf, &search, &tables, &meta);
	if (rc)
		goto out;
	rc = catalog_product_create(m->cat, domain, product, &meta, by, mesh_now());
	if (rc == -EEXIST)
		mfs_error_set(err, rc, "product %s/%s already exists", domain, product);
	else if (rc)
		mfs_error_set(err, rc, "cannot create %s/%s: %s", domain, product, strerror(-rc));
out:
	if (have_policy)
		policy_release(&policy);
	free(tables);
	contract_release(&c);
	catalog_domain_release(&d);
	strbuf_release(&search);
	strbuf_release(&text);
	return rc;
}

void mesh_binding(char *out, size_t size, const char *domain, const char *product,
		  const char *table)
{
	int n = snprintf(out, size, "%s/%s/%s", domain, product, table);

	assert(n > 0 && (size_t)n < size);
	(void)n;
}

int mesh_segment_key(void *ctx, uint32_t key_id, uint8_t key[32])
{
	struct mesh *m = ctx;
	int rc = mesh_keys(m, NULL);

	return rc ? rc : keyring_key(m->keys, key_id, key);
}

int mesh_policy_text(struct mesh *m, char **yaml)
{
	int rc = catalog_policy_get(m->cat, yaml, NULL);

	/* A mesh made before policies existed follows the default one. */
	if (rc == -ENOENT) {
		*yaml = strdup(policy_default_yaml());
		rc = *yaml ? 0 : -ENOMEM;
	}
	return rc;
}

int mesh_policy_get(struct mesh *m, struct mesh_policy *out, struct mfs_error *err)
{
	char *yaml;
	int rc;

	/* Whatever happens, out can be released. */
	memset(out, 0, sizeof(*out));
	rc = mesh_policy_text(m, &yaml);
	if (rc)
		return mfs_error_set(err, rc, "cannot read the mesh policy: %s", strerror(-rc));
	rc = policy_parse(out, yaml, strlen(yaml), "policy.yaml", err);
	free(yaml);
	return rc;
}

/* The audit row of an attempt to set the policy; detail is the first line of the reason. */
static int policy_audit(struct mesh *m, const struct principal *p, const char *outcome,
			const char *detail)
{
	struct catalog_audit a = {0};
	char line[512];

	snprintf(line, sizeof(line), "%.*s", (int)strcspn(detail, "\n"), detail);
	a.at = mesh_now();
	a.principal = p->name;
	a.action = "policy";
	a.object = "mesh";
	a.view = "";
	a.outcome = outcome;
	a.detail = line;
	return catalog_audit_add(m->cat, &a);
}

int mesh_policy_set(struct mesh *m, const struct principal *p, const char *yaml, size_t len,
		    const char *filename, struct mfs_error *err)
{
	struct mesh_policy policy;
	struct strbuf text;
	int rc;

	strbuf_init(&text);
	rc = acl_allowed(m->cat, p, PRIV_ADMIN, NULL, NULL);
	if (rc < 0) {
		mfs_error_set(err, rc, "cannot check the rights of %s: %s", p->name, strerror(-rc));
		goto out;
	}
	if (!rc) {
		/* refused changes of rules are worth an audit row too; best effort */
		(void)policy_audit(m, p, "denied", "not a mesh admin");
		rc = mfs_error_set(err, EACCES,
				   "permission denied: %s has no admin right on the mesh, which "
				   "setting the policy needs",
				   p->name);
		goto out;
	}
	/* The catalog keeps the text; a NUL-terminated copy also guards against embedded NULs. */
	rc = strbuf_add(&text, yaml, len);
	if (rc) {
		mfs_error_set(err, rc, "out of memory");
		goto out;
	}
	if (strlen(text.buf) != len)
		rc = mfs_error_at(err, EINVAL, filename, 0, 0, "policy contains a NUL byte");
	else
		rc = policy_parse(&policy, text.buf, text.len, filename, err);
	if (rc) {
		(void)policy_audit(m, p, "rejected", err ? err->msg : "");
		goto out;
	}
	policy_release(&policy);
	rc = catalog_begin(m->cat);
	if (rc) {
		mfs_error_set(err, rc, "catalog busy: %s", strerror(-rc));
		goto out;
	}
	rc = catalog_policy_set(m->cat, text.buf, p->name, mesh_now());
	if (!rc)
		rc = policy_audit(m, p, "ok", "");
	if (rc)
		catalog_rollback(m->cat);
	else
		rc = catalog_commit(m->cat);
	if (rc)
		mfs_error_set(err, rc, "cannot store the mesh policy: %s", strerror(-rc));
out:
	strbuf_release(&text);
	return rc;
}
