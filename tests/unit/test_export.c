#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/mask.h"
#include "common/strbuf.h"
#include "mesh/export.h"
#include "mesh/publish.h"
#include "tests/unit/helpers.h"

#define NOW_V1 1700000000
#define NOW_V2 1700003600

static const char contract_yaml[] = "apiVersion: v3.0.2\n"
				    "kind: DataContract\n"
				    "id: urn:test:crm:people\n"
				    "version: 1.0.0\n"
				    "domain: crm\n"
				    "dataProduct: people\n"
				    "schema:\n"
				    "  - name: people\n"
				    "    physicalType: table\n"
				    "    properties:\n"
				    "      - name: id\n"
				    "        logicalType: integer\n"
				    "        primaryKey: true\n"
				    "      - name: name\n"
				    "        logicalType: string\n"
				    "        classification: pii\n"
				    "        customProperties:\n"
				    "          - property: mask\n"
				    "            value: redact\n"
				    "      - name: email\n"
				    "        logicalType: string\n"
				    "        classification: pii\n"
				    "      - name: country\n"
				    "        logicalType: string\n"
				    "  - name: countries\n"
				    "    physicalType: table\n"
				    "    properties:\n"
				    "      - name: code\n"
				    "        logicalType: string\n"
				    "      - name: label\n"
				    "        logicalType: string\n";

static const char people_v1[] = "id,name,email,country\n"
				"1,\"Smith, Anna\",anna@example.com,DE\n"
				"2,Ben Jansen,ben@example.com,NL\n"
				"3,Chloé Rossi,anna@example.com,IT\n";
static const char people_v2[] = "id,name,email,country\n"
				"4,Dariusz Nowak,dariusz@example.com,PL\n";
static const char countries[] = "code,label\n"
				"DE,Germany\n"
				"NL,\"Netherlands, the\"\n";

struct fixture {
	char dir[64];
	char mesh_dir[96];
	struct mesh m;
	struct principal admin;	 /* the mesh admin: plain views */
	struct principal reader; /* read on the product only: masked views */
	struct principal nobody; /* no right at all */
	uint8_t mask_key[MASK_KEY_BYTES];
};

static void publish(struct fixture *f, const char *table, const char *csv, const char *now)
{
	struct mem_source src = {.data = csv, .len = strlen(csv)};
	struct publish_result res;
	struct mfs_error err = {{0}};
	char upload[MESH_NAME_MAX + 4];

	snprintf(upload, sizeof(upload), "%s.csv", table);
	setenv("MESHFS_NOW", now, 1);
	assert_int_equal(publish_upload(&f->m, &f->admin, "crm", "people", upload, NULL, mem_read,
					&src, &res, &err),
			 0);
}

static void fake_principal(struct principal *p, uid_t uid, const char *name)
{
	memset(p, 0, sizeof(*p));
	p->uid = uid;
	p->gid = uid;
	snprintf(p->name, sizeof(p->name), "%s", name);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct mfs_error err = {{0}};

	assert_non_null(f);
	strcpy(f->dir, "/tmp/meshfs-test-export-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->mesh_dir, sizeof(f->mesh_dir), "%s/mesh", f->dir);
	umask(022);
	assert_int_equal(principal_init(&f->admin, getuid(), getgid()), 0);
	fake_principal(&f->reader, 54321, "export-test-reader");
	fake_principal(&f->nobody, 54322, "export-test-nobody");
	assert_int_equal(mesh_create(f->mesh_dir, f->admin.name, NULL, NULL, &err), 0);
	assert_int_equal(mesh_open(&f->m, f->mesh_dir, NULL, &err), 0);
	assert_int_equal(catalog_team_create(f->m.cat, "owners"), 0);
	assert_int_equal(mesh_domain_create(&f->m, "crm", "owners", NULL, &err), 0);
	assert_int_equal(mesh_product_create(&f->m, "crm", "people", contract_yaml,
					     strlen(contract_yaml), "people.yaml", f->admin.name,
					     &err),
			 0);
	assert_int_equal(catalog_grant(f->m.cat, "read", "crm/people", "user:export-test-reader",
				       f->admin.name, NOW_V1),
			 0);
	publish(f, "people", people_v1, "1700000000");
	publish(f, "countries", countries, "1700000000");
	publish(f, "people", people_v2, "1700003600");
	unsetenv("MESHFS_NOW");
	assert_int_equal(keyring_mask_key(f->m.keys, f->mask_key), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	mesh_close(&f->m);
	principal_release(&f->admin);
	remove_tree(f->dir);
	free(f);
	return 0;
}

/* What an archive holds, read back with libarchive. */
struct entry {
	char name[64];
	struct strbuf data;
	int64_t mtime;
};

struct unpacked {
	struct entry e[8];
	size_t n;
	int filter; /* ARCHIVE_FILTER_* of the outermost filter */
	int format; /* ARCHIVE_FORMAT_* family */
};

static void unpack(const char *path, struct unpacked *u)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	char buf[4096];
	la_ssize_t n;

	memset(u, 0, sizeof(*u));
	assert_non_null(a);
	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	assert_int_equal(archive_read_open_filename(a, path, 10240), ARCHIVE_OK);
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		struct entry *e = &u->e[u->n++];

		assert_true(u->n <= 8);
		snprintf(e->name, sizeof(e->name), "%s", archive_entry_pathname(ae));
		e->mtime = archive_entry_mtime(ae);
		strbuf_init(&e->data);
		while ((n = archive_read_data(a, buf, sizeof(buf))) > 0)
			assert_int_equal(strbuf_add(&e->data, buf, (size_t)n), 0);
		assert_int_equal(n, 0);
		u->filter = archive_filter_code(a, 0);
		u->format = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;
	}
	assert_int_equal(archive_read_free(a), ARCHIVE_OK);
}

