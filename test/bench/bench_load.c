/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_load: a load generator for as4d's submission API, and the judge of what happened to
 * what it submitted (not a ctest; test/bench/run_bench.py drives it, see docs/benchmarks.md).
 *
 *   bench_load --api http://127.0.0.1:8081 --token T --pmode ID
 *              [--size BYTES] [--rate PER_SECOND] [--duration SECONDS] [--count N]
 *              [--concurrency N] [--file PATH] [--wait SECONDS] [--prefix TEXT]
 *
 * Submits messages (JSON with a base64 payload of --size bytes of XML-like text, or with
 * --file a multipart/form-data upload streamed from the file) with at most --concurrency
 * requests in flight, paced to --rate per second when given (else as fast as accepted),
 * for --duration seconds or --count messages. Then (--wait) it polls every accepted message
 * until it is delivered or failed and reads from its event history, in the access point's
 * own clock, the time from submission to "delivered".
 *
 * Output: one line of key=value figures (accepted, refused, submit_per_s, delivered, failed,
 * window_s, delivered_per_s, latency p50/p90/p99/max in ms, submit latency p50/p99 in ms).
 * delivered_per_s is the number delivered divided by the time from the first submission to
 * the last delivery (both in the access point's clock): the sustained end-to-end rate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "as4/str.h"
#include "as4/time.h"

struct opts {
	const char *api;
	const char *token;
	const char *pmode;
	const char *file;
	const char *prefix;
	size_t size;
	double rate;
	double duration;
	size_t count;
	unsigned concurrency;
	double wait;
};

/* One message in flight or done. */
struct msg {
	char id[96];
	long status;
	int64_t t_start_us;
	int64_t t_done_us;
	int64_t created_ms; /* the access point's clocks, from the record */
	int64_t delivered_ms;
	int state; /* 0 unknown, 1 delivered, 2 failed */
};

struct req {
	CURL *h;
	struct curl_slist *hdrs;
	curl_mime *mime;
	char *body;
	struct msg *m;
	char resp[8192];
	size_t resp_len;
};

static void die(const char *what)
{
	fprintf(stderr, "bench_load: %s\n", what);
	exit(2);
}

static int64_t now_us(void)
{
	return as4_time_mono_ns() / 1000;
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
	struct req *r = ud;
	size_t len = sz * n;
	size_t room = sizeof(r->resp) - 1 - r->resp_len;
	size_t take = len < room ? len : room;
	memcpy(r->resp + r->resp_len, p, take);
	r->resp_len += take;
	r->resp[r->resp_len] = '\0';
	return len;
}

static char *b64(const unsigned char *p, size_t n)
{
	static const char tab[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((n + 2) / 3 * 4 + 1);
	if (out == NULL) {
		die("out of memory");
	}
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n) {
			v |= (unsigned)p[i + 1] << 8;
		}
		if (i + 2 < n) {
			v |= p[i + 2];
		}
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

/* XML-like text that compresses like a FHIR document (about 4:1), distinct per run. */
static unsigned char *payload(size_t n)
{
	unsigned char *p = malloc(n > 0 ? n : 1);
	if (p == NULL) {
		die("out of memory");
	}
	static const char *const words[] = {
	        "<entry><resource><Patient><id value=\"",
	        "\"/><name><family value=\"Hansen",
	        "\"/></name><birthDate value=\"1970-01-0",
	        "\"/></Patient></resource></entry>\n",
	        "<Encounter><status value=\"in-progress\"/><class code=\"IMP\"/>",
	        "</Encounter>\n"};
	uint64_t x = (uint64_t)now_us() | 1;
	size_t i = 0;
	while (i < n) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		const char *w = words[x % 6];
		size_t wl = strlen(w);
		for (size_t k = 0; k < wl && i < n; k++) {
			p[i++] = (unsigned char)w[k];
		}
		if (i < n) {
			p[i++] = (unsigned char)('0' + (x >> 8) % 10);
		}
	}
	return p;
}

static void start_submit(CURLM *multi, struct req *r, const struct opts *o, struct msg *m,
                         const char *b64payload)
{
	r->m = m;
	r->resp_len = 0;
	r->resp[0] = '\0';
	char url[512];
	snprintf(url, sizeof(url), "%s/api/v1/messages", o->api);
	char auth[512];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->token);
	curl_easy_reset(r->h);
	curl_easy_setopt(r->h, CURLOPT_URL, url);
	curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(r->h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->h, CURLOPT_TCP_NODELAY, 1L);
	r->hdrs = curl_slist_append(NULL, auth);
	r->hdrs = curl_slist_append(r->hdrs, "Expect:");
	if (o->file != NULL) {
		r->mime = curl_mime_init(r->h);
		curl_mimepart *part = curl_mime_addpart(r->mime);
		char meta[512];
		snprintf(meta, sizeof(meta), "{\"pmode\":\"%s\",\"message_id\":\"%s\"}", o->pmode,
		         m->id);
		curl_mime_name(part, "metadata");
		curl_mime_type(part, "application/json");
		curl_mime_data(part, meta, CURL_ZERO_TERMINATED);
		part = curl_mime_addpart(r->mime);
		curl_mime_name(part, "payload");
		curl_mime_type(part, "application/octet-stream");
		curl_mime_filedata(part, o->file);
		curl_easy_setopt(r->h, CURLOPT_MIMEPOST, r->mime);
	} else {
		size_t cap = strlen(b64payload) + 512;
		r->body = malloc(cap);
		if (r->body == NULL) {
			die("out of memory");
		}
		snprintf(r->body, cap,
		         "{\"pmode\":\"%s\",\"message_id\":\"%s\",\"payloads\":[{\"mime_type\":"
		         "\"application/xml\",\"content\":\"%s\"}]}",
		         o->pmode, m->id, b64payload);
		r->hdrs = curl_slist_append(r->hdrs, "Content-Type: application/json");
		curl_easy_setopt(r->h, CURLOPT_POSTFIELDS, r->body);
	}
	curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, r->hdrs);
	m->t_start_us = now_us();
	curl_multi_add_handle(multi, r->h);
}

