/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "as4/str.h"

static void test_copy_and_fmt(void **state)
{
	(void)state;
	char buf[6];
	assert_int_equal(as4_str_copy(buf, sizeof(buf), "hello"), AS4_OK);
	assert_string_equal(buf, "hello");
	assert_int_equal(as4_str_copy(buf, sizeof(buf), "hello!"), AS4_E_LIMIT);
	assert_string_equal(buf, "hello");
	assert_int_equal(as4_str_copy(buf, sizeof(buf), "ab"), AS4_OK);
	assert_int_equal(as4_str_cat(buf, sizeof(buf), "cde"), AS4_OK);
	assert_string_equal(buf, "abcde");
	assert_int_equal(as4_str_cat(buf, sizeof(buf), "f"), AS4_E_LIMIT);
	assert_int_equal(as4_str_fmt(buf, sizeof(buf), "%d", 12345), AS4_OK);
	assert_int_equal(as4_str_fmt(buf, sizeof(buf), "%d", 123456), AS4_E_LIMIT);
}

static void test_case_and_trim(void **state)
{
	(void)state;
	assert_true(as4_str_ieq("Meta:SMP", "meta:smp"));
	assert_false(as4_str_ieq("Meta:SMP", "meta:sm"));
	assert_true(as4_str_starts("cid:abc", "cid:"));
	assert_false(as4_str_starts("cid", "cid:"));
	assert_true(as4_str_ends("application/fhir+xml", "+xml"));
	char s[] = "ÆBC-Def";
	as4_str_lower(s);
	assert_string_equal(s, "Æbc-def"); /* ASCII only, never locale-dependent */
	const char *p = " \t\r\n 0088:123 \n";
	size_t n = strlen(p);
	as4_str_trim(&p, &n);
	assert_int_equal(n, 8);
	assert_memory_equal(p, "0088:123", 8);
}

static void test_numbers(void **state)
{
	(void)state;
	uint64_t v = 0;
	assert_int_equal(as4_parse_u64("0", 10, &v), AS4_OK);
	assert_int_equal(v, 0);
	assert_int_equal(as4_parse_u64("18446744073709551615", UINT64_MAX, &v), AS4_OK);
	assert_int_equal(as4_parse_u64("18446744073709551616", UINT64_MAX, &v), AS4_E_INVAL);
	assert_int_equal(as4_parse_u64("11", 10, &v), AS4_E_INVAL);
	assert_int_equal(as4_parse_u64("-1", 10, &v), AS4_E_INVAL);
	assert_int_equal(as4_parse_u64(" 1", 10, &v), AS4_E_INVAL);
	assert_int_equal(as4_parse_u64("", 10, &v), AS4_E_INVAL);
	assert_int_equal(as4_parse_size("64M", &v), AS4_OK);
	assert_int_equal(v, 64u * 1024 * 1024);
	assert_int_equal(as4_parse_size("1GB", &v), AS4_OK);
	assert_int_equal(v, 1024ULL * 1024 * 1024);
	assert_int_equal(as4_parse_size("512k", &v), AS4_OK);
	assert_int_equal(v, 512u * 1024);
	assert_int_equal(as4_parse_size("4096", &v), AS4_OK);
	assert_int_equal(v, 4096);
	assert_int_equal(as4_parse_size("12X", &v), AS4_E_INVAL);
	assert_int_equal(as4_parse_size("M", &v), AS4_E_INVAL);
	assert_int_equal(as4_parse_size("99999999999999G", &v), AS4_E_INVAL);
	assert_int_equal(as4_parse_duration_ms("30s", &v), AS4_OK);
	assert_int_equal(v, 30000);
	assert_int_equal(as4_parse_duration_ms("15m", &v), AS4_OK);
	assert_int_equal(v, 900000);
	assert_int_equal(as4_parse_duration_ms("30d", &v), AS4_OK);
	assert_int_equal(v, 30ULL * 86400 * 1000);
	assert_int_equal(as4_parse_duration_ms("250ms", &v), AS4_OK);
	assert_int_equal(v, 250);
	assert_int_equal(as4_parse_duration_ms("7", &v), AS4_OK);
	assert_int_equal(v, 7000);
	assert_int_equal(as4_parse_duration_ms("1w", &v), AS4_E_INVAL);
}

