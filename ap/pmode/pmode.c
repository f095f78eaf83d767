/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PModes: the document schema, building a PMode from a validated document, PMode sets and
 * choosing the PMode of a received UserMessage with a precise EBMS:0010 diagnostic.
 */
#include "as4/pmode.h"

#include <stdlib.h>
#include <string.h>

#include "as4/conf.h"
#include "as4/str.h"
#include "pmode_int.h"

/* ---- Schema ------------------------------------------------------------------------------- */

/* The four option enums, in the numeric order of enum as4_sig_alg etc. in as4/wss.h. */
static const char *const sig_algs[] = {"rsa-sha256", "rsa-sha384", "rsa-sha512", NULL};
static const char *const key_transports[] = {"rsa-oaep-sha256", "rsa-oaep-mgf1p", NULL};
static const char *const data_algs[] = {"aes128-gcm", "aes192-gcm", "aes256-gcm", NULL};
static const char *const keyrefs[] = {"bst", "issuer-serial", "ski", NULL};
static const char *const sec_modes[] = {"wss", "none", NULL};
static const char *const backoffs[] = {"constant", "exponential", NULL};

bool as4_pmode_id_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128 || s[0] == '.') {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-')) {
			return false;
		}
	}
	return true;
}

static as4_err check_id(const struct as4_conf_node *n, char *why, size_t cap)
{
	if (as4_pmode_id_valid(n->text)) {
		return AS4_OK;
	}
	if (as4_str_copy(why, cap,
	                 "expected 1 to 128 characters from A-Z a-z 0-9 . _ - (not starting with "
	                 "'.')") != AS4_OK) {
		/* truncated reason */
	}
	return AS4_E_CONFIG;
}

#define MS_DAY (24ULL * 3600 * 1000)

