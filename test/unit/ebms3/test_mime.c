/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MIME multipart/related: the interop captures of other access points, the RFC 2045/2046
 * syntax real peers send (LF line ends, padding, folding, transfer encodings), every error
 * path with its diagnostic, limits, round trips through the builder, and a body of hundreds
 * of MB parsed in bounded resident memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <dirent.h>

#include <cmocka.h>

#include "as4/mime.h"
#include "as4/str.h"

#define MSGS AS4_SHARED_DIR "/interop/messages/"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static struct as4_arena *arena;
static struct as4_limits lim;

static int setup(void **state)
{
	(void)state;
	arena = as4_arena_new(0);
	as4_limits_default(&lim);
	return arena == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	as4_arena_free(arena);
	arena = NULL;
	return 0;
}

static const char *tmp_dir(void)
{
	const char *t = getenv("TMPDIR");
	return t != NULL && t[0] != '\0' ? t : "/tmp";
}

static as4_err parse_n(const char *ct, const void *body, size_t n, struct as4_mime *m,
                       struct as4_diag *d)
{
	struct as4_blob b;
	as4_blob_borrow(&b, body, n);
	as4_diag_init(d);
	return as4_mime_parse(&b, ct, &lim, arena, NULL, m, d);
}

static as4_err parse(const char *ct, const char *body, struct as4_mime *m, struct as4_diag *d)
{
	return parse_n(ct, body, strlen(body), m, d);
}

static void assert_contains(const char *text, const char *needle)
{
	if (strstr(text, needle) == NULL) {
		fail_msg("\"%s\" does not contain \"%s\"", text, needle);
	}
}

static void expect_fail(const char *ct, const char *body, as4_err want, const char *needle)
{
	struct as4_mime m;
	struct as4_diag d;
	as4_err err = parse(ct, body, &m, &d);
	if (err != want) {
		fail_msg("got %s (%s), want %s", as4_strerror(err), d.text, as4_strerror(want));
	}
	assert_int_equal(d.err, want);
	assert_contains(d.text, needle);
	assert_null(m.parts);
	assert_int_equal(m.n_parts, 0);
}

static void assert_data(const struct as4_part *p, const char *want)
{
	assert_int_equal(p->data.len, strlen(want));
	if (p->data.len > 0) {
		assert_memory_equal(p->data.data, want, p->data.len);
	}
}

/* ---- interop captures -------------------------------------------------------------------- */

struct want_part {
	const char *cid; /* NULL: none */
	const char *type;
	size_t len;
	uint8_t head[4];
	uint8_t tail[4];
	size_t n_headers;
};

static void check_capture(const char *file, const char *want_ct, const char *boundary,
                          const struct want_part *w, size_t n)
{
	char path[512];
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s%s", MSGS, file), AS4_OK);
	assert_int_equal(as4_file_read(path, 64u * 1024 * 1024, &buf, &len), AS4_OK);

	const char *ct = "unset";
	struct as4_blob body;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_mime_split_entity(buf, len, arena, &ct, &body, &d), AS4_OK);
	if (want_ct == NULL) {
		assert_null(ct);
	} else {
		assert_string_equal(ct, want_ct);
	}
	struct as4_mime m;
	as4_err err = as4_mime_parse(&body, ct, &lim, arena, NULL, &m, &d);
	if (err != AS4_OK) {
		fail_msg("%s: %s", file, d.text);
	}
	assert_int_equal(m.n_parts, n);
	if (boundary == NULL) {
		assert_null(m.boundary);
	} else {
		assert_string_equal(m.boundary, boundary);
	}
	for (size_t i = 0; i < n; i++) {
		const struct as4_part *p = &m.parts[i];
		if (w[i].cid == NULL) {
			assert_null(p->content_id);
		} else {
			assert_non_null(p->content_id);
			assert_string_equal(p->content_id, w[i].cid);
			assert_ptr_equal(as4_mime_find(&m, w[i].cid), p);
		}
		assert_string_equal(p->content_type, w[i].type);
		assert_int_equal(p->data.len, w[i].len);
		assert_int_equal(p->n_headers, w[i].n_headers);
		/* Borrowed from the capture: no copy of binary parts. */
		assert_true(p->data.data >= buf && p->data.data + p->data.len <= buf + len);
		assert_memory_equal(p->data.data, w[i].head, 4);
		assert_memory_equal(p->data.data + p->data.len - 4, w[i].tail, 4);
	}
	as4_mime_cleanup(&m);
	free(buf);
}

static void test_interop_holodeck_signed(void **state)
{
	(void)state;
	static const struct want_part w[] = {
	        {"0.8cb27a6f984295aa9962b01ef2fb3e8d982de76d061ab23f@apache.org",
	         "application/soap+xml; charset=UTF-8",
	         5393,
	         {0x3c, 0x3f, 0x78, 0x6d},
	         {0x6f, 0x70, 0x65, 0x3e},
	         0},
	        {"cdcc838c-96ed-414a-b127-0937f5cd654-341439240@CLT-FGHEYSELS.ad.codit.eu",
	         "application/gzip",
	         296385,
	         {0x1f, 0x8b, 0x08, 0x00},
	         {0x06, 0x86, 0x04, 0x00},
	         0},
	        {"cdcc838c-96ed-414a-b127-0937f5cd654-445037483@CLT-FGHEYSELS.ad.codit.eu",
	         "application/gzip",
	         164,
	         {0x1f, 0x8b, 0x08, 0x00},
	         {0xce, 0x00, 0x00, 0x00},
	         0},
	};
	check_capture("signed_holodeck_message.as4", NULL,
	              "MIMEBoundary_bcb27a6f984295aa9962b01ef2fb3e8d982de76d061ab23f", w, 3);
}

static void test_interop_holodeck_encrypted(void **state)
{
	(void)state;
	static const struct want_part w[] = {
	        {"0.716ba07b9ac392cc88fdb1c2ed23ba5e2e6d64fdf13325f1@apache.org",
	         "application/soap+xml; charset=UTF-8",
	         8335,
	         {0x3c, 0x3f, 0x78, 0x6d},
	         {0x6f, 0x70, 0x65, 0x3e},
	         0},
	        {"b545c3a0-e57f-46aa-862f-381eb4b7009-291596031@CLT-SMOREELS.mshome.net",
	         "application/octet-stream",
	         296413,
	         {0xb2, 0xcd, 0x2c, 0x77},
	         {0xbb, 0x7d, 0x89, 0x7a},
	         0},
	        {"b545c3a0-e57f-46aa-862f-381eb4b7009-1650194442@CLT-SMOREELS.mshome.net",
	         "application/octet-stream",
	         192,
	         {0x7b, 0x87, 0x59, 0x26},
	         {0xa1, 0x49, 0x49, 0x60},
	         0},
	};
	check_capture("as4-encrypted-signed-issuerserial.as4", NULL,
	              "MIMEBoundary_416ba07b9ac392cc88fdb1c2ed23ba5e2e6d64fdf13325f1", w, 3);
}

