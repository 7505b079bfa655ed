/* Exporting a version as an archive: libarchive writes, segment_read gives each view's bytes. */
#include "mesh/export.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>

#include "catalog/catalog.h"
#include "common/fileio.h"
#include "common/strbuf.h"
#include "mesh/render.h"
#include "table/segment.h"

/* Bytes of a view read per call: large enough for few round trips, small enough to zero fast. */
#define EXPORT_CHUNK (256 * 1024)

static const struct {
	const char *suffix;
	enum export_format format;
} export_suffixes[] = {
    {".tar", EXPORT_TAR},	  {".tar.gz", EXPORT_TAR_GZ},	{".tgz", EXPORT_TAR_GZ},
    {".tar.bz2", EXPORT_TAR_BZ2}, {".tbz2", EXPORT_TAR_BZ2},	{".tar.xz", EXPORT_TAR_XZ},
    {".txz", EXPORT_TAR_XZ},	  {".tar.zst", EXPORT_TAR_ZST}, {".tzst", EXPORT_TAR_ZST},
    {".zip", EXPORT_ZIP},
};

int export_format_of(const char *file, enum export_format *out)
{
	size_t len = strlen(file), slen, i;
	const char *base = strrchr(file, '/');

	base = base ? base + 1 : file;
	for (i = 0; i < sizeof(export_suffixes) / sizeof(export_suffixes[0]); i++) {
		slen = strlen(export_suffixes[i].suffix);
		/* a name that is only the extension names no file */
		if (strlen(base) > slen &&
		    !strcasecmp(file + len - slen, export_suffixes[i].suffix)) {
			*out = export_suffixes[i].format;
			return 0;
		}
	}
	return -EINVAL;
}

/* Sets a's format and compression filter. Returns libarchive's status: ARCHIVE_WARN when a filter
 * runs as an external program, which works as well. */
static int archive_setup(struct archive *a, enum export_format f)
{
	int rc;

	if (f == EXPORT_ZIP)
		return archive_write_set_format_zip(a);
	rc = archive_write_set_format_pax_restricted(a);
	if (rc != ARCHIVE_OK)
		return rc;
	switch (f) {
	case EXPORT_TAR_GZ:
		return archive_write_add_filter_gzip(a);
	case EXPORT_TAR_BZ2:
		return archive_write_add_filter_bzip2(a);
	case EXPORT_TAR_XZ:
		return archive_write_add_filter_xz(a);
	case EXPORT_TAR_ZST:
		return archive_write_add_filter_zstd(a);
	default:
		return ARCHIVE_OK;
	}
}

/* 1 if file would land inside the mesh directory, 0 if not, or -errno. A directory that cannot
 * be resolved is left for the open to report. */
static int inside_mesh(const char *mesh_dir, const char *file)
{
	char *copy, *dir = NULL, *mesh = NULL;
	size_t n;
	int rc = 0;

	copy = mfs_parent_dup(file);
	if (!copy)
		return -ENOMEM;
	dir = realpath(copy, NULL);
	mesh = realpath(mesh_dir, NULL);
	if (dir && mesh) {
		n = strlen(mesh);
		rc = !strncmp(dir, mesh, n) && (dir[n] == '\0' || dir[n] == '/');
	}
	free(copy);
	free(dir);
	free(mesh);
	return rc;
}

struct export_ctx {
	struct mesh *m;
	const struct principal *p;
	const char *domain, *product, *file;
	struct mfs_error *err;
	struct archive *a;
	struct export_result *res;
	uint8_t *buf; /* EXPORT_CHUNK bytes, zeroed after each plain read */
};

