/*
 * Uploads through libarchive. A single table is read with the "raw" format behind the
 * decompression filters (and the "empty" format, so that no bytes at all make an empty entry
 * instead of an error); an archive with the tar and streaming zip formats. The upload's bytes
 * come from the caller's source into one block that libarchive reads from, so nothing is ever
 * seekable and memory stays bounded by libarchive's own buffers and ours.
 *
 * Only the filters the design names are enabled, each required to be built in: with
 * archive_read_support_filter_all, libarchive would run external programs (lrzip, grzip, …)
 * on data anyone with the publish right can send.
 *
 * Every decompressed byte handed out, peeked at or skipped goes through ingest_account, which
 * enforces the limits; a limit reached stops the upload for good.
 */
#include "table/ingest.h"

#include <archive.h>
#include <archive_entry.h>
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "contract/contract.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)

#define INGEST_BLOCK	     (64 * 1024)
#define INGEST_RATIO_AFTER   (16 * MiB)
#define INGEST_DEFAULT_ENTRY (64 * GiB)
#define INGEST_DEFAULT_TOTAL (256 * GiB)
#define INGEST_DEFAULT_COUNT 1000
#define INGEST_DEFAULT_RATIO 250
#define INGEST_DEFAULT_YAML  (1 * MiB)
/* The first bytes of each entry are looked at for the signature of an archive (a tar header's
 * magic sits at offset 257). */
#define INGEST_PEEK 512
/* Bytes of a name shown in a message. */
#define INGEST_SHOWN 160

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct ingest {
	struct archive *a;
	csv_source_fn read;
	void *ctx;
	struct ingest_limits limits;
	int archive;		      /* an archive of entries, else a single table */
	char table[MESH_NAME_MAX];    /* of a single table */
	enum ingest_format format;    /* of a single table */
	char *upload;		      /* the upload's name */
	char shown[INGEST_SHOWN + 4]; /* the upload's name for messages */
	unsigned char *block;	      /* compressed bytes last read from the source */
	int source_errno;	      /* the source's error, when it failed */
	uint64_t compressed;	      /* bytes read from the source */
	uint64_t total;		      /* decompressed bytes of all entries */
	uint64_t entry_bytes;	      /* decompressed bytes of the current entry */
	uint64_t entry_max;	      /* the limit of the current entry */
	int entry_contract;	      /* the current entry is contract.yaml */
	unsigned entries;
	int started; /* the entry of a single table was handed out */
	int in_entry, entry_eof, done;
	int failed; /* -errno once the upload failed */
	char *name; /* the current entry's name */
	char (*tables)[MESH_NAME_MAX];
	size_t ntables;
	int contract;
	unsigned char peek[INGEST_PEEK];
	size_t peek_len, peek_pos;
	struct mfs_error err;
};

static const char *const compress_ext[] = {".gz", ".bz2", ".xz", ".zst"};
static const char *const archive_ext[] = {
    ".tar",    ".tar.gz", ".tgz",     ".tar.bz2", ".tbz2", ".tbz",
    ".tar.xz", ".txz",	  ".tar.zst", ".tzst",	  ".zip",
};

/* Whether name (len bytes) ends in ext with something before it. */
static int ends_with(const char *name, size_t len, const char *ext)
{
	size_t n = strlen(ext);

	return len > n && !memcmp(name + len - n, ext, n);
}

/* TABLE.csv or TABLE.jsonl in the first len bytes of name: 1 with table and format set. */
static int table_name(const char *name, size_t len, char table[MESH_NAME_MAX],
		      enum ingest_format *format)
{
	static const struct {
		const char *ext;
		enum ingest_format format;
	} kinds[] = {{".csv", INGEST_CSV}, {".jsonl", INGEST_JSONL}};
	char stem[MESH_NAME_MAX];
	size_t i, n;

