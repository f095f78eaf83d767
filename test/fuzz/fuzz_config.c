/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the configuration loader on arbitrary bytes. The same input goes through
 *   1. the YAML parser and the as4d.yaml schema (defaults, shorthands, every error path),
 *   2. the PMode document path of the API as YAML and as JSON: parse, PMode schema, party and
 *      network references, building the PMode, and matching a message against it.
 * The configuration the PModes refer to is built in memory, so no file is touched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "as4/conf.h"
#include "as4/config.h"
#include "as4/pmode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define AP "urn:fdc:peppol.eu:2017:identifiers:ap"

static struct as4_party_id ids1[] = {{AP, "ap1"}};
static struct as4_party_id ids2[] = {{AP, "ap2"}, {NULL, "urn:oid:1.2.3"}};
static const struct as4_party parties[] = {
        {"ap1", ids1, 1, "http://127.0.0.1:8080/as4", "ap1.pem", NULL, false},
        {"ap2", ids2, 2, "https://ap2.example/as4", "ap2.pem", NULL, false},
};
static const struct as4_discovery_network networks[] = {{.name = "ehmi-test"}, {.name = "peppol"}};

/* Visit every node: paths, lookups and typed getters must cope with any validated tree. */
static size_t walk(const struct as4_conf_node *n, size_t depth)
{
	char path[256];
	size_t count = 1;
	as4_conf_node_path(n, path, sizeof(path));
	if (n->key != NULL && n->parent != NULL) {
		(void)as4_conf_str(n->parent, n->key);
		(void)as4_conf_num(n->parent, n->key);
		(void)as4_conf_bool(n->parent, n->key);
		(void)as4_conf_given(n->parent, n->key);
	}
	for (const struct as4_conf_node *c = n->child; c != NULL && depth < 64; c = c->next) {
		count += walk(c, depth + 1);
	}
	return count;
}

static void as4d_schema(const uint8_t *data, size_t size)
{
	struct as4_conf_limits lim;
	struct as4_conf_errors e;
	struct as4_conf_doc *doc = NULL;
	struct as4_diag d;
	as4_conf_limits_default(&lim);
	lim.max_file = 256 * 1024;
	lim.max_depth = 16;
	lim.max_nodes = 4000;
	lim.max_scalar = 4096;
	lim.max_children = 512;
	as4_conf_errors_init(&e, 20);
	if (as4_conf_parse_yaml(data, size, "fuzz.yaml", &lim, &doc, &e) == AS4_OK) {
		if (as4_conf_validate(doc, as4_config_schema(), &e) == AS4_OK) {
			(void)as4_conf_get(doc->root, "listeners.msh.tls.min_version");
		}
		/* defaults add at most one node per schema row to each map: linear, never more */
		if (walk(doc->root, 0) > (as4_config_schema()->n_items + 1) * lim.max_nodes) {
			abort();
		}
	}
	as4_diag_init(&d);
	if (as4_conf_errors_diag(&e, &d) != AS4_OK && d.text[0] == '\0') {
		abort(); /* every failure carries a text */
	}
	as4_conf_errors_cleanup(&e);
	as4_conf_doc_free(doc);
}

static void pmode_document(const struct as4_config *cfg, const uint8_t *data, size_t size,
                           bool json)
{
	struct as4_conf_errors e;
	struct as4_pmode_set *set = NULL;
	as4_conf_errors_init(&e, 20);
	as4_err err = as4_config_pmode_validate(cfg, data, size, json, json ? "api" : "fuzz.yaml",
	                                        "fuzz", true, &set, &e);
	if (err == AS4_OK) {
		const struct as4_pmode *p = as4_pmode_at(set, 0);
		struct as4_pmode_key k;
		const struct as4_pmode *out = NULL;
		struct as4_diag d;
		if (p == NULL || p->initiator == NULL || p->responder == NULL) {
			abort(); /* a valid PMode always has both parties */
		}
		memset(&k, 0, sizeof(k));
		k.from_ids = p->initiator->ids;
		k.n_from_ids = p->initiator->n_ids;
		k.from_role = p->initiator_role;
		k.to_ids = p->responder->ids;
		k.n_to_ids = p->responder->n_ids;
		k.to_role = p->responder_role;
		k.agreement = p->agreement;
		k.agreement_type = p->agreement_type;
		k.service = p->service;
		k.service_type = p->service_type;
		k.action = p->action;
		k.mpc = p->mpc;
		as4_diag_init(&d);
		if (as4_pmode_match(set, &k, &out, &d) != AS4_OK || out != p) {
			abort(); /* a PMode matches the message it describes */
		}
		k.action = "urn:fuzz:other";
		if (as4_pmode_match(set, &k, &out, &d) == AS4_OK &&
		    strcmp(p->action, k.action) != 0) {
			abort(); /* another action is not this PMode's */
		}
	} else if (e.n_errors == 0 && err != AS4_E_NOMEM) {
		abort(); /* a refusal always says why */
	}
	as4_pmode_set_free(set);
	as4_conf_errors_cleanup(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct as4_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.parties = parties;
	cfg.n_parties = 2;
	cfg.node.party = &parties[0];
	cfg.discovery.networks = networks;
	cfg.discovery.n_networks = 2;
	cfg.retention.dedup_window_ms = 30ULL * 24 * 3600 * 1000;

	as4d_schema(data, size);
	pmode_document(&cfg, data, size, false);
	pmode_document(&cfg, data, size, true);
	return 0;
}
