/* SPDX-License-Identifier: Apache-2.0 */
#include "as4/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

as4_err as4_str_copy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap) {
		memcpy(dst, src, cap - 1);
		dst[cap - 1] = '\0';
		return AS4_E_LIMIT;
	}
	memcpy(dst, src, n + 1);
	return AS4_OK;
}

as4_err as4_str_cat(char *dst, size_t cap, const char *src)
{
	size_t used = strnlen(dst, cap);
	if (used >= cap) {
		return AS4_E_LIMIT;
	}
	return as4_str_copy(dst + used, cap - used, src);
}

as4_err as4_str_fmt(char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
	if (n < 0) {
		return AS4_E_INVAL;
	}
	return (size_t)n < cap ? AS4_OK : AS4_E_LIMIT;
}

char *as4_str_dup(const char *s)
{
	if (s == NULL) {
		return NULL;
	}
	return as4_str_ndup(s, strlen(s));
}

char *as4_str_ndup(const char *s, size_t n)
{
	size_t total;
	if (!as4_add_size(n, 1, &total)) {
		return NULL;
	}
	char *p = malloc(total);
	if (p == NULL) {
		return NULL;
	}
	if (n > 0) {
		memcpy(p, s, n);
	}
	p[n] = '\0';
	return p;
}

bool as4_str_starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool as4_str_ends(const char *s, const char *suffix)
{
	size_t n = strlen(s);
	size_t m = strlen(suffix);
	return m <= n && memcmp(s + n - m, suffix, m) == 0;
}

static unsigned char ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

bool as4_str_nieq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char x = ascii_lower((unsigned char)a[i]);
		unsigned char y = ascii_lower((unsigned char)b[i]);
		if (x != y) {
			return false;
		}
		if (x == '\0') {
			return true;
		}
	}
	return true;
}

bool as4_str_ieq(const char *a, const char *b)
{
	size_t n = strlen(a);
	return n == strlen(b) && as4_str_nieq(a, b, n);
}

void as4_str_lower(char *s)
{
	for (; *s != '\0'; s++) {
		*s = (char)ascii_lower((unsigned char)*s);
	}
}

static bool is_xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void as4_str_trim(const char **s, size_t *n)
{
	while (*n > 0 && is_xml_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_xml_space((*s)[*n - 1])) {
		(*n)--;
	}
}

as4_err as4_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (s == NULL || *s == '\0') {
		return AS4_E_INVAL;
	}
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			return AS4_E_INVAL;
		}
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v)) {
			return AS4_E_INVAL;
		}
	}
	if (v > max) {
		return AS4_E_INVAL;
	}
	*out = v;
	return AS4_OK;
}

/* Split s into a decimal number and a unit suffix (at most 7 chars). */
static as4_err split_number(const char *s, uint64_t *num, char unit[8])
{
	char digits[24];
	size_t i = 0;
	while (s[i] >= '0' && s[i] <= '9') {
		if (i + 1 >= sizeof(digits)) {
			return AS4_E_INVAL;
		}
		digits[i] = s[i];
		i++;
	}
	digits[i] = '\0';
	if (i == 0) {
		return AS4_E_INVAL;
	}
	if (as4_str_copy(unit, 8, s + i) != AS4_OK) {
		return AS4_E_INVAL;
	}
	return as4_parse_u64(digits, UINT64_MAX, num);
}

as4_err as4_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *unit;
		uint64_t mul;
	} units[] = {{"", 1},
	             {"b", 1},
	             {"k", 1024},
	             {"kb", 1024},
	             {"m", 1024 * 1024},
	             {"mb", 1024 * 1024},
	             {"g", 1024ULL * 1024 * 1024},
	             {"gb", 1024ULL * 1024 * 1024}};
	uint64_t n;
	char unit[8];
	if (split_number(s, &n, unit) != AS4_OK) {
		return AS4_E_INVAL;
	}
	for (size_t i = 0; i < AS4_ARRAY_LEN(units); i++) {
		if (as4_str_ieq(unit, units[i].unit)) {
			if (__builtin_mul_overflow(n, units[i].mul, out)) {
				return AS4_E_INVAL;
			}
			return AS4_OK;
		}
	}
	return AS4_E_INVAL;
}

as4_err as4_parse_duration_ms(const char *s, uint64_t *out)
{
	uint64_t n;
	char unit[8];
	if (split_number(s, &n, unit) != AS4_OK) {
		return AS4_E_INVAL;
	}
	uint64_t mul;
	if (unit[0] == '\0' || strcmp(unit, "s") == 0) {
		mul = 1000;
	} else if (strcmp(unit, "ms") == 0) {
		mul = 1;
	} else if (strcmp(unit, "m") == 0) {
		mul = 60 * 1000;
	} else if (strcmp(unit, "h") == 0) {
		mul = 3600 * 1000;
	} else if (strcmp(unit, "d") == 0) {
		mul = 24ULL * 3600 * 1000;
	} else {
		return AS4_E_INVAL;
	}
	if (__builtin_mul_overflow(n, mul, out)) {
		return AS4_E_INVAL;
	}
	return AS4_OK;
}

