// SPDX-License-Identifier: MIT
/* daemon.c - nethubd's life cycle around the libuv loop
 *
 * Owns the loop's control handles (signals, the FDB aging timer), the
 * frame pool, the pidfile and daemonizing.  Start-up is all or nothing: if a
 * netdev cannot start, what was started is taken down and the exit status
 * is 1.  With --daemonize the parent waits on a pipe until the child is
 * serving (or has failed), so its exit status tells which.
 *
 * A service manager's $NOTIFY_SOCKET hears READY=1 once everything serves
 * and STOPPING=1 when the shutdown begins (notify.c).
 *
 * Signals: SIGINT, SIGTERM and SIGQUIT shut down cleanly (services
 * stopped, so the QMP socket files go; netdevs closed; the pidfile
 * removed); SIGUSR1 dumps the state; SIGHUP and SIGUSR2 are logged and
 * change nothing; SIGPIPE is ignored.  The pidfile is locked for the
 * daemon's whole life, so a second nethubd given the same one refuses to
 * start and never touches it.
 *
 * Never: exit with a pidfile or a QMP socket file of its own left behind
 * after a signal it handles; remove or rewrite a pidfile it does not hold
 * the lock of.
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
#include "chardev.h"
#include "clock.h"
#include "daemon.h"
#include "fdb.h"
#include "frame.h"
#include "io.h"
#include "log.h"
#include "netdev.h"
#include "guest_nic.h"
#include "notify.h"
#include "port.h"

#define DAEMON_AGE_INTERVAL_MS 1000
#define DAEMON_PIDFILE_MODE    0644
#define DAEMON_PIDFILE_TRIES   4 /* opens racing a holder's unlink */

/* The signals the daemon handles; daemon_on_signal() says what each does */
static const int daemon_signals[] = {
	SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2,
};
#define DAEMON_NSIGNALS (sizeof(daemon_signals) / sizeof(daemon_signals[0]))

static struct {
	const struct daemon_config *cfg;
	uv_loop_t *loop;
	uv_signal_t sigs[DAEMON_NSIGNALS];
	uv_timer_t age_timer;
	struct frame_pool *pool;
	int pidfile_fd; /* locked; -1 without --pidfile */
	bool stopping;
	unsigned services_started;
} d = { .pidfile_fd = -1 };

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
	notify_send("STOPPING=1");
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
	if (d.stopping)
		return; /* already shutting down: nothing to add */
	switch (signum) {
	case SIGUSR1:
		daemon_dump_state();
		break;
	case SIGHUP:
		log_info("SIGHUP: nothing to reload (nethubd has no reloadable "
			 "configuration yet; change it over QMP); still running");
		break;
	case SIGUSR2:
		log_info("SIGUSR2: reserved, ignored; still running");
		break;
	default: /* SIGINT, SIGTERM, SIGQUIT */
		daemon_request_stop(strsignal(signum));
		break;
	}
}

/* Handle daemon_signals from now on (dispatched once the loop runs) */
static void daemon_start_signals(void)
{
	for (size_t i = 0; i < DAEMON_NSIGNALS; i++) {
		uv_signal_init(d.loop, &d.sigs[i]);
		uv_signal_start(&d.sigs[i], daemon_on_signal,
				daemon_signals[i]);
	}
}

/* The pid of the process holding @fd's file locked, or 0 if unknown: the
 * lock's owner, else the number the file holds */
static long daemon_pidfile_holder(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char buf[32];
	ssize_t n;

	if (!fcntl(fd, F_GETLK, &fl) && fl.l_type != F_UNLCK && fl.l_pid > 0)
		return fl.l_pid;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/*
 * Open @path and take its write lock (held until the daemon exits, as
 * long as the fd stays open); clear a stale pid.  A lock another process
 * holds means a nethubd runs with this pidfile: say so and touch nothing.
 * Return the locked fd, or -1 with the reason on stderr.
 */
static int daemon_lock_pidfile(const char *path)
{
	for (int tries = 0; tries < DAEMON_PIDFILE_TRIES; tries++) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		struct stat by_fd, by_path;
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC,
			      DAEMON_PIDFILE_MODE);

		if (fd < 0) {
			fprintf(stderr, "nethubd: --pidfile %s: %s\n", path,
				strerror(errno));
			return -1;
		}
		if (fcntl(fd, F_SETLK, &fl)) {
			long pid;

			if (errno != EAGAIN && errno != EACCES) {
				fprintf(stderr,
					"nethubd: --pidfile %s: cannot lock "
					"it: %s\n",
					path, strerror(errno));
				close(fd);
				return -1;
			}
			pid = daemon_pidfile_holder(fd);
			close(fd);
			if (pid > 0)
				fprintf(stderr,
					"nethubd: --pidfile %s: nethubd pid "
					"%ld is running with this pidfile "
					"(its lock is held); not starting\n",
					path, pid);
			else
				fprintf(stderr,
					"nethubd: --pidfile %s: another "
					"process holds its lock; not "
					"starting\n",
					path);
			return -1;
		}
		/* the holder may have removed it between our open and lock:
		 * then the lock is on a file nobody will find; open anew */
		if (fstat(fd, &by_fd) || stat(path, &by_path) ||
		    by_fd.st_dev != by_path.st_dev ||
		    by_fd.st_ino != by_path.st_ino) {
			close(fd);
			continue;
		}
		if (ftruncate(fd, 0)) {
			fprintf(stderr, "nethubd: --pidfile %s: %s\n", path,
				strerror(errno));
			close(fd);
			return -1;
		}
		return fd;
	}
	fprintf(stderr, "nethubd: --pidfile %s: removed again each time it "
		"was opened; not starting\n", path);
	return -1;
}

