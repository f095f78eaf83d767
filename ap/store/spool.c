/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Spool files: payload, raw-message and receipt bytes, one file each, under
 * data_dir/spool/YYYYMMDD/<32 hex digits>. Names come from the CSPRNG, never from anything a
 * peer sent; one directory per day keeps directories small and makes a batch touch one
 * directory (one directory fsync per batch).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "as4/str.h"
#include "as4/time.h"
#include "store_int.h"

/* Bytes hashed and written per step (mapped pages are released behind it). */
#define CHUNK (1024u * 1024u)

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

bool store_spool_name_valid(const char *name)
{
	if (name == NULL || strlen(name) != SPOOL_NAME_LEN || name[8] != '/') {
		return false;
	}
	for (size_t i = 0; i < 8; i++) {
		if (name[i] < '0' || name[i] > '9') {
			return false;
		}
	}
	for (size_t i = 9; i < SPOOL_NAME_LEN; i++) {
		char c = name[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return false;
		}
	}
	return true;
}

bool store_spool_name_inline(const char *name)
{
	return store_spool_name_valid(name) &&
	       memcmp(name, SPOOL_INLINE_DAY "/", sizeof(SPOOL_INLINE_DAY)) == 0;
}

as4_err store_name_list_add(struct name_list *l, const char *name)
{
	if (l->n == l->cap) {
		size_t cap = l->cap == 0 ? 4 : l->cap * 2;
		char(*q)[SPOOL_NAME_CAP] = realloc(l->names, cap * sizeof(*q));
		if (q == NULL) {
			return AS4_E_NOMEM;
		}
		l->names = q;
		l->cap = cap;
	}
	if (as4_str_copy(l->names[l->n], SPOOL_NAME_CAP, name) != AS4_OK) {
		return AS4_E_CORRUPT;
	}
	l->n++;
	return AS4_OK;
}

void store_name_list_cleanup(struct name_list *l)
{
	free(l->names);
	l->names = NULL;
	l->n = l->cap = 0;
}

void store_spool_unlink(struct as4_store *st, const char *name)
{
	if (store_spool_name_valid(name) && unlinkat(st->spool_fd, name, 0) != 0) {
		/* best effort: a file left behind is found by as4_store_spool_gc() */
	}
}

/* Make sure today's directory exists; a new directory entry is made durable at once. */
static as4_err day_dir(struct as4_store *st, char day[9], struct as4_diag *d)
{
	time_t now = (time_t)(as4_time_now_ms() / 1000);
	struct tm tm;
	if (gmtime_r(&now, &tm) == NULL || strftime(day, 9, "%Y%m%d", &tm) != 8) {
		return as4_diag_set(d, AS4_E_INTERNAL, "store: clock out of range");
	}
	/* made (and synced) already today: skip the mkdirat of every write */
	uint32_t num = (uint32_t)((tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday);
	if (atomic_load(&st->day_made) == num) {
		return AS4_OK;
	}
	if (mkdirat(st->spool_fd, day, 0700) == 0) {
		if (st->opts.sync != AS4_STORE_SYNC_NONE && fsync(st->spool_fd) != 0) {
			return as4_diag_set(d, errno_err(errno), "store: fsync %s: %s",
			                    st->spool_dir, strerror(errno));
		}
	} else if (errno != EEXIST) {
		return as4_diag_set(d, errno_err(errno), "store: mkdir %s/%s: %s", st->spool_dir,
		                    day, strerror(errno));
	}
	atomic_store(&st->day_made, num);
	return AS4_OK;
}

static as4_err hash_write(const struct as4_blob *b, int fd, uint8_t md[32]);
static as4_err materialize(struct as4_store *st, const char *name, struct as4_diag *d);

/* Hash a blob kept inside the environment; the writer puts its bytes with the record. */
static as4_err write_inline(struct as4_store *st, const struct as4_blob *b, struct spool_new *f,
                            struct as4_diag *d)
{
	uint8_t rnd[16];
	char hex[33];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		return as4_diag_set(d, AS4_E_CRYPTO, "store: random generator failed");
	}
	as4_hex_encode(rnd, sizeof(rnd), hex);
	if (as4_str_fmt(f->name, sizeof(f->name), SPOOL_INLINE_DAY "/%s", hex) != AS4_OK) {
		return AS4_E_INTERNAL;
	}
	as4_err err = hash_write(b, -1, f->sha256);
	if (err != AS4_OK) {
		return as4_diag_set(d, err, "store: hash failed");
	}
	(void)st;
	f->inline_data = b->data;
	f->size = b->len;
	return AS4_OK;
}

