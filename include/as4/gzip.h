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

/* gzip in (RFC 1952 member) into out at level 1..9 (0 = default 6). AS4_E_NOMEM, sink errors. */
AS4_MUST_CHECK as4_err as4_gzip_compress(const struct as4_blob *in, int level, struct as4_sink *out,
                                         struct as4_diag *d);

/*
 * Gunzip in into out. Requires a gzip header (not raw zlib), accepts one member (trailing
 * bytes after it are an error). Errors: AS4_E_DECOMPRESS (bad data, CRC/length mismatch,
 * truncated, output over out->max, ratio over max_ratio; max_ratio 0 = no ratio cap), with a
 * diagnostic giving the reason and the byte offset.
 */
AS4_MUST_CHECK as4_err as4_gzip_decompress(const struct as4_blob *in, uint32_t max_ratio,
                                           struct as4_sink *out, struct as4_diag *d);
