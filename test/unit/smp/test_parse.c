/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SMP documents: the real responses of ../shared/smp-fixtures checked offline at pinned times
 * (every signer there has expired), the typed extraction, malformed documents, distinguished
 * names (CertificateUID), and the cache on its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../smp-client/smp_int.h"
#include "as4/blob.h"
#include "as4/smp.h"
#include "as4/str.h"
#include "as4/time.h"
#include "as4/xml.h"

#define FIX     AS4_SHARED_DIR "/smp-fixtures/"
#define BUSDOX  FIX "busdox-servicemetadata-0192-991825827.xml"
#define GROUP   FIX "busdox-servicegroup-0192-991825827.xml"
#define SMP2    FIX "signed_result.xml"
#define G2_SMP  FIX "trust/peppol-g2-prod/Peppol_ServiceMetadataPublisher_CA.cer"
#define G2_ROOT FIX "trust/peppol-g2-prod/Peppol_Root_CA.cer"
#define G3_SMP  FIX "trust/peppol-g3/PEPPOL_SERVICE_METADATA_PUBLISHER_CA-G3.pem"
#define G3_ROOT FIX "trust/peppol-g3/PEPPOL_Root_CA-G3.pem"

static uint8_t *load(const char *path, size_t *len)
{
	uint8_t *out = NULL;
	if (as4_file_read(path, 1 << 20, &out, len) != AS4_OK || out == NULL) {
		fail_msg("cannot read %s", path);
	}
	return out;
}

static int64_t at(const char *when)
{
	int64_t ms = 0;
	assert_int_equal(as4_time_parse(when, &ms), AS4_OK);
	return ms;
}

