/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PModes on the internal API: list, get (the effective document, every default filled in),
 * create, replace, delete, and validate without applying.
 *
 * A change is validated exactly as a PMode file is (as4_config_pmode_validate against the
 * running configuration's parties and networks, ids and match keys unique), written to the
 * PMode folder as <id>.json or <id>.yaml (as sent) with as4_file_write_atomic, and applied by
 * a reload that swaps the configuration snapshot: requests and send attempts in flight finish
 * on the snapshot they started with, so no traffic is dropped. A file a change replaces or deletes
 * is first moved aside under a dot-name (the loader ignores dot-files); if the reload refuses the
 * new state (a clash with a file edited by hand, a certificate that expired meanwhile) every file
 * is put back and the API answers 422 with the loader's reason. One change runs at a time
 * (as4_ap.admin_lock).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_int.h"
#include "as4/blob.h"
#include "as4/log.h"
#include "as4/part.h"
#include "as4/str.h"
#include "as4/time.h"

/* The JSON document of a PMode, in the form of conf/pmodes files (docs/admin-guide.md). */
static json_t *render(const struct as4_pmode *pm)
{
	char a[64], b[64], c[64], e[64], f[64];
	json_t *p = json_object();
	if (p == NULL) {
		return NULL;
	}
	json_object_set_new(p, "id", json_string(pm->id));
	if (pm->description != NULL) {
		json_object_set_new(p, "description", json_string(pm->description));
	}
	if (pm->agreement != NULL) {
		json_object_set_new(p, "agreement", json_string(pm->agreement));
	}
	if (pm->agreement_type != NULL) {
		json_object_set_new(p, "agreement_type", json_string(pm->agreement_type));
	}
	json_object_set_new(p, "initiator",
	                    json_pack("{s:s, s:s}", "party",
	                              pm->initiator != NULL ? pm->initiator->name : "", "role",
	                              pm->initiator_role ? pm->initiator_role : ""));
	json_t *resp = json_pack("{s:s, s:s, s:b}", "party",
	                         pm->responder != NULL ? pm->responder->name : "", "role",
	                         pm->responder_role ? pm->responder_role : "", "discovery",
	                         pm->responder_discovery);
	if (resp != NULL && pm->discovery_network != NULL) {
		json_object_set_new(resp, "discovery_network", json_string(pm->discovery_network));
	}
	json_object_set_new(p, "responder", resp);
	json_object_set_new(p, "service", json_string(pm->service));
	if (pm->service_type != NULL) {
		json_object_set_new(p, "service_type", json_string(pm->service_type));
	}
	json_object_set_new(p, "action", json_string(pm->action));
	json_object_set_new(p, "mpc", json_string(pm->mpc ? pm->mpc : AS4_DEFAULT_MPC));
	json_object_set_new(p, "payload",
	                    json_pack("{s:b, s:s, s:I, s:I}", "compress", pm->compress, "max_size",
	                              as4_conf_fmt_size(pm->max_payload, a, sizeof(a)), "min_parts",
	                              (json_int_t)pm->min_parts, "max_parts",
	                              (json_int_t)pm->max_parts));
	if (pm->security_none) {
		json_object_set_new(p, "security", json_string("none"));
	} else {
		const struct as4_pmode_security *s = &pm->security;
		const char *sig = as4_pmode_value_name("signature_algorithm", s->sig_alg);
		const char *kt = as4_pmode_value_name("key_transport", s->key_transport);
		const char *da = as4_pmode_value_name("data_encryption", s->data_alg);
		const char *kr = as4_pmode_value_name("key_reference", s->keyref);
		json_object_set_new(p, "security",
		                    json_pack("{s:b, s:b, s:b, s:b, s:s, s:s, s:s, s:s}", "sign",
		                              s->sign, "encrypt", s->encrypt, "receipt_signed",
		                              s->receipt_signed, "pkipath", s->pkipath,
		                              "signature_algorithm", sig ? sig : "",
		                              "key_transport", kt ? kt : "", "data_encryption",
		                              da ? da : "", "key_reference", kr ? kr : ""));
	}
	const struct as4_pmode_reliability *r = &pm->reliability;
	json_object_set_new(
	        p, "reliability",
	        json_pack("{s:I, s:s, s:s, s:b, s:s, s:s, s:b, s:s}", "retries",
	                  (json_int_t)r->retries, "interval",
	                  as4_conf_fmt_duration(r->interval_ms, b, sizeof(b)), "backoff",
	                  r->backoff == AS4_BACKOFF_EXPONENTIAL ? "exponential" : "constant",
	                  "jitter", r->jitter, "deadline",
	                  as4_conf_fmt_duration(r->deadline_ms, c, sizeof(c)), "timeout",
	                  as4_conf_fmt_duration(r->timeout_ms, e, sizeof(e)), "duplicate_detection",
	                  r->duplicate_detection, "dedup_window",
	                  as4_conf_fmt_duration(r->dedup_window_ms, f, sizeof(f))));
	json_object_set_new(p, "errors",
	                    json_pack("{s:b}", "notify_backend", pm->notify_backend_errors));
	if (pm->webhook != NULL) {
		json_object_set_new(p, "webhook", json_string(pm->webhook));
	}
	return json_pack("{s:o}", "pmode", p);
}

static json_t *summary(const struct as4_pmode *pm)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "id", pm->id, "source",
	                      pm->source ? pm->source : "", "initiator",
	                      pm->initiator ? pm->initiator->name : "", "responder",
	                      pm->responder ? pm->responder->name : "", "service", pm->service,
	                      "action", pm->action, "discovery", pm->responder_discovery);
	if (o != NULL && pm->description != NULL) {
		json_object_set_new(o, "description", json_string(pm->description));
	}
	return o;
}

