/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS back end on glibc's libresolv: one res_state per call (so threads share nothing),
 * res_nquery (which retries over TCP on truncation), an optional fixed IPv4 server with port.
 * Only the outcome class is decided here; the answer bytes go to sml_dns.c.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>

#include "as4/str.h"
#include "smp_int.h"

/* "a.b.c.d:port" (port optional, default 53) into an IPv4 socket address. */
static bool parse_server(const char *s, struct sockaddr_in *sa);

bool as4_smp_dns_server_ok(const char *server)
{
	struct sockaddr_in sa;
	return parse_server(server, &sa);
}

static bool parse_server(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	size_t hn = colon != NULL ? (size_t)(colon - s) : strlen(s);
	uint64_t port = 53;
	if (hn == 0 || hn >= sizeof(host)) {
		return false;
	}
	memcpy(host, s, hn);
	host[hn] = '\0';
	if (colon != NULL && as4_parse_u64(colon + 1, 65535, &port) != AS4_OK) {
		return false;
	}
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return port > 0 && inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

as4_err as4_smp_dns_resolv(void *ctx, const struct as4_smp_dns_request *req, uint8_t *answer,
                           size_t cap, size_t *len, enum as4_smp_dns_status *status,
                           struct as4_diag *d)
{
	(void)ctx;
	*len = 0;
	*status = AS4_SMP_DNS_TEMPFAIL;
	struct sockaddr_in server;
	if (req->server != NULL && !parse_server(req->server, &server)) {
		return as4_diag_set(d, AS4_E_CONFIG,
		                    "DNS server '%.80s' is not an IPv4 address with optional :port",
		                    req->server);
	}
	struct __res_state st;
	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) != 0) {
		/* no usable resolver configuration: a local, retryable condition */
		*status = AS4_SMP_DNS_TEMPFAIL;
		return AS4_OK;
	}
	if (req->server != NULL) {
		st.nsaddr_list[0] = server;
		st.nscount = 1;
	}
	/* retrans is in seconds: round the per-try timeout up */
	int secs = (int)((req->timeout_ms + 999) / 1000);
	st.retrans = secs > 0 ? secs : 1;
	st.retry = req->tries > 0 ? (int)req->tries : 1;
	/* no search list, no default-domain appending: the name is always absolute */
	st.options &= ~(unsigned long)(RES_DEFNAMES | RES_DNSRCH);
	int cap_int = cap > 65535 ? 65535 : (int)cap;
	int n = res_nquery(&st, req->name, ns_c_in, req->qtype, answer, cap_int);
	if (n >= 0) {
		*len = (size_t)n > cap ? cap : (size_t)n;
		*status = AS4_SMP_DNS_ANSWER;
	} else {
		/*
		 * glibc sets HOST_NOT_FOUND for NXDOMAIN and NO_DATA for NOERROR without answers;
		 * SERVFAIL, REFUSED, timeouts and unreachable servers all give TRY_AGAIN, and
		 * FORMERR/NOTIMP give NO_RECOVERY: all of those are technical and retryable.
		 */
		switch (st.res_h_errno) {
		case HOST_NOT_FOUND:
			*status = AS4_SMP_DNS_NXDOMAIN;
			break;
		case NO_DATA:
			*status = AS4_SMP_DNS_NODATA;
			break;
		default:
			*status = AS4_SMP_DNS_TEMPFAIL;
			break;
		}
	}
	res_nclose(&st);
	return AS4_OK;
}
