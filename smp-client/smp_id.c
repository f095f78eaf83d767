/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Identifiers, their case rules and length limits, the DNS names derived from them and the SMP
 * URLs that carry them. Sources: Peppol Policy for use of Identifiers (PFUOI) 4.x, OASIS SMP
 * 1.0/2.0, eDelivery BDXL, RFC 3986, RFC 4648; summarised in ../shared/SMP-NOTES.md §1-§2.
 */
#include "as4/smp.h"

#include <string.h>

#include <openssl/evp.h>

#include "as4/buf.h"
#include "as4/str.h"
#include "smp_int.h"

/* PFUOI 4.4.0: participant identifier values up to 130 characters ("raised from 50"). */
#define PEPPOL_PARTICIPANT_MAX 130
/* PFUOI 4.x: document type identifier values up to 500 characters. */
#define PEPPOL_DOCTYPE_MAX 500
/* PFUOI 4.x: process identifier values up to 200 characters. */
#define PEPPOL_PROCESS_MAX 200

static const char *kind_name(enum as4_smp_id_kind kind)
{
	switch (kind) {
	case AS4_SMP_ID_PARTICIPANT:
		return "participant identifier";
	case AS4_SMP_ID_DOCUMENT:
		return "document type identifier";
	case AS4_SMP_ID_PROCESS:
		return "process identifier";
	}
	return "identifier";
}

bool as4_smp_gln_valid(const char *s)
{
	/* GS1 General Specifications §7.9.1: weights 3,1,3,... from the digit left of the check
	 * digit; the check digit brings the sum to a multiple of 10. */
	if (s == NULL || strlen(s) != 13) {
		return false;
	}
	unsigned sum = 0;
	for (size_t i = 0; i < 13; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
	}
	for (size_t i = 0; i < 12; i++) {
		unsigned digit = (unsigned)(s[11 - i] - '0');
		sum += (i % 2 == 0) ? 3 * digit : digit;
	}
	unsigned check = (10 - sum % 10) % 10;
	return check == (unsigned)(s[12] - '0');
}

