/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading eb:Messaging (ebMS3 Core §5.2, AS4 profile, eDelivery AS4 1.15). The tree is walked
 * child by child: no XPath (it allocates per query and would cost more than the rest of the
 * parse), one pass per element, so a 10 KB header is read in a few microseconds.
 *
 * Schema shape is enforced where it matters to interoperability and safety: mandatory
 * elements present once, unknown eb: elements refused, foreign elements only where the schema
 * has xsd:any (eb:Messaging, eb:SignalMessage, eb:Receipt, eb:Error). Element order is not
 * enforced: no peer depends on it and a reordered header is still unambiguous.
 */
#include "as4/ebms3.h"

#include <string.h>

#include "as4/str.h"
#include "as4/time.h"
#include "as4/xml.h"
#include "ebms3_int.h"

struct pctx {
	struct as4_arena *arena;
	struct as4_diag *d;
	const struct as4_limits *lim;
};

static bool is_xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool in_ns(const xmlNode *n, const char *ns)
{
	return n->ns != NULL && n->ns->href != NULL && strcmp((const char *)n->ns->href, ns) == 0;
}

static const char *nm(const xmlNode *n)
{
	return (const char *)n->name;
}

/* The conventional prefix of n's namespace, for diagnostics ("eb:", "ds:", "ebbp:"). */
static const char *pfx(const xmlNode *n)
{
	if (in_ns(n, AS4_NS_EB)) {
		return "eb:";
	}
	if (in_ns(n, AS4_NS_DS)) {
		return "ds:";
	}
	return in_ns(n, AS4_NS_EBBP) ? "ebbp:" : "";
}

/*
 * The trimmed text of element el (text and CDATA children; comments and processing
 * instructions are skipped), copied into the arena. An element child is refused: every
 * ebMS3 value element is a simple type. Empty text gives "".
 */
static as4_err elem_text(struct pctx *c, const xmlNode *el, const char **out)
{
	const char *single = NULL;
	size_t n_text = 0;
	for (const xmlNode *ch = el->children; ch != NULL; ch = ch->next) {
		if (ch->type == XML_TEXT_NODE || ch->type == XML_CDATA_SECTION_NODE) {
			n_text++;
			single = (const char *)ch->content;
		} else if (ch->type == XML_ELEMENT_NODE) {
			return as4_diag_set(c->d, AS4_E_HEADER,
			                    "%s%s must hold text only, found element %s", pfx(el),
			                    nm(el), nm(ch));
		}
	}
	if (n_text <= 1) {
		const char *s = single != NULL ? single : "";
		size_t len = strlen(s);
		as4_str_trim(&s, &len);
		if (len > AS4_EBMS3_VALUE_MAX) {
			return as4_diag_set(c->d, AS4_E_HEADER, "%s%s is longer than %d bytes",
			                    pfx(el), nm(el), AS4_EBMS3_VALUE_MAX);
		}
		*out = as4_arena_strndup(c->arena, s, len);
		return *out != NULL ? AS4_OK : as4_diag_set(c->d, AS4_E_NOMEM, "out of memory");
	}
	/* Several text nodes (text around comments, CDATA sections): concatenate, then trim. */
	size_t total = 0;
	for (const xmlNode *ch = el->children; ch != NULL; ch = ch->next) {
		if (ch->type == XML_TEXT_NODE || ch->type == XML_CDATA_SECTION_NODE) {
			size_t l = ch->content != NULL ? strlen((const char *)ch->content) : 0;
			if (!as4_add_size(total, l, &total) || total > 4 * AS4_EBMS3_VALUE_MAX) {
				return as4_diag_set(c->d, AS4_E_HEADER,
				                    "%s%s is longer than %d bytes", pfx(el), nm(el),
				                    AS4_EBMS3_VALUE_MAX);
			}
		}
	}
	char *buf = as4_arena_alloc(c->arena, total + 1);
	if (buf == NULL) {
		return as4_diag_set(c->d, AS4_E_NOMEM, "out of memory");
	}
	size_t pos = 0;
	for (const xmlNode *ch = el->children; ch != NULL; ch = ch->next) {
		if ((ch->type == XML_TEXT_NODE || ch->type == XML_CDATA_SECTION_NODE) &&
		    ch->content != NULL) {
			size_t l = strlen((const char *)ch->content);
			memcpy(buf + pos, ch->content, l);
			pos += l;
		}
	}
	buf[pos] = '\0';
	const char *s = buf;
	size_t len = pos;
	as4_str_trim(&s, &len);
	if (len > AS4_EBMS3_VALUE_MAX) {
		return as4_diag_set(c->d, AS4_E_HEADER, "%s%s is longer than %d bytes", pfx(el),
		                    nm(el), AS4_EBMS3_VALUE_MAX);
	}
	memmove(buf, s, len);
	buf[len] = '\0';
	*out = buf;
	return AS4_OK;
}

/* Like elem_text(), and the value must not be empty: "eb:<what> is empty". */
static as4_err elem_text_req(struct pctx *c, const xmlNode *el, const char *what, const char **out)
{
	as4_err err = elem_text(c, el, out);
	if (err != AS4_OK) {
		return err;
	}
	if ((*out)[0] == '\0') {
		return as4_diag_set(c->d, AS4_E_HEADER, "%s is empty", what);
	}
	return AS4_OK;
}

/* An attribute value copied into the arena (NULL when absent); bounded. */
static as4_err attr_copy(struct pctx *c, const xmlNode *el, const char *ns, const char *name,
                         const char **out)
{
	*out = NULL;
	const char *v = as4_xml_attr(el, ns, name);
	if (v == NULL) {
		/* as4_xml_attr gives NULL for a multi-node value too: read it the slow way. */
		xmlChar *slow = NULL;
		if (ns == NULL) {
			slow = xmlGetNoNsProp(el, (const xmlChar *)name);
		} else {
			slow = xmlGetNsProp(el, (const xmlChar *)name, (const xmlChar *)ns);
		}
		if (slow == NULL) {
			return AS4_OK;
		}
		if (strlen((const char *)slow) > AS4_EBMS3_VALUE_MAX) {
			xmlFree(slow);
			return as4_diag_set(c->d, AS4_E_HEADER,
			                    "attribute %s of %s%s is longer than %d bytes", name,
			                    pfx(el), nm(el), AS4_EBMS3_VALUE_MAX);
		}
		*out = as4_arena_strdup(c->arena, (const char *)slow);
		xmlFree(slow);
		return *out != NULL ? AS4_OK : as4_diag_set(c->d, AS4_E_NOMEM, "out of memory");
	}
	if (strlen(v) > AS4_EBMS3_VALUE_MAX) {
		return as4_diag_set(c->d, AS4_E_HEADER,
		                    "attribute %s of %s%s is longer than %d bytes", name, pfx(el),
		                    nm(el), AS4_EBMS3_VALUE_MAX);
	}
	*out = as4_arena_strdup(c->arena, v);
	return *out != NULL ? AS4_OK : as4_diag_set(c->d, AS4_E_NOMEM, "out of memory");
}

