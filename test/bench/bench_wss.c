/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_wss: throughput of the eDelivery AS4 1.15 crypto pipeline on one core, next to the
 * RSA-2048 private-key rate measured in the same run (not a ctest; run by hand; the figures
 * are in docs/benchmarks.md, "WS-Security").
 *
 * Two levels, each sealing then opening the same messages:
 *
 *   pipeline  what as4d does per message, without HTTP and the store:
 *             seal  as4_msg_out_seal (gzip with a compressor kept between payloads as a send
 *                   worker keeps one, UserMessage envelope, sign, encrypt, serialise, MIME)
 *                   and the flattened body                              -> 1 private-key op
 *             open  as4_msg_in_open (MIME, SOAP, eb:Messaging, PMode, decrypt, verify,
 *                   gunzip) and as4_msg_receipt (Receipt with NRI, signed, serialised)
 *                                                                       -> 2 private-key ops
 *   wss       the security layer with its parsing and the Receipt, without ebMS header
 *             reading, PMode matching and compression (the payload goes in as it is):
 *             seal  parse an unsigned envelope, as4_wss_seal, serialise, MIME
 *             open  MIME + XML parse, as4_wss_open, as4_ebms3_build_receipt from the
 *                   references, as4_wss_sign_signal, serialise
 *
 * So the ceilings are the RSA rate for seal and half of it for open; the target for open is
 * at least 70 % of its ceiling. RSA-2048 private-key operations (RSA-OAEP unwraps through
 * the keystore) are timed one at a time between the messages, so that both rates see the
 * same machine. Rates are CPU time of this single-threaded process (per core; other load on
 * a shared machine changes both sides of the ratio alike); wall-clock rates are printed too.
 *
 * The payload of each message is --size bytes: random (incompressible, the default) or the
 * content of --payload FILE repeated (a MedCom FHIR document compresses about 5:1).
 *
 * usage: bench_wss [--n N] [--size BYTES] [--warmup N] [--payload FILE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "as4/arena.h"
#include "as4/ebms3.h"
#include "as4/gzip.h"
#include "as4/mime.h"
#include "as4/msg.h"
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

static double cpu_s(void)
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

/* ---- the RSA probe ------------------------------------------------------------------------ */

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
	double t0 = cpu_s();
	if (wss_keystore_unwrap(r->ks, wss_sha(256), wss_sha(256), NULL, 0, r->ct, r->ct_len, out,
	                        sizeof(out), &out_len, NULL) != AS4_OK) {
		die("rsa op", NULL);
	}
	r->time += cpu_s() - t0;
	r->ops++;
}

/* ---- set-up shared by both levels --------------------------------------------------------- */

struct bench {
	size_t n;
	size_t warmup;
	size_t size;
	uint8_t *payload; /* one message's payload; its first bytes vary per message */
	struct as4_keystore *sender;
	struct as4_keystore *receiver;
	X509 *sender_cert;
	struct as4_limits lim;
	struct rsa_probe probe;
	struct as4_party_id ids_a[1];
	struct as4_party_id ids_b[1];
	struct as4_party party_a;
	struct as4_party party_b;
	struct as4_pmode pmode;
	struct as4_pmode_set *pmodes;
	struct as4_deflater *deflater; /* kept between payloads, as each send worker keeps one */
};

/*
 * What one phase measured (messages after the warm-up only), with the RSA operations timed
 * between its messages: each phase is judged against the RSA rate of its own time span.
 */
struct phase {
	double cpu;
	double wall;
	size_t bytes;
	double rsa_time;
	size_t rsa_ops;
};

static void probe(struct bench *b, struct phase *ph)
{
	double t = b->probe.time;
	rsa_probe_run(&b->probe);
	ph->rsa_time += b->probe.time - t;
	ph->rsa_ops++;
}

struct sealed {
	uint8_t *body;
	size_t len;
	char content_type[512];
};

/* Make the payload of message i distinct (a counter in its first bytes). */
static void vary(struct bench *b, size_t i)
{
	char tag[32];
	if (as4_str_fmt(tag, sizeof(tag), "<!--%zu-->", i) != AS4_OK) {
		die("payload", NULL);
	}
	size_t n = strlen(tag) < b->size ? strlen(tag) : b->size;
	memcpy(b->payload, tag, n);
}

