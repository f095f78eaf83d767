/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SMP signature verification and certificate checks (SMP-NOTES §2.5).
 *
 * The signature checked is the ds:Signature that is a direct child of the root element, never
 * the first one in document order (DomiSMP puts an owner signature inside an Extension). Its
 * SignedInfo is checked against allow-lists before xmlsec runs; xmlsec then runs with the same
 * allow-lists, with URI="" as the only reference type, and with the key of the certificate
 * found in KeyInfo set in advance, so that KeyInfo cannot name any other key. That certificate
 * is then chained to the configured CA set with OpenSSL, intermediates taken only from that
 * set: a certificate issued by the AP CA under the same root cannot pass as an SMP signer
 * (oxalis#5 is what happens when the chain is not checked at all).
 * OpenSSL and xmlsec failures are turned into as4_err here (STYLE rule 4).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <xmlsec/crypto.h>
#include <xmlsec/keys.h>
#include <xmlsec/openssl/evp.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>

#include "as4/blob.h"
#include "as4/str.h"
#include "as4/time.h"
#include "as4/xml.h"
#include "smp_int.h"

#define ALG_C14N      "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
#define ALG_EXC_C14N  "http://www.w3.org/2001/10/xml-exc-c14n#"
#define ALG_C14N11    "http://www.w3.org/2006/12/xml-c14n11"
#define ALG_ENVELOPED "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
#define ALG_RSA_SHA1  "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
#define ALG_SHA1      "http://www.w3.org/2000/09/xmldsig#sha1"

/* Trust files are small; anything larger is not a CA bundle. */
#define MAX_TRUST_FILE (4u * 1024 * 1024)
/* RFC 2253 names, but UTF-8 kept as it is (Danish names should read "Ærø", not "\\C3\\86"). */
#define NAME_FLAGS (XN_FLAG_RFC2253 & ~(unsigned long)ASN1_STRFLGS_ESC_MSB)

struct as4_smp_trust {
	X509_STORE *store;
	size_t count;
};

/* ---- Certificates ------------------------------------------------------------------------ */

X509 *as4_smp_cert_decode(const uint8_t *der, size_t len)
{
	if (len > 1024 * 1024) {
		return NULL;
	}
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (x != NULL && p != der + len) {
		/* trailing bytes after the certificate: not one certificate */
		X509_free(x);
		x = NULL;
	}
	ERR_clear_error();
	return x;
}

void as4_smp_cert_subject(X509 *cert, char *out, size_t cap)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (cap == 0) {
		BIO_free(b);
		return;
	}
	out[0] = '\0';
	if (b == NULL || X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, NAME_FLAGS) < 0) {
		if (as4_str_copy(out, cap, "?") != AS4_OK) {
			out[0] = '\0';
		}
		BIO_free(b);
		return;
	}
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);
	size_t k = n > 0 ? (size_t)n : 0;
	if (k >= cap) {
		k = cap - 1;
	}
	if (k > 0) {
		memcpy(out, p, k);
	}
	out[k] = '\0';
	BIO_free(b);
}

static int64_t asn1_time_ms(const ASN1_TIME *t)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		return INT64_MAX;
	}
	return (int64_t)timegm(&tm) * 1000;
}

int64_t as4_smp_cert_not_after(X509 *cert)
{
	return asn1_time_ms(X509_get0_notAfter(cert));
}

