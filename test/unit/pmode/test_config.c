/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The as4d configuration: a good configuration loads with every section filled; each kind of
 * bad configuration fails with its exact "file:line: key: message" text; tokens; PMode
 * documents from the API; reloads and the published snapshot; the shipped examples.
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

/* Line numbers in the expected messages below refer to this text. */
static const char good_conf[] =
        "node:\n"                                               /* 1 */
        "  name: t1\n"                                          /* 2 */
        "  party: ap1\n"                                        /* 3 */
        "  base_dir: ..\n"                                      /* 4 */
        "  data_dir: data\n"                                    /* 5 */
        "listeners:\n"                                          /* 6 */
        "  msh:\n"                                              /* 7 */
        "    address: 127.0.0.1\n"                              /* 8 */
        "    port: 18080\n"                                     /* 9 */
        "    tls:\n"                                            /* 10 */
        "      enabled: false\n"                                /* 11 */
        "  api:\n"                                              /* 12 */
        "    port: 18081\n"                                     /* 13 */
        "keystore:\n"                                           /* 14 */
        "  signing:\n"                                          /* 15 */
        "    key: certs/ap1.key.pem\n"                          /* 16 */
        "    cert: certs/ap1.cert.pem\n"                        /* 17 */
        "truststores:\n"                                        /* 18 */
        "  as4: [certs/ca.pem, certs/ca.der]\n"                 /* 19 */
        "parties:\n"                                            /* 20 */
        "  - name: ap1\n"                                       /* 21 */
        "    ids:\n"                                            /* 22 */
        "      - type: urn:fdc:peppol.eu:2017:identifiers:ap\n" /* 23 */
        "        value: ap1\n"                                  /* 24 */
        "    endpoint: http://127.0.0.1:18080/as4\n"            /* 25 */
        "    certificate: certs/ap1.cert.pem\n"                 /* 26 */
        "  - name: ap2\n"                                       /* 27 */
        "    ids:\n"                                            /* 28 */
        "      - type: urn:fdc:peppol.eu:2017:identifiers:ap\n" /* 29 */
        "        value: ap2\n"                                  /* 30 */
        "    endpoint: https://ap2.example.org/as4\n"           /* 31 */
        "    certificate: certs/ap2.cert.pem\n"                 /* 32 */
        "api:\n"                                                /* 33 */
        "  tokens:\n"                                           /* 34 */
        "    - name: admin\n"                                   /* 35 */
        "      role: admin\n"                                   /* 36 */
        "      sha256: 3ca2a2f7307bf53f8bc35f40f2cc5d617de1fa8e40515c6fe7dcbbef8960dceb\n"
        "    - name: sub\n"       /* 38 */
        "      role: submitter\n" /* 39 */
        "      sha256: 6b47869b118035dec449e3f9dd33b3ed276ac5d69ce09a5be0e797885878db3b\n"
        "      pmodes: [hn]\n"    /* 41 */
        "      parties: [ap2]\n"; /* 42 */

static const char good_pmode[] = "pmode:\n"             /* 1 */
                                 "  initiator: ap1\n"   /* 2 */
                                 "  responder: ap2\n"   /* 3 */
                                 "  service: urn:svc\n" /* 4 */
                                 "  action: urn:act\n"  /* 5 */
                                 "  security:\n"        /* 6 */
                                 "    sign: true\n"     /* 7 */
                                 "  reliability:\n"     /* 8 */
                                 "    retries: 3\n";    /* 9 */

struct fx {
	char root[64];
};

static char *text_replace(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	assert_non_null(at);
	size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
	char *out = malloc(n);
	assert_non_null(out);
	memcpy(out, text, (size_t)(at - text));
	out[at - text] = '\0';
	assert_int_equal(as4_str_cat(out, n, to), AS4_OK);
	assert_int_equal(as4_str_cat(out, n, at + strlen(from)), AS4_OK);
	return out;
}

static void fx_put(const struct fx *f, const char *rel, const char *text)
{
	char path[256];
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s/%s", f->root, rel), AS4_OK);
	assert_int_equal(as4_file_write_atomic(path, text, strlen(text), 0644), AS4_OK);
}

static void fx_copy(const char *from, const char *to, unsigned mode)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(as4_file_read(from, 1 << 20, &buf, &len), AS4_OK);
	assert_int_equal(as4_file_write_atomic(to, buf, len, mode), AS4_OK);
	free(buf);
}

/* Copy the test PKI into root/<dir>/, keys with mode 0600. */
static void fx_certs(const struct fx *f, const char *dir)
{
	static const char *const files[] = {"ca.pem",           "ca.der",       "ap1.cert.pem",
	                                    "ap1.key.pem",      "ap2.cert.pem", "ap2.key.pem",
	                                    "expired.cert.pem", "garbage.pem"};
	char from[256];
	char to[256];
	assert_int_equal(as4_str_fmt(to, sizeof(to), "%s/%s", f->root, dir), AS4_OK);
	assert_int_equal(as4_mkdir_p(to, 0755), AS4_OK);
	for (size_t i = 0; i < AS4_ARRAY_LEN(files); i++) {
		assert_int_equal(as4_str_fmt(from, sizeof(from), "%s/%s", CERTS, files[i]), AS4_OK);
		assert_int_equal(as4_str_fmt(to, sizeof(to), "%s/%s/%s", f->root, dir, files[i]),
		                 AS4_OK);
		fx_copy(from, to, strstr(files[i], ".key.") != NULL ? 0600 : 0644);
	}
}

