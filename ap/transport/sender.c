/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Send workers: claim due messages from the store, seal them (compress, sign, encrypt, MIME),
 * POST them to the peer, judge the answer, and record the outcome. A message is delivered
 * only when a valid Receipt is verified and stored; otherwise it is retried on the PMode's
 * schedule (reception awareness) until its attempts or deadline run out, then it fails with
 * EBMS:0301. A peer that cannot be reached backs off as a whole, so it does not hold up
 * messages to other peers.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/rand.h>

#include "as4/ap.h"
#include "as4/discovery.h"
#include "as4/gzip.h"
#include "as4/http_client.h"
#include "as4/log.h"
#include "as4/msg.h"
#include "as4/str.h"
#include "as4/time.h"

/* Idle workers look at the due queue at least this often. */
#define POLL_MS 500
/* The longest single retry interval, whatever the backoff says. */
#define MAX_INTERVAL_MS (6LL * 3600 * 1000)

/*
 * One dispatcher claims due messages in batches (one store commit for many messages, sized
 * to the idle workers) and queues them; the workers take them one at a time. A kick (a
 * submission, an admin's retry) wakes the dispatcher only, not every worker.
 */
struct as4_sender {
	struct as4_ap *ap;
	pthread_t *threads;
	size_t n_threads;
	pthread_t dispatcher;
	bool dispatcher_running;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* dispatcher: kicked, a worker became idle, or stopping */
	pthread_cond_t work; /* workers: records queued, or stopping */
	bool stop;
	uint64_t kicks;
	struct as4_msgrec *queue; /* claimed records not yet taken (ring of q_cap) */
	size_t q_head, q_len, q_cap;
	size_t idle;     /* workers waiting for a record */
	size_t reserved; /* workers promised to submissions claimed at commit */
};

/* The delay before attempt number `attempt` + 1, after `attempt` attempts failed. */
static int64_t retry_delay_ms(const struct as4_pmode_reliability *r, uint32_t attempt)
{
	double base = (double)r->interval_ms;
	if (r->backoff == AS4_BACKOFF_EXPONENTIAL) {
		for (uint32_t i = 1; i < attempt && base < (double)MAX_INTERVAL_MS; i++) {
			base *= 2;
		}
	}
	if (base > (double)MAX_INTERVAL_MS) {
		base = (double)MAX_INTERVAL_MS;
	}
	if (r->jitter) {
		uint32_t rnd = 0;
		if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) == 1) {
			/* +-20 % so that many messages to one peer do not retry in lockstep */
			double f = 0.8 + 0.4 * ((double)rnd / (double)UINT32_MAX);
			base *= f;
		}
	}
	return base < 1 ? 1 : (int64_t)base;
}

static X509 *pem_to_x509(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	if (b == NULL) {
		return NULL;
	}
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return x;
}

/* The "EBMS:nnnn" a peer's error detail starts with ("EBMS:0101 FailedAuthentication: ..."). */
static bool peer_error_code(const char *why, char *out, size_t cap)
{
	if (cap < 10 || !as4_str_starts(why, "EBMS:")) {
		return false;
	}
	for (int i = 5; i < 9; i++) {
		if (why[i] < '0' || why[i] > '9') {
			return false;
		}
	}
	memcpy(out, why, 9);
	out[9] = '\0';
	return true;
}

/* The outcome of one attempt. */
struct attempt {
	as4_err err;            /* AS4_OK = delivered */
	struct as4_diag diag;   /* why not */
	struct as4_blob raw;    /* what we sent (the signed envelope) */
	struct as4_buf receipt; /* the peer's answer, when it was a Receipt */
	struct as4_msg *resp;   /* that answer opened (borrows receipt's bytes), or NULL */
	struct as4_signed_refs *refs;
	bool peer_unreachable; /* connection/TLS/timeout: the whole peer backs off */
};

static void attempt_cleanup(struct attempt *a)
{
	as4_msg_free(a->resp);
	as4_blob_cleanup(&a->raw);
	as4_buf_cleanup(&a->receipt);
}

