/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The as4d configuration (L2): conf/as4d.yaml plus every PMode file of the PMode directory,
 * read into one immutable snapshot (struct as4_config). Every key, type and default is listed
 * in docs/admin-guide.md "Configuration"; the schema tables live in ap/pmode/config.c and
 * ap/pmode/pmode.c (STYLE rule 16).
 *
 * Everything is checked at load, so that runtime code never re-validates: types and bounds,
 * unknown keys, that every referenced file exists and is readable, that certificates parse
 * (and are valid now), that private key files are not readable by group or others, that PModes
 * reference declared parties and discovery networks, that PMode ids and match keys are unique,
 * that URLs are http(s) URLs, that the data directory is writable or can be created. All
 * problems of all files are collected (struct as4_conf_errors) in the form
 *   "conf/pmodes/x.yaml:12: pmode.security.sign: expected true or false, got 'yes please'".
 * Loading has no side effects (nothing is created or written).
 *
 * Relative paths in as4d.yaml are resolved against node.base_dir, which is itself relative to
 * the folder holding as4d.yaml and defaults to that folder. conf/as4d.yaml sets
 * `base_dir: ..`, so its paths (certs/dev/..., data) are relative to the repository root
 * wherever as4d is started from.
 *
 * Lifetime: a snapshot is reference-counted. as4_config_load() returns one reference;
 * as4_config_ref() adds one and as4_config_free() drops one (the last one frees). Every pointer
 * inside a snapshot (strings, parties, PModes, tokens) is valid while the caller holds a
 * reference. A snapshot is never modified after loading, so any number of threads may read it.
 * Reload builds a complete new snapshot (as4_config_reload()) and the edge publishes it through
 * a struct as4_config_slot: threads that still hold the old snapshot keep using it until they
 * drop their reference.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "as4/compiler.h"
#include "as4/conf.h"
#include "as4/diag.h"
#include "as4/err.h"
#include "as4/limits.h"
#include "as4/log.h"
#include "as4/pmode.h"

/* TLS protocol floor of a listener. */
enum as4_tls_min {
	AS4_TLS_MIN_1_2 = 0, /* TLS 1.2 and 1.3 */
	AS4_TLS_MIN_1_3,     /* TLS 1.3 only */
};

/* TLS settings of a listener (listeners.msh.tls, listeners.api.tls). */
struct as4_tls_config {
	bool enabled;             /* false: plain HTTP (development, or TLS ends in a proxy) */
	const char *cert_path;    /* certificate chain, PEM; NULL when !enabled */
	const char *key_path;     /* private key, PEM (mode 0600 checked); NULL when !enabled */
	const char *client_ca;    /* CAs for client certificates (one PEM file); NULL = none */
	bool require_client_cert; /* mTLS: refuse clients without a verified certificate */
	enum as4_tls_min min_version;
};

/* One HTTP listener. */
struct as4_listener_config {
	const char *address; /* IPv4 or IPv6 literal to bind ("127.0.0.1", "::") */
	uint16_t port;       /* 1..65535 */
	const char *path;    /* MSH: URL path of the endpoint ("/as4"); API: NULL */
	struct as4_tls_config tls;
};

/* A private key file and its certificate (chain) file, both PEM. */
struct as4_keypair_config {
	const char *key_path;  /* resolved path; mode 0600 checked */
	const char *cert_path; /* resolved path; parsed and checked valid at load */
};

/* keystore: our AS4 keys. */
struct as4_keystore_config {
	struct as4_keypair_config signing;    /* signs messages, receipts and errors */
	struct as4_keypair_config encryption; /* receives encrypted messages; default = signing */
	const struct as4_keypair_config *old_decryption; /* earlier encryption keys (rollover) */
	size_t n_old_decryption;
};

/* truststores: CA certificate files (PEM or DER, several PEM blocks allowed per file). */
struct as4_truststores_config {
	const char *const *as4; /* CAs AS4 signers must chain to */
	size_t n_as4;
	const char *const *tls; /* CAs for outgoing HTTPS; none = the system store */
	size_t n_tls;
	const char *const *smp; /* CAs SMP signers must chain to (default for networks) */
	size_t n_smp;
};

