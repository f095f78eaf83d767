/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MedCom part of the configuration: the medcom section (ehmiSBDH profile, routing
 * convention, known document types, static routes) and the participants this gateway serves,
 * from as4d.yaml and from the participants file that the API manages.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "as4/config.h"
#include "as4/sbdh.h"
#include "as4/str.h"
#include "pmode_int.h"

const char *const as4_medcom_routings[] = {"peppol", "plain", NULL};

static void why_put(char *why, size_t cap, const char *text)
{
	if (as4_str_copy(why, cap, text) != AS4_OK) {
		/* truncated reason */
	}
}

as4_err as4_medcom_check_gln(const struct as4_conf_node *n, char *why, size_t cap)
{
	if (as4_gln_valid(n->text)) {
		return AS4_OK;
	}
	char c = n->len == 13 ? as4_gln_check_digit(n->text) : '\0';
	if (c != '\0') {
		snprintf(why, cap, "GLN check digit is wrong (the GS1 mod-10 digit is %c)", c);
	} else {
		why_put(why, cap, "expected a GLN: 13 digits, the last a GS1 check digit");
	}
	return AS4_E_CONFIG;
}

as4_err as4_medcom_check_icd(const struct as4_conf_node *n, char *why, size_t cap)
{
	if (n->len == 4 && strspn(n->text, "0123456789") == 4) {
		return AS4_OK;
	}
	why_put(why, cap, "expected a 4-digit ICD such as 0088 (GLN), 0184 (CVR) or 0096");
	return AS4_E_CONFIG;
}

as4_err as4_medcom_check_sor(const struct as4_conf_node *n, char *why, size_t cap)
{
	if (n->len > 0 && strspn(n->text, "0123456789") == n->len) {
		return AS4_OK;
	}
	why_put(why, cap, "expected a SOR code (digits only)");
	return AS4_E_CONFIG;
}

static const struct as4_conf_item file_items[] = {AS4_PARTICIPANT_CONF_ITEMS("participants")};
static const struct as4_conf_schema file_schema = {"participants file", file_items,
                                                   AS4_ARRAY_LEN(file_items)};

const struct as4_conf_schema *as4_config_participants_schema(void)
{
	return &file_schema;
}

static const char *dup(struct as4_medcom_load *l, const char *s)
{
	if (s == NULL) {
		return NULL;
	}
	char *d = as4_arena_strdup(l->a, s);
	l->nomem = l->nomem || d == NULL;
	return d;
}

static const char *const *strings(struct as4_medcom_load *l, const struct as4_conf_node *list,
                                  size_t *n)
{
	*n = 0;
	if (list == NULL || list->n_children == 0) {
		return NULL;
	}
	const char **v = as4_arena_calloc(l->a, list->n_children, sizeof(*v));
	if (v == NULL) {
		l->nomem = true;
		return NULL;
	}
	for (const struct as4_conf_node *e = list->child; e != NULL; e = e->next) {
		v[(*n)++] = dup(l, e->text);
	}
	return v;
}

/* Append the participants of one list (as4d.yaml's or the file's) to v[*n]. */
static void add_participants(struct as4_medcom_load *l, const struct as4_conf_node *list,
                             bool from_file, struct as4_participant *v, size_t *n)
{
	for (const struct as4_conf_node *e = list != NULL ? list->child : NULL; e != NULL;
	     e = e->next) {
		struct as4_participant *p = &v[*n];
		const char *gln = as4_conf_str(e, "gln");
		p->gln = dup(l, gln);
		p->id = gln != NULL ? as4_arena_sprintf(l->a, "0088:%s", gln) : NULL;
		p->sor = dup(l, as4_conf_str(e, "sor"));
		p->name = dup(l, as4_conf_str(e, "name"));
		p->webhook = dup(l, as4_conf_str(e, "webhook"));
		p->from_file = from_file;
		if (p->gln == NULL || p->id == NULL) {
			l->nomem = true;
			return;
		}
		for (size_t j = 0; j < *n; j++) {
			if (strcmp(v[j].gln, p->gln) == 0) {
				as4_conf_error(l->errs, as4_conf_get(e, "gln"),
				               "participant %s is declared twice (also %s)", p->gln,
				               v[j].from_file ? "in the participants file"
				                              : "in participants:");
			}
		}
		(*n)++;
	}
}

