/* SPDX-License-Identifier: Apache-2.0 */
/* PMode sets and matching: every mismatching field is named with the value sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "as4/conf.h"
#include "as4/config.h"
#include "as4/pmode.h"
#include "as4/str.h"

#define AP "urn:fdc:peppol.eu:2017:identifiers:ap"

static struct as4_party_id ids_a[] = {{AP, "ap-a"}, {NULL, "urn:oid:1.2.3"}};
static struct as4_party_id ids_b[] = {{AP, "ap-b"}};
static struct as4_party_id ids_c[] = {{AP, "ap-c"}};
static const struct as4_party party_a = {"a", ids_a, 2, NULL, NULL, NULL, false};
static const struct as4_party party_b = {"b", ids_b, 1, "https://b.example/as4", NULL, NULL, false};
static const struct as4_party party_c = {"c", ids_c, 1, NULL, NULL, NULL, false};

static struct as4_pmode pmodes[3];

/* b -> a (inbound for a), and c -> a with another service */
static void fill(void)
{
	memset(pmodes, 0, sizeof(pmodes));
	pmodes[0].id = "hn";
	pmodes[0].agreement = "urn:agreement";
	pmodes[0].initiator = &party_b;
	pmodes[0].initiator_role = AS4_ROLE_INITIATOR;
	pmodes[0].responder = &party_a;
	pmodes[0].responder_role = AS4_ROLE_RESPONDER;
	pmodes[0].service = "urn:svc";
	pmodes[0].service_type = "dk-medcom-messaging";
	pmodes[0].action = "urn:act";
	pmodes[0].mpc = AS4_DEFAULT_MPC;
	pmodes[1] = pmodes[0];
	pmodes[1].id = "cc";
	pmodes[1].initiator = &party_c;
	pmodes[1].agreement = NULL;
	pmodes[1].service = "urn:svc2";
	pmodes[1].service_type = NULL;
	pmodes[2] = pmodes[0];
	pmodes[2].id = "hn-other-action";
	pmodes[2].action = "urn:act2";
}

/* The key of a message that matches pmodes[0] exactly. */
static void good_key(struct as4_pmode_key *k)
{
	static const struct as4_party_id from[] = {{AP, "ap-b"}};
	static const struct as4_party_id to[] = {{NULL, "urn:oid:1.2.3"}};
	memset(k, 0, sizeof(*k));
	k->agreement = "urn:agreement";
	k->from_ids = from;
	k->n_from_ids = 1;
	k->from_role = AS4_ROLE_INITIATOR;
	k->to_ids = to;
	k->n_to_ids = 1;
	k->to_role = AS4_ROLE_RESPONDER;
	k->service = "urn:svc";
	k->service_type = "dk-medcom-messaging";
	k->action = "urn:act";
}

static struct as4_pmode_set *set_of(size_t n)
{
	struct as4_pmode_set *s = NULL;
	fill();
	assert_int_equal(as4_pmode_set_from_array(pmodes, n, &s), AS4_OK);
	return s;
}

/* Expect no match with exactly this diagnostic and field. */
static void expect_mismatch(const struct as4_pmode_set *s, const struct as4_pmode_key *k,
                            const char *text, const char *field)
{
	const struct as4_pmode *p = (const struct as4_pmode *)1;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_pmode_match(s, k, &p, &d), AS4_E_PMODE_MISMATCH);
	assert_null(p);
	assert_string_equal(d.text, text);
	assert_string_equal(d.field, field);
	assert_string_equal(as4_err_ebms_code(d.err), "EBMS:0010");
}

static void test_exact_match(void **state)
{
	(void)state;
	struct as4_pmode_set *s = set_of(3);
	struct as4_pmode_key k;
	const struct as4_pmode *p = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	good_key(&k);
	assert_int_equal(as4_pmode_match(s, &k, &p, &d), AS4_OK);
	assert_string_equal(p->id, "hn");
	k.action = "urn:act2";
	assert_int_equal(as4_pmode_match(s, &k, &p, &d), AS4_OK);
	assert_string_equal(p->id, "hn-other-action");
	/* any one of several PartyIds sent may identify the party; the MPC may be explicit */
	static const struct as4_party_id two[] = {{AP, "unknown"}, {AP, "ap-a"}};
	good_key(&k);
	k.to_ids = two;
	k.n_to_ids = 2;
	k.mpc = AS4_DEFAULT_MPC;
	assert_int_equal(as4_pmode_match(s, &k, &p, &d), AS4_OK);
	assert_string_equal(p->id, "hn");
	assert_int_equal(d.err, AS4_OK);
	as4_pmode_set_free(s);
}

