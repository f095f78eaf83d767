/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The whole lookup pipeline with injected DNS and HTTP back ends and SMP documents signed by an
 * independent signer (the xmlsec1 command) with a test PKI made by test/data/smp/mkpki.sh:
 * outcome classes of DNS and HTTP, signature and chain refusals, identifier checks, endpoint
 * selection, redirects, the three dialects, the cache and its thread-safety.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "../../../smp-client/smp_int.h"
#include "as4/blob.h"
#include "as4/buf.h"
#include "as4/smp.h"
#include "as4/str.h"
#include "as4/time.h"
#include "as4/xml.h"
#include "dns_build.h"

#define PID   "iso6523-actorid-upis::0184:DK12345678"
#define PID_V "0184:DK12345678"
#define DOC                                                                                        \
	"busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##x::2." \
	"1"
#define DOC_V   "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##x::2.1"
#define PROC    "cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
#define PROC_V  "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
#define EP_URL  "https://ap.test/as4"
#define SMP     "https://smp.test/"
#define ZONE    "sml.test"
#define SMP2_DN "CN=SMP000002,OU=TEST SMP,O=Test SMP Two,C=DK"

static char dir[256];
static char ap_b64[8192];
static char smp_b64[8192];
static char smp_ca[300];
static char ap_ca[300];
static const char *smp_cas[1] = {smp_ca};
static const char *ap_cas[1] = {ap_ca};
static char qname[AS4_SMP_DNS_NAME_MAX + 1];
static char md_url[2048];

/* ---- helpers ---------------------------------------------------------------------------- */

AS4_PRINTF(1, 2) static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(cmd));
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void path_of(char *out, size_t cap, const char *name)
{
	assert_int_equal(as4_str_fmt(out, cap, "%s/%s", dir, name), AS4_OK);
}

static void write_text(const char *name, const char *text)
{
	char p[512];
	path_of(p, sizeof(p), name);
	assert_int_equal(as4_file_write_atomic(p, text, strlen(text), 0600), AS4_OK);
}

/* Base64 body of a PEM certificate (the lines between the armour). */
static void pem_b64(const char *name, char *out, size_t cap)
{
	char p[512];
	path_of(p, sizeof(p), name);
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(as4_file_read(p, 65536, &buf, &len), AS4_OK);
	const char *s = strstr((const char *)buf, "-----\n");
	const char *e = strstr((const char *)buf, "\n-----END");
	assert_non_null(s);
	assert_non_null(e);
	s += 6;
	assert_true((size_t)(e - s) < cap);
	memcpy(out, s, (size_t)(e - s));
	out[e - s] = '\0';
	free(buf);
}

static const char *sig_tmpl(bool sha1)
{
	return sha1 ? "<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\"><SignedInfo>"
	              "<CanonicalizationMethod "
	              "Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/>"
	              "<SignatureMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#rsa-sha1\"/>"
	              "<Reference URI=\"\"><Transforms><Transform "
	              "Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>"
	              "</Transforms><DigestMethod "
	              "Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1\"/><DigestValue/>"
	              "</Reference></SignedInfo><SignatureValue/><KeyInfo><X509Data>"
	              "<X509Certificate/></X509Data></KeyInfo></Signature>"
	            : "<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\"><SignedInfo>"
	              "<CanonicalizationMethod "
	              "Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/>"
	              "<SignatureMethod "
	              "Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>"
	              "<Reference URI=\"\"><Transforms><Transform "
	              "Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>"
	              "</Transforms><DigestMethod "
	              "Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><DigestValue/>"
	              "</Reference></SignedInfo><SignatureValue/><KeyInfo><X509Data>"
	              "<X509Certificate/></X509Data></KeyInfo></Signature>";
}

struct ep {
	const char *proc; /* process value (scheme cenbii-procid-ubl) */
	const char *tp;
	const char *url;
	const char *act; /* NULL = absent */
	const char *exp;
	const char *cert; /* base64 */
};

struct spec {
	enum as4_smp_proto dialect;
	const char *pid_v;
	const char *doc_v;
	struct ep eps[3];
	size_t n_eps;
	const char *redirect; /* 1.x Redirect@href, or SMP 2.0 PublisherURI */
	const char *uid;      /* CertificateUID (1.x) */
	bool sha1;
	bool unsigned_doc;
	bool inner_signature; /* a (bogus) ds:Signature inside an Extension, as DomiSMP writes */
};

static struct spec peppol_spec(void)
{
	struct spec s;
	memset(&s, 0, sizeof(s));
	s.dialect = AS4_SMP_PROTO_PEPPOL;
	s.pid_v = PID_V;
	s.doc_v = DOC_V;
	s.eps[0] = (struct ep){PROC_V,
	                       AS4_SMP_TP_PEPPOL_AS4,
	                       EP_URL,
	                       "2020-01-01T00:00:00Z",
	                       "2099-01-01T00:00:00Z",
	                       ap_b64};
	s.n_eps = 1;
	return s;
}

static void ep1(struct as4_buf *b, const struct spec *s, const struct ep *e)
{
	const char *ns = s->dialect == AS4_SMP_PROTO_PEPPOL ? "m:" : "";
	assert_int_equal(as4_buf_printf(b, "<%sEndpoint transportProfile=\"%s\">", ns, e->tp),
	                 AS4_OK);
	if (s->dialect == AS4_SMP_PROTO_PEPPOL) {
		assert_int_equal(as4_buf_printf(b,
		                                "<w:EndpointReference><w:Address>%s</w:Address>"
		                                "</w:EndpointReference>",
		                                e->url),
		                 AS4_OK);
	} else {
		assert_int_equal(as4_buf_printf(b, "<EndpointURI>%s</EndpointURI>", e->url),
		                 AS4_OK);
	}
	assert_int_equal(as4_buf_printf(b,
	                                "<%sRequireBusinessLevelSignature>false</"
	                                "%sRequireBusinessLevelSignature>",
	                                ns, ns),
	                 AS4_OK);
	if (e->act != NULL) {
		assert_int_equal(
		        as4_buf_printf(b, "<%sServiceActivationDate>%s</%sServiceActivationDate>",
		                       ns, e->act, ns),
		        AS4_OK);
	}
	if (e->exp != NULL) {
		assert_int_equal(
		        as4_buf_printf(b, "<%sServiceExpirationDate>%s</%sServiceExpirationDate>",
		                       ns, e->exp, ns),
		        AS4_OK);
	}
	assert_int_equal(as4_buf_printf(b,
	                                "<%sCertificate>%s</%sCertificate><%sServiceDescription>AP"
	                                "</%sServiceDescription><%sTechnicalContactUrl>"
	                                "mailto:ap@test</%sTechnicalContactUrl></%sEndpoint>",
	                                ns, e->cert, ns, ns, ns, ns, ns, ns),
	                 AS4_OK);
}

