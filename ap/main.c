/* SPDX-License-Identifier: Apache-2.0 */
/*
 * as4d: the access point daemon. Loads and checks the configuration (every problem reported
 * with file, line and key), opens the store, starts the send workers and the two listeners,
 * then waits for signals: SIGHUP reloads, SIGTERM/SIGINT stop gracefully (stop accepting,
 * finish requests and attempts in flight, close the store).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "as4/ap.h"
#include "as4/http_client.h"
#include "as4/log.h"
#include "as4/str.h"
#include "as4/time.h"
#include "as4/wss.h"
#include "as4/xml.h"

#ifndef AS4_VERSION
#define AS4_VERSION "0.1.0"
#endif

/* Seconds requests and attempts in flight get to finish on SIGTERM. */
#define GRACE_MS 10000

static void usage(FILE *f)
{
	fputs("usage: as4d [--config FILE] [--check] [--version]\n"
	      "  --config FILE  as4d.yaml to load (default conf/as4d.yaml)\n"
	      "  --check        check the configuration and key material, then exit\n"
	      "                 (0 = valid, 1 = invalid)\n"
	      "  --version      print the version\n",
	      f);
}

static void print_conf_errors(const struct as4_conf_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		fprintf(stderr, "%s%s\n", errs->v[i].warning ? "warning: " : "", errs->v[i].text);
	}
	if (errs->n_dropped > 0) {
		fprintf(stderr, "(%zu more problems not shown)\n", errs->n_dropped);
	}
}

static int open_log(const struct as4_config *cfg)
{
	int fd = 2;
	if (cfg->log.file != NULL) {
		fd = open(cfg->log.file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0) {
			fprintf(stderr, "as4d: cannot open log file %s: %s\n", cfg->log.file,
			        strerror(errno));
			return -1;
		}
	}
	as4_log_setup(fd, cfg->log.format, cfg->log.level);
	return fd;
}

static char *listener_url(const struct as4_listener_config *l, uint16_t port)
{
	char buf[512];
	bool v6 = strchr(l->address, ':') != NULL;
	snprintf(buf, sizeof(buf), "%s://%s%s%s:%u%s", l->tls.enabled ? "https" : "http",
	         v6 ? "[" : "", l->address, v6 ? "]" : "", (unsigned)port,
	         l->path != NULL ? l->path : "/api/v1");
	return as4_str_dup(buf);
}

static as4_err start_listener(struct as4_ap *ap, const struct as4_config *cfg, bool msh,
                              struct as4_http_server **out, struct as4_diag *d)
{
	const struct as4_listener_config *l = msh ? &cfg->listeners.msh : &cfg->listeners.api;
	struct as4_http_opts o = {0};
	o.name = msh ? "msh" : "api";
	o.address = l->address;
	o.port = l->port;
	if (l->tls.enabled) {
		o.tls_cert_path = l->tls.cert_path;
		o.tls_key_path = l->tls.key_path;
		o.tls_client_ca_path = l->tls.client_ca;
		o.tls_require_client_cert = l->tls.require_client_cert;
		o.tls13_only = l->tls.min_version == AS4_TLS_MIN_1_3;
	}
	o.max_body = msh ? cfg->limits.max_body : cfg->limits.max_api_upload;
	o.max_connections = msh ? cfg->receiver.threads : 64;
	o.spool_dir = ap->tmp_dir;
	o.spool_threshold = cfg->limits.mem_spool_threshold;
	o.head = msh ? as4_msh_head : as4_api_head;
	o.handle = msh ? as4_msh_handle : as4_api_handle;
	o.ctx = ap;
	return as4_http_server_start(&o, out, d);
}

