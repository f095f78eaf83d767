/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Identifiers, case rules, GLN, SML/BDXL DNS names (every hash vector of SMP-NOTES §1.2) and
 * SMP URL building (SMP-NOTES §2.2).
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
#include "as4/smp.h"
#include "as4/str.h"

static struct as4_smp_id mk(const char *scheme, const char *value)
{
	struct as4_smp_id id;
	memset(&id, 0, sizeof(id));
	assert_int_equal(as4_str_copy(id.scheme, sizeof(id.scheme), scheme), AS4_OK);
	assert_int_equal(as4_str_copy(id.value, sizeof(id.value), value), AS4_OK);
	return id;
}

static as4_err parse(const char *text, enum as4_smp_id_kind kind, struct as4_smp_id *id,
                     struct as4_diag *d)
{
	as4_diag_init(d);
	return as4_smp_id_parse(text, kind, id, d);
}

static void test_parse_split(void **state)
{
	(void)state;
	struct as4_smp_id id;
	struct as4_diag d;
	/* split at the FIRST "::" (SMP-NOTES §1.1) */
	assert_int_equal(parse("a::b::c", AS4_SMP_ID_DOCUMENT, &id, &d), AS4_OK);
	assert_string_equal(id.scheme, "a");
	assert_string_equal(id.value, "b::c");
	/* surrounding whitespace of the text and of both parts is trimmed */
	assert_int_equal(parse("  iso6523-actorid-upis :: 0088:5798000000001 \n",
	                       AS4_SMP_ID_PARTICIPANT, &id, &d),
	                 AS4_OK);
	assert_string_equal(id.scheme, "iso6523-actorid-upis");
	assert_string_equal(id.value, "0088:5798000000001");
	assert_int_equal(parse("busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:"
	                       "Invoice-2::Invoice##urn:cen.eu:en16931:2017::2.1",
	                       AS4_SMP_ID_DOCUMENT, &id, &d),
	                 AS4_OK);
	assert_string_equal(id.scheme, "busdox-docid-qns");
	assert_string_equal(id.value, "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::"
	                              "Invoice##urn:cen.eu:en16931:2017::2.1");
	char text[AS4_SMP_ID_TEXT_MAX + 1];
	assert_int_equal(as4_smp_id_format(&id, text, sizeof(text)), AS4_OK);
	assert_string_equal(text, "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:"
	                          "Invoice-2::Invoice##urn:cen.eu:en16931:2017::2.1");
	char small[8];
	assert_int_equal(as4_smp_id_format(&id, small, sizeof(small)), AS4_E_LIMIT);

	/* ebCore party ids with single colons, and DomiSMP's "::urn:..." */
	assert_int_equal(parse("urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088:5798000000001",
	                       AS4_SMP_ID_PARTICIPANT, &id, &d),
	                 AS4_OK);
	assert_string_equal(id.scheme, "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088");
	assert_string_equal(id.value, "5798000000001");
	assert_int_equal(parse("::urn:oasis:names:tc:ebcore:partyid-type:iso6523:0184:DK12345678",
	                       AS4_SMP_ID_PARTICIPANT, &id, &d),
	                 AS4_OK);
	assert_string_equal(id.scheme, "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0184");
	assert_string_equal(id.value, "DK12345678");
	assert_int_equal(parse("urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088::4035811991021",
	                       AS4_SMP_ID_PARTICIPANT, &id, &d),
	                 AS4_OK);
	assert_string_equal(id.scheme, "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088");
	assert_string_equal(id.value, "4035811991021");
	assert_int_equal(parse("urn:oasis:names:tc:ebcore:partyid-type:iso6523",
	                       AS4_SMP_ID_PARTICIPANT, &id, &d),
	                 AS4_E_INVAL);
	assert_non_null(strstr(as4_diag_text(&d), "ebCore"));

	/* from separate parts (SBDH Authority + Identifier) */
	as4_diag_init(&d);
	assert_int_equal(as4_smp_id_set(" iso6523-actorid-upis", "0184:DK12345678 ",
	                                AS4_SMP_ID_PARTICIPANT, &id, &d),
	                 AS4_OK);
	assert_string_equal(id.value, "0184:DK12345678");
}

