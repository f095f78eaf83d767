/* SPDX-License-Identifier: Apache-2.0 */
/* Wrapping a FHIR message into an ehmiSBDH envelope (the shape of medcom-examples/05). */
#include <stdlib.h>
#include <string.h>

#include "as4/sbdh.h"
#include "as4/str.h"
#include "as4/time.h"

/* The scope Identifier MedCom's examples use for every scope. */
#define SCOPE_IDENTIFIER "dk-medcom-messaging"

/* "0088:<GLN>" from a value or a bare GLN, checked; into out (cap >= AS4_SBDH_PARTICIPANT_MAX+1).
 */
static as4_err participant(const char *v, const struct as4_sbdh_rules *r, const char *field,
                           char *out, size_t cap, struct as4_diag *d)
{
	if (v == NULL || v[0] == '\0') {
		return as4_diag_set_field(d, AS4_E_INVAL, field, "--%s is required", field);
	}
	if (strlen(v) == 13 && strspn(v, "0123456789") == 13) {
		if (as4_str_fmt(out, cap, "0088:%s", v) != AS4_OK) {
			return as4_diag_set_field(d, AS4_E_LIMIT, field, "identifier too long");
		}
	} else if (as4_str_copy(out, cap, v) != AS4_OK) {
		return as4_diag_set_field(d, AS4_E_SBDH_INVALID, field, "identifier too long");
	}
	const struct as4_sbdh_schemes *ok = r != NULL ? &r->schemes : NULL;
	return as4_participant_parse(out, ok, field, NULL, d);
}

/* Text of an element with escaping; a value XML cannot carry is refused. */
static as4_err elem(struct as4_buf *b, const char *indent, const char *name, const char *v)
{
	as4_err err = as4_buf_printf(b, "%s<%s>", indent, name);
	if (err == AS4_OK) {
		err = as4_buf_put_xml_escaped(b, v);
	}
	if (err == AS4_OK) {
		err = as4_buf_printf(b, "</%s>\n", name);
	}
	return err;
}

static as4_err scope(struct as4_buf *b, const char *type, const char *value)
{
	as4_err err = as4_buf_puts(b, "      <Scope>\n");
	if (err == AS4_OK) {
		err = elem(b, "        ", "Type", type);
	}
	if (err == AS4_OK) {
		err = elem(b, "        ", "InstanceIdentifier", value);
	}
	if (err == AS4_OK) {
		err = elem(b, "        ", "Identifier", SCOPE_IDENTIFIER);
	}
	if (err == AS4_OK) {
		err = as4_buf_puts(b, "      </Scope>\n");
	}
	return err;
}

/* XML or JSON, by the first non-blank byte. */
static const char *guess_type(const uint8_t *p, size_t n)
{
	size_t i = 0;
	if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
		i = 3;
	}
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')) {
		i++;
	}
	if (i < n && p[i] == '<') {
		return AS4_SBDH_FHIR_XML;
	}
	if (i < n && p[i] == '{') {
		return AS4_SBDH_FHIR_JSON;
	}
	return NULL;
}

/* Text after the last "::" of a document id when it looks like a version ("1.2"). */
static const char *version_of(const char *doc, char *out, size_t cap)
{
	const char *p = NULL;
	for (const char *s = strstr(doc, "::"); s != NULL; s = strstr(s + 2, "::")) {
		p = s + 2;
	}
	if (p != NULL && p[0] != '\0' && strspn(p, "0123456789.") == strlen(p) &&
	    as4_str_copy(out, cap, p) == AS4_OK) {
		return out;
	}
	return "1.0";
}

static as4_err write_doc(struct as4_buf *b, const struct as4_sbdh_wrap *w, const char *sender,
                         const char *receiver, const char *standard, const char *type_version,
                         const char *instance, const char *created, const char *type,
                         const char *msgid, const char *mt, const char *b64)
{
	as4_err err = as4_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	                              "<StandardBusinessDocument xmlns=\"" AS4_NS_SBDH "\">\n"
	                              "  <StandardBusinessDocumentHeader>\n"
	                              "    <HeaderVersion>1.0</HeaderVersion>\n");
	const char *parties[2][2] = {{"Sender", sender}, {"Receiver", receiver}};
	for (size_t i = 0; err == AS4_OK && i < 2; i++) {
		err = as4_buf_printf(
		        b, "    <%s>\n      <Identifier Authority=\"" AS4_SBDH_AUTHORITY "\">",
		        parties[i][0]);
		if (err == AS4_OK) {
			err = as4_buf_put_xml_escaped(b, parties[i][1]);
		}
		if (err == AS4_OK) {
			err = as4_buf_printf(b, "</Identifier>\n    </%s>\n", parties[i][0]);
		}
	}
	if (err == AS4_OK) {
		err = as4_buf_puts(b, "    <DocumentIdentification>\n");
	}
	const char *ident[][2] = {
	        {"Standard", standard},           {"TypeVersion", type_version},
	        {"InstanceIdentifier", instance}, {"Type", type},
	        {"MultipleType", "false"},        {"CreationDateAndTime", created}};
	for (size_t i = 0; err == AS4_OK && i < AS4_ARRAY_LEN(ident); i++) {
		err = elem(b, "      ", ident[i][0], ident[i][1]);
	}
	if (err == AS4_OK) {
		err = as4_buf_puts(b, "    </DocumentIdentification>\n    <BusinessScope>\n");
	}
	const char *scopes[][2] = {{"DOCUMENTID", w->document_id},  {"PROCESSID", w->process_id},
	                           {"PATIENTID", w->patient},       {"SENDERID", w->sender_sor},
	                           {"RECEIVERID", w->receiver_sor}, {"MESSAGEIDENTIFIER", msgid}};
	for (size_t i = 0; err == AS4_OK && i < AS4_ARRAY_LEN(scopes); i++) {
		if (scopes[i][1] != NULL) {
			err = scope(b, scopes[i][0], scopes[i][1]);
		}
	}
	if (err == AS4_OK && w->ack_request) {
		err = scope(b, "EHMI-ReceiptAcknowledgement", "Request");
	}
	if (err == AS4_OK) {
		err = as4_buf_printf(b,
		                     "    </BusinessScope>\n  </StandardBusinessDocumentHeader>\n"
		                     "  <BinaryContent xmlns=\"" AS4_NS_SBDH_BC
		                     "\" mimeType=\"%s\" encoding=\"UTF-8\">\n",
		                     mt);
	}
	if (err == AS4_OK) {
		err = as4_buf_puts(b, b64);
	}
	if (err == AS4_OK) {
		err = as4_buf_puts(b, "\n  </BinaryContent>\n</StandardBusinessDocument>\n");
	}
	return err;
}

