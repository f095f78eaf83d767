/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal contracts between the files of smp-client/ (and its unit tests and fuzz targets).
 * Not installed, not part of the public API (include/as4/smp.h).
 *
 *   smp_id.c       identifiers, case rules, GLN, DNS names, URL encoding and joining
 *   sml_dns.c      the ONLY parser of DNS answers (NAPTR, CNAME, DNAME, A) and NAPTR regexps
 *   sml_resolv.c   the libresolv back end (res_nquery with a per-call res_state)
 *   smp_http.c     the libcurl back end (no redirects, bounded body, timeouts)
 *   smp_parse.c    the ONLY parser of SMP documents and of CertificateUID distinguished names
 *   smp_sig.c      XML signature verification (xmlsec), trust stores, chain and DN checks
 *   smp_cache.c    the positive-result cache (one mutex)
 *   smp_client.c   client, lookup orchestration, inspection, trace
 *
 * Threading: everything here is thread-safe unless a comment says otherwise (no globals).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>
#include <openssl/x509.h>

#include "as4/arena.h"
#include "as4/compiler.h"
#include "as4/diag.h"
#include "as4/err.h"
#include "as4/limits.h"
#include "as4/smp.h"

/* ---- Trace (smp_client.c) ------------------------------------------------------------------ */

/* Append a formatted line to t (NULL = no-op). Best effort: on OOM the line is dropped. */
AS4_PRINTF(4, 5)
void as4_smp_trace_add(struct as4_smp_trace *t, enum as4_smp_step step, enum as4_smp_verdict v,
                       const char *fmt, ...);

/* ---- Identifiers (smp_id.c) ----------------------------------------------------------------- */

/*
 * Equality of a returned identifier with a requested one under the dialect's case rules
 * (SMP-NOTES §1.1): Peppol participant values of iso6523-actorid-upis and all OASIS SMP 1.0/2.0
 * participant identifiers and OASIS 1.0 document identifiers compare ASCII case-insensitively;
 * everything else (Peppol schemes, document types, processes) compares exactly.
 */
bool as4_smp_id_equal(enum as4_smp_proto dialect, enum as4_smp_id_kind kind,
                      const struct as4_smp_id *a, const struct as4_smp_id *b);

/*
 * Canonical "scheme::value" for use as a cache key: lower-cased where as4_smp_id_equal() is
 * case-insensitive. AS4_E_LIMIT when cap is too small.
 */
AS4_MUST_CHECK as4_err as4_smp_id_key(enum as4_smp_proto dialect, enum as4_smp_id_kind kind,
                                      const struct as4_smp_id *id, char *out, size_t cap);

/*
 * Check that url is an absolute URL usable as an SMP base or endpoint: scheme https (or http
 * when allow_http), a non-empty host (name, IPv4 or [IPv6]) with an optional port, no
 * userinfo, no fragment, a query only when allow_query, no whitespace, control or non-ASCII
 * characters, "%" only before two hex digits, at most 2048 bytes. what names it in the
 * diagnostic ("SMP URL"). AS4_E_SMP_BAD_RESPONSE with a diagnostic otherwise.
 */
AS4_MUST_CHECK as4_err as4_smp_url_check(const char *url, bool allow_http, bool allow_query,
                                         const char *what, struct as4_diag *d);

/* RFC 3986 percent-encoding of s (all but unreserved characters) appended to b. */
AS4_MUST_CHECK as4_err as4_smp_pct_encode(struct as4_buf *b, const char *s);

/* ---- DNS answers (sml_dns.c) ---------------------------------------------------------------- */

/* Caps on what one DNS answer may hold for us. */
#define AS4_SMP_NAPTR_MAX 32 /* NAPTR records kept for the final owner */
#define AS4_SMP_A_MAX     16 /* A records kept for the final owner */
#define AS4_SMP_CHAIN_MAX 8  /* CNAME/DNAME hops followed */

