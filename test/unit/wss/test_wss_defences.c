/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every receiving-side defence of the security layer with a crafted message: PMode policy,
 * signature wrapping, duplicate ids, reference coverage, algorithm allow-lists, key-size
 * floor, external URIs, signer trust and validity, ciphertext tampering and oversized base64.
 * Each case starts from a correctly sealed message and changes one thing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/app.h>
#include <xmlsec/crypto.h>
#include <xmlsec/templates.h>
#include <xmlsec/xmldsig.h>

#include "wss_fixture.h"

#include "../../../ap/wss/wss_int.h"

struct ctx {
	struct as4_keystore *ap1;
	struct as4_keystore *ap2;
	struct as4_keystore *rogue;
	struct as4_truststore *trust;
	X509 *ap1_cert;
};

static struct ctx C;

/* A sealed message: the envelope text and the attachment bytes as sent. */
struct sealed {
	char *xml;
	struct as4_part parts[2];
	size_t n;
	char msg_id[128];
	char body_id[128];
	char bst_id[128];
};

static void seal(struct sealed *s, bool sign, bool encrypt, struct as4_keystore *signer)
{
	struct as4_diag d;
	as4_diag_init(&d);
	memset(s, 0, sizeof(*s));
	s->n = 2;
	xmlDoc *env = fx_envelope(2);
	fx_two_parts(s->parts);
	struct as4_wss_seal_params sp = {.signer = sign ? signer : NULL,
	                                 .encrypt_for = encrypt ? as4_keystore_cert(C.ap2) : NULL};
	assert_int_equal(as4_wss_seal(&sp, env, s->parts, 2, NULL, &d), AS4_OK);
	struct wss_env e;
	assert_int_equal(wss_env_find(env, false, &e, &d), AS4_OK);
	const char *mid = wss_elem_id(e.messaging);
	const char *bid = wss_elem_id(e.body);
	xmlNode *bst = as4_xml_child(e.security, AS4_NS_WSSE, "BinarySecurityToken");
	if (sign) {
		assert_int_equal(as4_str_copy(s->msg_id, sizeof(s->msg_id), mid), AS4_OK);
		assert_int_equal(as4_str_copy(s->body_id, sizeof(s->body_id), bid), AS4_OK);
		assert_int_equal(as4_str_copy(s->bst_id, sizeof(s->bst_id), wss_elem_id(bst)),
		                 AS4_OK);
	}
	s->xml = fx_dump(env);
	xmlFreeDoc(env);
}

static void sealed_free(struct sealed *s)
{
	free(s->xml);
	for (size_t i = 0; i < s->n; i++) {
		as4_part_cleanup(&s->parts[i]);
	}
}

/* Default receiver: our key ap2, partner ap1 accepted, test CA trusted. */
static void params(struct as4_wss_open_params *op, bool sign, bool encrypt)
{
	memset(op, 0, sizeof(*op));
	op->decrypt_keys = &C.ap2;
	op->n_decrypt_keys = 1;
	op->accepted = &C.ap1_cert;
	op->n_accepted = 1;
	op->trust = C.trust;
	op->require_signature = sign;
	op->require_encryption = encrypt;
}

/* Open xml with copies of the n parts; returns the error and leaves the diagnostic in d. */
static as4_err open_with(const char *xml, const struct as4_part *src, size_t n,
                         const struct as4_wss_open_params *op, struct as4_diag *d)
{
	struct as4_part parts[8];
	struct as4_wss_open_result res;
	assert_true(n <= AS4_ARRAY_LEN(parts));
	as4_diag_init(d);
	as4_wss_open_result_init(&res);
	for (size_t i = 0; i < n; i++) {
		parts[i] = src[i];
		as4_blob_init(&parts[i].data);
		assert_int_equal(as4_blob_copy(&parts[i].data, src[i].data.data, src[i].data.len),
		                 AS4_OK);
	}
	xmlDoc *env = fx_parse(xml);
	as4_err err = as4_wss_open(op, env, parts, n, &res, d);
	as4_wss_open_result_cleanup(&res);
	xmlFreeDoc(env);
	for (size_t i = 0; i < n; i++) {
		as4_part_cleanup(&parts[i]);
	}
	return err;
}

