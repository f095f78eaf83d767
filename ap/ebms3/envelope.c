/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing SOAP 1.2 envelopes with eb:Messaging. The DOM is built directly with libxml2 (no
 * text template that would have to be parsed again), and serialised without reformatting:
 * WS-Security signs the tree, so the bytes on the wire must be exactly its serialisation.
 */
#include "as4/ebms3.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlsave.h>

#include "as4/str.h"
#include "as4/time.h"
#include "as4/xml.h"
#include "ebms3_int.h"

/* ---- helpers shared with signal.c ------------------------------------------------------ */

/*
 * Decode one UTF-8 sequence at p (n bytes available). Returns its length and the code point
 * in *cp, or 0 for an invalid, overlong or truncated sequence or a surrogate.
 */
static size_t utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	size_t len;
	uint32_t min;
	uint32_t v;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		min = 0x80;
		v = p[0] & 0x1fu;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		min = 0x800;
		v = p[0] & 0x0fu;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		min = 0x10000;
		v = p[0] & 0x07u;
	} else {
		return 0;
	}
	if (n < len) {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			return 0;
		}
		v = (v << 6) | (p[i] & 0x3fu);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
		return 0;
	}
	*cp = v;
	return len;
}

/* XML 1.0 §2.2 Char */
static bool xml_char(uint32_t cp)
{
	return cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
	       (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

bool ebms3_xml_text_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	/* fast path: printable ASCII, tab, LF, CR */
	while ((*p >= 0x20 && *p < 0x7f) || *p == '\t' || *p == '\n' || *p == '\r') {
		p++;
	}
	size_t n = strlen((const char *)p);
	while (n > 0) {
		uint32_t cp = 0;
		size_t l = utf8_next(p, n, &cp);
		if (l == 0 || !xml_char(cp)) {
			return false;
		}
		p += l;
		n -= l;
	}
	return true;
}

as4_err ebms3_xml_text_sanitize(struct as4_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	while (n > 0) {
		uint32_t cp = 0;
		size_t l = utf8_next(p, n, &cp);
		as4_err err;
		if (l == 0 || !xml_char(cp)) {
			err = as4_buf_putc(b, '?');
			l = l == 0 ? 1 : l;
		} else {
			err = as4_buf_append(b, p, l);
		}
		if (err != AS4_OK) {
			return err;
		}
		p += l;
		n -= l;
	}
	return AS4_OK;
}

xmlNode *ebms3_add_elem(xmlNode *parent, xmlNs *ns, const char *name)
{
	xmlNode *n = xmlNewDocNode(parent->doc, ns, (const xmlChar *)name, NULL);
	if (n == NULL) {
		return NULL;
	}
	if (xmlAddChild(parent, n) == NULL) {
		xmlFreeNode(n);
		return NULL;
	}
	return n;
}

xmlNode *ebms3_add_text_elem(xmlNode *parent, xmlNs *ns, const char *name, const char *text)
{
	xmlNode *n = ebms3_add_elem(parent, ns, name);
	if (n == NULL) {
		return NULL;
	}
	/* xmlNewDocText copies the bytes verbatim (no entity parsing); the serialiser escapes. */
	xmlNode *t = xmlNewDocText(parent->doc, (const xmlChar *)text);
	if (t == NULL || xmlAddChild(n, t) == NULL) {
		xmlFreeNode(t);
		return NULL;
	}
	return n;
}

as4_err ebms3_set_attr(xmlNode *node, xmlNs *ns, const char *name, const char *value)
{
	/* xmlNewNsProp stores value as one text node without interpreting '&'. */
	return xmlNewNsProp(node, ns, (const xmlChar *)name, (const xmlChar *)value) != NULL
	               ? AS4_OK
	               : AS4_E_NOMEM;
}

xmlDoc *ebms3_new_envelope(xmlNode **header, xmlNode **messaging, xmlNode **body, xmlNs **eb)
{
	xmlDoc *doc = xmlNewDoc((const xmlChar *)"1.0");
	if (doc == NULL) {
		return NULL;
	}
	/* names interned once per document instead of one allocation per node */
	doc->dict = xmlDictCreate();
	if (doc->dict == NULL) {
		goto fail;
	}
	xmlNode *env = xmlNewDocNode(doc, NULL, (const xmlChar *)"Envelope", NULL);
	if (env == NULL) {
		goto fail;
	}
	xmlDocSetRootElement(doc, env);
	xmlNs *s12 = xmlNewNs(env, (const xmlChar *)AS4_NS_SOAP12, (const xmlChar *)EBMS3_PFX_SOAP);
	xmlNs *ebns = xmlNewNs(env, (const xmlChar *)AS4_NS_EB, (const xmlChar *)EBMS3_PFX_EB);
	if (s12 == NULL || ebns == NULL) {
		goto fail;
	}
	xmlSetNs(env, s12);
	xmlNode *h = ebms3_add_elem(env, s12, "Header");
	xmlNode *m = h != NULL ? ebms3_add_elem(h, ebns, "Messaging") : NULL;
	xmlNode *b = m != NULL ? ebms3_add_elem(env, s12, "Body") : NULL;
	if (b == NULL || ebms3_set_attr(m, s12, "mustUnderstand", "true") != AS4_OK) {
		goto fail;
	}
	if (header != NULL) {
		*header = h;
	}
	if (messaging != NULL) {
		*messaging = m;
	}
	if (body != NULL) {
		*body = b;
	}
	if (eb != NULL) {
		*eb = ebns;
	}
	return doc;
fail:
	xmlFreeDoc(doc);
	return NULL;
}

as4_err ebms3_add_message_info(xmlNode *parent, xmlNs *eb, int64_t timestamp_ms,
                               const char *message_id, const char *ref_to)
{
	char ts[AS4_TIME_TEXT_MAX];
	/* ebMS3 Core §5.2.2.1: Timestamp MUST be UTC; as4_time_format writes the "Z" form */
	as4_time_format(timestamp_ms != 0 ? timestamp_ms : as4_time_now_ms(), ts);
	xmlNode *mi = ebms3_add_elem(parent, eb, "MessageInfo");
	if (mi == NULL || ebms3_add_text_elem(mi, eb, "Timestamp", ts) == NULL ||
	    ebms3_add_text_elem(mi, eb, "MessageId", message_id) == NULL) {
		return AS4_E_NOMEM;
	}
	if (ref_to != NULL && ebms3_add_text_elem(mi, eb, "RefToMessageId", ref_to) == NULL) {
		return AS4_E_NOMEM;
	}
	return AS4_OK;
}

/* ---- UserMessage ---------------------------------------------------------------------- */

struct bctx {
	struct as4_diag *d;
	xmlNs *eb;
};

/*
 * A value that must be present: non-empty, UTF-8, XML characters only, bounded. The field
 * name (printf format) is only formatted when the value is refused.
 */
AS4_PRINTF(3, 4) static as4_err need(struct bctx *c, const char *v, const char *fmt, ...)
{
	const char *why = NULL;
	if (v == NULL || v[0] == '\0') {
		why = "is required";
	} else if (strlen(v) > AS4_EBMS3_VALUE_MAX) {
		why = "is too long";
	} else if (!ebms3_xml_text_valid(v)) {
		why = "is not valid UTF-8 or holds characters XML cannot carry";
	}
	if (why == NULL) {
		return AS4_OK;
	}
	char field[AS4_DIAG_FIELD_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(field, sizeof(field), fmt, ap);
	va_end(ap);
	if (n < 0) {
		field[0] = '\0';
	}
	return as4_diag_set_field(c->d, AS4_E_INVAL, field, "%s %s", field, why);
}

/* An optional value: NULL is fine, otherwise as need(). */
#define opt(c, v, ...) ((v) == NULL ? AS4_OK : need((c), (v), __VA_ARGS__))

static as4_err add_text(struct bctx *c, xmlNode *parent, const char *name, const char *text,
                        xmlNode **out)
{
	xmlNode *n = ebms3_add_text_elem(parent, c->eb, name, text);
	if (n == NULL) {
		return as4_diag_set(c->d, AS4_E_NOMEM, "out of memory building eb:%s", name);
	}
	if (out != NULL) {
		*out = n;
	}
	return AS4_OK;
}

static as4_err add_attr(struct bctx *c, xmlNode *n, const char *name, const char *value)
{
	if (value == NULL) {
		return AS4_OK;
	}
	if (ebms3_set_attr(n, NULL, name, value) != AS4_OK) {
		return as4_diag_set(c->d, AS4_E_NOMEM, "out of memory building @%s", name);
	}
	return AS4_OK;
}

static as4_err build_party(struct bctx *c, xmlNode *parent, const char *name,
                           const struct as4_party_info *pi, const char *field)
{
	if (pi->n_ids == 0 || pi->ids == NULL) {
		return as4_diag_set_field(c->d, AS4_E_INVAL, field, "%s has no party id", field);
	}
	xmlNode *el = ebms3_add_elem(parent, c->eb, name);
	if (el == NULL) {
		return as4_diag_set(c->d, AS4_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < pi->n_ids; i++) {
		xmlNode *pid = NULL;
		as4_err err = need(c, pi->ids[i].value, "%s.ids[%zu].value", field, i);
		if (err == AS4_OK) {
			err = opt(c, pi->ids[i].type, "%s.ids[%zu].type", field, i);
		}
		if (err == AS4_OK) {
			err = add_text(c, el, "PartyId", pi->ids[i].value, &pid);
		}
		if (err == AS4_OK) {
			err = add_attr(c, pid, "type", pi->ids[i].type);
		}
		if (err != AS4_OK) {
			return err;
		}
	}
	as4_err err = need(c, pi->role, "%s.role", field);
	return err != AS4_OK ? err : add_text(c, el, "Role", pi->role, NULL);
}

/* One eb:Property; field names the list for diagnostics ("properties", "payloads[0].props"). */
static as4_err build_property(struct bctx *c, xmlNode *parent, const struct as4_property *p,
                              const char *field)
{
	as4_err err = need(c, p->name, "%s", field);
	if (err == AS4_OK && p->value == NULL) {
		char f[AS4_DIAG_FIELD_MAX];
		if (as4_str_fmt(f, sizeof(f), "%s(%s).value", field, p->name) != AS4_OK) {
			/* a cut field name is still useful */
		}
		err = as4_diag_set_field(c->d, AS4_E_INVAL, f, "%s is required", f);
	}
	/* a property's value may be empty, but must be XML text */
	if (err == AS4_OK && p->value[0] != '\0') {
		err = need(c, p->value, "%s(%s).value", field, p->name);
	}
	if (err == AS4_OK) {
		err = opt(c, p->type, "%s(%s).type", field, p->name);
	}
	xmlNode *el = NULL;
	if (err == AS4_OK) {
		err = add_text(c, parent, "Property", p->value, &el);
	}
	if (err == AS4_OK) {
		err = add_attr(c, el, "name", p->name);
	}
	if (err == AS4_OK) {
		err = add_attr(c, el, "type", p->type);
	}
	return err;
}

static bool is_reserved_part_prop(const char *name)
{
	return strcmp(name, AS4_PROP_MIME_TYPE) == 0 || strcmp(name, AS4_PROP_COMPRESSION) == 0 ||
	       strcmp(name, AS4_PROP_CHARSET) == 0;
}

static as4_err part_field_error(struct bctx *c, size_t i, const char *name, const char *why)
{
	char f[64];
	if (as4_str_fmt(f, sizeof(f), "payloads[%zu].%s", i, name) != AS4_OK) {
		/* bounded index and fixed names: always fits */
	}
	return as4_diag_set_field(c->d, AS4_E_INVAL, f, "%s %s", f, why);
}

static as4_err build_part_info(struct bctx *c, xmlNode *payload_info,
                               const struct as4_part_info *pi, size_t i)
{
	if (pi->in_body || pi->content_id == NULL) {
		return part_field_error(c, i, "content_id",
		                        "is required (payloads travel as attachments)");
	}
	as4_err err = need(c, pi->content_id, "payloads[%zu].content_id", i);
	if (err != AS4_OK) {
		return err;
	}
	for (const char *p = pi->content_id; *p != '\0'; p++) {
		/* RFC 2392 would need %-escapes for these; refuse instead of writing a wrong URL.
		 */
		if ((unsigned char)*p <= 0x20 || strchr("<>\"%", *p) != NULL) {
			return part_field_error(c, i, "content_id",
			                        "holds a character not allowed in a Content-ID");
		}
	}
	err = need(c, pi->mime_type, "payloads[%zu].mime_type", i);
	if (err != AS4_OK) {
		return err;
	}
	if (pi->compression != NULL && strcmp(pi->compression, AS4_COMPRESSION_GZIP) != 0) {
		return part_field_error(c, i, "compression", "must be " AS4_COMPRESSION_GZIP);
	}
	if (pi->charset != NULL && !as4_xml_encname_valid(pi->charset)) {
		return part_field_error(c, i, "charset", "is not an XML encoding name");
	}
	xmlNode *el = ebms3_add_elem(payload_info, c->eb, "PartInfo");
	xmlNode *pp = el != NULL ? ebms3_add_elem(el, c->eb, "PartProperties") : NULL;
	size_t len = strlen(pi->content_id);
	char *href = malloc(len + 5);
	if (pp == NULL || href == NULL) {
		free(href);
		return as4_diag_set(c->d, AS4_E_NOMEM, "out of memory");
	}
	memcpy(href, "cid:", 4);
	memcpy(href + 4, pi->content_id, len + 1);
	err = add_attr(c, el, "href", href);
	free(href);
	char f[64];
	if (as4_str_fmt(f, sizeof(f), "payloads[%zu].props", i) != AS4_OK) {
		/* bounded index: always fits */
	}
	struct as4_property fixed[3] = {
	        {AS4_PROP_MIME_TYPE, NULL, pi->mime_type},
	        {AS4_PROP_COMPRESSION, NULL, pi->compression},
	        {AS4_PROP_CHARSET, NULL, pi->charset},
	};
	for (size_t k = 0; err == AS4_OK && k < 3; k++) {
		if (fixed[k].value != NULL) {
			err = build_property(c, pp, &fixed[k], f);
		}
	}
	for (size_t k = 0; err == AS4_OK && k < pi->n_props; k++) {
		const struct as4_property *p = &pi->props[k];
		if (p->name != NULL && is_reserved_part_prop(p->name)) {
			continue;
		}
		err = build_property(c, pp, p, f);
	}
	return err;
}

as4_err as4_ebms3_build_user_message(const struct as4_user_message *um, xmlDoc **out,
                                     struct as4_diag *d)
{
	*out = NULL;
	struct bctx c = {d, NULL};
	as4_err err = AS4_OK;
	if (!as4_ebms3_message_id_valid(um->message_id)) {
		return as4_diag_set_field(
		        d, AS4_E_INVAL, "message_id",
		        "message_id is missing or not a message id (1..%d bytes, no "
		        "whitespace or angle brackets)",
		        AS4_MESSAGE_ID_MAX);
	}
	if (um->ref_to_message_id != NULL && !as4_ebms3_message_id_valid(um->ref_to_message_id)) {
		return as4_diag_set_field(d, AS4_E_INVAL, "ref_to_message_id",
		                          "ref_to_message_id is not a message id");
	}
	if (um->timestamp_ms < 0) {
		return as4_diag_set_field(d, AS4_E_INVAL, "timestamp", "timestamp is before 1970");
	}
	if (!ebms3_xml_text_valid(um->message_id) ||
	    (um->ref_to_message_id != NULL && !ebms3_xml_text_valid(um->ref_to_message_id))) {
		return as4_diag_set_field(d, AS4_E_INVAL, "message_id",
		                          "message id is not valid UTF-8 text");
	}
	xmlNode *messaging = NULL;
	xmlDoc *doc = ebms3_new_envelope(NULL, &messaging, NULL, &c.eb);
	if (doc == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	xmlNode *user = ebms3_add_elem(messaging, c.eb, "UserMessage");
	if (user == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	err = opt(&c, um->mpc, "mpc");
	if (err == AS4_OK) {
		err = add_attr(&c, user, "mpc", um->mpc);
	}
	if (err == AS4_OK && ebms3_add_message_info(user, c.eb, um->timestamp_ms, um->message_id,
	                                            um->ref_to_message_id) != AS4_OK) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	xmlNode *party = NULL;
	if (err == AS4_OK) {
		party = ebms3_add_elem(user, c.eb, "PartyInfo");
		if (party == NULL) {
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
	}
	if (err == AS4_OK) {
		err = build_party(&c, party, "From", &um->from, "from");
	}
	if (err == AS4_OK) {
		err = build_party(&c, party, "To", &um->to, "to");
	}
	if (err != AS4_OK) {
		goto out;
	}
	xmlNode *collab = ebms3_add_elem(user, c.eb, "CollaborationInfo");
	if (collab == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	xmlNode *n = NULL;
	if (um->agreement != NULL) {
		err = need(&c, um->agreement, "agreement");
		if (err == AS4_OK) {
			err = opt(&c, um->agreement_type, "agreement_type");
		}
		if (err == AS4_OK) {
			err = opt(&c, um->agreement_pmode, "agreement_pmode");
		}
		if (err == AS4_OK) {
			err = add_text(&c, collab, "AgreementRef", um->agreement, &n);
		}
		if (err == AS4_OK) {
			err = add_attr(&c, n, "type", um->agreement_type);
		}
		if (err == AS4_OK) {
			err = add_attr(&c, n, "pmode", um->agreement_pmode);
		}
	} else if (um->agreement_type != NULL || um->agreement_pmode != NULL) {
		err = as4_diag_set_field(
		        d, AS4_E_INVAL, "agreement",
		        "agreement_type or agreement_pmode given without agreement");
	}
	if (err == AS4_OK) {
		err = need(&c, um->service, "service");
	}
	if (err == AS4_OK) {
		err = opt(&c, um->service_type, "service_type");
	}
	if (err == AS4_OK) {
		err = add_text(&c, collab, "Service", um->service, &n);
	}
	if (err == AS4_OK) {
		err = add_attr(&c, n, "type", um->service_type);
	}
	if (err == AS4_OK) {
		err = need(&c, um->action, "action");
	}
	if (err == AS4_OK) {
		err = add_text(&c, collab, "Action", um->action, NULL);
	}
	if (err == AS4_OK) {
		err = need(&c, um->conversation_id, "conversation_id");
	}
	if (err == AS4_OK) {
		err = add_text(&c, collab, "ConversationId", um->conversation_id, NULL);
	}
	if (err == AS4_OK && um->n_props > 0) {
		xmlNode *mp = ebms3_add_elem(user, c.eb, "MessageProperties");
		if (mp == NULL) {
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
		for (size_t i = 0; err == AS4_OK && i < um->n_props; i++) {
			err = build_property(&c, mp, &um->props[i], "properties");
		}
	}
	if (err == AS4_OK && um->n_parts > 0) {
		xmlNode *pl = ebms3_add_elem(user, c.eb, "PayloadInfo");
		if (pl == NULL) {
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
		for (size_t i = 0; err == AS4_OK && i < um->n_parts; i++) {
			err = build_part_info(&c, pl, &um->parts[i], i);
		}
	}
	if (err != AS4_OK) {
		goto out;
	}
	*out = doc;
	doc = NULL;
out:
	xmlFreeDoc(doc);
	return err;
}

/* ---- serialisation and ids ------------------------------------------------------------- */

struct save_ctx {
	struct as4_buf *b;
	as4_err err;
};

static int save_write(void *ctx, const char *p, int len)
{
	struct save_ctx *s = ctx;
	if (len < 0 || s->err != AS4_OK) {
		return -1;
	}
	s->err = as4_buf_append(s->b, p, (size_t)len);
	return s->err == AS4_OK ? len : -1;
}

static int save_close(void *ctx)
{
	(void)ctx;
	return 0;
}

as4_err as4_ebms3_serialize(xmlDoc *doc, struct as4_buf *out)
{
	struct save_ctx s = {out, AS4_OK};
	size_t start = out->len;
	/* no XML_SAVE_FORMAT: the bytes must be exactly the signed tree */
	xmlSaveCtxt *save = xmlSaveToIO(save_write, save_close, &s, "UTF-8", XML_SAVE_AS_XML);
	if (save == NULL) {
		return AS4_E_NOMEM;
	}
	long rc = xmlSaveDoc(save, doc);
	int rc2 = xmlSaveClose(save);
	if (s.err != AS4_OK) {
		out->len = start;
		return s.err;
	}
	if (rc < 0 || rc2 < 0) {
		out->len = start;
		return AS4_E_NOMEM;
	}
	return AS4_OK;
}

as4_err as4_ebms3_new_message_id(const char *domain, char *out, size_t cap)
{
	if (domain == NULL || domain[0] == '\0' || domain[0] == '.') {
		return AS4_E_INVAL;
	}
	for (const char *p = domain; *p != '\0'; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		          (*p >= '0' && *p <= '9') || *p == '-' || *p == '.';
		if (!ok || (*p == '.' && (p[1] == '.' || p[1] == '\0'))) {
			return AS4_E_INVAL;
		}
	}
	char uuid[37];
	as4_err err = as4_uuid_v4(uuid);
	if (err != AS4_OK) {
		return err;
	}
	if (36 + 1 + strlen(domain) > AS4_MESSAGE_ID_MAX) {
		return AS4_E_INVAL;
	}
	return as4_str_fmt(out, cap, "%s@%s", uuid, domain);
}
