/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Delivery to the backend by push (webhooks), beside the inbox the backend pulls from.
 *
 * Received messages: each message in the inbox with a webhook (its participant's, else its
 * PMode's, else webhooks.delivery_url) is POSTed there as multipart/form-data (a "metadata"
 * JSON part, then one "payload" part per payload, streamed from the spool files).
 * Only a 2xx answer makes it delivered-to-backend; any other outcome records a
 * failed-to-backend event and the push is retried with exponential backoff. The inbox is the
 * queue, so a restart resumes where it stopped.
 *
 * Notifications: documents queued in the store's outbox (outcomes of sent messages, errors
 * on received ones) are POSTed in order as application/json to webhooks.notification_url and
 * removed from the outbox after a 2xx answer.
 *
 * Delivery is at least once: a crash between the backend's 2xx and the commit that records
 * it repeats that one push, so every request carries an idempotency key (X-AS4-Delivery-Id).
 * A backend that cannot be reached (connection, TLS, timeout, 5xx) backs off as a whole; a
 * message it refuses with 4xx backs off alone, so one bad message does not hold up the rest.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "as4/ap.h"
#include "as4/ebms3.h"
#include "as4/http_client.h"
#include "as4/log.h"
#include "as4/str.h"
#include "as4/time.h"

/* Backoff of a failing backend or message: doubling from FIRST_MS up to MAX_MS, +-20 %. */
#define FIRST_MS 1000
#define MAX_MS   (5 * 60 * 1000)
/* Idle wake-up even without a kick (picks up anything a kick missed). */
#define POLL_MS 1000
/* Inbox records and notifications read per store call. */
#define PAGE 100
/* Backoff entries remembered: URLs and single messages (the oldest entry is forgotten). */
#define MAX_URLS 64
#define MAX_MSGS 1024
/* The backend's answer is not used; a small cap keeps a confused backend harmless. */
#define MAX_ANSWER (64 * 1024)

struct backoff {
	char key[512]; /* URL, or the message id as text */
	int64_t until_ms;
	unsigned fails;
};

struct backoffs {
	struct backoff *v;
	size_t n, cap, next;
};

struct as4_delivery {
	struct as4_ap *ap;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	uint64_t kicks;
	struct backoffs urls;
	struct backoffs msgs;
	uint64_t inbox_after; /* inbox scan position (ids grow with arrival) */
	int64_t rescan_ms;    /* start the inbox scan over at this time (0 = not needed) */
};

/* ---- notification documents ------------------------------------------------------------- */

static char *dump(json_t *v)
{
	char *s = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(v);
	return s;
}

static json_t *str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static char *iso_time(int64_t ms, char out[AS4_TIME_TEXT_MAX])
{
	as4_time_format(ms, out);
	return out;
}

char *as4_delivery_outcome_doc(const struct as4_msgrec *rec, enum as4_msg_state state,
                               const char *reason, const char *code, const char *detail)
{
	char t[AS4_TIME_TEXT_MAX];
	const char *event = state == AS4_ST_DELIVERED ? "message.delivered" : "message.failed";
	json_t *err = code != NULL || detail != NULL
	                      ? json_pack("{s:o, s:o}", "code", str_or_null(code), "detail",
	                                  str_or_null(detail))
	                      : json_null();
	return dump(json_pack(
	        "{s:s, s:s, s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:o, "
	        "s:s, s:o}",
	        "event", event, "message_id", rec->message_id, "id", (json_int_t)rec->id,
	        "direction", "out", "state", as4_msg_state_text(state), "pmode",
	        str_or_null(rec->pmode_id), "to", str_or_null(rec->to.value), "final_recipient",
	        str_or_null(rec->final_recipient), "conversation_id",
	        str_or_null(rec->conversation_id), "reason", str_or_null(reason), "attempts",
	        (json_int_t)rec->attempts, "error", err, "time", iso_time(as4_time_now_ms(), t),
	        "endpoint", str_or_null(rec->endpoint_url)));
}