/* Well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t extra;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			extra = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			extra = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			extra = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i <= extra) {
			return false;
		}
		for (size_t k = 1; k <= extra; k++) {
			if ((s[i + k] & 0xc0) != 0x80) {
				return false;
			}
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((extra == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (extra == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
			return false;
		}
		i += extra + 1;
	}
	return true;
}

static bool has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			return true;
		}
	}
	return false;
}

static bool is_ebcore(const char *scheme)
{
	return as4_str_nieq(scheme, AS4_SMP_EBCORE_PREFIX, strlen(AS4_SMP_EBCORE_PREFIX));
}

/* Length, character and per-scheme checks of an identifier already split and trimmed. */
static as4_err check_id(const struct as4_smp_id *id, enum as4_smp_id_kind kind, struct as4_diag *d)
{
	const char *what = kind_name(kind);
	size_t sn = strlen(id->scheme);
	size_t vn = strlen(id->value);
	if (sn == 0) {
		return as4_diag_set(d, AS4_E_INVAL,
		                    "%s '%.80s' has no scheme (expected scheme::value)", what,
		                    id->value);
	}
	if (vn == 0) {
		return as4_diag_set(d, AS4_E_INVAL, "%s with scheme '%.80s' has an empty value",
		                    what, id->scheme);
	}
	if (has_control(id->scheme, sn) || has_control(id->value, vn)) {
		return as4_diag_set(d, AS4_E_INVAL, "%s contains control characters", what);
	}
	if (!utf8_valid((const unsigned char *)id->scheme, sn) ||
	    !utf8_valid((const unsigned char *)id->value, vn)) {
		return as4_diag_set(d, AS4_E_INVAL, "%s is not valid UTF-8", what);
	}
	if (kind == AS4_SMP_ID_PARTICIPANT &&
	    as4_str_ieq(id->scheme, AS4_SMP_PEPPOL_PARTICIPANT_SCHEME)) {
		if (vn > PEPPOL_PARTICIPANT_MAX) {
			return as4_diag_set(
			        d, AS4_E_INVAL,
			        "participant identifier value has %zu characters; Peppol "
			        "allows at most %d (PFUOI 4.4)",
			        vn, PEPPOL_PARTICIPANT_MAX);
		}
		/* PFUOI: "<ICD>:<identifier>" with a 4-digit ISO 6523 ICD */
		bool icd = vn > 5 && id->value[4] == ':';
		for (size_t i = 0; icd && i < 4; i++) {
			icd = id->value[i] >= '0' && id->value[i] <= '9';
		}
		if (!icd) {
			return as4_diag_set(
			        d, AS4_E_INVAL,
			        "participant identifier '%.80s' is not '<4-digit ICD>:<id>' "
			        "as %s requires",
			        id->value, AS4_SMP_PEPPOL_PARTICIPANT_SCHEME);
		}
		for (size_t i = 5; i < vn; i++) {
			unsigned char c = (unsigned char)id->value[i];
			if (c <= 0x20 || c >= 0x7f) {
				return as4_diag_set(
				        d, AS4_E_INVAL,
				        "participant identifier '%.80s' may only hold printable "
				        "ASCII characters without spaces",
				        id->value);
			}
		}
		if (memcmp(id->value, "0088:", 5) == 0 && !as4_smp_gln_valid(id->value + 5)) {
			return as4_diag_set(
			        d, AS4_E_GLN,
			        "participant '%.80s': ICD 0088 needs a GLN of 13 digits with "
			        "a valid GS1 check digit",
			        id->value);
		}
	}
	if (kind == AS4_SMP_ID_PARTICIPANT &&
	    as4_str_ieq(id->scheme, AS4_SMP_EBCORE_PREFIX "iso6523:0088") &&
	    !as4_smp_gln_valid(id->value)) {
		return as4_diag_set(
		        d, AS4_E_GLN,
		        "participant '%.80s': ebCore iso6523:0088 needs a GLN of 13 digits "
		        "with a valid GS1 check digit",
		        id->value);
	}
	if (kind == AS4_SMP_ID_DOCUMENT && vn > PEPPOL_DOCTYPE_MAX &&
	    (strcmp(id->scheme, AS4_SMP_PEPPOL_DOCTYPE_SCHEME) == 0 ||
	     strcmp(id->scheme, "peppol-doctype-wildcard") == 0)) {
		return as4_diag_set(d, AS4_E_INVAL,
		                    "document type identifier value has %zu characters; Peppol "
		                    "allows at most %d",
		                    vn, PEPPOL_DOCTYPE_MAX);
	}
	if (kind == AS4_SMP_ID_PROCESS && vn > PEPPOL_PROCESS_MAX &&
	    strcmp(id->scheme, AS4_SMP_PEPPOL_PROCESS_SCHEME) == 0) {
		return as4_diag_set(d, AS4_E_INVAL,
		                    "process identifier value has %zu characters; Peppol allows at "
		                    "most %d",
		                    vn, PEPPOL_PROCESS_MAX);
	}
	return AS4_OK;
}