	for (i = 0; i < ARRAY_SIZE(kinds); i++) {
		if (!ends_with(name, len, kinds[i].ext))
			continue;
		n = len - strlen(kinds[i].ext);
		if (n >= sizeof(stem))
			return 0;
		memcpy(stem, name, n);
		stem[n] = '\0';
		if (!mesh_name_valid(stem))
			return 0;
		if (table)
			memcpy(table, stem, n + 1);
		if (format)
			*format = kinds[i].format;
		return 1;
	}
	return 0;
}

int ingest_name_kind(const char *name, char table[MESH_NAME_MAX], enum ingest_format *format,
		     int *archive)
{
	size_t len = strlen(name), i;

	if (archive)
		*archive = 0;
	if (table)
		table[0] = '\0';
	/* Hidden files are editors' and rsync's temporary files: private until renamed. */
	if (name[0] == '.' || strchr(name, '/'))
		return 0;
	for (i = 0; i < ARRAY_SIZE(archive_ext); i++) {
		if (ends_with(name, len, archive_ext[i])) {
			if (archive)
				*archive = 1;
			return 1;
		}
	}
	if (table_name(name, len, table, format))
		return 1;
	for (i = 0; i < ARRAY_SIZE(compress_ext); i++)
		if (ends_with(name, len, compress_ext[i]) &&
		    table_name(name, len - strlen(compress_ext[i]), table, format))
			return 1;
	return 0;
}

