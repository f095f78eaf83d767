/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: opening a secured envelope (as4_wss_open): the wsse:Security header (tokens,
 * key references, EncryptedKey, EncryptedData, ds:Signature), the attachment ciphertexts and
 * the digests. Input: the SOAP envelope, then any number of attachments, each introduced by
 * the line "\n--PART--\n" and written as "<Content-ID>\n<Content-Type>\n<bytes>".
 *
 * The seeds in corpus/wss/ are messages sealed by ap1 for ap2 of test/data/wss, plus the
 * SOAP-only interop vectors; the target loads ap2's key (as the receiver), trusts the test CA
 * and accepts ap1, so that fuzzed inputs reach decryption and reference digests.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "as4/blob.h"
#include "as4/str.h"
#include "as4/wss.h"
#include "as4/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_PARTS 8
static const char sep[] = "\n--PART--\n";

static struct as4_keystore *receiver;
static struct as4_truststore *trust;
static X509 *partner;
static struct as4_limits limits;

/* test/data/wss next to this file (the tree is where the fuzzer is built). */
static bool data_path(char *out, size_t cap, const char *name)
{
	const char *file = __FILE__;
	const char *slash = strrchr(file, '/');
	int dir = slash != NULL ? (int)(slash - file) : 1;
	return as4_str_fmt(out, cap, "%.*s/../data/wss/%s", dir, slash != NULL ? file : ".",
	                   name) == AS4_OK;
}

/* The keystore refuses keys readable by others: load a private 0600 copy. */
static void load_receiver(void)
{
	char key[4096];
	char cert[4096];
	char tmp[] = "/tmp/as4-fuzz-wss-XXXXXX";
	uint8_t *buf = NULL;
	size_t len = 0;
	if (!data_path(key, sizeof(key), "ap2.key.pem") ||
	    !data_path(cert, sizeof(cert), "ap2.cert.pem") ||
	    as4_file_read(key, 1 << 20, &buf, &len) != AS4_OK) {
		return;
	}
	int fd = mkstemp(tmp);
	if (fd >= 0 && write(fd, buf, len) == (ssize_t)len) {
		if (as4_keystore_load(tmp, cert, &receiver, NULL) != AS4_OK) {
			receiver = NULL;
		}
	}
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	as4_xml_global_init();
	if (as4_wss_global_init() != AS4_OK) {
		abort();
	}
	as4_limits_default(&limits);
	load_receiver();
	char ca[4096];
	char ap1[4096];
	const char *paths[1] = {ca};
	if (data_path(ca, sizeof(ca), "ca.pem") &&
	    as4_truststore_load(paths, 1, &trust, NULL) != AS4_OK) {
		trust = NULL;
	}
	if (data_path(ap1, sizeof(ap1), "ap1.cert.pem")) {
		FILE *f = fopen(ap1, "r");
		partner = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
		if (f != NULL) {
			fclose(f);
		}
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char cids[MAX_PARTS][128];
	static char types[MAX_PARTS][128];
	struct as4_part parts[MAX_PARTS];
	size_t n = 0;
	const uint8_t *end = data + size;
	const uint8_t *cut = memmem(data, size, sep, sizeof(sep) - 1);
	size_t env_len = cut != NULL ? (size_t)(cut - data) : size;
	/* attachments: cid line, type line, bytes up to the next separator */
	while (cut != NULL && n < MAX_PARTS) {
		const uint8_t *p = cut + sizeof(sep) - 1;
		const uint8_t *next = memmem(p, (size_t)(end - p), sep, sizeof(sep) - 1);
		const uint8_t *stop = next != NULL ? next : end;
		const uint8_t *nl1 = memchr(p, '\n', (size_t)(stop - p));
		const uint8_t *nl2 =
		        nl1 != NULL ? memchr(nl1 + 1, '\n', (size_t)(stop - nl1 - 1)) : NULL;
		if (nl2 == NULL || nl1 - p >= 128 || nl2 - nl1 - 1 >= 128) {
			break;
		}
		memcpy(cids[n], p, (size_t)(nl1 - p));
		cids[n][nl1 - p] = '\0';
		memcpy(types[n], nl1 + 1, (size_t)(nl2 - nl1 - 1));
		types[n][nl2 - nl1 - 1] = '\0';
		as4_part_init(&parts[n]);
		parts[n].content_id = cids[n];
		parts[n].content_type = types[n];
		/* a heap copy: opening replaces the bytes of decrypted parts */
		if (as4_blob_copy(&parts[n].data, nl2 + 1, (size_t)(stop - nl2 - 1)) != AS4_OK) {
			break;
		}
		n++;
		cut = next;
	}
	xmlDoc *env = NULL;
	if (as4_xml_parse(data, env_len, &limits, &env, NULL) == AS4_OK) {
		struct as4_wss_open_params op;
		memset(&op, 0, sizeof(op));
		op.decrypt_keys = receiver != NULL ? &receiver : NULL;
		op.n_decrypt_keys = receiver != NULL ? 1 : 0;
		op.trust = trust;
		op.accepted = partner != NULL ? &partner : NULL;
		op.n_accepted = partner != NULL ? 1 : 0;
		op.require_signature = size % 2 == 0;
		op.require_encryption = size % 3 == 0;
		op.structural_only = size % 5 == 0;
		op.limits = &limits;
		struct as4_wss_open_result res;
		struct as4_diag d;
		as4_diag_init(&d);
		as4_wss_open_result_init(&res);
		if (as4_wss_open(&op, env, parts, n, &res, &d) != AS4_OK) {
			/* refused: the diagnostic must be a bounded, terminated text */
			if (strlen(as4_diag_text(&d)) >= AS4_DIAG_TEXT_MAX) {
				abort();
			}
		}
		as4_wss_open_result_cleanup(&res);
		xmlFreeDoc(env);
	}
	for (size_t i = 0; i < n; i++) {
		as4_part_cleanup(&parts[i]);
	}
	return 0;
}
