/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The as4d configuration: the as4d.yaml schema table, the checks that need more than one key
 * or the file system (certificates, key file modes, references, directories), the PMode
 * folder, API tokens and the published snapshot. Nothing here writes or creates anything.
 */
#include "as4/config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "as4/blob.h"
#include "as4/str.h"
#include "as4/time.h"
#include "pmode_int.h"

/* Certificate files are small; anything bigger is not one. */
#define CERT_FILE_MAX (1024 * 1024)
/* Most files read from the PMode folder. */
#define PMODE_FILES_MAX 10000
/* Warn about certificates expiring within this time by default. */
#define EXPIRY_WARNING_MS (30ULL * 24 * 3600 * 1000)

/* ---- Checks used by the schema table ------------------------------------------------------ */

static void why_put(char *why, size_t cap, const char *text)
{
	if (as4_str_copy(why, cap, text) != AS4_OK) {
		/* truncated reason */
	}
}

static as4_err check_ip(const struct as4_conf_node *n, char *why, size_t cap)
{
	unsigned char buf[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, n->text, buf) == 1 || inet_pton(AF_INET6, n->text, buf) == 1) {
		return AS4_OK;
	}
	why_put(why, cap, "expected an IPv4 or IPv6 address such as 127.0.0.1, 0.0.0.0 or ::");
	return AS4_E_CONFIG;
}

static as4_err check_url_path(const struct as4_conf_node *n, char *why, size_t cap)
{
	if (n->text[0] == '/' && strpbrk(n->text, " ?#") == NULL) {
		return AS4_OK;
	}
	why_put(why, cap, "expected a URL path starting with '/' (no spaces, '?' or '#')");
	return AS4_E_CONFIG;
}

static as4_err check_name(const struct as4_conf_node *n, char *why, size_t cap)
{
	if (as4_pmode_id_valid(n->text)) {
		return AS4_OK;
	}
	why_put(why, cap,
	        "expected 1 to 128 characters from A-Z a-z 0-9 . _ - (not starting with '.')");
	return AS4_E_CONFIG;
}

static as4_err check_hex64(const struct as4_conf_node *n, char *why, size_t cap)
{
	if (n->len == 64 && strspn(n->text, "0123456789abcdefABCDEF") == 64) {
		return AS4_OK;
	}
	why_put(why, cap,
	        "expected the SHA-256 of the token as 64 hex digits (printf %s TOKEN | sha256sum)");
	return AS4_E_CONFIG;
}

/* "Name: value" with an RFC 9110 token as name and no line breaks. */
static as4_err check_header(const struct as4_conf_node *n, char *why, size_t cap)
{
	const char *colon = strchr(n->text, ':');
	size_t nl = colon != NULL ? (size_t)(colon - n->text) : 0;
	bool ok = nl > 0 &&
	          strspn(n->text, "!#$%&'*+-.^_`|~0123456789"
	                          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == nl;
	if (ok && strpbrk(n->text, "\r\n") == NULL && colon[1] != '\0') {
		return AS4_OK;
	}
	why_put(why, cap, "expected one HTTP header line 'Name: value'");
	return AS4_E_CONFIG;
}

static bool dns_name_valid(const char *s)
{
	size_t n = strlen(s);
	size_t label = 0;
	if (n == 0 || n > 254 || s[0] == '.') {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0) {
				return false;
			}
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		           (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > 63) {
				return false;
			}
		} else {
			return false;
		}
	}
	return true;
}

static as4_err check_zone(const struct as4_conf_node *n, char *why, size_t cap)
{
	if (dns_name_valid(n->text)) {
		return AS4_OK;
	}
	why_put(why, cap, "expected a DNS zone such as edelivery.tech.ec.europa.eu");
	return AS4_E_CONFIG;
}

/* "127.0.0.1", "127.0.0.1:5353", "::1" or "[::1]:5353" into host (cap 64) and port. */
static bool parse_dns_server(const char *s, char *host, size_t cap, uint16_t *port)
{
	unsigned char buf[sizeof(struct in6_addr)];
	const char *p = NULL;
	size_t hl;
	*port = 53;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':')) {
			return false;
		}
		hl = (size_t)(end - s - 1);
		s++;
		p = end[1] == ':' ? end + 2 : NULL;
	} else if (strchr(s, ':') != NULL && strchr(s, ':') == strrchr(s, ':')) {
		const char *c = strchr(s, ':');
		hl = (size_t)(c - s);
		p = c + 1;
	} else {
		hl = strlen(s);
	}
	if (hl == 0 || hl >= cap) {
		return false;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1) {
		return false;
	}
	if (p != NULL) {
		uint64_t v;
		if (as4_parse_u64(p, 65535, &v) != AS4_OK || v == 0) {
			return false;
		}
		*port = (uint16_t)v;
	}
	return true;
}

static as4_err check_dns_server(const struct as4_conf_node *n, char *why, size_t cap)
{
	char host[64];
	uint16_t port;
	if (parse_dns_server(n->text, host, sizeof(host), &port)) {
		return AS4_OK;
	}
	why_put(why, cap,
	        "expected an IP address with an optional port: 127.0.0.1, 127.0.0.1:5353, "
	        "[::1]:5353");
	return AS4_E_CONFIG;
}

/* ---- The as4d.yaml schema ------------------------------------------------------------------ */

#define MS_DAY (24ULL * 3600 * 1000)
#define GIB    (1024ULL * 1024 * 1024)
#define MIB    (1024ULL * 1024)

static const char *const tls_versions[] = {"tls1.2", "tls1.3", NULL};
static const char *const roles[] = {"reader", "submitter", "admin", NULL};
static const char *const log_formats[] = {"json", "logfmt", NULL};
static const char *const log_levels[] = {"error", "warning", "notice", "info", "debug", NULL};
static const char *const hashings[] = {"peppol", "bdxl", "peppol-legacy", NULL};
static const char *const dialects[] = {"peppol", "oasis1", "oasis2", NULL};

/* The TLS keys of one listener, by prefix. */
#define TLS_ITEMS(pfx, enabled_def)                                                                \
	{.path = pfx ".tls", .type = AS4_CONF_SECTION},                                            \
	        {.path = pfx ".tls.enabled", .type = AS4_CONF_BOOL, .def = enabled_def},           \
	        {.path = pfx ".tls.cert", .type = AS4_CONF_PATH},                                  \
	        {.path = pfx ".tls.key", .type = AS4_CONF_PATH},                                   \
	        {.path = pfx ".tls.client_ca", .type = AS4_CONF_PATH},                             \
	        {.path = pfx ".tls.require_client_cert", .type = AS4_CONF_BOOL, .def = "false"},   \
	{                                                                                          \
		.path = pfx ".tls.min_version", .type = AS4_CONF_ENUM, .enums = tls_versions,      \
		.def = "tls1.2"                                                                    \
	}

/*
 * Limits have no default here: absent keys keep as4_limits_default(), so the two can never
 * disagree.
 */
