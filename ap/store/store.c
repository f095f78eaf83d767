/* SPDX-License-Identifier: Apache-2.0 */
/* The LMDB environment: open/close, error mapping, transaction helpers and the read paths. */
#include "as4/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "as4/str.h"
#include "as4/time.h"
#include "store_int.h"

#define DEFAULT_MAP_SIZE   (32ull << 30)
#define DEFAULT_READERS    256u
#define DEFAULT_BATCH      512u
#define DEFAULT_WINDOW_MS  (30ll * 24 * 3600 * 1000)
#define DEFAULT_CLAIM_SCAN 10000u
#define DEFAULT_SEARCH_MAX 200000u

static const char *const db_names[DB__COUNT] = {
        [DB_META] = "meta",   [DB_MSG] = "msg",     [DB_EVENTS] = "events",
        [DB_DUE] = "due",     [DB_DEDUP] = "dedup", [DB_DEDUP_AGE] = "dedup_age",
        [DB_INBOX] = "inbox", [DB_PEERS] = "peers", [DB_AUDIT] = "audit",
        [DB_FILES] = "files", [DB_IDX] = "idx",     [DB_NOTES] = "notes",
        [DB_BLOBS] = "blobs",
};

as4_err store_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return AS4_OK;
	case MDB_MAP_FULL:
	case ENOSPC:
	case EDQUOT:
		return AS4_E_SPACE;
	case MDB_NOTFOUND:
		return AS4_E_NOTFOUND;
	case MDB_KEYEXIST:
		return AS4_E_EXISTS;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE:
		return AS4_E_CORRUPT;
	case MDB_READERS_FULL:
	case MDB_MAP_RESIZED:
		return AS4_E_BUSY;
	case MDB_TXN_FULL:
	case MDB_BAD_VALSIZE:
		return AS4_E_LIMIT;
	case ENOMEM:
		return AS4_E_NOMEM;
	case MDB_DBS_FULL:
	case MDB_BAD_TXN:
	case MDB_BAD_DBI:
	case MDB_BAD_RSLOT:
	case EINVAL:
		return AS4_E_INTERNAL;
	default:
		return AS4_E_IO;
	}
}

as4_err store_fail(struct as4_diag *d, int rc, const char *what)
{
	return as4_diag_set(d, store_err(rc), "store: %s: %s", what, mdb_strerror(rc));
}

void store_be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)(v & 0xffu);
		v >>= 8;
	}
}

uint64_t store_be64_get(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++) {
		v = (v << 8) | p[i];
	}
	return v;
}

void store_be32_put(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--) {
		p[i] = (uint8_t)(v & 0xffu);
		v >>= 8;
	}
}

uint32_t store_be32_get(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		v = (v << 8) | p[i];
	}
	return v;
}

/* ---- Sticky write-transaction helpers ---- */

void store_tx_fail(struct stxn *t, as4_err err, const char *fmt, ...)
{
	if (t->err != AS4_OK) {
		return;
	}
	t->err = err;
	char text[AS4_DIAG_TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0) {
		text[0] = '\0';
	}
	if (as4_diag_set(t->d, err, "%s", text) != err) {
		/* an earlier failure is already recorded on d; t keeps its own code */
	}
}

static void tx_mdb_fail(struct stxn *t, int rc, const char *op, enum store_db db)
{
	store_tx_fail(t, store_err(rc), "store: %s %s: %s", op, db_names[db], mdb_strerror(rc));
}

static void tx_put_flags(struct stxn *t, enum store_db db, const void *k, size_t kn, const void *v,
                         size_t vn, unsigned flags)
{
	if (t->err != AS4_OK) {
		return;
	}
	MDB_val key = {kn, (void *)(uintptr_t)k};
	MDB_val val = {vn, (void *)(uintptr_t)v};
	int rc = mdb_put(t->txn, t->st->db[db], &key, &val, flags);
	if (rc != MDB_SUCCESS) {
		tx_mdb_fail(t, rc, "write", db);
	}
}

void store_tx_put(struct stxn *t, enum store_db db, const void *k, size_t kn, const void *v,
                  size_t vn)
{
	tx_put_flags(t, db, k, kn, v, vn, 0);
}

void store_tx_put_noover(struct stxn *t, enum store_db db, const void *k, size_t kn, const void *v,
                         size_t vn)
{
	tx_put_flags(t, db, k, kn, v, vn, MDB_NOOVERWRITE);
}

