/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exclusive XML Canonicalization 1.0 without comments (https://www.w3.org/TR/xml-exc-c14n/)
 * of one element and its descendants: the document subset a same-document "#id" reference
 * with an exc-c14n transform selects, and the subset SignedInfo is canonicalised as.
 *
 * Why not libxml2's xmlC14NExecute: given a subset it visits every node of the document
 * (asking a callback about each), and it sorts through linked lists and copies every text
 * and attribute value while escaping it. The signature code used to hand it a deep copy of
 * each subtree instead; for an AS4 message that copying and canonicalising cost about as much
 * as the RSA operation it feeds. This walk reads the subtree in place, keeps the rendered
 * namespaces in a flat stack and streams escaped text straight into the digest.
 *
 * The output is byte for byte what libxml2 2.9 renders for the same subset (through a copy
 * holding every namespace in scope, as before): namespace rendering follows its
 * xmlExcC14NProcessNamespacesAxis rule by rule (including the handling of xmlns="" and of the
 * InclusiveNamespaces PrefixList, which is split on single spaces as xmlsec does), attributes
 * sort as in its xmlC14NAttrsCompare, and a relative namespace URI in scope fails as it does
 * (C14N 1.0 §2.3). test/unit/wss/test_c14n.c compares the two on real and generated
 * documents.
 */
#include <stdlib.h>
#include <string.h>

#include <libxml/uri.h>

#include "as4/xml.h"
#include "wss_int.h"

#define XML_NS_URI "http://www.w3.org/XML/1998/namespace"

/* Namespace declarations rendered by output ancestors (C14N's ns_rendered stack). */
struct ns_stack {
	const xmlNs **tab;
	size_t n;
	size_t cap;
	size_t prev_start; /* entries of the nearest output ancestor: [prev_start, prev_end) */
	size_t prev_end;
	const xmlNs *inline_tab[32];
};

/* What an element restores when its subtree is done. */
struct frame {
	const xmlNode *el;
	size_t n;
	size_t prev_start;
	size_t prev_end;
};

struct c14n {
	wss_emit_fn emit;
	void *ctx;
	as4_err err;
	struct as4_diag *d;
	const char *prefix_list; /* InclusiveNamespaces/@PrefixList, NULL = none */
	struct ns_stack st;
	struct frame *frames;
	size_t n_frames;
	size_t cap_frames;
	struct frame inline_frames[16];
	size_t out_len;
	uint8_t out[2048];
};

/* ---- output ------------------------------------------------------------------------------ */

static void flush(struct c14n *c)
{
	if (c->out_len > 0 && c->err == AS4_OK && c->emit(c->ctx, c->out, c->out_len) != 0) {
		c->err = as4_diag_set(c->d, AS4_E_INTERNAL, "canonical XML output failed");
	}
	c->out_len = 0;
}

static void put(struct c14n *c, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0 && c->err == AS4_OK) {
		if (c->out_len == sizeof(c->out)) {
			flush(c);
		}
		size_t k = sizeof(c->out) - c->out_len;
		k = k < n ? k : n;
		memcpy(c->out + c->out_len, b, k);
		c->out_len += k;
		b += k;
		n -= k;
	}
}

static void puts_(struct c14n *c, const char *s)
{
	put(c, s, strlen(s));
}

enum esc { ESC_TEXT, ESC_ATTR, ESC_PI };

/*
 * Characters replaced by character references (C14N 1.0 §2.3 / libxml2 xmlC11NNormalizeString):
 * text: & < > CR; attribute values: & < " TAB LF CR; PI data: CR.
 */
static const char *escape_of(unsigned char ch, enum esc mode)
{
	switch (ch) {
	case '&':
		return mode != ESC_PI ? "&amp;" : NULL;
	case '<':
		return mode != ESC_PI ? "&lt;" : NULL;
	case '>':
		return mode == ESC_TEXT ? "&gt;" : NULL;
	case '"':
		return mode == ESC_ATTR ? "&quot;" : NULL;
	case '\t':
		return mode == ESC_ATTR ? "&#x9;" : NULL;
	case '\n':
		return mode == ESC_ATTR ? "&#xA;" : NULL;
	case '\r':
		return "&#xD;";
	default:
		return NULL;
	}
}

