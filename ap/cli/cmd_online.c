/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The online as4ctl commands: they call the internal API of a running as4d (online.h) and
 * print a short text view, or with --json the API's own answer.
 *
 *   send [options] FILE...     submit a message (multipart/form-data), optionally --wait
 *   ping PARTICIPANT|PARTY     the ebMS test service: exit 0 when a Receipt came back
 *   messages [filters]         search, newest first (--all follows the cursor)
 *   show ID                    one message: state, parties, payloads, receipt, errors, events
 *   retry ID                   put a failed message back in the queue
 *   status                     version, uptime, queues, certificate warnings
 *   pmode list|get|apply|delete and pmode validate --online
 *   certs list                 every certificate in use, with days to expiry
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "as4/blob.h"
#include "as4/str.h"
#include "as4/time.h"
#include "cli.h"
#include "online.h"

/* Most positional arguments and repeated options a command takes. */
#define MAX_ARGS 256

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s != NULL ? s : "";
}

static int usage(const char *prog, const char *text)
{
	fprintf(stderr, "usage: %s\n%s", text, online_common_help);
	(void)prog;
	return AS4CTL_USAGE;
}

/* Parse argv: common options, the command's own options (value-taking names listed in
 * with_value, flags in flags), positionals. Returns 0, or AS4CTL_USAGE after a message. */
struct args {
	const char *names[MAX_ARGS]; /* options given, in order */
	const char *values[MAX_ARGS];
	size_t n;
	const char *pos[MAX_ARGS];
	size_t n_pos;
};

static int parse(struct online *o, int argc, char **argv, const char *const *with_value,
                 const char *const *flags, struct args *a, const char *usage_text)
{
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: %s\n%s", usage_text, online_common_help);
			return -1;
		}
		int c = online_common_opt(o, argc, argv, &i);
		if (c < 0) {
			return AS4CTL_USAGE;
		}
		if (c > 0) {
			continue;
		}
		bool done = false;
		for (const char *const *w = with_value; !done && *w != NULL; w++) {
			if (strcmp(argv[i], *w) == 0) {
				if (i + 1 >= argc || a->n == MAX_ARGS) {
					fprintf(stderr, "%s: %s needs a value\n", o->prog, argv[i]);
					return AS4CTL_USAGE;
				}
				a->names[a->n] = *w;
				a->values[a->n++] = argv[++i];
				done = true;
			}
		}
		for (const char *const *f = flags; !done && *f != NULL; f++) {
			if (strcmp(argv[i], *f) == 0 && a->n < MAX_ARGS) {
				a->names[a->n] = *f;
				a->values[a->n++] = "";
				done = true;
			}
		}
		if (done) {
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "%s: unknown option %s\n", o->prog, argv[i]);
			return usage(o->prog, usage_text);
		}
		if (a->n_pos == MAX_ARGS) {
			fprintf(stderr, "%s: too many arguments\n", o->prog);
			return AS4CTL_USAGE;
		}
		a->pos[a->n_pos++] = argv[i];
	}
	return AS4CTL_OK;
}

/* The last value of an option, or NULL. */
static const char *opt(const struct args *a, const char *name)
{
	const char *v = NULL;
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->names[i], name) == 0) {
			v = a->values[i];
		}
	}
	return v;
}

/* Run a command body with the connection set up and torn down around it. */
typedef int (*body_fn)(struct online *o, const struct args *a);

static int run(int argc, char **argv, const char *prog, const char *const *with_value,
               const char *const *flags, const char *usage_text, size_t min_pos, size_t max_pos,
               body_fn fn)
{
	struct online o;
	struct args a;
	online_init(&o, prog);
	int rc = parse(&o, argc, argv, with_value, flags, &a, usage_text);
	if (rc < 0) {
		rc = AS4CTL_OK;
	} else if (rc == AS4CTL_OK && (a.n_pos < min_pos || a.n_pos > max_pos)) {
		rc = usage(prog, usage_text);
	} else if (rc == AS4CTL_OK) {
		rc = fn(&o, &a);
	}
	online_cleanup(&o);
	return rc;
}

/* "2025-01-31T12:00:00.123Z" -> "2025-01-31 12:00:00" for tables. */
static void short_time(const char *t, char out[20])
{
	snprintf(out, 20, "%.19s", t);
	if (strlen(out) > 10) {
		out[10] = ' ';
	}
}

/* ---- send ----------------------------------------------------------------------------------- */