char *as4_delivery_error_doc(const char *message_id, const char *pmode_id, const char *from,
                             const char *peer, const char *code, const char *detail)
{
	char t[AS4_TIME_TEXT_MAX];
	return dump(json_pack("{s:s, s:o, s:s, s:o, s:o, s:o, s:{s:o, s:o}, s:s}", "event",
	                      "message.refused", "message_id", str_or_null(message_id), "direction",
	                      "in", "pmode", str_or_null(pmode_id), "from", str_or_null(from),
	                      "peer", str_or_null(peer), "error", "code", str_or_null(code),
	                      "detail", str_or_null(detail), "time",
	                      iso_time(as4_time_now_ms(), t)));
}

/* ---- backoff tables ------------------------------------------------------------------------ */

static struct backoff *backoff_find(struct backoffs *b, const char *key)
{
	for (size_t i = 0; i < b->n; i++) {
		if (strcmp(b->v[i].key, key) == 0) {
			return &b->v[i];
		}
	}
	return NULL;
}

/* Time until which key backs off (0 = it does not). */
static int64_t backoff_until(struct backoffs *b, const char *key)
{
	struct backoff *e = backoff_find(b, key);
	return e != NULL ? e->until_ms : 0;
}

static void backoff_clear(struct backoffs *b, const char *key)
{
	struct backoff *e = backoff_find(b, key);
	if (e != NULL) {
		*e = b->v[--b->n];
	}
}

/* Count a failure of key; returns the delay (ms) before the next try. */
static int64_t backoff_fail(struct backoffs *b, const char *key, int64_t now)
{
	struct backoff *e = backoff_find(b, key);
	if (e == NULL) {
		if (b->n < b->cap) {
			e = &b->v[b->n++];
		} else {
			e = &b->v[b->next++ % b->cap]; /* forget one: it is only tried sooner */
		}
		memset(e, 0, sizeof(*e));
		if (as4_str_copy(e->key, sizeof(e->key), key) != AS4_OK) {
			/* a longer key is cut: it then shares its backoff with its prefix twins */
			memcpy(e->key, key, sizeof(e->key) - 1);
			e->key[sizeof(e->key) - 1] = '\0';
		}
	}
	double delay = FIRST_MS;
	for (unsigned i = 0; i < e->fails && delay < MAX_MS; i++) {
		delay *= 2;
	}
	if (delay > MAX_MS) {
		delay = MAX_MS;
	}
	uint32_t rnd = 0;
	if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) == 1) {
		delay *= 0.8 + 0.4 * ((double)rnd / (double)UINT32_MAX);
	}
	e->fails++;
	e->until_ms = now + (int64_t)delay;
	return (int64_t)delay;
}

/* Earliest end of a backoff still in the future (0 = none). */
static int64_t backoff_next(const struct backoffs *b, int64_t now)
{
	int64_t next = 0;
	for (size_t i = 0; i < b->n; i++) {
		if (b->v[i].until_ms > now && (next == 0 || b->v[i].until_ms < next)) {
			next = b->v[i].until_ms;
		}
	}
	return next;
}

/* ---- the HTTP side ------------------------------------------------------------------------- */

/* Header lines for a request: the configured auth header and our own. */
struct headers {
	const char *v[4];
	size_t n;
	char delivery_id[160];
	char message_id[AS4_MESSAGE_ID_MAX + 32];
};

static void headers_init(struct headers *h, const struct as4_config *cfg)
{
	memset(h, 0, sizeof(*h));
	if (cfg->webhooks.auth_header != NULL) {
		h->v[h->n++] = cfg->webhooks.auth_header;
	}
}

/* A media type we can put in a header as it is (no parameters, no control characters). */
static bool header_safe_type(const char *s)
{
	size_t n = 0;
	bool slash = false;
	for (const char *p = s; p != NULL && *p != '\0'; p++, n++) {
		char c = *p;
		if (c == '/') {
			slash = true;
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		             (c >= '0' && c <= '9') || strchr("!#$&^_.+-", c) != NULL)) {
			return false;
		}
	}
	return slash && n > 2 && n < 128;
}

