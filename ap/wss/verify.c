/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ds:Signature checks on the receiving side.
 *
 * Before any digest is computed, the signature's structure is checked here against the AS4
 * profile: only the algorithms the profile allows; every reference either "#id" (resolved
 * through the ids registered after the uniqueness check) or "cid:" naming a part of this
 * message; the references cover exactly the eb:Messaging and Body being processed and every
 * payload part (so a signature over a decoy cannot vouch for them); the signer is resolved,
 * its key size and trust are checked (phase 1: an untrusted sender never makes us spend a
 * private-key operation on decryption). Once the attachments are decrypted, every reference
 * and the SignatureValue are verified (phase 2, dsig.c).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/sha.h>

#include "as4/str.h"
#include "as4/time.h"
#include "as4/xml.h"
#include "wss_int.h"

/* ---- key resolution ------------------------------------------------------------------- */

#define NS_XENC AS4_NS_XENC

/* Certificates of a BinarySecurityToken: *leaf (own), *path (own, may be NULL). */
static as4_err bst_certs(const xmlNode *bst, X509 *const *known, size_t n_known, as4_err err,
                         X509 **leaf, STACK_OF(X509) * *path, const char **how, struct as4_diag *d)
{
	uint8_t *der = NULL;
	size_t len = 0;
	const char *vt = as4_xml_attr(bst, NULL, "ValueType");
	const char *et = as4_xml_attr(bst, NULL, "EncodingType");
	*leaf = NULL;
	*path = NULL;
	if (et != NULL && strcmp(et, WSS_ENC_BASE64) != 0) {
		return as4_diag_set(d, err,
		                    "BinarySecurityToken EncodingType '%.100s' not supported", et);
	}
	bool pkipath = vt != NULL && strcmp(vt, WSS_VT_PKIPATH) == 0;
	if (vt == NULL || (!pkipath && strcmp(vt, WSS_VT_X509V3) != 0)) {
		return as4_diag_set(
		        d, err,
		        "BinarySecurityToken ValueType '%.120s' not supported (X509v3 or "
		        "X509PKIPathv1)",
		        vt != NULL ? vt : "(none)");
	}
	as4_err e = wss_b64_text(bst, WSS_MAX_TOKEN_B64, err, "BinarySecurityToken", &der, &len, d);
	if (e != AS4_OK) {
		return e;
	}
	if (pkipath) {
		if (!wss_pkipath_parse(der, len, leaf, path)) {
			e = as4_diag_set(d, err,
			                 "BinarySecurityToken is not a valid X509PKIPathv1 path");
		}
		*how = "BST X509PKIPathv1";
	} else {
		*leaf = wss_cert_from_der_known(der, len, known, n_known);
		if (*leaf == NULL) {
			e = as4_diag_set(d, err,
			                 "BinarySecurityToken is not a valid X.509 certificate");
		}
		*how = "BST X509v3";
	}
	free(der);
	return e;
}

/* Look a certificate up among `known` and the message's tokens by predicate. */
struct match {
	int kind; /* 0 SKI, 1 issuer/serial, 2 SHA-1 thumbprint */
	const uint8_t *bin;
	size_t bin_len;
	const char *issuer;
	const char *serial;
};

static bool matches(X509 *c, const struct match *m)
{
	if (m->kind == 0) {
		return wss_cert_ski_matches(c, m->bin, m->bin_len);
	}
	if (m->kind == 1) {
		return wss_cert_issuer_serial_matches(c, m->issuer, m->serial);
	}
	uint8_t der_sha[SHA_DIGEST_LENGTH];
	unsigned int n = 0;
	return m->bin_len == SHA_DIGEST_LENGTH && X509_digest(c, EVP_sha1(), der_sha, &n) == 1 &&
	       memcmp(der_sha, m->bin, SHA_DIGEST_LENGTH) == 0;
}

