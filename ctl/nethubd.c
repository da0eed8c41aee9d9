// SPDX-License-Identifier: MIT
/* nethubd.c - nethubd's main(): the command line, and the QMP server run
 * beside the switch
 *
 * Parses and checks everything it can before anything starts; a bad option
 * is one line on stderr naming it and exit status 1.  This is the one place
 * where the core (switch/, backends/) and the control plane (ctl/) meet.
 */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chardev.h"
#include "daemon.h"
#include "fdb.h"
#include "log.h"
#include "opts.h"
#include "port.h"
#include "qmp.h"
#include "registry.h"
#include "sandbox.h"
#include "userfile.h"

#define FDB_AGE_MAX_S	 (7 * 24 * 3600)
#define FDB_LIMIT_MAX	 (16u * 1024 * 1024)

static const char usage_text[] =
	"Usage: nethubd [OPTION]...\n"
	"An event-driven userspace virtual Ethernet switch, configured like QEMU's\n"
	"network backends.\n"
	"\n"
	"Netdevs (backends whose ports join hubs):\n"
	"  -netdev TYPE,id=ID[,KEY=VALUE]...   add a netdev (QEMU syntax; ',,' is a\n"
	"                                      literal comma), or\n"
	"  -netdev '{\"type\": ..., \"id\": ..., ...}'   the same as JSON\n"
	"  --config FILE       add the netdevs of FILE: a JSON array of netdev_add\n"
	"                      argument objects\n"
	"  Without -netdev or --config, the default configuration is used:\n"
	"    -netdev " DAEMON_DEFAULT_NETDEV "\n"
	"    -qmp unix:RUNDIR/qmp.sock   (RUNDIR: /run/nethub as root, else\n"
	"                                $XDG_RUNTIME_DIR/nethub or /tmp/nethub-UID)\n"
	"\n"
	"Chardevs (unix sockets for vhost-user netdevs):\n"
	"  -chardev socket,id=ID,path=PATH[,server=on|off][,wait=off]\n"
	"          [,reconnect=SECONDS]\n"
	"                      server=on: listen at PATH (mode 0600), one peer at\n"
	"                      a time; else connect to PATH, again every\n"
	"                      reconnect= seconds when it fails or the peer goes.\n"
	"                      Used by -netdev vhost-user,id=ID,chardev=ID\n"
	"\n"
	"Captures (QEMU's filter-dump; see docs/capture.md):\n"
	"  -object filter-dump,id=ID,netdev=NAME,file=FILE[,maxlen=BYTES]\n"
	"          [,queue=all|rx|tx][,filter=EXPR]\n"
	"                      write the frames of netdev, NIC or port NAME to a\n"
	"                      pcap file or FIFO; hubid=N instead of netdev=\n"
	"                      captures every frame entering hub N, filter= keeps\n"
	"                      the frames a pcap-filter expression matches\n"
	"\n"
	"Control (QMP, as QEMU speaks it; see docs/qmp-reference.md):\n"
	"  -qmp unix:PATH[,server=on][,wait=off][,mode=0600][,group=NAME]\n"
	"  -qmp tcp:HOST:PORT[,server=on][,wait=off][,remote=on]\n"
	"                      serve QMP on a socket (may repeat); a unix socket is\n"
	"                      created mode 0600 unless mode= says otherwise; TCP\n"
	"                      on an address other than loopback needs remote=on.\n"
	"                      QMP access is root-equivalent: see docs/security.md.\n"
	"                      Talk to it with nethubctl.\n"
	"  --qmp-max-sessions N\n"
	"                      QMP clients served at once (default %u); at the\n"
	"                      limit a new client displaces the oldest one still\n"
	"                      negotiating, else it is refused with an error\n"
	"  --qmp-handshake-timeout SECONDS\n"
	"                      close a QMP client that has not sent\n"
	"                      qmp_capabilities within this time (default %u;\n"
	"                      0: never)\n"
	"\n"
	"Types: socket (listen=, connect=[,reconnect=S], udp=+localaddr=\n"
	"[,udp-any-source=on], mcast=, fd=), tap (ifname=, fd=, script=,\n"
	"vnet_hdr=, queues=, ...), bridge (br=, helper=), nic (netdev=, macaddr=),\n"
	"pcap (ifname= | file=[,rate=][,loop=]),\n"
	"l2tpv3 (src=, dst=, txsession=[,udp=on,srcport=,dstport=][,cookies]),\n"
	"vxlan (vni=[,local=][,remote=|remote.N=|group=][,dstport=][,ttl=]),\n"
	"hubport (hubid=, netdev=), none.\n"
	"Every netdev not named by a hubport is on hub 0.  See docs/usage.md.\n"
	"\n"
	"Switch:\n"
	"  --fdb-age SECONDS   forget a learned MAC after this idle time (default %d)\n"
	"  --fdb-max N         learned MACs per hub at most (default %u); a new MAC\n"
	"                      on a full hub evicts one of the port holding most\n"
	"  --fdb-port-max N    learned MACs per port at most (default %u)\n"
	"  --fdb-netdev-max N  learned MACs of all the ports of one netdev (the\n"
	"                      peers of a listening socket) at most (default %u)\n"
	"  --stall-ms MS       longest a receiver that does not drain may slow the\n"
	"                      ports sending to it; then frames to it are dropped\n"
	"                      (queue-full) until it drains (default %u; 0: never\n"
	"                      slow a sender)\n"
	"  --io auto|uring|epoll\n"
	"                      datapath I/O engine (default auto: io_uring, else\n"
	"                      epoll)\n"
	"\n"
	"Privileges (see docs/security.md):\n"
	"  --user USER[:GROUP] once started, run as USER (with its groups, or\n"
	"                      GROUP alone), keeping only CAP_NET_ADMIN and\n"
	"                      CAP_NET_RAW\n"
	"  --sandbox on|off    once started, restrict system calls (seccomp) and\n"
	"                      file writes (Landlock) where the kernel can\n"
	"                      (default on)\n"
	"  --allow-run         let tap/bridge script=, downscript= and helper= run\n"
	"                      programs (default: refused; implies no seccomp and\n"
	"                      no Landlock, which the programs would inherit)\n"
	"  --files-dir DIR     capture and replay files only beneath DIR\n"
	"\n"
	"Process:\n"
	"  -d, --daemonize     run in the background once started\n"
	"  --pidfile FILE      write the process id to FILE once started; FILE\n"
	"                      stays locked while nethubd runs, so a second\n"
	"                      nethubd given the same FILE refuses to start\n"
	"  --stats-file FILE   on SIGUSR1, write the whole state as JSON to FILE\n"
	"  --log-level LEVEL   error, warn, info (default) or debug\n"
	"  -h, --help          show this help and exit\n"
	"  -V, --version       show the version and exit\n"
	"\n"
	"Signals: SIGINT, SIGTERM and SIGQUIT stop cleanly (exit status 0; the\n"
	"pidfile and QMP socket files removed); SIGUSR1 dumps the state; SIGHUP\n"
	"(nothing to reload yet) and SIGUSR2 (reserved) are logged and ignored.\n";

