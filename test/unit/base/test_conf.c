/* SPDX-License-Identifier: Apache-2.0 */
/* The generic configuration loader: parsing, locations, schema types, defaults, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "as4/blob.h"
#include "as4/conf.h"
#include "as4/str.h"

static as4_err check_hex64(const struct as4_conf_node *n, char *why, size_t cap)
{
	if (n->len != 64 || strspn(n->text, "0123456789abcdef") != 64) {
		if (as4_str_copy(why, cap, "expected 64 lower-case hex digits") != AS4_OK) {
			return AS4_E_CONFIG;
		}
		return AS4_E_CONFIG;
	}
	return AS4_OK;
}

static const char *const formats[] = {"json", "logfmt", NULL};
static const char *const modes[] = {"wss", "none", NULL};

static const struct as4_conf_item items[] = {
        {.path = "name", .type = AS4_CONF_STR, .flags = AS4_CONF_F_REQUIRED, .max = 16},
        {.path = "port", .type = AS4_CONF_INT, .min = 1, .max = 65535, .def = "8080"},
        {.path = "debug", .type = AS4_CONF_BOOL, .def = "false"},
        {.path = "max_body", .type = AS4_CONF_SIZE, .min = 1024, .max = 1ULL << 30, .def = "64M"},
        {.path = "timeout", .type = AS4_CONF_DURATION, .min = 1000, .max = 3600000, .def = "30s"},
        {.path = "data_dir", .type = AS4_CONF_PATH},
        {.path = "endpoint", .type = AS4_CONF_URL},
        {.path = "format", .type = AS4_CONF_ENUM, .enums = formats, .def = "logfmt"},
        {.path = "hash", .type = AS4_CONF_STR, .check = check_hex64},
        {.path = "tls", .type = AS4_CONF_SECTION},
        {.path = "tls.enabled", .type = AS4_CONF_BOOL, .def = "false"},
        {.path = "tls.cert", .type = AS4_CONF_PATH, .flags = AS4_CONF_F_REQUIRED},
        {.path = "security", .type = AS4_CONF_SECTION, .shorthand = "mode"},
        {.path = "security.mode", .type = AS4_CONF_ENUM, .enums = modes, .def = "wss"},
        {.path = "security.sign", .type = AS4_CONF_BOOL, .def = "true"},
        {.path = "headers", .type = AS4_CONF_MAP, .elem = AS4_CONF_STR},
        {.path = "tags", .type = AS4_CONF_LIST, .elem = AS4_CONF_STR, .max = 3},
        {.path = "levels", .type = AS4_CONF_LIST, .elem = AS4_CONF_ENUM, .enums = formats},
        {.path = "parties", .type = AS4_CONF_LIST_MAPS},
        {.path = "parties[].name", .type = AS4_CONF_STR, .flags = AS4_CONF_F_REQUIRED},
        {.path = "parties[].ids", .type = AS4_CONF_LIST_MAPS, .min = 1},
        {.path = "parties[].ids[].type", .type = AS4_CONF_STR},
        {.path = "parties[].ids[].value", .type = AS4_CONF_STR, .flags = AS4_CONF_F_REQUIRED},
};

static const struct as4_conf_schema schema = {"test.yaml", items, AS4_ARRAY_LEN(items)};

/* Parse and validate YAML text; returns the validation (or parse) result. */
static as4_err load(const char *yaml, struct as4_conf_doc **doc, struct as4_conf_errors *e)
{
	as4_conf_errors_init(e, 0);
	*doc = NULL;
	as4_err err =
	        as4_conf_parse_yaml((const uint8_t *)yaml, strlen(yaml), "t.yaml", NULL, doc, e);
	if (err != AS4_OK) {
		return err;
	}
	return as4_conf_validate(*doc, &schema, e);
}

static as4_err load_json(const char *json, struct as4_conf_doc **doc, struct as4_conf_errors *e)
{
	as4_conf_errors_init(e, 0);
	*doc = NULL;
	as4_err err = as4_conf_parse_json((const uint8_t *)json, strlen(json), "api", NULL, doc, e);
	if (err != AS4_OK) {
		return err;
	}
	return as4_conf_validate(*doc, &schema, e);
}