/* Seal and POST one message; fill a with the outcome. */
static void try_send(struct as4_ap *ap, struct as4_http_client *http, struct as4_deflater *gz,
                     struct as4_runtime *rt, const struct as4_pmode *pm,
                     const struct as4_msgrec *rec, struct attempt *a,
                     struct as4_msg_out **sealed_out)
{
	const struct as4_config *cfg = rt->cfg;
	struct as4_diag *d = &a->diag;
	struct as4_blob *blobs = NULL;
	struct as4_submission_payload *sp = NULL;
	struct as4_property *props = NULL;
	struct as4_property **pprops = NULL;
	X509 *discovered = NULL;
	struct as4_msg_out *sealed = NULL;
	struct as4_msg *resp_msg = NULL;
	struct as4_http_result res;
	as4_http_result_init(&res, cfg->limits.max_receipt);

	size_t n = rec->n_payloads;
	blobs = calloc(n ? n : 1, sizeof(*blobs));
	sp = calloc(n ? n : 1, sizeof(*sp));
	pprops = calloc(n ? n : 1, sizeof(*pprops));
	props = calloc(rec->n_props ? rec->n_props : 1, sizeof(*props));
	if (blobs == NULL || sp == NULL || props == NULL || pprops == NULL) {
		a->err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		as4_blob_init(&blobs[i]);
	}
	for (size_t i = 0; i < n; i++) {
		const struct as4_store_payload *p = &rec->payloads[i];
		a->err = as4_store_spool_open(ap->store, p->file, &blobs[i], d);
		if (a->err != AS4_OK) {
			as4_diag_prefix(d, "payload %zu: ", i);
			goto out;
		}
		sp[i].content_id = p->content_id;
		sp[i].mime_type = p->mime_type;
		sp[i].charset = p->charset;
		sp[i].compress = p->compressed ? AS4_COMPRESS_YES : AS4_COMPRESS_NO;
		if (p->n_props > 0) {
			pprops[i] = calloc(p->n_props, sizeof(struct as4_property));
			if (pprops[i] == NULL) {
				a->err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
				goto out;
			}
			for (size_t k = 0; k < p->n_props; k++) {
				pprops[i][k].name = p->props[k].name;
				pprops[i][k].type = p->props[k].type;
				pprops[i][k].value = p->props[k].value;
			}
			sp[i].props = pprops[i];
			sp[i].n_props = p->n_props;
		}
		as4_blob_borrow_range(&sp[i].data, &blobs[i], 0, blobs[i].len);
	}
	for (size_t i = 0; i < rec->n_props; i++) {
		props[i].name = rec->props[i].name;
		props[i].type = rec->props[i].type;
		props[i].value = rec->props[i].value;
	}
	struct as4_party_id from_id = {rec->from.type, rec->from.value};
	struct as4_party_id to_id = {rec->to.type, rec->to.value};
	struct as4_submission sub = {0};
	sub.message_id = rec->message_id;
	sub.ref_to_message_id = rec->ref_to_message_id;
	sub.conversation_id = rec->conversation_id;
	/* the same eb:Timestamp on every attempt: a resend is the same message (see below) */
	sub.timestamp_ms = rec->ebms_timestamp_ms > 0 ? rec->ebms_timestamp_ms : rec->created_ms;
	sub.from.ids = &from_id;
	sub.from.n_ids = 1;
	sub.from.role = rec->from_role;
	sub.to.ids = &to_id;
	sub.to.n_ids = 1;
	sub.to.role = rec->to_role;
	sub.props = props;
	sub.n_props = rec->n_props;
	sub.payloads = sp;
	sub.n_payloads = n;

