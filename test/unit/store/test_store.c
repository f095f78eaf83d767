/* SPDX-License-Identifier: Apache-2.0 */
/* The LMDB store on real files in a temporary directory: every API path, persistence, crash
 * recovery, group commit under threads, search paging, dedup pruning, map full, retention. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "../../../ap/store/store_int.h"
#include "as4/store.h"
#include "as4/str.h"
#include "as4/time.h"

static char tmp[256];

/* A fresh diagnostic for each call: the first failure recorded on a diag wins. */
#define D (as4_diag_init(&d), &d)

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	assert_int_equal(as4_str_copy(tmp, sizeof(tmp), "/tmp/as4-store-XXXXXX"), AS4_OK);
	assert_non_null(mkdtemp(tmp));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static struct as4_store *open_store(const struct as4_store_opts *o)
{
	struct as4_store *st = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_store_open(tmp, o, &st, D);
	if (err != AS4_OK) {
		fail_msg("open: %s", as4_diag_text(&d));
	}
	return st;
}

static char *sdup(const char *s)
{
	char *p = as4_str_dup(s);
	assert_non_null(p);
	return p;
}

/* A record with every caller field set; n payload descriptions. */
static void mkrec(struct as4_msgrec *r, enum as4_dir dir, const char *msgid, size_t n)
{
	as4_msgrec_init(r);
	r->dir = dir;
	r->message_id = sdup(msgid);
	r->pmode_id = sdup("medcom-fhir");
	r->from.type = sdup("urn:fdc:peppol.eu:2017:identifiers:ap");
	r->from.value = sdup("0088:5790000000001");
	r->from_role =
	        sdup("http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/initiator");
	r->to.type = sdup("urn:fdc:peppol.eu:2017:identifiers:ap");
	r->to.value = sdup("0088:5790000000002");
	r->to_role =
	        sdup("http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/responder");
	r->original_sender = sdup("0088:5790000000018");
	r->final_recipient = sdup("0088:5790000000025");
	r->service = sdup("urn:medcom:fhir");
	r->service_type = sdup("urn:fdc:peppol.eu:2017:identifiers:proc-id");
	r->action = sdup("HospitalNotification");
	r->agreement = sdup("urn:medcom:agreement");
	r->conversation_id = sdup("conv-1");
	r->ebms_timestamp_ms = 1700000000123;
	r->endpoint_url = sdup("https://ap2.example/as4");
	r->sbdh_instance_id = sdup("sbdh-1");
	r->medcom_message_id = sdup("medcom-1");
	r->n_props = 1;
	r->props = calloc(1, sizeof(*r->props));
	assert_non_null(r->props);
	r->props[0].name = sdup("originalSender");
	r->props[0].type = sdup("iso6523-actorid-upis");
	r->props[0].value = sdup("0088:5790000000018");
	if (n > 0) {
		r->n_payloads = n;
		r->payloads = calloc(n, sizeof(*r->payloads));
		assert_non_null(r->payloads);
		for (size_t i = 0; i < n; i++) {
			char cid[32];
			assert_int_equal(as4_str_fmt(cid, sizeof(cid), "part%zu@x", i), AS4_OK);
			r->payloads[i].content_id = sdup(cid);
			r->payloads[i].mime_type = sdup("application/fhir+xml");
			r->payloads[i].charset = sdup("UTF-8");
			r->payloads[i].compressed = true;
			r->payloads[i].n_props = 1;
			r->payloads[i].props = calloc(1, sizeof(*r->payloads[i].props));
			assert_non_null(r->payloads[i].props);
			r->payloads[i].props[0].name = sdup("MimeType");
			r->payloads[i].props[0].value = sdup("application/fhir+xml");
		}
	}
}

static void assert_file(struct as4_store *st, const char *name, const void *p, size_t n)
{
	struct as4_blob b;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_store_spool_open(st, name, &b, D), AS4_OK);
	assert_int_equal(b.len, n);
	if (n > 0) {
		assert_memory_equal(b.data, p, n);
	}
	as4_blob_cleanup(&b);
}

/* ---- states and codec ---- */

static void test_states(void **state)
{
	(void)state;
	for (unsigned s = AS4_ST_QUEUED; s < AS4_ST__COUNT; s++) {
		enum as4_msg_state back;
		assert_int_equal(
		        as4_msg_state_parse(as4_msg_state_text((enum as4_msg_state)s), &back),
		        AS4_OK);
		assert_int_equal(back, s);
		assert_true(as4_msg_state_dir((enum as4_msg_state)s) != AS4_DIR_NONE);
	}
	enum as4_msg_state s;
	assert_int_equal(as4_msg_state_parse("Queued", &s), AS4_E_INVAL);
	assert_int_equal(as4_msg_state_parse("none", &s), AS4_E_INVAL);
	assert_string_equal(as4_msg_state_text(AS4_ST_BACKEND_ACKED), "delivered-to-backend");
	assert_string_equal(as4_msg_state_text(AS4_ST_BACKEND_FAILED), "failed-to-backend");
	assert_string_equal(as4_msg_state_text((enum as4_msg_state)99), "?");
	enum as4_dir dir;
	assert_int_equal(as4_dir_parse("in", &dir), AS4_OK);
	assert_int_equal(dir, AS4_DIR_IN);
	assert_int_equal(as4_dir_parse("out", &dir), AS4_OK);
	assert_int_equal(dir, AS4_DIR_OUT);
	assert_int_equal(as4_dir_parse("IN", &dir), AS4_E_INVAL);
	assert_true(as4_msg_state_allowed(AS4_ST_QUEUED, AS4_ST_SENDING));
	assert_true(as4_msg_state_allowed(AS4_ST_FAILED, AS4_ST_QUEUED));
	assert_false(as4_msg_state_allowed(AS4_ST_DELIVERED, AS4_ST_SENDING));
	assert_false(as4_msg_state_allowed(AS4_ST_QUEUED, AS4_ST_RECEIVED));
	assert_false(as4_msg_state_allowed(AS4_ST_RECEIVED, AS4_ST_DELIVERED));
	assert_false(as4_msg_state_allowed(AS4_ST_BACKEND_ACKED, AS4_ST_BACKEND_ACKED));
	assert_false(as4_msg_state_allowed(AS4_ST_QUEUED, AS4_ST_NONE));
}