/*
 * The participants file: absent is fine (no participants managed through the API yet); offline
 * tools (no_file_checks) leave it alone like every other file.
 */
static struct as4_conf_doc *load_file(struct as4_medcom_load *l, const char *path)
{
	struct stat st;
	struct as4_conf_doc *doc = NULL;
	if (l->cfg->opts_.no_file_checks ||
	    (stat(path, &st) != 0 && (errno == ENOENT || errno == ENOTDIR))) {
		return NULL; /* a data_dir that cannot be used is reported on its own */
	}
	as4_err err = as4_conf_load_file(path, NULL, &doc, l->errs);
	if (err == AS4_OK) {
		err = as4_conf_validate(doc, &file_schema, l->errs);
	}
	l->nomem = l->nomem || err == AS4_E_NOMEM;
	if (err != AS4_OK) {
		as4_conf_doc_free(doc);
		return NULL;
	}
	return doc;
}

static void load_documents(struct as4_medcom_load *l, const struct as4_conf_node *m)
{
	struct as4_medcom_config *mc = &l->cfg->medcom;
	const struct as4_conf_node *list = as4_conf_get(m, "documents");
	if (list == NULL || list->n_children == 0) {
		return;
	}
	struct as4_medcom_document *v = as4_arena_calloc(l->a, list->n_children, sizeof(*v));
	if (v == NULL) {
		l->nomem = true;
		return;
	}
	size_t i = 0;
	for (const struct as4_conf_node *e = list->child; e != NULL; e = e->next, i++) {
		v[i].id = dup(l, as4_conf_str(e, "id"));
		v[i].name = dup(l, as4_conf_str(e, "name"));
		v[i].max_payload = as4_conf_num(e, "max_payload");
		for (size_t j = 0; j < i && v[i].id != NULL; j++) {
			/* identifiers are opaque and compared exactly: only exact repeats clash */
			if (strcmp(v[j].id, v[i].id) == 0) {
				as4_conf_error(
				        l->errs, as4_conf_get(e, "id"),
				        "document type is listed twice (also documents[%zu])", j);
			}
		}
		if (v[i].max_payload > mc->max_payload) {
			as4_conf_error(l->errs, as4_conf_get(e, "max_payload"),
			               "must not be larger than medcom.max_payload");
		}
	}
	mc->documents = v;
	mc->n_documents = i;
}

static void load_routes(struct as4_medcom_load *l, const struct as4_conf_node *m)
{
	struct as4_medcom_config *mc = &l->cfg->medcom;
	const struct as4_conf_node *list = as4_conf_get(m, "routes");
	if (list == NULL || list->n_children == 0) {
		return;
	}
	struct as4_medcom_route *v = as4_arena_calloc(l->a, list->n_children, sizeof(*v));
	if (v == NULL) {
		l->nomem = true;
		return;
	}
	struct as4_sbdh_schemes ok = {mc->schemes, mc->n_schemes};
	size_t i = 0;
	for (const struct as4_conf_node *e = list->child; e != NULL; e = e->next, i++) {
		const char *who = as4_conf_str(e, "participant");
		const char *party = as4_conf_str(e, "party");
		struct as4_diag d;
		as4_diag_init(&d);
		if (who != NULL && strcmp(who, "*") != 0 &&
		    as4_participant_parse(who, &ok, "participant", NULL, &d) != AS4_OK) {
			as4_conf_error(l->errs, as4_conf_get(e, "participant"), "%s",
			               as4_diag_text(&d));
		}
		v[i].participant = dup(l, who);
		v[i].party = as4_config_party(l->cfg, party);
		if (party != NULL && v[i].party == NULL) {
			as4_conf_error(l->errs, as4_conf_get(e, "party"),
			               "unknown party '%s': declare it under parties:", party);
		}
	}
	mc->routes = v;
	mc->n_routes = i;
}