static void fx_setup(struct fx *f)
{
	char path[256];
	assert_int_equal(as4_str_copy(f->root, sizeof(f->root), "/tmp/as4-config-XXXXXX"), AS4_OK);
	assert_non_null(mkdtemp(f->root));
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s/conf/pmodes", f->root), AS4_OK);
	assert_int_equal(as4_mkdir_p(path, 0755), AS4_OK);
	fx_certs(f, "certs");
	fx_put(f, "conf/as4d.yaml", good_conf);
	fx_put(f, "conf/pmodes/hn.yaml", good_pmode);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void fx_teardown(struct fx *f)
{
	assert_int_equal(nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static as4_err fx_load(const struct fx *f, const struct as4_config_options *o,
                       struct as4_config **cfg, struct as4_conf_errors *e)
{
	char path[256];
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s/conf/as4d.yaml", f->root), AS4_OK);
	as4_conf_errors_init(e, 0);
	return as4_config_load(path, o, cfg, e);
}

/* want with every '@' replaced by the fixture root. */
static void expand(const struct fx *f, const char *want, char *out, size_t cap)
{
	out[0] = '\0';
	for (const char *p = want; *p != '\0'; p++) {
		char one[2] = {*p, '\0'};
		assert_int_equal(as4_str_cat(out, cap, *p == '@' ? f->root : one), AS4_OK);
	}
}

/* The errors (not warnings) of e, in order, must be exactly want[] (NULL-terminated). */
static void assert_errors(const struct fx *f, const struct as4_conf_errors *e,
                          const char *const *want)
{
	char x[1024];
	size_t k = 0;
	bool ok = true;
	for (size_t i = 0; i < e->n; i++) {
		if (e->v[i].warning) {
			continue;
		}
		if (want[k] == NULL) {
			ok = false;
			break;
		}
		expand(f, want[k++], x, sizeof(x));
		ok = ok && strcmp(x, e->v[i].text) == 0;
	}
	ok = ok && want[k] == NULL && e->n_errors == k;
	if (!ok) {
		for (size_t i = 0; i < e->n; i++) {
			fprintf(stderr, "  got:  %s\n", e->v[i].text);
		}
		for (size_t i = 0; want[i] != NULL; i++) {
			expand(f, want[i], x, sizeof(x));
			fprintf(stderr, "  want: %s\n", x);
		}
	}
	assert_true(ok);
}

/* Replace one piece of as4d.yaml or of hn.yaml and expect exactly these errors. */
static void expect_conf(const char *from, const char *to, const char *const *want)
{
	struct fx f;
	struct as4_config *cfg = NULL;
	struct as4_conf_errors e;
	fx_setup(&f);
	char *t = text_replace(good_conf, from, to);
	fx_put(&f, "conf/as4d.yaml", t);
	free(t);
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_E_CONFIG);
	assert_null(cfg);
	assert_errors(&f, &e, want);
	as4_conf_errors_cleanup(&e);
	fx_teardown(&f);
}

static void expect_pmode(const char *from, const char *to, const char *const *want)
{
	struct fx f;
	struct as4_config *cfg = NULL;
	struct as4_conf_errors e;
	fx_setup(&f);
	char *t = text_replace(good_pmode, from, to);
	fx_put(&f, "conf/pmodes/hn.yaml", t);
	free(t);
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_E_CONFIG);
	assert_null(cfg);
	assert_errors(&f, &e, want);
	as4_conf_errors_cleanup(&e);
	fx_teardown(&f);
}

#define WANT(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_good_config(void **state)
{
	(void)state;
	struct fx f;
	struct as4_config *cfg = NULL;
	struct as4_conf_errors e;
	struct as4_limits def;
	char x[256];
	fx_setup(&f);
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_OK);
	assert_int_equal(e.n, 0);
	as4_limits_default(&def);

	assert_string_equal(cfg->node.name, "t1");
	assert_string_equal(cfg->node.party->name, "ap1");
	expand(&f, "@", x, sizeof(x));
	assert_string_equal(cfg->base_dir, x);
	expand(&f, "@/data", x, sizeof(x));
	assert_string_equal(cfg->node.data_dir, x);
	expand(&f, "@/data/spool", x, sizeof(x));
	assert_string_equal(cfg->node.spool_dir, x);
	expand(&f, "@/conf/pmodes", x, sizeof(x));
	assert_string_equal(cfg->pmode_dir, x);

	assert_string_equal(cfg->listeners.msh.address, "127.0.0.1");
	assert_int_equal(cfg->listeners.msh.port, 18080);
	assert_string_equal(cfg->listeners.msh.path, "/as4");
	assert_false(cfg->listeners.msh.tls.enabled);
	assert_null(cfg->listeners.msh.tls.cert_path);
	assert_string_equal(cfg->listeners.api.address, "127.0.0.1");
	assert_int_equal(cfg->listeners.api.port, 18081);
	assert_false(cfg->listeners.api.tls.enabled);

	expand(&f, "@/certs/ap1.key.pem", x, sizeof(x));
	assert_string_equal(cfg->keystore.signing.key_path, x);
	assert_string_equal(cfg->keystore.encryption.key_path, x);
	assert_int_equal(cfg->keystore.n_old_decryption, 0);
	assert_int_equal(cfg->truststores.n_as4, 2);
	assert_int_equal(cfg->truststores.n_tls, 0);
	assert_int_equal(cfg->limits.max_body, def.max_body);
	assert_int_equal(cfg->limits.max_parts, def.max_parts);
	assert_int_equal(cfg->limits.max_header_bytes, def.max_header_bytes);
	assert_int_equal(cfg->limits.max_soap, def.max_soap);
	assert_int_equal(cfg->limits.max_xml_depth, def.max_xml_depth);
	assert_int_equal(cfg->limits.max_xml_nodes, def.max_xml_nodes);
	assert_int_equal(cfg->limits.max_gunzip, def.max_gunzip);
	assert_int_equal(cfg->limits.max_gzip_ratio, def.max_gzip_ratio);
	assert_int_equal(cfg->limits.max_api_body, def.max_api_body);
	assert_int_equal(cfg->limits.max_api_upload, def.max_api_upload);
	assert_int_equal(cfg->limits.max_json_depth, def.max_json_depth);
	assert_int_equal(cfg->limits.max_smp_response, def.max_smp_response);
	assert_int_equal(cfg->limits.max_receipt, def.max_receipt);
	assert_int_equal(cfg->limits.mem_spool_threshold, def.mem_spool_threshold);

	assert_int_equal(cfg->sender.workers, 4);
	assert_int_equal(cfg->sender.connect_timeout_ms, 10000);
	assert_int_equal(cfg->sender.request_timeout_ms, 60000);
	assert_true(cfg->sender.tls_verify);
	assert_int_equal(cfg->receiver.threads, 64);
	assert_int_equal(cfg->store.map_size, 4ULL << 30);
	assert_int_equal(cfg->store.sync_interval_ms, 2);
	assert_int_equal(cfg->store.sync_batch, 64);
	assert_int_equal(cfg->retention.dedup_window_ms, 30ULL * 86400000);
	assert_int_equal(cfg->retention.outbound_delivered_ms, 90ULL * 86400000);
	assert_int_equal(cfg->retention.metadata_ms, 365ULL * 86400000);
	assert_int_equal(cfg->log.format, AS4_LOG_JSON);
	assert_int_equal(cfg->log.level, AS4_LOG_INFO);
	assert_null(cfg->log.file);
	assert_null(cfg->webhooks.delivery_url);
	assert_int_equal(cfg->webhooks.timeout_ms, 30000);
	assert_int_equal(cfg->discovery.n_networks, 0);

	assert_int_equal(cfg->n_parties, 2);
	assert_ptr_equal(as4_config_party(cfg, "ap2"), &cfg->parties[1]);
	assert_null(as4_config_party(cfg, "ap3"));
	assert_ptr_equal(
	        as4_config_party_by_id(cfg, "urn:fdc:peppol.eu:2017:identifiers:ap", "ap2"),
	        &cfg->parties[1]);
	assert_null(as4_config_party_by_id(cfg, NULL, "ap2"));
	assert_string_equal(cfg->parties[1].endpoint, "https://ap2.example.org/as4");

	assert_int_equal(as4_pmode_count(cfg->pmodes), 1);
	const struct as4_pmode *p = as4_pmode_find(cfg->pmodes, "hn");
	assert_non_null(p);
	expand(&f, "@/conf/pmodes/hn.yaml", x, sizeof(x));
	assert_string_equal(p->source, x);
	assert_ptr_equal(p->initiator, cfg->node.party);
	assert_ptr_equal(p->responder, &cfg->parties[1]);
	assert_string_equal(p->initiator_role, AS4_ROLE_INITIATOR);
	assert_string_equal(p->responder_role, AS4_ROLE_RESPONDER);
	assert_string_equal(p->mpc, AS4_DEFAULT_MPC);
	assert_null(p->agreement);
	assert_true(p->compress);
	assert_false(p->security_none);
	assert_true(p->security.sign);
	assert_true(p->security.encrypt);
	assert_true(p->security.receipt_signed);
	assert_int_equal(p->security.sig_alg, 0);
	assert_int_equal(p->reliability.retries, 3);
	assert_int_equal(p->reliability.interval_ms, 30000);
	assert_int_equal(p->reliability.backoff, AS4_BACKOFF_EXPONENTIAL);
	assert_true(p->reliability.jitter);
	assert_int_equal(p->reliability.deadline_ms, 24ULL * 3600000);
	assert_int_equal(p->reliability.timeout_ms, 60000);
	assert_true(p->reliability.duplicate_detection);
	assert_int_equal(p->reliability.dedup_window_ms, 30ULL * 86400000);
	assert_true(p->report_errors_to_sender);
	assert_true(p->notify_backend_errors);

	assert_int_equal(cfg->api.n_tokens, 2);
	assert_int_equal(cfg->api.tokens[1].n_pmodes, 1);
	assert_string_equal(cfg->api.tokens[1].parties[0], "ap2");
	as4_conf_errors_cleanup(&e);
	as4_config_free(cfg);
	fx_teardown(&f);
}