/* Copy n bytes at p, trimmed, into dst (capacity cap) or fail with a length diagnostic. */
static as4_err put_part(char *dst, size_t cap, const char *p, size_t n, const char *what,
                        const char *part, struct as4_diag *d)
{
	as4_str_trim(&p, &n);
	if (n >= cap) {
		return as4_diag_set(d, AS4_E_INVAL, "%s %s is %zu bytes long; at most %zu allowed",
		                    what, part, n, cap - 1);
	}
	if (memchr(p, '\0', n) != NULL) {
		return as4_diag_set(d, AS4_E_INVAL, "%s %s contains a NUL byte", what, part);
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
	return AS4_OK;
}

/*
 * An ebCore party id with single colons: prefix, catalog, scheme code, then the value
 * (eDelivery ebCore Party Id 2.0). The scheme is everything up to the code.
 */
static as4_err split_ebcore(const char *text, size_t n, struct as4_smp_id *out, const char *what,
                            struct as4_diag *d)
{
	size_t pre = strlen(AS4_SMP_EBCORE_PREFIX);
	const char *rest = text + pre;
	size_t rn = n - pre;
	const char *c1 = memchr(rest, ':', rn);
	const char *c2 = c1 != NULL ? memchr(c1 + 1, ':', rn - (size_t)(c1 + 1 - rest)) : NULL;
	if (c1 == NULL || c2 == NULL || c1 == rest || c2 == c1 + 1) {
		return as4_diag_set(
		        d, AS4_E_INVAL,
		        "%s '%.100s' is an ebCore party id without catalog, scheme code "
		        "and value",
		        what, text);
	}
	as4_err err = put_part(out->scheme, sizeof(out->scheme), text, (size_t)(c2 - text), what,
	                       "scheme", d);
	if (err != AS4_OK) {
		return err;
	}
	return put_part(out->value, sizeof(out->value), c2 + 1, n - (size_t)(c2 + 1 - text), what,
	                "value", d);
}

as4_err as4_smp_id_parse(const char *text, enum as4_smp_id_kind kind, struct as4_smp_id *out,
                         struct as4_diag *d)
{
	const char *what = kind_name(kind);
	memset(out, 0, sizeof(*out));
	const char *s = text;
	size_t n = strlen(text);
	as4_str_trim(&s, &n);
	if (n > AS4_SMP_ID_TEXT_MAX) {
		return as4_diag_set(d, AS4_E_INVAL, "%s is %zu bytes long; at most %d allowed",
		                    what, n, AS4_SMP_ID_TEXT_MAX);
	}
	const char *sep = NULL;
	for (size_t i = 0; i + 1 < n; i++) {
		if (s[i] == ':' && s[i + 1] == ':') {
			sep = s + i;
			break;
		}
	}
	as4_err err;
	if (sep == NULL) {
		if (kind == AS4_SMP_ID_PARTICIPANT && n > strlen(AS4_SMP_EBCORE_PREFIX) &&
		    as4_str_nieq(s, AS4_SMP_EBCORE_PREFIX, strlen(AS4_SMP_EBCORE_PREFIX))) {
			err = split_ebcore(s, n, out, what, d);
			return err != AS4_OK ? err : check_id(out, kind, d);
		}
		return as4_diag_set(d, AS4_E_INVAL, "%s '%.100s' is not in the form scheme::value",
		                    what, text);
	}
	size_t vn = n - (size_t)(sep + 2 - s);
	const char *v = sep + 2;
	as4_str_trim(&v, &vn);
	if (sep == s && kind == AS4_SMP_ID_PARTICIPANT && vn > strlen(AS4_SMP_EBCORE_PREFIX) &&
	    as4_str_nieq(v, AS4_SMP_EBCORE_PREFIX, strlen(AS4_SMP_EBCORE_PREFIX))) {
		/* DomiSMP also writes "::urn:oasis:names:tc:ebcore:partyid-type:..." */
		err = split_ebcore(v, vn, out, what, d);
		return err != AS4_OK ? err : check_id(out, kind, d);
	}
	err = put_part(out->scheme, sizeof(out->scheme), s, (size_t)(sep - s), what, "scheme", d);
	if (err == AS4_OK) {
		err = put_part(out->value, sizeof(out->value), v, vn, what, "value", d);
	}
	return err != AS4_OK ? err : check_id(out, kind, d);
}

as4_err as4_smp_id_set(const char *scheme, const char *value, enum as4_smp_id_kind kind,
                       struct as4_smp_id *out, struct as4_diag *d)
{
	const char *what = kind_name(kind);
	memset(out, 0, sizeof(*out));
	as4_err err = put_part(out->scheme, sizeof(out->scheme), scheme, strlen(scheme), what,
	                       "scheme", d);
	if (err == AS4_OK) {
		err = put_part(out->value, sizeof(out->value), value, strlen(value), what, "value",
		               d);
	}
	return err != AS4_OK ? err : check_id(out, kind, d);
}

as4_err as4_smp_id_format(const struct as4_smp_id *id, char *out, size_t cap)
{
	return as4_str_fmt(out, cap, "%s::%s", id->scheme, id->value);
}

/* Whether the value (and scheme) of an identifier of this kind compare case-insensitively. */
static void case_rules(enum as4_smp_proto dialect, enum as4_smp_id_kind kind,
                       const struct as4_smp_id *id, bool *scheme_ci, bool *value_ci)
{
	*scheme_ci = false;
	*value_ci = false;
	switch (dialect) {
	case AS4_SMP_PROTO_PEPPOL:
		/* PFUOI POLICY 2: only participant values of iso6523-actorid-upis are
		 * case-insensitive; schemes, document types and processes are case-sensitive */
		*value_ci = kind == AS4_SMP_ID_PARTICIPANT &&
		            strcmp(id->scheme, AS4_SMP_PEPPOL_PARTICIPANT_SCHEME) == 0;
		break;
	case AS4_SMP_PROTO_OASIS1:
		/* OASIS SMP 1.0 §2.3: participant and document identifiers are case-insensitive */
		*scheme_ci = kind != AS4_SMP_ID_PROCESS;
		*value_ci = kind != AS4_SMP_ID_PROCESS;
		break;
	case AS4_SMP_PROTO_OASIS2:
		*scheme_ci = kind == AS4_SMP_ID_PARTICIPANT;
		*value_ci = kind == AS4_SMP_ID_PARTICIPANT;
		break;
	}
}

bool as4_smp_id_equal(enum as4_smp_proto dialect, enum as4_smp_id_kind kind,
                      const struct as4_smp_id *a, const struct as4_smp_id *b)
{
	bool scheme_ci, value_ci;
	case_rules(dialect, kind, a, &scheme_ci, &value_ci);
	bool scheme_eq =
	        scheme_ci ? as4_str_ieq(a->scheme, b->scheme) : strcmp(a->scheme, b->scheme) == 0;
	bool value_eq =
	        value_ci ? as4_str_ieq(a->value, b->value) : strcmp(a->value, b->value) == 0;
	return scheme_eq && value_eq;
}

as4_err as4_smp_id_key(enum as4_smp_proto dialect, enum as4_smp_id_kind kind,
                       const struct as4_smp_id *id, char *out, size_t cap)
{
	bool scheme_ci, value_ci;
	case_rules(dialect, kind, id, &scheme_ci, &value_ci);
	as4_err err = as4_smp_id_format(id, out, cap);
	if (err != AS4_OK) {
		return err;
	}
	size_t sn = strlen(id->scheme);
	if (scheme_ci) {
		out[sn] = '\0';
		as4_str_lower(out);
		out[sn] = ':';
	}
	if (value_ci) {
		as4_str_lower(out + sn + 2);
	}
	return AS4_OK;
}

/* ---- DNS names ------------------------------------------------------------------------- */

/* RFC 4648 §6 base32 of n bytes, lower case, without padding, into out. */
static void base32_lower(const uint8_t *p, size_t n, char *out)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = alphabet[(acc >> bits) & 31];
		}
	}
	if (bits > 0) {
		out[o++] = alphabet[(acc << (5 - bits)) & 31];
	}
	out[o] = '\0';
}

