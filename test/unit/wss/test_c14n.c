/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wss_c14n (ap/wss/c14n.c) against libxml2's xmlC14NExecute, the way the signature code used
 * it before: exclusive C14N without comments of a copy of the subtree that declares every
 * namespace in scope, with xmlsec's reading of the InclusiveNamespaces PrefixList. Both must
 * give the same bytes (or both fail) for every element of the interoperability vectors and of
 * generated documents full of namespace corner cases (prefix shadowing, default namespaces
 * and xmlns="" undeclarations, namespaced attributes, characters that need escaping, PIs,
 * comments, CDATA, relative namespace URIs), under many PrefixLists, and for documents built
 * with the DOM API as the signing side builds them. Then the parameter reading
 * (wss_c14n_method) and the failure of the output callback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <dirent.h>
#include <libxml/c14n.h>

#include "as4/buf.h"
#include "wss_fixture.h"

#include "../../../ap/wss/wss_int.h"

#define VEC AS4_SHARED_DIR "/interop/messages/"

/* ---- the reference: libxml2 on a compact copy ------------------------------------------ */

static xmlDoc *compact_copy(xmlNode *el)
{
	xmlDoc *doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNode *copy = xmlDocCopyNode(el, doc, 1);
	assert_non_null(copy);
	xmlDocSetRootElement(doc, copy);
	xmlNsPtr *list = xmlGetNsList(el->doc, el);
	for (size_t i = 0; list != NULL && list[i] != NULL; i++) {
		if (xmlSearchNs(doc, copy, list[i]->prefix) == NULL) {
			assert_non_null(xmlNewNs(copy, list[i]->href, list[i]->prefix));
		}
	}
	xmlFree(list);
	return doc;
}

/* xmlsec's split of PrefixList: on single spaces, empty tokens kept. */
static char **split_prefixes(const char *list, char *store)
{
	if (list == NULL) {
		return NULL;
	}
	size_t n = 1;
	for (const char *p = list; *p != '\0'; p++) {
		n += *p == ' ' ? 1 : 0;
	}
	char **v = calloc(n + 1, sizeof(*v));
	assert_non_null(v);
	memcpy(store, list, strlen(list) + 1);
	size_t k = 0;
	for (char *p = store, *nx = NULL; p != NULL && *p != '\0'; p = nx) {
		nx = strchr(p, ' ');
		if (nx != NULL) {
			*nx++ = '\0';
		}
		v[k++] = p;
	}
	v[k] = NULL;
	return v;
}

/* libxml2's canonical form of the subtree of el, or NULL when it fails. */
static char *reference(xmlNode *el, const char *prefix_list, size_t *len)
{
	char store[512];
	char **prefixes = split_prefixes(prefix_list, store);
	xmlDoc *copy = compact_copy(el);
	xmlOutputBufferPtr buf = xmlAllocOutputBuffer(NULL);
	assert_non_null(buf);
	char *out = NULL;
	if (xmlC14NExecute(copy, NULL, NULL, XML_C14N_EXCLUSIVE_1_0, (xmlChar **)prefixes, 0,
	                   buf) >= 0) {
		*len = xmlOutputBufferGetSize(buf);
		out = malloc(*len + 1);
		assert_non_null(out);
		memcpy(out, xmlOutputBufferGetContent(buf), *len);
		out[*len] = '\0';
	}
	xmlOutputBufferClose(buf);
	xmlFreeDoc(copy);
	free(prefixes);
	return out;
}

static int buf_emit(void *ctx, const uint8_t *p, size_t n)
{
	return as4_buf_append(ctx, p, n) == AS4_OK ? 0 : -1;
}

static size_t compared;

