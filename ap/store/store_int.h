/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to ap/store: the LMDB layout, the record codec, the spool and the writer queue. LMDB
 * types appear here and in the ap/store sources only (STYLE rule 14).
 *
 * On-disk layout (all integers in keys are big-endian so that byte order is numeric order):
 *   meta      text key -> value: "format" (u32 format version), "next_id", "audit_seq",
 *             "cnt/<state>" (u64 message counts), "pcnt/<state>/<pmode id>" (u64 message
 *             counts per PMode), "inbox", "dedup", "spool_bytes", "msgs"
 *   msg       id(8) -> record (codec below)
 *   events    id(8) seq(4) -> event
 *   due       due_ms(8) id(8) -> peer key (so a claim skips backing-off peers without
 *             decoding records)
 *   dedup     store_ikey(MessageId) -> received_ms(8) id(8)
 *   dedup_age received_ms(8) store_ikey(MessageId) -> "" (pruning by age)
 *   inbox     id(8) -> "" (ids grow with commit order = arrival order)
 *   peers     peer key -> until_ms(8)
 *   audit     seq(8) -> audit entry
 *   files     spool name -> id(8) size(8) (every referenced spool file; the spool GC asks it)
 *   idx       tag(1) store_ikey(value) 0x00 created_ms(8) id(8) -> "" (all search indexes)
 *   blobs     spool name "00000000/<hex>" -> bytes (blobs up to opts.inline_max, kept here
 *             instead of in a file; also listed in files)
 *   notes     seq(8) -> time_ms(8) msg_id(8) document (backend notification outbox; meta
 *             "note_seq" is the last seq given, "notes" the number queued)
 * store_ikey(v) is v itself up to IKEY_MAX bytes, else a prefix, 0x01 and 32 hex digits of
 * SHA-256(v) so that any value fits LMDB's 511-byte key limit.
 *
 * Record codec (chosen over JSON): a magic byte, a format version byte, then fields as
 * varint tag, varint length, bytes. Decoding is bounded by the value length at every step and
 * skips unknown tags, so a later version adds fields without a migration; a record whose
 * version is newer than the code is refused (AS4_E_CORRUPT). An added field is therefore
 * optional: records written before it lack it (the Receipt summary, T_RECEIPT_INFO, is absent
 * from older records, which then read as receipt_info.known == false), and older code reading
 * a newer record skips it. It is ~3x smaller than JSON and
 * needs no escaping, number formatting or allocation beyond the decoded strings, which keeps
 * the single writer thread and search's record checks cheap.
 */
#pragma once

#include <lmdb.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "as4/buf.h"
#include "as4/compiler.h"
#include "as4/store.h"

/* On-disk format version stored in meta "format"; records carry their own version byte. */
#define STORE_FORMAT 1u
#define REC_VERSION  1u
#define REC_MAGIC    0x4du /* 'M' */
#define EV_MAGIC     0x45u /* 'E' */
#define AUD_MAGIC    0x41u /* 'A' */

/* Caps on what a caller may store (AS4_E_LIMIT beyond). */
#define STORE_STR_MAX   65536u /* one string field */
#define STORE_LIST_MAX  4096u  /* payloads, properties, signed references */
#define STORE_TEXT_MAX  4096u  /* event reason/detail, audit texts */
#define STORE_PEER_MAX  2048u  /* peer key */
#define STORE_LIMIT_MAX 10000u /* records per claim */
#define STORE_PAGE_MAX  1000u  /* records per list/search page */

/* Longest meta key of a per-PMode counter ("pcnt/<state>/<pmode id>"); longer ids skip it. */
#define PCNT_KEY_MAX 480u

/* Index keys: values longer than IKEY_MAX are shortened (see the layout above). */
#define IKEY_MAX    256u
#define IKEY_PREFIX 223u
#define IKEY_LEN    (IKEY_PREFIX + 1u + 32u)

/* Spool names: "YYYYMMDD/" and 32 lower-case hex digits. */
#define SPOOL_NAME_LEN 41u
#define SPOOL_NAME_CAP 48u
/* The pseudo-day of blobs kept inside the environment (no such directory is ever made). */
#define SPOOL_INLINE_DAY "00000000"

