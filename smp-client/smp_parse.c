/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The only parser of SMP documents and of the distinguished names they carry (STYLE rule 11;
 * fuzzed by test/fuzz/fuzz_smp_response.c). Bytes become a DOM only through as4_xml_parse();
 * the caller verifies the signature on that DOM before as4_smp_extract() reads it, so what is
 * used is exactly what was signed (SMP-NOTES §2.5.1).
 * Structures: Peppol SMP 1.x (busdox namespaces), OASIS SMP 1.0 (one namespace), OASIS SMP 2.0
 * (ServiceGroup / ServiceMetadata roots with the smb/sma component namespaces).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <libxml/tree.h>

#include "as4/arena.h"
#include "as4/str.h"
#include "as4/time.h"
#include "as4/xml.h"
#include "smp_int.h"

#define NS_PEPPOL     "http://busdox.org/serviceMetadata/publishing/1.0/"
#define NS_PEPPOL_IDS "http://busdox.org/transport/identifiers/1.0/"
#define NS_WSA        "http://www.w3.org/2005/08/addressing"
#define NS_OASIS1     "http://docs.oasis-open.org/bdxr/ns/SMP/2016/05"
#define NS_SMP2_SG    "http://docs.oasis-open.org/bdxr/ns/SMP/2/ServiceGroup"
#define NS_SMP2_SM    "http://docs.oasis-open.org/bdxr/ns/SMP/2/ServiceMetadata"
#define NS_SMP2_AGG   "http://docs.oasis-open.org/bdxr/ns/SMP/2/AggregateComponents"
#define NS_SMP2_BASIC "http://docs.oasis-open.org/bdxr/ns/SMP/2/BasicComponents"

/* Caps on repeated elements (a document over them is refused, not cut). */
#define MAX_PROCESSES 256
#define MAX_ENDPOINTS 64
#define MAX_CERTS     8
#define MAX_REFS      4096
/* Longest text kept from one element (URLs, descriptions, identifiers, certificates). */
#define MAX_TEXT (64 * 1024)

const char *as4_smp_dialect_name(enum as4_smp_proto dialect)
{
	switch (dialect) {
	case AS4_SMP_PROTO_PEPPOL:
		return "Peppol SMP 1.x";
	case AS4_SMP_PROTO_OASIS1:
		return "OASIS SMP 1.0";
	case AS4_SMP_PROTO_OASIS2:
		return "OASIS SMP 2.0";
	}
	return "SMP";
}

as4_err as4_smp_parse(const uint8_t *buf, size_t len, const struct as4_limits *lim, xmlDoc **dom,
                      enum as4_smp_proto *dialect, enum as4_smp_doc_kind *kind, struct as4_diag *d)
{
	*dom = NULL;
	struct as4_diag xd;
	as4_diag_init(&xd);
	xmlDoc *doc = NULL;
	if (as4_xml_parse(buf, len, lim, &doc, &xd) != AS4_OK) {
		return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                    "SMP response is not acceptable XML: %s", as4_diag_text(&xd));
	}
	xmlNode *root = xmlDocGetRootElement(doc);
	const char *ns = (root != NULL && root->ns != NULL && root->ns->href != NULL)
	                         ? (const char *)root->ns->href
	                         : "";
	const char *name = root != NULL ? (const char *)root->name : "";
	as4_err err = AS4_OK;
	if (strcmp(ns, NS_PEPPOL) == 0 || strcmp(ns, NS_OASIS1) == 0) {
		*dialect = strcmp(ns, NS_PEPPOL) == 0 ? AS4_SMP_PROTO_PEPPOL : AS4_SMP_PROTO_OASIS1;
		if (strcmp(name, "ServiceGroup") == 0) {
			*kind = AS4_SMP_DOC_GROUP;
		} else if (strcmp(name, "SignedServiceMetadata") == 0) {
			*kind = AS4_SMP_DOC_METADATA;
		} else if (strcmp(name, "ServiceMetadata") == 0) {
			/* SMP-NOTES §2.5.5: an unsigned ServiceMetadata is never acceptable here */
			err = as4_diag_set(
			        d, AS4_E_SMP_TRUST,
			        "%s answered an unsigned ServiceMetadata (root ServiceMetadata, "
			        "not SignedServiceMetadata)",
			        as4_smp_dialect_name(*dialect));
		} else {
			err = as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
			                   "SMP response has an unexpected root element '%.80s'",
			                   name);
		}
	} else if (strcmp(ns, NS_SMP2_SG) == 0 && strcmp(name, "ServiceGroup") == 0) {
		*dialect = AS4_SMP_PROTO_OASIS2;
		*kind = AS4_SMP_DOC_GROUP;
	} else if (strcmp(ns, NS_SMP2_SM) == 0 && strcmp(name, "ServiceMetadata") == 0) {
		*dialect = AS4_SMP_PROTO_OASIS2;
		*kind = AS4_SMP_DOC_METADATA;
	} else {
		err = as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                   "SMP response root '{%.120s}%.80s' is not an SMP document", ns,
		                   name);
	}
	if (err != AS4_OK) {
		xmlFreeDoc(doc);
		return err;
	}
	*dom = doc;
	return AS4_OK;
}