/* sender: outbound workers. */
struct as4_sender_config {
	uint32_t workers;            /* send worker threads */
	uint64_t connect_timeout_ms; /* TCP + TLS connect */
	uint64_t request_timeout_ms; /* whole exchange, unless the PMode's timeout is shorter */
	uint32_t max_connections_per_host; /* concurrent connections to one peer */
	bool tls_verify;                   /* false: do not verify peers (test set-ups only) */
	const char *client_cert_path;      /* TLS client certificate for mTLS; NULL = none */
	const char *client_key_path;       /* its key (mode 0600 checked); NULL = none */
};

/* store: the LMDB environment. */
struct as4_store_config {
	uint64_t map_size;         /* LMDB map size in bytes */
	uint64_t sync_interval_ms; /* group commit: longest wait before an fsync */
	uint32_t sync_batch;       /* group commit: commit at once after this many writes */
	uint64_t inline_max;       /* blobs up to this size live in LMDB, not in spool files */
};

/* retention: how long things are kept (0 = forever). */
struct as4_retention_config {
	uint64_t outbound_delivered_ms; /* payloads of sent messages with a receipt */
	uint64_t outbound_failed_ms;    /* payloads of sent messages that failed */
	uint64_t inbound_delivered_ms;  /* payloads of received messages handed to the backend */
	uint64_t metadata_ms;           /* message records and events (>= every payload time) */
	uint64_t dedup_window_ms;       /* received MessageIds remembered (>= every PMode window) */
};

/* Roles of API tokens, from least to most powerful. */
enum as4_api_role {
	AS4_API_ROLE_READER = 0,    /* read messages and status */
	AS4_API_ROLE_SUBMITTER = 1, /* reader + submit and fetch messages */
	AS4_API_ROLE_ADMIN = 2,     /* everything, including configuration */
};

/* One API bearer token; only the SHA-256 of the secret is configured. */
struct as4_api_token {
	const char *name; /* shown in logs and audit events (never the secret) */
	enum as4_api_role role;
	uint8_t sha256[32];        /* SHA-256 of the token text */
	const char *const *pmodes; /* restricts to these PMode ids; n_pmodes 0 = all */
	size_t n_pmodes;
	const char *const *parties; /* restricts to these party names; n_parties 0 = all */
	size_t n_parties;
};

/* log: daemon logging. */
struct as4_log_config {
	enum as4_log_format format;
	enum as4_log_level level;
	const char *file; /* append to this file; NULL = standard error */
};

/* webhooks: calls to the backend. */
struct as4_webhooks_config {
	const char *delivery_url;     /* received messages are POSTed here; NULL = inbox only */
	const char *notification_url; /* status changes are POSTed here; NULL = none */
	const char *auth_header; /* "Name: value" header sent with both; NULL = none (secret) */
	uint64_t timeout_ms;     /* per call */
};

/* How participant identifiers become DNS names (SMP-NOTES.md §1.2). */
enum as4_sml_hashing {
	AS4_SML_PEPPOL = 0,    /* base32(sha256(lower(value))) + "." + scheme + "." + zone */
	AS4_SML_BDXL,          /* eDelivery BDXL 1.6: base32(sha256(scheme::value)) + zone */
	AS4_SML_PEPPOL_LEGACY, /* "B-" + hex(md5(lower(value))) + "." + scheme + "." + zone */
};

/* SMP protocol dialects (SMP-NOTES.md §2.1). */
enum as4_smp_dialect {
	AS4_SMP_PEPPOL = 0, /* Peppol SMP 1.x (busdox namespaces) */
	AS4_SMP_OASIS1,     /* OASIS BDXR SMP 1.0 */
	AS4_SMP_OASIS2,     /* OASIS BDXR SMP 2.0 */
};

