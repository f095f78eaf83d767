/* SPDX-License-Identifier: Apache-2.0 */
/* The SBDH / MedCom profile: GLNs, participants, envelopes (the MedCom examples), wrap, routing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "as4/blob.h"
#include "as4/sbdh.h"
#include "as4/str.h"
#include "as4/xml.h"

#define EX AS4_SHARED_DIR "/medcom-examples/"
#define DOC_HCO                                                                                    \
	"urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::homecareobservation-"        \
	"message##urn:dk:medcom:fhir:homecareobservation-message::1.2"

static uint8_t *slurp(const char *path, size_t *len)
{
	uint8_t *buf = NULL;
	assert_int_equal(as4_file_read(path, 64u * 1024 * 1024, &buf, len), AS4_OK);
	return buf;
}

/* Replace the first occurrence of from with to in a heap copy of s (NUL-terminated). */
static char *subst(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	assert_non_null(p);
	size_t n = strlen(s) - strlen(from) + strlen(to);
	char *r = malloc(n + 1);
	assert_non_null(r);
	size_t pre = (size_t)(p - s);
	memcpy(r, s, pre);
	memcpy(r + pre, to, strlen(to));
	memcpy(r + pre + strlen(to), p + strlen(from), strlen(p + strlen(from)) + 1);
	return r;
}

static as4_err parse_text(const char *s, const struct as4_sbdh_rules *r, struct as4_sbdh **sb,
                          struct as4_diag *d)
{
	as4_diag_init(d);
	return as4_sbdh_parse((const uint8_t *)s, strlen(s), r, sb, d);
}

/* ---- GLN ------------------------------------------------------------------------------------ */

static void test_gln(void **state)
{
	(void)state;
	/* GLNs of the MedCom examples */
	assert_true(as4_gln_valid("5790000121526"));
	assert_true(as4_gln_valid("5790000201389"));
	assert_true(as4_gln_valid("5790001382445"));
	assert_true(as4_gln_valid("0000000000000"));
	assert_false(as4_gln_valid("5790000201388"));
	assert_false(as4_gln_valid("579000020138"));
	assert_false(as4_gln_valid("57900002013890"));
	assert_false(as4_gln_valid("57900002O1389"));
	assert_false(as4_gln_valid(NULL));
	assert_int_equal(as4_gln_check_digit("579000020138"), '9');
	/* GS1 example: 629104150021 -> 3 */
	assert_int_equal(as4_gln_check_digit("629104150021"), '3');
	assert_int_equal(as4_gln_check_digit("12345678901x"), '\0');
	assert_int_equal(as4_gln_check_digit("1234"), '\0');
	/* every single-digit change of a valid GLN is caught */
	char g[14] = "5790000121526";
	for (size_t i = 0; i < 13; i++) {
		char orig = g[i];
		for (char c = '0'; c <= '9'; c++) {
			g[i] = c;
			assert_true(as4_gln_valid(g) == (c == orig));
		}
		g[i] = orig;
	}
}

