/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared fixtures of the WS-Security tests: the test PKI of test/data/wss (keys copied to a
 * private 0600 directory first, since git checkouts make them 0644 and the keystore refuses
 * those), a SOAP 1.2 UserMessage envelope, attachments, and a serialise/re-parse step so that
 * every opened message went through the wire format.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/tree.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "as4/blob.h"
#include "as4/compiler.h"
#include "as4/str.h"
#include "as4/wss.h"
#include "as4/xml.h"

#define FX_DATA AS4_TEST_DATA "/wss"

static char fx_dir[64];

/* A private directory for key copies (removed at exit by fx_cleanup()). */
AS4_UNUSED static const char *fx_tmpdir(void)
{
	if (fx_dir[0] == '\0') {
		if (as4_str_copy(fx_dir, sizeof(fx_dir), "/tmp/as4-wss-test-XXXXXX") != AS4_OK ||
		    mkdtemp(fx_dir) == NULL) {
			abort();
		}
	}
	return fx_dir;
}

/* Copy src to the private directory under name with the given mode; returns the path. */
AS4_UNUSED static char *fx_copy(const char *src, const char *name, unsigned mode)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	static char path[4][256];
	static int slot;
	char *out = path[slot++ % 4];
	if (as4_file_read(src, 1 << 20, &buf, &len) != AS4_OK ||
	    as4_str_fmt(out, sizeof(path[0]), "%s/%s", fx_tmpdir(), name) != AS4_OK) {
		abort();
	}
	FILE *f = fopen(out, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0 || chmod(out, mode) != 0) {
		abort();
	}
	free(buf);
	return out;
}

/* Load a keystore: key from `dir`/<name>.key.pem (copied with mode 0600), cert file given. */
AS4_UNUSED static struct as4_keystore *fx_keystore_from(const char *key_src, const char *cert_src)
{
	struct as4_keystore *ks = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	char *key = fx_copy(key_src, "key.pem", 0600);
	if (as4_keystore_load(key, cert_src, &ks, &d) != AS4_OK) {
		fprintf(stderr, "keystore %s: %s\n", key_src, as4_diag_text(&d));
		abort();
	}
	unlink(key);
	return ks;
}

/* The keystore of a test PKI entity ("ap1", "ap2", "ap3" with its chain). */
AS4_UNUSED static struct as4_keystore *fx_keystore(const char *name)
{
	char key[256];
	char cert[256];
	bool chain = strcmp(name, "ap3") == 0;
	if (as4_str_fmt(key, sizeof(key), "%s/%s.key.pem", FX_DATA, name) != AS4_OK ||
	    as4_str_fmt(cert, sizeof(cert), "%s/%s.%s.pem", FX_DATA, name,
	                chain ? "chain" : "cert") != AS4_OK) {
		abort();
	}
	return fx_keystore_from(key, cert);
}

/* A certificate from a PEM file (the first one). */
AS4_UNUSED static X509 *fx_cert_file(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f != NULL) {
		fclose(f);
	}
	if (x == NULL) {
		fprintf(stderr, "cannot read certificate %s\n", path);
		abort();
	}
	return x;
}

/* Certificate of a test PKI entity: "ap1" -> test/data/wss/ap1.cert.pem, "ca" -> ca.pem. */
AS4_UNUSED static X509 *fx_cert(const char *name)
{
	char p[256];
	bool bare = strcmp(name, "ca") == 0 || strcmp(name, "inter") == 0 ||
	            strcmp(name, "other-ca") == 0;
	if (as4_str_fmt(p, sizeof(p), "%s/%s%s", FX_DATA, name, bare ? ".pem" : ".cert.pem") !=
	    AS4_OK) {
		abort();
	}
	return fx_cert_file(p);
}

/* A truststore of test PKI files (NULL-terminated names: "ca", "inter", ...). */
AS4_UNUSED static struct as4_truststore *fx_trust(const char *first, ...)
{
	const char *paths[8];
	char bufs[8][256];
	size_t n = 0;
	va_list ap;
	va_start(ap, first);
	for (const char *name = first; name != NULL && n < 8; name = va_arg(ap, const char *)) {
		if (as4_str_fmt(bufs[n], sizeof(bufs[n]), "%s/%s.pem", FX_DATA, name) != AS4_OK) {
			abort();
		}
		paths[n] = bufs[n];
		n++;
	}
	va_end(ap);
	struct as4_truststore *ts = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	if (as4_truststore_load(paths, n, &ts, &d) != AS4_OK) {
		fprintf(stderr, "truststore: %s\n", as4_diag_text(&d));
		abort();
	}
	return ts;
}