/* One discovery network (discovery.networks[]); consumed by the smp-client. */
struct as4_discovery_network {
	const char *name;     /* referenced by PModes (responder.discovery_network) */
	const char *sml_zone; /* DNS zone, without trailing dot */
	enum as4_sml_hashing hashing;
	enum as4_smp_dialect smp_dialect;
	const char *const *smp_ca; /* SMP signer CAs; default truststores.smp */
	size_t n_smp_ca;
	const char *const *ap_ca; /* CAs of receiving access points; default truststores.as4 */
	size_t n_ap_ca;
	const char *transport_profile; /* e.g. "bdxr-transport-ebms3-as4-v1p0" */
	bool require_https;            /* refuse http:// SMP and endpoint URLs */
	const char *dns_server;        /* IP literal of the resolver; NULL = the system's */
	uint16_t dns_port;             /* its port (53 unless given as "127.0.0.1:5353") */
	uint32_t cache_entries;        /* most cached lookups */
	uint64_t cache_ttl_ms;         /* longest time a lookup is cached */
	uint64_t timeout_ms;           /* DNS and SMP request timeout */
};

/*
 * A participant this gateway serves (an end party, C4 of the four-corner model): configured in
 * as4d.yaml `participants:` or in the participants file the API manages (medcom.
 * participants_file). Received SBDH envelopes must be addressed to one of them.
 */
struct as4_participant {
	const char *gln;     /* 13 digits, GS1 check digit verified */
	const char *id;      /* "0088:<gln>", the iso6523-actorid-upis value */
	const char *sor;     /* SOR code of the unit, NULL = none */
	const char *name;    /* display name, NULL = none */
	const char *webhook; /* deliver this participant's messages here; NULL = the inbox */
	bool from_file;      /* declared in the participants file (changeable through the API) */
};

/* A document type the MedCom profile knows (medcom.documents[]). */
struct as4_medcom_document {
	const char *id;       /* the DOCUMENTID value, opaque, compared exactly */
	const char *name;     /* label for people, NULL = none */
	uint64_t max_payload; /* decoded FHIR bytes for this type; 0 = medcom.max_payload */
};

/* A static route: envelopes for participant go through the PModes whose responder is party. */
struct as4_medcom_route {
	const char *participant;       /* "0088:<GLN>", or "*" for every participant */
	const struct as4_party *party; /* the access point (C3) serving it */
};

/* medcom: the ehmiSBDH / MedCom profile (docs/admin-guide.md "MedCom profile"). */
struct as4_medcom_config {
	bool require_sbdh;          /* refuse received user messages without an SBDH payload */
	const char *const *schemes; /* participant ICDs accepted ("0088"); n 0 = {"0088"} */
	size_t n_schemes;
	const char *const *mime_types; /* BinaryContent types; n 0 = fhir+xml and fhir+json */
	size_t n_mime_types;
	uint64_t max_payload;        /* decoded FHIR bytes of any envelope */
	int routing;                 /* enum as4_sbdh_routing (as4/sbdh.h) */
	const char *document_scheme; /* Peppol convention: Action = scheme::DOCUMENTID */
	const char *process_scheme;  /* Peppol convention: Service/@type */
	const struct as4_medcom_document *documents; /* known types; n 0 = any */
	size_t n_documents;
	const char *const *processes; /* known PROCESSIDs; n 0 = any */
	size_t n_processes;
	const struct as4_medcom_route *routes;
	size_t n_routes;
	const char *participants_file; /* resolved path (default <data_dir>/participants.json) */
};

/* Options of a load (NULL = all defaults). */
struct as4_config_options {
	const char *pmode_dir; /* override node.pmode_dir (resolved against the cwd); NULL = none */
	bool skip_pmodes;      /* do not read the PMode folder (as4ctl pmode validate) */
	int64_t now_ms;        /* time certificates must be valid at; 0 = now */
	uint64_t expiry_warning_ms; /* warn about certificates expiring sooner; 0 = 30 days */
	bool no_file_checks;        /* check keys, values and references only, not the files and
	                               directories named (offline tools run by users who cannot read
	                               the daemon's keys); the daemon never sets it */
};

/* The whole configuration: immutable once loaded. */
struct as4_config {
	const char *path;      /* as4d.yaml as given to as4_config_load() */
	const char *base_dir;  /* where relative paths start (absolute or as given) */
	const char *pmode_dir; /* PMode files folder (resolved), NULL when PModes were skipped */