/* The one error text expected from a document. */
static void expect_one(const char *yaml, const char *text)
{
	struct as4_conf_doc *doc = NULL;
	struct as4_conf_errors e;
	as4_err err = load(yaml, &doc, &e);
	assert_int_not_equal(err, AS4_OK);
	if (e.n != 1) {
		for (size_t i = 0; i < e.n; i++) {
			fprintf(stderr, "  got: %s\n", e.v[i].text);
		}
	}
	assert_int_equal(e.n, 1);
	assert_string_equal(e.v[0].text, text);
	as4_conf_errors_cleanup(&e);
	as4_conf_doc_free(doc);
}

static void test_schema_table_valid(void **state)
{
	(void)state;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_conf_schema_check(&schema, &d), AS4_OK);
}

static void test_schema_table_bugs(void **state)
{
	(void)state;
	struct as4_diag d;
	static const struct as4_conf_item orphan[] = {{.path = "a.b", .type = AS4_CONF_STR}};
	static const struct as4_conf_item baddef[] = {
	        {.path = "p", .type = AS4_CONF_INT, .max = 10, .def = "11"}};
	static const struct as4_conf_item noenum[] = {{.path = "e", .type = AS4_CONF_ENUM}};
	static const struct as4_conf_item twice[] = {{.path = "x", .type = AS4_CONF_STR},
	                                             {.path = "x", .type = AS4_CONF_INT}};
	static const struct as4_conf_item listparent[] = {{.path = "l", .type = AS4_CONF_SECTION},
	                                                  {.path = "l[].x", .type = AS4_CONF_STR}};
	const struct as4_conf_schema bad[] = {
	        {"orphan", orphan, 1}, {"baddef", baddef, 1},         {"noenum", noenum, 1},
	        {"twice", twice, 2},   {"listparent", listparent, 2},
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(bad); i++) {
		as4_diag_init(&d);
		assert_int_equal(as4_conf_schema_check(&bad[i], &d), AS4_E_INTERNAL);
		assert_non_null(strstr(d.text, bad[i].name));
	}
}

static void test_good_document_and_defaults(void **state)
{
	(void)state;
	struct as4_conf_doc *doc = NULL;
	struct as4_conf_errors e;
	const char *yaml = "# comment\n"
	                   "name: ap1\n"
	                   "max_body: 2M\n"
	                   "timeout: \"15m\"\n"
	                   "format: json\n"
	                   "endpoint: https://ap.example.org:8443/as4?x=1\n"
	                   "tags: [a, b]\n"
	                   "headers:\n"
	                   "  X-One: 1\n"
	                   "parties:\n"
	                   "  - name: p1\n"
	                   "    ids:\n"
	                   "      - {type: t, value: v1}\n"
	                   "      - value: urn:x\n";
	assert_int_equal(load(yaml, &doc, &e), AS4_OK);
	assert_int_equal(e.n, 0);
	const struct as4_conf_node *r = doc->root;
	assert_string_equal(as4_conf_str(r, "name"), "ap1");
	assert_int_equal(as4_conf_get(r, "name")->line, 2);
	assert_int_equal(as4_conf_num(r, "max_body"), 2 * 1024 * 1024);
	assert_int_equal(as4_conf_num(r, "timeout"), 15 * 60 * 1000);
	assert_int_equal(as4_conf_num(r, "format"), 0);
	/* defaults of absent keys and of absent sections */
	assert_int_equal(as4_conf_num(r, "port"), 8080);
	assert_true(as4_conf_get(r, "port")->is_default);
	assert_false(as4_conf_given(r, "port"));
	assert_true(as4_conf_given(r, "name"));
	assert_false(as4_conf_bool(r, "debug"));
	assert_non_null(as4_conf_get(r, "tls"));
	assert_false(as4_conf_bool(r, "tls.enabled"));
	assert_null(as4_conf_str(r, "tls.cert"));
	assert_string_equal(as4_conf_str(r, "security.mode"), "wss");
	assert_true(as4_conf_bool(r, "security.sign"));
	assert_null(as4_conf_get(r, "data_dir"));
	/* lists of maps keep their lines and paths */
	const struct as4_conf_node *parties = as4_conf_get(r, "parties");
	assert_int_equal(parties->n_children, 1);
	const struct as4_conf_node *ids = as4_conf_get(parties->child, "ids");
	assert_int_equal(ids->n_children, 2);
	assert_string_equal(as4_conf_str(ids->last, "value"), "urn:x");
	assert_null(as4_conf_str(ids->last, "type"));
	assert_int_equal(ids->last->line, 14);
	char path[128];
	assert_string_equal(
	        as4_conf_node_path(as4_conf_get(ids->last, "value"), path, sizeof(path)),
	        "parties[0].ids[1].value");
	assert_string_equal(as4_conf_str(as4_conf_get(r, "headers"), "X-One"), "1");
	as4_conf_errors_cleanup(&e);
	as4_conf_doc_free(doc);
}

