/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WS-Security for AS4 (L3): sealing (sign, then encrypt) an outgoing envelope with its
 * attachments, opening (decrypt, then verify) an incoming one, and signing/verifying signals.
 * Profile: eDelivery AS4 1.15 Common Profile, WS-Security 1.1 with the SwA Profile 1.1 (see
 * ../shared/AS4-NOTES.md "WS-Security").
 *
 * The messaging layer builds the SOAP envelope and the parts; this module only adds or checks
 * the wsse:Security header and transforms part bytes (ciphertext <-> plaintext). It finds
 * eb:Messaging and S12:Body itself by namespace, so it does not depend on the message model.
 *
 * What is sent: a BinarySecurityToken (X509v3, or X509PKIPathv1 with our chain), one
 * xenc:EncryptedKey (xmlenc11#rsa-oaep with SHA-256 and MGF1-SHA256, or rsa-oaep-mgf1p) for
 * the receiver's certificate (referenced by BST, IssuerSerial or SKI), one xenc:EncryptedData
 * per attachment (AES-GCM, CipherReference cid: with Attachment-Ciphertext-Transform) and a
 * ds:Signature (exc-C14N, rsa-sha256/384/512, SHA-256 references to eb:Messaging, the Body and
 * every attachment with Attachment-Content-Signature-Transform). What is accepted: the same,
 * with any of those variants, plus KeyIdentifier ThumbprintSHA1 and ds:X509Data forms.
 *
 * Nothing is ever fetched: references are same-document "#id" (resolved by ids whose
 * uniqueness was checked) or "cid:" (the message's own parts); xmlsec's IO handlers are
 * removed at global initialisation (xmlsec itself is only used by the SMP client now).
 * Exclusive C14N is this module's own streaming implementation (byte-identical to libxml2's,
 * checked by test_c14n); digests, RSA signatures, RSA-OAEP and AES-GCM use OpenSSL 3 EVP.
 *
 * Keys: private keys exist only inside struct as4_keystore (ap/wss/keystore.c, STYLE rule 23).
 * Certificates are OpenSSL X509 objects; functions that keep one take their own reference.
 *
 * Thread-safety: after as4_wss_global_init(), every function may run concurrently on
 * different documents and parts. Keystores and truststores are immutable once loaded (or
 * made) and may be shared by threads; each seal/open call works on its own document and parts.
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

/*
 * One-time xmlsec/OpenSSL set-up (STYLE rule 13); call from main after as4_xml_global_init()
 * and before threads start. Removes xmlsec's file/network IO handlers and silences its
 * stderr error output; fetches the digests and ciphers of the profile once (OpenSSL 3 would
 * look them up at every use; released by as4_wss_global_cleanup()). A second call is a
 * no-op. AS4_E_INTERNAL when xmlsec cannot start (or its library does not match the
 * headers). Not thread-safe.
 */
AS4_MUST_CHECK as4_err as4_wss_global_init(void);

/* Undo as4_wss_global_init() at exit, after every thread using this module has stopped. */
void as4_wss_global_cleanup(void);

/* ---- Keystore: our private key and certificate (chain) ------------------------------- */

struct as4_keystore;

/*
 * Load a private key (unencrypted PEM: PKCS#8 or PKCS#1; RSA of at least 2048 bits) and its
 * certificate chain (PEM, or one DER certificate; the first certificate is ours, the rest its
 * issuers, used for X509PKIPathv1 tokens). The key file is read through one descriptor whose
 * mode must give group and others no access at all (STYLE rule 23); the PEM text is wiped
 * after parsing. Errors, each with a diagnostic naming the file: AS4_E_CONFIG (missing or
 * unreadable file, mode too open, encrypted or non-RSA or short key, no certificate, key and
 * certificate do not match), AS4_E_INVAL (NULL path), AS4_E_NOMEM. On success *out owns the
 * new keystore (as4_keystore_free); on failure *out is NULL. Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_keystore_load(const char *key_path, const char *cert_path,
                                         struct as4_keystore **out, struct as4_diag *d);

/*
 * As as4_keystore_load(), with another floor for the RSA key size (min_bits 1024..16384): for
 * offline tools that read captured messages encrypted for legacy keys (as4ctl inspect --key;
 * the Holodeck B2B example keys are 1024-bit). Everything else is checked as by
 * as4_keystore_load(), the file mode included. The daemon uses as4_keystore_load().
 * AS4_E_INVAL for a floor outside 1024..16384. Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_keystore_load_min_bits(const char *key_path, const char *cert_path,
                                                  unsigned min_bits, struct as4_keystore **out,
                                                  struct as4_diag *d);

/*
 * Free a keystore: the key's numbers are cleared by OpenSSL as it is freed and the structure
 * is wiped with OPENSSL_cleanse. NULL ok. No call may be using the keystore at the time.
 */
void as4_keystore_free(struct as4_keystore *ks);

/*
 * Our certificate; borrowed, valid until as4_keystore_free() (or the next
 * as4_keystore_set_cert()). Never NULL for a loaded keystore; NULL for a generated one until
 * its certificate is set.
 */
X509 *as4_keystore_cert(const struct as4_keystore *ks);

/* Issuer chain after our certificate (may be empty, never NULL); borrowed like the cert. */
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

/*
 * A keystore from PEM text held in memory (a key pair uploaded through the admin API for a
 * rollover): the same checks as as4_keystore_load() (unencrypted PKCS#8 or PKCS#1 RSA key of
 * at least 2048 bits, the first certificate belongs to it, issuers may follow). label names the
 * source in diagnostics ("request"). The caller wipes its copy of key_pem (OPENSSL_cleanse);
 * this function wipes its own. *out owns the new keystore. AS4_E_CONFIG with a diagnostic
 * saying what is wrong (never quoting key material), AS4_E_NOMEM. Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_keystore_import(const uint8_t *key_pem, size_t key_len,
                                           const uint8_t *cert_pem, size_t cert_len,
                                           const char *label, struct as4_keystore **out,
                                           struct as4_diag *d);

/* ---- Truststore: CA certificates signers must chain to -------------------------------- */

struct as4_truststore;

/*
 * Load trusted certificates from PEM or DER files (each file may hold several PEM blocks).
 * Every certificate loaded is a trust anchor (partial chains accepted: a Peppol-style
 * truststore holding an intermediate CA, or a partner's own certificate, works as expected).
 * *out owns the new truststore (as4_truststore_free). Errors: AS4_E_CONFIG naming the file
 * (unreadable, no certificate, a damaged PEM block), AS4_E_NOMEM. Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_truststore_load(const char *const *paths, size_t n_paths,
                                           struct as4_truststore **out, struct as4_diag *d);

/* Free a truststore. NULL ok. */
void as4_truststore_free(struct as4_truststore *ts);

/*
 * Check that cert chains to the truststore (intermediates may come from `untrusted`, e.g. the
 * rest of an X509PKIPathv1 token; borrowed, may be NULL) and that every certificate on the
 * path is valid at at_ms (ms since the epoch; 0 = now). Revocation is not checked.
 * AS4_E_UNTRUSTED with a diagnostic naming the subject and OpenSSL's reason ("certificate has
 * expired", "unable to get local issuer certificate", ...); AS4_E_NOMEM. Thread-safe.
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

/* A list of references (all heap, owned by the list); free with as4_signed_refs_cleanup(). */
struct as4_signed_refs {
	struct as4_signed_ref *refs;
	size_t n;
	/*
	 * The ds:Reference elements of SignedInfo, each as its exclusive C14N (a standalone
	 * fragment declaring the namespaces it uses), for copying into
	 * ebbp:MessagePartNRInformation. Heap; n entries.
	 */
	char **xml;
};

/* Release a reference list; it is empty (zeroed) afterwards. NULL ok. */
void as4_signed_refs_cleanup(struct as4_signed_refs *r);

/* ---- Sealing (sender) ------------------------------------------------------------------ */

/* How to seal; everything borrowed for the duration of the call. */
struct as4_wss_seal_params {
	const struct as4_keystore *signer; /* NULL: do not sign */
	enum as4_sig_alg sig_alg;
	bool pkipath;      /* BST as X509PKIPathv1 with our chain, else X509v3 */
	X509 *encrypt_for; /* receiver certificate (RSA >= 2048 bits); NULL: do not encrypt */
	enum as4_key_transport key_transport;
	enum as4_data_alg data_alg;
	enum as4_keyref encrypt_keyref; /* how EncryptedKey refers to the receiver cert */
	const char *spool_dir;          /* for large ciphertexts (borrowed; NULL = memory) */
	size_t spool_threshold;         /* ciphertexts above this go to spool_dir (0 = 1 MiB) */
};

/*
 * Seal env in place with its attachment parts (parts[0..n): payloads only, not the SOAP root;
 * each with a Content-ID that needs no escaping in a cid: URI): add a wsse:Security header
 * (mustUnderstand) first in the SOAP Header, wsu:Id on eb:Messaging and the Body if missing,
 * sign (references: eb:Messaging, Body, every part with Attachment-Content-Signature-
 * Transform; the digests are over the parts as they are, i.e. after compression), then
 * encrypt every part (a fresh AES-GCM key and IV, one EncryptedKey) replacing its bytes with
 * IV||ciphertext||tag (a heap or spooled blob owned by the part) and its content_type with
 * "application/octet-stream" (static). With neither signer nor (encrypt_for and parts) it is
 * a no-op. On success *signed_refs (may be NULL) receives the references as signed, for
 * checking the Receipt's NRI later (caller cleans up).
 * Errors: AS4_E_INVAL (missing argument, no eb:Messaging, unusable Content-ID), AS4_E_STATE
 * (env already has a wsse:Security header), AS4_E_XML (not a SOAP envelope), AS4_E_CONFIG
 * (receiver certificate not RSA >= 2048), AS4_E_CRYPTO (RNG, signing), AS4_E_NOMEM, spool
 * errors (AS4_E_IO, AS4_E_SPACE, AS4_E_LIMIT). On failure env is partly modified and must be
 * discarded; the parts keep their bytes (they change only when everything succeeded).
 * Thread-safe for different env/parts.
 */
AS4_MUST_CHECK as4_err as4_wss_seal(const struct as4_wss_seal_params *p, xmlDoc *env,
                                    struct as4_part *parts, size_t n_parts,
                                    struct as4_signed_refs *signed_refs, struct as4_diag *d);

/* ---- Opening (receiver) --------------------------------------------------------------- */

/* How to open; everything borrowed for the duration of the call. */
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
	unsigned min_rsa_bits;   /* key-size floor for the signer; 0 = 2048 */
	const struct as4_limits *limits; /* XML attachments are parsed under these (NULL =
	                                    defaults); max_xml_nodes bounds the Id count */
	const char *spool_dir;           /* for large plaintexts (borrowed; NULL = memory) */
	size_t spool_threshold; /* plaintexts above this go to spool_dir (0 = limits' threshold) */
	/*
	 * Where the content_type strings of decrypted parts are copied (the message arena);
	 * NULL = they point into env (EncryptedData/@MimeType) and live as long as env does.
	 */
	struct as4_arena *arena;
};

