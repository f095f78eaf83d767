/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration loader (L0): one generic loader for every configuration file type, driven by
 * schema tables (STYLE rule 16, after Knot's conf/schema.c).
 *
 * 1. Parse: YAML (libyaml) or JSON (jansson) text becomes a tree of struct as4_conf_node that
 *    remembers, for every key, the file and line it came from (JSON: the key path is the
 *    location). Parsing is bounded (struct as4_conf_limits: file size, nesting depth, node
 *    count, scalar size, keys per map) and refuses YAML anchors, aliases, tags and multiple
 *    documents, so no document can expand beyond its own size (no "billion laughs").
 * 2. Validate: a schema table (struct as4_conf_schema) declares every key by its full dotted
 *    path ("listeners.msh.port", "parties[].ids[].type"), its type, whether it is required,
 *    its bounds and its default. as4_conf_validate() checks the tree against the table,
 *    collects ALL errors (up to a cap) in a struct as4_conf_errors, stores the typed value in
 *    each scalar node and inserts nodes for the defaults of absent keys.
 * 3. Read: after a successful validation, the getters (as4_conf_str(), as4_conf_num(), ...)
 *    cannot fail: every declared key with a default is present with a valid value.
 *
 * Error texts have one form, so an administrator can jump to the line:
 *   "conf/pmodes/x.yaml:12: pmode.security.sign: expected true or false, got 'yes please'"
 *   "conf/as4d.yaml:40: listeners.msh: unknown key 'prot' (did you mean 'port'?)"
 *   "api: pmode.reliability.retries: must be at most 100, got 1000"            (JSON)
 * Texts never contain more of a value than its first 60 characters.
 *
 * Typing rules (the same for YAML and JSON): booleans and integers must not be quoted; sizes
 * and durations may be quoted or not (JSON: a string, or a number meaning bytes / seconds);
 * strings, paths, URLs and enums accept any YAML scalar but must be strings in JSON. A null
 * value (YAML `~`, `null` or nothing; JSON null) counts as an absent key.
 *
 * Thread-safety: a document is owned by one thread while it is parsed and validated; a
 * validated document is immutable and may be read by several threads. Schema tables are
 * static constants.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "as4/arena.h"
#include "as4/compiler.h"
#include "as4/diag.h"
#include "as4/err.h"

/* ---- Limits ------------------------------------------------------------------------------ */

/* Bounds on one configuration document (all hard caps, AS4_E_LIMIT-class errors beyond). */
struct as4_conf_limits {
	size_t max_file;     /* bytes of one file or text */
	size_t max_depth;    /* nesting of maps and lists */
	size_t max_nodes;    /* keys, values and list items in one document */
	size_t max_scalar;   /* bytes of one scalar (key or value) */
	size_t max_children; /* keys of one map, items of one list */
};

/*
 * The defaults: 1 MiB files, depth 32, 20000 nodes, 64 KiB scalars, 4096 keys/items per map or
 * list. l must not be NULL.
 */
void as4_conf_limits_default(struct as4_conf_limits *l);

/* ---- Error list -------------------------------------------------------------------------- */

/* Errors kept by default in one struct as4_conf_errors (further ones are only counted). */
#define AS4_CONF_MAX_ERRORS 100

/* One reported problem. All strings are owned by the list. */
struct as4_conf_error {
	char *text;    /* the whole line: "<where>: <path>: <message>" (or "<where>: <message>") */
	char *source;  /* file name or label ("conf/as4d.yaml", "api"); "" when none */
	uint32_t line; /* 1-based line, 0 when unknown or for JSON */
	char *path;    /* key path ("pmode.security.sign", "parties[1].endpoint"); "" when none */
	char *message; /* what is wrong, without location */
	bool warning;  /* a warning (does not make loading fail) */
};

/*
 * All problems found while loading one or more documents. Initialise with
 * as4_conf_errors_init(), release with as4_conf_errors_cleanup(). Not thread-safe.
 */
struct as4_conf_errors {
	struct as4_conf_error *v; /* kept entries, in the order reported */
	size_t n;                 /* entries in v */
	size_t n_errors;          /* errors reported (warnings excluded), kept or not */
	size_t n_dropped;         /* entries not kept because max was reached */
	size_t max;               /* most entries kept */
	bool oom;                 /* an entry could not be stored for lack of memory */
};

/* Prepare an empty list keeping at most max entries (0 = AS4_CONF_MAX_ERRORS). */
void as4_conf_errors_init(struct as4_conf_errors *e, size_t max);

/* Free every entry; e is empty (and reusable with the same max) afterwards. NULL ok. */
void as4_conf_errors_cleanup(struct as4_conf_errors *e);

/*
 * Report an error at a location given explicitly: source (NULL = none), line (0 = none), key
 * path (NULL or "" = none). e may be NULL (nothing is recorded). Returns AS4_E_CONFIG so that
 * callers can write `err = as4_conf_error_at(...)`. Out of memory is remembered in e->oom.
 */
AS4_PRINTF(5, 6)
as4_err as4_conf_error_at(struct as4_conf_errors *e, const char *source, uint32_t line,
                          const char *path, const char *fmt, ...);

struct as4_conf_node;

/*
 * Report an error about node n (its document's source, its line and its key path). n may be
 * NULL (no location). Returns AS4_E_CONFIG.
 */
AS4_PRINTF(3, 4)
as4_err as4_conf_error(struct as4_conf_errors *e, const struct as4_conf_node *n, const char *fmt,
                       ...);

/* As as4_conf_error() but a warning: counted in e->n but not in e->n_errors. */
AS4_PRINTF(3, 4)
void as4_conf_warn(struct as4_conf_errors *e, const struct as4_conf_node *n, const char *fmt, ...);

/*
 * Summarise the list into d: the first error's text, followed by "(and N more errors)" when
 * there are more. Returns AS4_E_CONFIG when the list holds errors (AS4_E_NOMEM when an entry
 * was lost for lack of memory), AS4_OK (d untouched) when it holds none.
 */
AS4_MUST_CHECK as4_err as4_conf_errors_diag(const struct as4_conf_errors *e, struct as4_diag *d);

/* ---- Node tree --------------------------------------------------------------------------- */

enum as4_conf_kind {
	AS4_CONF_NODE_SCALAR = 0, /* text (possibly null) */
	AS4_CONF_NODE_MAP,        /* keyed children, in document order */
	AS4_CONF_NODE_LIST,       /* unkeyed children, in document order */
};

/* Value types a schema can declare. */
enum as4_conf_type {
	AS4_CONF_STR = 1, /* text; min/max bound its length in bytes (min 0 = 1, max 0 = 4096) */
	AS4_CONF_INT,  /* unquoted non-negative decimal integer; min/max bound it (max 0 = none) */
	AS4_CONF_BOOL, /* unquoted true or false (also True/TRUE/False/FALSE) */
	AS4_CONF_SIZE, /* bytes: "4096", "512K", "64M", "1G" (binary units); min/max bound it */
	AS4_CONF_DURATION,  /* "250ms", "30s", "15m", "24h", "30d"; bare number = seconds; in ms */
	AS4_CONF_PATH,      /* file system path: 1..4095 bytes, no control characters */
	AS4_CONF_URL,       /* absolute http:// or https:// URL with a host, no spaces */
	AS4_CONF_ENUM,      /* exactly one of .enums; the value is the index in .enums */
	AS4_CONF_SECTION,   /* a map whose keys are declared in the table below its path */
	AS4_CONF_MAP,       /* a map with free keys; each value is a scalar of type .elem */
	AS4_CONF_LIST,      /* a list of scalars of type .elem; min/max bound the count */
	AS4_CONF_LIST_MAPS, /* a list of maps whose keys are declared as "<path>[].<key>" */
};

/* Item flags. */
#define AS4_CONF_F_REQUIRED 0x1u /* the key must be present (in its present parent) */

/*
 * An extra check of one validated scalar (after its type check): n->text and n->num hold the
 * value. Return AS4_OK, or AS4_E_CONFIG after writing the reason (without location) into
 * why[cap]. Must be thread-safe and side-effect free.
 */
typedef as4_err (*as4_conf_check_fn)(const struct as4_conf_node *n, char *why, size_t cap);

/*
 * One row of a schema table. path is the full dotted key path from the top of the document;
 * a list of maps contributes "[]" ("parties[].ids[].value"). Every path's parent must be
 * declared in the same table as AS4_CONF_SECTION or AS4_CONF_LIST_MAPS.
 */
struct as4_conf_item {
	const char *path;        /* "listeners.msh.port" */
	enum as4_conf_type type; /* what the value is */
	unsigned flags;          /* AS4_CONF_F_* */
	uint64_t min;            /* lower bound (value, length or count, see the type) */
	uint64_t max;            /* upper bound; 0 = the type's default */
	const char *def;         /* default value as YAML text; NULL = none (absent stays absent) */
	const char *const *enums; /* AS4_CONF_ENUM (or .elem ENUM): NULL-terminated names */
	enum as4_conf_type elem;  /* AS4_CONF_LIST and AS4_CONF_MAP: type of each element */
	const char *shorthand;    /* AS4_CONF_SECTION: a scalar here means {<shorthand>: scalar} */
	as4_conf_check_fn check;  /* extra check of the scalar / of each element; NULL = none */
};

/* A schema: one per file type. */
struct as4_conf_schema {
	const char *name;                  /* what the file is, for messages ("as4d.yaml") */
	const struct as4_conf_item *items; /* the table */
	size_t n_items;                    /* rows in items */
};

/*
 * One node. Every pointer is borrowed from the document (struct as4_conf_doc) and valid until
 * as4_conf_doc_free().
 */
struct as4_conf_node {
	enum as4_conf_kind kind;
	const char *key;    /* key in the parent map; NULL for the root and list items */
	size_t index;       /* position among the parent's children */
	const char *text;   /* SCALAR: NUL-terminated text ("" for null); NULL otherwise */
	size_t len;         /* SCALAR: bytes of text */
	bool quoted;        /* SCALAR: YAML quoted or block scalar, or a JSON string */
	bool null;          /* SCALAR: YAML ~/null/empty or JSON null */
	bool is_default;    /* inserted by as4_conf_validate() from a default (or empty section) */
	const char *source; /* the document's source ("conf/as4d.yaml", "api") */
	uint32_t line;      /* 1-based line of the key (or list item); 0 for JSON */
	const struct as4_conf_item *item; /* after validation: the schema row, NULL for the root */
	uint64_t num; /* after validation: INT value, SIZE bytes, DURATION ms, ENUM index */
	bool flag;    /* after validation: BOOL value */
	struct as4_conf_node *parent; /* NULL for the root */
	struct as4_conf_node *child;  /* first child (MAP, LIST) */
	struct as4_conf_node *last;   /* last child */
	struct as4_conf_node *next;   /* next sibling */
	size_t n_children;            /* number of children */
};

/* A parsed document: its tree and the arena it lives in. */
struct as4_conf_doc {
	struct as4_arena *arena;    /* owns every node and string */
	const char *source;         /* copy of the source label */
	bool json;                  /* parsed from JSON */
	struct as4_conf_node *root; /* always a MAP (an empty document gives an empty map) */
	size_t n_nodes;             /* nodes in the tree */
};

/* ---- Parsing ----------------------------------------------------------------------------- */

/*
 * Parse YAML text (UTF-8, one document) into a tree. source labels every location ("conf/
 * as4d.yaml"); it is copied. lim NULL = as4_conf_limits_default(). On success *out owns the
 * new document (as4_conf_doc_free()). On failure the problem is reported into errs (with line
 * and column) and *out is NULL:
 *   AS4_E_PARSE   YAML syntax error, anchors/aliases/tags, several documents, duplicate keys,
 *                 non-scalar keys, NUL or control characters in keys, top level not a map
 *   AS4_E_LIMIT   one of lim's caps exceeded
 *   AS4_E_INVAL   buf NULL with len > 0 (buf may be NULL for an empty document)
 *   AS4_E_NOMEM
 * Thread-safe (no shared state).
 */
AS4_MUST_CHECK as4_err as4_conf_parse_yaml(const uint8_t *buf, size_t len, const char *source,
                                           const struct as4_conf_limits *lim,
                                           struct as4_conf_doc **out, struct as4_conf_errors *errs);

/*
 * Parse JSON text (one object, nothing after it, duplicate keys refused) into the same tree;
 * nodes carry line 0, so locations are key paths. Nesting is checked against lim->max_depth
 * before jansson recurses. Errors and ownership as as4_conf_parse_yaml().
 */
AS4_MUST_CHECK as4_err as4_conf_parse_json(const uint8_t *buf, size_t len, const char *source,
                                           const struct as4_conf_limits *lim,
                                           struct as4_conf_doc **out, struct as4_conf_errors *errs);

/*
 * Read a file (at most lim->max_file bytes) and parse it: JSON when the name ends in ".json",
 * YAML otherwise. The path as given is the source label. Besides the parse errors:
 * AS4_E_NOTFOUND, AS4_E_IO (reported as "<path>: cannot read: <reason>"), AS4_E_LIMIT.
 */
AS4_MUST_CHECK as4_err as4_conf_load_file(const char *path, const struct as4_conf_limits *lim,
                                          struct as4_conf_doc **out, struct as4_conf_errors *errs);

/* Free a document and every node in it. NULL ok. */
void as4_conf_doc_free(struct as4_conf_doc *doc);

/* ---- Validation -------------------------------------------------------------------------- */

/*
 * Check doc against schema, collecting every problem into errs: unknown keys (with a
 * suggestion when a declared key is close), wrong types, values out of bounds, missing
 * required keys, lists of the wrong length, failed item checks. On the way it fills item, num
 * and flag of every node, turns a shorthand scalar into its section, and inserts default
 * nodes (is_default) for absent keys that have a default and for absent sections, lists and
 * maps (empty). Required keys of an absent optional section are not reported.
 * Returns AS4_OK, AS4_E_CONFIG when errors were reported, AS4_E_NOMEM.
 * The tree may be partly annotated after a failure; only read it after AS4_OK.
 */
AS4_MUST_CHECK as4_err as4_conf_validate(struct as4_conf_doc *doc,
                                         const struct as4_conf_schema *schema,
                                         struct as4_conf_errors *errs);

/*
 * Check a schema table itself (for unit tests): every parent declared as a section or list of
 * maps, defaults valid for their type, enums present where needed, no path twice.
 * AS4_E_INTERNAL with a diagnostic naming the bad row.
 */
AS4_MUST_CHECK as4_err as4_conf_schema_check(const struct as4_conf_schema *schema,
                                             struct as4_diag *d);

/* ---- Reading a validated tree ------------------------------------------------------------ */

/*
 * The node at a dotted path below map ("tls.cert"; no list indexes), or NULL when absent or
 * when something on the way is not a map. map may be NULL (gives NULL). Borrowed.
 */
const struct as4_conf_node *as4_conf_get(const struct as4_conf_node *map, const char *path);

/* The text of the scalar at path, or NULL when absent, null or not a scalar. Borrowed. */
const char *as4_conf_str(const struct as4_conf_node *map, const char *path);

/* The validated number (INT, SIZE, DURATION, ENUM index) at path; 0 when absent. */
uint64_t as4_conf_num(const struct as4_conf_node *map, const char *path);

/* The validated BOOL at path; false when absent. */
bool as4_conf_bool(const struct as4_conf_node *map, const char *path);

/* True when the node at path is present, not null and not an inserted default. */
bool as4_conf_given(const struct as4_conf_node *map, const char *path);

/*
 * Write n's key path into out[cap] ("parties[2].ids[0].value"; "" for the root), truncated
 * when too long. Returns out.
 */
char *as4_conf_node_path(const struct as4_conf_node *n, char *out, size_t cap);

/* ---- Helpers shared by the configuration modules ----------------------------------------- */

/*
 * Quote v for a message: 'text' with control characters shown as \n, \t, \xNN and at most
 * 60 bytes of v followed by "...". Writes into out[cap] (cap >= 8) and returns out.
 */
char *as4_conf_quote(const char *v, char *out, size_t cap);

/* As as4_conf_quote() but showing at most max bytes of v (for long identifiers). */
char *as4_conf_quote_max(const char *v, size_t max, char *out, size_t cap);

/*
 * The declared name in names (NULL-terminated) closest to s by edit distance (insertions,
 * deletions, substitutions, adjacent transpositions), or NULL when none is close enough to be
 * a likely typo. Borrowed from names.
 */
const char *as4_conf_suggest(const char *s, const char *const *names);

/* Format a byte count for messages ("64M", "1536K", "1000"). Returns out. */
char *as4_conf_fmt_size(uint64_t bytes, char *out, size_t cap);

/* Format a duration in ms for messages ("30d", "15m", "250ms"). Returns out. */
char *as4_conf_fmt_duration(uint64_t ms, char *out, size_t cap);

/*
 * True when s is an absolute http:// or https:// URL: scheme (any case), a non-empty host
 * (name, IPv4, or [IPv6]), an optional port 1..65535, an optional path/query, no user info,
 * no fragment, no spaces or control characters. https_only refuses http.
 */
bool as4_conf_url_valid(const char *s, bool https_only);