static const struct as4_conf_item config_items[] = {
        {.path = "node", .type = AS4_CONF_SECTION, .flags = AS4_CONF_F_REQUIRED},
        {.path = "node.name",
         .type = AS4_CONF_STR,
         .flags = AS4_CONF_F_REQUIRED,
         .check = check_name},
        {.path = "node.party", .type = AS4_CONF_STR, .flags = AS4_CONF_F_REQUIRED, .max = 128},
        {.path = "node.base_dir", .type = AS4_CONF_PATH},
        {.path = "node.data_dir", .type = AS4_CONF_PATH, .def = "data"},
        {.path = "node.pmode_dir", .type = AS4_CONF_PATH},
        {.path = "node.managed_dir", .type = AS4_CONF_PATH},

        {.path = "listeners", .type = AS4_CONF_SECTION},
        {.path = "listeners.msh", .type = AS4_CONF_SECTION},
        {.path = "listeners.msh.address",
         .type = AS4_CONF_STR,
         .def = "0.0.0.0",
         .check = check_ip},
        {.path = "listeners.msh.port", .type = AS4_CONF_INT, .min = 1, .max = 65535, .def = "8443"},
        {.path = "listeners.msh.path",
         .type = AS4_CONF_STR,
         .max = 256,
         .def = "/as4",
         .check = check_url_path},
        TLS_ITEMS("listeners.msh", "true"),
        {.path = "listeners.api", .type = AS4_CONF_SECTION},
        {.path = "listeners.api.address",
         .type = AS4_CONF_STR,
         .def = "127.0.0.1",
         .check = check_ip},
        {.path = "listeners.api.port", .type = AS4_CONF_INT, .min = 1, .max = 65535, .def = "8081"},
        TLS_ITEMS("listeners.api", "false"),

        {.path = "keystore", .type = AS4_CONF_SECTION, .flags = AS4_CONF_F_REQUIRED},
        {.path = "keystore.signing", .type = AS4_CONF_SECTION, .flags = AS4_CONF_F_REQUIRED},
        {.path = "keystore.signing.key", .type = AS4_CONF_PATH, .flags = AS4_CONF_F_REQUIRED},
        {.path = "keystore.signing.cert", .type = AS4_CONF_PATH, .flags = AS4_CONF_F_REQUIRED},
        {.path = "keystore.encryption", .type = AS4_CONF_SECTION},
        {.path = "keystore.encryption.key", .type = AS4_CONF_PATH, .flags = AS4_CONF_F_REQUIRED},
        {.path = "keystore.encryption.cert", .type = AS4_CONF_PATH, .flags = AS4_CONF_F_REQUIRED},
        {.path = "keystore.old_decryption", .type = AS4_CONF_LIST_MAPS, .max = 16},
        {.path = "keystore.old_decryption[].key",
         .type = AS4_CONF_PATH,
         .flags = AS4_CONF_F_REQUIRED},
        {.path = "keystore.old_decryption[].cert",
         .type = AS4_CONF_PATH,
         .flags = AS4_CONF_F_REQUIRED},

        {.path = "truststores", .type = AS4_CONF_SECTION},
        {.path = "truststores.as4", .type = AS4_CONF_LIST, .elem = AS4_CONF_PATH, .max = 64},
        {.path = "truststores.tls", .type = AS4_CONF_LIST, .elem = AS4_CONF_PATH, .max = 64},
        {.path = "truststores.smp", .type = AS4_CONF_LIST, .elem = AS4_CONF_PATH, .max = 64},

        {.path = "limits", .type = AS4_CONF_SECTION},
        {.path = "limits.max_body", .type = AS4_CONF_SIZE, .min = 64 * 1024, .max = 16 * GIB},
        {.path = "limits.max_parts", .type = AS4_CONF_INT, .min = 2, .max = 1000},
        {.path = "limits.max_header_bytes", .type = AS4_CONF_SIZE, .min = 1024, .max = MIB},
        {.path = "limits.max_soap", .type = AS4_CONF_SIZE, .min = 16 * 1024, .max = 256 * MIB},
        {.path = "limits.max_xml_depth", .type = AS4_CONF_INT, .min = 16, .max = 1024},
        {.path = "limits.max_xml_nodes", .type = AS4_CONF_INT, .min = 1000, .max = 100000000},
        {.path = "limits.max_gunzip", .type = AS4_CONF_SIZE, .min = MIB, .max = 64 * GIB},
        {.path = "limits.max_gzip_ratio", .type = AS4_CONF_INT, .min = 10, .max = 1000000},
        {.path = "limits.max_api_body", .type = AS4_CONF_SIZE, .min = 64 * 1024, .max = 16 * GIB},
        {.path = "limits.max_api_upload", .type = AS4_CONF_SIZE, .min = 64 * 1024, .max = 64 * GIB},
        {.path = "limits.max_json_depth", .type = AS4_CONF_INT, .min = 4, .max = 1024},
        {.path = "limits.max_smp_response", .type = AS4_CONF_SIZE, .min = 16 * 1024, .max = GIB},
        {.path = "limits.max_receipt", .type = AS4_CONF_SIZE, .min = 16 * 1024, .max = GIB},
        {.path = "limits.mem_spool_threshold", .type = AS4_CONF_SIZE, .min = 4096, .max = GIB},

        {.path = "sender", .type = AS4_CONF_SECTION},
        {.path = "sender.workers", .type = AS4_CONF_INT, .min = 1, .max = 1024, .def = "4"},
        {.path = "sender.connect_timeout",
         .type = AS4_CONF_DURATION,
         .min = 100,
         .max = 300000,
         .def = "10s"},
        {.path = "sender.request_timeout",
         .type = AS4_CONF_DURATION,
         .min = 1000,
         .max = 3600000,
         .def = "60s"},
        {.path = "sender.max_connections_per_host",
         .type = AS4_CONF_INT,
         .min = 1,
         .max = 1024,
         .def = "4"},
        {.path = "sender.tls_verify", .type = AS4_CONF_BOOL, .def = "true"},
        {.path = "sender.client_cert", .type = AS4_CONF_PATH},
        {.path = "sender.client_key", .type = AS4_CONF_PATH},

        {.path = "receiver", .type = AS4_CONF_SECTION},
        {.path = "receiver.threads", .type = AS4_CONF_INT, .min = 1, .max = 4096, .def = "64"},

        {.path = "store", .type = AS4_CONF_SECTION},
        {.path = "store.map_size",
         .type = AS4_CONF_SIZE,
         .min = 16 * MIB,
         .max = 16384 * GIB,
         .def = "4G"},
        {.path = "store.sync", .type = AS4_CONF_SECTION},
        {.path = "store.sync.interval", .type = AS4_CONF_DURATION, .max = 1000, .def = "2ms"},
        {.path = "store.sync.batch", .type = AS4_CONF_INT, .min = 1, .max = 100000, .def = "64"},
        {.path = "store.inline_max", .type = AS4_CONF_SIZE, .max = MIB, .def = "16K"},

        {.path = "retention", .type = AS4_CONF_SECTION},
        {.path = "retention.outbound", .type = AS4_CONF_SECTION},
        {.path = "retention.outbound.delivered", .type = AS4_CONF_DURATION, .def = "90d"},
        {.path = "retention.outbound.failed", .type = AS4_CONF_DURATION, .def = "90d"},
        {.path = "retention.inbound", .type = AS4_CONF_SECTION},
        {.path = "retention.inbound.delivered", .type = AS4_CONF_DURATION, .def = "90d"},
        {.path = "retention.metadata", .type = AS4_CONF_DURATION, .def = "365d"},
        {.path = "retention.dedup_window",
         .type = AS4_CONF_DURATION,
         .min = 60000,
         .max = 3650 * MS_DAY,
         .def = "30d"},

        {.path = "api", .type = AS4_CONF_SECTION},
        {.path = "api.tokens", .type = AS4_CONF_LIST_MAPS, .max = 1000},
        {.path = "api.tokens[].name",
         .type = AS4_CONF_STR,
         .flags = AS4_CONF_F_REQUIRED,
         .check = check_name},
        {.path = "api.tokens[].role",
         .type = AS4_CONF_ENUM,
         .flags = AS4_CONF_F_REQUIRED,
         .enums = roles},
        {.path = "api.tokens[].sha256",
         .type = AS4_CONF_STR,
         .flags = AS4_CONF_F_REQUIRED,
         .check = check_hex64},
        {.path = "api.tokens[].pmodes", .type = AS4_CONF_LIST, .elem = AS4_CONF_STR, .max = 1000},
        {.path = "api.tokens[].parties", .type = AS4_CONF_LIST, .elem = AS4_CONF_STR, .max = 1000},

        {.path = "log", .type = AS4_CONF_SECTION},
        {.path = "log.format", .type = AS4_CONF_ENUM, .enums = log_formats, .def = "json"},
        {.path = "log.level", .type = AS4_CONF_ENUM, .enums = log_levels, .def = "info"},
        {.path = "log.file", .type = AS4_CONF_PATH},

        {.path = "parties",
         .type = AS4_CONF_LIST_MAPS,
         .flags = AS4_CONF_F_REQUIRED,
         .min = 1,
         .max = 100000},
        {.path = "parties[].name",
         .type = AS4_CONF_STR,
         .flags = AS4_CONF_F_REQUIRED,
         .check = check_name},
        {.path = "parties[].ids",
         .type = AS4_CONF_LIST_MAPS,
         .flags = AS4_CONF_F_REQUIRED,
         .min = 1,
         .max = 16},
        {.path = "parties[].ids[].type", .type = AS4_CONF_STR, .max = 1024},
        /* required unless the party is dynamic (load_parties) */
        {.path = "parties[].ids[].value", .type = AS4_CONF_STR, .max = 1024},
        {.path = "parties[].dynamic", .type = AS4_CONF_BOOL, .def = "false"},
        {.path = "parties[].endpoint", .type = AS4_CONF_URL},
        {.path = "parties[].certificate", .type = AS4_CONF_PATH},
        {.path = "parties[].tls_certificate", .type = AS4_CONF_PATH},

        {.path = "webhooks", .type = AS4_CONF_SECTION},
        {.path = "webhooks.delivery_url", .type = AS4_CONF_URL},
        {.path = "webhooks.notification_url", .type = AS4_CONF_URL},
        {.path = "webhooks.auth_header", .type = AS4_CONF_STR, .check = check_header},
        {.path = "webhooks.timeout",
         .type = AS4_CONF_DURATION,
         .min = 1000,
         .max = 600000,
         .def = "30s"},

        {.path = "discovery", .type = AS4_CONF_SECTION},
        {.path = "discovery.networks", .type = AS4_CONF_LIST_MAPS, .max = 64},
        {.path = "discovery.networks[].name",
         .type = AS4_CONF_STR,
         .flags = AS4_CONF_F_REQUIRED,
         .check = check_name},
        {.path = "discovery.networks[].sml_zone",
         .type = AS4_CONF_STR,
         .flags = AS4_CONF_F_REQUIRED,
         .check = check_zone},
        {.path = "discovery.networks[].hashing",
         .type = AS4_CONF_ENUM,
         .enums = hashings,
         .def = "peppol"},
        {.path = "discovery.networks[].smp_dialect",
         .type = AS4_CONF_ENUM,
         .enums = dialects,
         .def = "peppol"},
        {.path = "discovery.networks[].smp_ca",
         .type = AS4_CONF_LIST,
         .elem = AS4_CONF_PATH,
         .max = 64},
        {.path = "discovery.networks[].ap_ca",
         .type = AS4_CONF_LIST,
         .elem = AS4_CONF_PATH,
         .max = 64},
        {.path = "discovery.networks[].transport_profile",
         .type = AS4_CONF_STR,
         .max = 256,
         .def = "peppol-transport-as4-v2_0"},
        {.path = "discovery.networks[].require_https", .type = AS4_CONF_BOOL, .def = "true"},
        {.path = "discovery.networks[].dns_server",
         .type = AS4_CONF_STR,
         .max = 64,
         .check = check_dns_server},
        {.path = "discovery.networks[].cache_entries",
         .type = AS4_CONF_INT,
         .max = 10000000,
         .def = "10000"},
        {.path = "discovery.networks[].cache_ttl",
         .type = AS4_CONF_DURATION,
         .max = MS_DAY,
         .def = "15m"},
        {.path = "discovery.networks[].timeout",
         .type = AS4_CONF_DURATION,
         .min = 100,
         .max = 300000,
         .def = "10s"},
        AS4_MEDCOM_CONF_ITEMS,
};

static const struct as4_conf_schema config_schema = {"as4d.yaml", config_items,
                                                     AS4_ARRAY_LEN(config_items)};

const struct as4_conf_schema *as4_config_schema(void)
{
	return &config_schema;
}

/* ---- Load context and file checks ---------------------------------------------------------- */

struct lctx {
	struct as4_config *cfg;
	struct as4_arena *a;
	struct as4_conf_errors *errs;
	const struct as4_conf_node *root;
	const char *conf_dir; /* folder of as4d.yaml as given ("conf", ".") */
	const char *base;     /* node.base_dir resolved (absolute) */
	int64_t now_ms;
	uint64_t warn_ms;
	bool base_bad; /* node.base_dir unusable: every relative path would fail as well */
	bool no_files; /* options.no_file_checks */
	bool nomem;
};

