/* SPDX-License-Identifier: Apache-2.0 */
/*
 * XML Signature processing with xmlsec's transforms: exclusive C14N, the SHA-2 digests and
 * the RSA signature methods, driven here step by step instead of through xmlSecDSigCtx.
 *
 * Why not xmlSecDSigCtx: it resolves references itself (URIs, XPointer, IO callbacks), reads
 * KeyInfo, and canonicalises every "#id" reference by walking the whole document with a node
 * set; for an AS4 message that orchestration costs more than the RSA operation it wraps. Here
 * the references were already resolved and checked by verify.c (or built by sign.c), so each
 * one is canonicalised from a compact copy of its element (every namespace in scope declared
 * on the copy's root, so exclusive C14N, InclusiveNamespaces included, renders the same
 * bytes) and an attachment's digest input is streamed from the part (SwA 1.1 §5.4.2 in
 * swa.c). Nothing here dereferences a URI.
 */
#include <stdlib.h>
#include <string.h>

#include <xmlsec/xmlsec.h>
#include <xmlsec/buffer.h>
#include <xmlsec/crypto.h>
#include <xmlsec/nodeset.h>
#include <xmlsec/transforms.h>

#include "as4/str.h"
#include "as4/xml.h"
#include "wss_int.h"

/* A new document holding a deep copy of el, with every namespace in scope at el declared. */
static xmlDoc *compact_copy(xmlNode *el)
{
	xmlDoc *doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNode *copy = doc != NULL ? xmlDocCopyNode(el, doc, 1) : NULL;
	if (copy == NULL) {
		xmlFreeDoc(doc);
		return NULL;
	}
	xmlDocSetRootElement(doc, copy);
	xmlNsPtr *list = xmlGetNsList(el->doc, el);
	for (size_t i = 0; list != NULL && list[i] != NULL; i++) {
		if (xmlSearchNs(doc, copy, list[i]->prefix) == NULL &&
		    xmlNewNs(copy, list[i]->href, list[i]->prefix) == NULL) {
			xmlFree(list);
			xmlFreeDoc(doc);
			return NULL;
		}
	}
	xmlFree(list);
	return doc;
}

static bool enable(xmlSecTransformCtxPtr ctx, const xmlSecTransformId *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (xmlSecPtrListAdd(&ctx->enabledTransforms, (void *)(uintptr_t)ids[i]) < 0) {
			return false;
		}
	}
	return true;
}

/* A transform context that accepts only the profile's c14n, digest and signature methods. */
static bool ctx_init(xmlSecTransformCtxPtr ctx)
{
	const xmlSecTransformId ids[] = {
	        xmlSecTransformExclC14NId,  xmlSecTransformSha256Id,    xmlSecTransformSha384Id,
	        xmlSecTransformSha512Id,    xmlSecTransformRsaSha256Id, xmlSecTransformRsaSha384Id,
	        xmlSecTransformRsaSha512Id,
	};
	if (xmlSecTransformCtxInitialize(ctx) < 0) {
		return false;
	}
	ctx->enabledUris = xmlSecTransformUriTypeNone;
	return enable(ctx, ids, AS4_ARRAY_LEN(ids));
}

/* Canonicalise el (from a compact copy) through the transforms of ctx. */
static as4_err run_xml(xmlSecTransformCtxPtr ctx, xmlNode *el, struct as4_diag *d)
{
	xmlDoc *copy = compact_copy(el);
	xmlSecNodeSetPtr nodes =
	        copy != NULL ? xmlSecNodeSetGetChildren(copy, xmlDocGetRootElement(copy), 0, 0)
	                     : NULL;
	as4_err err = AS4_OK;
	if (nodes == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	} else if (xmlSecTransformCtxXmlExecute(ctx, nodes) < 0) {
		err = as4_diag_set(d, AS4_E_SIG_INVALID, "cannot canonicalise %s",
		                   (const char *)el->name);
	}
	if (nodes != NULL) {
		xmlSecNodeSetDestroy(nodes);
	}
	xmlFreeDoc(copy);
	return err;
}