static bool token_has_pmode(const struct api_req *r, const char *id)
{
	const struct as4_api_token *t = r->token;
	for (size_t i = 0; i < t->n_pmodes; i++) {
		if (strcmp(t->pmodes[i], id) == 0) {
			return true;
		}
	}
	return t->n_pmodes == 0;
}

/* The rule of PMode ids (schema check pmode.id): 1..128 of A-Z a-z 0-9 . _ -, no leading '.'. */
static bool id_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128 || s[0] == '.') {
		return false;
	}
	for (const char *p = s; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-')) {
			return false;
		}
	}
	return true;
}

/*
 * The body as a PMode document within the API's size limit: JSON (application/json) or the
 * YAML of a conf/pmodes file (application/yaml, application/x-yaml, text/yaml); *yaml says
 * which. Answers and returns false.
 */
static bool body_ok(struct api_req *r, struct as4_http_req *req, const struct as4_blob *body,
                    bool *yaml, struct as4_http_resp *resp)
{
	const char *ct = as4_http_req_header(req, "Content-Type");
	char mt[128] = "";
	if (ct == NULL || as4_media_type(ct, mt, sizeof(mt)) != AS4_OK) {
		mt[0] = '\0';
	}
	*yaml = strcmp(mt, "application/yaml") == 0 || strcmp(mt, "application/x-yaml") == 0 ||
	        strcmp(mt, "text/yaml") == 0;
	if (!*yaml && strcmp(mt, "application/json") != 0) {
		as4_http_resp_json_error(resp, 415, "unsupported_media_type",
		                         "send the PMode document as application/json "
		                         "({\"pmode\": {...}}) or application/yaml (a conf/pmodes "
		                         "file)",
		                         NULL);
		return false;
	}
	if (body->len > r->rt->cfg->limits.max_api_body) {
		as4_http_resp_json_error(resp, 413, "too_large",
		                         "the document exceeds limits.max_api_body", NULL);
		return false;
	}
	if (body->len == 0) {
		as4_http_resp_json_error(resp, 400, "bad_request",
		                         "empty body: a PMode document was expected", NULL);
		return false;
	}
	return true;
}

/*
 * Validate the body against cfg. On success *out holds the one-PMode set (its parties borrow
 * from cfg). Answers 422 / 500 itself on failure.
 */
static bool validate(const struct as4_config *cfg, const struct as4_blob *body, bool yaml,
                     const char *default_id, bool create, struct as4_pmode_set **out,
                     struct as4_http_resp *resp)
{
	struct as4_conf_errors errs;
	as4_conf_errors_init(&errs, 0);
	as4_err err = as4_config_pmode_validate(cfg, body->data, body->len, !yaml, "api",
	                                        default_id, create, out, &errs);
	if (err == AS4_E_NOMEM) {
		as4_http_resp_json_error(resp, 500, "internal", "out of memory", NULL);
	} else if (err != AS4_OK) {
		api_conf_errors(resp, &errs, "invalid PMode document");
	}
	as4_conf_errors_cleanup(&errs);
	return err == AS4_OK;
}

