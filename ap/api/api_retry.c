/* SPDX-License-Identifier: Apache-2.0 */
/*
 * POST /api/v1/messages/{id}/retry (admin): put a failed outbound message back in the queue.
 * Its attempts and deadline start afresh (the PMode's reliability settings apply again), the
 * peer's backoff is cleared so the next attempt happens now, the change is an event in the
 * message's history and an entry in the audit log.
 *
 * Body: none, or a JSON object {"reason": "<text>"} (at most 200 characters) recorded with
 * the event and the audit entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "as4/admin_json.h"
#include "as4/log.h"
#include "as4/str.h"

#define REASON_MAX 200

void api_message_retry(struct api_req *r, struct as4_http_req *req, const struct as4_blob *body,
                       const char *msgid, struct as4_http_resp *resp)
{
	struct as4_msgrec rec;
	as4_msgrec_init(&rec);
	json_t *j = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	const char *why = NULL;
	if (body != NULL && body->len > 0) {
		static const char *const allowed[] = {"reason", NULL};
		const struct as4_config *cfg = r->rt->cfg;
		as4_err err = as4_json_parse(body->data, body->len, 64 * 1024,
		                             cfg->limits.max_json_depth, &j, &d);
		if (err == AS4_OK && !json_is_object(j)) {
			err = as4_diag_set(&d, AS4_E_INVAL, "the body must be a JSON object");
		}
		if (err == AS4_OK) {
			err = as4_json_only(j, "", allowed, &d);
		}
		if (err == AS4_OK) {
			err = as4_json_str(j, "", "reason", false, REASON_MAX, &why, &d);
		}
		if (err != AS4_OK) {
			api_error_from(resp, err, &d);
			goto out;
		}
	}
	if (!api_find_message(r, req, msgid, &rec, resp)) {
		goto out;
	}
	if (rec.dir != AS4_DIR_OUT) {
		as4_http_resp_json_error(resp, 409, "invalid_state",
		                         "only sent messages are retried (received messages are "
		                         "pushed to their webhook again by themselves)",
		                         NULL);
		goto out;
	}
	if (rec.state != AS4_ST_FAILED) {
		char msg[160];
		snprintf(msg, sizeof(msg), "the message is %s; only failed messages are retried",
		         as4_msg_state_text(rec.state));
		as4_http_resp_json_error(resp, 409, "invalid_state", msg, NULL);
		goto out;
	}
	char reason[REASON_MAX + 200];
	snprintf(reason, sizeof(reason), "re-queued by %s%s%s", r->token->name,
	         why != NULL ? ": " : "", why != NULL ? why : "");
	struct as4_store_update u = {0};
	u.to = AS4_ST_QUEUED;
	u.reason = reason;
	u.expect = 1u << AS4_ST_FAILED; /* a concurrent retry loses with 409 */
	as4_diag_init(&d);
	as4_err err = as4_store_transition(r->ap->store, rec.id, &u, &d);
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		goto out;
	}
	char detail[REASON_MAX + 400];
	snprintf(detail, sizeof(detail), "failed -> queued (last error %s)%s%s",
	         rec.last_error_code != NULL ? rec.last_error_code : "none",
	         why != NULL ? "; reason: " : "", why != NULL ? why : "");
	if (!api_audit(r, req, "message.retry", rec.message_id, detail)) {
		/* logged by api_audit; the re-queueing is durable and in the message's history */
	}
	/* the admin asks for an attempt now, also when the peer was backing off */
	as4_diag_init(&d);
	const char *peer = as4_msgrec_peer_key(&rec);
	if (peer[0] != '\0' && as4_store_peer_backoff(r->ap->store, peer, 0, &d) != AS4_OK) {
		struct as4_log_ctx lc = {rec.message_id, rec.pmode_id, NULL, NULL};
		as4_log_ctx(AS4_LOG_WARNING, &lc, "retry: cannot clear the peer backoff: %s",
		            as4_diag_text(&d));
	}
	struct as4_log_ctx lc = {rec.message_id, rec.pmode_id, NULL, NULL};
	as4_log_ctx(AS4_LOG_NOTICE, &lc, "%s", reason);
	as4_sender_kick(r->ap->sender);
	api_json(resp, 202,
	         json_pack("{s:s, s:I, s:s, s:s}", "message_id", rec.message_id, "id",
	                   (json_int_t)rec.id, "state", as4_msg_state_text(AS4_ST_QUEUED),
	                   "previous_state", as4_msg_state_text(AS4_ST_FAILED)));
out:
	json_decref(j);
	as4_msgrec_cleanup(&rec);
}