enum {
	OPT_NETDEV = 256,
	OPT_CONFIG,
	OPT_IO,
	OPT_LOG_LEVEL,
	OPT_PIDFILE,
	OPT_STATS_FILE,
	OPT_FDB_AGE,
	OPT_STALL_MS,
	OPT_FDB_MAX,
	OPT_FDB_PORT_MAX,
	OPT_FDB_NETDEV_MAX,
	OPT_QMP,
	OPT_OBJECT,
	OPT_QMP_MAX_SESSIONS,
	OPT_QMP_HANDSHAKE_TIMEOUT,
	OPT_USER,
	OPT_SANDBOX,
	OPT_ALLOW_RUN,
	OPT_FILES_DIR,
	OPT_CHARDEV,
};

static const struct option long_opts[] = {
	{ "netdev", required_argument, NULL, OPT_NETDEV },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "chardev", required_argument, NULL, OPT_CHARDEV },
	{ "io", required_argument, NULL, OPT_IO },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "pidfile", required_argument, NULL, OPT_PIDFILE },
	{ "stats-file", required_argument, NULL, OPT_STATS_FILE },
	{ "fdb-age", required_argument, NULL, OPT_FDB_AGE },
	{ "stall-ms", required_argument, NULL, OPT_STALL_MS },
	{ "fdb-max", required_argument, NULL, OPT_FDB_MAX },
	{ "fdb-port-max", required_argument, NULL, OPT_FDB_PORT_MAX },
	{ "fdb-netdev-max", required_argument, NULL, OPT_FDB_NETDEV_MAX },
	{ "qmp", required_argument, NULL, OPT_QMP },
	{ "object", required_argument, NULL, OPT_OBJECT },
	{ "qmp-max-sessions", required_argument, NULL, OPT_QMP_MAX_SESSIONS },
	{ "qmp-handshake-timeout", required_argument, NULL,
	  OPT_QMP_HANDSHAKE_TIMEOUT },
	{ "user", required_argument, NULL, OPT_USER },
	{ "sandbox", required_argument, NULL, OPT_SANDBOX },
	{ "allow-run", no_argument, NULL, OPT_ALLOW_RUN },
	{ "files-dir", required_argument, NULL, OPT_FILES_DIR },
	{ "daemonize", no_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *to)
{
	fprintf(to, usage_text, (unsigned)QMP_MAX_SESSIONS_DEFAULT,
		(unsigned)QMP_HANDSHAKE_TIMEOUT_DEFAULT_S, FDB_AGE_DEFAULT_S,
		FDB_MAX_DEFAULT, FDB_PORT_MAX_DEFAULT, FDB_GROUP_MAX_DEFAULT,
		PORT_STALL_DEFAULT_MS);
}

