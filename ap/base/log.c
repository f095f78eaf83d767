/* SPDX-License-Identifier: Apache-2.0 */
/* The log sink: global state item (1) of STYLE rule 13. */
#include "as4/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "as4/buf.h"
#include "as4/time.h"

static int log_fd = 2;
static enum as4_log_format log_format = AS4_LOG_JSON;
static _Atomic int log_level = AS4_LOG_INFO;

static const char *const level_names[] = {
        [AS4_LOG_ERR] = "error", [AS4_LOG_WARNING] = "warning", [AS4_LOG_NOTICE] = "notice",
        [AS4_LOG_INFO] = "info", [AS4_LOG_DEBUG] = "debug",
};

void as4_log_setup(int fd, enum as4_log_format fmt, enum as4_log_level level)
{
	log_fd = fd;
	log_format = fmt;
	atomic_store(&log_level, (int)level);
}

void as4_log_set_level(enum as4_log_level level)
{
	atomic_store(&log_level, (int)level);
}

enum as4_log_level as4_log_get_level(void)
{
	return (enum as4_log_level)atomic_load(&log_level);
}

as4_err as4_log_level_parse(const char *s, enum as4_log_level *out)
{
	for (int l = AS4_LOG_ERR; l <= AS4_LOG_DEBUG; l++) {
		if (strcmp(s, level_names[l]) == 0) {
			*out = (enum as4_log_level)l;
			return AS4_OK;
		}
	}
	return AS4_E_INVAL;
}

const char *as4_log_level_name(enum as4_log_level level)
{
	if (level < AS4_LOG_ERR || level > AS4_LOG_DEBUG) {
		return "info";
	}
	return level_names[level];
}

/* JSON string body escaping (RFC 8259 §7); control bytes as \u00XX. */
static as4_err put_json_str(struct as4_buf *b, const char *s)
{
	as4_err err = as4_buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; err == AS4_OK && *p; p++) {
		switch (*p) {
		case '"':
			err = as4_buf_puts(b, "\\\"");
			break;
		case '\\':
			err = as4_buf_puts(b, "\\\\");
			break;
		case '\n':
			err = as4_buf_puts(b, "\\n");
			break;
		case '\r':
			err = as4_buf_puts(b, "\\r");
			break;
		case '\t':
			err = as4_buf_puts(b, "\\t");
			break;
		default:
			if (*p < 0x20) {
				err = as4_buf_printf(b, "\\u%04x", *p);
			} else {
				err = as4_buf_putc(b, *p);
			}
		}
	}
	if (err == AS4_OK) {
		err = as4_buf_putc(b, '"');
	}
	return err;
}

/* logfmt value: bare when simple, else quoted with \" and \\ escaped and controls dropped. */
static as4_err put_logfmt_val(struct as4_buf *b, const char *s)
{
	bool plain = *s != '\0';
	for (const char *p = s; *p; p++) {
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\') {
			plain = false;
			break;
		}
	}
	if (plain) {
		return as4_buf_puts(b, s);
	}
	as4_err err = as4_buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; err == AS4_OK && *p; p++) {
		if (*p == '"' || *p == '\\') {
			err = as4_buf_putc(b, '\\');
			if (err == AS4_OK) {
				err = as4_buf_putc(b, *p);
			}
		} else if (*p < 0x20) {
			err = as4_buf_putc(b, ' ');
		} else {
			err = as4_buf_putc(b, *p);
		}
	}
	if (err == AS4_OK) {
		err = as4_buf_putc(b, '"');
	}
	return err;
}

static as4_err put_field(struct as4_buf *b, const char *key, const char *val, bool first)
{
	as4_err err;
	if (log_format == AS4_LOG_JSON) {
		err = as4_buf_printf(b, "%s\"%s\":", first ? "{" : ",", key);
		if (err == AS4_OK) {
			err = put_json_str(b, val);
		}
	} else {
		err = as4_buf_printf(b, "%s%s=", first ? "" : " ", key);
		if (err == AS4_OK) {
			err = put_logfmt_val(b, val);
		}
	}
	return err;
}

void as4_log_vctx(enum as4_log_level level, const struct as4_log_ctx *ctx, const char *fmt,
                  va_list ap)
{
	if ((int)level > atomic_load(&log_level)) {
		return;
	}
	int saved_errno = errno;
	char ts[AS4_TIME_TEXT_MAX];
	as4_time_format(as4_time_now_ms(), ts);
	struct as4_buf text;
	struct as4_buf line;
	as4_buf_init(&text, 8192);
	as4_buf_init(&line, 16384);
	if (as4_buf_vprintf(&text, fmt, ap) != AS4_OK) {
		as4_buf_reset(&text);
		if (as4_buf_puts(&text, "(log text too long)") != AS4_OK) {
			goto out;
		}
	}
	as4_err err = put_field(&line, "ts", ts, true);
	if (err == AS4_OK) {
		err = put_field(&line, "level", as4_log_level_name(level), false);
	}
	if (err == AS4_OK && ctx != NULL) {
		const char *keys[] = {"message_id", "pmode", "peer", "ebms_code"};
		const char *vals[] = {ctx->message_id, ctx->pmode, ctx->peer, ctx->ebms_code};
		for (size_t i = 0; err == AS4_OK && i < 4; i++) {
			if (vals[i] != NULL) {
				err = put_field(&line, keys[i], vals[i], false);
			}
		}
	}
	if (err == AS4_OK) {
		err = put_field(&line, "msg", text.data ? (const char *)text.data : "", false);
	}
	if (err == AS4_OK) {
		err = as4_buf_puts(&line, log_format == AS4_LOG_JSON ? "}\n" : "\n");
	}
	if (err == AS4_OK) {
		const uint8_t *p = line.data;
		size_t n = line.len;
		while (n > 0) {
			ssize_t w = write(log_fd, p, n);
			if (w < 0 && errno == EINTR) {
				continue;
			}
			if (w <= 0) {
				break;
			}
			p += w;
			n -= (size_t)w;
		}
	}
out:
	as4_buf_cleanup(&text);
	as4_buf_cleanup(&line);
	errno = saved_errno;
}

void as4_log_ctx(enum as4_log_level level, const struct as4_log_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	as4_log_vctx(level, ctx, fmt, ap);
	va_end(ap);
}

void as4_log(enum as4_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	as4_log_vctx(level, NULL, fmt, ap);
	va_end(ap);
}
