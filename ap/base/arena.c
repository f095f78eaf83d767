/* SPDX-License-Identifier: Apache-2.0 */
#include "as4/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as4/str.h"

struct chunk {
	struct chunk *next;
	size_t size; /* usable bytes after the header */
	size_t used;
	alignas(max_align_t) unsigned char mem[];
};

struct as4_arena {
	struct chunk *head;
	size_t chunk_size;
	size_t used;
};

struct as4_arena *as4_arena_new(size_t chunk)
{
	struct as4_arena *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		return NULL;
	}
	a->chunk_size = chunk ? chunk : 4096;
	return a;
}

void as4_arena_free(struct as4_arena *a)
{
	if (a == NULL) {
		return;
	}
	struct chunk *c = a->head;
	while (c != NULL) {
		struct chunk *next = c->next;
		free(c);
		c = next;
	}
	free(a);
}

void *as4_arena_alloc(struct as4_arena *a, size_t n)
{
	const size_t align = alignof(max_align_t);
	size_t rounded;
	if (!as4_add_size(n, align - 1, &rounded)) {
		return NULL;
	}
	rounded &= ~(align - 1);
	if (rounded == 0) {
		rounded = align;
	}
	struct chunk *c = a->head;
	if (c == NULL || c->size - c->used < rounded) {
		size_t size = rounded > a->chunk_size ? rounded : a->chunk_size;
		size_t total;
		if (!as4_add_size(sizeof(struct chunk), size, &total)) {
			return NULL;
		}
		struct chunk *nc = malloc(total);
		if (nc == NULL) {
			return NULL;
		}
		nc->size = size;
		nc->used = 0;
		/* a big one-off block goes behind the head so the head's free space stays usable */
		if (c != NULL && size > a->chunk_size) {
			nc->next = c->next;
			c->next = nc;
		} else {
			nc->next = c;
			a->head = nc;
		}
		c = nc;
	}
	void *p = c->mem + c->used;
	c->used += rounded;
	a->used += rounded;
	memset(p, 0, n);
	return p;
}

void *as4_arena_calloc(struct as4_arena *a, size_t count, size_t size)
{
	size_t n;
	if (!as4_mul_size(count, size, &n)) {
		return NULL;
	}
	return as4_arena_alloc(a, n);
}

char *as4_arena_strndup(struct as4_arena *a, const char *s, size_t n)
{
	size_t total;
	if (!as4_add_size(n, 1, &total)) {
		return NULL;
	}
	char *p = as4_arena_alloc(a, total);
	if (p == NULL) {
		return NULL;
	}
	if (n > 0) {
		memcpy(p, s, n);
	}
	p[n] = '\0';
	return p;
}

char *as4_arena_strdup(struct as4_arena *a, const char *s)
{
	if (s == NULL) {
		return NULL;
	}
	return as4_arena_strndup(a, s, strlen(s));
}

void *as4_arena_memdup(struct as4_arena *a, const void *p, size_t n)
{
	void *q = as4_arena_alloc(a, n);
	if (q != NULL && n > 0) {
		memcpy(q, p, n);
	}
	return q;
}

char *as4_arena_sprintf(struct as4_arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		return NULL;
	}
	char *p = as4_arena_alloc(a, (size_t)n + 1);
	if (p == NULL) {
		return NULL;
	}
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

size_t as4_arena_used(const struct as4_arena *a)
{
	return a->used;
}