static bool header_safe_charset(const char *s)
{
	size_t n = 0;
	for (const char *p = s; p != NULL && *p != '\0'; p++, n++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == ':')) {
			return false;
		}
	}
	return n > 0 && n < 64;
}

static json_t *props_json(const struct as4_store_prop *p, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++) {
		if (json_array_append_new(a, json_pack("{s:s, s:o, s:s}", "name", p[i].name, "type",
		                                       str_or_null(p[i].type), "value",
		                                       p[i].value)) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* The "metadata" part of a pushed message. */
static char *metadata_doc(const struct as4_msgrec *rec)
{
	char t1[AS4_TIME_TEXT_MAX], t2[AS4_TIME_TEXT_MAX], hex[65];
	json_t *pls = json_array();
	for (size_t i = 0; pls != NULL && i < rec->n_payloads; i++) {
		const struct as4_store_payload *p = &rec->payloads[i];
		as4_hex_encode(p->sha256, sizeof(p->sha256), hex);
		json_t *o =
		        json_pack("{s:I, s:s, s:s, s:o, s:b, s:I, s:s, s:o}", "index",
		                  (json_int_t)i, "content_id", p->content_id, "mime_type",
		                  p->mime_type, "charset", str_or_null(p->charset), "compressed",
		                  p->compressed, "size", (json_int_t)p->size, "sha256", hex,
		                  "properties", props_json(p->props, p->n_props));
		if (json_array_append_new(pls, o) != 0) {
			json_decref(pls);
			pls = NULL;
		}
	}
	if (pls == NULL) {
		return NULL;
	}
	return dump(json_pack(
	        "{s:s, s:I, s:s, s:o, s:{s:o, s:s, s:o}, s:{s:o, s:s, s:o}, s:o, s:o, s:s, s:o, "
	        "s:s, s:o, s:s, s:o, s:s, s:s, s:o, s:o}",
	        "message_id", rec->message_id, "id", (json_int_t)rec->id, "direction", "in",
	        "pmode", str_or_null(rec->pmode_id), "from", "type", str_or_null(rec->from.type),
	        "value", rec->from.value, "role", str_or_null(rec->from_role), "to", "type",
	        str_or_null(rec->to.type), "value", rec->to.value, "role",
	        str_or_null(rec->to_role), "original_sender", str_or_null(rec->original_sender),
	        "final_recipient", str_or_null(rec->final_recipient), "service", rec->service,
	        "service_type", str_or_null(rec->service_type), "action", rec->action, "agreement",
	        str_or_null(rec->agreement), "conversation_id", rec->conversation_id,
	        "ref_to_message_id", str_or_null(rec->ref_to_message_id), "timestamp",
	        iso_time(rec->ebms_timestamp_ms, t1), "received", iso_time(rec->created_ms, t2),
	        "properties", props_json(rec->props, rec->n_props), "payloads", pls));
}

/* A multipart/form-data body as segments over header text and the payload mappings. */
struct form {
	char content_type[128];
	struct as4_buf text;
	size_t *ends; /* text offset where each text run ends; a blob follows each run but last */
	struct as4_mime_seg *segs;
	size_t n_segs;
};

static void form_cleanup(struct form *f)
{
	as4_buf_cleanup(&f->text);
	free(f->ends);
	free(f->segs);
}

static as4_err form_build(struct form *f, const char *metadata, const struct as4_msgrec *rec,
                          const struct as4_blob *blobs)
{
	memset(f, 0, sizeof(*f));
	as4_buf_init(&f->text, 16u * 1024 * 1024);
	uint8_t rnd[12];
	char bnd[25];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		return AS4_E_CRYPTO;
	}
	as4_hex_encode(rnd, sizeof(rnd), bnd);
	if (as4_str_fmt(f->content_type, sizeof(f->content_type),
	                "multipart/form-data; boundary=as4d-%s", bnd) != AS4_OK) {
		return AS4_E_INTERNAL;
	}
	size_t n = rec->n_payloads;
	f->ends = calloc(n + 1, sizeof(*f->ends));
	f->segs = calloc(2 * n + 1, sizeof(*f->segs));
	if (f->ends == NULL || f->segs == NULL) {
		return AS4_E_NOMEM;
	}
	as4_err err = as4_buf_printf(&f->text,
	                             "--as4d-%s\r\nContent-Disposition: form-data; "
	                             "name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n"
	                             "%s\r\n",
	                             bnd, metadata);
	for (size_t i = 0; i < n && err == AS4_OK; i++) {
		const struct as4_store_payload *p = &rec->payloads[i];
		const char *mt =
		        header_safe_type(p->mime_type) ? p->mime_type : "application/octet-stream";
		bool cs = header_safe_charset(p->charset);
		if (i > 0) {
			err = as4_buf_puts(&f->text, "\r\n");
		}
		if (err == AS4_OK) {
			err = as4_buf_printf(&f->text,
			                     "--as4d-%s\r\nContent-Disposition: form-data; "
			                     "name=\"payload\"; filename=\"payload-%zu\"\r\n"
			                     "Content-Type: %s%s%s\r\n\r\n",
			                     bnd, i, mt, cs ? "; charset=" : "",
			                     cs ? p->charset : "");
		}
		f->ends[i] = f->text.len;
	}
	if (err == AS4_OK) {
		err = as4_buf_printf(&f->text, "%s--as4d-%s--\r\n", n > 0 ? "\r\n" : "", bnd);
	}
	if (err != AS4_OK) {
		return err;
	}
	/* the text no longer moves: point the segments into it */
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		size_t end = i < n ? f->ends[i] : f->text.len;
		f->segs[f->n_segs++] =
		        (struct as4_mime_seg){f->text.data + start, end - start, false};
		if (i < n && blobs[i].len > 0) {
			f->segs[f->n_segs++] = (struct as4_mime_seg){blobs[i].data, blobs[i].len,
			                                             blobs[i].file_backed};
		}
		start = end;
	}
	return AS4_OK;
}

