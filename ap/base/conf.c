/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The generic configuration loader: YAML/JSON text -> located node tree -> schema check.
 * Every configuration file type is a table (STYLE rule 16); nothing here knows a key name.
 */
#include "as4/conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yaml.h>

#include "as4/blob.h"
#include "as4/str.h"

/* Longest key path handled while validating (keys making it longer are refused). */
#define PATH_MAX_LEN 512
/* Longest item path in a schema table. */
#define ITEM_PATH_MAX 256

void as4_conf_limits_default(struct as4_conf_limits *l)
{
	l->max_file = 1024 * 1024;
	l->max_depth = 32;
	l->max_nodes = 20000;
	l->max_scalar = 64 * 1024;
	l->max_children = 4096;
}

/* ---- Error list -------------------------------------------------------------------------- */

void as4_conf_errors_init(struct as4_conf_errors *e, size_t max)
{
	memset(e, 0, sizeof(*e));
	e->max = max != 0 ? max : AS4_CONF_MAX_ERRORS;
}

static void entry_cleanup(struct as4_conf_error *x)
{
	free(x->text);
	free(x->source);
	free(x->path);
	free(x->message);
}

void as4_conf_errors_cleanup(struct as4_conf_errors *e)
{
	if (e == NULL) {
		return;
	}
	for (size_t i = 0; i < e->n; i++) {
		entry_cleanup(&e->v[i]);
	}
	free(e->v);
	size_t max = e->max;
	as4_conf_errors_init(e, max);
}

/* vsnprintf into a new heap string; NULL = out of memory. */
AS4_PRINTF(1, 0) static char *vfmt_heap(const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		return NULL;
	}
	char *s = malloc((size_t)n + 1);
	if (s == NULL) {
		return NULL;
	}
	if (vsnprintf(s, (size_t)n + 1, fmt, ap) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

AS4_PRINTF(1, 2) static char *fmt_heap(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = vfmt_heap(fmt, ap);
	va_end(ap);
	return s;
}

/* Store one entry; takes message. */
static void add_entry(struct as4_conf_errors *e, const char *source, uint32_t line,
                      const char *path, char *message, bool warning)
{
	if (e == NULL) {
		free(message);
		return;
	}
	if (!warning) {
		e->n_errors++;
	}
	if (message == NULL) {
		e->oom = true;
		return;
	}
	if (e->n >= e->max) {
		e->n_dropped++;
		free(message);
		return;
	}
	/* capacity doubles at 4, 8, 16, ... entries */
	if (e->n == 0 || (e->n >= 4 && (e->n & (e->n - 1)) == 0)) {
		size_t cap = e->n == 0 ? 4 : e->n * 2;
		struct as4_conf_error *nv = realloc(e->v, cap * sizeof(*nv));
		if (nv == NULL) {
			e->oom = true;
			free(message);
			return;
		}
		e->v = nv;
	}
	struct as4_conf_error *x = &e->v[e->n];
	memset(x, 0, sizeof(*x));
	source = source != NULL ? source : "";
	path = path != NULL ? path : "";
	x->source = as4_str_dup(source);
	x->path = as4_str_dup(path);
	x->message = message;
	x->line = line;
	x->warning = warning;
	const char *w = warning ? "warning: " : "";
	if (source[0] != '\0' && line > 0) {
		x->text = path[0] != '\0'
		                  ? fmt_heap("%s:%u: %s%s: %s", source, line, w, path, message)
		                  : fmt_heap("%s:%u: %s%s", source, line, w, message);
	} else if (source[0] != '\0') {
		x->text = path[0] != '\0' ? fmt_heap("%s: %s%s: %s", source, w, path, message)
		                          : fmt_heap("%s: %s%s", source, w, message);
	} else {
		x->text = path[0] != '\0' ? fmt_heap("%s%s: %s", w, path, message)
		                          : fmt_heap("%s%s", w, message);
	}
	if (x->source == NULL || x->path == NULL || x->text == NULL) {
		entry_cleanup(x);
		e->oom = true;
		return;
	}
	e->n++;
}

as4_err as4_conf_error_at(struct as4_conf_errors *e, const char *source, uint32_t line,
                          const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = vfmt_heap(fmt, ap);
	va_end(ap);
	add_entry(e, source, line, path, msg, false);
	return AS4_E_CONFIG;
}

AS4_PRINTF(4, 0)
static void report_node(struct as4_conf_errors *e, const struct as4_conf_node *n, bool warning,
                        const char *fmt, va_list ap)
{
	char *msg = vfmt_heap(fmt, ap);
	char path[PATH_MAX_LEN];
	path[0] = '\0';
	if (n != NULL) {
		as4_conf_node_path(n, path, sizeof(path));
	}
	add_entry(e, n != NULL ? n->source : NULL, n != NULL ? n->line : 0, path, msg, warning);
}

as4_err as4_conf_error(struct as4_conf_errors *e, const struct as4_conf_node *n, const char *fmt,
                       ...)
{
	va_list ap;
	va_start(ap, fmt);
	report_node(e, n, false, fmt, ap);
	va_end(ap);
	return AS4_E_CONFIG;
}

void as4_conf_warn(struct as4_conf_errors *e, const struct as4_conf_node *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report_node(e, n, true, fmt, ap);
	va_end(ap);
}

as4_err as4_conf_errors_diag(const struct as4_conf_errors *e, struct as4_diag *d)
{
	if (e->n_errors == 0 && !e->oom) {
		return AS4_OK;
	}
	if (e->oom) {
		return as4_diag_set(d, AS4_E_NOMEM,
		                    "out of memory while reporting configuration "
		                    "errors");
	}
	const char *first = NULL;
	for (size_t i = 0; i < e->n && first == NULL; i++) {
		if (!e->v[i].warning) {
			first = e->v[i].text;
		}
	}
	if (first == NULL) {
		return as4_diag_set(d, AS4_E_CONFIG, "%zu configuration errors", e->n_errors);
	}
	if (e->n_errors > 1) {
		return as4_diag_set(d, AS4_E_CONFIG, "%s (and %zu more errors)", first,
		                    e->n_errors - 1);
	}
	return as4_diag_set(d, AS4_E_CONFIG, "%s", first);
}

/* ---- Formatting helpers ------------------------------------------------------------------ */

char *as4_conf_quote(const char *v, char *out, size_t cap)
{
	return as4_conf_quote_max(v, 60, out, cap);
}

char *as4_conf_quote_max(const char *v, size_t max, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	size_t shown = 0;
	bool cut = false;
	if (cap < 8) {
		if (cap > 0) {
			out[0] = '\0';
		}
		return out;
	}
	out[o++] = '\'';
	for (const unsigned char *p = (const unsigned char *)(v != NULL ? v : ""); *p != '\0';
	     p++) {
		char esc[5];
		size_t el;
		if (*p == '\n' || *p == '\t' || *p == '\r') {
			esc[0] = '\\';
			esc[1] = *p == '\n' ? 'n' : *p == '\t' ? 't' : 'r';
			el = 2;
		} else if (*p < 0x20 || *p == 0x7f) {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[*p >> 4];
			esc[3] = hex[*p & 15];
			el = 4;
		} else {
			esc[0] = (char)*p;
			el = 1;
		}
		/* room for the escape, "..." , the closing quote and the NUL */
		if (shown >= max || o + el + 5 > cap) {
			cut = true;
			break;
		}
		memcpy(out + o, esc, el);
		o += el;
		shown++;
	}
	if (cut) {
		/* do not leave half a UTF-8 sequence before the ellipsis */
		while (o > 1 && ((unsigned char)out[o - 1] & 0xc0) == 0x80) {
			o--;
		}
		if (o > 1 && ((unsigned char)out[o - 1] & 0xc0) == 0xc0) {
			o--;
		}
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '\'';
	out[o] = '\0';
	return out;
}

static unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Optimal string alignment distance, ASCII case-insensitive; both lengths <= 64. */
static size_t osa_distance(const char *a, size_t la, const char *b, size_t lb)
{
	unsigned char d[65][65];
	for (size_t i = 0; i <= la; i++) {
		d[i][0] = (unsigned char)i;
	}
	for (size_t j = 0; j <= lb; j++) {
		d[0][j] = (unsigned char)j;
	}
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			unsigned char ca = lower((unsigned char)a[i - 1]);
			unsigned char cb = lower((unsigned char)b[j - 1]);
			size_t cost = ca == cb ? 0 : 1;
			size_t best = (size_t)d[i - 1][j] + 1;
			if ((size_t)d[i][j - 1] + 1 < best) {
				best = (size_t)d[i][j - 1] + 1;
			}
			if (d[i - 1][j - 1] + cost < best) {
				best = d[i - 1][j - 1] + cost;
			}
			if (i > 1 && j > 1 && ca == lower((unsigned char)b[j - 2]) &&
			    lower((unsigned char)a[i - 2]) == cb &&
			    (size_t)d[i - 2][j - 2] + 1 < best) {
				best = (size_t)d[i - 2][j - 2] + 1;
			}
			d[i][j] = (unsigned char)best;
		}
	}
	return d[la][lb];
}