static const struct as4_conf_item pmode_items[] = {
        {.path = "pmode", .type = AS4_CONF_SECTION, .flags = AS4_CONF_F_REQUIRED},
        {.path = "pmode.id", .type = AS4_CONF_STR, .max = 128, .check = check_id},
        {.path = "pmode.description", .type = AS4_CONF_STR, .max = 1024},
        {.path = "pmode.agreement", .type = AS4_CONF_STR, .max = 1024},
        {.path = "pmode.agreement_type", .type = AS4_CONF_STR, .max = 1024},
        {.path = "pmode.initiator",
         .type = AS4_CONF_SECTION,
         .flags = AS4_CONF_F_REQUIRED,
         .shorthand = "party"},
        {.path = "pmode.initiator.party",
         .type = AS4_CONF_STR,
         .flags = AS4_CONF_F_REQUIRED,
         .max = 128},
        {.path = "pmode.initiator.role",
         .type = AS4_CONF_STR,
         .max = 1024,
         .def = AS4_ROLE_INITIATOR},
        {.path = "pmode.responder",
         .type = AS4_CONF_SECTION,
         .flags = AS4_CONF_F_REQUIRED,
         .shorthand = "party"},
        {.path = "pmode.responder.party",
         .type = AS4_CONF_STR,
         .flags = AS4_CONF_F_REQUIRED,
         .max = 128},
        {.path = "pmode.responder.role",
         .type = AS4_CONF_STR,
         .max = 1024,
         .def = AS4_ROLE_RESPONDER},
        {.path = "pmode.responder.discovery", .type = AS4_CONF_BOOL, .def = "false"},
        {.path = "pmode.responder.discovery_network", .type = AS4_CONF_STR, .max = 128},
        {.path = "pmode.service", .type = AS4_CONF_STR, .flags = AS4_CONF_F_REQUIRED, .max = 1024},
        {.path = "pmode.service_type", .type = AS4_CONF_STR, .max = 1024},
        {.path = "pmode.action", .type = AS4_CONF_STR, .flags = AS4_CONF_F_REQUIRED, .max = 1024},
        {.path = "pmode.mpc", .type = AS4_CONF_STR, .max = 1024, .def = AS4_DEFAULT_MPC},
        {.path = "pmode.payload", .type = AS4_CONF_SECTION},
        {.path = "pmode.payload.compress", .type = AS4_CONF_BOOL, .def = "true"},
        {.path = "pmode.payload.max_size", .type = AS4_CONF_SIZE, .max = 1ULL << 40, .def = "0"},
        {.path = "pmode.payload.min_parts", .type = AS4_CONF_INT, .max = 1000, .def = "0"},
        {.path = "pmode.payload.max_parts", .type = AS4_CONF_INT, .max = 1000, .def = "63"},
        {.path = "pmode.security", .type = AS4_CONF_SECTION, .shorthand = "mode"},
        {.path = "pmode.security.mode", .type = AS4_CONF_ENUM, .enums = sec_modes, .def = "wss"},
        {.path = "pmode.security.sign", .type = AS4_CONF_BOOL, .def = "true"},
        {.path = "pmode.security.encrypt", .type = AS4_CONF_BOOL, .def = "true"},
        {.path = "pmode.security.receipt_signed", .type = AS4_CONF_BOOL, .def = "true"},
        {.path = "pmode.security.pkipath", .type = AS4_CONF_BOOL, .def = "false"},
        {.path = "pmode.security.signature_algorithm",
         .type = AS4_CONF_ENUM,
         .enums = sig_algs,
         .def = "rsa-sha256"},
        {.path = "pmode.security.key_transport",
         .type = AS4_CONF_ENUM,
         .enums = key_transports,
         .def = "rsa-oaep-sha256"},
        {.path = "pmode.security.data_encryption",
         .type = AS4_CONF_ENUM,
         .enums = data_algs,
         .def = "aes128-gcm"},
        {.path = "pmode.security.key_reference",
         .type = AS4_CONF_ENUM,
         .enums = keyrefs,
         .def = "bst"},
        {.path = "pmode.reliability", .type = AS4_CONF_SECTION},
        {.path = "pmode.reliability.retries", .type = AS4_CONF_INT, .max = 100, .def = "5"},
        {.path = "pmode.reliability.interval",
         .type = AS4_CONF_DURATION,
         .min = 1000,
         .max = 7 * MS_DAY,
         .def = "30s"},
        {.path = "pmode.reliability.backoff",
         .type = AS4_CONF_ENUM,
         .enums = backoffs,
         .def = "exponential"},
        {.path = "pmode.reliability.jitter", .type = AS4_CONF_BOOL, .def = "true"},
        {.path = "pmode.reliability.deadline",
         .type = AS4_CONF_DURATION,
         .max = 365 * MS_DAY,
         .def = "24h"},
        {.path = "pmode.reliability.timeout",
         .type = AS4_CONF_DURATION,
         .min = 1000,
         .max = 3600 * 1000,
         .def = "60s"},
        {.path = "pmode.reliability.duplicate_detection", .type = AS4_CONF_BOOL, .def = "true"},
        {.path = "pmode.reliability.dedup_window",
         .type = AS4_CONF_DURATION,
         .min = 60 * 1000,
         .max = 3650 * MS_DAY,
         .def = "30d"},
        {.path = "pmode.errors", .type = AS4_CONF_SECTION},
        {.path = "pmode.errors.notify_backend", .type = AS4_CONF_BOOL, .def = "true"},
        {.path = "pmode.webhook", .type = AS4_CONF_URL},
};

static const struct as4_conf_schema pmode_schema = {"PMode", pmode_items,
                                                    AS4_ARRAY_LEN(pmode_items)};

const struct as4_conf_schema *as4_pmode_schema(void)
{
	return &pmode_schema;
}

const char *as4_pmode_value_name(const char *which, int value)
{
	static const struct {
		const char *which;
		const char *const *names;
		int n;
	} tables[] = {
	        {"signature_algorithm", sig_algs, 3},
	        {"key_transport", key_transports, 2},
	        {"data_encryption", data_algs, 3},
	        {"key_reference", keyrefs, 3},
	};
	for (size_t i = 0; which != NULL && i < AS4_ARRAY_LEN(tables); i++) {
		if (strcmp(which, tables[i].which) == 0) {
			return value >= 0 && value < tables[i].n ? tables[i].names[value] : NULL;
		}
	}
	return NULL;
}

/* ---- Building a PMode from a document ----------------------------------------------------- */

struct bctx {
	struct as4_arena *a;
	struct as4_conf_errors *errs;
	bool nomem;
};

/* Arena copy of an optional string (NULL stays NULL). */
static const char *dup(struct bctx *b, const char *s)
{
	if (s == NULL) {
		return NULL;
	}
	char *c = as4_arena_strdup(b->a, s);
	if (c == NULL) {
		b->nomem = true;
	}
	return c;
}

