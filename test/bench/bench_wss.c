/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_wss: throughput of the eDelivery AS4 1.15 crypto pipeline on one core, next to the
 * RSA-2048 private-key rate measured in the same run (not a ctest; run by hand).
 *
 *   seal: parse the unsigned envelope, sign (BST, exc-c14n, rsa-sha256, SHA-256 references to
 *         eb:Messaging, Body and the attachment) and encrypt (AES-128-GCM, RSA-OAEP-SHA256
 *         EncryptedKey), serialise as MIME                              -> 1 private-key op
 *   open: MIME + XML parse, decrypt, verify every reference, build a Receipt with the
 *         NonRepudiationInformation, sign it and serialise it             -> 2 private-key ops
 *
 * So the ceilings are the RSA rate for seal and half of it for open; the target for open is
 * at least 70 % of its ceiling. Payloads are N distinct --size byte attachments
 * (application/gzip, compression outside the timing, as in the Java peer's bench).
 *
 * usage: bench_wss [--n N] [--size BYTES] [--warmup N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "as4/arena.h"
#include "as4/mime.h"
#include "as4/str.h"
#include "as4/time.h"
#include "as4/wss.h"
#include "as4/xml.h"

#include "../../ap/wss/wss_int.h"

static void die(const char *what, const struct as4_diag *d)
{
	fprintf(stderr, "bench_wss: %s: %s\n", what, d != NULL ? as4_diag_text(d) : "failed");
	exit(1);
}

/* A keystore with a fresh RSA-2048 key and a self-signed certificate. */
static struct as4_keystore *make_party(const char *cn)
{
	struct as4_keystore *ks = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	if (as4_keystore_generate(2048, &ks, &d) != AS4_OK) {
		die("keygen", &d);
	}
	X509 *x = X509_new();
	EVP_PKEY *pub = as4_keystore_public_key(ks);
	X509_NAME *name = X509_get_subject_name(x);
	if (x == NULL || pub == NULL || X509_set_version(x, X509_VERSION_3) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365) == NULL ||
	    X509_set_pubkey(x, pub) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
	                               0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || as4_keystore_sign_cert(ks, x, &d) != AS4_OK ||
	    as4_keystore_set_cert(ks, x, &d) != AS4_OK) {
		die("certificate", &d);
	}
	EVP_PKEY_free(pub);
	X509_free(x);
	return ks;
}

/*
 * Rates are computed from the process CPU time: the bench is single-threaded, so this is
 * "per core", and other load on a shared machine does not distort the ratio to the RSA rate
 * (wall-clock rates are printed too).
 */
static double now_s(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) {
		die("clock", NULL);
	}
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
	return (double)as4_time_mono_ns() / 1e9;
}

/*
 * RSA-2048 private-key operations (OAEP unwrap through the keystore), timed one at a time
 * between the messages, so that the RSA rate and the message rates see the same machine load.
 */
struct rsa_probe {
	struct as4_keystore *ks;
	uint8_t ct[512];
	size_t ct_len;
	double time;
	size_t ops;
};

static void rsa_probe_init(struct rsa_probe *r, struct as4_keystore *ks)
{
	uint8_t key[16] = {1, 2, 3};
	memset(r, 0, sizeof(*r));
	r->ks = ks;
	r->ct_len = sizeof(r->ct);
	EVP_PKEY *pub = X509_get0_pubkey(as4_keystore_cert(ks));
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
	if (ctx == NULL || EVP_PKEY_encrypt_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) <= 0 ||
	    EVP_PKEY_encrypt(ctx, r->ct, &r->ct_len, key, sizeof(key)) <= 0) {
		die("rsa setup", NULL);
	}
	EVP_PKEY_CTX_free(ctx);
}

static void rsa_probe_run(struct rsa_probe *r)
{
	uint8_t out[32];
	size_t out_len = 0;
	double t0 = now_s();
	if (wss_keystore_unwrap(r->ks, EVP_sha256(), EVP_sha256(), NULL, 0, r->ct, r->ct_len, out,
	                        sizeof(out), &out_len, NULL) != AS4_OK) {
		die("rsa op", NULL);
	}
	r->time += now_s() - t0;
	r->ops++;
}

