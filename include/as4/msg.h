/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Message pipelines (L4, ap/ebms3/msg_in.c and msg_out.c): opening a received AS4 message
 * and sealing one to send, plus the signals the edge answers with and the check of what a
 * peer answered to us. The edge (L5) does the HTTP, the storing and the logging; nothing here
 * stores, logs or talks to the network.
 *
 *   receive:  body + Content-Type -> as4_msg_in_open() -> struct as4_msg (payloads in order)
 *             -> as4_msg_receipt() / as4_msg_error_signal() for the HTTP answer
 *   send:     submission + PMode -> as4_msg_out_seal() -> Content-Type + body segments
 *             -> (HTTP) -> as4_msg_out_check_response() -> delivered / retry / failed
 *
 * Keys and trust reach this layer only through the parameter structs: the edge passes its
 * keystores and truststore (immutable, shared between threads, see wss.h) and a callback
 * that names the partner certificate of the matched PMode, so this layer never depends on
 * how the configuration is loaded.
 *
 * Ownership: a struct as4_msg / as4_msg_out owns its arena (every string of the message,
 * STYLE rule 9), its xmlDoc, its MIME parts and payload blobs; one _free releases all.
 * Thread-safety: every function is reentrant; a message has one user at a time.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>
#include <openssl/x509.h>

#include "as4/arena.h"
#include "as4/blob.h"
#include "as4/buf.h"
#include "as4/compiler.h"
#include "as4/diag.h"
#include "as4/ebms3.h"
#include "as4/err.h"
#include "as4/limits.h"
#include "as4/mime.h"
#include "as4/part.h"
#include "as4/pmode.h"
#include "as4/wss.h"

/* Content-Type of a SOAP envelope sent without attachments (signals). */
#define AS4_SOAP_CONTENT_TYPE "application/soap+xml; charset=UTF-8"

/* ---- Received messages ----------------------------------------------------------------- */

/* One payload of a received UserMessage, in eb:PayloadInfo order. */
struct as4_payload {
	const char *content_id; /* MIME Content-ID; NULL for a payload in the SOAP Body */
	/*
	 * The payload's own media type: the MimeType part property; without one (allowed for
	 * uncompressed parts) the MIME part's media type; "application/xml" for a Body payload.
	 */
	const char *mime_type;
	const char *charset; /* CharacterSet part property as sent, NULL when absent */
	bool in_body;        /* taken from the SOAP Body */
	bool compressed;     /* was gzip-compressed on the wire (data is decompressed) */
	bool decrypted;      /* was encrypted on the wire (data is the plaintext) */
	size_t wire_size;    /* bytes of the part as received (after transfer decoding) */
	const struct as4_part_info *info; /* its eb:PartInfo (every part property); borrowed */
	/*
	 * The final bytes: decrypted, decompressed. A payload in the SOAP Body is the exclusive
	 * XML canonicalisation (without comments) of the referenced element, i.e. a standalone
	 * UTF-8 XML document carrying the namespace declarations it uses. Owned by the message.
	 */
	struct as4_blob data;
};

/* How far as4_msg_in_open() got (for diagnostics and as4ctl inspect). */
enum as4_msg_stage {
	AS4_STAGE_MIME = 0, /* splitting the body into parts */
	AS4_STAGE_SOAP,     /* parsing the SOAP envelope */
	AS4_STAGE_HEADER,   /* reading eb:Messaging */
	AS4_STAGE_PMODE,    /* choosing the PMode */
	AS4_STAGE_SECURITY, /* WS-Security: decrypt, verify */
	AS4_STAGE_VALUES,   /* ebMS3 value rules */
	AS4_STAGE_PAYLOADS, /* PayloadInfo against the parts, decompression, PMode payload rules */
	AS4_STAGE_DONE,     /* accepted */
};