static bool has(const struct as4_smp_trace *t, enum as4_smp_step step, enum as4_smp_verdict v,
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

static size_t count(const struct as4_smp_trace *t, enum as4_smp_step step, enum as4_smp_verdict v)
{
	size_t n = 0;
	for (size_t i = 0; i < t->n; i++) {
		n += t->entries[i].step == step && t->entries[i].verdict == v;
	}
	return n;
}

/* Inspect buf with the given trust files; returns the error, keeps the trace. */
static as4_err inspect(const uint8_t *buf, size_t len, const char *const *trust, size_t n,
                       int64_t when, bool sha1, bool sig_only, struct as4_smp_trace *t,
                       struct as4_diag *d)
{
	struct as4_smp_inspect_params p = {0};
	p.trust_files = trust;
	p.n_trust_files = n;
	p.at_ms = when;
	p.allow_sha1 = sha1;
	p.signature_only = sig_only;
	as4_smp_trace_cleanup(t);
	as4_smp_trace_init(t);
	as4_diag_init(d);
	return as4_smp_inspect(buf, len, &p, t, d);
}

/* Peppol SMP 1.x, signed 2020 with rsa-sha1 by PNO000179 under the G2 SMP CA. */
static void test_fixture_busdox(void **state)
{
	(void)state;
	size_t len = 0;
	uint8_t *buf = load(BUSDOX, &len);
	struct as4_smp_trace t;
	struct as4_diag d;
	as4_smp_trace_init(&t);
	const char *g2[] = {G2_SMP, G2_ROOT};
	const char *g3[] = {G3_SMP, G3_ROOT};
	const char *g2root[] = {G2_ROOT};
	int64_t in_2021 = at("2021-06-01T00:00:00Z");
	/* valid at a time the signer was valid, with the legacy SHA-1 switch */
	assert_int_equal(inspect(buf, len, g2, 2, in_2021, true, false, &t, &d), AS4_OK);
	assert_true(has(&t, AS4_SMP_STEP_DOCUMENT, AS4_SMP_INFO, "Peppol SMP 1.x"));
	assert_true(has(&t, AS4_SMP_STEP_SIGNATURE, AS4_SMP_PASS, "rsa-sha1"));
	assert_true(has(&t, AS4_SMP_STEP_CHAIN, AS4_SMP_PASS, "CN=PNO000179"));
	assert_true(has(&t, AS4_SMP_STEP_IDENTIFIERS, AS4_SMP_INFO, "0192:991825827"));
	assert_int_equal(count(&t, AS4_SMP_STEP_ENDPOINT, AS4_SMP_PASS), 3);
	assert_true(has(&t, AS4_SMP_STEP_ENDPOINT, AS4_SMP_PASS,
	                "peppol-transport-as4-v2_0 https://ectrade.ec.evry.com/peppol/as4"));
	/* the same with only the SMP intermediate (the root is not needed) */
	assert_int_equal(inspect(buf, len, g2, 1, in_2021, true, false, &t, &d), AS4_OK);
	/* SHA-1 is refused without the switch (Peppol SMP 1.3.0) */
	assert_int_equal(inspect(buf, len, g2, 2, in_2021, false, false, &t, &d), AS4_E_SMP_TRUST);
	assert_non_null(strstr(as4_diag_text(&d), "rsa-sha1"));
	/* after the signer expired (2022-10-22) */
	assert_int_equal(inspect(buf, len, g2, 2, at("2023-01-01T00:00:00Z"), true, false, &t, &d),
	                 AS4_E_SMP_TRUST);
	assert_non_null(strstr(as4_diag_text(&d), "expired"));
	/* the endpoints expired on 2022-07-21, the signer was still valid: listed, not active */
	assert_int_equal(inspect(buf, len, g2, 2, at("2022-08-01T00:00:00Z"), true, false, &t, &d),
	                 AS4_OK);
	assert_int_equal(count(&t, AS4_SMP_STEP_ENDPOINT, AS4_SMP_SKIP), 3);
	/* production G2 response against G3 anchors, and against the G2 root alone: refused */
	assert_int_equal(inspect(buf, len, g3, 2, in_2021, true, false, &t, &d), AS4_E_SMP_TRUST);
	assert_non_null(strstr(as4_diag_text(&d), "not among the configured CA"));
	assert_int_equal(inspect(buf, len, g2root, 1, in_2021, true, false, &t, &d),
	                 AS4_E_SMP_TRUST);
	/* signature only: no chain */
	assert_int_equal(inspect(buf, len, NULL, 0, in_2021, true, true, &t, &d), AS4_OK);
	assert_true(has(&t, AS4_SMP_STEP_CHAIN, AS4_SMP_SKIP, NULL));
	/* no trust and no --signature-only is a usage error */
	assert_int_equal(inspect(buf, len, NULL, 0, in_2021, true, false, &t, &d), AS4_E_INVAL);
	/* one changed byte in the signed content */
	size_t off = strcspn((const char *)buf, "\x01"); /* the whole text */
	static const char needle[] = "https://ectrade.ec.evry.com/peppol/as4";
	for (size_t i = 0; i + sizeof(needle) - 1 <= off; i++) {
		if (memcmp(buf + i, needle, sizeof(needle) - 1) == 0) {
			off = i + 8;
			break;
		}
	}
	assert_true(off < len && buf[off] == 'e');
	buf[off] = 'E';
	assert_int_equal(inspect(buf, len, g2, 2, in_2021, true, false, &t, &d), AS4_E_SMP_TRUST);
	assert_non_null(strstr(as4_diag_text(&d), "does not verify"));
	buf[off] = 'e';
	/* an unreadable trust file */
	const char *missing[] = {"/nonexistent.pem"};
	assert_int_equal(inspect(buf, len, missing, 1, in_2021, true, false, &t, &d), AS4_E_CONFIG);
	as4_smp_trace_cleanup(&t);
	free(buf);
}

/* The typed content of the same document, and its signer against its X509SubjectName. */
static void test_fixture_extract(void **state)
{
	(void)state;
	size_t len = 0;
	uint8_t *buf = load(BUSDOX, &len);
	xmlDoc *dom = NULL;
	enum as4_smp_proto dialect;
	enum as4_smp_doc_kind kind;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_smp_parse(buf, len, NULL, &dom, &dialect, &kind, &d), AS4_OK);
	assert_int_equal(dialect, AS4_SMP_PROTO_PEPPOL);
	assert_int_equal(kind, AS4_SMP_DOC_METADATA);
	struct as4_smp_verify_opts vo = {NULL, 0, true, true};
	X509 *signer = NULL;
	assert_int_equal(as4_smp_verify(dom, dialect, &vo, &signer, NULL, &d), AS4_OK);
	assert_non_null(signer);
	struct as4_smp_doc *doc = NULL;
	assert_int_equal(as4_smp_extract(dom, dialect, kind, &doc, &d), AS4_OK);
	assert_string_equal(doc->participant.scheme, "iso6523-actorid-upis");
	assert_string_equal(doc->participant.value, "0192:991825827");
	assert_string_equal(doc->document.scheme, "busdox-docid-qns");
	assert_true(as4_str_starts(doc->document.value,
	                           "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2::"));
	assert_int_equal(doc->n_pms, 1);
	assert_int_equal(doc->pms[0].n_procs, 1);
	assert_string_equal(doc->pms[0].procs[0].value,
	                    "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0");
	assert_int_equal(doc->pms[0].n_eps, 3);
	const struct as4_smp_ep *ep = &doc->pms[0].eps[2];
	assert_string_equal(ep->transport_profile, "peppol-transport-as4-v2_0");
	assert_string_equal(ep->address, "https://ectrade.ec.evry.com/peppol/as4");
	assert_int_equal(ep->activation_ms, at("2020-07-31T00:00:00.000Z"));
	assert_int_equal(ep->expiration_ms, at("2022-07-21T23:59:59.000Z"));
	assert_false(ep->require_business_signature);
	assert_string_equal(ep->description, "EVRY AS");
	assert_int_equal(ep->n_certs, 1);
	X509 *x = as4_smp_cert_decode(ep->certs[0].der, ep->certs[0].len);
	assert_non_null(x);
	char subject[256];
	as4_smp_cert_subject(x, subject, sizeof(subject));
	assert_string_equal(subject, "C=NO,O=TietoEVRY,OU=PEPPOL PRODUCTION AP,CN=PNO000051");
	assert_int_equal(as4_smp_cert_not_after(x), at("2022-07-21T23:59:59Z"));
	X509_free(x);
	/* the RFC 2253 subject of the real redirect pair form matches the verified signer as a
	 * set, whatever the order (SMP-NOTES §2.4) */
	struct as4_arena *a = as4_arena_new(0);
	struct as4_smp_ava *avas = NULL;
	size_t n = 0;
	assert_int_equal(as4_smp_dn_parse("C=NO,O=Direktoratet for Forvaltning og IKT,"
	                                  "OU=PEPPOL PRODUCTION SMP,CN=PNO000179",
	                                  a, &avas, &n, &d),
	                 AS4_OK);
	assert_int_equal(n, 4);
	assert_true(as4_smp_dn_matches(signer, avas, n));
	assert_int_equal(as4_smp_dn_parse("CN=PNO000179, OU=PEPPOL PRODUCTION SMP, O=Direktoratet "
	                                  "for Forvaltning og IKT, C=no",
	                                  a, &avas, &n, &d),
	                 AS4_OK);
	assert_true(as4_smp_dn_matches(signer, avas, n));
	assert_int_equal(as4_smp_dn_parse("2.5.4.6=NO,O=Direktoratet for Forvaltning og IKT,"
	                                  "OU=PEPPOL PRODUCTION SMP,CN=PNO000179",
	                                  a, &avas, &n, &d),
	                 AS4_OK);
	assert_true(as4_smp_dn_matches(signer, avas, n));
	assert_int_equal(as4_smp_dn_parse("C=NO,O=Direktoratet for Forvaltning og IKT,"
	                                  "OU=PEPPOL TEST SMP,CN=PNO000179",
	                                  a, &avas, &n, &d),
	                 AS4_OK);
	assert_false(as4_smp_dn_matches(signer, avas, n));
	assert_int_equal(as4_smp_dn_parse("O=Direktoratet for Forvaltning og IKT,"
	                                  "OU=PEPPOL PRODUCTION SMP,CN=PNO000179",
	                                  a, &avas, &n, &d),
	                 AS4_OK);
	assert_false(as4_smp_dn_matches(signer, avas, n));
	assert_int_equal(as4_smp_dn_parse("C=NO,C=NO,O=Direktoratet for Forvaltning og IKT,"
	                                  "CN=PNO000179",
	                                  a, &avas, &n, &d),
	                 AS4_OK);
	assert_false(as4_smp_dn_matches(signer, avas, n));
	assert_int_equal(as4_smp_dn_parse("XX=NO,O=Direktoratet for Forvaltning og IKT,"
	                                  "OU=PEPPOL PRODUCTION SMP,CN=PNO000179",
	                                  a, &avas, &n, &d),
	                 AS4_OK);
	assert_false(as4_smp_dn_matches(signer, avas, n));
	as4_arena_free(a);
	X509_free(signer);
	as4_smp_doc_free(doc);
	xmlFreeDoc(dom);
	free(buf);
}

