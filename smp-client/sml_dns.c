/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The only parser of DNS answers in the code base (STYLE rule 11; fuzzed by
 * test/fuzz/fuzz_naptr.c). Input is the raw response message a resolver returned; nothing in
 * it is trusted: every offset and length is checked against the message, compression pointers
 * must point backwards (so they cannot loop), chains are bounded.
 * RFC 1035 §4.1 (message format), RFC 3403 §4.1 (NAPTR RDATA), RFC 6672 (DNAME),
 * RFC 3402 §3.2 (the regexp field), RFC 4848 (U-NAPTR).
 */
#include <regex.h>
#include <string.h>

#include "as4/str.h"
#include "smp_int.h"

#define T_A     1
#define T_CNAME 5
#define T_NAPTR 35
#define T_DNAME 39
#define C_IN    1

/* Answer records looked at before giving up (a normal answer has a handful). */
#define MAX_RECORDS 512

struct wire_name {
	uint8_t b[256]; /* uncompressed wire form, ending with the root label */
	size_t len;     /* bytes used, including the final 0 */
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/*
 * Read a possibly compressed name at *off (RFC 1035 §4.1.4) into out; *off moves past the name
 * as it appears in place. Pointers must point strictly before the position they are read from.
 */
static bool read_name(const uint8_t *msg, size_t len, size_t *off, struct wire_name *out)
{
	size_t pos = *off;
	size_t end = 0;
	bool jumped = false;
	out->len = 0;
	for (int hops = 0; hops < 128; hops++) {
		if (pos >= len) {
			return false;
		}
		uint8_t c = msg[pos];
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= len) {
				return false;
			}
			size_t target = ((size_t)(c & 0x3f) << 8) | msg[pos + 1];
			if (target >= pos) {
				return false;
			}
			if (!jumped) {
				end = pos + 2;
				jumped = true;
			}
			pos = target;
			continue;
		}
		if ((c & 0xc0) != 0) {
			return false; /* 0x40 / 0x80: extended label types, not used */
		}
		if (c == 0) {
			if (out->len + 1 > sizeof(out->b)) {
				return false;
			}
			out->b[out->len++] = 0;
			*off = jumped ? end : pos + 1;
			return true;
		}
		if (pos + 1 + c > len || out->len + 1 + c + 1 > sizeof(out->b)) {
			return false;
		}
		memcpy(out->b + out->len, msg + pos, (size_t)c + 1);
		out->len += (size_t)c + 1;
		pos += (size_t)c + 1;
	}
	return false;
}

/* Case-insensitive equality of wire names (length bytes are < 64, never ASCII letters). */
static bool name_eq(const struct wire_name *a, const struct wire_name *b)
{
	return a->len == b->len && as4_str_nieq((const char *)a->b, (const char *)b->b, a->len);
}

/* Presentation form of a wire name ("." for the root), escaping odd bytes as \DDD. */
static void name_text(const struct wire_name *n, char *out, size_t cap)
{
	size_t o = 0;
	size_t i = 0;
	if (n->len <= 1) {
		if (cap > 1) {
			out[0] = '.';
			out[1] = '\0';
		}
		return;
	}
	while (i < n->len && n->b[i] != 0) {
		uint8_t l = n->b[i++];
		if (o > 0 && o + 1 < cap) {
			out[o++] = '.';
		}
		for (uint8_t k = 0; k < l && i < n->len; k++, i++) {
			unsigned char c = n->b[i];
			bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			             (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*';
			if (plain && o + 1 < cap) {
				out[o++] = (char)c;
			} else if (!plain && o + 4 < cap) {
				out[o++] = '\\';
				out[o++] = (char)('0' + c / 100);
				out[o++] = (char)('0' + c / 10 % 10);
				out[o++] = (char)('0' + c % 10);
			}
		}
	}
	out[o < cap ? o : cap - 1] = '\0';
}

as4_err as4_smp_dns_wire(const char *name, uint8_t wire[256], size_t *len)
{
	size_t n = strlen(name);
	if (n > 0 && name[n - 1] == '.') {
		n--;
	}
	if (n == 0 || n > AS4_SMP_DNS_NAME_MAX) {
		return AS4_E_INVAL;
	}
	size_t o = 0;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || name[i] == '.') {
			size_t l = i - start;
			if (l == 0 || l > 63) {
				return AS4_E_INVAL;
			}
			wire[o++] = (uint8_t)l;
			memcpy(wire + o, name + start, l);
			o += l;
			start = i + 1;
		}
	}
	wire[o++] = 0;
	*len = o;
	return AS4_OK;
}

