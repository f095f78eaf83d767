/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API's JSON parser (as4_json_parse): fixed cases, and a differential run against
 * jansson's own loader (the reference for what is valid) over mutations of real documents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "as4/admin_json.h"

/* Parse with generous limits; AS4_OK and *out, or the error. */
static as4_err parse(const char *text, size_t len, json_t **out, struct as4_diag *d)
{
	as4_diag_init(d);
	return as4_json_parse((const uint8_t *)text, len, 1u << 20, 32, out, d);
}

/* jansson's verdict on the same bytes (the behaviour the API had before its own parser). */
static json_t *reference(const char *text, size_t len)
{
	json_error_t je;
	return json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
}

static void same_as_reference(const char *text, size_t len)
{
	json_t *mine = NULL;
	struct as4_diag d;
	as4_err err = parse(text, len, &mine, &d);
	json_t *ref = reference(text, len);
	if ((err == AS4_OK) != (ref != NULL) || (ref != NULL && !json_equal(mine, ref))) {
		print_error("differs from jansson (%s / %s): %.*s\n",
		            err == AS4_OK ? "ok" : "error", ref != NULL ? "ok" : "error", (int)len,
		            text);
		fail();
	}
	json_decref(mine);
	json_decref(ref);
}

static void accepts_what_jansson_accepts(void **state)
{
	(void)state;
	static const char *const docs[] = {
	        "{}",
	        "[]",
	        " \t\r\n{ \"a\" : 1 } \n",
	        ("{\"pmode\":\"p\",\"payloads\":[{\"mime_type\":\"application/xml\","
	         "\"content\":\"PGE+PC9hPg==\"}]}"),
	        "[1,-1,0,-0,123456789012345678,-9223372036854775808,9223372036854775807]",
	        "[1.5,-0.25,1e3,1E-3,2.5e+10,0.0,-0.0,1e-400]",
	        "[true,false,null,[],{},[[]],{\"a\":{}}]",
	        "[\"\",\"plain\",\"a\\\"b\",\"\\\\\",\"\\/\",\"\\b\\f\\n\\r\\t\"]",
	        "[\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\",\"\\u0001\"]",
	        "[\"caf\xc3\xa9\",\"\xe2\x82\xac\",\"\xf0\x9f\x98\x80\",\"del\x7f\"]",
	        "{\"k\\u00e9y\":1,\"\":2,\"K\":3}",
	        "[\"~!#$%&'()*+,-./:;<=>?@[]^_`{|}\"]",
	        ("[1.00000000000000000000000000000000000000000000000000000000000000000000000000"
	         "000000000000000000000000000000000000000000000000000000000000000000000001,"
	         "-0.0000000000000000000000000000000000000000000000000000000000000000000000001e5]"),
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		json_t *v = NULL;
		struct as4_diag d;
		as4_err err = parse(docs[i], strlen(docs[i]), &v, &d);
		if (err != AS4_OK) {
			print_error("%s: %s\n", docs[i], as4_diag_text(&d));
		}
		assert_int_equal(err, AS4_OK);
		json_decref(v);
		same_as_reference(docs[i], strlen(docs[i]));
	}
}