static void test_type_errors(void **state)
{
	(void)state;
	expect_one("name: a\ndebug: yes please\n",
	           "t.yaml:2: debug: expected true or false, got 'yes please'");
	expect_one("name: a\ndebug: \"true\"\n",
	           "t.yaml:2: debug: expected true or false, got the string 'true' (write it "
	           "without quotes)");
	expect_one("name: a\nport: 0\n", "t.yaml:2: port: must be at least 1, got 0");
	expect_one("name: a\nport: 70000\n", "t.yaml:2: port: must be at most 65535, got 70000");
	expect_one("name: a\nport: -1\n", "t.yaml:2: port: expected a whole number, got '-1'");
	expect_one("name: a\nport: '80'\n",
	           "t.yaml:2: port: expected a whole number, got the string '80' (write it without "
	           "quotes)");
	expect_one("name: a\nmax_body: 12Q\n",
	           "t.yaml:2: max_body: expected a size such as 64M, 512K or 4096, got '12Q'");
	expect_one("name: a\nmax_body: 512\n", "t.yaml:2: max_body: must be at least 1K, got 512");
	expect_one("name: a\nmax_body: 2G\n", "t.yaml:2: max_body: must be at most 1G, got 2G");
	expect_one(
	        "name: a\ntimeout: 2 weeks\n",
	        "t.yaml:2: timeout: expected a duration such as 250ms, 30s, 15m, 24h or 30d, got "
	        "'2 weeks'");
	expect_one("name: a\ntimeout: 500ms\n",
	           "t.yaml:2: timeout: must be at least 1s, got 500ms");
	expect_one("name: a\ntimeout: 2h\n", "t.yaml:2: timeout: must be at most 1h, got 2h");
	expect_one("name: a\nformat: xml\n", "t.yaml:2: format: expected one of json, logfmt, got "
	                                     "'xml'");
	expect_one("name: a\nformat: jsno\n",
	           "t.yaml:2: format: expected one of json, logfmt, got 'jsno' (did you mean "
	           "'json'?)");
	expect_one("name: a\nendpoint: ftp://x/\n",
	           "t.yaml:2: endpoint: expected an http:// or https:// URL, got 'ftp://x/'");
	expect_one("name: this-name-is-too-long\n",
	           "t.yaml:1: name: must be at most 16 characters long, got 21");
	expect_one("name: ''\n", "t.yaml:1: name: must not be empty");
	expect_one("name: a\nhash: abc\n", "t.yaml:2: hash: expected 64 lower-case hex digits");
	expect_one("name: a\ntls: [1]\n", "t.yaml:2: tls: expected a map of keys, got a list");
	expect_one("name: a\ntls: on\n", "t.yaml:2: tls: expected a map of keys, got 'on'");
	expect_one("name: a\ntags: x\n", "t.yaml:2: tags: expected a list, got 'x'");
	expect_one("name: a\ntags: [a, b, c, d]\n", "t.yaml:2: tags: must have at most 3 entries, "
	                                            "got 4");
	expect_one("name: a\ntags: [a, [b]]\n", "t.yaml:2: tags[1]: expected a string, got a list");
	expect_one("name: a\nlevels: [json, xml]\n",
	           "t.yaml:2: levels[1]: expected one of json, logfmt, got 'xml'");
	expect_one("name: {a: 1}\n", "t.yaml:1: name: expected a string, got a map");
	expect_one("name: a\ndata_dir: \"x\\ty\"\n",
	           "t.yaml:2: data_dir: expected a file path, got a value with a control "
	           "character");
}