static void test_token_check(void **state)
{
	(void)state;
	struct fx f;
	struct as4_config *cfg = NULL;
	struct as4_conf_errors e;
	const struct as4_api_token *t = NULL;
	fx_setup(&f);
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_OK);
	assert_int_equal(as4_config_token_check(cfg, "secret-admin", 12, &t), AS4_OK);
	assert_string_equal(t->name, "admin");
	assert_int_equal(t->role, AS4_API_ROLE_ADMIN);
	assert_int_equal(t->n_pmodes, 0);
	/* the length is explicit: trailing bytes are part of the token */
	assert_int_equal(as4_config_token_check(cfg, "secret-subXYZ", 10, &t), AS4_OK);
	assert_string_equal(t->name, "sub");
	assert_int_equal(t->role, AS4_API_ROLE_SUBMITTER);
	assert_string_equal(t->pmodes[0], "hn");
	assert_int_equal(as4_config_token_check(cfg, "secret-subXYZ", 13, &t), AS4_E_NOTFOUND);
	assert_null(t);
	assert_int_equal(as4_config_token_check(cfg, "Secret-admin", 12, &t), AS4_E_NOTFOUND);
	assert_int_equal(as4_config_token_check(cfg, "", 0, &t), AS4_E_NOTFOUND);
	assert_int_equal(as4_config_token_check(cfg, NULL, 0, &t), AS4_E_NOTFOUND);
	as4_conf_errors_cleanup(&e);
	as4_config_free(cfg);
	fx_teardown(&f);
}

static void test_bad_files(void **state)
{
	(void)state;
	expect_conf("cert: certs/ap1.cert.pem", "cert: certs/nope.pem",
	            WANT("@/conf/as4d.yaml:17: keystore.signing.cert: '@/certs/nope.pem' does not "
	                 "exist"));
	expect_conf(
	        "cert: certs/ap1.cert.pem", "cert: certs/garbage.pem",
	        WANT("@/conf/as4d.yaml:17: keystore.signing.cert: '@/certs/garbage.pem' holds no "
	             "certificate (PEM or DER expected)"));
	expect_conf("cert: certs/ap1.cert.pem", "cert: certs",
	            WANT("@/conf/as4d.yaml:17: keystore.signing.cert: '@/certs' is not a regular "
	                 "file"));
	expect_conf("certificate: certs/ap2.cert.pem", "certificate: certs/expired.cert.pem",
	            WANT("@/conf/as4d.yaml:32: parties[1].certificate: certificate "
	                 "'O=as4 unit tests,CN=expired' in '@/certs/expired.cert.pem' expired on "
	                 "2021-01-01T00:00:00.000Z"));
	expect_conf("as4: [certs/ca.pem, certs/ca.der]", "as4: [certs/ca.pem, certs/none.der]",
	            WANT("@/conf/as4d.yaml:19: truststores.as4[1]: '@/certs/none.der' does not "
	                 "exist"));
	expect_conf("data_dir: data", "data_dir: certs/ca.pem/data",
	            WANT("@/conf/as4d.yaml:5: node.data_dir: '@/certs/ca.pem/data' does not exist "
	                 "and cannot be created: '@/certs/ca.pem' is not a writable directory"));
	expect_conf("data_dir: data", "data_dir: certs/ca.pem",
	            WANT("@/conf/as4d.yaml:5: node.data_dir: '@/certs/ca.pem' is not a directory"));
	expect_conf("base_dir: ..", "base_dir: ../nowhere",
	            WANT("@/conf/as4d.yaml:4: node.base_dir: cannot use '@/conf/../nowhere' as "
	                 "base_dir: No such file or directory"));
	expect_conf("      enabled: false\n",
	            "      enabled: true\n      cert: certs/ap1.cert.pem\n",
	            WANT("@/conf/as4d.yaml:10: listeners.msh.tls: missing required key 'key' "
	                 "(tls.enabled is true)"));
	expect_conf("      enabled: false\n",
	            "      enabled: true\n      cert: certs/ap1.cert.pem\n      key: "
	            "certs/ap1.key.pem\n"
	            "      require_client_cert: true\n",
	            WANT("@/conf/as4d.yaml:14: listeners.msh.tls.require_client_cert: needs "
	                 "tls.client_ca (the CAs client certificates must chain to)"));
}

static void test_key_mode(void **state)
{
	(void)state;
	struct fx f;
	struct as4_config *cfg = NULL;
	struct as4_conf_errors e;
	char key[256];
	fx_setup(&f);
	expand(&f, "@/certs/ap1.key.pem", key, sizeof(key));
	assert_int_equal(chmod(key, 0640), 0);
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_E_CONFIG);
	assert_errors(
	        &f, &e,
	        WANT("@/conf/as4d.yaml:16: keystore.signing.key: private key file "
	             "'@/certs/ap1.key.pem' is readable by group or others (mode 0640): chmod "
	             "600 it"));
	as4_conf_errors_cleanup(&e);
	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_OK);
	as4_config_free(cfg);
	as4_conf_errors_cleanup(&e);
	fx_teardown(&f);
}