/* SMP 1.x: Peppol (prefix m:, identifiers in the busdox ids namespace) or OASIS 1.0. */
static void doc1(struct as4_buf *b, const struct spec *s)
{
	bool peppol = s->dialect == AS4_SMP_PROTO_PEPPOL;
	const char *ns = peppol ? "m:" : "";
	const char *id = peppol ? "i:" : "";
	if (peppol) {
		assert_int_equal(
		        as4_buf_puts(
		                b, "<m:SignedServiceMetadata "
		                   "xmlns:m=\"http://busdox.org/serviceMetadata/publishing/1.0/\" "
		                   "xmlns:i=\"http://busdox.org/transport/identifiers/1.0/\" "
		                   "xmlns:w=\"http://www.w3.org/2005/08/addressing\">"),
		        AS4_OK);
	} else {
		assert_int_equal(
		        as4_buf_puts(b,
		                     "<SignedServiceMetadata "
		                     "xmlns=\"http://docs.oasis-open.org/bdxr/ns/SMP/2016/05\">"),
		        AS4_OK);
	}
	assert_int_equal(as4_buf_printf(b, "<%sServiceMetadata>", ns), AS4_OK);
	if (s->uid != NULL) {
		assert_int_equal(as4_buf_printf(b,
		                                "<%sRedirect href=\"%s\"><%sCertificateUID>%s</"
		                                "%sCertificateUID></%sRedirect>",
		                                ns, s->redirect, ns, s->uid, ns, ns),
		                 AS4_OK);
	} else {
		assert_int_equal(
		        as4_buf_printf(b,
		                       "<%sServiceInformation>\n  <%sParticipantIdentifier "
		                       "scheme=\"iso6523-actorid-upis\">\n    %s\n  </"
		                       "%sParticipantIdentifier><%sDocumentIdentifier "
		                       "scheme=\"busdox-docid-qns\">%s</"
		                       "%sDocumentIdentifier><%sProcessList>",
		                       ns, id, s->pid_v, id, id, s->doc_v, id, ns),
		        AS4_OK);
		for (size_t i = 0; i < s->n_eps; i++) {
			assert_int_equal(
			        as4_buf_printf(b,
			                       "<%sProcess><%sProcessIdentifier "
			                       "scheme=\"cenbii-procid-ubl\">%s</"
			                       "%sProcessIdentifier><%sServiceEndpointList>",
			                       ns, id, s->eps[i].proc, id, ns),
			        AS4_OK);
			ep1(b, s, &s->eps[i]);
			assert_int_equal(
			        as4_buf_printf(b, "</%sServiceEndpointList></%sProcess>", ns, ns),
			        AS4_OK);
		}
		assert_int_equal(as4_buf_printf(b, "</%sProcessList>", ns), AS4_OK);
		if (s->inner_signature) {
			assert_int_equal(as4_buf_printf(b, "<%sExtension>%s</%sExtension>", ns,
			                                sig_tmpl(false), ns),
			                 AS4_OK);
		}
		assert_int_equal(as4_buf_printf(b, "</%sServiceInformation>", ns), AS4_OK);
	}
	assert_int_equal(as4_buf_printf(b, "</%sServiceMetadata>", ns), AS4_OK);
	if (!s->unsigned_doc) {
		assert_int_equal(as4_buf_puts(b, sig_tmpl(s->sha1)), AS4_OK);
	}
	assert_int_equal(as4_buf_printf(b, "</%sSignedServiceMetadata>", ns), AS4_OK);
}

/* SMP 2.0 ServiceMetadata; a redirect replaces the endpoints of the one ProcessMetadata. */
static void doc2(struct as4_buf *b, const struct spec *s)
{
	assert_int_equal(
	        as4_buf_printf(
	                b,
	                "<ServiceMetadata "
	                "xmlns=\"http://docs.oasis-open.org/bdxr/ns/SMP/2/ServiceMetadata\" "
	                "xmlns:cbc=\"http://docs.oasis-open.org/bdxr/ns/SMP/2/BasicComponents\" "
	                "xmlns:cac=\"http://docs.oasis-open.org/bdxr/ns/SMP/2/"
	                "AggregateComponents\">"
	                "<cbc:SMPVersionID>2.0</cbc:SMPVersionID><cbc:ID "
	                "schemeID=\"busdox-docid-qns\">%s</cbc:ID><cbc:ParticipantID "
	                "schemeID=\"iso6523-actorid-upis\">%s</cbc:ParticipantID>",
	                s->doc_v, s->pid_v),
	        AS4_OK);
	for (size_t i = 0; i < s->n_eps; i++) {
		const struct ep *e = &s->eps[i];
		assert_int_equal(as4_buf_printf(b,
		                                "<cac:ProcessMetadata><cac:Process><cbc:ID "
		                                "schemeID=\"cenbii-procid-ubl\">%s</cbc:ID>"
		                                "</cac:Process>",
		                                e->proc),
		                 AS4_OK);
		if (s->redirect != NULL) {
			assert_int_equal(
			        as4_buf_printf(b,
			                       "<cac:Redirect><cbc:PublisherURI>%s</"
			                       "cbc:PublisherURI><cac:Certificate>"
			                       "<cbc:ContentBinaryObject mimeCode=\"application/"
			                       "base64\">%s</cbc:ContentBinaryObject>"
			                       "</cac:Certificate></cac:Redirect>",
			                       s->redirect, e->cert),
			        AS4_OK);
		} else {
			assert_int_equal(
			        as4_buf_printf(
			                b,
			                "<cac:Endpoint><cbc:TransportProfileID>%s</"
			                "cbc:TransportProfileID><cbc:AddressURI>%s</"
			                "cbc:AddressURI><cbc:ActivationDate>2020-01-01</"
			                "cbc:ActivationDate><cbc:ExpirationDate>%s</"
			                "cbc:ExpirationDate><cac:Certificate>"
			                "<cbc:ContentBinaryObject mimeCode=\"application/"
			                "base64\">%s</cbc:ContentBinaryObject></cac:Certificate>"
			                "</cac:Endpoint>",
			                e->tp, e->url, e->exp, e->cert),
			        AS4_OK);
		}
		assert_int_equal(as4_buf_puts(b, "</cac:ProcessMetadata>"), AS4_OK);
	}
	if (!s->unsigned_doc) {
		assert_int_equal(as4_buf_puts(b, sig_tmpl(s->sha1)), AS4_OK);
	}
	assert_int_equal(as4_buf_puts(b, "</ServiceMetadata>"), AS4_OK);
}

