/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AS4 compression: round trips at every level and window size, gzip written by other tools
 * (the system gzip, Holodeck's payloads, optional header fields), every refusal with its
 * diagnostic (raw zlib, corrupt data, CRC and length trailers, truncation, trailing bytes, size
 * and ratio caps) and a large mapped payload streamed in bounded resident memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "as4/gzip.h"
#include "as4/mime.h"
#include "as4/str.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#define BIG (64u * 1024 * 1024)
/* zlib's MIN_LOOKAHEAD: how much less than the window a match may reach back */
#define ZLIB_LOOKAHEAD_T 262u

static const char *tmp_dir(void)
{
	const char *t = getenv("TMPDIR");
	return t != NULL && t[0] != '\0' ? t : "/tmp";
}

static void assert_contains(const char *text, const char *needle)
{
	if (strstr(text, needle) == NULL) {
		fail_msg("\"%s\" does not contain \"%s\"", text, needle);
	}
}

/* Text-like bytes: compressible, but not trivially. */
static uint8_t *make_text(size_t n, uint32_t seed)
{
	static const char *words[] = {"Patient",   "Observation",   "<value>", "</value>",
	                              "MedCom",    "5790000123117", "\n",      "  ",
	                              "encounter", "FHIR"};
	uint8_t *p = malloc(n);
	assert_non_null(p);
	size_t i = 0;
	uint32_t x = seed;
	while (i < n) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		const char *w = words[x % AS4_ARRAY_LEN(words)];
		size_t k = strlen(w);
		if (k > n - i) {
			k = n - i;
		}
		memcpy(p + i, w, k);
		i += k;
		if (i < n) {
			p[i++] = (uint8_t)('0' + (x >> 8) % 10);
		}
	}
	return p;
}

static as4_err gz(const void *p, size_t n, int level, struct as4_blob *out, struct as4_diag *d)
{
	struct as4_blob in;
	struct as4_sink s;
	as4_blob_borrow(&in, p, n);
	as4_sink_init(&s, NULL, BIG, BIG);
	as4_diag_init(d);
	as4_err err = as4_gzip_compress(&in, level, &s, d);
	if (err == AS4_OK) {
		err = as4_sink_finish(&s, out);
	}
	as4_sink_cleanup(&s);
	return err;
}

static as4_err gunzip(const void *p, size_t n, uint32_t ratio, size_t max, struct as4_blob *out,
                      struct as4_diag *d)
{
	struct as4_blob in;
	struct as4_sink s;
	as4_blob_borrow(&in, p, n);
	as4_sink_init(&s, NULL, max, max);
	as4_diag_init(d);
	as4_blob_init(out);
	as4_err err = as4_gzip_decompress(&in, ratio, &s, d);
	if (err == AS4_OK) {
		err = as4_sink_finish(&s, out);
	}
	as4_sink_cleanup(&s);
	return err;
}

static void expect_refused(const void *p, size_t n, uint32_t ratio, size_t max, const char *needle)
{
	struct as4_blob out;
	struct as4_diag d;
	as4_err err = gunzip(p, n, ratio, max, &out, &d);
	if (err != AS4_E_DECOMPRESS) {
		fail_msg("got %s (%s), want AS4_E_DECOMPRESS", as4_strerror(err), d.text);
	}
	assert_int_equal(d.err, AS4_E_DECOMPRESS);
	assert_contains(d.text, needle);
	as4_blob_cleanup(&out);
}