/* A received message, opened. */
struct as4_msg {
	struct as4_arena *arena;
	struct as4_blob body;     /* the received bytes (moved in by as4_msg_in_open) */
	const char *content_type; /* as received (arena), NULL when none was given */
	struct as4_mime mime;     /* mime.parts[0] is the SOAP root, the rest attachments */
	xmlDoc *doc;              /* the SOAP envelope (after decryption) */
	struct as4_messaging ebms;
	const struct as4_pmode *pmode; /* matched PMode (borrowed from the set); NULL in
	                                  inspection mode or when matching failed */
	bool wss_done;                 /* as4_wss_open ran; wss holds what it found */
	struct as4_wss_open_result wss;
	struct as4_payload *payloads; /* UserMessage payloads in PayloadInfo order */
	size_t n_payloads;
	/*
	 * The message is for the ebMS test service (AS4_TEST_SERVICE / AS4_TEST_ACTION): it is
	 * processed fully and answered with a Receipt, but must never be delivered to a backend.
	 */
	bool test_service;
	enum as4_msg_stage stage; /* the stage reached (AS4_STAGE_DONE when accepted) */
	as4_err err;              /* AS4_OK, or why the message was refused */
};

/*
 * The partner certificate for a matched PMode: the certificate the sender (the PMode's
 * initiator) signs with. Returns a certificate borrowed for the duration of the
 * as4_msg_in_open() call, or NULL when none is configured (then only the truststore can
 * vouch for the signer). Called at most once per message, from the calling thread.
 */
typedef X509 *(*as4_msg_partner_cert_fn)(void *ctx, const struct as4_pmode *pmode);

struct as4_msg_in_params {
	const struct as4_limits *limits; /* required: every cap on the untrusted input */
	/*
	 * The PModes to match against. NULL = inspection mode (as4ctl inspect): no PMode is
	 * matched and the message is judged structurally; security is checked as found but
	 * nothing is required; without trust material (trust, accepted) signatures are checked
	 * structurally only (as4_wss_open_params.structural_only).
	 */
	const struct as4_pmode_set *pmodes;
	struct as4_keystore *const *decrypt_keys; /* ours, current first (key rollover) */
	size_t n_decrypt_keys;
	const struct as4_truststore *trust;   /* CAs a signer may chain to; may be NULL */
	as4_msg_partner_cert_fn partner_cert; /* may be NULL */
	void *partner_ctx;
	X509 *const *accepted; /* further certificates accepted as signers as they are */
	size_t n_accepted;
	int64_t at_ms;         /* certificate validity time; 0 = now */
	const char *spool_dir; /* large decoded/decrypted/decompressed parts; NULL = memory */
	/*
	 * Open SignalMessages too (inspection, responses). When false a signal is refused with
	 * AS4_E_FEATURE: this MSH receives signals only on the back channel of its own requests
	 * (One-Way/Push).
	 */
	bool accept_signals;
};

/*
 * Open a received request: MIME parse (content_type is the HTTP Content-Type value, NULL for
 * a bare body) -> SOAP parse (as4_xml_parse) -> eb:Messaging -> signature algorithms (with
 * PModes only: as4_wss_check_suite, which does not depend on one) -> PMode match
 * (as4_pmode_match) -> WS-Security (as4_wss_open) -> value rules -> PayloadInfo/MIME consistency ->
 * decompression (as4_gzip_decompress, capped by limits->max_gunzip, the PMode's max_payload
 * and limits->max_gzip_ratio) -> PMode payload count.
 *
 * Security: with a PMode that says `security: none`, a message without wsse:Security is not
 * opened by WS-Security at all, and one that carries wsse:Security is refused with
 * AS4_E_POLICY (EBMS:0103): the agreement says no security, so a secured message means the
 * two sides are configured differently, and silently ignoring a signature (or failing to
 * decrypt) would hide that. Otherwise the PMode's sign/encrypt settings are required, the
 * signer must be the partner certificate (partner_cert) or one of accepted, or chain to
 * trust, valid at at_ms.
 *
 * Payload rules: every cid: PartInfo names an attachment of this message and every
 * attachment is named exactly once (else AS4_E_MIME, EBMS:0007); a PartInfo without href
 * or with "#id" takes the first element child of the SOAP Body (or the child with that
 * wsu:Id/Id/id; "#<Body id>" means the Body's first element child); Body content no PartInfo
 * refers to is refused (AS4_E_MIME); a part over the PMode's max_payload: AS4_E_LIMIT; a
 * payload count outside the PMode's min_parts..max_parts: AS4_E_PMODE_MISMATCH (EBMS:0010).
 *
 * body is moved into the message (body is empty afterwards, also on failure); a borrowed
 * blob must outlive the message. On return *out is set whenever memory allowed, also on
 * failure: then it holds what was read (for the Error signal's RefToMessageInError, see
 * as4_msg_ref_id(), and for inspection) with out->err and out->stage set, and must not be
 * delivered. Free it with as4_msg_free(). Errors: every as4_err of the stages above, each with
 * a diagnostic fit for the ebMS ErrorDetail; AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err as4_msg_in_open(const struct as4_msg_in_params *p, struct as4_blob *body,
                                       const char *content_type, struct as4_msg **out,
                                       struct as4_diag *d);

/* Release a message and everything it owns. NULL ok. */
void as4_msg_free(struct as4_msg *m);

