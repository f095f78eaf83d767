/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP server (L5, ap/transport/http_server.c) on libmicrohttpd, used for both listeners:
 * the public MSH endpoint and the internal API.
 *
 * Each connection has its own thread, so handlers may block (on the store's group commit,
 * on crypto) without holding up other connections. A request reaches the handler in two
 * steps: `head` sees method, path and headers before any body byte is read (authentication,
 * size checks: refusing there means a 2 GB upload from a stranger is never read), then
 * `handle` gets the complete body as a blob (heap, or a spool file above the threshold).
 *
 * TLS (GnuTLS inside libmicrohttpd): TLS 1.2 minimum, 1.3 preferred, AEAD suites with
 * forward secrecy only; optional client certificates verified against a CA list.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "as4/blob.h"
#include "as4/buf.h"
#include "as4/compiler.h"
#include "as4/diag.h"
#include "as4/err.h"

struct as4_http_req; /* opaque; valid during the callbacks only */

/* Request method ("POST"); borrowed. */
const char *as4_http_req_method(const struct as4_http_req *r);

/* Request path without query ("/as4"); borrowed. */
const char *as4_http_req_path(const struct as4_http_req *r);

/* A header value by case-insensitive name, or NULL; borrowed. */
const char *as4_http_req_header(const struct as4_http_req *r, const char *name);

/* A query argument by name (decoded), or NULL; borrowed. */
const char *as4_http_req_query(const struct as4_http_req *r, const char *name);

/*
 * The names of the request's query arguments in order: the first cap go to names (borrowed,
 * valid during the callbacks only). Returns how many there are (may exceed cap), so a handler
 * can refuse arguments it does not know instead of ignoring a misspelt filter.
 */
size_t as4_http_req_query_names(const struct as4_http_req *r, const char **names, size_t cap);

/* The client's address as text ("127.0.0.1:53412"); borrowed. */
const char *as4_http_req_peer(const struct as4_http_req *r);

/*
 * The verified TLS client certificate's subject DN (RFC 4514 text), or NULL when the
 * connection is plain HTTP or the client sent none. Borrowed.
 */
const char *as4_http_req_client_subject(const struct as4_http_req *r);

/*
 * The verified TLS client certificate (DER) or NULL; *len receives its size. Borrowed.
 */
const uint8_t *as4_http_req_client_cert_der(const struct as4_http_req *r, size_t *len);

/* Per-request slot for the handler's own state between `head` and `handle`. */
void as4_http_req_set_user(struct as4_http_req *r, void *user, void (*free_fn)(void *));
void *as4_http_req_user(const struct as4_http_req *r);

/* A response built by a handler. */
struct as4_http_resp {
	unsigned status;          /* HTTP status code */
	const char *content_type; /* static or owned by the handler's request state */
	struct as4_buf body;      /* body bytes (owned; sent then freed) */
	int file_fd;              /* >= 0: send this file instead of body (taken: closed after) */
	uint64_t file_len;        /* bytes of file_fd to send from offset 0 */
	char extra_headers[512];  /* "Name: value\r\n" lines, or "" */
};

/*
 * Called once per request after the headers, before the body. Return true to go on (the body
 * is read, then `handle` is called); return false after filling resp to answer at once (the
 * body is not read).
 */
typedef bool (*as4_http_head_fn)(void *ctx, struct as4_http_req *req, struct as4_http_resp *resp);

/* Called with the complete body; fills resp. body is owned by the server. */
typedef void (*as4_http_handle_fn)(void *ctx, struct as4_http_req *req, const struct as4_blob *body,
                                   struct as4_http_resp *resp);

struct as4_http_opts {
	const char *name;    /* listener name for logs ("msh", "api") */
	const char *address; /* IPv4/IPv6 literal to bind ("127.0.0.1", "::", "0.0.0.0") */
	uint16_t port;       /* 0 = choose a free port (see as4_http_server_port) */
	/* TLS: all NULL = plain HTTP */
	const char *tls_cert_path;      /* PEM: certificate chain */
	const char *tls_key_path;       /* PEM: private key */
	const char *tls_client_ca_path; /* PEM: CAs for client certificates; NULL = none asked */
	bool tls_require_client_cert;   /* refuse requests without a verified client certificate */
	bool tls13_only;                /* TLS 1.3 only (else 1.2 and 1.3) */
	/* limits */
	uint64_t max_body;        /* bodies above: 413 before reading them */
	unsigned max_connections; /* concurrent connections (0 = 256) */
	unsigned timeout_s;       /* idle connection timeout (0 = 60) */
	const char *spool_dir;    /* large bodies go to unnamed files here (NULL = memory) */
	size_t spool_threshold;
	as4_http_head_fn head; /* may be NULL (accept all) */
	as4_http_handle_fn handle;
	void *ctx;
};

struct as4_http_server;

/*
 * Start a listener with its own threads. *out owns the server. Errors: AS4_E_IO (bind),
 * AS4_E_CONFIG (TLS files unreadable or invalid), with a diagnostic.
 */
AS4_MUST_CHECK as4_err as4_http_server_start(const struct as4_http_opts *opts,
                                             struct as4_http_server **out, struct as4_diag *d);

/* The bound port (useful with port 0). */
uint16_t as4_http_server_port(const struct as4_http_server *s);

/*
 * Graceful stop: close the listening socket (no new connections), wait up to grace_ms for
 * in-flight requests to finish, then stop all threads and free the server. NULL ok.
 */
void as4_http_server_stop(struct as4_http_server *s, unsigned grace_ms);

/* Number of requests being processed right now. */
unsigned as4_http_server_inflight(const struct as4_http_server *s);

/* Set a JSON error response {"error":{"code":...,"message":...,"field":...}}. */
void as4_http_resp_json_error(struct as4_http_resp *resp, unsigned status, const char *code,
                              const char *message, const char *field);
