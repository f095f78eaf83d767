/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Messages for administrators and pilot participants: search with filters and cursor paging
 * (GET /messages, answered from the store's indexes), the evidence of one message (the raw
 * signed message as sent or received, the Receipt) and its receipt and error details, and
 * deleting a message's payloads while keeping its metadata, events and evidence.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/tree.h>

#include "api_int.h"
#include "as4/arena.h"
#include "as4/ebms3.h"
#include "as4/log.h"
#include "as4/str.h"
#include "as4/time.h"

/* Default and largest page size of a search. */
#define PAGE_DEFAULT 50
#define PAGE_MAX     1000

/* Query arguments of GET /messages: the filters of struct as4_store_filter and paging. */
static const char *const search_args[] = {"direction",
                                          "state",
                                          "since",
                                          "until",
                                          "party",
                                          "from_party",
                                          "to_party",
                                          "original_sender",
                                          "final_recipient",
                                          "service",
                                          "action",
                                          "conversation_id",
                                          "message_id",
                                          "ebms_error",
                                          "gln",
                                          "sbdh_instance_id",
                                          "medcom_message_id",
                                          "limit",
                                          "cursor",
                                          NULL};

static bool known_arg(const char *name)
{
	for (const char *const *a = search_args; *a != NULL; a++) {
		if (strcmp(*a, name) == 0) {
			return true;
		}
	}
	return false;
}

AS4_PRINTF(3, 4)
static void bad_arg(struct as4_http_resp *resp, const char *field, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	as4_http_resp_json_error(resp, 400, "bad_request", msg, field);
}

/* A non-empty text filter argument (an empty value is refused: it would match nothing). */
static bool text_arg(struct as4_http_req *req, const char *name, const char **out,
                     struct as4_http_resp *resp)
{
	const char *v = as4_http_req_query(req, name);
	if (v == NULL) {
		return true;
	}
	if (v[0] == '\0' || strlen(v) > 4096) {
		bad_arg(resp, name, "%s must be 1 to 4096 characters", name);
		return false;
	}
	*out = v;
	return true;
}

static bool time_arg(struct as4_http_req *req, const char *name, int64_t *out,
                     struct as4_http_resp *resp)
{
	const char *v = as4_http_req_query(req, name);
	if (v == NULL) {
		return true;
	}
	if (as4_time_parse(v, out) != AS4_OK || *out <= 0) {
		bad_arg(resp, name,
		        "%s must be an RFC 3339 time after 1970 (2025-01-31T12:00:00Z) or a date "
		        "(2025-01-31)",
		        name);
		return false;
	}
	return true;
}

static bool ebms_code_valid(const char *s)
{
	if (strlen(s) != 9 || !as4_str_starts(s, "EBMS:")) {
		return false;
	}
	for (size_t i = 5; i < 9; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
	}
	return true;
}