static void refuses_what_jansson_refuses(void **state)
{
	(void)state;
	static const char *const docs[] = {
	        "",
	        " ",
	        "1",
	        "\"top-level string\"",
	        "null",
	        "{",
	        "[",
	        "{\"a\"}",
	        "{\"a\":}",
	        "{\"a\":1,}",
	        "[1,]",
	        "[1 2]",
	        "{\"a\":1 \"b\":2}",
	        "{a:1}",
	        "{'a':1}",
	        "[01]",
	        "[1.]",
	        "[.5]",
	        "[1e]",
	        "[+1]",
	        "[-]",
	        "[9223372036854775808]",
	        "[-9223372036854775809]",
	        "[100000000000000000000000000000000000000000000000000000000000000000000000000]",
	        "[1e400]",
	        "[NaN]",
	        "[Infinity]",
	        "[tru]",
	        "[nul]",
	        "[\"unterminated]",
	        "[\"bad \\x escape\"]",
	        "[\"\\u12\"]",
	        "[\"\\ud800\"]",
	        "[\"\\ud800\\u0041\"]",
	        "[\"\\udc00\"]",
	        "[\"tab\tinside\"]",
	        "[\"newline\ninside\"]",
	        "[\"\xc3\"]",
	        "[\"\xc0\xaf\"]",
	        "[\"\xed\xa0\x80\"]",
	        "[\"\xf4\x90\x80\x80\"]",
	        "[\"\xff\"]",
	        "{\"a\":1,\"a\":2}",
	        "{\"a\\u0000b\":1}",
	        "[\"a\\u0000b\"]",
	        "{} {}",
	        "[] x",
	        "\xef\xbb\xbf{}",
	        "[\"ends in a backslash\\",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		json_t *v = NULL;
		struct as4_diag d;
		as4_err err = parse(docs[i], strlen(docs[i]), &v, &d);
		if (err == AS4_OK) {
			print_error("accepted: %s\n", docs[i]);
		}
		assert_int_not_equal(err, AS4_OK);
		assert_null(v);
		same_as_reference(docs[i], strlen(docs[i]));
	}
	/* a raw NUL byte inside a string */
	same_as_reference("[\"a\0b\"]", 7);
}

static void errors_name_the_place(void **state)
{
	(void)state;
	json_t *v = NULL;
	struct as4_diag d;
	assert_int_equal(parse("{\n  \"a\": 1,\n  \"a\": 2\n}", 22, &v, &d), AS4_E_PARSE);
	assert_non_null(strstr(as4_diag_text(&d), "line 3 column 3"));
	assert_non_null(strstr(as4_diag_text(&d), "duplicate object key"));
	assert_int_equal(parse("[1,\n  x]", 8, &v, &d), AS4_E_PARSE);
	assert_non_null(strstr(as4_diag_text(&d), "line 2 column 3"));

	/* nesting: refused with AS4_E_LIMIT at the first bracket past the limit */
	char deep[200];
	memset(deep, '[', 40);
	memset(deep + 40, ']', 40);
	as4_diag_init(&d);
	assert_int_equal(as4_json_parse((const uint8_t *)deep, 80, 1024, 16, &v, &d), AS4_E_LIMIT);
	assert_non_null(strstr(as4_diag_text(&d), "deeper than 16 levels (byte 16)"));
	as4_diag_init(&d);
	assert_int_equal(as4_json_parse((const uint8_t *)deep + 24, 32, 1024, 16, &v, &d), AS4_OK);
	json_decref(v);

	/* size */
	as4_diag_init(&d);
	assert_int_equal(as4_json_parse((const uint8_t *)"{}", 2, 1, 16, &v, &d), AS4_E_LIMIT);
	assert_null(v);
}