static void test_fixture_group_and_smp2(void **state)
{
	(void)state;
	size_t len = 0;
	uint8_t *buf = load(GROUP, &len);
	struct as4_smp_trace t;
	struct as4_diag d;
	as4_smp_trace_init(&t);
	const char *g3[] = {G3_SMP};
	/* a Peppol ServiceGroup is unsigned by definition */
	assert_int_equal(inspect(buf, len, g3, 1, 0, false, false, &t, &d), AS4_OK);
	assert_true(has(&t, AS4_SMP_STEP_SIGNATURE, AS4_SMP_INFO, "not signed"));
	assert_true(has(&t, AS4_SMP_STEP_IDENTIFIERS, AS4_SMP_INFO, "9 service reference"));
	assert_true(has(&t, AS4_SMP_STEP_DOCUMENT, AS4_SMP_INFO,
	                "https://smp.difi.no/iso6523-actorid-upis%3A%3A0192%3A991825827/services/"
	                "busdox-docid-qns%3A%3Aurn%3Ano%3Adifi%3Aeinnsyn%3Axsd%3A%3Ainnsynskrav"));
	free(buf);
	/* the SMP 2.0 sample: a valid exc-c14n signature by a Holodeck test certificate over a
	 * template that is not a usable document (SMPVersionID0, no endpoints) */
	buf = load(SMP2, &len);
	assert_int_equal(
	        inspect(buf, len, NULL, 0, at("2020-01-01T00:00:00Z"), false, true, &t, &d),
	        AS4_E_SMP_BAD_RESPONSE);
	assert_true(has(&t, AS4_SMP_STEP_DOCUMENT, AS4_SMP_INFO, "OASIS SMP 2.0 ServiceMetadata"));
	assert_true(has(&t, AS4_SMP_STEP_SIGNATURE, AS4_SMP_PASS, "exc-c14n, rsa-sha256"));
	assert_non_null(strstr(as4_diag_text(&d), "SMPVersionID"));
	/* its signer is no Peppol SMP */
	assert_int_equal(inspect(buf, len, g3, 1, at("2020-01-01T00:00:00Z"), false, false, &t, &d),
	                 AS4_E_SMP_TRUST);
	as4_smp_trace_cleanup(&t);
	free(buf);
}