static void test_base64(void **state)
{
	(void)state;
	const char *vec[][2] = {{"", ""},
	                        {"f", "Zg=="},
	                        {"fo", "Zm8="},
	                        {"foo", "Zm9v"},
	                        {"foob", "Zm9vYg=="},
	                        {"fooba", "Zm9vYmE="},
	                        {"foobar", "Zm9vYmFy"}};
	for (size_t i = 0; i < AS4_ARRAY_LEN(vec); i++) {
		char *e = as4_b64_encode((const uint8_t *)vec[i][0], strlen(vec[i][0]), 0);
		assert_non_null(e);
		assert_string_equal(e, vec[i][1]);
		free(e);
		uint8_t out[16];
		size_t n = 0;
		assert_int_equal(as4_b64_decode(vec[i][1], strlen(vec[i][1]), out, sizeof(out), &n),
		                 AS4_OK);
		assert_int_equal(n, strlen(vec[i][0]));
		assert_memory_equal(out, vec[i][0], n);
	}
	uint8_t out[64];
	size_t n = 0;
	/* whitespace (as in XML and MIME) is skipped, missing padding at the end is fine */
	assert_int_equal(as4_b64_decode("Zm9v\r\nYmFy\n", 11, out, sizeof(out), &n), AS4_OK);
	assert_int_equal(n, 6);
	assert_int_equal(as4_b64_decode("Zm9vYg", 6, out, sizeof(out), &n), AS4_OK);
	assert_int_equal(n, 4);
	assert_int_equal(as4_b64_decode("Zm9v!mFy", 8, out, sizeof(out), &n), AS4_E_INVAL);
	assert_int_equal(as4_b64_decode("Zg==Zg==", 8, out, sizeof(out), &n), AS4_E_INVAL);
	assert_int_equal(as4_b64_decode("Z", 1, out, sizeof(out), &n), AS4_E_INVAL);
	assert_int_equal(as4_b64_decode("Zm9vYmFy", 8, out, 5, &n), AS4_E_LIMIT);
	uint8_t bin[100];
	for (size_t i = 0; i < sizeof(bin); i++) {
		bin[i] = (uint8_t)(i * 7);
	}
	char *e = as4_b64_encode(bin, sizeof(bin), 76);
	assert_non_null(e);
	assert_non_null(strstr(e, "\r\n"));
	assert_int_equal(strcspn(e, "\r"), 76);
	assert_int_equal(as4_b64_decode(e, strlen(e), out, sizeof(out), &n), AS4_E_LIMIT);
	uint8_t back[128];
	assert_int_equal(as4_b64_decode(e, strlen(e), back, sizeof(back), &n), AS4_OK);
	assert_int_equal(n, sizeof(bin));
	assert_memory_equal(back, bin, sizeof(bin));
	free(e);
}

/* The character-at-a-time decoder as4_b64_decode must agree with on every input. */
static as4_err b64_reference(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
	static const char digits[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	size_t pad = 0;
	size_t sextets = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			continue;
		}
		if (c == '=') {
			pad++;
			continue;
		}
		const char *d = c != '\0' ? strchr(digits, c) : NULL;
		if (pad > 0 || d == NULL) {
			return AS4_E_INVAL;
		}
		sextets++;
		acc = (acc << 6) | (uint32_t)(d - digits);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap) {
				return AS4_E_LIMIT;
			}
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (sextets % 4 == 1 || pad > 2 || (pad > 0 && (sextets + pad) % 4 != 0)) {
		return AS4_E_INVAL;
	}
	*out_len = o;
	return AS4_OK;
}

/* Random base64 with whitespace, padding, stray characters and small output buffers. */
static void test_base64_random(void **state)
{
	(void)state;
	static const char alphabet[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	        "AQgw+/==  \r\n\t!-_.\x80";
	uint32_t x = 12345;
	char in[200];
	for (int round = 0; round < 200000; round++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		size_t n = x % sizeof(in);
		bool clean = (x >> 8) % 4 != 0; /* mostly digits, as real data */
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			size_t span = clean && (x >> 20) % 50 != 0 ? 64 : sizeof(alphabet) - 1;
			in[i] = alphabet[x % span];
		}
		size_t cap = (x >> 4) % 3 == 0 ? (x >> 6) % 160 : 160;
		uint8_t a[160];
		uint8_t b[160];
		size_t na = 999;
		size_t nb = 999;
		as4_err ea = as4_b64_decode(in, n, a, cap, &na);
		as4_err eb = b64_reference(in, n, b, cap, &nb);
		assert_int_equal(ea, eb);
		if (ea == AS4_OK) {
			assert_int_equal(na, nb);
			assert_memory_equal(a, b, na);
		}
	}
}

static void test_misc(void **state)
{
	(void)state;
	char u1[37], u2[37];
	assert_int_equal(as4_uuid_v4(u1), AS4_OK);
	assert_int_equal(as4_uuid_v4(u2), AS4_OK);
	assert_int_equal(strlen(u1), 36);
	assert_int_equal(u1[14], '4');
	assert_true(strchr("89ab", u1[19]) != NULL);
	assert_string_not_equal(u1, u2);
	assert_true(as4_ct_equal("abc", "abc", 3));
	assert_false(as4_ct_equal("abc", "abd", 3));
	char hex[9];
	as4_hex_encode((const uint8_t *)"\x01\xab\xff\x00", 4, hex);
	assert_string_equal(hex, "01abff00");
	assert_true(as4_xml_encname_valid("UTF-8"));
	assert_true(as4_xml_encname_valid("ISO-8859-1"));
	assert_true(as4_xml_encname_valid("windows_1252"));
	assert_false(as4_xml_encname_valid("8859"));
	assert_false(as4_xml_encname_valid("UTF 8"));
	assert_false(as4_xml_encname_valid(""));
	assert_false(as4_xml_encname_valid("utf-8\""));
	size_t r;
	assert_true(as4_add_size(1, 2, &r) && r == 3);
	assert_false(as4_add_size(SIZE_MAX, 1, &r));
	assert_false(as4_mul_size(SIZE_MAX / 2, 3, &r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_copy_and_fmt), cmocka_unit_test(test_case_and_trim),
	        cmocka_unit_test(test_numbers),      cmocka_unit_test(test_base64),
	        cmocka_unit_test(test_misc),         cmocka_unit_test(test_base64_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
