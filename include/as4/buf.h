/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded dynamic byte buffers (STYLE rule 10; after curl's dynbuf).
 *
 * Network bytes only go into buffers with a cap; appending past it fails with AS4_E_LIMIT and
 * leaves the buffer as it was. The contents are always followed by a NUL byte (not counted in
 * len), so text can be used as a C string. A zeroed struct is not valid: call as4_buf_init().
 * Not thread-safe; one owner at a time.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "as4/compiler.h"
#include "as4/err.h"

struct as4_buf {
	uint8_t *data; /* contents, NUL-terminated; NULL until the first append */
	size_t len;    /* bytes used (without the terminating NUL) */
	size_t cap;    /* bytes allocated */
	size_t max;    /* the cap: len never exceeds it */
};

/* Prepare an empty buffer that may grow to max bytes. Allocates nothing. */
void as4_buf_init(struct as4_buf *b, size_t max);

/* Free the contents; b is empty (and still usable with the same max) afterwards. NULL ok. */
void as4_buf_cleanup(struct as4_buf *b);

/* Forget the contents but keep the allocation. */
void as4_buf_reset(struct as4_buf *b);

/* Make room for n more bytes. AS4_E_LIMIT past max, AS4_E_NOMEM. */
AS4_MUST_CHECK as4_err as4_buf_reserve(struct as4_buf *b, size_t n);

/* Append n bytes. AS4_E_LIMIT past max (b unchanged), AS4_E_NOMEM. */
AS4_MUST_CHECK as4_err as4_buf_append(struct as4_buf *b, const void *p, size_t n);

/* Append a NUL-terminated string (without its NUL). */
AS4_MUST_CHECK as4_err as4_buf_puts(struct as4_buf *b, const char *s);

/* Append one byte. */
AS4_MUST_CHECK as4_err as4_buf_putc(struct as4_buf *b, uint8_t c);

/* Append formatted text. AS4_E_LIMIT past max (b unchanged). */
AS4_MUST_CHECK AS4_PRINTF(2, 3) as4_err as4_buf_printf(struct as4_buf *b, const char *fmt, ...);

/* va_list variant of as4_buf_printf(). */
AS4_MUST_CHECK AS4_PRINTF(2, 0) as4_err
        as4_buf_vprintf(struct as4_buf *b, const char *fmt, va_list ap);

/*
 * Append s with XML escaping for text and attribute values (& < > " ' and control characters
 * other than tab, CR, LF are refused with AS4_E_INVAL since XML 1.0 cannot carry them).
 */
AS4_MUST_CHECK as4_err as4_buf_put_xml_escaped(struct as4_buf *b, const char *s);

/*
 * Take the contents: returns the heap block (NUL-terminated, caller frees with free()) and its
 * length in *len (may be NULL). b is empty afterwards. Returns NULL for an empty buffer that
 * never allocated; use as4_buf_take_str() when an empty string is wanted.
 */
uint8_t *as4_buf_take(struct as4_buf *b, size_t *len);

/* Like as4_buf_take(), but always returns a string (an allocated "" when empty); NULL = OOM. */
char *as4_buf_take_str(struct as4_buf *b);
