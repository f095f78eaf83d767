/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attachment encryption (eDelivery AS4 1.15 §5.1.4, WS-Security SwA 1.1 §5.5): one
 * xenc:EncryptedKey (RSA-OAEP to the receiver's certificate) and one xenc:EncryptedData per
 * part whose CipherReference names the part; the part's bytes become IV || ciphertext || tag.
 *
 * This is done beside xmlsec, with OpenSSL EVP, because xmlsec 1.2.37 has neither
 * xmlenc11#rsa-oaep with MGF1-SHA256 nor CipherReference to a cid: part, and the SwA shape
 * is small and fixed. AES-GCM runs in WSS_CHUNK pieces from a blob into a sink, so a 1 GB
 * part is processed in bounded memory.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "as4/arena.h"
#include "as4/str.h"
#include "as4/xml.h"
#include "wss_int.h"

#define GCM_IV  12
#define GCM_TAG 16

/* ---- algorithms ----------------------------------------------------------------------- */

/* Key length of an xenc11 AES-GCM algorithm URI, or 0. */
static size_t gcm_key_len(const char *uri)
{
	if (uri == NULL) {
		return 0;
	}
	if (strcmp(uri, WSS_ALG_AES128_GCM) == 0) {
		return 16;
	}
	if (strcmp(uri, WSS_ALG_AES192_GCM) == 0) {
		return 24;
	}
	if (strcmp(uri, WSS_ALG_AES256_GCM) == 0) {
		return 32;
	}
	return 0;
}

static const char *data_alg_uri(enum as4_data_alg a)
{
	switch (a) {
	case AS4_ENC_AES192_GCM:
		return WSS_ALG_AES192_GCM;
	case AS4_ENC_AES256_GCM:
		return WSS_ALG_AES256_GCM;
	case AS4_ENC_AES128_GCM:
	default:
		return WSS_ALG_AES128_GCM;
	}
}

/* Digest of a ds:DigestMethod in an OAEP EncryptionMethod (XML Encryption 1.1 §5.5.2). */
static const EVP_MD *digest_by_uri(const char *uri)
{
	static const struct {
		const char *uri;
		unsigned bits;
	} t[] = {
	        {WSS_ALG_SHA1, 1},     {WSS_ALG_SHA224, 224}, {WSS_ALG_SHA256, 256},
	        {WSS_ALG_SHA384, 384}, {WSS_ALG_SHA512, 512},
	};
	for (size_t i = 0; uri != NULL && i < AS4_ARRAY_LEN(t); i++) {
		if (strcmp(uri, t[i].uri) == 0) {
			return wss_sha(t[i].bits);
		}
	}
	return NULL;
}

/* MGF1 digest of an xenc11:MGF Algorithm ("...xmlenc11#mgf1sha256"). */
static const EVP_MD *mgf_by_uri(const char *uri)
{
	static const struct {
		const char *name;
		unsigned bits;
	} t[] = {{"sha1", 1}, {"sha224", 224}, {"sha256", 256}, {"sha384", 384}, {"sha512", 512}};
	if (uri == NULL || !as4_str_starts(uri, WSS_ALG_MGF1_PFX)) {
		return NULL;
	}
	const char *v = uri + strlen(WSS_ALG_MGF1_PFX);
	for (size_t i = 0; i < AS4_ARRAY_LEN(t); i++) {
		if (strcmp(v, t[i].name) == 0) {
			return wss_sha(t[i].bits);
		}
	}
	return NULL;
}

/* ---- AES-GCM over blobs --------------------------------------------------------------- */

as4_err wss_gcm(bool encrypt, const uint8_t *key, size_t key_len, const struct as4_blob *in,
                struct as4_sink *out, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	uint8_t iv[GCM_IV];
	uint8_t tag[GCM_TAG];
	int n = 0;
	const EVP_CIPHER *cipher = wss_aes_gcm(key_len);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	/*
	 * On the heap (worker threads may run with small stacks), and no larger than the input:
	 * a 64 KiB block for a 10 KB part made the heap grow and shrink (page faults) and its
	 * wiping cost more than the cipher.
	 */
	size_t buf_len = in->len < WSS_CHUNK ? (in->len > 0 ? in->len : 1) : WSS_CHUNK;
	size_t used = 0;
	uint8_t *buf = malloc(buf_len);
	if (ctx == NULL || buf == NULL || cipher == NULL) {
		err = as4_diag_set(d, cipher == NULL ? AS4_E_INVAL : AS4_E_NOMEM,
		                   "cannot set up AES-GCM");
		goto out;
	}
	size_t start = 0;
	size_t end = in->len;
	if (encrypt) {
		if (RAND_bytes(iv, sizeof(iv)) != 1) {
			err = as4_diag_set(d, AS4_E_CRYPTO, "random number generator failed");
			goto out;
		}
		err = as4_sink_write(out, iv, sizeof(iv));
		if (err != AS4_OK) {
			err = as4_diag_set(d, err, "cannot store the ciphertext");
			goto out;
		}
	} else {
		if (in->len < GCM_IV + GCM_TAG) {
			err = as4_diag_set(
			        d, AS4_E_DECRYPT,
			        "ciphertext of %zu bytes is too short for the AES-GCM IV and "
			        "tag",
			        in->len);
			goto out;
		}
		memcpy(iv, in->data, GCM_IV);
		memcpy(tag, in->data + in->len - GCM_TAG, GCM_TAG);
		start = GCM_IV;
		end = in->len - GCM_TAG;
	}
	if (EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, encrypt ? 1 : 0) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, GCM_IV, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, encrypt ? 1 : 0) != 1) {
		err = as4_diag_set(d, AS4_E_CRYPTO, "cannot set up AES-GCM");
		goto out;
	}
	for (size_t off = start; off < end; off += WSS_CHUNK) {
		size_t len = end - off < WSS_CHUNK ? end - off : WSS_CHUNK;
		if (EVP_CipherUpdate(ctx, buf, &n, in->data + off, (int)len) != 1) {
			err = as4_diag_set(d, AS4_E_CRYPTO, "AES-GCM failed");
			goto out;
		}
		used = (size_t)n > used ? (size_t)n : used;
		err = as4_sink_write(out, buf, (size_t)n);
		if (err != AS4_OK) {
			err = as4_diag_set(d, err, "cannot store the %s",
			                   encrypt ? "ciphertext" : "plaintext");
			goto out;
		}
		as4_blob_drop_pages(in, off + len);
	}
	if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG, tag) != 1) {
		err = as4_diag_set(d, AS4_E_CRYPTO, "cannot set the AES-GCM tag");
		goto out;
	}
	if (EVP_CipherFinal_ex(ctx, buf, &n) != 1) {
		err = as4_diag_set(d, encrypt ? AS4_E_CRYPTO : AS4_E_DECRYPT,
		                   encrypt ? "AES-GCM failed"
		                           : "AES-GCM authentication tag mismatch: the ciphertext "
		                             "was altered or truncated, or the key is wrong");
		goto out;
	}
	if (encrypt) {
		if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG, tag) != 1) {
			err = as4_diag_set(d, AS4_E_CRYPTO, "cannot read the AES-GCM tag");
			goto out;
		}
		err = as4_sink_write(out, tag, sizeof(tag));
		if (err != AS4_OK) {
			err = as4_diag_set(d, err, "cannot store the ciphertext");
		}
	}
