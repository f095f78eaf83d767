/* SPDX-License-Identifier: Apache-2.0 */
/*
 * as4ctl inspect: open a captured AS4 message offline and explain it, as the receiving MSH
 * would judge it without a PMode (as4_msg_in_open in inspection mode).
 *
 *   inspect FILE [--key PEM]... [--cert PEM]... [--trust PEM]... [--at TIME] [--out DIR]
 *           [--json]
 *
 * FILE may be any capture: an HTTP request or response dump, a MIME entity, a bare MIME body
 * starting with "--boundary", or a bare SOAP envelope (a BOM or a licence comment before it
 * is skipped).
 * --key   a private key to decrypt with; the PEM file holds the key and its certificate, or
 *         the certificate is one of the --cert files. Like as4d, as4ctl refuses key files
 *         readable by group or others.
 * --cert  certificates accepted as signers as they are (and used to resolve IssuerSerial and
 *         SubjectKeyIdentifier references).
 * --trust CA certificates a signer may chain to.
 *         Without --cert and --trust the signature is checked structurally only: digests and
 *         signature value, and the signer certificate's validity period, but not trust.
 * --at    the time certificates are judged at (RFC 3339), e.g. the message's own Timestamp
 *         for a capture whose signer has expired since.
 * --out   write the payloads (decrypted, decompressed) into DIR.
 * --json  print one JSON object instead of text.
 * Exit status: 0 acceptable, 1 refused, 2 usage error (including unreadable input files).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "as4/blob.h"
#include "as4/ebms3.h"
#include "as4/limits.h"
#include "as4/mime.h"
#include "as4/msg.h"
#include "as4/str.h"
#include "as4/time.h"
#include "as4/wss.h"
#include "as4/xml.h"
#include "cli.h"

/* Most --key / --cert / --trust options. */
#define MAX_FILES 16
/* Most certificates read from all --cert files together. */
#define MAX_CERTS 64

static const char usage_text[] =
        "usage: as4ctl inspect FILE [--key PEM]... [--cert PEM]... [--trust PEM]... [--at TIME]\n"
        "                      [--out DIR] [--json]\n"
        "  --key PEM    private key (with its certificate, or one given by --cert) to decrypt\n"
        "  --cert PEM   certificate accepted as signer\n"
        "  --trust PEM  CA certificate a signer may chain to\n"
        "  --at TIME    judge certificates at this RFC 3339 time (default: now)\n"
        "  --out DIR    write the decrypted, decompressed payloads into DIR\n"
        "  --json       print one JSON object\n"
        "Without --cert and --trust the signature is checked structurally only.\n"
        "Exit status: 0 acceptable, 1 refused, 2 usage error.\n";

struct opts {
	const char *file;
	const char *keys[MAX_FILES];
	size_t n_keys;
	const char *certs[MAX_FILES];
	size_t n_certs;
	const char *trust[MAX_FILES];
	size_t n_trust;
	const char *at;
	int64_t at_ms;
	const char *out_dir;
	bool json;
};

/* Material loaded from the options; released by material_cleanup(). */
struct material {
	struct as4_keystore *keys[MAX_FILES];
	size_t n_keys;
	X509 *certs[MAX_CERTS];
	size_t n_certs;
	struct as4_truststore *trust;
};

static int usage(const char *fmt, ...) AS4_PRINTF(1, 2);