void store_tx_del(struct stxn *t, enum store_db db, const void *k, size_t kn)
{
	if (t->err != AS4_OK) {
		return;
	}
	MDB_val key = {kn, (void *)(uintptr_t)k};
	int rc = mdb_del(t->txn, t->st->db[db], &key, NULL);
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
		tx_mdb_fail(t, rc, "delete from", db);
	}
}

bool store_tx_get(struct stxn *t, enum store_db db, const void *k, size_t kn, MDB_val *val)
{
	if (t->err != AS4_OK) {
		return false;
	}
	MDB_val key = {kn, (void *)(uintptr_t)k};
	int rc = mdb_get(t->txn, t->st->db[db], &key, val);
	if (rc == MDB_NOTFOUND) {
		return false;
	}
	if (rc != MDB_SUCCESS) {
		tx_mdb_fail(t, rc, "read", db);
		return false;
	}
	return true;
}

uint64_t store_tx_counter(struct stxn *t, const char *name)
{
	MDB_val v;
	if (!store_tx_get(t, DB_META, name, strlen(name), &v)) {
		return 0;
	}
	if (v.mv_size != 8) {
		store_tx_fail(t, AS4_E_CORRUPT, "store: meta %s has %zu bytes", name, v.mv_size);
		return 0;
	}
	return store_be64_get(v.mv_data);
}

void store_tx_counter_add(struct stxn *t, const char *name, int64_t delta)
{
	uint64_t v = store_tx_counter(t, name);
	/* Counters never go below zero, even if a damaged store once lost an increment. */
	if (delta < 0 && (uint64_t)(-delta) > v) {
		v = 0;
	} else {
		v += (uint64_t)delta;
	}
	uint8_t b[8];
	store_be64_put(b, v);
	store_tx_put(t, DB_META, name, strlen(name), b, sizeof(b));
}

/* ---- Read transactions ---- */

as4_err store_rd_begin(struct as4_store *st, MDB_txn **txn, struct as4_diag *d)
{
	*txn = NULL;
	if (pthread_rwlock_rdlock(&st->maplock) != 0) {
		return as4_diag_set(d, AS4_E_INTERNAL, "store: map lock failed");
	}
	int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
	if (rc != MDB_SUCCESS) {
		pthread_rwlock_unlock(&st->maplock);
		*txn = NULL;
		return store_fail(d, rc, "begin read transaction");
	}
	return AS4_OK;
}

void store_rd_end(struct as4_store *st, MDB_txn *txn)
{
	if (txn != NULL) {
		mdb_txn_abort(txn);
		pthread_rwlock_unlock(&st->maplock);
	}
}

/* ---- Open / close ---- */

static as4_err open_dbs(struct as4_store *st, struct as4_diag *d)
{
	MDB_txn *txn = NULL;
	int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc != MDB_SUCCESS) {
		return store_fail(d, rc, "begin transaction");
	}
	for (int i = 0; i < DB__COUNT; i++) {
		rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &st->db[i]);
		if (rc != MDB_SUCCESS) {
			mdb_txn_abort(txn);
			return store_fail(d, rc, db_names[i]);
		}
	}
	struct stxn t = {st, txn, AS4_OK, d};
	MDB_val v;
	if (store_tx_get(&t, DB_META, "format", 6, &v)) {
		if (v.mv_size != 4) {
			store_tx_fail(&t, AS4_E_CORRUPT, "store: meta format damaged");
		} else if (store_be32_get(v.mv_data) > STORE_FORMAT) {
			store_tx_fail(&t, AS4_E_CORRUPT,
			              "store: on-disk format %u is newer than this program (%u)",
			              store_be32_get(v.mv_data), STORE_FORMAT);
		}
	} else {
		uint8_t b[4];
		store_be32_put(b, STORE_FORMAT);
		store_tx_put(&t, DB_META, "format", 6, b, sizeof(b));
	}
	if (t.err != AS4_OK) {
		mdb_txn_abort(txn);
		return t.err;
	}
	rc = mdb_txn_commit(txn);
	if (rc != MDB_SUCCESS) {
		return store_fail(d, rc, "commit");
	}
	return AS4_OK;
}

