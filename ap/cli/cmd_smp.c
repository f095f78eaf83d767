/* SPDX-License-Identifier: Apache-2.0 */
/*
 * as4ctl smp lookup|inspect: dynamic discovery for administrators. Every step of the lookup
 * (DNS name, NAPTR records, URL, HTTP status, signature and chain verdicts, endpoints) is
 * printed, so that a failed lookup says where it failed and whose side must act.
 *
 *   smp lookup PARTICIPANT DOCTYPE [PROCESS] [--network NAME] [--config FILE] [--json]
 *              [--zone ZONE] [--profile peppol|bdxl|peppol-legacy|static] [--smp-url URL]
 *              [--dialect peppol|oasis1|oasis2] [--smp-ca FILE]... [--ap-ca FILE]...
 *              [--dns ADDR:PORT] [--transport-profile ID] [--insecure-http]
 *              [--https-ca FILE] [--allow-sha1] [--naptr-service S] [--timeout DURATION]
 *              [--at TIME]
 *   smp inspect FILE --trust CERT... [--at TIME] [--signature-only] [--allow-sha1]
 *               [--ap-ca FILE]... [--json]
 *
 * Network settings come from --network: a network of the configuration's `discovery`
 * section when --config is given, else a built-in preset (peppol-prod, peppol-test); the
 * other options override or replace them. Exit status: 0 valid, 1 refused, 2 usage error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "as4/blob.h"
#include "as4/config.h"
#include "as4/conf.h"
#include "as4/limits.h"
#include "as4/smp.h"
#include "as4/str.h"
#include "as4/time.h"
#include "as4/wss.h"
#include "cli.h"

/* as4ctl links the security layer weakly (see as4ctl.c); without it xmlsec is set up here. */
#pragma weak as4_wss_global_init

/* Most --smp-ca / --ap-ca / --trust files. */
#define MAX_FILES 16
/* Largest saved SMP response `inspect` reads. */
#define MAX_INSPECT_FILE (16u * 1024 * 1024)

static const char usage_text[] =
        "usage: as4ctl smp lookup PARTICIPANT DOCTYPE [PROCESS] [--network NAME] [--config FILE]\n"
        "                  [--json] [--zone ZONE] [--profile peppol|bdxl|peppol-legacy|static]\n"
        "                  [--smp-url URL] [--dialect peppol|oasis1|oasis2] [--smp-ca FILE]...\n"
        "                  [--ap-ca FILE]... [--dns ADDR:PORT] [--transport-profile ID]\n"
        "                  [--insecure-http] [--https-ca FILE] [--allow-sha1]\n"
        "                  [--naptr-service SERVICE] [--timeout DURATION] [--at TIME]\n"
        "       as4ctl smp inspect FILE --trust CERT... [--at TIME] [--signature-only]\n"
        "                  [--allow-sha1] [--ap-ca FILE]... [--json]\n"
        "Identifiers are scheme::value, e.g. iso6523-actorid-upis::0088:5798000000001.\n"
        "Exit status: 0 valid, 1 refused, 2 usage error.\n";

struct opts {
	const char *pos[4];
	size_t n_pos;
	bool json;
	const char *network;
	const char *config;
	const char *zone;
	const char *profile;
	const char *smp_url;
	const char *dialect;
	const char *smp_ca[MAX_FILES];
	size_t n_smp_ca;
	const char *ap_ca[MAX_FILES];
	size_t n_ap_ca;
	const char *trust[MAX_FILES];
	size_t n_trust;
	const char *dns;
	const char *transport_profile;
	bool insecure_http;
	const char *https_ca;
	bool allow_sha1;
	const char *naptr_service;
	const char *timeout;
	const char *at;
	bool signature_only;
};

AS4_PRINTF(1, 2) static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("as4ctl smp: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	fputs(usage_text, stderr);
	return AS4CTL_USAGE;
}

static bool add_file(const char **list, size_t *n, const char *path)
{
	if (*n == MAX_FILES) {
		return false;
	}
	list[(*n)++] = path;
	return true;
}

