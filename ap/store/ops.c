/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Write operations, run by the writer thread inside a transaction (one nested transaction per
 * operation). Nothing here touches the file system except through the unlink list, which the
 * writer works off only after the commit is durable: an operation may run more than once
 * (after a map resize or when a batch is split), so it must only change the transaction and
 * its own outputs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as4/str.h"
#include "as4/time.h"
#include "store_int.h"

/* Records above this size are refused (LMDB would store them, but nothing legitimate is). */
#define REC_MAX (64u * 1024u * 1024u)
/* Default per-call batch for retention purge and duplicate pruning. */
#define PRUNE_DEFAULT 10000u

bool store_tx_load(struct stxn *t, uint64_t id, struct as4_msgrec *rec)
{
	as4_msgrec_init(rec);
	uint8_t k[8];
	store_be64_put(k, id);
	MDB_val v;
	if (!store_tx_get(t, DB_MSG, k, sizeof(k), &v)) {
		store_tx_fail(t, AS4_E_NOTFOUND, "store: no message with id %llu",
		              (unsigned long long)id);
		return false;
	}
	as4_err err = store_rec_decode(v.mv_data, v.mv_size, rec);
	if (err != AS4_OK) {
		store_tx_fail(t, err, "store: record of message id %llu is damaged",
		              (unsigned long long)id);
		return false;
	}
	return true;
}

static void tx_save(struct stxn *t, const struct as4_msgrec *rec)
{
	if (t->err != AS4_OK) {
		return;
	}
	struct as4_buf b;
	as4_buf_init(&b, REC_MAX);
	as4_err err = store_rec_encode(rec, &b);
	if (err != AS4_OK) {
		store_tx_fail(t, err, "store: cannot encode message %llu (%s)",
		              (unsigned long long)rec->id, as4_strerror(err));
	} else {
		uint8_t k[8];
		store_be64_put(k, rec->id);
		store_tx_put(t, DB_MSG, k, sizeof(k), b.data, b.len);
	}
	as4_buf_cleanup(&b);
}

static void tx_event(struct stxn *t, struct as4_msgrec *rec, enum as4_msg_state from,
                     const char *reason, const char *code, const char *detail, int64_t now)
{
	if (t->err != AS4_OK) {
		return;
	}
	struct as4_store_event ev = {
	        .time_ms = now,
	        .from_state = from,
	        .to_state = rec->state,
	        .reason = (char *)(uintptr_t)reason,
	        .ebms_code = (char *)(uintptr_t)code,
	        .detail = (char *)(uintptr_t)detail,
	};
	struct as4_buf b;
	as4_buf_init(&b, 4 * STORE_TEXT_MAX);
	as4_err err = store_ev_encode(&ev, &b);
	if (err != AS4_OK) {
		store_tx_fail(t, err, "store: cannot encode event");
	} else {
		uint8_t k[12];
		store_be64_put(k, rec->id);
		store_be32_put(k + 8, rec->n_events);
		store_tx_put_noover(t, DB_EVENTS, k, sizeof(k), b.data, b.len);
		rec->n_events++;
	}
	as4_buf_cleanup(&b);
}

static bool due_state(enum as4_msg_state s)
{
	return s == AS4_ST_QUEUED || s == AS4_ST_RETRYING;
}

static bool inbox_state(enum as4_msg_state s)
{
	return s == AS4_ST_RECEIVED || s == AS4_ST_BACKEND_FAILED;
}

static void state_counter(struct stxn *t, enum as4_msg_state s, int64_t delta)
{
	char name[16];
	if (as4_str_fmt(name, sizeof(name), "cnt/%u", (unsigned)s) == AS4_OK) {
		store_tx_counter_add(t, name, delta);
	}
}

/* The per-PMode count of rec's state ("pcnt/<state>/<pmode>"); ids too long for a key skip. */
static void pmode_counter(struct stxn *t, const struct as4_msgrec *rec, int64_t delta)
{
	char name[PCNT_KEY_MAX];
	if (rec->pmode_id != NULL && rec->pmode_id[0] != '\0' &&
	    as4_str_fmt(name, sizeof(name), "pcnt/%u/%s", (unsigned)rec->state, rec->pmode_id) ==
	            AS4_OK) {
		store_tx_counter_add(t, name, delta);
	}
}

/*
 * Add (or remove) everything derived from rec's current fields: search indexes, the due
 * entry, inbox membership and the per-state counters. Called with add=false before a record
 * changes and add=true after, so every derived entry always matches the stored record.
 */
static void derived_rest(struct stxn *t, const struct as4_msgrec *rec, bool add);

static void derived(struct stxn *t, const struct as4_msgrec *rec, bool add)
{
	if (add) {
		store_idx_put_all(t, rec);
	} else {
		store_idx_del_all(t, rec);
	}
	derived_rest(t, rec, add);
}

