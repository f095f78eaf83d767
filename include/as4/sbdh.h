/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SBDH / MedCom payload profile (L2): the ehmiSBDH StandardBusinessDocument that carries a
 * MedCom FHIR message between access points (../shared/MEDCOM.md "The envelope"), GLN checks,
 * the routing keys read from the header, and the inverse: wrapping a FHIR message.
 *
 * Untrusted bytes: as4_sbdh_parse() and as4_sbdh_fhir_info() are the only readers of SBDH and
 * FHIR bytes (STYLE rule 11); test/fuzz/fuzz_sbdh.c fuzzes both. XML goes through
 * as4_xml_parse() only. The BinaryContent text is never handed to libxml2: a 100 MB FHIR
 * message is 133 MB of base64, beyond libxml2's text node cap without XML_PARSE_HUGE (which
 * STYLE rule 12 forbids). The parser cuts that one text out of the document, checks it is
 * nothing but base64, parses the rest, and then checks that the element it cut from is the
 * one BinaryContent child of the document element.
 *
 * Personal data: the PATIENTID scope holds a CPR number. Its value is never copied out of the
 * input: struct as4_sbdh only says that one is present, so nothing built from it (records,
 * indexes, logs, diagnostics, `as4ctl sbdh inspect`) can show it.
 *
 * Thread-safety: every function is thread-safe; a struct as4_sbdh belongs to one thread at a
 * time. No function logs (STYLE rule 15).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "as4/arena.h"
#include "as4/buf.h"
#include "as4/compiler.h"
#include "as4/diag.h"
#include "as4/err.h"
#include "as4/limits.h"

/* Namespaces of the ehmiSBDH envelope. */
#define AS4_NS_SBDH    "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
#define AS4_NS_SBDH_BC "http://peppol.eu/xsd/ticc/envelope/1.0"

/* The participant identifier scheme of Sender and Receiver (Peppol Policy for use of ids). */
#define AS4_SBDH_AUTHORITY "iso6523-actorid-upis"

/* FHIR payload media types accepted by default. */
#define AS4_SBDH_FHIR_XML  "application/fhir+xml"
#define AS4_SBDH_FHIR_JSON "application/fhir+json"

/* Default cap on the decoded BinaryContent (MEDCOM.md: any FHIR message in an envelope). */
#define AS4_SBDH_MAX_CONTENT (100ULL * 1024 * 1024)

/* Longest participant identifier value ("0088:" + id), Peppol PFUOI 4.4 §4.2. */
#define AS4_SBDH_PARTICIPANT_MAX 135

/* ---- GLN and participant identifiers --------------------------------------------------- */

/*
 * True when s is exactly 13 ASCII digits whose last digit is the GS1 mod-10 check digit of the
 * first 12 (weights 3,1,3,... from the right of the 12). NULL gives false.
 */
bool as4_gln_valid(const char *s);

/*
 * The GS1 check digit ('0'..'9') for 12 digits, or '\0' when s is not 12 ASCII digits (only
 * the first 12 characters are read; s may be longer).
 */
char as4_gln_check_digit(const char *s);

/* Which participant schemes (ICD codes) are accepted: a list of 4-digit ICDs. */
struct as4_sbdh_schemes {
	const char *const *icd; /* e.g. {"0088"}; NULL / n 0 = {"0088"} (the Danish health list) */
	size_t n;
};

/* A participant identifier split into its parts. Strings point into the caller's buffer. */
struct as4_participant_id {
	char icd[5];    /* "0088" */
	const char *id; /* what follows "0088:", e.g. "5790000121526" (borrowed from the input) */
	bool gln;       /* icd is 0088: id is a GLN (checked) */
};