static void test_unknown_keys_and_required(void **state)
{
	(void)state;
	expect_one("name: a\nprot: 1\n", "t.yaml:2: unknown key 'prot' (did you mean 'port'?)");
	expect_one("name: a\nzzz: 1\n", "t.yaml:2: unknown key 'zzz'");
	expect_one("name: a\ntls:\n  enabled: true\n  cret: x\n  cert: y\n",
	           "t.yaml:4: tls: unknown key 'cret' (did you mean 'cert'?)");
	/* keys must not smuggle paths of other items */
	expect_one("name: a\ntls.enabled: true\n", "t.yaml:2: unknown key 'tls.enabled'");
	expect_one("port: 1\n", "t.yaml:1: missing required key 'name'");
	/* a present section asks for its required keys; an absent one does not */
	expect_one("name: a\ntls:\n  enabled: true\n",
	           "t.yaml:2: tls: missing required key 'cert'");
	expect_one("name: a\ntls:\n", "t.yaml:2: tls: missing required key 'cert'");
	expect_one("name:\n", "t.yaml:1: name: a value is required");
	expect_one("name: a\nparties:\n  - name: p\n    ids: []\n",
	           "t.yaml:4: parties[0].ids: must have at least 1 entry, got 0");
	expect_one("name: a\nparties:\n  - name: p\n    ids:\n      - type: t\n",
	           "t.yaml:5: parties[0].ids[0]: missing required key 'value'");
	expect_one("name: a\nparties:\n  - name: p\n    ids:\n      - value: v\n        vlaue: w\n",
	           "t.yaml:6: parties[0].ids[0]: unknown key 'vlaue' (did you mean 'value'?)");
	expect_one("name: a\nparties:\n  - just-a-string\n",
	           "t.yaml:3: parties[0]: expected a map of keys, got 'just-a-string'");
}

static void test_all_errors_collected_and_capped(void **state)
{
	(void)state;
	struct as4_conf_doc *doc = NULL;
	struct as4_conf_errors e;
	const char *yaml = "port: 0\ndebug: maybe\nformat: xml\nretires: 3\n";
	assert_int_equal(load(yaml, &doc, &e), AS4_E_CONFIG);
	assert_int_equal(e.n_errors, 5);
	assert_int_equal(e.n, 5);
	assert_string_equal(e.v[0].text, "t.yaml:1: port: must be at least 1, got 0");
	assert_string_equal(e.v[0].source, "t.yaml");
	assert_int_equal(e.v[1].line, 2);
	assert_string_equal(e.v[1].path, "debug");
	assert_string_equal(e.v[1].message, "expected true or false, got 'maybe'");
	assert_string_equal(e.v[3].text, "t.yaml:4: unknown key 'retires'");
	assert_string_equal(e.v[4].text, "t.yaml:1: missing required key 'name'");
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_conf_errors_diag(&e, &d), AS4_E_CONFIG);
	assert_string_equal(d.text,
	                    "t.yaml:1: port: must be at least 1, got 0 (and 4 more errors)");
	as4_conf_errors_cleanup(&e);
	as4_conf_doc_free(doc);

	/* a cap keeps the first entries and counts the rest */
	as4_conf_errors_init(&e, 2);
	assert_int_equal(
	        as4_conf_parse_yaml((const uint8_t *)yaml, strlen(yaml), "t.yaml", NULL, &doc, &e),
	        AS4_OK);
	assert_int_equal(as4_conf_validate(doc, &schema, &e), AS4_E_CONFIG);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.n_errors, 5);
	assert_int_equal(e.n_dropped, 3);
	as4_conf_errors_cleanup(&e);
	assert_int_equal(e.n, 0);
	as4_conf_doc_free(doc);

	/* no errors: diag untouched */
	as4_conf_errors_init(&e, 0);
	as4_diag_init(&d);
	assert_int_equal(as4_conf_errors_diag(&e, &d), AS4_OK);
	assert_int_equal(d.err, AS4_OK);
	as4_conf_warn(&e, NULL, "just a warning");
	assert_int_equal(as4_conf_errors_diag(&e, &d), AS4_OK);
	assert_int_equal(e.n, 1);
	assert_true(e.v[0].warning);
	assert_string_equal(e.v[0].text, "warning: just a warning");
	as4_conf_errors_cleanup(&e);
}

