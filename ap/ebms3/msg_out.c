/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealing an outgoing UserMessage (eDelivery AS4 1.15 order: compress, sign, encrypt, then
 * MIME) and judging what the receiving MSH answered (AS4 §5.1.8 reception awareness: only a
 * Receipt that proves what we signed ends the attempts successfully).
 */
#include "as4/msg.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "as4/gzip.h"
#include "as4/str.h"
#include "as4/time.h"
#include "as4/xml.h"
#include "ebms3_int.h"

void as4_msg_out_free(struct as4_msg_out *o)
{
	if (o == NULL) {
		return;
	}
	as4_mime_out_cleanup(&o->mime);
	for (size_t i = 0; i < o->n_parts; i++) {
		as4_part_cleanup(&o->parts[i]);
	}
	as4_part_cleanup(&o->root);
	as4_signed_refs_cleanup(&o->signed_refs);
	xmlFreeDoc(o->doc);
	as4_arena_free(o->arena);
	free(o);
}

/* "<uuid>@<domain>" in the arena. */
static as4_err gen_id(struct as4_msg_out *o, const char *domain, const char *field,
                      const char **out, struct as4_diag *d)
{
	char buf[AS4_MESSAGE_ID_MAX + 1];
	as4_err err = as4_ebms3_new_message_id(domain, buf, sizeof(buf));
	if (err != AS4_OK) {
		return as4_diag_set_field(
		        d, err == AS4_E_CRYPTO ? AS4_E_CRYPTO : AS4_E_INVAL, field,
		        "cannot generate %s: id_domain '%.80s' is missing or invalid", field,
		        domain != NULL ? domain : "");
	}
	*out = as4_arena_strdup(o->arena, buf);
	return *out != NULL ? AS4_OK : as4_diag_set(d, AS4_E_NOMEM, "out of memory");
}

/* The domain for generated Content-IDs: the configured one, else the MessageId's. */
static const char *cid_domain(const struct as4_msg_out_params *p, const char *message_id)
{
	if (p->id_domain != NULL) {
		return p->id_domain;
	}
	const char *at = strrchr(message_id, '@');
	return at != NULL && at[1] != '\0' ? at + 1 : "as4.invalid";
}

static as4_err party_from(struct as4_msg_out *o, const struct as4_party_info *sub,
                          const struct as4_party *pm_party, const char *pm_role,
                          const char *def_role, const char *field, struct as4_party_info *out,
                          struct as4_diag *d)
{
	(void)o;
	if (sub->n_ids > 0) {
		*out = *sub;
	} else if (pm_party != NULL && pm_party->n_ids > 0) {
		out->ids = pm_party->ids;
		out->n_ids = pm_party->n_ids;
		out->role = NULL;
	} else {
		return as4_diag_set_field(
		        d, AS4_E_INVAL, field,
		        "%s: neither the submission nor the PMode names party ids", field);
	}
	if (sub->role != NULL) {
		out->role = sub->role;
	} else if (out->role == NULL) {
		out->role = pm_role != NULL ? pm_role : def_role;
	}
	return AS4_OK;
}

/* gzip one payload into a part (AS4 §3.1: the part becomes application/gzip). */
static as4_err compress_part(const struct as4_msg_out_params *p, const struct as4_blob *in,
                             size_t i, struct as4_part *part, struct as4_diag *d)
{
	/* deflate never grows data by more than a few bytes per 16 KiB block */
	size_t max = 0;
	if (!as4_add_size(in->len, in->len / 64 + 1024, &max)) {
		return as4_diag_set(d, AS4_E_LIMIT, "payload %zu is too large to compress", i);
	}
	struct as4_sink sink;
	as4_sink_init(&sink, p->spool_dir, p->limits->mem_spool_threshold, max);
	as4_err err = p->deflater != NULL
	                      ? as4_gzip_compress_with(p->deflater, in, p->gzip_level, &sink, d)
	                      : as4_gzip_compress(in, p->gzip_level, &sink, d);
	if (err == AS4_OK) {
		err = as4_sink_finish(&sink, &part->data);
		if (err != AS4_OK) {
			err = as4_diag_set(d, err, "cannot store the compressed payload %zu", i);
		}
	}
	as4_sink_cleanup(&sink);
	return err;
}

