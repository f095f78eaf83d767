/* SPDX-License-Identifier: Apache-2.0 */
/*
 * as4ctl sbdh wrap|inspect: make an ehmiSBDH envelope around a FHIR message, and explain one.
 *
 *   sbdh wrap --sender GLN --receiver GLN --document ID --process ID [--sender-sor SOR]
 *             [--receiver-sor SOR] [--patient CPR] [--instance-id ID] [--message-id ID]
 *             [--standard NAME] [--type-version V] [--mime-type TYPE] [--created TIME]
 *             [--ack-request] [--config FILE] [--out FILE] FILE.xml|FILE.json
 *   sbdh inspect FILE [--json] [--config FILE] [--content-out FILE]
 *
 * --config reads the `medcom` section of an as4d.yaml (accepted schemes and media types, size
 * limit, routing convention); without it the MEDCOM.md defaults apply. With --config, inspect
 * also runs the checks POST /api/v1/messages makes for that configuration
 * (as4_medcom_check_profile: DOCUMENTID and PROCESSID configured, the document's size limit,
 * a Sender we serve), so that exit 0 means the API would take the envelope. Exit status: 0
 * valid for sending, 1 refused, 2 usage error (and unreadable files).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "as4/blob.h"
#include "as4/config.h"
#include "as4/medcom.h"
#include "as4/sbdh.h"
#include "as4/str.h"
#include "cli.h"

/* Largest file either subcommand reads (a 100 MB FHIR message is 133 MB of base64). */
#define MAX_FILE (200u * 1024 * 1024)

static const char usage_text[] =
        "usage: as4ctl sbdh wrap --sender GLN --receiver GLN --document ID --process ID\n"
        "                  [--sender-sor SOR] [--receiver-sor SOR] [--patient CPR]\n"
        "                  [--instance-id ID] [--message-id ID] [--standard NAME]\n"
        "                  [--type-version V] [--mime-type TYPE] [--created TIME]\n"
        "                  [--ack-request] [--config FILE] [--out FILE] FILE.xml|FILE.json\n"
        "       as4ctl sbdh inspect FILE [--json] [--config FILE] [--content-out FILE]\n"
        "GLNs may be given bare (5790000121526) or as 0088:5790000121526.\n"
        "Exit status: 0 valid for sending, 1 refused, 2 usage error.\n";

/* The profile rules and network convention, from --config or the defaults. */
struct profile {
	struct as4_config *cfg;
	struct as4_sbdh_rules rules;
	struct as4_sbdh_network net;
};

static int load_profile(const char *config, struct profile *p)
{
	memset(p, 0, sizeof(*p));
	if (config == NULL) {
		return AS4CTL_OK;
	}
	struct as4_config_options o = {0};
	o.skip_pmodes = true;
	o.no_file_checks = true;
	struct as4_conf_errors errs;
	as4_conf_errors_init(&errs, 0);
	as4_err err = as4_config_load(config, &o, &p->cfg, &errs);
	for (size_t i = 0; i < errs.n; i++) {
		fprintf(stderr, "%s%s\n", errs.v[i].warning ? "warning: " : "", errs.v[i].text);
	}
	as4_conf_errors_cleanup(&errs);
	if (err != AS4_OK) {
		fprintf(stderr, "as4ctl sbdh: %s: the configuration is not usable\n", config);
		return AS4CTL_USAGE;
	}
	as4_config_sbdh_rules(p->cfg, &p->rules, &p->net);
	return AS4CTL_OK;
}

static int read_input(const char *path, uint8_t **buf, size_t *len)
{
	as4_err err = as4_file_read(path, MAX_FILE, buf, len);
	if (err != AS4_OK) {
		fprintf(stderr, "as4ctl sbdh: cannot read '%s': %s\n", path,
		        err == AS4_E_LIMIT ? "larger than 200 MiB" : as4_strerror(err));
		return AS4CTL_USAGE;
	}
	return AS4CTL_OK;
}