static void unpacked_release(struct unpacked *u)
{
	for (size_t i = 0; i < u->n; i++)
		strbuf_release(&u->e[i].data);
}

static const struct entry *find(const struct unpacked *u, const char *name)
{
	for (size_t i = 0; i < u->n; i++)
		if (!strcmp(u->e[i].name, name))
			return &u->e[i];
	fail_msg("no entry %s in the archive", name);
	return NULL;
}

static void assert_entry(const struct unpacked *u, const char *name, const char *want,
			 int64_t mtime)
{
	const struct entry *e = find(u, name);

	assert_int_equal(e->data.len, strlen(want));
	assert_memory_equal(e->data.buf, want, e->data.len);
	assert_int_equal(e->mtime, mtime);
}

static void path_in(const struct fixture *f, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", f->dir, name);
}

static int exists(const char *path)
{
	struct stat sb;

	return !lstat(path, &sb);
}

static int export_plain_count(const struct catalog_audit *a, void *ctx)
{
	if (!strcmp(a->action, "export")) {
		assert_string_equal(a->view, "plain");
		assert_string_equal(a->object, "crm/people");
		(*(int *)ctx)++;
	}
	return 0;
}

static int audit_exports(struct fixture *f)
{
	int n = 0;

	assert_int_equal(catalog_audit_list(f->m.cat, 0, NULL, export_plain_count, &n), 0);
	return n;
}

static void test_format_of(void **state)
{
	static const struct {
		const char *file;
		int ok;
		enum export_format format;
	} cases[] = {
	    {"a.tar", 1, EXPORT_TAR},	   {"dir/a.tar.gz", 1, EXPORT_TAR_GZ},
	    {"a.TGZ", 1, EXPORT_TAR_GZ},   {"a.tar.bz2", 1, EXPORT_TAR_BZ2},
	    {"a.tbz2", 1, EXPORT_TAR_BZ2}, {"a.tar.xz", 1, EXPORT_TAR_XZ},
	    {"a.txz", 1, EXPORT_TAR_XZ},   {"a.tar.zst", 1, EXPORT_TAR_ZST},
	    {"a.tzst", 1, EXPORT_TAR_ZST}, {"a.zip", 1, EXPORT_ZIP},
	    {"a.gz", 0, EXPORT_TAR},	   {"a.csv", 0, EXPORT_TAR},
	    {"a", 0, EXPORT_TAR},	   {".tar", 0, EXPORT_TAR},
	    {"dir/.zip", 0, EXPORT_TAR},   {"a.tar.7z", 0, EXPORT_TAR},
	};
	enum export_format got;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = export_format_of(cases[i].file, &got);

		if (!cases[i].ok) {
			assert_int_equal(rc, -EINVAL);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(got, cases[i].format);
	}
}

