/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signals: reading Receipts (NRI and reception awareness), Errors (with the SOAP Fault) and
 * PullRequests, every rejection path, and building Receipts and Errors (build -> parse).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/tree.h>

#include "as4/blob.h"
#include "as4/ebms3.h"
#include "as4/str.h"
#include "as4/time.h"
#include "as4/xml.h"

#define ENV_OPEN                                                                                   \
	"<S:Envelope xmlns:S=\"" AS4_NS_SOAP12 "\" xmlns:eb=\"" AS4_NS_EB                          \
	"\" xmlns:ebbp=\"" AS4_NS_EBBP "\" xmlns:ds=\"" AS4_NS_DS                                  \
	"\"><S:Header><eb:Messaging><eb:SignalMessage>"                                            \
	"<eb:MessageInfo><eb:Timestamp>2026-03-04T05:06:07Z</eb:Timestamp>"                        \
	"<eb:MessageId>sig-1@example.org</eb:MessageId>"                                           \
	"<eb:RefToMessageId>um-1@example.org</eb:RefToMessageId></eb:MessageInfo>"
#define ENV_CLOSE "</eb:SignalMessage></eb:Messaging></S:Header><S:Body/></S:Envelope>"

static const char receipt_xml[] = ENV_OPEN
        "<eb:Receipt><ebbp:NonRepudiationInformation>"
        "<ebbp:MessagePartNRInformation><ds:Reference URI=\"#m\"><ds:Transforms>"
        "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"
        "</ds:Transforms><ds:DigestMethod "
        "Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>"
        "<ds:DigestValue>\n  AAEC\n  AwQ=\n</ds:DigestValue></ds:Reference>"
        "</ebbp:MessagePartNRInformation>"
        "<ebbp:MessagePartNRInformation><ds:Reference URI=\"cid:p1@x\">"
        "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>"
        "<ds:DigestValue>BQY=</ds:DigestValue></ds:Reference>"
        "</ebbp:MessagePartNRInformation>"
        "</ebbp:NonRepudiationInformation><x:info xmlns:x=\"urn:x\"/></eb:Receipt>" ENV_CLOSE;

static const char error_xml[] =
        ENV_OPEN "<eb:Error errorCode=\"EBMS:0009\" severity=\"failure\" "
                 "shortDescription=\"InvalidHeader\" category=\"Unpackaging\" origin=\"ebMS\" "
                 "refToMessageInError=\"um-1@example.org\">"
                 "<eb:Description xml:lang=\"en\">invalid header</eb:Description>"
                 "<eb:ErrorDetail>eb:From has no eb:PartyId</eb:ErrorDetail></eb:Error>"
                 "<eb:Error errorCode=\"EBMS:0004\" severity=\"warning\"/>" ENV_CLOSE;

struct parsed {
	struct as4_arena *arena;
	xmlDoc *doc;
	struct as4_messaging m;
	struct as4_diag d;
	as4_err err;
};

static void parse_len(struct parsed *p, const char *xml, size_t len)
{
	p->arena = as4_arena_new(0);
	assert_non_null(p->arena);
	as4_diag_init(&p->d);
	p->err = as4_ebms3_parse_bytes((const uint8_t *)xml, len, NULL, p->arena, &p->doc, &p->m,
	                               &p->d);
}

static void parse(struct parsed *p, const char *xml)
{
	parse_len(p, xml, strlen(xml));
}

static void release(struct parsed *p)
{
	xmlFreeDoc(p->doc);
	as4_arena_free(p->arena);
	memset(p, 0, sizeof(*p));
}

static char *variant(const char *base, const char *from, const char *to)
{
	const char *at = strstr(base, from);
	assert_non_null(at);
	assert_null(strstr(at + 1, from));
	size_t pre = (size_t)(at - base);
	size_t len = strlen(base) - strlen(from) + strlen(to);
	char *s = malloc(len + 1);
	assert_non_null(s);
	memcpy(s, base, pre);
	memcpy(s + pre, to, strlen(to));
	memcpy(s + pre + strlen(to), at + strlen(from), strlen(at + strlen(from)) + 1);
	return s;
}