static void test_each_field_named(void **state)
{
	(void)state;
	struct as4_pmode_set *s = set_of(1);
	struct as4_pmode_key k;
	static const struct as4_party_id stranger[] = {{AP, "ap-x"}};
	static const struct as4_party_id untyped[] = {{NULL, "ap-b"}};

	good_key(&k);
	k.agreement = "urn:other";
	expect_mismatch(s, &k,
	                "no PMode matches: agreement 'urn:other' not in PMode 'hn' (expects "
	                "'urn:agreement')",
	                "eb:CollaborationInfo/eb:AgreementRef");
	good_key(&k);
	k.agreement = NULL;
	expect_mismatch(s, &k,
	                "no PMode matches: agreement (none) not in PMode 'hn' (expects "
	                "'urn:agreement')",
	                "eb:CollaborationInfo/eb:AgreementRef");
	good_key(&k);
	k.agreement_type = "t";
	expect_mismatch(s, &k,
	                "no PMode matches: agreement type 't' not in PMode 'hn' (expects none)",
	                "eb:CollaborationInfo/eb:AgreementRef");
	good_key(&k);
	k.from_ids = stranger;
	expect_mismatch(s, &k,
	                "no PMode matches: From party 'ap-x' (type '" AP "') not in PMode 'hn' "
	                "(expects party 'b': 'ap-b' (type '" AP "'))",
	                "eb:PartyInfo/eb:From/eb:PartyId");
	good_key(&k);
	k.from_ids = untyped; /* same value, no type: a different PartyId */
	expect_mismatch(s, &k,
	                "no PMode matches: From party 'ap-b' not in PMode 'hn' (expects party 'b': "
	                "'ap-b' (type '" AP "'))",
	                "eb:PartyInfo/eb:From/eb:PartyId");
	good_key(&k);
	k.from_role = "urn:role:x";
	expect_mismatch(s, &k,
	                "no PMode matches: From role 'urn:role:x' not in PMode 'hn' (expects "
	                "'" AS4_ROLE_INITIATOR "')",
	                "eb:PartyInfo/eb:From/eb:Role");
	good_key(&k);
	k.to_ids = stranger;
	expect_mismatch(s, &k,
	                "no PMode matches: To party 'ap-x' (type '" AP "') not in PMode 'hn' "
	                "(expects party 'a': 'ap-a' (type '" AP "'))",
	                "eb:PartyInfo/eb:To/eb:PartyId");
	good_key(&k);
	k.to_role = AS4_ROLE_INITIATOR;
	expect_mismatch(s, &k,
	                "no PMode matches: To role '" AS4_ROLE_INITIATOR "' not in PMode 'hn' "
	                "(expects '" AS4_ROLE_RESPONDER "')",
	                "eb:PartyInfo/eb:To/eb:Role");
	good_key(&k);
	k.service = "urn:nope";
	expect_mismatch(
	        s, &k, "no PMode matches: service 'urn:nope' not in PMode 'hn' (expects 'urn:svc')",
	        "eb:CollaborationInfo/eb:Service");
	good_key(&k);
	k.service_type = NULL;
	expect_mismatch(s, &k,
	                "no PMode matches: service type (none) not in PMode 'hn' (expects "
	                "'dk-medcom-messaging')",
	                "eb:CollaborationInfo/eb:Service");
	good_key(&k);
	k.action = "urn:x";
	expect_mismatch(s, &k,
	                "no PMode matches: action 'urn:x' not in PMode 'hn' (expects 'urn:act')",
	                "eb:CollaborationInfo/eb:Action");
	good_key(&k);
	k.mpc = "urn:mpc:other";
	expect_mismatch(
	        s, &k,
	        "no PMode matches: MPC 'urn:mpc:other' not in PMode 'hn' (expects '" AS4_DEFAULT_MPC
	        "')",
	        "eb:UserMessage/@mpc");
	good_key(&k);
	k.n_from_ids = 0;
	expect_mismatch(s, &k,
	                "no PMode matches: From party (none) not in PMode 'hn' (expects party 'b': "
	                "'ap-b' (type '" AP "'))",
	                "eb:PartyInfo/eb:From/eb:PartyId");
	/* values from the wire are quoted and cut, never copied raw into the detail */
	good_key(&k);
	char lng[400];
	memset(lng, 'x', sizeof(lng) - 1);
	lng[sizeof(lng) - 1] = '\0';
	memcpy(lng, "evil\r\n", 6);
	k.action = lng;
	char want[480];
	assert_int_equal(as4_str_fmt(want, sizeof(want),
	                             "no PMode matches: action 'evil\\r\\n%.194s...' not in PMode "
	                             "'hn' (expects 'urn:act')",
	                             lng + 6),
	                 AS4_OK);
	expect_mismatch(s, &k, want, "eb:CollaborationInfo/eb:Action");
	as4_pmode_set_free(s);
}