const char *as4_conf_suggest(const char *s, const char *const *names)
{
	if (s == NULL || names == NULL) {
		return NULL;
	}
	size_t ls = strlen(s);
	if (ls == 0 || ls > 64) {
		return NULL;
	}
	const char *best = NULL;
	size_t best_d = SIZE_MAX;
	for (size_t i = 0; names[i] != NULL; i++) {
		size_t ln = strlen(names[i]);
		if (ln == 0 || ln > 64 || strcmp(s, names[i]) == 0) {
			continue;
		}
		size_t dist = osa_distance(s, ls, names[i], ln);
		/* a typo: one edit in short words, two in longer ones, never most of the word */
		size_t allowed = ln <= 4 ? 1 : 2;
		if (dist <= allowed && dist < ln && dist < best_d) {
			best = names[i];
			best_d = dist;
		}
	}
	return best;
}

char *as4_conf_fmt_size(uint64_t bytes, char *out, size_t cap)
{
	static const struct {
		uint64_t mul;
		const char *unit;
	} units[] = {{1024ULL * 1024 * 1024, "G"}, {1024 * 1024, "M"}, {1024, "K"}};
	for (size_t i = 0; i < AS4_ARRAY_LEN(units); i++) {
		if (bytes != 0 && bytes % units[i].mul == 0) {
			if (as4_str_fmt(out, cap, "%llu%s",
			                (unsigned long long)(bytes / units[i].mul),
			                units[i].unit) != AS4_OK) {
				/* truncated text is still a hint */
			}
			return out;
		}
	}
	if (as4_str_fmt(out, cap, "%llu", (unsigned long long)bytes) != AS4_OK) {
		/* truncated text is still a hint */
	}
	return out;
}

char *as4_conf_fmt_duration(uint64_t ms, char *out, size_t cap)
{
	static const struct {
		uint64_t mul;
		const char *unit;
	} units[] = {{24ULL * 3600 * 1000, "d"}, {3600 * 1000, "h"}, {60 * 1000, "m"}, {1000, "s"}};
	for (size_t i = 0; i < AS4_ARRAY_LEN(units); i++) {
		if (ms != 0 && ms % units[i].mul == 0) {
			if (as4_str_fmt(out, cap, "%llu%s", (unsigned long long)(ms / units[i].mul),
			                units[i].unit) != AS4_OK) {
				/* truncated text is still a hint */
			}
			return out;
		}
	}
	if (as4_str_fmt(out, cap, "%llums", (unsigned long long)ms) != AS4_OK) {
		/* truncated text is still a hint */
	}
	return out;
}

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool as4_conf_url_valid(const char *s, bool https_only)
{
	const char *p;
	if (s == NULL) {
		return false;
	}
	if (as4_str_nieq(s, "https://", 8)) {
		p = s + 8;
	} else if (!https_only && as4_str_nieq(s, "http://", 7)) {
		p = s + 7;
	} else {
		return false;
	}
	/* host */
	if (*p == '[') {
		const char *h = ++p;
		while (*p != '\0' && *p != ']') {
			unsigned char c = (unsigned char)*p;
			if (!(is_alnum(c) || c == ':' || c == '.')) {
				return false;
			}
			p++;
		}
		if (*p != ']' || p == h) {
			return false;
		}
		p++;
	} else {
		const char *h = p;
		while (is_alnum((unsigned char)*p) || *p == '-' || *p == '.' || *p == '_') {
			p++;
		}
		if (p == h) {
			return false;
		}
	}
	if (*p == ':') {
		p++;
		unsigned long port = 0;
		const char *d = p;
		while (*p >= '0' && *p <= '9') {
			port = port * 10 + (unsigned long)(*p - '0');
			if (port > 65535) {
				return false;
			}
			p++;
		}
		if (p == d || port == 0) {
			return false;
		}
	}
	if (*p != '\0' && *p != '/' && *p != '?') {
		return false;
	}
	for (; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}#", c) != NULL) {
			return false;
		}
	}
	return true;
}

/* ---- Tree -------------------------------------------------------------------------------- */

char *as4_conf_node_path(const struct as4_conf_node *n, char *out, size_t cap)
{
	const struct as4_conf_node *chain[64];
	size_t depth = 0;
	if (cap == 0) {
		return out;
	}
	out[0] = '\0';
	for (const struct as4_conf_node *p = n; p != NULL && p->parent != NULL; p = p->parent) {
		if (depth == AS4_ARRAY_LEN(chain)) {
			/* deeper than any accepted document: show the innermost part */
			break;
		}
		chain[depth++] = p;
	}
	while (depth > 0) {
		const struct as4_conf_node *p = chain[--depth];
		as4_err err;
		if (p->key != NULL) {
			err = as4_str_fmt(out + strlen(out), cap - strlen(out), "%s%s",
			                  out[0] != '\0' ? "." : "", p->key);
		} else {
			err = as4_str_fmt(out + strlen(out), cap - strlen(out), "[%zu]", p->index);
		}
		if (err != AS4_OK) {
			break; /* truncated: still names the start of the path */
		}
	}
	return out;
}

static struct as4_conf_node *node_new(struct as4_conf_doc *doc, enum as4_conf_kind kind,
                                      uint32_t line)
{
	struct as4_conf_node *n = as4_arena_calloc(doc->arena, 1, sizeof(*n));
	if (n == NULL) {
		return NULL;
	}
	n->kind = kind;
	n->source = doc->source;
	n->line = line;
	doc->n_nodes++;
	return n;
}

static void node_append(struct as4_conf_node *parent, struct as4_conf_node *child)
{
	child->parent = parent;
	child->index = parent->n_children;
	if (parent->last != NULL) {
		parent->last->next = child;
	} else {
		parent->child = child;
	}
	parent->last = child;
	parent->n_children++;
}

static const struct as4_conf_node *child_by_key(const struct as4_conf_node *map, const char *key,
                                                size_t klen)
{
	for (const struct as4_conf_node *c = map->child; c != NULL; c = c->next) {
		if (c->key != NULL && strlen(c->key) == klen && memcmp(c->key, key, klen) == 0) {
			return c;
		}
	}
	return NULL;
}

static struct as4_conf_doc *doc_new(const char *source, bool json)
{
	struct as4_conf_doc *doc = calloc(1, sizeof(*doc));
	if (doc == NULL) {
		return NULL;
	}
	doc->arena = as4_arena_new(16 * 1024);
	doc->json = json;
	if (doc->arena == NULL) {
		free(doc);
		return NULL;
	}
	doc->source = as4_arena_strdup(doc->arena, source != NULL ? source : "");
	if (doc->source == NULL) {
		as4_conf_doc_free(doc);
		return NULL;
	}
	return doc;
}