static char *read_vector(const char *name, size_t *len)
{
	char path[512];
	assert_int_equal(
	        as4_str_fmt(path, sizeof(path), "%s/interop/messages/%s", AS4_SHARED_DIR, name),
	        AS4_OK);
	uint8_t *buf = NULL;
	assert_int_equal(as4_file_read(path, 1u << 22, &buf, len), AS4_OK);
	return (char *)buf;
}

static int setup(void **state)
{
	(void)state;
	as4_xml_global_init();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	as4_xml_global_cleanup();
	return 0;
}

static void test_parse_receipt(void **state)
{
	(void)state;
	struct parsed p;
	parse(&p, receipt_xml);
	assert_int_equal(p.err, AS4_OK);
	assert_int_equal(p.m.kind, AS4_UNIT_SIGNAL);
	const struct as4_signal_message *s = &p.m.signal;
	assert_int_equal(s->kind, AS4_SIGNAL_RECEIPT);
	assert_string_equal(s->message_id, "sig-1@example.org");
	assert_string_equal(s->ref_to_message_id, "um-1@example.org");
	assert_string_equal(s->timestamp, "2026-03-04T05:06:07Z");
	assert_int_equal(s->n_nri, 2);
	assert_string_equal(s->nri[0].uri, "#m");
	assert_string_equal(s->nri[0].digest_method, "http://www.w3.org/2001/04/xmlenc#sha256");
	assert_string_equal(s->nri[0].digest_value, "AAECAwQ="); /* whitespace removed */
	assert_string_equal(s->nri[1].uri, "cid:p1@x");
	assert_string_equal(s->nri[1].digest_value, "BQY=");
	assert_false(s->receipt_user_message);
	release(&p);
}

static void test_parse_receipt_vectors(void **state)
{
	(void)state;
	size_t len = 0;
	char *xml = read_vector("TestReceipt12.xml", &len);
	struct parsed p;
	parse_len(&p, xml, len);
	assert_int_equal(p.err, AS4_OK);
	assert_int_equal(p.m.signal.kind, AS4_SIGNAL_RECEIPT);
	assert_string_equal(p.m.signal.ref_to_message_id,
	                    "035e0a83-6dc5-427b-bcee-483475c65153@phase4");
	assert_string_equal(p.m.signal.message_id, "d36e26c0-5d4d-4950-ad81-dc620681b5f9@phase4");
	assert_int_equal(p.m.signal.n_nri, 3);
	assert_string_equal(p.m.signal.nri[2].uri,
	                    "cid:phase4-att-a9297596-e9df-4740-9245-2c069712326f@cid");
	assert_string_equal(p.m.signal.nri[2].digest_value,
	                    "5lPGsYkVCwAcvC3VbzAfez3nffzw59rtK/SvFM9W1eI=");
	assert_string_equal(p.m.messaging_id, "phase4-msg-16a44d96-0b9d-4752-a7f5-53bff8b33cb3");
	assert_true(p.m.has_security);
	release(&p);
	free(xml);

	xml = read_vector("as4-soap-signed-pullrequest.xml", &len);
	parse_len(&p, xml, len);
	assert_int_equal(p.err, AS4_OK);
	assert_int_equal(p.m.signal.kind, AS4_SIGNAL_PULL_REQUEST);
	assert_string_equal(p.m.signal.pull_mpc, "http://example.holodeckb2b.org/mpc/2");
	assert_string_equal(p.m.signal.message_id,
	                    "5be59681-51f1-4889-86d6-8d38e8294436@10.124.29.152");
	assert_null(p.m.signal.ref_to_message_id);
	release(&p);
	free(xml);
}

static void test_parse_receipt_user_message_copy(void **state)
{
	(void)state;
	char *xml = variant(receipt_xml, "<x:info xmlns:x=\"urn:x\"/>",
	                    "<eb:UserMessage><eb:MessageInfo><eb:MessageId>um-1@example.org"
	                    "</eb:MessageId></eb:MessageInfo></eb:UserMessage>");
	struct parsed p;
	parse(&p, xml);
	assert_int_equal(p.err, AS4_OK);
	assert_true(p.m.signal.receipt_user_message);
	assert_string_equal(p.m.signal.receipt_user_message_id, "um-1@example.org");
	release(&p);
	free(xml);
	/* a copy whose id cannot be read is still a copy (informative only) */
	xml = variant(receipt_xml, "<x:info xmlns:x=\"urn:x\"/>", "<eb:UserMessage/>");
	parse(&p, xml);
	assert_int_equal(p.err, AS4_OK);
	assert_true(p.m.signal.receipt_user_message);
	assert_null(p.m.signal.receipt_user_message_id);
	assert_int_equal(p.d.err, AS4_OK);
	release(&p);
	free(xml);
}

