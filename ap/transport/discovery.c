/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dynamic discovery in the access point: SMP clients per network for the runtime snapshot, the
 * lookup a send worker runs before sealing, and the Dynamic Sender check of the receive path.
 * The contract is in as4/discovery.h; the lookup itself is the smp-client library.
 */
#include "as4/discovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "as4/log.h"
#include "as4/smp.h"
#include "as4/str.h"

/* The Peppol participant scheme: the default type of a finalRecipient property. */
#define DEFAULT_PARTICIPANT_SCHEME AS4_SMP_PEPPOL_PARTICIPANT_SCHEME

/* ---- SMP clients of a runtime snapshot ---------------------------------------------------- */

/* The smp-client settings of one configured network (enum values are equal, see as4/smp.h). */
static void network_of(const struct as4_config *cfg, const struct as4_discovery_network *n,
                       char *dns, size_t dns_cap, struct as4_smp_network *net)
{
	memset(net, 0, sizeof(*net));
	net->name = n->name;
	net->zone = n->sml_zone;
	net->dns_mode = (enum as4_smp_dns_mode)n->hashing;
	net->dialect = (enum as4_smp_proto)n->smp_dialect;
	/* the Peppol profile always lower-cases; BDXL zones (eDelivery, DBNAlliance) expect it */
	net->dns_lowercase = true;
	net->smp_ca_files = n->smp_ca;
	net->n_smp_ca_files = n->n_smp_ca;
	net->ap_ca_files = n->ap_ca;
	net->n_ap_ca_files = n->n_ap_ca;
	net->transport_profile = n->transport_profile;
	net->allow_http = !n->require_https;
	net->https_ca_file = cfg->truststores.n_tls > 0 ? cfg->truststores.tls[0] : NULL;
	if (n->dns_server != NULL && dns_cap > 0) {
		/* the smp-client asks IPv4 servers only; an IPv6 literal is refused by it */
		bool v6 = strchr(n->dns_server, ':') != NULL;
		if (as4_str_fmt(dns, dns_cap, v6 ? "[%s]:%u" : "%s:%u", n->dns_server,
		                (unsigned)n->dns_port) == AS4_OK) {
			net->dns_server = dns;
		}
	}
	uint32_t t = (uint32_t)(n->timeout_ms > UINT32_MAX ? UINT32_MAX : n->timeout_ms);
	net->dns_timeout_ms = t;
	net->timeout_ms = t;
	net->connect_timeout_ms = t;
	net->cache_max_ms = n->cache_ttl_ms;
	net->cache_max_entries = n->cache_entries;
	/* cache_ttl: 0 is "never cache" here, not the library's default */
	net->cache_disabled = n->cache_ttl_ms == 0;
}