static void refused(struct as4_http_resp *resp, const struct as4_diag *d)
{
	char msg[700];
	snprintf(msg, sizeof(msg),
	         "the change was undone: the configuration does not load with it: %s",
	         as4_diag_text(d));
	as4_http_resp_json_error(resp, 422, "unprocessable", msg, NULL);
}

/* "<dir>/.<base>.<tag>": a name the loader ignores, next to path. */
static void aside_name(const char *path, const char *tag, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL) {
		snprintf(out, cap, ".%s.%s", path, tag);
	} else {
		snprintf(out, cap, "%.*s/.%s.%s", (int)(slash - path), path, slash + 1, tag);
	}
}

/* Messages with this PMode that still wait to be sent (so deleting it would fail them). */
static uint64_t waiting(struct api_req *r, const char *id)
{
	struct as4_store_pmode_count *c = NULL;
	size_t n = 0;
	uint64_t total = 0;
	if (as4_store_pmode_counts(r->ap->store, &c, &n, NULL) != AS4_OK) {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(c[i].pmode, id) == 0 &&
		    (c[i].state == AS4_ST_QUEUED || c[i].state == AS4_ST_SENDING ||
		     c[i].state == AS4_ST_RETRYING)) {
			total += c[i].count;
		}
	}
	as4_store_pmode_counts_free(c, n);
	return total;
}

/* Create (id NULL: from the document) or replace/create at id. */
static void put_pmode(struct api_req *r, struct as4_http_req *req, const char *url_id,
                      const struct as4_blob *body, struct as4_http_resp *resp)
{
	struct as4_pmode_set *set = NULL;
	/*
	 * The snapshot of the moment (another change may have come after this request began);
	 * the set and old borrow from it. r->rt stays: the request's token is borrowed from it.
	 */
	struct as4_runtime *held = NULL;
	struct as4_runtime *after = NULL;
	char path[4200] = "", aside[4400] = "";
	bool moved = false;
	if (url_id != NULL && !id_ok(url_id)) {
		as4_http_resp_json_error(resp, 400, "bad_request",
		                         "a PMode id is 1 to 128 characters from A-Z a-z 0-9 . _ - "
		                         "(not starting with '.')",
		                         "id");
		return;
	}
	bool yaml = false;
	if (!body_ok(r, req, body, &yaml, resp)) {
		return;
	}
	pthread_mutex_lock(&r->ap->admin_lock);
	held = as4_ap_runtime(r->ap);
	const struct as4_config *cfg = held->cfg;
	if (cfg->pmode_dir == NULL) {
		as4_http_resp_json_error(resp, 409, "conflict", "this daemon has no PMode folder",
		                         NULL);
		goto unlock;
	}
	const struct as4_pmode *old = url_id != NULL ? as4_pmode_find(cfg->pmodes, url_id) : NULL;
	/* a POST naming an existing id is a conflict (409), not an invalid document */
	if (!validate(cfg, body, yaml, url_id, url_id != NULL && old == NULL, &set, resp)) {
		goto unlock;
	}
	const struct as4_pmode *pm = as4_pmode_at(set, 0);
	if (url_id == NULL && as4_pmode_find(cfg->pmodes, pm->id) != NULL) {
		char msg[400];
		snprintf(msg, sizeof(msg),
		         "a PMode with id '%s' exists already: PUT /api/v1/pmodes/%s replaces it",
		         pm->id, pm->id);
		as4_http_resp_json_error(resp, 409, "conflict", msg, "pmode.id");
		goto unlock;
	}
	if (url_id != NULL && strcmp(pm->id, url_id) != 0) {
		char msg[400];
		snprintf(msg, sizeof(msg), "pmode.id '%s' differs from the id in the URL ('%s')",
		         pm->id, url_id);
		as4_http_resp_json_error(resp, 422, "unprocessable", msg, "pmode.id");
		goto unlock;
	}
	char id[160];
	snprintf(id, sizeof(id), "%s", pm->id);
	snprintf(path, sizeof(path), "%s/%s.%s", cfg->pmode_dir, id, yaml ? "yaml" : "json");
	struct stat st;
	if (old != NULL) {
		/* the replaced file goes aside first: a restore needs it, the loader skips it */
		if (old->source == NULL || !as4_str_starts(old->source, cfg->pmode_dir)) {
			as4_http_resp_json_error(
			        resp, 409, "conflict",
			        "this PMode does not come from a file of the PMode "
			        "folder",
			        NULL);
			goto unlock;
		}
		aside_name(old->source, "replaced", aside, sizeof(aside));
		if (rename(old->source, aside) != 0) {
			char msg[4600];
			snprintf(msg, sizeof(msg), "cannot move %.1000s aside: %s", old->source,
			         strerror(errno));
			as4_http_resp_json_error(resp, 500, "internal", msg, NULL);
			goto unlock;
		}
		moved = true;
	} else if (stat(path, &st) == 0) {
		char msg[4400];
		snprintf(msg, sizeof(msg),
		         "%.1000s exists but holds no PMode '%s' (a file with another pmode.id): "
		         "rename or remove it",
		         path, id);
		as4_http_resp_json_error(resp, 409, "conflict", msg, NULL);
		goto unlock;
	}
	as4_err err = as4_file_write_atomic(path, body->data, body->len, 0644);
	if (err != AS4_OK) {
		char msg[4600];
		snprintf(msg, sizeof(msg), "cannot write %.1000s: %s", path, as4_strerror(err));
		as4_http_resp_json_error(resp, err == AS4_E_SPACE ? 507 : 500, "internal", msg,
		                         NULL);
		goto restore;
	}
	struct as4_diag d;
	as4_diag_init(&d);
	err = as4_ap_reload(r->ap, &d);
	if (err != AS4_OK) {
		unlink(path);
		refused(resp, &d);
		goto restore;
	}
	if (moved) {
		unlink(aside);
		moved = false;
	}
	after = as4_ap_runtime(r->ap);
	const struct as4_pmode *now_pm = as4_pmode_find(after->cfg->pmodes, id);
	char detail[600];
	snprintf(detail, sizeof(detail), "%.100s -> %.100s, service %.100s, action %.150s (%.100s)",
	         pm->initiator ? pm->initiator->name : "?",
	         pm->responder ? pm->responder->name : "?", pm->service, pm->action, path);
	bool audited =
	        api_audit(r, req, old != NULL ? "pmode.replace" : "pmode.create", id, detail);
	json_t *doc = now_pm != NULL ? render(now_pm) : NULL;
	api_json(resp, old != NULL ? 200 : 201,
	         json_pack("{s:s, s:s, s:o, s:s}", "id", id, "source", path, "document",
	                   doc != NULL ? doc : json_null(), "audit",
	                   audited ? "recorded" : "failed"));
	goto unlock;
restore:
	if (moved && old != NULL && rename(aside, old->source) != 0) {
		as4_log(AS4_LOG_ERR, "pmodes: cannot restore %s from %s: %s", old->source, aside,
		        strerror(errno));
	}
unlock:
	as4_pmode_set_free(set);
	as4_runtime_put(after);
	as4_runtime_put(held);
	pthread_mutex_unlock(&r->ap->admin_lock);
}

