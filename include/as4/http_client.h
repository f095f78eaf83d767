/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP client (L5, ap/transport/http_client.c) on libcurl: the send worker's POST to a peer MSH
 * and the webhook deliveries to backends. One client per thread; it keeps its connections
 * alive between requests (connection reuse). The request body is streamed from segments, so
 * a 1 GB payload is never copied; the response is read into a bounded buffer.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "as4/buf.h"
#include "as4/compiler.h"
#include "as4/diag.h"
#include "as4/err.h"
#include "as4/mime.h"

struct as4_http_client_opts {
	const char *ca_file;         /* PEM CAs for server certificates; NULL = system store */
	const char *const *ca_files; /* more PEM CA files, all trusted together */
	size_t n_ca_files;
	const char *client_cert;     /* PEM certificate for mTLS; NULL = none */
	const char *client_key;      /* PEM key for mTLS */
	bool insecure_skip_verify;   /* development only: do not verify the server */
	uint64_t connect_timeout_ms; /* 0 = 10 s */
	uint64_t timeout_ms;         /* whole request; 0 = 60 s */
	size_t max_response;         /* response body cap (AS4_E_LIMIT beyond); 0 = 1 MiB */
};

struct as4_http_client;

/* New client. *out owns it. AS4_E_NOMEM, AS4_E_CONFIG. Not thread-safe: one per thread. */
AS4_MUST_CHECK as4_err as4_http_client_new(const struct as4_http_client_opts *opts,
                                           struct as4_http_client **out, struct as4_diag *d);

/* Free a client (closing its connections). NULL ok. */
void as4_http_client_free(struct as4_http_client *c);

/*
 * Use timeout_ms for the whole exchange of the following requests (0 = the timeout_ms the
 * client was created with), e.g. a PMode's per-attempt timeout. Not thread-safe (one client
 * per thread).
 */
void as4_http_client_set_timeout(struct as4_http_client *c, uint64_t timeout_ms);

/* What came back. */
struct as4_http_result {
	long status;            /* HTTP status, 0 when no response arrived */
	char content_type[256]; /* response Content-Type ("" when none) */
	struct as4_buf body;    /* response body (owned; as4_http_result_cleanup) */
	uint64_t elapsed_us;    /* total time of the exchange */
};

/* Prepare an empty result. */
void as4_http_result_init(struct as4_http_result *r, size_t max_body);

/* Release a result. NULL ok. */
void as4_http_result_cleanup(struct as4_http_result *r);

/*
 * POST the concatenation of segs to url with the given Content-Type and extra header lines
 * ("Name: value", may be NULL). Any HTTP status is a success of this call (the caller judges
 * it); errors mean no usable response:
 *   AS4_E_CONNECTION    refused, unreachable, DNS failure, connection reset
 *   AS4_E_PEER_TLS      TLS handshake or certificate verification failed
 *   AS4_E_PEER_TIMEOUT  no complete answer within the timeout
 *   AS4_E_LIMIT         response body over max_response
 * with a diagnostic naming the URL and libcurl's reason.
 */
AS4_MUST_CHECK as4_err as4_http_post(struct as4_http_client *c, const char *url,
                                     const char *content_type, const struct as4_mime_seg *segs,
                                     size_t n_segs, const char *const *headers, size_t n_headers,
                                     struct as4_http_result *res, struct as4_diag *d);

/* One-time libcurl set-up; call from main before threads start. */
AS4_MUST_CHECK as4_err as4_http_client_global_init(void);

/* Undo as4_http_client_global_init() at exit. */
void as4_http_client_global_cleanup(void);