void as4_conf_doc_free(struct as4_conf_doc *doc)
{
	if (doc == NULL) {
		return;
	}
	as4_arena_free(doc->arena);
	free(doc);
}

/*
 * Check the characters of a key or value: NUL never (C strings would silently cut it), other
 * control characters only tab/CR/LF in values (block scalars, descriptions).
 */
static const char *bad_chars(const char *s, size_t n, bool is_key)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0) {
			return "a NUL character";
		}
		if ((c < 0x20 && (is_key || (c != '\t' && c != '\n' && c != '\r'))) || c == 0x7f) {
			return "a control character";
		}
	}
	return NULL;
}

/* ---- YAML -------------------------------------------------------------------------------- */

struct ylevel {
	struct as4_conf_node *node; /* MAP or LIST being filled */
	const char *key;            /* MAP: key waiting for its value, NULL when none */
	uint32_t key_line;
};

struct yparse {
	struct as4_conf_doc *doc;
	const struct as4_conf_limits *lim;
	struct as4_conf_errors *errs;
	struct ylevel *stack;
	size_t depth;
	size_t docs;
	bool have_root;
};

static uint32_t mark_line(const yaml_mark_t *m)
{
	return m->line >= UINT32_MAX - 1 ? UINT32_MAX : (uint32_t)(m->line + 1);
}

static as4_err ylimit(struct yparse *y, uint32_t line, const char *what, size_t cap)
{
	as4_conf_error_at(y->errs, y->doc->source, line, NULL, "%s (the limit is %zu)", what, cap);
	return AS4_E_LIMIT;
}

AS4_PRINTF(3, 4) static as4_err yrefuse(struct yparse *y, uint32_t line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = vfmt_heap(fmt, ap);
	va_end(ap);
	add_entry(y->errs, y->doc->source, line, NULL, msg, false);
	return AS4_E_PARSE;
}

/* Place a new node (scalar or container) at the current position of the tree. */
static as4_err yplace(struct yparse *y, struct as4_conf_node *n, uint32_t line)
{
	if (y->doc->n_nodes > y->lim->max_nodes) {
		return ylimit(y, line, "too many keys and values in one document",
		              y->lim->max_nodes);
	}
	if (y->depth == 0) {
		y->doc->root = n;
		y->have_root = true;
		return AS4_OK;
	}
	struct ylevel *top = &y->stack[y->depth - 1];
	if (top->node->n_children >= y->lim->max_children) {
		return ylimit(y, line, "too many entries in one map or list", y->lim->max_children);
	}
	if (top->node->kind == AS4_CONF_NODE_MAP) {
		n->key = top->key;
		n->line = top->key_line;
		top->key = NULL;
	}
	node_append(top->node, n);
	return AS4_OK;
}

static as4_err yscalar(struct yparse *y, const yaml_event_t *ev)
{
	uint32_t line = mark_line(&ev->start_mark);
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	if (len > y->lim->max_scalar) {
		return ylimit(y, line, "value too long", y->lim->max_scalar);
	}
	struct ylevel *top = y->depth > 0 ? &y->stack[y->depth - 1] : NULL;
	if (top != NULL && top->node->kind == AS4_CONF_NODE_MAP && top->key == NULL) {
		/* a key */
		const char *bad = bad_chars(v, len, true);
		if (bad != NULL) {
			return yrefuse(y, line, "key contains %s", bad);
		}
		if (len == 0) {
			return yrefuse(y, line, "empty keys are not allowed");
		}
		const struct as4_conf_node *dup = child_by_key(top->node, v, len);
		if (dup != NULL) {
			char q[80];
			as4_conf_error_at(y->errs, y->doc->source, line, NULL,
			                  "duplicate key %s (first at line %u)",
			                  as4_conf_quote(dup->key, q, sizeof(q)), dup->line);
			return AS4_E_PARSE;
		}
		top->key = as4_arena_strndup(y->doc->arena, v, len);
		top->key_line = line;
		return top->key != NULL ? AS4_OK : AS4_E_NOMEM;
	}
	const char *bad = bad_chars(v, len, false);
	if (bad != NULL) {
		return yrefuse(y, line, "value contains %s", bad);
	}
	bool null =
	        plain && (len == 0 || (len == 1 && v[0] == '~') ||
	                  (len == 4 && (memcmp(v, "null", 4) == 0 || memcmp(v, "Null", 4) == 0 ||
	                                memcmp(v, "NULL", 4) == 0)));
	if (top == NULL) {
		/* a document that is one scalar: only "nothing" is acceptable (an empty file) */
		if (!null) {
			return yrefuse(y, line,
			               "the top level must be a map of keys, not a single value");
		}
		struct as4_conf_node *root = node_new(y->doc, AS4_CONF_NODE_MAP, line);
		if (root == NULL) {
			return AS4_E_NOMEM;
		}
		return yplace(y, root, line);
	}
	struct as4_conf_node *n = node_new(y->doc, AS4_CONF_NODE_SCALAR, line);
	if (n == NULL) {
		return AS4_E_NOMEM;
	}
	n->text = as4_arena_strndup(y->doc->arena, null ? "" : v, null ? 0 : len);
	if (n->text == NULL) {
		return AS4_E_NOMEM;
	}
	n->len = null ? 0 : len;
	n->quoted = !plain;
	n->null = null;
	return yplace(y, n, line);
}

static as4_err ystart(struct yparse *y, const yaml_event_t *ev, enum as4_conf_kind kind)
{
	uint32_t line = mark_line(&ev->start_mark);
	struct ylevel *top = y->depth > 0 ? &y->stack[y->depth - 1] : NULL;
	if (top != NULL && top->node->kind == AS4_CONF_NODE_MAP && top->key == NULL) {
		return yrefuse(y, line, "a key must be a plain value, not a map or list");
	}
	if (top == NULL && kind != AS4_CONF_NODE_MAP) {
		return yrefuse(y, line, "the top level must be a map of keys, not a list");
	}
	if (y->depth >= y->lim->max_depth) {
		return ylimit(y, line, "maps and lists nested too deeply", y->lim->max_depth);
	}
	struct as4_conf_node *n = node_new(y->doc, kind, line);
	if (n == NULL) {
		return AS4_E_NOMEM;
	}
	as4_err err = yplace(y, n, line);
	if (err != AS4_OK) {
		return err;
	}
	y->stack[y->depth].node = n;
	y->stack[y->depth].key = NULL;
	y->depth++;
	return AS4_OK;
}

/* Anchors, aliases and tags are refused: they are how YAML documents grow beyond their size. */
static as4_err ycheck_props(struct yparse *y, const yaml_event_t *ev)
{
	const yaml_char_t *anchor = NULL;
	const yaml_char_t *tag = NULL;
	uint32_t line = mark_line(&ev->start_mark);
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return yrefuse(y, line,
		               "YAML aliases (*name) are not supported: write the value out");
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		break;
	default:
		break;
	}
	if (anchor != NULL) {
		return yrefuse(y, line,
		               "YAML anchors (&name) are not supported: write the value out");
	}
	if (tag != NULL) {
		return yrefuse(y, line, "YAML tags (!tag) are not supported");
	}
	return AS4_OK;
}

static as4_err yevent(struct yparse *y, const yaml_event_t *ev)
{
	as4_err err = ycheck_props(y, ev);
	if (err != AS4_OK) {
		return err;
	}
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++y->docs > 1) {
			return yrefuse(
			        y, mark_line(&ev->start_mark),
			        "only one YAML document per file (a second '---' was found)");
		}
		return AS4_OK;
	case YAML_SCALAR_EVENT:
		return yscalar(y, ev);
	case YAML_MAPPING_START_EVENT:
		return ystart(y, ev, AS4_CONF_NODE_MAP);
	case YAML_SEQUENCE_START_EVENT:
		return ystart(y, ev, AS4_CONF_NODE_LIST);
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		if (y->depth > 0) {
			y->depth--;
		}
		return AS4_OK;
	default:
		return AS4_OK;
	}
}

