/* SPDX-License-Identifier: Apache-2.0 */
/* Search index entries: tag, store_ikey(value), 0x00, created_ms, id (see store_int.h). */
#include <string.h>

#include <openssl/sha.h>

#include "as4/str.h"
#include "store_int.h"

size_t store_ikey(const char *v, uint8_t *out)
{
	size_t n = strlen(v);
	if (n <= IKEY_MAX) {
		memcpy(out, v, n);
		return n;
	}
	/*
	 * LMDB keys are at most 511 bytes. A long value keeps a readable prefix and gets a digest
	 * of the whole value; its length (IKEY_LEN > IKEY_MAX) can never equal a short value's.
	 */
	uint8_t md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)v, n, md);
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	as4_hex_encode(md, 16, hex);
	memcpy(out, v, IKEY_PREFIX);
	out[IKEY_PREFIX] = 0x01;
	memcpy(out + IKEY_PREFIX + 1, hex, 32);
	return IKEY_LEN;
}

size_t store_idx_key(enum store_idx tag, const char *value, int64_t created_ms, uint64_t id,
                     uint8_t *out)
{
	out[0] = (uint8_t)tag;
	size_t n = 1 + store_ikey(value, out + 1);
	out[n++] = 0;
	store_be64_put(out + n, (uint64_t)created_ms);
	store_be64_put(out + n + 8, id);
	return n + 16;
}

/* True while retention has something left to delete for rec. */
static bool has_files(const struct as4_msgrec *r)
{
	if (r->purged_ms != 0) {
		return false;
	}
	for (size_t i = 0; i < r->n_payloads; i++) {
		if (r->payloads[i].file != NULL) {
			return true;
		}
	}
	return r->raw_file != NULL;
}

void store_idx_collect(const struct as4_msgrec *r, struct store_idx_set *s)
{
	char gln[4][14];
	const char *ends[4] = {r->from.value, r->to.value, r->original_sender, r->final_recipient};
	const char *g[4] = {NULL, NULL, NULL, NULL};
	for (size_t i = 0; i < 4; i++) {
		if (store_gln_of(ends[i], gln[i])) {
			g[i] = gln[i];
		}
	}
	const struct {
		enum store_idx tag;
		const char *v;
	} e[] = {
	        {IDX_TIME, ""},
	        {IDX_DIR, as4_dir_text(r->dir)},
	        {IDX_STATE, as4_msg_state_text(r->state)},
	        {IDX_PARTY, r->from.value},
	        {IDX_PARTY, r->to.value},
	        {IDX_END, r->original_sender},
	        {IDX_END, r->final_recipient},
	        {IDX_SERVICE, r->service},
	        {IDX_ACTION, r->action},
	        {IDX_CONV, r->conversation_id},
	        {IDX_MSGID, r->message_id},
	        {IDX_ERROR, r->last_error_code},
	        {IDX_GLN, g[0]},
	        {IDX_GLN, g[1]},
	        {IDX_GLN, g[2]},
	        {IDX_GLN, g[3]},
	        {IDX_SBDH, r->sbdh_instance_id},
	        {IDX_MEDCOM, r->medcom_message_id},
	        {IDX_FILES, has_files(r) ? as4_dir_text(r->dir) : NULL},
	};
	_Static_assert(AS4_ARRAY_LEN(e) == IDX_ENTRIES, "IDX_ENTRIES counts the entries");
	s->n = 0;
	for (size_t i = 0; i < AS4_ARRAY_LEN(e); i++) {
		if (e[i].v == NULL || (e[i].v[0] == '\0' && e[i].tag != IDX_TIME)) {
			continue;
		}
		s->len[s->n] = store_idx_key(e[i].tag, e[i].v, r->created_ms, r->id, s->key[s->n]);
		s->n++;
	}
}

static bool in_set(const struct store_idx_set *s, const uint8_t *key, size_t len)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->len[i] == len && memcmp(s->key[i], key, len) == 0) {
			return true;
		}
	}
	return false;
}

/* Put or delete every (tag, value) entry rec is indexed under. */
static void each_entry(struct stxn *t, const struct as4_msgrec *r, bool del)
{
	struct store_idx_set s;
	store_idx_collect(r, &s);
	for (size_t i = 0; i < s.n; i++) {
		if (del) {
			store_tx_del(t, DB_IDX, s.key[i], s.len[i]);
		} else {
			/* The same value at two ends (from == to) gives the same key: overwrite. */
			store_tx_put(t, DB_IDX, s.key[i], s.len[i], "", 0);
		}
	}
}

void store_idx_update(struct stxn *t, const struct store_idx_set *before,
                      const struct as4_msgrec *rec)
{
	struct store_idx_set after;
	store_idx_collect(rec, &after);
	for (size_t i = 0; i < before->n; i++) {
		if (!in_set(&after, before->key[i], before->len[i])) {
			store_tx_del(t, DB_IDX, before->key[i], before->len[i]);
		}
	}
	for (size_t i = 0; i < after.n; i++) {
		if (!in_set(before, after.key[i], after.len[i])) {
			store_tx_put(t, DB_IDX, after.key[i], after.len[i], "", 0);
		}
	}
}

void store_idx_put_all(struct stxn *t, const struct as4_msgrec *rec)
{
	each_entry(t, rec, false);
}

void store_idx_del_all(struct stxn *t, const struct as4_msgrec *rec)
{
	each_entry(t, rec, true);
}