/* One resource record header as it sits in the message. */
struct rr {
	struct wire_name owner;
	uint16_t type;
	uint16_t klass;
	uint32_t ttl;
	size_t rdata; /* offset of RDATA */
	uint16_t rdlen;
};

static bool read_rr(const uint8_t *msg, size_t len, size_t *off, struct rr *r)
{
	if (!read_name(msg, len, off, &r->owner) || *off + 10 > len) {
		return false;
	}
	const uint8_t *p = msg + *off;
	r->type = get16(p);
	r->klass = get16(p + 2);
	/* RFC 2181 §8: a TTL with the top bit set is treated as zero */
	r->ttl = get32(p + 4);
	if (r->ttl > 0x7fffffffu) {
		r->ttl = 0;
	}
	r->rdlen = get16(p + 8);
	r->rdata = *off + 10;
	if (r->rdata + r->rdlen > len) {
		return false;
	}
	*off = r->rdata + r->rdlen;
	return true;
}

/* A <character-string> (RFC 1035 §3.3) at *off within [*off, end) into out (cap >= 256). */
static bool read_cstr(const uint8_t *msg, size_t end, size_t *off, char *out)
{
	if (*off >= end) {
		return false;
	}
	size_t l = msg[*off];
	if (*off + 1 + l > end) {
		return false;
	}
	memcpy(out, msg + *off + 1, l);
	out[l] = '\0';
	if (memchr(out, '\0', l) != NULL) {
		return false; /* a NUL inside would silently shorten the field */
	}
	*off += 1 + l;
	return true;
}

/* True when suffix is a whole-label suffix of name; *prefix_len = bytes before it. */
static bool label_suffix(const struct wire_name *name, const struct wire_name *suffix,
                         size_t *prefix_len)
{
	size_t i = 0;
	while (i < name->len) {
		if (name->len - i == suffix->len &&
		    as4_str_nieq((const char *)name->b + i, (const char *)suffix->b, suffix->len)) {
			*prefix_len = i;
			return i > 0; /* RFC 6672: DNAME redirects names below its owner only */
		}
		if (name->b[i] == 0) {
			break;
		}
		i += (size_t)name->b[i] + 1;
	}
	return false;
}

static void chain_note(struct as4_smp_dns_answer *out, const struct wire_name *from,
                       const char *type, const struct wire_name *to)
{
	char a[1024];
	char b[1024];
	name_text(from, a, sizeof(a));
	name_text(to, b, sizeof(b));
	size_t used = strlen(out->chain);
	if (as4_str_fmt(out->chain + used, sizeof(out->chain) - used, "%s%s %s %s",
	                used > 0 ? ", " : "", a, type, b) != AS4_OK) {
		/* the chain text is for the trace only; a cut one is still useful */
	}
}

