/* SPDX-License-Identifier: Apache-2.0 */
#include "as4/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "as4/str.h"

void as4_diag_init(struct as4_diag *d)
{
	if (d == NULL) {
		return;
	}
	d->err = AS4_OK;
	d->text[0] = '\0';
	d->field[0] = '\0';
}

/* Format into d->text, marking truncation with "..." so a cut detail is recognisable. */
AS4_PRINTF(2, 0) static void diag_vformat(struct as4_diag *d, const char *fmt, va_list ap)
{
	int n = vsnprintf(d->text, sizeof(d->text), fmt, ap);
	if (n >= (int)sizeof(d->text)) {
		memcpy(d->text + sizeof(d->text) - 4, "...", 4);
	}
	if (n < 0) {
		d->text[0] = '\0';
	}
}

as4_err as4_diag_set(struct as4_diag *d, as4_err err, const char *fmt, ...)
{
	if (d == NULL) {
		return err;
	}
	if (d->err != AS4_OK) {
		return d->err;
	}
	d->err = err;
	va_list ap;
	va_start(ap, fmt);
	diag_vformat(d, fmt, ap);
	va_end(ap);
	return err;
}

as4_err as4_diag_set_field(struct as4_diag *d, as4_err err, const char *field, const char *fmt, ...)
{
	if (d == NULL) {
		return err;
	}
	if (d->err != AS4_OK) {
		return d->err;
	}
	d->err = err;
	if (field != NULL && as4_str_copy(d->field, sizeof(d->field), field) != AS4_OK) {
		/* truncated field path is still useful */
	}
	va_list ap;
	va_start(ap, fmt);
	diag_vformat(d, fmt, ap);
	va_end(ap);
	return err;
}

void as4_diag_prefix(struct as4_diag *d, const char *fmt, ...)
{
	if (d == NULL || d->err == AS4_OK) {
		return;
	}
	char prefix[AS4_DIAG_TEXT_MAX];
	char old[AS4_DIAG_TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	if (n < 0) {
		return;
	}
	memcpy(old, d->text, sizeof(old));
	n = snprintf(d->text, sizeof(d->text), "%s%s", prefix, old);
	if (n >= (int)sizeof(d->text)) {
		memcpy(d->text + sizeof(d->text) - 4, "...", 4);
	}
}

const char *as4_diag_text(const struct as4_diag *d)
{
	if (d->text[0] != '\0') {
		return d->text;
	}
	return as4_strerror(d->err);
}