static void test_participant(void **state)
{
	(void)state;
	struct as4_diag d;
	struct as4_participant_id p;
	as4_diag_init(&d);
	assert_int_equal(as4_participant_parse("0088:5790000121526", NULL, "Sender", &p, &d),
	                 AS4_OK);
	assert_string_equal(p.icd, "0088");
	assert_string_equal(p.id, "5790000121526");
	assert_true(p.gln);
	assert_int_equal(as4_participant_parse("iso6523-actorid-upis::0088:5790000121526", NULL,
	                                       "Sender", &p, &d),
	                 AS4_OK);
	assert_int_equal(as4_participant_parse("0088:5790000121527", NULL, "Sender", NULL, &d),
	                 AS4_E_GLN);
	assert_non_null(strstr(as4_diag_text(&d), "digit is 6"));
	assert_string_equal(d.field, "Sender");
	as4_diag_init(&d);
	assert_int_equal(as4_participant_parse("0088:57900001215", NULL, "Sender", NULL, &d),
	                 AS4_E_GLN);
	/* other Danish schemes are off by default and can be switched on */
	as4_diag_init(&d);
	assert_int_equal(as4_participant_parse("0184:12345678", NULL, "Receiver", NULL, &d),
	                 AS4_E_SBDH_INVALID);
	assert_non_null(strstr(as4_diag_text(&d), "not accepted (accepted: 0088)"));
	static const char *const icds[] = {"0088", "0184"};
	struct as4_sbdh_schemes ok = {icds, 2};
	assert_int_equal(as4_participant_parse("0184:12345678", &ok, "Receiver", &p, &d), AS4_OK);
	assert_false(p.gln);
	static const char *const bad[] = {"",         "5790000121526", "88:5790000121526",
	                                  "0088",     "0088:",         "0088:579 0000121526",
	                                  "abcd:1234"};
	for (size_t i = 0; i < AS4_ARRAY_LEN(bad); i++) {
		as4_diag_init(&d);
		assert_int_equal(as4_participant_parse(bad[i], &ok, "x", NULL, &d),
		                 AS4_E_SBDH_INVALID);
	}
	char longid[200];
	memset(longid, '1', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	memcpy(longid, "0184:", 5);
	assert_int_equal(as4_participant_parse(longid, &ok, "x", NULL, &d), AS4_E_SBDH_INVALID);
}

/* ---- The MedCom examples ----------------------------------------------------------------- */

static void test_example_envelope(void **state)
{
	(void)state;
	size_t len, flen;
	uint8_t *buf = slurp(EX "05-ehmisbdh-envelope-homecareobservation.xml", &len);
	uint8_t *fhir = slurp(EX "03-homecareobservation.bundle.xml", &flen);
	struct as4_sbdh *sb = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_true(as4_sbdh_sniff(buf, len));
	assert_int_equal(as4_sbdh_parse(buf, len, NULL, &sb, &d), AS4_OK);
	assert_string_equal(sb->sender, "0088:5790000121526");
	assert_string_equal(sb->receiver, "0088:5790000201389");
	assert_string_equal(sb->sender_gln, "5790000121526");
	assert_string_equal(sb->receiver_gln, "5790000201389");
	assert_string_equal(sb->document_id, DOC_HCO);
	assert_string_equal(sb->process_id, "urn:ehmi:sdn-emergence");
	assert_string_equal(sb->instance_id, "9a6ff822-08de-5a6f-9670-9fa4b9d2f0dc");
	assert_string_equal(sb->standard, "homecareobservation-message");
	assert_string_equal(sb->type_version, "1.2");
	assert_string_equal(sb->sender_sor, "8851000016006");
	assert_string_equal(sb->receiver_sor, "263001000016001");
	assert_true(sb->has_patient);
	assert_true(sb->ack_requested);
	assert_string_equal(sb->mime_type, AS4_SBDH_FHIR_XML);
	assert_int_equal(sb->content_len, flen);
	assert_memory_equal(sb->content, fhir, flen);
	assert_true(sb->fhir.read);
	assert_string_equal(sb->fhir.event_code, "homecareobservation-message");
	assert_string_equal(sb->medcom_message_id, "489de4f2-0d8d-4de2-a7ce-ccb93568799f");
	/* the draft example's MESSAGEIDENTIFIER differs from its MessageHeader: a warning */
	assert_int_equal(sb->n_errors, 0);
	assert_int_equal(sb->n_problems, 1);
	assert_true(sb->problems[0].warning);
	/* the CPR (0101010227) is nowhere in the parsed envelope */
	for (size_t i = 0; i < sb->n_scopes; i++) {
		if (strcmp(sb->scopes[i].type, "PATIENTID") == 0) {
			assert_null(sb->scopes[i].instance_id);
		} else if (sb->scopes[i].instance_id != NULL) {
			assert_null(strstr(sb->scopes[i].instance_id, "0101010227"));
		}
	}
	assert_memory_equal(buf + sb->b64_offset, "PD94", 4);
	as4_sbdh_free(sb);
	free(buf);
	free(fhir);
}

static void test_receipt_envelope(void **state)
{
	(void)state;
	size_t len;
	uint8_t *buf = slurp(EX "06-ehmisbdh-receiptacknowledgement.xml", &len);
	struct as4_sbdh *sb = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	/* an ebBP signal, not FHIR: refused by the default profile, naming the attribute */
	assert_int_equal(as4_sbdh_parse(buf, len, NULL, &sb, &d), AS4_E_SBDH_INVALID);
	assert_string_equal(d.field, "BinaryContent/@mimeType");
	assert_string_equal(sb->sender, "0088:5790000127092");
	as4_sbdh_free(sb);
	/* accepted once application/xml is configured */
	static const char *const types[] = {"application/xml"};
	struct as4_sbdh_rules r = {0};
	r.mime_types = types;
	r.n_mime_types = 1;
	as4_diag_init(&d);
	assert_int_equal(as4_sbdh_parse(buf, len, &r, &sb, &d), AS4_OK);
	assert_string_equal(sb->type, "ReceiptAcknowledgement");
	assert_false(sb->fhir.read);
	as4_sbdh_free(sb);
	free(buf);
}

/* Wrap an example and parse it back. */
static void roundtrip(const char *file, const char *mime, const char *event)
{
	size_t flen;
	uint8_t *fhir = slurp(file, &flen);
	struct as4_sbdh_wrap w = {0};
	w.sender = "5790000121526";
	w.receiver = "0088:5790000201389";
	w.document_id = DOC_HCO;
	w.process_id = "urn:ehmi:sdn-emergence";
	w.sender_sor = "8851000016006";
	w.patient = "0101010227";
	w.ack_request = true;
	w.created = "2025-04-01T16:19:00+01:00";
	struct as4_buf out;
	as4_buf_init(&out, 1u << 26);
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_sbdh_wrap(&w, fhir, flen, &out, &d), AS4_OK);
	struct as4_sbdh *sb = NULL;
	as4_diag_init(&d);
	assert_int_equal(as4_sbdh_parse(out.data, out.len, NULL, &sb, &d), AS4_OK);
	assert_int_equal(sb->n_problems, 0);
	assert_string_equal(sb->sender, "0088:5790000121526");
	assert_string_equal(sb->receiver, "0088:5790000201389");
	assert_string_equal(sb->document_id, DOC_HCO);
	assert_string_equal(sb->type_version, "1.2");
	assert_string_equal(sb->standard, event);
	assert_string_equal(sb->mime_type, mime);
	assert_string_equal(sb->sender_sor, "8851000016006");
	assert_true(sb->has_patient && sb->ack_requested);
	assert_int_equal(sb->content_len, flen);
	assert_memory_equal(sb->content, fhir, flen);
	assert_string_equal(sb->medcom_message_id, sb->message_identifier);
	as4_sbdh_free(sb);
	as4_buf_cleanup(&out);
	free(fhir);
}