/*
 * Free m's envelope tree once nothing needs it any more (its Receipt is built): m->doc and
 * the xmlNode pointers of m->ebms become NULL; the strings read from it (arena), the
 * payloads, the body and the WS-Security result stay. Freeing a tree while its nodes are in
 * the cache of the thread that just used them is much cheaper than at the end of a request
 * that waited for a durable commit. NULL ok.
 */
void as4_msg_drop_doc(struct as4_msg *m);

/*
 * The MessageId read from the message unit (UserMessage or signal), or NULL when it could not
 * be read: the RefToMessageInError of an Error signal about m. Borrowed from m.
 */
const char *as4_msg_ref_id(const struct as4_msg *m);

/* ---- Signals the edge answers with ------------------------------------------------------ */

struct as4_signal_params {
	const struct as4_keystore *signer; /* sign the signal (as4_wss_sign_signal); NULL: no */
	enum as4_sig_alg sig_alg;
	const char *id_domain; /* the signal's MessageId is "<uuid>@<id_domain>" */
	int64_t now_ms;        /* Timestamp; 0 = now */
};

/* A signal envelope ready for the HTTP answer. */
struct as4_signal_out {
	char message_id[AS4_MESSAGE_ID_MAX + 1];
	int http_status;          /* 200 for a Receipt, 500 for an Error (as Domibus answers) */
	const char *content_type; /* AS4_SOAP_CONTENT_TYPE (static) */
	struct as4_buf body;      /* the envelope bytes (owned; as4_signal_out_cleanup) */
};

/* Release the body of a signal. NULL ok. */
void as4_signal_out_cleanup(struct as4_signal_out *o);

/*
 * The Receipt for an accepted UserMessage m (AS4 §5.1.8): non-repudiation information with
 * every ds:Reference of m's signature when m was signed, else a copy of its eb:UserMessage.
 * Signed when p->signer is given. out is initialised here. Errors: AS4_E_INVAL (m is not an
 * accepted UserMessage, bad id_domain), AS4_E_NOMEM, signing errors of as4_wss_sign_signal.
 */
AS4_MUST_CHECK as4_err as4_msg_receipt(const struct as4_msg *m, const struct as4_signal_params *p,
                                       struct as4_signal_out *out, struct as4_diag *d);

/*
 * An ebMS Error signal for a refused request: one eb:Error (code, short description,
 * category from the error table for err; severity failure; origin ebMS; detail as given,
 * sanitised), RefToMessageId and refToMessageInError = ref_to (NULL when the MessageId could
 * not be read), and the SOAP Fault in the Body (env:Receiver when we were at fault, else
 * env:Sender) with HTTP status 500, as Domibus answers. Signed when p->signer is given
 * (Domibus and others reject unsigned errors). out is initialised here. Errors: AS4_E_INVAL
 * (bad id_domain or ref_to), AS4_E_NOMEM, signing errors.
 */
