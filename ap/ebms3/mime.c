/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MIME multipart/related as SOAP with Attachments and AS4 use it: RFC 2045 (headers, transfer
 * encodings), RFC 2046 §5.1 (multipart syntax), RFC 2387 (multipart/related, `start`, `type`).
 *
 * The parser never copies a binary part: it finds the delimiters with memmem() in windows,
 * releasing the pages of a mapped body behind itself, and points each part into the body.
 * Only base64 and quoted-printable parts are decoded, through a sink.
 */
#include "as4/mime.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "as4/str.h"

/* RFC 2046 §5.1.1 allows 70 characters; some toolkits send longer ones, so allow more. */
#define BOUNDARY_MAX 200
/* The delimiter search covers this many bytes per step and releases mapped pages behind it. */
#define SCAN_STEP (8u * 1024 * 1024)
/* Header block of a captured HTTP request/response or MIME entity (as4_mime_split_entity). */
#define ENTITY_HEADER_MAX (64u * 1024)
/* Output buffer of the base64 and quoted-printable decoders. */
#define DECODE_BUF 16384
/* Untrusted text quoted in a diagnostic is cut to this size (with "..."). */
#define SHOW_MAX 64
/* Cap of the header text of an outgoing body (boundaries and part headers, no payload). */
#define OUT_TEXT_MAX (16u * 1024 * 1024)
/* Content-Type of a SOAP 1.2 root part (AS4 profile §2.1.2; AS4-NOTES.md "HTTP"). */
#define SOAP_CT "application/soap+xml; charset=UTF-8"
/* RFC 2045 §5.2: the type of a part without Content-Type. */
#define DEFAULT_CT "text/plain; charset=us-ascii"

static const uint8_t utf8_bom[3] = {0xEF, 0xBB, 0xBF};

static bool is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* The n bytes at p equal the string s, ignoring ASCII case. */
static bool mem_ieq(const uint8_t *p, size_t n, const char *s)
{
	size_t m = strlen(s);
	if (m != n) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (lower(p[i]) != lower((uint8_t)s[i])) {
			return false;
		}
	}
	return true;
}

/* The n bytes at p start with the string s. */
static bool mem_starts(const uint8_t *p, size_t n, const char *s)
{
	size_t m = strlen(s);
	return n >= m && memcmp(p, s, m) == 0;
}

/*
 * Render untrusted bytes for a diagnostic: printable ASCII only (anything else becomes '?'),
 * cut with "..." so a peer cannot flood the ErrorDetail.
 */
static const char *show(char out[SHOW_MAX], const void *p, size_t n)
{
	const uint8_t *s = p;
	size_t keep = n < SHOW_MAX - 4 ? n : SHOW_MAX - 4;
	size_t i;
	for (i = 0; i < keep; i++) {
		out[i] = (s[i] >= 0x20 && s[i] < 0x7F) ? (char)s[i] : '?';
	}
	if (keep < n) {
		out[i++] = '.';
		out[i++] = '.';
		out[i++] = '.';
	}
	out[i] = '\0';
	return out;
}

static const char *show_str(char out[SHOW_MAX], const char *s)
{
	return show(out, s, strlen(s));
}

/* ---------------------------------------------------------------------------------------- */
/* Header blocks (RFC 5322 §2.2 syntax, as RFC 2045 uses it)                                */

struct hdr {
	const uint8_t *name; /* field name as sent */
	size_t name_len;
	const uint8_t *raw; /* value after the colon, folded lines included */
	size_t raw_len;
};

struct hscan {
	size_t end;      /* offset after the blank line ending the block, or the region's end */
	bool terminated; /* a blank line ended the block */
	size_t count;    /* header fields */
	as4_err err;     /* AS4_OK, AS4_E_MIME or AS4_E_LIMIT */
	size_t line;     /* 1-based line of the fault */
	char why[128];   /* the fault */
};

/* Field names are printable ASCII without the colon (RFC 5322 §2.2 ftext). */
static bool is_ftext(uint8_t c)
{
	return c >= 33 && c <= 126 && c != ':';
}

/*
 * Walk the header block at p[0..n): lines end in LF or CRLF (real peers send both), a line
 * that starts with SP or HT continues the previous field, an empty line ends the block. The
 * block (blank line included) may not be longer than max. With fields == NULL only counts;
 * otherwise fills fields[0..count). A block without blank line runs to n (a part with
 * headers and no body, RFC 2046 §5.1.1 body-part).
 */
static void scan_headers(const uint8_t *p, size_t n, size_t max, struct hdr *fields,
                         struct hscan *r)
{
	size_t off = 0;
	size_t count = 0;
	r->terminated = false;
	r->err = AS4_OK;
	r->line = 0;
	r->why[0] = '\0';
	while (off < n) {
		r->line++;
		size_t lim_end = n < max ? n : max;
		const uint8_t *nl = off < lim_end ? memchr(p + off, '\n', lim_end - off) : NULL;
		if (nl == NULL && lim_end < n) {
			r->err = AS4_E_LIMIT;
			(void)snprintf(r->why, sizeof(r->why), "header block longer than %zu bytes",
			               max);
			return;
		}
		size_t eol = nl != NULL ? (size_t)(nl - p) : n;
		size_t next = nl != NULL ? eol + 1 : n;
		size_t text_end = eol;
		if (text_end > off && p[text_end - 1] == '\r') {
			text_end--;
		}
		if (text_end == off) {
			r->terminated = true;
			r->end = next;
			r->count = count;
			return;
		}
		for (size_t i = off; i < text_end; i++) {
			if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7F) {
				r->err = AS4_E_MIME;
				(void)snprintf(r->why, sizeof(r->why),
				               "control character 0x%02x in header", p[i]);
				return;
			}
		}
		if (is_wsp(p[off])) {
			if (count == 0) {
				r->err = AS4_E_MIME;
				(void)snprintf(r->why, sizeof(r->why),
				               "folded continuation line before any header field");
				return;
			}
			if (fields != NULL) {
				struct hdr *h = &fields[count - 1];
				h->raw_len = (size_t)(p + text_end - h->raw);
			}
		} else {
			size_t colon = off;
			while (colon < text_end && is_ftext(p[colon])) {
				colon++;
			}
			if (colon == off || colon == text_end || p[colon] != ':') {
				char q[SHOW_MAX];
				r->err = AS4_E_MIME;
				(void)snprintf(
				        r->why, sizeof(r->why),
				        "malformed header line \"%s\" (expected Name: value)",
				        show(q, p + off, text_end - off));
				return;
			}
			if (fields != NULL) {
				struct hdr *h = &fields[count];
				h->name = p + off;
				h->name_len = colon - off;
				h->raw = p + colon + 1;
				h->raw_len = text_end - colon - 1;
			}
			count++;
		}
		off = next;
	}
	r->end = n;
	r->count = count;
}

/* The unfolded (CR and LF removed, RFC 5322 §2.2.3), trimmed value of h in the arena. */
static char *unfold(struct as4_arena *a, const struct hdr *h)
{
	const uint8_t *s = h->raw;
	size_t n = h->raw_len;
	while (n > 0 && (is_wsp(*s) || *s == '\r' || *s == '\n')) {
		s++;
		n--;
	}
	while (n > 0 && (is_wsp(s[n - 1]) || s[n - 1] == '\r' || s[n - 1] == '\n')) {
		n--;
	}
	char *out = as4_arena_alloc(a, n + 1);
	if (out == NULL) {
		return NULL;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\r' && s[i] != '\n') {
			out[k++] = (char)s[i];
		}
	}
	out[k] = '\0';
	return out;
}

