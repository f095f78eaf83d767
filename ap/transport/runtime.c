/* SPDX-License-Identifier: Apache-2.0 */
#include "as4/ap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "as4/discovery.h"
#include "as4/log.h"

const double as4_latency_bounds_ms[12] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, -1};

/*
 * errors_by_code slots: a receiver's codes at code % 32, the others where % 32 would collide
 * with one of those (0005/0101, 0006/0102, 0103/0007, 0201/0009, 0202/0010) in slots 16-20.
 */
static const char *const error_slots[32] = {
        [1] = "EBMS:0001",  [2] = "EBMS:0002",  [3] = "EBMS:0003",  [4] = "EBMS:0004",
        [5] = "EBMS:0101",  [6] = "EBMS:0102",  [7] = "EBMS:0007",  [8] = "EBMS:0008",
        [9] = "EBMS:0009",  [10] = "EBMS:0010", [11] = "EBMS:0011", [13] = "EBMS:0301",
        [14] = "EBMS:0302", [15] = "EBMS:0303", [16] = "EBMS:0005", [17] = "EBMS:0006",
        [18] = "EBMS:0103", [19] = "EBMS:0201", [20] = "EBMS:0202", [31] = "other",
};

size_t as4_metrics_error_slot(const char *ebms_code)
{
	for (size_t i = 0; ebms_code != NULL && i < 31; i++) {
		if (error_slots[i] != NULL && strcmp(error_slots[i], ebms_code) == 0) {
			return i;
		}
	}
	return 31;
}

const char *as4_metrics_error_code(size_t slot)
{
	return slot < 32 ? error_slots[slot] : NULL;
}

const char *as4_ap_id_domain(const struct as4_config *cfg)
{
	const char *name = cfg->node.name;
	if (name == NULL || name[0] == '\0') {
		return "as4d.local";
	}
	/* RFC 2822 dot-atom characters only: the name ends up after the "@" of MessageIds */
	for (const char *p = name; *p != '\0'; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.')) {
			return "as4d.local";
		}
	}
	return name;
}

void as4_metrics_count_error(struct as4_metrics *m, const char *ebms_code)
{
	atomic_fetch_add(&m->received_error, 1);
	atomic_fetch_add(&m->errors_by_code[as4_metrics_error_slot(ebms_code)], 1);
}

void as4_metrics_observe(atomic_ulong *sum, atomic_ulong *count, atomic_ulong *buckets, uint64_t us)
{
	atomic_fetch_add(sum, us);
	atomic_fetch_add(count, 1);
	double ms = (double)us / 1000.0;
	size_t i = 0;
	while (i < 11 && ms > as4_latency_bounds_ms[i]) {
		i++;
	}
	atomic_fetch_add(&buckets[i], 1);
}

static void runtime_free(struct as4_runtime *rt)
{
	if (rt == NULL) {
		return;
	}
	if (rt->party_certs != NULL) {
		for (size_t i = 0; i < rt->cfg->n_parties; i++) {
			X509_free(rt->party_certs[i]);
		}
		free(rt->party_certs);
	}
	as4_keystore_free(rt->sign);
	for (size_t i = 0; i < rt->n_decrypt; i++) {
		as4_keystore_free(rt->decrypt[i]);
	}
	free(rt->decrypt);
	as4_truststore_free(rt->trust);
	as4_discovery_clients_free(rt->smp, rt->cfg->discovery.n_networks);
	as4_config_free(rt->cfg);
	free(rt);
}

static as4_err load_cert(const char *path, X509 **out, struct as4_diag *d)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return as4_diag_set(d, AS4_E_CONFIG, "cannot open certificate %s", path);
	}
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	if (x == NULL) {
		rewind(f);
		x = d2i_X509_fp(f, NULL);
	}
	fclose(f);
	if (x == NULL) {
		return as4_diag_set(d, AS4_E_CONFIG, "%s holds no readable certificate", path);
	}
	*out = x;
	return AS4_OK;
}