/* One NAPTR record (RFC 3403 §4.1); character-strings are NUL-terminated copies. */
struct as4_smp_naptr {
	uint16_t order;                                 /* lower first */
	uint16_t preference;                            /* lower first within an order */
	char flags[256];                                /* "U", "" (non-terminal), ... */
	char service[256];                              /* "Meta:SMP" */
	char regexp[256];                               /* "!.*!https://smp.example/!" */
	char replacement[4 * AS4_SMP_DNS_NAME_MAX + 8]; /* presentation form, "." for root */
	uint32_t ttl;                                   /* seconds */
};

/* What an answer says about one query name. */
struct as4_smp_dns_answer {
	char owner[4 * AS4_SMP_DNS_NAME_MAX + 8]; /* final owner after the CNAME/DNAME chain */
	char chain[1024];   /* "a CNAME b, b DNAME c" for the trace ("" = none) */
	size_t n_chain;     /* hops followed */
	uint32_t chain_ttl; /* minimum TTL of the hops (UINT32_MAX = no hop) */
	struct as4_smp_naptr naptr[AS4_SMP_NAPTR_MAX]; /* IN NAPTR records of owner */
	size_t n_naptr;                                /* records kept */
	bool naptr_dropped;                            /* more NAPTRs than AS4_SMP_NAPTR_MAX */
	uint8_t a[AS4_SMP_A_MAX][4];                   /* IN A records of owner */
	size_t n_a;                                    /* records kept */
	uint32_t a_ttl;                                /* minimum TTL of the A records */
};

/*
 * Parse a DNS response message (RFC 1035 §4.1) answering qtype for qname: header checks (a
 * response, standard query, RCODE, not truncated), the question must be qname, then the
 * answer section: CNAME/DNAME chain from qname (at most AS4_SMP_CHAIN_MAX hops, no loops),
 * and the NAPTR (qtype 35) or A (qtype 1) records owned by the chain's last name. Compression
 * pointers must point backwards; every length is checked against the message.
 * Errors: AS4_E_SMP_BAD_RESPONSE (malformed, wrong question), AS4_E_SMP_NOT_REGISTERED (RCODE
 * NXDOMAIN), AS4_E_SMP_UNAVAILABLE (other RCODEs, truncated), AS4_E_INVAL (qname not a DNS
 * name). The result may hold no records (NODATA behind a CNAME): the caller decides.
 */
AS4_MUST_CHECK as4_err as4_smp_dns_parse(const uint8_t *msg, size_t len, const char *qname,
                                         uint16_t qtype, struct as4_smp_dns_answer *out,
                                         struct as4_diag *d);

/*
 * Indices of a's NAPTR records sorted by order then preference (stable), into idx (capacity
 * AS4_SMP_NAPTR_MAX). Returns the count (a->n_naptr).
 */
size_t as4_smp_naptr_sorted(const struct as4_smp_dns_answer *a, size_t idx[AS4_SMP_NAPTR_MAX]);

/*
 * Apply a NAPTR regexp field (RFC 3402 §3.2: delimiter = first character, ERE, replacement
 * with \1..\9, flags "" or "i") once to aus (the Application Unique String: the queried name)
 * and write the result to out (capacity cap). Back-references and interval expressions
 * inside the ERE are refused (they make POSIX matching exponential or its automaton huge).
 * Errors: AS4_E_SMP_BAD_RESPONSE (syntax, bad group, result too long), AS4_E_NOTFOUND (the
 * ERE does not match aus: the record does not apply).
 */
AS4_MUST_CHECK as4_err as4_smp_naptr_apply(const char *regexp, const char *aus, char *out,
                                           size_t cap, struct as4_diag *d);

/* Convert a dotted name to wire form (RFC 1035 §3.1). AS4_E_INVAL if it is not a DNS name. */
AS4_MUST_CHECK as4_err as4_smp_dns_wire(const char *name, uint8_t wire[256], size_t *len);

/* ---- Back ends (sml_resolv.c, smp_http.c) ------------------------------------------------- */