/*
 * Sort the element children of parent into the slots of a table of eb: names. Slot i of
 * found receives the first child named names[i]; counts[i] how many there were. max[i] is the
 * most allowed (0 = unbounded). An eb: element not in the table is refused; a foreign
 * element is refused unless allow_foreign.
 */
static as4_err sort_children(struct pctx *c, const xmlNode *parent, const char *const *names,
                             const unsigned *max, size_t n, xmlNode **found, size_t *counts,
                             bool allow_foreign)
{
	for (size_t i = 0; i < n; i++) {
		found[i] = NULL;
		counts[i] = 0;
	}
	for (xmlNode *ch = as4_xml_first_elem(parent); ch != NULL; ch = as4_xml_next_elem(ch)) {
		if (!in_ns(ch, AS4_NS_EB)) {
			if (allow_foreign) {
				continue;
			}
			return as4_diag_set(c->d, AS4_E_HEADER,
			                    "unexpected element %s%s%s%s in eb:%s",
			                    ch->ns != NULL ? "{" : "",
			                    ch->ns != NULL ? (const char *)ch->ns->href : "",
			                    ch->ns != NULL ? "}" : "", nm(ch), nm(parent));
		}
		size_t i = 0;
		while (i < n && strcmp(nm(ch), names[i]) != 0) {
			i++;
		}
		if (i == n) {
			return as4_diag_set(c->d, AS4_E_HEADER, "unknown element eb:%s in eb:%s",
			                    nm(ch), nm(parent));
		}
		counts[i]++;
		if (max[i] != 0 && counts[i] > max[i]) {
			return as4_diag_set(c->d, AS4_E_HEADER, "eb:%s holds more than one eb:%s",
			                    nm(parent), names[i]);
		}
		if (found[i] == NULL) {
			found[i] = ch;
		}
	}
	return AS4_OK;
}

static as4_err parse_timestamp(struct pctx *c, const xmlNode *el, const char **text, int64_t *ms)
{
	as4_err err = elem_text_req(c, el, "eb:Timestamp", text);
	if (err != AS4_OK) {
		return err;
	}
	/* xsd:dateTime needs the time part; as4_time_parse alone would take a plain date too. */
	const char *t = strchr(*text, 'T');
	if (t == NULL || as4_time_parse(*text, ms) != AS4_OK) {
		return as4_diag_set(c->d, AS4_E_HEADER,
		                    "eb:Timestamp '%.64s' is not an xsd:dateTime", *text);
	}
	if (*ms < 0) {
		/* schema-valid but not a time any MSH sent (ebMS3 is from 2007); refused so every
		 * time this MSH handles fits its millisecond clock */
		return as4_diag_set(c->d, AS4_E_HEADER, "eb:Timestamp '%.64s' is before 1970",
		                    *text);
	}
	return AS4_OK;
}

bool as4_ebms3_message_id_valid(const char *s)
{
	if (s == NULL || s[0] == '\0') {
		return false;
	}
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++, n++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>') {
			return false;
		}
	}
	return n <= AS4_MESSAGE_ID_MAX;
}

/* eb:MessageInfo: MessageId is read first so that a later failure can still name it. */
static as4_err parse_message_info(struct pctx *c, const xmlNode *mi, const char **timestamp,
                                  int64_t *ts_ms, const char **message_id, const char **ref_to)
{
	static const char *const names[] = {"Timestamp", "MessageId", "RefToMessageId"};
	static const unsigned max[] = {1, 1, 1};
	xmlNode *f[3];
	size_t cnt[3];
	as4_err err = sort_children(c, mi, names, max, 3, f, cnt, false);
	if (err != AS4_OK) {
		return err;
	}
	if (f[1] == NULL) {
		return as4_diag_set(c->d, AS4_E_HEADER, "eb:MessageInfo has no eb:MessageId");
	}
	const char *id = NULL;
	err = elem_text_req(c, f[1], "eb:MessageId", &id);
	if (err != AS4_OK) {
		return err;
	}
	if (!as4_ebms3_message_id_valid(id)) {
		return as4_diag_set(c->d, AS4_E_HEADER,
		                    "eb:MessageId '%.80s' is not a message id (1..%d bytes, no "
		                    "whitespace or angle brackets)",
		                    id, AS4_MESSAGE_ID_MAX);
	}
	*message_id = id;
	if (f[0] == NULL) {
		return as4_diag_set(c->d, AS4_E_HEADER, "eb:MessageInfo has no eb:Timestamp");
	}
	err = parse_timestamp(c, f[0], timestamp, ts_ms);
	if (err != AS4_OK) {
		return err;
	}
	*ref_to = NULL;
	if (f[2] != NULL) {
		const char *ref = NULL;
		err = elem_text_req(c, f[2], "eb:RefToMessageId", &ref);
		if (err != AS4_OK) {
			return err;
		}
		if (!as4_ebms3_message_id_valid(ref)) {
			return as4_diag_set(c->d, AS4_E_HEADER,
			                    "eb:RefToMessageId '%.80s' is not a message id", ref);
		}
		*ref_to = ref;
	}
	return AS4_OK;
}