/* Write the document of s signed with key (name of a key/cert pair of the PKI) as name.xml. */
static void make(const char *name, const struct spec *s, const char *key)
{
	struct as4_buf b;
	as4_buf_init(&b, 1 << 20);
	assert_int_equal(as4_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"), AS4_OK);
	if (s->dialect == AS4_SMP_PROTO_OASIS2) {
		doc2(&b, s);
	} else {
		doc1(&b, s);
	}
	char tmpl[300];
	assert_int_equal(as4_str_fmt(tmpl, sizeof(tmpl), "%s.tmpl", name), AS4_OK);
	write_text(tmpl, (const char *)b.data);
	as4_buf_cleanup(&b);
	if (s->unsigned_doc) {
		assert_int_equal(sh("cp %s/%s.tmpl %s/%s.xml", dir, name, dir, name), 0);
		return;
	}
	/* the signature template that is a child of the root, whatever else the document holds */
	assert_int_equal(sh("xmlsec1 --sign --privkey-pem %s/%s.key,%s/%s.pem --node-xpath "
	                    "\"/*/*[local-name()='Signature']\" --output %s/%s.xml %s/%s.tmpl",
	                    dir, key, dir, key, dir, name, dir, name),
	                 0);
}

/* ---- fake back ends ------------------------------------------------------------------- */

struct dns_entry {
	char name[AS4_SMP_DNS_NAME_MAX + 1];
	uint16_t qtype;
	enum as4_smp_dns_status st;
	struct dnsmsg msg;
};

struct http_entry {
	char url[2048];
	long status;
	char file[64]; /* "" = empty body */
	char location[128];
};

static struct {
	pthread_mutex_t mu;
	struct dns_entry dns[8];
	size_t n_dns;
	struct http_entry http[8];
	size_t n_http;
	unsigned dns_calls;
	unsigned http_calls;
	char last_resolve[256];
	as4_err http_fail; /* the back end itself fails with this (AS4_OK = it works) */
} fake = {PTHREAD_MUTEX_INITIALIZER,
          {{"", 0, 0, {{0}, 0, false}}},
          0,
          {{"", 0, "", ""}},
          0,
          0,
          0,
          "",
          AS4_OK};

static void fake_reset(void)
{
	fake.n_dns = 0;
	fake.n_http = 0;
	fake.dns_calls = 0;
	fake.http_calls = 0;
	fake.last_resolve[0] = '\0';
	fake.http_fail = AS4_OK;
}

static struct dns_entry *dns_add(const char *name, uint16_t qtype, enum as4_smp_dns_status st)
{
	assert_true(fake.n_dns < AS4_ARRAY_LEN(fake.dns));
	struct dns_entry *e = &fake.dns[fake.n_dns++];
	memset(e, 0, sizeof(*e));
	assert_int_equal(as4_str_copy(e->name, sizeof(e->name), name), AS4_OK);
	e->qtype = qtype;
	e->st = st;
	return e;
}

/* The participant's NAPTR: one "U" record giving url, TTL ttl. */
static void dns_naptr(const char *name, const char *regexp, uint32_t ttl)
{
	struct dns_entry *e = dns_add(name, 35, AS4_SMP_DNS_ANSWER);
	dm_start(&e->msg, 0x8180, name, 35, 1);
	dm_naptr(&e->msg, NULL, ttl, 100, 10, "U", "Meta:SMP", regexp, ".");
	assert_false(e->msg.overflow);
}

static void http_add(const char *url, long status, const char *file)
{
	assert_true(fake.n_http < AS4_ARRAY_LEN(fake.http));
	struct http_entry *e = &fake.http[fake.n_http++];
	memset(e, 0, sizeof(*e));
	assert_int_equal(as4_str_copy(e->url, sizeof(e->url), url), AS4_OK);
	e->status = status;
	assert_int_equal(as4_str_copy(e->file, sizeof(e->file), file != NULL ? file : ""), AS4_OK);
}

static as4_err fake_dns(void *ctx, const struct as4_smp_dns_request *req, uint8_t *answer,
                        size_t cap, size_t *len, enum as4_smp_dns_status *status,
                        struct as4_diag *d)
{
	(void)ctx;
	(void)d;
	pthread_mutex_lock(&fake.mu);
	fake.dns_calls++;
	*status = AS4_SMP_DNS_NXDOMAIN;
	for (size_t i = 0; i < fake.n_dns; i++) {
		const struct dns_entry *e = &fake.dns[i];
		if (as4_str_ieq(e->name, req->name) && e->qtype == req->qtype) {
			*status = e->st;
			if (e->st == AS4_SMP_DNS_ANSWER && e->msg.len <= cap) {
				memcpy(answer, e->msg.b, e->msg.len);
				*len = e->msg.len;
			}
			break;
		}
	}
	pthread_mutex_unlock(&fake.mu);
	return AS4_OK;
}

static as4_err fake_http(void *ctx, const struct as4_smp_http_request *req,
                         struct as4_smp_http_response *resp, struct as4_diag *d)
{
	(void)ctx;
	pthread_mutex_lock(&fake.mu);
	fake.http_calls++;
	if (req->resolve != NULL &&
	    as4_str_copy(fake.last_resolve, sizeof(fake.last_resolve), req->resolve) != AS4_OK) {
		fake.last_resolve[0] = '\0';
	}
	as4_err fail = fake.http_fail;
	const struct http_entry *hit = NULL;
	for (size_t i = 0; i < fake.n_http; i++) {
		if (strcmp(fake.http[i].url, req->url) == 0) {
			hit = &fake.http[i];
		}
	}
	struct http_entry e;
	if (hit != NULL) {
		e = *hit;
	}
	pthread_mutex_unlock(&fake.mu);
	if (fail != AS4_OK) {
		return as4_diag_set(d, fail, "connection refused (fake)");
	}
	if (hit == NULL) {
		return as4_diag_set(d, AS4_E_SMP_UNAVAILABLE, "no fake answer for %s", req->url);
	}
	resp->status = e.status;
	if (as4_str_copy(resp->location, sizeof(resp->location), "https://elsewhere.test/") !=
	    AS4_OK) {
		return AS4_E_INTERNAL;
	}
	if (e.file[0] != '\0') {
		char p[512];
		path_of(p, sizeof(p), e.file);
		uint8_t *buf = NULL;
		size_t len = 0;
		if (as4_file_read(p, 1 << 22, &buf, &len) != AS4_OK) {
			return as4_diag_set(d, AS4_E_SMP_UNAVAILABLE, "fake body %s missing", p);
		}
		as4_err err = as4_buf_append(&resp->body, buf, len);
		free(buf);
		if (err != AS4_OK) {
			return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE, "larger than %zu bytes",
			                    req->max_body);
		}
	}
	return AS4_OK;
}

/* ---- client and lookups ---------------------------------------------------------------- */

static struct as4_smp_network net_of(enum as4_smp_proto dialect)
{
	struct as4_smp_network n;
	memset(&n, 0, sizeof(n));
	n.name = "unit";
	n.dns_mode = AS4_SMP_DNS_PEPPOL;
	n.zone = ZONE;
	n.dialect = dialect;
	n.smp_ca_files = smp_cas;
	n.n_smp_ca_files = 1;
	n.ap_ca_files = ap_cas;
	n.n_ap_ca_files = 1;
	n.dns = fake_dns;
	n.http = fake_http;
	return n;
}

static struct as4_smp_client *client_of(const struct as4_smp_network *n)
{
	struct as4_smp_client *c = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	if (as4_smp_client_new(n, NULL, &c, &d) != AS4_OK) {
		fail_msg("client: %s", as4_diag_text(&d));
	}
	return c;
}

/* The DNS name and metadata URL of PID/DOC for a dialect; registers the NAPTR record. */
static void standard_dns(enum as4_smp_proto dialect, const char *smp)
{
	struct as4_smp_network n = net_of(dialect);
	struct as4_smp_id pid;
	struct as4_smp_id did;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_smp_id_parse(PID, AS4_SMP_ID_PARTICIPANT, &pid, &d), AS4_OK);
	assert_int_equal(as4_smp_id_parse(DOC, AS4_SMP_ID_DOCUMENT, &did, &d), AS4_OK);
	assert_int_equal(as4_smp_dns_name(&n, &pid, qname, sizeof(qname), &d), AS4_OK);
	char re[300];
	assert_int_equal(as4_str_fmt(re, sizeof(re), "!.*!%s!", smp), AS4_OK);
	dns_naptr(qname, re, 60);
	char *url = NULL;
	assert_int_equal(as4_smp_url(dialect, smp, &pid, &did, &url, &d), AS4_OK);
	assert_int_equal(as4_str_copy(md_url, sizeof(md_url), url), AS4_OK);
	free(url);
}

static bool trace_has(const struct as4_smp_trace *t, enum as4_smp_step step, enum as4_smp_verdict v,
                      const char *text)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->entries[i].step == step && t->entries[i].verdict == v &&
		    (text == NULL || strstr(t->entries[i].text, text) != NULL)) {
			return true;
		}
	}
	return false;
}

/* One lookup; returns the error, fills *r (may stay NULL) and the diagnostic. */
static as4_err lookup(struct as4_smp_client *c, const char *proc, struct as4_smp_result **r,
                      struct as4_smp_trace *t, struct as4_diag *d)
{
	as4_diag_init(d);
	*r = NULL;
	return as4_smp_lookup(c, PID, DOC, proc, r, t, d);
}

