/* SPDX-License-Identifier: Apache-2.0 */
/*
 * POST /api/v1/test: send an ebMS test-service message ("ping", AS4-NOTES.md "Test service")
 * to a partner now and report what came back: the Receipt, the partner's ebMS Error, or why
 * nothing usable arrived.
 *
 * Which agreement: a PMode whose initiator is this access point, named in the request or
 * chosen by the receiving party (one for the test service itself first, else the first PMode
 * to that party). The message is that PMode synthesised for the test: its endpoint (static,
 * or found by SMP lookup for "final_recipient" when the PMode uses discovery), security,
 * compression and timeout, with Service and Action replaced by the ebMS test service. The
 * receiving MSH matches it by its test service rule (or its own test PMode), processes it
 * fully and never delivers it to a backend; this side does not store it either (no backend
 * owns it), so the answer is the whole report. The request waits for the answer, bounded by
 * the PMode's timeout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "api_int.h"
#include "as4/admin_json.h"
#include "as4/discovery.h"
#include "as4/http_client.h"
#include "as4/log.h"
#include "as4/msg.h"
#include "as4/smp.h"
#include "as4/str.h"
#include "as4/time.h"

/* The payload of a test message, when the PMode asks for payloads. */
static const char test_payload[] = "as4d connectivity test\n";

/* The PMode a test uses; answers 4xx and returns NULL when there is none. */
static const struct as4_pmode *choose(struct api_req *r, const char *pmode_id,
                                      const char *party_name, struct as4_http_resp *resp)
{
	const struct as4_config *cfg = r->rt->cfg;
	const struct as4_party *self = cfg->node.party;
	char msg[400];
	if (pmode_id != NULL) {
		const struct as4_pmode *pm = as4_pmode_find(cfg->pmodes, pmode_id);
		if (pm == NULL) {
			snprintf(msg, sizeof(msg), "no PMode with id '%.200s'", pmode_id);
			as4_http_resp_json_error(resp, 422, "unprocessable", msg, "pmode");
			return NULL;
		}
		if (pm->initiator != self) {
			snprintf(msg, sizeof(msg),
			         "PMode '%.200s' does not send from this access point (its "
			         "initiator "
			         "is '%s')",
			         pmode_id, pm->initiator ? pm->initiator->name : "?");
			as4_http_resp_json_error(resp, 422, "unprocessable", msg, "pmode");
			return NULL;
		}
		if (party_name != NULL &&
		    (pm->responder == NULL || strcmp(pm->responder->name, party_name) != 0)) {
			snprintf(msg, sizeof(msg), "PMode '%.200s' sends to '%s', not to '%.100s'",
			         pmode_id, pm->responder ? pm->responder->name : "?", party_name);
			as4_http_resp_json_error(resp, 422, "unprocessable", msg, "party");
			return NULL;
		}
		return pm;
	}
	const struct as4_party *party = as4_config_party(cfg, party_name);
	if (party == NULL) {
		snprintf(msg, sizeof(msg), "no party '%.200s' in the configuration", party_name);
		as4_http_resp_json_error(resp, 422, "unprocessable", msg, "party");
		return NULL;
	}
	const struct as4_pmode *first = NULL;
	for (size_t i = 0; i < as4_pmode_count(cfg->pmodes); i++) {
		const struct as4_pmode *pm = as4_pmode_at(cfg->pmodes, i);
		if (pm->initiator != self || pm->responder != party) {
			continue;
		}
		if (as4_pmode_is_test_service(pm->service, pm->action)) {
			return pm;
		}
		if (first == NULL) {
			first = pm;
		}
	}
	if (first == NULL) {
		snprintf(msg, sizeof(msg),
		         "no PMode sends from this access point to party '%.200s': add one (any "
		         "service will do; the test replaces Service and Action)",
		         party_name);
		as4_http_resp_json_error(resp, 422, "unprocessable", msg, "party");
	}
	return first;
}

static bool token_may(const struct api_req *r, const struct as4_pmode *pm)
{
	const struct as4_api_token *t = r->token;
	bool ok = t->n_pmodes == 0;
	for (size_t i = 0; i < t->n_pmodes; i++) {
		ok = ok || strcmp(t->pmodes[i], pm->id) == 0;
	}
	if (ok && t->n_parties > 0) {
		ok = false;
		for (size_t i = 0; i < t->n_parties; i++) {
			ok = ok || (pm->responder != NULL &&
			            strcmp(t->parties[i], pm->responder->name) == 0);
		}
	}
	return ok;
}

