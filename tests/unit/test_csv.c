/* Unit tests of the CSV reader and csv_field_append. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table/csv.h"
#include "tests/unit/helpers.h"

/*
 * Reads all of data with reads of at most step bytes (0: as much as asked) and describes what
 * was read: one line per record, each field as [line:col q? len:bytes], then the outcome ("end"
 * or "error RC MESSAGE").
 */
static char *parse_all(const char *data, size_t len, size_t step, const struct csv_limits *lim)
{
	struct mem_source m = {.data = data, .len = len, .step = step};
	struct csv_reader r;
	struct csv_field *f;
	struct mfs_error err;
	struct strbuf out;
	size_t n, i;
	int rc;

	strbuf_init(&out);
	mfs_error_clear(&err);
	csv_reader_init(&r, mem_read, &m, "t.csv", lim);
	while ((rc = csv_reader_next(&r, &f, &n, &err)) == 1) {
		assert_true(n >= 1);
		strbuf_addf(&out, "@%lu", csv_reader_record_line(&r));
		for (i = 0; i < n; i++) {
			/* Field data is NUL-terminated. */
			assert_int_equal(f[i].data[f[i].len], '\0');
			strbuf_addf(&out, "[%lu:%lu%s %zu:", f[i].line, f[i].col,
				    f[i].quoted ? " q" : "", f[i].len);
			strbuf_add(&out, f[i].data, f[i].len);
			strbuf_addch(&out, ']');
		}
		strbuf_addch(&out, '\n');
	}
	if (rc == 0)
		strbuf_addstr(&out, "end");
	else
		strbuf_addf(&out, "error %d %s", rc, err.msg);
	csv_reader_release(&r);
	return strbuf_detach(&out, NULL);
}

/* Parses with every read size from 1 to 9 and in one go: all must agree; returns the result. */
static char *parse_steps(const char *data, size_t len, const struct csv_limits *lim)
{
	char *whole = parse_all(data, len, 0, lim), *part;
	size_t step;

	for (step = 1; step < 10; step++) {
		part = parse_all(data, len, step, lim);
		assert_string_equal(part, whole);
		free(part);
	}
	return whole;
}

static void expect_parse(const char *data, size_t len, const struct csv_limits *lim,
			 const char *want)
{
	char *got = parse_steps(data, len, lim);

	assert_string_equal(got, want);
	free(got);
}

#define EXPECT(data, want) expect_parse(data, sizeof(data) - 1, NULL, want)

static void test_simple(void **state)
{
	EXPECT("a,b,c\n1,22,333\n", "@1[1:1 1:a][1:3 1:b][1:5 1:c]\n"
				    "@2[2:1 1:1][2:3 2:22][2:6 3:333]\n"
				    "end");
	EXPECT("", "end");
}

static void test_quoting(void **state)
{
	EXPECT("a,\"b,c\",\"d\"\"e\",\"\",\n",
	       "@1[1:1 1:a][1:3 q 3:b,c][1:9 q 3:d\"e][1:16 q 0:][1:19 0:]\n"
	       "end");
	/* A quote in the middle of a quoted field's data must be doubled; "" alone is a quote. */
	EXPECT("\"\"\"\"\n", "@1[1:1 q 1:\"]\nend");
	/* Spaces are data. */
	EXPECT(" a , b \n", "@1[1:1 3: a ][1:5 3: b ]\nend");
}

static void test_crlf(void **state)
{
	EXPECT("a,b\r\nc,d\r\n", "@1[1:1 1:a][1:3 1:b]\n@2[2:1 1:c][2:3 1:d]\nend");
	EXPECT("\"a\"\r\n\"b\"\r\n", "@1[1:1 q 1:a]\n@2[2:1 q 1:b]\nend");
	/* A CR right before the end of input ends the record. */
	EXPECT("a,b\r", "@1[1:1 1:a][1:3 1:b]\nend");
	/* CRLF inside quotes is data. */
	EXPECT("\"x\r\ny\",z\r\n", "@1[1:1 q 4:x\r\ny][2:4 1:z]\nend");
}

static void test_embedded_newlines(void **state)
{
	EXPECT("id,text\n1,\"line one\nline two\n\"\n2,x\n",
	       "@1[1:1 2:id][1:4 4:text]\n"
	       "@2[2:1 1:1][2:3 q 18:line one\nline two\n]\n"
	       "@5[5:1 1:2][5:3 1:x]\n"
	       "end");
}

