/* SPDX-License-Identifier: Apache-2.0 */
#include "as4/admin_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as4/str.h"

/*
 * A strict RFC 8259 parser that builds jansson values. jansson's own loader reads a document
 * one character at a time through a stream with a UTF-8 check per character: for a submission
 * that is mostly one base64 string it was 12 % of the sender's instructions. Here a string
 * without escapes or non-ASCII bytes is found by one table lookup per byte and copied once.
 * Same contract as before: one object or array, nothing but whitespace after it, UTF-8 (no
 * overlong forms, no surrogates, nothing above U+10FFFF), no duplicate keys, no NUL (not even
 * as \u0000), integers within json_int_t, finite reals, nesting bounded before it costs stack.
 */
struct jparse {
	const uint8_t *buf;
	const uint8_t *p;
	const uint8_t *end;
	size_t depth;
	size_t max_depth;
	const char *why; /* first error: what was wrong */
	size_t at;       /* byte offset of the error */
	bool too_deep;   /* the error is the nesting limit (AS4_E_LIMIT) */
};

/* A byte that stands in a string as it is and ends nothing: ASCII 0x20-0x7f but " and \ */
static inline bool plain_byte(uint8_t c)
{
	return (uint8_t)(c - 0x20) < 0x60 && c != '"' && c != '\\';
}

/*
 * The end of the run of plain bytes at p: eight at a time while none of them is below 0x20,
 * at or above 0x80, '"' or '\\' (a submission is mostly one long base64 string), then byte by
 * byte. Each test is exact for "some byte of the word is such a byte".
 */
static const uint8_t *plain_run(const uint8_t *p, const uint8_t *end)
{
	const uint64_t ones = 0x0101010101010101ull;
	const uint64_t highs = 0x8080808080808080ull;
	while (end - p >= 8) {
		uint64_t x;
		memcpy(&x, p, sizeof(x));
		uint64_t q = x ^ (ones * '"');
		uint64_t b = x ^ (ones * '\\');
		uint64_t stop =
		        ((x - ones * 0x20) & ~x) | x | ((q - ones) & ~q) | ((b - ones) & ~b);
		if ((stop & highs) != 0) {
			break;
		}
		p += 8;
	}
	while (p < end && plain_byte(*p)) {
		p++;
	}
	return p;
}

static json_t *jp_fail(struct jparse *j, const uint8_t *at, const char *why)
{
	if (j->why == NULL) {
		j->why = why;
		j->at = (size_t)(at - j->buf);
	}
	return NULL;
}

static void jp_space(struct jparse *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
		j->p++;
	}
}

static int hex_digit(uint8_t c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/* The four hex digits of a \u escape at p (p + 4 <= end checked by the caller); -1 if bad. */
static long hex4(const uint8_t *p)
{
	long v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hex_digit(p[i]);
		if (h < 0) {
			return -1;
		}
		v = v * 16 + h;
	}
	return v;
}

/* Length of the valid UTF-8 sequence of 2-4 bytes at p (RFC 3629), 0 when invalid. */
static size_t utf8_seq(const uint8_t *p, const uint8_t *end)
{
	uint8_t c = p[0];
	size_t n;
	uint32_t cp;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1fu;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0fu;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07u;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n) {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			return 0;
		}
		cp = (cp << 6) | (p[i] & 0x3fu);
	}
	/* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff)) {
		return 0;
	}
	return n;
}

static size_t put_utf8(uint8_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (uint8_t)(0xc0 | (cp >> 6));
		o[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (uint8_t)(0xe0 | (cp >> 12));
		o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (uint8_t)(0xf0 | (cp >> 18));
	o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * The string whose opening quote is at j->p. Returns its bytes in *out (heap, NUL-terminated,
 * *len without the NUL) or, for a string without escapes or non-ASCII bytes, borrowed from the
 * document with *out NULL and *plain set. false on error.
 */
