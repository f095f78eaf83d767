/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "as4/blob.h"
#include "as4/part.h"
#include "as4/str.h"

static char dir[256];

static void test_sink_memory_and_spill(void **state)
{
	(void)state;
	struct as4_sink s;
	struct as4_blob b;
	as4_sink_init(&s, dir, 16, 1000);
	assert_int_equal(as4_sink_write(&s, "0123456789", 10), AS4_OK);
	assert_int_equal(as4_sink_finish(&s, &b), AS4_OK);
	assert_int_equal(b.kind, AS4_BLOB_HEAP);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, "0123456789", 10);
	as4_blob_cleanup(&b);
	assert_int_equal(b.kind, AS4_BLOB_EMPTY);

	/* past the threshold the bytes move into an unnamed spool file and come back mapped */
	as4_sink_init(&s, dir, 16, 1000);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(as4_sink_write(&s, "0123456789", 10), AS4_OK);
	}
	assert_int_equal(as4_sink_finish(&s, &b), AS4_OK);
	assert_int_equal(b.kind, AS4_BLOB_MAPPED);
	assert_int_equal(b.len, 100);
	assert_memory_equal(b.data + 90, "0123456789", 10);
	as4_blob_drop_pages(&b, b.len);
	assert_memory_equal(b.data + 90, "0123456789", 10); /* pages come back from the file */
	as4_blob_cleanup(&b);

	/* the cap is hard and sticky */
	as4_sink_init(&s, dir, 16, 25);
	assert_int_equal(as4_sink_write(&s, "0123456789", 10), AS4_OK);
	assert_int_equal(as4_sink_write(&s, "0123456789", 10), AS4_OK);
	assert_int_equal(as4_sink_write(&s, "0123456789", 10), AS4_E_LIMIT);
	assert_int_equal(as4_sink_write(&s, "x", 1), AS4_E_LIMIT);
	assert_int_equal(as4_sink_finish(&s, &b), AS4_E_LIMIT);
	as4_sink_cleanup(&s);

	/* an unusable spool directory surfaces as an I/O error */
	as4_sink_init(&s, "/nonexistent/spool", 4, 1000);
	assert_int_not_equal(as4_sink_write(&s, "0123456789", 10), AS4_OK);
	as4_sink_cleanup(&s);
}

/* RssFile of this process in KiB (file pages mapped and resident), or -1. */
static long rss_file_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	long kb = -1;
	char line[256];
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "RssFile:", 8) == 0) {
			kb = strtol(line + 8, NULL, 10);
		}
	}
	if (f != NULL) {
		fclose(f);
	}
	return kb;
}

/*
 * A range borrowed from a mapping stays file-backed: a reader can release the whole pages it
 * passed, also when the range is not page-aligned; heap memory is never released.
 */
static void test_borrow_range_drop(void **state)
{
	(void)state;
	long page = sysconf(_SC_PAGESIZE);
	size_t len = 1024 * (size_t)page;
	char path[512];
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s/mapped", dir), AS4_OK);
	char *text = malloc(len);
	assert_non_null(text);
	for (size_t i = 0; i < len; i++) {
		text[i] = (char)('a' + i % 26);
	}
	assert_int_equal(as4_file_write_atomic(path, text, len, 0600), AS4_OK);
	struct as4_blob m, r, h;
	assert_int_equal(as4_blob_map_path(&m, path), AS4_OK);
	assert_true(m.file_backed);
	size_t off = 100; /* not page-aligned */
	as4_blob_borrow_range(&r, &m, off, len - 2 * off);
	assert_true(r.file_backed);
	assert_int_equal(r.kind, AS4_BLOB_BORROWED);
	assert_ptr_equal(r.data, m.data + off);
	volatile char sum = 0;
	for (size_t i = 0; i < r.len; i++) {
		sum = (char)(sum + (char)r.data[i]); /* fault every page in */
	}
	(void)sum;
	long before = rss_file_kb();
	as4_blob_drop_pages(&r, r.len);
	long after = rss_file_kb();
	/* the 1022 whole pages inside the range left the resident set (partial ones may stay) */
	assert_true(before > 0 && after >= 0);
	assert_true(before - after >= 1000 * page / 1024);
	assert_memory_equal(r.data, text + off, r.len); /* and come back from the file */
	/* heap and plain borrowed memory: no-op, bytes intact */
	assert_int_equal(as4_blob_copy(&h, text, len), AS4_OK);
	assert_false(h.file_backed);
	as4_blob_borrow_range(&r, &h, 0, len);
	assert_false(r.file_backed);
	as4_blob_drop_pages(&r, len);
	as4_blob_drop_pages(&h, len);
	assert_memory_equal(h.data, text, len);
	as4_blob_borrow_range(&r, &m, 0, 0);
	assert_false(r.file_backed);
	as4_blob_cleanup(&h);
	as4_blob_cleanup(&m);
	free(text);
}

static void test_files(void **state)
{
	(void)state;
	char path[512];
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s/a/b/c", dir), AS4_OK);
	assert_int_equal(as4_mkdir_p(path, 0700), AS4_OK);
	assert_int_equal(as4_mkdir_p(path, 0700), AS4_OK);
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s/a/b/c/file", dir), AS4_OK);
	assert_int_equal(as4_file_write_atomic(path, "payload", 7, 0600), AS4_OK);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	uint8_t *data = NULL;
	size_t len = 0;
	assert_int_equal(as4_file_read(path, 100, &data, &len), AS4_OK);
	assert_int_equal(len, 7);
	assert_memory_equal(data, "payload", 7);
	free(data);
	assert_int_equal(as4_file_read(path, 3, &data, &len), AS4_E_LIMIT);
	struct as4_blob b;
	assert_int_equal(as4_blob_map_path(&b, path), AS4_OK);
	assert_int_equal(b.kind, AS4_BLOB_MAPPED);
	assert_memory_equal(b.data, "payload", 7);
	as4_blob_cleanup(&b);
	assert_int_equal(as4_str_fmt(path, sizeof(path), "%s/missing", dir), AS4_OK);
	assert_int_equal(as4_blob_map_path(&b, path), AS4_E_NOTFOUND);
	assert_int_equal(as4_file_read(path, 3, &data, &len), AS4_E_NOTFOUND);
}

static void test_media_types(void **state)
{
	(void)state;
	char mt[64];
	assert_int_equal(as4_media_type(" Application/XML ; charset=UTF-8", mt, sizeof(mt)),
	                 AS4_OK);
	assert_string_equal(mt, "application/xml");
	assert_true(as4_media_type_is_xml("text/xml"));
	assert_true(as4_media_type_is_xml("application/fhir+xml; fhirVersion=4.0"));
	assert_true(as4_media_type_is_xml("Application/Soap+XML"));
	assert_false(as4_media_type_is_xml("application/gzip"));
	assert_false(as4_media_type_is_xml("application/fhir+json"));
	assert_false(as4_media_type_is_xml(NULL));
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/as4-blob-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sink_memory_and_spill),
	        cmocka_unit_test(test_files),
	        cmocka_unit_test(test_borrow_range_drop),
	        cmocka_unit_test(test_media_types),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
