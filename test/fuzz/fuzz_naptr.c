/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: DNS answers (sml_dns.c). The first byte picks the question type (even: NAPTR,
 * odd: A); the rest is a DNS response message for the fixed query name the seeds use. Every
 * NAPTR record found then goes through the U-NAPTR regexp and the URL check, as a lookup does.
 */
#include <stdint.h>
#include <string.h>

#include "../../smp-client/smp_int.h"

#define QNAME "abc.iso6523-actorid-upis.sml.example"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct as4_smp_dns_answer ans;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1) {
		return 0;
	}
	uint16_t qtype = (data[0] & 1) ? 1 : 35;
	struct as4_diag d;
	as4_diag_init(&d);
	if (as4_smp_dns_parse(data + 1, size - 1, QNAME, qtype, &ans, &d) != AS4_OK) {
		return 0;
	}
	size_t idx[AS4_SMP_NAPTR_MAX];
	size_t n = as4_smp_naptr_sorted(&ans, idx);
	for (size_t i = 0; i < n; i++) {
		char url[2100];
		as4_diag_init(&d);
		if (as4_smp_naptr_apply(ans.naptr[idx[i]].regexp, QNAME, url, sizeof(url), &d) ==
		            AS4_OK &&
		    as4_smp_url_check(url, true, false, "SMP URL", &d) != AS4_OK) {
			/* a refused URL is an expected outcome */
		}
	}
	return 0;
}
