/* SPDX-License-Identifier: Apache-2.0 */
/*
 * as4ctl certs: offline certificate tools for administrators and pilot participants.
 *
 *   certs dev DIR    a development PKI in DIR: ca.pem + ca.key.pem (test CA, 10 years) and
 *                    ap1/ap2 .key.pem + .cert.pem (RSA-2048, issued by the CA, CN=ap1/ap2,
 *                    SAN DNS:localhost and IP:127.0.0.1 so they also serve as TLS server
 *                    certificates, key usage digitalSignature+keyEncipherment, extended key
 *                    usage serverAuth+clientAuth, 2 years). Keys are written with mode 0600.
 *                    A complete existing set is left untouched (exit 0); a partial one is an
 *                    error naming the missing files (exit 1).
 *   certs show FILE  every certificate in a PEM or DER file: subject, issuer, serial, validity,
 *                    days to expiry, subject key identifier, key type and size, SAN, usages.
 *
 * Everything is made with the OpenSSL 3 API, never by running the openssl tool. The private
 * keys are generated, used and written by the keystore (ap/wss/keystore.c), the only code
 * that handles private keys (STYLE rule 23). Exit status: 0 done, 1 failed, 2 usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "as4/blob.h"
#include "as4/str.h"
#include "as4/time.h"
#include "as4/wss.h"
#include "cli.h"

#define DAY_S         86400L
#define CA_DAYS       3652 /* 10 years */
#define LEAF_DAYS     730  /* 2 years */
#define DEV_KEY_BITS  2048
#define CERT_FILE_MAX (8u * 1024 * 1024)

static const char usage_text[] =
        "usage: as4ctl certs dev DIR\n"
        "       as4ctl certs show FILE\n"
        "       as4ctl certs list        (online: every certificate the running as4d uses)\n"
        "dev   makes a development PKI in DIR: ca.pem, ca.key.pem and ap1/ap2 .key.pem and\n"
        "      .cert.pem (RSA-2048, CN=ap1/ap2, SAN localhost and 127.0.0.1); an existing\n"
        "      complete set is kept as it is.\n"
        "show  prints every certificate of a PEM or DER file.\n"
        "Exit status: 0 done, 1 failed, 2 usage error.\n";

/* The files of a complete development PKI, in the order they are made. */
static const char *const dev_files[] = {"ca.key.pem",   "ca.pem",      "ap1.key.pem",
                                        "ap1.cert.pem", "ap2.key.pem", "ap2.cert.pem"};

static const char *ssl_reason(void)
{
	unsigned long e = ERR_get_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
	ERR_clear_error();
	return r != NULL ? r : "unknown error";
}

/* A positive random 127-bit serial number (RFC 5280 §4.1.2.2: at most 20 octets). */
static bool set_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	bool ok = bn != NULL && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
	          BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok;
}

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	bool ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

/*
 * A certificate for subject's key, issued (signed) by issuer_ks whose certificate is
 * issuer_cert (NULL: self-signed CA). Returns a new X509 or NULL with a message on stderr.
 */