/* ---- Reading helpers -------------------------------------------------------------------- */

struct rd {
	struct as4_arena *a;
	struct as4_diag *d;
	as4_err err; /* first failure; later helpers become no-ops */
};

static bool failed(const struct rd *r)
{
	return r->err != AS4_OK;
}

AS4_PRINTF(2, 3) static void fail(struct rd *r, const char *fmt, ...)
{
	if (r->err != AS4_OK) {
		return;
	}
	char text[AS4_DIAG_TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0) {
		text[0] = '\0';
	}
	r->err = as4_diag_set(r->d, AS4_E_SMP_BAD_RESPONSE, "bad SMP document: %s", text);
}

static void oom(struct rd *r)
{
	if (r->err == AS4_OK) {
		r->err = as4_diag_set(r->d, AS4_E_NOMEM, "out of memory reading the SMP document");
	}
}

/* The only child ns:local of parent; NULL (and a failure when required) otherwise. */
static xmlNode *one(struct rd *r, const xmlNode *parent, const char *ns, const char *local,
                    bool required)
{
	if (failed(r)) {
		return NULL;
	}
	size_t n = as4_xml_count_children(parent, ns, local);
	if (n > 1) {
		fail(r, "%s has %zu %s elements (at most one allowed)", (const char *)parent->name,
		     n, local);
		return NULL;
	}
	if (n == 0) {
		if (required) {
			fail(r, "%s has no %s element", (const char *)parent->name, local);
		}
		return NULL;
	}
	return as4_xml_child(parent, ns, local);
}

/* The text of an element that must hold text only, trimmed, copied into the arena. */
static const char *leaf(struct rd *r, const xmlNode *node)
{
	if (failed(r) || node == NULL) {
		return NULL;
	}
	if (as4_xml_first_elem(node) != NULL) {
		fail(r, "%s must hold text, not elements", (const char *)node->name);
		return NULL;
	}
	char *t = as4_xml_text(node);
	if (t == NULL) {
		oom(r);
		return NULL;
	}
	const char *s = t;
	size_t n = strlen(t);
	as4_str_trim(&s, &n);
	const char *out = NULL;
	if (n > MAX_TEXT) {
		fail(r, "%s holds %zu bytes of text (at most %d)", (const char *)node->name, n,
		     MAX_TEXT);
	} else {
		out = as4_arena_strndup(r->a, s, n);
		if (out == NULL) {
			oom(r);
		}
	}
	xmlFree(t);
	return out;
}

/* An attribute (no namespace) copied into the arena, trimmed; "" when absent and optional. */
static const char *attr(struct rd *r, const xmlNode *node, const char *name, bool required)
{
	if (failed(r) || node == NULL) {
		return NULL;
	}
	const char *v = as4_xml_attr(node, NULL, name);
	if (v == NULL) {
		if (required) {
			fail(r, "%s has no %s attribute", (const char *)node->name, name);
			return NULL;
		}
		v = "";
	}
	size_t n = strlen(v);
	as4_str_trim(&v, &n);
	if (n > MAX_TEXT) {
		fail(r, "attribute %s is %zu bytes long", name, n);
		return NULL;
	}
	const char *out = as4_arena_strndup(r->a, v, n);
	if (out == NULL) {
		oom(r);
	}
	return out;
}

