/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The public MSH endpoint (POST /as4): open the message, answer duplicates with their stored
 * Receipt, store the message durably, and only then answer with the Receipt. Every refusal is
 * an ebMS Error signal (HTTP 500 with a SOAP Fault, as Domibus answers) and stores nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as4/ap.h"
#include "as4/discovery.h"
#include "as4/log.h"
#include "as4/medcom.h"
#include "as4/msg.h"
#include "as4/str.h"
#include "as4/time.h"

static X509 *partner_cert(void *ctx, const struct as4_pmode *pm)
{
	const struct as4_runtime *rt = ctx;
	return as4_runtime_party_cert(rt, pm->initiator);
}

bool as4_msh_head(void *ctx, struct as4_http_req *req, struct as4_http_resp *resp)
{
	struct as4_ap *ap = ctx;
	if (atomic_load(&ap->stopping)) {
		resp->status = 503;
		resp->content_type = "text/plain";
		snprintf(resp->extra_headers, sizeof(resp->extra_headers), "Retry-After: 30\r\n");
		if (as4_buf_puts(&resp->body, "the access point is stopping\n") != AS4_OK) {
			resp->body.len = 0;
		}
		return false;
	}
	struct as4_runtime *rt = as4_ap_runtime(ap);
	bool path_ok = strcmp(as4_http_req_path(req), rt->cfg->listeners.msh.path) == 0;
	as4_runtime_put(rt);
	if (!path_ok) {
		resp->status = 404;
		resp->content_type = "text/plain";
		if (as4_buf_puts(&resp->body, "not an AS4 endpoint\n") != AS4_OK) {
			resp->body.len = 0;
		}
		return false;
	}
	if (strcmp(as4_http_req_method(req), "POST") != 0) {
		resp->status = 405;
		resp->content_type = "text/plain";
		snprintf(resp->extra_headers, sizeof(resp->extra_headers), "Allow: POST\r\n");
		if (as4_buf_puts(&resp->body, "AS4 messages are POSTed\n") != AS4_OK) {
			resp->body.len = 0;
		}
		return false;
	}
	return true;
}

/* Answer with a signal: its bytes become the HTTP body. */
static void answer_signal(struct as4_http_resp *resp, struct as4_signal_out *sig)
{
	resp->status = (unsigned)sig->http_status;
	resp->content_type = AS4_SOAP_CONTENT_TYPE;
	as4_buf_cleanup(&resp->body);
	resp->body = sig->body;
	as4_buf_init(&sig->body, 0);
}

/* Refuse the request with an ebMS Error signal (signed when we have a key). */
static void refuse(struct as4_ap *ap, const struct as4_runtime *rt, struct as4_http_req *req,
                   const char *ref_to, const char *pmode, as4_err err, const char *detail,
                   struct as4_http_resp *resp)
{
	as4_metrics_count_error(&ap->metrics, as4_err_ebms_code(err));
	struct as4_log_ctx lc = {ref_to, pmode, as4_http_req_peer(req), as4_err_ebms_code(err)};
	as4_log_ctx(AS4_LOG_WARNING, &lc, "refused: %s", detail);
	struct as4_signal_params sp = {0};
	sp.signer = rt->sign;
	sp.sig_alg = AS4_SIG_RSA_SHA256;
	sp.id_domain = as4_ap_id_domain(rt->cfg);
	struct as4_signal_out sig;
	struct as4_diag d;
	as4_diag_init(&d);
	/* a MessageId we could not validate must not be echoed into our signal */
	if (ref_to != NULL && !as4_ebms3_message_id_valid(ref_to)) {
		ref_to = NULL;
	}
	as4_err e2 = as4_msg_error_signal(ref_to, err, detail, &sp, &sig, &d);
	if (e2 != AS4_OK) {
		as4_log_ctx(AS4_LOG_ERR, &lc, "cannot build the error signal: %s",
		            as4_diag_text(&d));
		resp->status = 500;
		resp->content_type = "text/plain";
		as4_buf_reset(&resp->body);
		if (as4_buf_puts(&resp->body, "internal error\n") != AS4_OK) {
			resp->body.len = 0;
		}
		return;
	}
	answer_signal(resp, &sig);
	as4_signal_out_cleanup(&sig);
}

/*
 * We cannot take the message now (store or disk full, I/O failure, shutting down): HTTP 503
 * with Retry-After and no ebMS Error, because an Error of severity failure would end the
 * sender's attempts (AS4 reception awareness) while this condition passes; nothing is stored.
 */
