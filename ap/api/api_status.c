/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Health and operations on the internal API: readiness (for orchestrators: no token), status
 * (version, uptime, queue depths, the oldest waiting message, certificate warnings), the audit
 * trail, the log level at runtime and a configuration reload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "api_int.h"
#include "as4/admin_json.h"
#include "as4/log.h"
#include "as4/str.h"
#include "as4/time.h"

#define MS_DAY (24LL * 3600 * 1000)
/* The store is "not ready" above this share of its LMDB map, or below this much free disk. */
#define MAP_FULL_RATIO 0.95
#define DISK_MIN_FREE  (64ull * 1024 * 1024)

static json_t *time_or_null(int64_t ms)
{
	if (ms == 0) {
		return json_null();
	}
	char t[AS4_TIME_TEXT_MAX];
	as4_time_format(ms, t);
	return json_string(t);
}

static json_t *check(const char *name, bool ok, const char *detail)
{
	return json_pack("{s:s, s:b, s:s}", "name", name, "ok", ok, "detail", detail);
}

void api_ready(struct as4_ap *ap, struct as4_http_resp *resp)
{
	char detail[600];
	bool all = true;
	json_t *checks = json_array();
	struct as4_runtime *rt = as4_ap_runtime(ap);

	snprintf(detail, sizeof(detail), "%.400s: %zu PModes, %zu parties", rt->cfg->path,
	         as4_pmode_count(rt->cfg->pmodes), rt->cfg->n_parties);
	json_array_append_new(checks, check("config", true, detail));

	struct as4_store_stats s;
	struct as4_diag d;
	as4_diag_init(&d);
	bool ok = as4_store_stats(ap->store, &s, &d) == AS4_OK;
	if (!ok) {
		snprintf(detail, sizeof(detail), "cannot read the store: %s", as4_diag_text(&d));
	} else if (s.map_size > 0 && (double)s.map_used / (double)s.map_size > MAP_FULL_RATIO) {
		ok = false;
		snprintf(detail, sizeof(detail),
		         "the LMDB map is %.1f%% used (%llu of %llu bytes): raise store.map_size",
		         100.0 * (double)s.map_used / (double)s.map_size,
		         (unsigned long long)s.map_used, (unsigned long long)s.map_size);
	} else {
		snprintf(detail, sizeof(detail), "%llu messages, map %.1f%% used",
		         (unsigned long long)s.messages,
		         s.map_size ? 100.0 * (double)s.map_used / (double)s.map_size : 0.0);
	}
	struct statvfs vfs;
	if (ok && statvfs(rt->cfg->node.data_dir, &vfs) == 0) {
		unsigned long long avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
		if (avail < DISK_MIN_FREE) {
			ok = false;
			snprintf(detail, sizeof(detail),
			         "only %llu bytes free on the disk of %.400s", avail,
			         rt->cfg->node.data_dir);
		}
	}
	if (ok && access(ap->tmp_dir, W_OK) != 0) {
		ok = false;
		snprintf(detail, sizeof(detail), "%.400s is not writable", ap->tmp_dir);
	}
	if (atomic_load(&ap->stopping)) {
		ok = false;
		snprintf(detail, sizeof(detail), "stopping");
	}
	json_array_append_new(checks, check("store", ok, detail));
	all = all && ok;

	/* our own certificates and the TLS listeners': an expired one breaks every exchange */
	struct api_cert *v = NULL;
	size_t n = 0;
	ok = true;
	snprintf(detail, sizeof(detail), "none expired");
	int64_t now = as4_time_now_ms();
	if (api_certs_collect(rt, &v, &n) == AS4_OK) {
		for (size_t i = 0; i < n && ok; i++) {
			bool own = (strcmp(v[i].group, "keystore") == 0 &&
			            (strcmp(v[i].name, "signing") == 0 ||
			             strcmp(v[i].name, "encryption") == 0)) ||
			           strcmp(v[i].group, "tls.msh") == 0 ||
			           strcmp(v[i].group, "tls.api") == 0 ||
			           strcmp(v[i].group, "tls.sender") == 0;
			if (own && api_cert_not_after_ms(v[i].x) < now) {
				ok = false;
				snprintf(detail, sizeof(detail),
				         "the %s %s certificate has expired", v[i].group,
				         v[i].name);
			}
		}
	} else {
		ok = false;
		snprintf(detail, sizeof(detail), "out of memory");
	}
	api_certs_free(v, n);
	json_array_append_new(checks, check("certificates", ok, detail));
	all = all && ok;
	as4_runtime_put(rt);
	api_json(resp, all ? 200 : 503, json_pack("{s:b, s:o}", "ready", all, "checks", checks));
}