static as4_err open_env(struct as4_store *st, const char *envdir, struct as4_diag *d)
{
	int rc = mdb_env_create(&st->env);
	if (rc != MDB_SUCCESS) {
		st->env = NULL;
		return store_fail(d, rc, "create environment");
	}
	rc = mdb_env_set_maxdbs(st->env, DB__COUNT + 4);
	if (rc == MDB_SUCCESS) {
		rc = mdb_env_set_maxreaders(st->env, st->opts.max_readers);
	}
	if (rc == MDB_SUCCESS) {
		rc = mdb_env_set_mapsize(st->env, (size_t)st->opts.map_size);
	}
	if (rc != MDB_SUCCESS) {
		return store_fail(d, rc, "configure environment");
	}
	/*
	 * MDB_NOTLS: read transactions are not tied to threads (callers come from many worker
	 * threads). MDB_NORDAHEAD: random access to a store larger than RAM. Commits stay
	 * synchronous (no MDB_NOSYNC): the writer commits once per batch, so LMDB's own two
	 * fdatasyncs are already shared by the whole batch, and its ordering (data pages before
	 * the meta page) keeps a crash from ever exposing a half-written transaction.
	 */
	rc = mdb_env_open(st->env, envdir, MDB_NOTLS | MDB_NORDAHEAD, 0600);
	if (rc != MDB_SUCCESS) {
		as4_err err = store_fail(d, rc, "open environment");
		as4_diag_prefix(d, "%s: ", envdir);
		return err;
	}
	MDB_envinfo info;
	if (mdb_env_info(st->env, &info) == MDB_SUCCESS) {
		st->map_size = info.me_mapsize;
	}
	return open_dbs(st, d);
}

static void store_free(struct as4_store *st)
{
	if (st->env != NULL) {
		mdb_env_close(st->env);
	}
	if (st->spool_fd >= 0) {
		close(st->spool_fd);
	}
	pthread_rwlock_destroy(&st->maplock);
	pthread_mutex_destroy(&st->qlock);
	pthread_cond_destroy(&st->qcond);
	free(st->dir);
	free(st->spool_dir);
	free(st);
}

as4_err as4_store_open(const char *data_dir, const struct as4_store_opts *opts,
                       struct as4_store **out, struct as4_diag *d)
{
	*out = NULL;
	if (data_dir == NULL || data_dir[0] == '\0') {
		return as4_diag_set(d, AS4_E_INVAL, "store: no data directory");
	}
	struct as4_store *st = calloc(1, sizeof(*st));
	if (st == NULL) {
		return AS4_E_NOMEM;
	}
	st->spool_fd = -1;
	if (opts != NULL) {
		st->opts = *opts;
	}
	if (st->opts.map_size == 0) {
		st->opts.map_size = DEFAULT_MAP_SIZE;
	}
	if (st->opts.max_readers == 0) {
		st->opts.max_readers = DEFAULT_READERS;
	}
	if (st->opts.max_batch == 0) {
		st->opts.max_batch = DEFAULT_BATCH;
	}
	if (st->opts.dedup_window_ms <= 0) {
		st->opts.dedup_window_ms = DEFAULT_WINDOW_MS;
	}
	if (st->opts.claim_scan_max == 0) {
		st->opts.claim_scan_max = DEFAULT_CLAIM_SCAN;
	}
	if (st->opts.search_scan_max == 0) {
		st->opts.search_scan_max = DEFAULT_SEARCH_MAX;
	}
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	/* A resize waits for running readers but new readers queue behind it (no starvation). */
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&st->maplock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&st->qlock, NULL);
	pthread_cond_init(&st->qcond, NULL);

	char envdir[4096];
	char spool[4096];
	as4_err err = AS4_OK;
	if (as4_str_fmt(envdir, sizeof(envdir), "%s/store", data_dir) != AS4_OK ||
	    as4_str_fmt(spool, sizeof(spool), "%s/spool", data_dir) != AS4_OK) {
		err = as4_diag_set(d, AS4_E_LIMIT, "store: data directory path too long");
		goto out;
	}
	st->dir = as4_str_dup(data_dir);
	st->spool_dir = as4_str_dup(spool);
	if (st->dir == NULL || st->spool_dir == NULL) {
		err = AS4_E_NOMEM;
		goto out;
	}
	err = as4_mkdir_p(envdir, 0700);
	if (err == AS4_OK) {
		err = as4_mkdir_p(spool, 0700);
	}
	if (err != AS4_OK) {
		int e = errno;
		err = as4_diag_set(d, err == AS4_E_SPACE ? AS4_E_SPACE : AS4_E_IO,
		                   "store: cannot create %s or %s: %s", envdir, spool, strerror(e));
		goto out;
	}
	st->spool_fd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->spool_fd < 0) {
		err = as4_diag_set(d, AS4_E_IO, "store: cannot open %s: %s", spool,
		                   strerror(errno));
		goto out;
	}
	err = open_env(st, envdir, d);
	if (err == AS4_OK) {
		err = store_op_recover(st, &st->recovered, d);
	}
	if (err == AS4_OK) {
		err = store_writer_start(st, d);
	}