/* The outcome of one POST to the backend. */
enum outcome {
	OUT_OK,           /* 2xx */
	OUT_REFUSED,      /* 4xx: this request is refused; others may pass */
	OUT_UNREACHABLE,  /* no answer, TLS, timeout, 5xx: the backend backs off */
	OUT_LOCAL_FAILURE /* we could not build the request (spool file gone, memory) */
};

static enum outcome post(struct as4_http_client *http, const char *url, const char *ctype,
                         const struct as4_mime_seg *segs, size_t n_segs, const struct headers *h,
                         struct as4_diag *d)
{
	struct as4_http_result res;
	as4_http_result_init(&res, MAX_ANSWER);
	enum outcome o = OUT_UNREACHABLE;
	as4_err err = as4_http_post(http, url, ctype, segs, n_segs, h->v, h->n, &res, d);
	if (err == AS4_OK) {
		if (res.status >= 200 && res.status < 300) {
			o = OUT_OK;
		} else {
			/* the backend's own words help the operator; keep them short */
			size_t show = res.body.len < 200 ? res.body.len : 200;
			while (show > 0 && (res.body.data[show - 1] == '\n' ||
			                    res.body.data[show - 1] == '\r')) {
				show--;
			}
			err = as4_diag_set(d, AS4_E_PEER_HTTP, "%s answered HTTP %ld%s%.*s", url,
			                   res.status, show > 0 ? ": " : "", (int)show,
			                   show > 0 ? (const char *)res.body.data : "");
			o = res.status >= 400 && res.status < 500 && res.status != 408 &&
			                    res.status != 429
			            ? OUT_REFUSED
			            : OUT_UNREACHABLE;
		}
	} else if (err == AS4_E_LIMIT) {
		as4_diag_prefix(d, "answer too long: ");
	}
	as4_http_result_cleanup(&res);
	return o;
}

/* ---- the two queues -------------------------------------------------------------------------- */