enum store_db {
	DB_META = 0,
	DB_MSG,
	DB_EVENTS,
	DB_DUE,
	DB_DEDUP,
	DB_DEDUP_AGE,
	DB_INBOX,
	DB_PEERS,
	DB_AUDIT,
	DB_FILES,
	DB_IDX,
	DB_NOTES,
	DB_BLOBS,
	DB__COUNT
};

/* Index tags (first key byte of DB_IDX). Stored on disk: never renumber. */
enum store_idx {
	IDX_TIME = 1,    /* value "" */
	IDX_DIR = 2,     /* "in" / "out" */
	IDX_STATE = 3,   /* state text */
	IDX_PARTY = 4,   /* from and to party values */
	IDX_END = 5,     /* original sender and final recipient */
	IDX_SERVICE = 6, /* service value */
	IDX_ACTION = 7,
	IDX_CONV = 8,
	IDX_MSGID = 9,
	IDX_ERROR = 10, /* last_error_code */
	IDX_GLN = 11,   /* 13-digit GLNs of the four ends */
	IDX_SBDH = 12,
	IDX_MEDCOM = 13,
	IDX_FILES = 14, /* "in"/"out": records that still have payload/raw files (retention) */
};

/* A spool file written by a caller for one operation, made durable by the writer. */
struct spool_new {
	char name[SPOOL_NAME_CAP];  /* "YYYYMMDD/<hex>" */
	const uint8_t *inline_data; /* non-NULL: kept in DB_BLOBS (borrowed from the caller) */
	uint64_t size;
	uint8_t sha256[32];
};

/* A list of spool names (files to delete after a commit). */
struct name_list {
	char (*names)[SPOOL_NAME_CAP];
	size_t n;
	size_t cap;
};

enum wop_kind {
	WOP_PUT = 1,
	WOP_TRANSITION,
	WOP_CLAIM,
	WOP_BACKOFF,
	WOP_DEDUP_PRUNE,
	WOP_PURGE,
	WOP_AUDIT,
	WOP_GROW,
	WOP_NOTE_ADD,
	WOP_NOTE_DONE,
	WOP_PURGE_RECORDS,
	WOP_DELETE_PAYLOADS,
};

/* One queued write operation. Owned by the caller that enqueued it. */
struct wop {
	struct wop *next;
	enum wop_kind kind;

	/* WOP_PUT, WOP_TRANSITION, WOP_CLAIM (claim: output records) */
	struct as4_msgrec *rec;
	const struct as4_store_put *put;
	uint64_t *dup_id;
	uint64_t id;
	const struct as4_store_update *upd;
	/* spool files written for this op: payloads in order, then raw, then receipt */
	struct spool_new *files;
	size_t n_files;
	int raw_file;     /* index in files or -1 */
	int receipt_file; /* index in files or -1 */

	/* WOP_CLAIM, WOP_DEDUP_PRUNE, WOP_PURGE */
	int64_t time_ms;
	size_t limit;
	struct as4_msgrec *out_recs;
	size_t out_n;
	const struct as4_store_purge *purge;

	/* WOP_BACKOFF, WOP_AUDIT */
	const char *s1, *s2, *s3, *s4;

	/* WOP_GROW */
	uint64_t bytes;

	/* WOP_DELETE_PAYLOADS (id, s1 = reason; out_n = files deleted) */
	uint32_t states;

	/* files to delete once the commit is durable (replaced or purged) */
	struct name_list unlink;

	/* result */
	as4_err err;
	struct as4_diag diag;
	as4_store_done_fn done; /* NULL: a blocking caller waits for finished */
	void *ctx;
	bool finished;  /* set by the writer for blocking callers, before it posts wake */
	sem_t wake;     /* blocking callers: posted once when the op is finished */
	bool committed; /* writer: durable in an earlier transaction of this batch */
};

struct as4_store {
	MDB_env *env;
	MDB_dbi db[DB__COUNT];
	char *dir;       /* data dir */
	char *spool_dir; /* data_dir/spool */
	int spool_fd;    /* O_DIRECTORY fd of spool_dir (syncfs, fsync of new day dirs) */
	struct as4_store_opts opts;
	uint64_t map_size;

	/* Readers hold it shared around their transaction; a map resize holds it exclusively. */
	pthread_rwlock_t maplock;

	pthread_mutex_t qlock;
	pthread_cond_t qcond; /* the writer waits for work */
	struct wop *head, *tail;
	bool stopping;
	bool writer_running;
	pthread_t writer;