/* ---------------------------------------------------------------------------------------- */
/* Content-Type parameters (RFC 2045 §5.1)                                                   */

static bool is_space_c(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const char *skip_space(const char *p)
{
	while (is_space_c(*p)) {
		p++;
	}
	return p;
}

/*
 * Look up parameter name in the list after the media type. Values are tokens or quoted
 * strings (backslash escapes removed). Unquoted values are taken up to the next ';' because
 * peers send `type=application/soap+xml` and `start=<x@y>` unquoted, which RFC 2045 forbids
 * but every toolkit accepts. why (capacity 128) receives the reason of an AS4_E_MIME.
 */
static as4_err param_get(const char *value, const char *name, struct as4_arena *arena,
                         const char **out, char *why)
{
	*out = NULL;
	why[0] = '\0';
	const char *p = strchr(value, ';');
	if (p == NULL) {
		return AS4_OK;
	}
	size_t name_len = strlen(name);
	while (*p == ';') {
		p = skip_space(p + 1);
		if (*p == '\0' || *p == ';') {
			continue; /* a trailing or doubled ';' */
		}
		const char *attr = p;
		while (*p != '\0' && *p != '=' && *p != ';' && !is_space_c(*p) && *p != '"') {
			p++;
		}
		size_t attr_len = (size_t)(p - attr);
		p = skip_space(p);
		if (attr_len == 0 || *p != '=') {
			char q[SHOW_MAX];
			(void)snprintf(why, 128, "parameter \"%s\" has no value",
			               show(q, attr, attr_len > 0 ? attr_len : strlen(attr)));
			return AS4_E_MIME;
		}
		p = skip_space(p + 1);
		const char *val = NULL;
		size_t val_len = 0;
		char *unq = NULL;
		bool match = attr_len == name_len && as4_str_nieq(attr, name, name_len);
		if (*p == '"') {
			const char *q = ++p;
			size_t n = 0;
			while (*q != '"') {
				if (*q == '\0') {
					(void)snprintf(why, 128,
					               "unterminated quoted string in parameter");
					return AS4_E_MIME;
				}
				if (*q == '\\' && q[1] != '\0') {
					q++;
				}
				q++;
				n++;
			}
			if (match) {
				unq = as4_arena_alloc(arena, n + 1);
				if (unq == NULL) {
					return AS4_E_NOMEM;
				}
				size_t k = 0;
				for (const char *c = p; c < q; c++) {
					if (*c == '\\' && c + 1 < q) {
						c++;
					}
					unq[k++] = *c;
				}
				unq[k] = '\0';
			}
			p = skip_space(q + 1);
			if (*p != ';' && *p != '\0') {
				char s[SHOW_MAX];
				(void)snprintf(why, 128,
				               "unexpected \"%s\" after a quoted parameter value",
				               show_str(s, p));
				return AS4_E_MIME;
			}
		} else {
			val = p;
			while (*p != '\0' && *p != ';') {
				p++;
			}
			val_len = (size_t)(p - val);
			while (val_len > 0 && is_space_c(val[val_len - 1])) {
				val_len--;
			}
			if (val_len == 0) {
				char q[SHOW_MAX];
				(void)snprintf(why, 128, "parameter \"%s\" has an empty value",
				               show(q, attr, attr_len));
				return AS4_E_MIME;
			}
		}
		if (match) {
			if (*out != NULL) {
				(void)snprintf(why, 128, "parameter \"%s\" given twice", name);
				*out = NULL;
				return AS4_E_MIME;
			}
			if (unq == NULL) {
				unq = as4_arena_strndup(arena, val, val_len);
				if (unq == NULL) {
					return AS4_E_NOMEM;
				}
			}
			*out = unq;
		}
	}
	return AS4_OK;
}

as4_err as4_mime_header_param(const char *value, const char *name, struct as4_arena *arena,
                              const char **out)
{
	char why[128];
	*out = NULL;
	if (value == NULL || name == NULL || arena == NULL) {
		return AS4_E_INVAL;
	}
	return param_get(value, name, arena, out, why);
}

/* ---------------------------------------------------------------------------------------- */
/* Parsing                                                                                    */

struct ctx {
	const struct as4_blob *body;
	const struct as4_limits *lim;
	struct as4_arena *arena;
	const char *spool_dir;
	struct as4_diag *d;
	uint8_t *delim;   /* "\n--" boundary */
	size_t delim_len; /* strlen(delim) */
	size_t dropped;   /* pages of a mapped body released up to here */
	bool form;        /* multipart/form-data: no root, no Content-IDs required */
};

/* Record a failure of part idx (0-based) naming its Content-ID when known. */
static AS4_PRINTF(5, 6) as4_err
        part_fail(struct ctx *c, as4_err err, size_t idx, const char *cid, const char *fmt, ...)
{
	char msg[AS4_DIAG_TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cid != NULL) {
		char q[SHOW_MAX];
		return as4_diag_set(c->d, err, "MIME part %zu (Content-ID <%s>): %s", idx + 1,
		                    show_str(q, cid), msg);
	}
	return as4_diag_set(c->d, err, "MIME part %zu: %s", idx + 1, msg);
}

/* Release the pages of a mapped body before off (in steps, so madvise runs rarely). */
static void release_before(struct ctx *c, size_t off)
{
	if (c->body->file_backed && off >= c->dropped + SCAN_STEP) {
		as4_blob_drop_pages(c->body, off);
		c->dropped = off;
	}
}

/*
 * What follows "--boundary" at off: 2 = close delimiter ("--"), 1 = delimiter (transport
 * padding, then a line break or the end; *next is after the line break), 0 = not a delimiter
 * (the boundary text is only a prefix of other content).
 */
static int delim_tail(const uint8_t *p, size_t len, size_t off, size_t *next)
{
	if (off + 2 <= len && p[off] == '-' && p[off + 1] == '-') {
		*next = len;
		return 2;
	}
	size_t i = off;
	while (i < len && is_wsp(p[i])) {
		i++;
	}
	if (i == len) {
		*next = len;
		return 1;
	}
	if (p[i] == '\n') {
		*next = i + 1;
		return 1;
	}
	if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n') {
		*next = i + 2;
		return 1;
	}
	return 0;
}

/*
 * Find the next delimiter line whose line break is at or after from. On success *lf is the
 * offset of that LF (the part content ends before it, or before its CR: RFC 2046 §5.1.1, the
 * CRLF belongs to the delimiter), *next the offset after the delimiter line, and the return
 * value 1 (delimiter) or 2 (close delimiter); 0 when the body ends first.
 */
static int find_delim(struct ctx *c, size_t from, size_t *lf, size_t *next)
{
	const uint8_t *p = c->body->data;
	size_t len = c->body->len;
	size_t pos = from;
	while (pos < len && len - pos >= c->delim_len) {
		release_before(c, pos);
		size_t win = len - pos;
		if (win > SCAN_STEP + c->delim_len) {
			win = SCAN_STEP + c->delim_len;
		}
		const uint8_t *hit = memmem(p + pos, win, c->delim, c->delim_len);
		if (hit == NULL) {
			if (pos + win == len) {
				return 0;
			}
			pos += win - (c->delim_len - 1);
			continue;
		}
		size_t h = (size_t)(hit - p);
		int kind = delim_tail(p, len, h + c->delim_len, next);
		if (kind != 0) {
			*lf = h;
			return kind;
		}
		pos = h + 1;
	}
	return 0;
}

