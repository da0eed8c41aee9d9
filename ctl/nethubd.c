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
#include "metrics_http.h"
#include "opts.h"
#include "port.h"
#include "qmp.h"
#include "registry.h"
#include "sandbox.h"
#include "state.h"
#include "userfile.h"

#define NH_STR_(x) #x
#define NH_STR(x)  NH_STR_(x)

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
	"  --config-if-present FILE\n"
	"                      the same if FILE exists; else as if not given (the\n"
	"                      service unit passes /etc/nethub/nethubd.conf so)\n"
	"  Without -netdev or --config, the default configuration is used:\n"
	"    -netdev " DAEMON_DEFAULT_NETDEV "\n"
	"    -qmp unix:RUNDIR/qmp.sock   (RUNDIR: /run/nethub as root, else\n"
	"                                $XDG_RUNTIME_DIR/nethub or /tmp/nethub-UID)\n"
	"\n"
	"Chardevs (unix sockets for vhost-user netdevs):\n"
	"  -chardev socket,id=ID,path=PATH[,server=on|off][,wait=on|off]\n"
	"          [,reconnect=SECONDS][,mode=0600][,group=NAME|GID]\n"
	"                      server=on: listen at PATH (mode 0600, or mode=,\n"
	"                      group=), one peer at a time, never waiting for\n"
	"                      it; else connect to PATH, again every\n"
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
	"                      Talk to it with nethubctl.  Listening sockets a\n"
	"                      service manager passes (LISTEN_FDS, socket\n"
	"                      activation) are served as QMP sockets too.\n"
	"  --qmp-max-sessions N\n"
	"                      QMP clients served at once (default %u); at the\n"
	"                      limit a new client displaces the oldest one still\n"
	"                      negotiating, else it is refused with an error\n"
	"  --qmp-handshake-timeout SECONDS\n"
	"                      close a QMP client that has not sent\n"
	"                      qmp_capabilities within this time (default %u;\n"
	"                      0: never)\n"
	"\n"
	"Monitoring:\n"
	"  -metrics http:[HOST:]PORT\n"
	"                      serve every counter for a Prometheus scrape at\n"
	"                      http://HOST:PORT/metrics (HOST: 127.0.0.1 unless\n"
	"                      given; [::1] for IPv6); the same text as\n"
	"                      'nethubctl metrics'\n"
	"\n"
	"Types: socket (listen=, connect=[,reconnect=S], udp=+localaddr=\n"
	"[,udp-any-source=on], mcast=, fd=), tap (ifname=, fd=, script=,\n"
	"vnet_hdr=, queues=, ...), bridge (br=, helper=), nic (netdev=, macaddr=),\n"
	"pcap (ifname= | file=[,rate=][,loop=]),\n"
	"stream (addr.type=unix|inet|fd,addr.path=|addr.host=,addr.port=,\n"
	"server=on|off[,reconnect=S][,mode=0660]), dgram (local.*=, remote.*=),\n"
	"vde (sock=DIR|URL[,port=] | vdeserver=DIR[,mode=][,group=]),\n"
	"l2tpv3 (src=, dst=, txsession=[,udp=on,srcport=,dstport=][,cookies]),\n"
	"vxlan (vni=[,local=][,remote=|remote.N=|group=][,dstport=][,ttl=]),\n"
	"hubport (hubid=, netdev=), none.\n"
	"Every netdev not named by a hubport is on hub 0.  See docs/usage.md.\n"
	"A VM whose QEMU listens (-netdev socket,listen=) and a nethub netdev\n"
	"socket,connect=...,reconnect=1 survive a nethubd restart; QEMU's\n"
	"connect= does not reconnect.\n"
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
	"  --allow-run         let tap/bridge script=, downscript= and helper=,\n"
	"                      and user guestfwd=...-cmd: and smb= run programs\n"
	"                      (default: refused; implies no seccomp and no\n"
	"                      Landlock, which the programs would inherit)\n"
	"  --files-dir DIR     capture and replay files only beneath DIR\n"
	"\n"
	"Process:\n"
	"  -d, --daemonize     run in the background once started\n"
	"  --pidfile FILE      write the process id to FILE once started; FILE\n"
	"                      stays locked while nethubd runs, so a second\n"
	"                      nethubd given the same FILE refuses to start\n"
	"  --stats-file FILE   on SIGUSR1, write the whole state as JSON to FILE\n"
	"  --state FILE        keep what QMP clients change (netdevs, chardevs,\n"
	"                      links, static FDB entries, MAC limits, rx\n"
	"                      filters, port aliases) in FILE, rewritten on each\n"
	"                      change, and restore it at start; the command\n"
	"                      line's netdevs come first and win over saved\n"
	"                      ones of the same id (default with the default\n"
	"                      configuration: RUNDIR/state/nethubd.state; else\n"
	"                      none)\n"
	"  --no-state          keep no state file\n"
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
	OPT_STATE,
	OPT_NO_STATE,
	OPT_CONFIG_IF_PRESENT,
	OPT_METRICS,
};

