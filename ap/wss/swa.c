/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WS-Security SwA Profile 1.1 for xmlsec 1.2.37, which has neither cid: resolution nor the
 * attachment transforms.
 *
 * How a "cid:" reference is digested: xmlsec opens every non-"#" reference URI through its
 * IO callback table. That table is global and its callbacks get no context, so the one
 * callback registered here (all default handlers, file and network, are removed) accepts
 * "cid:" URIs and yields no bytes. The Attachment-Content-Signature-Transform that follows in
 * the reference's chain does see the reference's transform context, whose userData is the
 * struct wss_att_ctx of the sign/verify call in progress; it looks the part up by the
 * context's URI and pushes the part's digest input (SwA 1.1 §5.4.2) to the digest transform
 * in WSS_CHUNK pieces. So nothing is ever fetched, and concurrent calls never share state.
 */
#include <string.h>
#include <strings.h>

#include <libxml/c14n.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/io.h>

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

static as4_err emit_text(const struct as4_part *part, wss_emit_fn emit, void *ctx,
                         struct as4_diag *d)
{
	uint8_t out[WSS_CHUNK + 2];
	size_t o = 0;
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
		if (o >= WSS_CHUNK) {
			if (emit(ctx, out, o) != 0) {
				return as4_diag_set(d, AS4_E_INTERNAL,
				                    "digest of attachment %s failed",
				                    part->content_id);
			}
			o = 0;
			as4_blob_drop_pages(&part->data, i);
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

/* ---- the xmlsec transform ---------------------------------------------------------- */

struct push_ctx {
	xmlSecTransformPtr next;
	xmlSecTransformCtxPtr tctx;
};

static int push_next(void *ctx, const uint8_t *p, size_t n)
{
	struct push_ctx *pc = ctx;
	while (n > 0) {
		xmlSecSize chunk = n > WSS_CHUNK ? WSS_CHUNK : (xmlSecSize)n;
		if (xmlSecTransformPushBin(pc->next, p, chunk, 0, pc->tctx) < 0) {
			return -1;
		}
		p += chunk;
		n -= chunk;
	}
	return 0;
}

static void att_fail(struct wss_att_ctx *ac, as4_err err, const char *text)
{
	if (ac->err == AS4_OK) {
		ac->err = err;
		if (as4_str_copy(ac->detail, sizeof(ac->detail), text) != AS4_OK) {
			/* truncated detail is acceptable */
		}
	}
}

static int swa_push_bin(xmlSecTransformPtr t, const xmlSecByte *data, xmlSecSize size, int final,
                        xmlSecTransformCtxPtr tctx)
{
	(void)data;
	struct wss_att_ctx *ac = tctx->userData;
	if (ac == NULL || t->next == NULL) {
		return -1;
	}
	if (size > 0) {
		/* only a cid: reference (whose input is empty) may use this transform */
		att_fail(ac, AS4_E_SIG_INVALID,
		         "Attachment-Content-Signature-Transform used on a non-attachment "
		         "reference");
		return -1;
	}
	if (!final || t->status == xmlSecTransformStatusFinished) {
		return 0;
	}
	const char *uri = (const char *)tctx->uri;
	struct as4_part *part = wss_find_part(ac->parts, ac->n_parts, uri);
	if (part == NULL) {
		char m[200];
		if (as4_str_fmt(m, sizeof(m), "reference %.120s names no attachment of the message",
		                uri != NULL ? uri : "(none)") != AS4_OK) {
			/* truncated */
		}
		att_fail(ac, AS4_E_SIG_INVALID, m);
		return -1;
	}
	struct as4_diag d;
	as4_diag_init(&d);
	struct push_ctx pc = {t->next, tctx};
	if (wss_swa_content(part, ac->limits, push_next, &pc, &d) != AS4_OK) {
		att_fail(ac, d.err, as4_diag_text(&d));
		return -1;
	}
	if (xmlSecTransformPushBin(t->next, NULL, 0, 1, tctx) < 0) {
		return -1;
	}
	t->status = xmlSecTransformStatusFinished;
	return 0;
}

/* Binary in and out; the chain is always pushed (the URI input is pumped into it). */
static xmlSecTransformDataType swa_data_type(xmlSecTransformPtr t, xmlSecTransformMode mode,
                                             xmlSecTransformCtxPtr tctx)
{
	(void)t;
	(void)mode;
	(void)tctx;
	return xmlSecTransformDataTypeBin;
}

static int swa_pop_bin(xmlSecTransformPtr t, xmlSecByte *data, xmlSecSize max, xmlSecSize *size,
                       xmlSecTransformCtxPtr tctx)
{
	(void)t;
	(void)data;
	(void)max;
	(void)size;
	(void)tctx;
	return -1;
}

static xmlSecTransformKlass swa_klass = {
        sizeof(xmlSecTransformKlass),
        sizeof(xmlSecTransform),
        BAD_CAST "swa-attachment-content",
        BAD_CAST WSS_SWA_CONTENT_SIG,
        xmlSecTransformUsageDSigTransform,
        NULL,          /* initialize */
        NULL,          /* finalize */
        NULL,          /* readNode: no parameters */
        NULL,          /* writeNode */
        NULL,          /* setKeyReq */
        NULL,          /* setKey */
        NULL,          /* verify */
        swa_data_type, /* getDataType */
        swa_push_bin,  /* pushBin */
        swa_pop_bin,   /* popBin: never used */
        NULL,          /* pushXml */
        NULL,          /* popXml */
        NULL,          /* execute */
        NULL,
        NULL,
};

xmlSecTransformId wss_swa_transform_id(void)
{
	return &swa_klass;
}

/* ---- the cid: IO handler ----------------------------------------------------------- */

static int cid_match(const char *uri)
{
	return uri != NULL && strncasecmp(uri, "cid:", 4) == 0;
}

static char cid_handle; /* a non-NULL context: the content comes from the transform */

static void *cid_open(const char *uri)
{
	(void)uri;
	return &cid_handle;
}

static int cid_read(void *ctx, char *buf, int len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	return 0;
}

static int cid_close(void *ctx)
{
	(void)ctx;
	return 0;
}

as4_err wss_swa_register(void)
{
	/* no file, http or ftp access from reference processing, ever */
	xmlSecIOCleanupCallbacks();
	if (xmlSecIORegisterCallbacks(cid_match, cid_open, cid_read, cid_close) < 0) {
		return AS4_E_INTERNAL;
	}
	if (xmlSecTransformIdsRegister(wss_swa_transform_id()) < 0) {
		return AS4_E_INTERNAL;
	}
	return AS4_OK;
}
