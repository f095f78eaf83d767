/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing the signals this MSH answers with: the Receipt (AS4 §5.1.8) and the ebMS Error
 * (ebMS3 Core §6), the latter with the SOAP Fault Domibus puts beside it. Reading signals is
 * in messaging.c, with the rest of eb:Messaging.
 */
#include "as4/ebms3.h"

#include <string.h>

#include "as4/str.h"
#include "as4/xml.h"
#include "ebms3_int.h"

/*
 * Sanitised copy of text into b (cut at a character boundary, with "...", when longer than
 * b's cap allows), so that an error text can always be sent.
 */
static as4_err safe_text(struct as4_buf *b, const char *text)
{
	size_t n = strlen(text);
	size_t room = b->max - b->len;
	bool cut = false;
	if (n > room) {
		n = room > 3 ? room - 3 : 0;
		while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80) {
			n--;
		}
		cut = true;
	}
	/* the sanitiser maps each byte to at most one byte, so n bytes always fit */
	as4_err err = ebms3_xml_text_sanitize(b, text, n);
	if (err == AS4_OK && cut) {
		err = as4_buf_puts(b, "...");
	}
	return err;
}

/* A child element whose text is sanitised so it can always be sent (error texts). */
static xmlNode *add_safe_text(xmlNode *parent, xmlNs *ns, const char *name, const char *text)
{
	struct as4_buf b;
	as4_buf_init(&b, AS4_EBMS3_VALUE_MAX);
	xmlNode *n = NULL;
	if (safe_text(&b, text) == AS4_OK) {
		n = ebms3_add_text_elem(parent, ns, name,
		                        b.data != NULL ? (const char *)b.data : "");
	}
	as4_buf_cleanup(&b);
	return n;
}

static xmlNs *new_ns(xmlNode *node, const char *href, const char *prefix)
{
	return xmlNewNs(node, (const xmlChar *)href, (const xmlChar *)prefix);
}