static void die_option(const char *opt, const char *expects, const char *arg)
{
	fprintf(stderr, "nethubd: %s: expects %s, got '%s'\n", opt, expects,
		arg);
	exit(1);
}

/* A whole decimal number in [min, max], or exit naming the option */
static uint64_t parse_count(const char *opt, const char *arg, uint64_t min,
			    uint64_t max)
{
	char *end;
	unsigned long long v;

	if (!*arg || *arg == '-')
		goto bad;
	v = strtoull(arg, &end, 10);
	if (*end || v < min || v > max)
		goto bad;
	return v;
bad:
	fprintf(stderr,
		"nethubd: %s: expects a whole number from %llu to %llu, got "
		"'%s'\n",
		opt, (unsigned long long)min, (unsigned long long)max, arg);
	exit(1);
}

static void add_netdev(struct daemon_config *cfg, json_t *obj,
		       const char *label)
{
	json_array_append_new(cfg->netdevs, obj);
	json_array_append_new(cfg->labels, json_string(label));
}

static void add_netdev_spec(struct daemon_config *cfg, const char *spec)
{
	struct nh_error *err = NULL;
	json_t *obj = opts_parse(spec, "type", &err);
	char label[512];

	if (!obj) {
		fprintf(stderr, "nethubd: -netdev %s: %s\n", spec, err->msg);
		nh_error_free(err);
		exit(1);
	}
	snprintf(label, sizeof(label), "-netdev %s", spec);
	add_netdev(cfg, obj, label);
}

static void add_config_file(struct daemon_config *cfg, const char *path)
{
	struct nh_error *err = NULL;
	json_t *arr = opts_load_config(path, &err);
	char label[512];

	if (!arr) {
		fprintf(stderr, "nethubd: --config %s\n", err->msg);
		nh_error_free(err);
		exit(1);
	}
	for (size_t i = 0; i < json_array_size(arr); i++) {
		snprintf(label, sizeof(label), "--config %s: netdev %zu", path,
			 i + 1);
		add_netdev(cfg, json_incref(json_array_get(arr, i)), label);
	}
	json_decref(arr);
}