static as4_err find_cert(const struct wss_env *e, X509 *const *known, size_t n_known,
                         const struct match *m, X509 **cert, STACK_OF(X509) * *path)
{
	for (size_t i = 0; i < n_known; i++) {
		if (known[i] != NULL && matches(known[i], m)) {
			if (X509_up_ref(known[i]) != 1) {
				return AS4_E_NOMEM;
			}
			*cert = known[i];
			return AS4_OK;
		}
	}
	if (e->security == NULL) {
		return AS4_E_NOTFOUND;
	}
	for (xmlNode *b = as4_xml_first_elem(e->security); b != NULL; b = as4_xml_next_elem(b)) {
		if (!as4_xml_is(b, AS4_NS_WSSE, "BinarySecurityToken")) {
			continue;
		}
		X509 *leaf = NULL;
		STACK_OF(X509) *others = NULL;
		const char *how = NULL;
		if (bst_certs(b, NULL, 0, AS4_E_SIG_INVALID, &leaf, &others, &how, NULL) !=
		    AS4_OK) {
			continue;
		}
		if (matches(leaf, m)) {
			*cert = leaf;
			*path = others;
			return AS4_OK;
		}
		X509_free(leaf);
		sk_X509_pop_free(others, X509_free);
	}
	return AS4_E_NOTFOUND;
}

static as4_err from_x509data(const struct wss_env *e, const xmlNode *xd, X509 *const *known,
                             size_t n_known, as4_err err, X509 **cert, STACK_OF(X509) * *path,
                             const char **how, struct as4_diag *d)
{
	const xmlNode *is = as4_xml_child(xd, AS4_NS_DS, "X509IssuerSerial");
	const xmlNode *ski = as4_xml_child(xd, AS4_NS_DS, "X509SKI");
	const xmlNode *xc = as4_xml_child(xd, AS4_NS_DS, "X509Certificate");
	as4_err r = AS4_OK;
	if (is != NULL) {
		char *iname = as4_xml_text(as4_xml_child(is, AS4_NS_DS, "X509IssuerName"));
		char *serial = as4_xml_text(as4_xml_child(is, AS4_NS_DS, "X509SerialNumber"));
		*how = "X509IssuerSerial";
		if (iname == NULL || serial == NULL || strlen(iname) > 1024 ||
		    strlen(serial) > 100) {
			r = as4_diag_set(d, err, "X509IssuerSerial is incomplete or too long");
		} else {
			const char *s = serial;
			size_t sn = strlen(serial);
			as4_str_trim(&s, &sn);
			char sbuf[104];
			memcpy(sbuf, s, sn);
			sbuf[sn] = '\0';
			struct match m = {1, NULL, 0, iname, sbuf};
			r = find_cert(e, known, n_known, &m, cert, path);
			if (r == AS4_E_NOTFOUND) {
				r = as4_diag_set(
				        d, AS4_E_NOTFOUND,
				        "X509IssuerSerial (issuer '%.200s', serial %s) names no "
				        "known certificate",
				        iname, sbuf);
			}
		}
		xmlFree(iname);
		xmlFree(serial);
		return r;
	}
	if (ski != NULL) {
		uint8_t *bin = NULL;
		size_t len = 0;
		*how = "X509SKI";
		r = wss_b64_text(ski, WSS_MAX_SMALL_B64, err, "X509SKI", &bin, &len, d);
		if (r == AS4_OK) {
			struct match m = {0, bin, len, NULL, NULL};
			r = find_cert(e, known, n_known, &m, cert, path);
			if (r == AS4_E_NOTFOUND) {
				r = as4_diag_set(d, r, "X509SKI names no known certificate");
			}
		}
		free(bin);
		return r;
	}
	if (xc != NULL) {
		uint8_t *der = NULL;
		size_t len = 0;
		*how = "X509Certificate";
		r = wss_b64_text(xc, WSS_MAX_TOKEN_B64, err, "X509Certificate", &der, &len, d);
		if (r == AS4_OK) {
			*cert = wss_cert_from_der(der, len);
			if (*cert == NULL) {
				r = as4_diag_set(d, err,
				                 "X509Certificate is not a valid certificate");
			}
		}
		free(der);
		return r;
	}
	return as4_diag_set(d, err, "ds:X509Data holds no IssuerSerial, SKI or Certificate");
}