/* Write base64 of the context's result as the text of el (DigestValue, SignatureValue). */
static as4_err put_result(xmlSecTransformCtxPtr ctx, xmlNode *el, struct as4_diag *d)
{
	xmlSecBufferPtr r = ctx->result;
	char *b64 = r != NULL ? as4_b64_encode(xmlSecBufferGetData(r), xmlSecBufferGetSize(r), 0)
	                      : NULL;
	if (b64 == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	xmlNodeSetContent(el, NULL);
	xmlNodeAddContent(el, BAD_CAST b64);
	free(b64);
	return AS4_OK;
}

struct push {
	xmlSecTransformCtxPtr ctx;
};

static int push_bin(void *c, const uint8_t *p, size_t n)
{
	struct push *ps = c;
	while (n > 0) {
		xmlSecSize chunk = n > WSS_CHUNK ? WSS_CHUNK : (xmlSecSize)n;
		if (xmlSecTransformPushBin(ps->ctx->first, p, chunk, 0, ps->ctx) < 0) {
			return -1;
		}
		p += chunk;
		n -= chunk;
	}
	return 0;
}

as4_err wss_dsig_reference(xmlNode *ref, xmlNode *target, const struct as4_part *part,
                           const struct as4_limits *lim, bool sign, bool *match, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	xmlSecTransformCtx ctx;
	bool inited = ctx_init(&ctx);
	xmlNode *tr = as4_xml_child(ref, AS4_NS_DS, "Transforms");
	xmlNode *dm = as4_xml_child(ref, AS4_NS_DS, "DigestMethod");
	xmlNode *dv = as4_xml_child(ref, AS4_NS_DS, "DigestValue");
	xmlSecTransformPtr digest = NULL;
	*match = false;
	if (!inited) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	/* the Transforms of an attachment reference are the SwA transform, done by swa.c */
	if (target != NULL && tr != NULL &&
	    xmlSecTransformCtxNodesListRead(&ctx, tr, xmlSecTransformUsageDSigTransform) < 0) {
		err = as4_diag_set(d, AS4_E_SIG_INVALID, "unsupported reference transform");
		goto out;
	}
	digest = dm != NULL ? xmlSecTransformCtxNodeRead(&ctx, dm, xmlSecTransformUsageDigestMethod)
	                    : NULL;
	if (digest == NULL || dv == NULL) {
		err = as4_diag_set(d, AS4_E_SIG_INVALID, "unsupported or missing DigestMethod");
		goto out;
	}
	digest->operation = sign ? xmlSecTransformOperationSign : xmlSecTransformOperationVerify;
	if (target != NULL) {
		err = run_xml(&ctx, target, d);
	} else if (xmlSecTransformCtxPrepare(&ctx, xmlSecTransformDataTypeBin) < 0) {
		err = as4_diag_set(d, AS4_E_INTERNAL, "cannot prepare the attachment digest");
	} else {
		struct push ps = {&ctx};
		err = wss_swa_content(part, lim, push_bin, &ps, d);
		if (err == AS4_OK && xmlSecTransformPushBin(ctx.first, NULL, 0, 1, &ctx) < 0) {
			err = as4_diag_set(d, AS4_E_INTERNAL, "digest of attachment %s failed",
			                   part->content_id);
		}
	}
	if (err != AS4_OK) {
		goto out;
	}
	if (sign) {
		err = put_result(&ctx, dv, d);
		*match = err == AS4_OK;
	} else if (xmlSecTransformVerifyNodeContent(digest, dv, &ctx) < 0) {
		err = as4_diag_set(d, AS4_E_SIG_INVALID, "DigestValue is not valid base64");
	} else {
		*match = digest->status == xmlSecTransformStatusOk;
	}
out:
	if (inited) {
		xmlSecTransformCtxFinalize(&ctx);
	}
	return err;
}

as4_err wss_dsig_signed_info(xmlNode *signature, xmlSecKeyPtr key, bool sign, bool *valid,
                             struct as4_diag *d)
{
	as4_err err = AS4_OK;
	xmlSecTransformCtx ctx;
	bool inited = ctx_init(&ctx);
	xmlNode *si = as4_xml_child(signature, AS4_NS_DS, "SignedInfo");
	xmlNode *sv = as4_xml_child(signature, AS4_NS_DS, "SignatureValue");
	xmlNode *cm = as4_xml_child(si, AS4_NS_DS, "CanonicalizationMethod");
	xmlNode *sm = as4_xml_child(si, AS4_NS_DS, "SignatureMethod");
	xmlSecTransformPtr method = NULL;
	*valid = false;
	if (!inited) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	if (si == NULL || sv == NULL || cm == NULL || sm == NULL ||
	    xmlSecTransformCtxNodeRead(&ctx, cm, xmlSecTransformUsageC14NMethod) == NULL ||
	    (method = xmlSecTransformCtxNodeRead(&ctx, sm, xmlSecTransformUsageSignatureMethod)) ==
	            NULL) {
		err = as4_diag_set(d, AS4_E_SIG_INVALID,
		                   "SignedInfo canonicalization or signature method not supported");
		goto out;
	}
	method->operation = sign ? xmlSecTransformOperationSign : xmlSecTransformOperationVerify;
	if (xmlSecTransformSetKey(method, key) < 0) {
		err = as4_diag_set(d, AS4_E_SIG_INVALID, "the key does not suit %s",
		                   as4_xml_attr(sm, NULL, "Algorithm"));
		goto out;
	}
	err = run_xml(&ctx, si, d);
	if (err != AS4_OK) {
		goto out;
	}
	if (sign) {
		err = put_result(&ctx, sv, d);
		*valid = err == AS4_OK;
	} else if (xmlSecTransformVerifyNodeContent(method, sv, &ctx) < 0) {
		err = as4_diag_set(d, AS4_E_SIG_INVALID, "SignatureValue is not valid base64");
	} else {
		*valid = method->status == xmlSecTransformStatusOk;
	}
out:
	if (inited) {
		xmlSecTransformCtxFinalize(&ctx);
	}
	return err;
}