as4_err as4_smp_trust_load(const char *const *paths, size_t n, struct as4_smp_trust **out,
                           struct as4_diag *d)
{
	*out = NULL;
	as4_err err = AS4_OK;
	struct as4_smp_trust *t = calloc(1, sizeof(*t));
	if (t == NULL || (t->store = X509_STORE_new()) == NULL) {
		free(t);
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory loading CA certificates");
	}
	for (size_t i = 0; i < n && err == AS4_OK; i++) {
		uint8_t *buf = NULL;
		size_t len = 0;
		as4_err rerr = as4_file_read(paths[i], MAX_TRUST_FILE, &buf, &len);
		if (rerr != AS4_OK) {
			err = as4_diag_set(d, AS4_E_CONFIG, "cannot read CA file %s (%s)", paths[i],
			                   as4_strerror(rerr));
			break;
		}
		size_t found = 0;
		BIO *b = BIO_new_mem_buf(buf, (int)len);
		X509 *x = NULL;
		while (b != NULL && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
			if (X509_STORE_add_cert(t->store, x) == 1) {
				found++;
			}
			X509_free(x);
		}
		BIO_free(b);
		ERR_clear_error();
		if (found == 0) {
			x = as4_smp_cert_decode(buf, len);
			if (x != NULL && X509_STORE_add_cert(t->store, x) == 1) {
				found++;
			}
			X509_free(x);
			ERR_clear_error();
		}
		free(buf);
		if (found == 0) {
			err = as4_diag_set(d, AS4_E_CONFIG,
			                   "CA file %s holds no PEM or DER certificate", paths[i]);
		}
		t->count += found;
	}
	if (err != AS4_OK) {
		as4_smp_trust_free(t);
		return err;
	}
	*out = t;
	return AS4_OK;
}

void as4_smp_trust_free(struct as4_smp_trust *t)
{
	if (t != NULL) {
		X509_STORE_free(t->store);
		free(t);
	}
}

as4_err as4_smp_chain_check(const struct as4_smp_trust *t, X509 *cert, int64_t at_ms,
                            const char *what, struct as4_diag *d)
{
	char subject[256];
	as4_smp_cert_subject(cert, subject, sizeof(subject));
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (ctx == NULL || X509_STORE_CTX_init(ctx, t->store, cert, NULL) != 1) {
		X509_STORE_CTX_free(ctx);
		ERR_clear_error();
		return as4_diag_set(d, AS4_E_NOMEM, "cannot set up certificate verification");
	}
	X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
	/* any configured certificate is an anchor: the issuing CA itself, not only a root */
	X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_set_time(vp, (time_t)(at_ms / 1000));
	as4_err err = AS4_OK;
	if (X509_verify_cert(ctx) != 1) {
		int e = X509_STORE_CTX_get_error(ctx);
		int depth = X509_STORE_CTX_get_error_depth(ctx);
		char at[AS4_TIME_TEXT_MAX];
		as4_time_format(at_ms, at);
		const char *hint = "";
		if (e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
		    e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
		    e == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT) {
			hint = " (its issuing CA is not among the configured CA certificates)";
		}
		err = as4_diag_set(d, AS4_E_SMP_TRUST,
		                   "%s '%.200s' not trusted at %s: %s (depth %d)%s", what, subject,
		                   at, X509_verify_cert_error_string(e), depth, hint);
	}
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return err;
}

/* ---- Distinguished names ------------------------------------------------------------------ */

static int type_nid(const char *type)
{
	static const struct {
		const char *name;
		int nid;
	} names[] = {
	        {"CN", NID_commonName},
	        {"C", NID_countryName},
	        {"O", NID_organizationName},
	        {"OU", NID_organizationalUnitName},
	        {"L", NID_localityName},
	        {"ST", NID_stateOrProvinceName},
	        {"S", NID_stateOrProvinceName},
	        {"STREET", NID_streetAddress},
	        {"DC", NID_domainComponent},
	        {"UID", NID_userId},
	        {"E", NID_pkcs9_emailAddress},
	        {"EMAIL", NID_pkcs9_emailAddress},
	        {"EMAILADDRESS", NID_pkcs9_emailAddress},
	        {"SERIALNUMBER", NID_serialNumber},
	        {"T", NID_title},
	        {"TITLE", NID_title},
	        {"GIVENNAME", NID_givenName},
	        {"SN", NID_surname},
	        {"SURNAME", NID_surname},
	        {"ORGANIZATIONIDENTIFIER", NID_organizationIdentifier},
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(names); i++) {
		if (as4_str_ieq(type, names[i].name)) {
			return names[i].nid;
		}
	}
	if (type[0] >= '0' && type[0] <= '9') {
		ASN1_OBJECT *o = OBJ_txt2obj(type, 1);
		int nid = o != NULL ? OBJ_obj2nid(o) : NID_undef;
		ASN1_OBJECT_free(o);
		ERR_clear_error();
		return nid;
	}
	return NID_undef;
}

