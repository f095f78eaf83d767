/* SPDX-License-Identifier: Apache-2.0 */
/* The one table that gives each error its meaning (STYLE rule 3). */
#include "as4/err.h"

#include <string.h>

static const struct as4_err_info errors[] = {
        {AS4_OK, "success", NULL, false},
        {AS4_E_NOMEM, "out of memory", "EBMS:0004", true},
        {AS4_E_INVAL, "invalid argument", NULL, false},
        {AS4_E_LIMIT, "size or count limit exceeded", "EBMS:0004", false},
        {AS4_E_IO, "input/output error", "EBMS:0004", true},
        {AS4_E_NOTFOUND, "not found", NULL, false},
        {AS4_E_EXISTS, "already exists", NULL, false},
        {AS4_E_SPACE, "storage full", "EBMS:0004", true},
        {AS4_E_CONFIG, "invalid configuration", NULL, false},
        {AS4_E_INTERNAL, "internal error", "EBMS:0004", true},
        {AS4_E_STATE, "not allowed in the current state", NULL, false},
        {AS4_E_BUSY, "temporarily unavailable", "EBMS:0004", true},
        {AS4_E_PARSE, "could not parse input", NULL, false},
        {AS4_E_CRYPTO, "cryptographic operation failed", "EBMS:0004", true},
        {AS4_E_CORRUPT, "stored data is damaged", "EBMS:0004", false},

        {AS4_E_VALUE_NOT_RECOGNIZED, "header value not recognized", "EBMS:0001", false},
        {AS4_E_FEATURE, "feature not supported", "EBMS:0002", false},
        {AS4_E_INCONSISTENT, "values are inconsistent", "EBMS:0003", false},
        {AS4_E_OTHER, "processing error", "EBMS:0004", false},
        {AS4_E_MIME, "MIME structure does not match PayloadInfo", "EBMS:0007", false},
        {AS4_E_HEADER, "invalid eb:Messaging header", "EBMS:0009", false},
        {AS4_E_XML, "SOAP envelope is not well-formed XML", "EBMS:0009", false},
        {AS4_E_DOCTYPE, "DOCTYPE or entity declaration not allowed", "EBMS:0009", false},
        {AS4_E_BUNDLED, "bundled message units are not supported", "EBMS:0002", false},
        {AS4_E_PMODE_MISMATCH, "no matching PMode", "EBMS:0010", false},
        {AS4_E_EXTERNAL_PAYLOAD, "external payload reference", "EBMS:0011", false},
        {AS4_E_SIG_INVALID, "signature verification failed", "EBMS:0101", false},
        {AS4_E_UNTRUSTED, "signer not trusted", "EBMS:0101", false},
        {AS4_E_DECRYPT, "decryption failed", "EBMS:0102", false},
        {AS4_E_POLICY, "security policy not met", "EBMS:0103", false},
        {AS4_E_DELIVERY, "delivery to the backend failed", "EBMS:0202", false},
        {AS4_E_MISSING_RECEIPT, "no receipt received", "EBMS:0301", false},
        {AS4_E_INVALID_RECEIPT, "receipt does not match the message sent", "EBMS:0302", false},
        {AS4_E_DECOMPRESS, "payload decompression failed", "EBMS:0303", false},
        {AS4_E_SOAP_VERSION, "not a SOAP 1.2 envelope", "EBMS:0009", false},
        {AS4_E_TOO_LARGE, "message too large", "EBMS:0004", false},
        {AS4_E_CONNECTION, "connection failure", "EBMS:0005", true},
        {AS4_E_EMPTY_MPC, "no message available for pulling", "EBMS:0006", false},
        {AS4_E_RELIABILITY, "reliability failure", "EBMS:0201", true},
        {AS4_E_FEATURE_INCONSISTENT, "feature inconsistent", "EBMS:0008", false},

        {AS4_E_PEER_HTTP, "peer answered with an HTTP error", NULL, true},
        {AS4_E_PEER_TLS, "TLS connection to the peer failed", NULL, true},
        {AS4_E_PEER_TIMEOUT, "peer did not answer in time", NULL, true},
        {AS4_E_PEER_ERROR, "peer answered with an ebMS error", NULL, false},
        {AS4_E_PEER_BAD, "peer answer not understood", NULL, true},

        {AS4_E_SMP_NOT_REGISTERED, "participant not registered", NULL, false},
        {AS4_E_SMP_NO_SERVICE, "participant not registered for this document/process", NULL, false},
        {AS4_E_SMP_UNAVAILABLE, "discovery temporarily unavailable", NULL, true},
        {AS4_E_SMP_BAD_RESPONSE, "bad SMP response", NULL, false},
        {AS4_E_SMP_TRUST, "SMP or endpoint certificate not trusted", NULL, false},

        {AS4_E_SBDH_INVALID, "SBDH envelope invalid", "EBMS:0004", false},
        {AS4_E_GLN, "invalid GLN", "EBMS:0003", false},
        {AS4_E_ROUTING, "SBDH routing does not match the AS4 header", "EBMS:0003", false},
};

