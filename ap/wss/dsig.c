/* SPDX-License-Identifier: Apache-2.0 */
/*
 * XML Signature processing steps (XMLDSig Core 1.1 §3.1-3.2) for the profile's algorithms
 * only: exclusive C14N (c14n.c), SHA-256/384/512 digests and RSA PKCS#1 v1.5 signatures with
 * OpenSSL EVP.
 *
 * Why not xmlsec's transforms: a transform chain costs a context, a node set and an output
 * buffer per reference, and xmlSecDSigCtx would also resolve URIs and read KeyInfo itself.
 * Here the references were already resolved and checked by verify.c (or built by sign.c), so
 * a reference is exactly "canonicalise this subtree into this digest" or "stream this
 * attachment (swa.c) into this digest". Nothing here dereferences a URI.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "as4/str.h"
#include "as4/xml.h"
#include "wss_int.h"

const EVP_MD *wss_digest_by_uri(const char *uri)
{
	if (uri == NULL) {
		return NULL;
	}
	if (strcmp(uri, WSS_ALG_SHA256) == 0) {
		return wss_sha(256);
	}
	if (strcmp(uri, WSS_ALG_SHA384) == 0) {
		return wss_sha(384);
	}
	if (strcmp(uri, WSS_ALG_SHA512) == 0) {
		return wss_sha(512);
	}
	return NULL;
}

const EVP_MD *wss_sig_digest_by_uri(const char *uri)
{
	if (uri == NULL) {
		return NULL;
	}
	if (strcmp(uri, WSS_ALG_RSA_SHA256) == 0) {
		return wss_sha(256);
	}
	if (strcmp(uri, WSS_ALG_RSA_SHA384) == 0) {
		return wss_sha(384);
	}
	if (strcmp(uri, WSS_ALG_RSA_SHA512) == 0) {
		return wss_sha(512);
	}
	return NULL;
}

static int digest_emit(void *ctx, const uint8_t *p, size_t n)
{
	return EVP_DigestUpdate(ctx, p, n) == 1 ? 0 : -1;
}

/* Exclusive C14N of el (with prefix_list) digested with md into out (*len bytes). */
static as4_err digest_xml(xmlNode *el, const char *prefix_list, const EVP_MD *md,
                          uint8_t out[EVP_MAX_MD_SIZE], unsigned *len, struct as4_diag *d)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	as4_err err = AS4_OK;
	if (ctx == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
		err = as4_diag_set(d, AS4_E_NOMEM, "cannot start a digest");
		goto out;
	}
	err = wss_c14n(el, prefix_list, digest_emit, ctx, d);
	if (err == AS4_OK && EVP_DigestFinal_ex(ctx, out, len) != 1) {
		err = as4_diag_set(d, AS4_E_INTERNAL, "digest failed");
	}
out:
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return err;
}

/* The SwA content of part digested with md. */
static as4_err digest_part(const struct as4_part *part, const struct as4_limits *lim,
                           const EVP_MD *md, uint8_t out[EVP_MAX_MD_SIZE], unsigned *len,
                           struct as4_diag *d)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	as4_err err = AS4_OK;
	if (ctx == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
		err = as4_diag_set(d, AS4_E_NOMEM, "cannot start a digest");
		goto out;
	}
	err = wss_swa_content(part, lim, digest_emit, ctx, d);
	if (err == AS4_OK && EVP_DigestFinal_ex(ctx, out, len) != 1) {
		err = as4_diag_set(d, AS4_E_INTERNAL, "digest of attachment %s failed",
		                   part->content_id);
	}
out:
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return err;
}