static void test_codec(void **state)
{
	(void)state;
	struct as4_msgrec r, back;
	mkrec(&r, AS4_DIR_OUT, "codec@x", 2);
	r.id = 42;
	r.state = AS4_ST_RETRYING;
	r.created_ms = 1700000000000;
	r.updated_ms = 1700000000500;
	r.ebms_timestamp_ms = -5; /* zigzag: negative times survive */
	r.attempts = 3;
	r.next_due_ms = 1700000060000;
	r.last_error_code = sdup("EBMS:0005");
	r.last_error_detail = sdup("connection refused");
	r.receiver_cert_pem =
	        sdup("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
	r.receipt_file = sdup("20240101/00112233445566778899aabbccddeeff");
	r.payloads[1].size = 12345;
	memset(r.payloads[1].sha256, 0xab, 32);
	r.n_signed_refs = 1;
	r.signed_refs = calloc(1, sizeof(*r.signed_refs));
	assert_non_null(r.signed_refs);
	r.signed_refs[0].uri = sdup("cid:part0@x");
	r.signed_refs[0].digest_method = sdup("http://www.w3.org/2001/04/xmlenc#sha256");
	r.signed_refs[0].digest_value = sdup("q83vEjRWeJA=");
	r.acked = false;
	r.n_events = 7;
	r.queued_ms = 1700000000999;
	r.receipt_info.known = true;
	r.receipt_info.readable = true;
	r.receipt_info.kind = AS4_STORE_SIGNAL_RECEIPT;
	r.receipt_info.message_id = sdup("rcpt@peer");
	r.receipt_info.timestamp_ms = 1700000001234;
	r.receipt_info.has_security = true;
	r.receipt_info.n_nri = 3;
	r.submitted_by = sdup("backend-a");

	/*
	 * Without the Receipt summary and the submitting token (a record of an older version)
	 * it reads as unknown / NULL.
	 */
	struct as4_buf b;
	as4_buf_init(&b, 1 << 20);
	r.receipt_info.known = false;
	char *by = r.submitted_by;
	r.submitted_by = NULL;
	assert_int_equal(store_rec_encode(&r, &b), AS4_OK);
	r.receipt_info.known = true;
	r.submitted_by = by;
	assert_int_equal(store_rec_decode(b.data, b.len, &back), AS4_OK);
	assert_false(back.receipt_info.known);
	assert_null(back.receipt_info.message_id);
	assert_null(back.submitted_by);
	assert_string_equal(back.message_id, "codec@x");
	as4_msgrec_cleanup(&back);
	as4_buf_cleanup(&b);

	as4_buf_init(&b, 1 << 20);
	assert_int_equal(store_rec_encode(&r, &b), AS4_OK);
	assert_int_equal(store_rec_decode(b.data, b.len, &back), AS4_OK);
	/* A second encoding of the decoded record is byte-identical: nothing was lost. */
	struct as4_buf b2;
	as4_buf_init(&b2, 1 << 20);
	assert_int_equal(store_rec_encode(&back, &b2), AS4_OK);
	assert_int_equal(b.len, b2.len);
	assert_memory_equal(b.data, b2.data, b.len);
	assert_string_equal(back.message_id, "codec@x");
	assert_int_equal(back.ebms_timestamp_ms, -5);
	assert_int_equal(back.payloads[1].size, 12345);
	assert_int_equal(back.payloads[1].sha256[31], 0xab);
	assert_true(back.payloads[0].compressed);
	assert_string_equal(back.signed_refs[0].digest_value, "q83vEjRWeJA=");
	assert_string_equal(back.props[0].type, "iso6523-actorid-upis");
	assert_int_equal(back.n_events, 7);
	assert_int_equal(back.queued_ms, 1700000000999);
	assert_string_equal(back.submitted_by, "backend-a");
	assert_true(back.receipt_info.known && back.receipt_info.readable);
	assert_int_equal(back.receipt_info.kind, AS4_STORE_SIGNAL_RECEIPT);
	assert_string_equal(back.receipt_info.message_id, "rcpt@peer");
	assert_null(back.receipt_info.ref_to_message_id);
	assert_int_equal(back.receipt_info.timestamp_ms, 1700000001234);
	assert_true(back.receipt_info.has_security);
	assert_int_equal(back.receipt_info.n_nri, 3);

	/* Deep copy equals the original. */
	struct as4_msgrec cp;
	assert_int_equal(as4_msgrec_copy(&cp, &r), AS4_OK);
	as4_buf_reset(&b2);
	assert_int_equal(store_rec_encode(&cp, &b2), AS4_OK);
	assert_int_equal(b.len, b2.len);
	assert_memory_equal(b.data, b2.data, b.len);
	as4_msgrec_cleanup(&cp);

	/* Every truncation is refused (or, at a field boundary, loses required fields). */
	for (size_t n = 0; n < b.len; n++) {
		struct as4_msgrec t;
		as4_err err = store_rec_decode(b.data, n, &t);
		if (err == AS4_OK) {
			as4_msgrec_cleanup(&t);
			continue;
		}
		assert_int_equal(err, AS4_E_CORRUPT);
	}
	/* A later version's unknown field (tag 900) is skipped. */
	struct as4_buf b3;
	as4_buf_init(&b3, 1 << 20);
	assert_int_equal(as4_buf_append(&b3, b.data, b.len), AS4_OK);
	const uint8_t extra[] = {0x84, 0x07, 0x03, 'a', 'b', 'c'};
	assert_int_equal(as4_buf_append(&b3, extra, sizeof(extra)), AS4_OK);
	struct as4_msgrec t;
	assert_int_equal(store_rec_decode(b3.data, b3.len, &t), AS4_OK);
	assert_string_equal(t.message_id, "codec@x");
	as4_msgrec_cleanup(&t);
	/* A newer record version or another magic is refused. */
	b3.data[1] = REC_VERSION + 1;
	assert_int_equal(store_rec_decode(b3.data, b3.len, &t), AS4_E_CORRUPT);
	b3.data[1] = REC_VERSION;
	b3.data[0] = 'X';
	assert_int_equal(store_rec_decode(b3.data, b3.len, &t), AS4_E_CORRUPT);
	/* Flipped bytes never crash and either decode or are refused as damage. */
	for (size_t i = 2; i < b.len; i += 3) {
		b.data[i] ^= 0x5a;
		as4_err err = store_rec_decode(b.data, b.len, &t);
		assert_true(err == AS4_OK || err == AS4_E_CORRUPT);
		if (err == AS4_OK) {
			as4_msgrec_cleanup(&t);
		}
		b.data[i] ^= 0x5a;
	}
	as4_buf_cleanup(&b);
	as4_buf_cleanup(&b2);
	as4_buf_cleanup(&b3);
	as4_msgrec_cleanup(&back);
	as4_msgrec_cleanup(&r);
}

static void test_helpers(void **state)
{
	(void)state;
	char g[14];
	assert_true(store_gln_of("0088:5790000000001", g));
	assert_string_equal(g, "5790000000001");
	assert_true(store_gln_of("5790000000001", g));
	assert_false(store_gln_of("0184:12345678", g));
	assert_false(store_gln_of("579000000000x", g));
	assert_false(store_gln_of(NULL, g));
	assert_true(store_spool_name_valid("20240131/00112233445566778899aabbccddeeff"));
	assert_false(store_spool_name_valid("20240131/../../../../etc/passwd0000000000"));
	assert_false(store_spool_name_valid("20240131/00112233445566778899AABBCCDDEEFF"));
	assert_false(store_spool_name_valid("2024013/00112233445566778899aabbccddeeff0"));
	assert_false(store_spool_name_valid(NULL));
	/* Long values get a bounded key that still tells them apart. */
	char a[600], b[600];
	memset(a, 'a', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(b, a, sizeof(a));
	b[500] = 'b';
	uint8_t ka[IKEY_LEN + 1], kb[IKEY_LEN + 1];
	assert_int_equal(store_ikey(a, ka), IKEY_LEN);
	assert_int_equal(store_ikey(b, kb), IKEY_LEN);
	assert_memory_not_equal(ka, kb, IKEY_LEN);
	assert_int_equal(store_ikey("short", ka), 5);
	assert_int_equal(store_err(MDB_MAP_FULL), AS4_E_SPACE);
	assert_int_equal(store_err(MDB_NOTFOUND), AS4_E_NOTFOUND);
	assert_int_equal(store_err(MDB_CORRUPTED), AS4_E_CORRUPT);
	assert_int_equal(store_err(MDB_READERS_FULL), AS4_E_BUSY);
	assert_int_equal(store_err(28 /* ENOSPC */), AS4_E_SPACE);
}

/* ---- inbound ---- */

/* A mapped blob backed by an unnamed file, as the HTTP layer's sinks produce. */
static void tmpfile_blob(struct as4_blob *b, const char *dir, size_t n)
{
	struct as4_sink s;
	as4_sink_init(&s, dir, 16, 1 << 24);
	uint8_t chunk[1000];
	for (size_t i = 0; i < sizeof(chunk); i++) {
		chunk[i] = (uint8_t)(i * 7);
	}
	for (size_t done = 0; done < n;) {
		size_t k = n - done < sizeof(chunk) ? n - done : sizeof(chunk);
		assert_int_equal(as4_sink_write(&s, chunk, k), AS4_OK);
		done += k;
	}
	assert_int_equal(as4_sink_finish(&s, b), AS4_OK);
	assert_int_equal(b->kind, AS4_BLOB_MAPPED);
}

static void test_inbound(void **state)
{
	(void)state;
	struct as4_store *st = open_store(NULL);
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_msgrec r;
	mkrec(&r, AS4_DIR_IN, "in-1@peer", 2);
	char spool[300];
	assert_int_equal(as4_str_fmt(spool, sizeof(spool), "%s/spool", tmp), AS4_OK);
	struct as4_blob pl[2], raw, rcpt;
	const char *small = "<Bundle>hello</Bundle>";
	as4_blob_borrow(&pl[0], small, strlen(small));
	tmpfile_blob(&pl[1], spool, 50000);
	as4_blob_borrow(&raw, "raw mime bytes", 14);
	as4_blob_borrow(&rcpt, "<eb:Receipt/>", 13);
	struct as4_store_put p = {
	        .payloads = pl, .raw = &raw, .receipt = &rcpt, .check_duplicate = true};
	uint64_t dup = 99;
	assert_int_equal(as4_store_put_inbound(st, &r, &p, &dup, D), AS4_OK);
	assert_int_equal(dup, 0);
	assert_true(r.id > 0);
	assert_int_equal(r.state, AS4_ST_RECEIVED);
	assert_true(r.created_ms > 0);
	assert_int_equal(r.n_events, 1);
	assert_non_null(r.payloads[0].file);
	assert_non_null(r.receipt_file);
	assert_non_null(r.raw_file);
	assert_int_equal(r.payloads[1].size, 50000);
	uint8_t md[32];
	SHA256(pl[1].data, pl[1].len, md);
	assert_memory_equal(r.payloads[1].sha256, md, 32);
	assert_file(st, r.payloads[0].file, small, strlen(small));
	assert_file(st, r.payloads[1].file, pl[1].data, pl[1].len);
	assert_file(st, r.receipt_file, "<eb:Receipt/>", 13);
	assert_file(st, r.raw_file, "raw mime bytes", 14);
	/* The unnamed file was linked, not copied: same inode. */
	char path[4200];
	assert_int_equal(as4_store_spool_path(st, r.payloads[1].file, path, sizeof(path), D),
	                 AS4_OK);
	struct stat s1, s2;
	assert_int_equal(stat(path, &s1), 0);
	assert_int_equal(fstat(pl[1].fd, &s2), 0);
	assert_int_equal(s1.st_ino, s2.st_ino);
	assert_int_equal(s1.st_mode & 0777, 0600);

	struct as4_msgrec g;
	assert_int_equal(as4_store_get(st, r.id, &g, D), AS4_OK);
	assert_string_equal(g.message_id, "in-1@peer");
	assert_string_equal(g.payloads[1].file, r.payloads[1].file);
	assert_string_equal(g.props[0].value, "0088:5790000000018");
	as4_msgrec_cleanup(&g);
	assert_int_equal(as4_store_get_by_msgid(st, AS4_DIR_IN, "in-1@peer", &g, D), AS4_OK);
	assert_int_equal(g.id, r.id);
	as4_msgrec_cleanup(&g);
	assert_int_equal(as4_store_get_by_msgid(st, AS4_DIR_OUT, "in-1@peer", &g, D),
	                 AS4_E_NOTFOUND);
	assert_int_equal(as4_store_get(st, 12345, &g, D), AS4_E_NOTFOUND);

	/* Duplicate: refused, pointing at the stored message, nothing written. */
	struct as4_msgrec r2;
	mkrec(&r2, AS4_DIR_IN, "in-1@peer", 1);
	as4_diag_init(&d);
	assert_int_equal(as4_store_put_inbound(st, &r2, &p, &dup, D), AS4_E_EXISTS);
	assert_int_equal(dup, r.id);
	assert_non_null(strstr(as4_diag_text(&d), "duplicate MessageId in-1@peer"));
	as4_msgrec_cleanup(&r2);
	struct as4_store_dedup dd;
	assert_int_equal(as4_store_dedup_lookup(st, "in-1@peer", &dd, D), AS4_OK);
	assert_int_equal(dd.id, r.id);
	assert_string_equal(dd.receipt_file, r.receipt_file);
	assert_int_equal(as4_store_dedup_lookup(st, "other@peer", &dd, D), AS4_E_NOTFOUND);

	/* Inbox and acknowledgement. */
	struct as4_msgrec *list = NULL;
	size_t n = 0;
	uint64_t next = 0;
	assert_int_equal(as4_store_inbox_list(st, 0, 10, &list, &n, &next, D), AS4_OK);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].id, r.id);
	assert_int_equal(next, 0);
	as4_msgrec_array_free(list, n);
	struct as4_store_update u = {.to = AS4_ST_BACKEND_FAILED,
	                             .reason = "push failed",
	                             .ebms_code = "EBMS:0202",
	                             .detail = "HTTP 503 from backend"};
	assert_int_equal(as4_store_transition(st, r.id, &u, D), AS4_OK);
	assert_int_equal(as4_store_inbox_list(st, 0, 10, &list, &n, &next, D), AS4_OK);
	assert_int_equal(n, 1); /* still waiting for the backend */
	as4_msgrec_array_free(list, n);
	assert_int_equal(as4_store_ack(st, r.id, "token:backend", D), AS4_OK);
	as4_diag_init(&d);
	assert_int_equal(as4_store_ack(st, r.id, "token:backend", D), AS4_E_STATE);
	assert_int_equal(as4_store_inbox_list(st, 0, 10, &list, &n, &next, D), AS4_OK);
	assert_int_equal(n, 0);
	assert_null(list);
	assert_int_equal(as4_store_get(st, r.id, &g, D), AS4_OK);
	assert_true(g.acked);
	assert_int_equal(g.state, AS4_ST_BACKEND_ACKED);
	assert_string_equal(g.last_error_code, "EBMS:0202");
	as4_msgrec_cleanup(&g);

	struct as4_store_event *ev = NULL;
	assert_int_equal(as4_store_events(st, r.id, &ev, &n, D), AS4_OK);
	assert_int_equal(n, 3);
	assert_int_equal(ev[0].from_state, AS4_ST_NONE);
	assert_int_equal(ev[0].to_state, AS4_ST_RECEIVED);
	assert_string_equal(ev[0].reason, "received");
	assert_int_equal(ev[1].to_state, AS4_ST_BACKEND_FAILED);
	assert_string_equal(ev[1].ebms_code, "EBMS:0202");
	assert_string_equal(ev[1].detail, "HTTP 503 from backend");
	assert_int_equal(ev[2].from_state, AS4_ST_BACKEND_FAILED);
	assert_string_equal(ev[2].reason, "acknowledged by token:backend");
	assert_int_equal(ev[2].seq, 2);
	assert_true(ev[2].time_ms >= ev[0].time_ms);
	as4_store_events_free(ev, n);
	assert_int_equal(as4_store_events(st, 999, &ev, &n, D), AS4_E_NOTFOUND);

	struct as4_store_stats s;
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	assert_int_equal(s.messages, 1);
	assert_int_equal(s.by_state[AS4_ST_BACKEND_ACKED], 1);
	assert_int_equal(s.by_state[AS4_ST_RECEIVED], 0);
	assert_int_equal(s.inbox, 0);
	assert_int_equal(s.dedup_entries, 1);
	assert_int_equal(s.spool_bytes, strlen(small) + 50000 + 14 + 13);
	assert_true(s.map_used > 0 && s.map_used <= s.map_size);
	assert_true(s.batches >= 1);

	as4_blob_cleanup(&pl[1]);
	as4_msgrec_cleanup(&r);
	as4_store_close(st);
}

/* ---- outbound ---- */

static uint64_t submit(struct as4_store *st, const char *msgid, const char *endpoint, int64_t due)
{
	struct as4_msgrec r;
	mkrec(&r, AS4_DIR_OUT, msgid, 1);
	if (endpoint != NULL) {
		assert_true(store_str_set(&r.endpoint_url, endpoint));
	}
	struct as4_blob pl;
	as4_blob_borrow(&pl, "payload", 7);
	struct as4_store_put p = {.payloads = &pl, .due_ms = due};
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_store_submit(st, &r, &p, D);
	if (err != AS4_OK) {
		fail_msg("submit %s: %s", msgid, as4_diag_text(&d));
	}
	uint64_t id = r.id;
	as4_msgrec_cleanup(&r);
	return id;
}

