/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WS-Security for AS4 (L3): sealing (sign, then encrypt) an outgoing envelope with its
 * attachments, opening (decrypt, then verify) an incoming one, and signing/verifying signals.
 * Profile: eDelivery AS4 1.15 Common Profile (see ../shared/AS4-NOTES.md).
 *
 * The messaging layer builds the SOAP envelope and the parts; this module only adds or checks
 * the wsse:Security header and transforms part bytes (ciphertext <-> plaintext). It finds
 * eb:Messaging and S12:Body itself by namespace, so it does not depend on the message model.
 *
 * Keys: private keys exist only inside struct as4_keystore (ap/wss/keystore.c, STYLE rule 23).
 * Certificates are OpenSSL X509 objects; functions that keep one take their own reference.
 *
 * Thread-safety: keystores and truststores are immutable after loading and may be shared by
 * threads; each seal/open call works on its own document and parts.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "as4/arena.h"
#include "as4/compiler.h"
#include "as4/diag.h"
#include "as4/err.h"
#include "as4/limits.h"
#include "as4/part.h"

/* One-time xmlsec/OpenSSL set-up; call from main after as4_xml_global_init(). */
AS4_MUST_CHECK as4_err as4_wss_global_init(void);

/* Undo as4_wss_global_init() at exit. */
void as4_wss_global_cleanup(void);

/* ---- Keystore: our private key and certificate (chain) ------------------------------- */

struct as4_keystore;

/*
 * Load a private key (PEM: PKCS#8 or PKCS#1) and its certificate chain (PEM; the first
 * certificate is ours, the rest its issuers). The key file must not be readable by group or
 * others (AS4_E_CONFIG with a diagnostic naming the file), the key must match the certificate
 * and RSA keys must have at least 2048 bits. On success *out owns the new keystore.
 */
AS4_MUST_CHECK as4_err as4_keystore_load(const char *key_path, const char *cert_path,
                                         struct as4_keystore **out, struct as4_diag *d);

/* Free a keystore, wiping key material (OPENSSL_cleanse). NULL ok. */
void as4_keystore_free(struct as4_keystore *ks);

/*
 * Our certificate; borrowed, valid until as4_keystore_free() (or the next
 * as4_keystore_set_cert()). Never NULL for a loaded keystore; NULL for a generated one until
 * its certificate is set.
 */
X509 *as4_keystore_cert(const struct as4_keystore *ks);

/* Issuer chain after our certificate (may be empty); borrowed. */
STACK_OF(X509) * as4_keystore_chain(const struct as4_keystore *ks);

/*
 * Making keys (as4ctl certs dev): the key material still never leaves this module.
 *
 * as4_keystore_generate: a new keystore with a fresh RSA key of `bits` (2048..16384) and no
 * certificate yet. AS4_E_INVAL (size), AS4_E_CRYPTO, AS4_E_NOMEM. *out owned by the caller.
 */
AS4_MUST_CHECK as4_err as4_keystore_generate(unsigned bits, struct as4_keystore **out,
                                             struct as4_diag *d);

/* The public key alone, for a certificate being issued (new object, EVP_PKEY_free); NULL=OOM. */
EVP_PKEY *as4_keystore_public_key(const struct as4_keystore *ks);

/* Sign cert (with SHA-256) with the keystore's key, as its issuer. AS4_E_CRYPTO. */
AS4_MUST_CHECK as4_err as4_keystore_sign_cert(const struct as4_keystore *ks, X509 *cert,
                                              struct as4_diag *d);

/* Set the keystore's certificate (takes its own reference). AS4_E_INVAL if it does not match. */
AS4_MUST_CHECK as4_err as4_keystore_set_cert(struct as4_keystore *ks, X509 *cert,
                                             struct as4_diag *d);

/*
 * Write the private key as unencrypted PKCS#8 PEM to path, durably and with mode 0600
 * (as4_file_write_atomic); the PEM text is wiped from memory. AS4_E_IO, AS4_E_SPACE,
 * AS4_E_CRYPTO. Not thread-safe with as4_keystore_free() of the same keystore.
 */
AS4_MUST_CHECK as4_err as4_keystore_save_key(const struct as4_keystore *ks, const char *path,
                                             struct as4_diag *d);

/* ---- Truststore: CA certificates signers must chain to -------------------------------- */

struct as4_truststore;

