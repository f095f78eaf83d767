/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WS-Security round trips: seal (sign and/or encrypt) then open, across every signature
 * algorithm, key reference form, key transport and data encryption algorithm, plus signals,
 * large spooled parts and the attachment digest input rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "wss_fixture.h"

#include "../../../ap/wss/wss_int.h"

struct rt {
	bool sign;
	enum as4_sig_alg sig;
	const char *signer; /* "ap1" (default) or "ap3" (intermediate-issued, with chain) */
	bool pkipath;
	bool encrypt;
	enum as4_key_transport kt;
	enum as4_data_alg da;
	enum as4_keyref kr;
	bool via_trust; /* trust the signer through the CA truststore instead of accepted */
};

static void check_parts_equal(struct as4_part *got, const char *type, const void *data, size_t len)
{
	assert_string_equal(got->content_type, type);
	assert_int_equal(got->data.len, len);
	assert_memory_equal(got->data.data, data, len);
}

static void roundtrip(const struct rt *o)
{
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_keystore *sender = fx_keystore(o->signer != NULL ? o->signer : "ap1");
	struct as4_keystore *receiver = fx_keystore("ap2");
	struct as4_truststore *trust = fx_trust("ca", NULL);
	xmlDoc *env = fx_envelope(2);
	struct as4_part parts[2];
	fx_two_parts(parts);
	struct as4_blob orig[2];
	for (int i = 0; i < 2; i++) {
		assert_int_equal(as4_blob_copy(&orig[i], parts[i].data.data, parts[i].data.len),
		                 AS4_OK);
	}

	struct as4_wss_seal_params sp;
	memset(&sp, 0, sizeof(sp));
	sp.signer = o->sign ? sender : NULL;
	sp.sig_alg = o->sig;
	sp.pkipath = o->pkipath;
	sp.encrypt_for = o->encrypt ? as4_keystore_cert(receiver) : NULL;
	sp.key_transport = o->kt;
	sp.data_alg = o->da;
	sp.encrypt_keyref = o->kr;
	struct as4_signed_refs sent;
	assert_int_equal(as4_wss_seal(&sp, env, parts, 2, &sent, &d), AS4_OK);
	if (o->encrypt) {
		assert_string_equal(parts[0].content_type, "application/octet-stream");
		assert_int_equal(parts[0].data.len, orig[0].len + 28);
		assert_memory_not_equal(parts[1].data.data + 12, orig[1].data, 16);
	}
	assert_int_equal(sent.n, o->sign ? 4 : 0);
	env = fx_wire(env);

	X509 *accepted = as4_keystore_cert(sender);
	struct as4_keystore *keys[1] = {receiver};
	struct as4_wss_open_params op;
	memset(&op, 0, sizeof(op));
	op.decrypt_keys = keys;
	op.n_decrypt_keys = 1;
	op.trust = o->via_trust ? trust : NULL;
	op.accepted = o->via_trust ? NULL : &accepted;
	op.n_accepted = o->via_trust ? 0 : 1;
	op.require_signature = o->sign;
	op.require_encryption = o->encrypt;
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	as4_err err = as4_wss_open(&op, env, parts, 2, &res, &d);
	if (err != AS4_OK) {
		fprintf(stderr, "open: %s\n", as4_diag_text(&d));
	}
	assert_int_equal(err, AS4_OK);
	assert_true(res.has_security);
	assert_int_equal(res.signed_msg, o->sign);
	assert_int_equal(res.encrypted, o->encrypt);
	check_parts_equal(&parts[0], "application/xml", orig[0].data, orig[0].len);
	check_parts_equal(&parts[1], "application/gzip", orig[1].data, orig[1].len);
	if (o->encrypt) {
		assert_true(res.decryption_ok);
		assert_int_equal(res.parts_decrypted, 2);
		assert_true(parts[0].decrypted);
		assert_non_null(res.key_transport_alg);
		assert_string_equal(res.key_transport_alg, o->kt == AS4_KT_RSA_OAEP_MGF1P
		                                                   ? WSS_ALG_RSA_MGF1P
		                                                   : WSS_ALG_RSA_OAEP11);
		const char *da[] = {WSS_ALG_AES128_GCM, WSS_ALG_AES192_GCM, WSS_ALG_AES256_GCM};
		assert_string_equal(res.data_alg, da[o->da]);
	}
	if (o->sign) {
		const char *sa[] = {WSS_ALG_RSA_SHA256, WSS_ALG_RSA_SHA384, WSS_ALG_RSA_SHA512};
		assert_true(res.signature_valid);
		assert_true(res.signer_trusted);
		assert_true(res.signer_time_valid);
		assert_string_equal(res.signature_alg, sa[o->sig]);
		assert_int_equal(res.refs_total, 4);
		assert_int_equal(res.refs_valid, 4);
		assert_int_equal(X509_cmp(res.signer, accepted), 0);
		assert_string_equal(res.signer_ref,
		                    o->pkipath ? "BST X509PKIPathv1" : "BST X509v3");
		/* what the receiver saw is what the sender signed (the Receipt's NRI) */
		assert_int_equal(res.refs.n, sent.n);
		for (size_t i = 0; i < sent.n; i++) {
			assert_string_equal(res.refs.refs[i].uri, sent.refs[i].uri);
			assert_string_equal(res.refs.refs[i].digest_value,
			                    sent.refs[i].digest_value);
			assert_string_equal(res.refs.refs[i].digest_method, WSS_ALG_SHA256);
			assert_string_equal(res.refs.xml[i], sent.xml[i]);
			assert_non_null(strstr(sent.xml[i], "<ds:Reference xmlns:ds="));
		}
	}
	as4_wss_open_result_cleanup(&res);
	as4_signed_refs_cleanup(&sent);
	for (int i = 0; i < 2; i++) {
		as4_part_cleanup(&parts[i]);
		as4_blob_cleanup(&orig[i]);
	}
	xmlFreeDoc(env);
	as4_truststore_free(trust);
	as4_keystore_free(sender);
	as4_keystore_free(receiver);
}