/* Both canonical forms of el under prefix_list must be equal, or both must fail. */
static void same(xmlNode *el, const char *prefix_list, const char *what)
{
	size_t ref_len = 0;
	char *ref = reference(el, prefix_list, &ref_len);
	struct as4_buf b;
	as4_buf_init(&b, 1u << 24);
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = wss_c14n(el, prefix_list, buf_emit, &b, &d);
	bool equal =
	        ref != NULL ? err == AS4_OK && b.len == ref_len && memcmp(b.data, ref, ref_len) == 0
	                    : err == AS4_E_SIG_INVALID;
	if (!equal) {
		print_error("%s: <%s> PrefixList=%s%s%s\nlibxml2: %s\nwss_c14n (%s): %.*s\n", what,
		            (const char *)el->name, prefix_list != NULL ? "\"" : "",
		            prefix_list != NULL ? prefix_list : "(none)",
		            prefix_list != NULL ? "\"" : "", ref != NULL ? ref : "(failed)",
		            as4_diag_text(&d), (int)b.len, (const char *)b.data);
		xmlChar *all = NULL;
		int all_len = 0;
		xmlDocDumpMemory(el->doc, &all, &all_len);
		print_error("document: %s\n", (const char *)all);
		xmlFree(all);
	}
	assert_true(equal);
	compared++;
	free(ref);
	as4_buf_cleanup(&b);
}

static const char *const prefix_lists[] = {
        NULL,     "",       "#default", "eb",           "S12 wsse",      "ds wsu xsi env",
        " eb",    "xml",    "a b",      "#default a b", "b  c",          "a #default",
        "nosuch", "soap12", "ns2 xenc", "SOAP-ENV ds",  "S11 eb3 wsse11"};

static void every_element(xmlDoc *doc, const char *what)
{
	xmlNode *n = xmlDocGetRootElement(doc);
	while (n != NULL) {
		if (n->type == XML_ELEMENT_NODE) {
			for (size_t i = 0; i < AS4_ARRAY_LEN(prefix_lists); i++) {
				same(n, prefix_lists[i], what);
			}
		}
		if (n->type == XML_ELEMENT_NODE && n->children != NULL) {
			n = n->children;
			continue;
		}
		while (n != NULL && n->next == NULL) {
			n = n->parent;
			if (n != NULL && n->type != XML_ELEMENT_NODE) {
				n = NULL;
			}
		}
		if (n != NULL) {
			n = n->next;
		}
	}
}

static xmlDoc *parse(const char *text, size_t len)
{
	xmlDoc *doc = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	if (as4_xml_parse((const uint8_t *)text, len, NULL, &doc, &d) != AS4_OK) {
		if (getenv("C14N_DEBUG") != NULL) {
			print_message("%s: %.300s\n", as4_diag_text(&d), text);
		}
		return NULL;
	}
	return doc;
}

/* ---- real messages ------------------------------------------------------------------------ */

/* The SOAP envelopes of the vectors: XML files as they are, MIME files cut at the envelope. */
static void interop_vectors(void **state)
{
	(void)state;
	DIR *dir = opendir(VEC);
	assert_non_null(dir);
	size_t docs = 0;
	for (struct dirent *e = readdir(dir); e != NULL; e = readdir(dir)) {
		char path[512];
		uint8_t *buf = NULL;
		size_t len = 0;
		if (e->d_name[0] == '.' ||
		    as4_str_fmt(path, sizeof(path), "%s%s", VEC, e->d_name) != AS4_OK ||
		    as4_file_read(path, 4 << 20, &buf, &len) != AS4_OK) {
			continue;
		}
		/* from the first "<?xml" or Envelope start tag to the end of the Envelope */
		char *text = (char *)buf;
		char *start = strstr(text, "<?xml");
		char *env = strstr(text, "Envelope");
		while (env != NULL && env > text && env[-1] != ':' && env[-1] != '<') {
			env = strstr(env + 1, "Envelope");
		}
		if (env != NULL && (start == NULL || start > env)) {
			start = env;
			while (start > text && *start != '<') {
				start--;
			}
		}
		char *end = NULL;
		for (char *p = strstr(text, "Envelope>"); p != NULL;
		     p = strstr(p + 1, "Envelope>")) {
			end = p + strlen("Envelope>");
		}
		xmlDoc *doc = start != NULL && end != NULL && end > start
		                      ? parse(start, (size_t)(end - start))
		                      : NULL;
		if (doc != NULL) {
			every_element(doc, e->d_name);
			xmlFreeDoc(doc);
			docs++;
		}
		free(buf);
	}
	closedir(dir);
	/* the vectors of ../shared/interop/messages: at least the XML and MIME envelopes */
	assert_true(docs >= 10);
}