/* Hash (and with fd >= 0 also write) the blob's bytes in chunks. */
static as4_err hash_write(const struct as4_blob *b, int fd, uint8_t md[32])
{
	as4_err err = AS4_OK;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned mdlen = 0;
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		err = AS4_E_CRYPTO;
		goto out;
	}
	for (size_t off = 0; off < b->len;) {
		size_t n = b->len - off < CHUNK ? b->len - off : CHUNK;
		if (EVP_DigestUpdate(ctx, b->data + off, n) != 1) {
			err = AS4_E_CRYPTO;
			goto out;
		}
		if (fd >= 0) {
			struct as4_blob part;
			as4_blob_borrow(&part, b->data + off, n);
			err = as4_blob_write_fd(&part, fd);
			if (err != AS4_OK) {
				goto out;
			}
		}
		off += n;
		as4_blob_drop_pages(b, off);
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
		err = AS4_E_CRYPTO;
	}
out:
	EVP_MD_CTX_free(ctx);
	return err;
}

/*
 * A mapped blob backed by an unnamed (O_TMPFILE) file gets a name in the spool instead of
 * being copied. Returns false when that is not possible (then the caller copies).
 */
static bool try_link(struct as4_store *st, const struct as4_blob *b, const char *name)
{
	struct stat sb;
	if (b->kind != AS4_BLOB_MAPPED || b->fd < 0 || fstat(b->fd, &sb) != 0 || sb.st_nlink != 0 ||
	    (uint64_t)sb.st_size != (uint64_t)b->len) {
		return false;
	}
	char proc[64];
	if (as4_str_fmt(proc, sizeof(proc), "/proc/self/fd/%d", b->fd) != AS4_OK) {
		return false;
	}
	return linkat(AT_FDCWD, proc, st->spool_fd, name, AT_SYMLINK_FOLLOW) == 0;
}

as4_err store_spool_write(struct as4_store *st, const struct as4_blob *b, struct spool_new *f,
                          struct as4_diag *d)
{
	char day[9];
	uint8_t rnd[16];
	char hex[33];
	memset(f, 0, sizeof(*f));
	if (st->opts.inline_max > 0 && b->len <= st->opts.inline_max) {
		return write_inline(st, b, f, d);
	}
	as4_err err = day_dir(st, day, d);
	if (err != AS4_OK) {
		return err;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		return as4_diag_set(d, AS4_E_CRYPTO, "store: random generator failed");
	}
	as4_hex_encode(rnd, sizeof(rnd), hex);
	if (as4_str_fmt(f->name, sizeof(f->name), "%s/%s", day, hex) != AS4_OK) {
		return AS4_E_INTERNAL;
	}
	int fd = -1;
	if (try_link(st, b, f->name)) {
		err = hash_write(b, -1, f->sha256);
		fd = b->fd;
	} else {
		fd = openat(st->spool_fd, f->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			return as4_diag_set(d, errno_err(errno), "store: create %s/%s: %s",
			                    st->spool_dir, f->name, strerror(errno));
		}
		err = hash_write(b, fd, f->sha256);
	}
	/* fdatasync mode: the callers sync their own files in parallel; the writer syncs dirs. */
	if (err == AS4_OK && st->opts.sync == AS4_STORE_SYNC_FDATASYNC && fdatasync(fd) != 0) {
		err = errno_err(errno);
	}
	if (fd != b->fd && close(fd) != 0 && err == AS4_OK) {
		err = errno_err(errno);
	}
	if (err != AS4_OK) {
		int e = errno;
		unlinkat(st->spool_fd, f->name, 0);
		return as4_diag_set(d, err, "store: write %s/%s: %s", st->spool_dir, f->name,
		                    err == AS4_E_CRYPTO ? "hash failed" : strerror(e));
	}
	f->size = b->len;
	return AS4_OK;
}