/* An identifier element: scheme attribute (attr_name) and text value. */
static void ident(struct rd *r, const xmlNode *node, const char *attr_name,
                  struct as4_smp_proc *out)
{
	out->scheme = attr(r, node, attr_name, false);
	out->value = leaf(r, node);
	if (failed(r)) {
		return;
	}
	if (strlen(out->scheme) > AS4_SMP_SCHEME_MAX || strlen(out->value) > AS4_SMP_VALUE_MAX) {
		fail(r, "identifier in %s is too long", (const char *)node->name);
	} else if (out->value[0] == '\0') {
		fail(r, "identifier in %s is empty", (const char *)node->name);
	}
}

/* An optional xs:dateTime / xs:date; an end date without time means the end of that day. */
static int64_t date(struct rd *r, const xmlNode *node, bool end, int64_t absent)
{
	const char *s = leaf(r, node);
	if (s == NULL) {
		return absent;
	}
	int64_t ms;
	if (as4_time_parse(s, &ms) != AS4_OK) {
		fail(r, "%s '%.40s' is not an xs:dateTime or xs:date", (const char *)node->name, s);
		return absent;
	}
	bool date_only = strlen(s) < 11 || s[10] != 'T';
	if (end && date_only) {
		ms += 24LL * 3600 * 1000 - 1;
	}
	return ms;
}

static bool boolean(struct rd *r, const xmlNode *node)
{
	const char *s = leaf(r, node);
	if (s == NULL) {
		return false;
	}
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0) {
		return true;
	}
	if (strcmp(s, "false") != 0 && strcmp(s, "0") != 0) {
		fail(r, "%s '%.20s' is not an xs:boolean", (const char *)node->name, s);
	}
	return false;
}

/* Base64 certificate text (line breaks and &#13; allowed) into DER bytes in the arena. */
static void cert_der(struct rd *r, const xmlNode *node, struct as4_smp_der *out)
{
	out->activation_ms = INT64_MIN;
	out->expiration_ms = INT64_MAX;
	const char *s = leaf(r, node);
	if (s == NULL) {
		return;
	}
	size_t n = strlen(s);
	size_t cap = as4_b64_decoded_max(n);
	uint8_t *der = as4_arena_alloc(r->a, cap + 1);
	if (der == NULL) {
		oom(r);
		return;
	}
	size_t len = 0;
	if (n == 0 || as4_b64_decode(s, n, der, cap, &len) != AS4_OK || len == 0) {
		fail(r, "%s is not base64 certificate data", (const char *)node->name);
		return;
	}
	out->der = der;
	out->len = len;
}

/* Count children ns:local and allocate an array for them; NULL when there are none. */
static void *alloc_children(struct rd *r, const xmlNode *parent, const char *ns, const char *local,
                            size_t max, size_t size, size_t *n)
{
	*n = 0;
	if (failed(r)) {
		return NULL;
	}
	size_t c = as4_xml_count_children(parent, ns, local);
	if (c > max) {
		fail(r, "%s has %zu %s elements (at most %zu)", (const char *)parent->name, c,
		     local, max);
		return NULL;
	}
	if (c == 0) {
		return NULL;
	}
	void *p = as4_arena_calloc(r->a, c, size);
	if (p == NULL) {
		oom(r);
		return NULL;
	}
	*n = c;
	return p;
}

/* ---- SMP 1.x (Peppol and OASIS 1.0 share the shape) -------------------------------------- */

static void endpoint1(struct rd *r, const xmlNode *ep, enum as4_smp_proto dialect,
                      struct as4_smp_ep *out)
{
	const char *ns = dialect == AS4_SMP_PROTO_PEPPOL ? NS_PEPPOL : NS_OASIS1;
	out->activation_ms = INT64_MIN;
	out->expiration_ms = INT64_MAX;
	out->transport_profile = attr(r, ep, "transportProfile", true);
	if (dialect == AS4_SMP_PROTO_PEPPOL) {
		xmlNode *epr = one(r, ep, NS_WSA, "EndpointReference", true);
		out->address = leaf(r, one(r, epr, NS_WSA, "Address", true));
	} else {
		out->address = leaf(r, one(r, ep, ns, "EndpointURI", true));
	}
	xmlNode *bls = one(r, ep, ns, "RequireBusinessLevelSignature", false);
	if (bls != NULL) {
		out->require_business_signature = boolean(r, bls);
	}
	out->activation_ms =
	        date(r, one(r, ep, ns, "ServiceActivationDate", false), false, INT64_MIN);
	out->expiration_ms =
	        date(r, one(r, ep, ns, "ServiceExpirationDate", false), true, INT64_MAX);
	xmlNode *cert = one(r, ep, ns, "Certificate", true);
	if (cert != NULL) {
		out->certs = as4_arena_calloc(r->a, 1, sizeof(*out->certs));
		if (out->certs == NULL) {
			oom(r);
			return;
		}
		out->n_certs = 1;
		cert_der(r, cert, &out->certs[0]);
	}
	out->description = leaf(r, one(r, ep, ns, "ServiceDescription", false));
	out->contact = leaf(r, one(r, ep, ns, "TechnicalContactUrl", false));
	if (!failed(r) && (out->transport_profile[0] == '\0' || out->address[0] == '\0')) {
		fail(r, "Endpoint has an empty transportProfile or address");
	}
}