static as4_err build_parts(const struct as4_msg_out_params *p, const struct as4_submission *sub,
                           struct as4_msg_out *o, struct as4_part_info *infos, struct as4_diag *d)
{
	const char *domain = cid_domain(p, o->message_id);
	for (size_t i = 0; i < sub->n_payloads; i++) {
		const struct as4_submission_payload *sp = &sub->payloads[i];
		struct as4_part *part = &o->parts[i];
		as4_part_init(part);
		o->n_parts = i + 1;
		char field[64];
		if (as4_str_fmt(field, sizeof(field), "payloads[%zu].mime_type", i) != AS4_OK) {
			/* bounded index: always fits */
		}
		if (sp->mime_type == NULL || sp->mime_type[0] == '\0') {
			return as4_diag_set_field(d, AS4_E_INVAL, field, "%s is required", field);
		}
		const char *cid = sp->content_id;
		if (cid == NULL) {
			if (as4_str_fmt(field, sizeof(field), "payloads[%zu].content_id", i) !=
			    AS4_OK) {
				/* bounded index: always fits */
			}
			as4_err err = gen_id(o, domain, field, &cid, d);
			if (err != AS4_OK) {
				return err;
			}
		}
		part->content_id = cid;
		infos[i].content_id = cid;
		infos[i].mime_type = sp->mime_type;
		infos[i].charset = sp->charset;
		infos[i].props = sp->props;
		infos[i].n_props = sp->n_props;
		bool compress = sp->compress == AS4_COMPRESS_PMODE
		                        ? p->pmode->compress
		                        : sp->compress == AS4_COMPRESS_YES;
		if (compress) {
			as4_err err = compress_part(p, &sp->data, i, part, d);
			if (err != AS4_OK) {
				return err;
			}
			part->content_type = AS4_COMPRESSION_GZIP;
			infos[i].compression = AS4_COMPRESSION_GZIP;
		} else {
			as4_blob_borrow(&part->data, sp->data.data, sp->data.len);
			part->content_type = sp->mime_type;
		}
	}
	return AS4_OK;
}

/* wsu:Id="id-<32 hex digits of SHA-256(element name, MessageId)>" on el. */
static as4_err stable_id(xmlNode *el, const char *message_id, const char *what, struct as4_diag *d)
{
	uint8_t md[32];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	          EVP_DigestUpdate(ctx, what, strlen(what) + 1) == 1 &&
	          EVP_DigestUpdate(ctx, message_id, strlen(message_id)) == 1 &&
	          EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == sizeof(md);
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		return as4_diag_set(d, AS4_E_CRYPTO, "cannot derive the wsu:Id of %s", what);
	}
	char hex[33];
	as4_hex_encode(md, 16, hex);
	char id[64];
	if (as4_str_fmt(id, sizeof(id), "id-%s", hex) != AS4_OK) {
		return as4_diag_set(d, AS4_E_INTERNAL, "wsu:Id too long");
	}
	xmlNs *wsu = xmlSearchNsByHref(el->doc, el, BAD_CAST AS4_NS_WSU);
	if (wsu == NULL || wsu->prefix == NULL) {
		wsu = xmlNewNs(el, BAD_CAST AS4_NS_WSU, BAD_CAST "wsu");
	}
	if (wsu == NULL || xmlSetNsProp(el, wsu, BAD_CAST "Id", BAD_CAST id) == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	return AS4_OK;
}

/* Stable wsu:Ids on eb:Messaging and the Body (see as4_msg_out_params.stable_ids). */
static as4_err set_stable_ids(struct as4_msg_out *o, struct as4_diag *d)
{
	xmlNode *env = xmlDocGetRootElement(o->doc);
	xmlNode *header = env != NULL ? as4_xml_child(env, AS4_NS_SOAP12, "Header") : NULL;
	xmlNode *body = env != NULL ? as4_xml_child(env, AS4_NS_SOAP12, "Body") : NULL;
	xmlNode *messaging = header != NULL ? as4_xml_child(header, AS4_NS_EB, "Messaging") : NULL;
	if (messaging == NULL || body == NULL) {
		return as4_diag_set(d, AS4_E_INTERNAL, "built envelope lacks eb:Messaging or Body");
	}
	as4_err err = stable_id(messaging, o->message_id, "eb:Messaging", d);
	if (err == AS4_OK) {
		err = stable_id(body, o->message_id, "S12:Body", d);
	}
	return err;
}

