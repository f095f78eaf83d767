/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dynamic discovery glue (as4/discovery.h) without a network: the lookup key a submission must
 * carry, SMP clients made from configured networks, and the Dynamic Sender check of the
 * receive path. The lookups themselves run in integration scenario 06-smp-send.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/pem.h>

#include "as4/discovery.h"
#include "as4/smp.h"
#include "as4/str.h"
#include "as4/xml.h"

#define CERTS AS4_TEST_DATA "/config/certs"
#define AP    AS4_DISCOVERY_AP_PARTY_TYPE
#define DOC   "busdox-docid-qns::urn:dk:healthcare:medcom:messaging:fhir::hn##urn:dk:hn::4.0"

static struct as4_party_id self_ids[] = {{AP, "ap1"}};
static struct as4_party_id any_ids[] = {{AP, NULL}};
static struct as4_party self = {"ap1", self_ids, 1, NULL, NULL, NULL, false};
static struct as4_party any = {"any-ap", any_ids, 1, NULL, NULL, NULL, true};

static X509 *cert(const char *name)
{
	char path[256];
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s/%s", CERTS, name), AS4_OK);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

/* A record as the API builds it for a discovery PMode. */
static void record(struct as4_msgrec *rec, struct as4_store_prop *prop, const char *type,
                   const char *value)
{
	as4_msgrec_init(rec);
	rec->action = (char *)(uintptr_t)DOC;
	rec->service = (char *)(uintptr_t) "urn:ehmi:sdn-emergence";
	rec->service_type = (char *)(uintptr_t) "dk-medcom-messaging";
	rec->final_recipient = (char *)(uintptr_t)value;
	if (value != NULL) {
		prop->name = (char *)(uintptr_t) "finalRecipient";
		prop->type = (char *)(uintptr_t)type;
		prop->value = (char *)(uintptr_t)value;
		rec->props = prop;
		rec->n_props = 1;
	}
}

static void test_submission_key(void **state)
{
	(void)state;
	struct as4_pmode pm = {0};
	pm.id = "dyn";
	pm.initiator = &self;
	pm.responder = &any;
	struct as4_msgrec rec;
	struct as4_store_prop prop;
	struct as4_diag d;

	/* not a discovery PMode: nothing to check */
	record(&rec, &prop, NULL, NULL);
	as4_diag_init(&d);
	assert_int_equal(as4_discovery_check_submission(&pm, &rec, &d), AS4_OK);

	pm.responder_discovery = true;
	as4_diag_init(&d);
	assert_int_equal(as4_discovery_check_submission(&pm, &rec, &d), AS4_E_INVAL);
	assert_string_equal(d.field, "final_recipient");
	assert_non_null(strstr(as4_diag_text(&d), "final_recipient"));

	record(&rec, &prop, "iso6523-actorid-upis", "0088:5798000000001");
	as4_diag_init(&d);
	assert_int_equal(as4_discovery_check_submission(&pm, &rec, &d), AS4_OK);

	/* a GLN with a wrong check digit is the request's fault, like any malformed id */
	record(&rec, &prop, "iso6523-actorid-upis", "0088:5798000000002");
	as4_diag_init(&d);
	assert_int_equal(as4_discovery_check_submission(&pm, &rec, &d), AS4_E_INVAL);
	assert_string_equal(d.field, "final_recipient");
	assert_non_null(strstr(as4_diag_text(&d), "check digit"));

	/* the property's type is the participant scheme; without one the Peppol scheme */
	record(&rec, &prop, "iso6523-actorid-upis", "no-icd");
	as4_diag_init(&d);
	assert_int_equal(as4_discovery_check_submission(&pm, &rec, &d), AS4_E_INVAL);
	record(&rec, &prop, "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088", "5798000000001");
	as4_diag_init(&d);
	assert_int_equal(as4_discovery_check_submission(&pm, &rec, &d), AS4_OK);
	record(&rec, &prop, NULL, "0184:DK12345678");
	as4_diag_init(&d);
	assert_int_equal(as4_discovery_check_submission(&pm, &rec, &d), AS4_OK);

	/* Action must be scheme::value; Service with its type a process identifier */
	record(&rec, &prop, NULL, "0184:DK12345678");
	rec.action = (char *)(uintptr_t) "urn:no-scheme";
	as4_diag_init(&d);
	assert_int_equal(as4_discovery_check_submission(&pm, &rec, &d), AS4_E_CONFIG);
	assert_string_equal(d.field, "pmode");
	assert_non_null(strstr(as4_diag_text(&d), "PMode 'dyn' uses discovery, but eb:Action is "
	                                          "not a document type identifier"));
	record(&rec, &prop, NULL, "0184:DK12345678");
	rec.service_type = (char *)(uintptr_t) "cenbii-procid-ubl";
	rec.service = (char *)(uintptr_t) "";
	as4_diag_init(&d);
	assert_int_equal(as4_discovery_check_submission(&pm, &rec, &d), AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "eb:Service"));
	/* an untyped Service means any process */
	rec.service_type = NULL;
	as4_diag_init(&d);
	assert_int_equal(as4_discovery_check_submission(&pm, &rec, &d), AS4_OK);
}