static void test_interop_as4net_root_without_cid(void **state)
{
	(void)state;
	/* Leading CRLF before the first delimiter; root without Content-ID; "Content-Id". */
	static const struct want_part w[] = {
	        {NULL,
	         "application/soap+xml; charset=utf-8",
	         4752,
	         {0x3c, 0x3f, 0x78, 0x6d},
	         {0x6f, 0x70, 0x65, 0x3e},
	         0},
	        {"3bb59c77-a1bc-4ea5-9159-8152bd8f618-1833056104@CLT-FGHEYSELS.ad.codit.eu",
	         "application/octet-stream",
	         296482,
	         {0x58, 0xb4, 0xf7, 0xe4},
	         {0x07, 0xab, 0x8e, 0x75},
	         1},
	        {"3bb59c77-a1bc-4ea5-9159-8152bd8f618-335174759@CLT-FGHEYSELS.ad.codit.eu",
	         "application/octet-stream",
	         234,
	         {0x86, 0xba, 0xa3, 0xf6},
	         {0x47, 0xe6, 0x7c, 0x80},
	         1},
	};
	check_capture("_8_1_22_message.as4", NULL,
	              "MIMEBoundary_4ac2a25e8a3af891754f9f7316ac08062c50de1368ddfada", w, 3);
}

static void test_interop_bom_and_odd_boundary(void **state)
{
	(void)state;
	/* No extension: a bare MIME body after a UTF-8 BOM and a CRLF, boundary with '='. */
	static const struct want_part w[] = {
	        {NULL,
	         "application/soap+xml; charset=utf-8",
	         6321,
	         {0x3c, 0x3f, 0x78, 0x6d},
	         {0x6f, 0x70, 0x65, 0x3e},
	         0},
	        {"earth",
	         "image/jpeg",
	         359245,
	         {0xc3, 0xb2, 0xc3, 0x81},
	         {0x60, 0xc3, 0xa0, 0x16},
	         1},
	        {"earth2",
	         "image/jpeg",
	         359245,
	         {0xc3, 0xb2, 0xc3, 0x81},
	         {0x60, 0xc3, 0xa0, 0x16},
	         1},
	};
	check_capture("as4-soap-wrong-encrypted-message", NULL, "=-WoWSZIFF06iwFV8PHCZ0dg==", w, 3);

	/* The extra header is carried through, unfolded and trimmed. */
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(
	        as4_file_read(MSGS "as4-soap-wrong-encrypted-message", 1u << 24, &buf, &len),
	        AS4_OK);
	struct as4_blob body;
	struct as4_mime m;
	struct as4_diag d;
	as4_blob_borrow(&body, buf, len);
	assert_int_equal(as4_mime_parse(&body, NULL, &lim, arena, NULL, &m, &d), AS4_OK);
	assert_string_equal(m.parts[2].headers[0].name, "Content-Disposition");
	assert_string_equal(m.parts[2].headers[0].value, "attachment");
	as4_mime_cleanup(&m);
	free(buf);
}

static void test_interop_http_dump(void **state)
{
	(void)state;
	/* phase4 dump: status line absent, LF line ends, Transfer-Encoding: chunked listed. */
	static const struct want_part w[] = {
	        {NULL,
	         "application/soap+xml;charset=UTF-8",
	         6772,
	         {'<', '?', 'x', 'm'},
	         {'o', 'p', 'e', '>'},
	         0},
	};
	check_capture("helger.as4in", "application/soap+xml;charset=UTF-8", NULL, w, 1);
}

static void test_interop_bare_soap(void **state)
{
	(void)state;
	static const struct {
		const char *file;
		size_t len;
		const char *start;
	} v[] = {
	        {"8.1.21-message.xml", 3942, "<soapenv:Envelope"},
	        {"TestReceipt12.xml", 7806, "<?xml version"},
	        {"TwoUserMessages.xml", 14265, "<?xml version"},
	        {"UserMessage12.xml", 1792, "<S12:Envelope"}, /* licence comment skipped */
	        {"UserMessageNoPartyID.xml", 12955, "<?xml version"},
	        {"WrongSigningAlgorithm.xml", 15436, "<?xml version"},
	        {"as4-soap-signed-pullrequest.xml", 4138, "<s12:Envelope"}, /* BOM skipped */
	        {"as4-soap-user-receipt-message.xml", 7332, "<?xml version"},
	        {"as4-soap-wrong-signed-message.txt", 4550, "<?xml version"},
	        {"bst_x509v3_incoming_message.xml", 14706, "<env:Envelope"},
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(v); i++) {
		char path[512];
		uint8_t *buf = NULL;
		size_t len = 0;
		assert_int_equal(as4_str_fmt(path, sizeof(path), "%s%s", MSGS, v[i].file), AS4_OK);
		assert_int_equal(as4_file_read(path, 1u << 24, &buf, &len), AS4_OK);
		const char *ct = "unset";
		struct as4_blob body;
		struct as4_diag d;
		as4_diag_init(&d);
		assert_int_equal(as4_mime_split_entity(buf, len, arena, &ct, &body, &d), AS4_OK);
		assert_null(ct);
		struct as4_mime m;
		assert_int_equal(as4_mime_parse(&body, ct, &lim, arena, NULL, &m, &d), AS4_OK);
		assert_int_equal(m.n_parts, 1);
		assert_null(m.boundary);
		assert_null(m.parts[0].content_id);
		assert_string_equal(m.parts[0].content_type, "application/soap+xml");
		if (m.parts[0].data.len != v[i].len) {
			fail_msg("%s: %zu bytes, want %zu", v[i].file, m.parts[0].data.len,
			         v[i].len);
		}
		assert_memory_equal(m.parts[0].data.data, v[i].start, strlen(v[i].start));
		as4_mime_cleanup(&m);
		free(buf);
	}
}

/* Every capture in the interop folder (new vectors included) splits and parses. */
static void test_interop_every_capture(void **state)
{
	(void)state;
	DIR *dir = opendir(MSGS);
	assert_non_null(dir);
	struct dirent *e;
	size_t seen = 0;
	size_t multipart = 0;
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.') {
			continue;
		}
		char path[512];
		uint8_t *buf = NULL;
		size_t len = 0;
		assert_int_equal(as4_str_fmt(path, sizeof(path), "%s%s", MSGS, e->d_name), AS4_OK);
		assert_int_equal(as4_file_read(path, 64u * 1024 * 1024, &buf, &len), AS4_OK);
		const char *ct = NULL;
		struct as4_blob body;
		struct as4_diag d;
		struct as4_mime m;
		as4_diag_init(&d);
		as4_err err = as4_mime_split_entity(buf, len, arena, &ct, &body, &d);
		if (err == AS4_OK) {
			err = as4_mime_parse(&body, ct, &lim, arena, NULL, &m, &d);
		}
		if (err != AS4_OK) {
			fail_msg("%s: %s", e->d_name, d.text);
		}
		assert_true(m.n_parts >= 1);
		assert_true(m.parts[0].data.len > 0);
		multipart += m.boundary != NULL;
		seen++;
		as4_mime_cleanup(&m);
		free(buf);
	}
	closedir(dir);
	assert_true(seen >= 15);
	assert_true(multipart >= 4);
}

