/* SPDX-License-Identifier: Apache-2.0 */
#include "as4/http_client.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "as4/blob.h"
#include "as4/str.h"

struct as4_http_client {
	CURL *curl;
	struct as4_http_client_opts opts;
	uint64_t timeout_ms;      /* as4_http_client_set_timeout(); 0 = opts.timeout_ms */
	struct as4_buf ca_bundle; /* every configured CA file, concatenated PEM */
	char *client_cert;
	char *client_key;
};

as4_err as4_http_client_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? AS4_OK : AS4_E_INTERNAL;
}

void as4_http_client_global_cleanup(void)
{
	curl_global_cleanup();
}

as4_err as4_http_client_new(const struct as4_http_client_opts *opts, struct as4_http_client **out,
                            struct as4_diag *d)
{
	*out = NULL;
	struct as4_http_client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	c->opts = *opts;
	as4_buf_init(&c->ca_bundle, 16u * 1024 * 1024);
	for (size_t i = 0; i <= opts->n_ca_files; i++) {
		const char *path = i == 0 ? opts->ca_file : opts->ca_files[i - 1];
		if (path == NULL) {
			continue;
		}
		uint8_t *pem = NULL;
		size_t len = 0;
		as4_err err = as4_file_read(path, 4u * 1024 * 1024, &pem, &len);
		if (err == AS4_OK) {
			err = as4_buf_append(&c->ca_bundle, pem, len);
			if (err == AS4_OK) {
				err = as4_buf_putc(&c->ca_bundle, '\n');
			}
		}
		free(pem);
		if (err != AS4_OK) {
			as4_http_client_free(c);
			return as4_diag_set(d, AS4_E_CONFIG, "cannot read CA file %s: %s", path,
			                    as4_strerror(err));
		}
	}
	c->client_cert = as4_str_dup(opts->client_cert);
	c->client_key = as4_str_dup(opts->client_key);
	c->curl = curl_easy_init();
	if (c->curl == NULL || (opts->client_cert && !c->client_cert) ||
	    (opts->client_key && !c->client_key)) {
		as4_http_client_free(c);
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	if (c->opts.max_response == 0) {
		c->opts.max_response = 1024 * 1024;
	}
	*out = c;
	return AS4_OK;
}

void as4_http_client_free(struct as4_http_client *c)
{
	if (c == NULL) {
		return;
	}
	if (c->curl != NULL) {
		curl_easy_cleanup(c->curl);
	}
	as4_buf_cleanup(&c->ca_bundle);
	free(c->client_cert);
	free(c->client_key);
	free(c);
}

void as4_http_client_set_timeout(struct as4_http_client *c, uint64_t timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

void as4_http_result_init(struct as4_http_result *r, size_t max_body)
{
	memset(r, 0, sizeof(*r));
	as4_buf_init(&r->body, max_body);
}

void as4_http_result_cleanup(struct as4_http_result *r)
{
	if (r == NULL) {
		return;
	}
	as4_buf_cleanup(&r->body);
}

struct upload {
	const struct as4_mime_seg *segs;
	size_t n;
	size_t seg;
	size_t off;
	size_t dropped; /* pages of the current segment released up to here */
};

/* Bytes sent from a file-backed segment between two releases of its pages. */
#define DROP_STEP (1024u * 1024u)

/* Release the pages of a file-backed segment that were sent (bounded resident set). */
static void drop_sent(struct upload *u, const struct as4_mime_seg *s, bool all)
{
	if (!s->file_backed || (!all && u->off < u->dropped + DROP_STEP)) {
		return;
	}
	struct as4_blob b;
	as4_blob_borrow(&b, s->data, s->len);
	b.file_backed = true;
	as4_blob_drop_pages(&b, all ? s->len : u->off);
	u->dropped = all ? 0 : u->off;
}

static size_t read_cb(char *dst, size_t size, size_t nitems, void *ud)
{
	struct upload *u = ud;
	size_t room = size * nitems;
	size_t done = 0;
	while (done < room && u->seg < u->n) {
		const struct as4_mime_seg *s = &u->segs[u->seg];
		size_t left = s->len - u->off;
		size_t take = left < room - done ? left : room - done;
		if (take > 0) {
			memcpy(dst + done, s->data + u->off, take);
		}
		done += take;
		u->off += take;
		drop_sent(u, s, false);
		if (u->off == s->len) {
			drop_sent(u, s, true);
			u->seg++;
			u->off = 0;
		}
	}
	return done;
}

/* Rewind for curl's retries on a reused connection that turned out to be closed. */
static int seek_cb(void *ud, curl_off_t offset, int origin)
{
	struct upload *u = ud;
	if (origin != SEEK_SET || offset < 0) {
		return CURL_SEEKFUNC_CANTSEEK;
	}
	size_t want = (size_t)offset;
	u->seg = 0;
	u->off = 0;
	u->dropped = 0;
	while (u->seg < u->n && want >= u->segs[u->seg].len) {
		want -= u->segs[u->seg].len;
		u->seg++;
	}
	if (u->seg == u->n && want > 0) {
		return CURL_SEEKFUNC_FAIL;
	}
	u->off = want;
	return CURL_SEEKFUNC_OK;
}

struct download {
	struct as4_buf *body;
	bool too_large;
};

static size_t write_cb(char *src, size_t size, size_t nmemb, void *ud)
{
	struct download *dl = ud;
	size_t n = size * nmemb;
	if (as4_buf_append(dl->body, src, n) != AS4_OK) {
		dl->too_large = true;
		return 0; /* aborts the transfer */
	}
	return n;
}

static as4_err map_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return AS4_E_PEER_TIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		return AS4_E_PEER_TLS;
	default:
		return AS4_E_CONNECTION;
	}
}

