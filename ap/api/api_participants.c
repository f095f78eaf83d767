/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The participants this gateway serves, on the internal API:
 *
 *   GET    /api/v1/participants          every participant (reader)
 *   GET    /api/v1/participants/{gln}    one (reader)
 *   PUT    /api/v1/participants/{gln}    create or replace {"name", "sor", "webhook"} (admin)
 *   DELETE /api/v1/participants/{gln}    remove (admin)
 *
 * Changes go to the participants file (medcom.participants_file, JSON), written durably and
 * then loaded by a configuration reload, so the API and a restart see the same list; when the
 * reload refuses the new file, the previous file is put back and the answer says why.
 * Participants declared in as4d.yaml are read-only here (409): change them in the file.
 * Concurrent changes are serialised by an exclusive lock on "<participants file>.lock".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "api_int.h"
#include "as4/admin_json.h"
#include "as4/blob.h"
#include "as4/conf.h"
#include "as4/log.h"
#include "as4/sbdh.h"
#include "as4/str.h"

/* Largest participants file read back for a rollback. */
#define MAX_FILE (64u * 1024 * 1024)

static json_t *render(const struct as4_participant *p)
{
	json_t *v = json_pack("{s:s, s:s, s:s}", "gln", p->gln, "id", p->id, "delivery",
	                      p->webhook != NULL ? "webhook" : "inbox");
	if (v == NULL) {
		return NULL;
	}
	json_object_set_new(v, "name", p->name != NULL ? json_string(p->name) : json_null());
	json_object_set_new(v, "sor", p->sor != NULL ? json_string(p->sor) : json_null());
	json_object_set_new(v, "webhook",
	                    p->webhook != NULL ? json_string(p->webhook) : json_null());
	json_object_set_new(v, "source", json_string(p->from_file ? "api" : "config"));
	return v;
}

static bool role_at_least(struct api_req *r, enum as4_api_role role, struct as4_http_resp *resp)
{
	if (r->token->role >= role) {
		return true;
	}
	atomic_fetch_add(&r->ap->metrics.api_denied, 1);
	char msg[160];
	snprintf(msg, sizeof(msg), "token '%s' has role %s, which may not do this", r->token->name,
	         as4_api_role_name(r->token->role));
	as4_http_resp_json_error(resp, 403, "forbidden", msg, NULL);
	return false;
}

/* The file's entries as a JSON document, with gln replaced by repl (NULL = removed). */
static json_t *file_doc(const struct as4_config *cfg, const char *gln, json_t *repl)
{
	json_t *list = json_array();
	bool done = false;
	for (size_t i = 0; list != NULL && i < cfg->n_participants; i++) {
		const struct as4_participant *p = &cfg->participants[i];
		if (!p->from_file) {
			continue;
		}
		if (strcmp(p->gln, gln) == 0) {
			if (repl != NULL) {
				json_array_append(list, repl);
			}
			done = true;
			continue;
		}
		json_t *e = json_pack("{s:s}", "gln", p->gln);
		if (e != NULL && p->name != NULL) {
			json_object_set_new(e, "name", json_string(p->name));
		}
		if (e != NULL && p->sor != NULL) {
			json_object_set_new(e, "sor", json_string(p->sor));
		}
		if (e != NULL && p->webhook != NULL) {
			json_object_set_new(e, "webhook", json_string(p->webhook));
		}
		json_array_append_new(list, e);
	}
	if (list != NULL && !done && repl != NULL) {
		json_array_append(list, repl);
	}
	return list != NULL ? json_pack("{s:o}", "participants", list) : NULL;
}

