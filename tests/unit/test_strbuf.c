#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"

static void test_init_empty(void **state)
{
	struct strbuf sb;

	strbuf_init(&sb);
	assert_non_null(sb.buf);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.cap, 0);
	assert_string_equal(sb.buf, "");
	strbuf_reset(&sb);
	assert_string_equal(sb.buf, "");
	strbuf_release(&sb);
	strbuf_release(&sb);
	assert_string_equal(sb.buf, "");
}

static void test_add(void **state)
{
	struct strbuf sb;

	strbuf_init(&sb);
	assert_int_equal(strbuf_add(&sb, "abc", 3), 0);
	assert_int_equal(strbuf_add(&sb, "", 0), 0);
	assert_int_equal(strbuf_addstr(&sb, "def"), 0);
	assert_int_equal(strbuf_addch(&sb, '!'), 0);
	assert_int_equal(sb.len, 7);
	assert_true(sb.cap > sb.len);
	assert_string_equal(sb.buf, "abcdef!");
	/* Binary data, NUL included, is kept by length. */
	assert_int_equal(strbuf_add(&sb, "x\0y", 3), 0);
	assert_int_equal(sb.len, 10);
	assert_memory_equal(sb.buf + 7, "x\0y", 4);
	strbuf_release(&sb);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.cap, 0);
}

static void test_addf(void **state)
{
	struct strbuf sb;
	char big[500];

	strbuf_init(&sb);
	assert_int_equal(strbuf_addf(&sb, "%s=%d", "rows", 42), 0);
	assert_int_equal(strbuf_addf(&sb, ",%05.1f", 3.14159), 0);
	assert_string_equal(sb.buf, "rows=42,003.1");
	assert_int_equal(sb.len, strlen("rows=42,003.1"));
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(strbuf_addf(&sb, "[%s]", big), 0);
	assert_int_equal(sb.len, 13 + 2 + 499);
	assert_int_equal(sb.buf[13], '[');
	assert_int_equal(sb.buf[sb.len - 1], ']');
	assert_int_equal(sb.buf[sb.len], '\0');
	assert_int_equal(strbuf_addf(&sb, "%s", ""), 0);
	assert_int_equal(sb.len, 13 + 2 + 499);
	strbuf_release(&sb);
}

static void test_grow(void **state)
{
	struct strbuf sb;
	char *before;

	strbuf_init(&sb);
	assert_int_equal(strbuf_grow(&sb, 1000), 0);
	assert_true(sb.cap >= 1001);
	assert_int_equal(sb.len, 0);
	assert_string_equal(sb.buf, "");
	/* Room already made: adding within it does not move the buffer. */
	before = sb.buf;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(strbuf_addch(&sb, 'a' + i % 26), 0);
	assert_ptr_equal(sb.buf, before);
	assert_int_equal(sb.len, 1000);
	assert_int_equal(sb.buf[999], 'a' + 999 % 26);
	/* Growing past the capacity keeps the contents. */
	assert_int_equal(strbuf_grow(&sb, 100000), 0);
	assert_true(sb.cap >= 101001);
	assert_int_equal(sb.len, 1000);
	assert_int_equal(sb.buf[0], 'a');
	assert_int_equal(sb.buf[999], 'a' + 999 % 26);
	/* An impossible size fails and leaves the buffer as it was. */
	assert_int_equal(strbuf_grow(&sb, SIZE_MAX), -ENOMEM);
	assert_int_equal(strbuf_add(&sb, "x", SIZE_MAX - 1), -ENOMEM);
	assert_int_equal(sb.len, 1000);
	assert_int_equal(sb.buf[0], 'a');
	strbuf_release(&sb);
}

static void test_reset(void **state)
{
	struct strbuf sb;
	size_t cap;

	strbuf_init(&sb);
	assert_int_equal(strbuf_addstr(&sb, "some text"), 0);
	cap = sb.cap;
	strbuf_reset(&sb);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.cap, cap);
	assert_string_equal(sb.buf, "");
	assert_int_equal(strbuf_addstr(&sb, "new"), 0);
	assert_string_equal(sb.buf, "new");
	strbuf_release(&sb);
}

static void test_detach(void **state)
{
	struct strbuf sb;
	size_t len = 99;
	char *p;

	strbuf_init(&sb);
	assert_int_equal(strbuf_addstr(&sb, "hello"), 0);
	p = strbuf_detach(&sb, &len);
	assert_string_equal(p, "hello");
	assert_int_equal(len, 5);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.cap, 0);
	assert_string_equal(sb.buf, "");
	free(p);
	/* An empty buffer still detaches to a string the caller can free. */
	p = strbuf_detach(&sb, NULL);
	assert_non_null(p);
	assert_string_equal(p, "");
	free(p);
	/* The buffer is usable after a detach. */
	assert_int_equal(strbuf_addstr(&sb, "again"), 0);
	assert_string_equal(sb.buf, "again");
	strbuf_release(&sb);
}

static void test_release_secure(void **state)
{
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_release_secure(&sb);
	assert_string_equal(sb.buf, "");
	assert_int_equal(strbuf_addstr(&sb, "alice@example.com"), 0);
	strbuf_release_secure(&sb);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.cap, 0);
	assert_string_equal(sb.buf, "");
	assert_int_equal(strbuf_addstr(&sb, "reused"), 0);
	assert_string_equal(sb.buf, "reused");
	strbuf_release_secure(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_empty),	   cmocka_unit_test(test_add),
	    cmocka_unit_test(test_addf),	   cmocka_unit_test(test_grow),
	    cmocka_unit_test(test_reset),	   cmocka_unit_test(test_detach),
	    cmocka_unit_test(test_release_secure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