/* Streaming output of a decoder into a sink through a small buffer. */
struct dec_out {
	struct as4_sink *sink;
	uint8_t buf[DECODE_BUF];
	size_t n;
};

static as4_err dec_flush(struct dec_out *o)
{
	as4_err err = o->n > 0 ? as4_sink_write(o->sink, o->buf, o->n) : AS4_OK;
	o->n = 0;
	return err;
}

static as4_err dec_put(struct dec_out *o, uint8_t b)
{
	if (o->n == sizeof(o->buf)) {
		as4_err err = dec_flush(o);
		if (err != AS4_OK) {
			return err;
		}
	}
	o->buf[o->n++] = b;
	return AS4_OK;
}

static int b64_val(uint8_t c)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if (c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	if (c == '+') {
		return 62;
	}
	if (c == '/') {
		return 63;
	}
	return -1;
}

/* Write the bytes of the nd data characters (2..4) accumulated in acc. */
static as4_err b64_emit(struct dec_out *o, uint32_t acc, int nd)
{
	uint32_t v = acc << (6 * (4 - nd)); /* left-align to 24 bits */
	as4_err err = dec_put(o, (uint8_t)(v >> 16));
	if (err == AS4_OK && nd >= 3) {
		err = dec_put(o, (uint8_t)(v >> 8));
	}
	if (err == AS4_OK && nd == 4) {
		err = dec_put(o, (uint8_t)v);
	}
	return err;
}

/*
 * RFC 2045 §6.8 base64: whitespace (line breaks of any kind) skipped, '=' padding only at the
 * end; a missing final padding is tolerated. *bad gets the offset (within p) of a fault.
 */
static as4_err b64_stream(struct ctx *c, const uint8_t *p, size_t n, size_t base, struct dec_out *o,
                          size_t *bad, const char **why)
{
	uint32_t acc = 0;
	int nd = 0;          /* data characters in the current quantum */
	int np = 0;          /* padding characters in the current quantum */
	bool padded = false; /* padding seen: only more padding or whitespace may follow */
	as4_err err;
	for (size_t i = 0; i < n; i++) {
		if ((i & 0xFFFF) == 0) {
			release_before(c, base + i);
		}
		uint8_t ch = p[i];
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			continue;
		}
		if (ch == '=') {
			if (nd < 2) {
				*bad = i;
				*why = "misplaced '=' padding";
				return AS4_E_MIME;
			}
			padded = true;
			if (++np + nd == 4) {
				if ((err = b64_emit(o, acc, nd)) != AS4_OK) {
					return err;
				}
				acc = 0;
				nd = 0;
				np = 0;
			}
			continue;
		}
		int v = b64_val(ch);
		if (v < 0) {
			*bad = i;
			*why = "invalid base64 character";
			return AS4_E_MIME;
		}
		if (padded) {
			*bad = i;
			*why = "base64 data after '=' padding";
			return AS4_E_MIME;
		}
		acc = (acc << 6) | (uint32_t)v;
		if (++nd == 4) {
			if ((err = b64_emit(o, acc, nd)) != AS4_OK) {
				return err;
			}
			acc = 0;
			nd = 0;
		}
	}
	if (nd == 1) {
		*bad = n;
		*why = "base64 data ends with a lone character";
		return AS4_E_MIME;
	}
	return nd >= 2 ? b64_emit(o, acc, nd) : AS4_OK;
}

static int hex_val(uint8_t c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	c = lower(c);
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return -1;
}

/*
 * RFC 2045 §6.7 quoted-printable: "=XX" escapes (either case), soft line breaks ("=" at the
 * end of a line), trailing whitespace of a line removed (rule 3), line breaks kept as sent.
 */
static as4_err qp_stream(struct ctx *c, const uint8_t *p, size_t n, size_t base, struct dec_out *o,
                         size_t *bad, const char **why)
{
	size_t off = 0;
	as4_err err = AS4_OK;
	while (off < n) {
		release_before(c, base + off);
		const uint8_t *nl = memchr(p + off, '\n', n - off);
		size_t eol = nl != NULL ? (size_t)(nl - p) : n;
		size_t end = eol;
		bool crlf = nl != NULL && end > off && p[end - 1] == '\r';
		if (crlf) {
			end--;
		}
		while (end > off && is_wsp(p[end - 1])) {
			end--;
		}
		bool soft = end > off && p[end - 1] == '=';
		if (soft) {
			end--;
		}
		for (size_t i = off; i < end; i++) {
			uint8_t ch = p[i];
			if (ch == '=') {
				int hi = i + 1 < end ? hex_val(p[i + 1]) : -1;
				int lo = i + 2 < end ? hex_val(p[i + 2]) : -1;
				if (hi < 0 || lo < 0) {
					*bad = i;
					*why = "invalid quoted-printable escape";
					return AS4_E_MIME;
				}
				ch = (uint8_t)(hi << 4 | lo);
				i += 2;
			}
			if ((err = dec_put(o, ch)) != AS4_OK) {
				return err;
			}
		}
		if (nl != NULL && !soft) {
			if (crlf && (err = dec_put(o, '\r')) != AS4_OK) {
				return err;
			}
			if ((err = dec_put(o, '\n')) != AS4_OK) {
				return err;
			}
		}
		off = nl != NULL ? eol + 1 : n;
	}
	return AS4_OK;
}

/* Decode part content [off, off + n) of the body with a transfer encoding into part->data. */
static as4_err decode_part(struct ctx *c, size_t idx, const char *cid, bool base64, size_t off,
                           size_t n, struct as4_part *part)
{
	struct as4_sink sink;
	as4_sink_init(&sink, c->spool_dir, c->lim->mem_spool_threshold, n);
	struct dec_out *o = malloc(sizeof(*o));
	if (o == NULL) {
		as4_sink_cleanup(&sink);
		return as4_diag_set(c->d, AS4_E_NOMEM, "out of memory decoding a MIME part");
	}
	o->sink = &sink;
	o->n = 0;
	size_t bad = 0;
	const char *why = NULL;
	const uint8_t *p = c->body->data + off;
	as4_err err = base64 ? b64_stream(c, p, n, off, o, &bad, &why)
	                     : qp_stream(c, p, n, off, o, &bad, &why);
	if (err == AS4_OK) {
		err = dec_flush(o);
	}
	free(o);
	if (err == AS4_E_MIME) {
		as4_sink_cleanup(&sink);
		return part_fail(c, err, idx, cid, "%s at byte %zu of the %s content", why, bad,
		                 base64 ? "base64" : "quoted-printable");
	}
	if (err == AS4_OK) {
		err = as4_sink_finish(&sink, &part->data);
	}
	as4_sink_cleanup(&sink);
	if (err != AS4_OK) {
		return part_fail(c, err, idx, cid, "cannot store the decoded content: %s",
		                 as4_strerror(err));
	}
	return AS4_OK;
}

/* The Content-ID in v (trimmed) without its angle brackets: [*off, *off + *n); false = malformed.
 */
