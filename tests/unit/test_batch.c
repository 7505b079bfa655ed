/* Unit tests of row batches: rows copied out of a reader, read back after it moved on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "table/batch.h"

static struct csv_field field(const char *s, unsigned long col, int quoted)
{
	struct csv_field f = {.data = s, .len = strlen(s), .line = 7, .col = col, .quoted = quoted};

	return f;
}

/* Rows read back as added, in order, whatever the reader's buffers did meanwhile. */
static void test_rows(void **state)
{
	struct row_batch b;
	char scratch[32];
	struct csv_field row[3];
	const struct csv_field *got;

	(void)state;
	row_batch_init(&b, 3);
	for (unsigned i = 0; i < 10000; i++) {
		snprintf(scratch, sizeof(scratch), "v%u", i);
		row[0] = field(scratch, 1, 0);
		row[1] = field("", 5, 1);
		row[2] = field("a,b", 8, 1);
		assert_int_equal(row_batch_add(&b, row, 100 + i), 0);
		/* the reader reuses its buffer for the next record */
		memset(scratch, 'x', sizeof(scratch) - 1);
	}
	row_batch_seal(&b);
	assert_int_equal(b.nrows, 10000);
	for (unsigned i = 0; i < 10000; i += 999) {
		got = row_batch_row(&b, i);
		snprintf(scratch, sizeof(scratch), "v%u", i);
		assert_string_equal(got[0].data, scratch);
		assert_int_equal(got[0].len, strlen(scratch));
		assert_int_equal(got[1].len, 0);
		assert_string_equal(got[1].data, "");
		assert_int_equal(got[1].quoted, 1);
		assert_string_equal(got[2].data, "a,b");
		assert_int_equal(got[2].col, 8);
		assert_int_equal(b.lines[i], 100 + i);
	}

	/* a reset keeps the memory and starts again */
	row_batch_reset(&b);
	assert_int_equal(b.nrows, 0);
	assert_int_equal(b.data.len, 0);
	row[0] = field("again", 1, 0);
	assert_int_equal(row_batch_add(&b, row, 1), 0);
	row_batch_seal(&b);
	assert_string_equal(row_batch_row(&b, 0)[0].data, "again");
	row_batch_release(&b);
	assert_int_equal(b.nrows, 0);
	assert_null(b.fields);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
