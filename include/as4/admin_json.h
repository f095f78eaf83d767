/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON layer of the internal API (L5, ap/api/admin_json.c): the only place where JSON from
 * backends and admins is parsed (STYLE rule 11), fuzzed by test/fuzz/fuzz_admin_json.c.
 * Parsing is bounded in size and nesting depth and refuses duplicate keys; typed getters
 * report the field at fault so the API can answer 400/422 naming it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "as4/compiler.h"
#include "as4/diag.h"
#include "as4/err.h"

/*
 * Parse len bytes of JSON (RFC 8259, UTF-8; one object or array, nothing but whitespace
 * after it) into jansson values. Refuses more than max_depth levels of nesting (before they
 * cost stack), duplicate object keys, NUL in strings (also as \u0000), integers outside
 * json_int_t, reals that overflow, and anything over max_len bytes. *out owns a new
 * reference. AS4_E_PARSE with a diagnostic "line 3 column 14: ..." or AS4_E_LIMIT. Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_json_parse(const uint8_t *buf, size_t len, size_t max_len,
                                      size_t max_depth, json_t **out, struct as4_diag *d);

/*
 * Get a string member of obj. A missing member is AS4_OK with *out NULL unless required
 * (then AS4_E_INVAL naming path "<prefix><key>"); a member of another type is AS4_E_INVAL.
 * max_len bounds the string length (0 = 64 KiB). *out is borrowed from obj.
 */
AS4_MUST_CHECK as4_err as4_json_str(const json_t *obj, const char *prefix, const char *key,
                                    bool required, size_t max_len, const char **out,
                                    struct as4_diag *d);

/* Get an optional boolean member (absent: *out keeps its value). AS4_E_INVAL on other types. */
AS4_MUST_CHECK as4_err as4_json_bool(const json_t *obj, const char *prefix, const char *key,
                                     bool *out, struct as4_diag *d);

/* Get an optional non-negative integer member <= max (absent: *out unchanged). */
AS4_MUST_CHECK as4_err as4_json_uint(const json_t *obj, const char *prefix, const char *key,
                                     uint64_t max, uint64_t *out, struct as4_diag *d);

/*
 * Get an optional array member (absent: *out NULL) with at most max_items elements.
 * AS4_E_INVAL when not an array, AS4_E_LIMIT when too long. Borrowed.
 */
AS4_MUST_CHECK as4_err as4_json_array(const json_t *obj, const char *prefix, const char *key,
                                      size_t max_items, const json_t **out, struct as4_diag *d);

/*
 * Refuse members of obj whose names are not in allowed (NULL-terminated list): AS4_E_INVAL
 * naming "<prefix><key>" — catches typos such as "paylods" instead of silently ignoring them.
 */
AS4_MUST_CHECK as4_err as4_json_only(const json_t *obj, const char *prefix,
                                     const char *const *allowed, struct as4_diag *d);

/* Serialise v compactly into a heap string (free()) with a trailing newline; NULL = OOM. */
char *as4_json_dump(const json_t *v);
