/* SPDX-License-Identifier: Apache-2.0 */
#include "as4/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as4/str.h"

void as4_buf_init(struct as4_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void as4_buf_cleanup(struct as4_buf *b)
{
	if (b == NULL) {
		return;
	}
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void as4_buf_reset(struct as4_buf *b)
{
	b->len = 0;
	if (b->data != NULL) {
		b->data[0] = '\0';
	}
}

as4_err as4_buf_reserve(struct as4_buf *b, size_t n)
{
	size_t need;
	/* +1 for the terminating NUL that is always kept */
	if (!as4_add_size(b->len, n, &need) || need > b->max || !as4_add_size(need, 1, &need)) {
		return AS4_E_LIMIT;
	}
	if (need <= b->cap) {
		return AS4_OK;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need) {
		if (!as4_mul_size(cap, 2, &cap)) {
			cap = need;
			break;
		}
	}
	/* never allocate more than the cap allows (max may be SIZE_MAX: no +1 overflow) */
	if (cap - 1 > b->max) {
		cap = b->max + 1;
	}
	uint8_t *p = realloc(b->data, cap);
	if (p == NULL) {
		return AS4_E_NOMEM;
	}
	if (b->data == NULL) {
		p[0] = '\0';
	}
	b->data = p;
	b->cap = cap;
	return AS4_OK;
}

as4_err as4_buf_append(struct as4_buf *b, const void *p, size_t n)
{
	as4_err err = as4_buf_reserve(b, n);
	if (err != AS4_OK) {
		return err;
	}
	if (n > 0) {
		memcpy(b->data + b->len, p, n);
	}
	b->len += n;
	b->data[b->len] = '\0';
	return AS4_OK;
}

as4_err as4_buf_puts(struct as4_buf *b, const char *s)
{
	return as4_buf_append(b, s, strlen(s));
}

as4_err as4_buf_putc(struct as4_buf *b, uint8_t c)
{
	return as4_buf_append(b, &c, 1);
}

as4_err as4_buf_vprintf(struct as4_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	char small[256];
	int n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		return AS4_E_INVAL;
	}
	if ((size_t)n < sizeof(small)) {
		return as4_buf_append(b, small, (size_t)n);
	}
	as4_err err = as4_buf_reserve(b, (size_t)n);
	if (err != AS4_OK) {
		return err;
	}
	int m = vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	if (m != n) {
		b->data[b->len] = '\0';
		return AS4_E_INTERNAL;
	}
	b->len += (size_t)n;
	return AS4_OK;
}

as4_err as4_buf_printf(struct as4_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	as4_err err = as4_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return err;
}

as4_err as4_buf_put_xml_escaped(struct as4_buf *b, const char *s)
{
	size_t start_len = b->len;
	as4_err err = AS4_OK;
	const char *run = s;
	for (const char *p = s;; p++) {
		const char *rep = NULL;
		unsigned char c = (unsigned char)*p;
		if (c == '\0') {
			break;
		}
		switch (c) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&apos;";
			break;
		case '\r':
			/* keep CR through parsers that normalise line ends */
			rep = "&#13;";
			break;
		default:
			if (c < 0x20 && c != '\t' && c != '\n') {
				err = AS4_E_INVAL;
				goto out;
			}
			break;
		}
		if (rep != NULL) {
			err = as4_buf_append(b, run, (size_t)(p - run));
			if (err == AS4_OK) {
				err = as4_buf_puts(b, rep);
			}
			if (err != AS4_OK) {
				goto out;
			}
			run = p + 1;
		}
	}
	err = as4_buf_puts(b, run);
out:
	if (err != AS4_OK) {
		b->len = start_len;
		if (b->data != NULL) {
			b->data[b->len] = '\0';
		}
	}
	return err;
}

uint8_t *as4_buf_take(struct as4_buf *b, size_t *len)
{
	uint8_t *p = b->data;
	if (len != NULL) {
		*len = b->len;
	}
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

char *as4_buf_take_str(struct as4_buf *b)
{
	if (b->data == NULL) {
		return calloc(1, 1);
	}
	return (char *)as4_buf_take(b, NULL);
}
