/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ehmiSBDH envelopes: parse and check (every problem collected), GLN and participant checks.
 * The BinaryContent text is cut out before libxml2 sees the document (see as4/sbdh.h).
 */
#include "as4/sbdh.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as4/str.h"
#include "as4/time.h"
#include "as4/xml.h"

/* Most problems kept for one envelope (further ones are dropped: the first ones matter). */
#define MAX_PROBLEMS 64
/* Longest scope or identification value kept. */
#define MAX_VALUE 2048
/* FHIR content opened for its MessageHeader by default. */
#define FHIR_READ_DEFAULT (8u * 1024 * 1024)

/* ---- GLN and participant identifiers --------------------------------------------------- */

char as4_gln_check_digit(const char *s)
{
	unsigned sum = 0;
	if (s == NULL) {
		return '\0';
	}
	for (size_t i = 0; i < 12; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return '\0';
		}
	}
	/* GS1 General Specifications §7.9.1: weights 3 and 1 alternate from the rightmost digit */
	for (size_t i = 0; i < 12; i++) {
		unsigned v = (unsigned)(s[11 - i] - '0');
		sum += (i % 2 == 0) ? 3 * v : v;
	}
	return (char)('0' + (10 - sum % 10) % 10);
}

bool as4_gln_valid(const char *s)
{
	if (s == NULL || strlen(s) != 13) {
		return false;
	}
	char c = as4_gln_check_digit(s);
	return c != '\0' && c == s[12];
}

static bool scheme_allowed(const struct as4_sbdh_schemes *ok, const char *icd)
{
	if (ok == NULL || ok->n == 0) {
		return strcmp(icd, "0088") == 0;
	}
	for (size_t i = 0; i < ok->n; i++) {
		if (ok->icd[i] != NULL && strcmp(ok->icd[i], icd) == 0) {
			return true;
		}
	}
	return false;
}

static void schemes_text(const struct as4_sbdh_schemes *ok, char *out, size_t cap)
{
	out[0] = '\0';
	if (ok == NULL || ok->n == 0) {
		if (as4_str_copy(out, cap, "0088") != AS4_OK) {
			/* cap is always large enough for one ICD */
		}
		return;
	}
	for (size_t i = 0; i < ok->n; i++) {
		if ((i > 0 && as4_str_cat(out, cap, ", ") != AS4_OK) ||
		    as4_str_cat(out, cap, ok->icd[i]) != AS4_OK) {
			return;
		}
	}
}

as4_err as4_participant_parse(const char *value, const struct as4_sbdh_schemes *ok,
                              const char *field, struct as4_participant_id *out, struct as4_diag *d)
{
	char q[80];
	char allowed[128];
	struct as4_participant_id p;
	memset(&p, 0, sizeof(p));
	if (value == NULL || value[0] == '\0') {
		return as4_diag_set_field(d, AS4_E_SBDH_INVALID, field,
		                          "%s: participant identifier is missing", field);
	}
	/* the Peppol "scheme::value" text form names the scheme of the header's Authority */
	if (as4_str_starts(value, AS4_SBDH_AUTHORITY "::")) {
		value += strlen(AS4_SBDH_AUTHORITY "::");
	}
	size_t n = strlen(value);
	snprintf(q, sizeof(q), "%.60s%s", value, n > 60 ? "..." : "");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)value[i];
		if (c <= ' ' || c >= 0x7f) {
			return as4_diag_set_field(d, AS4_E_SBDH_INVALID, field,
			                          "%s: participant identifier '%s' holds spaces or "
			                          "non-ASCII characters",
			                          field, q);
		}
	}
	if (n > AS4_SBDH_PARTICIPANT_MAX) {
		return as4_diag_set_field(d, AS4_E_SBDH_INVALID, field,
		                          "%s: participant identifier '%s' is longer than %d bytes",
		                          field, q, AS4_SBDH_PARTICIPANT_MAX);
	}
	if (n < 6 || value[4] != ':' || strspn(value, "0123456789") != 4) {
		return as4_diag_set_field(d, AS4_E_SBDH_INVALID, field,
		                          "%s: participant identifier '%s' is not '<ICD>:<id>' "
		                          "(e.g. 0088:5790000121526)",
		                          field, q);
	}
	memcpy(p.icd, value, 4);
	p.icd[4] = '\0';
	p.id = value + 5;
	if (!scheme_allowed(ok, p.icd)) {
		schemes_text(ok, allowed, sizeof(allowed));
		return as4_diag_set_field(d, AS4_E_SBDH_INVALID, field,
		                          "%s: participant scheme %s of '%s' is not accepted "
		                          "(accepted: %s)",
		                          field, p.icd, q, allowed);
	}
	if (strcmp(p.icd, "0088") == 0) {
		p.gln = true;
		if (strlen(p.id) != 13 || strspn(p.id, "0123456789") != 13) {
			return as4_diag_set_field(d, AS4_E_GLN, field,
			                          "%s: '%s' is not a GLN (0088 needs 13 digits)",
			                          field, q);
		}
		char want = as4_gln_check_digit(p.id);
		if (want != p.id[12]) {
			return as4_diag_set_field(d, AS4_E_GLN, field,
			                          "%s: GLN %s has a wrong check digit (%c; the GS1 "
			                          "mod-10 digit is %c)",
			                          field, p.id, p.id[12], want);
		}
	}
	if (out != NULL) {
		*out = p;
	}
	return AS4_OK;
}