static void test_parse_errors(void **state)
{
	(void)state;
	struct as4_smp_id id;
	struct as4_diag d;
	assert_int_equal(parse("no-separator", AS4_SMP_ID_DOCUMENT, &id, &d), AS4_E_INVAL);
	assert_non_null(strstr(as4_diag_text(&d), "scheme::value"));
	assert_int_equal(parse("::value", AS4_SMP_ID_DOCUMENT, &id, &d), AS4_E_INVAL);
	assert_non_null(strstr(as4_diag_text(&d), "no scheme"));
	assert_int_equal(parse("scheme::  ", AS4_SMP_ID_DOCUMENT, &id, &d), AS4_E_INVAL);
	assert_non_null(strstr(as4_diag_text(&d), "empty value"));
	assert_int_equal(parse("scheme::a\x01"
	                       "b",
	                       AS4_SMP_ID_PROCESS, &id, &d),
	                 AS4_E_INVAL);
	assert_non_null(strstr(as4_diag_text(&d), "control"));
	assert_int_equal(parse("scheme::\xc3\x28", AS4_SMP_ID_PROCESS, &id, &d), AS4_E_INVAL);
	assert_non_null(strstr(as4_diag_text(&d), "UTF-8"));
	assert_int_equal(parse("scheme::\xed\xa0\x80", AS4_SMP_ID_PROCESS, &id, &d), AS4_E_INVAL);
	assert_int_equal(parse("scheme::\xc3\xa6\xc3\xb8\xc3\xa5", AS4_SMP_ID_PROCESS, &id, &d),
	                 AS4_OK);

	/* lengths: the scheme and value maxima, and the Peppol participant maximum (PFUOI 4.4) */
	char big[AS4_SMP_ID_TEXT_MAX + 64];
	memset(big, 'a', sizeof(big));
	memcpy(big, "s::", 3);
	big[3 + AS4_SMP_VALUE_MAX] = '\0';
	assert_int_equal(parse(big, AS4_SMP_ID_DOCUMENT, &id, &d), AS4_OK);
	big[3 + AS4_SMP_VALUE_MAX] = 'a';
	big[4 + AS4_SMP_VALUE_MAX] = '\0';
	assert_int_equal(parse(big, AS4_SMP_ID_DOCUMENT, &id, &d), AS4_E_INVAL);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(parse(big, AS4_SMP_ID_DOCUMENT, &id, &d), AS4_E_INVAL);
	char pid[200];
	memset(pid, '1', sizeof(pid));
	memcpy(pid, "iso6523-actorid-upis::0184:", 27);
	pid[27 + 125] = '\0'; /* value "0184:" + 125 = 130 characters */
	assert_int_equal(parse(pid, AS4_SMP_ID_PARTICIPANT, &id, &d), AS4_OK);
	pid[27 + 125] = '1';
	pid[27 + 126] = '\0';
	assert_int_equal(parse(pid, AS4_SMP_ID_PARTICIPANT, &id, &d), AS4_E_INVAL);
	assert_non_null(strstr(as4_diag_text(&d), "130"));
	char doc[600];
	memset(doc, 'x', sizeof(doc));
	memcpy(doc, "busdox-docid-qns::", 18);
	doc[18 + 501] = '\0';
	assert_int_equal(parse(doc, AS4_SMP_ID_DOCUMENT, &id, &d), AS4_E_INVAL);
	assert_non_null(strstr(as4_diag_text(&d), "500"));
	memcpy(doc, "other-docid-sche::", 18);
	assert_int_equal(parse(doc, AS4_SMP_ID_DOCUMENT, &id, &d), AS4_OK);

	/* iso6523-actorid-upis: "<4-digit ICD>:<id>", printable ASCII */
	assert_int_equal(parse("iso6523-actorid-upis::88:1", AS4_SMP_ID_PARTICIPANT, &id, &d),
	                 AS4_E_INVAL);
	assert_non_null(strstr(as4_diag_text(&d), "ICD"));
	assert_int_equal(parse("iso6523-actorid-upis::0184:", AS4_SMP_ID_PARTICIPANT, &id, &d),
	                 AS4_E_INVAL);
	assert_int_equal(parse("iso6523-actorid-upis::0184:a b", AS4_SMP_ID_PARTICIPANT, &id, &d),
	                 AS4_E_INVAL);
	/* ICD 0088 is a GLN: the GS1 check digit is verified */
	assert_int_equal(
	        parse("iso6523-actorid-upis::0088:5798000000001", AS4_SMP_ID_PARTICIPANT, &id, &d),
	        AS4_OK);
	assert_int_equal(
	        parse("iso6523-actorid-upis::0088:5798000000002", AS4_SMP_ID_PARTICIPANT, &id, &d),
	        AS4_E_GLN);
	assert_non_null(strstr(as4_diag_text(&d), "check digit"));
	assert_int_equal(
	        parse("iso6523-actorid-upis::0088:123abc", AS4_SMP_ID_PARTICIPANT, &id, &d),
	        AS4_E_GLN);
	assert_int_equal(parse("urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088:4035811991022",
	                       AS4_SMP_ID_PARTICIPANT, &id, &d),
	                 AS4_E_GLN);
	/* a document type is not a participant: no ICD rules */
	assert_int_equal(parse("iso6523-actorid-upis::x", AS4_SMP_ID_DOCUMENT, &id, &d), AS4_OK);
}

