/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Search latency on a large store: what GET /api/v1/messages costs an administrator with a
 * million messages.
 *
 *   bench_search DIR [messages=1000000] [threads=64] [runs=40]
 *
 * When DIR holds no store yet it is loaded first (outside the timing): 70 % outbound and 30 %
 * inbound records without payload files, 50 partner parties, 1000 final recipients (GLNs),
 * 3 services, 10 actions, conversations of 4 messages; outbound messages then end delivered
 * (95 %) or failed with EBMS:0301 (1 %) after passing through sending, or stay queued. The store is
 * written without syncs (AS4_STORE_SYNC_NONE): the load is setup, not the measurement. An existing
 * store in DIR is reused as it is, so several runs can share one load.
 *
 * Then each query below runs `runs` times with varying values (first page of 50, as the API
 * asks for by default) and the median, 95th percentile and maximum are printed, with the
 * records found; "deep paging" follows next_cursor through 20 pages.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "as4/store.h"
#include "as4/str.h"
#include "as4/time.h"

#define PARTNERS   50
#define RECIPIENTS 1000
#define ACTIONS    10
#define PAGE       50

struct loader {
	struct as4_store *st;
	unsigned idx, threads;
	unsigned long total;
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

AS4_PRINTF(1, 2) static char *fmt(const char *f, ...)
{
	char buf[160];
	va_list ap;
	va_start(ap, f);
	int n = vsnprintf(buf, sizeof(buf), f, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		exit(1);
	}
	return xdup(buf);
}

/* A GLN with a valid check digit for recipient number k. */
static char *gln(unsigned long k)
{
	char g[14];
	if (as4_str_fmt(g, sizeof(g), "579%09lu", k) != AS4_OK) {
		exit(1);
	}
	unsigned sum = 0;
	for (int i = 0; i < 12; i++) {
		unsigned dgt = (unsigned)(g[11 - i] - '0');
		sum += (i % 2 == 0) ? dgt * 3 : dgt;
	}
	g[12] = (char)('0' + (10 - sum % 10) % 10);
	g[13] = '\0';
	char id[32];
	if (as4_str_fmt(id, sizeof(id), "0088:%s", g) != AS4_OK) {
		exit(1);
	}
	return xdup(id);
}

static void fill(struct as4_msgrec *r, unsigned long n)
{
	as4_msgrec_init(r);
	bool out = n % 10 < 7;
	r->dir = out ? AS4_DIR_OUT : AS4_DIR_IN;
	r->message_id = fmt("m%lu@bench", n);
	r->pmode_id = fmt("pmode-%lu", n % 5);
	char *partner = fmt("party-%02lu", (n / 7) % PARTNERS);
	r->from.type = xdup("urn:fdc:peppol.eu:2017:identifiers:ap");
	r->to.type = xdup("urn:fdc:peppol.eu:2017:identifiers:ap");
	r->from.value = out ? xdup("ap1") : partner;
	r->to.value = out ? partner : xdup("ap1");
	r->original_sender = gln(n % 97);
	r->final_recipient = gln(n % RECIPIENTS);
	r->service = fmt("urn:ehmi:service:%lu", n % 3);
	r->action = fmt("urn:medcom:action:%lu", (n / 3) % ACTIONS);
	r->conversation_id = fmt("conv-%lu", n / 4);
	r->endpoint_url = out ? xdup("https://partner.example/as4") : NULL;
	r->ebms_timestamp_ms = as4_time_now_ms();
}

static void *load(void *arg)
{
	struct loader *l = arg;
	struct as4_diag d;
	for (unsigned long n = l->idx; n < l->total; n += l->threads) {
		struct as4_msgrec r;
		fill(&r, n);
		struct as4_store_put p = {0};
		as4_diag_init(&d);
		as4_err err = r.dir == AS4_DIR_OUT ? as4_store_submit(l->st, &r, &p, &d)
		                                   : as4_store_put_inbound(l->st, &r, &p, NULL, &d);
		if (err == AS4_OK && r.dir == AS4_DIR_OUT && n % 100 != 3) {
			struct as4_store_update u = {0};
			bool failed = n % 100 == 1;
			bool queued = n % 100 == 2 || n % 100 == 5 || n % 100 == 7 || n % 100 == 9;
			if (!queued) {
				/* as a send worker does: claimed (sending), then the outcome */
				u.to = AS4_ST_SENDING;
				u.reason = "claimed for attempt 1";
				err = as4_store_transition(l->st, r.id, &u, &d);
				u.to = failed ? AS4_ST_FAILED : AS4_ST_DELIVERED;
				u.reason =
				        failed ? "no receipt after 6 attempts" : "receipt verified";
				u.ebms_code = failed ? "EBMS:0301" : NULL;
				if (err == AS4_OK) {
					err = as4_store_transition(l->st, r.id, &u, &d);
				}
			}
		}
		as4_msgrec_cleanup(&r);
		if (err != AS4_OK) {
			l->err = err;
			if (as4_str_copy(l->diag, sizeof(l->diag), as4_diag_text(&d)) != AS4_OK) {
				l->diag[0] = '\0';
			}
			return NULL;
		}
	}
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static unsigned long arg_u(int argc, char **argv, int i, unsigned long def)
{
	uint64_t v;
	if (argc <= i) {
		return def;
	}
	if (as4_parse_u64(argv[i], 100000000, &v) != AS4_OK || v == 0) {
		fprintf(stderr, "bad number: %s\n", argv[i]);
		exit(2);
	}
	return (unsigned long)v;
}

/* The filter of query q for run k (values vary between runs). */
static const char *query(unsigned q, unsigned k, unsigned long total, int64_t t_mid,
                         struct as4_store_filter *f, char *buf, size_t cap)
{
	memset(f, 0, sizeof(*f));
	switch (q) {
	case 0:
		return "no filter (newest 50)";
	case 1:
		f->dir = AS4_DIR_OUT;
		f->state = AS4_ST_FAILED;
		return "direction=out state=failed (1 %)";
	case 2:
		f->ebms_error = "EBMS:0301";
		return "ebms_error=EBMS:0301";
	case 3:
		if (as4_str_fmt(buf, cap, "party-%02u", k % PARTNERS) != AS4_OK) {
			exit(1);
		}
		f->party = buf;
		return "party (1 of 50)";
	case 4: {
		static char g[32];
		char *s = gln((unsigned long)k * 7 % RECIPIENTS);
		if (as4_str_copy(g, sizeof(g), s) != AS4_OK) {
			exit(1);
		}
		free(s);
		f->final_recipient = g;
		return "final_recipient (1 of 1000)";
	}
	case 5:
		if (as4_str_fmt(buf, cap, "conv-%lu", (unsigned long)k * 7919 % (total / 4)) !=
		    AS4_OK) {
			exit(1);
		}
		f->conversation_id = buf;
		return "conversation_id (4 messages)";
	case 6:
		if (as4_str_fmt(buf, cap, "m%lu@bench", (unsigned long)k * 104729 % total) !=
		    AS4_OK) {
			exit(1);
		}
		f->message_id = buf;
		return "message_id (1 message)";
	case 7:
		f->created_from_ms = t_mid;
		f->created_to_ms = t_mid + 1000;
		return "since/until (1 s window)";
	case 8:
		if (as4_str_fmt(buf, cap, "urn:medcom:action:%u", k % ACTIONS) != AS4_OK) {
			exit(1);
		}
		f->action = buf;
		f->dir = AS4_DIR_IN;
		return "action + direction=in";
	default:
		f->state = AS4_ST_QUEUED;
		if (as4_str_fmt(buf, cap, "party-%02u", k % PARTNERS) != AS4_OK) {
			exit(1);
		}
		f->to_party = buf;
		return "state=queued to_party (0.1 %)";
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: bench_search DIR [messages=1000000] [threads=64] [runs=40]\n",
		      stderr);
		return 2;
	}
	unsigned long total = arg_u(argc, argv, 2, 1000000);
	unsigned threads = (unsigned)arg_u(argc, argv, 3, 64);
	unsigned runs = (unsigned)arg_u(argc, argv, 4, 40);
	struct as4_store_opts o = {0};
	o.sync = AS4_STORE_SYNC_NONE;
	o.map_size = 64ULL << 30;
	struct as4_store *st = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	if (as4_store_open(argv[1], &o, &st, &d) != AS4_OK) {
		fprintf(stderr, "open: %s\n", as4_diag_text(&d));
		return 1;
	}
	struct as4_store_stats s;
	if (as4_store_stats(st, &s, &d) != AS4_OK) {
		fprintf(stderr, "stats: %s\n", as4_diag_text(&d));
		return 1;
	}
	int rc = 0;
	if (s.messages == 0) {
		struct loader *l = calloc(threads, sizeof(*l));
		pthread_t *th = calloc(threads, sizeof(*th));
		if (l == NULL || th == NULL) {
			return 1;
		}
		int64_t t0 = as4_time_mono_ns();
		for (unsigned i = 0; i < threads; i++) {
			l[i] = (struct loader){st, i, threads, total, AS4_OK, ""};
			if (pthread_create(&th[i], NULL, load, &l[i]) != 0) {
				return 1;
			}
		}
		for (unsigned i = 0; i < threads; i++) {
			pthread_join(th[i], NULL);
			if (l[i].err != AS4_OK) {
				fprintf(stderr, "loader %u: %s\n", i, l[i].diag);
				rc = 1;
			}
		}
		printf("loaded %lu messages in %.1f s\n", total,
		       (double)(as4_time_mono_ns() - t0) / 1e9);
		free(l);
		free(th);
		if (rc != 0 || as4_store_stats(st, &s, &d) != AS4_OK) {
			return 1;
		}
	}
	total = (unsigned long)s.messages;
	printf("store: %llu messages (%llu delivered, %llu failed, %llu queued, %llu received), "
	       "map %.0f MiB used\n",
	       (unsigned long long)s.messages, (unsigned long long)s.by_state[AS4_ST_DELIVERED],
	       (unsigned long long)s.by_state[AS4_ST_FAILED],
	       (unsigned long long)s.by_state[AS4_ST_QUEUED],
	       (unsigned long long)s.by_state[AS4_ST_RECEIVED], (double)s.map_used / 1048576.0);

	/* the creation time in the middle of the load, for the time-window query */
	struct as4_msgrec mid;
	as4_msgrec_init(&mid);
	int64_t t_mid = 0;
	if (as4_store_get(st, total / 2, &mid, &d) == AS4_OK) {
		t_mid = mid.created_ms;
	}
	as4_msgrec_cleanup(&mid);

	int64_t *lat = calloc(runs, sizeof(*lat));
	if (lat == NULL) {
		return 1;
	}
	printf("%-32s %9s %9s %9s %8s\n", "query (first page of 50)", "p50 ms", "p95 ms", "max ms",
	       "found");
	for (unsigned q = 0; q < 10; q++) {
		const char *name = NULL;
		size_t found = 0;
		for (unsigned k = 0; k < runs; k++) {
			struct as4_store_filter f;
			char buf[160];
			name = query(q, k, total, t_mid, &f, buf, sizeof(buf));
			struct as4_msgrec *recs = NULL;
			size_t n = 0;
			char next[AS4_STORE_CURSOR_MAX];
			int64_t t0 = as4_time_mono_ns();
			as4_err err = as4_store_search(st, &f, NULL, PAGE, &recs, &n, next, &d);
			lat[k] = as4_time_mono_ns() - t0;
			if (err != AS4_OK) {
				fprintf(stderr, "%s: %s\n", name, as4_diag_text(&d));
				return 1;
			}
			found += n;
			as4_msgrec_array_free(recs, n);
		}
		qsort(lat, runs, sizeof(*lat), cmp_i64);
		printf("%-32s %9.2f %9.2f %9.2f %8.1f\n", name, (double)lat[runs / 2] / 1e6,
		       (double)lat[(runs * 95) / 100 < runs ? (runs * 95) / 100 : runs - 1] / 1e6,
		       (double)lat[runs - 1] / 1e6, (double)found / runs);
	}
	/* deep paging: 20 pages of 50 through everything, by cursor */
	char cursor[AS4_STORE_CURSOR_MAX] = "";
	int64_t worst = 0, sum = 0;
	for (int page = 0; page < 20; page++) {
		struct as4_store_filter f;
		memset(&f, 0, sizeof(f));
		struct as4_msgrec *recs = NULL;
		size_t n = 0;
		char next[AS4_STORE_CURSOR_MAX];
		int64_t t0 = as4_time_mono_ns();
		if (as4_store_search(st, &f, cursor, PAGE, &recs, &n, next, &d) != AS4_OK) {
			fprintf(stderr, "paging: %s\n", as4_diag_text(&d));
			return 1;
		}
		int64_t t = as4_time_mono_ns() - t0;
		sum += t;
		worst = t > worst ? t : worst;
		as4_msgrec_array_free(recs, n);
		if (as4_str_copy(cursor, sizeof(cursor), next) != AS4_OK || next[0] == '\0') {
			break;
		}
	}
	printf("%-32s %9.2f %9s %9.2f\n", "deep paging (20 pages, mean)", (double)sum / 20e6, "",
	       (double)worst / 1e6);
	free(lat);
	as4_store_close(st);
	return rc;
}