/* Replace the text of el (DigestValue, SignatureValue) with base64 of p. */
static as4_err put_b64(xmlNode *el, const uint8_t *p, size_t n, struct as4_diag *d)
{
	char *b64 = as4_b64_encode(p, n, 0);
	if (b64 == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	xmlNodeSetContent(el, NULL);
	xmlNodeAddContent(el, BAD_CAST b64);
	free(b64);
	return AS4_OK;
}

/*
 * The exc-c14n parameters of a same-document reference: its Transforms must be exactly one
 * exc-c14n Transform (verify.c refuses anything else before this point; sign.c writes that).
 */
static as4_err reference_c14n(const xmlNode *ref, const char **prefix_list, struct as4_diag *d)
{
	const xmlNode *trs = as4_xml_child(ref, AS4_NS_DS, "Transforms");
	const xmlNode *t = trs != NULL ? as4_xml_first_elem(trs) : NULL;
	const char *alg = as4_xml_attr(t, NULL, "Algorithm");
	if (t == NULL || !as4_xml_is(t, AS4_NS_DS, "Transform") || alg == NULL ||
	    strcmp(alg, WSS_ALG_EXC_C14N) != 0 || as4_xml_next_elem(t) != NULL) {
		return as4_diag_set(d, AS4_E_SIG_INVALID, "unsupported reference transform");
	}
	return wss_c14n_method(t, prefix_list, d);
}

as4_err wss_dsig_reference(xmlNode *ref, xmlNode *target, const struct as4_part *part,
                           const struct as4_limits *lim, bool sign, bool *match, struct as4_diag *d)
{
	uint8_t md_out[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	uint8_t *want = NULL;
	size_t want_len = 0;
	as4_err err = AS4_OK;
	xmlNode *dm = as4_xml_child(ref, AS4_NS_DS, "DigestMethod");
	xmlNode *dv = as4_xml_child(ref, AS4_NS_DS, "DigestValue");
	const EVP_MD *md = wss_digest_by_uri(as4_xml_attr(dm, NULL, "Algorithm"));
	*match = false;
	if (md == NULL || dv == NULL) {
		return as4_diag_set(d, AS4_E_SIG_INVALID, "unsupported or missing DigestMethod");
	}
	if (target != NULL) {
		const char *prefix_list = NULL;
		err = reference_c14n(ref, &prefix_list, d);
		if (err == AS4_OK) {
			err = digest_xml(target, prefix_list, md, md_out, &md_len, d);
		}
	} else {
		err = digest_part(part, lim, md, md_out, &md_len, d);
	}
	if (err != AS4_OK) {
		return err;
	}
	if (sign) {
		err = put_b64(dv, md_out, md_len, d);
		*match = err == AS4_OK;
		return err;
	}
	err = wss_b64_text(dv, WSS_MAX_SMALL_B64, AS4_E_SIG_INVALID, "DigestValue", &want,
	                   &want_len, d);
	if (err == AS4_OK) {
		*match = want_len == md_len && CRYPTO_memcmp(want, md_out, md_len) == 0;
	}
	free(want);
	return err;
}

/* SignedInfo of signature, its canonical form digested as SignatureMethod says. */
static as4_err signed_info_digest(xmlNode *signature, const EVP_MD **md,
                                  uint8_t out[EVP_MAX_MD_SIZE], unsigned *len, struct as4_diag *d)
{
	xmlNode *si = as4_xml_child(signature, AS4_NS_DS, "SignedInfo");
	const xmlNode *cm = as4_xml_child(si, AS4_NS_DS, "CanonicalizationMethod");
	const xmlNode *sm = as4_xml_child(si, AS4_NS_DS, "SignatureMethod");
	const char *cm_alg = as4_xml_attr(cm, NULL, "Algorithm");
	const char *prefix_list = NULL;
	*md = wss_sig_digest_by_uri(as4_xml_attr(sm, NULL, "Algorithm"));
	if (si == NULL || cm_alg == NULL || strcmp(cm_alg, WSS_ALG_EXC_C14N) != 0 || *md == NULL ||
	    as4_xml_first_elem(sm) != NULL || wss_c14n_method(cm, &prefix_list, NULL) != AS4_OK) {
		return as4_diag_set(
		        d, AS4_E_SIG_INVALID,
		        "SignedInfo canonicalization or signature method not supported");
	}
	return digest_xml(si, prefix_list, *md, out, len, d);
}

as4_err wss_dsig_sign(xmlNode *signature, const struct as4_keystore *ks, struct as4_diag *d)
{
	uint8_t dg[EVP_MAX_MD_SIZE];
	unsigned dg_len = 0;
	const EVP_MD *md = NULL;
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	xmlNode *sv = as4_xml_child(signature, AS4_NS_DS, "SignatureValue");
	if (sv == NULL) {
		return as4_diag_set(d, AS4_E_INVAL, "ds:Signature has no SignatureValue");
	}
	as4_err err = signed_info_digest(signature, &md, dg, &dg_len, d);
	if (err == AS4_OK) {
		err = wss_keystore_sign(ks, md, dg, dg_len, &sig, &sig_len, d);
	}
	if (err == AS4_OK) {
		err = put_b64(sv, sig, sig_len, d);
	}
	free(sig);
	return err;
}

as4_err wss_dsig_verify(xmlNode *signature, X509 *cert, bool *valid, struct as4_diag *d)
{
	uint8_t dg[EVP_MAX_MD_SIZE];
	unsigned dg_len = 0;
	const EVP_MD *md = NULL;
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	EVP_PKEY_CTX *ctx = NULL;
	xmlNode *sv = as4_xml_child(signature, AS4_NS_DS, "SignatureValue");
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	*valid = false;
	as4_err err = signed_info_digest(signature, &md, dg, &dg_len, d);
	if (err != AS4_OK) {
		goto out;
	}
	if (pub == NULL || EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA) {
		err = as4_diag_set(d, AS4_E_SIG_INVALID, "the signer's key is not an RSA key");
		goto out;
	}
	if (sv == NULL || wss_b64_text(sv, WSS_MAX_KEY_B64, AS4_E_SIG_INVALID, "SignatureValue",
	                               &sig, &sig_len, NULL) != AS4_OK) {
		err = as4_diag_set(d, AS4_E_SIG_INVALID, "SignatureValue is not valid base64");
		goto out;
	}
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
	if (ctx == NULL || EVP_PKEY_verify_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0) {
		err = as4_diag_set(d, AS4_E_NOMEM, "cannot set up the signature check");
		goto out;
	}
	*valid = EVP_PKEY_verify(ctx, sig, sig_len, dg, dg_len) == 1;
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	free(sig);
	return err;
}
