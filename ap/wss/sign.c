/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ds:Signature on the sending side, eDelivery AS4 1.15 §5.1.3 (Common Profile): exc-C14N,
 * rsa-sha256 (or 384/512 by PMode), SHA-256 references to eb:Messaging, the Body and every
 * attachment (Attachment-Content-Signature-Transform), KeyInfo a SecurityTokenReference to a
 * BinarySecurityToken (X509v3, or X509PKIPathv1 with our chain).
 */
#include <stdlib.h>
#include <string.h>

#include <xmlsec/crypto.h>
#include <xmlsec/templates.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmltree.h>

#include "as4/str.h"
#include "as4/xml.h"
#include "wss_int.h"

as4_err wss_collect_refs(xmlNode *si, struct as4_signed_refs *refs, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	size_t n = as4_xml_count_children(si, AS4_NS_DS, "Reference");
	memset(refs, 0, sizeof(*refs));
	if (n == 0) {
		return AS4_OK;
	}
	refs->refs = calloc(n, sizeof(*refs->refs));
	refs->xml = calloc(n, sizeof(*refs->xml));
	if (refs->refs == NULL || refs->xml == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	for (xmlNode *r = as4_xml_child(si, AS4_NS_DS, "Reference"); r != NULL;
	     r = as4_xml_next_elem(r)) {
		if (!as4_xml_is(r, AS4_NS_DS, "Reference")) {
			continue;
		}
		struct as4_signed_ref *sr = &refs->refs[refs->n];
		const char *uri = as4_xml_attr(r, NULL, "URI");
		const char *dm = as4_xml_attr(as4_xml_child(r, AS4_NS_DS, "DigestMethod"), NULL,
		                              "Algorithm");
		xmlNode *dv = as4_xml_child(r, AS4_NS_DS, "DigestValue");
		char *val = dv != NULL ? as4_xml_text(dv) : NULL;
		sr->uri = as4_str_dup(uri != NULL ? uri : "");
		sr->digest_method = as4_str_dup(dm != NULL ? dm : "");
		sr->digest_value = as4_str_dup(val != NULL ? val : "");
		xmlFree(val);
		refs->xml[refs->n] = wss_c14n_subtree(r);
		refs->n++;
		if (sr->uri == NULL || sr->digest_method == NULL || sr->digest_value == NULL ||
		    refs->xml[refs->n - 1] == NULL) {
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
			goto out;
		}
		wss_strip_ws(sr->digest_value);
	}
out:
	if (err != AS4_OK) {
		as4_signed_refs_cleanup(refs);
	}
	return err;
}

static xmlSecTransformId sig_method(enum as4_sig_alg alg)
{
	switch (alg) {
	case AS4_SIG_RSA_SHA384:
		return xmlSecTransformRsaSha384Id;
	case AS4_SIG_RSA_SHA512:
		return xmlSecTransformRsaSha512Id;
	case AS4_SIG_RSA_SHA256:
	default:
		return xmlSecTransformRsaSha256Id;
	}
}

/* A Content-ID that can be written as "cid:<id>" without escaping (WSS4J writes it raw). */
static bool cid_plain(const char *cid)
{
	if (cid == NULL || cid[0] == '\0') {
		return false;
	}
	for (const char *p = cid; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= ' ' || c >= 0x7f || strchr("#%<>\"\\", c) != NULL) {
			return false;
		}
	}
	return true;
}

/*
 * ds:Transforms with the SwA Attachment-Content-Signature-Transform before the DigestMethod
 * of ref (xmlsec has no transform class for it: swa.c computes its output).
 */
static bool add_swa_transform(xmlNode *ref)
{
	xmlNode *dm = as4_xml_child(ref, AS4_NS_DS, "DigestMethod");
	xmlNode *trs =
	        dm != NULL ? xmlNewDocNode(ref->doc, dm->ns, BAD_CAST "Transforms", NULL) : NULL;
	if (trs == NULL || xmlAddPrevSibling(dm, trs) == NULL) {
		xmlFreeNode(trs);
		return false;
	}
	xmlNode *t = wss_add(trs, dm->ns, "Transform");
	return t != NULL &&
	       xmlNewProp(t, BAD_CAST "Algorithm", BAD_CAST WSS_SWA_CONTENT_SIG) != NULL;
}

