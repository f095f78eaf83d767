/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keystore and truststore: what is refused when loading (file modes, mismatched, weak,
 * non-RSA and encrypted keys, files without certificates) and path validation at a given
 * time; certificate helpers behind the token references (SKI, issuer/serial, PKIPath).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "wss_fixture.h"

#include "../../../ap/wss/wss_int.h"

static char *data(const char *name)
{
	static char p[4][256];
	static int slot;
	char *out = p[slot++ % 4];
	assert_int_equal(as4_str_fmt(out, sizeof(p[0]), "%s/%s", FX_DATA, name), AS4_OK);
	return out;
}

static as4_err load(const char *key_name, unsigned mode, const char *cert_name, struct as4_diag *d)
{
	struct as4_keystore *ks = NULL;
	char *key = fx_copy(data(key_name), "k.pem", mode);
	as4_diag_init(d);
	as4_err err = as4_keystore_load(key, data(cert_name), &ks, d);
	if (err == AS4_OK) {
		assert_non_null(ks);
		assert_non_null(as4_keystore_cert(ks));
		assert_non_null(as4_keystore_chain(ks));
	} else {
		assert_null(ks);
	}
	as4_keystore_free(ks);
	unlink(key);
	return err;
}

static void keystore_loads_key_and_chain(void **state)
{
	(void)state;
	struct as4_diag d;
	assert_int_equal(load("ap1.key.pem", 0600, "ap1.cert.pem", &d), AS4_OK);
	assert_int_equal(load("ap1.key.pem", 0400, "ap1.cert.pem", &d), AS4_OK);
	struct as4_keystore *ks = fx_keystore("ap3");
	assert_int_equal(sk_X509_num(as4_keystore_chain(ks)), 1);
	char *subj = wss_cert_name(sk_X509_value(as4_keystore_chain(ks), 0), false);
	assert_string_equal(subj, "CN=AS4 Test Intermediate CA,O=AS4 Test");
	free(subj);
	as4_keystore_free(ks);
	as4_keystore_free(NULL);
}

static void keystore_refuses_open_modes(void **state)
{
	(void)state;
	struct as4_diag d;
	const unsigned modes[] = {0644, 0640, 0604, 0660, 0602};
	for (size_t i = 0; i < AS4_ARRAY_LEN(modes); i++) {
		assert_int_equal(load("ap1.key.pem", modes[i], "ap1.cert.pem", &d), AS4_E_CONFIG);
		assert_non_null(strstr(as4_diag_text(&d), "accessible by group or others"));
		assert_non_null(strstr(as4_diag_text(&d), "chmod 600"));
	}
}

static void keystore_refuses_bad_keys(void **state)
{
	(void)state;
	struct as4_diag d;
	assert_int_equal(load("ap1.key.pem", 0600, "ap2.cert.pem", &d), AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "does not belong to the private key"));
	assert_int_equal(load("weak.key.pem", 0600, "weak.cert.pem", &d), AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "has 1024 bits; at least 2048"));
	/* offline inspection may read a legacy 1024-bit key; the floor itself is bounded */
	struct as4_keystore *legacy = NULL;
	char *wk = fx_copy(data("weak.key.pem"), "weak.pem", 0600);
	as4_diag_init(&d);
	assert_int_equal(as4_keystore_load_min_bits(wk, data("weak.cert.pem"), 1024, &legacy, &d),
	                 AS4_OK);
	as4_keystore_free(legacy);
	legacy = NULL;
	as4_diag_init(&d);
	assert_int_equal(as4_keystore_load_min_bits(wk, data("weak.cert.pem"), 512, &legacy, &d),
	                 AS4_E_INVAL);
	unlink(wk);
	assert_int_equal(load("ec.key.pem", 0600, "ec.cert.pem", &d), AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "needs an RSA key"));
	/* a certificate file where the key should be, and the reverse */
	assert_int_equal(load("ap1.cert.pem", 0600, "ap1.cert.pem", &d), AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "holds no PEM private key"));
	assert_int_equal(load("ap1.key.pem", 0600, "ap1.key.pem", &d), AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "holds no certificate"));
	/* missing files */
	struct as4_keystore *ks = NULL;
	as4_diag_init(&d);
	assert_int_equal(as4_keystore_load("/nonexistent/k.pem", data("ap1.cert.pem"), &ks, &d),
	                 AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "/nonexistent/k.pem"));
}

static void keystore_refuses_encrypted_key(void **state)
{
	(void)state;
	const char *pem = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED "
	                  "PRIVATE KEY-----\n";
	char path[256];
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s/enc.pem", fx_tmpdir()), AS4_OK);
	assert_int_equal(as4_file_write_atomic(path, pem, strlen(pem), 0600), AS4_OK);
	struct as4_keystore *ks = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_keystore_load(path, data("ap1.cert.pem"), &ks, &d), AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "is encrypted"));
	unlink(path);
}

