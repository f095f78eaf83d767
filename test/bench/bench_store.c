/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Store throughput: N threads each commit M messages with one payload of S bytes through the
 * blocking API (every call returns only once durable), as the receive and submit paths do.
 *
 *   bench_store DIR [threads=8] [per_thread=500] [payload=10240] [sync=fdatasync|syncfs|none]
 *               [kind=in|out]
 *
 * DIR must not exist yet (or be empty); it is left behind for inspection. Prints commits per
 * second, the average group-commit batch and latency percentiles.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as4/store.h"
#include "as4/str.h"
#include "as4/time.h"

struct worker {
	struct as4_store *st;
	unsigned idx;
	unsigned count;
	size_t payload;
	enum as4_dir dir;
	int64_t *lat_us;
	as4_err err;
	char diag[AS4_DIAG_TEXT_MAX];
};

static char *xdup(const char *s)
{
	char *p = as4_str_dup(s);
	if (p == NULL) {
		fputs("out of memory\n", stderr);
		exit(1);
	}
	return p;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	uint8_t *body = malloc(w->payload > 0 ? w->payload : 1);
	if (body == NULL) {
		w->err = AS4_E_NOMEM;
		return NULL;
	}
	for (size_t i = 0; i < w->payload; i++) {
		body[i] = (uint8_t)(i * 31u + w->idx);
	}
	for (unsigned i = 0; i < w->count; i++) {
		char id[64];
		if (as4_str_fmt(id, sizeof(id), "bench-%u-%u@bench", w->idx, i) != AS4_OK) {
			w->err = AS4_E_INTERNAL;
			break;
		}
		struct as4_msgrec r;
		as4_msgrec_init(&r);
		r.dir = w->dir;
		r.message_id = xdup(id);
		r.pmode_id = xdup("medcom-fhir");
		r.from.value = xdup("0088:5790000000001");
		r.to.value = xdup("0088:5790000000002");
		r.service = xdup("urn:medcom:fhir");
		r.action = xdup("HospitalNotification");
		r.conversation_id = xdup(id);
		r.endpoint_url = xdup("https://ap2.example/as4");
		struct as4_store_payload pl = {0};
		pl.content_id = xdup("part1@bench");
		pl.mime_type = xdup("application/fhir+xml");
		r.payloads = &pl;
		r.n_payloads = 1;
		struct as4_blob b, rcpt;
		as4_blob_borrow(&b, body, w->payload);
		as4_blob_borrow(&rcpt, "<eb:Receipt/>", 13);
		struct as4_store_put p = {.payloads = &b};
		if (w->dir == AS4_DIR_IN) {
			p.receipt = &rcpt;
			p.check_duplicate = true;
		}
		struct as4_diag d;
		as4_diag_init(&d);
		int64_t t0 = as4_time_mono_ns();
		as4_err err = w->dir == AS4_DIR_IN ? as4_store_put_inbound(w->st, &r, &p, NULL, &d)
		                                   : as4_store_submit(w->st, &r, &p, &d);
		w->lat_us[i] = (as4_time_mono_ns() - t0) / 1000;
		/* pl lives on the stack: detach it before the record is cleaned up */
		r.payloads = NULL;
		r.n_payloads = 0;
		free(pl.content_id);
		free(pl.mime_type);
		free(pl.file);
		as4_msgrec_cleanup(&r);
		if (err != AS4_OK) {
			w->err = err;
			if (as4_str_copy(w->diag, sizeof(w->diag), as4_diag_text(&d)) != AS4_OK) {
				w->diag[0] = '\0';
			}
			break;
		}
	}
	free(body);
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static unsigned arg_u(int argc, char **argv, int i, unsigned def)
{
	uint64_t v;
	if (argc <= i) {
		return def;
	}
	if (as4_parse_u64(argv[i], 1u << 30, &v) != AS4_OK) {
		fprintf(stderr, "bad number: %s\n", argv[i]);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: bench_store DIR [threads] [per_thread] [payload] "
		      "[fdatasync|syncfs|none] [in|out]\n",
		      stderr);
		return 2;
	}
	unsigned threads = arg_u(argc, argv, 2, 8);
	unsigned per = arg_u(argc, argv, 3, 500);
	unsigned payload = arg_u(argc, argv, 4, 10240);
	struct as4_store_opts o = {0};
	const char *sync = argc > 5 ? argv[5] : "fdatasync";
	if (strcmp(sync, "syncfs") == 0) {
		o.sync = AS4_STORE_SYNC_SYNCFS;
	} else if (strcmp(sync, "none") == 0) {
		o.sync = AS4_STORE_SYNC_NONE;
	} else if (strcmp(sync, "fdatasync") != 0) {
		fprintf(stderr, "unknown sync mode %s\n", sync);
		return 2;
	}
	enum as4_dir dir = argc > 6 && strcmp(argv[6], "in") == 0 ? AS4_DIR_IN : AS4_DIR_OUT;
	if (threads == 0 || threads > 256 || per == 0) {
		fputs("threads must be 1..256 and per_thread > 0\n", stderr);
		return 2;
	}
	struct as4_store *st = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	if (as4_store_open(argv[1], &o, &st, &d) != AS4_OK) {
		fprintf(stderr, "open: %s\n", as4_diag_text(&d));
		return 1;
	}
	struct worker *w = calloc(threads, sizeof(*w));
	pthread_t *th = calloc(threads, sizeof(*th));
	int64_t *lat = calloc((size_t)threads * per, sizeof(*lat));
	if (w == NULL || th == NULL || lat == NULL) {
		fputs("out of memory\n", stderr);
		return 1;
	}
	int64_t t0 = as4_time_mono_ns();
	for (unsigned i = 0; i < threads; i++) {
		w[i] = (struct worker){.st = st,
		                       .idx = i,
		                       .count = per,
		                       .payload = payload,
		                       .dir = dir,
		                       .lat_us = lat + (size_t)i * per};
		if (pthread_create(&th[i], NULL, run, &w[i]) != 0) {
			fputs("pthread_create failed\n", stderr);
			return 1;
		}
	}
	int rc = 0;
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		if (w[i].err != AS4_OK) {
			fprintf(stderr, "thread %u: %s\n", i, w[i].diag);
			rc = 1;
		}
	}
	double secs = (double)(as4_time_mono_ns() - t0) / 1e9;
	struct as4_store_stats s;
	if (as4_store_stats(st, &s, &d) != AS4_OK) {
		fprintf(stderr, "stats: %s\n", as4_diag_text(&d));
		rc = 1;
	}
	size_t n = (size_t)threads * per;
	qsort(lat, n, sizeof(*lat), cmp_i64);
	printf("%s sync=%s threads=%u msgs=%zu payload=%u: %.0f commits/s, %.2f s, "
	       "avg batch %.1f, latency p50 %lld us p99 %lld us max %lld us\n",
	       dir == AS4_DIR_IN ? "put_inbound" : "submit", sync, threads, n, payload,
	       (double)n / secs, secs,
	       s.batches > 0 ? (double)s.batched_ops / (double)s.batches : 0.0,
	       (long long)lat[n / 2], (long long)lat[n * 99 / 100], (long long)lat[n - 1]);
	/* Search cost on what was just loaded (operations: answers well under a second). */
	struct {
		const char *name;
		struct as4_store_filter f;
	} q[] = {
	        {"newest 100", {0}},
	        {"state=queued", {.state = AS4_ST_QUEUED}},
	        {"conversation (1 hit)", {.conversation_id = "bench-3-7@bench"}},
	        {"gln either end", {.gln = "5790000000002"}},
	        {"no hit, two unselective fields",
	         {.from_party = "0088:5790000000002", .to_party = "0088:5790000000002"}},
	};
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		struct as4_msgrec *recs = NULL;
		size_t got = 0;
		char next[AS4_STORE_CURSOR_MAX];
		int64_t q0 = as4_time_mono_ns();
		as4_err err = as4_store_search(st, &q[i].f, NULL, 100, &recs, &got, next, &d);
		double ms = (double)(as4_time_mono_ns() - q0) / 1e6;
		printf("search %-32s %s: %zu records in %.2f ms%s\n", q[i].name,
		       err == AS4_OK ? "ok" : as4_strerror(err), got, ms,
		       next[0] != '\0' ? " (more)" : "");
		as4_msgrec_array_free(recs, got);
	}
	as4_store_close(st);
	free(lat);
	free(th);
	free(w);
	return rc;
}