static const char send_usage[] =
        "as4ctl send (--pmode ID | --service S --action A [--to PARTY]) [--message-id ID]\n"
        "            [--conversation-id ID] [--ref-to ID] [--original-sender ID]\n"
        "            [--final-recipient ID] [--property NAME=VALUE]... [--type MIME] FILE...\n"
        "            [--wait] [--wait-timeout SECONDS]\n"
        "  submits one message with the FILEs as payloads, in order (--type: the media type\n"
        "  of every FILE; default from the extension). Prints the MessageId.\n"
        "  --wait: wait until the message is delivered (exit 0) or failed (exit 1).\n";

static const char *guess_type(const char *file)
{
	if (as4_str_ends(file, ".xml")) {
		return "application/xml";
	}
	if (as4_str_ends(file, ".json")) {
		return "application/json";
	}
	if (as4_str_ends(file, ".txt")) {
		return "text/plain";
	}
	if (as4_str_ends(file, ".pdf")) {
		return "application/pdf";
	}
	return "application/octet-stream";
}

/* Wait for a sent message to end; 0 delivered, 1 failed or timed out. */
static int wait_final(struct online *o, const char *msgid, uint64_t timeout_s)
{
	char esc[1200], path[1400];
	online_escape(msgid, esc, sizeof(esc));
	snprintf(path, sizeof(path), "/api/v1/messages/%s?direction=out", esc);
	int64_t deadline = as4_time_mono_ms() + (int64_t)timeout_s * 1000;
	for (;;) {
		json_t *doc = NULL;
		int rc = online_call(o, &(struct online_req){"GET", path, NULL, NULL, 0, NULL, 0},
		                     &doc, NULL, NULL);
		if (rc != AS4CTL_OK) {
			return rc;
		}
		const char *state = str(doc, "state");
		if (strcmp(state, "delivered") == 0 || strcmp(state, "failed") == 0) {
			bool ok = strcmp(state, "delivered") == 0;
			if (o->json) {
				online_print_json(doc);
			} else if (ok) {
				printf("%s delivered (receipt verified)\n", msgid);
			} else {
				const json_t *e = json_object_get(doc, "last_error");
				printf("%s failed: %s %s\n", msgid, str(e, "code"),
				       str(e, "detail"));
			}
			json_decref(doc);
			return ok ? AS4CTL_OK : AS4CTL_REFUSED;
		}
		json_decref(doc);
		if (as4_time_mono_ms() > deadline) {
			fprintf(stderr, "%s: %s is still %s after %llu s\n", o->prog, msgid, state,
			        (unsigned long long)timeout_s);
			return AS4CTL_REFUSED;
		}
		struct timespec ts = {0, 200 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static int send_body(struct online *o, const struct args *a)
{
	static const struct {
		const char *opt, *key;
	} keys[] = {
	        {"--pmode", "pmode"},
	        {"--service", "service"},
	        {"--action", "action"},
	        {"--to", "to"},
	        {"--message-id", "message_id"},
	        {"--conversation-id", "conversation_id"},
	        {"--ref-to", "ref_to_message_id"},
	        {"--original-sender", "original_sender"},
	        {"--final-recipient", "final_recipient"},
	};
	json_t *meta = json_object();
	json_t *props = json_array();
	struct online_part *parts = calloc(a->n_pos + 1, sizeof(*parts));
	char *meta_text = NULL;
	json_t *doc = NULL;
	int rc = AS4CTL_OK;
	if (meta == NULL || props == NULL || parts == NULL) {
		fprintf(stderr, "%s: out of memory\n", o->prog);
		rc = AS4CTL_REFUSED;
		goto out;
	}
	for (size_t i = 0; i < AS4_ARRAY_LEN(keys); i++) {
		const char *v = opt(a, keys[i].opt);
		if (v != NULL) {
			json_object_set_new(meta, keys[i].key, json_string(v));
		}
	}
	if (opt(a, "--pmode") == NULL &&
	    (opt(a, "--service") == NULL || opt(a, "--action") == NULL)) {
		fprintf(stderr, "%s: give --pmode, or --service and --action\n", o->prog);
		rc = AS4CTL_USAGE;
		goto out;
	}
	/* --property repeats; --type applies to every file */
	const char *type = opt(a, "--type");
	size_t file = 0;
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->names[i], "--property") == 0) {
			const char *eq = strchr(a->values[i], '=');
			if (eq == NULL || eq == a->values[i]) {
				fprintf(stderr, "%s: --property needs NAME=VALUE\n", o->prog);
				rc = AS4CTL_USAGE;
				goto out;
			}
			json_array_append_new(props, json_pack("{s:s%, s:s}", "name", a->values[i],
			                                       (size_t)(eq - a->values[i]), "value",
			                                       eq + 1));
		}
	}
	for (size_t i = 0; i < a->n_pos; i++) {
		const char *f = a->pos[i];
		if (access(f, R_OK) != 0) {
			fprintf(stderr, "%s: cannot read %s\n", o->prog, f);
			rc = AS4CTL_USAGE;
			goto out;
		}
		parts[file + 1].name = "payload";
		parts[file + 1].filename = f;
		parts[file + 1].content_type = type != NULL ? type : guess_type(f);
		file++;
	}
	if (json_array_size(props) > 0) {
		json_object_set(meta, "properties", props);
	}
	meta_text = json_dumps(meta, JSON_COMPACT);
	if (meta_text == NULL) {
		rc = AS4CTL_REFUSED;
		goto out;
	}
	parts[0].name = "metadata";
	parts[0].data = meta_text;
	parts[0].content_type = "application/json";
	struct online_req rq = {"POST", "/api/v1/messages", NULL, NULL, 0, parts, file + 1};
	rc = online_call(o, &rq, &doc, NULL, NULL);
	if (rc != AS4CTL_OK) {
		goto out;
	}
	const char *msgid = str(doc, "message_id");
	if (opt(a, "--wait") != NULL) {
		uint64_t t = 300;
		const char *wt = opt(a, "--wait-timeout");
		if (wt != NULL && (as4_parse_u64(wt, 86400, &t) != AS4_OK || t == 0)) {
			fprintf(stderr, "%s: --wait-timeout needs seconds\n", o->prog);
			rc = AS4CTL_USAGE;
			goto out;
		}
		if (!o->json && !o->quiet) {
			printf("queued %s (PMode %s)\n", msgid, str(doc, "pmode"));
		}
		rc = wait_final(o, msgid, t);
	} else if (o->json) {
		online_print_json(doc);
	} else if (o->quiet) {
		printf("%s\n", msgid);
	} else {
		printf("queued %s (PMode %s)\n", msgid, str(doc, "pmode"));
	}
out:
	json_decref(doc);
	free(meta_text);
	free(parts);
	json_decref(props);
	json_decref(meta);
	return rc;
}