static void test_shorthand_and_nulls(void **state)
{
	(void)state;
	struct as4_conf_doc *doc = NULL;
	struct as4_conf_errors e;
	assert_int_equal(load("name: a\nsecurity: none\nport: ~\ntags:\n", &doc, &e), AS4_OK);
	assert_string_equal(as4_conf_str(doc->root, "security.mode"), "none");
	assert_int_equal(as4_conf_num(doc->root, "security.mode"), 1);
	assert_true(as4_conf_bool(doc->root, "security.sign"));
	assert_int_equal(as4_conf_num(doc->root, "port"), 8080); /* null = absent: default */
	assert_int_equal(as4_conf_get(doc->root, "tags")->kind, AS4_CONF_NODE_LIST);
	as4_conf_errors_cleanup(&e);
	as4_conf_doc_free(doc);
	expect_one("name: a\nsecurity: nope\n",
	           "t.yaml:2: security.mode: expected one of wss, none, got 'nope' (did you mean "
	           "'none'?)");
	expect_one("name: a\nsecurity: off\n",
	           "t.yaml:2: security.mode: expected one of wss, none, got 'off'");
}

static void test_yaml_refusals(void **state)
{
	(void)state;
	expect_one("name: &x a\n", "t.yaml:1: YAML anchors (&name) are not supported: write the "
	                           "value out");
	expect_one("name: a\ntags: [*x]\n",
	           "t.yaml:2: YAML aliases (*name) are not supported: write the value out");
	expect_one("name: !!str a\n", "t.yaml:1: YAML tags (!tag) are not supported");
	expect_one("name: a\n---\nname: b\n",
	           "t.yaml:2: only one YAML document per file (a second '---' was found)");
	expect_one("name: a\nport: 1\nname: b\n",
	           "t.yaml:3: duplicate key 'name' (first at line 1)");
	expect_one("? [a]\n: b\n", "t.yaml:1: a key must be a plain value, not a map or list");
	expect_one("- a\n", "t.yaml:1: the top level must be a map of keys, not a list");
	expect_one("just text\n", "t.yaml:1: the top level must be a map of keys, not a single "
	                          "value");
	expect_one("name: \"a\\0b\"\n", "t.yaml:1: value contains a NUL character");
	expect_one("name: \"a\\x01b\"\n", "t.yaml:1: value contains a control character");
	expect_one("name: a\n  port: 1\n",
	           "t.yaml:2: YAML syntax error: mapping values are not allowed in this context "
	           "(column 7)");
	/* the classic billion laughs is refused at its first anchor */
	expect_one("a: &a [\"lol\",\"lol\"]\nb: &b [*a,*a]\n",
	           "t.yaml:1: YAML anchors (&name) are not supported: write the value out");
}

