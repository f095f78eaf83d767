/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Independent verification by the Java peer (../shared/peer: Apache Santuario, the engine
 * under WSS4J, Domibus, phase4 and Holodeck B2B):
 *   - messages we seal (signature algorithms, key references, key transports, AES-GCM
 *     sizes, XML/text/binary attachments, PKIPath tokens, signed signals), written as MIME
 *     with as4_mime_build, must pass `peer verify` with every reference valid;
 *   - messages the peer signs and encrypts for us must open with as4_wss_open.
 * Usage: interop_wss_peer PATH_TO_PEER_SCRIPT (a copy in the build tree; it builds itself).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "as4/arena.h"
#include "as4/gzip.h"
#include "as4/mime.h"

#include "../unit/wss/wss_fixture.h"

#include "../../ap/wss/wss_int.h"

static const char *peer;
static char work[64];

/* Run a shell command; returns its exit status and its output in out (capacity cap). */
static int run(char *out, size_t cap, const char *fmt, ...) AS4_PRINTF(3, 4);

static int run(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[4096];
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
	fprintf(stderr, "$ %s\n%s", cmd, out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *path_in(const char *name)
{
	static char p[8][256];
	static int slot;
	char *out = p[slot++ % 8];
	assert_int_equal(as4_str_fmt(out, sizeof(p[0]), "%s/%s", work, name), AS4_OK);
	return out;
}

static void write_file(const char *path, const void *data, size_t len)
{
	assert_int_equal(as4_file_write_atomic(path, data, len, 0600), AS4_OK);
}

/* Write env and parts as a MIME entity (headers + body) the peer reads. */
static void write_mime(const char *path, xmlDoc *env, const struct as4_part *parts, size_t n)
{
	xmlChar *xml = NULL;
	int len = 0;
	xmlDocDumpMemoryEnc(env, &xml, &len, "UTF-8");
	struct as4_part root;
	as4_part_init(&root);
	root.content_id = "root@test";
	root.content_type = "application/soap+xml; charset=UTF-8";
	as4_blob_borrow(&root.data, xml, (size_t)len);
	struct as4_mime_out out;
	memset(&out, 0, sizeof(out));
	assert_int_equal(as4_mime_build(&root, parts, n, &out), AS4_OK);
	struct as4_buf b;
	as4_buf_init(&b, 64u << 20);
	assert_int_equal(as4_buf_printf(&b, "MIME-Version: 1.0\r\nContent-Type: %s\r\n\r\n",
	                                out.content_type),
	                 AS4_OK);
	assert_int_equal(as4_mime_out_flatten(&out, &b), AS4_OK);
	write_file(path, b.data, b.len);
	as4_buf_cleanup(&b);
	as4_mime_out_cleanup(&out);
	xmlFree(xml);
}

struct variant {
	const char *name;
	const char *signer; /* ap1 or ap3 */
	bool pkipath;
	enum as4_sig_alg sig;
	bool encrypt;
	enum as4_key_transport kt;
	enum as4_data_alg da;
	enum as4_keyref kr;
	bool text_part; /* a third, text/plain attachment with bare LF line ends */
};

static const char text_payload[] = "line one\nline two\r\nline three\rend\n";

/* Seal one variant and have the peer verify (and decrypt) it. */
static void seal_and_peer_verify(const struct variant *v)
{
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_keystore *sender = fx_keystore(v->signer);
	struct as4_keystore *receiver = fx_keystore("ap2");
	size_t n = v->text_part ? 3 : 2;
	xmlDoc *env = fx_envelope(n);
	struct as4_part parts[3];
	fx_two_parts(parts);
	if (v->text_part) {
		fx_part(&parts[2], 2, "text/plain; charset=UTF-8", text_payload,
		        strlen(text_payload));
	}
	struct as4_wss_seal_params sp = {.signer = sender,
	                                 .sig_alg = v->sig,
	                                 .pkipath = v->pkipath,
	                                 .encrypt_for =
	                                         v->encrypt ? as4_keystore_cert(receiver) : NULL,
	                                 .key_transport = v->kt,
	                                 .data_alg = v->da,
	                                 .encrypt_keyref = v->kr};
	assert_int_equal(as4_wss_seal(&sp, env, parts, n, NULL, &d), AS4_OK);
	char file[64];
	assert_int_equal(as4_str_fmt(file, sizeof(file), "%s.mime", v->name), AS4_OK);
	write_mime(path_in(file), env, parts, n);
	char cert[256];
	assert_int_equal(as4_str_fmt(cert, sizeof(cert), "%s/%s.cert.pem", FX_DATA, v->signer),
	                 AS4_OK);
	char out[16384];
	char want[32];
	assert_int_equal(as4_str_fmt(want, sizeof(want), "refs=%zu/%zu", n + 2, n + 2), AS4_OK);
	int rc = run(out, sizeof(out), "%s verify %s --key %s/ap2.key.pem --cert %s --strict-time",
	             peer, path_in(file), FX_DATA, cert);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "VERIFY OK"));
	assert_non_null(strstr(out, want));
	if (v->encrypt) {
		assert_non_null(strstr(out, "decrypted("));
	}
	for (size_t i = 0; i < n; i++) {
		as4_part_cleanup(&parts[i]);
	}
	xmlFreeDoc(env);
	as4_keystore_free(sender);
	as4_keystore_free(receiver);
}