static void test_round_trip_levels(void **state)
{
	(void)state;
	const size_t n = 200 * 1024;
	uint8_t *text = make_text(n, 7);
	size_t sizes[10] = {0};
	for (int level = 0; level <= 9; level++) {
		struct as4_blob z;
		struct as4_blob back;
		struct as4_diag d;
		assert_int_equal(gz(text, n, level, &z, &d), AS4_OK);
		/* RFC 1952 member: magic and the deflate method. */
		assert_true(z.len > 18);
		assert_int_equal(z.data[0], 0x1f);
		assert_int_equal(z.data[1], 0x8b);
		assert_int_equal(z.data[2], 8);
		assert_true(z.len < n / 2);
		sizes[level] = z.len;
		assert_int_equal(gunzip(z.data, z.len, 1000, BIG, &back, &d), AS4_OK);
		assert_int_equal(back.len, n);
		assert_memory_equal(back.data, text, n);
		as4_blob_cleanup(&back);
		as4_blob_cleanup(&z);
	}
	assert_int_equal(sizes[0], sizes[6]); /* 0 = zlib's default level 6 */
	assert_true(sizes[9] <= sizes[1]);
	free(text);
}

/*
 * Small inputs get a window sized to them: a repeat as far back as the input allows must
 * still be found (a block of random bytes at the start and again at the very end, closer to
 * the input's length than zlib's lookahead, saves about its length), at every size around the
 * window steps.
 */
static void test_window_fits_input(void **state)
{
	(void)state;
	static const size_t lens[] = {2000,  3800,  4096,  7900,  8192,  16122,
	                              16123, 16384, 16385, 32506, 32768, 40000};
	const size_t m = 200;
	uint32_t x = 99;
	for (size_t i = 0; i < AS4_ARRAY_LEN(lens); i++) {
		size_t n = lens[i];
		uint8_t *p = malloc(n);
		assert_non_null(p);
		for (size_t k = 0; k < n; k++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			p[k] = (uint8_t)(x >> 11);
		}
		struct as4_blob plain;
		struct as4_blob z;
		struct as4_blob back;
		struct as4_diag d;
		assert_int_equal(gz(p, n, 6, &plain, &d), AS4_OK);
		for (size_t k = 0; k < m; k++) {
			p[n - m + k] = p[k]; /* the first block again at the far end */
		}
		assert_int_equal(gz(p, n, 6, &z, &d), AS4_OK);
		if (n <= 32768 - ZLIB_LOOKAHEAD_T && z.len + m / 2 > plain.len) {
			fail_msg("%zu bytes: %zu compressed (%zu without the repeat): the repeat "
			         "%zu bytes back was missed",
			         n, z.len, plain.len, n - m);
		}
		assert_int_equal(gunzip(z.data, z.len, 1000, BIG, &back, &d), AS4_OK);
		assert_int_equal(back.len, n);
		assert_memory_equal(back.data, p, n);
		as4_blob_cleanup(&back);
		as4_blob_cleanup(&z);
		as4_blob_cleanup(&plain);
		free(p);
	}
}

static void test_empty_payload(void **state)
{
	(void)state;
	struct as4_blob z;
	struct as4_blob back;
	struct as4_diag d;
	assert_int_equal(gz(NULL, 0, 6, &z, &d), AS4_OK);
	assert_int_equal(z.len, 20); /* 10 header + 2 empty final block + 8 trailer */
	assert_int_equal(gunzip(z.data, z.len, 1000, BIG, &back, &d), AS4_OK);
	assert_int_equal(back.len, 0);
	as4_blob_cleanup(&z);
	expect_refused(NULL, 0, 0, BIG, "gzip data truncated at byte 0");
}

static void test_system_gzip_with_file_name(void **state)
{
	(void)state;
	uint8_t *gzd = NULL;
	uint8_t *txt = NULL;
	size_t gzl = 0;
	size_t txtl = 0;
	assert_int_equal(as4_file_read(AS4_TEST_DATA "/mime/hello.txt.gz", 1u << 20, &gzd, &gzl),
	                 AS4_OK);
	assert_int_equal(as4_file_read(AS4_TEST_DATA "/mime/hello.txt", 1u << 20, &txt, &txtl),
	                 AS4_OK);
	assert_int_equal(gzd[3] & 0x08, 0x08); /* FNAME set by gzip(1) */
	struct as4_blob out;
	struct as4_diag d;
	assert_int_equal(gunzip(gzd, gzl, 1000, BIG, &out, &d), AS4_OK);
	assert_int_equal(out.len, txtl);
	assert_memory_equal(out.data, txt, txtl);
	as4_blob_cleanup(&out);
	free(gzd);
	free(txt);
}

