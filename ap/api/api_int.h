/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to ap/api: the per-request context and the handlers behind the routes. */
#pragma once

#include <jansson.h>

#include "as4/ap.h"
#include "as4/http.h"
#include "as4/store.h"

/* What the API knows about a request once it is authenticated. */
struct api_req {
	struct as4_ap *ap;
	struct as4_runtime *rt;            /* reference held for the whole request */
	const struct as4_api_token *token; /* borrowed from rt->cfg */
	int64_t started_ns;
};

/* Route handlers: each fills resp. rest is the path below /api/v1 ("/messages/x/ack"). */
void api_submit(struct api_req *r, struct as4_http_req *req, const struct as4_blob *body,
                struct as4_http_resp *resp);
void api_message_get(struct api_req *r, struct as4_http_req *req, const char *msgid,
                     struct as4_http_resp *resp);
void api_message_payload(struct api_req *r, struct as4_http_req *req, const char *msgid,
                         unsigned long index, struct as4_http_resp *resp);
void api_message_ack(struct api_req *r, struct as4_http_req *req, const char *msgid,
                     struct as4_http_resp *resp);
void api_inbox(struct api_req *r, struct as4_http_req *req, struct as4_http_resp *resp);

/*
 * /participants and /participants/{gln}: list and read (any role), PUT and DELETE (admin);
 * methods and roles are checked inside (api_participants.c). rest is the path below /api/v1.
 */
void api_participants(struct api_req *r, struct as4_http_req *req, const char *rest,
                      const struct as4_blob *body, struct as4_http_resp *resp);

/*
 * The target of a test (ping) named by a participant rather than a party: when *party is a
 * participant identifier ("0088:<GLN>", a bare GLN, "<ICD>:<id>" of medcom.schemes, with or
 * without "iso6523-actorid-upis::") and no party has that name, the access point serving it
 * comes from medcom.routes (*party = the route's party), else from discovery (*party = NULL,
 * *pmode = this access point's first discovery PMode unless set); *final_recipient (unless set)
 * points to the identifier, written into buf[cap]. Returns 0 when *party is not a participant
 * identifier (nothing changed), 1 when resolved, -1 after answering 422 (bad GLN or scheme, or
 * no route and no discovery PMode).
 */
int api_participant_target(struct api_req *r, const char **party, const char **pmode,
                           const char **final_recipient, char *buf, size_t cap,
                           struct as4_http_resp *resp);
/* POST /messages/{id}/retry (api_retry.c): a failed outbound message back to queued. */
void api_message_retry(struct api_req *r, struct as4_http_req *req, const struct as4_blob *body,
                       const char *msgid, struct as4_http_resp *resp);

/*
 * Submission of an ehmiSBDH envelope (Content-Type application/xml or text/xml): routing,
 * PMode and four-corner properties come from the envelope (api_sbdh.c). ?pmode=ID names the
 * PMode instead.
 */
void api_submit_sbdh(struct api_req *r, struct as4_http_req *req, const struct as4_blob *body,
                     struct as4_http_resp *resp);

/* Answer with a JSON document (takes over v). */
void api_json(struct as4_http_resp *resp, unsigned status, json_t *v);

/* Answer with an error derived from an as4_err and its diagnostic. */
void api_error_from(struct as4_http_resp *resp, as4_err err, const struct as4_diag *d);

/*
 * Find a message by eb:MessageId for the request: ?direction=in|out picks the direction,
 * otherwise outbound is tried first, then inbound. Answers 404/400 itself and returns false
 * when there is nothing to work on.
 */
bool api_find_message(struct api_req *r, struct as4_http_req *req, const char *msgid,
                      struct as4_msgrec *rec, struct as4_http_resp *resp);

/*
 * True when the token may see rec: its PMode and party restrictions let it, and for a
 * submitter token an outbound rec is one it submitted (rec->submitted_by; inbound ones are
 * its own through the restrictions). Answers nothing.
 */
bool api_token_sees(const struct api_req *r, const struct as4_msgrec *rec);

/*
 * True when the token may see/act on rec (api_token_sees); answers 404 if not, exactly as
 * for an unknown MessageId, so that a token cannot probe for other tokens' messages.
 */
bool api_token_allows(struct api_req *r, const struct as4_msgrec *rec, struct as4_http_resp *resp);

/* JSON view of a record (payload list, properties, error) without events. */
json_t *api_render_record(const struct as4_msgrec *rec);

/* ---- Administration (ap/api/api_ops.c and the api_*.c files it routes to) ---------------- */

/*
 * The routes of the administration surface below /api/v1 (rest is the path after the
 * prefix): message search, evidence downloads and payload deletion, PModes, certificates,
 * status, audit, log level, the ebMS test service. Returns true when rest is one of them
 * (resp is then filled, 405 for a wrong method included), false to let the caller go on.
 */
bool api_ops_route(struct api_req *r, struct as4_http_req *req, const char *rest,
                   const struct as4_blob *body, struct as4_http_resp *resp);

