/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificates on the internal API: the inventory of every certificate this access point uses
 * (our key pairs, the truststores, TLS, partners) with validity and days to expiry, adding and
 * removing trusted certificates, and replacing our key pair (rollover).
 *
 * What the API changes lives in node.managed_dir (docs/admin-guide.md "Certificates and key
 * rollover"), which the configuration loader reads after as4d.yaml:
 *   trust/<store>/<sha256>.pem       one trusted certificate, appended to truststores.<store>;
 *   keystore/current/{key,cert}.pem  our key pair after a rollover (signs and decrypts);
 *   keystore/old/<name>/...          earlier managed pairs, still accepted for decryption.
 * A change is written (files durable, folders renamed into place), then applied with a
 * reload; when the reload refuses the result, the change is undone and the API answers 422
 * with the reason, so the files on disk always hold what the daemon runs.
 *
 * Private keys are never returned: the inventory shows certificates and file paths only, and
 * an uploaded key goes straight into a keystore (as4_keystore_import) and out through
 * as4_keystore_save_key (STYLE rule 23).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "api_int.h"
#include "as4/admin_json.h"
#include "as4/blob.h"
#include "as4/log.h"
#include "as4/str.h"
#include "as4/time.h"

#define MS_DAY (24LL * 3600 * 1000)
/* Certificates expiring sooner than this are reported as warnings (as the loader does). */
#define EXPIRY_WARNING_DAYS 30
/* Largest certificate file read for the inventory. */
#define CERT_FILE_MAX (1024u * 1024u)

/* ---- Inventory ------------------------------------------------------------------------ */

int64_t api_cert_not_after_ms(X509 *x)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1) {
		return 0;
	}
	return (int64_t)timegm(&tm) * 1000;
}

static int64_t not_before_ms(X509 *x)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm) != 1) {
		return 0;
	}
	return (int64_t)timegm(&tm) * 1000;
}

static void name_text(const X509_NAME *n, char *out, size_t cap)
{
	out[0] = '\0';
	BIO *b = BIO_new(BIO_s_mem());
	if (b != NULL &&
	    X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		int k = BIO_read(b, out, (int)cap - 1);
		out[k > 0 ? k : 0] = '\0';
	}
	BIO_free(b);
}

void api_cert_fingerprint(X509 *x, char out[65])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	out[0] = '\0';
	if (X509_digest(x, EVP_sha256(), md, &len) == 1 && len == 32) {
		as4_hex_encode(md, 32, out);
	}
}

static void serial_text(X509 *x, char *out, size_t cap)
{
	out[0] = '\0';
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	if (hex != NULL && as4_str_copy(out, cap, hex) != AS4_OK) {
		out[0] = '\0';
	}
	OPENSSL_free(hex);
	BN_free(bn);
}

json_t *api_cert_json(X509 *x, int64_t now_ms)
{
	char subject[512], issuer[512], serial[128], fp[65];
	char nb[AS4_TIME_TEXT_MAX], na[AS4_TIME_TEXT_MAX];
	name_text(X509_get_subject_name(x), subject, sizeof(subject));
	name_text(X509_get_issuer_name(x), issuer, sizeof(issuer));
	serial_text(x, serial, sizeof(serial));
	api_cert_fingerprint(x, fp);
	int64_t a = api_cert_not_after_ms(x);
	int64_t b = not_before_ms(x);
	as4_time_format(b, nb);
	as4_time_format(a, na);
	/* whole days left, rounded down; negative once expired */
	int64_t left = a - now_ms;
	json_int_t days =
	        (json_int_t)(left >= 0 ? left / MS_DAY : -((-left + MS_DAY - 1) / MS_DAY));
	ERR_clear_error();
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:b}", "subject", subject,
	                 "issuer", issuer, "serial", serial, "sha256", fp, "not_before", nb,
	                 "not_after", na, "days_to_expiry", days, "expired",
	                 a<now_ms, "ca", X509_check_ca(x)> 0);
}

/* Every certificate of a PEM file (several blocks) or a DER file (one); NULL-free stack. */
static STACK_OF(X509) * read_certs(const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	STACK_OF(X509) *st = sk_X509_new_null();
	if (st == NULL || as4_file_read(path, CERT_FILE_MAX, &buf, &len) != AS4_OK) {
		free(buf);
		return st;
	}
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	X509 *x = NULL;
	while (bio != NULL && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_push(st, x) <= 0) {
			X509_free(x);
			break;
		}
	}
	BIO_free(bio);
	if (sk_X509_num(st) == 0) {
		const unsigned char *p = buf;
		x = d2i_X509(NULL, &p, (long)len);
		if (x != NULL && sk_X509_push(st, x) <= 0) {
			X509_free(x);
		}
	}
	ERR_clear_error();
	free(buf);
	return st;
}