/* ---- Problems ---------------------------------------------------------------------------- */

AS4_PRINTF(5, 6)
static void problem(struct as4_sbdh *sb, as4_err err, bool warning, const char *field,
                    const char *fmt, ...)
{
	char text[AS4_DIAG_TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (!warning) {
		sb->n_errors++;
	}
	if (sb->n_problems >= MAX_PROBLEMS) {
		return;
	}
	if (sb->n_problems == sb->cap_problems_) {
		size_t cap = sb->cap_problems_ ? sb->cap_problems_ * 2 : 8;
		struct as4_sbdh_problem *v = as4_arena_calloc(sb->arena, cap, sizeof(*v));
		if (v == NULL) {
			return;
		}
		if (sb->n_problems > 0) {
			memcpy(v, sb->problems, sb->n_problems * sizeof(*v));
		}
		sb->problems = v;
		sb->cap_problems_ = cap;
	}
	struct as4_sbdh_problem *p = &sb->problems[sb->n_problems++];
	p->err = err;
	p->warning = warning;
	p->field = as4_arena_strdup(sb->arena, field);
	p->text = as4_arena_strdup(sb->arena, text);
}

/* ---- Cutting the BinaryContent text ------------------------------------------------------- */

/* Where the BinaryContent text was found. */
struct cut {
	bool found;        /* a BinaryContent start tag was found */
	bool cut;          /* its text was cut out: [start, end) */
	size_t start, end; /* the text between the start and the end tag */
	const char *why;   /* why it could not be cut (static), NULL when cut or absent */
	size_t digits;     /* base64 digits in the cut text (no padding or whitespace) */
};

static const uint8_t *find_seq(const uint8_t *p, const uint8_t *end, const char *s)
{
	size_t n = strlen(s);
	while ((size_t)(end - p) >= n) {
		if (memcmp(p, s, n) == 0) {
			return p;
		}
		p++;
	}
	return NULL;
}

/* True when the bytes at p start with s. */
static bool at(const uint8_t *p, const uint8_t *end, const char *s)
{
	size_t n = strlen(s);
	return (size_t)(end - p) >= n && memcmp(p, s, n) == 0;
}

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Characters of base64 text: 1 a digit, 2 padding or XML whitespace, 0 anything else. */
static uint8_t b64_class(uint8_t c)
{
	static const uint8_t table[256] = {
	        ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1,  ['E'] = 1,  ['F'] = 1, ['G'] = 1,
	        ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1,  ['L'] = 1,  ['M'] = 1, ['N'] = 1,
	        ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,  ['S'] = 1,  ['T'] = 1, ['U'] = 1,
	        ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1,  ['Z'] = 1,  ['a'] = 1, ['b'] = 1,
	        ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,  ['g'] = 1,  ['h'] = 1, ['i'] = 1,
	        ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1,  ['n'] = 1,  ['o'] = 1, ['p'] = 1,
	        ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,  ['u'] = 1,  ['v'] = 1, ['w'] = 1,
	        ['x'] = 1, ['y'] = 1, ['z'] = 1, ['0'] = 1,  ['1'] = 1,  ['2'] = 1, ['3'] = 1,
	        ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,  ['8'] = 1,  ['9'] = 1, ['+'] = 1,
	        ['/'] = 1, ['='] = 2, [' '] = 2, ['\t'] = 2, ['\r'] = 2, ['\n'] = 2};
	return table[c];
}

/* The end of a tag starting at p ('<'): the position of its '>' outside quotes, or NULL. */
static const uint8_t *tag_end(const uint8_t *p, const uint8_t *end)
{
	uint8_t quote = 0;
	for (; p < end; p++) {
		if (quote != 0) {
			if (*p == quote) {
				quote = 0;
			}
		} else if (*p == '"' || *p == '\'') {
			quote = *p;
		} else if (*p == '>') {
			return p;
		}
	}
	return NULL;
}

/*
 * Find the first element named [prefix:]BinaryContent outside comments, CDATA sections and
 * processing instructions, and the text it holds up to its end tag.
 */
static void find_binary(const uint8_t *buf, size_t len, struct cut *c)
{
	static const char name[] = "BinaryContent";
	const size_t nl = sizeof(name) - 1;
	const uint8_t *end = buf + len;
	const uint8_t *p = buf;
	memset(c, 0, sizeof(*c));
	while (p < end) {
		p = memchr(p, '<', (size_t)(end - p));
		if (p == NULL) {
			return;
		}
		/* comments, CDATA sections and processing instructions are skipped whole */
		static const char *const skips[][2] = {
		        {"<!--", "-->"}, {"<![CDATA[", "]]>"}, {"<?", "?>"}};
		bool skipped = false;
		for (size_t i = 0; i < AS4_ARRAY_LEN(skips) && !skipped; i++) {
			if (!at(p, end, skips[i][0])) {
				continue;
			}
			const uint8_t *e = find_seq(p + strlen(skips[i][0]), end, skips[i][1]);
			if (e == NULL) {
				return; /* unterminated: the XML parser will say so */
			}
			p = e + strlen(skips[i][1]);
			skipped = true;
		}
		if (skipped) {
			continue;
		}
		const uint8_t *gt = tag_end(p, end);
		if (gt == NULL) {
			return;
		}
		/* the qualified name: up to whitespace, '/' or '>' */
		const uint8_t *q = p + 1;
		const uint8_t *qn = q;
		while (q < gt && !is_space(*q) && *q != '/' && *q != '>') {
			q++;
		}
		const uint8_t *colon = memchr(qn, ':', (size_t)(q - qn));
		const uint8_t *local = colon != NULL ? colon + 1 : qn;
		if (*qn == '/' || *qn == '!' || (size_t)(q - local) != nl ||
		    memcmp(local, name, nl) != 0) {
			p = gt + 1;
			continue;
		}
		c->found = true;
		if (gt[-1] == '/') {
			return; /* <BinaryContent/>: nothing to cut */
		}
		const uint8_t *text = gt + 1;
		const uint8_t *lt = memchr(text, '<', (size_t)(end - text));
		if (lt == NULL) {
			return;
		}
		size_t qlen = (size_t)(q - qn);
		const uint8_t *e = lt + 2;
		if (lt + 1 >= end || lt[1] != '/' || (size_t)(end - e) < qlen ||
		    memcmp(e, qn, qlen) != 0) {
			c->why = "BinaryContent must hold base64 text only (no elements, comments "
			         "or "
			         "CDATA)";
			return;
		}
		e += qlen;
		while (e < end && is_space(*e)) {
			e++;
		}
		if (e >= end || *e != '>') {
			c->why = "BinaryContent end tag is malformed";
			return;
		}
		/* one pass: only base64 text may be cut, and its digits give the decoded size */
		size_t digits = 0;
		for (const uint8_t *t = text; t < lt; t++) {
			uint8_t k = b64_class(*t);
			if (k == 0) {
				c->why = "BinaryContent holds characters that are not base64 "
				         "(character references and entities are not accepted)";
				return;
			}
			digits += k == 1;
		}
		c->digits = digits;
		c->cut = true;
		c->start = (size_t)(text - buf);
		c->end = (size_t)(lt - buf);
		return;
	}
}

/* ---- Reading the header -------------------------------------------------------------------- */

/* Trimmed text content of an element, copied into the arena ("" when empty; NULL on OOM). */
static const char *text_of(struct as4_sbdh *sb, const xmlNode *n)
{
	char *t = as4_xml_text(n);
	if (t == NULL) {
		return NULL;
	}
	const char *s = t;
	size_t len = strlen(t);
	as4_str_trim(&s, &len);
	char *r = as4_arena_strndup(sb->arena, s, len);
	xmlFree(t);
	return r;
}

/* The one child ns:local of parent, its text checked for length; NULL (and a problem) if not. */
static const char *one(struct as4_sbdh *sb, const xmlNode *parent, const char *local,
                       const char *field, bool required)
{
	size_t n = as4_xml_count_children(parent, AS4_NS_SBDH, local);
	if (n == 0) {
		if (required) {
			problem(sb, AS4_E_SBDH_INVALID, false, field, "%s is missing", field);
		}
		return NULL;
	}
	if (n > 1) {
		problem(sb, AS4_E_SBDH_INVALID, false, field, "%s is given %zu times", field, n);
		return NULL;
	}
	const char *t = text_of(sb, as4_xml_child(parent, AS4_NS_SBDH, local));
	if (t == NULL) {
		return NULL;
	}
	if (t[0] == '\0') {
		problem(sb, AS4_E_SBDH_INVALID, false, field, "%s is empty", field);
		return NULL;
	}
	if (strlen(t) > MAX_VALUE) {
		problem(sb, AS4_E_SBDH_INVALID, false, field, "%s is longer than %d bytes", field,
		        MAX_VALUE);
		return NULL;
	}
	return t;
}

/* Sender or Receiver: one Identifier with Authority iso6523-actorid-upis and a checked value. */
static void read_party(struct as4_sbdh *sb, const xmlNode *hdr, const char *which,
                       const struct as4_sbdh_rules *r, const char **authority, const char **value,
                       const char **gln)
{
	char field[64];
	size_t n = as4_xml_count_children(hdr, AS4_NS_SBDH, which);
	if (n != 1) {
		problem(sb, AS4_E_SBDH_INVALID, false, which,
		        n == 0 ? "%s is missing" : "%s is given more than once (one %s expected)",
		        which, which);
		return;
	}
	const xmlNode *party = as4_xml_child(hdr, AS4_NS_SBDH, which);
	snprintf(field, sizeof(field), "%s/Identifier", which);
	const char *v = one(sb, party, "Identifier", field, true);
	if (v == NULL) {
		return;
	}
	const char *auth =
	        as4_xml_attr(as4_xml_child(party, AS4_NS_SBDH, "Identifier"), NULL, "Authority");
	*value = v;
	*authority = auth != NULL ? as4_arena_strdup(sb->arena, auth) : NULL;
	if (auth == NULL || strcmp(auth, AS4_SBDH_AUTHORITY) != 0) {
		problem(sb, AS4_E_SBDH_INVALID, false, field,
		        "%s/@Authority is '%.60s', expected '" AS4_SBDH_AUTHORITY "'", field,
		        auth != NULL ? auth : "(absent)");
	}
	struct as4_diag d;
	struct as4_participant_id id;
	as4_diag_init(&d);
	if (as4_participant_parse(v, &r->schemes, which, &id, &d) != AS4_OK) {
		problem(sb, d.err, false, field, "%s", as4_diag_text(&d));
		return;
	}
	if (id.gln) {
		*gln = as4_arena_strdup(sb->arena, id.id);
	}
}

static bool id_text_ok(const char *s)
{
	for (const char *p = s; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			return false;
		}
	}
	return s[0] != '\0' && strlen(s) <= 256;
}

