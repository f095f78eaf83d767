/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WS-Security SwA Profile 1.1 pieces that xmlsec 1.2.37 lacks: cid: URI resolution (RFC 2392)
 * against the message's own parts, and the Attachment-Content-Signature-Transform (§5.4.2),
 * streamed in WSS_CHUNK pieces into the digest (dsig.c). Nothing is ever fetched.
 */
#include <string.h>
#include <strings.h>

#include <libxml/c14n.h>

#include "as4/str.h"
#include "as4/xml.h"
#include "wss_int.h"

static int hexval(char c)
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

/* Percent-decoded "cid:" URI (RFC 2392) equals the Content-ID? */
static bool cid_equal(const char *enc, const char *cid)
{
	size_t i = 0;
	for (const char *p = enc; *p != '\0'; p++) {
		char c = *p;
		if (c == '%') {
			int h = hexval(p[1]);
			int l = h >= 0 ? hexval(p[2]) : -1;
			if (h < 0 || l < 0) {
				return false;
			}
			c = (char)(h * 16 + l);
			p += 2;
		}
		if (cid[i] == '\0' || cid[i] != c) {
			return false;
		}
		i++;
	}
	return cid[i] == '\0';
}

struct as4_part *wss_find_part(struct as4_part *parts, size_t n, const char *uri)
{
	if (uri == NULL || strncasecmp(uri, "cid:", 4) != 0) {
		return NULL;
	}
	const char *enc = uri + 4;
	for (size_t i = 0; i < n; i++) {
		if (parts[i].content_id != NULL && cid_equal(enc, parts[i].content_id)) {
			return &parts[i];
		}
	}
	return NULL;
}

/* ---- digest input of one attachment (SwA 1.1 §5.4.2) -------------------------------- */

struct xml_out {
	wss_emit_fn emit;
	void *ctx;
	bool failed;
};

static int xml_write(void *ctx, const char *buf, int len)
{
	struct xml_out *o = ctx;
	if (len < 0 || o->emit(o->ctx, (const uint8_t *)buf, (size_t)len) != 0) {
		o->failed = true;
		return -1;
	}
	return len;
}

static int xml_close(void *ctx)
{
	(void)ctx;
	return 0;
}

static as4_err emit_xml(const struct as4_part *part, const struct as4_limits *lim, wss_emit_fn emit,
                        void *ctx, struct as4_diag *d)
{
	xmlDoc *doc = NULL;
	struct as4_diag pd;
	as4_diag_init(&pd);
	as4_err err = as4_xml_parse(part->data.data, part->data.len, lim, &doc, &pd);
	if (err != AS4_OK) {
		return as4_diag_set(d, AS4_E_SIG_INVALID,
		                    "attachment %s is declared as XML (%s) but cannot be "
		                    "canonicalised: %s",
		                    part->content_id, part->content_type, as4_diag_text(&pd));
	}
	as4_blob_drop_pages(&part->data, part->data.len);
	struct xml_out o = {emit, ctx, false};
	xmlOutputBufferPtr buf = xmlOutputBufferCreateIO(xml_write, xml_close, &o, NULL);
	if (buf == NULL) {
		xmlFreeDoc(doc);
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	/* the whole document, exclusive C14N without comments, as WSS4J and Santuario do */
	int r = xmlC14NDocSaveTo(doc, NULL, XML_C14N_EXCLUSIVE_1_0, NULL, 0, buf);
	int c = xmlOutputBufferClose(buf);
	xmlFreeDoc(doc);
	if (o.failed) {
		return as4_diag_set(d, AS4_E_INTERNAL, "digest of attachment %s failed",
		                    part->content_id);
	}
	if (r < 0 || c < 0) {
		return as4_diag_set(d, AS4_E_SIG_INVALID, "attachment %s cannot be canonicalised",
		                    part->content_id);
	}
	return AS4_OK;
}

/* CRLF line ends (SwA 1.1 §5.4.2 for text types), in pieces of TEXT_CHUNK bytes. */
#define TEXT_CHUNK 4096

static as4_err emit_text(const struct as4_part *part, wss_emit_fn emit, void *ctx,
                         struct as4_diag *d)
{
	uint8_t out[TEXT_CHUNK + 2];
	size_t o = 0;
	size_t dropped = 0;
	bool after_cr = false;
	const uint8_t *p = part->data.data;
	for (size_t i = 0; i < part->data.len; i++) {
		uint8_t c = p[i];
		if (c == '\n' && after_cr) {
			after_cr = false;
			continue;
		}
		after_cr = c == '\r';
		if (c == '\r' || c == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
		} else {
			out[o++] = c;
		}
		if (o >= TEXT_CHUNK) {
			if (emit(ctx, out, o) != 0) {
				return as4_diag_set(d, AS4_E_INTERNAL,
				                    "digest of attachment %s failed",
				                    part->content_id);
			}
			o = 0;
			if (i - dropped >= WSS_CHUNK) {
				as4_blob_drop_pages(&part->data, i);
				dropped = i;
			}
		}
	}
	if (o > 0 && emit(ctx, out, o) != 0) {
		return as4_diag_set(d, AS4_E_INTERNAL, "digest of attachment %s failed",
		                    part->content_id);
	}
	as4_blob_drop_pages(&part->data, part->data.len);
	return AS4_OK;
}

static as4_err emit_raw(const struct as4_part *part, wss_emit_fn emit, void *ctx,
                        struct as4_diag *d)
{
	for (size_t off = 0; off < part->data.len; off += WSS_CHUNK) {
		size_t n = part->data.len - off < WSS_CHUNK ? part->data.len - off : WSS_CHUNK;
		if (emit(ctx, part->data.data + off, n) != 0) {
			return as4_diag_set(d, AS4_E_INTERNAL, "digest of attachment %s failed",
			                    part->content_id);
		}
		as4_blob_drop_pages(&part->data, off + n);
	}
	return AS4_OK;
}

as4_err wss_swa_content(const struct as4_part *part, const struct as4_limits *lim, wss_emit_fn emit,
                        void *ctx, struct as4_diag *d)
{
	char mt[128];
	if (as4_media_type(part->content_type, mt, sizeof(mt)) != AS4_OK) {
		mt[0] = '\0';
	}
	if (as4_media_type_is_xml(part->content_type)) {
		return emit_xml(part, lim, emit, ctx, d);
	}
	if (as4_str_starts(mt, "text/")) {
		return emit_text(part, emit, ctx, d);
	}
	return emit_raw(part, emit, ctx, d);
}