void api_status(struct api_req *r, struct as4_http_resp *resp)
{
	struct as4_ap *ap = r->ap;
	const struct as4_config *cfg = r->rt->cfg;
	struct as4_store_stats s;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_store_stats(ap->store, &s, &d);
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		return;
	}
	int64_t now = as4_time_now_ms();
	json_t *queues = json_object();
	for (int st = AS4_ST_QUEUED; st < AS4_ST__COUNT; st++) {
		json_object_set_new(queues, as4_msg_state_text((enum as4_msg_state)st),
		                    json_integer((json_int_t)s.by_state[st]));
	}
	json_t *warnings = json_array();
	json_t *soonest = json_null();
	struct api_cert *v = NULL;
	size_t n = 0;
	if (api_certs_collect(r->rt, &v, &n) == AS4_OK) {
		int64_t first = 0;
		for (size_t i = 0; i < n; i++) {
			int64_t na = api_cert_not_after_ms(v[i].x);
			bool own = strcmp(v[i].group, "keystore") == 0 ||
			           as4_str_starts(v[i].group, "tls.");
			if (own && (first == 0 || na < first)) {
				first = na;
				json_decref(soonest);
				soonest = api_cert_json(v[i].x, now);
				json_object_set_new(soonest, "group", json_string(v[i].group));
				json_object_set_new(soonest, "name", json_string(v[i].name));
			}
			if (na - now < 30 * MS_DAY) {
				char w[600];
				json_t *o = api_cert_json(v[i].x, now);
				snprintf(w, sizeof(w), "%s %s certificate %s %s", v[i].group,
				         v[i].name,
				         o != NULL
				                 ? json_string_value(json_object_get(o, "subject"))
				                 : "?",
				         na < now ? "has expired" : "expires within 30 days");
				json_decref(o);
				json_array_append_new(warnings, json_string(w));
			}
		}
	}
	api_certs_free(v, n);
	json_t *store = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "messages",
	                          (json_int_t)s.messages, "inbox", (json_int_t)s.inbox,
	                          "dedup_entries", (json_int_t)s.dedup_entries, "spool_bytes",
	                          (json_int_t)s.spool_bytes, "map_size", (json_int_t)s.map_size,
	                          "map_used", (json_int_t)s.map_used, "map_used_ratio",
	                          s.map_size ? (double)s.map_used / (double)s.map_size : 0.0);
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:I, s:s}", "version", ap->version, "node",
	                      cfg->node.name, "party",
	                      cfg->node.party != NULL ? cfg->node.party->name : "", "started",
	                      time_or_null(ap->started_ms), "uptime_s",
	                      (json_int_t)((now - ap->started_ms) / 1000), "log_level",
	                      as4_log_level_name(as4_log_get_level()));
	if (o == NULL) {
		json_decref(queues);
		json_decref(store);
		json_decref(warnings);
		json_decref(soonest);
		api_json(resp, 500, NULL);
		return;
	}
	json_object_set_new(o, "config",
	                    json_pack("{s:s, s:I, s:I}", "path", cfg->path, "pmodes",
	                              (json_int_t)as4_pmode_count(cfg->pmodes), "parties",
	                              (json_int_t)cfg->n_parties));
	json_object_set_new(o, "queues", queues);
	json_object_set_new(o, "oldest_queued", time_or_null(s.oldest_queued_ms));
	json_object_set_new(o, "oldest_queued_age_s",
	                    s.oldest_queued_ms != 0
	                            ? json_integer((json_int_t)((now - s.oldest_queued_ms) / 1000))
	                            : json_null());
	json_object_set_new(o, "store", store);
	json_object_set_new(
	        o, "certificates",
	        json_pack("{s:o, s:o}", "warnings", warnings, "soonest_expiry", soonest));
	json_object_set_new(o, "in_flight",
	                    json_pack("{s:I, s:I}", "msh",
	                              (json_int_t)as4_http_server_inflight(ap->msh), "api",
	                              (json_int_t)as4_http_server_inflight(ap->api)));
	api_json(resp, 200, o);
}

