/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Messages on the internal API: submission (JSON), one message with its events, payload
 * download, the inbox and acknowledgement.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_int.h"
#include "as4/admin_json.h"
#include "as4/discovery.h"
#include "as4/ebms3.h"
#include "as4/mime.h"
#include "as4/log.h"
#include "as4/str.h"
#include "as4/time.h"

/* Most payloads and properties one submission may carry. */
#define MAX_PAYLOADS 64
#define MAX_PROPS    64

static char *dup_or_null(const char *s)
{
	return s != NULL ? as4_str_dup(s) : NULL;
}

static json_t *str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *time_or_null(int64_t ms)
{
	if (ms == 0) {
		return json_null();
	}
	char t[AS4_TIME_TEXT_MAX];
	as4_time_format(ms, t);
	return json_string(t);
}

static json_t *render_props(const struct as4_store_prop *p, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++) {
		json_array_append_new(a, json_pack("{s:s, s:o, s:s}", "name", p[i].name, "type",
		                                   str_or_null(p[i].type), "value", p[i].value));
	}
	return a;
}

json_t *api_render_record(const struct as4_msgrec *rec)
{
	json_t *payloads = json_array();
	for (size_t i = 0; payloads != NULL && i < rec->n_payloads; i++) {
		const struct as4_store_payload *p = &rec->payloads[i];
		char sha[65];
		as4_hex_encode(p->sha256, sizeof(p->sha256), sha);
		json_array_append_new(
		        payloads,
		        json_pack("{s:I, s:o, s:s, s:o, s:b, s:I, s:s, s:o, s:b}", "index",
		                  (json_int_t)i, "content_id", str_or_null(p->content_id),
		                  "mime_type", p->mime_type ? p->mime_type : "", "charset",
		                  str_or_null(p->charset), "compressed", p->compressed, "size",
		                  (json_int_t)p->size, "sha256", sha, "properties",
		                  render_props(p->props, p->n_props), "available",
		                  p->file != NULL));
	}
	json_t *v = json_pack(
	        "{s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
	        (json_int_t)rec->id, "direction", as4_dir_text(rec->dir), "state",
	        as4_msg_state_text(rec->state), "message_id", rec->message_id, "ref_to_message_id",
	        str_or_null(rec->ref_to_message_id), "conversation_id",
	        str_or_null(rec->conversation_id), "pmode", str_or_null(rec->pmode_id), "from",
	        json_pack("{s:o, s:o, s:o}", "type", str_or_null(rec->from.type), "value",
	                  str_or_null(rec->from.value), "role", str_or_null(rec->from_role)),
	        "to",
	        json_pack("{s:o, s:o, s:o}", "type", str_or_null(rec->to.type), "value",
	                  str_or_null(rec->to.value), "role", str_or_null(rec->to_role)),
	        "service",
	        json_pack("{s:o, s:o}", "value", str_or_null(rec->service), "type",
	                  str_or_null(rec->service_type)),
	        "action", str_or_null(rec->action), "agreement", str_or_null(rec->agreement),
	        "original_sender", str_or_null(rec->original_sender));
	if (v == NULL) {
		json_decref(payloads);
		return NULL;
	}
	json_object_set_new(v, "final_recipient", str_or_null(rec->final_recipient));
	json_object_set_new(v, "created", time_or_null(rec->created_ms));
	json_object_set_new(v, "updated", time_or_null(rec->updated_ms));
	json_object_set_new(v, "ebms_timestamp", time_or_null(rec->ebms_timestamp_ms));
	json_object_set_new(v, "attempts", json_integer(rec->attempts));
	json_object_set_new(v, "next_due", time_or_null(rec->next_due_ms));
	json_object_set_new(v, "endpoint", str_or_null(rec->endpoint_url));
	if (rec->last_error_code != NULL || rec->last_error_detail != NULL) {
		json_object_set_new(v, "last_error",
		                    json_pack("{s:o, s:o}", "code",
		                              str_or_null(rec->last_error_code), "detail",
		                              str_or_null(rec->last_error_detail)));
	} else {
		json_object_set_new(v, "last_error", json_null());
	}
	json_object_set_new(v, "properties", render_props(rec->props, rec->n_props));
	json_object_set_new(v, "payloads", payloads);
	json_object_set_new(v, "receipt", json_boolean(rec->receipt_file != NULL));
	json_object_set_new(v, "acknowledged", json_boolean(rec->acked));
	if (rec->sbdh_instance_id != NULL) {
		json_object_set_new(v, "sbdh_instance_id", json_string(rec->sbdh_instance_id));
	}
	if (rec->medcom_message_id != NULL) {
		json_object_set_new(v, "medcom_message_id", json_string(rec->medcom_message_id));
	}
	if (rec->submitted_by != NULL) {
		json_object_set_new(v, "submitted_by", json_string(rec->submitted_by));
	}
	return v;
}

bool api_token_allows(struct api_req *r, const struct as4_msgrec *rec, struct as4_http_resp *resp)
{
	bool ok = api_token_sees(r, rec);
	if (!ok) {
		/* as for an unknown id: a token learns nothing about messages it may not see */
		atomic_fetch_add(&r->ap->metrics.api_denied, 1);
		char msg[600];
		snprintf(msg, sizeof(msg), "no message with MessageId '%s'",
		         rec->message_id != NULL ? rec->message_id : "");
		as4_http_resp_json_error(resp, 404, "not_found", msg, NULL);
	}
	return ok;
}