static const char env_fmt[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<env:Envelope xmlns:env=\"" AS4_NS_SOAP12 "\" xmlns:eb=\"" AS4_NS_EB "\">"
        "<env:Header><eb:Messaging env:mustUnderstand=\"true\"><eb:UserMessage "
        "mpc=\"http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/defaultMPC\">"
        "<eb:MessageInfo><eb:Timestamp>2026-11-22T10:00:00.000Z</eb:Timestamp>"
        "<eb:MessageId>%zu-bench@as4.example</eb:MessageId></eb:MessageInfo>"
        "<eb:PartyInfo><eb:From><eb:PartyId "
        "type=\"urn:fdc:peppol.eu:2017:identifiers:ap\">ap1</eb:PartyId>"
        "<eb:Role>http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/initiator"
        "</eb:Role></eb:From><eb:To><eb:PartyId "
        "type=\"urn:fdc:peppol.eu:2017:identifiers:ap\">ap2</eb:PartyId>"
        "<eb:Role>http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/responder"
        "</eb:Role></eb:To></eb:PartyInfo><eb:CollaborationInfo>"
        "<eb:AgreementRef>urn:fdc:peppol.eu:2017:agreements:tia:ap_provider</eb:AgreementRef>"
        "<eb:Service type=\"cenbii-procid-ubl\">urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
        "</eb:Service><eb:Action>busdox-docid-qns::urn:oasis:names:specification:ubl:schema:"
        "xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017::2.1</eb:Action>"
        "<eb:ConversationId>conv-%zu</eb:ConversationId></eb:CollaborationInfo>"
        "<eb:MessageProperties><eb:Property name=\"originalSender\" "
        "type=\"iso6523-actorid-upis\">0088:5790000123117</eb:Property>"
        "<eb:Property name=\"finalRecipient\" type=\"iso6523-actorid-upis\">"
        "0088:5790000123124</eb:Property></eb:MessageProperties><eb:PayloadInfo>"
        "<eb:PartInfo href=\"cid:payload-%zu@as4.example\"><eb:PartProperties>"
        "<eb:Property name=\"MimeType\">application/xml</eb:Property>"
        "<eb:Property name=\"CompressionType\">application/gzip</eb:Property>"
        "</eb:PartProperties></eb:PartInfo></eb:PayloadInfo></eb:UserMessage></eb:Messaging>"
        "</env:Header><env:Body/></env:Envelope>";

struct sealed_msg {
	uint8_t *body;
	size_t len;
	char content_type[512];
};

/*
 * The Receipt a receiver sends back, built as a DOM: NonRepudiationInformation repeats the
 * received ds:Reference elements, copied node by node from the message's SignedInfo.
 */
static xmlDoc *receipt_for(size_t i, xmlDoc *received)
{
	char text[128];
	xmlDoc *doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNode *env = xmlNewDocNode(doc, NULL, BAD_CAST "Envelope", NULL);
	xmlNs *s12 = xmlNewNs(env, BAD_CAST AS4_NS_SOAP12, BAD_CAST "env");
	xmlNs *eb = xmlNewNs(env, BAD_CAST AS4_NS_EB, BAD_CAST "eb");
	xmlNs *ebbp = xmlNewNs(env, BAD_CAST AS4_NS_EBBP, BAD_CAST "ebbp");
	xmlSetNs(env, s12);
	xmlDocSetRootElement(doc, env);
	xmlNode *hdr = xmlNewChild(env, s12, BAD_CAST "Header", NULL);
	xmlNode *msg = xmlNewChild(hdr, eb, BAD_CAST "Messaging", NULL);
	xmlNewNsProp(msg, s12, BAD_CAST "mustUnderstand", BAD_CAST "true");
	xmlNode *sm = xmlNewChild(msg, eb, BAD_CAST "SignalMessage", NULL);
	xmlNode *mi = xmlNewChild(sm, eb, BAD_CAST "MessageInfo", NULL);
	xmlNewChild(mi, eb, BAD_CAST "Timestamp", BAD_CAST "2026-11-22T10:00:01.000Z");
	if (as4_str_fmt(text, sizeof(text), "r%zu@as4.example", i) != AS4_OK) {
		die("receipt", NULL);
	}
	xmlNewChild(mi, eb, BAD_CAST "MessageId", BAD_CAST text);
	if (as4_str_fmt(text, sizeof(text), "%zu-bench@as4.example", i) != AS4_OK) {
		die("receipt", NULL);
	}
	xmlNewChild(mi, eb, BAD_CAST "RefToMessageId", BAD_CAST text);
	xmlNode *rc = xmlNewChild(sm, eb, BAD_CAST "Receipt", NULL);
	xmlNode *nri = xmlNewChild(rc, ebbp, BAD_CAST "NonRepudiationInformation", NULL);
	xmlNewChild(env, s12, BAD_CAST "Body", NULL);
	/* the references as received (the sender compares their digests with its own) */
	struct wss_env e;
	if (wss_env_find(received, false, &e, NULL) != AS4_OK) {
		die("receipt", NULL);
	}
	xmlNode *si = as4_xml_child(as4_xml_child(e.security, AS4_NS_DS, "Signature"), AS4_NS_DS,
	                            "SignedInfo");
	for (xmlNode *r = as4_xml_child(si, AS4_NS_DS, "Reference"); r != NULL;
	     r = as4_xml_next_elem(r)) {
		xmlNode *part = xmlNewChild(nri, ebbp, BAD_CAST "MessagePartNRInformation", NULL);
		xmlNode *copy = xmlDocCopyNode(r, doc, 1);
		if (part == NULL || copy == NULL || xmlAddChild(part, copy) == NULL) {
			die("receipt", NULL);
		}
	}
	return doc;
}

int main(int argc, char **argv)
{
	size_t n = 2000;
	size_t size = 10240;
	size_t warmup = 200;
	for (int i = 1; i + 1 < argc; i += 2) {
		uint64_t v = 0;
		if (as4_parse_size(argv[i + 1], &v) != AS4_OK) {
			fprintf(stderr, "bad value %s\n", argv[i + 1]);
			return 2;
		}
		if (strcmp(argv[i], "--n") == 0) {
			n = (size_t)v;
		} else if (strcmp(argv[i], "--size") == 0) {
			size = (size_t)v;
		} else if (strcmp(argv[i], "--warmup") == 0) {
			warmup = (size_t)v;
		} else {
			fprintf(stderr, "usage: bench_wss [--n N] [--size BYTES] [--warmup N]\n");
			return 2;
		}
	}
	as4_xml_global_init();
	if (as4_wss_global_init() != AS4_OK) {
		die("init", NULL);
	}
	struct as4_keystore *sender = make_party("sender");
	struct as4_keystore *receiver = make_party("receiver");
	X509 *sender_cert = as4_keystore_cert(sender);
	struct as4_limits lim;
	as4_limits_default(&lim);

	struct rsa_probe probe;
	rsa_probe_init(&probe, receiver);
	size_t total = n + warmup;
	struct sealed_msg *msgs = calloc(total, sizeof(*msgs));
	uint8_t *payload = malloc(size);
	if (msgs == NULL || payload == NULL) {
		die("memory", NULL);
	}

	/* ---- seal ---- */
	double seal_time = 0;
	double seal_wall = 0;
	for (size_t i = 0; i < total; i++) {
		struct as4_diag d;
		as4_diag_init(&d);
		char env[4096];
		char cid[64];
		if (RAND_bytes(payload, (int)size) != 1 ||
		    as4_str_fmt(env, sizeof(env), env_fmt, i, i, i) != AS4_OK ||
		    as4_str_fmt(cid, sizeof(cid), "payload-%zu@as4.example", i) != AS4_OK) {
			die("input", NULL);
		}
		payload[0] = 0x1f;
		payload[1] = 0x8b;
		double w0 = wall_s();
		double t0 = now_s();
		xmlDoc *doc = NULL;
		struct as4_part part;
		as4_part_init(&part);
		part.content_id = cid;
		part.content_type = "application/gzip";
		as4_blob_borrow(&part.data, payload, size);
		if (as4_xml_parse((const uint8_t *)env, strlen(env), &lim, &doc, &d) != AS4_OK) {
			die("parse", &d);
		}
		struct as4_wss_seal_params sp = {.signer = sender,
		                                 .encrypt_for = as4_keystore_cert(receiver)};
		if (as4_wss_seal(&sp, doc, &part, 1, NULL, &d) != AS4_OK) {
			die("seal", &d);
		}
		xmlChar *xml = NULL;
		int xml_len = 0;
		xmlDocDumpMemoryEnc(doc, &xml, &xml_len, "UTF-8");
		struct as4_part root;
		as4_part_init(&root);
		root.content_id = "root@as4.example";
		as4_blob_borrow(&root.data, xml, (size_t)xml_len);
		struct as4_mime_out out;
		memset(&out, 0, sizeof(out));
		struct as4_buf body;
		as4_buf_init(&body, 64u << 20);
		if (as4_mime_build(&root, &part, 1, &out) != AS4_OK ||
		    as4_mime_out_flatten(&out, &body) != AS4_OK) {
			die("mime", NULL);
		}
		if (i >= warmup) {
			seal_time += now_s() - t0;
			seal_wall += wall_s() - w0;
			rsa_probe_run(&probe);
		}
		if (as4_str_copy(msgs[i].content_type, sizeof(msgs[i].content_type),
		                 out.content_type) != AS4_OK) {
			die("content type", NULL);
		}
		msgs[i].body = as4_buf_take(&body, &msgs[i].len);
		as4_mime_out_cleanup(&out);
		xmlFree(xml);
		xmlFreeDoc(doc);
		as4_part_cleanup(&part);
	}

	/* ---- open + receipt ---- */
	double open_time = 0;
	double open_wall = 0;
	double st_parse = 0;
	double st_open = 0;
	double st_receipt = 0;
	double st_sign = 0;
	size_t receipt_bytes = 0;
	for (size_t i = 0; i < total; i++) {
		struct as4_diag d;
		as4_diag_init(&d);
		double w0 = wall_s();
		double t0 = now_s();
		struct as4_arena *arena = as4_arena_new(0);
		struct as4_blob body;
		struct as4_mime mime;
		xmlDoc *doc = NULL;
		as4_blob_borrow(&body, msgs[i].body, msgs[i].len);
		if (arena == NULL ||
		    as4_mime_parse(&body, msgs[i].content_type, &lim, arena, NULL, &mime, &d) !=
		            AS4_OK ||
		    as4_xml_parse(mime.parts[0].data.data, mime.parts[0].data.len, &lim, &doc,
		                  &d) != AS4_OK) {
			die("parse", &d);
		}
		double t1 = now_s();
		struct as4_wss_open_params op = {.decrypt_keys = &receiver,
		                                 .n_decrypt_keys = 1,
		                                 .accepted = &sender_cert,
		                                 .n_accepted = 1,
		                                 .require_signature = true,
		                                 .require_encryption = true,
		                                 .limits = &lim,
		                                 .arena = arena};
		struct as4_wss_open_result res;
		as4_wss_open_result_init(&res);
		if (as4_wss_open(&op, doc, mime.parts + 1, mime.n_parts - 1, &res, &d) != AS4_OK) {
			die("open", &d);
		}
		double t2 = now_s();
		xmlDoc *receipt = receipt_for(i, doc);
		double t3 = now_s();
		if (as4_wss_sign_signal(receiver, AS4_SIG_RSA_SHA256, receipt, &d) != AS4_OK) {
			die("receipt", &d);
		}
		double t4 = now_s();
		xmlChar *xml = NULL;
		int xml_len = 0;
		xmlDocDumpMemoryEnc(receipt, &xml, &xml_len, "UTF-8");
		if (i >= warmup) {
			double t5 = now_s();
			open_time += t5 - t0;
			open_wall += wall_s() - w0;
			st_parse += t1 - t0;
			st_open += t2 - t1;
			st_receipt += (t3 - t2) + (t5 - t4);
			st_sign += t4 - t3;
			receipt_bytes += (size_t)xml_len;
			rsa_probe_run(&probe);
		}
		xmlFree(xml);
		xmlFreeDoc(receipt);
		as4_wss_open_result_cleanup(&res);
		xmlFreeDoc(doc);
		as4_mime_cleanup(&mime);
		as4_arena_free(arena);
	}
	double rsa = (double)probe.ops / probe.time;
	double seal_rate = (double)n / seal_time;
	double open_rate = (double)n / open_time;
	size_t sealed_bytes = 0;
	for (size_t i = warmup; i < total; i++) {
		sealed_bytes += msgs[i].len;
	}
	printf("BENCH rsa2048_private_ops_per_s=%.0f (%.0f us/op, CPU time, %zu ops between the "
	       "messages)\n",
	       rsa, 1e6 / rsa, probe.ops);
	printf("BENCH phase=seal size=%zu n=%zu msgs_per_s=%.0f mean_us=%.0f bytes_out=%zu "
	       "ceiling=%.0f of_ceiling=%.0f%%\n",
	       size, n, seal_rate, 1e6 / seal_rate, sealed_bytes / n, rsa, 100.0 * seal_rate / rsa);
	printf("BENCH phase=open size=%zu n=%zu msgs_per_s=%.0f mean_us=%.0f receipt_bytes=%zu "
	       "ceiling=%.0f of_ceiling=%.0f%% (target >= 70%%)\n",
	       size, n, open_rate, 1e6 / open_rate, receipt_bytes / n, rsa / 2,
	       100.0 * open_rate / (rsa / 2));
	printf("BENCH wall_clock seal_msgs_per_s=%.0f open_msgs_per_s=%.0f\n",
	       (double)n / seal_wall, (double)n / open_wall);
	double wss_only = (double)n / (st_open + st_sign);
	printf("BENCH phase=open_wss_only (decrypt+verify+receipt_sign, without MIME/XML parsing "
	       "and receipt building) msgs_per_s=%.0f of_ceiling=%.0f%%\n",
	       wss_only, 100.0 * wss_only / (rsa / 2));
	printf("BENCH open stages_us=parse:%.0f,decrypt+verify:%.0f,receipt_build:%.0f,"
	       "receipt_sign:%.0f\n",
	       1e6 * st_parse / (double)n, 1e6 * st_open / (double)n, 1e6 * st_receipt / (double)n,
	       1e6 * st_sign / (double)n);
	for (size_t i = 0; i < total; i++) {
		free(msgs[i].body);
	}
	free(msgs);
	free(payload);
	as4_keystore_free(sender);
	as4_keystore_free(receiver);
	as4_wss_global_cleanup();
	as4_xml_global_cleanup();
	return 0;
}