void api_audit_list(struct api_req *r, struct as4_http_req *req, struct as4_http_resp *resp)
{
	uint64_t after = 0;
	uint64_t limit = 100;
	const char *names[8];
	size_t nn = as4_http_req_query_names(req, names, AS4_ARRAY_LEN(names));
	for (size_t i = 0; i < nn && i < AS4_ARRAY_LEN(names); i++) {
		if (strcmp(names[i], "after") != 0 && strcmp(names[i], "limit") != 0) {
			char msg[200];
			snprintf(msg, sizeof(msg), "unknown query argument '%.80s' (after, limit)",
			         names[i]);
			as4_http_resp_json_error(resp, 400, "bad_request", msg, names[i]);
			return;
		}
	}
	const char *q = as4_http_req_query(req, "after");
	if (q != NULL && as4_parse_u64(q, UINT64_MAX, &after) != AS4_OK) {
		as4_http_resp_json_error(
		        resp, 400, "bad_request",
		        "after must be the seq of an audit entry (0 = from the start)", "after");
		return;
	}
	q = as4_http_req_query(req, "limit");
	if (q != NULL && (as4_parse_u64(q, 1000, &limit) != AS4_OK || limit == 0)) {
		as4_http_resp_json_error(resp, 400, "bad_request",
		                         "limit must be an integer from 1 to 1000", "limit");
		return;
	}
	struct as4_store_audit *a = NULL;
	size_t n = 0;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_store_audit_list(r->ap->store, after, (size_t)limit, &a, &n, &d);
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		return;
	}
	json_t *list = json_array();
	for (size_t i = 0; list != NULL && i < n; i++) {
		json_t *e =
		        json_pack("{s:I, s:o, s:s, s:s}", "seq", (json_int_t)a[i].seq, "time",
		                  time_or_null(a[i].time_ms), "who", a[i].who, "what", a[i].what);
		if (e != NULL) {
			json_object_set_new(e, "target",
			                    a[i].target ? json_string(a[i].target) : json_null());
			json_object_set_new(e, "detail",
			                    a[i].detail ? json_string(a[i].detail) : json_null());
		}
		json_array_append_new(list, e);
	}
	/* a full page may have a successor: continue after its last entry */
	json_t *next = n == limit && n > 0 ? json_integer((json_int_t)a[n - 1].seq) : json_null();
	as4_store_audit_free(a, n);
	api_json(resp, 200, json_pack("{s:o, s:o}", "entries", list, "next_after", next));
}

void api_log_level(struct api_req *r, struct as4_http_req *req, const char *method,
                   const struct as4_blob *body, struct as4_http_resp *resp)
{
	enum as4_log_level before = as4_log_get_level();
	if (strcmp(method, "GET") == 0) {
		api_json(resp, 200, json_pack("{s:s}", "level", as4_log_level_name(before)));
		return;
	}
	static const char *const allowed[] = {"level", NULL};
	json_t *j = api_body_json(r, req, body, resp);
	if (j == NULL) {
		return;
	}
	struct as4_diag d;
	as4_diag_init(&d);
	const char *level = NULL;
	enum as4_log_level lv;
	as4_err err = as4_json_only(j, "", allowed, &d);
	if (err == AS4_OK) {
		err = as4_json_str(j, "", "level", true, 16, &level, &d);
	}
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
	} else if (as4_log_level_parse(level, &lv) != AS4_OK) {
		as4_http_resp_json_error(resp, 422, "unprocessable",
		                         "level must be error, warning, notice, info or debug",
		                         "level");
	} else {
		as4_log_set_level(lv);
		char detail[64];
		snprintf(detail, sizeof(detail), "%s -> %s", as4_log_level_name(before),
		         as4_log_level_name(lv));
		bool audited = api_audit(r, req, "log.level", NULL, detail);
		api_json(resp, 200,
		         json_pack("{s:s, s:s, s:s}", "level", as4_log_level_name(lv), "previous",
		                   as4_log_level_name(before), "audit",
		                   audited ? "recorded" : "failed"));
	}
	json_decref(j);
}

void api_reload(struct api_req *r, struct as4_http_req *req, struct as4_http_resp *resp)
{
	struct as4_diag d;
	as4_diag_init(&d);
	pthread_mutex_lock(&r->ap->admin_lock);
	as4_err err = as4_ap_reload(r->ap, &d);
	pthread_mutex_unlock(&r->ap->admin_lock);
	if (err != AS4_OK) {
		char msg[600];
		snprintf(msg, sizeof(msg),
		         "reload refused, still running the previous configuration: %s",
		         as4_diag_text(&d));
		as4_http_resp_json_error(resp, 422, "unprocessable", msg, NULL);
		return;
	}
	struct as4_runtime *rt = as4_ap_runtime(r->ap);
	char detail[64];
	snprintf(detail, sizeof(detail), "%zu PModes", as4_pmode_count(rt->cfg->pmodes));
	bool audited = api_audit(r, req, "config.reload", rt->cfg->path, detail);
	as4_log(AS4_LOG_NOTICE, "configuration reloaded through the API (%s)", detail);
	api_json(resp, 200,
	         json_pack("{s:s, s:I, s:s}", "config", rt->cfg->path, "pmodes",
	                   (json_int_t)as4_pmode_count(rt->cfg->pmodes), "audit",
	                   audited ? "recorded" : "failed"));
	as4_runtime_put(rt);
}