bool api_token_sees(const struct api_req *r, const struct as4_msgrec *rec)
{
	const struct as4_api_token *t = r->token;
	bool ok = true;
	/*
	 * A submitter's own messages: the outbound ones it submitted (records older than
	 * submitted_by have none and stay hidden) and the inbound ones, limited below to its
	 * PModes and parties when it has restrictions.
	 */
	if (t->role == AS4_API_ROLE_SUBMITTER && rec->dir == AS4_DIR_OUT) {
		ok = rec->submitted_by != NULL && strcmp(rec->submitted_by, t->name) == 0;
	}
	if (t->n_pmodes > 0) {
		ok = false;
		for (size_t i = 0; rec->pmode_id != NULL && i < t->n_pmodes; i++) {
			if (strcmp(t->pmodes[i], rec->pmode_id) == 0) {
				ok = true;
			}
		}
	}
	if (ok && t->n_parties > 0) {
		ok = false;
		const struct as4_config *cfg = r->rt->cfg;
		const struct as4_party *from =
		        as4_config_party_by_id(cfg, rec->from.type, rec->from.value);
		const struct as4_party *to =
		        as4_config_party_by_id(cfg, rec->to.type, rec->to.value);
		for (size_t i = 0; i < t->n_parties; i++) {
			if ((from != NULL && strcmp(from->name, t->parties[i]) == 0) ||
			    (to != NULL && strcmp(to->name, t->parties[i]) == 0)) {
				ok = true;
			}
		}
	}
	return ok;
}

bool api_find_message(struct api_req *r, struct as4_http_req *req, const char *msgid,
                      struct as4_msgrec *rec, struct as4_http_resp *resp)
{
	struct as4_diag d;
	as4_diag_init(&d);
	const char *dir_text = as4_http_req_query(req, "direction");
	as4_err err;
	if (dir_text != NULL) {
		enum as4_dir dir;
		if (as4_dir_parse(dir_text, &dir) != AS4_OK) {
			as4_http_resp_json_error(resp, 400, "bad_request",
			                         "direction must be 'in' or 'out'", "direction");
			return false;
		}
		err = as4_store_get_by_msgid(r->ap->store, dir, msgid, rec, &d);
	} else {
		err = as4_store_get_by_msgid(r->ap->store, AS4_DIR_OUT, msgid, rec, &d);
		if (err == AS4_E_NOTFOUND) {
			as4_diag_init(&d);
			err = as4_store_get_by_msgid(r->ap->store, AS4_DIR_IN, msgid, rec, &d);
		}
	}
	if (err == AS4_E_NOTFOUND) {
		char msg[600];
		snprintf(msg, sizeof(msg), "no message with MessageId '%s'", msgid);
		as4_http_resp_json_error(resp, 404, "not_found", msg, NULL);
		return false;
	}
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		return false;
	}
	return api_token_allows(r, rec, resp);
}

void api_message_get(struct api_req *r, struct as4_http_req *req, const char *msgid,
                     struct as4_http_resp *resp)
{
	struct as4_msgrec rec;
	as4_msgrec_init(&rec);
	struct as4_store_event *ev = NULL;
	size_t n_ev = 0;
	if (!api_find_message(r, req, msgid, &rec, resp)) {
		goto out;
	}
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_store_events(r->ap->store, rec.id, &ev, &n_ev, &d);
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		goto out;
	}
	json_t *v = api_render_record(&rec);
	json_t *events = json_array();
	for (size_t i = 0; events != NULL && i < n_ev; i++) {
		json_t *e = json_pack("{s:I, s:o, s:s, s:s, s:s}", "seq", (json_int_t)ev[i].seq,
		                      "time", time_or_null(ev[i].time_ms), "from",
		                      as4_msg_state_text(ev[i].from_state), "to",
		                      as4_msg_state_text(ev[i].to_state), "reason",
		                      ev[i].reason ? ev[i].reason : "");
		if (e != NULL && ev[i].ebms_code != NULL) {
			json_object_set_new(e, "ebms_code", json_string(ev[i].ebms_code));
		}
		if (e != NULL && ev[i].detail != NULL) {
			json_object_set_new(e, "detail", json_string(ev[i].detail));
		}
		json_array_append_new(events, e);
	}
	if (v != NULL) {
		json_object_set_new(v, "events", events);
		api_message_details(r, &rec, ev, n_ev, v);
	} else {
		json_decref(events);
	}
	api_json(resp, 200, v);
out:
	as4_store_events_free(ev, n_ev);
	as4_msgrec_cleanup(&rec);
}