static bool cid_span(const char *v, size_t *off, size_t *n, const char **why)
{
	size_t len = strlen(v);
	*off = 0;
	if (len > 0 && v[0] == '<') {
		if (len < 2 || v[len - 1] != '>') {
			*why = "unbalanced '<' in Content-ID";
			return false;
		}
		*off = 1;
		len -= 2;
	} else if (len > 0 && v[len - 1] == '>') {
		*why = "unbalanced '>' in Content-ID";
		return false;
	}
	if (len == 0) {
		*why = "empty Content-ID";
		return false;
	}
	*n = len;
	return true;
}

/*
 * One body part: headers in [start, hdr_end) (hdr_end includes the line break of the next
 * delimiter so a header-only part still ends its last line), content up to content_end.
 */
static as4_err parse_part(struct ctx *c, size_t idx, size_t start, size_t hdr_end,
                          size_t content_end, struct as4_part *part)
{
	const uint8_t *p = c->body->data;
	struct hdr *fields = NULL;
	struct hscan hs;
	as4_err err = AS4_OK;
	const char *cid = NULL;
	char q[SHOW_MAX];

	scan_headers(p + start, hdr_end - start, c->lim->max_header_bytes, NULL, &hs);
	if (hs.err != AS4_OK) {
		return part_fail(c, hs.err, idx, NULL, "%s (header line %zu)", hs.why, hs.line);
	}
	if (hs.count > 0) {
		fields = calloc(hs.count, sizeof(*fields));
		if (fields == NULL) {
			return as4_diag_set(c->d, AS4_E_NOMEM,
			                    "out of memory parsing MIME headers");
		}
		scan_headers(p + start, hdr_end - start, c->lim->max_header_bytes, fields, &hs);
	}
	size_t body_start = hs.terminated ? start + hs.end : content_end;
	size_t n_extra = 0;
	const char *te = NULL;
	for (size_t i = 0; i < hs.count; i++) {
		const struct hdr *h = &fields[i];
		bool is_id = mem_ieq(h->name, h->name_len, "Content-ID");
		bool is_type = mem_ieq(h->name, h->name_len, "Content-Type");
		bool is_te = mem_ieq(h->name, h->name_len, "Content-Transfer-Encoding");
		if (!is_id && !is_type && !is_te) {
			n_extra++;
			continue;
		}
		char *v = unfold(c->arena, h);
		if (v == NULL) {
			err = as4_diag_set(c->d, AS4_E_NOMEM, "out of memory parsing MIME headers");
			goto out;
		}
		if ((is_id && part->content_id != NULL) ||
		    (is_type && part->content_type != NULL) || (is_te && te != NULL)) {
			err = part_fail(c, AS4_E_MIME, idx, part->content_id,
			                "header %s given twice", show(q, h->name, h->name_len));
			goto out;
		}
		if (is_id) {
			const char *why = NULL;
			size_t off = 0;
			size_t n = 0;
			if (!cid_span(v, &off, &n, &why)) {
				err = part_fail(c, AS4_E_MIME, idx, NULL, "%s: \"%s\"", why,
				                show_str(q, v));
				goto out;
			}
			v[off + n] = '\0';
			part->content_id = v + off;
		} else if (is_type) {
			if (v[0] == '\0') {
				err = part_fail(c, AS4_E_MIME, idx, part->content_id,
				                "empty Content-Type");
				goto out;
			}
			part->content_type = v;
		} else {
			te = v;
		}
	}
	cid = part->content_id;
	if (n_extra > 0) {
		part->headers = as4_arena_calloc(c->arena, n_extra, sizeof(*part->headers));
		if (part->headers == NULL) {
			err = as4_diag_set(c->d, AS4_E_NOMEM, "out of memory parsing MIME headers");
			goto out;
		}
		for (size_t i = 0; i < hs.count; i++) {
			const struct hdr *h = &fields[i];
			if (mem_ieq(h->name, h->name_len, "Content-ID") ||
			    mem_ieq(h->name, h->name_len, "Content-Type") ||
			    mem_ieq(h->name, h->name_len, "Content-Transfer-Encoding")) {
				continue;
			}
			struct as4_part_header *x = &part->headers[part->n_headers];
			x->name = as4_arena_strndup(c->arena, (const char *)h->name, h->name_len);
			x->value = unfold(c->arena, h);
			if (x->name == NULL || x->value == NULL) {
				err = as4_diag_set(c->d, AS4_E_NOMEM,
				                   "out of memory parsing MIME headers");
				goto out;
			}
			part->n_headers++;
		}
	}

	size_t n = body_start < content_end ? content_end - body_start : 0;
	if (te == NULL || as4_str_ieq(te, "binary") || as4_str_ieq(te, "8bit") ||
	    as4_str_ieq(te, "7bit")) {
		/* a range of a file-backed body stays droppable for its readers */
		as4_blob_borrow_range(&part->data, c->body, body_start, n);
	} else if (as4_str_ieq(te, "base64") || as4_str_ieq(te, "quoted-printable")) {
		err = decode_part(c, idx, cid, as4_str_ieq(te, "base64"), body_start, n, part);
	} else {
		err = part_fail(c, AS4_E_MIME, idx, cid, "unknown Content-Transfer-Encoding \"%s\"",
		                show_str(q, te));
	}
out:
	free(fields);
	return err;
}

/* The first delimiter: "--boundary" at the start (after an optional BOM) or after a LF. */
static int find_first(struct ctx *c, size_t *next)
{
	const uint8_t *p = c->body->data;
	size_t len = c->body->len;
	size_t at = len >= 3 && memcmp(p, utf8_bom, 3) == 0 ? 3 : 0;
	size_t blen = c->delim_len - 1; /* "--boundary" without the LF */
	if (len - at >= blen && memcmp(p + at, c->delim + 1, blen) == 0) {
		int kind = delim_tail(p, len, at + blen, next);
		if (kind != 0) {
			return kind;
		}
	}
	size_t lf;
	return find_delim(c, at, &lf, next);
}

static as4_err add_part(struct ctx *c, struct as4_part **parts, size_t *n, size_t *cap)
{
	if (*n == *cap) {
		size_t ncap = *cap == 0 ? 4 : *cap * 2;
		if (ncap > c->lim->max_parts) {
			ncap = c->lim->max_parts;
		}
		struct as4_part *np = as4_arena_calloc(c->arena, ncap, sizeof(*np));
		if (np == NULL) {
			return as4_diag_set(c->d, AS4_E_NOMEM, "out of memory parsing MIME parts");
		}
		if (*n > 0) {
			memcpy(np, *parts, *n * sizeof(*np));
		}
		*parts = np;
		*cap = ncap;
	}
	as4_part_init(&(*parts)[*n]);
	(*n)++;
	return AS4_OK;
}