void api_certs_free(struct api_cert *c, size_t n)
{
	for (size_t i = 0; c != NULL && i < n; i++) {
		X509_free(c[i].x);
	}
	free(c);
}

struct collect {
	struct api_cert *v;
	size_t n, cap;
	const char *managed; /* node.managed_dir */
	bool nomem;
};

static void add(struct collect *c, const char *group, const char *name, const char *path, X509 *x)
{
	if (x == NULL || c->nomem) {
		return;
	}
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 32;
		struct api_cert *nv = realloc(c->v, ncap * sizeof(*nv));
		if (nv == NULL) {
			c->nomem = true;
			return;
		}
		c->v = nv;
		c->cap = ncap;
	}
	struct api_cert *e = &c->v[c->n++];
	memset(e, 0, sizeof(*e));
	e->group = group;
	snprintf(e->name, sizeof(e->name), "%s", name != NULL ? name : "");
	e->path = path;
	e->managed = path != NULL && c->managed != NULL && as4_str_starts(path, c->managed) &&
	             path[strlen(c->managed)] == '/';
	X509_up_ref(x);
	e->x = x;
}

static void add_file(struct collect *c, const char *group, const char *path)
{
	if (path == NULL) {
		return;
	}
	STACK_OF(X509) *st = read_certs(path);
	const char *base = strrchr(path, '/');
	for (int i = 0; st != NULL && i < sk_X509_num(st); i++) {
		add(c, group, base != NULL ? base + 1 : path, path, sk_X509_value(st, i));
	}
	sk_X509_pop_free(st, X509_free);
}

as4_err api_certs_collect(const struct as4_runtime *rt, struct api_cert **out, size_t *n)
{
	const struct as4_config *cfg = rt->cfg;
	struct collect c = {NULL, 0, 0, cfg->node.managed_dir, false};
	const struct as4_keystore_config *ks = &cfg->keystore;
	add(&c, "keystore", "signing", ks->signing.cert_path, as4_keystore_cert(rt->sign));
	if (rt->n_decrypt > 0) {
		add(&c, "keystore", "encryption", ks->encryption.cert_path,
		    as4_keystore_cert(rt->decrypt[0]));
	}
	for (size_t i = 1; i < rt->n_decrypt; i++) {
		char name[48];
		snprintf(name, sizeof(name), "old_decryption[%zu]", i - 1);
		add(&c, "keystore", name,
		    i - 1 < ks->n_old_decryption ? ks->old_decryption[i - 1].cert_path : NULL,
		    as4_keystore_cert(rt->decrypt[i]));
	}
	for (size_t i = 0; i < cfg->truststores.n_as4; i++) {
		add_file(&c, "truststore.as4", cfg->truststores.as4[i]);
	}
	for (size_t i = 0; i < cfg->truststores.n_tls; i++) {
		add_file(&c, "truststore.tls", cfg->truststores.tls[i]);
	}
	for (size_t i = 0; i < cfg->truststores.n_smp; i++) {
		add_file(&c, "truststore.smp", cfg->truststores.smp[i]);
	}
	if (cfg->listeners.msh.tls.enabled) {
		add_file(&c, "tls.msh", cfg->listeners.msh.tls.cert_path);
		add_file(&c, "tls.msh.client_ca", cfg->listeners.msh.tls.client_ca);
	}
	if (cfg->listeners.api.tls.enabled) {
		add_file(&c, "tls.api", cfg->listeners.api.tls.cert_path);
		add_file(&c, "tls.api.client_ca", cfg->listeners.api.tls.client_ca);
	}
	add_file(&c, "tls.sender", cfg->sender.client_cert_path);
	for (size_t i = 0; rt->party_certs != NULL && i < cfg->n_parties; i++) {
		add(&c, "party", cfg->parties[i].name, cfg->parties[i].cert_path,
		    rt->party_certs[i]);
	}
	if (c.nomem) {
		api_certs_free(c.v, c.n);
		return AS4_E_NOMEM;
	}
	*out = c.v;
	*n = c.n;
	return AS4_OK;
}