static const char *cdup(struct lctx *c, const char *s)
{
	if (s == NULL) {
		return NULL;
	}
	char *d = as4_arena_strdup(c->a, s);
	if (d == NULL) {
		c->nomem = true;
	}
	return d;
}

/* dir + "/" + rel, or rel itself when absolute. */
static const char *join(struct lctx *c, const char *dir, const char *rel)
{
	if (rel == NULL) {
		return NULL;
	}
	if (rel[0] == '/' || dir == NULL) {
		return cdup(c, rel);
	}
	char *s = as4_arena_sprintf(c->a, "%s%s%s", dir,
	                            dir[0] != '\0' && dir[strlen(dir) - 1] == '/' ? "" : "/", rel);
	if (s == NULL) {
		c->nomem = true;
	}
	return s;
}

/* A path key of as4d.yaml, resolved against node.base_dir; NULL when absent. */
static const char *path_of(struct lctx *c, const struct as4_conf_node *map, const char *key)
{
	return join(c, c->base, as4_conf_str(map, key));
}

/* An existing, readable regular file. */
static bool check_file(struct lctx *c, const struct as4_conf_node *n, const char *path)
{
	struct stat st;
	if (c->no_files) {
		return false;
	}
	if (stat(path, &st) != 0) {
		if (errno == ENOENT) {
			as4_conf_error(c->errs, n, "'%s' does not exist", path);
		} else {
			as4_conf_error(c->errs, n, "cannot use '%s': %s", path, strerror(errno));
		}
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		as4_conf_error(c->errs, n, "'%s' is not a regular file", path);
		return false;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		as4_conf_error(c->errs, n, "cannot read '%s': %s", path, strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

/*
 * A private key file: readable by us, by nobody else (STYLE rule 23). Its contents are not read
 * here: private keys are touched only in ap/wss/keystore.c.
 */
static void check_key_file(struct lctx *c, const struct as4_conf_node *n, const char *path)
{
	struct stat st;
	if (!check_file(c, n, path)) {
		return;
	}
	if (stat(path, &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
		as4_conf_error(c->errs, n,
		               "private key file '%s' is readable by group or others (mode %04o): "
		               "chmod 600 it",
		               path, (unsigned)(st.st_mode & 07777));
	}
}

static bool asn1_ms(const ASN1_TIME *t, int64_t *ms)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		return false;
	}
	time_t s = timegm(&tm);
	*ms = (int64_t)s * 1000;
	return true;
}

/* The RFC 2253 subject of x, quoted for a message. */
static char *subject_of(X509 *x, char *out, size_t cap)
{
	char buf[256];
	BIO *b = BIO_new(BIO_s_mem());
	buf[0] = '\0';
	if (b != NULL && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
		int n = BIO_read(b, buf, (int)sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
	}
	BIO_free(b);
	return as4_conf_quote(buf, out, cap);
}

static void check_validity(struct lctx *c, const struct as4_conf_node *n, const char *path, X509 *x)
{
	char subj[128];
	char when[AS4_TIME_TEXT_MAX];
	int64_t nb = 0;
	int64_t na = 0;
	if (!asn1_ms(X509_get0_notBefore(x), &nb) || !asn1_ms(X509_get0_notAfter(x), &na)) {
		as4_conf_error(c->errs, n, "certificate %s in '%s' has unreadable validity dates",
		               subject_of(x, subj, sizeof(subj)), path);
		return;
	}
	if (na < c->now_ms) {
		as4_time_format(na, when);
		as4_conf_error(c->errs, n, "certificate %s in '%s' expired on %s",
		               subject_of(x, subj, sizeof(subj)), path, when);
	} else if (nb > c->now_ms) {
		as4_time_format(nb, when);
		as4_conf_error(c->errs, n, "certificate %s in '%s' is not valid before %s",
		               subject_of(x, subj, sizeof(subj)), path, when);
	} else if ((uint64_t)(na - c->now_ms) < c->warn_ms) {
		as4_time_format(na, when);
		as4_conf_warn(c->errs, n, "certificate %s in '%s' expires on %s (in %lld days)",
		              subject_of(x, subj, sizeof(subj)), path, when,
		              (long long)((na - c->now_ms) / (int64_t)MS_DAY));
	}
}

/*
 * A certificate file: PEM (one or more certificates, other PEM blocks skipped) or DER (one).
 * Every certificate in it must be valid now. Returns the number of certificates found.
 */
static size_t check_cert_file(struct lctx *c, const struct as4_conf_node *n, const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	size_t count = 0;
	if (!check_file(c, n, path)) {
		return 0;
	}
	as4_err err = as4_file_read(path, CERT_FILE_MAX, &buf, &len);
	if (err != AS4_OK) {
		as4_conf_error(c->errs, n, "cannot read '%s': %s", path,
		               err == AS4_E_LIMIT ? "larger than 1 MiB, not a certificate file"
		                                  : as4_strerror(err));
		return 0;
	}
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	X509 *x = NULL;
	while (bio != NULL && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		check_validity(c, n, path, x);
		X509_free(x);
		count++;
	}
	BIO_free(bio);
	if (count == 0) {
		const unsigned char *p = buf;
		x = d2i_X509(NULL, &p, (long)len);
		if (x != NULL && p == buf + len) {
			check_validity(c, n, path, x);
			count = 1;
		}
		X509_free(x);
	}
	/* OpenSSL errors end here (STYLE rule 4): the message above says what was wrong */
	ERR_clear_error();
	if (count == 0) {
		as4_conf_error(c->errs, n, "'%s' holds no certificate (PEM or DER expected)", path);
	}
	free(buf);
	return count;
}

/* A directory we can write into, or one that can be created (its nearest ancestor is). */
static void check_dir_writable(struct lctx *c, const struct as4_conf_node *n, const char *dir)
{
	struct stat st;
	char p[PATH_MAX];
	if (c->no_files) {
		return;
	}
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			as4_conf_error(c->errs, n, "'%s' is not a directory", dir);
		} else if (access(dir, W_OK | X_OK) != 0) {
			as4_conf_error(c->errs, n, "directory '%s' is not writable", dir);
		}
		return;
	}
	if (errno != ENOENT && errno != ENOTDIR) {
		as4_conf_error(c->errs, n, "cannot use '%s': %s", dir, strerror(errno));
		return;
	}
	if (as4_str_copy(p, sizeof(p), dir) != AS4_OK) {
		as4_conf_error(c->errs, n, "path too long");
		return;
	}
	for (;;) {
		char *slash = strrchr(p, '/');
		if (slash == NULL) {
			p[0] = '.';
			p[1] = '\0';
		} else if (slash == p) {
			p[1] = '\0';
		} else {
			*slash = '\0';
		}
		if (stat(p, &st) == 0) {
			if (!S_ISDIR(st.st_mode) || access(p, W_OK | X_OK) != 0) {
				as4_conf_error(
				        c->errs, n,
				        "'%s' does not exist and cannot be created: '%s' is not a "
				        "writable directory",
				        dir, p);
			}
			return;
		}
		if ((errno != ENOENT && errno != ENOTDIR) || strcmp(p, ".") == 0 ||
		    strcmp(p, "/") == 0) {
			as4_conf_error(c->errs, n, "cannot create '%s': %s", dir, strerror(errno));
			return;
		}
	}
}

/* A list of certificate files (LIST of PATH) into a resolved path array. */
static const char *const *cert_list(struct lctx *c, const struct as4_conf_node *list, size_t *n)
{
	*n = 0;
	if (list == NULL || list->n_children == 0) {
		return NULL;
	}
	const char **v = as4_arena_calloc(c->a, list->n_children, sizeof(*v));
	if (v == NULL) {
		c->nomem = true;
		return NULL;
	}
	for (const struct as4_conf_node *e = list->child; e != NULL; e = e->next) {
		v[*n] = join(c, c->base, e->text);
		if (v[*n] != NULL) {
			check_cert_file(c, e, v[*n]);
			(*n)++;
		}
	}
	return v;
}

/* Strings of a LIST of STR, copied. */
static const char *const *str_list(struct lctx *c, const struct as4_conf_node *list, size_t *n)
{
	*n = 0;
	if (list == NULL || list->n_children == 0) {
		return NULL;
	}
	const char **v = as4_arena_calloc(c->a, list->n_children, sizeof(*v));
	if (v == NULL) {
		c->nomem = true;
		return NULL;
	}
	for (const struct as4_conf_node *e = list->child; e != NULL; e = e->next) {
		v[(*n)++] = cdup(c, e->text);
	}
	return v;
}

/* ---- Sections ----------------------------------------------------------------------------- */

static void load_tls(struct lctx *c, const struct as4_conf_node *tls, struct as4_tls_config *t)
{
	t->enabled = as4_conf_bool(tls, "enabled");
	t->require_client_cert = as4_conf_bool(tls, "require_client_cert");
	t->min_version = (enum as4_tls_min)as4_conf_num(tls, "min_version");
	if (!t->enabled) {
		static const char *const keys[] = {"cert", "key", "client_ca"};
		for (size_t i = 0; i < AS4_ARRAY_LEN(keys); i++) {
			if (as4_conf_given(tls, keys[i])) {
				as4_conf_warn(c->errs, as4_conf_get(tls, keys[i]),
				              "ignored: tls.enabled is false");
			}
		}
		t->require_client_cert = false;
		return;
	}
	static const char *const needed[] = {"cert", "key"};
	for (size_t i = 0; i < AS4_ARRAY_LEN(needed); i++) {
		if (as4_conf_str(tls, needed[i]) == NULL) {
			as4_conf_error(c->errs, tls,
			               "missing required key '%s' (tls.enabled is true)",
			               needed[i]);
		}
	}
	t->cert_path = path_of(c, tls, "cert");
	t->key_path = path_of(c, tls, "key");
	t->client_ca = path_of(c, tls, "client_ca");
	if (t->cert_path != NULL) {
		check_cert_file(c, as4_conf_get(tls, "cert"), t->cert_path);
	}
	if (t->key_path != NULL) {
		check_key_file(c, as4_conf_get(tls, "key"), t->key_path);
	}
	if (t->client_ca != NULL) {
		check_cert_file(c, as4_conf_get(tls, "client_ca"), t->client_ca);
	} else if (t->require_client_cert) {
		as4_conf_error(c->errs, as4_conf_get(tls, "require_client_cert"),
		               "needs tls.client_ca (the CAs client certificates must chain to)");
	}
}

static void load_listener(struct lctx *c, const char *name, struct as4_listener_config *l)
{
	const struct as4_conf_node *n = as4_conf_get(c->root, name);
	l->address = cdup(c, as4_conf_str(n, "address"));
	l->port = (uint16_t)as4_conf_num(n, "port");
	l->path = cdup(c, as4_conf_str(n, "path"));
	load_tls(c, as4_conf_get(n, "tls"), &l->tls);
}

static bool wildcard(const char *addr)
{
	return strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "::") == 0;
}

