/* SPDX-License-Identifier: Apache-2.0 */
#include "as4/blob.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "as4/str.h"

/* Pages are released behind a sequential reader in steps of this size. */
#define DROP_STEP (8u * 1024 * 1024)

static as4_err errno_err(int e)
{
	if (e == ENOSPC || e == EDQUOT) {
		return AS4_E_SPACE;
	}
	if (e == ENOENT) {
		return AS4_E_NOTFOUND;
	}
	if (e == ENOMEM) {
		return AS4_E_NOMEM;
	}
	return AS4_E_IO;
}

void as4_blob_init(struct as4_blob *b)
{
	b->data = NULL;
	b->len = 0;
	b->kind = AS4_BLOB_EMPTY;
	b->fd = -1;
	b->file_backed = false;
}

void as4_blob_borrow(struct as4_blob *b, const void *p, size_t n)
{
	as4_blob_init(b);
	if (n > 0) {
		b->data = p;
		b->len = n;
		b->kind = AS4_BLOB_BORROWED;
	}
}

void as4_blob_borrow_range(struct as4_blob *b, const struct as4_blob *from, size_t off, size_t n)
{
	as4_blob_borrow(b, from->data + off, n);
	b->file_backed = n > 0 && from->file_backed;
}

as4_err as4_blob_copy(struct as4_blob *b, const void *p, size_t n)
{
	as4_blob_init(b);
	if (n == 0) {
		return AS4_OK;
	}
	uint8_t *q = malloc(n);
	if (q == NULL) {
		return AS4_E_NOMEM;
	}
	memcpy(q, p, n);
	b->data = q;
	b->len = n;
	b->kind = AS4_BLOB_HEAP;
	return AS4_OK;
}

void as4_blob_take_buf(struct as4_blob *b, struct as4_buf *buf)
{
	as4_blob_init(b);
	size_t n;
	uint8_t *p = as4_buf_take(buf, &n);
	if (p == NULL || n == 0) {
		free(p);
		return;
	}
	b->data = p;
	b->len = n;
	b->kind = AS4_BLOB_HEAP;
}

/* Map fd read-only into b (which takes the fd). */
static as4_err map_fd(struct as4_blob *b, int fd, size_t len)
{
	as4_blob_init(b);
	if (len == 0) {
		close(fd);
		return AS4_OK;
	}
	void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		int e = errno;
		close(fd);
		return errno_err(e);
	}
	(void)madvise(m, len, MADV_SEQUENTIAL);
	b->data = m;
	b->len = len;
	b->kind = AS4_BLOB_MAPPED;
	b->fd = fd;
	b->file_backed = true;
	return AS4_OK;
}

as4_err as4_blob_map_path(struct as4_blob *b, const char *path)
{
	as4_blob_init(b);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return errno_err(errno);
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return errno_err(e);
	}
	return map_fd(b, fd, (size_t)st.st_size);
}

void as4_blob_move(struct as4_blob *dst, struct as4_blob *src)
{
	as4_blob_cleanup(dst);
	*dst = *src;
	as4_blob_init(src);
}

void as4_blob_drop_pages(const struct as4_blob *b, size_t upto)
{
	if (!b->file_backed || b->data == NULL) {
		return;
	}
	/* only whole pages inside [data, data + upto): a borrowed range need not be aligned */
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)b->data;
	uintptr_t end = start + (upto > b->len ? b->len : upto);
	start = (start + page - 1) & ~(page - 1);
	end &= ~(page - 1);
	if (end > start) {
		(void)madvise((void *)start, end - start, MADV_DONTNEED);
	}
}

void as4_blob_cleanup(struct as4_blob *b)
{
	if (b == NULL) {
		return;
	}
	switch (b->kind) {
	case AS4_BLOB_HEAP:
		free((void *)(uintptr_t)b->data);
		break;
	case AS4_BLOB_MAPPED:
		munmap((void *)(uintptr_t)b->data, b->len);
		break;
	default:
		break;
	}
	if (b->fd >= 0) {
		close(b->fd);
	}
	as4_blob_init(b);
}

static as4_err write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w < 0) {
			return errno_err(errno);
		}
		p += w;
		n -= (size_t)w;
	}
	return AS4_OK;
}

as4_err as4_blob_write_fd(const struct as4_blob *b, int fd)
{
	size_t off = 0;
	while (off < b->len) {
		size_t n = b->len - off;
		if (n > DROP_STEP) {
			n = DROP_STEP;
		}
		as4_err err = write_all(fd, b->data + off, n);
		if (err != AS4_OK) {
			return err;
		}
		off += n;
		as4_blob_drop_pages(b, off);
	}
	return AS4_OK;
}