	atomic_uint_fast32_t day_made; /* YYYYMMDD of the spool day directory known to exist */
	atomic_uint_fast64_t batches;
	atomic_uint_fast64_t batched_ops;
	uint64_t recovered;
};

/* A write transaction with a sticky error (STYLE rule 14): once err is set, calls do nothing. */
struct stxn {
	struct as4_store *st;
	MDB_txn *txn;
	as4_err err;
	struct as4_diag *d;
};

/* ---- store.c ---- */

/* Map an LMDB/errno code to as4_err (STYLE rule 4). */
as4_err store_err(int rc);
/* Record rc on d with context; returns the mapped error. */
as4_err store_fail(struct as4_diag *d, int rc, const char *what);
/* Begin/end a read transaction (holds maplock shared). */
as4_err store_rd_begin(struct as4_store *st, MDB_txn **txn, struct as4_diag *d);
void store_rd_end(struct as4_store *st, MDB_txn *txn);
/* Decode message id within a read transaction. AS4_E_NOTFOUND, AS4_E_CORRUPT. */
as4_err store_rd_load(struct as4_store *st, MDB_txn *txn, uint64_t id, struct as4_msgrec *rec,
                      struct as4_diag *d);
/* Move *rec to the end of *arr (allocated with room for cap_max on first use). */
as4_err store_recs_push(struct as4_msgrec **arr, size_t *n, size_t cap_max, struct as4_msgrec *rec);

/* Big-endian helpers for keys. */
void store_be64_put(uint8_t *p, uint64_t v);
uint64_t store_be64_get(const uint8_t *p);
void store_be32_put(uint8_t *p, uint32_t v);
uint32_t store_be32_get(const uint8_t *p);

/* Sticky txn helpers. */
void store_tx_put(struct stxn *t, enum store_db db, const void *k, size_t kn, const void *v,
                  size_t vn);
void store_tx_put_noover(struct stxn *t, enum store_db db, const void *k, size_t kn, const void *v,
                         size_t vn);
void store_tx_del(struct stxn *t, enum store_db db, const void *k, size_t kn);
/* Get: returns true when found (val valid until the txn's next write), false otherwise. */
bool store_tx_get(struct stxn *t, enum store_db db, const void *k, size_t kn, MDB_val *val);
/* meta counters */
uint64_t store_tx_counter(struct stxn *t, const char *name);
void store_tx_counter_add(struct stxn *t, const char *name, int64_t delta);
void store_tx_fail(struct stxn *t, as4_err err, const char *fmt, ...) AS4_PRINTF(3, 4);

/* ---- notes.c: the backend notification outbox ---- */

/* Queue doc about msg_id inside t; *seq (may be NULL) receives its position. */
void store_tx_note(struct stxn *t, uint64_t msg_id, const char *doc, uint64_t *seq);
/* WOP_NOTE_ADD (s1 = doc, id = msg_id; out: bytes = seq) and WOP_NOTE_DONE (id = seq). */
void store_op_note_add(struct stxn *t, struct wop *op);
void store_op_note_done(struct stxn *t, struct wop *op);

/* ---- record.c: codec ---- */

/* Encode rec into b (appends). AS4_E_NOMEM, AS4_E_LIMIT. */
as4_err store_rec_encode(const struct as4_msgrec *rec, struct as4_buf *b);
/* Decode n bytes into *rec (initialised here). AS4_E_CORRUPT, AS4_E_NOMEM. */
as4_err store_rec_decode(const uint8_t *p, size_t n, struct as4_msgrec *rec);
as4_err store_ev_encode(const struct as4_store_event *ev, struct as4_buf *b);
as4_err store_ev_decode(const uint8_t *p, size_t n, struct as4_store_event *ev);
as4_err store_aud_encode(const struct as4_store_audit *a, struct as4_buf *b);
as4_err store_aud_decode(const uint8_t *p, size_t n, struct as4_store_audit *a);
void store_event_cleanup(struct as4_store_event *ev);
void store_audit_cleanup(struct as4_store_audit *a);
/* Check caller-provided fields against the caps. AS4_E_INVAL / AS4_E_LIMIT with a diag. */
as4_err store_rec_validate(const struct as4_msgrec *rec, struct as4_diag *d);
/* The 13-digit GLN in v ("0088:<13 digits>" or 13 digits) into out; false if none. */
bool store_gln_of(const char *v, char out[14]);
/* Set *dst to a heap copy of src (NULL src -> NULL). false = out of memory. */
bool store_str_set(char **dst, const char *src);
/* Replace *dst (its strings freed) by a deep copy of src (NULL -> unknown). false = no memory. */
bool store_rinfo_copy(struct as4_store_receipt_info *dst, const struct as4_store_receipt_info *src);
/* Check a caller's Receipt summary (NULL ok) against the caps. AS4_E_INVAL / AS4_E_LIMIT. */
as4_err store_rinfo_validate(const struct as4_store_receipt_info *ri, struct as4_diag *d);

