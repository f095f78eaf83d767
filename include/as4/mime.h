/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MIME multipart/related for SOAP with Attachments (L4, ap/ebms3/mime.c): parsing received
 * bodies and building outgoing ones. Untrusted bytes: parsed only here (STYLE rule 11) and
 * fuzzed by test/fuzz/fuzz_mime.c.
 *
 * Parsing works on a blob (heap or mapped spool file) and never copies a binary part: its
 * as4_part.data borrows from the body, which must outlive the parts. base64 and
 * quoted-printable parts are decoded through a sink (memory, or a spool file when large).
 *
 * Building produces a list of segments (header text owned by the result, payload bytes
 * borrowed from the parts) whose concatenation is the body, so a 1 GB payload is sent without
 * being copied.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "as4/arena.h"
#include "as4/blob.h"
#include "as4/buf.h"
#include "as4/compiler.h"
#include "as4/diag.h"
#include "as4/err.h"
#include "as4/limits.h"
#include "as4/part.h"

/* A parsed multipart/related body (or a single SOAP part). */
struct as4_mime {
	struct as4_part *parts; /* parts[0] is the root (the `start` part, else the first) */
	size_t n_parts;         /* >= 1 */
	const char *boundary;   /* NULL for a non-multipart body */
	const char *type;       /* the `type` parameter, e.g. "application/soap+xml"; may be NULL */
	const char *start;      /* the `start` parameter without <>, or NULL */
};

/*
 * Parse a request body. content_type is the HTTP/MIME Content-Type header value; when it is
 * NULL the body must start with "--boundary" (a bare MIME body, boundary inferred from the
 * first line; a UTF-8 BOM and leading blank lines are skipped) or be a bare SOAP envelope.
 * A non-multipart body (application/soap+xml, text/xml) becomes one root part.
 * Strings go to arena; parts' blobs borrow from body or own decoded copies (spilled to
 * spool_dir above lim->mem_spool_threshold; spool_dir NULL = memory only).
 * Errors: AS4_E_MIME (structure: missing boundary, unterminated part, duplicate Content-ID,
 * unknown transfer encoding, bad base64, start part not found), AS4_E_LIMIT (parts, header
 * bytes), each with a diagnostic naming the part and the problem.
 * On failure *out is left empty (every part cleaned up).
 */
AS4_MUST_CHECK as4_err as4_mime_parse(const struct as4_blob *body, const char *content_type,
                                      const struct as4_limits *lim, struct as4_arena *arena,
                                      const char *spool_dir, struct as4_mime *out,
                                      struct as4_diag *d);

/* Clean up every part of a parsed body (the strings stay in the arena). NULL ok. */
void as4_mime_cleanup(struct as4_mime *m);

/* Find a part by Content-ID (without <> or "cid:"), or NULL. */
struct as4_part *as4_mime_find(const struct as4_mime *m, const char *content_id);

/*
 * Get a parameter of a header value such as Content-Type ("multipart/related;
 * boundary="x"; type=...") into arena: quotes removed, name compared case-insensitively.
 * *out is NULL when absent. AS4_E_MIME on a malformed parameter list.
 */
AS4_MUST_CHECK as4_err as4_mime_header_param(const char *value, const char *name,
                                             struct as4_arena *arena, const char **out);

/*
 * Split a captured entity into its Content-Type and body: accepts an HTTP request or
 * response dump (start line, headers, blank line, body), a MIME entity (headers, blank line,
 * body), a bare MIME body starting with "--" (content_type NULL) or a bare XML document
 * (content_type NULL). A UTF-8 BOM, and anything before "<?xml" or the first element in a
 * bare XML file (licence comments), are skipped. *body borrows from buf.
 */
AS4_MUST_CHECK as4_err as4_mime_split_entity(const uint8_t *buf, size_t len,
                                             struct as4_arena *arena, const char **content_type,
                                             struct as4_blob *body, struct as4_diag *d);

/* One piece of an outgoing body. */
struct as4_mime_seg {
	const uint8_t *data; /* borrowed: from the result's header text or a part's blob */
	size_t len;
};

/* An outgoing multipart/related body as segments. */
struct as4_mime_out {
	char content_type[512];    /* full Content-Type header value for the HTTP request */
	struct as4_buf text;       /* owns the boundary and header bytes the segments point into */
	struct as4_mime_seg *segs; /* heap array */
	size_t n_segs;
	uint64_t total_len; /* sum of the segment lengths */
};

/*
 * Build multipart/related (type="application/soap+xml", start=<root cid>) from the SOAP root
 * (content_type application/soap+xml; charset=UTF-8) and the attachment parts, each with its
 * Content-ID, Content-Type and Content-Transfer-Encoding: binary. With n_parts == 0 the body
 * is the bare envelope with Content-Type application/soap+xml. The parts (and root) must
 * outlive out. AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err as4_mime_build(const struct as4_part *root, const struct as4_part *parts,
                                      size_t n_parts, struct as4_mime_out *out);

/* Concatenate all segments into one buffer (tests, captures, small bodies). */
AS4_MUST_CHECK as4_err as4_mime_out_flatten(const struct as4_mime_out *out, struct as4_buf *b);

/* Release the result. NULL ok. */
void as4_mime_out_cleanup(struct as4_mime_out *out);
