/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SOAP-only interoperability vectors of ../shared/interop (made by AS4.NET, phase4,
 * Domibus) opened at the security layer, with the verdicts of interop/README.md. The MIME
 * vectors are in test/interop/wss_vectors.c (they need the MIME parser of the layer above).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "as4/time.h"
#include "wss_fixture.h"

#include "../../../ap/wss/wss_int.h"

#define VEC  AS4_SHARED_DIR "/interop/messages/"
#define KEYS AS4_SHARED_DIR "/interop/keys/"

/*
 * Read a vector. phase4's files carry a licence comment before "<?xml": it is not on the
 * wire and not signed, so it is cut off (interop/README.md "File formats").
 */
static xmlDoc *vector(const char *name)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char path[512];
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s%s", VEC, name), AS4_OK);
	assert_int_equal(as4_file_read(path, 4 << 20, &buf, &len), AS4_OK);
	const uint8_t *start = buf;
	const char *decl = strstr((const char *)buf, "<?xml");
	const char *comment = strstr((const char *)buf, "<!--");
	if (decl != NULL && comment != NULL && comment < decl) {
		start = (const uint8_t *)decl;
	}
	xmlDoc *doc = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_xml_parse(start, len - (size_t)(start - buf), NULL, &doc, &d);
	if (err != AS4_OK) {
		fprintf(stderr, "%s: %s\n", name, as4_diag_text(&d));
	}
	assert_int_equal(err, AS4_OK);
	free(buf);
	return doc;
}

static int64_t at(const char *t)
{
	int64_t ms = 0;
	assert_int_equal(as4_time_parse(t, &ms), AS4_OK);
	return ms;
}

static as4_err open_vec(xmlDoc *doc, const struct as4_wss_open_params *op,
                        struct as4_wss_open_result *res, struct as4_diag *d)
{
	as4_diag_init(d);
	return as4_wss_open(op, doc, NULL, 0, res, d);
}

/* AS4.NET: SOAP-only UserMessage, rsa-sha384, KeyIdentifier SKI of AccessPointB: valid 2/2. */
static void asnet_8_1_21_ski(void **state)
{
	(void)state;
	struct as4_diag d;
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	xmlDoc *doc = vector("8.1.21-message.xml");
	X509 *b = fx_cert_file(KEYS "accesspointb.cert.pem");
	struct as4_wss_open_params op = {
	        .accepted = &b, .n_accepted = 1, .require_signature = true};
	assert_int_equal(open_vec(doc, &op, &res, &d), AS4_OK);
	assert_true(res.signature_valid);
	assert_true(res.signer_trusted);
	assert_int_equal(res.refs_total, 2);
	assert_int_equal(res.refs_valid, 2);
	assert_string_equal(res.signature_alg, WSS_ALG_RSA_SHA384);
	assert_string_equal(res.signer_ref, "KeyIdentifier SKI");
	assert_string_equal(res.signer_subject, "CN=AccessPointB");
	as4_wss_open_result_cleanup(&res);
	/* without the certificate, the SKI names nobody we know */
	op.n_accepted = 0;
	assert_int_equal(open_vec(doc, &op, &res, &d), AS4_E_UNTRUSTED);
	assert_non_null(strstr(as4_diag_text(&d), "signer not known"));
	as4_wss_open_result_cleanup(&res);
	X509_free(b);
	xmlFreeDoc(doc);
}

/* AS4.NET: signed PullRequest, BST of AccessPointA, UTF-8 BOM: valid 2/2. */
static void asnet_pullrequest_bst(void **state)
{
	(void)state;
	struct as4_diag d;
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	xmlDoc *doc = vector("as4-soap-signed-pullrequest.xml");
	struct as4_wss_open_params op = {.structural_only = true, .require_signature = true};
	assert_int_equal(open_vec(doc, &op, &res, &d), AS4_OK);
	assert_true(res.signature_valid);
	assert_false(res.signer_trusted);
	assert_int_equal(res.refs_valid, 2);
	assert_string_equal(res.signer_ref, "BST X509v3");
	as4_wss_open_result_cleanup(&res);
	X509 *a = fx_cert_file(KEYS "accesspointa.cert.pem");
	struct as4_wss_open_params op2 = {.accepted = &a, .n_accepted = 1};
	assert_int_equal(open_vec(doc, &op2, &res, &d), AS4_OK);
	assert_true(res.signer_trusted);
	as4_wss_open_result_cleanup(&res);
	X509_free(a);
	xmlFreeDoc(doc);
}

