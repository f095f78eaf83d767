/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Our private key and certificate chain. This is the only file that reads, holds or uses
 * private key material (STYLE rule 23): the PEM text is wiped with OPENSSL_cleanse as soon as
 * it is parsed, the key lives in an OpenSSL EVP_PKEY (which wipes itself when freed), and the
 * two private-key operations the layer needs (RSA signature, RSA-OAEP unwrap) are
 * reached through the functions at the end of this file.
 */
#include "as4/wss.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "as4/blob.h"
#include "as4/str.h"
#include "wss_int.h"

/* Largest key or certificate file read (a PEM chain of a dozen certificates is ~20 KB). */
#define KEY_FILE_MAX (1024u * 1024)

struct as4_keystore {
	EVP_PKEY *key;
	X509 *cert;
	STACK_OF(X509) * chain;
	char *token_x509;    /* base64 DER of cert: the X509v3 BinarySecurityToken text */
	char *token_pkipath; /* base64 X509PKIPathv1 of cert and chain */
	/*
	 * Operation contexts for the usual algorithms, made on first use and then only copied
	 * (EVP_PKEY_CTX_dup, ~0.1 us) instead of set up for every message (~4 us: OpenSSL 3
	 * fetches the operation and its digests from the provider each time). lock guards
	 * them; the copies are used outside it.
	 */
	pthread_mutex_t lock;
	EVP_PKEY_CTX *sign_sha256; /* sign_init, PKCS#1 v1.5, SHA-256 */
	EVP_PKEY_CTX *oaep_sha256; /* decrypt_init, OAEP with SHA-256 and MGF1-SHA-256 */
};

static struct as4_keystore *keystore_new(void)
{
	struct as4_keystore *ks = calloc(1, sizeof(*ks));
	if (ks != NULL && pthread_mutex_init(&ks->lock, NULL) != 0) {
		free(ks);
		ks = NULL;
	}
	return ks;
}

static EVP_PKEY_CTX *prepare_sign_sha256(EVP_PKEY *key)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (ctx == NULL || EVP_PKEY_sign_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, wss_sha(256)) <= 0) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static EVP_PKEY_CTX *prepare_oaep(EVP_PKEY *key, const EVP_MD *oaep_md, const EVP_MD *mgf1_md)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (ctx == NULL || EVP_PKEY_decrypt_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, oaep_md) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf1_md) <= 0) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* A copy of the prepared context *slot (made first when missing); NULL when that failed. */
static EVP_PKEY_CTX *prepared_copy(const struct as4_keystore *cks, bool sign)
{
	/* the keystore is shared read-only; only these cached contexts change, under lock */
	struct as4_keystore *ks = (struct as4_keystore *)(uintptr_t)cks;
	EVP_PKEY_CTX *copy = NULL;
	if (pthread_mutex_lock(&ks->lock) != 0) {
		return NULL;
	}
	EVP_PKEY_CTX **slot = sign ? &ks->sign_sha256 : &ks->oaep_sha256;
	if (*slot == NULL) {
		*slot = sign ? prepare_sign_sha256(ks->key)
		             : prepare_oaep(ks->key, wss_sha(256), wss_sha(256));
	}
	if (*slot != NULL) {
		copy = EVP_PKEY_CTX_dup(*slot);
	}
	pthread_mutex_unlock(&ks->lock);
	ERR_clear_error();
	return copy;
}

/* The BinarySecurityToken texts never change: encode them once, not for every signature. */
static as4_err make_tokens(struct as4_keystore *ks)
{
	uint8_t *der = NULL;
	size_t len = 0;
	free(ks->token_x509);
	free(ks->token_pkipath);
	ks->token_x509 = NULL;
	ks->token_pkipath = NULL;
	as4_err err = wss_cert_der(ks->cert, &der, &len);
	if (err == AS4_OK) {
		ks->token_x509 = as4_b64_encode(der, len, 0);
		free(der);
		der = NULL;
		err = wss_pkipath_encode(ks->cert, ks->chain, &der, &len);
	}
	if (err == AS4_OK) {
		ks->token_pkipath = as4_b64_encode(der, len, 0);
		free(der);
	}
	if (err == AS4_OK && (ks->token_x509 == NULL || ks->token_pkipath == NULL)) {
		err = AS4_E_NOMEM;
	}
	return err;
}

