/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MedCom / EHMI profile at the edge: a received envelope must agree with the AS4 header
 * (eDelivery AS4 1.15 four-corner: originalSender = C1, finalRecipient = C4) and be for a
 * participant we serve. Logs name identifiers only (MEDCOM.md: CPR never in plain logs).
 */
#include "as4/medcom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as4/log.h"
#include "as4/str.h"

as4_err as4_medcom_check_profile(const struct as4_config *cfg, const struct as4_sbdh *sb,
                                 bool outbound, struct as4_diag *d)
{
	const struct as4_medcom_config *mc = &cfg->medcom;
	if (mc->n_documents > 0) {
		const struct as4_medcom_document *doc =
		        as4_config_medcom_document(cfg, sb->document_id);
		if (doc == NULL) {
			return as4_diag_set_field(d, AS4_E_SBDH_INVALID, "DOCUMENTID",
			                          "document type '%.200s' is not one of the %zu in "
			                          "medcom.documents (compared exactly)",
			                          sb->document_id, mc->n_documents);
		}
		if (doc->max_payload > 0 && sb->content_len > doc->max_payload) {
			return as4_diag_set_field(
			        d, AS4_E_LIMIT, "BinaryContent",
			        "the FHIR message is %zu bytes, over the limit of "
			        "%llu bytes for %s",
			        sb->content_len, (unsigned long long)doc->max_payload,
			        doc->name != NULL ? doc->name : "this document type");
		}
	}
	if (mc->n_processes > 0) {
		bool ok = false;
		for (size_t i = 0; i < mc->n_processes && !ok; i++) {
			ok = strcmp(mc->processes[i], sb->process_id) == 0;
		}
		if (!ok) {
			return as4_diag_set_field(d, AS4_E_SBDH_INVALID, "PROCESSID",
			                          "process '%.200s' is not in medcom.processes",
			                          sb->process_id);
		}
	}
	if (outbound && cfg->n_participants > 0 &&
	    as4_config_participant(cfg, sb->sender) == NULL) {
		return as4_diag_set_field(d, AS4_E_SBDH_INVALID, "Sender",
		                          "Sender %s is not a participant this gateway serves",
		                          sb->sender);
	}
	return AS4_OK;
}

/* A four-corner property value without the optional "iso6523-actorid-upis::" prefix. */
static const char *corner_value(const struct as4_user_message *um, const char *name)
{
	const char *v = as4_user_message_property(um, name);
	if (v != NULL && as4_str_starts(v, AS4_SBDH_AUTHORITY "::")) {
		v += strlen(AS4_SBDH_AUTHORITY "::");
	}
	return v;
}

static as4_err set_str(char **dst, const char *s, struct as4_diag *d)
{
	free(*dst);
	*dst = s != NULL ? as4_str_dup(s) : NULL;
	return s != NULL && *dst == NULL ? as4_diag_set(d, AS4_E_NOMEM, "out of memory") : AS4_OK;
}

/* The MessageId of an earlier received message with this InstanceIdentifier into out. */
static as4_err find_duplicate(struct as4_store *st, const char *instance, char *out, size_t cap,
                              struct as4_diag *d)
{
	struct as4_store_filter f = {0};
	struct as4_msgrec *recs = NULL;
	size_t n = 0;
	char next[AS4_STORE_CURSOR_MAX];
	f.dir = AS4_DIR_IN;
	f.sbdh_instance_id = instance;
	out[0] = '\0';
	as4_err err = as4_store_search(st, &f, NULL, 1, &recs, &n, next, d);
	if (err == AS4_OK && n > 0 && as4_str_copy(out, cap, recs[0].message_id) != AS4_OK) {
		out[0] = '\0';
	}
	as4_msgrec_array_free(recs, n);
	return err;
}