/*
 * Load trusted certificates from PEM or DER files (each file may hold several PEM blocks).
 * *out owns the new truststore. AS4_E_CONFIG naming the file on any unreadable certificate.
 */
AS4_MUST_CHECK as4_err as4_truststore_load(const char *const *paths, size_t n_paths,
                                           struct as4_truststore **out, struct as4_diag *d);

/* Free a truststore. NULL ok. */
void as4_truststore_free(struct as4_truststore *ts);

/*
 * Check that cert chains to the truststore (intermediates may come from `untrusted`) and that
 * every certificate is valid at at_ms (0 = now). AS4_E_UNTRUSTED with a diagnostic naming the
 * subject and the reason.
 */
AS4_MUST_CHECK as4_err as4_truststore_verify(const struct as4_truststore *ts, X509 *cert,
                                             STACK_OF(X509) * untrusted, int64_t at_ms,
                                             struct as4_diag *d);

/* ---- Algorithms and options ----------------------------------------------------------- */

enum as4_sig_alg { AS4_SIG_RSA_SHA256 = 0, AS4_SIG_RSA_SHA384, AS4_SIG_RSA_SHA512 };
enum as4_keyref { AS4_KEYREF_BST = 0, AS4_KEYREF_ISSUER_SERIAL, AS4_KEYREF_SKI };
enum as4_key_transport {
	AS4_KT_RSA_OAEP_SHA256 = 0, /* xmlenc11#rsa-oaep, DigestMethod sha256, MGF1-SHA256 */
	AS4_KT_RSA_OAEP_MGF1P,      /* xmlenc#rsa-oaep-mgf1p (MGF1-SHA1), older peers */
};
enum as4_data_alg { AS4_ENC_AES128_GCM = 0, AS4_ENC_AES192_GCM, AS4_ENC_AES256_GCM };

/* A ds:Reference as signed: what a Receipt's NonRepudiationInformation must repeat. */
struct as4_signed_ref {
	char *uri;           /* "#id..." or "cid:..." (heap) */
	char *digest_method; /* algorithm URI (heap) */
	char *digest_value;  /* base64 as in the XML, whitespace removed (heap) */
};

/* A list of references; free with as4_signed_refs_cleanup(). */
struct as4_signed_refs {
	struct as4_signed_ref *refs;
	size_t n;
	/*
	 * The ds:Reference elements serialised exactly as they appear in SignedInfo (one
	 * fragment per reference, with the namespace declarations they need), for copying into
	 * ebbp:MessagePartNRInformation. Heap; n entries (empty strings when not available).
	 */
	char **xml;
};

/* Release a reference list. NULL ok. */
void as4_signed_refs_cleanup(struct as4_signed_refs *r);

/* ---- Sealing (sender) ------------------------------------------------------------------ */

struct as4_wss_seal_params {
	const struct as4_keystore *signer; /* NULL: do not sign */
	enum as4_sig_alg sig_alg;
	bool pkipath;      /* BST as X509PKIPathv1 with our chain, else X509v3 */
	X509 *encrypt_for; /* receiver certificate; NULL: do not encrypt */
	enum as4_key_transport key_transport;
	enum as4_data_alg data_alg;
	enum as4_keyref encrypt_keyref; /* how EncryptedKey refers to the receiver cert */
	const char *spool_dir;          /* for large ciphertexts (borrowed; NULL = memory) */
	size_t spool_threshold;
};

/*
 * Seal env in place with its attachment parts (parts[0..n): payloads only, not the SOAP root):
 * add wsu:Id to eb:Messaging and S12:Body if missing, sign (references: eb:Messaging, Body,
 * every part with Attachment-Content-Signature-Transform), then encrypt every part
 * (AES-GCM, one EncryptedKey) replacing its bytes with IV||ciphertext||tag and its
 * content_type with application/octet-stream. Compression has already happened.
 * On success *signed_refs (may be NULL) receives the references as signed, for checking the
 * Receipt's NRI later.
 */
AS4_MUST_CHECK as4_err as4_wss_seal(const struct as4_wss_seal_params *p, xmlDoc *env,
                                    struct as4_part *parts, size_t n_parts,
                                    struct as4_signed_refs *signed_refs, struct as4_diag *d);

/* ---- Opening (receiver) --------------------------------------------------------------- */