static const struct as4_party *find_party(const struct as4_pmode_refs *r, const char *name)
{
	for (size_t i = 0; i < r->n_parties; i++) {
		if (strcmp(r->parties[i].name, name) == 0) {
			return &r->parties[i];
		}
	}
	return NULL;
}

/* Resolve pmode.<side>.party, reporting an unknown name with the closest declared one. */
static const struct as4_party *resolve_party(struct bctx *b, const struct as4_conf_node *pm,
                                             const char *side, const struct as4_pmode_refs *r)
{
	char key[32];
	char q[96];
	if (as4_str_fmt(key, sizeof(key), "%s.party", side) != AS4_OK) {
		return NULL;
	}
	const struct as4_conf_node *n = as4_conf_get(pm, key);
	if (n == NULL || n->kind != AS4_CONF_NODE_SCALAR || n->null || n->item == NULL) {
		return NULL; /* absent or malformed: already reported by the schema check */
	}
	const struct as4_party *p = find_party(r, n->text);
	if (p != NULL) {
		return p;
	}
	const char **names = as4_arena_calloc(b->a, r->n_parties + 1, sizeof(*names));
	if (names == NULL) {
		b->nomem = true;
		return NULL;
	}
	for (size_t i = 0; i < r->n_parties; i++) {
		names[i] = r->parties[i].name;
	}
	const char *s = as4_conf_suggest(n->text, (const char *const *)names);
	if (s != NULL) {
		as4_conf_error(b->errs, n, "unknown party %s (did you mean '%s'?)",
		               as4_conf_quote(n->text, q, sizeof(q)), s);
	} else {
		as4_conf_error(b->errs, n,
		               "unknown party %s: declare it under parties: in as4d.yaml",
		               as4_conf_quote(n->text, q, sizeof(q)));
	}
	return NULL;
}

static void check_security_none(struct bctx *b, const struct as4_conf_node *pm)
{
	static const char *const keys[] = {"sign", "encrypt", "receipt_signed", "pkipath"};
	const struct as4_conf_node *sec = as4_conf_get(pm, "security");
	for (size_t i = 0; i < AS4_ARRAY_LEN(keys); i++) {
		const struct as4_conf_node *n = as4_conf_get(sec, keys[i]);
		if (n != NULL && !n->is_default && n->flag) {
			as4_conf_error(b->errs, n, "cannot be true with security mode none");
		}
	}
}

/* Discovery: the network must exist; it may be left out when exactly one is configured. */
static void resolve_network(struct bctx *b, const struct as4_conf_node *pm,
                            const struct as4_pmode_refs *r, struct as4_pmode *p)
{
	char q[96];
	const struct as4_conf_node *net = as4_conf_get(pm, "responder.discovery_network");
	if (!p->responder_discovery) {
		if (net != NULL && !net->null) {
			as4_conf_error(b->errs, net, "only used with responder.discovery: true");
		}
		return;
	}
	if (net == NULL || net->null) {
		if (r->n_networks == 1) {
			p->discovery_network = dup(b, r->networks[0]);
		} else if (r->n_networks == 0) {
			as4_conf_error(b->errs, as4_conf_get(pm, "responder.discovery"),
			               "no discovery network is configured (discovery.networks in "
			               "as4d.yaml)");
		} else {
			as4_conf_error(
			        b->errs, as4_conf_get(pm, "responder"),
			        "missing required key 'discovery_network' (several discovery "
			        "networks are configured)");
		}
		return;
	}
	for (size_t i = 0; i < r->n_networks; i++) {
		if (strcmp(r->networks[i], net->text) == 0) {
			p->discovery_network = dup(b, net->text);
			return;
		}
	}
	const char *s = as4_conf_suggest(net->text, r->networks);
	if (s != NULL) {
		as4_conf_error(b->errs, net, "unknown discovery network %s (did you mean '%s'?)",
		               as4_conf_quote(net->text, q, sizeof(q)), s);
	} else {
		as4_conf_error(b->errs, net, "unknown discovery network %s",
		               as4_conf_quote(net->text, q, sizeof(q)));
	}
}