as4_err as4_medcom_inbound(struct as4_store *st, const struct as4_config *cfg,
                           const struct as4_msg *m, struct as4_msgrec *rec,
                           struct as4_medcom_in *in, struct as4_diag *d)
{
	struct as4_sbdh_rules rules;
	struct as4_sbdh *sb = NULL;
	memset(in, 0, sizeof(*in));
	const struct as4_payload *p = m->n_payloads > 0 ? &m->payloads[0] : NULL;
	if (p == NULL || !as4_sbdh_sniff(p->data.data, p->data.len)) {
		if (cfg->medcom.require_sbdh) {
			return as4_diag_set(
			        d, AS4_E_SBDH_INVALID,
			        "the first payload is not an ehmiSBDH "
			        "StandardBusinessDocument (this access point requires one)");
		}
		return AS4_OK;
	}
	as4_config_sbdh_rules(cfg, &rules, NULL);
	as4_err err = as4_sbdh_parse(p->data.data, p->data.len, &rules, &sb, d);
	if (err == AS4_OK) {
		err = as4_medcom_check_profile(cfg, sb, false, d);
	}
	if (err != AS4_OK) {
		as4_diag_prefix(d, "SBDH: ");
		goto out;
	}
	in->sbdh = true;
	const struct as4_user_message *um = &m->ebms.user;
	const char *c4 = corner_value(um, "finalRecipient");
	const char *c1 = corner_value(um, "originalSender");
	if (c4 == NULL || strcmp(c4, sb->receiver) != 0) {
		err = as4_diag_set_field(d, AS4_E_ROUTING, "finalRecipient",
		                         "SBDH Receiver '%s' does not match the finalRecipient "
		                         "property '%.140s'",
		                         sb->receiver, c4 != NULL ? c4 : "(absent)");
		goto out;
	}
	if (c1 == NULL || strcmp(c1, sb->sender) != 0) {
		err = as4_diag_set_field(d, AS4_E_ROUTING, "originalSender",
		                         "SBDH Sender '%s' does not match the originalSender "
		                         "property '%.140s'",
		                         sb->sender, c1 != NULL ? c1 : "(absent)");
		goto out;
	}
	if (as4_config_participant(cfg, sb->receiver) == NULL) {
		err = as4_diag_set_field(d, AS4_E_PMODE_MISMATCH, "finalRecipient",
		                         "SBDH Receiver %s is not a participant this access point "
		                         "serves (%zu configured)",
		                         sb->receiver, cfg->n_participants);
		goto out;
	}
	err = set_str(&rec->sbdh_instance_id, sb->instance_id, d);
	if (err == AS4_OK) {
		err = set_str(&rec->medcom_message_id, sb->medcom_message_id, d);
	}
	if (err == AS4_OK &&
	    as4_str_copy(in->instance_id, sizeof(in->instance_id), sb->instance_id) != AS4_OK) {
		in->instance_id[0] = '\0';
	}
	if (err == AS4_OK) {
		err = find_duplicate(st, sb->instance_id, in->duplicate_of,
		                     sizeof(in->duplicate_of), d);
	}
out:
	as4_sbdh_free(sb);
	return err;
}

void as4_medcom_inbound_stored(struct as4_store *st, const struct as4_msgrec *rec,
                               const struct as4_medcom_in *in)
{
	if (!in->sbdh || in->duplicate_of[0] == '\0') {
		return;
	}
	char reason[600];
	snprintf(reason, sizeof(reason),
	         "duplicate SBDH InstanceIdentifier %s: also carried by message %s",
	         in->instance_id, in->duplicate_of);
	struct as4_log_ctx lc = {rec->message_id, rec->pmode_id, rec->from.value, NULL};
	as4_log_ctx(AS4_LOG_WARNING, &lc, "%s", reason);
	struct as4_store_update u = {0};
	u.to = rec->state;
	u.reason = reason;
	struct as4_diag d;
	as4_diag_init(&d);
	if (as4_store_transition(st, rec->id, &u, &d) != AS4_OK) {
		as4_log_ctx(AS4_LOG_WARNING, &lc, "cannot record the duplicate in the history: %s",
		            as4_diag_text(&d));
	}
}
