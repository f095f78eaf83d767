/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Trust anchors for signer certificates and path validation at a chosen time.
 *
 * Every certificate in the truststore is an anchor (X509_V_FLAG_PARTIAL_CHAIN): Peppol-style
 * truststores hold the access point CA, which is itself an intermediate, and a partner's own
 * certificate may be listed directly. Revocation is not checked here (no CRL/OCSP fetching
 * from the message path); the validity period is, at the time the caller asks for.
 */
#include "as4/wss.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include "as4/blob.h"
#include "as4/time.h"
#include "wss_int.h"

/* Largest truststore file read (a bundle of a few hundred CA certificates). */
#define TRUST_FILE_MAX (8u * 1024 * 1024)

struct as4_truststore {
	X509_STORE *store;
	size_t n_certs;
};

static as4_err add_file(struct as4_truststore *ts, const char *path, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	uint8_t *data = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	X509 *x = NULL;
	size_t added = 0;
	err = as4_file_read(path, TRUST_FILE_MAX, &data, &len);
	if (err != AS4_OK) {
		return as4_diag_set(d, AS4_E_CONFIG, "cannot read truststore file %s (%s)", path,
		                    as4_strerror(err));
	}
	if (len > INT32_MAX) {
		err = as4_diag_set(d, AS4_E_CONFIG, "truststore file %s too large", path);
		goto out;
	}
	bio = BIO_new_mem_buf(data, (int)len);
	if (bio == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	if (memmem(data, len, "-----BEGIN", 10) != NULL) {
		while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
			if (X509_STORE_add_cert(ts->store, x) != 1) {
				/* the same certificate twice is harmless; anything else is not */
				unsigned long e = ERR_peek_last_error();
				if (ERR_GET_REASON(e) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
					char m[160];
					err = as4_diag_set(d, AS4_E_CONFIG,
					                   "cannot add a certificate of %s: %s",
					                   path, wss_ssl_err(m, sizeof(m)));
					goto out;
				}
			}
			X509_free(x);
			x = NULL;
			added++;
		}
		unsigned long e = ERR_peek_last_error();
		if (e != 0 && ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
			char m[160];
			err = as4_diag_set(d, AS4_E_CONFIG, "unreadable certificate in %s: %s",
			                   path, wss_ssl_err(m, sizeof(m)));
			goto out;
		}
	} else {
		x = wss_cert_from_der(data, len);
		if (x != NULL && X509_STORE_add_cert(ts->store, x) == 1) {
			added++;
		}
	}
	ERR_clear_error();
	if (added == 0) {
		err = as4_diag_set(d, AS4_E_CONFIG, "truststore file %s holds no certificate",
		                   path);
		goto out;
	}
	ts->n_certs += added;
out:
	ERR_clear_error();
	X509_free(x);
	BIO_free(bio);
	free(data);
	return err;
}

as4_err as4_truststore_load(const char *const *paths, size_t n_paths, struct as4_truststore **out,
                            struct as4_diag *d)
{
	as4_err err = AS4_OK;
	*out = NULL;
	struct as4_truststore *ts = calloc(1, sizeof(*ts));
	if (ts == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	ts->store = X509_STORE_new();
	if (ts->store == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n_paths; i++) {
		err = add_file(ts, paths[i], d);
		if (err != AS4_OK) {
			goto out;
		}
	}
	*out = ts;
	ts = NULL;
out:
	as4_truststore_free(ts);
	return err;
}

void as4_truststore_free(struct as4_truststore *ts)
{
	if (ts == NULL) {
		return;
	}
	X509_STORE_free(ts->store);
	free(ts);
}

as4_err as4_truststore_verify(const struct as4_truststore *ts, X509 *cert,
                              STACK_OF(X509) * untrusted, int64_t at_ms, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	char *subject = NULL;
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (ctx == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	if (at_ms == 0) {
		at_ms = as4_time_now_ms();
	}
	if (X509_STORE_CTX_init(ctx, ts->store, cert, untrusted) != 1) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(param, (time_t)(at_ms / 1000));
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	if (X509_verify_cert(ctx) == 1) {
		goto out;
	}
	int code = X509_STORE_CTX_get_error(ctx);
	int depth = X509_STORE_CTX_get_error_depth(ctx);
	X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
	subject = wss_cert_name(cert, false);
	if (bad != NULL && bad != cert && depth > 0) {
		char *bs = wss_cert_name(bad, false);
		err = as4_diag_set(
		        d, AS4_E_UNTRUSTED,
		        "certificate '%s' is not trusted: %s (issuer certificate '%s' at "
		        "depth %d)",
		        subject != NULL ? subject : "?", X509_verify_cert_error_string(code),
		        bs != NULL ? bs : "?", depth);
		free(bs);
	} else {
		err = as4_diag_set(d, AS4_E_UNTRUSTED, "certificate '%s' is not trusted: %s",
		                   subject != NULL ? subject : "?",
		                   X509_verify_cert_error_string(code));
	}
out:
	ERR_clear_error();
	free(subject);
	X509_STORE_CTX_free(ctx);
	return err;
}
