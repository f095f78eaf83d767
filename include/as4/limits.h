/* SPDX-License-Identifier: Apache-2.0 */
/*
 * All caps on untrusted input in one struct (STYLE rule 10). Filled from the `limits:` section
 * of as4d.yaml; as4_limits_default() gives the embedded defaults.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct as4_limits {
	size_t max_body;            /* whole HTTP request body on /as4 (HTTP 413 beyond) */
	size_t max_parts;           /* MIME parts per message, root included */
	size_t max_header_bytes;    /* MIME header block of one part */
	size_t max_soap;            /* SOAP envelope (root part) bytes */
	size_t max_xml_depth;       /* element nesting depth */
	size_t max_xml_nodes;       /* nodes per parsed document */
	uint64_t max_gunzip;        /* decompressed bytes per payload part */
	uint32_t max_gzip_ratio;    /* decompressed / compressed size per part */
	size_t max_api_body;        /* JSON request body on the internal API */
	size_t max_api_upload;      /* multipart/form-data submission on the internal API */
	size_t max_json_depth;      /* JSON nesting depth on the internal API */
	size_t max_smp_response;    /* SMP HTTP response body */
	size_t max_receipt;         /* receipt / error signal body read back by the sender */
	size_t mem_spool_threshold; /* bodies and payloads above this go to spool files */
};

/* The embedded defaults (documented in docs/admin-guide.md). */
void as4_limits_default(struct as4_limits *l);