/* Sealed messages and signals of this code base (BST, EncryptedKey, Signature...). */
static void own_messages(void **state)
{
	(void)state;
	struct as4_keystore *ks = fx_keystore("ap1");
	struct as4_keystore *ks2 = fx_keystore("ap2");
	for (int variant = 0; variant < 3; variant++) {
		xmlDoc *env = fx_envelope(1);
		struct as4_part part;
		as4_part_init(&part);
		part.content_id = "p1@test";
		part.content_type = "application/xml";
		static const char xml[] = "<a xmlns='urn:a'><b>x</b></a>";
		as4_blob_borrow(&part.data, xml, sizeof(xml) - 1);
		struct as4_wss_seal_params sp = {
		        .signer = ks,
		        .pkipath = variant == 1,
		        .encrypt_for = variant == 2 ? NULL : as4_keystore_cert(ks2),
		        .encrypt_keyref = (enum as4_keyref)variant};
		struct as4_diag d;
		as4_diag_init(&d);
		assert_int_equal(as4_wss_seal(&sp, env, &part, 1, NULL, &d), AS4_OK);
		every_element(env, "sealed message");
		/* and as the receiver sees it */
		xmlChar *text = NULL;
		int len = 0;
		xmlDocDumpMemory(env, &text, &len);
		xmlDoc *back = parse((const char *)text, (size_t)len);
		assert_non_null(back);
		every_element(back, "sealed message, parsed");
		xmlFreeDoc(back);
		xmlFree(text);
		as4_part_cleanup(&part);
		xmlFreeDoc(env);
	}
	as4_keystore_free(ks);
	as4_keystore_free(ks2);
}