static void test_bad_values_and_references(void **state)
{
	(void)state;
	expect_conf("  data_dir: data", "  data_dri: data",
	            WANT("@/conf/as4d.yaml:5: node: unknown key 'data_dri' (did you mean "
	                 "'data_dir'?)"));
	expect_conf(
	        "endpoint: https://ap2.example.org/as4", "endpoint: ftp://ap2.example.org/",
	        WANT("@/conf/as4d.yaml:31: parties[1].endpoint: expected an http:// or https:// "
	             "URL, got 'ftp://ap2.example.org/'"));
	expect_conf("party: ap1", "party: ap3",
	            WANT("@/conf/as4d.yaml:3: node.party: unknown party 'ap3': declare this access "
	                 "point under parties:"));
	expect_conf("    address: 127.0.0.1\n", "    address: localhost\n",
	            WANT("@/conf/as4d.yaml:8: listeners.msh.address: expected an IPv4 or IPv6 "
	                 "address such as 127.0.0.1, 0.0.0.0 or ::"));
	expect_conf("    port: 18081\n", "    port: 18080\n",
	            WANT("@/conf/as4d.yaml:13: listeners.api.port: port 18080 is also used by "
	                 "listeners.msh"));
	expect_conf("value: ap2", "value: ap1",
	            WANT("@/conf/as4d.yaml:29: parties[1].ids[0]: PartyId 'ap1' is also declared "
	                 "for party 'ap1'"));
	expect_conf("  - name: ap2", "  - name: ap1",
	            WANT("@/conf/as4d.yaml:27: parties[1].name: duplicate party name 'ap1' (also "
	                 "parties[0])",
	                 "@/conf/as4d.yaml:42: api.tokens[1].parties[0]: unknown party 'ap2'"));
	expect_conf(
	        "      - type: urn:fdc:peppol.eu:2017:identifiers:ap\n        value: ap2",
	        "      - value: ap2",
	        WANT("@/conf/as4d.yaml:29: parties[1].ids[0].value: a PartyId without type must "
	             "be a URI (ebMS3 §5.2.2.4), got 'ap2': add a type"));
	expect_conf("parties: [ap2]", "parties: [ap9]",
	            WANT("@/conf/as4d.yaml:42: api.tokens[1].parties[0]: unknown party 'ap9'"));
	expect_conf("pmodes: [hn]", "pmodes: [hm]",
	            WANT("@/conf/as4d.yaml:41: api.tokens[1].pmodes[0]: unknown PMode 'hm'"));
	expect_conf(
	        "sha256: 6b47869b",
	        "sha256: 3ca2a2f7307bf53f8bc35f40f2cc5d617de1fa8e40515c6fe7dcbbef8960dceb\n#",
	        WANT("@/conf/as4d.yaml:40: api.tokens[1].sha256: the same token as 'admin': every "
	             "token must be different"));
	expect_conf("sha256: 6b47869b", "sha256: 6b47869",
	            WANT("@/conf/as4d.yaml:40: api.tokens[1].sha256: expected the SHA-256 of the "
	                 "token as 64 hex digits (printf %s TOKEN | sha256sum)"));
	expect_conf("      role: submitter", "      role: submiter",
	            WANT("@/conf/as4d.yaml:39: api.tokens[1].role: expected one of reader, "
	                 "submitter, admin, got 'submiter' (did you mean 'submitter'?)"));
	expect_conf("node:\n", "retention:\n  metadata: 30d\nnode:\n",
	            WANT("@/conf/as4d.yaml:2: retention.metadata: must be at least "
	                 "retention.outbound.delivered (message records outlive their payloads; 0 "
	                 "= forever)",
	                 "@/conf/as4d.yaml:2: retention.metadata: must be at least "
	                 "retention.outbound.failed (message records outlive their payloads; 0 = "
	                 "forever)",
	                 "@/conf/as4d.yaml:2: retention.metadata: must be at least "
	                 "retention.inbound.delivered (message records outlive their payloads; 0 = "
	                 "forever)"));
	expect_conf("node:\n", "webhooks:\n  auth_header: Bearer xyz\nnode:\n",
	            WANT("@/conf/as4d.yaml:2: webhooks.auth_header: expected one HTTP header line "
	                 "'Name: value'"));
	expect_conf("node:\n", "limits:\n  max_body: 1M\n  max_soap: 2M\nnode:\n",
	            WANT("@/conf/as4d.yaml:3: limits.max_soap: must not be larger than "
	                 "limits.max_body"));
	expect_conf("node:\n", "sender:\n  client_cert: certs/ap1.cert.pem\nnode:\n",
	            WANT("@/conf/as4d.yaml:1: sender: client_cert and client_key go together"));
}

static void test_all_errors_listed(void **state)
{
	(void)state;
	/* every problem of the file at once, in document order, schema errors first */
	expect_conf(
	        "    port: 18080\n    tls:\n      enabled: false\n",
	        "    port: 0\n    tls:\n      enabled: nope\n      min_version: tls1.1\n",
	        WANT("@/conf/as4d.yaml:9: listeners.msh.port: must be at least 1, got 0",
	             "@/conf/as4d.yaml:11: listeners.msh.tls.enabled: expected true or false, got "
	             "'nope'",
	             "@/conf/as4d.yaml:12: listeners.msh.tls.min_version: expected one of tls1.2, "
	             "tls1.3, got 'tls1.1' (did you mean 'tls1.2'?)"));
	expect_conf(
	        "keystore:\n  signing:\n    key: certs/ap1.key.pem\n    cert: certs/ap1.cert.pem\n",
	        "keystore:\n  signing:\n    key: certs/ap1.key.pem\n",
	        WANT("@/conf/as4d.yaml:15: keystore.signing: missing required key 'cert'"));
	expect_conf(
	        "keystore:\n  signing:\n    key: certs/ap1.key.pem\n    cert: certs/ap1.cert.pem\n",
	        "", WANT("@/conf/as4d.yaml:1: missing required section 'keystore'"));
}