/* Starts an entry of size bytes called name. */
static int entry_begin(struct export_ctx *x, const char *name, uint64_t size)
{
	struct archive_entry *e;
	int rc = 0;

	e = archive_entry_new();
	if (!e)
		return mfs_error_set(x->err, ENOMEM, "out of memory");
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, (time_t)x->res->mtime, 0);
	/* a warning is about metadata the format cannot hold; the entry is written */
	if (archive_write_header(x->a, e) < ARCHIVE_WARN)
		rc = mfs_error_set(x->err, EIO, "%s: cannot write %s: %s", x->file, name,
				   archive_error_string(x->a));
	archive_entry_free(e);
	return rc;
}

static int entry_data(struct export_ctx *x, const char *name, const void *data, size_t len)
{
	la_ssize_t n = archive_write_data(x->a, data, len);

	if (n < 0 || (size_t)n != len)
		return mfs_error_set(x->err, EIO, "%s: cannot write %s: %s", x->file, name,
				     archive_error_string(x->a));
	return 0;
}

/* Writes one table in view as the entry TABLE.csv. */
static int export_table(struct export_ctx *x, const struct catalog_table_version *t,
			enum segment_view view)
{
	char binding[3 * MESH_NAME_MAX], name[MESH_NAME_MAX + 4];
	struct segment_cache *cache = NULL;
	struct segment *seg = NULL;
	uint64_t size, off = 0;
	ssize_t n;
	int rc;

	mesh_binding(binding, sizeof(binding), x->domain, x->product, t->name);
	snprintf(name, sizeof(name), "%s.csv", t->name);
	rc = segment_open(&seg, x->m->store, t->segment, binding, x->err);
	if (rc)
		goto out;
	if (view == SEGMENT_PLAIN) {
		rc = mesh_keys(x->m, x->err);
		if (rc)
			goto out;
		cache = segment_cache_new();
		if (!cache) {
			rc = mfs_error_set(x->err, ENOMEM, "out of memory");
			goto out;
		}
	}
	size = segment_view_size(seg, view);
	rc = entry_begin(x, name, size);
	while (!rc && off < size) {
		n = segment_read(seg, view, x->buf, EXPORT_CHUNK, off, mesh_segment_key, x->m,
				 cache);
		if (n <= 0) {
			rc = n < 0 ? (int)n : -EIO;
			mfs_error_set(x->err, -rc, "%s/%s/%s version %lld: %s", x->domain,
				      x->product, name, (long long)x->res->version,
				      rc == -EIO ? "a sealed chunk does not open or the segment "
						   "is cut short (damaged or tampered with)"
						 : strerror(-rc));
			break;
		}
		rc = entry_data(x, name, x->buf, (size_t)n);
		if (view == SEGMENT_PLAIN)
			sodium_memzero(x->buf, (size_t)n);
		off += (uint64_t)n;
	}
	if (!rc)
		x->res->bytes += size;
out:
	segment_cache_free(cache);
	segment_close(seg);
	return rc;
}

/* Writes contract.yaml and every table of version v into the open archive. */
static int export_entries(struct export_ctx *x, const struct catalog_product *prod,
			  const struct catalog_version *v, const enum segment_view *views)
{
	char *yaml = NULL;
	int64_t seq;
	size_t i;
	int rc;

	rc = catalog_contract_get(x->m->cat, prod->id, v->contract_seq, &yaml, &seq);
	if (rc) {
		mfs_error_set(x->err, rc, "cannot read the contract of %s/%s: %s", x->domain,
			      x->product, strerror(-rc));
		goto out;
	}
	rc = entry_begin(x, "contract.yaml", strlen(yaml));
	if (!rc)
		rc = entry_data(x, "contract.yaml", yaml, strlen(yaml));
	for (i = 0; !rc && i < v->ntables; i++) {
		rc = export_table(x, &v->tables[i], views[i]);
		if (!rc)
			x->res->ntables++;
	}
out:
	free(yaml);
	return rc;
}

