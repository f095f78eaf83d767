/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the files of the security layer (not a public contract, STYLE rule 17).
 *
 * Split of the layer:
 *   keystore.c    the only file that touches private keys (RSA signature, RSA-OAEP unwrap)
 *   truststore.c  trust anchors and path validation at a given time
 *   x509.c        certificate helpers: subject text, SKI, issuer/serial, PKIPath, key size
 *   env.c         SOAP structure, Id uniqueness and registration, small DOM writers
 *   swa.c         SwA 1.1: cid: resolution and Attachment-Content-Signature-Transform input
 *   c14n.c        exclusive XML canonicalisation of a subtree, streamed
 *   dsig.c        XML Signature steps: reference digests, SignedInfo signature (OpenSSL EVP)
 *   sign.c        ds:Signature on the sending side
 *   verify.c      ds:Signature checks on the receiving side (structure, signer, then dsig.c)
 *   crypt.c       attachment encryption and decryption (EncryptedKey, EncryptedData, AES-GCM)
 *   wss.c         as4_wss_seal / as4_wss_open / as4_wss_sign_signal and global set-up
 *
 * Every file that includes this header is compiled with xmlsec's pkg-config flags (STYLE 21).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "as4/blob.h"
#include "as4/compiler.h"
#include "as4/diag.h"
#include "as4/err.h"
#include "as4/limits.h"
#include "as4/part.h"
#include "as4/wss.h"

/* ---- Algorithm and profile URIs ------------------------------------------------------- */

#define WSS_ALG_EXC_C14N   "http://www.w3.org/2001/10/xml-exc-c14n#"
#define WSS_ALG_RSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
#define WSS_ALG_RSA_SHA384 "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
#define WSS_ALG_RSA_SHA512 "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
#define WSS_ALG_SHA1       "http://www.w3.org/2000/09/xmldsig#sha1"
#define WSS_ALG_SHA224     "http://www.w3.org/2001/04/xmldsig-more#sha224"
#define WSS_ALG_SHA256     "http://www.w3.org/2001/04/xmlenc#sha256"
#define WSS_ALG_SHA384     "http://www.w3.org/2001/04/xmldsig-more#sha384"
#define WSS_ALG_SHA512     "http://www.w3.org/2001/04/xmlenc#sha512"
#define WSS_ALG_RSA_OAEP11 "http://www.w3.org/2009/xmlenc11#rsa-oaep"
#define WSS_ALG_RSA_MGF1P  "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
#define WSS_ALG_MGF1_PFX   "http://www.w3.org/2009/xmlenc11#mgf1"
#define WSS_ALG_AES128_GCM "http://www.w3.org/2009/xmlenc11#aes128-gcm"
#define WSS_ALG_AES192_GCM "http://www.w3.org/2009/xmlenc11#aes192-gcm"
#define WSS_ALG_AES256_GCM "http://www.w3.org/2009/xmlenc11#aes256-gcm"

#define WSS_SWA_NS           "http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1"
#define WSS_SWA_CONTENT_SIG  WSS_SWA_NS "#Attachment-Content-Signature-Transform"
#define WSS_SWA_CIPHERTEXT   WSS_SWA_NS "#Attachment-Ciphertext-Transform"
#define WSS_SWA_CONTENT_ONLY WSS_SWA_NS "#Attachment-Content-Only"
#define WSS_X509_TOKEN_PROFILE                                                                     \
	"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0"
#define WSS_VT_X509V3  WSS_X509_TOKEN_PROFILE "#X509v3"
#define WSS_VT_PKIPATH WSS_X509_TOKEN_PROFILE "#X509PKIPathv1"
#define WSS_VT_SKI     WSS_X509_TOKEN_PROFILE "#X509SubjectKeyIdentifier"
#define WSS_ENC_BASE64                                                                             \
	"http://docs.oasis-open.org/wss/2004/01/"                                                  \
	"oasis-200401-wss-soap-message-security-1.0#Base64Binary"
#define WSS_TT_ENCRYPTED_KEY                                                                       \
	"http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#EncryptedKey"

/* ---- Caps on untrusted base64 text in the security header (before decoding) ---------- */