/* Expect err with a diagnostic containing text, for a one-off client of net n. */
static void expect(const struct as4_smp_network *n, const char *proc, as4_err want,
                   const char *text)
{
	struct as4_smp_client *c = client_of(n);
	struct as4_smp_result *r = NULL;
	struct as4_diag d;
	struct as4_smp_trace t;
	as4_smp_trace_init(&t);
	as4_err err = lookup(c, proc, &r, &t, &d);
	if (err != want || (text != NULL && strstr(as4_diag_text(&d), text) == NULL)) {
		fail_msg("got %d '%s', want %d with '%s'", err, as4_diag_text(&d), want,
		         text != NULL ? text : "");
	}
	assert_true(err == AS4_OK ? r != NULL : r == NULL);
	/* the outcome is the last step of the trace */
	assert_true(t.n > 0);
	assert_int_equal(t.entries[t.n - 1].step, AS4_SMP_STEP_RESULT);
	as4_smp_result_free(r);
	as4_smp_trace_cleanup(&t);
	as4_smp_client_free(c);
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_peppol_ok_and_cache(void **state)
{
	(void)state;
	fake_reset();
	struct spec s = peppol_spec();
	make("ok", &s, "smp");
	standard_dns(AS4_SMP_PROTO_PEPPOL, SMP);
	http_add(md_url, 200, "ok.xml");
	struct as4_smp_network n = net_of(AS4_SMP_PROTO_PEPPOL);
	struct as4_smp_client *c = client_of(&n);
	struct as4_smp_result *r = NULL;
	struct as4_diag d;
	struct as4_smp_trace t;
	as4_smp_trace_init(&t);
	int64_t before = as4_time_now_ms();
	as4_err err = lookup(c, PROC, &r, &t, &d);
	if (err != AS4_OK) {
		fail_msg("%s", as4_diag_text(&d));
	}
	assert_string_equal(r->endpoint_url, EP_URL);
	assert_string_equal(r->transport_profile, AS4_SMP_TP_PEPPOL_AS4);
	assert_string_equal(r->process.value, PROC_V);
	assert_string_equal(r->participant.value, PID_V);
	assert_non_null(r->cert);
	assert_true(as4_str_starts(r->cert_pem, "-----BEGIN CERTIFICATE-----"));
	assert_non_null(strstr(r->cert_subject, "CN=PDK000001"));
	assert_string_equal(r->metadata_url, md_url);
	assert_string_equal(r->technical_contact, "mailto:ap@test");
	assert_false(r->from_cache);
	assert_int_equal(r->service_expiration_ms, 4070908800000LL);
	/* the NAPTR TTL (60 s) is the earliest expiry */
	assert_true(r->valid_until_ms >= before + 60000 && r->valid_until_ms <= before + 62000);
	static const enum as4_smp_step passed[] = {
	        AS4_SMP_STEP_NAPTR,         AS4_SMP_STEP_HTTP,        AS4_SMP_STEP_SIGNATURE,
	        AS4_SMP_STEP_CHAIN,         AS4_SMP_STEP_IDENTIFIERS, AS4_SMP_STEP_ENDPOINT,
	        AS4_SMP_STEP_ENDPOINT_CERT, AS4_SMP_STEP_RESULT,
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(passed); i++) {
		if (!trace_has(&t, passed[i], AS4_SMP_PASS, NULL)) {
			fail_msg("no passed step %s", as4_smp_step_name(passed[i]));
		}
	}
	assert_true(trace_has(&t, AS4_SMP_STEP_DNS_NAME, AS4_SMP_INFO, qname));
	assert_true(trace_has(&t, AS4_SMP_STEP_SIGNATURE, AS4_SMP_PASS, "rsa-sha256"));
	assert_true(trace_has(&t, AS4_SMP_STEP_CHAIN, AS4_SMP_PASS, "CN=SMP000001"));
	as4_smp_result_free(r);
	as4_smp_trace_cleanup(&t);
	assert_int_equal(fake.dns_calls, 1);
	assert_int_equal(fake.http_calls, 1);
	assert_int_equal(as4_smp_cache_size(c), 1);

	/* served from the cache: no DNS, no HTTP; the participant value compares
	 * case-insensitively in Peppol, so another spelling hits the same entry */
	as4_smp_trace_init(&t);
	as4_diag_init(&d);
	assert_int_equal(
	        as4_smp_lookup(c, "iso6523-actorid-upis::0184:dk12345678", DOC, PROC, &r, &t, &d),
	        AS4_OK);
	assert_true(r->from_cache);
	assert_string_equal(r->endpoint_url, EP_URL);
	assert_non_null(r->cert);
	assert_true(trace_has(&t, AS4_SMP_STEP_CACHE, AS4_SMP_PASS, "hit"));
	as4_smp_result_free(r);
	as4_smp_trace_cleanup(&t);
	assert_int_equal(fake.http_calls, 1);

	/* dropping the entry makes the next lookup go to the network */
	assert_true(as4_smp_drop(c, PID, DOC, PROC));
	assert_false(as4_smp_drop(c, PID, DOC, PROC));
	assert_false(as4_smp_drop(c, "bad", DOC, PROC));
	assert_int_equal(lookup(c, PROC, &r, NULL, &d), AS4_OK);
	assert_false(r->from_cache);
	as4_smp_result_free(r);
	assert_int_equal(fake.http_calls, 2);
	/* a lookup without process is another entry */
	assert_int_equal(lookup(c, NULL, &r, NULL, &d), AS4_OK);
	assert_string_equal(r->endpoint_url, EP_URL);
	as4_smp_result_free(r);
	assert_int_equal(as4_smp_cache_size(c), 2);
	/* a send to the endpoint failed at TLS level: every entry for it goes */
	assert_int_equal(as4_smp_drop_endpoint(c, "https://other.test/"), 0);
	assert_int_equal(as4_smp_drop_endpoint(c, EP_URL), 2);
	assert_int_equal(as4_smp_cache_size(c), 0);
	/* a failure is never cached */
	fake.http_fail = AS4_E_SMP_UNAVAILABLE;
	assert_int_equal(lookup(c, PROC, &r, NULL, &d), AS4_E_SMP_UNAVAILABLE);
	assert_int_equal(as4_smp_cache_size(c), 0);
	as4_smp_client_free(c);

	/* with the cache disabled every lookup goes out */
	fake.http_fail = AS4_OK;
	n.cache_disabled = true;
	c = client_of(&n);
	unsigned calls = fake.http_calls;
	assert_int_equal(lookup(c, PROC, &r, NULL, &d), AS4_OK);
	as4_smp_result_free(r);
	assert_int_equal(lookup(c, PROC, &r, NULL, &d), AS4_OK);
	as4_smp_result_free(r);
	assert_int_equal(fake.http_calls, calls + 2);
	as4_smp_client_free(c);
}

static void test_dns_outcomes(void **state)
{
	(void)state;
	fake_reset();
	struct spec s = peppol_spec();
	make("ok", &s, "smp");
	struct as4_smp_network n = net_of(AS4_SMP_PROTO_PEPPOL);
	standard_dns(AS4_SMP_PROTO_PEPPOL, SMP);
	http_add(md_url, 200, "ok.xml");
	/* NXDOMAIN: not registered (permanent) */
	fake.dns[0].st = AS4_SMP_DNS_NXDOMAIN;
	expect(&n, PROC, AS4_E_SMP_NOT_REGISTERED, "NXDOMAIN");
	/* NODATA: not registered either */
	fake.dns[0].st = AS4_SMP_DNS_NODATA;
	expect(&n, PROC, AS4_E_SMP_NOT_REGISTERED, "NODATA");
	/* SERVFAIL, REFUSED, timeout: retryable, never "not registered" (oxalis#497) */
	fake.dns[0].st = AS4_SMP_DNS_TEMPFAIL;
	unsigned http = fake.http_calls;
	expect(&n, PROC, AS4_E_SMP_UNAVAILABLE, "temporarily");
	assert_int_equal(fake.http_calls, http);
	assert_true(as4_err_retryable(AS4_E_SMP_UNAVAILABLE));
	assert_false(as4_err_retryable(AS4_E_SMP_NOT_REGISTERED));
	/* records, but none with the Meta:SMP service: not registered */
	fake.n_dns = 0;
	struct dns_entry *e = dns_add(qname, 35, AS4_SMP_DNS_ANSWER);
	dm_start(&e->msg, 0x8180, qname, 35, 2);
	dm_naptr(&e->msg, NULL, 60, 1, 1, "U", "https://smp.test/", "!.*!https://smp.test/!", ".");
	dm_naptr(&e->msg, NULL, 60, 1, 2, "S", "Meta:SMP", "", "_x._tcp.example");
	expect(&n, PROC, AS4_E_SMP_NOT_REGISTERED, "no usable U-NAPTR");
	/* "meta:smp" in any case is the same service; order and preference decide */
	fake.n_dns = 0;
	e = dns_add(qname, 35, AS4_SMP_DNS_ANSWER);
	dm_start(&e->msg, 0x8180, qname, 35, 2);
	dm_naptr(&e->msg, NULL, 60, 20, 1, "U", "Meta:SMP", "!.*!https://wrong.test/!", ".");
	dm_naptr(&e->msg, NULL, 60, 10, 1, "u", "meta:smp", "!.*!" SMP "!", ".");
	expect(&n, PROC, AS4_OK, NULL);
	/* an http SMP URL where https is required: bad SML data, not "not registered" */
	fake.n_dns = 0;
	dns_naptr(qname, "!.*!http://smp.test/!", 60);
	expect(&n, PROC, AS4_E_SMP_BAD_RESPONSE, "https");
	/* ... accepted when the network allows http (and then the http URL is fetched) */
	char http_url[2048];
	assert_int_equal(as4_str_fmt(http_url, sizeof(http_url), "http://%s", md_url + 8), AS4_OK);
	http_add(http_url, 200, "ok.xml");
	n.allow_http = true;
	expect(&n, PROC, AS4_OK, NULL);
	n.allow_http = false;
	/* a regexp that does not match the AUS: the record does not apply */
	fake.n_dns = 0;
	dns_naptr(qname, "!^nomatch$!" SMP "!", 60);
	expect(&n, PROC, AS4_E_SMP_NOT_REGISTERED, NULL);
	/* a broken regexp is bad SML data */
	fake.n_dns = 0;
	dns_naptr(qname, "!(!" SMP "!", 60);
	expect(&n, PROC, AS4_E_SMP_BAD_RESPONSE, "ERE");
	/* a non-terminal record leads to another name (RFC 4848) */
	fake.n_dns = 0;
	e = dns_add(qname, 35, AS4_SMP_DNS_ANSWER);
	dm_start(&e->msg, 0x8180, qname, 35, 1);
	dm_naptr(&e->msg, NULL, 60, 1, 1, "", "Meta:SMP", "", "next.sml.test");
	dns_naptr("next.sml.test", "!.*!" SMP "!", 60);
	expect(&n, PROC, AS4_OK, NULL);
	/* ... but not forever */
	fake.n_dns = 0;
	e = dns_add(qname, 35, AS4_SMP_DNS_ANSWER);
	dm_start(&e->msg, 0x8180, qname, 35, 1);
	dm_naptr(&e->msg, NULL, 60, 1, 1, "", "Meta:SMP", "", "loop.sml.test");
	e = dns_add("loop.sml.test", 35, AS4_SMP_DNS_ANSWER);
	dm_start(&e->msg, 0x8180, "loop.sml.test", 35, 1);
	dm_naptr(&e->msg, NULL, 60, 1, 1, "", "Meta:SMP", "", "loop.sml.test");
	expect(&n, PROC, AS4_E_SMP_BAD_RESPONSE, "non-terminal");
	/* a malformed answer is a bad response */
	fake.n_dns = 0;
	e = dns_add(qname, 35, AS4_SMP_DNS_ANSWER);
	dm_start(&e->msg, 0x8180, qname, 35, 1);
	dm_u8(&e->msg, 0xc0);
	expect(&n, PROC, AS4_E_SMP_BAD_RESPONSE, "malformed");
}

static void test_http_outcomes(void **state)
{
	(void)state;
	fake_reset();
	struct spec s = peppol_spec();
	make("ok", &s, "smp");
	s.unsigned_doc = true;
	make("unsigned", &s, "smp");
	write_text("garbage.xml", "this is not XML");
	write_text("doctype.xml",
	           "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>");
	write_text("group.xml",
	           "<ServiceGroup xmlns=\"http://busdox.org/serviceMetadata/publishing/"
	           "1.0/\"/>");
	write_text("oasis.xml", "<SignedServiceMetadata "
	                        "xmlns=\"http://docs.oasis-open.org/bdxr/ns/SMP/2016/05\"/>");
	standard_dns(AS4_SMP_PROTO_PEPPOL, SMP);
	struct as4_smp_network n = net_of(AS4_SMP_PROTO_PEPPOL);
	http_add(md_url, 404, NULL);
	expect(&n, PROC, AS4_E_SMP_NO_SERVICE, "404");
	fake.http[0].status = 500;
	expect(&n, PROC, AS4_E_SMP_UNAVAILABLE, "HTTP 500");
	fake.http[0].status = 503;
	expect(&n, PROC, AS4_E_SMP_UNAVAILABLE, NULL);
	fake.http[0].status = 301;
	expect(&n, PROC, AS4_E_SMP_BAD_RESPONSE, "not followed");
	fake.http[0].status = 403;
	expect(&n, PROC, AS4_E_SMP_BAD_RESPONSE, "403");
	fake.http[0].status = 200;
	assert_int_equal(as4_str_copy(fake.http[0].file, sizeof(fake.http[0].file), "garbage.xml"),
	                 AS4_OK);
	expect(&n, PROC, AS4_E_SMP_BAD_RESPONSE, "XML");
	assert_int_equal(as4_str_copy(fake.http[0].file, sizeof(fake.http[0].file), "doctype.xml"),
	                 AS4_OK);
	expect(&n, PROC, AS4_E_SMP_BAD_RESPONSE, "DOCTYPE");
	assert_int_equal(as4_str_copy(fake.http[0].file, sizeof(fake.http[0].file), "group.xml"),
	                 AS4_OK);
	expect(&n, PROC, AS4_E_SMP_BAD_RESPONSE, "ServiceGroup");
	assert_int_equal(as4_str_copy(fake.http[0].file, sizeof(fake.http[0].file), "oasis.xml"),
	                 AS4_OK);
	expect(&n, PROC, AS4_E_SMP_BAD_RESPONSE, "OASIS SMP 1.0");
	/* an unsigned ServiceMetadata is refused for Peppol */
	assert_int_equal(as4_str_copy(fake.http[0].file, sizeof(fake.http[0].file), "unsigned.xml"),
	                 AS4_OK);
	expect(&n, PROC, AS4_E_SMP_TRUST, "not signed");
	/* the HTTP back end's own classification passes through */
	fake.http_fail = AS4_E_SMP_UNAVAILABLE;
	expect(&n, PROC, AS4_E_SMP_UNAVAILABLE, "connection refused");
	fake.http_fail = AS4_E_SMP_TRUST;
	expect(&n, PROC, AS4_E_SMP_TRUST, NULL);
	fake.http_fail = AS4_OK;
	/* the body cap comes from limits.max_smp_response */
	assert_int_equal(as4_str_copy(fake.http[0].file, sizeof(fake.http[0].file), "ok.xml"),
	                 AS4_OK);
	struct as4_limits lim;
	as4_limits_default(&lim);
	lim.max_smp_response = 512;
	struct as4_smp_client *c = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_smp_client_new(&n, &lim, &c, &d), AS4_OK);
	struct as4_smp_result *r = NULL;
	assert_int_equal(lookup(c, PROC, &r, NULL, &d), AS4_E_SMP_BAD_RESPONSE);
	assert_non_null(strstr(as4_diag_text(&d), "512"));
	as4_smp_client_free(c);
}

