/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AS4 payload compression (AS4 profile §3.1: CompressionType application/gzip, RFC 1952)
 * with zlib, in 64 KiB chunks so neither side of a 1 GB payload is held in memory: input pages
 * of a mapped blob are released behind the stream, output goes through a sink.
 */
#include "as4/gzip.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

/* Bytes handed to zlib per call, in and out. */
#define CHUNK (64u * 1024)
/* Mapped input pages are released behind the stream in steps of this size. */
#define DROP_STEP (8u * 1024 * 1024)
/* windowBits for deflateInit2/inflateInit2: 15 (32 KiB window) + 16 = gzip wrapper only. */
#define GZIP_WBITS (15 + 16)

static void drop_behind(const struct as4_blob *in, size_t consumed, size_t *dropped)
{
	if (in->file_backed && consumed >= *dropped + DROP_STEP) {
		as4_blob_drop_pages(in, consumed);
		*dropped = consumed;
	}
}

/* The next input slice for zlib (avail_in is an unsigned int, so never the whole blob). */
static void feed(z_stream *z, const struct as4_blob *in, size_t *off)
{
	size_t n = in->len - *off;
	if (n > CHUNK) {
		n = CHUNK;
	}
	/* zlib's next_in is not const-qualified (unless ZLIB_CONST); it does not write to it. */
	z->next_in = n > 0 ? (Bytef *)(uintptr_t)(in->data + *off) : Z_NULL;
	z->avail_in = (uInt)n;
	*off += n;
}

/* zlib's MIN_LOOKAHEAD: a match may reach back at most the window size less this. */
#define ZLIB_LOOKAHEAD 262u

/*
 * windowBits and memLevel for deflating len bytes. zlib's defaults (a 32 KiB window, a hash
 * of 32 K chains: 256 KiB of state allocated and cleared per stream) cost more than deflating
 * a 10 KB payload (85 -> 50 us here). A window covering the whole input loses no match
 * distance, the smaller hash costs next to nothing in ratio on such inputs, and the output is
 * standard gzip either way (RFC 1952 carries no window size).
 */
static void deflate_shape(size_t len, int *wbits, int *mem_level)
{
	int w = 9; /* zlib's smallest */
	while (w < 15 && ((size_t)1 << w) < len + ZLIB_LOOKAHEAD) {
		w++;
	}
	*wbits = w + 16; /* + 16: the gzip wrapper */
	*mem_level = w < 15 ? 6 : 8;
}

/*
 * A deflate stream kept between payloads. deflateReset() only clears the hash; a new stream
 * allocates and clears all of zlib's state. The shape (window, memLevel) and the level are set
 * at init, so a payload needing others re-initialises the stream.
 */
struct as4_deflater {
	z_stream z;
	bool live; /* z initialised */
	int wbits;
	int mem_level;
	int level;
	uint8_t *buf; /* CHUNK bytes of output */
};

struct as4_deflater *as4_deflater_new(void)
{
	struct as4_deflater *g = calloc(1, sizeof(*g));
	if (g != NULL) {
		g->buf = malloc(CHUNK);
		if (g->buf == NULL) {
			free(g);
			g = NULL;
		}
	}
	return g;
}

void as4_deflater_free(struct as4_deflater *g)
{
	if (g == NULL) {
		return;
	}
	if (g->live) {
		deflateEnd(&g->z);
	}
	free(g->buf);
	free(g);
}

/* Make g's stream ready for a payload of len bytes at level (1..9). A zlib result code. */
static int deflater_ready(struct as4_deflater *g, size_t len, int level)
{
	int wbits = GZIP_WBITS;
	int mem_level = 8;
	deflate_shape(len, &wbits, &mem_level);
	/* another level re-initialises too: deflateParams() semantics vary across zlib versions */
	if (g->live && g->wbits == wbits && g->mem_level == mem_level && g->level == level &&
	    deflateReset(&g->z) == Z_OK) {
		return Z_OK;
	}
	if (g->live) {
		deflateEnd(&g->z);
		g->live = false;
	}
	memset(&g->z, 0, sizeof(g->z));
	int zr = deflateInit2(&g->z, level, Z_DEFLATED, wbits, mem_level, Z_DEFAULT_STRATEGY);
	if (zr == Z_OK) {
		g->live = true;
		g->wbits = wbits;
		g->mem_level = mem_level;
		g->level = level;
	}
	return zr;
}

as4_err as4_gzip_compress_with(struct as4_deflater *g, const struct as4_blob *in, int level,
                               struct as4_sink *out, struct as4_diag *d)
{
	if (g == NULL || in == NULL || out == NULL) {
		return as4_diag_set(d, AS4_E_INVAL, "as4_gzip_compress: missing argument");
	}
	if (level < 0 || level > 9) {
		return as4_diag_set(d, AS4_E_INVAL, "gzip level %d (1 to 9, 0 = default)", level);
	}
	int zr = deflater_ready(g, in->len, level == 0 ? 6 : level);
	if (zr != Z_OK) {
		return as4_diag_set(d, zr == Z_MEM_ERROR ? AS4_E_NOMEM : AS4_E_INTERNAL,
		                    "gzip: deflateInit2 failed (%d)", zr);
	}
	z_stream *z = &g->z;
	uint8_t *buf = g->buf;
	as4_err err = AS4_OK;
	size_t off = 0;
	size_t dropped = 0;
	int flush = Z_NO_FLUSH;
	do {
		if (z->avail_in == 0 && flush == Z_NO_FLUSH) {
			feed(z, in, &off);
			flush = off == in->len ? Z_FINISH : Z_NO_FLUSH;
		}
		z->next_out = buf;
		z->avail_out = CHUNK;
		zr = deflate(z, flush);
		if (zr == Z_STREAM_ERROR) {
			err = as4_diag_set(d, AS4_E_INTERNAL, "gzip: deflate failed");
			break;
		}
		size_t have = CHUNK - z->avail_out;
		if (have > 0) {
			err = as4_sink_write(out, buf, have);
			if (err != AS4_OK) {
				err = as4_diag_set(d, err, "gzip: cannot write compressed data: %s",
				                   as4_strerror(err));
				break;
			}
		}
		drop_behind(in, off, &dropped);
	} while (zr != Z_STREAM_END);
	/* the input is borrowed: the stream must not keep a pointer into it */
	z->next_in = Z_NULL;
	z->avail_in = 0;
	if (err != AS4_OK) {
		/* a stream left mid-way is not reused */
		deflateEnd(z);
		g->live = false;
	}
	return err;
}