static as4_err ysyntax(struct yparse *y, const yaml_parser_t *p)
{
	if (p->error == YAML_MEMORY_ERROR) {
		return AS4_E_NOMEM;
	}
	const yaml_mark_t *m = &p->problem_mark;
	const char *problem = p->problem != NULL ? p->problem : "malformed document";
	uint32_t line = mark_line(m);
	if (p->context != NULL) {
		as4_conf_error_at(y->errs, y->doc->source, line, NULL,
		                  "YAML syntax error: %s %s (column %zu)", problem, p->context,
		                  m->column + 1);
	} else {
		as4_conf_error_at(y->errs, y->doc->source, line, NULL,
		                  "YAML syntax error: %s (column %zu)", problem, m->column + 1);
	}
	return AS4_E_PARSE;
}

static as4_err finish_doc(struct as4_conf_doc *doc, as4_err err, struct as4_conf_doc **out,
                          struct as4_conf_errors *errs)
{
	if (err == AS4_OK && doc->root == NULL) {
		/* an empty file or one holding only comments: an empty map */
		doc->root = node_new(doc, AS4_CONF_NODE_MAP, 1);
		if (doc->root == NULL) {
			err = AS4_E_NOMEM;
		}
	}
	if (err == AS4_E_NOMEM) {
		as4_conf_error_at(errs, doc->source, 0, NULL, "out of memory while parsing");
	}
	if (err != AS4_OK) {
		as4_conf_doc_free(doc);
		return err;
	}
	*out = doc;
	return AS4_OK;
}

as4_err as4_conf_parse_yaml(const uint8_t *buf, size_t len, const char *source,
                            const struct as4_conf_limits *lim, struct as4_conf_doc **out,
                            struct as4_conf_errors *errs)
{
	struct as4_conf_limits dl;
	struct yparse y;
	yaml_parser_t parser;
	bool parser_ok = false;
	as4_err err = AS4_OK;
	*out = NULL;
	if (lim == NULL) {
		as4_conf_limits_default(&dl);
		lim = &dl;
	}
	if (buf == NULL) {
		/* an empty body may come as NULL; libyaml asserts on a NULL input */
		if (len != 0) {
			as4_conf_error_at(errs, source, 0, NULL, "no document");
			return AS4_E_INVAL;
		}
		buf = (const uint8_t *)"";
	}
	memset(&y, 0, sizeof(y));
	y.doc = doc_new(source, false);
	if (y.doc == NULL) {
		as4_conf_error_at(errs, source, 0, NULL, "out of memory while parsing");
		return AS4_E_NOMEM;
	}
	y.lim = lim;
	y.errs = errs;
	if (len > lim->max_file) {
		as4_conf_error_at(errs, y.doc->source, 0, NULL,
		                  "document of %zu bytes exceeds the limit of %zu bytes", len,
		                  lim->max_file);
		err = AS4_E_LIMIT;
		goto out;
	}
	y.stack = as4_arena_calloc(y.doc->arena, lim->max_depth + 1, sizeof(*y.stack));
	if (y.stack == NULL || !yaml_parser_initialize(&parser)) {
		err = AS4_E_NOMEM;
		goto out;
	}
	parser_ok = true;
	yaml_parser_set_input_string(&parser, buf, len);
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			err = ysyntax(&y, &parser);
			break;
		}
		bool end = ev.type == YAML_STREAM_END_EVENT;
		err = yevent(&y, &ev);
		yaml_event_delete(&ev);
		if (err != AS4_OK || end) {
			break;
		}
	}
out:
	if (parser_ok) {
		yaml_parser_delete(&parser);
	}
	return finish_doc(y.doc, err, out, errs);
}

/* ---- JSON -------------------------------------------------------------------------------- */

/* Nesting of [ and { outside strings, measured before jansson recurses into the text. */
static bool json_depth_ok(const uint8_t *buf, size_t len, size_t max_depth)
{
	size_t depth = 0;
	bool in_str = false;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = buf[i];
		if (in_str) {
			if (c == '\\') {
				i++;
			} else if (c == '"') {
				in_str = false;
			}
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max_depth) {
				return false;
			}
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return true;
}

struct jparse {
	struct as4_conf_doc *doc;
	const struct as4_conf_limits *lim;
	struct as4_conf_errors *errs;
};

AS4_PRINTF(6, 7)
static as4_err jerror(struct jparse *j, const struct as4_conf_node *parent, const char *key,
                      size_t index, as4_err err, const char *fmt, ...)
{
	char path[PATH_MAX_LEN];
	as4_conf_node_path(parent, path, sizeof(path));
	size_t l = strlen(path);
	as4_err e2 =
	        key != NULL ? as4_str_fmt(path + l, sizeof(path) - l, "%s%s", l > 0 ? "." : "", key)
	                    : as4_str_fmt(path + l, sizeof(path) - l, "[%zu]", index);
	if (e2 != AS4_OK) {
		/* a truncated path still locates the value */
	}
	va_list ap;
	va_start(ap, fmt);
	char *msg = vfmt_heap(fmt, ap);
	va_end(ap);
	add_entry(j->errs, j->doc->source, 0, path, msg, false);
	return err;
}

static as4_err jconvert(struct jparse *j, json_t *v, struct as4_conf_node *parent, const char *key,
                        size_t index, struct as4_conf_node **out)
{
	struct as4_conf_node *n = NULL;
	char num[64];
	const char *text = NULL;
	size_t tlen = 0;
	bool quoted = false;
	bool null = false;
	if (j->doc->n_nodes >= j->lim->max_nodes) {
		return jerror(j, parent, key, index, AS4_E_LIMIT,
		              "too many keys and values in one document");
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
	case JSON_ARRAY: {
		bool obj = json_is_object(v);
		size_t count = obj ? json_object_size(v) : json_array_size(v);
		if (count > j->lim->max_children) {
			return jerror(j, parent, key, index, AS4_E_LIMIT,
			              "too many entries in one object or array");
		}
		n = node_new(j->doc, obj ? AS4_CONF_NODE_MAP : AS4_CONF_NODE_LIST, 0);
		if (n == NULL) {
			return AS4_E_NOMEM;
		}
		n->key = key;
		n->parent = parent;
		n->index = index;
		if (obj) {
			const char *k;
			json_t *cv;
			size_t i = 0;
			json_object_foreach(v, k, cv)
			{
				size_t kl = strlen(k);
				const char *bad = bad_chars(k, kl, true);
				if (kl == 0 || kl > j->lim->max_scalar || bad != NULL) {
					char q[96];
					return jerror(j, parent, key, index, AS4_E_PARSE,
					              "key %s is empty, too long or has control "
					              "characters",
					              as4_conf_quote(k, q, sizeof(q)));
				}
				const char *kc = as4_arena_strndup(j->doc->arena, k, kl);
				struct as4_conf_node *c = NULL;
				if (kc == NULL) {
					return AS4_E_NOMEM;
				}
				as4_err err = jconvert(j, cv, n, kc, i, &c);
				if (err != AS4_OK) {
					return err;
				}
				node_append(n, c);
				i++;
			}
		} else {
			for (size_t i = 0; i < count; i++) {
				struct as4_conf_node *c = NULL;
				as4_err err = jconvert(j, json_array_get(v, i), n, NULL, i, &c);
				if (err != AS4_OK) {
					return err;
				}
				node_append(n, c);
			}
		}
		n->parent = NULL; /* set again by node_append() in the caller */
		*out = n;
		return AS4_OK;
	}
	case JSON_STRING:
		text = json_string_value(v);
		tlen = json_string_length(v);
		quoted = true;
		break;
	case JSON_INTEGER:
		if (as4_str_fmt(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v)) !=
		    AS4_OK) {
			return AS4_E_INTERNAL;
		}
		text = num;
		tlen = strlen(num);
		break;
	case JSON_REAL:
		if (as4_str_fmt(num, sizeof(num), "%.17g", json_real_value(v)) != AS4_OK) {
			return AS4_E_INTERNAL;
		}
		text = num;
		tlen = strlen(num);
		break;
	case JSON_TRUE:
		text = "true";
		tlen = 4;
		break;
	case JSON_FALSE:
		text = "false";
		tlen = 5;
		break;
	case JSON_NULL:
	default:
		text = "";
		null = true;
		break;
	}
	if (tlen > j->lim->max_scalar) {
		return jerror(j, parent, key, index, AS4_E_LIMIT, "value too long");
	}
	const char *bad = bad_chars(text, tlen, false);
	if (bad != NULL) {
		return jerror(j, parent, key, index, AS4_E_PARSE, "value contains %s", bad);
	}
	n = node_new(j->doc, AS4_CONF_NODE_SCALAR, 0);
	if (n == NULL) {
		return AS4_E_NOMEM;
	}
	n->text = as4_arena_strndup(j->doc->arena, text, tlen);
	if (n->text == NULL) {
		return AS4_E_NOMEM;
	}
	n->key = key;
	n->len = tlen;
	n->quoted = quoted;
	n->null = null;
	*out = n;
	return AS4_OK;
}