static void peer_verifies_our_messages(void **state)
{
	(void)state;
	const struct variant vs[] = {
	        {"default", "ap1", false, AS4_SIG_RSA_SHA256, true, AS4_KT_RSA_OAEP_SHA256,
	         AS4_ENC_AES128_GCM, AS4_KEYREF_BST, false},
	        {"sha512-mgf1p-issuerserial-aes256", "ap1", false, AS4_SIG_RSA_SHA512, true,
	         AS4_KT_RSA_OAEP_MGF1P, AS4_ENC_AES256_GCM, AS4_KEYREF_ISSUER_SERIAL, true},
	        {"pkipath-sha384-ski-aes192", "ap3", true, AS4_SIG_RSA_SHA384, true,
	         AS4_KT_RSA_OAEP_SHA256, AS4_ENC_AES192_GCM, AS4_KEYREF_SKI, false},
	        {"sign-only-text", "ap1", false, AS4_SIG_RSA_SHA256, false, AS4_KT_RSA_OAEP_SHA256,
	         AS4_ENC_AES128_GCM, AS4_KEYREF_BST, true},
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(vs); i++) {
		seal_and_peer_verify(&vs[i]);
	}
}

static void peer_verifies_our_signed_receipt(void **state)
{
	(void)state;
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_keystore *ks = fx_keystore("ap2");
	xmlDoc *env = fx_parse(
	        "<env:Envelope xmlns:env=\"" AS4_NS_SOAP12 "\"><env:Header>"
	        "<eb:Messaging xmlns:eb=\"" AS4_NS_EB "\" env:mustUnderstand=\"true\">"
	        "<eb:SignalMessage><eb:MessageInfo><eb:Timestamp>2026-11-22T10:00:01Z</"
	        "eb:Timestamp>"
	        "<eb:MessageId>r1@test</eb:MessageId><eb:RefToMessageId>m1@test</eb:RefToMessageId>"
	        "</eb:MessageInfo><eb:Receipt/></eb:SignalMessage></eb:Messaging></env:Header>"
	        "<env:Body/></env:Envelope>");
	assert_int_equal(as4_wss_sign_signal(ks, AS4_SIG_RSA_SHA256, env, &d), AS4_OK);
	char *xml = fx_dump(env);
	write_file(path_in("receipt.xml"), xml, strlen(xml));
	char out[8192];
	int rc = run(out, sizeof(out), "%s verify %s --cert %s/ap2.cert.pem", peer,
	             path_in("receipt.xml"), FX_DATA);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "refs=2/2"));
	free(xml);
	xmlFreeDoc(env);
	as4_keystore_free(ks);
}