static void test_gln(void **state)
{
	(void)state;
	assert_true(as4_smp_gln_valid("5798000000001"));
	assert_true(as4_smp_gln_valid("1234567890128"));
	assert_true(as4_smp_gln_valid("4035811991021"));
	assert_true(as4_smp_gln_valid("5790001398644"));
	assert_false(as4_smp_gln_valid("1234567890123"));
	assert_false(as4_smp_gln_valid("5798000000000"));
	assert_false(as4_smp_gln_valid("579800000001"));
	assert_false(as4_smp_gln_valid("57980000000011"));
	assert_false(as4_smp_gln_valid("579800000000a"));
	assert_false(as4_smp_gln_valid(""));
	assert_false(as4_smp_gln_valid(NULL));
}

static void test_case_rules(void **state)
{
	(void)state;
	struct as4_smp_id a = mk("iso6523-actorid-upis", "0184:dk12345678");
	struct as4_smp_id b = mk("iso6523-actorid-upis", "0184:DK12345678");
	/* PFUOI POLICY 2: Peppol participant values are case-insensitive ... */
	assert_true(as4_smp_id_equal(AS4_SMP_PROTO_PEPPOL, AS4_SMP_ID_PARTICIPANT, &a, &b));
	/* ... schemes, document types and processes are not */
	struct as4_smp_id c = mk("ISO6523-ACTORID-UPIS", "0184:dk12345678");
	assert_false(as4_smp_id_equal(AS4_SMP_PROTO_PEPPOL, AS4_SMP_ID_PARTICIPANT, &a, &c));
	struct as4_smp_id d1 = mk("busdox-docid-qns", "urn:x::Invoice");
	struct as4_smp_id d2 = mk("busdox-docid-qns", "urn:x::invoice");
	assert_false(as4_smp_id_equal(AS4_SMP_PROTO_PEPPOL, AS4_SMP_ID_DOCUMENT, &d1, &d2));
	assert_true(as4_smp_id_equal(AS4_SMP_PROTO_PEPPOL, AS4_SMP_ID_DOCUMENT, &d1, &d1));
	/* OASIS SMP 1.0: participant and document identifiers are case-insensitive */
	assert_true(as4_smp_id_equal(AS4_SMP_PROTO_OASIS1, AS4_SMP_ID_DOCUMENT, &d1, &d2));
	assert_true(as4_smp_id_equal(AS4_SMP_PROTO_OASIS1, AS4_SMP_ID_PARTICIPANT, &a, &c));
	assert_false(as4_smp_id_equal(AS4_SMP_PROTO_OASIS1, AS4_SMP_ID_PROCESS, &d1, &d2));
	assert_false(as4_smp_id_equal(AS4_SMP_PROTO_OASIS2, AS4_SMP_ID_DOCUMENT, &d1, &d2));
	/* a participant of another scheme keeps its case in Peppol */
	struct as4_smp_id e1 = mk("other", "AbC");
	struct as4_smp_id e2 = mk("other", "abc");
	assert_false(as4_smp_id_equal(AS4_SMP_PROTO_PEPPOL, AS4_SMP_ID_PARTICIPANT, &e1, &e2));
	/* cache keys fold exactly what compares case-insensitively */
	char k1[AS4_SMP_ID_TEXT_MAX + 1];
	char k2[AS4_SMP_ID_TEXT_MAX + 1];
	assert_int_equal(
	        as4_smp_id_key(AS4_SMP_PROTO_PEPPOL, AS4_SMP_ID_PARTICIPANT, &b, k1, sizeof(k1)),
	        AS4_OK);
	assert_string_equal(k1, "iso6523-actorid-upis::0184:dk12345678");
	assert_int_equal(
	        as4_smp_id_key(AS4_SMP_PROTO_PEPPOL, AS4_SMP_ID_DOCUMENT, &d1, k1, sizeof(k1)),
	        AS4_OK);
	assert_string_equal(k1, "busdox-docid-qns::urn:x::Invoice");
	assert_int_equal(
	        as4_smp_id_key(AS4_SMP_PROTO_OASIS1, AS4_SMP_ID_PARTICIPANT, &c, k1, sizeof(k1)),
	        AS4_OK);
	assert_int_equal(
	        as4_smp_id_key(AS4_SMP_PROTO_OASIS1, AS4_SMP_ID_PARTICIPANT, &a, k2, sizeof(k2)),
	        AS4_OK);
	assert_string_equal(k1, k2);
}