/* What opening found; strings and the signer are owned by the result. */
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
	size_t parts_decrypted;      /* attachments replaced by their plaintext */
};

/* Zero a result (owns nothing afterwards). */
void as4_wss_open_result_init(struct as4_wss_open_result *r);

/* Release what a result owns; it is zeroed afterwards. NULL ok. */
void as4_wss_open_result_cleanup(struct as4_wss_open_result *r);

/*
 * Open env with its attachment parts (parts[0..n): the attachments, not the SOAP root), in
 * this order:
 *  1. PMode policy: require_signature without a ds:Signature, or require_encryption with an
 *     attachment that no EncryptedData covers -> AS4_E_POLICY.
 *  2. Ids: every Id/wsu:Id/ID/xml:id value unique (else AS4_E_SIG_INVALID), then registered.
 *  3. Signature structure and signer (before any private-key operation): exactly one
 *     ds:Signature in the one wsse:Security; exc-C14N, rsa-sha256/384/512, SHA-256/384/512
 *     only; every reference "#id" (one exc-c14n transform) or "cid:" (one Attachment-Content-
 *     Signature-Transform), covering exactly the eb:Messaging and Body being processed and
 *     every part once; exactly one eb:Messaging and one Body in the whole document; signer
 *     from BST (X509v3 / X509PKIPathv1), KeyIdentifier (SKI, thumbprint), IssuerSerial or
 *     X509Data, RSA of at least min_rsa_bits, trusted (an accepted certificate valid at
 *     at_ms, or a path to trust valid at at_ms) unless structural_only.
 *  4. Decryption of every EncryptedData into its part (plaintext blob owned by the part,
 *     content_type from @MimeType (copied to arena when given), part->decrypted set), the
 *     EncryptedKey unwrapped with the decryption key its KeyInfo names (each key in turn
 *     when it names none). The parts change only when every one decrypted.
 *  5. Every reference digest (attachments over their plaintext, SwA 1.1 §5.4.2) and the
 *     SignatureValue.
 * Fills *res as far as it got, also on failure; *res must own nothing on entry (it is
 * zeroed first: use as4_wss_open_result_init(), or _cleanup() before reusing one).
 * Errors, each with a diagnostic for the peer's administrator (no secrets, no payload):
 *   AS4_E_POLICY       security missing or weaker than required (EBMS:0103)
 *   AS4_E_SIG_INVALID  signature/reference invalid, wrapping, duplicate ids, algorithm not
 *                      allowed, external URI, oversized base64 (EBMS:0101)
 *   AS4_E_UNTRUSTED    signer unknown, not trusted, key too short, or not valid at at_ms
 *                      (EBMS:0101)
 *   AS4_E_DECRYPT      no key, key unwrap or AES-GCM tag failure, algorithm not accepted,
 *                      XML element encryption (EBMS:0102)
 *   AS4_E_MIME         an EncryptedData names an attachment the message does not have
 *   AS4_E_XML          env is not a SOAP envelope; AS4_E_INVAL, AS4_E_NOMEM, AS4_E_LIMIT,
 *                      spool errors.
 * Thread-safe for different env/parts/res.
 */