static void read_identification(struct as4_sbdh *sb, const xmlNode *hdr)
{
	const char *f = "DocumentIdentification";
	size_t n = as4_xml_count_children(hdr, AS4_NS_SBDH, f);
	if (n != 1) {
		problem(sb, AS4_E_SBDH_INVALID, false, f,
		        n == 0 ? "%s is missing" : "%s is given more than once", f);
		return;
	}
	const xmlNode *di = as4_xml_child(hdr, AS4_NS_SBDH, f);
	sb->standard = one(sb, di, "Standard", "DocumentIdentification/Standard", true);
	sb->type_version = one(sb, di, "TypeVersion", "DocumentIdentification/TypeVersion", true);
	sb->instance_id = one(sb, di, "InstanceIdentifier",
	                      "DocumentIdentification/InstanceIdentifier", true);
	sb->type = one(sb, di, "Type", "DocumentIdentification/Type", true);
	sb->created = one(sb, di, "CreationDateAndTime",
	                  "DocumentIdentification/CreationDateAndTime", true);
	if (sb->instance_id != NULL && !id_text_ok(sb->instance_id)) {
		problem(sb, AS4_E_SBDH_INVALID, false, "DocumentIdentification/InstanceIdentifier",
		        "InstanceIdentifier '%.60s' must be 1 to 256 characters without spaces",
		        sb->instance_id);
		sb->instance_id = NULL;
	}
	int64_t ms;
	if (sb->created != NULL && as4_time_parse(sb->created, &ms) != AS4_OK) {
		problem(sb, AS4_E_SBDH_INVALID, false, "DocumentIdentification/CreationDateAndTime",
		        "CreationDateAndTime '%.60s' is not an xsd:dateTime", sb->created);
	}
}