const char *wss_keystore_token(const struct as4_keystore *ks, bool pkipath)
{
	return pkipath ? ks->token_pkipath : ks->token_x509;
}

/*
 * Read the key file through one descriptor so that the permission check and the read see the
 * same file. STYLE rule 23: a key readable by group or others is refused.
 */
static as4_err read_key_file(const char *path, uint8_t **out, size_t *len, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	uint8_t *buf = NULL;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return as4_diag_set(d, AS4_E_CONFIG, "cannot open private key file %s: %s", path,
		                    strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err = as4_diag_set(d, AS4_E_CONFIG, "private key file %s is not a regular file",
		                   path);
		goto out;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		err = as4_diag_set(d, AS4_E_CONFIG,
		                   "private key file %s is accessible by group or others (mode "
		                   "%04o); restrict it with chmod 600",
		                   path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size <= 0 || (uint64_t)st.st_size > KEY_FILE_MAX) {
		err = as4_diag_set(d, AS4_E_CONFIG, "private key file %s has an implausible size",
		                   path);
		goto out;
	}
	size_t want = (size_t)st.st_size;
	buf = malloc(want + 1);
	if (buf == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory reading %s", path);
		goto out;
	}
	while (n < want) {
		ssize_t r = read(fd, buf + n, want - n);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			err = as4_diag_set(d, AS4_E_CONFIG, "cannot read private key file %s",
			                   path);
			goto out;
		}
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, n);
		free(buf);
	}
	close(fd);
	return err;
}

/* No passphrase prompt: encrypted keys are refused with a clear message instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

static as4_err parse_key(const char *path, const uint8_t *pem, size_t len, EVP_PKEY **out,
                         struct as4_diag *d)
{
	char e[200];
	if (len > INT32_MAX) {
		return as4_diag_set(d, AS4_E_CONFIG, "private key file %s too large", path);
	}
	if (memmem(pem, len, "BEGIN ENCRYPTED PRIVATE KEY", 27) != NULL ||
	    memmem(pem, len, "Proc-Type: 4,ENCRYPTED", 22) != NULL) {
		return as4_diag_set(d, AS4_E_CONFIG,
		                    "private key file %s is encrypted; store it unencrypted with "
		                    "mode 0600 (openssl pkey -in KEY -out KEY.pem)",
		                    path);
	}
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (key == NULL) {
		return as4_diag_set(d, AS4_E_CONFIG,
		                    "private key file %s holds no PEM private key (PKCS#8 or "
		                    "PKCS#1): %s",
		                    path, wss_ssl_err(e, sizeof(e)));
	}
	ERR_clear_error();
	*out = key;
	return AS4_OK;
}

static as4_err parse_certs(const char *path, const uint8_t *data, size_t len, X509 **cert,
                           STACK_OF(X509) * *chain, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	STACK_OF(X509) *st = sk_X509_new_null();
	BIO *bio = NULL;
	X509 *x = NULL;
	if (st == NULL || len > INT32_MAX) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	bio = BIO_new_mem_buf(data, (int)len);
	if (bio == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_push(st, x) <= 0) {
			X509_free(x);
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
			goto out;
		}
	}
	ERR_clear_error();
	if (sk_X509_num(st) == 0) {
		/* Not PEM: one DER certificate. */
		x = wss_cert_from_der(data, len);
		if (x == NULL || sk_X509_push(st, x) <= 0) {
			X509_free(x);
			err = as4_diag_set(d, AS4_E_CONFIG,
			                   "certificate file %s holds no certificate (PEM or DER)",
			                   path);
			goto out;
		}
	}
	*cert = sk_X509_shift(st);
	*chain = st;
	st = NULL;
out:
	BIO_free(bio);
	sk_X509_pop_free(st, X509_free);
	return err;
}

/*
 * The checks every keystore passes once its key and certificates are parsed (RSA, size floor,
 * the first certificate belongs to the key) and its token texts. key_src and cert_src name
 * where they came from in diagnostics (file paths, or a label such as "request").
 */
