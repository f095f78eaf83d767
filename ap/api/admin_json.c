/* SPDX-License-Identifier: Apache-2.0 */
#include "as4/admin_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as4/str.h"

/* Nesting depth of [ and { outside strings, found before jansson recurses into them. */
static as4_err check_depth(const uint8_t *buf, size_t len, size_t max_depth, struct as4_diag *d)
{
	size_t depth = 0;
	bool in_str = false;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = buf[i];
		if (in_str) {
			if (c == '\\') {
				i++;
			} else if (c == '"') {
				in_str = false;
			}
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			depth++;
			if (depth > max_depth) {
				return as4_diag_set(d, AS4_E_LIMIT,
				                    "JSON nested deeper than %zu levels (byte %zu)",
				                    max_depth, i);
			}
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return AS4_OK;
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
	as4_err err = check_depth(buf, len, max_depth, d);
	if (err != AS4_OK) {
		return err;
	}
	json_error_t je;
	json_t *v = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
	if (v == NULL) {
		return as4_diag_set(d, AS4_E_PARSE, "invalid JSON at line %d column %d: %s",
		                    je.line, je.column, je.text);
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

char *as4_json_dump(const json_t *v)
{
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