static void test_bad_pmodes(void **state)
{
	(void)state;
	/* schema errors and reference errors of one file in one run */
	expect_pmode(
	        "  responder: ap2\n  service: urn:svc\n", "  responder: ap9\n  service: [a]\n",
	        WANT("@/conf/pmodes/hn.yaml:4: pmode.service: expected a string, got a list",
	             "@/conf/pmodes/hn.yaml:3: pmode.responder.party: unknown party 'ap9' (did "
	             "you mean 'ap1'?)"));
	expect_pmode(
	        "    sign: true\n", "    sign: yes please\n",
	        WANT("@/conf/pmodes/hn.yaml:7: pmode.security.sign: expected true or false, got "
	             "'yes please'"));
	expect_pmode(
	        "    retries: 3\n", "    retires: 3\n",
	        WANT("@/conf/pmodes/hn.yaml:9: pmode.reliability: unknown key 'retires' (did you "
	             "mean 'retries'?)"));
	expect_pmode(
	        "responder: ap2", "responder: ap7",
	        WANT("@/conf/pmodes/hn.yaml:3: pmode.responder.party: unknown party 'ap7' (did "
	             "you mean 'ap1'?)"));
	expect_pmode(
	        "responder: ap2", "responder: hospital",
	        WANT("@/conf/pmodes/hn.yaml:3: pmode.responder.party: unknown party 'hospital': "
	             "declare it under parties: in as4d.yaml"));
	expect_pmode("initiator: ap1", "initiator: ap2",
	             WANT("@/conf/pmodes/hn.yaml:1: pmode: neither the initiator 'ap2' nor the "
	                  "responder 'ap2' is this access point's party 'ap1' (node.party)"));
	expect_pmode("  action: urn:act\n", "",
	             WANT("@/conf/pmodes/hn.yaml:1: pmode: missing required key 'action'"));
	expect_pmode("  security:\n    sign: true\n",
	             "  security: none\n  payload:\n    min_parts: 2\n"
	             "    max_parts: 1\n",
	             WANT("@/conf/pmodes/hn.yaml:9: pmode.payload.max_parts: must be at least "
	                  "payload.min_parts (2), got 1"));
	expect_pmode("  security:\n    sign: true\n",
	             "  security:\n    mode: none\n    sign: true\n",
	             WANT("@/conf/pmodes/hn.yaml:8: pmode.security.sign: cannot be true with "
	                  "security mode none"));
	expect_pmode("    retries: 3\n", "    dedup_window: 60d\n",
	             WANT("@/conf/pmodes/hn.yaml:9: pmode.reliability.dedup_window: 60d is longer "
	                  "than retention.dedup_window (30d) in as4d.yaml"));
	expect_pmode(
	        "    retries: 3\n", "    deadline: 10s\n",
	        WANT("@/conf/pmodes/hn.yaml:9: pmode.reliability.deadline: must not be shorter "
	             "than reliability.timeout"));
	expect_pmode("  action: urn:act\n", "  action: urn:act\n  responder.discovery: true\n",
	             WANT("@/conf/pmodes/hn.yaml:6: pmode: unknown key 'responder.discovery'"));
	expect_pmode(
	        "responder: ap2", "responder:\n    party: ap2\n    discovery: true",
	        WANT("@/conf/pmodes/hn.yaml:5: pmode.responder.discovery: no discovery network "
	             "is configured (discovery.networks in as4d.yaml)"));
	expect_pmode("  action: urn:act\n", "  action: urn:act\n  webhook: http://x y/\n",
	             WANT("@/conf/pmodes/hn.yaml:6: pmode.webhook: expected an http:// or https:// "
	                  "URL, got 'http://x y/'"));
	expect_pmode(
	        "pmode:\n", "pmode:\n  id: has space\n",
	        WANT("@/conf/pmodes/hn.yaml:2: pmode.id: expected 1 to 128 characters from A-Z "
	             "a-z 0-9 . _ - (not starting with '.')"));
	expect_pmode("pmode:\n", "pmode: &a\n",
	             WANT("@/conf/pmodes/hn.yaml:1: YAML anchors (&name) are not supported: write "
	                  "the value out"));
}

/* Outbound PModes need an endpoint and a certificate for the responder. */
static void test_outbound_needs(void **state)
{
	(void)state;
	struct fx f;
	struct as4_config *cfg = NULL;
	struct as4_conf_errors e;
	fx_setup(&f);
	char *t = text_replace(good_conf,
	                       "    endpoint: https://ap2.example.org/as4\n"
	                       "    certificate: certs/ap2.cert.pem\n",
	                       "");
	fx_put(&f, "conf/as4d.yaml", t);
	free(t);
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_E_CONFIG);
	assert_errors(&f, &e,
	              WANT("@/conf/pmodes/hn.yaml:3: pmode.responder.party: party 'ap2' has no "
	                   "endpoint: set parties[].endpoint in as4d.yaml or responder.discovery: "
	                   "true",
	                   "@/conf/pmodes/hn.yaml:3: pmode.responder.party: party 'ap2' has no "
	                   "certificate to encrypt for: set parties[].certificate in as4d.yaml"));
	as4_conf_errors_cleanup(&e);
	/* the same PMode received from ap2 needs neither */
	t = text_replace(good_pmode, "  initiator: ap1\n  responder: ap2\n",
	                 "  initiator: ap2\n  responder: ap1\n");
	fx_put(&f, "conf/pmodes/hn.yaml", t);
	free(t);
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_OK);
	as4_config_free(cfg);
	as4_conf_errors_cleanup(&e);
	fx_teardown(&f);
}

static void test_duplicate_pmodes(void **state)
{
	(void)state;
	struct fx f;
	struct as4_config *cfg = NULL;
	struct as4_conf_errors e;
	fx_setup(&f);
	fx_put(&f, "conf/pmodes/hn2.yaml", good_pmode);
	char *t = text_replace(good_pmode, "pmode:\n", "pmode:\n  id: hn\n");
	fx_put(&f, "conf/pmodes/hn3.yml", t);
	free(t);
	fx_put(&f, "conf/pmodes/README.txt", "ignored");
	fx_put(&f, "conf/pmodes/.hidden.yaml", "ignored: [");
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_E_CONFIG);
	assert_errors(
	        &f, &e,
	        WANT("@/conf/pmodes/hn2.yaml:1: pmode: PMode 'hn2' matches the same messages as "
	             "PMode 'hn' (@/conf/pmodes/hn.yaml): agreement, parties, roles, service, "
	             "action or MPC must differ",
	             "@/conf/pmodes/hn3.yml:2: pmode.id: duplicate PMode id 'hn' (also in "
	             "@/conf/pmodes/hn.yaml)",
	             "@/conf/pmodes/hn3.yml:1: pmode: PMode 'hn' matches the same messages as "
	             "PMode 'hn2' (@/conf/pmodes/hn2.yaml): agreement, parties, roles, service, "
	             "action or MPC must differ"));
	as4_conf_errors_cleanup(&e);
	fx_teardown(&f);
}

static void test_warnings(void **state)
{
	(void)state;
	struct fx f;
	struct as4_config *cfg = NULL;
	struct as4_conf_errors e;
	struct as4_config_options o;
	fx_setup(&f);
	char *t = text_replace(good_conf, "  as4: [certs/ca.pem, certs/ca.der]\n",
	                       "  as4: []\nsender:\n  tls_verify: false\n");
	fx_put(&f, "conf/as4d.yaml", t);
	free(t);
	memset(&o, 0, sizeof(o));
	o.expiry_warning_ms = 200ULL * 365 * 86400000; /* every test certificate "expires soon" */
	assert_int_equal(fx_load(&f, &o, &cfg, &e), AS4_OK);
	assert_int_equal(e.n_errors, 0);
	assert_true(e.n >= 4);
	bool expiry = false;
	bool trust = false;
	bool verify = false;
	for (size_t i = 0; i < e.n; i++) {
		assert_true(e.v[i].warning);
		expiry = expiry ||
		         strstr(e.v[i].text, ":17: warning: keystore.signing.cert: "
		                             "certificate 'CN=ap1,O=as4 unit tests' in ") != NULL;
		trust = trust || strstr(e.v[i].text, ":19: warning: truststores.as4: no CA "
		                                     "configured") != NULL;
		verify = verify ||
		         strstr(e.v[i].text, ":21: warning: sender.tls_verify: peers' TLS") != NULL;
	}
	if (!(expiry && trust && verify)) {
		for (size_t i = 0; i < e.n; i++) {
			fprintf(stderr, "  got: %s\n", e.v[i].text);
		}
	}
	assert_true(expiry && trust && verify);
	as4_conf_errors_cleanup(&e);
	as4_config_free(cfg);
	/* certificates must be valid at the time given */
	memset(&o, 0, sizeof(o));
	o.now_ms = 4102444800000LL * 2; /* year 2229: after every test certificate */
	assert_int_equal(fx_load(&f, &o, &cfg, &e), AS4_E_CONFIG);
	assert_true(e.n_errors >= 3);
	as4_conf_errors_cleanup(&e);
	fx_teardown(&f);
}