/* The peer signs and encrypts for us; we open. */
static void peer_sign(const char *extra, const char *name, bool compress)
{
	const char *env_xml =
	        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	        "<S12:Envelope xmlns:S12=\"" AS4_NS_SOAP12 "\" xmlns:eb=\"" AS4_NS_EB "\">"
	        "<S12:Header><eb:Messaging S12:mustUnderstand=\"true\"><eb:UserMessage>"
	        "<eb:MessageInfo><eb:Timestamp>2026-11-22T10:00:00Z</eb:Timestamp>"
	        "<eb:MessageId>peer@test</eb:MessageId></eb:MessageInfo>"
	        "<eb:PayloadInfo><eb:PartInfo href=\"cid:p1@test\"/><eb:PartInfo "
	        "href=\"cid:p2@test\"/>"
	        "</eb:PayloadInfo></eb:UserMessage></eb:Messaging></S12:Header><S12:Body/>"
	        "</S12:Envelope>";
	const char *xml_payload = "<?xml version=\"1.0\"?>\n<doc  b='2' a='1'><x/>\n</doc>\n";
	uint8_t bin[5000];
	for (size_t i = 0; i < sizeof(bin); i++) {
		bin[i] = (uint8_t)(i * 7 + 3);
	}
	write_file(path_in("peer-env.xml"), env_xml, strlen(env_xml));
	write_file(path_in("p1.xml"), xml_payload, strlen(xml_payload));
	write_file(path_in("p2.bin"), bin, sizeof(bin));
	char out[16384];
	int rc = run(out, sizeof(out),
	             "%s sign --envelope %s --attach 'p1@test=%s;type=application/xml' "
	             "--attach 'p2@test=%s;type=application/octet-stream%s' --sign-key "
	             "%s/ap2.key.pem --sign-cert %s/ap2.cert.pem --encrypt-cert %s/ap1.cert.pem %s "
	             "--out %s",
	             peer, path_in("peer-env.xml"), path_in("p1.xml"), path_in("p2.bin"),
	             compress ? ";compress" : "", FX_DATA, FX_DATA, FX_DATA, extra, path_in(name));
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "SIGN OK"));

	uint8_t *raw = NULL;
	size_t len = 0;
	const char *ct = NULL;
	struct as4_blob body;
	struct as4_mime mime;
	struct as4_limits lim;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_limits_default(&lim);
	struct as4_arena *arena = as4_arena_new(0);
	assert_int_equal(as4_file_read(path_in(name), 8 << 20, &raw, &len), AS4_OK);
	assert_int_equal(as4_mime_split_entity(raw, len, arena, &ct, &body, &d), AS4_OK);
	assert_int_equal(as4_mime_parse(&body, ct, &lim, arena, NULL, &mime, &d), AS4_OK);
	assert_int_equal(mime.n_parts, 3);
	xmlDoc *env = NULL;
	assert_int_equal(
	        as4_xml_parse(mime.parts[0].data.data, mime.parts[0].data.len, &lim, &env, &d),
	        AS4_OK);
	struct as4_keystore *ap1 = fx_keystore("ap1");
	struct as4_truststore *trust = fx_trust("ca", NULL);
	struct as4_wss_open_params op = {.decrypt_keys = &ap1,
	                                 .n_decrypt_keys = 1,
	                                 .trust = trust,
	                                 .require_signature = true,
	                                 .require_encryption = true,
	                                 .limits = &lim,
	                                 .arena = arena};
	struct as4_wss_open_result res;
	as4_wss_open_result_init(&res);
	as4_err err = as4_wss_open(&op, env, mime.parts + 1, 2, &res, &d);
	if (err != AS4_OK) {
		fprintf(stderr, "open: %s\n", as4_diag_text(&d));
	}
	assert_int_equal(err, AS4_OK);
	assert_int_equal(res.refs_valid, 4);
	assert_true(res.signer_trusted);
	assert_int_equal(res.parts_decrypted, 2);
	struct as4_part *p1 = as4_mime_find(&mime, "p1@test");
	struct as4_part *p2 = as4_mime_find(&mime, "p2@test");
	assert_string_equal(p1->content_type, "application/xml");
	assert_int_equal(p1->data.len, strlen(xml_payload));
	assert_memory_equal(p1->data.data, xml_payload, p1->data.len);
	if (compress) {
		struct as4_sink s;
		struct as4_blob plain;
		as4_sink_init(&s, NULL, 0, 1 << 20);
		assert_string_equal(p2->content_type, "application/gzip");
		assert_int_equal(as4_gzip_decompress(&p2->data, 1000, &s, &d), AS4_OK);
		assert_int_equal(as4_sink_finish(&s, &plain), AS4_OK);
		assert_int_equal(plain.len, sizeof(bin));
		assert_memory_equal(plain.data, bin, sizeof(bin));
		as4_blob_cleanup(&plain);
		as4_sink_cleanup(&s);
	} else {
		assert_int_equal(p2->data.len, sizeof(bin));
		assert_memory_equal(p2->data.data, bin, sizeof(bin));
	}
	as4_wss_open_result_cleanup(&res);
	xmlFreeDoc(env);
	as4_mime_cleanup(&mime);
	as4_arena_free(arena);
	free(raw);
	as4_truststore_free(trust);
	as4_keystore_free(ap1);
}

static void we_open_peer_messages(void **state)
{
	(void)state;
	peer_sign("", "peer-default.mime", true);
	peer_sign("--keyref issuerserial --ek-alg rsa-oaep-mgf1p --sig-alg rsa-sha512",
	          "peer-issuerserial.mime", false);
	peer_sign("--keyref ski --sig-alg rsa-sha384", "peer-ski.mime", true);
}

static int setup(void **state)
{
	(void)state;
	as4_xml_global_init();
	if (as4_str_copy(work, sizeof(work), "/tmp/as4-wss-peer-XXXXXX") != AS4_OK ||
	    mkdtemp(work) == NULL) {
		return -1;
	}
	return as4_wss_global_init() == AS4_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char out[256];
	if (run(out, sizeof(out), "rm -rf %s", work) != 0) {
		return -1;
	}
	as4_wss_global_cleanup();
	as4_xml_global_cleanup();
	fx_cleanup_dir();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s PEER_SCRIPT\n", argv[0]);
		return 2;
	}
	peer = argv[1];
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(peer_verifies_our_messages),
	        cmocka_unit_test(peer_verifies_our_signed_receipt),
	        cmocka_unit_test(we_open_peer_messages),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
