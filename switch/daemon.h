/* SPDX-License-Identifier: MIT */
/* daemon.h - nethubd's life: start-up, signals, timers, state dump, shutdown */
#ifndef NH_DAEMON_H
#define NH_DAEMON_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "error.h"

#include "hub.h"
#include "io.h"

/* The embedded default configuration: one socket netdev on hub 0 */
#define DAEMON_DEFAULT_NETDEV "socket,id=vms,listen=127.0.0.1:5555"
#define DAEMON_DEFAULT_PORT   5555

/*
 * A service the daemon runs beside the switch (the QMP server): started
 * once the netdevs are up, stopped before they are taken down.  Hooks keep
 * switch/ from depending on ctl/.
 */
struct daemon_service {
	const char *name;
	/* start(): false with errp set if it cannot run (start-up fails) */
	bool (*start)(uv_loop_t *loop, void *arg, struct nh_error **errp);
	void (*stop)(void *arg);
	void *arg;
};

#define DAEMON_MAX_SERVICES 4

struct daemon_config {
	enum io_engine io;
	const char *pidfile;	/* NULL: none */
	const char *stats_file; /* SIGUSR1 target; NULL: the log */
	bool daemonize;
	bool using_defaults;	/* print how to attach a VM */
	struct hub_config hub;
	json_t *chardevs;	/* array of chardev-add argument objects (the
				 * -chardev options), made before the
				 * netdevs; may be NULL */
	json_t *chardev_labels;	/* array of strings: where each came from */
	json_t *netdevs;	/* array of netdev_add argument objects */
	json_t *labels;		/* array of strings: where each came from */
	json_t *objects;	/* array of object-add argument objects (the
				 * -object options), started after the
				 * netdevs; may be NULL */
	json_t *object_labels;	/* array of strings: where each came from */
	struct daemon_service services[DAEMON_MAX_SERVICES];
	unsigned nservices;
	/* Called once the netdevs and the services are up and the pidfile
	 * is written, before the -object captures start (their threads
	 * inherit it): drop privileges, confine the process.  false with
	 * errp fails the start-up.  NULL: none. */
	bool (*confine)(void *arg, struct nh_error **errp);
	void *confine_arg;
	const char *attach_note; /* extra line for the attach help, or NULL */
};

/**
 * daemon_run() - start everything in @cfg, serve until SIGINT, SIGTERM,
 * SIGQUIT or daemon_request_stop()
 *
 * With @cfg->pidfile, the pidfile is opened and locked first (the lock is
 * held until daemon_run() returns) and the pid written into it once
 * everything serves; if another process holds its lock nothing is started
 * and the file is left alone.  SIGHUP and SIGUSR2 are logged and change
 * nothing, SIGUSR1 dumps the state, SIGPIPE is ignored.
 *
 * Return: the process exit status: 0 after a clean shutdown (services
 * stopped, netdevs closed, the pidfile removed), 1 when something in @cfg
 * could not be started (the reason is on stderr and nothing is left
 * running).
 */
int daemon_run(const struct daemon_config *cfg);

/* daemon_request_stop() - shut down cleanly, as SIGTERM does (quit) */
void daemon_request_stop(const char *why);

/* daemon_state() - everything, as JSON (see docs/usage.md); caller owns */
json_t *daemon_state(void);

#endif /* NH_DAEMON_H */
