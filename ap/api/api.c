/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The internal API: authentication, roles, routing. Every answer that is not a success is a
 * JSON error {"error": {"code", "message", "field"}} with the right HTTP status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "as4/admin_json.h"
#include "as4/log.h"
#include "as4/str.h"
#include "as4/time.h"

#define API_PREFIX "/api/v1"

void api_json(struct as4_http_resp *resp, unsigned status, json_t *v)
{
	char *text = v != NULL ? as4_json_dump(v) : NULL;
	json_decref(v);
	if (text == NULL || as4_buf_puts(&resp->body, text) != AS4_OK) {
		free(text);
		as4_http_resp_json_error(resp, 500, "internal", "out of memory", NULL);
		return;
	}
	free(text);
	resp->status = status;
	resp->content_type = "application/json";
}

void api_error_from(struct as4_http_resp *resp, as4_err err, const struct as4_diag *d)
{
	const char *msg = d != NULL ? as4_diag_text(d) : as4_strerror(err);
	const char *field = d != NULL && d->field[0] ? d->field : NULL;
	switch (err) {
	case AS4_E_NOTFOUND:
		as4_http_resp_json_error(resp, 404, "not_found", msg, field);
		break;
	case AS4_E_EXISTS:
		as4_http_resp_json_error(resp, 409, "conflict", msg, field);
		break;
	case AS4_E_STATE:
		as4_http_resp_json_error(resp, 409, "invalid_state", msg, field);
		break;
	case AS4_E_INVAL:
	case AS4_E_PARSE:
		as4_http_resp_json_error(resp, 400, "bad_request", msg, field);
		break;
	case AS4_E_LIMIT:
	case AS4_E_TOO_LARGE:
		as4_http_resp_json_error(resp, 413, "too_large", msg, field);
		break;
	case AS4_E_CONFIG:
	case AS4_E_PMODE_MISMATCH:
		as4_http_resp_json_error(resp, 422, "unprocessable", msg, field);
		break;
	case AS4_E_SPACE:
		as4_http_resp_json_error(resp, 507, "insufficient_storage", msg, field);
		break;
	case AS4_E_BUSY:
		as4_http_resp_json_error(resp, 503, "unavailable", msg, field);
		break;
	default:
		as4_http_resp_json_error(resp, 500, "internal", msg, field);
		break;
	}
}

static void api_req_free(void *p)
{
	struct api_req *r = p;
	if (r != NULL) {
		as4_runtime_put(r->rt);
		free(r);
	}
}

/* Which roles may call a route. */
enum need { NEED_SUBMIT, NEED_READ, NEED_ADMIN };

static bool role_ok(enum as4_api_role role, enum need need)
{
	switch (need) {
	case NEED_SUBMIT:
		return role == AS4_API_ROLE_SUBMITTER || role == AS4_API_ROLE_ADMIN;
	case NEED_READ:
		return true;
	case NEED_ADMIN:
		return role == AS4_API_ROLE_ADMIN;
	}
	return false;
}

bool as4_api_head(void *ctx, struct as4_http_req *req, struct as4_http_resp *resp)
{
	struct as4_ap *ap = ctx;
	atomic_fetch_add(&ap->metrics.api_requests, 1);
	if (atomic_load(&ap->stopping)) {
		as4_http_resp_json_error(resp, 503, "unavailable", "the access point is stopping",
		                         NULL);
		return false;
	}
	const char *path = as4_http_req_path(req);
	if (strcmp(path, API_PREFIX "/health") == 0 || strcmp(path, API_PREFIX "/ready") == 0) {
		return true; /* liveness and readiness probes need no token */
	}
	struct api_req *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		as4_http_resp_json_error(resp, 500, "internal", "out of memory", NULL);
		return false;
	}
	r->ap = ap;
	r->rt = as4_ap_runtime(ap);
	r->started_ns = as4_time_mono_ns();
	as4_http_req_set_user(req, r, api_req_free);

	const char *auth = as4_http_req_header(req, "Authorization");
	const char *why = NULL;
	if (auth == NULL) {
		why = "missing Authorization header (expected: Bearer <token>)";
	} else if (!as4_str_nieq(auth, "Bearer ", 7) || auth[7] == '\0') {
		why = "Authorization header is not a Bearer token";
	} else if (as4_config_token_check(r->rt->cfg, auth + 7, strlen(auth + 7), &r->token) !=
	           AS4_OK) {
		why = "unknown or wrong token";
	}
	if (why != NULL) {
		atomic_fetch_add(&ap->metrics.api_denied, 1);
		as4_log(AS4_LOG_NOTICE, "api: 401 %s %s from %s: %s", as4_http_req_method(req),
		        path, as4_http_req_peer(req), why);
		as4_http_resp_json_error(resp, 401, "unauthorized", why, NULL);
		snprintf(resp->extra_headers, sizeof(resp->extra_headers),
		         "WWW-Authenticate: Bearer realm=\"as4d\"\r\n");
		return false;
	}
	return true;
}

/* Match "/messages/<id><suffix>" where suffix is e.g. "/ack"; the id may itself hold '/'. */
static bool message_route(const char *rest, const char *suffix, char *id, size_t cap)
{
	const char *pfx = "/messages/";
	if (!as4_str_starts(rest, pfx)) {
		return false;
	}
	const char *p = rest + strlen(pfx);
	size_t n = strlen(p);
	size_t sl = strlen(suffix);
	if (n <= sl || strcmp(p + n - sl, suffix) != 0) {
		return false;
	}
	n -= sl;
	if (n == 0 || n >= cap) {
		return false;
	}
	memcpy(id, p, n);
	id[n] = '\0';
	return true;
}

