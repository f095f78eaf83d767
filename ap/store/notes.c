/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The backend notification outbox: documents queued in order (alone or inside a state
 * change's transaction), listed in order, removed when delivered.
 */
#include <stdlib.h>
#include <string.h>

#include "as4/str.h"
#include "as4/time.h"
#include "store_int.h"

/* Value layout: time_ms(8) msg_id(8) document. */
#define NOTE_HEAD 16u

void store_tx_note(struct stxn *t, uint64_t msg_id, const char *doc, uint64_t *seq)
{
	if (t->err != AS4_OK) {
		return;
	}
	size_t len = strlen(doc);
	uint8_t *v = malloc(NOTE_HEAD + len);
	if (v == NULL) {
		store_tx_fail(t, AS4_E_NOMEM, "store: out of memory");
		return;
	}
	uint64_t next = store_tx_counter(t, "note_seq") + 1;
	uint8_t k[8];
	store_be64_put(k, next);
	store_tx_put(t, DB_META, "note_seq", 8, k, sizeof(k));
	store_be64_put(v, (uint64_t)as4_time_now_ms());
	store_be64_put(v + 8, msg_id);
	memcpy(v + NOTE_HEAD, doc, len);
	store_tx_put_noover(t, DB_NOTES, k, sizeof(k), v, NOTE_HEAD + len);
	store_tx_counter_add(t, "notes", 1);
	free(v);
	if (seq != NULL && t->err == AS4_OK) {
		*seq = next;
	}
}

void store_op_note_add(struct stxn *t, struct wop *op)
{
	uint64_t seq = 0;
	store_tx_note(t, op->id, op->s1, &seq);
	op->bytes = seq;
}

void store_op_note_done(struct stxn *t, struct wop *op)
{
	uint8_t k[8];
	store_be64_put(k, op->id);
	MDB_val v;
	if (!store_tx_get(t, DB_NOTES, k, sizeof(k), &v)) {
		store_tx_fail(t, AS4_E_NOTFOUND, "store: no notification %llu",
		              (unsigned long long)op->id);
		return;
	}
	store_tx_del(t, DB_NOTES, k, sizeof(k));
	store_tx_counter_add(t, "notes", -1);
}

void as4_store_notes_free(struct as4_store_note *notes, size_t n)
{
	for (size_t i = 0; notes != NULL && i < n; i++) {
		free(notes[i].doc);
	}
	free(notes);
}

as4_err as4_store_note_list(struct as4_store *st, uint64_t after_seq, size_t limit,
                            struct as4_store_note **out, size_t *n, struct as4_diag *d)
{
	*out = NULL;
	*n = 0;
	if (limit == 0 || limit > STORE_PAGE_MAX) {
		return as4_diag_set(d, AS4_E_INVAL, "store: notification page size must be 1..%u",
		                    STORE_PAGE_MAX);
	}
	if (after_seq == UINT64_MAX) {
		return AS4_OK;
	}
	struct as4_store_note *arr = calloc(limit, sizeof(*arr));
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
	int rc = mdb_cursor_open(txn, st->db[DB_NOTES], &c);
	if (rc != MDB_SUCCESS) {
		err = store_fail(d, rc, "open cursor");
		goto out;
	}
	uint8_t k[8];
	store_be64_put(k, after_seq + 1);
	MDB_val key = {8, k}, val;
	rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
	while (rc == MDB_SUCCESS && cnt < limit) {
		if (key.mv_size != 8 || val.mv_size < NOTE_HEAD) {
			err = as4_diag_set(d, AS4_E_CORRUPT, "store: notification entry damaged");
			goto out;
		}
		const uint8_t *p = val.mv_data;
		struct as4_store_note *e = &arr[cnt];
		e->seq = store_be64_get(key.mv_data);
		e->time_ms = (int64_t)store_be64_get(p);
		e->msg_id = store_be64_get(p + 8);
		e->doc = as4_str_ndup((const char *)p + NOTE_HEAD, val.mv_size - NOTE_HEAD);
		if (e->doc == NULL) {
			err = AS4_E_NOMEM;
			goto out;
		}
		cnt++;
		rc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
		err = store_fail(d, rc, "read notifications");
	}
out:
	if (c != NULL) {
		mdb_cursor_close(c);
	}
	store_rd_end(st, txn);
	if (err != AS4_OK || cnt == 0) {
		as4_store_notes_free(arr, cnt);
		return err;
	}
	*out = arr;
	*n = cnt;
	return AS4_OK;
}
