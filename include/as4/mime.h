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
 *
 * Thread safety: no global state; a struct as4_mime or as4_mime_out has one owner at a time.
 * Diagnostics never quote payload bytes; header values they quote are cut to 60 printable
 * characters.
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
 * first line; a UTF-8 BOM and leading blank lines are skipped) or be a bare SOAP envelope,
 * which becomes one root part of type "application/soap+xml".
 * A non-multipart body of an XML type (application/soap+xml, text/xml, application/xml,
 * any +xml) becomes one root part carrying content_type; other types are AS4_E_MIME.
 *
 * multipart/related (RFC 2046 §5.1, RFC 2387): boundary quoted or not; preamble and epilogue
 * ignored; CRLF or bare LF line ends; transport padding after delimiters; folded header lines;
 * case-insensitive header names; Content-ID with or without <>; Content-Transfer-Encoding
 * binary, 8bit, 7bit (borrowed), base64 (whitespace tolerated, final padding optional) and
 * quoted-printable (decoded). A part's bytes exclude the line break before the next delimiter.
 * The `start` parameter (with or without <>) selects the root, else the first part; the root
 * is moved to parts[0], the attachments keep their order. Only the root may lack a Content-ID.
 * A part without Content-Type gets the `type` parameter (root) or "text/plain;
 * charset=us-ascii" (RFC 2045 §5.2). Header lines other than Content-ID/Type/Transfer-Encoding
 * are kept in part->headers.
 *
 * body: the bytes (a mapped body is scanned with as4_blob_drop_pages() behind the scan, so
 * resident memory stays bounded); must outlive *out. lim: max_parts (root included),
 * max_header_bytes (one part's header block, blank line included), mem_spool_threshold.
 * Strings and the parts array go to arena; parts' blobs borrow from body or own decoded
 * copies (spilled to spool_dir above lim->mem_spool_threshold; spool_dir NULL = memory only).
 * Errors: AS4_E_MIME (structure: missing boundary, unterminated body, duplicate Content-ID,
 * attachment without Content-ID, malformed header, unknown transfer encoding, bad base64 or
 * quoted-printable, start part not found, unsupported Content-Type), AS4_E_LIMIT (parts,
 * header bytes), each with a diagnostic naming the part ("MIME part 2 (Content-ID <x>): ...",
 * numbered as sent, from 1) and the problem; AS4_E_NOMEM, AS4_E_IO/AS4_E_SPACE (spooling a
 * decoded part), AS4_E_INVAL (NULL body, lim, arena or out).
 * On failure *out is left empty (every part cleaned up).
 */
AS4_MUST_CHECK as4_err as4_mime_parse(const struct as4_blob *body, const char *content_type,
                                      const struct as4_limits *lim, struct as4_arena *arena,
                                      const char *spool_dir, struct as4_mime *out,
                                      struct as4_diag *d);

/*
 * Parse a multipart/form-data body (RFC 7578), as the internal API receives large uploads:
 * the same parser, limits and spooling as as4_mime_parse(), but parts stay in the order sent,
 * none is a root and none needs a Content-ID. Each part's Content-Disposition (with its name
 * and filename parameters) stays in part->headers: read it with as4_mime_part_header() and
 * as4_mime_header_param(). Errors as as4_mime_parse(); AS4_E_MIME when content_type is not
 * multipart/form-data with a boundary.
 */
AS4_MUST_CHECK as4_err as4_mime_parse_form(const struct as4_blob *body, const char *content_type,
                                           const struct as4_limits *lim, struct as4_arena *arena,
                                           const char *spool_dir, struct as4_mime *out,
                                           struct as4_diag *d);

/* The value of a part's other header line (case-insensitive name), or NULL. Borrowed. */
const char *as4_mime_part_header(const struct as4_part *p, const char *name);

/* Clean up every part (the strings stay in the arena); *m is empty afterwards. NULL ok. */
void as4_mime_cleanup(struct as4_mime *m);

/*
 * Find a part by Content-ID. content_id may be bare ("a@b"), in <>, or a cid: URL
 * ("cid:a@b", RFC 2392, %hh escapes decoded when nothing else matches); the literal value
 * is tried first, so a Content-ID that itself starts with "cid:" is found too.
 * Returns a part of m (borrowed, valid while m is) or NULL.
 */
struct as4_part *as4_mime_find(const struct as4_mime *m, const char *content_id);

/*
 * Get a parameter of a header value such as Content-Type ("multipart/related;
 * boundary="x"; type=...") into arena: quotes and backslash escapes removed, name compared
 * case-insensitively. An unquoted value runs to the next ';' (peers send `type=a/b` and
 * `start=<x@y>` unquoted). *out is NULL when absent.
 * Errors: AS4_E_MIME on a malformed parameter list (a parameter without value, an
 * unterminated quoted string, text after a quoted value, the asked parameter given twice),
 * AS4_E_NOMEM, AS4_E_INVAL (NULL argument).
 */
AS4_MUST_CHECK as4_err as4_mime_header_param(const char *value, const char *name,
                                             struct as4_arena *arena, const char **out);

/*
 * Split a captured entity into its Content-Type and body: accepts an HTTP request or
 * response dump (start line, headers, blank line, body; the start line may be missing; the
 * body is taken as already de-chunked), a MIME entity (headers, blank line, body), a bare
 * MIME body starting with "--" (content_type NULL) or a bare XML document (content_type
 * NULL). A UTF-8 BOM and leading blank lines are skipped; in a bare XML file so are comments
 * before "<?xml" or the first element (licence headers). *content_type (arena; NULL when the
 * headers have none) is unfolded and trimmed. *body borrows from buf.
 * Errors: AS4_E_MIME (empty input, not one of these formats, malformed header line, no blank
 * line after the headers, Content-Type twice), AS4_E_LIMIT (header block over 64 KiB),
 * AS4_E_NOMEM, AS4_E_INVAL; *content_type NULL and *body empty then.
 */
AS4_MUST_CHECK as4_err as4_mime_split_entity(const uint8_t *buf, size_t len,
                                             struct as4_arena *arena, const char **content_type,
                                             struct as4_blob *body, struct as4_diag *d);

/* One piece of an outgoing body. */
struct as4_mime_seg {
	const uint8_t *data; /* borrowed: from the result's header text or a part's blob */
	size_t len;
	bool file_backed; /* data lies in a read-only file mapping: a sender may release the
	                     pages it has sent (madvise), see as4_blob.file_backed */
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
 * Build multipart/related (boundary "MIMEBoundary_" + 32 random hex digits from RAND_bytes,
 * type="application/soap+xml", start="<root cid>") from the SOAP root (written with
 * Content-Type application/soap+xml; charset=UTF-8; a root without content_id gets
 * "root-<uuid>@as4") and the attachment parts, each with its Content-ID, Content-Type
 * (application/octet-stream when NULL), Content-Transfer-Encoding: binary and its extra
 * headers. With n_parts == 0 the body is the bare envelope with Content-Type
 * "application/soap+xml; charset=UTF-8". The parts' data (and root's) must outlive out;
 * their strings are copied.
 * Errors: AS4_E_NOMEM; AS4_E_INVAL (NULL root, an attachment without Content-ID, duplicate
 * Content-IDs, a Content-ID with <, >, space or quote, control characters in a header value,
 * an extra header named Content-ID/Type/Transfer-Encoding or with an invalid name);
 * AS4_E_LIMIT (Content-Type header over 511 bytes); AS4_E_CRYPTO (RNG). On failure out is
 * empty (as4_mime_out_cleanup() is still allowed).
 */
AS4_MUST_CHECK as4_err as4_mime_build(const struct as4_part *root, const struct as4_part *parts,
                                      size_t n_parts, struct as4_mime_out *out);

/*
 * Append all segments to b (initialised by the caller, whose max applies): tests, captures,
 * small bodies. AS4_E_LIMIT (over b's max or SIZE_MAX), AS4_E_NOMEM; b is unchanged then.
 */
AS4_MUST_CHECK as4_err as4_mime_out_flatten(const struct as4_mime_out *out, struct as4_buf *b);

/* Release the result. NULL ok. */
void as4_mime_out_cleanup(struct as4_mime_out *out);