static void test_outbound(void **state)
{
	(void)state;
	struct as4_store *st = open_store(NULL);
	struct as4_diag d;
	as4_diag_init(&d);
	int64_t now = as4_time_now_ms();
	uint64_t a = submit(st, "out-a@me", NULL, 0);
	uint64_t b = submit(st, "out-b@me", NULL, now + 3600000);
	assert_true(b > a);

	/* Same outbound MessageId again: refused. */
	struct as4_msgrec r;
	mkrec(&r, AS4_DIR_OUT, "out-a@me", 0);
	struct as4_store_put p = {0};
	assert_int_equal(as4_store_submit(st, &r, &p, D), AS4_E_EXISTS);
	as4_msgrec_cleanup(&r);

	struct as4_store_stats s;
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	assert_int_equal(s.by_state[AS4_ST_QUEUED], 2);
	assert_true(s.oldest_queued_ms > 0 && s.oldest_queued_ms <= as4_time_now_ms());

	/* Only a is due now. */
	struct as4_msgrec *got = NULL;
	size_t n = 0;
	assert_int_equal(as4_store_claim_due(st, as4_time_now_ms(), 10, &got, &n, D), AS4_OK);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].id, a);
	assert_int_equal(got[0].state, AS4_ST_SENDING);
	assert_int_equal(got[0].attempts, 1);
	as4_msgrec_array_free(got, n);
	/* Claimed once only. */
	assert_int_equal(as4_store_claim_due(st, as4_time_now_ms(), 10, &got, &n, D), AS4_OK);
	assert_int_equal(n, 0);
	assert_null(got);

	/* Attempt failed: retry later; then the due time passes. */
	struct as4_store_update u = {.to = AS4_ST_RETRYING,
	                             .reason = "no receipt",
	                             .ebms_code = "EBMS:0005",
	                             .detail = "connection refused",
	                             .next_due_ms = now + 1000,
	                             .endpoint_url = "https://new.example/as4"};
	assert_int_equal(as4_store_transition(st, a, &u, D), AS4_OK);
	assert_int_equal(as4_store_claim_due(st, now + 999, 10, &got, &n, D), AS4_OK);
	assert_int_equal(n, 0);
	assert_int_equal(as4_store_claim_due(st, now + 1000, 10, &got, &n, D), AS4_OK);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].attempts, 2);
	assert_string_equal(got[0].endpoint_url, "https://new.example/as4");
	as4_msgrec_array_free(got, n);

	/* Delivered with the receipt, raw message and signed references. */
	struct as4_blob rcpt, raw;
	as4_blob_borrow(&rcpt, "<Receipt/>", 10);
	as4_blob_borrow(&raw, "signed", 6);
	struct as4_store_sigref ref = {"cid:part0@x", "http://www.w3.org/2001/04/xmlenc#sha256",
	                               "AAAA"};
	struct as4_store_update del = {.to = AS4_ST_DELIVERED,
	                               .reason = "receipt verified",
	                               .receipt = &rcpt,
	                               .raw = &raw,
	                               .signed_refs = &ref,
	                               .n_signed_refs = 1,
	                               .expect = 1u << AS4_ST_SENDING};
	assert_int_equal(as4_store_transition(st, a, &del, D), AS4_OK);
	struct as4_msgrec g;
	assert_int_equal(as4_store_get(st, a, &g, D), AS4_OK);
	assert_int_equal(g.state, AS4_ST_DELIVERED);
	assert_int_equal(g.next_due_ms, 0);
	assert_int_equal(g.n_signed_refs, 1);
	assert_string_equal(g.signed_refs[0].uri, "cid:part0@x");
	assert_file(st, g.receipt_file, "<Receipt/>", 10);
	assert_file(st, g.raw_file, "signed", 6);
	as4_msgrec_cleanup(&g);

	/* The state machine refuses what it must. */
	as4_diag_init(&d);
	struct as4_store_update bad = {.to = AS4_ST_SENDING, .reason = "again"};
	assert_int_equal(as4_store_transition(st, a, &bad, D), AS4_E_STATE);
	assert_non_null(strstr(as4_diag_text(&d), "cannot go from delivered to sending"));
	as4_diag_init(&d);
	struct as4_store_update wrong = {
	        .to = AS4_ST_FAILED, .reason = "x", .expect = 1u << AS4_ST_SENDING};
	assert_int_equal(as4_store_transition(st, b, &wrong, D), AS4_E_STATE);
	struct as4_store_update inb = {.to = AS4_ST_RECEIVED, .reason = "x"};
	assert_int_equal(as4_store_transition(st, b, &inb, D), AS4_E_STATE);
	struct as4_store_update noreason = {.to = AS4_ST_FAILED};
	assert_int_equal(as4_store_transition(st, b, &noreason, D), AS4_E_INVAL);
	struct as4_store_update nostate = {.reason = "x"};
	assert_int_equal(as4_store_transition(st, b, &nostate, D), AS4_E_INVAL);
	struct as4_store_update missing = {.to = AS4_ST_FAILED, .reason = "x"};
	assert_int_equal(as4_store_transition(st, 4242, &missing, D), AS4_E_NOTFOUND);
	assert_int_equal(as4_store_ack(st, b, NULL, D), AS4_E_STATE);

	/* An admin fails b, then retries it: back in the queue with a fresh series of attempts. */
	struct as4_msgrec before;
	assert_int_equal(as4_store_get(st, b, &before, D), AS4_OK);
	assert_true(before.queued_ms > 0 && before.queued_ms <= as4_time_now_ms());
	struct as4_store_update fail = {.to = AS4_ST_FAILED, .reason = "cancelled by admin"};
	assert_int_equal(as4_store_transition(st, b, &fail, D), AS4_OK);
	assert_int_equal(as4_store_claim_due(st, now + 7200000, 10, &got, &n, D), AS4_OK);
	assert_int_equal(n, 0);
	struct as4_store_update retry = {.to = AS4_ST_QUEUED, .reason = "retry by admin"};
	assert_int_equal(as4_store_transition(st, b, &retry, D), AS4_OK);
	assert_int_equal(as4_store_claim_due(st, as4_time_now_ms() + 10, 10, &got, &n, D), AS4_OK);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].id, b);
	assert_int_equal(got[0].attempts, 1);
	assert_true(got[0].queued_ms >= before.queued_ms);
	as4_msgrec_array_free(got, n);
	as4_msgrec_cleanup(&before);
	/* That attempt fails for good and the admin retries once more: counting starts over. */
	struct as4_store_update fail2 = {
	        .to = AS4_ST_FAILED, .reason = "no receipt", .expect = 1u << AS4_ST_SENDING};
	assert_int_equal(as4_store_transition(st, b, &fail2, D), AS4_OK);
	assert_int_equal(as4_store_transition(st, b, &retry, D), AS4_OK);
	assert_int_equal(as4_store_claim_due(st, as4_time_now_ms() + 10, 10, &got, &n, D), AS4_OK);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].attempts, 1);
	as4_msgrec_array_free(got, n);

	assert_int_equal(as4_store_claim_due(st, now, 0, &got, &n, D), AS4_E_INVAL);
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	assert_int_equal(s.by_state[AS4_ST_DELIVERED], 1);
	assert_int_equal(s.by_state[AS4_ST_SENDING], 1);
	assert_int_equal(s.by_state[AS4_ST_QUEUED], 0);

	/* A Receipt stored with its summary keeps it until a Receipt replaces it without one. */
	struct as4_store_receipt_info ri = {.known = true,
	                                    .readable = true,
	                                    .kind = AS4_STORE_SIGNAL_ERROR,
	                                    .message_id = (char *)(uintptr_t) "sig@peer",
	                                    .ref_to_message_id = (char *)(uintptr_t) "out-b@me",
	                                    .timestamp_ms = 1700000000042,
	                                    .n_nri = 0};
	struct as4_store_update r1 = {
	        .to = AS4_ST_RETRYING, .reason = "r1", .receipt = &rcpt, .receipt_info = &ri};
	ri.kind = (enum as4_store_signal_kind)7;
	assert_int_equal(as4_store_transition(st, b, &r1, D), AS4_E_INVAL);
	ri.kind = AS4_STORE_SIGNAL_ERROR;
	assert_int_equal(as4_store_transition(st, b, &r1, D), AS4_OK);
	assert_int_equal(as4_store_get(st, b, &g, D), AS4_OK);
	assert_true(g.receipt_info.known && g.receipt_info.readable);
	assert_int_equal(g.receipt_info.kind, AS4_STORE_SIGNAL_ERROR);
	assert_string_equal(g.receipt_info.message_id, "sig@peer");
	assert_string_equal(g.receipt_info.ref_to_message_id, "out-b@me");
	assert_int_equal(g.receipt_info.timestamp_ms, 1700000000042);
	assert_false(g.receipt_info.has_security);
	as4_msgrec_cleanup(&g);
	struct as4_store_update r2 = {.to = AS4_ST_RETRYING, .reason = "r2"};
	assert_int_equal(as4_store_transition(st, b, &r2, D), AS4_OK);
	assert_int_equal(as4_store_get(st, b, &g, D), AS4_OK);
	assert_true(g.receipt_info.known);
	as4_msgrec_cleanup(&g);
	struct as4_store_update r3 = {.to = AS4_ST_RETRYING, .reason = "r3", .receipt = &raw};
	assert_int_equal(as4_store_transition(st, b, &r3, D), AS4_OK);
	assert_int_equal(as4_store_get(st, b, &g, D), AS4_OK);
	assert_false(g.receipt_info.known);
	assert_null(g.receipt_info.message_id);
	assert_file(st, g.receipt_file, "signed", 6);
	as4_msgrec_cleanup(&g);
	/* A put keeps the summary of its Receipt, and none without a Receipt. */
	struct as4_msgrec in;
	mkrec(&in, AS4_DIR_IN, "in-ri@peer", 0);
	struct as4_store_put ip = {.receipt = &rcpt, .receipt_info = &ri};
	assert_int_equal(as4_store_put_inbound(st, &in, &ip, NULL, D), AS4_OK);
	assert_int_equal(as4_store_get(st, in.id, &g, D), AS4_OK);
	assert_true(g.receipt_info.known);
	assert_string_equal(g.receipt_info.message_id, "sig@peer");
	as4_msgrec_cleanup(&g);
	as4_msgrec_cleanup(&in);
	mkrec(&in, AS4_DIR_IN, "in-ri2@peer", 0);
	ip.receipt = NULL;
	assert_int_equal(as4_store_put_inbound(st, &in, &ip, NULL, D), AS4_OK);
	assert_int_equal(as4_store_get(st, in.id, &g, D), AS4_OK);
	assert_false(g.receipt_info.known);
	assert_null(g.receipt_file);
	as4_msgrec_cleanup(&g);
	as4_msgrec_cleanup(&in);
	as4_store_close(st);
}