/* The admin's export: plaintext, every format, the latest version by default. */
static void test_plain_every_format(void **state)
{
	static const struct {
		const char *name;
		int filter, format;
	} cases[] = {
	    {"out.tar", ARCHIVE_FILTER_NONE, ARCHIVE_FORMAT_TAR},
	    {"out.tar.gz", ARCHIVE_FILTER_GZIP, ARCHIVE_FORMAT_TAR},
	    {"out.tgz", ARCHIVE_FILTER_GZIP, ARCHIVE_FORMAT_TAR},
	    {"out.tar.bz2", ARCHIVE_FILTER_BZIP2, ARCHIVE_FORMAT_TAR},
	    {"out.tar.xz", ARCHIVE_FILTER_XZ, ARCHIVE_FORMAT_TAR},
	    {"out.tar.zst", ARCHIVE_FILTER_ZSTD, ARCHIVE_FORMAT_TAR},
	    {"out.zip", ARCHIVE_FILTER_NONE, ARCHIVE_FORMAT_ZIP},
	};
	struct fixture *f = *state;
	struct export_result res;
	struct mfs_error err = {{0}};
	struct unpacked u;
	char path[160], tmp[170];
	struct stat sb;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		path_in(f, cases[i].name, path, sizeof(path));
		assert_int_equal(
		    export_product(&f->m, &f->admin, "crm", "people", 0, path, &res, &err), 0);
		assert_int_equal(res.version, 3);
		assert_int_equal(res.ntables, 2);
		assert_int_equal(res.nplain, 1);
		assert_int_equal(res.mtime, NOW_V2);
		assert_int_equal(res.bytes, strlen(people_v2) + strlen(countries));
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		assert_false(exists(tmp));
		/* plaintext PII: for the owner's eyes only */
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
		unpack(path, &u);
		assert_int_equal(u.n, 3);
		assert_int_equal(u.filter, cases[i].filter);
		assert_int_equal(u.format, cases[i].format);
		assert_string_equal(u.e[0].name, "contract.yaml");
		assert_entry(&u, "contract.yaml", contract_yaml, NOW_V2);
		assert_entry(&u, "people.csv", people_v2, NOW_V2);
		assert_entry(&u, "countries.csv", countries, NOW_V2);
		unpacked_release(&u);
	}
	assert_int_equal(audit_exports(f), (int)(sizeof(cases) / sizeof(cases[0])));
}

/* The masked view, exactly: redact and token masks, computed here with the mesh's mask key. */
static void test_masked_for_reader(void **state)
{
	struct fixture *f = *state;
	struct export_result res;
	struct mfs_error err = {{0}};
	struct strbuf want, anna, ben;
	struct unpacked u;
	char path[160];
	struct stat sb;

	strbuf_init(&want);
	strbuf_init(&anna);
	strbuf_init(&ben);
	assert_int_equal(mask_apply(MASK_TOKEN, f->mask_key, "anna@example.com", 16, &anna), 0);
	assert_int_equal(mask_apply(MASK_TOKEN, f->mask_key, "ben@example.com", 15, &ben), 0);
	assert_int_equal(strbuf_addf(&want,
				     "id,name,email,country\n"
				     "1,REDACTED,%s,DE\n"
				     "2,REDACTED,%s,NL\n"
				     "3,REDACTED,%s,IT\n",
				     anna.buf, ben.buf, anna.buf),
			 0);
	path_in(f, "masked-v1.tar.gz", path, sizeof(path));
	assert_int_equal(export_product(&f->m, &f->reader, "crm", "people", 1, path, &res, &err),
			 0);
	assert_int_equal(res.version, 1);
	assert_int_equal(res.nplain, 0);
	assert_int_equal(res.ntables, 1); /* countries came with version 2 */
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	unpack(path, &u);
	assert_int_equal(u.n, 2);
	assert_entry(&u, "people.csv", want.buf, NOW_V1);
	assert_null(strstr(find(&u, "people.csv")->data.buf, "@"));
	unpacked_release(&u);
	/* a masked export is no plaintext access: no audit row */
	assert_int_equal(audit_exports(f), 0);
	strbuf_release(&want);
	strbuf_release(&anna);
	strbuf_release(&ben);
}

static void test_version_choice(void **state)
{
	struct fixture *f = *state;
	struct export_result res;
	struct mfs_error err = {{0}};
	struct unpacked u;
	char path[160];

	path_in(f, "v2.zip", path, sizeof(path));
	assert_int_equal(export_product(&f->m, &f->admin, "crm", "people", 2, path, &res, &err), 0);
	assert_int_equal(res.version, 2);
	unpack(path, &u);
	/* version 2 published countries; people carried over from version 1 */
	assert_entry(&u, "people.csv", people_v1, NOW_V1);
	assert_entry(&u, "countries.csv", countries, NOW_V1);
	unpacked_release(&u);

	path_in(f, "v9.tar", path, sizeof(path));
	assert_int_equal(export_product(&f->m, &f->admin, "crm", "people", 9, path, &res, &err),
			 -ENOENT);
	assert_non_null(strstr(err.msg, "no version 9"));
	assert_false(exists(path));
	mfs_error_clear(&err);
	assert_int_equal(export_product(&f->m, &f->admin, "crm", "nothing", 0, path, &res, &err),
			 -ENOENT);
	assert_false(exists(path));
}