as4_err as4_conf_parse_json(const uint8_t *buf, size_t len, const char *source,
                            const struct as4_conf_limits *lim, struct as4_conf_doc **out,
                            struct as4_conf_errors *errs)
{
	struct as4_conf_limits dl;
	struct jparse j;
	json_t *v = NULL;
	as4_err err = AS4_OK;
	*out = NULL;
	if (lim == NULL) {
		as4_conf_limits_default(&dl);
		lim = &dl;
	}
	if (buf == NULL) {
		if (len != 0) {
			as4_conf_error_at(errs, source, 0, NULL, "no document");
			return AS4_E_INVAL;
		}
		buf = (const uint8_t *)"";
	}
	j.doc = doc_new(source, true);
	j.lim = lim;
	j.errs = errs;
	if (j.doc == NULL) {
		as4_conf_error_at(errs, source, 0, NULL, "out of memory while parsing");
		return AS4_E_NOMEM;
	}
	if (len > lim->max_file) {
		as4_conf_error_at(errs, j.doc->source, 0, NULL,
		                  "document of %zu bytes exceeds the limit of %zu bytes", len,
		                  lim->max_file);
		err = AS4_E_LIMIT;
		goto out;
	}
	if (!json_depth_ok(buf, len, lim->max_depth)) {
		as4_conf_error_at(errs, j.doc->source, 0, NULL,
		                  "objects and arrays nested too deeply (the limit is %zu)",
		                  lim->max_depth);
		err = AS4_E_LIMIT;
		goto out;
	}
	json_error_t je;
	v = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
	if (v == NULL) {
		as4_conf_error_at(errs, j.doc->source, je.line > 0 ? (uint32_t)je.line : 0, NULL,
		                  "JSON syntax error: %s (column %d)", je.text, je.column);
		err = AS4_E_PARSE;
		goto out;
	}
	if (!json_is_object(v)) {
		as4_conf_error_at(errs, j.doc->source, 0, NULL,
		                  "the top level must be a JSON object");
		err = AS4_E_PARSE;
		goto out;
	}
	err = jconvert(&j, v, NULL, NULL, 0, &j.doc->root);
out:
	json_decref(v);
	return finish_doc(j.doc, err, out, errs);
}

as4_err as4_conf_load_file(const char *path, const struct as4_conf_limits *lim,
                           struct as4_conf_doc **out, struct as4_conf_errors *errs)
{
	struct as4_conf_limits dl;
	uint8_t *buf = NULL;
	size_t len = 0;
	*out = NULL;
	if (lim == NULL) {
		as4_conf_limits_default(&dl);
		lim = &dl;
	}
	errno = 0;
	as4_err err = as4_file_read(path, lim->max_file, &buf, &len);
	if (err == AS4_E_NOTFOUND) {
		as4_conf_error_at(errs, path, 0, NULL, "file does not exist");
		return err;
	}
	if (err == AS4_E_LIMIT) {
		as4_conf_error_at(errs, path, 0, NULL, "file is larger than the limit of %zu bytes",
		                  lim->max_file);
		return err;
	}
	if (err != AS4_OK) {
		as4_conf_error_at(errs, path, 0, NULL, "cannot read: %s",
		                  errno != 0 ? strerror(errno) : as4_strerror(err));
		return err;
	}
	if (as4_str_ends(path, ".json")) {
		err = as4_conf_parse_json(buf, len, path, lim, out, errs);
	} else {
		err = as4_conf_parse_yaml(buf, len, path, lim, out, errs);
	}
	free(buf);
	return err;
}

/* ---- Schema validation ------------------------------------------------------------------- */

struct vctx {
	struct as4_conf_doc *doc;
	const struct as4_conf_schema *s;
	struct as4_conf_errors *errs;
	bool nomem;
};

/* Length of the parent part of an item path ("a.b[].c" -> 5 for "a.b[]"), 0 at the top. */
static size_t parent_len(const char *path)
{
	const char *dot = strrchr(path, '.');
	return dot != NULL ? (size_t)(dot - path) : 0;
}

/* The last segment of an item path ("port" of "listeners.msh.port"). */
static const char *leaf(const char *path)
{
	const char *dot = strrchr(path, '.');
	return dot != NULL ? dot + 1 : path;
}

static bool is_child_of(const struct as4_conf_item *it, const char *prefix, size_t plen)
{
	return parent_len(it->path) == plen && (plen == 0 || memcmp(it->path, prefix, plen) == 0);
}

static const struct as4_conf_item *find_item(const struct as4_conf_schema *s, const char *path)
{
	for (size_t i = 0; i < s->n_items; i++) {
		if (strcmp(s->items[i].path, path) == 0) {
			return &s->items[i];
		}
	}
	return NULL;
}

static bool scalar_type(enum as4_conf_type t)
{
	return t >= AS4_CONF_STR && t <= AS4_CONF_ENUM;
}

static const char *node_kind_name(const struct as4_conf_node *n)
{
	switch (n->kind) {
	case AS4_CONF_NODE_MAP:
		return "a map";
	case AS4_CONF_NODE_LIST:
		return "a list";
	default:
		return "a single value";
	}
}

/* "one of json, logfmt" into out. */
static const char *enum_list(const char *const *enums, char *out, size_t cap)
{
	out[0] = '\0';
	for (size_t i = 0; enums != NULL && enums[i] != NULL; i++) {
		if (as4_str_cat(out, cap, i > 0 ? ", " : "") != AS4_OK ||
		    as4_str_cat(out, cap, enums[i]) != AS4_OK) {
			break; /* a truncated list is still a hint */
		}
	}
	return out;
}

static const char *type_expect(enum as4_conf_type t, const char *const *enums, char *buf,
                               size_t cap)
{
	switch (t) {
	case AS4_CONF_STR:
		return "a string";
	case AS4_CONF_INT:
		return "a whole number";
	case AS4_CONF_BOOL:
		return "true or false";
	case AS4_CONF_SIZE:
		return "a size such as 64M, 512K or 4096";
	case AS4_CONF_DURATION:
		return "a duration such as 250ms, 30s, 15m, 24h or 30d";
	case AS4_CONF_PATH:
		return "a file path";
	case AS4_CONF_URL:
		return "an http:// or https:// URL";
	case AS4_CONF_ENUM: {
		char list[256];
		if (as4_str_fmt(buf, cap, "one of %s", enum_list(enums, list, sizeof(list))) !=
		    AS4_OK) {
			/* truncated */
		}
		return buf;
	}
	case AS4_CONF_SECTION:
	case AS4_CONF_MAP:
		return "a map of keys";
	default:
		return "a list";
	}
}