/* Key pairs uploaded through the API: the checks of a load, from memory; save round trip. */
static void keystore_import_from_memory(void **state)
{
	(void)state;
	uint8_t *key = NULL, *cert = NULL, *other = NULL, *weak = NULL, *weak_cert = NULL;
	size_t kl = 0, cl = 0, ol = 0, wl = 0, wcl = 0;
	assert_int_equal(as4_file_read(data("ap1.key.pem"), 1 << 20, &key, &kl), AS4_OK);
	assert_int_equal(as4_file_read(data("ap1.cert.pem"), 1 << 20, &cert, &cl), AS4_OK);
	assert_int_equal(as4_file_read(data("ap2.cert.pem"), 1 << 20, &other, &ol), AS4_OK);
	assert_int_equal(as4_file_read(data("weak.key.pem"), 1 << 20, &weak, &wl), AS4_OK);
	assert_int_equal(as4_file_read(data("weak.cert.pem"), 1 << 20, &weak_cert, &wcl), AS4_OK);
	struct as4_keystore *ks = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_keystore_import(key, kl, cert, cl, "request", &ks, &d), AS4_OK);
	assert_non_null(as4_keystore_cert(ks));
	/* usable for signing like a loaded keystore (its token texts are ready) */
	xmlDoc *env = fx_envelope(0);
	assert_int_equal(as4_wss_sign_signal(ks, AS4_SIG_RSA_SHA256, env, &d), AS4_OK);
	xmlFreeDoc(env);
	/* saved with mode 0600 and loadable like any configured key */
	char path[256];
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s/imported.pem", fx_tmpdir()), AS4_OK);
	assert_int_equal(as4_keystore_save_key(ks, path, &d), AS4_OK);
	as4_keystore_free(ks);
	ks = NULL;
	assert_int_equal(as4_keystore_load(path, data("ap1.cert.pem"), &ks, &d), AS4_OK);
	as4_keystore_free(ks);
	ks = NULL;
	unlink(path);

	as4_diag_init(&d);
	assert_int_equal(as4_keystore_import(key, kl, other, ol, "request", &ks, &d), AS4_E_CONFIG);
	assert_null(ks);
	assert_non_null(
	        strstr(as4_diag_text(&d), "request: the first certificate does not belong"));
	as4_diag_init(&d);
	assert_int_equal(as4_keystore_import(weak, wl, weak_cert, wcl, "request", &ks, &d),
	                 AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "1024 bits"));
	as4_diag_init(&d);
	assert_int_equal(as4_keystore_import(cert, cl, cert, cl, "request", &ks, &d), AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "holds no PEM private key"));
	as4_diag_init(&d);
	assert_int_equal(as4_keystore_import(key, kl, key, kl, "request", &ks, &d), AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "holds no certificate"));
	as4_diag_init(&d);
	assert_int_equal(as4_keystore_import(key, 0, cert, cl, "request", &ks, &d), AS4_E_CONFIG);
	/* the diagnostic never quotes the key */
	assert_null(strstr(as4_diag_text(&d), "PRIVATE KEY"));
	assert_null(ks);
	free(key);
	free(cert);
	free(other);
	free(weak);
	free(weak_cert);
}

