/* SPDX-License-Identifier: Apache-2.0 */
#include "as4/limits.h"

void as4_limits_default(struct as4_limits *l)
{
	/* MEDCOM.md: 100 MB is the largest FHIR message in an envelope; leave room for MIME. */
	l->max_body = 150u * 1024 * 1024;
	l->max_parts = 64;
	l->max_header_bytes = 16 * 1024;
	l->max_soap = 4u * 1024 * 1024;
	l->max_xml_depth = 64;
	l->max_xml_nodes = 200000;
	l->max_gunzip = 200u * 1024 * 1024;
	l->max_gzip_ratio = 1000;
	l->max_api_body = 150u * 1024 * 1024;
	l->max_api_upload = 1024ULL * 1024 * 1024 * 2;
	l->max_json_depth = 32;
	l->max_smp_response = 1024 * 1024;
	l->max_receipt = 1024 * 1024;
	l->mem_spool_threshold = 1024 * 1024;
}
