/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The public write functions: check arguments in the caller's thread, write spool files there
 * (so copying and hashing run in parallel across callers), then hand one operation to the
 * writer and wait for (or get called back with) the durable result.
 */
#include <stdlib.h>
#include <string.h>

#include "as4/str.h"
#include "as4/time.h"
#include "store_int.h"

/* Write the op's spool files: payloads in order, then raw, then receipt. */
static as4_err write_files(struct as4_store *st, struct wop *op, const struct as4_blob *payloads,
                           size_t n_payloads, const struct as4_blob *raw,
                           const struct as4_blob *receipt, struct as4_diag *d)
{
	size_t n = n_payloads + (raw != NULL) + (receipt != NULL);
	op->files = n > 0 ? calloc(n, sizeof(*op->files)) : NULL;
	if (n > 0 && op->files == NULL) {
		return AS4_E_NOMEM;
	}
	as4_err err = AS4_OK;
	for (size_t i = 0; i < n_payloads && err == AS4_OK; i++) {
		err = store_spool_write(st, &payloads[i], &op->files[op->n_files], d);
		if (err == AS4_OK) {
			op->n_files++;
		} else {
			as4_diag_prefix(d, "payload %zu: ", i);
		}
	}
	if (err == AS4_OK && raw != NULL) {
		err = store_spool_write(st, raw, &op->files[op->n_files], d);
		if (err == AS4_OK) {
			op->raw_file = (int)op->n_files++;
		}
	}
	if (err == AS4_OK && receipt != NULL) {
		err = store_spool_write(st, receipt, &op->files[op->n_files], d);
		if (err == AS4_OK) {
			op->receipt_file = (int)op->n_files++;
		}
	}
	return err;
}

static void drop_files(struct as4_store *st, struct wop *op)
{
	for (size_t i = 0; i < op->n_files; i++) {
		store_spool_unlink(st, op->files[i].name);
	}
	op->n_files = 0;
}

/* Copy an op's result diagnostic to the caller's. */
static as4_err result(struct wop *op, as4_err err, struct as4_diag *d)
{
	if (err != AS4_OK) {
		if (op->diag.err != AS4_OK && op->diag.field[0] != '\0') {
			err = as4_diag_set_field(d, op->diag.err, op->diag.field, "%s",
			                         op->diag.text);
		} else if (op->diag.err != AS4_OK) {
			err = as4_diag_set(d, op->diag.err, "%s", op->diag.text);
		} else {
			err = as4_diag_set(d, err, "store: %s", as4_strerror(err));
		}
	}
	return err;
}

static as4_err put_check(struct as4_msgrec *rec, const struct as4_store_put *p, enum as4_dir dir,
                         struct as4_diag *d)
{
	if (rec == NULL || p == NULL) {
		return as4_diag_set(d, AS4_E_INVAL, "store: no record");
	}
	if (rec->dir != dir) {
		return as4_diag_set(d, AS4_E_INVAL, "store: record direction is %s, expected %s",
		                    as4_dir_text(rec->dir), as4_dir_text(dir));
	}
	if (rec->n_payloads > 0 && p->payloads == NULL) {
		return as4_diag_set(d, AS4_E_INVAL, "store: %zu payloads described but none given",
		                    rec->n_payloads);
	}
	if (dir == AS4_DIR_IN && p->claim) {
		return as4_diag_set(d, AS4_E_INVAL, "store: a received message is not claimed");
	}
	if (dir == AS4_DIR_OUT && p->receipt != NULL) {
		return as4_diag_set(d, AS4_E_INVAL,
		                    "store: a submitted message has no receipt yet");
	}
	as4_err err = store_rinfo_validate(p->receipt_info, d);
	return err != AS4_OK ? err : store_rec_validate(rec, d);
}

static as4_err put_prepare(struct as4_store *st, struct wop *op, struct as4_msgrec *rec,
                           const struct as4_store_put *p, uint64_t *dup_id, struct as4_diag *d)
{
	store_wop_init(op, WOP_PUT);
	op->rec = rec;
	op->put = p;
	op->dup_id = dup_id;
	if (dup_id != NULL) {
		*dup_id = 0;
	}
	as4_err err = write_files(st, op, p->payloads, rec->n_payloads, p->raw, p->receipt, d);
	if (err != AS4_OK) {
		drop_files(st, op);
	}
	return err;
}

static as4_err put_sync(struct as4_store *st, struct as4_msgrec *rec, const struct as4_store_put *p,
                        uint64_t *dup_id, enum as4_dir dir, struct as4_diag *d)
{
	as4_err err = put_check(rec, p, dir, d);
	if (err != AS4_OK) {
		return err;
	}
	struct wop op;
	err = put_prepare(st, &op, rec, p, dup_id, d);
	if (err == AS4_OK) {
		err = store_writer_submit(st, &op);
		if (err == AS4_E_BUSY && !op.finished) {
			drop_files(st, &op);
		}
		err = result(&op, err, d);
	}
	free(op.files);
	store_wop_cleanup(&op);
	return err;
}