/* The inventory as JSON, grouped; warnings for certificates expired or expiring soon. */
static json_t *inventory(const struct api_cert *v, size_t n, int64_t now)
{
	json_t *keystore = json_array();
	json_t *trust = json_pack("{s:[], s:[], s:[]}", "as4", "tls", "smp");
	json_t *tls = json_array();
	json_t *parties = json_array();
	json_t *warnings = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct api_cert *c = &v[i];
		json_t *o = api_cert_json(c->x, now);
		if (o == NULL) {
			continue;
		}
		json_object_set_new(o, "source", json_string(c->managed ? "managed" : "config"));
		if (c->path != NULL) {
			json_object_set_new(o, "file", json_string(c->path));
		}
		int64_t left = api_cert_not_after_ms(c->x) - now;
		if (left < EXPIRY_WARNING_DAYS * MS_DAY) {
			char w[700];
			json_t *subj = json_object_get(o, "subject");
			snprintf(w, sizeof(w), "%s %s certificate %s %s", c->group, c->name,
			         json_string_value(subj),
			         left < 0 ? "has expired" : "expires within 30 days");
			json_array_append_new(warnings, json_string(w));
		}
		if (strcmp(c->group, "keystore") == 0) {
			json_object_set_new(o, "use", json_string(c->name));
			/* a managed old pair is retired by its folder name */
			const char *old = c->managed && c->path != NULL
			                          ? strstr(c->path, "/keystore/old/")
			                          : NULL;
			if (old != NULL) {
				const char *nm = old + strlen("/keystore/old/");
				const char *end = strchr(nm, '/');
				json_object_set_new(o, "name",
				                    end != NULL
				                            ? json_stringn(nm, (size_t)(end - nm))
				                            : json_string(nm));
			}
			json_array_append_new(keystore, o);
		} else if (as4_str_starts(c->group, "truststore.")) {
			json_array_append_new(
			        json_object_get(trust, c->group + strlen("truststore.")), o);
		} else if (strcmp(c->group, "party") == 0) {
			json_object_set_new(o, "party", json_string(c->name));
			json_array_append_new(parties, o);
		} else {
			json_object_set_new(o, "use", json_string(c->group + strlen("tls.")));
			json_array_append_new(tls, o);
		}
	}
	return json_pack("{s:o, s:o, s:o, s:o, s:o}", "keystore", keystore, "truststores", trust,
	                 "tls", tls, "parties", parties, "warnings", warnings);
}

/* ---- Changing files under the managed folder -------------------------------------------- */

/* fsync a directory so that a rename or unlink in it is durable. */
static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (fsync(fd) != 0) {
			as4_log(AS4_LOG_WARNING, "certificates: fsync %s: %s", dir,
			        strerror(errno));
		}
		close(fd);
	}
}

/* Remove a managed key-pair folder (its two files, then itself). */
static void remove_pair_dir(const char *dir)
{
	char p[4200];
	/* a path that does not fit was never created: nothing to remove under it */
	if (as4_str_fmt(p, sizeof(p), "%s/key.pem", dir) == AS4_OK) {
		unlink(p);
	}
	if (as4_str_fmt(p, sizeof(p), "%s/cert.pem", dir) == AS4_OK) {
		unlink(p);
	}
	rmdir(dir);
}

/*
 * Apply the files now on disk: reload. On failure d says why and the caller undoes its
 * change (the running configuration is untouched by a failed reload).
 */
static as4_err apply(struct api_req *r, struct as4_diag *d)
{
	/* r->rt stays the request's snapshot: its token is borrowed from it */
	return as4_ap_reload(r->ap, d);
}

/* Decryption keys of the snapshot running now (after a change). */
static size_t decrypt_keys(struct as4_ap *ap)
{
	struct as4_runtime *rt = as4_ap_runtime(ap);
	size_t n = rt->n_decrypt;
	as4_runtime_put(rt);
	return n;
}

static void refused(struct as4_http_resp *resp, const struct as4_diag *d)
{
	char msg[600];
	snprintf(msg, sizeof(msg),
	         "the change was undone: the configuration did not load with it: %s",
	         as4_diag_text(d));
	as4_http_resp_json_error(resp, 422, "unprocessable", msg, NULL);
}

static const char *const trust_stores[] = {"as4", "tls", "smp", NULL};