/* Root selection (RFC 2387 §3.2: `start`, else the first part) and Content-ID rules. */
static as4_err check_parts(struct ctx *c, struct as4_mime *m)
{
	size_t root = 0;
	char q[SHOW_MAX];
	if (c->form) {
		/* RFC 7578: fields are named by Content-Disposition, in order; no root */
		return AS4_OK;
	}
	if (m->start != NULL) {
		for (root = 0; root < m->n_parts; root++) {
			const char *id = m->parts[root].content_id;
			if (id != NULL && strcmp(id, m->start) == 0) {
				break;
			}
		}
		if (root == m->n_parts) {
			return as4_diag_set(c->d, AS4_E_MIME,
			                    "MIME start part <%s> not found among the %zu parts",
			                    show_str(q, m->start), m->n_parts);
		}
	}
	if (root > 0) {
		struct as4_part r = m->parts[root];
		memmove(&m->parts[1], &m->parts[0], root * sizeof(r));
		m->parts[0] = r;
	}
	for (size_t i = 1; i < m->n_parts; i++) {
		if (m->parts[i].content_id == NULL) {
			/* Number the part as it was sent, not as reordered. */
			size_t sent = i <= root ? i - 1 : i;
			return part_fail(
			        c, AS4_E_MIME, sent, NULL,
			        "attachment without Content-ID (only the root may omit it)");
		}
	}
	for (size_t i = 0; i < m->n_parts; i++) {
		const char *a = m->parts[i].content_id;
		for (size_t j = i + 1; a != NULL && j < m->n_parts; j++) {
			const char *b = m->parts[j].content_id;
			if (b != NULL && strcmp(a, b) == 0) {
				return as4_diag_set(c->d, AS4_E_MIME,
				                    "duplicate MIME Content-ID <%s>",
				                    show_str(q, a));
			}
		}
	}
	return AS4_OK;
}

static as4_err parse_multipart(struct ctx *c, struct as4_mime *m)
{
	const uint8_t *p = c->body->data;
	size_t len = c->body->len;
	size_t cap = 0;
	char q[SHOW_MAX];
	as4_err err;

	size_t blen = strlen(m->boundary);
	if (blen == 0 || blen > BOUNDARY_MAX) {
		return as4_diag_set(c->d, AS4_E_MIME, "MIME boundary of %zu characters (1 to %d)",
		                    blen, BOUNDARY_MAX);
	}
	for (size_t i = 0; i < blen; i++) {
		uint8_t ch = (uint8_t)m->boundary[i];
		if (ch < 0x20 || ch >= 0x7F) {
			return as4_diag_set(c->d, AS4_E_MIME,
			                    "MIME boundary contains the byte 0x%02x", ch);
		}
	}
	c->delim_len = blen + 3;
	c->delim = as4_arena_alloc(c->arena, c->delim_len + 1);
	if (c->delim == NULL) {
		return as4_diag_set(c->d, AS4_E_NOMEM, "out of memory parsing MIME");
	}
	memcpy(c->delim, "\n--", 3);
	memcpy(c->delim + 3, m->boundary, blen);

	size_t pos;
	int kind = find_first(c, &pos);
	if (kind == 0) {
		return as4_diag_set(c->d, AS4_E_MIME,
		                    "no MIME delimiter line \"--%s\" in the body (wrong or missing "
		                    "boundary)",
		                    show_str(q, m->boundary));
	}
	if (kind == 2) {
		return as4_diag_set(c->d, AS4_E_MIME,
		                    "MIME body has no parts (close delimiter first)");
	}
	for (;;) {
		size_t lf = 0;
		size_t next = 0;
		/* The LF that ended the previous delimiter line may start the next one. */
		kind = find_delim(c, pos > 0 && p[pos - 1] == '\n' ? pos - 1 : pos, &lf, &next);
		if (kind == 0) {
			return part_fail(c, AS4_E_MIME, m->n_parts, NULL,
			                 "unterminated: the body ends without delimiter \"--%s\"",
			                 show_str(q, m->boundary));
		}
		if (m->n_parts >= c->lim->max_parts) {
			return as4_diag_set(c->d, AS4_E_LIMIT, "more than %zu MIME parts",
			                    c->lim->max_parts);
		}
		err = add_part(c, &m->parts, &m->n_parts, &cap);
		if (err != AS4_OK) {
			return err;
		}
		size_t content_end = lf;
		size_t hdr_end = lf + 1;
		if (lf < pos) {
			content_end = pos;
			hdr_end = pos;
		} else if (lf > pos && p[lf - 1] == '\r') {
			content_end = lf - 1;
		}
		err = parse_part(c, m->n_parts - 1, pos, hdr_end, content_end,
		                 &m->parts[m->n_parts - 1]);
		if (err != AS4_OK) {
			return err;
		}
		if (kind == 2) {
			break;
		}
		pos = next;
		if (pos >= len) {
			return part_fail(c, AS4_E_MIME, m->n_parts, NULL,
			                 "unterminated: the body ends after a delimiter line");
		}
	}
	err = check_parts(c, m);
	if (err != AS4_OK) {
		return err;
	}
	/* A root without Content-Type has the type named by `type` (RFC 2387 §3.1). */
	if (m->parts[0].content_type == NULL && m->type != NULL) {
		m->parts[0].content_type = m->type;
	}
	for (size_t i = 0; i < m->n_parts; i++) {
		if (m->parts[i].content_type == NULL) {
			m->parts[i].content_type = DEFAULT_CT;
		}
	}
	return AS4_OK;
}

/* Offset of the first byte after an optional UTF-8 BOM and blank lines. */
static size_t skip_bom_blank(const uint8_t *p, size_t len)
{
	size_t i = len >= 3 && memcmp(p, utf8_bom, 3) == 0 ? 3 : 0;
	while (i < len && (p[i] == '\r' || p[i] == '\n' || is_wsp(p[i]))) {
		i++;
	}
	return i;
}

/* A bare body: the boundary is the first line without "--" and transport padding. */
static as4_err infer_boundary(struct ctx *c, size_t at, const char **out)
{
	const uint8_t *p = c->body->data;
	size_t len = c->body->len;
	size_t s = at + 2;
	size_t e = s;
	while (e < len && p[e] != '\r' && p[e] != '\n') {
		e++;
	}
	while (e > s && is_wsp(p[e - 1])) {
		e--;
	}
	if (e == s || e - s > BOUNDARY_MAX) {
		return as4_diag_set(c->d, AS4_E_MIME,
		                    "bare MIME body: the first line gives a boundary of %zu "
		                    "characters (1 to %d)",
		                    e - s, BOUNDARY_MAX);
	}
	*out = as4_arena_strndup(c->arena, (const char *)p + s, e - s);
	if (*out == NULL) {
		return as4_diag_set(c->d, AS4_E_NOMEM, "out of memory parsing MIME");
	}
	return AS4_OK;
}

/* The whole body as the one (root) part. */
static as4_err single_part(struct ctx *c, struct as4_mime *m, const char *content_type)
{
	size_t cap = 0;
	as4_err err = add_part(c, &m->parts, &m->n_parts, &cap);
	if (err != AS4_OK) {
		return err;
	}
	m->parts[0].content_type = as4_arena_strdup(c->arena, content_type);
	if (m->parts[0].content_type == NULL) {
		return as4_diag_set(c->d, AS4_E_NOMEM, "out of memory parsing MIME");
	}
	as4_blob_borrow_range(&m->parts[0].data, c->body, 0, c->body->len);
	return AS4_OK;
}

as4_err as4_mime_parse(const struct as4_blob *body, const char *content_type,
                       const struct as4_limits *lim, struct as4_arena *arena, const char *spool_dir,
                       struct as4_mime *out, struct as4_diag *d)
{
	struct as4_mime m = {0};
	struct ctx c = {0};
	char q[SHOW_MAX];
	as4_err err = AS4_OK;