/* -chardev: QEMU's keyval form, as chardev-add arguments */
static void add_chardev_spec(struct daemon_config *cfg, const char *spec)
{
	struct nh_error *err = NULL;
	json_t *obj = chardev_parse_cli(spec, &err);
	char label[512];

	if (!obj) {
		fprintf(stderr, "nethubd: -chardev %s: %s\n", spec, err->msg);
		nh_error_free(err);
		exit(1);
	}
	snprintf(label, sizeof(label), "-chardev %s", spec);
	json_array_append_new(cfg->chardevs, obj);
	json_array_append_new(cfg->chardev_labels, json_string(label));
}

/* -object: QEMU's keyval form (the first item is the qom-type) or JSON;
 * checked and started by the daemon once the netdevs are up */
static void add_object_spec(struct daemon_config *cfg, const char *spec)
{
	struct nh_error *err = NULL;
	json_t *obj = opts_parse(spec, "qom-type", &err);
	char label[512];

	if (!obj) {
		fprintf(stderr, "nethubd: -object %s: %s\n", spec, err->msg);
		nh_error_free(err);
		exit(1);
	}
	snprintf(label, sizeof(label), "-object %s", spec);
	json_array_append_new(cfg->objects, obj);
	json_array_append_new(cfg->object_labels, json_string(label));
}

/* The -qmp sockets, parsed; served by the "-qmp" daemon service */
#define QMP_LISTEN_MAX 8

static struct qmp_listen_config *qmp_listens[QMP_LISTEN_MAX];
static unsigned qmp_nlistens;
static struct qmp_limits qmp_limits = {
	.max_sessions = QMP_MAX_SESSIONS_DEFAULT,
	.handshake_timeout_s = QMP_HANDSHAKE_TIMEOUT_DEFAULT_S,
};
#define RUN_DIR_MAX 1024
static char default_qmp_note[2 * RUN_DIR_MAX + 96];

static void add_qmp_spec(const char *spec)
{
	struct nh_error *err = NULL;
	struct qmp_listen_config *lc;

	if (qmp_nlistens == QMP_LISTEN_MAX) {
		fprintf(stderr, "nethubd: -qmp %s: at most %d QMP sockets\n",
			spec, QMP_LISTEN_MAX);
		exit(1);
	}
	lc = qmp_listen_parse(spec, &err);
	if (!lc) {
		fprintf(stderr, "nethubd: %s\n", err->msg);
		nh_error_free(err);
		exit(1);
	}
	qmp_listens[qmp_nlistens++] = lc;
}

static void free_qmp_specs(void)
{
	while (qmp_nlistens > 0)
		qmp_listen_config_free(qmp_listens[--qmp_nlistens]);
}

/*
 * The run directory of the default configuration: /run/nethub for root,
 * else $XDG_RUNTIME_DIR/nethub, else /tmp/nethub-UID (nethubctl looks in
 * the same places).  Created 0700 if missing.
 */
static void default_run_dir(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (geteuid() == 0)
		snprintf(buf, size, "/run/nethub");
	else if (xdg && *xdg)
		snprintf(buf, size, "%s/nethub", xdg);
	else
		snprintf(buf, size, "/tmp/nethub-%u", (unsigned)geteuid());
}

static void add_default_qmp(struct daemon_config *cfg)
{
	char dir[RUN_DIR_MAX], spec[RUN_DIR_MAX + 32];
	struct stat st;

	default_run_dir(dir, sizeof(dir));
	if (mkdir(dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "nethubd: cannot create the run directory %s: %s\n",
			dir, strerror(errno));
		exit(1);
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		fprintf(stderr,
			"nethubd: run directory %s is not a directory of "
			"this user\n",
			dir);
		exit(1);
	}
	snprintf(spec, sizeof(spec), "unix:%s/qmp.sock", dir);
	add_qmp_spec(spec);
	snprintf(default_qmp_note, sizeof(default_qmp_note),
		 "QMP control socket: %s/qmp.sock (try: nethubctl -s %s/qmp.sock "
		 "show)",
		 dir, dir);
	cfg->attach_note = default_qmp_note;
}

