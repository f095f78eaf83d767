/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libmicrohttpd glue. One thread per connection: handlers block on the store's group commit and
 * on RSA, and a peer's keep-alive connection maps naturally onto one thread.
 */
#include "as4/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

#include "as4/log.h"
#include "as4/str.h"
#include "as4/time.h"

/*
 * TLS 1.2 and 1.3 only; AEAD ciphers with ECDHE (forward secrecy) for 1.2; the server's order
 * wins. GnuTLS picks the highest common version, so 1.3 is preferred whenever the client has it.
 */
static const char tls_priorities_12_13[] =
        "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:"
        "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-RSA:+ECDHE-ECDSA:%SERVER_PRECEDENCE";
static const char tls_priorities_13[] =
        "SECURE128:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:"
        "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:%SERVER_PRECEDENCE";

struct as4_http_server {
	struct MHD_Daemon *mhd;
	struct as4_http_opts opts;
	char *name;
	char *spool_dir;
	uint16_t port;
	atomic_uint inflight;
	bool tls;
};

struct as4_http_req {
	struct as4_http_server *srv;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	char peer[64];
	bool client_checked;
	char *client_subject;
	uint8_t *client_der;
	size_t client_der_len;
	struct as4_sink sink;
	bool answered; /* a response was queued before the body was read */
	bool too_large;
	void *user;
	void (*user_free)(void *);
};

const char *as4_http_req_method(const struct as4_http_req *r)
{
	return r->method;
}

const char *as4_http_req_path(const struct as4_http_req *r)
{
	return r->path;
}

const char *as4_http_req_header(const struct as4_http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *as4_http_req_query(const struct as4_http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct query_names {
	const char **names;
	size_t cap;
	size_t n;
};

static enum MHD_Result add_query_name(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
	(void)kind;
	(void)value;
	struct query_names *q = cls;
	if (q->n < q->cap) {
		q->names[q->n] = key;
	}
	q->n++;
	return MHD_YES;
}

size_t as4_http_req_query_names(const struct as4_http_req *r, const char **names, size_t cap)
{
	struct query_names q = {names, cap, 0};
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_query_name, &q);
	return q.n;
}

const char *as4_http_req_peer(const struct as4_http_req *r)
{
	return r->peer;
}

/* Read and verify the client certificate once per request (GnuTLS verified it against the CA
 * list given to MHD; an unverified one is treated as absent). */
static void load_client_cert(struct as4_http_req *r)
{
	if (r->client_checked) {
		return;
	}
	r->client_checked = true;
	if (!r->srv->tls) {
		return;
	}
	const union MHD_ConnectionInfo *ci =
	        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL) {
		return;
	}
	gnutls_session_t session = (gnutls_session_t)ci->tls_session;
	unsigned status = 0;
	if (gnutls_certificate_verify_peers2(session, &status) != GNUTLS_E_SUCCESS || status != 0) {
		return;
	}
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(session, &n);
	if (certs == NULL || n == 0) {
		return;
	}
	gnutls_x509_crt_t crt;
	if (gnutls_x509_crt_init(&crt) != GNUTLS_E_SUCCESS) {
		return;
	}
	gnutls_datum_t dn = {NULL, 0};
	if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == GNUTLS_E_SUCCESS &&
	    gnutls_x509_crt_get_dn3(crt, &dn, 0) == GNUTLS_E_SUCCESS) {
		r->client_subject = as4_str_ndup((const char *)dn.data, dn.size);
		r->client_der = malloc(certs[0].size);
		if (r->client_der != NULL) {
			memcpy(r->client_der, certs[0].data, certs[0].size);
			r->client_der_len = certs[0].size;
		}
	}
	gnutls_free(dn.data);
	gnutls_x509_crt_deinit(crt);
}

const char *as4_http_req_client_subject(const struct as4_http_req *r)
{
	load_client_cert((struct as4_http_req *)(uintptr_t)r);
	return r->client_subject;
}

const uint8_t *as4_http_req_client_cert_der(const struct as4_http_req *r, size_t *len)
{
	load_client_cert((struct as4_http_req *)(uintptr_t)r);
	*len = r->client_der_len;
	return r->client_der;
}

void as4_http_req_set_user(struct as4_http_req *r, void *user, void (*free_fn)(void *))
{
	if (r->user_free != NULL) {
		r->user_free(r->user);
	}
	r->user = user;
	r->user_free = free_fn;
}

void *as4_http_req_user(const struct as4_http_req *r)
{
	return r->user;
}