/* Read every filter of the query; answers 400 naming the argument and returns false. */
static bool read_filter(struct as4_http_req *req, struct as4_store_filter *f, uint64_t *limit,
                        const char **cursor, struct as4_http_resp *resp)
{
	const char *names[64];
	size_t n = as4_http_req_query_names(req, names, AS4_ARRAY_LEN(names));
	if (n > AS4_ARRAY_LEN(names)) {
		as4_http_resp_json_error(resp, 400, "bad_request", "too many query arguments",
		                         NULL);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!known_arg(names[i])) {
			char msg[600];
			snprintf(
			        msg, sizeof(msg),
			        "unknown query argument '%.80s' (filters: direction, state, since, "
			        "until, party, from_party, to_party, original_sender, "
			        "final_recipient, service, action, conversation_id, message_id, "
			        "ebms_error, gln, sbdh_instance_id, medcom_message_id; paging: "
			        "limit, cursor)",
			        names[i]);
			as4_http_resp_json_error(resp, 400, "bad_request", msg, names[i]);
			return false;
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(names[k], names[i]) == 0) {
				bad_arg(resp, names[i], "%s is given twice", names[i]);
				return false;
			}
		}
	}
	const char *v = as4_http_req_query(req, "direction");
	if (v != NULL && as4_dir_parse(v, &f->dir) != AS4_OK) {
		bad_arg(resp, "direction", "direction must be 'in' or 'out', not '%.80s'", v);
		return false;
	}
	v = as4_http_req_query(req, "state");
	if (v != NULL && as4_msg_state_parse(v, &f->state) != AS4_OK) {
		bad_arg(resp, "state",
		        "state must be one of queued, sending, retrying, delivered, failed, "
		        "received, delivered-to-backend, failed-to-backend (not '%.80s')",
		        v);
		return false;
	}
	if (f->state != AS4_ST_NONE && f->dir != AS4_DIR_NONE &&
	    as4_msg_state_dir(f->state) != f->dir) {
		bad_arg(resp, "state", "state %s never occurs with this direction",
		        as4_msg_state_text(f->state));
		return false;
	}
	if (!time_arg(req, "since", &f->created_from_ms, resp) ||
	    !time_arg(req, "until", &f->created_to_ms, resp)) {
		return false;
	}
	if (f->created_from_ms != 0 && f->created_to_ms != 0 &&
	    f->created_from_ms >= f->created_to_ms) {
		as4_http_resp_json_error(resp, 400, "bad_request", "since must be before until",
		                         "since");
		return false;
	}
	struct {
		const char *name;
		const char **dst;
	} texts[] = {
	        {"party", &f->party},
	        {"from_party", &f->from_party},
	        {"to_party", &f->to_party},
	        {"original_sender", &f->original_sender},
	        {"final_recipient", &f->final_recipient},
	        {"service", &f->service},
	        {"action", &f->action},
	        {"conversation_id", &f->conversation_id},
	        {"message_id", &f->message_id},
	        {"ebms_error", &f->ebms_error},
	        {"gln", &f->gln},
	        {"sbdh_instance_id", &f->sbdh_instance_id},
	        {"medcom_message_id", &f->medcom_message_id},
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(texts); i++) {
		if (!text_arg(req, texts[i].name, texts[i].dst, resp)) {
			return false;
		}
	}
	if (f->ebms_error != NULL && !ebms_code_valid(f->ebms_error)) {
		bad_arg(resp, "ebms_error", "ebms_error must look like EBMS:0301, not '%.80s'",
		        f->ebms_error);
		return false;
	}
	if (f->gln != NULL) {
		bool ok = strlen(f->gln) == 13;
		for (size_t i = 0; ok && i < 13; i++) {
			ok = f->gln[i] >= '0' && f->gln[i] <= '9';
		}
		if (!ok) {
			bad_arg(resp, "gln", "gln must be 13 digits, not '%.80s'", f->gln);
			return false;
		}
	}
	v = as4_http_req_query(req, "limit");
	if (v != NULL && (as4_parse_u64(v, PAGE_MAX, limit) != AS4_OK || *limit == 0)) {
		as4_http_resp_json_error(resp, 400, "bad_request",
		                         "limit must be an integer from 1 to 1000", "limit");
		return false;
	}
	*cursor = as4_http_req_query(req, "cursor");
	return true;
}

