/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GET /metrics: the Prometheus text exposition format 0.0.4. Counters come from struct
 * as4_metrics (atomics, since start), gauges from the store (message counts by state and by
 * PMode, queue age, store size and map usage: O(states x PModes) reads, never a scan) and from
 * the certificates in use (days to expiry). Latencies are histograms in seconds.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "as4/log.h"
#include "as4/time.h"

#define MS_DAY (24LL * 3600 * 1000)

struct out {
	struct as4_buf *b;
	as4_err err;
};

AS4_PRINTF(2, 3) static void put(struct out *o, const char *fmt, ...)
{
	if (o->err != AS4_OK) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	o->err = as4_buf_vprintf(o->b, fmt, ap);
	va_end(ap);
}

/* A label value with \, " and newlines escaped (exposition format). */
static void put_label(struct out *o, const char *v)
{
	for (const char *p = v != NULL ? v : ""; *p != '\0' && o->err == AS4_OK; p++) {
		if (*p == '\\' || *p == '"') {
			put(o, "\\%c", *p);
		} else if (*p == '\n') {
			put(o, "\\n");
		} else {
			put(o, "%c", *p);
		}
	}
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct out *o, const char *name, const char *help, unsigned long v)
{
	head(o, name, "counter", help);
	put(o, "%s %lu\n", name, v);
}

static void gauge(struct out *o, const char *name, const char *help, double v)
{
	head(o, name, "gauge", help);
	put(o, "%s %.17g\n", name, v);
}

static void histogram(struct out *o, const char *name, const char *help, atomic_ulong *sum,
                      atomic_ulong *count, atomic_ulong *buckets)
{
	head(o, name, "histogram", help);
	unsigned long cum = 0;
	for (size_t i = 0; i < 12; i++) {
		cum += atomic_load(&buckets[i]);
		if (i < 11) {
			put(o, "%s_bucket{le=\"%g\"} %lu\n", name,
			    as4_latency_bounds_ms[i] / 1000.0, cum);
		} else {
			put(o, "%s_bucket{le=\"+Inf\"} %lu\n", name, cum);
		}
	}
	put(o, "%s_sum %.6f\n", name, (double)atomic_load(sum) / 1e6);
	put(o, "%s_count %lu\n", name, atomic_load(count));
}