static void test_parse_error(void **state)
{
	(void)state;
	char *xml = variant(error_xml, "<S:Body/>",
	                    "<S:Body><S:Fault><S:Code><S:Value>S:Sender</S:Value></S:Code>"
	                    "</S:Fault></S:Body>");
	struct parsed p;
	parse(&p, xml);
	assert_int_equal(p.err, AS4_OK);
	assert_true(p.m.has_fault);
	const struct as4_signal_message *s = &p.m.signal;
	assert_int_equal(s->kind, AS4_SIGNAL_ERROR);
	assert_int_equal(s->n_errors, 2);
	const struct as4_ebms_error *e = &s->errors[0];
	assert_string_equal(e->error_code, "EBMS:0009");
	assert_string_equal(e->severity, "failure");
	assert_string_equal(e->short_description, "InvalidHeader");
	assert_string_equal(e->category, "Unpackaging");
	assert_string_equal(e->origin, "ebMS");
	assert_string_equal(e->ref_to_message_in_error, "um-1@example.org");
	assert_string_equal(e->description, "invalid header");
	assert_string_equal(e->description_lang, "en");
	assert_string_equal(e->detail, "eb:From has no eb:PartyId");
	assert_string_equal(s->errors[1].severity, "warning");
	assert_null(s->errors[1].detail);
	assert_null(s->errors[1].short_description);
	release(&p);
	free(xml);
}

struct reject {
	const char *base;
	const char *from;
	const char *to;
	as4_err err;
	const char *detail;
};

static const struct reject rejects[] = {
        {error_xml, "errorCode=\"EBMS:0009\" ", "", AS4_E_HEADER, "eb:Error 1 has no @errorCode"},
        {error_xml, "severity=\"warning\"", "severity=\"fatal\"", AS4_E_HEADER,
         "eb:Error 2: @severity must be 'failure' or 'warning'"},
        {error_xml, "<eb:ErrorDetail>", "<eb:ErrorDetail>a</eb:ErrorDetail><eb:ErrorDetail>",
         AS4_E_HEADER, "eb:Error 1 holds more than one eb:ErrorDetail"},
        {error_xml, "<eb:ErrorDetail>", "<eb:Bad/><eb:ErrorDetail>", AS4_E_HEADER,
         "unknown element eb:Bad in eb:Error"},
        {error_xml, "<eb:Error errorCode=\"EBMS:0004\" severity=\"warning\"/>", "<eb:Receipt/>",
         AS4_E_BUNDLED, "0 eb:PullRequest, 1 eb:Receipt and 1 eb:Error"},
        {receipt_xml, "<eb:Receipt>", "<eb:PullRequest/><eb:Receipt>", AS4_E_BUNDLED,
         "1 eb:PullRequest, 1 eb:Receipt"},
        {receipt_xml, "<eb:Receipt>", "<eb:Receipt/><eb:Receipt>", AS4_E_BUNDLED, "2 eb:Receipt"},
        {receipt_xml, "</eb:SignalMessage>", "</eb:SignalMessage><eb:SignalMessage/>",
         AS4_E_BUNDLED, "0 eb:UserMessage and 2 eb:SignalMessage"},
        {receipt_xml, "<ds:DigestValue>BQY=</ds:DigestValue>", "<ds:DigestValue> </ds:DigestValue>",
         AS4_E_HEADER, "ebbp:MessagePartNRInformation 2: ds:DigestValue is empty"},
        {receipt_xml, "<ds:DigestValue>BQY=</ds:DigestValue>", "", AS4_E_HEADER,
         "ds:Reference lacks ds:DigestMethod or ds:DigestValue"},
        {receipt_xml, "<ds:Reference URI=\"cid:p1@x\">", "<ds:Reference>", AS4_E_HEADER,
         "ebbp:MessagePartNRInformation 2: ds:Reference has no @URI"},
        {receipt_xml,
         "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>"
         "<ds:DigestValue>BQY=",
         "<ds:DigestMethod/><ds:DigestValue>BQY=", AS4_E_HEADER,
         "ds:DigestMethod has no @Algorithm"},
        {receipt_xml, "<ebbp:MessagePartNRInformation><ds:Reference URI=\"cid:p1@x\">",
         "<ebbp:MessagePartNRInformation></ebbp:MessagePartNRInformation>"
         "<ebbp:MessagePartNRInformation><ds:Reference URI=\"cid:p1@x\">",
         AS4_E_HEADER, "ebbp:MessagePartNRInformation 2 has no ds:Reference"},
        {receipt_xml, "<x:info xmlns:x=\"urn:x\"/>", "<ebbp:NonRepudiationInformation/>",
         AS4_E_HEADER, "more than one ebbp:NonRepudiationInformation"},
        {receipt_xml, "<x:info xmlns:x=\"urn:x\"/>", "<eb:Unknown/>", AS4_E_HEADER,
         "unknown element eb:Unknown in eb:Receipt"},
        {receipt_xml, "<eb:Receipt>", "<eb:Nope/><eb:Receipt>", AS4_E_HEADER,
         "unknown element eb:Nope in eb:SignalMessage"},
        {receipt_xml, "<eb:MessageId>sig-1@example.org</eb:MessageId>", "", AS4_E_HEADER,
         "eb:MessageInfo has no eb:MessageId"},
        {receipt_xml, "2026-03-04T05:06:07Z", "2026-03-04 05:06", AS4_E_HEADER,
         "not an xsd:dateTime"},
        {receipt_xml,
         "<eb:MessageInfo><eb:Timestamp>2026-03-04T05:06:07Z</eb:Timestamp>"
         "<eb:MessageId>sig-1@example.org</eb:MessageId>"
         "<eb:RefToMessageId>um-1@example.org</eb:RefToMessageId></eb:MessageInfo>",
         "", AS4_E_HEADER, "eb:SignalMessage has no eb:MessageInfo"},
};