static void test_trust(void **state)
{
	(void)state;
	fake_reset();
	struct spec s = peppol_spec();
	make("by-ap", &s, "ap");       /* an access point certificate: same root, wrong CA */
	make("by-rogue", &s, "rogue"); /* the signer's subject, issued by another CA */
	make("sha1", &s, "smp");
	s.sha1 = true;
	make("sha1", &s, "smp");
	s.sha1 = false;
	make("ok", &s, "smp");
	s.eps[0].cert = smp_b64; /* endpoint certificate not from the AP CA */
	make("bad-ep-cert", &s, "smp");
	/* tampered after signing: the endpoint address changed */
	assert_int_equal(sh("sed 's#https://ap.test/as4#https://evil.test/as4#' %s/ok.xml > "
	                    "%s/tampered.xml",
	                    dir, dir),
	                 0);
	standard_dns(AS4_SMP_PROTO_PEPPOL, SMP);
	http_add(md_url, 200, "by-ap.xml");
	struct as4_smp_network n = net_of(AS4_SMP_PROTO_PEPPOL);
	expect(&n, PROC, AS4_E_SMP_TRUST, "not among the configured CA");
	assert_int_equal(as4_str_copy(fake.http[0].file, sizeof(fake.http[0].file), "by-rogue.xml"),
	                 AS4_OK);
	expect(&n, PROC, AS4_E_SMP_TRUST, "SMP signer");
	assert_int_equal(as4_str_copy(fake.http[0].file, sizeof(fake.http[0].file), "tampered.xml"),
	                 AS4_OK);
	expect(&n, PROC, AS4_E_SMP_TRUST, "does not verify");
	assert_int_equal(as4_str_copy(fake.http[0].file, sizeof(fake.http[0].file), "sha1.xml"),
	                 AS4_OK);
	expect(&n, PROC, AS4_E_SMP_TRUST, "rsa-sha1");
	n.allow_sha1 = true;
	expect(&n, PROC, AS4_OK, NULL);
	n.allow_sha1 = false;
	assert_int_equal(
	        as4_str_copy(fake.http[0].file, sizeof(fake.http[0].file), "bad-ep-cert.xml"),
	        AS4_OK);
	expect(&n, PROC, AS4_E_SMP_TRUST, "endpoint certificate");
	/* the signer expires: checked at the verification time */
	assert_int_equal(as4_str_copy(fake.http[0].file, sizeof(fake.http[0].file), "ok.xml"),
	                 AS4_OK);
	n.at_ms = as4_time_now_ms() + 20LL * 365 * 24 * 3600 * 1000;
	expect(&n, PROC, AS4_E_SMP_TRUST, "expired");
	n.at_ms = 0;
	/* the AP CA is not an SMP CA: a network configured with it refuses every signer */
	n.smp_ca_files = ap_cas;
	expect(&n, PROC, AS4_E_SMP_TRUST, "SMP signer");
}