int main(int argc, char **argv)
{
	const char *config_path = "conf/as4d.yaml";
	bool check_only = false;
	static const struct option long_opts[] = {{"config", required_argument, NULL, 'c'},
	                                          {"check", no_argument, NULL, 'k'},
	                                          {"version", no_argument, NULL, 'V'},
	                                          {"help", no_argument, NULL, 'h'},
	                                          {NULL, 0, NULL, 0}};
	int opt;
	while ((opt = getopt_long(argc, argv, "c:h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'k':
			check_only = true;
			break;
		case 'V':
			printf("as4d %s\n", AS4_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	/* one-time library initialisation (STYLE rule 13, item 3) */
	as4_xml_global_init();
	if (as4_wss_global_init() != AS4_OK || as4_http_client_global_init() != AS4_OK) {
		fputs("as4d: cannot initialise the crypto and HTTP libraries\n", stderr);
		return 1;
	}
	int rc = 1;
	struct as4_ap ap;
	memset(&ap, 0, sizeof(ap));
	pthread_mutex_init(&ap.rt_lock, NULL);
	pthread_mutex_init(&ap.admin_lock, NULL);
	ap.version = AS4_VERSION;
	ap.started_ms = as4_time_now_ms();
	struct as4_diag d;
	as4_diag_init(&d);
	struct as4_conf_errors errs;
	as4_conf_errors_init(&errs, 0);
	struct as4_config *cfg = NULL;
	char *msh_url = NULL;
	char *api_url = NULL;
	int log_fd = 2;

	as4_err err = as4_config_load(config_path, NULL, &cfg, &errs);
	print_conf_errors(&errs);
	if (err != AS4_OK) {
		fprintf(stderr, "as4d: %s: configuration refused (%zu error%s)\n", config_path,
		        errs.n_errors, errs.n_errors == 1 ? "" : "s");
		goto out;
	}
	log_fd = open_log(cfg);
	if (log_fd < 0) {
		as4_config_free(cfg);
		goto out;
	}
	err = as4_runtime_new(cfg, &ap.rt, &d); /* takes cfg */
	if (err != AS4_OK) {
		fprintf(stderr, "as4d: %s: %s\n", config_path, as4_diag_text(&d));
		goto out;
	}
	cfg = ap.rt->cfg;
	if (check_only) {
		printf("%s: configuration valid (%zu PModes, %zu parties)\n", config_path,
		       as4_pmode_count(cfg->pmodes), cfg->n_parties);
		rc = 0;
		goto out;
	}

	/* signals are taken by sigwait in this thread only: block them before threads start */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (as4_str_fmt(ap.tmp_dir, sizeof(ap.tmp_dir), "%s/tmp", cfg->node.data_dir) != AS4_OK) {
		as4_log(AS4_LOG_ERR, "data directory path too long: %s", cfg->node.data_dir);
		goto out;
	}
	err = as4_mkdir_p(ap.tmp_dir, 0700);
	if (err != AS4_OK) {
		as4_log(AS4_LOG_ERR, "cannot create %s: %s", ap.tmp_dir, as4_strerror(err));
		goto out;
	}
	struct as4_store_opts so = {0};
	so.map_size = cfg->store.map_size;
	so.max_batch = cfg->store.sync_batch;
	so.inline_max = (size_t)cfg->store.inline_max;
	so.dedup_window_ms = (int64_t)cfg->retention.dedup_window_ms;
	err = as4_store_open(cfg->node.data_dir, &so, &ap.store, &d);
	if (err != AS4_OK) {
		as4_log(AS4_LOG_ERR, "cannot open the store: %s", as4_diag_text(&d));
		goto out;
	}
	err = as4_sender_start(&ap, &ap.sender, &d);
	if (err == AS4_OK) {
		err = as4_maint_start(&ap, &ap.maint, &d);
	}
	if (err == AS4_OK) {
		err = as4_delivery_start(&ap, &ap.delivery, &d);
	}
	if (err == AS4_OK) {
		err = start_listener(&ap, cfg, true, &ap.msh, &d);
	}
	if (err == AS4_OK) {
		err = start_listener(&ap, cfg, false, &ap.api, &d);
	}
	if (err != AS4_OK) {
		as4_log(AS4_LOG_ERR, "cannot start: %s", as4_diag_text(&d));
		goto stop;
	}
	msh_url = listener_url(&cfg->listeners.msh, as4_http_server_port(ap.msh));
	api_url = listener_url(&cfg->listeners.api, as4_http_server_port(ap.api));
	as4_log(AS4_LOG_NOTICE, "as4d %s started: msh=%s api=%s data=%s pmodes=%zu", AS4_VERSION,
	        msh_url ? msh_url : "?", api_url ? api_url : "?", cfg->node.data_dir,
	        as4_pmode_count(cfg->pmodes));

	for (;;) {
		int sig = 0;
		if (sigwait(&sigs, &sig) != 0) {
			continue;
		}
		if (sig == SIGHUP) {
			struct as4_diag rd;
			as4_diag_init(&rd);
			if (as4_ap_reload(&ap, &rd) == AS4_OK) {
				struct as4_runtime *rt = as4_ap_runtime(&ap);
				as4_log(AS4_LOG_NOTICE, "configuration reloaded (%zu PModes)",
				        as4_pmode_count(rt->cfg->pmodes));
				as4_runtime_put(rt);
			} else {
				as4_log(AS4_LOG_ERR,
				        "reload refused, still running the previous "
				        "configuration: %s",
				        as4_diag_text(&rd));
			}
			continue;
		}
		as4_log(AS4_LOG_NOTICE, "signal %d: stopping (finishing requests in flight)", sig);
		break;
	}
	rc = 0;
stop:
	atomic_store(&ap.stopping, true);
	/* no new peer messages or submissions; those in flight finish and commit */
	as4_http_server_stop(ap.msh, GRACE_MS);
	as4_http_server_stop(ap.api, GRACE_MS);
	as4_sender_stop(ap.sender, GRACE_MS);
	as4_delivery_stop(ap.delivery);
	as4_maint_stop(ap.maint);
	as4_store_close(ap.store);
	as4_log(AS4_LOG_NOTICE, "stopped");
out:
	free(msh_url);
	free(api_url);
	as4_conf_errors_cleanup(&errs);
	as4_runtime_put(ap.rt);
	pthread_mutex_destroy(&ap.rt_lock);
	pthread_mutex_destroy(&ap.admin_lock);
	as4_http_client_global_cleanup();
	as4_wss_global_cleanup();
	as4_xml_global_cleanup();
	if (log_fd > 2) {
		close(log_fd);
	}
	return rc;
}