	struct {
		const char *name;              /* instance name, in logs and metrics */
		const struct as4_party *party; /* ourselves, one of parties[] */
		const char *data_dir;          /* LMDB environment and spool live here */
		const char *spool_dir;         /* data_dir + "/spool" */
		const char *managed_dir;       /* trust and keys managed through the API (resolved;
		                                  default data_dir + "/managed"), see
		                                  docs/admin-guide.md "Certificates" */
	} node;

	struct {
		struct as4_listener_config msh; /* public AS4 endpoint */
		struct as4_listener_config api; /* internal REST API and /metrics */
	} listeners;

	struct as4_keystore_config keystore;
	struct as4_truststores_config truststores;
	struct as4_limits limits;
	struct as4_sender_config sender;
	struct {
		uint32_t threads; /* connections served at once on the MSH listener */
	} receiver;
	struct as4_store_config store;
	struct as4_retention_config retention;
	struct {
		const struct as4_api_token *tokens;
		size_t n_tokens;
	} api;
	struct as4_log_config log;
	const struct as4_party *parties; /* every party, ourselves included */
	size_t n_parties;
	struct as4_webhooks_config webhooks;
	struct {
		const struct as4_discovery_network *networks;
		size_t n_networks;
	} discovery;
	struct as4_pmode_set *pmodes; /* every PMode of pmode_dir (empty when skipped) */
	struct as4_medcom_config medcom;
	const struct as4_participant *participants; /* as4d.yaml's, then the file's */
	size_t n_participants;

	/* private: reference count and storage; do not touch */
	atomic_uint refs_;
	struct as4_arena *arena_;
	struct as4_config_options opts_; /* as loaded (strings in arena_), for reloads */
};

/*
 * Load path (as4d.yaml) and the PMode files of its PMode folder (*.yaml, *.yml and *.json,
 * in name order; other files are ignored) into a new snapshot. All problems go to errs
 * (warnings too, e.g. certificates expiring within 30 days). On success *out holds one
 * reference. Errors:
 *   AS4_E_CONFIG  any error reported, including an unreadable or unparsable as4d.yaml
 *                 (errs holds them all, up to its cap; errs NULL = not kept)
 *   AS4_E_NOMEM
 * Not thread-safe with respect to errs; otherwise no shared state.
 */
AS4_MUST_CHECK as4_err as4_config_load(const char *path, const struct as4_config_options *opt,
                                       struct as4_config **out, struct as4_conf_errors *errs);

/*
 * Load the same files as old again (same path and options) into a new snapshot. old is not
 * touched; on failure nothing changes and the errors say why. Errors as as4_config_load().
 */
AS4_MUST_CHECK as4_err as4_config_reload(const struct as4_config *old, struct as4_config **out,
                                         struct as4_conf_errors *errs);

/* Add a reference to cfg; returns cfg. Thread-safe. */
struct as4_config *as4_config_ref(struct as4_config *cfg);

/* Drop a reference; the last one frees the snapshot and everything in it. NULL ok. Thread-safe. */
void as4_config_free(struct as4_config *cfg);

/* A party by configuration name, or NULL. Borrowed from cfg. */
const struct as4_party *as4_config_party(const struct as4_config *cfg, const char *name);

/*
 * The party owning the PartyId (type may be NULL = no type), or NULL: a configured id first,
 * else a dynamic party of that type (any access point of a network). Borrowed from cfg.
 */
const struct as4_party *as4_config_party_by_id(const struct as4_config *cfg, const char *type,
                                               const char *value);

/*
 * The participant with this id ("0088:<GLN>", "iso6523-actorid-upis::0088:<GLN>" or a bare
 * GLN), or NULL. Borrowed from cfg.
 */
const struct as4_participant *as4_config_participant(const struct as4_config *cfg, const char *id);

/* The known document type with this DOCUMENTID (exact), or NULL. Borrowed from cfg. */
const struct as4_medcom_document *as4_config_medcom_document(const struct as4_config *cfg,
                                                             const char *document_id);

struct as4_sbdh_rules;
struct as4_sbdh_network;