int as4ctl_cmd_send(int argc, char **argv)
{
	static const char *const with_value[] = {"--pmode",
	                                         "--service",
	                                         "--action",
	                                         "--to",
	                                         "--message-id",
	                                         "--conversation-id",
	                                         "--ref-to",
	                                         "--original-sender",
	                                         "--final-recipient",
	                                         "--property",
	                                         "--type",
	                                         "--wait-timeout",
	                                         NULL};
	static const char *const flags[] = {"--wait", NULL};
	return run(argc, argv, "as4ctl send", with_value, flags, send_usage, 1, MAX_ARGS,
	           send_body);
}

/* ---- ping ----------------------------------------------------------------------------------- */

static const char ping_usage[] =
        "as4ctl ping PARTICIPANT|PARTY [--pmode ID] [--final-recipient ID]\n"
        "                              [--original-sender ID]\n"
        "  sends the ebMS test service to the access point serving PARTICIPANT (0088:<GLN> or\n"
        "  a bare GLN: found through medcom.routes, else by discovery) or to PARTY (a party\n"
        "  name of as4d.yaml) and waits for the answer: exit 0 when a valid Receipt came back,\n"
        "  1 otherwise (the reason is printed).\n"
        "  --final-recipient is needed when a PARTY's PMode finds the receiver by SMP lookup.\n";

static int ping_body(struct online *o, const struct args *a)
{
	json_t *req = json_pack("{s:s}", "party", a->pos[0]);
	const char *keys[][2] = {{"--pmode", "pmode"},
	                         {"--final-recipient", "final_recipient"},
	                         {"--original-sender", "original_sender"}};
	for (size_t i = 0; req != NULL && i < AS4_ARRAY_LEN(keys); i++) {
		const char *v = opt(a, keys[i][0]);
		if (v != NULL) {
			json_object_set_new(req, keys[i][1], json_string(v));
		}
	}
	char *text = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (text == NULL) {
		return AS4CTL_REFUSED;
	}
	json_t *doc = NULL;
	struct online_req rq = {
	        "POST", "/api/v1/test", "application/json", text, strlen(text), NULL, 0};
	int rc = online_call(o, &rq, &doc, NULL, NULL);
	free(text);
	if (rc != AS4CTL_OK) {
		json_decref(doc);
		return rc;
	}
	bool ok = json_is_true(json_object_get(doc, "ok"));
	if (o->json) {
		online_print_json(doc);
	} else if (ok) {
		const json_t *r = json_object_get(doc, "receipt");
		printf("receipt from %s (%s) in %.1f ms: %s\n", str(doc, "party"),
		       str(doc, "endpoint"), json_number_value(json_object_get(doc, "elapsed_ms")),
		       str(r, "message_id"));
	} else {
		const json_t *e = json_object_get(doc, "error");
		const char *code = str(e, "code");
		printf("no receipt from %s (%s): %s%s%s\n", str(doc, "party"), str(doc, "endpoint"),
		       code, code[0] ? " " : "", str(e, "message"));
	}
	json_decref(doc);
	return ok ? AS4CTL_OK : AS4CTL_REFUSED;
}