as4_err store_spool_sync_batch(struct as4_store *st, struct wop **ops, size_t n, struct as4_diag *d)
{
	if (st->opts.sync == AS4_STORE_SYNC_NONE) {
		return AS4_OK;
	}
	if (st->opts.sync == AS4_STORE_SYNC_SYNCFS) {
		if (syncfs(st->spool_fd) != 0) {
			return as4_diag_set(d, errno_err(errno), "store: syncfs %s: %s",
			                    st->spool_dir, strerror(errno));
		}
		return AS4_OK;
	}
	/* File data is already synced by the callers; the new names need their day directory. */
	char done[8][9];
	size_t nd = 0;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < ops[i]->n_files; j++) {
			const char *name = ops[i]->files[j].name;
			if (ops[i]->files[j].inline_data != NULL || store_spool_name_inline(name)) {
				continue; /* committed inside the environment */
			}
			bool seen = false;
			for (size_t k = 0; k < nd && !seen; k++) {
				seen = memcmp(done[k], name, 8) == 0;
			}
			if (seen) {
				continue;
			}
			char day[9];
			memcpy(day, name, 8);
			day[8] = '\0';
			int fd = openat(st->spool_fd, day, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0 || fsync(fd) != 0) {
				int e = errno;
				if (fd >= 0) {
					close(fd);
				}
				return as4_diag_set(d, errno_err(e), "store: fsync %s/%s: %s",
				                    st->spool_dir, day, strerror(e));
			}
			close(fd);
			if (nd < AS4_ARRAY_LEN(done)) {
				memcpy(done[nd++], day, 9);
			}
		}
	}
	return AS4_OK;
}

as4_err as4_store_spool_path(const struct as4_store *st, const char *name, char *out, size_t cap,
                             struct as4_diag *d)
{
	if (name == NULL) {
		return as4_diag_set(d, AS4_E_NOTFOUND, "store: the file was purged by retention");
	}
	if (!store_spool_name_valid(name)) {
		return as4_diag_set(d, AS4_E_CORRUPT, "store: invalid spool file name in record");
	}
	if (as4_str_fmt(out, cap, "%s/%s", st->spool_dir, name) != AS4_OK) {
		return as4_diag_set(d, AS4_E_LIMIT, "store: spool path does not fit");
	}
	if (store_spool_name_inline(name)) {
		/* a copy in the spool, removed with the blob (file_forget) or by the spool GC */
		return materialize((struct as4_store *)(uintptr_t)st, name, d);
	}
	return AS4_OK;
}

/* Copy an inline blob out of the environment into *b (heap). */
static as4_err read_inline(struct as4_store *st, const char *name, struct as4_blob *b,
                           struct as4_diag *d)
{
	MDB_txn *txn;
	as4_err err = store_rd_begin(st, &txn, d);
	if (err != AS4_OK) {
		return err;
	}
	MDB_val key = {strlen(name), (void *)(uintptr_t)name}, val;
	int rc = mdb_get(txn, st->db[DB_BLOBS], &key, &val);
	if (rc == MDB_SUCCESS) {
		err = as4_blob_copy(b, val.mv_data, val.mv_size);
		if (err != AS4_OK) {
			err = as4_diag_set(d, err, "store: out of memory");
		}
	} else if (rc == MDB_NOTFOUND) {
		err = as4_diag_set(d, AS4_E_NOTFOUND, "store: blob %s is no longer stored", name);
	} else {
		err = store_fail(d, rc, "read blob");
	}
	store_rd_end(st, txn);
	return err;
}

