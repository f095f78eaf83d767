/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MIME interoperability vectors of ../shared/interop (Holodeck B2B, AS4.NET, phase4)
 * through the MIME parser and the security layer, with the verdicts of interop/README.md:
 * decryption with rsa-oaep-mgf1p, IssuerSerial and SKI key references, XML and binary
 * attachments, corrupted ciphertext, and a receipt whose certificate has since expired.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "as4/arena.h"
#include "as4/gzip.h"
#include "as4/mime.h"
#include "as4/time.h"

#include "../unit/wss/wss_fixture.h"

#include "../../ap/wss/wss_int.h"

#define VEC  AS4_SHARED_DIR "/interop/messages/"
#define KEYS AS4_SHARED_DIR "/interop/keys/"

/* A received message: the MIME structure and the parsed SOAP root. */
struct msg {
	uint8_t *raw;
	struct as4_arena *arena;
	struct as4_mime mime;
	xmlDoc *env;
	struct as4_limits lim;
};

static void load(struct msg *m, const char *name)
{
	char path[512];
	size_t len = 0;
	const char *ct = NULL;
	struct as4_blob body;
	struct as4_diag d;
	as4_diag_init(&d);
	memset(m, 0, sizeof(*m));
	as4_limits_default(&m->lim);
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s%s", VEC, name), AS4_OK);
	assert_int_equal(as4_file_read(path, 8 << 20, &m->raw, &len), AS4_OK);
	m->arena = as4_arena_new(0);
	assert_non_null(m->arena);
	as4_err err = as4_mime_split_entity(m->raw, len, m->arena, &ct, &body, &d);
	if (err == AS4_OK) {
		err = as4_mime_parse(&body, ct, &m->lim, m->arena, NULL, &m->mime, &d);
	}
	if (err == AS4_OK) {
		const struct as4_part *root = &m->mime.parts[0];
		err = as4_xml_parse(root->data.data, root->data.len, &m->lim, &m->env, &d);
	}
	if (err != AS4_OK) {
		fprintf(stderr, "%s: %s\n", name, as4_diag_text(&d));
	}
	assert_int_equal(err, AS4_OK);
}

static void unload(struct msg *m)
{
	xmlFreeDoc(m->env);
	as4_mime_cleanup(&m->mime);
	as4_arena_free(m->arena);
	free(m->raw);
}

static as4_err open_msg(struct msg *m, struct as4_wss_open_params *op,
                        struct as4_wss_open_result *res, struct as4_diag *d)
{
	as4_diag_init(d);
	op->limits = &m->lim;
	op->arena = m->arena;
	as4_err err = as4_wss_open(op, m->env, m->mime.parts + 1, m->mime.n_parts - 1, res, d);
	if (err != AS4_OK) {
		fprintf(stderr, "open: %s\n", as4_diag_text(d));
	}
	return err;
}

static void gunzips(const struct as4_part *p)
{
	struct as4_sink out;
	struct as4_blob plain;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_sink_init(&out, NULL, 0, 64u << 20);
	assert_int_equal(as4_gzip_decompress(&p->data, 1000, &out, &d), AS4_OK);
	assert_int_equal(as4_sink_finish(&out, &plain), AS4_OK);
	assert_true(plain.len > 0);
	as4_blob_cleanup(&plain);
	as4_sink_cleanup(&out);
}

/*
 * Holodeck: 2 gzip attachments, signed rsa-sha384 (IssuerSerial of AccessPointA), encrypted
 * AES-128-GCM with rsa-oaep-mgf1p + SHA-256 for AccessPointB: valid 4/4, both gunzip.
 */