/* eb:From / eb:To: >= 1 PartyId [@type] and one Role. */
static as4_err parse_party(struct pctx *c, const xmlNode *el, struct as4_party_info *out)
{
	static const char *const names[] = {"PartyId", "Role"};
	static const unsigned max[] = {0, 1};
	xmlNode *f[2];
	size_t cnt[2];
	as4_err err = sort_children(c, el, names, max, 2, f, cnt, false);
	if (err != AS4_OK) {
		return err;
	}
	if (cnt[0] == 0) {
		return as4_diag_set(c->d, AS4_E_HEADER, "eb:%s has no eb:PartyId", nm(el));
	}
	struct as4_party_id *ids = as4_arena_calloc(c->arena, cnt[0], sizeof(*ids));
	if (ids == NULL) {
		return as4_diag_set(c->d, AS4_E_NOMEM, "out of memory");
	}
	out->ids = ids;
	size_t i = 0;
	for (xmlNode *ch = f[0]; ch != NULL; ch = as4_xml_next_elem(ch)) {
		if (!as4_xml_is(ch, AS4_NS_EB, "PartyId")) {
			continue;
		}
		struct as4_party_id *pid = &ids[i++];
		err = elem_text(c, ch, &pid->value);
		if (err != AS4_OK) {
			return err;
		}
		if (pid->value[0] == '\0') {
			return as4_diag_set(c->d, AS4_E_HEADER, "eb:%s has an empty eb:PartyId",
			                    nm(el));
		}
		err = attr_copy(c, ch, NULL, "type", &pid->type);
		if (err != AS4_OK) {
			return err;
		}
		if (pid->type != NULL && pid->type[0] == '\0') {
			return as4_diag_set(c->d, AS4_E_HEADER,
			                    "eb:%s/eb:PartyId '%.80s' has an empty @type", nm(el),
			                    pid->value);
		}
	}
	out->n_ids = i;
	if (f[1] == NULL) {
		return as4_diag_set(c->d, AS4_E_HEADER, "eb:%s has no eb:Role", nm(el));
	}
	char what[32];
	if (as4_str_fmt(what, sizeof(what), "eb:%s/eb:Role", nm(el)) != AS4_OK) {
		/* fixed names: always fits */
	}
	return elem_text_req(c, f[1], what, &out->role);
}

static as4_err parse_party_info(struct pctx *c, const xmlNode *pi, struct as4_user_message *um)
{
	static const char *const names[] = {"From", "To"};
	static const unsigned max[] = {1, 1};
	xmlNode *f[2];
	size_t cnt[2];
	as4_err err = sort_children(c, pi, names, max, 2, f, cnt, false);
	if (err != AS4_OK) {
		return err;
	}
	if (f[0] == NULL) {
		return as4_diag_set(c->d, AS4_E_HEADER, "eb:PartyInfo has no eb:From");
	}
	if (f[1] == NULL) {
		return as4_diag_set(c->d, AS4_E_HEADER, "eb:PartyInfo has no eb:To");
	}
	err = parse_party(c, f[0], &um->from);
	if (err != AS4_OK) {
		return err;
	}
	return parse_party(c, f[1], &um->to);
}

static as4_err parse_collaboration(struct pctx *c, const xmlNode *ci, struct as4_user_message *um)
{
	static const char *const names[] = {"AgreementRef", "Service", "Action", "ConversationId"};
	static const unsigned max[] = {1, 1, 1, 1};
	xmlNode *f[4];
	size_t cnt[4];
	as4_err err = sort_children(c, ci, names, max, 4, f, cnt, false);
	if (err != AS4_OK) {
		return err;
	}
	if (f[0] != NULL) {
		err = elem_text_req(c, f[0], "eb:AgreementRef", &um->agreement);
		if (err == AS4_OK) {
			err = attr_copy(c, f[0], NULL, "type", &um->agreement_type);
		}
		if (err == AS4_OK) {
			err = attr_copy(c, f[0], NULL, "pmode", &um->agreement_pmode);
		}
		if (err != AS4_OK) {
			return err;
		}
	}
	if (f[1] == NULL) {
		return as4_diag_set(c->d, AS4_E_HEADER, "eb:CollaborationInfo has no eb:Service");
	}
	err = elem_text_req(c, f[1], "eb:Service", &um->service);
	if (err == AS4_OK) {
		err = attr_copy(c, f[1], NULL, "type", &um->service_type);
	}
	if (err != AS4_OK) {
		return err;
	}
	if (f[2] == NULL) {
		return as4_diag_set(c->d, AS4_E_HEADER, "eb:CollaborationInfo has no eb:Action");
	}
	err = elem_text_req(c, f[2], "eb:Action", &um->action);
	if (err != AS4_OK) {
		return err;
	}
	if (f[3] == NULL) {
		return as4_diag_set(c->d, AS4_E_HEADER,
		                    "eb:CollaborationInfo has no eb:ConversationId");
	}
	return elem_text_req(c, f[3], "eb:ConversationId", &um->conversation_id);
}

/* The eb:Property children of el (MessageProperties or PartProperties). */
static as4_err parse_properties(struct pctx *c, const xmlNode *el, const struct as4_property **out,
                                size_t *n_out)
{
	static const char *const names[] = {"Property"};
	static const unsigned max[] = {0};
	xmlNode *f[1];
	size_t cnt[1];
	as4_err err = sort_children(c, el, names, max, 1, f, cnt, false);
	if (err != AS4_OK) {
		return err;
	}
	*out = NULL;
	*n_out = 0;
	if (cnt[0] == 0) {
		return AS4_OK;
	}
	struct as4_property *props = as4_arena_calloc(c->arena, cnt[0], sizeof(*props));
	if (props == NULL) {
		return as4_diag_set(c->d, AS4_E_NOMEM, "out of memory");
	}
	size_t i = 0;
	for (xmlNode *ch = f[0]; ch != NULL; ch = as4_xml_next_elem(ch)) {
		struct as4_property *p = &props[i];
		err = attr_copy(c, ch, NULL, "name", &p->name);
		if (err != AS4_OK) {
			return err;
		}
		if (p->name == NULL || p->name[0] == '\0') {
			return as4_diag_set(c->d, AS4_E_HEADER,
			                    "eb:Property %zu of eb:%s has no @name", i + 1, nm(el));
		}
		err = attr_copy(c, ch, NULL, "type", &p->type);
		if (err == AS4_OK) {
			err = elem_text(c, ch, &p->value);
		}
		if (err != AS4_OK) {
			return err;
		}
		i++;
	}
	*out = props;
	*n_out = i;
	return AS4_OK;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9') {
		return ch - '0';
	}
	if (ch >= 'a' && ch <= 'f') {
		return ch - 'a' + 10;
	}
	if (ch >= 'A' && ch <= 'F') {
		return ch - 'A' + 10;
	}
	return -1;
}