static bool value_eq(const X509_NAME_ENTRY *e, const char *want)
{
	unsigned char *utf8 = NULL;
	int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
	if (n < 0) {
		ERR_clear_error();
		return false;
	}
	const char *a = (const char *)utf8;
	size_t an = (size_t)n;
	as4_str_trim(&a, &an);
	const char *b = want;
	size_t bn = strlen(want);
	as4_str_trim(&b, &bn);
	bool eq = an == bn && as4_str_nieq(a, b, an);
	OPENSSL_free(utf8);
	return eq;
}

bool as4_smp_dn_matches(X509 *cert, const struct as4_smp_ava *avas, size_t n)
{
	const X509_NAME *name = X509_get_subject_name(cert);
	int count = X509_NAME_entry_count(name);
	bool used[64] = {false};
	if (count < 0 || (size_t)count != n || n > AS4_ARRAY_LEN(used)) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		int nid = type_nid(avas[i].type);
		bool found = false;
		for (int k = 0; k < count && !found && nid != NID_undef; k++) {
			const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, k);
			if (used[k] || OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) != nid ||
			    !value_eq(e, avas[i].value)) {
				continue;
			}
			used[k] = true;
			found = true;
		}
		if (!found) {
			return false;
		}
	}
	return true;
}

/* ---- XML signatures ----------------------------------------------------------------------- */

struct alg {
	const char *uri;
	const char *name;
	bool legacy;
};

static const struct alg c14n_algs[] = {
        {ALG_C14N, "c14n", false},
        {ALG_EXC_C14N, "exc-c14n", false},
        {ALG_C14N11, "c14n11", false},
};