/* derived() without the search indexes: the due entry, the inbox and the counters. */
static void derived_rest(struct stxn *t, const struct as4_msgrec *rec, bool add)
{
	uint8_t k[16];
	if (due_state(rec->state)) {
		store_be64_put(k, (uint64_t)rec->next_due_ms);
		store_be64_put(k + 8, rec->id);
		if (add) {
			const char *peer = as4_msgrec_peer_key(rec);
			store_tx_put(t, DB_DUE, k, sizeof(k), peer, strlen(peer));
		} else {
			store_tx_del(t, DB_DUE, k, sizeof(k));
		}
	}
	if (inbox_state(rec->state)) {
		store_be64_put(k, rec->id);
		if (add) {
			store_tx_put(t, DB_INBOX, k, 8, "", 0);
		} else {
			store_tx_del(t, DB_INBOX, k, 8);
		}
		store_tx_counter_add(t, "inbox", add ? 1 : -1);
	}
	state_counter(t, rec->state, add ? 1 : -1);
	pmode_counter(t, rec, add ? 1 : -1);
}

/* A new spool file becomes referenced by message id. */
static void file_adopt(struct stxn *t, uint64_t id, const struct spool_new *f)
{
	uint8_t v[16];
	store_be64_put(v, id);
	store_be64_put(v + 8, f->size);
	store_tx_put_noover(t, DB_FILES, f->name, strlen(f->name), v, sizeof(v));
	store_tx_counter_add(t, "spool_bytes", (int64_t)f->size);
	if (store_spool_name_inline(f->name)) {
		store_tx_put_noover(t, DB_BLOBS, f->name, strlen(f->name),
		                    f->size > 0 ? f->inline_data : (const uint8_t *)"", f->size);
	}
}

/* A referenced spool file is dropped: it is deleted once the commit is durable. */
static void file_forget(struct stxn *t, struct name_list *unlink, const char *name)
{
	MDB_val v;
	if (name == NULL || t->err != AS4_OK) {
		return;
	}
	if (store_tx_get(t, DB_FILES, name, strlen(name), &v) && v.mv_size == 16) {
		store_tx_counter_add(t, "spool_bytes",
		                     -(int64_t)store_be64_get((const uint8_t *)v.mv_data + 8));
	}
	store_tx_del(t, DB_FILES, name, strlen(name));
	if (store_spool_name_inline(name) && store_tx_get(t, DB_BLOBS, name, strlen(name), &v)) {
		store_tx_del(t, DB_BLOBS, name, strlen(name));
	}
	/* an inline blob may have a copy on disk (as4_store_spool_path): it goes too */
	if (t->err == AS4_OK && store_spool_name_valid(name)) {
		as4_err err = store_name_list_add(unlink, name);
		if (err != AS4_OK) {
			store_tx_fail(t, err, "store: out of memory");
		}
	}
}

static void set_str(struct stxn *t, char **dst, const char *src)
{
	if (t->err == AS4_OK && !store_str_set(dst, src)) {
		store_tx_fail(t, AS4_E_NOMEM, "store: out of memory");
	}
}

/* The summary of a Receipt being stored (NULL: none known). */
static void set_rinfo(struct stxn *t, struct as4_store_receipt_info *dst,
                      const struct as4_store_receipt_info *src)
{
	if (t->err == AS4_OK && !store_rinfo_copy(dst, src)) {
		store_tx_fail(t, AS4_E_NOMEM, "store: out of memory");
	}
}

static void replace_sigrefs(struct stxn *t, struct as4_msgrec *rec,
                            const struct as4_store_sigref *refs, size_t n)
{
	for (size_t i = 0; i < rec->n_signed_refs; i++) {
		free(rec->signed_refs[i].uri);
		free(rec->signed_refs[i].digest_method);
		free(rec->signed_refs[i].digest_value);
	}
	free(rec->signed_refs);
	rec->signed_refs = calloc(n, sizeof(*rec->signed_refs));
	rec->n_signed_refs = 0;
	if (rec->signed_refs == NULL) {
		store_tx_fail(t, AS4_E_NOMEM, "store: out of memory");
		return;
	}
	rec->n_signed_refs = n;
	for (size_t i = 0; i < n; i++) {
		set_str(t, &rec->signed_refs[i].uri, refs[i].uri);
		set_str(t, &rec->signed_refs[i].digest_method, refs[i].digest_method);
		set_str(t, &rec->signed_refs[i].digest_value, refs[i].digest_value);
	}
}

/* What a state change brings with it besides the update fields. */
struct change {
	const struct spool_new *raw;     /* new raw message file, or NULL */
	const struct spool_new *receipt; /* new receipt file, or NULL */
	struct name_list *unlink;        /* replaced files go here */
	int64_t now;
};