static int write_output(const char *path, const void *p, size_t n)
{
	if (path == NULL || strcmp(path, "-") == 0) {
		if (fwrite(p, 1, n, stdout) != n || fflush(stdout) != 0) {
			fputs("as4ctl sbdh: cannot write to standard output\n", stderr);
			return AS4CTL_REFUSED;
		}
		return AS4CTL_OK;
	}
	as4_err err = as4_file_write_atomic(path, p, n, 0644);
	if (err != AS4_OK) {
		fprintf(stderr, "as4ctl sbdh: cannot write '%s': %s\n", path, as4_strerror(err));
		return AS4CTL_REFUSED;
	}
	return AS4CTL_OK;
}

/* ---- wrap ------------------------------------------------------------------------------- */

static int cmd_wrap(int argc, char **argv)
{
	struct as4_sbdh_wrap w = {0};
	const char *file = NULL;
	const char *out = NULL;
	const char *config = NULL;
	struct {
		const char *name;
		const char **dst;
	} opts[] = {
	        {"--sender", &w.sender},
	        {"--receiver", &w.receiver},
	        {"--document", &w.document_id},
	        {"--process", &w.process_id},
	        {"--sender-sor", &w.sender_sor},
	        {"--receiver-sor", &w.receiver_sor},
	        {"--patient", &w.patient},
	        {"--instance-id", &w.instance_id},
	        {"--message-id", &w.message_id},
	        {"--standard", &w.standard},
	        {"--type-version", &w.type_version},
	        {"--mime-type", &w.mime_type},
	        {"--created", &w.created},
	        {"--config", &config},
	        {"--out", &out},
	};
	for (int i = 1; i < argc; i++) {
		bool known = false;
		for (size_t k = 0; k < AS4_ARRAY_LEN(opts) && !known; k++) {
			if (strcmp(argv[i], opts[k].name) == 0) {
				if (i + 1 >= argc) {
					fprintf(stderr, "as4ctl sbdh wrap: %s needs a value\n",
					        argv[i]);
					return AS4CTL_USAGE;
				}
				*opts[k].dst = argv[++i];
				known = true;
			}
		}
		if (known) {
			continue;
		}
		if (strcmp(argv[i], "--ack-request") == 0) {
			w.ack_request = true;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "as4ctl sbdh wrap: unknown option '%s'\n%s", argv[i],
			        usage_text);
			return AS4CTL_USAGE;
		} else if (file == NULL) {
			file = argv[i];
		} else {
			fprintf(stderr, "as4ctl sbdh wrap: one FILE only\n%s", usage_text);
			return AS4CTL_USAGE;
		}
	}
	if (file == NULL || w.sender == NULL || w.receiver == NULL || w.document_id == NULL ||
	    w.process_id == NULL) {
		fprintf(stderr,
		        "as4ctl sbdh wrap: FILE, --sender, --receiver, --document and --process "
		        "are required\n%s",
		        usage_text);
		return AS4CTL_USAGE;
	}
	struct profile prof;
	int rc = load_profile(config, &prof);
	if (rc != AS4CTL_OK) {
		return rc;
	}
	w.rules = &prof.rules;
	uint8_t *buf = NULL;
	size_t len = 0;
	struct as4_buf env;
	as4_buf_init(&env, MAX_FILE);
	rc = read_input(file, &buf, &len);
	if (rc == AS4CTL_OK) {
		struct as4_diag d;
		as4_diag_init(&d);
		as4_err err = as4_sbdh_wrap(&w, buf, len, &env, &d);
		if (err != AS4_OK) {
			fprintf(stderr, "as4ctl sbdh wrap: %s\n", as4_diag_text(&d));
			rc = err == AS4_E_INVAL && d.field[0] != '\0' &&
			                     strcmp(d.field, "file") != 0
			             ? AS4CTL_USAGE
			             : AS4CTL_REFUSED;
		} else {
			rc = write_output(out, env.data, env.len);
		}
	}
	free(buf);
	as4_buf_cleanup(&env);
	as4_config_free(prof.cfg);
	return rc;
}