static void test_wrap(void **state)
{
	(void)state;
	roundtrip(EX "01-hospitalnotification-admit-inpatient.bundle.xml", AS4_SBDH_FHIR_XML,
	          "hospital-notification-message");
	roundtrip(EX "02-carecommunication-new-message.bundle.json", AS4_SBDH_FHIR_JSON,
	          "care-communication-message");
	roundtrip(EX "04-acknowledgement-ok.bundle.xml", AS4_SBDH_FHIR_XML,
	          "acknowledgement-message");

	/* refusals name the option */
	const char *fhir = "{\"resourceType\":\"Bundle\",\"type\":\"message\",\"entry\":[{"
	                   "\"resource\":{\"resourceType\":\"MessageHeader\",\"id\":\"m1\","
	                   "\"eventCoding\":{\"code\":\"e\"}}}]}";
	struct as4_sbdh_wrap w = {0};
	w.sender = "5790000121526";
	w.receiver = "5790000201388";
	w.document_id = "d";
	w.process_id = "p";
	struct as4_buf out;
	as4_buf_init(&out, 1u << 20);
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_sbdh_wrap(&w, (const uint8_t *)fhir, strlen(fhir), &out, &d),
	                 AS4_E_GLN);
	assert_string_equal(d.field, "receiver");
	w.receiver = "5790000201389";
	w.process_id = NULL;
	as4_diag_init(&d);
	assert_int_equal(as4_sbdh_wrap(&w, (const uint8_t *)fhir, strlen(fhir), &out, &d),
	                 AS4_E_INVAL);
	assert_string_equal(d.field, "process");
	w.process_id = "p";
	as4_diag_init(&d);
	assert_int_equal(as4_sbdh_wrap(&w, (const uint8_t *)"plain text", 10, &out, &d),
	                 AS4_E_INVAL);
	as4_diag_init(&d);
	const char *nohdr = "{\"resourceType\":\"Patient\"}";
	assert_int_equal(as4_sbdh_wrap(&w, (const uint8_t *)nohdr, strlen(nohdr), &out, &d),
	                 AS4_E_INVAL);
	assert_non_null(strstr(as4_diag_text(&d), "MessageHeader"));
	/* a control character cannot travel in XML */
	w.document_id = "d\x01";
	as4_diag_init(&d);
	assert_int_equal(as4_sbdh_wrap(&w, (const uint8_t *)fhir, strlen(fhir), &out, &d),
	                 AS4_E_INVAL);
	/* size cap */
	struct as4_sbdh_rules r = {0};
	r.max_content = 10;
	w.document_id = "d";
	w.rules = &r;
	as4_diag_init(&d);
	assert_int_equal(as4_sbdh_wrap(&w, (const uint8_t *)fhir, strlen(fhir), &out, &d),
	                 AS4_E_LIMIT);
	as4_buf_cleanup(&out);
}

