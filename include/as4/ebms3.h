/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ebMS3 message model (L4, ap/ebms3/): reading and writing eb:Messaging in a SOAP 1.2
 * envelope (messaging.c, envelope.c) and the signals Receipt, Error and PullRequest
 * (signal.c). Profile: ebMS3 Core with the AS4 profile and eDelivery AS4 1.15; see
 * ../shared/AS4-NOTES.md. Untrusted bytes: parsed only here and fuzzed by
 * test/fuzz/fuzz_soap.c (STYLE rule 11).
 *
 * Reading happens in two steps so that security runs between them (msg_in.c):
 *   1. as4_ebms3_parse() reads the structure: SOAP 1.2 envelope, exactly one message unit
 *      (AS4 forbids bundling), every mandatory element present and schema-shaped. This is
 *      what PMode matching and WS-Security need.
 *   2. as4_ebms3_check_user_message() applies the value rules (PartyId without @type must be
 *      a URI, PartProperties, payload references). It runs after WS-Security so that a
 *      tampered or unauthenticated header is reported as an authentication failure
 *      (EBMS:0101) rather than as a content error about values nobody vouched for.
 *
 * Text values: element text is trimmed of leading and trailing XML whitespace (peers
 * pretty-print headers: "\n   5209999001264"); attribute values are taken as they are.
 *
 * Ownership: every string and array of a parsed model lives in the arena given to the parser
 * (STYLE rule 9); xmlNode pointers are borrowed from the document, which must outlive the
 * model. Built documents are owned by the caller (xmlFreeDoc).
 *
 * Thread-safety: all functions are reentrant; a model or document has one user at a time.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "as4/arena.h"
#include "as4/buf.h"
#include "as4/compiler.h"
#include "as4/diag.h"
#include "as4/err.h"
#include "as4/limits.h"
#include "as4/pmode.h"
#include "as4/store.h"
#include "as4/wss.h"

/* Longest eb:MessageId accepted or generated, in bytes (the store keys records by it). */
#define AS4_MESSAGE_ID_MAX 255

/* Longest text value of any other header element or attribute, in bytes. */
#define AS4_EBMS3_VALUE_MAX 4096

/* The only CompressionType AS4 defines (AS4 §3.1). */
#define AS4_COMPRESSION_GZIP "application/gzip"

/* Well-known part property names (AS4 §3.1, eDelivery AS4 1.15 §2.2.3). */
#define AS4_PROP_MIME_TYPE   "MimeType"
#define AS4_PROP_COMPRESSION "CompressionType"
#define AS4_PROP_CHARSET     "CharacterSet"

/* Four-corner message properties (eDelivery AS4 1.15 four-corner enhancement). */
#define AS4_PROP_ORIGINAL_SENDER "originalSender"
#define AS4_PROP_FINAL_RECIPIENT "finalRecipient"
#define AS4_PROP_TRACKING_ID     "trackingIdentifier"

/* One eb:Property of eb:MessageProperties or eb:PartProperties. */
struct as4_property {
	const char *name;  /* @name, never NULL */
	const char *type;  /* @type, NULL when absent */
	const char *value; /* trimmed text, may be "" */
};

/* eb:From or eb:To. */
struct as4_party_info {
	const struct as4_party_id *ids; /* >= 1 eb:PartyId in document order (pmode.h type) */
	size_t n_ids;
	const char *role; /* eb:Role, never NULL once parsed */
};

/*
 * One eb:PartInfo. Where the payload is:
 *   href "cid:<Content-ID>"  a MIME part of this message (content_id set, URL-decoded);
 *   href "#<id>"            an element of the SOAP Body with that Id, or the Body itself;
 *   no href                 the SOAP Body (ebMS3 Core §5.2.2.13).
 * Any other href (http:, file:, ...) is an external payload, refused with EBMS:0011 by
 * as4_ebms3_check_user_message().
 */