static void test_unreadable_or_unparsable(void **state)
{
	(void)state;
	struct fx f;
	struct as4_config *cfg = NULL;
	struct as4_conf_errors e;
	fx_setup(&f);
	fx_put(&f, "conf/as4d.yaml", "node:\n  name: [x\n");
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_E_CONFIG);
	assert_null(cfg);
	assert_int_equal(e.n_errors, 1);
	assert_non_null(strstr(e.v[0].text, "/conf/as4d.yaml:3: YAML syntax error: "));
	as4_conf_errors_cleanup(&e);
	char path[256];
	expand(&f, "@/conf/as4d.yaml", path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_E_CONFIG);
	assert_errors(&f, &e, WANT("@/conf/as4d.yaml: file does not exist"));
	as4_conf_errors_cleanup(&e);
	/* errs may be NULL: the result alone */
	assert_int_equal(as4_config_load(path, NULL, &cfg, NULL), AS4_E_CONFIG);
	fx_teardown(&f);
}

static void test_pmode_document_from_api(void **state)
{
	(void)state;
	struct fx f;
	struct as4_config *cfg = NULL;
	struct as4_conf_errors e;
	struct as4_pmode_set *one = NULL;
	fx_setup(&f);
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_OK);

	const char *json = "{\"pmode\":{\"id\":\"api-1\",\"initiator\":{\"party\":\"ap2\"},"
	                   "\"responder\":\"ap1\",\"service\":\"urn:svc\",\"action\":\"urn:act\","
	                   "\"security\":{\"sign\":true},\"reliability\":{\"retries\":2}}}";
	assert_int_equal(as4_config_pmode_validate(cfg, (const uint8_t *)json, strlen(json), true,
	                                           "api", NULL, true, &one, &e),
	                 AS4_OK);
	assert_int_equal(as4_pmode_count(one), 1);
	assert_string_equal(as4_pmode_at(one, 0)->id, "api-1");
	assert_string_equal(as4_pmode_at(one, 0)->source, "api");
	assert_ptr_equal(as4_pmode_at(one, 0)->responder, cfg->node.party);
	assert_int_equal(as4_pmode_at(one, 0)->reliability.retries, 2);
	as4_pmode_set_free(one);

	/* the same errors as for files, located by key path */
	json = "{\"pmode\":{\"initiator\":\"ap2\",\"responder\":\"ap1\",\"service\":\"urn:svc\","
	       "\"action\":\"urn:act\",\"security\":{\"sign\":\"yes\"},\"reliability\":{"
	       "\"retires\":"
	       "2}}}";
	assert_int_equal(as4_config_pmode_validate(cfg, (const uint8_t *)json, strlen(json), true,
	                                           "api", NULL, true, &one, &e),
	                 AS4_E_CONFIG);
	assert_null(one);
	assert_errors(
	        &f, &e,
	        WANT("api: pmode.security.sign: expected true or false, got the string 'yes' "
	             "(write it without quotes)",
	             "api: pmode.reliability: unknown key 'retires' (did you mean 'retries'?)"));
	assert_string_equal(e.v[0].path, "pmode.security.sign");
	assert_string_equal(
	        e.v[0].message,
	        "expected true or false, got the string 'yes' (write it without quotes)");
	as4_conf_errors_cleanup(&e);

	json = "{\"pmode\":{\"initiator\":\"ap2\",\"responder\":\"ap1\",\"service\":\"urn:svc\","
	       "\"action\":\"urn:act\"}}";
	assert_int_equal(as4_config_pmode_validate(cfg, (const uint8_t *)json, strlen(json), true,
	                                           "api", NULL, true, NULL, &e),
	                 AS4_E_CONFIG);
	assert_errors(&f, &e, WANT("api: pmode: missing required key 'id'"));
	as4_conf_errors_cleanup(&e);

	/* malformed documents and documents over the caps are told apart from invalid ones */
	json = "{\"pmode\": {";
	assert_int_equal(as4_config_pmode_validate(cfg, (const uint8_t *)json, strlen(json), true,
	                                           "api", NULL, true, NULL, &e),
	                 AS4_E_PARSE);
	assert_int_equal(e.n_errors, 1);
	as4_conf_errors_cleanup(&e);
	char deep[200];
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	assert_int_equal(as4_config_pmode_validate(cfg, (const uint8_t *)deep, strlen(deep), true,
	                                           "api", NULL, true, NULL, &e),
	                 AS4_E_LIMIT);
	as4_conf_errors_cleanup(&e);

	/* creating an existing id, or a PMode competing with an existing one */
	const char *yaml = "pmode:\n  id: hn\n  initiator: ap2\n  responder: ap1\n  service: a\n"
	                   "  action: b\n";
	assert_int_equal(as4_config_pmode_validate(cfg, (const uint8_t *)yaml, strlen(yaml), false,
	                                           "new.yaml", NULL, true, NULL, &e),
	                 AS4_E_CONFIG);
	assert_errors(&f, &e,
	              WANT("new.yaml:2: pmode.id: a PMode with id 'hn' already exists "
	                   "(@/conf/pmodes/hn.yaml)"));
	as4_conf_errors_cleanup(&e);
	assert_int_equal(as4_config_pmode_validate(cfg, (const uint8_t *)yaml, strlen(yaml), false,
	                                           "new.yaml", NULL, false, NULL, &e),
	                 AS4_OK);
	yaml = "pmode:\n  initiator: ap1\n  responder: ap2\n  service: urn:svc\n  action: "
	       "urn:act\n";
	assert_int_equal(as4_config_pmode_validate(cfg, (const uint8_t *)yaml, strlen(yaml), false,
	                                           "x.yaml", "x", true, NULL, &e),
	                 AS4_E_CONFIG);
	assert_errors(
	        &f, &e,
	        WANT("x.yaml:1: pmode: matches the same messages as PMode 'hn' "
	             "(@/conf/pmodes/hn.yaml): agreement, parties, roles, service, action or MPC "
	             "must differ"));
	as4_conf_errors_cleanup(&e);
	as4_config_free(cfg);
	fx_teardown(&f);
}

static void test_reload_and_slot(void **state)
{
	(void)state;
	struct fx f;
	struct as4_config *cfg = NULL;
	struct as4_config *next = NULL;
	struct as4_conf_errors e;
	struct as4_config_slot slot;
	fx_setup(&f);
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_OK);
	assert_int_equal(as4_config_slot_init(&slot, cfg), AS4_OK);

	/* a broken file: the reload fails, the published snapshot is untouched */
	fx_put(&f, "conf/pmodes/hn.yaml", "pmode:\n  initiator: ap1\n");
	struct as4_config *cur = as4_config_slot_get(&slot);
	assert_int_equal(as4_config_reload(cur, &next, &e), AS4_E_CONFIG);
	assert_null(next);
	assert_true(e.n_errors >= 1);
	as4_conf_errors_cleanup(&e);
	assert_int_equal(as4_pmode_count(cur->pmodes), 1);
	assert_int_equal(as4_pmode_find(cur->pmodes, "hn")->reliability.retries, 3);

	/* a good change: a new snapshot; readers of the old one keep it until they release it */
	char *t = text_replace(good_pmode, "retries: 3", "retries: 7");
	fx_put(&f, "conf/pmodes/hn.yaml", t);
	free(t);
	assert_int_equal(as4_config_reload(cur, &next, &e), AS4_OK);
	as4_config_slot_swap(&slot, next);
	struct as4_config *now = as4_config_slot_get(&slot);
	assert_ptr_equal(now, next);
	assert_int_equal(as4_pmode_find(now->pmodes, "hn")->reliability.retries, 7);
	assert_int_equal(as4_pmode_find(cur->pmodes, "hn")->reliability.retries, 3);
	as4_config_free(cur);
	as4_config_free(now);
	as4_config_slot_cleanup(&slot);
	as4_conf_errors_cleanup(&e);
	fx_teardown(&f);
}