AS4_MUST_CHECK as4_err as4_msg_error_signal(const char *ref_to, as4_err err, const char *detail,
                                            const struct as4_signal_params *p,
                                            struct as4_signal_out *out, struct as4_diag *d);

/* ---- Sending ---------------------------------------------------------------------------- */

/* Whether one payload is compressed (AS4 §3.1). */
enum as4_compress_choice {
	AS4_COMPRESS_PMODE = 0, /* as the PMode says (payload.compress) */
	AS4_COMPRESS_YES,       /* gzip this part */
	AS4_COMPRESS_NO,        /* send this part as it is */
};

/* One payload to send. */
struct as4_submission_payload {
	const char *content_id; /* NULL = generated "<uuid>@<id_domain>" */
	const char *mime_type;  /* required: the payload's own type (MimeType part property) */
	const char *charset;    /* CharacterSet part property (an XML encoding name) or NULL */
	const struct as4_property *props; /* further part properties (e.g. business ids) */
	size_t n_props;
	struct as4_blob data; /* the bytes; borrowed: must outlive the sealed message */
	enum as4_compress_choice compress; /* per part; zero = the PMode's setting */
};

/* What the backend asked to send. NULL / empty fields take the PMode's value. */
struct as4_submission {
	const char *message_id;        /* NULL = generated "<uuid>@<id_domain>" */
	const char *ref_to_message_id; /* NULL = none */
	const char *conversation_id;   /* NULL = generated (a UUID) */
	int64_t timestamp_ms;          /* 0 = now */
	struct as4_party_info from;  /* n_ids 0 = the PMode initiator's ids; role NULL = PMode's */
	struct as4_party_info to;    /* n_ids 0 = the PMode responder's ids; role NULL = PMode's */
	const char *agreement;       /* NULL = the PMode's (none when the PMode has none) */
	const char *agreement_type;  /* used with agreement; NULL = the PMode's when taken */
	const char *agreement_pmode; /* AgreementRef/@pmode to send, NULL = none */
	const char *service;         /* NULL = the PMode's, with its type */
	const char *service_type;
	const char *action; /* NULL = the PMode's */
	const char *mpc;    /* NULL = the PMode's (omitted when it is the default MPC) */
	const struct as4_property *props; /* message properties (originalSender, ...) */
	size_t n_props;
	const struct as4_submission_payload *payloads; /* in order: business document first */
	size_t n_payloads;
};

struct as4_deflater;

struct as4_msg_out_params {
	const struct as4_pmode *pmode;     /* required: compression and security come from it */
	const struct as4_keystore *signer; /* required when pmode->security.sign */
	X509 *receiver_cert;               /* required when pmode->security.encrypt (borrowed) */
	const char *id_domain;             /* required when an id is generated */
	const struct as4_limits *limits;   /* required: max_gunzip caps each compressed part */
	const char *spool_dir;             /* compressed/encrypted parts above the limits'
	                                      mem_spool_threshold; NULL = memory */
	int gzip_level;                    /* 1..9; 0 = 6 */
	/* zlib state reused across messages (as4/gzip.h; one thread at a time); NULL = new */
	struct as4_deflater *deflater;
	/*
	 * Give eb:Messaging and the SOAP Body wsu:Ids derived from the MessageId instead of
	 * random ones. With the same submission (MessageId, timestamp_ms, Content-IDs,
	 * payload bytes) every attempt then signs references with the same digests, so the
	 * Receipt a receiver stored for an earlier copy (and sends again for a duplicate)
	 * still proves what this attempt signed (AS4 reception awareness across resends).
	 */
	bool stable_ids;
};

/* A sealed outgoing message: everything the HTTP client and the receipt check need. */
struct as4_msg_out {
	struct as4_arena *arena;
	xmlDoc *doc;            /* the envelope while it is built; NULL once sealed (see root) */
	const char *message_id; /* arena */
	int64_t timestamp_ms;
	struct as4_part root;   /* the SOAP envelope (application/soap+xml), serialised */
	struct as4_part *parts; /* attachments as sent (compressed, then encrypted) */
	size_t n_parts;
	struct as4_mime_out mime;           /* mime.content_type and the body segments to POST */
	struct as4_signed_refs signed_refs; /* references as signed (n == 0 when unsigned) */
	bool signed_msg;
	bool encrypted;
};

