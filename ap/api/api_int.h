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

/* True when the token may see/act on rec (PMode and party restrictions); answers 403 if not. */
bool api_token_allows(struct api_req *r, const struct as4_msgrec *rec, struct as4_http_resp *resp);

/* JSON view of a record (payload list, properties, error) without events. */
json_t *api_render_record(const struct as4_msgrec *rec);