/*
 * Check a participant identifier value "<ICD>:<id>" (the iso6523-actorid-upis form; a leading
 * "iso6523-actorid-upis::" is accepted and skipped): ICD of 4 digits on the allowed list,
 * a non-empty id of printable ASCII without spaces, at most AS4_SBDH_PARTICIPANT_MAX bytes,
 * and for ICD 0088 a valid GLN. *out (may be NULL) receives the parts.
 * Errors (with a diagnostic quoting the value; field = field):
 *   AS4_E_GLN             0088 with a value that is not 13 digits or a wrong check digit
 *                         (the detail gives the expected check digit)
 *   AS4_E_SBDH_INVALID    not "<ICD>:<id>", or a scheme not on the allowed list
 */
AS4_MUST_CHECK as4_err as4_participant_parse(const char *value, const struct as4_sbdh_schemes *ok,
                                             const char *field, struct as4_participant_id *out,
                                             struct as4_diag *d);

/* ---- The parsed envelope --------------------------------------------------------------- */

/* What the profile accepts. Zero-initialise; every field has a default. */
struct as4_sbdh_rules {
	struct as4_sbdh_schemes schemes; /* Sender/Receiver ICDs */
	const char *const *mime_types; /* BinaryContent mimeType values; n 0 = the two FHIR ones */
	size_t n_mime_types;
	uint64_t max_content; /* decoded BinaryContent bytes; 0 = AS4_SBDH_MAX_CONTENT */
	const struct as4_limits
	        *limits;        /* XML caps for the header and FHIR reads; NULL = default */
	uint64_t max_fhir_read; /* FHIR content above this is not opened for its MessageHeader
	                           (0 = 8 MiB); a larger message is still accepted */
};

/* One problem found in an envelope. Strings live in the envelope's arena. */
struct as4_sbdh_problem {
	as4_err err;       /* AS4_E_SBDH_INVALID, AS4_E_GLN, AS4_E_LIMIT, AS4_E_XML, ... */
	bool warning;      /* true: worth saying, but the envelope is still valid for sending */
	const char *field; /* "Sender", "BusinessScope/Scope[DOCUMENTID]", "BinaryContent", ... */
	const char *text;  /* what is wrong, quoting the value when it helps (never a CPR) */
};

/* One BusinessScope/Scope. Strings live in the arena. */
struct as4_sbdh_scope {
	const char *type;        /* Type, e.g. "DOCUMENTID" */
	const char *instance_id; /* InstanceIdentifier; NULL for PATIENTID (never copied) */
	const char *identifier;  /* Identifier, may be NULL */
};

/* What the FHIR message inside says about itself (as4_sbdh_fhir_info()). */
struct as4_sbdh_fhir {
	bool read;                     /* the content was opened (XML or JSON parsed) */
	const char *resource_type;     /* "Bundle" */
	const char *bundle_type;       /* "message" */
	const char *message_header_id; /* Bundle.entry[0].resource (MessageHeader).id */
	const char *event_code;        /* MessageHeader.eventCoding.code */
};

/*
 * A parsed ehmiSBDH envelope. Every pointer is owned by the envelope (its arena, and content
 * on the heap) and valid until as4_sbdh_free(). Absent elements are NULL.
 */
struct as4_sbdh {
	struct as4_arena *arena;
	const char *header_version;
	const char *sender_authority; /* Sender/Identifier/@Authority */
	const char *sender;           /* Sender/Identifier: "0088:5790000121526" */
	const char *receiver_authority;
	const char *receiver;
	const char *sender_gln;   /* the GLN of sender when its scheme is 0088 and it checks out */
	const char *receiver_gln; /* likewise */
	const char *standard;     /* DocumentIdentification/Standard */
	const char *type_version;
	const char *instance_id; /* DocumentIdentification/InstanceIdentifier */
	const char *type;
	const char *created;            /* CreationDateAndTime as written */
	const char *document_id;        /* Scope DOCUMENTID InstanceIdentifier (opaque, exact) */
	const char *process_id;         /* Scope PROCESSID InstanceIdentifier (opaque, exact) */
	const char *sender_sor;         /* Scope SENDERID */
	const char *receiver_sor;       /* Scope RECEIVERID */
	const char *message_identifier; /* Scope MESSAGEIDENTIFIER */
	bool has_patient;               /* a PATIENTID scope is present (value never kept) */
	bool ack_requested;             /* an EHMI-ReceiptAcknowledgement scope asks for one */
	struct as4_sbdh_scope *scopes;  /* every Scope in document order */
	size_t n_scopes;
	const char *mime_type; /* BinaryContent/@mimeType */
	const char *encoding;  /* BinaryContent/@encoding, may be NULL */
	uint8_t *content;      /* the decoded BinaryContent (heap), NULL when absent/invalid */
	size_t content_len;
	size_t b64_offset; /* where the base64 text starts in the input, and its length */
	size_t b64_len;
	struct as4_sbdh_fhir fhir;         /* what the FHIR content says (when it could be read) */
	const char *medcom_message_id;     /* MessageHeader.id, else the MESSAGEIDENTIFIER scope */
	struct as4_sbdh_problem *problems; /* every problem found, in document order */
	size_t n_problems;
	size_t n_errors; /* problems that are not warnings */
	size_t cap_problems_;
};