as4_err as4_sbdh_wrap(const struct as4_sbdh_wrap *w, const uint8_t *fhir, size_t len,
                      struct as4_buf *out, struct as4_diag *d)
{
	char sender[AS4_SBDH_PARTICIPANT_MAX + 8];
	char receiver[AS4_SBDH_PARTICIPANT_MAX + 8];
	char uuid[37];
	char created[AS4_TIME_TEXT_MAX];
	char version[64];
	char *b64 = NULL;
	struct as4_arena *a = NULL;
	struct as4_sbdh_fhir info;
	memset(&info, 0, sizeof(info));
	as4_err err = participant(w->sender, w->rules, "sender", sender, sizeof(sender), d);
	if (err == AS4_OK) {
		err = participant(w->receiver, w->rules, "receiver", receiver, sizeof(receiver), d);
	}
	if (err != AS4_OK) {
		return err;
	}
	if (w->document_id == NULL || w->document_id[0] == '\0') {
		return as4_diag_set_field(d, AS4_E_INVAL, "document", "--document is required");
	}
	if (w->process_id == NULL || w->process_id[0] == '\0') {
		return as4_diag_set_field(d, AS4_E_INVAL, "process", "--process is required");
	}
	const char *mt = w->mime_type != NULL ? w->mime_type : guess_type(fhir, len);
	if (mt == NULL) {
		return as4_diag_set_field(d, AS4_E_INVAL, "file",
		                          "the content is neither XML nor JSON: give its type");
	}
	uint64_t max = w->rules != NULL && w->rules->max_content ? w->rules->max_content
	                                                         : AS4_SBDH_MAX_CONTENT;
	if (len == 0 || len > max) {
		return as4_diag_set_field(d, len == 0 ? AS4_E_INVAL : AS4_E_LIMIT, "file",
		                          "the FHIR message is %zu bytes (1 to %llu allowed)", len,
		                          (unsigned long long)max);
	}
	a = as4_arena_new(0);
	if (a == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	bool need_info = w->standard == NULL || w->message_id == NULL;
	if (need_info) {
		err = as4_sbdh_fhir_info(fhir, len, mt, w->rules != NULL ? w->rules->limits : NULL,
		                         a, &info, d);
		if (err != AS4_OK) {
			as4_diag_prefix(d, "file: ");
			goto out;
		}
	}
	const char *standard = w->standard != NULL ? w->standard : info.event_code;
	const char *msgid = w->message_id != NULL ? w->message_id : info.message_header_id;
	if (standard == NULL || msgid == NULL) {
		err = as4_diag_set_field(d, AS4_E_INVAL, "file",
		                         "the FHIR content has no MessageHeader with an id and an "
		                         "event code: not a FHIR message");
		goto out;
	}
	const char *instance = w->instance_id;
	if (instance == NULL) {
		err = as4_uuid_v4(uuid);
		if (err != AS4_OK) {
			err = as4_diag_set(d, err, "cannot generate a UUID");
			goto out;
		}
		instance = uuid;
	}
	const char *when = w->created;
	if (when == NULL) {
		as4_time_format(as4_time_now_ms(), created);
		when = created;
	}
	const char *tv = w->type_version != NULL
	                         ? w->type_version
	                         : version_of(w->document_id, version, sizeof(version));
	b64 = as4_b64_encode(fhir, len, 76);
	if (b64 == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	err = write_doc(out, w, sender, receiver, standard, tv, instance, when,
	                info.resource_type != NULL ? info.resource_type : "Bundle", msgid, mt, b64);
	if (err == AS4_E_INVAL) {
		err = as4_diag_set(
		        d, AS4_E_INVAL,
		        "a value holds characters XML cannot carry (control characters)");
	} else if (err != AS4_OK) {
		err = as4_diag_set(d, err, "the envelope does not fit: %s", as4_strerror(err));
	}
out:
	free(b64);
	as4_arena_free(a);
	return err;
}