#define WSS_MAX_TOKEN_B64      (64u * 1024) /* BinarySecurityToken: a certificate or a short path */
#define WSS_MAX_KEY_B64        (4u * 1024)  /* EncryptedKey CipherValue (RSA-16384 = 2732 chars) */
#define WSS_MAX_SMALL_B64      512u         /* DigestValue, KeyIdentifier, OAEPparams */
#define WSS_MAX_ID_LEN         256u         /* an Id / wsu:Id value */
#define WSS_MAX_REFS           1024u        /* ds:Reference elements in one SignedInfo */
#define WSS_MAX_PKIPATH        8u           /* certificates in one X509PKIPathv1 token */
#define WSS_MAX_ENCRYPTED_KEYS 4u           /* distinct EncryptedKeys unwrapped per message */

/* Chunk size for streaming digests and AES-GCM over large payloads. */
#define WSS_CHUNK (64u * 1024)

/* ---- keystore.c: the only code that touches private keys (STYLE rule 23) -------------- */

/*
 * The text of our BinarySecurityToken: base64 of the certificate's DER (X509v3) or of the
 * X509PKIPathv1 of certificate and chain, encoded once when the keystore was loaded.
 * Borrowed; valid until as4_keystore_free() / as4_keystore_set_cert(). NULL only for a
 * generated keystore without certificate.
 */
const char *wss_keystore_token(const struct as4_keystore *ks, bool pkipath);

/*
 * RSA PKCS#1 v1.5 signature with the keystore's private key over digest (dlen bytes, made
 * with md) into a new heap block *sig (free()) of *sig_len bytes. AS4_E_CRYPTO, AS4_E_NOMEM.
 * Thread-safe.
 */
AS4_MUST_CHECK as4_err wss_keystore_sign(const struct as4_keystore *ks, const EVP_MD *md,
                                         const uint8_t *digest, size_t dlen, uint8_t **sig,
                                         size_t *sig_len, struct as4_diag *d);

/*
 * RSA-OAEP decryption of an EncryptedKey with the keystore's private key: oaep_md is the
 * OAEP digest, mgf1_md the MGF1 digest, label the OAEPparams (may be NULL/0). Writes at most
 * cap bytes of key material to out. AS4_E_DECRYPT when the padding check fails or the result
 * does not fit (the diagnostic never says which, to give an attacker no oracle).
 * Thread-safe.
 */
AS4_MUST_CHECK as4_err wss_keystore_unwrap(const struct as4_keystore *ks, const EVP_MD *oaep_md,
                                           const EVP_MD *mgf1_md, const uint8_t *label,
                                           size_t label_len, const uint8_t *in, size_t in_len,
                                           uint8_t *out, size_t cap, size_t *out_len,
                                           struct as4_diag *d);

/* ---- x509.c ---------------------------------------------------------------------------- */

/*
 * Move the OpenSSL error queue into buf (capacity cap) as "reason: reason" text (or "unknown
 * error") and clear it (STYLE rule 4: library errors are converted once, at the boundary).
 */
const char *wss_ssl_err(char *buf, size_t cap);

/* RSA modulus size in bits, or 0 when the certificate's key is not RSA. */
unsigned wss_cert_rsa_bits(X509 *cert);

/* One-line RFC 2253 subject (or issuer when issuer is true) as a heap string; NULL = OOM. */
char *wss_cert_name(X509 *cert, bool issuer);

/* wss_cert_rsa_bits() and the subject of wss_cert_name() computed afresh (certinfo.c). */
unsigned wss_cert_rsa_bits_uncached(X509 *cert);
char *wss_cert_name_uncached(X509 *cert);

/* ---- certinfo.c: per-certificate facts, computed once ---------------------------------- */

/* What is read from a certificate for every message; immutable once made. */
struct wss_cert_info {
	uint8_t *der; /* its DER encoding */
	size_t der_len;
	char *subject;      /* wss_cert_name(cert, false) */
	unsigned rsa_bits;  /* wss_cert_rsa_bits() */
	bool times_ok;      /* the validity times could be read: */
	int64_t not_before; /* notBefore, seconds since the epoch */
	int64_t not_after;  /* notAfter, seconds since the epoch */
};

/*
 * The facts of cert, computed on first use and kept in the certificate's ex_data (freed with
 * it). Borrowed: valid as long as cert is. NULL when cert is NULL or memory ran out (callers
 * then compute what they need themselves). Thread-safe.
 */
const struct wss_cert_info *wss_cert_info(X509 *cert);