static const struct alg sig_algs[] = {
        {"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "rsa-sha256", false},
        {"http://www.w3.org/2001/04/xmldsig-more#rsa-sha384", "rsa-sha384", false},
        {"http://www.w3.org/2001/04/xmldsig-more#rsa-sha512", "rsa-sha512", false},
        {"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256", "ecdsa-sha256", false},
        {"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384", "ecdsa-sha384", false},
        {"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512", "ecdsa-sha512", false},
        {ALG_RSA_SHA1, "rsa-sha1", true},
};

static const struct alg digest_algs[] = {
        {"http://www.w3.org/2001/04/xmlenc#sha256", "sha256", false},
        {"http://www.w3.org/2001/04/xmldsig-more#sha384", "sha384", false},
        {"http://www.w3.org/2001/04/xmlenc#sha512", "sha512", false},
        {ALG_SHA1, "sha1", true},
};

static const struct alg *find_alg(const struct alg *list, size_t n, const char *uri)
{
	for (size_t i = 0; uri != NULL && i < n; i++) {
		if (strcmp(list[i].uri, uri) == 0) {
			return &list[i];
		}
	}
	return NULL;
}

/* The Algorithm of the only child ds:local of parent, or NULL. */
static const char *alg_of(const xmlNode *parent, const char *local)
{
	if (as4_xml_count_children(parent, AS4_NS_DS, local) != 1) {
		return NULL;
	}
	return as4_xml_attr(as4_xml_child(parent, AS4_NS_DS, local), NULL, "Algorithm");
}

/* Algorithm names of one signature, for the trace. */
struct sig_desc {
	char text[160];
};

/*
 * SignedInfo against the allow-lists (SMP-NOTES §2.5.3), before any cryptography, so that the
 * refusal names the exact reason.
 */
static as4_err check_signed_info(const xmlNode *sig, bool allow_sha1, struct sig_desc *desc,
                                 struct as4_diag *d)
{
	const xmlNode *si = as4_xml_first_elem(sig);
	if (!as4_xml_is(si, AS4_NS_DS, "SignedInfo")) {
		return as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                    "ds:Signature does not start with ds:SignedInfo");
	}
	const char *c14n_uri = alg_of(si, "CanonicalizationMethod");
	const char *sig_uri = alg_of(si, "SignatureMethod");
	const struct alg *c14n = find_alg(c14n_algs, AS4_ARRAY_LEN(c14n_algs), c14n_uri);
	const struct alg *sa = find_alg(sig_algs, AS4_ARRAY_LEN(sig_algs), sig_uri);
	if (c14n == NULL) {
		return as4_diag_set(d, AS4_E_SMP_TRUST,
		                    "signature canonicalization '%.100s' is not allowed (C14N 1.0, "
		                    "exclusive C14N or C14N 1.1 without comments)",
		                    c14n_uri != NULL ? c14n_uri : "(missing)");
	}
	if (sa == NULL) {
		return as4_diag_set(
		        d, AS4_E_SMP_TRUST,
		        "signature algorithm '%.100s' is not allowed (rsa-sha256/384/512, "
		        "ecdsa-sha256/384/512)",
		        sig_uri != NULL ? sig_uri : "(missing)");
	}
	if (sa->legacy && !allow_sha1) {
		return as4_diag_set(d, AS4_E_SMP_TRUST,
		                    "signature algorithm %s is refused (SHA-1 only with the legacy "
		                    "SHA-1 setting; Peppol SMP 1.3.0 requires rsa-sha256)",
		                    sa->name);
	}
	size_t nref = as4_xml_count_children(si, AS4_NS_DS, "Reference");
	if (nref != 1) {
		return as4_diag_set(d, AS4_E_SMP_TRUST,
		                    "SignedInfo has %zu references; exactly one with URI=\"\" is "
		                    "required",
		                    nref);
	}
	const xmlNode *ref = as4_xml_child(si, AS4_NS_DS, "Reference");
	const char *uri = as4_xml_attr(ref, NULL, "URI");
	if (uri == NULL || uri[0] != '\0') {
		return as4_diag_set(d, AS4_E_SMP_TRUST,
		                    "the signature reference URI is '%.80s', not \"\" (the whole "
		                    "document)",
		                    uri != NULL ? uri : "(missing)");
	}
	const xmlNode *tr = as4_xml_child(ref, AS4_NS_DS, "Transforms");
	size_t enveloped = 0;
	size_t others = 0;
	const char *ref_c14n = "";
	for (const xmlNode *t = as4_xml_first_elem(tr); t != NULL; t = as4_xml_next_elem(t)) {
		const char *a = as4_xml_is(t, AS4_NS_DS, "Transform")
		                        ? as4_xml_attr(t, NULL, "Algorithm")
		                        : NULL;
		const struct alg *c = find_alg(c14n_algs, AS4_ARRAY_LEN(c14n_algs), a);
		if (a != NULL && strcmp(a, ALG_ENVELOPED) == 0) {
			enveloped++;
		} else if (c != NULL) {
			others++;
			ref_c14n = c->name;
		} else {
			return as4_diag_set(
			        d, AS4_E_SMP_TRUST,
			        "reference transform '%.100s' is not allowed (enveloped "
			        "signature and C14N only)",
			        a != NULL ? a : "(not a ds:Transform)");
		}
	}
	if (enveloped != 1 || others > 1) {
		return as4_diag_set(
		        d, AS4_E_SMP_TRUST,
		        "the reference must have exactly one enveloped-signature transform "
		        "and at most one C14N (has %zu and %zu)",
		        enveloped, others);
	}
	const char *dig_uri = alg_of(ref, "DigestMethod");
	const struct alg *dig = find_alg(digest_algs, AS4_ARRAY_LEN(digest_algs), dig_uri);
	if (dig == NULL || (dig->legacy && !allow_sha1)) {
		return as4_diag_set(
		        d, AS4_E_SMP_TRUST,
		        "digest algorithm '%.100s' is not allowed (sha256/384/512; sha1 "
		        "only with the legacy SHA-1 setting)",
		        dig_uri != NULL ? dig_uri : "(missing)");
	}
	if (as4_str_fmt(desc->text, sizeof(desc->text),
	                "%s, %s, reference URI=\"\" enveloped%s%s %s", c14n->name, sa->name,
	                ref_c14n[0] ? "+" : "", ref_c14n, dig->name) != AS4_OK) {
		desc->text[0] = '\0';
	}
	return AS4_OK;
}