/* xorshift: reproducible mutations */
static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void agrees_with_jansson_on_mutations(void **state)
{
	(void)state;
	static const char *const seeds[] = {
	        ("{\"pmode\":\"b\",\"message_id\":\"m-1@x\",\"payloads\":[{\"mime_type\":"
	         "\"application/xml\",\"content\":\"PGVudHJ5PjxpZCB2YWx1ZT0iMSIvPjwvZW50cnk+\","
	         "\"compress\":true,\"properties\":[{\"name\":\"a\",\"value\":\"\\u00e9\"}]}]}"),
	        "[1,-2.5e3,true,false,null,\"caf\xc3\xa9 \\ud83d\\ude00\",{\"k\":[0,{}]}]",
	        "{\"id\":\"p\",\"security\":{\"sign\":\"rsa-sha256\"},\"limits\":[1e2,42]}",
	};
	static const char inject[] = "\"\\{}[],:0-+.eEu\x7f\xc3\xa9\xed\xf4\x80\x01 tfn";
	uint64_t x = 0x9e3779b97f4a7c15ull;
	char buf[512];
	for (int round = 0; round < 30000; round++) {
		const char *seed = seeds[rnd(&x) % 3];
		size_t n = strlen(seed);
		memcpy(buf, seed, n);
		int edits = 1 + (int)(rnd(&x) % 3);
		for (int e = 0; e < edits && n > 0; e++) {
			size_t at = (size_t)(rnd(&x) % n);
			char c = inject[rnd(&x) % (sizeof(inject) - 1)];
			switch (rnd(&x) % 4) {
			case 0: /* replace */
				buf[at] = c;
				break;
			case 1: /* insert */
				if (n + 1 < sizeof(buf)) {
					memmove(buf + at + 1, buf + at, n - at);
					buf[at] = c;
					n++;
				}
				break;
			case 2: /* delete */
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
				break;
			default: /* truncate */
				n = at;
				break;
			}
		}
		same_as_reference(buf, n);
	}
}

/* jansson's compact ASCII text of v with the newline as4_json_dump() adds, or NULL. */
static char *reference_dump(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (s == NULL) {
		return NULL;
	}
	size_t n = strlen(s);
	char *t = realloc(s, n + 2);
	assert_non_null(t);
	t[n] = '\n';
	t[n + 1] = '\0';
	return t;
}

static void same_dump(const json_t *v)
{
	char *want = reference_dump(v);
	char *got = as4_json_dump(v);
	if (want == NULL || got == NULL) {
		assert_null(want);
		assert_null(got);
		return;
	}
	assert_string_equal(got, want);
	free(want);
	free(got);
}

/* A random string: plain ASCII runs, escapes, controls, DEL, 2- to 4-byte UTF-8, NULs. */
static size_t random_text(uint64_t *x, char *out, size_t cap)
{
	static const char *const pieces[] = {
	        "a",
	        "Zz09 ~",
	        "\"",
	        "\\",
	        "/",
	        "\b",
	        "\f",
	        "\n",
	        "\r",
	        "\t",
	        "\x01",
	        "\x1f",
	        "\x7f",
	        "\xc3\xa9",
	        "\xc2\x80",
	        "\xdf\xbf",
	        "\xe0\xa0\x80",
	        "\xe2\x82\xac",
	        "\xed\x9f\xbf",
	        "\xee\x80\x80",
	        "\xef\xbf\xbf",
	        "\xf0\x90\x80\x80",
	        "\xf0\x9f\x98\x80",
	        "\xf4\x8f\xbf\xbf",
	        "<Receipt id=\"x\"/>",
	        "",
	};
	size_t n = 0;
	int parts = (int)(rnd(x) % 8);
	for (int i = 0; i < parts; i++) {
		if (rnd(x) % 23 == 0 && n + 1 < cap) {
			out[n++] = '\0'; /* json_stringn keeps it: \u0000 */
			continue;
		}
		const char *p = pieces[rnd(x) % (sizeof(pieces) / sizeof(pieces[0]))];
		size_t k = strlen(p);
		if (n + k >= cap) {
			break;
		}
		memcpy(out + n, p, k);
		n += k;
	}
	out[n] = '\0';
	return n;
}