as4_err as4_smp_dns_parse(const uint8_t *msg, size_t len, const char *qname, uint16_t qtype,
                          struct as4_smp_dns_answer *out, struct as4_diag *d)
{
	memset(out, 0, sizeof(*out));
	out->chain_ttl = UINT32_MAX;
	out->a_ttl = UINT32_MAX;
	struct wire_name want;
	if (as4_smp_dns_wire(qname, want.b, &want.len) != AS4_OK) {
		return as4_diag_set(d, AS4_E_INVAL, "'%.100s' is not a DNS name", qname);
	}
	if (len < 12) {
		return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                    "DNS answer for %s is %zu bytes, shorter than a header", qname,
		                    len);
	}
	uint16_t flags = get16(msg + 2);
	unsigned rcode = flags & 0x0f;
	unsigned opcode = (flags >> 11) & 0x0f;
	if ((flags & 0x8000) == 0 || opcode != 0) {
		return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                    "DNS message for %s is not a response to a standard query",
		                    qname);
	}
	if (rcode == 3) {
		return as4_diag_set(d, AS4_E_SMP_NOT_REGISTERED,
		                    "DNS name %s does not exist (NXDOMAIN)", qname);
	}
	if (rcode != 0) {
		return as4_diag_set(d, AS4_E_SMP_UNAVAILABLE, "DNS server answered RCODE %u for %s",
		                    rcode, qname);
	}
	if (flags & 0x0200) {
		return as4_diag_set(d, AS4_E_SMP_UNAVAILABLE,
		                    "DNS answer for %s is truncated (TC) and no TCP answer came",
		                    qname);
	}
	uint16_t qd = get16(msg + 4);
	uint16_t an = get16(msg + 6);
	size_t off = 12;
	if (qd > 1) {
		return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE, "DNS answer for %s has %u questions",
		                    qname, qd);
	}
	if (qd == 1) {
		struct wire_name q;
		if (!read_name(msg, len, &off, &q) || off + 4 > len) {
			return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
			                    "DNS answer for %s has a malformed question", qname);
		}
		if (!name_eq(&q, &want) || get16(msg + off) != qtype ||
		    get16(msg + off + 2) != C_IN) {
			return as4_diag_set(
			        d, AS4_E_SMP_BAD_RESPONSE,
			        "DNS answer does not answer the question asked (%s type %u)", qname,
			        qtype);
		}
		off += 4;
	}
	if (an > MAX_RECORDS) {
		return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                    "DNS answer for %s has %u records (at most %d)", qname, an,
		                    MAX_RECORDS);
	}
	size_t answers = off;
	/* pass 1: syntax of every record, and the CNAME/DNAME chain from the query name */
	struct wire_name cur = want;
	for (size_t hop = 0;; hop++) {
		bool moved = false;
		size_t p = answers;
		for (uint16_t i = 0; i < an; i++) {
			struct rr r;
			if (!read_rr(msg, len, &p, &r)) {
				return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
				                    "DNS answer for %s: record %u is malformed",
				                    qname, i);
			}
			if (r.klass != C_IN || moved) {
				continue;
			}
			size_t rd = r.rdata;
			struct wire_name target;
			if (r.type == T_CNAME && name_eq(&r.owner, &cur)) {
				if (!read_name(msg, r.rdata + r.rdlen, &rd, &target) ||
				    rd != r.rdata + r.rdlen) {
					return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
					                    "DNS answer for %s: malformed CNAME",
					                    qname);
				}
				chain_note(out, &cur, "CNAME", &target);
				cur = target;
				moved = true;
			} else if (r.type == T_DNAME) {
				size_t prefix;
				if (!label_suffix(&cur, &r.owner, &prefix)) {
					continue;
				}
				if (!read_name(msg, r.rdata + r.rdlen, &rd, &target) ||
				    rd != r.rdata + r.rdlen) {
					return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
					                    "DNS answer for %s: malformed DNAME",
					                    qname);
				}
				if (prefix + target.len > sizeof(cur.b)) {
					return as4_diag_set(
					        d, AS4_E_SMP_BAD_RESPONSE,
					        "DNS answer for %s: DNAME gives a name longer "
					        "than 255 bytes",
					        qname);
				}
				struct wire_name next;
				memcpy(next.b, cur.b, prefix);
				memcpy(next.b + prefix, target.b, target.len);
				next.len = prefix + target.len;
				chain_note(out, &cur, "DNAME", &next);
				cur = next;
				moved = true;
			}
			if (moved && r.ttl < out->chain_ttl) {
				out->chain_ttl = r.ttl;
			}
		}
		if (!moved) {
			break;
		}
		out->n_chain++;
		if (hop + 1 >= AS4_SMP_CHAIN_MAX || name_eq(&cur, &want)) {
			return as4_diag_set(
			        d, AS4_E_SMP_BAD_RESPONSE,
			        "DNS answer for %s: CNAME/DNAME chain longer than %d or a loop",
			        qname, AS4_SMP_CHAIN_MAX);
		}
	}
	name_text(&cur, out->owner, sizeof(out->owner));
	/* pass 2: the records of the requested type owned by the chain's last name */
	size_t p = answers;
	for (uint16_t i = 0; i < an; i++) {
		struct rr r;
		if (!read_rr(msg, len, &p, &r)) {
			return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
			                    "DNS answer for %s: record %u is malformed", qname, i);
		}
		if (r.klass != C_IN || r.type != qtype || !name_eq(&r.owner, &cur)) {
			continue;
		}
		size_t end = r.rdata + r.rdlen;
		if (r.type == T_A) {
			if (r.rdlen != 4) {
				return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
				                    "DNS answer for %s: A record of %u bytes",
				                    qname, r.rdlen);
			}
			if (out->n_a < AS4_SMP_A_MAX) {
				memcpy(out->a[out->n_a++], msg + r.rdata, 4);
				if (r.ttl < out->a_ttl) {
					out->a_ttl = r.ttl;
				}
			}
			continue;
		}
		if (r.type != T_NAPTR) {
			continue;
		}
		if (out->n_naptr == AS4_SMP_NAPTR_MAX) {
			out->naptr_dropped = true;
			continue;
		}
		/* RFC 3403 §4.1: ORDER, PREFERENCE, FLAGS, SERVICES, REGEXP, REPLACEMENT */
		struct as4_smp_naptr *x = &out->naptr[out->n_naptr];
		size_t q = r.rdata;
		struct wire_name repl;
		if (r.rdlen < 4) {
			return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
			                    "DNS answer for %s: NAPTR record too short", qname);
		}
		x->order = get16(msg + q);
		x->preference = get16(msg + q + 2);
		q += 4;
		if (!read_cstr(msg, end, &q, x->flags) || !read_cstr(msg, end, &q, x->service) ||
		    !read_cstr(msg, end, &q, x->regexp) || !read_name(msg, end, &q, &repl) ||
		    q != end) {
			return as4_diag_set(
			        d, AS4_E_SMP_BAD_RESPONSE,
			        "DNS answer for %s: malformed NAPTR record (RFC 3403 §4.1)", qname);
		}
		name_text(&repl, x->replacement, sizeof(x->replacement));
		x->ttl = r.ttl;
		out->n_naptr++;
	}
	return AS4_OK;
}

