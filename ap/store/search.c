/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Message search. Every index key ends in (created_ms, id), so all indexes share one order and
 * a cursor is just the (created_ms, id) of the last entry seen: whichever index the next page
 * walks, it resumes at the same place. A query walks the most selective index of its filter
 * (estimated by counting at most EST_MAX entries of each candidate in the time window) and
 * checks the rest of the filter on the decoded record.
 */
#include <stdlib.h>
#include <string.h>

#include "as4/str.h"
#include "store_int.h"

/* Entries counted per candidate index when estimating selectivity. */
#define EST_MAX 1000u

struct pos {
	int64_t t;
	uint64_t id;
};

struct cand {
	enum store_idx tag;
	const char *value;
};

static bool streq(const char *want, const char *have)
{
	return want == NULL || (have != NULL && strcmp(want, have) == 0);
}

static bool match(const struct as4_store_filter *f, const char *gln, const struct as4_msgrec *r)
{
	if ((f->dir != AS4_DIR_NONE && r->dir != f->dir) ||
	    (f->state != AS4_ST_NONE && r->state != f->state) ||
	    (f->created_from_ms != 0 && r->created_ms < f->created_from_ms) ||
	    (f->created_to_ms != 0 && r->created_ms >= f->created_to_ms)) {
		return false;
	}
	if (f->party != NULL && !streq(f->party, r->from.value) && !streq(f->party, r->to.value)) {
		return false;
	}
	if (!streq(f->from_party, r->from.value) || !streq(f->to_party, r->to.value) ||
	    !streq(f->original_sender, r->original_sender) ||
	    !streq(f->final_recipient, r->final_recipient) || !streq(f->service, r->service) ||
	    !streq(f->action, r->action) || !streq(f->conversation_id, r->conversation_id) ||
	    !streq(f->message_id, r->message_id) || !streq(f->ebms_error, r->last_error_code) ||
	    !streq(f->sbdh_instance_id, r->sbdh_instance_id) ||
	    !streq(f->medcom_message_id, r->medcom_message_id)) {
		return false;
	}
	if (gln != NULL) {
		const char *ends[4] = {r->from.value, r->to.value, r->original_sender,
		                       r->final_recipient};
		for (size_t i = 0; i < 4; i++) {
			char g[14];
			if (store_gln_of(ends[i], g) && strcmp(g, gln) == 0) {
				return true;
			}
		}
		return false;
	}
	return true;
}

static as4_err parse_cursor(const char *c, struct pos *p)
{
	if (c == NULL || c[0] == '\0') {
		p->t = INT64_MAX;
		p->id = UINT64_MAX;
		return AS4_OK;
	}
	if (strlen(c) != 34 || c[0] != 'c' || c[1] != '1') {
		return AS4_E_INVAL;
	}
	uint64_t v[2] = {0, 0};
	for (size_t i = 0; i < 32; i++) {
		char ch = c[2 + i];
		unsigned x;
		if (ch >= '0' && ch <= '9') {
			x = (unsigned)(ch - '0');
		} else if (ch >= 'a' && ch <= 'f') {
			x = (unsigned)(ch - 'a' + 10);
		} else {
			return AS4_E_INVAL;
		}
		v[i / 16] = (v[i / 16] << 4) | x;
	}
	if (v[0] > (uint64_t)INT64_MAX) {
		return AS4_E_INVAL;
	}
	p->t = (int64_t)v[0];
	p->id = v[1];
	return AS4_OK;
}

static void format_cursor(char out[AS4_STORE_CURSOR_MAX], struct pos p)
{
	if (as4_str_fmt(out, AS4_STORE_CURSOR_MAX, "c1%016llx%016llx", (unsigned long long)p.t,
	                (unsigned long long)p.id) != AS4_OK) {
		out[0] = '\0';
	}
}

/* A cursor walking one index prefix backwards from (exclusive) hi down to time lo. */
struct walk {
	MDB_cursor *c;
	uint8_t pre[1 + IKEY_LEN + 1];
	size_t pn;
	int64_t lo;
	bool started;
	struct pos hi;
};

static void walk_init(struct walk *w, enum store_idx tag, const char *value, int64_t lo,
                      struct pos hi)
{
	w->pre[0] = (uint8_t)tag;
	w->pn = 1 + store_ikey(value, w->pre + 1);
	w->pre[w->pn++] = 0;
	w->lo = lo;
	w->hi = hi;
	w->started = false;
}