static void apply_update(struct stxn *t, struct as4_msgrec *rec, const struct as4_store_update *u,
                         const struct change *c)
{
	if (t->err != AS4_OK) {
		return;
	}
	if (u->expect != 0 && (u->expect & (1u << rec->state)) == 0) {
		store_tx_fail(t, AS4_E_STATE,
		              "store: message %llu is %s, not in the expected state",
		              (unsigned long long)rec->id, as4_msg_state_text(rec->state));
		return;
	}
	if (!as4_msg_state_allowed(rec->state, u->to)) {
		store_tx_fail(t, AS4_E_STATE, "store: message %llu cannot go from %s to %s",
		              (unsigned long long)rec->id, as4_msg_state_text(rec->state),
		              as4_msg_state_text(u->to));
		return;
	}
	enum as4_msg_state from = rec->state;
	/* the writer thread's stack: 5 KB of keys */
	struct store_idx_set before;
	store_idx_collect(rec, &before);
	derived_rest(t, rec, false);
	rec->state = u->to;
	rec->updated_ms = c->now;
	if (u->ebms_code != NULL) {
		set_str(t, &rec->last_error_code, u->ebms_code);
	}
	if (u->detail != NULL) {
		set_str(t, &rec->last_error_detail, u->detail);
	}
	if (u->endpoint_url != NULL) {
		set_str(t, &rec->endpoint_url, u->endpoint_url);
	}
	if (u->receiver_cert_pem != NULL) {
		set_str(t, &rec->receiver_cert_pem, u->receiver_cert_pem);
	}
	if (u->to_value != NULL) {
		set_str(t, &rec->to.value, u->to_value);
	}
	if (u->n_signed_refs > 0) {
		replace_sigrefs(t, rec, u->signed_refs, u->n_signed_refs);
	}
	if (c->raw != NULL) {
		file_forget(t, c->unlink, rec->raw_file);
		set_str(t, &rec->raw_file, c->raw->name);
		file_adopt(t, rec->id, c->raw);
	}
	if (c->receipt != NULL) {
		file_forget(t, c->unlink, rec->receipt_file);
		set_str(t, &rec->receipt_file, c->receipt->name);
		file_adopt(t, rec->id, c->receipt);
		set_rinfo(t, &rec->receipt_info, u->receipt_info);
	}
	if (u->to == AS4_ST_SENDING && from != AS4_ST_SENDING) {
		rec->attempts++;
	}
	if (u->to == AS4_ST_QUEUED && from == AS4_ST_FAILED) {
		/* an admin's retry: a fresh series of attempts */
		rec->attempts = 0;
		rec->queued_ms = c->now;
	}
	rec->next_due_ms = due_state(u->to) ? (u->next_due_ms > 0 ? u->next_due_ms : c->now) : 0;
	if (u->to == AS4_ST_BACKEND_ACKED) {
		rec->acked = true;
	}
	derived_rest(t, rec, true);
	store_idx_update(t, &before, rec);
	tx_event(t, rec, from, u->reason, u->ebms_code, u->detail, c->now);
	tx_save(t, rec);
}

/* ---- put ---- */

/* True when an outbound message with this MessageId exists. */
static bool outbound_exists(struct stxn *t, const char *message_id, uint64_t *found)
{
	uint8_t pre[1 + IKEY_LEN + 1];
	pre[0] = IDX_MSGID;
	size_t pn = 1 + store_ikey(message_id, pre + 1);
	pre[pn++] = 0;
	MDB_cursor *c = NULL;
	int rc = mdb_cursor_open(t->txn, t->st->db[DB_IDX], &c);
	if (rc != MDB_SUCCESS) {
		store_tx_fail(t, store_err(rc), "store: open cursor: %s", mdb_strerror(rc));
		return false;
	}
	uint64_t ids[64];
	size_t n = 0;
	MDB_val key = {pn, pre}, val;
	rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
	while (rc == MDB_SUCCESS && n < AS4_ARRAY_LEN(ids) && key.mv_size == pn + 16 &&
	       memcmp(key.mv_data, pre, pn) == 0) {
		ids[n++] = store_be64_get((const uint8_t *)key.mv_data + pn + 8);
		rc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
	}
	mdb_cursor_close(c);
	for (size_t i = 0; i < n; i++) {
		struct as4_msgrec r;
		if (store_tx_load(t, ids[i], &r) && r.dir == AS4_DIR_OUT &&
		    strcmp(r.message_id, message_id) == 0) {
			*found = ids[i];
			as4_msgrec_cleanup(&r);
			return true;
		}
		as4_msgrec_cleanup(&r);
	}
	return false;
}