static void truststore_paths_and_time(void **state)
{
	(void)state;
	struct as4_diag d;
	struct as4_truststore *root = fx_trust("ca", NULL);
	struct as4_truststore *inter = fx_trust("inter", NULL);
	X509 *ap1 = fx_cert("ap1");
	X509 *ap3 = fx_cert("ap3");
	X509 *rogue = fx_cert("rogue");
	X509 *in = fx_cert("inter");
	STACK_OF(X509) *chain = sk_X509_new_null();
	sk_X509_push(chain, in);

	as4_diag_init(&d);
	assert_int_equal(as4_truststore_verify(root, ap1, NULL, 0, &d), AS4_OK);
	assert_int_equal(as4_truststore_verify(root, ap3, chain, 0, &d), AS4_OK);
	/* an intermediate in the truststore is an anchor of its own */
	assert_int_equal(as4_truststore_verify(inter, ap3, NULL, 0, &d), AS4_OK);
	assert_int_equal(as4_truststore_verify(root, ap3, NULL, 0, &d), AS4_E_UNTRUSTED);
	assert_non_null(strstr(as4_diag_text(&d), "unable to get local issuer certificate"));
	as4_diag_init(&d);
	assert_int_equal(as4_truststore_verify(root, rogue, NULL, 0, &d), AS4_E_UNTRUSTED);
	assert_non_null(strstr(as4_diag_text(&d), "CN=rogue"));
	as4_diag_init(&d);
	assert_int_equal(as4_truststore_verify(root, ap1, NULL, 7258118400000, &d),
	                 AS4_E_UNTRUSTED);
	assert_non_null(strstr(as4_diag_text(&d), "expired"));
	as4_diag_init(&d);
	assert_int_equal(as4_truststore_verify(root, ap1, NULL, 946684800000, &d), AS4_E_UNTRUSTED);
	assert_non_null(strstr(as4_diag_text(&d), "not yet valid"));

	/* loading errors name the file */
	struct as4_truststore *ts = NULL;
	const char *bad[] = {data("ap1.key.pem")};
	as4_diag_init(&d);
	assert_int_equal(as4_truststore_load(bad, 1, &ts, &d), AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "ap1.key.pem"));
	const char *missing[] = {"/nonexistent/ca.pem"};
	as4_diag_init(&d);
	assert_int_equal(as4_truststore_load(missing, 1, &ts, &d), AS4_E_CONFIG);
	assert_null(ts);
	/* several files, one of them a bundle */
	const char *many[] = {data("ca.pem"), data("ap3.chain.pem")};
	as4_diag_init(&d);
	assert_int_equal(as4_truststore_load(many, 2, &ts, &d), AS4_OK);
	assert_int_equal(as4_truststore_verify(ts, rogue, NULL, 0, &d), AS4_E_UNTRUSTED);
	as4_truststore_free(ts);

	sk_X509_pop_free(chain, X509_free);
	X509_free(ap1);
	X509_free(ap3);
	X509_free(rogue);
	as4_truststore_free(root);
	as4_truststore_free(inter);
}

static void certificate_helpers(void **state)
{
	(void)state;
	X509 *ap1 = fx_cert("ap1");
	X509 *ap3 = fx_cert("ap3");
	X509 *in = fx_cert("inter");
	uint8_t ski[64];
	size_t n = 0;
	assert_true(wss_cert_ski(ap1, ski, &n));
	assert_int_equal(n, 20);
	assert_true(wss_cert_ski_matches(ap1, ski, n));
	assert_false(wss_cert_ski_matches(ap3, ski, n));
	assert_int_equal(wss_cert_rsa_bits(ap1), 2048);
	char *serial = wss_cert_serial_dec(ap1);
	assert_non_null(serial);
	/* DN comparison as WSS4J does: order, case and spaces do not matter */
	assert_true(wss_cert_issuer_serial_matches(ap1, "CN=AS4 Test Root CA,O=AS4 Test", serial));
	assert_true(wss_cert_issuer_serial_matches(ap1, "o=as4 test, cn=AS4 Test Root CA", serial));
	assert_true(wss_cert_issuer_serial_matches(ap1, "OID.2.5.4.3=AS4 Test Root CA, O=AS4 Test",
	                                           serial));
	assert_false(wss_cert_issuer_serial_matches(ap1, "CN=AS4 Test Root CA", serial));
	assert_false(wss_cert_issuer_serial_matches(ap1, "CN=AS4 Test Root CA,O=AS4 Test", "1"));
	assert_false(wss_cert_issuer_serial_matches(ap1, "CN=AS4 Test Root CA,O=AS4 Test", "-1"));
	free(serial);
	/* PKIPath: anchor side first; the signer is recognised in either order */
	STACK_OF(X509) *chain = sk_X509_new_null();
	sk_X509_push(chain, in);
	uint8_t *der = NULL;
	size_t len = 0;
	assert_int_equal(wss_pkipath_encode(ap3, chain, &der, &len), AS4_OK);
	X509 *leaf = NULL;
	STACK_OF(X509) *others = NULL;
	assert_true(wss_pkipath_parse(der, len, &leaf, &others));
	assert_int_equal(X509_cmp(leaf, ap3), 0);
	assert_int_equal(sk_X509_num(others), 1);
	X509_free(leaf);
	sk_X509_pop_free(others, X509_free);
	assert_false(wss_pkipath_parse(der, len - 1, &leaf, &others));
	assert_false(wss_pkipath_parse(der + 4, len - 4, &leaf, &others));
	free(der);
	sk_X509_pop_free(chain, X509_free);
	X509_free(ap1);
	X509_free(ap3);
}

static int setup(void **state)
{
	(void)state;
	as4_xml_global_init();
	return as4_wss_global_init() == AS4_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	as4_wss_global_cleanup();
	as4_xml_global_cleanup();
	fx_cleanup_dir();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(keystore_loads_key_and_chain),
	        cmocka_unit_test(keystore_refuses_open_modes),
	        cmocka_unit_test(keystore_refuses_bad_keys),
	        cmocka_unit_test(keystore_refuses_encrypted_key),
	        cmocka_unit_test(keystore_import_from_memory),
	        cmocka_unit_test(truststore_paths_and_time),
	        cmocka_unit_test(certificate_helpers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