static void metadata1(struct rd *r, const xmlNode *root, struct as4_smp_doc *doc)
{
	enum as4_smp_proto dialect = doc->dialect;
	const char *ns = dialect == AS4_SMP_PROTO_PEPPOL ? NS_PEPPOL : NS_OASIS1;
	const char *ids = dialect == AS4_SMP_PROTO_PEPPOL ? NS_PEPPOL_IDS : NS_OASIS1;
	xmlNode *sm = one(r, root, ns, "ServiceMetadata", true);
	if (sm == NULL) {
		return;
	}
	xmlNode *si = one(r, sm, ns, "ServiceInformation", false);
	xmlNode *redirect = one(r, sm, ns, "Redirect", false);
	if (failed(r)) {
		return;
	}
	if ((si == NULL) == (redirect == NULL)) {
		fail(r, "ServiceMetadata must hold either ServiceInformation or Redirect");
		return;
	}
	if (redirect != NULL) {
		doc->redirect_href = attr(r, redirect, "href", true);
		doc->redirect_uid = leaf(r, one(r, redirect, ns, "CertificateUID", true));
		if (failed(r)) {
			return;
		}
		r->err = as4_smp_dn_parse(doc->redirect_uid, r->a, &doc->uid_avas, &doc->n_uid_avas,
		                          r->d);
		return;
	}
	ident(r, one(r, si, ids, "ParticipantIdentifier", true), "scheme", &doc->participant);
	ident(r, one(r, si, ids, "DocumentIdentifier", true), "scheme", &doc->document);
	xmlNode *pl = one(r, si, ns, "ProcessList", true);
	if (failed(r)) {
		return;
	}
	doc->pms =
	        alloc_children(r, pl, ns, "Process", MAX_PROCESSES, sizeof(*doc->pms), &doc->n_pms);
	if (!failed(r) && doc->n_pms == 0) {
		fail(r, "ProcessList holds no Process");
	}
	size_t i = 0;
	for (xmlNode *p = as4_xml_first_elem(pl); p != NULL && !failed(r);
	     p = as4_xml_next_elem(p)) {
		if (!as4_xml_is(p, ns, "Process")) {
			continue;
		}
		struct as4_smp_procmeta *pm = &doc->pms[i++];
		pm->procs = as4_arena_calloc(r->a, 1, sizeof(*pm->procs));
		if (pm->procs == NULL) {
			oom(r);
			return;
		}
		pm->n_procs = 1;
		ident(r, one(r, p, ids, "ProcessIdentifier", true), "scheme", &pm->procs[0]);
		xmlNode *sel = one(r, p, ns, "ServiceEndpointList", true);
		if (failed(r)) {
			return;
		}
		pm->eps = alloc_children(r, sel, ns, "Endpoint", MAX_ENDPOINTS, sizeof(*pm->eps),
		                         &pm->n_eps);
		if (!failed(r) && pm->n_eps == 0) {
			fail(r, "ServiceEndpointList of process '%.80s' holds no Endpoint",
			     pm->procs[0].value);
		}
		size_t k = 0;
		for (xmlNode *e = as4_xml_first_elem(sel); e != NULL && !failed(r);
		     e = as4_xml_next_elem(e)) {
			if (as4_xml_is(e, ns, "Endpoint")) {
				endpoint1(r, e, dialect, &pm->eps[k++]);
			}
		}
	}
}