static void expect(as4_err got, as4_err want, const struct as4_diag *d, const char *text)
{
	if (got != want || strstr(as4_diag_text(d), text) == NULL) {
		fprintf(stderr, "got %d '%s', want %d containing '%s'\n", got, as4_diag_text(d),
		        want, text);
	}
	assert_int_equal(got, want);
	assert_non_null(strstr(as4_diag_text(d), text));
}

/* The element text between the first "<tag" and its "</tag>" (a heap copy). */
static char *element(const char *xml, const char *tag)
{
	char open[64];
	char close[64];
	assert_int_equal(as4_str_fmt(open, sizeof(open), "<%s", tag), AS4_OK);
	assert_int_equal(as4_str_fmt(close, sizeof(close), "</%s>", tag), AS4_OK);
	const char *a = strstr(xml, open);
	const char *b = a != NULL ? strstr(a, close) : NULL;
	assert_non_null(b);
	return as4_str_ndup(a, (size_t)(b - a) + strlen(close));
}

/* ---- policy ---------------------------------------------------------------------------- */

static void policy_unsigned_message(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	seal(&s, false, true, NULL);
	params(&op, true, true);
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_E_POLICY, &d, "not signed");
	params(&op, false, true);
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_OK, &d, "");
	sealed_free(&s);
	/* no security header at all */
	xmlDoc *env = fx_envelope(0);
	char *plain = fx_dump(env);
	xmlFreeDoc(env);
	params(&op, true, false);
	expect(open_with(plain, NULL, 0, &op, &d), AS4_E_POLICY, &d, "requires a signature");
	free(plain);
}

static void policy_unencrypted_part(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	seal(&s, true, false, C.ap1);
	params(&op, true, true);
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_E_POLICY, &d,
	       "attachment p1@test is not encrypted");
	sealed_free(&s);
	/* one part encrypted, a second one added in clear */
	seal(&s, true, true, C.ap1);
	struct as4_part three[3] = {s.parts[0], s.parts[1]};
	fx_part(&three[2], 2, "text/plain", "x", 1);
	expect(open_with(s.xml, three, 3, &op, &d), AS4_E_POLICY, &d,
	       "attachment p3@test is not encrypted");
	/* without the encryption requirement the extra part is still not covered by the signature
	 */
	op.require_encryption = false;
	expect(open_with(s.xml, three, 3, &op, &d), AS4_E_SIG_INVALID, &d,
	       "p3@test is referenced 0 times");
	as4_part_cleanup(&three[2]);
	sealed_free(&s);
}

/* ---- signature wrapping ---------------------------------------------------------------- */

static void wrapping_moved_messaging(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	seal(&s, true, true, C.ap1);
	params(&op, true, true);
	char *orig = element(s.xml, "eb:Messaging");
	/* the attacker's header keeps a new id; the signed original hides in the security header */
	char *forged = fx_replace(orig, "m1@test", "forged@evil");
	char *forged2 = fx_replace(forged, s.msg_id, "forged-id");
	char *step = fx_replace(s.xml, orig, forged2);
	char wrapped[8192];
	assert_int_equal(as4_str_fmt(wrapped, sizeof(wrapped),
	                             "<Wrapper>%s</Wrapper></wsse:Security>", orig),
	                 AS4_OK);
	char *attack = fx_replace(step, "</wsse:Security>", wrapped);
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_SIG_INVALID, &d,
	       "2 eb:Messaging and 1 SOAP Body");
	/* the same with the original deleted: the reference no longer resolves */
	expect(open_with(step, s.parts, 2, &op, &d), AS4_E_SIG_INVALID, &d, "does not resolve");
	/* and two eb:Messaging side by side in the Header */
	char both[8192];
	assert_int_equal(as4_str_fmt(both, sizeof(both), "%s%s", orig, forged2), AS4_OK);
	char *two = fx_replace(s.xml, orig, both);
	expect(open_with(two, s.parts, 2, &op, &d), AS4_E_SIG_INVALID, &d,
	       "more than one eb:Messaging");
	free(two);
	free(attack);
	free(step);
	free(forged2);
	free(forged);
	free(orig);
	sealed_free(&s);
}