void api_message_payload(struct api_req *r, struct as4_http_req *req, const char *msgid,
                         unsigned long index, struct as4_http_resp *resp)
{
	struct as4_msgrec rec;
	as4_msgrec_init(&rec);
	if (!api_find_message(r, req, msgid, &rec, resp)) {
		goto out;
	}
	if (index >= rec.n_payloads) {
		char msg[160];
		snprintf(msg, sizeof(msg), "the message has %zu payloads (indexes 0 to %zu)",
		         rec.n_payloads, rec.n_payloads ? rec.n_payloads - 1 : 0);
		as4_http_resp_json_error(resp, 404, "not_found", msg, NULL);
		goto out;
	}
	const struct as4_store_payload *p = &rec.payloads[index];
	if (p->file == NULL) {
		as4_http_resp_json_error(resp, 410, "gone",
		                         "the payload was removed by the retention policy", NULL);
		goto out;
	}
	char path[4096];
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_store_spool_path(r->ap->store, p->file, path, sizeof(path), &d);
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		goto out;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0) {
			close(fd);
		}
		as4_http_resp_json_error(resp, 500, "internal", "the payload file cannot be read",
		                         NULL);
		goto out;
	}
	resp->status = 200;
	resp->file_fd = fd;
	resp->file_len = (uint64_t)st.st_size;
	/* the content type lives in the request state: resp keeps only a pointer */
	char *ct = NULL;
	if (p->charset != NULL) {
		size_t n = strlen(p->mime_type) + strlen(p->charset) + 16;
		ct = malloc(n);
		if (ct != NULL) {
			snprintf(ct, n, "%s; charset=%s", p->mime_type, p->charset);
		}
	} else {
		ct = as4_str_dup(p->mime_type);
	}
	/* the type is built per request: it travels as a header line, which MHD copies */
	resp->content_type = ct != NULL ? NULL : "application/octet-stream";
	if (ct != NULL) {
		snprintf(resp->extra_headers, sizeof(resp->extra_headers),
		         "Content-Type: %s\r\nX-AS4-Content-Id: %s\r\n", ct,
		         p->content_id ? p->content_id : "");
		free(ct);
	}
out:
	as4_msgrec_cleanup(&rec);
}

void api_message_ack(struct api_req *r, struct as4_http_req *req, const char *msgid,
                     struct as4_http_resp *resp)
{
	struct as4_msgrec rec;
	as4_msgrec_init(&rec);
	if (!api_find_message(r, req, msgid, &rec, resp)) {
		goto out;
	}
	if (rec.dir != AS4_DIR_IN) {
		as4_http_resp_json_error(resp, 409, "invalid_state",
		                         "only received messages are acknowledged", NULL);
		goto out;
	}
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_store_ack(r->ap->store, rec.id, r->token->name, &d);
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		goto out;
	}
	api_json(resp, 200,
	         json_pack("{s:s, s:s}", "message_id", rec.message_id, "state",
	                   as4_msg_state_text(AS4_ST_BACKEND_ACKED)));
out:
	as4_msgrec_cleanup(&rec);
}

void api_inbox(struct api_req *r, struct as4_http_req *req, struct as4_http_resp *resp)
{
	uint64_t limit = 50;
	uint64_t after = 0;
	const char *q = as4_http_req_query(req, "limit");
	if (q != NULL && (as4_parse_u64(q, 1000, &limit) != AS4_OK || limit == 0)) {
		as4_http_resp_json_error(resp, 400, "bad_request",
		                         "limit must be an integer from 1 to 1000", "limit");
		return;
	}
	q = as4_http_req_query(req, "cursor");
	if (q != NULL && q[0] != '\0' && as4_parse_u64(q, UINT64_MAX, &after) != AS4_OK) {
		as4_http_resp_json_error(resp, 400, "bad_request", "malformed cursor", "cursor");
		return;
	}
	struct as4_msgrec *recs = NULL;
	size_t n = 0;
	uint64_t next = 0;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err =
	        as4_store_inbox_list(r->ap->store, after, (size_t)limit, &recs, &n, &next, &d);
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		return;
	}
	json_t *list = json_array();
	for (size_t i = 0; list != NULL && i < n; i++) {
		/* a restricted token only sees its own PModes and parties */
		if (api_token_sees(r, &recs[i])) {
			json_array_append_new(list, api_render_record(&recs[i]));
		}
	}
	char cursor[24] = "";
	if (next != 0) {
		snprintf(cursor, sizeof(cursor), "%llu", (unsigned long long)next);
	}
	api_json(resp, 200, json_pack("{s:o, s:s}", "messages", list, "next_cursor", cursor));
	as4_msgrec_array_free(recs, n);
}

/* ---- Submission ------------------------------------------------------------------------- */

static bool party_is(const struct as4_party *p, const char *name_or_id)
{
	if (p == NULL) {
		return false;
	}
	if (strcmp(p->name, name_or_id) == 0) {
		return true;
	}
	for (size_t i = 0; i < p->n_ids; i++) {
		/* a dynamic party's id has no value (as4/pmode.h) */
		if (p->ids[i].value != NULL && strcmp(p->ids[i].value, name_or_id) == 0) {
			return true;
		}
	}
	return false;
}

/*
 * Choose the PMode of a submission: by id, or by service + action (+ "to" party) among the
 * PModes this access point sends with.
 */