static void op_put(struct stxn *t, struct wop *op)
{
	struct as4_msgrec *rec = op->rec;
	const struct as4_store_put *p = op->put;
	int64_t now = as4_time_now_ms();
	uint8_t dk[IKEY_LEN + 1];
	size_t dn = store_ikey(rec->message_id, dk);
	MDB_val v;
	if (rec->dir == AS4_DIR_IN && p->check_duplicate && store_tx_get(t, DB_DEDUP, dk, dn, &v)) {
		uint64_t dup = v.mv_size == 16 ? store_be64_get((const uint8_t *)v.mv_data + 8) : 0;
		if (op->dup_id != NULL) {
			*op->dup_id = dup;
		}
		store_tx_fail(t, AS4_E_EXISTS,
		              "store: duplicate MessageId %s (stored as message %llu)",
		              rec->message_id, (unsigned long long)dup);
		return;
	}
	uint64_t dup = 0;
	if (rec->dir == AS4_DIR_OUT && outbound_exists(t, rec->message_id, &dup)) {
		if (op->dup_id != NULL) {
			*op->dup_id = dup;
		}
		store_tx_fail(t, AS4_E_EXISTS,
		              "store: an outbound message with MessageId %s exists (%llu)",
		              rec->message_id, (unsigned long long)dup);
		return;
	}
	uint64_t id = store_tx_counter(t, "next_id") + 1;
	uint8_t nb[8];
	store_be64_put(nb, id);
	store_tx_put(t, DB_META, "next_id", 7, nb, sizeof(nb));
	if (t->err != AS4_OK) {
		return;
	}
	rec->id = id;
	rec->state = rec->dir == AS4_DIR_IN ? AS4_ST_RECEIVED : AS4_ST_QUEUED;
	rec->created_ms = rec->updated_ms = now;
	rec->attempts = 0;
	rec->acked = false;
	rec->purged_ms = 0;
	rec->n_events = 0;
	rec->next_due_ms = rec->dir == AS4_DIR_OUT ? (p->due_ms > 0 ? p->due_ms : now) : 0;
	rec->queued_ms = rec->dir == AS4_DIR_OUT ? now : 0;
	for (size_t i = 0; i < rec->n_payloads; i++) {
		struct as4_store_payload *pl = &rec->payloads[i];
		set_str(t, &pl->file, op->files[i].name);
		pl->size = op->files[i].size;
		memcpy(pl->sha256, op->files[i].sha256, sizeof(pl->sha256));
		file_adopt(t, id, &op->files[i]);
	}
	set_str(t, &rec->raw_file, op->raw_file >= 0 ? op->files[op->raw_file].name : NULL);
	set_str(t, &rec->receipt_file,
	        op->receipt_file >= 0 ? op->files[op->receipt_file].name : NULL);
	if (op->raw_file >= 0) {
		file_adopt(t, id, &op->files[op->raw_file]);
	}
	if (op->receipt_file >= 0) {
		file_adopt(t, id, &op->files[op->receipt_file]);
	}
	set_rinfo(t, &rec->receipt_info, op->receipt_file >= 0 ? p->receipt_info : NULL);
	derived(t, rec, true);
	store_tx_counter_add(t, "msgs", 1);
	if (rec->dir == AS4_DIR_IN) {
		/* The window holds the latest copy: an older entry's age key goes with it. */
		uint8_t ak[8 + IKEY_LEN + 1];
		if (store_tx_get(t, DB_DEDUP, dk, dn, &v) && v.mv_size == 16) {
			memcpy(ak, v.mv_data, 8);
			memcpy(ak + 8, dk, dn);
			store_tx_del(t, DB_DEDUP_AGE, ak, 8 + dn);
		} else {
			store_tx_counter_add(t, "dedup", 1);
		}
		uint8_t dv[16];
		store_be64_put(dv, (uint64_t)now);
		store_be64_put(dv + 8, id);
		store_tx_put(t, DB_DEDUP, dk, dn, dv, sizeof(dv));
		memcpy(ak, dv, 8);
		memcpy(ak + 8, dk, dn);
		store_tx_put(t, DB_DEDUP_AGE, ak, 8 + dn, "", 0);
	}
	tx_event(t, rec, AS4_ST_NONE, rec->dir == AS4_DIR_IN ? "received" : "submitted", NULL, NULL,
	         now);
	tx_save(t, rec);
	if (rec->dir == AS4_DIR_OUT && p->claim) {
		struct as4_store_update u = {.to = AS4_ST_SENDING,
		                             .reason = "claimed for attempt 1"};
		struct change ch = {.unlink = &op->unlink, .now = now};
		apply_update(t, rec, &u, &ch);
	}
}

/* ---- transition, claim ---- */

static void op_transition(struct stxn *t, struct wop *op)
{
	struct as4_msgrec rec;
	if (store_tx_load(t, op->id, &rec)) {
		struct change c = {
		        .raw = op->raw_file >= 0 ? &op->files[op->raw_file] : NULL,
		        .receipt = op->receipt_file >= 0 ? &op->files[op->receipt_file] : NULL,
		        .unlink = &op->unlink,
		        .now = as4_time_now_ms(),
		};
		apply_update(t, &rec, op->upd, &c);
		if (op->upd->notify != NULL) {
			store_tx_note(t, rec.id, op->upd->notify, NULL);
		}
	}
	as4_msgrec_cleanup(&rec);
}