int as4ctl_cmd_ping(int argc, char **argv)
{
	static const char *const with_value[] = {"--pmode", "--final-recipient",
	                                         "--original-sender", NULL};
	static const char *const flags[] = {NULL};
	return run(argc, argv, "as4ctl ping", with_value, flags, ping_usage, 1, 1, ping_body);
}

/* ---- messages ------------------------------------------------------------------------------- */

static const char messages_usage[] =
        "as4ctl messages [--direction in|out] [--state STATE] [--since TIME] [--until TIME]\n"
        "                [--party ID] [--from-party ID] [--to-party ID] [--original-sender ID]\n"
        "                [--final-recipient ID] [--service S] [--action A] [--conversation-id ID]\n"
        "                [--message-id ID] [--ebms-error EBMS:nnnn] [--gln GLN]\n"
        "                [--sbdh-instance-id ID] [--medcom-message-id ID]\n"
        "                [--limit N] [--cursor C] [--all]\n"
        "  newest first, a table (or --json: the API's pages); --all follows next_cursor.\n";

static const char *const filter_opts[][2] = {
        {"--direction", "direction"},
        {"--state", "state"},
        {"--since", "since"},
        {"--until", "until"},
        {"--party", "party"},
        {"--from-party", "from_party"},
        {"--to-party", "to_party"},
        {"--original-sender", "original_sender"},
        {"--final-recipient", "final_recipient"},
        {"--service", "service"},
        {"--action", "action"},
        {"--conversation-id", "conversation_id"},
        {"--message-id", "message_id"},
        {"--ebms-error", "ebms_error"},
        {"--gln", "gln"},
        {"--sbdh-instance-id", "sbdh_instance_id"},
        {"--medcom-message-id", "medcom_message_id"},
        {"--limit", "limit"},
};

static void table_row(const json_t *m)
{
	char t[20];
	short_time(str(m, "created"), t);
	const char *dir = str(m, "direction");
	const json_t *peer = json_object_get(m, strcmp(dir, "out") == 0 ? "to" : "from");
	const json_t *e = json_object_get(m, "last_error");
	printf("%-19s %-3s %-20s %-44s %-24s %-16s %s\n", t, dir, str(m, "state"),
	       str(m, "message_id"), str(m, "pmode"), str(peer, "value"), str(e, "code"));
}

static int messages_body(struct online *o, const struct args *a)
{
	char base[8192] = "/api/v1/messages?";
	for (size_t i = 0; i < AS4_ARRAY_LEN(filter_opts); i++) {
		const char *v = opt(a, filter_opts[i][0]);
		if (v == NULL) {
			continue;
		}
		char esc[2200], kv[2400];
		online_escape(v, esc, sizeof(esc));
		snprintf(kv, sizeof(kv), "%s=%s&", filter_opts[i][1], esc);
		if (as4_str_cat(base, sizeof(base), kv) != AS4_OK) {
			fprintf(stderr, "%s: filters too long\n", o->prog);
			return AS4CTL_USAGE;
		}
	}
	bool all = opt(a, "--all") != NULL;
	const char *first = opt(a, "--cursor");
	char cursor[128] = "";
	if (first != NULL && as4_str_copy(cursor, sizeof(cursor), first) != AS4_OK) {
		fprintf(stderr, "%s: malformed --cursor\n", o->prog);
		return AS4CTL_USAGE;
	}
	size_t total = 0;
	for (bool first_page = true;; first_page = false) {
		char path[8400];
		char esc[200];
		online_escape(cursor, esc, sizeof(esc));
		snprintf(path, sizeof(path), "%scursor=%s", base, esc);
		json_t *doc = NULL;
		int rc = online_call(o, &(struct online_req){"GET", path, NULL, NULL, 0, NULL, 0},
		                     &doc, NULL, NULL);
		if (rc != AS4CTL_OK) {
			return rc;
		}
		const json_t *list = json_object_get(doc, "messages");
		if (first_page && !o->json) {
			printf("%-19s %-3s %-20s %-44s %-24s %-16s %s\n", "CREATED", "DIR", "STATE",
			       "MESSAGE_ID", "PMODE", "PEER", "ERROR");
		}
		if (o->json) {
			online_print_json(doc);
		} else {
			size_t i;
			const json_t *m;
			json_array_foreach(list, i, m)
			{
				table_row(m);
			}
		}
		total += json_array_size(list);
		const char *next = str(doc, "next_cursor");
		bool more = next[0] != '\0';
		if (as4_str_copy(cursor, sizeof(cursor), next) != AS4_OK) {
			more = false;
		}
		json_decref(doc);
		if (!more || !all) {
			if (!o->json) {
				printf("%zu message%s%s\n", total, total == 1 ? "" : "s",
				       more ? "; more with --all or --cursor " : "");
				if (more) {
					printf("%s\n", cursor);
				}
			}
			return AS4CTL_OK;
		}
	}
}