static as4_err choose_pmode(const struct as4_config *cfg, const json_t *j,
                            const struct as4_pmode **out, struct as4_diag *d)
{
	const char *id = NULL;
	const char *service = NULL;
	const char *action = NULL;
	const char *to = NULL;
	as4_err err = as4_json_str(j, "", "pmode", false, 256, &id, d);
	if (err == AS4_OK) {
		err = as4_json_str(j, "", "service", false, 2048, &service, d);
	}
	if (err == AS4_OK) {
		err = as4_json_str(j, "", "action", false, 2048, &action, d);
	}
	if (err == AS4_OK) {
		err = as4_json_str(j, "", "to", false, 512, &to, d);
	}
	if (err != AS4_OK) {
		return err;
	}
	const struct as4_party *self = cfg->node.party;
	if (id != NULL) {
		const struct as4_pmode *pm = as4_pmode_find(cfg->pmodes, id);
		if (pm == NULL) {
			return as4_diag_set_field(d, AS4_E_CONFIG, "pmode", "no PMode with id '%s'",
			                          id);
		}
		if (pm->initiator != self) {
			return as4_diag_set_field(d, AS4_E_CONFIG, "pmode",
			                          "PMode '%s' does not send from this access point "
			                          "(its initiator is '%s')",
			                          id, pm->initiator ? pm->initiator->name : "?");
		}
		*out = pm;
		return AS4_OK;
	}
	if (service == NULL || action == NULL) {
		return as4_diag_set_field(d, AS4_E_INVAL, "pmode",
		                          "give either pmode, or service and action (and to)");
	}
	const struct as4_pmode *found = NULL;
	size_t matches = 0;
	for (size_t i = 0; i < as4_pmode_count(cfg->pmodes); i++) {
		const struct as4_pmode *pm = as4_pmode_at(cfg->pmodes, i);
		if (pm->initiator != self || strcmp(pm->service, service) != 0 ||
		    strcmp(pm->action, action) != 0) {
			continue;
		}
		if (to != NULL && !party_is(pm->responder, to)) {
			continue;
		}
		matches++;
		if (found == NULL) {
			found = pm;
		}
	}
	if (matches == 0) {
		return as4_diag_set_field(d, AS4_E_CONFIG, "action",
		                          "no PMode sends service '%s' action '%s'%s%s", service,
		                          action, to ? " to " : "", to ? to : "");
	}
	if (matches > 1) {
		return as4_diag_set_field(d, AS4_E_CONFIG, "pmode",
		                          "%zu PModes send service '%s' action '%s': name one with "
		                          "pmode, or add to",
		                          matches, service, action);
	}
	*out = found;
	return AS4_OK;
}

static bool mime_type_valid(const char *s)
{
	/* RFC 6838 §4.2 restricted names: type "/" subtype, optional parameters */
	const char *slash = strchr(s, '/');
	if (slash == NULL || slash == s || slash[1] == '\0') {
		return false;
	}
	for (const char *p = s; *p != '\0' && *p != ';'; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || strchr("!#$&-^_.+/", c) != NULL;
		if (!ok) {
			return false;
		}
	}
	return strlen(s) < 256;
}