static void read_scopes(struct as4_sbdh *sb, const xmlNode *hdr)
{
	const xmlNode *bs = as4_xml_child(hdr, AS4_NS_SBDH, "BusinessScope");
	size_t n_doc = 0;
	size_t n_proc = 0;
	if (as4_xml_count_children(hdr, AS4_NS_SBDH, "BusinessScope") > 1) {
		problem(sb, AS4_E_SBDH_INVALID, false, "BusinessScope",
		        "BusinessScope is given more than once");
	}
	size_t total = bs != NULL ? as4_xml_count_children(bs, AS4_NS_SBDH, "Scope") : 0;
	if (total > 0) {
		sb->scopes = as4_arena_calloc(sb->arena, total, sizeof(*sb->scopes));
		if (sb->scopes == NULL) {
			return;
		}
	}
	for (const xmlNode *s = bs != NULL ? as4_xml_first_elem(bs) : NULL; s != NULL;
	     s = as4_xml_next_elem(s)) {
		if (!as4_xml_is(s, AS4_NS_SBDH, "Scope")) {
			continue;
		}
		char field[96];
		size_t idx = sb->n_scopes;
		struct as4_sbdh_scope *sc = &sb->scopes[sb->n_scopes++];
		snprintf(field, sizeof(field), "BusinessScope/Scope[%zu]/Type", idx + 1);
		sc->type = one(sb, s, "Type", field, true);
		if (sc->type == NULL) {
			continue;
		}
		snprintf(field, sizeof(field), "BusinessScope/Scope[%.40s]", sc->type);
		bool patient = strcmp(sc->type, "PATIENTID") == 0;
		if (patient) {
			/* a CPR number: checked for presence only, never copied (see the header) */
			sb->has_patient = true;
			const xmlNode *iid = as4_xml_child(s, AS4_NS_SBDH, "InstanceIdentifier");
			if (iid == NULL) {
				problem(sb, AS4_E_SBDH_INVALID, false, field,
				        "%s/InstanceIdentifier is missing", field);
			}
		} else {
			char f2[128];
			snprintf(f2, sizeof(f2), "%s/InstanceIdentifier", field);
			sc->instance_id = one(sb, s, "InstanceIdentifier", f2, true);
		}
		const xmlNode *ident = as4_xml_child(s, AS4_NS_SBDH, "Identifier");
		sc->identifier = ident != NULL ? text_of(sb, ident) : NULL;
		const char *v = sc->instance_id;
		if (strcmp(sc->type, "DOCUMENTID") == 0) {
			n_doc++;
			sb->document_id = v;
		} else if (strcmp(sc->type, "PROCESSID") == 0) {
			n_proc++;
			sb->process_id = v;
		} else if (strcmp(sc->type, "SENDERID") == 0) {
			sb->sender_sor = v;
		} else if (strcmp(sc->type, "RECEIVERID") == 0) {
			sb->receiver_sor = v;
		} else if (strcmp(sc->type, "MESSAGEIDENTIFIER") == 0) {
			sb->message_identifier = v;
		} else if (strcmp(sc->type, "EHMI-ReceiptAcknowledgement") == 0) {
			sb->ack_requested = v != NULL && strcmp(v, "Request") == 0;
		}
	}
	if (n_doc != 1) {
		problem(sb, AS4_E_SBDH_INVALID, false, "BusinessScope/Scope[DOCUMENTID]",
		        n_doc == 0 ? "no DOCUMENTID scope (the document type identifier)"
		                   : "more than one DOCUMENTID scope");
		sb->document_id = NULL;
	}
	if (n_proc != 1) {
		problem(sb, AS4_E_SBDH_INVALID, false, "BusinessScope/Scope[PROCESSID]",
		        n_proc == 0 ? "no PROCESSID scope (the process identifier)"
		                    : "more than one PROCESSID scope");
		sb->process_id = NULL;
	}
}

