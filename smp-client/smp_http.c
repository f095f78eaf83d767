/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP back end on libcurl: one easy handle per GET (lookups are cached, so connection reuse is
 * not worth shared state between send workers). SMP-NOTES §2.2: SMPs SHOULD NOT use 3xx and
 * clients need not follow them, so redirects are never followed; the body is capped while it
 * arrives; https uses the system CA bundle unless a CA file is configured.
 * libcurl codes are mapped to as4_err here and nowhere else (STYLE rule 4).
 */
#include <string.h>

#include <curl/curl.h>

#include "as4/buf.h"
#include "as4/str.h"
#include "smp_int.h"

struct sink {
	struct as4_smp_http_response *resp;
	bool over;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t bytes;
	if (!as4_mul_size(size, n, &bytes)) {
		s->over = true;
		return 0;
	}
	if (as4_buf_append(&s->resp->body, p, bytes) != AS4_OK) {
		/* returning less than given makes curl stop with CURLE_WRITE_ERROR */
		s->over = true;
		return 0;
	}
	return bytes;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t bytes = size * n;
	const char *name = "Location:";
	size_t nn = strlen(name);
	if (bytes > nn && as4_str_nieq(p, name, nn)) {
		const char *v = p + nn;
		size_t vn = bytes - nn;
		as4_str_trim(&v, &vn);
		size_t keep =
		        vn < sizeof(s->resp->location) - 1 ? vn : sizeof(s->resp->location) - 1;
		memcpy(s->resp->location, v, keep);
		s->resp->location[keep] = '\0';
	}
	return bytes;
}

static as4_err map_curl(CURLcode rc, const char *url, const char *detail, struct as4_diag *d)
{
	const char *why = detail[0] != '\0' ? detail : curl_easy_strerror(rc);
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ISSUER_ERROR:
		return as4_diag_set(d, AS4_E_SMP_TRUST,
		                    "TLS certificate of the SMP not trusted (%.160s): %.200s", why,
		                    url);
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE, "cannot fetch (%.160s): %.200s", why,
		                    url);
	case CURLE_WEIRD_SERVER_REPLY:
		return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                    "not an HTTP answer (%.160s): %.200s", why, url);
	default:
		/* refused, reset, timed out, name not resolved, TLS handshake: all transient */
		return as4_diag_set(d, AS4_E_SMP_UNAVAILABLE, "SMP unreachable (%.160s): %.200s",
		                    why, url);
	}
}

as4_err as4_smp_http_curl(void *ctx, const struct as4_smp_http_request *req,
                          struct as4_smp_http_response *resp, struct as4_diag *d)
{
	(void)ctx;
	as4_err err = AS4_OK;
	struct curl_slist *resolve = NULL;
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE];
	errbuf[0] = '\0';
	resp->status = 0;
	resp->content_type[0] = '\0';
	resp->location[0] = '\0';
	struct sink s = {resp, false};
	CURL *h = curl_easy_init();
	if (h == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "cannot create an HTTP handle");
	}
	if (req->resolve != NULL) {
		resolve = curl_slist_append(NULL, req->resolve);
		if (resolve == NULL) {
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
			goto out;
		}
	}
	headers = curl_slist_append(NULL, "Accept: application/xml, text/xml");
	if (headers == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	/* every option exists in curl 7.88; a refusal would change behaviour, so it is fatal */
	bool ok =
	        curl_easy_setopt(h, CURLOPT_URL, req->url) == CURLE_OK &&
	        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
	        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
	        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
	        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
	        curl_easy_setopt(h, CURLOPT_WRITEDATA, &s) == CURLE_OK &&
	        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
	        curl_easy_setopt(h, CURLOPT_HEADERDATA, &s) == CURLE_OK &&
	        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
	        curl_easy_setopt(h, CURLOPT_USERAGENT, "as4-smp-client") == CURLE_OK &&
	        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)req->connect_timeout_ms) ==
	                CURLE_OK &&
	        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms) == CURLE_OK &&
	        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_body) ==
	                CURLE_OK &&
	        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
	        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
	        curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) == CURLE_OK;
	if (ok && req->ca_file != NULL) {
		ok = curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_file) == CURLE_OK;
	}
	if (ok && resolve != NULL) {
		ok = curl_easy_setopt(h, CURLOPT_RESOLVE, resolve) == CURLE_OK;
	}
	if (!ok) {
		err = as4_diag_set(d, AS4_E_INTERNAL, "cannot configure the HTTP handle");
		goto out;
	}
	CURLcode rc = curl_easy_perform(h);
	if (s.over || rc == CURLE_FILESIZE_EXCEEDED) {
		err = as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                   "SMP response larger than %zu bytes: %.200s", req->max_body,
		                   req->url);
		goto out;
	}
	if (rc != CURLE_OK) {
		err = map_curl(rc, req->url, errbuf, d);
		goto out;
	}
	long status = 0;
	char *ct = NULL;
	if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
	    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK) {
		err = as4_diag_set(d, AS4_E_INTERNAL, "cannot read the HTTP status");
		goto out;
	}
	resp->status = status;
	if (ct != NULL &&
	    as4_str_copy(resp->content_type, sizeof(resp->content_type), ct) != AS4_OK) {
		/* a truncated content type is still good enough for the trace */
	}
out:
	curl_slist_free_all(headers);
	curl_slist_free_all(resolve);
	curl_easy_cleanup(h);
	return err;
}