static int usage(const char *fmt, ...)
{
	if (fmt != NULL) {
		va_list ap;
		va_start(ap, fmt);
		fputs("as4ctl inspect: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	fputs(usage_text, stderr);
	return AS4CTL_USAGE;
}

static bool add_file(const char **list, size_t *n, const char *opt, const char *v)
{
	if (*n >= MAX_FILES) {
		usage("too many %s options (at most %d)", opt, MAX_FILES);
		return false;
	}
	list[(*n)++] = v;
	return true;
}

/* 0 = parsed, else the exit status to return. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage_text, stdout);
			return -1;
		}
		if (strcmp(a, "--json") == 0) {
			o->json = true;
			continue;
		}
		bool known = strcmp(a, "--key") == 0 || strcmp(a, "--cert") == 0 ||
		             strcmp(a, "--trust") == 0 || strcmp(a, "--at") == 0 ||
		             strcmp(a, "--out") == 0;
		if (known && !has_value) {
			return usage("%s needs a value", a);
		}
		if (strcmp(a, "--key") == 0) {
			if (!add_file(o->keys, &o->n_keys, a, argv[++i])) {
				return AS4CTL_USAGE;
			}
		} else if (strcmp(a, "--cert") == 0) {
			if (!add_file(o->certs, &o->n_certs, a, argv[++i])) {
				return AS4CTL_USAGE;
			}
		} else if (strcmp(a, "--trust") == 0) {
			if (!add_file(o->trust, &o->n_trust, a, argv[++i])) {
				return AS4CTL_USAGE;
			}
		} else if (strcmp(a, "--at") == 0) {
			o->at = argv[++i];
			if (as4_time_parse(o->at, &o->at_ms) != AS4_OK || o->at_ms <= 0) {
				return usage("--at '%s' is not an RFC 3339 time", o->at);
			}
		} else if (strcmp(a, "--out") == 0) {
			o->out_dir = argv[++i];
		} else if (a[0] == '-' && a[1] != '\0') {
			return usage("unknown option %s", a);
		} else if (o->file == NULL) {
			o->file = a;
		} else {
			return usage("more than one FILE given");
		}
	}
	if (o->file == NULL) {
		return usage("no FILE given");
	}
	return 0;
}

static void material_cleanup(struct material *m)
{
	for (size_t i = 0; i < m->n_keys; i++) {
		as4_keystore_free(m->keys[i]);
	}
	for (size_t i = 0; i < m->n_certs; i++) {
		X509_free(m->certs[i]);
	}
	as4_truststore_free(m->trust);
}

static bool read_certs(const char *path, struct material *m)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "as4ctl inspect: cannot open certificate file %s\n", path);
		return false;
	}
	size_t before = m->n_certs;
	X509 *x = NULL;
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		if (m->n_certs >= MAX_CERTS) {
			X509_free(x);
			fclose(f);
			fprintf(stderr, "as4ctl inspect: more than %d certificates\n", MAX_CERTS);
			return false;
		}
		m->certs[m->n_certs++] = x;
	}
	ERR_clear_error();
	fclose(f);
	if (m->n_certs == before) {
		fprintf(stderr, "as4ctl inspect: no PEM certificate in %s\n", path);
		return false;
	}
	return true;
}

/*
 * A decryption key: the key file with a certificate in the same file, or with the --cert
 * file whose certificate belongs to it.
 */
static bool load_key(const struct opts *o, const char *path, struct material *m)
{
	/* offline analysis reads legacy 1024-bit test keys too; as4d keeps the 2048-bit floor */
	const unsigned min_bits = 1024;
	struct as4_diag first;
	as4_diag_init(&first);
	struct as4_keystore *ks = NULL;
	if (as4_keystore_load_min_bits(path, path, min_bits, &ks, &first) == AS4_OK) {
		m->keys[m->n_keys++] = ks;
		return true;
	}
	for (size_t i = 0; i < o->n_certs; i++) {
		struct as4_diag d;
		as4_diag_init(&d);
		if (as4_keystore_load_min_bits(path, o->certs[i], min_bits, &ks, &d) == AS4_OK) {
			m->keys[m->n_keys++] = ks;
			return true;
		}
	}
	fprintf(stderr, "as4ctl inspect: cannot use key %s: %s\n", path, as4_diag_text(&first));
	if (o->n_certs > 0) {
		fputs("as4ctl inspect: none of the --cert certificates belongs to it either\n",
		      stderr);
	}
	return false;
}

static bool load_material(const struct opts *o, struct material *m)
{
	for (size_t i = 0; i < o->n_certs; i++) {
		if (!read_certs(o->certs[i], m)) {
			return false;
		}
	}
	for (size_t i = 0; i < o->n_keys; i++) {
		if (!load_key(o, o->keys[i], m)) {
			return false;
		}
	}
	if (o->n_trust > 0) {
		struct as4_diag d;
		as4_diag_init(&d);
		if (as4_truststore_load(o->trust, o->n_trust, &m->trust, &d) != AS4_OK) {
			fprintf(stderr, "as4ctl inspect: %s\n", as4_diag_text(&d));
			return false;
		}
	}
	return true;
}

/* ---- JSON ----------------------------------------------------------------------------- */

/* A JSON string of s (NULL gives null); bytes that are not UTF-8 become '?'. */
static json_t *jstr(const char *s)
{
	if (s == NULL) {
		return json_null();
	}
	json_t *v = json_string(s);
	if (v != NULL) {
		return v;
	}
	char *copy = as4_str_dup(s);
	if (copy == NULL) {
		return json_null();
	}
	for (char *p = copy; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20) {
			*p = '?';
		}
	}
	v = json_string(copy);
	free(copy);
	return v != NULL ? v : json_null();
}

/* Set key of o to v (taking v); a failed allocation just leaves the key out. */
static void jset(json_t *o, const char *key, json_t *v)
{
	if (v != NULL && json_object_set_new(o, key, v) != 0) {
		/* out of memory: the key is left out */
	}
}

static void jappend(json_t *a, json_t *v)
{
	if (v != NULL && json_array_append_new(a, v) != 0) {
		/* out of memory: the element is left out */
	}
}

static json_t *jprops(const struct as4_property *p, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++) {
		json_t *o = json_object();
		if (o != NULL) {
			jset(o, "name", jstr(p[i].name));
			jset(o, "type", jstr(p[i].type));
			jset(o, "value", jstr(p[i].value));
		}
		jappend(a, o);
	}
	return a;
}