/* The new entry from a PUT body, checked; *out owns it. */
static as4_err read_entry(const struct as4_config *cfg, const char *gln,
                          const struct as4_blob *body, json_t **out, struct as4_diag *d)
{
	static const char *const allowed[] = {"name", "sor", "webhook", NULL};
	json_t *j = NULL;
	const char *name = NULL;
	const char *sor = NULL;
	const char *webhook = NULL;
	*out = NULL;
	as4_err err = body->len > 0
	                      ? as4_json_parse(body->data, body->len, cfg->limits.max_api_body,
	                                       cfg->limits.max_json_depth, &j, d)
	                      : AS4_OK;
	if (err == AS4_OK && j == NULL) {
		j = json_object();
		err = j != NULL ? AS4_OK : as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	if (err == AS4_OK && !json_is_object(j)) {
		err = as4_diag_set(d, AS4_E_INVAL, "the body must be a JSON object");
	}
	if (err == AS4_OK) {
		err = as4_json_only(j, "", allowed, d);
	}
	if (err == AS4_OK) {
		err = as4_json_str(j, "", "name", false, 256, &name, d);
	}
	if (err == AS4_OK) {
		err = as4_json_str(j, "", "sor", false, 32, &sor, d);
	}
	if (err == AS4_OK) {
		err = as4_json_str(j, "", "webhook", false, 2048, &webhook, d);
	}
	if (err == AS4_OK && sor != NULL &&
	    (sor[0] == '\0' || strspn(sor, "0123456789") != strlen(sor))) {
		err = as4_diag_set_field(d, AS4_E_INVAL, "sor",
		                         "sor must be a SOR code (digits only)");
	}
	if (err == AS4_OK && webhook != NULL && !as4_conf_url_valid(webhook, false)) {
		err = as4_diag_set_field(d, AS4_E_INVAL, "webhook",
		                         "webhook must be an absolute http(s) URL");
	}
	if (err == AS4_OK) {
		*out = json_pack("{s:s}", "gln", gln);
		if (*out == NULL) {
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		} else {
			json_t *e = *out;
			if (name != NULL) {
				json_object_set_new(e, "name", json_string(name));
			}
			if (sor != NULL) {
				json_object_set_new(e, "sor", json_string(sor));
			}
			if (webhook != NULL) {
				json_object_set_new(e, "webhook", json_string(webhook));
			}
		}
	}
	json_decref(j);
	return err;
}

/* Write doc to the participants file and reload; put the old file back if the reload fails. */
static as4_err apply(struct api_req *r, const char *path, json_t *doc, struct as4_diag *d)
{
	uint8_t *old = NULL;
	size_t old_len = 0;
	as4_err rerr = as4_file_read(path, MAX_FILE, &old, &old_len);
	bool had_old = rerr == AS4_OK;
	if (rerr != AS4_OK && rerr != AS4_E_NOTFOUND) {
		return as4_diag_set(d, rerr, "cannot read the participants file '%s'", path);
	}
	char *text = as4_json_dump(doc);
	if (text == NULL) {
		free(old);
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	as4_err err = as4_file_write_atomic(path, text, strlen(text), 0640);
	free(text);
	if (err != AS4_OK) {
		free(old);
		return as4_diag_set(d, err, "cannot write the participants file '%s': %s", path,
		                    as4_strerror(err));
	}
	err = as4_ap_reload(r->ap, d);
	if (err != AS4_OK) {
		struct as4_diag d2;
		as4_diag_init(&d2);
		as4_err back = had_old ? as4_file_write_atomic(path, old, old_len, 0640)
		                       : (unlink(path) == 0 || errno == ENOENT ? AS4_OK : AS4_E_IO);
		if (back != AS4_OK) {
			as4_log(AS4_LOG_ERR,
			        "api: participants file '%s' could not be restored: %s", path,
			        as4_strerror(back));
		}
		as4_diag_prefix(d, "participants not changed: ");
	}
	free(old);
	return err;
}

static void change(struct api_req *r, struct as4_http_req *req, const char *method, const char *gln,
                   const struct as4_blob *body, struct as4_http_resp *resp)
{
	const struct as4_config *cfg = r->rt->cfg;
	struct as4_diag d;
	as4_diag_init(&d);
	json_t *entry = NULL;
	json_t *doc = NULL;
	int lock = -1;
	bool put = strcmp(method, "PUT") == 0;
	const char *path = cfg->medcom.participants_file;
	const struct as4_participant *cur = as4_config_participant(cfg, gln);
	if (cur != NULL && !cur->from_file) {
		as4_http_resp_json_error(
		        resp, 409, "conflict",
		        "this participant is declared in as4d.yaml (participants:); "
		        "change it there",
		        "gln");
		goto out;
	}
	if (!put && cur == NULL) {
		as4_http_resp_json_error(resp, 404, "not_found", "no such participant", "gln");
		goto out;
	}
	as4_err err = put ? read_entry(cfg, gln, body, &entry, &d) : AS4_OK;
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		goto out;
	}
	char lpath[4200];
	snprintf(lpath, sizeof(lpath), "%s.lock", path);
	lock = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX) != 0) {
		err = as4_diag_set(&d, AS4_E_IO, "cannot lock '%s': %s", lpath, strerror(errno));
		api_error_from(resp, err, &d);
		goto out;
	}
	/* the snapshot taken at the start of the request may predate a concurrent change */
	struct as4_runtime *now = as4_ap_runtime(r->ap);
	doc = file_doc(now->cfg, gln, entry);
	as4_runtime_put(now);
	err = doc != NULL ? apply(r, path, doc, &d)
	                  : as4_diag_set(&d, AS4_E_NOMEM, "out of memory");
	if (err != AS4_OK) {
		api_error_from(resp, err == AS4_E_CONFIG ? AS4_E_CONFIG : err, &d);
		goto out;
	}
	if (!api_audit(r, req, put ? "participant.put" : "participant.delete", gln,
	               put ? "saved in medcom.participants_file" : "removed")) {
		/* logged by api_audit with the whole entry; the change stands */
	}
	as4_log(AS4_LOG_NOTICE, "api: participant %s %s by %s", gln, put ? "saved" : "removed",
	        r->token->name);
	if (put) {
		struct as4_runtime *rt = as4_ap_runtime(r->ap);
		const struct as4_participant *p = as4_config_participant(rt->cfg, gln);
		api_json(resp, cur == NULL ? 201 : 200, p != NULL ? render(p) : NULL);
		as4_runtime_put(rt);
	} else {
		api_json(resp, 200, json_pack("{s:s, s:b}", "gln", gln, "removed", true));
	}
