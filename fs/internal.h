/*
 * What the parts of the mounted filesystem share: the daemon's state (struct fs), nodes and
 * their inode numbers, and the functions one part calls in another. The public interface is
 * fs/fs.h; nothing outside fs/ includes this.
 *
 * Everything that reads the catalog or the caches runs under fs->lock (fs_lock). A request takes
 * it, with its decoded inode and its caller, in fs_request_begin.
 */
#ifndef MESHFS_FS_INTERNAL_H
#define MESHFS_FS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>

#include <fuse_lowlevel.h>

#include "acl/acl.h"
#include "catalog/catalog.h"
#include "common/strbuf.h"
#include "mesh/mesh.h"
#include "table/segment.h"

enum node_kind {
	N_ROOT = 0,
	N_ROOT_README,
	N_CATALOG_CSV,
	N_DOMAIN,
	N_DOMAIN_README,
	N_PRODUCT,
	N_PRODUCT_README,
	N_CONTRACT, /* ver = contract seq */
	N_VERSIONS,
	N_VERSION,
	N_LATEST,
	N_TABLE, /* ver = version, tidx = table's index in the version, view */
	N_PUBLISH_LOG,
	N_UPLOAD, /* id = slot in fs->uploads, ver = its generation */
	N_POLICY,
	N_LINEAGE,
	N_SEARCH,	/* .search/ */
	N_SEARCH_QUERY, /* .search/TEXT/: id = slot in fs->queries, ver = its generation */
	N_SEARCH_LINK,	/* .search/TEXT/DOMAIN.PRODUCT: id = product id */
	N_WRITABLE,	/* a publisher's own inode of a current table or contract: id = slot in
			   fs->writables, ver = its generation */
	N_AT,		/* versions/@INSTANT: ver = the version current then */
	N_KIND_LAST = N_AT,
};

/* Bits of an inode number, from the top: kind | id | ver | tidx | view. */
#define INO_KIND_BITS 6
#define INO_ID_BITS   24
#define INO_VER_BITS  20
#define INO_TIDX_BITS 13
#define INO_VIEW_BITS 1
_Static_assert(INO_KIND_BITS + INO_ID_BITS + INO_VER_BITS + INO_TIDX_BITS + INO_VIEW_BITS == 64,
	       "an inode number is 64 bits");
_Static_assert(N_KIND_LAST < 1 << INO_KIND_BITS, "every kind fits its bits");

#define INO_MASK(bits) ((1ULL << (bits)) - 1)
#define INO_VIEW_SHIFT 0
#define INO_TIDX_SHIFT (INO_VIEW_SHIFT + INO_VIEW_BITS)
#define INO_VER_SHIFT  (INO_TIDX_SHIFT + INO_TIDX_BITS)
#define INO_ID_SHIFT   (INO_VER_SHIFT + INO_VER_BITS)
#define INO_KIND_SHIFT (INO_ID_SHIFT + INO_ID_BITS)

struct node {
	enum node_kind kind;
	int64_t id;
	int64_t ver;
	unsigned tidx;
	enum segment_view view;
};

/* Attributes of immutable inodes may stay in the kernel's caches; generated ones may not. */
#define TIMEOUT_IMMUTABLE 3600.0
#define TIMEOUT_LISTING	  1.0
/* Listings and versions/latest: the watcher thread drops them when the catalog changes. */
#define TIMEOUT_WATCHED 60.0
#define WATCH_MS	200

#define SEGMENT_POOL	64
#define PRINCIPAL_CACHE 32
#define PRINCIPAL_TTL	5

struct pooled_segment {
	char id[STORE_ID_HEX + 1];
	struct segment *seg;
	unsigned refs;
	uint64_t used; /* for eviction of the least recently used idle entry */
};

struct cached_principal {
	struct principal p;
	int64_t at; /* 0: empty slot */
};

/*
 * A file being written through the mount. Under a name that publishes (a table file, an archive,
 * contract.yaml) it lives from open to release; under any other name it is a private staging
 * file of its writer, listed only to them, until renamed onto a name that publishes or removed.
 */
struct upload {
	int64_t product_id;
	char *name;
	uid_t uid;
	gid_t gid;
	uint32_t gen;
	struct staging *st;
	unsigned opens;
	int linked; /* has its name in the writer's view of the product directory */
	/* written since the last publish attempt. Opening with O_TRUNC does not count: a shell
	 * redirection closes a duplicate of the descriptor before the first write, and that flush
	 * must not publish an empty file. */
	int dirty;
	int attempted; /* a publish of it was tried: an empty upload is rejected once, not again */
	mode_t mode;
	int64_t mtime;
	struct writable *through; /* the publisher's inode it was opened through, if any */
	uint32_t through_gen;
};

#define MAX_UPLOADS 1024
/* Search texts looked up under .search/, by slot: the oldest is reused when all are taken. */
#define MAX_QUERIES  256
#define SEARCH_LIMIT 100