static void holodeck_encrypted_signed_issuerserial(void **state)
{
	(void)state;
	struct msg m;
	struct as4_diag d;
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	load(&m, "as4-encrypted-signed-issuerserial.as4");
	struct as4_keystore *b =
	        fx_keystore_from(KEYS "accesspointb.key.pem", KEYS "accesspointb.cert.pem");
	X509 *a = fx_cert_file(KEYS "accesspointa.cert.pem");
	struct as4_wss_open_params op = {.decrypt_keys = &b,
	                                 .n_decrypt_keys = 1,
	                                 .accepted = &a,
	                                 .n_accepted = 1,
	                                 .require_signature = true,
	                                 .require_encryption = true};
	assert_int_equal(open_msg(&m, &op, &res, &d), AS4_OK);
	assert_true(res.signature_valid);
	assert_true(res.signer_trusted);
	assert_int_equal(res.refs_total, 4);
	assert_int_equal(res.refs_valid, 4);
	assert_string_equal(res.signature_alg, WSS_ALG_RSA_SHA384);
	assert_string_equal(res.signer_ref, "X509IssuerSerial");
	assert_string_equal(res.key_transport_alg, WSS_ALG_RSA_MGF1P);
	assert_string_equal(res.data_alg, WSS_ALG_AES128_GCM);
	assert_int_equal(res.parts_decrypted, 2);
	for (size_t i = 1; i < m.mime.n_parts; i++) {
		assert_true(m.mime.parts[i].decrypted);
		assert_string_equal(m.mime.parts[i].content_type, "application/gzip");
		gunzips(&m.mime.parts[i]);
	}
	as4_wss_open_result_cleanup(&res);
	unload(&m);
	/* the same message for a receiver whose key is not the one it was encrypted for */
	load(&m, "as4-encrypted-signed-issuerserial.as4");
	struct as4_keystore *other =
	        fx_keystore_from(KEYS "accesspointa.key.pem", KEYS "accesspointa.cert.pem");
	op.decrypt_keys = &other;
	assert_int_equal(open_msg(&m, &op, &res, &d), AS4_E_DECRYPT);
	assert_non_null(strstr(as4_diag_text(&d), "not for one of our certificates"));
	as4_wss_open_result_cleanup(&res);
	unload(&m);
	as4_keystore_free(other);
	X509_free(a);
	as4_keystore_free(b);
}

/* Holodeck: 2 gzip attachments, signed rsa-sha384, KeyIdentifier SKI of AccessPointB. */
static void holodeck_signed_ski(void **state)
{
	(void)state;
	struct msg m;
	struct as4_diag d;
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	load(&m, "signed_holodeck_message.as4");
	X509 *b = fx_cert_file(KEYS "accesspointb.cert.pem");
	struct as4_wss_open_params op = {
	        .accepted = &b, .n_accepted = 1, .require_signature = true};
	assert_int_equal(open_msg(&m, &op, &res, &d), AS4_OK);
	assert_int_equal(res.refs_valid, 4);
	assert_string_equal(res.signer_ref, "KeyIdentifier SKI");
	assert_false(res.encrypted);
	as4_wss_open_result_cleanup(&res);
	/* one flipped byte in an attachment: its reference fails */
	uint8_t *p = (uint8_t *)(uintptr_t)m.mime.parts[2].data.data;
	p[m.mime.parts[2].data.len / 2] ^= 1;
	as4_diag_init(&d);
	assert_int_equal(as4_wss_open(&op, m.env, m.mime.parts + 1, 2, &res, &d),
	                 AS4_E_SIG_INVALID);
	assert_non_null(strstr(as4_diag_text(&d), "does not match"));
	assert_int_equal(res.refs_valid, 3);
	as4_wss_open_result_cleanup(&res);
	X509_free(b);
	unload(&m);
}

/* Holodeck: XML and JPEG attachments, encrypted only: decrypts; a signing PMode refuses it. */
static void holodeck_encrypted_only(void **state)
{
	(void)state;
	struct msg m;
	struct as4_diag d;
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	struct as4_keystore *b =
	        fx_keystore_from(KEYS "accesspointb.key.pem", KEYS "accesspointb.cert.pem");
	load(&m, "_8_1_22_message.as4");
	struct as4_wss_open_params op = {
	        .decrypt_keys = &b, .n_decrypt_keys = 1, .require_encryption = true};
	assert_int_equal(open_msg(&m, &op, &res, &d), AS4_OK);
	assert_int_equal(res.parts_decrypted, 2);
	assert_false(res.signed_msg);
	bool xml = false;
	bool jpeg = false;
	for (size_t i = 1; i < m.mime.n_parts; i++) {
		const struct as4_part *p = &m.mime.parts[i];
		if (as4_media_type_is_xml(p->content_type)) {
			xmlDoc *doc = NULL;
			assert_int_equal(as4_xml_parse(p->data.data, p->data.len, NULL, &doc, NULL),
			                 AS4_OK);
			xmlFreeDoc(doc);
			xml = true;
		} else if (strcmp(p->content_type, "image/jpeg") == 0) {
			assert_true(p->data.len > 2 && p->data.data[0] == 0xff &&
			            p->data.data[1] == 0xd8);
			jpeg = true;
		}
	}
	assert_true(xml);
	assert_true(jpeg);
	as4_wss_open_result_cleanup(&res);
	unload(&m);
	load(&m, "_8_1_22_message.as4");
	op.require_signature = true;
	assert_int_equal(open_msg(&m, &op, &res, &d), AS4_E_POLICY);
	assert_string_equal(as4_err_ebms_code(AS4_E_POLICY), "EBMS:0103");
	as4_wss_open_result_cleanup(&res);
	unload(&m);
	as4_keystore_free(b);
}