/* A SOAP 1.2 UserMessage envelope naming n_parts attachments cid:p<i>@test. */
AS4_UNUSED static xmlDoc *fx_envelope(size_t n_parts)
{
	char xml[4096];
	char infos[1024] = "";
	for (size_t i = 0; i < n_parts; i++) {
		char one[128];
		if (as4_str_fmt(one, sizeof(one), "<eb:PartInfo href=\"cid:p%zu@test\"/>", i + 1) !=
		            AS4_OK ||
		    as4_str_cat(infos, sizeof(infos), one) != AS4_OK) {
			abort();
		}
	}
	if (as4_str_fmt(
	            xml, sizeof(xml),
	            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	            "<env:Envelope xmlns:env=\"" AS4_NS_SOAP12 "\" xmlns:eb=\"" AS4_NS_EB "\">"
	            "<env:Header><eb:Messaging env:mustUnderstand=\"true\"><eb:UserMessage>"
	            "<eb:MessageInfo><eb:Timestamp>2026-11-22T10:00:00.000Z</eb:Timestamp>"
	            "<eb:MessageId>m1@test</eb:MessageId></eb:MessageInfo>"
	            "<eb:PartyInfo><eb:From><eb:PartyId type=\"urn:x\">ap1</eb:PartyId>"
	            "<eb:Role>urn:initiator</eb:Role></eb:From><eb:To>"
	            "<eb:PartyId type=\"urn:x\">ap2</eb:PartyId><eb:Role>urn:responder</eb:Role>"
	            "</eb:To></eb:PartyInfo><eb:CollaborationInfo><eb:Service>urn:s</eb:Service>"
	            "<eb:Action>a</eb:Action><eb:ConversationId>c1</eb:ConversationId>"
	            "</eb:CollaborationInfo><eb:PayloadInfo>%s</eb:PayloadInfo>"
	            "</eb:UserMessage></eb:Messaging></env:Header><env:Body/></env:Envelope>",
	            infos) != AS4_OK) {
		abort();
	}
	xmlDoc *doc = NULL;
	if (as4_xml_parse((const uint8_t *)xml, strlen(xml), NULL, &doc, NULL) != AS4_OK) {
		abort();
	}
	return doc;
}

/* Part i (0-based) with Content-ID p<i+1>@test, a heap copy of data and the given type. */
AS4_UNUSED static void fx_part(struct as4_part *p, size_t i, const char *type, const void *data,
                               size_t len)
{
	static char cids[16][32];
	as4_part_init(p);
	if (as4_str_fmt(cids[i % 16], sizeof(cids[0]), "p%zu@test", i + 1) != AS4_OK ||
	    as4_blob_copy(&p->data, data, len) != AS4_OK) {
		abort();
	}
	p->content_id = cids[i % 16];
	p->content_type = type;
}

/* The two standard attachments: an XML document and gzip-like binary bytes. */
AS4_UNUSED static const char fx_xml_payload[] =
        "<?xml version=\"1.0\"?>\n<Bundle xmlns=\"http://hl7.org/fhir\"  b=\"2\" a=\"1\">\r\n"
        "  <!-- a comment -->\n  <id value=\"x\"/>\n</Bundle>\n";

AS4_UNUSED static void fx_two_parts(struct as4_part parts[2])
{
	static uint8_t bin[3000];
	for (size_t i = 0; i < sizeof(bin); i++) {
		bin[i] = (uint8_t)(i * 31 + 7);
	}
	bin[0] = 0x1f;
	bin[1] = 0x8b;
	fx_part(&parts[0], 0, "application/xml", fx_xml_payload, strlen(fx_xml_payload));
	fx_part(&parts[1], 1, "application/gzip", bin, sizeof(bin));
}

/* Serialise doc and parse it again (what the receiver sees); frees doc. */
AS4_UNUSED static xmlDoc *fx_wire(xmlDoc *doc)
{
	xmlChar *mem = NULL;
	int len = 0;
	xmlDocDumpMemoryEnc(doc, &mem, &len, "UTF-8");
	xmlFreeDoc(doc);
	xmlDoc *out = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	if (mem == NULL || as4_xml_parse(mem, (size_t)len, NULL, &out, &d) != AS4_OK) {
		fprintf(stderr, "re-parse: %s\n", as4_diag_text(&d));
		abort();
	}
	xmlFree(mem);
	return out;
}

/* Serialised form of doc as a heap string (free()). */
AS4_UNUSED static char *fx_dump(xmlDoc *doc)
{
	xmlChar *mem = NULL;
	int len = 0;
	xmlDocDumpMemoryEnc(doc, &mem, &len, "UTF-8");
	char *s = as4_str_ndup((const char *)mem, (size_t)len);
	xmlFree(mem);
	return s;
}

/* Parse a string as the envelope. */
AS4_UNUSED static xmlDoc *fx_parse(const char *xml)
{
	xmlDoc *doc = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	if (as4_xml_parse((const uint8_t *)xml, strlen(xml), NULL, &doc, &d) != AS4_OK) {
		fprintf(stderr, "parse: %s\n", as4_diag_text(&d));
		abort();
	}
	return doc;
}

/* Replace the first occurrence of from with to in a heap string (returns a new heap string). */
AS4_UNUSED static char *fx_replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	if (at == NULL) {
		fprintf(stderr, "fx_replace: '%s' not found\n", from);
		abort();
	}
	size_t n = strlen(s) - strlen(from) + strlen(to);
	char *out = malloc(n + 1);
	if (out == NULL) {
		abort();
	}
	size_t pre = (size_t)(at - s);
	memcpy(out, s, pre);
	memcpy(out + pre, to, strlen(to));
	memcpy(out + pre + strlen(to), at + strlen(from), strlen(at + strlen(from)) + 1);
	return out;
}

AS4_UNUSED static void fx_cleanup_dir(void)
{
	if (fx_dir[0] != '\0') {
		rmdir(fx_dir);
	}
}
