/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS answer parsing (sml_dns.c): NAPTR records, CNAME/DNAME chains, outcome classes, hostile
 * messages; the U-NAPTR regexp (RFC 3402 §3.2) with any delimiter, applied once; and the
 * libresolv back end against a server that does not answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../smp-client/smp_int.h"
#include "as4/str.h"
#include "dns_build.h"

#define Q "abc.iso6523-actorid-upis.sml.example"

static struct as4_smp_dns_answer ans;

static as4_err parse(const struct dnsmsg *m, const char *qname, uint16_t qtype, struct as4_diag *d)
{
	assert_false(m->overflow);
	as4_diag_init(d);
	return as4_smp_dns_parse(m->b, m->len, qname, qtype, &ans, d);
}

static void test_naptr_basic(void **state)
{
	(void)state;
	struct dnsmsg m;
	struct as4_diag d;
	dm_start(&m, 0x8180, Q, 35, 3);
	dm_naptr(&m, NULL, 60, 100, 20, "U", "meta:smp", "!.*!https://b.example/!", ".");
	dm_naptr(&m, NULL, 30, 100, 10, "U", "Meta:SMP", "!.*!https://a.example/smp!", ".");
	dm_naptr(&m, NULL, 90, 50, 10, "U", "https://not-a-service", "!.*!https://c.example/!",
	         ".");
	assert_int_equal(parse(&m, Q, 35, &d), AS4_OK);
	assert_int_equal(ans.n_naptr, 3);
	assert_int_equal(ans.n_chain, 0);
	assert_string_equal(ans.owner, Q);
	assert_string_equal(ans.naptr[0].service, "meta:smp");
	assert_string_equal(ans.naptr[1].regexp, "!.*!https://a.example/smp!");
	assert_string_equal(ans.naptr[1].replacement, ".");
	assert_int_equal(ans.naptr[1].ttl, 30);
	assert_int_equal(ans.chain_ttl, UINT32_MAX);
	/* sorted by order, then preference */
	size_t idx[AS4_SMP_NAPTR_MAX];
	assert_int_equal(as4_smp_naptr_sorted(&ans, idx), 3);
	assert_int_equal(idx[0], 2);
	assert_int_equal(idx[1], 1);
	assert_int_equal(idx[2], 0);
	/* the question name may differ in case (RFC 4343) */
	assert_int_equal(parse(&m, "ABC.ISO6523-actorid-upis.SML.example.", 35, &d), AS4_OK);
	assert_int_equal(ans.n_naptr, 3);
}

static void test_chains(void **state)
{
	(void)state;
	struct dnsmsg m;
	struct as4_diag d;
	/* CNAME -> CNAME -> NAPTR, records in any order; TTL is the minimum of the hops */
	dm_start(&m, 0x8180, Q, 35, 4);
	dm_naptr(&m, "smp.publisher.example", 300, 100, 10, "U", "Meta:SMP", "!.*!https://p/!",
	         ".");
	dm_alias(&m, "mid.example", 5, 40, "smp.publisher.example");
	dm_alias(&m, NULL, 5, 120, "mid.example");
	dm_naptr(&m, NULL, 10, 1, 1, "U", "Meta:SMP", "!.*!https://ignored/!", ".");
	assert_int_equal(parse(&m, Q, 35, &d), AS4_OK);
	assert_int_equal(ans.n_chain, 2);
	assert_string_equal(ans.owner, "smp.publisher.example");
	assert_int_equal(ans.n_naptr, 1);
	assert_string_equal(ans.naptr[0].regexp, "!.*!https://p/!");
	assert_int_equal(ans.chain_ttl, 40);
	assert_non_null(strstr(ans.chain, "CNAME mid.example"));

	/* DNAME: the new Peppol zone was a DNAME onto the old one (phoss-smp#482) */
	dm_start(&m, 0x8180, Q, 35, 2);
	dm_alias(&m, "sml.example", 39, 50, "edelivery.example");
	dm_naptr(&m, "abc.iso6523-actorid-upis.edelivery.example", 70, 1, 1, "U", "Meta:SMP",
	         "!.*!https://d/!", ".");
	assert_int_equal(parse(&m, Q, 35, &d), AS4_OK);
	assert_string_equal(ans.owner, "abc.iso6523-actorid-upis.edelivery.example");
	assert_int_equal(ans.n_naptr, 1);
	assert_int_equal(ans.chain_ttl, 50);
	/* a DNAME owns names below it, not itself */
	dm_start(&m, 0x8180, "sml.example", 35, 1);
	dm_alias(&m, "sml.example", 39, 50, "edelivery.example");
	assert_int_equal(parse(&m, "sml.example", 35, &d), AS4_OK);
	assert_int_equal(ans.n_chain, 0);

	/* NODATA behind a CNAME: parsed, nothing found, the caller decides */
	dm_start(&m, 0x8180, Q, 35, 1);
	dm_alias(&m, NULL, 5, 40, "empty.example");
	assert_int_equal(parse(&m, Q, 35, &d), AS4_OK);
	assert_int_equal(ans.n_naptr, 0);

	/* loops and long chains are refused */
	dm_start(&m, 0x8180, "a.example", 35, 2);
	dm_alias(&m, "a.example", 5, 1, "b.example");
	dm_alias(&m, "b.example", 5, 1, "a.example");
	assert_int_equal(parse(&m, "a.example", 35, &d), AS4_E_SMP_BAD_RESPONSE);
	assert_non_null(strstr(as4_diag_text(&d), "chain"));
	dm_start(&m, 0x8180, "c0.example", 35, 10);
	char from[32];
	char to[32];
	for (int i = 0; i < 10; i++) {
		snprintf(from, sizeof(from), "c%d.example", i);
		snprintf(to, sizeof(to), "c%d.example", i + 1);
		dm_alias(&m, from, 5, 1, to);
	}
	assert_int_equal(parse(&m, "c0.example", 35, &d), AS4_E_SMP_BAD_RESPONSE);

	/* A records for the legacy mode, through a CNAME */
	static const uint8_t ip[4] = {127, 0, 0, 9};
	dm_start(&m, 0x8180, "B-abc.sml.example", 1, 2);
	dm_alias(&m, NULL, 5, 60, "smp.example");
	dm_a(&m, "smp.example", 20, ip);
	assert_int_equal(parse(&m, "B-abc.sml.example", 1, &d), AS4_OK);
	assert_int_equal(ans.n_a, 1);
	assert_memory_equal(ans.a[0], ip, 4);
	assert_int_equal(ans.a_ttl, 20);
}

