/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WS-Security for AS4: global set-up, sealing (sign, then encrypt) and opening (decrypt,
 * then verify), eDelivery AS4 1.15 Common Profile §5.1.3-5.1.4.
 */
#include "as4/wss.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/io.h>

#include "as4/str.h"
#include "as4/xml.h"
#include "wss_int.h"

/* STYLE rule 13: one-time library initialisation is one of the three pieces of global state. */
static bool initialised;

/*
 * Algorithms fetched once (read-only after as4_wss_global_init): with OpenSSL 3 every use of
 * EVP_sha256() or EVP_aes_128_gcm() fetches the implementation from the provider again.
 */
static EVP_MD *sha_1, *sha_224, *sha_256, *sha_384, *sha_512;
static EVP_CIPHER *gcm_128, *gcm_192, *gcm_256;

const EVP_MD *wss_sha(unsigned bits)
{
	switch (bits) {
	case 1:
		return sha_1 != NULL ? sha_1 : EVP_sha1();
	case 224:
		return sha_224 != NULL ? sha_224 : EVP_sha224();
	case 256:
		return sha_256 != NULL ? sha_256 : EVP_sha256();
	case 384:
		return sha_384 != NULL ? sha_384 : EVP_sha384();
	case 512:
		return sha_512 != NULL ? sha_512 : EVP_sha512();
	default:
		return NULL;
	}
}

const EVP_CIPHER *wss_aes_gcm(size_t key_len)
{
	switch (key_len) {
	case 16:
		return gcm_128 != NULL ? gcm_128 : EVP_aes_128_gcm();
	case 24:
		return gcm_192 != NULL ? gcm_192 : EVP_aes_192_gcm();
	case 32:
		return gcm_256 != NULL ? gcm_256 : EVP_aes_256_gcm();
	default:
		return NULL;
	}
}

static void fetch_algorithms(void)
{
	/* a failed fetch leaves NULL: wss_sha() and wss_aes_gcm() fall back to the built-ins */
	sha_1 = EVP_MD_fetch(NULL, "SHA1", NULL);
	sha_224 = EVP_MD_fetch(NULL, "SHA2-224", NULL);
	sha_256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	sha_384 = EVP_MD_fetch(NULL, "SHA2-384", NULL);
	sha_512 = EVP_MD_fetch(NULL, "SHA2-512", NULL);
	gcm_128 = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	gcm_192 = EVP_CIPHER_fetch(NULL, "AES-192-GCM", NULL);
	gcm_256 = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	ERR_clear_error();
}

static void free_algorithms(void)
{
	EVP_MD *mds[] = {sha_1, sha_224, sha_256, sha_384, sha_512};
	EVP_CIPHER *ciphers[] = {gcm_128, gcm_192, gcm_256};
	for (size_t i = 0; i < AS4_ARRAY_LEN(mds); i++) {
		EVP_MD_free(mds[i]);
	}
	for (size_t i = 0; i < AS4_ARRAY_LEN(ciphers); i++) {
		EVP_CIPHER_free(ciphers[i]);
	}
	sha_1 = sha_224 = sha_256 = sha_384 = sha_512 = NULL;
	gcm_128 = gcm_192 = gcm_256 = NULL;
}

as4_err as4_wss_global_init(void)
{
	if (initialised) {
		return AS4_OK;
	}
	if (xmlSecInit() < 0) {
		return AS4_E_INTERNAL;
	}
	if (xmlSecCheckVersion() != 1 || xmlSecCryptoAppInit(NULL) < 0 || xmlSecCryptoInit() < 0) {
		xmlSecShutdown();
		return AS4_E_INTERNAL;
	}
	/* xmlsec's default error callback prints to stderr; our diagnostics say what failed */
	xmlSecErrorsDefaultCallbackEnableOutput(0);
	/*
	 * No file, http or ftp access from xmlsec, ever: its default IO handlers are removed.
	 * (References are resolved by this module, dsig.c never passes xmlsec a URI.)
	 */
	xmlSecIOCleanupCallbacks();
	fetch_algorithms();
	initialised = true;
	return AS4_OK;
}

void as4_wss_global_cleanup(void)
{
	free_algorithms();
	xmlSecCryptoShutdown();
	xmlSecCryptoAppShutdown();
	xmlSecShutdown();
	initialised = false;
}

void as4_signed_refs_cleanup(struct as4_signed_refs *r)
{
	if (r == NULL) {
		return;
	}
	for (size_t i = 0; r->refs != NULL && i < r->n; i++) {
		free(r->refs[i].uri);
		free(r->refs[i].digest_method);
		free(r->refs[i].digest_value);
	}
	for (size_t i = 0; r->xml != NULL && i < r->n; i++) {
		free(r->xml[i]);
	}
	free(r->refs);
	free(r->xml);
	memset(r, 0, sizeof(*r));
}