out:
	if (err != AS4_OK) {
		store_free(st);
		return err;
	}
	*out = st;
	return AS4_OK;
}

void as4_store_close(struct as4_store *st)
{
	if (st == NULL) {
		return;
	}
	store_writer_stop(st);
	store_free(st);
}

/* ---- Reads ---- */

/* Decode message id within a read transaction. */
as4_err store_rd_load(struct as4_store *st, MDB_txn *txn, uint64_t id, struct as4_msgrec *rec,
                      struct as4_diag *d)
{
	uint8_t k[8];
	store_be64_put(k, id);
	MDB_val key = {8, k}, val;
	int rc = mdb_get(txn, st->db[DB_MSG], &key, &val);
	if (rc == MDB_NOTFOUND) {
		as4_msgrec_init(rec);
		return as4_diag_set(d, AS4_E_NOTFOUND, "store: no message with id %llu",
		                    (unsigned long long)id);
	}
	if (rc != MDB_SUCCESS) {
		as4_msgrec_init(rec);
		return store_fail(d, rc, "read message");
	}
	as4_err err = store_rec_decode(val.mv_data, val.mv_size, rec);
	if (err == AS4_E_CORRUPT) {
		return as4_diag_set(d, err, "store: record of message id %llu is damaged",
		                    (unsigned long long)id);
	}
	return err;
}

as4_err as4_store_get(struct as4_store *st, uint64_t id, struct as4_msgrec *rec, struct as4_diag *d)
{
	MDB_txn *txn;
	as4_msgrec_init(rec);
	as4_err err = store_rd_begin(st, &txn, d);
	if (err == AS4_OK) {
		err = store_rd_load(st, txn, id, rec, d);
	}
	store_rd_end(st, txn);
	return err;
}

as4_err as4_store_get_by_msgid(struct as4_store *st, enum as4_dir dir, const char *message_id,
                               struct as4_msgrec *rec, struct as4_diag *d)
{
	as4_msgrec_init(rec);
	if (dir != AS4_DIR_IN && dir != AS4_DIR_OUT) {
		return as4_diag_set(d, AS4_E_INVAL, "store: direction must be in or out");
	}
	if (message_id == NULL || message_id[0] == '\0') {
		return as4_diag_set(d, AS4_E_INVAL, "store: empty message id");
	}
	uint8_t pre[1 + IKEY_LEN + 2];
	pre[0] = IDX_MSGID;
	size_t pn = 1 + store_ikey(message_id, pre + 1);
	pre[pn++] = 0;
	MDB_txn *txn;
	as4_err err = store_rd_begin(st, &txn, d);
	if (err != AS4_OK) {
		return err;
	}
	MDB_cursor *c = NULL;
	int rc = mdb_cursor_open(txn, st->db[DB_IDX], &c);
	if (rc != MDB_SUCCESS) {
		err = store_fail(d, rc, "open cursor");
		goto out;
	}
	/* Walk this MessageId's entries newest first and take the first of the direction. */
	uint8_t seek[sizeof(pre) + 16];
	memcpy(seek, pre, pn);
	memset(seek + pn, 0xff, 16);
	MDB_val key = {pn + 16, seek}, val;
	rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
	rc = rc == MDB_SUCCESS ? mdb_cursor_get(c, &key, &val, MDB_PREV)
	                       : mdb_cursor_get(c, &key, &val, MDB_LAST);
	err = AS4_E_NOTFOUND;
	while (rc == MDB_SUCCESS && key.mv_size == pn + 16 && memcmp(key.mv_data, pre, pn) == 0) {
		uint64_t id = store_be64_get((const uint8_t *)key.mv_data + pn + 8);
		err = store_rd_load(st, txn, id, rec, d);
		if (err != AS4_OK) {
			goto out;
		}
		if (rec->dir == dir && strcmp(rec->message_id, message_id) == 0) {
			goto out;
		}
		as4_msgrec_cleanup(rec);
		err = AS4_E_NOTFOUND;
		rc = mdb_cursor_get(c, &key, &val, MDB_PREV);
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
		err = store_fail(d, rc, "read message index");
	} else {
		err = as4_diag_set(d, AS4_E_NOTFOUND, "store: no %s message with MessageId %s",
		                   as4_dir_text(dir), message_id);
	}
out:
	if (c != NULL) {
		mdb_cursor_close(c);
	}
	store_rd_end(st, txn);
	return err;
}