as4_err wss_keyinfo_resolve(const struct wss_env *e, const xmlNode *keyinfo, X509 *const *known,
                            size_t n_known, as4_err err, X509 **cert, STACK_OF(X509) * *path,
                            const char **how, struct as4_diag *d)
{
	*cert = NULL;
	*path = NULL;
	*how = "none";
	const xmlNode *str = as4_xml_child(keyinfo, AS4_NS_WSSE, "SecurityTokenReference");
	const xmlNode *base = str != NULL ? str : keyinfo;
	const xmlNode *xd = as4_xml_child(base, AS4_NS_DS, "X509Data");
	if (str != NULL) {
		const xmlNode *ref = as4_xml_child(str, AS4_NS_WSSE, "Reference");
		const xmlNode *kid = as4_xml_child(str, AS4_NS_WSSE, "KeyIdentifier");
		if (ref != NULL) {
			const char *uri = as4_xml_attr(ref, NULL, "URI");
			if (uri == NULL || uri[0] != '#' || !wss_id_syntax_ok(uri + 1)) {
				return as4_diag_set(
				        d, err,
				        "SecurityTokenReference URI '%.120s' is not a local "
				        "token reference (external tokens are never fetched)",
				        uri != NULL ? uri : "(none)");
			}
			xmlNode *tok = wss_id_lookup(e->doc, uri + 1);
			if (tok == NULL || !as4_xml_is(tok, AS4_NS_WSSE, "BinarySecurityToken") ||
			    tok->parent != e->security) {
				return as4_diag_set(
				        d, err,
				        "SecurityTokenReference %.120s does not name a "
				        "BinarySecurityToken of the wsse:Security header",
				        uri);
			}
			return bst_certs(tok, known, n_known, err, cert, path, how, d);
		}
		if (kid != NULL) {
			const char *vt = as4_xml_attr(kid, NULL, "ValueType");
			uint8_t *bin = NULL;
			size_t len = 0;
			as4_err r = wss_b64_text(kid,
			                         vt != NULL && strcmp(vt, WSS_VT_X509V3) == 0
			                                 ? WSS_MAX_TOKEN_B64
			                                 : WSS_MAX_SMALL_B64,
			                         err, "KeyIdentifier", &bin, &len, d);
			if (r != AS4_OK) {
				return r;
			}
			if (vt != NULL && strcmp(vt, WSS_VT_SKI) == 0) {
				struct match m = {0, bin, len, NULL, NULL};
				*how = "KeyIdentifier SKI";
				r = find_cert(e, known, n_known, &m, cert, path);
				if (r == AS4_E_NOTFOUND) {
					r = as4_diag_set(
					        d, r,
					        "KeyIdentifier (X509SubjectKeyIdentifier) names no "
					        "known certificate");
				}
			} else if (vt != NULL && as4_str_ends(vt, "#ThumbprintSHA1")) {
				struct match m = {2, bin, len, NULL, NULL};
				*how = "KeyIdentifier ThumbprintSHA1";
				r = find_cert(e, known, n_known, &m, cert, path);
				if (r == AS4_E_NOTFOUND) {
					r = as4_diag_set(
					        d, r,
					        "KeyIdentifier (ThumbprintSHA1) names no known "
					        "certificate");
				}
			} else if (vt != NULL && strcmp(vt, WSS_VT_X509V3) == 0) {
				*how = "KeyIdentifier X509v3";
				*cert = wss_cert_from_der(bin, len);
				if (*cert == NULL) {
					r = as4_diag_set(d, err,
					                 "KeyIdentifier is not a certificate");
				}
			} else {
				r = as4_diag_set(d, err,
				                 "KeyIdentifier ValueType '%.120s' not supported",
				                 vt != NULL ? vt : "(none)");
			}
			free(bin);
			return r;
		}
		if (xd == NULL) {
			return as4_diag_set(
			        d, err,
			        "SecurityTokenReference holds no Reference, KeyIdentifier "
			        "or X509Data");
		}
	}
	if (xd != NULL) {
		return from_x509data(e, xd, known, n_known, err, cert, path, how, d);
	}
	return as4_diag_set(d, err,
	                    "KeyInfo form not supported (expected a SecurityTokenReference or "
	                    "ds:X509Data)");
}

/* ---- structure checks --------------------------------------------------------------- */

static bool one_of(const char *v, const char *const *list, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		if (strcmp(v, list[i]) == 0) {
			return true;
		}
	}
	return false;
}

static const char *const sig_algs[] = {WSS_ALG_RSA_SHA256, WSS_ALG_RSA_SHA384, WSS_ALG_RSA_SHA512};
static const char *const digest_algs[] = {WSS_ALG_SHA256, WSS_ALG_SHA384, WSS_ALG_SHA512};