static const struct option long_opts[] = {
	{ "netdev", required_argument, NULL, OPT_NETDEV },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "config-if-present", required_argument, NULL,
	  OPT_CONFIG_IF_PRESENT },
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
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "qmp-max-sessions", required_argument, NULL, OPT_QMP_MAX_SESSIONS },
	{ "qmp-handshake-timeout", required_argument, NULL,
	  OPT_QMP_HANDSHAKE_TIMEOUT },
	{ "user", required_argument, NULL, OPT_USER },
	{ "sandbox", required_argument, NULL, OPT_SANDBOX },
	{ "allow-run", no_argument, NULL, OPT_ALLOW_RUN },
	{ "files-dir", required_argument, NULL, OPT_FILES_DIR },
	{ "state", required_argument, NULL, OPT_STATE },
	{ "no-state", no_argument, NULL, OPT_NO_STATE },
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

/* The paths of unix sockets the netdevs of the command line serve on,
 * kept for the sandbox (which borrows them) until the daemon exits */
static json_t *netdev_socket_paths;

/* netdev_member() - @key of @nd, flat ("addr.path", keyval) or nested
 * ({"addr": {"path": ...}}, JSON); NULL when absent */
static const json_t *netdev_member(const json_t *nd, const char *obj,
				   const char *key)
{
	char flat[64];
	const json_t *v;

	snprintf(flat, sizeof(flat), "%s.%s", obj, key);
	v = json_object_get(nd, flat);
	return v ? v : json_object_get(json_object_get(nd, obj), key);
}

/**
 * add_netdev_own_files() - the sandbox lets the daemon make and remove
 * files where a netdev serves: vde's vdeserver= directory, a stream
 * server's and a dgram's local unix path (not abstract ones)
 */