static void load_listeners(struct lctx *c)
{
	struct as4_listener_config *msh = &c->cfg->listeners.msh;
	struct as4_listener_config *api = &c->cfg->listeners.api;
	load_listener(c, "listeners.msh", msh);
	load_listener(c, "listeners.api", api);
	if (msh->address != NULL && api->address != NULL && msh->port == api->port &&
	    (strcmp(msh->address, api->address) == 0 || wildcard(msh->address) ||
	     wildcard(api->address))) {
		as4_conf_error(c->errs, as4_conf_get(c->root, "listeners.api.port"),
		               "port %u is also used by listeners.msh", (unsigned)api->port);
	}
}

static void load_keypair(struct lctx *c, const struct as4_conf_node *n,
                         struct as4_keypair_config *k)
{
	k->key_path = path_of(c, n, "key");
	k->cert_path = path_of(c, n, "cert");
	if (k->key_path != NULL) {
		check_key_file(c, as4_conf_get(n, "key"), k->key_path);
	}
	if (k->cert_path != NULL) {
		check_cert_file(c, as4_conf_get(n, "cert"), k->cert_path);
	}
}

static void load_keystore(struct lctx *c)
{
	struct as4_keystore_config *ks = &c->cfg->keystore;
	load_keypair(c, as4_conf_get(c->root, "keystore.signing"), &ks->signing);
	if (as4_conf_given(c->root, "keystore.encryption")) {
		load_keypair(c, as4_conf_get(c->root, "keystore.encryption"), &ks->encryption);
	} else {
		ks->encryption = ks->signing;
	}
	const struct as4_conf_node *old = as4_conf_get(c->root, "keystore.old_decryption");
	if (old != NULL && old->n_children > 0) {
		struct as4_keypair_config *v = as4_arena_calloc(c->a, old->n_children, sizeof(*v));
		if (v == NULL) {
			c->nomem = true;
			return;
		}
		size_t i = 0;
		for (const struct as4_conf_node *e = old->child; e != NULL; e = e->next) {
			load_keypair(c, e, &v[i++]);
		}
		ks->old_decryption = v;
		ks->n_old_decryption = i;
	}
}

static void load_truststores(struct lctx *c)
{
	struct as4_truststores_config *t = &c->cfg->truststores;
	const struct as4_conf_node *ts = as4_conf_get(c->root, "truststores");
	t->as4 = cert_list(c, as4_conf_get(ts, "as4"), &t->n_as4);
	t->tls = cert_list(c, as4_conf_get(ts, "tls"), &t->n_tls);
	t->smp = cert_list(c, as4_conf_get(ts, "smp"), &t->n_smp);
	if (t->n_as4 == 0) {
		as4_conf_warn(
		        c->errs, as4_conf_get(ts, "as4"),
		        "no CA configured: only the parties' own certificates are accepted as "
		        "AS4 signers");
	}
}

/* ---- Trust and keys managed through the API ------------------------------------------------ */

/* Most managed certificates per truststore and managed old decryption keys. */
#define MANAGED_MAX 256

static int managed_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names in dir (skipping dot-files), sorted; *n 0 when dir does not exist. Heap strings. */
static char **managed_names(struct lctx *c, const char *dir, bool want_dirs, size_t *n)
{
	*n = 0;
	DIR *d = opendir(dir);
	if (d == NULL) {
		if (errno != ENOENT && errno != ENOTDIR) {
			as4_conf_warn(c->errs, NULL, "cannot read the managed folder '%s': %s", dir,
			              strerror(errno));
		}
		return NULL;
	}
	char **names = calloc(MANAGED_MAX, sizeof(*names));
	if (names == NULL) {
		c->nomem = true;
		closedir(d);
		return NULL;
	}
	for (struct dirent *de = readdir(d); de != NULL && *n < MANAGED_MAX; de = readdir(d)) {
		if (de->d_name[0] == '.') {
			continue; /* staging and retired entries of the API, '.' and '..' */
		}
		bool is_dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			const char *p = join(c, dir, de->d_name);
			is_dir = p != NULL && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
		}
		if (is_dir != want_dirs || (!want_dirs && !as4_str_ends(de->d_name, ".pem"))) {
			continue;
		}
		names[*n] = as4_str_dup(de->d_name);
		if (names[(*n)++] == NULL) {
			c->nomem = true;
			break;
		}
	}
	closedir(d);
	qsort(names, *n, sizeof(*names), managed_cmp);
	return names;
}

static void managed_names_free(char **names, size_t n)
{
	for (size_t i = 0; names != NULL && i < n; i++) {
		free(names[i]);
	}
	free(names);
}

/*
 * A managed certificate file: one certificate (PEM) valid now. Unlike a configured file, a
 * bad one is skipped with a warning, so a certificate that expired since an administrator
 * added it never stops the daemon from starting.
 */
static bool managed_cert_ok(struct lctx *c, const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	bool ok = false;
	char subj[128];
	char when[AS4_TIME_TEXT_MAX];
	if (as4_file_read(path, CERT_FILE_MAX, &buf, &len) != AS4_OK) {
		as4_conf_warn(c->errs, NULL, "managed certificate '%s' cannot be read: skipped",
		              path);
		return false;
	}
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	X509 *x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	int64_t nb = 0;
	int64_t na = 0;
	if (x == NULL) {
		as4_conf_warn(c->errs, NULL, "managed file '%s' holds no PEM certificate: skipped",
		              path);
	} else if (!asn1_ms(X509_get0_notBefore(x), &nb) || !asn1_ms(X509_get0_notAfter(x), &na)) {
		as4_conf_warn(c->errs, NULL,
		              "managed certificate '%s' has unreadable validity dates: skipped",
		              path);
	} else if (na < c->now_ms || nb > c->now_ms) {
		as4_time_format(na < c->now_ms ? na : nb, when);
		as4_conf_warn(c->errs, NULL, "managed certificate %s in '%s' %s %s: skipped",
		              subject_of(x, subj, sizeof(subj)), path,
		              na < c->now_ms ? "expired on" : "is not valid before", when);
	} else {
		if ((uint64_t)(na - c->now_ms) < c->warn_ms) {
			as4_time_format(na, when);
			as4_conf_warn(c->errs, NULL,
			              "managed certificate %s in '%s' expires on %s (in %lld days)",
			              subject_of(x, subj, sizeof(subj)), path, when,
			              (long long)((na - c->now_ms) / (int64_t)MS_DAY));
		}
		ok = true;
	}
	X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
	free(buf);
	return ok;
}

/* Append the managed certificates of <managed>/trust/<name>/ to one truststore list. */
static void managed_trust(struct lctx *c, const char *name, const char *const **list, size_t *n)
{
	const char *dir = join(c, c->cfg->node.managed_dir, name);
	size_t k = 0;
	char **names = dir != NULL ? managed_names(c, dir, false, &k) : NULL;
	if (k > 0) {
		const char **v = as4_arena_calloc(c->a, *n + k, sizeof(*v));
		if (v == NULL) {
			c->nomem = true;
		} else {
			for (size_t i = 0; i < *n; i++) {
				v[i] = (*list)[i];
			}
			size_t m = *n;
			for (size_t i = 0; i < k; i++) {
				const char *p = join(c, dir, names[i]);
				if (p != NULL && managed_cert_ok(c, p)) {
					v[m++] = p;
				}
			}
			*list = v;
			*n = m;
		}
	}
	managed_names_free(names, k);
}

/* A managed key pair folder (key.pem + cert.pem), checked as a configured pair is. */
static bool managed_pair(struct lctx *c, const char *dir, struct as4_keypair_config *k)
{
	k->key_path = join(c, dir, "key.pem");
	k->cert_path = join(c, dir, "cert.pem");
	if (k->key_path == NULL || k->cert_path == NULL) {
		return false;
	}
	size_t before = c->errs->n_errors;
	check_key_file(c, NULL, k->key_path);
	check_cert_file(c, NULL, k->cert_path);
	return c->errs->n_errors == before;
}

/*
 * Trust and keys changed through the API live in node.managed_dir (docs/admin-guide.md
 * "Certificates"), so they survive restarts without rewriting as4d.yaml:
 *   trust/{as4,tls,smp}/<sha256>.pem  appended to truststores.as4 / tls / smp;
 *   keystore/current/{key,cert}.pem   our key pair after a rollover: it signs and decrypts,
 *                                     and the pairs of as4d.yaml stay decryption keys;
 *   keystore/old/<name>/{key,cert}.pem earlier managed pairs, still decryption keys.
 * A folder that does not exist means nothing is managed.
 */