	X509 *receiver = as4_runtime_party_cert(rt, pm->responder);
	if (rec->receiver_cert_pem != NULL) {
		discovered = pem_to_x509(rec->receiver_cert_pem);
		if (discovered == NULL) {
			a->err = as4_diag_set(d, AS4_E_CORRUPT,
			                      "the receiver certificate stored with the message "
			                      "cannot be read");
			goto out;
		}
		receiver = discovered;
	}
	struct as4_msg_out_params op = {0};
	op.pmode = pm;
	op.signer = rt->sign;
	op.receiver_cert = receiver;
	op.id_domain = as4_ap_id_domain(cfg);
	op.limits = &cfg->limits;
	op.spool_dir = ap->tmp_dir;
	op.deflater = gz;
	/* a receiver that stored an earlier attempt answers with that copy's Receipt */
	op.stable_ids = true;
	a->err = as4_msg_out_seal(&op, &sub, &sealed, d);
	if (a->err != AS4_OK) {
		goto out;
	}
	if (rec->endpoint_url == NULL) {
		a->err = as4_diag_set(d, AS4_E_CONFIG, "no endpoint URL for the receiver");
		goto out;
	}
	int64_t t0 = as4_time_mono_ns();
	a->err = as4_http_post(http, rec->endpoint_url, sealed->mime.content_type,
	                       sealed->mime.segs, sealed->mime.n_segs, NULL, 0, &res, d);
	if (a->err != AS4_OK) {
		a->peer_unreachable = a->err == AS4_E_CONNECTION || a->err == AS4_E_PEER_TLS ||
		                      a->err == AS4_E_PEER_TIMEOUT;
		goto out;
	}
	struct as4_response_params rp = {0};
	rp.pmode = pm;
	rp.partner_cert = receiver;
	rp.trust = rt->trust;
	rp.limits = &cfg->limits;
	struct as4_blob rb;
	as4_blob_borrow(&rb, res.body.data, res.body.len);
	a->err = as4_msg_out_check_response(sealed, &rp, (int)res.status, res.content_type, &rb,
	                                    &resp_msg, d);
	as4_metrics_observe(&ap->metrics.send_latency_us_sum, &ap->metrics.send_latency_count,
	                    ap->metrics.send_latency_buckets,
	                    (uint64_t)((as4_time_mono_ns() - t0) / 1000));
	if (a->err == AS4_OK || a->err == AS4_E_INVALID_RECEIPT) {
		/* the bytes stay where resp_msg reads them: the buffer moves, its data does not */
		a->receipt = res.body;
		as4_buf_init(&res.body, 0);
		/* judged: its tree goes now, while it is in cache; what it said stays for settle */
		as4_msg_drop_doc(resp_msg);
		a->resp = resp_msg;
		resp_msg = NULL;
	}
	if (a->err == AS4_OK) {
		/* evidence: the signed envelope exactly as it went out */
		a->err = as4_blob_copy(&a->raw, sealed->root.data.data, sealed->root.data.len);
		if (a->err != AS4_OK) {
			a->err = as4_diag_set(d, a->err, "out of memory");
		}
	}
out:
	*sealed_out = sealed;
	as4_msg_free(resp_msg);
	as4_http_result_cleanup(&res);
	X509_free(discovered);
	for (size_t i = 0; blobs != NULL && i < n; i++) {
		as4_blob_cleanup(&blobs[i]);
	}
	for (size_t i = 0; pprops != NULL && i < n; i++) {
		free(pprops[i]);
	}
	free(pprops);
	free(blobs);
	free(sp);
	free(props);
}

/* Record what happened to one claimed message. */
static void settle(struct as4_ap *ap, const struct as4_pmode *pm, const struct as4_msgrec *rec,
                   struct attempt *a, const struct as4_msg_out *sealed, const char *notify_url)
{
	struct as4_log_ctx lc = {rec->message_id, rec->pmode_id, rec->endpoint_url, NULL};
	struct as4_store_update u = {0};
	u.expect = 1u << AS4_ST_SENDING;
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_store_sigref *refs = NULL;
	struct as4_blob receipt;
	as4_blob_borrow(&receipt, a->receipt.data, a->receipt.len);
	struct as4_store_receipt_info rinfo;
	char reason[600];
	char peer_code[16]; /* u.ebms_code may point here until the transition below */
	int64_t now = as4_time_now_ms();