/* Parse and extract a document given as text (no signature check). */
static as4_err extract(const char *xml, struct as4_diag *d)
{
	xmlDoc *dom = NULL;
	enum as4_smp_proto dialect;
	enum as4_smp_doc_kind kind;
	struct as4_smp_doc *doc = NULL;
	as4_diag_init(d);
	as4_err err =
	        as4_smp_parse((const uint8_t *)xml, strlen(xml), NULL, &dom, &dialect, &kind, d);
	if (err == AS4_OK) {
		err = as4_smp_extract(dom, dialect, kind, &doc, d);
	}
	as4_smp_doc_free(doc);
	xmlFreeDoc(dom);
	return err;
}

#define P_OPEN                                                                                     \
	"<m:SignedServiceMetadata xmlns:m=\"http://busdox.org/serviceMetadata/publishing/1.0/\" "  \
	"xmlns:i=\"http://busdox.org/transport/identifiers/1.0/\" "                                \
	"xmlns:w=\"http://www.w3.org/2005/08/addressing\"><m:ServiceMetadata>"
#define P_CLOSE "</m:ServiceMetadata></m:SignedServiceMetadata>"
#define P_IDS                                                                                      \
	"<i:ParticipantIdentifier "                                                                \
	"scheme=\"iso6523-actorid-upis\">0184:x</i:ParticipantIdentifier>"                         \
	"<i:DocumentIdentifier scheme=\"busdox-docid-qns\">d</i:DocumentIdentifier>"
#define P_EP_OPEN                                                                                  \
	"<m:ProcessList><m:Process><i:ProcessIdentifier scheme=\"s\">p</i:ProcessIdentifier>"      \
	"<m:ServiceEndpointList><m:Endpoint transportProfile=\"t\">"