static as4_err digest(const EVP_MD *md, const char *s, uint8_t *out, unsigned *out_len,
                      struct as4_diag *d)
{
	if (EVP_Digest(s, strlen(s), out, out_len, md, NULL) != 1) {
		return as4_diag_set(d, AS4_E_CRYPTO, "%s digest failed", EVP_MD_get0_name(md));
	}
	return AS4_OK;
}

/* A label or dotted name of letters, digits, "-" and "_", labels of 1..63 (RFC 1035 §2.3.4). */
static bool dns_name_ok(const char *s, size_t n)
{
	size_t label = 0;
	if (n == 0) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0) {
				return false;
			}
			label = 0;
			continue;
		}
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '-' || c == '_';
		if (!ok || ++label > 63) {
			return false;
		}
	}
	return label > 0;
}

as4_err as4_smp_dns_name(const struct as4_smp_network *net, const struct as4_smp_id *participant,
                         char *out, size_t cap, struct as4_diag *d)
{
	if (net->dns_mode == AS4_SMP_DNS_NONE) {
		return as4_diag_set(d, AS4_E_INVAL,
		                    "network has no DNS discovery (static SMP URL)");
	}
	const char *zone = net->zone != NULL ? net->zone : "";
	size_t zn = strlen(zone);
	if (zn > 0 && zone[zn - 1] == '.') {
		zn--;
	}
	if (!dns_name_ok(zone, zn) || zn > AS4_SMP_DNS_NAME_MAX) {
		return as4_diag_set(d, AS4_E_INVAL, "SML/BDXL zone '%.100s' is not a DNS name",
		                    zone);
	}
	char scheme[AS4_SMP_SCHEME_MAX + 1];
	if (as4_str_copy(scheme, sizeof(scheme), participant->scheme) != AS4_OK) {
		return as4_diag_set(d, AS4_E_INVAL, "participant scheme too long");
	}
	as4_str_lower(scheme);
	char value[AS4_SMP_VALUE_MAX + 1];
	if (as4_str_copy(value, sizeof(value), participant->value) != AS4_OK) {
		return as4_diag_set(d, AS4_E_INVAL, "participant value too long");
	}
	/* PFUOI POLICY 7: lower-case with US-ASCII rules only, never the user's locale */
	as4_str_lower(value);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	char label[128];
	as4_err err;
	bool scheme_label = true;
	switch (net->dns_mode) {
	case AS4_SMP_DNS_PEPPOL:
		err = digest(EVP_sha256(), value, md, &md_len, d);
		if (err != AS4_OK) {
			return err;
		}
		base32_lower(md, md_len, label);
		break;
	case AS4_SMP_DNS_BDXL: {
		char id[AS4_SMP_ID_TEXT_MAX + 1];
		/* eDelivery BDXL: an ebCore id is hashed in its URN form "scheme:value" */
		const char *sep = is_ebcore(participant->scheme) ? ":" : "::";
		if (as4_str_fmt(id, sizeof(id), "%s%s%s", participant->scheme, sep,
		                participant->value) != AS4_OK) {
			return as4_diag_set(d, AS4_E_INVAL, "participant identifier too long");
		}
		if (net->dns_lowercase) {
			as4_str_lower(id);
		}
		err = digest(EVP_sha256(), id, md, &md_len, d);
		if (err != AS4_OK) {
			return err;
		}
		base32_lower(md, md_len, label);
		scheme_label = false;
		break;
	}
	case AS4_SMP_DNS_PEPPOL_LEGACY: {
		/* PFUOI 4.0 POLICY 7 (retired): "B-" + hex(MD5(lower(value))) */
		err = digest(EVP_md5(), value, md, &md_len, d);
		if (err != AS4_OK) {
			return err;
		}
		label[0] = 'B';
		label[1] = '-';
		as4_hex_encode(md, md_len, label + 2);
		break;
	}
	case AS4_SMP_DNS_NONE:
	default:
		return as4_diag_set(d, AS4_E_INVAL, "unknown DNS mode %d", (int)net->dns_mode);
	}
	if (scheme_label && !dns_name_ok(scheme, strlen(scheme))) {
		return as4_diag_set(
		        d, AS4_E_INVAL,
		        "participant scheme '%.80s' cannot be a DNS label (letters, digits, "
		        "'-', at most 63)",
		        participant->scheme);
	}
	char name[AS4_SMP_DNS_NAME_MAX + 64];
	as4_err ferr = scheme_label
	                       ? as4_str_fmt(name, sizeof(name), "%s.%s.%.*s", label, scheme,
	                                     (int)zn, zone)
	                       : as4_str_fmt(name, sizeof(name), "%s.%.*s", label, (int)zn, zone);
	if (ferr != AS4_OK || strlen(name) > AS4_SMP_DNS_NAME_MAX) {
		return as4_diag_set(d, AS4_E_INVAL,
		                    "DNS name for the participant is longer than %d",
		                    AS4_SMP_DNS_NAME_MAX);
	}
	as4_str_lower(name);
	if (net->dns_mode == AS4_SMP_DNS_PEPPOL_LEGACY) {
		name[0] = 'B';
	}
	if (as4_str_copy(out, cap, name) != AS4_OK) {
		return as4_diag_set(d, AS4_E_LIMIT, "output buffer too small for the DNS name");
	}
	return AS4_OK;
}