static void delete_pmode(struct api_req *r, struct as4_http_req *req, const char *id,
                         struct as4_http_resp *resp)
{
	const char *force_arg = as4_http_req_query(req, "force");
	if (force_arg != NULL && strcmp(force_arg, "true") != 0 &&
	    strcmp(force_arg, "false") != 0) {
		as4_http_resp_json_error(resp, 400, "bad_request", "force must be true or false",
		                         "force");
		return;
	}
	bool force = force_arg != NULL && strcmp(force_arg, "true") == 0;
	pthread_mutex_lock(&r->ap->admin_lock);
	struct as4_runtime *held = as4_ap_runtime(r->ap); /* the snapshot of the moment */
	const struct as4_config *cfg = held->cfg;
	const struct as4_pmode *pm = as4_pmode_find(cfg->pmodes, id);
	char source[4200], aside[4400];
	if (pm == NULL) {
		char msg[300];
		snprintf(msg, sizeof(msg), "no PMode with id '%s'", id);
		as4_http_resp_json_error(resp, 404, "not_found", msg, NULL);
		goto unlock;
	}
	if (pm->source == NULL || cfg->pmode_dir == NULL ||
	    !as4_str_starts(pm->source, cfg->pmode_dir)) {
		as4_http_resp_json_error(resp, 409, "conflict",
		                         "this PMode does not come from a file of the PMode folder",
		                         NULL);
		goto unlock;
	}
	uint64_t w = waiting(r, id);
	if (w > 0 && !force) {
		char msg[300];
		snprintf(
		        msg, sizeof(msg),
		        "%llu outbound message%s with this PMode still wait%s to be sent and would "
		        "fail (EBMS:0010); add ?force=true to delete anyway",
		        (unsigned long long)w, w == 1 ? "" : "s", w == 1 ? "s" : "");
		as4_http_resp_json_error(resp, 409, "conflict", msg, NULL);
		goto unlock;
	}
	snprintf(source, sizeof(source), "%s", pm->source);
	aside_name(source, "deleted", aside, sizeof(aside));
	if (rename(source, aside) != 0) {
		char msg[4600];
		snprintf(msg, sizeof(msg), "cannot move %.1000s aside: %s", source,
		         strerror(errno));
		as4_http_resp_json_error(resp, 500, "internal", msg, NULL);
		goto unlock;
	}
	struct as4_diag d;
	as4_diag_init(&d);
	if (as4_ap_reload(r->ap, &d) != AS4_OK) {
		if (rename(aside, source) != 0) {
			as4_log(AS4_LOG_ERR, "pmodes: cannot restore %s: %s", source,
			        strerror(errno));
		}
		refused(resp, &d);
		goto unlock;
	}
	unlink(aside);
	char detail[4400];
	snprintf(detail, sizeof(detail), "removed %.1000s%s", source,
	         w > 0 ? " (forced with messages waiting)" : "");
	bool audited = api_audit(r, req, "pmode.delete", id, detail);
	api_json(resp, 200,
	         json_pack("{s:s, s:s, s:I, s:s}", "id", id, "source", source, "waiting_messages",
	                   (json_int_t)w, "audit", audited ? "recorded" : "failed"));
unlock:
	as4_runtime_put(held);
	pthread_mutex_unlock(&r->ap->admin_lock);
}