static void sign_only(void **state)
{
	(void)state;
	struct rt o = {.sign = true};
	roundtrip(&o);
}

static void encrypt_only(void **state)
{
	(void)state;
	struct rt o = {.encrypt = true};
	roundtrip(&o);
}

static void sign_and_encrypt(void **state)
{
	(void)state;
	struct rt o = {.sign = true, .encrypt = true, .via_trust = true};
	roundtrip(&o);
}

static void each_signature_algorithm(void **state)
{
	(void)state;
	for (int a = AS4_SIG_RSA_SHA256; a <= AS4_SIG_RSA_SHA512; a++) {
		struct rt o = {.sign = true, .sig = (enum as4_sig_alg)a, .encrypt = true};
		roundtrip(&o);
	}
}

static void each_encrypted_key_reference(void **state)
{
	(void)state;
	for (int k = AS4_KEYREF_BST; k <= AS4_KEYREF_SKI; k++) {
		struct rt o = {.sign = true, .encrypt = true, .kr = (enum as4_keyref)k};
		roundtrip(&o);
	}
}

static void each_key_transport(void **state)
{
	(void)state;
	for (int k = AS4_KT_RSA_OAEP_SHA256; k <= AS4_KT_RSA_OAEP_MGF1P; k++) {
		struct rt o = {.sign = true, .encrypt = true, .kt = (enum as4_key_transport)k};
		roundtrip(&o);
	}
}

static void each_data_algorithm(void **state)
{
	(void)state;
	for (int a = AS4_ENC_AES128_GCM; a <= AS4_ENC_AES256_GCM; a++) {
		struct rt o = {.sign = true, .encrypt = true, .da = (enum as4_data_alg)a};
		roundtrip(&o);
	}
}

static void pkipath_chain_to_root(void **state)
{
	(void)state;
	/* ap3 is issued by the intermediate: only the PKIPath token lets it chain to the root */
	struct rt o = {.sign = true, .signer = "ap3", .pkipath = true, .via_trust = true};
	roundtrip(&o);
	struct rt o2 = {.sign = true, .signer = "ap3", .pkipath = true, .encrypt = true};
	roundtrip(&o2);
}