static void test_optional_header_fields(void **state)
{
	(void)state;
	/* Rewrite our member with FEXTRA and FCOMMENT (RFC 1952 §2.3.1), which peers may send. */
	static const char msg[] = "payload with an extended gzip header";
	struct as4_blob z;
	struct as4_diag d;
	assert_int_equal(gz(msg, strlen(msg), 6, &z, &d), AS4_OK);
	static const uint8_t extra[] = {4, 0, 'A', 'S', 0, 0}; /* XLEN 4, subfield AS */
	static const uint8_t comment[] = {'a', ' ', 'n', 'o', 't', 'e', 0}; /* zero-terminated */
	size_t n = z.len + sizeof(extra) + sizeof(comment);
	uint8_t *v = malloc(n);
	assert_non_null(v);
	memcpy(v, z.data, 10);
	v[3] = 0x04 | 0x10;
	memcpy(v + 10, extra, sizeof(extra));
	memcpy(v + 10 + sizeof(extra), comment, sizeof(comment));
	memcpy(v + 10 + sizeof(extra) + sizeof(comment), z.data + 10, z.len - 10);
	struct as4_blob out;
	assert_int_equal(gunzip(v, n, 1000, BIG, &out, &d), AS4_OK);
	assert_int_equal(out.len, strlen(msg));
	assert_memory_equal(out.data, msg, out.len);
	as4_blob_cleanup(&out);
	free(v);
	as4_blob_cleanup(&z);
}

static void test_interop_payloads(void **state)
{
	(void)state;
	/* Holodeck B2B's two gzip attachments: a JPEG and an XML document. */
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(as4_file_read(AS4_SHARED_DIR
	                               "/interop/messages/signed_holodeck_message.as4",
	                               1u << 24, &buf, &len),
	                 AS4_OK);
	struct as4_arena *a = as4_arena_new(0);
	struct as4_limits lim;
	as4_limits_default(&lim);
	struct as4_blob body;
	struct as4_mime m;
	struct as4_diag d;
	as4_blob_borrow(&body, buf, len);
	assert_int_equal(as4_mime_parse(&body, NULL, &lim, a, NULL, &m, &d), AS4_OK);
	assert_int_equal(m.n_parts, 3);

	struct as4_blob out;
	assert_int_equal(gunzip(m.parts[1].data.data, m.parts[1].data.len, lim.max_gzip_ratio,
	                        lim.max_gunzip, &out, &d),
	                 AS4_OK);
	assert_int_equal(out.len, 296454);
	assert_memory_equal(out.data, "\xff\xd8\xff\xe0\x00\x10JFIF", 10);
	as4_blob_cleanup(&out);
	assert_int_equal(gunzip(m.parts[2].data.data, m.parts[2].data.len, lim.max_gzip_ratio,
	                        lim.max_gunzip, &out, &d),
	                 AS4_OK);
	assert_int_equal(out.len, 206);
	assert_memory_equal(out.data, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 38);
	assert_memory_equal(out.data + 186, "</example-document>\n", 20);
	as4_blob_cleanup(&out);
	/* The encrypted payloads of the same sender are not gzip until decrypted. */
	as4_mime_cleanup(&m);
	as4_arena_free(a);
	free(buf);
}