/* Read a list of {name, type?, value} objects into props (appending at *n). */
static as4_err read_props(const json_t *arr, const char *prefix, struct as4_store_prop *props,
                          size_t cap, size_t *n, struct as4_diag *d)
{
	static const char *const allowed[] = {"name", "type", "value", NULL};
	for (size_t i = 0; arr != NULL && i < json_array_size(arr); i++) {
		char pfx[96];
		snprintf(pfx, sizeof(pfx), "%s[%zu].", prefix, i);
		const json_t *o = json_array_get(arr, i);
		const char *name = NULL;
		const char *type = NULL;
		const char *value = NULL;
		as4_err err = as4_json_only(o, pfx, allowed, d);
		if (err == AS4_OK) {
			err = as4_json_str(o, pfx, "name", true, 256, &name, d);
		}
		if (err == AS4_OK) {
			err = as4_json_str(o, pfx, "type", false, 256, &type, d);
		}
		if (err == AS4_OK) {
			err = as4_json_str(o, pfx, "value", true, 4096, &value, d);
		}
		if (err != AS4_OK) {
			return err;
		}
		if (*n >= cap) {
			return as4_diag_set_field(d, AS4_E_LIMIT, prefix, "too many properties");
		}
		props[*n].name = as4_str_dup(name);
		props[*n].type = dup_or_null(type);
		props[*n].value = as4_str_dup(value);
		(*n)++;
		if (props[*n - 1].name == NULL || props[*n - 1].value == NULL ||
		    (type != NULL && props[*n - 1].type == NULL)) {
			return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
	}
	return AS4_OK;
}

/* A four-corner end: "0088:579..." (type iso6523-actorid-upis) or {"type", "value"}. */
static as4_err read_corner(const json_t *j, const char *key, const char *prop,
                           struct as4_store_prop *props, size_t cap, size_t *n, char **value,
                           struct as4_diag *d)
{
	json_t *v = json_object_get(j, key);
	if (v == NULL || json_is_null(v)) {
		return AS4_OK;
	}
	const char *type = "iso6523-actorid-upis";
	const char *val = NULL;
	if (json_is_string(v)) {
		val = json_string_value(v);
	} else if (json_is_object(v)) {
		static const char *const allowed[] = {"type", "value", NULL};
		char pfx[64];
		snprintf(pfx, sizeof(pfx), "%s.", key);
		as4_err err = as4_json_only(v, pfx, allowed, d);
		if (err == AS4_OK) {
			err = as4_json_str(v, pfx, "type", false, 256, &type, d);
		}
		if (err == AS4_OK) {
			err = as4_json_str(v, pfx, "value", true, 256, &val, d);
		}
		if (err != AS4_OK) {
			return err;
		}
	} else {
		return as4_diag_set_field(d, AS4_E_INVAL, key,
		                          "%s must be a string or {\"type\", \"value\"}", key);
	}
	if (val == NULL || val[0] == '\0' || strlen(val) > 256) {
		return as4_diag_set_field(d, AS4_E_INVAL, key, "%s must not be empty", key);
	}
	if (*n >= cap) {
		return as4_diag_set_field(d, AS4_E_LIMIT, key, "too many properties");
	}
	props[*n].name = as4_str_dup(prop);
	props[*n].type = dup_or_null(type);
	props[*n].value = as4_str_dup(val);
	*value = as4_str_dup(val);
	(*n)++;
	if (props[*n - 1].name == NULL || props[*n - 1].value == NULL || *value == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	return AS4_OK;
}

/* The cap on one payload's decoded size for a PMode. */
static uint64_t payload_cap(const struct as4_config *cfg, const struct as4_pmode *pm)
{
	uint64_t cap = cfg->limits.max_gunzip;
	if (pm->max_payload > 0 && pm->max_payload < cap) {
		cap = pm->max_payload;
	}
	return cap;
}

/* Where the bytes of the submitted payloads come from. */
struct payload_src {
	const json_t *arr;             /* "payloads" of the JSON document, may be NULL */
	const struct as4_part **files; /* multipart/form-data file parts, or NULL */
	size_t n_files;
};

/* One payload: its description o (fields under pfx) and its bytes (base64 or a file part). */
static as4_err read_payload(const struct as4_config *cfg, const struct as4_pmode *pm,
                            const json_t *o, const char *pfx, const struct as4_part *file,
                            struct as4_msgrec *rec, size_t i, struct as4_blob *blob,
                            struct as4_diag *d)
{
	static const char *const allowed[] = {"content_id", "mime_type",  "charset", "content",
	                                      "compress",   "properties", NULL};
	/* with a file part the bytes come from the part, never from "content" */
	static const char *const allowed_file[] = {"content_id", "mime_type",  "charset",
	                                           "compress",   "properties", NULL};
	const char *cid = NULL;
	const char *mt = NULL;
	const char *cs = NULL;
	const char *content = NULL;
	const json_t *props = NULL;
	char file_mt[256] = "";
	char field[64];
	struct as4_store_payload *p = &rec->payloads[i];
	p->compressed = pm->compress; /* per payload "compress" overrides the PMode */
	if (file != NULL &&
	    as4_media_type(file->content_type, file_mt, sizeof(file_mt)) != AS4_OK) {
		file_mt[0] = '\0';
	}
	as4_err err = as4_json_only(o, pfx, file != NULL ? allowed_file : allowed, d);
	if (err == AS4_OK) {
		err = as4_json_str(o, pfx, "content_id", false, 256, &cid, d);
	}
	if (err == AS4_OK) {
		err = as4_json_str(o, pfx, "mime_type", file == NULL, 255, &mt, d);
	}
	if (err == AS4_OK) {
		err = as4_json_str(o, pfx, "charset", false, 64, &cs, d);
	}
	if (err == AS4_OK && file == NULL) {
		err = as4_json_str(o, pfx, "content", true, SIZE_MAX / 2, &content, d);
	}
	if (err == AS4_OK) {
		err = as4_json_bool(o, pfx, "compress", &p->compressed, d);
	}
	if (err == AS4_OK) {
		err = as4_json_array(o, pfx, "properties", MAX_PROPS, &props, d);
	}
	if (err != AS4_OK) {
		return err;
	}
	if (mt == NULL) {
		mt = file_mt; /* the file part's own Content-Type */
	}
	if (!mime_type_valid(mt)) {
		snprintf(field, sizeof(field), "%smime_type", pfx);
		return as4_diag_set_field(d, AS4_E_INVAL, field, "%s '%s' is not a MIME type",
		                          field, mt);
	}
	if (cs != NULL && !as4_xml_encname_valid(cs)) {
		snprintf(field, sizeof(field), "%scharset", pfx);
		return as4_diag_set_field(d, AS4_E_INVAL, field,
		                          "%s '%s' is not a valid XML encoding name", field, cs);
	}
	char gen[AS4_MESSAGE_ID_MAX + 1];
	if (cid == NULL) {
		err = as4_ebms3_new_message_id(as4_ap_id_domain(cfg), gen, sizeof(gen));
		if (err != AS4_OK) {
			return as4_diag_set(d, err, "cannot generate a Content-ID");
		}
		cid = gen;
	} else if (!as4_ebms3_message_id_valid(cid)) {
		snprintf(field, sizeof(field), "%scontent_id", pfx);
		return as4_diag_set_field(d, AS4_E_INVAL, field,
		                          "%s must be an id without spaces or <>", field);
	}
	for (size_t k = 0; k < i; k++) {
		if (strcmp(rec->payloads[k].content_id, cid) == 0) {
			snprintf(field, sizeof(field), "%scontent_id", pfx);
			return as4_diag_set_field(d, AS4_E_INVAL, field,
			                          "Content-ID '%s' is used twice", cid);
		}
	}
	p->content_id = as4_str_dup(cid);
	p->mime_type = as4_str_dup(mt);
	p->charset = dup_or_null(cs);
	if (p->content_id == NULL || p->mime_type == NULL || (cs && p->charset == NULL)) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	if (props != NULL) {
		p->props = calloc(json_array_size(props) + 1, sizeof(*p->props));
		if (p->props == NULL) {
			return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		}
		snprintf(field, sizeof(field), "%sproperties", pfx);
		err = read_props(props, field, p->props, json_array_size(props), &p->n_props, d);
		if (err != AS4_OK) {
			return err;
		}
	}
	uint64_t cap = payload_cap(cfg, pm);
	snprintf(field, sizeof(field), "%scontent", pfx);
	if (file != NULL) {
		if (file->data.len > cap) {
			return as4_diag_set_field(
			        d, AS4_E_LIMIT, field,
			        "payload of %zu bytes exceeds the limit of %llu bytes",
			        file->data.len, (unsigned long long)cap);
		}
		/* borrowed from the request body, which outlives the submission (pages of a
		 * spooled body are released as the store copies them) */
		as4_blob_borrow_range(blob, &file->data, 0, file->data.len);
		return AS4_OK;
	}
	size_t clen = strlen(content);
	size_t max = as4_b64_decoded_max(clen);
	uint8_t *bytes = malloc(max ? max : 1);
	if (bytes == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	size_t blen = 0;
	err = as4_b64_decode(content, clen, bytes, max, &blen);
	if (err != AS4_OK) {
		free(bytes);
		return as4_diag_set_field(d, AS4_E_INVAL, field, "%s is not valid base64", field);
	}
	if (blen > cap) {
		free(bytes);
		return as4_diag_set_field(d, AS4_E_LIMIT, field,
		                          "payload of %zu bytes exceeds the limit of %llu bytes",
		                          blen, (unsigned long long)cap);
	}
	err = as4_blob_copy(blob, bytes, blen);
	free(bytes);
	if (err != AS4_OK) {
		return as4_diag_set(d, err, "out of memory");
	}
	return AS4_OK;
}

/* Every payload of a submission, in order (the business document first). */
static as4_err read_payloads(const struct as4_config *cfg, const struct as4_pmode *pm,
                             const struct payload_src *src, struct as4_msgrec *rec,
                             struct as4_blob *blobs, struct as4_diag *d)
{
	size_t n = src->files != NULL ? src->n_files : json_array_size(src->arr);
	if (src->files != NULL && src->arr != NULL && json_array_size(src->arr) != n) {
		return as4_diag_set_field(d, AS4_E_INVAL, "payloads",
		                          "metadata describes %zu payloads but the request holds "
		                          "%zu file parts",
		                          json_array_size(src->arr), n);
	}
	if (n == 0) {
		return as4_diag_set_field(d, AS4_E_INVAL, "payloads",
		                          "a message needs at least one payload");
	}
	if (n < pm->min_parts || (pm->max_parts > 0 && n > pm->max_parts)) {
		return as4_diag_set_field(d, AS4_E_CONFIG, "payloads",
		                          "PMode '%s' expects %zu to %zu payloads, got %zu", pm->id,
		                          pm->min_parts, pm->max_parts, n);
	}
	rec->payloads = calloc(n, sizeof(*rec->payloads));
	if (rec->payloads == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	rec->n_payloads = n;
	json_t *empty = json_object();
	if (empty == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	as4_err err = AS4_OK;
	for (size_t i = 0; err == AS4_OK && i < n; i++) {
		char pfx[32];
		snprintf(pfx, sizeof(pfx), "payloads[%zu].", i);
		const json_t *o = src->arr != NULL ? json_array_get(src->arr, i) : empty;
		err = read_payload(cfg, pm, o, pfx, src->files != NULL ? src->files[i] : NULL, rec,
		                   i, &blobs[i], d);
	}
	json_decref(empty);
	return err;
}

/*
 * A multipart/form-data submission: a part named "metadata" (the JSON document without
 * payload contents) and one file part per payload, in order.
 */
static as4_err read_form(const struct as4_config *cfg, struct as4_http_req *req,
                         const struct as4_blob *body, const char *spool_dir,
                         struct as4_arena *arena, struct as4_mime *mime, json_t **meta,
                         const struct as4_part ***files, size_t *n_files, struct as4_diag *d)
{
	as4_err err = as4_mime_parse_form(body, as4_http_req_header(req, "Content-Type"),
	                                  &cfg->limits, arena, spool_dir, mime, d);
	if (err != AS4_OK) {
		return err == AS4_E_MIME ? as4_diag_set(d, AS4_E_INVAL, "bad multipart body") : err;
	}
	*files = calloc(mime->n_parts, sizeof(**files));
	if (*files == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < mime->n_parts; i++) {
		const struct as4_part *part = &mime->parts[i];
		const char *disp = as4_mime_part_header(part, "Content-Disposition");
		const char *name = NULL;
		if (disp == NULL || as4_mime_header_param(disp, "name", arena, &name) != AS4_OK ||
		    name == NULL) {
			return as4_diag_set_field(d, AS4_E_INVAL, "multipart",
			                          "part %zu has no Content-Disposition name",
			                          i + 1);
		}
		if (strcmp(name, "metadata") == 0) {
			if (*meta != NULL) {
				return as4_diag_set_field(d, AS4_E_INVAL, "metadata",
				                          "the metadata part is given twice");
			}
			err = as4_json_parse(part->data.data, part->data.len,
			                     cfg->limits.max_api_body, cfg->limits.max_json_depth,
			                     meta, d);
			if (err != AS4_OK) {
				as4_diag_prefix(d, "metadata: ");
				return err;
			}
		} else {
			(*files)[(*n_files)++] = part;
		}
	}
	if (*meta == NULL) {
		return as4_diag_set_field(
		        d, AS4_E_INVAL, "metadata",
		        "a part named metadata (the JSON description) is required");
	}
	return AS4_OK;
}

void api_submit(struct api_req *r, struct as4_http_req *req, const struct as4_blob *body,
                struct as4_http_resp *resp)
{
	static const char *const allowed[] = {"pmode",
	                                      "service",
	                                      "action",
	                                      "to",
	                                      "message_id",
	                                      "conversation_id",
	                                      "ref_to_message_id",
	                                      "original_sender",
	                                      "final_recipient",
	                                      "properties",
	                                      "payloads",
	                                      NULL};
	const struct as4_config *cfg = r->rt->cfg;
	struct as4_diag d;
	as4_diag_init(&d);
	json_t *j = NULL;
	struct as4_msgrec rec;
	as4_msgrec_init(&rec);
	struct as4_blob *blobs = NULL;
	size_t n_blobs = 0;
	const struct as4_pmode *pm = NULL;
	struct as4_arena *arena = NULL;
	struct as4_mime form = {0};
	struct payload_src src = {0};
	as4_err err;

	const char *ct = as4_http_req_header(req, "Content-Type");
	char mt[128] = "";
	if (ct != NULL && as4_media_type(ct, mt, sizeof(mt)) != AS4_OK) {
		mt[0] = '\0';
	}
	if (strcmp(mt, "application/xml") == 0 || strcmp(mt, "text/xml") == 0) {
		/* an ehmiSBDH envelope: everything comes from the document itself */
		api_submit_sbdh(r, req, body, resp);
		goto out;
	}
	if (strcmp(mt, "application/json") == 0) {
		err = as4_json_parse(body->data, body->len, cfg->limits.max_api_body,
		                     cfg->limits.max_json_depth, &j, &d);
	} else if (strcmp(mt, "multipart/form-data") == 0) {
		arena = as4_arena_new(0);
		err = arena != NULL ? read_form(cfg, req, body, r->ap->tmp_dir, arena, &form, &j,
		                                &src.files, &src.n_files, &d)
		                    : as4_diag_set(&d, AS4_E_NOMEM, "out of memory");
		if (err == AS4_OK && src.files == NULL) {
			err = as4_diag_set(&d, AS4_E_NOMEM, "out of memory");
		}
	} else {
		as4_http_resp_json_error(resp, 415, "unsupported_media_type",
		                         "submit messages as application/json, "
		                         "multipart/form-data (metadata + file parts) or "
		                         "application/xml (an ehmiSBDH envelope)",
		                         NULL);
		goto out;
	}
	if (err == AS4_OK) {
		err = as4_json_only(j, "", allowed, &d);
	}
	if (err == AS4_OK) {
		err = choose_pmode(cfg, j, &pm, &d);
	}
	if (err != AS4_OK) {
		goto fail;
	}
	if (r->token->n_pmodes > 0) {
		bool ok = false;
		for (size_t i = 0; i < r->token->n_pmodes; i++) {
			ok = ok || strcmp(r->token->pmodes[i], pm->id) == 0;
		}
		if (!ok) {
			as4_http_resp_json_error(resp, 403, "forbidden",
			                         "this token may not submit with this PMode",
			                         "pmode");
			goto out;
		}
	}
	if (r->token->n_parties > 0) {
		bool ok = false;
		for (size_t i = 0; i < r->token->n_parties; i++) {
			ok = ok || (pm->responder != NULL &&
			            strcmp(r->token->parties[i], pm->responder->name) == 0);
		}
		if (!ok) {
			as4_http_resp_json_error(resp, 403, "forbidden",
			                         "this token may not send to this party", "to");
			goto out;
		}
	}
	if (!pm->responder_discovery &&
	    (pm->responder == NULL || pm->responder->endpoint == NULL)) {
		err = as4_diag_set_field(&d, AS4_E_CONFIG, "pmode",
		                         "PMode '%s' has no static responder endpoint", pm->id);
		goto fail;
	}

	const char *msgid = NULL;
	const char *conv = NULL;
	const char *ref = NULL;
	const json_t *props = NULL;
	const json_t *payloads = NULL;
	err = as4_json_str(j, "", "message_id", false, AS4_MESSAGE_ID_MAX, &msgid, &d);
	if (err == AS4_OK) {
		err = as4_json_str(j, "", "conversation_id", false, 256, &conv, &d);
	}
	if (err == AS4_OK) {
		err = as4_json_str(j, "", "ref_to_message_id", false, AS4_MESSAGE_ID_MAX, &ref, &d);
	}
	if (err == AS4_OK) {
		err = as4_json_array(j, "", "properties", MAX_PROPS, &props, &d);
	}
	if (err == AS4_OK) {
		err = as4_json_array(j, "", "payloads", MAX_PAYLOADS, &payloads, &d);
	}
	if (err != AS4_OK) {
		goto fail;
	}
	if (payloads == NULL && src.files == NULL) {
		err = as4_diag_set_field(&d, AS4_E_INVAL, "payloads", "payloads is required");
		goto fail;
	}
	src.arr = payloads;
	if (msgid != NULL && !as4_ebms3_message_id_valid(msgid)) {
		err = as4_diag_set_field(
		        &d, AS4_E_INVAL, "message_id",
		        "message_id must be 1-255 characters without spaces or <>");
		goto fail;
	}
	if (ref != NULL && !as4_ebms3_message_id_valid(ref)) {
		err = as4_diag_set_field(&d, AS4_E_INVAL, "ref_to_message_id",
		                         "ref_to_message_id is not a valid MessageId");
		goto fail;
	}

	char gen_id[AS4_MESSAGE_ID_MAX + 1];
	if (msgid == NULL) {
		err = as4_ebms3_new_message_id(as4_ap_id_domain(cfg), gen_id, sizeof(gen_id));
		if (err != AS4_OK) {
			err = as4_diag_set(&d, err, "cannot generate a MessageId");
			goto fail;
		}
		msgid = gen_id;
	}
	char gen_conv[37];
	if (conv == NULL) {
		err = as4_uuid_v4(gen_conv);
		if (err != AS4_OK) {
			err = as4_diag_set(&d, err, "cannot generate a ConversationId");
			goto fail;
		}
		conv = gen_conv;
	}

	rec.dir = AS4_DIR_OUT;
	rec.pmode_id = as4_str_dup(pm->id);
	rec.from.type = dup_or_null(pm->initiator->ids[0].type);
	rec.from.value = as4_str_dup(pm->initiator->ids[0].value);
	rec.from_role = as4_str_dup(pm->initiator_role);
	rec.to.type = dup_or_null(pm->responder->ids[0].type);
	/* discovery: a dynamic responder's PartyId and every endpoint are known at sending */
	rec.to.value = dup_or_null(pm->responder->ids[0].value);
	rec.to_role = as4_str_dup(pm->responder_role);
	rec.service = as4_str_dup(pm->service);
	rec.service_type = dup_or_null(pm->service_type);
	rec.action = as4_str_dup(pm->action);
	rec.agreement = dup_or_null(pm->agreement);
	rec.agreement_type = dup_or_null(pm->agreement_type);
	rec.mpc = dup_or_null(pm->mpc);
	rec.conversation_id = as4_str_dup(conv);
	rec.message_id = as4_str_dup(msgid);
	rec.ref_to_message_id = dup_or_null(ref);
	rec.endpoint_url = pm->responder_discovery ? NULL : as4_str_dup(pm->responder->endpoint);
	rec.submitted_by = as4_str_dup(r->token->name);
	if (rec.pmode_id == NULL || rec.from.value == NULL || rec.submitted_by == NULL ||
	    (rec.to.value == NULL && !pm->responder->dynamic) || rec.service == NULL ||
	    rec.action == NULL || rec.conversation_id == NULL || rec.message_id == NULL ||
	    (rec.endpoint_url == NULL && !pm->responder_discovery)) {
		err = as4_diag_set(&d, AS4_E_NOMEM, "out of memory");
		goto fail;
	}
	size_t n_props_cap = (props ? json_array_size(props) : 0) + 2;
	rec.props = calloc(n_props_cap, sizeof(*rec.props));
	if (rec.props == NULL) {
		err = as4_diag_set(&d, AS4_E_NOMEM, "out of memory");
		goto fail;
	}
	err = read_corner(j, "original_sender", "originalSender", rec.props, n_props_cap,
	                  &rec.n_props, &rec.original_sender, &d);
	if (err == AS4_OK) {
		err = read_corner(j, "final_recipient", "finalRecipient", rec.props, n_props_cap,
		                  &rec.n_props, &rec.final_recipient, &d);
	}
	if (err == AS4_OK) {
		err = read_props(props, "properties", rec.props, n_props_cap, &rec.n_props, &d);
	}
	if (err != AS4_OK) {
		goto fail;
	}
	for (size_t i = 0; i < rec.n_props; i++) {
		for (size_t k = 0; k < i; k++) {
			if (strcmp(rec.props[i].name, rec.props[k].name) == 0) {
				err = as4_diag_set_field(&d, AS4_E_INVAL, "properties",
				                         "property '%s' is given twice",
				                         rec.props[i].name);
				goto fail;
			}
		}
	}
	/* discovery: the receiver's participant id and the identifiers to look up */
	err = as4_discovery_check_submission(pm, &rec, &d);
	if (err != AS4_OK) {
		goto fail;
	}
	n_blobs = src.files != NULL ? src.n_files : json_array_size(payloads);
	blobs = calloc(n_blobs ? n_blobs : 1, sizeof(*blobs));
	if (blobs == NULL) {
		err = as4_diag_set(&d, AS4_E_NOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n_blobs; i++) {
		as4_blob_init(&blobs[i]);
	}
	err = read_payloads(cfg, pm, &src, &rec, blobs, &d);
	if (err != AS4_OK) {
		goto fail;
	}
	rec.ebms_timestamp_ms = as4_time_now_ms();

	struct as4_store_put put = {0};
	put.payloads = blobs;
	/* a send worker is idle: commit it claimed and hand it over (one commit less) */
	put.claim = as4_sender_reserve(r->ap->sender);
	err = as4_store_submit(r->ap->store, &rec, &put, &d);
	if (put.claim && err == AS4_OK) {
		as4_sender_hand(r->ap->sender, &rec);
	} else if (put.claim) {
		as4_sender_unreserve(r->ap->sender);
	}
	if (err == AS4_E_EXISTS) {
		char msg[400];
		snprintf(msg, sizeof(msg), "a message with MessageId '%s' was already submitted",
		         rec.message_id);
		as4_http_resp_json_error(resp, 409, "conflict", msg, "message_id");
		goto out;
	}
	if (err != AS4_OK) {
		goto fail;
	}
	atomic_fetch_add(&r->ap->metrics.submitted, 1);
	struct as4_log_ctx lc = {rec.message_id, pm->id, pm->responder->name, NULL};
	as4_log_ctx(AS4_LOG_INFO, &lc, "submitted by %s: %zu payload(s), %s", r->token->name,
	            rec.n_payloads, put.claim ? "sending" : "queued");
	if (!put.claim) {
		as4_sender_kick(r->ap->sender);
	}
	api_json(resp, 202,
	         json_pack("{s:s, s:s, s:s, s:I}", "message_id", rec.message_id, "state",
	                   as4_msg_state_text(rec.state), "pmode", pm->id, "id",
	                   (json_int_t)rec.id));
	goto out;
fail:
	api_error_from(resp, err, &d);
out:
	for (size_t i = 0; blobs != NULL && i < n_blobs; i++) {
		as4_blob_cleanup(&blobs[i]);
	}
	free(blobs);
	as4_msgrec_cleanup(&rec);
	json_decref(j);
	free(src.files);
	as4_mime_cleanup(&form);
	as4_arena_free(arena);
}