static void load_managed(struct lctx *c)
{
	struct as4_config *cfg = c->cfg;
	const struct as4_conf_node *n = as4_conf_get(c->root, "node");
	if (as4_conf_given(n, "managed_dir")) {
		cfg->node.managed_dir = path_of(c, n, "managed_dir");
	} else {
		cfg->node.managed_dir = join(c, cfg->node.data_dir, "managed");
	}
	if (cfg->node.managed_dir == NULL || c->no_files) {
		return;
	}
	struct as4_truststores_config *t = &cfg->truststores;
	managed_trust(c, "trust/as4", &t->as4, &t->n_as4);
	managed_trust(c, "trust/tls", &t->tls, &t->n_tls);
	managed_trust(c, "trust/smp", &t->smp, &t->n_smp);

	struct as4_keystore_config *ks = &cfg->keystore;
	const char *cur = join(c, cfg->node.managed_dir, "keystore/current");
	const char *olddir = join(c, cfg->node.managed_dir, "keystore/old");
	struct stat st;
	bool have_cur = cur != NULL && stat(cur, &st) == 0 && S_ISDIR(st.st_mode);
	size_t k = 0;
	char **names = olddir != NULL ? managed_names(c, olddir, true, &k) : NULL;
	if (!have_cur && k == 0) {
		managed_names_free(names, k);
		return;
	}
	/* at most: the two configured pairs, the configured old ones, the managed old ones */
	struct as4_keypair_config *v =
	        as4_arena_calloc(c->a, 2 + ks->n_old_decryption + k, sizeof(*v));
	if (v == NULL) {
		c->nomem = true;
		managed_names_free(names, k);
		return;
	}
	size_t m = 0;
	if (have_cur) {
		struct as4_keypair_config pair;
		if (managed_pair(c, cur, &pair)) {
			v[m++] = ks->encryption;
			if (ks->signing.key_path != NULL && ks->encryption.key_path != NULL &&
			    strcmp(ks->signing.key_path, ks->encryption.key_path) != 0) {
				v[m++] = ks->signing;
			}
			ks->signing = pair;
			ks->encryption = pair;
		}
	}
	for (size_t i = 0; i < ks->n_old_decryption; i++) {
		v[m++] = ks->old_decryption[i];
	}
	/* newest first: the names start with the time the pair was retired */
	for (size_t i = k; i > 0; i--) {
		struct as4_keypair_config pair;
		const char *dir = join(c, olddir, names[i - 1]);
		if (dir != NULL && managed_pair(c, dir, &pair)) {
			v[m++] = pair;
		}
	}
	ks->old_decryption = v;
	ks->n_old_decryption = m;
	managed_names_free(names, k);
}

