/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The administration surface of the internal API: one routing table (path, method, the least
 * role allowed, handler) and the helpers every admin handler shares: roles, who made a
 * request, the audit trail, JSON bodies and configuration errors as API answers.
 *
 * Roles are ordered reader < submitter < admin (config.h): a route names the least role it
 * needs. Reads of messages are further limited by a token's PMode and party restrictions
 * (api_token_allows), so a backend's token sees its own traffic only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "as4/admin_json.h"
#include "as4/log.h"
#include "as4/part.h"
#include "as4/str.h"

bool api_require(struct api_req *r, enum as4_api_role min, struct as4_http_resp *resp)
{
	if (r->token->role >= min) {
		return true;
	}
	atomic_fetch_add(&r->ap->metrics.api_denied, 1);
	char msg[200];
	snprintf(msg, sizeof(msg), "token '%s' has role %s; this needs role %s or higher",
	         r->token->name, as4_api_role_name(r->token->role), as4_api_role_name(min));
	as4_http_resp_json_error(resp, 403, "forbidden", msg, NULL);
	return false;
}

void api_who(const struct api_req *r, struct as4_http_req *req, char *out, size_t cap)
{
	const char *subject = as4_http_req_client_subject(req);
	if (subject != NULL) {
		snprintf(out, cap, "%s (%s)", r->token->name, subject);
	} else {
		snprintf(out, cap, "%s", r->token->name);
	}
}

bool api_audit(struct api_req *r, struct as4_http_req *req, const char *what, const char *target,
               const char *detail)
{
	char who[512];
	api_who(r, req, who, sizeof(who));
	struct as4_diag d;
	as4_diag_init(&d);
	if (as4_store_audit_append(r->ap->store, who, what, target, detail, &d) != AS4_OK) {
		as4_log(AS4_LOG_ERR,
		        "audit entry NOT stored (%s): who=%s what=%s target=%s detail=%s",
		        as4_diag_text(&d), who, what, target != NULL ? target : "-",
		        detail != NULL ? detail : "-");
		return false;
	}
	as4_log(AS4_LOG_NOTICE, "audit: %s %s %s%s%s", who, what, target != NULL ? target : "",
	        detail != NULL ? ": " : "", detail != NULL ? detail : "");
	return true;
}

json_t *api_body_json(struct api_req *r, struct as4_http_req *req, const struct as4_blob *body,
                      struct as4_http_resp *resp)
{
	const char *ct = as4_http_req_header(req, "Content-Type");
	char mt[128] = "";
	if (ct == NULL || as4_media_type(ct, mt, sizeof(mt)) != AS4_OK ||
	    strcmp(mt, "application/json") != 0) {
		as4_http_resp_json_error(resp, 415, "unsupported_media_type",
		                         "send the request body as application/json", NULL);
		return NULL;
	}
	const struct as4_limits *lim = &r->rt->cfg->limits;
	json_t *j = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_json_parse(body->data, body->len, lim->max_api_body, lim->max_json_depth,
	                             &j, &d);
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		return NULL;
	}
	return j;
}

void api_conf_errors(struct as4_http_resp *resp, const struct as4_conf_errors *errs,
                     const char *fallback)
{
	json_t *details = json_array();
	const struct as4_conf_error *first = NULL;
	for (size_t i = 0; details != NULL && i < errs->n; i++) {
		const struct as4_conf_error *e = &errs->v[i];
		if (e->warning) {
			continue;
		}
		if (first == NULL) {
			first = e;
		}
		json_t *o = json_pack("{s:s, s:s}", "message", e->message ? e->message : e->text,
		                      "text", e->text);
		if (o != NULL && e->path != NULL && e->path[0] != '\0') {
			json_object_set_new(o, "field", json_string(e->path));
		}
		if (o != NULL && e->line > 0) {
			json_object_set_new(o, "line", json_integer(e->line));
		}
		json_array_append_new(details, o);
	}
	const char *msg = first != NULL ? first->text : fallback;
	json_t *err = json_pack("{s:s, s:s}", "code", "unprocessable", "message",
	                        msg != NULL ? msg : "invalid document");
	if (err != NULL && first != NULL && first->path != NULL && first->path[0] != '\0') {
		json_object_set_new(err, "field", json_string(first->path));
	}
	if (err != NULL && details != NULL) {
		json_object_set_new(err, "details", details);
		details = NULL;
	}
	json_decref(details);
	api_json(resp, 422, err != NULL ? json_pack("{s:o}", "error", err) : NULL);
}

/* ---- Routing -------------------------------------------------------------------------- */