/* Write a read-only copy of an inline blob to its spool path (rename makes it appear whole). */
static as4_err materialize(struct as4_store *st, const char *name, struct as4_diag *d)
{
	struct stat sb;
	if (fstatat(st->spool_fd, name, &sb, 0) == 0) {
		return AS4_OK;
	}
	struct as4_blob b;
	as4_blob_init(&b);
	as4_err err = read_inline(st, name, &b, d);
	if (err != AS4_OK) {
		return err;
	}
	char tmp[SPOOL_NAME_CAP + 32];
	uint8_t rnd[4];
	char hex[9];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		as4_blob_cleanup(&b);
		return as4_diag_set(d, AS4_E_CRYPTO, "store: random generator failed");
	}
	as4_hex_encode(rnd, sizeof(rnd), hex);
	if (as4_str_fmt(tmp, sizeof(tmp), "%s.%s.tmp", name, hex) != AS4_OK) {
		as4_blob_cleanup(&b);
		return AS4_E_INTERNAL;
	}
	if (mkdirat(st->spool_fd, SPOOL_INLINE_DAY, 0700) != 0 && errno != EEXIST) {
		as4_blob_cleanup(&b);
		return as4_diag_set(d, errno_err(errno), "store: mkdir %s/%s: %s", st->spool_dir,
		                    SPOOL_INLINE_DAY, strerror(errno));
	}
	int fd = openat(st->spool_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	if (fd < 0) {
		as4_blob_cleanup(&b);
		return as4_diag_set(d, errno_err(errno), "store: create %s/%s: %s", st->spool_dir,
		                    tmp, strerror(errno));
	}
	err = as4_blob_write_fd(&b, fd);
	as4_blob_cleanup(&b);
	if (close(fd) != 0 && err == AS4_OK) {
		err = errno_err(errno);
	}
	if (err == AS4_OK && renameat(st->spool_fd, tmp, st->spool_fd, name) != 0) {
		err = errno_err(errno);
	}
	if (err != AS4_OK) {
		unlinkat(st->spool_fd, tmp, 0);
		return as4_diag_set(d, err, "store: write a copy of %s: %s", name,
		                    as4_strerror(err));
	}
	return AS4_OK;
}

as4_err as4_store_spool_open(const struct as4_store *st, const char *name, struct as4_blob *b,
                             struct as4_diag *d)
{
	char path[4200];
	as4_blob_init(b);
	if (store_spool_name_inline(name)) {
		/* the read lock is the only thing touched: the store itself is not changed */
		return read_inline((struct as4_store *)(uintptr_t)st, name, b, d);
	}
	as4_err err = as4_store_spool_path(st, name, path, sizeof(path), d);
	if (err != AS4_OK) {
		return err;
	}
	err = as4_blob_map_path(b, path);
	if (err != AS4_OK) {
		return as4_diag_set(d, err, "store: open %s: %s", path, as4_strerror(err));
	}
	return AS4_OK;
}

as4_err as4_store_spool_size(const struct as4_store *st, const char *name, uint64_t *size,
                             struct as4_diag *d)
{
	*size = 0;
	if (name == NULL) {
		return as4_diag_set(d, AS4_E_NOTFOUND, "store: the file was purged by retention");
	}
	if (!store_spool_name_valid(name)) {
		return as4_diag_set(d, AS4_E_CORRUPT, "store: invalid spool file name in record");
	}
	if (!store_spool_name_inline(name)) {
		struct stat sb;
		if (fstatat(st->spool_fd, name, &sb, 0) != 0) {
			return as4_diag_set(d, errno_err(errno), "store: stat %s/%s: %s",
			                    st->spool_dir, name, strerror(errno));
		}
		*size = (uint64_t)sb.st_size;
		return AS4_OK;
	}
	struct as4_store *w = (struct as4_store *)(uintptr_t)st; /* the read lock only */
	MDB_txn *txn;
	as4_err err = store_rd_begin(w, &txn, d);
	if (err != AS4_OK) {
		return err;
	}
	MDB_val key = {strlen(name), (void *)(uintptr_t)name}, val;
	int rc = mdb_get(txn, w->db[DB_BLOBS], &key, &val);
	if (rc == MDB_SUCCESS) {
		*size = val.mv_size;
	} else if (rc == MDB_NOTFOUND) {
		err = as4_diag_set(d, AS4_E_NOTFOUND, "store: blob %s is no longer stored", name);
	} else {
		err = store_fail(d, rc, "read blob");
	}
	store_rd_end(w, txn);
	return err;
}