/* ---- syntax real peers send ------------------------------------------------------------ */

static void test_crlf_quoted_boundary_preamble_epilogue(void **state)
{
	(void)state;
	static const char body[] = "This is a preamble.\r\n"
	                           "--b1\r\n"
	                           "Content-Type: application/soap+xml; charset=UTF-8\r\n"
	                           "Content-ID: <root@x>\r\n"
	                           "\r\n"
	                           "<Envelope/>\r\n"
	                           "--b1\r\n"
	                           "Content-Type: application/octet-stream\r\n"
	                           "Content-ID: <p1@x>\r\n"
	                           "\r\n"
	                           "\r\nbinary\r\n\r\n"
	                           "--b1--\r\n"
	                           "epilogue --b1\r\n";
	struct as4_mime m;
	struct as4_diag d;
	assert_int_equal(parse("multipart/related; boundary=\"b1\"; type=\"application/soap+xml\"",
	                       body, &m, &d),
	                 AS4_OK);
	assert_int_equal(m.n_parts, 2);
	assert_string_equal(m.boundary, "b1");
	assert_string_equal(m.type, "application/soap+xml");
	assert_null(m.start);
	assert_string_equal(m.parts[0].content_id, "root@x");
	assert_data(&m.parts[0], "<Envelope/>");
	assert_string_equal(m.parts[1].content_id, "p1@x");
	/* RFC 2046 §5.1.1: only the CRLF before the delimiter is removed. */
	assert_data(&m.parts[1], "\r\nbinary\r\n");
	as4_mime_cleanup(&m);
	assert_int_equal(m.n_parts, 0);
}

static void test_bare_lf_padding_folding(void **state)
{
	(void)state;
	static const char body[] = "--b2 \t\n"
	                           "content-id: root@x\n"
	                           "CONTENT-TYPE: application/soap+xml;\n"
	                           "\tcharset=UTF-8\n"
	                           "X-Note: one\n"
	                           "  two\n"
	                           "\n"
	                           "<E/>\n"
	                           "--b2\t\n"
	                           "Content-Id:   <a@x>  \n"
	                           "content-transfer-encoding: BINARY\n"
	                           "\n"
	                           "line1\nline2\n"
	                           "--b2--";
	struct as4_mime m;
	struct as4_diag d;
	assert_int_equal(parse("Multipart/Related;boundary=b2", body, &m, &d), AS4_OK);
	assert_int_equal(m.n_parts, 2);
	assert_string_equal(m.parts[0].content_id, "root@x");
	assert_string_equal(m.parts[0].content_type, "application/soap+xml;\tcharset=UTF-8");
	assert_int_equal(m.parts[0].n_headers, 1);
	assert_string_equal(m.parts[0].headers[0].name, "X-Note");
	assert_string_equal(m.parts[0].headers[0].value, "one  two");
	assert_data(&m.parts[0], "<E/>");
	assert_string_equal(m.parts[1].content_id, "a@x");
	/* RFC 2045 §5.2 default type. */
	assert_string_equal(m.parts[1].content_type, "text/plain; charset=us-ascii");
	assert_data(&m.parts[1], "line1\nline2");
	as4_mime_cleanup(&m);
}

static void test_boundary_prefix_in_content(void **state)
{
	(void)state;
	/* Lines that start with the boundary but continue are content, not delimiters. */
	static const char body[] = "--bb\r\n"
	                           "Content-ID: <r>\r\n"
	                           "\r\n"
	                           "x\r\n--bbc\r\n--bb-\r\n--bb x\r\n--b\r\ny"
	                           "\r\n--bb--";
	struct as4_mime m;
	struct as4_diag d;
	assert_int_equal(parse("multipart/related; boundary=bb", body, &m, &d), AS4_OK);
	assert_int_equal(m.n_parts, 1);
	assert_data(&m.parts[0], "x\r\n--bbc\r\n--bb-\r\n--bb x\r\n--b\r\ny");
	as4_mime_cleanup(&m);
}

static void test_start_selects_root(void **state)
{
	(void)state;
	static const char body[] = "--s\r\n"
	                           "Content-ID: <att1>\r\n"
	                           "Content-Type: application/gzip\r\n"
	                           "\r\n"
	                           "A\r\n"
	                           "--s\r\n"
	                           "Content-ID: <soap>\r\n"
	                           "\r\n"
	                           "<E/>\r\n"
	                           "--s\r\n"
	                           "Content-ID: <att2>\r\n"
	                           "\r\n"
	                           "B\r\n"
	                           "--s--\r\n";
	struct as4_mime m;
	struct as4_diag d;
	assert_int_equal(parse("multipart/related; type=\"application/soap+xml\"; "
	                       "start=\"<soap>\"; boundary=s",
	                       body, &m, &d),
	                 AS4_OK);
	assert_int_equal(m.n_parts, 3);
	assert_string_equal(m.start, "soap");
	assert_string_equal(m.parts[0].content_id, "soap");
	/* The root without Content-Type takes the `type` parameter (RFC 2387). */
	assert_string_equal(m.parts[0].content_type, "application/soap+xml");
	assert_data(&m.parts[0], "<E/>");
	assert_string_equal(m.parts[1].content_id, "att1");
	assert_string_equal(m.parts[2].content_id, "att2");
	assert_ptr_equal(as4_mime_find(&m, "cid:att2"), &m.parts[2]);
	assert_ptr_equal(as4_mime_find(&m, "<att1>"), &m.parts[1]);
	assert_ptr_equal(as4_mime_find(&m, "CID:soap"), &m.parts[0]);
	assert_null(as4_mime_find(&m, "att3"));
	assert_null(as4_mime_find(&m, ""));
	as4_mime_cleanup(&m);

	/* start without angle brackets, unquoted. */
	assert_int_equal(parse("multipart/related; boundary=s; start=att2", body, &m, &d), AS4_OK);
	assert_string_equal(m.parts[0].content_id, "att2");
	assert_string_equal(m.parts[1].content_id, "att1");
	assert_string_equal(m.parts[2].content_id, "soap");
	as4_mime_cleanup(&m);
}

static void test_find_percent_encoded(void **state)
{
	(void)state;
	static const char body[] = "--q\r\n\r\n<E/>\r\n"
	                           "--q\r\nContent-ID: <a b/c@x>\r\n\r\nz\r\n--q--\r\n";
	struct as4_mime m;
	struct as4_diag d;
	assert_int_equal(parse("multipart/related; boundary=q", body, &m, &d), AS4_OK);
	assert_int_equal(m.n_parts, 2);
	/* RFC 2392: cid URLs escape what is not allowed in a URL. */
	assert_ptr_equal(as4_mime_find(&m, "cid:a%20b%2Fc@x"), &m.parts[1]);
	assert_null(as4_mime_find(&m, "cid:a%2"));
	as4_mime_cleanup(&m);

	/* A Content-ID that itself starts with "cid:" is found by its literal value (fuzz find). */
	static const char odd[] = "--q\r\n\r\n<E/>\r\n"
	                          "--q\r\nContent-ID: <cid:x>\r\n\r\nz\r\n"
	                          "--q\r\nContent-ID: <x>\r\n\r\ny\r\n--q--\r\n";
	assert_int_equal(parse("multipart/related; boundary=q", odd, &m, &d), AS4_OK);
	assert_ptr_equal(as4_mime_find(&m, "cid:x"), &m.parts[1]);
	assert_ptr_equal(as4_mime_find(&m, "x"), &m.parts[2]);
	assert_ptr_equal(as4_mime_find(&m, "cid:cid:x"), &m.parts[1]);
	as4_mime_cleanup(&m);
}