/*
 * Subject key identifier as it is sent: the extension when present, else RFC 5280 method 1
 * (SHA-1 of the subjectPublicKey bits). out must hold 64 bytes. False when no key.
 */
bool wss_cert_ski(X509 *cert, uint8_t out[64], size_t *len);

/* True when an SKI sent by a peer names cert (extension or method-1 value). */
bool wss_cert_ski_matches(X509 *cert, const uint8_t *ski, size_t len);

/*
 * True when cert has the serial number `serial` (decimal text) and its issuer equals the DN
 * text `issuer` (RFC 2253/4514; compared attribute by attribute, case- and order-insensitive,
 * as WSS4J does).
 */
bool wss_cert_issuer_serial_matches(X509 *cert, const char *issuer, const char *serial);

/* Serial number of cert as decimal text (heap); NULL = OOM. */
char *wss_cert_serial_dec(X509 *cert);

/* True when cert is valid at at_ms (notBefore <= t <= notAfter). */
bool wss_cert_time_valid(X509 *cert, int64_t at_ms);

/*
 * Decode one DER certificate. AS4_E_SIG_INVALID-style errors are the caller's: this returns
 * NULL when der is not exactly one certificate.
 */
X509 *wss_cert_from_der(const uint8_t *der, size_t len);

/* As wss_cert_from_der(), but returns a reference to one of `known` whose DER equals der. */
X509 *wss_cert_from_der_known(const uint8_t *der, size_t len, X509 *const *known, size_t n_known);

/*
 * Parse an X509PKIPathv1 token (DER SEQUENCE OF Certificate, trust anchor side first, the
 * signer last). *leaf gets the signer (own reference), *others the remaining certificates
 * (own stack, may be empty). False when the DER is not a valid path of 1..WSS_MAX_PKIPATH
 * certificates.
 */
bool wss_pkipath_parse(const uint8_t *der, size_t len, X509 **leaf, STACK_OF(X509) * *others);

/*
 * Encode leaf and its issuers (chain[0] = leaf's issuer, ...) as X509PKIPathv1 DER, trust
 * anchor side first. *out is a heap block (free()). AS4_E_NOMEM / AS4_E_CRYPTO.
 */
AS4_MUST_CHECK as4_err wss_pkipath_encode(X509 *leaf, STACK_OF(X509) * chain, uint8_t **out,
                                          size_t *len);

/* DER of one certificate into a heap block (free()). AS4_E_NOMEM / AS4_E_CRYPTO. */
AS4_MUST_CHECK as4_err wss_cert_der(X509 *cert, uint8_t **out, size_t *len);

/* ---- env.c: SOAP structure, Ids, DOM helpers ------------------------------------------- */

/* The parts of a SOAP envelope this layer works on. */
struct wss_env {
	xmlDoc *doc;
	xmlNode *envelope;  /* S12:Envelope (or SOAP 1.1) */
	const char *soap;   /* its namespace URI */
	xmlNode *header;    /* S:Header (may be NULL when opening a message without one) */
	xmlNode *body;      /* S:Body */
	xmlNode *messaging; /* the eb:Messaging child of Header, or NULL */
	xmlNode *security;  /* the wsse:Security child of Header, or NULL */
};

/*
 * Find Envelope, Header, Body, eb:Messaging and wsse:Security. create_header: add an empty
 * Header when missing (sending side). Errors: AS4_E_XML (not a SOAP envelope, no Body, two
 * Headers or Bodies), AS4_E_SIG_INVALID (two wsse:Security headers, two eb:Messaging).
 */
AS4_MUST_CHECK as4_err wss_env_find(xmlDoc *doc, bool create_header, struct wss_env *e,
                                    struct as4_diag *d);

/*
 * Check that every Id, wsu:Id, ID and xml:id value in the document is unique and well formed
 * (a duplicate is a signature-wrapping attack), then register the Id and wsu:Id attributes
 * as XML IDs so that "#id" references resolve. AS4_E_SIG_INVALID naming the value.
 */
AS4_MUST_CHECK as4_err wss_ids_register(xmlDoc *doc, const struct as4_limits *lim,
                                        struct as4_diag *d);

/* True when id may be used in a same-document reference (no quotes, brackets, spaces). */
bool wss_id_syntax_ok(const char *id);

/* The element whose registered Id is id, or NULL. */
xmlNode *wss_id_lookup(xmlDoc *doc, const char *id);