static void wrapping_second_body(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	seal(&s, true, false, C.ap1);
	params(&op, true, false);
	char *attack = fx_replace(s.xml, "</wsse:Security>",
	                          "<Wrapper><env:Body>decoy</env:Body></Wrapper></wsse:Security>");
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_SIG_INVALID, &d,
	       "1 eb:Messaging and 2 SOAP Body");
	free(attack);
	sealed_free(&s);
}

static void duplicate_ids(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	seal(&s, true, false, C.ap1);
	params(&op, true, false);
	char decoy[256];
	assert_int_equal(as4_str_fmt(decoy, sizeof(decoy),
	                             "<Decoy xmlns:u=\"" AS4_NS_WSU
	                             "\" u:Id=\"%s\"/></wsse:Security>",
	                             s.body_id),
	                 AS4_OK);
	char *attack = fx_replace(s.xml, "</wsse:Security>", decoy);
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_SIG_INVALID, &d,
	       "occurs more than once");
	free(attack);
	/* a plain Id attribute clashing with a wsu:Id counts as well */
	assert_int_equal(
	        as4_str_fmt(decoy, sizeof(decoy), "<Decoy Id=\"%s\"/></wsse:Security>", s.msg_id),
	        AS4_OK);
	attack = fx_replace(s.xml, "</wsse:Security>", decoy);
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_SIG_INVALID, &d,
	       "occurs more than once");
	free(attack);
	sealed_free(&s);
}

static void reference_to_other_element(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	char from[160];
	char to[160];
	seal(&s, true, false, C.ap1);
	params(&op, true, false);
	/* the Body reference now points at the token: Body uncovered, a foreign element covered */
	assert_int_equal(as4_str_fmt(from, sizeof(from), "URI=\"#%s\"", s.body_id), AS4_OK);
	assert_int_equal(as4_str_fmt(to, sizeof(to), "URI=\"#%s\"", s.bst_id), AS4_OK);
	char *attack = fx_replace(s.xml, from, to);
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_SIG_INVALID, &d,
	       "neither the eb:Messaging header nor the SOAP Body");
	free(attack);
	/* the Messaging reference twice, the Body not at all */
	assert_int_equal(as4_str_fmt(to, sizeof(to), "URI=\"#%s\"", s.msg_id), AS4_OK);
	attack = fx_replace(s.xml, from, to);
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_SIG_INVALID, &d, "found 2 and 0");
	free(attack);
	/* an attachment referenced twice */
	attack = fx_replace(s.xml, "URI=\"cid:p2@test\"", "URI=\"cid:p1@test\"");
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_SIG_INVALID, &d,
	       "p1@test is referenced 2 times");
	free(attack);
	/* a reference to an attachment that is not in the message */
	expect(open_with(s.xml, s.parts, 1, &op, &d), AS4_E_SIG_INVALID, &d,
	       "cid:p2@test names no attachment");
	/* XPath injection through the id of a same-document reference */
	attack = fx_replace(s.xml, from, "URI=\"#x')or('1\"");
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_SIG_INVALID, &d,
	       "not a plain id reference");
	free(attack);
	sealed_free(&s);
}

static void two_signatures(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	seal(&s, true, false, C.ap1);
	params(&op, true, false);
	char *sig = element(s.xml, "ds:Signature");
	char both[16384];
	assert_int_equal(as4_str_fmt(both, sizeof(both), "%s%s", sig, sig), AS4_OK);
	char *attack = fx_replace(s.xml, sig, both);
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_SIG_INVALID, &d,
	       "2 ds:Signature elements");
	free(attack);
	free(sig);
	sealed_free(&s);
}

/* ---- algorithms ------------------------------------------------------------------------ */