static json_t *jparty(const struct as4_party_info *pi)
{
	json_t *o = json_object();
	json_t *ids = json_array();
	if (o == NULL || ids == NULL) {
		json_decref(o);
		json_decref(ids);
		return NULL;
	}
	for (size_t i = 0; i < pi->n_ids; i++) {
		json_t *id = json_object();
		if (id != NULL) {
			jset(id, "type", jstr(pi->ids[i].type));
			jset(id, "value", jstr(pi->ids[i].value));
		}
		jappend(ids, id);
	}
	jset(o, "party_ids", ids);
	jset(o, "role", jstr(pi->role));
	return o;
}

static const char *kind_name(const struct as4_msg *m)
{
	if (m->ebms.kind == AS4_UNIT_USER_MESSAGE) {
		return "UserMessage";
	}
	if (m->ebms.kind != AS4_UNIT_SIGNAL) {
		return NULL;
	}
	switch (m->ebms.signal.kind) {
	case AS4_SIGNAL_RECEIPT:
		return "Receipt";
	case AS4_SIGNAL_ERROR:
		return "Error";
	case AS4_SIGNAL_PULL_REQUEST:
		return "PullRequest";
	default:
		return NULL;
	}
}

static const char *stage_name(enum as4_msg_stage s)
{
	static const char *const names[] = {"mime",     "soap",   "header",   "pmode",
	                                    "security", "values", "payloads", "done"};
	return (size_t)s < AS4_ARRAY_LEN(names) ? names[s] : "?";
}

static json_t *jtime(int64_t ms)
{
	char t[AS4_TIME_TEXT_MAX];
	as4_time_format(ms != 0 ? ms : as4_time_now_ms(), t);
	return jstr(t);
}