struct as4_part_info {
	const char *href;        /* @href as sent, NULL when absent */
	const char *content_id;  /* href "cid:" part, URL-decoded; NULL otherwise */
	bool in_body;            /* payload in the SOAP Body (no href, or "#id") */
	const char *body_ref;    /* the id after "#", NULL otherwise */
	const char *mime_type;   /* MimeType property, NULL when absent */
	const char *compression; /* CompressionType property, NULL when absent */
	const char *charset;     /* CharacterSet property, NULL when absent */
	/*
	 * Every eb:PartProperties/eb:Property in order, the three above included. When
	 * building, mime_type/compression/charset are written from the fields above and props
	 * entries with those names are skipped.
	 */
	const struct as4_property *props;
	size_t n_props;
};

/* eb:UserMessage (ebMS3 Core §5.2.2). */
struct as4_user_message {
	const char *mpc;       /* @mpc, NULL when absent (= AS4_DEFAULT_MPC) */
	const char *timestamp; /* eb:Timestamp text as sent */
	int64_t timestamp_ms;  /* the same in ms since the epoch, UTC */
	const char *message_id;
	const char *ref_to_message_id; /* NULL when absent */
	struct as4_party_info from;
	struct as4_party_info to;
	const char *agreement;       /* eb:AgreementRef text, NULL when absent */
	const char *agreement_type;  /* @type, NULL when absent */
	const char *agreement_pmode; /* @pmode, NULL when absent */
	const char *service;
	const char *service_type; /* NULL when absent */
	const char *action;
	const char *conversation_id;
	const struct as4_property *props; /* eb:MessageProperties in order */
	size_t n_props;
	const struct as4_part_info *parts; /* eb:PayloadInfo in order (business document first) */
	size_t n_parts;
};

/* The kinds of signal this access point reads and writes. */
enum as4_signal_kind {
	AS4_SIGNAL_NONE = 0,
	AS4_SIGNAL_RECEIPT,      /* eb:Receipt (AS4 §5.1.8) */
	AS4_SIGNAL_ERROR,        /* one or more eb:Error (ebMS3 Core §6) */
	AS4_SIGNAL_PULL_REQUEST, /* eb:PullRequest (read for inspection only) */
};

/* One eb:Error (ebMS3 Core §6.2). Attribute values as sent; NULL when absent. */
struct as4_ebms_error {
	const char *error_code;        /* "EBMS:0009", never NULL once parsed */
	const char *severity;          /* "failure" or "warning", never NULL once parsed */
	const char *short_description; /* e.g. "InvalidHeader" */
	const char *category;          /* "Content", "Packaging", ... */
	const char *origin;            /* e.g. "ebMS", "security" */
	const char *ref_to_message_in_error;
	const char *description; /* eb:Description text */
	const char *description_lang;
	const char *detail; /* eb:ErrorDetail text */
};

/* One ds:Reference of a Receipt's ebbp:NonRepudiationInformation. */
struct as4_nri_ref {
	const char *uri;           /* "#id" or "cid:..." as sent */
	const char *digest_method; /* DigestMethod/@Algorithm */
	const char *digest_value;  /* base64 with all whitespace removed */
};

/* eb:SignalMessage (ebMS3 Core §5.2.3). */
struct as4_signal_message {
	enum as4_signal_kind kind;
	const char *timestamp;
	int64_t timestamp_ms;
	const char *message_id;
	const char *ref_to_message_id; /* NULL when absent (an Error about an unreadable message) */
	/* Receipt: NRI references, or a copy of the UserMessage (reception awareness). */
	struct as4_nri_ref *nri;
	size_t n_nri;
	bool receipt_user_message;           /* the Receipt carries an eb:UserMessage copy */
	const char *receipt_user_message_id; /* its MessageId, when readable */
	/* Error: every eb:Error in order (>= 1). */
	struct as4_ebms_error *errors;
	size_t n_errors;
	/* PullRequest */
	const char *pull_mpc; /* @mpc, NULL = default MPC */
};