int as4ctl_cmd_messages(int argc, char **argv)
{
	static const char *const with_value[] = {"--direction",
	                                         "--state",
	                                         "--since",
	                                         "--until",
	                                         "--party",
	                                         "--from-party",
	                                         "--to-party",
	                                         "--original-sender",
	                                         "--final-recipient",
	                                         "--service",
	                                         "--action",
	                                         "--conversation-id",
	                                         "--message-id",
	                                         "--ebms-error",
	                                         "--gln",
	                                         "--sbdh-instance-id",
	                                         "--medcom-message-id",
	                                         "--limit",
	                                         "--cursor",
	                                         NULL};
	static const char *const flags[] = {"--all", NULL};
	return run(argc, argv, "as4ctl messages", with_value, flags, messages_usage, 0, 0,
	           messages_body);
}

/* ---- show / retry ------------------------------------------------------------------------- */

static const char show_usage[] = "as4ctl show MESSAGE_ID [--direction in|out]\n"
                                 "  one message: state, parties, payloads, receipt, errors and "
                                 "its event history.\n";

static void show_text(const json_t *m)
{
	printf("message       %s (%s, id %lld)\n", str(m, "message_id"), str(m, "direction"),
	       (long long)json_integer_value(json_object_get(m, "id")));
	printf("state         %s (attempts %lld)\n", str(m, "state"),
	       (long long)json_integer_value(json_object_get(m, "attempts")));
	printf("pmode         %s\n", str(m, "pmode"));
	const json_t *f = json_object_get(m, "from");
	const json_t *t = json_object_get(m, "to");
	printf("from          %s %s\n", str(f, "value"), str(f, "type"));
	printf("to            %s %s\n", str(t, "value"), str(t, "type"));
	printf("service       %s\n", str(json_object_get(m, "service"), "value"));
	printf("action        %s\n", str(m, "action"));
	printf("conversation  %s\n", str(m, "conversation_id"));
	if (json_is_string(json_object_get(m, "original_sender"))) {
		printf("orig. sender  %s\n", str(m, "original_sender"));
	}
	if (json_is_string(json_object_get(m, "final_recipient"))) {
		printf("final recip.  %s\n", str(m, "final_recipient"));
	}
	printf("created       %s\n", str(m, "created"));
	printf("updated       %s\n", str(m, "updated"));
	if (json_is_string(json_object_get(m, "endpoint"))) {
		printf("endpoint      %s\n", str(m, "endpoint"));
	}
	size_t i;
	const json_t *p;
	json_array_foreach(json_object_get(m, "payloads"), i, p)
	{
		printf("payload %-5zu %s, %lld bytes, sha256 %s%s\n", i, str(p, "mime_type"),
		       (long long)json_integer_value(json_object_get(p, "size")), str(p, "sha256"),
		       json_is_true(json_object_get(p, "available")) ? "" : " (deleted)");
	}
	const json_t *ri = json_object_get(m, "receipt_info");
	if (json_is_object(ri)) {
		printf("receipt       %s at %s%s\n", str(ri, "message_id"), str(ri, "timestamp"),
		       json_is_true(json_object_get(ri, "signed")) ? ", signed" : "");
	} else {
		printf("receipt       none\n");
	}
	const json_t *e;
	json_array_foreach(json_object_get(m, "errors"), i, e)
	{
		printf("error         %s %s %s: %s\n", str(e, "time"), str(e, "code"),
		       str(e, "short_description"), str(e, "detail"));
	}
	printf("events:\n");
	json_array_foreach(json_object_get(m, "events"), i, e)
	{
		printf("  %s  %s -> %s  %s%s%s\n", str(e, "time"), str(e, "from"), str(e, "to"),
		       str(e, "reason"),
		       json_is_string(json_object_get(e, "ebms_code")) ? "  " : "",
		       str(e, "ebms_code"));
	}
}

static int message_path(struct online *o, const struct args *a, const char *suffix, char *path,
                        size_t cap)
{
	char esc[1200];
	online_escape(a->pos[0], esc, sizeof(esc));
	const char *dir = opt(a, "--direction");
	if (dir != NULL && strcmp(dir, "in") != 0 && strcmp(dir, "out") != 0) {
		fprintf(stderr, "%s: --direction is in or out\n", o->prog);
		return AS4CTL_USAGE;
	}
	snprintf(path, cap, "/api/v1/messages/%s%s%s%s", esc, suffix, dir ? "?direction=" : "",
	         dir ? dir : "");
	return AS4CTL_OK;
}