/* Options of both subcommands; argv[0] is the subcommand. Returns AS4CTL_OK or AS4CTL_USAGE. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct {
		const char *name;
		size_t off;
	} strings[] = {
	        {"--network", offsetof(struct opts, network)},
	        {"--config", offsetof(struct opts, config)},
	        {"--zone", offsetof(struct opts, zone)},
	        {"--profile", offsetof(struct opts, profile)},
	        {"--smp-url", offsetof(struct opts, smp_url)},
	        {"--dialect", offsetof(struct opts, dialect)},
	        {"--dns", offsetof(struct opts, dns)},
	        {"--transport-profile", offsetof(struct opts, transport_profile)},
	        {"--https-ca", offsetof(struct opts, https_ca)},
	        {"--naptr-service", offsetof(struct opts, naptr_service)},
	        {"--timeout", offsetof(struct opts, timeout)},
	        {"--at", offsetof(struct opts, at)},
	};
	bool trust_list = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] == '-') {
			trust_list = strcmp(a, "--trust") == 0 && strcmp(argv[0], "inspect") == 0;
		}
		if (strcmp(a, "--json") == 0) {
			o->json = true;
			continue;
		}
		if (strcmp(a, "--insecure-http") == 0) {
			o->insecure_http = true;
			continue;
		}
		if (strcmp(a, "--allow-sha1") == 0) {
			o->allow_sha1 = true;
			continue;
		}
		if (strcmp(a, "--signature-only") == 0) {
			o->signature_only = true;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage_text, stdout);
			return -1;
		}
		if (a[0] == '-' && a[1] == '-') {
			if (i + 1 >= argc) {
				return usage_error("option %s needs a value", a);
			}
			const char *v = argv[++i];
			bool known = false;
			for (size_t k = 0; k < AS4_ARRAY_LEN(strings) && !known; k++) {
				if (strcmp(a, strings[k].name) == 0) {
					*(const char **)(void *)((char *)o + strings[k].off) = v;
					known = true;
				}
			}
			if (!known && strcmp(a, "--smp-ca") == 0) {
				known = add_file(o->smp_ca, &o->n_smp_ca, v);
			} else if (!known && strcmp(a, "--ap-ca") == 0) {
				known = add_file(o->ap_ca, &o->n_ap_ca, v);
			} else if (!known && strcmp(a, "--trust") == 0) {
				known = add_file(o->trust, &o->n_trust, v);
			}
			if (!known) {
				return usage_error("unknown option %s (or given too often)", a);
			}
			continue;
		}
		/* `inspect FILE --trust A.pem B.pem`: bare words after --trust are more CAs */
		if (trust_list && o->n_pos > 0) {
			if (!add_file(o->trust, &o->n_trust, a)) {
				return usage_error("too many --trust files (at most %d)",
				                   MAX_FILES);
			}
			continue;
		}
		if (o->n_pos == AS4_ARRAY_LEN(o->pos)) {
			return usage_error("unexpected argument '%s'", a);
		}
		o->pos[o->n_pos++] = a;
	}
	return AS4CTL_OK;
}

static bool parse_time(const char *s, int64_t *out)
{
	if (s == NULL || strcmp(s, "now") == 0) {
		*out = 0;
		return true;
	}
	return as4_time_parse(s, out) == AS4_OK;
}

/* ---- Output ------------------------------------------------------------------------------ */

