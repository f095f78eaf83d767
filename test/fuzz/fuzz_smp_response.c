/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: SMP responses (smp_parse.c and the signature checks of smp_sig.c): parse and
 * recognise the document, verify its root-child signature with the embedded certificate
 * (legacy algorithms allowed, so that more of the path runs), extract the typed content
 * (identifiers, endpoints, dates, certificates, CertificateUID) and decode what it names.
 */
#include <stdint.h>
#include <stdlib.h>

#include "../../smp-client/smp_int.h"
#include "as4/limits.h"
#include "as4/smp.h"
#include "as4/xml.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void cleanup(void)
{
	as4_smp_global_cleanup(true);
	as4_xml_global_cleanup();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	as4_xml_global_init();
	if (as4_smp_global_init(true) != AS4_OK) {
		abort();
	}
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct as4_limits lim;
	as4_limits_default(&lim);
	lim.max_xml_nodes = 20000;
	struct as4_diag d;
	as4_diag_init(&d);
	xmlDoc *dom = NULL;
	enum as4_smp_proto dialect;
	enum as4_smp_doc_kind kind;
	if (as4_smp_parse(data, size, &lim, &dom, &dialect, &kind, &d) != AS4_OK) {
		return 0;
	}
	struct as4_smp_trace t;
	as4_smp_trace_init(&t);
	struct as4_smp_verify_opts vo = {NULL, 0, true, false};
	X509 *signer = NULL;
	as4_diag_init(&d);
	if (as4_smp_verify(dom, dialect, &vo, &signer, &t, &d) != AS4_OK) {
		/* keep going: the parser must cope with what a bad signature wraps */
	}
	struct as4_smp_doc *doc = NULL;
	as4_diag_init(&d);
	if (as4_smp_extract(dom, dialect, kind, &doc, &d) == AS4_OK) {
		if (signer != NULL && doc->n_uid_avas > 0 &&
		    as4_smp_dn_matches(signer, doc->uid_avas, doc->n_uid_avas)) {
			/* a self-redirect: nothing more to check */
		}
		for (size_t i = 0; i < doc->n_pms; i++) {
			for (size_t k = 0; k < doc->pms[i].n_eps; k++) {
				const struct as4_smp_ep *ep = &doc->pms[i].eps[k];
				if (as4_smp_url_check(ep->address, false, true, "endpoint", NULL) !=
				    AS4_OK) {
					/* refused addresses are expected */
				}
				for (size_t c = 0; c < ep->n_certs; c++) {
					X509 *x = as4_smp_cert_decode(ep->certs[c].der,
					                              ep->certs[c].len);
					char subject[256];
					if (x != NULL) {
						as4_smp_cert_subject(x, subject, sizeof(subject));
						(void)as4_smp_cert_not_after(x);
					}
					X509_free(x);
				}
			}
		}
	}
	as4_smp_doc_free(doc);
	X509_free(signer);
	as4_smp_trace_cleanup(&t);
	xmlFreeDoc(dom);
	return 0;
}