static void test_clients(void **state)
{
	(void)state;
	static const char *const ca[] = {CERTS "/ca.pem"};
	static const char *const none[] = {CERTS "/no-such.pem"};
	struct as4_discovery_network nets[2];
	memset(nets, 0, sizeof(nets));
	nets[0].name = "one";
	nets[0].sml_zone = "sml.test.example";
	nets[0].smp_ca = ca;
	nets[0].n_smp_ca = 1;
	nets[0].ap_ca = ca;
	nets[0].n_ap_ca = 1;
	nets[0].require_https = true;
	nets[0].dns_server = "127.0.0.1";
	nets[0].dns_port = 5353;
	nets[0].cache_entries = 10;
	nets[0].cache_ttl_ms = 60000;
	nets[0].timeout_ms = 1000;
	nets[1] = nets[0];
	nets[1].name = "two";
	nets[1].hashing = AS4_SML_BDXL;
	nets[1].smp_dialect = AS4_SMP_OASIS1;
	nets[1].transport_profile = AS4_SMP_TP_BDXR_AS4;

	struct as4_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	as4_limits_default(&cfg.limits);
	cfg.discovery.networks = nets;
	cfg.discovery.n_networks = 2;
	struct as4_smp_client **clients = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_discovery_clients_new(&cfg, &clients, &d), AS4_OK);
	assert_non_null(clients);
	struct as4_runtime rt;
	memset(&rt, 0, sizeof(rt));
	rt.cfg = &cfg;
	rt.smp = clients;
	assert_ptr_equal(as4_runtime_smp(&rt, "one"), clients[0]);
	assert_ptr_equal(as4_runtime_smp(&rt, "two"), clients[1]);
	assert_null(as4_runtime_smp(&rt, "three"));
	assert_null(as4_runtime_smp(&rt, NULL));
	assert_int_equal(as4_smp_cache_size(clients[0]), 0);
	as4_discovery_clients_free(clients, 2);

	/* no networks: no array */
	cfg.discovery.n_networks = 0;
	assert_int_equal(as4_discovery_clients_new(&cfg, &clients, &d), AS4_OK);
	assert_null(clients);

	/* a network the client refuses: the whole set is refused, naming the network */
	cfg.discovery.n_networks = 2;
	nets[1].smp_ca = none;
	as4_diag_init(&d);
	assert_int_equal(as4_discovery_clients_new(&cfg, &clients, &d), AS4_E_CONFIG);
	assert_null(clients);
	assert_true(as4_str_starts(as4_diag_text(&d), "discovery.networks[1]: "));
	nets[1].smp_ca = ca;
	nets[1].dns_server = "::1";
	as4_diag_init(&d);
	assert_int_equal(as4_discovery_clients_new(&cfg, &clients, &d), AS4_E_CONFIG);
	assert_true(as4_str_starts(as4_diag_text(&d), "discovery.networks[1]: network two: DNS "
	                                              "server '[::1]:5353'"));
}

static void test_dynamic_sender(void **state)
{
	(void)state;
	X509 *ap1 = cert("ap1.cert.pem"); /* CN=ap1 */
	struct as4_pmode pm = {0};
	pm.id = "in";
	pm.initiator = &any;
	pm.responder = &self;
	struct as4_party_id from[2] = {{AP, "ap1"}, {"urn:other", "whatever"}};
	struct as4_msg m;
	memset(&m, 0, sizeof(m));
	m.pmode = &pm;
	m.wss_done = true;
	m.wss.signer = ap1;
	m.wss.signer_trusted = true;
	m.ebms.user.from.ids = from;
	m.ebms.user.from.n_ids = 2;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_discovery_check_sender(&m, &d), AS4_OK);

	/* the PartyId of the dynamic party's type must be the signer's CN */
	from[0].value = "ap2";
	assert_int_equal(as4_discovery_check_sender(&m, &d), AS4_E_UNTRUSTED);
	assert_string_equal(as4_diag_text(&d), "eb:From PartyId 'ap2' is not the CN 'ap1' of the "
	                                       "certificate that signed the message");
	assert_string_equal(d.field, "eb:PartyInfo/eb:From/eb:PartyId");

	/* unsigned or untrusted: refused */
	from[0].value = "ap1";
	m.wss.signer_trusted = false;
	as4_diag_init(&d);
	assert_int_equal(as4_discovery_check_sender(&m, &d), AS4_E_UNTRUSTED);
	m.wss.signer = NULL;
	as4_diag_init(&d);
	assert_int_equal(as4_discovery_check_sender(&m, &d), AS4_E_UNTRUSTED);

	/* a configured initiator: not this check's business */
	pm.initiator = &self;
	as4_diag_init(&d);
	assert_int_equal(as4_discovery_check_sender(&m, &d), AS4_OK);
	m.pmode = NULL;
	assert_int_equal(as4_discovery_check_sender(&m, &d), AS4_OK);
	X509_free(ap1);
}

int main(void)
{
	as4_xml_global_init();
	if (as4_smp_global_init(true) != AS4_OK) {
		return 1;
	}
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_submission_key),
	        cmocka_unit_test(test_clients),
	        cmocka_unit_test(test_dynamic_sender),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	as4_smp_global_cleanup(true);
	as4_xml_global_cleanup();
	return rc;
}