/* ---- URLs ----------------------------------------------------------------------------- */

as4_err as4_smp_pct_encode(struct as4_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		unsigned char c = *p;
		/* RFC 3986 §2.3 unreserved characters stay; everything else is encoded, once */
		bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		                  (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		                  c == '~';
		as4_err err;
		if (unreserved) {
			err = as4_buf_putc(b, c);
		} else {
			char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
			err = as4_buf_append(b, enc, 3);
		}
		if (err != AS4_OK) {
			return err;
		}
	}
	return AS4_OK;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Host (reg-name or IPv4, or [IPv6]) and optional port of an authority of n bytes. */
static bool authority_ok(const char *a, size_t n)
{
	size_t host_end = n;
	if (n == 0) {
		return false;
	}
	if (a[0] == '[') {
		const char *close = memchr(a, ']', n);
		if (close == NULL || close == a + 1) {
			return false;
		}
		for (const char *p = a + 1; p < close; p++) {
			if (!is_hex(*p) && *p != ':' && *p != '.') {
				return false;
			}
		}
		host_end = (size_t)(close + 1 - a);
		if (host_end != n && a[host_end] != ':') {
			return false;
		}
	} else {
		const char *colon = memchr(a, ':', n);
		if (colon != NULL) {
			host_end = (size_t)(colon - a);
		}
		if (host_end == 0) {
			return false;
		}
		for (size_t i = 0; i < host_end; i++) {
			char c = a[i];
			bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
			if (!ok) {
				return false;
			}
		}
	}
	if (host_end < n) {
		/* ":" port, 1..65535 */
		size_t pn = n - host_end - 1;
		if (pn == 0 || pn > 5) {
			return false;
		}
		unsigned port = 0;
		for (size_t i = host_end + 1; i < n; i++) {
			if (a[i] < '0' || a[i] > '9') {
				return false;
			}
			port = port * 10 + (unsigned)(a[i] - '0');
		}
		if (port == 0 || port > 65535) {
			return false;
		}
	}
	return true;
}

as4_err as4_smp_url_check(const char *url, bool allow_http, bool allow_query, const char *what,
                          struct as4_diag *d)
{
	size_t n = strlen(url);
	if (n > 2048) {
		return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                    "%s is %zu bytes long (at most 2048)", what, n);
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '#' || (c == '?' && !allow_query)) {
			return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
			                    "%s '%.200s' contains a character not allowed there "
			                    "(position %zu)",
			                    what, url, i);
		}
		if (c == '%' && (i + 2 >= n || !is_hex(url[i + 1]) || !is_hex(url[i + 2]))) {
			return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
			                    "%s '%.200s' has a '%%' not followed by two hex digits",
			                    what, url);
		}
	}
	size_t skip;
	if (as4_str_nieq(url, "https://", 8)) {
		skip = 8;
	} else if (as4_str_nieq(url, "http://", 7)) {
		if (!allow_http) {
			return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
			                    "%s '%.200s' is not https, which this network requires",
			                    what, url);
		}
		skip = 7;
	} else {
		return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                    "%s '%.200s' is not an absolute http(s) URL", what, url);
	}
	const char *auth = url + skip;
	size_t an = strcspn(auth, "/?");
	if (memchr(auth, '@', an) != NULL || !authority_ok(auth, an)) {
		return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                    "%s '%.200s' has no valid host[:port] (user information is not "
		                    "allowed)",
		                    what, url);
	}
	return AS4_OK;
}