struct as4_wss_open_params {
	struct as4_keystore *const *decrypt_keys; /* ours; several during a key rollover */
	size_t n_decrypt_keys;
	const struct as4_truststore *trust; /* CAs a signer must chain to; may be NULL */
	X509 *const *accepted;              /* certificates accepted as signers as they are,
	                                       and used to resolve IssuerSerial / SKI */
	size_t n_accepted;
	bool require_signature;  /* PMode: unsigned message -> AS4_E_POLICY (EBMS:0103) */
	bool require_encryption; /* PMode: unencrypted payloads -> AS4_E_POLICY */
	bool structural_only;    /* inspect without trust material: check, but do not require
	                            a trusted signer (as4ctl without --cert/--trust) */
	int64_t at_ms;           /* time for certificate validity; 0 = now */
	unsigned min_rsa_bits;   /* key-size floor; 0 = 2048 */
	const struct as4_limits *limits;
	const char *spool_dir; /* for large plaintexts (borrowed; NULL = memory) */
	size_t spool_threshold;
	/*
	 * Where the content_type strings of decrypted parts are copied (the message arena);
	 * NULL = they point into env (EncryptedData/@MimeType) and live as long as env does.
	 */
	struct as4_arena *arena;
};

struct as4_wss_open_result {
	bool has_security;           /* a wsse:Security header was present */
	bool signed_msg;             /* a ds:Signature was present */
	bool signature_valid;        /* SignatureValue and every reference verified */
	char *signature_alg;         /* SignatureMethod URI (heap) or NULL */
	size_t refs_total;           /* ds:Reference count */
	size_t refs_valid;           /* references whose digest matched */
	X509 *signer;                /* signer certificate (own reference) or NULL */
	char *signer_subject;        /* one-line subject (heap) or NULL */
	bool signer_time_valid;      /* signer certificate valid at at_ms */
	bool signer_trusted;         /* chains to trust, or is an accepted certificate */
	const char *signer_ref;      /* how KeyInfo named the signer ("BST X509v3",
	                                "BST X509PKIPathv1", "KeyIdentifier SKI",
	                                "X509IssuerSerial", ...; static) or NULL */
	struct as4_signed_refs refs; /* the references as received (for the Receipt's NRI) */
	bool encrypted;              /* an EncryptedKey / EncryptedData was present */
	bool decryption_ok;          /* every EncryptedData decrypted */
	char *key_transport_alg;     /* EncryptedKey algorithm URI (heap) or NULL */
	char *data_alg;              /* EncryptedData algorithm URI (heap) or NULL */
	size_t parts_decrypted;
};

/* Zero a result. */
void as4_wss_open_result_init(struct as4_wss_open_result *r);

/* Release a result. NULL ok. */
void as4_wss_open_result_cleanup(struct as4_wss_open_result *r);

/*
 * Open env with its attachment parts: decrypt every EncryptedData (replacing part bytes with
 * plaintext, content_type with EncryptedData/@MimeType, setting part->decrypted), then verify
 * the signature: exactly one ds:Signature in wsse:Security, every reference resolving to a
 * unique Id, the references covering exactly the eb:Messaging, the Body and every part;
 * signer resolved from BST (X509v3 / X509PKIPathv1), IssuerSerial or SKI, trusted and valid
 * at at_ms. Fills *res as far as it got, also on failure. Errors:
 *   AS4_E_POLICY       security missing or weaker than required (EBMS:0103)
 *   AS4_E_SIG_INVALID  signature/reference invalid, wrapping, unknown algorithm (EBMS:0101)
 *   AS4_E_UNTRUSTED    signer not trusted or not valid at at_ms (EBMS:0101)
 *   AS4_E_DECRYPT      key unwrap or data decryption failed (EBMS:0102)
 */
AS4_MUST_CHECK as4_err as4_wss_open(const struct as4_wss_open_params *p, xmlDoc *env,
                                    struct as4_part *parts, size_t n_parts,
                                    struct as4_wss_open_result *res, struct as4_diag *d);

/*
 * Sign a signal envelope (Receipt or Error, no attachments) in place: references to
 * eb:Messaging and S12:Body (wsu:Ids added if missing), exc-C14N, sig_alg, BST of signer.
 */
AS4_MUST_CHECK as4_err as4_wss_sign_signal(const struct as4_keystore *signer,
                                           enum as4_sig_alg sig_alg, xmlDoc *env,
                                           struct as4_diag *d);