/* ---- inspect ------------------------------------------------------------------------------ */

static json_t *jstr(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/*
 * The outcome of the configuration's profile checks (as4_medcom_check_profile), shown with the
 * envelope's own problems; err AS4_OK when they passed or did not run.
 */
struct profile_check {
	as4_err err;
	struct as4_diag diag;
};

static json_t *inspect_json(const struct as4_sbdh *sb, const struct as4_sbdh_route *rt, bool valid,
                            const struct profile_check *pc)
{
	json_t *scopes = json_array();
	for (size_t i = 0; i < sb->n_scopes; i++) {
		const struct as4_sbdh_scope *s = &sb->scopes[i];
		json_t *o = json_pack("{s:o, s:o, s:o}", "type", jstr(s->type), "instance_id",
		                      jstr(s->instance_id), "identifier", jstr(s->identifier));
		if (o != NULL && s->type != NULL && strcmp(s->type, "PATIENTID") == 0) {
			json_object_set_new(o, "instance_id", json_string("(CPR, not shown)"));
		}
		json_array_append_new(scopes, o);
	}
	json_t *problems = json_array();
	for (size_t i = 0; i < sb->n_problems; i++) {
		const struct as4_sbdh_problem *p = &sb->problems[i];
		json_array_append_new(problems, json_pack("{s:s, s:s, s:s, s:s}", "severity",
		                                          p->warning ? "warning" : "error", "code",
		                                          as4_err_ebms_code(p->err), "field",
		                                          p->field, "message", p->text));
	}
	if (pc->err != AS4_OK) {
		json_array_append_new(problems,
		                      json_pack("{s:s, s:s, s:s, s:s}", "severity", "error", "code",
		                                as4_err_ebms_code(pc->err), "field", pc->diag.field,
		                                "message", as4_diag_text(&pc->diag)));
	}
	json_t *v = json_pack("{s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	                      "valid", valid, "sender", jstr(sb->sender), "receiver",
	                      jstr(sb->receiver), "sender_sor", jstr(sb->sender_sor),
	                      "receiver_sor", jstr(sb->receiver_sor), "document_id",
	                      jstr(sb->document_id), "process_id", jstr(sb->process_id),
	                      "instance_id", jstr(sb->instance_id), "standard", jstr(sb->standard),
	                      "type_version", jstr(sb->type_version), "created", jstr(sb->created),
	                      "medcom_message_id", jstr(sb->medcom_message_id));
	if (v == NULL) {
		json_decref(scopes);
		json_decref(problems);
		return NULL;
	}
	json_object_set_new(v, "message_identifier", jstr(sb->message_identifier));
	json_object_set_new(v, "patient_present", json_boolean(sb->has_patient));
	json_object_set_new(v, "ack_requested", json_boolean(sb->ack_requested));
	json_object_set_new(v, "payload",
	                    json_pack("{s:o, s:o, s:I, s:o, s:o, s:o}", "mime_type",
	                              jstr(sb->mime_type), "encoding", jstr(sb->encoding), "size",
	                              (json_int_t)(sb->content != NULL ? sb->content_len : 0),
	                              "resource_type", jstr(sb->fhir.resource_type), "bundle_type",
	                              jstr(sb->fhir.bundle_type), "event",
	                              jstr(sb->fhir.event_code)));
	if (rt->action != NULL) {
		json_object_set_new(v, "routing",
		                    json_pack("{s:s, s:o, s:s}", "service", rt->service,
		                              "service_type", jstr(rt->service_type), "action",
		                              rt->action));
	} else {
		json_object_set_new(v, "routing", json_null());
	}
	json_object_set_new(v, "scopes", scopes);
	json_object_set_new(v, "problems", problems);
	return v;
}

static void line(const char *label, const char *value)
{
	printf("  %-10s %s\n", label, value != NULL ? value : "-");
}

static void inspect_text(const struct as4_sbdh *sb, const struct as4_sbdh_route *rt, bool valid,
                         const struct profile_check *pc)
{
	char tmp[512];
	size_t n_errors = sb->n_errors + (pc->err != AS4_OK ? 1 : 0);
	if (valid) {
		printf("ehmiSBDH envelope: valid for sending%s\n",
		       sb->n_problems > 0 ? " (with warnings)" : "");
	} else {
		printf("ehmiSBDH envelope: REFUSED (%zu error%s)\n", n_errors,
		       n_errors == 1 ? "" : "s");
	}
	snprintf(tmp, sizeof(tmp), "%s%s%s%s", sb->sender ? sb->sender : "-",
	         sb->sender_sor ? " (SOR " : "", sb->sender_sor ? sb->sender_sor : "",
	         sb->sender_sor ? ")" : "");
	line("sender", tmp);
	snprintf(tmp, sizeof(tmp), "%s%s%s%s", sb->receiver ? sb->receiver : "-",
	         sb->receiver_sor ? " (SOR " : "", sb->receiver_sor ? sb->receiver_sor : "",
	         sb->receiver_sor ? ")" : "");
	line("receiver", tmp);
	line("document", sb->document_id);
	line("process", sb->process_id);
	line("instance", sb->instance_id);
	snprintf(tmp, sizeof(tmp), "%s %s, type %s, created %s", sb->standard ? sb->standard : "-",
	         sb->type_version ? sb->type_version : "-", sb->type ? sb->type : "-",
	         sb->created ? sb->created : "-");
	line("standard", tmp);
	line("medcom id", sb->medcom_message_id);
	line("patient", sb->has_patient ? "PATIENTID present (CPR not shown)" : "none");
	line("receipt", sb->ack_requested ? "EHMI-ReceiptAcknowledgement requested" : "none");
	if (sb->content != NULL) {
		snprintf(tmp, sizeof(tmp), "%s, %zu bytes%s%s%s%s%s", sb->mime_type,
		         sb->content_len, sb->fhir.read ? ", FHIR " : "",
		         sb->fhir.read ? sb->fhir.resource_type : "",
		         sb->fhir.bundle_type ? " " : "",
		         sb->fhir.bundle_type ? sb->fhir.bundle_type : "",
		         sb->fhir.event_code ? "" : "");
		line("payload", tmp);
		if (sb->fhir.event_code != NULL) {
			line("event", sb->fhir.event_code);
		}
	} else {
		line("payload", sb->mime_type != NULL ? sb->mime_type : "-");
	}
	if (rt->action != NULL) {
		snprintf(tmp, sizeof(tmp), "%s%s%s", rt->service, rt->service_type ? " type " : "",
		         rt->service_type ? rt->service_type : "");
		line("service", tmp);
		line("action", rt->action);
	}
	tmp[0] = '\0';
	for (size_t i = 0; i < sb->n_scopes; i++) {
		if ((i > 0 && as4_str_cat(tmp, sizeof(tmp), ", ") != AS4_OK) ||
		    as4_str_cat(tmp, sizeof(tmp), sb->scopes[i].type ? sb->scopes[i].type : "?") !=
		            AS4_OK) {
			break;
		}
	}
	line("scopes", sb->n_scopes ? tmp : "none");
	if (sb->n_problems > 0 || pc->err != AS4_OK) {
		printf("problems:\n");
		for (size_t i = 0; i < sb->n_problems; i++) {
			const struct as4_sbdh_problem *p = &sb->problems[i];
			printf("  %-7s %s %s%s%s\n", p->warning ? "warning" : "error",
			       as4_err_ebms_code(p->err), p->field, p->field[0] ? ": " : "",
			       p->text);
		}
		if (pc->err != AS4_OK) {
			printf("  %-7s %s %s%s%s\n", "error", as4_err_ebms_code(pc->err),
			       pc->diag.field, pc->diag.field[0] ? ": " : "",
			       as4_diag_text(&pc->diag));
		}
	}
}

static int cmd_inspect(int argc, char **argv)
{
	const char *file = NULL;
	const char *config = NULL;
	const char *content_out = NULL;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config = argv[++i];
		} else if (strcmp(argv[i], "--content-out") == 0 && i + 1 < argc) {
			content_out = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "as4ctl sbdh inspect: unknown option '%s'\n%s", argv[i],
			        usage_text);
			return AS4CTL_USAGE;
		} else if (file == NULL) {
			file = argv[i];
		} else {
			fprintf(stderr, "as4ctl sbdh inspect: one FILE only\n%s", usage_text);
			return AS4CTL_USAGE;
		}
	}
	if (file == NULL) {
		fprintf(stderr, "as4ctl sbdh inspect: FILE is required\n%s", usage_text);
		return AS4CTL_USAGE;
	}
	struct profile prof;
	int rc = load_profile(config, &prof);
	if (rc != AS4CTL_OK) {
		return rc;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	struct as4_sbdh *sb = NULL;
	struct as4_sbdh_route route = {0};
	rc = read_input(file, &buf, &len);
	if (rc != AS4CTL_OK) {
		goto out;
	}
	struct as4_diag d;
	as4_diag_init(&d);
	as4_err err = as4_sbdh_parse(buf, len, &prof.rules, &sb, &d);
	if (err == AS4_E_NOMEM) {
		fputs("as4ctl sbdh inspect: out of memory\n", stderr);
		rc = AS4CTL_REFUSED;
		goto out;
	}
	if (sb->document_id != NULL && sb->process_id != NULL) {
		as4_diag_init(&d);
		if (as4_sbdh_route(&prof.net, sb->document_id, sb->process_id, &route, &d) !=
		    AS4_OK) {
			as4_sbdh_route_cleanup(&route);
		}
	}
	/* what the API checks on top of the envelope itself, for this configuration */
	struct profile_check pc = {AS4_OK, {0}};
	as4_diag_init(&pc.diag);
	if (err == AS4_OK && prof.cfg != NULL) {
		pc.err = as4_medcom_check_profile(prof.cfg, sb, true, &pc.diag);
	}
	bool valid = err == AS4_OK && pc.err == AS4_OK;
	if (json) {
		json_t *v = inspect_json(sb, &route, valid, &pc);
		char *text = v != NULL ? json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
		json_decref(v);
		if (text == NULL) {
			fputs("as4ctl sbdh inspect: out of memory\n", stderr);
			rc = AS4CTL_REFUSED;
			goto out;
		}
		printf("%s\n", text);
		free(text);
	} else {
		inspect_text(sb, &route, valid, &pc);
	}
	rc = valid ? AS4CTL_OK : AS4CTL_REFUSED;
	if (content_out != NULL) {
		if (sb->content == NULL) {
			fprintf(stderr, "as4ctl sbdh inspect: no content to write\n");
			rc = AS4CTL_REFUSED;
		} else if (write_output(content_out, sb->content, sb->content_len) != AS4CTL_OK) {
			rc = AS4CTL_REFUSED;
		}
	}
out:
	as4_sbdh_route_cleanup(&route);
	as4_sbdh_free(sb);
	free(buf);
	as4_config_free(prof.cfg);
	return rc;
}

int as4ctl_cmd_sbdh(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "wrap") == 0) {
		return cmd_wrap(argc - 1, argv + 1);
	}
	if (argc >= 2 && strcmp(argv[1], "inspect") == 0) {
		return cmd_inspect(argc - 1, argv + 1);
	}
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage_text, stdout);
		return AS4CTL_OK;
	}
	fputs(usage_text, stderr);
	return AS4CTL_USAGE;
}