static bool mime_allowed(const struct as4_sbdh_rules *r, const char *mt)
{
	if (r->n_mime_types == 0) {
		return strcmp(mt, AS4_SBDH_FHIR_XML) == 0 || strcmp(mt, AS4_SBDH_FHIR_JSON) == 0;
	}
	for (size_t i = 0; i < r->n_mime_types; i++) {
		if (strcmp(r->mime_types[i], mt) == 0) {
			return true;
		}
	}
	return false;
}

/* BinaryContent: attributes, the decoded size, and the bytes. */
static as4_err read_binary(struct as4_sbdh *sb, const xmlNode *root, const uint8_t *buf,
                           const struct cut *c, const struct as4_sbdh_rules *r)
{
	const char *f = "BinaryContent";
	const xmlNode *bin = NULL;
	size_t n = 0;
	for (const xmlNode *e = as4_xml_first_elem(root); e != NULL; e = as4_xml_next_elem(e)) {
		if (as4_xml_is(e, AS4_NS_SBDH_BC, f) || as4_xml_is(e, AS4_NS_SBDH, f)) {
			bin = e;
			n++;
		} else if (as4_xml_is(e, AS4_NS_SBDH_BC, "TextContent") ||
		           as4_xml_is(e, AS4_NS_SBDH, "TextContent")) {
			problem(sb, AS4_E_SBDH_INVALID, false, "TextContent",
			        "TextContent is not accepted: MedCom carries the FHIR message "
			        "base64-encoded in BinaryContent");
		}
	}
	if (n != 1) {
		problem(sb, AS4_E_SBDH_INVALID, false, f,
		        n == 0 ? "BinaryContent (the FHIR message) is missing"
		               : "BinaryContent is given %zu times (one expected)",
		        n);
		return AS4_OK;
	}
	if (c->why != NULL) {
		problem(sb, AS4_E_SBDH_INVALID, false, f, "%s", c->why);
		return AS4_OK;
	}
	if (bin->children != NULL) {
		/* the text cut out was not this element's: refuse rather than guess */
		problem(sb, AS4_E_SBDH_INVALID, false, f,
		        "BinaryContent must hold base64 text only (no elements, comments or "
		        "CDATA)");
		return AS4_OK;
	}
	const char *mt = as4_xml_attr(bin, NULL, "mimeType");
	const char *enc = as4_xml_attr(bin, NULL, "encoding");
	sb->mime_type = mt != NULL ? as4_arena_strdup(sb->arena, mt) : NULL;
	sb->encoding = enc != NULL ? as4_arena_strdup(sb->arena, enc) : NULL;
	if (mt == NULL) {
		problem(sb, AS4_E_SBDH_INVALID, false, "BinaryContent/@mimeType",
		        "BinaryContent/@mimeType is missing");
	} else if (!mime_allowed(r, mt)) {
		problem(sb, AS4_E_SBDH_INVALID, false, "BinaryContent/@mimeType",
		        "BinaryContent/@mimeType '%.60s' is not accepted (expected %s)", mt,
		        r->n_mime_types == 0 ? AS4_SBDH_FHIR_XML " or " AS4_SBDH_FHIR_JSON
		                             : "one of the configured types");
	}
	if (!c->cut) {
		problem(sb, AS4_E_SBDH_INVALID, false, f, "BinaryContent is empty");
		return AS4_OK;
	}
	const char *b64 = (const char *)buf + c->start;
	size_t blen = c->end - c->start;
	uint64_t max = r->max_content ? r->max_content : AS4_SBDH_MAX_CONTENT;
	uint64_t size = (uint64_t)c->digits * 6 / 8;
	sb->b64_offset = c->start;
	sb->b64_len = blen;
	if (size > max) {
		problem(sb, AS4_E_LIMIT, false, f,
		        "the FHIR message is %llu bytes, over the limit of %llu bytes",
		        (unsigned long long)size, (unsigned long long)max);
		return AS4_OK;
	}
	if (size == 0) {
		problem(sb, AS4_E_SBDH_INVALID, false, f, "BinaryContent is empty");
		return AS4_OK;
	}
	size_t cap = as4_b64_decoded_max(blen);
	uint8_t *bytes = malloc(cap);
	if (bytes == NULL) {
		return AS4_E_NOMEM;
	}
	size_t out = 0;
	if (as4_b64_decode(b64, blen, bytes, cap, &out) != AS4_OK) {
		free(bytes);
		problem(sb, AS4_E_SBDH_INVALID, false, f,
		        "BinaryContent is not valid base64 (bad padding)");
		return AS4_OK;
	}
	sb->content = bytes;
	sb->content_len = out;
	return AS4_OK;
}