static void test_refusals(void **state)
{
	(void)state;
	/* zlib wrapper (RFC 1950) of "hello": gzip is required. */
	static const uint8_t zlib_hello[] = {0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
	                                     0x07, 0x00, 0x06, 0x2c, 0x02, 0x15};
	expect_refused(zlib_hello, sizeof(zlib_hello), 0, BIG,
	               "gzip data invalid at byte 2: incorrect header check");
	/* A header, then a block of the reserved type 3. */
	static const uint8_t bad_block[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x07, 0, 0, 0};
	expect_refused(bad_block, sizeof(bad_block), 0, BIG,
	               "gzip data invalid at byte 11: invalid block type");
	static const uint8_t bad_method[] = {0x1f, 0x8b, 7, 0, 0, 0, 0, 0, 0, 3, 0x03, 0};
	expect_refused(bad_method, sizeof(bad_method), 0, BIG, "unknown compression method");

	const size_t n = 50000;
	uint8_t *text = make_text(n, 99);
	struct as4_blob z;
	struct as4_diag d;
	assert_int_equal(gz(text, n, 6, &z, &d), AS4_OK);
	uint8_t *v = malloc(z.len + 32);
	assert_non_null(v);

	memcpy(v, z.data, z.len);
	v[z.len - 8] ^= 0x01; /* CRC-32 */
	expect_refused(v, z.len, 0, BIG, "incorrect data check");
	memcpy(v, z.data, z.len);
	v[z.len - 1] ^= 0x01; /* ISIZE */
	expect_refused(v, z.len, 0, BIG, "incorrect length check");
	memcpy(v, z.data, z.len);
	v[z.len / 2] ^= 0xff; /* deflate data */
	expect_refused(v, z.len, 0, BIG, "gzip data invalid at byte");

	char want[96];
	assert_int_equal(
	        as4_str_fmt(want, sizeof(want), "gzip data truncated at byte %zu", z.len - 5),
	        AS4_OK);
	expect_refused(z.data, z.len - 5, 0, BIG, want);
	expect_refused(z.data, 10, 0, BIG, "gzip data truncated at byte 10");

	memcpy(v, z.data, z.len);
	v[z.len] = 'X';
	assert_int_equal(as4_str_fmt(want, sizeof(want),
	                             "1 bytes of trailing data after the gzip member (ends at "
	                             "byte %zu)",
	                             z.len),
	                 AS4_OK);
	expect_refused(v, z.len + 1, 0, BIG, want);
	/* A second member is trailing data too (one member per payload). */
	struct as4_blob z2;
	assert_int_equal(gz("x", 1, 6, &z2, &d), AS4_OK);
	uint8_t *two = malloc(z.len + z2.len);
	assert_non_null(two);
	memcpy(two, z.data, z.len);
	memcpy(two + z.len, z2.data, z2.len);
	expect_refused(two, z.len + z2.len, 0, BIG, "trailing data after the gzip member");
	free(two);
	as4_blob_cleanup(&z2);

	free(v);
	as4_blob_cleanup(&z);
	free(text);
}

static void test_caps(void **state)
{
	(void)state;
	/* 8 MB of zeros deflates about 1000:1. */
	const size_t n = 8u * 1024 * 1024;
	uint8_t *zeros = calloc(1, n);
	assert_non_null(zeros);
	struct as4_blob z;
	struct as4_blob out;
	struct as4_diag d;
	assert_int_equal(gz(zeros, n, 9, &z, &d), AS4_OK);
	assert_true(z.len < n / 500);

	expect_refused(z.data, z.len, 0, 1000, "decompressed size exceeds 1000 bytes");
	expect_refused(z.data, z.len, 0, n - 1, "decompressed size exceeds 8388607 bytes");
	assert_int_equal(gunzip(z.data, z.len, 0, n, &out, &d), AS4_OK);
	assert_int_equal(out.len, n);
	as4_blob_cleanup(&out);

	char want[128];
	assert_int_equal(as4_str_fmt(want, sizeof(want),
	                             "decompression ratio exceeds 100:1 (%zu compressed bytes give "
	                             "more than %zu)",
	                             z.len, z.len * 100),
	                 AS4_OK);
	expect_refused(z.data, z.len, 100, BIG, want);
	/* A ratio cap the data stays under is no obstacle. */
	size_t ratio = n / z.len + 1;
	assert_int_equal(gunzip(z.data, z.len, (uint32_t)ratio, BIG, &out, &d), AS4_OK);
	as4_blob_cleanup(&out);

	/* The cap is what the sink can still take. */
	struct as4_blob in;
	struct as4_sink s;
	as4_blob_borrow(&in, z.data, z.len);
	as4_sink_init(&s, NULL, n + 5, n + 5);
	assert_int_equal(as4_sink_write(&s, "0123456789A", 11), AS4_OK);
	as4_diag_init(&d);
	assert_int_equal(as4_gzip_decompress(&in, 0, &s, &d), AS4_E_DECOMPRESS);
	assert_contains(d.text, "decompressed size exceeds 8388602 bytes");
	as4_sink_cleanup(&s);

	as4_blob_cleanup(&z);
	free(zeros);
}

