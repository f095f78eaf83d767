/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AS4 compression (AS4 §3.1): gzip of each payload part, in chunks through sinks so large
 * payloads stay in bounded memory. Decompression is untrusted input: capped in absolute size
 * (the sink's max) and in ratio.
 */
#pragma once

#include <stdint.h>

#include "as4/blob.h"
#include "as4/compiler.h"
#include "as4/diag.h"
#include "as4/err.h"

/*
 * gzip in (one RFC 1952 member: no file name, mtime 0) into out at level 1..9 (0 = default 6),
 * 64 KiB at a time, releasing a mapped input's pages behind the stream.
 * Errors: AS4_E_INVAL (level outside 0..9, NULL argument), AS4_E_NOMEM, the sink's error
 * (AS4_E_LIMIT past out->max, AS4_E_IO, AS4_E_SPACE), each with a diagnostic.
 * Thread safety: none needed (no shared state); in and out have one owner.
 */
AS4_MUST_CHECK as4_err as4_gzip_compress(const struct as4_blob *in, int level, struct as4_sink *out,
                                         struct as4_diag *d);

/*
 * A gzip compressor whose zlib state is kept between payloads: as4_gzip_compress() sets up
 * and tears down that state (allocations and a cleared hash table) for every call, which for
 * a small payload costs as much as compressing it. One per thread that compresses many.
 */
struct as4_deflater;

/* A new compressor; NULL when out of memory. Free with as4_deflater_free(). */
struct as4_deflater *as4_deflater_new(void);

/* Free g and its zlib state. NULL ok. */
void as4_deflater_free(struct as4_deflater *g);

/*
 * as4_gzip_compress() with g's state, reset for this payload (re-initialised when the payload
 * needs another window size). Same arguments, output and errors; AS4_E_INVAL also for a NULL
 * g. g keeps no pointer into in or out after the call.
 * Thread safety: g has one user at a time.
 */
AS4_MUST_CHECK as4_err as4_gzip_compress_with(struct as4_deflater *g, const struct as4_blob *in,
                                              int level, struct as4_sink *out, struct as4_diag *d);

/*
 * Gunzip in into out. Requires a gzip header (not raw zlib or deflate), accepts one member
 * (trailing bytes after it, a second member included, are an error). The optional header
 * fields (FEXTRA, FNAME, FCOMMENT, FHCRC) are accepted; CRC-32 and ISIZE are checked.
 * Caps: the output may not exceed what out can still take (out->max - out->len), nor
 * in->len * max_ratio (max_ratio 0 = no ratio cap). Streams 64 KiB at a time, releasing a
 * mapped input's pages behind it.
 * Errors: AS4_E_DECOMPRESS (bad data, CRC/length mismatch, truncated, trailing data, output
 * over a cap), with a diagnostic giving the reason and the byte offset ("gzip data invalid at
 * byte 1234: invalid block type", "decompressed size exceeds 209715200 bytes");
 * AS4_E_NOMEM; AS4_E_IO/AS4_E_SPACE from the sink; AS4_E_INVAL (NULL argument). On failure
 * out holds a prefix of the output; the caller discards it (as4_sink_cleanup()).
 */
AS4_MUST_CHECK as4_err as4_gzip_decompress(const struct as4_blob *in, uint32_t max_ratio,
                                           struct as4_sink *out, struct as4_diag *d);
