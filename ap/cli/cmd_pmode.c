/* SPDX-License-Identifier: Apache-2.0 */
/*
 * as4ctl pmode: PMode documents for administrators.
 *
 *   pmode validate [--config FILE] FILE...   offline: check PMode files (YAML, or JSON when the
 *                                            name ends in .json) exactly as as4d would, against
 *                                            the parties and networks of the configuration
 *   pmode list | get ID | apply FILE... | delete ID, validate --online FILE...
 *                                            online, through the internal API (cmd_online.c)
 *
 * validate prints every problem as "file:line: key: message" on standard error and one line
 * per valid file on standard output. The configuration is read for its keys and references
 * only (its key and certificate files are not opened, so an administrator who cannot read the
 * daemon's keys can still validate). Exit status: 0 all files valid, 1 a file (or the
 * configuration) is invalid, 2 usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as4/blob.h"
#include "as4/conf.h"
#include "as4/config.h"
#include "as4/pmode.h"
#include "as4/str.h"
#include "cli.h"

/* Most files checked in one run. */
#define MAX_FILES 1024

static const char usage_text[] =
        "usage: as4ctl pmode validate [--config FILE] FILE...\n"
        "       as4ctl pmode list | get ID | apply FILE... | delete ID [--force]\n"
        "       as4ctl pmode validate --online FILE...   (against the running as4d)\n"
        "validate checks PMode files (YAML; JSON when named *.json) against the parties and\n"
        "discovery networks of the configuration (default conf/as4d.yaml).\n"
        "Exit status: 0 all valid, 1 invalid, 2 usage error.\n";

static void print_errors(const struct as4_conf_errors *e)
{
	for (size_t i = 0; i < e->n; i++) {
		fprintf(stderr, "%s\n", e->v[i].text);
	}
	if (e->n_dropped > 0) {
		fprintf(stderr, "... and %zu more\n", e->n_dropped);
	}
	if (e->oom) {
		fputs("as4ctl pmode: out of memory while reporting errors\n", stderr);
	}
}

/* The file name without folder and extension: the PMode id when the document has none. */
static char *default_id(const char *path)
{
	const char *base = strrchr(path, '/');
	char *id = as4_str_dup(base != NULL ? base + 1 : path);
	char *dot = id != NULL ? strrchr(id, '.') : NULL;
	if (dot != NULL && dot != id) {
		*dot = '\0';
	}
	return id;
}

/* One file; on success *out holds its one-PMode set. Returns true when valid. */
static bool validate_file(const struct as4_config *cfg, const char *path,
                          struct as4_pmode_set **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct as4_conf_errors e;
	struct as4_conf_limits lim;
	as4_conf_limits_default(&lim);
	as4_conf_errors_init(&e, 0);
	as4_err err = as4_file_read(path, lim.max_file, &buf, &len);
	if (err != AS4_OK) {
		fprintf(stderr, "%s: %s\n", path,
		        err == AS4_E_NOTFOUND ? "file does not exist"
		        : err == AS4_E_LIMIT  ? "file is larger than 1 MiB"
		                              : "cannot read the file");
		return false;
	}
	char *id = default_id(path);
	if (id == NULL) {
		free(buf);
		fputs("as4ctl pmode: out of memory\n", stderr);
		return false;
	}
	err = as4_config_pmode_validate(cfg, buf, len, as4_str_ends(path, ".json"), path, id, false,
	                                out, &e);
	print_errors(&e);
	as4_conf_errors_cleanup(&e);
	free(id);
	free(buf);
	return err == AS4_OK;
}

/*
 * Ids and match keys must also be unique among the files checked together; a file clashing
 * with an earlier one becomes invalid (its set is freed).
 */