/*
 * Check and convert one scalar against type t (the item's type, or its element type for lists
 * and maps). Reports into errs (errs NULL: silent) and returns AS4_E_CONFIG on a bad value.
 */
static as4_err check_scalar(struct as4_conf_errors *errs, bool json, struct as4_conf_node *n,
                            const struct as4_conf_item *it, enum as4_conf_type t)
{
	char q[96];
	char eb[320];
	char a[32];
	char b[32];
	const char *expect = type_expect(t, it->enums, eb, sizeof(eb));
	const char *v = n->text;
	bool textual =
	        t == AS4_CONF_STR || t == AS4_CONF_PATH || t == AS4_CONF_URL || t == AS4_CONF_ENUM;
	/* elements of lists and maps are bounded by the type, not by the count bounds */
	bool elem = it->type == AS4_CONF_LIST || it->type == AS4_CONF_MAP;
	uint64_t min = elem ? 0 : it->min;
	uint64_t max = elem ? 0 : it->max;

	if (textual && json && !n->quoted) {
		return as4_conf_error(errs, n, "expected %s, got %s", expect,
		                      as4_conf_quote(v, q, sizeof(q)));
	}
	if ((t == AS4_CONF_BOOL || t == AS4_CONF_INT) && n->quoted) {
		return as4_conf_error(errs, n,
		                      "expected %s, got the string %s (write it without "
		                      "quotes)",
		                      expect, as4_conf_quote(v, q, sizeof(q)));
	}
	switch (t) {
	case AS4_CONF_STR:
	case AS4_CONF_PATH:
	case AS4_CONF_URL: {
		uint64_t lo = min != 0 ? min : 1;
		uint64_t hi = max != 0             ? max
		              : t == AS4_CONF_PATH ? 4095
		              : t == AS4_CONF_URL  ? 2048
		                                   : 4096;
		if (t != AS4_CONF_STR) {
			const char *bad = bad_chars(v, n->len, true);
			if (bad != NULL) {
				return as4_conf_error(errs, n, "expected %s, got a value with %s",
				                      expect, bad);
			}
		}
		if (n->len == 0) {
			return as4_conf_error(errs, n, "must not be empty");
		}
		if (n->len < lo) {
			return as4_conf_error(errs, n,
			                      "must be at least %llu characters long, got %zu",
			                      (unsigned long long)lo, n->len);
		}
		if (n->len > hi) {
			return as4_conf_error(errs, n,
			                      "must be at most %llu characters long, got %zu",
			                      (unsigned long long)hi, n->len);
		}
		if (t == AS4_CONF_URL && !as4_conf_url_valid(v, false)) {
			return as4_conf_error(errs, n, "expected %s, got %s", expect,
			                      as4_conf_quote(v, q, sizeof(q)));
		}
		break;
	}
	case AS4_CONF_ENUM: {
		bool found = false;
		for (size_t i = 0; it->enums != NULL && it->enums[i] != NULL; i++) {
			if (strcmp(v, it->enums[i]) == 0) {
				n->num = i;
				found = true;
				break;
			}
		}
		if (!found) {
			const char *s = as4_conf_suggest(v, it->enums);
			if (s != NULL) {
				return as4_conf_error(errs, n,
				                      "expected %s, got %s (did you mean '%s'?)",
				                      expect, as4_conf_quote(v, q, sizeof(q)), s);
			}
			return as4_conf_error(errs, n, "expected %s, got %s", expect,
			                      as4_conf_quote(v, q, sizeof(q)));
		}
		break;
	}
	case AS4_CONF_BOOL:
		if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0) {
			n->flag = true;
		} else if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 ||
		           strcmp(v, "FALSE") == 0) {
			n->flag = false;
		} else {
			return as4_conf_error(errs, n, "expected %s, got %s", expect,
			                      as4_conf_quote(v, q, sizeof(q)));
		}
		break;
	case AS4_CONF_INT:
	case AS4_CONF_SIZE:
	case AS4_CONF_DURATION: {
		as4_err e = t == AS4_CONF_INT    ? as4_parse_u64(v, UINT64_MAX, &n->num)
		            : t == AS4_CONF_SIZE ? as4_parse_size(v, &n->num)
		                                 : as4_parse_duration_ms(v, &n->num);
		if (e != AS4_OK) {
			return as4_conf_error(errs, n, "expected %s, got %s", expect,
			                      as4_conf_quote(v, q, sizeof(q)));
		}
		uint64_t hi = max != 0 ? max : UINT64_MAX;
		if (n->num < min || n->num > hi) {
			bool low = n->num < min;
			uint64_t bound = low ? min : hi;
			if (t == AS4_CONF_SIZE) {
				as4_conf_fmt_size(bound, a, sizeof(a));
				as4_conf_fmt_size(n->num, b, sizeof(b));
			} else if (t == AS4_CONF_DURATION) {
				as4_conf_fmt_duration(bound, a, sizeof(a));
				as4_conf_fmt_duration(n->num, b, sizeof(b));
			} else {
				if (as4_str_fmt(a, sizeof(a), "%llu", (unsigned long long)bound) !=
				            AS4_OK ||
				    as4_str_fmt(b, sizeof(b), "%llu", (unsigned long long)n->num) !=
				            AS4_OK) {
					return AS4_E_INTERNAL;
				}
			}
			return as4_conf_error(errs, n, "must be at %s %s, got %s",
			                      low ? "least" : "most", a, b);
		}
		break;
	}
	default:
		return AS4_E_INTERNAL;
	}
	if (it->check != NULL) {
		char why[256];
		why[0] = '\0';
		if (it->check(n, why, sizeof(why)) != AS4_OK) {
			return as4_conf_error(errs, n, "%s",
			                      why[0] != '\0' ? why : "invalid value");
		}
	}
	return AS4_OK;
}

static as4_err validate_map(struct vctx *c, struct as4_conf_node *map, const char *prefix,
                            bool synthetic);

static bool path_join(char *out, size_t cap, const char *prefix, const char *key)
{
	return as4_str_fmt(out, cap, "%s%s%s", prefix, prefix[0] != '\0' ? "." : "", key) == AS4_OK;
}

/* Make n an empty container of kind k (a null value given for a section, list or map). */
static void make_empty(struct as4_conf_node *n, enum as4_conf_kind k)
{
	n->kind = k;
	n->text = NULL;
	n->len = 0;
	n->null = false;
}

static as4_err count_ok(struct vctx *c, struct as4_conf_node *n, const struct as4_conf_item *it)
{
	uint64_t hi = it->max != 0 ? it->max : UINT64_MAX;
	if (n->n_children < it->min) {
		return as4_conf_error(c->errs, n, "must have at least %llu entr%s, got %zu",
		                      (unsigned long long)it->min, it->min == 1 ? "y" : "ies",
		                      n->n_children);
	}
	if (n->n_children > hi) {
		return as4_conf_error(c->errs, n, "must have at most %llu entr%s, got %zu",
		                      (unsigned long long)hi, hi == 1 ? "y" : "ies", n->n_children);
	}
	return AS4_OK;
}

/*
 * A container of kind k where one is declared: a null value becomes an empty one, anything
 * else of another kind is reported ("expected a list, got 'x'").
 */
static as4_err want_kind(struct vctx *c, struct as4_conf_node *n, enum as4_conf_kind k)
{
	char q[96];
	if (n->kind == AS4_CONF_NODE_SCALAR && n->null) {
		make_empty(n, k);
	}
	if (n->kind == k) {
		return AS4_OK;
	}
	return as4_conf_error(c->errs, n, "expected %s, got %s",
	                      k == AS4_CONF_NODE_LIST ? "a list" : "a map of keys",
	                      n->kind == AS4_CONF_NODE_SCALAR
	                              ? as4_conf_quote(n->text, q, sizeof(q))
	                              : node_kind_name(n));
}