static void test_persistence_and_recovery(void **state)
{
	(void)state;
	struct as4_store *st = open_store(NULL);
	struct as4_diag d;
	as4_diag_init(&d);
	uint64_t a = submit(st, "p-a@me", NULL, 0);
	uint64_t b = submit(st, "p-b@me", NULL, 0);
	struct as4_msgrec *got = NULL;
	size_t n = 0;
	assert_int_equal(as4_store_claim_due(st, as4_time_now_ms(), 1, &got, &n, D), AS4_OK);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].id, a);
	as4_msgrec_array_free(got, n);
	assert_int_equal(as4_store_audit_append(st, "admin", "pmode.reload", NULL, NULL, D),
	                 AS4_OK);
	/* a is left in "sending", as a crash during the HTTP POST would leave it. */
	as4_store_close(st);

	st = open_store(NULL);
	struct as4_store_stats s;
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	assert_int_equal(s.recovered_at_open, 1);
	assert_int_equal(s.by_state[AS4_ST_SENDING], 0);
	assert_int_equal(s.by_state[AS4_ST_RETRYING], 1);
	assert_int_equal(s.by_state[AS4_ST_QUEUED], 1);
	struct as4_msgrec g;
	assert_int_equal(as4_store_get(st, a, &g, D), AS4_OK);
	assert_int_equal(g.state, AS4_ST_RETRYING);
	assert_int_equal(g.attempts, 1);
	as4_msgrec_cleanup(&g);
	struct as4_store_event *ev = NULL;
	assert_int_equal(as4_store_events(st, a, &ev, &n, D), AS4_OK);
	assert_int_equal(n, 3);
	assert_string_equal(ev[2].reason, "send interrupted by a restart");
	assert_int_equal(ev[2].from_state, AS4_ST_SENDING);
	as4_store_events_free(ev, n);
	/* Both are due again; ids continue after a restart. */
	assert_int_equal(as4_store_claim_due(st, as4_time_now_ms(), 10, &got, &n, D), AS4_OK);
	assert_int_equal(n, 2);
	as4_msgrec_array_free(got, n);
	uint64_t c = submit(st, "p-c@me", NULL, 0);
	assert_true(c > b);
	struct as4_store_audit *au = NULL;
	assert_int_equal(as4_store_audit_list(st, 0, 10, &au, &n, D), AS4_OK);
	assert_int_equal(n, 1);
	assert_string_equal(au[0].what, "pmode.reload");
	as4_store_audit_free(au, n);
	as4_store_close(st);

	/* A newer on-disk format is refused rather than misread. */
	MDB_env *env = NULL;
	char envdir[300];
	assert_int_equal(as4_str_fmt(envdir, sizeof(envdir), "%s/store", tmp), AS4_OK);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_set_mapsize(env, 32ull << 30), 0);
	assert_int_equal(mdb_env_open(env, envdir, 0, 0600), 0);
	MDB_txn *txn;
	MDB_dbi dbi;
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	uint8_t v[4] = {0, 0, 0, 99};
	MDB_val key = {6, (void *)(uintptr_t) "format"}, val = {4, v};
	assert_int_equal(mdb_put(txn, dbi, &key, &val, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	as4_diag_init(&d);
	assert_int_equal(as4_store_open(tmp, NULL, &st, D), AS4_E_CORRUPT);
	assert_non_null(strstr(as4_diag_text(&d), "newer"));
	assert_null(st);
}

/* ---- group commit ---- */

struct worker {
	struct as4_store *st;
	int idx;
	uint64_t ids[500];
	size_t n;
	as4_err err;
};

static void *put_worker(void *arg)
{
	struct worker *w = arg;
	for (size_t i = 0; i < AS4_ARRAY_LEN(w->ids); i++) {
		char id[64];
		if (as4_str_fmt(id, sizeof(id), "t%d-%zu@x", w->idx, i) != AS4_OK) {
			w->err = AS4_E_INTERNAL;
			break;
		}
		struct as4_msgrec r;
		mkrec(&r, i % 2 == 0 ? AS4_DIR_OUT : AS4_DIR_IN, id, 1);
		struct as4_blob pl;
		uint8_t body[1024];
		memset(body, w->idx, sizeof(body));
		as4_blob_borrow(&pl, body, sizeof(body));
		struct as4_store_put p = {.payloads = &pl, .check_duplicate = true};
		struct as4_diag d;
		as4_diag_init(&d);
		as4_err err = r.dir == AS4_DIR_OUT ? as4_store_submit(w->st, &r, &p, D)
		                                   : as4_store_put_inbound(w->st, &r, &p, NULL, D);
		if (err != AS4_OK) {
			w->err = err;
			as4_msgrec_cleanup(&r);
			break;
		}
		w->ids[w->n++] = r.id;
		as4_msgrec_cleanup(&r);
	}
	return NULL;
}

/* Every other put repeats the MessageId of the one before (inbound: a duplicate). */
static void *dup_worker(void *arg)
{
	struct worker *w = arg;
	for (size_t i = 0; i < 200; i++) {
		char id[64];
		if (as4_str_fmt(id, sizeof(id), "d%d-%zu@x", w->idx, i / 2) != AS4_OK) {
			w->err = AS4_E_INTERNAL;
			break;
		}
		struct as4_msgrec r;
		mkrec(&r, AS4_DIR_IN, id, 1);
		struct as4_blob pl, rc;
		uint8_t body[600];
		memset(body, w->idx, sizeof(body));
		as4_blob_borrow(&pl, body, sizeof(body));
		as4_blob_borrow(&rc, "<Receipt/>", 10);
		struct as4_store_put p = {.payloads = &pl, .receipt = &rc, .check_duplicate = true};
		struct as4_diag d;
		as4_diag_init(&d);
		as4_err err = as4_store_put_inbound(w->st, &r, &p, NULL, D);
		if (err != (i % 2 == 0 ? AS4_OK : AS4_E_EXISTS)) {
			w->err = err == AS4_OK ? AS4_E_INTERNAL : err;
			as4_msgrec_cleanup(&r);
			break;
		}
		if (err == AS4_OK) {
			w->ids[w->n++] = r.id;
		}
		as4_msgrec_cleanup(&r);
	}
	return NULL;
}

/* Refused operations in the same batches as accepted ones leave nothing behind. */
static void test_group_commit_with_failures(void **state)
{
	(void)state;
	struct as4_store *st = open_store(NULL);
	struct worker w[6];
	pthread_t th[6];
	for (int i = 0; i < 6; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].st = st;
		w[i].idx = i;
		assert_int_equal(pthread_create(&th[i], NULL, dup_worker, &w[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
	}
	for (int i = 0; i < 6; i++) {
		assert_int_equal(w[i].err, AS4_OK);
		assert_int_equal(w[i].n, 100);
	}
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_store_stats s;
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	assert_int_equal(s.messages, 600);
	assert_int_equal(s.by_state[AS4_ST_RECEIVED], 600);
	assert_int_equal(s.inbox, 600);
	assert_int_equal(s.spool_bytes, 600u * (600u + 10u));
	for (int i = 0; i < 6; i++) {
		for (size_t k = 0; k < w[i].n; k += 9) {
			struct as4_msgrec g;
			assert_int_equal(as4_store_get(st, w[i].ids[k], &g, D), AS4_OK);
			assert_int_equal(g.n_events, 1);
			assert_file(st, g.receipt_file, "<Receipt/>", 10);
			as4_msgrec_cleanup(&g);
		}
	}
	print_message("with failures: %llu ops in %llu batches\n",
	              (unsigned long long)s.batched_ops, (unsigned long long)s.batches);
	as4_store_close(st);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_group_commit(void **state)
{
	(void)state;
	struct as4_store *st = open_store(NULL);
	struct worker w[8];
	pthread_t th[8];
	for (int i = 0; i < 8; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].st = st;
		w[i].idx = i;
		assert_int_equal(pthread_create(&th[i], NULL, put_worker, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
	}
	uint64_t *all = calloc(4000, sizeof(*all));
	assert_non_null(all);
	size_t n = 0;
	for (int i = 0; i < 8; i++) {
		assert_int_equal(w[i].err, AS4_OK);
		assert_int_equal(w[i].n, 500);
		memcpy(all + n, w[i].ids, w[i].n * sizeof(*all));
		n += w[i].n;
	}
	qsort(all, n, sizeof(*all), cmp_u64);
	for (size_t i = 1; i < n; i++) {
		assert_true(all[i] != all[i - 1]);
	}
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_store_stats s;
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	assert_int_equal(s.messages, 4000);
	assert_int_equal(s.by_state[AS4_ST_QUEUED], 2000);
	assert_int_equal(s.by_state[AS4_ST_RECEIVED], 2000);
	assert_int_equal(s.inbox, 2000);
	assert_int_equal(s.spool_bytes, 4000u * 1024u);
	/* Group commit: fewer transactions than operations. */
	assert_true(s.batches < s.batched_ops);
	print_message("group commit: %llu ops in %llu batches\n", (unsigned long long)s.batched_ops,
	              (unsigned long long)s.batches);
	as4_store_close(st);

	/* Everything is there after a reopen, and each record's payload file is its own. */
	st = open_store(NULL);
	for (size_t i = 0; i < n; i += 97) {
		struct as4_msgrec g;
		assert_int_equal(as4_store_get(st, all[i], &g, D), AS4_OK);
		struct as4_blob b;
		assert_int_equal(as4_store_spool_open(st, g.payloads[0].file, &b, D), AS4_OK);
		assert_int_equal(b.len, 1024);
		char want = (char)(g.message_id[1] - '0');
		assert_int_equal(b.data[0], want);
		as4_blob_cleanup(&b);
		as4_msgrec_cleanup(&g);
	}
	free(all);
	as4_store_close(st);
}

struct async_ctx {
	pthread_mutex_t mu;
	int done;
	int ok;
};

static void async_cb(void *ctx, as4_err err, const struct as4_diag *d)
{
	struct async_ctx *a = ctx;
	(void)d;
	pthread_mutex_lock(&a->mu);
	a->done++;
	a->ok += err == AS4_OK;
	pthread_mutex_unlock(&a->mu);
}

static void test_async(void **state)
{
	(void)state;
	struct as4_store *st = open_store(NULL);
	struct async_ctx a = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct as4_msgrec r[20];
	struct as4_store_put p = {.check_duplicate = true};
	struct as4_diag d;
	as4_diag_init(&d);
	for (int i = 0; i < 20; i++) {
		char id[32];
		assert_int_equal(as4_str_fmt(id, sizeof(id), "async-%d@x", i % 10), AS4_OK);
		mkrec(&r[i], AS4_DIR_IN, id, 0);
		assert_int_equal(as4_store_put_async(st, &r[i], &p, NULL, async_cb, &a, D), AS4_OK);
	}
	assert_int_equal(as4_store_put_async(st, &r[0], &p, NULL, NULL, NULL, D), AS4_E_INVAL);
	as4_store_close(st); /* flushes the writer: every callback has run */
	assert_int_equal(a.done, 20);
	assert_int_equal(a.ok, 10); /* the second copy of each MessageId is a duplicate */
	for (int i = 0; i < 20; i++) {
		as4_msgrec_cleanup(&r[i]);
	}
}

/* ---- search ---- */

static const char *const services[3] = {"svc-a", "svc-b", "svc-c"};
static const char *const actions[4] = {"act-1", "act-2", "act-3", "act-4"};

static void mk_search_rec(struct as4_msgrec *r, int i)
{
	char id[32], conv[32], party[32], sbdh[32];
	assert_int_equal(as4_str_fmt(id, sizeof(id), "s-%d@x", i), AS4_OK);
	assert_int_equal(as4_str_fmt(conv, sizeof(conv), "conv-%d", i / 10), AS4_OK);
	assert_int_equal(as4_str_fmt(party, sizeof(party), "0088:57900000%05d", i % 7), AS4_OK);
	assert_int_equal(as4_str_fmt(sbdh, sizeof(sbdh), "sbdh-%d", i), AS4_OK);
	mkrec(r, i % 3 == 0 ? AS4_DIR_IN : AS4_DIR_OUT, id, 0);
	assert_true(store_str_set(&r->service, services[i % 3]));
	assert_true(store_str_set(&r->action, actions[i % 4]));
	assert_true(store_str_set(&r->conversation_id, conv));
	assert_true(store_str_set(&r->to.value, party));
	assert_true(store_str_set(&r->sbdh_instance_id, sbdh));
}

#define NSEARCH 240

/* All stored ids matching f, newest first, by brute force over the ids. */
static size_t expected(struct as4_store *st, const uint64_t *ids, const struct as4_store_filter *f,
                       uint64_t *out)
{
	size_t n = 0;
	struct as4_diag d;
	for (int i = NSEARCH - 1; i >= 0; i--) {
		struct as4_msgrec g;
		assert_int_equal(as4_store_get(st, ids[i], &g, D), AS4_OK);
		bool ok =
		        (f->dir == AS4_DIR_NONE || g.dir == f->dir) &&
		        (f->state == AS4_ST_NONE || g.state == f->state) &&
		        (f->service == NULL || strcmp(f->service, g.service) == 0) &&
		        (f->action == NULL || strcmp(f->action, g.action) == 0) &&
		        (f->to_party == NULL || strcmp(f->to_party, g.to.value) == 0) &&
		        (f->conversation_id == NULL ||
		         strcmp(f->conversation_id, g.conversation_id) == 0) &&
		        (f->ebms_error == NULL || (g.last_error_code != NULL &&
		                                   strcmp(f->ebms_error, g.last_error_code) == 0));
		if (f->gln != NULL) {
			char a[14], b[14], c[14], e[14];
			bool ga = store_gln_of(g.from.value, a) && strcmp(a, f->gln) == 0;
			bool gb = store_gln_of(g.to.value, b) && strcmp(b, f->gln) == 0;
			bool gc = store_gln_of(g.original_sender, c) && strcmp(c, f->gln) == 0;
			bool ge = store_gln_of(g.final_recipient, e) && strcmp(e, f->gln) == 0;
			ok = ok && (ga || gb || gc || ge);
		}
		if (ok) {
			out[n++] = ids[i];
		}
		as4_msgrec_cleanup(&g);
	}
	return n;
}

/* Page through f with page size limit and compare with the brute-force answer. */
static void check_paging(struct as4_store *st, const uint64_t *ids,
                         const struct as4_store_filter *f, size_t limit)
{
	uint64_t want[NSEARCH];
	size_t nw = expected(st, ids, f, want);
	char cursor[AS4_STORE_CURSOR_MAX] = "";
	size_t got = 0, pages = 0;
	struct as4_diag d;
	as4_diag_init(&d);
	do {
		struct as4_msgrec *recs = NULL;
		size_t n = 0;
		char next[AS4_STORE_CURSOR_MAX];
		as4_err err = as4_store_search(st, f, cursor, limit, &recs, &n, next, D);
		if (err != AS4_OK) {
			fail_msg("search: %s", as4_diag_text(&d));
		}
		assert_true(n <= limit);
		for (size_t i = 0; i < n; i++) {
			assert_true(got < nw);
			assert_int_equal(recs[i].id, want[got]);
			got++;
		}
		as4_msgrec_array_free(recs, n);
		memcpy(cursor, next, sizeof(cursor));
		assert_true(++pages < 1000);
	} while (cursor[0] != '\0');
	assert_int_equal(got, nw);
}

static void test_search(void **state)
{
	(void)state;
	struct as4_store_opts o = {.search_scan_max = 50};
	struct as4_store *st = open_store(&o);
	struct as4_diag d;
	as4_diag_init(&d);
	uint64_t ids[NSEARCH];
	for (int i = 0; i < NSEARCH; i++) {
		struct as4_msgrec r;
		mk_search_rec(&r, i);
		struct as4_store_put p = {0};
		as4_err err = r.dir == AS4_DIR_IN ? as4_store_put_inbound(st, &r, &p, NULL, D)
		                                  : as4_store_submit(st, &r, &p, D);
		assert_int_equal(err, AS4_OK);
		ids[i] = r.id;
		as4_msgrec_cleanup(&r);
	}
	/* Some failures with an ebMS code. */
	for (int i = 1; i < NSEARCH; i += 11) {
		struct as4_msgrec g;
		assert_int_equal(as4_store_get(st, ids[i], &g, D), AS4_OK);
		if (g.dir == AS4_DIR_OUT) {
			struct as4_store_update u = {
			        .to = AS4_ST_FAILED, .reason = "gave up", .ebms_code = "EBMS:0301"};
			assert_int_equal(as4_store_transition(st, ids[i], &u, D), AS4_OK);
		}
		as4_msgrec_cleanup(&g);
	}
	struct as4_store_filter all = {0};
	check_paging(st, ids, &all, 7);
	check_paging(st, ids, &all, 1000);
	struct as4_store_filter f1 = {.service = "svc-b", .action = "act-2"};
	check_paging(st, ids, &f1, 3);
	struct as4_store_filter f2 = {.dir = AS4_DIR_OUT, .state = AS4_ST_QUEUED};
	check_paging(st, ids, &f2, 25);
	struct as4_store_filter f3 = {.to_party = "0088:5790000000003", .dir = AS4_DIR_IN};
	check_paging(st, ids, &f3, 4);
	struct as4_store_filter f4 = {.ebms_error = "EBMS:0301"};
	check_paging(st, ids, &f4, 2);
	struct as4_store_filter f5 = {.gln = "5790000000004"};
	check_paging(st, ids, &f5, 9);
	struct as4_store_filter f6 = {.conversation_id = "conv-3", .service = "svc-a"};
	check_paging(st, ids, &f6, 1);
	struct as4_store_filter f7 = {.service = "nothing"};
	check_paging(st, ids, &f7, 10);

	/* A single-record lookup by SBDH id and by MessageId. */
	struct as4_msgrec *recs = NULL;
	size_t n = 0;
	char next[AS4_STORE_CURSOR_MAX];
	struct as4_store_filter f8 = {.sbdh_instance_id = "sbdh-17"};
	assert_int_equal(as4_store_search(st, &f8, NULL, 10, &recs, &n, next, D), AS4_OK);
	assert_int_equal(n, 1);
	assert_int_equal(recs[0].id, ids[17]);
	assert_string_equal(next, "");
	as4_msgrec_array_free(recs, n);
	struct as4_store_filter f9 = {.message_id = "s-18@x", .party = "0088:5790000000001"};
	assert_int_equal(as4_store_search(st, &f9, NULL, 10, &recs, &n, next, D), AS4_OK);
	assert_int_equal(n, 1);
	as4_msgrec_array_free(recs, n);

	/* A time window: the created time of one record selects it and the older ones. */
	struct as4_msgrec g;
	assert_int_equal(as4_store_get(st, ids[100], &g, D), AS4_OK);
	struct as4_store_filter f10 = {.created_to_ms = g.created_ms + 1};
	assert_int_equal(as4_store_search(st, &f10, NULL, 1, &recs, &n, next, D), AS4_OK);
	assert_int_equal(n, 1);
	assert_true(recs[0].created_ms <= g.created_ms);
	as4_msgrec_array_free(recs, n);
	struct as4_store_filter f11 = {.created_from_ms = g.created_ms + 1000000};
	assert_int_equal(as4_store_search(st, &f11, NULL, 10, &recs, &n, next, D), AS4_OK);
	assert_int_equal(n, 0);
	as4_msgrec_cleanup(&g);

	/* Bad input. */
	assert_int_equal(as4_store_search(st, &all, "c1zz", 10, &recs, &n, next, D), AS4_E_INVAL);
	assert_int_equal(as4_store_search(st, &all, "c1ffffffffffffffff0000000000000000", 10, &recs,
	                                  &n, next, D),
	                 AS4_E_INVAL);
	assert_int_equal(as4_store_search(st, &all, NULL, 0, &recs, &n, next, D), AS4_E_INVAL);
	assert_int_equal(as4_store_search(st, &all, NULL, 1001, &recs, &n, next, D), AS4_E_INVAL);
	struct as4_store_filter badgln = {.gln = "12345"};
	assert_int_equal(as4_store_search(st, &badgln, NULL, 10, &recs, &n, next, D), AS4_E_INVAL);
	as4_store_close(st);
}

/* ---- duplicate window, backoff, retention, map full ---- */

static void test_dedup_prune(void **state)
{
	(void)state;
	struct as4_store *st = open_store(NULL);
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_store_put p = {.check_duplicate = true};
	for (int i = 0; i < 5; i++) {
		char id[32];
		assert_int_equal(as4_str_fmt(id, sizeof(id), "dd-%d@x", i), AS4_OK);
		struct as4_msgrec r;
		mkrec(&r, AS4_DIR_IN, id, 0);
		assert_int_equal(as4_store_put_inbound(st, &r, &p, NULL, D), AS4_OK);
		as4_msgrec_cleanup(&r);
	}
	struct as4_store_dedup dd;
	assert_int_equal(as4_store_dedup_lookup(st, "dd-3@x", &dd, D), AS4_OK);
	size_t n = 99;
	/* Nothing is older than the window yet. */
	assert_int_equal(as4_store_dedup_prune_window(st, as4_time_now_ms(), 0, &n, D), AS4_OK);
	assert_int_equal(n, 0);
	/* Pruning in bounded steps. */
	int64_t later = as4_time_now_ms() + 1;
	assert_int_equal(as4_store_dedup_prune(st, later, 2, &n, D), AS4_OK);
	assert_int_equal(n, 2);
	assert_int_equal(as4_store_dedup_prune(st, later, 0, &n, D), AS4_OK);
	assert_int_equal(n, 3);
	assert_int_equal(as4_store_dedup_lookup(st, "dd-3@x", &dd, D), AS4_E_NOTFOUND);
	struct as4_store_stats s;
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	assert_int_equal(s.dedup_entries, 0);
	assert_int_equal(s.messages, 5); /* messages stay */
	/* Outside the window the same MessageId is accepted again. */
	struct as4_msgrec r;
	mkrec(&r, AS4_DIR_IN, "dd-3@x", 0);
	assert_int_equal(as4_store_put_inbound(st, &r, &p, NULL, D), AS4_OK);
	as4_msgrec_cleanup(&r);
	assert_int_equal(as4_store_dedup_lookup(st, "dd-3@x", &dd, D), AS4_OK);
	/* Without the check a copy is stored and becomes the window's entry. */
	struct as4_store_put nocheck = {0};
	mkrec(&r, AS4_DIR_IN, "dd-3@x", 0);
	assert_int_equal(as4_store_put_inbound(st, &r, &nocheck, NULL, D), AS4_OK);
	assert_int_equal(as4_store_dedup_lookup(st, "dd-3@x", &dd, D), AS4_OK);
	assert_int_equal(dd.id, r.id);
	as4_msgrec_cleanup(&r);
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	assert_int_equal(s.dedup_entries, 1);
	assert_int_equal(as4_store_dedup_prune(st, as4_time_now_ms() + 1, 0, &n, D), AS4_OK);
	assert_int_equal(n, 1);
	as4_store_close(st);
}

static void test_backoff(void **state)
{
	(void)state;
	struct as4_store *st = open_store(NULL);
	struct as4_diag d;
	as4_diag_init(&d);
	/* Ten messages for a down peer first in the queue, then two for a healthy one. */
	for (int i = 0; i < 10; i++) {
		char id[32];
		assert_int_equal(as4_str_fmt(id, sizeof(id), "down-%d@x", i), AS4_OK);
		submit(st, id, "https://down.example/as4", 0);
	}
	uint64_t ok1 = submit(st, "up-1@x", "https://up.example/as4", 0);
	uint64_t ok2 = submit(st, "up-2@x", "https://up.example/as4", 0);
	int64_t now = as4_time_now_ms();
	assert_int_equal(as4_store_peer_backoff(st, "https://down.example/as4", now + 60000, D),
	                 AS4_OK);
	int64_t until = 0;
	assert_int_equal(as4_store_peer_backoff_get(st, "https://down.example/as4", &until, D),
	                 AS4_OK);
	assert_int_equal(until, now + 60000);
	struct as4_msgrec *got = NULL;
	size_t n = 0;
	assert_int_equal(as4_store_claim_due(st, now + 10, 5, &got, &n, D), AS4_OK);
	assert_int_equal(n, 2);
	assert_int_equal(got[0].id, ok1);
	assert_int_equal(got[1].id, ok2);
	assert_string_equal(as4_msgrec_peer_key(&got[0]), "https://up.example/as4");
	as4_msgrec_array_free(got, n);
	/* After the backoff the down peer's messages come, oldest first. */
	assert_int_equal(as4_store_claim_due(st, now + 60001, 3, &got, &n, D), AS4_OK);
	assert_int_equal(n, 3);
	assert_string_equal(got[0].message_id, "down-0@x");
	as4_msgrec_array_free(got, n);
	/* Clearing the backoff. */
	assert_int_equal(as4_store_peer_backoff(st, "https://down.example/as4", 0, D), AS4_OK);
	assert_int_equal(as4_store_peer_backoff_get(st, "https://down.example/as4", &until, D),
	                 AS4_OK);
	assert_int_equal(until, 0);
	assert_int_equal(as4_store_peer_backoff(st, "", now, D), AS4_E_INVAL);
	as4_store_close(st);
}

static void test_retention_and_gc(void **state)
{
	(void)state;
	struct as4_store *st = open_store(NULL);
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_msgrec r;
	mkrec(&r, AS4_DIR_IN, "old@x", 2);
	struct as4_blob pl[2], raw, rcpt;
	as4_blob_borrow(&pl[0], "one", 3);
	as4_blob_borrow(&pl[1], "two", 3);
	as4_blob_borrow(&raw, "raw", 3);
	as4_blob_borrow(&rcpt, "receipt", 7);
	struct as4_store_put p = {.payloads = pl, .raw = &raw, .receipt = &rcpt};
	assert_int_equal(as4_store_put_inbound(st, &r, &p, NULL, D), AS4_OK);
	assert_int_equal(as4_store_ack(st, r.id, "backend", D), AS4_OK);
	uint64_t queued = submit(st, "queued@x", NULL, 0);
	char p0[4200], p1[4200], rawp[4200];
	assert_int_equal(as4_store_spool_path(st, r.payloads[0].file, p0, sizeof(p0), D), AS4_OK);
	assert_int_equal(as4_store_spool_path(st, r.payloads[1].file, p1, sizeof(p1), D), AS4_OK);
	assert_int_equal(as4_store_spool_path(st, r.raw_file, rawp, sizeof(rawp), D), AS4_OK);

	/* Selection errors. */
	struct as4_store_purge bad = {.dir = AS4_DIR_IN, .states = 1u << AS4_ST_DELIVERED};
	assert_int_equal(as4_store_purge_payloads(st, &bad, NULL, D), AS4_E_INVAL);
	struct as4_store_purge none = {.dir = AS4_DIR_IN};
	assert_int_equal(as4_store_purge_payloads(st, &none, NULL, D), AS4_E_INVAL);

	/* Nothing older than the cutoff yet. */
	size_t n = 9;
	struct as4_store_purge sel = {
	        .dir = AS4_DIR_IN, .states = 1u << AS4_ST_BACKEND_ACKED, .before_ms = r.created_ms};
	assert_int_equal(as4_store_purge_payloads(st, &sel, &n, D), AS4_OK);
	assert_int_equal(n, 0);
	sel.before_ms = as4_time_now_ms() + 1;
	assert_int_equal(as4_store_purge_payloads(st, &sel, &n, D), AS4_OK);
	assert_int_equal(n, 1);
	assert_int_equal(access(p0, F_OK), -1);
	assert_int_equal(access(p1, F_OK), -1);
	assert_int_equal(access(rawp, F_OK), 0); /* evidence kept */
	struct as4_msgrec g;
	assert_int_equal(as4_store_get(st, r.id, &g, D), AS4_OK);
	assert_null(g.payloads[0].file);
	assert_int_equal(g.payloads[0].size, 3);
	assert_true(g.purged_ms > 0);
	assert_file(st, g.receipt_file, "receipt", 7);
	struct as4_blob b;
	assert_int_equal(as4_store_spool_open(st, g.payloads[0].file, &b, D), AS4_E_NOTFOUND);
	as4_msgrec_cleanup(&g);
	/* Purged once only; the queued outbound message is untouched. */
	assert_int_equal(as4_store_purge_payloads(st, &sel, &n, D), AS4_OK);
	assert_int_equal(n, 0);
	struct as4_store_purge outsel = {.dir = AS4_DIR_OUT,
	                                 .states = 1u << AS4_ST_DELIVERED,
	                                 .before_ms = as4_time_now_ms() + 1,
	                                 .raw_too = true};
	assert_int_equal(as4_store_purge_payloads(st, &outsel, &n, D), AS4_OK);
	assert_int_equal(n, 0);
	assert_int_equal(as4_store_get(st, queued, &g, D), AS4_OK);
	assert_non_null(g.payloads[0].file);
	as4_msgrec_cleanup(&g);
	struct as4_store_stats s;
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	assert_int_equal(s.spool_bytes, 3 + 7 + 7); /* raw + receipt + queued payload */

	/* GC: an orphan older than the minimum age goes; young and referenced files stay. */
	char orphan[4200], young[4200];
	char day[9];
	memcpy(day, r.raw_file, 8);
	day[8] = '\0';
	assert_int_equal(as4_str_fmt(orphan, sizeof(orphan), "%s/spool/%s/%s", tmp, day,
	                             "0123456789abcdef0123456789abcdef"),
	                 AS4_OK);
	assert_int_equal(as4_str_fmt(young, sizeof(young), "%s/spool/%s/%s", tmp, day,
	                             "fedcba9876543210fedcba9876543210"),
	                 AS4_OK);
	assert_int_equal(as4_file_write_atomic(orphan, "x", 1, 0600), AS4_OK);
	assert_int_equal(as4_file_write_atomic(young, "y", 1, 0600), AS4_OK);
	struct timespec ts[2] = {{.tv_sec = time(NULL) - 7200}, {.tv_sec = time(NULL) - 7200}};
	assert_int_equal(utimensat(AT_FDCWD, orphan, ts, 0), 0);
	struct timespec old_ts[2] = {{.tv_sec = time(NULL) - 7200}, {.tv_sec = time(NULL) - 7200}};
	assert_int_equal(utimensat(AT_FDCWD, rawp, old_ts, 0), 0);
	assert_int_equal(as4_store_spool_gc(st, 3600 * 1000, &n, D), AS4_OK);
	assert_int_equal(n, 1);
	assert_int_equal(access(orphan, F_OK), -1);
	assert_int_equal(access(young, F_OK), 0);
	assert_int_equal(access(rawp, F_OK), 0);
	assert_int_equal(as4_store_spool_gc(st, -1, &n, D), AS4_E_INVAL);

	/* A damaged name in a record can never reach outside the spool. */
	char out[4200];
	assert_int_equal(as4_store_spool_path(st, "../../etc/passwd", out, sizeof(out), D),
	                 AS4_E_CORRUPT);
	as4_msgrec_cleanup(&r);
	as4_store_close(st);
}

static void test_delete_payloads_and_pmode_counts(void **state)
{
	(void)state;
	struct as4_store *st = open_store(NULL);
	struct as4_diag d;
	as4_diag_init(&d);
	uint64_t a = submit(st, "del-a@x", NULL, 0);
	uint64_t b = submit(st, "del-b@x", NULL, 0);
	struct as4_msgrec r;
	mkrec(&r, AS4_DIR_IN, "del-in@x", 2);
	assert_true(store_str_set(&r.pmode_id, "other-pmode"));
	struct as4_blob pl[2], raw, rcpt;
	as4_blob_borrow(&pl[0], "one", 3);
	as4_blob_borrow(&pl[1], "two", 3);
	as4_blob_borrow(&raw, "raw", 3);
	as4_blob_borrow(&rcpt, "receipt", 7);
	struct as4_store_put p = {.payloads = pl, .raw = &raw, .receipt = &rcpt};
	assert_int_equal(as4_store_put_inbound(st, &r, &p, NULL, D), AS4_OK);

	/* Counts per PMode follow every change, ordered by PMode then state. */
	struct as4_store_pmode_count *c = NULL;
	size_t n = 0;
	assert_int_equal(as4_store_pmode_counts(st, &c, &n, D), AS4_OK);
	assert_int_equal(n, 2);
	assert_string_equal(c[0].pmode, "medcom-fhir");
	assert_int_equal(c[0].state, AS4_ST_QUEUED);
	assert_int_equal(c[0].count, 2);
	assert_string_equal(c[1].pmode, "other-pmode");
	assert_int_equal(c[1].state, AS4_ST_RECEIVED);
	assert_int_equal(c[1].count, 1);
	as4_store_pmode_counts_free(c, n);
	struct as4_store_update u = {.to = AS4_ST_FAILED, .reason = "test"};
	assert_int_equal(as4_store_transition(st, b, &u, D), AS4_OK);
	assert_int_equal(as4_store_pmode_counts(st, &c, &n, D), AS4_OK);
	assert_int_equal(n, 3);
	assert_int_equal(c[0].state, AS4_ST_QUEUED);
	assert_int_equal(c[0].count, 1);
	assert_int_equal(c[1].state, AS4_ST_FAILED);
	assert_int_equal(c[1].count, 1);
	as4_store_pmode_counts_free(c, n);

	/* Refused in a state the caller excludes; nothing changes. */
	char p0[4200], rawp[4200];
	assert_int_equal(as4_store_spool_path(st, r.payloads[0].file, p0, sizeof(p0), D), AS4_OK);
	assert_int_equal(as4_store_spool_path(st, r.raw_file, rawp, sizeof(rawp), D), AS4_OK);
	size_t files = 9;
	assert_int_equal(as4_store_delete_payloads(st, r.id, 1u << AS4_ST_BACKEND_ACKED, "by admin",
	                                           &files, D),
	                 AS4_E_STATE);
	assert_int_equal(files, 0);
	assert_int_equal(access(p0, F_OK), 0);
	assert_int_equal(as4_store_delete_payloads(st, r.id, 0, NULL, &files, D), AS4_E_INVAL);
	assert_int_equal(as4_store_delete_payloads(st, 999999, 0, "x", &files, D), AS4_E_NOTFOUND);

	/* Deleted: files gone after the commit, evidence and metadata kept, one event logged. */
	assert_int_equal(
	        as4_store_delete_payloads(st, r.id, 0, "payloads deleted by admin", &files, D),
	        AS4_OK);
	assert_int_equal(files, 2);
	assert_int_equal(access(p0, F_OK), -1);
	assert_int_equal(access(rawp, F_OK), 0);
	struct as4_msgrec g;
	assert_int_equal(as4_store_get(st, r.id, &g, D), AS4_OK);
	assert_null(g.payloads[0].file);
	assert_null(g.payloads[1].file);
	assert_int_equal(g.payloads[1].size, 3);
	assert_true(g.purged_ms > 0);
	assert_int_equal(g.state, AS4_ST_RECEIVED);
	assert_non_null(g.receipt_file);
	assert_file(st, g.raw_file, "raw", 3);
	struct as4_store_event *ev = NULL;
	size_t n_ev = 0;
	assert_int_equal(as4_store_events(st, r.id, &ev, &n_ev, D), AS4_OK);
	assert_string_equal(ev[n_ev - 1].reason, "payloads deleted by admin");
	as4_store_events_free(ev, n_ev);
	uint32_t events = g.n_events;
	as4_msgrec_cleanup(&g);
	/* A second deletion finds nothing and logs nothing. */
	assert_int_equal(as4_store_delete_payloads(st, r.id, 0, "again", &files, D), AS4_OK);
	assert_int_equal(files, 0);
	assert_int_equal(as4_store_get(st, r.id, &g, D), AS4_OK);
	assert_int_equal(g.n_events, events);
	as4_msgrec_cleanup(&g);
	struct as4_store_stats s;
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	assert_int_equal(s.spool_bytes, 3 + 7 + 7 + 7); /* raw, receipt, two queued payloads */

	/* The counters survive a restart. */
	as4_store_close(st);
	st = open_store(NULL);
	assert_int_equal(as4_store_pmode_counts(st, &c, &n, D), AS4_OK);
	assert_int_equal(n, 3);
	assert_string_equal(c[2].pmode, "other-pmode");
	as4_store_pmode_counts_free(c, n);
	(void)a;
	as4_msgrec_cleanup(&r);
	as4_store_close(st);
}

static void test_map_full(void **state)
{
	(void)state;
	struct as4_store_opts o = {.map_size = 512 * 1024, .sync = AS4_STORE_SYNC_NONE};
	struct as4_store *st = open_store(&o);
	struct as4_diag d;
	as4_diag_init(&d);
	char big[3000];
	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	int stored = 0;
	as4_err err = AS4_OK;
	for (int i = 0; i < 10000 && err == AS4_OK; i++) {
		char id[32];
		assert_int_equal(as4_str_fmt(id, sizeof(id), "full-%d@x", i), AS4_OK);
		struct as4_msgrec r;
		mkrec(&r, AS4_DIR_OUT, id, 0);
		assert_true(store_str_set(&r.receiver_cert_pem, big));
		struct as4_store_put p = {0};
		as4_diag_init(&d);
		err = as4_store_submit(st, &r, &p, D);
		stored += err == AS4_OK;
		as4_msgrec_cleanup(&r);
	}
	assert_int_equal(err, AS4_E_SPACE);
	assert_non_null(strstr(as4_diag_text(&d), "MDB_MAP_FULL"));
	assert_true(stored > 10);
	/* Reads still work, and so does a small write that fits in freed pages or fails cleanly. */
	struct as4_store_stats s;
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	assert_int_equal(s.messages, (uint64_t)stored);
	struct as4_msgrec g;
	assert_int_equal(as4_store_get_by_msgid(st, AS4_DIR_OUT, "full-0@x", &g, D), AS4_OK);
	as4_msgrec_cleanup(&g);
	/* Space returns: the map is enlarged, and writes succeed again. */
	assert_int_equal(as4_store_grow(st, 256 * 1024, D), AS4_E_INVAL);
	assert_int_equal(as4_store_grow(st, 8 * 1024 * 1024, D), AS4_OK);
	uint64_t id = submit(st, "after-grow@x", NULL, 0);
	assert_true(id > 0);
	assert_int_equal(as4_store_get(st, id, &g, D), AS4_OK);
	as4_msgrec_cleanup(&g);
	as4_store_close(st);

	/* With map_max the writer grows the map by itself. */
	struct as4_store_opts auto_o = {
	        .map_size = 512 * 1024, .map_max = 64 * 1024 * 1024, .sync = AS4_STORE_SYNC_NONE};
	st = open_store(&auto_o);
	for (int i = 0; i < 600; i++) {
		char mid[32];
		assert_int_equal(as4_str_fmt(mid, sizeof(mid), "auto-%d@x", i), AS4_OK);
		struct as4_msgrec r;
		mkrec(&r, AS4_DIR_OUT, mid, 0);
		assert_true(store_str_set(&r.receiver_cert_pem, big));
		struct as4_store_put p = {0};
		err = as4_store_submit(st, &r, &p, D);
		if (err != AS4_OK) {
			fail_msg("auto-grow submit %d: %s", i, as4_diag_text(&d));
		}
		as4_msgrec_cleanup(&r);
	}
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	assert_true(s.map_size > 512 * 1024);
	as4_store_close(st);
}

/* The notification outbox: with a state change or alone, in order, durable, removed once. */
static void test_notes(void **state)
{
	(void)state;
	struct as4_store *st = open_store(NULL);
	struct as4_diag d;
	as4_diag_init(&d);
	uint64_t a = submit(st, "note-a@me", NULL, 0);
	struct as4_msgrec *got = NULL;
	size_t n = 0;
	assert_int_equal(as4_store_claim_due(st, as4_time_now_ms(), 10, &got, &n, D), AS4_OK);
	assert_int_equal(n, 1);
	as4_msgrec_array_free(got, n);
	/* A refused change queues nothing; an accepted one queues its document with it. */
	struct as4_store_update u = {.to = AS4_ST_DELIVERED,
	                             .reason = "receipt verified",
	                             .expect = 1u << AS4_ST_QUEUED,
	                             .notify = "{\"state\":\"delivered\"}"};
	assert_int_equal(as4_store_transition(st, a, &u, D), AS4_E_STATE);
	struct as4_store_note *notes = NULL;
	assert_int_equal(as4_store_note_list(st, 0, 10, &notes, &n, D), AS4_OK);
	assert_int_equal(n, 0);
	assert_null(notes);
	u.expect = 1u << AS4_ST_SENDING;
	assert_int_equal(as4_store_transition(st, a, &u, D), AS4_OK);
	uint64_t seq = 0;
	assert_int_equal(as4_store_note_add(st, 0, "{\"error\":\"EBMS:0303\"}", &seq, D), AS4_OK);
	assert_int_equal(seq, 2);
	assert_int_equal(as4_store_note_add(st, 0, "", NULL, D), AS4_E_INVAL);
	char *huge = malloc(AS4_STORE_NOTE_MAX + 2);
	assert_non_null(huge);
	memset(huge, 'x', AS4_STORE_NOTE_MAX + 1);
	huge[AS4_STORE_NOTE_MAX + 1] = '\0';
	assert_int_equal(as4_store_note_add(st, 0, huge, NULL, D), AS4_E_LIMIT);
	u.notify = huge;
	assert_int_equal(as4_store_transition(st, a, &u, D), AS4_E_LIMIT);
	free(huge);
	as4_store_close(st);

	/* Durable across a reopen, in order. */
	st = open_store(NULL);
	assert_int_equal(as4_store_note_list(st, 0, 10, &notes, &n, D), AS4_OK);
	assert_int_equal(n, 2);
	assert_int_equal(notes[0].seq, 1);
	assert_int_equal(notes[0].msg_id, a);
	assert_string_equal(notes[0].doc, "{\"state\":\"delivered\"}");
	assert_true(notes[0].time_ms > 0);
	assert_int_equal(notes[1].seq, 2);
	assert_int_equal(notes[1].msg_id, 0);
	as4_store_notes_free(notes, n);
	struct as4_store_stats s;
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	assert_int_equal(s.notes, 2);
	/* Paging, removal, and removing twice. */
	assert_int_equal(as4_store_note_list(st, 1, 10, &notes, &n, D), AS4_OK);
	assert_int_equal(n, 1);
	assert_int_equal(notes[0].seq, 2);
	as4_store_notes_free(notes, n);
	assert_int_equal(as4_store_note_done(st, 1, D), AS4_OK);
	assert_int_equal(as4_store_note_done(st, 1, D), AS4_E_NOTFOUND);
	assert_int_equal(as4_store_note_list(st, 0, 10, &notes, &n, D), AS4_OK);
	assert_int_equal(n, 1);
	assert_int_equal(notes[0].seq, 2);
	as4_store_notes_free(notes, n);
	assert_int_equal(as4_store_note_done(st, 2, D), AS4_OK);
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	assert_int_equal(s.notes, 0);
	/* Sequence numbers are never reused. */
	assert_int_equal(as4_store_note_add(st, a, "{}", &seq, D), AS4_OK);
	assert_int_equal(seq, 3);
	assert_int_equal(as4_store_note_list(st, 0, 0, &notes, &n, D), AS4_E_INVAL);
	assert_int_equal(as4_store_note_list(st, UINT64_MAX, 5, &notes, &n, D), AS4_OK);
	assert_int_equal(n, 0);
	as4_store_close(st);
}

/* Blobs up to opts.inline_max live inside the environment: no file, same API. */
static void test_inline_blobs(void **state)
{
	(void)state;
	struct as4_store_opts o = {.inline_max = 4096};
	struct as4_store *st = open_store(&o);
	struct as4_diag d;
	as4_diag_init(&d);
	uint8_t *big = malloc(8192);
	assert_non_null(big);
	memset(big, 'B', 8192);
	struct as4_msgrec r;
	mkrec(&r, AS4_DIR_IN, "inline@x", 2);
	struct as4_blob pl[2], raw, rcpt;
	as4_blob_borrow(&pl[0], "small payload", 13);
	as4_blob_borrow(&pl[1], big, 8192);
	as4_blob_borrow(&raw, "<raw/>", 6);
	as4_blob_borrow(&rcpt, "<Receipt/>", 10);
	struct as4_store_put p = {
	        .payloads = pl, .raw = &raw, .receipt = &rcpt, .check_duplicate = true};
	assert_int_equal(as4_store_put_inbound(st, &r, &p, NULL, D), AS4_OK);
	uint64_t id = r.id;
	assert_true(store_spool_name_inline(r.payloads[0].file));
	assert_false(store_spool_name_inline(r.payloads[1].file));
	assert_true(store_spool_name_inline(r.raw_file));
	assert_true(store_spool_name_inline(r.receipt_file));
	uint8_t md[32];
	SHA256((const unsigned char *)"small payload", 13, md);
	assert_memory_equal(r.payloads[0].sha256, md, 32);
	assert_int_equal(r.payloads[0].size, 13);
	/* no directory of the pseudo-day was made for them */
	char path[4200];
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s/spool/" SPOOL_INLINE_DAY, tmp),
	                 AS4_OK);
	struct stat sb;
	assert_int_not_equal(stat(path, &sb), 0);
	as4_msgrec_cleanup(&r);

	/* A duplicate writes nothing, inline or not. */
	mkrec(&r, AS4_DIR_IN, "inline@x", 1);
	struct as4_store_put p1 = {.payloads = pl, .check_duplicate = true};
	assert_int_equal(as4_store_put_inbound(st, &r, &p1, NULL, D), AS4_E_EXISTS);
	as4_msgrec_cleanup(&r);
	as4_store_close(st);

	/* Durable with the record: read back after a reopen, by open and by path. */
	st = open_store(&o);
	struct as4_msgrec g;
	assert_int_equal(as4_store_get(st, id, &g, D), AS4_OK);
	assert_file(st, g.payloads[0].file, "small payload", 13);
	assert_file(st, g.payloads[1].file, big, 8192);
	assert_file(st, g.raw_file, "<raw/>", 6);
	assert_file(st, g.receipt_file, "<Receipt/>", 10);
	assert_int_equal(as4_store_spool_path(st, g.receipt_file, path, sizeof(path), D), AS4_OK);
	uint8_t *text = NULL;
	size_t len = 0;
	assert_int_equal(as4_file_read(path, 1024, &text, &len), AS4_OK);
	assert_int_equal(len, 10);
	assert_memory_equal(text, "<Receipt/>", 10);
	free(text);
	/* the copy on disk is not an orphan while the blob exists */
	size_t gone = 0;
	assert_int_equal(as4_store_spool_gc(st, 0, &gone, D), AS4_OK);
	assert_int_equal(gone, 0);
	assert_int_equal(stat(path, &sb), 0);
	struct as4_store_stats s;
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	assert_int_equal(s.spool_bytes, 13 + 8192 + 6 + 10);

	/* Retention removes inline payloads (and the raw message) like files. */
	char inline_pl[SPOOL_NAME_CAP], inline_raw[SPOOL_NAME_CAP];
	assert_int_equal(as4_str_copy(inline_pl, sizeof(inline_pl), g.payloads[0].file), AS4_OK);
	assert_int_equal(as4_str_copy(inline_raw, sizeof(inline_raw), g.raw_file), AS4_OK);
	as4_msgrec_cleanup(&g);
	char pl_copy[4200];
	assert_int_equal(as4_store_spool_path(st, inline_pl, pl_copy, sizeof(pl_copy), D), AS4_OK);
	assert_int_equal(stat(pl_copy, &sb), 0);
	assert_int_equal(as4_store_ack(st, id, "test", D), AS4_OK);
	struct as4_store_purge sel = {.dir = AS4_DIR_IN,
	                              .states = 1u << AS4_ST_BACKEND_ACKED,
	                              .before_ms = as4_time_now_ms() + 1000,
	                              .raw_too = true};
	size_t n = 0;
	assert_int_equal(as4_store_purge_payloads(st, &sel, &n, D), AS4_OK);
	assert_int_equal(n, 1);
	struct as4_blob b;
	assert_int_equal(as4_store_spool_open(st, inline_pl, &b, D), AS4_E_NOTFOUND);
	assert_int_equal(as4_store_spool_open(st, inline_raw, &b, D), AS4_E_NOTFOUND);
	assert_int_equal(as4_store_get(st, id, &g, D), AS4_OK);
	assert_null(g.payloads[0].file);
	assert_file(st, g.receipt_file, "<Receipt/>", 10); /* evidence is kept */
	as4_msgrec_cleanup(&g);
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	assert_int_equal(s.spool_bytes, 10);

	/* The purged blob's copy on disk went with it, and it has no path any more. */
	assert_int_not_equal(stat(pl_copy, &sb), 0);
	assert_int_equal(as4_store_spool_path(st, inline_pl, path, sizeof(path), D),
	                 AS4_E_NOTFOUND);
	free(big);
	as4_store_close(st);
}

/* Retention of records: final messages go with everything they own, the rest stays. */
static void test_purge_records(void **state)
{
	(void)state;
	struct as4_store_opts o = {.inline_max = 16};
	struct as4_store *st = open_store(&o);
	struct as4_diag d;
	as4_diag_init(&d);
	/* inbound, acknowledged (final); inbound still in the inbox */
	struct as4_msgrec r;
	struct as4_blob pl, raw, rcpt;
	as4_blob_borrow(&pl, "a payload larger than inline", 28);
	as4_blob_borrow(&raw, "<raw/>", 6);
	as4_blob_borrow(&rcpt, "<Receipt/>", 10);
	struct as4_store_put p = {
	        .payloads = &pl, .raw = &raw, .receipt = &rcpt, .check_duplicate = true};
	mkrec(&r, AS4_DIR_IN, "old-in@x", 1);
	assert_int_equal(as4_store_put_inbound(st, &r, &p, NULL, D), AS4_OK);
	uint64_t in_done = r.id;
	char pl_path[4200];
	assert_int_equal(as4_store_spool_path(st, r.payloads[0].file, pl_path, sizeof(pl_path), D),
	                 AS4_OK);
	as4_msgrec_cleanup(&r);
	assert_int_equal(as4_store_ack(st, in_done, "test", D), AS4_OK);
	mkrec(&r, AS4_DIR_IN, "old-in-waiting@x", 1);
	assert_int_equal(as4_store_put_inbound(st, &r, &p, NULL, D), AS4_OK);
	uint64_t in_wait = r.id;
	as4_msgrec_cleanup(&r);
	/* outbound delivered (final) and outbound queued */
	uint64_t out_done = submit(st, "old-out@x", NULL, 0);
	uint64_t out_wait = submit(st, "old-out-waiting@x", NULL, as4_time_now_ms() + 3600000);
	struct as4_msgrec *got = NULL;
	size_t n = 0;
	assert_int_equal(as4_store_claim_due(st, as4_time_now_ms(), 10, &got, &n, D), AS4_OK);
	assert_int_equal(n, 1);
	as4_msgrec_array_free(got, n);
	struct as4_store_update del = {.to = AS4_ST_DELIVERED, .reason = "receipt verified"};
	assert_int_equal(as4_store_transition(st, out_done, &del, D), AS4_OK);
	struct as4_store_stats s;
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	uint64_t spool_before = s.spool_bytes;

	/* nothing is old enough yet */
	assert_int_equal(as4_store_purge_records(st, as4_time_now_ms() - 3600000, 0, &n, D),
	                 AS4_OK);
	assert_int_equal(n, 0);
	assert_int_equal(as4_store_purge_records(st, as4_time_now_ms() + 1000, 0, &n, D), AS4_OK);
	assert_int_equal(n, 2);
	struct as4_msgrec g;
	assert_int_equal(as4_store_get(st, in_done, &g, D), AS4_E_NOTFOUND);
	assert_int_equal(as4_store_get(st, out_done, &g, D), AS4_E_NOTFOUND);
	struct as4_store_event *ev = NULL;
	assert_int_equal(as4_store_events(st, in_done, &ev, &n, D), AS4_E_NOTFOUND);
	struct as4_store_dedup dup;
	assert_int_equal(as4_store_dedup_lookup(st, "old-in@x", &dup, D), AS4_E_NOTFOUND);
	assert_int_equal(as4_store_dedup_lookup(st, "old-in-waiting@x", &dup, D), AS4_OK);
	struct stat sb;
	assert_int_not_equal(stat(pl_path, &sb), 0); /* its payload file is gone */
	/* the others are untouched */
	assert_int_equal(as4_store_get(st, in_wait, &g, D), AS4_OK);
	assert_int_equal(g.state, AS4_ST_RECEIVED);
	assert_file(st, g.payloads[0].file, "a payload larger than inline", 28);
	as4_msgrec_cleanup(&g);
	assert_int_equal(as4_store_get(st, out_wait, &g, D), AS4_OK);
	assert_int_equal(g.state, AS4_ST_QUEUED);
	as4_msgrec_cleanup(&g);
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	assert_int_equal(s.messages, 2);
	assert_int_equal(s.by_state[AS4_ST_DELIVERED], 0);
	assert_int_equal(s.by_state[AS4_ST_BACKEND_ACKED], 0);
	assert_int_equal(s.dedup_entries, 1);
	assert_true(s.spool_bytes < spool_before);
	struct as4_store_filter f = {.dir = AS4_DIR_OUT};
	char next[AS4_STORE_CURSOR_MAX];
	assert_int_equal(as4_store_search(st, &f, NULL, 10, &got, &n, next, D), AS4_OK);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].id, out_wait);
	as4_msgrec_array_free(got, n);
	as4_store_close(st);
}

/* A submission committed already claimed: one commit, sending at once, recovered like others. */
static void test_claim_at_submit(void **state)
{
	(void)state;
	struct as4_store *st = open_store(NULL);
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_msgrec r;
	mkrec(&r, AS4_DIR_OUT, "claimed@me", 1);
	struct as4_blob pl;
	as4_blob_borrow(&pl, "payload", 7);
	struct as4_store_put p = {.payloads = &pl, .claim = true};
	assert_int_equal(as4_store_submit(st, &r, &p, D), AS4_OK);
	assert_int_equal(r.state, AS4_ST_SENDING);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(r.next_due_ms, 0);
	uint64_t id = r.id;
	as4_msgrec_cleanup(&r);
	struct as4_store_event *ev = NULL;
	size_t n = 0;
	assert_int_equal(as4_store_events(st, id, &ev, &n, D), AS4_OK);
	assert_int_equal(n, 2);
	assert_string_equal(ev[0].reason, "submitted");
	assert_int_equal(ev[0].to_state, AS4_ST_QUEUED);
	assert_string_equal(ev[1].reason, "claimed for attempt 1");
	assert_int_equal(ev[1].to_state, AS4_ST_SENDING);
	as4_store_events_free(ev, n);
	/* not due for anyone else */
	struct as4_msgrec *got = NULL;
	assert_int_equal(as4_store_claim_due(st, as4_time_now_ms() + 1000, 10, &got, &n, D),
	                 AS4_OK);
	assert_int_equal(n, 0);
	struct as4_store_stats s;
	assert_int_equal(as4_store_stats(st, &s, D), AS4_OK);
	assert_int_equal(s.by_state[AS4_ST_SENDING], 1);
	assert_int_equal(s.by_state[AS4_ST_QUEUED], 0);
	/* received messages are never claimed */
	mkrec(&r, AS4_DIR_IN, "in@x", 0);
	struct as4_store_put pin = {.claim = true};
	assert_int_equal(as4_store_put_inbound(st, &r, &pin, NULL, D), AS4_E_INVAL);
	as4_msgrec_cleanup(&r);
	as4_store_close(st);
	/* a crash before the attempt ended: due again after the restart */
	st = open_store(NULL);
	assert_int_equal(as4_store_claim_due(st, as4_time_now_ms() + 1000, 10, &got, &n, D),
	                 AS4_OK);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].id, id);
	assert_int_equal(got[0].attempts, 2);
	as4_msgrec_array_free(got, n);
	as4_store_close(st);
}