void as4_http_resp_json_error(struct as4_http_resp *resp, unsigned status, const char *code,
                              const char *message, const char *field)
{
	resp->status = status;
	resp->content_type = "application/json";
	as4_buf_reset(&resp->body);
	json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);
	if (err != NULL && field != NULL && field[0] != '\0') {
		json_object_set_new(err, "field", json_string(field));
	}
	json_t *root = err != NULL ? json_pack("{s:o}", "error", err) : NULL;
	char *text = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
	if (text == NULL || as4_buf_puts(&resp->body, text) != AS4_OK ||
	    as4_buf_putc(&resp->body, '\n') != AS4_OK) {
		as4_buf_reset(&resp->body);
		if (as4_buf_puts(&resp->body, "{\"error\":{\"code\":\"internal\"}}\n") != AS4_OK) {
			resp->status = 500;
		}
	}
	free(text);
	json_decref(root);
}

static void resp_init(struct as4_http_resp *resp, size_t max)
{
	memset(resp, 0, sizeof(*resp));
	resp->status = 500;
	resp->content_type = "text/plain";
	as4_buf_init(&resp->body, max);
	resp->file_fd = -1;
}

static void resp_cleanup(struct as4_http_resp *resp)
{
	as4_buf_cleanup(&resp->body);
	if (resp->file_fd >= 0) {
		close(resp->file_fd);
		resp->file_fd = -1;
	}
}

/* Turn a handler's response into an MHD response and queue it. */
static enum MHD_Result queue(struct MHD_Connection *conn, struct as4_http_resp *resp)
{
	struct MHD_Response *mr;
	if (resp->file_fd >= 0) {
		mr = MHD_create_response_from_fd64(resp->file_len, resp->file_fd);
		if (mr != NULL) {
			resp->file_fd = -1; /* MHD closes it */
		}
	} else {
		size_t len = 0;
		uint8_t *data = as4_buf_take(&resp->body, &len);
		mr = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
		if (mr == NULL) {
			free(data);
		}
	}
	if (mr == NULL) {
		return MHD_NO;
	}
	if (resp->content_type != NULL) {
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
	}
	/* "Name: value\r\n" lines */
	char *lines = resp->extra_headers;
	while (*lines != '\0') {
		char *eol = strstr(lines, "\r\n");
		if (eol == NULL) {
			break;
		}
		*eol = '\0';
		char *colon = strchr(lines, ':');
		if (colon != NULL) {
			*colon = '\0';
			const char *v = colon + 1;
			while (*v == ' ') {
				v++;
			}
			MHD_add_response_header(mr, lines, v);
		}
		lines = eol + 2;
	}
	enum MHD_Result rc = MHD_queue_response(conn, resp->status, mr);
	MHD_destroy_response(mr);
	return rc;
}

static enum MHD_Result answer_now(struct MHD_Connection *conn, struct as4_http_req *r,
                                  struct as4_http_resp *resp)
{
	r->answered = true;
	enum MHD_Result rc = queue(conn, resp);
	resp_cleanup(resp);
	return rc;
}