static void x509v3_without_intermediate_is_untrusted(void **state)
{
	(void)state;
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_keystore *sender = fx_keystore("ap3");
	struct as4_truststore *trust = fx_trust("ca", NULL);
	xmlDoc *env = fx_envelope(0);
	struct as4_wss_seal_params sp = {.signer = sender};
	assert_int_equal(as4_wss_seal(&sp, env, NULL, 0, NULL, &d), AS4_OK);
	env = fx_wire(env);
	struct as4_wss_open_params op = {.trust = trust, .require_signature = true};
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	assert_int_equal(as4_wss_open(&op, env, NULL, 0, &res, &d), AS4_E_UNTRUSTED);
	assert_non_null(strstr(as4_diag_text(&d), "CN=ap3"));
	as4_wss_open_result_cleanup(&res);
	/* structural_only: the signature is checked, trust is only reported */
	as4_diag_init(&d);
	op.structural_only = true;
	assert_int_equal(as4_wss_open(&op, env, NULL, 0, &res, &d), AS4_OK);
	assert_true(res.signature_valid);
	assert_false(res.signer_trusted);
	as4_wss_open_result_cleanup(&res);
	xmlFreeDoc(env);
	as4_truststore_free(trust);
	as4_keystore_free(sender);
}

static void signal_sign_and_verify(void **state)
{
	(void)state;
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_keystore *ks = fx_keystore("ap2");
	const char *receipt =
	        "<env:Envelope xmlns:env=\"" AS4_NS_SOAP12 "\"><env:Header>"
	        "<eb:Messaging xmlns:eb=\"" AS4_NS_EB "\" env:mustUnderstand=\"true\">"
	        "<eb:SignalMessage><eb:MessageInfo><eb:Timestamp>2026-11-22T10:00:01Z</"
	        "eb:Timestamp>"
	        "<eb:MessageId>r1@test</eb:MessageId><eb:RefToMessageId>m1@test</eb:RefToMessageId>"
	        "</eb:MessageInfo><eb:Receipt/></eb:SignalMessage></eb:Messaging></env:Header>"
	        "<env:Body/></env:Envelope>";
	xmlDoc *env = fx_parse(receipt);
	for (int a = AS4_SIG_RSA_SHA256; a <= AS4_SIG_RSA_SHA512; a++) {
		xmlDoc *copy = xmlCopyDoc(env, 1);
		assert_int_equal(as4_wss_sign_signal(ks, (enum as4_sig_alg)a, copy, &d), AS4_OK);
		/* signing twice is refused: the envelope already has a security header */
		assert_int_equal(as4_wss_sign_signal(ks, (enum as4_sig_alg)a, copy, &d),
		                 AS4_E_STATE);
		as4_diag_init(&d);
		copy = fx_wire(copy);
		X509 *acc = as4_keystore_cert(ks);
		struct as4_wss_open_params op = {
		        .accepted = &acc, .n_accepted = 1, .require_signature = true};
		struct as4_wss_open_result res;
		as4_wss_open_result_init(&res);
		assert_int_equal(as4_wss_open(&op, copy, NULL, 0, &res, &d), AS4_OK);
		assert_int_equal(res.refs_valid, 2);
		assert_true(res.signer_trusted);
		as4_wss_open_result_cleanup(&res);
		xmlFreeDoc(copy);
	}
	xmlFreeDoc(env);
	as4_keystore_free(ks);
}

static void no_security_requested_is_noop(void **state)
{
	(void)state;
	struct as4_diag d;
	as4_diag_init(&d);
	xmlDoc *env = fx_envelope(0);
	struct as4_wss_seal_params sp;
	memset(&sp, 0, sizeof(sp));
	assert_int_equal(as4_wss_seal(&sp, env, NULL, 0, NULL, &d), AS4_OK);
	struct as4_wss_open_params op;
	memset(&op, 0, sizeof(op));
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	assert_int_equal(as4_wss_open(&op, env, NULL, 0, &res, &d), AS4_OK);
	assert_false(res.has_security);
	xmlFreeDoc(env);
}

