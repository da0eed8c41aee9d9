// SPDX-License-Identifier: MIT
/* daemon.c - nethubd's life cycle around the libuv loop
 *
 * Owns the loop's control handles (signals, the FDB aging timer), the
 * frame pool, the pidfile and daemonizing.  Start-up is all or nothing: if a
 * netdev cannot start, what was started is taken down and the exit status
 * is 1.  With --daemonize the parent waits on a pipe until the child is
 * serving (or has failed), so its exit status tells which.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"
#include "clock.h"
#include "daemon.h"
#include "fdb.h"
#include "frame.h"
#include "io.h"
#include "log.h"
#include "netdev.h"
#include "nic.h"
#include "port.h"

#define DAEMON_AGE_INTERVAL_MS 1000

static struct {
	const struct daemon_config *cfg;
	uv_loop_t *loop;
	uv_signal_t sig_int, sig_term, sig_usr1;
	uv_timer_t age_timer;
	struct frame_pool *pool;
	bool stopping;
	unsigned services_started;
} d;

json_t *daemon_state(void)
{
	json_t *st = json_object(), *nds = json_array(), *hubs = json_array();
	uint64_t now = clock_now_ms();
	struct frame_pool_stats ps;

	json_object_set_new(st, "io", json_string(io_engine_name()));
	for (struct netdev *nd = netdev_first(); nd; nd = nd->next)
		json_array_append_new(nds, netdev_info(nd));
	json_object_set_new(st, "netdevs", nds);

	/* query-hubs' HubInfo, with the FDB itself (query-fdb's entries) */
	for (struct hub *h = hub_first(); h; h = h->next) {
		json_t *o = hub_info(h, now);

		json_object_set_new(o, "fdb", hub_fdb_json(h, now));
		json_array_append_new(hubs, o);
	}
	json_object_set_new(st, "hubs", hubs);
	json_object_set_new(st, "captures", capture_query());

	frame_pool_stats(d.pool, &ps);
	json_object_set_new(st, "frames",
			    json_pack("{si si si si sI}", "small-total",
				      ps.small_total, "small-free",
				      ps.small_free, "large-total",
				      ps.large_total, "large-free",
				      ps.large_free, "alloc-failures",
				      (json_int_t)ps.alloc_failures));
	return st;
}

/* Write the state to --stats-file atomically (tmp + rename), or log it */
static void daemon_dump_state(void)
{
	json_t *st = daemon_state();
	char tmp[4096];

	if (!d.cfg->stats_file) {
		char *text = json_dumps(st, JSON_COMPACT);

		log_info("state: %s", text ? text : "(out of memory)");
		free(text);
		json_decref(st);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", d.cfg->stats_file);
	if (json_dump_file(st, tmp, JSON_INDENT(1)) ||
	    rename(tmp, d.cfg->stats_file))
		log_err("cannot write the state to %s: %s", d.cfg->stats_file,
			strerror(errno));
	json_decref(st);
}

static void daemon_on_age(uv_timer_t *t)
{
	(void)t;
	hub_expire_all(uv_now(d.loop));
	nic_expire_all(uv_now(d.loop));
}

static void daemon_stop(void)
{
	if (d.stopping)
		return;
	d.stopping = true;
	uv_stop(d.loop);
}

void daemon_request_stop(const char *why)
{
	log_info("%s: shutting down", why);
	daemon_stop();
}

static void daemon_on_signal(uv_signal_t *h, int signum)
{
	(void)h;
	if (signum == SIGUSR1) {
		daemon_dump_state();
		return;
	}
	daemon_request_stop(strsignal(signum));
}

static bool daemon_write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f)) {
		fprintf(stderr, "nethubd: --pidfile %s: %s\n", path,
			strerror(errno));
		return false;
	}
	return true;
}

/*
 * Fork; the parent waits for one status byte from the child ('0' serving,
 * '1' failed) and exits with it.  Return the fd the child reports on.
 */
