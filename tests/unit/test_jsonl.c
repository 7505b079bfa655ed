/* Unit tests of the JSON Lines reader. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table/jsonl.h"
#include "tests/unit/helpers.h"

static const char *const cols[] = {"id", "name", "amount", "ok"};

/*
 * Reads all of data with reads of at most step bytes (0: as much as asked) and describes what
 * was read: one line per record "@LINE" then each field as [line:col q? len:bytes], then the
 * outcome ("end" or "error RC MESSAGE").
 */
static char *parse_all(const char *data, size_t len, size_t step, const struct jsonl_limits *lim)
{
	struct mem_source m = {.data = data, .len = len, .step = step};
	struct jsonl_reader r;
	struct csv_field *f;
	struct mfs_error err;
	struct strbuf out;
	size_t n, i;
	int rc;

	strbuf_init(&out);
	mfs_error_clear(&err);
	jsonl_reader_init(&r, mem_read, &m, "t.jsonl", cols, 4, lim);
	while ((rc = jsonl_reader_next(&r, &f, &n, &err)) == 1) {
		assert_int_equal(n, 4);
		strbuf_addf(&out, "@%lu", jsonl_reader_record_line(&r));
		for (i = 0; i < n; i++) {
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
	jsonl_reader_release(&r);
	return strbuf_detach(&out, NULL);
}

/* Parses with every read size from 1 to 9 and in one go: all must agree; returns the result. */
static char *parse_steps(const char *data, const struct jsonl_limits *lim)
{
	size_t len = strlen(data);
	char *first = parse_all(data, len, 0, lim), *other;
	size_t step;

	for (step = 1; step < 10; step++) {
		other = parse_all(data, len, step, lim);
		assert_string_equal(other, first);
		free(other);
	}
	return first;
}

static void expect(const char *data, const char *want)
{
	char *got = parse_steps(data, NULL);

	assert_string_equal(got, want);
	free(got);
}

/* Checks only the outcome (the last line) of parsing data. */
static void expect_error(const char *data, const char *want)
{
	char *got = parse_steps(data, NULL);
	const char *last = strrchr(got, '\n');

	assert_string_equal(last ? last + 1 : got, want);
	free(got);
}

#define HEADER "@0[0:0 2:id][0:0 4:name][0:0 6:amount][0:0 2:ok]\n"

static void test_value_kinds(void **state)
{
	(void)state;
	expect("{\"id\": 1, \"name\": \"Ann\", \"amount\": -12.5e3, \"ok\": true}\n"
	       "{\"id\":2,\"name\":\"\",\"amount\":0,\"ok\":false}\n"
	       "{\"id\":3,\"name\":null,\"amount\":1E-2,\"ok\":null}\n",
	       HEADER "@1[1:8 1:1][1:19 q 3:Ann][1:36 7:-12.5e3][1:51 4:true]\n"
		      "@2[2:7 1:2][2:16 q 0:][2:28 1:0][2:35 5:false]\n"
		      "@3[3:7 1:3][3:16 0:][3:30 4:1E-2][3:40 0:]\n"
		      "end");
}

static void test_keys_any_order_and_missing(void **state)
{
	(void)state;
	expect("{\"ok\":true,\"id\":7}\n"
	       "  {}  \n"
	       "{\"name\":\"x\"}",
	       HEADER "@1[1:17 1:7][1:1 0:][1:1 0:][1:7 4:true]\n"
		      "@2[2:3 0:][2:3 0:][2:3 0:][2:3 0:]\n"
		      "@3[3:1 0:][3:9 q 1:x][3:1 0:][3:1 0:]\n"
		      "end");
}

static void test_escapes(void **state)
{
	(void)state;
	expect("{\"name\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\"}\n"
	       "{\"name\":\"\\u00e9\\u20AC\\ud83d\\ude00 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}\n"
	       "{\"name\":\"a,b\\u0022c\\u0041\"}\n",
	       HEADER "@1[1:1 0:][1:9 q 14:q\" b\\ s/ \b\f\n\r\t][1:1 0:][1:1 0:]\n"
		      "@2[2:1 0:][2:9 q 19:\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 "
		      "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80][2:1 0:][2:1 0:]\n"
		      "@3[3:1 0:][3:9 q 6:a,b\"cA][3:1 0:][3:1 0:]\n"
		      "end");
}

static void test_lines(void **state)
{
	(void)state;
	/* A byte order mark, CRLF, blank lines (also of spaces), no final line ending. */
	expect("\xef\xbb\xbf{\"id\":1}\r\n\r\n   \n\n{\"id\":2}\r\n\t\r\n{\"id\":3}",
	       HEADER "@1[1:7 1:1][1:1 0:][1:1 0:][1:1 0:]\n"
		      "@5[5:7 1:2][5:1 0:][5:1 0:][5:1 0:]\n"
		      "@7[7:7 1:3][7:1 0:][7:1 0:][7:1 0:]\n"
		      "end");
	/* No bytes at all: no header either, as for CSV. */
	expect("", "end");
	/* Blank lines only: a table of no rows. */
	expect("\n\r\n", HEADER "end");
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("{\"id\":1}\n{\"id\":2,\"bogus\":3}\n",
		     "error -22 t.jsonl:2:9: key 'bogus' is not a column of the table");
	expect_error("{\"id\":1,\"name\":\"a\",\"id\":2}",
		     "error -22 t.jsonl:1:20: key 'id' appears twice");
	expect_error("{\"id\":null,\"id\":null}", "error -22 t.jsonl:1:12: key 'id' appears twice");
	expect_error("{\"name\":{\"a\":1}}",
		     "error -22 t.jsonl:1:9: key 'name': nested objects and arrays are not "
		     "supported (a value must be a string, number, true, false or null)");
	expect_error("{\"name\":[1]}",
		     "error -22 t.jsonl:1:9: key 'name': nested objects and arrays are not "
		     "supported (a value must be a string, number, true, false or null)");
	expect_error("[1,2]", "error -22 t.jsonl:1:1: expected a JSON object ('{') on each line");
	expect_error("{\"id\":1} x", "error -22 t.jsonl:1:10: text after the object");
	expect_error("{\"id\":1}{}", "error -22 t.jsonl:1:9: text after the object");
	expect_error("{\"id\" 1}", "error -22 t.jsonl:1:7: expected ':' after key 'id'");
	expect_error("{\"id\":1,}",
		     "error -22 t.jsonl:1:9: expected a key (a string in double quotes)");
	expect_error("{id:1}", "error -22 t.jsonl:1:2: expected a key (a string in double quotes)");
	expect_error("{\"id\":1 \"ok\":2}", "error -22 t.jsonl:1:9: expected ',' or '}'");
	expect_error("{\"id\":1", "error -22 t.jsonl:1:8: expected ',' or '}'");
	expect_error("{\"id\":}", "error -22 t.jsonl:1:7: invalid value for key 'id'");
	expect_error("{\"id\":", "error -22 t.jsonl:1:7: expected a value for key 'id'");
	expect_error("{\"ok\":tru}", "error -22 t.jsonl:1:7: invalid value");
	expect_error("{\"ok\":True}", "error -22 t.jsonl:1:7: invalid value for key 'ok'");
	expect_error("{\"name\":\"abc}", "error -22 t.jsonl:1:9: string not terminated");
	expect_error("{\"name\":\"abc\\", "error -22 t.jsonl:1:9: string not terminated");
	expect_error("{\"name\":\"a\tb\"}",
		     "error -22 t.jsonl:1:11: control character 0x09 in a string (write it "
		     "escaped)");
	expect_error("{\"name\":\"a\\x\"}", "error -22 t.jsonl:1:11: invalid escape sequence");
	expect_error("{\"name\":\"\\u12G4\"}",
		     "error -22 t.jsonl:1:10: \\u must be followed by four hexadecimal digits");
	expect_error("{\"name\":\"\\u0000\"}",
		     "error -22 t.jsonl:1:10: \\u0000 (a NUL character) is not allowed");
	expect_error("{\"name\":\"x\\ud83d\"}",
		     "error -22 t.jsonl:1:11: unpaired surrogate \\ud83d");
	expect_error("{\"name\":\"x\\ud83d\\u0041\"}",
		     "error -22 t.jsonl:1:11: unpaired surrogate \\ud83d");
	expect_error("{\"name\":\"\\ude00\"}",
		     "error -22 t.jsonl:1:10: unpaired surrogate \\ude00");
	/* Invalid UTF-8: a stray continuation byte, an overlong form, an encoded surrogate, past
	 * U+10FFFF, a truncated sequence. */
	expect_error("{\"name\":\"a\x80\"}", "error -22 t.jsonl:1:11: invalid UTF-8");
	expect_error("{\"name\":\"\xc0\xaf\"}", "error -22 t.jsonl:1:10: invalid UTF-8");
	expect_error("{\"name\":\"\xed\xa0\x80\"}", "error -22 t.jsonl:1:10: invalid UTF-8");
	expect_error("{\"name\":\"\xf4\x90\x80\x80\"}", "error -22 t.jsonl:1:10: invalid UTF-8");
	expect_error("{\"name\":\"\xe2\x82\"}", "error -22 t.jsonl:1:10: invalid UTF-8");
	expect_error("{\"na\xffme\":1}", "error -22 t.jsonl:1:5: invalid UTF-8");
	/* Numbers as JSON has them, and nothing else. */
	expect_error("{\"amount\":01}", "error -22 t.jsonl:1:11: invalid number");
	expect_error("{\"amount\":1.}", "error -22 t.jsonl:1:11: invalid number");
	expect_error("{\"amount\":.5}", "error -22 t.jsonl:1:11: invalid value for key 'amount'");
	expect_error("{\"amount\":+1}", "error -22 t.jsonl:1:11: invalid value for key 'amount'");
	expect_error("{\"amount\":-}", "error -22 t.jsonl:1:11: invalid number");
	expect_error("{\"amount\":1e}", "error -22 t.jsonl:1:11: invalid number");
	expect_error("{\"amount\":1x}", "error -22 t.jsonl:1:11: invalid number");
	expect_error("{\"amount\":1.2.3}", "error -22 t.jsonl:1:11: invalid number");
	/* Line numbers count blank lines; a key is shown cut and without control characters. */
	expect_error(
	    "\n\n{\"k\\n\\u0001"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\":1}",
	    "error -22 t.jsonl:3:2: key 'k??xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxx...' is not a column of the table");
}

/* A raw NUL byte outside a string. */
static void test_nul_byte(void **state)
{
	static const char data[] = "{\"id\":1,\0}";
	char *got;

	(void)state;
	got = parse_all(data, sizeof(data) - 1, 0, NULL);
	assert_string_equal(got, HEADER "error -22 t.jsonl:1:9: expected a key (a string in double "
					"quotes)");
	free(got);
}

static void test_line_limit(void **state)
{
	struct jsonl_limits lim = {.max_line = 16};
	char *got;

	(void)state;
	/* Exactly 16 bytes, also with CRLF, pass; 17 do not. */
	got = parse_steps("{\"name\":\"abcde\"}\r\n{\"name\":\"abcdef\"}\n", &lim);
	assert_string_equal(got, HEADER "@1[1:1 0:][1:9 q 5:abcde][1:1 0:][1:1 0:]\n"
					"error -22 t.jsonl:2: line longer than 16 bytes");
	free(got);
	got = parse_steps("{\"name\":\"abcde\"}\n{\"name\":\"abcdefghijklmnopqrstuvwxyz\"", &lim);
	assert_string_equal(got, HEADER "@1[1:1 0:][1:9 q 5:abcde][1:1 0:][1:1 0:]\n"
					"error -22 t.jsonl:2: line longer than 16 bytes");
	free(got);
}

/* A line far longer than the input buffer makes it grow; values of every line stay right. */
static void test_long_line(void **state)
{
	size_t big = 3 * 1024 * 1024, i;
	struct strbuf in;
	char *got, *p;

	(void)state;
	strbuf_init(&in);
	assert_int_equal(strbuf_addstr(&in, "{\"id\":1}\n{\"name\":\""), 0);
	assert_int_equal(strbuf_grow(&in, big), 0);
	for (i = 0; i < big; i++)
		in.buf[in.len++] = (char)('a' + i % 26);
	in.buf[in.len] = '\0';
	assert_int_equal(strbuf_addstr(&in, "\",\"id\":2}\n{\"id\":3}\n"), 0);
	got = parse_all(in.buf, in.len, 0, NULL);
	p = strstr(got, "@2[2:");
	assert_non_null(p);
	assert_non_null(strstr(got, "[2:9 q 3145728:abcdefghijklmnopqrstuvwxyzabc"));
	assert_non_null(strstr(got, "\n@3[3:7 1:3][3:1 0:][3:1 0:][3:1 0:]\nend"));
	free(got);
	strbuf_release(&in);
}

static void test_read_error(void **state)
{
	static const char data[] = "{\"id\":1}\n{\"id\":2}\n";
	struct mem_source m = {.data = data, .len = sizeof(data) - 1, .step = 4, .fail_at = 2};
	struct jsonl_reader r;
	struct csv_field *f;
	struct mfs_error err;
	size_t n;

	(void)state;
	mfs_error_clear(&err);
	jsonl_reader_init(&r, mem_read, &m, "t.jsonl", cols, 4, NULL);
	assert_int_equal(jsonl_reader_next(&r, &f, &n, &err), 1);
	assert_int_equal(jsonl_reader_next(&r, &f, &n, &err), -EIO);
	assert_string_equal(err.msg, "t.jsonl: read error: Input/output error");
	jsonl_reader_release(&r);
}

/* Many rows in one pass: the record of each row is right, and it is quick. */
static void test_many_rows(void **state)
{
	struct strbuf in;
	struct mem_source m;
	struct jsonl_reader r;
	struct csv_field *f;
	struct mfs_error err;
	unsigned long rows = 0;
	size_t n, i;
	char want[32];
	int rc;

	(void)state;
	strbuf_init(&in);
	for (i = 0; i < 200000; i++)
		assert_int_equal(strbuf_addf(&in,
					     "{\"id\":%zu,\"name\":\"customer \\u00e9 %zu\","
					     "\"amount\":%zu.25,\"ok\":%s}\n",
					     i, i, i * 3, i % 2 ? "true" : "false"),
				 0);
	m = (struct mem_source){.data = in.buf, .len = in.len};
	mfs_error_clear(&err);
	jsonl_reader_init(&r, mem_read, &m, "t.jsonl", cols, 4, NULL);
	assert_int_equal(jsonl_reader_next(&r, &f, &n, &err), 1);
	while ((rc = jsonl_reader_next(&r, &f, &n, &err)) == 1) {
		snprintf(want, sizeof(want), "%lu", rows);
		assert_string_equal(f[0].data, want);
		snprintf(want, sizeof(want), "%lu.25", rows * 3);
		assert_string_equal(f[2].data, want);
		assert_string_equal(f[3].data, rows % 2 ? "true" : "false");
		rows++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(rows, 200000);
	jsonl_reader_release(&r);
	strbuf_release(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_value_kinds), cmocka_unit_test(test_keys_any_order_and_missing),
	    cmocka_unit_test(test_escapes),	cmocka_unit_test(test_lines),
	    cmocka_unit_test(test_errors),	cmocka_unit_test(test_line_limit),
	    cmocka_unit_test(test_long_line),	cmocka_unit_test(test_read_error),
	    cmocka_unit_test(test_many_rows),	cmocka_unit_test(test_nul_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
