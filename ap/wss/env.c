/* SPDX-License-Identifier: Apache-2.0 */
/* SOAP structure, Id uniqueness and registration, and small DOM helpers of the layer. */
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>
#include <libxml/valid.h>
#include <libxml/xmlsave.h>

#include "as4/buf.h"
#include "as4/str.h"
#include "as4/xml.h"
#include "wss_int.h"

#define NS_XML "http://www.w3.org/XML/1998/namespace"

as4_err wss_env_find(xmlDoc *doc, bool create_header, struct wss_env *e, struct as4_diag *d)
{
	memset(e, 0, sizeof(*e));
	e->doc = doc;
	xmlNode *root = xmlDocGetRootElement(doc);
	if (root == NULL || !(as4_xml_is(root, AS4_NS_SOAP12, "Envelope") ||
	                      as4_xml_is(root, AS4_NS_SOAP11, "Envelope"))) {
		return as4_diag_set(d, AS4_E_XML, "the document is not a SOAP Envelope");
	}
	e->envelope = root;
	e->soap = (const char *)root->ns->href;
	for (xmlNode *n = as4_xml_first_elem(root); n != NULL; n = as4_xml_next_elem(n)) {
		if (as4_xml_is(n, e->soap, "Header") && e->header == NULL && e->body == NULL) {
			e->header = n;
		} else if (as4_xml_is(n, e->soap, "Body") && e->body == NULL) {
			e->body = n;
		} else {
			/* SOAP 1.2 Part 1 §5.1: Envelope holds an optional Header, then one Body.
			 */
			return as4_diag_set(d, AS4_E_XML,
			                    "unexpected element %s in the SOAP Envelope",
			                    (const char *)n->name);
		}
	}
	if (e->body == NULL) {
		return as4_diag_set(d, AS4_E_XML, "the SOAP Envelope has no Body");
	}
	if (e->header == NULL && create_header) {
		e->header = xmlNewDocNode(doc, root->ns, BAD_CAST "Header", NULL);
		if (e->header == NULL || xmlAddPrevSibling(e->body, e->header) == NULL) {
			xmlFreeNode(e->header);
			e->header = NULL;
			return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
	}
	if (e->header == NULL) {
		return AS4_OK;
	}
	for (xmlNode *n = as4_xml_first_elem(e->header); n != NULL; n = as4_xml_next_elem(n)) {
		if (as4_xml_is(n, AS4_NS_EB, "Messaging")) {
			if (e->messaging != NULL) {
				return as4_diag_set(
				        d, AS4_E_SIG_INVALID,
				        "the SOAP Header holds more than one eb:Messaging");
			}
			e->messaging = n;
		} else if (as4_xml_is(n, AS4_NS_WSSE, "Security")) {
			if (e->security != NULL) {
				return as4_diag_set(
				        d, AS4_E_SIG_INVALID,
				        "the SOAP Header holds more than one wsse:Security");
			}
			e->security = n;
		}
	}
	return AS4_OK;
}

bool wss_id_syntax_ok(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > WSS_MAX_ID_LEN) {
		return false;
	}
	/*
	 * xsd:ID is an NCName. xmlsec turns "#id" into the XPointer xpointer(id('id')), so only
	 * characters that cannot leave that literal are accepted (no quotes, brackets, spaces).
	 */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' || c >= 0x80;
		if (!ok) {
			return false;
		}
	}
	return true;
}

/* The value of an attribute that has exactly one text child, else NULL. */
static const char *attr_text(const xmlAttr *a)
{
	if (a->children == NULL || a->children->type != XML_TEXT_NODE ||
	    a->children->next != NULL) {
		return a->children == NULL ? "" : NULL;
	}
	return (const char *)a->children->content;
}

struct id_entry {
	const char *value;
	xmlAttr *attr;
	bool reg; /* Id or wsu:Id: registered for "#id" references */
};

static int cmp_id(const void *a, const void *b)
{
	return strcmp(((const struct id_entry *)a)->value, ((const struct id_entry *)b)->value);
}