/* Per mode, the characters escape_of() replaces: runs between them are copied whole. */
static bool special(unsigned char ch, enum esc mode)
{
	static const char *const sets[] = {"&<>\r", "&<\"\t\n\r", "\r"};
	return ch < 0x3f && ch != '\0' && strchr(sets[mode], ch) != NULL;
}

static void put_escaped(struct c14n *c, const xmlChar *s, enum esc mode)
{
	const xmlChar *run = s;
	const xmlChar *p = s;
	for (; *p != '\0'; p++) {
		if (*p < 0x3f && special(*p, mode)) {
			put(c, run, (size_t)(p - run));
			puts_(c, escape_of(*p, mode));
			run = p + 1;
		}
	}
	put(c, run, (size_t)(p - run));
}

/* ---- namespaces -------------------------------------------------------------------------- */

static bool str_eq(const xmlChar *a, const xmlChar *b)
{
	/* libxml2's xmlC14NStrEqual: NULL equals "" */
	if (a == NULL) {
		a = BAD_CAST "";
	}
	if (b == NULL) {
		b = BAD_CAST "";
	}
	return strcmp((const char *)a, (const char *)b) == 0;
}

static bool empty(const xmlChar *s)
{
	return s == NULL || s[0] == '\0';
}

static bool is_xml_ns(const xmlNs *ns)
{
	return ns != NULL && ns->prefix != NULL && strcmp((const char *)ns->prefix, "xml") == 0 &&
	       ns->href != NULL && strcmp((const char *)ns->href, XML_NS_URI) == 0;
}

static void push(struct c14n *c, const xmlNs *ns)
{
	struct ns_stack *st = &c->st;
	if (st->n == st->cap) {
		size_t cap = st->cap * 2;
		const xmlNs **tab = st->tab == st->inline_tab
		                            ? malloc(cap * sizeof(*tab))
		                            : realloc(st->tab, cap * sizeof(*tab));
		if (tab == NULL) {
			if (c->err == AS4_OK) {
				c->err = as4_diag_set(c->d, AS4_E_NOMEM, "out of memory");
			}
			return;
		}
		if (st->tab == st->inline_tab) {
			memcpy(tab, st->inline_tab, st->n * sizeof(*tab));
		}
		st->tab = tab;
		st->cap = cap;
	}
	st->tab[st->n++] = ns;
}

/*
 * Was ns (prefix and URI) rendered by an output ancestor? exclusive: the whole stack (libxml2
 * xmlExcC14NVisibleNsStackFind); otherwise from the nearest output ancestor's entries on, as
 * inclusive C14N does for PrefixList namespaces (xmlC14NVisibleNsStackFind). Absent, the
 * empty default namespace counts as rendered.
 */
static bool rendered(const struct ns_stack *st, const xmlNs *ns, bool exclusive)
{
	const xmlChar *prefix = ns != NULL ? ns->prefix : NULL;
	const xmlChar *href = ns != NULL ? ns->href : NULL;
	bool empty_default = empty(prefix) && empty(href);
	size_t start = exclusive || empty_default ? 0 : st->prev_start;
	for (size_t i = st->n; i > start; i--) {
		const xmlNs *have = st->tab[i - 1];
		if (str_eq(prefix, have != NULL ? have->prefix : NULL)) {
			return str_eq(href, have != NULL ? have->href : NULL);
		}
	}
	return empty_default;
}

/* RFC 3986 characters of a path, query or fragment that xmlParseURI takes as they are. */
static bool uri_plain(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch != '\0' && strchr("-._~!$&'()*+,;=:@/?", ch) != NULL);
}

/*
 * The common namespace URIs, decided without parsing: "urn:" with plain characters, or
 * http(s)://host followed by plain characters (and one '#' fragment). Anything else goes to
 * xmlParseURI.
 */