/*
 * The webhook of a received message, or NULL when it is only for the inbox: the webhook of the
 * participant it is for (finalRecipient, a MedCom participant), else the PMode's, else the
 * configuration's.
 */
static const char *webhook_of(const struct as4_config *cfg, const struct as4_msgrec *rec)
{
	const struct as4_participant *pt = as4_config_participant(cfg, rec->final_recipient);
	if (pt != NULL && pt->webhook != NULL) {
		return pt->webhook;
	}
	const struct as4_pmode *pm =
	        rec->pmode_id != NULL ? as4_pmode_find(cfg->pmodes, rec->pmode_id) : NULL;
	if (pm != NULL && pm->webhook != NULL) {
		return pm->webhook;
	}
	return cfg->webhooks.delivery_url;
}

/* True when any participant, PMode or the configuration names a delivery webhook. */
static bool any_webhook(const struct as4_config *cfg)
{
	if (cfg->webhooks.delivery_url != NULL) {
		return true;
	}
	for (size_t i = 0; i < cfg->n_participants; i++) {
		if (cfg->participants[i].webhook != NULL) {
			return true;
		}
	}
	for (size_t i = 0; i < as4_pmode_count(cfg->pmodes); i++) {
		if (as4_pmode_at(cfg->pmodes, i)->webhook != NULL) {
			return true;
		}
	}
	return false;
}

/* Push one received message to url; records the outcome. */
static void push_one(struct as4_delivery *dl, struct as4_http_client *http,
                     const struct as4_config *cfg, const struct as4_msgrec *rec, const char *url)
{
	struct as4_ap *ap = dl->ap;
	struct as4_log_ctx lc = {rec->message_id, rec->pmode_id, url, NULL};
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_blob *blobs = calloc(rec->n_payloads + 1, sizeof(*blobs));
	char *meta = metadata_doc(rec);
	struct form f;
	memset(&f, 0, sizeof(f));
	enum outcome o = OUT_LOCAL_FAILURE;
	char key[32];
	if (as4_str_fmt(key, sizeof(key), "%llu", (unsigned long long)rec->id) != AS4_OK) {
		key[0] = '\0';
	}
	as4_err err = AS4_OK;
	if (blobs == NULL || meta == NULL) {
		err = as4_diag_set(&d, AS4_E_NOMEM, "out of memory");
		goto record;
	}
	for (size_t i = 0; i < rec->n_payloads; i++) {
		as4_blob_init(&blobs[i]);
	}
	for (size_t i = 0; i < rec->n_payloads; i++) {
		if (as4_store_spool_open(ap->store, rec->payloads[i].file, &blobs[i], &d) !=
		    AS4_OK) {
			as4_diag_prefix(&d, "payload %zu: ", i);
			goto record;
		}
	}
	err = form_build(&f, meta, rec, blobs);
	if (err != AS4_OK) {
		err = as4_diag_set(&d, err, "cannot build the request: %s", as4_strerror(err));
		goto record;
	}
	struct headers h;
	headers_init(&h, cfg);
	if (as4_str_fmt(h.delivery_id, sizeof(h.delivery_id), "X-AS4-Delivery-Id: msg-%s", key) ==
	    AS4_OK) {
		h.v[h.n++] = h.delivery_id;
	}
	if (as4_str_fmt(h.message_id, sizeof(h.message_id), "X-AS4-Message-Id: %s",
	                rec->message_id) == AS4_OK) {
		h.v[h.n++] = h.message_id;
	}
	o = post(http, url, f.content_type, f.segs, f.n_segs, &h, &d);
record:;
	struct as4_diag sd;
	as4_diag_init(&sd);
	int64_t now = as4_time_now_ms();
	if (o == OUT_OK) {
		backoff_clear(&dl->urls, url);
		backoff_clear(&dl->msgs, key);
		char who[600];
		if (as4_str_fmt(who, sizeof(who), "webhook %s", url) != AS4_OK) {
			who[0] = '\0'; /* the store then says "the backend" */
		}
		if (as4_store_ack(ap->store, rec->id, who, &sd) != AS4_OK) {
			as4_log_ctx(AS4_LOG_ERR, &lc, "pushed, but cannot record it: %s",
			            as4_diag_text(&sd));
		} else {
			as4_log_ctx(AS4_LOG_INFO, &lc, "delivered to the backend by webhook");
		}
	} else {
		int64_t delay = o == OUT_REFUSED || o == OUT_LOCAL_FAILURE
		                        ? backoff_fail(&dl->msgs, key, now)
		                        : backoff_fail(&dl->urls, url, now);
		char reason[700];
		if (as4_str_fmt(reason, sizeof(reason),
		                "push to webhook %s failed, next try in %llds", url,
		                (long long)((delay + 999) / 1000)) != AS4_OK &&
		    as4_str_copy(reason, sizeof(reason), "push to webhook failed") != AS4_OK) {
			reason[0] = '\0';
		}
		struct as4_store_update u = {0};
		u.to = AS4_ST_BACKEND_FAILED;
		u.reason = reason;
		u.detail = as4_diag_text(&d);
		u.expect = (1u << AS4_ST_RECEIVED) | (1u << AS4_ST_BACKEND_FAILED);
		if (as4_store_transition(ap->store, rec->id, &u, &sd) != AS4_OK) {
			as4_log_ctx(AS4_LOG_ERR, &lc, "cannot record the failed push: %s",
			            as4_diag_text(&sd));
		}
		as4_log_ctx(AS4_LOG_WARNING, &lc, "%s: %s", reason, as4_diag_text(&d));
	}
	for (size_t i = 0; blobs != NULL && i < rec->n_payloads; i++) {
		as4_blob_cleanup(&blobs[i]);
	}
	free(blobs);
	free(meta);
	form_cleanup(&f);
}