static int daemon_detach(void)
{
	int pfd[2];
	pid_t pid;
	char c = '1';

	if (pipe2(pfd, O_CLOEXEC)) {
		perror("nethubd: pipe");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		perror("nethubd: fork");
		exit(1);
	}
	if (pid > 0) {
		close(pfd[1]);
		if (read(pfd[0], &c, 1) != 1)
			c = '1';
		_exit(c == '0' ? 0 : 1);
	}
	close(pfd[0]);
	setsid();
	return pfd[1];
}

/* Child of daemon_detach(): started; stop using the terminal */
static void daemon_report_ready(int fd)
{
	int null = open("/dev/null", O_RDWR);

	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	log_to_syslog(true);
	if (write(fd, "0", 1) != 1) {
		/* the parent is gone; nothing to tell */
	}
	close(fd);
}

static void daemon_print_attach_help(void)
{
	printf("nethubd: default configuration: hub 0 with socket netdev "
	       "'vms' listening on 127.0.0.1:%d\n"
	       "Attach each QEMU VM with its own MAC address, e.g.:\n"
	       "  qemu-system-x86_64 ... -netdev socket,id=n0,connect=127.0.0.1:%d "
	       "-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:01\n"
	       "Every VM attached this way is on the same L2 network.\n",
	       DAEMON_DEFAULT_PORT, DAEMON_DEFAULT_PORT);
	if (d.cfg->attach_note)
		printf("%s\n", d.cfg->attach_note);
	fflush(stdout);
}

static void daemon_close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Take everything down; the loop runs until every close completed */
static void daemon_teardown(void)
{
	while (d.services_started > 0) {
		const struct daemon_service *sv =
			&d.cfg->services[--d.services_started];

		sv->stop(sv->arg);
	}
	capture_del_all(); /* every file flushed and closed */
	netdev_del_all();
	uv_close((uv_handle_t *)&d.sig_int, NULL);
	uv_close((uv_handle_t *)&d.sig_term, NULL);
	uv_close((uv_handle_t *)&d.sig_usr1, NULL);
	uv_close((uv_handle_t *)&d.age_timer, NULL);
	io_shutdown();
	uv_walk(d.loop, daemon_close_walk, NULL);
	uv_run(d.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(d.loop))
		log_warn("event loop closed with handles still open");
	frame_pool_free(d.pool);
	d.pool = NULL;
}

/*
 * Check every netdev before anything starts: types, ids (also against each
 * other), options.  Print the first problem and return false.
 */
static bool daemon_check_config(const struct daemon_config *cfg)
{
	size_t n = json_array_size(cfg->netdevs);
	struct nh_error *err = NULL;

	for (size_t i = 0; i < n; i++) {
		const json_t *nd = json_array_get(cfg->netdevs, i);
		const char *id = json_string_value(json_object_get(nd, "id"));

		if (!netdev_check(nd, &err)) {
			fprintf(stderr, "nethubd: %s: %s\n",
				json_string_value(
					json_array_get(cfg->labels, i)),
				err->msg);
			nh_error_free(err);
			return false;
		}
		for (size_t j = 0; j < i; j++) {
			const json_t *prev = json_array_get(cfg->netdevs, j);

			if (!strcmp(id, json_string_value(
						json_object_get(prev, "id")))) {
				fprintf(stderr,
					"nethubd: %s: Duplicate ID '%s'\n",
					json_string_value(
						json_array_get(cfg->labels, i)),
					id);
				return false;
			}
		}
	}
	return true;
}

