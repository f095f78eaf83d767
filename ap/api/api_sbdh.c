/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Submission of an ehmiSBDH envelope (POST /api/v1/messages with Content-Type application/xml):
 * no routing fields are needed. Sender, Receiver, DOCUMENTID and PROCESSID are read from the
 * envelope and checked against the medcom profile; Service and Action follow from the
 * identifiers under the configured convention; the PMode is the one sending that Service and
 * Action from this access point to the Receiver's access point (a medcom route, else a
 * discovery PMode, else the only candidate); the four-corner properties originalSender and
 * finalRecipient are the envelope's Sender and Receiver. The envelope travels unchanged as
 * the one payload (application/xml), as Peppol AS4 carries its SBDH.
 *
 * For a discovery PMode the record has no endpoint: the send path finds it from
 * finalRecipient (participant), Action (document type, scheme::value) and Service/@type and
 * Service (process), which is why the Peppol convention spells them that way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "as4/discovery.h"
#include "as4/ebms3.h"
#include "as4/log.h"
#include "as4/medcom.h"
#include "as4/sbdh.h"
#include "as4/str.h"
#include "as4/time.h"

/* An SBDH problem as an API answer: bad XML 400, too large 413, the rest 422. */
static void sbdh_error(struct as4_http_resp *resp, as4_err err, const struct as4_diag *d)
{
	const char *field = d->field[0] != '\0' ? d->field : NULL;
	switch (err) {
	case AS4_E_XML:
	case AS4_E_DOCTYPE:
		as4_http_resp_json_error(resp, 400, "bad_request", as4_diag_text(d), field);
		break;
	case AS4_E_LIMIT:
		as4_http_resp_json_error(resp, 413, "too_large", as4_diag_text(d), field);
		break;
	case AS4_E_GLN:
		as4_http_resp_json_error(resp, 422, "invalid_gln", as4_diag_text(d), field);
		break;
	case AS4_E_SBDH_INVALID:
		as4_http_resp_json_error(resp, 422, "invalid_sbdh", as4_diag_text(d), field);
		break;
	default:
		api_error_from(resp, err, d);
		break;
	}
}

static bool party_has_id(const struct as4_party *p, const char *value)
{
	for (size_t i = 0; p != NULL && i < p->n_ids; i++) {
		if (p->ids[i].value != NULL && strcmp(p->ids[i].value, value) == 0) {
			return true;
		}
	}
	return false;
}

static bool pmode_sends(const struct as4_config *cfg, const struct as4_pmode *pm,
                        const struct as4_sbdh_route *rt)
{
	/* the PMode is the agreement: its Service/@type, when it has one, is what goes out */
	return pm->initiator == cfg->node.party && strcmp(pm->service, rt->service) == 0 &&
	       strcmp(pm->action, rt->action) == 0;
}

/*
 * The PMode for an envelope: ?pmode= names it; else the medcom route of the Receiver (exact
 * participant first, then "*") gives the responder party; else a discovery PMode; else the one
 * PMode sending this Service and Action, when there is exactly one.
 */