static void test_rejections(void **state)
{
	(void)state;
	for (size_t i = 0; i < AS4_ARRAY_LEN(rejects); i++) {
		const struct reject *r = &rejects[i];
		char *xml = variant(r->base, r->from, r->to);
		struct parsed p;
		parse(&p, xml);
		if (p.err != r->err || strstr(p.d.text, r->detail) == NULL) {
			print_error("case %zu: got %d '%s', want %d '%s'\n", i, p.err, p.d.text,
			            r->err, r->detail);
		}
		assert_int_equal(p.err, r->err);
		assert_non_null(strstr(p.d.text, r->detail));
		release(&p);
		free(xml);
	}
	/* a signal with no signal element */
	struct parsed p;
	parse(&p, ENV_OPEN ENV_CLOSE);
	assert_int_equal(p.err, AS4_E_HEADER);
	assert_string_equal(p.d.text,
	                    "eb:SignalMessage holds no eb:Receipt, eb:Error or eb:PullRequest");
	assert_string_equal(p.m.signal.message_id, "sig-1@example.org");
	release(&p);
	/* foreign content in eb:SignalMessage is allowed (xsd:any) */
	char *xml = variant(receipt_xml, "<eb:Receipt>", "<y:ext xmlns:y=\"urn:y\"/><eb:Receipt>");
	parse(&p, xml);
	assert_int_equal(p.err, AS4_OK);
	release(&p);
	free(xml);
}

/* References as wss hands them over: serialised fragments, or only the values. */
static void make_refs(struct as4_signed_refs *r, bool with_xml)
{
	static struct as4_signed_ref refs[3];
	static char *xml[3];
	refs[0] =
	        (struct as4_signed_ref){"#msg", "http://www.w3.org/2001/04/xmlenc#sha256", "AAEC"};
	refs[1] =
	        (struct as4_signed_ref){"#body", "http://www.w3.org/2001/04/xmlenc#sha256", "AwQ="};
	refs[2] = (struct as4_signed_ref){"cid:p@x", "http://www.w3.org/2001/04/xmlenc#sha256",
	                                  "BQYH"};
	xml[0] = "<ds:Reference xmlns:ds=\"" AS4_NS_DS "\" URI=\"#msg\"><ds:Transforms>"
	         "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"
	         "</ds:Transforms><ds:DigestMethod "
	         "Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>"
	         "<ds:DigestValue>AAEC</ds:DigestValue></ds:Reference>";
	xml[1] = "";
	xml[2] = "<Reference xmlns=\"" AS4_NS_DS "\" URI=\"cid:p@x\"><DigestMethod "
	         "Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>"
	         "<DigestValue>BQYH</DigestValue></Reference>";
	r->refs = refs;
	r->n = 3;
	r->xml = with_xml ? xml : NULL;
}