void as4_sink_init(struct as4_sink *s, const char *spool_dir, size_t threshold, size_t max)
{
	as4_buf_init(&s->mem, max);
	s->fd = -1;
	s->len = 0;
	s->max = max;
	s->threshold = threshold;
	s->spool_dir = spool_dir;
	s->err = AS4_OK;
}

static as4_err sink_spill(struct as4_sink *s)
{
	int fd = open(s->spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		return errno_err(errno);
	}
	as4_err err = write_all(fd, s->mem.data, s->mem.len);
	if (err != AS4_OK) {
		close(fd);
		return err;
	}
	as4_buf_cleanup(&s->mem);
	s->fd = fd;
	return AS4_OK;
}

as4_err as4_sink_write(struct as4_sink *s, const void *p, size_t n)
{
	if (s->err != AS4_OK) {
		return s->err;
	}
	size_t total;
	if (!as4_add_size(s->len, n, &total) || total > s->max) {
		s->err = AS4_E_LIMIT;
		return s->err;
	}
	if (s->fd < 0 && s->spool_dir != NULL && total > s->threshold) {
		s->err = sink_spill(s);
		if (s->err != AS4_OK) {
			return s->err;
		}
	}
	if (s->fd >= 0) {
		s->err = write_all(s->fd, p, n);
	} else {
		s->err = as4_buf_append(&s->mem, p, n);
	}
	if (s->err == AS4_OK) {
		s->len = total;
	}
	return s->err;
}

as4_err as4_sink_finish(struct as4_sink *s, struct as4_blob *out)
{
	as4_blob_init(out);
	as4_err err = s->err;
	if (err != AS4_OK) {
		as4_sink_cleanup(s);
		return err;
	}
	if (s->fd >= 0) {
		int fd = s->fd;
		s->fd = -1;
		err = map_fd(out, fd, s->len);
	} else {
		as4_blob_take_buf(out, &s->mem);
	}
	s->len = 0;
	return err;
}

void as4_sink_cleanup(struct as4_sink *s)
{
	if (s == NULL) {
		return;
	}
	as4_buf_cleanup(&s->mem);
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	s->len = 0;
}

static as4_err fsync_dir_of(const char *path)
{
	char *copy = as4_str_dup(path);
	if (copy == NULL) {
		return AS4_E_NOMEM;
	}
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0) {
		return errno_err(errno);
	}
	as4_err err = fsync(fd) == 0 ? AS4_OK : errno_err(errno);
	close(fd);
	return err;
}

as4_err as4_file_write_atomic(const char *path, const void *p, size_t n, unsigned mode)
{
	char tmp[4096];
	char rnd[37];
	as4_err err = as4_uuid_v4(rnd);
	if (err != AS4_OK) {
		return err;
	}
	if (as4_str_fmt(tmp, sizeof(tmp), "%s.tmp-%s", path, rnd) != AS4_OK) {
		return AS4_E_LIMIT;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
	if (fd < 0) {
		return errno_err(errno);
	}
	err = write_all(fd, p, n);
	if (err == AS4_OK && fsync(fd) != 0) {
		err = errno_err(errno);
	}
	if (close(fd) != 0 && err == AS4_OK) {
		err = errno_err(errno);
	}
	if (err == AS4_OK && rename(tmp, path) != 0) {
		err = errno_err(errno);
	}
	if (err != AS4_OK) {
		unlink(tmp);
		return err;
	}
	return fsync_dir_of(path);
}

as4_err as4_file_read(const char *path, size_t max, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return errno_err(errno);
	}
	struct as4_buf b;
	as4_buf_init(&b, max);
	as4_err err = AS4_OK;
	for (;;) {
		uint8_t chunk[16384];
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0) {
			err = errno_err(errno);
			break;
		}
		if (r == 0) {
			break;
		}
		err = as4_buf_append(&b, chunk, (size_t)r);
		if (err != AS4_OK) {
			break;
		}
	}
	close(fd);
	if (err != AS4_OK) {
		as4_buf_cleanup(&b);
		return err;
	}
	if (b.data == NULL) {
		*out = calloc(1, 1);
		if (*out == NULL) {
			return AS4_E_NOMEM;
		}
		return AS4_OK;
	}
	*out = as4_buf_take(&b, len);
	return AS4_OK;
}

as4_err as4_mkdir_p(const char *dir, unsigned mode)
{
	char path[4096];
	if (as4_str_copy(path, sizeof(path), dir) != AS4_OK) {
		return AS4_E_LIMIT;
	}
	for (char *p = path + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(path, (mode_t)mode) != 0 && errno != EEXIST) {
				return errno_err(errno);
			}
			*p = saved;
			if (saved == '\0') {
				break;
			}
		}
	}
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		return AS4_E_IO;
	}
	return AS4_OK;
}