as4_err as4_discovery_clients_new(const struct as4_config *cfg, struct as4_smp_client ***out,
                                  struct as4_diag *d)
{
	*out = NULL;
	size_t n = cfg->discovery.n_networks;
	if (n == 0) {
		return AS4_OK;
	}
	struct as4_smp_client **v = calloc(n, sizeof(*v));
	if (v == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	as4_err err = AS4_OK;
	for (size_t i = 0; i < n; i++) {
		const struct as4_discovery_network *dn = &cfg->discovery.networks[i];
		struct as4_smp_network net;
		char dns[96];
		network_of(cfg, dn, dns, sizeof(dns), &net);
		if (dn->dns_server != NULL && net.dns_server == NULL) {
			err = as4_diag_set(
			        d, AS4_E_CONFIG,
			        "discovery.networks[%zu]: network %s: dns_server '%s' is too "
			        "long",
			        i, dn->name, dn->dns_server);
			break;
		}
		err = as4_smp_client_new(&net, &cfg->limits, &v[i], d);
		if (err != AS4_OK) {
			as4_diag_prefix(d, "discovery.networks[%zu]: ", i);
			break;
		}
	}
	if (err != AS4_OK) {
		as4_discovery_clients_free(v, n);
		return err;
	}
	*out = v;
	return AS4_OK;
}

void as4_discovery_clients_free(struct as4_smp_client **clients, size_t n)
{
	for (size_t i = 0; clients != NULL && i < n; i++) {
		as4_smp_client_free(clients[i]);
	}
	free(clients);
}

struct as4_smp_client *as4_runtime_smp(const struct as4_runtime *rt, const char *name)
{
	const struct as4_config *cfg = rt->cfg;
	for (size_t i = 0; name != NULL && rt->smp != NULL && i < cfg->discovery.n_networks; i++) {
		if (strcmp(cfg->discovery.networks[i].name, name) == 0) {
			return rt->smp[i];
		}
	}
	return NULL;
}

/* ---- The lookup key of a message ---------------------------------------------------------- */

/* The three identifiers of a lookup, as "scheme::value" texts. */
struct lookup_key {
	char participant[AS4_SMP_ID_TEXT_MAX + 1];
	char document[AS4_SMP_ID_TEXT_MAX + 1];
	char process[AS4_SMP_ID_TEXT_MAX + 1]; /* "" = any process */
};

/*
 * The receiver of rec: the finalRecipient property (its type is the participant scheme), or
 * the record's final_recipient with the Peppol scheme.
 */
static as4_err participant_of(const struct as4_msgrec *rec, struct as4_smp_id *out,
                              struct as4_diag *d)
{
	const char *type = NULL;
	const char *value = rec->final_recipient;
	for (size_t i = 0; i < rec->n_props; i++) {
		if (rec->props[i].name != NULL &&
		    strcmp(rec->props[i].name, "finalRecipient") == 0) {
			type = rec->props[i].type;
			value = rec->props[i].value;
			break;
		}
	}
	if (value == NULL || value[0] == '\0') {
		return as4_diag_set_field(
		        d, AS4_E_INVAL, "final_recipient",
		        "the receiver is found by discovery: final_recipient (its "
		        "participant id, e.g. 0088:5790000000000) is required");
	}
	struct as4_diag id_d;
	as4_diag_init(&id_d);
	as4_err err = as4_smp_id_set(type != NULL ? type : DEFAULT_PARTICIPANT_SCHEME, value,
	                             AS4_SMP_ID_PARTICIPANT, out, &id_d);
	if (err != AS4_OK) {
		/* AS4_E_GLN too: either way the request named no valid receiver */
		return as4_diag_set_field(d, AS4_E_INVAL, "final_recipient",
		                          "final_recipient is not a participant identifier: %s",
		                          as4_diag_text(&id_d));
	}
	return AS4_OK;
}

/* Document and process of rec (eb:Action; eb:Service/@type::eb:Service when typed). */
static as4_err service_of(const struct as4_msgrec *rec, struct lookup_key *k, struct as4_diag *d)
{
	struct as4_smp_id id;
	struct as4_diag id_d;
	as4_diag_init(&id_d);
	as4_err err = rec->action != NULL
	                      ? as4_smp_id_parse(rec->action, AS4_SMP_ID_DOCUMENT, &id, &id_d)
	                      : as4_diag_set(&id_d, AS4_E_INVAL, "there is none");
	if (err == AS4_OK) {
		err = as4_smp_id_format(&id, k->document, sizeof(k->document));
	}
	if (err != AS4_OK) {
		return as4_diag_set_field(d, AS4_E_CONFIG, "pmode",
		                          "eb:Action is not a document type identifier "
		                          "(scheme::value): %s",
		                          as4_diag_text(&id_d));
	}
	k->process[0] = '\0';
	if (rec->service_type == NULL) {
		return AS4_OK;
	}
	err = rec->service != NULL ? as4_smp_id_set(rec->service_type, rec->service,
	                                            AS4_SMP_ID_PROCESS, &id, &id_d)
	                           : as4_diag_set(&id_d, AS4_E_INVAL, "there is none");
	if (err == AS4_OK) {
		err = as4_smp_id_format(&id, k->process, sizeof(k->process));
	}
	if (err != AS4_OK) {
		return as4_diag_set_field(
		        d, AS4_E_CONFIG, "pmode",
		        "eb:Service with its type is not a process identifier: %s",
		        as4_diag_text(&id_d));
	}
	return AS4_OK;
}

static as4_err key_of(const struct as4_msgrec *rec, struct lookup_key *k, struct as4_diag *d)
{
	struct as4_smp_id p;
	as4_err err = participant_of(rec, &p, d);
	if (err == AS4_OK &&
	    as4_smp_id_format(&p, k->participant, sizeof(k->participant)) != AS4_OK) {
		err = as4_diag_set_field(d, AS4_E_INVAL, "final_recipient",
		                         "final_recipient is too long");
	}
	if (err == AS4_OK) {
		err = service_of(rec, k, d);
	}
	return err;
}

as4_err as4_discovery_check_submission(const struct as4_pmode *pm, const struct as4_msgrec *rec,
                                       struct as4_diag *d)
{
	if (!pm->responder_discovery) {
		return AS4_OK;
	}
	struct lookup_key *k = malloc(sizeof(*k));
	if (k == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	as4_err err = key_of(rec, k, d);
	if (err != AS4_OK && d != NULL && strcmp(d->field, "pmode") == 0) {
		as4_diag_prefix(d, "PMode '%s' uses discovery, but ", pm->id);
	}
	free(k);
	return err;
}

/* ---- Send worker ---------------------------------------------------------------------------- */

/*
 * The CN of cert into out (UTF-8): the eb:To PartyId value of a dynamic responder.
 * AS4_E_SMP_BAD_RESPONSE when the certificate has none or it does not fit.
 */
static as4_err cert_cn(X509 *cert, char *out, size_t cap, struct as4_diag *d)
{
	X509_NAME *name = X509_get_subject_name(cert);
	int i = name != NULL ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
	ASN1_STRING *s = i >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)) : NULL;
	unsigned char *utf8 = NULL;
	int n = s != NULL ? ASN1_STRING_to_UTF8(&utf8, s) : -1;
	as4_err err = AS4_OK;
	if (n <= 0 || (size_t)n >= cap || memchr(utf8, '\0', (size_t)n) != NULL) {
		err = as4_diag_set(d, AS4_E_SMP_BAD_RESPONSE,
		                   "the receiving access point's certificate has no usable CN for "
		                   "the eb:To PartyId");
	} else {
		memcpy(out, utf8, (size_t)n);
		out[n] = '\0';
	}
	OPENSSL_free(utf8);
	return err;
}