/* Copies a name for a message: cut, control characters shown as '?'. */
static void shown_name(char out[INGEST_SHOWN + 4], const char *name)
{
	size_t i, n = strlen(name);

	if (n > INGEST_SHOWN) {
		n = INGEST_SHOWN;
		while (n && ((unsigned char)name[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++)
		out[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
	snprintf(out + n, INGEST_SHOWN + 4 - n, "%s", n < strlen(name) ? "..." : "");
}

/* "64 GiB", "1 MiB", "1000 bytes". */
static const char *size_text(char out[32], uint64_t n)
{
	if (n && !(n % GiB))
		snprintf(out, 32, "%llu GiB", (unsigned long long)(n / GiB));
	else if (n && !(n % MiB))
		snprintf(out, 32, "%llu MiB", (unsigned long long)(n / MiB));
	else if (n && !(n % KiB))
		snprintf(out, 32, "%llu KiB", (unsigned long long)(n / KiB));
	else
		snprintf(out, 32, "%llu bytes", (unsigned long long)n);
	return out;
}

static int ingest_fail(struct ingest *in, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records why the upload failed, "UPLOAD: ENTRY: why" (no ENTRY for a single table); the first
 * failure sticks. Returns -code. */
static int ingest_fail(struct ingest *in, int code, const char *fmt, ...)
{
	char msg[sizeof(in->err.msg)], entry[INGEST_SHOWN + 4];
	va_list ap;

	assert(code > 0);
	if (in->failed)
		return in->failed;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mfs_error_clear(&in->err);
	if (in->archive && in->name) {
		shown_name(entry, in->name);
		mfs_error_set(&in->err, code, "%s: %s: %s", in->shown, entry, msg);
	} else {
		mfs_error_set(&in->err, code, "%s: %s", in->shown, msg);
	}
	in->failed = -code;
	return -code;
}

/* A failure libarchive reported: the source's own error, or data it could not read. */
static int ingest_archive_fail(struct ingest *in)
{
	const char *why = archive_error_string(in->a);

	if (in->source_errno)
		return ingest_fail(in, in->source_errno, "read error: %s",
				   strerror(in->source_errno));
	if (archive_errno(in->a) == ENOMEM)
		return ingest_fail(in, ENOMEM, "out of memory");
	return ingest_fail(in, EINVAL, "cannot read %s: %s",
			   in->archive ? "the archive" : "the data", why ? why : "corrupt data");
}

static la_ssize_t ingest_source(struct archive *a, void *data, const void **buf)
{
	struct ingest *in = data;
	ssize_t n;

	do
		n = in->read(in->ctx, in->block, INGEST_BLOCK);
	while (n == -EINTR);
	if (n < 0) {
		in->source_errno = (int)-n;
		archive_set_error(a, (int)-n, "%s", strerror((int)-n));
		return ARCHIVE_FATAL;
	}
	assert(n <= INGEST_BLOCK);
	in->compressed += (uint64_t)n;
	*buf = in->block;
	return n;
}

/* Counts n more decompressed bytes of the current entry against the limits. */
static int ingest_account(struct ingest *in, size_t n)
{
	char a[32];

	in->entry_bytes += n;
	in->total += n;
	if (in->entry_bytes > in->entry_max)
		return ingest_fail(in, EFBIG, "more than %s decompressed (the limit %s)",
				   size_text(a, in->entry_max),
				   in->entry_contract ? "of a contract" : "of one table");
	if (in->total > in->limits.max_total_bytes)
		return ingest_fail(in, EFBIG, "the upload decompresses to more than %s (the limit)",
				   size_text(a, in->limits.max_total_bytes));
	if (in->total > INGEST_RATIO_AFTER && in->total / in->limits.max_ratio > in->compressed)
		return ingest_fail(in, EFBIG,
				   "the data expands to more than %u times its compressed size: "
				   "refused as a likely decompression bomb",
				   in->limits.max_ratio);
	return 0;
}

/* Pulls up to len decompressed bytes of the current entry from libarchive. */
static ssize_t ingest_pull(struct ingest *in, void *buf, size_t len)
{
	la_ssize_t n;
	int rc;

	if (in->entry_eof)
		return 0;
	/* One byte past the limit is enough to know it is passed. */
	if (len > in->entry_max - in->entry_bytes + 1)
		len = (size_t)(in->entry_max - in->entry_bytes + 1);
	n = archive_read_data(in->a, buf, len);
	if (n < 0)
		return ingest_archive_fail(in);
	if (!n) {
		/* libarchive takes a failed read where another gzip member could start for the end
		 * of the data: only the source says where the upload ends. */
		if (in->source_errno)
			return ingest_archive_fail(in);
		in->entry_eof = 1;
		return 0;
	}
	rc = ingest_account(in, (size_t)n);
	return rc ? rc : n;
}

ssize_t ingest_read(void *v, void *buf, size_t len)
{
	struct ingest *in = v;
	size_t n;

	if (in->failed)
		return in->failed;
	if (!in->in_entry || !len)
		return 0;
	if (in->peek_pos < in->peek_len) {
		n = in->peek_len - in->peek_pos;
		if (n > len)
			n = len;
		memcpy(buf, in->peek + in->peek_pos, n);
		in->peek_pos += n;
		return (ssize_t)n;
	}
	return ingest_pull(in, buf, len);
}

/* The signature of compressed data or an archive at the start of an entry (n bytes), or NULL. */
static const char *archive_signature(const unsigned char *p, size_t n)
{
	static const struct {
		size_t off, len;
		const char *magic;
		const char *what;
	} sigs[] = {
	    {0, 2, "\x1f\x8b", "gzip"},
	    {0, 6, "\xfd\x37\x7a\x58\x5a\x00", "xz"},
	    {0, 4, "\x28\xb5\x2f\xfd", "zstd"},
	    {0, 4, "\x04\x22\x4d\x18", "lz4"},
	    {0, 4, "PK\x03\x04", "zip"},
	    {0, 4, "PK\x05\x06", "zip"},
	    {0, 6, "7z\xbc\xaf\x27\x1c", "7-Zip"},
	    {257, 6, "ustar\0", "tar"},
	    {257, 8, "ustar  \0", "tar"},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		if (n >= sigs[i].off + sigs[i].len &&
		    !memcmp(p + sigs[i].off, sigs[i].magic, sigs[i].len))
			return sigs[i].what;
	/* "BZh1" to "BZh9", then the magic of a block or of the end of the stream. */
	if (n >= 10 && !memcmp(p, "BZh", 3) && p[3] >= '1' && p[3] <= '9' &&
	    (!memcmp(p + 4, "1AY&SY", 6) || !memcmp(p + 4, "\x17\x72\x45\x38\x50\x90", 6)))
		return "bzip2";
	return NULL;
}

/* Reads the first bytes of the new current entry and refuses compressed data and archives. */
static int ingest_peek(struct ingest *in)
{
	const char *what;
	ssize_t n;

	in->peek_len = in->peek_pos = 0;
	while (in->peek_len < sizeof(in->peek)) {
		n = ingest_pull(in, in->peek + in->peek_len, sizeof(in->peek) - in->peek_len);
		if (n < 0)
			return (int)n;
		if (!n)
			break;
		in->peek_len += (size_t)n;
	}
	what = archive_signature(in->peek, in->peek_len);
	if (!what)
		return 0;
	if (in->archive)
		return ingest_fail(in, EINVAL,
				   "holds %s data: archives and compressed files inside an archive "
				   "are not supported",
				   what);
	return ingest_fail(in, EINVAL,
			   "holds %s data, not a table: name an archive .tar, .tar.gz, .zip and "
			   "so on, and a compressed table TABLE.csv.gz and so on",
			   what);
}

/* Reads what the caller left of the current entry, so that the limits see every byte. */
static void ingest_skip(struct ingest *in)
{
	char buf[16 * 1024];
	ssize_t n;

	do
		n = ingest_read(in, buf, sizeof(buf));
	while (n > 0);
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(in->peek, sizeof(in->peek));
	in->peek_len = in->peek_pos = 0;
	in->in_entry = 0;
}

/* Why an archive path is refused, or NULL: absolute, or with a ".." component. */
static const char *path_refused(const char *path)
{
	const char *p = path, *slash;

	if (path[0] == '/')
		return "an absolute path is not allowed in an archive";
	for (;;) {
		slash = strchr(p, '/');
		if ((slash ? (size_t)(slash - p) : strlen(p)) == 2 && p[0] == '.' && p[1] == '.')
			return "a path with a '..' component is not allowed in an archive";
		if (!slash)
			return NULL;
		p = slash + 1;
	}
}

/* Why an entry that is not a directory is refused, or NULL. */
static const char *type_refused(struct archive_entry *e)
{
	if (archive_entry_hardlink(e))
		return "is a hard link: an archive must hold regular files only";
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		return NULL;
	case AE_IFLNK:
		return "is a symbolic link: an archive must hold regular files only";
	default:
		return "is a device, FIFO or socket: an archive must hold regular files only";
	}
}

/* Sets in->entry_max and the entry's table and format from its name (base: the name without
 * a leading "./"), refusing what an archive may not hold. */
static int ingest_classify(struct ingest *in, const char *base, struct ingest_entry *entry)
{
	char(*tables)[MESH_NAME_MAX];
	size_t i;

	if (!strcmp(base, "contract.yaml")) {
		if (in->contract)
			return ingest_fail(in, EINVAL, "a second contract.yaml");
		in->contract = 1;
		in->entry_contract = 1;
		entry->table[0] = '\0';
		entry->format = INGEST_CONTRACT;
		in->entry_max = in->limits.max_contract_bytes;
		return 0;
	}
	if (!table_name(base, strlen(base), entry->table, &entry->format)) {
		if (strchr(base, '/'))
			return ingest_fail(in, EINVAL,
					   "is not at the top level of the archive "
					   "(directories are not allowed)");
		if (ingest_name_kind(base, NULL, NULL, NULL))
			return ingest_fail(in, EINVAL,
					   "is compressed or an archive: archives and compressed "
					   "files inside an archive are not supported");
		return ingest_fail(in, EINVAL,
				   "is not TABLE.csv, TABLE.jsonl or contract.yaml (TABLE made of "
				   "lowercase letters, digits, '_' and '-')");
	}
	for (i = 0; i < in->ntables; i++)
		if (!strcmp(in->tables[i], entry->table))
			return ingest_fail(in, EINVAL, "table %s is in the archive twice",
					   entry->table);
	tables = reallocarray(in->tables, in->ntables + 1, sizeof(*in->tables));
	if (!tables)
		return ingest_fail(in, ENOMEM, "out of memory");
	in->tables = tables;
	memcpy(in->tables[in->ntables++], entry->table, MESH_NAME_MAX);
	in->entry_max = in->limits.max_entry_bytes;
	return 0;
}

/* Moves to the next regular file of an archive: 1, 0 after the last, or -errno. */
static int ingest_next_member(struct ingest *in, struct ingest_entry *entry)
{
	struct archive_entry *e;
	const char *path, *why, *base;
	char a[32];
	int rc;

	for (;;) {
		free(in->name);
		in->name = NULL;
		rc = archive_read_next_header(in->a, &e);
		if (rc == ARCHIVE_EOF)
			return 0;
		if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
			return ingest_archive_fail(in);
		path = archive_entry_pathname_utf8(e);
		if (!path)
			path = archive_entry_pathname(e);
		if (!path)
			return ingest_fail(in, EINVAL, "an entry's name cannot be read");
		in->name = strdup(path);
		if (!in->name)
			return ingest_fail(in, ENOMEM, "out of memory");
		if (++in->entries > in->limits.max_entries)
			return ingest_fail(in, EFBIG, "more than %u entries in the archive",
					   in->limits.max_entries);
		why = path_refused(path);
		if (why)
			return ingest_fail(in, EINVAL, "%s", why);
		if (archive_entry_filetype(e) == AE_IFDIR && !archive_entry_hardlink(e))
			continue;
		why = type_refused(e);
		if (why)
			return ingest_fail(in, EINVAL, "%s", why);
		if (archive_entry_is_encrypted(e))
			return ingest_fail(in, EINVAL, "is encrypted, which is not supported");
		for (base = in->name; base[0] == '.' && base[1] == '/';)
			base += 2;
		rc = ingest_classify(in, base, entry);
		if (rc)
			return rc;
		if (archive_entry_size_is_set(e) && (uint64_t)archive_entry_size(e) > in->entry_max)
			return ingest_fail(
			    in, EFBIG, "larger than %s (the limit %s)", size_text(a, in->entry_max),
			    entry->format == INGEST_CONTRACT ? "of a contract" : "of one table");
		entry->name = in->name;
		return 1;
	}
}

/* The one entry of a single table: 1, or 0 once it was handed out, or -errno. */
static int ingest_next_single(struct ingest *in, struct ingest_entry *entry)
{
	struct archive_entry *e;
	int rc;

	if (in->started)
		return 0;
	in->started = 1;
	/* The "empty" format answers an upload of no bytes with the end at once. */
	rc = archive_read_next_header(in->a, &e);
	if (rc == ARCHIVE_EOF)
		in->entry_eof = 1;
	else if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
		return ingest_archive_fail(in);
	entry->name = in->upload;
	memcpy(entry->table, in->table, sizeof(entry->table));
	entry->format = in->format;
	in->entry_max = in->limits.max_entry_bytes;
	return 1;
}

int ingest_next(struct ingest *in, struct ingest_entry *entry, struct mfs_error *err)
{
	int rc;

	if (in->in_entry)
		ingest_skip(in);
	if (in->failed)
		goto out;
	if (in->done)
		return 0;
	in->entry_bytes = 0;
	in->entry_eof = 0;
	in->entry_contract = 0;
	rc = in->archive ? ingest_next_member(in, entry) : ingest_next_single(in, entry);
	if (!rc && in->source_errno)
		rc = ingest_archive_fail(in);
	if (rc > 0) {
		in->in_entry = 1;
		rc = ingest_peek(in);
		if (!rc)
			return 1;
	}
	if (!rc) {
		in->done = 1;
		return 0;
	}
out:
	assert(in->failed);
	in->in_entry = 0;
	return mfs_error_set(err, -in->failed, "%s", in->err.msg);
}

const char *ingest_error(const struct ingest *in)
{
	return in->err.msg;
}

/* Builds the libarchive reader: the filters, and the formats an upload of this kind may be. */
static int ingest_setup(struct ingest *in)
{
	static const struct {
		int (*support)(struct archive *);
		const char *name;
	} filters[] = {
	    {archive_read_support_filter_gzip, "gzip"},
	    {archive_read_support_filter_bzip2, "bzip2"},
	    {archive_read_support_filter_xz, "xz"},
	    {archive_read_support_filter_zstd, "zstd"},
	};
	size_t i;
	int rc;

	for (i = 0; i < ARRAY_SIZE(filters); i++) {
		rc = filters[i].support(in->a);
		if (rc != ARCHIVE_OK)
			return ingest_fail(in, ENOTSUP,
					   "this libarchive cannot decompress %s by itself",
					   filters[i].name);
	}
	if (in->archive) {
		if (archive_read_support_format_tar(in->a) != ARCHIVE_OK ||
		    archive_read_support_format_zip_streamable(in->a) != ARCHIVE_OK)
			return ingest_archive_fail(in);
	} else {
		if (archive_read_support_format_raw(in->a) != ARCHIVE_OK ||
		    archive_read_support_format_empty(in->a) != ARCHIVE_OK)
			return ingest_archive_fail(in);
	}
	if (archive_read_open2(in->a, in, NULL, ingest_source, NULL, NULL) != ARCHIVE_OK)
		return ingest_archive_fail(in);
	return 0;
}

int ingest_open(struct ingest **out, const char *name, csv_source_fn read, void *ctx,
		const struct ingest_limits *limits, struct mfs_error *err)
{
	struct ingest *in;
	int rc;

	*out = NULL;
	in = calloc(1, sizeof(*in));
	if (!in)
		return mfs_error_set(err, ENOMEM, "out of memory");
	in->read = read;
	in->ctx = ctx;
	shown_name(in->shown, name);
	if (limits)
		in->limits = *limits;
	if (!in->limits.max_entry_bytes)
		in->limits.max_entry_bytes = INGEST_DEFAULT_ENTRY;
	if (!in->limits.max_total_bytes)
		in->limits.max_total_bytes = INGEST_DEFAULT_TOTAL;
	if (!in->limits.max_entries)
		in->limits.max_entries = INGEST_DEFAULT_COUNT;
	if (!in->limits.max_ratio)
		in->limits.max_ratio = INGEST_DEFAULT_RATIO;
	if (!in->limits.max_contract_bytes)
		in->limits.max_contract_bytes = INGEST_DEFAULT_YAML;
	if (!ingest_name_kind(name, in->table, &in->format, &in->archive)) {
		rc = ingest_fail(in, EINVAL,
				 "not a name that publishes: TABLE.csv or TABLE.jsonl (optionally "
				 "compressed: .gz, .bz2, .xz, .zst) or an archive (.tar, .tar.gz, "
				 ".tgz, .tar.bz2, .tar.xz, .tar.zst, .zip)");
		goto out;
	}
	in->upload = strdup(name);
	in->block = malloc(INGEST_BLOCK);
	in->a = archive_read_new();
	if (!in->upload || !in->block || !in->a) {
		rc = ingest_fail(in, ENOMEM, "out of memory");
		goto out;
	}
	rc = ingest_setup(in);
	if (rc)
		goto out;
	*out = in;
	return 0;
out:
	mfs_error_set(err, rc, "%s", in->err.msg);
	ingest_close(in);
	return rc;
}

void ingest_close(struct ingest *in)
{
	if (!in)
		return;
	if (in->a)
		archive_read_free(in->a);
	if (in->block) {
		sodium_memzero(in->block, INGEST_BLOCK);
		free(in->block);
	}
	sodium_memzero(in->peek, sizeof(in->peek));
	free(in->upload);
	free(in->name);
	free(in->tables);
	free(in);
}