void api_metrics(struct api_req *r, struct as4_http_resp *resp)
{
	struct as4_ap *ap = r->ap;
	struct as4_metrics *m = &ap->metrics;
	const struct as4_config *cfg = r->rt->cfg;
	struct out o = {&resp->body, AS4_OK};
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_store_stats s;
	as4_err err = as4_store_stats(ap->store, &s, &d);
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		return;
	}
	struct as4_store_pmode_count *pc = NULL;
	size_t n_pc = 0;
	err = as4_store_pmode_counts(ap->store, &pc, &n_pc, &d);
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		return;
	}
	int64_t now = as4_time_now_ms();

	head(&o, "as4_info", "gauge", "Version and identity of this access point (always 1).");
	put(&o, "as4_info{version=\"");
	put_label(&o, ap->version);
	put(&o, "\",node=\"");
	put_label(&o, cfg->node.name);
	put(&o, "\",party=\"");
	put_label(&o, cfg->node.party != NULL ? cfg->node.party->name : "");
	put(&o, "\"} 1\n");
	gauge(&o, "as4_uptime_seconds", "Seconds since as4d started.",
	      (double)(now - ap->started_ms) / 1000.0);
	gauge(&o, "as4_pmodes", "PModes in the running configuration.",
	      (double)as4_pmode_count(cfg->pmodes));

	head(&o, "as4_messages", "gauge", "Messages in the store by direction and state.");
	for (int st = AS4_ST_QUEUED; st < AS4_ST__COUNT; st++) {
		enum as4_msg_state e = (enum as4_msg_state)st;
		put(&o, "as4_messages{direction=\"%s\",state=\"%s\"} %llu\n",
		    as4_dir_text(as4_msg_state_dir(e)), as4_msg_state_text(e),
		    (unsigned long long)s.by_state[st]);
	}
	head(&o, "as4_messages_by_pmode", "gauge",
	     "Messages in the store by PMode, direction and state (non-zero only).");
	for (size_t i = 0; i < n_pc; i++) {
		put(&o, "as4_messages_by_pmode{pmode=\"");
		put_label(&o, pc[i].pmode);
		put(&o, "\",direction=\"%s\",state=\"%s\"} %llu\n",
		    as4_dir_text(as4_msg_state_dir(pc[i].state)), as4_msg_state_text(pc[i].state),
		    (unsigned long long)pc[i].count);
	}
	as4_store_pmode_counts_free(pc, n_pc);
	head(&o, "as4_queue_depth", "gauge",
	     "Outbound messages waiting: queued, sending, retrying; inbound not acknowledged.");
	put(&o, "as4_queue_depth{queue=\"queued\"} %llu\n",
	    (unsigned long long)s.by_state[AS4_ST_QUEUED]);
	put(&o, "as4_queue_depth{queue=\"sending\"} %llu\n",
	    (unsigned long long)s.by_state[AS4_ST_SENDING]);
	put(&o, "as4_queue_depth{queue=\"retrying\"} %llu\n",
	    (unsigned long long)s.by_state[AS4_ST_RETRYING]);
	put(&o, "as4_queue_depth{queue=\"inbox\"} %llu\n", (unsigned long long)s.inbox);
	gauge(&o, "as4_oldest_queued_age_seconds",
	      "Age of the oldest outbound message not yet delivered or failed (0 when none).",
	      s.oldest_queued_ms != 0 ? (double)(now - s.oldest_queued_ms) / 1000.0 : 0.0);

	head(&o, "as4_received_total", "counter", "Requests on the MSH endpoint by outcome.");
	put(&o, "as4_received_total{result=\"stored\"} %lu\n", atomic_load(&m->received_ok));
	put(&o, "as4_received_total{result=\"duplicate\"} %lu\n",
	    atomic_load(&m->received_duplicate));
	put(&o, "as4_received_total{result=\"test\"} %lu\n", atomic_load(&m->received_test));
	put(&o, "as4_received_total{result=\"refused\"} %lu\n", atomic_load(&m->received_error));
	head(&o, "as4_receive_errors_total", "counter",
	     "Received messages refused with an ebMS error, by code.");
	for (size_t i = 0; i < 32; i++) {
		const char *code = as4_metrics_error_code(i);
		unsigned long v = atomic_load(&m->errors_by_code[i]);
		/* the codes a receiver answers with always appear; others once counted */
		if (code != NULL && (v > 0 || i <= 11 || i == 15)) {
			put(&o, "as4_receive_errors_total{code=\"%s\"} %lu\n", code, v);
		}
	}
	head(&o, "as4_sent_total", "counter", "Send attempts and outcomes by result.");
	put(&o, "as4_sent_total{result=\"delivered\"} %lu\n", atomic_load(&m->sent_ok));
	put(&o, "as4_sent_total{result=\"retry\"} %lu\n", atomic_load(&m->sent_retry));
	put(&o, "as4_sent_total{result=\"failed\"} %lu\n", atomic_load(&m->sent_failed));
	head(&o, "as4_send_errors_total", "counter",
	     "Outbound messages that ended failed, by the ebMS code recorded: EBMS:0301 (no "
	     "receipt), EBMS:0302 (invalid receipt), the partner's Error code, or our own.");
	for (size_t i = 0; i < 32; i++) {
		const char *code = as4_metrics_error_code(i);
		unsigned long v = atomic_load(&m->send_errors_by_code[i]);
		/* MissingReceipt and InvalidReceipt always appear; others once counted */
		if (code != NULL && (v > 0 || i == 13 || i == 14)) {
			put(&o, "as4_send_errors_total{code=\"%s\"} %lu\n", code, v);
		}
	}
	counter(&o, "as4_retries_total", "Send attempts that failed and will be retried.",
	        atomic_load(&m->sent_retry));
	counter(&o, "as4_submitted_total", "Messages accepted from backends through the API.",
	        atomic_load(&m->submitted));
	counter(&o, "as4_api_requests_total", "Requests on the internal API.",
	        atomic_load(&m->api_requests));
	counter(&o, "as4_api_denied_total", "API requests refused with 401 or 403.",
	        atomic_load(&m->api_denied));
	histogram(&o, "as4_receive_latency_seconds",
	          "Time from a request's arrival to its Receipt (stored messages).",
	          &m->recv_latency_us_sum, &m->recv_latency_count, m->recv_latency_buckets);
	histogram(&o, "as4_send_latency_seconds",
	          "Time of a send attempt from the POST to the verified Receipt.",
	          &m->send_latency_us_sum, &m->send_latency_count, m->send_latency_buckets);
	counter(&o, "as4_smp_lookups_total", "Dynamic discovery lookups.",
	        atomic_load(&m->smp_lookups));
	counter(&o, "as4_smp_cache_hits_total", "Lookups answered from the discovery cache.",
	        atomic_load(&m->smp_cache_hits));

	gauge(&o, "as4_store_messages", "Message records in the store.", (double)s.messages);
	gauge(&o, "as4_store_dedup_entries", "MessageIds in the duplicate window.",
	      (double)s.dedup_entries);
	gauge(&o, "as4_store_spool_bytes", "Bytes of payload, raw and receipt files.",
	      (double)s.spool_bytes);
	gauge(&o, "as4_store_map_size_bytes", "Size of the LMDB map.", (double)s.map_size);
	gauge(&o, "as4_store_map_used_bytes", "Bytes of the LMDB map in use.", (double)s.map_used);
	gauge(&o, "as4_store_map_used_ratio", "Share of the LMDB map in use (store.map_size).",
	      s.map_size ? (double)s.map_used / (double)s.map_size : 0.0);
	counter(&o, "as4_store_commits_total", "Group commits since start.",
	        (unsigned long)s.batches);
	counter(&o, "as4_store_committed_ops_total", "Write operations in those commits.",
	        (unsigned long)s.batched_ops);

	struct api_cert *v = NULL;
	size_t n = 0;
	if (api_certs_collect(r->rt, &v, &n) == AS4_OK) {
		head(&o, "as4_certificate_expiry_days", "gauge",
		     "Days until a certificate in use expires (negative: expired).");
		for (size_t i = 0; i < n; i++) {
			char fp[65];
			api_cert_fingerprint(v[i].x, fp);
			double days =
			        (double)(api_cert_not_after_ms(v[i].x) - now) / (double)MS_DAY;
			put(&o, "as4_certificate_expiry_days{group=\"");
			put_label(&o, v[i].group);
			put(&o, "\",name=\"");
			put_label(&o, v[i].name);
			put(&o, "\",sha256=\"%s\"} %.3f\n", fp, days);
		}
	}
	api_certs_free(v, n);
	if (o.err != AS4_OK) {
		as4_http_resp_json_error(resp, 500, "internal", "metrics do not fit the buffer",
		                         NULL);
		return;
	}
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