	if (out != NULL) {
		memset(out, 0, sizeof(*out));
	}
	if (body == NULL || lim == NULL || arena == NULL || out == NULL) {
		return as4_diag_set(d, AS4_E_INVAL, "as4_mime_parse: missing argument");
	}
	if (lim->max_parts == 0) {
		return as4_diag_set(d, AS4_E_LIMIT, "limits allow no MIME parts");
	}
	c.body = body;
	c.lim = lim;
	c.arena = arena;
	c.spool_dir = spool_dir;
	c.d = d;
	if (body->len == 0) {
		return as4_diag_set(d, AS4_E_MIME, "empty message body");
	}

	if (content_type == NULL) {
		size_t at = skip_bom_blank(body->data, body->len);
		if (body->len - at >= 2 && mem_starts(body->data + at, body->len - at, "--")) {
			err = infer_boundary(&c, at, &m.boundary);
			if (err == AS4_OK) {
				err = parse_multipart(&c, &m);
			}
		} else {
			/* AS4 envelopes are SOAP 1.2 (AS4 profile §2.1.2). */
			err = single_part(&c, &m, "application/soap+xml");
		}
		goto out;
	}

	char mt[128];
	if (as4_media_type(content_type, mt, sizeof(mt)) != AS4_OK || mt[0] == '\0') {
		err = as4_diag_set(d, AS4_E_MIME, "malformed Content-Type \"%s\"",
		                   show_str(q, content_type));
		goto out;
	}
	if (strcmp(mt, "multipart/related") == 0) {
		char why[128];
		const char *params[3] = {"boundary", "type", "start"};
		const char **dst[3] = {&m.boundary, &m.type, &m.start};
		for (size_t i = 0; i < 3; i++) {
			err = param_get(content_type, params[i], arena, dst[i], why);
			if (err == AS4_E_NOMEM) {
				err = as4_diag_set(d, err, "out of memory parsing MIME");
				goto out;
			}
			if (err != AS4_OK) {
				err = as4_diag_set(d, err, "malformed Content-Type parameters: %s",
				                   why);
				goto out;
			}
		}
		if (m.boundary == NULL) {
			err = as4_diag_set(
			        d, AS4_E_MIME,
			        "multipart/related Content-Type without boundary parameter");
			goto out;
		}
		if (m.start != NULL) {
			const char *why_id = NULL;
			size_t off = 0;
			size_t n = 0;
			if (!cid_span(m.start, &off, &n, &why_id)) {
				err = as4_diag_set(d, AS4_E_MIME, "start parameter: %s", why_id);
				goto out;
			}
			m.start = as4_arena_strndup(arena, m.start + off, n);
			if (m.start == NULL) {
				err = as4_diag_set(d, AS4_E_NOMEM, "out of memory parsing MIME");
				goto out;
			}
		}
		err = parse_multipart(&c, &m);
	} else if (as4_str_starts(mt, "multipart/")) {
		err = as4_diag_set(d, AS4_E_MIME, "%s body where multipart/related is required",
		                   show_str(q, mt));
	} else if (as4_media_type_is_xml(mt)) {
		err = single_part(&c, &m, content_type);
	} else {
		err = as4_diag_set(
		        d, AS4_E_MIME,
		        "Content-Type %s is neither multipart/related nor a SOAP envelope",
		        show_str(q, mt));
	}
out:
	if (err != AS4_OK) {
		as4_mime_cleanup(&m);
		return err;
	}
	*out = m;
	return AS4_OK;
}

as4_err as4_mime_parse_form(const struct as4_blob *body, const char *content_type,
                            const struct as4_limits *lim, struct as4_arena *arena,
                            const char *spool_dir, struct as4_mime *out, struct as4_diag *d)
{
	struct as4_mime m = {0};
	struct ctx c = {0};
	char mt[128];
	char why[128];
	as4_err err;

	if (out != NULL) {
		memset(out, 0, sizeof(*out));
	}
	if (body == NULL || lim == NULL || arena == NULL || out == NULL || content_type == NULL) {
		return as4_diag_set(d, AS4_E_INVAL, "as4_mime_parse_form: missing argument");
	}
	if (lim->max_parts == 0) {
		return as4_diag_set(d, AS4_E_LIMIT, "limits allow no MIME parts");
	}
	if (as4_media_type(content_type, mt, sizeof(mt)) != AS4_OK ||
	    strcmp(mt, "multipart/form-data") != 0) {
		return as4_diag_set(d, AS4_E_MIME, "Content-Type is not multipart/form-data");
	}
	if (body->len == 0) {
		return as4_diag_set(d, AS4_E_MIME, "empty body");
	}
	err = param_get(content_type, "boundary", arena, &m.boundary, why);
	if (err == AS4_E_NOMEM) {
		return as4_diag_set(d, err, "out of memory parsing MIME");
	}
	if (err != AS4_OK) {
		return as4_diag_set(d, err, "malformed Content-Type parameters: %s", why);
	}
	if (m.boundary == NULL) {
		return as4_diag_set(d, AS4_E_MIME,
		                    "multipart/form-data Content-Type without boundary parameter");
	}
	c.body = body;
	c.lim = lim;
	c.arena = arena;
	c.spool_dir = spool_dir;
	c.d = d;
	c.form = true;
	err = parse_multipart(&c, &m);
	if (err != AS4_OK) {
		as4_mime_cleanup(&m);
		return err;
	}
	*out = m;
	return AS4_OK;
}

const char *as4_mime_part_header(const struct as4_part *p, const char *name)
{
	for (size_t i = 0; i < p->n_headers; i++) {
		if (as4_str_ieq(p->headers[i].name, name)) {
			return p->headers[i].value;
		}
	}
	return NULL;
}

void as4_mime_cleanup(struct as4_mime *m)
{
	if (m == NULL) {
		return;
	}
	for (size_t i = 0; i < m->n_parts; i++) {
		as4_part_cleanup(&m->parts[i]);
	}
	memset(m, 0, sizeof(*m));
}

/* RFC 2392: a cid: URL is the Content-ID with %hh escapes. 0 = not an escape-free match. */
static size_t pct_decode(const char *s, char *out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; s[i] != '\0'; i++) {
		if (k + 1 >= cap) {
			return 0;
		}
		if (s[i] == '%') {
			int hi = hex_val((uint8_t)s[i + 1]);
			int lo = hi >= 0 ? hex_val((uint8_t)s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				return 0;
			}
			out[k++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[k++] = s[i];
		}
	}
	out[k] = '\0';
	return k;
}

/* The part whose Content-ID is the n bytes at id, or NULL. */
static struct as4_part *find_exact(const struct as4_mime *m, const char *id, size_t n)
{
	for (size_t i = 0; i < m->n_parts; i++) {
		const char *pid = m->parts[i].content_id;
		if (pid != NULL && strlen(pid) == n && memcmp(pid, id, n) == 0) {
			return &m->parts[i];
		}
	}
	return NULL;
}