static json_t *steps_json(const struct as4_smp_trace *t)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < t->n; i++) {
		json_t *e = json_pack(
		        "{s:s, s:s, s:s}", "step", as4_smp_step_name(t->entries[i].step), "verdict",
		        as4_smp_verdict_name(t->entries[i].verdict), "text", t->entries[i].text);
		if (e == NULL || json_array_append_new(a, e) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static void print_steps(const struct as4_smp_trace *t)
{
	for (size_t i = 0; i < t->n; i++) {
		printf("  [%s] %s: %s\n", as4_smp_verdict_name(t->entries[i].verdict),
		       as4_smp_step_name(t->entries[i].step), t->entries[i].text);
	}
	if (t->truncated) {
		puts("  (some steps were not recorded: out of memory)");
	}
}

static json_t *time_json(int64_t ms)
{
	if (ms == 0) {
		return json_null();
	}
	char t[AS4_TIME_TEXT_MAX];
	as4_time_format(ms, t);
	return json_string(t);
}

static json_t *result_json(const struct as4_smp_result *r)
{
	char proc[AS4_SMP_ID_TEXT_MAX + 1] = "";
	if (r->process.scheme[0] != '\0' &&
	    as4_smp_id_format(&r->process, proc, sizeof(proc)) != AS4_OK) {
		proc[0] = '\0';
	}
	return json_pack("{s:s, s:s, s:s?, s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:s?, s:b, s:b}",
	                 "endpoint_url", r->endpoint_url, "transport_profile", r->transport_profile,
	                 "process", proc[0] != '\0' ? proc : NULL, "certificate_subject",
	                 r->cert_subject, "certificate_pem", r->cert_pem, "certificate_not_after",
	                 time_json(r->cert_not_after_ms), "service_activation",
	                 time_json(r->service_activation_ms), "service_expiration",
	                 time_json(r->service_expiration_ms), "valid_until",
	                 time_json(r->valid_until_ms), "metadata_url", r->metadata_url,
	                 "technical_contact", r->technical_contact, "require_business_signature",
	                 r->require_business_signature, "from_cache", r->from_cache);
}

/* Print the outcome of a lookup or an inspection; returns the exit status. */
static int report(bool json, const char *command, as4_err err, const struct as4_diag *d,
                  const struct as4_smp_trace *t, const struct as4_smp_result *r)
{
	int rc = err == AS4_OK ? AS4CTL_OK : AS4CTL_REFUSED;
	if (err == AS4_E_INVAL || err == AS4_E_GLN || err == AS4_E_CONFIG) {
		rc = AS4CTL_USAGE;
	}
	if (json) {
		json_t *o = json_pack("{s:s, s:b, s:o}", "command", command, "ok", err == AS4_OK,
		                      "steps", steps_json(t));
		if (o != NULL && r != NULL) {
			json_object_set_new(o, "result", result_json(r));
		}
		if (o != NULL && err != AS4_OK) {
			json_object_set_new(o, "error",
			                    json_pack("{s:i, s:s, s:s, s:b}", "code", (int)err,
			                              "reason", as4_strerror(err), "message",
			                              as4_diag_text(d), "retryable",
			                              as4_err_retryable(err)));
		}
		char *text = o != NULL ? json_dumps(o, JSON_INDENT(2)) : NULL;
		if (text == NULL) {
			fputs("as4ctl smp: out of memory\n", stderr);
			json_decref(o);
			return AS4CTL_REFUSED;
		}
		puts(text);
		free(text);
		json_decref(o);
		return rc;
	}
	print_steps(t);
	if (r != NULL) {
		char until[AS4_TIME_TEXT_MAX];
		char cert_until[AS4_TIME_TEXT_MAX];
		as4_time_format(r->valid_until_ms, until);
		as4_time_format(r->cert_not_after_ms, cert_until);
		printf("endpoint:          %s\n", r->endpoint_url);
		printf("transport profile: %s\n", r->transport_profile);
		printf("certificate:       %s (valid until %s)\n", r->cert_subject, cert_until);
		printf("metadata:          %s\n", r->metadata_url);
		printf("valid until:       %s%s\n", until, r->from_cache ? " (from cache)" : "");
	}
	if (err == AS4_OK) {
		printf("%s: OK\n", command);
	} else {
		printf("%s: REFUSED (%s%s): %s\n", command, as4_strerror(err),
		       as4_err_retryable(err) ? ", retryable" : "", as4_diag_text(d));
	}
	return rc;
}

/* ---- lookup ------------------------------------------------------------------------------ */

/*
 * Built-in networks for use without a configuration file: the Peppol SML zones mandatory since
 * 2026-08-31 (SMP-NOTES §1.2, §5.7). CA files must still be given (--smp-ca, --ap-ca).
 */
static bool preset(const char *name, struct as4_smp_network *net)
{
	if (strcmp(name, "peppol-prod") == 0) {
		net->zone = "participant.sml.prod.tech.peppol.org";
	} else if (strcmp(name, "peppol-test") == 0) {
		net->zone = "participant.sml.test.tech.peppol.org";
	} else {
		return false;
	}
	net->dns_mode = AS4_SMP_DNS_PEPPOL;
	net->dialect = AS4_SMP_PROTO_PEPPOL;
	net->transport_profile = AS4_SMP_TP_PEPPOL_AS4;
	return true;
}

/* Network settings from the configuration's discovery section. */
static int from_config(const struct opts *o, struct as4_config **cfg_out,
                       struct as4_smp_network *net, char *dns, size_t dns_cap)
{
	struct as4_conf_errors errs;
	as4_conf_errors_init(&errs, 0);
	struct as4_config_options co = {0};
	co.skip_pmodes = true;
	struct as4_config *cfg = NULL;
	as4_err err = as4_config_load(o->config, &co, &cfg, &errs);
	for (size_t i = 0; i < errs.n; i++) {
		if (!errs.v[i].warning) {
			fprintf(stderr, "%s\n", errs.v[i].text);
		}
	}
	as4_conf_errors_cleanup(&errs);
	if (err != AS4_OK) {
		fprintf(stderr, "as4ctl smp: %s: configuration refused\n", o->config);
		return AS4CTL_USAGE;
	}
	const struct as4_discovery_network *n = as4_config_network(cfg, o->network);
	if (n == NULL) {
		fprintf(stderr, "as4ctl smp: %s has no discovery network '%s'\n", o->config,
		        o->network);
		as4_config_free(cfg);
		return AS4CTL_USAGE;
	}
	net->name = n->name;
	net->zone = n->sml_zone;
	/* the enums of config.h and smp.h have the same values (see smp.h) */
	net->dns_mode = (enum as4_smp_dns_mode)n->hashing;
	net->dialect = (enum as4_smp_proto)n->smp_dialect;
	net->smp_ca_files = n->smp_ca;
	net->n_smp_ca_files = n->n_smp_ca;
	net->ap_ca_files = n->ap_ca;
	net->n_ap_ca_files = n->n_ap_ca;
	net->transport_profile = n->transport_profile;
	net->allow_http = !n->require_https;
	if (n->dns_server != NULL) {
		bool v6 = strchr(n->dns_server, ':') != NULL;
		if (as4_str_fmt(dns, dns_cap, v6 ? "[%s]:%u" : "%s:%u", n->dns_server,
		                (unsigned)n->dns_port) != AS4_OK) {
			as4_config_free(cfg);
			return AS4CTL_USAGE;
		}
		net->dns_server = dns;
	}
	net->cache_max_entries = n->cache_entries;
	net->dns_timeout_ms = (uint32_t)(n->timeout_ms > UINT32_MAX ? UINT32_MAX : n->timeout_ms);
	net->timeout_ms = net->dns_timeout_ms;
	*cfg_out = cfg;
	return AS4CTL_OK;
}

static int cmd_lookup(const struct opts *o)
{
	if (o->n_pos < 2 || o->n_pos > 3) {
		return usage_error("lookup needs PARTICIPANT DOCTYPE [PROCESS]");
	}
	struct as4_smp_network net;
	memset(&net, 0, sizeof(net));
	net.dns_lowercase = true;
	struct as4_config *cfg = NULL;
	char dns[96];
	int rc = AS4CTL_OK;
	if (o->config != NULL && o->network == NULL) {
		return usage_error("--config needs --network NAME");
	}
	if (o->config != NULL) {
		rc = from_config(o, &cfg, &net, dns, sizeof(dns));
		if (rc != AS4CTL_OK) {
			return rc;
		}
	} else if (o->network != NULL && !preset(o->network, &net)) {
		return usage_error(
		        "unknown network '%s' (built in: peppol-prod, peppol-test; or use "
		        "--config)",
		        o->network);
	} else if (o->network != NULL) {
		net.name = o->network;
	}
	if (o->zone != NULL) {
		net.zone = o->zone;
	}
	if (o->profile != NULL) {
		static const char *const names[] = {"peppol", "bdxl", "peppol-legacy", "static"};
		bool ok = false;
		for (size_t i = 0; i < AS4_ARRAY_LEN(names) && !ok; i++) {
			if (strcmp(o->profile, names[i]) == 0) {
				net.dns_mode = (enum as4_smp_dns_mode)i;
				ok = true;
			}
		}
		if (!ok) {
			rc = usage_error("unknown --profile '%s'", o->profile);
			goto out;
		}
	}
	if (o->dialect != NULL) {
		static const char *const names[] = {"peppol", "oasis1", "oasis2"};
		bool ok = false;
		for (size_t i = 0; i < AS4_ARRAY_LEN(names) && !ok; i++) {
			if (strcmp(o->dialect, names[i]) == 0) {
				net.dialect = (enum as4_smp_proto)i;
				ok = true;
			}
		}
		if (!ok) {
			rc = usage_error("unknown --dialect '%s'", o->dialect);
			goto out;
		}
	}
	if (o->smp_url != NULL) {
		net.smp_url = o->smp_url;
		if (o->profile == NULL) {
			net.dns_mode = AS4_SMP_DNS_NONE;
		}
	}
	if (o->n_smp_ca > 0) {
		net.smp_ca_files = o->smp_ca;
		net.n_smp_ca_files = o->n_smp_ca;
	}
	if (o->n_ap_ca > 0) {
		net.ap_ca_files = o->ap_ca;
		net.n_ap_ca_files = o->n_ap_ca;
	}
	if (o->dns != NULL) {
		net.dns_server = o->dns;
	}
	if (o->transport_profile != NULL) {
		net.transport_profile = o->transport_profile;
	}
	net.allow_http = net.allow_http || o->insecure_http;
	net.https_ca_file = o->https_ca;
	net.allow_sha1 = o->allow_sha1;
	net.naptr_service = o->naptr_service;
	net.cache_disabled = true;
	if (o->timeout != NULL) {
		uint64_t ms = 0;
		if (as4_parse_duration_ms(o->timeout, &ms) != AS4_OK || ms == 0 || ms > 600000) {
			rc = usage_error("--timeout '%s' is not a duration up to 10m", o->timeout);
			goto out;
		}
		net.dns_timeout_ms = (uint32_t)ms;
		net.timeout_ms = (uint32_t)ms;
	}
	if (!parse_time(o->at, &net.at_ms)) {
		rc = usage_error("--at '%s' is not an xsd:dateTime", o->at);
		goto out;
	}
	if (net.dns_mode != AS4_SMP_DNS_NONE && net.zone == NULL) {
		rc = usage_error("no SML/BDXL zone: give --zone, --network or --smp-url");
		goto out;
	}

	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_smp_trace t;
	as4_smp_trace_init(&t);
	struct as4_smp_client *c = NULL;
	struct as4_smp_result *r = NULL;
	struct as4_limits lim;
	as4_limits_default(&lim);
	if (cfg != NULL) {
		lim = cfg->limits;
	}
	as4_err err = as4_smp_client_new(&net, &lim, &c, &d);
	if (err != AS4_OK) {
		fprintf(stderr, "as4ctl smp: %s\n", as4_diag_text(&d));
		rc = AS4CTL_USAGE;
	} else {
		err = as4_smp_lookup(c, o->pos[0], o->pos[1], o->n_pos > 2 ? o->pos[2] : NULL, &r,
		                     &t, &d);
		rc = report(o->json, "lookup", err, &d, &t, r);
	}
	as4_smp_result_free(r);
	as4_smp_client_free(c);
	as4_smp_trace_cleanup(&t);
out:
	as4_config_free(cfg);
	return rc;
}

/* ---- inspect ----------------------------------------------------------------------------- */

static int cmd_inspect(const struct opts *o)
{
	if (o->n_pos != 1) {
		return usage_error("inspect needs exactly one FILE");
	}
	if (o->n_trust == 0 && !o->signature_only) {
		return usage_error("inspect needs --trust CERT (the SMP CA) or --signature-only");
	}
	int64_t at = 0;
	if (!parse_time(o->at, &at)) {
		return usage_error("--at '%s' is not an xsd:dateTime", o->at);
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	as4_err rerr = as4_file_read(o->pos[0], MAX_INSPECT_FILE, &buf, &len);
	if (rerr != AS4_OK) {
		fprintf(stderr, "as4ctl smp: cannot read %s: %s\n", o->pos[0], as4_strerror(rerr));
		return AS4CTL_USAGE;
	}
	struct as4_smp_inspect_params p = {0};
	p.trust_files = o->trust;
	p.n_trust_files = o->n_trust;
	p.at_ms = at;
	p.signature_only = o->signature_only;
	p.allow_sha1 = o->allow_sha1;
	p.ap_ca_files = o->ap_ca;
	p.n_ap_ca_files = o->n_ap_ca;
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_smp_trace t;
	as4_smp_trace_init(&t);
	as4_err err = as4_smp_inspect(buf, len, &p, &t, &d);
	int rc = report(o->json, "inspect", err, &d, &t, NULL);
	as4_smp_trace_cleanup(&t);
	free(buf);
	return rc;
}

int as4ctl_cmd_smp(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return AS4CTL_USAGE;
	}
	struct opts o;
	memset(&o, 0, sizeof(o));
	int rc = parse_opts(argc - 1, argv + 1, &o);
	if (rc < 0) {
		return AS4CTL_OK;
	}
	if (rc != AS4CTL_OK) {
		return rc;
	}
	bool own_xmlsec = as4_wss_global_init == NULL;
	if (as4_smp_global_init(own_xmlsec) != AS4_OK) {
		fputs("as4ctl smp: cannot initialise libcurl or xmlsec\n", stderr);
		return AS4CTL_REFUSED;
	}
	if (strcmp(argv[1], "lookup") == 0) {
		rc = cmd_lookup(&o);
	} else if (strcmp(argv[1], "inspect") == 0) {
		rc = cmd_inspect(&o);
	} else {
		rc = usage_error("unknown subcommand '%s' (lookup, inspect)", argv[1]);
	}
	as4_smp_global_cleanup(own_xmlsec);
	return rc;
}