static void test_base64_part(void **state)
{
	(void)state;
	/* "Hello, AS4 world!\r\n" wrapped at odd places, with tabs and spaces. */
	static const char body[] = "--b\r\n\r\n<E/>\r\n"
	                           "--b\r\n"
	                           "Content-ID: <p>\r\n"
	                           "Content-Transfer-Encoding: Base64\r\n"
	                           "\r\n"
	                           "SGVsbG8sIEFT\r\nNCB3b3Js\n ZCEN\tCg==\r\n"
	                           "--b\r\n"
	                           "Content-ID: <q>\r\n"
	                           "Content-Transfer-Encoding: base64\r\n"
	                           "\r\n"
	                           "YWI\r\n"
	                           "--b\r\n"
	                           "Content-ID: <r>\r\n"
	                           "Content-Transfer-Encoding: base64\r\n"
	                           "\r\n"
	                           "\r\n"
	                           "--b--\r\n";
	struct as4_mime m;
	struct as4_diag d;
	assert_int_equal(parse("multipart/related; boundary=b", body, &m, &d), AS4_OK);
	assert_int_equal(m.n_parts, 4);
	assert_data(&m.parts[1], "Hello, AS4 world!\r\n");
	assert_int_equal(m.parts[1].data.kind, AS4_BLOB_HEAP);
	assert_data(&m.parts[2], "ab"); /* final padding missing: tolerated */
	assert_int_equal(m.parts[3].data.len, 0);
	as4_mime_cleanup(&m);
}

static void test_quoted_printable_part(void **state)
{
	(void)state;
	static const char body[] = "--b\r\n\r\n<E/>\r\n"
	                           "--b\r\n"
	                           "Content-ID: <p>\r\n"
	                           "Content-Transfer-Encoding: quoted-printable\r\n"
	                           "\r\n"
	                           "a=3Db=3d=C3=A6  \r\n"
	                           "soft=\r\n"
	                           "break =  \r\n"
	                           "end\n"
	                           "last\t"
	                           "\r\n--b--\r\n";
	struct as4_mime m;
	struct as4_diag d;
	assert_int_equal(parse("multipart/related; boundary=b", body, &m, &d), AS4_OK);
	assert_int_equal(m.n_parts, 2);
	assert_data(&m.parts[1], "a=b=\xC3\xA6\r\nsoftbreak end\nlast");
	as4_mime_cleanup(&m);
}

static void test_decoded_part_spools(void **state)
{
	(void)state;
	/* A base64 part above the spool threshold is decoded into a spool file. */
	const size_t raw_len = 3u * 1024 * 1024 + 7;
	uint8_t *raw = malloc(raw_len);
	assert_non_null(raw);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < raw_len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		raw[i] = (uint8_t)x;
	}
	char *b64 = as4_b64_encode(raw, raw_len, 76);
	assert_non_null(b64);
	struct as4_buf body;
	as4_buf_init(&body, 64u * 1024 * 1024);
	assert_int_equal(as4_buf_puts(&body, "--z\r\n\r\n<E/>\r\n--z\r\nContent-ID: <big>\r\n"
	                                     "Content-Transfer-Encoding: base64\r\n\r\n"),
	                 AS4_OK);
	assert_int_equal(as4_buf_puts(&body, b64), AS4_OK);
	assert_int_equal(as4_buf_puts(&body, "\r\n--z--\r\n"), AS4_OK);
	free(b64);

	struct as4_limits l = lim;
	l.mem_spool_threshold = 64 * 1024;
	struct as4_blob blob;
	as4_blob_borrow(&blob, body.data, body.len);
	struct as4_mime m;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_mime_parse(&blob, "multipart/related; boundary=z", &l, arena, tmp_dir(),
	                             &m, &d);
	if (err != AS4_OK) {
		fail_msg("%s", d.text);
	}
	assert_int_equal(m.n_parts, 2);
	assert_int_equal(m.parts[1].data.kind, AS4_BLOB_MAPPED);
	assert_int_equal(m.parts[1].data.len, raw_len);
	assert_memory_equal(m.parts[1].data.data, raw, raw_len);
	as4_mime_cleanup(&m);
	as4_buf_cleanup(&body);
	free(raw);
}

static void test_bare_body_without_content_type(void **state)
{
	(void)state;
	static const char body[] = "\xEF\xBB\xBF\r\n\r\n--bare-1  \r\n"
	                           "Content-Type: application/soap+xml\r\n\r\n<E/>\r\n"
	                           "--bare-1\r\nContent-ID: <a>\r\n\r\nA\r\n--bare-1--\r\n";
	struct as4_mime m;
	struct as4_diag d;
	assert_int_equal(parse(NULL, body, &m, &d), AS4_OK);
	assert_string_equal(m.boundary, "bare-1");
	assert_int_equal(m.n_parts, 2);
	assert_data(&m.parts[0], "<E/>");
	assert_data(&m.parts[1], "A");
	as4_mime_cleanup(&m);

	/* A bare SOAP envelope is one root part; the declared type wins when given. */
	assert_int_equal(parse(NULL, "<E/>", &m, &d), AS4_OK);
	assert_int_equal(m.n_parts, 1);
	assert_string_equal(m.parts[0].content_type, "application/soap+xml");
	as4_mime_cleanup(&m);
	assert_int_equal(parse("text/xml; charset=utf-8", "<E/>", &m, &d), AS4_OK);
	assert_string_equal(m.parts[0].content_type, "text/xml; charset=utf-8");
	assert_data(&m.parts[0], "<E/>");
	as4_mime_cleanup(&m);
}

static void test_empty_parts(void **state)
{
	(void)state;
	/* A header-only part (no blank line) and an empty body between delimiters. */
	static const char body[] = "--e\r\n\r\n<E/>\r\n"
	                           "--e\r\nContent-ID: <h>\r\n"
	                           "--e\r\nContent-ID: <i>\r\n\r\n"
	                           "\r\n--e--";
	struct as4_mime m;
	struct as4_diag d;
	assert_int_equal(parse("multipart/related; boundary=e", body, &m, &d), AS4_OK);
	assert_int_equal(m.n_parts, 3);
	assert_string_equal(m.parts[1].content_id, "h");
	assert_int_equal(m.parts[1].data.len, 0);
	assert_string_equal(m.parts[2].content_id, "i");
	assert_int_equal(m.parts[2].data.len, 0);
	as4_mime_cleanup(&m);
}

/* ---- errors -------------------------------------------------------------------------------- */