/* The libresolv back end (as4_smp_dns_fn); ctx unused. */
AS4_MUST_CHECK as4_err as4_smp_dns_resolv(void *ctx, const struct as4_smp_dns_request *req,
                                          uint8_t *answer, size_t cap, size_t *len,
                                          enum as4_smp_dns_status *status, struct as4_diag *d);

/* True when server is "a.b.c.d" or "a.b.c.d:port" (what the libresolv back end accepts). */
bool as4_smp_dns_server_ok(const char *server);

/* The libcurl back end (as4_smp_http_fn); ctx unused. */
AS4_MUST_CHECK as4_err as4_smp_http_curl(void *ctx, const struct as4_smp_http_request *req,
                                         struct as4_smp_http_response *resp, struct as4_diag *d);

/* ---- SMP documents (smp_parse.c) ---------------------------------------------------------- */

/* Which SMP document a response is. */
enum as4_smp_doc_kind {
	AS4_SMP_DOC_GROUP = 0, /* ServiceGroup */
	AS4_SMP_DOC_METADATA,  /* SignedServiceMetadata (1.x) / ServiceMetadata (2.0) */
};

/* One certificate of an endpoint or an SMP 2.0 redirect (DER bytes in the document's arena). */
struct as4_smp_der {
	const uint8_t *der;    /* decoded base64 */
	size_t len;            /* bytes */
	int64_t activation_ms; /* SMP 2.0 Certificate/ActivationDate, INT64_MIN when absent */
	int64_t expiration_ms; /* SMP 2.0 Certificate/ExpirationDate, INT64_MAX when absent */
};

/* One endpoint. Strings live in the document's arena. */
struct as4_smp_ep {
	const char *transport_profile;   /* transportProfile / TransportProfileID */
	const char *address;             /* wsa:Address / EndpointURI / AddressURI */
	struct as4_smp_der *certs;       /* 1 (SMP 1.x) or 0..n (SMP 2.0) */
	size_t n_certs;                  /* count */
	int64_t activation_ms;           /* INT64_MIN when absent */
	int64_t expiration_ms;           /* INT64_MAX when absent */
	bool require_business_signature; /* SMP 1.x RequireBusinessLevelSignature */
	const char *description;         /* ServiceDescription / Description, or NULL */
	const char *contact;             /* TechnicalContactUrl / Contact, or NULL */
};

/* A process identifier as found in a document (arena strings). */
struct as4_smp_proc {
	const char *scheme; /* "" when the attribute is absent */
	const char *value;  /* trimmed */
};

/*
 * A group of processes sharing endpoints: one Process (SMP 1.x) or one ProcessMetadata (SMP
 * 2.0, which may name no process: it then applies to every process, or redirect instead).
 */
struct as4_smp_procmeta {
	struct as4_smp_proc *procs;         /* n_procs processes */
	size_t n_procs;                     /* 0 only in SMP 2.0 */
	struct as4_smp_ep *eps;             /* endpoints (none when redirect_url is set) */
	size_t n_eps;                       /* count */
	const char *redirect_url;           /* SMP 2.0 Redirect/PublisherURI, or NULL */
	struct as4_smp_der *redirect_certs; /* SMP 2.0 Redirect/Certificate (1..n) */
	size_t n_redirect_certs;            /* count */
};

/* One attribute type and value of a distinguished name. */
struct as4_smp_ava {
	const char *type;  /* as written: "CN", "2.5.4.3" */
	const char *value; /* unescaped UTF-8 */
};

/* A typed SMP document. Everything lives in `arena`; free with as4_smp_doc_free(). */
struct as4_smp_doc {
	struct as4_arena *arena;         /* owns every string and array below */
	enum as4_smp_doc_kind kind;      /* group or metadata */
	enum as4_smp_proto dialect;      /* from the root namespace */
	struct as4_smp_proc participant; /* ParticipantIdentifier / ParticipantID */
	struct as4_smp_proc document;    /* DocumentIdentifier / ID (metadata only) */
	struct as4_smp_procmeta *pms;    /* metadata: processes with endpoints */
	size_t n_pms;                    /* count */
	const char *redirect_href;       /* SMP 1.x Redirect@href, or NULL */
	const char *redirect_uid;        /* SMP 1.x Redirect/CertificateUID text, or NULL */
	struct as4_smp_ava *uid_avas;    /* redirect_uid parsed (RFC 4514) */
	size_t n_uid_avas;               /* count */
	const char **refs; /* group: ServiceMetadataReference@href / ServiceReference/ID */
	size_t n_refs;     /* count */
};