/*
 * Seal a submission for pmode: compress each payload (when pmode->compress; the part becomes
 * application/gzip with CompressionType and MimeType part properties), build the UserMessage
 * envelope, sign and encrypt it (as4_wss_seal, unless pmode->security_none or neither sign
 * nor encrypt is set), serialise it and build the MIME body (as4_mime_build). The payload
 * blobs are borrowed and must outlive *out. Errors: AS4_E_INVAL with diag->field naming the
 * submission field at fault (e.g. "payloads[1].mime_type", "to"), AS4_E_CONFIG (the PMode
 * asks to sign/encrypt but no signer/receiver certificate was given), AS4_E_NOMEM, and the
 * errors of gzip, WS-Security and MIME. *out owns the result (as4_msg_out_free).
 */
AS4_MUST_CHECK as4_err as4_msg_out_seal(const struct as4_msg_out_params *p,
                                        const struct as4_submission *sub, struct as4_msg_out **out,
                                        struct as4_diag *d);

/* Release a sealed message. NULL ok. */
void as4_msg_out_free(struct as4_msg_out *o);

struct as4_response_params {
	const struct as4_pmode *pmode;      /* the PMode the message was sent with */
	X509 *partner_cert;                 /* the receiver's signing certificate, or NULL */
	const struct as4_truststore *trust; /* may be NULL */
	const struct as4_limits *limits;    /* required (max_receipt caps the body) */
	int64_t at_ms;                      /* certificate validity time; 0 = now */
};

/*
 * Judge what the peer answered to sent (status, Content-Type, body of the HTTP response):
 *   AS4_OK                 a Receipt for sent: RefToMessageId equals sent's MessageId, signed
 *                          by the partner (or a trusted signer) when pmode requires signed
 *                          receipts (and valid whenever it is signed at all), and for a
 *                          signed message its NRI repeats every reference we signed with the
 *                          same digest: the message is delivered;
 *   AS4_E_INVALID_RECEIPT  a Receipt that fails any of that (EBMS:0302);
 *   AS4_E_PEER_ERROR       an ebMS Error of severity failure (HTTP 200 or 500): the
 *                          diagnostic is "<code> <shortDescription>: <detail>" of the first
 *                          failure; attempts end;
 *   AS4_E_PEER_HTTP        any other non-2xx answer (retry);
 *   AS4_E_PEER_BAD         a 2xx answer that is no Receipt or Error, an Error of severity
 *                          warning only, an Error about another message, or a signed Error
 *                          whose signature fails (retry).
 * *resp (may be NULL) receives the opened response whenever the body could be read (to store
 * the Receipt or show the Error); it borrows body's bytes, so body must outlive it; free it
 * with as4_msg_free().
 */
AS4_MUST_CHECK as4_err as4_msg_out_check_response(const struct as4_msg_out *sent,
                                                  const struct as4_response_params *p,
                                                  int http_status, const char *content_type,
                                                  const struct as4_blob *body,
                                                  struct as4_msg **resp, struct as4_diag *d);

/*
 * The summary of a signal answer to store with its body (as4_store_update.receipt_info), from
 * resp as as4_msg_out_check_response() opened it: when the body was the SOAP envelope itself
 * (no MIME package), its eb:Messaging is what as4_ebms3_parse_bytes() finds in the same bytes
 * with the same limits, so *out (as4_ebms3_receipt_summary(), strings borrowed from resp) lets
 * a reader skip that parse. Returns false, and leaves *out unknown, otherwise (a MIME answer,
 * an answer that was not a readable signal or was refused). resp's tree may have been
 * dropped already (as4_msg_drop_doc). Thread-safe.
 */
bool as4_msg_response_summary(const struct as4_msg *resp, struct as4_store_receipt_info *out);
