// SPDX-License-Identifier: MIT
/* main.c - nethubd's command line: QEMU-style options into a daemon_config
 *
 * Parses and checks everything it can before anything starts; a bad option
 * is one line on stderr naming it and exit status 1.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "fdb.h"
#include "log.h"
#include "opts.h"

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
	"\n"
	"Types: socket (listen=, connect=[,reconnect=S], udp=+localaddr=, mcast=,\n"
	"fd=), hubport (hubid=, netdev=), none.  Every netdev not named by a\n"
	"hubport is on hub 0.  See docs/usage.md.\n"
	"\n"
	"Switch:\n"
	"  --fdb-age SECONDS   forget a learned MAC after this idle time (default %d)\n"
	"  --fdb-max N         learned MACs per hub at most (default %u)\n"
	"  --fdb-port-max N    learned MACs per port at most (default %u)\n"
	"  --io auto|uring|epoll\n"
	"                      datapath I/O engine (default auto: io_uring, else\n"
	"                      epoll)\n"
	"\n"
	"Process:\n"
	"  -d, --daemonize     run in the background once started\n"
	"  --pidfile FILE      write the process id to FILE once started\n"
	"  --stats-file FILE   on SIGUSR1, write the whole state as JSON to FILE\n"
	"  --log-level LEVEL   error, warn, info (default) or debug\n"
	"  -h, --help          show this help and exit\n"
	"  -V, --version       show the version and exit\n"
	"\n"
	"Signals: SIGINT/SIGTERM stop cleanly; SIGUSR1 dumps the state.\n";

enum {
	OPT_NETDEV = 256,
	OPT_CONFIG,
	OPT_IO,
	OPT_LOG_LEVEL,
	OPT_PIDFILE,
	OPT_STATS_FILE,
	OPT_FDB_AGE,
	OPT_FDB_MAX,
	OPT_FDB_PORT_MAX,
};

static const struct option long_opts[] = {
	{ "netdev", required_argument, NULL, OPT_NETDEV },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "io", required_argument, NULL, OPT_IO },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "pidfile", required_argument, NULL, OPT_PIDFILE },
	{ "stats-file", required_argument, NULL, OPT_STATS_FILE },
	{ "fdb-age", required_argument, NULL, OPT_FDB_AGE },
	{ "fdb-max", required_argument, NULL, OPT_FDB_MAX },
	{ "fdb-port-max", required_argument, NULL, OPT_FDB_PORT_MAX },
	{ "daemonize", no_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *to)
{
	fprintf(to, usage_text, FDB_AGE_DEFAULT_S, FDB_MAX_DEFAULT,
		FDB_PORT_MAX_DEFAULT);
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

int main(int argc, char **argv)
{
	struct daemon_config cfg = {
		.io = IO_ENGINE_AUTO,
		.hub = {
			.fdb_age_ms = FDB_AGE_DEFAULT_S * 1000ull,
			.fdb_max = FDB_MAX_DEFAULT,
			.fdb_port_max = FDB_PORT_MAX_DEFAULT,
		},
	};
	enum log_level level;
	bool configured = false;
	int c, status;

	cfg.netdevs = json_array();
	cfg.labels = json_array();
	opterr = 0;
	while ((c = getopt_long_only(argc, argv, ":dhV", long_opts, NULL)) !=
	       -1) {
		switch (c) {
		case OPT_NETDEV:
			add_netdev_spec(&cfg, optarg);
			configured = true;
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
		case OPT_FDB_MAX:
			cfg.hub.fdb_max = (uint32_t)parse_count(
				"--fdb-max", optarg, 1, FDB_LIMIT_MAX);
			break;
		case OPT_FDB_PORT_MAX:
			cfg.hub.fdb_port_max = (uint32_t)parse_count(
				"--fdb-port-max", optarg, 1, FDB_LIMIT_MAX);
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
		cfg.using_defaults = true;
	}

	status = daemon_run(&cfg);
out:
	json_decref(cfg.netdevs);
	json_decref(cfg.labels);
	return status;
}