void api_search(struct api_req *r, struct as4_http_req *req, struct as4_http_resp *resp)
{
	struct as4_store_filter f;
	memset(&f, 0, sizeof(f));
	uint64_t limit = PAGE_DEFAULT;
	const char *cursor = NULL;
	if (!read_filter(req, &f, &limit, &cursor, resp)) {
		return;
	}
	struct as4_msgrec *recs = NULL;
	size_t n = 0;
	char next[AS4_STORE_CURSOR_MAX] = "";
	struct as4_diag d;
	as4_diag_init(&d);
	int64_t t0 = as4_time_mono_ns();
	as4_err err =
	        as4_store_search(r->ap->store, &f, cursor, (size_t)limit, &recs, &n, next, &d);
	if (err == AS4_E_INVAL && cursor != NULL) {
		as4_http_resp_json_error(
		        resp, 400, "bad_request",
		        "malformed cursor: pass the next_cursor of the previous page", "cursor");
		return;
	}
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		return;
	}
	json_t *list = json_array();
	size_t hidden = 0;
	for (size_t i = 0; list != NULL && i < n; i++) {
		/* a restricted token only sees its own PModes and parties */
		if (api_token_sees(r, &recs[i])) {
			json_array_append_new(list, api_render_record(&recs[i]));
		} else {
			hidden++;
		}
	}
	as4_msgrec_array_free(recs, n);
	double ms = (double)(as4_time_mono_ns() - t0) / 1e6;
	api_json(resp, 200,
	         json_pack("{s:o, s:I, s:s, s:f}", "messages", list, "count",
	                   (json_int_t)(n - hidden), "next_cursor", next, "took_ms", ms));
}

/* ---- One message: evidence and details -------------------------------------------------- */