/*
 * Fill the SBDH profile rules and the routing convention of the medcom section (either may be
 * NULL). The pointers inside are borrowed from cfg. limits point to cfg->limits.
 */
void as4_config_sbdh_rules(const struct as4_config *cfg, struct as4_sbdh_rules *rules,
                           struct as4_sbdh_network *net);

/*
 * The schema of the participants file (a JSON or YAML document {"participants": [...]} with
 * the keys of as4d.yaml's participants[]). Static.
 */
const struct as4_conf_schema *as4_config_participants_schema(void);

/* A discovery network by name, or NULL. Borrowed from cfg. */
const struct as4_discovery_network *as4_config_network(const struct as4_config *cfg,
                                                       const char *name);

/*
 * Check a presented API bearer token: its SHA-256 is compared with every configured hash in
 * constant time (all of them, whatever matches), so timing tells nothing about which token or
 * how much of it matched. On success *out is the matching token (borrowed from cfg: name, role,
 * restrictions). AS4_E_NOTFOUND when no token matches (also for len 0); AS4_E_CRYPTO if hashing
 * fails. token need not be NUL-terminated. Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_config_token_check(const struct as4_config *cfg, const char *token,
                                              size_t len, const struct as4_api_token **out);

/* "reader", "submitter" or "admin". Static. */
const char *as4_api_role_name(enum as4_api_role role);

/*
 * Validate one PMode document (YAML, or JSON when json is true), as received by the API or
 * given to `as4ctl pmode validate`, exactly as the files of the PMode folder are validated:
 * schema, party and network references of cfg, our party on one side, dedup window within
 * retention. source labels the locations ("api", a file name). default_id is the id used when
 * the document has none (a file name without extension; NULL = the document must have one).
 * When check_duplicate is true, an id that cfg already has is an error (creating a PMode);
 * pass false to replace one.
 * On success, when out is not NULL, *out owns a new set holding just this PMode (free with
 * as4_pmode_set_free()); its parties are borrowed from cfg, so it must not outlive cfg.
 * errs must not be NULL. Errors (errs says where and why in every case):
 *   AS4_E_PARSE   not YAML/JSON, or YAML anchors, aliases, tags, duplicate keys (HTTP 400)
 *   AS4_E_LIMIT   over the document caps of as4_conf_limits_default() (HTTP 413)
 *   AS4_E_CONFIG  well-formed but invalid: a field, a reference, a duplicate (HTTP 422)
 *   AS4_E_NOMEM
 * Thread-safe as long as errs is not shared (cfg is only read).
 */
AS4_MUST_CHECK as4_err as4_config_pmode_validate(const struct as4_config *cfg, const uint8_t *text,
                                                 size_t len, bool json, const char *source,
                                                 const char *default_id, bool check_duplicate,
                                                 struct as4_pmode_set **out,
                                                 struct as4_conf_errors *errs);

/* The schema of as4d.yaml (static; for tests, tools and the fuzz target). */
const struct as4_conf_schema *as4_config_schema(void);

/*
 * The published snapshot of a running daemon (STYLE rule 13): readers take a reference,
 * a reload swaps in a new snapshot. The slot itself lives in the edge's struct as4_ap.
 */
struct as4_config_slot {
	pthread_mutex_t lock;   /* guards cur; held only to copy the pointer and count */
	struct as4_config *cur; /* the published snapshot (the slot holds one reference) */
};

/* Publish cfg in a new slot, taking over the caller's reference. AS4_E_INTERNAL (mutex). */
AS4_MUST_CHECK as4_err as4_config_slot_init(struct as4_config_slot *slot, struct as4_config *cfg);

/* Drop the slot's reference and destroy the lock. No other thread may use the slot. */
void as4_config_slot_cleanup(struct as4_config_slot *slot);

/* The current snapshot with a new reference (release with as4_config_free()). Thread-safe. */
struct as4_config *as4_config_slot_get(struct as4_config_slot *slot);

/*
 * Publish cfg (taking over the caller's reference) and drop the slot's reference to the
 * previous snapshot, which lives on until its last reader releases it. Thread-safe.
 */
void as4_config_slot_swap(struct as4_config_slot *slot, struct as4_config *cfg);