static bool store_name_ok(const char *s)
{
	for (const char *const *t = trust_stores; *t != NULL; t++) {
		if (strcmp(*t, s) == 0) {
			return true;
		}
	}
	return false;
}

/* One PEM certificate from a request field; answers 422 and returns NULL when unusable. */
static X509 *one_cert(const char *pem, const char *field, int64_t now, struct as4_http_resp *resp)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	X509 *more = x != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	ERR_clear_error();
	const char *why = NULL;
	if (x == NULL) {
		why = "is not a PEM certificate (-----BEGIN CERTIFICATE-----)";
	} else if (more != NULL) {
		why = "holds more than one certificate: add them one at a time";
	} else if (api_cert_not_after_ms(x) < now) {
		why = "has expired";
	} else if (not_before_ms(x) > now) {
		why = "is not valid yet";
	}
	X509_free(more);
	if (why != NULL) {
		char msg[200];
		snprintf(msg, sizeof(msg), "%s %s", field, why);
		as4_http_resp_json_error(resp, 422, "unprocessable", msg, field);
		X509_free(x);
		return NULL;
	}
	return x;
}

static char *cert_pem(X509 *x, STACK_OF(X509) * chain)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL;
	bool ok = b != NULL && PEM_write_bio_X509(b, x) == 1;
	for (int i = 0; ok && chain != NULL && i < sk_X509_num(chain); i++) {
		ok = PEM_write_bio_X509(b, sk_X509_value(chain, i)) == 1;
	}
	if (ok) {
		char *p = NULL;
		long n = BIO_get_mem_data(b, &p);
		out = n > 0 ? as4_str_ndup(p, (size_t)n) : NULL;
	}
	BIO_free(b);
	ERR_clear_error();
	return out;
}

static void add_trust(struct api_req *r, struct as4_http_req *req, const struct as4_blob *body,
                      struct as4_http_resp *resp)
{
	struct as4_runtime *cur = NULL; /* the snapshot a change starts from */
	static const char *const allowed[] = {"store", "certificate", NULL};
	json_t *j = api_body_json(r, req, body, resp);
	X509 *x = NULL;
	char *pem = NULL;
	struct api_cert *inv = NULL;
	size_t n_inv = 0;
	bool written = false;
	char path[4400] = "";
	if (j == NULL) {
		return;
	}
	struct as4_diag d;
	as4_diag_init(&d);
	const char *store = NULL;
	const char *text = NULL;
	as4_err err = as4_json_only(j, "", allowed, &d);
	if (err == AS4_OK) {
		err = as4_json_str(j, "", "store", true, 16, &store, &d);
	}
	if (err == AS4_OK) {
		err = as4_json_str(j, "", "certificate", true, CERT_FILE_MAX, &text, &d);
	}
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		goto out;
	}
	if (!store_name_ok(store)) {
		as4_http_resp_json_error(resp, 400, "bad_request", "store must be as4, tls or smp",
		                         "store");
		goto out;
	}
	int64_t now = as4_time_now_ms();
	x = one_cert(text, "certificate", now, resp);
	if (x == NULL) {
		goto out;
	}
	char fp[65];
	api_cert_fingerprint(x, fp);
	pthread_mutex_lock(&r->ap->admin_lock);
	/* the snapshot of the moment, not the request's: another change may have come first */
	cur = as4_ap_runtime(r->ap);
	const char *managed = cur->cfg->node.managed_dir;
	char group[32];
	snprintf(group, sizeof(group), "truststore.%s", store);
	if (api_certs_collect(cur, &inv, &n_inv) != AS4_OK) {
		as4_http_resp_json_error(resp, 500, "internal", "out of memory", NULL);
		goto unlock;
	}
	for (size_t i = 0; i < n_inv; i++) {
		char f2[65];
		api_cert_fingerprint(inv[i].x, f2);
		if (strcmp(inv[i].group, group) == 0 && strcmp(f2, fp) == 0) {
			char msg[4400];
			snprintf(msg, sizeof(msg), "this certificate is already trusted (%.1000s)",
			         inv[i].path != NULL ? inv[i].path : "?");
			as4_http_resp_json_error(resp, 409, "conflict", msg, "certificate");
			goto unlock;
		}
	}
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/trust/%s", managed, store);
	snprintf(path, sizeof(path), "%s/%s.pem", dir, fp);
	pem = cert_pem(x, NULL);
	err = pem == NULL ? AS4_E_NOMEM : as4_mkdir_p(dir, 0700);
	if (err == AS4_OK) {
		err = as4_file_write_atomic(path, pem, strlen(pem), 0644);
	}
	if (err != AS4_OK) {
		char msg[4400];
		snprintf(msg, sizeof(msg), "cannot write %.1000s: %s", path, as4_strerror(err));
		as4_http_resp_json_error(resp, err == AS4_E_SPACE ? 507 : 500, "internal", msg,
		                         NULL);
		goto unlock;
	}
	written = true;
	err = apply(r, &d);
	if (err != AS4_OK) {
		unlink(path);
		written = false;
		refused(resp, &d);
		goto unlock;
	}
	written = false;
	json_t *o = api_cert_json(x, now);
	char detail[700];
	snprintf(detail, sizeof(detail), "truststore %s: %s", store,
	         o != NULL ? json_string_value(json_object_get(o, "subject")) : "?");
	char target[80];
	snprintf(target, sizeof(target), "%s:%s", store, fp);
	bool audited = api_audit(r, req, "certificate.trust.add", target, detail);
	if (o != NULL) {
		json_object_set_new(o, "store", json_string(store));
		json_object_set_new(o, "file", json_string(path));
		json_object_set_new(o, "source", json_string("managed"));
		json_object_set_new(o, "audit", json_string(audited ? "recorded" : "failed"));
	}
	api_json(resp, 201, o);