static void serialize_and_parse(xmlDoc *doc, struct parsed *p)
{
	struct as4_buf b;
	as4_buf_init(&b, 1u << 20);
	assert_int_equal(as4_ebms3_serialize(doc, &b), AS4_OK);
	parse_len(p, (const char *)b.data, b.len);
	as4_buf_cleanup(&b);
	assert_int_equal(p->err, AS4_OK);
}

static void test_build_receipt_nri(void **state)
{
	(void)state;
	for (int with_xml = 0; with_xml <= 1; with_xml++) {
		struct as4_signed_refs refs;
		make_refs(&refs, with_xml == 1);
		struct as4_receipt_spec spec = {"r-1@example.org", 1767323045678,
		                                "um-9@example.org", &refs, NULL};
		xmlDoc *doc = NULL;
		struct as4_diag d;
		as4_diag_init(&d);
		assert_int_equal(as4_ebms3_build_receipt(&spec, &doc, &d), AS4_OK);
		struct parsed p;
		serialize_and_parse(doc, &p);
		xmlFreeDoc(doc);
		const struct as4_signal_message *s = &p.m.signal;
		assert_int_equal(s->kind, AS4_SIGNAL_RECEIPT);
		assert_string_equal(s->message_id, "r-1@example.org");
		assert_string_equal(s->ref_to_message_id, "um-9@example.org");
		assert_string_equal(s->timestamp, "2026-01-02T03:04:05.678Z");
		assert_int_equal(s->n_nri, 3);
		for (size_t i = 0; i < 3; i++) {
			assert_string_equal(s->nri[i].uri, refs.refs[i].uri);
			assert_string_equal(s->nri[i].digest_method, refs.refs[i].digest_method);
			assert_string_equal(s->nri[i].digest_value, refs.refs[i].digest_value);
		}
		if (with_xml == 1) {
			/* the fragment was copied with its Transforms */
			const xmlNode *nri =
			        as4_xml_child(as4_xml_child(p.m.unit, AS4_NS_EB, "Receipt"),
			                      AS4_NS_EBBP, "NonRepudiationInformation");
			const xmlNode *ref = as4_xml_child(
			        as4_xml_child(nri, AS4_NS_EBBP, "MessagePartNRInformation"),
			        AS4_NS_DS, "Reference");
			assert_non_null(as4_xml_child(ref, AS4_NS_DS, "Transforms"));
		}
		assert_string_equal(as4_xml_attr(p.m.messaging, AS4_NS_SOAP12, "mustUnderstand"),
		                    "true");
		release(&p);
	}
}

/*
 * Every reference with its fragment: they are parsed together and copied in order; a
 * fragment that is not exactly one element is still refused, naming it.
 */
static void test_build_receipt_fragments_together(void **state)
{
	(void)state;
	struct as4_signed_refs refs;
	make_refs(&refs, true);
	char *xml[3] = {refs.xml[0],
	                "<ds:Reference xmlns:ds=\"" AS4_NS_DS "\" URI=\"#body\"><ds:DigestMethod "
	                "Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>"
	                "<ds:DigestValue>AwQ=</ds:DigestValue></ds:Reference>",
	                refs.xml[2]};
	refs.xml = xml;
	struct as4_receipt_spec spec = {"r-3@example.org", 0, "um-9@example.org", &refs, NULL};
	xmlDoc *doc = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_ebms3_build_receipt(&spec, &doc, &d), AS4_OK);
	struct parsed p;
	serialize_and_parse(doc, &p);
	xmlFreeDoc(doc);
	assert_int_equal(p.m.signal.n_nri, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(p.m.signal.nri[i].uri, refs.refs[i].uri);
		assert_string_equal(p.m.signal.nri[i].digest_value, refs.refs[i].digest_value);
	}
	release(&p);
	const char *bad[] = {"<ds:Reference xmlns:ds=\"" AS4_NS_DS "\" URI=\"#a\"/>"
	                     "<ds:Reference xmlns:ds=\"" AS4_NS_DS "\" URI=\"#b\"/>",
	                     "text<ds:Reference xmlns:ds=\"" AS4_NS_DS "\" URI=\"#a\"/>",
	                     "<Other/>"};
	for (size_t i = 0; i < AS4_ARRAY_LEN(bad); i++) {
		xml[1] = (char *)(uintptr_t)bad[i];
		as4_diag_init(&d);
		doc = NULL;
		assert_int_not_equal(as4_ebms3_build_receipt(&spec, &doc, &d), AS4_OK);
		assert_null(doc);
		assert_non_null(strstr(d.text, "reference 2"));
	}
}