/* A few backoff answers remembered during one claim scan. */
struct peer_cache {
	struct {
		const void *p;
		size_t n;
		bool skip;
	} e[32];
	size_t n, next;
};

static bool peer_skipped(struct stxn *t, struct peer_cache *pc, const MDB_val *peer, int64_t now)
{
	for (size_t i = 0; i < pc->n; i++) {
		if (pc->e[i].n == peer->mv_size &&
		    memcmp(pc->e[i].p, peer->mv_data, peer->mv_size) == 0) {
			return pc->e[i].skip;
		}
	}
	bool skip = false;
	MDB_val v;
	if (peer->mv_size > 0 && store_tx_get(t, DB_PEERS, peer->mv_data, peer->mv_size, &v) &&
	    v.mv_size == 8) {
		skip = (int64_t)store_be64_get(v.mv_data) > now;
	}
	size_t slot = pc->n < AS4_ARRAY_LEN(pc->e) ? pc->n++ : (pc->next++ % AS4_ARRAY_LEN(pc->e));
	pc->e[slot].p = peer->mv_data;
	pc->e[slot].n = peer->mv_size;
	pc->e[slot].skip = skip;
	return skip;
}

static void op_claim(struct stxn *t, struct wop *op)
{
	struct {
		uint8_t key[16];
	} *ids = calloc(op->limit, sizeof(*ids));
	size_t n = 0, skipped = 0;
	MDB_cursor *c = NULL;
	if (ids == NULL) {
		store_tx_fail(t, AS4_E_NOMEM, "store: out of memory");
		return;
	}
	int rc = mdb_cursor_open(t->txn, t->st->db[DB_DUE], &c);
	if (rc != MDB_SUCCESS) {
		store_tx_fail(t, store_err(rc), "store: open cursor: %s", mdb_strerror(rc));
		free(ids);
		return;
	}
	/* Scan first (no writes, so the peer values stay valid), then change the records. */
	struct peer_cache pc = {0};
	MDB_val key, val;
	rc = mdb_cursor_get(c, &key, &val, MDB_FIRST);
	while (rc == MDB_SUCCESS && n < op->limit && key.mv_size == 16 &&
	       (int64_t)store_be64_get(key.mv_data) <= op->time_ms) {
		if (peer_skipped(t, &pc, &val, op->time_ms)) {
			if (++skipped >= t->st->opts.claim_scan_max) {
				break;
			}
		} else {
			memcpy(ids[n++].key, key.mv_data, 16);
		}
		rc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
		store_tx_fail(t, store_err(rc), "store: read due queue: %s", mdb_strerror(rc));
	}
	if (t->err == AS4_OK && n > 0) {
		op->out_recs = calloc(n, sizeof(*op->out_recs));
		if (op->out_recs == NULL) {
			store_tx_fail(t, AS4_E_NOMEM, "store: out of memory");
		}
	}
	int64_t now = as4_time_now_ms();
	for (size_t i = 0; i < n && t->err == AS4_OK; i++) {
		struct as4_msgrec *rec = &op->out_recs[op->out_n];
		if (!store_tx_load(t, store_be64_get(ids[i].key + 8), rec)) {
			break;
		}
		if (!due_state(rec->state) ||
		    rec->next_due_ms != (int64_t)store_be64_get(ids[i].key)) {
			/* A due entry the record no longer explains: drop it rather than send. */
			store_tx_del(t, DB_DUE, ids[i].key, 16);
			as4_msgrec_cleanup(rec);
			continue;
		}
		char reason[64];
		if (as4_str_fmt(reason, sizeof(reason), "claimed for attempt %u",
		                rec->attempts + 1) != AS4_OK) {
			reason[0] = '\0';
		}
		struct as4_store_update u = {.to = AS4_ST_SENDING, .reason = reason};
		struct change ch = {.unlink = &op->unlink, .now = now};
		apply_update(t, rec, &u, &ch);
		op->out_n++;
	}
	free(ids);
}

/* ---- backoff, dedup prune, purge, audit ---- */

static void op_backoff(struct stxn *t, struct wop *op)
{
	size_t n = strlen(op->s1);
	if (op->time_ms <= 0) {
		store_tx_del(t, DB_PEERS, op->s1, n);
		return;
	}
	uint8_t v[8];
	store_be64_put(v, (uint64_t)op->time_ms);
	store_tx_put(t, DB_PEERS, op->s1, n, v, sizeof(v));
}

