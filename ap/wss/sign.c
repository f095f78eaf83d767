/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ds:Signature on the sending side, eDelivery AS4 1.15 §5.1.3 (Common Profile): exc-C14N,
 * rsa-sha256 (or 384/512 by PMode), SHA-256 references to eb:Messaging, the Body and every
 * attachment (Attachment-Content-Signature-Transform), KeyInfo a SecurityTokenReference to a
 * BinarySecurityToken (X509v3, or X509PKIPathv1 with our chain).
 */
#include <stdlib.h>
#include <string.h>

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

static const char *sig_method(enum as4_sig_alg alg)
{
	switch (alg) {
	case AS4_SIG_RSA_SHA384:
		return WSS_ALG_RSA_SHA384;
	case AS4_SIG_RSA_SHA512:
		return WSS_ALG_RSA_SHA512;
	case AS4_SIG_RSA_SHA256:
	default:
		return WSS_ALG_RSA_SHA256;
	}
}

/*
 * A child element ns:name at the end of parent, with the line breaks xmlsec's templates put
 * around elements ("\n" before the first child and after each one), so that a signature
 * looks as it did when xmlsec built it. alg: its Algorithm attribute, or NULL.
 */
static xmlNode *add_line(xmlNode *parent, xmlNs *ns, const char *name, const char *alg)
{
	if (parent->children == NULL &&
	    xmlAddChild(parent, xmlNewDocText(parent->doc, BAD_CAST "\n")) == NULL) {
		return NULL;
	}
	xmlNode *el = wss_add(parent, ns, name);
	if (el == NULL || xmlAddChild(parent, xmlNewDocText(parent->doc, BAD_CAST "\n")) == NULL ||
	    (alg != NULL && xmlNewProp(el, BAD_CAST "Algorithm", (const xmlChar *)alg) == NULL)) {
		return NULL;
	}
	return el;
}

/*
 * ds:Signature with SignedInfo (exc-C14N, the signature method) and an empty SignatureValue,
 * declaring ds itself (XMLDSig Core §4). *si gets the SignedInfo. Not yet in the document.
 */
static xmlNode *signature_template(xmlDoc *doc, const char *id, enum as4_sig_alg alg, xmlNode **si)
{
	xmlNode *sig = xmlNewDocNode(doc, NULL, BAD_CAST "Signature", NULL);
	xmlNs *ds = sig != NULL ? xmlNewNs(sig, BAD_CAST AS4_NS_DS, BAD_CAST "ds") : NULL;
	if (ds == NULL) {
		xmlFreeNode(sig);
		return NULL;
	}
	xmlSetNs(sig, ds);
	*si = xmlNewProp(sig, BAD_CAST "Id", (const xmlChar *)id) != NULL
	              ? add_line(sig, ds, "SignedInfo", NULL)
	              : NULL;
	if (*si == NULL || add_line(*si, ds, "CanonicalizationMethod", WSS_ALG_EXC_C14N) == NULL ||
	    add_line(*si, ds, "SignatureMethod", sig_method(alg)) == NULL ||
	    add_line(sig, ds, "SignatureValue", NULL) == NULL) {
		xmlFreeNode(sig);
		return NULL;
	}
	return sig;
}

/* A ds:Reference to uri with one Transform (alg) and SHA-256, its DigestValue still empty. */
static bool add_reference(xmlNode *si, const char *uri, const char *transform)
{
	xmlNs *ds = si->ns;
	xmlNode *ref = add_line(si, ds, "Reference", NULL);
	xmlNode *trs = ref != NULL && xmlNewProp(ref, BAD_CAST "URI", (const xmlChar *)uri) != NULL
	                       ? add_line(ref, ds, "Transforms", NULL)
	                       : NULL;
	return trs != NULL && add_line(trs, ds, "Transform", transform) != NULL &&
	       add_line(ref, ds, "DigestMethod", WSS_ALG_SHA256) != NULL &&
	       add_line(ref, ds, "DigestValue", NULL) != NULL;
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
	    xmlNewNsProp(bst, wsu, BAD_CAST "Id", (const xmlChar *)id) == NULL) {
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
	xmlNode *si = NULL;
	sig = signature_template(e->doc, sig_id, alg, &si);
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
		/* attachments: the SwA Attachment-Content-Signature-Transform (swa.c) */
		if (!add_reference(si, uri, i < 2 ? WSS_ALG_EXC_C14N : WSS_SWA_CONTENT_SIG)) {
			return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
	}
	/* digests in SignedInfo order: eb:Messaging, Body, then the attachments */
	size_t idx = 0;
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
	xmlNode *ki = add_line(sig, sig->ns, "KeyInfo", NULL);
	xmlNs *wsse = ki != NULL ? wss_ns(ki, AS4_NS_WSSE, "wsse") : NULL;
	xmlNode *str = wsse != NULL ? wss_add(ki, wsse, "SecurityTokenReference") : NULL;
	xmlNode *r = str != NULL ? wss_add(str, wsse, "Reference") : NULL;
	if (as4_str_fmt(uri, sizeof(uri), "#%s", bst_id) != AS4_OK || r == NULL ||
	    xmlNewProp(r, BAD_CAST "URI", (const xmlChar *)uri) == NULL ||
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
