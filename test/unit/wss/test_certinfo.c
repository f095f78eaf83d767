/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-certificate facts kept with each X509 (ap/wss/certinfo.c): the same answers as
 * computing them afresh (subject, key size, DER, validity to the second at both ends), a
 * token recognised as a known certificate only when byte for byte equal, and one record per
 * certificate when threads ask at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>

#include "wss_fixture.h"

#include "../../../ap/wss/wss_int.h"

static X509 *cert_of(const char *name)
{
	char path[256];
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s/%s.cert.pem", FX_DATA, name), AS4_OK);
	X509 *x = fx_cert_file(path);
	assert_non_null(x);
	return x;
}

static void same_as_uncached(void **state)
{
	(void)state;
	const char *names[] = {"ap1", "ap2", "ap3", "ec"};
	for (size_t i = 0; i < AS4_ARRAY_LEN(names); i++) {
		X509 *x = cert_of(names[i]);
		const struct wss_cert_info *info = wss_cert_info(x);
		assert_non_null(info);
		assert_ptr_equal(wss_cert_info(x), info); /* computed once */
		char *subject = wss_cert_name_uncached(x);
		assert_string_equal(info->subject, subject);
		char *again = wss_cert_name(x, false);
		assert_string_equal(again, subject);
		free(again);
		free(subject);
		assert_int_equal(info->rsa_bits, wss_cert_rsa_bits_uncached(x));
		assert_int_equal(wss_cert_rsa_bits(x), wss_cert_rsa_bits_uncached(x));
		uint8_t *der = NULL;
		size_t len = 0;
		assert_int_equal(wss_cert_der(x, &der, &len), AS4_OK);
		assert_int_equal(info->der_len, len);
		assert_memory_equal(info->der, der, len);
		free(der);
		X509_free(x);
	}
}

/* Validity as X509_cmp_time decides it, one second either side of both ends. */
static void validity_edges(void **state)
{
	(void)state;
	X509 *x = cert_of("ap1");
	const struct wss_cert_info *info = wss_cert_info(x);
	assert_non_null(info);
	assert_true(info->times_ok);
	int64_t edges[] = {info->not_before, info->not_after};
	for (size_t e = 0; e < 2; e++) {
		for (int64_t delta = -1; delta <= 1; delta++) {
			time_t t = (time_t)(edges[e] + delta);
			bool expect = X509_cmp_time(X509_get0_notBefore(x), &t) == -1 &&
			              X509_cmp_time(X509_get0_notAfter(x), &t) == 1;
			/* also a time within the second (milliseconds are cut off) */
			assert_int_equal(wss_cert_time_valid(x, (int64_t)t * 1000), expect);
			assert_int_equal(wss_cert_time_valid(x, (int64_t)t * 1000 + 999), expect);
		}
	}
	X509_free(x);
}

static void known_only_when_identical(void **state)
{
	(void)state;
	X509 *a = cert_of("ap1");
	X509 *b = cert_of("ap2");
	X509 *known[2] = {b, a};
	const struct wss_cert_info *ia = wss_cert_info(a);
	assert_non_null(ia);
	X509 *got = wss_cert_from_der_known(ia->der, ia->der_len, known, 2);
	assert_ptr_equal(got, a); /* the object we hold, with a reference taken */
	X509_free(got);
	/* one byte changed in the signature: no longer the known certificate */
	uint8_t *der = malloc(ia->der_len);
	assert_non_null(der);
	memcpy(der, ia->der, ia->der_len);
	der[ia->der_len - 1] ^= 1;
	got = wss_cert_from_der_known(der, ia->der_len, known, 2);
	assert_true(got != a && got != b);
	X509_free(got);
	/* a prefix of it is no certificate at all */
	assert_null(wss_cert_from_der_known(der, ia->der_len / 2, known, 2));
	free(der);
	X509_free(a);
	X509_free(b);
}

static void *ask(void *arg)
{
	return (void *)(uintptr_t)wss_cert_info(arg);
}

static void threads_get_one_record(void **state)
{
	(void)state;
	X509 *x = cert_of("ap2");
	pthread_t t[4];
	void *got[4];
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(pthread_create(&t[i], NULL, ask, x), 0);
	}
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &got[i]), 0);
		assert_non_null(got[i]);
		assert_ptr_equal(got[i], got[0]);
	}
	X509_free(x);
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
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(same_as_uncached),
	        cmocka_unit_test(validity_edges),
	        cmocka_unit_test(known_only_when_identical),
	        cmocka_unit_test(threads_get_one_record),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