	if (a->err == AS4_OK) {
		u.to = AS4_ST_DELIVERED;
		u.reason = "receipt verified";
		u.raw = &a->raw;
		u.receipt = &receipt;
		/* what the Receipt says, so that showing the message need not parse it again */
		if (as4_msg_response_summary(a->resp, &rinfo)) {
			u.receipt_info = &rinfo;
		}
		if (sealed != NULL && sealed->signed_refs.n > 0) {
			refs = calloc(sealed->signed_refs.n, sizeof(*refs));
			if (refs != NULL) {
				for (size_t i = 0; i < sealed->signed_refs.n; i++) {
					refs[i].uri = sealed->signed_refs.refs[i].uri;
					refs[i].digest_method =
					        sealed->signed_refs.refs[i].digest_method;
					refs[i].digest_value =
					        sealed->signed_refs.refs[i].digest_value;
				}
				u.signed_refs = refs;
				u.n_signed_refs = sealed->signed_refs.n;
			}
		}
		atomic_fetch_add(&ap->metrics.sent_ok, 1);
		as4_log_ctx(AS4_LOG_INFO, &lc, "delivered: receipt verified (attempt %u)",
		            rec->attempts);
	} else {
		const char *code = as4_err_ebms_code(a->err);
		bool retryable = as4_err_retryable(a->err) || a->err == AS4_E_INVALID_RECEIPT;
		const struct as4_pmode_reliability *rel = &pm->reliability;
		int64_t delay = retry_delay_ms(rel, rec->attempts);
		int64_t due = now + delay;
		/* attempts and deadline count from the last (re)queueing */
		int64_t since = rec->queued_ms > 0 ? rec->queued_ms : rec->created_ms;
		bool past_deadline =
		        rel->deadline_ms > 0 && due > since + (int64_t)rel->deadline_ms;
		const char *why = as4_diag_text(&a->diag);
		if (a->err == AS4_E_PEER_ERROR) {
			/* the peer's own code is the first word of the detail */
			u.to = AS4_ST_FAILED;
			snprintf(reason, sizeof(reason), "peer answered with an ebMS error");
			u.ebms_code = "EBMS:0004";
			if (peer_error_code(why, peer_code, sizeof(peer_code))) {
				u.ebms_code = peer_code;
			}
			u.detail = why;
			atomic_fetch_add(&ap->metrics.sent_failed, 1);
			atomic_fetch_add(
			        &ap->metrics
			                 .send_errors_by_code[as4_metrics_error_slot(u.ebms_code)],
			        1);
			lc.ebms_code = u.ebms_code;
			as4_log_ctx(AS4_LOG_WARNING, &lc, "failed: %s", why);
		} else if (retryable && rec->attempts <= rel->retries && !past_deadline) {
			u.to = AS4_ST_RETRYING;
			u.next_due_ms = due;
			snprintf(reason, sizeof(reason), "attempt %u failed, retry in %llds",
			         rec->attempts, (long long)((delay + 999) / 1000));
			u.ebms_code = a->err == AS4_E_INVALID_RECEIPT ? "EBMS:0302" : NULL;
			u.detail = why;
			atomic_fetch_add(&ap->metrics.sent_retry, 1);
			as4_log_ctx(AS4_LOG_NOTICE, &lc, "%s: %s", reason, why);
		} else {
			u.to = AS4_ST_FAILED;
			if (retryable) {
				snprintf(reason, sizeof(reason),
				         "no receipt after %u attempt%s%s: %s", rec->attempts,
				         rec->attempts == 1 ? "" : "s",
				         past_deadline ? " (deadline reached)" : "", why);
				u.ebms_code =
				        a->err == AS4_E_INVALID_RECEIPT ? "EBMS:0302" : "EBMS:0301";
			} else {
				snprintf(reason, sizeof(reason), "cannot be sent: %s", why);
				u.ebms_code = code;
			}
			u.detail = why;
			atomic_fetch_add(&ap->metrics.sent_failed, 1);
			atomic_fetch_add(
			        &ap->metrics
			                 .send_errors_by_code[as4_metrics_error_slot(u.ebms_code)],
			        1);
			lc.ebms_code = u.ebms_code;
			as4_log_ctx(AS4_LOG_WARNING, &lc, "failed: %s", reason);
		}
		u.reason = reason;
		if (a->peer_unreachable) {
			struct as4_diag bd;
			as4_diag_init(&bd);
			if (as4_store_peer_backoff(ap->store, as4_msgrec_peer_key(rec), due, &bd) !=
			    AS4_OK) {
				as4_log_ctx(AS4_LOG_WARNING, &lc,
				            "cannot record the peer backoff: %s",
				            as4_diag_text(&bd));
			}
		}
	}
	/* the backend hears of final outcomes, in the same transaction as the change */
	char *note = NULL;
	if ((u.to == AS4_ST_DELIVERED || u.to == AS4_ST_FAILED) && notify_url != NULL) {
		note = as4_delivery_outcome_doc(rec, u.to, u.reason, u.ebms_code, u.detail);
		if (note == NULL) {
			as4_log_ctx(AS4_LOG_ERR, &lc, "cannot build the backend notification");
		}
		u.notify = note;
	}
	if (as4_store_transition(ap->store, rec->id, &u, &d) != AS4_OK) {
		as4_log_ctx(AS4_LOG_ERR, &lc, "cannot record the outcome: %s", as4_diag_text(&d));
	} else if (note != NULL) {
		as4_delivery_kick(ap->delivery);
	}
	free(note);
	free(refs);
}