/* The DNS name of scheme::value under a mode and zone. */
static void name_of(enum as4_smp_dns_mode mode, bool lower, const char *zone, const char *scheme,
                    const char *value, char *out)
{
	struct as4_smp_network net;
	memset(&net, 0, sizeof(net));
	net.dns_mode = mode;
	net.dns_lowercase = lower;
	net.zone = zone;
	struct as4_smp_id id = mk(scheme, value);
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_smp_dns_name(&net, &id, out, AS4_SMP_DNS_NAME_MAX + 1, &d);
	if (err != AS4_OK) {
		fail_msg("%s", as4_diag_text(&d));
	}
}

#define PROD "participant.sml.prod.tech.peppol.org"

static void test_dns_vectors(void **state)
{
	(void)state;
	char n[AS4_SMP_DNS_NAME_MAX + 1];
	const char *pp = AS4_SMP_PEPPOL_PARTICIPANT_SCHEME;
	/* SMP-NOTES §1.2, recomputed there with Python hashlib */
	name_of(AS4_SMP_DNS_PEPPOL, false, PROD, pp, "0088:123abc", n);
	assert_string_equal(n, "y7dzfxaf3d4cjz4kcgrxtec6twvcga4ky7zwa5boif6mswd4tdrq."
	                       "iso6523-actorid-upis." PROD);
	name_of(AS4_SMP_DNS_PEPPOL, false, PROD, pp, "0088:123ABC", n);
	assert_string_equal(n, "y7dzfxaf3d4cjz4kcgrxtec6twvcga4ky7zwa5boif6mswd4tdrq."
	                       "iso6523-actorid-upis." PROD);
	name_of(AS4_SMP_DNS_PEPPOL_LEGACY, false, PROD, pp, "0088:123abc", n);
	assert_string_equal(n, "B-f5e78500450d37de5aabe6648ac3bb70.iso6523-actorid-upis." PROD);
	name_of(AS4_SMP_DNS_PEPPOL_LEGACY, false, PROD, pp, "0088:123ABC", n);
	assert_string_equal(n, "B-f5e78500450d37de5aabe6648ac3bb70.iso6523-actorid-upis." PROD);
	name_of(AS4_SMP_DNS_PEPPOL, false, PROD, pp, "0010:5798000000001", n);
	assert_string_equal(n, "xukhfqabqziki3ykvr2fhr4snfa3pf5vpq6k4tonv3lmvsy5arvq."
	                       "iso6523-actorid-upis." PROD);
	name_of(AS4_SMP_DNS_PEPPOL, false, PROD, pp, "0088:5798000000001", n);
	assert_string_equal(n, "reana6asz6h7dlkfrw4fbjgue7z74gx3uta2oik2p6tawtasctoq."
	                       "iso6523-actorid-upis." PROD);
	name_of(AS4_SMP_DNS_PEPPOL, false, "participant.sml.test.tech.peppol.org.", pp, "9915:test",
	        n);
	assert_string_equal(n, "eh5boavaktmbgzyh2a63dz4qov33fvp5nsdvqklucfraayoodw6a."
	                       "iso6523-actorid-upis.participant.sml.test.tech.peppol.org");
	name_of(AS4_SMP_DNS_PEPPOL, false, PROD, pp, "0088:1234567890123", n);
	assert_string_equal(n, "sjsyvccmqyjxk3weuapffq4x3umcrf4qryherj4vovhmonh7gccq."
	                       "iso6523-actorid-upis." PROD);
	/* the value alone of the ebCore example, Peppol-style */
	name_of(AS4_SMP_DNS_PEPPOL, false, PROD, pp, "0088:4035811991021", n);
	assert_true(as4_str_starts(n, "lzmedsmzxyd37yc74tzvpycmuanfcmn667jhgbfqddrvmse6nyta."));
	/* eDelivery BDXL: the ebCore URN "scheme:value" is hashed (output case is irrelevant) */
	name_of(AS4_SMP_DNS_BDXL, true, "ehealth.acc.edelivery.tech.ec.europa.eu",
	        "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088", "4035811991021", n);
	assert_true(as4_str_ieq(n, "I3QYB36CTAYRFGTHBYCQZDTOJFHGAZJEGLFOOE7727EGVDWRK5QQ."
	                           "ehealth.acc.edelivery.tech.ec.europa.eu"));
	/* DBNAlliance: lower(scheme::value), no scheme label */
	name_of(AS4_SMP_DNS_BDXL, true, "sml.dbnalliance.com", "GLN", "1234567890123", n);
	assert_string_equal(n, "qcie7f2ny3ze5nmhqse7z5j6jerds3gc437bfjl2k6vq6minb47a."
	                       "sml.dbnalliance.com");
	/* without lower-casing, BDXL hashes as given */
	name_of(AS4_SMP_DNS_BDXL, false, "sml.dbnalliance.com", "GLN", "1234567890123", n);
	assert_true(as4_str_starts(n, "bb4ygky5ofrif27s6csakfu2qvedqrbdcilmhid3exuhull5d3xq."));
	/* Peppol lower-cases always: ABC gives abc's hash, never ABC's (wxkaixb7...) */
	name_of(AS4_SMP_DNS_PEPPOL, false, PROD, pp, "ABC", n);
	assert_true(as4_str_starts(n, "xj4bnp4pahh6uqkbidpf3lrceoyagyndsylxvhfucd7wd4qacwwq."));
	/* the scheme label is lower-cased too */
	name_of(AS4_SMP_DNS_PEPPOL, false, PROD, "ISO6523-ACTORID-UPIS", "abc", n);
	assert_true(as4_str_ends(n, ".iso6523-actorid-upis." PROD));
}