static void load_payload(struct bench *b, const char *file)
{
	b->payload = malloc(b->size);
	if (b->payload == NULL) {
		die("memory", NULL);
	}
	if (file == NULL) {
		if (RAND_bytes(b->payload, (int)b->size) != 1) {
			die("random", NULL);
		}
		return;
	}
	uint8_t *text = NULL;
	size_t len = 0;
	if (as4_file_read(file, 64u << 20, &text, &len) != AS4_OK || len == 0) {
		fprintf(stderr, "bench_wss: cannot read %s\n", file);
		exit(2);
	}
	for (size_t off = 0; off < b->size; off += len) {
		memcpy(b->payload + off, text, b->size - off < len ? b->size - off : len);
	}
	free(text);
}

static void setup(struct bench *b)
{
	b->sender = make_party("sender");
	b->receiver = make_party("receiver");
	b->sender_cert = as4_keystore_cert(b->sender);
	as4_limits_default(&b->lim);
	rsa_probe_init(&b->probe, b->receiver);
	b->ids_a[0] = (struct as4_party_id){"urn:fdc:peppol.eu:2017:identifiers:ap", "ap1"};
	b->ids_b[0] = (struct as4_party_id){"urn:fdc:peppol.eu:2017:identifiers:ap", "ap2"};
	b->party_a = (struct as4_party){"a", b->ids_a, 1, NULL, NULL, NULL, false};
	b->party_b =
	        (struct as4_party){"b", b->ids_b, 1, "https://b.example/as4", NULL, NULL, false};
	struct as4_pmode *pm = &b->pmode;
	memset(pm, 0, sizeof(*pm));
	pm->id = "bench";
	pm->agreement = "urn:fdc:peppol.eu:2017:agreements:tia:ap_provider";
	pm->initiator = &b->party_a;
	pm->initiator_role = AS4_ROLE_INITIATOR;
	pm->responder = &b->party_b;
	pm->responder_role = AS4_ROLE_RESPONDER;
	pm->service = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0";
	pm->service_type = "cenbii-procid-ubl";
	pm->action = "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::"
	             "Invoice##urn:cen.eu:en16931:2017::2.1";
	pm->mpc = AS4_DEFAULT_MPC;
	pm->max_parts = 1;
	pm->min_parts = 1;
	pm->compress = true;
	pm->security.sign = true;
	pm->security.encrypt = true;
	pm->security.receipt_signed = true;
	pm->security.sig_alg = AS4_SIG_RSA_SHA256;
	pm->security.key_transport = AS4_KT_RSA_OAEP_SHA256;
	pm->security.data_alg = AS4_ENC_AES128_GCM;
	pm->security.keyref = AS4_KEYREF_BST;
	if (as4_pmode_set_from_array(pm, 1, &b->pmodes) != AS4_OK) {
		die("pmode", NULL);
	}
	b->deflater = as4_deflater_new();
	if (b->deflater == NULL) {
		die("memory", NULL);
	}
}

/* ---- pipeline level ------------------------------------------------------------------------ */

static X509 *partner(void *ctx, const struct as4_pmode *pm)
{
	(void)pm;
	return ctx;
}

static void pipeline_seal(struct bench *b, struct sealed *msgs, struct phase *ph)
{
	static const struct as4_property props[] = {
	        {AS4_PROP_ORIGINAL_SENDER, "iso6523-actorid-upis", "0088:5790000123117"},
	        {AS4_PROP_FINAL_RECIPIENT, "iso6523-actorid-upis", "0088:5790000123124"},
	};
	for (size_t i = 0; i < b->n + b->warmup; i++) {
		struct as4_diag d;
		as4_diag_init(&d);
		vary(b, i);
		struct as4_submission_payload pl = {.mime_type = "application/fhir+xml"};
		as4_blob_borrow(&pl.data, b->payload, b->size);
		struct as4_submission sub = {.props = props,
		                             .n_props = AS4_ARRAY_LEN(props),
		                             .payloads = &pl,
		                             .n_payloads = 1};
		struct as4_msg_out_params p = {.pmode = &b->pmode,
		                               .signer = b->sender,
		                               .receiver_cert = as4_keystore_cert(b->receiver),
		                               .id_domain = "sender.example",
		                               .limits = &b->lim,
		                               .deflater = b->deflater};
		double w0 = wall_s();
		double t0 = cpu_s();
		struct as4_msg_out *o = NULL;
		struct as4_buf body;
		as4_buf_init(&body, 64u << 20);
		if (as4_msg_out_seal(&p, &sub, &o, &d) != AS4_OK) {
			die("seal", &d);
		}
		if (as4_mime_out_flatten(&o->mime, &body) != AS4_OK) {
			die("mime", NULL);
		}
		if (i >= b->warmup) {
			ph->cpu += cpu_s() - t0;
			ph->wall += wall_s() - w0;
			ph->bytes += body.len;
			probe(b, ph);
		}
		if (as4_str_copy(msgs[i].content_type, sizeof(msgs[i].content_type),
		                 o->mime.content_type) != AS4_OK) {
			die("content type", NULL);
		}
		msgs[i].body = as4_buf_take(&body, &msgs[i].len);
		as4_msg_out_free(o);
	}
}

