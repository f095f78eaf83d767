/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP client of the online as4ctl commands (online.h): libcurl for the transport (its
 * errors end here, STYLE rule 4), the API's JSON answers read through as4_json_parse (the one
 * JSON parser, rule 11) with a size and depth cap.
 */
#include "online.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "as4/admin_json.h"
#include "as4/blob.h"
#include "as4/str.h"
#include "cli.h"

/* Largest API answer read (a page of 1000 messages is a few MB). */
#define ANSWER_MAX (256u * 1024u * 1024u)
#define JSON_DEPTH 64
#define TOKEN_MAX  4096

const char online_common_help[] =
        "connection (options or environment):\n"
        "  --url URL          AS4CTL_URL (default http://127.0.0.1:8081)\n"
        "  --token-file FILE  AS4CTL_TOKEN_FILE, or the token in AS4CTL_TOKEN\n"
        "  --cacert FILE      AS4CTL_CACERT: CA of an https API\n"
        "  --cert FILE --key FILE   AS4CTL_CERT/AS4CTL_KEY: client certificate (mTLS)\n"
        "  --timeout SECONDS  AS4CTL_TIMEOUT (default 120)\n"
        "  --json             print the API's JSON answer\n"
        "exit status: 0 done, 1 refused or failed, 2 usage error, 3 API unreachable\n";

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v != NULL && v[0] != '\0' ? v : def;
}

void online_init(struct online *o, const char *prog)
{
	memset(o, 0, sizeof(*o));
	o->prog = prog;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "%s: cannot initialise libcurl\n", prog);
	}
	o->url = env_or("AS4CTL_URL", "http://127.0.0.1:8081");
	o->cacert = env_or("AS4CTL_CACERT", NULL);
	o->cert = env_or("AS4CTL_CERT", NULL);
	o->key = env_or("AS4CTL_KEY", NULL);
	uint64_t t = 120;
	const char *ts = env_or("AS4CTL_TIMEOUT", NULL);
	if (ts != NULL && (as4_parse_u64(ts, 86400, &t) != AS4_OK || t == 0)) {
		t = 120;
	}
	o->timeout_s = (long)t;
}

void online_cleanup(struct online *o)
{
	if (o->token != NULL) {
		OPENSSL_cleanse(o->token, strlen(o->token));
		free(o->token);
		o->token = NULL;
	}
	curl_global_cleanup();
}

int online_common_opt(struct online *o, int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	const char *const with_value[] = {"--url",  "--token-file", "--cacert",
	                                  "--cert", "--key",        "--timeout"};
	for (size_t k = 0; k < AS4_ARRAY_LEN(with_value); k++) {
		if (strcmp(a, with_value[k]) != 0) {
			continue;
		}
		if (*i + 1 >= argc) {
			fprintf(stderr, "%s: %s needs a value\n", o->prog, a);
			return -1;
		}
		const char *v = argv[++*i];
		switch (k) {
		case 0:
			o->url = v;
			break;
		case 1:
			o->token_file = v;
			break;
		case 2:
			o->cacert = v;
			break;
		case 3:
			o->cert = v;
			break;
		case 4:
			o->key = v;
			break;
		default: {
			uint64_t t = 0;
			if (as4_parse_u64(v, 86400, &t) != AS4_OK || t == 0) {
				fprintf(stderr, "%s: --timeout needs seconds (1 to 86400)\n",
				        o->prog);
				return -1;
			}
			o->timeout_s = (long)t;
		}
		}
		return 1;
	}
	if (strcmp(a, "--json") == 0) {
		o->json = true;
		return 1;
	}
	if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
		o->quiet = true;
		return 1;
	}
	return 0;
}

int online_token(struct online *o)
{
	if (o->token != NULL) {
		return AS4CTL_OK;
	}
	const char *file =
	        o->token_file != NULL ? o->token_file : env_or("AS4CTL_TOKEN_FILE", NULL);
	const char *env = env_or("AS4CTL_TOKEN", NULL);
	char buf[TOKEN_MAX + 2];
	buf[0] = '\0';
	if (file != NULL) {
		FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
		if (f == NULL || fgets(buf, sizeof(buf), f) == NULL) {
			fprintf(stderr, "%s: cannot read a token from %s\n", o->prog, file);
			if (f != NULL && f != stdin) {
				fclose(f);
			}
			return AS4CTL_USAGE;
		}
		if (f != stdin) {
			fclose(f);
		}
	} else if (env != NULL) {
		if (as4_str_copy(buf, sizeof(buf), env) != AS4_OK) {
			fprintf(stderr, "%s: AS4CTL_TOKEN is too long\n", o->prog);
			return AS4CTL_USAGE;
		}
	} else {
		fprintf(stderr,
		        "%s: no API token: set AS4CTL_TOKEN, or AS4CTL_TOKEN_FILE / --token-file "
		        "FILE\n",
		        o->prog);
		return AS4CTL_USAGE;
	}
	size_t n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) {
		buf[--n] = '\0';
	}
	if (n == 0) {
		fprintf(stderr, "%s: the API token is empty\n", o->prog);
		return AS4CTL_USAGE;
	}
	o->token = as4_str_dup(buf);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (o->token == NULL) {
		fprintf(stderr, "%s: out of memory\n", o->prog);
		return AS4CTL_REFUSED;
	}
	return AS4CTL_OK;
}

struct sink {
	struct as4_buf *b;
	char ctype[128];
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct sink *s = ctx;
	size_t len = size * n;
	return as4_buf_append(s->b, p, len) == AS4_OK ? len : 0;
}

