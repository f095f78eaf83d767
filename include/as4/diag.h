/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Diagnostics travel with the context; the first failure wins (STYLE rule 7).
 *
 * A struct as4_diag is owned by whoever runs an operation (a receive context, an API request,
 * a config load). Lower layers record what went wrong in it and return the same as4_err. The
 * text becomes the ebMS ErrorDetail, the JSON "message" of an API error and the log line, so it
 * must never contain secrets, payload bytes or CPR numbers.
 */
#pragma once

#include <stddef.h>

#include "as4/compiler.h"
#include "as4/err.h"

/* Longest diagnostic text kept (longer texts are truncated with "..."). */
#define AS4_DIAG_TEXT_MAX 480
/* Longest field path kept ("payloads[2].mime_type", "pmode.security.sign"). */
#define AS4_DIAG_FIELD_MAX 120

struct as4_diag {
	as4_err err;                    /* AS4_OK until the first failure is recorded */
	char text[AS4_DIAG_TEXT_MAX];   /* "" until set; NUL-terminated */
	char field[AS4_DIAG_FIELD_MAX]; /* the input field at fault, "" when none */
};

/* Reset d to "no error". d may be NULL (no-op). */
void as4_diag_init(struct as4_diag *d);

/*
 * Record a failure unless one is already recorded (the first one wins).
 * d may be NULL (then only err is returned). Returns the error now held by d (the first one),
 * or err when d is NULL, so callers can write `return as4_diag_set(d, AS4_E_X, "...")`.
 */
AS4_MUST_CHECK AS4_PRINTF(3, 4) as4_err
        as4_diag_set(struct as4_diag *d, as4_err err, const char *fmt, ...);

/* As as4_diag_set(), and also names the input field at fault (e.g. for API 400/422 answers). */
AS4_MUST_CHECK AS4_PRINTF(4, 5) as4_err as4_diag_set_field(struct as4_diag *d, as4_err err,
                                                           const char *field, const char *fmt, ...);

/*
 * Prefix the recorded text with context ("payload 2: "), keeping the first error code.
 * No-op when nothing is recorded or d is NULL.
 */
AS4_PRINTF(2, 3) void as4_diag_prefix(struct as4_diag *d, const char *fmt, ...);

/* The recorded text, or as4_strerror(err) when no text was given. Borrowed from d. */
const char *as4_diag_text(const struct as4_diag *d);