static void test_build_receipt_user_message_copy(void **state)
{
	(void)state;
	size_t len = 0;
	char *xml = read_vector("UserMessage12.xml", &len);
	struct parsed um;
	parse_len(&um, xml, len);
	assert_int_equal(um.err, AS4_OK);
	struct as4_receipt_spec spec = {"r-2@example.org", 0, um.m.user.message_id, NULL,
	                                um.m.unit};
	xmlDoc *doc = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_ebms3_build_receipt(&spec, &doc, &d), AS4_OK);
	struct parsed p;
	serialize_and_parse(doc, &p);
	xmlFreeDoc(doc);
	assert_true(p.m.signal.receipt_user_message);
	assert_string_equal(p.m.signal.receipt_user_message_id,
	                    "2011-921@5209999001264.example.com");
	assert_int_equal(p.m.signal.n_nri, 0);
	/* the copy is a complete UserMessage that parses as one */
	const xmlNode *copy = as4_xml_child(as4_xml_child(p.m.unit, AS4_NS_EB, "Receipt"),
	                                    AS4_NS_EB, "UserMessage");
	assert_non_null(as4_xml_child(copy, AS4_NS_EB, "PartyInfo"));
	release(&p);
	release(&um);
	free(xml);
}

static void test_build_receipt_errors(void **state)
{
	(void)state;
	struct as4_signed_refs refs;
	make_refs(&refs, true);
	xmlDoc *doc = NULL;
	struct as4_diag d;
	struct as4_receipt_spec spec = {"r@x", 0, "u@x", NULL, NULL};
	as4_diag_init(&d);
	assert_int_equal(as4_ebms3_build_receipt(&spec, &doc, &d), AS4_E_INVAL);
	assert_non_null(strstr(d.text, "signed references or the eb:UserMessage"));
	spec.refs = &refs;
	spec.message_id = "bad id";
	as4_diag_init(&d);
	assert_int_equal(as4_ebms3_build_receipt(&spec, &doc, &d), AS4_E_INVAL);
	spec.message_id = "r@x";
	spec.ref_to_message_id = NULL;
	as4_diag_init(&d);
	assert_int_equal(as4_ebms3_build_receipt(&spec, &doc, &d), AS4_E_INVAL);
	spec.ref_to_message_id = "u@x";
	char *bad[3] = {"<x/>", "", ""};
	refs.xml = bad;
	as4_diag_init(&d);
	assert_int_equal(as4_ebms3_build_receipt(&spec, &doc, &d), AS4_E_INVAL);
	assert_string_equal(d.text, "reference 1 is not a ds:Reference");
	bad[0] = "<ds:Reference";
	as4_diag_init(&d);
	assert_int_equal(as4_ebms3_build_receipt(&spec, &doc, &d), AS4_E_XML);
	assert_true(as4_str_starts(d.text, "reference 1: "));
	refs.xml = NULL;
	refs.refs[1].digest_value = NULL;
	as4_diag_init(&d);
	assert_int_equal(as4_ebms3_build_receipt(&spec, &doc, &d), AS4_E_INVAL);
	assert_non_null(strstr(d.text, "reference 2 lacks"));
	refs.refs[1].digest_value = "AwQ=";
	assert_null(doc);
}

