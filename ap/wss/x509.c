/* SPDX-License-Identifier: Apache-2.0 */
/* Certificate helpers for token references: names, SKI, issuer/serial, PKIPath, validity. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "as4/str.h"
#include "wss_int.h"

const char *wss_ssl_err(char *buf, size_t cap)
{
	size_t used = 0;
	buf[0] = '\0';
	unsigned long e;
	while ((e = ERR_get_error()) != 0) {
		const char *r = ERR_reason_error_string(e);
		char tmp[64];
		if (r == NULL) {
			if (as4_str_fmt(tmp, sizeof(tmp), "error %lx", e) != AS4_OK) {
				continue;
			}
			r = tmp;
		}
		size_t n = strlen(r);
		if (used + n + 3 >= cap) {
			continue;
		}
		if (used > 0) {
			memcpy(buf + used, ": ", 2);
			used += 2;
		}
		memcpy(buf + used, r, n);
		used += n;
		buf[used] = '\0';
	}
	if (used == 0 && as4_str_copy(buf, cap, "unknown error") != AS4_OK) {
		/* cap is at least a few bytes everywhere; a truncated text is fine */
	}
	return buf;
}

unsigned wss_cert_rsa_bits(X509 *cert)
{
	const struct wss_cert_info *info = wss_cert_info(cert);
	return info != NULL ? info->rsa_bits : wss_cert_rsa_bits_uncached(cert);
}

unsigned wss_cert_rsa_bits_uncached(X509 *cert)
{
	EVP_PKEY *pk = X509_get0_pubkey(cert);
	if (pk == NULL || !EVP_PKEY_is_a(pk, "RSA")) {
		ERR_clear_error();
		return 0;
	}
	int bits = EVP_PKEY_get_bits(pk);
	return bits > 0 ? (unsigned)bits : 0;
}

static char *name_text(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *out = NULL;
	if (bio == NULL) {
		return NULL;
	}
	/* RFC 2253 order and escaping, UTF-8 kept as is (readable names in diagnostics). */
	unsigned long flags = XN_FLAG_RFC2253 & ~(unsigned long)ASN1_STRFLGS_ESC_MSB;
	if (X509_NAME_print_ex(bio, name, 0, flags) >= 0) {
		char *p = NULL;
		long n = BIO_get_mem_data(bio, &p);
		if (n >= 0) {
			out = as4_str_ndup(p, (size_t)n);
		}
	}
	BIO_free(bio);
	return out;
}

char *wss_cert_name_uncached(X509 *cert)
{
	return name_text(X509_get_subject_name(cert));
}

char *wss_cert_name(X509 *cert, bool issuer)
{
	if (issuer) {
		return name_text(X509_get_issuer_name(cert));
	}
	const struct wss_cert_info *info = wss_cert_info(cert);
	return info != NULL ? as4_str_dup(info->subject) : wss_cert_name_uncached(cert);
}

bool wss_cert_ski(X509 *cert, uint8_t out[64], size_t *len)
{
	const ASN1_OCTET_STRING *ext = X509_get0_subject_key_id(cert);
	if (ext != NULL && ASN1_STRING_length(ext) > 0 && ASN1_STRING_length(ext) <= 64) {
		*len = (size_t)ASN1_STRING_length(ext);
		memcpy(out, ASN1_STRING_get0_data(ext), *len);
		return true;
	}
	ERR_clear_error();
	/* RFC 5280 §4.2.1.2 method (1): SHA-1 of the BIT STRING subjectPublicKey (no tag). */
	ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(cert);
	if (bits == NULL || bits->length <= 0) {
		return false;
	}
	SHA1(bits->data, (size_t)bits->length, out);
	*len = SHA_DIGEST_LENGTH;
	return true;
}

bool wss_cert_ski_matches(X509 *cert, const uint8_t *ski, size_t len)
{
	uint8_t mine[64];
	size_t n = 0;
	if (wss_cert_ski(cert, mine, &n) && n == len && memcmp(mine, ski, len) == 0) {
		return true;
	}
	/* A peer may compute method (1) even when the certificate carries another value. */
	ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(cert);
	if (bits == NULL || bits->length <= 0 || len != SHA_DIGEST_LENGTH) {
		return false;
	}
	SHA1(bits->data, (size_t)bits->length, mine);
	return memcmp(mine, ski, len) == 0;
}

/* ---- distinguished names -------------------------------------------------------------- */

#define DN_MAX_ATTRS 32
#define DN_MAX_TEXT  1024

struct dn {
	char text[DN_MAX_TEXT]; /* normalised attributes, NUL-separated */
	const char *attr[DN_MAX_ATTRS];
	size_t n;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return -1;
}

