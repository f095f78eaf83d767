/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MedCom / EHMI profile at the edge (L5, ap/transport/medcom.c): the checks that join an
 * ehmiSBDH envelope (as4/sbdh.h) with the configuration (participants, known document types)
 * and the AS4 header (four-corner properties), for the MSH receive handler and the submission
 * API. Identifiers only ever reach logs and diagnostics: never a CPR number or payload bytes.
 * Thread-safe (the store and configuration snapshots are).
 */
#pragma once

#include <stdbool.h>

#include "as4/compiler.h"
#include "as4/config.h"
#include "as4/diag.h"
#include "as4/ebms3.h"
#include "as4/err.h"
#include "as4/msg.h"
#include "as4/sbdh.h"
#include "as4/store.h"

/*
 * The checks of the medcom section that need the configuration, for an envelope already
 * parsed without errors: DOCUMENTID on medcom.documents (when listed; compared exactly) and
 * within its max_payload, PROCESSID on medcom.processes (when listed). With outbound true the
 * Sender must also be one of the participants (when any are configured): we send for them.
 * Errors: AS4_E_SBDH_INVALID, AS4_E_LIMIT, with d naming the scope as its field.
 */
AS4_MUST_CHECK as4_err as4_medcom_check_profile(const struct as4_config *cfg,
                                                const struct as4_sbdh *sb, bool outbound,
                                                struct as4_diag *d);

/* What the receive check hands to the step after the store. Zero-initialise; no cleanup. */
struct as4_medcom_in {
	bool sbdh;             /* the message carried an ehmiSBDH envelope as its first payload */
	char instance_id[257]; /* its InstanceIdentifier */
	char duplicate_of[AS4_MESSAGE_ID_MAX + 1]; /* "" or the MessageId of an earlier received
	                                              message with the same InstanceIdentifier */
};

/*
 * Check a received UserMessage (not the test service) against the profile and fill the
 * record's sbdh_instance_id and medcom_message_id. When its first payload is an ehmiSBDH
 * envelope (as4_sbdh_sniff()):
 *  - the envelope must parse without errors under the medcom rules, and pass
 *    as4_medcom_check_profile() (inbound);
 *  - the SBDH Receiver must equal the finalRecipient property and the Sender the
 *    originalSender property (iso6523-actorid-upis values; the scheme prefix
 *    "iso6523-actorid-upis::" is ignored): AS4_E_ROUTING (EBMS:0003), the detail naming both;
 *  - the Receiver must be a participant this gateway serves: AS4_E_PMODE_MISMATCH (EBMS:0010);
 *  - an earlier received message with the same InstanceIdentifier is noted in in->duplicate_of
 *    (reported, not refused: the AS4 MessageIds differ, so it is a new message).
 * Without an envelope: AS4_E_SBDH_INVALID when medcom.require_sbdh, else AS4_OK.
 * Other errors: those of as4_sbdh_parse() (EBMS:0004 / 0003 for a GLN), AS4_E_NOMEM, store
 * read errors. rec is the record about to be stored (strings replaced, owned by rec).
 */
AS4_MUST_CHECK as4_err as4_medcom_inbound(struct as4_store *st, const struct as4_config *cfg,
                                          const struct as4_msg *m, struct as4_msgrec *rec,
                                          struct as4_medcom_in *in, struct as4_diag *d);

/*
 * After the record is stored: report a duplicate InstanceIdentifier (a log warning and an
 * event in the new message's history naming the earlier message). Best effort; never fails.
 */
void as4_medcom_inbound_stored(struct as4_store *st, const struct as4_msgrec *rec,
                               const struct as4_medcom_in *in);