static bool jp_string(struct jparse *j, const uint8_t **plain, uint8_t **out, size_t *len)
{
	const uint8_t *s = ++j->p;
	const uint8_t *p = s;
	*out = NULL;
	*plain = NULL;
	p = plain_run(p, j->end);
	if (p < j->end && *p == '"') {
		*plain = s;
		*len = (size_t)(p - s);
		j->p = p + 1;
		return true;
	}
	/* escapes or UTF-8: find the end, then decode (the result is never longer) */
	const uint8_t *q = p;
	while (q < j->end && *q != '"') {
		if (*q == '\\' && j->end - q < 2) {
			q = j->end; /* a backslash as the last byte */
			break;
		}
		q += *q == '\\' ? 2 : 1;
	}
	if (q >= j->end) {
		jp_fail(j, s - 1, "unterminated string");
		return false;
	}
	uint8_t *o = malloc((size_t)(q - s) + 1);
	if (o == NULL) {
		jp_fail(j, s, "out of memory");
		return false;
	}
	size_t n = (size_t)(p - s);
	memcpy(o, s, n);
	while (p < q) {
		uint8_t c = *p;
		if (plain_byte(c)) {
			o[n++] = c;
			p++;
		} else if (c >= 0x80) {
			size_t k = utf8_seq(p, q);
			if (k == 0) {
				free(o);
				jp_fail(j, p, "invalid UTF-8 in a string");
				return false;
			}
			memcpy(o + n, p, k);
			n += k;
			p += k;
		} else if (c != '\\') {
			free(o);
			jp_fail(j, p, "control character in a string (escape it)");
			return false;
		} else {
			uint8_t e = p[1];
			static const char from[] = "\"\\/bfnrt";
			static const char to[] = "\"\\/\b\f\n\r\t";
			const char *hit = e != '\0' ? strchr(from, e) : NULL;
			if (hit != NULL) {
				o[n++] = (uint8_t)to[hit - from];
				p += 2;
				continue;
			}
			long cp = e == 'u' && q - p >= 6 ? hex4(p + 2) : -1;
			const uint8_t *esc = p;
			p += 6;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				/* a high surrogate needs its low half: \uD83D\uDE00 */
				long lo = q - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2)
				                                                    : -1;
				if (lo < 0xdc00 || lo > 0xdfff) {
					free(o);
					jp_fail(j, esc, "invalid \\u escape (lone surrogate)");
					return false;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				cp = -1;
			} else if (cp == 0) {
				/* as jansson without JSON_ALLOW_NUL: C strings all the way */
				free(o);
				jp_fail(j, esc, "\\u0000 is not allowed in strings");
				return false;
			}
			if (cp < 0) {
				free(o);
				jp_fail(j, esc, "invalid escape in a string");
				return false;
			}
			n += put_utf8(o + n, (uint32_t)cp);
		}
	}
	o[n] = '\0';
	*out = o;
	*len = n;
	j->p = q + 1;
	return true;
}

static json_t *jp_number(struct jparse *j)
{
	const uint8_t *s = j->p;
	const uint8_t *p = s;
	bool real = false;
	if (p < j->end && *p == '-') {
		p++;
	}
	if (p < j->end && *p == '0') {
		p++;
	} else if (p < j->end && *p >= '1' && *p <= '9') {
		while (p < j->end && *p >= '0' && *p <= '9') {
			p++;
		}
	} else {
		return jp_fail(j, s, "invalid token");
	}
	if (p < j->end && *p == '.') {
		real = true;
		p++;
		if (p >= j->end || *p < '0' || *p > '9') {
			return jp_fail(j, s, "invalid number");
		}
		while (p < j->end && *p >= '0' && *p <= '9') {
			p++;
		}
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		real = true;
		p++;
		if (p < j->end && (*p == '+' || *p == '-')) {
			p++;
		}
		if (p >= j->end || *p < '0' || *p > '9') {
			return jp_fail(j, s, "invalid number");
		}
		while (p < j->end && *p >= '0' && *p <= '9') {
			p++;
		}
	}
	/* strtod/strtoll need a terminated copy; a long one (1.000...0) goes to the heap */
	char small[64];
	size_t n = (size_t)(p - s);
	char *text = n < sizeof(small) ? small : malloc(n + 1);
	if (text == NULL) {
		return jp_fail(j, s, "out of memory");
	}
	memcpy(text, s, n);
	text[n] = '\0';
	j->p = p;
	errno = 0;
	json_t *v = NULL;
	const char *bad = NULL;
	if (real) {
		/* the C locale's '.' (as4d never calls setlocale) */
		double x = strtod(text, NULL);
		if (errno == ERANGE && (x == HUGE_VAL || x == -HUGE_VAL)) {
			bad = "real number overflow";
		} else {
			v = json_real(x);
		}
	} else {
		long long x = strtoll(text, NULL, 10);
		if (errno == ERANGE) {
			bad = "too big integer";
		} else {
			v = json_integer((json_int_t)x);
		}
	}
	if (text != small) {
		free(text);
	}
	if (bad != NULL) {
		return jp_fail(j, s, bad);
	}
	return v != NULL ? v : jp_fail(j, s, "out of memory");
}