static void test_limits(void **state)
{
	(void)state;
	struct as4_conf_limits lim;
	struct as4_conf_doc *doc = NULL;
	struct as4_conf_errors e;
	char deep[512];
	as4_conf_limits_default(&lim);
	lim.max_depth = 4;
	as4_conf_errors_init(&e, 0);
	assert_int_equal(as4_str_copy(deep, sizeof(deep), "a: {b: {c: {d: {e: 1}}}}\n"), AS4_OK);
	assert_int_equal(
	        as4_conf_parse_yaml((const uint8_t *)deep, strlen(deep), "d.yaml", &lim, &doc, &e),
	        AS4_E_LIMIT);
	assert_null(doc);
	assert_string_equal(e.v[0].text,
	                    "d.yaml:1: maps and lists nested too deeply (the limit is 4)");
	as4_conf_errors_cleanup(&e);
	assert_int_equal(as4_str_copy(deep, sizeof(deep), "{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}"),
	                 AS4_OK);
	assert_int_equal(
	        as4_conf_parse_json((const uint8_t *)deep, strlen(deep), "d.json", &lim, &doc, &e),
	        AS4_E_LIMIT);
	as4_conf_errors_cleanup(&e);

	as4_conf_limits_default(&lim);
	lim.max_nodes = 5;
	const char *many = "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\n";
	assert_int_equal(
	        as4_conf_parse_yaml((const uint8_t *)many, strlen(many), "m.yaml", &lim, &doc, &e),
	        AS4_E_LIMIT);
	assert_string_equal(e.v[0].text, "m.yaml:5: too many keys and values in one document (the "
	                                 "limit is 5)");
	as4_conf_errors_cleanup(&e);

	as4_conf_limits_default(&lim);
	lim.max_children = 2;
	assert_int_equal(as4_conf_parse_yaml((const uint8_t *)"l: [1, 2, 3]\n", 13, "c.yaml", &lim,
	                                     &doc, &e),
	                 AS4_E_LIMIT);
	as4_conf_errors_cleanup(&e);

	as4_conf_limits_default(&lim);
	lim.max_file = 8;
	assert_int_equal(
	        as4_conf_parse_yaml((const uint8_t *)many, strlen(many), "f.yaml", &lim, &doc, &e),
	        AS4_E_LIMIT);
	assert_string_equal(e.v[0].text,
	                    "f.yaml: document of 30 bytes exceeds the limit of 8 bytes");
	as4_conf_errors_cleanup(&e);

	as4_conf_limits_default(&lim);
	lim.max_scalar = 4;
	assert_int_equal(
	        as4_conf_parse_yaml((const uint8_t *)"a: 12345\n", 9, "s.yaml", &lim, &doc, &e),
	        AS4_E_LIMIT);
	as4_conf_errors_cleanup(&e);
}

static void test_empty_documents(void **state)
{
	(void)state;
	const char *texts[] = {"", "# only a comment\n", "---\n", "~\n"};
	for (size_t i = 0; i < AS4_ARRAY_LEN(texts); i++) {
		struct as4_conf_doc *doc = NULL;
		struct as4_conf_errors e;
		as4_conf_errors_init(&e, 0);
		assert_int_equal(as4_conf_parse_yaml((const uint8_t *)texts[i], strlen(texts[i]),
		                                     "e.yaml", NULL, &doc, &e),
		                 AS4_OK);
		assert_int_equal(doc->root->kind, AS4_CONF_NODE_MAP);
		assert_int_equal(doc->root->n_children, 0);
		assert_int_equal(as4_conf_validate(doc, &schema, &e), AS4_E_CONFIG);
		assert_string_equal(e.v[0].message, "missing required key 'name'");
		as4_conf_errors_cleanup(&e);
		as4_conf_doc_free(doc);
	}
}