static void test_structure_errors(void **state)
{
	(void)state;
	expect_fail("multipart/related; type=\"application/soap+xml\"", "--b\r\n\r\nx\r\n--b--",
	            AS4_E_MIME, "without boundary parameter");
	expect_fail("multipart/related; boundary=other", "--b\r\n\r\nx\r\n--b--", AS4_E_MIME,
	            "no MIME delimiter line \"--other\"");
	expect_fail("multipart/related; boundary=b",
	            "--b\r\n\r\n<E/>\r\n--b\r\n"
	            "Content-ID: <a>\r\n\r\nAAAA",
	            AS4_E_MIME, "MIME part 2: unterminated");
	expect_fail("multipart/related; boundary=b", "--b\r\n\r\n<E/>\r\n--b\r\n", AS4_E_MIME,
	            "MIME part 2: unterminated");
	expect_fail("multipart/related; boundary=b", "--b--\r\n", AS4_E_MIME, "no parts");
	expect_fail("multipart/related; boundary=b",
	            "--b\r\nContent-ID: <r>\r\n\r\n<E/>\r\n--b\r\nContent-ID: <a>\r\n\r\nA\r\n"
	            "--b\r\nContent-ID: <a>\r\n\r\nB\r\n--b--",
	            AS4_E_MIME, "duplicate MIME Content-ID <a>");
	expect_fail("multipart/related; boundary=b",
	            "--b\r\nContent-ID: <r>\r\n\r\n<E/>\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
	            "A\r\n--b--",
	            AS4_E_MIME, "MIME part 2: attachment without Content-ID");
	/* With `start`, the first part is no longer exempt. */
	expect_fail("multipart/related; boundary=b; start=\"<r>\"",
	            "--b\r\n\r\nA\r\n--b\r\nContent-ID: <r>\r\n\r\n<E/>\r\n--b--", AS4_E_MIME,
	            "MIME part 1: attachment without Content-ID");
	expect_fail("multipart/related; boundary=b; start=\"<nope>\"",
	            "--b\r\nContent-ID: <r>\r\n\r\n<E/>\r\n--b--", AS4_E_MIME,
	            "MIME start part <nope> not found");
	expect_fail(
	        "multipart/related; boundary=b",
	        "--b\r\n\r\n<E/>\r\n--b\r\nContent-ID: <a>\r\n"
	        "Content-Transfer-Encoding: x-uuencode\r\n\r\nA\r\n--b--",
	        AS4_E_MIME,
	        "MIME part 2 (Content-ID <a>): unknown Content-Transfer-Encoding \"x-uuencode\"");
	expect_fail("multipart/related; boundary=b",
	            "--b\r\n\r\n<E/>\r\n--b\r\nContent-ID: <a>\r\n"
	            "Content-Transfer-Encoding: base64\r\n\r\nQUJD*\r\n--b--",
	            AS4_E_MIME, "MIME part 2 (Content-ID <a>): invalid base64 character at byte 4");
	expect_fail("multipart/related; boundary=b",
	            "--b\r\n\r\n<E/>\r\n--b\r\nContent-ID: <a>\r\n"
	            "Content-Transfer-Encoding: base64\r\n\r\nQU==QUJD\r\n--b--",
	            AS4_E_MIME, "base64 data after '=' padding");
	expect_fail("multipart/related; boundary=b",
	            "--b\r\n\r\n<E/>\r\n--b\r\nContent-ID: <a>\r\n"
	            "Content-Transfer-Encoding: base64\r\n\r\nQUJDR\r\n--b--",
	            AS4_E_MIME, "lone character");
	expect_fail("multipart/related; boundary=b",
	            "--b\r\n\r\n<E/>\r\n--b\r\nContent-ID: <a>\r\n"
	            "Content-Transfer-Encoding: quoted-printable\r\n\r\nab=G1\r\n--b--",
	            AS4_E_MIME, "invalid quoted-printable escape at byte 2");
	expect_fail("multipart/related; boundary=b",
	            "--b\r\nContent-ID: <r>\r\nnot a header\r\n\r\n<E/>\r\n--b--", AS4_E_MIME,
	            "MIME part 1: malformed header line \"not a header\"");
	expect_fail("multipart/related; boundary=b", "--b\r\n folded first\r\n\r\n<E/>\r\n--b--",
	            AS4_E_MIME, "continuation line before any header field");
	expect_fail("multipart/related; boundary=b",
	            "--b\r\nContent-ID: <r\x01>\r\n\r\n<E/>\r\n--b--", AS4_E_MIME,
	            "control character 0x01");
	expect_fail("multipart/related; boundary=b",
	            "--b\r\nContent-Type: a/b\r\ncontent-type: c/d\r\n\r\n<E/>\r\n--b--",
	            AS4_E_MIME, "header content-type given twice");
	expect_fail("multipart/related; boundary=b", "--b\r\nContent-ID: <r\r\n\r\n<E/>\r\n--b--",
	            AS4_E_MIME, "unbalanced '<' in Content-ID");
	expect_fail("multipart/related; boundary=b", "--b\r\nContent-ID: <>\r\n\r\n<E/>\r\n--b--",
	            AS4_E_MIME, "empty Content-ID");
	expect_fail("multipart/related; boundary=\"b", "--b\r\n\r\n<E/>\r\n--b--", AS4_E_MIME,
	            "unterminated quoted string");
	expect_fail("multipart/related; boundary=a; boundary=b", "--b\r\n\r\n<E/>\r\n--b--",
	            AS4_E_MIME, "given twice");
	expect_fail("multipart/related; boundary=\"\"", "--b\r\n\r\n<E/>\r\n--b--", AS4_E_MIME,
	            "boundary of 0 characters");
	expect_fail("multipart/mixed; boundary=b", "--b\r\n\r\n<E/>\r\n--b--", AS4_E_MIME,
	            "multipart/mixed body where multipart/related is required");
	expect_fail("text/html", "<html/>", AS4_E_MIME,
	            "Content-Type text/html is neither multipart/related nor a SOAP envelope");
	expect_fail("application/soap+xml", "", AS4_E_MIME, "empty message body");
	expect_fail(NULL, "--\r\n\r\n", AS4_E_MIME, "boundary of 0 characters");
}

static void test_limits(void **state)
{
	(void)state;
	static const char four[] = "--b\r\n\r\n<E/>\r\n"
	                           "--b\r\nContent-ID: <1>\r\n\r\n1\r\n"
	                           "--b\r\nContent-ID: <2>\r\n\r\n2\r\n"
	                           "--b\r\nContent-ID: <3>\r\n\r\n3\r\n--b--\r\n";
	struct as4_mime m;
	struct as4_diag d;
	lim.max_parts = 4;
	assert_int_equal(parse("multipart/related; boundary=b", four, &m, &d), AS4_OK);
	assert_int_equal(m.n_parts, 4);
	as4_mime_cleanup(&m);
	lim.max_parts = 3;
	expect_fail("multipart/related; boundary=b", four, AS4_E_LIMIT, "more than 3 MIME parts");

	as4_limits_default(&lim);
	lim.max_header_bytes = 40;
	/* 38 header bytes + blank line = 40: allowed. */
	static const char ok[] = "--b\r\nContent-ID: <0123456789012345678901>\r\n\r\n<E/>\r\n--b--";
	assert_int_equal(parse("multipart/related; boundary=b", ok, &m, &d), AS4_OK);
	as4_mime_cleanup(&m);
	static const char big[] =
	        "--b\r\nContent-ID: <01234567890123456789012>\r\n\r\n<E/>\r\n--b--";
	expect_fail("multipart/related; boundary=b", big, AS4_E_LIMIT,
	            "MIME part 1: header block longer than 40 bytes");
}