struct as4_part *as4_mime_find(const struct as4_mime *m, const char *content_id)
{
	if (m == NULL || content_id == NULL) {
		return NULL;
	}
	/* The literal value first: a Content-ID may itself start with "cid:" or contain '%'. */
	const char *id = content_id;
	size_t n = strlen(id);
	struct as4_part *p = find_exact(m, id, n);
	if (p != NULL) {
		return p;
	}
	if (as4_str_nieq(id, "cid:", 4)) {
		id += 4;
		n -= 4;
	}
	if (n >= 2 && id[0] == '<' && id[n - 1] == '>') {
		id++;
		n -= 2;
	}
	if (n == 0) {
		return NULL;
	}
	p = find_exact(m, id, n);
	if (p != NULL || memchr(id, '%', n) == NULL) {
		return p;
	}
	char raw[1024];
	char dec[1024];
	if (n >= sizeof(raw)) {
		return NULL;
	}
	memcpy(raw, id, n);
	raw[n] = '\0';
	size_t k = pct_decode(raw, dec, sizeof(dec));
	return k > 0 ? find_exact(m, dec, k) : NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Captured entities                                                                          */

/*
 * Where the XML document in buf[from..len) starts: after whitespace and comments (phase4's
 * licence header precedes "<?xml"), at the XML declaration, a PI, a DOCTYPE (which the XML
 * parser then refuses) or the root element. Anything else before a "<?xml" is skipped too.
 */
static bool xml_start(const uint8_t *buf, size_t len, size_t from, size_t *start)
{
	size_t i = from;
	for (;;) {
		while (i < len && (is_wsp(buf[i]) || buf[i] == '\r' || buf[i] == '\n')) {
			i++;
		}
		if (i + 1 >= len || buf[i] != '<') {
			break;
		}
		if (mem_starts(buf + i, len - i, "<!--")) {
			const uint8_t *e = memmem(buf + i + 4, len - i - 4, "-->", 3);
			if (e == NULL) {
				break;
			}
			i = (size_t)(e - buf) + 3;
			continue;
		}
		uint8_t ch = buf[i + 1];
		if (ch == '?' || ch == '!' || ch == '_' || ch == ':' || ch >= 0x80 ||
		    (lower(ch) >= 'a' && lower(ch) <= 'z')) {
			*start = i;
			return true;
		}
		break;
	}
	const uint8_t *x = memmem(buf + from, len - from, "<?xml", 5);
	if (x == NULL) {
		return false;
	}
	*start = (size_t)(x - buf);
	return true;
}

/* An HTTP request line ("POST /as4 HTTP/1.1") or status line ("HTTP/1.1 200 OK"). */
static bool is_start_line(const uint8_t *p, size_t n)
{
	if (mem_starts(p, n, "HTTP/")) {
		return true;
	}
	size_t sp = n;
	while (sp > 0 && p[sp - 1] != ' ') {
		sp--;
	}
	return sp > 0 && mem_starts(p + sp, n - sp, "HTTP/");
}

as4_err as4_mime_split_entity(const uint8_t *buf, size_t len, struct as4_arena *arena,
                              const char **content_type, struct as4_blob *body, struct as4_diag *d)
{
	struct hdr *fields = NULL;
	as4_err err = AS4_OK;
	char q[SHOW_MAX];

	if (content_type != NULL) {
		*content_type = NULL;
	}
	if (body != NULL) {
		as4_blob_init(body);
	}
	if ((buf == NULL && len > 0) || arena == NULL || content_type == NULL || body == NULL) {
		return as4_diag_set(d, AS4_E_INVAL, "as4_mime_split_entity: missing argument");
	}
	size_t at = skip_bom_blank(buf, len);
	if (at == len) {
		return as4_diag_set(d, AS4_E_MIME, "empty entity");
	}
	if (mem_starts(buf + at, len - at, "--")) {
		as4_blob_borrow(body, buf + at, len - at);
		return AS4_OK;
	}
	if (buf[at] == '<') {
		size_t s;
		if (!xml_start(buf, len, at, &s)) {
			return as4_diag_set(d, AS4_E_MIME, "no XML document in the entity");
		}
		as4_blob_borrow(body, buf + s, len - s);
		return AS4_OK;
	}

	/* A header block, possibly after an HTTP start line. */
	size_t hstart = at;
	const uint8_t *nl = memchr(buf + at, '\n', len - at);
	size_t first_end = nl != NULL ? (size_t)(nl - buf) : len;
	size_t k = at;
	while (k < first_end && is_ftext(buf[k])) {
		k++;
	}
	bool header_first = k > at && k < first_end && buf[k] == ':';
	if (!header_first) {
		size_t n = first_end - at;
		if (n > 0 && buf[at + n - 1] == '\r') {
			n--;
		}
		if (nl == NULL || !is_start_line(buf + at, n)) {
			return as4_diag_set(
			        d, AS4_E_MIME,
			        "entity is neither an HTTP message, a MIME entity, a MIME "
			        "body nor an XML document (first line \"%s\")",
			        show(q, buf + at, n));
		}
		hstart = first_end + 1;
	}
	struct hscan hs;
	scan_headers(buf + hstart, len - hstart, ENTITY_HEADER_MAX, NULL, &hs);
	if (hs.err != AS4_OK) {
		return as4_diag_set(d, hs.err, "entity headers: %s (header line %zu)", hs.why,
		                    hs.line);
	}
	if (!hs.terminated) {
		return as4_diag_set(d, AS4_E_MIME,
		                    "entity headers are not ended by a blank line (no body)");
	}
	if (hs.count > 0) {
		fields = calloc(hs.count, sizeof(*fields));
		if (fields == NULL) {
			return as4_diag_set(d, AS4_E_NOMEM, "out of memory parsing entity headers");
		}
		scan_headers(buf + hstart, len - hstart, ENTITY_HEADER_MAX, fields, &hs);
	}
	for (size_t i = 0; i < hs.count; i++) {
		if (!mem_ieq(fields[i].name, fields[i].name_len, "Content-Type")) {
			continue;
		}
		if (*content_type != NULL) {
			err = as4_diag_set(d, AS4_E_MIME,
			                   "entity headers: Content-Type given twice");
			goto out;
		}
		char *v = unfold(arena, &fields[i]);
		if (v == NULL) {
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory parsing entity headers");
			goto out;
		}
		*content_type = v;
	}
	size_t b = hstart + hs.end;
	as4_blob_borrow(body, buf + b, len - b);
out:
	free(fields);
	if (err != AS4_OK) {
		*content_type = NULL;
		as4_blob_init(body);
	}
	return err;
}

/* ---------------------------------------------------------------------------------------- */
/* Building                                                                                   */

/* A header value we write: no control characters (no header injection through CR/LF). */
static bool clean_value(const char *s)
{
	for (; *s != '\0'; s++) {
		uint8_t ch = (uint8_t)*s;
		if ((ch < 0x20 && ch != '\t') || ch == 0x7F) {
			return false;
		}
	}
	return true;
}

static bool clean_name(const char *s)
{
	if (*s == '\0') {
		return false;
	}
	for (; *s != '\0'; s++) {
		if (!is_ftext((uint8_t)*s)) {
			return false;
		}
	}
	return true;
}

static bool clean_cid(const char *s)
{
	return s != NULL && *s != '\0' && clean_value(s) && strpbrk(s, "<> \t\"") == NULL;
}

/* The header block of one part (after its delimiter line). */
static as4_err put_part_headers(struct as4_buf *t, const char *type, const char *cid,
                                const struct as4_part *p)
{
	as4_err err = as4_buf_printf(t,
	                             "Content-Type: %s\r\nContent-Transfer-Encoding: binary\r\n"
	                             "Content-ID: <%s>\r\n",
	                             type, cid);
	for (size_t i = 0; err == AS4_OK && i < p->n_headers; i++) {
		const struct as4_part_header *h = &p->headers[i];
		if (h->name == NULL || h->value == NULL || !clean_name(h->name) ||
		    !clean_value(h->value) || as4_str_ieq(h->name, "Content-Type") ||
		    as4_str_ieq(h->name, "Content-ID") ||
		    as4_str_ieq(h->name, "Content-Transfer-Encoding")) {
			return AS4_E_INVAL;
		}
		err = as4_buf_printf(t, "%s: %s\r\n", h->name, h->value);
	}
	if (err == AS4_OK) {
		err = as4_buf_puts(t, "\r\n");
	}
	return err;
}

as4_err as4_mime_build(const struct as4_part *root, const struct as4_part *parts, size_t n_parts,
                       struct as4_mime_out *out)
{
	size_t *marks = NULL;
	as4_err err = AS4_OK;