/*
 * Parse and check an ehmiSBDH envelope against rules (NULL = defaults):
 *  - the document element is sbdh:StandardBusinessDocument with a StandardBusinessDocumentHeader
 *    and exactly one BinaryContent (namespace AS4_NS_SBDH_BC or AS4_NS_SBDH);
 *  - Sender and Receiver: one Identifier each, Authority iso6523-actorid-upis, a participant
 *    value checked by as4_participant_parse() (GLN mod-10 for 0088);
 *  - DocumentIdentification with Standard, TypeVersion, InstanceIdentifier, Type and
 *    CreationDateAndTime; BusinessScope with exactly one DOCUMENTID and one PROCESSID scope;
 *  - BinaryContent: mimeType on the list, base64 text only, decoded size within max_content;
 *  - the FHIR content is opened (up to max_fhir_read) for its MessageHeader id; when that
 *    differs from MESSAGEIDENTIFIER, or the content is not a FHIR message Bundle, a warning.
 * Every problem is collected into (*out)->problems; the function returns the first error's
 * code with d set to its text and field (warnings do not count):
 *   AS4_OK, AS4_E_SBDH_INVALID, AS4_E_GLN, AS4_E_LIMIT (content or XML caps), AS4_E_XML /
 *   AS4_E_DOCTYPE (not well-formed or a DOCTYPE: *out then holds just that problem).
 * *out is set on every return except AS4_E_NOMEM (free with as4_sbdh_free()), so that tools
 * can show everything that is wrong. buf need not outlive the result.
 */
AS4_MUST_CHECK as4_err as4_sbdh_parse(const uint8_t *buf, size_t len,
                                      const struct as4_sbdh_rules *rules, struct as4_sbdh **out,
                                      struct as4_diag *d);

/* Free an envelope and everything it owns. NULL ok. */
void as4_sbdh_free(struct as4_sbdh *sb);

/*
 * True when buf looks like an SBDH document: after an optional BOM, XML declaration, comments,
 * processing instructions and whitespace (within the first 64 KiB), the first element's local
 * name is StandardBusinessDocument. A cheap test that decides whether as4_sbdh_parse() applies;
 * it proves nothing about validity.
 */
bool as4_sbdh_sniff(const uint8_t *buf, size_t len);

/*
 * Read what a FHIR message says about itself: mime_type AS4_SBDH_FHIR_XML (XML through
 * as4_xml_parse with lim) or AS4_SBDH_FHIR_JSON (jansson, depth-limited); other types give
 * AS4_E_INVAL. Strings go into arena. out->read is true on AS4_OK.
 * Errors: AS4_E_PARSE (not XML/JSON, or not a FHIR resource), AS4_E_LIMIT, AS4_E_INVAL,
 * AS4_E_NOMEM; d says why.
 */
AS4_MUST_CHECK as4_err as4_sbdh_fhir_info(const uint8_t *buf, size_t len, const char *mime_type,
                                          const struct as4_limits *lim, struct as4_arena *arena,
                                          struct as4_sbdh_fhir *out, struct as4_diag *d);