/* The canonical spelling of an attribute type, so "E" equals "emailAddress", "S" equals "ST". */
static const char *dn_type(const char *t)
{
	static const char *const syn[][2] = {
	        {"E", "EMAILADDRESS"},
	        {"S", "ST"},
	        {"OID.2.5.4.3", "CN"},
	        {"2.5.4.3", "CN"},
	        {"OID.2.5.4.6", "C"},
	        {"2.5.4.6", "C"},
	        {"OID.2.5.4.10", "O"},
	        {"2.5.4.10", "O"},
	        {"OID.2.5.4.11", "OU"},
	        {"2.5.4.11", "OU"},
	        {"OID.2.5.4.5", "SERIALNUMBER"},
	        {"2.5.4.5", "SERIALNUMBER"},
	        {"1.2.840.113549.1.9.1", "EMAILADDRESS"},
	        {"OID.1.2.840.113549.1.9.1", "EMAILADDRESS"},
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(syn); i++) {
		if (strcmp(t, syn[i][0]) == 0) {
			return syn[i][1];
		}
	}
	return t;
}

/*
 * Normalise an RFC 2253/4514 DN string into a sorted list of "TYPE=value" with the value
 * unescaped, lower-cased (ASCII) and without spaces: the comparison WSS4J-based peers make.
 */
static bool dn_parse(const char *s, struct dn *dn)
{
	size_t used = 0;
	dn->n = 0;
	while (*s != '\0') {
		char type[64];
		size_t tn = 0;
		while (*s == ' ') {
			s++;
		}
		while (*s != '\0' && *s != '=') {
			if (*s != ' ') {
				if (tn + 1 >= sizeof(type)) {
					return false;
				}
				type[tn++] = (char)toupper((unsigned char)*s);
			}
			s++;
		}
		if (*s != '=' || tn == 0 || dn->n >= DN_MAX_ATTRS) {
			return false;
		}
		type[tn] = '\0';
		s++;
		const char *ct = dn_type(type);
		size_t ctn = strlen(ct);
		if (used + ctn + 2 >= DN_MAX_TEXT) {
			return false;
		}
		dn->attr[dn->n++] = dn->text + used;
		memcpy(dn->text + used, ct, ctn);
		used += ctn;
		dn->text[used++] = '=';
		bool quoted = false;
		while (*s != '\0' && (quoted || (*s != ',' && *s != '+' && *s != ';'))) {
			char c = *s++;
			if (c == '"') {
				quoted = !quoted;
				continue;
			}
			if (c == '\\' && *s != '\0') {
				int h = hexval(s[0]);
				int l = s[1] != '\0' ? hexval(s[1]) : -1;
				if (h >= 0 && l >= 0) {
					c = (char)(h * 16 + l);
					s += 2;
				} else {
					c = *s++;
				}
			}
			if (c == ' ') {
				continue;
			}
			if (used + 2 >= DN_MAX_TEXT) {
				return false;
			}
			dn->text[used++] = (char)tolower((unsigned char)c);
		}
		dn->text[used++] = '\0';
		if (*s != '\0') {
			s++;
		}
	}
	qsort(dn->attr, dn->n, sizeof(dn->attr[0]), cmp_str);
	return dn->n > 0;
}

static bool dn_equal(const char *a, const char *b)
{
	struct dn *x = malloc(sizeof(*x));
	struct dn *y = malloc(sizeof(*y));
	bool eq = false;
	if (x != NULL && y != NULL && dn_parse(a, x) && dn_parse(b, y) && x->n == y->n) {
		eq = true;
		for (size_t i = 0; i < x->n && eq; i++) {
			eq = strcmp(x->attr[i], y->attr[i]) == 0;
		}
	}
	free(x);
	free(y);
	return eq;
}

bool wss_cert_issuer_serial_matches(X509 *cert, const char *issuer, const char *serial)
{
	bool ok = false;
	BIGNUM *want = NULL;
	BIGNUM *have = NULL;
	char *name = NULL;
	size_t n = strlen(serial);
	if (n == 0 || n > 100 || strspn(serial, "0123456789") != n) {
		return false;
	}
	if (BN_dec2bn(&want, serial) != (int)n) {
		goto out;
	}
	have = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	if (have == NULL || BN_cmp(want, have) != 0) {
		goto out;
	}
	name = wss_cert_name(cert, true);
	ok = name != NULL && dn_equal(name, issuer);
out:
	ERR_clear_error();
	BN_free(want);
	BN_free(have);
	free(name);
	return ok;
}

char *wss_cert_serial_dec(X509 *cert)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *dec = bn != NULL ? BN_bn2dec(bn) : NULL;
	char *out = as4_str_dup(dec);
	OPENSSL_free(dec);
	BN_free(bn);
	return out;
}

bool wss_cert_time_valid(X509 *cert, int64_t at_ms)
{
	const struct wss_cert_info *info = wss_cert_info(cert);
	if (info != NULL && info->times_ok) {
		int64_t s = at_ms / 1000;
		return info->not_before <= s && info->not_after > s;
	}
	time_t t = (time_t)(at_ms / 1000);
	/* X509_cmp_time: -1 when the certificate time is before or equal to t, 1 after, 0 error */
	return X509_cmp_time(X509_get0_notBefore(cert), &t) == -1 &&
	       X509_cmp_time(X509_get0_notAfter(cert), &t) == 1;
}