static void large_parts_spool_and_stream(void **state)
{
	(void)state;
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_keystore *sender = fx_keystore("ap1");
	struct as4_keystore *receiver = fx_keystore("ap2");
	size_t n = 3 * WSS_CHUNK + 1234;
	uint8_t *big = malloc(n);
	char *text = malloc(n);
	assert_non_null(big);
	assert_non_null(text);
	for (size_t i = 0; i < n; i++) {
		big[i] = (uint8_t)(i ^ (i >> 7));
		text[i] = (i % 61 == 60) ? '\n' : (i % 97 == 0) ? '\r' : (char)('a' + i % 26);
	}
	xmlDoc *env = fx_envelope(2);
	struct as4_part parts[2];
	fx_part(&parts[0], 0, "application/octet-stream", big, n);
	fx_part(&parts[1], 1, "text/plain; charset=UTF-8", text, n);
	struct as4_wss_seal_params sp = {.signer = sender,
	                                 .encrypt_for = as4_keystore_cert(receiver),
	                                 .spool_dir = "/tmp",
	                                 .spool_threshold = 4096};
	assert_int_equal(as4_wss_seal(&sp, env, parts, 2, NULL, &d), AS4_OK);
	assert_int_equal(parts[0].data.kind, AS4_BLOB_MAPPED);
	env = fx_wire(env);
	X509 *acc = as4_keystore_cert(sender);
	struct as4_wss_open_params op = {.decrypt_keys = &receiver,
	                                 .n_decrypt_keys = 1,
	                                 .accepted = &acc,
	                                 .n_accepted = 1,
	                                 .require_signature = true,
	                                 .require_encryption = true,
	                                 .spool_dir = "/tmp",
	                                 .spool_threshold = 4096};
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	as4_err err = as4_wss_open(&op, env, parts, 2, &res, &d);
	if (err != AS4_OK) {
		fprintf(stderr, "%s\n", as4_diag_text(&d));
	}
	assert_int_equal(err, AS4_OK);
	assert_int_equal(parts[0].data.kind, AS4_BLOB_MAPPED);
	check_parts_equal(&parts[0], "application/octet-stream", big, n);
	check_parts_equal(&parts[1], "text/plain; charset=UTF-8", text, n);
	as4_wss_open_result_cleanup(&res);
	as4_part_cleanup(&parts[0]);
	as4_part_cleanup(&parts[1]);
	xmlFreeDoc(env);
	free(big);
	free(text);
	as4_keystore_free(sender);
	as4_keystore_free(receiver);
}

/* An EncryptedData without KeyInfo is matched through the EncryptedKey's ReferenceList. */
static void encrypted_data_found_by_reference_list(void **state)
{
	(void)state;
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_keystore *receiver = fx_keystore("ap2");
	xmlDoc *env = fx_envelope(1);
	struct as4_part part;
	fx_part(&part, 0, "application/xml", "<a/>", 4);
	struct as4_wss_seal_params sp = {.encrypt_for = as4_keystore_cert(receiver)};
	assert_int_equal(as4_wss_seal(&sp, env, &part, 1, NULL, &d), AS4_OK);
	/* drop the KeyInfo of the EncryptedData, and write the DataReference without '#' */
	xmlNode *root = xmlDocGetRootElement(env);
	xmlNode *sec = as4_xml_child(as4_xml_child(root, AS4_NS_SOAP12, "Header"), AS4_NS_WSSE,
	                             "Security");
	xmlNode *ed = as4_xml_child(sec, AS4_NS_XENC, "EncryptedData");
	xmlNode *ki = as4_xml_child(ed, AS4_NS_DS, "KeyInfo");
	xmlUnlinkNode(ki);
	xmlFreeNode(ki);
	xmlNode *ek = as4_xml_child(sec, AS4_NS_XENC, "EncryptedKey");
	xmlNode *dr = as4_xml_child(as4_xml_child(ek, AS4_NS_XENC, "ReferenceList"), AS4_NS_XENC,
	                            "DataReference");
	const char *uri = as4_xml_attr(dr, NULL, "URI");
	char bare[128];
	assert_int_equal(as4_str_copy(bare, sizeof(bare), uri + 1), AS4_OK);
	xmlSetProp(dr, BAD_CAST "URI", BAD_CAST bare);
	env = fx_wire(env);
	struct as4_wss_open_params op = {.decrypt_keys = &receiver, .n_decrypt_keys = 1};
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	assert_int_equal(as4_wss_open(&op, env, &part, 1, &res, &d), AS4_OK);
	check_parts_equal(&part, "application/xml", "<a/>", 4);
	as4_wss_open_result_cleanup(&res);
	as4_part_cleanup(&part);
	xmlFreeDoc(env);
	as4_keystore_free(receiver);
}

/* ---- the attachment digest input (SwA 1.1 §5.4.2) ---------------------------------- */

static int collect(void *ctx, const uint8_t *p, size_t n)
{
	return as4_buf_append(ctx, p, n) == AS4_OK ? 0 : -1;
}