static void test_build_error_with_fault(void **state)
{
	(void)state;
	struct as4_ebms_error e;
	as4_ebms3_error_from_err(AS4_E_HEADER, "eb:From has no eb:PartyId", "um-7@example.org", &e);
	assert_string_equal(e.error_code, "EBMS:0009");
	assert_string_equal(e.short_description, "InvalidHeader");
	assert_string_equal(e.category, "Unpackaging");
	assert_string_equal(e.severity, "failure");
	assert_string_equal(e.origin, "ebMS");
	struct as4_error_spec spec = {"e-1@example.org",
	                              0,
	                              "um-7@example.org",
	                              &e,
	                              1,
	                              true,
	                              as4_ebms3_fault_is_receiver(AS4_E_HEADER)};
	xmlDoc *doc = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_ebms3_build_error(&spec, &doc, &d), AS4_OK);
	struct parsed p;
	serialize_and_parse(doc, &p);
	xmlFreeDoc(doc);
	const struct as4_signal_message *s = &p.m.signal;
	assert_int_equal(s->kind, AS4_SIGNAL_ERROR);
	assert_string_equal(s->ref_to_message_id, "um-7@example.org");
	assert_int_equal(s->n_errors, 1);
	assert_string_equal(s->errors[0].error_code, "EBMS:0009");
	assert_string_equal(s->errors[0].severity, "failure");
	assert_string_equal(s->errors[0].short_description, "InvalidHeader");
	assert_string_equal(s->errors[0].category, "Unpackaging");
	assert_string_equal(s->errors[0].origin, "ebMS");
	assert_string_equal(s->errors[0].ref_to_message_in_error, "um-7@example.org");
	assert_string_equal(s->errors[0].description, "invalid eb:Messaging header");
	assert_string_equal(s->errors[0].description_lang, "en");
	assert_string_equal(s->errors[0].detail, "eb:From has no eb:PartyId");
	assert_true(p.m.has_fault);
	xmlNode *fault = as4_xml_first_elem(p.m.body);
	xmlNode *code = as4_xml_child(fault, AS4_NS_SOAP12, "Code");
	char *v = as4_xml_text(as4_xml_child(code, AS4_NS_SOAP12, "Value"));
	assert_string_equal(v, "env:Sender");
	xmlFree(v);
	v = as4_xml_text(as4_xml_child(as4_xml_child(code, AS4_NS_SOAP12, "Subcode"), AS4_NS_SOAP12,
	                               "Value"));
	assert_string_equal(v, "eb:InvalidHeader");
	xmlFree(v);
	xmlNode *text =
	        as4_xml_child(as4_xml_child(fault, AS4_NS_SOAP12, "Reason"), AS4_NS_SOAP12, "Text");
	v = as4_xml_text(text);
	assert_string_equal(v, "EBMS:0009 InvalidHeader: eb:From has no eb:PartyId");
	xmlFree(v);
	xmlChar *lang = xmlNodeGetLang(text);
	assert_string_equal((const char *)lang, "en");
	xmlFree(lang);
	release(&p);
}

static void test_build_error_receiver_and_sanitising(void **state)
{
	(void)state;
	struct as4_ebms_error e[2];
	as4_ebms3_error_from_err(AS4_E_SPACE,
	                         "disk \x01"
	                         "full \xff\xfe",
	                         NULL, &e[0]);
	as4_ebms3_error_from_err(AS4_E_DECOMPRESS, NULL, NULL, &e[1]);
	e[1].severity = "warning";
	assert_true(as4_ebms3_fault_is_receiver(AS4_E_SPACE));
	assert_true(as4_ebms3_fault_is_receiver(AS4_E_DELIVERY));
	assert_false(as4_ebms3_fault_is_receiver(AS4_E_SIG_INVALID));
	assert_false(as4_ebms3_fault_is_receiver(AS4_E_PMODE_MISMATCH));
	struct as4_error_spec spec = {"e-2@example.org", 0, NULL, e, 2, true, true};
	xmlDoc *doc = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_ebms3_build_error(&spec, &doc, &d), AS4_OK);
	struct parsed p;
	serialize_and_parse(doc, &p);
	xmlFreeDoc(doc);
	const struct as4_signal_message *s = &p.m.signal;
	assert_null(s->ref_to_message_id);
	assert_int_equal(s->n_errors, 2);
	assert_string_equal(s->errors[0].error_code, "EBMS:0004");
	assert_string_equal(s->errors[0].detail, "disk ?full ??");
	assert_null(s->errors[0].ref_to_message_in_error);
	assert_string_equal(s->errors[1].error_code, "EBMS:0303");
	assert_string_equal(s->errors[1].short_description, "DecompressionFailure");
	assert_string_equal(s->errors[1].severity, "warning");
	assert_null(s->errors[1].detail);
	xmlNode *code = as4_xml_child(as4_xml_first_elem(p.m.body), AS4_NS_SOAP12, "Code");
	char *v = as4_xml_text(as4_xml_child(code, AS4_NS_SOAP12, "Value"));
	assert_string_equal(v, "env:Receiver");
	xmlFree(v);
	release(&p);
	/* without the fault the Body stays empty */
	spec.soap_fault = false;
	as4_diag_init(&d);
	assert_int_equal(as4_ebms3_build_error(&spec, &doc, &d), AS4_OK);
	serialize_and_parse(doc, &p);
	xmlFreeDoc(doc);
	assert_false(p.m.has_fault);
	assert_null(as4_xml_first_elem(p.m.body));
	release(&p);
}