static void unavailable(struct as4_ap *ap, struct as4_http_req *req, const char *msgid,
                        const char *pmode, as4_err err, const char *detail,
                        struct as4_http_resp *resp)
{
	as4_metrics_count_error(&ap->metrics, as4_err_ebms_code(err));
	struct as4_log_ctx lc = {msgid, pmode, as4_http_req_peer(req), as4_err_ebms_code(err)};
	as4_log_ctx(AS4_LOG_ERR, &lc, "cannot accept the message now (answered 503): %s", detail);
	resp->status = 503;
	resp->content_type = "text/plain";
	snprintf(resp->extra_headers, sizeof(resp->extra_headers), "Retry-After: %d\r\n",
	         err == AS4_E_SPACE ? 60 : 10);
	as4_buf_reset(&resp->body);
	if (as4_buf_printf(&resp->body, "%s: the message was not stored; send it again later\n",
	                   err == AS4_E_SPACE ? "storage full" : as4_strerror(err)) != AS4_OK) {
		resp->body.len = 0;
	}
}

/* True for failures of ours that pass (the sender should retry, not give up). */
static bool transient(as4_err err)
{
	return err == AS4_E_SPACE || err == AS4_E_IO || err == AS4_E_BUSY || err == AS4_E_NOMEM;
}

/*
 * Tell the backend about a refused message when its PMode asks for it (errors.notify_backend)
 * and a notification URL is configured. Only refusals after the security checks passed are
 * reported (e.g. DecompressionFailure), so strangers cannot fill the outbox.
 */
static void notify_refusal(struct as4_ap *ap, const struct as4_runtime *rt, const struct as4_msg *m,
                           struct as4_http_req *req, as4_err err, const char *detail)
{
	if (m == NULL || m->pmode == NULL || !m->pmode->notify_backend_errors ||
	    m->stage <= AS4_STAGE_SECURITY || m->test_service ||
	    rt->cfg->webhooks.notification_url == NULL) {
		return;
	}
	const struct as4_user_message *um = &m->ebms.user;
	const char *msgid = as4_msg_ref_id(m);
	char *doc = as4_delivery_error_doc(
	        msgid != NULL && as4_ebms3_message_id_valid(msgid) ? msgid : NULL, m->pmode->id,
	        um->from.n_ids > 0 ? um->from.ids[0].value : NULL, as4_http_req_peer(req),
	        as4_err_ebms_code(err), detail);
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_log_ctx lc = {msgid, m->pmode->id, as4_http_req_peer(req), NULL};
	if (doc == NULL) {
		as4_log_ctx(AS4_LOG_ERR, &lc, "cannot notify the backend: out of memory");
	} else if (as4_store_note_add(ap->store, 0, doc, NULL, &d) != AS4_OK) {
		as4_log_ctx(AS4_LOG_ERR, &lc, "cannot notify the backend: %s", as4_diag_text(&d));
	} else {
		as4_delivery_kick(ap->delivery);
	}
	free(doc);
}

/* A duplicate: answer with the Receipt stored for the first copy. */
static bool answer_duplicate(struct as4_ap *ap, const struct as4_msg *m, uint64_t id,
                             const char *receipt_file, struct as4_http_req *req,
                             struct as4_http_resp *resp)
{
	const char *msgid = m->ebms.user.message_id;
	struct as4_log_ctx lc = {msgid, m->pmode->id, as4_http_req_peer(req), NULL};
	struct as4_blob rb;
	as4_blob_init(&rb);
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = AS4_E_NOTFOUND;
	if (receipt_file != NULL && receipt_file[0] != '\0') {
		err = as4_store_spool_open(ap->store, receipt_file, &rb, &d);
	}
	if (err != AS4_OK) {
		as4_log_ctx(AS4_LOG_ERR, &lc,
		            "duplicate, but its stored Receipt is unavailable: %s",
		            as4_diag_text(&d));
		return false;
	}
	resp->status = 200;
	resp->content_type = AS4_SOAP_CONTENT_TYPE;
	err = as4_buf_append(&resp->body, rb.data, rb.len);
	as4_blob_cleanup(&rb);
	if (err != AS4_OK) {
		return false;
	}
	atomic_fetch_add(&ap->metrics.received_duplicate, 1);
	as4_log_ctx(AS4_LOG_NOTICE, &lc,
	            "duplicate of message %llu: stored Receipt sent again, "
	            "not delivered again",
	            (unsigned long long)id);
	/* the duplicate goes into the message's history; final states only take an audit note */
	struct as4_store_update u = {0};
	struct as4_msgrec rec;
	as4_msgrec_init(&rec);
	as4_diag_init(&d);
	if (as4_store_get(ap->store, id, &rec, &d) == AS4_OK) {
		u.to = rec.state;
		u.reason = "duplicate received: stored Receipt sent again";
		if (as4_store_transition(ap->store, id, &u, &d) != AS4_OK) {
			as4_diag_init(&d);
			if (as4_store_audit_append(ap->store, "system", "message.duplicate", msgid,
			                           "duplicate received after delivery to the "
			                           "backend; stored Receipt sent again",
			                           &d) != AS4_OK) {
				as4_log_ctx(AS4_LOG_WARNING, &lc, "cannot record the duplicate: %s",
				            as4_diag_text(&d));
			}
		}
	}
	as4_msgrec_cleanup(&rec);
	return true;
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? as4_str_dup(s) : NULL;
}