/* Is this one of the attributes that WS-Security and its peers treat as element ids? */
static bool is_id_attr(const xmlAttr *a, bool *reg)
{
	const char *name = (const char *)a->name;
	const char *ns = a->ns != NULL ? (const char *)a->ns->href : NULL;
	*reg = false;
	if (ns == NULL && strcmp(name, "Id") == 0) {
		*reg = true;
		return true;
	}
	if (ns != NULL && strcmp(ns, AS4_NS_WSU) == 0 && strcmp(name, "Id") == 0) {
		*reg = true;
		return true;
	}
	if (ns == NULL && strcmp(name, "ID") == 0) {
		return true;
	}
	return ns != NULL && strcmp(ns, NS_XML) == 0 && strcmp(name, "id") == 0;
}

as4_err wss_ids_register(xmlDoc *doc, const struct as4_limits *lim, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	size_t cap = 16;
	size_t n = 0;
	size_t max = lim != NULL ? lim->max_xml_nodes : 200000;
	struct id_entry *ids = malloc(cap * sizeof(*ids));
	if (ids == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	xmlNode *node = xmlDocGetRootElement(doc);
	while (node != NULL) {
		if (node->type == XML_ELEMENT_NODE) {
			for (xmlAttr *a = node->properties; a != NULL; a = a->next) {
				bool reg = false;
				if (!is_id_attr(a, &reg)) {
					continue;
				}
				const char *v = attr_text(a);
				if (v == NULL) {
					err = as4_diag_set(
					        d, AS4_E_SIG_INVALID,
					        "Id attribute of element %s is not plain text",
					        (const char *)node->name);
					goto out;
				}
				if (n == cap) {
					if (cap >= max) {
						err = as4_diag_set(d, AS4_E_LIMIT,
						                   "more than %zu Id attributes",
						                   max);
						goto out;
					}
					struct id_entry *bigger =
					        realloc(ids, 2 * cap * sizeof(*ids));
					if (bigger == NULL) {
						err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
						goto out;
					}
					ids = bigger;
					cap *= 2;
				}
				ids[n].value = v;
				ids[n].attr = a;
				ids[n].reg = reg && wss_id_syntax_ok(v);
				n++;
			}
		}
		/* pre-order walk over elements only */
		if (node->type == XML_ELEMENT_NODE && node->children != NULL) {
			node = node->children;
			continue;
		}
		while (node != NULL && node->next == NULL) {
			node = node->parent;
			if (node != NULL && node->type != XML_ELEMENT_NODE) {
				node = NULL;
			}
		}
		if (node != NULL) {
			node = node->next;
		}
	}
	qsort(ids, n, sizeof(*ids), cmp_id);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(ids[i - 1].value, ids[i].value) == 0) {
			/* WS-Security hardening: a repeated id lets a reference point at a decoy.
			 */
			err = as4_diag_set(
			        d, AS4_E_SIG_INVALID,
			        "Id value '%.100s' occurs more than once (on %s and %s); "
			        "duplicate ids are refused as a signature wrapping attempt",
			        ids[i].value, (const char *)ids[i - 1].attr->parent->name,
			        (const char *)ids[i].attr->parent->name);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!ids[i].reg) {
			continue;
		}
		xmlAttr *have = xmlGetID(doc, (const xmlChar *)ids[i].value);
		if (have == ids[i].attr) {
			continue;
		}
		if (have != NULL ||
		    xmlAddID(NULL, doc, (const xmlChar *)ids[i].value, ids[i].attr) == NULL) {
			err = as4_diag_set(d, AS4_E_SIG_INVALID,
			                   "Id value '%.100s' cannot be registered", ids[i].value);
			goto out;
		}
	}
out:
	free(ids);
	return err;
}

xmlNode *wss_id_lookup(xmlDoc *doc, const char *id)
{
	xmlAttr *a = xmlGetID(doc, (const xmlChar *)id);
	return a != NULL ? a->parent : NULL;
}

const char *wss_elem_id(const xmlNode *el)
{
	const char *id = as4_xml_attr(el, AS4_NS_WSU, "Id");
	return id != NULL ? id : as4_xml_attr(el, NULL, "Id");
}

as4_err wss_idgen_init(struct wss_idgen *g)
{
	g->n = 0;
	return as4_uuid_v4(g->uuid) == AS4_OK ? AS4_OK : AS4_E_CRYPTO;
}

as4_err wss_new_id(struct wss_idgen *g, const char *prefix, char *out, size_t cap)
{
	return as4_str_fmt(out, cap, "%s%s-%u", prefix, g->uuid, ++g->n);
}