/* The sending side needs an address and, to encrypt, a certificate of the responder. */
static void check_outbound(struct bctx *b, const struct as4_conf_node *pm,
                           const struct as4_pmode *p)
{
	const struct as4_conf_node *at = as4_conf_get(pm, "responder.party");
	if (p->responder_discovery) {
		return;
	}
	if (p->responder->dynamic) {
		as4_conf_error(b->errs, at,
		               "party '%s' is dynamic (any access point of a network): set "
		               "responder.discovery: true to find the receiver by SMP lookup",
		               p->responder->name);
		return;
	}
	if (p->responder->endpoint == NULL) {
		as4_conf_error(b->errs, at,
		               "party '%s' has no endpoint: set parties[].endpoint in as4d.yaml or "
		               "responder.discovery: true",
		               p->responder->name);
	}
	if (p->security.encrypt && p->responder->cert_path == NULL) {
		as4_conf_error(b->errs, at,
		               "party '%s' has no certificate to encrypt for: set "
		               "parties[].certificate in as4d.yaml",
		               p->responder->name);
	}
}

as4_err as4_pmode_build(struct as4_conf_doc *doc, const char *default_id,
                        const struct as4_pmode_refs *refs, struct as4_arena *arena,
                        struct as4_pmode *out, struct as4_conf_errors *errs)
{
	struct bctx b = {arena, errs, false};
	size_t before = errs != NULL ? errs->n_errors : 0;
	memset(out, 0, sizeof(*out));
	as4_err err = as4_conf_validate(doc, &pmode_schema, errs);
	if (err != AS4_OK) {
		/* still name unknown parties, so one run lists every problem of the file */
		const struct as4_conf_node *pmn = as4_conf_get(doc->root, "pmode");
		if (err == AS4_E_CONFIG && pmn != NULL && pmn->kind == AS4_CONF_NODE_MAP) {
			resolve_party(&b, pmn, "initiator", refs);
			resolve_party(&b, pmn, "responder", refs);
		}
		return b.nomem ? AS4_E_NOMEM : err;
	}
	const struct as4_conf_node *pm = as4_conf_get(doc->root, "pmode");
	struct as4_pmode *p = out;

	const char *id = as4_conf_str(pm, "id");
	if (id == NULL && default_id != NULL && as4_pmode_id_valid(default_id)) {
		id = default_id;
	} else if (id == NULL && default_id != NULL) {
		char q[96];
		as4_conf_error(errs, pm,
		               "the file name %s is not a valid PMode id: set pmode.id (1 to 128 "
		               "characters from A-Z a-z 0-9 . _ -)",
		               as4_conf_quote(default_id, q, sizeof(q)));
	} else if (id == NULL) {
		as4_conf_error(errs, pm, "missing required key 'id'");
	}
	p->id = dup(&b, id);
	p->source = dup(&b, doc->source);
	p->description = dup(&b, as4_conf_str(pm, "description"));
	p->agreement = dup(&b, as4_conf_str(pm, "agreement"));
	p->agreement_type = dup(&b, as4_conf_str(pm, "agreement_type"));
	if (p->agreement == NULL && p->agreement_type != NULL) {
		as4_conf_error(errs, as4_conf_get(pm, "agreement_type"),
		               "only used together with pmode.agreement");
	}
	p->initiator = resolve_party(&b, pm, "initiator", refs);
	p->initiator_role = dup(&b, as4_conf_str(pm, "initiator.role"));
	p->responder = resolve_party(&b, pm, "responder", refs);
	p->responder_role = dup(&b, as4_conf_str(pm, "responder.role"));
	p->responder_discovery = as4_conf_bool(pm, "responder.discovery");
	p->service = dup(&b, as4_conf_str(pm, "service"));
	p->service_type = dup(&b, as4_conf_str(pm, "service_type"));
	p->action = dup(&b, as4_conf_str(pm, "action"));
	p->mpc = dup(&b, as4_conf_str(pm, "mpc"));

	p->compress = as4_conf_bool(pm, "payload.compress");
	p->max_payload = as4_conf_num(pm, "payload.max_size");
	p->min_parts = (size_t)as4_conf_num(pm, "payload.min_parts");
	p->max_parts = (size_t)as4_conf_num(pm, "payload.max_parts");
	if (p->min_parts > p->max_parts) {
		as4_conf_error(errs, as4_conf_get(pm, "payload.max_parts"),
		               "must be at least payload.min_parts (%zu), got %zu", p->min_parts,
		               p->max_parts);
	}