/* phase4: signed Receipt with NonRepudiationInformation by a Peppol test AP: valid. */
static void phase4_receipt(void **state)
{
	(void)state;
	struct as4_diag d;
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	xmlDoc *doc = vector("TestReceipt12.xml");
	struct as4_wss_open_params op = {.structural_only = true,
	                                 .at_ms = at("2025-12-05T14:03:40.878Z")};
	assert_int_equal(open_vec(doc, &op, &res, &d), AS4_OK);
	assert_true(res.signature_valid);
	assert_true(res.signer_time_valid);
	assert_int_equal(res.refs_total, 2);
	assert_non_null(strstr(res.signer_subject, "CN=PDE000576"));
	/* the NRI's ds:References are not signature references: only SignedInfo's count */
	assert_int_equal(res.refs.n, 2);
	/* trusting the signer's certificate as a partner certificate */
	X509 *signer = res.signer;
	X509_up_ref(signer);
	as4_wss_open_result_cleanup(&res);
	struct as4_wss_open_params op2 = {.accepted = &signer,
	                                  .n_accepted = 1,
	                                  .require_signature = true,
	                                  .at_ms = at("2025-12-05T14:03:40.878Z")};
	assert_int_equal(open_vec(doc, &op2, &res, &d), AS4_OK);
	assert_true(res.signer_trusted);
	as4_wss_open_result_cleanup(&res);
	/* after the certificate's end (2027-10-27) the same receipt is untrusted */
	op2.at_ms = at("2028-01-01T00:00:00Z");
	assert_int_equal(open_vec(doc, &op2, &res, &d), AS4_E_UNTRUSTED);
	as4_wss_open_result_cleanup(&res);
	X509_free(signer);
	xmlFreeDoc(doc);
}

/* AS4.NET negative: Body wsu:Id altered after signing: a reference does not resolve. */
static void asnet_wrong_signed(void **state)
{
	(void)state;
	struct as4_diag d;
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	xmlDoc *doc = vector("as4-soap-wrong-signed-message.txt");
	struct as4_wss_open_params op = {.structural_only = true, .require_signature = true};
	assert_int_equal(open_vec(doc, &op, &res, &d), AS4_E_SIG_INVALID);
	assert_non_null(strstr(as4_diag_text(&d), "does not resolve"));
	assert_string_equal(as4_err_ebms_code(AS4_E_SIG_INVALID), "EBMS:0101");
	as4_wss_open_result_cleanup(&res);
	xmlFreeDoc(doc);
}

/* phase4 negative: SignatureMethod is an unknown URI: refused, never crashes. */
static void phase4_wrong_signing_algorithm(void **state)
{
	(void)state;
	struct as4_diag d;
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	xmlDoc *doc = vector("WrongSigningAlgorithm.xml");
	struct as4_wss_open_params op = {.structural_only = true, .require_signature = true};
	assert_int_equal(open_vec(doc, &op, &res, &d), AS4_E_SIG_INVALID);
	assert_non_null(strstr(as4_diag_text(&d), "http://www.randomcrypt.com/random"));
	assert_string_equal(res.signature_alg, "http://www.randomcrypt.com/random");
	as4_wss_open_result_cleanup(&res);
	xmlFreeDoc(doc);
}

/*
 * Domibus: signed and encrypted envelope (attachment not included), EncryptedKey
 * xmlenc11#rsa-oaep + SHA-256 + MGF1-SHA256 to the BST of red_gw; pretty-printed after
 * signing. The EncryptedKey unwraps; the signature fails: EBMS:0101.
 */
