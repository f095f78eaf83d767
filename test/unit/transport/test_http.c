/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP server and client on loopback: bodies, early refusals, size caps, spooling, TLS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "as4/http.h"
#include "as4/http_client.h"
#include "as4/log.h"
#include "as4/str.h"

static char tmpdir[256];

struct seen {
	size_t body_len;
	bool body_mapped;
	char first[16];
	char auth[64];
	char subject[256];
};

static bool head_cb(void *ctx, struct as4_http_req *req, struct as4_http_resp *resp)
{
	(void)ctx;
	const char *auth = as4_http_req_header(req, "X-Auth");
	if (auth != NULL && strcmp(auth, "deny") == 0) {
		as4_http_resp_json_error(resp, 401, "unauthorized", "no entry", NULL);
		return false;
	}
	return true;
}

static void handle_cb(void *ctx, struct as4_http_req *req, const struct as4_blob *body,
                      struct as4_http_resp *resp)
{
	struct seen *s = ctx;
	s->body_len = body->len;
	s->body_mapped = body->kind == AS4_BLOB_MAPPED;
	size_t n = body->len < sizeof(s->first) - 1 ? body->len : sizeof(s->first) - 1;
	if (n > 0) {
		memcpy(s->first, body->data, n); /* an empty body has no data pointer */
	}
	s->first[n] = '\0';
	const char *subj = as4_http_req_client_subject(req);
	if (as4_str_copy(s->subject, sizeof(s->subject), subj ? subj : "") != AS4_OK) {
		s->subject[0] = '\0';
	}
	resp->status = 200;
	resp->content_type = "text/plain";
	assert_int_equal(as4_buf_printf(&resp->body, "%s %s %zu", as4_http_req_method(req),
	                                as4_http_req_path(req), body->len),
	                 AS4_OK);
}

static struct as4_http_server *start(struct seen *s, const char *cert, const char *key,
                                     const char *ca, bool require_client)
{
	struct as4_http_opts o = {0};
	o.name = "test";
	o.address = "127.0.0.1";
	o.port = 0;
	o.max_body = 4 * 1024 * 1024;
	o.spool_dir = tmpdir;
	o.spool_threshold = 64 * 1024;
	o.head = head_cb;
	o.handle = handle_cb;
	o.ctx = s;
	o.tls_cert_path = cert;
	o.tls_key_path = key;
	o.tls_client_ca_path = ca;
	o.tls_require_client_cert = require_client;
	struct as4_http_server *srv = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_http_server_start(&o, &srv, &d);
	if (err != AS4_OK) {
		fprintf(stderr, "start: %s\n", as4_diag_text(&d));
	}
	assert_int_equal(err, AS4_OK);
	assert_true(as4_http_server_port(srv) > 0);
	return srv;
}

static as4_err post(const char *url, const void *body, size_t len, const char *header,
                    const struct as4_http_client_opts *co, struct as4_http_result *res)
{
	struct as4_http_client *c = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_http_client_new(co, &c, &d);
	assert_int_equal(err, AS4_OK);
	struct as4_mime_seg seg = {body, len, false};
	const char *hdrs[1] = {header};
	err = as4_http_post(c, url, "text/plain", &seg, 1, hdrs, header ? 1 : 0, res, &d);
	as4_http_client_free(c);
	return err;
}