	p->security_none = as4_conf_num(pm, "security.mode") == 1;
	if (p->security_none) {
		check_security_none(&b, pm);
	} else {
		p->security.sign = as4_conf_bool(pm, "security.sign");
		p->security.encrypt = as4_conf_bool(pm, "security.encrypt");
		p->security.receipt_signed = as4_conf_bool(pm, "security.receipt_signed");
		p->security.pkipath = as4_conf_bool(pm, "security.pkipath");
	}
	p->security.sig_alg = (int)as4_conf_num(pm, "security.signature_algorithm");
	p->security.key_transport = (int)as4_conf_num(pm, "security.key_transport");
	p->security.data_alg = (int)as4_conf_num(pm, "security.data_encryption");
	p->security.keyref = (int)as4_conf_num(pm, "security.key_reference");

	p->reliability.retries = (uint32_t)as4_conf_num(pm, "reliability.retries");
	p->reliability.interval_ms = as4_conf_num(pm, "reliability.interval");
	p->reliability.backoff = as4_conf_num(pm, "reliability.backoff") == 1
	                                 ? AS4_BACKOFF_EXPONENTIAL
	                                 : AS4_BACKOFF_CONSTANT;
	p->reliability.jitter = as4_conf_bool(pm, "reliability.jitter");
	p->reliability.deadline_ms = as4_conf_num(pm, "reliability.deadline");
	p->reliability.timeout_ms = as4_conf_num(pm, "reliability.timeout");
	p->reliability.duplicate_detection = as4_conf_bool(pm, "reliability.duplicate_detection");
	p->reliability.dedup_window_ms = as4_conf_num(pm, "reliability.dedup_window");
	if (refs->max_dedup_window_ms != 0 &&
	    p->reliability.dedup_window_ms > refs->max_dedup_window_ms) {
		char a[32];
		char c[32];
		as4_conf_error(errs, as4_conf_get(pm, "reliability.dedup_window"),
		               "%s is longer than retention.dedup_window (%s) in as4d.yaml",
		               as4_conf_fmt_duration(p->reliability.dedup_window_ms, a, sizeof(a)),
		               as4_conf_fmt_duration(refs->max_dedup_window_ms, c, sizeof(c)));
	}
	if (p->reliability.deadline_ms != 0 &&
	    p->reliability.deadline_ms < p->reliability.timeout_ms) {
		as4_conf_error(errs, as4_conf_get(pm, "reliability.deadline"),
		               "must not be shorter than reliability.timeout");
	}

	/* One-Way/Push: an ebMS Error is the HTTP response itself, so the sender always gets it */
	p->report_errors_to_sender = true;
	p->notify_backend_errors = as4_conf_bool(pm, "errors.notify_backend");
	p->webhook = dup(&b, as4_conf_str(pm, "webhook"));

	if (p->initiator != NULL && p->responder != NULL) {
		resolve_network(&b, pm, refs, p);
		if (refs->self != NULL && p->initiator != refs->self &&
		    p->responder != refs->self) {
			as4_conf_error(errs, pm,
			               "neither the initiator '%s' nor the responder '%s' is this "
			               "access point's party '%s' (node.party)",
			               p->initiator->name, p->responder->name, refs->self->name);
		}
		if (refs->self != NULL && p->initiator == refs->self) {
			check_outbound(&b, pm, p);
		}
		if (p->initiator->dynamic && (p->security_none || !p->security.sign)) {
			/* the sender is known only by the certificate that signed the message */
			as4_conf_error(errs, as4_conf_get(pm, "initiator.party"),
			               "party '%s' is dynamic (any access point of a network): its "
			               "messages must be signed (security.sign: true)",
			               p->initiator->name);
		}
	}
	if (b.nomem) {
		as4_conf_error_at(errs, doc->source, 0, NULL, "out of memory");
		return AS4_E_NOMEM;
	}
	return errs != NULL && errs->n_errors != before ? AS4_E_CONFIG : AS4_OK;
}

/* ---- Sets --------------------------------------------------------------------------------- */

struct as4_pmode_set {
	const struct as4_pmode *v;
	size_t n;
	struct as4_arena *arena; /* owned (as4_pmode_set_adopt()), or NULL */
};

size_t as4_pmode_count(const struct as4_pmode_set *set)
{
	return set != NULL ? set->n : 0;
}