static void test_skip_and_override_pmodes(void **state)
{
	(void)state;
	struct fx f;
	struct as4_config *cfg = NULL;
	struct as4_conf_errors e;
	struct as4_config_options o;
	char dir[256];
	fx_setup(&f);
	fx_put(&f, "conf/pmodes/broken.yaml", "pmode: [");
	memset(&o, 0, sizeof(o));
	o.skip_pmodes = true;
	assert_int_equal(fx_load(&f, &o, &cfg, &e), AS4_OK);
	assert_int_equal(as4_pmode_count(cfg->pmodes), 0);
	assert_null(cfg->pmode_dir);
	as4_config_free(cfg);
	as4_conf_errors_cleanup(&e);

	o.skip_pmodes = false;
	expand(&f, "@/other", dir, sizeof(dir));
	o.pmode_dir = dir;
	assert_int_equal(fx_load(&f, &o, &cfg, &e), AS4_E_CONFIG);
	assert_errors(&f, &e,
	              WANT("cannot read the PMode folder '@/other': No such file or directory"));
	as4_conf_errors_cleanup(&e);
	assert_int_equal(as4_mkdir_p(dir, 0755), AS4_OK);
	assert_int_equal(fx_load(&f, &o, &cfg, &e), AS4_E_CONFIG); /* token restricted to "hn" */
	assert_errors(&f, &e,
	              WANT("@/conf/as4d.yaml:41: api.tokens[1].pmodes[0]: unknown PMode 'hn'"));
	as4_conf_errors_cleanup(&e);

	/* the default folder holds a syntax error: located in that file */
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_E_CONFIG);
	assert_errors(&f, &e,
	              WANT("@/conf/pmodes/broken.yaml:2: YAML syntax error: did not find expected "
	                   "node content while parsing a flow node (column 1)"));
	as4_conf_errors_cleanup(&e);
	fx_teardown(&f);
}

static void test_discovery(void **state)
{
	(void)state;
	struct fx f;
	struct as4_config *cfg = NULL;
	struct as4_conf_errors e;
	fx_setup(&f);
	char *t = text_replace(good_conf, "node:\n",
	                       "discovery:\n"
	                       "  networks:\n"
	                       "    - name: ehmi-test\n"
	                       "      sml_zone: acc.edelivery.tech.ec.europa.eu.\n"
	                       "      hashing: bdxl\n"
	                       "      smp_dialect: oasis1\n"
	                       "      smp_ca: [certs/ca.pem]\n"
	                       "      dns_server: 127.0.0.1:5353\n"
	                       "      transport_profile: bdxr-transport-ebms3-as4-v1p0\n"
	                       "node:\n");
	fx_put(&f, "conf/as4d.yaml", t);
	free(t);
	fx_put(&f, "conf/pmodes/disc.yaml",
	       "pmode:\n  initiator: ap1\n  responder:\n    party: ap2\n    discovery: true\n"
	       "  service: urn:svc\n  action: urn:other\n");
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_OK);
	assert_int_equal(cfg->discovery.n_networks, 1);
	const struct as4_discovery_network *n = as4_config_network(cfg, "ehmi-test");
	assert_non_null(n);
	assert_null(as4_config_network(cfg, "other"));
	assert_string_equal(n->sml_zone, "acc.edelivery.tech.ec.europa.eu");
	assert_int_equal(n->hashing, AS4_SML_BDXL);
	assert_int_equal(n->smp_dialect, AS4_SMP_OASIS1);
	assert_int_equal(n->n_smp_ca, 1);
	assert_int_equal(n->n_ap_ca, 2); /* falls back to truststores.as4 */
	assert_string_equal(n->dns_server, "127.0.0.1");
	assert_int_equal(n->dns_port, 5353);
	assert_true(n->require_https);
	assert_int_equal(n->cache_entries, 10000);
	assert_int_equal(n->cache_ttl_ms, 15 * 60000);
	assert_int_equal(n->timeout_ms, 10000);
	const struct as4_pmode *p = as4_pmode_find(cfg->pmodes, "disc");
	assert_true(p->responder_discovery);
	assert_string_equal(p->discovery_network, "ehmi-test");
	as4_config_free(cfg);
	as4_conf_errors_cleanup(&e);
	fx_teardown(&f);

	expect_conf("node:\n",
	            "discovery:\n  networks:\n    - name: n\n      sml_zone: bad..zone\n"
	            "      dns_server: 127.0.0.1:99999\nnode:\n",
	            WANT("@/conf/as4d.yaml:4: discovery.networks[0].sml_zone: expected a DNS zone "
	                 "such as edelivery.tech.ec.europa.eu",
	                 "@/conf/as4d.yaml:5: discovery.networks[0].dns_server: expected an IP "
	                 "address with an optional port: 127.0.0.1, 127.0.0.1:5353, [::1]:5353"));
	expect_conf(
	        "node:\n",
	        "discovery:\n  networks:\n    - name: n\n      sml_zone: z.example\nnode:\n",
	        WANT("@/conf/as4d.yaml:3: discovery.networks[0]: no SMP CA: set smp_ca here or "
	             "truststores.smp (SMP answers are only trusted when their signer chains to "
	             "one)"));
}