/* Send one claimed message with the worker's runtime, client and compressor; record the outcome. */
static void process(struct as4_ap *ap, struct as4_runtime *rt, struct as4_http_client *http,
                    struct as4_deflater *gz, struct as4_msgrec *rec)
{
	const struct as4_pmode *pm = as4_pmode_find(rt->cfg->pmodes, rec->pmode_id);
	struct attempt a;
	memset(&a, 0, sizeof(a));
	as4_diag_init(&a.diag);
	as4_blob_init(&a.raw);
	as4_buf_init(&a.receipt, 0);
	struct as4_msg_out *sealed = NULL;
	if (pm == NULL) {
		a.err = as4_diag_set(&a.diag, AS4_E_PMODE_MISMATCH,
		                     "PMode '%s' is no longer configured", rec->pmode_id);
		struct as4_store_update u = {0};
		u.to = AS4_ST_FAILED;
		u.reason = "its PMode was removed";
		u.ebms_code = "EBMS:0010";
		u.detail = as4_diag_text(&a.diag);
		char *note = rt->cfg->webhooks.notification_url != NULL
		                     ? as4_delivery_outcome_doc(rec, u.to, u.reason, u.ebms_code,
		                                                u.detail)
		                     : NULL;
		u.notify = note;
		struct as4_diag d;
		as4_diag_init(&d);
		if (as4_store_transition(ap->store, rec->id, &u, &d) != AS4_OK) {
			as4_log(AS4_LOG_ERR, "cannot fail message %s: %s", rec->message_id,
			        as4_diag_text(&d));
		} else if (note != NULL) {
			as4_delivery_kick(ap->delivery);
		}
		free(note);
	} else if (http == NULL) {
		a.err = as4_diag_set(&a.diag, AS4_E_CONFIG,
		                     "the HTTP client could not be set up (see the log)");
		settle(ap, pm, rec, &a, NULL, rt->cfg->webhooks.notification_url);
	} else {
		/* the PMode's per-attempt timeout, when shorter than the sender's */
		uint64_t timeout = rt->cfg->sender.request_timeout_ms;
		if (pm->reliability.timeout_ms > 0 && pm->reliability.timeout_ms < timeout) {
			timeout = pm->reliability.timeout_ms;
		}
		as4_http_client_set_timeout(http, timeout);
		/* discovery.c: endpoint and certificate first (a failed lookup is settled like a
		 * failed send) */
		a.err = as4_discovery_resolve(ap, rt, pm, rec, &a.diag);
		if (a.err == AS4_OK) {
			try_send(ap, http, gz, rt, pm, rec, &a, &sealed);
			as4_discovery_attempted(rt, pm, rec, a.err);
		}
		settle(ap, pm, rec, &a, sealed, rt->cfg->webhooks.notification_url);
	}
	as4_msg_out_free(sealed);
	attempt_cleanup(&a);
}

static struct as4_http_client *new_client(const struct as4_config *cfg)
{
	struct as4_http_client_opts co = {0};
	co.ca_files = cfg->truststores.tls;
	co.n_ca_files = cfg->truststores.n_tls;
	co.client_cert = cfg->sender.client_cert_path;
	co.client_key = cfg->sender.client_key_path;
	co.insecure_skip_verify = !cfg->sender.tls_verify;
	co.connect_timeout_ms = cfg->sender.connect_timeout_ms;
	co.timeout_ms = cfg->sender.request_timeout_ms;
	co.max_response = cfg->limits.max_receipt;
	struct as4_http_client *http = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	if (as4_http_client_new(&co, &http, &d) != AS4_OK) {
		as4_log(AS4_LOG_ERR, "send worker: %s", as4_diag_text(&d));
	}
	return http;
}