static bool uri_obviously_absolute(const char *u)
{
	const char *p = NULL;
	if (strncmp(u, "urn:", 4) == 0) {
		p = u + 4;
		if (*p == '\0') {
			return false;
		}
	} else {
		if (strncmp(u, "http://", 7) == 0) {
			p = u + 7;
		} else if (strncmp(u, "https://", 8) == 0) {
			p = u + 8;
		} else {
			return false;
		}
		const char *host = p;
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		       (*p >= '0' && *p <= '9') || *p == '-' || *p == '.') {
			p++;
		}
		if (p == host || (*p != '\0' && *p != '/' && *p != '#' && *p != '?')) {
			return false;
		}
	}
	bool fragment = false;
	for (; *p != '\0'; p++) {
		if (*p == '#' && !fragment) {
			fragment = true;
		} else if (!uri_plain((unsigned char)*p)) {
			return false;
		}
	}
	return true;
}

/*
 * C14N 1.0 §2.3: a relative namespace URI is an error. As libxml2 2.9 decides it: the URI
 * must parse (xmlParseURI) and have a scheme.
 */
static void check_ns_uri(struct c14n *c, const xmlNs *ns)
{
	const char *href = (const char *)ns->href;
	if (c->err != AS4_OK || empty(ns->href) || uri_obviously_absolute(href)) {
		return;
	}
	xmlURIPtr uri = xmlParseURI(href);
	bool ok = uri != NULL && !empty(BAD_CAST uri->scheme);
	xmlFreeURI(uri);
	if (!ok) {
		c->err = as4_diag_set(c->d, AS4_E_SIG_INVALID,
		                      "namespace URI '%.120s' is relative or malformed; canonical "
		                      "XML does not allow it",
		                      href);
	}
}

/* Namespaces to render on one element, sorted by prefix (libxml2's xmlC14NNsCompare). */
struct ns_list {
	const xmlNs *v[16];
	const xmlNs **heap;
	size_t n;
	size_t cap;
};

static int prefix_cmp(const xmlNs *a, const xmlNs *b)
{
	if (a->prefix == b->prefix) {
		return 0;
	}
	if (a->prefix == NULL) {
		return -1;
	}
	if (b->prefix == NULL) {
		return 1;
	}
	return strcmp((const char *)a->prefix, (const char *)b->prefix);
}

static void list_add(struct c14n *c, struct ns_list *l, const xmlNs *ns)
{
	const xmlNs **v = l->heap != NULL ? l->heap : l->v;
	if (l->n == l->cap) {
		size_t cap = l->cap * 2;
		const xmlNs **bigger = l->heap != NULL ? realloc(l->heap, cap * sizeof(*bigger))
		                                       : malloc(cap * sizeof(*bigger));
		if (bigger == NULL) {
			if (c->err == AS4_OK) {
				c->err = as4_diag_set(c->d, AS4_E_NOMEM, "out of memory");
			}
			return;
		}
		if (l->heap == NULL) {
			memcpy(bigger, l->v, l->n * sizeof(*bigger));
		}
		l->heap = bigger;
		l->cap = cap;
		v = bigger;
	}
	/* before the first entry that does not sort before it, as xmlListInsert does */
	size_t i = l->n;
	while (i > 0 && prefix_cmp(v[i - 1], ns) >= 0) {
		v[i] = v[i - 1];
		i--;
	}
	v[i] = ns;
	l->n++;
}

static void print_ns(struct c14n *c, const xmlNs *ns)
{
	if (ns->prefix != NULL) {
		puts_(c, " xmlns:");
		puts_(c, (const char *)ns->prefix);
		puts_(c, "=\"");
	} else {
		puts_(c, " xmlns=\"");
	}
	if (ns->href != NULL) {
		puts_(c, (const char *)ns->href);
	}
	puts_(c, "\"");
}

/* One PrefixList token: [p, p + n); "" and "#default" name the default namespace. */
static void inclusive_prefix(struct c14n *c, xmlNode *el, const char *p, size_t n,
                             struct ns_list *l, bool *has_empty_ns, bool *empty_in_list)
{
	char small[64];
	char *prefix = NULL;
	if (n == 0 || (n == 8 && memcmp(p, "#default", 8) == 0)) {
		*empty_in_list = true;
	} else if (n == 3 && memcmp(p, "xml", 3) == 0) {
		return; /* the xml namespace is never rendered */
	} else {
		prefix = n < sizeof(small) ? small : malloc(n + 1);
		if (prefix == NULL) {
			c->err = as4_diag_set(c->d, AS4_E_NOMEM, "out of memory");
			return;
		}
		memcpy(prefix, p, n);
		prefix[n] = '\0';
	}
	xmlNs *ns = xmlSearchNs(el->doc, el, BAD_CAST prefix);
	if (prefix != small) {
		free(prefix);
	}
	if (ns == NULL || is_xml_ns(ns)) {
		return;
	}
	bool already = rendered(&c->st, ns, false);
	push(c, ns);
	if (!already) {
		list_add(c, l, ns);
	}
	if (empty(ns->prefix)) {
		*has_empty_ns = true;
	}
}