/* Push what the inbox holds for webhooks, from the scan position on. Returns work done. */
static bool run_inbox(struct as4_delivery *dl, struct as4_http_client *http,
                      const struct as4_config *cfg)
{
	struct as4_ap *ap = dl->ap;
	int64_t now = as4_time_now_ms();
	if (dl->rescan_ms != 0 && now >= dl->rescan_ms) {
		dl->inbox_after = 0;
		dl->rescan_ms = 0;
	}
	bool worked = false;
	for (;;) {
		struct as4_msgrec *recs = NULL;
		size_t n = 0;
		uint64_t next = 0;
		struct as4_diag d;
		as4_diag_init(&d);
		if (as4_store_inbox_list(ap->store, dl->inbox_after, PAGE, &recs, &n, &next, &d) !=
		    AS4_OK) {
			as4_log(AS4_LOG_ERR, "webhook delivery: cannot read the inbox: %s",
			        as4_diag_text(&d));
			return worked;
		}
		for (size_t i = 0; i < n; i++) {
			const struct as4_msgrec *rec = &recs[i];
			const char *url = webhook_of(cfg, rec);
			dl->inbox_after = rec->id;
			if (url == NULL) {
				continue;
			}
			char key[32];
			if (as4_str_fmt(key, sizeof(key), "%llu", (unsigned long long)rec->id) !=
			    AS4_OK) {
				key[0] = '\0';
			}
			now = as4_time_now_ms();
			int64_t wait = backoff_until(&dl->urls, url);
			int64_t wait_msg = backoff_until(&dl->msgs, key);
			if (wait_msg > wait) {
				wait = wait_msg;
			}
			if (wait > now) {
				/* come back to it when its backoff ends */
				if (dl->rescan_ms == 0 || wait < dl->rescan_ms) {
					dl->rescan_ms = wait;
				}
				continue;
			}
			push_one(dl, http, cfg, rec, url);
			worked = true;
			if (backoff_until(&dl->urls, url) > as4_time_now_ms() &&
			    (dl->rescan_ms == 0 || backoff_until(&dl->urls, url) < dl->rescan_ms)) {
				dl->rescan_ms = backoff_until(&dl->urls, url);
			}
			pthread_mutex_lock(&dl->lock);
			bool stop = dl->stop;
			pthread_mutex_unlock(&dl->lock);
			if (stop) {
				as4_msgrec_array_free(recs, n);
				return worked;
			}
		}
		as4_msgrec_array_free(recs, n);
		if (next == 0 || n == 0) {
			return worked;
		}
	}
}