static as4_err seal(const struct as4_msg_out_params *p, const struct as4_submission *sub,
                    struct as4_msg_out *o, struct as4_diag *d)
{
	const struct as4_pmode *pm = p->pmode;
	struct as4_user_message um;
	memset(&um, 0, sizeof(um));
	as4_err err = AS4_OK;
	if (sub->message_id != NULL) {
		o->message_id = as4_arena_strdup(o->arena, sub->message_id);
		if (o->message_id == NULL) {
			return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
	} else {
		err = gen_id(o, p->id_domain, "message_id", &o->message_id, d);
		if (err != AS4_OK) {
			return err;
		}
	}
	um.message_id = o->message_id;
	um.ref_to_message_id = sub->ref_to_message_id;
	o->timestamp_ms = sub->timestamp_ms != 0 ? sub->timestamp_ms : as4_time_now_ms();
	um.timestamp_ms = o->timestamp_ms;
	if (sub->conversation_id != NULL) {
		um.conversation_id = sub->conversation_id;
	} else {
		char uuid[37];
		err = as4_uuid_v4(uuid);
		if (err != AS4_OK) {
			return as4_diag_set(d, err, "cannot generate a ConversationId");
		}
		um.conversation_id = as4_arena_strdup(o->arena, uuid);
		if (um.conversation_id == NULL) {
			return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
	}
	err = party_from(o, &sub->from, pm->initiator, pm->initiator_role, AS4_ROLE_INITIATOR,
	                 "from", &um.from, d);
	if (err == AS4_OK) {
		err = party_from(o, &sub->to, pm->responder, pm->responder_role, AS4_ROLE_RESPONDER,
		                 "to", &um.to, d);
	}
	if (err != AS4_OK) {
		return err;
	}
	if (sub->agreement != NULL) {
		um.agreement = sub->agreement;
		um.agreement_type = sub->agreement_type;
	} else {
		um.agreement = pm->agreement;
		um.agreement_type = pm->agreement_type;
	}
	um.agreement_pmode = um.agreement != NULL ? sub->agreement_pmode : NULL;
	if (sub->service != NULL) {
		um.service = sub->service;
		um.service_type = sub->service_type;
	} else {
		um.service = pm->service;
		um.service_type = pm->service_type;
	}
	um.action = sub->action != NULL ? sub->action : pm->action;
	um.mpc = sub->mpc != NULL ? sub->mpc : pm->mpc;
	if (um.mpc != NULL && strcmp(um.mpc, AS4_DEFAULT_MPC) == 0) {
		um.mpc = NULL; /* ebMS3 Core §5.2.2: absent means the default MPC */
	}
	um.props = sub->props;
	um.n_props = sub->n_props;
	if (sub->n_payloads > 0) {
		if (sub->n_payloads > p->limits->max_parts - 1 || p->limits->max_parts == 0) {
			return as4_diag_set_field(
			        d, AS4_E_LIMIT, "payloads",
			        "%zu payloads exceed the limit of %zu parts per message",
			        sub->n_payloads, p->limits->max_parts);
		}
		o->parts = as4_arena_calloc(o->arena, sub->n_payloads, sizeof(*o->parts));
		struct as4_part_info *infos =
		        as4_arena_calloc(o->arena, sub->n_payloads, sizeof(*infos));
		if (o->parts == NULL || infos == NULL) {
			return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
		um.parts = infos;
		um.n_parts = sub->n_payloads;
		err = build_parts(p, sub, o, infos, d);
		if (err != AS4_OK) {
			return err;
		}
	}
	err = as4_ebms3_build_user_message(&um, &o->doc, d);
	if (err == AS4_OK && p->stable_ids) {
		err = set_stable_ids(o, d);
	}
	if (err != AS4_OK) {
		return err;
	}
	bool sign = !pm->security_none && pm->security.sign;
	bool encrypt = !pm->security_none && pm->security.encrypt;
	if (sign && p->signer == NULL) {
		return as4_diag_set(d, AS4_E_CONFIG,
		                    "PMode '%s' signs, but no signing key was given", pm->id);
	}
	if (encrypt && p->receiver_cert == NULL) {
		return as4_diag_set(d, AS4_E_CONFIG,
		                    "PMode '%s' encrypts, but no receiver certificate was given",
		                    pm->id);
	}
	if (sign || encrypt) {
		struct as4_wss_seal_params sp = {
		        .signer = sign ? p->signer : NULL,
		        .sig_alg = (enum as4_sig_alg)pm->security.sig_alg,
		        .pkipath = pm->security.pkipath,
		        .encrypt_for = encrypt ? p->receiver_cert : NULL,
		        .key_transport = (enum as4_key_transport)pm->security.key_transport,
		        .data_alg = (enum as4_data_alg)pm->security.data_alg,
		        .encrypt_keyref = (enum as4_keyref)pm->security.keyref,
		        .spool_dir = p->spool_dir,
		        .spool_threshold = p->limits->mem_spool_threshold,
		};
		err = as4_wss_seal(&sp, o->doc, o->parts, o->n_parts, &o->signed_refs, d);
		if (err != AS4_OK) {
			return err;
		}
		o->signed_msg = sign;
		o->encrypted = encrypt && o->n_parts > 0;
	}
	struct as4_buf env;
	as4_buf_init(&env, p->limits->max_soap);
	err = as4_ebms3_serialize(o->doc, &env);
	if (err != AS4_OK) {
		as4_buf_cleanup(&env);
		return as4_diag_set(d, err, "cannot serialise the envelope (limit %zu bytes)",
		                    p->limits->max_soap);
	}
	as4_blob_take_buf(&o->root.data, &env);
	/*
	 * The bytes are all that is sent, resent and stored: the tree goes now, while its nodes
	 * are still in this core's cache. Freed after the exchange (milliseconds and many other
	 * messages later) it was 4 % of the sender's time in cache misses.
	 */
	xmlFreeDoc(o->doc);
	o->doc = NULL;
	o->root.content_type = AS4_SOAP_CONTENT_TYPE;
	o->root.content_id = as4_arena_sprintf(o->arena, "root.%s", o->message_id);
	if (o->root.content_id == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	err = as4_mime_build(&o->root, o->parts, o->n_parts, &o->mime);
	if (err != AS4_OK) {
		return as4_diag_set(d, err, "cannot build the MIME body");
	}
	return AS4_OK;
}

as4_err as4_msg_out_seal(const struct as4_msg_out_params *p, const struct as4_submission *sub,
                         struct as4_msg_out **out, struct as4_diag *d)
{
	*out = NULL;
	if (p == NULL || p->pmode == NULL || p->limits == NULL || sub == NULL ||
	    (sub->n_payloads > 0 && sub->payloads == NULL)) {
		return as4_diag_set(d, AS4_E_INVAL, "as4_msg_out_seal: missing parameters");
	}
	struct as4_msg_out *o = calloc(1, sizeof(*o));
	if (o == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	as4_part_init(&o->root);
	o->arena = as4_arena_new(0);
	as4_err err = o->arena == NULL ? as4_diag_set(d, AS4_E_NOMEM, "out of memory")
	                               : seal(p, sub, o, d);
	if (err != AS4_OK) {
		as4_msg_out_free(o);
		return err;
	}
	*out = o;
	return AS4_OK;
}

/* ---- the answer to a sent message ----------------------------------------------------- */

static bool http_ok(int status)
{
	return status >= 200 && status < 300;
}

/* Verify the security of a response signal; require: the PMode asks for signed receipts. */
static as4_err verify_signal(const struct as4_response_params *p, struct as4_msg *r, bool require,
                             struct as4_diag *d)
{
	if (!require && !r->ebms.has_security) {
		return AS4_OK;
	}
	X509 *acc[1] = {p->partner_cert};
	struct as4_wss_open_params wp = {
	        .trust = p->trust,
	        .accepted = p->partner_cert != NULL ? acc : NULL,
	        .n_accepted = p->partner_cert != NULL ? 1 : 0,
	        .require_signature = require,
	        /* an unrequired signature is still checked for integrity when nothing can vouch
	         * for the signer */
	        .structural_only = !require && p->partner_cert == NULL && p->trust == NULL,
	        .at_ms = p->at_ms,
	        .limits = p->limits,
	        .spool_threshold = p->limits->mem_spool_threshold,
	        .arena = r->arena,
	};
	r->wss_done = true;
	return as4_wss_open(&wp, r->doc, r->mime.parts + 1, r->mime.n_parts - 1, &r->wss, d);
}

static as4_err check_receipt(const struct as4_msg_out *sent, const struct as4_response_params *p,
                             struct as4_msg *r, struct as4_diag *d)
{
	const struct as4_signal_message *s = &r->ebms.signal;
	if (s->ref_to_message_id == NULL || strcmp(s->ref_to_message_id, sent->message_id) != 0) {
		return as4_diag_set(
		        d, AS4_E_INVALID_RECEIPT,
		        "the receipt refers to '%.100s', not to the message sent ('%.100s')",
		        s->ref_to_message_id != NULL ? s->ref_to_message_id : "(nothing)",
		        sent->message_id);
	}
	bool require = !p->pmode->security_none && p->pmode->security.receipt_signed;
	struct as4_diag vd;
	as4_diag_init(&vd);
	if (verify_signal(p, r, require, &vd) != AS4_OK) {
		return as4_diag_set(d, AS4_E_INVALID_RECEIPT, "receipt security: %s",
		                    as4_diag_text(&vd));
	}
	if (sent->signed_refs.n == 0) {
		return AS4_OK;
	}
	if (s->n_nri == 0) {
		return as4_diag_set(d, AS4_E_INVALID_RECEIPT,
		                    "the message was signed, but the receipt has no "
		                    "NonRepudiationInformation");
	}
	/* AS4 §5.1.8: the NRI must repeat every reference we signed, digest for digest */
	for (size_t i = 0; i < sent->signed_refs.n; i++) {
		const struct as4_signed_ref *ref = &sent->signed_refs.refs[i];
		const struct as4_nri_ref *hit = NULL;
		for (size_t k = 0; k < s->n_nri && hit == NULL; k++) {
			if (strcmp(s->nri[k].uri, ref->uri) == 0) {
				hit = &s->nri[k];
			}
		}
		if (hit == NULL) {
			return as4_diag_set(
			        d, AS4_E_INVALID_RECEIPT,
			        "the receipt does not repeat the signed reference %.100s",
			        ref->uri);
		}
		if (strcmp(hit->digest_value, ref->digest_value) != 0 ||
		    (ref->digest_method != NULL &&
		     strcmp(hit->digest_method, ref->digest_method) != 0)) {
			return as4_diag_set(
			        d, AS4_E_INVALID_RECEIPT,
			        "the receipt's digest of %.100s differs from the one signed",
			        ref->uri);
		}
	}
	return AS4_OK;
}

static as4_err check_error(const struct as4_msg_out *sent, const struct as4_response_params *p,
                           struct as4_msg *r, struct as4_diag *d)
{
	const struct as4_signal_message *s = &r->ebms.signal;
	struct as4_diag vd;
	as4_diag_init(&vd);
	if (verify_signal(p, r, false, &vd) != AS4_OK) {
		return as4_diag_set(d, AS4_E_PEER_BAD, "error signal security: %s",
		                    as4_diag_text(&vd));
	}
	const struct as4_ebms_error *fail = NULL;
	for (size_t i = 0; i < s->n_errors; i++) {
		const struct as4_ebms_error *e = &s->errors[i];
		const char *ref = e->ref_to_message_in_error != NULL ? e->ref_to_message_in_error
		                                                     : s->ref_to_message_id;
		if (ref != NULL && strcmp(ref, sent->message_id) != 0) {
			return as4_diag_set(
			        d, AS4_E_PEER_BAD,
			        "the error signal is about '%.100s', not about the message "
			        "sent",
			        ref);
		}
		if (fail == NULL && strcmp(e->severity, "failure") == 0) {
			fail = e;
		}
	}
	const struct as4_ebms_error *e = fail != NULL ? fail : &s->errors[0];
	const char *short_desc = e->short_description != NULL
	                                 ? e->short_description
	                                 : as4_ebms_short_description(e->error_code);
	const char *detail = e->detail != NULL && e->detail[0] != '\0' ? e->detail : e->description;
	return as4_diag_set(d, fail != NULL ? AS4_E_PEER_ERROR : AS4_E_PEER_BAD, "%s%s %s: %.300s",
	                    fail != NULL ? "" : "warning only: ", e->error_code,
	                    short_desc != NULL ? short_desc : "error",
	                    detail != NULL ? detail : "(no detail)");
}

as4_err as4_msg_out_check_response(const struct as4_msg_out *sent,
                                   const struct as4_response_params *p, int http_status,
                                   const char *content_type, const struct as4_blob *body,
                                   struct as4_msg **resp, struct as4_diag *d)
{
	if (resp != NULL) {
		*resp = NULL;
	}
	if (sent == NULL || p == NULL || p->pmode == NULL || p->limits == NULL || body == NULL) {
		return as4_diag_set(d, AS4_E_INVAL,
		                    "as4_msg_out_check_response: missing parameters");
	}
	as4_err not_signal = http_ok(http_status) ? AS4_E_PEER_BAD : AS4_E_PEER_HTTP;
	if (body->len == 0) {
		return as4_diag_set(d, not_signal, "the peer answered HTTP %d without a body",
		                    http_status);
	}
	if (body->len > p->limits->max_receipt) {
		return as4_diag_set(d, not_signal,
		                    "the peer answered HTTP %d with %zu bytes, more than the %zu a "
		                    "signal may have",
		                    http_status, body->len, p->limits->max_receipt);
	}
	struct as4_blob view;
	as4_blob_borrow(&view, body->data, body->len);
	struct as4_msg *r = ebms3_msg_new(&view);
	if (r == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	struct as4_diag od;
	as4_diag_init(&od);
	as4_err err = ebms3_msg_open_envelope(r, content_type, p->limits, NULL, &od);
	if (err == AS4_OK && r->ebms.kind != AS4_UNIT_SIGNAL) {
		err = as4_diag_set(&od, AS4_E_HEADER, "the answer is a UserMessage, not a signal");
	}
	if (err != AS4_OK) {
		r->err = err;
		err = as4_diag_set(d, not_signal,
		                   "the peer answered HTTP %d with no ebMS signal: %s", http_status,
		                   as4_diag_text(&od));
		goto out;
	}
	r->stage = AS4_STAGE_SECURITY;
	switch (r->ebms.signal.kind) {
	case AS4_SIGNAL_RECEIPT:
		if (!http_ok(http_status)) {
			err = as4_diag_set(d, AS4_E_PEER_HTTP,
			                   "the peer answered HTTP %d with a receipt", http_status);
			break;
		}
		err = check_receipt(sent, p, r, d);
		break;
	case AS4_SIGNAL_ERROR:
		err = check_error(sent, p, r, d);
		break;
	default:
		err = as4_diag_set(d, not_signal, "the peer answered with a PullRequest");
		break;
	}
	r->err = err;
	r->stage = err == AS4_OK ? AS4_STAGE_DONE : r->stage;
out:
	if (resp != NULL) {
		*resp = r;
	} else {
		as4_msg_free(r);
	}
	return err;
}

bool as4_msg_response_summary(const struct as4_msg *resp, struct as4_store_receipt_info *out)
{
	memset(out, 0, sizeof(*out));
	/* a MIME package would not parse as one envelope: that reader finds it unreadable */
	if (resp == NULL || resp->err != AS4_OK || resp->ebms.kind != AS4_UNIT_SIGNAL ||
	    resp->mime.n_parts != 1 || resp->mime.boundary != NULL ||
	    resp->mime.parts[0].data.data != resp->body.data ||
	    resp->mime.parts[0].data.len != resp->body.len) {
		return false;
	}
	as4_ebms3_receipt_summary(&resp->ebms, out);
	return true;
}