/* Which message unit eb:Messaging carries. */
enum as4_unit_kind { AS4_UNIT_NONE = 0, AS4_UNIT_USER_MESSAGE, AS4_UNIT_SIGNAL };

/* A parsed eb:Messaging header and where its parts sit in the envelope. */
struct as4_messaging {
	enum as4_unit_kind kind;
	struct as4_user_message user;     /* kind == AS4_UNIT_USER_MESSAGE */
	struct as4_signal_message signal; /* kind == AS4_UNIT_SIGNAL */
	const char *messaging_id;         /* wsu:Id of eb:Messaging, NULL when absent */
	bool has_security;                /* a wsse:Security header is present */
	bool has_fault;                   /* S12:Body holds an S12:Fault */
	xmlNode *header;                  /* S12:Header (borrowed from the document) */
	xmlNode *messaging;               /* eb:Messaging */
	xmlNode *unit;                    /* eb:UserMessage or eb:SignalMessage */
	xmlNode *body;                    /* S12:Body */
};

/*
 * Read eb:Messaging from a parsed SOAP envelope (structure only, see the file comment).
 * Checks: the root is a SOAP 1.2 Envelope (a SOAP 1.1 one gives AS4_E_SOAP_VERSION; any
 * other root AS4_E_HEADER) with one Header holding exactly one eb:Messaging; that holds
 * exactly one message unit (two UserMessages, or a UserMessage with a SignalMessage, or two
 * SignalMessages: AS4_E_BUNDLED, EBMS:0002 - AS4 §2.2 profiles bundling out, and the
 * "one UserMessage per message" rule of AS4-NOTES.md follows it); a SignalMessage carries
 * exactly one kind of signal (Receipt, PullRequest or Errors; a mix: AS4_E_BUNDLED); every
 * mandatory element is present once and non-empty, unknown eb: elements are absent, Timestamp
 * is an xsd:dateTime not before 1970 (a zone offset is accepted and converted: ebMS3 wants
 * UTC, but phase4 and others send "+02:00") and MessageId is 1..AS4_MESSAGE_ID_MAX bytes without
 * whitespace or angle brackets (AS4_E_HEADER, EBMS:0009, with a detail naming the element, e.g.
 * "eb:From has no eb:PartyId"). lim caps the number of PartInfos (max_parts) and may be NULL
 * (defaults).
 * On failure *out holds what was read so far: out->user.message_id or out->signal.message_id
 * is set as soon as the MessageId was read (for bundled units: the first unit's, with kind
 * telling which unit that is), so the caller can answer with RefToMessageInError. Strings go to
 * arena; xmlNode pointers borrow from doc.
 */
AS4_MUST_CHECK as4_err as4_ebms3_parse(xmlDoc *doc, const struct as4_limits *lim,
                                       struct as4_arena *arena, struct as4_messaging *out,
                                       struct as4_diag *d);

/*
 * Parse len bytes of a SOAP envelope with as4_xml_parse() (limits from lim, max_soap
 * included) and then as4_ebms3_parse(). On success and on an eb:Messaging failure *doc owns
 * the document (free with xmlFreeDoc); when the XML itself is refused *doc is NULL.
 * Errors: those of as4_xml_parse() (AS4_E_XML, AS4_E_DOCTYPE, AS4_E_LIMIT) and of
 * as4_ebms3_parse().
 */
AS4_MUST_CHECK as4_err as4_ebms3_parse_bytes(const uint8_t *buf, size_t len,
                                             const struct as4_limits *lim, struct as4_arena *arena,
                                             xmlDoc **doc, struct as4_messaging *out,
                                             struct as4_diag *d);