/*
 * The signer certificate from KeyInfo/X509Data/X509Certificate: the only one, or among several
 * the one that issued none of the others (the end-entity).
 */
static as4_err keyinfo_cert(const xmlNode *sig, X509 **out, struct as4_diag *d)
{
	*out = NULL;
	X509 *certs[8];
	size_t n = 0;
	as4_err err = AS4_OK;
	const xmlNode *ki = as4_xml_child(sig, AS4_NS_DS, "KeyInfo");
	for (const xmlNode *xd = as4_xml_first_elem(ki); xd != NULL && err == AS4_OK;
	     xd = as4_xml_next_elem(xd)) {
		if (!as4_xml_is(xd, AS4_NS_DS, "X509Data")) {
			continue;
		}
		for (const xmlNode *c = as4_xml_first_elem(xd); c != NULL && err == AS4_OK;
		     c = as4_xml_next_elem(c)) {
			if (!as4_xml_is(c, AS4_NS_DS, "X509Certificate")) {
				continue;
			}
			if (n == AS4_ARRAY_LEN(certs)) {
				err = as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
				                   "KeyInfo holds more than %zu certificates",
				                   AS4_ARRAY_LEN(certs));
				break;
			}
			char *text = as4_xml_text(c);
			size_t tn = text != NULL ? strlen(text) : 0;
			size_t cap = as4_b64_decoded_max(tn);
			uint8_t *der = text != NULL ? malloc(cap + 1) : NULL;
			size_t len = 0;
			if (der == NULL) {
				err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
			} else if (as4_b64_decode(text, tn, der, cap, &len) != AS4_OK ||
			           (certs[n] = as4_smp_cert_decode(der, len)) == NULL) {
				err = as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
				                   "KeyInfo X509Certificate is not a base64 DER "
				                   "certificate");
			} else {
				n++;
			}
			free(der);
			xmlFree(text);
		}
	}
	if (err == AS4_OK && n == 0) {
		err = as4_diag_set(d, AS4_E_SMP_TRUST,
		                   "the signature's KeyInfo carries no X509Certificate");
	}
	size_t leaf = n;
	for (size_t i = 0; err == AS4_OK && i < n && leaf == n; i++) {
		bool issued_another = false;
		for (size_t k = 0; k < n && !issued_another; k++) {
			issued_another =
			        k != i && X509_check_issued(certs[i], certs[k]) == X509_V_OK;
		}
		if (!issued_another) {
			leaf = i;
		}
	}
	if (err == AS4_OK && leaf == n) {
		err = as4_diag_set(d, AS4_E_SMP_TRUST,
		                   "cannot tell the signer among the KeyInfo certificates");
	}
	for (size_t i = 0; i < n; i++) {
		if (err == AS4_OK && i == leaf) {
			*out = certs[i];
		} else {
			X509_free(certs[i]);
		}
	}
	ERR_clear_error();
	return err;
}