void api_pmodes(struct api_req *r, struct as4_http_req *req, const char *method, const char *id,
                const struct as4_blob *body, struct as4_http_resp *resp)
{
	const struct as4_config *cfg = r->rt->cfg;
	if (strcmp(method, "VALIDATE") == 0) {
		struct as4_pmode_set *set = NULL;
		bool yaml = false;
		/* ?id= names the PMode when the document does not (a file name, as4ctl apply) */
		const char *default_id = as4_http_req_query(req, "id");
		if (default_id != NULL && !id_ok(default_id)) {
			as4_http_resp_json_error(
			        resp, 400, "bad_request",
			        "id must be 1 to 128 characters from A-Z a-z 0-9 . _ -", "id");
			return;
		}
		if (body_ok(r, req, body, &yaml, resp) &&
		    validate(cfg, body, yaml, default_id, false, &set, resp)) {
			const struct as4_pmode *pm = as4_pmode_at(set, 0);
			bool exists = as4_pmode_find(cfg->pmodes, pm->id) != NULL;
			api_json(resp, 200,
			         json_pack("{s:b, s:s, s:s, s:o}", "valid", true, "id", pm->id,
			                   "would", exists ? "replace" : "create", "document",
			                   render(pm)));
		}
		as4_pmode_set_free(set);
	} else if (id == NULL && strcmp(method, "GET") == 0) {
		json_t *list = json_array();
		for (size_t i = 0; list != NULL && i < as4_pmode_count(cfg->pmodes); i++) {
			const struct as4_pmode *pm = as4_pmode_at(cfg->pmodes, i);
			if (token_has_pmode(r, pm->id)) {
				json_array_append_new(list, summary(pm));
			}
		}
		api_json(resp, 200,
		         json_pack("{s:o, s:s}", "pmodes", list, "folder",
		                   cfg->pmode_dir ? cfg->pmode_dir : ""));
	} else if (id == NULL) {
		put_pmode(r, req, NULL, body, resp);
	} else if (strcmp(method, "GET") == 0) {
		const struct as4_pmode *pm = as4_pmode_find(cfg->pmodes, id);
		if (pm == NULL || !token_has_pmode(r, id)) {
			char msg[300];
			snprintf(msg, sizeof(msg), "no PMode with id '%.200s'", id);
			as4_http_resp_json_error(resp, 404, "not_found", msg, NULL);
			return;
		}
		api_json(resp, 200,
		         json_pack("{s:s, s:s, s:o}", "id", pm->id, "source",
		                   pm->source ? pm->source : "", "document", render(pm)));
	} else if (strcmp(method, "PUT") == 0) {
		put_pmode(r, req, id, body, resp);
	} else {
		delete_pmode(r, req, id, resp);
	}
}