size_t as4_smp_naptr_sorted(const struct as4_smp_dns_answer *a, size_t idx[AS4_SMP_NAPTR_MAX])
{
	size_t n = a->n_naptr < AS4_SMP_NAPTR_MAX ? a->n_naptr : AS4_SMP_NAPTR_MAX;
	for (size_t i = 0; i < n; i++) {
		idx[i] = i;
	}
	/* insertion sort: stable, and n is at most 32 */
	for (size_t i = 1; i < n; i++) {
		size_t v = idx[i];
		uint32_t key = ((uint32_t)a->naptr[v].order << 16) | a->naptr[v].preference;
		size_t j = i;
		while (j > 0) {
			size_t u = idx[j - 1];
			uint32_t k2 = ((uint32_t)a->naptr[u].order << 16) | a->naptr[u].preference;
			if (k2 <= key) {
				break;
			}
			idx[j] = u;
			j--;
		}
		idx[j] = v;
	}
	return n;
}

/*
 * Split "<d>ERE<d>repl<d>flags" (RFC 3402 §3.2). Inside ERE and repl, "\<d>" stands for the
 * delimiter itself; every other backslash sequence is kept for the next stage.
 */
static bool split_field(const char **p, char delim, char *out, size_t cap)
{
	size_t o = 0;
	const char *s = *p;
	while (*s != '\0' && *s != delim) {
		char c = *s;
		if (c == '\\' && s[1] == delim) {
			c = delim;
			s++;
		} else if (c == '\\' && s[1] != '\0') {
			if (o + 1 >= cap) {
				return false;
			}
			out[o++] = '\\';
			s++;
			c = *s;
		}
		if (o + 1 >= cap) {
			return false;
		}
		out[o++] = c;
		s++;
	}
	if (*s != delim) {
		return false;
	}
	out[o] = '\0';
	*p = s + 1;
	return true;
}