static json_t *jp_value(struct jparse *j);

static json_t *jp_array(struct jparse *j)
{
	json_t *a = json_array();
	if (a == NULL) {
		return jp_fail(j, j->p, "out of memory");
	}
	j->p++;
	jp_space(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return a;
	}
	for (;;) {
		json_t *v = jp_value(j);
		if (v == NULL || json_array_append_new(a, v) != 0) {
			json_decref(a);
			return jp_fail(j, j->p, "out of memory");
		}
		jp_space(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			return a;
		}
		json_decref(a);
		return jp_fail(j, j->p, "',' or ']' expected");
	}
}

static json_t *jp_object(struct jparse *j)
{
	json_t *o = json_object();
	if (o == NULL) {
		return jp_fail(j, j->p, "out of memory");
	}
	j->p++;
	jp_space(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return o;
	}
	for (;;) {
		if (j->p >= j->end || *j->p != '"') {
			json_decref(o);
			return jp_fail(j, j->p, "string or '}' expected");
		}
		const uint8_t *key_at = j->p;
		const uint8_t *plain = NULL;
		uint8_t *heap = NULL;
		size_t klen = 0;
		if (!jp_string(j, &plain, &heap, &klen)) {
			json_decref(o);
			return NULL;
		}
		const char *key = heap != NULL ? (const char *)heap : (const char *)plain;
		const char *bad = NULL;
		if (memchr(key, '\0', klen) != NULL) {
			bad = "NUL byte in object key not supported";
		} else if (json_object_getn(o, key, klen) != NULL) {
			bad = "duplicate object key";
		}
		json_t *v = NULL;
		if (bad == NULL) {
			jp_space(j);
			if (j->p < j->end && *j->p == ':') {
				j->p++;
				v = jp_value(j);
			} else {
				bad = "':' expected";
			}
		}
		if (v != NULL && json_object_setn_new_nocheck(o, key, klen, v) != 0) {
			bad = "out of memory";
		}
		free(heap);
		if (bad != NULL || v == NULL) {
			json_decref(o);
			return jp_fail(j, bad != NULL ? key_at : j->p, bad != NULL ? bad : "");
		}
		jp_space(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			jp_space(j);
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			return o;
		}
		json_decref(o);
		return jp_fail(j, j->p, "',' or '}' expected");
	}
}

static bool literal(struct jparse *j, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) {
		return false;
	}
	j->p += n;
	return true;
}

static json_t *jp_value(struct jparse *j)
{
	jp_space(j);
	if (j->p >= j->end) {
		return jp_fail(j, j->p, "unexpected end of input");
	}
	uint8_t c = *j->p;
	if (c == '{' || c == '[') {
		if (++j->depth > j->max_depth) {
			j->too_deep = j->why == NULL;
			return jp_fail(j, j->p, "nested too deep");
		}
		json_t *v = c == '{' ? jp_object(j) : jp_array(j);
		j->depth--;
		return v;
	}
	if (c == '"') {
		const uint8_t *plain = NULL;
		uint8_t *heap = NULL;
		size_t len = 0;
		if (!jp_string(j, &plain, &heap, &len)) {
			return NULL;
		}
		json_t *v = json_stringn_nocheck(
		        heap != NULL ? (const char *)heap : (const char *)plain, len);
		free(heap);
		return v != NULL ? v : jp_fail(j, j->p, "out of memory");
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		return jp_number(j);
	}
	const uint8_t *at = j->p;
	if (literal(j, "true")) {
		return json_true();
	}
	if (literal(j, "false")) {
		return json_false();
	}
	if (literal(j, "null")) {
		return json_null();
	}
	return jp_fail(j, at, "invalid token");
}