as4_err as4_smp_url(enum as4_smp_proto dialect, const char *base,
                    const struct as4_smp_id *participant, const struct as4_smp_id *document,
                    char **out, struct as4_diag *d)
{
	*out = NULL;
	struct as4_diag tmp;
	as4_diag_init(&tmp);
	if (as4_smp_url_check(base, true, false, "SMP base URL", &tmp) != AS4_OK) {
		return as4_diag_set(d, AS4_E_INVAL, "%s", as4_diag_text(&tmp));
	}
	size_t bn = strlen(base);
	while (bn > 0 && base[bn - 1] == '/') {
		bn--;
	}
	char pid[AS4_SMP_ID_TEXT_MAX + 1];
	char did[AS4_SMP_ID_TEXT_MAX + 1];
	struct as4_buf b;
	as4_buf_init(&b, 16 * 1024);
	as4_err err = as4_smp_id_format(participant, pid, sizeof(pid));
	if (err == AS4_OK && document != NULL) {
		err = as4_smp_id_format(document, did, sizeof(did));
	}
	/* exactly one "/" between base and path, whatever the base ended with */
	if (err == AS4_OK) {
		err = as4_buf_append(&b, base, bn);
	}
	if (err == AS4_OK) {
		err = as4_buf_puts(&b, dialect == AS4_SMP_PROTO_OASIS2 ? "/bdxr-smp-2/" : "/");
	}
	if (err == AS4_OK) {
		err = as4_smp_pct_encode(&b, pid);
	}
	if (err == AS4_OK && document != NULL) {
		err = as4_buf_puts(&b, "/services/");
		if (err == AS4_OK) {
			err = as4_smp_pct_encode(&b, did);
		}
	}
	if (err != AS4_OK) {
		as4_buf_cleanup(&b);
		return as4_diag_set(d, err == AS4_E_LIMIT ? AS4_E_INVAL : err,
		                    "cannot build the SMP URL (%s)", as4_strerror(err));
	}
	*out = as4_buf_take_str(&b);
	if (*out == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory building the SMP URL");
	}
	return AS4_OK;
}