/* Deliver queued notifications in order; stops at the first failure. Returns work done. */
static bool run_notes(struct as4_delivery *dl, struct as4_http_client *http,
                      const struct as4_config *cfg)
{
	struct as4_ap *ap = dl->ap;
	const char *url = cfg->webhooks.notification_url;
	if (url == NULL || backoff_until(&dl->urls, url) > as4_time_now_ms()) {
		return false;
	}
	bool worked = false;
	for (;;) {
		struct as4_store_note *notes = NULL;
		size_t n = 0;
		struct as4_diag d;
		as4_diag_init(&d);
		if (as4_store_note_list(ap->store, 0, PAGE, &notes, &n, &d) != AS4_OK) {
			as4_log(AS4_LOG_ERR, "notifications: cannot read the outbox: %s",
			        as4_diag_text(&d));
			return worked;
		}
		if (n == 0) {
			return worked;
		}
		for (size_t i = 0; i < n; i++) {
			struct headers h;
			headers_init(&h, cfg);
			if (as4_str_fmt(h.delivery_id, sizeof(h.delivery_id),
			                "X-AS4-Delivery-Id: note-%llu",
			                (unsigned long long)notes[i].seq) == AS4_OK) {
				h.v[h.n++] = h.delivery_id;
			}
			struct as4_mime_seg seg = {(const uint8_t *)notes[i].doc,
			                           strlen(notes[i].doc), false};
			as4_diag_init(&d);
			enum outcome o = post(http, url, "application/json", &seg, 1, &h, &d);
			worked = true;
			if (o != OUT_OK) {
				/* in order: the rest waits for this one */
				int64_t delay = backoff_fail(&dl->urls, url, as4_time_now_ms());
				as4_log(AS4_LOG_WARNING,
				        "notification %llu to %s failed, next try in %llds: %s",
				        (unsigned long long)notes[i].seq, url,
				        (long long)((delay + 999) / 1000), as4_diag_text(&d));
				as4_store_notes_free(notes, n);
				return worked;
			}
			backoff_clear(&dl->urls, url);
			as4_diag_init(&d);
			as4_err err = as4_store_note_done(ap->store, notes[i].seq, &d);
			if (err != AS4_OK && err != AS4_E_NOTFOUND) {
				as4_log(AS4_LOG_ERR,
				        "notification %llu sent, but cannot remove it: %s",
				        (unsigned long long)notes[i].seq, as4_diag_text(&d));
				as4_store_notes_free(notes, n);
				return worked;
			}
		}
		as4_store_notes_free(notes, n);
	}
}

static as4_err new_client(const struct as4_config *cfg, struct as4_http_client **out,
                          struct as4_diag *d)
{
	struct as4_http_client_opts co = {0};
	co.ca_files = cfg->truststores.tls;
	co.n_ca_files = cfg->truststores.n_tls;
	co.connect_timeout_ms = cfg->sender.connect_timeout_ms;
	co.timeout_ms = cfg->webhooks.timeout_ms;
	co.max_response = MAX_ANSWER;
	return as4_http_client_new(&co, out, d);
}