/* ---- spool.c ---- */

/* Generate a fresh name and write b into it (not yet durable unless FDATASYNC mode). */
as4_err store_spool_write(struct as4_store *st, const struct as4_blob *b, struct spool_new *f,
                          struct as4_diag *d);
/* Make the files of a batch durable according to opts.sync (writer thread). */
as4_err store_spool_sync_batch(struct as4_store *st, struct wop **ops, size_t n,
                               struct as4_diag *d);
/* Unlink a spool name (best effort). */
void store_spool_unlink(struct as4_store *st, const char *name);
/* True when name has the shape the store generates. */
bool store_spool_name_valid(const char *name);
/* True for a valid name of a blob kept inside the environment (SPOOL_INLINE_DAY). */
bool store_spool_name_inline(const char *name);
/* Append a name to a list. */
as4_err store_name_list_add(struct name_list *l, const char *name);
void store_name_list_cleanup(struct name_list *l);

/* ---- index.c ---- */

/* store_ikey(v) into out (capacity IKEY_LEN+1), returns its length. */
size_t store_ikey(const char *v, uint8_t *out);
/* Longest index key: tag, ikey, separator, time, id. */
#define IDX_KEY_MAX (1u + IKEY_LEN + 1u + 16u)
/* The index key of (tag, value, created, id) into out (capacity IDX_KEY_MAX); its length. */
size_t store_idx_key(enum store_idx tag, const char *value, int64_t created_ms, uint64_t id,
                     uint8_t *out);
/* Add or remove every index entry of rec. */
void store_idx_put_all(struct stxn *t, const struct as4_msgrec *rec);
void store_idx_del_all(struct stxn *t, const struct as4_msgrec *rec);
/* Index entries a record can have at most. */
#define IDX_ENTRIES 19u
/* The index keys of one version of a record. */
struct store_idx_set {
	size_t n;
	size_t len[IDX_ENTRIES];
	uint8_t key[IDX_ENTRIES][IDX_KEY_MAX];
};
/* The index keys rec has now (its id and created time must be set). */
void store_idx_collect(const struct as4_msgrec *rec, struct store_idx_set *s);
/*
 * Bring the index from the keys in before to those rec has now: only the entries that differ
 * are deleted or added, so a state change leaves the pages of unchanged entries (parties,
 * action, conversation, MessageId...) untouched instead of rewriting them in every commit.
 * The stored entries are always exactly store_idx_collect() of the stored record; a new kind
 * of entry therefore needs a migration at open (transitions no longer re-add them all).
 */
void store_idx_update(struct stxn *t, const struct store_idx_set *before,
                      const struct as4_msgrec *rec);

/* ---- ops.c: write operations, run by the writer inside a (nested) transaction ---- */
void store_op_run(struct stxn *t, struct wop *op);
/* Crash recovery at open: sending -> due. Returns the count. */
as4_err store_op_recover(struct as4_store *st, uint64_t *count, struct as4_diag *d);
/* Load and decode message id. false with t->err set (AS4_E_NOTFOUND) when missing. */
bool store_tx_load(struct stxn *t, uint64_t id, struct as4_msgrec *rec);

/* ---- writer.c ---- */
as4_err store_writer_start(struct as4_store *st, struct as4_diag *d);
void store_writer_stop(struct as4_store *st);
/* Enqueue op and, when op->done is NULL, wait until it finished. Returns op->err. */
as4_err store_writer_submit(struct as4_store *st, struct wop *op);
void store_wop_init(struct wop *op, enum wop_kind kind);
void store_wop_cleanup(struct wop *op);