static void unknown_algorithms(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	seal(&s, true, true, C.ap1);
	params(&op, true, true);
	static const struct {
		const char *from;
		const char *to;
		as4_err err;
		const char *text;
	} cases[] = {
	        {WSS_ALG_RSA_SHA256, "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
	         AS4_E_SIG_INVALID,
	         "signature algorithm 'http://www.w3.org/2000/09/xmldsig#rsa-sha1' not allowed"},
	        {WSS_ALG_RSA_SHA256, "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
	         AS4_E_SIG_INVALID, "not allowed"},
	        {"DigestMethod Algorithm=\"" WSS_ALG_SHA256,
	         "DigestMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1",
	         AS4_E_SIG_INVALID,
	         "digest algorithm 'http://www.w3.org/2000/09/xmldsig#sha1' not allowed"},
	        {"Transform Algorithm=\"" WSS_ALG_EXC_C14N,
	         "Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116",
	         AS4_E_SIG_INVALID, "exactly one exc-c14n transform"},
	        {"Transform Algorithm=\"" WSS_SWA_CONTENT_SIG,
	         "Transform Algorithm=\"" WSS_SWA_NS "#Attachment-Complete-Signature-Transform",
	         AS4_E_SIG_INVALID, "Attachment-Content-Signature-Transform is required"},
	        {"CanonicalizationMethod Algorithm=\"" WSS_ALG_EXC_C14N,
	         "CanonicalizationMethod "
	         "Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
	         AS4_E_SIG_INVALID, "CanonicalizationMethod must be exclusive C14N"},
	        {WSS_ALG_RSA_OAEP11, "http://www.w3.org/2001/04/xmlenc#rsa-1_5", AS4_E_DECRYPT,
	         "key transport algorithm 'http://www.w3.org/2001/04/xmlenc#rsa-1_5' not accepted"},
	        {WSS_ALG_MGF1_PFX "sha256", WSS_ALG_MGF1_PFX "md5", AS4_E_DECRYPT, "MGF"},
	        {WSS_ALG_AES128_GCM, "http://www.w3.org/2001/04/xmlenc#aes128-cbc", AS4_E_DECRYPT,
	         "data encryption algorithm 'http://www.w3.org/2001/04/xmlenc#aes128-cbc' not "
	         "accepted"},
	        {WSS_SWA_CONTENT_ONLY, WSS_SWA_NS "#Attachment-Complete", AS4_E_DECRYPT,
	         "EncryptedData Type"},
	        {"Algorithm=\"" WSS_SWA_CIPHERTEXT,
	         "Algorithm=\"http://www.w3.org/2000/09/xmldsig#base64", AS4_E_DECRYPT,
	         "only the Attachment-Ciphertext-Transform is allowed"},
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(cases); i++) {
		char *attack = fx_replace(s.xml, cases[i].from, cases[i].to);
		expect(open_with(attack, s.parts, 2, &op, &d), cases[i].err, &d, cases[i].text);
		free(attack);
	}
	sealed_free(&s);
}

/* as4_wss_check_suite: the signature's algorithms alone, before a PMode is chosen. */
static void suite_checked_alone(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	seal(&s, true, true, C.ap1);
	static const struct {
		const char *from;
		const char *to;
		as4_err err;
		const char *text;
	} cases[] = {
	        {NULL, NULL, AS4_OK, ""},
	        {WSS_ALG_RSA_SHA256, "http://www.randomcrypt.com/random", AS4_E_SIG_INVALID,
	         "signature algorithm 'http://www.randomcrypt.com/random' not allowed"},
	        {WSS_ALG_RSA_SHA256, WSS_ALG_RSA_SHA512, AS4_OK, ""},
	        {"DigestMethod Algorithm=\"" WSS_ALG_SHA256,
	         "DigestMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1",
	         AS4_E_SIG_INVALID,
	         "digest algorithm 'http://www.w3.org/2000/09/xmldsig#sha1' not allowed"},
	        {"CanonicalizationMethod Algorithm=\"" WSS_ALG_EXC_C14N,
	         "CanonicalizationMethod "
	         "Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
	         AS4_E_SIG_INVALID, "CanonicalizationMethod must be exclusive C14N"},
	        /* not an algorithm of the suite: left to as4_wss_open() */
	        {"Transform Algorithm=\"" WSS_ALG_EXC_C14N,
	         "Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116", AS4_OK, ""},
	        /* a missing SignatureMethod is a structural fault, as4_wss_open() reports it */
	        {"SignatureMethod", "SignatureMethodX", AS4_OK, ""},
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(cases); i++) {
		char *xml = cases[i].from != NULL ? fx_replace(s.xml, cases[i].from, cases[i].to)
		                                  : as4_str_dup(s.xml);
		xmlDoc *env = fx_parse(xml);
		as4_diag_init(&d);
		expect(as4_wss_check_suite(env, &d), cases[i].err, &d, cases[i].text);
		xmlFreeDoc(env);
		free(xml);
	}
	sealed_free(&s);
	/* a message without a signature (encrypted only) passes */
	seal(&s, false, true, NULL);
	xmlDoc *env = fx_parse(s.xml);
	as4_diag_init(&d);
	assert_int_equal(as4_wss_check_suite(env, &d), AS4_OK);
	xmlFreeDoc(env);
	sealed_free(&s);
}