as4_err as4_store_put_inbound(struct as4_store *st, struct as4_msgrec *rec,
                              const struct as4_store_put *p, uint64_t *dup_id, struct as4_diag *d)
{
	return put_sync(st, rec, p, dup_id, AS4_DIR_IN, d);
}

as4_err as4_store_submit(struct as4_store *st, struct as4_msgrec *rec,
                         const struct as4_store_put *p, struct as4_diag *d)
{
	return put_sync(st, rec, p, NULL, AS4_DIR_OUT, d);
}

/* A heap op for an asynchronous put; freed after the user's callback ran. */
struct async_put {
	struct wop op;
	as4_store_done_fn done;
	void *ctx;
};

static void async_done(void *ctx, as4_err err, const struct as4_diag *d)
{
	struct async_put *a = ctx;
	a->done(a->ctx, err, d);
	free(a->op.files);
	store_wop_cleanup(&a->op);
	free(a);
}

as4_err as4_store_put_async(struct as4_store *st, struct as4_msgrec *rec,
                            const struct as4_store_put *p, uint64_t *dup_id, as4_store_done_fn done,
                            void *ctx, struct as4_diag *d)
{
	if (done == NULL) {
		return as4_diag_set(d, AS4_E_INVAL, "store: no completion callback");
	}
	as4_err err = put_check(rec, p, rec != NULL ? rec->dir : AS4_DIR_NONE, d);
	if (err == AS4_OK && rec->dir != AS4_DIR_IN && rec->dir != AS4_DIR_OUT) {
		err = as4_diag_set(d, AS4_E_INVAL, "store: record has no direction");
	}
	if (err != AS4_OK) {
		return err;
	}
	struct async_put *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		return AS4_E_NOMEM;
	}
	err = put_prepare(st, &a->op, rec, p, dup_id, d);
	if (err == AS4_OK) {
		a->done = done;
		a->ctx = ctx;
		a->op.done = async_done;
		a->op.ctx = a;
		err = store_writer_submit(st, &a->op);
		if (err != AS4_OK) {
			drop_files(st, &a->op);
			err = result(&a->op, err, d);
		}
	}
	if (err != AS4_OK) {
		free(a->op.files);
		store_wop_cleanup(&a->op);
		free(a);
	}
	return err;
}

static as4_err check_text(const char *s, const char *what, bool required, struct as4_diag *d)
{
	if (s == NULL || s[0] == '\0') {
		return required ? as4_diag_set(d, AS4_E_INVAL, "store: %s missing", what) : AS4_OK;
	}
	if (strlen(s) > STORE_TEXT_MAX) {
		return as4_diag_set(d, AS4_E_LIMIT, "store: %s longer than %u bytes", what,
		                    STORE_TEXT_MAX);
	}
	return AS4_OK;
}

as4_err as4_store_transition(struct as4_store *st, uint64_t id, const struct as4_store_update *u,
                             struct as4_diag *d)
{
	if (u == NULL || (unsigned)u->to <= AS4_ST_NONE || (unsigned)u->to >= AS4_ST__COUNT) {
		return as4_diag_set(d, AS4_E_INVAL, "store: no valid target state");
	}
	as4_err err = check_text(u->reason, "reason", true, d);
	if (err == AS4_OK) {
		err = check_text(u->ebms_code, "ebMS error code", false, d);
	}
	if (err == AS4_OK) {
		err = check_text(u->detail, "error detail", false, d);
	}
	if (err == AS4_OK && u->endpoint_url != NULL && strlen(u->endpoint_url) > STORE_PEER_MAX) {
		err = as4_diag_set(d, AS4_E_LIMIT, "store: endpoint URL longer than %u bytes",
		                   STORE_PEER_MAX);
	}
	if (err == AS4_OK && u->receiver_cert_pem != NULL &&
	    strlen(u->receiver_cert_pem) > STORE_STR_MAX) {
		err = as4_diag_set(d, AS4_E_LIMIT, "store: certificate longer than %u bytes",
		                   STORE_STR_MAX);
	}
	if (err == AS4_OK && u->to_value != NULL &&
	    (u->to_value[0] == '\0' || strlen(u->to_value) > STORE_PEER_MAX)) {
		err = as4_diag_set(d, AS4_E_LIMIT,
		                   "store: to party value empty or longer than %u bytes",
		                   STORE_PEER_MAX);
	}
	if (err == AS4_OK && u->notify != NULL &&
	    (u->notify[0] == '\0' || strlen(u->notify) > AS4_STORE_NOTE_MAX)) {
		err = as4_diag_set(d, u->notify[0] == '\0' ? AS4_E_INVAL : AS4_E_LIMIT,
		                   "store: a notification must be 1..%u bytes", AS4_STORE_NOTE_MAX);
	}
	if (err == AS4_OK) {
		err = store_rinfo_validate(u->receipt_info, d);
	}
	if (err == AS4_OK && u->n_signed_refs > 0) {
		struct as4_msgrec probe;
		as4_msgrec_init(&probe);
		probe.message_id = (char *)(uintptr_t) "-";
		probe.signed_refs = (struct as4_store_sigref *)(uintptr_t)u->signed_refs;
		probe.n_signed_refs = u->n_signed_refs;
		err = store_rec_validate(&probe, d);
	}
	if (err != AS4_OK) {
		return err;
	}
	struct wop op;
	store_wop_init(&op, WOP_TRANSITION);
	op.id = id;
	op.upd = u;
	err = write_files(st, &op, NULL, 0, u->raw, u->receipt, d);
	if (err == AS4_OK) {
		err = store_writer_submit(st, &op);
		if (err == AS4_E_BUSY && !op.finished) {
			drop_files(st, &op);
		}
		err = result(&op, err, d);
	} else {
		drop_files(st, &op);
	}
	free(op.files);
	store_wop_cleanup(&op);
	return err;
}