/* One element of a LIST or one value of a MAP: a scalar of the element type. */
static as4_err check_element(struct vctx *c, struct as4_conf_node *e,
                             const struct as4_conf_item *it)
{
	char eb[320];
	e->item = it;
	if (e->kind != AS4_CONF_NODE_SCALAR) {
		return as4_conf_error(c->errs, e, "expected %s, got %s",
		                      type_expect(it->elem, it->enums, eb, sizeof(eb)),
		                      node_kind_name(e));
	}
	if (e->null) {
		return as4_conf_error(c->errs, e,
		                      it->type == AS4_CONF_LIST ? "empty list entry"
		                                                : "missing value");
	}
	return check_scalar(c->errs, c->doc->json, e, it, it->elem);
}

static as4_err validate_value(struct vctx *c, struct as4_conf_node *n,
                              const struct as4_conf_item *it, const char *path)
{
	char q[96];
	char eb[320];
	char sub[ITEM_PATH_MAX];
	as4_err ret;
	n->item = it;
	switch (it->type) {
	case AS4_CONF_SECTION:
		if (n->kind == AS4_CONF_NODE_SCALAR && !n->null) {
			if (it->shorthand == NULL) {
				return as4_conf_error(c->errs, n, "expected a map of keys, got %s",
				                      as4_conf_quote(n->text, q, sizeof(q)));
			}
			/* `security: none` means `security: {mode: none}` */
			struct as4_conf_node *v = node_new(c->doc, AS4_CONF_NODE_SCALAR, n->line);
			if (v == NULL) {
				c->nomem = true;
				return AS4_E_NOMEM;
			}
			v->text = n->text;
			v->len = n->len;
			v->quoted = n->quoted;
			v->key = it->shorthand;
			make_empty(n, AS4_CONF_NODE_MAP);
			node_append(n, v);
		}
		ret = want_kind(c, n, AS4_CONF_NODE_MAP);
		return ret != AS4_OK ? ret : validate_map(c, n, path, false);
	case AS4_CONF_LIST_MAPS:
		ret = want_kind(c, n, AS4_CONF_NODE_LIST);
		if (ret != AS4_OK) {
			return ret;
		}
		if (as4_str_fmt(sub, sizeof(sub), "%s[]", path) != AS4_OK) {
			return AS4_E_INTERNAL;
		}
		ret = count_ok(c, n, it);
		for (struct as4_conf_node *e = n->child; e != NULL; e = e->next) {
			e->item = it;
			as4_err r = want_kind(c, e, AS4_CONF_NODE_MAP);
			if (r == AS4_OK) {
				r = validate_map(c, e, sub, false);
			}
			ret = ret != AS4_OK ? ret : r;
		}
		return ret;
	case AS4_CONF_LIST:
	case AS4_CONF_MAP:
		ret = want_kind(c, n,
		                it->type == AS4_CONF_LIST ? AS4_CONF_NODE_LIST : AS4_CONF_NODE_MAP);
		if (ret != AS4_OK) {
			return ret;
		}
		ret = count_ok(c, n, it);
		for (struct as4_conf_node *e = n->child; e != NULL; e = e->next) {
			as4_err r = check_element(c, e, it);
			ret = ret != AS4_OK ? ret : r;
		}
		return ret;
	default:
		if (n->kind != AS4_CONF_NODE_SCALAR) {
			return as4_conf_error(c->errs, n, "expected %s, got %s",
			                      type_expect(it->type, it->enums, eb, sizeof(eb)),
			                      node_kind_name(n));
		}
		if (n->null) {
			return AS4_OK; /* treated as absent by validate_map() */
		}
		return check_scalar(c->errs, c->doc->json, n, it, it->type);
	}
}

/* Names of the keys declared directly below prefix, for suggestions. */
static const char **child_names(struct vctx *c, const char *prefix)
{
	size_t plen = strlen(prefix);
	size_t n = 0;
	for (size_t i = 0; i < c->s->n_items; i++) {
		n += is_child_of(&c->s->items[i], prefix, plen) ? 1 : 0;
	}
	const char **names = as4_arena_calloc(c->doc->arena, n + 1, sizeof(*names));
	if (names == NULL) {
		return NULL;
	}
	n = 0;
	for (size_t i = 0; i < c->s->n_items; i++) {
		if (is_child_of(&c->s->items[i], prefix, plen)) {
			names[n++] = leaf(c->s->items[i].path);
		}
	}
	return names;
}

static as4_err unknown_key(struct vctx *c, const struct as4_conf_node *k, const char *prefix)
{
	char q[96];
	const char **names = child_names(c, prefix);
	const char *s = names != NULL ? as4_conf_suggest(k->key, (const char *const *)names) : NULL;
	/* locate at the map, name the key: "listeners.msh: unknown key 'prot'" */
	const struct as4_conf_node *at =
	        k->parent != NULL && k->parent->parent != NULL ? k->parent : NULL;
	char path[PATH_MAX_LEN];
	path[0] = '\0';
	if (at != NULL) {
		as4_conf_node_path(at, path, sizeof(path));
	}
	if (s != NULL) {
		return as4_conf_error_at(c->errs, k->source, k->line, path,
		                         "unknown key %s (did you mean '%s'?)",
		                         as4_conf_quote(k->key, q, sizeof(q)), s);
	}
	return as4_conf_error_at(c->errs, k->source, k->line, path, "unknown key %s",
	                         as4_conf_quote(k->key, q, sizeof(q)));
}

/* Insert the default value (or empty container) of an absent item into map. */
static as4_err insert_default(struct vctx *c, struct as4_conf_node *map,
                              const struct as4_conf_item *it, bool synthetic)
{
	struct as4_conf_node *n;
	switch (it->type) {
	case AS4_CONF_SECTION:
		n = node_new(c->doc, AS4_CONF_NODE_MAP, map->line);
		break;
	case AS4_CONF_MAP:
		n = node_new(c->doc, AS4_CONF_NODE_MAP, map->line);
		break;
	case AS4_CONF_LIST:
	case AS4_CONF_LIST_MAPS:
		n = node_new(c->doc, AS4_CONF_NODE_LIST, map->line);
		break;
	default:
		if (it->def == NULL) {
			return AS4_OK;
		}
		n = node_new(c->doc, AS4_CONF_NODE_SCALAR, map->line);
		if (n != NULL) {
			n->text = it->def;
			n->len = strlen(it->def);
		}
		break;
	}
	if (n == NULL) {
		c->nomem = true;
		return AS4_E_NOMEM;
	}
	n->key = leaf(it->path);
	n->is_default = true;
	n->item = it;
	node_append(map, n);
	if (it->type == AS4_CONF_SECTION) {
		return validate_map(c, n, it->path, synthetic);
	}
	if (n->kind == AS4_CONF_NODE_SCALAR &&
	    check_scalar(c->errs, false, n, it, it->type) != AS4_OK) {
		return as4_conf_error(c->errs, n, "the built-in default is invalid (a bug)");
	}
	return AS4_OK;
}

