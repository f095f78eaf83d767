/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The discovery client: network settings, the lookup pipeline (DNS -> SMP -> signature ->
 * identifiers -> endpoint -> AP certificate), offline inspection and the step trace.
 * Every failure is classified once, where it is detected, into the AS4_E_SMP_* codes; this
 * file only decides what a well-classified failure means for the lookup as a whole.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/xmlsec.h>

#include "as4/smp.h"
#include "as4/str.h"
#include "as4/time.h"
#include "smp_int.h"

/* Defaults (documented in include/as4/smp.h). */
#define DEF_DNS_TIMEOUT_MS 3000
#define DEF_DNS_TRIES      2
#define DEF_CONNECT_MS     5000
#define DEF_TIMEOUT_MS     20000
#define DEF_CACHE_MAX_MS   (15ULL * 60 * 1000)
#define DEF_CACHE_ENTRIES  1000
#define MAX_NAPTR_HOPS     5
#define DNS_ANSWER_MAX     65536
#define CERT_TEXT_MAX      256

/* ---- Global set-up ----------------------------------------------------------------------- */

as4_err as4_smp_global_init(bool with_xmlsec)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		return AS4_E_INTERNAL;
	}
	if (!with_xmlsec) {
		return AS4_OK;
	}
	if (xmlSecInit() < 0) {
		curl_global_cleanup();
		return AS4_E_CRYPTO;
	}
	if (xmlSecCryptoAppInit(NULL) < 0) {
		xmlSecShutdown();
		curl_global_cleanup();
		return AS4_E_CRYPTO;
	}
	if (xmlSecCryptoInit() < 0) {
		xmlSecCryptoAppShutdown();
		xmlSecShutdown();
		curl_global_cleanup();
		return AS4_E_CRYPTO;
	}
	/* xmlsec's default callback prints to stderr; a library does not (STYLE rule 15) */
	xmlSecErrorsDefaultCallbackEnableOutput(0);
	return AS4_OK;
}

void as4_smp_global_cleanup(bool with_xmlsec)
{
	if (with_xmlsec) {
		xmlSecCryptoShutdown();
		xmlSecCryptoAppShutdown();
		xmlSecShutdown();
	}
	curl_global_cleanup();
}

/* ---- Trace ----------------------------------------------------------------------------- */

void as4_smp_trace_init(struct as4_smp_trace *t)
{
	memset(t, 0, sizeof(*t));
}

void as4_smp_trace_cleanup(struct as4_smp_trace *t)
{
	if (t == NULL) {
		return;
	}
	for (size_t i = 0; i < t->n; i++) {
		free(t->entries[i].text);
	}
	free(t->entries);
	memset(t, 0, sizeof(*t));
}

void as4_smp_trace_add(struct as4_smp_trace *t, enum as4_smp_step step, enum as4_smp_verdict v,
                       const char *fmt, ...)
{
	if (t == NULL) {
		return;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap == 0 ? 32 : t->cap * 2;
		struct as4_smp_trace_entry *e = realloc(t->entries, cap * sizeof(*e));
		if (e == NULL) {
			t->truncated = true;
			return;
		}
		t->entries = e;
		t->cap = cap;
	}
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0) {
		text[0] = '\0';
	}
	char *copy = as4_str_dup(text);
	if (copy == NULL) {
		t->truncated = true;
		return;
	}
	t->entries[t->n].step = step;
	t->entries[t->n].verdict = v;
	t->entries[t->n].text = copy;
	t->n++;
}

const char *as4_smp_step_name(enum as4_smp_step step)
{
	static const char *const names[AS4_SMP_STEP__COUNT] = {
	        [AS4_SMP_STEP_INPUT] = "input",
	        [AS4_SMP_STEP_CACHE] = "cache",
	        [AS4_SMP_STEP_DNS_NAME] = "dns-name",
	        [AS4_SMP_STEP_DNS] = "dns",
	        [AS4_SMP_STEP_NAPTR] = "naptr",
	        [AS4_SMP_STEP_SMP_URL] = "smp-url",
	        [AS4_SMP_STEP_HTTP] = "http",
	        [AS4_SMP_STEP_DOCUMENT] = "document",
	        [AS4_SMP_STEP_SIGNATURE] = "signature",
	        [AS4_SMP_STEP_CHAIN] = "chain",
	        [AS4_SMP_STEP_IDENTIFIERS] = "identifiers",
	        [AS4_SMP_STEP_REDIRECT] = "redirect",
	        [AS4_SMP_STEP_ENDPOINT] = "endpoint",
	        [AS4_SMP_STEP_ENDPOINT_CERT] = "endpoint-cert",
	        [AS4_SMP_STEP_RESULT] = "result",
	};
	if ((unsigned)step >= AS4_SMP_STEP__COUNT) {
		return "?";
	}
	return names[step];
}

const char *as4_smp_verdict_name(enum as4_smp_verdict v)
{
	switch (v) {
	case AS4_SMP_INFO:
		return "info";
	case AS4_SMP_PASS:
		return "pass";
	case AS4_SMP_FAIL:
		return "fail";
	case AS4_SMP_SKIP:
		return "skip";
	}
	return "?";
}

/* ---- Client ------------------------------------------------------------------------------ */

struct as4_smp_client {
	struct as4_smp_network net; /* strings point to the copies below */
	char *name;
	char *zone;
	char *service;
	char *smp_url;
	char *dns_server;
	char *https_ca_file;
	char *transport_profile;
	struct as4_smp_trust *smp_ca;
	struct as4_smp_trust *ap_ca;
	struct as4_limits lim;
	struct as4_smp_cache *cache;
};

static bool copy_str(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL) {
		return true;
	}
	*out = as4_str_dup(s);
	return *out != NULL;
}

void as4_smp_client_free(struct as4_smp_client *c)
{
	if (c == NULL) {
		return;
	}
	free(c->name);
	free(c->zone);
	free(c->service);
	free(c->smp_url);
	free(c->dns_server);
	free(c->https_ca_file);
	free(c->transport_profile);
	as4_smp_trust_free(c->smp_ca);
	as4_smp_trust_free(c->ap_ca);
	as4_smp_cache_free(c->cache);
	free(c);
}