static void json_user(json_t *o, const struct as4_msg *m)
{
	const struct as4_user_message *um = &m->ebms.user;
	jset(o, "timestamp", jstr(um->timestamp));
	jset(o, "conversation_id", jstr(um->conversation_id));
	if (um->from.ids != NULL) {
		jset(o, "from", jparty(&um->from));
	}
	if (um->to.ids != NULL) {
		jset(o, "to", jparty(&um->to));
	}
	json_t *ag = json_object();
	if (ag != NULL) {
		jset(ag, "value", jstr(um->agreement));
		jset(ag, "type", jstr(um->agreement_type));
		jset(ag, "pmode", jstr(um->agreement_pmode));
	}
	jset(o, "agreement", ag);
	json_t *sv = json_object();
	if (sv != NULL) {
		jset(sv, "value", jstr(um->service));
		jset(sv, "type", jstr(um->service_type));
	}
	jset(o, "service", sv);
	jset(o, "action", jstr(um->action));
	jset(o, "mpc", jstr(um->mpc != NULL ? um->mpc : AS4_DEFAULT_MPC));
	jset(o, "test_service", json_boolean(m->test_service));
	jset(o, "properties", jprops(um->props, um->n_props));
	json_t *pls = json_array();
	for (size_t i = 0; pls != NULL && i < um->n_parts; i++) {
		const struct as4_part_info *pi = &um->parts[i];
		const struct as4_payload *pl = i < m->n_payloads ? &m->payloads[i] : NULL;
		json_t *p = json_object();
		if (p == NULL) {
			continue;
		}
		jset(p, "content_id", jstr(pl != NULL ? pl->content_id : pi->content_id));
		jset(p, "href", jstr(pi->href));
		jset(p, "in_body", json_boolean(pi->in_body));
		jset(p, "mime_type", jstr(pl != NULL ? pl->mime_type : pi->mime_type));
		jset(p, "charset", jstr(pi->charset));
		jset(p, "compressed", json_boolean(pi->compression != NULL));
		jset(p, "decrypted", json_boolean(pl != NULL && pl->decrypted));
		if (pl != NULL && m->stage > AS4_STAGE_PAYLOADS) {
			jset(p, "size", json_integer((json_int_t)pl->data.len));
			jset(p, "wire_size", json_integer((json_int_t)pl->wire_size));
		} else {
			jset(p, "size", json_null());
		}
		jset(p, "properties", jprops(pi->props, pi->n_props));
		jappend(pls, p);
	}
	jset(o, "payloads", pls);
}

static void json_signal(json_t *o, const struct as4_msg *m)
{
	const struct as4_signal_message *s = &m->ebms.signal;
	jset(o, "timestamp", jstr(s->timestamp));
	jset(o, "payloads", json_array());
	if (s->kind == AS4_SIGNAL_RECEIPT) {
		json_t *r = json_object();
		json_t *nri = json_array();
		for (size_t i = 0; nri != NULL && i < s->n_nri; i++) {
			json_t *n = json_object();
			if (n != NULL) {
				jset(n, "uri", jstr(s->nri[i].uri));
				jset(n, "digest_method", jstr(s->nri[i].digest_method));
				jset(n, "digest_value", jstr(s->nri[i].digest_value));
			}
			jappend(nri, n);
		}
		if (r != NULL) {
			jset(r, "non_repudiation", nri);
			jset(r, "user_message_copy", json_boolean(s->receipt_user_message));
			jset(r, "user_message_id", jstr(s->receipt_user_message_id));
		} else {
			json_decref(nri);
		}
		jset(o, "receipt", r);
	} else if (s->kind == AS4_SIGNAL_ERROR) {
		json_t *a = json_array();
		for (size_t i = 0; a != NULL && i < s->n_errors; i++) {
			const struct as4_ebms_error *e = &s->errors[i];
			json_t *x = json_object();
			if (x != NULL) {
				jset(x, "code", jstr(e->error_code));
				jset(x, "severity", jstr(e->severity));
				jset(x, "short_description", jstr(e->short_description));
				jset(x, "category", jstr(e->category));
				jset(x, "origin", jstr(e->origin));
				jset(x, "ref_to_message_in_error",
				     jstr(e->ref_to_message_in_error));
				jset(x, "description", jstr(e->description));
				jset(x, "detail", jstr(e->detail));
			}
			jappend(a, x);
		}
		jset(o, "errors", a);
	} else if (s->kind == AS4_SIGNAL_PULL_REQUEST) {
		jset(o, "mpc", jstr(s->pull_mpc != NULL ? s->pull_mpc : AS4_DEFAULT_MPC));
	}
}