static void group1(struct rd *r, const xmlNode *root, struct as4_smp_doc *doc)
{
	const char *ns = doc->dialect == AS4_SMP_PROTO_PEPPOL ? NS_PEPPOL : NS_OASIS1;
	const char *ids = doc->dialect == AS4_SMP_PROTO_PEPPOL ? NS_PEPPOL_IDS : NS_OASIS1;
	ident(r, one(r, root, ids, "ParticipantIdentifier", true), "scheme", &doc->participant);
	xmlNode *coll = one(r, root, ns, "ServiceMetadataReferenceCollection", true);
	if (failed(r)) {
		return;
	}
	doc->refs = alloc_children(r, coll, ns, "ServiceMetadataReference", MAX_REFS,
	                           sizeof(*doc->refs), &doc->n_refs);
	size_t i = 0;
	for (xmlNode *e = as4_xml_first_elem(coll); e != NULL && !failed(r);
	     e = as4_xml_next_elem(e)) {
		if (as4_xml_is(e, ns, "ServiceMetadataReference")) {
			doc->refs[i++] = attr(r, e, "href", true);
		}
	}
}

/* ---- SMP 2.0 ---------------------------------------------------------------------------- */

static void version2(struct rd *r, const xmlNode *root)
{
	const char *v = leaf(r, one(r, root, NS_SMP2_BASIC, "SMPVersionID", true));
	if (v != NULL && strcmp(v, "2.0") != 0) {
		fail(r, "SMPVersionID is '%.40s', not 2.0", v);
	}
}

static void certs2(struct rd *r, const xmlNode *parent, struct as4_smp_der **out, size_t *n)
{
	*out = alloc_children(r, parent, NS_SMP2_AGG, "Certificate", MAX_CERTS, sizeof(**out), n);
	size_t i = 0;
	for (xmlNode *c = as4_xml_first_elem(parent); c != NULL && !failed(r);
	     c = as4_xml_next_elem(c)) {
		if (!as4_xml_is(c, NS_SMP2_AGG, "Certificate")) {
			continue;
		}
		struct as4_smp_der *x = &(*out)[i++];
		cert_der(r, one(r, c, NS_SMP2_BASIC, "ContentBinaryObject", true), x);
		x->activation_ms = date(r, one(r, c, NS_SMP2_BASIC, "ActivationDate", false), false,
		                        INT64_MIN);
		x->expiration_ms =
		        date(r, one(r, c, NS_SMP2_BASIC, "ExpirationDate", false), true, INT64_MAX);
	}
}

static void endpoint2(struct rd *r, const xmlNode *ep, struct as4_smp_ep *out)
{
	out->transport_profile = leaf(r, one(r, ep, NS_SMP2_BASIC, "TransportProfileID", true));
	out->address = leaf(r, one(r, ep, NS_SMP2_BASIC, "AddressURI", true));
	out->description = leaf(r, one(r, ep, NS_SMP2_BASIC, "Description", false));
	out->contact = leaf(r, one(r, ep, NS_SMP2_BASIC, "Contact", false));
	out->activation_ms =
	        date(r, one(r, ep, NS_SMP2_BASIC, "ActivationDate", false), false, INT64_MIN);
	out->expiration_ms =
	        date(r, one(r, ep, NS_SMP2_BASIC, "ExpirationDate", false), true, INT64_MAX);
	certs2(r, ep, &out->certs, &out->n_certs);
	if (!failed(r) && (out->transport_profile[0] == '\0' || out->address[0] == '\0')) {
		fail(r, "Endpoint has an empty TransportProfileID or AddressURI");
	}
}

