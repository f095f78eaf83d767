/* SPDX-License-Identifier: Apache-2.0 */
/*
 * as4ctl subcommands. Each lives in its own cmd_<name>.c and gets argv from the subcommand on
 * (argv[0] is the subcommand name). Exit codes are the tool's contract for scripts:
 * 0 = success / acceptable, 1 = refused / failed, 2 = usage error, 3 = the internal API of a
 * running as4d could not be reached (online commands only: connection, TLS, timeout).
 */
#pragma once

#define AS4CTL_OK          0
#define AS4CTL_REFUSED     1
#define AS4CTL_USAGE       2
#define AS4CTL_UNAVAILABLE 3

/* `as4ctl inspect FILE [--key PEM]... [--cert PEM]... [--trust PEM]... [--at T] [--json]`. */
int as4ctl_cmd_inspect(int argc, char **argv);

/* `as4ctl certs dev DIR` and `as4ctl certs ...` (offline certificate tools). */
int as4ctl_cmd_certs(int argc, char **argv);

/* `as4ctl pmode validate FILE...` (offline) and `pmode list|get|apply` (online). */
int as4ctl_cmd_pmode(int argc, char **argv);

/* `as4ctl smp lookup|inspect ...`. */
int as4ctl_cmd_smp(int argc, char **argv);

/* `as4ctl sbdh wrap|inspect ...`. */
int as4ctl_cmd_sbdh(int argc, char **argv);

/* `as4ctl pmode list|get|apply|delete` and `pmode validate --online` (ap/cli/cmd_online.c). */
int as4ctl_pmode_online(int argc, char **argv);

/* `as4ctl certs list` (ap/cli/cmd_online.c). */
int as4ctl_certs_list(int argc, char **argv);

/* Online commands over the internal API: send, ping, messages, show, retry, status. */
int as4ctl_cmd_send(int argc, char **argv);
int as4ctl_cmd_ping(int argc, char **argv);
int as4ctl_cmd_messages(int argc, char **argv);
int as4ctl_cmd_show(int argc, char **argv);
int as4ctl_cmd_retry(int argc, char **argv);
int as4ctl_cmd_status(int argc, char **argv);
