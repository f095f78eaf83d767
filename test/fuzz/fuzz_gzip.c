/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: gzip (ap/ebms3/gzip.c). Every input is gunzipped under small caps; what
 * decompresses is compressed again and must come back unchanged, and the raw input itself
 * must survive compress + decompress. Anything else aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "as4/gzip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Compress p at level, decompress, compare; abort on any difference. */
static void round_trip(const uint8_t *p, size_t n, int level)
{
	struct as4_blob in;
	struct as4_blob z;
	struct as4_blob back;
	struct as4_sink s;
	struct as4_diag d;
	as4_blob_borrow(&in, p, n);
	as4_sink_init(&s, NULL, 1u << 24, 1u << 24);
	as4_diag_init(&d);
	if (as4_gzip_compress(&in, level, &s, &d) != AS4_OK || as4_sink_finish(&s, &z) != AS4_OK) {
		abort();
	}
	as4_sink_cleanup(&s);
	as4_sink_init(&s, NULL, 1u << 24, n);
	as4_diag_init(&d);
	if (as4_gzip_decompress(&z, 0, &s, &d) != AS4_OK || as4_sink_finish(&s, &back) != AS4_OK) {
		abort();
	}
	if (back.len != n || (n > 0 && memcmp(back.data, p, n) != 0)) {
		abort();
	}
	as4_sink_cleanup(&s);
	as4_blob_cleanup(&back);
	as4_blob_cleanup(&z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct as4_blob in;
	struct as4_blob out;
	struct as4_sink s;
	struct as4_diag d;
	as4_blob_borrow(&in, data, size);
	as4_sink_init(&s, NULL, 1u << 20, 1u << 20);
	as4_diag_init(&d);
	as4_err err = as4_gzip_decompress(&in, 200, &s, &d);
	if (err == AS4_OK) {
		if (as4_sink_finish(&s, &out) != AS4_OK) {
			abort();
		}
		round_trip(out.data, out.len, (int)(size % 10));
		as4_blob_cleanup(&out);
	} else if ((err != AS4_E_DECOMPRESS && err != AS4_E_NOMEM) || d.err != err) {
		abort();
	}
	as4_sink_cleanup(&s);
	round_trip(data, size, size > 0 ? data[0] % 10 : 6);
	return 0;
}