static void test_post_small_and_large(void **state)
{
	(void)state;
	struct seen s = {0};
	struct as4_http_server *srv = start(&s, NULL, NULL, NULL, false);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/as4", as4_http_server_port(srv));
	struct as4_http_client_opts co = {0};
	struct as4_http_result res;
	as4_http_result_init(&res, 4096);
	assert_int_equal(post(url, "hello", 5, NULL, &co, &res), AS4_OK);
	assert_int_equal(res.status, 200);
	assert_string_equal((char *)res.body.data, "POST /as4 5");
	assert_string_equal(s.first, "hello");
	assert_false(s.body_mapped);
	as4_http_result_cleanup(&res);

	/* above the spool threshold the body reaches the handler as a mapped spool file */
	size_t big = 1024 * 1024;
	uint8_t *b = malloc(big);
	assert_non_null(b);
	memset(b, 'x', big);
	memcpy(b, "BIG", 3);
	as4_http_result_init(&res, 4096);
	assert_int_equal(post(url, b, big, NULL, &co, &res), AS4_OK);
	assert_int_equal(res.status, 200);
	assert_int_equal(s.body_len, big);
	assert_true(s.body_mapped);
	assert_memory_equal(s.first, "BIGxxx", 6);
	as4_http_result_cleanup(&res);
	free(b);
	as4_http_server_stop(srv, 1000);
}

static void test_refusals(void **state)
{
	(void)state;
	struct seen s = {0};
	struct as4_http_server *srv = start(&s, NULL, NULL, NULL, false);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/as4", as4_http_server_port(srv));
	struct as4_http_client_opts co = {0};
	struct as4_http_result res;

	/* the head callback refuses before the body is read */
	as4_http_result_init(&res, 4096);
	assert_int_equal(post(url, "abc", 3, "X-Auth: deny", &co, &res), AS4_OK);
	assert_int_equal(res.status, 401);
	assert_non_null(strstr((char *)res.body.data, "\"unauthorized\""));
	assert_string_equal(res.content_type, "application/json");
	assert_int_equal(s.body_len, 0);
	as4_http_result_cleanup(&res);

	/* over max_body: 413 from the declared Content-Length, handler never called */
	size_t big = 5 * 1024 * 1024;
	uint8_t *b = calloc(1, big);
	assert_non_null(b);
	as4_http_result_init(&res, 4096);
	as4_err err = post(url, b, big, NULL, &co, &res);
	/* the server may close before curl finished sending: either an answer or a reset */
	if (err == AS4_OK) {
		assert_int_equal(res.status, 413);
		assert_non_null(strstr((char *)res.body.data, "payload_too_large"));
	} else {
		assert_int_equal(err, AS4_E_CONNECTION);
	}
	assert_int_equal(s.body_len, 0);
	as4_http_result_cleanup(&res);
	free(b);

	/* a response larger than the client's cap is refused */
	as4_http_result_init(&res, 4);
	assert_int_equal(post(url, "hello", 5, NULL, &co, &res), AS4_E_LIMIT);
	as4_http_result_cleanup(&res);

	as4_http_server_stop(srv, 1000);

	/* nobody listening any more */
	as4_http_result_init(&res, 4096);
	assert_int_equal(post(url, "x", 1, NULL, &co, &res), AS4_E_CONNECTION);
	as4_http_result_cleanup(&res);
}

static int sh(const char *cmd)
{
	int rc = system(cmd);
	return rc;
}

/* A CA, a server certificate for 127.0.0.1 and a client certificate, made by the openssl CLI. */
static void make_pki(void)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
	         "cd %s && "
	         "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
	         "-subj /CN=testca 2>/dev/null && "
	         "openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr "
	         "-subj /CN=localhost 2>/dev/null && "
	         "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && "
	         "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
	         "-out srv.pem -days 2 -extfile san.ext 2>/dev/null && "
	         "openssl req -newkey rsa:2048 -nodes -keyout cli.key -out cli.csr "
	         "-subj /CN=client1/O=Test 2>/dev/null && "
	         "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
	         "-out cli.pem -days 2 2>/dev/null && chmod 600 srv.key cli.key",
	         tmpdir);
	assert_int_equal(sh(cmd), 0);
}

static void path(char *out, size_t cap, const char *name)
{
	assert_int_equal(as4_str_fmt(out, cap, "%s/%s", tmpdir, name), AS4_OK);
}