/* Run xmlsec on one ds:Signature with the allow-lists and the given signer's key. */
static as4_err xmlsec_verify(xmlNode *sig, X509 *signer, bool allow_sha1, struct as4_diag *d)
{
	as4_err err = AS4_OK;
	xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(NULL);
	EVP_PKEY *pk = X509_get_pubkey(signer);
	xmlSecKeyDataPtr data = pk != NULL ? xmlSecOpenSSLEvpKeyAdopt(pk) : NULL;
	xmlSecKeyPtr key = NULL;
	if (ctx == NULL || data == NULL) {
		if (data == NULL) {
			EVP_PKEY_free(pk);
		}
		err = as4_diag_set(d, AS4_E_CRYPTO, "cannot set up XML signature verification");
		goto out;
	}
	key = xmlSecKeyCreate();
	if (key == NULL || xmlSecKeySetValue(key, data) < 0) {
		xmlSecKeyDataDestroy(data);
		err = as4_diag_set(d, AS4_E_CRYPTO, "cannot set up the signer key");
		goto out;
	}
	/* the context owns the key from here: KeyInfo cannot substitute another one */
	ctx->signKey = key;
	key = NULL;
	ctx->flags = XMLSEC_DSIG_FLAGS_IGNORE_MANIFESTS;
	ctx->enabledReferenceUris = xmlSecTransformUriTypeEmpty;
	xmlSecTransformId ref_ids[] = {
	        xmlSecTransformEnvelopedId,  xmlSecTransformInclC14NId, xmlSecTransformExclC14NId,
	        xmlSecTransformInclC14N11Id, xmlSecTransformSha256Id,   xmlSecTransformSha384Id,
	        xmlSecTransformSha512Id,
	};
	xmlSecTransformId sig_ids[] = {
	        xmlSecTransformInclC14NId,    xmlSecTransformExclC14NId,
	        xmlSecTransformInclC14N11Id,  xmlSecTransformRsaSha256Id,
	        xmlSecTransformRsaSha384Id,   xmlSecTransformRsaSha512Id,
	        xmlSecTransformEcdsaSha256Id, xmlSecTransformEcdsaSha384Id,
	        xmlSecTransformEcdsaSha512Id,
	};
	bool ok = true;
	for (size_t i = 0; i < AS4_ARRAY_LEN(ref_ids); i++) {
		ok = ok && xmlSecDSigCtxEnableReferenceTransform(ctx, ref_ids[i]) == 0;
	}
	for (size_t i = 0; i < AS4_ARRAY_LEN(sig_ids); i++) {
		ok = ok && xmlSecDSigCtxEnableSignatureTransform(ctx, sig_ids[i]) == 0;
	}
	if (allow_sha1) {
		ok = ok && xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha1Id) == 0 &&
		     xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformRsaSha1Id) == 0;
	}
	if (!ok) {
		err = as4_diag_set(d, AS4_E_CRYPTO, "cannot set up the algorithm allow-list");
		goto out;
	}
	if (xmlSecDSigCtxVerify(ctx, sig) < 0) {
		err = as4_diag_set(
		        d, AS4_E_SMP_TRUST,
		        "the XML signature could not be processed (key type or algorithm "
		        "mismatch, or malformed signature)");
		goto out;
	}
	if (ctx->status != xmlSecDSigStatusSucceeded) {
		err = as4_diag_set(
		        d, AS4_E_SMP_TRUST,
		        "the XML signature does not verify: the document was changed after "
		        "signing or signed with another key");
		goto out;
	}
	if (xmlSecPtrListGetSize(&ctx->signedInfoReferences) != 1) {
		err = as4_diag_set(d, AS4_E_SMP_TRUST,
		                   "the signature must have exactly one reference");
		goto out;
	}
out:
	if (key != NULL) {
		xmlSecKeyDestroy(key);
	}
	if (ctx != NULL) {
		xmlSecDSigCtxDestroy(ctx);
	}
	ERR_clear_error();
	return err;
}

