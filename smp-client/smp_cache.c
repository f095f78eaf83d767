/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Positive-result cache of one client (SMP-NOTES §2.6): entries live until the earliest expiry
 * the lookup computed (DNS TTL, the cap, certificates, ServiceExpirationDate); failures are
 * never stored. One mutex guards the table; callers get copies, never pointers into it, so an
 * entry can be dropped while a send worker still uses what it got.
 * A linear table is enough: it holds at most a few thousand receivers and every lookup that
 * misses costs a DNS query and an HTTPS fetch anyway.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "as4/str.h"
#include "smp_int.h"

struct entry {
	char *key;
	uint64_t hash;
	struct as4_smp_result *r;
};

struct as4_smp_cache {
	pthread_mutex_t mu;
	struct entry *e;
	size_t n;
	size_t max;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ULL;
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static char *dup_or_null(const char *s, bool *ok)
{
	if (s == NULL) {
		return NULL;
	}
	char *p = as4_str_dup(s);
	if (p == NULL) {
		*ok = false;
	}
	return p;
}

struct as4_smp_result *as4_smp_result_dup(const struct as4_smp_result *r)
{
	struct as4_smp_result *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return NULL;
	}
	*c = *r;
	bool ok = true;
	c->endpoint_url = dup_or_null(r->endpoint_url, &ok);
	c->transport_profile = dup_or_null(r->transport_profile, &ok);
	c->cert_pem = dup_or_null(r->cert_pem, &ok);
	c->cert_subject = dup_or_null(r->cert_subject, &ok);
	c->metadata_url = dup_or_null(r->metadata_url, &ok);
	c->technical_contact = dup_or_null(r->technical_contact, &ok);
	c->cert = NULL;
	if (r->cert != NULL && X509_up_ref(r->cert) == 1) {
		c->cert = r->cert;
	} else if (r->cert != NULL) {
		ok = false;
	}
	if (!ok) {
		as4_smp_result_free(c);
		return NULL;
	}
	return c;
}

void as4_smp_result_free(struct as4_smp_result *r)
{
	if (r == NULL) {
		return;
	}
	free(r->endpoint_url);
	free(r->transport_profile);
	free(r->cert_pem);
	free(r->cert_subject);
	free(r->metadata_url);
	free(r->technical_contact);
	X509_free(r->cert);
	free(r);
}

struct as4_smp_cache *as4_smp_cache_new(size_t max_entries)
{
	struct as4_smp_cache *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return NULL;
	}
	c->max = max_entries > 0 ? max_entries : 1;
	c->e = calloc(c->max, sizeof(*c->e));
	if (c->e == NULL || pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c->e);
		free(c);
		return NULL;
	}
	return c;
}

static void remove_at(struct as4_smp_cache *c, size_t i)
{
	free(c->e[i].key);
	as4_smp_result_free(c->e[i].r);
	c->e[i] = c->e[c->n - 1];
	c->n--;
}

void as4_smp_cache_free(struct as4_smp_cache *c)
{
	if (c == NULL) {
		return;
	}
	while (c->n > 0) {
		remove_at(c, c->n - 1);
	}
	pthread_mutex_destroy(&c->mu);
	free(c->e);
	free(c);
}

static size_t find(const struct as4_smp_cache *c, const char *key, uint64_t h)
{
	for (size_t i = 0; i < c->n; i++) {
		if (c->e[i].hash == h && strcmp(c->e[i].key, key) == 0) {
			return i;
		}
	}
	return c->n;
}

as4_err as4_smp_cache_get(struct as4_smp_cache *c, const char *key, int64_t now_ms,
                          struct as4_smp_result **out)
{
	*out = NULL;
	uint64_t h = fnv1a(key);
	as4_err err = AS4_E_NOTFOUND;
	pthread_mutex_lock(&c->mu);
	size_t i = find(c, key, h);
	if (i < c->n) {
		if (c->e[i].r->valid_until_ms <= now_ms) {
			remove_at(c, i);
		} else {
			*out = as4_smp_result_dup(c->e[i].r);
			err = *out != NULL ? AS4_OK : AS4_E_NOMEM;
			if (*out != NULL) {
				(*out)->from_cache = true;
			}
		}
	}
	pthread_mutex_unlock(&c->mu);
	return err;
}

as4_err as4_smp_cache_put(struct as4_smp_cache *c, const char *key, const struct as4_smp_result *r,
                          int64_t now_ms)
{
	struct as4_smp_result *copy = as4_smp_result_dup(r);
	char *k = as4_str_dup(key);
	if (copy == NULL || k == NULL) {
		as4_smp_result_free(copy);
		free(k);
		return AS4_E_NOMEM;
	}
	copy->from_cache = false;
	uint64_t h = fnv1a(key);
	pthread_mutex_lock(&c->mu);
	size_t i = find(c, key, h);
	if (i < c->n) {
		remove_at(c, i);
	}
	if (c->n == c->max) {
		for (size_t j = c->n; j > 0; j--) {
			if (c->e[j - 1].r->valid_until_ms <= now_ms) {
				remove_at(c, j - 1);
			}
		}
	}
	if (c->n == c->max) {
		size_t soonest = 0;
		for (size_t j = 1; j < c->n; j++) {
			if (c->e[j].r->valid_until_ms < c->e[soonest].r->valid_until_ms) {
				soonest = j;
			}
		}
		remove_at(c, soonest);
	}
	c->e[c->n].key = k;
	c->e[c->n].hash = h;
	c->e[c->n].r = copy;
	c->n++;
	pthread_mutex_unlock(&c->mu);
	return AS4_OK;
}

bool as4_smp_cache_drop(struct as4_smp_cache *c, const char *key)
{
	uint64_t h = fnv1a(key);
	pthread_mutex_lock(&c->mu);
	size_t i = find(c, key, h);
	bool found = i < c->n;
	if (found) {
		remove_at(c, i);
	}
	pthread_mutex_unlock(&c->mu);
	return found;
}

size_t as4_smp_cache_drop_url(struct as4_smp_cache *c, const char *url)
{
	size_t dropped = 0;
	pthread_mutex_lock(&c->mu);
	for (size_t j = c->n; j > 0; j--) {
		const char *u = c->e[j - 1].r->endpoint_url;
		if (u != NULL && strcmp(u, url) == 0) {
			remove_at(c, j - 1);
			dropped++;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return dropped;
}

size_t as4_smp_cache_count(struct as4_smp_cache *c)
{
	pthread_mutex_lock(&c->mu);
	size_t n = c->n;
	pthread_mutex_unlock(&c->mu);
	return n;
}
