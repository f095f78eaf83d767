/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `as4ctl certs dev DIR` and `as4ctl certs show FILE` end to end: the development PKI it
 * writes loads into keystores and truststores, chains, seals and opens; an existing complete
 * set is kept, a partial one is refused naming what is missing.
 * Usage: interop_wss_certs PATH_TO_AS4CTL
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "as4/time.h"

#include "../unit/wss/wss_fixture.h"

static const char *as4ctl;
static char dir[64];

static int run(char *out, size_t cap, const char *fmt, ...) AS4_PRINTF(3, 4);

static int run(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(cmd) - 8);
	memcpy(cmd + n, " 2>&1", 6);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t used = fread(out, 1, cap - 1, p);
	out[used] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *in_dir(const char *name)
{
	static char p[8][256];
	static int slot;
	char *out = p[slot++ % 8];
	assert_int_equal(as4_str_fmt(out, sizeof(p[0]), "%s/pki/%s", dir, name), AS4_OK);
	return out;
}

static void dev_pki_works(void **state)
{
	(void)state;
	char out[8192];
	assert_int_equal(run(out, sizeof(out), "%s certs dev %s/pki", as4ctl, dir), 0);
	assert_non_null(strstr(out, "development PKI ready"));
	const char *keys[] = {"ca.key.pem", "ap1.key.pem", "ap2.key.pem"};
	for (size_t i = 0; i < AS4_ARRAY_LEN(keys); i++) {
		struct stat st;
		assert_int_equal(stat(in_dir(keys[i]), &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	/* the keys load as keystores and the certificates chain to the CA */
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_keystore *ap1 = NULL;
	struct as4_keystore *ap2 = NULL;
	assert_int_equal(as4_keystore_load(in_dir("ap1.key.pem"), in_dir("ap1.cert.pem"), &ap1, &d),
	                 AS4_OK);
	assert_int_equal(as4_keystore_load(in_dir("ap2.key.pem"), in_dir("ap2.cert.pem"), &ap2, &d),
	                 AS4_OK);
	const char *ca[] = {in_dir("ca.pem")};
	struct as4_truststore *ts = NULL;
	assert_int_equal(as4_truststore_load(ca, 1, &ts, &d), AS4_OK);
	assert_int_equal(as4_truststore_verify(ts, as4_keystore_cert(ap1), NULL, 0, &d), AS4_OK);
	/* valid for two years, not three */
	int64_t in3y = as4_time_now_ms() + 3LL * 365 * 86400 * 1000;
	assert_int_equal(as4_truststore_verify(ts, as4_keystore_cert(ap2), NULL, in3y, &d),
	                 AS4_E_UNTRUSTED);
	/* and they seal and open a message */
	xmlDoc *env = fx_envelope(2);
	struct as4_part parts[2];
	fx_two_parts(parts);
	struct as4_wss_seal_params sp = {.signer = ap1, .encrypt_for = as4_keystore_cert(ap2)};
	as4_diag_init(&d);
	assert_int_equal(as4_wss_seal(&sp, env, parts, 2, NULL, &d), AS4_OK);
	env = fx_wire(env);
	struct as4_wss_open_params op = {.decrypt_keys = &ap2,
	                                 .n_decrypt_keys = 1,
	                                 .trust = ts,
	                                 .require_signature = true,
	                                 .require_encryption = true};
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	assert_int_equal(as4_wss_open(&op, env, parts, 2, &res, &d), AS4_OK);
	assert_true(res.signer_trusted);
	as4_wss_open_result_cleanup(&res);
	as4_part_cleanup(&parts[0]);
	as4_part_cleanup(&parts[1]);
	xmlFreeDoc(env);
	as4_truststore_free(ts);
	as4_keystore_free(ap1);
	as4_keystore_free(ap2);

	/* show */
	assert_int_equal(run(out, sizeof(out), "%s certs show %s", as4ctl, in_dir("ap1.cert.pem")),
	                 0);
	assert_non_null(strstr(out, "subject      CN=ap1,O=AS4 Development"));
	assert_non_null(strstr(out, "issuer       CN=AS4 Development CA,O=AS4 Development"));
	assert_non_null(strstr(out, "RSA 2048 bits"));
	assert_non_null(strstr(out, "days left"));
	assert_non_null(strstr(out, "DNS:localhost, IP Address:127.0.0.1"));
	assert_non_null(strstr(out, "TLS Web Server Authentication, TLS Web Client"));
	assert_int_equal(run(out, sizeof(out), "%s certs show %s", as4ctl, in_dir("ap1.key.pem")),
	                 1);
	assert_non_null(strstr(out, "holds no certificate"));
}

static void dev_pki_kept_or_refused(void **state)
{
	(void)state;
	char out[8192];
	uint8_t *before = NULL;
	size_t len = 0;
	assert_int_equal(as4_file_read(in_dir("ap2.cert.pem"), 1 << 20, &before, &len), AS4_OK);
	assert_int_equal(run(out, sizeof(out), "%s certs dev %s/pki", as4ctl, dir), 0);
	assert_non_null(strstr(out, "left untouched"));
	uint8_t *after = NULL;
	size_t len2 = 0;
	assert_int_equal(as4_file_read(in_dir("ap2.cert.pem"), 1 << 20, &after, &len2), AS4_OK);
	assert_int_equal(len, len2);
	assert_memory_equal(before, after, len);
	free(before);
	free(after);
	assert_int_equal(unlink(in_dir("ap2.cert.pem")), 0);
	assert_int_equal(unlink(in_dir("ca.key.pem")), 0);
	assert_int_equal(run(out, sizeof(out), "%s certs dev %s/pki", as4ctl, dir), 1);
	assert_non_null(strstr(out, "partial development PKI; missing: ca.key.pem ap2.cert.pem"));
	assert_int_equal(run(out, sizeof(out), "%s certs", as4ctl), 2);
	assert_int_equal(run(out, sizeof(out), "%s certs frobnicate x", as4ctl), 2);
}

static int setup(void **state)
{
	(void)state;
	as4_xml_global_init();
	if (as4_str_copy(dir, sizeof(dir), "/tmp/as4-certs-XXXXXX") != AS4_OK ||
	    mkdtemp(dir) == NULL) {
		return -1;
	}
	return as4_wss_global_init() == AS4_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char out[256];
	int rc = run(out, sizeof(out), "rm -rf %s", dir);
	as4_wss_global_cleanup();
	as4_xml_global_cleanup();
	fx_cleanup_dir();
	return rc == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s AS4CTL\n", argv[0]);
		return 2;
	}
	as4ctl = argv[1];
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(dev_pki_works),
	        cmocka_unit_test(dev_pki_kept_or_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