/* Percent-encode a MessageId for a URL path segment. */
static void url_segment(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && o + 4 < cap; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		             (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
		             *p == '~' || *p == '@';
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
}

static json_t *link_to(const struct as4_msgrec *rec, const char *what)
{
	char seg[1600];
	char url[1800];
	url_segment(rec->message_id, seg, sizeof(seg));
	snprintf(url, sizeof(url), "/api/v1/messages/%s/%s?direction=%s", seg, what,
	         as4_dir_text(rec->dir));
	return json_string(url);
}

/* Size of a spool file or inline blob, or -1 when it cannot be found. */
static int64_t spool_size(struct api_req *r, const char *name)
{
	uint64_t size = 0;
	if (as4_store_spool_size(r->ap->store, name, &size, NULL) != AS4_OK) {
		return -1;
	}
	return (int64_t)size;
}

/* The summary of a readable Receipt into o (the same members whether stored or parsed). */
static void receipt_summary(json_t *o, const struct as4_store_receipt_info *ri)
{
	json_object_set_new(o, "readable", json_boolean(ri->readable));
	if (!ri->readable) {
		return;
	}
	json_object_set_new(o, "kind",
	                    json_string(ri->kind == AS4_STORE_SIGNAL_RECEIPT ? "receipt"
	                                : ri->kind == AS4_STORE_SIGNAL_ERROR ? "error"
	                                                                     : "other"));
	json_object_set_new(o, "message_id", json_string(ri->message_id ? ri->message_id : ""));
	if (ri->ref_to_message_id != NULL) {
		json_object_set_new(o, "ref_to_message_id", json_string(ri->ref_to_message_id));
	}
	if (ri->timestamp_ms > 0) {
		char t[AS4_TIME_TEXT_MAX];
		as4_time_format(ri->timestamp_ms, t);
		json_object_set_new(o, "timestamp", json_string(t));
	}
	json_object_set_new(o, "signed", json_boolean(ri->has_security));
	json_object_set_new(o, "non_repudiation_references", json_integer((json_int_t)ri->n_nri));
}

/*
 * What the stored Receipt says about itself: the summary kept in the record when the Receipt
 * was stored, else parsed from the file by the ebMS layer (STYLE rule 11).
 */
static json_t *receipt_info(struct api_req *r, const struct as4_msgrec *rec)
{
	json_t *o = json_object();
	if (o == NULL) {
		return NULL;
	}
	json_object_set_new(o, "size", json_integer(spool_size(r, rec->receipt_file)));
	json_object_set_new(o, "download", link_to(rec, "receipt"));
	if (rec->receipt_info.known) {
		receipt_summary(o, &rec->receipt_info);
		return o;
	}
	struct as4_blob b;
	as4_blob_init(&b);
	struct as4_arena *arena = as4_arena_new(0);
	xmlDoc *doc = NULL;
	struct as4_messaging m;
	memset(&m, 0, sizeof(m));
	struct as4_diag d;
	as4_diag_init(&d);
	if (arena == NULL ||
	    as4_store_spool_open(r->ap->store, rec->receipt_file, &b, &d) != AS4_OK) {
		goto out;
	}
	struct as4_store_receipt_info ri = {.known = true};
	if (as4_ebms3_parse_bytes(b.data, b.len, &r->rt->cfg->limits, arena, &doc, &m, &d) ==
	            AS4_OK &&
	    m.kind == AS4_UNIT_SIGNAL) {
		as4_ebms3_receipt_summary(&m, &ri);
	}
	/* not readable: a Receipt that came inside a MIME envelope (size and download only) */
	receipt_summary(o, &ri);
out:
	if (doc != NULL) {
		xmlFreeDoc(doc);
	}
	as4_arena_free(arena);
	as4_blob_cleanup(&b);
	return o;
}

void api_message_details(struct api_req *r, const struct as4_msgrec *rec,
                         const struct as4_store_event *ev, size_t n_ev, json_t *out)
{
	if (rec->receipt_file != NULL) {
		json_object_set_new(out, "receipt_info", receipt_info(r, rec));
	} else {
		json_object_set_new(out, "receipt_info", json_null());
	}
	json_t *raw = json_object();
	if (raw != NULL) {
		json_object_set_new(raw, "available", json_boolean(rec->raw_file != NULL));
		if (rec->raw_file != NULL) {
			json_object_set_new(raw, "size",
			                    json_integer(spool_size(r, rec->raw_file)));
			json_object_set_new(raw, "download", link_to(rec, "raw"));
		}
		json_object_set_new(out, "raw", raw);
	}
	json_t *errors = json_array();
	for (size_t i = 0; errors != NULL && i < n_ev; i++) {
		if (ev[i].ebms_code == NULL) {
			continue;
		}
		char t[AS4_TIME_TEXT_MAX];
		as4_time_format(ev[i].time_ms, t);
		const char *sd = as4_ebms_short_description(ev[i].ebms_code);
		json_t *e = json_pack("{s:s, s:s, s:s}", "time", t, "code", ev[i].ebms_code,
		                      "reason", ev[i].reason ? ev[i].reason : "");
		if (e != NULL && sd != NULL) {
			json_object_set_new(e, "short_description", json_string(sd));
		}
		if (e != NULL && ev[i].detail != NULL) {
			json_object_set_new(e, "detail", json_string(ev[i].detail));
		}
		json_array_append_new(errors, e);
	}
	json_object_set_new(out, "errors", errors);
	json_t *purged = json_null();
	if (rec->purged_ms != 0) {
		char t[AS4_TIME_TEXT_MAX];
		as4_time_format(rec->purged_ms, t);
		purged = json_string(t);
	}
	json_object_set_new(out, "payloads_deleted", purged);
}

void api_message_raw(struct api_req *r, struct as4_http_req *req, const char *msgid, bool receipt,
                     struct as4_http_resp *resp)
{
	struct as4_msgrec rec;
	as4_msgrec_init(&rec);
	int fd = -1;
	if (!api_find_message(r, req, msgid, &rec, resp)) {
		goto out;
	}
	const char *name = receipt ? rec.receipt_file : rec.raw_file;
	if (name == NULL) {
		char msg[200];
		if (!receipt && rec.purged_ms != 0) {
			as4_http_resp_json_error(
			        resp, 410, "gone",
			        "the raw message was removed by the retention policy", NULL);
			goto out;
		}
		snprintf(msg, sizeof(msg), "no %s is stored for this message (state %s)",
		         receipt ? "Receipt" : "raw message", as4_msg_state_text(rec.state));
		as4_http_resp_json_error(resp, 404, "not_found", msg, NULL);
		goto out;
	}
	char path[4096];
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_store_spool_path(r->ap->store, name, path, sizeof(path), &d);
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		as4_http_resp_json_error(resp, 500, "internal", "the stored file cannot be read",
		                         NULL);
		goto out;
	}
	/* a SOAP envelope starts with '<'; an inbound raw message may be a whole MIME body */
	char first = '\0';
	if (pread(fd, &first, 1, 0) != 1) {
		first = '\0';
	}
	resp->status = 200;
	resp->file_fd = fd;
	resp->file_len = (uint64_t)st.st_size;
	fd = -1;
	resp->content_type = first == '<' ? "application/soap+xml" : "application/octet-stream";
	snprintf(resp->extra_headers, sizeof(resp->extra_headers),
	         "Content-Disposition: attachment; filename=\"%s-%llu.%s\"\r\n"
	         "X-AS4-Direction: %s\r\n",
	         receipt ? "receipt" : "message", (unsigned long long)rec.id,
	         first == '<' ? "xml" : "mime", as4_dir_text(rec.dir));
out:
	if (fd >= 0) {
		close(fd);
	}
	as4_msgrec_cleanup(&rec);
}