static void test_header_param(void **state)
{
	(void)state;
	const char *v = NULL;
	const char *ct =
	        "multipart/related;boundary=\"MIME_b\\\"x\";  TYPE = application/soap+xml ;"
	        " start=<root@x>;;";
	assert_int_equal(as4_mime_header_param(ct, "boundary", arena, &v), AS4_OK);
	assert_string_equal(v, "MIME_b\"x");
	assert_int_equal(as4_mime_header_param(ct, "type", arena, &v), AS4_OK);
	assert_string_equal(v, "application/soap+xml");
	assert_int_equal(as4_mime_header_param(ct, "Start", arena, &v), AS4_OK);
	assert_string_equal(v, "<root@x>");
	assert_int_equal(as4_mime_header_param(ct, "charset", arena, &v), AS4_OK);
	assert_null(v);
	assert_int_equal(as4_mime_header_param("text/xml", "charset", arena, &v), AS4_OK);
	assert_null(v);
	assert_int_equal(as4_mime_header_param("text/xml; charset=\"\"", "charset", arena, &v),
	                 AS4_OK);
	assert_string_equal(v, "");

	assert_int_equal(as4_mime_header_param("a/b; x", "x", arena, &v), AS4_E_MIME);
	assert_null(v);
	assert_int_equal(as4_mime_header_param("a/b; x=", "x", arena, &v), AS4_E_MIME);
	assert_int_equal(as4_mime_header_param("a/b; =y", "x", arena, &v), AS4_E_MIME);
	assert_int_equal(as4_mime_header_param("a/b; x=\"y", "x", arena, &v), AS4_E_MIME);
	assert_int_equal(as4_mime_header_param("a/b; x=\"y\"z", "x", arena, &v), AS4_E_MIME);
	assert_int_equal(as4_mime_header_param("a/b; x=1; X=2", "x", arena, &v), AS4_E_MIME);
	/* Malformed lists fail whichever parameter is asked for. */
	assert_int_equal(as4_mime_header_param("a/b; y=\"1", "x", arena, &v), AS4_E_MIME);
	assert_int_equal(as4_mime_header_param(NULL, "x", arena, &v), AS4_E_INVAL);
}

/* ---- captured entities ------------------------------------------------------------------ */

static void split(const char *in, as4_err want, const char *want_ct, const char *want_body)
{
	const char *ct = "unset";
	struct as4_blob body;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_mime_split_entity((const uint8_t *)in, strlen(in), arena, &ct, &body, &d);
	if (err != want) {
		fail_msg("got %s (%s) for \"%s\"", as4_strerror(err), d.text, in);
	}
	if (want != AS4_OK) {
		assert_null(ct);
		assert_int_equal(body.len, 0);
		assert_contains(d.text, want_body);
		return;
	}
	if (want_ct == NULL) {
		assert_null(ct);
	} else {
		assert_non_null(ct);
		assert_string_equal(ct, want_ct);
	}
	assert_int_equal(body.len, strlen(want_body));
	assert_memory_equal(body.data, want_body, body.len);
}

static void test_split_entity(void **state)
{
	(void)state;
	split("POST /as4 HTTP/1.1\r\nHost: ap\r\nContent-Type: multipart/related;\r\n"
	      "\tboundary=\"x\"\r\nContent-Length: 9\r\n\r\n--x\r\n...\r\n",
	      AS4_OK, "multipart/related;\tboundary=\"x\"", "--x\r\n...\r\n");
	split("HTTP/1.1 200 OK\nContent-Type: application/soap+xml\n\n<E/>", AS4_OK,
	      "application/soap+xml", "<E/>");
	split("Content-Type: text/xml\r\nMIME-Version: 1.0\r\n\r\n<E/>", AS4_OK, "text/xml",
	      "<E/>");
	split("X-Other: 1\r\n\r\n<E/>", AS4_OK, NULL, "<E/>");
	split("\xEF\xBB\xBF\r\n--b\r\n\r\n", AS4_OK, NULL, "--b\r\n\r\n");
	split("\xEF\xBB\xBF<?xml version=\"1.0\"?><E/>", AS4_OK, NULL,
	      "<?xml version=\"1.0\"?><E/>");
	split("<!-- licence\n -->\n<!-- more -->  <?xml version=\"1.0\"?>\n<E/>", AS4_OK, NULL,
	      "<?xml version=\"1.0\"?>\n<E/>");
	split("<!-- licence --><S:Envelope/>", AS4_OK, NULL, "<S:Envelope/>");

	split("", AS4_E_MIME, NULL, "empty entity");
	split("\r\n \r\n", AS4_E_MIME, NULL, "empty entity");
	split("<!-- never closed", AS4_E_MIME, NULL, "no XML document");
	split("just some text\r\n\r\nbody", AS4_E_MIME, NULL, "first line \"just some text\"");
	split("Content-Type: text/xml\r\n<E/>", AS4_E_MIME, NULL, "malformed header line");
	split("Content-Type: text/xml\r\n", AS4_E_MIME, NULL, "not ended by a blank line");
	split("Content-Type: a/b\r\ncontent-type: c/d\r\n\r\nx", AS4_E_MIME, NULL,
	      "Content-Type given twice");
	split("GET / HTTP/1.1", AS4_E_MIME, NULL, "first line");

	/* The header block of a capture is bounded. */
	struct as4_buf b;
	as4_buf_init(&b, 1u << 20);
	assert_int_equal(as4_buf_puts(&b, "HTTP/1.1 200 OK\r\n"), AS4_OK);
	for (int i = 0; i < 5000; i++) {
		assert_int_equal(as4_buf_puts(&b, "X-Filler: 0123456789\r\n"), AS4_OK);
	}
	assert_int_equal(as4_buf_puts(&b, "\r\n<E/>"), AS4_OK);
	split((const char *)b.data, AS4_E_LIMIT, NULL, "header block longer than");
	as4_buf_cleanup(&b);
}

/* ---- building ------------------------------------------------------------------------------ */

static void set_part(struct as4_part *p, const char *cid, const char *type, const void *data,
                     size_t n)
{
	as4_part_init(p);
	p->content_id = cid;
	p->content_type = type;
	as4_blob_borrow(&p->data, data, n);
}

static void assert_has(const struct as4_buf *b, const char *needle)
{
	if (memmem(b->data, b->len, needle, strlen(needle)) == NULL) {
		fail_msg("built body lacks \"%s\"", needle);
	}
}

