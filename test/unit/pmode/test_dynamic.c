/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dynamic parties (any access point of a network, as4/pmode.h) in the configuration and in
 * PMode matching: loading, lookups by PartyId, the errors of a bad declaration or PMode, the
 * preference for configured partners, and the shipped discovery examples (conf/discovery/).
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "as4/blob.h"
#include "as4/config.h"
#include "as4/str.h"

#define CERTS AS4_TEST_DATA "/config/certs"
#define CONF  AS4_TEST_DATA "/../../conf"
#define AP    "urn:fdc:peppol.eu:2017:identifiers:ap"

/* as4d.yaml without parties (each test appends its own) */
static const char base_conf[] = "node:\n"
                                "  name: t\n"
                                "  party: ap1\n"
                                "  base_dir: ..\n"
                                "  data_dir: data\n"
                                "listeners:\n"
                                "  msh:\n"
                                "    port: 18080\n"
                                "    tls:\n"
                                "      enabled: false\n"
                                "  api:\n"
                                "    port: 18081\n"
                                "keystore:\n"
                                "  signing:\n"
                                "    key: certs/ap1.key.pem\n"
                                "    cert: certs/ap1.cert.pem\n"
                                "truststores:\n"
                                "  as4: [certs/ca.pem]\n"
                                "  smp: [certs/ca.pem]\n";

static const char parties_ok[] = "parties:\n"
                                 "  - name: ap1\n"
                                 "    ids: [{type: " AP ", value: ap1}]\n"
                                 "  - name: ap2\n"
                                 "    ids: [{type: " AP ", value: ap2}]\n"
                                 "    endpoint: https://ap2.example/as4\n"
                                 "    certificate: certs/ap2.cert.pem\n"
                                 "  - name: any-ap\n"
                                 "    dynamic: true\n"
                                 "    ids: [{type: " AP "}]\n";

static const char network[] = "discovery:\n"
                              "  networks:\n"
                              "    - name: n\n"
                              "      sml_zone: sml.test.example\n";

struct fx {
	char root[64];
};

static void put(const struct fx *f, const char *rel, const char *text)
{
	char path[256];
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s/%s", f->root, rel), AS4_OK);
	assert_int_equal(as4_file_write_atomic(path, text, strlen(text), 0644), AS4_OK);
}

static void copy(const char *from, const char *to, unsigned mode)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(as4_file_read(from, 1 << 20, &buf, &len), AS4_OK);
	assert_int_equal(as4_file_write_atomic(to, buf, len, mode), AS4_OK);
	free(buf);
}

