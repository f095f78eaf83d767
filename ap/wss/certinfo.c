/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the security layer reads from a certificate for every message (its DER encoding to
 * recognise a token as a known certificate, the subject text, the RSA key size, the validity
 * period), computed once per X509 object and kept with it.
 *
 * Why: partner certificates, our own and the trust anchors live as long as the configuration,
 * but each message used to re-encode them (i2d_X509 to compare a BinarySecurityToken), print
 * the subject, look up the key size and parse both validity times: about 20 us per message,
 * for answers that never change.
 *
 * Where: in the certificate's own ex_data slot (registered once per process, the "one-time
 * library initialisation" kind of global state of STYLE rule 13), freed by OpenSSL with the
 * certificate. The slot is written once, under a mutex, by whichever thread asks first; the
 * record is immutable afterwards.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "as4/str.h"
#include "wss_int.h"

static pthread_once_t slot_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static int slot = -1;

static void info_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	struct wss_cert_info *info = ptr;
	if (info == NULL) {
		return;
	}
	free(info->der);
	free(info->subject);
	free(info);
}

static void slot_init(void)
{
	slot = X509_get_ex_new_index(0, NULL, NULL, NULL, info_free);
}

/* Seconds since the epoch of an ASN.1 time, as X509_cmp_time reads it. */
static bool time_of(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		return false;
	}
	*out = (int64_t)timegm(&tm);
	return true;
}

static struct wss_cert_info *compute(X509 *cert)
{
	struct wss_cert_info *info = calloc(1, sizeof(*info));
	if (info == NULL) {
		return NULL;
	}
	if (wss_cert_der(cert, &info->der, &info->der_len) != AS4_OK) {
		info->der = NULL;
		info->der_len = 0;
	}
	info->subject = wss_cert_name_uncached(cert);
	info->rsa_bits = wss_cert_rsa_bits_uncached(cert);
	info->times_ok = time_of(X509_get0_notBefore(cert), &info->not_before) &&
	                 time_of(X509_get0_notAfter(cert), &info->not_after);
	ERR_clear_error();
	if (info->der == NULL || info->subject == NULL) {
		free(info->der);
		free(info->subject);
		free(info);
		return NULL;
	}
	return info;
}

const struct wss_cert_info *wss_cert_info(X509 *cert)
{
	if (cert == NULL || pthread_once(&slot_once, slot_init) != 0 || slot < 0) {
		return NULL;
	}
	pthread_mutex_lock(&slot_lock);
	struct wss_cert_info *info = X509_get_ex_data(cert, slot);
	if (info == NULL) {
		info = compute(cert);
		if (info != NULL && X509_set_ex_data(cert, slot, info) != 1) {
			free(info->der);
			free(info->subject);
			free(info);
			info = NULL;
		}
	}
	pthread_mutex_unlock(&slot_lock);
	return info;
}