static void peer_text(struct MHD_Connection *conn, char *out, size_t cap)
{
	snprintf(out, cap, "?");
	const union MHD_ConnectionInfo *ci =
	        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL) {
		return;
	}
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (ci->client_addr->sa_family == AF_INET) {
		const struct sockaddr_in *in =
		        (const struct sockaddr_in *)(const void *)ci->client_addr;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (ci->client_addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		        (const struct sockaddr_in6 *)(const void *)ci->client_addr;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	snprintf(out, cap, "%s:%u", host, port);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	(void)version;
	struct as4_http_server *srv = cls;
	struct as4_http_req *r = *con_cls;
	struct as4_http_resp resp;

	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL) {
			return MHD_NO;
		}
		r->srv = srv;
		r->conn = conn;
		r->method = method;
		r->path = url;
		peer_text(conn, r->peer, sizeof(r->peer));
		as4_sink_init(&r->sink, srv->spool_dir, srv->opts.spool_threshold,
		              srv->opts.max_body);
		atomic_fetch_add(&srv->inflight, 1);
		*con_cls = r;

		resp_init(&resp, 64 * 1024);
		if (srv->opts.tls_require_client_cert && as4_http_req_client_subject(r) == NULL) {
			as4_http_resp_json_error(&resp, 403, "client_certificate_required",
			                         "a verified TLS client certificate is required",
			                         NULL);
			return answer_now(conn, r, &resp);
		}
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
		uint64_t declared = 0;
		if (cl != NULL && as4_parse_u64(cl, UINT64_MAX, &declared) == AS4_OK &&
		    declared > srv->opts.max_body) {
			char msg[128];
			snprintf(msg, sizeof(msg),
			         "request body of %llu bytes exceeds the limit of "
			         "%llu bytes",
			         (unsigned long long)declared,
			         (unsigned long long)srv->opts.max_body);
			as4_http_resp_json_error(&resp, 413, "payload_too_large", msg, NULL);
			return answer_now(conn, r, &resp);
		}
		if (srv->opts.head != NULL && !srv->opts.head(srv->opts.ctx, r, &resp)) {
			return answer_now(conn, r, &resp);
		}
		resp_cleanup(&resp);
		return MHD_YES;
	}

	if (r->answered) {
		/* the response is queued; discard whatever body still arrives */
		*upload_data_size = 0;
		return MHD_YES;
	}

	if (*upload_data_size > 0) {
		as4_err err = as4_sink_write(&r->sink, upload_data, *upload_data_size);
		*upload_data_size = 0;
		if (err != AS4_OK) {
			resp_init(&resp, 4096);
			if (err == AS4_E_LIMIT) {
				char msg[128];
				snprintf(msg, sizeof(msg),
				         "request body exceeds the limit of %llu bytes",
				         (unsigned long long)srv->opts.max_body);
				as4_http_resp_json_error(&resp, 413, "payload_too_large", msg,
				                         NULL);
			} else {
				as4_log(AS4_LOG_ERR, "%s: cannot spool request body from %s: %s",
				        srv->name, r->peer, as4_strerror(err));
				as4_http_resp_json_error(
				        &resp, err == AS4_E_SPACE ? 503 : 500, "spool_failed",
				        "the request body could not be stored", NULL);
			}
			return answer_now(conn, r, &resp);
		}
		return MHD_YES;
	}

	/* end of the body: hand it to the handler */
	struct as4_blob body;
	as4_err err = as4_sink_finish(&r->sink, &body);
	resp_init(&resp, SIZE_MAX / 2);
	if (err != AS4_OK) {
		as4_http_resp_json_error(&resp, 500, "spool_failed", as4_strerror(err), NULL);
	} else {
		srv->opts.handle(srv->opts.ctx, r, &body, &resp);
	}
	as4_blob_cleanup(&body);
	return answer_now(conn, r, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)conn;
	(void)toe;
	struct as4_http_server *srv = cls;
	struct as4_http_req *r = *con_cls;
	if (r == NULL) {
		return;
	}
	as4_sink_cleanup(&r->sink);
	if (r->user_free != NULL) {
		r->user_free(r->user);
	}
	free(r->client_subject);
	free(r->client_der);
	free(r);
	*con_cls = NULL;
	atomic_fetch_sub(&srv->inflight, 1);
}

AS4_PRINTF(2, 0) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct as4_http_server *srv = cls;
	char text[512];
	vsnprintf(text, sizeof(text), fmt, ap);
	size_t n = strlen(text);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r')) {
		text[--n] = '\0';
	}
	as4_log(AS4_LOG_DEBUG, "%s: libmicrohttpd: %s", srv->name, text);
}

/* Read a PEM file for GnuTLS; the key file must not be readable by group or others. */
static as4_err read_pem(const char *path, bool secret, char **out, size_t *len, struct as4_diag *d)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		return as4_diag_set(d, AS4_E_CONFIG, "cannot read %s: %s", path, strerror(errno));
	}
	if (secret && (st.st_mode & 077) != 0) {
		return as4_diag_set(d, AS4_E_CONFIG,
		                    "TLS key %s is readable by group or others (chmod 600 it)",
		                    path);
	}
	uint8_t *buf = NULL;
	as4_err err = as4_file_read(path, 1024 * 1024, &buf, len);
	if (err != AS4_OK) {
		return as4_diag_set(d, AS4_E_CONFIG, "cannot read %s: %s", path, as4_strerror(err));
	}
	*out = (char *)buf;
	return AS4_OK;
}