/* Writes the archive into fd. */
static int export_write(struct export_ctx *x, enum export_format format, int fd,
			const struct catalog_product *prod, const struct catalog_version *v,
			const enum segment_view *views)
{
	int rc;

	x->a = archive_write_new();
	if (!x->a)
		return mfs_error_set(x->err, ENOMEM, "out of memory");
	if (archive_setup(x->a, format) < ARCHIVE_WARN ||
	    archive_write_open_fd(x->a, fd) != ARCHIVE_OK) {
		rc = mfs_error_set(x->err, EIO, "%s: %s", x->file, archive_error_string(x->a));
		goto out;
	}
	rc = export_entries(x, prod, v, views);
	/* close writes the end of the archive and flushes the compressor */
	if (archive_write_close(x->a) < ARCHIVE_WARN && !rc)
		rc = mfs_error_set(x->err, EIO, "%s: %s", x->file, archive_error_string(x->a));
out:
	archive_write_free(x->a);
	x->a = NULL;
	return rc;
}

static void export_audit(struct export_ctx *x, int rc)
{
	char object[2 * MESH_NAME_MAX + 1];
	struct catalog_audit a = {0};
	struct strbuf detail;

	strbuf_init(&detail);
	snprintf(object, sizeof(object), "%s/%s", x->domain, x->product);
	a.at = mesh_now();
	a.principal = x->p->name;
	a.action = "export";
	a.object = object;
	a.version = x->res->version;
	a.view = "plain";
	a.outcome = rc ? "error" : "ok";
	if (strbuf_addf(&detail, "to %s", x->file) == 0)
		a.detail = detail.buf;
	/* best effort, as for publishes: the export's own outcome is what the caller must see */
	(void)catalog_audit_add(x->m->cat, &a);
	strbuf_release(&detail);
}

/* Chooses each table's view: plain where it has PII and p may unmask. */
static int export_views(struct export_ctx *x, const struct catalog_version *v,
			enum segment_view *views)
{
	int unmask = -1;
	size_t i;

	for (i = 0; i < v->ntables; i++) {
		views[i] = SEGMENT_MASKED;
		if (!v->tables[i].has_pii)
			continue;
		if (unmask < 0) {
			unmask = acl_allowed(x->m->cat, x->p, PRIV_UNMASK, x->domain, x->product);
			if (unmask < 0)
				return mfs_error_set(x->err, -unmask,
						     "cannot check the rights of %s", x->p->name);
		}
		if (unmask) {
			views[i] = SEGMENT_PLAIN;
			x->res->nplain++;
		}
	}
	return 0;
}

/* Whether the product exists is metadata, which everyone may know. */
static int product_get(struct mesh *m, const char *domain, const char *product,
		       struct catalog_product *out, struct mfs_error *err)
{
	int rc = catalog_product_get(m->cat, domain, product, out);

	if (rc == -ENOENT)
		mfs_error_set(err, ENOENT, "no product %s/%s (see 'meshfs product list')", domain,
			      product);
	else if (rc)
		mfs_error_set(err, -rc, "cannot read %s/%s from the catalog: %s", domain, product,
			      strerror(-rc));
	return rc;
}

int export_version_at(struct mesh *m, const char *domain, const char *product, int64_t at,
		      int64_t *number, struct mfs_error *err)
{
	struct catalog_product prod = {0};
	char when[RENDER_TIME_LEN];
	int rc;

	rc = product_get(m, domain, product, &prod, err);
	if (!rc)
		rc = catalog_version_at(m->cat, prod.id, at, number);
	if (rc == -ENOENT && prod.id) {
		render_time(at, when);
		mfs_error_set(err, ENOENT, "%s/%s had no version yet at %s", domain, product, when);
	} else if (rc && prod.id) {
		mfs_error_set(err, -rc, "cannot read the versions of %s/%s: %s", domain, product,
			      strerror(-rc));
	}
	catalog_product_release(&prod);
	return rc;
}