static int show_body(struct online *o, const struct args *a)
{
	char path[1400];
	int rc = message_path(o, a, "", path, sizeof(path));
	json_t *doc = NULL;
	if (rc == AS4CTL_OK) {
		rc = online_call(o, &(struct online_req){"GET", path, NULL, NULL, 0, NULL, 0}, &doc,
		                 NULL, NULL);
	}
	if (rc == AS4CTL_OK) {
		if (o->json) {
			online_print_json(doc);
		} else {
			show_text(doc);
		}
	}
	json_decref(doc);
	return rc;
}

int as4ctl_cmd_show(int argc, char **argv)
{
	static const char *const with_value[] = {"--direction", NULL};
	static const char *const flags[] = {NULL};
	return run(argc, argv, "as4ctl show", with_value, flags, show_usage, 1, 1, show_body);
}

static const char retry_usage[] = "as4ctl retry MESSAGE_ID\n"
                                  "  puts a failed outbound message back in the send queue.\n";

static int retry_body(struct online *o, const struct args *a)
{
	char path[1400];
	int rc = message_path(o, a, "/retry", path, sizeof(path));
	json_t *doc = NULL;
	if (rc == AS4CTL_OK) {
		rc = online_call(o, &(struct online_req){"POST", path, NULL, NULL, 0, NULL, 0},
		                 &doc, NULL, NULL);
	}
	if (rc == AS4CTL_OK) {
		if (o->json) {
			online_print_json(doc);
		} else {
			printf("%s %s\n", a->pos[0], doc != NULL ? str(doc, "state") : "queued");
		}
	}
	json_decref(doc);
	return rc;
}

int as4ctl_cmd_retry(int argc, char **argv)
{
	static const char *const with_value[] = {NULL};
	static const char *const flags[] = {NULL};
	return run(argc, argv, "as4ctl retry", with_value, flags, retry_usage, 1, 1, retry_body);
}

/* ---- status ------------------------------------------------------------------------------- */

static const char status_usage[] = "as4ctl status\n"
                                   "  version, uptime, queue depths, the oldest waiting message "
                                   "and certificate warnings.\n";

static int status_body(struct online *o, const struct args *a)
{
	(void)a;
	json_t *doc = NULL;
	int rc = online_call(o,
	                     &(struct online_req){"GET", "/api/v1/status", NULL, NULL, 0, NULL, 0},
	                     &doc, NULL, NULL);
	if (rc != AS4CTL_OK) {
		return rc;
	}
	if (o->json) {
		online_print_json(doc);
		json_decref(doc);
		return rc;
	}
	printf("as4d %s, node %s (party %s), up %lld s, log level %s\n", str(doc, "version"),
	       str(doc, "node"), str(doc, "party"),
	       (long long)json_integer_value(json_object_get(doc, "uptime_s")),
	       str(doc, "log_level"));
	const json_t *cfg = json_object_get(doc, "config");
	printf("config   %s: %lld PModes, %lld parties\n", str(cfg, "path"),
	       (long long)json_integer_value(json_object_get(cfg, "pmodes")),
	       (long long)json_integer_value(json_object_get(cfg, "parties")));
	printf("queues  ");
	const char *key;
	const json_t *v;
	json_object_foreach(json_object_get(doc, "queues"), key, v)
	{
		printf(" %s=%lld", key, (long long)json_integer_value(v));
	}
	printf("\n");
	const json_t *age = json_object_get(doc, "oldest_queued_age_s");
	if (json_is_integer(age)) {
		printf("oldest waiting message: %lld s\n", (long long)json_integer_value(age));
	}
	const json_t *st = json_object_get(doc, "store");
	printf("store    %lld messages, %lld spool bytes, map %.1f%% used\n",
	       (long long)json_integer_value(json_object_get(st, "messages")),
	       (long long)json_integer_value(json_object_get(st, "spool_bytes")),
	       100.0 * json_number_value(json_object_get(st, "map_used_ratio")));
	size_t i;
	json_array_foreach(json_object_get(json_object_get(doc, "certificates"), "warnings"), i, v)
	{
		printf("warning: %s\n", json_string_value(v));
	}
	json_decref(doc);
	return rc;
}

int as4ctl_cmd_status(int argc, char **argv)
{
	static const char *const with_value[] = {NULL};
	static const char *const flags[] = {NULL};
	return run(argc, argv, "as4ctl status", with_value, flags, status_usage, 0, 0, status_body);
}