as4_err as4_store_ack(struct as4_store *st, uint64_t id, const char *who, struct as4_diag *d)
{
	char reason[128];
	if (as4_str_fmt(reason, sizeof(reason), "acknowledged by %s",
	                who != NULL && who[0] != '\0' ? who : "the backend") != AS4_OK) {
		return as4_diag_set(d, AS4_E_LIMIT, "store: acknowledging party name too long");
	}
	struct as4_store_update u = {
	        .to = AS4_ST_BACKEND_ACKED,
	        .reason = reason,
	        .expect = (1u << AS4_ST_RECEIVED) | (1u << AS4_ST_BACKEND_FAILED),
	};
	return as4_store_transition(st, id, &u, d);
}

as4_err as4_store_claim_due(struct as4_store *st, int64_t now_ms, size_t limit,
                            struct as4_msgrec **out, size_t *n, struct as4_diag *d)
{
	*out = NULL;
	*n = 0;
	if (limit == 0 || limit > STORE_LIMIT_MAX) {
		return as4_diag_set(d, AS4_E_INVAL, "store: claim limit must be 1..%u",
		                    STORE_LIMIT_MAX);
	}
	struct wop op;
	store_wop_init(&op, WOP_CLAIM);
	op.time_ms = now_ms;
	op.limit = limit;
	as4_err err = result(&op, store_writer_submit(st, &op), d);
	if (err == AS4_OK) {
		*out = op.out_recs;
		*n = op.out_n;
		if (op.out_n == 0) {
			free(op.out_recs);
			*out = NULL;
		}
		op.out_recs = NULL;
		op.out_n = 0;
	}
	store_wop_cleanup(&op);
	return err;
}

as4_err as4_store_peer_backoff(struct as4_store *st, const char *peer, int64_t until_ms,
                               struct as4_diag *d)
{
	if (peer == NULL || peer[0] == '\0') {
		return as4_diag_set(d, AS4_E_INVAL, "store: empty peer");
	}
	if (strlen(peer) > STORE_PEER_MAX) {
		return as4_diag_set(d, AS4_E_LIMIT, "store: peer longer than %u bytes",
		                    STORE_PEER_MAX);
	}
	struct wop op;
	store_wop_init(&op, WOP_BACKOFF);
	op.s1 = peer;
	op.time_ms = until_ms;
	as4_err err = result(&op, store_writer_submit(st, &op), d);
	store_wop_cleanup(&op);
	return err;
}

as4_err as4_store_dedup_prune(struct as4_store *st, int64_t before_ms, size_t max, size_t *n,
                              struct as4_diag *d)
{
	struct wop op;
	store_wop_init(&op, WOP_DEDUP_PRUNE);
	op.time_ms = before_ms;
	op.limit = max;
	as4_err err = result(&op, store_writer_submit(st, &op), d);
	if (n != NULL) {
		*n = err == AS4_OK ? op.out_n : 0;
	}
	op.out_n = 0;
	store_wop_cleanup(&op);
	return err;
}

as4_err as4_store_dedup_prune_window(struct as4_store *st, int64_t now_ms, size_t max, size_t *n,
                                     struct as4_diag *d)
{
	return as4_store_dedup_prune(st, now_ms - st->opts.dedup_window_ms, max, n, d);
}

