/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dynamic discovery in the access point (L5, ap/transport/discovery.c): the glue between the
 * configuration's discovery networks, the SMP client (as4/smp.h) and the send and receive
 * paths. docs/architecture.md "Dynamic discovery" describes the flow.
 *
 * Sending (Dynamic Receiver): a PMode with responder.discovery: true leaves the receiver's
 * endpoint and certificate to an SMP lookup. The lookup key comes from the message record:
 *   participant  the finalRecipient message property (type + value; type defaults to
 *                iso6523-actorid-upis), i.e. the four-corner C4, taken from the API request
 *                ("final_recipient") or from the SBDH Receiver;
 *   document     eb:Action, which must be a "scheme::value" document type identifier
 *                (Peppol convention: busdox-docid-qns::...);
 *   process      eb:Service/@type "::" eb:Service when the service has a type (Peppol
 *                convention: the process scheme), else any process.
 * The send worker calls as4_discovery_resolve() before sealing; the endpoint URL and the
 * certificate found are recorded on the message (an event names them), and a retryable
 * lookup failure retries like a failed send, a permanent one fails the message at once.
 *
 * Receiving (Dynamic Sender): a PMode whose initiator is a dynamic party accepts any sender
 * whose signing certificate chains to the AS4 truststore; as4_discovery_check_sender() then
 * requires the eb:From PartyId to be that certificate's CN (Peppol AS4 profile), so one access
 * point of a network cannot speak for another.
 *
 * One SMP client per configured network lives in each runtime snapshot (struct as4_runtime,
 * as4/ap.h), so a reload rebuilds them with the new network settings (and empty caches); the
 * send workers share them (their caches have their own locks).
 */
#pragma once

#include <stddef.h>

#include "as4/ap.h"
#include "as4/compiler.h"
#include "as4/config.h"
#include "as4/diag.h"
#include "as4/err.h"
#include "as4/msg.h"
#include "as4/pmode.h"
#include "as4/store.h"

struct as4_smp_client;

/* The PartyId type of access points in Peppol-style networks (AS4-NOTES.md). */
#define AS4_DISCOVERY_AP_PARTY_TYPE "urn:fdc:peppol.eu:2017:identifiers:ap"

/*
 * One SMP client per network of cfg->discovery (same order), for a runtime snapshot. The
 * settings are converted from struct as4_discovery_network (the enums of config.h and smp.h
 * have equal values); outgoing HTTPS to SMPs uses the first truststores.tls file (none = the
 * system store), as the send workers do. On success *out is a heap array of
 * cfg->discovery.n_networks clients (NULL when there are none); free it with
 * as4_discovery_clients_free(). Errors: AS4_E_CONFIG (the diagnostic starts with
 * "discovery.networks[i]: " and names the setting or file), AS4_E_NOMEM. Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_discovery_clients_new(const struct as4_config *cfg,
                                                 struct as4_smp_client ***out, struct as4_diag *d);

/* Free n clients made by as4_discovery_clients_new() and the array. NULL ok. */
void as4_discovery_clients_free(struct as4_smp_client **clients, size_t n);

/*
 * The SMP client of the network called name in rt, or NULL when rt has no such network.
 * Borrowed from rt (valid while the caller holds its reference). Thread-safe.
 */
struct as4_smp_client *as4_runtime_smp(const struct as4_runtime *rt, const char *name);

/*
 * Submission check for a PMode with responder.discovery: the record (as built by the API, or
 * from an SBDH envelope) must name the receiver (final_recipient, with its finalRecipient
 * property) as a valid participant identifier, and its Action (and Service type and Service)
 * must be valid document (and process) identifiers. AS4_OK at once for other PModes.
 * Errors, with diag->field set to the API field to blame:
 *   AS4_E_INVAL / AS4_E_GLN  "final_recipient" missing or malformed (the request's fault)
 *   AS4_E_CONFIG             "pmode": the PMode's Action or Service cannot be looked up
 * Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_discovery_check_submission(const struct as4_pmode *pm,
                                                      const struct as4_msgrec *rec,
                                                      struct as4_diag *d);

/*
 * Send worker, before sealing a message claimed for an attempt (state sending) whose PMode
 * uses discovery; AS4_OK at once for other PModes. Looks the receiver up (the cache answers
 * while its entry is valid: a refreshed lookup on every attempt follows an SMP that moved the
 * endpoint or rolled the certificate over between retries), counts ap->metrics.smp_lookups and
 * smp_cache_hits, and when the endpoint, the certificate or (for a dynamic responder party)
 * the eb:To PartyId, i.e. the receiving access point's certificate CN, differ from the
 * record's, records them (as4_store_transition sending -> sending, setting endpoint_url,
 * receiver_cert_pem and to.value, with an event "receiver discovered: <url> (certificate
 * <subject>)"). Then rec (the worker's copy) holds the same values.
 * When the lookup fails retryably (AS4_E_SMP_UNAVAILABLE) but an earlier attempt recorded an
 * endpoint, the attempt goes on with the recorded endpoint and certificate.
 * Errors (the message's outcome; the diagnostic names the participant, document and network):
 *   AS4_E_SMP_UNAVAILABLE   DNS or SMP unreachable: retry like a failed send
 *   AS4_E_SMP_NOT_REGISTERED, AS4_E_SMP_NO_SERVICE, AS4_E_SMP_BAD_RESPONSE, AS4_E_SMP_TRUST,
 *   AS4_E_INVAL, AS4_E_GLN  permanent: the message fails at once
 *   AS4_E_CONFIG            the PMode's network is not in rt (a reload removed it)
 *   AS4_E_SPACE, AS4_E_IO, AS4_E_BUSY, AS4_E_STATE, AS4_E_NOMEM  recording failed
 * Thread-safe (one call per claimed record).
 */
AS4_MUST_CHECK as4_err as4_discovery_resolve(struct as4_ap *ap, struct as4_runtime *rt,
                                             const struct as4_pmode *pm, struct as4_msgrec *rec,
                                             struct as4_diag *d);

/*
 * Send worker, after an attempt to a discovered endpoint ended with err: after a TLS or
 * certificate failure (AS4_E_PEER_TLS, AS4_E_UNTRUSTED, AS4_E_SIG_INVALID,
 * AS4_E_INVALID_RECEIPT) the cached lookups giving that endpoint are dropped, so the next
 * attempt asks the SMP again. Nothing for other PModes or outcomes. Thread-safe.
 */
void as4_discovery_attempted(struct as4_runtime *rt, const struct as4_pmode *pm,
                             const struct as4_msgrec *rec, as4_err err);

/*
 * Receive path, for a message opened under a PMode whose initiator is a dynamic party: the
 * message must be signed by a trusted certificate with a CN, and every eb:From PartyId of the
 * dynamic party's type must equal that CN. AS4_OK at once for other PModes.
 * Errors: AS4_E_UNTRUSTED (EBMS:0101) with a diagnostic naming the PartyId and the CN.
 * Thread-safe.
 */
AS4_MUST_CHECK as4_err as4_discovery_check_sender(const struct as4_msg *m, struct as4_diag *d);