static as4_err choose(const struct as4_config *cfg, struct as4_http_req *req,
                      const struct as4_sbdh *sb, const struct as4_sbdh_route *rt,
                      const struct as4_pmode **out, struct as4_diag *d)
{
	const char *id = as4_http_req_query(req, "pmode");
	if (id != NULL) {
		const struct as4_pmode *pm = as4_pmode_find(cfg->pmodes, id);
		if (pm == NULL) {
			return as4_diag_set_field(d, AS4_E_CONFIG, "pmode", "no PMode with id '%s'",
			                          id);
		}
		if (!pmode_sends(cfg, pm, rt)) {
			return as4_diag_set_field(
			        d, AS4_E_CONFIG, "pmode",
			        "PMode '%s' does not send service '%s' action '%s' "
			        "from this access point",
			        id, rt->service, rt->action);
		}
		*out = pm;
		return AS4_OK;
	}
	const struct as4_party *via = NULL;
	for (int pass = 0; pass < 2 && via == NULL; pass++) {
		for (size_t i = 0; i < cfg->medcom.n_routes; i++) {
			const struct as4_medcom_route *r = &cfg->medcom.routes[i];
			const char *want = pass == 0 ? sb->receiver : "*";
			if (strcmp(r->participant, want) == 0) {
				via = r->party;
				break;
			}
		}
	}
	const struct as4_pmode *found = NULL;
	const struct as4_pmode *discovery = NULL;
	size_t n = 0;
	for (size_t i = 0; i < as4_pmode_count(cfg->pmodes); i++) {
		const struct as4_pmode *pm = as4_pmode_at(cfg->pmodes, i);
		if (!pmode_sends(cfg, pm, rt)) {
			continue;
		}
		if (via != NULL && pm->responder == via) {
			*out = pm;
			return AS4_OK;
		}
		/* a party id equal to the participant: the participant's own access point */
		if (via == NULL && party_has_id(pm->responder, sb->receiver)) {
			*out = pm;
			return AS4_OK;
		}
		if (pm->responder_discovery && discovery == NULL) {
			discovery = pm;
		}
		found = found == NULL ? pm : found;
		n++;
	}
	if (via != NULL) {
		return as4_diag_set_field(d, AS4_E_CONFIG, "Receiver",
		                          "medcom.routes sends %s through party '%s', but no PMode "
		                          "sends service '%s' action '%s' to it",
		                          sb->receiver, via->name, rt->service, rt->action);
	}
	if (discovery != NULL) {
		*out = discovery;
		return AS4_OK;
	}
	if (n == 1) {
		*out = found;
		return AS4_OK;
	}
	if (n == 0) {
		return as4_diag_set_field(d, AS4_E_CONFIG, "DOCUMENTID",
		                          "no PMode sends service '%s' action '%s' (from the "
		                          "envelope's PROCESSID and DOCUMENTID)",
		                          rt->service, rt->action);
	}
	return as4_diag_set_field(d, AS4_E_CONFIG, "Receiver",
	                          "%zu PModes send service '%s' action '%s': add a medcom.routes "
	                          "entry for %s, or name one with ?pmode=",
	                          n, rt->service, rt->action, sb->receiver);
}

/* An outbound message already carrying this InstanceIdentifier, by its MessageId. */
static as4_err find_instance(struct as4_store *st, const char *instance, char **msgid,
                             struct as4_diag *d)
{
	struct as4_store_filter f = {0};
	struct as4_msgrec *recs = NULL;
	size_t n = 0;
	char next[AS4_STORE_CURSOR_MAX];
	f.dir = AS4_DIR_OUT;
	f.sbdh_instance_id = instance;
	*msgid = NULL;
	as4_err err = as4_store_search(st, &f, NULL, 1, &recs, &n, next, d);
	if (err == AS4_OK && n > 0) {
		*msgid = as4_str_dup(recs[0].message_id);
		err = *msgid == NULL ? as4_diag_set(d, AS4_E_NOMEM, "out of memory") : AS4_OK;
	}
	as4_msgrec_array_free(recs, n);
	return err;
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? as4_str_dup(s) : NULL;
}

static as4_err corner(struct as4_store_prop *p, const char *name, const char *value)
{
	p->name = as4_str_dup(name);
	p->type = as4_str_dup(AS4_SBDH_AUTHORITY);
	p->value = as4_str_dup(value);
	return p->name != NULL && p->type != NULL && p->value != NULL ? AS4_OK : AS4_E_NOMEM;
}