as4_err as4_gzip_compress(const struct as4_blob *in, int level, struct as4_sink *out,
                          struct as4_diag *d)
{
	if (in == NULL || out == NULL) {
		return as4_diag_set(d, AS4_E_INVAL, "as4_gzip_compress: missing argument");
	}
	struct as4_deflater *g = as4_deflater_new();
	if (g == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory for gzip");
	}
	as4_err err = as4_gzip_compress_with(g, in, level, out, d);
	as4_deflater_free(g);
	return err;
}

as4_err as4_gzip_decompress(const struct as4_blob *in, uint32_t max_ratio, struct as4_sink *out,
                            struct as4_diag *d)
{
	if (in == NULL || out == NULL) {
		return as4_diag_set(d, AS4_E_INVAL, "as4_gzip_decompress: missing argument");
	}
	/* The output cap: what the sink may still take. */
	size_t room = out->max > out->len ? out->max - out->len : 0;
	/* The ratio cap as an absolute size (none when it does not fit in 64 bits). */
	uint64_t ratio_cap = UINT64_MAX;
	if (max_ratio > 0 && __builtin_mul_overflow((uint64_t)in->len, max_ratio, &ratio_cap)) {
		ratio_cap = UINT64_MAX;
	}
	uint8_t *buf = malloc(CHUNK);
	if (buf == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory for gunzip");
	}
	z_stream z = {0};
	int zr = inflateInit2(&z, GZIP_WBITS);
	if (zr != Z_OK) {
		free(buf);
		return as4_diag_set(d, zr == Z_MEM_ERROR ? AS4_E_NOMEM : AS4_E_INTERNAL,
		                    "gunzip: inflateInit2 failed (%d)", zr);
	}
	as4_err err = AS4_OK;
	size_t off = 0;
	size_t dropped = 0;
	uint64_t total_in = 0;
	uint64_t total_out = 0;
	for (;;) {
		if (z.avail_in == 0) {
			if (off == in->len) {
				err = as4_diag_set(d, AS4_E_DECOMPRESS,
				                   "gzip data truncated at byte %zu (the stream is "
				                   "incomplete)",
				                   in->len);
				break;
			}
			feed(&z, in, &off);
		}
		uInt before_in = z.avail_in;
		z.next_out = buf;
		z.avail_out = CHUNK;
		zr = inflate(&z, Z_NO_FLUSH);
		total_in += before_in - z.avail_in;
		if (zr == Z_MEM_ERROR) {
			err = as4_diag_set(d, AS4_E_NOMEM, "out of memory in gunzip");
			break;
		}
		if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT || zr == Z_STREAM_ERROR) {
			err = as4_diag_set(d, AS4_E_DECOMPRESS,
			                   "gzip data invalid at byte %llu: %s",
			                   (unsigned long long)total_in,
			                   z.msg != NULL ? z.msg : "unexpected zlib state");
			break;
		}
		size_t have = CHUNK - z.avail_out;
		if (zr == Z_BUF_ERROR && have == 0 && z.avail_in > 0) {
			err = as4_diag_set(d, AS4_E_INTERNAL, "gunzip: zlib made no progress");
			break;
		}
		total_out += have;
		if (total_out > room) {
			err = as4_diag_set(d, AS4_E_DECOMPRESS,
			                   "decompressed size exceeds %zu bytes", room);
			break;
		}
		if (total_out > ratio_cap) {
			err = as4_diag_set(d, AS4_E_DECOMPRESS,
			                   "decompression ratio exceeds %u:1 (%zu compressed bytes "
			                   "give more than %llu)",
			                   max_ratio, in->len, (unsigned long long)ratio_cap);
			break;
		}
		if (have > 0) {
			err = as4_sink_write(out, buf, have);
			if (err != AS4_OK) {
				err = as4_diag_set(d, err,
				                   "gunzip: cannot write decompressed data: %s",
				                   as4_strerror(err));
				break;
			}
		}
		drop_behind(in, off, &dropped);
		if (zr == Z_STREAM_END) {
			/* One member only: anything after its trailer is refused. */
			if (total_in < in->len) {
				err = as4_diag_set(
				        d, AS4_E_DECOMPRESS,
				        "%llu bytes of trailing data after the gzip member "
				        "(ends at byte %llu)",
				        (unsigned long long)(in->len - total_in),
				        (unsigned long long)total_in);
			}
			break;
		}
	}
	inflateEnd(&z);
	free(buf);
	return err;
}