static void test_content(void **state)
{
	(void)state;
	fake_reset();
	standard_dns(AS4_SMP_PROTO_PEPPOL, SMP);
	http_add(md_url, 200, "c.xml");
	struct as4_smp_network n = net_of(AS4_SMP_PROTO_PEPPOL);
	struct spec s = peppol_spec();
	/* an SMP answering for another participant (phase4#351: 200 for everything) */
	s.pid_v = "0184:DK87654321";
	make("c", &s, "smp");
	expect(&n, PROC, AS4_E_SMP_BAD_RESPONSE, "0184:DK87654321");
	/* a document type in another case: Peppol compares case-sensitively (peppol-commons#73) */
	s = peppol_spec();
	s.doc_v = "urn:oasis:names:specification:ubl:schema:xsd:invoice-2::Invoice##x::2.1";
	make("c", &s, "smp");
	expect(&n, PROC, AS4_E_SMP_BAD_RESPONSE, "case-sensitively");
	/* another process only */
	s = peppol_spec();
	s.eps[0].proc = "urn:other:process";
	make("c", &s, "smp");
	expect(&n, PROC, AS4_E_SMP_NO_SERVICE, "urn:other:process");
	/* ... which any-process lookups take */
	expect(&n, NULL, AS4_OK, NULL);
	/* another transport profile only */
	s = peppol_spec();
	s.eps[0].tp = "busdox-transport-as2-ver2p0";
	make("c", &s, "smp");
	expect(&n, PROC, AS4_E_SMP_NO_SERVICE, "transport profile");
	/* expired and not yet active endpoints */
	s = peppol_spec();
	s.eps[0].exp = "2021-01-01T00:00:00Z";
	make("c", &s, "smp");
	expect(&n, PROC, AS4_E_SMP_NO_SERVICE, "expired");
	s.eps[0].act = "2098-01-01T00:00:00";
	s.eps[0].exp = NULL;
	make("c", &s, "smp");
	expect(&n, PROC, AS4_E_SMP_NO_SERVICE, "not yet active");
	/* an expired endpoint next to a valid one: the valid one; its expiration bounds the
	 * cache entry */
	s = peppol_spec();
	s.eps[1] = s.eps[0];
	s.eps[0].exp = "2021-01-01T00:00:00Z";
	s.eps[0].url = "https://old.test/as4";
	s.eps[1].exp = NULL;
	s.n_eps = 2;
	make("c", &s, "smp");
	struct as4_smp_client *c = client_of(&n);
	struct as4_smp_result *r = NULL;
	struct as4_diag d;
	struct as4_smp_trace t;
	as4_smp_trace_init(&t);
	assert_int_equal(lookup(c, PROC, &r, &t, &d), AS4_OK);
	assert_string_equal(r->endpoint_url, EP_URL);
	assert_int_equal(r->service_expiration_ms, 0);
	assert_true(trace_has(&t, AS4_SMP_STEP_ENDPOINT, AS4_SMP_SKIP, "https://old.test/as4"));
	as4_smp_result_free(r);
	as4_smp_trace_cleanup(&t);
	as4_smp_client_free(c);
	/* a ServiceExpirationDate earlier than the TTL bounds valid_until */
	int64_t soon = as4_time_now_ms() + 20000;
	char when[AS4_TIME_TEXT_MAX];
	as4_time_format(soon, when);
	s = peppol_spec();
	s.eps[0].exp = when;
	make("c", &s, "smp");
	c = client_of(&n);
	assert_int_equal(lookup(c, PROC, &r, NULL, &d), AS4_OK);
	assert_int_equal(r->valid_until_ms, soon);
	as4_smp_result_free(r);
	as4_smp_client_free(c);
	/* a bad endpoint address is reported, not used */
	s = peppol_spec();
	s.eps[0].url = "ftp://ap.test/";
	make("c", &s, "smp");
	expect(&n, PROC, AS4_E_SMP_BAD_RESPONSE, "endpoint address");
	/* a certificate that is not one */
	s = peppol_spec();
	s.eps[0].cert = "AAAA";
	make("c", &s, "smp");
	expect(&n, PROC, AS4_E_SMP_BAD_RESPONSE, "certificate");
	/* a DomiSMP-style signature inside an Extension is not the one verified */
	s = peppol_spec();
	s.inner_signature = true;
	make("c", &s, "smp");
	expect(&n, PROC, AS4_OK, NULL);
}