static json_t *json_signature(const struct as4_msg *m, const struct opts *o, bool structural)
{
	const struct as4_wss_open_result *w = &m->wss;
	json_t *s = json_object();
	if (s == NULL) {
		return NULL;
	}
	jset(s, "present", json_boolean(w->signed_msg));
	jset(s, "checked", json_boolean(m->wss_done));
	jset(s, "valid", json_boolean(w->signature_valid));
	jset(s, "algorithm", jstr(w->signature_alg));
	jset(s, "references_total", json_integer((json_int_t)w->refs_total));
	jset(s, "references_valid", json_integer((json_int_t)w->refs_valid));
	jset(s, "signer", jstr(w->signer_subject));
	jset(s, "signer_reference", jstr(w->signer_ref));
	jset(s, "signer_valid_at", json_boolean(w->signer != NULL && w->signer_time_valid));
	jset(s, "at", jtime(o->at_ms));
	jset(s, "trusted", json_boolean(w->signer_trusted));
	jset(s, "structural_only", json_boolean(structural));
	json_t *refs = json_array();
	for (size_t i = 0; refs != NULL && i < w->refs.n; i++) {
		jappend(refs, jstr(w->refs.refs[i].uri));
	}
	jset(s, "references", refs);
	return s;
}

static json_t *json_decryption(const struct as4_msg *m)
{
	const struct as4_wss_open_result *w = &m->wss;
	json_t *s = json_object();
	if (s == NULL) {
		return NULL;
	}
	jset(s, "present", json_boolean(w->encrypted));
	jset(s, "ok", json_boolean(w->encrypted && w->decryption_ok));
	jset(s, "key_transport", jstr(w->key_transport_alg));
	jset(s, "data_algorithm", jstr(w->data_alg));
	jset(s, "parts_decrypted", json_integer((json_int_t)w->parts_decrypted));
	return s;
}

static json_t *json_report(const struct as4_msg *m, const struct opts *o, bool structural,
                           as4_err err, const struct as4_diag *d, const char *written)
{
	json_t *r = json_object();
	if (r == NULL) {
		return NULL;
	}
	jset(r, "file", jstr(o->file));
	jset(r, "verdict", jstr(err == AS4_OK ? "accepted" : "refused"));
	jset(r, "stage", jstr(stage_name(m->stage)));
	jset(r, "content_type", jstr(m->content_type));
	jset(r, "kind", jstr(kind_name(m)));
	jset(r, "message_id", jstr(as4_msg_ref_id(m)));
	const char *ref = m->ebms.kind == AS4_UNIT_USER_MESSAGE ? m->ebms.user.ref_to_message_id
	                                                        : m->ebms.signal.ref_to_message_id;
	jset(r, "ref_to_message_id", jstr(ref));
	if (m->ebms.kind == AS4_UNIT_USER_MESSAGE) {
		json_user(r, m);
	} else if (m->ebms.kind == AS4_UNIT_SIGNAL) {
		json_signal(r, m);
	} else {
		jset(r, "payloads", json_array());
	}
	jset(r, "security_header", json_boolean(m->ebms.has_security));
	jset(r, "signature", json_signature(m, o, structural));
	jset(r, "decryption", json_decryption(m));
	if (err != AS4_OK) {
		json_t *e = json_object();
		if (e != NULL) {
			const char *code = as4_err_ebms_code(err);
			jset(e, "code", jstr(code));
			jset(e, "short_description", jstr(as4_ebms_short_description(code)));
			jset(e, "reason", jstr(as4_strerror(err)));
			jset(e, "detail", jstr(as4_diag_text(d)));
		}
		jset(r, "error", e);
	}
	if (written != NULL) {
		jset(r, "out", jstr(written));
	}
	return r;
}