static X509 *make_cert(const struct as4_keystore *subject_ks, const char *cn,
                       const struct as4_keystore *issuer_ks, X509 *issuer_cert, long days)
{
	X509 *x = X509_new();
	EVP_PKEY *pub = as4_keystore_public_key(subject_ks);
	X509_NAME *name = X509_NAME_new();
	struct as4_diag d;
	as4_diag_init(&d);
	bool ca = issuer_cert == NULL;
	bool ok = x != NULL && pub != NULL && name != NULL && X509_set_version(x, X509_VERSION_3) &&
	          set_serial(x) && X509_gmtime_adj(X509_getm_notBefore(x), -300) != NULL &&
	          X509_gmtime_adj(X509_getm_notAfter(x), days * DAY_S) != NULL &&
	          X509_set_pubkey(x, pub) == 1 &&
	          X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	                                     (const unsigned char *)"AS4 Development", -1, -1,
	                                     0) == 1 &&
	          X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
	                                     -1, -1, 0) == 1 &&
	          X509_set_subject_name(x, name) == 1 &&
	          X509_set_issuer_name(x, ca ? name : X509_get_subject_name(issuer_cert)) == 1;
	X509 *iss = ca ? x : issuer_cert;
	if (ok && ca) {
		ok = add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE") &&
		     add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign") &&
		     add_ext(x, iss, NID_subject_key_identifier, "hash");
	} else if (ok) {
		ok = add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE") &&
		     add_ext(x, iss, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
		     add_ext(x, iss, NID_ext_key_usage, "serverAuth,clientAuth") &&
		     add_ext(x, iss, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1") &&
		     add_ext(x, iss, NID_subject_key_identifier, "hash") &&
		     add_ext(x, iss, NID_authority_key_identifier, "keyid:always");
	}
	if (!ok) {
		fprintf(stderr, "as4ctl certs: cannot build the certificate for %s: %s\n", cn,
		        ssl_reason());
	} else if (as4_keystore_sign_cert(issuer_ks, x, &d) != AS4_OK) {
		fprintf(stderr, "as4ctl certs: %s\n", as4_diag_text(&d));
		ok = false;
	}
	X509_NAME_free(name);
	EVP_PKEY_free(pub);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static bool write_cert(const char *path, X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;
	bool ok = bio != NULL && PEM_write_bio_X509(bio, x) == 1;
	long len = ok ? BIO_get_mem_data(bio, &pem) : 0;
	ok = ok && len > 0 && as4_file_write_atomic(path, pem, (size_t)len, 0644) == AS4_OK;
	if (!ok) {
		fprintf(stderr, "as4ctl certs: cannot write %s\n", path);
	}
	BIO_free(bio);
	return ok;
}

static bool path_of(char *out, size_t cap, const char *dir, const char *file)
{
	if (as4_str_fmt(out, cap, "%s/%s", dir, file) != AS4_OK) {
		fprintf(stderr, "as4ctl certs: path too long: %s/%s\n", dir, file);
		return false;
	}
	return true;
}

/* A key and its certificate issued by the CA (or the CA itself when ca_ks is NULL). */
static bool make_entity(const char *dir, const char *name, const char *cn,
                        const struct as4_keystore *ca_ks, X509 *ca_cert, long days,
                        struct as4_keystore **ks_out, X509 **cert_out)
{
	char key_path[4096];
	char cert_path[4096];
	char key_file[64];
	char cert_file[64];
	struct as4_keystore *ks = NULL;
	X509 *cert = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	bool ok = as4_str_fmt(key_file, sizeof(key_file), "%s.key.pem", name) == AS4_OK &&
	          as4_str_fmt(cert_file, sizeof(cert_file),
	                      ca_ks == NULL ? "%s.pem" : "%s.cert.pem", name) == AS4_OK &&
	          path_of(key_path, sizeof(key_path), dir, key_file) &&
	          path_of(cert_path, sizeof(cert_path), dir, cert_file);
	if (ok && as4_keystore_generate(DEV_KEY_BITS, &ks, &d) != AS4_OK) {
		fprintf(stderr, "as4ctl certs: %s\n", as4_diag_text(&d));
		ok = false;
	}
	if (ok) {
		cert = make_cert(ks, cn, ca_ks != NULL ? ca_ks : ks, ca_cert, days);
		ok = cert != NULL;
	}
	if (ok && (as4_keystore_set_cert(ks, cert, &d) != AS4_OK ||
	           as4_keystore_save_key(ks, key_path, &d) != AS4_OK)) {
		fprintf(stderr, "as4ctl certs: %s\n", as4_diag_text(&d));
		ok = false;
	}
	ok = ok && write_cert(cert_path, cert);
	if (ok) {
		printf("wrote %s and %s (CN=%s)\n", key_path, cert_path, cn);
	}
	if (ok && ks_out != NULL) {
		*ks_out = ks;
		ks = NULL;
	}
	if (ok && cert_out != NULL) {
		*cert_out = cert;
		cert = NULL;
	}
	as4_keystore_free(ks);
	X509_free(cert);
	return ok;
}

static int cmd_dev(const char *dir)
{
	char path[4096];
	size_t present = 0;
	const char *missing[AS4_ARRAY_LEN(dev_files)];
	size_t n_missing = 0;
	for (size_t i = 0; i < AS4_ARRAY_LEN(dev_files); i++) {
		struct stat st;
		if (!path_of(path, sizeof(path), dir, dev_files[i])) {
			return AS4CTL_REFUSED;
		}
		if (stat(path, &st) == 0) {
			present++;
		} else {
			missing[n_missing++] = dev_files[i];
		}
	}
	if (present == AS4_ARRAY_LEN(dev_files)) {
		printf("%s already holds a complete development PKI; left untouched\n", dir);
		return AS4CTL_OK;
	}
	if (present > 0) {
		fprintf(stderr,
		        "as4ctl certs dev: %s holds a partial development PKI; missing:", dir);
		for (size_t i = 0; i < n_missing; i++) {
			fprintf(stderr, " %s", missing[i]);
		}
		fputs(" (remove the others or restore these)\n", stderr);
		return AS4CTL_REFUSED;
	}
	if (as4_mkdir_p(dir, 0755) != AS4_OK) {
		fprintf(stderr, "as4ctl certs dev: cannot create %s: %s\n", dir, strerror(errno));
		return AS4CTL_REFUSED;
	}
	struct as4_keystore *ca = NULL;
	X509 *ca_cert = NULL;
	bool ok =
	        make_entity(dir, "ca", "AS4 Development CA", NULL, NULL, CA_DAYS, &ca, &ca_cert) &&
	        make_entity(dir, "ap1", "ap1", ca, ca_cert, LEAF_DAYS, NULL, NULL) &&
	        make_entity(dir, "ap2", "ap2", ca, ca_cert, LEAF_DAYS, NULL, NULL);
	as4_keystore_free(ca);
	X509_free(ca_cert);
	if (!ok) {
		fprintf(stderr, "as4ctl certs dev: %s is incomplete; remove it and try again\n",
		        dir);
		return AS4CTL_REFUSED;
	}
	printf("development PKI ready in %s (test use only: never in production)\n", dir);
	return AS4CTL_OK;
}

/* ---- show ------------------------------------------------------------------------------ */

static void print_name(const char *label, const X509_NAME *name)
{
	BIO *out = BIO_new_fp(stdout, BIO_NOCLOSE);
	printf("  %-12s ", label);
	fflush(stdout);
	X509_NAME_print_ex(out, name, 0, XN_FLAG_RFC2253 & ~(unsigned long)ASN1_STRFLGS_ESC_MSB);
	BIO_free(out);
	printf("\n");
}

static void print_time(const char *label, const ASN1_TIME *t)
{
	struct tm tm;
	char buf[AS4_TIME_TEXT_MAX];
	if (ASN1_TIME_to_tm(t, &tm) == 1 &&
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0) {
		printf("  %-12s %s\n", label, buf);
	} else {
		printf("  %-12s (unreadable)\n", label);
	}
}

static void print_ext(X509 *x, int nid, const char *label)
{
	int i = X509_get_ext_by_NID(x, nid, -1);
	if (i < 0) {
		return;
	}
	BIO *out = BIO_new_fp(stdout, BIO_NOCLOSE);
	printf("  %-12s ", label);
	fflush(stdout);
	if (!X509V3_EXT_print(out, X509_get_ext(x, i), 0, 0)) {
		BIO_puts(out, "(unprintable)");
	}
	BIO_free(out);
	printf("\n");
}

static void show_one(X509 *x, size_t idx)
{
	printf("certificate %zu\n", idx);
	print_name("subject", X509_get_subject_name(x));
	print_name("issuer", X509_get_issuer_name(x));
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	char *dec = bn != NULL ? BN_bn2dec(bn) : NULL;
	printf("  %-12s %s (decimal %s)\n", "serial", hex != NULL ? hex : "?",
	       dec != NULL ? dec : "?");
	OPENSSL_free(hex);
	OPENSSL_free(dec);
	BN_free(bn);
	print_time("not before", X509_get0_notBefore(x));
	print_time("not after", X509_get0_notAfter(x));
	int days = 0;
	int secs = 0;
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) == 1) {
		if (days < 0 || (days == 0 && secs < 0)) {
			printf("  %-12s EXPIRED %d days ago\n", "expiry", -days);
		} else {
			printf("  %-12s %d days left\n", "expiry", days);
		}
	}
	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
		printf("  %-12s NOT YET VALID\n", "validity");
	}
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x);
	if (ski != NULL) {
		printf("  %-12s ", "SKI");
		for (int i = 0; i < ASN1_STRING_length(ski); i++) {
			printf("%s%02X", i > 0 ? ":" : "", ASN1_STRING_get0_data(ski)[i]);
		}
		printf("\n");
	}
	EVP_PKEY *pk = X509_get0_pubkey(x);
	if (pk != NULL) {
		printf("  %-12s %s %d bits%s\n", "key", EVP_PKEY_get0_type_name(pk),
		       EVP_PKEY_get_bits(pk),
		       EVP_PKEY_is_a(pk, "RSA") && EVP_PKEY_get_bits(pk) < 2048
		               ? " (below the 2048-bit floor: refused by the access point)"
		               : "");
	}
	int sig_nid = X509_get_signature_nid(x);
	printf("  %-12s %s\n", "signature", sig_nid != NID_undef ? OBJ_nid2ln(sig_nid) : "?");
	print_ext(x, NID_subject_alt_name, "SAN");
	print_ext(x, NID_key_usage, "key usage");
	print_ext(x, NID_ext_key_usage, "ext. usage");
	print_ext(x, NID_basic_constraints, "constraints");
	ERR_clear_error();
}

