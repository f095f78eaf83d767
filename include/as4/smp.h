/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dynamic discovery client (smp-client/, library as4_smp; uses the base layer only).
 *
 * How a sender finds a receiver's access point (../shared/SMP-NOTES.md):
 *   participant identifier -> DNS name (SML/BDXL profile of the network) -> U-NAPTR "Meta:SMP"
 *   record -> SMP base URL -> signed ServiceMetadata (Peppol SMP 1.x, OASIS SMP 1.0 or 2.0)
 *   -> signature and signer chain checked against the network's SMP CA -> identifiers checked
 *   -> endpoint chosen by process, transport profile and validity dates -> endpoint certificate
 *   checked against the access point CA -> result (cached until it may have changed).
 *
 * Error codes (err.h), each with a diagnostic naming what was asked and what was seen:
 *   AS4_E_INVAL / AS4_E_GLN     the requested identifier is malformed (caller's input)
 *   AS4_E_SMP_NOT_REGISTERED    NXDOMAIN, NODATA, or no usable "Meta:SMP" U-NAPTR record
 *                               for the participant (permanent)
 *   AS4_E_SMP_NO_SERVICE        registered, but the SMP answers 404 for the document type or
 *                               has no active endpoint for the process and transport
 *                               profile (permanent)
 *   AS4_E_SMP_UNAVAILABLE       SERVFAIL, REFUSED, DNS timeout, connection failure, HTTP 5xx
 *                               (retryable; never reported as "not registered")
 *   AS4_E_SMP_BAD_RESPONSE      malformed DNS record or SMP document, wrong identifiers in it,
 *                               HTTP 3xx, oversized body, a second redirect
 *   AS4_E_SMP_TRUST             signature invalid or missing, signer not issued by the SMP CA,
 *                               endpoint certificate not issued by the AP CA, TLS failure
 *   AS4_E_CONFIG                the network settings are unusable (as4_smp_client_new)
 *
 * Thread-safety: a client is immutable after as4_smp_client_new() except for its cache, which
 * has its own lock; several send workers may call as4_smp_lookup() on one client at once.
 * Programs must call as4_smp_global_init() (or as4_wss_global_init() plus curl_global_init())
 * once before the first lookup.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "as4/buf.h"
#include "as4/compiler.h"
#include "as4/diag.h"
#include "as4/err.h"
#include "as4/limits.h"

/* ---- Global set-up ------------------------------------------------------------------------ */

/*
 * One-time set-up, from main before threads start: curl_global_init (reference-counted by
 * libcurl) and, when with_xmlsec is true, xmlsec with its OpenSSL back end. A program that
 * calls as4_wss_global_init() already has xmlsec and passes false (xmlsec must be initialised
 * exactly once). Call after as4_xml_global_init(). AS4_E_CRYPTO when xmlsec cannot start,
 * AS4_E_INTERNAL when libcurl cannot. Not thread-safe.
 */
AS4_MUST_CHECK as4_err as4_smp_global_init(bool with_xmlsec);

/* Undo as4_smp_global_init() with the same with_xmlsec, at exit. Not thread-safe. */
void as4_smp_global_cleanup(bool with_xmlsec);

/* ---- Identifiers -------------------------------------------------------------------------- */

/* Longest identifier scheme kept, in bytes (without the NUL). */
#define AS4_SMP_SCHEME_MAX 128
/* Longest identifier value kept, in bytes (without the NUL). */
#define AS4_SMP_VALUE_MAX 1024
/* Longest "scheme::value" text, in bytes (without the NUL). */
#define AS4_SMP_ID_TEXT_MAX (AS4_SMP_SCHEME_MAX + 2 + AS4_SMP_VALUE_MAX)

/* Peppol identifier schemes (Peppol Policy for use of Identifiers, PFUOI 4.x). */
#define AS4_SMP_PEPPOL_PARTICIPANT_SCHEME "iso6523-actorid-upis"
#define AS4_SMP_PEPPOL_DOCTYPE_SCHEME     "busdox-docid-qns"
#define AS4_SMP_PEPPOL_PROCESS_SCHEME     "cenbii-procid-ubl"
/* ebCore Party Id Type URN prefix (OASIS ebCore Party Id Type 1.0); schemes start with it. */
#define AS4_SMP_EBCORE_PREFIX "urn:oasis:names:tc:ebcore:partyid-type:"

/* What an identifier names; the length and syntax rules depend on it. */
enum as4_smp_id_kind {
	AS4_SMP_ID_PARTICIPANT = 0, /* a receiver (ParticipantIdentifier / ParticipantID) */
	AS4_SMP_ID_DOCUMENT,        /* a document type (DocumentIdentifier / ID) */
	AS4_SMP_ID_PROCESS,         /* a process (ProcessIdentifier / Process/ID) */
};

/* A parsed identifier: both parts trimmed, NUL-terminated, never longer than the maxima. */
struct as4_smp_id {
	char scheme[AS4_SMP_SCHEME_MAX + 1]; /* "iso6523-actorid-upis" */
	char value[AS4_SMP_VALUE_MAX + 1];   /* "0088:5798000000001" */
};

/*
 * Parse the textual form "scheme::value", split at the FIRST "::" (the value may contain "::"),
 * with surrounding whitespace trimmed from the whole text and from both parts. An ebCore party
 * id written with single colons ("urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088:123")
 * or behind an empty scheme ("::urn:...") is split after its catalog and scheme code.
 * Checks: non-empty scheme and value, lengths (scheme <= AS4_SMP_SCHEME_MAX; value <=
 * AS4_SMP_VALUE_MAX, and the PFUOI 4.4 maxima for Peppol schemes: participant 130, document
 * type 500, process 200), no control characters, valid UTF-8; for iso6523-actorid-upis a
 * 4-digit ICD, ":" and a non-empty printable ASCII id; for ICD 0088 (also as ebCore
 * "iso6523:0088") a GLN with a correct GS1 check digit.
 * Errors: AS4_E_INVAL (diagnostic says which rule), AS4_E_GLN (bad GLN). text must not be NULL.
 * Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_smp_id_parse(const char *text, enum as4_smp_id_kind kind,
                                        struct as4_smp_id *out, struct as4_diag *d);

/*
 * As as4_smp_id_parse(), from a separate scheme and value (e.g. an SBDH Identifier and its
 * Authority). Both are trimmed. Same checks and errors. Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_smp_id_set(const char *scheme, const char *value,
                                      enum as4_smp_id_kind kind, struct as4_smp_id *out,
                                      struct as4_diag *d);

/*
 * "scheme::value" of id into out (capacity cap; AS4_SMP_ID_TEXT_MAX + 1 always suffices).
 * AS4_E_LIMIT when it does not fit (out then holds a truncated string). Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_smp_id_format(const struct as4_smp_id *id, char *out, size_t cap);

/*
 * True when s is a GLN: exactly 13 ASCII digits whose last one is the GS1 mod-10 check digit
 * of the first 12 (GS1 General Specifications §7.9). Thread-safe.
 */
bool as4_smp_gln_valid(const char *s);

/* ---- Networks ----------------------------------------------------------------------------- */

/*
 * How the SMP of a participant is found. The first three values equal those of enum
 * as4_sml_hashing in as4/config.h (cast to convert).
 */
enum as4_smp_dns_mode {
	/*
	 * Peppol SML (current): lower(base32(sha256(lower(value)))) without "=" + "." +
	 * lower(scheme) + "." + zone; U-NAPTR "Meta:SMP" gives the SMP URL.
	 */
	AS4_SMP_DNS_PEPPOL = 0,
	/*
	 * eDelivery BDXL / OASIS BDXL: base32(sha256(id)) without "=" + "." + zone, where id is
	 * "scheme:value" for an ebCore scheme and "scheme::value" otherwise (lower-cased when
	 * dns_lowercase); U-NAPTR as above. Also covers DBNAlliance zones.
	 */
	AS4_SMP_DNS_BDXL,
	/*
	 * Peppol legacy: "B-" + hex(md5(lower(value))) + "." + lower(scheme) + "." + zone,
	 * resolved as a host (A record, CNAMEs followed); the SMP is http://<name>/. Dead in
	 * Peppol since 2025-11-01: only behind this explicit setting, and it needs allow_http.
	 */
	AS4_SMP_DNS_PEPPOL_LEGACY,
	/* No DNS: every participant is served by the SMP at smp_url (private networks, tests). */
	AS4_SMP_DNS_NONE,
};

/*
 * SMP protocol spoken by the network. The values equal those of enum as4_smp_dialect in
 * as4/config.h (which the L2 configuration cannot take from this header), so the daemon
 * converts a configured network with a cast.
 */
enum as4_smp_proto {
	AS4_SMP_PROTO_PEPPOL = 0, /* Peppol SMP 1.x (busdox namespaces) */
	AS4_SMP_PROTO_OASIS1,     /* OASIS BDXR SMP 1.0 (.../bdxr/ns/SMP/2016/05) */
	AS4_SMP_PROTO_OASIS2,     /* OASIS BDXR SMP 2.0 (.../bdxr/ns/SMP/2/...) */
};

/* Transport profile identifiers (endpoint selection). */
#define AS4_SMP_TP_PEPPOL_AS4 "peppol-transport-as4-v2_0"
#define AS4_SMP_TP_BDXR_AS4   "bdxr-transport-ebms3-as4-v1p0"

/* ---- Injectable back ends (tests, other resolvers) ------------------------------------------ */

/* How a DNS query ended. */
enum as4_smp_dns_status {
	AS4_SMP_DNS_ANSWER = 0, /* NOERROR with answer records: the message is in the buffer */
	AS4_SMP_DNS_NXDOMAIN,   /* the name does not exist (permanent) */
	AS4_SMP_DNS_NODATA,     /* the name exists without records of the type (permanent) */
	AS4_SMP_DNS_TEMPFAIL,   /* SERVFAIL, REFUSED, FORMERR, timeout, no server (retryable) */
};

/* One DNS query as the client asks it. */
struct as4_smp_dns_request {
	const char *name;    /* the name, without trailing dot */
	uint16_t qtype;      /* 35 = NAPTR, 1 = A */
	const char *server;  /* "a.b.c.d:port" (IPv4), or NULL for the system resolver */
	uint32_t timeout_ms; /* per try */
	uint32_t tries;      /* attempts per server */
};

/*
 * A DNS back end: run req and store the raw DNS response message (RFC 1035 §4) in answer
 * (capacity cap) with its length in *len when *status is AS4_SMP_DNS_ANSWER. Returns AS4_OK
 * whenever *status says how the query ended; an error only for local failures (AS4_E_CONFIG
 * for an unusable server string, AS4_E_NOMEM), with a diagnostic. Called from several
 * threads at once with the same ctx.
 */
typedef as4_err (*as4_smp_dns_fn)(void *ctx, const struct as4_smp_dns_request *req, uint8_t *answer,
                                  size_t cap, size_t *len, enum as4_smp_dns_status *status,
                                  struct as4_diag *d);

/* One HTTP GET as the client asks it. */
struct as4_smp_http_request {
	const char *url;             /* absolute http(s) URL, already percent-encoded */
	const char *ca_file;         /* PEM CA bundle for https; NULL = the system bundle */
	const char *resolve;         /* "host:port:address" pin (curl --resolve) or NULL */
	uint32_t connect_timeout_ms; /* TCP + TLS connect */
	uint32_t timeout_ms;         /* whole request */
	size_t max_body;             /* body cap */
};

/* What came back from one HTTP GET. */
struct as4_smp_http_response {
	long status;            /* HTTP status */
	char content_type[128]; /* Content-Type, "" when none (truncated if longer) */
	char location[512];     /* Location of a 3xx, "" when none (truncated if longer) */
	struct as4_buf body;    /* body, at most max_body bytes (caller initialises, owns) */
};

/*
 * An HTTP back end: GET req->url without following redirects and fill resp. Any HTTP status is
 * a success (the client judges it). Errors, with a diagnostic naming the URL:
 *   AS4_E_SMP_UNAVAILABLE   connection refused or reset, host not found, timeout
 *   AS4_E_SMP_TRUST         the TLS server certificate did not verify
 *   AS4_E_SMP_BAD_RESPONSE  body longer than max_body, not HTTP
 * Called from several threads at once with the same ctx.
 */
typedef as4_err (*as4_smp_http_fn)(void *ctx, const struct as4_smp_http_request *req,
                                   struct as4_smp_http_response *resp, struct as4_diag *d);

/* ---- Network settings ---------------------------------------------------------------------- */

/*
 * Everything the client needs to know about one discovery network. Strings are borrowed by
 * as4_smp_client_new(), which copies what it keeps. Zero values mean the documented default.
 */
struct as4_smp_network {
	const char *name;                /* for diagnostics ("peppol-test"); NULL = "smp" */
	enum as4_smp_dns_mode dns_mode;  /* how the SMP is found */
	const char *zone;                /* SML/BDXL zone (trailing dot allowed); not for NONE */
	bool dns_lowercase;              /* BDXL: lower-case the hashed id (Peppol always does) */
	const char *naptr_service;       /* U-NAPTR service; NULL = "Meta:SMP" (any case) */
	const char *smp_url;             /* AS4_SMP_DNS_NONE: the SMP base URL */
	const char *dns_server;          /* "127.0.0.1:5353" (IPv4 + port); NULL = system */
	uint32_t dns_timeout_ms;         /* per DNS try; 0 = 3000 */
	uint32_t dns_tries;              /* DNS tries; 0 = 2 */
	enum as4_smp_proto dialect;      /* SMP protocol */
	bool allow_http;                 /* accept http SMP URLs (default: https required) */
	const char *https_ca_file;       /* CA bundle for TLS to SMPs; NULL = system bundle */
	const char *const *smp_ca_files; /* PEM/DER files: the CA(s) that issue SMP signers */
	size_t n_smp_ca_files;           /* at least one */
	const char *const *ap_ca_files;  /* PEM/DER files: the CA(s) that issue AP certificates */
	size_t n_ap_ca_files;            /* at least one */
	const char *transport_profile;   /* NULL = peppol-transport-as4-v2_0 (Peppol) or
	                                    bdxr-transport-ebms3-as4-v1p0 (OASIS) */
	bool allow_sha1;                 /* legacy: accept rsa-sha1 / sha1 signatures */
	bool allow_unsigned;             /* SMP 2.0 only: accept unsigned ServiceMetadata */
	uint32_t connect_timeout_ms;     /* HTTP connect; 0 = 5000 */
	uint32_t timeout_ms;             /* whole HTTP request; 0 = 20000 */
	uint64_t cache_max_ms;           /* cache cap per entry; 0 = 15 min */
	size_t cache_max_entries;        /* 0 = 1000 */
	bool cache_disabled;             /* never cache (as4ctl) */
	int64_t at_ms;                   /* verification time for tests and offline checks;
	                                    0 = the current time (production) */
	as4_smp_dns_fn dns;              /* NULL = libresolv (res_nquery) */
	void *dns_ctx;                   /* passed to dns */
	as4_smp_http_fn http;            /* NULL = libcurl */
	void *http_ctx;                  /* passed to http */
};

/* The U-NAPTR service of SMP 1.x locators (compared case-insensitively). */
#define AS4_SMP_NAPTR_SERVICE "Meta:SMP"

/* Longest DNS name built or followed, in characters (RFC 1035 §2.3.4 without the root dot). */
#define AS4_SMP_DNS_NAME_MAX 253

/*
 * The DNS name of participant under net's dns_mode and zone (see enum as4_smp_dns_mode) into
 * out (capacity cap, AS4_SMP_DNS_NAME_MAX + 1 suffices). AS4_E_INVAL for AS4_SMP_DNS_NONE,
 * a zone or scheme that is not a DNS name, or a name too long; AS4_E_LIMIT when cap is too
 * small. Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_smp_dns_name(const struct as4_smp_network *net,
                                        const struct as4_smp_id *participant, char *out, size_t cap,
                                        struct as4_diag *d);

/*
 * The URL of a participant's ServiceMetadata for a document type (document non-NULL) or of
 * its ServiceGroup (document NULL) on the SMP at base: base, exactly one "/", then
 * "{participant}[/services/{document}]" for SMP 1.x or "bdxr-smp-2/{participant}[/services/
 * {document}]" for SMP 2.0, each identifier "scheme::value" percent-encoded once per RFC 3986
 * (everything but ALPHA DIGIT "-" "." "_" "~"). base must be an absolute http(s) URL without
 * query or fragment (a path is kept). On success *out is a heap string (free()).
 * AS4_E_INVAL for a bad base, AS4_E_NOMEM. Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_smp_url(enum as4_smp_proto dialect, const char *base,
                                   const struct as4_smp_id *participant,
                                   const struct as4_smp_id *document, char **out,
                                   struct as4_diag *d);

/* ---- Step trace --------------------------------------------------------------------------- */

/* The steps of a lookup or inspection, in the order they happen. */
enum as4_smp_step {
	AS4_SMP_STEP_INPUT = 0,     /* the identifiers as parsed */
	AS4_SMP_STEP_CACHE,         /* cache hit or miss */
	AS4_SMP_STEP_DNS_NAME,      /* the DNS name computed */
	AS4_SMP_STEP_DNS,           /* a DNS query and how it ended (chain, TTL) */
	AS4_SMP_STEP_NAPTR,         /* one NAPTR record and what was made of it */
	AS4_SMP_STEP_SMP_URL,       /* the SMP base URL chosen */
	AS4_SMP_STEP_HTTP,          /* one HTTP GET: URL, status, bytes */
	AS4_SMP_STEP_DOCUMENT,      /* the kind of SMP document and dialect */
	AS4_SMP_STEP_SIGNATURE,     /* the XML signature verdict and algorithms */
	AS4_SMP_STEP_CHAIN,         /* the signer certificate chain verdict */
	AS4_SMP_STEP_IDENTIFIERS,   /* returned identifiers against the requested ones */
	AS4_SMP_STEP_REDIRECT,      /* an SMP-level redirect */
	AS4_SMP_STEP_ENDPOINT,      /* one endpoint of the document and its verdict */
	AS4_SMP_STEP_ENDPOINT_CERT, /* the chosen endpoint's certificate against the AP CA */
	AS4_SMP_STEP_RESULT,        /* the outcome */
	AS4_SMP_STEP__COUNT
};

/* How a step went. */
enum as4_smp_verdict {
	AS4_SMP_INFO = 0, /* information only */
	AS4_SMP_PASS,     /* a check passed */
	AS4_SMP_FAIL,     /* a check failed (the lookup stops or the item is skipped) */
	AS4_SMP_SKIP,     /* an item that was not used (other process, expired endpoint) */
};

/* One line of the trace. */
struct as4_smp_trace_entry {
	enum as4_smp_step step;       /* what happened */
	enum as4_smp_verdict verdict; /* how it went */
	char *text;                   /* human text (heap, owned by the trace) */
};

/*
 * The steps of one lookup or inspection, for as4ctl. Recording is best effort: when memory
 * runs out, lines are dropped (and `truncated` is set), the lookup itself is unaffected.
 * Initialise with as4_smp_trace_init(); one owner at a time (not thread-safe).
 */
struct as4_smp_trace {
	struct as4_smp_trace_entry *entries; /* n entries (heap) */
	size_t n;                            /* entries used */
	size_t cap;                          /* entries allocated */
	bool truncated;                      /* some lines were dropped */
};

/* An empty trace. */
void as4_smp_trace_init(struct as4_smp_trace *t);

/* Free all lines; t is empty afterwards. NULL ok. */
void as4_smp_trace_cleanup(struct as4_smp_trace *t);

/* Short name of a step ("dns-name", "naptr", "signature", ...); static storage. */
const char *as4_smp_step_name(enum as4_smp_step step);

/* Short name of a verdict ("info", "pass", "fail", "skip"); static storage. */
const char *as4_smp_verdict_name(enum as4_smp_verdict v);

/* ---- Client and lookup -------------------------------------------------------------------- */

struct as4_smp_client;

/*
 * A client for one network. Validates net (zone, URLs, mode/dialect combinations), loads the
 * SMP CA and AP CA files (both required; each PEM with one or more certificates, or one DER
 * certificate; the SMP CA files must hold the CA that issues SMP signers, since no
 * intermediate is taken from responses) and copies every string. lim supplies max_smp_response and
 * the XML caps (NULL = as4_limits_default()). On success *out owns the client. Errors: AS4_E_CONFIG
 * (diagnostic names the setting or file), AS4_E_NOMEM. Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_smp_client_new(const struct as4_smp_network *net,
                                          const struct as4_limits *lim, struct as4_smp_client **out,
                                          struct as4_diag *d);

/* Free a client and its cache. No lookup may be running. NULL ok. */
void as4_smp_client_free(struct as4_smp_client *c);

/* What a successful lookup gives a send worker. Free with as4_smp_result_free(). */
struct as4_smp_result {
	struct as4_smp_id participant;   /* as requested (parsed) */
	struct as4_smp_id document;      /* as requested (parsed) */
	struct as4_smp_id process;       /* the process of the chosen endpoint ("" scheme and
	                                    value when the SMP 2.0 metadata names none) */
	char *endpoint_url;              /* the receiving AP's address (heap) */
	char *transport_profile;         /* the endpoint's transport profile (heap) */
	X509 *cert;                      /* the receiving AP's certificate (own reference),
	                                    chained to the AP CA at lookup time */
	char *cert_pem;                  /* the same certificate as PEM (heap) */
	char *cert_subject;              /* its subject, RFC 2253 (heap) */
	int64_t cert_not_after_ms;       /* its notAfter */
	int64_t service_activation_ms;   /* ServiceActivationDate, 0 when absent */
	int64_t service_expiration_ms;   /* ServiceExpirationDate, 0 when absent */
	int64_t valid_until_ms;          /* look up again after this: the earliest of the DNS TTL,
	                                    the cache cap, the SMP signer's and the endpoint
	                                    certificate's notAfter and ServiceExpirationDate */
	char *metadata_url;              /* the ServiceMetadata URL that gave the endpoint (heap) */
	char *technical_contact;         /* TechnicalContactUrl / Contact, or NULL (heap) */
	bool require_business_signature; /* RequireBusinessLevelSignature (SMP 1.x) */
	bool from_cache;                 /* served from the cache */
};

/* Free a result (drops the certificate reference). NULL ok. */
void as4_smp_result_free(struct as4_smp_result *r);

/*
 * Find the endpoint for sending a document of type `document` in process `process` (NULL or
 * "" = any process: the first endpoint with the transport profile) to `participant`; all three
 * in "scheme::value" form (as4_smp_id_parse()). Served from the cache while the entry is
 * valid; otherwise DNS, SMP fetch, at most one SMP redirect, signature and chain checks,
 * identifier checks, endpoint selection and the AP certificate check run in that order, and a
 * positive result is cached (failures never are; concurrent misses for the same request each
 * do the network work, and the last result stored wins). trace (may be NULL) receives the
 * steps.
 * On success *out owns a new result. Errors: see the top of this header; the diagnostic is
 * suitable for an administrator of either side. Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_smp_lookup(struct as4_smp_client *c, const char *participant,
                                      const char *document, const char *process,
                                      struct as4_smp_result **out, struct as4_smp_trace *trace,
                                      struct as4_diag *d);

/*
 * Forget the cached result for one participant / document / process (as given to
 * as4_smp_lookup(); process NULL or ""), e.g. after the receiver's AP refused our message.
 * Returns true when an entry was dropped. Unparseable identifiers drop nothing. Thread-safe.
 */
bool as4_smp_drop(struct as4_smp_client *c, const char *participant, const char *document,
                  const char *process);

/*
 * Forget every cached result whose endpoint URL is endpoint_url (exact match): what a send
 * worker calls when a send to that endpoint failed at TLS or certificate level. Returns the
 * number of entries dropped. Thread-safe.
 */
size_t as4_smp_drop_endpoint(struct as4_smp_client *c, const char *endpoint_url);

/* Number of entries currently cached (expired ones included until evicted). Thread-safe. */
size_t as4_smp_cache_size(struct as4_smp_client *c);

/* ---- Offline inspection ------------------------------------------------------------------- */

/* How as4_smp_inspect() judges a saved SMP response. */
struct as4_smp_inspect_params {
	const char *const *trust_files;  /* PEM/DER files: CAs the signer must be issued by */
	size_t n_trust_files;            /* may be 0 only with signature_only */
	int64_t at_ms;                   /* verification time; 0 = now */
	bool signature_only;             /* check the signature with the embedded certificate,
	                                    skip the chain */
	bool allow_sha1;                 /* accept rsa-sha1 / sha1 (legacy SMPs) */
	const char *const *ap_ca_files;  /* optional: also chain endpoint certificates to these */
	size_t n_ap_ca_files;            /* count (0 = endpoint certificates are only listed) */
	const struct as4_limits *limits; /* NULL = as4_limits_default() */
};

/*
 * Check a saved SMP response (buf, len): recognise the document (ServiceGroup or
 * SignedServiceMetadata of Peppol SMP 1.x / OASIS SMP 1.0, SMP 2.0 ServiceGroup or
 * ServiceMetadata), verify the signature that is a direct child of the root (exactly one
 * Reference URI="", allow-listed algorithms) with the embedded certificate, chain the signer
 * to the trust files at at_ms (unless signature_only), then list identifiers, redirect and
 * endpoints (with their validity at at_ms) in the trace. A Peppol ServiceGroup is unsigned by
 * definition and passes when well-formed. Errors: AS4_E_SMP_TRUST (signature, chain),
 * AS4_E_SMP_BAD_RESPONSE (not an SMP document, malformed content), AS4_E_CONFIG (trust file
 * unreadable), AS4_E_INVAL (no trust files without signature_only). Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_smp_inspect(const uint8_t *buf, size_t len,
                                       const struct as4_smp_inspect_params *p,
                                       struct as4_smp_trace *trace, struct as4_diag *d);