void online_escape(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t k = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && k + 4 < cap; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~' ||
		    *p == '@') {
			out[k++] = (char)*p;
		} else {
			out[k++] = '%';
			out[k++] = hex[*p >> 4];
			out[k++] = hex[*p & 15];
		}
	}
	out[k] = '\0';
}

void online_print_json(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s != NULL) {
		printf("%s\n", s);
		free(s);
	}
}

/* Print the API's error answer in one line. */
static void print_error(const struct online *o, long status, const json_t *doc,
                        const struct as4_buf *raw)
{
	const json_t *e = json_object_get(doc, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	const char *field = json_string_value(json_object_get(e, "field"));
	if (msg != NULL) {
		fprintf(stderr, "%s: %ld %s: %s%s%s%s\n", o->prog, status, code ? code : "error",
		        msg, field ? " (field " : "", field ? field : "", field ? ")" : "");
		const json_t *details = json_object_get(e, "details");
		size_t i;
		const json_t *d;
		json_array_foreach(details, i, d)
		{
			if (i > 0) {
				const char *t = json_string_value(json_object_get(d, "text"));
				fprintf(stderr, "  %s\n", t != NULL ? t : "?");
			}
		}
	} else {
		fprintf(stderr, "%s: HTTP %ld: %.300s\n", o->prog, status,
		        raw->data != NULL ? (const char *)raw->data : "");
	}
}

int online_call(struct online *o, const struct online_req *rq, json_t **out, struct as4_buf *raw,
                long *status)
{
	int rc = AS4CTL_OK;
	struct as4_buf body;
	as4_buf_init(&body, ANSWER_MAX);
	struct sink sink = {&body, ""};
	struct curl_slist *hdrs = NULL;
	curl_mime *mime = NULL;
	char *url = NULL;
	char *auth = NULL;
	json_t *doc = NULL;
	long st = 0;
	if (out != NULL) {
		*out = NULL;
	}
	rc = online_token(o);
	if (rc != AS4CTL_OK) {
		goto out;
	}
	CURL *c = curl_easy_init();
	size_t ulen = strlen(o->url) + strlen(rq->path) + 1;
	url = malloc(ulen);
	size_t alen = strlen(o->token) + 32;
	auth = malloc(alen);
	if (c == NULL || url == NULL || auth == NULL) {
		fprintf(stderr, "%s: out of memory\n", o->prog);
		rc = AS4CTL_REFUSED;
		if (c != NULL) {
			curl_easy_cleanup(c);
		}
		goto out;
	}
	/* "http://host:port/" + "/api/v1/...": one slash between them */
	size_t bl = strlen(o->url);
	while (bl > 0 && o->url[bl - 1] == '/') {
		bl--;
	}
	snprintf(url, ulen, "%.*s%s", (int)bl, o->url, rq->path);
	snprintf(auth, alen, "Authorization: Bearer %s", o->token);
	hdrs = curl_slist_append(hdrs, auth);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	char ct[160];
	if (rq->content_type != NULL) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", rq->content_type);
		hdrs = curl_slist_append(hdrs, ct);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, o->timeout_s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (o->cacert != NULL) {
		curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
	}
	if (o->cert != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, o->cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, o->key != NULL ? o->key : o->cert);
	}
	if (rq->n_parts > 0) {
		mime = curl_mime_init(c);
		for (size_t i = 0; mime != NULL && i < rq->n_parts; i++) {
			const struct online_part *p = &rq->parts[i];
			curl_mimepart *mp = curl_mime_addpart(mime);
			curl_mime_name(mp, p->name);
			if (p->data != NULL) {
				curl_mime_data(mp, p->data, CURL_ZERO_TERMINATED);
			} else if (curl_mime_filedata(mp, p->filename) != CURLE_OK) {
				fprintf(stderr, "%s: cannot read %s\n", o->prog, p->filename);
				rc = AS4CTL_USAGE;
				curl_easy_cleanup(c);
				goto out;
			}
			curl_mime_type(mp, p->content_type);
		}
		curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
	} else if (rq->body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	}
	CURLcode cr = curl_easy_perform(c);
	char *ctype = NULL;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
	if (ctype != NULL && as4_str_copy(sink.ctype, sizeof(sink.ctype), ctype) != AS4_OK) {
		sink.ctype[0] = '\0';
	}
	curl_easy_cleanup(c);
	if (cr != CURLE_OK) {
		fprintf(stderr, "%s: cannot reach the API at %s: %s\n", o->prog, o->url,
		        curl_easy_strerror(cr));
		rc = AS4CTL_UNAVAILABLE;
		goto out;
	}
	if (as4_str_starts(sink.ctype, "application/json") && body.len > 0) {
		struct as4_diag d;
		as4_diag_init(&d);
		if (as4_json_parse(body.data, body.len, ANSWER_MAX, JSON_DEPTH, &doc, &d) !=
		    AS4_OK) {
			fprintf(stderr, "%s: the API answered unreadable JSON: %s\n", o->prog,
			        as4_diag_text(&d));
			rc = AS4CTL_REFUSED;
			goto out;
		}
	}
	if (st < 200 || st > 299) {
		print_error(o, st, doc, &body);
		rc = AS4CTL_REFUSED;
		goto out;
	}
	if (out != NULL) {
		*out = doc;
		doc = NULL;
	}
	if (raw != NULL) {
		*raw = body;
		as4_buf_init(&body, 0);
	}
out:
	if (status != NULL) {
		*status = st;
	}
	json_decref(doc);
	as4_buf_cleanup(&body);
	curl_mime_free(mime);
	curl_slist_free_all(hdrs);
	if (auth != NULL) {
		OPENSSL_cleanse(auth, strlen(auth));
		free(auth);
	}
	free(url);
	return rc;
}