static int cmd_show(const char *file)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	as4_err err = as4_file_read(file, CERT_FILE_MAX, &buf, &len);
	if (err != AS4_OK) {
		fprintf(stderr, "as4ctl certs show: cannot read %s (%s)\n", file,
		        as4_strerror(err));
		return AS4CTL_REFUSED;
	}
	size_t n = 0;
	BIO *bio = len <= INT32_MAX ? BIO_new_mem_buf(buf, (int)len) : NULL;
	X509 *x = NULL;
	while (bio != NULL && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		show_one(x, ++n);
		X509_free(x);
	}
	ERR_clear_error();
	if (n == 0 && len <= INT32_MAX) {
		const unsigned char *p = buf;
		x = d2i_X509(NULL, &p, (long)len);
		if (x != NULL) {
			show_one(x, ++n);
			X509_free(x);
		}
		ERR_clear_error();
	}
	BIO_free(bio);
	free(buf);
	if (n == 0) {
		fprintf(stderr, "as4ctl certs show: %s holds no certificate (PEM or DER)\n", file);
		return AS4CTL_REFUSED;
	}
	return AS4CTL_OK;
}

int as4ctl_cmd_certs(int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage_text, stdout);
		return AS4CTL_OK;
	}
	if (argc >= 2 && strcmp(argv[1], "list") == 0) {
		return as4ctl_certs_list(argc, argv); /* online: through the API (cmd_online.c) */
	}
	if (argc != 3) {
		fputs(usage_text, stderr);
		return AS4CTL_USAGE;
	}
	if (strcmp(argv[1], "dev") == 0) {
		return cmd_dev(argv[2]);
	}
	if (strcmp(argv[1], "show") == 0) {
		return cmd_show(argv[2]);
	}
	fputs(usage_text, stderr);
	return AS4CTL_USAGE;
}
