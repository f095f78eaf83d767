/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the files of the messaging layer (not a public contract, STYLE rule 17).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "as4/arena.h"
#include "as4/buf.h"
#include "as4/compiler.h"
#include "as4/diag.h"
#include "as4/err.h"

/* The prefixes this MSH writes (Domibus uses the same ones). */
#define EBMS3_PFX_SOAP "env"
#define EBMS3_PFX_EB   "eb"
#define EBMS3_PFX_EBBP "ebbp"
#define EBMS3_PFX_DS   "ds"

/* Namespace of xml:lang. */
#define EBMS3_NS_XML "http://www.w3.org/XML/1998/namespace"

/*
 * True when s is valid UTF-8 made only of characters XML 1.0 allows (§2.2 Char): tab, LF,
 * CR, U+0020..U+D7FF, U+E000..U+FFFD, U+10000..U+10FFFF.
 */
bool ebms3_xml_text_valid(const char *s);

/*
 * Append the n bytes at s to b with every byte sequence that is not an XML 1.0 character
 * (control characters, invalid UTF-8) replaced by '?' (one output byte per input byte at
 * most). For texts that must always be sendable (error details). AS4_E_NOMEM, AS4_E_LIMIT.
 */
AS4_MUST_CHECK as4_err ebms3_xml_text_sanitize(struct as4_buf *b, const char *s, size_t n);

/*
 * A new document with root env:Envelope (SOAP 1.2; xmlns:env and xmlns:eb declared on it),
 * an env:Header holding eb:Messaging env:mustUnderstand="true", and an empty env:Body.
 * Any out pointer may be NULL. NULL = out of memory.
 */
xmlDoc *ebms3_new_envelope(xmlNode **header, xmlNode **messaging, xmlNode **body, xmlNs **eb);

/* A new empty child element ns:name of parent; NULL = out of memory. */
xmlNode *ebms3_add_elem(xmlNode *parent, xmlNs *ns, const char *name);

/*
 * A new child element ns:name of parent holding text (copied as is; the serialiser escapes
 * it). The caller has checked text with ebms3_xml_text_valid(). NULL = out of memory.
 */
xmlNode *ebms3_add_text_elem(xmlNode *parent, xmlNs *ns, const char *name, const char *text);

/* Add attribute [ns:]name="value" (value copied as is). AS4_E_NOMEM. */
AS4_MUST_CHECK as4_err ebms3_set_attr(xmlNode *node, xmlNs *ns, const char *name,
                                      const char *value);

/*
 * eb:MessageInfo with Timestamp (ms >= 0; 0 = now), MessageId and RefToMessageId (when non-NULL)
 * under parent. The caller has validated the ids. AS4_E_NOMEM.
 */
AS4_MUST_CHECK as4_err ebms3_add_message_info(xmlNode *parent, xmlNs *eb, int64_t timestamp_ms,
                                              const char *message_id, const char *ref_to);

/* ---- message pipelines (msg_in.c, msg_out.c, reply.c) ---------------------------------- */

struct as4_msg;
struct as4_blob;
struct as4_limits;

/*
 * A new, empty received message owning body (moved in; body is empty afterwards, also on
 * failure). NULL = out of memory.
 */
struct as4_msg *ebms3_msg_new(struct as4_blob *body);

/*
 * The first stages of opening m->body: MIME parse, SOAP parse, eb:Messaging (m->stage ends
 * at the failing stage, or at AS4_STAGE_PMODE on success). content_type may be NULL.
 */
AS4_MUST_CHECK as4_err ebms3_msg_open_envelope(struct as4_msg *m, const char *content_type,
                                               const struct as4_limits *lim, const char *spool_dir,
                                               struct as4_diag *d);