out:
	ERR_clear_error();
	if (buf != NULL) {
		OPENSSL_cleanse(buf, used);
		free(buf);
	}
	EVP_CIPHER_CTX_free(ctx);
	return err;
}

static size_t threshold(size_t configured, const struct as4_limits *lim)
{
	if (configured != 0) {
		return configured;
	}
	return lim != NULL ? lim->mem_spool_threshold : 1024 * 1024;
}

/* ---- sending side --------------------------------------------------------------------- */

/* A new element href:name placed in sec before `before` (NULL = at the end). */
static xmlNode *insert_el(xmlNode *sec, xmlNode *before, const char *href, const char *pfx,
                          const char *name)
{
	xmlNode *n = xmlNewDocNode(sec->doc, NULL, (const xmlChar *)name, NULL);
	if (n == NULL) {
		return NULL;
	}
	if ((before != NULL ? xmlAddPrevSibling(before, n) : xmlAddChild(sec, n)) == NULL) {
		xmlFreeNode(n);
		return NULL;
	}
	xmlNs *ns = wss_ns(n, href, pfx);
	if (ns == NULL) {
		return NULL;
	}
	xmlSetNs(n, ns);
	return n;
}

/* A child element href:name of parent, declaring the namespace when needed. */
static xmlNode *add_el(xmlNode *parent, const char *href, const char *pfx, const char *name)
{
	xmlNode *n = xmlNewChild(parent, NULL, (const xmlChar *)name, NULL);
	xmlNs *ns = n != NULL ? wss_ns(n, href, pfx) : NULL;
	if (ns == NULL) {
		return NULL;
	}
	xmlSetNs(n, ns);
	return n;
}

static bool set_attr(xmlNode *n, const char *name, const char *value)
{
	return n != NULL && xmlNewProp(n, (const xmlChar *)name, (const xmlChar *)value) != NULL;
}

static as4_err wrap_key(const struct as4_wss_seal_params *p, const uint8_t *cek, size_t cek_len,
                        uint8_t **out, size_t *out_len, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	EVP_PKEY *pub = X509_get0_pubkey(p->encrypt_for);
	EVP_PKEY_CTX *ctx = pub != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL) : NULL;
	const EVP_MD *mgf = wss_sha(p->key_transport == AS4_KT_RSA_OAEP_MGF1P ? 1 : 256);
	size_t len = 0;
	*out = NULL;
	if (ctx == NULL || EVP_PKEY_encrypt_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, wss_sha(256)) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf) <= 0 ||
	    EVP_PKEY_encrypt(ctx, NULL, &len, cek, cek_len) <= 0) {
		char m[160];
		err = as4_diag_set(d, AS4_E_CRYPTO, "cannot encrypt the key for the receiver: %s",
		                   wss_ssl_err(m, sizeof(m)));
		goto out;
	}
	*out = malloc(len);
	if (*out == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	if (EVP_PKEY_encrypt(ctx, *out, &len, cek, cek_len) <= 0) {
		err = as4_diag_set(d, AS4_E_CRYPTO, "RSA-OAEP encryption failed");
		free(*out);
		*out = NULL;
		goto out;
	}
	*out_len = len;
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	return err;
}