static void start_get(CURLM *multi, struct req *r, const struct opts *o, struct msg *m)
{
	r->m = m;
	r->resp_len = 0;
	r->resp[0] = '\0';
	char url[512];
	snprintf(url, sizeof(url), "%s/api/v1/messages/%s?direction=out", o->api, m->id);
	char auth[512];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->token);
	curl_easy_reset(r->h);
	curl_easy_setopt(r->h, CURLOPT_URL, url);
	curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(r->h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
	r->hdrs = curl_slist_append(NULL, auth);
	curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, r->hdrs);
	curl_multi_add_handle(multi, r->h);
}

static void finish_req(CURLM *multi, struct req *r)
{
	curl_multi_remove_handle(multi, r->h);
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	curl_mime_free(r->mime);
	r->mime = NULL;
	free(r->body);
	r->body = NULL;
}

static int64_t parse_time(const char *s)
{
	int64_t ms = 0;
	if (s == NULL || as4_time_parse(s, &ms) != AS4_OK) {
		return 0;
	}
	return ms;
}

/* Read state, created time and the time of the "delivered" event from a record. */
static void judge(struct msg *m, const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, 0, &jerr);
	if (v == NULL) {
		return;
	}
	const char *state = json_string_value(json_object_get(v, "state"));
	m->created_ms = parse_time(json_string_value(json_object_get(v, "created")));
	if (state != NULL && strcmp(state, "delivered") == 0) {
		m->state = 1;
		json_t *ev = json_object_get(v, "events");
		for (size_t i = 0; i < json_array_size(ev); i++) {
			json_t *e = json_array_get(ev, i);
			const char *to = json_string_value(json_object_get(e, "to"));
			if (to != NULL && strcmp(to, "delivered") == 0) {
				m->delivered_ms =
				        parse_time(json_string_value(json_object_get(e, "time")));
			}
		}
	} else if (state != NULL && strcmp(state, "failed") == 0) {
		m->state = 2;
	}
	json_decref(v);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(const int64_t *v, size_t n, double p)
{
	if (n == 0) {
		return 0;
	}
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i < n ? i : n - 1];
}