/* ---- keys and signers ------------------------------------------------------------------ */

static void key_size_floor(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	seal(&s, true, false, C.ap1);
	params(&op, true, false);
	op.min_rsa_bits = 3072;
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_E_UNTRUSTED, &d,
	       "has a 2048-bit RSA key; at least 3072 bits are required");
	/* a 1024-bit certificate in the token is refused before its signature is even checked */
	params(&op, true, false);
	X509 *weak = fx_cert("weak");
	uint8_t *der = NULL;
	size_t len = 0;
	assert_int_equal(wss_cert_der(weak, &der, &len), AS4_OK);
	char *b64 = as4_b64_encode(der, len, 0);
	char *bst = element(s.xml, "wsse:BinarySecurityToken");
	const char *gt = strchr(bst, '>');
	char repl[8192];
	assert_int_equal(as4_str_fmt(repl, sizeof(repl), "%.*s>%s</wsse:BinarySecurityToken>",
	                             (int)(gt - bst), bst, b64),
	                 AS4_OK);
	char *attack = fx_replace(s.xml, bst, repl);
	op.structural_only = true;
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_UNTRUSTED, &d,
	       "has a 1024-bit RSA key; at least 2048 bits are required");
	free(attack);
	free(bst);
	free(b64);
	free(der);
	X509_free(weak);
	sealed_free(&s);
}

static void untrusted_and_expired_signers(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	seal(&s, true, false, C.rogue);
	params(&op, true, false);
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_E_UNTRUSTED, &d,
	       "'CN=rogue,O=AS4 Test' is not trusted");
	op.trust = NULL;
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_E_UNTRUSTED, &d,
	       "not an accepted partner certificate and no truststore");
	sealed_free(&s);
	/* trusted signer, but at a time outside its validity */
	seal(&s, true, false, C.ap1);
	params(&op, true, false);
	op.at_ms = 7258118400000; /* 2200-01-01 */
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_E_UNTRUSTED, &d,
	       "is not valid at 2200-01-01");
	op.accepted = NULL;
	op.n_accepted = 0;
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_E_UNTRUSTED, &d,
	       "certificate has expired");
	op.at_ms = 946684800000; /* 2000-01-01 */
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_E_UNTRUSTED, &d,
	       "certificate is not yet valid");
	sealed_free(&s);
}

static void external_uris_never_dereferenced(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	char from[160];
	seal(&s, true, true, C.ap1);
	params(&op, true, true);
	assert_int_equal(as4_str_fmt(from, sizeof(from), "URI=\"#%s\"", s.body_id), AS4_OK);
	const char *uris[] = {"URI=\"http://127.0.0.1:9/x\"", "URI=\"file:///etc/passwd\"",
	                      "URI=\"body.xml\""};
	for (size_t i = 0; i < AS4_ARRAY_LEN(uris); i++) {
		char *attack = fx_replace(s.xml, from, uris[i]);
		expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_SIG_INVALID, &d,
		       "never dereferenced");
		free(attack);
	}
	char bst_ref[160];
	assert_int_equal(as4_str_fmt(bst_ref, sizeof(bst_ref), "URI=\"#%s\"", s.bst_id), AS4_OK);
	char *sig = element(s.xml, "ds:Signature");
	char *sig2 = fx_replace(sig, bst_ref, "URI=\"http://127.0.0.1:9/token\"");
	char *attack = fx_replace(s.xml, sig, sig2);
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_SIG_INVALID, &d,
	       "external tokens are never fetched");
	free(attack);
	attack = fx_replace(s.xml, "CipherReference URI=\"cid:p1@test\"",
	                    "CipherReference URI=\"http://127.0.0.1:9/ct\"");
	op.require_encryption = false; /* else the policy check names p1 as unencrypted first */
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_DECRYPT, &d, "never dereferenced");
	free(attack);
	free(sig2);
	free(sig);
	sealed_free(&s);
}