void as4_medcom_config_load(struct as4_medcom_load *l)
{
	struct as4_medcom_config *mc = &l->cfg->medcom;
	const struct as4_conf_node *m = as4_conf_get(l->root, "medcom");
	struct as4_conf_doc *file = NULL;
	mc->require_sbdh = as4_conf_bool(m, "require_sbdh");
	mc->schemes = strings(l, as4_conf_get(m, "schemes"), &mc->n_schemes);
	mc->mime_types = strings(l, as4_conf_get(m, "mime_types"), &mc->n_mime_types);
	mc->max_payload = as4_conf_num(m, "max_payload");
	mc->routing = (int)as4_conf_num(m, "routing");
	mc->document_scheme = dup(l, as4_conf_str(m, "document_scheme"));
	mc->process_scheme = dup(l, as4_conf_str(m, "process_scheme"));
	mc->processes = strings(l, as4_conf_get(m, "processes"), &mc->n_processes);
	load_documents(l, m);
	load_routes(l, m);
	const char *pf = as4_conf_str(m, "participants_file");
	if (pf != NULL) {
		mc->participants_file =
		        pf[0] == '/' ? dup(l, pf) : as4_arena_sprintf(l->a, "%s/%s", l->base, pf);
	} else if (l->cfg->node.data_dir != NULL) {
		mc->participants_file =
		        as4_arena_sprintf(l->a, "%s/participants.json", l->cfg->node.data_dir);
	}
	if (mc->participants_file == NULL && (pf != NULL || l->cfg->node.data_dir != NULL)) {
		l->nomem = true;
		return;
	}
	if (mc->participants_file != NULL) {
		file = load_file(l, mc->participants_file);
	}
	const struct as4_conf_node *own = as4_conf_get(l->root, "participants");
	const struct as4_conf_node *more =
	        file != NULL ? as4_conf_get(file->root, "participants") : NULL;
	size_t total = (own != NULL ? own->n_children : 0) + (more != NULL ? more->n_children : 0);
	if (total > 0) {
		struct as4_participant *v = as4_arena_calloc(l->a, total, sizeof(*v));
		if (v == NULL) {
			l->nomem = true;
		} else {
			size_t n = 0;
			add_participants(l, own, false, v, &n);
			add_participants(l, more, true, v, &n);
			l->cfg->participants = v;
			l->cfg->n_participants = n;
		}
	}
	as4_conf_doc_free(file);
}

/* ---- Lookups ------------------------------------------------------------------------------ */

const struct as4_participant *as4_config_participant(const struct as4_config *cfg, const char *id)
{
	if (id == NULL) {
		return NULL;
	}
	if (as4_str_starts(id, AS4_SBDH_AUTHORITY "::")) {
		id += strlen(AS4_SBDH_AUTHORITY "::");
	}
	if (as4_str_starts(id, "0088:")) {
		id += 5;
	}
	for (size_t i = 0; i < cfg->n_participants; i++) {
		if (strcmp(cfg->participants[i].gln, id) == 0) {
			return &cfg->participants[i];
		}
	}
	return NULL;
}

const struct as4_medcom_document *as4_config_medcom_document(const struct as4_config *cfg,
                                                             const char *document_id)
{
	for (size_t i = 0; document_id != NULL && i < cfg->medcom.n_documents; i++) {
		if (strcmp(cfg->medcom.documents[i].id, document_id) == 0) {
			return &cfg->medcom.documents[i];
		}
	}
	return NULL;
}

void as4_config_sbdh_rules(const struct as4_config *cfg, struct as4_sbdh_rules *rules,
                           struct as4_sbdh_network *net)
{
	const struct as4_medcom_config *mc = &cfg->medcom;
	if (rules != NULL) {
		memset(rules, 0, sizeof(*rules));
		rules->schemes.icd = mc->schemes;
		rules->schemes.n = mc->n_schemes;
		rules->mime_types = mc->mime_types;
		rules->n_mime_types = mc->n_mime_types;
		rules->max_content = mc->max_payload;
		rules->limits = &cfg->limits;
	}
	if (net != NULL) {
		memset(net, 0, sizeof(*net));
		net->routing = (enum as4_sbdh_routing)mc->routing;
		net->document_scheme = mc->document_scheme;
		net->process_scheme = mc->process_scheme;
	}
}