/* ---- text ------------------------------------------------------------------------------ */

static void print_party(const char *label, const struct as4_party_info *pi)
{
	for (size_t i = 0; i < pi->n_ids; i++) {
		printf("%-18s %s%s%s%s\n", i == 0 ? label : "", pi->ids[i].value,
		       pi->ids[i].type != NULL ? " (type " : "",
		       pi->ids[i].type != NULL ? pi->ids[i].type : "",
		       pi->ids[i].type != NULL ? ")" : "");
	}
	if (pi->role != NULL) {
		printf("%-18s %s\n", "", pi->role);
	}
}

static void print_text(const struct as4_msg *m, const struct opts *o, bool structural, as4_err err,
                       const struct as4_diag *d)
{
	const char *kind = kind_name(m);
	printf("%-18s %s\n", "file:", o->file);
	if (err == AS4_OK) {
		printf("%-18s accepted\n", "verdict:");
	} else {
		const char *code = as4_err_ebms_code(err);
		const char *sd = as4_ebms_short_description(code);
		printf("%-18s refused at %s: %s %s\n", "verdict:", stage_name(m->stage), code,
		       sd != NULL ? sd : "");
		printf("%-18s %s\n", "reason:", as4_diag_text(d));
	}
	printf("%-18s %s\n", "kind:", kind != NULL ? kind : "(unknown)");
	const char *id = as4_msg_ref_id(m);
	if (id != NULL) {
		printf("%-18s %s\n", "message id:", id);
	}
	if (m->ebms.kind == AS4_UNIT_USER_MESSAGE) {
		const struct as4_user_message *um = &m->ebms.user;
		if (um->ref_to_message_id != NULL) {
			printf("%-18s %s\n", "ref to:", um->ref_to_message_id);
		}
		if (um->timestamp != NULL) {
			printf("%-18s %s\n", "timestamp:", um->timestamp);
		}
		print_party("from:", &um->from);
		print_party("to:", &um->to);
		if (um->agreement != NULL) {
			printf("%-18s %s%s%s\n", "agreement:", um->agreement,
			       um->agreement_pmode != NULL ? " pmode=" : "",
			       um->agreement_pmode != NULL ? um->agreement_pmode : "");
		}
		if (um->service != NULL) {
			printf("%-18s %s%s%s\n", "service:", um->service,
			       um->service_type != NULL ? " type=" : "",
			       um->service_type != NULL ? um->service_type : "");
		}
		if (um->action != NULL) {
			printf("%-18s %s%s\n", "action:", um->action,
			       m->test_service ? " (ebMS test service: never delivered)" : "");
		}
		if (um->conversation_id != NULL) {
			printf("%-18s %s\n", "conversation:", um->conversation_id);
		}
		for (size_t i = 0; i < um->n_props; i++) {
			printf("%-18s %s = %s%s%s%s\n", i == 0 ? "properties:" : "",
			       um->props[i].name, um->props[i].value,
			       um->props[i].type != NULL ? " (type " : "",
			       um->props[i].type != NULL ? um->props[i].type : "",
			       um->props[i].type != NULL ? ")" : "");
		}
		for (size_t i = 0; i < um->n_parts; i++) {
			const struct as4_part_info *pi = &um->parts[i];
			const struct as4_payload *pl =
			        i < m->n_payloads && m->stage > AS4_STAGE_PAYLOADS ? &m->payloads[i]
			                                                           : NULL;
			printf("%-18s %s %s%s%s", i == 0 ? "payloads:" : "",
			       pi->in_body ? "(SOAP Body)" : pi->content_id,
			       pl != NULL ? pl->mime_type : (pi->mime_type ? pi->mime_type : "?"),
			       pi->compression != NULL ? " gzip" : "",
			       pl != NULL && pl->decrypted ? " encrypted" : "");
			if (pl != NULL) {
				printf(" %zu bytes", pl->data.len);
			}
			printf("\n");
		}
	} else if (m->ebms.kind == AS4_UNIT_SIGNAL) {
		const struct as4_signal_message *s = &m->ebms.signal;
		if (s->ref_to_message_id != NULL) {
			printf("%-18s %s\n", "ref to:", s->ref_to_message_id);
		}
		if (s->timestamp != NULL) {
			printf("%-18s %s\n", "timestamp:", s->timestamp);
		}
		for (size_t i = 0; i < s->n_nri; i++) {
			printf("%-18s %s %s\n", i == 0 ? "receipt NRI:" : "", s->nri[i].uri,
			       s->nri[i].digest_value);
		}
		if (s->receipt_user_message) {
			printf("%-18s copy of UserMessage %s\n", "receipt:",
			       s->receipt_user_message_id != NULL ? s->receipt_user_message_id
			                                          : "");
		}
		for (size_t i = 0; i < s->n_errors; i++) {
			const struct as4_ebms_error *e = &s->errors[i];
			printf("%-18s %s %s (%s): %s\n", i == 0 ? "errors:" : "", e->error_code,
			       e->short_description != NULL ? e->short_description : "",
			       e->severity,
			       e->detail != NULL ? e->detail
			                         : (e->description ? e->description : ""));
		}
		if (s->kind == AS4_SIGNAL_PULL_REQUEST) {
			printf("%-18s %s\n",
			       "pull mpc:", s->pull_mpc != NULL ? s->pull_mpc : AS4_DEFAULT_MPC);
		}
	}
	const struct as4_wss_open_result *w = &m->wss;
	if (w->signed_msg) {
		printf("%-18s %s, %s, %zu/%zu references%s\n",
		       "signature:", w->signature_valid ? "valid" : "NOT valid",
		       w->signature_alg != NULL ? w->signature_alg : "?", w->refs_valid,
		       w->refs_total,
		       structural ? " (structural check only: no --cert/--trust)" : "");
		if (w->signer_subject != NULL) {
			printf("%-18s %s [%s]%s%s\n", "signer:", w->signer_subject,
			       w->signer_ref != NULL ? w->signer_ref : "?",
			       w->signer_time_valid ? "" : " not valid at the time checked",
			       w->signer_trusted ? ", trusted" : "");
		}
	} else if (m->wss_done) {
		printf("%-18s none\n", "signature:");
	}
	if (w->encrypted) {
		printf("%-18s %s, %zu parts, %s / %s\n",
		       "encryption:", w->decryption_ok ? "decrypted" : "NOT decrypted",
		       w->parts_decrypted,
		       w->key_transport_alg != NULL ? w->key_transport_alg : "?",
		       w->data_alg != NULL ? w->data_alg : "?");
	}
}

