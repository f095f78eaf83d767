/* SPDX-License-Identifier: Apache-2.0 */
/* as4ctl: the command-line tool for administrators and pilot participants. */
#include <stdio.h>
#include <string.h>

#include "as4/blob.h"
#include "as4/wss.h"
#include "as4/xml.h"
#include "cli.h"

/* Commands are linked weakly so a build without one of them still links and says so. */
#pragma weak as4ctl_cmd_inspect
#pragma weak as4ctl_cmd_certs
#pragma weak as4ctl_cmd_pmode
#pragma weak as4ctl_cmd_smp
#pragma weak as4ctl_cmd_sbdh
#pragma weak as4ctl_cmd_send
#pragma weak as4ctl_cmd_ping
#pragma weak as4ctl_cmd_messages
#pragma weak as4ctl_cmd_show
#pragma weak as4ctl_cmd_retry
#pragma weak as4ctl_cmd_status
#pragma weak as4_wss_global_init
#pragma weak as4_wss_global_cleanup

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
        {"inspect", as4ctl_cmd_inspect,
         "inspect FILE [--key PEM]... [--cert PEM]... [--trust PEM]... [--at TIME] [--out DIR] "
         "[--json]"},
        {"certs", as4ctl_cmd_certs, "certs dev DIR | certs show FILE | certs list"},
        {"pmode", as4ctl_cmd_pmode,
         "pmode validate [--online] FILE... | pmode list | get ID | apply FILE... | delete ID"},
        {"smp", as4ctl_cmd_smp,
         "smp lookup PARTICIPANT DOCTYPE [PROCESS] [--network NAME] [--json] | "
         "smp inspect FILE --trust CERT... [--at TIME] [--signature-only] [--json]"},
        {"sbdh", as4ctl_cmd_sbdh,
         "sbdh wrap --sender GLN --receiver GLN --document ID --process ID FILE | "
         "sbdh inspect FILE [--json]"},
        {"send", as4ctl_cmd_send, "send (--pmode ID | --service S --action A) FILE... [--wait]"},
        {"ping", as4ctl_cmd_ping, "ping PARTY [--pmode ID]"},
        {"messages", as4ctl_cmd_messages, "messages [filters] [--all] [--json]"},
        {"show", as4ctl_cmd_show, "show ID [--json]"},
        {"retry", as4ctl_cmd_retry, "retry ID"},
        {"status", as4ctl_cmd_status, "status [--json]"},
};

static void usage(FILE *f)
{
	fputs("usage: as4ctl COMMAND [ARGS]\n\ncommands:\n", f);
	for (size_t i = 0; i < AS4_ARRAY_LEN(commands); i++) {
		fprintf(f, "  %s\n", commands[i].usage);
	}
	fputs("\nsend, ping, messages, show, retry, status, pmode list|get|apply|delete and certs "
	      "list\ncall the API of a running as4d: AS4CTL_URL (default http://127.0.0.1:8081) "
	      "and the\ntoken in AS4CTL_TOKEN or a file (AS4CTL_TOKEN_FILE, --token-file). "
	      "COMMAND --help for more.\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? AS4CTL_USAGE : AS4CTL_OK;
	}
	for (size_t i = 0; i < AS4_ARRAY_LEN(commands); i++) {
		if (strcmp(argv[1], commands[i].name) != 0) {
			continue;
		}
		if (commands[i].fn == NULL) {
			fprintf(stderr, "as4ctl: '%s' is not available in this build\n", argv[1]);
			return AS4CTL_USAGE;
		}
		as4_xml_global_init();
		int rc;
		if (as4_wss_global_init != NULL && as4_wss_global_init() != AS4_OK) {
			fputs("as4ctl: cannot initialise xmlsec\n", stderr);
			rc = AS4CTL_REFUSED;
		} else {
			rc = commands[i].fn(argc - 1, argv + 1);
			if (as4_wss_global_cleanup != NULL) {
				as4_wss_global_cleanup();
			}
		}
		as4_xml_global_cleanup();
		return rc;
	}
	fprintf(stderr, "as4ctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return AS4CTL_USAGE;
}