/* ---- Routing: SBDH identifiers to ebMS Service and Action -------------------------------- */

/* How Service and Action are derived from the PROCESSID and DOCUMENTID scopes. */
enum as4_sbdh_routing {
	AS4_SBDH_ROUTING_PEPPOL = 0, /* Service = process, @type = process scheme;
	                                Action = document scheme + "::" + document id */
	AS4_SBDH_ROUTING_PLAIN = 1,  /* Service = process (no type); Action = document id */
};

/* The identifier schemes of a network (used by the Peppol convention and discovery). */
struct as4_sbdh_network {
	enum as4_sbdh_routing routing;
	const char *document_scheme; /* NULL = "busdox-docid-qns" */
	const char *process_scheme;  /* NULL = "cenbii-procid-ubl" */
};

/* Service, its type and Action for an envelope, as heap strings (free each with free()). */
struct as4_sbdh_route {
	char *service;
	char *service_type; /* NULL under AS4_SBDH_ROUTING_PLAIN */
	char *action;
};

/*
 * Derive Service/Action from document_id and process_id under net (NULL = Peppol defaults).
 * AS4_E_INVAL (an id missing or empty), AS4_E_NOMEM. On error *out is cleaned up.
 */
AS4_MUST_CHECK as4_err as4_sbdh_route(const struct as4_sbdh_network *net, const char *document_id,
                                      const char *process_id, struct as4_sbdh_route *out,
                                      struct as4_diag *d);

/* Free the strings of a route (fields NULL afterwards). NULL ok. */
void as4_sbdh_route_cleanup(struct as4_sbdh_route *r);

/* ---- Wrapping ---------------------------------------------------------------------------- */

/* What `as4ctl sbdh wrap` puts around a FHIR message. Zero-initialise. */
struct as4_sbdh_wrap {
	const char *sender;       /* "0088:<GLN>" or a bare 13-digit GLN (then 0088 is implied) */
	const char *receiver;     /* likewise */
	const char *document_id;  /* DOCUMENTID, opaque */
	const char *process_id;   /* PROCESSID, opaque */
	const char *mime_type;    /* NULL = guessed from the content (XML or JSON) */
	const char *instance_id;  /* NULL = a new UUID */
	const char *created;      /* CreationDateAndTime; NULL = now (UTC) */
	const char *standard;     /* NULL = the FHIR MessageHeader event code */
	const char *type_version; /* NULL = the text after the last "::" of document_id, else 1.0 */
	const char *sender_sor;   /* SENDERID scope, NULL = none */
	const char *receiver_sor; /* RECEIVERID scope, NULL = none */
	const char *patient;      /* PATIENTID scope (CPR), NULL = none; never echoed in errors */
	const char *message_id;   /* MESSAGEIDENTIFIER; NULL = the FHIR MessageHeader id */
	bool ack_request;         /* add an EHMI-ReceiptAcknowledgement request scope */
	const struct as4_sbdh_rules *rules; /* checks applied to sender/receiver; NULL = default */
};

/*
 * Build an ehmiSBDH envelope around a FHIR message (bytes fhir, len) into out (appended; out's
 * cap applies). The participants are checked as as4_participant_parse() does; the FHIR content
 * is opened (as4_sbdh_fhir_info()) for the event code and MessageHeader id unless both standard
 * and message_id are given. The result parses with as4_sbdh_parse() without errors.
 * Errors: AS4_E_GLN, AS4_E_SBDH_INVALID, AS4_E_INVAL (missing document/process id, content not
 * XML or JSON, or no MessageHeader to take values from), AS4_E_LIMIT, AS4_E_CRYPTO (UUID),
 * AS4_E_NOMEM. d names the option at fault in its field ("sender", "document", ...).
 */
AS4_MUST_CHECK as4_err as4_sbdh_wrap(const struct as4_sbdh_wrap *w, const uint8_t *fhir, size_t len,
                                     struct as4_buf *out, struct as4_diag *d);