unlock:
	if (written) {
		unlink(path);
	}
	pthread_mutex_unlock(&r->ap->admin_lock);
	as4_runtime_put(cur);
out:
	api_certs_free(inv, n_inv);
	free(pem);
	X509_free(x);
	json_decref(j);
}

static bool hex64(const char *s)
{
	if (strlen(s) != 64) {
		return false;
	}
	for (const char *p = s; *p != '\0'; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
			return false;
		}
	}
	return true;
}

static void remove_trust(struct api_req *r, struct as4_http_req *req, const char *store,
                         const char *fp, struct as4_http_resp *resp)
{
	struct as4_runtime *cur = NULL; /* the snapshot a change starts from */
	struct api_cert *inv = NULL;
	size_t n_inv = 0;
	if (!store_name_ok(store)) {
		as4_http_resp_json_error(resp, 404, "not_found",
		                         "no such truststore (as4, tls or smp)", NULL);
		return;
	}
	if (!hex64(fp)) {
		as4_http_resp_json_error(resp, 400, "bad_request",
		                         "a certificate is named by its SHA-256 fingerprint: 64 "
		                         "lower-case hex digits (see GET /certificates)",
		                         NULL);
		return;
	}
	pthread_mutex_lock(&r->ap->admin_lock);
	/* the snapshot of the moment, not the request's: another change may have come first */
	cur = as4_ap_runtime(r->ap);
	const char *managed = cur->cfg->node.managed_dir;
	char dir[4200], path[4400], hidden[4400];
	snprintf(dir, sizeof(dir), "%s/trust/%s", managed, store);
	snprintf(path, sizeof(path), "%s/%s.pem", dir, fp);
	snprintf(hidden, sizeof(hidden), "%s/.%s.pem.removed", dir, fp);
	struct stat st;
	if (stat(path, &st) != 0) {
		char group[32];
		snprintf(group, sizeof(group), "truststore.%s", store);
		const char *configured = NULL;
		if (api_certs_collect(cur, &inv, &n_inv) == AS4_OK) {
			for (size_t i = 0; i < n_inv && configured == NULL; i++) {
				char f2[65];
				api_cert_fingerprint(inv[i].x, f2);
				if (strcmp(inv[i].group, group) == 0 && strcmp(f2, fp) == 0) {
					configured = inv[i].path != NULL ? inv[i].path : "?";
				}
			}
		}
		char msg[4600];
		if (configured != NULL) {
			snprintf(msg, sizeof(msg),
			         "this certificate comes from the configuration (%s in "
			         "truststores.%s of as4d.yaml): remove it there",
			         configured, store);
			as4_http_resp_json_error(resp, 409, "conflict", msg, NULL);
		} else {
			snprintf(msg, sizeof(msg), "no trusted certificate %s in truststore %s", fp,
			         store);
			as4_http_resp_json_error(resp, 404, "not_found", msg, NULL);
		}
		goto unlock;
	}
	STACK_OF(X509) *certs = read_certs(path);
	char subject[512] = "?";
	if (certs != NULL && sk_X509_num(certs) > 0) {
		name_text(X509_get_subject_name(sk_X509_value(certs, 0)), subject, sizeof(subject));
	}
	sk_X509_pop_free(certs, X509_free);
	if (rename(path, hidden) != 0) {
		as4_http_resp_json_error(resp, 500, "internal",
		                         "cannot remove the certificate file", NULL);
		goto unlock;
	}
	sync_dir(dir);
	struct as4_diag d;
	as4_diag_init(&d);
	if (apply(r, &d) != AS4_OK) {
		if (rename(hidden, path) != 0) {
			as4_log(AS4_LOG_ERR, "certificates: cannot restore %s: %s", path,
			        strerror(errno));
		}
		refused(resp, &d);
		goto unlock;
	}
	unlink(hidden);
	sync_dir(dir);
	char target[80], detail[700];
	snprintf(target, sizeof(target), "%s:%s", store, fp);
	snprintf(detail, sizeof(detail), "truststore %s: %s", store, subject);
	bool audited = api_audit(r, req, "certificate.trust.remove", target, detail);
	api_json(resp, 200,
	         json_pack("{s:s, s:s, s:s, s:s}", "store", store, "sha256", fp, "subject", subject,
	                   "audit", audited ? "recorded" : "failed"));
unlock:
	pthread_mutex_unlock(&r->ap->admin_lock);
	as4_runtime_put(cur);
	api_certs_free(inv, n_inv);
}