/* The namespace axis of el (libxml2 xmlExcC14NProcessNamespacesAxis for a visible element). */
static void namespaces(struct c14n *c, xmlNode *el)
{
	static const xmlNs no_default; /* prefix and URI empty: xmlns="" */
	struct ns_list l = {.n = 0, .cap = AS4_ARRAY_LEN(l.v), .heap = NULL};
	bool has_empty_ns = false;
	bool utilizes_empty_ns = false;
	bool empty_in_list = false;
	if (c->prefix_list != NULL) {
		/* split on single spaces, as xmlsec reads PrefixList */
		const char *p = c->prefix_list;
		while (*p != '\0') {
			const char *sp = strchr(p, ' ');
			size_t n = sp != NULL ? (size_t)(sp - p) : strlen(p);
			inclusive_prefix(c, el, p, n, &l, &has_empty_ns, &empty_in_list);
			p += n;
			if (*p == ' ') {
				p++;
			}
		}
	}
	const xmlNs *ns = el->ns;
	if (ns == NULL) {
		ns = xmlSearchNs(el->doc, el, NULL);
		utilizes_empty_ns = true;
	}
	if (ns != NULL && !is_xml_ns(ns)) {
		if (!rendered(&c->st, ns, true)) {
			list_add(c, &l, ns);
		}
		push(c, ns);
		if (empty(ns->prefix)) {
			has_empty_ns = true;
		}
	}
	for (const xmlAttr *a = el->properties; a != NULL; a = a->next) {
		if (a->ns != NULL && !is_xml_ns(a->ns)) {
			bool already = rendered(&c->st, a->ns, true);
			push(c, a->ns);
			if (!already) {
				list_add(c, &l, a->ns);
			}
			if (empty(a->ns->prefix)) {
				has_empty_ns = true;
			}
		} else if (a->ns != NULL && empty(a->ns->prefix) && empty(a->ns->href)) {
			utilizes_empty_ns = true;
		}
	}
	if (utilizes_empty_ns && !has_empty_ns && !empty_in_list) {
		if (!rendered(&c->st, &no_default, true)) {
			print_ns(c, &no_default);
		}
	} else if (!has_empty_ns && empty_in_list) {
		if (!rendered(&c->st, &no_default, false)) {
			print_ns(c, &no_default);
		}
	}
	const xmlNs **v = l.heap != NULL ? l.heap : l.v;
	for (size_t i = 0; i < l.n; i++) {
		print_ns(c, v[i]);
	}
	free(l.heap);
}

/* ---- attributes -------------------------------------------------------------------------- */

/* libxml2's xmlC14NAttrsCompare: no namespace first, then by namespace URI, then name. */
static int attr_cmp(const xmlAttr *a, const xmlAttr *b)
{
	if (a->ns == b->ns) {
		return strcmp((const char *)a->name, (const char *)b->name);
	}
	if (a->ns == NULL) {
		return -1;
	}
	if (b->ns == NULL) {
		return 1;
	}
	if (a->ns->prefix == NULL) {
		return -1;
	}
	if (b->ns->prefix == NULL) {
		return 1;
	}
	int r = strcmp((const char *)a->ns->href, (const char *)b->ns->href);
	return r != 0 ? r : strcmp((const char *)a->name, (const char *)b->name);
}