/* RFC 2392: a cid URL is the Content-ID with %hh escapes; decode them into the arena. */
static const char *cid_decode(struct as4_arena *a, const char *s)
{
	size_t len = strlen(s);
	char *out = as4_arena_alloc(a, len + 1);
	if (out == NULL) {
		return NULL;
	}
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int hi = 0;
		int lo = 0;
		/* s is NUL-terminated: hexval('\0') < 0 stops before reading past the end */
		if (s[i] == '%' && (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0 &&
		    (hi != 0 || lo != 0)) {
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

static as4_err parse_part_info(struct pctx *c, const xmlNode *el, size_t idx,
                               struct as4_part_info *pi)
{
	/*
	 * "Schemas" is not in the ebMS3 schema (which has eb:Schema), but AS4.NET writes an
	 * empty <eb:Schemas/> in every PartInfo; it carries nothing, so it is tolerated.
	 */
	static const char *const names[] = {"Schema", "Description", "PartProperties", "Schemas"};
	static const unsigned max[] = {0, 1, 1, 1};
	xmlNode *f[4];
	size_t cnt[4];
	as4_err err = sort_children(c, el, names, max, 4, f, cnt, false);
	if (err != AS4_OK) {
		return err;
	}
	err = attr_copy(c, el, NULL, "href", &pi->href);
	if (err != AS4_OK) {
		return err;
	}
	if (pi->href == NULL) {
		pi->in_body = true;
	} else if (as4_str_nieq(pi->href, "cid:", 4)) {
		pi->content_id = cid_decode(c->arena, pi->href + 4);
		if (pi->content_id == NULL) {
			return as4_diag_set(c->d, AS4_E_NOMEM, "out of memory");
		}
	} else if (pi->href[0] == '#') {
		pi->in_body = true;
		pi->body_ref = pi->href + 1;
	}
	if (f[2] == NULL) {
		return AS4_OK;
	}
	err = parse_properties(c, f[2], &pi->props, &pi->n_props);
	if (err != AS4_OK) {
		return err;
	}
	for (size_t i = 0; i < pi->n_props; i++) {
		const struct as4_property *p = &pi->props[i];
		const char **slot = NULL;
		if (strcmp(p->name, AS4_PROP_MIME_TYPE) == 0) {
			slot = &pi->mime_type;
		} else if (strcmp(p->name, AS4_PROP_COMPRESSION) == 0) {
			slot = &pi->compression;
		} else if (strcmp(p->name, AS4_PROP_CHARSET) == 0) {
			slot = &pi->charset;
		}
		if (slot == NULL) {
			continue;
		}
		if (*slot != NULL) {
			return as4_diag_set(c->d, AS4_E_HEADER,
			                    "eb:PartInfo %zu has more than one %s property",
			                    idx + 1, p->name);
		}
		if (p->value[0] == '\0') {
			return as4_diag_set(c->d, AS4_E_HEADER,
			                    "eb:PartInfo %zu has an empty %s property", idx + 1,
			                    p->name);
		}
		*slot = p->value;
	}
	return AS4_OK;
}

static as4_err parse_payload_info(struct pctx *c, const xmlNode *el, struct as4_user_message *um)
{
	static const char *const names[] = {"PartInfo"};
	static const unsigned max[] = {0};
	xmlNode *f[1];
	size_t cnt[1];
	as4_err err = sort_children(c, el, names, max, 1, f, cnt, false);
	if (err != AS4_OK) {
		return err;
	}
	if (cnt[0] == 0) {
		return AS4_OK;
	}
	if (cnt[0] > c->lim->max_parts) {
		return as4_diag_set(c->d, AS4_E_LIMIT,
		                    "eb:PayloadInfo has %zu eb:PartInfo (limit %zu)", cnt[0],
		                    c->lim->max_parts);
	}
	struct as4_part_info *parts = as4_arena_calloc(c->arena, cnt[0], sizeof(*parts));
	if (parts == NULL) {
		return as4_diag_set(c->d, AS4_E_NOMEM, "out of memory");
	}
	um->parts = parts;
	size_t i = 0;
	for (xmlNode *ch = f[0]; ch != NULL; ch = as4_xml_next_elem(ch)) {
		err = parse_part_info(c, ch, i, &parts[i]);
		if (err != AS4_OK) {
			return err;
		}
		i++;
	}
	um->n_parts = i;
	return AS4_OK;
}

static as4_err parse_user_message(struct pctx *c, const xmlNode *el, struct as4_user_message *um)
{
	static const char *const names[] = {"MessageInfo", "PartyInfo", "CollaborationInfo",
	                                    "MessageProperties", "PayloadInfo"};
	static const unsigned max[] = {1, 1, 1, 1, 1};
	xmlNode *f[5];
	size_t cnt[5];
	as4_err err = attr_copy(c, el, NULL, "mpc", &um->mpc);
	if (err != AS4_OK) {
		return err;
	}
	/* MessageInfo first, before any other check, so a failure can name the MessageId. */
	xmlNode *mi = as4_xml_child(el, AS4_NS_EB, "MessageInfo");
	if (mi != NULL) {
		err = parse_message_info(c, mi, &um->timestamp, &um->timestamp_ms, &um->message_id,
		                         &um->ref_to_message_id);
		if (err != AS4_OK) {
			return err;
		}
	}
	err = sort_children(c, el, names, max, 5, f, cnt, false);
	if (err != AS4_OK) {
		return err;
	}
	if (f[0] == NULL) {
		return as4_diag_set(c->d, AS4_E_HEADER, "eb:UserMessage has no eb:MessageInfo");
	}
	if (um->mpc != NULL && um->mpc[0] == '\0') {
		return as4_diag_set(c->d, AS4_E_HEADER, "eb:UserMessage has an empty @mpc");
	}
	if (f[1] == NULL) {
		return as4_diag_set(c->d, AS4_E_HEADER, "eb:UserMessage has no eb:PartyInfo");
	}
	err = parse_party_info(c, f[1], um);
	if (err != AS4_OK) {
		return err;
	}
	if (f[2] == NULL) {
		return as4_diag_set(c->d, AS4_E_HEADER,
		                    "eb:UserMessage has no eb:CollaborationInfo");
	}
	err = parse_collaboration(c, f[2], um);
	if (err != AS4_OK) {
		return err;
	}
	if (f[3] != NULL) {
		err = parse_properties(c, f[3], &um->props, &um->n_props);
		if (err != AS4_OK) {
			return err;
		}
		for (size_t i = 0; i < um->n_props; i++) {
			if (um->props[i].type != NULL && um->props[i].type[0] == '\0') {
				return as4_diag_set(c->d, AS4_E_HEADER,
				                    "message property '%.64s' has an empty @type",
				                    um->props[i].name);
			}
		}
	}
	if (f[4] != NULL) {
		err = parse_payload_info(c, f[4], um);
	}
	return err;
}

/* ---- signals ----------------------------------------------------------------------------- */

/* A copy of base64 text s without any whitespace, in the arena; NULL = out of memory. */
static const char *squeeze_space(struct as4_arena *a, const char *s)
{
	char *out = as4_arena_alloc(a, strlen(s) + 1);
	if (out == NULL) {
		return NULL;
	}
	char *w = out;
	for (const char *r = s; *r != '\0'; r++) {
		if (!is_xml_space(*r)) {
			*w++ = *r;
		}
	}
	*w = '\0';
	return out;
}

/* One ds:Reference of a Receipt's NRI: URI, DigestMethod/@Algorithm, DigestValue. */
static as4_err parse_nri_reference(struct pctx *c, const xmlNode *ref, size_t idx,
                                   struct as4_nri_ref *out)
{
	as4_err err = attr_copy(c, ref, NULL, "URI", &out->uri);
	if (err != AS4_OK) {
		return err;
	}
	if (out->uri == NULL) {
		return as4_diag_set(c->d, AS4_E_HEADER,
		                    "ebbp:MessagePartNRInformation %zu: ds:Reference has no @URI",
		                    idx + 1);
	}
	const xmlNode *dm = as4_xml_child(ref, AS4_NS_DS, "DigestMethod");
	const xmlNode *dv = as4_xml_child(ref, AS4_NS_DS, "DigestValue");
	if (dm == NULL || dv == NULL) {
		return as4_diag_set(c->d, AS4_E_HEADER,
		                    "ebbp:MessagePartNRInformation %zu: ds:Reference lacks "
		                    "ds:DigestMethod or ds:DigestValue",
		                    idx + 1);
	}
	err = attr_copy(c, dm, NULL, "Algorithm", &out->digest_method);
	if (err != AS4_OK) {
		return err;
	}
	if (out->digest_method == NULL) {
		return as4_diag_set(c->d, AS4_E_HEADER,
		                    "ebbp:MessagePartNRInformation %zu: ds:DigestMethod has no "
		                    "@Algorithm",
		                    idx + 1);
	}
	const char *v = NULL;
	err = elem_text(c, dv, &v);
	if (err != AS4_OK) {
		return err;
	}
	v = squeeze_space(c->arena, v);
	if (v == NULL) {
		return as4_diag_set(c->d, AS4_E_NOMEM, "out of memory");
	}
	if (v[0] == '\0') {
		return as4_diag_set(c->d, AS4_E_HEADER,
		                    "ebbp:MessagePartNRInformation %zu: ds:DigestValue is empty",
		                    idx + 1);
	}
	out->digest_value = v;
	return AS4_OK;
}

static as4_err parse_receipt(struct pctx *c, const xmlNode *rc, struct as4_signal_message *sm)
{
	const xmlNode *nri = NULL;
	for (xmlNode *ch = as4_xml_first_elem(rc); ch != NULL; ch = as4_xml_next_elem(ch)) {
		if (as4_xml_is(ch, AS4_NS_EBBP, "NonRepudiationInformation")) {
			if (nri != NULL) {
				return as4_diag_set(c->d, AS4_E_HEADER,
				                    "eb:Receipt holds more than one "
				                    "ebbp:NonRepudiationInformation");
			}
			nri = ch;
		} else if (as4_xml_is(ch, AS4_NS_EB, "UserMessage")) {
			if (sm->receipt_user_message) {
				return as4_diag_set(
				        c->d, AS4_E_HEADER,
				        "eb:Receipt holds more than one eb:UserMessage");
			}
			sm->receipt_user_message = true;
			/* Best effort: the copy is informative, its MessageId is shown by inspect.
			 */
			const xmlNode *mi = as4_xml_child(ch, AS4_NS_EB, "MessageInfo");
			const xmlNode *id = as4_xml_child(mi, AS4_NS_EB, "MessageId");
			const char *v = NULL;
			struct as4_diag scratch;
			as4_diag_init(&scratch);
			struct pctx quiet = {c->arena, &scratch, c->lim};
			if (id != NULL && elem_text(&quiet, id, &v) == AS4_OK &&
			    as4_ebms3_message_id_valid(v)) {
				sm->receipt_user_message_id = v;
			}
		} else if (in_ns(ch, AS4_NS_EB)) {
			return as4_diag_set(c->d, AS4_E_HEADER,
			                    "unknown element eb:%s in eb:Receipt", nm(ch));
		}
	}
	if (nri == NULL) {
		return AS4_OK;
	}
	size_t n = as4_xml_count_children(nri, AS4_NS_EBBP, "MessagePartNRInformation");
	if (n == 0) {
		return as4_diag_set(c->d, AS4_E_HEADER,
		                    "ebbp:NonRepudiationInformation has no "
		                    "ebbp:MessagePartNRInformation");
	}
	sm->nri = as4_arena_calloc(c->arena, n, sizeof(*sm->nri));
	if (sm->nri == NULL) {
		return as4_diag_set(c->d, AS4_E_NOMEM, "out of memory");
	}
	size_t i = 0;
	for (xmlNode *ch = as4_xml_first_elem(nri); ch != NULL; ch = as4_xml_next_elem(ch)) {
		if (!as4_xml_is(ch, AS4_NS_EBBP, "MessagePartNRInformation")) {
			continue;
		}
		const xmlNode *ref = as4_xml_child(ch, AS4_NS_DS, "Reference");
		if (ref == NULL) {
			return as4_diag_set(c->d, AS4_E_HEADER,
			                    "ebbp:MessagePartNRInformation %zu has no ds:Reference",
			                    i + 1);
		}
		as4_err err = parse_nri_reference(c, ref, i, &sm->nri[i]);
		if (err != AS4_OK) {
			return err;
		}
		i++;
	}
	sm->n_nri = i;
	return AS4_OK;
}

static as4_err parse_error(struct pctx *c, const xmlNode *el, size_t idx, struct as4_ebms_error *e)
{
	as4_err err = attr_copy(c, el, NULL, "errorCode", &e->error_code);
	if (err == AS4_OK) {
		err = attr_copy(c, el, NULL, "severity", &e->severity);
	}
	if (err == AS4_OK) {
		err = attr_copy(c, el, NULL, "shortDescription", &e->short_description);
	}
	if (err == AS4_OK) {
		err = attr_copy(c, el, NULL, "category", &e->category);
	}
	if (err == AS4_OK) {
		err = attr_copy(c, el, NULL, "origin", &e->origin);
	}
	if (err == AS4_OK) {
		err = attr_copy(c, el, NULL, "refToMessageInError", &e->ref_to_message_in_error);
	}
	if (err != AS4_OK) {
		return err;
	}
	if (e->error_code == NULL || e->error_code[0] == '\0') {
		return as4_diag_set(c->d, AS4_E_HEADER, "eb:Error %zu has no @errorCode", idx + 1);
	}
	if (e->severity == NULL ||
	    (strcmp(e->severity, "failure") != 0 && strcmp(e->severity, "warning") != 0)) {
		return as4_diag_set(c->d, AS4_E_HEADER,
		                    "eb:Error %zu: @severity must be 'failure' or 'warning'",
		                    idx + 1);
	}
	for (xmlNode *ch = as4_xml_first_elem(el); ch != NULL; ch = as4_xml_next_elem(ch)) {
		if (as4_xml_is(ch, AS4_NS_EB, "Description")) {
			if (e->description != NULL) {
				return as4_diag_set(
				        c->d, AS4_E_HEADER,
				        "eb:Error %zu holds more than one eb:Description", idx + 1);
			}
			err = elem_text(c, ch, &e->description);
			if (err == AS4_OK) {
				err = attr_copy(c, ch, EBMS3_NS_XML, "lang", &e->description_lang);
			}
		} else if (as4_xml_is(ch, AS4_NS_EB, "ErrorDetail")) {
			if (e->detail != NULL) {
				return as4_diag_set(
				        c->d, AS4_E_HEADER,
				        "eb:Error %zu holds more than one eb:ErrorDetail", idx + 1);
			}
			err = elem_text(c, ch, &e->detail);
		} else if (in_ns(ch, AS4_NS_EB)) {
			err = as4_diag_set(c->d, AS4_E_HEADER, "unknown element eb:%s in eb:Error",
			                   nm(ch));
		}
		if (err != AS4_OK) {
			return err;
		}
	}
	return AS4_OK;
}

static as4_err parse_signal_message(struct pctx *c, const xmlNode *el,
                                    struct as4_signal_message *sm)
{
	static const char *const names[] = {"MessageInfo", "PullRequest", "Receipt", "Error"};
	static const unsigned max[] = {1, 0, 0, 0};
	xmlNode *f[4];
	size_t cnt[4];
	xmlNode *mi = as4_xml_child(el, AS4_NS_EB, "MessageInfo");
	as4_err err = AS4_OK;
	if (mi != NULL) {
		err = parse_message_info(c, mi, &sm->timestamp, &sm->timestamp_ms, &sm->message_id,
		                         &sm->ref_to_message_id);
		if (err != AS4_OK) {
			return err;
		}
	}
	/* xsd:any ##other after the signal elements: foreign content is allowed. */
	err = sort_children(c, el, names, max, 4, f, cnt, true);
	if (err != AS4_OK) {
		return err;
	}
	if (f[0] == NULL) {
		return as4_diag_set(c->d, AS4_E_HEADER, "eb:SignalMessage has no eb:MessageInfo");
	}
	size_t kinds = (size_t)(cnt[1] > 0) + (size_t)(cnt[2] > 0) + (size_t)(cnt[3] > 0);
	if (kinds == 0) {
		return as4_diag_set(
		        c->d, AS4_E_HEADER,
		        "eb:SignalMessage holds no eb:Receipt, eb:Error or eb:PullRequest");
	}
	if (kinds > 1 || cnt[1] > 1 || cnt[2] > 1) {
		return as4_diag_set(
		        c->d, AS4_E_BUNDLED,
		        "eb:SignalMessage bundles %zu eb:PullRequest, %zu eb:Receipt and "
		        "%zu eb:Error; AS4 carries one signal per message",
		        cnt[1], cnt[2], cnt[3]);
	}
	if (cnt[1] == 1) {
		sm->kind = AS4_SIGNAL_PULL_REQUEST;
		err = attr_copy(c, f[1], NULL, "mpc", &sm->pull_mpc);
		if (err == AS4_OK && sm->pull_mpc != NULL && sm->pull_mpc[0] == '\0') {
			err = as4_diag_set(c->d, AS4_E_HEADER, "eb:PullRequest has an empty @mpc");
		}
		return err;
	}
	if (cnt[2] == 1) {
		sm->kind = AS4_SIGNAL_RECEIPT;
		return parse_receipt(c, f[2], sm);
	}
	sm->kind = AS4_SIGNAL_ERROR;
	sm->errors = as4_arena_calloc(c->arena, cnt[3], sizeof(*sm->errors));
	if (sm->errors == NULL) {
		return as4_diag_set(c->d, AS4_E_NOMEM, "out of memory");
	}
	size_t i = 0;
	for (xmlNode *ch = f[3]; ch != NULL; ch = as4_xml_next_elem(ch)) {
		if (!as4_xml_is(ch, AS4_NS_EB, "Error")) {
			continue;
		}
		err = parse_error(c, ch, i, &sm->errors[i]);
		if (err != AS4_OK) {
			return err;
		}
		i++;
	}
	sm->n_errors = i;
	return AS4_OK;
}

/* ---- envelope -------------------------------------------------------------------------- */

/* For a bundling error: read the first unit's MessageId so the Error can refer to it. */
static void peek_first_id(struct pctx *c, xmlNode *first, struct as4_messaging *out)
{
	xmlNode *mi = as4_xml_child(first, AS4_NS_EB, "MessageInfo");
	xmlNode *id = as4_xml_child(mi, AS4_NS_EB, "MessageId");
	const char *v = NULL;
	struct as4_diag scratch;
	as4_diag_init(&scratch);
	struct pctx quiet = {c->arena, &scratch, c->lim};
	if (id != NULL && elem_text(&quiet, id, &v) == AS4_OK && as4_ebms3_message_id_valid(v)) {
		if (as4_xml_is(first, AS4_NS_EB, "UserMessage")) {
			out->user.message_id = v;
		} else {
			out->signal.message_id = v;
		}
	}
}

static as4_err parse_messaging(struct pctx *c, xmlNode *msg, struct as4_messaging *out)
{
	as4_err err = attr_copy(c, msg, AS4_NS_WSU, "Id", &out->messaging_id);
	if (err != AS4_OK) {
		return err;
	}
	size_t n_user = 0;
	size_t n_signal = 0;
	xmlNode *first = NULL;
	for (xmlNode *ch = as4_xml_first_elem(msg); ch != NULL; ch = as4_xml_next_elem(ch)) {
		if (as4_xml_is(ch, AS4_NS_EB, "UserMessage")) {
			n_user++;
		} else if (as4_xml_is(ch, AS4_NS_EB, "SignalMessage")) {
			n_signal++;
		} else if (in_ns(ch, AS4_NS_EB)) {
			return as4_diag_set(c->d, AS4_E_HEADER,
			                    "unknown element eb:%s in eb:Messaging", nm(ch));
		} else {
			continue;
		}
		if (first == NULL) {
			first = ch;
		}
	}
	if (first == NULL) {
		return as4_diag_set(c->d, AS4_E_HEADER,
		                    "eb:Messaging holds no eb:UserMessage or eb:SignalMessage");
	}
	if (n_user + n_signal > 1) {
		/* say what the message is, and its first id, so the Error can refer to it */
		out->kind = as4_xml_is(first, AS4_NS_EB, "UserMessage") ? AS4_UNIT_USER_MESSAGE
		                                                        : AS4_UNIT_SIGNAL;
		peek_first_id(c, first, out);
		/* AS4 §2.2: no bundling; AS4-NOTES: exactly one UserMessage per AS4 message. */
		return as4_diag_set(
		        c->d, AS4_E_BUNDLED,
		        "eb:Messaging bundles %zu eb:UserMessage and %zu eb:SignalMessage; "
		        "AS4 carries exactly one message unit",
		        n_user, n_signal);
	}
	out->unit = first;
	if (n_user == 1) {
		out->kind = AS4_UNIT_USER_MESSAGE;
		return parse_user_message(c, first, &out->user);
	}
	out->kind = AS4_UNIT_SIGNAL;
	return parse_signal_message(c, first, &out->signal);
}

as4_err as4_ebms3_parse(xmlDoc *doc, const struct as4_limits *lim, struct as4_arena *arena,
                        struct as4_messaging *out, struct as4_diag *d)
{
	struct as4_limits defaults;
	if (lim == NULL) {
		as4_limits_default(&defaults);
		lim = &defaults;
	}
	memset(out, 0, sizeof(*out));
	struct pctx c = {arena, d, lim};
	xmlNode *env = xmlDocGetRootElement(doc);
	if (env == NULL) {
		return as4_diag_set(d, AS4_E_XML, "document has no root element");
	}
	if (!as4_xml_is(env, AS4_NS_SOAP12, "Envelope")) {
		if (strcmp(nm(env), "Envelope") == 0) {
			const char *ns = env->ns != NULL ? (const char *)env->ns->href : "";
			return as4_diag_set(d, AS4_E_SOAP_VERSION,
			                    "envelope namespace '%.100s' is not SOAP 1.2 (%s)%s",
			                    ns, AS4_NS_SOAP12,
			                    strcmp(ns, AS4_NS_SOAP11) == 0
			                            ? ": SOAP 1.1 is not used by AS4"
			                            : "");
		}
		return as4_diag_set(d, AS4_E_HEADER,
		                    "root element %.80s is not a SOAP 1.2 Envelope", nm(env));
	}
	size_t n_header = 0;
	size_t n_body = 0;
	for (xmlNode *ch = as4_xml_first_elem(env); ch != NULL; ch = as4_xml_next_elem(ch)) {
		if (as4_xml_is(ch, AS4_NS_SOAP12, "Header")) {
			n_header++;
			out->header = ch;
		} else if (as4_xml_is(ch, AS4_NS_SOAP12, "Body")) {
			n_body++;
			out->body = ch;
		} else {
			return as4_diag_set(d, AS4_E_HEADER,
			                    "unexpected element %.80s in S12:Envelope", nm(ch));
		}
	}
	if (n_header != 1 || n_body != 1) {
		return as4_diag_set(
		        d, AS4_E_HEADER,
		        "S12:Envelope must hold one S12:Header and one S12:Body (found %zu "
		        "and %zu)",
		        n_header, n_body);
	}
	size_t n_messaging = 0;
	for (xmlNode *ch = as4_xml_first_elem(out->header); ch != NULL;
	     ch = as4_xml_next_elem(ch)) {
		if (as4_xml_is(ch, AS4_NS_EB, "Messaging")) {
			n_messaging++;
			if (out->messaging == NULL) {
				out->messaging = ch;
			}
		} else if (as4_xml_is(ch, AS4_NS_WSSE, "Security")) {
			out->has_security = true;
		}
	}
	if (n_messaging == 0) {
		return as4_diag_set(d, AS4_E_HEADER, "S12:Header has no eb:Messaging");
	}
	if (n_messaging > 1) {
		return as4_diag_set(d, AS4_E_HEADER, "S12:Header holds %zu eb:Messaging headers",
		                    n_messaging);
	}
	out->has_fault = as4_xml_is(as4_xml_first_elem(out->body), AS4_NS_SOAP12, "Fault");
	return parse_messaging(&c, out->messaging, out);
}

as4_err as4_ebms3_parse_bytes(const uint8_t *buf, size_t len, const struct as4_limits *lim,
                              struct as4_arena *arena, xmlDoc **doc, struct as4_messaging *out,
                              struct as4_diag *d)
{
	struct as4_limits defaults;
	if (lim == NULL) {
		as4_limits_default(&defaults);
		lim = &defaults;
	}
	memset(out, 0, sizeof(*out));
	*doc = NULL;
	if (len > lim->max_soap) {
		return as4_diag_set(d, AS4_E_LIMIT,
		                    "SOAP envelope of %zu bytes exceeds the limit of %zu", len,
		                    lim->max_soap);
	}
	as4_err err = as4_xml_parse(buf, len, lim, doc, d);
	if (err != AS4_OK) {
		return err;
	}
	return as4_ebms3_parse(*doc, lim, arena, out, d);
}

/* ---- value rules ------------------------------------------------------------------------ */

/*
 * RFC 3986 §3.1 scheme ":" followed by at least one character, none of them space, control
 * or the characters RFC 3986 never allows ("<>\"{}|\\^`"). Bytes >= 0x80 pass (IRIs).
 */
static bool looks_like_uri(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) {
		return false;
	}
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
	       *p == '+' || *p == '-' || *p == '.') {
		p++;
	}
	if (*p != ':' || p[1] == '\0') {
		return false;
	}
	for (p++; *p != '\0'; p++) {
		if (*p <= 0x20 || *p == 0x7f || strchr("<>\"{}|\\^`", *p) != NULL) {
			return false;
		}
	}
	return true;
}

static as4_err check_party(const struct as4_party_info *pi, const char *which, struct as4_diag *d)
{
	for (size_t i = 0; i < pi->n_ids; i++) {
		const struct as4_party_id *id = &pi->ids[i];
		if (id->type == NULL && !looks_like_uri(id->value)) {
			/* ebMS3 Core §5.2.2.4: without @type the PartyId MUST be a URI (EBMS:0003)
			 */
			return as4_diag_set(
			        d, AS4_E_INCONSISTENT,
			        "eb:%s/eb:PartyId '%.80s' has no @type and is not a URI", which,
			        id->value);
		}
	}
	return AS4_OK;
}

static as4_err check_part_info(const struct as4_user_message *um, size_t i, struct as4_diag *d)
{
	const struct as4_part_info *pi = &um->parts[i];
	if (pi->href != NULL && pi->content_id == NULL && !pi->in_body) {
		/* ebMS3 Core §5.2.2.13: anything else is a payload outside the message */
		return as4_diag_set(
		        d, AS4_E_EXTERNAL_PAYLOAD,
		        "eb:PartInfo %zu refers to '%.100s', which is not part of this "
		        "message (only cid: attachments and the SOAP Body are accepted)",
		        i + 1, pi->href);
	}
	if (pi->content_id != NULL && pi->content_id[0] == '\0') {
		return as4_diag_set(d, AS4_E_HEADER, "eb:PartInfo %zu has an empty cid: reference",
		                    i + 1);
	}
	if (pi->body_ref != NULL && pi->body_ref[0] == '\0') {
		return as4_diag_set(d, AS4_E_HEADER, "eb:PartInfo %zu has an empty '#' reference",
		                    i + 1);
	}
	for (size_t j = 0; j < i; j++) {
		const struct as4_part_info *o = &um->parts[j];
		bool same = (pi->in_body && o->in_body) ||
		            (pi->content_id != NULL && o->content_id != NULL &&
		             strcmp(pi->content_id, o->content_id) == 0);
		if (same) {
			return as4_diag_set(
			        d, AS4_E_HEADER,
			        "eb:PartInfo %zu and %zu refer to the same payload (%s)", j + 1,
			        i + 1, pi->in_body ? "the SOAP Body" : pi->content_id);
		}
	}
	if (pi->compression != NULL) {
		if (strcmp(pi->compression, AS4_COMPRESSION_GZIP) != 0) {
			/* AS4 §3.1: application/gzip is the only compression type */
			return as4_diag_set(
			        d, AS4_E_VALUE_NOT_RECOGNIZED,
			        "eb:PartInfo %zu: CompressionType '%.80s' is not supported "
			        "(only application/gzip)",
			        i + 1, pi->compression);
		}
		if (pi->mime_type == NULL) {
			/* AS4 §3.1: a compressed part MUST name its original type */
			return as4_diag_set(
			        d, AS4_E_HEADER,
			        "eb:PartInfo %zu is compressed but has no MimeType part "
			        "property",
			        i + 1);
		}
	}
	if (pi->charset != NULL && !as4_xml_encname_valid(pi->charset)) {
		return as4_diag_set(
		        d, AS4_E_HEADER,
		        "eb:PartInfo %zu: CharacterSet '%.80s' is not an XML encoding name", i + 1,
		        pi->charset);
	}
	return AS4_OK;
}

as4_err as4_ebms3_check_user_message(const struct as4_user_message *um, struct as4_diag *d)
{
	as4_err err = check_party(&um->from, "From", d);
	if (err == AS4_OK) {
		err = check_party(&um->to, "To", d);
	}
	for (size_t i = 0; err == AS4_OK && i < um->n_parts; i++) {
		err = check_part_info(um, i, d);
	}
	return err;
}

const struct as4_property *as4_user_message_find_property(const struct as4_user_message *um,
                                                          const char *name)
{
	for (size_t i = 0; i < um->n_props; i++) {
		if (strcmp(um->props[i].name, name) == 0) {
			return &um->props[i];
		}
	}
	return NULL;
}

const char *as4_user_message_property(const struct as4_user_message *um, const char *name)
{
	const struct as4_property *p = as4_user_message_find_property(um, name);
	return p != NULL ? p->value : NULL;
}

bool as4_user_message_is_test(const struct as4_user_message *um)
{
	/* Compared here rather than through as4_pmode_is_test_service() so the message model
	 * needs no PMode code: the constants are the contract. */
	return um->service != NULL && um->action != NULL &&
	       strcmp(um->service, AS4_TEST_SERVICE) == 0 &&
	       strcmp(um->action, AS4_TEST_ACTION) == 0;
}

void as4_ebms3_receipt_summary(const struct as4_messaging *m, struct as4_store_receipt_info *out)
{
	const struct as4_signal_message *s = &m->signal;
	memset(out, 0, sizeof(*out));
	out->known = true;
	out->readable = true;
	out->kind = s->kind == AS4_SIGNAL_RECEIPT ? AS4_STORE_SIGNAL_RECEIPT
	            : s->kind == AS4_SIGNAL_ERROR ? AS4_STORE_SIGNAL_ERROR
	                                          : AS4_STORE_SIGNAL_OTHER;
	/* the store's strings are not const: they are owned by records, never written here */
	out->message_id = (char *)(uintptr_t)s->message_id;
	out->ref_to_message_id = (char *)(uintptr_t)s->ref_to_message_id;
	out->timestamp_ms = s->timestamp_ms;
	out->has_security = m->has_security;
	out->n_nri = (uint32_t)s->n_nri;
}