/* ---- pmode (online) ----------------------------------------------------------------------- */

static const char pmode_usage[] =
        "as4ctl pmode list | get ID | apply FILE... | delete ID [--force] |\n"
        "             validate --online FILE...\n"
        "  through the API of the running as4d: apply creates or replaces the PMode of each\n"
        "  FILE (YAML, or JSON when named *.json; the id is pmode.id or the file name) and\n"
        "  as4d reloads; validate --online checks FILEs against the running configuration.\n";

/* The id a file gives its PMode by default: its name without folder and extension. */
static void file_id(const char *path, char *out, size_t cap)
{
	const char *base = strrchr(path, '/');
	snprintf(out, cap, "%s", base != NULL ? base + 1 : path);
	char *dot = strrchr(out, '.');
	if (dot != NULL && dot != out) {
		*dot = '\0';
	}
}

/* POST /pmodes/validate for one file; *id (capacity 160) gets the PMode id. */
static int validate_file(struct online *o, const char *file, char *id, json_t **doc)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	as4_err err = as4_file_read(file, 1024 * 1024, &buf, &len);
	if (err != AS4_OK) {
		fprintf(stderr, "%s: cannot read %s: %s\n", o->prog, file, as4_strerror(err));
		return AS4CTL_USAGE;
	}
	char fid[160], esc[400], path[600];
	file_id(file, fid, sizeof(fid));
	online_escape(fid, esc, sizeof(esc));
	snprintf(path, sizeof(path), "/api/v1/pmodes/validate?id=%s", esc);
	bool json = as4_str_ends(file, ".json");
	struct online_req rq = {"POST",
	                        path,
	                        json ? "application/json" : "application/yaml",
	                        (const char *)buf,
	                        len,
	                        NULL,
	                        0};
	int rc = online_call(o, &rq, doc, NULL, NULL);
	if (rc == AS4CTL_OK) {
		snprintf(id, 160, "%s", str(*doc, "id"));
	} else if (rc == AS4CTL_REFUSED) {
		fprintf(stderr, "%s: %s is not a valid PMode for the running configuration\n",
		        o->prog, file);
	}
	free(buf);
	return rc;
}