bool as4_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void as4_hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static const char b64_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *as4_b64_encode(const uint8_t *p, size_t n, size_t line_len)
{
	size_t chars;
	if (!as4_add_size(n, 2, &chars)) {
		return NULL;
	}
	chars = chars / 3 * 4;
	size_t total = chars + 1;
	if (line_len > 0) {
		size_t breaks = chars / line_len;
		if (!as4_add_size(total, breaks * 2, &total)) {
			return NULL;
		}
	}
	char *out = malloc(total);
	if (out == NULL) {
		return NULL;
	}
	size_t o = 0;
	size_t col = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t rem = n - i;
		if (rem > 1) {
			v |= (uint32_t)p[i + 1] << 8;
		}
		if (rem > 2) {
			v |= p[i + 2];
		}
		char quad[4] = {b64_alphabet[(v >> 18) & 63], b64_alphabet[(v >> 12) & 63],
		                rem > 1 ? b64_alphabet[(v >> 6) & 63] : '=',
		                rem > 2 ? b64_alphabet[v & 63] : '='};
		for (int k = 0; k < 4; k++) {
			if (line_len > 0 && col == line_len) {
				out[o++] = '\r';
				out[o++] = '\n';
				col = 0;
			}
			out[o++] = quad[k];
			col++;
		}
	}
	out[o] = '\0';
	return out;
}

/*
 * Base64 digit values plus one (0 = not a digit): one load per character instead of a chain
 * of range tests, which mispredicts on every character of random data (a 100 MB FHIR message
 * is 133 MB of base64).
 */
static const uint8_t b64_digit[256] = {
        ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,
        ['H'] = 8,  ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14,
        ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21,
        ['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28,
        ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35,
        ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
        ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49,
        ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
        ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63,
        ['/'] = 64};

static int b64_value(unsigned char c)
{
	return (int)b64_digit[c] - 1;
}

as4_err as4_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	size_t pad = 0;
	size_t sextets = 0;
	for (size_t i = 0; i < n; i++) {
		/*
		 * Whole quanta of four digits (no whitespace, no padding: nearly all of a base64
		 * string) give three bytes at once; anything else takes the character path below.
		 */
		while (bits == 0 && pad == 0 && n - i >= 4 && cap - o >= 3) {
			uint32_t a = b64_digit[(unsigned char)s[i]];
			uint32_t b = b64_digit[(unsigned char)s[i + 1]];
			uint32_t c3 = b64_digit[(unsigned char)s[i + 2]];
			uint32_t d4 = b64_digit[(unsigned char)s[i + 3]];
			if (a == 0 || b == 0 || c3 == 0 || d4 == 0) {
				break;
			}
			uint32_t v = (a - 1) << 18 | (b - 1) << 12 | (c3 - 1) << 6 | (d4 - 1);
			out[o] = (uint8_t)(v >> 16);
			out[o + 1] = (uint8_t)(v >> 8);
			out[o + 2] = (uint8_t)v;
			o += 3;
			i += 4;
			sextets += 4;
		}
		if (i >= n) {
			break;
		}
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			continue;
		}
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0) {
			return AS4_E_INVAL; /* data after padding */
		}
		int v = b64_value(c);
		if (v < 0) {
			return AS4_E_INVAL;
		}
		sextets++;
		acc = (acc << 6) | (uint32_t)v;
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
	/* a lone sextet cannot encode a byte; padding must complete the last quantum */
	if (sextets % 4 == 1 || pad > 2 || (pad > 0 && (sextets + pad) % 4 != 0)) {
		return AS4_E_INVAL;
	}
	*out_len = o;
	return AS4_OK;
}

as4_err as4_uuid_v4(char out[37])
{
	uint8_t r[16];
	if (RAND_bytes(r, sizeof(r)) != 1) {
		return AS4_E_CRYPTO;
	}
	r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
	r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
	char hex[33];
	as4_hex_encode(r, sizeof(r), hex);
	size_t o = 0;
	for (size_t i = 0; i < 32; i++) {
		if (i == 8 || i == 12 || i == 16 || i == 20) {
			out[o++] = '-';
		}
		out[o++] = hex[i];
	}
	out[o] = '\0';
	return AS4_OK;
}

bool as4_xml_encname_valid(const char *s)
{
	if (s == NULL || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z'))) {
		return false;
	}
	for (const char *p = s + 1; *p != '\0'; p++) {
		char c = *p;
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		if (!ok) {
			return false;
		}
	}
	return true;
}