/* ---- --out ----------------------------------------------------------------------------- */

/* "<n>-<content id with unsafe characters replaced>" or "<n>-body.xml". */
static as4_err payload_path(const char *dir, size_t i, const struct as4_payload *pl, char *out,
                            size_t cap)
{
	char name[128];
	const char *src = pl->content_id != NULL ? pl->content_id : "body.xml";
	size_t n = 0;
	for (const char *p = src; *p != '\0' && n + 1 < sizeof(name); p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		          (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '@' ||
		          (*p == '.' && n > 0);
		name[n++] = ok ? *p : '_';
	}
	name[n] = '\0';
	return as4_str_fmt(out, cap, "%s/%zu-%s", dir, i + 1, name);
}

static bool write_payloads(const struct as4_msg *m, const char *dir)
{
	if (as4_mkdir_p(dir, 0700) != AS4_OK) {
		fprintf(stderr, "as4ctl inspect: cannot create %s\n", dir);
		return false;
	}
	for (size_t i = 0; i < m->n_payloads; i++) {
		const struct as4_payload *pl = &m->payloads[i];
		char path[4096];
		if (payload_path(dir, i, pl, path, sizeof(path)) != AS4_OK ||
		    as4_file_write_atomic(path, pl->data.data, pl->data.len, 0600) != AS4_OK) {
			fprintf(stderr, "as4ctl inspect: cannot write payload %zu into %s\n", i + 1,
			        dir);
			return false;
		}
	}
	return true;
}

/* ---- main ------------------------------------------------------------------------------ */

int as4ctl_cmd_inspect(int argc, char **argv)
{
	struct opts o;
	int rc = parse_args(argc, argv, &o);
	if (rc != 0) {
		return rc < 0 ? AS4CTL_OK : rc;
	}
	struct material mat;
	memset(&mat, 0, sizeof(mat));
	struct as4_limits lim;
	as4_limits_default(&lim);
	uint8_t *file = NULL;
	size_t file_len = 0;
	struct as4_arena *arena = NULL;
	struct as4_msg *m = NULL;
	json_t *report = NULL;
	if (!load_material(&o, &mat)) {
		rc = AS4CTL_USAGE;
		goto out;
	}
	as4_err err = as4_file_read(o.file, lim.max_body + 64 * 1024, &file, &file_len);
	if (err != AS4_OK) {
		fprintf(stderr, "as4ctl inspect: cannot read %s (%s)\n", o.file, as4_strerror(err));
		rc = AS4CTL_USAGE;
		goto out;
	}
	arena = as4_arena_new(0);
	if (arena == NULL) {
		fputs("as4ctl inspect: out of memory\n", stderr);
		rc = AS4CTL_REFUSED;
		goto out;
	}
	struct as4_diag d;
	as4_diag_init(&d);
	const char *content_type = NULL;
	struct as4_blob body;
	as4_blob_init(&body);
	err = as4_mime_split_entity(file, file_len, arena, &content_type, &body, &d);
	bool structural = mat.trust == NULL && mat.n_certs == 0;
	if (err == AS4_OK) {
		struct as4_msg_in_params p = {
		        .limits = &lim,
		        .decrypt_keys = mat.keys,
		        .n_decrypt_keys = mat.n_keys,
		        .trust = mat.trust,
		        .accepted = mat.certs,
		        .n_accepted = mat.n_certs,
		        .at_ms = o.at_ms,
		        .accept_signals = true,
		};
		err = as4_msg_in_open(&p, &body, content_type, &m, &d);
	}
	if (m == NULL) {
		/* the capture could not even be split: report without a message */
		struct as4_blob none;
		as4_blob_init(&none);
		struct as4_msg_in_params p0 = {.limits = &lim};
		struct as4_diag d0;
		as4_diag_init(&d0);
		if (as4_msg_in_open(&p0, &none, NULL, &m, &d0) == AS4_OK || m == NULL) {
			fputs("as4ctl inspect: out of memory\n", stderr);
			rc = AS4CTL_REFUSED;
			goto out;
		}
		m->stage = AS4_STAGE_MIME;
	}
	const char *written = NULL;
	if (err == AS4_OK && o.out_dir != NULL) {
		if (!write_payloads(m, o.out_dir)) {
			rc = AS4CTL_USAGE;
			goto out;
		}
		written = o.out_dir;
	}
	if (o.json) {
		report = json_report(m, &o, structural, err, &d, written);
		char *text = report != NULL ? json_dumps(report, JSON_INDENT(2)) : NULL;
		if (text == NULL) {
			fputs("as4ctl inspect: out of memory\n", stderr);
			rc = AS4CTL_REFUSED;
			goto out;
		}
		puts(text);
		free(text);
	} else {
		print_text(m, &o, structural, err, &d);
		if (written != NULL) {
			printf("%-18s %zu payloads written to %s\n", "out:", m->n_payloads,
			       written);
		}
	}
	rc = err == AS4_OK ? AS4CTL_OK : AS4CTL_REFUSED;
out:
	json_decref(report);
	as4_msg_free(m);
	as4_arena_free(arena);
	free(file);
	material_cleanup(&mat);
	return rc;
}
