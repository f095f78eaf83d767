/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "as4/arena.h"
#include "as4/buf.h"
#include "as4/diag.h"

static void test_bounded(void **state)
{
	(void)state;
	struct as4_buf b;
	as4_buf_init(&b, 10);
	assert_int_equal(as4_buf_puts(&b, "hello"), AS4_OK);
	assert_int_equal(as4_buf_printf(&b, "%s", "world"), AS4_OK);
	assert_int_equal(b.len, 10);
	assert_string_equal((char *)b.data, "helloworld");
	/* one byte over the cap fails and leaves the contents alone */
	assert_int_equal(as4_buf_putc(&b, '!'), AS4_E_LIMIT);
	assert_int_equal(as4_buf_printf(&b, "%d", 1), AS4_E_LIMIT);
	assert_string_equal((char *)b.data, "helloworld");
	as4_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal((char *)b.data, "");
	as4_buf_cleanup(&b);

	as4_buf_init(&b, 1 << 20);
	char big[1000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(as4_buf_printf(&b, "[%s]", big), AS4_OK);
	assert_int_equal(b.len, 1001);
	size_t len = 0;
	uint8_t *p = as4_buf_take(&b, &len);
	assert_int_equal(len, 1001);
	assert_int_equal(p[0], '[');
	assert_null(b.data);
	free(p);
	char *s = as4_buf_take_str(&b);
	assert_string_equal(s, "");
	free(s);
}

static void test_xml_escape(void **state)
{
	(void)state;
	struct as4_buf b;
	as4_buf_init(&b, 100);
	assert_int_equal(as4_buf_put_xml_escaped(&b, "a<b>&\"c'\r\n\t"), AS4_OK);
	assert_string_equal((char *)b.data, "a&lt;b&gt;&amp;&quot;c&apos;&#13;\n\t");
	size_t before = b.len;
	assert_int_equal(as4_buf_put_xml_escaped(&b, "bad\x01"), AS4_E_INVAL);
	assert_int_equal(b.len, before);
	as4_buf_cleanup(&b);
}

static void test_arena(void **state)
{
	(void)state;
	struct as4_arena *a = as4_arena_new(64);
	assert_non_null(a);
	char *s = as4_arena_strdup(a, "abc");
	assert_string_equal(s, "abc");
	char *t = as4_arena_sprintf(a, "%s-%d", s, 42);
	assert_string_equal(t, "abc-42");
	/* a block bigger than the chunk size */
	uint8_t *big = as4_arena_alloc(a, 10000);
	assert_non_null(big);
	for (size_t i = 0; i < 10000; i++) {
		assert_int_equal(big[i], 0);
	}
	char *u = as4_arena_strndup(a, "xyz123", 3);
	assert_string_equal(u, "xyz");
	assert_null(as4_arena_calloc(a, SIZE_MAX / 2, 4));
	assert_true(as4_arena_used(a) >= 10000);
	/* earlier strings are intact */
	assert_string_equal(s, "abc");
	assert_string_equal(t, "abc-42");
	as4_arena_free(a);
}

static void test_diag(void **state)
{
	(void)state;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_diag_set(&d, AS4_E_HEADER, "eb:From has no eb:PartyId"), AS4_E_HEADER);
	/* the first failure wins */
	assert_int_equal(as4_diag_set(&d, AS4_E_MIME, "later"), AS4_E_HEADER);
	assert_string_equal(as4_diag_text(&d), "eb:From has no eb:PartyId");
	as4_diag_prefix(&d, "part %d: ", 2);
	assert_string_equal(as4_diag_text(&d), "part 2: eb:From has no eb:PartyId");
	as4_diag_init(&d);
	assert_int_equal(as4_diag_set_field(&d, AS4_E_INVAL, "payloads[1].mime_type", "missing"),
	                 AS4_E_INVAL);
	assert_string_equal(d.field, "payloads[1].mime_type");
	char longtext[1000];
	memset(longtext, 'x', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	as4_diag_init(&d);
	assert_int_equal(as4_diag_set(&d, AS4_E_OTHER, "%s", longtext), AS4_E_OTHER);
	assert_int_equal(strlen(d.text), AS4_DIAG_TEXT_MAX - 1);
	assert_string_equal(d.text + AS4_DIAG_TEXT_MAX - 4, "...");
	assert_int_equal(as4_diag_set(NULL, AS4_E_IO, "x"), AS4_E_IO);
}

static void test_err_table(void **state)
{
	(void)state;
	assert_string_equal(as4_err_ebms_code(AS4_E_SIG_INVALID), "EBMS:0101");
	assert_string_equal(as4_err_ebms_code(AS4_E_PMODE_MISMATCH), "EBMS:0010");
	assert_string_equal(as4_err_ebms_code(AS4_E_DECOMPRESS), "EBMS:0303");
	assert_string_equal(as4_err_ebms_code(AS4_E_NOTFOUND), "EBMS:0004");
	assert_string_equal(as4_ebms_short_description("EBMS:0009"), "InvalidHeader");
	assert_string_equal(as4_ebms_category("EBMS:0303"), "Communication");
	assert_null(as4_ebms_short_description("EBMS:9999"));
	assert_true(as4_err_retryable(AS4_E_PEER_TIMEOUT));
	assert_false(as4_err_retryable(AS4_E_PEER_ERROR));
	/* every code between the first and the last has a row (no silent fallback) */
	for (int e = 0; e < AS4_E__COUNT; e++) {
		const struct as4_err_info *i = as4_err_info((as4_err)e);
		if (i->code == (as4_err)e) {
			assert_non_null(i->text);
			if (i->ebms != NULL) {
				assert_non_null(as4_ebms_short_description(i->ebms));
			}
		}
	}
	assert_string_equal(as4_strerror((as4_err)9999), "internal error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bounded),   cmocka_unit_test(test_xml_escape),
	        cmocka_unit_test(test_arena),     cmocka_unit_test(test_diag),
	        cmocka_unit_test(test_err_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