/*
 * The value rules of a parsed UserMessage (run after WS-Security, see the file comment):
 *   - a PartyId without @type must be a URI (ebMS3 Core §5.2.2.4): AS4_E_INCONSISTENT
 *     (EBMS:0003);
 *   - a PartInfo href that is neither "cid:" nor "#id" (external payload): AS4_E_EXTERNAL_PAYLOAD
 *     (EBMS:0011); two PartInfos naming the same part or more than one naming the Body:
 *     AS4_E_HEADER;
 *   - CompressionType other than application/gzip: AS4_E_VALUE_NOT_RECOGNIZED (EBMS:0001);
 *     a compressed part without MimeType (AS4 §3.1), or a CharacterSet that is not an XML
 *     encoding name (XML 1.0 §4.3.3): AS4_E_HEADER (EBMS:0009).
 * An uncompressed part without MimeType is accepted (its MIME Content-Type is used; some
 * products omit PartProperties, e.g. the Holodeck _8_1_22 vector). Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_ebms3_check_user_message(const struct as4_user_message *um,
                                                    struct as4_diag *d);

/* The value of the first message property named name, or NULL. Borrowed from um. */
const char *as4_user_message_property(const struct as4_user_message *um, const char *name);

/*
 * The summary the store keeps of a stored signal (as4_msgrec.receipt_info) from m, a signal
 * read by as4_ebms3_parse() (m->kind == AS4_UNIT_SIGNAL): known and readable, its kind,
 * MessageId, RefToMessageId, Timestamp, NRI count and whether it carries WS-Security. The
 * strings borrow from m (its arena). Thread-safe.
 */
void as4_ebms3_receipt_summary(const struct as4_messaging *m, struct as4_store_receipt_info *out);

/* The first message property named name (for its @type), or NULL. Borrowed from um. */
const struct as4_property *as4_user_message_find_property(const struct as4_user_message *um,
                                                          const char *name);

/* True when um is addressed to the ebMS test service (AS4_TEST_SERVICE / AS4_TEST_ACTION). */
bool as4_user_message_is_test(const struct as4_user_message *um);

/*
 * Build a SOAP 1.2 envelope with eb:Messaging (S12:mustUnderstand="true") carrying um and an
 * empty Body. mpc NULL omits @mpc (default MPC); every other optional field is written when
 * non-NULL. Each part_info becomes eb:PartInfo href="cid:<content_id>" with PartProperties
 * MimeType, CompressionType, CharacterSet and the other props, in that order. Body payloads
 * (in_body) are not built: AS4 payloads travel as attachments.
 * Errors: AS4_E_INVAL when a mandatory field is missing, timestamp_ms < 0, a string is not valid
 * UTF-8 or holds a character XML 1.0 cannot carry, a MessageId is malformed, or a part has no
 * content_id / mime_type (the diagnostic names the field, e.g. "from.ids[0].value"); AS4_E_NOMEM.
 * On success *out owns the new document (xmlFreeDoc).
 */
AS4_MUST_CHECK as4_err as4_ebms3_build_user_message(const struct as4_user_message *um, xmlDoc **out,
                                                    struct as4_diag *d);

/* What a Receipt is built from. */
struct as4_receipt_spec {
	const char *message_id;        /* the Receipt's own MessageId (required) */
	int64_t timestamp_ms;          /* its Timestamp; 0 = now */
	const char *ref_to_message_id; /* the received UserMessage's MessageId (required) */
	/*
	 * Non-repudiation: the ds:References of the received message's signature. When
	 * refs->xml[i] is a non-empty fragment it is copied as is (parsed with as4_xml_parse);
	 * otherwise a ds:Reference is written from uri, digest_method and digest_value.
	 * NULL or n == 0: reception awareness only, see user_message.
	 */
	const struct as4_signed_refs *refs;
	/* The received eb:UserMessage to copy when refs is empty (AS4 §5.1.8); borrowed, not
	 * modified. */
	xmlNode *user_message;
};