struct ebms_row {
	const char *code;
	const char *short_desc;
	const char *category;
};

/* ebMS3 Core §6.7.1 and AS4 §5.2 */
static const struct ebms_row ebms_rows[] = {
        {"EBMS:0001", "ValueNotRecognized", "Content"},
        {"EBMS:0002", "FeatureNotSupported", "Content"},
        {"EBMS:0003", "ValueInconsistent", "Content"},
        {"EBMS:0004", "Other", "Content"},
        {"EBMS:0005", "ConnectionFailure", "Communication"},
        {"EBMS:0006", "EmptyMessagePartitionChannel", "Communication"},
        {"EBMS:0007", "MimeInconsistency", "Unpackaging"},
        {"EBMS:0008", "FeatureNotSupported", "Unpackaging"},
        {"EBMS:0009", "InvalidHeader", "Unpackaging"},
        {"EBMS:0010", "ProcessingModeMismatch", "Processing"},
        {"EBMS:0011", "ExternalPayloadError", "Content"},
        {"EBMS:0101", "FailedAuthentication", "Processing"},
        {"EBMS:0102", "FailedDecryption", "Processing"},
        {"EBMS:0103", "PolicyNoncompliance", "Processing"},
        {"EBMS:0201", "DysfunctionalReliability", "Processing"},
        {"EBMS:0202", "DeliveryFailure", "Communication"},
        {"EBMS:0301", "MissingReceipt", "Communication"},
        {"EBMS:0302", "InvalidReceipt", "Communication"},
        {"EBMS:0303", "DecompressionFailure", "Communication"},
};

const struct as4_err_info *as4_err_info(as4_err err)
{
	const struct as4_err_info *fallback = NULL;
	for (size_t i = 0; i < AS4_ARRAY_LEN(errors); i++) {
		if (errors[i].code == err) {
			return &errors[i];
		}
		if (errors[i].code == AS4_E_INTERNAL) {
			fallback = &errors[i];
		}
	}
	return fallback;
}

const char *as4_strerror(as4_err err)
{
	return as4_err_info(err)->text;
}

const char *as4_err_ebms_code(as4_err err)
{
	const char *code = as4_err_info(err)->ebms;
	return code != NULL ? code : "EBMS:0004";
}

bool as4_err_retryable(as4_err err)
{
	return as4_err_info(err)->retryable;
}

static const struct ebms_row *ebms_row(const char *code)
{
	if (code == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < AS4_ARRAY_LEN(ebms_rows); i++) {
		if (strcmp(ebms_rows[i].code, code) == 0) {
			return &ebms_rows[i];
		}
	}
	return NULL;
}

const char *as4_ebms_short_description(const char *ebms_code)
{
	const struct ebms_row *r = ebms_row(ebms_code);
	return r != NULL ? r->short_desc : NULL;
}

const char *as4_ebms_category(const char *ebms_code)
{
	const struct ebms_row *r = ebms_row(ebms_code);
	return r != NULL ? r->category : NULL;
}