static void test_json(void **state)
{
	(void)state;
	struct as4_conf_doc *doc = NULL;
	struct as4_conf_errors e;
	/* an empty body given as NULL: an empty YAML document, not JSON */
	as4_conf_errors_init(&e, 0);
	assert_int_equal(as4_conf_parse_yaml(NULL, 0, "api", NULL, &doc, &e), AS4_OK);
	assert_int_equal(doc->root->n_children, 0);
	as4_conf_doc_free(doc);
	assert_int_equal(as4_conf_parse_json(NULL, 0, "api", NULL, &doc, &e), AS4_E_PARSE);
	assert_null(doc);
	assert_int_equal(as4_conf_parse_json(NULL, 5, "api", NULL, &doc, &e), AS4_E_INVAL);
	as4_conf_errors_cleanup(&e);

	assert_int_equal(
	        load_json("{\"name\":\"ap\",\"port\":9000,\"debug\":true,"
	                  "\"max_body\":\"8M\",\"timeout\":60,\"security\":\"none\","
	                  "\"parties\":[{\"name\":\"p\",\"ids\":[{\"value\":\"urn:a\"}]}]}",
	                  &doc, &e),
	        AS4_OK);
	assert_true(doc->json);
	assert_int_equal(as4_conf_num(doc->root, "port"), 9000);
	assert_true(as4_conf_bool(doc->root, "debug"));
	assert_int_equal(as4_conf_num(doc->root, "timeout"), 60000);
	assert_string_equal(as4_conf_str(doc->root, "security.mode"), "none");
	as4_conf_errors_cleanup(&e);
	as4_conf_doc_free(doc);

	/* errors are located by key path */
	assert_int_equal(load_json("{\"name\":5,\"port\":\"80\",\"debug\":\"yes\","
	                           "\"parties\":[{\"name\":\"p\",\"ids\":[{\"valeu\":\"x\"}]}]}",
	                           &doc, &e),
	                 AS4_E_CONFIG);
	assert_int_equal(e.n_errors, 5);
	assert_string_equal(e.v[0].text, "api: name: expected a string, got '5'");
	assert_string_equal(e.v[1].text, "api: port: expected a whole number, got the string '80' "
	                                 "(write it without quotes)");
	assert_string_equal(e.v[2].text, "api: debug: expected true or false, got the string 'yes' "
	                                 "(write it without quotes)");
	assert_string_equal(e.v[3].text,
	                    "api: parties[0].ids[0]: unknown key 'valeu' (did you mean "
	                    "'value'?)");
	assert_string_equal(e.v[4].text, "api: parties[0].ids[0]: missing required key 'value'");
	assert_int_equal(e.v[4].line, 0);
	as4_conf_errors_cleanup(&e);
	as4_conf_doc_free(doc);

	assert_int_equal(load_json("{\"name\":\"a\",\n\"name\":\"b\"}", &doc, &e), AS4_E_PARSE);
	assert_non_null(strstr(e.v[0].text, "api:2: JSON syntax error: duplicate object key"));
	as4_conf_errors_cleanup(&e);
	assert_int_equal(load_json("[1]", &doc, &e), AS4_E_PARSE);
	assert_string_equal(e.v[0].text, "api: the top level must be a JSON object");
	as4_conf_errors_cleanup(&e);
	assert_int_equal(load_json("{\"name\":\"a\\u0001\"}", &doc, &e), AS4_E_PARSE);
	assert_string_equal(e.v[0].text, "api: name: value contains a control character");
	as4_conf_errors_cleanup(&e);
	assert_int_equal(load_json("{\"name\":\"a\"} x", &doc, &e), AS4_E_PARSE);
	as4_conf_errors_cleanup(&e);
}

static void test_load_file(void **state)
{
	(void)state;
	struct as4_conf_doc *doc = NULL;
	struct as4_conf_errors e;
	char dir[] = "/tmp/as4-conf-XXXXXX";
	char path[256];
	assert_non_null(mkdtemp(dir));
	as4_conf_errors_init(&e, 0);
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s/missing.yaml", dir), AS4_OK);
	assert_int_equal(as4_conf_load_file(path, NULL, &doc, &e), AS4_E_NOTFOUND);
	assert_string_equal(e.v[0].message, "file does not exist");
	as4_conf_errors_cleanup(&e);
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s/c.json", dir), AS4_OK);
	assert_int_equal(as4_file_write_atomic(path, "{\"name\":\"j\"}", 12, 0600), AS4_OK);
	assert_int_equal(as4_conf_load_file(path, NULL, &doc, &e), AS4_OK);
	assert_true(doc->json);
	assert_string_equal(doc->source, path);
	as4_conf_doc_free(doc);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	as4_conf_errors_cleanup(&e);
}