static void test_dns_name_errors(void **state)
{
	(void)state;
	struct as4_smp_network net;
	memset(&net, 0, sizeof(net));
	char n[AS4_SMP_DNS_NAME_MAX + 1];
	struct as4_diag d;
	struct as4_smp_id id = mk("iso6523-actorid-upis", "0088:5798000000001");
	net.dns_mode = AS4_SMP_DNS_NONE;
	as4_diag_init(&d);
	assert_int_equal(as4_smp_dns_name(&net, &id, n, sizeof(n), &d), AS4_E_INVAL);
	net.dns_mode = AS4_SMP_DNS_PEPPOL;
	net.zone = "bad zone";
	as4_diag_init(&d);
	assert_int_equal(as4_smp_dns_name(&net, &id, n, sizeof(n), &d), AS4_E_INVAL);
	assert_non_null(strstr(as4_diag_text(&d), "zone"));
	net.zone = "a..b";
	assert_int_equal(as4_smp_dns_name(&net, &id, n, sizeof(n), NULL), AS4_E_INVAL);
	net.zone = NULL;
	assert_int_equal(as4_smp_dns_name(&net, &id, n, sizeof(n), NULL), AS4_E_INVAL);
	net.zone = "sml.example";
	struct as4_smp_id bad = mk("urn:with:colons", "x");
	as4_diag_init(&d);
	assert_int_equal(as4_smp_dns_name(&net, &bad, n, sizeof(n), &d), AS4_E_INVAL);
	assert_non_null(strstr(as4_diag_text(&d), "DNS label"));
	/* BDXL has no scheme label, so any scheme works */
	net.dns_mode = AS4_SMP_DNS_BDXL;
	assert_int_equal(as4_smp_dns_name(&net, &bad, n, sizeof(n), NULL), AS4_OK);
	/* a zone so long that the name passes 253 characters */
	char zone[260];
	for (size_t i = 0; i < 4; i++) {
		memset(zone + i * 50, 'z', 49);
		zone[i * 50 + 49] = '.';
	}
	memcpy(zone + 200, "example", 8);
	net.zone = zone;
	as4_diag_init(&d);
	assert_int_equal(as4_smp_dns_name(&net, &id, n, sizeof(n), &d), AS4_E_INVAL);
	assert_non_null(strstr(as4_diag_text(&d), "253"));
	char tiny[10];
	net.zone = "sml.example";
	assert_int_equal(as4_smp_dns_name(&net, &id, tiny, sizeof(tiny), NULL), AS4_E_LIMIT);
}

