/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The only place that turns bytes into an xmlDoc (STYLE rule 12). SOAP 1.2 forbids a DTD
 * (SOAP 1.2 Part 1 §5: "The XML infoset of a SOAP message MUST NOT contain a document type
 * declaration information item"), so any DOCTYPE is refused before libxml2 can act on it.
 */
#include "as4/xml.h"

#include <limits.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include "as4/limits.h"

/* Entities are never loaded from anywhere: an external reference gets an empty input. */
static xmlParserInputPtr no_entity_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	(void)url;
	(void)id;
	(void)ctxt;
	return NULL;
}

/* libxml2's generic error handler prints to stderr; errors are read from the context instead. */
static void silent_error(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static void silent_structured(void *ctx, xmlErrorPtr err)
{
	(void)ctx;
	(void)err;
}

void as4_xml_global_init(void)
{
	xmlInitParser();
	xmlSetExternalEntityLoader(no_entity_loader);
	xmlSetGenericErrorFunc(NULL, silent_error);
	xmlSetStructuredErrorFunc(NULL, silent_structured);
}

void as4_xml_global_cleanup(void)
{
	xmlCleanupParser();
}

struct parse_state {
	bool doctype;
	int doctype_line;
};

static void on_internal_subset(void *ctx, const xmlChar *name, const xmlChar *ext_id,
                               const xmlChar *sys_id)
{
	(void)name;
	(void)ext_id;
	(void)sys_id;
	xmlParserCtxtPtr ctxt = ctx;
	struct parse_state *st = ctxt->_private;
	st->doctype = true;
	st->doctype_line = xmlSAX2GetLineNumber(ctxt);
	xmlStopParser(ctxt);
}

static void on_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
                           const xmlChar *system_id, xmlChar *content)
{
	(void)name;
	(void)type;
	(void)public_id;
	(void)system_id;
	(void)content;
	xmlParserCtxtPtr ctxt = ctx;
	struct parse_state *st = ctxt->_private;
	st->doctype = true;
	st->doctype_line = xmlSAX2GetLineNumber(ctxt);
	xmlStopParser(ctxt);
}

/* Walk the tree without recursion, checking depth (root element = 1) and node count. */
static as4_err check_tree(xmlDoc *doc, const struct as4_limits *lim, struct as4_diag *d)
{
	size_t nodes = 0;
	size_t depth = 1;
	xmlNode *n = doc->children;
	while (n != NULL) {
		nodes++;
		if (n->type == XML_DTD_NODE || n->type == XML_ENTITY_REF_NODE ||
		    n->type == XML_ENTITY_DECL) {
			return as4_diag_set(d, AS4_E_DOCTYPE,
			                    "DTD or entity reference not allowed (line %ld)",
			                    xmlGetLineNo(n));
		}
		if (n->type == XML_ELEMENT_NODE) {
			if (depth > lim->max_xml_depth) {
				return as4_diag_set(d, AS4_E_LIMIT,
				                    "XML nesting deeper than %zu (line %ld)",
				                    lim->max_xml_depth, xmlGetLineNo(n));
			}
			for (xmlAttr *a = n->properties; a != NULL; a = a->next) {
				nodes++;
			}
		}
		if (nodes > lim->max_xml_nodes) {
			return as4_diag_set(d, AS4_E_LIMIT, "XML has more than %zu nodes",
			                    lim->max_xml_nodes);
		}
		if (n->children != NULL && n->type == XML_ELEMENT_NODE) {
			depth++;
			n = n->children;
			continue;
		}
		while (n->next == NULL) {
			n = n->parent;
			if (n == NULL || n->type == XML_DOCUMENT_NODE) {
				return AS4_OK;
			}
			depth--;
		}
		n = n->next;
	}
	return AS4_OK;
}

