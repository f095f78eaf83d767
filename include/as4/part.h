/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A MIME part of an AS4 message (the SOAP root or a payload attachment), as every layer from
 * WS-Security (L3) to the edge (L5) sees it. Defined in the base layer so that security and
 * messaging share one shape.
 *
 * Ownership: the strings are allocated in the owning message's arena (STYLE rule 9); the blob
 * is owned by the part and released by as4_part_cleanup(). Whoever owns the array of parts
 * (normally struct as4_msg in ap/ebms3) cleans them up.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "as4/blob.h"

/* Extra MIME header lines of a part that are carried through (neither Content-ID/Type/TE). */
struct as4_part_header {
	const char *name;  /* as sent, e.g. "Content-Description" */
	const char *value; /* unfolded, trimmed */
};

struct as4_part {
	const char *content_id;   /* Content-ID without the angle brackets ("part1@example") */
	const char *content_type; /* full Content-Type value, e.g. "application/gzip" */
	struct as4_blob data;     /* the bytes after removing the transfer encoding */
	struct as4_part_header *headers; /* other header lines (arena) */
	size_t n_headers;
	/*
	 * Set by WS-Security while opening: the part was encrypted and data now holds the
	 * plaintext; content_type then holds the type from EncryptedData/@MimeType.
	 */
	bool decrypted;
};

/* Initialise an empty part. */
void as4_part_init(struct as4_part *p);

/* Release the part's blob (strings live in the arena). NULL ok. */
void as4_part_cleanup(struct as4_part *p);

/*
 * The media type of content_type without parameters, lower-cased into out (capacity cap):
 * "Application/XML; charset=UTF-8" gives "application/xml". AS4_E_LIMIT when it does not fit.
 */
AS4_MUST_CHECK as4_err as4_media_type(const char *content_type, char *out, size_t cap);

/*
 * True for XML media types: text/xml, application/xml and any type ending in "+xml"
 * (SwA 1.1 §5.4.2; those are digested after exclusive C14N).
 */
bool as4_media_type_is_xml(const char *content_type);
