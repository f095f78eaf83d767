/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The single writer thread and its group commit. Callers enqueue operations; the writer takes
 * everything pending (up to opts.max_batch), makes the batch's spool files durable, runs one
 * LMDB write transaction with a nested transaction per operation (a failing operation is rolled
 * back alone), commits once (LMDB's synchronous commit: the batch shares its fdatasyncs), and
 * only then wakes the callers. Files made obsolete by the batch are deleted after the commit.
 */
#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* Map resizes attempted for one batch before its operations fail with AS4_E_SPACE. */
#define GROW_TRIES 8

void store_wop_init(struct wop *op, enum wop_kind kind)
{
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->raw_file = -1;
	op->receipt_file = -1;
	as4_diag_init(&op->diag);
}

void store_wop_cleanup(struct wop *op)
{
	store_name_list_cleanup(&op->unlink);
	as4_msgrec_array_free(op->out_recs, op->out_n);
	op->out_recs = NULL;
	op->out_n = 0;
}

/* Grow the map (exclusive against readers). Returns an LMDB code. */
static int grow_map(struct as4_store *st, uint64_t bytes)
{
	if (pthread_rwlock_wrlock(&st->maplock) != 0) {
		return EINVAL;
	}
	int rc = mdb_env_set_mapsize(st->env, (size_t)bytes);
	if (rc == MDB_SUCCESS) {
		MDB_envinfo info;
		if (mdb_env_info(st->env, &info) == MDB_SUCCESS) {
			st->map_size = info.me_mapsize;
		}
	}
	pthread_rwlock_unlock(&st->maplock);
	return rc;
}

/* The next size to try after map-full, or 0 when the map may not grow. */
static uint64_t next_map_size(const struct as4_store *st)
{
	if (st->opts.map_max <= st->map_size) {
		return 0;
	}
	uint64_t next = st->map_size * 2;
	return next > st->opts.map_max ? st->opts.map_max : next;
}

static void reset_result(struct wop *op)
{
	op->err = AS4_OK;
	as4_diag_init(&op->diag);
}

/*
 * Run the ops not yet committed and without an error in one transaction. nested: each op in a
 * child transaction, so that a failing one is rolled back alone and the others commit.
 * Otherwise all of them run in the one transaction: a child makes its own copy of every page
 * the batch already dirtied (a page malloc, clear and copy each), which in a batch of
 * submissions and state changes touching the same index and counter pages was most of the
 * writer's work. Then the first op that fails aborts the transaction with nothing committed
 * and *op_failed is set: the caller runs the batch again nested (failures are rare:
 * duplicates, a state that changed, a full map).
 */
static int run_txn(struct as4_store *st, struct wop **ops, size_t n, bool nested, bool *space,
                   bool *op_failed)
{
	MDB_txn *parent = NULL;
	int rc = mdb_txn_begin(st->env, NULL, 0, &parent);
	if (rc != MDB_SUCCESS) {
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		struct wop *op = ops[i];
		if (op->err != AS4_OK || op->committed) {
			continue;
		}
		if (!nested) {
			struct stxn t = {st, parent, AS4_OK, &op->diag};
			store_op_run(&t, op);
			if (t.err != AS4_OK) {
				mdb_txn_abort(parent);
				reset_result(op);
				*op_failed = true;
				return MDB_SUCCESS;
			}
			continue;
		}
		MDB_txn *child = NULL;
		rc = mdb_txn_begin(st->env, parent, 0, &child);
		if (rc != MDB_SUCCESS) {
			mdb_txn_abort(parent);
			return rc;
		}
		struct stxn t = {st, child, AS4_OK, &op->diag};
		store_op_run(&t, op);
		if (t.err == AS4_OK) {
			rc = mdb_txn_commit(child);
			if (rc != MDB_SUCCESS) {
				op->err = store_fail(&op->diag, rc, "commit operation");
			}
		} else {
			mdb_txn_abort(child);
			op->err = t.err;
		}
		if (op->err == AS4_E_SPACE) {
			*space = true;
		}
	}
	return mdb_txn_commit(parent);
}

/* run_txn() in one flat transaction, again nested when an op failed in it. */
static int run_batch(struct as4_store *st, struct wop **ops, size_t n, bool *space)
{
	bool op_failed = false;
	int rc = run_txn(st, ops, n, false, space, &op_failed);
	if (rc == MDB_SUCCESS && op_failed) {
		rc = run_txn(st, ops, n, true, space, &op_failed);
	}
	return rc;
}

/* Fail the ops not committed that have no error yet. */
static void fail_rest(struct wop **ops, size_t n, int rc, const char *what)
{
	for (size_t i = 0; i < n; i++) {
		if (!ops[i]->committed && ops[i]->err == AS4_OK) {
			ops[i]->err = store_fail(&ops[i]->diag, rc, what);
		}
	}
}

static void commit_batch(struct as4_store *st, struct wop **ops, size_t n)
{
	for (int tries = 0;; tries++) {
		bool space = false;
		int rc = run_batch(st, ops, n, &space);
		bool can_grow = tries < GROW_TRIES && next_map_size(st) != 0;
		if (rc == MDB_SUCCESS) {
			for (size_t i = 0; i < n; i++) {
				ops[i]->committed = ops[i]->err == AS4_OK;
			}
			if (!space || !can_grow) {
				return;
			}
			/* The others are durable; the ones that ran out of map run again. */
			for (size_t i = 0; i < n; i++) {
				if (ops[i]->err == AS4_E_SPACE) {
					reset_result(ops[i]);
				}
			}
		} else if (rc == MDB_MAP_FULL && can_grow) {
			for (size_t i = 0; i < n; i++) {
				reset_result(ops[i]);
			}
		} else if (n > 1) {
			/* Split: one transaction per operation so that one cannot fail the others.
			 */
			for (size_t i = 0; i < n; i++) {
				reset_result(ops[i]);
				bool sp = false;
				int r1 = run_batch(st, &ops[i], 1, &sp);
				if (r1 != MDB_SUCCESS) {
					fail_rest(&ops[i], 1, r1, "commit");
				}
			}
			return;
		} else {
			fail_rest(ops, n, rc, "commit");
			return;
		}
		int grc = grow_map(st, next_map_size(st));
		if (grc != MDB_SUCCESS) {
			fail_rest(ops, n, grc, "grow map");
			return;
		}
	}
}

static void process(struct as4_store *st, struct wop **ops, size_t n)
{
	struct wop **live = calloc(n, sizeof(*live));
	size_t nl = 0;
	if (live == NULL) {
		for (size_t i = 0; i < n; i++) {
			ops[i]->err = AS4_E_NOMEM;
		}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct wop *op = ops[i];
		reset_result(op);
		op->committed = false;
		if (op->kind == WOP_GROW) {
			int rc = op->bytes > st->map_size ? grow_map(st, op->bytes) : EINVAL;
			if (rc == EINVAL) {
				op->err = as4_diag_set(&op->diag, AS4_E_INVAL,
				                       "store: the map is already %llu bytes",
				                       (unsigned long long)st->map_size);
			} else if (rc != MDB_SUCCESS) {
				op->err = store_fail(&op->diag, rc, "grow map");
			}
			continue;
		}
		live[nl++] = op;
	}
	struct as4_diag sd;
	as4_diag_init(&sd);
	as4_err serr = store_spool_sync_batch(st, live, nl, &sd);
	if (serr != AS4_OK) {
		/* Only the operations that brought files depend on the failed sync. */
		for (size_t i = 0; i < nl; i++) {
			if (live[i]->n_files > 0) {
				live[i]->err = serr;
				live[i]->diag = sd;
			}
		}
	}
	if (nl > 0) {
		commit_batch(st, live, nl);
	}
	/* Durable now: obsolete files go; files of failed operations were never referenced. */
	for (size_t i = 0; i < nl; i++) {
		struct wop *op = live[i];
		if (op->err == AS4_OK) {
			for (size_t j = 0; j < op->unlink.n; j++) {
				store_spool_unlink(st, op->unlink.names[j]);
			}
		} else {
			for (size_t j = 0; j < op->n_files; j++) {
				store_spool_unlink(st, op->files[j].name);
			}
		}
	}
	atomic_fetch_add(&st->batches, 1);
	atomic_fetch_add(&st->batched_ops, nl);
	free(live);
}

static void *writer_main(void *arg)
{
	struct as4_store *st = arg;
	size_t cap = st->opts.max_batch;
	struct wop **ops = calloc(cap, sizeof(*ops));
	for (;;) {
		pthread_mutex_lock(&st->qlock);
		while (st->head == NULL && !st->stopping) {
			pthread_cond_wait(&st->qcond, &st->qlock);
		}
		if (st->head == NULL) {
			pthread_mutex_unlock(&st->qlock);
			break;
		}
		size_t n = 0;
		size_t take = ops != NULL ? cap : 1;
		struct wop *single[1];
		struct wop **batch = ops != NULL ? ops : single;
		while (st->head != NULL && n < take) {
			batch[n++] = st->head;
			st->head = st->head->next;
		}
		if (st->head == NULL) {
			st->tail = NULL;
		}
		pthread_mutex_unlock(&st->qlock);

		process(st, batch, n);

		/*
		 * Blocking callers may free their op as soon as they see it finished, and async ops
		 * are freed by their callback: pick the async ones first, touch nothing after.
		 */
		size_t na = 0;
		for (size_t i = 0; i < n; i++) {
			if (batch[i]->done != NULL) {
				struct wop *t = batch[na];
				batch[na++] = batch[i];
				batch[i] = t;
			}
		}
		/* each caller is woken alone: a broadcast woke every waiting caller per batch */
		for (size_t i = na; i < n; i++) {
			struct wop *op = batch[i];
			op->finished = true;
			sem_post(&op->wake); /* op may be gone after this */
		}
		for (size_t i = 0; i < na; i++) {
			batch[i]->done(batch[i]->ctx, batch[i]->err, &batch[i]->diag);
		}
	}
	free(ops);
	return NULL;
}

as4_err store_writer_start(struct as4_store *st, struct as4_diag *d)
{
	if (pthread_create(&st->writer, NULL, writer_main, st) != 0) {
		return as4_diag_set(d, AS4_E_NOMEM, "store: cannot start the writer thread");
	}
	st->writer_running = true;
	return AS4_OK;
}

void store_writer_stop(struct as4_store *st)
{
	if (!st->writer_running) {
		return;
	}
	pthread_mutex_lock(&st->qlock);
	st->stopping = true;
	pthread_cond_signal(&st->qcond);
	pthread_mutex_unlock(&st->qlock);
	pthread_join(st->writer, NULL);
	st->writer_running = false;
}

as4_err store_writer_submit(struct as4_store *st, struct wop *op)
{
	pthread_mutex_lock(&st->qlock);
	if (st->stopping) {
		pthread_mutex_unlock(&st->qlock);
		op->err = as4_diag_set(&op->diag, AS4_E_BUSY, "store: closing");
		return op->err;
	}
	op->next = NULL;
	op->finished = false;
	if (op->done == NULL) {
		sem_init(&op->wake, 0, 0);
	}
	if (st->tail != NULL) {
		st->tail->next = op;
	} else {
		st->head = op;
	}
	st->tail = op;
	pthread_cond_signal(&st->qcond);
	if (op->done != NULL) {
		pthread_mutex_unlock(&st->qlock);
		return AS4_OK;
	}
	pthread_mutex_unlock(&st->qlock);
	while (sem_wait(&op->wake) != 0) {
		/* EINTR: a signal; the writer posts exactly once */
	}
	sem_destroy(&op->wake);
	return op->err;
}