static void print_attr(struct c14n *c, const xmlAttr *a)
{
	puts_(c, " ");
	if (a->ns != NULL && !empty(a->ns->prefix)) {
		puts_(c, (const char *)a->ns->prefix);
		puts_(c, ":");
	}
	puts_(c, (const char *)a->name);
	puts_(c, "=\"");
	for (const xmlNode *t = a->children; t != NULL; t = t->next) {
		if (t->type != XML_TEXT_NODE) {
			if (c->err == AS4_OK) {
				c->err = as4_diag_set(c->d, AS4_E_SIG_INVALID,
				                      "attribute %s holds an entity reference",
				                      (const char *)a->name);
			}
			return;
		}
		if (t->content != NULL) {
			put_escaped(c, t->content, ESC_ATTR);
		}
	}
	puts_(c, "\"");
}

static void attributes(struct c14n *c, const xmlNode *el)
{
	const xmlAttr *small[16];
	const xmlAttr **v = small;
	size_t n = 0;
	for (const xmlAttr *a = el->properties; a != NULL; a = a->next) {
		n++;
	}
	if (n > AS4_ARRAY_LEN(small)) {
		v = malloc(n * sizeof(*v));
		if (v == NULL) {
			c->err = as4_diag_set(c->d, AS4_E_NOMEM, "out of memory");
			return;
		}
	}
	size_t k = 0;
	for (const xmlAttr *a = el->properties; a != NULL; a = a->next) {
		/* before the first one that does not sort before it, as xmlListInsert does */
		size_t i = k++;
		while (i > 0 && attr_cmp(v[i - 1], a) >= 0) {
			v[i] = v[i - 1];
			i--;
		}
		v[i] = a;
	}
	for (size_t i = 0; i < n; i++) {
		print_attr(c, v[i]);
	}
	if (v != small) {
		free((void *)v);
	}
}

/* ---- the walk ---------------------------------------------------------------------------- */

static void qname(struct c14n *c, const xmlNode *el)
{
	if (el->ns != NULL && !empty(el->ns->prefix)) {
		puts_(c, (const char *)el->ns->prefix);
		puts_(c, ":");
	}
	puts_(c, (const char *)el->name);
}

static bool push_frame(struct c14n *c, const xmlNode *el)
{
	if (c->n_frames == c->cap_frames) {
		size_t cap = c->cap_frames * 2;
		struct frame *f = c->frames == c->inline_frames
		                          ? malloc(cap * sizeof(*f))
		                          : realloc(c->frames, cap * sizeof(*f));
		if (f == NULL) {
			c->err = as4_diag_set(c->d, AS4_E_NOMEM, "out of memory");
			return false;
		}
		if (c->frames == c->inline_frames) {
			memcpy(f, c->inline_frames, c->n_frames * sizeof(*f));
		}
		c->frames = f;
		c->cap_frames = cap;
	}
	c->frames[c->n_frames++] = (struct frame){el, c->st.n, c->st.prev_start, c->st.prev_end};
	return true;
}

static void open_element(struct c14n *c, xmlNode *el)
{
	for (const xmlNs *ns = el->nsDef; ns != NULL; ns = ns->next) {
		check_ns_uri(c, ns);
	}
	if (!push_frame(c, el)) {
		return;
	}
	puts_(c, "<");
	qname(c, el);
	namespaces(c, el);
	c->st.prev_start = c->st.prev_end;
	c->st.prev_end = c->st.n;
	attributes(c, el);
	puts_(c, ">");
}

static void close_element(struct c14n *c)
{
	struct frame *f = &c->frames[--c->n_frames];
	puts_(c, "</");
	qname(c, f->el);
	puts_(c, ">");
	c->st.n = f->n;
	c->st.prev_start = f->prev_start;
	c->st.prev_end = f->prev_end;
}

/* One non-element node inside the subtree (libxml2 xmlC14NProcessNode, without comments). */
static void leaf(struct c14n *c, const xmlNode *n)
{
	switch (n->type) {
	case XML_TEXT_NODE:
	case XML_CDATA_SECTION_NODE:
		if (n->content != NULL) {
			put_escaped(c, n->content, ESC_TEXT);
		}
		break;
	case XML_PI_NODE:
		puts_(c, "<?");
		puts_(c, (const char *)n->name);
		if (n->content != NULL && n->content[0] != '\0') {
			puts_(c, " ");
			put_escaped(c, n->content, ESC_PI);
		}
		puts_(c, "?>");
		break;
	case XML_COMMENT_NODE:
	case XML_DOCUMENT_TYPE_NODE:
	case XML_NOTATION_NODE:
	case XML_DTD_NODE:
	case XML_ELEMENT_DECL:
	case XML_ATTRIBUTE_DECL:
	case XML_ENTITY_DECL:
	case XML_XINCLUDE_START:
	case XML_XINCLUDE_END:
		break;
	default:
		if (c->err == AS4_OK) {
			c->err = as4_diag_set(c->d, AS4_E_SIG_INVALID,
			                      "node of type %d cannot be canonicalised",
			                      (int)n->type);
		}
		break;
	}
}