static void pipeline_open(struct bench *b, const struct sealed *msgs, struct phase *ph)
{
	struct as4_keystore *keys[1] = {b->receiver};
	for (size_t i = 0; i < b->n + b->warmup; i++) {
		struct as4_diag d;
		as4_diag_init(&d);
		struct as4_msg_in_params p = {.limits = &b->lim,
		                              .pmodes = b->pmodes,
		                              .decrypt_keys = keys,
		                              .n_decrypt_keys = 1,
		                              .partner_cert = partner,
		                              .partner_ctx = b->sender_cert};
		struct as4_signal_params sp = {.signer = b->receiver,
		                               .sig_alg = AS4_SIG_RSA_SHA256,
		                               .id_domain = "receiver.example"};
		double w0 = wall_s();
		double t0 = cpu_s();
		struct as4_blob body;
		as4_blob_borrow(&body, msgs[i].body, msgs[i].len);
		struct as4_msg *m = NULL;
		struct as4_signal_out receipt;
		if (as4_msg_in_open(&p, &body, msgs[i].content_type, &m, &d) != AS4_OK) {
			die("open", &d);
		}
		if (m->n_payloads != 1 || m->payloads[0].data.len != b->size) {
			die("open: payload", NULL);
		}
		if (as4_msg_receipt(m, &sp, &receipt, &d) != AS4_OK) {
			die("receipt", &d);
		}
		if (i >= b->warmup) {
			ph->cpu += cpu_s() - t0;
			ph->wall += wall_s() - w0;
			ph->bytes += receipt.body.len;
			probe(b, ph);
		}
		as4_signal_out_cleanup(&receipt);
		as4_msg_free(m);
	}
}

/* ---- security-layer level ------------------------------------------------------------------ */

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
        "<eb:Property name=\"MimeType\">application/fhir+xml</eb:Property>"
        "</eb:PartProperties></eb:PartInfo></eb:PayloadInfo></eb:UserMessage></eb:Messaging>"
        "</env:Header><env:Body/></env:Envelope>";

static void wss_seal(struct bench *b, struct sealed *msgs, struct phase *ph)
{
	for (size_t i = 0; i < b->n + b->warmup; i++) {
		struct as4_diag d;
		as4_diag_init(&d);
		char env[4096];
		char cid[64];
		vary(b, i);
		if (as4_str_fmt(env, sizeof(env), env_fmt, i, i, i) != AS4_OK ||
		    as4_str_fmt(cid, sizeof(cid), "payload-%zu@as4.example", i) != AS4_OK) {
			die("input", NULL);
		}
		double w0 = wall_s();
		double t0 = cpu_s();
		xmlDoc *doc = NULL;
		struct as4_part part;
		as4_part_init(&part);
		part.content_id = cid;
		part.content_type = "application/octet-stream";
		as4_blob_borrow(&part.data, b->payload, b->size);
		if (as4_xml_parse((const uint8_t *)env, strlen(env), &b->lim, &doc, &d) != AS4_OK) {
			die("parse", &d);
		}
		struct as4_wss_seal_params sp = {.signer = b->sender,
		                                 .encrypt_for = as4_keystore_cert(b->receiver)};
		if (as4_wss_seal(&sp, doc, &part, 1, NULL, &d) != AS4_OK) {
			die("seal", &d);
		}
		struct as4_buf xml;
		as4_buf_init(&xml, 64u << 20);
		if (as4_ebms3_serialize(doc, &xml) != AS4_OK) {
			die("serialise", NULL);
		}
		struct as4_part root;
		as4_part_init(&root);
		root.content_id = "root@as4.example";
		as4_blob_borrow(&root.data, xml.data, xml.len);
		struct as4_mime_out out;
		memset(&out, 0, sizeof(out));
		struct as4_buf body;
		as4_buf_init(&body, 64u << 20);
		if (as4_mime_build(&root, &part, 1, &out) != AS4_OK ||
		    as4_mime_out_flatten(&out, &body) != AS4_OK) {
			die("mime", NULL);
		}
		if (i >= b->warmup) {
			ph->cpu += cpu_s() - t0;
			ph->wall += wall_s() - w0;
			ph->bytes += body.len;
			probe(b, ph);
		}
		if (as4_str_copy(msgs[i].content_type, sizeof(msgs[i].content_type),
		                 out.content_type) != AS4_OK) {
			die("content type", NULL);
		}
		msgs[i].body = as4_buf_take(&body, &msgs[i].len);
		as4_mime_out_cleanup(&out);
		as4_buf_cleanup(&xml);
		xmlFreeDoc(doc);
		as4_part_cleanup(&part);
	}
}