/* Write our pid into the locked pidfile (start-up is complete) */
static bool daemon_write_pidfile(const char *path)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	errno = 0;
	if (pwrite(d.pidfile_fd, buf, (size_t)n, 0) != n) {
		fprintf(stderr, "nethubd: --pidfile %s: cannot write it: %s\n",
			path, strerror(errno ? errno : ENOSPC));
		return false;
	}
	return true;
}

/* Remove the pidfile (still ours: the lock is held until the close) */
static void daemon_release_pidfile(const char *path)
{
	struct stat by_fd, by_path;

	if (d.pidfile_fd < 0)
		return;
	if (!fstat(d.pidfile_fd, &by_fd) && !stat(path, &by_path) &&
	    by_fd.st_dev == by_path.st_dev && by_fd.st_ino == by_path.st_ino)
		unlink(path);
	close(d.pidfile_fd);
	d.pidfile_fd = -1;
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

/* Close every handle but the signal watchers (closed last) */
static void daemon_close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h) && uv_handle_get_type(h) != UV_SIGNAL)
		uv_close(h, NULL);
}

/*
 * Take everything down; the loop runs until every close completed.  The
 * signal watchers stay until the end (unreferenced, so the loop can end),
 * so that a second SIGINT while shutting down does not kill the process
 * half way, with its files left behind.
 */
static void daemon_teardown(void)
{
	while (d.services_started > 0) {
		const struct daemon_service *sv =
			&d.cfg->services[--d.services_started];

		sv->stop(sv->arg);
	}
	capture_del_all(); /* every file flushed and closed */
	netdev_del_all();
	chardev_remove_all();
	for (size_t i = 0; i < DAEMON_NSIGNALS; i++)
		uv_unref((uv_handle_t *)&d.sigs[i]);
	uv_close((uv_handle_t *)&d.age_timer, NULL);
	port_shutdown();
	io_shutdown();
	uv_walk(d.loop, daemon_close_walk, NULL);
	uv_run(d.loop, UV_RUN_DEFAULT);
	for (size_t i = 0; i < DAEMON_NSIGNALS; i++)
		uv_close((uv_handle_t *)&d.sigs[i], NULL);
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

	for (size_t i = 0; i < json_array_size(cfg->chardevs); i++) {
		if (!chardev_check(json_array_get(cfg->chardevs, i), &err)) {
			fprintf(stderr, "nethubd: %s: %s\n",
				json_string_value(
					json_array_get(cfg->chardev_labels, i)),
				err->msg);
			nh_error_free(err);
			return false;
		}
	}

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

	if (!daemon_check_config(cfg))
		return 1;
	log_hold();
	d.cfg = cfg;
	d.loop = uv_default_loop();
	clock_use_loop(d.loop);
	signal(SIGPIPE, SIG_IGN);

	if (cfg->daemonize)
		ready_fd = daemon_detach();
	notify_open(); /* before confine(), which may forbid connecting */

	/* before anything else: a second nethubd stops here, having
	 * touched nothing (not the first one's QMP socket either) */
	if (cfg->pidfile) {
		d.pidfile_fd = daemon_lock_pidfile(cfg->pidfile);
		if (d.pidfile_fd < 0) {
			log_release(false);
			return 1;
		}
	}

	d.pool = frame_pool_new(FRAME_POOL_SMALL_DEFAULT,
				FRAME_POOL_LARGE_DEFAULT);
	if (!d.pool) {
		fprintf(stderr, "nethubd: cannot allocate the frame pool\n");
		if (cfg->pidfile)
			daemon_release_pidfile(cfg->pidfile);
		return 1;
	}
	frame_pool_set_current(d.pool);
	hub_configure(&cfg->hub);

	if (!io_init(d.loop, cfg->io, &err)) {
		log_release(false);
		fprintf(stderr, "nethubd: --io: %s\n", err->msg);
		nh_error_free(err);
		frame_pool_free(d.pool);
		if (cfg->pidfile)
			daemon_release_pidfile(cfg->pidfile);
		return 1;
	}
	/* from here a signal that stops the daemon is acted on once the
	 * loop runs, so even one during start-up cleans up */
	daemon_start_signals();
	uv_timer_init(d.loop, &d.age_timer);

	for (size_t i = 0; i < json_array_size(cfg->chardevs); i++) {
		if (!chardev_add(d.loop, json_array_get(cfg->chardevs, i),
				 &err)) {
			log_release(false);
			fprintf(stderr, "nethubd: %s: %s\n",
				json_string_value(
					json_array_get(cfg->chardev_labels, i)),
				err->msg);
			nh_error_free(err);
			status = 1;
			goto out;
		}
	}

	for (size_t i = 0; i < json_array_size(cfg->netdevs); i++) {
		if (!netdev_add(d.loop, json_array_get(cfg->netdevs, i),
				&err)) {
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
	if (cfg->pidfile && !daemon_write_pidfile(cfg->pidfile)) {
		log_release(false);
		status = 1;
		goto out;
	}
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
	notify_send("READY=1");

	uv_run(d.loop, UV_RUN_DEFAULT);

out:
	if (status)
		log_hold(); /* the error said it all: no chatter after it */
	daemon_teardown();
	log_release(false);
	if (cfg->pidfile)
		daemon_release_pidfile(cfg->pidfile);
	if (ready_fd >= 0)
		close(ready_fd); /* the parent reads EOF: failed */
	notify_close();
	return status;
}