/* Open the FHIR content for its MessageHeader; compare with the MESSAGEIDENTIFIER scope. */
static as4_err read_fhir(struct as4_sbdh *sb, const struct as4_sbdh_rules *r)
{
	uint64_t max = r->max_fhir_read ? r->max_fhir_read : FHIR_READ_DEFAULT;
	if (sb->content == NULL || sb->mime_type == NULL ||
	    (strcmp(sb->mime_type, AS4_SBDH_FHIR_XML) != 0 &&
	     strcmp(sb->mime_type, AS4_SBDH_FHIR_JSON) != 0)) {
		return AS4_OK;
	}
	if (sb->content_len <= max) {
		struct as4_diag d;
		as4_diag_init(&d);
		as4_err err = as4_sbdh_fhir_info(sb->content, sb->content_len, sb->mime_type,
		                                 r->limits, sb->arena, &sb->fhir, &d);
		if (err == AS4_E_NOMEM) {
			return err;
		}
		if (err != AS4_OK) {
			problem(sb, AS4_E_SBDH_INVALID, false, "BinaryContent",
			        "the content is not %s: %s", sb->mime_type, as4_diag_text(&d));
		} else if (strcmp(sb->fhir.resource_type, "Bundle") != 0 ||
		           sb->fhir.bundle_type == NULL ||
		           strcmp(sb->fhir.bundle_type, "message") != 0 ||
		           sb->fhir.message_header_id == NULL) {
			problem(sb, AS4_E_SBDH_INVALID, true, "BinaryContent",
			        "the content is a FHIR %s%s%s, not a message Bundle with a "
			        "MessageHeader",
			        sb->fhir.resource_type,
			        sb->fhir.bundle_type != NULL ? " of type " : "",
			        sb->fhir.bundle_type != NULL ? sb->fhir.bundle_type : "");
		}
	}
	const char *mh = sb->fhir.message_header_id;
	if (mh != NULL && sb->message_identifier != NULL &&
	    strcmp(mh, sb->message_identifier) != 0) {
		problem(sb, AS4_E_SBDH_INVALID, true, "BusinessScope/Scope[MESSAGEIDENTIFIER]",
		        "MESSAGEIDENTIFIER '%.60s' differs from the FHIR MessageHeader.id '%.60s'",
		        sb->message_identifier, mh);
	}
	sb->medcom_message_id = mh != NULL ? mh : sb->message_identifier;
	return AS4_OK;
}