/* xmlsec itself, asked directly to dereference URIs, can open nothing at all. */
static void xmlsec_io_locked_down(void **state)
{
	(void)state;
	xmlDoc *env = fx_envelope(0);
	xmlNode *root = xmlDocGetRootElement(env);
	xmlNodePtr sig = xmlSecTmplSignatureCreate(env, xmlSecTransformExclC14NId,
	                                           xmlSecTransformRsaSha256Id, NULL);
	assert_non_null(sig);
	xmlAddChild(root, sig);
	const char *uris[] = {"file:///etc/hostname", "http://127.0.0.1:9/x", "ftp://127.0.0.1/x"};
	for (size_t i = 0; i < AS4_ARRAY_LEN(uris); i++) {
		xmlNodePtr ref = xmlSecTmplSignatureAddReference(sig, xmlSecTransformSha256Id, NULL,
		                                                 (const xmlChar *)uris[i], NULL);
		assert_non_null(ref);
		xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(NULL);
		assert_non_null(ctx);
		ctx->enabledReferenceUris = xmlSecTransformUriTypeAny;
		/* a usable key, so that only the reference can make signing fail */
		ctx->signKey = xmlSecCryptoAppKeyLoad(FX_DATA "/ap1.key.pem",
		                                      xmlSecKeyDataFormatPem, NULL, NULL, NULL);
		assert_non_null(ctx->signKey);
		assert_true(xmlSecDSigCtxSign(ctx, sig) < 0);
		xmlSecDSigCtxDestroy(ctx);
		xmlUnlinkNode(ref);
		xmlFreeNode(ref);
	}
	xmlFreeDoc(env);
}

/* ---- tampering ------------------------------------------------------------------------- */

static void tampered_attachment(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	seal(&s, true, false, C.ap1);
	params(&op, true, false);
	uint8_t *p = (uint8_t *)(uintptr_t)s.parts[1].data.data;
	p[100] ^= 1;
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_E_SIG_INVALID, &d,
	       "digest of the signed cid:p2@test does not match");
	sealed_free(&s);
}

static void untrusted_signer_refused_before_decryption(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	seal(&s, true, true, C.rogue);
	params(&op, true, true);
	/* no decryption key at all: the unknown signer is refused before one would be needed */
	op.n_decrypt_keys = 0;
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_E_UNTRUSTED, &d, "CN=rogue");
	sealed_free(&s);
	seal(&s, true, true, C.ap1);
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_E_DECRYPT, &d,
	       "no decryption key is configured");
	sealed_free(&s);
}

static void tampered_header_after_decryption(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	seal(&s, true, true, C.ap1);
	params(&op, true, true);
	char *attack = fx_replace(s.xml, "<eb:Action>a</eb:Action>", "<eb:Action>b</eb:Action>");
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_SIG_INVALID, &d,
	       "digest of the signed eb:Messaging does not match");
	free(attack);
	sealed_free(&s);
}

static void tampered_signature_value(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	seal(&s, true, false, C.ap1);
	params(&op, true, false);
	char *sv = element(s.xml, "ds:SignatureValue");
	char *sv2 = strdup(sv);
	char *c = strchr(sv2, '>') + 5;
	*c = *c == 'A' ? 'B' : 'A';
	char *attack = fx_replace(s.xml, sv, sv2);
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_SIG_INVALID, &d,
	       "SignatureValue does not verify with the key of 'CN=ap1,O=AS4 Test'");
	free(attack);
	free(sv2);
	free(sv);
	sealed_free(&s);
}

static void ciphertext_truncated_or_corrupted(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	seal(&s, true, true, C.ap1);
	params(&op, true, true);
	size_t len = s.parts[0].data.len;
	uint8_t *p = (uint8_t *)(uintptr_t)s.parts[0].data.data;
	s.parts[0].data.len = len - 1;
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_E_DECRYPT, &d,
	       "attachment p1@test: AES-GCM authentication tag mismatch");
	s.parts[0].data.len = len;
	p[20] ^= 0x80;
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_E_DECRYPT, &d, "tag mismatch");
	p[20] ^= 0x80;
	p[len - 1] ^= 1; /* the tag itself */
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_E_DECRYPT, &d, "tag mismatch");
	p[len - 1] ^= 1;
	s.parts[0].data.len = 27;
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_E_DECRYPT, &d,
	       "too short for the AES-GCM IV and tag");
	s.parts[0].data.len = len;
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_OK, &d, "");
	sealed_free(&s);
}