/* ---- Problems ---------------------------------------------------------------------------- */

/* A minimal valid envelope (content: base64 of a FHIR JSON message). */
static char *minimal(void)
{
	const char *fhir = "{\"resourceType\":\"Bundle\",\"type\":\"message\",\"entry\":[{"
	                   "\"resource\":{\"resourceType\":\"MessageHeader\",\"id\":\"m1\","
	                   "\"eventCoding\":{\"code\":\"e\"}}}]}";
	struct as4_sbdh_wrap w = {0};
	w.sender = "5790000121526";
	w.receiver = "5790000201389";
	w.document_id = "doc";
	w.process_id = "proc";
	w.instance_id = "inst-1";
	w.created = "2025-01-01T00:00:00Z";
	struct as4_buf out;
	as4_buf_init(&out, 1u << 20);
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_sbdh_wrap(&w, (const uint8_t *)fhir, strlen(fhir), &out, &d), AS4_OK);
	return as4_buf_take_str(&out);
}

struct bad_case {
	const char *from; /* replaced in the minimal envelope */
	const char *to;
	as4_err err;        /* first error */
	const char *field;  /* its field */
	const char *detail; /* a piece of its text */
};

static void test_problems(void **state)
{
	(void)state;
	char *good = minimal();
	const struct bad_case cases[] = {
	        {"0088:5790000201389", "0088:5790000201388", AS4_E_GLN, "Receiver/Identifier",
	         "check digit"},
	        {"0088:5790000121526", "0184:12345678", AS4_E_SBDH_INVALID, "Sender/Identifier",
	         "scheme 0184"},
	        {"Authority=\"iso6523-actorid-upis\"", "Authority=\"GLN\"", AS4_E_SBDH_INVALID,
	         "Sender/Identifier", "expected 'iso6523-actorid-upis'"},
	        {"<Type>DOCUMENTID</Type>", "<Type>OTHER</Type>", AS4_E_SBDH_INVALID,
	         "BusinessScope/Scope[DOCUMENTID]", "no DOCUMENTID"},
	        {"<Type>PROCESSID</Type>", "<Type>DOCUMENTID</Type>", AS4_E_SBDH_INVALID,
	         "BusinessScope/Scope[DOCUMENTID]", "more than one"},
	        {"<InstanceIdentifier>inst-1</InstanceIdentifier>",
	         "<InstanceIdentifier>a b</InstanceIdentifier>", AS4_E_SBDH_INVALID,
	         "DocumentIdentification/InstanceIdentifier", "without spaces"},
	        {"2025-01-01T00:00:00Z", "yesterday", AS4_E_SBDH_INVALID,
	         "DocumentIdentification/CreationDateAndTime", "xsd:dateTime"},
	        {"<Standard>e</Standard>", "", AS4_E_SBDH_INVALID,
	         "DocumentIdentification/Standard", "missing"},
	        {"mimeType=\"application/fhir+json\"", "mimeType=\"text/plain\"",
	         AS4_E_SBDH_INVALID, "BinaryContent/@mimeType", "text/plain"},
	        {"mimeType=\"application/fhir+json\"", "mimeType=\"application/fhir+xml\"",
	         AS4_E_SBDH_INVALID, "BinaryContent", "not application/fhir+xml"},
	        {"encoding=\"UTF-8\">\n", "encoding=\"UTF-8\"><![CDATA[x]]>", AS4_E_SBDH_INVALID,
	         "BinaryContent", "base64 text only"},
	        {"encoding=\"UTF-8\">\n", "encoding=\"UTF-8\">&#65;", AS4_E_SBDH_INVALID,
	         "BinaryContent", "not base64"},
	        {"encoding=\"UTF-8\">\n", "encoding=\"UTF-8\">=A", AS4_E_SBDH_INVALID,
	         "BinaryContent", "not valid base64"},
	        {"</StandardBusinessDocumentHeader>",
	         "</StandardBusinessDocumentHeader><TextContent>x</TextContent>",
	         AS4_E_SBDH_INVALID, "TextContent", "not accepted"},
	        {"<StandardBusinessDocument ", "<!DOCTYPE x><StandardBusinessDocument ",
	         AS4_E_DOCTYPE, "", "DOCTYPE"},
	        {"</StandardBusinessDocument>", "", AS4_E_XML, "", ""},
	        {"<StandardBusinessDocument ", "<Other ", AS4_E_XML, "", ""},
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(cases); i++) {
		char *bad = subst(good, cases[i].from, cases[i].to);
		struct as4_sbdh *sb = NULL;
		struct as4_diag d;
		as4_err err = parse_text(bad, NULL, &sb, &d);
		if (err != cases[i].err || strcmp(d.field, cases[i].field) != 0 ||
		    strstr(as4_diag_text(&d), cases[i].detail) == NULL) {
			print_error("case %zu: got %d field '%s' text '%s'\n", i, err, d.field,
			            as4_diag_text(&d));
		}
		assert_int_equal(err, cases[i].err);
		assert_string_equal(d.field, cases[i].field);
		assert_non_null(strstr(as4_diag_text(&d), cases[i].detail));
		assert_non_null(sb);
		assert_true(sb->n_errors >= 1);
		as4_sbdh_free(sb);
		free(bad);
	}

	/* the document element must be an SBDH */
	struct as4_sbdh *sb = NULL;
	struct as4_diag d;
	assert_int_equal(parse_text("<a xmlns=\"urn:x\"/>", NULL, &sb, &d), AS4_E_SBDH_INVALID);
	assert_string_equal(d.field, "StandardBusinessDocument");
	as4_sbdh_free(sb);

	/* every problem is reported, not just the first */
	char *two = subst(good, "0088:5790000201389", "0088:5790000201388");
	char *three = subst(two, "<Type>PROCESSID</Type>", "<Type>X</Type>");
	assert_int_equal(parse_text(three, NULL, &sb, &d), AS4_E_GLN);
	assert_int_equal(sb->n_errors, 2);
	as4_sbdh_free(sb);
	free(two);
	free(three);

	/* a BinaryContent inside a comment is skipped; the real one is read */
	char *com = subst(
	        good, "<StandardBusinessDocumentHeader>",
	        "<!-- <BinaryContent>AAAA</BinaryContent> --><StandardBusinessDocumentHeader>");
	assert_int_equal(parse_text(com, NULL, &sb, &d), AS4_OK);
	assert_string_equal(sb->medcom_message_id, "m1");
	as4_sbdh_free(sb);
	free(com);

	/* two BinaryContent elements */
	char *dbl = subst(good, "</StandardBusinessDocument>",
	                  "<BinaryContent xmlns=\"" AS4_NS_SBDH_BC
	                  "\" mimeType=\"application/fhir+json\">AAAA</BinaryContent>"
	                  "</StandardBusinessDocument>");
	assert_int_equal(parse_text(dbl, NULL, &sb, &d), AS4_E_SBDH_INVALID);
	assert_non_null(strstr(as4_diag_text(&d), "2 times"));
	as4_sbdh_free(sb);
	free(dbl);

	/* size cap on the decoded content, checked before decoding */
	struct as4_sbdh_rules r = {0};
	r.max_content = 16;
	assert_int_equal(parse_text(good, &r, &sb, &d), AS4_E_LIMIT);
	assert_string_equal(d.field, "BinaryContent");
	assert_null(sb->content);
	as4_sbdh_free(sb);
	free(good);
}