/*
 * True when the request's token has at least role min (reader < submitter < admin);
 * otherwise answers 403 naming the token's role and counts the refusal.
 */
bool api_require(struct api_req *r, enum as4_api_role min, struct as4_http_resp *resp);

/*
 * Who made the request, for audit entries and logs: the token name, followed by the TLS
 * client certificate's subject when the connection has one ("ops-admin (CN=alice)"). Written
 * into out (capacity cap, truncated when longer).
 */
void api_who(const struct api_req *r, struct as4_http_req *req, char *out, size_t cap);

/*
 * Append an audit entry (what, e.g. "pmode.replace"; target and detail may be NULL) for an
 * admin action that has been carried out. The action stands even when the audit log cannot
 * be written: the failure is logged at error level with the whole entry, and the function
 * returns false so the answer can say so ("audit": "failed"). Thread-safe.
 */
bool api_audit(struct api_req *r, struct as4_http_req *req, const char *what, const char *target,
               const char *detail);

/*
 * Parse a JSON request body (Content-Type application/json, at most limits.max_api_body
 * bytes, limits.max_json_depth levels). On failure answers 415/400/413 and returns NULL.
 */
json_t *api_body_json(struct api_req *r, struct as4_http_req *req, const struct as4_blob *body,
                      struct as4_http_resp *resp);

/*
 * Answer 422 with every problem of a configuration or PMode document: {"error": {"code":
 * "unprocessable", "message": <first problem>, "field": <its key path>, "details": [{"field",
 * "line", "message"}...]}}.
 */
void api_conf_errors(struct as4_http_resp *resp, const struct as4_conf_errors *errs,
                     const char *fallback);

/* Extra details of one message for GET /messages/{id}: receipt, raw message, ebMS errors. */
void api_message_details(struct api_req *r, const struct as4_msgrec *rec,
                         const struct as4_store_event *ev, size_t n_ev, json_t *out);

/* GET /metrics in the Prometheus text format (ap/api/metrics.c). */
void api_metrics(struct api_req *r, struct as4_http_resp *resp);

/* GET /api/v1/ready: no token needed (orchestrators probe it); ap/api/api_status.c. */
void api_ready(struct as4_ap *ap, struct as4_http_resp *resp);

/* One certificate this access point uses (ap/api/api_certs.c). */
struct api_cert {
	const char *group; /* "keystore", "truststore.as4|tls|smp", "tls.msh", "tls.api",
	                      "tls.msh.client_ca", "tls.api.client_ca", "tls.sender", "party" */
	char name[256];    /* "signing", "encryption", "old_decryption[0]", a file or party name */
	const char *path;  /* its file (borrowed from the runtime's configuration), or NULL */
	bool managed;      /* the file lives under node.managed_dir (changed through the API) */
	X509 *x;           /* own reference */
};

/*
 * Every certificate of rt: our key pairs (from the loaded keystores), the truststores, the
 * listeners' and the sender's TLS certificates and the parties' certificates (read from their
 * files now). *out: heap array of *n (api_certs_free()). AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err api_certs_collect(const struct as4_runtime *rt, struct api_cert **out,
                                         size_t *n);

/* Free an array from api_certs_collect(). NULL ok. */
void api_certs_free(struct api_cert *c, size_t n);

/*
 * JSON of a certificate: subject, issuer, serial (hex), sha256 (fingerprint, hex), not_before,
 * not_after, days_to_expiry (whole days from now_ms, negative once expired), expired, ca.
 */
json_t *api_cert_json(X509 *x, int64_t now_ms);

/* notAfter of x in ms since the epoch (0 when unreadable). */
int64_t api_cert_not_after_ms(X509 *x);

/* Lower-case hex SHA-256 of x's DER encoding ("" on failure). */
void api_cert_fingerprint(X509 *x, char out[65]);

/* Handlers behind api_ops_route (one file each). */
void api_search(struct api_req *r, struct as4_http_req *req, struct as4_http_resp *resp);
void api_message_raw(struct api_req *r, struct as4_http_req *req, const char *msgid, bool receipt,
                     struct as4_http_resp *resp);
void api_message_delete_payloads(struct api_req *r, struct as4_http_req *req, const char *msgid,
                                 struct as4_http_resp *resp);
void api_pmodes(struct api_req *r, struct as4_http_req *req, const char *method, const char *id,
                const struct as4_blob *body, struct as4_http_resp *resp);
void api_certs(struct api_req *r, struct as4_http_req *req, const char *method, const char *sub,
               const struct as4_blob *body, struct as4_http_resp *resp);
void api_status(struct api_req *r, struct as4_http_resp *resp);
void api_audit_list(struct api_req *r, struct as4_http_req *req, struct as4_http_resp *resp);
void api_log_level(struct api_req *r, struct as4_http_req *req, const char *method,
                   const struct as4_blob *body, struct as4_http_resp *resp);
void api_reload(struct api_req *r, struct as4_http_req *req, struct as4_http_resp *resp);
void api_test(struct api_req *r, struct as4_http_req *req, const struct as4_blob *body,
              struct as4_http_resp *resp);