static void cross_check(struct as4_pmode_set **sets, size_t n)
{
	for (size_t j = 0; j < n; j++) {
		bool clash = false;
		const struct as4_pmode *b = as4_pmode_at(sets[j], 0);
		for (size_t i = 0; b != NULL && i < j; i++) {
			const struct as4_pmode *a = as4_pmode_at(sets[i], 0);
			if (a == NULL) {
				continue;
			}
			if (strcmp(a->id, b->id) == 0) {
				fprintf(stderr, "%s: duplicate PMode id '%s' (also in %s)\n",
				        b->source, b->id, a->source);
				clash = true;
			} else if (as4_pmode_same_key(a, b)) {
				fprintf(stderr,
				        "%s: PMode '%s' matches the same messages as PMode '%s' "
				        "(%s): "
				        "agreement, parties, roles, service, action or MPC must "
				        "differ\n",
				        b->source, b->id, a->id, a->source);
				clash = true;
			}
		}
		if (clash) {
			as4_pmode_set_free(sets[j]);
			sets[j] = NULL;
		}
	}
}

static int cmd_validate(int argc, char **argv)
{
	const char *config = "conf/as4d.yaml";
	const char *files[MAX_FILES];
	size_t n = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc) {
				fputs("as4ctl pmode: --config needs a file\n", stderr);
				return AS4CTL_USAGE;
			}
			config = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage_text, stdout);
			return AS4CTL_OK;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "as4ctl pmode: unknown option '%s'\n%s", argv[i],
			        usage_text);
			return AS4CTL_USAGE;
		} else if (n == MAX_FILES) {
			fprintf(stderr, "as4ctl pmode: at most %d files at a time\n", MAX_FILES);
			return AS4CTL_USAGE;
		} else {
			files[n++] = argv[i];
		}
	}
	if (n == 0) {
		fprintf(stderr, "as4ctl pmode: no PMode file given\n%s", usage_text);
		return AS4CTL_USAGE;
	}

	struct as4_config_options o;
	struct as4_conf_errors e;
	struct as4_config *cfg = NULL;
	memset(&o, 0, sizeof(o));
	o.skip_pmodes = true;
	o.no_file_checks = true;
	as4_conf_errors_init(&e, 0);
	as4_err err = as4_config_load(config, &o, &cfg, &e);
	if (err != AS4_OK) {
		print_errors(&e);
		fprintf(stderr,
		        "as4ctl pmode: %s is invalid, so PModes cannot be checked against it\n",
		        config);
		as4_conf_errors_cleanup(&e);
		return AS4CTL_REFUSED;
	}
	as4_conf_errors_cleanup(&e);

	struct as4_pmode_set **sets = calloc(n, sizeof(*sets));
	if (sets == NULL) {
		as4_config_free(cfg);
		fputs("as4ctl pmode: out of memory\n", stderr);
		return AS4CTL_REFUSED;
	}
	for (size_t i = 0; i < n; i++) {
		if (!validate_file(cfg, files[i], &sets[i])) {
			sets[i] = NULL;
		}
	}
	cross_check(sets, n);
	size_t valid = 0;
	for (size_t i = 0; i < n; i++) {
		const struct as4_pmode *p = as4_pmode_at(sets[i], 0);
		if (p != NULL) {
			valid++;
			printf("%s: PMode '%s': %s -> %s, service %s, action %s\n", files[i], p->id,
			       p->initiator->name, p->responder->name, p->service, p->action);
		}
		as4_pmode_set_free(sets[i]);
	}
	free(sets);
	as4_config_free(cfg);
	if (valid != n) {
		fprintf(stderr, "as4ctl pmode: %zu of %zu file%s invalid\n", n - valid, n,
		        n == 1 ? "" : "s");
		return AS4CTL_REFUSED;
	}
	return AS4CTL_OK;
}

int as4ctl_cmd_pmode(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return AS4CTL_USAGE;
	}
	if (strcmp(argv[1], "validate") == 0) {
		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--online") == 0) {
				return as4ctl_pmode_online(argc, argv);
			}
		}
		return cmd_validate(argc - 1, argv + 1);
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_text, stdout);
		return AS4CTL_OK;
	}
	if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "get") == 0 ||
	    strcmp(argv[1], "apply") == 0 || strcmp(argv[1], "delete") == 0) {
		return as4ctl_pmode_online(argc, argv);
	}
	fprintf(stderr, "as4ctl pmode: unknown subcommand '%s'\n%s", argv[1], usage_text);
	return AS4CTL_USAGE;
}