/* Where the open of the security level spends its time. */
struct stages {
	double parse;
	double open;
	double receipt;
	double sign;
};

static void wss_open(struct bench *b, const struct sealed *msgs, struct phase *ph,
                     struct stages *st)
{
	for (size_t i = 0; i < b->n + b->warmup; i++) {
		struct as4_diag d;
		as4_diag_init(&d);
		double w0 = wall_s();
		double t0 = cpu_s();
		struct as4_arena *arena = as4_arena_new(0);
		struct as4_blob body;
		struct as4_mime mime;
		xmlDoc *doc = NULL;
		as4_blob_borrow(&body, msgs[i].body, msgs[i].len);
		if (arena == NULL ||
		    as4_mime_parse(&body, msgs[i].content_type, &b->lim, arena, NULL, &mime, &d) !=
		            AS4_OK ||
		    as4_xml_parse(mime.parts[0].data.data, mime.parts[0].data.len, &b->lim, &doc,
		                  &d) != AS4_OK) {
			die("parse", &d);
		}
		double t1 = cpu_s();
		struct as4_wss_open_params op = {.decrypt_keys = &b->receiver,
		                                 .n_decrypt_keys = 1,
		                                 .accepted = &b->sender_cert,
		                                 .n_accepted = 1,
		                                 .require_signature = true,
		                                 .require_encryption = true,
		                                 .limits = &b->lim,
		                                 .arena = arena};
		struct as4_wss_open_result res;
		as4_wss_open_result_init(&res);
		if (as4_wss_open(&op, doc, mime.parts + 1, mime.n_parts - 1, &res, &d) != AS4_OK) {
			die("open", &d);
		}
		double t2 = cpu_s();
		char id[128];
		char ref_to[64];
		if (as4_ebms3_new_message_id("receiver.example", id, sizeof(id)) != AS4_OK ||
		    as4_str_fmt(ref_to, sizeof(ref_to), "%zu-bench@as4.example", i) != AS4_OK) {
			die("receipt id", NULL);
		}
		struct as4_receipt_spec rs = {
		        .message_id = id, .ref_to_message_id = ref_to, .refs = &res.refs};
		xmlDoc *receipt = NULL;
		if (as4_ebms3_build_receipt(&rs, &receipt, &d) != AS4_OK) {
			die("receipt", &d);
		}
		double t3 = cpu_s();
		if (as4_wss_sign_signal(b->receiver, AS4_SIG_RSA_SHA256, receipt, &d) != AS4_OK) {
			die("receipt signature", &d);
		}
		double t4 = cpu_s();
		struct as4_buf xml;
		as4_buf_init(&xml, 64u << 20);
		if (as4_ebms3_serialize(receipt, &xml) != AS4_OK) {
			die("serialise", NULL);
		}
		if (i >= b->warmup) {
			double t5 = cpu_s();
			ph->cpu += t5 - t0;
			ph->wall += wall_s() - w0;
			ph->bytes += xml.len;
			st->parse += t1 - t0;
			st->open += t2 - t1;
			st->receipt += (t3 - t2) + (t5 - t4);
			st->sign += t4 - t3;
			probe(b, ph);
		}
		as4_buf_cleanup(&xml);
		xmlFreeDoc(receipt);
		as4_wss_open_result_cleanup(&res);
		xmlFreeDoc(doc);
		as4_mime_cleanup(&mime);
		as4_arena_free(arena);
	}
}

/* ---- report -------------------------------------------------------------------------------- */