void api_message_delete_payloads(struct api_req *r, struct as4_http_req *req, const char *msgid,
                                 struct as4_http_resp *resp)
{
	struct as4_msgrec rec;
	as4_msgrec_init(&rec);
	const char *force_arg = as4_http_req_query(req, "force");
	bool force = false;
	if (force_arg != NULL) {
		if (strcmp(force_arg, "true") != 0 && strcmp(force_arg, "false") != 0) {
			as4_http_resp_json_error(resp, 400, "bad_request",
			                         "force must be true or false", "force");
			goto out;
		}
		force = strcmp(force_arg, "true") == 0;
	}
	if (!api_find_message(r, req, msgid, &rec, resp)) {
		goto out;
	}
	/*
	 * Payloads still needed are kept: an outbound message waiting for an attempt, and (unless
	 * forced) a received message the backend has not acknowledged.
	 */
	uint32_t states =
	        (1u << AS4_ST_DELIVERED) | (1u << AS4_ST_FAILED) | (1u << AS4_ST_BACKEND_ACKED);
	if (force) {
		states |= (1u << AS4_ST_RECEIVED) | (1u << AS4_ST_BACKEND_FAILED);
	}
	char who[512];
	api_who(r, req, who, sizeof(who));
	char reason[700];
	snprintf(reason, sizeof(reason), "payloads deleted by %s", who);
	size_t files = 0;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_store_delete_payloads(r->ap->store, rec.id, states, reason, &files, &d);
	if (err == AS4_E_STATE) {
		char msg[300];
		if (rec.dir == AS4_DIR_OUT) {
			snprintf(msg, sizeof(msg),
			         "the message is %s: its payloads are needed for the next attempt",
			         as4_msg_state_text(rec.state));
		} else {
			snprintf(msg, sizeof(msg),
			         "the message is %s: the backend has not acknowledged it yet (add "
			         "?force=true to delete anyway)",
			         as4_msg_state_text(rec.state));
		}
		as4_http_resp_json_error(resp, 409, "invalid_state", msg, NULL);
		goto out;
	}
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		goto out;
	}
	char detail[200];
	snprintf(detail, sizeof(detail), "%zu payload file%s deleted (%s message, state %s)%s",
	         files, files == 1 ? "" : "s", as4_dir_text(rec.dir), as4_msg_state_text(rec.state),
	         force ? ", forced" : "");
	bool audited =
	        files == 0 || api_audit(r, req, "message.payloads.delete", rec.message_id, detail);
	struct as4_log_ctx lc = {rec.message_id, rec.pmode_id, NULL, NULL};
	as4_log_ctx(AS4_LOG_NOTICE, &lc, "%s by %s", detail, who);
	api_json(resp, 200,
	         json_pack("{s:s, s:s, s:s, s:I, s:s}", "message_id", rec.message_id, "direction",
	                   as4_dir_text(rec.dir), "state", as4_msg_state_text(rec.state),
	                   "payloads_deleted", (json_int_t)files, "audit",
	                   audited ? "recorded" : "failed"));
out:
	as4_msgrec_cleanup(&rec);
}
