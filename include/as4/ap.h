/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The running access point (L5): everything as4d holds, passed explicitly to the listeners
 * and workers (STYLE rule 13: the only global state is the log sink, the config snapshot
 * pointer inside this struct, and one-time library init in main).
 *
 * A runtime snapshot (struct as4_runtime) bundles one configuration snapshot with the key
 * material loaded for it (our keystores, the AS4 truststore, each party's certificate). It is
 * immutable and reference-counted: a request or a send attempt takes a reference at its start
 * and uses that snapshot throughout, so a reload (SIGHUP or the API) never changes keys or
 * PModes under a message being processed, and never drops traffic.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "as4/compiler.h"
#include "as4/config.h"
#include "as4/diag.h"
#include "as4/err.h"
#include "as4/http.h"
#include "as4/store.h"
#include "as4/wss.h"

struct as4_smp_client;

/* Configuration plus the key material loaded for it. Immutable; reference-counted. */
struct as4_runtime {
	struct as4_config *cfg;        /* one reference */
	struct as4_keystore *sign;     /* our signing key and certificate */
	struct as4_keystore **decrypt; /* encryption key first, then old ones (rollover) */
	size_t n_decrypt;
	struct as4_truststore *trust; /* AS4 signer CAs; NULL when none configured */
	X509 **party_certs;           /* per cfg->parties[i]; NULL when none configured */
	/* SMP clients per cfg->discovery.networks[i] (as4/discovery.h); NULL when none */
	struct as4_smp_client **smp;
	atomic_uint refs;
};

/*
 * Load the key material for cfg and make its discovery networks' SMP clients (takes over the
 * caller's reference to cfg, also on failure).
 * Errors: AS4_E_CONFIG with a diagnostic naming the file or the network.
 */
AS4_MUST_CHECK as4_err as4_runtime_new(struct as4_config *cfg, struct as4_runtime **out,
                                       struct as4_diag *d);

/* Add a reference. Thread-safe. */
struct as4_runtime *as4_runtime_ref(struct as4_runtime *rt);

/* Drop a reference; the last one frees everything. NULL ok. Thread-safe. */
void as4_runtime_put(struct as4_runtime *rt);

/* The certificate configured for a party of rt->cfg, or NULL. Borrowed from rt. */
X509 *as4_runtime_party_cert(const struct as4_runtime *rt, const struct as4_party *party);

/* Counters for /metrics and /status; all atomics, updated without locks. */
struct as4_metrics {
	atomic_ulong received_ok;         /* UserMessages stored and receipted */
	atomic_ulong received_duplicate;  /* duplicates answered with the stored receipt */
	atomic_ulong received_test;       /* test-service messages answered */
	atomic_ulong received_error;      /* requests answered with an ebMS error */
	atomic_ulong errors_by_code[32];  /* received_error by EBMS code: slot
	                                     as4_metrics_error_slot(code) */
	atomic_ulong sent_ok;             /* messages delivered with a verified receipt */
	atomic_ulong sent_retry;          /* attempts that will be retried */
	atomic_ulong sent_failed;         /* messages that ended failed */
	atomic_ulong submitted;           /* API submissions accepted */
	atomic_ulong api_requests;        /* API requests served */
	atomic_ulong api_denied;          /* API requests refused with 401/403 */
	atomic_ulong recv_latency_us_sum; /* receive handling time, sum and count */
	atomic_ulong recv_latency_count;
	atomic_ulong recv_latency_buckets[12]; /* <=1,2,5,10,20,50,100,200,500,1000,2000,+Inf ms */
	atomic_ulong send_latency_us_sum;      /* send attempt time (to receipt verified) */
	atomic_ulong send_latency_count;
	atomic_ulong send_latency_buckets[12];
	atomic_ulong smp_lookups;
	atomic_ulong smp_cache_hits;
	/* sent_failed by the ebMS code recorded: slot as4_metrics_error_slot(code) */
	atomic_ulong send_errors_by_code[32];
};

/* Upper bounds (ms) of the latency histogram buckets; the last is +Inf. */
extern const double as4_latency_bounds_ms[12];

/*
 * The errors_by_code slot of an "EBMS:nnnn" code: code % 32 for the codes a receiving MSH
 * answers with (so the slots of EBMS:0001-0004, 0007-0011, 0101, 0102 and 0303 are their
 * numbers modulo 32), a slot of its own for each other ebMS3/AS4 code, 31 for anything else.
 * Thread-safe.
 */
size_t as4_metrics_error_slot(const char *ebms_code);

/* The code counted in a slot ("EBMS:0101"), "other" for 31, NULL for an unused slot. */
const char *as4_metrics_error_code(size_t slot);

/*
 * The domain of the MessageIds and Content-IDs this access point generates: node.name when it
 * is a valid dot-atom, else "as4d.local". Borrowed from cfg (or static). Thread-safe.
 */
const char *as4_ap_id_domain(const struct as4_config *cfg);

/* Count one refused request under its ebMS code (received_error and errors_by_code). */
void as4_metrics_count_error(struct as4_metrics *m, const char *ebms_code);

/* Count one latency observation (us) into a sum/count/bucket triple. */
void as4_metrics_observe(atomic_ulong *sum, atomic_ulong *count, atomic_ulong *buckets,
                         uint64_t us);

struct as4_sender;
struct as4_delivery;
struct as4_maint;

/* The access point. */
struct as4_ap {
	pthread_mutex_t rt_lock; /* guards rt (only to copy the pointer and count) */
	struct as4_runtime *rt;  /* the published snapshot */
	struct as4_store *store;
	struct as4_http_server *msh;
	struct as4_http_server *api;
	struct as4_sender *sender;
	struct as4_delivery *delivery; /* webhook pushes to the backend */
	struct as4_maint *maint;       /* background upkeep: duplicate window, retention */
	char tmp_dir[4096];            /* <data_dir>/tmp: unnamed spool files of requests */
	struct as4_metrics metrics;
	int64_t started_ms;
	atomic_bool stopping;
	const char *version;
	pthread_mutex_t admin_lock; /* serialises configuration changes made through the API
	                               (PModes, certificates, reload): one writer at a time */
};

/* The current runtime snapshot with a new reference (as4_runtime_put() it). Thread-safe. */
struct as4_runtime *as4_ap_runtime(struct as4_ap *ap);

/*
 * Reload: load the configuration again and its key material; on success publish it (requests
 * in flight finish on the old snapshot). On failure nothing changes and d says why.
 * Listener addresses and the data directory are not changed by a reload (restart for those).
 */
AS4_MUST_CHECK as4_err as4_ap_reload(struct as4_ap *ap, struct as4_diag *d);

/* The MSH request handlers for the /as4 listener (ap/transport/msh.c). */
bool as4_msh_head(void *ctx, struct as4_http_req *req, struct as4_http_resp *resp);
void as4_msh_handle(void *ctx, struct as4_http_req *req, const struct as4_blob *body,
                    struct as4_http_resp *resp);

/* The internal API handlers (ap/api/api.c). */
bool as4_api_head(void *ctx, struct as4_http_req *req, struct as4_http_resp *resp);
void as4_api_handle(void *ctx, struct as4_http_req *req, const struct as4_blob *body,
                    struct as4_http_resp *resp);

/* Start the send workers (ap/transport/sender.c). */
AS4_MUST_CHECK as4_err as4_sender_start(struct as4_ap *ap, struct as4_sender **out,
                                        struct as4_diag *d);

/* Wake the send workers (a message was queued). Thread-safe. NULL ok. */
void as4_sender_kick(struct as4_sender *s);

/*
 * Reserve a send worker for a message about to be submitted already claimed
 * (as4_store_put.claim): true when a worker is idle beyond those with work waiting, so the
 * message is sent at once without a claim commit of its own. Every true must be followed by
 * as4_sender_hand() (committed) or as4_sender_unreserve() (not committed). Thread-safe;
 * false for NULL or while stopping.
 */
bool as4_sender_reserve(struct as4_sender *s);

/*
 * Give a message committed in state sending under a reservation to the workers (rec is
 * copied). When the copy fails the message goes back to the due queue. Thread-safe.
 */
void as4_sender_hand(struct as4_sender *s, const struct as4_msgrec *rec);

/* Give back a reservation that was not used (the submission failed). Thread-safe. */
void as4_sender_unreserve(struct as4_sender *s);

/* Stop the workers, letting attempts in progress finish (up to grace_ms). NULL ok. */
void as4_sender_stop(struct as4_sender *s, unsigned grace_ms);

/*
 * Start the maintenance thread (ap/transport/maint.c): prunes the duplicate window, applies
 * the retention policy, removes orphaned spool files; once a minute and at start.
 */
AS4_MUST_CHECK as4_err as4_maint_start(struct as4_ap *ap, struct as4_maint **out,
                                       struct as4_diag *d);

/* Stop the maintenance thread. NULL ok. */
void as4_maint_stop(struct as4_maint *m);

/*
 * Start the backend delivery thread (ap/transport/delivery.c): received messages whose PMode
 * names a `webhook` (else webhooks.delivery_url) are POSTed there as multipart/form-data (a
 * "metadata" JSON part, then one "payload" part per payload) and become delivered-to-backend
 * on a 2xx answer; notifications queued in the store (as4_store_note_add(),
 * as4_store_update.notify) are POSTed in order as JSON to webhooks.notification_url. Both
 * retry with exponential backoff (1 s doubling to 5 min) until the backend answers 2xx;
 * delivery is at least once, each request carrying an X-AS4-Delivery-Id header.
 * Errors: AS4_E_NOMEM, AS4_E_INTERNAL (thread).
 */
AS4_MUST_CHECK as4_err as4_delivery_start(struct as4_ap *ap, struct as4_delivery **out,
                                          struct as4_diag *d);

/* Wake the delivery thread (a message was received or a notification queued). NULL ok. */
void as4_delivery_kick(struct as4_delivery *dl);

/*
 * A message was received: wake the delivery thread only when cfg names a delivery webhook
 * (webhooks.delivery_url, a participant's or a PMode's); without one the inbox waits for
 * GET /inbox and a wake-up per message would only cost a context switch and a store read.
 * NULL ok. Thread-safe.
 */
void as4_delivery_kick_received(struct as4_delivery *dl, const struct as4_config *cfg);

/* Stop the delivery thread after the request in progress (bounded by webhooks.timeout). */
void as4_delivery_stop(struct as4_delivery *dl);

/*
 * The notification document for a sent message reaching state (delivered or failed): JSON
 * {"event": "message.delivered" | "message.failed", "message_id", "id", "direction": "out",
 * "state", "pmode", "to", "final_recipient", "conversation_id", "reason", "attempts",
 * "error": {"code", "detail"} | null, "time", "endpoint"}. Heap text (free()); NULL when out
 * of memory. code, detail and reason may be NULL. Thread-safe.
 */
char *as4_delivery_outcome_doc(const struct as4_msgrec *rec, enum as4_msg_state state,
                               const char *reason, const char *code, const char *detail);

/*
 * The notification document for a received message that was refused: JSON
 * {"event": "message.refused", "message_id" (null when unreadable), "direction": "in",
 * "pmode", "from" (party id value), "peer" (client address), "error": {"code", "detail"},
 * "time"}. Any argument may be NULL. Heap text (free()); NULL when out of memory.
 */
char *as4_delivery_error_doc(const char *message_id, const char *pmode_id, const char *from,
                             const char *peer, const char *code, const char *detail);