static as4_err finish(struct as4_keystore *ks, unsigned min_bits, const char *key_src,
                      const char *cert_src, struct as4_diag *d)
{
	if (!EVP_PKEY_is_a(ks->key, "RSA")) {
		return as4_diag_set(
		        d, AS4_E_CONFIG,
		        "%s: the private key is %s; eDelivery AS4 1.15 needs an RSA key", key_src,
		        EVP_PKEY_get0_type_name(ks->key));
	}
	if (EVP_PKEY_get_bits(ks->key) < (int)min_bits) {
		return as4_diag_set(d, AS4_E_CONFIG,
		                    "%s: the private key has %d bits; at least %u are required",
		                    key_src, EVP_PKEY_get_bits(ks->key), min_bits);
	}
	if (X509_check_private_key(ks->cert, ks->key) != 1) {
		ERR_clear_error();
		return as4_diag_set(
		        d, AS4_E_CONFIG,
		        "%s: the first certificate does not belong to the private key %s", cert_src,
		        key_src);
	}
	if (make_tokens(ks) != AS4_OK) {
		return as4_diag_set(d, AS4_E_NOMEM, "%s: cannot encode the certificates", cert_src);
	}
	return AS4_OK;
}

as4_err as4_keystore_load(const char *key_path, const char *cert_path, struct as4_keystore **out,
                          struct as4_diag *d)
{
	return as4_keystore_load_min_bits(key_path, cert_path, 2048, out, d);
}