static void test_refusals(void **state)
{
	struct fixture *f = *state;
	struct export_result res;
	struct mfs_error err = {{0}};
	char path[160], tmp[170];

	path_in(f, "denied.tar", path, sizeof(path));
	assert_int_equal(export_product(&f->m, &f->nobody, "crm", "people", 0, path, &res, &err),
			 -EACCES);
	assert_non_null(strstr(err.msg, "export-test-nobody"));
	assert_false(exists(path));

	mfs_error_clear(&err);
	path_in(f, "out.rar", path, sizeof(path));
	assert_int_equal(export_product(&f->m, &f->admin, "crm", "people", 0, path, &res, &err),
			 -EINVAL);
	assert_false(exists(path));

	/* plaintext must not come to rest in the mesh, whatever the path looks like */
	mfs_error_clear(&err);
	snprintf(path, sizeof(path), "%s/mesh/../mesh/store/x.tar", f->dir);
	assert_int_equal(export_product(&f->m, &f->admin, "crm", "people", 0, path, &res, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "inside the mesh"));
	assert_false(exists(path));

	/* a failed write leaves neither the file nor its temporary */
	mfs_error_clear(&err);
	path_in(f, "no-such-dir/out.tar", path, sizeof(path));
	assert_int_equal(export_product(&f->m, &f->admin, "crm", "people", 0, path, &res, &err),
			 -ENOENT);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_false(exists(tmp));
}

/* A leftover FILE.tmp, even one others may read, never receives the plaintext. */
static void test_stale_tmp(void **state)
{
	struct fixture *f = *state;
	struct export_result res;
	struct mfs_error err = {{0}};
	char path[160], tmp[170];
	struct stat sb;
	int fd;

	path_in(f, "stale.tar", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
	assert_int_equal(export_product(&f->m, &f->admin, "crm", "people", 0, path, &res, &err), 0);
	assert_false(exists(tmp));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

/* Flips one bit in the ciphertext of the first sealed chunk of the latest people segment. */
static void tamper(struct fixture *f)
{
	struct catalog_product p;
	struct catalog_version v;
	const struct catalog_table_version *t = NULL;
	char path[256];
	unsigned char byte;
	off_t off;
	int fd;

	assert_int_equal(catalog_product_get(f->m.cat, "crm", "people", &p), 0);
	assert_int_equal(catalog_version_get(f->m.cat, p.id, 0, &v), 0);
	for (size_t i = 0; i < v.ntables; i++)
		if (!strcmp(v.tables[i].name, "people"))
			t = &v.tables[i];
	assert_non_null(t);
	snprintf(path, sizeof(path), "%s/store/%.2s/%s", f->mesh_dir, t->segment, t->segment + 2);
	/* one group: file header (24 bytes), the masked view, then the first chunk, whose
	 * ciphertext starts after its format byte, key id and nonce */
	off = 24 + (off_t)t->masked_size + 1 + 4 + 24 + 3;
	chmod(path, 0600);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &byte, 1, off), 1);
	byte ^= 1;
	assert_int_equal(pwrite(fd, &byte, 1, off), 1);
	close(fd);
	catalog_version_release(&v);
	catalog_product_release(&p);
}

static void test_tampered_is_eio(void **state)
{
	struct fixture *f = *state;
	struct export_result res;
	struct mfs_error err = {{0}};
	char path[160], tmp[170];

	tamper(f);
	path_in(f, "tampered.tar", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(export_product(&f->m, &f->admin, "crm", "people", 0, path, &res, &err),
			 -EIO);
	assert_non_null(strstr(err.msg, "sealed chunk"));
	assert_false(exists(path));
	assert_false(exists(tmp));
	/* the failed plaintext export is in the audit table too */
	assert_int_equal(audit_exports(f), 1);
	/* the masked view needs no chunk: still whole */
	mfs_error_clear(&err);
	assert_int_equal(export_product(&f->m, &f->reader, "crm", "people", 0, path, &res, &err),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format_of),
	    cmocka_unit_test_setup_teardown(test_plain_every_format, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_masked_for_reader, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_version_choice, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_tmp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tampered_is_eio, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