int export_product(struct mesh *m, const struct principal *p, const char *domain,
		   const char *product, int64_t number, const char *file, struct export_result *res,
		   struct mfs_error *err)
{
	struct export_ctx x = {.m = m,
			       .p = p,
			       .domain = domain,
			       .product = product,
			       .file = file,
			       .err = err,
			       .res = res};
	struct catalog_product prod = {0};
	struct catalog_version v = {0};
	enum segment_view *views = NULL;
	enum export_format format;
	struct strbuf tmp;
	int fd = -1, rc;

	memset(res, 0, sizeof(*res));
	strbuf_init(&tmp);
	if (export_format_of(file, &format)) {
		rc = mfs_error_set(err, EINVAL,
				   "%s: unknown archive type (use .tar, .tar.gz, .tgz, .tar.bz2, "
				   ".tar.xz, .tar.zst or .zip)",
				   file);
		goto out;
	}
	rc = m->dir ? inside_mesh(m->dir, file) : 0;
	if (rc > 0)
		rc = mfs_error_set(err, EINVAL,
				   "%s is inside the mesh directory: export to a place outside it",
				   file);
	if (rc)
		goto out;
	rc = product_get(m, domain, product, &prod, err);
	if (rc)
		goto out;
	rc = acl_allowed(m->cat, p, PRIV_READ, domain, product);
	if (rc < 0)
		mfs_error_set(err, -rc, "cannot check the rights of %s: %s", p->name,
			      strerror(-rc));
	else if (rc == 0)
		rc = mfs_error_set(err, EACCES, "permission denied: %s has no read right on %s/%s",
				   p->name, domain, product);
	else if (!prod.latest)
		rc = mfs_error_set(err, ENOENT, "%s/%s has no version yet", domain, product);
	else
		rc = 0;
	if (rc)
		goto out;
	rc = catalog_version_get(m->cat, prod.id, number, &v);
	if (rc == -ENOENT)
		mfs_error_set(err, rc, "%s/%s has no version %lld (the latest is %lld)", domain,
			      product, (long long)number, (long long)prod.latest);
	if (rc)
		goto out;
	res->version = v.number;
	res->mtime = v.published_at;
	views = calloc(v.ntables ? v.ntables : 1, sizeof(*views));
	x.buf = sodium_malloc(EXPORT_CHUNK);
	if (!views || !x.buf) {
		rc = mfs_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	rc = export_views(&x, &v, views);
	if (rc)
		goto out;
	if (strbuf_addf(&tmp, "%s.tmp", file)) {
		rc = mfs_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	/* a new file, so that a leftover with a wider mode cannot receive plaintext */
	if (unlink(tmp.buf) && errno != ENOENT) {
		rc = mfs_error_set(err, errno, "%s: %s", tmp.buf, strerror(errno));
		goto out;
	}
	fd = open(tmp.buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  res->nplain ? 0600 : 0666);
	if (fd < 0) {
		rc = mfs_error_set(err, errno, "%s: %s", tmp.buf, strerror(errno));
		goto out;
	}
	rc = export_write(&x, format, fd, &prod, &v, views);
	if (!rc && fsync(fd))
		rc = mfs_error_set(err, errno, "%s: %s", tmp.buf, strerror(errno));
	if (close(fd) && !rc)
		rc = mfs_error_set(err, errno, "%s: %s", tmp.buf, strerror(errno));
	fd = -1;
	if (!rc && rename(tmp.buf, file))
		rc = mfs_error_set(err, errno, "%s: %s", file, strerror(errno));
	if (rc)
		unlink(tmp.buf);
	else if ((rc = mfs_fsync_parent(file)))
		mfs_error_set(err, -rc, "%s: cannot make the export durable: %s", file,
			      strerror(-rc));
	if (res->nplain)
		export_audit(&x, rc);
out:
	if (fd >= 0)
		close(fd);
	sodium_free(x.buf);
	free(views);
	catalog_version_release(&v);
	catalog_product_release(&prod);
	strbuf_release(&tmp);
	return rc;
}