static bool qmp_service_start(uv_loop_t *loop, void *arg,
			      struct nh_error **errp)
{
	(void)arg;
	return qmp_start(loop, qmp_listens, qmp_nlistens, &qmp_limits, errp);
}

static void qmp_service_stop(void *arg)
{
	(void)arg;
	qmp_stop();
}

/* --user, --sandbox, --allow-run, --files-dir: the daemon's confine hook */
static struct sandbox_config sandbox = { .confine = true };

static bool sandbox_hook(void *arg, struct nh_error **errp)
{
	(void)arg;
	return sandbox_apply(&sandbox, errp);
}

static void parse_privilege_option(int opt, const char *arg)
{
	struct nh_error *err = NULL;

	switch (opt) {
	case OPT_USER:
		if (geteuid() != 0) {
			fprintf(stderr, "nethubd: --user: only root can change "
					"its user\n");
			exit(1);
		}
		if (!sandbox_parse_user(arg, &sandbox.user, &err))
			break;
		sandbox.change_user = true;
		return;
	case OPT_SANDBOX:
		if (strcmp(arg, "on") && strcmp(arg, "off"))
			die_option("--sandbox", "on or off", arg);
		sandbox.confine = !strcmp(arg, "on");
		return;
	case OPT_ALLOW_RUN:
		sandbox_set_allow_run(true);
		return;
	case OPT_FILES_DIR:
		if (userfile_set_root(arg, &err))
			return;
		break;
	}
	fprintf(stderr, "nethubd: %s\n", err->msg);
	nh_error_free(err);
	exit(1);
}