#define P_EP_CLOSE "</m:Endpoint></m:ServiceEndpointList></m:Process></m:ProcessList>"
#define P_ADDR     "<w:EndpointReference><w:Address>https://a/</w:Address></w:EndpointReference>"

static void test_malformed(void **state)
{
	(void)state;
	struct as4_diag d;
	static const struct {
		const char *xml;
		const char *why;
	} bad[] = {
	        {P_OPEN "<m:ServiceInformation>" P_IDS P_IDS "</m:ServiceInformation>" P_CLOSE,
	         "at most one"},
	        {P_OPEN "<m:ServiceInformation>" P_IDS "</m:ServiceInformation>" P_CLOSE,
	         "no ProcessList"},
	        {P_OPEN "<m:ServiceInformation>" P_IDS
	                "<m:ProcessList/></m:ServiceInformation>" P_CLOSE,
	         "no Process"},
	        {P_OPEN "<m:ServiceInformation>" P_IDS P_EP_OPEN
	                "<m:Certificate>AAAA</m:Certificate>" P_EP_CLOSE
	                "</m:ServiceInformation>" P_CLOSE,
	         "EndpointReference"},
	        {P_OPEN "<m:ServiceInformation>" P_IDS P_EP_OPEN P_ADDR
	                "<m:Certificate>!!</m:Certificate>" P_EP_CLOSE
	                "</m:ServiceInformation>" P_CLOSE,
	         "base64"},
	        {P_OPEN "<m:ServiceInformation>" P_IDS P_EP_OPEN P_ADDR
	                "<m:ServiceExpirationDate>tomorrow</m:ServiceExpirationDate>"
	                "<m:Certificate>AAAA</m:Certificate>" P_EP_CLOSE
	                "</m:ServiceInformation>" P_CLOSE,
	         "xs:dateTime"},
	        {P_OPEN "<m:ServiceInformation>" P_IDS P_EP_OPEN P_ADDR
	                "<m:RequireBusinessLevelSignature>yes</m:RequireBusinessLevelSignature>"
	                "<m:Certificate>AAAA</m:Certificate>" P_EP_CLOSE
	                "</m:ServiceInformation>" P_CLOSE,
	         "xs:boolean"},
	        {P_OPEN "<m:ServiceInformation>" P_IDS "</m:ServiceInformation><m:Redirect "
	                "href=\"https://x/\"><m:CertificateUID>CN=x</m:CertificateUID></"
	                "m:Redirect>" P_CLOSE,
	         "either"},
	        {P_OPEN "<m:Redirect href=\"https://x/\"/>" P_CLOSE, "CertificateUID"},
	        {P_OPEN "<m:ServiceInformation><i:ParticipantIdentifier scheme=\"s\"><x/>"
	                "</i:ParticipantIdentifier></m:ServiceInformation>" P_CLOSE,
	         "text"},
	        {"<ServiceMetadata "
	         "xmlns=\"http://docs.oasis-open.org/bdxr/ns/SMP/2/ServiceMetadata\" "
	         "xmlns:b=\"http://docs.oasis-open.org/bdxr/ns/SMP/2/BasicComponents\" "
	         "xmlns:a=\"http://docs.oasis-open.org/bdxr/ns/SMP/2/AggregateComponents\">"
	         "<b:SMPVersionID>2.0</b:SMPVersionID><b:ID>d</b:ID><b:ParticipantID>p"
	         "</b:ParticipantID><a:ProcessMetadata/></ServiceMetadata>",
	         "either Endpoint"},
	        {"<ServiceMetadata "
	         "xmlns=\"http://docs.oasis-open.org/bdxr/ns/SMP/2/ServiceMetadata\" "
	         "xmlns:b=\"http://docs.oasis-open.org/bdxr/ns/SMP/2/BasicComponents\">"
	         "<b:SMPVersionID>2.0</b:SMPVersionID><b:ID>d</b:ID><b:ParticipantID>p"
	         "</b:ParticipantID></ServiceMetadata>",
	         "no ProcessMetadata"},
	        {"<x:ServiceMetadata xmlns:x=\"urn:other\"/>", "not an SMP document"},
	        {"<ServiceGroup xmlns=\"http://busdox.org/serviceMetadata/publishing/1.0/\"/>",
	         "ParticipantIdentifier"},
	        {"", "XML"},
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(bad); i++) {
		as4_err err = extract(bad[i].xml, &d);
		if (err != AS4_E_SMP_BAD_RESPONSE ||
		    strstr(as4_diag_text(&d), bad[i].why) == NULL) {
			fail_msg("case %zu: %d '%s', want '%s'", i, err, as4_diag_text(&d),
			         bad[i].why);
		}
	}
	/* a Peppol ServiceMetadata root (unsigned) is a trust failure, not a parse failure */
	assert_int_equal(extract("<ServiceMetadata "
	                         "xmlns=\"http://busdox.org/serviceMetadata/publishing/1.0/\"/>",
	                         &d),
	                 AS4_E_SMP_TRUST);
	/* the same shape, well-formed, passes */
	assert_int_equal(extract(P_OPEN "<m:ServiceInformation>" P_IDS P_EP_OPEN P_ADDR
	                                "<m:Certificate>AAAA</m:Certificate>" P_EP_CLOSE
	                                "</m:ServiceInformation>" P_CLOSE,
	                         &d),
	                 AS4_OK);
	/* depth and node caps come from the limits */
	struct as4_limits lim;
	as4_limits_default(&lim);
	lim.max_xml_nodes = 5;
	xmlDoc *dom = NULL;
	enum as4_smp_proto dialect;
	enum as4_smp_doc_kind kind;
	const char *x = P_OPEN "<m:ServiceInformation>" P_IDS "</m:ServiceInformation>" P_CLOSE;
	as4_diag_init(&d);
	assert_int_equal(
	        as4_smp_parse((const uint8_t *)x, strlen(x), &lim, &dom, &dialect, &kind, &d),
	        AS4_E_SMP_BAD_RESPONSE);
	assert_null(dom);
}

