/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Time: milliseconds since the Unix epoch (UTC) everywhere; RFC 3339 / xsd:dateTime text only
 * at the edges. Thread-safe.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "as4/compiler.h"
#include "as4/err.h"

/* Wall-clock time in ms since the epoch. */
int64_t as4_time_now_ms(void);

/* Monotonic time in ms (for timeouts and durations). */
int64_t as4_time_mono_ms(void);

/* Monotonic time in ns (for latency measurements). */
int64_t as4_time_mono_ns(void);

/* Longest formatted time including NUL: "2026-11-22T03:49:43.123Z". */
#define AS4_TIME_TEXT_MAX 32

/* Format ms as UTC xsd:dateTime with milliseconds and "Z" (ebMS3 Core §5.2.2.1). */
void as4_time_format(int64_t ms, char out[AS4_TIME_TEXT_MAX]);

/*
 * Parse an xsd:dateTime / RFC 3339 time: YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm); a time
 * without a zone is taken as UTC. Also accepts a plain date YYYY-MM-DD (midnight UTC).
 * AS4_E_INVAL on anything else.
 */
AS4_MUST_CHECK as4_err as4_time_parse(const char *s, int64_t *out_ms);