as4_err as4_xml_parse(const uint8_t *buf, size_t len, const struct as4_limits *lim, xmlDoc **out,
                      struct as4_diag *d)
{
	struct as4_limits defaults;
	if (lim == NULL) {
		as4_limits_default(&defaults);
		lim = &defaults;
	}
	*out = NULL;
	if (len > INT_MAX) {
		return as4_diag_set(d, AS4_E_LIMIT, "XML document larger than %d bytes", INT_MAX);
	}
	as4_err err = AS4_OK;
	xmlDoc *doc = NULL;
	struct parse_state st = {false, 0};
	xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
	if (ctxt == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory creating XML parser");
	}
	ctxt->_private = &st;
	ctxt->sax->internalSubset = on_internal_subset;
	ctxt->sax->entityDecl = on_entity_decl;
	/* NONET: no network; no NOENT/DTDLOAD/DTDATTR/HUGE: no entity expansion, no DTD loading. */
	int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
	doc = xmlCtxtReadMemory(ctxt, (const char *)buf, (int)len, NULL, NULL, opts);
	if (st.doctype) {
		err = as4_diag_set(d, AS4_E_DOCTYPE, "DOCTYPE declaration not allowed (line %d)",
		                   st.doctype_line);
		goto out;
	}
	if (doc == NULL || !ctxt->wellFormed) {
		const xmlError *e = xmlCtxtGetLastError(ctxt);
		char msg[160] = "not well-formed";
		int line = 0;
		if (e != NULL && e->message != NULL) {
			size_t n = strcspn(e->message, "\n");
			if (n >= sizeof(msg)) {
				n = sizeof(msg) - 1;
			}
			memcpy(msg, e->message, n);
			msg[n] = '\0';
			line = e->line;
		}
		err = as4_diag_set(d, AS4_E_XML, "XML not well-formed at line %d: %s", line, msg);
		goto out;
	}
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		err = as4_diag_set(d, AS4_E_DOCTYPE, "DOCTYPE declaration not allowed");
		goto out;
	}
	err = check_tree(doc, lim, d);
	if (err != AS4_OK) {
		goto out;
	}
	*out = doc;
	doc = NULL;
out:
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	return err;
}

bool as4_xml_is(const xmlNode *node, const char *ns, const char *local)
{
	if (node == NULL || node->type != XML_ELEMENT_NODE) {
		return false;
	}
	if (strcmp((const char *)node->name, local) != 0) {
		return false;
	}
	if (ns == NULL) {
		return node->ns == NULL || node->ns->href == NULL;
	}
	return node->ns != NULL && node->ns->href != NULL &&
	       strcmp((const char *)node->ns->href, ns) == 0;
}

xmlNode *as4_xml_first_elem(const xmlNode *parent)
{
	if (parent == NULL) {
		return NULL;
	}
	for (xmlNode *n = parent->children; n != NULL; n = n->next) {
		if (n->type == XML_ELEMENT_NODE) {
			return n;
		}
	}
	return NULL;
}

xmlNode *as4_xml_next_elem(const xmlNode *node)
{
	for (xmlNode *n = node->next; n != NULL; n = n->next) {
		if (n->type == XML_ELEMENT_NODE) {
			return n;
		}
	}
	return NULL;
}

xmlNode *as4_xml_child(const xmlNode *parent, const char *ns, const char *local)
{
	for (xmlNode *n = as4_xml_first_elem(parent); n != NULL; n = as4_xml_next_elem(n)) {
		if (as4_xml_is(n, ns, local)) {
			return n;
		}
	}
	return NULL;
}

size_t as4_xml_count_children(const xmlNode *parent, const char *ns, const char *local)
{
	size_t count = 0;
	for (xmlNode *n = as4_xml_first_elem(parent); n != NULL; n = as4_xml_next_elem(n)) {
		if (as4_xml_is(n, ns, local)) {
			count++;
		}
	}
	return count;
}

const char *as4_xml_attr(const xmlNode *node, const char *ns, const char *name)
{
	if (node == NULL || node->type != XML_ELEMENT_NODE) {
		return NULL;
	}
	for (xmlAttr *a = node->properties; a != NULL; a = a->next) {
		if (strcmp((const char *)a->name, name) != 0) {
			continue;
		}
		bool ns_ok =
		        ns == NULL ? (a->ns == NULL)
		                   : (a->ns != NULL && strcmp((const char *)a->ns->href, ns) == 0);
		if (!ns_ok) {
			continue;
		}
		if (a->children == NULL) {
			return "";
		}
		if (a->children->type == XML_TEXT_NODE && a->children->next == NULL) {
			return (const char *)a->children->content;
		}
		return NULL;
	}
	return NULL;
}

char *as4_xml_text(const xmlNode *node)
{
	return (char *)xmlNodeGetContent(node);
}