/*
 * As the copy the signature code used to canonicalise declared every namespace in scope on
 * its root, those declarations are checked too (the nearest one per prefix).
 */
static void check_scope(struct c14n *c, xmlNode *el)
{
	for (const xmlNode *a = el->parent; a != NULL && a->type == XML_ELEMENT_NODE;
	     a = a->parent) {
		for (const xmlNs *ns = a->nsDef; ns != NULL && c->err == AS4_OK; ns = ns->next) {
			if (xmlSearchNs(el->doc, el, ns->prefix) == ns) {
				check_ns_uri(c, ns);
			}
		}
	}
}

as4_err wss_c14n(xmlNode *el, const char *prefix_list, wss_emit_fn emit, void *ctx,
                 struct as4_diag *d)
{
	struct c14n *c = malloc(sizeof(*c));
	if (c == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	c->emit = emit;
	c->ctx = ctx;
	c->err = AS4_OK;
	c->d = d;
	c->prefix_list = prefix_list;
	c->st.tab = c->st.inline_tab;
	c->st.n = 0;
	c->st.cap = AS4_ARRAY_LEN(c->st.inline_tab);
	c->st.prev_start = 0;
	c->st.prev_end = 0;
	c->frames = c->inline_frames;
	c->n_frames = 0;
	c->cap_frames = AS4_ARRAY_LEN(c->inline_frames);
	c->out_len = 0;
	if (el == NULL || el->type != XML_ELEMENT_NODE) {
		c->err = as4_diag_set(d, AS4_E_INVAL, "nothing to canonicalise");
	} else {
		check_scope(c, el);
	}
	/* pre-order walk of the subtree, closing elements on the way back up */
	xmlNode *n = c->err == AS4_OK ? el : NULL;
	while (n != NULL && c->err == AS4_OK) {
		if (n->type == XML_ELEMENT_NODE) {
			open_element(c, n);
			if (n->children != NULL) {
				n = n->children;
				continue;
			}
			close_element(c);
		} else {
			leaf(c, n);
		}
		while (n != el && n->next == NULL && c->err == AS4_OK) {
			n = n->parent;
			close_element(c);
		}
		n = n != el ? n->next : NULL;
	}
	flush(c);
	as4_err err = c->err;
	if (c->st.tab != c->st.inline_tab) {
		free((void *)c->st.tab);
	}
	if (c->frames != c->inline_frames) {
		free(c->frames);
	}
	free(c);
	return err;
}

as4_err wss_c14n_method(const xmlNode *method, const char **prefix_list, struct as4_diag *d)
{
	*prefix_list = NULL;
	const xmlNode *in = as4_xml_first_elem(method);
	if (in == NULL) {
		return AS4_OK;
	}
	/* as xmlsec reads exc-c14n parameters: one ec:InclusiveNamespaces with a PrefixList */
	const xmlAttr *pl = NULL;
	if (as4_xml_is(in, WSS_ALG_EXC_C14N, "InclusiveNamespaces")) {
		for (const xmlAttr *a = in->properties; a != NULL && pl == NULL; a = a->next) {
			if (strcmp((const char *)a->name, "PrefixList") == 0) {
				pl = a;
			}
		}
	}
	if (pl == NULL || as4_xml_next_elem(in) != NULL ||
	    (pl->children != NULL &&
	     (pl->children->type != XML_TEXT_NODE || pl->children->next != NULL))) {
		return as4_diag_set(d, AS4_E_SIG_INVALID,
		                    "exc-c14n parameters other than one InclusiveNamespaces with a "
		                    "PrefixList are not supported");
	}
	*prefix_list = pl->children != NULL ? (const char *)pl->children->content : "";
	return AS4_OK;
}