as4_err as4_json_parse(const uint8_t *buf, size_t len, size_t max_len, size_t max_depth,
                       json_t **out, struct as4_diag *d)
{
	*out = NULL;
	if (len > max_len) {
		return as4_diag_set(d, AS4_E_LIMIT, "JSON body of %zu bytes exceeds %zu bytes", len,
		                    max_len);
	}
	if (len == 0) {
		return as4_diag_set(d, AS4_E_PARSE, "empty body: a JSON object was expected");
	}
	struct jparse j = {buf, buf, buf + len, 0, max_depth, NULL, 0, false};
	json_t *v = NULL;
	jp_space(&j);
	if (j.p < j.end && (*j.p == '{' || *j.p == '[')) {
		v = jp_value(&j);
	} else {
		jp_fail(&j, j.p, "'[' or '{' expected");
	}
	if (v != NULL) {
		jp_space(&j);
		if (j.p != j.end) {
			json_decref(v);
			v = jp_fail(&j, j.p, "end of input expected");
		}
	}
	if (v == NULL) {
		if (j.too_deep) {
			return as4_diag_set(d, AS4_E_LIMIT,
			                    "JSON nested deeper than %zu levels (byte %zu)",
			                    max_depth, j.at);
		}
		size_t line = 1;
		size_t col = 1;
		for (size_t i = 0; i < j.at && i < len; i++) {
			if (buf[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		return as4_diag_set(d, AS4_E_PARSE, "invalid JSON at line %zu column %zu: %s", line,
		                    col, j.why != NULL ? j.why : "invalid value");
	}
	*out = v;
	return AS4_OK;
}

static void field_path(char *out, size_t cap, const char *prefix, const char *key)
{
	if (as4_str_fmt(out, cap, "%s%s", prefix != NULL ? prefix : "", key) != AS4_OK) {
		/* a truncated path still points at the field */
	}
}

as4_err as4_json_str(const json_t *obj, const char *prefix, const char *key, bool required,
                     size_t max_len, const char **out, struct as4_diag *d)
{
	char path[AS4_DIAG_FIELD_MAX];
	field_path(path, sizeof(path), prefix, key);
	*out = NULL;
	json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v)) {
		if (required) {
			return as4_diag_set_field(d, AS4_E_INVAL, path, "%s is required", path);
		}
		return AS4_OK;
	}
	if (!json_is_string(v)) {
		return as4_diag_set_field(d, AS4_E_INVAL, path, "%s must be a string", path);
	}
	size_t n = json_string_length(v);
	if (n > (max_len ? max_len : 65536)) {
		return as4_diag_set_field(d, AS4_E_INVAL, path, "%s is longer than %zu characters",
		                          path, max_len ? max_len : 65536);
	}
	const char *s = json_string_value(v);
	if (strlen(s) != n) {
		return as4_diag_set_field(d, AS4_E_INVAL, path, "%s contains a NUL character",
		                          path);
	}
	*out = s;
	return AS4_OK;
}

as4_err as4_json_bool(const json_t *obj, const char *prefix, const char *key, bool *out,
                      struct as4_diag *d)
{
	json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v)) {
		return AS4_OK;
	}
	if (!json_is_boolean(v)) {
		char path[AS4_DIAG_FIELD_MAX];
		field_path(path, sizeof(path), prefix, key);
		return as4_diag_set_field(d, AS4_E_INVAL, path, "%s must be true or false", path);
	}
	*out = json_is_true(v);
	return AS4_OK;
}

as4_err as4_json_uint(const json_t *obj, const char *prefix, const char *key, uint64_t max,
                      uint64_t *out, struct as4_diag *d)
{
	json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v)) {
		return AS4_OK;
	}
	char path[AS4_DIAG_FIELD_MAX];
	field_path(path, sizeof(path), prefix, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max) {
		return as4_diag_set_field(d, AS4_E_INVAL, path,
		                          "%s must be an integer between 0 and %llu", path,
		                          (unsigned long long)max);
	}
	*out = (uint64_t)json_integer_value(v);
	return AS4_OK;
}