static void test_closest_candidate(void **state)
{
	(void)state;
	struct as4_pmode_set *s = set_of(3);
	struct as4_pmode_key k;
	static const struct as4_party_id from_c[] = {{AP, "ap-c"}};
	/* from c, no agreement, action of hn: "cc" matches all but the service */
	good_key(&k);
	k.from_ids = from_c;
	k.agreement = NULL;
	k.service_type = NULL;
	expect_mismatch(
	        s, &k, "no PMode matches: service 'urn:svc' not in PMode 'cc' (expects 'urn:svc2')",
	        "eb:CollaborationInfo/eb:Service");
	as4_pmode_set_free(s);
}

static void test_agreement_pmode_attribute(void **state)
{
	(void)state;
	struct as4_pmode_set *s = set_of(3);
	struct as4_pmode_key k;
	const struct as4_pmode *p = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	good_key(&k);
	k.agreement_pmode = "their-own-id"; /* not ours: ignored */
	assert_int_equal(as4_pmode_match(s, &k, &p, &d), AS4_OK);
	assert_string_equal(p->id, "hn");
	/* ours: only that PMode is considered, and it must match */
	k.agreement_pmode = "hn-other-action";
	expect_mismatch(
	        s, &k,
	        "no PMode matches: action 'urn:act' not in PMode 'hn-other-action' (expects "
	        "'urn:act2')",
	        "eb:CollaborationInfo/eb:Action");
	k.action = "urn:act2";
	assert_int_equal(as4_pmode_match(s, &k, &p, &d), AS4_OK);
	assert_string_equal(p->id, "hn-other-action");
	as4_pmode_set_free(s);
}

static void test_test_service_rule(void **state)
{
	(void)state;
	struct as4_pmode_set *s = set_of(3);
	struct as4_pmode_key k;
	const struct as4_pmode *p = NULL;
	struct as4_diag d;
	static const struct as4_party_id from_c[] = {{AP, "ap-c"}};
	as4_diag_init(&d);
	assert_true(as4_pmode_is_test_service(AS4_TEST_SERVICE, AS4_TEST_ACTION));
	assert_false(as4_pmode_is_test_service(AS4_TEST_SERVICE, "urn:act"));
	assert_false(as4_pmode_is_test_service(NULL, AS4_TEST_ACTION));
	/* a ping from c to a: parties alone choose "cc" (roles, agreement ignored) */
	good_key(&k);
	k.from_ids = from_c;
	k.service = AS4_TEST_SERVICE;
	k.service_type = NULL;
	k.action = AS4_TEST_ACTION;
	k.from_role = "urn:whatever";
	assert_int_equal(as4_pmode_match(s, &k, &p, &d), AS4_OK);
	assert_string_equal(p->id, "cc");
	/* the same message in the other direction has no PMode */
	static const struct as4_party_id to_c[] = {{AP, "ap-c"}};
	static const struct as4_party_id from_a[] = {{AP, "ap-a"}};
	k.from_ids = from_a;
	k.to_ids = to_c;
	k.from_role = AS4_ROLE_INITIATOR;
	k.agreement = NULL;
	expect_mismatch(s, &k,
	                "no PMode matches: From party 'ap-a' (type '" AP "') not in PMode 'cc' "
	                "(expects party 'c': 'ap-c' (type '" AP "'))",
	                "eb:PartyInfo/eb:From/eb:PartyId");
	/* an ordinary service between the same parties is not covered by the rule */
	k.from_ids = from_c;
	k.to_ids = ids_a;
	k.n_to_ids = 1;
	k.service = "urn:svc3";
	k.action = AS4_TEST_ACTION;
	assert_int_equal(as4_pmode_match(s, &k, &p, &d), AS4_E_PMODE_MISMATCH);
	as4_pmode_set_free(s);
}