static void metadata2(struct rd *r, const xmlNode *root, struct as4_smp_doc *doc)
{
	version2(r, root);
	ident(r, one(r, root, NS_SMP2_BASIC, "ID", true), "schemeID", &doc->document);
	ident(r, one(r, root, NS_SMP2_BASIC, "ParticipantID", true), "schemeID", &doc->participant);
	doc->pms = alloc_children(r, root, NS_SMP2_AGG, "ProcessMetadata", MAX_PROCESSES,
	                          sizeof(*doc->pms), &doc->n_pms);
	if (!failed(r) && doc->n_pms == 0) {
		fail(r, "ServiceMetadata holds no ProcessMetadata");
	}
	size_t i = 0;
	for (xmlNode *p = as4_xml_first_elem(root); p != NULL && !failed(r);
	     p = as4_xml_next_elem(p)) {
		if (!as4_xml_is(p, NS_SMP2_AGG, "ProcessMetadata")) {
			continue;
		}
		struct as4_smp_procmeta *pm = &doc->pms[i++];
		pm->procs = alloc_children(r, p, NS_SMP2_AGG, "Process", MAX_PROCESSES,
		                           sizeof(*pm->procs), &pm->n_procs);
		size_t k = 0;
		for (xmlNode *e = as4_xml_first_elem(p); e != NULL && !failed(r);
		     e = as4_xml_next_elem(e)) {
			if (as4_xml_is(e, NS_SMP2_AGG, "Process")) {
				ident(r, one(r, e, NS_SMP2_BASIC, "ID", true), "schemeID",
				      &pm->procs[k++]);
			}
		}
		xmlNode *redirect = one(r, p, NS_SMP2_AGG, "Redirect", false);
		pm->eps = alloc_children(r, p, NS_SMP2_AGG, "Endpoint", MAX_ENDPOINTS,
		                         sizeof(*pm->eps), &pm->n_eps);
		if (failed(r)) {
			return;
		}
		if ((redirect == NULL) == (pm->n_eps == 0)) {
			fail(r,
			     "ProcessMetadata %zu must hold either Endpoint elements or one "
			     "Redirect",
			     i);
			return;
		}
		if (redirect != NULL) {
			pm->redirect_url =
			        leaf(r, one(r, redirect, NS_SMP2_BASIC, "PublisherURI", true));
			certs2(r, redirect, &pm->redirect_certs, &pm->n_redirect_certs);
			if (!failed(r) && pm->n_redirect_certs == 0) {
				fail(r, "Redirect holds no Certificate");
			}
			continue;
		}
		k = 0;
		for (xmlNode *e = as4_xml_first_elem(p); e != NULL && !failed(r);
		     e = as4_xml_next_elem(e)) {
			if (as4_xml_is(e, NS_SMP2_AGG, "Endpoint")) {
				endpoint2(r, e, &pm->eps[k++]);
			}
		}
	}
}

static void group2(struct rd *r, const xmlNode *root, struct as4_smp_doc *doc)
{
	version2(r, root);
	ident(r, one(r, root, NS_SMP2_BASIC, "ParticipantID", true), "schemeID", &doc->participant);
	doc->refs = alloc_children(r, root, NS_SMP2_AGG, "ServiceReference", MAX_REFS,
	                           sizeof(*doc->refs), &doc->n_refs);
	size_t i = 0;
	for (xmlNode *e = as4_xml_first_elem(root); e != NULL && !failed(r);
	     e = as4_xml_next_elem(e)) {
		if (as4_xml_is(e, NS_SMP2_AGG, "ServiceReference")) {
			doc->refs[i++] = leaf(r, one(r, e, NS_SMP2_BASIC, "ID", true));
		}
	}
}

as4_err as4_smp_extract(const xmlDoc *dom, enum as4_smp_proto dialect, enum as4_smp_doc_kind kind,
                        struct as4_smp_doc **out, struct as4_diag *d)
{
	*out = NULL;
	struct as4_smp_doc *doc = NULL;
	struct as4_arena *a = as4_arena_new(0);
	if (a == NULL || (doc = as4_arena_alloc(a, sizeof(*doc))) == NULL) {
		as4_arena_free(a);
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory reading the SMP document");
	}
	doc->arena = a;
	doc->dialect = dialect;
	doc->kind = kind;
	doc->participant.scheme = "";
	doc->participant.value = "";
	doc->document.scheme = "";
	doc->document.value = "";
	struct rd r = {a, d, AS4_OK};
	const xmlNode *root = xmlDocGetRootElement((xmlDoc *)(uintptr_t)dom);
	if (root == NULL) {
		fail(&r, "no root element");
	} else if (dialect == AS4_SMP_PROTO_OASIS2) {
		if (kind == AS4_SMP_DOC_METADATA) {
			metadata2(&r, root, doc);
		} else {
			group2(&r, root, doc);
		}
	} else if (kind == AS4_SMP_DOC_METADATA) {
		metadata1(&r, root, doc);
	} else {
		group1(&r, root, doc);
	}
	if (r.err != AS4_OK) {
		as4_smp_doc_free(doc);
		return r.err;
	}
	*out = doc;
	return AS4_OK;
}