static void report(const struct bench *b, const char *level, const struct phase *seal,
                   const struct phase *open)
{
	double n = (double)b->n;
	double seal_rate = n / seal->cpu;
	double open_rate = n / open->cpu;
	double seal_rsa = (double)seal->rsa_ops / seal->rsa_time;
	double open_rsa = (double)open->rsa_ops / open->rsa_time;
	printf("BENCH level=%s phase=seal size=%zu n=%zu msgs_per_s=%.0f mean_us=%.0f "
	       "bytes_out=%.0f rsa_ops_per_s=%.0f ceiling=%.0f of_ceiling=%.0f%% "
	       "wall_msgs_per_s=%.0f\n",
	       level, b->size, b->n, seal_rate, 1e6 / seal_rate, (double)seal->bytes / n, seal_rsa,
	       seal_rsa, 100.0 * seal_rate / seal_rsa, n / seal->wall);
	printf("BENCH level=%s phase=open size=%zu n=%zu msgs_per_s=%.0f mean_us=%.0f "
	       "receipt_bytes=%.0f rsa_ops_per_s=%.0f ceiling=%.0f of_ceiling=%.0f%% "
	       "(target >= 70%%) wall_msgs_per_s=%.0f\n",
	       level, b->size, b->n, open_rate, 1e6 / open_rate, (double)open->bytes / n, open_rsa,
	       open_rsa / 2, 100.0 * open_rate / (open_rsa / 2), n / open->wall);
}

int main(int argc, char **argv)
{
	struct bench b;
	memset(&b, 0, sizeof(b));
	b.n = 2000;
	b.size = 10240;
	b.warmup = 200;
	const char *file = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		uint64_t v = 0;
		if (strcmp(argv[i], "--payload") == 0) {
			file = argv[i + 1];
			continue;
		}
		if (as4_parse_size(argv[i + 1], &v) != AS4_OK ||
		    (v == 0 && strcmp(argv[i], "--warmup") != 0)) {
			fprintf(stderr, "bad value %s\n", argv[i + 1]);
			return 2;
		}
		if (strcmp(argv[i], "--n") == 0) {
			b.n = (size_t)v;
		} else if (strcmp(argv[i], "--size") == 0) {
			b.size = (size_t)v;
		} else if (strcmp(argv[i], "--warmup") == 0) {
			b.warmup = (size_t)v;
		} else {
			fprintf(stderr, "usage: bench_wss [--n N] [--size BYTES] [--warmup N] "
			                "[--payload FILE]\n");
			return 2;
		}
	}
	as4_xml_global_init();
	if (as4_wss_global_init() != AS4_OK) {
		die("init", NULL);
	}
	load_payload(&b, file);
	setup(&b);
	size_t total = b.n + b.warmup;
	struct sealed *msgs = calloc(total, sizeof(*msgs));
	if (msgs == NULL) {
		die("memory", NULL);
	}
	struct phase p_seal = {0};
	struct phase p_open = {0};
	struct phase w_seal = {0};
	struct phase w_open = {0};
	struct stages st = {0};
	pipeline_seal(&b, msgs, &p_seal);
	pipeline_open(&b, msgs, &p_open);
	for (size_t i = 0; i < total; i++) {
		free(msgs[i].body);
	}
	memset(msgs, 0, total * sizeof(*msgs));
	wss_seal(&b, msgs, &w_seal);
	wss_open(&b, msgs, &w_open, &st);

	double rsa = (double)b.probe.ops / b.probe.time;
	double n = (double)b.n;
	printf("BENCH rsa2048_private_ops_per_s=%.0f (%.0f us/op, CPU time, %zu ops between the "
	       "messages of all phases) payload=%s\n",
	       rsa, 1e6 / rsa, b.probe.ops, file != NULL ? file : "random");
	report(&b, "pipeline", &p_seal, &p_open);
	report(&b, "wss", &w_seal, &w_open);
	double wss_only = n / (st.open + st.sign);
	double w_open_rsa = (double)w_open.rsa_ops / w_open.rsa_time;
	printf("BENCH level=wss open_stages_us=parse:%.0f,decrypt+verify:%.0f,receipt_build:%.0f,"
	       "receipt_sign:%.0f (decrypt+verify+receipt_sign alone: %.0f%% of the ceiling)\n",
	       1e6 * st.parse / n, 1e6 * st.open / n, 1e6 * st.receipt / n, 1e6 * st.sign / n,
	       100.0 * wss_only / (w_open_rsa / 2));
	for (size_t i = 0; i < total; i++) {
		free(msgs[i].body);
	}
	free(msgs);
	free(b.payload);
	as4_pmode_set_free(b.pmodes);
	as4_deflater_free(b.deflater);
	as4_keystore_free(b.sender);
	as4_keystore_free(b.receiver);
	as4_wss_global_cleanup();
	as4_xml_global_cleanup();
	return 0;
}