/* The record of an envelope sent with pm. */
static as4_err make_record(const struct as4_config *cfg, const struct as4_pmode *pm,
                           const struct as4_sbdh *sb, const struct as4_sbdh_route *rt,
                           struct as4_msgrec *rec, struct as4_diag *d)
{
	char msgid[AS4_MESSAGE_ID_MAX + 1];
	char cid[AS4_MESSAGE_ID_MAX + 1];
	char conv[37];
	as4_err err = as4_ebms3_new_message_id(as4_ap_id_domain(cfg), msgid, sizeof(msgid));
	if (err == AS4_OK) {
		err = as4_ebms3_new_message_id(as4_ap_id_domain(cfg), cid, sizeof(cid));
	}
	if (err == AS4_OK) {
		err = as4_uuid_v4(conv);
	}
	if (err != AS4_OK) {
		return as4_diag_set(d, err, "cannot generate an identifier");
	}
	const struct as4_party_id *to =
	        pm->responder != NULL && pm->responder->n_ids > 0 ? &pm->responder->ids[0] : NULL;
	rec->dir = AS4_DIR_OUT;
	rec->pmode_id = as4_str_dup(pm->id);
	rec->from.type = dup_or_null(pm->initiator->ids[0].type);
	rec->from.value = as4_str_dup(pm->initiator->ids[0].value);
	rec->from_role = as4_str_dup(pm->initiator_role);
	rec->to.type = to != NULL ? dup_or_null(to->type) : NULL;
	rec->to.value = to != NULL && to->value != NULL ? as4_str_dup(to->value) : NULL;
	rec->to_role = as4_str_dup(pm->responder_role);
	rec->original_sender = as4_str_dup(sb->sender);
	rec->final_recipient = as4_str_dup(sb->receiver);
	rec->service = as4_str_dup(rt->service);
	rec->service_type = dup_or_null(pm->service_type);
	rec->action = as4_str_dup(rt->action);
	rec->agreement = dup_or_null(pm->agreement);
	rec->agreement_type = dup_or_null(pm->agreement_type);
	rec->mpc = dup_or_null(pm->mpc);
	rec->conversation_id = as4_str_dup(conv);
	rec->message_id = as4_str_dup(msgid);
	/* discovery: the send worker finds the endpoint from finalRecipient, Action and Service */
	rec->endpoint_url = pm->responder_discovery || pm->responder == NULL
	                            ? NULL
	                            : dup_or_null(pm->responder->endpoint);
	rec->sbdh_instance_id = as4_str_dup(sb->instance_id);
	rec->medcom_message_id = dup_or_null(sb->medcom_message_id);
	rec->ebms_timestamp_ms = as4_time_now_ms();
	rec->props = calloc(2, sizeof(*rec->props));
	rec->payloads = calloc(1, sizeof(*rec->payloads));
	if (rec->pmode_id == NULL || rec->from.value == NULL || rec->original_sender == NULL ||
	    rec->final_recipient == NULL || rec->service == NULL || rec->action == NULL ||
	    rec->conversation_id == NULL || rec->message_id == NULL ||
	    rec->sbdh_instance_id == NULL || rec->props == NULL || rec->payloads == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	/* eDelivery AS4 1.15 four-corner: C1 and C4 as message properties */
	rec->n_props = 2;
	if (corner(&rec->props[0], "originalSender", sb->sender) != AS4_OK ||
	    corner(&rec->props[1], "finalRecipient", sb->receiver) != AS4_OK) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	rec->n_payloads = 1;
	rec->payloads[0].content_id = as4_str_dup(cid);
	rec->payloads[0].mime_type = as4_str_dup("application/xml");
	rec->payloads[0].compressed = pm->compress;
	if (rec->payloads[0].content_id == NULL || rec->payloads[0].mime_type == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	return AS4_OK;
}

static bool token_may(struct api_req *r, const struct as4_pmode *pm, struct as4_http_resp *resp)
{
	const struct as4_api_token *t = r->token;
	bool ok = t->n_pmodes == 0;
	for (size_t i = 0; i < t->n_pmodes; i++) {
		ok = ok || strcmp(t->pmodes[i], pm->id) == 0;
	}
	if (!ok) {
		as4_http_resp_json_error(resp, 403, "forbidden",
		                         "this token may not submit with this PMode", "pmode");
		return false;
	}
	ok = t->n_parties == 0;
	for (size_t i = 0; i < t->n_parties; i++) {
		ok = ok ||
		     (pm->responder != NULL && strcmp(t->parties[i], pm->responder->name) == 0);
	}
	if (!ok) {
		as4_http_resp_json_error(resp, 403, "forbidden",
		                         "this token may not send to this party", "to");
	}
	return ok;
}

void api_submit_sbdh(struct api_req *r, struct as4_http_req *req, const struct as4_blob *body,
                     struct as4_http_resp *resp)
{
	const struct as4_config *cfg = r->rt->cfg;
	struct as4_sbdh_rules rules;
	struct as4_sbdh_network net;
	struct as4_sbdh *sb = NULL;
	struct as4_sbdh_route rt = {0};
	struct as4_msgrec rec;
	const struct as4_pmode *pm = NULL;
	char *earlier = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_msgrec_init(&rec);
	as4_config_sbdh_rules(cfg, &rules, &net);

	as4_err err = as4_sbdh_parse(body->data, body->len, &rules, &sb, &d);
	if (err == AS4_OK) {
		err = as4_medcom_check_profile(cfg, sb, true, &d);
	}
	if (err != AS4_OK) {
		sbdh_error(resp, err, &d);
		goto out;
	}
	err = as4_sbdh_route(&net, sb->document_id, sb->process_id, &rt, &d);
	if (err == AS4_OK) {
		err = choose(cfg, req, sb, &rt, &pm, &d);
	}
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		goto out;
	}
	if (!token_may(r, pm, resp)) {
		goto out;
	}
	if (!pm->responder_discovery &&
	    (pm->responder == NULL || pm->responder->endpoint == NULL)) {
		err = as4_diag_set_field(
		        &d, AS4_E_CONFIG, "pmode",
		        "PMode '%s' has neither a responder endpoint nor discovery", pm->id);
		api_error_from(resp, err, &d);
		goto out;
	}
	/* a backend resubmitting the same envelope gets the first message back, not a copy */
	err = find_instance(r->ap->store, sb->instance_id, &earlier, &d);
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		goto out;
	}
	if (earlier != NULL) {
		char msg[600];
		snprintf(msg, sizeof(msg),
		         "an envelope with InstanceIdentifier '%s' was already submitted as "
		         "message '%s'",
		         sb->instance_id, earlier);
		as4_http_resp_json_error(resp, 409, "conflict", msg, "InstanceIdentifier");
		goto out;
	}
	err = make_record(cfg, pm, sb, &rt, &rec, &d);
	if (err == AS4_OK && (rec.submitted_by = as4_str_dup(r->token->name)) == NULL) {
		err = as4_diag_set(&d, AS4_E_NOMEM, "out of memory");
	}
	if (err == AS4_OK) {
		/* discovery: the receiver and the identifiers must be fit for an SMP lookup */
		err = as4_discovery_check_submission(pm, &rec, &d);
	}
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		goto out;
	}
	struct as4_blob payload;
	/* borrowed from the request body, which outlives the submission */
	as4_blob_borrow(&payload, body->data, body->len);
	struct as4_store_put put = {0};
	put.payloads = &payload;
	err = as4_store_submit(r->ap->store, &rec, &put, &d);
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		goto out;
	}
	atomic_fetch_add(&r->ap->metrics.submitted, 1);
	struct as4_log_ctx lc = {rec.message_id, pm->id,
	                         pm->responder != NULL ? pm->responder->name : NULL, NULL};
	/* identifiers only: the envelope may carry a CPR number, which never reaches a log */
	as4_log_ctx(AS4_LOG_INFO, &lc, "SBDH %s submitted by %s: %s -> %s, %zu bytes, queued",
	            sb->instance_id, r->token->name, sb->sender, sb->receiver, body->len);
	as4_sender_kick(r->ap->sender);
	json_t *v = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s}", "message_id",
	                      rec.message_id, "state", as4_msg_state_text(AS4_ST_QUEUED), "pmode",
	                      pm->id, "id", (json_int_t)rec.id, "sbdh_instance_id", sb->instance_id,
	                      "original_sender", sb->sender, "final_recipient", sb->receiver,
	                      "service", rt.service, "action", rt.action);
	if (v != NULL && sb->medcom_message_id != NULL) {
		json_object_set_new(v, "medcom_message_id", json_string(sb->medcom_message_id));
	}
	api_json(resp, 202, v);
out:
	free(earlier);
	as4_msgrec_cleanup(&rec);
	as4_sbdh_route_cleanup(&rt);
	as4_sbdh_free(sb);
}