/* Next (older) entry: 1 found, 0 end, -1 LMDB error (rc in *err_rc). */
static int walk_next(struct walk *w, struct pos *p, int *err_rc)
{
	MDB_val key, val;
	int rc;
	if (!w->started) {
		uint8_t k[sizeof(w->pre) + 16];
		memcpy(k, w->pre, w->pn);
		store_be64_put(k + w->pn, (uint64_t)w->hi.t);
		store_be64_put(k + w->pn + 8, w->hi.id);
		key.mv_size = w->pn + 16;
		key.mv_data = k;
		w->started = true;
		rc = mdb_cursor_get(w->c, &key, &val, MDB_SET_RANGE);
		rc = rc == MDB_SUCCESS ? mdb_cursor_get(w->c, &key, &val, MDB_PREV)
		                       : mdb_cursor_get(w->c, &key, &val, MDB_LAST);
	} else {
		rc = mdb_cursor_get(w->c, &key, &val, MDB_PREV);
	}
	if (rc == MDB_NOTFOUND) {
		return 0;
	}
	if (rc != MDB_SUCCESS) {
		*err_rc = rc;
		return -1;
	}
	if (key.mv_size != w->pn + 16 || memcmp(key.mv_data, w->pre, w->pn) != 0) {
		return 0;
	}
	p->t = (int64_t)store_be64_get((const uint8_t *)key.mv_data + w->pn);
	p->id = store_be64_get((const uint8_t *)key.mv_data + w->pn + 8);
	return p->t >= w->lo ? 1 : 0;
}

/* Collect the filter's indexed fields. */
static size_t candidates(const struct as4_store_filter *f, const char *gln, struct cand *c)
{
	size_t n = 0;
	const struct cand all[] = {
	        {IDX_MSGID, f->message_id},
	        {IDX_SBDH, f->sbdh_instance_id},
	        {IDX_MEDCOM, f->medcom_message_id},
	        {IDX_CONV, f->conversation_id},
	        {IDX_PARTY, f->party},
	        {IDX_PARTY, f->from_party},
	        {IDX_PARTY, f->to_party},
	        {IDX_END, f->original_sender},
	        {IDX_END, f->final_recipient},
	        {IDX_GLN, gln},
	        {IDX_ERROR, f->ebms_error},
	        {IDX_ACTION, f->action},
	        {IDX_SERVICE, f->service},
	        {IDX_STATE, f->state != AS4_ST_NONE ? as4_msg_state_text(f->state) : NULL},
	        {IDX_DIR, f->dir != AS4_DIR_NONE ? as4_dir_text(f->dir) : NULL},
	};
	for (size_t i = 0; i < AS4_ARRAY_LEN(all); i++) {
		if (all[i].value != NULL) {
			c[n++] = all[i];
		}
	}
	return n;
}

static as4_err check_filter(const struct as4_store_filter *f, char gln[14], bool *has_gln,
                            struct as4_diag *d)
{
	*has_gln = false;
	if ((unsigned)f->state >= AS4_ST__COUNT) {
		return as4_diag_set_field(d, AS4_E_INVAL, "state", "store: unknown state");
	}
	if (f->dir != AS4_DIR_NONE && f->dir != AS4_DIR_IN && f->dir != AS4_DIR_OUT) {
		return as4_diag_set_field(d, AS4_E_INVAL, "direction", "store: unknown direction");
	}
	if (f->created_from_ms < 0 || f->created_to_ms < 0) {
		return as4_diag_set_field(d, AS4_E_INVAL, "created", "store: negative time");
	}
	const char *strs[] = {f->party,
	                      f->from_party,
	                      f->to_party,
	                      f->original_sender,
	                      f->final_recipient,
	                      f->service,
	                      f->action,
	                      f->conversation_id,
	                      f->message_id,
	                      f->ebms_error,
	                      f->sbdh_instance_id,
	                      f->medcom_message_id,
	                      f->gln};
	for (size_t i = 0; i < AS4_ARRAY_LEN(strs); i++) {
		if (strs[i] != NULL && strlen(strs[i]) > STORE_STR_MAX) {
			return as4_diag_set(d, AS4_E_LIMIT, "store: filter value too long");
		}
	}
	if (f->gln != NULL) {
		if (!store_gln_of(f->gln, gln)) {
			return as4_diag_set_field(d, AS4_E_INVAL, "gln",
			                          "store: a GLN is 13 digits (optionally 0088:)");
		}
		*has_gln = true;
	}
	return AS4_OK;
}