static void test_tls(void **state)
{
	(void)state;
	make_pki();
	char cert[300], key[300], ca[300], ccert[300], ckey[300];
	path(cert, sizeof(cert), "srv.pem");
	path(key, sizeof(key), "srv.key");
	path(ca, sizeof(ca), "ca.pem");
	path(ccert, sizeof(ccert), "cli.pem");
	path(ckey, sizeof(ckey), "cli.key");

	struct seen s = {0};
	struct as4_http_server *srv = start(&s, cert, key, ca, true);
	char url[128];
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/as4", as4_http_server_port(srv));
	struct as4_http_result res;

	/* with a client certificate: accepted, subject visible to the handler */
	struct as4_http_client_opts co = {.ca_file = ca, .client_cert = ccert, .client_key = ckey};
	as4_http_result_init(&res, 4096);
	assert_int_equal(post(url, "tls", 3, NULL, &co, &res), AS4_OK);
	assert_int_equal(res.status, 200);
	assert_non_null(strstr(s.subject, "CN=client1"));
	as4_http_result_cleanup(&res);

	/* without one: 403 before the body */
	struct as4_http_client_opts nocert = {.ca_file = ca};
	as4_http_result_init(&res, 4096);
	assert_int_equal(post(url, "tls", 3, NULL, &nocert, &res), AS4_OK);
	assert_int_equal(res.status, 403);
	as4_http_result_cleanup(&res);

	/* a server certificate from an unknown CA is refused by the client */
	struct as4_http_client_opts wrongca = {.ca_file = ccert};
	as4_http_result_init(&res, 4096);
	assert_int_equal(post(url, "tls", 3, NULL, &wrongca, &res), AS4_E_PEER_TLS);
	as4_http_result_cleanup(&res);

	/* TLS 1.1 and below are refused by the server */
	CURL *h = curl_easy_init();
	assert_non_null(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	curl_easy_setopt(h, CURLOPT_SSLVERSION,
	                 (long)(CURL_SSLVERSION_TLSv1_0 | CURL_SSLVERSION_MAX_TLSv1_1));
	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	CURLcode rc = curl_easy_perform(h);
	assert_int_not_equal(rc, CURLE_OK);
	/* TLS 1.2 with a CBC-only cipher list is refused too (AEAD suites only) */
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	curl_easy_setopt(h, CURLOPT_SSLCERT, ccert);
	curl_easy_setopt(h, CURLOPT_SSLKEY, ckey);
	curl_easy_setopt(h, CURLOPT_SSLVERSION,
	                 (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2));
	curl_easy_setopt(h, CURLOPT_SSL_CIPHER_LIST, "AES128-SHA:ECDHE-RSA-AES128-SHA");
	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	rc = curl_easy_perform(h);
	assert_int_not_equal(rc, CURLE_OK);
	/* and TLS 1.3 is what a modern client gets */
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	curl_easy_setopt(h, CURLOPT_SSLCERT, ccert);
	curl_easy_setopt(h, CURLOPT_SSLKEY, ckey);
	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	rc = curl_easy_perform(h);
	assert_int_equal(rc, CURLE_OK);
	struct curl_tlssessioninfo *ti = NULL;
	curl_easy_cleanup(h);
	(void)ti;

	as4_http_server_stop(srv, 1000);

	/* a key file readable by others is refused at start */
	assert_int_equal(chmod(key, 0644), 0);
	struct as4_http_opts o = {.name = "t",
	                          .address = "127.0.0.1",
	                          .max_body = 1024,
	                          .handle = handle_cb,
	                          .ctx = &s,
	                          .tls_cert_path = cert,
	                          .tls_key_path = key};
	struct as4_http_server *bad = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_http_server_start(&o, &bad, &d), AS4_E_CONFIG);
	assert_non_null(strstr(as4_diag_text(&d), "readable by group or others"));
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/as4-http-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		return -1;
	}
	as4_log_setup(2, AS4_LOG_LOGFMT, AS4_LOG_WARNING);
	return as4_http_client_global_init() == AS4_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (sh(cmd) != 0) {
		return -1;
	}
	as4_http_client_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_post_small_and_large),
	        cmocka_unit_test(test_refusals),
	        cmocka_unit_test(test_tls),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