static as4_err fill(struct as4_sbdh *sb, const uint8_t *buf, size_t len,
                    const struct as4_sbdh_rules *r)
{
	struct cut c;
	uint8_t *reduced = NULL;
	xmlDoc *doc = NULL;
	struct as4_diag d;
	as4_err err = AS4_OK;
	find_binary(buf, len, &c);
	const uint8_t *xml = buf;
	size_t xlen = len;
	if (c.cut) {
		xlen = len - (c.end - c.start);
		reduced = malloc(xlen ? xlen : 1);
		if (reduced == NULL) {
			return AS4_E_NOMEM;
		}
		memcpy(reduced, buf, c.start);
		memcpy(reduced + c.start, buf + c.end, len - c.end);
		xml = reduced;
	}
	as4_diag_init(&d);
	as4_err perr = as4_xml_parse(xml, xlen, r->limits, &doc, &d);
	if (perr == AS4_E_NOMEM) {
		err = perr;
		goto out;
	}
	if (perr != AS4_OK) {
		problem(sb, perr, false, "", "%s", as4_diag_text(&d));
		goto out;
	}
	const xmlNode *root = xmlDocGetRootElement(doc);
	if (root == NULL || !as4_xml_is(root, AS4_NS_SBDH, "StandardBusinessDocument")) {
		problem(sb, AS4_E_SBDH_INVALID, false, "StandardBusinessDocument",
		        "the document element is not {" AS4_NS_SBDH "}StandardBusinessDocument");
		goto out;
	}
	size_t nh = as4_xml_count_children(root, AS4_NS_SBDH, "StandardBusinessDocumentHeader");
	const xmlNode *hdr = as4_xml_child(root, AS4_NS_SBDH, "StandardBusinessDocumentHeader");
	if (nh != 1) {
		problem(sb, AS4_E_SBDH_INVALID, false, "StandardBusinessDocumentHeader",
		        nh == 0 ? "StandardBusinessDocumentHeader is missing"
		                : "StandardBusinessDocumentHeader is given more than once");
	}
	if (hdr != NULL) {
		sb->header_version = one(sb, hdr, "HeaderVersion", "HeaderVersion", true);
		read_party(sb, hdr, "Sender", r, &sb->sender_authority, &sb->sender,
		           &sb->sender_gln);
		read_party(sb, hdr, "Receiver", r, &sb->receiver_authority, &sb->receiver,
		           &sb->receiver_gln);
		read_identification(sb, hdr);
		read_scopes(sb, hdr);
	}
	err = read_binary(sb, root, buf, &c, r);
	if (err == AS4_OK) {
		err = read_fhir(sb, r);
	}
out:
	xmlFreeDoc(doc);
	free(reduced);
	return err;
}