static void wrong_decryption_key(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	seal(&s, true, true, C.ap1);
	params(&op, true, true);
	op.decrypt_keys = &C.ap1;
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_E_DECRYPT, &d,
	       "not one of our certificates");
	/* during a key rollover both keys are configured: the right one is chosen */
	struct as4_keystore *both[2] = {C.ap1, C.ap2};
	op.decrypt_keys = both;
	op.n_decrypt_keys = 2;
	expect(open_with(s.xml, s.parts, 2, &op, &d), AS4_OK, &d, "");
	/* a corrupted wrapped key fails the OAEP check */
	char *cv = element(s.xml, "xenc:CipherValue");
	char *cv2 = strdup(cv);
	char *c = strchr(cv2, '>') + 10;
	*c = *c == 'A' ? 'B' : 'A';
	char *attack = fx_replace(s.xml, cv, cv2);
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_DECRYPT, &d,
	       "EncryptedKey could not be decrypted with our private key");
	free(attack);
	free(cv2);
	free(cv);
	sealed_free(&s);
}

static void oversized_base64(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	seal(&s, true, true, C.ap1);
	params(&op, true, true);
	size_t n = WSS_MAX_TOKEN_B64 + 4;
	char *big = malloc(n + 64);
	memset(big, 'A', n);
	big[n] = '\0';
	char *bst = element(s.xml, "wsse:BinarySecurityToken");
	const char *gt = strchr(bst, '>');
	char *repl = malloc(n + 4096);
	assert_int_equal(as4_str_fmt(repl, n + 4096, "%.*s>%s</wsse:BinarySecurityToken>",
	                             (int)(gt - bst), bst, big),
	                 AS4_OK);
	char *attack = fx_replace(s.xml, bst, repl);
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_SIG_INVALID, &d,
	       "BinarySecurityToken: base64 content longer than 65536 characters");
	free(attack);
	char *cv = element(s.xml, "xenc:CipherValue");
	big[WSS_MAX_KEY_B64 + 4] = '\0';
	assert_int_equal(
	        as4_str_fmt(repl, n + 4096, "<xenc:CipherValue>%s</xenc:CipherValue>", big),
	        AS4_OK);
	attack = fx_replace(s.xml, cv, repl);
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_DECRYPT, &d,
	       "CipherValue: base64 content longer than 4096 characters");
	free(attack);
	/* not base64 at all */
	attack = fx_replace(s.xml, cv, "<xenc:CipherValue>*not base64*</xenc:CipherValue>");
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_DECRYPT, &d, "not valid base64");
	free(attack);
	free(cv);
	free(repl);
	free(bst);
	free(big);
	sealed_free(&s);
}

static void xml_encryption_outside_security(void **state)
{
	(void)state;
	struct sealed s;
	struct as4_diag d;
	struct as4_wss_open_params op;
	seal(&s, true, true, C.ap1);
	params(&op, false, false);
	char *attack = fx_replace(s.xml, "/></env:Envelope>",
	                          "><xenc:EncryptedData xmlns:xenc=\"" AS4_NS_XENC
	                          "\"/></env:Body></env:Envelope>");
	expect(open_with(attack, s.parts, 2, &op, &d), AS4_E_DECRYPT, &d,
	       "outside the security header (XML element encryption) is not supported");
	free(attack);
	sealed_free(&s);
}