static void domibus_bst_rsa_oaep(void **state)
{
	(void)state;
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_keystore *red =
	        fx_keystore_from(KEYS "domibus-red_gw.key.pem", KEYS "domibus-red_gw.cert.pem");
	struct as4_keystore *blue = fx_keystore_from(KEYS "domibus-blue_gw-2052.key.pem",
	                                             KEYS "domibus-blue_gw-2052.cert.pem");
	xmlDoc *doc = vector("bst_x509v3_incoming_message.xml");
	struct wss_env e;
	assert_int_equal(wss_env_find(doc, false, &e, &d), AS4_OK);
	assert_int_equal(wss_ids_register(doc, NULL, &d), AS4_OK);
	xmlNode *ek = as4_xml_child(e.security, AS4_NS_XENC, "EncryptedKey");
	assert_non_null(ek);
	uint8_t key[32];
	size_t len = 0;
	assert_int_equal(wss_unwrap_key(&e, ek, &red, 1, key, sizeof(key), &len, &d), AS4_OK);
	assert_int_equal(len, 16);
	/* the key transport names red_gw's certificate: blue's key is not even tried */
	assert_int_equal(wss_unwrap_key(&e, ek, &blue, 1, key, sizeof(key), &len, &d),
	                 AS4_E_DECRYPT);
	assert_non_null(strstr(as4_diag_text(&d), "CN=red_gw"));

	/* opening: the attachment is not part of the vector, so the signature cannot hold */
	struct as4_wss_open_params op = {.decrypt_keys = &red,
	                                 .n_decrypt_keys = 1,
	                                 .structural_only = true,
	                                 .at_ms = at("2018-11-19T13:48:29Z")};
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	/* the cid: reference names no attachment: EBMS:0101 */
	as4_diag_init(&d);
	assert_int_equal(as4_wss_open(&op, doc, NULL, 0, &res, &d), AS4_E_SIG_INVALID);
	assert_non_null(strstr(as4_diag_text(&d), "cid:message names no attachment"));
	assert_int_equal(res.refs_total, 3);
	as4_wss_open_result_cleanup(&res);
	/* and the envelope itself was reformatted after signing: its header digest fails */
	xmlNode *sig = as4_xml_child(e.security, AS4_NS_DS, "Signature");
	xmlNode *si = as4_xml_child(sig, AS4_NS_DS, "SignedInfo");
	size_t checked = 0;
	for (xmlNode *r = as4_xml_child(si, AS4_NS_DS, "Reference"); r != NULL;
	     r = as4_xml_next_elem(r)) {
		const char *uri = as4_xml_attr(r, NULL, "URI");
		xmlNode *target = uri[0] == '#' ? wss_id_lookup(doc, uri + 1) : NULL;
		if (target == NULL) {
			continue;
		}
		bool match = true;
		assert_int_equal(wss_dsig_reference(r, target, NULL, NULL, false, &match, &d),
		                 AS4_OK);
		if (target == e.messaging) {
			assert_false(match);
			checked++;
		}
	}
	assert_int_equal(checked, 1);
	xmlFreeDoc(doc);
	as4_keystore_free(red);
	as4_keystore_free(blue);
}

/* phase4: an unsigned UserMessage: refused only when the PMode asks for a signature. */
static void phase4_unsigned_user_message(void **state)
{
	(void)state;
	struct as4_diag d;
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	xmlDoc *doc = vector("UserMessage12.xml");
	struct as4_wss_open_params op = {.require_signature = true};
	assert_int_equal(open_vec(doc, &op, &res, &d), AS4_E_POLICY);
	assert_string_equal(as4_err_ebms_code(AS4_E_POLICY), "EBMS:0103");
	op.require_signature = false;
	assert_int_equal(open_vec(doc, &op, &res, &d), AS4_OK);
	assert_true(res.has_security); /* an empty wsse:Security ("Content omitted") */
	assert_false(res.signed_msg);
	assert_false(res.encrypted);
	as4_wss_open_result_cleanup(&res);
	xmlFreeDoc(doc);
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
	        cmocka_unit_test(asnet_8_1_21_ski),
	        cmocka_unit_test(asnet_pullrequest_bst),
	        cmocka_unit_test(phase4_receipt),
	        cmocka_unit_test(asnet_wrong_signed),
	        cmocka_unit_test(phase4_wrong_signing_algorithm),
	        cmocka_unit_test(domibus_bst_rsa_oaep),
	        cmocka_unit_test(phase4_unsigned_user_message),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