const struct as4_pmode *as4_pmode_at(const struct as4_pmode_set *set, size_t i)
{
	return set != NULL && i < set->n ? &set->v[i] : NULL;
}

const struct as4_pmode *as4_pmode_find(const struct as4_pmode_set *set, const char *id)
{
	for (size_t i = 0; set != NULL && id != NULL && i < set->n; i++) {
		if (set->v[i].id != NULL && strcmp(set->v[i].id, id) == 0) {
			return &set->v[i];
		}
	}
	return NULL;
}

as4_err as4_pmode_set_from_array(const struct as4_pmode *pmodes, size_t n,
                                 struct as4_pmode_set **out)
{
	*out = NULL;
	if (n > 0 && pmodes == NULL) {
		return AS4_E_INVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (pmodes[i].id == NULL) {
			return AS4_E_INVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(pmodes[i].id, pmodes[j].id) == 0) {
				return AS4_E_EXISTS;
			}
		}
	}
	struct as4_pmode_set *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return AS4_E_NOMEM;
	}
	s->v = pmodes;
	s->n = n;
	*out = s;
	return AS4_OK;
}

as4_err as4_pmode_set_adopt(const struct as4_pmode *pmodes, size_t n, struct as4_arena *arena,
                            struct as4_pmode_set **out)
{
	as4_err err = as4_pmode_set_from_array(pmodes, n, out);
	if (err == AS4_OK) {
		(*out)->arena = arena;
	}
	return err;
}

void as4_pmode_set_free(struct as4_pmode_set *set)
{
	if (set == NULL) {
		return;
	}
	as4_arena_free(set->arena);
	free(set);
}

/* ---- Matching ----------------------------------------------------------------------------- */

bool as4_pmode_is_test_service(const char *service, const char *action)
{
	return service != NULL && action != NULL && strcmp(service, AS4_TEST_SERVICE) == 0 &&
	       strcmp(action, AS4_TEST_ACTION) == 0;
}

/* Equal strings, where NULL equals only NULL. */
static bool same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

bool as4_pmode_same_key(const struct as4_pmode *a, const struct as4_pmode *b)
{
	return same(a->agreement, b->agreement) && same(a->agreement_type, b->agreement_type) &&
	       a->initiator == b->initiator && a->responder == b->responder &&
	       same(a->initiator_role, b->initiator_role) &&
	       same(a->responder_role, b->responder_role) && same(a->service, b->service) &&
	       same(a->service_type, b->service_type) && same(a->action, b->action) &&
	       same(a->mpc, b->mpc);
}

/* A dynamic party: any access point of a network (as4/pmode.h). */
static bool is_dynamic(const struct as4_party *p)
{
	return p != NULL && p->dynamic;
}

/*
 * At least one PartyId sent is one of the party's ids (type and value exact); for a dynamic
 * party, any non-empty PartyId of its type.
 */
static bool party_matches(const struct as4_party *p, const struct as4_party_id *ids, size_t n)
{
	if (p == NULL) {
		return false;
	}
	for (size_t i = 0; p->dynamic && p->n_ids > 0 && i < n; i++) {
		if (ids[i].value != NULL && ids[i].value[0] != '\0' &&
		    same(ids[i].type, p->ids[0].type)) {
			return true;
		}
	}
	for (size_t i = 0; !p->dynamic && i < n; i++) {
		for (size_t j = 0; j < p->n_ids; j++) {
			if (ids[i].value != NULL && same(ids[i].type, p->ids[j].type) &&
			    strcmp(ids[i].value, p->ids[j].value) == 0) {
				return true;
			}
		}
	}
	return false;
}

/* Copy a fixed text into a message buffer (a truncated message is still useful). */
static void put(char *out, size_t cap, const char *text)
{
	if (as4_str_copy(out, cap, text) != AS4_OK) {
		/* truncated */
	}
}

/* Wire values and identifiers in match diagnostics: escaped, up to 200 bytes each. */
static char *quote(const char *v, char *out, size_t cap)
{
	return as4_conf_quote_max(v, 200, out, cap);
}