/* wsse:BinarySecurityToken with our certificate (or chain as X509PKIPathv1). */
static as4_err add_bst(xmlNode *sec, const struct as4_keystore *signer, bool pkipath,
                       struct wss_idgen *g, char *id, size_t id_cap, struct as4_diag *d)
{
	const char *b64 = wss_keystore_token(signer, pkipath);
	if (b64 == NULL) {
		return as4_diag_set(d, AS4_E_INVAL, "the signing keystore has no certificate");
	}
	if (wss_new_id(g, "X509-", id, id_cap) != AS4_OK) {
		return as4_diag_set(d, AS4_E_LIMIT, "id too long");
	}
	xmlNs *wsse = wss_ns(sec, AS4_NS_WSSE, "wsse");
	xmlNs *wsu = wss_ns(sec, AS4_NS_WSU, "wsu");
	xmlNode *bst = wsse != NULL && wsu != NULL
	                       ? wss_add_text(sec, wsse, "BinarySecurityToken", b64)
	                       : NULL;
	if (bst == NULL ||
	    xmlNewProp(bst, BAD_CAST "EncodingType", BAD_CAST WSS_ENC_BASE64) == NULL ||
	    xmlNewProp(bst, BAD_CAST "ValueType",
	               BAD_CAST(pkipath ? WSS_VT_PKIPATH : WSS_VT_X509V3)) == NULL ||
	    xmlNewNsProp(bst, wsu, BAD_CAST "Id", BAD_CAST id) == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	/* the token must come before the Signature that refers to it */
	xmlNode *sig = as4_xml_child(sec, AS4_NS_DS, "Signature");
	if (sig != NULL) {
		xmlUnlinkNode(bst);
		if (xmlAddPrevSibling(sig, bst) == NULL) {
			xmlFreeNode(bst);
			return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
	}
	return AS4_OK;
}

as4_err wss_sign(const struct as4_keystore *signer, enum as4_sig_alg alg, bool pkipath,
                 struct wss_env *e, struct as4_part *parts, size_t n_parts,
                 const struct as4_limits *lim, struct as4_signed_refs *refs, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	xmlNode *sig = NULL;
	const char *msg_id = NULL;
	const char *body_id = NULL;
	char bst_id[64];
	char sig_id[64];
	char uri[WSS_MAX_ID_LEN + 8];

	if (e->security == NULL || e->messaging == NULL) {
		return as4_diag_set(d, AS4_E_INVAL, "nothing to sign: no eb:Messaging header");
	}
	for (size_t i = 0; i < n_parts; i++) {
		if (!cid_plain(parts[i].content_id)) {
			return as4_diag_set(
			        d, AS4_E_INVAL,
			        "attachment %zu has a Content-ID that cannot be signed as a "
			        "cid: URI",
			        i + 1);
		}
	}
	struct wss_idgen g;
	if (wss_idgen_init(&g) != AS4_OK) {
		return as4_diag_set(d, AS4_E_CRYPTO, "random number generator failed");
	}
	err = wss_ensure_id(e->messaging, &g, "id-", &msg_id, d);
	if (err == AS4_OK) {
		err = wss_ensure_id(e->body, &g, "id-", &body_id, d);
	}
	if (err == AS4_OK) {
		err = wss_ids_register(e->doc, lim, d);
	}
	if (err != AS4_OK) {
		return err;
	}
	if (!wss_id_syntax_ok(msg_id) || !wss_id_syntax_ok(body_id)) {
		return as4_diag_set(d, AS4_E_INVAL, "eb:Messaging or Body has an unusable wsu:Id");
	}
	err = add_bst(e->security, signer, pkipath, &g, bst_id, sizeof(bst_id), d);
	if (err != AS4_OK) {
		return err;
	}
	if (wss_new_id(&g, "SIG-", sig_id, sizeof(sig_id)) != AS4_OK) {
		return as4_diag_set(d, AS4_E_LIMIT, "id too long");
	}
	sig = xmlSecTmplSignatureCreateNsPref(e->doc, xmlSecTransformExclC14NId, sig_method(alg),
	                                      BAD_CAST sig_id, BAD_CAST "ds");
	if (sig == NULL || xmlAddChild(e->security, sig) == NULL) {
		xmlFreeNode(sig);
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < n_parts + 2; i++) {
		const char *v = i == 0 ? msg_id : i == 1 ? body_id : parts[i - 2].content_id;
		if (as4_str_fmt(uri, sizeof(uri), "%s%s", i < 2 ? "#" : "cid:", v) != AS4_OK) {
			return as4_diag_set(d, AS4_E_INVAL, "Content-ID of attachment %zu too long",
			                    i - 1);
		}
		xmlNodePtr ref = xmlSecTmplSignatureAddReference(sig, xmlSecTransformSha256Id, NULL,
		                                                 BAD_CAST uri, NULL);
		bool ok = ref != NULL && (i < 2 ? xmlSecTmplReferenceAddTransform(
		                                          ref, xmlSecTransformExclC14NId) != NULL
		                                : add_swa_transform(ref));
		if (!ok) {
			return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
	}
	/* digests in SignedInfo order: eb:Messaging, Body, then the attachments */
	size_t idx = 0;
	xmlNode *si = as4_xml_child(sig, AS4_NS_DS, "SignedInfo");
	for (xmlNode *r = as4_xml_child(si, AS4_NS_DS, "Reference"); r != NULL;
	     r = as4_xml_next_elem(r), idx++) {
		bool done = false;
		xmlNode *target = idx == 0 ? e->messaging : idx == 1 ? e->body : NULL;
		const struct as4_part *part = idx >= 2 ? &parts[idx - 2] : NULL;
		err = wss_dsig_reference(r, target, part, lim, true, &done, d);
		if (err != AS4_OK) {
			err = as4_diag_set(d, err == AS4_E_SIG_INVALID ? AS4_E_INVAL : err,
			                   "cannot sign: %s", as4_diag_text(d));
			goto out;
		}
	}
	err = wss_dsig_sign(sig, signer, d);
	if (err != AS4_OK) {
		goto out;
	}
	/* KeyInfo after signing: it is not signed */
	xmlNodePtr ki = xmlSecTmplSignatureEnsureKeyInfo(sig, NULL);
	xmlNs *wsse = ki != NULL ? wss_ns(ki, AS4_NS_WSSE, "wsse") : NULL;
	xmlNode *str = wsse != NULL ? wss_add(ki, wsse, "SecurityTokenReference") : NULL;
	xmlNode *r = str != NULL ? wss_add(str, wsse, "Reference") : NULL;
	if (as4_str_fmt(uri, sizeof(uri), "#%s", bst_id) != AS4_OK || r == NULL ||
	    xmlNewProp(r, BAD_CAST "URI", BAD_CAST uri) == NULL ||
	    xmlNewProp(r, BAD_CAST "ValueType",
	               BAD_CAST(pkipath ? WSS_VT_PKIPATH : WSS_VT_X509V3)) == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	if (refs != NULL) {
		err = wss_collect_refs(as4_xml_child(sig, AS4_NS_DS, "SignedInfo"), refs, d);
	}
out:
	return err;
}