as4_err as4_store_search(struct as4_store *st, const struct as4_store_filter *f, const char *cursor,
                         size_t limit, struct as4_msgrec **out, size_t *n,
                         char next_cursor[AS4_STORE_CURSOR_MAX], struct as4_diag *d)
{
	*out = NULL;
	*n = 0;
	next_cursor[0] = '\0';
	struct as4_store_filter none = {0};
	if (f == NULL) {
		f = &none;
	}
	if (limit == 0 || limit > STORE_PAGE_MAX) {
		return as4_diag_set(d, AS4_E_INVAL, "store: page size must be 1..%u",
		                    STORE_PAGE_MAX);
	}
	struct pos hi;
	if (parse_cursor(cursor, &hi) != AS4_OK) {
		return as4_diag_set_field(d, AS4_E_INVAL, "cursor", "store: malformed cursor");
	}
	char gln[14];
	bool has_gln;
	as4_err err = check_filter(f, gln, &has_gln, d);
	if (err != AS4_OK) {
		return err;
	}
	if (f->created_to_ms != 0 && f->created_to_ms <= hi.t) {
		hi.t = f->created_to_ms;
		hi.id = 0;
	}
	int64_t lo = f->created_from_ms;
	struct cand cands[16];
	size_t nc = candidates(f, has_gln ? gln : NULL, cands);
	if (nc == 0) {
		cands[nc++] = (struct cand){IDX_TIME, ""};
	}

	MDB_txn *txn;
	struct as4_msgrec *arr = NULL;
	size_t cnt = 0, scanned = 0;
	struct walk w = {0};
	err = store_rd_begin(st, &txn, d);
	if (err != AS4_OK) {
		return err;
	}
	int rc = mdb_cursor_open(txn, st->db[DB_IDX], &w.c);
	if (rc != MDB_SUCCESS) {
		w.c = NULL;
		err = store_fail(d, rc, "open cursor");
		goto out;
	}
	/* Pick the candidate with the fewest entries in the window (counting at most EST_MAX). */
	size_t best = 0, best_count = SIZE_MAX;
	for (size_t i = 0; nc > 1 && i < nc && best_count > 0; i++) {
		walk_init(&w, cands[i].tag, cands[i].value, lo, hi);
		size_t count = 0;
		struct pos p;
		int r = 0;
		while (count < EST_MAX && count < best_count && (r = walk_next(&w, &p, &rc)) == 1) {
			count++;
		}
		if (r < 0) {
			err = store_fail(d, rc, "read index");
			goto out;
		}
		scanned += count;
		if (count < best_count) {
			best = i;
			best_count = count;
		}
	}
	walk_init(&w, cands[best].tag, cands[best].value, lo, hi);
	struct pos p, last = {0, 0};
	bool stopped = false;
	int r = 0;
	while ((r = walk_next(&w, &p, &rc)) == 1) {
		last = p;
		struct as4_msgrec rec;
		err = store_rd_load(st, txn, p.id, &rec, d);
		if (err != AS4_OK) {
			goto out;
		}
		if (match(f, has_gln ? gln : NULL, &rec)) {
			err = store_recs_push(&arr, &cnt, limit, &rec);
		}
		as4_msgrec_cleanup(&rec);
		if (err != AS4_OK) {
			goto out;
		}
		if (cnt == limit || ++scanned >= st->opts.search_scan_max) {
			stopped = true;
			break;
		}
	}
	if (r < 0) {
		err = store_fail(d, rc, "read index");
		goto out;
	}
	if (stopped) {
		format_cursor(next_cursor, last);
	}
out:
	if (w.c != NULL) {
		mdb_cursor_close(w.c);
	}
	store_rd_end(st, txn);
	if (err != AS4_OK) {
		as4_msgrec_array_free(arr, cnt);
		next_cursor[0] = '\0';
		return err;
	}
	*out = arr;
	*n = cnt;
	return AS4_OK;
}
