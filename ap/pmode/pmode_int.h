/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private interface between pmode.c and config.c (STYLE rule 17): turning one validated PMode
 * document into a struct as4_pmode against the parties and networks of a configuration.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "as4/arena.h"
#include "as4/conf.h"
#include "as4/pmode.h"

/* What a PMode document may refer to. */
struct as4_pmode_refs {
	const struct as4_party *parties; /* every configured party */
	size_t n_parties;
	const struct as4_party *self; /* our party: must be initiator or responder */
	const char *const *networks;  /* discovery network names */
	size_t n_networks;
	uint64_t max_dedup_window_ms; /* retention.dedup_window: PMode windows must fit in it */
};

/*
 * Validate doc against the PMode schema and the references, and build *out with every string
 * copied into arena (parties are pointers into refs->parties). default_id is used when the
 * document has no pmode.id (NULL = the id is required). All problems go to errs.
 * AS4_OK, AS4_E_CONFIG, AS4_E_NOMEM. Not thread-safe for doc, arena and errs.
 */
AS4_MUST_CHECK as4_err as4_pmode_build(struct as4_conf_doc *doc, const char *default_id,
                                       const struct as4_pmode_refs *refs, struct as4_arena *arena,
                                       struct as4_pmode *out, struct as4_conf_errors *errs);

/*
 * True when s is a usable PMode id or configuration name: 1..128 characters from
 * [A-Za-z0-9._-], not starting with '.' (ids become file names through the API).
 */
bool as4_pmode_id_valid(const char *s);

/*
 * A set over pmodes[0..n) that also owns arena (freed by as4_pmode_set_free(); the PModes and
 * their strings live in it). On failure the caller keeps the arena. AS4_E_NOMEM, AS4_E_EXISTS.
 */
AS4_MUST_CHECK as4_err as4_pmode_set_adopt(const struct as4_pmode *pmodes, size_t n,
                                           struct as4_arena *arena, struct as4_pmode_set **out);

struct as4_config;

/* Names of the medcom.routing values (enum as4_sbdh_routing order), NULL-terminated. */
extern const char *const as4_medcom_routings[];

/* Schema checks of medcom_config.c (as4_conf_check_fn). */
as4_err as4_medcom_check_gln(const struct as4_conf_node *n, char *why, size_t cap);
as4_err as4_medcom_check_icd(const struct as4_conf_node *n, char *why, size_t cap);
as4_err as4_medcom_check_sor(const struct as4_conf_node *n, char *why, size_t cap);

/* The keys of one participant under prefix ("participants"), for as4d.yaml and the file. */
#define AS4_PARTICIPANT_CONF_ITEMS(pfx)                                                            \
	{.path = pfx, .type = AS4_CONF_LIST_MAPS, .max = 100000},                                  \
	        {.path = pfx "[].gln",                                                             \
	         .type = AS4_CONF_STR,                                                             \
	         .flags = AS4_CONF_F_REQUIRED,                                                     \
	         .check = as4_medcom_check_gln},                                                   \
	        {.path = pfx "[].sor",                                                             \
	         .type = AS4_CONF_STR,                                                             \
	         .max = 32,                                                                        \
	         .check = as4_medcom_check_sor},                                                   \
	        {.path = pfx "[].name", .type = AS4_CONF_STR, .max = 256},                         \
	{                                                                                          \
		.path = pfx "[].webhook", .type = AS4_CONF_URL                                     \
	}

/* The as4d.yaml rows of the MedCom profile (medcom.*) and participants[] (config.c). */
#define AS4_MEDCOM_CONF_ITEMS                                                                      \
	{.path = "medcom", .type = AS4_CONF_SECTION},                                              \
	        {.path = "medcom.require_sbdh", .type = AS4_CONF_BOOL, .def = "false"},            \
	        {.path = "medcom.schemes",                                                         \
	         .type = AS4_CONF_LIST,                                                            \
	         .elem = AS4_CONF_STR,                                                             \
	         .max = 16,                                                                        \
	         .check = as4_medcom_check_icd},                                                   \
	        {.path = "medcom.mime_types",                                                      \
	         .type = AS4_CONF_LIST,                                                            \
	         .elem = AS4_CONF_STR,                                                             \
	         .max = 16},                                                                       \
	        {.path = "medcom.max_payload",                                                     \
	         .type = AS4_CONF_SIZE,                                                            \
	         .min = 1024,                                                                      \
	         .max = 1024ULL * 1024 * 1024,                                                     \
	         .def = "100M"},                                                                   \
	        {.path = "medcom.routing",                                                         \
	         .type = AS4_CONF_ENUM,                                                            \
	         .enums = as4_medcom_routings,                                                     \
	         .def = "peppol"},                                                                 \
	        {.path = "medcom.document_scheme",                                                 \
	         .type = AS4_CONF_STR,                                                             \
	         .max = 256,                                                                       \
	         .def = "busdox-docid-qns"},                                                       \
	        {.path = "medcom.process_scheme",                                                  \
	         .type = AS4_CONF_STR,                                                             \
	         .max = 256,                                                                       \
	         .def = "cenbii-procid-ubl"},                                                      \
	        {.path = "medcom.documents", .type = AS4_CONF_LIST_MAPS, .max = 1000},             \
	        {.path = "medcom.documents[].id",                                                  \
	         .type = AS4_CONF_STR,                                                             \
	         .flags = AS4_CONF_F_REQUIRED,                                                     \
	         .max = 1024},                                                                     \
	        {.path = "medcom.documents[].name", .type = AS4_CONF_STR, .max = 256},             \
	        {.path = "medcom.documents[].max_payload",                                         \
	         .type = AS4_CONF_SIZE,                                                            \
	         .min = 1024,                                                                      \
	         .max = 1024ULL * 1024 * 1024},                                                    \
	        {.path = "medcom.processes",                                                       \
	         .type = AS4_CONF_LIST,                                                            \
	         .elem = AS4_CONF_STR,                                                             \
	         .max = 1000},                                                                     \
	        {.path = "medcom.routes", .type = AS4_CONF_LIST_MAPS, .max = 100000},              \
	        {.path = "medcom.routes[].participant",                                            \
	         .type = AS4_CONF_STR,                                                             \
	         .flags = AS4_CONF_F_REQUIRED,                                                     \
	         .max = 256},                                                                      \
	        {.path = "medcom.routes[].party",                                                  \
	         .type = AS4_CONF_STR,                                                             \
	         .flags = AS4_CONF_F_REQUIRED,                                                     \
	         .max = 128},                                                                      \
	        {.path = "medcom.participants_file", .type = AS4_CONF_PATH},                       \
	        AS4_PARTICIPANT_CONF_ITEMS("participants")

/* What the MedCom part of a load needs from config.c. */
struct as4_medcom_load {
	struct as4_config *cfg;           /* being loaded; medcom and participants are filled */
	struct as4_arena *a;              /* the snapshot's arena */
	struct as4_conf_errors *errs;     /* problems go here */
	const struct as4_conf_node *root; /* the validated as4d.yaml tree */
	const char *base;                 /* node.base_dir, resolved */
	bool nomem;                       /* set on out of memory */
};

/*
 * Read medcom.* and participants[] of the validated tree, then the participants file (absent =
 * none), and check them: GLN check digits, duplicate participants, route parties.
 * cfg->parties and cfg->node.data_dir must be loaded already.
 */
void as4_medcom_config_load(struct as4_medcom_load *l);