static void add_netdev_own_files(struct sandbox_config *sb,
				 const json_t *netdevs)
{
	static const char *const objs[] = {"addr", "local"};

	netdev_socket_paths = json_array();
	for (size_t i = 0; i < json_array_size(netdevs); i++) {
		const json_t *nd = json_array_get(netdevs, i);
		const char *dir =
		    json_string_value(json_object_get(nd, "vdeserver"));

		if (dir) {
			json_t *p = json_sprintf("%s/ctl", dir);

			json_array_append_new(netdev_socket_paths, p);
			sandbox_add_own_file(sb, json_string_value(p));
		}
		for (size_t k = 0; k < 2; k++) {
			const char *type = json_string_value(
			    netdev_member(nd, objs[k], "type"));
			const char *path = json_string_value(
			    netdev_member(nd, objs[k], "path"));
			const json_t *abs = netdev_member(nd, objs[k],
							  "abstract");
			bool abstract = json_is_true(abs);

			/* unparsable: the netdev is refused; grant nothing */
			if (json_is_string(abs) &&
			    !opts_parse_bool(json_string_value(abs), &abstract))
				abstract = true;
			/* an abstract name is no file */
			if (type && !strcmp(type, "unix") && path && !abstract)
				sandbox_add_own_file(sb, path);
		}
	}
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
static char default_qmp_note[2 * RUN_DIR_MAX + PATH_MAX + 96];

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

/*
 * systemd's socket activation: LISTEN_PID is ours and LISTEN_FDS sockets
 * start at fd 3; each is served as a QMP socket.  The variables are unset
 * so that programs nethubd runs do not take the sockets for theirs.
 */
#define LISTEN_FDS_START 3

static void add_activated_qmp(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	struct nh_error *err = NULL;
	char *end;
	long n;

	if (!pid || !fds || strtol(pid, &end, 10) != (long)getpid() || *end)
		return;
	n = strtol(fds, &end, 10);
	if (*end || n < 0 || n > QMP_LISTEN_MAX - (long)qmp_nlistens) {
		fprintf(stderr,
			"nethubd: LISTEN_FDS=%s: expects a number of sockets "
			"from 0 to %u\n",
			fds, QMP_LISTEN_MAX - qmp_nlistens);
		exit(1);
	}
	for (long i = 0; i < n; i++) {
		struct qmp_listen_config *lc =
			qmp_listen_inherit(LISTEN_FDS_START + (int)i, &err);

		if (!lc) {
			fprintf(stderr, "nethubd: %s\n", err->msg);
			nh_error_free(err);
			exit(1);
		}
		qmp_listens[qmp_nlistens++] = lc;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
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

/* Is @dir one of $PATH's directories? */
static bool dir_on_path(const char *dir)
{
	const char *p = getenv("PATH");
	size_t n = strlen(dir);

	while (p && *p) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && !strncmp(p, dir, n))
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

/*
 * How to run nethubctl: "nethubctl" when nethubd runs from PATH (as
 * installed), else the nethubctl beside this nethubd (build/ctl/), which
 * is not on PATH
 */
static const char *nethubctl_command(void)
{
	static char path[PATH_MAX];
	char self[PATH_MAX - 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return "nethubctl";
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return "nethubctl";
	*slash = '\0';
	snprintf(path, sizeof(path), "%s/nethubctl", self);
	if (access(path, X_OK) || dir_on_path(self))
		return "nethubctl";
	return path;
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
		 "QMP control socket: %s/qmp.sock (try: %s -s %s/qmp.sock "
		 "show)",
		 dir, nethubctl_command(), dir);
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

/* -metrics: the "-metrics" daemon service */
static struct metrics_http_config *metrics_cfg;

static void set_metrics_spec(const char *spec)
{
	struct nh_error *err = NULL;

	metrics_http_config_free(metrics_cfg);
	metrics_cfg = metrics_http_parse(spec, &err);
	if (!metrics_cfg) {
		fprintf(stderr, "nethubd: %s\n", err->msg);
		nh_error_free(err);
		exit(1);
	}
}

static bool metrics_service_start(uv_loop_t *loop, void *arg,
				  struct nh_error **errp)
{
	return metrics_http_start(loop, arg, errp);
}

static void metrics_service_stop(void *arg)
{
	(void)arg;
	metrics_http_stop();
}

/* --user, --sandbox, --allow-run, --files-dir: the daemon's confine hook */
static struct sandbox_config sandbox = { .confine = true };

/* Once confined, the state file is written: a file the daemon can no
 * longer write (--user, Landlock) fails the start-up, not a later change */
static bool sandbox_hook(void *arg, struct nh_error **errp)
{
	(void)arg;
	if (!sandbox_apply(&sandbox, errp))
		return false;
	if (state_path() && !state_save(errp)) {
		if (sandbox.change_user)
			nh_error_prepend(errp, "after becoming user %s: ",
					 sandbox.user.name);
		return false;
	}
	return true;
}

/* --state, --no-state, and the default (with the default configuration) */
static const char *state_file;
static bool state_off;
static char default_state_file[RUN_DIR_MAX + 32];

static bool state_service_start(uv_loop_t *loop, void *arg,
				struct nh_error **errp)
{
	(void)arg;
	qmp_set_change_hook(state_note);
	return state_restore(loop, errp);
}

static void state_service_stop(void *arg)
{
	(void)arg;
	qmp_set_change_hook(NULL);
	state_stop();
}

/*
 * RUNDIR/state, made 0700 for the user nethubd runs as once started (the
 * --user one), so that the state file stays writable after the drop; the
 * run directory (made by add_default_qmp()) becomes 0711 for it then
 */
static void default_state(void)
{
	char dir[RUN_DIR_MAX + 8];

	default_run_dir(dir, RUN_DIR_MAX);
	/* --user's user must get through the run directory (0700, root's)
	 * to its state directory: let it pass, not list (0711) */
	if (sandbox.change_user && chmod(dir, 0711)) {
		fprintf(stderr, "nethubd: cannot let user %s through the run "
			"directory %s: %s\n", sandbox.user.name, dir,
			strerror(errno));
		exit(1);
	}
	strcat(dir, "/state");
	if (mkdir(dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "nethubd: cannot create the state directory "
			"%s: %s\n", dir, strerror(errno));
		exit(1);
	}
	if (sandbox.change_user &&
	    chown(dir, sandbox.user.uid, sandbox.user.gid)) {
		fprintf(stderr, "nethubd: cannot give the state directory %s "
			"to user %s: %s\n", dir, sandbox.user.name,
			strerror(errno));
		exit(1);
	}
	snprintf(default_state_file, sizeof(default_state_file),
		 "%s/nethubd.state", dir);
	state_file = default_state_file;
}

/* Read the state file (before anything starts) and run it as a service
 * once the command line's netdevs and QMP are up */
static void setup_state(struct daemon_config *cfg)
{
	struct nh_error *err = NULL;

	if (state_off || !state_file)
		return;
	if (!state_load(state_file, &err)) {
		fprintf(stderr, "nethubd: %s (fix or remove the file, or "
			"start with --no-state)\n", err->msg);
		nh_error_free(err);
		exit(1);
	}
	sandbox_add_own_file(&sandbox, state_file);
	cfg->services[cfg->nservices++] = (struct daemon_service){
		.name = "--state",
		.start = state_service_start,
		.stop = state_service_stop,
	};
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
		case OPT_CONFIG_IF_PRESENT:
			if (access(optarg, F_OK) && errno == ENOENT)
				break;
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
		case OPT_STATE:
			state_file = optarg;
			break;
		case OPT_NO_STATE:
			state_off = true;
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
		case OPT_METRICS:
			set_metrics_spec(optarg);
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
	if (state_off && state_file) {
		fprintf(stderr, "nethubd: --state and --no-state: give one\n");
		status = 1;
		goto out;
	}
	add_activated_qmp();
	if (!configured) {
		/* errors name what the user did: nothing */
		add_netdev(&cfg, opts_parse(DAEMON_DEFAULT_NETDEV, "type", NULL),
			   "the default configuration (nethubd started "
			   "without -netdev or --config), its netdev 'vms' "
			   "on 127.0.0.1:" NH_STR(DAEMON_DEFAULT_PORT));
		if (qmp_nlistens == 0)
			add_default_qmp(&cfg);
		if (!state_file && !state_off)
			default_state();
		cfg.using_defaults = true;
	}
	if (qmp_nlistens > 0)
		cfg.services[cfg.nservices++] = (struct daemon_service){
			.name = "-qmp",
			.start = qmp_service_start,
			.stop = qmp_service_stop,
		};
	setup_state(&cfg);
	if (metrics_cfg)
		cfg.services[cfg.nservices++] = (struct daemon_service){
			.name = "-metrics",
			.start = metrics_service_start,
			.stop = metrics_service_stop,
			.arg = metrics_cfg,
		};

	for (unsigned i = 0; i < qmp_nlistens; i++) {
		const struct qmp_listen_config *lc = qmp_listens[i];

		if (lc->kind == QMP_LISTEN_UNIX)
			sandbox_add_own_file(&sandbox, lc->path);
		/* an activated socket's directory (/run/nethub) is ours too:
		 * vhost-user sockets go there */
		else if (lc->kind == QMP_LISTEN_FD &&
			 !strncmp(lc->path, "unix:/", 6))
			sandbox_add_own_file(&sandbox, lc->path + 5);
	}
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
	add_netdev_own_files(&sandbox, cfg.netdevs);
	sandbox_add_own_file(&sandbox, cfg.pidfile);
	sandbox_add_own_file(&sandbox, cfg.stats_file);
	cfg.confine = sandbox_hook;
	status = daemon_run(&cfg);
out:
	free_qmp_specs();
	json_decref(netdev_socket_paths);
	metrics_http_config_free(metrics_cfg);
	json_decref(cfg.chardevs);
	json_decref(cfg.chardev_labels);
	json_decref(cfg.netdevs);
	json_decref(cfg.labels);
	json_decref(cfg.objects);
	json_decref(cfg.object_labels);
	return status;
}