static as4_err validate_map(struct vctx *c, struct as4_conf_node *map, const char *prefix,
                            bool synthetic)
{
	as4_err ret = AS4_OK;
	size_t plen = strlen(prefix);
	char path[ITEM_PATH_MAX];
	for (struct as4_conf_node *k = map->child; k != NULL; k = k->next) {
		const struct as4_conf_item *it = NULL;
		/* keys with '.' or '[' would alias other paths of the table */
		if (strpbrk(k->key, ".[") == NULL &&
		    path_join(path, sizeof(path), prefix, k->key)) {
			it = find_item(c->s, path);
		}
		as4_err r = it == NULL ? unknown_key(c, k, prefix) : validate_value(c, k, it, path);
		if (ret == AS4_OK) {
			ret = r;
		}
	}
	for (size_t i = 0; i < c->s->n_items && !c->nomem; i++) {
		const struct as4_conf_item *it = &c->s->items[i];
		if (!is_child_of(it, prefix, plen)) {
			continue;
		}
		const char *key = leaf(it->path);
		struct as4_conf_node *have = NULL;
		for (struct as4_conf_node *k = map->child; k != NULL; k = k->next) {
			if (strcmp(k->key, key) == 0) {
				have = k;
				break;
			}
		}
		as4_err r = AS4_OK;
		if (have != NULL && have->kind == AS4_CONF_NODE_SCALAR && have->null &&
		    scalar_type(it->type)) {
			/* `key:` with no value: as if absent */
			if (it->def != NULL) {
				have->text = it->def;
				have->len = strlen(it->def);
				have->null = false;
				have->quoted = false;
				have->is_default = true;
				if (check_scalar(c->errs, false, have, it, it->type) != AS4_OK) {
					r = as4_conf_error(c->errs, have,
					                   "the built-in default is invalid");
				}
			} else if ((it->flags & AS4_CONF_F_REQUIRED) && !synthetic) {
				r = as4_conf_error(c->errs, have, "a value is required");
			}
		} else if (have == NULL) {
			if ((it->flags & AS4_CONF_F_REQUIRED) && !synthetic &&
			    it->type != AS4_CONF_SECTION) {
				r = as4_conf_error(c->errs, map, "missing required key '%s'", key);
			} else if ((it->flags & AS4_CONF_F_REQUIRED) && !synthetic) {
				r = as4_conf_error(c->errs, map, "missing required section '%s'",
				                   key);
				if (insert_default(c, map, it, true) != AS4_OK && c->nomem) {
					return AS4_E_NOMEM;
				}
			} else {
				/* an absent section is synthetic: its required keys are not asked
				 * for */
				r = insert_default(c, map, it, true);
			}
		}
		if (ret == AS4_OK) {
			ret = r;
		}
	}
	return c->nomem ? AS4_E_NOMEM : ret;
}

as4_err as4_conf_validate(struct as4_conf_doc *doc, const struct as4_conf_schema *schema,
                          struct as4_conf_errors *errs)
{
	struct vctx c = {doc, schema, errs, false};
	size_t before = errs != NULL ? errs->n_errors : 0;
	as4_err err = validate_map(&c, doc->root, "", false);
	if (c.nomem || err == AS4_E_NOMEM) {
		as4_conf_error_at(errs, doc->source, 0, NULL, "out of memory while validating");
		return AS4_E_NOMEM;
	}
	if (err != AS4_OK || (errs != NULL && errs->n_errors != before)) {
		return AS4_E_CONFIG;
	}
	return AS4_OK;
}

as4_err as4_conf_schema_check(const struct as4_conf_schema *s, struct as4_diag *d)
{
	for (size_t i = 0; i < s->n_items; i++) {
		const struct as4_conf_item *it = &s->items[i];
		const char *p = it->path;
		if (p == NULL || p[0] == '\0' || strlen(p) >= ITEM_PATH_MAX) {
			return as4_diag_set(d, AS4_E_INTERNAL, "%s: row %zu: bad path", s->name, i);
		}
		if (strchr(leaf(p), '[') != NULL || p[strlen(p) - 1] == '.') {
			return as4_diag_set(d, AS4_E_INTERNAL, "%s: %s: bad key name", s->name, p);
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(s->items[j].path, p) == 0) {
				return as4_diag_set(d, AS4_E_INTERNAL, "%s: %s declared twice",
				                    s->name, p);
			}
		}
		size_t pl = parent_len(p);
		if (pl > 0) {
			char parent[ITEM_PATH_MAX];
			bool list = pl > 2 && p[pl - 1] == ']' && p[pl - 2] == '[';
			memcpy(parent, p, pl);
			parent[list ? pl - 2 : pl] = '\0';
			const struct as4_conf_item *pi = find_item(s, parent);
			if (pi == NULL || (list && pi->type != AS4_CONF_LIST_MAPS) ||
			    (!list && pi->type != AS4_CONF_SECTION)) {
				return as4_diag_set(d, AS4_E_INTERNAL,
				                    "%s: %s: parent is not a declared %s", s->name,
				                    p, list ? "list of maps" : "section");
			}
		}
		enum as4_conf_type vt = it->type;
		if (it->type == AS4_CONF_LIST || it->type == AS4_CONF_MAP) {
			vt = it->elem;
			if (!scalar_type(vt)) {
				return as4_diag_set(d, AS4_E_INTERNAL,
				                    "%s: %s: element type not scalar", s->name, p);
			}
		}
		if (vt == AS4_CONF_ENUM && (it->enums == NULL || it->enums[0] == NULL)) {
			return as4_diag_set(d, AS4_E_INTERNAL, "%s: %s: enum without names",
			                    s->name, p);
		}
		if (it->shorthand != NULL) {
			char sp[ITEM_PATH_MAX];
			if (it->type != AS4_CONF_SECTION ||
			    as4_str_fmt(sp, sizeof(sp), "%s.%s", p, it->shorthand) != AS4_OK ||
			    find_item(s, sp) == NULL) {
				return as4_diag_set(d, AS4_E_INTERNAL, "%s: %s: bad shorthand",
				                    s->name, p);
			}
		}
		if (it->def != NULL) {
			struct as4_conf_node n;
			if (!scalar_type(it->type)) {
				return as4_diag_set(d, AS4_E_INTERNAL,
				                    "%s: %s: default on a container", s->name, p);
			}
			memset(&n, 0, sizeof(n));
			n.text = it->def;
			n.len = strlen(it->def);
			if (check_scalar(NULL, false, &n, it, it->type) != AS4_OK) {
				return as4_diag_set(d, AS4_E_INTERNAL,
				                    "%s: %s: invalid default '%s'", s->name, p,
				                    it->def);
			}
		}
	}
	return AS4_OK;
}

/* ---- Getters ----------------------------------------------------------------------------- */

const struct as4_conf_node *as4_conf_get(const struct as4_conf_node *map, const char *path)
{
	const struct as4_conf_node *n = map;
	const char *p = path;
	while (n != NULL && p != NULL && *p != '\0') {
		if (n->kind != AS4_CONF_NODE_MAP) {
			return NULL;
		}
		const char *dot = strchr(p, '.');
		size_t l = dot != NULL ? (size_t)(dot - p) : strlen(p);
		n = child_by_key(n, p, l);
		p = dot != NULL ? dot + 1 : NULL;
	}
	return n;
}

const char *as4_conf_str(const struct as4_conf_node *map, const char *path)
{
	const struct as4_conf_node *n = as4_conf_get(map, path);
	if (n == NULL || n->kind != AS4_CONF_NODE_SCALAR || n->null) {
		return NULL;
	}
	return n->text;
}

uint64_t as4_conf_num(const struct as4_conf_node *map, const char *path)
{
	const struct as4_conf_node *n = as4_conf_get(map, path);
	return n != NULL && n->kind == AS4_CONF_NODE_SCALAR && !n->null ? n->num : 0;
}

bool as4_conf_bool(const struct as4_conf_node *map, const char *path)
{
	const struct as4_conf_node *n = as4_conf_get(map, path);
	return n != NULL && n->kind == AS4_CONF_NODE_SCALAR && !n->null && n->flag;
}

bool as4_conf_given(const struct as4_conf_node *map, const char *path)
{
	const struct as4_conf_node *n = as4_conf_get(map, path);
	return n != NULL && !n->is_default && !(n->kind == AS4_CONF_NODE_SCALAR && n->null);
}