as4_err as4_json_array(const json_t *obj, const char *prefix, const char *key, size_t max_items,
                       const json_t **out, struct as4_diag *d)
{
	*out = NULL;
	json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v)) {
		return AS4_OK;
	}
	char path[AS4_DIAG_FIELD_MAX];
	field_path(path, sizeof(path), prefix, key);
	if (!json_is_array(v)) {
		return as4_diag_set_field(d, AS4_E_INVAL, path, "%s must be an array", path);
	}
	if (json_array_size(v) > max_items) {
		return as4_diag_set_field(d, AS4_E_LIMIT, path, "%s has more than %zu entries",
		                          path, max_items);
	}
	*out = v;
	return AS4_OK;
}

as4_err as4_json_only(const json_t *obj, const char *prefix, const char *const *allowed,
                      struct as4_diag *d)
{
	if (!json_is_object(obj)) {
		char path[AS4_DIAG_FIELD_MAX];
		field_path(path, sizeof(path), prefix, "");
		return as4_diag_set_field(d, AS4_E_INVAL, path, "%s must be a JSON object",
		                          path[0] ? path : "the body");
	}
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)(uintptr_t)obj, key, v)
	{
		(void)v;
		bool ok = false;
		for (const char *const *a = allowed; *a != NULL; a++) {
			if (strcmp(*a, key) == 0) {
				ok = true;
				break;
			}
		}
		if (!ok) {
			char path[AS4_DIAG_FIELD_MAX];
			field_path(path, sizeof(path), prefix, key);
			return as4_diag_set_field(d, AS4_E_INVAL, path, "unknown field %s", path);
		}
	}
	return AS4_OK;
}

/*
 * The writer behind as4_json_dump(): byte for byte what json_dumps(v, JSON_COMPACT |
 * JSON_ENSURE_ASCII) writes, without jansson's callback per run of bytes and UTF-8 decoding
 * of every character (an answer to GET /messages/{id} cost ~100 000 instructions there).
 * Whatever it does not reproduce itself (a real, invalid UTF-8, very deep nesting, a value
 * type it does not know) makes it give up, and jansson writes the whole document.
 */
struct jwrite {
	char *p;
	size_t n;
	size_t cap;
	bool fail; /* out of memory, or a value left to jansson */
};

/* Nesting beyond this is left to jansson (which also detects cycles). */
#define JW_DEPTH_MAX 64u

static void jw_put(struct jwrite *w, const char *s, size_t n)
{
	if (w->fail) {
		return;
	}
	if (w->cap - w->n < n + 2) { /* room for the newline and NUL at the end */
		size_t cap = w->cap < 1024 ? 1024 : w->cap;
		while (cap - w->n < n + 2) {
			if (cap > SIZE_MAX / 2) {
				w->fail = true;
				return;
			}
			cap *= 2;
		}
		char *q = realloc(w->p, cap);
		if (q == NULL) {
			w->fail = true;
			return;
		}
		w->p = q;
		w->cap = cap;
	}
	memcpy(w->p + w->n, s, n);
	w->n += n;
}

/* One UTF-8 sequence at p (n > 0 bytes left), as jansson's utf8_iterate accepts it: its code
 * point into *cp and its length, or 0 when it is not valid UTF-8. */
static size_t jw_utf8(const uint8_t *p, size_t n, int32_t *cp)
{
	uint8_t c = p[0];
	size_t len;
	int32_t v;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if (n < len) {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			return 0;
		}
		v = (v << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates and code points above U+10FFFF are refused */
	if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff)) {
		return 0;
	}
	*cp = v;
	return len;
}

