/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to ap/cli: the client side of the online as4ctl commands (send, ping, messages,
 * show, retry, status, pmode list|get|apply|delete|validate --online, certs list). They talk
 * to the internal API of a running as4d over HTTP(S) with libcurl, the token coming from the
 * environment or a file, never from the command line (where `ps` would show it).
 *
 * Connection settings, each from an option or else the environment:
 *   --url URL          AS4CTL_URL          default http://127.0.0.1:8081
 *   --token-file FILE  AS4CTL_TOKEN_FILE   first line of FILE ("-" = standard input)
 *                      AS4CTL_TOKEN        the token itself
 *   --cacert FILE      AS4CTL_CACERT       CA for an https API (default: the system store)
 *   --cert FILE --key FILE                 client certificate and key when the API wants mTLS
 *                      AS4CTL_CERT, AS4CTL_KEY
 *   --timeout SECONDS  AS4CTL_TIMEOUT      whole request (default 120)
 *
 * Exit codes (cli.h): 0 success, 1 the API refused or the operation failed, 2 usage error,
 * 3 the API could not be reached (connection, TLS, timeout).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "as4/buf.h"

/* The connection settings of one run. */
struct online {
	const char *url;        /* base URL without /api/v1 */
	char *token;            /* heap; wiped and freed by online_cleanup() */
	const char *token_file; /* --token-file (else AS4CTL_TOKEN_FILE, AS4CTL_TOKEN) */
	const char *cacert;     /* NULL = system store */
	const char *cert;       /* client certificate (mTLS), NULL = none */
	const char *key;        /* its key */
	long timeout_s;
	bool json;        /* print the API's JSON instead of text */
	bool quiet;       /* print only what scripts need (ids) */
	const char *prog; /* "as4ctl send", for messages */
};

/*
 * Defaults from the environment and libcurl's global set-up (reference-counted; undone by
 * online_cleanup()). prog names the command in messages.
 */
void online_init(struct online *o, const char *prog);

/* Wipe the token and release libcurl. */
void online_cleanup(struct online *o);

/*
 * If argv[*i] is a common option (--url, --token-file, --cacert, --cert, --key, --timeout,
 * --json, --quiet), consume it (and its value: *i advances) and return 1; return 0 when it is
 * not one; -1 after printing a usage error (a missing value).
 */
int online_common_opt(struct online *o, int argc, char **argv, int *i);

/* The help text of the common options (for the commands' usage texts). */
extern const char online_common_help[];

/*
 * Read the token (once, before the first request). Returns 0, or AS4CTL_USAGE after saying
 * how to give one.
 */
int online_token(struct online *o);

/* A multipart/form-data part for online_call(): data in memory or a file. */
struct online_part {
	const char *name;         /* form field name */
	const char *filename;     /* file to send (data NULL), also the part's filename */
	const char *data;         /* in-memory data (NUL-terminated), or NULL */
	const char *content_type; /* the part's Content-Type */
};

/* A request to the API. path starts with "/" and is relative to the base URL. */
struct online_req {
	const char *method;       /* GET, POST, PUT, DELETE */
	const char *path;         /* e.g. "/api/v1/messages?direction=out" (already encoded) */
	const char *content_type; /* of body */
	const char *body;         /* request body or NULL */
	size_t body_len;
	const struct online_part *parts; /* multipart/form-data instead of body */
	size_t n_parts;
};

/*
 * Send a request. On a 2xx answer with a JSON body *out receives it (a new reference; NULL for
 * an empty or non-JSON body; raw (may be NULL) receives the bytes) and 0 is returned. An
 * error answer is printed as "<prog>: <status> <code>: <message> (field)" and 1 is returned
 * with *out NULL; *status (may be NULL) gets the HTTP status. A transport failure is printed
 * and AS4CTL_UNAVAILABLE returned.
 */
int online_call(struct online *o, const struct online_req *rq, json_t **out, struct as4_buf *raw,
                long *status);

/* Percent-encode s for a URL path segment or query value into out (capacity cap). */
void online_escape(const char *s, char *out, size_t cap);

/* Print v as indented JSON on standard output. */
void online_print_json(const json_t *v);