void as4_smp_doc_free(struct as4_smp_doc *doc)
{
	if (doc != NULL) {
		as4_arena_free(doc->arena);
	}
}

/* ---- Distinguished names (RFC 4514, RFC 2253, RFC 1779 quoting) ------------------------- */

#define DN_MAX_LEN  1024
#define DN_MAX_AVAS 64

static int hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

as4_err as4_smp_dn_parse(const char *s, struct as4_arena *a, struct as4_smp_ava **out, size_t *n,
                         struct as4_diag *d)
{
	*out = NULL;
	*n = 0;
	size_t len = strlen(s);
	if (len == 0 || len > DN_MAX_LEN) {
		return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                    "CertificateUID is empty or longer than %d bytes", DN_MAX_LEN);
	}
	struct as4_smp_ava *avas = as4_arena_calloc(a, DN_MAX_AVAS, sizeof(*avas));
	char *type = as4_arena_alloc(a, len + 1);
	char *val = as4_arena_alloc(a, len + 1);
	if (avas == NULL || type == NULL || val == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	size_t count = 0;
	size_t i = 0;
	for (;;) {
		while (i < len && s[i] == ' ') {
			i++;
		}
		/* attributeType: descr (ALPHA *(ALPHA / DIGIT / "-")) or numericoid */
		size_t t = 0;
		while (i < len && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		                   (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.')) {
			type[t++] = s[i++];
		}
		type[t] = '\0';
		while (i < len && s[i] == ' ') {
			i++;
		}
		if (t == 0 || i >= len || s[i] != '=') {
			return as4_diag_set(
			        d, AS4_E_SMP_BAD_RESPONSE,
			        "CertificateUID '%.120s': attribute type expected at %zu", s, i);
		}
		i++;
		while (i < len && s[i] == ' ') {
			i++;
		}
		size_t v = 0;
		size_t keep = 0; /* length without unescaped trailing spaces */
		if (i < len && s[i] == '#') {
			return as4_diag_set(
			        d, AS4_E_SMP_BAD_RESPONSE,
			        "CertificateUID '%.120s': BER-encoded (#hex) values are not "
			        "supported",
			        s);
		}
		if (i < len && s[i] == '"') {
			i++;
			while (i < len && s[i] != '"') {
				if (s[i] == '\\' && i + 1 < len) {
					i++;
				}
				val[v++] = s[i++];
			}
			if (i >= len) {
				return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
				                    "CertificateUID '%.120s': unterminated quote",
				                    s);
			}
			i++;
			keep = v;
			while (i < len && s[i] == ' ') {
				i++;
			}
		} else {
			while (i < len && s[i] != ',' && s[i] != ';' && s[i] != '+') {
				if (s[i] == '\\') {
					if (i + 1 >= len) {
						return as4_diag_set(
						        d, AS4_E_SMP_BAD_RESPONSE,
						        "CertificateUID '%.120s': dangling escape",
						        s);
					}
					int h1 = hexval(s[i + 1]);
					int h2 = i + 2 < len ? hexval(s[i + 2]) : -1;
					if (h1 >= 0 && h2 >= 0) {
						val[v++] = (char)(h1 * 16 + h2);
						i += 3;
					} else {
						val[v++] = s[i + 1];
						i += 2;
					}
					keep = v;
					continue;
				}
				val[v++] = s[i++];
				if (s[i - 1] != ' ') {
					keep = v;
				}
			}
		}
		val[keep] = '\0';
		if (keep == 0 || memchr(val, '\0', keep) != NULL) {
			return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
			                    "CertificateUID '%.120s': empty or NUL attribute value",
			                    s);
		}
		if (count == DN_MAX_AVAS) {
			return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
			                    "CertificateUID has more than %d attributes",
			                    DN_MAX_AVAS);
		}
		avas[count].type = as4_arena_strdup(a, type);
		avas[count].value = as4_arena_strndup(a, val, keep);
		if (avas[count].type == NULL || avas[count].value == NULL) {
			return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
		count++;
		if (i >= len) {
			break;
		}
		if (s[i] != ',' && s[i] != ';' && s[i] != '+') {
			return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
			                    "CertificateUID '%.120s': separator expected at %zu", s,
			                    i);
		}
		i++;
	}
	*out = avas;
	*n = count;
	return AS4_OK;
}