static void load_limits(struct lctx *c)
{
	struct as4_limits *l = &c->cfg->limits;
	const struct as4_conf_node *n = as4_conf_get(c->root, "limits");
	as4_limits_default(l);
#define LIMIT(field, type)                                                                         \
	if (as4_conf_given(n, #field)) {                                                           \
		l->field = (type)as4_conf_num(n, #field);                                          \
	}
	LIMIT(max_body, size_t)
	LIMIT(max_parts, size_t)
	LIMIT(max_header_bytes, size_t)
	LIMIT(max_soap, size_t)
	LIMIT(max_xml_depth, size_t)
	LIMIT(max_xml_nodes, size_t)
	LIMIT(max_gunzip, uint64_t)
	LIMIT(max_gzip_ratio, uint32_t)
	LIMIT(max_api_body, size_t)
	LIMIT(max_api_upload, size_t)
	LIMIT(max_json_depth, size_t)
	LIMIT(max_smp_response, size_t)
	LIMIT(max_receipt, size_t)
	LIMIT(mem_spool_threshold, size_t)
#undef LIMIT
	if (l->max_soap > l->max_body) {
		as4_conf_error(c->errs, as4_conf_get(n, "max_soap"),
		               "must not be larger than limits.max_body");
	}
}

static void load_sender(struct lctx *c)
{
	struct as4_sender_config *s = &c->cfg->sender;
	const struct as4_conf_node *n = as4_conf_get(c->root, "sender");
	s->workers = (uint32_t)as4_conf_num(n, "workers");
	s->connect_timeout_ms = as4_conf_num(n, "connect_timeout");
	s->request_timeout_ms = as4_conf_num(n, "request_timeout");
	s->max_connections_per_host = (uint32_t)as4_conf_num(n, "max_connections_per_host");
	s->tls_verify = as4_conf_bool(n, "tls_verify");
	s->client_cert_path = path_of(c, n, "client_cert");
	s->client_key_path = path_of(c, n, "client_key");
	if ((s->client_cert_path == NULL) != (s->client_key_path == NULL)) {
		as4_conf_error(c->errs, n, "client_cert and client_key go together");
	}
	if (s->client_cert_path != NULL) {
		check_cert_file(c, as4_conf_get(n, "client_cert"), s->client_cert_path);
	}
	if (s->client_key_path != NULL) {
		check_key_file(c, as4_conf_get(n, "client_key"), s->client_key_path);
	}
	if (!s->tls_verify) {
		as4_conf_warn(c->errs, as4_conf_get(n, "tls_verify"),
		              "peers' TLS certificates are not verified: for test set-ups only");
	}
}

static void load_store_retention(struct lctx *c)
{
	struct as4_store_config *s = &c->cfg->store;
	struct as4_retention_config *r = &c->cfg->retention;
	const struct as4_conf_node *ret = as4_conf_get(c->root, "retention");
	s->map_size = as4_conf_num(c->root, "store.map_size");
	s->sync_interval_ms = as4_conf_num(c->root, "store.sync.interval");
	s->sync_batch = (uint32_t)as4_conf_num(c->root, "store.sync.batch");
	s->inline_max = as4_conf_num(c->root, "store.inline_max");
	r->outbound_delivered_ms = as4_conf_num(ret, "outbound.delivered");
	r->outbound_failed_ms = as4_conf_num(ret, "outbound.failed");
	r->inbound_delivered_ms = as4_conf_num(ret, "inbound.delivered");
	r->metadata_ms = as4_conf_num(ret, "metadata");
	r->dedup_window_ms = as4_conf_num(ret, "dedup_window");
	c->cfg->receiver.threads = (uint32_t)as4_conf_num(c->root, "receiver.threads");
	if (r->metadata_ms == 0) {
		return; /* records kept forever: payload times cannot exceed it */
	}
	static const char *const keys[] = {"outbound.delivered", "outbound.failed",
	                                   "inbound.delivered"};
	for (size_t i = 0; i < AS4_ARRAY_LEN(keys); i++) {
		uint64_t v = as4_conf_num(ret, keys[i]);
		if (v == 0 || v > r->metadata_ms) {
			as4_conf_error(
			        c->errs, as4_conf_get(ret, "metadata"),
			        "must be at least retention.%s (message records outlive their "
			        "payloads; 0 = forever)",
			        keys[i]);
		}
	}
}

static void load_log(struct lctx *c)
{
	static const enum as4_log_level levels[] = {AS4_LOG_ERR, AS4_LOG_WARNING, AS4_LOG_NOTICE,
	                                            AS4_LOG_INFO, AS4_LOG_DEBUG};
	struct as4_log_config *l = &c->cfg->log;
	const struct as4_conf_node *n = as4_conf_get(c->root, "log");
	l->format = as4_conf_num(n, "format") == 1 ? AS4_LOG_LOGFMT : AS4_LOG_JSON;
	l->level = levels[as4_conf_num(n, "level")];
	l->file = path_of(c, n, "file");
	if (l->file == NULL || c->no_files) {
		return;
	}
	const struct as4_conf_node *at = as4_conf_get(n, "file");
	struct stat st;
	if (stat(l->file, &st) == 0) {
		if (!S_ISREG(st.st_mode) || access(l->file, W_OK) != 0) {
			as4_conf_error(c->errs, at, "'%s' is not a writable file", l->file);
		}
		return;
	}
	char *copy = as4_arena_strdup(c->a, l->file);
	if (copy == NULL) {
		c->nomem = true;
		return;
	}
	char *slash = strrchr(copy, '/');
	if (slash == copy) {
		slash[1] = '\0';
	} else if (slash != NULL) {
		*slash = '\0';
	}
	check_dir_writable(c, at, slash != NULL ? copy : ".");
}

/* ebMS3 Core §5.2.2.4: a PartyId without @type must be a URI. */
static bool looks_like_uri(const char *s)
{
	const char *colon = strchr(s, ':');
	if (colon == NULL || colon == s) {
		return false;
	}
	for (const char *p = s; p < colon; p++) {
		char ch = *p;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		          (p > s &&
		           ((ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == '.'));
		if (!ok) {
			return false;
		}
	}
	return colon[1] != '\0';
}

/*
 * A dynamic party stands for any access point of a network (as4/pmode.h): one PartyId type,
 * no value (each access point's certificate CN is its value), no endpoint, no certificates.
 */
static void check_dynamic_party(struct lctx *c, const struct as4_conf_node *e)
{
	static const char *const keys[] = {"endpoint", "certificate", "tls_certificate"};
	const struct as4_conf_node *ids = as4_conf_get(e, "ids");
	for (size_t i = 0; i < AS4_ARRAY_LEN(keys); i++) {
		const struct as4_conf_node *n = as4_conf_get(e, keys[i]);
		if (n != NULL && !n->null) {
			as4_conf_error(c->errs, n,
			               "not used with dynamic: true (discovery finds each access "
			               "point's %s)",
			               i == 0 ? "endpoint" : "certificate");
		}
	}
	if (ids == NULL || ids->n_children != 1) {
		as4_conf_error(c->errs, ids != NULL ? ids : e,
		               "a dynamic party has exactly one id: its PartyId type, e.g. "
		               "{type: urn:fdc:peppol.eu:2017:identifiers:ap}");
		return;
	}
	const struct as4_conf_node *id = ids->child;
	if (as4_conf_str(id, "type") == NULL) {
		as4_conf_error(c->errs, id,
		               "a dynamic party's id needs a type (the PartyId type on the wire)");
	}
	const struct as4_conf_node *v = as4_conf_get(id, "value");
	if (v != NULL && !v->null) {
		as4_conf_error(c->errs, v,
		               "not used with dynamic: true (the value is the CN of each access "
		               "point's certificate)");
	}
}

static void load_parties(struct lctx *c)
{
	const struct as4_conf_node *list = as4_conf_get(c->root, "parties");
	size_t n = list != NULL ? list->n_children : 0;
	if (n == 0) {
		return;
	}
	struct as4_party *v = as4_arena_calloc(c->a, n, sizeof(*v));
	if (v == NULL) {
		c->nomem = true;
		return;
	}
	size_t i = 0;
	for (const struct as4_conf_node *e = list->child; e != NULL; e = e->next, i++) {
		struct as4_party *p = &v[i];
		const struct as4_conf_node *ids = as4_conf_get(e, "ids");
		p->name = cdup(c, as4_conf_str(e, "name"));
		p->endpoint = cdup(c, as4_conf_str(e, "endpoint"));
		p->cert_path = path_of(c, e, "certificate");
		p->tls_cert_path = path_of(c, e, "tls_certificate");
		p->dynamic = as4_conf_bool(e, "dynamic");
		if (p->dynamic) {
			check_dynamic_party(c, e);
		}
		if (p->cert_path != NULL) {
			check_cert_file(c, as4_conf_get(e, "certificate"), p->cert_path);
		}
		if (p->tls_cert_path != NULL) {
			check_cert_file(c, as4_conf_get(e, "tls_certificate"), p->tls_cert_path);
		}
		for (size_t j = 0; j < i && p->name != NULL; j++) {
			if (strcmp(v[j].name, p->name) == 0) {
				as4_conf_error(c->errs, as4_conf_get(e, "name"),
				               "duplicate party name '%s' (also parties[%zu])",
				               p->name, j);
			}
		}
		struct as4_party_id *pids = as4_arena_calloc(c->a, ids->n_children, sizeof(*pids));
		if (pids == NULL) {
			c->nomem = true;
			return;
		}
		for (const struct as4_conf_node *id = ids->child; id != NULL; id = id->next) {
			struct as4_party_id *pid = &pids[p->n_ids++];
			pid->type = cdup(c, as4_conf_str(id, "type"));
			pid->value = cdup(c, as4_conf_str(id, "value"));
			if (pid->value == NULL && !p->dynamic) {
				as4_conf_error(c->errs, id, "missing required key 'value'");
			}
			if (pid->value == NULL) {
				continue;
			}
			if (pid->type == NULL && !looks_like_uri(pid->value)) {
				char q[96];
				as4_conf_error(c->errs, as4_conf_get(id, "value"),
				               "a PartyId without type must be a URI (ebMS3 "
				               "§5.2.2.4), got "
				               "%s: add a type",
				               as4_conf_quote(pid->value, q, sizeof(q)));
			}
			/* an id must name one party, or received messages would be ambiguous */
			for (size_t j = 0; j <= i; j++) {
				size_t m = j == i ? p->n_ids - 1 : v[j].n_ids;
				const struct as4_party_id *o = j == i ? pids : v[j].ids;
				for (size_t k = 0; k < m; k++) {
					if (o[k].value != NULL &&
					    strcmp(o[k].value, pid->value) == 0 &&
					    ((o[k].type == NULL && pid->type == NULL) ||
					     (o[k].type != NULL && pid->type != NULL &&
					      strcmp(o[k].type, pid->type) == 0))) {
						as4_conf_error(
						        c->errs, id,
						        "PartyId '%s' is also declared for party "
						        "'%s'",
						        pid->value,
						        v[j].name != NULL ? v[j].name : "?");
					}
				}
			}
		}
		p->ids = pids;
	}
	c->cfg->parties = v;
	c->cfg->n_parties = n;
}

static void load_webhooks(struct lctx *c)
{
	struct as4_webhooks_config *w = &c->cfg->webhooks;
	const struct as4_conf_node *n = as4_conf_get(c->root, "webhooks");
	w->delivery_url = cdup(c, as4_conf_str(n, "delivery_url"));
	w->notification_url = cdup(c, as4_conf_str(n, "notification_url"));
	w->auth_header = cdup(c, as4_conf_str(n, "auth_header"));
	w->timeout_ms = as4_conf_num(n, "timeout");
}

static void load_discovery(struct lctx *c)
{
	const struct as4_conf_node *list = as4_conf_get(c->root, "discovery.networks");
	const struct as4_truststores_config *ts = &c->cfg->truststores;
	size_t n = list != NULL ? list->n_children : 0;
	if (n == 0) {
		return;
	}
	struct as4_discovery_network *v = as4_arena_calloc(c->a, n, sizeof(*v));
	if (v == NULL) {
		c->nomem = true;
		return;
	}
	size_t i = 0;
	for (const struct as4_conf_node *e = list->child; e != NULL; e = e->next, i++) {
		struct as4_discovery_network *d = &v[i];
		char host[64];
		d->name = cdup(c, as4_conf_str(e, "name"));
		for (size_t j = 0; j < i && d->name != NULL; j++) {
			if (strcmp(v[j].name, d->name) == 0) {
				as4_conf_error(c->errs, as4_conf_get(e, "name"),
				               "duplicate network name '%s'", d->name);
			}
		}
		/* a zone may be written with its trailing dot; URLs and names are built without it
		 */
		const char *zone = as4_conf_str(e, "sml_zone");
		if (zone != NULL) {
			size_t zl = strlen(zone);
			d->sml_zone = as4_arena_strndup(
			        c->a, zone, zl > 1 && zone[zl - 1] == '.' ? zl - 1 : zl);
			c->nomem = c->nomem || d->sml_zone == NULL;
		}
		d->hashing = (enum as4_sml_hashing)as4_conf_num(e, "hashing");
		d->smp_dialect = (enum as4_smp_dialect)as4_conf_num(e, "smp_dialect");
		d->smp_ca = cert_list(c, as4_conf_get(e, "smp_ca"), &d->n_smp_ca);
		d->ap_ca = cert_list(c, as4_conf_get(e, "ap_ca"), &d->n_ap_ca);
		if (d->n_smp_ca == 0) {
			d->smp_ca = ts->smp;
			d->n_smp_ca = ts->n_smp;
		}
		if (d->n_ap_ca == 0) {
			d->ap_ca = ts->as4;
			d->n_ap_ca = ts->n_as4;
		}
		if (d->n_smp_ca == 0) {
			as4_conf_error(
			        c->errs, e,
			        "no SMP CA: set smp_ca here or truststores.smp (SMP answers are "
			        "only trusted when their signer chains to one)");
		}
		if (d->n_ap_ca == 0) {
			as4_conf_error(c->errs, e,
			               "no access point CA: set ap_ca here or truststores.as4");
		}
		d->transport_profile = cdup(c, as4_conf_str(e, "transport_profile"));
		d->require_https = as4_conf_bool(e, "require_https");
		const char *dns = as4_conf_str(e, "dns_server");
		if (dns != NULL && parse_dns_server(dns, host, sizeof(host), &d->dns_port)) {
			d->dns_server = cdup(c, host);
		}
		d->cache_entries = (uint32_t)as4_conf_num(e, "cache_entries");
		d->cache_ttl_ms = as4_conf_num(e, "cache_ttl");
		d->timeout_ms = as4_conf_num(e, "timeout");
	}
	c->cfg->discovery.networks = v;
	c->cfg->discovery.n_networks = n;
}

static void load_tokens(struct lctx *c)
{
	const struct as4_conf_node *list = as4_conf_get(c->root, "api.tokens");
	size_t n = list != NULL ? list->n_children : 0;
	if (n == 0) {
		return;
	}
	struct as4_api_token *v = as4_arena_calloc(c->a, n, sizeof(*v));
	if (v == NULL) {
		c->nomem = true;
		return;
	}
	size_t i = 0;
	for (const struct as4_conf_node *e = list->child; e != NULL; e = e->next, i++) {
		struct as4_api_token *t = &v[i];
		const char *hex = as4_conf_str(e, "sha256");
		t->name = cdup(c, as4_conf_str(e, "name"));
		t->role = (enum as4_api_role)as4_conf_num(e, "role");
		for (size_t k = 0; hex != NULL && k < 32; k++) {
			char pair[3] = {hex[2 * k], hex[2 * k + 1], '\0'};
			t->sha256[k] = (uint8_t)strtoul(pair, NULL, 16);
		}
		t->pmodes = str_list(c, as4_conf_get(e, "pmodes"), &t->n_pmodes);
		t->parties = str_list(c, as4_conf_get(e, "parties"), &t->n_parties);
		for (size_t k = 0; k < t->n_parties; k++) {
			if (as4_config_party(c->cfg, t->parties[k]) == NULL) {
				const struct as4_conf_node *at = as4_conf_get(e, "parties")->child;
				for (size_t s = 0; s < k; s++) {
					at = at->next;
				}
				as4_conf_error(c->errs, at, "unknown party '%s'", t->parties[k]);
			}
		}
		for (size_t j = 0; j < i; j++) {
			if (t->name != NULL && strcmp(v[j].name, t->name) == 0) {
				as4_conf_error(c->errs, as4_conf_get(e, "name"),
				               "duplicate token name '%s'", t->name);
			}
			if (memcmp(v[j].sha256, t->sha256, sizeof(t->sha256)) == 0) {
				as4_conf_error(
				        c->errs, as4_conf_get(e, "sha256"),
				        "the same token as '%s': every token must be different",
				        v[j].name);
			}
		}
	}
	c->cfg->api.tokens = v;
	c->cfg->api.n_tokens = n;
}

/* Token restrictions to PModes can only be checked once the PModes are loaded. */
static void check_token_pmodes(struct lctx *c)
{
	const struct as4_conf_node *list = as4_conf_get(c->root, "api.tokens");
	size_t i = 0;
	for (const struct as4_conf_node *e = list != NULL ? list->child : NULL; e != NULL;
	     e = e->next, i++) {
		const struct as4_conf_node *pm = as4_conf_get(e, "pmodes");
		for (const struct as4_conf_node *x = pm != NULL ? pm->child : NULL; x != NULL;
		     x = x->next) {
			if (as4_pmode_find(c->cfg->pmodes, x->text) == NULL) {
				as4_conf_error(c->errs, x, "unknown PMode '%s'", x->text);
			}
		}
	}
}

/* ---- PModes ------------------------------------------------------------------------------- */

/* What PMode documents may refer to in cfg; network names are allocated in a. */
static bool fill_refs(struct as4_arena *a, const struct as4_config *cfg, struct as4_pmode_refs *r)
{
	memset(r, 0, sizeof(*r));
	r->parties = cfg->parties;
	r->n_parties = cfg->n_parties;
	r->self = cfg->node.party;
	r->max_dedup_window_ms = cfg->retention.dedup_window_ms;
	if (cfg->discovery.n_networks > 0) {
		const char **names =
		        as4_arena_calloc(a, cfg->discovery.n_networks + 1, sizeof(*names));
		if (names == NULL) {
			return false;
		}
		for (size_t i = 0; i < cfg->discovery.n_networks; i++) {
			names[i] = cfg->discovery.networks[i].name;
		}
		r->networks = names;
		r->n_networks = cfg->discovery.n_networks;
	}
	return true;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool pmode_file(const char *name)
{
	return name[0] != '.' && (as4_str_ends(name, ".yaml") || as4_str_ends(name, ".yml") ||
	                          as4_str_ends(name, ".json"));
}

/* Where a PMode document names its id (or the document itself when the id is implicit). */
static const struct as4_conf_node *id_node(const struct as4_conf_doc *doc)
{
	const struct as4_conf_node *pm = as4_conf_get(doc->root, "pmode");
	const struct as4_conf_node *id = as4_conf_get(pm, "id");
	return id != NULL ? id : pm;
}

/* Ids and match keys must be unique across the PModes built so far. */
static void check_unique(struct as4_conf_errors *errs, const struct as4_pmode *v,
                         struct as4_conf_doc *const *docs, size_t n)
{
	for (size_t j = 1; j < n; j++) {
		if (docs[j] == NULL || v[j].id == NULL) {
			continue;
		}
		for (size_t i = 0; i < j; i++) {
			if (docs[i] == NULL || v[i].id == NULL) {
				continue;
			}
			if (strcmp(v[i].id, v[j].id) == 0) {
				as4_conf_error(errs, id_node(docs[j]),
				               "duplicate PMode id '%s' (also in %s)", v[j].id,
				               v[i].source);
			} else if (v[i].initiator != NULL && v[j].initiator != NULL &&
			           v[i].responder != NULL && v[j].responder != NULL &&
			           as4_pmode_same_key(&v[i], &v[j])) {
				as4_conf_error(
				        errs, as4_conf_get(docs[j]->root, "pmode"),
				        "PMode '%s' matches the same messages as PMode '%s' (%s): "
				        "agreement, parties, roles, service, action or MPC must "
				        "differ",
				        v[j].id, v[i].id, v[i].source);
			}
		}
	}
}

static void load_pmodes(struct lctx *c, const char *dir, const struct as4_conf_node *at)
{
	struct as4_pmode_refs refs;
	char **names = NULL;
	struct as4_conf_doc **docs = NULL;
	struct as4_pmode *v = NULL;
	size_t n = 0;
	DIR *d = opendir(dir);
	if (d == NULL) {
		as4_conf_error(c->errs, at, "cannot read the PMode folder '%s': %s", dir,
		               strerror(errno));
		return;
	}
	names = calloc(PMODE_FILES_MAX, sizeof(*names));
	if (names == NULL) {
		c->nomem = true;
		goto out;
	}
	for (struct dirent *de = readdir(d); de != NULL; de = readdir(d)) {
		if (!pmode_file(de->d_name)) {
			continue;
		}
		if (n == PMODE_FILES_MAX) {
			as4_conf_error(c->errs, at, "more than %d PMode files in '%s'",
			               PMODE_FILES_MAX, dir);
			goto out;
		}
		names[n] = as4_str_dup(de->d_name);
		if (names[n++] == NULL) {
			c->nomem = true;
			goto out;
		}
	}
	qsort(names, n, sizeof(*names), name_cmp);
	docs = calloc(n + 1, sizeof(*docs));
	v = as4_arena_calloc(c->a, n + 1, sizeof(*v));
	if (docs == NULL || v == NULL || !fill_refs(c->a, c->cfg, &refs)) {
		c->nomem = true;
		goto out;
	}
	for (size_t i = 0; i < n && !c->nomem; i++) {
		const char *path = join(c, dir, names[i]);
		char *id = as4_str_dup(names[i]);
		if (path == NULL || id == NULL) {
			free(id);
			c->nomem = true;
			break;
		}
		*strrchr(id, '.') = '\0';
		as4_err err = as4_conf_load_file(path, NULL, &docs[i], c->errs);
		if (err == AS4_OK) {
			err = as4_pmode_build(docs[i], id, &refs, c->a, &v[i], c->errs);
		}
		c->nomem = c->nomem || err == AS4_E_NOMEM;
		if (err != AS4_OK) {
			/* reported; leave it out of the uniqueness checks */
			as4_conf_doc_free(docs[i]);
			docs[i] = NULL;
		}
		free(id);
	}
	check_unique(c->errs, v, docs, n);
	if (as4_pmode_set_from_array(v, n, &c->cfg->pmodes) != AS4_OK) {
		/* only reached with errors already reported (duplicate or missing ids) */
		if (as4_pmode_set_from_array(NULL, 0, &c->cfg->pmodes) != AS4_OK) {
			c->nomem = true;
		}
	}
out:
	closedir(d);
	for (size_t i = 0; docs != NULL && i < n; i++) {
		as4_conf_doc_free(docs[i]);
	}
	free(docs);
	for (size_t i = 0; names != NULL && i < n; i++) {
		free(names[i]);
	}
	free(names);
}

/* ---- Loading ------------------------------------------------------------------------------ */

/* The folder of a file path as given ("conf" for "conf/as4d.yaml", "." for "as4d.yaml"). */
static const char *dir_of(struct lctx *c, const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL) {
		return cdup(c, ".");
	}
	if (slash == path) {
		return cdup(c, "/");
	}
	char *d = as4_arena_strndup(c->a, path, (size_t)(slash - path));
	c->nomem = c->nomem || d == NULL;
	return d;
}

static void load_node(struct lctx *c)
{
	struct as4_config *cfg = c->cfg;
	const struct as4_conf_node *n = as4_conf_get(c->root, "node");
	char real[PATH_MAX];
	/* node.base_dir is relative to the folder of as4d.yaml and made absolute once */
	const char *base = join(c, c->conf_dir, as4_conf_str(n, "base_dir"));
	if (base == NULL) {
		base = c->conf_dir;
	}
	c->base = base;
	if (base != NULL && realpath(base, real) != NULL) {
		c->base = cdup(c, real);
	} else if (base != NULL) {
		const struct as4_conf_node *at = as4_conf_get(n, "base_dir");
		as4_conf_error(c->errs, at != NULL ? at : n, "cannot use '%s' as base_dir: %s",
		               base, strerror(errno));
		c->base_bad = true;
	}
	cfg->base_dir = c->base;
	cfg->node.name = cdup(c, as4_conf_str(n, "name"));
	cfg->node.data_dir = path_of(c, n, "data_dir");
	cfg->node.spool_dir = join(c, cfg->node.data_dir, "spool");
	if (cfg->node.data_dir != NULL) {
		check_dir_writable(c, as4_conf_get(n, "data_dir"), cfg->node.data_dir);
	}
}

static void load_pmode_folder(struct lctx *c, const struct as4_config_options *o)
{
	struct as4_config *cfg = c->cfg;
	const struct as4_conf_node *n = as4_conf_get(c->root, "node");
	const struct as4_conf_node *at = as4_conf_get(n, "pmode_dir");
	if (o->skip_pmodes) {
		if (as4_pmode_set_from_array(NULL, 0, &cfg->pmodes) != AS4_OK) {
			c->nomem = true;
		}
		return;
	}
	if (o->pmode_dir != NULL) {
		cfg->pmode_dir = cdup(c, o->pmode_dir);
		at = NULL;
	} else if (at != NULL) {
		cfg->pmode_dir = path_of(c, n, "pmode_dir");
	} else {
		/* default: the folder "pmodes" next to as4d.yaml */
		cfg->pmode_dir = join(c, c->conf_dir, "pmodes");
		at = n;
	}
	if (cfg->pmode_dir != NULL) {
		load_pmodes(c, cfg->pmode_dir, at);
	}
	if (cfg->pmodes == NULL && as4_pmode_set_from_array(NULL, 0, &cfg->pmodes) != AS4_OK) {
		c->nomem = true;
	}
}

as4_err as4_config_load(const char *path, const struct as4_config_options *opt,
                        struct as4_config **out, struct as4_conf_errors *errs)
{
	struct as4_config_options o;
	struct as4_conf_errors local;
	struct as4_conf_doc *doc = NULL;
	struct as4_config *cfg = NULL;
	struct lctx c;
	as4_err err = AS4_OK;
	*out = NULL;
	if (errs == NULL) {
		as4_conf_errors_init(&local, 1);
		errs = &local;
	}
	size_t before = errs->n_errors;
	memset(&o, 0, sizeof(o));
	if (opt != NULL) {
		o = *opt;
	}
	memset(&c, 0, sizeof(c));
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL || (cfg->arena_ = as4_arena_new(64 * 1024)) == NULL) {
		free(cfg);
		cfg = NULL;
		err = AS4_E_NOMEM;
		goto out;
	}
	atomic_init(&cfg->refs_, 1);
	c.cfg = cfg;
	c.a = cfg->arena_;
	c.errs = errs;
	c.now_ms = o.now_ms != 0 ? o.now_ms : as4_time_now_ms();
	c.warn_ms = o.expiry_warning_ms != 0 ? o.expiry_warning_ms : EXPIRY_WARNING_MS;
	c.no_files = o.no_file_checks;
	cfg->path = cdup(&c, path);
	o.pmode_dir = cdup(&c, o.pmode_dir);
	cfg->opts_ = o;
	c.conf_dir = dir_of(&c, path);

	err = as4_conf_load_file(path, NULL, &doc, errs);
	if (err == AS4_OK) {
		err = as4_conf_validate(doc, &config_schema, errs);
	}
	if (err != AS4_OK || c.nomem) {
		/* unreadable, unparsable or over a cap: all "invalid configuration", errs says how
		 */
		err = err == AS4_E_NOMEM || c.nomem ? AS4_E_NOMEM : AS4_E_CONFIG;
		goto out;
	}
	c.root = doc->root;
	load_node(&c);
	if (c.base_bad) {
		err = AS4_E_CONFIG;
		goto out;
	}
	load_listeners(&c);
	load_keystore(&c);
	load_truststores(&c);
	load_managed(&c);
	load_limits(&c);
	load_sender(&c);
	load_store_retention(&c);
	load_log(&c);
	load_parties(&c);
	load_webhooks(&c);
	load_discovery(&c);
	const char *self = as4_conf_str(c.root, "node.party");
	cfg->node.party = as4_config_party(cfg, self);
	if (cfg->node.party == NULL && cfg->n_parties > 0) {
		as4_conf_error(
		        errs, as4_conf_get(c.root, "node.party"),
		        "unknown party '%s': declare this access point under parties:", self);
	} else if (cfg->node.party != NULL && cfg->node.party->dynamic) {
		as4_conf_error(errs, as4_conf_get(c.root, "node.party"),
		               "party '%s' is dynamic (any access point of a network): this access "
		               "point needs a party with its own PartyId",
		               self);
	}
	load_tokens(&c);
	struct as4_medcom_load ml = {cfg, c.a, errs, c.root, c.base, false};
	as4_medcom_config_load(&ml);
	c.nomem = c.nomem || ml.nomem;
	if (!c.nomem && errs->n_errors == before) {
		/* PModes refer to parties and networks: only worth reading when those are sound */
		load_pmode_folder(&c, &o);
		/* a broken PMode file is reported once, not again by every token naming it */
		if (!o.skip_pmodes && cfg->pmodes != NULL && errs->n_errors == before) {
			check_token_pmodes(&c);
		}
	}
	err = c.nomem ? AS4_E_NOMEM : errs->n_errors != before ? AS4_E_CONFIG : AS4_OK;
out:
	as4_conf_doc_free(doc);
	if (err == AS4_E_NOMEM) {
		as4_conf_error_at(errs, path, 0, NULL, "out of memory while loading");
	}
	if (err != AS4_OK) {
		as4_config_free(cfg);
	} else {
		*out = cfg;
	}
	if (errs == &local) {
		as4_conf_errors_cleanup(&local);
	}
	return err;
}

as4_err as4_config_reload(const struct as4_config *old, struct as4_config **out,
                          struct as4_conf_errors *errs)
{
	return as4_config_load(old->path, &old->opts_, out, errs);
}

struct as4_config *as4_config_ref(struct as4_config *cfg)
{
	atomic_fetch_add_explicit(&cfg->refs_, 1, memory_order_relaxed);
	return cfg;
}

void as4_config_free(struct as4_config *cfg)
{
	if (cfg == NULL) {
		return;
	}
	if (atomic_fetch_sub_explicit(&cfg->refs_, 1, memory_order_acq_rel) != 1) {
		return;
	}
	as4_pmode_set_free(cfg->pmodes);
	as4_arena_free(cfg->arena_);
	free(cfg);
}

/* ---- Lookups ------------------------------------------------------------------------------ */

const struct as4_party *as4_config_party(const struct as4_config *cfg, const char *name)
{
	for (size_t i = 0; name != NULL && i < cfg->n_parties; i++) {
		if (cfg->parties[i].name != NULL && strcmp(cfg->parties[i].name, name) == 0) {
			return &cfg->parties[i];
		}
	}
	return NULL;
}

const struct as4_party *as4_config_party_by_id(const struct as4_config *cfg, const char *type,
                                               const char *value)
{
	for (size_t i = 0; value != NULL && i < cfg->n_parties; i++) {
		const struct as4_party *p = &cfg->parties[i];
		for (size_t j = 0; j < p->n_ids; j++) {
			const struct as4_party_id *id = &p->ids[j];
			bool type_ok =
			        (type == NULL && id->type == NULL) ||
			        (type != NULL && id->type != NULL && strcmp(type, id->type) == 0);
			if (type_ok && id->value != NULL && strcmp(id->value, value) == 0) {
				return p;
			}
		}
	}
	/* no configured partner: a dynamic party stands for every access point of its type */
	for (size_t i = 0; value != NULL && value[0] != '\0' && i < cfg->n_parties; i++) {
		const struct as4_party *p = &cfg->parties[i];
		const char *t = p->n_ids == 1 ? p->ids[0].type : NULL;
		if (p->dynamic && ((type == NULL && t == NULL) ||
		                   (type != NULL && t != NULL && strcmp(type, t) == 0))) {
			return p;
		}
	}
	return NULL;
}

const struct as4_discovery_network *as4_config_network(const struct as4_config *cfg,
                                                       const char *name)
{
	for (size_t i = 0; name != NULL && i < cfg->discovery.n_networks; i++) {
		if (strcmp(cfg->discovery.networks[i].name, name) == 0) {
			return &cfg->discovery.networks[i];
		}
	}
	return NULL;
}

const char *as4_api_role_name(enum as4_api_role role)
{
	switch (role) {
	case AS4_API_ROLE_READER:
		return "reader";
	case AS4_API_ROLE_SUBMITTER:
		return "submitter";
	default:
		return "admin";
	}
}

as4_err as4_config_token_check(const struct as4_config *cfg, const char *token, size_t len,
                               const struct as4_api_token **out)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	const struct as4_api_token *found = NULL;
	*out = NULL;
	if (token == NULL || len == 0) {
		return AS4_E_NOTFOUND;
	}
	if (EVP_Digest(token, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		ERR_clear_error();
		return AS4_E_CRYPTO;
	}
	/* compare with every hash, whatever matched, so timing does not depend on the match */
	for (size_t i = 0; i < cfg->api.n_tokens; i++) {
		bool eq = as4_ct_equal(md, cfg->api.tokens[i].sha256, 32);
		found = eq ? &cfg->api.tokens[i] : found;
	}
	if (found == NULL) {
		return AS4_E_NOTFOUND;
	}
	*out = found;
	return AS4_OK;
}

/* ---- One PMode document against a configuration ------------------------------------------ */

as4_err as4_config_pmode_validate(const struct as4_config *cfg, const uint8_t *text, size_t len,
                                  bool json, const char *source, const char *default_id,
                                  bool check_duplicate, struct as4_pmode_set **out,
                                  struct as4_conf_errors *errs)
{
	struct as4_conf_doc *doc = NULL;
	struct as4_pmode *pm = NULL;
	struct as4_pmode_refs refs;
	size_t before = errs->n_errors;
	as4_err err;
	if (out != NULL) {
		*out = NULL;
	}
	struct as4_arena *a = as4_arena_new(8 * 1024);
	if (a == NULL) {
		return AS4_E_NOMEM;
	}
	err = json ? as4_conf_parse_json(text, len, source, NULL, &doc, errs)
	           : as4_conf_parse_yaml(text, len, source, NULL, &doc, errs);
	if (err != AS4_OK) {
		goto out;
	}
	pm = as4_arena_calloc(a, 1, sizeof(*pm));
	if (pm == NULL || !fill_refs(a, cfg, &refs)) {
		err = AS4_E_NOMEM;
		goto out;
	}
	err = as4_pmode_build(doc, default_id, &refs, a, pm, errs);
	if (err != AS4_OK) {
		goto out;
	}
	for (size_t i = 0; i < as4_pmode_count(cfg->pmodes); i++) {
		const struct as4_pmode *o = as4_pmode_at(cfg->pmodes, i);
		bool same_id = strcmp(o->id, pm->id) == 0;
		if (same_id && check_duplicate) {
			as4_conf_error(errs, id_node(doc),
			               "a PMode with id '%s' already exists (%s)", pm->id,
			               o->source);
		} else if (!same_id && as4_pmode_same_key(o, pm)) {
			as4_conf_error(errs, as4_conf_get(doc->root, "pmode"),
			               "matches the same messages as PMode '%s' (%s): agreement, "
			               "parties, roles, service, action or MPC must differ",
			               o->id, o->source);
		}
	}
	err = errs->n_errors != before ? AS4_E_CONFIG : AS4_OK;
	if (err == AS4_OK && out != NULL) {
		err = as4_pmode_set_adopt(pm, 1, a, out);
		if (err == AS4_OK) {
			a = NULL; /* now owned by the set */
		}
	}
out:
	as4_conf_doc_free(doc);
	as4_arena_free(a);
	return err;
}

/* ---- Published snapshot ------------------------------------------------------------------- */

as4_err as4_config_slot_init(struct as4_config_slot *slot, struct as4_config *cfg)
{
	if (pthread_mutex_init(&slot->lock, NULL) != 0) {
		return AS4_E_INTERNAL;
	}
	slot->cur = cfg;
	return AS4_OK;
}

void as4_config_slot_cleanup(struct as4_config_slot *slot)
{
	as4_config_free(slot->cur);
	slot->cur = NULL;
	pthread_mutex_destroy(&slot->lock);
}

struct as4_config *as4_config_slot_get(struct as4_config_slot *slot)
{
	/* the lock makes "read the pointer, add a reference" atomic with respect to swaps */
	pthread_mutex_lock(&slot->lock);
	struct as4_config *cfg = slot->cur != NULL ? as4_config_ref(slot->cur) : NULL;
	pthread_mutex_unlock(&slot->lock);
	return cfg;
}

void as4_config_slot_swap(struct as4_config_slot *slot, struct as4_config *cfg)
{
	pthread_mutex_lock(&slot->lock);
	struct as4_config *old = slot->cur;
	slot->cur = cfg;
	pthread_mutex_unlock(&slot->lock);
	as4_config_free(old);
}