static void test_outcomes(void **state)
{
	(void)state;
	struct dnsmsg m;
	struct as4_diag d;
	dm_start(&m, 0x8183, Q, 35, 0); /* NXDOMAIN */
	assert_int_equal(parse(&m, Q, 35, &d), AS4_E_SMP_NOT_REGISTERED);
	assert_non_null(strstr(as4_diag_text(&d), "NXDOMAIN"));
	dm_start(&m, 0x8182, Q, 35, 0); /* SERVFAIL: retryable, never "not registered" */
	assert_int_equal(parse(&m, Q, 35, &d), AS4_E_SMP_UNAVAILABLE);
	dm_start(&m, 0x8185, Q, 35, 0); /* REFUSED */
	assert_int_equal(parse(&m, Q, 35, &d), AS4_E_SMP_UNAVAILABLE);
	dm_start(&m, 0x8380, Q, 35, 0); /* TC set */
	assert_int_equal(parse(&m, Q, 35, &d), AS4_E_SMP_UNAVAILABLE);
	assert_non_null(strstr(as4_diag_text(&d), "truncated"));
	dm_start(&m, 0x0100, Q, 35, 0); /* a query, not a response */
	assert_int_equal(parse(&m, Q, 35, &d), AS4_E_SMP_BAD_RESPONSE);
	dm_start(&m, 0x8180, "other.example", 35, 0); /* answers another question */
	assert_int_equal(parse(&m, Q, 35, &d), AS4_E_SMP_BAD_RESPONSE);
	dm_start(&m, 0x8180, Q, 1, 0); /* another type */
	assert_int_equal(parse(&m, Q, 35, &d), AS4_E_SMP_BAD_RESPONSE);
	assert_int_equal(as4_smp_dns_parse(m.b, 5, Q, 35, &ans, &d), AS4_E_SMP_BAD_RESPONSE);
	as4_diag_init(&d);
	assert_int_equal(as4_smp_dns_parse(m.b, m.len, "bad..name", 35, &ans, &d), AS4_E_INVAL);
}

