/* SPDX-License-Identifier: Apache-2.0 */
/*
 * String and number helpers that replace the banned libc calls (STYLE rule 22), plus the
 * overflow-checked size arithmetic used on wire values. All functions are thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "as4/compiler.h"
#include "as4/err.h"

/*
 * Copy src into dst (capacity cap, including the NUL). Returns AS4_E_LIMIT when src does not
 * fit; dst then holds a truncated, NUL-terminated prefix. cap must be > 0.
 */
AS4_MUST_CHECK as4_err as4_str_copy(char *dst, size_t cap, const char *src);

/* Append src to the string in dst (capacity cap). AS4_E_LIMIT when it does not fit. */
AS4_MUST_CHECK as4_err as4_str_cat(char *dst, size_t cap, const char *src);

/* snprintf that reports truncation: AS4_E_LIMIT when the output did not fit. */
AS4_MUST_CHECK AS4_PRINTF(3, 4) as4_err as4_str_fmt(char *dst, size_t cap, const char *fmt, ...);

/* Heap copy of s (free with free()); NULL for NULL s or out of memory. */
char *as4_str_dup(const char *s);

/* Heap copy of n bytes plus NUL; NULL = out of memory. */
char *as4_str_ndup(const char *s, size_t n);

/* True when s starts with prefix. */
bool as4_str_starts(const char *s, const char *prefix);

/* True when s ends with suffix. */
bool as4_str_ends(const char *s, const char *suffix);

/* ASCII-only case-insensitive equality (never locale-dependent). */
bool as4_str_ieq(const char *a, const char *b);

/* ASCII-only case-insensitive comparison of n bytes. */
bool as4_str_nieq(const char *a, const char *b, size_t n);

/* ASCII lower-casing in place (never locale-dependent). */
void as4_str_lower(char *s);

/*
 * Trim XML whitespace (space, tab, CR, LF) at both ends of the n bytes at *s: adjusts *s and
 * *n. Works on any bytes, no NUL needed.
 */
void as4_str_trim(const char **s, size_t *n);

/*
 * Parse an unsigned decimal integer occupying all of s (no sign, no spaces, at least one digit)
 * that is <= max. AS4_E_INVAL for anything else.
 */
AS4_MUST_CHECK as4_err as4_parse_u64(const char *s, uint64_t max, uint64_t *out);

/*
 * Parse a size with an optional binary suffix (K, M, G; optional trailing B: "64M", "1GB",
 * "512k", "4096"). AS4_E_INVAL on syntax or overflow.
 */
AS4_MUST_CHECK as4_err as4_parse_size(const char *s, uint64_t *out);

/*
 * Parse a duration: a number with unit ms, s, m, h or d ("30s", "15m", "30d", "250ms"); a bare
 * number is seconds. Result in milliseconds. AS4_E_INVAL on syntax or overflow.
 */
AS4_MUST_CHECK as4_err as4_parse_duration_ms(const char *s, uint64_t *out);

/*
 * Constant-time comparison of two byte strings of the same length n (time depends only on n).
 * Returns true when equal.
 */
bool as4_ct_equal(const void *a, const void *b, size_t n);

/* Overflow-checked a + b into *out; false (and *out untouched) on overflow. */
static inline AS4_MUST_CHECK bool as4_add_size(size_t a, size_t b, size_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

/* Overflow-checked a * b into *out; false (and *out untouched) on overflow. */
static inline AS4_MUST_CHECK bool as4_mul_size(size_t a, size_t b, size_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

/* Lower-case hex of n bytes into out (capacity >= 2n+1). */
void as4_hex_encode(const uint8_t *p, size_t n, char *out);

/*
 * Standard base64 (RFC 4648 §4) of n bytes as a heap string (free()); NULL = out of memory.
 * line_len > 0 inserts "\r\n" every line_len output characters (MIME uses 76).
 */
char *as4_b64_encode(const uint8_t *p, size_t n, size_t line_len);

/*
 * Decode base64, skipping XML/MIME whitespace (space, tab, CR, LF); padding is optional only
 * at the very end. Writes at most cap bytes to out and the count to *out_len.
 * AS4_E_INVAL for other characters or bad padding, AS4_E_LIMIT when out is too small.
 * as4_b64_decoded_max(n) gives a cap that always suffices.
 */
AS4_MUST_CHECK as4_err as4_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap,
                                      size_t *out_len);

/* Upper bound of the decoded size of n base64 characters. */
static inline size_t as4_b64_decoded_max(size_t n)
{
	return n / 4 * 3 + 3;
}

/*
 * A new random UUID v4 string ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx") from the OpenSSL CSPRNG
 * into out (capacity >= 37). AS4_E_CRYPTO if the RNG fails.
 */
AS4_MUST_CHECK as4_err as4_uuid_v4(char out[37]);

/* True when s is a valid XML encoding name (XML 1.0 §4.3.3 EncName: [A-Za-z]([A-Za-z0-9._]|-)*). */
bool as4_xml_encname_valid(const char *s);