/*
 * Parse len bytes with as4_xml_parse() (lim: XML caps; NULL = defaults) and recognise the root:
 * Peppol SMP 1.x or OASIS SMP 1.0 ServiceGroup / SignedServiceMetadata, SMP 2.0 ServiceGroup /
 * ServiceMetadata. On success *dom owns the document; *dialect and *kind say what it is.
 * Errors: AS4_E_SMP_BAD_RESPONSE (not XML, DOCTYPE, over the caps, unknown root; the
 * diagnostic carries the parser's reason).
 */
AS4_MUST_CHECK as4_err as4_smp_parse(const uint8_t *buf, size_t len, const struct as4_limits *lim,
                                     xmlDoc **dom, enum as4_smp_proto *dialect,
                                     enum as4_smp_doc_kind *kind, struct as4_diag *d);

/*
 * Read the typed content of a recognised document (after its signature was checked: the
 * caller verifies the same DOM first). Checks cardinalities (one participant, one document
 * type, ServiceInformation xor Redirect, SMPVersionID 2.0, at least one process/endpoint),
 * decodes certificates and dates, parses CertificateUID. *out owns a new document.
 * Errors: AS4_E_SMP_BAD_RESPONSE with the element at fault, AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err as4_smp_extract(const xmlDoc *dom, enum as4_smp_proto dialect,
                                       enum as4_smp_doc_kind kind, struct as4_smp_doc **out,
                                       struct as4_diag *d);

/* Free a typed document. NULL ok. */
void as4_smp_doc_free(struct as4_smp_doc *doc);

/*
 * Parse a distinguished name string (RFC 4514 / RFC 2253: "," or ";" between RDNs, "+" inside
 * one, escapes "\," and "\XX", quoted values) into AVAs in arena a. At most 64 AVAs, 1024
 * bytes. Values in "#hex" (BER) form are refused. AS4_E_SMP_BAD_RESPONSE on syntax errors.
 */
AS4_MUST_CHECK as4_err as4_smp_dn_parse(const char *s, struct as4_arena *a,
                                        struct as4_smp_ava **out, size_t *n, struct as4_diag *d);

/* Name of a dialect ("Peppol SMP 1.x", "OASIS SMP 1.0", "OASIS SMP 2.0"). */
const char *as4_smp_dialect_name(enum as4_smp_proto dialect);

/* ---- Signatures and certificates (smp_sig.c) --------------------------------------------- */

/* A set of trusted CA certificates (immutable after loading; shareable between threads). */
struct as4_smp_trust;

/*
 * Load CA certificates from files (PEM with one or more certificates, or one DER
 * certificate). AS4_E_CONFIG naming the file when one is unreadable or holds no certificate.
 */
AS4_MUST_CHECK as4_err as4_smp_trust_load(const char *const *paths, size_t n,
                                          struct as4_smp_trust **out, struct as4_diag *d);

/* Free a trust set. NULL ok. */
void as4_smp_trust_free(struct as4_smp_trust *t);

/*
 * Check that cert was issued by a certificate of t (directly, or through further certificates
 * of t up to a root; no intermediate is taken from anywhere else) and that every certificate
 * of that path is valid at at_ms. what names the certificate in the diagnostic ("SMP signer").
 * AS4_E_SMP_TRUST with the OpenSSL reason and the subject otherwise.
 */
AS4_MUST_CHECK as4_err as4_smp_chain_check(const struct as4_smp_trust *t, X509 *cert, int64_t at_ms,
                                           const char *what, struct as4_diag *d);