static void test_compress_errors(void **state)
{
	(void)state;
	struct as4_blob in;
	struct as4_sink s;
	struct as4_diag d;
	uint8_t *text = make_text(100000, 3);
	as4_blob_borrow(&in, text, 100000);
	as4_sink_init(&s, NULL, 1u << 20, 1u << 20);
	as4_diag_init(&d);
	assert_int_equal(as4_gzip_compress(&in, 10, &s, &d), AS4_E_INVAL);
	as4_diag_init(&d);
	assert_int_equal(as4_gzip_compress(&in, -1, &s, &d), AS4_E_INVAL);
	as4_sink_cleanup(&s);

	/* The sink's cap stops the output. */
	as4_sink_init(&s, NULL, 100, 100);
	as4_diag_init(&d);
	assert_int_equal(as4_gzip_compress(&in, 1, &s, &d), AS4_E_LIMIT);
	assert_contains(d.text, "cannot write compressed data");
	as4_sink_cleanup(&s);
	free(text);
}

/* gzip with a reused compressor into a fresh memory blob. */
static as4_err gz_with(struct as4_deflater *g, const void *p, size_t n, int level, size_t max,
                       struct as4_blob *out, struct as4_diag *d)
{
	struct as4_blob in;
	struct as4_sink s;
	as4_blob_borrow(&in, p, n);
	as4_sink_init(&s, NULL, max, max);
	as4_diag_init(d);
	as4_blob_init(out);
	as4_err err = as4_gzip_compress_with(g, &in, level, &s, d);
	if (err == AS4_OK) {
		err = as4_sink_finish(&s, out);
	}
	as4_sink_cleanup(&s);
	return err;
}

/*
 * A reused compressor gives the very bytes of a fresh one, whatever came before (other sizes,
 * levels, a failed call): a resend must sign the same digests as the first attempt.
 */
static void test_reused_deflater(void **state)
{
	(void)state;
	struct as4_deflater *g = as4_deflater_new();
	assert_non_null(g);
	static const struct {
		size_t n;
		int level;
	} runs[] = {{10240, 0}, {10240, 0}, {10240, 9}, {10240, 1}, {300, 6},
	            {70000, 6}, {10240, 6}, {0, 6},     {16122, 6}, {16123, 6}};
	for (size_t i = 0; i < AS4_ARRAY_LEN(runs); i++) {
		uint8_t *text = make_text(runs[i].n + 1, (uint32_t)(i % 3) + 1);
		struct as4_blob fresh;
		struct as4_blob reused;
		struct as4_blob back;
		struct as4_diag d;
		assert_int_equal(gz(text, runs[i].n, runs[i].level, &fresh, &d), AS4_OK);
		assert_int_equal(gz_with(g, text, runs[i].n, runs[i].level, BIG, &reused, &d),
		                 AS4_OK);
		assert_int_equal(reused.len, fresh.len);
		assert_memory_equal(reused.data, fresh.data, fresh.len);
		assert_int_equal(gunzip(reused.data, reused.len, 1000, BIG, &back, &d), AS4_OK);
		assert_int_equal(back.len, runs[i].n);
		as4_blob_cleanup(&back);
		as4_blob_cleanup(&reused);
		as4_blob_cleanup(&fresh);
		if (i == 4) {
			/* a call that fails half-way (the sink is full) leaves g usable */
			assert_int_equal(gz_with(g, text, runs[i].n, 6, 30, &reused, &d),
			                 AS4_E_LIMIT);
			as4_blob_cleanup(&reused);
		}
		free(text);
	}
	struct as4_blob out;
	struct as4_diag d;
	assert_int_equal(gz_with(g, "x", 1, 10, BIG, &out, &d), AS4_E_INVAL);
	assert_int_equal(gz_with(NULL, "x", 1, 6, BIG, &out, &d), AS4_E_INVAL);
	as4_deflater_free(g);
	as4_deflater_free(NULL);
}