static void op_dedup_prune(struct stxn *t, struct wop *op)
{
	size_t max = op->limit > 0 ? op->limit : PRUNE_DEFAULT;
	MDB_cursor *c = NULL;
	int rc = mdb_cursor_open(t->txn, t->st->db[DB_DEDUP_AGE], &c);
	if (rc != MDB_SUCCESS) {
		store_tx_fail(t, store_err(rc), "store: open cursor: %s", mdb_strerror(rc));
		return;
	}
	/* Always the oldest entry, freshly positioned: deleting never disturbs the walk. */
	while (t->err == AS4_OK && op->out_n < max) {
		MDB_val key, val;
		rc = mdb_cursor_get(c, &key, &val, MDB_FIRST);
		if (rc == MDB_NOTFOUND) {
			break;
		}
		if (rc != MDB_SUCCESS) {
			store_tx_fail(t, store_err(rc), "store: read duplicate window: %s",
			              mdb_strerror(rc));
			break;
		}
		if (key.mv_size < 8 || key.mv_size > 8 + IKEY_LEN) {
			store_tx_fail(t, AS4_E_CORRUPT, "store: duplicate window key damaged");
			break;
		}
		int64_t when = (int64_t)store_be64_get(key.mv_data);
		if (when >= op->time_ms) {
			break;
		}
		uint8_t dk[IKEY_LEN];
		size_t dn = key.mv_size - 8;
		memcpy(dk, (const uint8_t *)key.mv_data + 8, dn);
		rc = mdb_cursor_del(c, 0);
		if (rc != MDB_SUCCESS) {
			store_tx_fail(t, store_err(rc), "store: prune duplicate window: %s",
			              mdb_strerror(rc));
			break;
		}
		MDB_val v;
		if (store_tx_get(t, DB_DEDUP, dk, dn, &v) && v.mv_size == 16 &&
		    (int64_t)store_be64_get(v.mv_data) == when) {
			store_tx_del(t, DB_DEDUP, dk, dn);
			store_tx_counter_add(t, "dedup", -1);
		}
		op->out_n++;
	}
	mdb_cursor_close(c);
}

static void op_purge(struct stxn *t, struct wop *op)
{
	const struct as4_store_purge *sel = op->purge;
	size_t max = sel->max > 0 ? sel->max : PRUNE_DEFAULT;
	uint64_t *ids = calloc(max, sizeof(*ids));
	size_t n = 0, scanned = 0;
	if (ids == NULL) {
		store_tx_fail(t, AS4_E_NOMEM, "store: out of memory");
		return;
	}
	/* Candidates: the IDX_FILES entries of the direction, oldest first, before the cutoff. */
	const char *dir = as4_dir_text(sel->dir);
	uint8_t pre[8];
	size_t pn = strlen(dir);
	pre[0] = IDX_FILES;
	memcpy(pre + 1, dir, pn);
	pre[1 + pn] = 0;
	pn += 2;
	MDB_cursor *c = NULL;
	int rc = mdb_cursor_open(t->txn, t->st->db[DB_IDX], &c);
	if (rc != MDB_SUCCESS) {
		store_tx_fail(t, store_err(rc), "store: open cursor: %s", mdb_strerror(rc));
		free(ids);
		return;
	}
	MDB_val key = {pn, pre}, val;
	rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
	while (rc == MDB_SUCCESS && n < max && scanned < t->st->opts.claim_scan_max &&
	       key.mv_size == pn + 16 && memcmp(key.mv_data, pre, pn) == 0 &&
	       (int64_t)store_be64_get((const uint8_t *)key.mv_data + pn) < sel->before_ms) {
		uint64_t id = store_be64_get((const uint8_t *)key.mv_data + pn + 8);
		struct as4_msgrec r;
		scanned++;
		if (store_tx_load(t, id, &r) && (sel->states & (1u << r.state)) != 0) {
			ids[n++] = id;
		}
		as4_msgrec_cleanup(&r);
		rc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
		store_tx_fail(t, store_err(rc), "store: read index: %s", mdb_strerror(rc));
	}
	int64_t now = as4_time_now_ms();
	for (size_t i = 0; i < n && t->err == AS4_OK; i++) {
		struct as4_msgrec r;
		if (store_tx_load(t, ids[i], &r)) {
			derived(t, &r, false);
			for (size_t j = 0; j < r.n_payloads; j++) {
				file_forget(t, &op->unlink, r.payloads[j].file);
				free(r.payloads[j].file);
				r.payloads[j].file = NULL;
			}
			if (sel->raw_too) {
				file_forget(t, &op->unlink, r.raw_file);
				free(r.raw_file);
				r.raw_file = NULL;
			}
			r.purged_ms = now;
			derived(t, &r, true);
			tx_event(t, &r, r.state,
			         sel->raw_too ? "payloads and raw message deleted by retention"
			                      : "payloads deleted by retention",
			         NULL, NULL, now);
			tx_save(t, &r);
			op->out_n++;
		}
		as4_msgrec_cleanup(&r);
	}
	free(ids);
}

/* Final states: nothing will happen to such a message any more. */
static bool final_state(enum as4_msg_state s)
{
	return s == AS4_ST_DELIVERED || s == AS4_ST_FAILED || s == AS4_ST_BACKEND_ACKED;
}