struct query {
	char *text;
	uint32_t gen;
};

/*
 * Publishers get inodes of their own for the current tables and contract.yaml: a writer's
 * open and truncate act on the kernel's inode (its size, its page cache), and the inode of a
 * published view is shared by all its readers, who must never see a writer's upload.
 */
#define MAX_WRITABLES	4096
#define WRITABLE_PROBES 8

/*
 * Access decisions, for lookups and listings that ask them for every entry: valid while the
 * catalog has not changed, and no longer than a principal's cached groups.
 */
#define DECISION_CACHE 4096

struct cached_decision {
	uid_t uid;
	gid_t gid;
	enum privilege priv;
	int64_t product_id; /* the product decided on; 0: empty slot */
	uint64_t stamp;
	int64_t at;
	int allowed;
};

/* Versions never change once recorded: the daemon keeps the last ones it read. */
#define VERSION_CACHE 4096
/* Versions read together on a miss: a product's versions/ lists them all. */
#define VERSION_PREFETCH 32

/* Versions never change: a direct-mapped cache by product and number. */
struct cached_version {
	int64_t product_id; /* 0: empty */
	struct catalog_version v;
};

/* Products, valid while the catalog's change stamp stays the same. */
#define PRODUCT_CACHE 4096
struct cached_product {
	uint64_t stamp;
	struct catalog_product p; /* p.id 0: empty */
};

/*
 * Sizes of generated documents, for stat: rendering one costs catalog queries, and ls -l of a
 * product directory stats its README and publish.log. Valid while the catalog has not changed,
 * for DOC_TTL seconds: freshness depends on the time. A size is only a hint, as documents are
 * read as rendered at open.
 */
#define DOC_CACHE 8192
#define DOC_TTL	  10

struct cached_doc {
	struct node n;
	uid_t uid;
	uint64_t stamp;
	int64_t at;
	size_t size; /* 0 with at == 0: empty slot */
};

struct writable {
	uid_t uid;
	struct node target; /* N_TABLE or N_CONTRACT */
	uint32_t gen;	    /* 0: empty slot */
	unsigned writers;   /* uploads opened through it and not yet released */
	unsigned opens;	    /* files open through it: one at a time, see fs_open */
	uint64_t made;
};

/* What the root holds besides the domains, in the order it lists them (fs/node.c). */
#define ROOT_FILES 5
struct root_file {
	const char *name;
	enum node_kind kind;
	mode_t mode;
};
extern const struct root_file node_root_files[ROOT_FILES];

struct dir_entry {
	char *name;
	fuse_ino_t ino;
	mode_t mode;
};

struct dir_list {
	struct dir_entry *e;
	size_t n, cap;
	/* may list differently for another caller: a table with PII (an inode per view), or
	 * uploads, listed to their writers only */
	int per_caller;
};

/* The listing last built, kept for the rest of its reads (dir_listing). */
struct dir_listing {
	int valid;
	struct node node;
	uid_t uid;
	uint64_t stamp;
	struct dir_list l;
};

struct fs {
	struct mesh m;
	char *mesh_dir; /* as mounted: an absolute directory, or a shared mesh's URL */
	/* guards m.cat (one connection, one thread at a time) and principals */
	pthread_mutex_t lock;
	struct cached_principal principals[PRINCIPAL_CACHE];
	pthread_mutex_t pool_lock;
	struct pooled_segment pool[SEGMENT_POOL];
	uint64_t pool_clock;
	int64_t started;
	/* under lock */
	struct upload *uploads[MAX_UPLOADS];
	uint32_t upload_gen;
	struct query queries[MAX_QUERIES];
	uint32_t query_gen;
	size_t query_next;
	struct writable writables[MAX_WRITABLES];
	struct cached_version versions[VERSION_CACHE];
	struct cached_product products[PRODUCT_CACHE];
	/* the catalog's change stamp, read once per hold of the lock (fs_stamp) */
	uint64_t stamp;
	int stamp_known;
	struct cached_doc docs[DOC_CACHE];
	struct cached_decision decisions[DECISION_CACHE];
	uint32_t writable_gen;
	uint64_t writables_made;
	uid_t uid;
	gid_t gid;
	struct fuse_session *se; /* for notifications to the kernel */
	unsigned mnt_id;	 /* the mount's id in /proc/PID/fdinfo, 0 if not known */
	int cache_dirs;		 /* the kernel may keep listings (fs_init) */
	struct dir_listing listing;
	/* every open file: the kernel releases them, but not when the daemon is stopped first */
	pthread_mutex_t files_lock;
	struct open_file *files;
	pthread_t watcher;	   /* watch_start */
	struct catalog *watch_cat; /* the watcher's connection */
	pthread_mutex_t watch_lock;
	pthread_cond_t watch_cond;
	int watch_stop;
	int no_opendir;	   /* ... and open directories without asking */
	pthread_t janitor; /* cleans a shared mesh's orphans after the start (fs_main) */
	int janitor_started;
	atomic_int janitor_stop; /* set at unmount: the janitor ends between two blobs */
};