/* The Id of an element: wsu:Id, else Id; NULL when none (borrowed from the document). */
const char *wss_elem_id(const xmlNode *el);

/*
 * New element ids for one document: one random UUID (one RNG call) and a counter, giving
 * "<prefix><uuid>-<n>" (unique within the document; the UUID keeps them apart from ids of
 * other messages).
 */
struct wss_idgen {
	char uuid[37];
	unsigned n;
};

/* Draw the UUID. AS4_E_CRYPTO when the RNG fails. */
AS4_MUST_CHECK as4_err wss_idgen_init(struct wss_idgen *g);

/* The next id into out (capacity cap). AS4_E_LIMIT when it does not fit. */
AS4_MUST_CHECK as4_err wss_new_id(struct wss_idgen *g, const char *prefix, char *out, size_t cap);

/*
 * The wsu:Id of el, adding a new one from g when it has neither wsu:Id nor Id.
 * *id is borrowed from the document. AS4_E_NOMEM, AS4_E_LIMIT.
 */
AS4_MUST_CHECK as4_err wss_ensure_id(xmlNode *el, struct wss_idgen *g, const char *prefix,
                                     const char **id, struct as4_diag *d);

/* The namespace href on el, declaring it with prefix pfx (or a free variant) if needed. */
xmlNs *wss_ns(xmlNode *el, const char *href, const char *pfx);

/* A new child element ns:name of parent (after its last child); NULL = out of memory. */
xmlNode *wss_add(xmlNode *parent, xmlNs *ns, const char *name);

/* As wss_add() with a text child. */
xmlNode *wss_add_text(xmlNode *parent, xmlNs *ns, const char *name, const char *text);

/*
 * Decode the base64 text of el (whitespace and &#xd; allowed) into a heap block (free()).
 * what names the element in diagnostics. err is the code for malformed or oversized text
 * (base64 longer than max_b64 characters).
 */
AS4_MUST_CHECK as4_err wss_b64_text(const xmlNode *el, size_t max_b64, as4_err err,
                                    const char *what, uint8_t **out, size_t *len,
                                    struct as4_diag *d);

/* Exclusive C14N of the subtree of el into a heap string (free()); NULL = failure. */
char *wss_c14n_subtree(xmlNode *el);

/* Remove XML whitespace from a base64 string in place. */
void wss_strip_ws(char *s);

/* ---- swa.c: SwA 1.1 attachments -------------------------------------------------------- */

/*
 * The part a "cid:" URI names (RFC 2392: the URI is the percent-encoded Content-ID), or
 * NULL. Case-insensitive scheme.
 */
struct as4_part *wss_find_part(struct as4_part *parts, size_t n, const char *uri);

/* Callback that receives the digest input of an attachment in chunks. Return 0 to go on. */
typedef int (*wss_emit_fn)(void *ctx, const uint8_t *p, size_t n);

/*
 * Stream the Attachment-Content-Signature-Transform output of part to emit (SwA 1.1 §5.4.2 as
 * WSS4J does): XML media types -> exclusive C14N of the parsed content; other "text/..." -> CRLF
 * line ends; anything else -> the bytes unchanged. Mapped blobs release their pages behind
 * the walk. Errors: AS4_E_SIG_INVALID (XML content that cannot be parsed or canonicalised;
 * the diagnostic says why), AS4_E_INTERNAL (emit failed).
 */
AS4_MUST_CHECK as4_err wss_swa_content(const struct as4_part *part, const struct as4_limits *lim,
                                       wss_emit_fn emit, void *ctx, struct as4_diag *d);

/* ---- c14n.c: Exclusive XML Canonicalization -------------------------------------------- */

/*
 * Exclusive XML Canonicalization 1.0 without comments of el and its descendants (the subset a
 * same-document "#id" reference selects), streamed to emit in pieces of up to 2 KiB.
 * prefix_list is the InclusiveNamespaces PrefixList as written (NULL = none). The bytes are
 * those libxml2 2.9's xmlC14NExecute (XML_C14N_EXCLUSIVE_1_0) renders for that subset, but
 * only the subtree is walked and nothing is copied. The document is not changed.
 * Errors: AS4_E_SIG_INVALID (a relative or malformed namespace URI in scope, a node canonical
 * XML cannot render, such as an entity reference), AS4_E_INTERNAL (emit failed),
 * AS4_E_NOMEM, AS4_E_INVAL (el is not an element).
 */