/* Delete message rec and everything it owns (retention of records). */
static void delete_record(struct stxn *t, struct wop *op, struct as4_msgrec *r)
{
	derived(t, r, false);
	for (size_t j = 0; j < r->n_payloads; j++) {
		file_forget(t, &op->unlink, r->payloads[j].file);
	}
	file_forget(t, &op->unlink, r->raw_file);
	file_forget(t, &op->unlink, r->receipt_file);
	for (uint32_t e = 0; e < r->n_events && t->err == AS4_OK; e++) {
		uint8_t k[12];
		store_be64_put(k, r->id);
		store_be32_put(k + 8, e);
		MDB_val v;
		if (store_tx_get(t, DB_EVENTS, k, sizeof(k), &v)) {
			store_tx_del(t, DB_EVENTS, k, sizeof(k));
		}
	}
	if (r->dir == AS4_DIR_IN) {
		/* its duplicate-window entry, when it still names this message */
		uint8_t dk[IKEY_LEN + 1];
		size_t dn = store_ikey(r->message_id, dk);
		MDB_val v;
		if (store_tx_get(t, DB_DEDUP, dk, dn, &v) && v.mv_size == 16 &&
		    store_be64_get((const uint8_t *)v.mv_data + 8) == r->id) {
			uint8_t ak[8 + IKEY_LEN + 1];
			memcpy(ak, v.mv_data, 8);
			memcpy(ak + 8, dk, dn);
			store_tx_del(t, DB_DEDUP_AGE, ak, 8 + dn);
			store_tx_del(t, DB_DEDUP, dk, dn);
			store_tx_counter_add(t, "dedup", -1);
		}
	}
	uint8_t k[8];
	store_be64_put(k, r->id);
	store_tx_del(t, DB_MSG, k, sizeof(k));
	store_tx_counter_add(t, "msgs", -1);
}

static void op_purge_records(struct stxn *t, struct wop *op)
{
	size_t max = op->limit > 0 ? op->limit : PRUNE_DEFAULT;
	uint64_t *ids = calloc(max, sizeof(*ids));
	size_t n = 0, scanned = 0;
	if (ids == NULL) {
		store_tx_fail(t, AS4_E_NOMEM, "store: out of memory");
		return;
	}
	/* Candidates: the time index (every message), oldest first, before the cutoff. */
	uint8_t pre[1 + IKEY_LEN + 1];
	pre[0] = IDX_TIME;
	size_t pn = 1 + store_ikey("", pre + 1);
	pre[pn++] = 0;
	MDB_cursor *c = NULL;
	int rc = mdb_cursor_open(t->txn, t->st->db[DB_IDX], &c);
	if (rc != MDB_SUCCESS) {
		store_tx_fail(t, store_err(rc), "store: open cursor: %s", mdb_strerror(rc));
		free(ids);
		return;
	}
	MDB_val key = {pn, pre}, val;
	rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
	while (rc == MDB_SUCCESS && n < max && scanned < t->st->opts.claim_scan_max &&
	       key.mv_size == pn + 16 && memcmp(key.mv_data, pre, pn) == 0 &&
	       (int64_t)store_be64_get((const uint8_t *)key.mv_data + pn) < op->time_ms) {
		uint64_t id = store_be64_get((const uint8_t *)key.mv_data + pn + 8);
		struct as4_msgrec r;
		scanned++;
		if (store_tx_load(t, id, &r) && final_state(r.state)) {
			ids[n++] = id;
		}
		as4_msgrec_cleanup(&r);
		rc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
		store_tx_fail(t, store_err(rc), "store: read index: %s", mdb_strerror(rc));
	}
	for (size_t i = 0; i < n && t->err == AS4_OK; i++) {
		struct as4_msgrec r;
		if (store_tx_load(t, ids[i], &r)) {
			delete_record(t, op, &r);
			op->out_n++;
		}
		as4_msgrec_cleanup(&r);
	}
	free(ids);
}

static void op_delete_payloads(struct stxn *t, struct wop *op)
{
	struct as4_msgrec r;
	if (!store_tx_load(t, op->id, &r)) {
		return;
	}
	if (op->states != 0 && (op->states & (1u << r.state)) == 0) {
		store_tx_fail(t, AS4_E_STATE, "store: message %llu is %s",
		              (unsigned long long)op->id, as4_msg_state_text(r.state));
		as4_msgrec_cleanup(&r);
		return;
	}
	size_t files = 0;
	for (size_t j = 0; j < r.n_payloads; j++) {
		files += r.payloads[j].file != NULL;
	}
	if (files > 0) {
		derived(t, &r, false);
		for (size_t j = 0; j < r.n_payloads; j++) {
			file_forget(t, &op->unlink, r.payloads[j].file);
			free(r.payloads[j].file);
			r.payloads[j].file = NULL;
		}
		int64_t now = as4_time_now_ms();
		r.purged_ms = now;
		derived(t, &r, true);
		tx_event(t, &r, r.state, op->s1, NULL, NULL, now);
		tx_save(t, &r);
	}
	op->out_n = files;
	as4_msgrec_cleanup(&r);
}