/* "20250131T120000Z" for a folder name that sorts by time. */
static void stamp(int64_t ms, char out[20])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 20, "%Y%m%dT%H%M%SZ", &tm);
}

static void rollover(struct api_req *r, struct as4_http_req *req, const struct as4_blob *body,
                     struct as4_http_resp *resp)
{
	struct as4_runtime *cur = NULL; /* the snapshot a change starts from */
	static const char *const allowed[] = {"key", "certificate", NULL};
	json_t *j = api_body_json(r, req, body, resp);
	struct as4_keystore *ks = NULL;
	char *chain_pem = NULL;
	json_t *prev = NULL;
	if (j == NULL) {
		return;
	}
	struct as4_diag d;
	as4_diag_init(&d);
	const char *key = NULL;
	const char *cert = NULL;
	as4_err err = as4_json_only(j, "", allowed, &d);
	if (err == AS4_OK) {
		err = as4_json_str(j, "", "key", true, CERT_FILE_MAX, &key, &d);
	}
	if (err == AS4_OK) {
		err = as4_json_str(j, "", "certificate", true, CERT_FILE_MAX, &cert, &d);
	}
	if (err != AS4_OK) {
		api_error_from(resp, err, &d);
		goto out;
	}
	err = as4_keystore_import((const uint8_t *)key, strlen(key), (const uint8_t *)cert,
	                          strlen(cert), "the uploaded key pair", &ks, &d);
	/* our copy of the key text is not needed any longer (STYLE rule 23) */
	OPENSSL_cleanse((void *)(uintptr_t)key, strlen(key));
	if (err != AS4_OK) {
		as4_http_resp_json_error(resp, err == AS4_E_NOMEM ? 500 : 422,
		                         err == AS4_E_NOMEM ? "internal" : "unprocessable",
		                         as4_diag_text(&d), "key");
		goto out;
	}
	X509 *x = as4_keystore_cert(ks);
	int64_t now = as4_time_now_ms();
	if (api_cert_not_after_ms(x) < now || not_before_ms(x) > now) {
		as4_http_resp_json_error(
		        resp, 422, "unprocessable",
		        "the certificate is not valid now (expired or not yet valid)",
		        "certificate");
		goto out;
	}
	char fp[65];
	api_cert_fingerprint(x, fp);
	chain_pem = cert_pem(x, as4_keystore_chain(ks));
	if (chain_pem == NULL) {
		as4_http_resp_json_error(resp, 500, "internal", "out of memory", NULL);
		goto out;
	}