static void url_is(enum as4_smp_proto p, const char *base, const char *pid, const char *did,
                   const char *want)
{
	struct as4_smp_id a;
	struct as4_smp_id b;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_smp_id_parse(pid, AS4_SMP_ID_PARTICIPANT, &a, &d), AS4_OK);
	if (did != NULL) {
		assert_int_equal(as4_smp_id_parse(did, AS4_SMP_ID_DOCUMENT, &b, &d), AS4_OK);
	}
	char *url = NULL;
	assert_int_equal(as4_smp_url(p, base, &a, did != NULL ? &b : NULL, &url, &d), AS4_OK);
	assert_string_equal(url, want);
	free(url);
}

static void test_urls(void **state)
{
	(void)state;
	const char *pid = "iso6523-actorid-upis::9915:test";
	const char *did =
	        "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2:"
	        ":Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:"
	        "billing:3.0::2.1";
	const char *enc =
	        "busdox-docid-qns%3A%3Aurn%3Aoasis%3Anames%3Aspecification%3Aubl%3Aschema"
	        "%3Axsd%3AInvoice-2%3A%3AInvoice%23%23urn%3Acen.eu%3Aen16931%3A2017%23"
	        "compliant%23urn%3Afdc%3Apeppol.eu%3A2017%3Apoacc%3Abilling%3A3.0%3A%3A2.1";
	char want[1024];
	/* a base with a path (the SMP-NOTES §1.2 NAPTR example) keeps it; one "/" in between */
	snprintf(want, sizeof(want),
	         "https://test.erechnung.gv.at/smp/iso6523-actorid-upis%%3A%%3A9915%%3Atest/"
	         "services/%s",
	         enc);
	url_is(AS4_SMP_PROTO_PEPPOL, "https://test.erechnung.gv.at/smp", pid, did, want);
	url_is(AS4_SMP_PROTO_PEPPOL, "https://test.erechnung.gv.at/smp/", pid, did, want);
	url_is(AS4_SMP_PROTO_PEPPOL, "https://test.erechnung.gv.at/smp///", pid, did, want);
	/* a bare host (oxalis#498: never "http://smp.difi.nohttp/...") */
	url_is(AS4_SMP_PROTO_PEPPOL, "http://smp.difi.no", "iso6523-actorid-upis::0192:991825827",
	       NULL, "http://smp.difi.no/iso6523-actorid-upis%3A%3A0192%3A991825827");
	url_is(AS4_SMP_PROTO_PEPPOL, "http://127.0.0.1:8080/",
	       "iso6523-actorid-upis::0192:991825827", NULL,
	       "http://127.0.0.1:8080/iso6523-actorid-upis%3A%3A0192%3A991825827");
	/* SMP 2.0 puts bdxr-smp-2/ before the participant */
	url_is(AS4_SMP_PROTO_OASIS2, "https://smp.example/x",
	       "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088::5798000000001", "doc::a b/c?d",
	       "https://smp.example/x/bdxr-smp-2/"
	       "urn%3Aoasis%3Anames%3Atc%3Aebcore%3Apartyid-type%3A"
	       "iso6523%3A0088%3A%3A5798000000001/services/doc%3A%3Aa%20b%2Fc%3Fd");
	/* RFC 3986: only unreserved characters stay; %, *, @, +, space are encoded once */
	url_is(AS4_SMP_PROTO_OASIS1, "https://smp.example", "s::v", "d::%41*@+~-._ x",
	       "https://smp.example/s%3A%3Av/services/d%3A%3A%2541%2A%40%2B~-._%20x");

	struct as4_smp_id a;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_smp_id_parse("s::v", AS4_SMP_ID_PARTICIPANT, &a, &d), AS4_OK);
	static const char *const bad[] = {
	        "ftp://smp.example/",
	        "https://",
	        "https:///x",
	        "https://smp.example/?q=1",
	        "https://smp.example/#f",
	        "https://user@smp.example/",
	        "smp.example",
	        "https://smp example/",
	        "https://smp.example:0/",
	        "https://smp.example:99999/",
	        "https://smp.example/%zz",
	        "https://[::1/",
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(bad); i++) {
		char *url = NULL;
		as4_diag_init(&d);
		if (as4_smp_url(AS4_SMP_PROTO_PEPPOL, bad[i], &a, NULL, &url, &d) != AS4_E_INVAL) {
			fail_msg("base '%s' accepted", bad[i]);
		}
		assert_null(url);
	}
	char *url = NULL;
	assert_int_equal(
	        as4_smp_url(AS4_SMP_PROTO_PEPPOL, "https://[::1]:8443", &a, NULL, &url, &d),
	        AS4_OK);
	assert_string_equal(url, "https://[::1]:8443/s%3A%3Av");
	free(url);
}

