/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny DNS response writer for the SMP client tests (RFC 1035 §4.1): header, one question,
 * answer records (NAPTR, CNAME, DNAME, A, TXT) with optional name compression. Test-only;
 * every function aborts the test on overflow through the caller's assert.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct dnsmsg {
	uint8_t b[4096];
	size_t len;
	bool overflow;
};

static inline void dm_u8(struct dnsmsg *m, unsigned v)
{
	if (m->len + 1 > sizeof(m->b)) {
		m->overflow = true;
		return;
	}
	m->b[m->len++] = (uint8_t)v;
}

static inline void dm_u16(struct dnsmsg *m, unsigned v)
{
	dm_u8(m, (v >> 8) & 0xff);
	dm_u8(m, v & 0xff);
}

static inline void dm_u32(struct dnsmsg *m, uint32_t v)
{
	dm_u16(m, (v >> 16) & 0xffff);
	dm_u16(m, v & 0xffff);
}

static inline void dm_bytes(struct dnsmsg *m, const void *p, size_t n)
{
	if (m->len + n > sizeof(m->b)) {
		m->overflow = true;
		return;
	}
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

/* A dotted name in uncompressed wire form ("." or "" = the root). */
static inline void dm_name(struct dnsmsg *m, const char *name)
{
	const char *p = name;
	while (*p != '\0' && strcmp(p, ".") != 0) {
		const char *dot = strchr(p, '.');
		size_t l = dot != NULL ? (size_t)(dot - p) : strlen(p);
		dm_u8(m, (unsigned)l);
		dm_bytes(m, p, l);
		p += l;
		if (*p == '.') {
			p++;
		}
	}
	dm_u8(m, 0);
}

/* A compression pointer to offset off. */
static inline void dm_ptr(struct dnsmsg *m, size_t off)
{
	dm_u16(m, 0xc000u | (unsigned)off);
}

static inline void dm_cstr(struct dnsmsg *m, const char *s)
{
	dm_u8(m, (unsigned)strlen(s));
	dm_bytes(m, s, strlen(s));
}

/* Header + question (qname at offset 12). flags: 0x8180 = response, RD, RA, NOERROR. */
static inline void dm_start(struct dnsmsg *m, unsigned flags, const char *qname, unsigned qtype,
                            unsigned ancount)
{
	m->len = 0;
	m->overflow = false;
	dm_u16(m, 0x1234);
	dm_u16(m, flags);
	dm_u16(m, 1);
	dm_u16(m, ancount);
	dm_u16(m, 0);
	dm_u16(m, 0);
	dm_name(m, qname);
	dm_u16(m, qtype);
	dm_u16(m, 1);
}

/* RR header; rdlength is patched by dm_rr_end(). Returns the rdlength offset. */
static inline size_t dm_rr(struct dnsmsg *m, const char *owner, unsigned type, uint32_t ttl)
{
	if (owner == NULL) {
		dm_ptr(m, 12); /* the question name */
	} else {
		dm_name(m, owner);
	}
	dm_u16(m, type);
	dm_u16(m, 1);
	dm_u32(m, ttl);
	size_t at = m->len;
	dm_u16(m, 0);
	return at;
}

static inline void dm_rr_end(struct dnsmsg *m, size_t at)
{
	size_t n = m->len - at - 2;
	m->b[at] = (uint8_t)(n >> 8);
	m->b[at + 1] = (uint8_t)(n & 0xff);
}

/* owner NULL = compressed pointer to the question name. */
static inline void dm_naptr(struct dnsmsg *m, const char *owner, uint32_t ttl, unsigned order,
                            unsigned pref, const char *flags, const char *service,
                            const char *regexp, const char *replacement)
{
	size_t at = dm_rr(m, owner, 35, ttl);
	dm_u16(m, order);
	dm_u16(m, pref);
	dm_cstr(m, flags);
	dm_cstr(m, service);
	dm_cstr(m, regexp);
	dm_name(m, replacement);
	dm_rr_end(m, at);
}

static inline void dm_alias(struct dnsmsg *m, const char *owner, unsigned type, uint32_t ttl,
                            const char *target)
{
	size_t at = dm_rr(m, owner, type, ttl);
	dm_name(m, target);
	dm_rr_end(m, at);
}

static inline void dm_a(struct dnsmsg *m, const char *owner, uint32_t ttl, const uint8_t ip[4])
{
	size_t at = dm_rr(m, owner, 1, ttl);
	dm_bytes(m, ip, 4);
	dm_rr_end(m, at);
}