as4_err as4_keystore_load_min_bits(const char *key_path, const char *cert_path, unsigned min_bits,
                                   struct as4_keystore **out, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	uint8_t *pem = NULL;
	size_t pem_len = 0;
	uint8_t *certs = NULL;
	size_t certs_len = 0;
	struct as4_keystore *ks = NULL;
	*out = NULL;
	if (key_path == NULL || cert_path == NULL) {
		return as4_diag_set(d, AS4_E_INVAL,
		                    "keystore needs a key file and a certificate file");
	}
	if (min_bits < 1024 || min_bits > 16384) {
		return as4_diag_set(d, AS4_E_INVAL, "RSA key size floor %u outside 1024..16384",
		                    min_bits);
	}
	ks = keystore_new();
	if (ks == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	err = read_key_file(key_path, &pem, &pem_len, d);
	if (err != AS4_OK) {
		goto out;
	}
	err = parse_key(key_path, pem, pem_len, &ks->key, d);
	OPENSSL_cleanse(pem, pem_len);
	if (err != AS4_OK) {
		goto out;
	}
	err = as4_file_read(cert_path, KEY_FILE_MAX, &certs, &certs_len);
	if (err != AS4_OK) {
		err = as4_diag_set(d, AS4_E_CONFIG, "cannot read certificate file %s (%s)",
		                   cert_path, as4_strerror(err));
		goto out;
	}
	err = parse_certs(cert_path, certs, certs_len, &ks->cert, &ks->chain, d);
	if (err == AS4_OK) {
		err = finish(ks, min_bits, key_path, cert_path, d);
	}
	if (err != AS4_OK) {
		goto out;
	}
	*out = ks;
	ks = NULL;
out:
	if (pem != NULL) {
		OPENSSL_cleanse(pem, pem_len);
		free(pem);
	}
	free(certs);
	as4_keystore_free(ks);
	return err;
}

as4_err as4_keystore_import(const uint8_t *key_pem, size_t key_len, const uint8_t *cert_pem,
                            size_t cert_len, const char *label, struct as4_keystore **out,
                            struct as4_diag *d)
{
	as4_err err = AS4_OK;
	uint8_t *pem = NULL;
	struct as4_keystore *ks = NULL;
	*out = NULL;
	if (key_pem == NULL || key_len == 0 || cert_pem == NULL || cert_len == 0) {
		return as4_diag_set(d, AS4_E_CONFIG,
		                    "%s: a private key and a certificate are needed", label);
	}
	if (key_len > KEY_FILE_MAX || cert_len > KEY_FILE_MAX) {
		return as4_diag_set(d, AS4_E_CONFIG, "%s: key or certificate larger than 1 MiB",
		                    label);
	}
	ks = keystore_new();
	/* a private copy, wiped below, so the parse never reads past the caller's bytes */
	pem = malloc(key_len + 1);
	if (ks == NULL || pem == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(pem, key_pem, key_len);
	pem[key_len] = '\0';
	err = parse_key(label, pem, key_len, &ks->key, d);
	if (err == AS4_OK) {
		err = parse_certs(label, cert_pem, cert_len, &ks->cert, &ks->chain, d);
	}
	if (err == AS4_OK) {
		err = finish(ks, 2048, label, label, d);
	}
	if (err != AS4_OK) {
		goto out;
	}
	*out = ks;
	ks = NULL;
out:
	if (pem != NULL) {
		OPENSSL_cleanse(pem, key_len);
		free(pem);
	}
	as4_keystore_free(ks);
	return err;
}

void as4_keystore_free(struct as4_keystore *ks)
{
	if (ks == NULL) {
		return;
	}
	EVP_PKEY_CTX_free(ks->sign_sha256);
	EVP_PKEY_CTX_free(ks->oaep_sha256);
	pthread_mutex_destroy(&ks->lock);
	/* EVP_PKEY_free clears the key's big numbers (BN_clear_free) before releasing them. */
	EVP_PKEY_free(ks->key);
	X509_free(ks->cert);
	sk_X509_pop_free(ks->chain, X509_free);
	free(ks->token_x509);
	free(ks->token_pkipath);
	OPENSSL_cleanse(ks, sizeof(*ks));
	free(ks);
}

X509 *as4_keystore_cert(const struct as4_keystore *ks)
{
	return ks->cert;
}

STACK_OF(X509) * as4_keystore_chain(const struct as4_keystore *ks)
{
	return ks->chain;
}

as4_err wss_keystore_sign(const struct as4_keystore *ks, const EVP_MD *md, const uint8_t *digest,
                          size_t dlen, uint8_t **sig, size_t *sig_len, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	size_t len = (size_t)EVP_PKEY_get_size(ks->key);
	bool usual = EVP_MD_get_type(md) == NID_sha256;
	EVP_PKEY_CTX *ctx = usual ? prepared_copy(ks, true) : NULL;
	bool fresh = ctx == NULL;
	if (fresh) {
		ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ks->key, NULL);
	}
	*sig = malloc(len);
	if (ctx == NULL || *sig == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	if ((fresh && (EVP_PKEY_sign_init(ctx) <= 0 ||
	               EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
	               EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0)) ||
	    EVP_PKEY_sign(ctx, *sig, &len, digest, dlen) <= 0) {
		char m[160];
		err = as4_diag_set(d, AS4_E_CRYPTO, "RSA signature failed: %s",
		                   wss_ssl_err(m, sizeof(m)));
		goto out;
	}
	*sig_len = len;
out:
	if (err != AS4_OK) {
		free(*sig);
		*sig = NULL;
	}
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	return err;
}

as4_err wss_keystore_unwrap(const struct as4_keystore *ks, const EVP_MD *oaep_md,
                            const EVP_MD *mgf1_md, const uint8_t *label, size_t label_len,
                            const uint8_t *in, size_t in_len, uint8_t *out, size_t cap,
                            size_t *out_len, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	uint8_t tmp[1024]; /* RSA-8192 output at most */
	size_t tmp_len = sizeof(tmp);
	unsigned char *lab = NULL;
	bool usual =
	        EVP_MD_get_type(oaep_md) == NID_sha256 && EVP_MD_get_type(mgf1_md) == NID_sha256;
	EVP_PKEY_CTX *ctx = usual ? prepared_copy(ks, false) : NULL;
	if (ctx == NULL) {
		ctx = prepare_oaep(ks->key, oaep_md, mgf1_md);
	}
	if (ctx == NULL) {
		ERR_clear_error();
		return as4_diag_set(d, AS4_E_CRYPTO, "cannot set up RSA-OAEP");
	}
	if ((size_t)EVP_PKEY_get_size(ks->key) > sizeof(tmp)) {
		err = as4_diag_set(d, AS4_E_DECRYPT, "decryption key too large");
		goto out;
	}
	if (label != NULL && label_len > 0) {
		lab = OPENSSL_memdup(label, label_len);
		if (lab == NULL ||
		    EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, lab, (int)label_len) <= 0) {
			OPENSSL_free(lab);
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
			goto out;
		}
	}
	/* One message for every failure below: an unwrap oracle must learn nothing. */
	if (EVP_PKEY_decrypt(ctx, tmp, &tmp_len, in, in_len) <= 0 || tmp_len > cap) {
		err = as4_diag_set(d, AS4_E_DECRYPT,
		                   "EncryptedKey could not be decrypted with our private key");
		goto out;
	}
	memcpy(out, tmp, tmp_len);
	*out_len = tmp_len;
out:
	ERR_clear_error();
	OPENSSL_cleanse(tmp, sizeof(tmp));
	EVP_PKEY_CTX_free(ctx);
	return err;
}

as4_err as4_keystore_generate(unsigned bits, struct as4_keystore **out, struct as4_diag *d)
{
	*out = NULL;
	if (bits < 2048 || bits > 16384) {
		return as4_diag_set(d, AS4_E_INVAL, "RSA key size %u outside 2048..16384", bits);
	}
	struct as4_keystore *ks = keystore_new();
	if (ks == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	ks->key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	ks->chain = sk_X509_new_null();
	if (ks->key == NULL || ks->chain == NULL) {
		char m[160];
		as4_err err = as4_diag_set(d, AS4_E_CRYPTO, "RSA key generation failed: %s",
		                           wss_ssl_err(m, sizeof(m)));
		as4_keystore_free(ks);
		return err;
	}
	*out = ks;
	return AS4_OK;
}

EVP_PKEY *as4_keystore_public_key(const struct as4_keystore *ks)
{
	/* through the SubjectPublicKeyInfo encoding, so that no private part comes along */
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(ks->key, &der);
	if (len <= 0) {
		ERR_clear_error();
		return NULL;
	}
	const unsigned char *p = der;
	EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	ERR_clear_error();
	return pub;
}

as4_err as4_keystore_sign_cert(const struct as4_keystore *ks, X509 *cert, struct as4_diag *d)
{
	if (X509_sign(cert, ks->key, EVP_sha256()) <= 0) {
		char m[160];
		return as4_diag_set(d, AS4_E_CRYPTO, "cannot sign the certificate: %s",
		                    wss_ssl_err(m, sizeof(m)));
	}
	return AS4_OK;
}

as4_err as4_keystore_set_cert(struct as4_keystore *ks, X509 *cert, struct as4_diag *d)
{
	if (X509_check_private_key(cert, ks->key) != 1) {
		ERR_clear_error();
		return as4_diag_set(d, AS4_E_INVAL, "the certificate does not belong to the key");
	}
	if (X509_up_ref(cert) != 1) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	X509_free(ks->cert);
	ks->cert = cert;
	if (make_tokens(ks) != AS4_OK) {
		return as4_diag_set(d, AS4_E_NOMEM, "cannot encode the certificate");
	}
	return AS4_OK;
}

as4_err as4_keystore_save_key(const struct as4_keystore *ks, const char *path, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	BIO *bio = BIO_new(BIO_s_secmem());
	char *pem = NULL;
	if (bio == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	if (PEM_write_bio_PrivateKey(bio, ks->key, NULL, NULL, 0, NULL, NULL) != 1) {
		err = as4_diag_set(d, AS4_E_CRYPTO, "cannot encode the private key");
		goto out;
	}
	long len = BIO_get_mem_data(bio, &pem);
	if (len <= 0) {
		err = as4_diag_set(d, AS4_E_CRYPTO, "cannot encode the private key");
		goto out;
	}
	err = as4_file_write_atomic(path, pem, (size_t)len, 0600);
	if (err != AS4_OK) {
		err = as4_diag_set(d, err, "cannot write %s (%s)", path, as4_strerror(err));
	}
out:
	ERR_clear_error();
	BIO_free(bio); /* a secure-memory BIO clears its buffer when freed */
	return err;
}
