/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hardened XML parsing: the only caller of xmlReadMemory (STYLE rule 12), plus small DOM
 * helpers shared by the layers that read XML.
 *
 * as4_xml_parse() never loads a DTD, never expands entities, never touches the network, refuses
 * any DOCTYPE, and enforces the depth and node limits. Whitespace is preserved (signatures
 * depend on it). Call as4_xml_global_init() once from main before threads start.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "as4/compiler.h"
#include "as4/diag.h"
#include "as4/err.h"
#include "as4/limits.h"

/* Namespace URIs used across the code base. */
#define AS4_NS_SOAP12 "http://www.w3.org/2003/05/soap-envelope"
#define AS4_NS_SOAP11 "http://schemas.xmlsoap.org/soap/envelope/"
#define AS4_NS_EB     "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/"
#define AS4_NS_WSSE                                                                                \
	"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
#define AS4_NS_WSU                                                                                 \
	"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
#define AS4_NS_WSSE11 "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
#define AS4_NS_DS     "http://www.w3.org/2000/09/xmldsig#"
#define AS4_NS_XENC   "http://www.w3.org/2001/04/xmlenc#"
#define AS4_NS_XENC11 "http://www.w3.org/2009/xmlenc11#"
#define AS4_NS_EBBP   "http://docs.oasis-open.org/ebxml-bp/ebbp-signals-2.0"

/* One-time libxml2 set-up (no network, no entity loader). Not thread-safe; call from main. */
void as4_xml_global_init(void);

/* Undo as4_xml_global_init() at exit (so leak checkers stay quiet). */
void as4_xml_global_cleanup(void);

/*
 * Parse len bytes of XML. A UTF-8 BOM is accepted. On success *out owns a new document (free
 * with xmlFreeDoc). Errors, each with a diagnostic naming line and reason:
 *   AS4_E_DOCTYPE  a DOCTYPE (or entity declaration) is present
 *   AS4_E_LIMIT    depth or node count over lim (lim NULL = built-in defaults)
 *   AS4_E_XML      not well-formed
 * Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_xml_parse(const uint8_t *buf, size_t len, const struct as4_limits *lim,
                                     xmlDoc **out, struct as4_diag *d);

/* True when node is an element named local in namespace ns (ns NULL = no namespace). */
bool as4_xml_is(const xmlNode *node, const char *ns, const char *local);

/* First element child of parent (any name), or NULL. */
xmlNode *as4_xml_first_elem(const xmlNode *parent);

/* Next element sibling of node, or NULL. */
xmlNode *as4_xml_next_elem(const xmlNode *node);

/* First element child named ns:local, or NULL. */
xmlNode *as4_xml_child(const xmlNode *parent, const char *ns, const char *local);

/* Number of element children named ns:local. */
size_t as4_xml_count_children(const xmlNode *parent, const char *ns, const char *local);

/*
 * Attribute value (namespace ns, NULL = no namespace) borrowed from the document, or NULL.
 * The pointer is valid until the node or document is freed. Uses the attribute's first text
 * child only (attributes in a parsed document without entities have exactly one).
 */
const char *as4_xml_attr(const xmlNode *node, const char *ns, const char *name);

/*
 * Text content of an element (all text children concatenated) as an xmlChar* the caller frees
 * with xmlFree(); NULL when out of memory.
 */
char *as4_xml_text(const xmlNode *node);