as4_err as4_runtime_new(struct as4_config *cfg, struct as4_runtime **out, struct as4_diag *d)
{
	*out = NULL;
	as4_err err = AS4_OK;
	struct as4_runtime *rt = calloc(1, sizeof(*rt));
	if (rt == NULL) {
		as4_config_free(cfg);
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	rt->cfg = cfg;
	atomic_init(&rt->refs, 1);
	const struct as4_keystore_config *ks = &cfg->keystore;
	err = as4_keystore_load(ks->signing.key_path, ks->signing.cert_path, &rt->sign, d);
	if (err != AS4_OK) {
		goto out;
	}
	rt->decrypt = calloc(1 + ks->n_old_decryption, sizeof(*rt->decrypt));
	if (rt->decrypt == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	err = as4_keystore_load(ks->encryption.key_path, ks->encryption.cert_path, &rt->decrypt[0],
	                        d);
	if (err != AS4_OK) {
		goto out;
	}
	rt->n_decrypt = 1;
	for (size_t i = 0; i < ks->n_old_decryption; i++) {
		err = as4_keystore_load(ks->old_decryption[i].key_path,
		                        ks->old_decryption[i].cert_path, &rt->decrypt[i + 1], d);
		if (err != AS4_OK) {
			goto out;
		}
		rt->n_decrypt++;
	}
	if (cfg->truststores.n_as4 > 0) {
		err = as4_truststore_load(cfg->truststores.as4, cfg->truststores.n_as4, &rt->trust,
		                          d);
		if (err != AS4_OK) {
			goto out;
		}
	}
	rt->party_certs = calloc(cfg->n_parties ? cfg->n_parties : 1, sizeof(X509 *));
	if (rt->party_certs == NULL) {
		err = as4_diag_set(d, AS4_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cfg->n_parties; i++) {
		if (cfg->parties[i].cert_path != NULL) {
			err = load_cert(cfg->parties[i].cert_path, &rt->party_certs[i], d);
			if (err != AS4_OK) {
				goto out;
			}
		}
	}
	err = as4_discovery_clients_new(cfg, &rt->smp, d);
	if (err != AS4_OK) {
		goto out;
	}
	*out = rt;
	rt = NULL;
out:
	runtime_free(rt);
	return err;
}

struct as4_runtime *as4_runtime_ref(struct as4_runtime *rt)
{
	atomic_fetch_add(&rt->refs, 1);
	return rt;
}

void as4_runtime_put(struct as4_runtime *rt)
{
	if (rt != NULL && atomic_fetch_sub(&rt->refs, 1) == 1) {
		runtime_free(rt);
	}
}

X509 *as4_runtime_party_cert(const struct as4_runtime *rt, const struct as4_party *party)
{
	if (party == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < rt->cfg->n_parties; i++) {
		if (&rt->cfg->parties[i] == party) {
			return rt->party_certs[i];
		}
	}
	return NULL;
}

struct as4_runtime *as4_ap_runtime(struct as4_ap *ap)
{
	pthread_mutex_lock(&ap->rt_lock);
	struct as4_runtime *rt = as4_runtime_ref(ap->rt);
	pthread_mutex_unlock(&ap->rt_lock);
	return rt;
}

as4_err as4_ap_reload(struct as4_ap *ap, struct as4_diag *d)
{
	struct as4_runtime *old = as4_ap_runtime(ap);
	struct as4_conf_errors errs;
	as4_conf_errors_init(&errs, 0);
	struct as4_config *cfg = NULL;
	as4_err err = as4_config_reload(old->cfg, &cfg, &errs);
	if (err != AS4_OK) {
		if (as4_conf_errors_diag(&errs, d) == AS4_OK) {
			err = as4_diag_set(d, err, "configuration not reloaded: %s",
			                   as4_strerror(err));
		}
		as4_conf_errors_cleanup(&errs);
		as4_runtime_put(old);
		return err;
	}
	as4_conf_errors_cleanup(&errs);
	struct as4_runtime *rt = NULL;
	err = as4_runtime_new(cfg, &rt, d);
	if (err != AS4_OK) {
		as4_runtime_put(old);
		return err;
	}
	pthread_mutex_lock(&ap->rt_lock);
	struct as4_runtime *prev = ap->rt;
	ap->rt = rt;
	pthread_mutex_unlock(&ap->rt_lock);
	as4_runtime_put(prev);
	as4_runtime_put(old);
	return AS4_OK;
}