static void test_build_error_long_detail(void **state)
{
	(void)state;
	size_t n = AS4_EBMS3_VALUE_MAX * 2;
	char *detail = malloc(n + 1);
	assert_non_null(detail);
	for (size_t i = 0; i < n; i += 2) {
		detail[i] = '\xc3'; /* "é" repeated: the cut must fall between characters */
		detail[i + 1] = '\xa9';
	}
	detail[n] = '\0';
	struct as4_ebms_error e;
	as4_ebms3_error_from_err(AS4_E_OTHER, detail, "u@x", &e);
	struct as4_error_spec spec = {"e-3@x", 0, "u@x", &e, 1, false, false};
	xmlDoc *doc = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_ebms3_build_error(&spec, &doc, &d), AS4_OK);
	struct parsed p;
	serialize_and_parse(doc, &p);
	xmlFreeDoc(doc);
	const char *got = p.m.signal.errors[0].detail;
	assert_true(strlen(got) <= AS4_EBMS3_VALUE_MAX);
	assert_true(as4_str_ends(got, "..."));
	assert_null(strchr(got, '?'));
	release(&p);
	free(detail);
}

static void test_build_error_rejects(void **state)
{
	(void)state;
	struct as4_ebms_error e;
	as4_ebms3_error_from_err(AS4_E_HEADER, "x", NULL, &e);
	struct as4_error_spec spec = {"e@x", 0, NULL, &e, 1, false, false};
	xmlDoc *doc = NULL;
	struct as4_diag d;
	spec.n_errors = 0;
	as4_diag_init(&d);
	assert_int_equal(as4_ebms3_build_error(&spec, &doc, &d), AS4_E_INVAL);
	spec.n_errors = 1;
	spec.message_id = NULL;
	as4_diag_init(&d);
	assert_int_equal(as4_ebms3_build_error(&spec, &doc, &d), AS4_E_INVAL);
	spec.message_id = "e@x";
	spec.ref_to_message_id = "a b";
	as4_diag_init(&d);
	assert_int_equal(as4_ebms3_build_error(&spec, &doc, &d), AS4_E_INVAL);
	spec.ref_to_message_id = NULL;
	e.severity = "fatal";
	as4_diag_init(&d);
	assert_int_equal(as4_ebms3_build_error(&spec, &doc, &d), AS4_E_INVAL);
	assert_non_null(strstr(d.text, "error 1 needs an errorCode"));
	e.severity = "failure";
	e.error_code = NULL;
	as4_diag_init(&d);
	assert_int_equal(as4_ebms3_build_error(&spec, &doc, &d), AS4_E_INVAL);
	assert_null(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_receipt),
	        cmocka_unit_test(test_parse_receipt_vectors),
	        cmocka_unit_test(test_parse_receipt_user_message_copy),
	        cmocka_unit_test(test_parse_error),
	        cmocka_unit_test(test_rejections),
	        cmocka_unit_test(test_build_receipt_nri),
	        cmocka_unit_test(test_build_receipt_fragments_together),
	        cmocka_unit_test(test_build_receipt_user_message_copy),
	        cmocka_unit_test(test_build_receipt_errors),
	        cmocka_unit_test(test_build_error_with_fault),
	        cmocka_unit_test(test_build_error_receiver_and_sanitising),
	        cmocka_unit_test(test_build_error_long_detail),
	        cmocka_unit_test(test_build_error_rejects),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