/* The record of an accepted UserMessage. */
static as4_err make_record(const struct as4_msg *m, struct as4_msgrec *rec, struct as4_diag *d)
{
	const struct as4_user_message *um = &m->ebms.user;
	rec->dir = AS4_DIR_IN;
	rec->pmode_id = as4_str_dup(m->pmode->id);
	rec->from.type = dup_or_null(um->from.ids[0].type);
	rec->from.value = as4_str_dup(um->from.ids[0].value);
	rec->from_role = as4_str_dup(um->from.role);
	rec->to.type = dup_or_null(um->to.ids[0].type);
	rec->to.value = as4_str_dup(um->to.ids[0].value);
	rec->to_role = as4_str_dup(um->to.role);
	rec->original_sender = dup_or_null(as4_user_message_property(um, "originalSender"));
	rec->final_recipient = dup_or_null(as4_user_message_property(um, "finalRecipient"));
	rec->service = as4_str_dup(um->service);
	rec->service_type = dup_or_null(um->service_type);
	rec->action = as4_str_dup(um->action);
	rec->agreement = dup_or_null(um->agreement);
	rec->agreement_type = dup_or_null(um->agreement_type);
	rec->conversation_id = as4_str_dup(um->conversation_id);
	rec->message_id = as4_str_dup(um->message_id);
	rec->ref_to_message_id = dup_or_null(um->ref_to_message_id);
	rec->mpc = dup_or_null(um->mpc);
	rec->ebms_timestamp_ms = um->timestamp_ms;
	if (rec->pmode_id == NULL || rec->from.value == NULL || rec->to.value == NULL ||
	    rec->service == NULL || rec->action == NULL || rec->conversation_id == NULL ||
	    rec->message_id == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	if (um->n_props > 0) {
		rec->props = calloc(um->n_props, sizeof(*rec->props));
		if (rec->props == NULL) {
			return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
		rec->n_props = um->n_props;
		for (size_t i = 0; i < um->n_props; i++) {
			rec->props[i].name = as4_str_dup(um->props[i].name);
			rec->props[i].type = dup_or_null(um->props[i].type);
			rec->props[i].value = as4_str_dup(um->props[i].value);
			if (rec->props[i].name == NULL || rec->props[i].value == NULL) {
				return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
			}
		}
	}
	if (m->n_payloads > 0) {
		rec->payloads = calloc(m->n_payloads, sizeof(*rec->payloads));
		if (rec->payloads == NULL) {
			return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
		rec->n_payloads = m->n_payloads;
	}
	for (size_t i = 0; i < m->n_payloads; i++) {
		const struct as4_payload *p = &m->payloads[i];
		struct as4_store_payload *sp = &rec->payloads[i];
		sp->content_id = dup_or_null(p->content_id != NULL ? p->content_id : "#body");
		sp->mime_type = as4_str_dup(p->mime_type);
		sp->charset = dup_or_null(p->charset);
		sp->compressed = p->compressed;
		if (sp->content_id == NULL || sp->mime_type == NULL) {
			return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
		/* every part property except the three carried in their own fields */
		const struct as4_part_info *pi = p->info;
		size_t n = 0;
		for (size_t k = 0; pi != NULL && k < pi->n_props; k++) {
			const char *name = pi->props[k].name;
			if (strcmp(name, "MimeType") != 0 && strcmp(name, "CompressionType") != 0 &&
			    strcmp(name, "CharacterSet") != 0) {
				n++;
			}
		}
		if (n == 0) {
			continue;
		}
		sp->props = calloc(n, sizeof(*sp->props));
		if (sp->props == NULL) {
			return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
		for (size_t k = 0; k < pi->n_props; k++) {
			const struct as4_property *pr = &pi->props[k];
			if (strcmp(pr->name, "MimeType") == 0 ||
			    strcmp(pr->name, "CompressionType") == 0 ||
			    strcmp(pr->name, "CharacterSet") == 0) {
				continue;
			}
			struct as4_store_prop *dst = &sp->props[sp->n_props++];
			dst->name = as4_str_dup(pr->name);
			dst->type = dup_or_null(pr->type);
			dst->value = as4_str_dup(pr->value);
			if (dst->name == NULL || dst->value == NULL) {
				return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
			}
		}
	}
	return AS4_OK;
}

void as4_msh_handle(void *ctx, struct as4_http_req *req, const struct as4_blob *body,
                    struct as4_http_resp *resp)
{
	struct as4_ap *ap = ctx;
	int64_t t0 = as4_time_mono_ns();
	struct as4_runtime *rt = as4_ap_runtime(ap);
	const struct as4_config *cfg = rt->cfg;
	struct as4_msg *m = NULL;
	struct as4_msgrec rec;
	as4_msgrec_init(&rec);
	struct as4_signal_out receipt;
	memset(&receipt, 0, sizeof(receipt));
	as4_buf_init(&receipt.body, 0);
	struct as4_diag d;
	as4_diag_init(&d);

	struct as4_msg_in_params p = {0};
	p.limits = &cfg->limits;
	p.pmodes = cfg->pmodes;
	p.decrypt_keys = rt->decrypt;
	p.n_decrypt_keys = rt->n_decrypt;
	p.trust = rt->trust;
	p.partner_cert = partner_cert;
	p.partner_ctx = rt;
	p.spool_dir = ap->tmp_dir;
	p.accept_signals = false;
	struct as4_blob in;
	as4_blob_borrow_range(&in, body, 0, body->len); /* the parser releases pages behind it */
	as4_err err = as4_msg_in_open(&p, &in, as4_http_req_header(req, "Content-Type"), &m, &d);
	if (err != AS4_OK) {
		const char *ref = m != NULL ? as4_msg_ref_id(m) : NULL;
		const char *pid = m != NULL && m->pmode != NULL ? m->pmode->id : NULL;
		if (transient(err)) {
			unavailable(ap, req, ref, pid, err, as4_diag_text(&d), resp);
			goto out;
		}
		refuse(ap, rt, req, ref, pid, err, as4_diag_text(&d), resp);
		notify_refusal(ap, rt, m, req, err, as4_diag_text(&d));
		goto out;
	}
	const struct as4_pmode *pm = m->pmode;
	const char *msgid = m->ebms.user.message_id;
	struct as4_log_ctx lc = {msgid, pm->id, as4_http_req_peer(req), NULL};

	/* Dynamic Sender (discovery.c): any access point, but its PartyId is its signer's CN */
	err = as4_discovery_check_sender(m, &d);
	if (err != AS4_OK) {
		refuse(ap, rt, req, msgid, pm->id, err, as4_diag_text(&d), resp);
		goto out;
	}

	/* duplicate elimination (AS4 reception awareness): same Receipt, never delivered twice */
	if (pm->reliability.duplicate_detection && !m->test_service) {
		struct as4_store_dedup dup;
		as4_diag_init(&d);
		err = as4_store_dedup_lookup(ap->store, msgid, &dup, &d);
		if (err == AS4_OK) {
			if (!answer_duplicate(ap, m, dup.id, dup.receipt_file, req, resp)) {
				refuse(ap, rt, req, msgid, pm->id, AS4_E_INTERNAL,
				       "duplicate message, but its Receipt cannot be read", resp);
			}
			goto out;
		}
		if (transient(err)) {
			unavailable(ap, req, msgid, pm->id, err, as4_diag_text(&d), resp);
			goto out;
		}
		if (err != AS4_E_NOTFOUND) {
			refuse(ap, rt, req, msgid, pm->id, err, as4_diag_text(&d), resp);
			goto out;
		}
	}

	struct as4_signal_params sp = {0};
	sp.signer = pm->security_none || !pm->security.receipt_signed ? NULL : rt->sign;
	sp.sig_alg = (enum as4_sig_alg)pm->security.sig_alg;
	sp.id_domain = as4_ap_id_domain(cfg);
	as4_diag_init(&d);
	err = as4_msg_receipt(m, &sp, &receipt, &d);
	if (err != AS4_OK) {
		refuse(ap, rt, req, msgid, pm->id, err, as4_diag_text(&d), resp);
		goto out;
	}

	if (m->test_service) {
		/* ebMS test service: answered, never stored for or delivered to a backend */
		atomic_fetch_add(&ap->metrics.received_test, 1);
		as4_log_ctx(AS4_LOG_INFO, &lc, "test service message answered with a Receipt");
		answer_signal(resp, &receipt);
		goto out;
	}

	err = make_record(m, &rec, &d);
	/* MedCom profile: the SBDH must agree with the four-corner properties (medcom.c) */
	struct as4_medcom_in medcom;
	if (err == AS4_OK) {
		err = as4_medcom_inbound(ap->store, cfg, m, &rec, &medcom, &d);
	}
	if (err != AS4_OK) {
		refuse(ap, rt, req, msgid, pm->id, err, as4_diag_text(&d), resp);
		goto out;
	}
	/* the tree is done with (Receipt built, record made): free it while it is in cache */
	as4_msg_drop_doc(m);
	struct as4_blob *blobs = calloc(m->n_payloads ? m->n_payloads : 1, sizeof(*blobs));
	if (blobs == NULL) {
		refuse(ap, rt, req, msgid, pm->id, AS4_E_NOMEM, "out of memory", resp);
		goto out;
	}
	for (size_t i = 0; i < m->n_payloads; i++) {
		/* shallow copies: an unnamed spool file is linked into the store, not copied */
		blobs[i] = m->payloads[i].data;
	}
	struct as4_blob raw;
	struct as4_blob raw_borrowed;
	as4_blob_borrow(&raw_borrowed, m->body.data, m->body.len);
	/* the request body as the server spooled it (linked when it is an unnamed file) */
	raw = body->kind == AS4_BLOB_MAPPED ? *body : raw_borrowed;
	struct as4_blob rblob;
	as4_blob_borrow(&rblob, receipt.body.data, receipt.body.len);
	struct as4_store_put put = {0};
	put.payloads = blobs;
	put.raw = &raw;
	put.receipt = &rblob;
	put.check_duplicate = pm->reliability.duplicate_detection;
	uint64_t dup_id = 0;
	as4_diag_init(&d);
	/* durable before the Receipt leaves (AS4 reception awareness) */
	err = as4_store_put_inbound(ap->store, &rec, &put, &dup_id, &d);
	free(blobs);
	if (err == AS4_E_EXISTS) {
		/* a concurrent copy committed first: answer as a duplicate of it */
		struct as4_store_dedup dup;
		as4_diag_init(&d);
		if (as4_store_dedup_lookup(ap->store, msgid, &dup, &d) != AS4_OK ||
		    !answer_duplicate(ap, m, dup.id, dup.receipt_file, req, resp)) {
			refuse(ap, rt, req, msgid, pm->id, AS4_E_INTERNAL,
			       "duplicate message, but its Receipt cannot be read", resp);
		}
		goto out;
	}
	if (transient(err)) {
		unavailable(ap, req, msgid, pm->id, err, as4_diag_text(&d), resp);
		goto out;
	}
	if (err != AS4_OK) {
		refuse(ap, rt, req, msgid, pm->id, err, as4_diag_text(&d), resp);
		goto out;
	}
	atomic_fetch_add(&ap->metrics.received_ok, 1);
	as4_medcom_inbound_stored(ap->store, &rec, &medcom);
	as4_log_ctx(AS4_LOG_INFO, &lc,
	            "received from %s: %zu payload(s), stored as %llu, Receipt %s", rec.from.value,
	            m->n_payloads, (unsigned long long)rec.id, receipt.message_id);
	answer_signal(resp, &receipt);
	as4_delivery_kick_received(ap->delivery, cfg);
	as4_metrics_observe(&ap->metrics.recv_latency_us_sum, &ap->metrics.recv_latency_count,
	                    ap->metrics.recv_latency_buckets,
	                    (uint64_t)((as4_time_mono_ns() - t0) / 1000));
out:
	as4_signal_out_cleanup(&receipt);
	as4_msgrec_cleanup(&rec);
	as4_msg_free(m);
	as4_runtime_put(rt);
}