static json_t *random_value(uint64_t *x, int depth)
{
	char t[256];
	switch (rnd(x) % (depth > 4 ? 5 : 7)) {
	case 0: {
		size_t n = random_text(x, t, sizeof(t));
		return json_stringn(t, n);
	}
	case 1: {
		static const json_int_t ints[] = {0, 1, -1, 42, 1000000007, INT64_MAX, INT64_MIN};
		return json_integer(rnd(x) % 2 ? ints[rnd(x) % 7] : (json_int_t)rnd(x));
	}
	case 2:
		return json_true();
	case 3:
		return json_false();
	case 4:
		return json_null();
	case 5: {
		json_t *a = json_array();
		int n = (int)(rnd(x) % 5);
		for (int i = 0; i < n; i++) {
			json_array_append_new(a, random_value(x, depth + 1));
		}
		return a;
	}
	default: {
		json_t *o = json_object();
		int n = (int)(rnd(x) % 6);
		for (int i = 0; i < n; i++) {
			size_t k = random_text(x, t, sizeof(t));
			json_object_setn_new(o, t, k, random_value(x, depth + 1));
		}
		return o;
	}
	}
}

/* Long strings with one byte of each kind at every place: the word-at-a-time scan's edges. */
static void strings_scanned_by_words(void **state)
{
	(void)state;
	static const char *const odd[] = {"\"", "\\n", "\x1f", "\x80", "\xc3\xa9", "\x7f",
	                                  " ",  "!",   "#",    "[",    "]",        "\\u00e9"};
	char buf[128];
	for (size_t len = 0; len < 40; len++) {
		for (size_t at = 0; at <= len; at++) {
			for (size_t k = 0; k < sizeof(odd) / sizeof(odd[0]); k++) {
				size_t n = 0;
				buf[n++] = '[';
				buf[n++] = '"';
				for (size_t i = 0; i < len; i++) {
					if (i == at) {
						memcpy(buf + n, odd[k], strlen(odd[k]));
						n += strlen(odd[k]);
					}
					buf[n++] = (char)('A' + (i % 26));
				}
				buf[n++] = '"';
				buf[n++] = ']';
				same_as_reference(buf, n);
				json_t *v = NULL;
				struct as4_diag d;
				if (parse(buf, n, &v, &d) == AS4_OK) {
					same_dump(v);
					json_decref(v);
				}
			}
		}
	}
}

static void dump_agrees_with_jansson(void **state)
{
	(void)state;
	uint64_t x = 0x2545f4914f6cdd1dull;
	for (int round = 0; round < 20000; round++) {
		json_t *top = rnd(&x) % 2 ? json_object() : json_array();
		int n = (int)(rnd(&x) % 6);
		for (int i = 0; i < n; i++) {
			char k[8];
			snprintf(k, sizeof(k), "k%d", i);
			json_t *v = random_value(&x, 1);
			if (json_is_object(top)) {
				json_object_set_new(top, k, v);
			} else {
				json_array_append_new(top, v);
			}
		}
		same_dump(top);
		json_decref(top);
	}
	/* what it leaves to jansson: reals, deep nesting, invalid UTF-8 (refused), scalars */
	json_t *v = json_pack("{s:f, s:f, s:[f]}", "took_ms", 0.125, "big", 1e300, "l", -2.0);
	same_dump(v);
	json_decref(v);
	json_t *deep = json_array();
	json_t *at = deep;
	for (int i = 0; i < 200; i++) {
		json_t *in = json_array();
		json_array_append_new(at, in);
		at = in;
	}
	same_dump(deep);
	json_decref(deep);
	static const char *const bad[] = {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	                                  "\xe2\x82", "\x80",         "\xff"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *o = json_object();
		json_object_set_new(o, "s", json_stringn_nocheck(bad[i], strlen(bad[i])));
		same_dump(o);
		assert_null(as4_json_dump(o));
		json_decref(o);
	}
	json_t *str = json_string("x");
	same_dump(str);
	json_decref(str);
	json_t *empty = json_object();
	same_dump(empty);
	json_decref(empty);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(accepts_what_jansson_accepts),
	        cmocka_unit_test(refuses_what_jansson_refuses),
	        cmocka_unit_test(errors_name_the_place),
	        cmocka_unit_test(agrees_with_jansson_on_mutations),
	        cmocka_unit_test(strings_scanned_by_words),
	        cmocka_unit_test(dump_agrees_with_jansson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