static void setup(struct fx *f)
{
	static const char *const files[] = {"ca.pem", "ap1.cert.pem", "ap1.key.pem",
	                                    "ap2.cert.pem"};
	char from[256];
	char to[256];
	assert_int_equal(as4_str_copy(f->root, sizeof(f->root), "/tmp/as4-dynamic-XXXXXX"), AS4_OK);
	assert_non_null(mkdtemp(f->root));
	assert_int_equal(as4_str_fmt(to, sizeof(to), "%s/conf/pmodes", f->root), AS4_OK);
	assert_int_equal(as4_mkdir_p(to, 0755), AS4_OK);
	assert_int_equal(as4_str_fmt(to, sizeof(to), "%s/certs", f->root), AS4_OK);
	assert_int_equal(as4_mkdir_p(to, 0755), AS4_OK);
	for (size_t i = 0; i < AS4_ARRAY_LEN(files); i++) {
		assert_int_equal(as4_str_fmt(from, sizeof(from), "%s/%s", CERTS, files[i]), AS4_OK);
		assert_int_equal(as4_str_fmt(to, sizeof(to), "%s/certs/%s", f->root, files[i]),
		                 AS4_OK);
		copy(from, to, strstr(files[i], ".key.") != NULL ? 0600 : 0644);
	}
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(struct fx *f)
{
	assert_int_equal(nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* Write as4d.yaml = base_conf + parts (NULL-terminated) and load it. */
static as4_err load(struct fx *f, const struct as4_config_options *o, struct as4_config **cfg,
                    struct as4_conf_errors *e, ...)
{
	char text[8192];
	assert_int_equal(as4_str_copy(text, sizeof(text), base_conf), AS4_OK);
	va_list ap;
	va_start(ap, e);
	for (const char *p = va_arg(ap, const char *); p != NULL; p = va_arg(ap, const char *)) {
		assert_int_equal(as4_str_cat(text, sizeof(text), p), AS4_OK);
	}
	va_end(ap);
	put(f, "conf/as4d.yaml", text);
	char path[256];
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s/conf/as4d.yaml", f->root), AS4_OK);
	as4_conf_errors_init(e, 0);
	*cfg = NULL;
	return as4_config_load(path, o, cfg, e);
}

/* Some error of e contains every one of the NULL-terminated texts. */
static bool has_error(const struct as4_conf_errors *e, ...)
{
	for (size_t i = 0; i < e->n; i++) {
		bool all = !e->v[i].warning;
		va_list ap;
		va_start(ap, e);
		for (const char *p = va_arg(ap, const char *); all && p != NULL;
		     p = va_arg(ap, const char *)) {
			all = strstr(e->v[i].text, p) != NULL;
		}
		va_end(ap);
		if (all) {
			return true;
		}
	}
	for (size_t i = 0; i < e->n; i++) {
		fprintf(stderr, "  got: %s\n", e->v[i].text);
	}
	return false;
}

static void test_dynamic_party_loads(void **state)
{
	(void)state;
	struct fx f;
	struct as4_config *cfg = NULL;
	struct as4_conf_errors e;
	setup(&f);
	put(&f, "conf/pmodes/out.yaml",
	    "pmode:\n  initiator: ap1\n  responder: {party: any-ap, discovery: true}\n"
	    "  service: urn:svc\n  action: busdox-docid-qns::urn:doc\n");
	put(&f, "conf/pmodes/in.yaml",
	    "pmode:\n  initiator: any-ap\n  responder: ap1\n  service: urn:svc\n"
	    "  action: busdox-docid-qns::urn:doc\n");
	put(&f, "conf/pmodes/from-ap2.yaml",
	    "pmode:\n  initiator: ap2\n  responder: ap1\n  service: urn:svc\n"
	    "  action: busdox-docid-qns::urn:doc\n");
	assert_int_equal(load(&f, NULL, &cfg, &e, parties_ok, network, NULL), AS4_OK);
	const struct as4_party *any = as4_config_party(cfg, "any-ap");
	const struct as4_party *ap2 = as4_config_party(cfg, "ap2");
	assert_non_null(any);
	assert_true(any->dynamic && !ap2->dynamic);
	assert_int_equal(any->n_ids, 1);
	assert_string_equal(any->ids[0].type, AP);
	assert_null(any->ids[0].value);
	assert_null(any->endpoint);

	/* a configured id first, then the dynamic party of that type */
	assert_ptr_equal(as4_config_party_by_id(cfg, AP, "ap2"), ap2);
	assert_ptr_equal(as4_config_party_by_id(cfg, AP, "PDK000123"), any);
	assert_null(as4_config_party_by_id(cfg, AP, ""));
	assert_null(as4_config_party_by_id(cfg, "urn:other", "PDK000123"));
	assert_null(as4_config_party_by_id(cfg, NULL, "urn:x:y"));

	const struct as4_pmode *out = as4_pmode_find(cfg->pmodes, "out");
	assert_true(out->responder_discovery);
	assert_string_equal(out->discovery_network, "n"); /* the only network */
	assert_ptr_equal(out->responder, any);

	/* any access point is matched by the dynamic PMode; a configured partner by its own */
	struct as4_party_id from = {AP, "PDK000123"};
	struct as4_party_id to = {AP, "ap1"};
	struct as4_pmode_key k = {0};
	k.from_ids = &from;
	k.n_from_ids = 1;
	k.from_role = AS4_ROLE_INITIATOR;
	k.to_ids = &to;
	k.n_to_ids = 1;
	k.to_role = AS4_ROLE_RESPONDER;
	k.service = "urn:svc";
	k.action = "busdox-docid-qns::urn:doc";
	const struct as4_pmode *m = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_pmode_match(cfg->pmodes, &k, &m, &d), AS4_OK);
	assert_string_equal(m->id, "in");
	from.value = "ap2";
	assert_int_equal(as4_pmode_match(cfg->pmodes, &k, &m, &d), AS4_OK);
	assert_string_equal(m->id, "from-ap2");

	/* another PartyId type, or an empty value, is nobody */
	from.type = "urn:other";
	from.value = "PDK000123";
	assert_int_equal(as4_pmode_match(cfg->pmodes, &k, &m, &d), AS4_E_PMODE_MISMATCH);
	assert_string_equal(d.field, "eb:PartyInfo/eb:From/eb:PartyId");
	struct as4_pmode_set *only_in = NULL;
	assert_int_equal(as4_pmode_set_from_array(as4_pmode_find(cfg->pmodes, "in"), 1, &only_in),
	                 AS4_OK);
	as4_diag_init(&d);
	assert_int_equal(as4_pmode_match(only_in, &k, &m, &d), AS4_E_PMODE_MISMATCH);
	assert_non_null(strstr(as4_diag_text(&d), "From party 'PDK000123' (type 'urn:other') not "
	                                          "in PMode 'in' (expects party 'any-ap': any "
	                                          "PartyId of type '" AP "')"));
	as4_pmode_set_free(only_in);
	from.type = AP;
	from.value = "";
	as4_diag_init(&d);
	assert_int_equal(as4_pmode_match(cfg->pmodes, &k, &m, &d), AS4_E_PMODE_MISMATCH);
	as4_config_free(cfg);
	as4_conf_errors_cleanup(&e);
	teardown(&f);
}

static void test_dynamic_party_errors(void **state)
{
	(void)state;
	struct fx f;
	struct as4_config *cfg = NULL;
	struct as4_conf_errors e;
	setup(&f);
	assert_int_equal(load(&f, NULL, &cfg, &e,
	                      "parties:\n"
	                      "  - name: ap1\n"
	                      "    ids: [{type: " AP ", value: ap1}]\n"
	                      "  - name: bad\n"
	                      "    dynamic: true\n"
	                      "    ids: [{type: " AP ", value: x}, {type: urn:t2}]\n"
	                      "    endpoint: https://x.example/as4\n"
	                      "    certificate: certs/ap2.cert.pem\n"
	                      "  - name: notype\n"
	                      "    dynamic: true\n"
	                      "    ids: [{value: urn:x:y}]\n"
	                      "  - name: novalue\n"
	                      "    ids: [{type: " AP "}]\n",
	                      NULL),
	                 AS4_E_CONFIG);
	assert_true(has_error(&e, "parties[1].endpoint: not used with dynamic: true", NULL));
	assert_true(has_error(&e, "parties[1].certificate: not used with dynamic: true", NULL));
	assert_true(has_error(&e, "parties[1].ids: a dynamic party has exactly one id", NULL));
	assert_true(has_error(&e, "parties[2].ids[0]: a dynamic party's id needs a type", NULL));
	assert_true(has_error(&e, "parties[2].ids[0].value: not used with dynamic: true", NULL));
	assert_true(has_error(&e, "parties[3].ids[0]: missing required key 'value'", NULL));
	as4_conf_errors_cleanup(&e);

	/* this access point is one party, not any */
	assert_int_equal(load(&f, NULL, &cfg, &e,
	                      "parties:\n"
	                      "  - name: ap1\n"
	                      "    dynamic: true\n"
	                      "    ids: [{type: " AP "}]\n",
	                      NULL),
	                 AS4_E_CONFIG);
	assert_true(has_error(&e, "node.party: party 'ap1' is dynamic", NULL));
	as4_conf_errors_cleanup(&e);

	/* PModes: a dynamic responder needs discovery, a dynamic initiator signatures */
	put(&f, "conf/pmodes/out.yaml",
	    "pmode:\n  initiator: ap1\n  responder: any-ap\n  service: urn:svc\n  action: urn:a\n");
	put(&f, "conf/pmodes/in.yaml",
	    "pmode:\n  initiator: any-ap\n  responder: ap1\n  service: urn:svc\n  action: urn:b\n"
	    "  security: none\n");
	put(&f, "conf/pmodes/in2.yaml",
	    "pmode:\n  initiator: any-ap\n  responder: ap1\n  service: urn:svc\n  action: urn:c\n"
	    "  security:\n    sign: false\n");
	assert_int_equal(load(&f, NULL, &cfg, &e, parties_ok, network, NULL), AS4_E_CONFIG);
	assert_true(has_error(&e, "out.yaml:3: pmode.responder.party: party 'any-ap' is dynamic",
	                      "set responder.discovery: true", NULL));
	assert_true(has_error(&e, "in.yaml:2: pmode.initiator.party: party 'any-ap' is dynamic",
	                      "must be signed", NULL));
	assert_true(has_error(&e, "in2.yaml:2: pmode.initiator.party", "must be signed", NULL));
	as4_conf_errors_cleanup(&e);
	teardown(&f);
}

/* conf/discovery/: each network example, and the example PModes, load as documented. */
static void test_shipped_examples(void **state)
{
	(void)state;
	static const struct {
		const char *file;
		const char *network;
	} nets[] = {{"peppol-prod.yaml", "peppol-prod"},
	            {"peppol-test.yaml", "peppol-test"},
	            {"medcom-ehmi.yaml", "ehmi"}};
	static const char parties[] = "parties:\n"
	                              "  - name: ap1\n"
	                              "    ids: [{type: " AP ", value: ap1}]\n"
	                              "  - name: peppol-ap\n"
	                              "    dynamic: true\n"
	                              "    ids: [{type: " AP "}]\n";
	struct fx f;
	struct as4_config *cfg = NULL;
	struct as4_conf_errors e;
	/* the CA files are the administrator's: check keys and references only */
	struct as4_config_options o = {0};
	o.no_file_checks = true;
	char path[256];
	setup(&f);
	for (size_t i = 0; i < AS4_ARRAY_LEN(nets); i++) {
		uint8_t *text = NULL;
		size_t len = 0;
		assert_int_equal(
		        as4_str_fmt(path, sizeof(path), "%s/discovery/%s", CONF, nets[i].file),
		        AS4_OK);
		assert_int_equal(as4_file_read(path, 1 << 20, &text, &len), AS4_OK);
		char *s = as4_str_ndup((const char *)text, len);
		free(text);
		assert_non_null(s);
		bool with_pmodes = strcmp(nets[i].network, "peppol-test") == 0;
		for (size_t k = 0; k < 2; k++) {
			static const char *const pm[] = {"send-by-discovery.yaml",
			                                 "receive-from-any-ap.yaml"};
			char to[256];
			assert_int_equal(as4_str_fmt(path, sizeof(path), "%s/discovery/pmodes/%s",
			                             CONF, pm[k]),
			                 AS4_OK);
			assert_int_equal(
			        as4_str_fmt(to, sizeof(to), "%s/conf/pmodes/%s", f.root, pm[k]),
			        AS4_OK);
			if (with_pmodes) {
				copy(path, to, 0644);
			} else if (access(to, F_OK) == 0) {
				assert_int_equal(unlink(to), 0);
			}
		}
		as4_err err = load(&f, &o, &cfg, &e, parties, s, NULL);
		for (size_t k = 0; k < e.n; k++) {
			fprintf(stderr, "%s: %s\n", nets[i].file, e.v[k].text);
		}
		assert_int_equal(err, AS4_OK);
		assert_int_equal(cfg->discovery.n_networks, 1);
		const struct as4_discovery_network *n = as4_config_network(cfg, nets[i].network);
		assert_non_null(n);
		assert_true(n->require_https);
		assert_int_equal(n->n_smp_ca, 1);
		assert_int_equal(n->n_ap_ca, 1);
		if (with_pmodes) {
			const struct as4_pmode *send =
			        as4_pmode_find(cfg->pmodes, "send-by-discovery");
			const struct as4_pmode *recv =
			        as4_pmode_find(cfg->pmodes, "receive-from-any-ap");
			assert_non_null(send);
			assert_non_null(recv);
			assert_true(send->responder_discovery && send->responder->dynamic);
			assert_string_equal(send->discovery_network, "peppol-test");
			assert_true(recv->initiator->dynamic && recv->security.sign);
		}
		as4_config_free(cfg);
		as4_conf_errors_cleanup(&e);
		free(s);
	}
	teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_dynamic_party_loads),
	        cmocka_unit_test(test_dynamic_party_errors),
	        cmocka_unit_test(test_shipped_examples),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