static void test_redirect(void **state)
{
	(void)state;
	fake_reset();
	standard_dns(AS4_SMP_PROTO_PEPPOL, SMP);
	http_add(md_url, 200, "from.xml");
	http_add("https://smp2.test/target", 200, "target.xml");
	struct as4_smp_network n = net_of(AS4_SMP_PROTO_PEPPOL);
	struct spec s = peppol_spec();
	s.redirect = "https://smp2.test/target";
	/* RFC 2253 order, reversed against the certificate: compared as RDN sets */
	s.uid = SMP2_DN;
	make("from", &s, "smp");
	struct spec t2 = peppol_spec();
	t2.eps[0].url = "https://ap2.test/as4";
	make("target", &t2, "smp2");
	struct as4_smp_client *c = client_of(&n);
	struct as4_smp_result *r = NULL;
	struct as4_diag d;
	struct as4_smp_trace t;
	as4_smp_trace_init(&t);
	as4_err err = lookup(c, PROC, &r, &t, &d);
	if (err != AS4_OK) {
		fail_msg("%s", as4_diag_text(&d));
	}
	assert_string_equal(r->endpoint_url, "https://ap2.test/as4");
	assert_string_equal(r->metadata_url, "https://smp2.test/target");
	assert_true(trace_has(&t, AS4_SMP_STEP_REDIRECT, AS4_SMP_PASS, "CN=SMP000002"));
	as4_smp_result_free(r);
	as4_smp_trace_cleanup(&t);
	as4_smp_client_free(c);
	/* the same DN written differently (spaces, case, OpenSSL order) still matches */
	s.uid = "c=DK, o=Test SMP Two,  OU=TEST SMP ,CN=SMP000002";
	make("from", &s, "smp");
	expect(&n, PROC, AS4_OK, NULL);
	/* the target signed by another (trusted) SMP than the one named: refused */
	s.uid = SMP2_DN;
	make("from", &s, "smp");
	make("target", &t2, "smp");
	expect(&n, PROC, AS4_E_SMP_TRUST, "CertificateUID");
	/* a CertificateUID with an extra attribute does not match */
	s.uid = SMP2_DN ",L=Copenhagen";
	make("from", &s, "smp");
	make("target", &t2, "smp2");
	expect(&n, PROC, AS4_E_SMP_TRUST, "CertificateUID");
	/* a second redirect is not followed */
	s.uid = SMP2_DN;
	make("from", &s, "smp");
	struct spec again = peppol_spec();
	again.redirect = md_url;
	again.uid = "CN=SMP000001,OU=TEST SMP,O=Test SMP One,C=DK";
	make("target", &again, "smp2");
	expect(&n, PROC, AS4_E_SMP_BAD_RESPONSE, "only one redirect");
	/* a malformed CertificateUID */
	s.uid = "CN";
	make("from", &s, "smp");
	expect(&n, PROC, AS4_E_SMP_BAD_RESPONSE, "CertificateUID");
	/* an http redirect target where https is required */
	s.uid = SMP2_DN;
	s.redirect = "http://smp2.test/target";
	make("from", &s, "smp");
	expect(&n, PROC, AS4_E_SMP_BAD_RESPONSE, "https");
}

static void test_oasis(void **state)
{
	(void)state;
	/* OASIS SMP 1.0 */
	fake_reset();
	standard_dns(AS4_SMP_PROTO_OASIS1, SMP);
	http_add(md_url, 200, "o1.xml");
	struct as4_smp_network n = net_of(AS4_SMP_PROTO_OASIS1);
	struct spec s = peppol_spec();
	s.dialect = AS4_SMP_PROTO_OASIS1;
	s.eps[0].tp = AS4_SMP_TP_BDXR_AS4;
	/* OASIS SMP 1.0 compares document identifiers case-insensitively */
	s.doc_v = "URN:OASIS:names:specification:ubl:schema:xsd:Invoice-2::Invoice##x::2.1";
	make("o1", &s, "smp");
	expect(&n, PROC, AS4_OK, NULL);
	/* the Peppol profile is not what an OASIS network selects */
	n.transport_profile = AS4_SMP_TP_PEPPOL_AS4;
	expect(&n, PROC, AS4_E_SMP_NO_SERVICE, AS4_SMP_TP_PEPPOL_AS4);

	/* OASIS SMP 2.0: bdxr-smp-2/ URLs, ProcessMetadata, xs:date expiration (end of day) */
	fake_reset();
	standard_dns(AS4_SMP_PROTO_OASIS2, "https://smp.test/root");
	assert_non_null(strstr(md_url, "/root/bdxr-smp-2/"));
	http_add(md_url, 200, "o2.xml");
	n = net_of(AS4_SMP_PROTO_OASIS2);
	s.dialect = AS4_SMP_PROTO_OASIS2;
	s.doc_v = DOC_V;
	s.eps[0].exp = "2099-12-31";
	make("o2", &s, "smp");
	struct as4_smp_client *c = client_of(&n);
	struct as4_smp_result *r = NULL;
	struct as4_diag d;
	as4_err err = lookup(c, PROC, &r, NULL, &d);
	if (err != AS4_OK) {
		fail_msg("%s", as4_diag_text(&d));
	}
	assert_string_equal(r->endpoint_url, EP_URL);
	assert_string_equal(r->transport_profile, AS4_SMP_TP_BDXR_AS4);
	assert_int_equal(r->service_expiration_ms, 4102444800000LL - 1);
	as4_smp_result_free(r);
	as4_smp_client_free(c);
	/* unsigned SMP 2.0 metadata: refused unless the network allows it */
	s.unsigned_doc = true;
	make("o2", &s, "smp");
	expect(&n, PROC, AS4_E_SMP_TRUST, "not signed");
	n.allow_unsigned = true;
	expect(&n, PROC, AS4_OK, NULL);
	n.allow_unsigned = false;
	s.unsigned_doc = false;
	/* SMP 2.0 redirect: PublisherURI + the certificate the target must be signed with */
	s.redirect = "https://smp2.test/";
	s.eps[0].cert = NULL;
	char smp2_b64[8192];
	pem_b64("smp2.pem", smp2_b64, sizeof(smp2_b64));
	s.eps[0].cert = smp2_b64;
	make("o2", &s, "smp");
	struct spec t2 = peppol_spec();
	t2.dialect = AS4_SMP_PROTO_OASIS2;
	t2.eps[0].tp = AS4_SMP_TP_BDXR_AS4;
	t2.eps[0].url = "https://ap2.test/as4";
	t2.eps[0].exp = "2099-12-31";
	make("o2t", &t2, "smp2");
	struct as4_smp_id pid;
	struct as4_smp_id did;
	as4_diag_init(&d);
	assert_int_equal(as4_smp_id_parse(PID, AS4_SMP_ID_PARTICIPANT, &pid, &d), AS4_OK);
	assert_int_equal(as4_smp_id_parse(DOC, AS4_SMP_ID_DOCUMENT, &did, &d), AS4_OK);
	char *url2 = NULL;
	assert_int_equal(
	        as4_smp_url(AS4_SMP_PROTO_OASIS2, "https://smp2.test/", &pid, &did, &url2, &d),
	        AS4_OK);
	http_add(url2, 200, "o2t.xml");
	free(url2);
	c = client_of(&n);
	err = lookup(c, PROC, &r, NULL, &d);
	if (err != AS4_OK) {
		fail_msg("%s", as4_diag_text(&d));
	}
	assert_string_equal(r->endpoint_url, "https://ap2.test/as4");
	as4_smp_result_free(r);
	as4_smp_client_free(c);
	/* the target signed with a certificate the redirect did not list */
	make("o2t", &t2, "smp");
	expect(&n, PROC, AS4_E_SMP_TRUST, "redirect");
}