/* How as4_smp_verify() checks a document. */
struct as4_smp_verify_opts {
	const struct as4_smp_trust *trust; /* signer CAs; NULL = signature only, no chain */
	int64_t at_ms;                     /* chain validity time */
	bool allow_sha1;                   /* legacy algorithms */
	bool required;                     /* false: an unsigned document passes (SMP 2.0) */
};

/*
 * Verify the ds:Signature that is a direct child of dom's root (Peppol/OASIS 1.0: exactly one;
 * SMP 2.0: the first one that verifies and chains wins): exactly one Reference with URI="",
 * enveloped transform plus at most a C14N, allow-listed C14N (1.0, exclusive, 1.1), signature
 * (rsa-sha256/384/512, rsa-sha1 with allow_sha1) and digest algorithms, key from the
 * X509Certificate in KeyInfo (the only key used: KeyInfo is not otherwise trusted); then the
 * signer chain against o->trust at o->at_ms. Steps go to trace. On success *signer (may be
 * NULL) receives a new reference to the certificate that verified (NULL when unsigned and not
 * required). Errors: AS4_E_SMP_TRUST (no/invalid signature, algorithm, chain),
 * AS4_E_SMP_BAD_RESPONSE (malformed signature element), AS4_E_CRYPTO (xmlsec set-up).
 */
AS4_MUST_CHECK as4_err as4_smp_verify(xmlDoc *dom, enum as4_smp_proto dialect,
                                      const struct as4_smp_verify_opts *o, X509 **signer,
                                      struct as4_smp_trace *trace, struct as4_diag *d);

/*
 * True when the subject of cert holds exactly the AVAs given (as a set: order of RDNs and of
 * AVAs ignored; types by OID, values trimmed and compared ASCII case-insensitively).
 */
bool as4_smp_dn_matches(X509 *cert, const struct as4_smp_ava *avas, size_t n);

/* Decode one DER certificate; NULL when it is not one. */
X509 *as4_smp_cert_decode(const uint8_t *der, size_t len);

/* RFC 2253 subject of cert into out (capacity cap); "?" when it cannot be printed. */
void as4_smp_cert_subject(X509 *cert, char *out, size_t cap);

/* notAfter of cert in ms since the epoch (INT64_MAX when unreadable). */
int64_t as4_smp_cert_not_after(X509 *cert);

/* ---- Cache (smp_cache.c) ---------------------------------------------------------------- */

/* The positive-result cache of one client (one mutex inside). */
struct as4_smp_cache;

/* New cache of at most max_entries. NULL = out of memory. */
struct as4_smp_cache *as4_smp_cache_new(size_t max_entries);

/* Free a cache and its entries. NULL ok. */
void as4_smp_cache_free(struct as4_smp_cache *c);

/*
 * A copy of the entry for key valid at now_ms into *out (a new result with from_cache set).
 * AS4_E_NOTFOUND when absent or expired (an expired entry is removed), AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err as4_smp_cache_get(struct as4_smp_cache *c, const char *key, int64_t now_ms,
                                         struct as4_smp_result **out);

/*
 * Store a copy of r under key until r->valid_until_ms (replacing an older entry). When full,
 * expired entries go first, then the one expiring soonest. AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err as4_smp_cache_put(struct as4_smp_cache *c, const char *key,
                                         const struct as4_smp_result *r, int64_t now_ms);

/* Remove the entry for key; true when there was one. */
bool as4_smp_cache_drop(struct as4_smp_cache *c, const char *key);

/* Remove every entry whose endpoint_url equals url; returns how many. */
size_t as4_smp_cache_drop_url(struct as4_smp_cache *c, const char *url);

/* Number of entries. */
size_t as4_smp_cache_count(struct as4_smp_cache *c);

/* A deep copy of r (new certificate reference); NULL = out of memory. */
struct as4_smp_result *as4_smp_result_dup(const struct as4_smp_result *r);
