/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The signals the edge answers a received request with: a Receipt for an accepted
 * UserMessage (AS4 §5.1.8) and an ebMS Error with the SOAP Fault for a refused one, both
 * signed when a key is given, serialised for the HTTP response.
 */
#include "as4/msg.h"

#include <string.h>

#include "ebms3_int.h"

/* Largest signal envelope written: a Receipt copying a UserMessage header is the biggest. */
#define SIGNAL_MAX (8u * 1024 * 1024)

void as4_signal_out_cleanup(struct as4_signal_out *o)
{
	if (o == NULL) {
		return;
	}
	as4_buf_cleanup(&o->body);
}

static void signal_out_init(struct as4_signal_out *o)
{
	memset(o, 0, sizeof(*o));
	as4_buf_init(&o->body, SIGNAL_MAX);
	o->content_type = AS4_SOAP_CONTENT_TYPE;
}

/* Sign (when asked) and serialise doc into out. Takes doc. */
static as4_err finish_signal(xmlDoc *doc, const struct as4_signal_params *p,
                             struct as4_signal_out *out, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	if (p->signer != NULL) {
		err = as4_wss_sign_signal(p->signer, p->sig_alg, doc, d);
	}
	if (err == AS4_OK) {
		err = as4_ebms3_serialize(doc, &out->body);
		if (err != AS4_OK) {
			err = as4_diag_set(d, err, "cannot serialise the signal");
		}
	}
	xmlFreeDoc(doc);
	return err;
}

static as4_err new_id(const struct as4_signal_params *p, struct as4_signal_out *out,
                      struct as4_diag *d)
{
	as4_err err =
	        as4_ebms3_new_message_id(p->id_domain, out->message_id, sizeof(out->message_id));
	if (err != AS4_OK) {
		return as4_diag_set(d, err, "cannot make a signal MessageId for domain '%.80s'",
		                    p->id_domain != NULL ? p->id_domain : "");
	}
	return AS4_OK;
}

as4_err as4_msg_receipt(const struct as4_msg *m, const struct as4_signal_params *p,
                        struct as4_signal_out *out, struct as4_diag *d)
{
	signal_out_init(out);
	if (m == NULL || m->err != AS4_OK || m->stage != AS4_STAGE_DONE ||
	    m->ebms.kind != AS4_UNIT_USER_MESSAGE) {
		return as4_diag_set(d, AS4_E_INVAL,
		                    "a receipt is only given for an accepted UserMessage");
	}
	as4_err err = new_id(p, out, d);
	if (err != AS4_OK) {
		return err;
	}
	/* AS4 §5.1.8: NRI when the message was signed, otherwise a copy of the UserMessage */
	bool nri = m->wss_done && m->wss.signed_msg && m->wss.refs.n > 0;
	struct as4_receipt_spec spec = {
	        .message_id = out->message_id,
	        .timestamp_ms = p->now_ms,
	        .ref_to_message_id = m->ebms.user.message_id,
	        .refs = nri ? &m->wss.refs : NULL,
	        .user_message = m->ebms.unit,
	};
	xmlDoc *doc = NULL;
	err = as4_ebms3_build_receipt(&spec, &doc, d);
	if (err != AS4_OK) {
		return err;
	}
	err = finish_signal(doc, p, out, d);
	if (err == AS4_OK) {
		out->http_status = 200;
	}
	return err;
}

as4_err as4_msg_error_signal(const char *ref_to, as4_err err, const char *detail,
                             const struct as4_signal_params *p, struct as4_signal_out *out,
                             struct as4_diag *d)
{
	signal_out_init(out);
	as4_err e2 = new_id(p, out, d);
	if (e2 != AS4_OK) {
		return e2;
	}
	struct as4_ebms_error e;
	as4_ebms3_error_from_err(err, detail, ref_to, &e);
	struct as4_error_spec spec = {
	        .message_id = out->message_id,
	        .timestamp_ms = p->now_ms,
	        .ref_to_message_id = ref_to,
	        .errors = &e,
	        .n_errors = 1,
	        .soap_fault = true,
	        .fault_receiver = as4_ebms3_fault_is_receiver(err),
	};
	xmlDoc *doc = NULL;
	e2 = as4_ebms3_build_error(&spec, &doc, d);
	if (e2 != AS4_OK) {
		return e2;
	}
	e2 = finish_signal(doc, p, out, d);
	if (e2 == AS4_OK) {
		/* Domibus answers errors with HTTP 500 and the Fault; senders accept 200 or 500 */
		out->http_status = 500;
	}
	return e2;
}