static void test_sniff(void **state)
{
	(void)state;
	const char *yes[] = {
	        "<StandardBusinessDocument/>",
	        "\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<!--c--><s:StandardBusinessDocument a=\"1\">",
	        "  \n<StandardBusinessDocument\n>",
	};
	const char *no[] = {"",
	                    "<Bundle/>",
	                    "text",
	                    "<!-- unterminated",
	                    "<StandardBusinessDocumentX/>",
	                    "<?xml version=\"1.0\"?>"};
	for (size_t i = 0; i < AS4_ARRAY_LEN(yes); i++) {
		assert_true(as4_sbdh_sniff((const uint8_t *)yes[i], strlen(yes[i])));
	}
	for (size_t i = 0; i < AS4_ARRAY_LEN(no); i++) {
		assert_false(as4_sbdh_sniff((const uint8_t *)no[i], strlen(no[i])));
	}
	assert_false(as4_sbdh_sniff(NULL, 0));
}

static void test_route(void **state)
{
	(void)state;
	struct as4_sbdh_route rt;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_sbdh_route(NULL, DOC_HCO, "urn:ehmi:sdn-emergence", &rt, &d), AS4_OK);
	assert_string_equal(rt.service, "urn:ehmi:sdn-emergence");
	assert_string_equal(rt.service_type, "cenbii-procid-ubl");
	assert_string_equal(rt.action, "busdox-docid-qns::" DOC_HCO);
	as4_sbdh_route_cleanup(&rt);
	struct as4_sbdh_network net = {AS4_SBDH_ROUTING_PEPPOL, "my-doc-scheme", "my-proc-scheme"};
	assert_int_equal(as4_sbdh_route(&net, "d", "p", &rt, &d), AS4_OK);
	assert_string_equal(rt.action, "my-doc-scheme::d");
	assert_string_equal(rt.service_type, "my-proc-scheme");
	as4_sbdh_route_cleanup(&rt);
	net.routing = AS4_SBDH_ROUTING_PLAIN;
	assert_int_equal(as4_sbdh_route(&net, "d", "p", &rt, &d), AS4_OK);
	assert_string_equal(rt.action, "d");
	assert_null(rt.service_type);
	as4_sbdh_route_cleanup(&rt);
	assert_int_equal(as4_sbdh_route(&net, "", "p", &rt, &d), AS4_E_INVAL);
	assert_string_equal(d.field, "DOCUMENTID");
	as4_diag_init(&d);
	assert_int_equal(as4_sbdh_route(&net, "d", NULL, &rt, &d), AS4_E_INVAL);
	assert_string_equal(d.field, "PROCESSID");
	as4_sbdh_route_cleanup(NULL);
}

