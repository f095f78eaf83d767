/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: ehmiSBDH envelopes and FHIR messages (ap/sbdh). Each input is parsed as an
 * envelope and as FHIR XML and JSON under small caps, and sniffed. Invariants: an envelope
 * that parses without errors has its routing fields, content within the cap, a valid GLN for
 * 0088 parties and re-wraps into an envelope that parses without errors to the same fields
 * and bytes; the first error's code is the returned one; the CPR value is never kept.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "as4/sbdh.h"
#include "as4/str.h"
#include "as4/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool ok)
{
	if (!ok) {
		abort();
	}
}

static void rewrap(const struct as4_sbdh *sb, const struct as4_sbdh_rules *r)
{
	struct as4_sbdh_wrap w = {0};
	w.sender = sb->sender;
	w.receiver = sb->receiver;
	w.document_id = sb->document_id;
	w.process_id = sb->process_id;
	w.mime_type = sb->mime_type;
	w.instance_id = sb->instance_id;
	w.created = sb->created;
	w.standard = sb->standard;
	w.type_version = sb->type_version;
	w.message_id = sb->message_identifier != NULL ? sb->message_identifier : "m";
	w.rules = r;
	struct as4_buf out;
	as4_buf_init(&out, 1u << 22);
	struct as4_diag d;
	as4_diag_init(&d);
	/* values with characters XML 1.0 cannot carry are refused, never written */
	if (as4_sbdh_wrap(&w, sb->content, sb->content_len, &out, &d) == AS4_OK) {
		struct as4_sbdh *back = NULL;
		as4_diag_init(&d);
		as4_err err = as4_sbdh_parse(out.data, out.len, r, &back, &d);
		require(back != NULL || err == AS4_E_NOMEM);
		if (back != NULL && sb->fhir.read) {
			/* the same bytes, the same routing */
			require(back->content_len == sb->content_len &&
			        memcmp(back->content, sb->content, sb->content_len) == 0);
			require(back->sender != NULL && strcmp(back->sender, sb->sender) == 0);
			require(back->receiver != NULL &&
			        strcmp(back->receiver, sb->receiver) == 0);
		}
		as4_sbdh_free(back);
	}
	as4_buf_cleanup(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		as4_xml_global_init();
		init = true;
	}
	struct as4_limits lim;
	as4_limits_default(&lim);
	lim.max_xml_nodes = 20000;
	lim.max_xml_depth = 32;
	struct as4_sbdh_rules r = {0};
	r.max_content = 1u << 20;
	r.limits = &lim;
	struct as4_sbdh *sb = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	(void)as4_sbdh_sniff(data, size);
	as4_err err = as4_sbdh_parse(data, size, &r, &sb, &d);
	require(sb != NULL || err == AS4_E_NOMEM);
	if (sb != NULL) {
		require((err == AS4_OK) == (sb->n_errors == 0));
		for (size_t i = 0; i < sb->n_scopes; i++) {
			require(sb->scopes[i].type == NULL ||
			        strcmp(sb->scopes[i].type, "PATIENTID") != 0 ||
			        sb->scopes[i].instance_id == NULL);
		}
		if (err == AS4_OK) {
			require(sb->sender != NULL && sb->receiver != NULL &&
			        sb->document_id != NULL && sb->process_id != NULL &&
			        sb->instance_id != NULL);
			require(sb->content != NULL && sb->content_len <= r.max_content);
			require(!as4_str_starts(sb->receiver, "0088:") ||
			        as4_gln_valid(sb->receiver_gln));
			rewrap(sb, &r);
		}
	}
	as4_sbdh_free(sb);
	struct as4_arena *a = as4_arena_new(0);
	struct as4_sbdh_fhir f;
	if (a != NULL) {
		as4_diag_init(&d);
		if (as4_sbdh_fhir_info(data, size, AS4_SBDH_FHIR_JSON, &lim, a, &f, &d) != AS4_OK) {
			/* most inputs are not FHIR JSON: only crashes and leaks matter here */
		}
		as4_diag_init(&d);
		if (as4_sbdh_fhir_info(data, size, AS4_SBDH_FHIR_XML, &lim, a, &f, &d) != AS4_OK) {
			/* likewise */
		}
	}
	as4_arena_free(a);
	return 0;
}