static void op_audit(struct stxn *t, struct wop *op)
{
	uint64_t seq = store_tx_counter(t, "audit_seq") + 1;
	uint8_t k[8];
	store_be64_put(k, seq);
	store_tx_put(t, DB_META, "audit_seq", 9, k, sizeof(k));
	struct as4_store_audit a = {
	        .seq = seq,
	        .time_ms = as4_time_now_ms(),
	        .who = (char *)(uintptr_t)op->s1,
	        .what = (char *)(uintptr_t)op->s2,
	        .target = (char *)(uintptr_t)op->s3,
	        .detail = (char *)(uintptr_t)op->s4,
	};
	struct as4_buf b;
	as4_buf_init(&b, 8 * STORE_TEXT_MAX);
	as4_err err = store_aud_encode(&a, &b);
	if (err != AS4_OK) {
		store_tx_fail(t, err, "store: cannot encode audit entry");
	} else {
		store_tx_put_noover(t, DB_AUDIT, k, sizeof(k), b.data, b.len);
	}
	as4_buf_cleanup(&b);
}

void store_op_run(struct stxn *t, struct wop *op)
{
	/* An operation may run again (map resize, split batch): start from a clean slate. */
	op->unlink.n = 0;
	as4_msgrec_array_free(op->out_recs, op->out_n);
	op->out_recs = NULL;
	op->out_n = 0;
	switch (op->kind) {
	case WOP_PUT:
		op_put(t, op);
		break;
	case WOP_TRANSITION:
		op_transition(t, op);
		break;
	case WOP_CLAIM:
		op_claim(t, op);
		break;
	case WOP_BACKOFF:
		op_backoff(t, op);
		break;
	case WOP_DEDUP_PRUNE:
		op_dedup_prune(t, op);
		break;
	case WOP_PURGE:
		op_purge(t, op);
		break;
	case WOP_DELETE_PAYLOADS:
		op_delete_payloads(t, op);
		break;
	case WOP_AUDIT:
		op_audit(t, op);
		break;
	case WOP_NOTE_ADD:
		store_op_note_add(t, op);
		break;
	case WOP_NOTE_DONE:
		store_op_note_done(t, op);
		break;
	case WOP_PURGE_RECORDS:
		op_purge_records(t, op);
		break;
	case WOP_GROW:
		store_tx_fail(t, AS4_E_INTERNAL, "store: resize inside a transaction");
		break;
	}
}

as4_err store_op_recover(struct as4_store *st, uint64_t *count, struct as4_diag *d)
{
	*count = 0;
	MDB_txn *txn = NULL;
	int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc != MDB_SUCCESS) {
		return store_fail(d, rc, "begin recovery transaction");
	}
	struct stxn t = {st, txn, AS4_OK, d};
	struct name_list unlink = {0};
	int64_t now = as4_time_now_ms();
	/* Each pass re-reads the first "sending" entry: the change removes it from the index. */
	for (;;) {
		uint8_t pre[16];
		size_t pn = strlen("sending");
		pre[0] = IDX_STATE;
		memcpy(pre + 1, "sending", pn);
		pre[1 + pn] = 0;
		pn += 2;
		MDB_cursor *c = NULL;
		rc = mdb_cursor_open(txn, st->db[DB_IDX], &c);
		if (rc != MDB_SUCCESS) {
			store_tx_fail(&t, store_err(rc), "store: open cursor: %s",
			              mdb_strerror(rc));
			break;
		}
		MDB_val key = {pn, pre}, val;
		rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
		bool found = rc == MDB_SUCCESS && key.mv_size == pn + 16 &&
		             memcmp(key.mv_data, pre, pn) == 0;
		uint64_t id = found ? store_be64_get((const uint8_t *)key.mv_data + pn + 8) : 0;
		mdb_cursor_close(c);
		if (!found) {
			break;
		}
		struct as4_msgrec rec;
		if (store_tx_load(&t, id, &rec)) {
			struct as4_store_update u = {
			        .to = rec.attempts > 0 ? AS4_ST_RETRYING : AS4_ST_QUEUED,
			        .reason = "send interrupted by a restart",
			};
			struct change ch = {.unlink = &unlink, .now = now};
			apply_update(&t, &rec, &u, &ch);
			(*count)++;
		}
		as4_msgrec_cleanup(&rec);
		if (t.err != AS4_OK) {
			break;
		}
	}
	store_name_list_cleanup(&unlink);
	if (t.err != AS4_OK) {
		mdb_txn_abort(txn);
		*count = 0;
		return t.err;
	}
	rc = mdb_txn_commit(txn);
	if (rc != MDB_SUCCESS) {
		*count = 0;
		return store_fail(d, rc, "commit recovery");
	}
	return AS4_OK;
}