static void test_signature_shapes(void **state)
{
	(void)state;
	/* structural refusals before any cryptography */
	static const struct {
		const char *sig;
		as4_err err;
		const char *why;
	} cases[] = {
	        {"<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"/>",
	         AS4_E_SMP_BAD_RESPONSE, "SignedInfo"},
	        {"<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>"
	         "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/"
	         "xml-exc-c14n#WithComments\"/></ds:SignedInfo></ds:Signature>",
	         AS4_E_SMP_TRUST, "canonicalization"},
	        {"<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>"
	         "<ds:CanonicalizationMethod "
	         "Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"
	         "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#hmac-sha1\"/>"
	         "</ds:SignedInfo></ds:Signature>",
	         AS4_E_SMP_TRUST, "signature algorithm"},
	        {"<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>"
	         "<ds:CanonicalizationMethod "
	         "Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"
	         "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/"
	         "xmldsig-more#rsa-sha256\"/><ds:Reference URI=\"#x\"/></ds:SignedInfo>"
	         "</ds:Signature>",
	         AS4_E_SMP_TRUST, "URI"},
	        {"<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>"
	         "<ds:CanonicalizationMethod "
	         "Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"
	         "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/"
	         "xmldsig-more#rsa-sha256\"/><ds:Reference URI=\"\"/><ds:Reference URI=\"\"/>"
	         "</ds:SignedInfo></ds:Signature>",
	         AS4_E_SMP_TRUST, "2 references"},
	        {"<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>"
	         "<ds:CanonicalizationMethod "
	         "Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"
	         "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/"
	         "xmldsig-more#rsa-sha256\"/><ds:Reference URI=\"\"><ds:Transforms><ds:Transform "
	         "Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"/></ds:Transforms>"
	         "</ds:Reference></ds:SignedInfo></ds:Signature>",
	         AS4_E_SMP_TRUST, "transform"},
	        {"<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>"
	         "<ds:CanonicalizationMethod "
	         "Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"
	         "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/"
	         "xmldsig-more#rsa-sha256\"/><ds:Reference URI=\"\"><ds:Transforms/>"
	         "</ds:Reference></ds:SignedInfo></ds:Signature>",
	         AS4_E_SMP_TRUST, "enveloped"},
	        {"<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>"
	         "<ds:CanonicalizationMethod "
	         "Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"
	         "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/"
	         "xmldsig-more#rsa-sha256\"/><ds:Reference URI=\"\"><ds:Transforms><ds:Transform "
	         "Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>"
	         "</ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/"
	         "xmldsig-more#md5\"/></ds:Reference></ds:SignedInfo></ds:Signature>",
	         AS4_E_SMP_TRUST, "digest"},
	        {"<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>"
	         "<ds:CanonicalizationMethod "
	         "Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"
	         "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/"
	         "xmldsig-more#rsa-sha256\"/><ds:Reference URI=\"\"><ds:Transforms><ds:Transform "
	         "Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>"
	         "</ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/"
	         "xmlenc#sha256\"/></ds:Reference></ds:SignedInfo><ds:KeyInfo/></ds:Signature>",
	         AS4_E_SMP_TRUST, "X509Certificate"},
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(cases); i++) {
		char xml[4096];
		assert_int_equal(as4_str_fmt(xml, sizeof(xml), P_OPEN P_CLOSE), AS4_OK);
		/* put the signature after ServiceMetadata, as the last child of the root */
		char *end = strstr(xml, "</m:SignedServiceMetadata>");
		assert_int_equal(as4_str_fmt(end, sizeof(xml) - (size_t)(end - xml),
		                             "%s</m:SignedServiceMetadata>", cases[i].sig),
		                 AS4_OK);
		xmlDoc *dom = NULL;
		enum as4_smp_proto dialect;
		enum as4_smp_doc_kind kind;
		struct as4_diag d;
		as4_diag_init(&d);
		assert_int_equal(as4_smp_parse((const uint8_t *)xml, strlen(xml), NULL, &dom,
		                               &dialect, &kind, &d),
		                 AS4_OK);
		struct as4_smp_verify_opts vo = {NULL, 0, false, true};
		as4_err err = as4_smp_verify(dom, dialect, &vo, NULL, NULL, &d);
		if (err != cases[i].err || strstr(as4_diag_text(&d), cases[i].why) == NULL) {
			fail_msg("case %zu: %d '%s', want '%s'", i, err, as4_diag_text(&d),
			         cases[i].why);
		}
		xmlFreeDoc(dom);
	}
}