static void test_build_round_trip(void **state)
{
	(void)state;
	static const char env[] = "<env:Envelope/>";
	/* Payloads that look like MIME syntax must come back byte for byte. */
	static const uint8_t bin[] = {'\r', '\n', '-', '-', 0x00, 0xff, '\r', '\n'};
	static const char text[] = "--MIMEBoundary_\r\n\r\nContent-ID: <x>\r\n";
	struct as4_part root;
	struct as4_part parts[3];
	struct as4_part_header hdr = {"Content-Description", "the payload"};
	set_part(&root, "soap@me", NULL, env, strlen(env));
	set_part(&parts[0], "p0@me", "application/gzip", bin, sizeof(bin));
	set_part(&parts[1], "p1@me", NULL, text, strlen(text));
	set_part(&parts[2], "empty@me", "text/plain", NULL, 0);
	parts[1].headers = &hdr;
	parts[1].n_headers = 1;

	struct as4_mime_out out;
	assert_int_equal(as4_mime_build(&root, parts, 3, &out), AS4_OK);
	const char *b = strstr(out.content_type, "boundary=\"MIMEBoundary_");
	assert_non_null(b);
	b += strlen("boundary=\"");
	for (size_t i = 13; i < 45; i++) {
		assert_non_null(strchr("0123456789abcdef", b[i]));
	}
	assert_int_equal(b[45], '"');
	assert_contains(out.content_type, "multipart/related; ");
	assert_contains(out.content_type, "; type=\"application/soap+xml\"; start=\"<soap@me>\"");
	/* The payload bytes are borrowed, not copied. */
	size_t borrowed = 0;
	uint64_t sum = 0;
	for (size_t i = 0; i < out.n_segs; i++) {
		sum += out.segs[i].len;
		borrowed += out.segs[i].data == bin || out.segs[i].data == (const void *)text ||
		            out.segs[i].data == (const void *)env;
	}
	assert_int_equal(borrowed, 3);
	assert_int_equal(sum, out.total_len);

	struct as4_buf flat;
	as4_buf_init(&flat, 1u << 20);
	assert_int_equal(as4_mime_out_flatten(&out, &flat), AS4_OK);
	assert_int_equal(flat.len, out.total_len);
	assert_true(as4_str_starts((const char *)flat.data, "--MIMEBoundary_"));
	assert_has(&flat, "\r\nContent-Type: application/soap+xml; charset=UTF-8\r\n"
	                  "Content-Transfer-Encoding: binary\r\nContent-ID: <soap@me>\r\n\r\n"
	                  "<env:Envelope/>\r\n--MIMEBoundary_");
	assert_has(&flat, "Content-Type: application/octet-stream\r\n"
	                  "Content-Transfer-Encoding: binary\r\nContent-ID: <p1@me>\r\n"
	                  "Content-Description: the payload\r\n\r\n--MIMEBoundary_\r\n");

	struct as4_mime m;
	struct as4_diag d;
	assert_int_equal(parse_n(out.content_type, flat.data, flat.len, &m, &d), AS4_OK);
	assert_int_equal(m.n_parts, 4);
	assert_string_equal(m.start, "soap@me");
	assert_string_equal(m.parts[0].content_id, "soap@me");
	assert_string_equal(m.parts[0].content_type, "application/soap+xml; charset=UTF-8");
	assert_data(&m.parts[0], env);
	assert_string_equal(m.parts[1].content_id, "p0@me");
	assert_string_equal(m.parts[1].content_type, "application/gzip");
	assert_int_equal(m.parts[1].data.len, sizeof(bin));
	assert_memory_equal(m.parts[1].data.data, bin, sizeof(bin));
	assert_string_equal(m.parts[2].content_type, "application/octet-stream");
	assert_data(&m.parts[2], text);
	assert_int_equal(m.parts[2].n_headers, 1);
	assert_string_equal(m.parts[2].headers[0].value, "the payload");
	assert_string_equal(m.parts[3].content_id, "empty@me");
	assert_int_equal(m.parts[3].data.len, 0);
	as4_mime_cleanup(&m);

	/* Two builds use different boundaries. */
	struct as4_mime_out out2;
	assert_int_equal(as4_mime_build(&root, parts, 1, &out2), AS4_OK);
	assert_string_not_equal(out.content_type, out2.content_type);
	as4_mime_out_cleanup(&out2);

	/* flatten respects the buffer's cap and leaves it unchanged. */
	struct as4_buf small;
	as4_buf_init(&small, 16);
	assert_int_equal(as4_buf_puts(&small, "keep"), AS4_OK);
	assert_int_equal(as4_mime_out_flatten(&out, &small), AS4_E_LIMIT);
	assert_int_equal(small.len, 4);
	as4_buf_cleanup(&small);

	as4_buf_cleanup(&flat);
	as4_mime_out_cleanup(&out);
	assert_null(out.segs);
	as4_mime_out_cleanup(&out);
	as4_mime_out_cleanup(NULL);
}

static void test_build_generated_root_cid_and_bare(void **state)
{
	(void)state;
	static const char env[] = "<E/>";
	struct as4_part root;
	struct as4_part att;
	set_part(&root, NULL, NULL, env, 4);
	set_part(&att, "a", "application/xml", "<a/>", 4);
	struct as4_mime_out out;
	assert_int_equal(as4_mime_build(&root, &att, 1, &out), AS4_OK);
	const char *s = strstr(out.content_type, "start=\"<root-");
	assert_non_null(s);
	struct as4_buf flat;
	as4_buf_init(&flat, 1u << 16);
	assert_int_equal(as4_mime_out_flatten(&out, &flat), AS4_OK);
	struct as4_mime m;
	struct as4_diag d;
	assert_int_equal(parse_n(out.content_type, flat.data, flat.len, &m, &d), AS4_OK);
	assert_int_equal(m.n_parts, 2);
	assert_true(as4_str_starts(m.parts[0].content_id, "root-"));
	assert_true(as4_str_ends(m.parts[0].content_id, "@as4"));
	assert_data(&m.parts[0], env);
	assert_data(&m.parts[1], "<a/>");
	as4_mime_cleanup(&m);
	as4_buf_cleanup(&flat);
	as4_mime_out_cleanup(&out);

	/* start is a quoted-string: a backslash in the root's Content-ID survives (fuzz find). */
	set_part(&root, "a\\b@x", NULL, env, 4);
	assert_int_equal(as4_mime_build(&root, &att, 1, &out), AS4_OK);
	assert_contains(out.content_type, "start=\"<a\\\\b@x>\"");
	as4_buf_init(&flat, 1u << 16);
	assert_int_equal(as4_mime_out_flatten(&out, &flat), AS4_OK);
	assert_int_equal(parse_n(out.content_type, flat.data, flat.len, &m, &d), AS4_OK);
	assert_string_equal(m.start, "a\\b@x");
	assert_string_equal(m.parts[0].content_id, "a\\b@x");
	as4_mime_cleanup(&m);
	as4_buf_cleanup(&flat);
	as4_mime_out_cleanup(&out);
	set_part(&root, NULL, NULL, env, 4);

	/* Without attachments the body is the envelope itself. */
	assert_int_equal(as4_mime_build(&root, NULL, 0, &out), AS4_OK);
	assert_string_equal(out.content_type, "application/soap+xml; charset=UTF-8");
	assert_int_equal(out.n_segs, 1);
	assert_ptr_equal(out.segs[0].data, env);
	assert_int_equal(out.total_len, 4);
	as4_mime_out_cleanup(&out);
}

