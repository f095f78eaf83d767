/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One error enum for the whole code base (STYLE rules 2 and 3).
 *
 * Every fallible function returns as4_err; AS4_OK is 0. Each code has exactly one meaning,
 * given by one row of the table in ap/base/err.c: a human text, the ebMS3 error code a
 * receiving MSH answers with (NULL when the error never reaches the wire), and whether a
 * sender should retry. as4_strerror(), the ebMS Error signal and the retry decision all read
 * that row. Numbers are frozen once released: append new codes before AS4_E__COUNT only.
 */
#pragma once

#include <stdbool.h>

#include "as4/compiler.h"

typedef enum {
	AS4_OK = 0,

	/* Generic, local (never sent on the wire as such). */
	AS4_E_NOMEM = 1,    /* out of memory */
	AS4_E_INVAL = 2,    /* invalid argument or usage (programming or caller error) */
	AS4_E_LIMIT = 3,    /* a configured size or count limit was exceeded */
	AS4_E_IO = 4,       /* file system or socket I/O failed */
	AS4_E_NOTFOUND = 5, /* the requested item does not exist */
	AS4_E_EXISTS = 6,   /* the item already exists */
	AS4_E_SPACE = 7,    /* store or disk full (LMDB map full, ENOSPC) */
	AS4_E_CONFIG = 8,   /* configuration invalid */
	AS4_E_INTERNAL = 9, /* a bug or an unexpected library failure */
	AS4_E_STATE = 10,   /* operation not allowed in the object's current state */
	AS4_E_BUSY = 11,    /* temporarily unavailable (shutting down, store busy) */
	AS4_E_PARSE = 12,   /* local input (file, JSON, YAML) could not be parsed */
	AS4_E_CRYPTO = 13,  /* a local cryptographic operation failed (keys, RNG) */
	AS4_E_CORRUPT = 14, /* stored data is damaged */

	/* ebMS3 processing errors (receiving MSH), ebMS3 Core §6.7 and AS4 §5. */
	AS4_E_VALUE_NOT_RECOGNIZED = 100, /* EBMS:0001 */
	AS4_E_FEATURE = 101,              /* EBMS:0002 feature not supported */
	AS4_E_INCONSISTENT = 102,         /* EBMS:0003 values contradict each other or the PMode */
	AS4_E_OTHER = 103,                /* EBMS:0004 last resort; the detail says what happened */
	AS4_E_MIME = 104,                 /* EBMS:0007 MIME structure does not match PayloadInfo */
	AS4_E_HEADER = 105,               /* EBMS:0009 eb:Messaging invalid or incomplete */
	AS4_E_XML = 106,                  /* EBMS:0009 SOAP envelope not well-formed XML */
	AS4_E_DOCTYPE = 107,              /* EBMS:0009 DOCTYPE / entity declaration present */
	AS4_E_BUNDLED = 108,              /* EBMS:0002 more than one message unit (bundling) */
	AS4_E_PMODE_MISMATCH = 109,       /* EBMS:0010 no PMode matches / message breaks it */
	AS4_E_EXTERNAL_PAYLOAD = 110,     /* EBMS:0011 payload reference outside the message */
	AS4_E_SIG_INVALID = 111,          /* EBMS:0101 signature or reference does not verify */
	AS4_E_UNTRUSTED = 112,            /* EBMS:0101 signer not trusted / certificate invalid */
	AS4_E_DECRYPT = 113,              /* EBMS:0102 key unwrap or data decryption failed */
	AS4_E_POLICY = 114,               /* EBMS:0103 security not as the PMode requires */
	AS4_E_DELIVERY = 115,             /* EBMS:0202 could not deliver to the backend */
	AS4_E_MISSING_RECEIPT = 116,      /* EBMS:0301 no receipt after the last attempt */
	AS4_E_INVALID_RECEIPT = 117,      /* EBMS:0302 receipt does not match what was sent */
	AS4_E_DECOMPRESS = 118,           /* EBMS:0303 gzip data invalid or over the cap */
	AS4_E_SOAP_VERSION = 119,         /* EBMS:0009 not a SOAP 1.2 envelope */
	AS4_E_TOO_LARGE = 120,            /* EBMS:0004 body over the configured size (HTTP 413) */
	AS4_E_CONNECTION = 121,           /* EBMS:0005 transport-level failure (retryable) */
	AS4_E_EMPTY_MPC = 122,            /* EBMS:0006 pull with nothing to deliver */
	AS4_E_RELIABILITY = 123,          /* EBMS:0201 reliability failure */
	AS4_E_FEATURE_INCONSISTENT = 124, /* EBMS:0008 */

	/* Sending side: what happened to an outbound attempt. */
	AS4_E_PEER_HTTP = 200,    /* peer answered an HTTP error without an ebMS signal */
	AS4_E_PEER_TLS = 201,     /* TLS handshake or peer certificate failed */
	AS4_E_PEER_TIMEOUT = 202, /* no answer within the timeout */
	AS4_E_PEER_ERROR = 203,   /* peer answered with an ebMS Error of severity failure */
	AS4_E_PEER_BAD = 204,     /* peer answer could not be understood */

	/* Dynamic discovery (smp-client). */
	AS4_E_SMP_NOT_REGISTERED = 300, /* participant not in SML/BDXL (permanent) */
	AS4_E_SMP_NO_SERVICE = 301,     /* participant has no endpoint for doc/process */
	AS4_E_SMP_UNAVAILABLE = 302,    /* DNS or SMP temporarily unavailable (retryable) */
	AS4_E_SMP_BAD_RESPONSE = 303,   /* SMP answer malformed or inconsistent */
	AS4_E_SMP_TRUST = 304,          /* SMP signature or endpoint certificate untrusted */

	/* MedCom / SBDH profile. */
	AS4_E_SBDH_INVALID = 400, /* SBDH envelope invalid (EBMS:0004 with detail) */
	AS4_E_GLN = 401,          /* GLN check digit or format wrong */
	AS4_E_ROUTING = 402,      /* SBDH routing does not match AS4 four-corner (EBMS:0003) */

	AS4_E__COUNT
} as4_err;

/* One row of the error table. */
struct as4_err_info {
	as4_err code;     /* the code this row describes */
	const char *text; /* short human text, no trailing period */
	const char *ebms; /* "EBMS:0101", or NULL when never reported on the wire */
	bool retryable;   /* a sender retries after this error */
};

/*
 * Look up the table row of an error.
 * Returns a pointer to static storage; never NULL (unknown codes map to AS4_E_INTERNAL's row).
 * Thread-safe.
 */
const struct as4_err_info *as4_err_info(as4_err err);

/* Short human text of an error; static storage, never NULL. Thread-safe. */
const char *as4_strerror(as4_err err);

/*
 * The ebMS3 error code ("EBMS:0009") a receiving MSH reports for err. Errors without an ebMS
 * meaning map to "EBMS:0004" (Other). Static storage, never NULL. Thread-safe.
 */
const char *as4_err_ebms_code(as4_err err);

/* The ebMS3 shortDescription for an "EBMS:nnnn" code, e.g. "InvalidHeader"; NULL if unknown. */
const char *as4_ebms_short_description(const char *ebms_code);

/* The ebMS3 category for an "EBMS:nnnn" code ("Content", "Packaging", ...); NULL if unknown. */
const char *as4_ebms_category(const char *ebms_code);

/* True when a sender should retry after err (timeouts, connection failures, 5xx). */
bool as4_err_retryable(as4_err err);