static long max_rss_kb(void)
{
	struct rusage ru;
	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

static void test_large_mapped_payload(void **state)
{
	(void)state;
#ifdef UNDER_ASAN
	/* ASan's allocator quarantine keeps freed buffers resident: only the absolute bound holds.
	 */
	const size_t n = 64u * 1024 * 1024;
#else
	const size_t n = 96u * 1024 * 1024;
#endif
	const size_t chunk = 1u << 20;
	uint8_t *block = make_text(chunk, 12345);

	long before = max_rss_kb();
	struct as4_sink s;
	struct as4_blob plain;
	as4_sink_init(&s, tmp_dir(), chunk, (size_t)1 << 40);
	for (size_t off = 0; off < n; off += chunk) {
		block[0] = (uint8_t)(off >> 20); /* no two MB alike */
		assert_int_equal(as4_sink_write(&s, block, chunk), AS4_OK);
	}
	assert_int_equal(as4_sink_finish(&s, &plain), AS4_OK);
	assert_int_equal(plain.kind, AS4_BLOB_MAPPED);

	struct as4_blob z;
	struct as4_diag d;
	as4_sink_init(&s, tmp_dir(), chunk, (size_t)1 << 40);
	as4_diag_init(&d);
	assert_int_equal(as4_gzip_compress(&plain, 1, &s, &d), AS4_OK);
	assert_int_equal(as4_sink_finish(&s, &z), AS4_OK);
	assert_int_equal(z.kind, AS4_BLOB_MAPPED);

	struct as4_blob back;
	as4_sink_init(&s, tmp_dir(), chunk, n);
	as4_diag_init(&d);
	as4_err err = as4_gzip_decompress(&z, 1000, &s, &d);
	if (err != AS4_OK) {
		fail_msg("%s", d.text);
	}
	assert_int_equal(as4_sink_finish(&s, &back), AS4_OK);
	long grown_mb = (max_rss_kb() - before) / 1024;
	print_message("%zu MB gzipped to %zu MB and back, max RSS grew by %ld MB\n", n >> 20,
	              z.len >> 20, grown_mb);
	assert_true(grown_mb < 40);
#ifndef UNDER_ASAN
	assert_true((size_t)grown_mb < (n >> 20) / 4);
#endif

	assert_int_equal(back.len, n);
	for (size_t off = 0; off < n; off += chunk) {
		if (memcmp(back.data + off, plain.data + off, chunk) != 0) {
			fail_msg("MB %zu differs", off >> 20);
		}
		as4_blob_drop_pages(&back, off);
		as4_blob_drop_pages(&plain, off);
	}
	as4_blob_cleanup(&back);
	as4_blob_cleanup(&z);
	as4_blob_cleanup(&plain);
	as4_sink_cleanup(&s);
	free(block);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trip_levels),
	        cmocka_unit_test(test_window_fits_input),
	        cmocka_unit_test(test_empty_payload),
	        cmocka_unit_test(test_system_gzip_with_file_name),
	        cmocka_unit_test(test_optional_header_fields),
	        cmocka_unit_test(test_interop_payloads),
	        cmocka_unit_test(test_refusals),
	        cmocka_unit_test(test_caps),
	        cmocka_unit_test(test_compress_errors),
	        cmocka_unit_test(test_reused_deflater),
	        cmocka_unit_test(test_large_mapped_payload),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
