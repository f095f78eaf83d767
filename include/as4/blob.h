/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blobs and sinks: how payload bytes move through the layers in bounded memory.
 *
 * A blob is a read-only byte range that is either borrowed (someone else owns it), a heap block
 * it owns, or a read-only mapping of an anonymous spool file it owns. Small payloads live on
 * the heap; anything above the spool threshold is written through a sink into an unnamed file
 * (O_TMPFILE) in a spool directory on the store's file system and mapped. Code that walks a
 * large mapped blob sequentially calls as4_blob_drop_pages() behind itself so the resident set
 * stays bounded; the pages come back from the file if touched again.
 *
 * A sink collects output (MIME parsing, base64 decoding, decryption, gunzip, HTTP uploads) in a
 * heap buffer until it passes the threshold, then moves to a spool file. It enforces a hard
 * maximum (AS4_E_LIMIT) so no producer can exceed the configured caps.
 * Neither type is thread-safe; each has one owner at a time.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "as4/buf.h"
#include "as4/compiler.h"
#include "as4/err.h"

enum as4_blob_kind {
	AS4_BLOB_EMPTY = 0, /* no bytes */
	AS4_BLOB_BORROWED,  /* data owned elsewhere; must outlive the blob */
	AS4_BLOB_HEAP,      /* data is a heap block owned by the blob */
	AS4_BLOB_MAPPED,    /* data is a read-only mapping of fd, owned by the blob */
};

struct as4_blob {
	const uint8_t *data;     /* the bytes (NULL when len == 0) */
	size_t len;              /* number of bytes */
	enum as4_blob_kind kind; /* who owns data */
	int fd;                  /* AS4_BLOB_MAPPED: the spool file (unnamed), else -1 */
	/*
	 * data lies in a read-only file mapping: its own (AS4_BLOB_MAPPED) or one it borrows from
	 * (as4_blob_borrow_range()), so as4_blob_drop_pages() may release its pages.
	 */
	bool file_backed;
};

/* An empty blob ({NULL, 0, AS4_BLOB_EMPTY, -1}). */
void as4_blob_init(struct as4_blob *b);

/* Point b at n bytes owned by someone else (they must outlive b). */
void as4_blob_borrow(struct as4_blob *b, const void *p, size_t n);

/*
 * Point b at bytes [off, off + n) of from (which must outlive b; off + n <= from->len). A range
 * of a file mapping stays file-backed, so a sequential reader of b can release the pages it
 * has passed (as4_blob_drop_pages()) and a 1 GB part is never resident as a whole.
 */
void as4_blob_borrow_range(struct as4_blob *b, const struct as4_blob *from, size_t off, size_t n);

/* Heap copy of n bytes. AS4_E_NOMEM. */
AS4_MUST_CHECK as4_err as4_blob_copy(struct as4_blob *b, const void *p, size_t n);

/* Take over the contents of buf (buf is empty afterwards). */
void as4_blob_take_buf(struct as4_blob *b, struct as4_buf *buf);

/* Map an existing file read-only (e.g. a stored payload). AS4_E_IO, AS4_E_NOTFOUND. */
AS4_MUST_CHECK as4_err as4_blob_map_path(struct as4_blob *b, const char *path);

/* Move src into dst (dst is cleaned up first; src becomes empty). */
void as4_blob_move(struct as4_blob *dst, struct as4_blob *src);

/*
 * Hint that bytes [0, upto) of a file-backed blob (mapped, or a borrowed range of a mapping)
 * will not be needed soon: releases the whole pages among them from the resident set
 * (madvise MADV_DONTNEED; they come back from the file if touched again). No-op for heap and
 * other borrowed memory.
 */
void as4_blob_drop_pages(const struct as4_blob *b, size_t upto);

/* Release what b owns; b is empty afterwards. NULL ok. */
void as4_blob_cleanup(struct as4_blob *b);

/*
 * Write all bytes of b to fd (looping over short writes, dropping mapped pages as it goes).
 * AS4_E_IO, AS4_E_SPACE (ENOSPC/EDQUOT).
 */
AS4_MUST_CHECK as4_err as4_blob_write_fd(const struct as4_blob *b, int fd);

struct as4_sink {
	struct as4_buf mem;    /* heap part while below threshold */
	int fd;                /* spool file once spilled, else -1 */
	size_t len;            /* bytes written so far */
	size_t max;            /* hard cap (AS4_E_LIMIT beyond) */
	size_t threshold;      /* spill to a file above this many bytes */
	const char *spool_dir; /* borrowed; directory for unnamed spool files */
	as4_err err;           /* sticky error: once set, writes fail with it */
};

/*
 * Prepare a sink. spool_dir (borrowed, may be NULL = never spill: everything stays in memory up
 * to max) must be on a file system supporting O_TMPFILE.
 */
void as4_sink_init(struct as4_sink *s, const char *spool_dir, size_t threshold, size_t max);

/* Append n bytes. AS4_E_LIMIT past max, AS4_E_IO / AS4_E_SPACE on spool failure (sticky). */
AS4_MUST_CHECK as4_err as4_sink_write(struct as4_sink *s, const void *p, size_t n);

/*
 * Finish: move everything written into out (heap or mapped). The sink is empty afterwards and
 * may be cleaned up or reused after as4_sink_init(). Returns the sticky error, if any.
 */
AS4_MUST_CHECK as4_err as4_sink_finish(struct as4_sink *s, struct as4_blob *out);

/* Discard everything written. NULL ok. */
void as4_sink_cleanup(struct as4_sink *s);

/*
 * Write n bytes to path durably: a temporary file in the same directory, fsync, rename, fsync
 * of the directory. mode is the file mode (e.g. 0600). AS4_E_IO, AS4_E_SPACE.
 */
AS4_MUST_CHECK as4_err as4_file_write_atomic(const char *path, const void *p, size_t n,
                                             unsigned mode);

/*
 * Read a whole file into a heap buffer (NUL-terminated, caller frees) of at most max bytes.
 * AS4_E_NOTFOUND, AS4_E_IO, AS4_E_LIMIT.
 */
AS4_MUST_CHECK as4_err as4_file_read(const char *path, size_t max, uint8_t **out, size_t *len);

/* Create dir and its missing parents with mode. AS4_E_IO. */
AS4_MUST_CHECK as4_err as4_mkdir_p(const char *dir, unsigned mode);
