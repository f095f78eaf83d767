/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/tree.h>

#include "as4/limits.h"
#include "as4/time.h"
#include "as4/xml.h"

static as4_err parse(const char *s, const struct as4_limits *lim, xmlDoc **doc, struct as4_diag *d)
{
	as4_diag_init(d);
	return as4_xml_parse((const uint8_t *)s, strlen(s), lim, doc, d);
}

static void test_good(void **state)
{
	(void)state;
	xmlDoc *doc = NULL;
	struct as4_diag d;
	const char *s = "\xEF\xBB\xBF<?xml version=\"1.0\"?>\n"
	                "<S:Envelope xmlns:S=\"" AS4_NS_SOAP12 "\"><S:Header a=\"1\"/>"
	                "<S:Body>  <x>t&amp;u</x><x/></S:Body></S:Envelope>";
	assert_int_equal(parse(s, NULL, &doc, &d), AS4_OK);
	xmlNode *root = xmlDocGetRootElement(doc);
	assert_true(as4_xml_is(root, AS4_NS_SOAP12, "Envelope"));
	xmlNode *hdr = as4_xml_child(root, AS4_NS_SOAP12, "Header");
	assert_non_null(hdr);
	assert_string_equal(as4_xml_attr(hdr, NULL, "a"), "1");
	assert_null(as4_xml_attr(hdr, NULL, "b"));
	xmlNode *body = as4_xml_next_elem(hdr);
	assert_true(as4_xml_is(body, AS4_NS_SOAP12, "Body"));
	assert_int_equal(as4_xml_count_children(body, NULL, "x"), 2);
	char *t = as4_xml_text(as4_xml_first_elem(body));
	assert_string_equal(t, "t&u");
	xmlFree(t);
	/* whitespace is kept (signatures depend on it) */
	assert_int_equal(body->children->type, XML_TEXT_NODE);
	xmlFreeDoc(doc);
}

static void test_refused(void **state)
{
	(void)state;
	xmlDoc *doc = NULL;
	struct as4_diag d;
	const char *lol = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\">"
	                  "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>\n<lolz>&lol2;</lolz>";
	assert_int_equal(parse(lol, NULL, &doc, &d), AS4_E_DOCTYPE);
	assert_null(doc);
	assert_non_null(strstr(d.text, "DOCTYPE"));
	const char *xxe = "<!DOCTYPE x SYSTEM \"file:///etc/passwd\"><x/>";
	assert_int_equal(parse(xxe, NULL, &doc, &d), AS4_E_DOCTYPE);
	assert_int_equal(parse("<a><b></a>", NULL, &doc, &d), AS4_E_XML);
	assert_non_null(strstr(d.text, "line 1"));
	assert_int_equal(parse("", NULL, &doc, &d), AS4_E_XML);
	assert_int_equal(parse("<a/><b/>", NULL, &doc, &d), AS4_E_XML);
	/* an undeclared entity reference is not well-formed without a DTD */
	assert_int_equal(parse("<a>&ext;</a>", NULL, &doc, &d), AS4_E_XML);

	struct as4_limits lim;
	as4_limits_default(&lim);
	lim.max_xml_depth = 5;
	assert_int_equal(parse("<a><b><c><d><e/></d></c></b></a>", &lim, &doc, &d), AS4_OK);
	xmlFreeDoc(doc);
	assert_int_equal(parse("<a><b><c><d><e><f/></e></d></c></b></a>", &lim, &doc, &d),
	                 AS4_E_LIMIT);
	assert_non_null(strstr(d.text, "deeper than 5"));
	as4_limits_default(&lim);
	lim.max_xml_nodes = 10;
	assert_int_equal(
	        parse("<a><b/><b/><b/><b/><b/><b/><b/><b/><b/><b/><b/></a>", &lim, &doc, &d),
	        AS4_E_LIMIT);
}

static void test_time(void **state)
{
	(void)state;
	int64_t ms = 0;
	assert_int_equal(as4_time_parse("2026-11-22T03:49:43.123Z", &ms), AS4_OK);
	char out[AS4_TIME_TEXT_MAX];
	as4_time_format(ms, out);
	assert_string_equal(out, "2026-11-22T03:49:43.123Z");
	assert_int_equal(as4_time_parse("1970-01-01T00:00:00Z", &ms), AS4_OK);
	assert_int_equal(ms, 0);
	assert_int_equal(as4_time_parse("2016-09-21T15:03:40.314+02:00", &ms), AS4_OK);
	as4_time_format(ms, out);
	assert_string_equal(out, "2016-09-21T13:03:40.314Z");
	assert_int_equal(as4_time_parse("2011-04-03T14:49:28.886", &ms), AS4_OK);
	as4_time_format(ms, out);
	assert_string_equal(out, "2011-04-03T14:49:28.886Z");
	assert_int_equal(as4_time_parse("2024-02-29", &ms), AS4_OK);
	as4_time_format(ms, out);
	assert_string_equal(out, "2024-02-29T00:00:00.000Z");
	assert_int_equal(as4_time_parse("2024-13-01T00:00:00Z", &ms), AS4_E_INVAL);
	assert_int_equal(as4_time_parse("2024-01-01T00:00:00Zjunk", &ms), AS4_E_INVAL);
	assert_int_equal(as4_time_parse("yesterday", &ms), AS4_E_INVAL);
	assert_int_equal(as4_time_parse("2024-01-01T00:00:00.Z", &ms), AS4_E_INVAL);
	assert_true(as4_time_now_ms() > 1700000000000LL);
	int64_t a = as4_time_mono_ns();
	assert_true(as4_time_mono_ns() >= a);
}

int main(void)
{
	as4_xml_global_init();
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_good),
	        cmocka_unit_test(test_refused),
	        cmocka_unit_test(test_time),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	as4_xml_global_cleanup();
	return rc;
}