/* conf/as4d.yaml and conf/pmodes/ as shipped, with the development PKI in certs/dev. */
/* Trust and keys managed through the API (node.managed_dir). */
static void test_managed_folder(void **state)
{
	(void)state;
	struct fx f;
	struct as4_config *cfg = NULL;
	struct as4_conf_errors e;
	char want[256], from[256], to[256];
	fx_setup(&f);
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_OK);
	expand(&f, "@/data/managed", want, sizeof(want));
	assert_string_equal(cfg->node.managed_dir, want);
	assert_int_equal(cfg->truststores.n_as4, 2);
	assert_int_equal(cfg->keystore.n_old_decryption, 0);
	as4_config_free(cfg);
	as4_conf_errors_cleanup(&e);

	/* managed trust: appended; an expired or unreadable file is skipped with a warning */
	static const struct {
		const char *from, *to;
		unsigned mode;
	} files[] = {
	        {"ap2.cert.pem", "data/managed/trust/as4/aa.pem", 0644},
	        {"expired.cert.pem", "data/managed/trust/as4/bb.pem", 0644},
	        {"garbage.pem", "data/managed/trust/tls/cc.pem", 0644},
	        {"ca.pem", "data/managed/trust/smp/dd.pem", 0644},
	        {"ap2.key.pem", "data/managed/keystore/current/key.pem", 0600},
	        {"ap2.cert.pem", "data/managed/keystore/current/cert.pem", 0644},
	        {"ap1.key.pem", "data/managed/keystore/old/20250101T000000Z-ab/key.pem", 0600},
	        {"ap1.cert.pem", "data/managed/keystore/old/20250101T000000Z-ab/cert.pem", 0644},
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(files); i++) {
		assert_int_equal(as4_str_fmt(from, sizeof(from), "%s/%s", CERTS, files[i].from),
		                 AS4_OK);
		assert_int_equal(as4_str_fmt(to, sizeof(to), "%s/%s", f.root, files[i].to), AS4_OK);
		*strrchr(to, '/') = '\0';
		assert_int_equal(as4_mkdir_p(to, 0700), AS4_OK);
		*strchr(to, '\0') = '/';
		fx_copy(from, to, files[i].mode);
	}
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_OK);
	assert_int_equal(cfg->truststores.n_as4, 3);
	expand(&f, "@/data/managed/trust/as4/aa.pem", want, sizeof(want));
	assert_string_equal(cfg->truststores.as4[2], want);
	assert_int_equal(cfg->truststores.n_tls, 0);
	assert_int_equal(cfg->truststores.n_smp, 1);
	bool expired = false;
	bool garbage = false;
	for (size_t i = 0; i < e.n; i++) {
		expired = expired || (e.v[i].warning && strstr(e.v[i].text, "bb.pem' expired on"));
		garbage =
		        garbage || (e.v[i].warning && strstr(e.v[i].text, "cc.pem' holds no PEM"));
	}
	assert_true(expired && garbage);
	/* the managed pair signs and decrypts; as4d.yaml's pair and the old one still decrypt */
	expand(&f, "@/data/managed/keystore/current/key.pem", want, sizeof(want));
	assert_string_equal(cfg->keystore.signing.key_path, want);
	assert_string_equal(cfg->keystore.encryption.key_path, want);
	assert_int_equal(cfg->keystore.n_old_decryption, 2);
	expand(&f, "@/certs/ap1.key.pem", want, sizeof(want));
	assert_string_equal(cfg->keystore.old_decryption[0].key_path, want);
	expand(&f, "@/data/managed/keystore/old/20250101T000000Z-ab/key.pem", want, sizeof(want));
	assert_string_equal(cfg->keystore.old_decryption[1].key_path, want);
	as4_config_free(cfg);
	as4_conf_errors_cleanup(&e);

	/* a managed key readable by others is refused like a configured one */
	expand(&f, "@/data/managed/keystore/current/key.pem", to, sizeof(to));
	assert_int_equal(chmod(to, 0644), 0);
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_E_CONFIG);
	assert_errors(&f, &e,
	              WANT("private key file '@/data/managed/keystore/current/key.pem' is readable "
	                   "by group or others (mode 0644): chmod 600 it"));
	as4_conf_errors_cleanup(&e);

	/* node.managed_dir moves the folder */
	char *t = text_replace(good_conf, "  data_dir: data\n",
	                       "  data_dir: data\n  managed_dir: elsewhere\n");
	fx_put(&f, "conf/as4d.yaml", t);
	free(t);
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_OK);
	expand(&f, "@/elsewhere", want, sizeof(want));
	assert_string_equal(cfg->node.managed_dir, want);
	assert_int_equal(cfg->keystore.n_old_decryption, 0);
	as4_config_free(cfg);
	as4_conf_errors_cleanup(&e);
	fx_teardown(&f);
}

static void test_shipped_examples(void **state)
{
	(void)state;
	static const char *const files[] = {"as4d.yaml", "pmodes/medcom-hospitalnotification.yaml",
	                                    "pmodes/ping-ap1-ap2.yaml", "pmodes/ping-ap2-ap1.yaml"};
	struct fx f;
	struct as4_config *cfg = NULL;
	struct as4_conf_errors e;
	const struct as4_api_token *t = NULL;
	char from[256];
	char to[256];
	fx_setup(&f);
	fx_certs(&f, "certs/dev");
	for (size_t i = 0; i < AS4_ARRAY_LEN(files); i++) {
		assert_int_equal(as4_str_fmt(from, sizeof(from), "%s/../../conf/%s", AS4_TEST_DATA,
		                             files[i]),
		                 AS4_OK);
		assert_int_equal(as4_str_fmt(to, sizeof(to), "%s/conf/%s", f.root, files[i]),
		                 AS4_OK);
		fx_copy(from, to, 0644);
	}
	expand(&f, "@/conf/pmodes/hn.yaml", to, sizeof(to));
	assert_int_equal(unlink(to), 0);
	assert_int_equal(fx_load(&f, NULL, &cfg, &e), AS4_OK);
	for (size_t i = 0; i < e.n; i++) {
		fprintf(stderr, "%s\n", e.v[i].text);
	}
	assert_int_equal(e.n, 0);
	assert_string_equal(cfg->node.party->name, "ap1");
	assert_int_equal(cfg->listeners.msh.port, 8080);
	assert_int_equal(cfg->listeners.api.port, 8081);
	assert_int_equal(as4_pmode_count(cfg->pmodes), 3);
	const struct as4_pmode *hn = as4_pmode_find(cfg->pmodes, "medcom-hospitalnotification");
	assert_non_null(hn);
	assert_true(hn->compress && hn->security.sign && hn->security.encrypt);
	assert_int_equal(hn->min_parts, 1);
	assert_int_equal(hn->max_payload, 100ULL << 20);
	assert_non_null(as4_pmode_find(cfg->pmodes, "ping-ap2-ap1"));
	assert_int_equal(as4_config_token_check(cfg, "dev-admin-token", 15, &t), AS4_OK);
	assert_int_equal(t->role, AS4_API_ROLE_ADMIN);
	assert_int_equal(as4_config_token_check(cfg, "dev-reader-token", 16, &t), AS4_OK);
	assert_int_equal(t->role, AS4_API_ROLE_READER);
	assert_int_equal(as4_config_token_check(cfg, "dev-submitter-token", 19, &t), AS4_OK);
	assert_int_equal(t->role, AS4_API_ROLE_SUBMITTER);
	assert_int_equal(cfg->log.format, AS4_LOG_LOGFMT);
	as4_config_free(cfg);
	as4_conf_errors_cleanup(&e);
	fx_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_good_config),
	        cmocka_unit_test(test_token_check),
	        cmocka_unit_test(test_bad_files),
	        cmocka_unit_test(test_key_mode),
	        cmocka_unit_test(test_bad_values_and_references),
	        cmocka_unit_test(test_all_errors_listed),
	        cmocka_unit_test(test_bad_pmodes),
	        cmocka_unit_test(test_outbound_needs),
	        cmocka_unit_test(test_duplicate_pmodes),
	        cmocka_unit_test(test_warnings),
	        cmocka_unit_test(test_unreadable_or_unparsable),
	        cmocka_unit_test(test_pmode_document_from_api),
	        cmocka_unit_test(test_reload_and_slot),
	        cmocka_unit_test(test_skip_and_override_pmodes),
	        cmocka_unit_test(test_discovery),
	        cmocka_unit_test(test_managed_folder),
	        cmocka_unit_test(test_shipped_examples),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