static void test_blank_and_final(void **state)
{
	/* A blank line is a record of one empty field. */
	EXPECT("a\n\nb\n", "@1[1:1 1:a]\n@2[2:1 0:]\n@3[3:1 1:b]\nend");
	/* A final record without a line ending is a record. */
	EXPECT("a,b\nc,d", "@1[1:1 1:a][1:3 1:b]\n@2[2:1 1:c][2:3 1:d]\nend");
	EXPECT("a,\"b\"", "@1[1:1 1:a][1:3 q 1:b]\nend");
	EXPECT("a,", "@1[1:1 1:a][1:3 0:]\nend");
	EXPECT("\n", "@1[1:1 0:]\nend");
}

static void test_errors(void **state)
{
	EXPECT("a,b\nc,d\"e\n", "@1[1:1 1:a][1:3 1:b]\n"
				"error -22 t.csv:2:4: quote inside an unquoted field");
	EXPECT("a,\"bc\nd\n", "error -22 t.csv:1:3: quoted field not terminated");
	EXPECT("x\n\"ab\"c,d\n", "@1[1:1 1:x]\nerror -22 t.csv:2:5: text after a closing quote");
	EXPECT("\"ab\" ,d\n", "error -22 t.csv:1:5: text after a closing quote");
	EXPECT("\"ab\"\rx\n", "error -22 t.csv:1:5: text after a closing quote");
	EXPECT("a,b\rc\n", "error -22 t.csv:1:4: carriage return not followed by a line feed in an "
			   "unquoted field");
	expect_parse("a,b\0c\n", 6, NULL, "error -22 t.csv:1:4: NUL byte");
	expect_parse("\"a\nbc\0\"\n", 8, NULL, "error -22 t.csv:2:3: NUL byte");
}

static void test_limits(void **state)
{
	struct csv_limits lim = {.max_field = 3, .max_fields = 2};

	expect_parse("abc,ab\n", 7, &lim, "@1[1:1 3:abc][1:5 2:ab]\nend");
	expect_parse("abc,abcd\n", 9, &lim, "error -22 t.csv:1:5: field longer than 3 bytes");
	/* Quoted: the limit counts the value, not the quotes; "" counts once. */
	expect_parse("\"a\"\"b\"\n", 7, &lim, "@1[1:1 q 3:a\"b]\nend");
	expect_parse("x\n\"abcd\"\n", 9, &lim,
		     "@1[1:1 1:x]\n"
		     "error -22 t.csv:2:1: field longer than 3 bytes");
	expect_parse("a,b,c\n", 6, &lim, "error -22 t.csv:1:5: more than 2 fields in a record");
	/* 0 in a limit means the default. */
	lim.max_field = 0;
	expect_parse("abcdefgh,i\n", 11, &lim, "@1[1:1 8:abcdefgh][1:10 1:i]\nend");
}

static void test_bom(void **state)
{
	EXPECT("\xef\xbb\xbf"
	       "a,b\n",
	       "@1[1:1 1:a][1:3 1:b]\nend");
	EXPECT("\xef\xbb\xbf", "end");
	EXPECT("\xef\xbb\xbf\"q\"\n", "@1[1:1 q 1:q]\nend");
	/* Only at the very start. */
	EXPECT("a\n\xef\xbb\xbf"
	       "b\n",
	       "@1[1:1 1:a]\n@2[2:1 4:\xef\xbb\xbf"
	       "b]\nend");
	/* Shorter than a mark: not UTF-8. */
	EXPECT("\xef\xbb", "error -22 t.csv:1:1: not valid UTF-8 text");
}

static void test_utf8(void **state)
{
	EXPECT("caf\xc3\xa9,\xe2\x82\xac,\xf0\x9f\x98\x80\n",
	       "@1[1:1 5:caf\xc3\xa9][1:7 3:\xe2\x82\xac][1:11 4:\xf0\x9f\x98\x80]\nend");
	EXPECT("ok\ncaf\xe9\n", "@1[1:1 2:ok]\nerror -22 t.csv:2:1: not valid UTF-8 text");
	EXPECT("a,\xc0\xaf\n", "error -22 t.csv:1:3: not valid UTF-8 text");	     /* overlong */
	EXPECT("a,\xed\xa0\x80\n", "error -22 t.csv:1:3: not valid UTF-8 text");     /* surrogate */
	EXPECT("a,\xf4\x90\x80\x80\n", "error -22 t.csv:1:3: not valid UTF-8 text"); /* > 10FFFF */
}