int main(int argc, char **argv)
{
	struct daemon_config cfg = {
		.io = IO_ENGINE_AUTO,
		.hub = {
			.fdb_age_ms = FDB_AGE_DEFAULT_S * 1000ull,
			.fdb_max = FDB_MAX_DEFAULT,
			.fdb_port_max = FDB_PORT_MAX_DEFAULT,
			.fdb_netdev_max = FDB_GROUP_MAX_DEFAULT,
		},
	};
	enum log_level level;
	bool configured = false;
	int c, status;

	backends_register_all();
	cfg.chardevs = json_array();
	cfg.chardev_labels = json_array();
	cfg.netdevs = json_array();
	cfg.labels = json_array();
	cfg.objects = json_array();
	cfg.object_labels = json_array();
	opterr = 0;
	while ((c = getopt_long_only(argc, argv, ":dhV", long_opts, NULL)) !=
	       -1) {
		switch (c) {
		case OPT_NETDEV:
			add_netdev_spec(&cfg, optarg);
			configured = true;
			break;
		case OPT_CHARDEV:
			add_chardev_spec(&cfg, optarg);
			break;
		case OPT_CONFIG:
			add_config_file(&cfg, optarg);
			configured = true;
			break;
		case OPT_IO:
			if (!io_engine_parse(optarg, &cfg.io))
				die_option("--io", "auto, uring or epoll",
					   optarg);
			break;
		case OPT_LOG_LEVEL:
			if (!log_level_parse(optarg, &level))
				die_option("--log-level",
					   "error, warn, info or debug", optarg);
			log_set_level(level);
			break;
		case OPT_PIDFILE:
			cfg.pidfile = optarg;
			break;
		case OPT_STATS_FILE:
			cfg.stats_file = optarg;
			break;
		case OPT_FDB_AGE:
			cfg.hub.fdb_age_ms =
				parse_count("--fdb-age", optarg, 1,
					    FDB_AGE_MAX_S) *
				1000;
			break;
		case OPT_STALL_MS:
			port_set_stall_limit((uint32_t)parse_count(
				"--stall-ms", optarg, 0, PORT_STALL_MAX_MS));
			break;
		case OPT_FDB_MAX:
			cfg.hub.fdb_max = (uint32_t)parse_count(
				"--fdb-max", optarg, 1, FDB_LIMIT_MAX);
			break;
		case OPT_FDB_PORT_MAX:
			cfg.hub.fdb_port_max = (uint32_t)parse_count(
				"--fdb-port-max", optarg, 1, FDB_LIMIT_MAX);
			break;
		case OPT_FDB_NETDEV_MAX:
			cfg.hub.fdb_netdev_max = (uint32_t)parse_count(
				"--fdb-netdev-max", optarg, 1, FDB_LIMIT_MAX);
			break;
		case OPT_QMP:
			add_qmp_spec(optarg);
			break;
		case OPT_OBJECT:
			add_object_spec(&cfg, optarg);
			break;
		case OPT_QMP_MAX_SESSIONS:
			qmp_limits.max_sessions = (unsigned)parse_count(
				"--qmp-max-sessions", optarg, 1,
				QMP_MAX_SESSIONS_MAX);
			break;
		case OPT_QMP_HANDSHAKE_TIMEOUT:
			qmp_limits.handshake_timeout_s = (unsigned)parse_count(
				"--qmp-handshake-timeout", optarg, 0,
				QMP_HANDSHAKE_TIMEOUT_MAX_S);
			break;
		case OPT_USER:
		case OPT_SANDBOX:
		case OPT_ALLOW_RUN:
		case OPT_FILES_DIR:
			parse_privilege_option(c, optarg);
			break;
		case 'd':
			cfg.daemonize = true;
			break;
		case 'h':
			usage(stdout);
			status = 0;
			goto out;
		case 'V':
			printf("nethubd %s\n", NETHUB_VERSION);
			status = 0;
			goto out;
		case ':':
			fprintf(stderr, "nethubd: %s: needs a value\n",
				argv[optind - 1]);
			status = 1;
			goto out;
		default:
			fprintf(stderr,
				"nethubd: unknown option '%s' (see --help)\n",
				argv[optind - 1]);
			status = 1;
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"nethubd: unexpected argument '%s' (see --help)\n",
			argv[optind]);
		status = 1;
		goto out;
	}
	if (!configured) {
		add_netdev_spec(&cfg, DAEMON_DEFAULT_NETDEV);
		if (qmp_nlistens == 0)
			add_default_qmp(&cfg);
		cfg.using_defaults = true;
	}
	if (qmp_nlistens > 0)
		cfg.services[cfg.nservices++] = (struct daemon_service){
			.name = "-qmp",
			.start = qmp_service_start,
			.stop = qmp_service_stop,
		};

	for (unsigned i = 0; i < qmp_nlistens; i++)
		if (qmp_listens[i]->kind == QMP_LISTEN_UNIX)
			sandbox_add_own_file(&sandbox, qmp_listens[i]->path);
	for (size_t i = 0; i < json_array_size(cfg.chardevs); i++) {
		const json_t *data = json_object_get(
			json_object_get(json_array_get(cfg.chardevs, i),
					"backend"),
			"data");

		if (json_is_true(json_object_get(data, "server")))
			sandbox_add_own_file(
				&sandbox,
				json_string_value(json_object_get(
					json_object_get(json_object_get(data,
									"addr"),
							"data"),
					"path")));
	}
	sandbox_add_own_file(&sandbox, cfg.pidfile);
	sandbox_add_own_file(&sandbox, cfg.stats_file);
	cfg.confine = sandbox_hook;
	status = daemon_run(&cfg);
out:
	free_qmp_specs();
	json_decref(cfg.chardevs);
	json_decref(cfg.chardev_labels);
	json_decref(cfg.netdevs);
	json_decref(cfg.labels);
	json_decref(cfg.objects);
	json_decref(cfg.object_labels);
	return status;
}