/* What an open file serves: either a segment view or a document rendered at open. */
struct open_file {
	struct upload *up; /* a file open for writing */
	pid_t opener;	   /* the process that opened it */
	struct pooled_segment *ps;
	enum segment_view view;
	/* reads of one open file may run on several threads at once; its cache is not shared */
	pthread_mutex_t cache_lock;
	struct segment_cache *cache;
	struct strbuf doc;
	struct open_file *prev, *next; /* in fs->files */
	struct writable *through;      /* the publisher's inode it was opened through, if any */
	uint32_t through_gen;
};

/* fs/fs.c: the daemon's state, its locks and caches */
void fs_lock(struct fs *fs);
void fs_unlock(struct fs *fs);
int fs_stamp(struct fs *fs, uint64_t *stamp);
struct fs *fs_of(fuse_req_t req);
int fs_ino_encode(const struct node *n, fuse_ino_t *ino);
int fs_ino_decode(fuse_ino_t ino, struct node *n);
int fs_request_begin(struct fs *fs, fuse_req_t req, fuse_ino_t ino, struct node *n,
		     const struct principal **pr);
int fs_allowed(struct fs *fs, const struct principal *pr, enum privilege priv,
	       const struct catalog_product *p);
int fs_version_get(struct fs *fs, int64_t product_id, int64_t number, struct catalog_version *out);
int fs_table_get(struct fs *fs, const struct node *n, struct catalog_version *v,
		 const struct catalog_table_version **t);
int fs_product_get(struct fs *fs, int64_t id, struct catalog_product *out);

/* fs/node.c: resolving nodes */
void node_stat_fill(struct stat *st, fuse_ino_t ino, mode_t mode, uint64_t size, int64_t mtime,
		    const struct fs *fs);
int node_render(struct fs *fs, const struct principal *pr, const struct node *n,
		struct strbuf *out);
int node_is_document(enum node_kind k);
const char *node_query_at(struct fs *fs, const struct node *n);
void node_search_link_name(char *out, size_t size, const struct catalog_product *p);
int node_target(struct fs *fs, const struct node *n, struct node *target, int *writable);
int node_stat(struct fs *fs, const struct principal *pr, const struct node *n, fuse_ino_t ino,
	      struct stat *st, double *timeout);
int node_table_view(struct fs *fs, const struct principal *pr, const struct catalog_product *p,
		    const struct catalog_table_version *t, enum segment_view *view);
int node_lookup(struct fs *fs, const struct principal *pr, const struct node *parent,
		const char *name, struct node *child);
double node_entry_timeout(struct fs *fs, const struct node *parent, const struct node *child);
void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_readlink(fuse_req_t req, fuse_ino_t ino);
void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);

/* fs/dir.c: directories */
/* Frees the listing dir_listing keeps. */
void dir_listing_release(struct fs *fs);
int dir_stamp(struct fs *fs, const struct principal *pr, const struct node *n, struct stat *st,
	      double *timeout);
void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);

/* fs/upload.c: writing through the mount */
struct upload *upload_at(struct fs *fs, const struct node *n);
struct upload *upload_find(struct fs *fs, int64_t product_id, const char *name, uid_t uid);
void upload_node(struct fs *fs, const struct upload *up, struct node *n);
int upload_stat(struct fs *fs, const struct upload *up, fuse_ino_t ino, struct stat *st);
void upload_writable_node(struct fs *fs, uid_t uid, struct node *n);
void upload_release(struct fs *fs, struct upload *up);
void upload_node_changed(struct fs *fs, enum node_kind kind, int64_t id);
void upload_product_changed(struct fs *fs, int64_t product_id);
int upload_flush(struct fs *fs, struct upload *up, pid_t opener, fuse_ino_t ino);
pid_t upload_task_tgid(pid_t tid);
int upload_open_for_publish(struct fs *fs, fuse_req_t req, const struct principal *pr,
			    const struct node *n, struct writable *w, struct open_file *of);
int upload_open(struct fs *fs, const struct principal *pr, const struct node *n, int flags,
		struct open_file *of);
int upload_refuse_write(struct fs *fs, const struct principal *pr, const struct node *n);
void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi);
void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	      struct fuse_file_info *fi);
void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
int upload_name_exists(struct fs *fs, const struct principal *pr, const struct node *parent,
		       const char *name);
void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	       const char *newname, unsigned int flags);
void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi);

/* fs/read.c: opening and reading files */
void read_open_file_free(struct fs *fs, struct open_file *of);
struct open_file *read_open_file_new(struct fs *fs);
void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* fs/watch.c: changes made by others */
/* Starts the thread that follows the catalog; watch_stop stops it. Returns 0 or -errno. */
int watch_start(struct fs *fs);
void watch_stop(struct fs *fs);

#endif