	pthread_mutex_lock(&r->ap->admin_lock);
	/* the snapshot of the moment, not the request's: another change may have come first */
	cur = as4_ap_runtime(r->ap);
	X509 *old_cert = as4_keystore_cert(cur->sign);
	char cur_fp[65];
	api_cert_fingerprint(old_cert, cur_fp);
	if (strcmp(cur_fp, fp) == 0) {
		as4_http_resp_json_error(resp, 409, "conflict",
		                         "this is already the current key pair", "certificate");
		goto unlock;
	}
	const char *managed = cur->cfg->node.managed_dir;
	char kdir[4200], staging[4300], current[4300], olddir[4300], moved[4400];
	char rnd[8], hex[17], when[20];
	snprintf(kdir, sizeof(kdir), "%s/keystore", managed);
	if (RAND_bytes((unsigned char *)rnd, sizeof(rnd)) != 1) {
		as4_http_resp_json_error(resp, 500, "internal", "random generator failed", NULL);
		goto unlock;
	}
	as4_hex_encode((const uint8_t *)rnd, sizeof(rnd), hex);
	snprintf(staging, sizeof(staging), "%s/.staging-%s", kdir, hex);
	snprintf(current, sizeof(current), "%s/current", kdir);
	snprintf(olddir, sizeof(olddir), "%s/old", kdir);
	stamp(now, when);
	snprintf(moved, sizeof(moved), "%s/%s-%.8s", olddir, when, cur_fp);

	char kp[4400], cp[4400];
	snprintf(kp, sizeof(kp), "%s/key.pem", staging);
	snprintf(cp, sizeof(cp), "%s/cert.pem", staging);
	err = as4_mkdir_p(olddir, 0700);
	if (err == AS4_OK) {
		err = as4_mkdir_p(staging, 0700);
	}
	if (err == AS4_OK) {
		err = as4_keystore_save_key(ks, kp, &d);
	}
	if (err == AS4_OK) {
		err = as4_file_write_atomic(cp, chain_pem, strlen(chain_pem), 0644);
	}
	if (err != AS4_OK) {
		remove_pair_dir(staging);
		char msg[4600];
		snprintf(msg, sizeof(msg), "cannot write the key pair under %.1000s: %s", kdir,
		         as4_strerror(err));
		as4_http_resp_json_error(resp, err == AS4_E_SPACE ? 507 : 500, "internal", msg,
		                         NULL);
		goto unlock;
	}
	struct stat st;
	bool had_current = stat(current, &st) == 0;
	if (had_current && rename(current, moved) != 0) {
		remove_pair_dir(staging);
		as4_http_resp_json_error(resp, 500, "internal",
		                         "cannot move the current managed key pair aside", NULL);
		goto unlock;
	}
	if (rename(staging, current) != 0) {
		if (had_current && rename(moved, current) != 0) {
			as4_log(AS4_LOG_ERR, "certificates: cannot restore %s", current);
		}
		remove_pair_dir(staging);
		as4_http_resp_json_error(resp, 500, "internal", "cannot install the new key pair",
		                         NULL);
		goto unlock;
	}
	sync_dir(olddir);
	sync_dir(kdir);
	prev = api_cert_json(old_cert, now);
	if (apply(r, &d) != AS4_OK) {
		/* back to what was running: the new pair out, the previous one back in place */
		remove_pair_dir(current);
		if (had_current && rename(moved, current) != 0) {
			as4_log(AS4_LOG_ERR, "certificates: cannot restore %s", current);
		}
		sync_dir(kdir);
		refused(resp, &d);
		goto unlock;
	}
	json_t *o = api_cert_json(x, now);
	char detail[6000];
	snprintf(detail, sizeof(detail),
	         "new key pair %s (sha256 %s); previous %s kept for decryption%s%s",
	         o != NULL ? json_string_value(json_object_get(o, "subject")) : "?", fp,
	         prev != NULL ? json_string_value(json_object_get(prev, "subject")) : "?",
	         had_current ? " in " : "", had_current ? moved : "");
	bool audited = api_audit(r, req, "keystore.rollover", fp, detail);
	struct as4_log_ctx lc = {NULL, NULL, NULL, NULL};
	as4_log_ctx(AS4_LOG_NOTICE, &lc, "key rollover: %s", detail);
	api_json(resp, 200,
	         json_pack("{s:o, s:o, s:I, s:s}", "current", o != NULL ? o : json_null(),
	                   "previous", prev != NULL ? prev : json_null(), "decryption_keys",
	                   (json_int_t)decrypt_keys(r->ap), "audit",
	                   audited ? "recorded" : "failed"));
	prev = NULL;
unlock:
	pthread_mutex_unlock(&r->ap->admin_lock);
	as4_runtime_put(cur);
out:
	json_decref(prev);
	free(chain_pem);
	as4_keystore_free(ks);
	json_decref(j);
}

