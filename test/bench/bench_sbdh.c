/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_sbdh: time as4_sbdh_parse (and as4_sbdh_wrap) on a MedCom example envelope and on a
 * large synthetic FHIR message, with the peak resident memory of the process.
 *
 *   bench_sbdh ENVELOPE.xml [ITERATIONS] [BIG_MB]
 *
 * ENVELOPE.xml: e.g. ../shared/medcom-examples/05-ehmisbdh-envelope-homecareobservation.xml.
 * BIG_MB (default 100): size of the synthetic FHIR JSON message wrapped and parsed once.
 * Results go to docs/benchmarks.md by hand, with the machine and the command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "as4/blob.h"
#include "as4/sbdh.h"
#include "as4/str.h"
#include "as4/time.h"
#include "as4/xml.h"

static long peak_rss_kb(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

static int parse_once(const uint8_t *buf, size_t len, const struct as4_sbdh_rules *r)
{
	struct as4_sbdh *sb = NULL;
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_sbdh_parse(buf, len, r, &sb, &d);
	as4_sbdh_free(sb);
	if (err != AS4_OK) {
		fprintf(stderr, "bench_sbdh: %s\n", as4_diag_text(&d));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t iters = 2000;
	uint64_t big_mb = 100;
	if (argc < 2 || (argc > 2 && as4_parse_u64(argv[2], 10000000, &iters) != AS4_OK) ||
	    (argc > 3 && as4_parse_u64(argv[3], 1000, &big_mb) != AS4_OK)) {
		fputs("usage: bench_sbdh ENVELOPE.xml [ITERATIONS] [BIG_MB]\n", stderr);
		return 2;
	}
	as4_xml_global_init();
	if (as4_file_read(argv[1], 64u * 1024 * 1024, &buf, &len) != AS4_OK) {
		fprintf(stderr, "bench_sbdh: cannot read %s\n", argv[1]);
		return 2;
	}
	int rc = 0;
	int64_t t0 = as4_time_mono_ns();
	for (uint64_t i = 0; i < iters && rc == 0; i++) {
		rc = parse_once(buf, len, NULL);
	}
	double us = (double)(as4_time_mono_ns() - t0) / 1000.0 / (double)iters;
	printf("parse %s (%zu bytes): %.1f us per envelope (%llu runs)\n", argv[1], len, us,
	       (unsigned long long)iters);
	free(buf);

	/* a large FHIR message: wrap it, then parse the envelope */
	size_t n = (size_t)big_mb * 1024 * 1024;
	char *fhir = malloc(n);
	if (fhir == NULL) {
		return 1;
	}
	const char *head =
	        "{\"resourceType\":\"Bundle\",\"type\":\"message\",\"entry\":[{\"resource\":"
	        "{\"resourceType\":\"MessageHeader\",\"id\":\"big\",\"eventCoding\":"
	        "{\"code\":\"care-communication-message\"}}}],\"pad\":\"";
	memset(fhir, 'x', n);
	memcpy(fhir, head, strlen(head));
	memcpy(fhir + n - 2, "\"}", 2);
	struct as4_sbdh_wrap w = {0};
	w.sender = "5790000121526";
	w.receiver = "5790000201389";
	w.document_id = "urn:example:big";
	w.process_id = "urn:ehmi:sdn-emergence";
	w.standard = "care-communication-message";
	w.message_id = "big";
	struct as4_sbdh_rules r = {0};
	r.max_content = n;
	w.rules = &r;
	struct as4_buf env;
	as4_buf_init(&env, SIZE_MAX);
	struct as4_diag d;
	as4_diag_init(&d);
	t0 = as4_time_mono_ns();
	if (as4_sbdh_wrap(&w, (const uint8_t *)fhir, n, &env, &d) != AS4_OK) {
		fprintf(stderr, "bench_sbdh: wrap: %s\n", as4_diag_text(&d));
		return 1;
	}
	double wrap_ms = (double)(as4_time_mono_ns() - t0) / 1e6;
	free(fhir);
	t0 = as4_time_mono_ns();
	rc = parse_once(env.data, env.len, &r);
	double parse_ms = (double)(as4_time_mono_ns() - t0) / 1e6;
	printf("wrap %llu MB FHIR JSON: %.0f ms; parse the %zu-byte envelope: %.0f ms; peak RSS "
	       "%ld MB\n",
	       (unsigned long long)big_mb, wrap_ms, env.len, parse_ms, peak_rss_kb() / 1024);
	as4_buf_cleanup(&env);
	as4_xml_global_cleanup();
	return rc;
}