static void *worker_main(void *arg)
{
	struct as4_sender *s = arg;
	struct as4_ap *ap = s->ap;
	struct as4_http_client *http = NULL;
	struct as4_runtime *rt = NULL;
	/* NULL (out of memory) only costs a fresh zlib state per payload */
	struct as4_deflater *gz = as4_deflater_new();
	pthread_mutex_lock(&s->lock);
	for (;;) {
		s->idle++;
		pthread_cond_signal(&s->cond);
		while (s->q_len == 0 && !s->stop) {
			pthread_cond_wait(&s->work, &s->lock);
		}
		s->idle--;
		if (s->stop) {
			break; /* what is still queued goes back to the due queue (as4_sender_stop)
			        */
		}
		struct as4_msgrec rec = s->queue[s->q_head];
		s->q_head = (s->q_head + 1) % s->q_cap;
		s->q_len--;
		pthread_mutex_unlock(&s->lock);

		struct as4_runtime *now_rt = as4_ap_runtime(ap);
		if (now_rt != rt) {
			/* a reload: new TLS settings for the client */
			as4_http_client_free(http);
			as4_runtime_put(rt);
			rt = now_rt;
			http = new_client(rt->cfg);
		} else {
			as4_runtime_put(now_rt);
		}
		process(ap, rt, http, gz, &rec);
		as4_msgrec_cleanup(&rec);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	as4_deflater_free(gz);
	as4_http_client_free(http);
	as4_runtime_put(rt);
	return NULL;
}

/*
 * Wait (lock held) until kicked, a worker turns idle (when seen_idle < SIZE_MAX), stopping, or
 * POLL_MS passed (then returns true: retries that fell due need a look).
 */
static bool dispatcher_wait(struct as4_sender *s, uint64_t seen_kicks, size_t seen_idle)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)POLL_MS * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (!s->stop && s->kicks == seen_kicks && s->idle <= seen_idle) {
		if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) != 0) {
			return true;
		}
	}
	return false;
}

static void *dispatcher_main(void *arg)
{
	struct as4_sender *s = arg;
	struct as4_ap *ap = s->ap;
	bool backlog = true; /* the last claim was full: more may be due */
	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		/*
		 * Keep the queue filled to one record per worker beyond the idle ones, so a claim
		 * (one commit) feeds many attempts and a worker finishing never waits for one.
		 */
		size_t busy = s->q_len + s->reserved; /* reserved workers get handed a record */
		size_t want = s->idle + s->n_threads > busy ? s->idle + s->n_threads - busy : 0;
		if (want == 0 || !backlog) {
			uint64_t kicks = s->kicks;
			bool timed_out = dispatcher_wait(s, kicks, want == 0 ? s->idle : SIZE_MAX);
			/* a kick or the poll interval: look again; a newly idle worker only
			 * needs a claim while there is a backlog */
			backlog = backlog || timed_out || s->kicks != kicks;
			continue;
		}
		if (want > s->q_cap - busy) {
			want = s->q_cap - busy;
		}
		pthread_mutex_unlock(&s->lock);
		struct as4_msgrec *recs = NULL;
		size_t n = 0;
		struct as4_diag d;
		as4_diag_init(&d);
		if (as4_store_claim_due(ap->store, as4_time_now_ms(), want, &recs, &n, &d) !=
		    AS4_OK) {
			as4_log(AS4_LOG_ERR, "sender: cannot claim messages: %s",
			        as4_diag_text(&d));
			n = 0;
		}
		pthread_mutex_lock(&s->lock);
		for (size_t i = 0; i < n; i++) {
			/* the queue takes over each record's strings; the array is freed below */
			s->queue[(s->q_head + s->q_len) % s->q_cap] = recs[i];
			s->q_len++;
		}
		free(recs);
		if (n > 0) {
			pthread_cond_broadcast(&s->work);
		}
		backlog = n == want;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

as4_err as4_sender_start(struct as4_ap *ap, struct as4_sender **out, struct as4_diag *d)
{
	*out = NULL;
	struct as4_sender *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	s->ap = ap;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&s->work, NULL);
	struct as4_runtime *rt = as4_ap_runtime(ap);
	size_t n = rt->cfg->sender.workers ? rt->cfg->sender.workers : 4;
	as4_runtime_put(rt);
	s->threads = calloc(n, sizeof(*s->threads));
	s->q_cap = 2 * n;
	s->queue = calloc(s->q_cap, sizeof(*s->queue));
	if (s->threads == NULL || s->queue == NULL) {
		as4_sender_stop(s, 0);
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		if (pthread_create(&s->threads[i], NULL, worker_main, s) != 0) {
			as4_sender_stop(s, 0);
			return as4_diag_set(d, AS4_E_INTERNAL, "cannot start send worker %zu", i);
		}
		s->n_threads++;
	}
	if (pthread_create(&s->dispatcher, NULL, dispatcher_main, s) != 0) {
		as4_sender_stop(s, 0);
		return as4_diag_set(d, AS4_E_INTERNAL, "cannot start the send dispatcher");
	}
	s->dispatcher_running = true;
	*out = s;
	return AS4_OK;
}