as4_err as4_smp_client_new(const struct as4_smp_network *net, const struct as4_limits *lim,
                           struct as4_smp_client **out, struct as4_diag *d)
{
	*out = NULL;
	as4_err err = AS4_OK;
	struct as4_smp_client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	c->net = *net;
	const char *tp = net->transport_profile;
	if (tp == NULL) {
		tp = net->dialect == AS4_SMP_PROTO_PEPPOL ? AS4_SMP_TP_PEPPOL_AS4
		                                          : AS4_SMP_TP_BDXR_AS4;
	}
	if (!copy_str(net->name != NULL ? net->name : "smp", &c->name) ||
	    !copy_str(net->zone, &c->zone) ||
	    !copy_str(net->naptr_service != NULL ? net->naptr_service : AS4_SMP_NAPTR_SERVICE,
	              &c->service) ||
	    !copy_str(net->smp_url, &c->smp_url) || !copy_str(net->dns_server, &c->dns_server) ||
	    !copy_str(net->https_ca_file, &c->https_ca_file) ||
	    !copy_str(tp, &c->transport_profile)) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	c->net.name = c->name;
	c->net.zone = c->zone;
	c->net.naptr_service = c->service;
	c->net.smp_url = c->smp_url;
	c->net.dns_server = c->dns_server;
	c->net.https_ca_file = c->https_ca_file;
	c->net.transport_profile = c->transport_profile;
	c->net.smp_ca_files = NULL;
	c->net.n_smp_ca_files = 0;
	c->net.ap_ca_files = NULL;
	c->net.n_ap_ca_files = 0;
	c->net.dns_timeout_ms = net->dns_timeout_ms ? net->dns_timeout_ms : DEF_DNS_TIMEOUT_MS;
	c->net.dns_tries = net->dns_tries ? net->dns_tries : DEF_DNS_TRIES;
	c->net.connect_timeout_ms =
	        net->connect_timeout_ms ? net->connect_timeout_ms : DEF_CONNECT_MS;
	c->net.timeout_ms = net->timeout_ms ? net->timeout_ms : DEF_TIMEOUT_MS;
	c->net.cache_max_ms = net->cache_max_ms ? net->cache_max_ms : DEF_CACHE_MAX_MS;
	c->net.cache_max_entries =
	        net->cache_max_entries ? net->cache_max_entries : DEF_CACHE_ENTRIES;
	if (c->net.dns == NULL) {
		c->net.dns = as4_smp_dns_resolv;
	}
	if (c->net.http == NULL) {
		c->net.http = as4_smp_http_curl;
	}
	if (lim != NULL) {
		c->lim = *lim;
	} else {
		as4_limits_default(&c->lim);
	}
	if ((unsigned)net->dialect > AS4_SMP_PROTO_OASIS2 ||
	    (unsigned)net->dns_mode > AS4_SMP_DNS_NONE) {
		err = as4_diag_set(d, AS4_E_CONFIG, "network %s: unknown dialect or DNS mode",
		                   c->name);
		goto out;
	}
	if (net->dns_mode == AS4_SMP_DNS_NONE) {
		struct as4_diag tmp;
		as4_diag_init(&tmp);
		if (net->smp_url == NULL || as4_smp_url_check(net->smp_url, net->allow_http, false,
		                                              "SMP URL", &tmp) != AS4_OK) {
			err = as4_diag_set(d, AS4_E_CONFIG, "network %s: static SMP URL: %s",
			                   c->name,
			                   net->smp_url == NULL ? "missing" : as4_diag_text(&tmp));
			goto out;
		}
	} else {
		/* a probe participant proves the zone can form DNS names at all */
		struct as4_smp_id probe;
		memset(&probe, 0, sizeof(probe));
		memcpy(probe.scheme, "x", 2);
		memcpy(probe.value, "x", 2);
		char name[AS4_SMP_DNS_NAME_MAX + 1];
		struct as4_diag tmp;
		as4_diag_init(&tmp);
		if (as4_smp_dns_name(&c->net, &probe, name, sizeof(name), &tmp) != AS4_OK) {
			err = as4_diag_set(d, AS4_E_CONFIG, "network %s: %s", c->name,
			                   as4_diag_text(&tmp));
			goto out;
		}
	}
	if (net->dns == NULL && net->dns_server != NULL &&
	    !as4_smp_dns_server_ok(net->dns_server)) {
		err = as4_diag_set(d, AS4_E_CONFIG,
		                   "network %s: DNS server '%.80s' is not an IPv4 address with an "
		                   "optional :port",
		                   c->name, net->dns_server);
		goto out;
	}
	if (net->dns_mode == AS4_SMP_DNS_PEPPOL_LEGACY && !net->allow_http) {
		err = as4_diag_set(
		        d, AS4_E_CONFIG,
		        "network %s: the legacy Peppol DNS mode gives http SMP URLs; it needs "
		        "allow_http",
		        c->name);
		goto out;
	}
	if (net->n_smp_ca_files == 0 || net->n_ap_ca_files == 0) {
		err = as4_diag_set(d, AS4_E_CONFIG,
		                   "network %s: both the SMP CA and the AP CA files are required "
		                   "(signatures and endpoint certificates are always checked)",
		                   c->name);
		goto out;
	}
	err = as4_smp_trust_load(net->smp_ca_files, net->n_smp_ca_files, &c->smp_ca, d);
	if (err == AS4_OK) {
		err = as4_smp_trust_load(net->ap_ca_files, net->n_ap_ca_files, &c->ap_ca, d);
	}
	if (err != AS4_OK) {
		goto out;
	}
	c->cache = as4_smp_cache_new(c->net.cache_max_entries);
	if (c->cache == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	*out = c;
	c = NULL;
out:
	as4_smp_client_free(c);
	return err;
}

/* ---- Lookup helpers ------------------------------------------------------------------------ */

static int64_t now_of(const struct as4_smp_client *c)
{
	return c->net.at_ms != 0 ? c->net.at_ms : as4_time_now_ms();
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Set d from tmp (first failure wins) and add a FAIL line to the trace. */
static as4_err fail_step(struct as4_smp_trace *trace, enum as4_smp_step step, struct as4_diag *d,
                         as4_err err, const char *fmt, ...) AS4_PRINTF(5, 6);

static as4_err fail_step(struct as4_smp_trace *trace, enum as4_smp_step step, struct as4_diag *d,
                         as4_err err, const char *fmt, ...)
{
	char text[AS4_DIAG_TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0) {
		text[0] = '\0';
	}
	as4_smp_trace_add(trace, step, AS4_SMP_FAIL, "%s", text);
	return as4_diag_set(d, err, "%s", text);
}

/* One DNS query through the configured back end. */
static as4_err dns_query(const struct as4_smp_client *c, const char *name, uint16_t qtype,
                         uint8_t *buf, size_t *len, enum as4_smp_dns_status *st, struct as4_diag *d)
{
	struct as4_smp_dns_request req = {name, qtype, c->net.dns_server, c->net.dns_timeout_ms,
	                                  c->net.dns_tries};
	return c->net.dns(c->net.dns_ctx, &req, buf, DNS_ANSWER_MAX, len, st, d);
}

/* The classification of a query that gave no answer (SMP-NOTES §1.3.5). */
static as4_err dns_no_answer(const struct as4_smp_client *c, const char *name, const char *type,
                             enum as4_smp_dns_status st, struct as4_smp_trace *trace,
                             struct as4_diag *d)
{
	const char *server = c->net.dns_server != NULL ? c->net.dns_server : "the system resolver";
	switch (st) {
	case AS4_SMP_DNS_NXDOMAIN:
		return fail_step(trace, AS4_SMP_STEP_DNS, d, AS4_E_SMP_NOT_REGISTERED,
		                 "participant not registered in %s: %s does not exist (NXDOMAIN)",
		                 c->name, name);
	case AS4_SMP_DNS_NODATA:
		return fail_step(trace, AS4_SMP_STEP_DNS, d, AS4_E_SMP_NOT_REGISTERED,
		                 "participant not registered for SMP lookup in %s: %s has no %s "
		                 "record (NODATA)",
		                 c->name, name, type);
	case AS4_SMP_DNS_TEMPFAIL:
	case AS4_SMP_DNS_ANSWER:
	default:
		return fail_step(
		        trace, AS4_SMP_STEP_DNS, d, AS4_E_SMP_UNAVAILABLE,
		        "DNS lookup of %s %s failed temporarily at %s (SERVFAIL, REFUSED or "
		        "timeout); retry later",
		        name, type, server);
	}
}

/* A parsed DNS answer, or the classified failure. ans is caller-allocated. */
static as4_err dns_answer(const struct as4_smp_client *c, const char *name, uint16_t qtype,
                          const char *type, struct as4_smp_dns_answer *ans,
                          struct as4_smp_trace *trace, struct as4_diag *d)
{
	uint8_t *buf = malloc(DNS_ANSWER_MAX);
	if (buf == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	size_t len = 0;
	enum as4_smp_dns_status st = AS4_SMP_DNS_TEMPFAIL;
	as4_err err = dns_query(c, name, qtype, buf, &len, &st, d);
	if (err == AS4_OK && st != AS4_SMP_DNS_ANSWER) {
		err = dns_no_answer(c, name, type, st, trace, d);
	} else if (err == AS4_OK) {
		struct as4_diag pd;
		as4_diag_init(&pd);
		err = as4_smp_dns_parse(buf, len, name, qtype, ans, &pd);
		if (err != AS4_OK) {
			err = fail_step(trace, AS4_SMP_STEP_DNS, d, err, "%s", as4_diag_text(&pd));
		}
	}
	free(buf);
	return err;
}

static uint32_t min_ttl(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/*
 * U-NAPTR resolution (RFC 4848, SMP-NOTES §1.3): records with the service, sorted by order and
 * preference; the first terminal "U" record whose regexp matches gives the SMP URL;
 * non-terminal records (empty flags) lead to another query, at most MAX_NAPTR_HOPS times.
 */
static as4_err locate_naptr(const struct as4_smp_client *c, const char *aus, char *base, size_t cap,
                            uint32_t *ttl, struct as4_smp_trace *trace, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	struct as4_smp_dns_answer *ans = malloc(sizeof(*ans));
	if (ans == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	char qname[4 * AS4_SMP_DNS_NAME_MAX + 8];
	if (as4_str_copy(qname, sizeof(qname), aus) != AS4_OK) {
		err = as4_diag_set(d, AS4_E_INVAL, "DNS name too long");
		goto out;
	}
	*ttl = UINT32_MAX;
	for (int hop = 0;; hop++) {
		if (hop == MAX_NAPTR_HOPS) {
			err = fail_step(trace, AS4_SMP_STEP_NAPTR, d, AS4_E_SMP_BAD_RESPONSE,
			                "more than %d non-terminal NAPTR hops from %s",
			                MAX_NAPTR_HOPS, aus);
			goto out;
		}
		err = dns_answer(c, qname, 35, "NAPTR", ans, trace, d);
		if (err != AS4_OK) {
			goto out;
		}
		*ttl = min_ttl(*ttl, ans->chain_ttl);
		as4_smp_trace_add(trace, AS4_SMP_STEP_DNS, AS4_SMP_INFO,
		                  "NAPTR %s: %zu record(s) at %s%s%s%s", qname, ans->n_naptr,
		                  ans->owner, ans->n_chain > 0 ? " via " : "", ans->chain,
		                  ans->naptr_dropped ? " (more records ignored)" : "");
		size_t idx[AS4_SMP_NAPTR_MAX];
		size_t n = as4_smp_naptr_sorted(ans, idx);
		const char *next = NULL;
		uint32_t next_ttl = 0;
		struct as4_diag first;
		as4_diag_init(&first);
		size_t usable = 0;
		for (size_t i = 0; i < n; i++) {
			const struct as4_smp_naptr *r = &ans->naptr[idx[i]];
			char desc[1400];
			if (as4_str_fmt(desc, sizeof(desc), "%u %u \"%s\" \"%s\" \"%s\" %s ttl=%u",
			                r->order, r->preference, r->flags, r->service, r->regexp,
			                r->replacement, r->ttl) != AS4_OK) {
				desc[0] = '\0';
			}
			/* eDelivery writes "meta:smp", Peppol "Meta:SMP": the same service */
			if (!as4_str_ieq(r->service, c->service)) {
				as4_smp_trace_add(trace, AS4_SMP_STEP_NAPTR, AS4_SMP_SKIP,
				                  "%s: service is not %s", desc, c->service);
				continue;
			}
			if (r->flags[0] == '\0') {
				uint8_t wire[256];
				size_t wl;
				/* a replacement with escaped bytes is no host name worth querying
				 */
				bool plain = strchr(r->replacement, '\\') == NULL &&
				             as4_smp_dns_wire(r->replacement, wire, &wl) == AS4_OK;
				if (next == NULL && plain) {
					next = r->replacement;
					next_ttl = r->ttl;
				}
				as4_smp_trace_add(trace, AS4_SMP_STEP_NAPTR,
				                  plain ? AS4_SMP_INFO : AS4_SMP_SKIP,
				                  "%s: non-terminal%s", desc,
				                  plain ? "" : " without a usable replacement");
				continue;
			}
			if (!as4_str_ieq(r->flags, "U")) {
				as4_smp_trace_add(trace, AS4_SMP_STEP_NAPTR, AS4_SMP_SKIP,
				                  "%s: flags are not \"U\"", desc);
				continue;
			}
			usable++;
			struct as4_diag rd;
			as4_diag_init(&rd);
			as4_err rerr = as4_smp_naptr_apply(r->regexp, aus, base, cap, &rd);
			if (rerr == AS4_OK) {
				rerr = as4_smp_url_check(base, c->net.allow_http, false,
				                         "SMP URL from the NAPTR record", &rd);
			}
			if (rerr == AS4_E_NOTFOUND) {
				as4_smp_trace_add(trace, AS4_SMP_STEP_NAPTR, AS4_SMP_SKIP, "%s: %s",
				                  desc, as4_diag_text(&rd));
				continue;
			}
			if (rerr != AS4_OK) {
				as4_smp_trace_add(trace, AS4_SMP_STEP_NAPTR, AS4_SMP_FAIL, "%s: %s",
				                  desc, as4_diag_text(&rd));
				if (as4_diag_set(&first, rerr, "%s", as4_diag_text(&rd)) !=
				    AS4_OK) {
					/* only the first failure is kept */
				}
				continue;
			}
			*ttl = min_ttl(*ttl, r->ttl);
			as4_smp_trace_add(trace, AS4_SMP_STEP_NAPTR, AS4_SMP_PASS, "%s: gives %s",
			                  desc, base);
			goto out;
		}
		if (first.err != AS4_OK) {
			err = as4_diag_set(d, first.err, "%s", as4_diag_text(&first));
			goto out;
		}
		if (next == NULL || usable > 0) {
			err = fail_step(
			        trace, AS4_SMP_STEP_NAPTR, d, AS4_E_SMP_NOT_REGISTERED,
			        "participant not registered for SMP lookup in %s: %s has no "
			        "usable U-NAPTR record with service %s",
			        c->name, qname, c->service);
			goto out;
		}
		*ttl = min_ttl(*ttl, next_ttl);
		char tmp[sizeof(qname)];
		if (as4_str_copy(tmp, sizeof(tmp), next) != AS4_OK ||
		    as4_str_copy(qname, sizeof(qname), tmp) != AS4_OK) {
			err = as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE, "NAPTR replacement too long");
			goto out;
		}
	}
out:
	free(ans);
	return err;
}

/* Legacy Peppol: the host itself is the SMP (http, port 80). */
static as4_err locate_legacy(const struct as4_smp_client *c, const char *name, char *base,
                             size_t cap, char *resolve, size_t rcap, uint32_t *ttl,
                             struct as4_smp_trace *trace, struct as4_diag *d)
{
	struct as4_smp_dns_answer *ans = malloc(sizeof(*ans));
	if (ans == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	as4_err err = dns_answer(c, name, 1, "A", ans, trace, d);
	if (err == AS4_OK && ans->n_a == 0) {
		err = fail_step(trace, AS4_SMP_STEP_DNS, d, AS4_E_SMP_NOT_REGISTERED,
		                "participant not registered in %s: %s has no address record",
		                c->name, name);
	}
	if (err == AS4_OK) {
		const uint8_t *a = ans->a[0];
		*ttl = min_ttl(ans->chain_ttl, ans->a_ttl);
		as4_smp_trace_add(trace, AS4_SMP_STEP_DNS, AS4_SMP_PASS, "A %s: %u.%u.%u.%u%s%s",
		                  name, a[0], a[1], a[2], a[3], ans->n_chain > 0 ? " via " : "",
		                  ans->chain);
		if (as4_str_fmt(base, cap, "http://%s/", name) != AS4_OK ||
		    (c->net.dns_server != NULL &&
		     as4_str_fmt(resolve, rcap, "%s:80:%u.%u.%u.%u", name, a[0], a[1], a[2],
		                 a[3]) != AS4_OK)) {
			err = as4_diag_set(d, AS4_E_INTERNAL, "SMP URL too long");
		}
	}
	free(ans);
	return err;
}

/* A fetched, verified and typed SMP document. */
struct fetched {
	struct as4_smp_doc *doc;
	X509 *signer;
	char *url;
};

static void fetched_cleanup(struct fetched *f)
{
	as4_smp_doc_free(f->doc);
	X509_free(f->signer);
	free(f->url);
	memset(f, 0, sizeof(*f));
}

/* GET url, check the HTTP outcome, parse, verify the signature and chain, extract. */
static as4_err fetch_metadata(const struct as4_smp_client *c, const char *url, const char *resolve,
                              int64_t now, struct fetched *f, struct as4_smp_trace *trace,
                              struct as4_diag *d)
{
	memset(f, 0, sizeof(*f));
	struct as4_smp_http_request req = {url,
	                                   c->net.https_ca_file,
	                                   resolve,
	                                   c->net.connect_timeout_ms,
	                                   c->net.timeout_ms,
	                                   c->lim.max_smp_response};
	struct as4_smp_http_response resp;
	memset(&resp, 0, sizeof(resp));
	as4_buf_init(&resp.body, c->lim.max_smp_response);
	xmlDoc *dom = NULL;
	struct as4_diag hd;
	as4_diag_init(&hd);
	f->url = as4_str_dup(url);
	as4_err err = f->url == NULL ? as4_diag_set(d, AS4_E_NOMEM, "out of memory")
	                             : c->net.http(c->net.http_ctx, &req, &resp, &hd);
	if (err != AS4_OK) {
		/* the back end's text names the URL already */
		err = fail_step(trace, AS4_SMP_STEP_HTTP, d, err, "%s",
		                hd.err != AS4_OK ? as4_diag_text(&hd) : as4_strerror(err));
		goto out;
	}
	long st = resp.status;
	if (st == 404) {
		err = fail_step(
		        trace, AS4_SMP_STEP_HTTP, d, AS4_E_SMP_NO_SERVICE,
		        "HTTP 404: the SMP has no metadata for this participant and document type "
		        "(GET %s)",
		        url);
		goto out;
	}
	if (st >= 300 && st < 400) {
		err = fail_step(
		        trace, AS4_SMP_STEP_HTTP, d, AS4_E_SMP_BAD_RESPONSE,
		        "HTTP %ld redirect to '%.200s' not followed (SMPs must answer directly; "
		        "SMP-level redirects use a signed Redirect element) (GET %s)",
		        st, resp.location, url);
		goto out;
	}
	if (st >= 500 || st == 408 || st == 429) {
		err = fail_step(trace, AS4_SMP_STEP_HTTP, d, AS4_E_SMP_UNAVAILABLE,
		                "HTTP %ld from the SMP; retry later (GET %s)", st, url);
		goto out;
	}
	if (st != 200) {
		err = fail_step(trace, AS4_SMP_STEP_HTTP, d, AS4_E_SMP_BAD_RESPONSE,
		                "unexpected HTTP %ld from the SMP (GET %s)", st, url);
		goto out;
	}
	as4_smp_trace_add(trace, AS4_SMP_STEP_HTTP, AS4_SMP_PASS, "GET %s: HTTP 200, %zu bytes, %s",
	                  url, resp.body.len,
	                  resp.content_type[0] ? resp.content_type : "no content type");
	enum as4_smp_proto dialect;
	enum as4_smp_doc_kind kind;
	struct as4_diag pd;
	as4_diag_init(&pd);
	err = as4_smp_parse(resp.body.data != NULL ? resp.body.data : (const uint8_t *)"",
	                    resp.body.len, &c->lim, &dom, &dialect, &kind, &pd);
	if (err == AS4_OK && (dialect != c->net.dialect || kind != AS4_SMP_DOC_METADATA)) {
		err = as4_diag_set(
		        &pd, AS4_E_SMP_BAD_RESPONSE,
		        "the SMP answered a %s %s; network %s expects %s service metadata",
		        as4_smp_dialect_name(dialect),
		        kind == AS4_SMP_DOC_GROUP ? "ServiceGroup" : "ServiceMetadata", c->name,
		        as4_smp_dialect_name(c->net.dialect));
	}
	if (err != AS4_OK) {
		err = fail_step(trace, AS4_SMP_STEP_DOCUMENT, d, err, "%s", as4_diag_text(&pd));
		goto out;
	}
	as4_smp_trace_add(trace, AS4_SMP_STEP_DOCUMENT, AS4_SMP_INFO, "%s service metadata",
	                  as4_smp_dialect_name(dialect));
	struct as4_smp_verify_opts vo = {
	        c->smp_ca, now, c->net.allow_sha1,
	        !(dialect == AS4_SMP_PROTO_OASIS2 && c->net.allow_unsigned)};
	err = as4_smp_verify(dom, dialect, &vo, &f->signer, trace, d);
	if (err != AS4_OK) {
		goto out;
	}
	err = as4_smp_extract(dom, dialect, kind, &f->doc, &pd);
	if (err != AS4_OK) {
		err = fail_step(trace, AS4_SMP_STEP_DOCUMENT, d, err, "%s", as4_diag_text(&pd));
	}
out:
	xmlFreeDoc(dom);
	as4_buf_cleanup(&resp.body);
	if (err != AS4_OK) {
		fetched_cleanup(f);
	}
	return err;
}

/* Identifier from a document (already length-checked by the parser). */
static void id_from(const struct as4_smp_proc *p, struct as4_smp_id *out)
{
	memset(out, 0, sizeof(*out));
	if (as4_str_copy(out->scheme, sizeof(out->scheme), p->scheme) != AS4_OK ||
	    as4_str_copy(out->value, sizeof(out->value), p->value) != AS4_OK) {
		/* cannot happen: smp_parse.c refuses longer identifiers */
		out->scheme[0] = '\0';
	}
}

/* SMP-NOTES §2.5.6: the returned identifiers must be the requested ones. */
static as4_err check_ids(const struct as4_smp_client *c, const struct as4_smp_doc *doc,
                         const struct as4_smp_id *pid, const struct as4_smp_id *did,
                         struct as4_smp_trace *trace, struct as4_diag *d)
{
	struct as4_smp_id rp;
	struct as4_smp_id rd;
	id_from(&doc->participant, &rp);
	id_from(&doc->document, &rd);
	char got[AS4_SMP_ID_TEXT_MAX + 1];
	char want[AS4_SMP_ID_TEXT_MAX + 1];
	if (!as4_smp_id_equal(c->net.dialect, AS4_SMP_ID_PARTICIPANT, &rp, pid)) {
		if (as4_smp_id_format(&rp, got, sizeof(got)) != AS4_OK ||
		    as4_smp_id_format(pid, want, sizeof(want)) != AS4_OK) {
			got[0] = want[0] = '\0';
		}
		return fail_step(trace, AS4_SMP_STEP_IDENTIFIERS, d, AS4_E_SMP_BAD_RESPONSE,
		                 "the SMP returned metadata for participant '%.200s', not for the "
		                 "requested '%.200s'",
		                 got, want);
	}
	if (!as4_smp_id_equal(c->net.dialect, AS4_SMP_ID_DOCUMENT, &rd, did)) {
		if (as4_smp_id_format(&rd, got, sizeof(got)) != AS4_OK ||
		    as4_smp_id_format(did, want, sizeof(want)) != AS4_OK) {
			got[0] = want[0] = '\0';
		}
		return fail_step(
		        trace, AS4_SMP_STEP_IDENTIFIERS, d, AS4_E_SMP_BAD_RESPONSE,
		        "the SMP returned metadata for document type '%.200s', not for the "
		        "requested '%.200s' (%s compares %s)",
		        got, want, as4_smp_dialect_name(c->net.dialect),
		        c->net.dialect == AS4_SMP_PROTO_OASIS1 ? "case-insensitively"
		                                               : "case-sensitively");
	}
	as4_smp_trace_add(trace, AS4_SMP_STEP_IDENTIFIERS, AS4_SMP_PASS,
	                  "participant %s::%s and document type match the request", rp.scheme,
	                  rp.value);
	return AS4_OK;
}

static bool proc_matches(const struct as4_smp_client *c, const struct as4_smp_procmeta *pm,
                         const struct as4_smp_id *proc, size_t *which)
{
	*which = pm->n_procs;
	if (proc == NULL) {
		*which = 0;
		return true;
	}
	for (size_t k = 0; k < pm->n_procs; k++) {
		struct as4_smp_id p;
		id_from(&pm->procs[k], &p);
		if (as4_smp_id_equal(c->net.dialect, AS4_SMP_ID_PROCESS, &p, proc)) {
			*which = k;
			return true;
		}
	}
	/* SMP 2.0: a ProcessMetadata without Process applies to every process */
	return pm->n_procs == 0;
}

static const struct as4_smp_der *cert_at(const struct as4_smp_ep *ep, int64_t now)
{
	for (size_t i = 0; i < ep->n_certs; i++) {
		if (ep->certs[i].activation_ms <= now && now < ep->certs[i].expiration_ms) {
			return &ep->certs[i];
		}
	}
	return NULL;
}

static void time_text(int64_t ms, char out[AS4_TIME_TEXT_MAX])
{
	if (ms == INT64_MIN || ms == INT64_MAX) {
		if (as4_str_copy(out, AS4_TIME_TEXT_MAX, "-") != AS4_OK) {
			out[0] = '\0';
		}
		return;
	}
	as4_time_format(ms, out);
}

static char *cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL;
	if (b != NULL && PEM_write_bio_X509(b, x) == 1) {
		char *p = NULL;
		long n = BIO_get_mem_data(b, &p);
		out = n > 0 ? as4_str_ndup(p, (size_t)n) : NULL;
	}
	BIO_free(b);
	ERR_clear_error();
	return out;
}

/* What endpoint selection found. */
struct selection {
	const struct as4_smp_procmeta *pm;
	const struct as4_smp_ep *ep;
	size_t proc_index;
	X509 *cert;
	const char *redirect; /* SMP 2.0: the matching ProcessMetadata redirects */
	const struct as4_smp_procmeta *redirect_pm;
};

/*
 * Endpoint selection (SMP-NOTES §2.3): process (exact), transport profile (exact), activation
 * window at now; the first fully usable endpoint wins. An endpoint that matches but is broken
 * (bad address, certificate not from the AP CA) is reported, and the next one is tried.
 */
static as4_err select_endpoint(const struct as4_smp_client *c, const struct as4_smp_doc *doc,
                               const struct as4_smp_id *proc, int64_t now, struct selection *sel,
                               struct as4_smp_trace *trace, struct as4_diag *d)
{
	memset(sel, 0, sizeof(*sel));
	size_t proc_hits = 0;
	size_t tp_hits = 0;
	size_t window_hits = 0;
	struct as4_diag first;
	as4_diag_init(&first);
	char offered[512] = "";
	for (size_t i = 0; i < doc->n_pms; i++) {
		const struct as4_smp_procmeta *pm = &doc->pms[i];
		size_t which;
		if (!proc_matches(c, pm, proc, &which)) {
			for (size_t k = 0; k < pm->n_procs; k++) {
				if (as4_str_cat(offered, sizeof(offered), offered[0] ? ", " : "") !=
				            AS4_OK ||
				    as4_str_cat(offered, sizeof(offered), pm->procs[k].value) !=
				            AS4_OK) {
					/* the list of offers is informative; a cut one is fine */
				}
			}
			continue;
		}
		proc_hits++;
		if (pm->redirect_url != NULL) {
			sel->redirect = pm->redirect_url;
			sel->redirect_pm = pm;
			return AS4_OK;
		}
		const char *pname = which < pm->n_procs ? pm->procs[which].value : "(any process)";
		for (size_t k = 0; k < pm->n_eps; k++) {
			const struct as4_smp_ep *ep = &pm->eps[k];
			char act[AS4_TIME_TEXT_MAX];
			char exp[AS4_TIME_TEXT_MAX];
			time_text(ep->activation_ms, act);
			time_text(ep->expiration_ms, exp);
			if (strcmp(ep->transport_profile, c->net.transport_profile) != 0) {
				as4_smp_trace_add(trace, AS4_SMP_STEP_ENDPOINT, AS4_SMP_SKIP,
				                  "process %s: %s %s (transport profile not %s)",
				                  pname, ep->transport_profile, ep->address,
				                  c->net.transport_profile);
				continue;
			}
			tp_hits++;
			if (now < ep->activation_ms || now >= ep->expiration_ms) {
				as4_smp_trace_add(trace, AS4_SMP_STEP_ENDPOINT, AS4_SMP_SKIP,
				                  "process %s: %s %s (%s: active %s .. %s)", pname,
				                  ep->transport_profile, ep->address,
				                  now < ep->activation_ms ? "not yet active"
				                                          : "expired",
				                  act, exp);
				continue;
			}
			window_hits++;
			if (sel->ep != NULL) {
				as4_smp_trace_add(
				        trace, AS4_SMP_STEP_ENDPOINT, AS4_SMP_SKIP,
				        "process %s: %s %s (another endpoint was chosen first)",
				        pname, ep->transport_profile, ep->address);
				continue;
			}
			struct as4_diag ed;
			as4_diag_init(&ed);
			const struct as4_smp_der *der = cert_at(ep, now);
			X509 *x = der != NULL ? as4_smp_cert_decode(der->der, der->len) : NULL;
			as4_err eerr = as4_smp_url_check(ep->address, c->net.allow_http, true,
			                                 "endpoint address", &ed);
			if (eerr == AS4_OK && x == NULL) {
				eerr = as4_diag_set(&ed, AS4_E_SMP_BAD_RESPONSE,
				                    "endpoint %s has no %scertificate", ep->address,
				                    ep->n_certs > 0 ? "currently valid DER " : "");
			}
			if (eerr != AS4_OK) {
				as4_smp_trace_add(trace, AS4_SMP_STEP_ENDPOINT, AS4_SMP_FAIL, "%s",
				                  as4_diag_text(&ed));
				if (as4_diag_set(&first, eerr, "%s", as4_diag_text(&ed)) !=
				    AS4_OK) {
					/* only the first failure is kept */
				}
				X509_free(x);
				continue;
			}
			char subject[CERT_TEXT_MAX];
			as4_smp_cert_subject(x, subject, sizeof(subject));
			as4_smp_trace_add(trace, AS4_SMP_STEP_ENDPOINT, AS4_SMP_PASS,
			                  "process %s: %s %s (active %s .. %s)", pname,
			                  ep->transport_profile, ep->address, act, exp);
			eerr = as4_smp_chain_check(c->ap_ca, x, now, "endpoint certificate", &ed);
			if (eerr != AS4_OK) {
				as4_smp_trace_add(trace, AS4_SMP_STEP_ENDPOINT_CERT, AS4_SMP_FAIL,
				                  "%s", as4_diag_text(&ed));
				if (as4_diag_set(&first, eerr, "%s", as4_diag_text(&ed)) !=
				    AS4_OK) {
					/* only the first failure is kept */
				}
				X509_free(x);
				continue;
			}
			as4_smp_trace_add(trace, AS4_SMP_STEP_ENDPOINT_CERT, AS4_SMP_PASS,
			                  "%s chains to a configured AP CA", subject);
			sel->pm = pm;
			sel->ep = ep;
			sel->proc_index = which;
			sel->cert = x;
		}
	}
	if (sel->ep != NULL) {
		return AS4_OK;
	}
	if (first.err != AS4_OK) {
		return as4_diag_set(d, first.err, "%s", as4_diag_text(&first));
	}
	char pt[AS4_SMP_ID_TEXT_MAX + 1] = "(any)";
	if (proc != NULL && as4_smp_id_format(proc, pt, sizeof(pt)) != AS4_OK) {
		pt[0] = '\0';
	}
	if (proc_hits == 0) {
		return fail_step(trace, AS4_SMP_STEP_ENDPOINT, d, AS4_E_SMP_NO_SERVICE,
		                 "participant is not registered for process '%.200s' with this "
		                 "document type (processes offered: %s)",
		                 pt, offered[0] ? offered : "none");
	}
	if (tp_hits == 0) {
		return fail_step(trace, AS4_SMP_STEP_ENDPOINT, d, AS4_E_SMP_NO_SERVICE,
		                 "no endpoint with transport profile %s for process '%.200s'",
		                 c->net.transport_profile, pt);
	}
	(void)window_hits;
	return fail_step(trace, AS4_SMP_STEP_ENDPOINT, d, AS4_E_SMP_NO_SERVICE,
	                 "every %s endpoint for process '%.200s' is expired or not yet active",
	                 c->net.transport_profile, pt);
}

/* The cache key of a request: canonical identifiers under the network's case rules. */
static as4_err cache_key(const struct as4_smp_client *c, const struct as4_smp_id *pid,
                         const struct as4_smp_id *did, const struct as4_smp_id *proc, char *out,
                         size_t cap)
{
	char a[AS4_SMP_ID_TEXT_MAX + 1];
	char b[AS4_SMP_ID_TEXT_MAX + 1];
	char p[AS4_SMP_ID_TEXT_MAX + 1] = "";
	as4_err err = as4_smp_id_key(c->net.dialect, AS4_SMP_ID_PARTICIPANT, pid, a, sizeof(a));
	if (err == AS4_OK) {
		err = as4_smp_id_key(c->net.dialect, AS4_SMP_ID_DOCUMENT, did, b, sizeof(b));
	}
	if (err == AS4_OK && proc != NULL) {
		err = as4_smp_id_key(c->net.dialect, AS4_SMP_ID_PROCESS, proc, p, sizeof(p));
	}
	if (err == AS4_OK) {
		err = as4_str_fmt(out, cap, "%s\n%s\n%s", a, b, p);
	}
	return err;
}

/* Parse the three request identifiers; proc_out is NULL when no process was given. */
static as4_err parse_request(const char *participant, const char *document, const char *process,
                             struct as4_smp_id *pid, struct as4_smp_id *did,
                             struct as4_smp_id *proc, bool *has_proc, struct as4_diag *d)
{
	if (participant == NULL || document == NULL) {
		return as4_diag_set(d, AS4_E_INVAL, "participant and document type are required");
	}
	as4_err err = as4_smp_id_parse(participant, AS4_SMP_ID_PARTICIPANT, pid, d);
	if (err == AS4_OK) {
		err = as4_smp_id_parse(document, AS4_SMP_ID_DOCUMENT, did, d);
	}
	*has_proc = process != NULL && process[0] != '\0';
	if (err == AS4_OK && *has_proc) {
		err = as4_smp_id_parse(process, AS4_SMP_ID_PROCESS, proc, d);
	}
	return err;
}

/* ---- Lookup ------------------------------------------------------------------------------ */

/* The part of a lookup that runs on a cache miss. */
static as4_err lookup_uncached(const struct as4_smp_client *c, const struct as4_smp_id *pid,
                               const struct as4_smp_id *did, const struct as4_smp_id *proc,
                               int64_t now, struct as4_smp_result **out,
                               struct as4_smp_trace *trace, struct as4_diag *d)
{
	char base[2100];
	char resolve[512];
	char name[AS4_SMP_DNS_NAME_MAX + 1];
	uint32_t ttl = UINT32_MAX;
	struct fetched f;
	struct fetched f2;
	memset(&f, 0, sizeof(f));
	memset(&f2, 0, sizeof(f2));
	struct selection sel;
	memset(&sel, 0, sizeof(sel));
	char *url = NULL;
	struct as4_smp_result *r = NULL;
	const char *resolve_pin = NULL;
	as4_err err = AS4_OK;
	resolve[0] = '\0';

	/* 1. where is the SMP? */
	if (c->net.dns_mode == AS4_SMP_DNS_NONE) {
		if (as4_str_copy(base, sizeof(base), c->smp_url) != AS4_OK) {
			err = as4_diag_set(d, AS4_E_CONFIG, "SMP URL too long");
			goto out;
		}
		as4_smp_trace_add(trace, AS4_SMP_STEP_SMP_URL, AS4_SMP_INFO,
		                  "%s (static, no DNS lookup)", base);
	} else {
		err = as4_smp_dns_name(&c->net, pid, name, sizeof(name), d);
		if (err != AS4_OK) {
			err = fail_step(trace, AS4_SMP_STEP_DNS_NAME, d, err, "%s",
			                as4_diag_text(d));
			goto out;
		}
		as4_smp_trace_add(trace, AS4_SMP_STEP_DNS_NAME, AS4_SMP_INFO, "%s", name);
		if (c->net.dns_mode == AS4_SMP_DNS_PEPPOL_LEGACY) {
			err = locate_legacy(c, name, base, sizeof(base), resolve, sizeof(resolve),
			                    &ttl, trace, d);
			resolve_pin = resolve[0] != '\0' ? resolve : NULL;
		} else {
			err = locate_naptr(c, name, base, sizeof(base), &ttl, trace, d);
		}
		if (err != AS4_OK) {
			goto out;
		}
		as4_smp_trace_add(trace, AS4_SMP_STEP_SMP_URL, AS4_SMP_INFO, "%s (DNS TTL %us)",
		                  base, ttl);
	}

	/* 2. fetch, verify, read; follow at most one SMP-level redirect */
	err = as4_smp_url(c->net.dialect, base, pid, did, &url, d);
	if (err == AS4_OK) {
		err = fetch_metadata(c, url, resolve_pin, now, &f, trace, d);
	}
	if (err != AS4_OK) {
		goto out;
	}
	struct fetched *cur = &f;
	if (f.doc->redirect_href != NULL) {
		/* Peppol SMP 1.x / OASIS 1.0 §3.4: follow the first redirect, never a second */
		struct as4_diag ud;
		as4_diag_init(&ud);
		as4_smp_trace_add(trace, AS4_SMP_STEP_REDIRECT, AS4_SMP_INFO,
		                  "to %s, signer must be '%s'", f.doc->redirect_href,
		                  f.doc->redirect_uid);
		err = as4_smp_url_check(f.doc->redirect_href, c->net.allow_http, true,
		                        "redirect URL", &ud);
		if (err != AS4_OK) {
			err = fail_step(trace, AS4_SMP_STEP_REDIRECT, d, err, "%s",
			                as4_diag_text(&ud));
			goto out;
		}
		err = fetch_metadata(c, f.doc->redirect_href, NULL, now, &f2, trace, d);
		if (err != AS4_OK) {
			goto out;
		}
		if (f2.doc->redirect_href != NULL) {
			err = fail_step(
			        trace, AS4_SMP_STEP_REDIRECT, d, AS4_E_SMP_BAD_RESPONSE,
			        "the redirect target %s redirects again; only one redirect is "
			        "followed",
			        f.doc->redirect_href);
			goto out;
		}
		char subject[CERT_TEXT_MAX];
		as4_smp_cert_subject(f2.signer, subject, sizeof(subject));
		if (!as4_smp_dn_matches(f2.signer, f.doc->uid_avas, f.doc->n_uid_avas)) {
			err = fail_step(trace, AS4_SMP_STEP_REDIRECT, d, AS4_E_SMP_TRUST,
			                "the redirect target is signed by '%s', not by the "
			                "CertificateUID '%s' the redirecting SMP named",
			                subject, f.doc->redirect_uid);
			goto out;
		}
		as4_smp_trace_add(trace, AS4_SMP_STEP_REDIRECT, AS4_SMP_PASS,
		                  "target signer '%s' matches CertificateUID", subject);
		cur = &f2;
	}
	err = check_ids(c, cur->doc, pid, did, trace, d);
	if (err != AS4_OK) {
		goto out;
	}

	/* 3. endpoint */
	err = select_endpoint(c, cur->doc, proc, now, &sel, trace, d);
	if (err == AS4_OK && sel.redirect != NULL) {
		/* SMP 2.0 §: a ProcessMetadata may redirect to another SMP (PublisherURI) */
		as4_smp_trace_add(trace, AS4_SMP_STEP_REDIRECT, AS4_SMP_INFO, "to SMP %s",
		                  sel.redirect);
		if (cur == &f2) {
			err = fail_step(trace, AS4_SMP_STEP_REDIRECT, d, AS4_E_SMP_BAD_RESPONSE,
			                "a second redirect (to %s) is not followed", sel.redirect);
			goto out;
		}
		struct as4_diag ud;
		as4_diag_init(&ud);
		err = as4_smp_url_check(sel.redirect, c->net.allow_http, false, "redirect SMP URL",
		                        &ud);
		char *url2 = NULL;
		if (err == AS4_OK) {
			err = as4_smp_url(c->net.dialect, sel.redirect, pid, did, &url2, &ud);
		}
		if (err != AS4_OK) {
			err = fail_step(trace, AS4_SMP_STEP_REDIRECT, d, AS4_E_SMP_BAD_RESPONSE,
			                "%s", as4_diag_text(&ud));
			goto out;
		}
		err = fetch_metadata(c, url2, NULL, now, &f2, trace, d);
		free(url2);
		if (err != AS4_OK) {
			goto out;
		}
		bool signer_ok = false;
		for (size_t i = 0; f2.signer != NULL && i < sel.redirect_pm->n_redirect_certs;
		     i++) {
			X509 *x = as4_smp_cert_decode(sel.redirect_pm->redirect_certs[i].der,
			                              sel.redirect_pm->redirect_certs[i].len);
			signer_ok = signer_ok || (x != NULL && X509_cmp(x, f2.signer) == 0);
			X509_free(x);
		}
		if (!signer_ok) {
			err = fail_step(trace, AS4_SMP_STEP_REDIRECT, d, AS4_E_SMP_TRUST,
			                "the redirect target is not signed with a certificate the "
			                "redirecting SMP listed");
			goto out;
		}
		cur = &f2;
		err = check_ids(c, cur->doc, pid, did, trace, d);
		if (err == AS4_OK) {
			err = select_endpoint(c, cur->doc, proc, now, &sel, trace, d);
		}
		if (err == AS4_OK && sel.redirect != NULL) {
			err = fail_step(trace, AS4_SMP_STEP_REDIRECT, d, AS4_E_SMP_BAD_RESPONSE,
			                "the redirect target redirects again; only one redirect is "
			                "followed");
		}
	}
	if (err != AS4_OK) {
		goto out;
	}

	/* 4. result and how long it may be reused */
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	r->participant = *pid;
	r->document = *did;
	if (sel.proc_index < sel.pm->n_procs) {
		id_from(&sel.pm->procs[sel.proc_index], &r->process);
	}
	r->endpoint_url = as4_str_dup(sel.ep->address);
	r->transport_profile = as4_str_dup(sel.ep->transport_profile);
	r->cert = sel.cert;
	sel.cert = NULL;
	r->cert_pem = cert_pem(r->cert);
	char subject[CERT_TEXT_MAX];
	as4_smp_cert_subject(r->cert, subject, sizeof(subject));
	r->cert_subject = as4_str_dup(subject);
	r->cert_not_after_ms = as4_smp_cert_not_after(r->cert);
	r->service_activation_ms = sel.ep->activation_ms == INT64_MIN ? 0 : sel.ep->activation_ms;
	r->service_expiration_ms = sel.ep->expiration_ms == INT64_MAX ? 0 : sel.ep->expiration_ms;
	r->metadata_url = as4_str_dup(cur->url);
	r->technical_contact = sel.ep->contact != NULL ? as4_str_dup(sel.ep->contact) : NULL;
	r->require_business_signature = sel.ep->require_business_signature;
	if (r->endpoint_url == NULL || r->transport_profile == NULL || r->cert_pem == NULL ||
	    r->cert_subject == NULL || r->metadata_url == NULL ||
	    (sel.ep->contact != NULL && r->technical_contact == NULL)) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	/* SMP-NOTES §2.6: never past the DNS TTL, the cap, a certificate or the service end */
	uint64_t cap = c->net.cache_max_ms;
	int64_t until = now + (cap > (uint64_t)(INT64_MAX / 4) ? INT64_MAX / 4 : (int64_t)cap);
	if (ttl != UINT32_MAX) {
		until = min64(until, now + (int64_t)ttl * 1000);
	}
	until = min64(until, r->cert_not_after_ms);
	if (f.signer != NULL) {
		until = min64(until, as4_smp_cert_not_after(f.signer));
	}
	if (f2.signer != NULL) {
		until = min64(until, as4_smp_cert_not_after(f2.signer));
	}
	until = min64(until, sel.ep->expiration_ms);
	r->valid_until_ms = until;
	*out = r;
	r = NULL;
out:
	X509_free(sel.cert);
	as4_smp_result_free(r);
	fetched_cleanup(&f);
	fetched_cleanup(&f2);
	free(url);
	return err;
}

as4_err as4_smp_lookup(struct as4_smp_client *c, const char *participant, const char *document,
                       const char *process, struct as4_smp_result **out,
                       struct as4_smp_trace *trace, struct as4_diag *d)
{
	*out = NULL;
	struct as4_smp_id *ids = calloc(3, sizeof(*ids));
	if (ids == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	struct as4_smp_id *pid = &ids[0];
	struct as4_smp_id *did = &ids[1];
	struct as4_smp_id *proc = &ids[2];
	bool has_proc = false;
	char key[3 * (AS4_SMP_ID_TEXT_MAX + 1)];
	int64_t now = now_of(c);
	as4_err err = parse_request(participant, document, process, pid, did, proc, &has_proc, d);
	if (err != AS4_OK) {
		as4_smp_trace_add(trace, AS4_SMP_STEP_INPUT, AS4_SMP_FAIL, "%s", as4_diag_text(d));
		goto out;
	}
	as4_smp_trace_add(trace, AS4_SMP_STEP_INPUT, AS4_SMP_INFO,
	                  "participant %s::%s, document type %s::%s, process %s%s%s (network %s, "
	                  "%s, transport profile %s)",
	                  pid->scheme, pid->value, did->scheme, did->value,
	                  has_proc ? proc->scheme : "(any)", has_proc ? "::" : "",
	                  has_proc ? proc->value : "", c->name,
	                  as4_smp_dialect_name(c->net.dialect), c->net.transport_profile);
	err = cache_key(c, pid, did, has_proc ? proc : NULL, key, sizeof(key));
	if (err != AS4_OK) {
		err = as4_diag_set(d, AS4_E_INVAL, "identifiers too long for a cache key");
		goto out;
	}
	if (!c->net.cache_disabled) {
		err = as4_smp_cache_get(c->cache, key, now, out);
		if (err == AS4_OK) {
			char until[AS4_TIME_TEXT_MAX];
			as4_time_format((*out)->valid_until_ms, until);
			as4_smp_trace_add(trace, AS4_SMP_STEP_CACHE, AS4_SMP_PASS,
			                  "hit: %s, valid until %s", (*out)->endpoint_url, until);
			goto out;
		}
		if (err == AS4_E_NOMEM) {
			err = as4_diag_set(d, err, "out of memory");
			goto out;
		}
		as4_smp_trace_add(trace, AS4_SMP_STEP_CACHE, AS4_SMP_INFO, "miss");
	}
	err = lookup_uncached(c, pid, did, has_proc ? proc : NULL, now, out, trace, d);
	if (err != AS4_OK) {
		goto out;
	}
	char until[AS4_TIME_TEXT_MAX];
	as4_time_format((*out)->valid_until_ms, until);
	as4_smp_trace_add(trace, AS4_SMP_STEP_RESULT, AS4_SMP_PASS,
	                  "%s %s, certificate %s, valid until %s", (*out)->transport_profile,
	                  (*out)->endpoint_url, (*out)->cert_subject, until);
	if (!c->net.cache_disabled && (*out)->valid_until_ms > now &&
	    as4_smp_cache_put(c->cache, key, *out, now) != AS4_OK) {
		/* caching is an optimisation: a result that could not be stored is still good */
	}
out:
	if (err != AS4_OK) {
		as4_smp_trace_add(trace, AS4_SMP_STEP_RESULT, AS4_SMP_FAIL, "%s: %s",
		                  as4_strerror(err), as4_diag_text(d));
	}
	free(ids);
	return err;
}

bool as4_smp_drop(struct as4_smp_client *c, const char *participant, const char *document,
                  const char *process)
{
	struct as4_smp_id *ids = calloc(3, sizeof(*ids));
	char key[3 * (AS4_SMP_ID_TEXT_MAX + 1)];
	bool has_proc = false;
	bool dropped = false;
	if (ids != NULL &&
	    parse_request(participant, document, process, &ids[0], &ids[1], &ids[2], &has_proc,
	                  NULL) == AS4_OK &&
	    cache_key(c, &ids[0], &ids[1], has_proc ? &ids[2] : NULL, key, sizeof(key)) == AS4_OK) {
		dropped = as4_smp_cache_drop(c->cache, key);
	}
	free(ids);
	return dropped;
}

size_t as4_smp_drop_endpoint(struct as4_smp_client *c, const char *endpoint_url)
{
	return endpoint_url != NULL ? as4_smp_cache_drop_url(c->cache, endpoint_url) : 0;
}

size_t as4_smp_cache_size(struct as4_smp_client *c)
{
	return as4_smp_cache_count(c->cache);
}

/* ---- Offline inspection -------------------------------------------------------------------- */

static const char *kind_text(enum as4_smp_doc_kind kind, enum as4_smp_proto dialect)
{
	if (kind == AS4_SMP_DOC_GROUP) {
		return "ServiceGroup";
	}
	return dialect == AS4_SMP_PROTO_OASIS2 ? "ServiceMetadata" : "SignedServiceMetadata";
}

/* Endpoints of an inspected document, each with its validity at `at` and its certificate. */
static as4_err inspect_endpoints(const struct as4_smp_doc *doc, int64_t at,
                                 const struct as4_smp_trust *ap, struct as4_smp_trace *trace,
                                 struct as4_diag *d)
{
	as4_err err = AS4_OK;
	for (size_t i = 0; i < doc->n_pms; i++) {
		const struct as4_smp_procmeta *pm = &doc->pms[i];
		char procs[600] = "";
		for (size_t k = 0; k < pm->n_procs; k++) {
			if (as4_str_cat(procs, sizeof(procs), k > 0 ? ", " : "") != AS4_OK ||
			    as4_str_cat(procs, sizeof(procs), pm->procs[k].scheme) != AS4_OK ||
			    as4_str_cat(procs, sizeof(procs), "::") != AS4_OK ||
			    as4_str_cat(procs, sizeof(procs), pm->procs[k].value) != AS4_OK) {
				/* informative only */
			}
		}
		if (pm->n_procs == 0 &&
		    as4_str_copy(procs, sizeof(procs), "(every process)") != AS4_OK) {
			procs[0] = '\0';
		}
		if (pm->redirect_url != NULL) {
			as4_smp_trace_add(trace, AS4_SMP_STEP_REDIRECT, AS4_SMP_INFO,
			                  "process %s: redirect to SMP %s (%zu certificate(s))",
			                  procs, pm->redirect_url, pm->n_redirect_certs);
			continue;
		}
		for (size_t k = 0; k < pm->n_eps; k++) {
			const struct as4_smp_ep *ep = &pm->eps[k];
			char act[AS4_TIME_TEXT_MAX];
			char exp[AS4_TIME_TEXT_MAX];
			time_text(ep->activation_ms, act);
			time_text(ep->expiration_ms, exp);
			bool active = ep->activation_ms <= at && at < ep->expiration_ms;
			const struct as4_smp_der *der = cert_at(ep, at);
			if (der == NULL && ep->n_certs > 0) {
				der = &ep->certs[0];
			}
			X509 *x = der != NULL ? as4_smp_cert_decode(der->der, der->len) : NULL;
			char subject[CERT_TEXT_MAX] = "no certificate";
			char until[AS4_TIME_TEXT_MAX] = "-";
			if (x != NULL) {
				as4_smp_cert_subject(x, subject, sizeof(subject));
				time_text(as4_smp_cert_not_after(x), until);
			} else if (der != NULL) {
				err = as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
				                   "endpoint %s: the certificate is not DER",
				                   ep->address);
				if (as4_str_copy(subject, sizeof(subject),
				                 "undecodable certificate") != AS4_OK) {
					subject[0] = '\0';
				}
			}
			as4_smp_trace_add(trace, AS4_SMP_STEP_ENDPOINT,
			                  active ? AS4_SMP_PASS : AS4_SMP_SKIP,
			                  "process %s: %s %s, active %s .. %s (%s), certificate %s "
			                  "(until %s)",
			                  procs, ep->transport_profile, ep->address, act, exp,
			                  active ? "active" : "not active at the inspection time",
			                  subject, until);
			if (x != NULL && ap != NULL) {
				struct as4_diag cd;
				as4_diag_init(&cd);
				if (as4_smp_chain_check(ap, x, at, "endpoint certificate", &cd) !=
				    AS4_OK) {
					as4_smp_trace_add(trace, AS4_SMP_STEP_ENDPOINT_CERT,
					                  AS4_SMP_FAIL, "%s", as4_diag_text(&cd));
					err = as4_diag_set(d, cd.err, "%s", as4_diag_text(&cd));
				} else {
					as4_smp_trace_add(trace, AS4_SMP_STEP_ENDPOINT_CERT,
					                  AS4_SMP_PASS, "%s chains to the AP CA",
					                  subject);
				}
			}
			X509_free(x);
		}
	}
	return err;
}

as4_err as4_smp_inspect(const uint8_t *buf, size_t len, const struct as4_smp_inspect_params *p,
                        struct as4_smp_trace *trace, struct as4_diag *d)
{
	struct as4_smp_trust *trust = NULL;
	struct as4_smp_trust *ap = NULL;
	xmlDoc *dom = NULL;
	struct as4_smp_doc *doc = NULL;
	X509 *signer = NULL;
	enum as4_smp_proto dialect;
	enum as4_smp_doc_kind kind;
	int64_t at = p->at_ms != 0 ? p->at_ms : as4_time_now_ms();
	as4_err err = AS4_OK;
	if (!p->signature_only && p->n_trust_files == 0) {
		return as4_diag_set(
		        d, AS4_E_INVAL,
		        "give the SMP CA certificate(s) to trust, or ask for the signature "
		        "only");
	}
	if (!p->signature_only) {
		err = as4_smp_trust_load(p->trust_files, p->n_trust_files, &trust, d);
	}
	if (err == AS4_OK && p->n_ap_ca_files > 0) {
		err = as4_smp_trust_load(p->ap_ca_files, p->n_ap_ca_files, &ap, d);
	}
	if (err != AS4_OK) {
		goto out;
	}
	struct as4_diag pd;
	as4_diag_init(&pd);
	err = as4_smp_parse(buf, len, p->limits, &dom, &dialect, &kind, &pd);
	if (err != AS4_OK) {
		err = fail_step(trace, AS4_SMP_STEP_DOCUMENT, d, err, "%s", as4_diag_text(&pd));
		goto out;
	}
	as4_smp_trace_add(trace, AS4_SMP_STEP_DOCUMENT, AS4_SMP_INFO, "%s %s",
	                  as4_smp_dialect_name(dialect), kind_text(kind, dialect));
	/* Peppol and OASIS 1.0 service groups are unsigned by definition; others must be signed */
	bool required = kind == AS4_SMP_DOC_METADATA;
	struct as4_smp_verify_opts vo = {trust, at, p->allow_sha1, required};
	err = as4_smp_verify(dom, dialect, &vo, &signer, trace, d);
	if (err != AS4_OK) {
		goto out;
	}
	err = as4_smp_extract(dom, dialect, kind, &doc, &pd);
	if (err != AS4_OK) {
		err = fail_step(trace, AS4_SMP_STEP_DOCUMENT, d, err, "%s", as4_diag_text(&pd));
		goto out;
	}
	if (kind == AS4_SMP_DOC_GROUP) {
		as4_smp_trace_add(trace, AS4_SMP_STEP_IDENTIFIERS, AS4_SMP_INFO,
		                  "participant %s::%s, %zu service reference(s)",
		                  doc->participant.scheme, doc->participant.value, doc->n_refs);
		for (size_t i = 0; i < doc->n_refs; i++) {
			as4_smp_trace_add(trace, AS4_SMP_STEP_DOCUMENT, AS4_SMP_INFO,
			                  "reference %s", doc->refs[i]);
		}
		goto out;
	}
	if (doc->redirect_href != NULL) {
		bool self = signer != NULL &&
		            as4_smp_dn_matches(signer, doc->uid_avas, doc->n_uid_avas);
		as4_smp_trace_add(trace, AS4_SMP_STEP_REDIRECT, AS4_SMP_INFO,
		                  "to %s, target must be signed by '%s'%s", doc->redirect_href,
		                  doc->redirect_uid,
		                  self ? " (the same signer as this document)" : "");
		goto out;
	}
	as4_smp_trace_add(trace, AS4_SMP_STEP_IDENTIFIERS, AS4_SMP_INFO,
	                  "participant %s::%s, document type %s::%s", doc->participant.scheme,
	                  doc->participant.value, doc->document.scheme, doc->document.value);
	err = inspect_endpoints(doc, at, ap, trace, d);
out:
	as4_smp_doc_free(doc);
	X509_free(signer);
	xmlFreeDoc(dom);
	as4_smp_trust_free(trust);
	as4_smp_trust_free(ap);
	return err;
}