as4_err as4_http_server_start(const struct as4_http_opts *opts, struct as4_http_server **out,
                              struct as4_diag *d)
{
	*out = NULL;
	as4_err err = AS4_OK;
	char *cert = NULL;
	char *key = NULL;
	char *ca = NULL;
	size_t cert_len = 0;
	size_t key_len = 0;
	size_t ca_len = 0;
	struct as4_http_server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	srv->opts = *opts;
	srv->name = as4_str_dup(opts->name != NULL ? opts->name : "http");
	srv->spool_dir = opts->spool_dir != NULL ? as4_str_dup(opts->spool_dir) : NULL;
	if (srv->name == NULL || (opts->spool_dir != NULL && srv->spool_dir == NULL)) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	if (srv->opts.max_connections == 0) {
		srv->opts.max_connections = 256;
	}
	if (srv->opts.timeout_s == 0) {
		srv->opts.timeout_s = 60;
	}

	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_ITC | MHD_USE_ERROR_LOG;
	const char *addr = opts->address != NULL ? opts->address : "127.0.0.1";
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(opts->port);
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(opts->port);
		flags |= MHD_USE_IPv6;
	} else {
		err = as4_diag_set(d, AS4_E_CONFIG, "%s listener: '%s' is not an IP address",
		                   srv->name, addr);
		goto out;
	}

	srv->tls = opts->tls_cert_path != NULL;
	if (srv->tls) {
		if (opts->tls_key_path == NULL) {
			err = as4_diag_set(d, AS4_E_CONFIG,
			                   "%s listener: TLS certificate without key", srv->name);
			goto out;
		}
		err = read_pem(opts->tls_cert_path, false, &cert, &cert_len, d);
		if (err == AS4_OK) {
			err = read_pem(opts->tls_key_path, true, &key, &key_len, d);
		}
		if (err == AS4_OK && opts->tls_client_ca_path != NULL) {
			err = read_pem(opts->tls_client_ca_path, false, &ca, &ca_len, d);
		}
		if (err != AS4_OK) {
			goto out;
		}
		flags |= MHD_USE_TLS;
	}

	struct MHD_OptionItem tls_opts[5];
	size_t nt = 0;
	if (srv->tls) {
		tls_opts[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, cert};
		tls_opts[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, key};
		tls_opts[nt++] = (struct MHD_OptionItem){
		        MHD_OPTION_HTTPS_PRIORITIES, 0,
		        (void *)(uintptr_t)(opts->tls13_only ? tls_priorities_13
		                                             : tls_priorities_12_13)};
		if (ca != NULL) {
			tls_opts[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, ca};
		}
	}
	tls_opts[nt] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

	srv->mhd = MHD_start_daemon(
	        flags, opts->port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
	        on_mhd_log, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_CONNECTION_LIMIT,
	        srv->opts.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, srv->opts.timeout_s,
	        MHD_OPTION_THREAD_STACK_SIZE, (size_t)(2u * 1024 * 1024), MHD_OPTION_ARRAY,
	        tls_opts, MHD_OPTION_END);
	if (srv->mhd == NULL) {
		err = as4_diag_set(d, srv->tls ? AS4_E_CONFIG : AS4_E_IO,
		                   "%s listener: cannot start on %s port %u%s", srv->name, addr,
		                   (unsigned)opts->port,
		                   srv->tls ? " (address in use, or TLS certificate/key invalid)"
		                            : " (address in use?)");
		goto out;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di != NULL ? di->port : opts->port;
	*out = srv;
	srv = NULL;
out:
	if (key != NULL) {
		/* GnuTLS has its own copy now; this one must not linger in the heap */
		OPENSSL_cleanse(key, key_len);
		free(key);
	}
	free(cert);
	free(ca);
	if (srv != NULL) {
		free(srv->name);
		free(srv->spool_dir);
		free(srv);
	}
	return err;
}

uint16_t as4_http_server_port(const struct as4_http_server *s)
{
	return s->port;
}

unsigned as4_http_server_inflight(const struct as4_http_server *s)
{
	return atomic_load(&s->inflight);
}

void as4_http_server_stop(struct as4_http_server *s, unsigned grace_ms)
{
	if (s == NULL) {
		return;
	}
	MHD_socket fd = MHD_quiesce_daemon(s->mhd);
	if (fd != MHD_INVALID_SOCKET) {
		close(fd);
	}
	int64_t deadline = as4_time_mono_ms() + grace_ms;
	while (atomic_load(&s->inflight) > 0 && as4_time_mono_ms() < deadline) {
		usleep(10 * 1000);
	}
	unsigned left = atomic_load(&s->inflight);
	if (left > 0) {
		as4_log(AS4_LOG_WARNING, "%s: stopping with %u requests still in flight", s->name,
		        left);
	}
	MHD_stop_daemon(s->mhd);
	free(s->name);
	free(s->spool_dir);
	free(s);
}