AS4_MUST_CHECK as4_err as4_wss_open(const struct as4_wss_open_params *p, xmlDoc *env,
                                    struct as4_part *parts, size_t n_parts,
                                    struct as4_wss_open_result *res, struct as4_diag *d);

/*
 * Check only the algorithms of env's ds:Signature (if any) against the eDelivery AS4 1.15
 * suite, as as4_wss_open() step 3 does: CanonicalizationMethod exclusive C14N, SignatureMethod
 * rsa-sha256/384/512, every Reference's DigestMethod SHA-256/384/512. The suite does not
 * depend on a PMode, so a receiver runs this before choosing one: a message signed outside
 * the suite is refused as such (EBMS:0101) even when no PMode would match it. Elements that
 * are missing or misplaced are not reported here (as4_wss_open() checks the whole structure);
 * no key is resolved and env is not changed.
 * Errors: AS4_E_SIG_INVALID naming the algorithm; those of finding the SOAP structure
 * (AS4_E_XML, AS4_E_SIG_INVALID for two wsse:Security headers). Thread-safe for different env.
 */
AS4_MUST_CHECK as4_err as4_wss_check_suite(xmlDoc *env, struct as4_diag *d);

/*
 * Sign a signal envelope (Receipt or Error, no attachments) in place: a wsse:Security header
 * with the signer's BST (X509v3) and a ds:Signature (exc-C14N, sig_alg, SHA-256 references to
 * eb:Messaging and the Body, wsu:Ids added if missing). Errors as as4_wss_seal() (AS4_E_STATE
 * when env is already signed). Thread-safe for different env.
 */
AS4_MUST_CHECK as4_err as4_wss_sign_signal(const struct as4_keystore *signer,
                                           enum as4_sig_alg sig_alg, xmlDoc *env,
                                           struct as4_diag *d);