static void test_dn_parse(void **state)
{
	(void)state;
	struct as4_arena *a = as4_arena_new(0);
	struct as4_smp_ava *v = NULL;
	size_t n = 0;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_smp_dn_parse("CN=a\\,b, O=\"Q, Inc\" ;OU=x+SERIALNUMBER=7, "
	                                  "L=\\41\\42 c\\ ",
	                                  a, &v, &n, &d),
	                 AS4_OK);
	assert_int_equal(n, 5);
	assert_string_equal(v[0].type, "CN");
	assert_string_equal(v[0].value, "a,b");
	assert_string_equal(v[1].value, "Q, Inc");
	assert_string_equal(v[2].type, "OU");
	assert_string_equal(v[3].type, "SERIALNUMBER");
	assert_string_equal(v[3].value, "7");
	assert_string_equal(v[4].value, "AB c ");
	static const char *const bad[] = {
	        "",          "CN",     "=x",        "CN=",       "CN=#0403616263",
	        "CN=\"open", "CN=x\\", "CN=a,,O=b", "CN=\"a\"b", "C N=x",
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(bad); i++) {
		as4_diag_init(&d);
		if (as4_smp_dn_parse(bad[i], a, &v, &n, &d) != AS4_E_SMP_BAD_RESPONSE) {
			fail_msg("DN '%s' accepted", bad[i]);
		}
	}
	char many[2048] = "";
	for (int i = 0; i < 70; i++) {
		assert_int_equal(as4_str_cat(many, sizeof(many), i ? ",OU=x" : "OU=x"), AS4_OK);
	}
	as4_diag_init(&d);
	assert_int_equal(as4_smp_dn_parse(many, a, &v, &n, &d), AS4_E_SMP_BAD_RESPONSE);
	assert_non_null(strstr(as4_diag_text(&d), "64"));
	as4_arena_free(a);
}

static struct as4_smp_result *result(const char *url, int64_t until)
{
	struct as4_smp_result *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->endpoint_url = as4_str_dup(url);
	r->transport_profile = as4_str_dup("tp");
	r->valid_until_ms = until;
	return r;
}

