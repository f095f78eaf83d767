/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Arenas: one per message (STYLE rule 9). Every string and struct decoded from a message lives
 * in its arena and is released at once by as4_arena_free(); there are no per-field frees.
 * Not thread-safe: an arena has one owner at a time.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "as4/compiler.h"

struct as4_arena;

/* New arena. chunk is the allocation granularity (0 = 4 KiB). NULL = out of memory. */
struct as4_arena *as4_arena_new(size_t chunk);

/* Release the arena and everything allocated in it. NULL ok. */
void as4_arena_free(struct as4_arena *a);

/* n zeroed bytes aligned for any type; NULL = out of memory (or n overflow). */
void *as4_arena_alloc(struct as4_arena *a, size_t n);

/* Zeroed array of count elements of size bytes; NULL on overflow or out of memory. */
void *as4_arena_calloc(struct as4_arena *a, size_t count, size_t size);

/* Copy of s (NULL s gives NULL). NULL also = out of memory; check s before calling. */
char *as4_arena_strdup(struct as4_arena *a, const char *s);

/* Copy of the n bytes at s plus a NUL; NULL = out of memory. */
char *as4_arena_strndup(struct as4_arena *a, const char *s, size_t n);

/* Copy of the n bytes at p (no terminator added); NULL = out of memory. */
void *as4_arena_memdup(struct as4_arena *a, const void *p, size_t n);

/* Formatted string in the arena; NULL = out of memory. */
AS4_PRINTF(2, 3) char *as4_arena_sprintf(struct as4_arena *a, const char *fmt, ...);

/* Bytes handed out so far (for limits and statistics). */
size_t as4_arena_used(const struct as4_arena *a);