as4_err as4_store_purge_payloads(struct as4_store *st, const struct as4_store_purge *sel, size_t *n,
                                 struct as4_diag *d)
{
	if (n != NULL) {
		*n = 0;
	}
	if (sel == NULL || (sel->dir != AS4_DIR_IN && sel->dir != AS4_DIR_OUT)) {
		return as4_diag_set(d, AS4_E_INVAL, "store: purge needs a direction");
	}
	if (sel->states == 0) {
		return as4_diag_set(d, AS4_E_INVAL, "store: purge needs at least one state");
	}
	for (unsigned s = 0; s < 32; s++) {
		if ((sel->states & (1u << s)) != 0 &&
		    (s >= AS4_ST__COUNT || as4_msg_state_dir((enum as4_msg_state)s) != sel->dir)) {
			return as4_diag_set(d, AS4_E_INVAL, "store: state %u is not an %s state", s,
			                    as4_dir_text(sel->dir));
		}
	}
	struct wop op;
	store_wop_init(&op, WOP_PURGE);
	op.purge = sel;
	as4_err err = result(&op, store_writer_submit(st, &op), d);
	if (n != NULL && err == AS4_OK) {
		*n = op.out_n;
	}
	op.out_n = 0;
	store_wop_cleanup(&op);
	return err;
}

as4_err as4_store_audit_append(struct as4_store *st, const char *who, const char *what,
                               const char *target, const char *detail, struct as4_diag *d)
{
	as4_err err = check_text(who, "audit who", true, d);
	if (err == AS4_OK) {
		err = check_text(what, "audit what", true, d);
	}
	if (err == AS4_OK) {
		err = check_text(target, "audit target", false, d);
	}
	if (err == AS4_OK) {
		err = check_text(detail, "audit detail", false, d);
	}
	if (err != AS4_OK) {
		return err;
	}
	struct wop op;
	store_wop_init(&op, WOP_AUDIT);
	op.s1 = who;
	op.s2 = what;
	op.s3 = target;
	op.s4 = detail;
	err = result(&op, store_writer_submit(st, &op), d);
	store_wop_cleanup(&op);
	return err;
}

as4_err as4_store_grow(struct as4_store *st, uint64_t bytes, struct as4_diag *d)
{
	struct wop op;
	store_wop_init(&op, WOP_GROW);
	op.bytes = bytes;
	as4_err err = result(&op, store_writer_submit(st, &op), d);
	store_wop_cleanup(&op);
	return err;
}

as4_err as4_store_purge_records(struct as4_store *st, int64_t before_ms, size_t max, size_t *n,
                                struct as4_diag *d)
{
	struct wop op;
	store_wop_init(&op, WOP_PURGE_RECORDS);
	op.time_ms = before_ms;
	op.limit = max;
	as4_err err = result(&op, store_writer_submit(st, &op), d);
	if (n != NULL) {
		*n = err == AS4_OK ? op.out_n : 0;
	}
	op.out_n = 0;
	store_wop_cleanup(&op);
	return err;
}

as4_err as4_store_note_add(struct as4_store *st, uint64_t msg_id, const char *doc, uint64_t *seq,
                           struct as4_diag *d)
{
	if (seq != NULL) {
		*seq = 0;
	}
	if (doc == NULL || doc[0] == '\0') {
		return as4_diag_set(d, AS4_E_INVAL, "store: empty notification");
	}
	if (strlen(doc) > AS4_STORE_NOTE_MAX) {
		return as4_diag_set(d, AS4_E_LIMIT, "store: notification longer than %u bytes",
		                    AS4_STORE_NOTE_MAX);
	}
	struct wop op;
	store_wop_init(&op, WOP_NOTE_ADD);
	op.id = msg_id;
	op.s1 = doc;
	as4_err err = result(&op, store_writer_submit(st, &op), d);
	if (err == AS4_OK && seq != NULL) {
		*seq = op.bytes;
	}
	store_wop_cleanup(&op);
	return err;
}

as4_err as4_store_note_done(struct as4_store *st, uint64_t seq, struct as4_diag *d)
{
	struct wop op;
	store_wop_init(&op, WOP_NOTE_DONE);
	op.id = seq;
	as4_err err = result(&op, store_writer_submit(st, &op), d);
	store_wop_cleanup(&op);
	return err;
}

as4_err as4_store_delete_payloads(struct as4_store *st, uint64_t id, uint32_t states,
                                  const char *reason, size_t *n, struct as4_diag *d)
{
	if (n != NULL) {
		*n = 0;
	}
	as4_err err = check_text(reason, "reason", true, d);
	if (err != AS4_OK) {
		return err;
	}
	struct wop op;
	store_wop_init(&op, WOP_DELETE_PAYLOADS);
	op.id = id;
	op.states = states;
	op.s1 = reason;
	err = result(&op, store_writer_submit(st, &op), d);
	if (n != NULL && err == AS4_OK) {
		*n = op.out_n;
	}
	op.out_n = 0;
	store_wop_cleanup(&op);
	return err;
}