static bool pair_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128 || s[0] == '.') {
		return false;
	}
	for (const char *p = s; *p != '\0'; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '_' || *p == '.')) {
			return false;
		}
	}
	return true;
}

static void retire(struct api_req *r, struct as4_http_req *req, const char *name,
                   struct as4_http_resp *resp)
{
	struct as4_runtime *cur = NULL; /* the snapshot a change starts from */
	if (!pair_name_ok(name)) {
		as4_http_resp_json_error(resp, 404, "not_found", "no such managed key pair", NULL);
		return;
	}
	pthread_mutex_lock(&r->ap->admin_lock);
	/* the snapshot of the moment, not the request's: another change may have come first */
	cur = as4_ap_runtime(r->ap);
	char olddir[4200], dir[4400], hidden[4400];
	snprintf(olddir, sizeof(olddir), "%s/keystore/old", cur->cfg->node.managed_dir);
	snprintf(dir, sizeof(dir), "%s/%s", olddir, name);
	snprintf(hidden, sizeof(hidden), "%s/.retired-%s", olddir, name);
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		char msg[300];
		snprintf(msg, sizeof(msg),
		         "no managed old key pair '%s' (see the keystore entries with source "
		         "managed in GET /certificates)",
		         name);
		as4_http_resp_json_error(resp, 404, "not_found", msg, NULL);
		goto unlock;
	}
	if (rename(dir, hidden) != 0) {
		as4_http_resp_json_error(resp, 500, "internal", "cannot retire the key pair", NULL);
		goto unlock;
	}
	sync_dir(olddir);
	struct as4_diag d;
	as4_diag_init(&d);
	if (apply(r, &d) != AS4_OK) {
		if (rename(hidden, dir) != 0) {
			as4_log(AS4_LOG_ERR, "certificates: cannot restore %s", dir);
		}
		refused(resp, &d);
		goto unlock;
	}
	remove_pair_dir(hidden);
	sync_dir(olddir);
	bool audited = api_audit(r, req, "keystore.retire", name,
	                         "old key pair no longer accepted for decryption; key deleted");
	api_json(resp, 200,
	         json_pack("{s:s, s:I, s:s}", "retired", name, "decryption_keys",
	                   (json_int_t)decrypt_keys(r->ap), "audit",
	                   audited ? "recorded" : "failed"));
unlock:
	pthread_mutex_unlock(&r->ap->admin_lock);
	as4_runtime_put(cur);
}

void api_certs(struct api_req *r, struct as4_http_req *req, const char *method, const char *sub,
               const struct as4_blob *body, struct as4_http_resp *resp)
{
	if (sub[0] == '\0') {
		struct api_cert *v = NULL;
		size_t n = 0;
		if (api_certs_collect(r->rt, &v, &n) != AS4_OK) {
			as4_http_resp_json_error(resp, 500, "internal", "out of memory", NULL);
			return;
		}
		json_t *o = inventory(v, n, as4_time_now_ms());
		if (o != NULL) {
			json_object_set_new(o, "managed_dir",
			                    json_string(r->rt->cfg->node.managed_dir
			                                        ? r->rt->cfg->node.managed_dir
			                                        : ""));
		}
		api_json(resp, 200, o);
		api_certs_free(v, n);
	} else if (strcmp(sub, "/trust") == 0) {
		add_trust(r, req, body, resp);
	} else if (strcmp(sub, "/keystore") == 0) {
		rollover(r, req, body, resp);
	} else if (as4_str_starts(sub, "/trust/")) {
		char store[16];
		const char *p = sub + strlen("/trust/");
		const char *slash = strchr(p, '/');
		if (slash == NULL || (size_t)(slash - p) >= sizeof(store)) {
			as4_http_resp_json_error(resp, 404, "not_found",
			                         "use DELETE /certificates/trust/<store>/<sha256>",
			                         NULL);
			return;
		}
		memcpy(store, p, (size_t)(slash - p));
		store[slash - p] = '\0';
		remove_trust(r, req, store, slash + 1, resp);
	} else if (as4_str_starts(sub, "/keystore/old/")) {
		retire(r, req, sub + strlen("/keystore/old/"), resp);
	} else {
		as4_http_resp_json_error(resp, 404, "not_found", "no such endpoint", NULL);
	}
	(void)method;
}