out:
	if (lock >= 0) {
		close(lock);
	}
	json_decref(entry);
	json_decref(doc);
}

void api_participants(struct api_req *r, struct as4_http_req *req, const char *rest,
                      const struct as4_blob *body, struct as4_http_resp *resp)
{
	const struct as4_config *cfg = r->rt->cfg;
	const char *method = as4_http_req_method(req);
	bool get = strcmp(method, "GET") == 0;
	if (strcmp(rest, "/participants") == 0) {
		if (!get) {
			as4_http_resp_json_error(resp, 405, "method_not_allowed",
			                         "method not allowed here", NULL);
			snprintf(resp->extra_headers, sizeof(resp->extra_headers),
			         "Allow: GET\r\n");
			return;
		}
		json_t *list = json_array();
		for (size_t i = 0; list != NULL && i < cfg->n_participants; i++) {
			json_array_append_new(list, render(&cfg->participants[i]));
		}
		api_json(resp, 200, json_pack("{s:o}", "participants", list));
		return;
	}
	const char *id = rest + strlen("/participants/");
	/* "0088:<GLN>" and "iso6523-actorid-upis::0088:<GLN>" name the same participant */
	if (as4_str_starts(id, AS4_SBDH_AUTHORITY "::")) {
		id += strlen(AS4_SBDH_AUTHORITY "::");
	}
	if (as4_str_starts(id, "0088:")) {
		id += 5;
	}
	if (!as4_gln_valid(id)) {
		char msg[160];
		char c = strlen(id) == 13 ? as4_gln_check_digit(id) : '\0';
		if (c != '\0') {
			snprintf(msg, sizeof(msg),
			         "GLN %s has a wrong check digit (the GS1 mod-10 digit is %c)", id,
			         c);
		} else {
			snprintf(msg, sizeof(msg), "'%.40s' is not a GLN (13 digits)", id);
		}
		as4_http_resp_json_error(resp, 422, "invalid_gln", msg, "gln");
		return;
	}
	if (get) {
		const struct as4_participant *p = as4_config_participant(cfg, id);
		if (p == NULL) {
			as4_http_resp_json_error(resp, 404, "not_found", "no such participant",
			                         "gln");
		} else {
			api_json(resp, 200, render(p));
		}
		return;
	}
	if (strcmp(method, "PUT") != 0 && strcmp(method, "DELETE") != 0) {
		as4_http_resp_json_error(resp, 405, "method_not_allowed", "method not allowed here",
		                         NULL);
		snprintf(resp->extra_headers, sizeof(resp->extra_headers),
		         "Allow: GET, PUT, DELETE\r\n");
		return;
	}
	if (!role_at_least(r, AS4_API_ROLE_ADMIN, resp)) {
		return;
	}
	change(r, req, method, id, body, resp);
}

