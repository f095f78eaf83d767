/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PModes (L2): the agreements between this MSH and its partners (ebMS3 Appendix D, AS4 §3),
 * one YAML file per PMode in conf/pmodes/, the same documents as JSON through the admin API.
 *
 * A struct as4_pmode is immutable once loaded; it belongs to a PMode set (struct
 * as4_pmode_set), which belongs to a configuration snapshot. Every pointer inside is borrowed
 * from the set and valid until the set is freed. Sets are shared read-only between threads.
 *
 * Loading, validation and the document format are documented in docs/admin-guide.md.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "as4/compiler.h"
#include "as4/diag.h"
#include "as4/err.h"

/* ebMS3 defaults (ebMS3 Core §4.3 and Appendix D). */
#define AS4_DEFAULT_MPC    "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/defaultMPC"
#define AS4_ROLE_INITIATOR "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/initiator"
#define AS4_ROLE_RESPONDER "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/responder"
#define AS4_TEST_SERVICE   "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/service"
#define AS4_TEST_ACTION    "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/test"

/* One eb:PartyId. type NULL = no @type (the value must then be a URI). */
struct as4_party_id {
	const char *type;
	const char *value;
};

/*
 * A partner or ourselves, declared once in as4d.yaml `parties:` and referenced by name from
 * PModes.
 *
 * A dynamic party (`dynamic: true`) stands for every access point of a network rather than one
 * partner (eDelivery Dynamic Sender / Dynamic Receiver): it has exactly one id, whose type is
 * the PartyId type used on the wire (Peppol: urn:fdc:peppol.eu:2017:identifiers:ap) and whose
 * value is NULL, because the value is the CN of the access point's certificate. It has no
 * endpoint and no certificates. As a PMode responder it needs responder.discovery (the
 * endpoint and certificate come from the SMP); as an initiator it matches any From PartyId of
 * its type, and the receiving side requires the message's signer to chain to the AS4
 * truststore and its CN to equal that PartyId.
 */
struct as4_party {
	const char *name;         /* configuration name, e.g. "region-h" */
	struct as4_party_id *ids; /* >= 1 (exactly 1, value NULL, when dynamic) */
	size_t n_ids;
	const char *endpoint;      /* MSH URL (responders we send to); NULL = none/discovery */
	const char *cert_path;     /* AS4 signing/encryption certificate (PEM); NULL = none */
	const char *tls_cert_path; /* pinned TLS server/client certificate; NULL = none */
	bool dynamic;              /* any access point of a network (see above) */
};

enum as4_backoff { AS4_BACKOFF_CONSTANT = 0, AS4_BACKOFF_EXPONENTIAL };

struct as4_pmode_security {
	bool sign;           /* sign user messages (sender) / require signature (receiver) */
	bool encrypt;        /* encrypt payloads / require encryption */
	bool receipt_signed; /* receipts are signed (and must be signed when received) */
	bool pkipath;        /* send the chain as X509PKIPathv1 */
	int sig_alg;         /* enum as4_sig_alg */
	int key_transport;   /* enum as4_key_transport */
	int data_alg;        /* enum as4_data_alg */
	int keyref;          /* enum as4_keyref for the EncryptedKey */
};

struct as4_pmode_reliability {
	uint32_t retries;     /* attempts after the first one */
	uint64_t interval_ms; /* first retry interval */
	enum as4_backoff backoff;
	bool jitter;              /* +-20 % random jitter on each interval */
	uint64_t deadline_ms;     /* give up after this long since submission (0 = no cap) */
	uint64_t timeout_ms;      /* HTTP request timeout per attempt */
	bool duplicate_detection; /* receiver: eliminate duplicates */
	uint64_t dedup_window_ms; /* receiver: how long MessageIds are remembered */
};

struct as4_pmode {
	const char *id;     /* unique PMode id (the file name without .yaml by default) */
	const char *source; /* file it came from ("conf/pmodes/x.yaml") or "api" */
	const char *description;
	const char *agreement; /* eb:AgreementRef value; NULL = none */
	const char *agreement_type;
	const struct as4_party *initiator; /* From */
	const char *initiator_role;
	const struct as4_party *responder; /* To; its endpoint is where we send */
	const char *responder_role;
	bool responder_discovery;      /* responder endpoint and certificate come from SMP lookup */
	const char *discovery_network; /* network name for SMP lookup */
	const char *service;
	const char *service_type; /* NULL = none */
	const char *action;
	const char *mpc;
	/* payload profile */
	bool compress;        /* gzip every payload part when sending */
	uint64_t max_payload; /* per part, bytes (0 = limits.max_gunzip) */
	size_t min_parts;     /* payload parts expected (inclusive) */
	size_t max_parts;
	/* security; sign/encrypt false and no wss at all when `security: none` */
	bool security_none;
	struct as4_pmode_security security;
	struct as4_pmode_reliability reliability;
	/* error handling */
	bool report_errors_to_sender; /* answer errors to the sender (always true for Push) */
	bool notify_backend_errors;   /* tell the consumer about errors on received messages */
	const char *webhook;          /* deliver received messages here (NULL = inbox only) */
};