static void swa_input_n(const char *type, const char *in, size_t in_len, const char *want,
                        size_t want_len)
{
	struct as4_part p;
	struct as4_buf out;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_buf_init(&out, 1 << 20);
	fx_part(&p, 0, type, in, in_len);
	as4_err err = wss_swa_content(&p, NULL, collect, &out, &d);
	if (err != AS4_OK) {
		fprintf(stderr, "%s: %s\n", type, as4_diag_text(&d));
	}
	assert_int_equal(err, AS4_OK);
	assert_int_equal(out.len, want_len);
	assert_memory_equal(out.data, want, out.len);
	as4_buf_cleanup(&out);
	as4_part_cleanup(&p);
}

static void swa_input(const char *type, const char *in, size_t in_len, const char *want)
{
	swa_input_n(type, in, in_len, want, strlen(want));
}

static void swa_digest_input_rules(void **state)
{
	(void)state;
	/* XML media types: exclusive C14N (attributes sorted, comments and declaration gone) */
	swa_input("application/xml", fx_xml_payload, strlen(fx_xml_payload),
	          "<Bundle xmlns=\"http://hl7.org/fhir\" a=\"1\" b=\"2\">\n  \n  <id value=\"x\">"
	          "</id>\n</Bundle>");
	swa_input("application/fhir+xml; charset=UTF-8", "<a/>", 4, "<a></a>");
	swa_input("TEXT/XML", "<a  x='1'/>", 11, "<a x=\"1\"></a>");
	/* other text: CRLF line ends (lone CR, lone LF and CRLF alike) */
	swa_input("text/plain", "a\nb\r\nc\rd\n", 9, "a\r\nb\r\nc\r\nd\r\n");
	/* everything else unchanged, including gzip */
	swa_input("application/gzip", "a\nb\r", 4, "a\nb\r");
	swa_input_n("application/octet-stream", "\0\1\2", 3, "\0\1\2", 3);
}

static void swa_xml_attachment_must_parse(void **state)
{
	(void)state;
	struct as4_part p;
	struct as4_buf out;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_buf_init(&out, 1 << 20);
	fx_part(&p, 0, "application/xml", "<a><b></a>", 10);
	assert_int_equal(wss_swa_content(&p, NULL, collect, &out, &d), AS4_E_SIG_INVALID);
	assert_non_null(strstr(as4_diag_text(&d), "p1@test"));
	as4_part_cleanup(&p);
	as4_diag_init(&d);
	const char *dtd = "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>";
	fx_part(&p, 0, "text/xml", dtd, strlen(dtd));
	assert_int_equal(wss_swa_content(&p, NULL, collect, &out, &d), AS4_E_SIG_INVALID);
	as4_part_cleanup(&p);
	as4_buf_cleanup(&out);
}

static void cid_uri_matching(void **state)
{
	(void)state;
	struct as4_part p[2];
	as4_part_init(&p[0]);
	as4_part_init(&p[1]);
	p[0].content_id = "a@b";
	p[1].content_id = "x y@z";
	assert_ptr_equal(wss_find_part(p, 2, "cid:a@b"), &p[0]);
	assert_ptr_equal(wss_find_part(p, 2, "CID:a%40b"), &p[0]);
	assert_ptr_equal(wss_find_part(p, 2, "cid:x%20y@z"), &p[1]);
	assert_null(wss_find_part(p, 2, "cid:a@"));
	assert_null(wss_find_part(p, 2, "cid:a@bc"));
	assert_null(wss_find_part(p, 2, "cid:a%4"));
	assert_null(wss_find_part(p, 2, "mid:a@b"));
	assert_null(wss_find_part(p, 2, "#a@b"));
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
	        cmocka_unit_test(sign_only),
	        cmocka_unit_test(encrypt_only),
	        cmocka_unit_test(sign_and_encrypt),
	        cmocka_unit_test(each_signature_algorithm),
	        cmocka_unit_test(each_encrypted_key_reference),
	        cmocka_unit_test(each_key_transport),
	        cmocka_unit_test(each_data_algorithm),
	        cmocka_unit_test(pkipath_chain_to_root),
	        cmocka_unit_test(x509v3_without_intermediate_is_untrusted),
	        cmocka_unit_test(signal_sign_and_verify),
	        cmocka_unit_test(no_security_requested_is_noop),
	        cmocka_unit_test(large_parts_spool_and_stream),
	        cmocka_unit_test(encrypted_data_found_by_reference_list),
	        cmocka_unit_test(swa_digest_input_rules),
	        cmocka_unit_test(swa_xml_attachment_must_parse),
	        cmocka_unit_test(cid_uri_matching),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