int api_participant_target(struct api_req *r, const char **party, const char **pmode,
                           const char **final_recipient, char *buf, size_t cap,
                           struct as4_http_resp *resp)
{
	const struct as4_config *cfg = r->rt->cfg;
	const char *text = *party;
	char msg[400];
	if (text == NULL || as4_config_party(cfg, text) != NULL) {
		return 0; /* a party name (names win over look-alike identifiers) */
	}
	if (as4_str_starts(text, AS4_SBDH_AUTHORITY "::")) {
		text += strlen(AS4_SBDH_AUTHORITY "::");
	}
	bool bare_gln = strlen(text) == 13 && strspn(text, "0123456789") == 13;
	bool icd = strlen(text) > 5 && strspn(text, "0123456789") == 4 && text[4] == ':';
	if (!bare_gln && !icd) {
		return 0;
	}
	if (as4_str_fmt(buf, cap, "%s%s", bare_gln ? "0088:" : "", text) != AS4_OK) {
		as4_http_resp_json_error(resp, 422, "invalid_sbdh",
		                         "participant identifier too long", "party");
		return -1;
	}
	struct as4_sbdh_schemes ok = {cfg->medcom.schemes, cfg->medcom.n_schemes};
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_participant_parse(buf, &ok, "party", NULL, &d);
	if (err != AS4_OK) {
		as4_http_resp_json_error(resp, 422,
		                         err == AS4_E_GLN ? "invalid_gln" : "invalid_sbdh",
		                         as4_diag_text(&d), "party");
		return -1;
	}
	/* a static route names the access point; else the SMP says where the participant is */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < cfg->medcom.n_routes; i++) {
			const struct as4_medcom_route *rt = &cfg->medcom.routes[i];
			if (strcmp(rt->participant, pass == 0 ? buf : "*") == 0) {
				*party = rt->party->name;
				*final_recipient =
				        *final_recipient != NULL ? *final_recipient : buf;
				return 1;
			}
		}
	}
	for (size_t i = 0; i < as4_pmode_count(cfg->pmodes); i++) {
		const struct as4_pmode *pm = as4_pmode_at(cfg->pmodes, i);
		if (pm->initiator == cfg->node.party && pm->responder_discovery) {
			*party = NULL;
			*pmode = *pmode != NULL ? *pmode : pm->id;
			*final_recipient = *final_recipient != NULL ? *final_recipient : buf;
			return 1;
		}
	}
	snprintf(msg, sizeof(msg),
	         "participant %s: no medcom.routes entry names its access point and no PMode of "
	         "this access point uses discovery",
	         buf);
	as4_http_resp_json_error(resp, 422, "unprocessable", msg, "party");
	return -1;
}