X509 *wss_cert_from_der(const uint8_t *der, size_t len)
{
	if (len == 0 || len > INT32_MAX) {
		return NULL;
	}
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (x != NULL && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	ERR_clear_error();
	return x;
}

X509 *wss_cert_from_der_known(const uint8_t *der, size_t len, X509 *const *known, size_t n_known)
{
	/*
	 * OpenSSL 3.0 spends most of a certificate parse in its public-key decoder (~0.1 ms):
	 * a token that is byte for byte a certificate we already hold is not parsed again (and
	 * the known certificates' encodings are kept with them, see certinfo.c).
	 */
	for (size_t i = 0; i < n_known; i++) {
		const struct wss_cert_info *info = wss_cert_info(known[i]);
		bool same = false;
		if (info != NULL) {
			same = info->der_len == len && memcmp(info->der, der, len) == 0;
		} else if (known[i] != NULL) {
			unsigned char *enc = NULL;
			int l = i2d_X509(known[i], &enc);
			same = l > 0 && (size_t)l == len && memcmp(enc, der, len) == 0;
			OPENSSL_free(enc);
		}
		if (same && X509_up_ref(known[i]) == 1) {
			return known[i];
		}
	}
	ERR_clear_error();
	return wss_cert_from_der(der, len);
}

bool wss_pkipath_parse(const uint8_t *der, size_t len, X509 **leaf, STACK_OF(X509) * *others)
{
	const unsigned char *p = der;
	long clen = 0;
	int tag = 0;
	int cls = 0;
	X509 *certs[WSS_MAX_PKIPATH];
	size_t n = 0;
	bool ok = false;
	*leaf = NULL;
	*others = NULL;
	if (len == 0 || len > INT32_MAX) {
		return false;
	}
	int r = ASN1_get_object(&p, &clen, &tag, &cls, (long)len);
	if ((r & 0x80) != 0 || r != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE ||
	    cls != V_ASN1_UNIVERSAL || p + clen != der + len) {
		goto out;
	}
	const unsigned char *end = p + clen;
	while (p < end) {
		if (n >= WSS_MAX_PKIPATH) {
			goto out;
		}
		X509 *x = d2i_X509(NULL, &p, end - p);
		if (x == NULL) {
			goto out;
		}
		certs[n++] = x;
	}
	if (n == 0) {
		goto out;
	}
	/*
	 * WSS X.509 Token Profile 1.1 §3.1: PkiPath lists the trust anchor side first and the
	 * signer last. A producer that wrote the signer first is recognised by the issuing order.
	 */
	size_t li = n - 1;
	if (n > 1 && X509_check_issued(certs[n - 2], certs[n - 1]) != X509_V_OK &&
	    X509_check_issued(certs[1], certs[0]) == X509_V_OK) {
		li = 0;
	}
	*others = sk_X509_new_null();
	if (*others == NULL) {
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (i == li) {
			continue;
		}
		if (sk_X509_push(*others, certs[i]) <= 0) {
			goto out;
		}
		certs[i] = NULL;
	}
	*leaf = certs[li];
	certs[li] = NULL;
	ok = true;
out:
	for (size_t i = 0; i < n; i++) {
		X509_free(certs[i]);
	}
	if (!ok) {
		sk_X509_pop_free(*others, X509_free);
		*others = NULL;
	}
	ERR_clear_error();
	return ok;
}

as4_err wss_pkipath_encode(X509 *leaf, STACK_OF(X509) * chain, uint8_t **out, size_t *len)
{
	int n = chain != NULL ? sk_X509_num(chain) : 0;
	size_t content = 0;
	for (int i = -1; i < n; i++) {
		int l = i2d_X509(i < 0 ? leaf : sk_X509_value(chain, i), NULL);
		if (l <= 0 || !as4_add_size(content, (size_t)l, &content)) {
			return AS4_E_CRYPTO;
		}
	}
	if (content > INT32_MAX - 16) {
		return AS4_E_LIMIT;
	}
	int total = ASN1_object_size(1, (int)content, V_ASN1_SEQUENCE);
	if (total <= 0) {
		return AS4_E_CRYPTO;
	}
	unsigned char *buf = malloc((size_t)total);
	if (buf == NULL) {
		return AS4_E_NOMEM;
	}
	unsigned char *p = buf;
	ASN1_put_object(&p, 1, (int)content, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	/* trust anchor side first: the last issuer in our chain file comes first */
	for (int i = n - 1; i >= -1; i--) {
		if (i2d_X509(i < 0 ? leaf : sk_X509_value(chain, i), &p) <= 0) {
			free(buf);
			return AS4_E_CRYPTO;
		}
	}
	*out = buf;
	*len = (size_t)(p - buf);
	return AS4_OK;
}

as4_err wss_cert_der(X509 *cert, uint8_t **out, size_t *len)
{
	int l = i2d_X509(cert, NULL);
	if (l <= 0) {
		return AS4_E_CRYPTO;
	}
	uint8_t *buf = malloc((size_t)l);
	if (buf == NULL) {
		return AS4_E_NOMEM;
	}
	unsigned char *p = buf;
	if (i2d_X509(cert, &p) != l) {
		free(buf);
		return AS4_E_CRYPTO;
	}
	*out = buf;
	*len = (size_t)l;
	return AS4_OK;
}