/* The CN of a certificate (a dynamic responder's PartyId value), "" when it has none. */
static void cert_cn(X509 *x, char *out, size_t cap)
{
	out[0] = '\0';
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)cap);
	if (n < 0) {
		out[0] = '\0';
	}
}

struct outcome {
	as4_err err;
	struct as4_diag diag;
	long http_status;
	int64_t elapsed_us;
	char receipt_id[AS4_MESSAGE_ID_MAX + 1];
	int64_t receipt_ms;
	bool receipt_signed;
};

/* Seal and POST the test message, judge the answer. */
static void ping(struct api_req *r, const struct as4_pmode *pm, const struct as4_submission *sub,
                 X509 *receiver, const char *endpoint, struct outcome *o)
{
	const struct as4_config *cfg = r->rt->cfg;
	struct as4_msg_out *sealed = NULL;
	struct as4_http_client *http = NULL;
	struct as4_msg *answer = NULL;
	struct as4_http_result res;
	as4_http_result_init(&res, cfg->limits.max_receipt);
	struct as4_msg_out_params op = {0};
	op.pmode = pm;
	op.signer = r->rt->sign;
	op.receiver_cert = receiver;
	op.id_domain = as4_ap_id_domain(cfg);
	op.limits = &cfg->limits;
	op.spool_dir = r->ap->tmp_dir;
	o->err = as4_msg_out_seal(&op, sub, &sealed, &o->diag);
	if (o->err != AS4_OK) {
		goto out;
	}
	struct as4_http_client_opts co = {0};
	/* every truststores.tls file, managed ones included, as the send workers trust them */
	co.ca_files = cfg->truststores.tls;
	co.n_ca_files = cfg->truststores.n_tls;
	co.client_cert = cfg->sender.client_cert_path;
	co.client_key = cfg->sender.client_key_path;
	co.insecure_skip_verify = !cfg->sender.tls_verify;
	co.connect_timeout_ms = cfg->sender.connect_timeout_ms;
	co.timeout_ms = pm->reliability.timeout_ms < cfg->sender.request_timeout_ms
	                        ? pm->reliability.timeout_ms
	                        : cfg->sender.request_timeout_ms;
	co.max_response = cfg->limits.max_receipt;
	o->err = as4_http_client_new(&co, &http, &o->diag);
	if (o->err != AS4_OK) {
		goto out;
	}
	int64_t t0 = as4_time_mono_ns();
	o->err = as4_http_post(http, endpoint, sealed->mime.content_type, sealed->mime.segs,
	                       sealed->mime.n_segs, NULL, 0, &res, &o->diag);
	o->elapsed_us = (as4_time_mono_ns() - t0) / 1000;
	o->http_status = res.status;
	if (o->err != AS4_OK) {
		goto out;
	}
	struct as4_response_params rp = {0};
	rp.pmode = pm;
	rp.partner_cert = receiver;
	rp.trust = r->rt->trust;
	rp.limits = &cfg->limits;
	struct as4_blob rb;
	as4_blob_borrow(&rb, res.body.data, res.body.len);
	o->err = as4_msg_out_check_response(sealed, &rp, (int)res.status, res.content_type, &rb,
	                                    &answer, &o->diag);
	o->elapsed_us = (as4_time_mono_ns() - t0) / 1000;
	if (o->err == AS4_OK && answer != NULL && answer->ebms.kind == AS4_UNIT_SIGNAL) {
		const char *id = answer->ebms.signal.message_id;
		snprintf(o->receipt_id, sizeof(o->receipt_id), "%s", id != NULL ? id : "");
		o->receipt_ms = answer->ebms.signal.timestamp_ms;
		o->receipt_signed = answer->ebms.has_security;
	}
out:
	as4_msg_free(answer);
	as4_http_result_cleanup(&res);
	as4_http_client_free(http);
	as4_msg_out_free(sealed);
}

/* The "EBMS:nnnn" at the start of a peer's error detail, else NULL. */
static const char *peer_code(const char *why, char out[10])
{
	if (!as4_str_starts(why, "EBMS:") || strlen(why) < 9) {
		return NULL;
	}
	for (int i = 5; i < 9; i++) {
		if (why[i] < '0' || why[i] > '9') {
			return NULL;
		}
	}
	memcpy(out, why, 9);
	out[9] = '\0';
	return out;
}