static void test_cache(void **state)
{
	(void)state;
	struct as4_smp_cache *c = as4_smp_cache_new(2);
	assert_non_null(c);
	struct as4_smp_result *a = result("https://a/", 1000);
	struct as4_smp_result *b = result("https://b/", 2000);
	struct as4_smp_result *z = result("https://z/", 3000);
	struct as4_smp_result *out = NULL;
	assert_int_equal(as4_smp_cache_put(c, "a", a, 0), AS4_OK);
	assert_int_equal(as4_smp_cache_put(c, "b", b, 0), AS4_OK);
	assert_int_equal(as4_smp_cache_count(c), 2);
	assert_int_equal(as4_smp_cache_get(c, "a", 999, &out), AS4_OK);
	assert_string_equal(out->endpoint_url, "https://a/");
	assert_true(out->from_cache);
	/* the copy is independent of the cache */
	as4_smp_result_free(out);
	/* expired at its valid_until: removed on access */
	assert_int_equal(as4_smp_cache_get(c, "a", 1000, &out), AS4_E_NOTFOUND);
	assert_null(out);
	assert_int_equal(as4_smp_cache_count(c), 1);
	/* full: expired entries go first, then the one expiring soonest */
	assert_int_equal(as4_smp_cache_put(c, "a", a, 0), AS4_OK);
	assert_int_equal(as4_smp_cache_put(c, "z", z, 0), AS4_OK);
	assert_int_equal(as4_smp_cache_get(c, "a", 0, &out), AS4_E_NOTFOUND);
	assert_int_equal(as4_smp_cache_get(c, "b", 0, &out), AS4_OK);
	as4_smp_result_free(out);
	assert_int_equal(as4_smp_cache_put(c, "a", a, 2500), AS4_OK);
	assert_int_equal(as4_smp_cache_get(c, "b", 0, &out), AS4_E_NOTFOUND);
	assert_int_equal(as4_smp_cache_get(c, "z", 0, &out), AS4_OK);
	as4_smp_result_free(out);
	/* replacing a key keeps one entry */
	assert_int_equal(as4_smp_cache_put(c, "z", b, 0), AS4_OK);
	assert_int_equal(as4_smp_cache_count(c), 2);
	assert_int_equal(as4_smp_cache_get(c, "z", 0, &out), AS4_OK);
	assert_string_equal(out->endpoint_url, "https://b/");
	as4_smp_result_free(out);
	assert_true(as4_smp_cache_drop(c, "z"));
	assert_false(as4_smp_cache_drop(c, "z"));
	assert_int_equal(as4_smp_cache_drop_url(c, "https://a/"), 1);
	assert_int_equal(as4_smp_cache_count(c), 0);
	as4_smp_cache_free(c);
	as4_smp_result_free(a);
	as4_smp_result_free(b);
	as4_smp_result_free(z);
	as4_smp_result_free(NULL);
}

static void test_trace(void **state)
{
	(void)state;
	struct as4_smp_trace t;
	as4_smp_trace_init(&t);
	for (int i = 0; i < 100; i++) {
		as4_smp_trace_add(&t, AS4_SMP_STEP_DNS, AS4_SMP_INFO, "line %d", i);
	}
	assert_int_equal(t.n, 100);
	assert_string_equal(t.entries[99].text, "line 99");
	as4_smp_trace_add(NULL, AS4_SMP_STEP_DNS, AS4_SMP_INFO, "ignored");
	as4_smp_trace_cleanup(&t);
	assert_int_equal(t.n, 0);
	for (int s = 0; s < AS4_SMP_STEP__COUNT; s++) {
		assert_string_not_equal(as4_smp_step_name((enum as4_smp_step)s), "?");
	}
	assert_string_equal(as4_smp_step_name(AS4_SMP_STEP__COUNT), "?");
	assert_string_equal(as4_smp_verdict_name(AS4_SMP_FAIL), "fail");
}

static int setup(void **state)
{
	(void)state;
	as4_xml_global_init();
	return as4_smp_global_init(true) == AS4_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	as4_smp_global_cleanup(true);
	as4_xml_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fixture_busdox),
	        cmocka_unit_test(test_fixture_extract),
	        cmocka_unit_test(test_fixture_group_and_smp2),
	        cmocka_unit_test(test_malformed),
	        cmocka_unit_test(test_signature_shapes),
	        cmocka_unit_test(test_dn_parse),
	        cmocka_unit_test(test_cache),
	        cmocka_unit_test(test_trace),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