/* A long input crossing input buffer refills, with a field larger than the input buffer. */
static void test_large(void **state)
{
	struct strbuf in, want;
	char *got, *part;
	size_t i, big = 300 * 1024;

	strbuf_init(&in);
	strbuf_init(&want);
	strbuf_addstr(&in, "id,v\n");
	for (i = 0; i < 40000; i++)
		strbuf_addf(&in, "%zu,\"x,%zu\"\"y\"\r\n", i, i);
	strbuf_addstr(&in, "big,\"");
	for (i = 0; i < big; i++)
		strbuf_addch(&in, i % 1000 == 999 ? '\n' : 'z');
	strbuf_addstr(&in, "\"\nlast,1");

	got = parse_all(in.buf, in.len, 0, NULL);
	part = parse_all(in.buf, in.len, 4093, NULL);
	assert_string_equal(got, part);
	free(part);
	part = parse_all(in.buf, in.len, 1, NULL);
	assert_string_equal(got, part);
	free(part);

	strbuf_addstr(&want, "@1[1:1 2:id][1:4 1:v]\n");
	for (i = 0; i < 40000; i++) {
		strbuf_addf(&want, "@%zu[%zu:1 %d:%zu][%zu:%d q %d:x,%zu\"y]\n", i + 2, i + 2,
			    snprintf(NULL, 0, "%zu", i), i, i + 2, snprintf(NULL, 0, "%zu", i) + 2,
			    snprintf(NULL, 0, "%zu", i) + 4, i);
	}
	strbuf_addf(&want, "@40002[40002:1 3:big][40002:5 q %zu:", big);
	for (i = 0; i < big; i++)
		strbuf_addch(&want, i % 1000 == 999 ? '\n' : 'z');
	strbuf_addf(&want, "]\n@%zu[%zu:1 4:last][%zu:6 1:1]\nend", 40002 + big / 1000 + 1,
		    40002 + big / 1000 + 1, 40002 + big / 1000 + 1);
	assert_string_equal(got, want.buf);
	free(got);
	strbuf_release(&in);
	strbuf_release(&want);
}

static void test_source_error(void **state)
{
	struct mem_source m = {.data = "a,b\nc,d\n", .len = 8, .step = 4, .fail_at = 2};
	struct csv_reader r;
	struct csv_field *f;
	struct mfs_error err;
	size_t n;

	mfs_error_clear(&err);
	csv_reader_init(&r, mem_read, &m, "t.csv", NULL);
	assert_int_equal(csv_reader_next(&r, &f, &n, &err), 1);
	assert_int_equal(n, 2);
	assert_string_equal(f[1].data, "b");
	assert_int_equal(csv_reader_next(&r, &f, &n, &err), -EIO);
	assert_non_null(strstr(err.msg, "t.csv: read error"));
	csv_reader_release(&r);
}

static void check_append(const char *value, size_t len, const char *want)
{
	struct mem_source m;
	struct csv_reader r;
	struct csv_field *f;
	struct strbuf sb;
	size_t n;

	strbuf_init(&sb);
	strbuf_addstr(&sb, "x,");
	assert_int_equal(csv_field_append(&sb, value, len), 0);
	assert_string_equal(sb.buf + 2, want);
	/* What it writes reads back as the value. */
	strbuf_addstr(&sb, "\n");
	m = (struct mem_source){.data = sb.buf, .len = sb.len};
	csv_reader_init(&r, mem_read, &m, "t.csv", NULL);
	assert_int_equal(csv_reader_next(&r, &f, &n, NULL), 1);
	assert_int_equal(n, 2);
	assert_int_equal(f[1].len, len);
	assert_memory_equal(f[1].data, value, len);
	assert_int_equal(csv_reader_next(&r, &f, &n, NULL), 0);
	csv_reader_release(&r);
	strbuf_release(&sb);
}

static void test_field_append(void **state)
{
	check_append("abc", 3, "abc");
	check_append("", 0, "");
	check_append(" a b ", 5, " a b ");
	check_append("a,b", 3, "\"a,b\"");
	check_append("say \"hi\"", 8, "\"say \"\"hi\"\"\"");
	check_append("\"", 1, "\"\"\"\"");
	check_append("a\nb", 3, "\"a\nb\"");
	check_append("a\rb", 3, "\"a\rb\"");
	check_append("a\r\n", 3, "\"a\r\n\"");
	check_append("caf\xc3\xa9", 5, "caf\xc3\xa9");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple),
	    cmocka_unit_test(test_quoting),
	    cmocka_unit_test(test_crlf),
	    cmocka_unit_test(test_embedded_newlines),
	    cmocka_unit_test(test_blank_and_final),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_bom),
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_large),
	    cmocka_unit_test(test_source_error),
	    cmocka_unit_test(test_field_append),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