as4_err as4_http_post(struct as4_http_client *c, const char *url, const char *content_type,
                      const struct as4_mime_seg *segs, size_t n_segs, const char *const *headers,
                      size_t n_headers, struct as4_http_result *res, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	struct curl_slist *hdrs = NULL;
	char line[600];
	CURL *h = c->curl;
	uint64_t total = 0;
	for (size_t i = 0; i < n_segs; i++) {
		total += segs[i].len;
	}
	struct upload up = {segs, n_segs, 0, 0, 0};
	struct download dl = {&res->body, false};
	char errbuf[CURL_ERROR_SIZE] = "";

	if (as4_str_fmt(line, sizeof(line), "Content-Type: %s", content_type) != AS4_OK) {
		return as4_diag_set(d, AS4_E_INVAL, "Content-Type too long");
	}
	struct curl_slist *tmp = curl_slist_append(hdrs, line);
	if (tmp != NULL) {
		hdrs = tmp;
		/* no "Expect: 100-continue" round trip: the peer answers after the whole body */
		tmp = curl_slist_append(hdrs, "Expect:");
	}
	for (size_t i = 0; tmp != NULL && i < n_headers; i++) {
		hdrs = tmp;
		tmp = curl_slist_append(hdrs, headers[i]);
	}
	if (tmp == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	hdrs = tmp;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)total);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_READDATA, &up);
	curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
	curl_easy_setopt(h, CURLOPT_SEEKDATA, &up);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &dl);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	                 (long)(c->opts.connect_timeout_ms ? c->opts.connect_timeout_ms : 10000));
	uint64_t timeout = c->timeout_ms ? c->timeout_ms : c->opts.timeout_ms;
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(timeout ? timeout : 60000));
	if (c->ca_bundle.len > 0) {
		struct curl_blob blob = {c->ca_bundle.data, c->ca_bundle.len, CURL_BLOB_NOCOPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (c->client_cert != NULL) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->client_cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->client_key);
	}
	if (c->opts.insecure_skip_verify) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}

	CURLcode rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
	curl_off_t us = 0;
	curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &us);
	res->elapsed_us = (uint64_t)us;
	char *ct = NULL;
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
	if (ct != NULL &&
	    as4_str_copy(res->content_type, sizeof(res->content_type), ct) != AS4_OK) {
		res->content_type[0] = '\0';
	}
	if (dl.too_large) {
		err = as4_diag_set(d, AS4_E_LIMIT, "response from %s exceeds %zu bytes", url,
		                   res->body.max);
		goto out;
	}
	if (rc != CURLE_OK) {
		err = as4_diag_set(d, map_curl(rc), "POST %s failed: %s", url,
		                   errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
out:
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdrs);
	return err;
}