static void *delivery_main(void *arg)
{
	struct as4_delivery *dl = arg;
	struct as4_ap *ap = dl->ap;
	struct as4_http_client *http = NULL;
	struct as4_runtime *rt = NULL;
	for (;;) {
		pthread_mutex_lock(&dl->lock);
		uint64_t seen = dl->kicks;
		bool stop = dl->stop;
		pthread_mutex_unlock(&dl->lock);
		if (stop) {
			break;
		}
		struct as4_runtime *now_rt = as4_ap_runtime(ap);
		if (now_rt != rt) {
			as4_http_client_free(http);
			http = NULL;
			as4_runtime_put(rt);
			rt = now_rt;
			struct as4_diag d;
			as4_diag_init(&d);
			if (new_client(rt->cfg, &http, &d) != AS4_OK) {
				as4_log(AS4_LOG_ERR, "webhook delivery: %s", as4_diag_text(&d));
			}
			dl->inbox_after = 0; /* webhooks may have changed */
		} else {
			as4_runtime_put(now_rt);
		}
		bool worked = false;
		if (http != NULL) {
			worked = run_notes(dl, http, rt->cfg);
			if (any_webhook(rt->cfg)) {
				worked = run_inbox(dl, http, rt->cfg) || worked;
			}
		}
		int64_t now = as4_time_now_ms();
		int64_t wake = now + POLL_MS;
		int64_t b = backoff_next(&dl->urls, now);
		if (b != 0 && b < wake) {
			wake = b;
		}
		if (dl->rescan_ms != 0 && dl->rescan_ms < wake) {
			wake = dl->rescan_ms;
		}
		pthread_mutex_lock(&dl->lock);
		if (!worked && !dl->stop && dl->kicks == seen && wake > now) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			int64_t ns = (int64_t)ts.tv_nsec + (wake - now) * 1000000LL;
			ts.tv_sec += (time_t)(ns / 1000000000LL);
			ts.tv_nsec = (long)(ns % 1000000000LL);
			while (!dl->stop && dl->kicks == seen &&
			       pthread_cond_timedwait(&dl->cond, &dl->lock, &ts) == 0) {
			}
		}
		pthread_mutex_unlock(&dl->lock);
	}
	as4_http_client_free(http);
	as4_runtime_put(rt);
	return NULL;
}

as4_err as4_delivery_start(struct as4_ap *ap, struct as4_delivery **out, struct as4_diag *d)
{
	*out = NULL;
	struct as4_delivery *dl = calloc(1, sizeof(*dl));
	if (dl == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	dl->ap = ap;
	dl->urls.cap = MAX_URLS;
	dl->msgs.cap = MAX_MSGS;
	dl->urls.v = calloc(MAX_URLS, sizeof(*dl->urls.v));
	dl->msgs.v = calloc(MAX_MSGS, sizeof(*dl->msgs.v));
	if (dl->urls.v == NULL || dl->msgs.v == NULL) {
		free(dl->urls.v);
		free(dl->msgs.v);
		free(dl);
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	pthread_mutex_init(&dl->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&dl->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&dl->thread, NULL, delivery_main, dl) != 0) {
		pthread_cond_destroy(&dl->cond);
		pthread_mutex_destroy(&dl->lock);
		free(dl->urls.v);
		free(dl->msgs.v);
		free(dl);
		return as4_diag_set(d, AS4_E_INTERNAL, "cannot start the webhook delivery thread");
	}
	*out = dl;
	return AS4_OK;
}

void as4_delivery_kick(struct as4_delivery *dl)
{
	if (dl == NULL) {
		return;
	}
	pthread_mutex_lock(&dl->lock);
	dl->kicks++;
	pthread_cond_broadcast(&dl->cond);
	pthread_mutex_unlock(&dl->lock);
}

void as4_delivery_kick_received(struct as4_delivery *dl, const struct as4_config *cfg)
{
	if (any_webhook(cfg)) {
		as4_delivery_kick(dl);
	}
}

void as4_delivery_stop(struct as4_delivery *dl)
{
	if (dl == NULL) {
		return;
	}
	pthread_mutex_lock(&dl->lock);
	dl->stop = true;
	pthread_cond_broadcast(&dl->cond);
	pthread_mutex_unlock(&dl->lock);
	pthread_join(dl->thread, NULL);
	pthread_cond_destroy(&dl->cond);
	pthread_mutex_destroy(&dl->lock);
	free(dl->urls.v);
	free(dl->msgs.v);
	free(dl);
}