/*
 * Build a Receipt signal envelope (AS4 §5.1.8): eb:SignalMessage with MessageInfo and
 * eb:Receipt holding ebbp:NonRepudiationInformation with one ebbp:MessagePartNRInformation
 * per reference, or a copy of the eb:UserMessage. The Body is empty. Signing is the
 * caller's (as4_wss_sign_signal). Errors: AS4_E_INVAL (missing ids, neither refs nor
 * user_message, a reference fragment that is not a ds:Reference), AS4_E_NOMEM, and
 * as4_xml_parse() errors for a damaged fragment. *out owns the new document.
 */
AS4_MUST_CHECK as4_err as4_ebms3_build_receipt(const struct as4_receipt_spec *spec, xmlDoc **out,
                                               struct as4_diag *d);

/* What an Error signal is built from. */
struct as4_error_spec {
	const char *message_id;        /* the signal's own MessageId (required) */
	int64_t timestamp_ms;          /* 0 = now */
	const char *ref_to_message_id; /* the message in error, NULL when it could not be read */
	const struct as4_ebms_error *errors; /* >= 1; error_code and severity required */
	size_t n_errors;
	/*
	 * Also put an S12:Fault in the Body, as Domibus does for the HTTP 500 answer:
	 * Code/Value env:Sender, or env:Receiver when fault_receiver, Subcode/Value
	 * eb:<shortDescription>, Reason/Text "<errorCode> <shortDescription>: <detail>" of the
	 * first error.
	 */
	bool soap_fault;
	bool fault_receiver; /* we were at fault, not the message (as4_ebms3_fault_is_receiver) */
};

/*
 * Build an Error signal envelope (ebMS3 Core §6.2): eb:SignalMessage with MessageInfo and one
 * eb:Error per entry (attributes errorCode, severity, shortDescription, category, origin,
 * refToMessageInError when given; eb:Description xml:lang="en" and eb:ErrorDetail when
 * given). Text that XML cannot carry (control characters, invalid UTF-8) is replaced by '?'
 * so an error can always be reported. Errors: AS4_E_INVAL (missing ids/code/severity),
 * AS4_E_NOMEM. *out owns the new document.
 */
AS4_MUST_CHECK as4_err as4_ebms3_build_error(const struct as4_error_spec *spec, xmlDoc **out,
                                             struct as4_diag *d);

/*
 * Fill e for reporting err: error_code from the error table (as4_err_ebms_code),
 * short_description and category from the ebMS table, severity "failure", origin "ebMS",
 * description = as4_strerror(err), detail and ref_to_message_in_error as given (borrowed).
 */
void as4_ebms3_error_from_err(as4_err err, const char *detail, const char *ref_to_message_id,
                              struct as4_ebms_error *e);

/*
 * True when a failure with err is this MSH's own fault (resources, internal errors,
 * delivery): the SOAP Fault then says env:Receiver; otherwise env:Sender.
 */
bool as4_ebms3_fault_is_receiver(as4_err err);

/*
 * Serialise doc as UTF-8 with an XML declaration and without reformatting (signatures
 * depend on the exact bytes) into out (appended). AS4_E_NOMEM, AS4_E_LIMIT past out's cap.
 */
AS4_MUST_CHECK as4_err as4_ebms3_serialize(xmlDoc *doc, struct as4_buf *out);

/*
 * A new MessageId "<uuid v4>@<domain>" (RFC 2822 msg-id form without angle brackets, ebMS3
 * Core §5.2.2.1) into out (capacity cap). domain must be a non-empty dot-atom (letters,
 * digits, "-", "."). AS4_E_INVAL on a bad domain, AS4_E_LIMIT when cap is too small,
 * AS4_E_CRYPTO when the RNG fails. Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_ebms3_new_message_id(const char *domain, char *out, size_t cap);

/*
 * True when s is acceptable as an eb:MessageId: 1..AS4_MESSAGE_ID_MAX bytes, no whitespace,
 * control characters or angle brackets.
 */
bool as4_ebms3_message_id_valid(const char *s);