static void test_static_and_legacy(void **state)
{
	(void)state;
	fake_reset();
	struct spec s = peppol_spec();
	make("ok", &s, "smp");
	standard_dns(AS4_SMP_PROTO_PEPPOL, SMP);
	http_add(md_url, 200, "ok.xml");
	/* static SMP: no DNS at all */
	struct as4_smp_network n = net_of(AS4_SMP_PROTO_PEPPOL);
	n.dns_mode = AS4_SMP_DNS_NONE;
	n.smp_url = "https://smp.test";
	expect(&n, PROC, AS4_OK, NULL);
	assert_int_equal(fake.dns_calls, 0);
	/* legacy Peppol: B-md5 host, http, A record pinned for curl when a DNS server is set */
	fake_reset();
	n = net_of(AS4_SMP_PROTO_PEPPOL);
	n.dns_mode = AS4_SMP_DNS_PEPPOL_LEGACY;
	n.allow_http = true;
	n.dns_server = "127.0.0.1:5353";
	struct as4_smp_id pid;
	struct as4_smp_id did;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_smp_id_parse(PID, AS4_SMP_ID_PARTICIPANT, &pid, &d), AS4_OK);
	assert_int_equal(as4_smp_id_parse(DOC, AS4_SMP_ID_DOCUMENT, &did, &d), AS4_OK);
	char host[AS4_SMP_DNS_NAME_MAX + 1];
	assert_int_equal(as4_smp_dns_name(&n, &pid, host, sizeof(host), &d), AS4_OK);
	assert_true(as4_str_starts(host, "B-"));
	static const uint8_t ip[4] = {127, 0, 0, 7};
	struct dns_entry *e = dns_add(host, 1, AS4_SMP_DNS_ANSWER);
	dm_start(&e->msg, 0x8180, host, 1, 1);
	dm_a(&e->msg, NULL, 300, ip);
	char base[300];
	assert_int_equal(as4_str_fmt(base, sizeof(base), "http://%s/", host), AS4_OK);
	char *url = NULL;
	assert_int_equal(as4_smp_url(AS4_SMP_PROTO_PEPPOL, base, &pid, &did, &url, &d), AS4_OK);
	http_add(url, 200, "ok.xml");
	free(url);
	expect(&n, PROC, AS4_OK, NULL);
	char pin[300];
	assert_int_equal(as4_str_fmt(pin, sizeof(pin), "%s:80:127.0.0.7", host), AS4_OK);
	assert_string_equal(fake.last_resolve, pin);
	fake.dns[0].st = AS4_SMP_DNS_NXDOMAIN;
	expect(&n, PROC, AS4_E_SMP_NOT_REGISTERED, "NXDOMAIN");
}

static void test_client_config(void **state)
{
	(void)state;
	struct as4_smp_network n = net_of(AS4_SMP_PROTO_PEPPOL);
	struct as4_smp_client *c = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	n.n_smp_ca_files = 0;
	assert_int_equal(as4_smp_client_new(&n, NULL, &c, &d), AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "SMP CA"));
	assert_null(c);
	n = net_of(AS4_SMP_PROTO_PEPPOL);
	static const char *const missing[] = {"/nonexistent/ca.pem"};
	n.ap_ca_files = missing;
	as4_diag_init(&d);
	assert_int_equal(as4_smp_client_new(&n, NULL, &c, &d), AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "/nonexistent/ca.pem"));
	n = net_of(AS4_SMP_PROTO_PEPPOL);
	char notcert[512];
	path_of(notcert, sizeof(notcert), "ok.tmpl");
	const char *nc[] = {notcert};
	n.smp_ca_files = nc;
	as4_diag_init(&d);
	assert_int_equal(as4_smp_client_new(&n, NULL, &c, &d), AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "no PEM or DER"));
	n = net_of(AS4_SMP_PROTO_PEPPOL);
	n.zone = "not a zone";
	as4_diag_init(&d);
	assert_int_equal(as4_smp_client_new(&n, NULL, &c, &d), AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "zone"));
	n = net_of(AS4_SMP_PROTO_PEPPOL);
	n.dns_mode = AS4_SMP_DNS_NONE;
	as4_diag_init(&d);
	assert_int_equal(as4_smp_client_new(&n, NULL, &c, &d), AS4_E_CONFIG);
	n.smp_url = "http://smp.test/";
	as4_diag_init(&d);
	assert_int_equal(as4_smp_client_new(&n, NULL, &c, &d), AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "https"));
	n = net_of(AS4_SMP_PROTO_PEPPOL);
	n.dns_mode = AS4_SMP_DNS_PEPPOL_LEGACY;
	as4_diag_init(&d);
	assert_int_equal(as4_smp_client_new(&n, NULL, &c, &d), AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "allow_http"));
	/* the libresolv back end takes an IPv4 server with an optional port */
	n = net_of(AS4_SMP_PROTO_PEPPOL);
	n.dns = NULL;
	n.dns_server = "localhost:53";
	as4_diag_init(&d);
	assert_int_equal(as4_smp_client_new(&n, NULL, &c, &d), AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "IPv4"));
	n.dns_server = "127.0.0.1:5353";
	c = client_of(&n);
	as4_smp_client_free(c);
	c = NULL;
	/* a bad identifier is the caller's error */
	n = net_of(AS4_SMP_PROTO_PEPPOL);
	c = client_of(&n);
	struct as4_smp_result *r = NULL;
	as4_diag_init(&d);
	assert_int_equal(as4_smp_lookup(c, "iso6523-actorid-upis::0088:5798000000002", DOC, NULL,
	                                &r, NULL, &d),
	                 AS4_E_GLN);
	as4_diag_init(&d);
	assert_int_equal(as4_smp_lookup(c, PID, "nodoc", NULL, &r, NULL, &d), AS4_E_INVAL);
	as4_smp_client_free(c);
}

struct worker {
	struct as4_smp_client *c;
	int ok;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 40; i++) {
		struct as4_smp_result *r = NULL;
		struct as4_diag d;
		as4_diag_init(&d);
		if (as4_smp_lookup(w->c, PID, DOC, (i % 2) ? PROC : NULL, &r, NULL, &d) == AS4_OK &&
		    strcmp(r->endpoint_url, EP_URL) == 0) {
			w->ok++;
		}
		as4_smp_result_free(r);
		if (i % 7 == 0) {
			(void)as4_smp_drop_endpoint(w->c, EP_URL);
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	fake_reset();
	struct spec s = peppol_spec();
	make("ok", &s, "smp");
	standard_dns(AS4_SMP_PROTO_PEPPOL, SMP);
	http_add(md_url, 200, "ok.xml");
	struct as4_smp_network n = net_of(AS4_SMP_PROTO_PEPPOL);
	n.cache_max_entries = 1;
	struct as4_smp_client *c = client_of(&n);
	pthread_t th[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){c, 0};
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].ok, 40);
	}
	/* the cap holds, and the table is still consistent: a lookup fills it, the next hits */
	assert_true(as4_smp_cache_size(c) <= 1);
	assert_true(fake.http_calls <= 160);
	struct as4_smp_result *r = NULL;
	struct as4_diag d;
	assert_int_equal(lookup(c, PROC, &r, NULL, &d), AS4_OK);
	as4_smp_result_free(r);
	assert_int_equal(lookup(c, PROC, &r, NULL, &d), AS4_OK);
	assert_true(r->from_cache);
	as4_smp_result_free(r);
	assert_int_equal(as4_smp_cache_size(c), 1);
	as4_smp_client_free(c);
}

static int setup(void **state)
{
	(void)state;
	const char *tmp = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	if (snprintf(dir, sizeof(dir), "%s/as4-smp-XXXXXX", tmp) >= (int)sizeof(dir) ||
	    mkdtemp(dir) == NULL) {
		return -1;
	}
	if (sh("sh %s/smp/mkpki.sh %s", AS4_TEST_DATA, dir) != 0) {
		return -1;
	}
	path_of(smp_ca, sizeof(smp_ca), "smp-ca.pem");
	path_of(ap_ca, sizeof(ap_ca), "ap-ca.pem");
	pem_b64("ap.pem", ap_b64, sizeof(ap_b64));
	pem_b64("smp.pem", smp_b64, sizeof(smp_b64));
	as4_xml_global_init();
	return as4_smp_global_init(true) == AS4_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	as4_smp_global_cleanup(true);
	as4_xml_global_cleanup();
	return sh("rm -rf '%s'", dir) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_peppol_ok_and_cache),
	        cmocka_unit_test(test_dns_outcomes),
	        cmocka_unit_test(test_http_outcomes),
	        cmocka_unit_test(test_trust),
	        cmocka_unit_test(test_content),
	        cmocka_unit_test(test_redirect),
	        cmocka_unit_test(test_oasis),
	        cmocka_unit_test(test_static_and_legacy),
	        cmocka_unit_test(test_client_config),
	        cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