/* The key fields of a received UserMessage used to pick its PMode. */
struct as4_pmode_key {
	const char *agreement; /* NULL when absent */
	const char *agreement_type;
	const char *agreement_pmode; /* AgreementRef/@pmode, NULL when absent */
	const struct as4_party_id *from_ids;
	size_t n_from_ids;
	const char *from_role;
	const struct as4_party_id *to_ids;
	size_t n_to_ids;
	const char *to_role;
	const char *service;
	const char *service_type;
	const char *action;
	const char *mpc; /* NULL = default MPC */
};

struct as4_pmode_set; /* all PModes of one configuration snapshot */

/* Number of PModes in the set. */
size_t as4_pmode_count(const struct as4_pmode_set *set);

/* PMode by index (0..count-1); borrowed from the set. */
const struct as4_pmode *as4_pmode_at(const struct as4_pmode_set *set, size_t i);

/* PMode by id, or NULL; borrowed from the set. */
const struct as4_pmode *as4_pmode_find(const struct as4_pmode_set *set, const char *id);

/*
 * Choose the PMode for a received UserMessage: agreement (and @pmode when given), From/To
 * party ids and roles, service (and type), action, MPC must all match. A PMode whose
 * responder is ourselves and whose initiator is the sender is the candidate. When none
 * matches: AS4_E_PMODE_MISMATCH with a diagnostic naming the field that did not match on the
 * closest candidate and the value sent, e.g.
 *   "no PMode matches: action 'urn:x' not in PMode 'medcom-hn' (expects 'urn:y')".
 * Thread-safe.
 *
 * Rules in detail (docs/admin-guide.md "How a PMode is chosen"):
 * - A party matches when at least one PartyId sent (type and value, exact) is one of the
 *   party's configured ids; a dynamic party matches any non-empty PartyId of its type, and a
 *   PMode that matches only through a dynamic party is chosen only when no PMode matches with
 *   configured parties alone; roles, service, service type, action, agreement and its type are
 *   compared exactly; a PMode without agreement matches only messages without AgreementRef;
 *   a missing MPC is the default MPC.
 * - AgreementRef/@pmode naming one of our PModes restricts the choice to that PMode; a value
 *   we do not know is ignored (peers often send their own ids).
 * - Test service rule: a message for the ebMS test service (as4_pmode_is_test_service()) that
 *   no PMode matches fully is matched by its parties alone (From and To PartyIds, in the
 *   PMode's direction); the first such PMode gives its security and reliability settings.
 * - Several matching PModes cannot happen in a loaded configuration (match keys are unique);
 *   for a set built with as4_pmode_set_from_array() the first one wins.
 * - The closest candidate is the PMode matching the most fields (the first on a tie); the
 *   diagnostic names its first differing field and diag->field gets the eb: element path
 *   ("eb:CollaborationInfo/eb:Action").
 */
AS4_MUST_CHECK as4_err as4_pmode_match(const struct as4_pmode_set *set,
                                       const struct as4_pmode_key *key,
                                       const struct as4_pmode **out, struct as4_diag *d);

/* True when service/action are the ebMS test service (AS4-NOTES.md "Test service"). */
bool as4_pmode_is_test_service(const char *service, const char *action);

/*
 * A set over an array of PModes owned by the caller (tests and tools): the array and
 * everything it points to must outlive the set. *out owns the new set (free with
 * as4_pmode_set_free()). AS4_E_NOMEM; AS4_E_EXISTS when two ids repeat.
 */
AS4_MUST_CHECK as4_err as4_pmode_set_from_array(const struct as4_pmode *pmodes, size_t n,
                                                struct as4_pmode_set **out);

/* Free a set (and what it owns). NULL ok. */
void as4_pmode_set_free(struct as4_pmode_set *set);

/* ---- PMode documents ----------------------------------------------------------------------- */

struct as4_conf_schema;

/*
 * The schema table of a PMode document: the YAML files of conf/pmodes/ and the JSON documents
 * of the admin API (docs/admin-guide.md "PModes"). Static, thread-safe. Validation against the
 * configuration (parties, networks) is as4_config_pmode_validate() in as4/config.h.
 */
const struct as4_conf_schema *as4_pmode_schema(void);

/*
 * The document name of an algorithm or option value (the inverse of the PMode schema):
 * which = "signature_algorithm" (enum as4_sig_alg), "key_transport" (enum as4_key_transport),
 * "data_encryption" (enum as4_data_alg) or "key_reference" (enum as4_keyref). Returns e.g.
 * "rsa-sha256", or NULL for an unknown which/value. Static storage, thread-safe.
 */
const char *as4_pmode_value_name(const char *which, int value);

/*
 * True when two PModes would compete for the same received messages: same agreement (and
 * type), initiator and responder parties and roles, service (and type), action and MPC.
 */
bool as4_pmode_same_key(const struct as4_pmode *a, const struct as4_pmode *b);