void as4_store_events_free(struct as4_store_event *ev, size_t n)
{
	for (size_t i = 0; ev != NULL && i < n; i++) {
		store_event_cleanup(&ev[i]);
	}
	free(ev);
}

as4_err as4_store_events(struct as4_store *st, uint64_t id, struct as4_store_event **out, size_t *n,
                         struct as4_diag *d)
{
	*out = NULL;
	*n = 0;
	MDB_txn *txn;
	MDB_cursor *c = NULL;
	struct as4_store_event *ev = NULL;
	size_t cnt = 0, cap = 0;
	as4_err err = store_rd_begin(st, &txn, d);
	if (err != AS4_OK) {
		return err;
	}
	uint8_t k[12];
	store_be64_put(k, id);
	MDB_val key = {8, k}, val;
	int rc = mdb_get(txn, st->db[DB_MSG], &key, &val);
	if (rc != MDB_SUCCESS) {
		err = rc == MDB_NOTFOUND
		              ? as4_diag_set(d, AS4_E_NOTFOUND, "store: no message with id %llu",
		                             (unsigned long long)id)
		              : store_fail(d, rc, "read message");
		goto out;
	}
	rc = mdb_cursor_open(txn, st->db[DB_EVENTS], &c);
	if (rc != MDB_SUCCESS) {
		err = store_fail(d, rc, "open cursor");
		goto out;
	}
	store_be32_put(k + 8, 0);
	key.mv_size = 12;
	key.mv_data = k;
	rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
	while (rc == MDB_SUCCESS && key.mv_size == 12 && memcmp(key.mv_data, k, 8) == 0) {
		if (cnt == cap) {
			size_t ncap = cap == 0 ? 8 : cap * 2;
			struct as4_store_event *q = realloc(ev, ncap * sizeof(*ev));
			if (q == NULL) {
				err = AS4_E_NOMEM;
				goto out;
			}
			ev = q;
			cap = ncap;
		}
		err = store_ev_decode(val.mv_data, val.mv_size, &ev[cnt]);
		if (err != AS4_OK) {
			err = as4_diag_set(d, err, "store: event %u of message %llu is damaged",
			                   store_be32_get((const uint8_t *)key.mv_data + 8),
			                   (unsigned long long)id);
			goto out;
		}
		ev[cnt].seq = store_be32_get((const uint8_t *)key.mv_data + 8);
		cnt++;
		rc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
		err = store_fail(d, rc, "read events");
	}
out:
	if (c != NULL) {
		mdb_cursor_close(c);
	}
	store_rd_end(st, txn);
	if (err != AS4_OK) {
		as4_store_events_free(ev, cnt);
		return err;
	}
	*out = ev;
	*n = cnt;
	return AS4_OK;
}

/* Append a copy of a loaded record to a growing array (takes over rec's contents). */
as4_err store_recs_push(struct as4_msgrec **arr, size_t *n, size_t cap_max, struct as4_msgrec *rec)
{
	if (*n >= cap_max) {
		return AS4_E_LIMIT;
	}
	if (*arr == NULL) {
		*arr = calloc(cap_max, sizeof(**arr));
		if (*arr == NULL) {
			return AS4_E_NOMEM;
		}
	}
	(*arr)[(*n)++] = *rec;
	as4_msgrec_init(rec);
	return AS4_OK;
}