void as4_wss_open_result_init(struct as4_wss_open_result *r)
{
	memset(r, 0, sizeof(*r));
}

void as4_wss_open_result_cleanup(struct as4_wss_open_result *r)
{
	if (r == NULL) {
		return;
	}
	free(r->signature_alg);
	X509_free(r->signer);
	free(r->signer_subject);
	as4_signed_refs_cleanup(&r->refs);
	free(r->key_transport_alg);
	free(r->data_alg);
	memset(r, 0, sizeof(*r));
}

/* A new wsse:Security header, first in the SOAP Header, mustUnderstand. */
static as4_err add_security(struct wss_env *e, struct as4_diag *d)
{
	xmlNode *sec = xmlNewDocNode(e->doc, NULL, BAD_CAST "Security", NULL);
	if (sec == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	xmlNode *first = as4_xml_first_elem(e->header);
	if ((first != NULL ? xmlAddPrevSibling(first, sec) : xmlAddChild(e->header, sec)) == NULL) {
		xmlFreeNode(sec);
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	e->security = sec;
	xmlNs *wsse = xmlNewNs(sec, BAD_CAST AS4_NS_WSSE, BAD_CAST "wsse");
	xmlNs *wsu = wss_ns(sec, AS4_NS_WSU, "wsu");
	xmlNs *soap = wss_ns(sec, e->soap, "env");
	if (wsse == NULL || wsu == NULL || soap == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	xmlSetNs(sec, wsse);
	/* SOAP 1.2 Part 1 §5.2.3: "true"; SOAP 1.1 uses "1" */
	bool s12 = strcmp(e->soap, AS4_NS_SOAP12) == 0;
	if (xmlNewNsProp(sec, soap, BAD_CAST "mustUnderstand", BAD_CAST(s12 ? "true" : "1")) ==
	    NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	return AS4_OK;
}

static as4_err prepare_send(xmlDoc *env, struct wss_env *e, struct as4_diag *d)
{
	as4_err err = wss_env_find(env, true, e, d);
	if (err != AS4_OK) {
		return err;
	}
	if (e->security != NULL) {
		return as4_diag_set(d, AS4_E_STATE,
		                    "the envelope already has a wsse:Security header");
	}
	if (e->messaging == NULL) {
		return as4_diag_set(d, AS4_E_INVAL, "the envelope has no eb:Messaging header");
	}
	return add_security(e, d);
}

as4_err as4_wss_seal(const struct as4_wss_seal_params *p, xmlDoc *env, struct as4_part *parts,
                     size_t n_parts, struct as4_signed_refs *signed_refs, struct as4_diag *d)
{
	struct wss_env e;
	if (signed_refs != NULL) {
		memset(signed_refs, 0, sizeof(*signed_refs));
	}
	if (p == NULL || env == NULL || (n_parts > 0 && parts == NULL)) {
		return as4_diag_set(d, AS4_E_INVAL, "as4_wss_seal: missing argument");
	}
	if (p->signer == NULL && (p->encrypt_for == NULL || n_parts == 0)) {
		return AS4_OK; /* security: none */
	}
	for (size_t i = 0; i < n_parts; i++) {
		if (parts[i].content_id == NULL) {
			return as4_diag_set(d, AS4_E_INVAL, "attachment %zu has no Content-ID",
			                    i + 1);
		}
	}
	as4_err err = prepare_send(env, &e, d);
	if (err != AS4_OK) {
		return err;
	}
	/* eDelivery AS4 1.15 §5.1.4: sign first (digests over the plaintext), then encrypt */
	if (p->signer != NULL) {
		err = wss_sign(p->signer, p->sig_alg, p->pkipath, &e, parts, n_parts, NULL,
		               signed_refs, d);
		if (err != AS4_OK) {
			goto out;
		}
	}
	if (p->encrypt_for != NULL) {
		err = wss_encrypt(p, &e, parts, n_parts, d);
	}
out:
	if (err != AS4_OK && signed_refs != NULL) {
		as4_signed_refs_cleanup(signed_refs);
	}
	return err;
}

as4_err as4_wss_sign_signal(const struct as4_keystore *signer, enum as4_sig_alg sig_alg,
                            xmlDoc *env, struct as4_diag *d)
{
	struct wss_env e;
	if (signer == NULL || env == NULL) {
		return as4_diag_set(d, AS4_E_INVAL, "as4_wss_sign_signal: missing argument");
	}
	as4_err err = prepare_send(env, &e, d);
	if (err != AS4_OK) {
		return err;
	}
	return wss_sign(signer, sig_alg, false, &e, NULL, 0, NULL, NULL, d);
}

/* Is any xenc:EncryptedData outside the security header (XML element encryption)? */
static bool stray_encrypted_data(const struct wss_env *e)
{
	xmlNode *node = e->envelope;
	while (node != NULL) {
		if (as4_xml_is(node, AS4_NS_XENC, "EncryptedData") && node->parent != e->security) {
			return true;
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
	return false;
}

/* The part is the target of an EncryptedData CipherReference of the security header. */
static bool part_encrypted(const struct wss_env *e, struct as4_part *parts, size_t n_parts,
                           const struct as4_part *part)
{
	for (xmlNode *ed = as4_xml_first_elem(e->security); ed != NULL;
	     ed = as4_xml_next_elem(ed)) {
		if (!as4_xml_is(ed, AS4_NS_XENC, "EncryptedData")) {
			continue;
		}
		const xmlNode *cr = as4_xml_child(as4_xml_child(ed, AS4_NS_XENC, "CipherData"),
		                                  AS4_NS_XENC, "CipherReference");
		if (wss_find_part(parts, n_parts, as4_xml_attr(cr, NULL, "URI")) == part) {
			return true;
		}
	}
	return false;
}

as4_err as4_wss_open(const struct as4_wss_open_params *p, xmlDoc *env, struct as4_part *parts,
                     size_t n_parts, struct as4_wss_open_result *res, struct as4_diag *d)
{
	struct wss_env e;
	struct wss_verify v;
	xmlNode *sig = NULL;
	size_t n_sig = 0;
	bool has_ek = false;
	bool has_ed = false;
	memset(&v, 0, sizeof(v));
	if (res == NULL) {
		return as4_diag_set(d, AS4_E_INVAL, "as4_wss_open: missing result");
	}
	as4_wss_open_result_init(res);
	if (p == NULL || env == NULL || (n_parts > 0 && parts == NULL)) {
		return as4_diag_set(d, AS4_E_INVAL, "as4_wss_open: missing argument");
	}
	as4_err err = wss_env_find(env, false, &e, d);
	if (err != AS4_OK) {
		return err;
	}
	res->has_security = e.security != NULL;
	for (xmlNode *n = as4_xml_first_elem(e.security); n != NULL; n = as4_xml_next_elem(n)) {
		if (as4_xml_is(n, AS4_NS_DS, "Signature")) {
			sig = n;
			n_sig++;
		}
		has_ek = has_ek || as4_xml_is(n, AS4_NS_XENC, "EncryptedKey");
		has_ed = has_ed || as4_xml_is(n, AS4_NS_XENC, "EncryptedData");
	}
	res->signed_msg = sig != NULL;
	res->encrypted = has_ek || has_ed;
	if (n_sig > 1) {
		return as4_diag_set(d, AS4_E_SIG_INVALID,
		                    "the security header holds %zu ds:Signature elements (one is "
		                    "allowed)",
		                    n_sig);
	}
	if (stray_encrypted_data(&e)) {
		return as4_diag_set(d, AS4_E_DECRYPT,
		                    "xenc:EncryptedData outside the security header (XML element "
		                    "encryption) is not supported");
	}
	/* PMode policy first: missing protection is EBMS:0103, whatever else is wrong */
	if (p->require_signature && sig == NULL) {
		return as4_diag_set(
		        d, AS4_E_POLICY,
		        "the message is not signed, but the PMode requires a signature");
	}
	if (p->require_encryption) {
		for (size_t i = 0; i < n_parts; i++) {
			if (e.security == NULL || !part_encrypted(&e, parts, n_parts, &parts[i])) {
				return as4_diag_set(
				        d, AS4_E_POLICY,
				        "attachment %s is not encrypted, but the PMode "
				        "requires encryption",
				        parts[i].content_id != NULL ? parts[i].content_id : "?");
			}
		}
	}
	if (e.security == NULL) {
		return AS4_OK;
	}
	err = wss_ids_register(env, p->limits, d);
	if (err != AS4_OK) {
		return err;
	}
	if (sig != NULL) {
		err = wss_verify_prepare(p, &e, sig, parts, n_parts, &v, res, d);
		if (err != AS4_OK) {
			goto out;
		}
	}
	if (has_ed) {
		err = wss_decrypt(p, &e, parts, n_parts, res, d);
		if (err != AS4_OK) {
			goto out;
		}
	}
	if (sig != NULL) {
		err = wss_verify_finish(p, &e, parts, n_parts, &v, res, d);
	}
out:
	wss_verify_cleanup(&v);
	return err;
}
