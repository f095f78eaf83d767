/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging. Only the top layer (ap/transport, ap/api, main, cli) logs (STYLE rule 15); lower
 * layers return as4_err plus a diagnostic. The sink is one of the three pieces of global state
 * (STYLE rule 13): set once in main with as4_log_setup(), level changeable at runtime.
 *
 * Output: one line per record, JSON objects ({"ts":...,"level":...,"msg":...,"message_id":...})
 * or logfmt (ts=... level=... msg="..." message_id=...). Never log payloads, keys, passwords,
 * signed XML or CPR numbers.
 * Thread-safe: each record is written with one write(2).
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

#include "as4/compiler.h"
#include "as4/err.h"

/* Severities, numerically equal to syslog's. */
enum as4_log_level {
	AS4_LOG_ERR = 3,
	AS4_LOG_WARNING = 4,
	AS4_LOG_NOTICE = 5,
	AS4_LOG_INFO = 6,
	AS4_LOG_DEBUG = 7,
};

/* Line format. */
enum as4_log_format {
	AS4_LOG_JSON = 0,
	AS4_LOG_LOGFMT = 1,
};

/* Context fields attached to a message-related record; any field may be NULL. */
struct as4_log_ctx {
	const char *message_id; /* eb:MessageId */
	const char *pmode;      /* PMode id */
	const char *peer;       /* peer party or endpoint */
	const char *ebms_code;  /* "EBMS:0101" when an ebMS error is involved */
};

/*
 * Configure the sink: fd to write to (2 = stderr), format, minimum level. Call once in main
 * before threads start; the fd is not closed by the logger.
 */
void as4_log_setup(int fd, enum as4_log_format fmt, enum as4_log_level level);

/* Change the minimum level at runtime (atomic). */
void as4_log_set_level(enum as4_log_level level);

/* Current minimum level. */
enum as4_log_level as4_log_get_level(void);

/* Parse "error", "warning", "notice", "info", "debug". AS4_E_INVAL otherwise. */
AS4_MUST_CHECK as4_err as4_log_level_parse(const char *s, enum as4_log_level *out);

/* Name of a level ("info"). */
const char *as4_log_level_name(enum as4_log_level level);

/* Write a record without message context. */
AS4_PRINTF(2, 3) void as4_log(enum as4_log_level level, const char *fmt, ...);

/* Write a record with message context (ctx may be NULL). */
AS4_PRINTF(3, 4)
void as4_log_ctx(enum as4_log_level level, const struct as4_log_ctx *ctx, const char *fmt, ...);

/* va_list variant of as4_log_ctx(). */
AS4_PRINTF(3, 0)
void as4_log_vctx(enum as4_log_level level, const struct as4_log_ctx *ctx, const char *fmt,
                  va_list ap);