/* "/messages/<id>/payloads/<n>" */
static bool payload_route(const char *rest, char *id, size_t cap, unsigned long *index)
{
	const char *marker = strstr(rest, "/payloads/");
	if (marker == NULL || !as4_str_starts(rest, "/messages/")) {
		return false;
	}
	const char *last;
	/* the last "/payloads/" wins: a MessageId could contain the text itself */
	while ((last = strstr(marker + 1, "/payloads/")) != NULL) {
		marker = last;
	}
	uint64_t v;
	if (as4_parse_u64(marker + strlen("/payloads/"), 10000, &v) != AS4_OK) {
		return false;
	}
	const char *start = rest + strlen("/messages/");
	size_t n = (size_t)(marker - start);
	if (n == 0 || n >= cap) {
		return false;
	}
	memcpy(id, start, n);
	id[n] = '\0';
	*index = (unsigned long)v;
	return true;
}

static bool need(struct api_req *r, enum need n, struct as4_http_resp *resp)
{
	if (role_ok(r->token->role, n)) {
		return true;
	}
	atomic_fetch_add(&r->ap->metrics.api_denied, 1);
	char msg[160];
	snprintf(msg, sizeof(msg), "token '%s' has role %s, which may not do this", r->token->name,
	         as4_api_role_name(r->token->role));
	as4_http_resp_json_error(resp, 403, "forbidden", msg, NULL);
	return false;
}

static void method_not_allowed(struct as4_http_resp *resp, const char *allow)
{
	as4_http_resp_json_error(resp, 405, "method_not_allowed", "method not allowed here", NULL);
	snprintf(resp->extra_headers, sizeof(resp->extra_headers), "Allow: %s\r\n", allow);
}

void as4_api_handle(void *ctx, struct as4_http_req *req, const struct as4_blob *body,
                    struct as4_http_resp *resp)
{
	struct as4_ap *ap = ctx;
	const char *path = as4_http_req_path(req);
	const char *method = as4_http_req_method(req);
	bool get = strcmp(method, "GET") == 0;
	bool post = strcmp(method, "POST") == 0;

	if (strcmp(path, API_PREFIX "/health") == 0) {
		if (get) {
			api_json(resp, 200, json_pack("{s:s}", "status", "ok"));
		} else {
			method_not_allowed(resp, "GET");
		}
		return;
	}
	if (strcmp(path, API_PREFIX "/ready") == 0) {
		if (get) {
			api_ready(ap, resp);
		} else {
			method_not_allowed(resp, "GET");
		}
		return;
	}
	struct api_req *r = as4_http_req_user(req);
	if (strcmp(path, "/metrics") == 0) {
		if (!get) {
			method_not_allowed(resp, "GET");
		} else if (api_require(r, AS4_API_ROLE_READER, resp)) {
			api_metrics(r, resp);
		}
		return;
	}
	if (!as4_str_starts(path, API_PREFIX "/")) {
		as4_http_resp_json_error(resp, 404, "not_found", "no such endpoint", NULL);
		return;
	}
	const char *rest = path + strlen(API_PREFIX);
	char id[512];
	unsigned long index = 0;

	if (strcmp(rest, "/messages") == 0) {
		if (post) {
			if (need(r, NEED_SUBMIT, resp)) {
				api_submit(r, req, body, resp);
			}
		} else if (get) {
			if (need(r, NEED_READ, resp)) {
				api_search(r, req, resp);
			}
		} else {
			method_not_allowed(resp, "GET, POST");
		}
	} else if (strcmp(rest, "/participants") == 0 || as4_str_starts(rest, "/participants/")) {
		api_participants(r, req, rest, body, resp);
	} else if (strcmp(rest, "/inbox") == 0) {
		if (!get) {
			method_not_allowed(resp, "GET");
		} else if (need(r, NEED_SUBMIT, resp)) {
			api_inbox(r, req, resp);
		}
	} else if (api_ops_route(r, req, rest, body, resp)) {
		/* administration routes: api_ops.c */
	} else if (payload_route(rest, id, sizeof(id), &index)) {
		if (!get) {
			method_not_allowed(resp, "GET");
		} else if (need(r, NEED_SUBMIT, resp)) {
			api_message_payload(r, req, id, index, resp);
		}
	} else if (message_route(rest, "/ack", id, sizeof(id))) {
		if (!post) {
			method_not_allowed(resp, "POST");
		} else if (need(r, NEED_SUBMIT, resp)) {
			api_message_ack(r, req, id, resp);
		}
	} else if (message_route(rest, "/retry", id, sizeof(id))) {
		if (!post) {
			method_not_allowed(resp, "POST");
		} else if (need(r, NEED_ADMIN, resp)) {
			api_message_retry(r, req, body, id, resp);
		}
	} else if (message_route(rest, "", id, sizeof(id))) {
		if (!get) {
			method_not_allowed(resp, "GET");
		} else if (need(r, NEED_READ, resp)) {
			api_message_get(r, req, id, resp);
		}
	} else {
		as4_http_resp_json_error(resp, 404, "not_found", "no such endpoint", NULL);
	}
	(void)ap;
}