/* The KeyInfo of the EncryptedKey: how the receiver finds its certificate. */
static as4_err ek_keyinfo(const struct as4_wss_seal_params *p, xmlNode *ek, const char *bst_id,
                          struct as4_diag *d)
{
	as4_err err = AS4_OK;
	char *issuer = NULL;
	char *serial = NULL;
	char *b64 = NULL;
	char uri[80];
	xmlNode *ki = add_el(ek, AS4_NS_DS, "ds", "KeyInfo");
	xmlNode *str =
	        ki != NULL ? add_el(ki, AS4_NS_WSSE, "wsse", "SecurityTokenReference") : NULL;
	if (str == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	switch (p->encrypt_keyref) {
	case AS4_KEYREF_ISSUER_SERIAL: {
		issuer = wss_cert_name(p->encrypt_for, true);
		serial = wss_cert_serial_dec(p->encrypt_for);
		xmlNode *xd = add_el(str, AS4_NS_DS, "ds", "X509Data");
		xmlNode *is = xd != NULL ? add_el(xd, AS4_NS_DS, "ds", "X509IssuerSerial") : NULL;
		xmlNs *ds = is != NULL ? is->ns : NULL;
		if (issuer == NULL || serial == NULL || ds == NULL ||
		    wss_add_text(is, ds, "X509IssuerName", issuer) == NULL ||
		    wss_add_text(is, ds, "X509SerialNumber", serial) == NULL) {
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
		break;
	}
	case AS4_KEYREF_SKI: {
		uint8_t ski[64];
		size_t n = 0;
		if (!wss_cert_ski(p->encrypt_for, ski, &n)) {
			err = as4_diag_set(d, AS4_E_CONFIG,
			                   "receiver certificate has no key identifier");
			break;
		}
		b64 = as4_b64_encode(ski, n, 0);
		xmlNode *kid =
		        b64 != NULL ? wss_add_text(str, str->ns, "KeyIdentifier", b64) : NULL;
		if (!set_attr(kid, "EncodingType", WSS_ENC_BASE64) ||
		    !set_attr(kid, "ValueType", WSS_VT_SKI)) {
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
		break;
	}
	case AS4_KEYREF_BST:
	default: {
		xmlNode *r = wss_add(str, str->ns, "Reference");
		if (as4_str_fmt(uri, sizeof(uri), "#%s", bst_id) != AS4_OK ||
		    !set_attr(r, "URI", uri) || !set_attr(r, "ValueType", WSS_VT_X509V3)) {
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
		break;
	}
	}
	free(issuer);
	free(serial);
	free(b64);
	return err;
}

/* The receiver's certificate as a BinarySecurityToken after the BSTs already present. */
static as4_err receiver_bst(const struct as4_wss_seal_params *p, xmlNode *sec, struct wss_idgen *g,
                            char *id, size_t cap, struct as4_diag *d)
{
	uint8_t *der = NULL;
	size_t len = 0;
	char *b64 = NULL;
	as4_err err = wss_cert_der(p->encrypt_for, &der, &len);
	if (err != AS4_OK) {
		return as4_diag_set(d, err, "cannot encode the receiver certificate");
	}
	xmlNode *before = as4_xml_first_elem(sec);
	while (before != NULL && as4_xml_is(before, AS4_NS_WSSE, "BinarySecurityToken")) {
		before = as4_xml_next_elem(before);
	}
	b64 = as4_b64_encode(der, len, 0);
	xmlNode *bst = b64 != NULL
	                       ? insert_el(sec, before, AS4_NS_WSSE, "wsse", "BinarySecurityToken")
	                       : NULL;
	xmlNs *wsu = bst != NULL ? wss_ns(bst, AS4_NS_WSU, "wsu") : NULL;
	if (wsu == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	if (wss_new_id(g, "X509-", id, cap) != AS4_OK) {
		err = as4_diag_set(d, AS4_E_LIMIT, "id too long");
		goto out;
	}
	xmlNodeAddContent(bst, BAD_CAST b64);
	if (!set_attr(bst, "EncodingType", WSS_ENC_BASE64) ||
	    !set_attr(bst, "ValueType", WSS_VT_X509V3) ||
	    xmlNewNsProp(bst, wsu, BAD_CAST "Id", (const xmlChar *)id) == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
out:
	free(der);
	free(b64);
	return err;
}

as4_err wss_encrypt(const struct as4_wss_seal_params *p, struct wss_env *e, struct as4_part *parts,
                    size_t n_parts, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	uint8_t cek[32];
	size_t cek_len = p->data_alg == AS4_ENC_AES256_GCM   ? 32
	                 : p->data_alg == AS4_ENC_AES192_GCM ? 24
	                                                     : 16;
	uint8_t *wrapped = NULL;
	size_t wrapped_len = 0;
	char *b64 = NULL;
	struct as4_blob *ct = NULL;
	char bst_id[64] = "";
	char ek_id[64];
	char uri[WSS_MAX_ID_LEN + 8];
	xmlNode *sec = e->security;
	if (n_parts == 0) {
		return AS4_OK;
	}
	unsigned bits = wss_cert_rsa_bits(p->encrypt_for);
	if (bits < 2048) {
		return as4_diag_set(d, AS4_E_CONFIG,
		                    bits == 0
		                            ? "receiver certificate has no RSA key"
		                            : "receiver certificate has a %u-bit RSA key; at least "
		                              "2048 bits are required",
		                    bits);
	}
	ct = calloc(n_parts, sizeof(*ct));
	if (ct == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	struct wss_idgen g;
	if (RAND_bytes(cek, (int)cek_len) != 1 || wss_idgen_init(&g) != AS4_OK) {
		err = as4_diag_set(d, AS4_E_CRYPTO, "random number generator failed");
		goto out;
	}
	/* ciphertexts first, so that the parts change only when everything worked */
	for (size_t i = 0; i < n_parts; i++) {
		struct as4_sink sink;
		size_t max = 0;
		if (!as4_add_size(parts[i].data.len, GCM_IV + GCM_TAG, &max)) {
			err = as4_diag_set(d, AS4_E_LIMIT, "attachment too large");
			goto out;
		}
		as4_sink_init(&sink, p->spool_dir, threshold(p->spool_threshold, NULL), max);
		err = wss_gcm(true, cek, cek_len, &parts[i].data, &sink, d);
		if (err == AS4_OK) {
			err = as4_sink_finish(&sink, &ct[i]);
			if (err != AS4_OK) {
				err = as4_diag_set(d, err, "cannot store the ciphertext");
			}
		}
		as4_sink_cleanup(&sink);
		if (err != AS4_OK) {
			as4_diag_prefix(d, "attachment %s: ", parts[i].content_id);
			goto out;
		}
	}
	err = wrap_key(p, cek, cek_len, &wrapped, &wrapped_len, d);
	if (err != AS4_OK) {
		goto out;
	}
	if (p->encrypt_keyref == AS4_KEYREF_BST) {
		err = receiver_bst(p, sec, &g, bst_id, sizeof(bst_id), d);
		if (err != AS4_OK) {
			goto out;
		}
	}
	/* wsse:Security order: tokens, EncryptedKey, EncryptedData, then ds:Signature */
	xmlNode *sig = as4_xml_child(sec, AS4_NS_DS, "Signature");
	xmlNode *ek = insert_el(sec, sig, AS4_NS_XENC, "xenc", "EncryptedKey");
	if (ek == NULL || wss_new_id(&g, "EK-", ek_id, sizeof(ek_id)) != AS4_OK ||
	    !set_attr(ek, "Id", ek_id)) {
		err = as4_diag_set(d, AS4_E_NOMEM, "cannot create the EncryptedKey");
		goto out;
	}
	xmlNode *em = wss_add(ek, ek->ns, "EncryptionMethod");
	bool oaep11 = p->key_transport != AS4_KT_RSA_OAEP_MGF1P;
	xmlNode *dm = em != NULL ? add_el(em, AS4_NS_DS, "ds", "DigestMethod") : NULL;
	if (!set_attr(em, "Algorithm", oaep11 ? WSS_ALG_RSA_OAEP11 : WSS_ALG_RSA_MGF1P) ||
	    !set_attr(dm, "Algorithm", WSS_ALG_SHA256)) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	if (oaep11) {
		xmlNode *mgf = add_el(em, AS4_NS_XENC11, "xenc11", "MGF");
		if (!set_attr(mgf, "Algorithm", WSS_ALG_MGF1_PFX "sha256")) {
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
			goto out;
		}
	}
	err = ek_keyinfo(p, ek, bst_id, d);
	if (err != AS4_OK) {
		goto out;
	}
	b64 = as4_b64_encode(wrapped, wrapped_len, 0);
	xmlNode *cd = wss_add(ek, ek->ns, "CipherData");
	xmlNode *rl = NULL;
	if (b64 == NULL || cd == NULL || wss_add_text(cd, ek->ns, "CipherValue", b64) == NULL ||
	    (rl = wss_add(ek, ek->ns, "ReferenceList")) == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n_parts; i++) {
		char ed_id[64];
		xmlNode *ed = insert_el(sec, sig, AS4_NS_XENC, "xenc", "EncryptedData");
		const char *mt = parts[i].content_type != NULL ? parts[i].content_type
		                                               : "application/octet-stream";
		if (ed == NULL || wss_new_id(&g, "ED-", ed_id, sizeof(ed_id)) != AS4_OK ||
		    !set_attr(ed, "Id", ed_id) || !set_attr(ed, "MimeType", mt) ||
		    !set_attr(ed, "Type", WSS_SWA_CONTENT_ONLY) ||
		    as4_str_fmt(uri, sizeof(uri), "#%s", ed_id) != AS4_OK ||
		    !set_attr(wss_add(rl, ek->ns, "DataReference"), "URI", uri)) {
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
			goto out;
		}
		xmlNode *dem = wss_add(ed, ed->ns, "EncryptionMethod");
		xmlNode *ki = add_el(ed, AS4_NS_DS, "ds", "KeyInfo");
		xmlNode *str = ki != NULL
		                       ? add_el(ki, AS4_NS_WSSE, "wsse", "SecurityTokenReference")
		                       : NULL;
		xmlNs *wsse11 = str != NULL ? wss_ns(str, AS4_NS_WSSE11, "wsse11") : NULL;
		xmlNode *r = str != NULL ? wss_add(str, str->ns, "Reference") : NULL;
		xmlNode *ecd = wss_add(ed, ed->ns, "CipherData");
		xmlNode *cr = ecd != NULL ? wss_add(ecd, ed->ns, "CipherReference") : NULL;
		xmlNode *trs = cr != NULL ? wss_add(cr, ed->ns, "Transforms") : NULL;
		xmlNode *tr = trs != NULL ? add_el(trs, AS4_NS_DS, "ds", "Transform") : NULL;
		if (!set_attr(dem, "Algorithm", data_alg_uri(p->data_alg)) || wsse11 == NULL ||
		    xmlNewNsProp(str, wsse11, BAD_CAST "TokenType",
		                 BAD_CAST WSS_TT_ENCRYPTED_KEY) == NULL ||
		    as4_str_fmt(uri, sizeof(uri), "#%s", ek_id) != AS4_OK ||
		    !set_attr(r, "URI", uri) ||
		    as4_str_fmt(uri, sizeof(uri), "cid:%s", parts[i].content_id) != AS4_OK ||
		    !set_attr(cr, "URI", uri) || !set_attr(tr, "Algorithm", WSS_SWA_CIPHERTEXT)) {
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < n_parts; i++) {
		as4_blob_move(&parts[i].data, &ct[i]);
		parts[i].content_type = "application/octet-stream";
	}
out:
	OPENSSL_cleanse(cek, sizeof(cek));
	for (size_t i = 0; i < n_parts; i++) {
		as4_blob_cleanup(&ct[i]);
	}
	free(ct);
	free(wrapped);
	free(b64);
	return err;
}

/* ---- receiving side ------------------------------------------------------------------- */

struct ek_algs {
	const char *uri;
	const EVP_MD *oaep;
	const EVP_MD *mgf1;
};

static as4_err ek_method(const xmlNode *ek, struct ek_algs *a, uint8_t **label, size_t *label_len,
                         struct as4_diag *d)
{
	const xmlNode *em = as4_xml_child(ek, AS4_NS_XENC, "EncryptionMethod");
	a->uri = as4_xml_attr(em, NULL, "Algorithm");
	*label = NULL;
	*label_len = 0;
	if (a->uri == NULL) {
		return as4_diag_set(d, AS4_E_DECRYPT, "EncryptedKey has no EncryptionMethod");
	}
	bool oaep11 = strcmp(a->uri, WSS_ALG_RSA_OAEP11) == 0;
	if (!oaep11 && strcmp(a->uri, WSS_ALG_RSA_MGF1P) != 0) {
		return as4_diag_set(
		        d, AS4_E_DECRYPT,
		        "key transport algorithm '%.120s' not accepted (xmlenc11#rsa-oaep "
		        "or xmlenc#rsa-oaep-mgf1p)",
		        a->uri);
	}
	/* XML Encryption 1.1 §5.5.2: DigestMethod defaults to SHA-1, MGF to MGF1 with SHA-1 */
	const xmlNode *dm = as4_xml_child(em, AS4_NS_DS, "DigestMethod");
	a->oaep = wss_sha(1);
	if (dm != NULL) {
		a->oaep = digest_by_uri(as4_xml_attr(dm, NULL, "Algorithm"));
		if (a->oaep == NULL) {
			return as4_diag_set(d, AS4_E_DECRYPT,
			                    "RSA-OAEP digest '%.120s' not supported",
			                    as4_xml_attr(dm, NULL, "Algorithm") != NULL
			                            ? as4_xml_attr(dm, NULL, "Algorithm")
			                            : "(none)");
		}
	}
	a->mgf1 = wss_sha(1);
	const xmlNode *mgf = as4_xml_child(em, AS4_NS_XENC11, "MGF");
	if (oaep11 && mgf != NULL) {
		a->mgf1 = mgf_by_uri(as4_xml_attr(mgf, NULL, "Algorithm"));
		if (a->mgf1 == NULL) {
			return as4_diag_set(d, AS4_E_DECRYPT, "RSA-OAEP MGF '%.120s' not supported",
			                    as4_xml_attr(mgf, NULL, "Algorithm") != NULL
			                            ? as4_xml_attr(mgf, NULL, "Algorithm")
			                            : "(none)");
		}
	}
	const xmlNode *op = as4_xml_child(em, AS4_NS_XENC, "OAEPparams");
	if (op != NULL) {
		return wss_b64_text(op, WSS_MAX_SMALL_B64, AS4_E_DECRYPT, "OAEPparams", label,
		                    label_len, d);
	}
	return AS4_OK;
}

as4_err wss_unwrap_key(const struct wss_env *e, const xmlNode *ek, struct as4_keystore *const *keys,
                       size_t n_keys, uint8_t *out, size_t cap, size_t *out_len, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	struct ek_algs a = {NULL, NULL, NULL};
	uint8_t *label = NULL;
	size_t label_len = 0;
	uint8_t *wrapped = NULL;
	size_t wrapped_len = 0;
	X509 *named = NULL;
	STACK_OF(X509) *path = NULL;
	X509 **mine = NULL;
	if (n_keys == 0) {
		return as4_diag_set(d, AS4_E_DECRYPT,
		                    "the message is encrypted but no decryption key is configured");
	}
	err = ek_method(ek, &a, &label, &label_len, d);
	if (err != AS4_OK) {
		goto out;
	}
	const xmlNode *cd = as4_xml_child(ek, AS4_NS_XENC, "CipherData");
	const xmlNode *cv = as4_xml_child(cd, AS4_NS_XENC, "CipherValue");
	if (cv == NULL) {
		err = as4_diag_set(d, AS4_E_DECRYPT, "EncryptedKey has no CipherValue");
		goto out;
	}
	err = wss_b64_text(cv, WSS_MAX_KEY_B64, AS4_E_DECRYPT, "EncryptedKey CipherValue", &wrapped,
	                   &wrapped_len, d);
	if (err != AS4_OK) {
		goto out;
	}
	/* Which of our keys: the one whose certificate the KeyInfo names, else each in turn. */
	mine = calloc(n_keys, sizeof(*mine));
	if (mine == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n_keys; i++) {
		mine[i] = as4_keystore_cert(keys[i]);
	}
	size_t first = 0;
	size_t last = n_keys;
	const xmlNode *ki = as4_xml_child(ek, AS4_NS_DS, "KeyInfo");
	if (ki != NULL) {
		const char *how = NULL;
		struct as4_diag kd;
		as4_diag_init(&kd);
		as4_err r = wss_keyinfo_resolve(e, ki, mine, n_keys, AS4_E_DECRYPT, &named, &path,
		                                &how, &kd);
		if (r == AS4_E_NOTFOUND) {
			err = as4_diag_set(d, AS4_E_DECRYPT,
			                   "EncryptedKey is not for one of our certificates (%s)",
			                   as4_diag_text(&kd));
			goto out;
		}
		if (r != AS4_OK) {
			err = as4_diag_set(d, r, "EncryptedKey: %s", as4_diag_text(&kd));
			goto out;
		}
		size_t i = 0;
		while (i < n_keys && X509_cmp(mine[i], named) != 0) {
			i++;
		}
		if (i == n_keys) {
			char *subj = wss_cert_name(named, false);
			err = as4_diag_set(
			        d, AS4_E_DECRYPT,
			        "EncryptedKey is for '%s', which is not one of our certificates",
			        subj != NULL ? subj : "?");
			free(subj);
			goto out;
		}
		first = i;
		last = i + 1;
	}
	err = AS4_E_DECRYPT;
	for (size_t i = first; i < last && err != AS4_OK; i++) {
		struct as4_diag ud;
		as4_diag_init(&ud);
		err = wss_keystore_unwrap(keys[i], a.oaep, a.mgf1, label, label_len, wrapped,
		                          wrapped_len, out, cap, out_len, &ud);
		if (err != AS4_OK && i + 1 == last) {
			err = as4_diag_set(d, err, "%s", as4_diag_text(&ud));
		}
	}
out:
	X509_free(named);
	sk_X509_pop_free(path, X509_free);
	free(mine);
	free(label);
	free(wrapped);
	return err;
}

/* The EncryptedKey that holds the key of ed. */
static as4_err key_for(const struct wss_env *e, const xmlNode *ed, const xmlNode **out,
                       struct as4_diag *d)
{
	const xmlNode *ki = as4_xml_child(ed, AS4_NS_DS, "KeyInfo");
	const char *uri = NULL;
	*out = NULL;
	if (ki != NULL) {
		const xmlNode *inl = as4_xml_child(ki, AS4_NS_XENC, "EncryptedKey");
		if (inl != NULL) {
			*out = inl;
			return AS4_OK;
		}
		const xmlNode *str = as4_xml_child(ki, AS4_NS_WSSE, "SecurityTokenReference");
		const xmlNode *rm = as4_xml_child(ki, AS4_NS_DS, "RetrievalMethod");
		if (str != NULL) {
			uri = as4_xml_attr(as4_xml_child(str, AS4_NS_WSSE, "Reference"), NULL,
			                   "URI");
		} else if (rm != NULL) {
			uri = as4_xml_attr(rm, NULL, "URI");
		}
		if (uri != NULL) {
			xmlNode *t = uri[0] == '#' && wss_id_syntax_ok(uri + 1)
			                     ? wss_id_lookup(e->doc, uri + 1)
			                     : NULL;
			if (t == NULL || !as4_xml_is(t, AS4_NS_XENC, "EncryptedKey") ||
			    t->parent != e->security) {
				return as4_diag_set(
				        d, AS4_E_DECRYPT,
				        "EncryptedData key reference '%.120s' does not name an "
				        "EncryptedKey of the security header",
				        uri);
			}
			*out = t;
			return AS4_OK;
		}
	}
	/* no key reference: the EncryptedKey whose ReferenceList names this EncryptedData */
	const char *id = as4_xml_attr(ed, NULL, "Id");
	for (xmlNode *ek = as4_xml_first_elem(e->security); id != NULL && ek != NULL;
	     ek = as4_xml_next_elem(ek)) {
		if (!as4_xml_is(ek, AS4_NS_XENC, "EncryptedKey")) {
			continue;
		}
		xmlNode *rl = as4_xml_child(ek, AS4_NS_XENC, "ReferenceList");
		for (xmlNode *dr = as4_xml_first_elem(rl); dr != NULL; dr = as4_xml_next_elem(dr)) {
			const char *u = as4_xml_attr(dr, NULL, "URI");
			/* AS4.NET writes DataReference URIs without the '#' */
			const char *ref = u != NULL && u[0] == '#' ? u + 1 : u;
			if (as4_xml_is(dr, AS4_NS_XENC, "DataReference") && ref != NULL &&
			    strcmp(ref, id) == 0) {
				*out = ek;
				return AS4_OK;
			}
		}
	}
	return as4_diag_set(d, AS4_E_DECRYPT,
	                    "no EncryptedKey holds the key of EncryptedData %.100s",
	                    id != NULL ? id : "(without Id)");
}

struct unwrapped {
	const xmlNode *ek;
	uint8_t key[32];
	size_t len;
};

/* The attachment an EncryptedData's CipherReference names. */
static as4_err ed_part(const xmlNode *ed, struct as4_part *parts, size_t n_parts,
                       struct as4_part **out, struct as4_diag *d)
{
	const xmlNode *cd = as4_xml_child(ed, AS4_NS_XENC, "CipherData");
	const xmlNode *cr = as4_xml_child(cd, AS4_NS_XENC, "CipherReference");
	const char *uri = as4_xml_attr(cr, NULL, "URI");
	const char *id = as4_xml_attr(ed, NULL, "Id");
	if (cr == NULL || uri == NULL) {
		return as4_diag_set(d, AS4_E_DECRYPT,
		                    "EncryptedData %.100s has no CipherReference to an attachment "
		                    "(XML content encryption is not used by eDelivery AS4)",
		                    id != NULL ? id : "");
	}
	const xmlNode *trs = as4_xml_child(cr, AS4_NS_XENC, "Transforms");
	for (const xmlNode *t = as4_xml_first_elem(trs); t != NULL; t = as4_xml_next_elem(t)) {
		const char *alg = as4_xml_attr(t, NULL, "Algorithm");
		if (!as4_xml_is(t, AS4_NS_DS, "Transform") || alg == NULL ||
		    strcmp(alg, WSS_SWA_CIPHERTEXT) != 0) {
			return as4_diag_set(d, AS4_E_DECRYPT,
			                    "CipherReference %.120s: only the "
			                    "Attachment-Ciphertext-Transform is allowed",
			                    uri);
		}
	}
	if (strncasecmp(uri, "cid:", 4) != 0) {
		return as4_diag_set(d, AS4_E_DECRYPT,
		                    "CipherReference '%.120s' is not a cid: reference (external "
		                    "URIs are never dereferenced)",
		                    uri);
	}
	*out = wss_find_part(parts, n_parts, uri);
	if (*out == NULL) {
		return as4_diag_set(
		        d, AS4_E_MIME,
		        "EncryptedData refers to attachment %.120s, which is not in the "
		        "message",
		        uri);
	}
	return AS4_OK;
}

as4_err wss_decrypt(const struct as4_wss_open_params *p, const struct wss_env *e,
                    struct as4_part *parts, size_t n_parts, struct as4_wss_open_result *res,
                    struct as4_diag *d)
{
	as4_err err = AS4_OK;
	size_t n_eds = 0;
	for (xmlNode *n = as4_xml_first_elem(e->security); n != NULL; n = as4_xml_next_elem(n)) {
		n_eds += as4_xml_is(n, AS4_NS_XENC, "EncryptedData") ? 1 : 0;
	}
	if (n_eds == 0) {
		return AS4_OK;
	}
	if (n_eds > n_parts) {
		return as4_diag_set(d, AS4_E_MIME, "%zu EncryptedData elements for %zu attachments",
		                    n_eds, n_parts);
	}
	struct as4_blob *plain = calloc(n_parts, sizeof(*plain));
	const char **types = calloc(n_parts, sizeof(*types));
	struct unwrapped *keys = calloc(n_eds, sizeof(*keys));
	size_t n_keys = 0;
	if (plain == NULL || types == NULL || keys == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	for (xmlNode *ed = as4_xml_first_elem(e->security); ed != NULL;
	     ed = as4_xml_next_elem(ed)) {
		if (!as4_xml_is(ed, AS4_NS_XENC, "EncryptedData")) {
			continue;
		}
		const char *type = as4_xml_attr(ed, NULL, "Type");
		const char *alg = as4_xml_attr(as4_xml_child(ed, AS4_NS_XENC, "EncryptionMethod"),
		                               NULL, "Algorithm");
		struct as4_part *part = NULL;
		if (res->data_alg == NULL && alg != NULL) {
			res->data_alg = as4_str_dup(alg);
		}
		if (type == NULL || strcmp(type, WSS_SWA_CONTENT_ONLY) != 0) {
			err = as4_diag_set(d, AS4_E_DECRYPT,
			                   "EncryptedData Type '%.120s' not supported (SwA "
			                   "Attachment-Content-Only)",
			                   type != NULL ? type : "(none)");
			goto out;
		}
		size_t klen = gcm_key_len(alg);
		if (klen == 0) {
			err = as4_diag_set(
			        d, AS4_E_DECRYPT,
			        "data encryption algorithm '%.120s' not accepted (AES-GCM "
			        "128/192/256)",
			        alg != NULL ? alg : "(none)");
			goto out;
		}
		err = ed_part(ed, parts, n_parts, &part, d);
		if (err != AS4_OK) {
			goto out;
		}
		size_t idx = (size_t)(part - parts);
		if (types[idx] != NULL) {
			err = as4_diag_set(
			        d, AS4_E_DECRYPT,
			        "attachment %s is the target of two EncryptedData elements",
			        part->content_id);
			goto out;
		}
		const xmlNode *ek = NULL;
		err = key_for(e, ed, &ek, d);
		if (err != AS4_OK) {
			goto out;
		}
		struct unwrapped *k = NULL;
		for (size_t i = 0; i < n_keys; i++) {
			if (keys[i].ek == ek) {
				k = &keys[i];
			}
		}
		if (k == NULL) {
			/*
			 * eDelivery AS4 sends one EncryptedKey; a few are tolerated, but each costs
			 * a private-key operation, so a message cannot make us spend one per part.
			 */
			if (n_keys == WSS_MAX_ENCRYPTED_KEYS) {
				err = as4_diag_set(
				        d, AS4_E_DECRYPT,
				        "the attachments are encrypted under more than %u "
				        "EncryptedKey elements",
				        WSS_MAX_ENCRYPTED_KEYS);
				goto out;
			}
			k = &keys[n_keys++];
			k->ek = ek;
			if (res->key_transport_alg == NULL) {
				const char *kt = as4_xml_attr(
				        as4_xml_child(ek, AS4_NS_XENC, "EncryptionMethod"), NULL,
				        "Algorithm");
				res->key_transport_alg = kt != NULL ? as4_str_dup(kt) : NULL;
			}
			err = wss_unwrap_key(e, ek, p->decrypt_keys, p->n_decrypt_keys, k->key,
			                     sizeof(k->key), &k->len, d);
			if (err != AS4_OK) {
				goto out;
			}
		}
		if (k->len != klen) {
			err = as4_diag_set(d, AS4_E_DECRYPT,
			                   "the unwrapped key has %zu bytes, but %s needs %zu",
			                   k->len, alg, klen);
			goto out;
		}
		struct as4_sink sink;
		as4_sink_init(&sink, p->spool_dir, threshold(p->spool_threshold, p->limits),
		              part->data.len);
		err = wss_gcm(false, k->key, k->len, &part->data, &sink, d);
		if (err == AS4_OK) {
			err = as4_sink_finish(&sink, &plain[idx]);
			if (err != AS4_OK) {
				err = as4_diag_set(d, err, "cannot store the plaintext");
			}
		}
		as4_sink_cleanup(&sink);
		if (err != AS4_OK) {
			as4_diag_prefix(d, "attachment %s: ", part->content_id);
			goto out;
		}
		const char *mt = as4_xml_attr(ed, NULL, "MimeType");
		if (mt == NULL) {
			mt = "application/octet-stream";
		} else if (p->arena != NULL) {
			mt = as4_arena_strdup(p->arena, mt);
			if (mt == NULL) {
				err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
				goto out;
			}
		}
		types[idx] = mt;
	}
	for (size_t i = 0; i < n_parts; i++) {
		if (types[i] == NULL) {
			continue;
		}
		as4_blob_move(&parts[i].data, &plain[i]);
		parts[i].content_type = types[i];
		parts[i].decrypted = true;
		res->parts_decrypted++;
	}
	res->decryption_ok = true;
out:
	for (size_t i = 0; keys != NULL && i < n_eds; i++) {
		OPENSSL_cleanse(keys[i].key, sizeof(keys[i].key));
	}
	for (size_t i = 0; plain != NULL && i < n_parts; i++) {
		as4_blob_cleanup(&plain[i]);
	}
	free(plain);
	free(types);
	free(keys);
	return err;
}