/* AS4.NET negative: corrupted attachment ciphertext: the key unwraps, the GCM tag fails. */
static void asnet_wrong_encrypted(void **state)
{
	(void)state;
	struct msg m;
	struct as4_diag d;
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	struct as4_keystore *k = NULL;
	char *key = fx_copy(KEYS "holodeck-partya.key.pem", "partya.key.pem", 0600);
	as4_diag_init(&d);
	/* a 1024-bit example key: as4_keystore_load refuses it, the test reads it anyway */
	assert_int_equal(as4_keystore_load(key, KEYS "holodeck-partya.cert.pem", &k, &d),
	                 AS4_E_CONFIG);
	assert_int_equal(
	        as4_keystore_load_min_bits(key, KEYS "holodeck-partya.cert.pem", 1024, &k, &d),
	        AS4_OK);
	unlink(key);
	load(&m, "as4-soap-wrong-encrypted-message");
	struct wss_env e;
	assert_int_equal(wss_env_find(m.env, false, &e, &d), AS4_OK);
	assert_int_equal(wss_ids_register(m.env, NULL, &d), AS4_OK);
	uint8_t cek[32];
	size_t len = 0;
	assert_int_equal(wss_unwrap_key(&e, as4_xml_child(e.security, AS4_NS_XENC, "EncryptedKey"),
	                                &k, 1, cek, sizeof(cek), &len, &d),
	                 AS4_OK);
	assert_int_equal(len, 16);
	struct as4_wss_open_params op = {.decrypt_keys = &k, .n_decrypt_keys = 1};
	assert_int_equal(open_msg(&m, &op, &res, &d), AS4_E_DECRYPT);
	assert_non_null(strstr(as4_diag_text(&d), "authentication tag mismatch"));
	assert_string_equal(as4_err_ebms_code(AS4_E_DECRYPT), "EBMS:0102");
	/* nothing was delivered: the parts are untouched ciphertext */
	assert_int_equal(res.parts_decrypted, 0);
	for (size_t i = 1; i < m.mime.n_parts; i++) {
		assert_false(m.mime.parts[i].decrypted);
	}
	/* and each attachment on its own fails the tag check */
	for (size_t i = 1; i < m.mime.n_parts; i++) {
		struct as4_sink s;
		as4_sink_init(&s, NULL, 0, m.mime.parts[i].data.len);
		assert_int_equal(wss_gcm(false, cek, len, &m.mime.parts[i].data, &s, &d),
		                 AS4_E_DECRYPT);
		as4_sink_cleanup(&s);
	}
	as4_wss_open_result_cleanup(&res);
	unload(&m);
	as4_keystore_free(k);
}

/* phase4 HTTP dump: a signed Receipt valid at its own timestamp, untrusted today. */
static void phase4_receipt_expired_certificate(void **state)
{
	(void)state;
	struct msg m;
	struct as4_diag d;
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	load(&m, "helger.as4in");
	int64_t ts = 0;
	assert_int_equal(as4_time_parse("2022-03-07T17:36:50.173Z", &ts), AS4_OK);
	struct as4_wss_open_params op = {.structural_only = true, .at_ms = ts};
	assert_int_equal(open_msg(&m, &op, &res, &d), AS4_OK);
	assert_true(res.signature_valid);
	assert_true(res.signer_time_valid);
	X509 *signer = res.signer;
	X509_up_ref(signer);
	as4_wss_open_result_cleanup(&res);
	struct as4_wss_open_params op2 = {.accepted = &signer, .n_accepted = 1, .at_ms = ts};
	assert_int_equal(open_msg(&m, &op2, &res, &d), AS4_OK);
	assert_true(res.signer_trusted);
	as4_wss_open_result_cleanup(&res);
	op2.at_ms = 0; /* today: the certificate expired on 2023-05-14 */
	as4_diag_init(&d);
	assert_int_equal(as4_wss_open(&op2, m.env, m.mime.parts + 1, m.mime.n_parts - 1, &res, &d),
	                 AS4_E_UNTRUSTED);
	assert_non_null(strstr(as4_diag_text(&d), "is not valid at"));
	assert_false(res.signer_time_valid);
	as4_wss_open_result_cleanup(&res);
	X509_free(signer);
	unload(&m);
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
	        cmocka_unit_test(holodeck_encrypted_signed_issuerserial),
	        cmocka_unit_test(holodeck_signed_ski),
	        cmocka_unit_test(holodeck_encrypted_only),
	        cmocka_unit_test(asnet_wrong_encrypted),
	        cmocka_unit_test(phase4_receipt_expired_certificate),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
