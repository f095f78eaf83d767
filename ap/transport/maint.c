/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Background upkeep of the store: the duplicate window, retention of payloads (per direction
 * and final state), retention of the records themselves (retention.metadata), orphaned spool
 * files. Work is done in bounded batches so no write transaction grows long. Messages still in
 * progress (queued, sending, retrying, received, failed-to-backend) are never touched.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "as4/ap.h"
#include "as4/log.h"
#include "as4/time.h"

/* How often the upkeep runs, and how often orphaned spool files are looked for. */
#define MAINT_INTERVAL_MS (60 * 1000)
#define GC_INTERVAL_MS    (60 * 60 * 1000)
#define BATCH             5000

struct as4_maint {
	struct as4_ap *ap;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	int64_t last_gc_ms;
};

static void purge(struct as4_ap *ap, enum as4_dir dir, uint32_t states, uint64_t keep_ms,
                  const char *what)
{
	if (keep_ms == 0) {
		return; /* kept forever */
	}
	struct as4_store_purge sel = {0};
	sel.dir = dir;
	sel.states = states;
	sel.before_ms = as4_time_now_ms() - (int64_t)keep_ms;
	sel.max = BATCH;
	size_t total = 0;
	for (;;) {
		size_t n = 0;
		struct as4_diag d;
		as4_diag_init(&d);
		if (as4_store_purge_payloads(ap->store, &sel, &n, &d) != AS4_OK) {
			as4_log(AS4_LOG_WARNING, "retention of %s payloads: %s", what,
			        as4_diag_text(&d));
			break;
		}
		total += n;
		if (n < BATCH) {
			break;
		}
	}
	if (total > 0) {
		as4_log(AS4_LOG_INFO, "retention: removed payloads of %zu %s messages", total,
		        what);
	}
}

/* Delete the records of finished messages older than keep_ms (0 = kept forever). */
static void purge_records(struct as4_ap *ap, uint64_t keep_ms)
{
	if (keep_ms == 0) {
		return;
	}
	size_t total = 0;
	for (;;) {
		size_t n = 0;
		struct as4_diag d;
		as4_diag_init(&d);
		int64_t before = as4_time_now_ms() - (int64_t)keep_ms;
		if (as4_store_purge_records(ap->store, before, BATCH, &n, &d) != AS4_OK) {
			as4_log(AS4_LOG_WARNING, "retention of message records: %s",
			        as4_diag_text(&d));
			break;
		}
		total += n;
		if (n < BATCH) {
			break;
		}
	}
	if (total > 0) {
		as4_log(AS4_LOG_INFO, "retention: deleted %zu finished messages with their history",
		        total);
	}
}

static void run_once(struct as4_maint *m)
{
	struct as4_ap *ap = m->ap;
	struct as4_runtime *rt = as4_ap_runtime(ap);
	const struct as4_retention_config *ret = &rt->cfg->retention;
	size_t total = 0;
	for (;;) {
		size_t n = 0;
		struct as4_diag d;
		as4_diag_init(&d);
		int64_t before = as4_time_now_ms() - (int64_t)ret->dedup_window_ms;
		if (as4_store_dedup_prune(ap->store, before, BATCH, &n, &d) != AS4_OK) {
			as4_log(AS4_LOG_WARNING, "duplicate window pruning: %s", as4_diag_text(&d));
			break;
		}
		total += n;
		if (n < BATCH) {
			break;
		}
	}
	if (total > 0) {
		as4_log(AS4_LOG_INFO,
		        "duplicate window: forgot %zu MessageIds older than the window", total);
	}
	purge(ap, AS4_DIR_OUT, 1u << AS4_ST_DELIVERED, ret->outbound_delivered_ms, "delivered");
	purge(ap, AS4_DIR_OUT, 1u << AS4_ST_FAILED, ret->outbound_failed_ms, "failed");
	purge(ap, AS4_DIR_IN, 1u << AS4_ST_BACKEND_ACKED, ret->inbound_delivered_ms,
	      "received and acknowledged");
	purge_records(ap, ret->metadata_ms);
	int64_t now = as4_time_mono_ms();
	if (m->last_gc_ms == 0 || now - m->last_gc_ms >= GC_INTERVAL_MS) {
		m->last_gc_ms = now;
		size_t n = 0;
		struct as4_diag d;
		as4_diag_init(&d);
		if (as4_store_spool_gc(ap->store, GC_INTERVAL_MS, &n, &d) != AS4_OK) {
			as4_log(AS4_LOG_WARNING, "spool clean-up: %s", as4_diag_text(&d));
		} else if (n > 0) {
			as4_log(AS4_LOG_INFO, "spool clean-up: removed %zu orphaned files", n);
		}
	}
	as4_runtime_put(rt);
}

static void *maint_main(void *arg)
{
	struct as4_maint *m = arg;
	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		pthread_mutex_unlock(&m->lock);
		run_once(m);
		pthread_mutex_lock(&m->lock);
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += MAINT_INTERVAL_MS / 1000;
		while (!m->stop && pthread_cond_timedwait(&m->cond, &m->lock, &ts) == 0) {
		}
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

as4_err as4_maint_start(struct as4_ap *ap, struct as4_maint **out, struct as4_diag *d)
{
	*out = NULL;
	struct as4_maint *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	m->ap = ap;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&m->lock, NULL);
	if (pthread_create(&m->thread, NULL, maint_main, m) != 0) {
		pthread_cond_destroy(&m->cond);
		pthread_mutex_destroy(&m->lock);
		free(m);
		return as4_diag_set(d, AS4_E_INTERNAL, "cannot start the maintenance thread");
	}
	*out = m;
	return AS4_OK;
}

void as4_maint_stop(struct as4_maint *m)
{
	if (m == NULL) {
		return;
	}
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