void api_test(struct api_req *r, struct as4_http_req *req, const struct as4_blob *body,
              struct as4_http_resp *resp)
{
	static const char *const allowed[] = {"party", "pmode", "final_recipient",
	                                      "original_sender", NULL};
	const struct as4_config *cfg = r->rt->cfg;
	json_t *j = api_body_json(r, req, body, resp);
	struct as4_smp_result *found = NULL;
	json_t *disc = NULL;
	if (j == NULL) {
		return;
	}
	struct as4_diag d;
	as4_diag_init(&d);
	const char *party = NULL, *pmode = NULL, *fr = NULL, *os = NULL;
	as4_err err = as4_json_only(j, "", allowed, &d);
	if (err == AS4_OK) {
		err = as4_json_str(j, "", "party", false, 128, &party, &d);
	}
	if (err == AS4_OK) {
		err = as4_json_str(j, "", "pmode", false, 128, &pmode, &d);
	}
	if (err == AS4_OK) {
		err = as4_json_str(j, "", "final_recipient", false, AS4_SMP_ID_TEXT_MAX, &fr, &d);
	}
	if (err == AS4_OK) {
		err = as4_json_str(j, "", "original_sender", false, AS4_SMP_ID_TEXT_MAX, &os, &d);
	}
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		goto out;
	}
	if (party == NULL && pmode == NULL) {
		as4_http_resp_json_error(resp, 400, "bad_request",
		                         "name the receiving party (\"party\") or the PMode "
		                         "(\"pmode\")",
		                         "party");
		goto out;
	}
	/* "ping 0088:<GLN>": the access point serving a participant (api_participants.c) */
	char target_id[AS4_SMP_ID_TEXT_MAX + 8];
	int target =
	        api_participant_target(r, &party, &pmode, &fr, target_id, sizeof(target_id), resp);
	if (target < 0) {
		goto out;
	}
	const struct as4_pmode *pm = choose(r, pmode, party, resp);
	if (pm == NULL) {
		goto out;
	}
	if (!token_may(r, pm)) {
		atomic_fetch_add(&r->ap->metrics.api_denied, 1);
		as4_http_resp_json_error(resp, 403, "forbidden",
		                         "this token is limited to other PModes or parties", NULL);
		goto out;
	}

	/* where to and for whom: the party's static endpoint, or an SMP lookup */
	const char *endpoint = pm->responder != NULL ? pm->responder->endpoint : NULL;
	X509 *receiver = as4_runtime_party_cert(r->rt, pm->responder);
	struct as4_party_id to_id = {NULL, NULL};
	char cn[256] = "";
	if (pm->responder_discovery) {
		if (fr == NULL) {
			as4_http_resp_json_error(
			        resp, 400, "bad_request",
			        "this PMode finds the receiver by SMP lookup: give "
			        "final_recipient (e.g. iso6523-actorid-upis::0088:"
			        "5790000000001)",
			        "final_recipient");
			goto out;
		}
		struct as4_smp_client *c = as4_runtime_smp(r->rt, pm->discovery_network);
		if (c == NULL) {
			as4_http_resp_json_error(resp, 422, "unprocessable",
			                         "the PMode's discovery network is not configured",
			                         "pmode");
			goto out;
		}
		char participant[AS4_SMP_ID_TEXT_MAX + 64];
		snprintf(
		        participant, sizeof(participant), "%s%s",
		        strstr(fr, "::") != NULL ? "" : AS4_SMP_PEPPOL_PARTICIPANT_SCHEME "::", fr);
		char process[2200] = "";
		if (pm->service_type != NULL) {
			snprintf(process, sizeof(process), "%s::%s", pm->service_type, pm->service);
		}
		atomic_fetch_add(&r->ap->metrics.smp_lookups, 1);
		err = as4_smp_lookup(c, participant, pm->action, process[0] ? process : NULL,
		                     &found, NULL, &d);
		if (err != AS4_OK) {
			char msg[700];
			snprintf(msg, sizeof(msg), "discovery failed (%s): %s", as4_strerror(err),
			         as4_diag_text(&d));
			api_json(resp, 200,
			         json_pack("{s:b, s:s, s:s, s:s, s:{s:o, s:s, s:s}}", "ok", false,
			                   "result", "failed", "pmode", pm->id, "stage",
			                   "discovery", "error", "code", json_null(), "reason",
			                   as4_strerror(err), "message", msg));
			goto out;
		}
		if (found->from_cache) {
			atomic_fetch_add(&r->ap->metrics.smp_cache_hits, 1);
		}
		endpoint = found->endpoint_url;
		receiver = found->cert;
		disc = json_pack("{s:s, s:s, s:s, s:b}", "participant", participant, "endpoint",
		                 found->endpoint_url, "certificate",
		                 found->cert_subject ? found->cert_subject : "", "from_cache",
		                 found->from_cache);
		if (pm->responder != NULL && pm->responder->dynamic) {
			cert_cn(found->cert, cn, sizeof(cn));
			to_id.type = pm->responder->ids[0].type;
			to_id.value = cn;
		}
	}
	if (endpoint == NULL) {
		as4_http_resp_json_error(resp, 422, "unprocessable",
		                         "the PMode's responder has no endpoint", "pmode");
		goto out;
	}

	char msgid[AS4_MESSAGE_ID_MAX + 1];
	if (as4_ebms3_new_message_id(as4_ap_id_domain(cfg), msgid, sizeof(msgid)) != AS4_OK) {
		as4_http_resp_json_error(resp, 500, "internal", "cannot generate a MessageId",
		                         NULL);
		goto out;
	}
	struct as4_property props[2];
	size_t n_props = 0;
	if (os != NULL) {
		props[n_props++] = (struct as4_property){"originalSender", NULL, os};
	}
	if (fr != NULL) {
		props[n_props++] = (struct as4_property){"finalRecipient", NULL, fr};
	}
	struct as4_submission_payload pl[8];
	size_t n_pl = pm->min_parts < AS4_ARRAY_LEN(pl) ? pm->min_parts : AS4_ARRAY_LEN(pl);
	for (size_t i = 0; i < n_pl; i++) {
		memset(&pl[i], 0, sizeof(pl[i]));
		pl[i].mime_type = "text/plain";
		as4_blob_borrow(&pl[i].data, test_payload, sizeof(test_payload) - 1);
	}
	struct as4_submission sub = {0};
	sub.message_id = msgid;
	sub.service = AS4_TEST_SERVICE;
	sub.action = AS4_TEST_ACTION;
	sub.props = props;
	sub.n_props = n_props;
	sub.payloads = pl;
	sub.n_payloads = n_pl;
	if (to_id.value != NULL) {
		sub.to.ids = &to_id;
		sub.to.n_ids = 1;
	}

	struct outcome o;
	memset(&o, 0, sizeof(o));
	as4_diag_init(&o.diag);
	ping(r, pm, &sub, receiver, endpoint, &o);

	struct as4_log_ctx lc = {msgid, pm->id, endpoint, NULL};
	json_t *res = json_pack("{s:b, s:s, s:s, s:s, s:s, s:f, s:I}", "ok", o.err == AS4_OK,
	                        "message_id", msgid, "pmode", pm->id, "party",
	                        pm->responder ? pm->responder->name : "", "endpoint", endpoint,
	                        "elapsed_ms", (double)o.elapsed_us / 1000.0, "http_status",
	                        (json_int_t)o.http_status);
	if (res == NULL) {
		api_json(resp, 500, NULL);
		goto out;
	}
	if (disc != NULL) {
		json_object_set_new(res, "discovery", disc);
		disc = NULL;
	}
	if (o.err == AS4_OK) {
		char t[AS4_TIME_TEXT_MAX];
		as4_time_format(o.receipt_ms, t);
		json_object_set_new(res, "result", json_string("receipt"));
		json_object_set_new(res, "receipt",
		                    json_pack("{s:s, s:s, s:b}", "message_id", o.receipt_id,
		                              "timestamp", t, "signed", o.receipt_signed));
		as4_log_ctx(AS4_LOG_INFO, &lc, "test message: receipt %s in %.1f ms (by %s)",
		            o.receipt_id, (double)o.elapsed_us / 1000.0, r->token->name);
	} else {
		const char *why = as4_diag_text(&o.diag);
		char pc[10];
		const char *code = o.err == AS4_E_PEER_ERROR ? peer_code(why, pc) : NULL;
		if (code == NULL && o.err == AS4_E_INVALID_RECEIPT) {
			code = "EBMS:0302";
		}
		json_object_set_new(res, "result",
		                    json_string(o.err == AS4_E_PEER_ERROR ? "error" : "failed"));
		json_object_set_new(res, "error",
		                    json_pack("{s:o, s:s, s:s}", "code",
		                              code != NULL ? json_string(code) : json_null(),
		                              "reason", as4_strerror(o.err), "message", why));
		lc.ebms_code = code;
		as4_log_ctx(AS4_LOG_NOTICE, &lc, "test message failed (%s): %s",
		            as4_strerror(o.err), why);
	}
	api_json(resp, 200, res);
out:
	json_decref(disc);
	as4_smp_result_free(found);
	json_decref(j);
}
