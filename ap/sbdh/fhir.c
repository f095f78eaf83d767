/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a FHIR message says about itself: resource type, Bundle type, the MessageHeader's id and
 * event code. Only these few values are read; validating FHIR is the clinical systems' job.
 */
#include <jansson.h>
#include <string.h>

#include "as4/sbdh.h"
#include "as4/xml.h"

#define NS_FHIR "http://hl7.org/fhir"

/* FHIR XML (FHIR R4 §2.6.2): primitive values live in a value attribute. */
static const char *xml_value(struct as4_arena *a, const xmlNode *parent, const char *local)
{
	const xmlNode *n = as4_xml_child(parent, NS_FHIR, local);
	const char *v = n != NULL ? as4_xml_attr(n, NULL, "value") : NULL;
	return v != NULL ? as4_arena_strdup(a, v) : NULL;
}

static as4_err from_xml(const uint8_t *buf, size_t len, const struct as4_limits *lim,
                        struct as4_arena *a, struct as4_sbdh_fhir *out, struct as4_diag *d)
{
	xmlDoc *doc = NULL;
	as4_err err = as4_xml_parse(buf, len, lim, &doc, d);
	if (err != AS4_OK) {
		return err == AS4_E_NOMEM || err == AS4_E_LIMIT ? err : AS4_E_PARSE;
	}
	const xmlNode *root = xmlDocGetRootElement(doc);
	if (root == NULL || root->ns == NULL ||
	    strcmp((const char *)root->ns->href, NS_FHIR) != 0) {
		err = as4_diag_set(d, AS4_E_PARSE,
		                   "the document element is not in the FHIR namespace " NS_FHIR);
		goto out;
	}
	out->resource_type = as4_arena_strdup(a, (const char *)root->name);
	out->bundle_type = xml_value(a, root, "type");
	const xmlNode *entry = as4_xml_child(root, NS_FHIR, "entry");
	const xmlNode *res = entry != NULL ? as4_xml_child(entry, NS_FHIR, "resource") : NULL;
	const xmlNode *mh = res != NULL ? as4_xml_child(res, NS_FHIR, "MessageHeader") : NULL;
	if (mh != NULL) {
		out->message_header_id = xml_value(a, mh, "id");
		const xmlNode *ev = as4_xml_child(mh, NS_FHIR, "eventCoding");
		out->event_code = ev != NULL ? xml_value(a, ev, "code") : NULL;
	}
	if (out->resource_type == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	out->read = true;
out:
	xmlFreeDoc(doc);
	return err;
}

/* Deepest nesting of JSON arrays/objects, counted outside strings (before jansson recurses). */
static size_t json_depth(const uint8_t *p, size_t n)
{
	size_t depth = 0;
	size_t max = 0;
	bool str = false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (str) {
			if (c == '\\') {
				i++;
			} else if (c == '"') {
				str = false;
			}
		} else if (c == '"') {
			str = true;
		} else if (c == '{' || c == '[') {
			depth++;
			max = depth > max ? depth : max;
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
	}
	return max;
}

static const char *json_text(struct as4_arena *a, const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_string(v) ? as4_arena_strdup(a, json_string_value(v)) : NULL;
}

static as4_err from_json(const uint8_t *buf, size_t len, const struct as4_limits *lim,
                         struct as4_arena *a, struct as4_sbdh_fhir *out, struct as4_diag *d)
{
	size_t max_depth = lim != NULL ? lim->max_xml_depth : 64;
	if (json_depth(buf, len) > max_depth) {
		return as4_diag_set(d, AS4_E_LIMIT, "JSON nested deeper than %zu levels",
		                    max_depth);
	}
	json_error_t je;
	json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
	as4_err err = AS4_OK;
	if (root == NULL) {
		return as4_diag_set(d, AS4_E_PARSE, "not JSON: line %d: %s", je.line, je.text);
	}
	if (!json_is_object(root) || json_text(a, root, "resourceType") == NULL) {
		err = as4_diag_set(d, AS4_E_PARSE, "not a FHIR resource (no resourceType)");
		goto out;
	}
	out->resource_type = json_text(a, root, "resourceType");
	out->bundle_type = json_text(a, root, "type");
	const json_t *entry = json_array_get(json_object_get(root, "entry"), 0);
	const json_t *res = json_object_get(entry, "resource");
	const char *rt = json_text(a, res, "resourceType");
	if (rt != NULL && strcmp(rt, "MessageHeader") == 0) {
		out->message_header_id = json_text(a, res, "id");
		out->event_code = json_text(a, json_object_get(res, "eventCoding"), "code");
	}
	out->read = true;
out:
	json_decref(root);
	return err;
}

as4_err as4_sbdh_fhir_info(const uint8_t *buf, size_t len, const char *mime_type,
                           const struct as4_limits *lim, struct as4_arena *arena,
                           struct as4_sbdh_fhir *out, struct as4_diag *d)
{
	memset(out, 0, sizeof(*out));
	if (mime_type != NULL && strcmp(mime_type, AS4_SBDH_FHIR_XML) == 0) {
		return from_xml(buf, len, lim, arena, out, d);
	}
	if (mime_type != NULL && strcmp(mime_type, AS4_SBDH_FHIR_JSON) == 0) {
		return from_json(buf, len, lim, arena, out, d);
	}
	return as4_diag_set(d, AS4_E_INVAL, "'%s' is not a FHIR media type",
	                    mime_type != NULL ? mime_type : "(none)");
}