static void test_sets(void **state)
{
	(void)state;
	struct as4_pmode_set *s = NULL;
	struct as4_pmode_key k;
	const struct as4_pmode *p = NULL;
	fill();
	pmodes[1].id = "hn";
	assert_int_equal(as4_pmode_set_from_array(pmodes, 2, &s), AS4_E_EXISTS);
	assert_null(s);
	assert_int_equal(as4_pmode_set_from_array(NULL, 1, &s), AS4_E_INVAL);
	assert_int_equal(as4_pmode_set_from_array(NULL, 0, &s), AS4_OK);
	assert_int_equal(as4_pmode_count(s), 0);
	assert_null(as4_pmode_at(s, 0));
	assert_null(as4_pmode_find(s, "hn"));
	good_key(&k);
	expect_mismatch(s, &k, "no PMode matches: no PModes are configured", "");
	as4_pmode_set_free(s);
	as4_pmode_set_free(NULL);

	s = set_of(3);
	assert_int_equal(as4_pmode_count(s), 3);
	assert_string_equal(as4_pmode_at(s, 2)->id, "hn-other-action");
	assert_null(as4_pmode_at(s, 3));
	assert_ptr_equal(as4_pmode_find(s, "cc"), &pmodes[1]);
	assert_null(as4_pmode_find(s, "zz"));
	assert_null(as4_pmode_find(s, NULL));
	assert_false(as4_pmode_same_key(&pmodes[0], &pmodes[2]));
	struct as4_pmode copy = pmodes[0];
	copy.id = "copy";
	copy.reliability.retries = 9; /* not part of the key */
	assert_true(as4_pmode_same_key(&pmodes[0], &copy));
	copy.mpc = "urn:mpc:2";
	assert_false(as4_pmode_same_key(&pmodes[0], &copy));
	(void)p;
	as4_pmode_set_free(s);
}

static void test_schemas_and_names(void **state)
{
	(void)state;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_conf_schema_check(as4_pmode_schema(), &d), AS4_OK);
	assert_int_equal(as4_conf_schema_check(as4_config_schema(), &d), AS4_OK);
	assert_string_equal(as4_pmode_value_name("signature_algorithm", 0), "rsa-sha256");
	assert_string_equal(as4_pmode_value_name("signature_algorithm", 2), "rsa-sha512");
	assert_string_equal(as4_pmode_value_name("key_transport", 1), "rsa-oaep-mgf1p");
	assert_string_equal(as4_pmode_value_name("data_encryption", 2), "aes256-gcm");
	assert_string_equal(as4_pmode_value_name("key_reference", 1), "issuer-serial");
	assert_null(as4_pmode_value_name("key_reference", 3));
	assert_null(as4_pmode_value_name("key_reference", -1));
	assert_null(as4_pmode_value_name("nope", 0));
	assert_string_equal(as4_api_role_name(AS4_API_ROLE_SUBMITTER), "submitter");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_exact_match),
	        cmocka_unit_test(test_each_field_named),
	        cmocka_unit_test(test_closest_candidate),
	        cmocka_unit_test(test_agreement_pmode_attribute),
	        cmocka_unit_test(test_test_service_rule),
	        cmocka_unit_test(test_sets),
	        cmocka_unit_test(test_schemas_and_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