static void test_bad_input(void **state)
{
	(void)state;
	struct as4_store *st = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_store_open("", NULL, &st, D), AS4_E_INVAL);
	assert_int_equal(as4_store_open("/proc/no-such-dir/x", NULL, &st, D), AS4_E_IO);
	st = open_store(NULL);
	struct as4_msgrec r;
	struct as4_store_put p = {0};
	mkrec(&r, AS4_DIR_OUT, "x@x", 0);
	assert_int_equal(as4_store_put_inbound(st, &r, &p, NULL, D), AS4_E_INVAL);
	free(r.message_id);
	r.message_id = NULL;
	r.dir = AS4_DIR_IN;
	as4_diag_init(&d);
	assert_int_equal(as4_store_put_inbound(st, &r, &p, NULL, D), AS4_E_INVAL);
	assert_string_equal(d.field, "message_id");
	r.message_id = sdup("x@x");
	char *huge = calloc(1, STORE_STR_MAX + 2);
	assert_non_null(huge);
	memset(huge, 'h', STORE_STR_MAX + 1);
	free(r.action);
	r.action = huge;
	as4_diag_init(&d);
	assert_int_equal(as4_store_put_inbound(st, &r, &p, NULL, D), AS4_E_LIMIT);
	assert_string_equal(d.field, "action");
	as4_msgrec_cleanup(&r);
	mkrec(&r, AS4_DIR_IN, "y@x", 2);
	assert_int_equal(as4_store_put_inbound(st, &r, &p, NULL, D), AS4_E_INVAL);
	as4_msgrec_cleanup(&r);
	struct as4_msgrec *list = NULL;
	size_t n = 0;
	uint64_t next;
	assert_int_equal(as4_store_inbox_list(st, 0, 0, &list, &n, &next, D), AS4_E_INVAL);
	assert_int_equal(as4_store_audit_append(st, "", "x", NULL, NULL, D), AS4_E_INVAL);
	assert_int_equal(as4_store_audit_append(st, "w", "x", NULL, huge == NULL ? "" : "ok", D),
	                 AS4_OK);
	struct as4_store_audit *au = NULL;
	assert_int_equal(as4_store_audit_list(st, 0, 0, &au, &n, D), AS4_E_INVAL);
	assert_int_equal(as4_store_audit_list(st, 1, 10, &au, &n, D), AS4_OK);
	assert_int_equal(n, 0);
	struct as4_store_dedup dd;
	assert_int_equal(as4_store_dedup_lookup(st, "", &dd, D), AS4_E_INVAL);
	as4_store_close(st);
	as4_store_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_states),
	        cmocka_unit_test(test_codec),
	        cmocka_unit_test(test_helpers),
	        cmocka_unit_test_setup_teardown(test_inbound, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_outbound, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_persistence_and_recovery, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_group_commit_with_failures, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_async, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_search, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_dedup_prune, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_retention_and_gc, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_delete_payloads_and_pmode_counts, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_notes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_inline_blobs, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_purge_records, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_claim_at_submit, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