static void usage(void)
{
	fputs("usage: bench_load --api URL --token T --pmode ID [--size BYTES] [--rate N]\n"
	      "       [--duration S] [--count N] [--concurrency N] [--file PATH] [--wait S]\n"
	      "       [--prefix TEXT]\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {.size = 10240, .concurrency = 32, .duration = 10, .prefix = "bench"};
	if (argc % 2 != 1) {
		usage(); /* options come in pairs */
	}
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i];
		const char *v = argv[i + 1];
		if (strcmp(a, "--api") == 0) {
			o.api = v;
		} else if (strcmp(a, "--token") == 0) {
			o.token = v;
		} else if (strcmp(a, "--pmode") == 0) {
			o.pmode = v;
		} else if (strcmp(a, "--file") == 0) {
			o.file = v;
		} else if (strcmp(a, "--prefix") == 0) {
			o.prefix = v;
		} else if (strcmp(a, "--size") == 0) {
			o.size = (size_t)strtoull(v, NULL, 10);
		} else if (strcmp(a, "--rate") == 0) {
			o.rate = strtod(v, NULL);
		} else if (strcmp(a, "--duration") == 0) {
			o.duration = strtod(v, NULL);
		} else if (strcmp(a, "--count") == 0) {
			o.count = (size_t)strtoull(v, NULL, 10);
		} else if (strcmp(a, "--concurrency") == 0) {
			o.concurrency = (unsigned)strtoul(v, NULL, 10);
		} else if (strcmp(a, "--wait") == 0) {
			o.wait = strtod(v, NULL);
		} else {
			usage();
		}
	}
	if (o.api == NULL || o.token == NULL || o.pmode == NULL || o.concurrency == 0) {
		usage();
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		die("curl init");
	}
	size_t cap = o.count > 0 ? o.count
	                         : (size_t)((o.rate > 0 ? o.rate : 5000) * o.duration * 1.2) + 16;
	struct msg *msgs = calloc(cap, sizeof(*msgs));
	struct req *reqs = calloc(o.concurrency, sizeof(*reqs));
	struct req **free_reqs = calloc(o.concurrency, sizeof(*free_reqs));
	if (msgs == NULL || reqs == NULL || free_reqs == NULL) {
		die("out of memory");
	}
	size_t n_free = 0;
	for (unsigned i = 0; i < o.concurrency; i++) {
		reqs[i].h = curl_easy_init();
		if (reqs[i].h == NULL) {
			die("curl handle");
		}
		free_reqs[n_free++] = &reqs[i];
	}
	char *pl_b64 = NULL;
	if (o.file == NULL) {
		unsigned char *pl = payload(o.size);
		pl_b64 = b64(pl, o.size);
		free(pl);
	}
	CURLM *multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)o.concurrency);
	char run[32];
	snprintf(run, sizeof(run), "%llx", (unsigned long long)as4_time_now_ms() & 0xffffffffffull);

	/* ---- submit ---- */
	size_t started = 0, accepted = 0, refused = 0;
	int64_t t0 = now_us();
	int64_t stop_at = t0 + (int64_t)(o.duration * 1e6);
	for (;;) {
		int64_t t = now_us();
		bool more = o.count > 0 ? started < o.count : t < stop_at && started < cap;
		while (more && n_free > 0) {
			if (o.rate > 0 && (double)(t - t0) < (double)started * 1e6 / o.rate) {
				break; /* paced: not yet time for the next one */
			}
			struct msg *m = &msgs[started++];
			snprintf(m->id, sizeof(m->id), "%s-%s-%zu@bench", o.prefix, run, started);
			start_submit(multi, free_reqs[--n_free], &o, m, pl_b64);
			more = o.count > 0 ? started < o.count : t < stop_at && started < cap;
		}
		int running = 0;
		curl_multi_perform(multi, &running);
		CURLMsg *cm;
		int left;
		while ((cm = curl_multi_info_read(multi, &left)) != NULL) {
			if (cm->msg != CURLMSG_DONE) {
				continue;
			}
			struct req *r = NULL;
			for (unsigned i = 0; i < o.concurrency; i++) {
				if (reqs[i].h == cm->easy_handle) {
					r = &reqs[i];
				}
			}
			long st = 0;
			curl_easy_getinfo(cm->easy_handle, CURLINFO_RESPONSE_CODE, &st);
			r->m->status = cm->data.result == CURLE_OK ? st : -1;
			r->m->t_done_us = now_us();
			if (st == 202) {
				accepted++;
			} else {
				refused++;
				if (refused <= 3) {
					fprintf(stderr, "bench_load: submit answered %ld: %.300s\n",
					        st, r->resp);
				}
			}
			finish_req(multi, r);
			free_reqs[n_free++] = r;
		}
		if (!more && running == 0 && n_free == o.concurrency) {
			break;
		}
		int wait_ms = 1;
		if (o.rate > 0 && more && n_free > 0) {
			double next_us = (double)started * 1e6 / o.rate - (double)(now_us() - t0);
			wait_ms = next_us > 1000 ? (int)(next_us / 1000) : 0;
			if (wait_ms > 50) {
				wait_ms = 50;
			}
		}
		curl_multi_poll(multi, NULL, 0, wait_ms, NULL);
	}
	double submit_s = (double)(now_us() - t0) / 1e6;
	int64_t *sub_lat = calloc(started + 1, sizeof(*sub_lat));
	size_t n_sub = 0;
	for (size_t i = 0; i < started; i++) {
		if (msgs[i].status == 202) {
			sub_lat[n_sub++] = msgs[i].t_done_us - msgs[i].t_start_us;
		}
	}
	qsort(sub_lat, n_sub, sizeof(*sub_lat), cmp_i64);

	/* ---- wait for outcomes and read their times ---- */
	size_t delivered = 0, failed = 0;
	int64_t first_created = 0, last_delivered = 0;
	int64_t *lat = calloc(started + 1, sizeof(*lat));
	size_t n_lat = 0;
	if (o.wait > 0) {
		int64_t give_up = now_us() + (int64_t)(o.wait * 1e6);
		/*
		 * Watch only the last accepted message until it is decided (polling everything
		 * would load the access point being measured), then sweep all of them.
		 */
		struct msg *last = NULL;
		for (size_t i = started; i > 0 && last == NULL; i--) {
			last = msgs[i - 1].status == 202 ? &msgs[i - 1] : NULL;
		}
		while (last != NULL && last->state == 0 && now_us() < give_up) {
			start_get(multi, free_reqs[--n_free], &o, last);
			int running = 1;
			while (running > 0) {
				curl_multi_perform(multi, &running);
				curl_multi_poll(multi, NULL, 0, 5, NULL);
			}
			CURLMsg *cm;
			int left;
			while ((cm = curl_multi_info_read(multi, &left)) != NULL) {
				struct req *r = NULL;
				for (unsigned i = 0; i < o.concurrency; i++) {
					if (reqs[i].h == cm->easy_handle) {
						r = &reqs[i];
					}
				}
				judge(r->m, r->resp);
				finish_req(multi, r);
				free_reqs[n_free++] = r;
			}
			if (last->state == 0) {
				struct timespec ts = {0, 100 * 1000000L};
				nanosleep(&ts, NULL);
			}
		}
		for (;;) {
			size_t open = 0, next = 0;
			for (;;) {
				while (n_free > 0 && next < started) {
					struct msg *m = &msgs[next++];
					if (m->status != 202 || m->state != 0) {
						continue;
					}
					open++;
					start_get(multi, free_reqs[--n_free], &o, m);
				}
				int running = 0;
				curl_multi_perform(multi, &running);
				CURLMsg *cm;
				int left;
				while ((cm = curl_multi_info_read(multi, &left)) != NULL) {
					if (cm->msg != CURLMSG_DONE) {
						continue;
					}
					struct req *r = NULL;
					for (unsigned i = 0; i < o.concurrency; i++) {
						if (reqs[i].h == cm->easy_handle) {
							r = &reqs[i];
						}
					}
					judge(r->m, r->resp);
					finish_req(multi, r);
					free_reqs[n_free++] = r;
				}
				if (next >= started && running == 0 && n_free == o.concurrency) {
					break;
				}
				curl_multi_poll(multi, NULL, 0, 5, NULL);
			}
			size_t undecided = 0;
			for (size_t i = 0; i < started; i++) {
				undecided += msgs[i].status == 202 && msgs[i].state == 0;
			}
			if (undecided == 0 || now_us() > give_up) {
				break;
			}
			struct timespec ts = {1, 0};
			nanosleep(&ts, NULL);
			(void)open;
		}
		for (size_t i = 0; i < started; i++) {
			struct msg *m = &msgs[i];
			if (m->state == 1) {
				delivered++;
				if (m->delivered_ms > 0 && m->created_ms > 0) {
					lat[n_lat++] = m->delivered_ms - m->created_ms;
				}
				if (first_created == 0 || m->created_ms < first_created) {
					first_created = m->created_ms;
				}
				if (m->delivered_ms > last_delivered) {
					last_delivered = m->delivered_ms;
				}
			} else if (m->state == 2) {
				failed++;
			}
		}
		qsort(lat, n_lat, sizeof(*lat), cmp_i64);
	}
	double window_s = last_delivered > first_created
	                          ? (double)(last_delivered - first_created) / 1000
	                          : 0;
	printf("accepted=%zu refused=%zu submit_s=%.2f submit_per_s=%.1f submit_p50_ms=%.2f "
	       "submit_p99_ms=%.2f",
	       accepted, refused, submit_s, (double)accepted / submit_s,
	       pct(sub_lat, n_sub, 0.5) / 1e3, pct(sub_lat, n_sub, 0.99) / 1e3);
	if (o.wait > 0) {
		printf(" delivered=%zu failed=%zu undecided=%zu window_s=%.2f delivered_per_s=%.1f "
		       "lat_p50_ms=%.0f lat_p90_ms=%.0f lat_p99_ms=%.0f lat_max_ms=%.0f",
		       delivered, failed, accepted - delivered - failed, window_s,
		       window_s > 0 ? (double)delivered / window_s : 0, pct(lat, n_lat, 0.5),
		       pct(lat, n_lat, 0.9), pct(lat, n_lat, 0.99), pct(lat, n_lat, 1.0));
	}
	printf("\n");
	for (unsigned i = 0; i < o.concurrency; i++) {
		curl_easy_cleanup(reqs[i].h);
	}
	curl_multi_cleanup(multi);
	curl_global_cleanup();
	free(pl_b64);
	free(lat);
	free(sub_lat);
	free(msgs);
	free(reqs);
	free(free_reqs);
	return refused > 0 || failed > 0 ? 1 : 0;
}