static void test_hostile(void **state)
{
	(void)state;
	struct dnsmsg m;
	struct as4_diag d;
	/* a forward compression pointer (could loop) */
	dm_start(&m, 0x8180, Q, 35, 1);
	size_t at = m.len;
	dm_u16(&m, 0xc000u | (unsigned)(at + 2));
	dm_u16(&m, 35);
	assert_int_equal(parse(&m, Q, 35, &d), AS4_E_SMP_BAD_RESPONSE);
	/* a pointer to itself */
	m.len = at;
	dm_ptr(&m, at);
	assert_int_equal(parse(&m, Q, 35, &d), AS4_E_SMP_BAD_RESPONSE);
	/* RDLENGTH past the end */
	dm_start(&m, 0x8180, Q, 35, 1);
	size_t rl = dm_rr(&m, NULL, 35, 1);
	m.b[rl] = 0x7f;
	assert_int_equal(parse(&m, Q, 35, &d), AS4_E_SMP_BAD_RESPONSE);
	/* NAPTR whose strings overrun RDLENGTH */
	dm_start(&m, 0x8180, Q, 35, 1);
	rl = dm_rr(&m, NULL, 35, 1);
	dm_u16(&m, 1);
	dm_u16(&m, 1);
	dm_u8(&m, 200); /* flags length 200, but the record ends here */
	dm_rr_end(&m, rl);
	assert_int_equal(parse(&m, Q, 35, &d), AS4_E_SMP_BAD_RESPONSE);
	assert_non_null(strstr(as4_diag_text(&d), "NAPTR"));
	/* NAPTR with trailing bytes after the replacement */
	dm_start(&m, 0x8180, Q, 35, 1);
	rl = dm_rr(&m, NULL, 35, 1);
	dm_u16(&m, 1);
	dm_u16(&m, 1);
	dm_cstr(&m, "U");
	dm_cstr(&m, "Meta:SMP");
	dm_cstr(&m, "!.*!https://x/!");
	dm_name(&m, ".");
	dm_u8(&m, 0);
	dm_rr_end(&m, rl);
	assert_int_equal(parse(&m, Q, 35, &d), AS4_E_SMP_BAD_RESPONSE);
	/* a NUL inside a character-string would shorten it silently */
	dm_start(&m, 0x8180, Q, 35, 1);
	rl = dm_rr(&m, NULL, 35, 1);
	dm_u16(&m, 1);
	dm_u16(&m, 1);
	dm_cstr(&m, "U");
	dm_u8(&m, 3);
	dm_bytes(&m, "M\0S", 3);
	dm_cstr(&m, "!.*!https://x/!");
	dm_name(&m, ".");
	dm_rr_end(&m, rl);
	assert_int_equal(parse(&m, Q, 35, &d), AS4_E_SMP_BAD_RESPONSE);
	/* label with an odd byte: kept as \DDD in presentation form, not confused with '.' */
	dm_start(&m, 0x8180, Q, 35, 1);
	rl = dm_rr(&m, NULL, 35, 1);
	dm_u16(&m, 1);
	dm_u16(&m, 1);
	dm_cstr(&m, "");
	dm_cstr(&m, "Meta:SMP");
	dm_cstr(&m, "");
	dm_u8(&m, 3);
	dm_bytes(&m, "a.b", 3);
	dm_u8(&m, 0);
	dm_rr_end(&m, rl);
	assert_int_equal(parse(&m, Q, 35, &d), AS4_OK);
	assert_string_equal(ans.naptr[0].replacement, "a\\046b");
	/* more records than kept: flagged, not silently cut */
	dm_start(&m, 0x8180, Q, 35, 40);
	for (int i = 0; i < 40; i++) {
		dm_naptr(&m, NULL, 1, (unsigned)i, 1, "U", "Meta:SMP", "!.*!https://x/!", ".");
	}
	assert_int_equal(parse(&m, Q, 35, &d), AS4_OK);
	assert_int_equal(ans.n_naptr, AS4_SMP_NAPTR_MAX);
	assert_true(ans.naptr_dropped);
	/* TTL with the top bit set counts as 0 (RFC 2181 §8) */
	dm_start(&m, 0x8180, Q, 35, 1);
	dm_naptr(&m, NULL, 0x80000000u, 1, 1, "U", "Meta:SMP", "!.*!https://x/!", ".");
	assert_int_equal(parse(&m, Q, 35, &d), AS4_OK);
	assert_int_equal(ans.naptr[0].ttl, 0);
}

static as4_err apply(const char *re, const char *aus, char *out, size_t cap, struct as4_diag *d)
{
	as4_diag_init(d);
	return as4_smp_naptr_apply(re, aus, out, cap, d);
}