AS4_MUST_CHECK as4_err wss_c14n(xmlNode *el, const char *prefix_list, wss_emit_fn emit, void *ctx,
                                struct as4_diag *d);

/*
 * The parameter of an exc-c14n Transform or CanonicalizationMethod element: *prefix_list
 * (borrowed from the document) is the PrefixList of its ec:InclusiveNamespaces child, NULL
 * when it has none. AS4_E_SIG_INVALID for any other content (xmlsec refused it too).
 */
AS4_MUST_CHECK as4_err wss_c14n_method(const xmlNode *method, const char **prefix_list,
                                       struct as4_diag *d);

/* ---- dsig.c: XML Signature steps ---------------------------------------------------------- */

/*
 * The digests and ciphers of the profile, fetched once by as4_wss_global_init() (OpenSSL 3
 * looks an algorithm up again at every use of EVP_sha256() and friends); before that, or
 * when a fetch failed, the built-in objects. bits: 1 (SHA-1), 224, 256, 384, 512; key_len 16,
 * 24, 32. NULL for other values.
 */
const EVP_MD *wss_sha(unsigned bits);
const EVP_CIPHER *wss_aes_gcm(size_t key_len);

/* ds:DigestMethod URI -> digest (SHA-256/384/512), or NULL. */
const EVP_MD *wss_digest_by_uri(const char *uri);

/* ds:SignatureMethod URI -> digest of rsa-sha256/384/512, or NULL. */
const EVP_MD *wss_sig_digest_by_uri(const char *uri);

/*
 * Digest one ds:Reference: target (an element: exclusive C14N of its subtree as the
 * Reference's one exc-c14n Transform says) or part (an attachment: its SwA content), with its
 * DigestMethod. sign: write the DigestValue; else *match tells whether it equals the
 * DigestValue. Errors: AS4_E_SIG_INVALID (unsupported transform or digest, malformed
 * DigestValue, content that cannot be canonicalised), AS4_E_NOMEM, AS4_E_INTERNAL.
 */
AS4_MUST_CHECK as4_err wss_dsig_reference(xmlNode *ref, xmlNode *target,
                                          const struct as4_part *part, const struct as4_limits *lim,
                                          bool sign, bool *match, struct as4_diag *d);

/*
 * Canonicalise the SignedInfo of signature (its CanonicalizationMethod: exc-C14N), digest it
 * as its SignatureMethod (rsa-sha256/384/512) says and sign it with ks, writing the
 * SignatureValue. AS4_E_SIG_INVALID (method not supported), AS4_E_CRYPTO, AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err wss_dsig_sign(xmlNode *signature, const struct as4_keystore *ks,
                                     struct as4_diag *d);

/*
 * Verify the SignatureValue of signature over its canonical SignedInfo with the public key
 * of cert (RSA PKCS#1 v1.5): *valid. AS4_E_SIG_INVALID (method not supported, key not RSA,
 * SignatureValue not base64), AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err wss_dsig_verify(xmlNode *signature, X509 *cert, bool *valid,
                                       struct as4_diag *d);

/* ---- sign.c / verify.c ----------------------------------------------------------------- */

/*
 * Sign e's eb:Messaging (when present) and Body and every part with signer's key: adds the BST
 * and ds:Signature to e->security (which must exist). refs (may be NULL) gets the references
 * as signed.
 */
AS4_MUST_CHECK as4_err wss_sign(const struct as4_keystore *signer, enum as4_sig_alg alg,
                                bool pkipath, struct wss_env *e, struct as4_part *parts,
                                size_t n_parts, const struct as4_limits *lim,
                                struct as4_signed_refs *refs, struct as4_diag *d);

/*
 * Fill refs from the ds:Reference children of SignedInfo si: URI, DigestMethod, DigestValue
 * (whitespace removed) and the exclusive C14N of each Reference. AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err wss_collect_refs(xmlNode *si, struct as4_signed_refs *refs,
                                        struct as4_diag *d);

/* State of the signature check of one message, between its phases. */
struct wss_verify {
	xmlNode *signature; /* ds:Signature */
	xmlNode *signed_info;
	X509 *signer;          /* resolved signer (own reference) */
	STACK_OF(X509) * path; /* other certificates of a PKIPath token (own) */
	const char *sig_alg;   /* SignatureMethod/@Algorithm (borrowed) */
};