static void test_helpers(void **state)
{
	(void)state;
	char b[128];
	assert_string_equal(as4_conf_quote("a\nb\x01", b, sizeof(b)), "'a\\nb\\x01'");
	assert_string_equal(as4_conf_quote("0123456789012345678901234567890123456789012345678901234"
	                                   "5678901234567890",
	                                   b, sizeof(b)),
	                    "'012345678901234567890123456789012345678901234567890123456789...'");
	assert_string_equal(as4_conf_quote("abcdef", b, 8), "'ab...'");
	assert_string_equal(as4_conf_quote("\xc3\xa6\xc3\xb8\xc3\xa5", b, 9), "'\xc3\xa6...'");

	const char *names[] = {"retries", "interval", "backoff", "port", NULL};
	assert_string_equal(as4_conf_suggest("retires", names), "retries");
	assert_string_equal(as4_conf_suggest("Retries", names), "retries");
	assert_string_equal(as4_conf_suggest("intervall", names), "interval");
	assert_string_equal(as4_conf_suggest("prot", names), "port");
	assert_null(as4_conf_suggest("xyz", names));
	assert_null(as4_conf_suggest("retries", names));

	assert_string_equal(as4_conf_fmt_size(64 * 1024 * 1024, b, sizeof(b)), "64M");
	assert_string_equal(as4_conf_fmt_size(1536 * 1024, b, sizeof(b)), "1536K");
	assert_string_equal(as4_conf_fmt_size(1000, b, sizeof(b)), "1000");
	assert_string_equal(as4_conf_fmt_size(0, b, sizeof(b)), "0");
	assert_string_equal(as4_conf_fmt_duration(30ULL * 86400000, b, sizeof(b)), "30d");
	assert_string_equal(as4_conf_fmt_duration(90 * 60000, b, sizeof(b)), "90m");
	assert_string_equal(as4_conf_fmt_duration(250, b, sizeof(b)), "250ms");

	assert_true(as4_conf_url_valid("http://127.0.0.1:8080/as4", false));
	assert_true(as4_conf_url_valid("HTTPS://ap.example.org", false));
	assert_true(as4_conf_url_valid("https://[::1]:8443/a/b?c=d%20e", true));
	assert_false(as4_conf_url_valid("http://127.0.0.1/as4", true));
	assert_false(as4_conf_url_valid("https://user@host/", false));
	assert_false(as4_conf_url_valid("https://host/#frag", false));
	assert_false(as4_conf_url_valid("https://host:0/", false));
	assert_false(as4_conf_url_valid("https://host:65536/", false));
	assert_false(as4_conf_url_valid("https:///path", false));
	assert_false(as4_conf_url_valid("https://host/a b", false));
	assert_false(as4_conf_url_valid("https://host:80x/", false));
	assert_false(as4_conf_url_valid("mailto:x@y", false));
	assert_false(as4_conf_url_valid(NULL, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_schema_table_valid),
	        cmocka_unit_test(test_schema_table_bugs),
	        cmocka_unit_test(test_good_document_and_defaults),
	        cmocka_unit_test(test_type_errors),
	        cmocka_unit_test(test_unknown_keys_and_required),
	        cmocka_unit_test(test_all_errors_collected_and_capped),
	        cmocka_unit_test(test_shorthand_and_nulls),
	        cmocka_unit_test(test_yaml_refusals),
	        cmocka_unit_test(test_limits),
	        cmocka_unit_test(test_empty_documents),
	        cmocka_unit_test(test_json),
	        cmocka_unit_test(test_load_file),
	        cmocka_unit_test(test_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