	if (out == NULL) {
		return AS4_E_INVAL;
	}
	memset(out, 0, sizeof(*out));
	as4_buf_init(&out->text, OUT_TEXT_MAX);
	if (root == NULL || (n_parts > 0 && parts == NULL)) {
		return AS4_E_INVAL;
	}
	if (n_parts == 0) {
		err = as4_str_copy(out->content_type, sizeof(out->content_type), SOAP_CT);
		if (err != AS4_OK) {
			goto out;
		}
		if (root->data.len > 0) {
			out->segs = calloc(1, sizeof(*out->segs));
			if (out->segs == NULL) {
				err = AS4_E_NOMEM;
				goto out;
			}
			out->segs[0].data = root->data.data;
			out->segs[0].len = root->data.len;
			out->n_segs = 1;
		}
		out->total_len = root->data.len;
		goto out;
	}

	/* Every text piece is [marks[2i], marks[2i+1]) of out->text; pointers are set at the end
	 * because the buffer may move while it grows. */
	size_t n_text = n_parts + 2;
	size_t n_marks;
	if (!as4_mul_size(n_text, 2 * sizeof(*marks), &n_marks)) {
		err = AS4_E_NOMEM;
		goto out;
	}
	marks = malloc(n_marks);
	out->segs = calloc(2 * n_parts + 3, sizeof(*out->segs));
	if (marks == NULL || out->segs == NULL) {
		err = AS4_E_NOMEM;
		goto out;
	}

	uint8_t rnd[16];
	char hex[33];
	char boundary[64];
	char root_cid_buf[64];
	const char *root_cid = root->content_id;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		err = AS4_E_CRYPTO;
		goto out;
	}
	as4_hex_encode(rnd, sizeof(rnd), hex);
	err = as4_str_fmt(boundary, sizeof(boundary), "MIMEBoundary_%s", hex);
	if (err != AS4_OK) {
		goto out;
	}
	if (root_cid == NULL) {
		char uuid[37];
		err = as4_uuid_v4(uuid);
		if (err == AS4_OK) {
			err = as4_str_fmt(root_cid_buf, sizeof(root_cid_buf), "root-%s@as4", uuid);
		}
		if (err != AS4_OK) {
			goto out;
		}
		root_cid = root_cid_buf;
	}
	if (!clean_cid(root_cid)) {
		err = AS4_E_INVAL;
		goto out;
	}
	for (size_t i = 0; i < n_parts; i++) {
		const char *id = parts[i].content_id;
		const char *type = parts[i].content_type;
		if (!clean_cid(id) || (type != NULL && (*type == '\0' || !clean_value(type))) ||
		    strcmp(id, root_cid) == 0) {
			err = AS4_E_INVAL;
			goto out;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(parts[j].content_id, id) == 0) {
				err = AS4_E_INVAL;
				goto out;
			}
		}
	}
	/* start is a quoted-string (RFC 2045 §5.1): a backslash in the Content-ID is escaped. */
	char qcid[sizeof(out->content_type)];
	size_t k = 0;
	for (const char *c = root_cid; *c != '\0'; c++) {
		if (k + 3 > sizeof(qcid)) {
			err = AS4_E_LIMIT;
			goto out;
		}
		if (*c == '\\') {
			qcid[k++] = '\\';
		}
		qcid[k++] = *c;
	}
	qcid[k] = '\0';
	err = as4_str_fmt(out->content_type, sizeof(out->content_type),
	                  "multipart/related; boundary=\"%s\"; type=\"application/soap+xml\"; "
	                  "start=\"<%s>\"",
	                  boundary, qcid);
	if (err != AS4_OK) {
		goto out;
	}

	struct as4_buf *t = &out->text;
	marks[0] = 0;
	err = as4_buf_printf(t, "--%s\r\n", boundary);
	if (err == AS4_OK) {
		err = put_part_headers(t, SOAP_CT, root_cid, root);
	}
	marks[1] = t->len;
	for (size_t i = 0; err == AS4_OK && i < n_parts; i++) {
		const char *type = parts[i].content_type != NULL ? parts[i].content_type
		                                                 : "application/octet-stream";
		marks[2 * (i + 1)] = t->len;
		err = as4_buf_printf(t, "\r\n--%s\r\n", boundary);
		if (err == AS4_OK) {
			err = put_part_headers(t, type, parts[i].content_id, &parts[i]);
		}
		marks[2 * (i + 1) + 1] = t->len;
	}
	if (err != AS4_OK) {
		goto out;
	}
	marks[2 * (n_parts + 1)] = t->len;
	err = as4_buf_printf(t, "\r\n--%s--\r\n", boundary);
	if (err != AS4_OK) {
		goto out;
	}
	marks[2 * (n_parts + 1) + 1] = t->len;

	uint64_t total = 0;
	for (size_t i = 0; i < n_text; i++) {
		struct as4_mime_seg *s = &out->segs[out->n_segs++];
		s->data = t->data + marks[2 * i];
		s->len = marks[2 * i + 1] - marks[2 * i];
		s->file_backed = false;
		total += s->len;
		const struct as4_blob *b = NULL;
		if (i == 0) {
			b = &root->data;
		} else if (i <= n_parts) {
			b = &parts[i - 1].data;
		}
		if (b != NULL && b->len > 0) {
			s = &out->segs[out->n_segs++];
			s->data = b->data;
			s->len = b->len;
			s->file_backed = b->file_backed;
			total += s->len;
		}
	}
	out->total_len = total;
out:
	free(marks);
	if (err != AS4_OK) {
		as4_mime_out_cleanup(out);
	}
	return err;
}

as4_err as4_mime_out_flatten(const struct as4_mime_out *out, struct as4_buf *b)
{
	if (out == NULL || b == NULL) {
		return AS4_E_INVAL;
	}
	if (out->total_len > SIZE_MAX) {
		return AS4_E_LIMIT;
	}
	as4_err err = as4_buf_reserve(b, (size_t)out->total_len);
	for (size_t i = 0; err == AS4_OK && i < out->n_segs; i++) {
		err = as4_buf_append(b, out->segs[i].data, out->segs[i].len);
	}
	return err;
}

void as4_mime_out_cleanup(struct as4_mime_out *out)
{
	if (out == NULL) {
		return;
	}
	as4_buf_cleanup(&out->text);
	free(out->segs);
	out->segs = NULL;
	out->n_segs = 0;
	out->total_len = 0;
	out->content_type[0] = '\0';
}