/*
 * Phase 1 (before anything is decrypted): check the ds:Signature's structure and algorithms,
 * that its references cover exactly e's eb:Messaging, Body and every part (no wrapping), and
 * resolve and check the signer (key size, time, trust). Fills res (refs, signer fields).
 * Errors as in as4_wss_open().
 */
AS4_MUST_CHECK as4_err wss_verify_prepare(const struct as4_wss_open_params *p,
                                          const struct wss_env *e, xmlNode *signature,
                                          struct as4_part *parts, size_t n_parts,
                                          struct wss_verify *v, struct as4_wss_open_result *res,
                                          struct as4_diag *d);

/*
 * Phase 2 (attachments are plaintext now): verify every reference and the SignatureValue
 * (dsig.c). Sets res->signature_valid and res->refs_valid. AS4_E_SIG_INVALID naming the first
 * failing reference.
 */
AS4_MUST_CHECK as4_err wss_verify_finish(const struct as4_wss_open_params *p,
                                         const struct wss_env *e, struct as4_part *parts,
                                         size_t n_parts, struct wss_verify *v,
                                         struct as4_wss_open_result *res, struct as4_diag *d);

/* Release what a struct wss_verify holds. */
void wss_verify_cleanup(struct wss_verify *v);

/*
 * Resolve a certificate named by a ds:KeyInfo (wsse:SecurityTokenReference with a
 * wsse:Reference to a BinarySecurityToken, a KeyIdentifier SKI, or ds:X509Data with
 * X509IssuerSerial / X509SKI / X509Certificate) among the message's tokens and `known`.
 * *cert (own reference), *path (PKIPath issuers, own, may be NULL) and *how (static text) are
 * set on success. AS4_E_NOTFOUND when the form is valid but names no known certificate;
 * `err` for malformed or unsupported KeyInfo.
 */
AS4_MUST_CHECK as4_err wss_keyinfo_resolve(const struct wss_env *e, const xmlNode *keyinfo,
                                           X509 *const *known, size_t n_known, as4_err err,
                                           X509 **cert, STACK_OF(X509) * *path, const char **how,
                                           struct as4_diag *d);

/* ---- crypt.c --------------------------------------------------------------------------- */

/*
 * Encrypt every part for p->encrypt_for (one EncryptedKey, one EncryptedData per part,
 * inserted into e->security before the ds:Signature), replacing each part's bytes with
 * IV||ciphertext||tag and its content type with application/octet-stream. The parts change
 * only when everything succeeded.
 */
AS4_MUST_CHECK as4_err wss_encrypt(const struct as4_wss_seal_params *p, struct wss_env *e,
                                   struct as4_part *parts, size_t n_parts, struct as4_diag *d);

/*
 * Decrypt every EncryptedData of e->security into its part (plaintext blob, content type
 * from @MimeType, part->decrypted). The parts change only when everything succeeded.
 * Fills res->key_transport_alg, data_alg, parts_decrypted, decryption_ok.
 */
AS4_MUST_CHECK as4_err wss_decrypt(const struct as4_wss_open_params *p, const struct wss_env *e,
                                   struct as4_part *parts, size_t n_parts,
                                   struct as4_wss_open_result *res, struct as4_diag *d);

/*
 * Unwrap one xenc:EncryptedKey with keys[0..n) (the one its KeyInfo names, else each in turn)
 * into out (capacity cap). Exposed for tests of the key-transport variants.
 */
AS4_MUST_CHECK as4_err wss_unwrap_key(const struct wss_env *e, const xmlNode *ek,
                                      struct as4_keystore *const *keys, size_t n_keys, uint8_t *out,
                                      size_t cap, size_t *out_len, struct as4_diag *d);

/*
 * AES-GCM over a whole blob in WSS_CHUNK pieces into a sink: encrypt writes IV||ct||tag
 * with a fresh random IV; decrypt reads that layout and checks the tag before returning OK
 * (the sink may hold unauthenticated bytes on failure: discard it). AS4_E_DECRYPT,
 * AS4_E_CRYPTO, sink errors.
 */
AS4_MUST_CHECK as4_err wss_gcm(bool encrypt, const uint8_t *key, size_t key_len,
                               const struct as4_blob *in, struct as4_sink *out, struct as4_diag *d);