/* True when the files db knows name. */
static as4_err referenced(struct as4_store *st, const char *name, bool *yes, struct as4_diag *d)
{
	MDB_txn *txn;
	as4_err err = store_rd_begin(st, &txn, d);
	if (err != AS4_OK) {
		return err;
	}
	MDB_val key = {strlen(name), (void *)(uintptr_t)name}, val;
	int rc = mdb_get(txn, st->db[DB_FILES], &key, &val);
	*yes = rc == MDB_SUCCESS;
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
		err = store_fail(d, rc, "read spool file index");
	}
	store_rd_end(st, txn);
	return err;
}

static as4_err gc_day(struct as4_store *st, const char *day, int64_t cutoff_s, size_t *n,
                      struct as4_diag *d)
{
	int dfd = openat(st->spool_fd, day, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		return as4_diag_set(d, errno_err(errno), "store: open %s/%s: %s", st->spool_dir,
		                    day, strerror(errno));
	}
	DIR *dir = fdopendir(dfd);
	if (dir == NULL) {
		close(dfd);
		return as4_diag_set(d, AS4_E_IO, "store: read %s/%s", st->spool_dir, day);
	}
	as4_err err = AS4_OK;
	size_t left = 0;
	struct dirent *de;
	while (err == AS4_OK && (de = readdir(dir)) != NULL) {
		char name[SPOOL_NAME_CAP + 256];
		if (de->d_name[0] == '.') {
			continue;
		}
		left++;
		if (as4_str_fmt(name, sizeof(name), "%s/%s", day, de->d_name) != AS4_OK ||
		    !store_spool_name_valid(name)) {
			continue; /* not ours: never delete what the store did not name */
		}
		struct stat sb;
		if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(sb.st_mode) || (int64_t)sb.st_mtime > cutoff_s) {
			continue;
		}
		bool used = true;
		err = referenced(st, name, &used, d);
		if (err == AS4_OK && !used && unlinkat(dfd, de->d_name, 0) == 0) {
			(*n)++;
			left--;
		}
	}
	closedir(dir);
	if (err == AS4_OK && left == 0) {
		/* An empty old day directory goes too; today's may be in use (ENOTEMPTY is fine).
		 */
		char today[9];
		time_t now = time(NULL);
		struct tm tm;
		if (gmtime_r(&now, &tm) != NULL &&
		    strftime(today, sizeof(today), "%Y%m%d", &tm) == 8 && strcmp(day, today) < 0 &&
		    unlinkat(st->spool_fd, day, AT_REMOVEDIR) != 0) {
			/* best effort: a put may just have created a file in it */
		}
	}
	return err;
}

as4_err as4_store_spool_gc(struct as4_store *st, int64_t min_age_ms, size_t *n, struct as4_diag *d)
{
	size_t count = 0;
	if (n != NULL) {
		*n = 0;
	}
	if (min_age_ms < 0) {
		return as4_diag_set(d, AS4_E_INVAL, "store: negative minimum age");
	}
	int64_t cutoff_s = (as4_time_now_ms() - min_age_ms) / 1000;
	int fd = openat(st->spool_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (dir == NULL) {
		if (fd >= 0) {
			close(fd);
		}
		return as4_diag_set(d, AS4_E_IO, "store: read %s: %s", st->spool_dir,
		                    strerror(errno));
	}
	as4_err err = AS4_OK;
	struct dirent *de;
	while (err == AS4_OK && (de = readdir(dir)) != NULL) {
		const char *s = de->d_name;
		bool day = strlen(s) == 8;
		for (size_t i = 0; day && i < 8; i++) {
			day = s[i] >= '0' && s[i] <= '9';
		}
		if (day) {
			err = gc_day(st, s, cutoff_s, &count, d);
		}
	}
	closedir(dir);
	if (n != NULL) {
		*n = count;
	}
	return err;
}