/* exc-c14n with at most an ec:InclusiveNamespaces child. */
static bool exc_c14n_ok(const xmlNode *t)
{
	const char *alg = as4_xml_attr(t, NULL, "Algorithm");
	if (alg == NULL || strcmp(alg, WSS_ALG_EXC_C14N) != 0) {
		return false;
	}
	for (xmlNode *c = as4_xml_first_elem(t); c != NULL; c = as4_xml_next_elem(c)) {
		if (!as4_xml_is(c, WSS_ALG_EXC_C14N, "InclusiveNamespaces")) {
			return false;
		}
	}
	return true;
}

/* Count elements in the document named ns:local (wrapping detection). */
static size_t count_elems(xmlDoc *doc, const char *ns, const char *local)
{
	size_t n = 0;
	xmlNode *node = xmlDocGetRootElement(doc);
	while (node != NULL) {
		if (as4_xml_is(node, ns, local)) {
			n++;
		}
		if (node->type == XML_ELEMENT_NODE && node->children != NULL) {
			node = node->children;
			continue;
		}
		while (node != NULL && node->next == NULL) {
			node = node->parent;
			if (node != NULL && node->type != XML_ELEMENT_NODE) {
				node = NULL;
			}
		}
		if (node != NULL) {
			node = node->next;
		}
	}
	return n;
}

static as4_err check_reference(const struct wss_env *e, xmlNode *ref, size_t idx,
                               struct as4_part *parts, size_t n_parts, size_t *cover_msg,
                               size_t *cover_body, size_t *cover_part, struct as4_diag *d)
{
	const char *uri = as4_xml_attr(ref, NULL, "URI");
	xmlNode *tr = as4_xml_child(ref, AS4_NS_DS, "Transforms");
	xmlNode *dm = as4_xml_child(ref, AS4_NS_DS, "DigestMethod");
	xmlNode *dv = as4_xml_child(ref, AS4_NS_DS, "DigestValue");
	size_t n_tr = tr != NULL ? as4_xml_count_children(tr, AS4_NS_DS, "Transform") : 0;
	xmlNode *t = tr != NULL ? as4_xml_child(tr, AS4_NS_DS, "Transform") : NULL;
	if (uri == NULL || uri[0] == '\0') {
		return as4_diag_set(d, AS4_E_SIG_INVALID,
		                    "reference %zu has no URI (whole-document references are not "
		                    "allowed)",
		                    idx);
	}
	const char *alg = as4_xml_attr(dm, NULL, "Algorithm");
	if (!one_of(alg, digest_algs, AS4_ARRAY_LEN(digest_algs))) {
		return as4_diag_set(
		        d, AS4_E_SIG_INVALID,
		        "reference %.120s: digest algorithm '%.120s' not allowed (SHA-256, "
		        "SHA-384 or SHA-512)",
		        uri, alg != NULL ? alg : "(none)");
	}
	if (dv == NULL) {
		return as4_diag_set(d, AS4_E_SIG_INVALID, "reference %.120s has no DigestValue",
		                    uri);
	}
	for (const xmlNode *c = dv->children; c != NULL; c = c->next) {
		if (c->content != NULL && strlen((const char *)c->content) > WSS_MAX_SMALL_B64) {
			return as4_diag_set(d, AS4_E_SIG_INVALID,
			                    "reference %.120s: DigestValue too long", uri);
		}
	}
	size_t n_elems = 0;
	for (xmlNode *c = as4_xml_first_elem(tr); c != NULL; c = as4_xml_next_elem(c)) {
		n_elems++;
	}
	if (n_elems != n_tr) {
		return as4_diag_set(d, AS4_E_SIG_INVALID,
		                    "reference %.120s: unexpected element in Transforms", uri);
	}
	if (uri[0] == '#') {
		if (n_tr != 1 || !exc_c14n_ok(t)) {
			return as4_diag_set(
			        d, AS4_E_SIG_INVALID,
			        "reference %.120s: exactly one exc-c14n transform is allowed", uri);
		}
		if (!wss_id_syntax_ok(uri + 1)) {
			return as4_diag_set(d, AS4_E_SIG_INVALID,
			                    "reference URI '%.120s' is not a plain id reference",
			                    uri);
		}
		xmlNode *target = wss_id_lookup(e->doc, uri + 1);
		if (target == NULL) {
			return as4_diag_set(
			        d, AS4_E_SIG_INVALID,
			        "reference %.120s does not resolve to an element of the "
			        "message",
			        uri);
		}
		if (target == e->messaging) {
			(*cover_msg)++;
		} else if (target == e->body) {
			(*cover_body)++;
		} else {
			return as4_diag_set(d, AS4_E_SIG_INVALID,
			                    "reference %.120s points at %s, which is neither the "
			                    "eb:Messaging header nor the SOAP Body being processed",
			                    uri, (const char *)target->name);
		}
		return AS4_OK;
	}
	if (strncasecmp(uri, "cid:", 4) == 0) {
		const char *alg_t = as4_xml_attr(t, NULL, "Algorithm");
		if (n_tr != 1 || alg_t == NULL || strcmp(alg_t, WSS_SWA_CONTENT_SIG) != 0 ||
		    as4_xml_first_elem(t) != NULL) {
			return as4_diag_set(d, AS4_E_SIG_INVALID,
			                    "reference %.120s: exactly one "
			                    "Attachment-Content-Signature-Transform is required",
			                    uri);
		}
		if (strchr(uri, '#') != NULL) {
			return as4_diag_set(d, AS4_E_SIG_INVALID,
			                    "reference %.120s: fragments are not allowed", uri);
		}
		struct as4_part *p = wss_find_part(parts, n_parts, uri);
		if (p == NULL) {
			return as4_diag_set(d, AS4_E_SIG_INVALID,
			                    "reference %.120s names no attachment of the message",
			                    uri);
		}
		cover_part[p - parts]++;
		return AS4_OK;
	}
	return as4_diag_set(d, AS4_E_SIG_INVALID,
	                    "reference URI '%.120s' is neither a same-document nor a cid: "
	                    "reference (external URIs are never dereferenced)",
	                    uri);
}