/* Verify one signature element; on success *signer owns the certificate that verified. */
static as4_err verify_one(xmlNode *sig, const struct as4_smp_verify_opts *o, X509 **signer,
                          struct as4_smp_trace *trace, struct as4_diag *d)
{
	*signer = NULL;
	struct sig_desc desc = {""};
	X509 *cert = NULL;
	char subject[256] = "";
	as4_err err = check_signed_info(sig, o->allow_sha1, &desc, d);
	if (err == AS4_OK) {
		err = keyinfo_cert(sig, &cert, d);
	}
	if (err == AS4_OK) {
		as4_smp_cert_subject(cert, subject, sizeof(subject));
		err = xmlsec_verify(sig, cert, o->allow_sha1, d);
	}
	if (err != AS4_OK) {
		as4_smp_trace_add(trace, AS4_SMP_STEP_SIGNATURE, AS4_SMP_FAIL, "%s",
		                  as4_diag_text(d));
		X509_free(cert);
		return err;
	}
	as4_smp_trace_add(trace, AS4_SMP_STEP_SIGNATURE, AS4_SMP_PASS,
	                  "valid (%s) with the KeyInfo certificate of %s", desc.text, subject);
	if (o->trust == NULL) {
		as4_smp_trace_add(trace, AS4_SMP_STEP_CHAIN, AS4_SMP_SKIP,
		                  "signer chain not checked (signature only)");
	} else {
		err = as4_smp_chain_check(o->trust, cert, o->at_ms, "SMP signer", d);
		if (err != AS4_OK) {
			as4_smp_trace_add(trace, AS4_SMP_STEP_CHAIN, AS4_SMP_FAIL, "%s",
			                  as4_diag_text(d));
			X509_free(cert);
			return err;
		}
		char at[AS4_TIME_TEXT_MAX];
		as4_time_format(o->at_ms, at);
		char issuer[256] = "";
		BIO *b = BIO_new(BIO_s_mem());
		if (b != NULL &&
		    X509_NAME_print_ex(b, X509_get_issuer_name(cert), 0, NAME_FLAGS) >= 0) {
			char *p = NULL;
			long n = BIO_get_mem_data(b, &p);
			size_t k = n > 0 ? (size_t)n : 0;
			k = k < sizeof(issuer) - 1 ? k : sizeof(issuer) - 1;
			memcpy(issuer, p, k);
			issuer[k] = '\0';
		}
		BIO_free(b);
		as4_smp_trace_add(trace, AS4_SMP_STEP_CHAIN, AS4_SMP_PASS,
		                  "signer %s issued by %s (a configured SMP CA), valid at %s",
		                  subject, issuer, at);
	}
	*signer = cert;
	return AS4_OK;
}

as4_err as4_smp_verify(xmlDoc *dom, enum as4_smp_proto dialect, const struct as4_smp_verify_opts *o,
                       X509 **signer, struct as4_smp_trace *trace, struct as4_diag *d)
{
	if (signer != NULL) {
		*signer = NULL;
	}
	xmlNode *root = xmlDocGetRootElement(dom);
	size_t n = as4_xml_count_children(root, AS4_NS_DS, "Signature");
	if (n == 0) {
		if (!o->required) {
			as4_smp_trace_add(trace, AS4_SMP_STEP_SIGNATURE, AS4_SMP_INFO,
			                  "document is not signed (allowed for this document)");
			return AS4_OK;
		}
		as4_err err =
		        as4_diag_set(d, AS4_E_SMP_TRUST,
		                     "SMP response is not signed: no ds:Signature is a child of "
		                     "the root element");
		as4_smp_trace_add(trace, AS4_SMP_STEP_SIGNATURE, AS4_SMP_FAIL, "%s",
		                  as4_diag_text(d));
		return err;
	}
	if (n > 1 && dialect != AS4_SMP_PROTO_OASIS2) {
		as4_err err =
		        as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                     "SMP response has %zu ds:Signature children of the root; %s "
		                     "allows exactly one",
		                     n, as4_smp_dialect_name(dialect));
		as4_smp_trace_add(trace, AS4_SMP_STEP_SIGNATURE, AS4_SMP_FAIL, "%s",
		                  as4_diag_text(d));
		return err;
	}
	/* SMP 2.0 allows 0..n signatures: the first that verifies and chains is the SMP's */
	as4_err first = AS4_OK;
	for (xmlNode *s = as4_xml_first_elem(root); s != NULL; s = as4_xml_next_elem(s)) {
		if (!as4_xml_is(s, AS4_NS_DS, "Signature")) {
			continue;
		}
		struct as4_diag one;
		as4_diag_init(&one);
		X509 *cert = NULL;
		as4_err err = verify_one(s, o, &cert, trace, &one);
		if (err == AS4_OK) {
			if (signer != NULL) {
				*signer = cert;
			} else {
				X509_free(cert);
			}
			return AS4_OK;
		}
		if (first == AS4_OK) {
			first = as4_diag_set(d, err, "%s", as4_diag_text(&one));
		}
	}
	return first;
}