static int apply_file(struct online *o, const char *file)
{
	char id[160];
	json_t *doc = NULL;
	int rc = validate_file(o, file, id, &doc);
	json_decref(doc);
	doc = NULL;
	if (rc != AS4CTL_OK) {
		return rc;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	if (as4_file_read(file, 1024 * 1024, &buf, &len) != AS4_OK) {
		fprintf(stderr, "%s: cannot read %s\n", o->prog, file);
		return AS4CTL_USAGE;
	}
	char esc[400], path[600];
	online_escape(id, esc, sizeof(esc));
	snprintf(path, sizeof(path), "/api/v1/pmodes/%s", esc);
	bool json = as4_str_ends(file, ".json");
	/* the document may lack pmode.id: the URL gives it, as the file name does for the loader */
	struct online_req rq = {
	        "PUT", path, json ? "application/json" : "application/yaml", (const char *)buf, len,
	        NULL,  0};
	long status = 0;
	rc = online_call(o, &rq, &doc, NULL, &status);
	if (rc == AS4CTL_OK) {
		if (o->json) {
			online_print_json(doc);
		} else {
			printf("%s: PMode '%s' %s (%s)\n", file, id,
			       status == 201 ? "created" : "replaced", str(doc, "source"));
		}
	}
	json_decref(doc);
	free(buf);
	return rc;
}

static int pmode_body(struct online *o, const struct args *a)
{
	const char *sub = a->pos[0];
	json_t *doc = NULL;
	int rc = AS4CTL_OK;
	if (strcmp(sub, "list") == 0 && a->n_pos == 1) {
		rc = online_call(
		        o, &(struct online_req){"GET", "/api/v1/pmodes", NULL, NULL, 0, NULL, 0},
		        &doc, NULL, NULL);
		if (rc == AS4CTL_OK && o->json) {
			online_print_json(doc);
		} else if (rc == AS4CTL_OK) {
			size_t i;
			const json_t *p;
			printf("%-32s %-12s %-12s %s\n", "ID", "FROM", "TO", "ACTION");
			json_array_foreach(json_object_get(doc, "pmodes"), i, p)
			{
				printf("%-32s %-12s %-12s %s\n", str(p, "id"), str(p, "initiator"),
				       str(p, "responder"), str(p, "action"));
			}
		}
	} else if ((strcmp(sub, "get") == 0 || strcmp(sub, "delete") == 0) && a->n_pos == 2) {
		char esc[400], path[600];
		online_escape(a->pos[1], esc, sizeof(esc));
		bool del = strcmp(sub, "delete") == 0;
		snprintf(path, sizeof(path), "/api/v1/pmodes/%s%s", esc,
		         del && opt(a, "--force") != NULL ? "?force=true" : "");
		rc = online_call(
		        o,
		        &(struct online_req){del ? "DELETE" : "GET", path, NULL, NULL, 0, NULL, 0},
		        &doc, NULL, NULL);
		if (rc == AS4CTL_OK && (o->json || !del)) {
			online_print_json(del ? doc : json_object_get(doc, "document"));
		} else if (rc == AS4CTL_OK) {
			printf("PMode '%s' deleted (%s)\n", a->pos[1], str(doc, "source"));
		}
	} else if (strcmp(sub, "apply") == 0 && a->n_pos >= 2) {
		for (size_t i = 1; i < a->n_pos && rc == AS4CTL_OK; i++) {
			rc = apply_file(o, a->pos[i]);
		}
	} else if (strcmp(sub, "validate") == 0 && a->n_pos >= 2) {
		for (size_t i = 1; i < a->n_pos; i++) {
			char id[160];
			json_t *v = NULL;
			int r1 = validate_file(o, a->pos[i], id, &v);
			if (r1 == AS4CTL_OK && !o->json) {
				printf("%s: PMode '%s' valid (would %s)\n", a->pos[i], id,
				       str(v, "would"));
			} else if (r1 == AS4CTL_OK) {
				online_print_json(v);
			}
			json_decref(v);
			if (r1 != AS4CTL_OK && rc != AS4CTL_UNAVAILABLE) {
				rc = r1;
			}
		}
	} else {
		rc = usage(o->prog, pmode_usage);
	}
	json_decref(doc);
	return rc;
}

int as4ctl_pmode_online(int argc, char **argv)
{
	static const char *const with_value[] = {NULL};
	static const char *const flags[] = {"--force", "--online", NULL};
	/* argv[0] is "pmode": the subcommand is the first positional */
	return run(argc, argv, "as4ctl pmode", with_value, flags, pmode_usage, 1, MAX_ARGS,
	           pmode_body);
}

/* ---- certs list ----------------------------------------------------------------------------- */

static const char certs_usage[] = "as4ctl certs list\n"
                                  "  every certificate the running as4d uses, with days to "
                                  "expiry.\n";

static void cert_row(const char *group, const json_t *c, const char *name)
{
	printf("%-16s %-22s %5lld  %-10.10s  %s%s\n", group, name,
	       (long long)json_integer_value(json_object_get(c, "days_to_expiry")),
	       str(c, "not_after"), str(c, "subject"),
	       strcmp(str(c, "source"), "managed") == 0 ? " [managed]" : "");
}

static int certs_body(struct online *o, const struct args *a)
{
	if (strcmp(a->pos[0], "list") != 0) {
		return usage(o->prog, certs_usage);
	}
	json_t *doc = NULL;
	int rc = online_call(
	        o, &(struct online_req){"GET", "/api/v1/certificates", NULL, NULL, 0, NULL, 0},
	        &doc, NULL, NULL);
	if (rc == AS4CTL_OK && o->json) {
		online_print_json(doc);
	} else if (rc == AS4CTL_OK) {
		printf("%-16s %-22s %5s  %-10s  %s\n", "GROUP", "USE", "DAYS", "NOT AFTER",
		       "SUBJECT");
		size_t i;
		const json_t *c;
		json_array_foreach(json_object_get(doc, "keystore"), i, c)
		{
			cert_row("keystore", c, str(c, "use"));
		}
		const char *key;
		const json_t *list;
		json_object_foreach(json_object_get(doc, "truststores"), key, list)
		{
			char g[32];
			snprintf(g, sizeof(g), "trust.%s", key);
			json_array_foreach(list, i, c)
			{
				char fp[20];
				snprintf(fp, sizeof(fp), "%.16s", str(c, "sha256"));
				cert_row(g, c, fp);
			}
		}
		json_array_foreach(json_object_get(doc, "tls"), i, c)
		{
			cert_row("tls", c, str(c, "use"));
		}
		json_array_foreach(json_object_get(doc, "parties"), i, c)
		{
			cert_row("party", c, str(c, "party"));
		}
		json_array_foreach(json_object_get(doc, "warnings"), i, c)
		{
			printf("warning: %s\n", json_string_value(c));
		}
	}
	json_decref(doc);
	return rc;
}

int as4ctl_certs_list(int argc, char **argv)
{
	static const char *const with_value[] = {NULL};
	static const char *const flags[] = {NULL};
	return run(argc, argv, "as4ctl certs", with_value, flags, certs_usage, 1, 1, certs_body);
}