/* ---- generated documents ------------------------------------------------------------------ */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static unsigned pick(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

struct gen {
	char *p;
	size_t len;
	size_t cap;
};

static void add(struct gen *g, const char *s)
{
	size_t n = strlen(s);
	assert_true(g->len + n < g->cap);
	memcpy(g->p + g->len, s, n + 1);
	g->len += n;
}

static const char *const prefixes[] = {"", "a", "b", "c", "eb", "xml"};
static const char *const uris[] = {
        "urn:one",
        "urn:two",
        "http://example.com/ns",
        "http://example.com/ns#frag",
        "https://x.example/p/q?r=1",
        "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/",
        "",
        "rel/ative",
        "mailto:someone@example.com",
        "HTTP://EXAMPLE.COM/upper",
        "http://example.com:8080/port",
        "dav:collection",
        "http:///no-host",
        "http://ex%41mple.com/pct",
        "tag:example.com,2026:x",
};
static const char *const texts[] = {
        "plain",     "a &amp; b",   "&lt;tag&gt;", "quote \" and '",
        "tab\there", "line\nbreak", "cr&#13;ret",  "\xc3\xa6\xc3\xb8\xc3\xa5 \xe2\x82\xac",
        "]]&gt;",    "  spaced  ",
};

/* A namespace declaration for prefix p (never for "xml", which cannot be redeclared). */
static void decl(struct gen *g, const char *p)
{
	const char *u = uris[pick(AS4_ARRAY_LEN(uris))];
	if (p[0] == '\0') {
		add(g, " xmlns=\"");
	} else {
		if (u[0] == '\0') {
			u = "urn:one"; /* xmlns:p="" is not well-formed in XML 1.0 */
		}
		add(g, " xmlns:");
		add(g, p);
		add(g, "=\"");
	}
	add(g, u);
	add(g, "\"");
}

/*
 * An element with random declarations, attributes and content. Prefixes used are declared
 * here or on an ancestor (tracked in bound[]), so that most documents are namespace-well-
 * formed ("xml" is always bound).
 */
static void element(struct gen *g, int depth, const bool bound_in[6])
{
	bool bound[6];
	memcpy(bound, bound_in, sizeof(bound));
	char ename[32];
	char buf[64];
	size_t pi = pick(5);
	const char *p = prefixes[pi];
	assert_int_equal(
	        as4_str_fmt(ename, sizeof(ename), "%s%se%u", p, p[0] != '\0' ? ":" : "", pick(5)),
	        AS4_OK);
	add(g, "<");
	add(g, ename);
	for (size_t i = 0; i < 5; i++) {
		if (pick(4) == 0 || (i == pi && i != 0 && !bound[i])) {
			decl(g, prefixes[i]);
			bound[i] = true;
		}
	}
	/* attributes: each prefix gets names of its own (two prefixes may name one URI) */
	unsigned n_attr = pick(4);
	bool used[6][3] = {{false}};
	for (unsigned k = 0; k < n_attr; k++) {
		size_t ai = pick(6);
		unsigned an = pick(3);
		if (ai != 5 && !bound[ai]) {
			ai = 0;
		}
		if (used[ai][an]) {
			continue;
		}
		used[ai][an] = true;
		assert_int_equal(as4_str_fmt(buf, sizeof(buf), " %s%s%c%u=\"", prefixes[ai],
		                             ai != 0 ? ":" : "", "xyz"[an], an),
		                 AS4_OK);
		add(g, buf);
		const char *v = texts[pick(AS4_ARRAY_LEN(texts))];
		add(g, strchr(v, '"') != NULL ? "&quot;q&quot; and '" : v);
		add(g, "\"");
	}
	add(g, ">");
	unsigned n_children = depth < 5 ? pick(5) : 0;
	for (unsigned k = 0; k < n_children; k++) {
		switch (pick(7)) {
		case 0:
		case 1:
		case 2:
			element(g, depth + 1, bound);
			break;
		case 3:
			add(g, texts[pick(AS4_ARRAY_LEN(texts))]);
			break;
		case 4:
			add(g, "<!-- a comment -->");
			break;
		case 5:
			add(g, pick(2) == 0 ? "<?pi some data\r?>" : "<?target?>");
			break;
		default:
			add(g, "<![CDATA[<raw> & \"stuff\"\r]]>");
			break;
		}
	}
	add(g, "</");
	add(g, ename);
	add(g, ">");
}

static void generated_documents(void **state)
{
	(void)state;
	size_t docs = 0;
	for (int i = 0; i < 400; i++) {
		struct gen g = {malloc(1u << 20), 0, 1u << 20};
		assert_non_null(g.p);
		g.p[0] = '\0';
		const bool none[6] = {false};
		element(&g, 0, none);
		xmlDoc *doc = parse(g.p, g.len);
		if (doc != NULL) {
			every_element(doc, "generated");
			xmlFreeDoc(doc);
			docs++;
		}
		free(g.p);
	}
	/* most generated documents are namespace-well-formed */
	assert_true(docs >= 300);
}

/* ---- documents built with the DOM API ------------------------------------------------------ */

static void dom_built(void **state)
{
	(void)state;
	xmlDoc *doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNode *root = xmlNewDocNode(doc, NULL, BAD_CAST "Envelope", NULL);
	xmlDocSetRootElement(doc, root);
	xmlNs *dflt = xmlNewNs(root, BAD_CAST "urn:default", NULL);
	xmlNs *s = xmlNewNs(root, BAD_CAST "http://www.w3.org/2003/05/soap-envelope", BAD_CAST "S");
	xmlSetNs(root, s);
	xmlNode *hdr = xmlNewChild(root, s, BAD_CAST "Header", NULL);
	/* an element in the default namespace, one in none (no xmlns="" declared), text */
	xmlNode *d1 = xmlNewChild(hdr, dflt, BAD_CAST "Inner", BAD_CAST "a<b&c>\r");
	xmlNode *none = xmlNewChild(d1, NULL, BAD_CAST "NoNs", NULL);
	xmlNewChild(none, NULL, BAD_CAST "Deeper", BAD_CAST "x");
	xmlNewProp(none, BAD_CAST "plain", BAD_CAST "\"q\"\t\n");
	xmlNewNsProp(d1, s, BAD_CAST "mustUnderstand", BAD_CAST "true");
	xmlNs *x = xmlNewNs(d1, BAD_CAST "urn:x", BAD_CAST "x");
	xmlNewNsProp(none, x, BAD_CAST "attr", BAD_CAST "v");
	xmlNewNsProp(none, s, BAD_CAST "role", BAD_CAST "r");
	xmlNewChild(root, s, BAD_CAST "Body", NULL);
	every_element(doc, "DOM-built");
	xmlFreeDoc(doc);
}

/* ---- parameters and failures ---------------------------------------------------------------- */

static void method_parameters(void **state)
{
	(void)state;
	static const char doc_text[] =
	        "<m xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\">"
	        "<t1/>"
	        "<t2><ec:InclusiveNamespaces PrefixList=\"a b\"/></t2>"
	        "<t3><ec:InclusiveNamespaces PrefixList=\"\"/></t3>"
	        "<t4><ec:InclusiveNamespaces/></t4>"
	        "<t5><ec:InclusiveNamespaces PrefixList=\"a\"/><ec:InclusiveNamespaces "
	        "PrefixList=\"b\"/></t5>"
	        "<t6><other/></t6>"
	        "</m>";
	xmlDoc *doc = parse(doc_text, sizeof(doc_text) - 1);
	assert_non_null(doc);
	xmlNode *t = as4_xml_first_elem(xmlDocGetRootElement(doc));
	const char *pl = "unset";
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(wss_c14n_method(t, &pl, &d), AS4_OK);
	assert_null(pl);
	t = as4_xml_next_elem(t);
	assert_int_equal(wss_c14n_method(t, &pl, &d), AS4_OK);
	assert_string_equal(pl, "a b");
	t = as4_xml_next_elem(t);
	assert_int_equal(wss_c14n_method(t, &pl, &d), AS4_OK);
	assert_string_equal(pl, "");
	for (int i = 0; i < 3; i++) {
		t = as4_xml_next_elem(t);
		as4_diag_init(&d);
		assert_int_equal(wss_c14n_method(t, &pl, &d), AS4_E_SIG_INVALID);
		assert_non_null(strstr(as4_diag_text(&d), "InclusiveNamespaces"));
	}
	xmlFreeDoc(doc);
}

static int refuse(void *ctx, const uint8_t *p, size_t n)
{
	(void)p;
	(void)n;
	size_t *calls = ctx;
	(*calls)++;
	return -1;
}

static void output_failure_and_bad_input(void **state)
{
	(void)state;
	static const char text[] = "<r xmlns=\"urn:r\"><c>text</c></r>";
	xmlDoc *doc = parse(text, sizeof(text) - 1);
	assert_non_null(doc);
	size_t calls = 0;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(wss_c14n(xmlDocGetRootElement(doc), NULL, refuse, &calls, &d),
	                 AS4_E_INTERNAL);
	assert_int_equal(calls, 1);
	as4_diag_init(&d);
	xmlNode *txt = xmlDocGetRootElement(doc)->children->children;
	assert_int_equal(wss_c14n(txt, NULL, refuse, &calls, &d), AS4_E_INVAL);
	xmlFreeDoc(doc);
	/* a relative namespace URI in scope: canonical XML fails, naming it */
	static const char rel[] = "<r xmlns:q=\"rel/x\"><c/></r>";
	doc = parse(rel, sizeof(rel) - 1);
	assert_non_null(doc);
	as4_diag_init(&d);
	struct as4_buf b;
	as4_buf_init(&b, 1024);
	assert_int_equal(wss_c14n(xmlDocGetRootElement(doc)->children, NULL, buf_emit, &b, &d),
	                 AS4_E_SIG_INVALID);
	assert_non_null(strstr(as4_diag_text(&d), "rel/x"));
	as4_buf_cleanup(&b);
	xmlFreeDoc(doc);
}

/* Output longer than the internal buffer arrives complete and in order. */
static void long_output(void **state)
{
	(void)state;
	struct gen g = {malloc(1u << 20), 0, 1u << 20};
	assert_non_null(g.p);
	g.p[0] = '\0';
	add(&g, "<big xmlns=\"urn:big\">");
	for (int i = 0; i < 3000; i++) {
		add(&g, "<item n=\"&quot;1&quot;\">text &amp; more\r</item>");
	}
	add(&g, "</big>");
	xmlDoc *doc = parse(g.p, g.len);
	assert_non_null(doc);
	same(xmlDocGetRootElement(doc), NULL, "long");
	xmlFreeDoc(doc);
	free(g.p);
}

static int teardown(void **state)
{
	(void)state;
	fx_cleanup_dir();
	print_message("%zu canonical forms compared with libxml2\n", compared);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	as4_xml_global_init();
	return as4_wss_global_init() == AS4_OK ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(interop_vectors),
	        cmocka_unit_test(own_messages),
	        cmocka_unit_test(generated_documents),
	        cmocka_unit_test(dom_built),
	        cmocka_unit_test(method_parameters),
	        cmocka_unit_test(output_failure_and_bad_input),
	        cmocka_unit_test(long_output),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