as4_err wss_ensure_id(xmlNode *el, struct wss_idgen *g, const char *prefix, const char **id,
                      struct as4_diag *d)
{
	*id = wss_elem_id(el);
	if (*id != NULL) {
		return AS4_OK;
	}
	char buf[80];
	if (wss_new_id(g, prefix, buf, sizeof(buf)) != AS4_OK) {
		return as4_diag_set(d, AS4_E_LIMIT, "id prefix too long");
	}
	xmlNs *wsu = wss_ns(el, AS4_NS_WSU, "wsu");
	if (wsu == NULL || xmlNewNsProp(el, wsu, BAD_CAST "Id", BAD_CAST buf) == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	*id = as4_xml_attr(el, AS4_NS_WSU, "Id");
	return AS4_OK;
}

xmlNs *wss_ns(xmlNode *el, const char *href, const char *pfx)
{
	xmlNs *ns = xmlSearchNsByHref(el->doc, el, (const xmlChar *)href);
	if (ns != NULL && ns->prefix != NULL) {
		return ns;
	}
	/* Declare it on el, under pfx or pfx1..pfx9 when pfx is bound to another namespace. */
	char p[32];
	for (int i = 0; i < 10; i++) {
		as4_err e = i == 0 ? as4_str_copy(p, sizeof(p), pfx)
		                   : as4_str_fmt(p, sizeof(p), "%s%d", pfx, i);
		if (e != AS4_OK) {
			return NULL;
		}
		xmlNs *bound = xmlSearchNs(el->doc, el, BAD_CAST p);
		if (bound == NULL) {
			return xmlNewNs(el, (const xmlChar *)href, BAD_CAST p);
		}
	}
	return NULL;
}

xmlNode *wss_add(xmlNode *parent, xmlNs *ns, const char *name)
{
	return xmlNewChild(parent, ns, (const xmlChar *)name, NULL);
}

xmlNode *wss_add_text(xmlNode *parent, xmlNs *ns, const char *name, const char *text)
{
	return xmlNewTextChild(parent, ns, (const xmlChar *)name, (const xmlChar *)text);
}

as4_err wss_b64_text(const xmlNode *el, size_t max_b64, as4_err err, const char *what,
                     uint8_t **out, size_t *len, struct as4_diag *d)
{
	size_t total = 0;
	*out = NULL;
	*len = 0;
	/* Measure before copying: an oversized token is refused without allocating for it. */
	for (const xmlNode *c = el->children; c != NULL; c = c->next) {
		if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
			size_t l = strlen((const char *)c->content);
			if (!as4_add_size(total, l, &total) || total > max_b64) {
				return as4_diag_set(d, err,
				                    "%s: base64 content longer than %zu characters",
				                    what, max_b64);
			}
		} else if (c->type == XML_ELEMENT_NODE) {
			return as4_diag_set(d, err, "%s: unexpected element content", what);
		}
	}
	char *text = malloc(total + 1);
	uint8_t *bin = malloc(as4_b64_decoded_max(total) + 1);
	as4_err e = AS4_OK;
	if (text == NULL || bin == NULL) {
		e = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	size_t used = 0;
	for (const xmlNode *c = el->children; c != NULL; c = c->next) {
		if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
			size_t l = strlen((const char *)c->content);
			memcpy(text + used, c->content, l);
			used += l;
		}
	}
	text[used] = '\0';
	size_t n = 0;
	if (as4_b64_decode(text, used, bin, as4_b64_decoded_max(total) + 1, &n) != AS4_OK ||
	    n == 0) {
		e = as4_diag_set(d, err, "%s: not valid base64", what);
		goto out;
	}
	*out = bin;
	*len = n;
	bin = NULL;
out:
	free(text);
	free(bin);
	return e;
}

static int buf_emit(void *ctx, const uint8_t *p, size_t n)
{
	return as4_buf_append(ctx, p, n) == AS4_OK ? 0 : -1;
}

char *wss_c14n_subtree(xmlNode *el)
{
	struct as4_buf b;
	as4_buf_init(&b, 1u << 24);
	char *out = NULL;
	if (wss_c14n(el, NULL, buf_emit, &b, NULL) == AS4_OK) {
		out = as4_buf_take_str(&b);
	}
	as4_buf_cleanup(&b);
	return out;
}

void wss_strip_ws(char *s)
{
	char *w = s;
	for (char *r = s; *r != '\0'; r++) {
		if (*r != ' ' && *r != '\t' && *r != '\r' && *r != '\n') {
			*w++ = *r;
		}
	}
	*w = '\0';
}