int daemon_run(const struct daemon_config *cfg)
{
	struct nh_error *err = NULL;
	int ready_fd = -1, status = 0;
	bool pidfile_written = false;

	if (!daemon_check_config(cfg))
		return 1;
	log_hold();
	d.cfg = cfg;
	d.loop = uv_default_loop();
	signal(SIGPIPE, SIG_IGN);

	if (cfg->daemonize)
		ready_fd = daemon_detach();

	d.pool = frame_pool_new(FRAME_POOL_SMALL_DEFAULT,
				FRAME_POOL_LARGE_DEFAULT);
	if (!d.pool) {
		fprintf(stderr, "nethubd: cannot allocate the frame pool\n");
		return 1;
	}
	frame_pool_set_current(d.pool);
	hub_configure(&cfg->hub);

	if (!io_init(d.loop, cfg->io, &err)) {
		log_release(false);
		fprintf(stderr, "nethubd: --io: %s\n", err->msg);
		nh_error_free(err);
		frame_pool_free(d.pool);
		return 1;
	}
	uv_signal_init(d.loop, &d.sig_int);
	uv_signal_init(d.loop, &d.sig_term);
	uv_signal_init(d.loop, &d.sig_usr1);
	uv_timer_init(d.loop, &d.age_timer);

	for (size_t i = 0; i < json_array_size(cfg->netdevs); i++) {
		if (!netdev_add(json_array_get(cfg->netdevs, i), &err)) {
			log_release(false);
			fprintf(stderr, "nethubd: %s: %s\n",
				json_string_value(json_array_get(cfg->labels, i)),
				err->msg);
			nh_error_free(err);
			status = 1;
			goto out;
		}
	}
	for (unsigned i = 0; i < cfg->nservices; i++) {
		const struct daemon_service *sv = &cfg->services[i];

		if (!sv->start(d.loop, sv->arg, &err)) {
			log_release(false);
			fprintf(stderr, "nethubd: %s: %s\n", sv->name, err->msg);
			nh_error_free(err);
			status = 1;
			goto out;
		}
		d.services_started++;
	}
	/* Handled from here: whoever reads the pidfile may signal at once
	 * (the loop acts on it once it runs) */
	uv_signal_start(&d.sig_int, daemon_on_signal, SIGINT);
	uv_signal_start(&d.sig_term, daemon_on_signal, SIGTERM);
	uv_signal_start(&d.sig_usr1, daemon_on_signal, SIGUSR1);
	if (cfg->pidfile && !daemon_write_pidfile(cfg->pidfile)) {
		log_release(false);
		status = 1;
		goto out;
	}
	pidfile_written = cfg->pidfile != NULL;
	if (cfg->confine && !cfg->confine(cfg->confine_arg, &err)) {
		log_release(false);
		fprintf(stderr, "nethubd: %s\n", err->msg);
		nh_error_free(err);
		status = 1;
		goto out;
	}
	for (size_t i = 0; i < json_array_size(cfg->objects); i++) {
		if (!capture_add(json_array_get(cfg->objects, i), &err)) {
			log_release(false);
			fprintf(stderr, "nethubd: %s: %s\n",
				json_string_value(
					json_array_get(cfg->object_labels, i)),
				err->msg);
			nh_error_free(err);
			status = 1;
			goto out;
		}
	}
	log_release(true);

	uv_timer_start(&d.age_timer, daemon_on_age, DAEMON_AGE_INTERVAL_MS,
		       DAEMON_AGE_INTERVAL_MS);

	if (cfg->using_defaults && !cfg->daemonize)
		daemon_print_attach_help();
	log_info("nethubd %s ready: io %s (%s), %zu netdevs", NETHUB_VERSION,
		 io_engine_name(), io_features(),
		 json_array_size(cfg->netdevs));
	if (ready_fd >= 0) {
		daemon_report_ready(ready_fd);
		ready_fd = -1;
	}

	uv_run(d.loop, UV_RUN_DEFAULT);

out:
	if (status)
		log_hold(); /* the error said it all: no chatter after it */
	daemon_teardown();
	log_release(false);
	if (pidfile_written)
		unlink(cfg->pidfile); /* also after a failure past it */
	if (ready_fd >= 0)
		close(ready_fd); /* the parent reads EOF: failed */
	return status;
}