as4_err as4_store_inbox_list(struct as4_store *st, uint64_t after_id, size_t limit,
                             struct as4_msgrec **out, size_t *n, uint64_t *next_after,
                             struct as4_diag *d)
{
	*out = NULL;
	*n = 0;
	*next_after = 0;
	if (limit == 0 || limit > STORE_PAGE_MAX) {
		return as4_diag_set(d, AS4_E_INVAL, "store: inbox page size must be 1..%u",
		                    STORE_PAGE_MAX);
	}
	MDB_txn *txn;
	MDB_cursor *c = NULL;
	struct as4_msgrec *arr = NULL;
	size_t cnt = 0;
	as4_err err = store_rd_begin(st, &txn, d);
	if (err != AS4_OK) {
		return err;
	}
	int rc = mdb_cursor_open(txn, st->db[DB_INBOX], &c);
	if (rc != MDB_SUCCESS) {
		err = store_fail(d, rc, "open cursor");
		goto out;
	}
	uint8_t k[8];
	store_be64_put(k, after_id == UINT64_MAX ? after_id : after_id + 1);
	MDB_val key = {8, k}, val;
	rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
	while (rc == MDB_SUCCESS && cnt < limit) {
		if (key.mv_size != 8) {
			err = as4_diag_set(d, AS4_E_CORRUPT, "store: inbox key damaged");
			goto out;
		}
		struct as4_msgrec rec;
		err = store_rd_load(st, txn, store_be64_get(key.mv_data), &rec, d);
		if (err == AS4_OK) {
			err = store_recs_push(&arr, &cnt, limit, &rec);
		}
		if (err != AS4_OK) {
			as4_msgrec_cleanup(&rec);
			goto out;
		}
		rc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
		err = store_fail(d, rc, "read inbox");
		goto out;
	}
	if (rc == MDB_SUCCESS && cnt > 0) {
		*next_after = arr[cnt - 1].id;
	}
out:
	if (c != NULL) {
		mdb_cursor_close(c);
	}
	store_rd_end(st, txn);
	if (err != AS4_OK) {
		as4_msgrec_array_free(arr, cnt);
		*next_after = 0;
		return err;
	}
	*out = arr;
	*n = cnt;
	return AS4_OK;
}

as4_err as4_store_dedup_lookup(struct as4_store *st, const char *message_id,
                               struct as4_store_dedup *out, struct as4_diag *d)
{
	memset(out, 0, sizeof(*out));
	if (message_id == NULL || message_id[0] == '\0') {
		return as4_diag_set(d, AS4_E_INVAL, "store: empty message id");
	}
	uint8_t k[IKEY_LEN + 1];
	size_t kn = store_ikey(message_id, k);
	MDB_txn *txn;
	as4_err err = store_rd_begin(st, &txn, d);
	if (err != AS4_OK) {
		return err;
	}
	MDB_val key = {kn, k}, val;
	int rc = mdb_get(txn, st->db[DB_DEDUP], &key, &val);
	if (rc == MDB_NOTFOUND) {
		err = AS4_E_NOTFOUND;
		goto out;
	}
	if (rc != MDB_SUCCESS) {
		err = store_fail(d, rc, "read duplicate window");
		goto out;
	}
	if (val.mv_size != 16) {
		err = as4_diag_set(d, AS4_E_CORRUPT, "store: duplicate entry damaged");
		goto out;
	}
	out->received_ms = (int64_t)store_be64_get(val.mv_data);
	out->id = store_be64_get((const uint8_t *)val.mv_data + 8);
	struct as4_msgrec rec;
	err = store_rd_load(st, txn, out->id, &rec, d);
	if (err == AS4_OK && rec.receipt_file != NULL) {
		err = as4_str_copy(out->receipt_file, sizeof(out->receipt_file), rec.receipt_file);
		if (err != AS4_OK) {
			err = as4_diag_set(d, AS4_E_CORRUPT, "store: receipt file name damaged");
		}
	}
	as4_msgrec_cleanup(&rec);
out:
	store_rd_end(st, txn);
	return err;
}

as4_err as4_store_peer_backoff_get(struct as4_store *st, const char *peer, int64_t *until_ms,
                                   struct as4_diag *d)
{
	*until_ms = 0;
	if (peer == NULL || peer[0] == '\0' || strlen(peer) > STORE_PEER_MAX) {
		return AS4_OK;
	}
	MDB_txn *txn;
	as4_err err = store_rd_begin(st, &txn, d);
	if (err != AS4_OK) {
		return err;
	}
	MDB_val key = {strlen(peer), (void *)(uintptr_t)peer}, val;
	int rc = mdb_get(txn, st->db[DB_PEERS], &key, &val);
	if (rc == MDB_SUCCESS && val.mv_size == 8) {
		*until_ms = (int64_t)store_be64_get(val.mv_data);
	} else if (rc == MDB_SUCCESS) {
		err = as4_diag_set(d, AS4_E_CORRUPT, "store: peer backoff entry damaged");
	} else if (rc != MDB_NOTFOUND) {
		err = store_fail(d, rc, "read peer backoff");
	}
	store_rd_end(st, txn);
	return err;
}

