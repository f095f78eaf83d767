/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: MIME (ap/ebms3/mime.c). Every input is used twice: as a captured entity
 * (as4_mime_split_entity, then as4_mime_parse) and as "Content-Type line, LF, body" (which
 * also drives as4_mime_header_param). A body that parses is rebuilt with as4_mime_build and
 * parsed again: the parts must come back byte for byte, or the target aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "as4/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void small_limits(struct as4_limits *l)
{
	as4_limits_default(l);
	l->max_parts = 8;
	l->max_header_bytes = 1024;
	l->mem_spool_threshold = 4096;
}

static bool same_bytes(const struct as4_blob *a, const struct as4_blob *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Build, flatten and parse again: what was parsed must survive the round trip. */
static void round_trip(const struct as4_mime *m, struct as4_arena *arena)
{
	if (m->n_parts == 1 && m->parts[0].data.len == 0) {
		return; /* rebuilt as a bare envelope: an empty body, which parse refuses */
	}
	struct as4_mime_out out;
	if (as4_mime_build(&m->parts[0], m->parts + 1, m->n_parts - 1, &out) != AS4_OK) {
		return; /* Content-IDs the builder refuses to write (spaces, quotes, ...) */
	}
	struct as4_buf flat;
	as4_buf_init(&flat, 1u << 26);
	if (as4_mime_out_flatten(&out, &flat) != AS4_OK) {
		abort();
	}
	if (flat.len != out.total_len) {
		abort();
	}
	struct as4_limits lim;
	as4_limits_default(&lim);
	struct as4_blob body;
	as4_blob_borrow(&body, flat.data, flat.len);
	struct as4_mime again;
	struct as4_diag d;
	as4_diag_init(&d);
	if (as4_mime_parse(&body, out.content_type, &lim, arena, NULL, &again, &d) != AS4_OK) {
		abort();
	}
	if (again.n_parts != m->n_parts) {
		abort();
	}
	for (size_t i = 0; i < m->n_parts; i++) {
		if (!same_bytes(&again.parts[i].data, &m->parts[i].data)) {
			abort();
		}
		const char *want = m->parts[i].content_id;
		const char *got = again.parts[i].content_id;
		if (want != NULL && m->n_parts > 1 && (got == NULL || strcmp(want, got) != 0)) {
			abort();
		}
	}
	as4_mime_cleanup(&again);
	as4_buf_cleanup(&flat);
	as4_mime_out_cleanup(&out);
}

static void parse_and_check(const struct as4_blob *body, const char *ct, struct as4_arena *arena)
{
	struct as4_limits lim;
	small_limits(&lim);
	struct as4_mime m;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_mime_parse(body, ct, &lim, arena, NULL, &m, &d);
	if (err != AS4_OK) {
		/* The diagnostic records the returned error; a failed parse leaves no parts. */
		if (d.err != err || m.parts != NULL || m.n_parts != 0) {
			abort();
		}
		return;
	}
	if (m.n_parts == 0 || m.n_parts > lim.max_parts) {
		abort();
	}
	for (size_t i = 0; i < m.n_parts; i++) {
		const char *id = m.parts[i].content_id;
		if (m.parts[i].content_type == NULL || (i > 0 && id == NULL)) {
			abort();
		}
		if (id != NULL && as4_mime_find(&m, id) != &m.parts[i]) {
			abort();
		}
	}
	round_trip(&m, arena);
	as4_mime_cleanup(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct as4_arena *arena = as4_arena_new(0);
	if (arena == NULL) {
		return 0;
	}
	const char *ct = NULL;
	struct as4_blob body;
	struct as4_diag d;
	as4_diag_init(&d);
	if (as4_mime_split_entity(data, size, arena, &ct, &body, &d) == AS4_OK) {
		parse_and_check(&body, ct, arena);
	}

	const uint8_t *nl = memchr(data, '\n', size < 512 ? size : 512);
	if (nl != NULL) {
		size_t n = (size_t)(nl - data);
		char *line = as4_arena_strndup(arena, (const char *)data, n);
		if (line != NULL && strlen(line) == n) {
			static const char *const names[] = {"boundary", "type", "start", "charset"};
			for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
				const char *v = NULL;
				if (as4_mime_header_param(line, names[i], arena, &v) ==
				    AS4_E_INVAL) {
					abort();
				}
			}
			as4_blob_borrow(&body, nl + 1, size - n - 1);
			parse_and_check(&body, line, arena);
		}
	}
	as4_arena_free(arena);
	return 0;
}