void as4_sender_kick(struct as4_sender *s)
{
	if (s == NULL) {
		return;
	}
	pthread_mutex_lock(&s->lock);
	s->kicks++;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

bool as4_sender_reserve(struct as4_sender *s)
{
	if (s == NULL) {
		return false;
	}
	pthread_mutex_lock(&s->lock);
	bool ok = !s->stop && s->idle > s->q_len + s->reserved;
	if (ok) {
		s->reserved++;
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

void as4_sender_unreserve(struct as4_sender *s)
{
	pthread_mutex_lock(&s->lock);
	s->reserved--;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void as4_sender_hand(struct as4_sender *s, const struct as4_msgrec *rec)
{
	struct as4_msgrec copy;
	as4_msgrec_init(&copy);
	if (as4_msgrec_copy(&copy, rec) != AS4_OK) {
		as4_sender_unreserve(s);
		struct as4_store_update u = {0};
		u.to = AS4_ST_QUEUED;
		u.reason = "not handed to a send worker: out of memory";
		u.expect = 1u << AS4_ST_SENDING;
		struct as4_diag d;
		as4_diag_init(&d);
		if (as4_store_transition(s->ap->store, rec->id, &u, &d) != AS4_OK) {
			as4_log(AS4_LOG_ERR, "message %s stays claimed until the next start: %s",
			        rec->message_id, as4_diag_text(&d));
		}
		as4_sender_kick(s);
		return;
	}
	pthread_mutex_lock(&s->lock);
	s->reserved--;
	/* room: a reservation needs an idle worker beyond the queued records, q_cap >= 2n */
	s->queue[(s->q_head + s->q_len) % s->q_cap] = copy;
	s->q_len++;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->lock);
}

void as4_sender_stop(struct as4_sender *s, unsigned grace_ms)
{
	(void)grace_ms; /* attempts end within the HTTP timeouts; workers finish them */
	if (s == NULL) {
		return;
	}
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->cond);
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->lock);
	if (s->dispatcher_running) {
		pthread_join(s->dispatcher, NULL);
	}
	for (size_t i = 0; i < s->n_threads; i++) {
		pthread_join(s->threads[i], NULL);
	}
	/* claimed but never attempted: due again at once (a restart would do the same) */
	for (; s->q_len > 0; s->q_len--) {
		struct as4_msgrec *rec = &s->queue[s->q_head];
		s->q_head = (s->q_head + 1) % s->q_cap;
		struct as4_store_update u = {0};
		u.to = rec->attempts > 1 ? AS4_ST_RETRYING : AS4_ST_QUEUED;
		u.reason = "not attempted: the access point stopped";
		u.expect = 1u << AS4_ST_SENDING;
		struct as4_diag d;
		as4_diag_init(&d);
		if (as4_store_transition(s->ap->store, rec->id, &u, &d) != AS4_OK) {
			as4_log(AS4_LOG_WARNING,
			        "message %s stays claimed until the next start: %s",
			        rec->message_id, as4_diag_text(&d));
		}
		as4_msgrec_cleanup(rec);
	}
	free(s->queue);
	free(s->threads);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