static void test_fhir_info(void **state)
{
	(void)state;
	struct as4_arena *a = as4_arena_new(0);
	struct as4_sbdh_fhir f;
	struct as4_diag d;
	as4_diag_init(&d);
	const char *notfhir = "<Bundle xmlns=\"urn:other\"/>";
	assert_int_equal(as4_sbdh_fhir_info((const uint8_t *)notfhir, strlen(notfhir),
	                                    AS4_SBDH_FHIR_XML, NULL, a, &f, &d),
	                 AS4_E_PARSE);
	as4_diag_init(&d);
	assert_int_equal(
	        as4_sbdh_fhir_info((const uint8_t *)"{", 1, AS4_SBDH_FHIR_JSON, NULL, a, &f, &d),
	        AS4_E_PARSE);
	as4_diag_init(&d);
	assert_int_equal(
	        as4_sbdh_fhir_info((const uint8_t *)"[1]", 3, AS4_SBDH_FHIR_JSON, NULL, a, &f, &d),
	        AS4_E_PARSE);
	char deep[400];
	memset(deep, '[', 200);
	memset(deep + 200, ']', 200);
	as4_diag_init(&d);
	assert_int_equal(as4_sbdh_fhir_info((const uint8_t *)deep, sizeof(deep), AS4_SBDH_FHIR_JSON,
	                                    NULL, a, &f, &d),
	                 AS4_E_LIMIT);
	as4_diag_init(&d);
	assert_int_equal(as4_sbdh_fhir_info((const uint8_t *)"x", 1, "text/plain", NULL, a, &f, &d),
	                 AS4_E_INVAL);
	const char *dup = "{\"resourceType\":\"Bundle\",\"resourceType\":\"X\"}";
	as4_diag_init(&d);
	assert_int_equal(as4_sbdh_fhir_info((const uint8_t *)dup, strlen(dup), AS4_SBDH_FHIR_JSON,
	                                    NULL, a, &f, &d),
	                 AS4_E_PARSE);
	const char *ok = "<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"p\"/></Patient>";
	as4_diag_init(&d);
	assert_int_equal(as4_sbdh_fhir_info((const uint8_t *)ok, strlen(ok), AS4_SBDH_FHIR_XML,
	                                    NULL, a, &f, &d),
	                 AS4_OK);
	assert_string_equal(f.resource_type, "Patient");
	assert_null(f.message_header_id);
	as4_arena_free(a);
}

int main(void)
{
	as4_xml_global_init();
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_gln),
	        cmocka_unit_test(test_participant),
	        cmocka_unit_test(test_example_envelope),
	        cmocka_unit_test(test_receipt_envelope),
	        cmocka_unit_test(test_wrap),
	        cmocka_unit_test(test_problems),
	        cmocka_unit_test(test_sniff),
	        cmocka_unit_test(test_route),
	        cmocka_unit_test(test_fhir_info),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	as4_xml_global_cleanup();
	return rc;
}