static void jw_string(struct jwrite *w, const char *str, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const uint8_t *p = (const uint8_t *)str;
	const uint8_t *end = p + len;
	jw_put(w, "\"", 1);
	while (p < end && !w->fail) {
		const uint8_t *run = p;
		p = plain_run(p, end);
		jw_put(w, (const char *)run, (size_t)(p - run));
		if (p == end) {
			break;
		}
		int32_t cp = 0;
		size_t n = jw_utf8(p, (size_t)(end - p), &cp);
		if (n == 0) {
			w->fail = true; /* jansson refuses the document */
			return;
		}
		p += n;
		char seq[12];
		size_t sl = 2;
		seq[0] = '\\';
		switch (cp) {
		case '\\':
			seq[1] = '\\';
			break;
		case '"':
			seq[1] = '"';
			break;
		case '\b':
			seq[1] = 'b';
			break;
		case '\f':
			seq[1] = 'f';
			break;
		case '\n':
			seq[1] = 'n';
			break;
		case '\r':
			seq[1] = 'r';
			break;
		case '\t':
			seq[1] = 't';
			break;
		default: {
			/* other controls and everything above ASCII as \uXXXX (a UTF-16 pair above
			 * the BMP), upper-case hex */
			uint32_t u[2] = {(uint32_t)cp, 0};
			size_t k = 1;
			if (cp >= 0x10000) {
				uint32_t c = (uint32_t)cp - 0x10000;
				u[0] = 0xd800 | (c >> 10);
				u[1] = 0xdc00 | (c & 0x3ff);
				k = 2;
			}
			sl = 0;
			for (size_t i = 0; i < k; i++) {
				seq[sl++] = '\\';
				seq[sl++] = 'u';
				seq[sl++] = hex[(u[i] >> 12) & 15];
				seq[sl++] = hex[(u[i] >> 8) & 15];
				seq[sl++] = hex[(u[i] >> 4) & 15];
				seq[sl++] = hex[u[i] & 15];
			}
			break;
		}
		}
		jw_put(w, seq, sl);
	}
	jw_put(w, "\"", 1);
}

static void jw_value(struct jwrite *w, const json_t *v, unsigned depth)
{
	if (w->fail) {
		return;
	}
	if (depth > JW_DEPTH_MAX) {
		w->fail = true;
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		jw_put(w, "{", 1);
		bool first = true;
		for (void *it = json_object_iter((json_t *)(uintptr_t)v); it != NULL && !w->fail;
		     it = json_object_iter_next((json_t *)(uintptr_t)v, it)) {
			if (!first) {
				jw_put(w, ",", 1);
			}
			first = false;
			jw_string(w, json_object_iter_key(it), json_object_iter_key_len(it));
			jw_put(w, ":", 1);
			jw_value(w, json_object_iter_value(it), depth + 1);
		}
		jw_put(w, "}", 1);
		break;
	}
	case JSON_ARRAY: {
		jw_put(w, "[", 1);
		size_t n = json_array_size(v);
		for (size_t i = 0; i < n && !w->fail; i++) {
			if (i > 0) {
				jw_put(w, ",", 1);
			}
			jw_value(w, json_array_get(v, i), depth + 1);
		}
		jw_put(w, "]", 1);
		break;
	}
	case JSON_STRING:
		jw_string(w, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER: {
		char t[32];
		int n = snprintf(t, sizeof(t), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		if (n <= 0 || (size_t)n >= sizeof(t)) {
			w->fail = true;
			return;
		}
		jw_put(w, t, (size_t)n);
		break;
	}
	case JSON_TRUE:
		jw_put(w, "true", 4);
		break;
	case JSON_FALSE:
		jw_put(w, "false", 5);
		break;
	case JSON_NULL:
		jw_put(w, "null", 4);
		break;
	default: /* JSON_REAL: jansson's own number formatting */
		w->fail = true;
		break;
	}
}

char *as4_json_dump(const json_t *v)
{
	struct jwrite w = {0};
	if (v != NULL && (json_is_object(v) || json_is_array(v))) {
		jw_value(&w, v, 0);
	} else {
		w.fail = true;
	}
	if (!w.fail) {
		w.p[w.n++] = '\n'; /* jw_put kept room for both */
		w.p[w.n] = '\0';
		return w.p;
	}
	free(w.p);
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (s == NULL) {
		return NULL;
	}
	size_t n = strlen(s);
	char *t = realloc(s, n + 2);
	if (t == NULL) {
		free(s);
		return NULL;
	}
	t[n] = '\n';
	t[n + 1] = '\0';
	return t;
}