void as4_store_audit_free(struct as4_store_audit *a, size_t n)
{
	for (size_t i = 0; a != NULL && i < n; i++) {
		store_audit_cleanup(&a[i]);
	}
	free(a);
}

as4_err as4_store_audit_list(struct as4_store *st, uint64_t after_seq, size_t limit,
                             struct as4_store_audit **out, size_t *n, struct as4_diag *d)
{
	*out = NULL;
	*n = 0;
	if (limit == 0 || limit > STORE_PAGE_MAX) {
		return as4_diag_set(d, AS4_E_INVAL, "store: audit page size must be 1..%u",
		                    STORE_PAGE_MAX);
	}
	struct as4_store_audit *arr = calloc(limit, sizeof(*arr));
	if (arr == NULL) {
		return AS4_E_NOMEM;
	}
	size_t cnt = 0;
	MDB_txn *txn;
	MDB_cursor *c = NULL;
	as4_err err = store_rd_begin(st, &txn, d);
	if (err != AS4_OK) {
		free(arr);
		return err;
	}
	int rc = mdb_cursor_open(txn, st->db[DB_AUDIT], &c);
	if (rc != MDB_SUCCESS) {
		err = store_fail(d, rc, "open cursor");
		goto out;
	}
	uint8_t k[8];
	store_be64_put(k, after_seq == UINT64_MAX ? after_seq : after_seq + 1);
	MDB_val key = {8, k}, val;
	rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
	while (rc == MDB_SUCCESS && cnt < limit) {
		err = store_aud_decode(val.mv_data, val.mv_size, &arr[cnt]);
		if (err != AS4_OK || key.mv_size != 8) {
			err = as4_diag_set(d, AS4_E_CORRUPT, "store: audit entry damaged");
			goto out;
		}
		arr[cnt].seq = store_be64_get(key.mv_data);
		cnt++;
		rc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
		err = store_fail(d, rc, "read audit log");
	}
out:
	if (c != NULL) {
		mdb_cursor_close(c);
	}
	store_rd_end(st, txn);
	if (err != AS4_OK || cnt == 0) {
		as4_store_audit_free(arr, cnt);
		return err;
	}
	*out = arr;
	*n = cnt;
	return AS4_OK;
}

/* Created time of the oldest entry of a state index, 0 when empty. */
static int64_t oldest_in_state(struct as4_store *st, MDB_txn *txn, enum as4_msg_state s)
{
	uint8_t pre[64];
	const char *name = as4_msg_state_text(s);
	size_t pn = strlen(name);
	pre[0] = IDX_STATE;
	memcpy(pre + 1, name, pn);
	pre[1 + pn] = 0;
	pn += 2;
	MDB_cursor *c = NULL;
	if (mdb_cursor_open(txn, st->db[DB_IDX], &c) != MDB_SUCCESS) {
		return 0;
	}
	MDB_val key = {pn, pre}, val;
	int64_t t = 0;
	if (mdb_cursor_get(c, &key, &val, MDB_SET_RANGE) == MDB_SUCCESS && key.mv_size == pn + 16 &&
	    memcmp(key.mv_data, pre, pn) == 0) {
		t = (int64_t)store_be64_get((const uint8_t *)key.mv_data + pn);
	}
	mdb_cursor_close(c);
	return t;
}

as4_err as4_store_stats(struct as4_store *st, struct as4_store_stats *s, struct as4_diag *d)
{
	memset(s, 0, sizeof(*s));
	MDB_txn *txn;
	as4_err err = store_rd_begin(st, &txn, d);
	if (err != AS4_OK) {
		return err;
	}
	struct stxn t = {st, txn, AS4_OK, d};
	for (unsigned i = AS4_ST_QUEUED; i < AS4_ST__COUNT; i++) {
		char name[16];
		if (as4_str_fmt(name, sizeof(name), "cnt/%u", i) == AS4_OK) {
			s->by_state[i] = store_tx_counter(&t, name);
		}
	}
	s->messages = store_tx_counter(&t, "msgs");
	s->inbox = store_tx_counter(&t, "inbox");
	s->dedup_entries = store_tx_counter(&t, "dedup");
	s->spool_bytes = store_tx_counter(&t, "spool_bytes");
	s->notes = store_tx_counter(&t, "notes");
	enum as4_msg_state waiting[] = {AS4_ST_QUEUED, AS4_ST_RETRYING, AS4_ST_SENDING};
	for (size_t i = 0; i < AS4_ARRAY_LEN(waiting); i++) {
		int64_t o = oldest_in_state(st, txn, waiting[i]);
		if (o != 0 && (s->oldest_queued_ms == 0 || o < s->oldest_queued_ms)) {
			s->oldest_queued_ms = o;
		}
	}
	MDB_envinfo info;
	MDB_stat mst;
	if (mdb_env_info(st->env, &info) == MDB_SUCCESS &&
	    mdb_env_stat(st->env, &mst) == MDB_SUCCESS) {
		s->map_size = info.me_mapsize;
		s->map_used = ((uint64_t)info.me_last_pgno + 1) * mst.ms_psize;
	}
	s->batches = atomic_load(&st->batches);
	s->batched_ops = atomic_load(&st->batched_ops);
	s->recovered_at_open = st->recovered;
	err = t.err;
	store_rd_end(st, txn);
	return err;
}