static void test_regexp(void **state)
{
	(void)state;
	char out[256];
	struct as4_diag d;
	assert_int_equal(apply("!.*!https://test.erechnung.gv.at/smp!", Q, out, sizeof(out), &d),
	                 AS4_OK);
	assert_string_equal(out, "https://test.erechnung.gv.at/smp");
	/* any delimiter, not only '!' */
	assert_int_equal(apply("#^.*$#https://x.example/#", Q, out, sizeof(out), &d), AS4_OK);
	assert_string_equal(out, "https://x.example/");
	/* an escaped delimiter inside the replacement */
	assert_int_equal(apply("#.*#https://x.example/a\\#b#", Q, out, sizeof(out), &d), AS4_OK);
	assert_string_equal(out, "https://x.example/a#b");
	/* back-references in the replacement, applied once, anchored as written */
	assert_int_equal(apply("!^([a-z0-9]+)\\.iso6523-actorid-upis\\.(.*)$!https://\\1.smp.\\2/!",
	                       Q, out, sizeof(out), &d),
	                 AS4_OK);
	assert_string_equal(out, "https://abc.smp.sml.example/");
	/* only the matched part is replaced (sed semantics) */
	assert_int_equal(apply("!sml!smp!", Q, out, sizeof(out), &d), AS4_OK);
	assert_string_equal(out, "abc.iso6523-actorid-upis.smp.example");
	/* "i" flag */
	assert_int_equal(apply("!^ABC\\.(.*)$!https://\\1/!", Q, out, sizeof(out), &d),
	                 AS4_E_NOTFOUND);
	assert_int_equal(apply("!^ABC\\.(.*)$!https://\\1/!i", Q, out, sizeof(out), &d), AS4_OK);
	assert_string_equal(out, "https://iso6523-actorid-upis.sml.example/");
	/* an unmatched optional group is empty */
	assert_int_equal(apply("!^(x)?abc.*$!https://h\\1/!", Q, out, sizeof(out), &d), AS4_OK);
	assert_string_equal(out, "https://h/");
	/* errors */
	static const char *const bad[] = {
	        "",             /* empty */
	        "1.*1x1",       /* digit delimiter */
	        "i.*ixi",       /* flag delimiter */
	        "\\.*\\x\\",    /* backslash delimiter */
	        "!.*!x",        /* unterminated */
	        "!.*!x!g",      /* unknown flag */
	        "!(a)\\1!x!",   /* back-reference in the pattern */
	        "!([!x!",       /* not an ERE */
	        "!(a)!\\2!",    /* group out of range */
	        "!a{1,255}!x!", /* interval expression */
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(bad); i++) {
		if (apply(bad[i], Q, out, sizeof(out), &d) != AS4_E_SMP_BAD_RESPONSE) {
			fail_msg("regexp '%s' accepted", bad[i]);
		}
	}
	/* a result that does not fit */
	char small[8];
	assert_int_equal(apply("!.*!https://long.example/!", Q, small, sizeof(small), &d),
	                 AS4_E_SMP_BAD_RESPONSE);
}

static void test_wire(void **state)
{
	(void)state;
	uint8_t w[256];
	size_t n = 0;
	assert_int_equal(as4_smp_dns_wire("a.bc.", w, &n), AS4_OK);
	assert_int_equal(n, 6);
	assert_memory_equal(w, "\1a\2bc\0", 6);
	assert_int_equal(as4_smp_dns_wire("", w, &n), AS4_E_INVAL);
	assert_int_equal(as4_smp_dns_wire("a..b", w, &n), AS4_E_INVAL);
	char label[80];
	memset(label, 'x', 64);
	label[64] = '\0';
	assert_int_equal(as4_smp_dns_wire(label, w, &n), AS4_E_INVAL);
}

/* The libresolv back end: a server that does not answer is retryable, a bad server string is
 * a configuration error. Port 9 on 127.0.0.1 (discard) refuses or drops UDP queries. */
static void test_resolv_backend(void **state)
{
	(void)state;
	uint8_t buf[512];
	size_t len = 0;
	enum as4_smp_dns_status st = AS4_SMP_DNS_ANSWER;
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_smp_dns_request req = {"x.invalid", 35, "127.0.0.1:9", 1000, 1};
	assert_int_equal(as4_smp_dns_resolv(NULL, &req, buf, sizeof(buf), &len, &st, &d), AS4_OK);
	assert_int_equal(st, AS4_SMP_DNS_TEMPFAIL);
	req.server = "not-an-address:53";
	assert_int_equal(as4_smp_dns_resolv(NULL, &req, buf, sizeof(buf), &len, &st, &d),
	                 AS4_E_CONFIG);
	req.server = "127.0.0.1:99999";
	assert_int_equal(as4_smp_dns_resolv(NULL, &req, buf, sizeof(buf), &len, &st, NULL),
	                 AS4_E_CONFIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_naptr_basic),    cmocka_unit_test(test_chains),
	        cmocka_unit_test(test_outcomes),       cmocka_unit_test(test_hostile),
	        cmocka_unit_test(test_regexp),         cmocka_unit_test(test_wire),
	        cmocka_unit_test(test_resolv_backend),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