static void test_build_refuses_bad_parts(void **state)
{
	(void)state;
	struct as4_part root;
	struct as4_part p[2];
	struct as4_mime_out out;
	set_part(&root, "r", NULL, "<E/>", 4);

	set_part(&p[0], NULL, "a/b", "x", 1);
	assert_int_equal(as4_mime_build(&root, p, 1, &out), AS4_E_INVAL);
	assert_null(out.segs);
	set_part(&p[0], "x\r\nBcc: y", "a/b", "x", 1);
	assert_int_equal(as4_mime_build(&root, p, 1, &out), AS4_E_INVAL);
	set_part(&p[0], "<x>", "a/b", "x", 1);
	assert_int_equal(as4_mime_build(&root, p, 1, &out), AS4_E_INVAL);
	set_part(&p[0], "x", "a/b\r\nX: 1", "x", 1);
	assert_int_equal(as4_mime_build(&root, p, 1, &out), AS4_E_INVAL);
	set_part(&p[0], "r", "a/b", "x", 1);
	assert_int_equal(as4_mime_build(&root, p, 1, &out), AS4_E_INVAL);
	set_part(&p[0], "x", "a/b", "x", 1);
	set_part(&p[1], "x", "a/b", "y", 1);
	assert_int_equal(as4_mime_build(&root, p, 2, &out), AS4_E_INVAL);
	struct as4_part_header h = {"Content-ID", "y"};
	set_part(&p[1], "y", "a/b", "y", 1);
	p[1].headers = &h;
	p[1].n_headers = 1;
	assert_int_equal(as4_mime_build(&root, p, 2, &out), AS4_E_INVAL);
	struct as4_part_header h2 = {"Bad Name", "y"};
	p[1].headers = &h2;
	assert_int_equal(as4_mime_build(&root, p, 2, &out), AS4_E_INVAL);

	char long_cid[600];
	memset(long_cid, 'c', sizeof(long_cid) - 1);
	long_cid[sizeof(long_cid) - 1] = '\0';
	set_part(&root, long_cid, NULL, "<E/>", 4);
	set_part(&p[0], "x", "a/b", "x", 1);
	assert_int_equal(as4_mime_build(&root, p, 1, &out), AS4_E_LIMIT);
	assert_int_equal(as4_mime_build(NULL, p, 1, &out), AS4_E_INVAL);
}

/* ---- bounded memory on a huge mapped body ------------------------------------------------ */

static long max_rss_kb(void)
{
	struct rusage ru;
	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

static void test_huge_body_bounded_rss(void **state)
{
	(void)state;
#ifdef UNDER_ASAN
	const size_t payload = 64u * 1024 * 1024;
#else
	const size_t payload = 300u * 1024 * 1024;
#endif
	static const char head[] = "--MIMEBoundary_huge\r\n"
	                           "Content-Type: application/soap+xml\r\n"
	                           "Content-ID: <root>\r\n\r\n<E/>\r\n"
	                           "--MIMEBoundary_huge\r\n"
	                           "Content-Type: application/octet-stream\r\n"
	                           "Content-ID: <big>\r\n\r\n";
	static const char tail[] = "\r\n--MIMEBoundary_huge--\r\n";
	const size_t chunk = 1u << 20;
	uint8_t *block = malloc(chunk);
	assert_non_null(block);
	uint32_t x = 88172645u;
	for (size_t i = 0; i < chunk; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		block[i] = (uint8_t)x;
	}
	/* Near misses of the delimiter make the scanner look closer at every MB. */
	static const char near[] = "\r\n--MIMEBoundary_hugeX\n--MIMEBoundary_hug\r\n";
	memcpy(block + 1000, near, strlen(near));

	long before = max_rss_kb();
	struct as4_sink sink;
	/* A finite max: as4_buf_reserve() overflows on max == SIZE_MAX (max + 1). */
	as4_sink_init(&sink, tmp_dir(), 1u << 20, (size_t)1 << 40);
	assert_int_equal(as4_sink_write(&sink, head, strlen(head)), AS4_OK);
	for (size_t off = 0; off < payload; off += chunk) {
		assert_int_equal(as4_sink_write(&sink, block, chunk), AS4_OK);
	}
	assert_int_equal(as4_sink_write(&sink, tail, strlen(tail)), AS4_OK);
	struct as4_blob body;
	assert_int_equal(as4_sink_finish(&sink, &body), AS4_OK);
	as4_sink_cleanup(&sink);
	assert_int_equal(body.kind, AS4_BLOB_MAPPED);

	struct as4_mime m;
	struct as4_diag d;
	as4_diag_init(&d);
	assert_int_equal(as4_mime_parse(&body, NULL, &lim, arena, NULL, &m, &d), AS4_OK);
	long after = max_rss_kb();
	assert_int_equal(m.n_parts, 2);
	assert_string_equal(m.parts[1].content_id, "big");
	assert_int_equal(m.parts[1].data.len, payload);
	assert_ptr_equal(m.parts[1].data.data, body.data + strlen(head));
	assert_memory_equal(m.parts[1].data.data, block, 64);
	assert_memory_equal(m.parts[1].data.data + payload - 64, block + chunk - 64, 64);
	/* The scan touched every page of the body; only a few windows may stay resident. */
	long grown_mb = (after - before) / 1024;
	print_message("body %zu MB parsed, max RSS grew by %ld MB\n", payload >> 20, grown_mb);
	assert_true(grown_mb < 48);
	assert_true((size_t)grown_mb < (payload >> 20) / 4);
	as4_mime_cleanup(&m);
	as4_blob_cleanup(&body);
	free(block);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	        T(test_interop_holodeck_signed),
	        T(test_interop_holodeck_encrypted),
	        T(test_interop_as4net_root_without_cid),
	        T(test_interop_bom_and_odd_boundary),
	        T(test_interop_http_dump),
	        T(test_interop_bare_soap),
	        T(test_interop_every_capture),
	        T(test_crlf_quoted_boundary_preamble_epilogue),
	        T(test_bare_lf_padding_folding),
	        T(test_boundary_prefix_in_content),
	        T(test_start_selects_root),
	        T(test_find_percent_encoded),
	        T(test_base64_part),
	        T(test_quoted_printable_part),
	        T(test_decoded_part_spools),
	        T(test_bare_body_without_content_type),
	        T(test_empty_parts),
	        T(test_structure_errors),
	        T(test_limits),
	        T(test_header_param),
	        T(test_split_entity),
	        T(test_build_round_trip),
	        T(test_build_generated_root_cid_and_bare),
	        T(test_build_refuses_bad_parts),
	        T(test_huge_body_bounded_rss),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