/* "'value' (type 'type')" of a PartyId, for messages. */
static void fmt_party_id(char *out, size_t cap, const struct as4_party_id *id)
{
	char v[220];
	char t[220];
	quote(id->value, v, sizeof(v));
	as4_err err = id->type != NULL ? as4_str_fmt(out, cap, "%s (type %s)", v,
	                                             quote(id->type, t, sizeof(t)))
	                               : as4_str_fmt(out, cap, "%s", v);
	if (err != AS4_OK) {
		/* truncated; still names the value */
	}
}

enum field {
	F_AGREEMENT,
	F_FROM,
	F_FROM_ROLE,
	F_TO,
	F_TO_ROLE,
	F_SERVICE,
	F_ACTION,
	F_MPC,
	F__COUNT,
};

static const char *const field_paths[F__COUNT] = {
        "eb:CollaborationInfo/eb:AgreementRef", "eb:PartyInfo/eb:From/eb:PartyId",
        "eb:PartyInfo/eb:From/eb:Role",         "eb:PartyInfo/eb:To/eb:PartyId",
        "eb:PartyInfo/eb:To/eb:Role",           "eb:CollaborationInfo/eb:Service",
        "eb:CollaborationInfo/eb:Action",       "eb:UserMessage/@mpc",
};

/* Which fields of p match key (bit per enum field); parties_only limits to From/To. */
static unsigned match_bits(const struct as4_pmode *p, const struct as4_pmode_key *k,
                           bool parties_only)
{
	unsigned bits = 0;
	const char *mpc = k->mpc != NULL ? k->mpc : AS4_DEFAULT_MPC;
	if (party_matches(p->initiator, k->from_ids, k->n_from_ids)) {
		bits |= 1u << F_FROM;
	}
	if (party_matches(p->responder, k->to_ids, k->n_to_ids)) {
		bits |= 1u << F_TO;
	}
	if (parties_only) {
		return bits;
	}
	if (same(p->agreement, k->agreement) &&
	    (p->agreement == NULL || same(p->agreement_type, k->agreement_type))) {
		bits |= 1u << F_AGREEMENT;
	}
	if (same(p->initiator_role, k->from_role)) {
		bits |= 1u << F_FROM_ROLE;
	}
	if (same(p->responder_role, k->to_role)) {
		bits |= 1u << F_TO_ROLE;
	}
	if (same(p->service, k->service) && same(p->service_type, k->service_type)) {
		bits |= 1u << F_SERVICE;
	}
	if (same(p->action, k->action)) {
		bits |= 1u << F_ACTION;
	}
	if (same(p->mpc, mpc)) {
		bits |= 1u << F_MPC;
	}
	return bits;
}

static unsigned popcount(unsigned x)
{
	return (unsigned)__builtin_popcount(x);
}