/* "<prefix><id><suffix>" with a non-empty id (which may contain '/'), copied into id. */
static bool id_between(const char *rest, const char *prefix, const char *suffix, char *id,
                       size_t cap)
{
	if (!as4_str_starts(rest, prefix)) {
		return false;
	}
	const char *p = rest + strlen(prefix);
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

static void not_allowed(struct as4_http_resp *resp, const char *allow)
{
	as4_http_resp_json_error(resp, 405, "method_not_allowed", "method not allowed here", NULL);
	snprintf(resp->extra_headers, sizeof(resp->extra_headers), "Allow: %s\r\n", allow);
}

/* Method and role check for one route; false when an answer was given. */
static bool allow(struct api_req *r, const char *method, const char *const *methods,
                  const enum as4_api_role *roles, size_t n, struct as4_http_resp *resp)
{
	char list[64] = "";
	for (size_t i = 0; i < n; i++) {
		if (strcmp(method, methods[i]) == 0) {
			return api_require(r, roles[i], resp);
		}
		if (as4_str_cat(list, sizeof(list), i > 0 ? ", " : "") != AS4_OK ||
		    as4_str_cat(list, sizeof(list), methods[i]) != AS4_OK) {
			/* the Allow list is short; truncation cannot happen with these routes */
		}
	}
	not_allowed(resp, list);
	return false;
}

/* A route with one, two or three methods, each with the least role it needs. */
static bool one(struct api_req *r, const char *method, const char *m, enum as4_api_role role,
                struct as4_http_resp *resp)
{
	return allow(r, method, &m, &role, 1, resp);
}

static bool two(struct api_req *r, const char *method, const char *m1, enum as4_api_role r1,
                const char *m2, enum as4_api_role r2, struct as4_http_resp *resp)
{
	const char *ms[2] = {m1, m2};
	enum as4_api_role rs[2] = {r1, r2};
	return allow(r, method, ms, rs, 2, resp);
}

static bool three(struct api_req *r, const char *method, const char *m1, enum as4_api_role r1,
                  const char *m2, enum as4_api_role r2, const char *m3, enum as4_api_role r3,
                  struct as4_http_resp *resp)
{
	const char *ms[3] = {m1, m2, m3};
	enum as4_api_role rs[3] = {r1, r2, r3};
	return allow(r, method, ms, rs, 3, resp);
}

bool api_ops_route(struct api_req *r, struct as4_http_req *req, const char *rest,
                   const struct as4_blob *body, struct as4_http_resp *resp)
{
	const enum as4_api_role reader = AS4_API_ROLE_READER;
	const enum as4_api_role submitter = AS4_API_ROLE_SUBMITTER;
	const enum as4_api_role admin = AS4_API_ROLE_ADMIN;
	const char *method = as4_http_req_method(req);
	char id[512];

	if (id_between(rest, "/messages/", "/raw", id, sizeof(id))) {
		if (one(r, method, "GET", admin, resp)) {
			api_message_raw(r, req, id, false, resp);
		}
	} else if (id_between(rest, "/messages/", "/receipt", id, sizeof(id))) {
		if (one(r, method, "GET", reader, resp)) {
			api_message_raw(r, req, id, true, resp);
		}
	} else if (id_between(rest, "/messages/", "/payloads", id, sizeof(id))) {
		if (one(r, method, "DELETE", admin, resp)) {
			api_message_delete_payloads(r, req, id, resp);
		}
	} else if (strcmp(rest, "/pmodes") == 0) {
		if (two(r, method, "GET", reader, "POST", admin, resp)) {
			api_pmodes(r, req, method, NULL, body, resp);
		}
	} else if (strcmp(rest, "/pmodes/validate") == 0 && strcmp(method, "POST") == 0) {
		/* POST is not defined on a PMode itself, so a PMode named "validate" stays usable
		 */
		if (api_require(r, admin, resp)) {
			api_pmodes(r, req, "VALIDATE", NULL, body, resp);
		}
	} else if (id_between(rest, "/pmodes/", "", id, sizeof(id))) {
		if (three(r, method, "GET", reader, "PUT", admin, "DELETE", admin, resp)) {
			api_pmodes(r, req, method, id, body, resp);
		}
	} else if (strcmp(rest, "/certificates") == 0 || as4_str_starts(rest, "/certificates/")) {
		const char *sub = rest + strlen("/certificates");
		bool ok;
		if (sub[0] == '\0') {
			ok = one(r, method, "GET", reader, resp);
		} else if (strcmp(sub, "/trust") == 0 || strcmp(sub, "/keystore") == 0) {
			ok = one(r, method, "POST", admin, resp);
		} else {
			ok = one(r, method, "DELETE", admin, resp);
		}
		if (ok) {
			api_certs(r, req, method, sub, body, resp);
		}
	} else if (strcmp(rest, "/status") == 0) {
		if (one(r, method, "GET", reader, resp)) {
			api_status(r, resp);
		}
	} else if (strcmp(rest, "/audit") == 0) {
		if (one(r, method, "GET", admin, resp)) {
			api_audit_list(r, req, resp);
		}
	} else if (strcmp(rest, "/log") == 0) {
		if (two(r, method, "GET", reader, "PUT", admin, resp)) {
			api_log_level(r, req, method, body, resp);
		}
	} else if (strcmp(rest, "/reload") == 0) {
		if (one(r, method, "POST", admin, resp)) {
			api_reload(r, req, resp);
		}
	} else if (strcmp(rest, "/test") == 0) {
		if (one(r, method, "POST", submitter, resp)) {
			api_test(r, req, body, resp);
		}
	} else {
		return false;
	}
	return true;
}