as4_err as4_smp_naptr_apply(const char *regexp, const char *aus, char *out, size_t cap,
                            struct as4_diag *d)
{
	char ere[256];
	char repl[256];
	char delim = regexp[0];
	/* RFC 3402 §3.2: delim-char is any non-digit, non-flag character other than backslash */
	if (delim == '\0' || (delim >= '0' && delim <= '9') || delim == 'i' || delim == '\\' ||
	    (unsigned char)delim < 0x21 || (unsigned char)delim > 0x7e) {
		return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                    "NAPTR regexp '%.100s' has no valid delimiter", regexp);
	}
	const char *p = regexp + 1;
	if (!split_field(&p, delim, ere, sizeof(ere)) ||
	    !split_field(&p, delim, repl, sizeof(repl))) {
		return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                    "NAPTR regexp '%.100s' is not <d>ERE<d>replacement<d>flags",
		                    regexp);
	}
	bool icase = false;
	if (strcmp(p, "i") == 0) {
		icase = true;
	} else if (*p != '\0') {
		return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                    "NAPTR regexp '%.100s' has unknown flags '%.20s'", regexp, p);
	}
	for (size_t i = 0; ere[i] != '\0'; i++) {
		/* interval expressions ("a{1,255}") nest into NFAs of millions of states */
		if (ere[i] == '{') {
			return as4_diag_set(
			        d, AS4_E_SMP_BAD_RESPONSE,
			        "NAPTR regexp '%.100s': interval expressions {m,n} are not "
			        "allowed in the pattern",
			        regexp);
		}
		if (ere[i] == '\\' && ere[i + 1] != '\0') {
			if (ere[i + 1] >= '1' && ere[i + 1] <= '9') {
				return as4_diag_set(
				        d, AS4_E_SMP_BAD_RESPONSE,
				        "NAPTR regexp '%.100s': back-references are not allowed "
				        "in the pattern",
				        regexp);
			}
			i++;
		}
	}
	regex_t re;
	int rc = regcomp(&re, ere, REG_EXTENDED | (icase ? REG_ICASE : 0));
	if (rc != 0) {
		return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                    "NAPTR regexp '%.100s': the pattern is not a POSIX ERE",
		                    regexp);
	}
	as4_err err = AS4_OK;
	regmatch_t m[10];
	rc = regexec(&re, aus, 10, m, 0);
	if (rc == REG_NOMATCH) {
		err = as4_diag_set(d, AS4_E_NOTFOUND, "NAPTR regexp '%.100s' does not match %.100s",
		                   regexp, aus);
		goto out;
	}
	if (rc != 0 || m[0].rm_so < 0) {
		err = as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                   "NAPTR regexp '%.100s' could not be applied", regexp);
		goto out;
	}
	/* the substitution replaces the matched part of the AUS, once */
	size_t o = 0;
	bool ok = true;
	size_t so = (size_t)m[0].rm_so;
	size_t eo = (size_t)m[0].rm_eo;
	for (size_t i = 0; i < so && ok; i++) {
		ok = o + 1 < cap;
		if (ok) {
			out[o++] = aus[i];
		}
	}
	for (size_t i = 0; repl[i] != '\0' && ok; i++) {
		char c = repl[i];
		if (c == '\\' && repl[i + 1] >= '1' && repl[i + 1] <= '9') {
			size_t g = (size_t)(repl[i + 1] - '0');
			i++;
			if (g > re.re_nsub) {
				err = as4_diag_set(
				        d, AS4_E_SMP_BAD_RESPONSE,
				        "NAPTR regexp '%.100s' refers to group %zu of %zu", regexp,
				        g, (size_t)re.re_nsub);
				goto out;
			}
			if (m[g].rm_so < 0) {
				continue; /* a group that took no part in the match is empty */
			}
			for (regoff_t k = m[g].rm_so; k < m[g].rm_eo && ok; k++) {
				ok = o + 1 < cap;
				if (ok) {
					out[o++] = aus[k];
				}
			}
			continue;
		}
		if (c == '\\' && repl[i + 1] != '\0') {
			c = repl[++i];
		}
		ok = o + 1 < cap;
		if (ok) {
			out[o++] = c;
		}
	}
	for (size_t i = eo; aus[i] != '\0' && ok; i++) {
		ok = o + 1 < cap;
		if (ok) {
			out[o++] = aus[i];
		}
	}
	if (!ok) {
		err = as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                   "NAPTR regexp '%.100s' gives a result longer than %zu bytes",
		                   regexp, cap - 1);
		goto out;
	}
	out[o] = '\0';
out:
	regfree(&re);
	return err;
}