void as4_store_pmode_counts_free(struct as4_store_pmode_count *c, size_t n)
{
	for (size_t i = 0; c != NULL && i < n; i++) {
		free(c[i].pmode);
	}
	free(c);
}

as4_err as4_store_pmode_counts(struct as4_store *st, struct as4_store_pmode_count **out, size_t *n,
                               struct as4_diag *d)
{
	*out = NULL;
	*n = 0;
	struct as4_store_pmode_count *v = NULL;
	size_t cnt = 0, cap = 0;
	MDB_txn *txn;
	MDB_cursor *c = NULL;
	as4_err err = store_rd_begin(st, &txn, d);
	if (err != AS4_OK) {
		return err;
	}
	int rc = mdb_cursor_open(txn, st->db[DB_META], &c);
	if (rc != MDB_SUCCESS) {
		err = store_fail(d, rc, "open meta cursor");
		goto out;
	}
	static const char pre[] = "pcnt/";
	MDB_val key = {sizeof(pre) - 1, (void *)(uintptr_t)pre}, val;
	rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
	/* keys sort by state digit, then PMode id: collect, then order by PMode id */
	while (rc == MDB_SUCCESS && key.mv_size > sizeof(pre) + 1 &&
	       memcmp(key.mv_data, pre, sizeof(pre) - 1) == 0) {
		const char *k = (const char *)key.mv_data + sizeof(pre) - 1;
		size_t kn = key.mv_size - (sizeof(pre) - 1);
		const char *slash = memchr(k, '/', kn);
		uint64_t state = 0;
		char num[8];
		size_t dn = slash != NULL ? (size_t)(slash - k) : 0;
		if (slash == NULL || dn == 0 || dn >= sizeof(num) || val.mv_size != 8) {
			err = as4_diag_set(d, AS4_E_CORRUPT, "store: malformed PMode counter");
			goto out;
		}
		memcpy(num, k, dn);
		num[dn] = '\0';
		uint64_t count = store_be64_get(val.mv_data);
		if (as4_parse_u64(num, AS4_ST__COUNT - 1, &state) != AS4_OK || state == 0) {
			err = as4_diag_set(d, AS4_E_CORRUPT, "store: malformed PMode counter");
			goto out;
		}
		if (count > 0) {
			if (cnt == cap) {
				size_t ncap = cap ? cap * 2 : 32;
				struct as4_store_pmode_count *nv = realloc(v, ncap * sizeof(*v));
				if (nv == NULL) {
					err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
					goto out;
				}
				v = nv;
				cap = ncap;
			}
			v[cnt].pmode = as4_str_ndup(slash + 1, kn - dn - 1);
			v[cnt].state = (enum as4_msg_state)state;
			v[cnt].count = count;
			if (v[cnt].pmode == NULL) {
				err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
				goto out;
			}
			cnt++;
		}
		rc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
		err = store_fail(d, rc, "read PMode counters");
		goto out;
	}
	/* insertion sort by (PMode, state): a few dozen entries */
	for (size_t i = 1; i < cnt; i++) {
		struct as4_store_pmode_count x = v[i];
		size_t j = i;
		while (j > 0) {
			int cmp = strcmp(v[j - 1].pmode, x.pmode);
			if (cmp < 0 || (cmp == 0 && v[j - 1].state < x.state)) {
				break;
			}
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
	*out = v;
	*n = cnt;
	v = NULL;
	cnt = 0;
out:
	mdb_cursor_close(c);
	store_rd_end(st, txn);
	as4_store_pmode_counts_free(v, cnt);
	return err;
}