static void test_url_check(void **state)
{
	(void)state;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_smp_url_check("https://ap.example/as4", false, false, "x", &d),
	                 AS4_OK);
	assert_int_equal(as4_smp_url_check("http://ap.example/as4", false, false, "x", &d),
	                 AS4_E_SMP_BAD_RESPONSE);
	assert_non_null(strstr(as4_diag_text(&d), "https"));
	assert_int_equal(as4_smp_url_check("http://ap.example/as4", true, false, "x", NULL),
	                 AS4_OK);
	assert_int_equal(as4_smp_url_check("HTTPS://AP.EXAMPLE/as4", false, false, "x", NULL),
	                 AS4_OK);
	assert_int_equal(as4_smp_url_check("https://ap.example/as4?x=1", false, false, "x", NULL),
	                 AS4_E_SMP_BAD_RESPONSE);
	assert_int_equal(as4_smp_url_check("https://ap.example/as4?x=1", false, true, "x", NULL),
	                 AS4_OK);
	assert_int_equal(as4_smp_url_check("https://ap.example/\xc3\xa6", false, true, "x", NULL),
	                 AS4_E_SMP_BAD_RESPONSE);
	assert_int_equal(as4_smp_url_check("https://ap.example\\@evil/", false, true, "x", NULL),
	                 AS4_E_SMP_BAD_RESPONSE);
	char longurl[2100];
	memset(longurl, 'a', sizeof(longurl));
	memcpy(longurl, "https://a/", 10);
	longurl[sizeof(longurl) - 1] = '\0';
	assert_int_equal(as4_smp_url_check(longurl, false, true, "x", NULL),
	                 AS4_E_SMP_BAD_RESPONSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_split), cmocka_unit_test(test_parse_errors),
	        cmocka_unit_test(test_gln),         cmocka_unit_test(test_case_rules),
	        cmocka_unit_test(test_dns_vectors), cmocka_unit_test(test_dns_name_errors),
	        cmocka_unit_test(test_urls),        cmocka_unit_test(test_url_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