static X509 *pem_x509(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return x;
}

/* Replace a heap string of the worker's record copy. */
static as4_err set_str(char **field, const char *v, struct as4_diag *d)
{
	char *c = as4_str_dup(v);
	if (c == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	free(*field);
	*field = c;
	return AS4_OK;
}

static bool differs(const char *a, const char *b)
{
	return a == NULL || b == NULL || strcmp(a, b) != 0;
}

/*
 * The eb:To PartyId value for a receiver with certificate cert into cn (capacity cap): the CN
 * for a dynamic responder party, "" for a configured one (its PartyId is in the record).
 */
static as4_err to_value(const struct as4_pmode *pm, X509 *cert, char *cn, size_t cap,
                        struct as4_diag *d)
{
	cn[0] = '\0';
	return pm->responder->dynamic ? cert_cn(cert, cn, cap, d) : AS4_OK;
}

/* Go on with what an earlier attempt recorded (the SMP is unreachable just now). */
static as4_err use_recorded(const struct as4_pmode *pm, struct as4_msgrec *rec, struct as4_diag *d)
{
	if (!pm->responder->dynamic || rec->to.value != NULL) {
		return AS4_OK;
	}
	X509 *x = pem_x509(rec->receiver_cert_pem);
	if (x == NULL) {
		return as4_diag_set(
		        d, AS4_E_CORRUPT,
		        "the receiver certificate stored with the message cannot be read");
	}
	char cn[256];
	as4_err err = to_value(pm, x, cn, sizeof(cn), d);
	X509_free(x);
	return err == AS4_OK ? set_str(&rec->to.value, cn, d) : err;
}

/*
 * Record a lookup result on the message when it differs from what the record holds (the
 * message's history names its receiver before anything is sent there), then update the
 * worker's copy.
 */
static as4_err record(struct as4_ap *ap, const struct as4_pmode *pm, struct as4_msgrec *rec,
                      const struct as4_smp_result *res, struct as4_diag *d)
{
	char cn[256];
	as4_err err = to_value(pm, res->cert, cn, sizeof(cn), d);
	if (err != AS4_OK) {
		return err;
	}
	if (!differs(rec->endpoint_url, res->endpoint_url) &&
	    !differs(rec->receiver_cert_pem, res->cert_pem) &&
	    !(cn[0] != '\0' && differs(rec->to.value, cn))) {
		return AS4_OK;
	}
	char reason[1024];
	if (as4_str_fmt(reason, sizeof(reason), "receiver discovered: %s (certificate %s)",
	                res->endpoint_url,
	                res->cert_subject != NULL ? res->cert_subject : "?") != AS4_OK) {
		/* truncated: still names the endpoint */
	}
	struct as4_store_update u = {0};
	u.to = AS4_ST_SENDING;
	u.expect = 1u << AS4_ST_SENDING;
	u.reason = reason;
	u.endpoint_url = res->endpoint_url;
	u.receiver_cert_pem = res->cert_pem;
	u.to_value = cn[0] != '\0' ? cn : NULL;
	err = as4_store_transition(ap->store, rec->id, &u, d);
	if (err == AS4_OK) {
		err = set_str(&rec->endpoint_url, res->endpoint_url, d);
	}
	if (err == AS4_OK) {
		err = set_str(&rec->receiver_cert_pem, res->cert_pem, d);
	}
	if (err == AS4_OK && cn[0] != '\0') {
		err = set_str(&rec->to.value, cn, d);
	}
	if (err == AS4_OK) {
		struct as4_log_ctx lc = {rec->message_id, pm->id, rec->endpoint_url, NULL};
		as4_log_ctx(AS4_LOG_INFO, &lc, "%s%s", reason,
		            res->from_cache ? " (from the cache)" : "");
	}
	return err;
}

as4_err as4_discovery_resolve(struct as4_ap *ap, struct as4_runtime *rt, const struct as4_pmode *pm,
                              struct as4_msgrec *rec, struct as4_diag *d)
{
	if (!pm->responder_discovery) {
		return AS4_OK;
	}
	struct as4_smp_result *res = NULL;
	struct lookup_key *k = malloc(sizeof(*k));
	if (k == NULL) {
		return as4_diag_set(d, AS4_E_NOMEM, "out of memory");
	}
	as4_err err = key_of(rec, k, d);
	if (err != AS4_OK) {
		goto out;
	}
	struct as4_smp_client *c = as4_runtime_smp(rt, pm->discovery_network);
	if (c == NULL) {
		err = as4_diag_set(d, AS4_E_CONFIG, "discovery network '%s' is not configured",
		                   pm->discovery_network != NULL ? pm->discovery_network : "?");
		goto out;
	}
	atomic_fetch_add(&ap->metrics.smp_lookups, 1);
	struct as4_diag ld;
	as4_diag_init(&ld);
	err = as4_smp_lookup(c, k->participant, k->document, k->process[0] ? k->process : NULL,
	                     &res, NULL, &ld);
	bool recorded = rec->endpoint_url != NULL && rec->endpoint_url[0] != '\0' &&
	                rec->receiver_cert_pem != NULL && rec->receiver_cert_pem[0] != '\0';
	if (err == AS4_E_SMP_UNAVAILABLE && recorded) {
		struct as4_log_ctx lc = {rec->message_id, pm->id, rec->endpoint_url, NULL};
		as4_log_ctx(AS4_LOG_NOTICE, &lc,
		            "discovery unavailable (%s); sending to the endpoint found earlier",
		            as4_diag_text(&ld));
		err = use_recorded(pm, rec, d);
		goto out;
	}
	if (err != AS4_OK) {
		err = as4_diag_set(d, err, "discovery on network '%s': %s", pm->discovery_network,
		                   as4_diag_text(&ld));
		goto out;
	}
	if (res->from_cache) {
		atomic_fetch_add(&ap->metrics.smp_cache_hits, 1);
	}
	err = record(ap, pm, rec, res, d);
out:
	as4_smp_result_free(res);
	free(k);
	return err;
}

void as4_discovery_attempted(struct as4_runtime *rt, const struct as4_pmode *pm,
                             const struct as4_msgrec *rec, as4_err err)
{
	if (!pm->responder_discovery || rec->endpoint_url == NULL ||
	    !(err == AS4_E_PEER_TLS || err == AS4_E_UNTRUSTED || err == AS4_E_SIG_INVALID ||
	      err == AS4_E_INVALID_RECEIPT)) {
		return;
	}
	struct as4_smp_client *c = as4_runtime_smp(rt, pm->discovery_network);
	if (c != NULL && as4_smp_drop_endpoint(c, rec->endpoint_url) > 0) {
		struct as4_log_ctx lc = {rec->message_id, pm->id, rec->endpoint_url, NULL};
		as4_log_ctx(AS4_LOG_NOTICE, &lc,
		            "%s: the next attempt asks the SMP again instead of the cache",
		            as4_strerror(err));
	}
}

/* ---- Receive path: Dynamic Sender -------------------------------------------------------- */

as4_err as4_discovery_check_sender(const struct as4_msg *m, struct as4_diag *d)
{
	const struct as4_pmode *pm = m->pmode;
	if (pm == NULL || pm->initiator == NULL || !pm->initiator->dynamic) {
		return AS4_OK;
	}
	const char *type = pm->initiator->n_ids > 0 ? pm->initiator->ids[0].type : NULL;
	if (!m->wss_done || m->wss.signer == NULL || !m->wss.signer_trusted) {
		return as4_diag_set(d, AS4_E_UNTRUSTED,
		                    "PMode '%s' accepts any access point of the network, so the "
		                    "message must be signed by a trusted certificate",
		                    pm->id);
	}
	char cn[256];
	struct as4_diag cd;
	as4_diag_init(&cd);
	if (cert_cn(m->wss.signer, cn, sizeof(cn), &cd) != AS4_OK) {
		return as4_diag_set(d, AS4_E_UNTRUSTED,
		                    "the signing certificate '%s' has no CN to compare with the "
		                    "eb:From PartyId",
		                    m->wss.signer_subject != NULL ? m->wss.signer_subject : "?");
	}
	const struct as4_party_info *from = &m->ebms.user.from;
	for (size_t i = 0; i < from->n_ids; i++) {
		const struct as4_party_id *id = &from->ids[i];
		bool typed = (type == NULL && id->type == NULL) ||
		             (type != NULL && id->type != NULL && strcmp(type, id->type) == 0);
		if (typed && (id->value == NULL || strcmp(id->value, cn) != 0)) {
			/* Peppol AS4 profile: the sender's PartyId is the CN of its AP certificate
			 */
			return as4_diag_set_field(
			        d, AS4_E_UNTRUSTED, "eb:PartyInfo/eb:From/eb:PartyId",
			        "eb:From PartyId '%.128s' is not the CN '%.128s' of "
			        "the certificate that signed the message",
			        id->value != NULL ? id->value : "", cn);
		}
	}
	return AS4_OK;
}
