/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The message store (L1): one LMDB environment in <data_dir>/store/ plus payload spool files in
 * <data_dir>/spool/. LMDB never crosses this header (STYLE rules 4 and 14): callers see records,
 * events, cursors and as4_err codes only.
 *
 * What it keeps
 *   - message records (struct as4_msgrec) by an internal id (a 64-bit sequence assigned at
 *     commit; ids grow with commit order), with the eb:MessageId as a secondary key;
 *   - a per-message event log (every state change, with its reason, in the same transaction);
 *   - the due queue of outbound messages (queued/retrying, by due time) with per-peer backoff;
 *   - the duplicate-elimination window (received MessageId -> time + the stored receipt);
 *   - the inbox (received messages not yet acknowledged by the backend, in arrival order);
 *   - search indexes (state, direction, time, parties, service, action, conversation, ...);
 *   - an append-only audit log (who did what, when);
 *   - payload, raw-message and receipt bytes as spool files named by random ids (never by
 *     anything a peer sent), written and made durable before the record that references them.
 *
 * Durability and group commit
 *   Every write goes through one writer thread. Callers enqueue an operation and (for the
 *   blocking functions) sleep until it is durable. The writer takes everything pending, makes
 *   the batch's spool files durable (fdatasync per file or one syncfs, see
 *   enum as4_store_sync), runs one LMDB write transaction for the whole batch (each operation
 *   in a nested transaction, so one failing operation does not fail the others) and commits it
 *   with LMDB's own synchronous commit: two fdatasyncs for many messages. Only then are the
 *   callers woken. A blocking function that returned AS4_OK therefore guarantees that the
 *   change survives a crash or power loss: a Receipt may be sent, an API may answer 202.
 *
 * Reads (get, events, inbox, search, stats, ...) run in the caller's thread in their own short
 * read transaction, concurrently with the writer and each other. No transaction is ever held
 * across a call into another layer or network I/O: results are copied out before it ends.
 *
 * Thread-safety: every function taking a struct as4_store * may be called from any thread at
 * the same time, except as4_store_open() and as4_store_close(). One store per process and data
 * directory, opened after daemonising (LMDB forbids use across fork()).
 *
 * Errors: AS4_E_SPACE when the LMDB map or the disk is full (the store stays usable: reads
 * work, and writes succeed again once space returns or the map is enlarged), AS4_E_IO for other
 * file-system failures, AS4_E_CORRUPT for damaged stored data, AS4_E_BUSY once closing began,
 * AS4_E_NOTFOUND, AS4_E_EXISTS (duplicates), AS4_E_STATE (a state change the state machine
 * forbids), AS4_E_INVAL (bad arguments, malformed cursors), AS4_E_LIMIT (a value over the
 * store's caps), AS4_E_NOMEM. The diagnostic says which message, field or file.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "as4/blob.h"
#include "as4/compiler.h"
#include "as4/diag.h"
#include "as4/err.h"

/* ---- Directions and states ----------------------------------------------------------------- */

/* Direction of a message unit, seen from this access point. */
enum as4_dir {
	AS4_DIR_NONE = 0, /* unset (filters: any direction) */
	AS4_DIR_IN = 1,   /* received from a peer: "in" */
	AS4_DIR_OUT = 2,  /* submitted by a backend, sent to a peer: "out" */
};

/*
 * Message states. Outbound: queued -> sending -> delivered | retrying | failed; retrying ->
 * sending | failed; failed -> queued (an admin's retry: attempts start again from 0 and
 * queued_ms is set, so the PMode's retries and deadline apply afresh). Inbound: received ->
 * delivered-to-backend (acknowledged) | failed-to-backend; failed-to-backend ->
 * delivered-to-backend | failed-to-backend. A state may also "change" to itself (the event
 * then records a note, e.g. a push attempt) except the two final states delivered and
 * delivered-to-backend. Numbers are stored on disk: never renumber.
 */
enum as4_msg_state {
	AS4_ST_NONE = 0,           /* unset (filters: any state) */
	AS4_ST_QUEUED = 1,         /* out: committed, waiting for its first attempt */
	AS4_ST_SENDING = 2,        /* out: claimed by a send worker */
	AS4_ST_RETRYING = 3,       /* out: an attempt failed; due again at next_due_ms */
	AS4_ST_DELIVERED = 4,      /* out: a valid Receipt was verified and stored (final) */
	AS4_ST_FAILED = 5,         /* out: attempts exhausted or a fatal ebMS error */
	AS4_ST_RECEIVED = 6,       /* in: stored durably, Receipt sent, backend not yet told */
	AS4_ST_BACKEND_ACKED = 7,  /* in: "delivered-to-backend" (acknowledged; final) */
	AS4_ST_BACKEND_FAILED = 8, /* in: "failed-to-backend": push failed; still in the inbox */
	AS4_ST__COUNT
};

/* "in" / "out" (static storage); "none" for AS4_DIR_NONE, "?" for other values. */
const char *as4_dir_text(enum as4_dir d);

/* Parse "in" / "out". AS4_E_INVAL for anything else. Thread-safe. */
AS4_MUST_CHECK as4_err as4_dir_parse(const char *s, enum as4_dir *out);

/*
 * The state's text: "queued", "sending", "retrying", "delivered", "failed", "received",
 * "delivered-to-backend", "failed-to-backend" ("none" for AS4_ST_NONE, "?" for unknown values).
 * Static storage; thread-safe.
 */
const char *as4_msg_state_text(enum as4_msg_state s);

/* Parse a state text (exact, as above). AS4_E_INVAL for anything else. Thread-safe. */
AS4_MUST_CHECK as4_err as4_msg_state_parse(const char *s, enum as4_msg_state *out);

/* The direction a state belongs to (AS4_DIR_NONE for AS4_ST_NONE and unknown values). */
enum as4_dir as4_msg_state_dir(enum as4_msg_state s);

/* True when the state machine allows from -> to (see enum as4_msg_state). Thread-safe. */
bool as4_msg_state_allowed(enum as4_msg_state from, enum as4_msg_state to);

/* ---- Records ------------------------------------------------------------------------------- */

/*
 * Every string below is a heap string owned by the struct holding it (NUL-terminated, NULL
 * when absent) and released by as4_msgrec_cleanup(). The store copies what it is given and
 * hands out copies: nothing returned borrows from the store.
 */

/* A party id (eb:PartyId): type attribute (may be NULL) and value. */
struct as4_store_party {
	char *type;
	char *value;
};

/* A name/type/value property (eb:Property, eb:PartProperties/eb:Property). */
struct as4_store_prop {
	char *name;
	char *type; /* may be NULL */
	char *value;
};

/* One payload part as stored. */
struct as4_store_payload {
	char *content_id;             /* Content-ID without angle brackets (or "#body" ref) */
	char *mime_type;              /* MimeType part property / Content-Type */
	char *charset;                /* CharacterSet part property, may be NULL */
	bool compressed;              /* AS4 compression was applied on the wire */
	struct as4_store_prop *props; /* part properties */
	size_t n_props;
	uint64_t size;      /* set by the store: bytes in the spool file */
	uint8_t sha256[32]; /* set by the store: SHA-256 of the spool file */
	char *file;         /* set by the store: spool name; NULL once purged by retention */
};

/* A signed reference (ds:Reference) kept for the Receipt's NonRepudiationInformation check. */
struct as4_store_sigref {
	char *uri;           /* "#id..." or "cid:..." */
	char *digest_method; /* algorithm URI */
	char *digest_value;  /* base64 */
};

/* What a stored Receipt (or other signal) says about itself; see as4_msgrec.receipt_info. */
enum as4_store_signal_kind {
	AS4_STORE_SIGNAL_OTHER = 0,   /* a PullRequest */
	AS4_STORE_SIGNAL_RECEIPT = 1, /* eb:Receipt */
	AS4_STORE_SIGNAL_ERROR = 2,   /* eb:Error */
};

/*
 * A summary of the stored Receipt, made by whoever parsed it before storing it, so that
 * showing a message does not parse the Receipt again. It holds what as4_ebms3_parse_bytes()
 * finds in the receipt_file's bytes; the store keeps it with the record and forgets it when
 * the Receipt is replaced without one. Strings are owned by the record.
 */
struct as4_store_receipt_info {
	bool known;    /* the fields below describe receipt_file; false: not recorded (parse it) */
	bool readable; /* the file is a SOAP envelope with an eb:SignalMessage; false: no more */
	enum as4_store_signal_kind kind;
	char *message_id;        /* the signal's eb:MessageId, may be NULL */
	char *ref_to_message_id; /* its eb:RefToMessageId, may be NULL */
	int64_t timestamp_ms;    /* its eb:Timestamp, 0 when none */
	bool has_security;       /* it carries a wsse:Security header */
	uint32_t n_nri;          /* NonRepudiationInformation references */
};

/*
 * A message record. Fields marked "store" are assigned by the store on put and ignored on
 * input; the rest are the caller's. Initialise with as4_msgrec_init(), release with
 * as4_msgrec_cleanup(). Not thread-safe (one owner at a time).
 */
struct as4_msgrec {
	uint64_t id;                 /* store: internal id (> 0), assigned at commit */
	enum as4_dir dir;            /* in or out (required) */
	enum as4_msg_state state;    /* store: the current state */
	char *pmode_id;              /* PMode id used */
	struct as4_store_party from; /* eb:From PartyId */
	char *from_role;             /* eb:From Role */
	struct as4_store_party to;   /* eb:To PartyId */
	char *to_role;               /* eb:To Role */
	char *original_sender;       /* originalSender message property (four-corner C1) */
	char *final_recipient;       /* finalRecipient message property (four-corner C4) */
	char *service;               /* eb:Service value */
	char *service_type;          /* eb:Service type, may be NULL */
	char *action;                /* eb:Action */
	char *agreement;             /* eb:AgreementRef value */
	char *agreement_type;        /* eb:AgreementRef type, may be NULL */
	char *conversation_id;       /* eb:ConversationId */
	char *message_id;            /* eb:MessageId (required) */
	char *ref_to_message_id;     /* eb:RefToMessageId, may be NULL */
	char *mpc;                   /* eb:UserMessage mpc, may be NULL (default MPC) */
	int64_t created_ms;          /* store: commit time of the put (ms since the epoch) */
	int64_t updated_ms;          /* store: time of the last change */
	int64_t ebms_timestamp_ms;   /* eb:Timestamp */
	uint32_t attempts;           /* store: send attempts started (outbound) */
	int64_t next_due_ms;         /* store: due time while queued/retrying, else 0 */
	char *last_error_code;       /* store: "EBMS:0301" of the last failure, may be NULL */
	char *last_error_detail;     /* store: its detail text, may be NULL */
	char *endpoint_url;          /* peer endpoint (outbound; may be set later by discovery) */
	char *receiver_cert_pem;     /* receiver's certificate, PEM (discovery), may be NULL */
	struct as4_store_payload *payloads; /* parts, in message order */
	size_t n_payloads;
	struct as4_store_sigref *signed_refs; /* references signed (sent or received) */
	size_t n_signed_refs;
	char *receipt_file; /* store: spool name of the Receipt (received, or sent back) */
	char *raw_file;     /* store: spool name of the signed message as sent/received */
	struct as4_store_prop *props; /* eb:MessageProperties */
	size_t n_props;
	char *sbdh_instance_id;  /* SBDH DocumentIdentification/InstanceIdentifier */
	char *medcom_message_id; /* MedCom (FHIR MessageHeader) message id */
	/*
	 * Outbound: name of the API token that submitted it (api.tokens[].name), NULL when not
	 * submitted through the API or in records older than this field. A submitter token sees
	 * only the outbound messages it submitted (ap/api).
	 */
	char *submitted_by;
	bool acked;        /* store: inbound, acknowledged by the backend */
	int64_t purged_ms; /* store: when retention removed the payload files, else 0 */
	uint32_t n_events; /* store: events logged so far */
	/*
	 * store: outbound, when it last became queued (submission, or an admin's retry of a failed
	 * message): where its attempts and deadline start; 0 in records older than this field.
	 */
	int64_t queued_ms;
	/*
	 * store: what receipt_file says, from the receipt_info given with the Receipt
	 * (as4_store_put, as4_store_update); known == false without one, without a Receipt and
	 * in records older than this field.
	 */
	struct as4_store_receipt_info receipt_info;
};

/* Zero rec (all strings NULL, counts 0). */
void as4_msgrec_init(struct as4_msgrec *rec);

/* Free every string and array rec owns; rec is as after as4_msgrec_init(). NULL ok. */
void as4_msgrec_cleanup(struct as4_msgrec *rec);

/* Free an array of n records returned by the store (cleans up each). NULL ok. */
void as4_msgrec_array_free(struct as4_msgrec *recs, size_t n);

/*
 * Deep copy of src into dst (dst is overwritten without cleanup; use an initialised or
 * cleaned-up struct). AS4_E_NOMEM (dst is then cleaned up).
 */
AS4_MUST_CHECK as4_err as4_msgrec_copy(struct as4_msgrec *dst, const struct as4_msgrec *src);

/*
 * The key that groups outbound messages by peer for backoff: endpoint_url when set, else the
 * to-party value, else "". Borrowed from rec; valid while rec's fields are unchanged.
 */
const char *as4_msgrec_peer_key(const struct as4_msgrec *rec);

/* ---- Opening and closing --------------------------------------------------------------------- */

/* How the writer makes a batch's spool files durable before the LMDB commit. */
enum as4_store_sync {
	AS4_STORE_SYNC_FDATASYNC = 0, /* fdatasync each new file + fsync its directory (default) */
	AS4_STORE_SYNC_SYNCFS = 1,    /* one syncfs() of the spool file system per batch */
	AS4_STORE_SYNC_NONE = 2,      /* no syncs at all: tests and benchmarks only, NOT durable */
};

/* Options; zero-initialise and set what differs from the defaults. */
struct as4_store_opts {
	uint64_t map_size;        /* initial LMDB map size in bytes (0 = 32 GiB) */
	uint64_t map_max;         /* grow the map up to this on map-full (0 = never grow) */
	unsigned max_readers;     /* concurrent read transactions (0 = 256) */
	size_t max_batch;         /* operations per group commit (0 = 512) */
	enum as4_store_sync sync; /* spool durability strategy */
	int64_t dedup_window_ms;  /* duplicate window for as4_store_dedup_prune_window (0 = 30 d) */
	size_t claim_scan_max;    /* due entries one claim may skip over (0 = 10000) */
	size_t search_scan_max;   /* index entries one search page may examine (0 = 200000) */
	/*
	 * Blobs (payloads, raw messages, Receipts) of at most this many bytes are kept inside the
	 * LMDB environment, committed with their record, instead of in a spool file of their own:
	 * no file to create, sync and later delete (0 = never; every blob is a spool file). Their
	 * names are spool names of the pseudo-day "00000000"; as4_store_spool_open() reads them
	 * from the environment and as4_store_spool_path() writes a read-only copy into the spool
	 * on demand. They count against the map size.
	 */
	size_t inline_max;
};

struct as4_store;

/*
 * Open (creating when missing) the store under data_dir: the environment in data_dir/store/
 * and spool files in data_dir/spool/ (mode 0700). Recovers from a crash: outbound messages
 * left in "sending" go back to the due queue (retrying, or queued when never attempted), each
 * with an event "send interrupted by a restart"; the count is in as4_store_stats. Starts the
 * writer thread.
 * opts may be NULL (defaults). *out receives the store (free with as4_store_close()).
 * Errors: AS4_E_IO (directories, LMDB open; the diagnostic names the path), AS4_E_CORRUPT (not
 * an as4 store, or a newer on-disk format), AS4_E_SPACE, AS4_E_NOMEM, AS4_E_INVAL.
 * Not thread-safe with respect to the same data_dir (one store per process and directory).
 */
AS4_MUST_CHECK as4_err as4_store_open(const char *data_dir, const struct as4_store_opts *opts,
                                      struct as4_store **out, struct as4_diag *d);

/*
 * Stop accepting writes (they fail with AS4_E_BUSY), let the writer commit everything already
 * enqueued (callers are woken with their results), join it and close the environment. The
 * caller must make sure no other thread is inside a store function. NULL ok.
 */
void as4_store_close(struct as4_store *st);

/* ---- Writing messages -------------------------------------------------------------------- */

/*
 * Completion of an asynchronous write: err and d (borrowed, valid during the call only) give
 * the result; rec/ids were filled as documented for the blocking variant before the call. Runs
 * on the writer thread after the batch is durable: it must be short and must not call back
 * into a writing store function (reads are allowed).
 */
typedef void (*as4_store_done_fn)(void *ctx, as4_err err, const struct as4_diag *d);

/* What a put stores besides the record. Zero-initialise; borrowed for the call's duration. */
struct as4_store_put {
	const struct as4_blob *payloads; /* rec->n_payloads blobs, one per rec->payloads[i] */
	const struct as4_blob *raw;      /* the signed message as received/sent, may be NULL */
	const struct as4_blob *receipt;  /* inbound: the Receipt sent back, may be NULL */
	/* with receipt: its summary (copied into the record), NULL = none is known */
	const struct as4_store_receipt_info *receipt_info;
	bool check_duplicate; /* inbound: refuse a MessageId already in the duplicate window */
	int64_t due_ms;       /* outbound: first due time (0 = now) */
	/*
	 * outbound: commit it already claimed for its first attempt (state sending, attempts 1,
	 * events "submitted" and "claimed for attempt 1") in the same transaction, for a send
	 * worker that takes it at once (as4_sender_reserve()): one commit less before the POST.
	 * After a crash it is due again like every message left in sending.
	 */
	bool claim;
};

/*
 * Store a received message (state "received", in the inbox) with its payloads, raw message
 * and Receipt, and record its MessageId in the duplicate window. Blocks until durable.
 * rec: dir must be AS4_DIR_IN, message_id set. On AS4_OK the store has filled rec->id, state,
 * created_ms, updated_ms, n_events, the payloads' size/sha256/file and receipt_file/raw_file.
 * When p->check_duplicate and the MessageId is already in the window: AS4_E_EXISTS, *dup_id
 * (may be NULL) receives the stored message's id and nothing is written (the caller answers
 * with that message's stored Receipt, see as4_store_dedup_lookup()).
 * Payload blobs may be heap, borrowed or mapped; a mapped blob from an unnamed spool file on
 * the same file system is linked into the spool without a copy.
 * Errors: AS4_E_INVAL (missing fields, count mismatch), AS4_E_LIMIT (a field over the store's
 * caps), AS4_E_EXISTS, AS4_E_SPACE, AS4_E_IO, AS4_E_BUSY, AS4_E_NOMEM. On error no spool file
 * is left behind and rec's store fields are unspecified.
 */
AS4_MUST_CHECK as4_err as4_store_put_inbound(struct as4_store *st, struct as4_msgrec *rec,
                                             const struct as4_store_put *p, uint64_t *dup_id,
                                             struct as4_diag *d);

/*
 * Store a message submitted by a backend (state "queued", due at p->due_ms) with its payloads.
 * Blocks until durable: then the API may answer 202. rec: dir must be AS4_DIR_OUT, message_id
 * set and unique among outbound messages (AS4_E_EXISTS otherwise). Fills rec as
 * as4_store_put_inbound() does. Same errors.
 */
AS4_MUST_CHECK as4_err as4_store_submit(struct as4_store *st, struct as4_msgrec *rec,
                                        const struct as4_store_put *p, struct as4_diag *d);

/*
 * Asynchronous put: the direction is rec->dir. Writes the spool files in the calling thread,
 * enqueues the record and returns; done(ctx, err, d) runs once the batch is durable (or failed).
 * rec, p and everything they point to must stay valid and untouched until done runs; the store
 * fills rec (and *dup_id for AS4_E_EXISTS) before calling done. Returns AS4_OK when enqueued
 * (done will be called exactly once) or an error (done is not called).
 */
AS4_MUST_CHECK as4_err as4_store_put_async(struct as4_store *st, struct as4_msgrec *rec,
                                           const struct as4_store_put *p, uint64_t *dup_id,
                                           as4_store_done_fn done, void *ctx, struct as4_diag *d);

/* A state change and the fields that change with it. Zero-initialise; borrowed for the call. */
struct as4_store_update {
	enum as4_msg_state to;    /* the new state (required; may equal the current one) */
	const char *reason;       /* why, for the event log (required, e.g. "receipt verified") */
	const char *ebms_code;    /* sets last_error_code and the event's code (NULL = keep) */
	const char *detail;       /* sets last_error_detail and the event's detail (NULL = keep) */
	int64_t next_due_ms;      /* to queued/retrying: due time (0 = now) */
	const char *endpoint_url; /* replaces endpoint_url (NULL = keep) */
	const char *receiver_cert_pem; /* replaces receiver_cert_pem (NULL = keep) */
	const struct as4_blob *raw;    /* stores the raw message (replaces raw_file), NULL = keep */
	const struct as4_blob
	        *receipt; /* stores the Receipt (replaces receipt_file), NULL = keep */
	/* with receipt: its summary (copied into the record), NULL = none is known */
	const struct as4_store_receipt_info *receipt_info;
	const struct as4_store_sigref *signed_refs; /* replaces the signed references if n > 0 */
	size_t n_signed_refs;
	uint32_t expect; /* bit mask of states (1u << state) the record must be in; 0 = any */
	/* replaces to.value (NULL = keep): the PartyId of a receiver found by discovery */
	const char *to_value;
	/*
	 * A backend notification document (text, at most AS4_STORE_NOTE_MAX bytes) queued in the
	 * same transaction as the change (see "Backend notifications"), so a state change and
	 * its notification are durable together or not at all. NULL = none.
	 */
	const char *notify;
};

/*
 * Change the state of message id and append an event (time, from, to, reason, code, detail) in
 * the same transaction; maintains the due queue, the inbox and the indexes. Blocks until
 * durable. A replaced raw/receipt spool file is deleted after the commit.
 * Errors: AS4_E_NOTFOUND, AS4_E_STATE (transition not allowed, or state not in u->expect),
 * AS4_E_INVAL (no reason, bad state), AS4_E_LIMIT, AS4_E_SPACE, AS4_E_IO, AS4_E_BUSY.
 */
AS4_MUST_CHECK as4_err as4_store_transition(struct as4_store *st, uint64_t id,
                                            const struct as4_store_update *u, struct as4_diag *d);

/*
 * Acknowledge an inbound message for the backend: received/failed-to-backend ->
 * delivered-to-backend, acked = true, removed from the inbox. Blocks until durable.
 * who (may be NULL) is recorded in the event reason. AS4_E_NOTFOUND, AS4_E_STATE (outbound, or
 * already acknowledged), AS4_E_SPACE, AS4_E_IO, AS4_E_BUSY.
 */
AS4_MUST_CHECK as4_err as4_store_ack(struct as4_store *st, uint64_t id, const char *who,
                                     struct as4_diag *d);

/*
 * Claim up to limit outbound messages due at or before now_ms for sending: each moves to
 * "sending" (attempts + 1, an event "claimed for attempt N") atomically in one transaction, so
 * two workers never get the same message. Messages whose peer (as4_msgrec_peer_key()) is
 * backing off until after now_ms are skipped and stay due, so a down peer does not block the
 * others; at most opts.claim_scan_max skipped entries are examined per call. Oldest due first.
 * *out receives a heap array of *n copies (free with as4_msgrec_array_free(); NULL when 0).
 * Blocks until durable. Errors: AS4_E_INVAL (limit 0 or > 10000), AS4_E_SPACE, AS4_E_IO,
 * AS4_E_BUSY, AS4_E_CORRUPT, AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err as4_store_claim_due(struct as4_store *st, int64_t now_ms, size_t limit,
                                           struct as4_msgrec **out, size_t *n, struct as4_diag *d);

/*
 * Make claims skip messages for peer (an as4_msgrec_peer_key() value) until until_ms (0 or a
 * past time clears the backoff). Persistent across restarts. Blocks until durable.
 * AS4_E_INVAL (empty peer), AS4_E_LIMIT (peer longer than 2048 bytes), AS4_E_SPACE, AS4_E_IO,
 * AS4_E_BUSY.
 */
AS4_MUST_CHECK as4_err as4_store_peer_backoff(struct as4_store *st, const char *peer,
                                              int64_t until_ms, struct as4_diag *d);

/*
 * The time until which claims skip peer (0 when not backing off or unknown).
 * AS4_E_IO, AS4_E_CORRUPT.
 */
AS4_MUST_CHECK as4_err as4_store_peer_backoff_get(struct as4_store *st, const char *peer,
                                                  int64_t *until_ms, struct as4_diag *d);

/* ---- Reading messages -------------------------------------------------------------------- */

/*
 * Copy message id into *rec (overwritten without cleanup: pass an initialised or cleaned-up
 * struct; the caller cleans it up). AS4_E_NOTFOUND, AS4_E_CORRUPT, AS4_E_IO, AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err as4_store_get(struct as4_store *st, uint64_t id, struct as4_msgrec *rec,
                                     struct as4_diag *d);

/*
 * Copy the newest message of direction dir with eb:MessageId message_id into *rec (as
 * as4_store_get()). AS4_E_NOTFOUND, AS4_E_INVAL (dir not in/out), AS4_E_CORRUPT, AS4_E_IO.
 */
AS4_MUST_CHECK as4_err as4_store_get_by_msgid(struct as4_store *st, enum as4_dir dir,
                                              const char *message_id, struct as4_msgrec *rec,
                                              struct as4_diag *d);

/* One entry of a message's event log. Strings are heap, owned by the event array. */
struct as4_store_event {
	uint32_t seq;                  /* 0, 1, 2, ... within the message */
	int64_t time_ms;               /* when the change was committed */
	enum as4_msg_state from_state; /* AS4_ST_NONE for the creation event */
	enum as4_msg_state to_state;
	char *reason;    /* why */
	char *ebms_code; /* may be NULL */
	char *detail;    /* may be NULL */
};

/*
 * The event log of message id, oldest first: *out is a heap array of *n events (free with
 * as4_store_events_free(); NULL when none). AS4_E_NOTFOUND (no such message), AS4_E_CORRUPT,
 * AS4_E_IO, AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err as4_store_events(struct as4_store *st, uint64_t id,
                                        struct as4_store_event **out, size_t *n,
                                        struct as4_diag *d);

/* Free an event array from as4_store_events(). NULL ok. */
void as4_store_events_free(struct as4_store_event *ev, size_t n);

/*
 * Received messages not yet acknowledged, in arrival order, starting after id after_id (0 =
 * from the start), at most limit (1..1000). *out: heap array of *n records (free with
 * as4_msgrec_array_free()); *next_after: the id to pass for the next page (0 when this page
 * reached the end). AS4_E_INVAL, AS4_E_CORRUPT, AS4_E_IO, AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err as4_store_inbox_list(struct as4_store *st, uint64_t after_id, size_t limit,
                                            struct as4_msgrec **out, size_t *n,
                                            uint64_t *next_after, struct as4_diag *d);

/* ---- Duplicate window ---------------------------------------------------------------------- */

/* What the duplicate window remembers about a received MessageId. */
struct as4_store_dedup {
	int64_t received_ms;   /* when the first copy was committed */
	uint64_t id;           /* the stored message (its receipt_file is the Receipt to resend) */
	char receipt_file[80]; /* the stored Receipt's spool name ("" when none was stored) */
};

/*
 * Look up message_id in the duplicate window. AS4_OK and *out filled when it is a duplicate,
 * AS4_E_NOTFOUND when not. AS4_E_CORRUPT, AS4_E_IO.
 */
AS4_MUST_CHECK as4_err as4_store_dedup_lookup(struct as4_store *st, const char *message_id,
                                              struct as4_store_dedup *out, struct as4_diag *d);

/*
 * Forget received MessageIds recorded before before_ms, at most max of them per call (0 =
 * 10000; bounded batches keep write transactions short: call again while *n == max).
 * *n (may be NULL) receives the count.
 * Messages themselves are kept. Blocks until durable. AS4_E_SPACE, AS4_E_IO, AS4_E_BUSY.
 */
AS4_MUST_CHECK as4_err as4_store_dedup_prune(struct as4_store *st, int64_t before_ms, size_t max,
                                             size_t *n, struct as4_diag *d);

/* as4_store_dedup_prune() with before_ms = now_ms - opts.dedup_window_ms. */
AS4_MUST_CHECK as4_err as4_store_dedup_prune_window(struct as4_store *st, int64_t now_ms,
                                                    size_t max, size_t *n, struct as4_diag *d);

/* ---- Spool files --------------------------------------------------------------------------- */

/*
 * The absolute path of a spool name from a record (payload file, receipt_file, raw_file) into
 * out (capacity cap). The name is checked to be one the store generates (AS4_E_CORRUPT
 * otherwise), so a damaged record cannot point outside the spool. For a blob kept inside the
 * environment (opts.inline_max) a read-only copy is written to that path first (once; it goes
 * when the blob goes). AS4_E_LIMIT when out is too small; for inline blobs also
 * AS4_E_NOTFOUND (no longer stored), AS4_E_IO, AS4_E_SPACE. Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_store_spool_path(const struct as4_store *st, const char *name, char *out,
                                            size_t cap, struct as4_diag *d);

/*
 * Map a spool file read-only into *b (as4_blob_map_path(); clean up with as4_blob_cleanup());
 * a blob kept inside the environment (opts.inline_max) is copied to the heap instead.
 * AS4_E_NOTFOUND (name NULL: purged by retention, or the file is missing), AS4_E_CORRUPT (bad
 * name), AS4_E_IO, AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err as4_store_spool_open(const struct as4_store *st, const char *name,
                                            struct as4_blob *b, struct as4_diag *d);

/*
 * The size in bytes of a spool file or inline blob named by a record, without reading or
 * copying it. AS4_E_NOTFOUND (NULL name, or no longer stored), AS4_E_CORRUPT (bad name),
 * AS4_E_IO. Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_store_spool_size(const struct as4_store *st, const char *name,
                                            uint64_t *size, struct as4_diag *d);

/* Retention purge selection. Zero-initialise. */
struct as4_store_purge {
	enum as4_dir dir;  /* direction (required) */
	uint32_t states;   /* bit mask (1u << state) of states to purge (required) */
	int64_t before_ms; /* messages created before this time */
	bool raw_too;      /* also delete the raw message (otherwise kept as evidence) */
	size_t max;        /* messages per call (0 = 10000); call again while *n == max */
};

/*
 * Retention: delete the payload files (and with raw_too the raw message) of messages matching
 * sel; records, events and Receipts are kept, payloads keep size and sha256 and lose their file
 * name, and purged_ms is set. Files are unlinked only after the commit is durable, so a crash
 * never leaves a record pointing to a deleted file (it may leave an orphan file, which
 * as4_store_spool_gc() removes). *n (may be NULL): messages purged. Blocks until durable.
 * AS4_E_INVAL, AS4_E_SPACE, AS4_E_IO, AS4_E_BUSY, AS4_E_CORRUPT.
 */
AS4_MUST_CHECK as4_err as4_store_purge_payloads(struct as4_store *st,
                                                const struct as4_store_purge *sel, size_t *n,
                                                struct as4_diag *d);

/*
 * Retention of the records themselves (retention.metadata): delete messages created before
 * before_ms that are in a final state (delivered, failed, delivered-to-backend) with
 * everything they own: record, events, index entries, payload/raw/Receipt files and blobs,
 * and their duplicate-window entry. Messages still in progress are never touched. At most
 * max per call (0 = 10000; call again while *n == max); *n (may be NULL) receives the count.
 * Files are unlinked once the commit is durable. Blocks until durable.
 * AS4_E_SPACE, AS4_E_IO, AS4_E_BUSY, AS4_E_CORRUPT, AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err as4_store_purge_records(struct as4_store *st, int64_t before_ms, size_t max,
                                               size_t *n, struct as4_diag *d);

/*
 * Delete spool files that no record references and that are older than min_age_ms (left by a
 * crash between writing a file and committing its record, or between a purge and its unlink).
 * Files younger than min_age_ms are left alone because a put may be about to commit them: use
 * at least an hour. *n (may be NULL): files removed. AS4_E_IO, AS4_E_CORRUPT.
 */
AS4_MUST_CHECK as4_err as4_store_spool_gc(struct as4_store *st, int64_t min_age_ms, size_t *n,
                                          struct as4_diag *d);

/*
 * Delete the payload files of one message at an administrator's request (e.g. data that must
 * not be kept any longer), as retention does: the record, its events, its Receipt and its raw
 * message are kept; the payloads keep size and sha256 and lose their file name; purged_ms is
 * set; an event with reason (required, e.g. "payloads deleted by admin ops") is logged in
 * the same transaction. states: bit mask (1u << state) of the states the message must be in
 * (0 = any), so the caller can refuse messages whose payloads are still needed. Files are
 * unlinked after the commit is durable. *n (may be NULL): payload files deleted (0 when they
 * were already gone; no event is logged then). Blocks until durable.
 * AS4_E_NOTFOUND, AS4_E_STATE (not in states), AS4_E_INVAL (no reason), AS4_E_LIMIT,
 * AS4_E_SPACE, AS4_E_IO, AS4_E_BUSY, AS4_E_CORRUPT.
 */
AS4_MUST_CHECK as4_err as4_store_delete_payloads(struct as4_store *st, uint64_t id, uint32_t states,
                                                 const char *reason, size_t *n, struct as4_diag *d);

/* ---- Search -------------------------------------------------------------------------------- */

/*
 * A search filter: every field set must match (AND). Strings are exact matches; NULL = any.
 * Zero-initialise.
 */
struct as4_store_filter {
	enum as4_dir dir;         /* AS4_DIR_NONE = any */
	enum as4_msg_state state; /* AS4_ST_NONE = any */
	int64_t created_from_ms;  /* created at or after (0 = no bound) */
	int64_t created_to_ms;    /* created before (0 = no bound) */
	const char *party;        /* from or to party value */
	const char *from_party;   /* from party value */
	const char *to_party;     /* to party value */
	const char *original_sender;
	const char *final_recipient;
	const char *service;
	const char *action;
	const char *conversation_id;
	const char *message_id;
	const char *ebms_error; /* last_error_code, e.g. "EBMS:0301" */
	const char *gln;        /* 13-digit GLN at either end (parties or four-corner ends) */
	const char *sbdh_instance_id;
	const char *medcom_message_id;
};

/* Longest search cursor including its NUL. */
#define AS4_STORE_CURSOR_MAX 40

/*
 * Search messages, newest first (by created time, then id). cursor: "" or NULL for the first
 * page, else the *next_cursor of the previous page (opaque text, safe to hand to API clients;
 * AS4_E_INVAL when malformed). limit: 1..1000.
 * The most selective index among the filter's fields is walked and the other fields are checked
 * on the record, so a page costs about (entries walked) lookups. One call examines at most
 * opts.search_scan_max index entries: it may return fewer than limit records with a non-empty
 * next_cursor, which means "continue from here" (not "no more").
 * *out: heap array of *n records (as4_msgrec_array_free()); next_cursor (capacity
 * AS4_STORE_CURSOR_MAX) is "" when the search is complete.
 * Paging is stable: a message committed after the first page never shifts later pages.
 * AS4_E_INVAL, AS4_E_CORRUPT, AS4_E_IO, AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err as4_store_search(struct as4_store *st, const struct as4_store_filter *f,
                                        const char *cursor, size_t limit, struct as4_msgrec **out,
                                        size_t *n, char next_cursor[AS4_STORE_CURSOR_MAX],
                                        struct as4_diag *d);

/* ---- Audit log ------------------------------------------------------------------------------ */

/* One audit entry (strings heap, owned by the array). */
struct as4_store_audit {
	uint64_t seq;    /* 1, 2, 3, ... */
	int64_t time_ms; /* commit time */
	char *who;       /* token name, user, "as4ctl", "system" */
	char *what;      /* action, e.g. "pmode.reload", "message.retry" */
	char *target;    /* what it applied to (message id, PMode id), may be NULL */
	char *detail;    /* free text, may be NULL; never secrets */
};

/*
 * Append an audit entry (append-only: there is no update or delete). Blocks until durable.
 * who and what are required. AS4_E_INVAL, AS4_E_LIMIT (a text over 4096 bytes), AS4_E_SPACE,
 * AS4_E_IO, AS4_E_BUSY.
 */
AS4_MUST_CHECK as4_err as4_store_audit_append(struct as4_store *st, const char *who,
                                              const char *what, const char *target,
                                              const char *detail, struct as4_diag *d);

/*
 * Audit entries with seq > after_seq, oldest first, at most limit (1..1000): heap array (free
 * with as4_store_audit_free()). AS4_E_INVAL, AS4_E_CORRUPT, AS4_E_IO, AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err as4_store_audit_list(struct as4_store *st, uint64_t after_seq, size_t limit,
                                            struct as4_store_audit **out, size_t *n,
                                            struct as4_diag *d);

/* Free an audit array. NULL ok. */
void as4_store_audit_free(struct as4_store_audit *a, size_t n);

/* ---- Backend notifications ------------------------------------------------------------------ */

/*
 * A durable outbox of notifications for the backend (outcomes of sent messages, errors on
 * received ones): documents are queued in order, either with a state change
 * (as4_store_update.notify) or on their own, read in order by whoever delivers them, and
 * removed once delivered. Nothing is lost across a crash; a notification may be delivered
 * again when the process dies between delivering and removing it, so each carries its seq as
 * an idempotency key.
 */

/* Longest notification document, in bytes. */
#define AS4_STORE_NOTE_MAX 65536u

/* One queued notification. doc is a heap string owned by the array holding it. */
struct as4_store_note {
	uint64_t seq;    /* queue position: 1, 2, 3, ... (never reused) */
	int64_t time_ms; /* when it was queued */
	uint64_t msg_id; /* the message it is about (internal id), 0 when none */
	char *doc;       /* the document (NUL-terminated text) */
};

/*
 * Queue a notification about message msg_id (0 = none). Blocks until durable.
 * *seq (may be NULL) receives its position. AS4_E_INVAL (empty doc), AS4_E_LIMIT (doc over
 * AS4_STORE_NOTE_MAX), AS4_E_SPACE, AS4_E_IO, AS4_E_BUSY.
 */
AS4_MUST_CHECK as4_err as4_store_note_add(struct as4_store *st, uint64_t msg_id, const char *doc,
                                          uint64_t *seq, struct as4_diag *d);

/*
 * Queued notifications with seq > after_seq, oldest first, at most limit (1..1000): *out is a
 * heap array of *n (free with as4_store_notes_free(); NULL when none).
 * AS4_E_INVAL, AS4_E_CORRUPT, AS4_E_IO, AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err as4_store_note_list(struct as4_store *st, uint64_t after_seq, size_t limit,
                                           struct as4_store_note **out, size_t *n,
                                           struct as4_diag *d);

/*
 * Remove notification seq (it was delivered). Blocks until durable. AS4_E_NOTFOUND (no such
 * entry: already removed), AS4_E_SPACE, AS4_E_IO, AS4_E_BUSY.
 */
AS4_MUST_CHECK as4_err as4_store_note_done(struct as4_store *st, uint64_t seq, struct as4_diag *d);

/* Free an array from as4_store_note_list(). NULL ok. */
void as4_store_notes_free(struct as4_store_note *notes, size_t n);

/* ---- Metrics ------------------------------------------------------------------------------- */

struct as4_store_stats {
	uint64_t by_state[AS4_ST__COUNT]; /* messages per state (queue depths) */
	uint64_t messages;                /* all message records */
	uint64_t inbox;                   /* received, not acknowledged */
	uint64_t dedup_entries;           /* MessageIds in the duplicate window */
	int64_t oldest_queued_ms;         /* created time of the oldest queued/retrying/sending
	                                     outbound message, 0 when none */
	uint64_t spool_bytes;             /* bytes in spool files referenced by records */
	uint64_t map_size;                /* LMDB map size in bytes */
	uint64_t map_used;                /* bytes of the map in use (high-water of pages) */
	uint64_t batches;                 /* group commits since open */
	uint64_t batched_ops;             /* operations committed in them */
	uint64_t recovered_at_open;       /* messages moved from sending back to due at open */
	uint64_t notes;                   /* backend notifications queued, not yet done */
};

/*
 * Fill *s (one read transaction; O(number of states), not of messages).
 * AS4_E_IO, AS4_E_CORRUPT.
 */
AS4_MUST_CHECK as4_err as4_store_stats(struct as4_store *st, struct as4_store_stats *s,
                                       struct as4_diag *d);

/* Messages in one state with one PMode id (for metrics by PMode). */
struct as4_store_pmode_count {
	char *pmode; /* PMode id as recorded with the messages (heap, owned by the array) */
	enum as4_msg_state state;
	uint64_t count; /* messages now in this state with this PMode */
};

/*
 * Message counts per (PMode, state), maintained with every change like the per-state counts
 * (so the cost is O(PModes x states), not O(messages)); pairs whose count is 0 are left out,
 * as are messages without a PMode id. Ordered by PMode id, then state. *out: heap array of
 * *n entries (free with as4_store_pmode_counts_free(); NULL when none).
 * AS4_E_IO, AS4_E_CORRUPT, AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err as4_store_pmode_counts(struct as4_store *st,
                                              struct as4_store_pmode_count **out, size_t *n,
                                              struct as4_diag *d);

/* Free an array from as4_store_pmode_counts(). NULL ok. */
void as4_store_pmode_counts_free(struct as4_store_pmode_count *c, size_t n);

/*
 * Enlarge the LMDB map to bytes (> the current size) now, e.g. after AS4_E_SPACE. Waits until
 * no read transaction is running. AS4_E_INVAL (not larger), AS4_E_SPACE, AS4_E_IO, AS4_E_BUSY.
 */
AS4_MUST_CHECK as4_err as4_store_grow(struct as4_store *st, uint64_t bytes, struct as4_diag *d);