static as4_err check_structure(const struct wss_env *e, xmlNode *sig, struct as4_part *parts,
                               size_t n_parts, struct wss_verify *v,
                               struct as4_wss_open_result *res, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	size_t cover_msg = 0;
	size_t cover_body = 0;
	size_t *cover_part = NULL;
	xmlNode *si = as4_xml_first_elem(sig);
	xmlNode *sv = si != NULL ? as4_xml_next_elem(si) : NULL;
	if (!as4_xml_is(si, AS4_NS_DS, "SignedInfo") ||
	    !as4_xml_is(sv, AS4_NS_DS, "SignatureValue")) {
		return as4_diag_set(d, AS4_E_SIG_INVALID,
		                    "ds:Signature must start with SignedInfo and SignatureValue");
	}
	for (xmlNode *n = as4_xml_next_elem(sv); n != NULL; n = as4_xml_next_elem(n)) {
		if (!as4_xml_is(n, AS4_NS_DS, "KeyInfo")) {
			return as4_diag_set(d, AS4_E_SIG_INVALID,
			                    "ds:Signature holds an unexpected %s element",
			                    (const char *)n->name);
		}
	}
	for (const xmlNode *c = sv->children; c != NULL; c = c->next) {
		if (c->content != NULL && strlen((const char *)c->content) > WSS_MAX_KEY_B64) {
			return as4_diag_set(d, AS4_E_SIG_INVALID, "SignatureValue too long");
		}
	}
	v->signature = sig;
	v->signed_info = si;
	xmlNode *cm = as4_xml_first_elem(si);
	xmlNode *sm = cm != NULL ? as4_xml_next_elem(cm) : NULL;
	if (!as4_xml_is(cm, AS4_NS_DS, "CanonicalizationMethod") || !exc_c14n_ok(cm)) {
		return as4_diag_set(d, AS4_E_SIG_INVALID,
		                    "SignedInfo CanonicalizationMethod must be exclusive C14N");
	}
	v->sig_alg = as4_xml_attr(sm, NULL, "Algorithm");
	if (v->sig_alg != NULL) {
		res->signature_alg = as4_str_dup(v->sig_alg);
	}
	if (!as4_xml_is(sm, AS4_NS_DS, "SignatureMethod") ||
	    !one_of(v->sig_alg, sig_algs, AS4_ARRAY_LEN(sig_algs)) ||
	    as4_xml_first_elem(sm) != NULL) {
		return as4_diag_set(
		        d, AS4_E_SIG_INVALID,
		        "signature algorithm '%.120s' not allowed (rsa-sha256, rsa-sha384 "
		        "or rsa-sha512)",
		        v->sig_alg != NULL ? v->sig_alg : "(none)");
	}
	size_t n_refs = 0;
	for (xmlNode *r = as4_xml_next_elem(sm); r != NULL; r = as4_xml_next_elem(r)) {
		if (!as4_xml_is(r, AS4_NS_DS, "Reference")) {
			return as4_diag_set(d, AS4_E_SIG_INVALID,
			                    "SignedInfo holds an unexpected %s",
			                    (const char *)r->name);
		}
		n_refs++;
	}
	if (n_refs == 0 || n_refs > WSS_MAX_REFS) {
		return as4_diag_set(d, AS4_E_SIG_INVALID, "SignedInfo has %zu references", n_refs);
	}
	res->refs_total = n_refs;
	err = wss_collect_refs(si, &res->refs, d);
	if (err != AS4_OK) {
		return err;
	}
	if (e->messaging == NULL) {
		return as4_diag_set(d, AS4_E_SIG_INVALID,
		                    "the message has no eb:Messaging header for the signature to "
		                    "cover");
	}
	/* Signature wrapping: a second eb:Messaging or Body anywhere is a decoy. */
	size_t n_msg = count_elems(e->doc, AS4_NS_EB, "Messaging");
	size_t n_body = count_elems(e->doc, e->soap, "Body");
	if (n_msg != 1 || n_body != 1) {
		return as4_diag_set(
		        d, AS4_E_SIG_INVALID,
		        "the message holds %zu eb:Messaging and %zu SOAP Body elements; "
		        "exactly one of each is allowed (signature wrapping)",
		        n_msg, n_body);
	}
	cover_part = calloc(n_parts + 1, sizeof(*cover_part));
	if (cover_part == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	size_t idx = 0;
	for (xmlNode *r = as4_xml_next_elem(sm); r != NULL; r = as4_xml_next_elem(r)) {
		err = check_reference(e, r, ++idx, parts, n_parts, &cover_msg, &cover_body,
		                      cover_part, d);
		if (err != AS4_OK) {
			goto out;
		}
	}
	if (cover_msg != 1 || cover_body != 1) {
		err = as4_diag_set(
		        d, AS4_E_SIG_INVALID,
		        "the signature must reference eb:Messaging and the SOAP Body once "
		        "each (found %zu and %zu)",
		        cover_msg, cover_body);
		goto out;
	}
	for (size_t i = 0; i < n_parts; i++) {
		if (cover_part[i] != 1) {
			err = as4_diag_set(d, AS4_E_SIG_INVALID,
			                   "attachment cid:%.120s is referenced %zu times by the "
			                   "signature (exactly once is required)",
			                   parts[i].content_id, cover_part[i]);
			goto out;
		}
	}
out:
	free(cover_part);
	return err;
}

/* ---- signer and trust --------------------------------------------------------------- */

static as4_err check_signer(const struct as4_wss_open_params *p, const struct wss_env *e,
                            struct wss_verify *v, struct as4_wss_open_result *res,
                            struct as4_diag *d)
{
	const xmlNode *ki = as4_xml_child(v->signature, AS4_NS_DS, "KeyInfo");
	const char *how = NULL;
	if (ki == NULL) {
		return as4_diag_set(d, AS4_E_SIG_INVALID,
		                    "ds:Signature has no KeyInfo: the signer cannot be identified");
	}
	struct as4_diag rd;
	as4_diag_init(&rd);
	as4_err err = wss_keyinfo_resolve(e, ki, p->accepted, p->n_accepted, AS4_E_SIG_INVALID,
	                                  &v->signer, &v->path, &how, &rd);
	res->signer_ref = how;
	if (err == AS4_E_NOTFOUND) {
		/* the peer named a certificate we do not have: an unknown signer */
		return as4_diag_set(d, AS4_E_UNTRUSTED, "signer not known: %s", as4_diag_text(&rd));
	}
	if (err != AS4_OK) {
		return as4_diag_set(d, err, "%s", as4_diag_text(&rd));
	}
	if (X509_up_ref(v->signer) != 1) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	res->signer = v->signer;
	res->signer_subject = wss_cert_name(v->signer, false);
	unsigned bits = wss_cert_rsa_bits(v->signer);
	unsigned floor = p->min_rsa_bits != 0 ? p->min_rsa_bits : 2048;
	if (bits == 0) {
		return as4_diag_set(d, AS4_E_SIG_INVALID, "signer certificate '%s' has no RSA key",
		                    res->signer_subject != NULL ? res->signer_subject : "?");
	}
	if (bits < floor) {
		return as4_diag_set(
		        d, AS4_E_UNTRUSTED,
		        "signer certificate '%s' has a %u-bit RSA key; at least %u bits "
		        "are required",
		        res->signer_subject != NULL ? res->signer_subject : "?", bits, floor);
	}
	int64_t at = p->at_ms != 0 ? p->at_ms : as4_time_now_ms();
	res->signer_time_valid = wss_cert_time_valid(v->signer, at);
	bool accepted = false;
	for (size_t i = 0; i < p->n_accepted; i++) {
		if (p->accepted[i] != NULL && X509_cmp(p->accepted[i], v->signer) == 0) {
			accepted = true;
		}
	}
	struct as4_diag td;
	as4_diag_init(&td);
	if (accepted && res->signer_time_valid) {
		res->signer_trusted = true;
	} else if (p->trust != NULL) {
		res->signer_trusted =
		        as4_truststore_verify(p->trust, v->signer, v->path, at, &td) == AS4_OK;
	}
	if (res->signer_trusted || p->structural_only) {
		return AS4_OK;
	}
	if (accepted) {
		char t[AS4_TIME_TEXT_MAX];
		as4_time_format(at, t);
		return as4_diag_set(d, AS4_E_UNTRUSTED,
		                    "signer certificate '%s' is not valid at %s",
		                    res->signer_subject != NULL ? res->signer_subject : "?", t);
	}
	if (p->trust != NULL) {
		return as4_diag_set(d, AS4_E_UNTRUSTED, "%s", as4_diag_text(&td));
	}
	return as4_diag_set(d, AS4_E_UNTRUSTED,
	                    "signer certificate '%s' is not an accepted partner certificate and "
	                    "no truststore is configured",
	                    res->signer_subject != NULL ? res->signer_subject : "?");
}

/* Which part a reference names, for messages ("eb:Messaging", "SOAP Body", "cid:..."). */
static const char *ref_what(const struct wss_env *e, xmlNode *ref)
{
	const char *uri = as4_xml_attr(ref, NULL, "URI");
	if (uri != NULL && uri[0] == '#') {
		xmlNode *t = wss_id_lookup(e->doc, uri + 1);
		return t == e->messaging ? "eb:Messaging" : t == e->body ? "SOAP Body" : uri;
	}
	return uri != NULL ? uri : "?";
}

as4_err wss_verify_prepare(const struct as4_wss_open_params *p, const struct wss_env *e,
                           xmlNode *signature, struct as4_part *parts, size_t n_parts,
                           struct wss_verify *v, struct as4_wss_open_result *res,
                           struct as4_diag *d)
{
	memset(v, 0, sizeof(*v));
	as4_err err = check_structure(e, signature, parts, n_parts, v, res, d);
	if (err != AS4_OK) {
		return err;
	}
	return check_signer(p, e, v, res, d);
}

as4_err wss_verify_finish(const struct as4_wss_open_params *p, const struct wss_env *e,
                          struct as4_part *parts, size_t n_parts, struct wss_verify *v,
                          struct as4_wss_open_result *res, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	xmlNode *bad = NULL;
	size_t good = 0;
	/* every reference (all were resolved and checked by wss_verify_prepare) */
	for (xmlNode *r = as4_xml_child(v->signed_info, AS4_NS_DS, "Reference"); r != NULL;
	     r = as4_xml_next_elem(r)) {
		const char *uri = as4_xml_attr(r, NULL, "URI");
		xmlNode *target = uri[0] == '#' ? wss_id_lookup(e->doc, uri + 1) : NULL;
		const struct as4_part *part =
		        uri[0] == '#' ? NULL : wss_find_part(parts, n_parts, uri);
		bool match = false;
		if (target == NULL && part == NULL) {
			return as4_diag_set(d, AS4_E_INTERNAL, "reference %.120s vanished", uri);
		}
		err = wss_dsig_reference(r, target, part, p->limits, false, &match, d);
		if (err != AS4_OK) {
			return err;
		}
		if (match) {
			good++;
		} else if (bad == NULL) {
			bad = r;
		}
	}
	res->refs_valid = good;
	if (bad != NULL) {
		return as4_diag_set(d, AS4_E_SIG_INVALID,
		                    "the digest of the signed %s does not match: the content was "
		                    "changed after signing",
		                    ref_what(e, bad));
	}
	/* the signer is already resolved and checked: KeyInfo is not read again */
	bool valid = false;
	err = wss_dsig_verify(v->signature, v->signer, &valid, d);
	if (err != AS4_OK) {
		return err;
	}
	if (!valid) {
		return as4_diag_set(d, AS4_E_SIG_INVALID,
		                    "the SignatureValue does not verify with the key of '%s'",
		                    res->signer_subject != NULL ? res->signer_subject : "?");
	}
	res->signature_valid = true;
	return AS4_OK;
}

void wss_verify_cleanup(struct wss_verify *v)
{
	X509_free(v->signer);
	sk_X509_pop_free(v->path, X509_free);
	memset(v, 0, sizeof(*v));
}

/*
 * The algorithm choices of the signature only, without the rest of check_structure() (no ids
 * registered, no key resolved): elements that are absent or out of place are left to
 * as4_wss_open(), which checks the whole structure.
 */
as4_err as4_wss_check_suite(xmlDoc *env, struct as4_diag *d)
{
	struct wss_env e;
	as4_err err = wss_env_find(env, false, &e, d);
	if (err != AS4_OK) {
		return err;
	}
	for (xmlNode *sig = as4_xml_first_elem(e.security); sig != NULL;
	     sig = as4_xml_next_elem(sig)) {
		if (!as4_xml_is(sig, AS4_NS_DS, "Signature")) {
			continue;
		}
		xmlNode *si = as4_xml_first_elem(sig);
		xmlNode *cm =
		        as4_xml_is(si, AS4_NS_DS, "SignedInfo") ? as4_xml_first_elem(si) : NULL;
		xmlNode *sm = cm != NULL ? as4_xml_next_elem(cm) : NULL;
		if (as4_xml_is(cm, AS4_NS_DS, "CanonicalizationMethod") && !exc_c14n_ok(cm)) {
			return as4_diag_set(
			        d, AS4_E_SIG_INVALID,
			        "SignedInfo CanonicalizationMethod must be exclusive C14N");
		}
		if (!as4_xml_is(sm, AS4_NS_DS, "SignatureMethod")) {
			continue;
		}
		const char *alg = as4_xml_attr(sm, NULL, "Algorithm");
		if (!one_of(alg, sig_algs, AS4_ARRAY_LEN(sig_algs))) {
			return as4_diag_set(
			        d, AS4_E_SIG_INVALID,
			        "signature algorithm '%.120s' not allowed (rsa-sha256, rsa-sha384 "
			        "or rsa-sha512)",
			        alg != NULL ? alg : "(none)");
		}
		for (xmlNode *r = as4_xml_next_elem(sm); r != NULL; r = as4_xml_next_elem(r)) {
			xmlNode *dm = as4_xml_is(r, AS4_NS_DS, "Reference")
			                      ? as4_xml_child(r, AS4_NS_DS, "DigestMethod")
			                      : NULL;
			const char *dalg = as4_xml_attr(dm, NULL, "Algorithm");
			if (dm != NULL && !one_of(dalg, digest_algs, AS4_ARRAY_LEN(digest_algs))) {
				const char *uri = as4_xml_attr(r, NULL, "URI");
				return as4_diag_set(
				        d, AS4_E_SIG_INVALID,
				        "reference %.120s: digest algorithm '%.120s' not allowed "
				        "(SHA-256, SHA-384 or SHA-512)",
				        uri != NULL ? uri : "(without URI)",
				        dalg != NULL ? dalg : "(none)");
			}
		}
	}
	return AS4_OK;
}
