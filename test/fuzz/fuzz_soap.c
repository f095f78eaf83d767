/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: a SOAP envelope's eb:Messaging and signals from arbitrary bytes (the same path
 * as a received request and as a response read back by the sender): hardened XML parse,
 * eb:Messaging structure, the value rules, and the builders fed with what was read (a parsed
 * UserMessage is written again and must parse again; a parsed signal becomes an Error or a
 * Receipt).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "as4/ebms3.h"
#include "as4/xml.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	as4_xml_global_init();
	return 0;
}

/* Build what was read and parse it again; a round trip must never fail on a valid model. */
static void rebuild_user_message(const struct as4_user_message *um)
{
	bool attachments_only = true;
	for (size_t i = 0; i < um->n_parts; i++) {
		attachments_only =
		        attachments_only && !um->parts[i].in_body && um->parts[i].mime_type != NULL;
	}
	xmlDoc *doc = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	if (as4_ebms3_build_user_message(um, &doc, &d) != AS4_OK) {
		/* parsed values the builder refuses: in_body parts, cid: needing escapes */
		if (attachments_only && d.err != AS4_E_INVAL && d.err != AS4_E_NOMEM) {
			abort();
		}
		return;
	}
	struct as4_buf b;
	as4_buf_init(&b, 1u << 24);
	if (as4_ebms3_serialize(doc, &b) == AS4_OK) {
		struct as4_arena *arena = as4_arena_new(0);
		xmlDoc *again = NULL;
		struct as4_messaging m;
		if (arena != NULL) {
			as4_diag_init(&d);
			if (as4_ebms3_parse_bytes(b.data, b.len, NULL, arena, &again, &m, &d) !=
			            AS4_OK ||
			    strcmp(m.user.message_id, um->message_id) != 0 ||
			    m.user.n_parts != um->n_parts || m.user.n_props != um->n_props) {
				abort();
			}
		}
		xmlFreeDoc(again);
		as4_arena_free(arena);
	}
	as4_buf_cleanup(&b);
	xmlFreeDoc(doc);
}

static void answer_signal(const struct as4_messaging *m)
{
	const struct as4_signal_message *s = &m->signal;
	xmlDoc *doc = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	if (s->kind == AS4_SIGNAL_ERROR) {
		struct as4_error_spec spec = {"fuzz@example.org", 1,    s->message_id, s->errors,
		                              s->n_errors,        true, false};
		if (as4_ebms3_build_error(&spec, &doc, &d) != AS4_OK && d.err != AS4_E_NOMEM) {
			abort(); /* parsed errors have code and severity: must always be buildable
			          */
		}
	} else if (s->kind == AS4_SIGNAL_RECEIPT && s->n_nri > 0) {
		struct as4_signed_ref *refs = calloc(s->n_nri, sizeof(*refs));
		if (refs == NULL) {
			return;
		}
		for (size_t i = 0; i < s->n_nri; i++) {
			refs[i].uri = (char *)(uintptr_t)s->nri[i].uri;
			refs[i].digest_method = (char *)(uintptr_t)s->nri[i].digest_method;
			refs[i].digest_value = (char *)(uintptr_t)s->nri[i].digest_value;
		}
		struct as4_signed_refs list = {refs, s->n_nri, NULL};
		struct as4_receipt_spec spec = {"fuzz@example.org", 1, s->message_id, &list, NULL};
		if (as4_ebms3_build_receipt(&spec, &doc, &d) != AS4_OK && d.err != AS4_E_NOMEM &&
		    d.err != AS4_E_INVAL) {
			abort();
		}
		free(refs);
	}
	xmlFreeDoc(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct as4_limits lim;
	as4_limits_default(&lim);
	lim.max_xml_nodes = 20000;
	struct as4_arena *arena = as4_arena_new(0);
	if (arena == NULL) {
		return 0;
	}
	xmlDoc *doc = NULL;
	struct as4_messaging m;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_ebms3_parse_bytes(data, size, &lim, arena, &doc, &m, &d);
	if (err == AS4_OK && m.kind == AS4_UNIT_USER_MESSAGE) {
		as4_diag_init(&d);
		if (as4_ebms3_check_user_message(&m.user, &d) == AS4_OK) {
			rebuild_user_message(&m.user);
		}
	} else if (err == AS4_OK && m.kind == AS4_UNIT_SIGNAL) {
		answer_signal(&m);
	} else if (err != AS4_OK && d.text[0] == '\0') {
		abort(); /* every refusal carries a diagnostic */
	}
	xmlFreeDoc(doc);
	as4_arena_free(arena);
	return 0;
}