/* Copy a parsed ds:Reference under parent. */
static as4_err add_reference_copy(xmlNode *parent, xmlNode *root, struct as4_diag *d)
{
	xmlNode *copy = xmlDocCopyNode(root, parent->doc, 1);
	if (copy == NULL || xmlAddChild(parent, copy) == NULL) {
		xmlFreeNode(copy);
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	if (xmlReconciliateNs(parent->doc, copy) < 0) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	return AS4_OK;
}

/* Copy one reference fragment (as4_signed_refs.xml) under parent. */
static as4_err copy_reference_xml(xmlNode *parent, const char *xml, size_t i, struct as4_diag *d)
{
	xmlDoc *frag = NULL;
	as4_err err = as4_xml_parse((const uint8_t *)xml, strlen(xml), NULL, &frag, d);
	if (err != AS4_OK) {
		as4_diag_prefix(d, "reference %zu: ", i + 1);
		return err;
	}
	xmlNode *root = xmlDocGetRootElement(frag);
	if (!as4_xml_is(root, AS4_NS_DS, "Reference")) {
		xmlFreeDoc(frag);
		return as4_diag_set(d, AS4_E_INVAL, "reference %zu is not a ds:Reference", i + 1);
	}
	err = add_reference_copy(parent, root, d);
	xmlFreeDoc(frag);
	return err;
}

/*
 * Every reference fragment parsed in one go, inside a wrapper element: one parser run instead
 * of one per reference (each costs a parser context and a dictionary). NULL unless every
 * fragment is present and the wrapper holds exactly one ds:Reference element per fragment and
 * nothing else; then the fragments are taken one by one as before, with their own errors.
 */
static xmlDoc *parse_fragments(const struct as4_signed_refs *refs)
{
	static const char open[] = "<w>";
	static const char close[] = "</w>";
	size_t total = sizeof(open) + sizeof(close);
	for (size_t i = 0; refs->xml != NULL && i < refs->n; i++) {
		if (refs->xml[i] == NULL || refs->xml[i][0] == '\0' ||
		    !as4_add_size(total, strlen(refs->xml[i]), &total)) {
			return NULL;
		}
	}
	if (refs->xml == NULL) {
		return NULL;
	}
	struct as4_buf b;
	as4_buf_init(&b, total);
	as4_err err = as4_buf_append(&b, open, sizeof(open) - 1);
	for (size_t i = 0; i < refs->n && err == AS4_OK; i++) {
		err = as4_buf_append(&b, refs->xml[i], strlen(refs->xml[i]));
	}
	if (err == AS4_OK) {
		err = as4_buf_append(&b, close, sizeof(close) - 1);
	}
	xmlDoc *doc = NULL;
	if (err == AS4_OK && as4_xml_parse(b.data, b.len, NULL, &doc, NULL) == AS4_OK) {
		size_t n = 0;
		for (xmlNode *c = xmlDocGetRootElement(doc)->children; c != NULL; c = c->next) {
			n = as4_xml_is(c, AS4_NS_DS, "Reference") ? n + 1 : refs->n + 1;
		}
		if (n != refs->n) {
			xmlFreeDoc(doc);
			doc = NULL;
		}
	}
	as4_buf_cleanup(&b);
	return doc;
}

/* A ds:Reference from its parts (when no serialised fragment is available). */
static as4_err build_reference(xmlNode *parent, xmlNs *ds, const struct as4_signed_ref *r, size_t i,
                               struct as4_diag *d)
{
	if (r->uri == NULL || r->digest_method == NULL || r->digest_value == NULL ||
	    !ebms3_xml_text_valid(r->uri) || !ebms3_xml_text_valid(r->digest_method) ||
	    !ebms3_xml_text_valid(r->digest_value)) {
		return as4_diag_set(d, AS4_E_INVAL,
		                    "reference %zu lacks a URI, digest method or digest value",
		                    i + 1);
	}
	xmlNode *ref = ebms3_add_elem(parent, ds, "Reference");
	xmlNode *dm = ref != NULL ? ebms3_add_elem(ref, ds, "DigestMethod") : NULL;
	if (dm == NULL || ebms3_set_attr(ref, NULL, "URI", r->uri) != AS4_OK ||
	    ebms3_set_attr(dm, NULL, "Algorithm", r->digest_method) != AS4_OK ||
	    ebms3_add_text_elem(ref, ds, "DigestValue", r->digest_value) == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	return AS4_OK;
}

as4_err as4_ebms3_build_receipt(const struct as4_receipt_spec *spec, xmlDoc **out,
                                struct as4_diag *d)
{
	*out = NULL;
	if (!as4_ebms3_message_id_valid(spec->message_id) ||
	    !ebms3_xml_text_valid(spec->message_id)) {
		return as4_diag_set(d, AS4_E_INVAL, "receipt MessageId missing or invalid");
	}
	if (!as4_ebms3_message_id_valid(spec->ref_to_message_id) ||
	    !ebms3_xml_text_valid(spec->ref_to_message_id)) {
		return as4_diag_set(d, AS4_E_INVAL, "receipt RefToMessageId missing or invalid");
	}
	if (spec->timestamp_ms < 0) {
		return as4_diag_set(d, AS4_E_INVAL, "receipt timestamp before 1970");
	}
	bool nri = spec->refs != NULL && spec->refs->n > 0;
	if (!nri && !as4_xml_is(spec->user_message, AS4_NS_EB, "UserMessage")) {
		return as4_diag_set(d, AS4_E_INVAL,
		                    "a receipt needs the signed references or the eb:UserMessage");
	}
	as4_err err = AS4_OK;
	xmlNode *messaging = NULL;
	xmlNs *eb = NULL;
	xmlDoc *frags = NULL;
	xmlDoc *doc = ebms3_new_envelope(NULL, &messaging, NULL, &eb);
	if (doc == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	xmlNode *sig = ebms3_add_elem(messaging, eb, "SignalMessage");
	if (sig == NULL || ebms3_add_message_info(sig, eb, spec->timestamp_ms, spec->message_id,
	                                          spec->ref_to_message_id) != AS4_OK) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	xmlNode *receipt = ebms3_add_elem(sig, eb, "Receipt");
	if (receipt == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	if (!nri) {
		/* AS4 §5.1.8: without non-repudiation the Receipt copies the eb:UserMessage */
		xmlNode *copy = xmlDocCopyNode(spec->user_message, doc, 1);
		if (copy == NULL || xmlAddChild(receipt, copy) == NULL) {
			xmlFreeNode(copy);
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
			goto out;
		}
		if (xmlReconciliateNs(doc, copy) < 0) {
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
		goto out;
	}
	xmlNode *nr = xmlNewDocNode(doc, NULL, (const xmlChar *)"NonRepudiationInformation", NULL);
	if (nr == NULL || xmlAddChild(receipt, nr) == NULL) {
		xmlFreeNode(nr);
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	xmlNs *ebbp = new_ns(nr, AS4_NS_EBBP, EBMS3_PFX_EBBP);
	xmlNs *ds = new_ns(nr, AS4_NS_DS, EBMS3_PFX_DS);
	if (ebbp == NULL || ds == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	xmlSetNs(nr, ebbp);
	frags = parse_fragments(spec->refs);
	xmlNode *frag = frags != NULL ? xmlDocGetRootElement(frags)->children : NULL;
	for (size_t i = 0; i < spec->refs->n && err == AS4_OK; i++) {
		xmlNode *part = ebms3_add_elem(nr, ebbp, "MessagePartNRInformation");
		if (part == NULL) {
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
			break;
		}
		const char *xml = spec->refs->xml != NULL ? spec->refs->xml[i] : NULL;
		if (frag != NULL) {
			err = add_reference_copy(part, frag, d);
			frag = frag->next;
		} else if (xml != NULL && xml[0] != '\0') {
			err = copy_reference_xml(part, xml, i, d);
		} else {
			err = build_reference(part, ds, &spec->refs->refs[i], i, d);
		}
	}
out:
	if (err == AS4_OK) {
		*out = doc;
		doc = NULL;
	}
	xmlFreeDoc(frags);
	xmlFreeDoc(doc);
	return err;
}

void as4_ebms3_error_from_err(as4_err err, const char *detail, const char *ref_to_message_id,
                              struct as4_ebms_error *e)
{
	memset(e, 0, sizeof(*e));
	e->error_code = as4_err_ebms_code(err);
	e->severity = "failure";
	e->short_description = as4_ebms_short_description(e->error_code);
	e->category = as4_ebms_category(e->error_code);
	e->origin = "ebMS";
	e->ref_to_message_in_error = ref_to_message_id;
	e->description = as4_strerror(err);
	e->description_lang = "en";
	e->detail = detail;
}

bool as4_ebms3_fault_is_receiver(as4_err err)
{
	switch (err) {
	case AS4_E_NOMEM:
	case AS4_E_IO:
	case AS4_E_SPACE:
	case AS4_E_CONFIG:
	case AS4_E_INTERNAL:
	case AS4_E_STATE:
	case AS4_E_BUSY:
	case AS4_E_CRYPTO:
	case AS4_E_CORRUPT:
	case AS4_E_DELIVERY:
	case AS4_E_CONNECTION:
	case AS4_E_RELIABILITY:
		return true;
	default:
		return as4_err_retryable(err);
	}
}

static as4_err set_safe_attr(xmlNode *n, const char *name, const char *value)
{
	if (value == NULL) {
		return AS4_OK;
	}
	struct as4_buf b;
	as4_buf_init(&b, AS4_EBMS3_VALUE_MAX);
	as4_err err = safe_text(&b, value);
	if (err == AS4_OK) {
		err = ebms3_set_attr(n, NULL, name, b.data != NULL ? (const char *)b.data : "");
	}
	as4_buf_cleanup(&b);
	return err;
}

static as4_err build_one_error(xmlNode *sig, xmlNs *eb, const struct as4_ebms_error *e, size_t i,
                               struct as4_diag *d)
{
	if (e->error_code == NULL || e->error_code[0] == '\0' || e->severity == NULL ||
	    (strcmp(e->severity, "failure") != 0 && strcmp(e->severity, "warning") != 0)) {
		return as4_diag_set(d, AS4_E_INVAL,
		                    "error %zu needs an errorCode and severity failure|warning",
		                    i + 1);
	}
	const char *short_desc = e->short_description != NULL
	                                 ? e->short_description
	                                 : as4_ebms_short_description(e->error_code);
	const char *category = e->category != NULL ? e->category : as4_ebms_category(e->error_code);
	xmlNode *el = ebms3_add_elem(sig, eb, "Error");
	if (el == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	/* attribute order as in the ebMS3 schema and as Domibus writes them */
	as4_err err = set_safe_attr(el, "category", category);
	if (err == AS4_OK) {
		err = set_safe_attr(el, "errorCode", e->error_code);
	}
	if (err == AS4_OK) {
		err = set_safe_attr(el, "origin", e->origin);
	}
	if (err == AS4_OK && e->ref_to_message_in_error != NULL) {
		err = set_safe_attr(el, "refToMessageInError", e->ref_to_message_in_error);
	}
	if (err == AS4_OK) {
		err = set_safe_attr(el, "severity", e->severity);
	}
	if (err == AS4_OK) {
		err = set_safe_attr(el, "shortDescription", short_desc);
	}
	if (err == AS4_OK && e->description != NULL) {
		xmlNode *desc = add_safe_text(el, eb, "Description", e->description);
		if (desc == NULL) {
			err = AS4_E_NOMEM;
		} else {
			xmlNodeSetLang(desc, (const xmlChar *)(e->description_lang != NULL
			                                               ? e->description_lang
			                                               : "en"));
		}
	}
	if (err == AS4_OK && e->detail != NULL &&
	    add_safe_text(el, eb, "ErrorDetail", e->detail) == NULL) {
		err = AS4_E_NOMEM;
	}
	if (err != AS4_OK) {
		return as4_diag_set(d, err, "out of memory building eb:Error");
	}
	return AS4_OK;
}

/* S12:Fault as Domibus answers it (HTTP 500): Code, Subcode, Reason. */
static as4_err build_fault(xmlNode *body, const struct as4_ebms_error *e, bool receiver,
                           struct as4_diag *d)
{
	xmlNs *s12 = body->ns;
	xmlNode *fault = ebms3_add_elem(body, s12, "Fault");
	xmlNode *code = fault != NULL ? ebms3_add_elem(fault, s12, "Code") : NULL;
	if (code == NULL || ebms3_add_text_elem(code, s12, "Value",
	                                        receiver ? EBMS3_PFX_SOAP ":Receiver"
	                                                 : EBMS3_PFX_SOAP ":Sender") == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	const char *short_desc = e->short_description != NULL
	                                 ? e->short_description
	                                 : as4_ebms_short_description(e->error_code);
	if (short_desc != NULL) {
		/* the subcode is a QName; "eb" is declared on the Envelope */
		struct as4_buf q;
		as4_buf_init(&q, 256);
		as4_err err = as4_buf_puts(&q, EBMS3_PFX_EB ":");
		for (const char *p = short_desc; err == AS4_OK && *p != '\0'; p++) {
			bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			          (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.';
			if (ok) {
				err = as4_buf_putc(&q, (uint8_t)*p);
			}
		}
		xmlNode *sub = NULL;
		if (err == AS4_OK) {
			sub = ebms3_add_elem(code, s12, "Subcode");
		}
		if (sub == NULL ||
		    ebms3_add_text_elem(sub, s12, "Value", (const char *)q.data) == NULL) {
			as4_buf_cleanup(&q);
			return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
		as4_buf_cleanup(&q);
	}
	struct as4_buf r;
	as4_buf_init(&r, AS4_EBMS3_VALUE_MAX);
	as4_err err = as4_buf_printf(&r, "%s %s", e->error_code,
	                             short_desc != NULL ? short_desc : "error");
	if (err == AS4_OK && e->detail != NULL && e->detail[0] != '\0') {
		err = as4_buf_puts(&r, ": ");
		if (err == AS4_OK) {
			err = safe_text(&r, e->detail);
		}
	}
	xmlNode *reason = err == AS4_OK ? ebms3_add_elem(fault, s12, "Reason") : NULL;
	xmlNode *text =
	        reason != NULL ? add_safe_text(reason, s12, "Text", (const char *)r.data) : NULL;
	as4_buf_cleanup(&r);
	if (text == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	xmlNodeSetLang(text, (const xmlChar *)"en");
	return AS4_OK;
}

as4_err as4_ebms3_build_error(const struct as4_error_spec *spec, xmlDoc **out, struct as4_diag *d)
{
	*out = NULL;
	if (!as4_ebms3_message_id_valid(spec->message_id) ||
	    !ebms3_xml_text_valid(spec->message_id)) {
		return as4_diag_set(d, AS4_E_INVAL, "error signal MessageId missing or invalid");
	}
	if (spec->ref_to_message_id != NULL &&
	    (!as4_ebms3_message_id_valid(spec->ref_to_message_id) ||
	     !ebms3_xml_text_valid(spec->ref_to_message_id))) {
		return as4_diag_set(d, AS4_E_INVAL, "error signal RefToMessageId invalid");
	}
	if (spec->timestamp_ms < 0) {
		return as4_diag_set(d, AS4_E_INVAL, "error signal timestamp before 1970");
	}
	if (spec->errors == NULL || spec->n_errors == 0) {
		return as4_diag_set(d, AS4_E_INVAL, "an error signal needs at least one error");
	}
	as4_err err = AS4_OK;
	xmlNode *messaging = NULL;
	xmlNode *body = NULL;
	xmlNs *eb = NULL;
	xmlDoc *doc = ebms3_new_envelope(NULL, &messaging, &body, &eb);
	if (doc == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	xmlNode *sig = ebms3_add_elem(messaging, eb, "SignalMessage");
	if (sig == NULL || ebms3_add_message_info(sig, eb, spec->timestamp_ms, spec->message_id,
	                                          spec->ref_to_message_id) != AS4_OK) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < spec->n_errors && err == AS4_OK; i++) {
		err = build_one_error(sig, eb, &spec->errors[i], i, d);
	}
	if (err == AS4_OK && spec->soap_fault) {
		err = build_fault(body, &spec->errors[0], spec->fault_receiver, d);
	}
out:
	if (err == AS4_OK) {
		*out = doc;
		doc = NULL;
	}
	xmlFreeDoc(doc);
	return err;
}