/* Each EncryptedKey costs a private-key operation: a message may not use more than a few. */
static void too_many_encrypted_keys(void **state)
{
	(void)state;
	struct as4_diag d;
	as4_diag_init(&d);
	enum { N = 5 };
	xmlDoc *env = fx_envelope(N);
	struct as4_part parts[N];
	for (size_t i = 0; i < N; i++) {
		fx_part(&parts[i], i, "text/plain", "payload", 7);
	}
	struct as4_wss_seal_params sp = {.encrypt_for = as4_keystore_cert(C.ap2)};
	assert_int_equal(as4_wss_seal(&sp, env, parts, N, NULL, &d), AS4_OK);
	char *xml = fx_dump(env);
	xmlFreeDoc(env);
	/* five copies of the EncryptedKey, each EncryptedData pointing at its own */
	char *ek = element(xml, "xenc:EncryptedKey");
	const char *id_at = strstr(ek, "Id=\"") + 4;
	char ek_id[80];
	size_t id_len = (size_t)(strchr(id_at, '"') - id_at);
	memcpy(ek_id, id_at, id_len);
	ek_id[id_len] = '\0';
	char *cur = strdup(xml);
	char all[65536] = "";
	for (int i = 0; i < N; i++) {
		char from[128];
		char to[128];
		assert_int_equal(as4_str_fmt(from, sizeof(from), "Id=\"%s\"", ek_id), AS4_OK);
		assert_int_equal(as4_str_fmt(to, sizeof(to), "Id=\"%s-%d\"", ek_id, i), AS4_OK);
		char *one = fx_replace(ek, from, to);
		assert_int_equal(as4_str_cat(all, sizeof(all), one), AS4_OK);
		free(one);
		assert_int_equal(as4_str_fmt(from, sizeof(from), "URI=\"#%s\"/>", ek_id), AS4_OK);
		assert_int_equal(as4_str_fmt(to, sizeof(to), "URI=\"#%s-%d\"/>", ek_id, i), AS4_OK);
		char *next = fx_replace(cur, from, to);
		free(cur);
		cur = next;
	}
	char *attack = fx_replace(cur, ek, all);
	struct as4_wss_open_params op;
	params(&op, false, true);
	expect(open_with(attack, parts, 4, &op, &d), AS4_E_MIME, &d, "5 EncryptedData elements");
	expect(open_with(attack, parts, N, &op, &d), AS4_E_DECRYPT, &d,
	       "more than 4 EncryptedKey elements");
	free(attack);
	free(cur);
	free(ek);
	free(xml);
	for (size_t i = 0; i < N; i++) {
		as4_part_cleanup(&parts[i]);
	}
}

static int setup(void **state)
{
	(void)state;
	as4_xml_global_init();
	if (as4_wss_global_init() != AS4_OK) {
		return -1;
	}
	C.ap1 = fx_keystore("ap1");
	C.ap2 = fx_keystore("ap2");
	C.rogue = fx_keystore("rogue");
	C.trust = fx_trust("ca", NULL);
	C.ap1_cert = as4_keystore_cert(C.ap1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	as4_keystore_free(C.ap1);
	as4_keystore_free(C.ap2);
	as4_keystore_free(C.rogue);
	as4_truststore_free(C.trust);
	as4_wss_global_cleanup();
	as4_xml_global_cleanup();
	fx_cleanup_dir();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(policy_unsigned_message),
	        cmocka_unit_test(policy_unencrypted_part),
	        cmocka_unit_test(wrapping_moved_messaging),
	        cmocka_unit_test(wrapping_second_body),
	        cmocka_unit_test(duplicate_ids),
	        cmocka_unit_test(reference_to_other_element),
	        cmocka_unit_test(two_signatures),
	        cmocka_unit_test(unknown_algorithms),
	        cmocka_unit_test(suite_checked_alone),
	        cmocka_unit_test(key_size_floor),
	        cmocka_unit_test(untrusted_and_expired_signers),
	        cmocka_unit_test(external_uris_never_dereferenced),
	        cmocka_unit_test(xmlsec_io_locked_down),
	        cmocka_unit_test(tampered_attachment),
	        cmocka_unit_test(untrusted_signer_refused_before_decryption),
	        cmocka_unit_test(tampered_header_after_decryption),
	        cmocka_unit_test(tampered_signature_value),
	        cmocka_unit_test(ciphertext_truncated_or_corrupted),
	        cmocka_unit_test(wrong_decryption_key),
	        cmocka_unit_test(oversized_base64),
	        cmocka_unit_test(xml_encryption_outside_security),
	        cmocka_unit_test(too_many_encrypted_keys),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
