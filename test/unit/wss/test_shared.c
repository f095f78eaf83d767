/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keystores, certificates and the algorithms fetched at start-up are shared by the worker
 * threads (wss.h "Thread-safety"); what the layer keeps with them for speed (the prepared
 * RSA contexts of a keystore, the per-certificate facts) is made on first use by whichever
 * thread comes first. Four threads seal and open messages with the same keystores and
 * partner certificate at once, from a cold start; every message must open, verify and
 * decrypt to its own payload. (Run under ASan/UBSan in CI, and under TSan by hand.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>

#include "wss_fixture.h"

#define THREADS  4
#define MESSAGES 12

struct shared {
	struct as4_keystore *sender;
	struct as4_keystore *receiver;
	X509 *partner; /* the sender's certificate, as a partner certificate object */
};

struct worker {
	const struct shared *sh;
	unsigned id;
	int failures;
	char why[160];
};

static int one_message(struct worker *w, unsigned k)
{
	const struct shared *sh = w->sh;
	char payload[96];
	char cid[32];
	if (as4_str_fmt(payload, sizeof(payload), "<doc xmlns=\"urn:t\">thread %u message %u</doc>",
	                w->id, k) != AS4_OK ||
	    as4_str_fmt(cid, sizeof(cid), "p1@test") != AS4_OK) {
		return 1;
	}
	xmlDoc *env = fx_envelope(1);
	struct as4_part part;
	as4_part_init(&part);
	part.content_id = cid;
	part.content_type = "application/xml";
	as4_blob_borrow(&part.data, payload, strlen(payload));
	struct as4_wss_seal_params sp = {.signer = sh->sender,
	                                 .encrypt_for = as4_keystore_cert(sh->receiver)};
	struct as4_diag d;
	as4_diag_init(&d);
	int bad = 0;
	if (as4_wss_seal(&sp, env, &part, 1, NULL, &d) != AS4_OK) {
		bad = 1;
		goto out;
	}
	env = fx_wire(env);
	struct as4_wss_open_params op = {.decrypt_keys = &sh->receiver,
	                                 .n_decrypt_keys = 1,
	                                 .accepted = &sh->partner,
	                                 .n_accepted = 1,
	                                 .require_signature = true,
	                                 .require_encryption = true};
	struct as4_wss_open_result res;
	as4_diag_init(&d);
	bad = as4_wss_open(&op, env, &part, 1, &res, &d) != AS4_OK || !res.signature_valid ||
	      !res.signer_trusted || part.data.len != strlen(payload) ||
	      memcmp(part.data.data, payload, part.data.len) != 0;
	as4_wss_open_result_cleanup(&res);
	if (!bad) {
		/* and the Receipt the receiver signs with its own shared keystore */
		xmlDoc *sig = fx_envelope(0);
		as4_diag_init(&d);
		bad = as4_wss_sign_signal(sh->receiver, AS4_SIG_RSA_SHA256, sig, &d) != AS4_OK;
		xmlFreeDoc(sig);
	}
out:
	if (bad && w->why[0] == '\0' &&
	    as4_str_fmt(w->why, sizeof(w->why), "%s", as4_diag_text(&d)) != AS4_OK) {
		/* a cut reason is still a reason */
	}
	as4_part_cleanup(&part);
	xmlFreeDoc(env);
	return bad;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	for (unsigned k = 0; k < MESSAGES; k++) {
		w->failures += one_message(w, k);
	}
	return NULL;
}

static void threads_share_keystores_and_certificates(void **state)
{
	(void)state;
	/* a cold start: nothing prepared or cached yet when the threads begin */
	struct shared sh = {fx_keystore("ap1"), fx_keystore("ap2"), fx_cert("ap1")};
	struct worker w[THREADS];
	pthread_t t[THREADS];
	memset(w, 0, sizeof(w));
	for (unsigned i = 0; i < THREADS; i++) {
		w[i].sh = &sh;
		w[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (unsigned i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		if (w[i].failures != 0) {
			print_error("thread %u: %d failures, first: %s\n", i, w[i].failures,
			            w[i].why);
		}
		assert_int_equal(w[i].failures, 0);
	}
	as4_keystore_free(sh.sender);
	as4_keystore_free(sh.receiver);
	X509_free(sh.partner);
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
	fx_cleanup_dir();
	as4_wss_global_cleanup();
	as4_xml_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(threads_share_keystores_and_certificates),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
