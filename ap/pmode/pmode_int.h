/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private interface between pmode.c and config.c (STYLE rule 17): turning one validated PMode
 * document into a struct as4_pmode against the parties and networks of a configuration.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "as4/arena.h"
#include "as4/conf.h"
#include "as4/pmode.h"

/* What a PMode document may refer to. */
struct as4_pmode_refs {
	const struct as4_party *parties; /* every configured party */
	size_t n_parties;
	const struct as4_party *self; /* our party: must be initiator or responder */
	const char *const *networks;  /* discovery network names */
	size_t n_networks;
	uint64_t max_dedup_window_ms; /* retention.dedup_window: PMode windows must fit in it */
};

/*
 * Validate doc against the PMode schema and the references, and build *out with every string
 * copied into arena (parties are pointers into refs->parties). default_id is used when the
 * document has no pmode.id (NULL = the id is required). All problems go to errs.
 * AS4_OK, AS4_E_CONFIG, AS4_E_NOMEM. Not thread-safe for doc, arena and errs.
 */
AS4_MUST_CHECK as4_err as4_pmode_build(struct as4_conf_doc *doc, const char *default_id,
                                       const struct as4_pmode_refs *refs, struct as4_arena *arena,
                                       struct as4_pmode *out, struct as4_conf_errors *errs);

/*
 * True when s is a usable PMode id or configuration name: 1..128 characters from
 * [A-Za-z0-9._-], not starting with '.' (ids become file names through the API).
 */
bool as4_pmode_id_valid(const char *s);

/*
 * A set over pmodes[0..n) that also owns arena (freed by as4_pmode_set_free(); the PModes and
 * their strings live in it). On failure the caller keeps the arena. AS4_E_NOMEM, AS4_E_EXISTS.
 */
AS4_MUST_CHECK as4_err as4_pmode_set_adopt(const struct as4_pmode *pmodes, size_t n,
                                           struct as4_arena *arena, struct as4_pmode_set **out);