/* "<field> <sent> not in PMode '<id>' (expects <wanted>)" for the first differing field. */
static void explain(char *out, size_t cap, const struct as4_pmode *p, const struct as4_pmode_key *k,
                    enum field f)
{
	char s[440];
	char w[440];
	char id[220];
	const char *what = "";
	quote(p->id, id, sizeof(id));
	switch (f) {
	case F_AGREEMENT:
		if (!same(p->agreement, k->agreement)) {
			what = "agreement";
			quote(k->agreement, s, sizeof(s));
			quote(p->agreement, w, sizeof(w));
			if (k->agreement == NULL) {
				put(s, sizeof(s), "(none)");
			}
			if (p->agreement == NULL) {
				put(w, sizeof(w), "none");
			}
		} else {
			what = "agreement type";
			quote(k->agreement_type, s, sizeof(s));
			quote(p->agreement_type, w, sizeof(w));
			if (k->agreement_type == NULL) {
				put(s, sizeof(s), "(none)");
			}
			if (p->agreement_type == NULL) {
				put(w, sizeof(w), "none");
			}
		}
		break;
	case F_FROM:
	case F_TO: {
		const struct as4_party *party = f == F_FROM ? p->initiator : p->responder;
		const struct as4_party_id *ids = f == F_FROM ? k->from_ids : k->to_ids;
		size_t n = f == F_FROM ? k->n_from_ids : k->n_to_ids;
		what = f == F_FROM ? "From party" : "To party";
		if (n > 0) {
			fmt_party_id(s, sizeof(s), &ids[0]);
		} else {
			put(s, sizeof(s), "(none)");
		}
		char pid[440];
		pid[0] = '\0';
		if (is_dynamic(party) && party->n_ids > 0) {
			char t[220];
			if (as4_str_fmt(pid, sizeof(pid), "any PartyId of type %s",
			                quote(party->ids[0].type, t, sizeof(t))) != AS4_OK) {
				/* truncated */
			}
		} else if (party != NULL && party->n_ids > 0) {
			fmt_party_id(pid, sizeof(pid), &party->ids[0]);
		}
		if (as4_str_fmt(w, sizeof(w), "party '%s': %s", party != NULL ? party->name : "?",
		                pid) != AS4_OK) {
			/* truncated */
		}
		break;
	}
	case F_FROM_ROLE:
	case F_TO_ROLE:
		what = f == F_FROM_ROLE ? "From role" : "To role";
		quote(f == F_FROM_ROLE ? k->from_role : k->to_role, s, sizeof(s));
		quote(f == F_FROM_ROLE ? p->initiator_role : p->responder_role, w, sizeof(w));
		break;
	case F_SERVICE:
		if (!same(p->service, k->service)) {
			what = "service";
			quote(k->service, s, sizeof(s));
			quote(p->service, w, sizeof(w));
		} else {
			what = "service type";
			quote(k->service_type, s, sizeof(s));
			quote(p->service_type, w, sizeof(w));
			if (k->service_type == NULL) {
				put(s, sizeof(s), "(none)");
			}
			if (p->service_type == NULL) {
				put(w, sizeof(w), "none");
			}
		}
		break;
	case F_ACTION:
		what = "action";
		quote(k->action, s, sizeof(s));
		quote(p->action, w, sizeof(w));
		break;
	default:
		what = "MPC";
		quote(k->mpc != NULL ? k->mpc : AS4_DEFAULT_MPC, s, sizeof(s));
		quote(p->mpc, w, sizeof(w));
		break;
	}
	if (as4_str_fmt(out, cap, "%s %s not in PMode %s (expects %s)", what, s, id, w) != AS4_OK) {
		/* truncated */
	}
}

as4_err as4_pmode_match(const struct as4_pmode_set *set, const struct as4_pmode_key *key,
                        const struct as4_pmode **out, struct as4_diag *d)
{
	const unsigned all = (1u << F__COUNT) - 1;
	const unsigned parties = (1u << F_FROM) | (1u << F_TO);
	const struct as4_pmode *only = NULL;
	const struct as4_pmode *best = NULL;
	const struct as4_pmode *dyn = NULL; /* first full match through a dynamic party */
	unsigned best_bits = 0;
	bool test = as4_pmode_is_test_service(key->service, key->action);
	*out = NULL;
	if (as4_pmode_count(set) == 0) {
		return as4_diag_set(d, AS4_E_PMODE_MISMATCH,
		                    "no PMode matches: no PModes are "
		                    "configured");
	}
	/* ebMS3 Core §5.2.2.7: AgreementRef/@pmode names the PMode, when it is one of ours */
	if (key->agreement_pmode != NULL) {
		only = as4_pmode_find(set, key->agreement_pmode);
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct as4_pmode *p = &set->v[i];
		if (only != NULL && p != only) {
			continue;
		}
		unsigned bits = match_bits(p, key, false);
		if (bits == all && !is_dynamic(p->initiator) && !is_dynamic(p->responder)) {
			*out = p;
			return AS4_OK;
		}
		if (bits == all) {
			/* a configured partner is more specific than "any access point" */
			dyn = dyn != NULL ? dyn : p;
			continue;
		}
		if (best == NULL || popcount(bits) > popcount(best_bits)) {
			best = p;
			best_bits = bits;
		}
	}
	if (dyn != NULL) {
		*out = dyn;
		return AS4_OK;
	}
	if (test) {
		/* the test service rule: parties alone choose the PMode */
		for (size_t i = 0; i < set->n; i++) {
			const struct as4_pmode *p = &set->v[i];
			if ((only == NULL || p == only) && match_bits(p, key, true) == parties) {
				*out = p;
				return AS4_OK;
			}
		}
	}
	enum field f = F_AGREEMENT;
	while (f < F__COUNT && (best_bits & (1u << f)) != 0) {
		f++;
	}
	char why[AS4_DIAG_TEXT_MAX];
	explain(why, sizeof(why), best, key, f);
	return as4_diag_set_field(d, AS4_E_PMODE_MISMATCH, field_paths[f], "no PMode matches: %s",
	                          why);
}