as4_err as4_sbdh_parse(const uint8_t *buf, size_t len, const struct as4_sbdh_rules *rules,
                       struct as4_sbdh **out, struct as4_diag *d)
{
	static const struct as4_sbdh_rules defaults;
	const struct as4_sbdh_rules *r = rules != NULL ? rules : &defaults;
	*out = NULL;
	struct as4_sbdh *sb = calloc(1, sizeof(*sb));
	if (sb == NULL || (sb->arena = as4_arena_new(0)) == NULL) {
		free(sb);
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	as4_err err = fill(sb, buf, len, r);
	if (err == AS4_E_NOMEM) {
		as4_sbdh_free(sb);
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	*out = sb;
	for (size_t i = 0; i < sb->n_problems; i++) {
		const struct as4_sbdh_problem *p = &sb->problems[i];
		if (!p->warning) {
			return as4_diag_set_field(d, p->err, p->field, "%s", p->text);
		}
	}
	if (sb->n_errors > 0) {
		/* only reachable when the problem list could not grow */
		return as4_diag_set(d, AS4_E_SBDH_INVALID, "SBDH envelope invalid");
	}
	return AS4_OK;
}

void as4_sbdh_free(struct as4_sbdh *sb)
{
	if (sb == NULL) {
		return;
	}
	free(sb->content);
	as4_arena_free(sb->arena);
	free(sb);
}

bool as4_sbdh_sniff(const uint8_t *buf, size_t len)
{
	static const char name[] = "StandardBusinessDocument";
	const size_t nl = sizeof(name) - 1;
	if (buf == NULL) {
		return false;
	}
	const uint8_t *p = buf;
	const uint8_t *end = buf + (len < 65536 ? len : 65536);
	if (end - p >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
		p += 3;
	}
	while (p < end) {
		if (is_space(*p)) {
			p++;
			continue;
		}
		if (*p != '<') {
			return false;
		}
		const uint8_t *skip = NULL;
		if (at(p, end, "<?")) {
			skip = find_seq(p + 2, end, "?>");
			skip = skip != NULL ? skip + 2 : NULL;
		} else if (at(p, end, "<!--")) {
			skip = find_seq(p + 4, end, "-->");
			skip = skip != NULL ? skip + 3 : NULL;
		} else {
			const uint8_t *q = p + 1;
			const uint8_t *start = q;
			while (q < end && !is_space(*q) && *q != '>' && *q != '/') {
				q++;
			}
			const uint8_t *colon = memchr(start, ':', (size_t)(q - start));
			const uint8_t *local = colon != NULL ? colon + 1 : start;
			return (size_t)(q - local) == nl && memcmp(local, name, nl) == 0;
		}
		if (skip == NULL) {
			return false;
		}
		p = skip;
	}
	return false;
}

/* ---- Routing ------------------------------------------------------------------------------- */

void as4_sbdh_route_cleanup(struct as4_sbdh_route *r)
{
	if (r == NULL) {
		return;
	}
	free(r->service);
	free(r->service_type);
	free(r->action);
	r->service = r->service_type = r->action = NULL;
}

as4_err as4_sbdh_route(const struct as4_sbdh_network *net, const char *document_id,
                       const char *process_id, struct as4_sbdh_route *out, struct as4_diag *d)
{
	memset(out, 0, sizeof(*out));
	if (document_id == NULL || document_id[0] == '\0') {
		return as4_diag_set_field(d, AS4_E_INVAL, "DOCUMENTID",
		                          "no document identifier to route by");
	}
	if (process_id == NULL || process_id[0] == '\0') {
		return as4_diag_set_field(d, AS4_E_INVAL, "PROCESSID",
		                          "no process identifier to route by");
	}
	enum as4_sbdh_routing how = net != NULL ? net->routing : AS4_SBDH_ROUTING_PEPPOL;
	const char *ds =
	        net != NULL && net->document_scheme ? net->document_scheme : "busdox-docid-qns";
	const char *ps =
	        net != NULL && net->process_scheme ? net->process_scheme : "cenbii-procid-ubl";
	out->service = as4_str_dup(process_id);
	if (how == AS4_SBDH_ROUTING_PLAIN) {
		out->action = as4_str_dup(document_id);
	} else {
		/* Peppol AS4 profile §2.2.5: Action = "<scheme>::<document type value>" */
		size_t n = strlen(ds) + strlen(document_id) + 3;
		out->action = malloc(n);
		if (out->action != NULL) {
			snprintf(out->action, n, "%s::%s", ds, document_id);
		}
		out->service_type = as4_str_dup(ps);
	}
	if (out->service == NULL || out->action == NULL ||
	    (how != AS4_SBDH_ROUTING_PLAIN && out->service_type == NULL)) {
		as4_sbdh_route_cleanup(out);
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	return AS4_OK;
}
