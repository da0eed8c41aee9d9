/* SPDX-License-Identifier: MIT */
/* options.c - nethub-bench's command line: --help, and every option
 * parsed and checked into a struct bench_cfg before anything is opened
 *
 * A bad value stops the bench with a message naming the option and what
 * is wrong with it (bad_option()), e.g. "--ports: 3 is odd; pairwise needs
 * pairs"; a sweep is checked run by run, so none fails halfway for a
 * value that was wrong from the start.  Touches nothing but @cfg.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench.h"

#define BENCH_THREADS_MAX   64
#define BENCH_MACS_MAX	    (1u << 20) /* --macs, per port */
#define BENCH_MACS_TOTAL    (1u << 21) /* --macs times --ports */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: nethub-bench [--transport udp|tcp|tap|vde|vhost-user] "
		"[OPTION]...\n"
		"Attach N ports to a switch, send frames between them in a "
		"pattern and\nreport frames/s, loss, latency and the switch's "
		"CPU use (docs/bench.md).\n\n"
		"  --transport T          udp (default), tcp, tap (AF_PACKET on any "
		"interface;\n"
		"                         also called packet), vde or "
		"vhost-user\n"
		"  --udp-ports BASE       udp: port i binds 127.0.0.1:BASE+2i "
		"and sends to\n"
		"                         127.0.0.1:BASE+2i+1 (the switch's "
		"localaddr=)\n"
		"  --connect LIST         tcp: HOST:PORT; tap: interface "
		"names; vde: socket\n"
		"                         directory; one for all ports or "
		"one per port;\n"
		"                         vhost-user: socket path per port, "
		"or one template\n"
		"                         with %%d for the port number\n"
		"  --packet-io mmap|mmsg  tap: memory-mapped TPACKET_V3 rings, "
		"or\n"
		"                         sendmmsg/recvmmsg batches (the "
		"default)\n"
		"  --vhost-server         vhost-user: listen at the path (the "
		"back-end connects\n"
		"                         as a client) instead of connecting\n"
		"  --vhost-ring N         vhost-user: ring entries, a power "
		"of two (default 256)\n"
		"  --ports N|N,N,...      ports (default 2); a list sweeps "
		"(one run per value)\n"
		"  --frame-size B|B,B,... Ethernet frame, header included, "
		"no FCS (default 64);\n"
		"                         a list sweeps\n"
		"  --macs N               source MACs per port, and "
		"destination MACs (default 1)\n"
		"  --pattern P            pairwise (2k to 2k+1, default), "
		"all-to-all,\n"
		"                         broadcast or idle (send nothing)\n"
		"  --bidir                pairwise: port 2k+1 sends to 2k "
		"as well\n"
		"  --duration S           measured seconds (default 5)\n"
		"  --warmup S             seconds of traffic before measuring "
		"(default 1)\n"
		"  --rate FPS             total offered frames/s (default: as "
		"fast as possible)\n"
		"  --batch N              frames per send call (udp 64, tcp "
		"up to 256 KiB,\n"
		"                         vhost-user 64 per kick, tap 256 per "
		"ring flush or 64)\n"
		"  --threads N            worker threads (default 1)\n"
		"  --no-gso               udp: sendmmsg, not UDP GSO sends\n"
		"  --switch-pid PID       report that process's CPU use and "
		"context switches\n"
		"  --qmp PATH             the switch's QMP unix socket "
		"(nethubd's -qmp):\n"
		"                         its drops by reason, in the loss "
		"breakdown\n"
		"  --label TEXT           carried into the JSON output and "
		"plot title\n"
		"  --json                 JSON instead of the table\n"
		"  --progress, --no-progress\n"
		"                         a live line on stderr each second "
		"(default: on a tty)\n"
		"  --plot FILE.svg|FILE.png\n"
		"                         draw a sweep with gnuplot\n"
		"  --help, --version\n");
}

static void __attribute__((noreturn, format(printf, 2, 3)))
bad_option(const char *opt, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "nethub-bench: %s: ", opt);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* parse_uint() - a whole decimal number in [min, max]; Return: 0 or -1 */
static int parse_uint(const char *s, unsigned min, unsigned max,
		      unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || s[0] == '+' ||
	    isspace((unsigned char)s[0]) || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static unsigned opt_uint(const char *opt, const char *s, unsigned min,
			 unsigned max)
{
	unsigned v;

	if (parse_uint(s, min, max, &v))
		bad_option(opt, "'%s' is not a whole number from %u to %u", s,
			   min, max);
	return v;
}

int uint_list_parse(const char *s, unsigned min, unsigned max,
		    unsigned *vals, unsigned cap, char *err,
		    size_t errlen)
{
	char item[32];
	const char *p = s, *comma;
	unsigned n = 0;
	size_t len;

	for (;;) {
		comma = strchr(p, ',');
		len = comma ? (size_t)(comma - p) : strlen(p);
		if (!len || len >= sizeof(item)) {
			snprintf(err, errlen, "'%s' is not a number or a "
				 "comma-separated list of numbers", s);
			return -1;
		}
		memcpy(item, p, len);
		item[len] = 0;
		if (n == cap) {
			snprintf(err, errlen, "more than %u values in '%s'",
				 cap, s);
			return -1;
		}
		if (parse_uint(item, min, max, &vals[n])) {
			snprintf(err, errlen, "'%s' is not a whole number "
				 "from %u to %u", item, min, max);
			return -1;
		}
		n++;
		if (!comma)
			return (int)n;
		p = comma + 1;
	}
}

static double opt_double(const char *opt, const char *s, double min,
			 double max)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max))
		bad_option(opt, "'%s' is not a number from %g to %g", s, min,
			   max);
	return v;
}

static void split_connect(struct bench_cfg *cfg, char *list)
{
	char *tok, *save = NULL;

	cfg->n_connect = 0;
	free(cfg->connect);
	cfg->connect = calloc(BENCH_PORTS_MAX, sizeof(*cfg->connect));
	if (!cfg->connect)
		bad_option("--connect", "out of memory");
	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (cfg->n_connect == BENCH_PORTS_MAX)
			bad_option("--connect", "more than %u entries",
				   BENCH_PORTS_MAX);
		cfg->connect[cfg->n_connect++] = tok;
	}
	if (!cfg->n_connect)
		bad_option("--connect", "is empty");
}

const char *cfg_check_ports(const struct bench_cfg *cfg,
			    unsigned ports)
{
	if (cfg->pattern == BENCH_PATTERN_PAIRWISE && ports % 2)
		return "is odd; pairwise needs pairs";
	if ((uint64_t)cfg->macs * ports > BENCH_MACS_TOTAL)
		return "times --macs passes 2097152 MACs in total";
	if (cfg->threads > ports)
		return "is fewer than --threads";
	if (cfg->n_connect > 1 && cfg->n_connect < ports)
		return "is more than --connect's entries";
	return NULL;
}

void parse_options(struct bench_cfg *cfg, int argc, char **argv)
{
	enum {
		O_TRANSPORT = 256, O_CONNECT, O_UDP_PORTS, O_PORTS,
		O_FRAME_SIZE, O_DURATION, O_WARMUP, O_PATTERN, O_BIDIR,
		O_RATE, O_BATCH, O_THREADS, O_SWITCH_PID, O_QMP, O_LABEL, O_JSON,
		O_NO_GSO, O_MACS, O_PROGRESS, O_NO_PROGRESS, O_PLOT, O_HELP,
		O_VERSION, O_VHOST_SERVER, O_VHOST_RING, O_PACKET_IO,
	};
	static const struct option longopts[] = {
		{ "transport", required_argument, NULL, O_TRANSPORT },
		{ "connect", required_argument, NULL, O_CONNECT },
		{ "udp-ports", required_argument, NULL, O_UDP_PORTS },
		{ "ports", required_argument, NULL, O_PORTS },
		{ "frame-size", required_argument, NULL, O_FRAME_SIZE },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "warmup", required_argument, NULL, O_WARMUP },
		{ "pattern", required_argument, NULL, O_PATTERN },
		{ "bidir", no_argument, NULL, O_BIDIR },
		{ "rate", required_argument, NULL, O_RATE },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "switch-pid", required_argument, NULL, O_SWITCH_PID },
		{ "qmp", required_argument, NULL, O_QMP },
		{ "label", required_argument, NULL, O_LABEL },
		{ "json", no_argument, NULL, O_JSON },
		{ "no-gso", no_argument, NULL, O_NO_GSO },
		{ "macs", required_argument, NULL, O_MACS },
		{ "progress", no_argument, NULL, O_PROGRESS },
		{ "no-progress", no_argument, NULL, O_NO_PROGRESS },
		{ "plot", required_argument, NULL, O_PLOT },
		{ "vhost-server", no_argument, NULL, O_VHOST_SERVER },
		{ "vhost-ring", required_argument, NULL, O_VHOST_RING },
		{ "packet-io", required_argument, NULL, O_PACKET_IO },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	unsigned ports_vals[BENCH_SWEEP_MAX], fs_vals[BENCH_SWEEP_MAX];
	int n_ports = 0, n_fs = 0, progress = -1;
	unsigned max_frame, i, max_ports;
	const char *l, *why;
	char err[128];
	int c;

	memset(cfg, 0, sizeof(*cfg));
	cfg->transport = &transport_udp;
	cfg->ports = 2;
	cfg->frame_size = 64;
	cfg->duration_s = 5;
	cfg->warmup_s = 1;
	cfg->threads = 1;
	cfg->macs = 1;
	cfg->udp_gso = true;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_TRANSPORT:
			cfg->transport = transport_find(optarg);
			if (!cfg->transport)
				bad_option("--transport",
					   "'%s' is not one of udp, tcp, tap "
					   "(or packet), vde, vhost-user",
					   optarg);
			break;
		case O_CONNECT:
			split_connect(cfg, optarg);
			break;
		case O_UDP_PORTS:
			cfg->udp_base = opt_uint("--udp-ports", optarg, 1,
						 65534);
			break;
		case O_PORTS:
			n_ports = uint_list_parse(optarg, 2, BENCH_PORTS_MAX,
						  ports_vals, BENCH_SWEEP_MAX,
						  err, sizeof(err));
			if (n_ports < 0)
				bad_option("--ports", "%s", err);
			break;
		case O_FRAME_SIZE:
			n_fs = uint_list_parse(optarg, BENCH_FRAME_MIN,
					       BENCH_TCP_MAX, fs_vals,
					       BENCH_SWEEP_MAX, err,
					       sizeof(err));
			if (n_fs < 0)
				bad_option("--frame-size", "%s", err);
			break;
		case O_DURATION:
			cfg->duration_s = opt_double("--duration", optarg,
						     0.1, 3600);
			break;
		case O_WARMUP:
			cfg->warmup_s = opt_double("--warmup", optarg, 0,
						   3600);
			break;
		case O_PATTERN:
			if (pattern_find(optarg, &cfg->pattern))
				bad_option("--pattern",
					   "'%s' is not one of pairwise, "
					   "all-to-all, broadcast, idle",
					   optarg);
			break;
		case O_BIDIR:
			cfg->bidir = true;
			break;
		case O_RATE:
			cfg->rate_fps = opt_double("--rate", optarg, 0, 1e9);
			break;
		case O_BATCH:
			cfg->batch = opt_uint("--batch", optarg, 1,
					      BENCH_BATCH_MAX);
			break;
		case O_THREADS:
			cfg->threads = opt_uint("--threads", optarg, 1,
						BENCH_THREADS_MAX);
			break;
		case O_QMP:
			cfg->qmp = optarg;
			break;
		case O_SWITCH_PID:
			cfg->switch_pid = (pid_t)opt_uint("--switch-pid",
							  optarg, 1, INT_MAX);
			break;
		case O_LABEL:
			for (l = optarg; *l; l++)
				if (*l == '"' || *l == '\\' ||
				    (unsigned char)*l < 0x20)
					bad_option("--label",
						   "quotes, backslashes and "
						   "control characters are "
						   "not allowed");
			if (strlen(optarg) > 200)
				bad_option("--label", "longer than 200 "
					   "characters");
			cfg->label = optarg;
			break;
		case O_JSON:
			cfg->json = true;
			break;
		case O_NO_GSO:
			cfg->udp_gso = false;
			break;
		case O_MACS:
			cfg->macs = opt_uint("--macs", optarg, 1,
					     BENCH_MACS_MAX);
			break;
		case O_PROGRESS:
			progress = 1;
			break;
		case O_NO_PROGRESS:
			progress = 0;
			break;
		case O_PLOT:
			if (!*optarg)
				bad_option("--plot", "is empty");
			cfg->plot = optarg;
			break;
		case O_PACKET_IO:
			if (!strcmp(optarg, "mmap"))
				cfg->packet_io = BENCH_PACKET_IO_MMAP;
			else if (!strcmp(optarg, "mmsg"))
				cfg->packet_io = BENCH_PACKET_IO_MMSG;
			else
				bad_option("--packet-io", "'%s' is not one of "
					   "mmap, mmsg", optarg);
			break;
		case O_VHOST_SERVER:
			cfg->vhost_server = true;
			break;
		case O_VHOST_RING:
			cfg->vhost_ring = opt_uint("--vhost-ring", optarg,
						   VRING_NUM_MIN,
						   VRING_NUM_MAX);
			if (cfg->vhost_ring & (cfg->vhost_ring - 1))
				bad_option("--vhost-ring", "%u is not a power "
					   "of two", cfg->vhost_ring);
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		case O_VERSION:
			printf("nethub-bench %s\n", NETHUB_VERSION);
			exit(0);
		default:
			usage(stderr);
			exit(1);
		}
	}
	if (optind < argc)
		bad_option(argv[optind], "unexpected argument");
	cfg->progress = progress < 0 ? isatty(STDERR_FILENO) : progress;

	if (n_ports > 1 && n_fs > 1)
		bad_option("--ports", "a list sweeps, and so does "
			   "--frame-size's: sweep one at a time");
	if (n_ports > 1) {
		cfg->sweep = BENCH_SWEEP_PORTS;
		cfg->n_sweep = (unsigned)n_ports;
		memcpy(cfg->sweep_vals, ports_vals, sizeof(ports_vals));
	} else if (n_fs > 1) {
		cfg->sweep = BENCH_SWEEP_FRAME_SIZE;
		cfg->n_sweep = (unsigned)n_fs;
		memcpy(cfg->sweep_vals, fs_vals, sizeof(fs_vals));
	}
	if (n_ports)
		cfg->ports = ports_vals[0];
	if (n_fs)
		cfg->frame_size = fs_vals[0];

	/* every run of a sweep must be possible */
	max_ports = cfg->ports;
	max_frame = cfg->transport->max_frame;
	for (i = 0; i < cfg->n_sweep || i == 0; i++) {
		unsigned ports = cfg->sweep == BENCH_SWEEP_PORTS
					 ? cfg->sweep_vals[i] : cfg->ports;
		unsigned fs = cfg->sweep == BENCH_SWEEP_FRAME_SIZE
				      ? cfg->sweep_vals[i] : cfg->frame_size;

		why = cfg_check_ports(cfg, ports);
		if (why)
			bad_option("--ports", "%u %s", ports, why);
		if (fs > max_frame)
			bad_option("--frame-size", "%u is more than %s "
				   "carries (%u)", fs, cfg->transport->name,
				   max_frame);
		if (ports > max_ports)
			max_ports = ports;
	}
	if (cfg->bidir && cfg->pattern != BENCH_PATTERN_PAIRWISE)
		bad_option("--bidir", "is for --pattern pairwise; %s sends "
			   "every way already",
			   pattern_name(cfg->pattern));
	if (cfg->pattern == BENCH_PATTERN_IDLE && cfg->rate_fps > 0)
		bad_option("--rate", "--pattern idle sends nothing");
	if (cfg->plot) {
		if (!cfg->sweep)
			bad_option("--plot", "draws a sweep: give --ports or "
				   "--frame-size a list of values");
		l = strrchr(cfg->plot, '.');
		if (!l || (strcasecmp(l, ".svg") && strcasecmp(l, ".png")))
			bad_option("--plot", "'%s' does not end in .svg or "
				   ".png", cfg->plot);
		if (!find_in_path("gnuplot"))
			bad_option("--plot", "gnuplot is not in PATH (Debian: "
				   "apt-get install gnuplot-nox)");
	}
	if (cfg->transport == &transport_udp) {
		if (!cfg->udp_base)
			bad_option("--udp-ports", "is required with udp");
		if (cfg->udp_base + 2 * max_ports - 1 > 65535)
			bad_option("--udp-ports", "%u + 2 * %u ports passes "
				   "65535", cfg->udp_base, max_ports);
		if (cfg->n_connect)
			bad_option("--connect", "is for tcp, tap and vde, not "
				   "udp");
	} else {
		if (!cfg->n_connect)
			bad_option("--connect", "is required with %s",
				   cfg->transport->name);
		if (cfg->n_connect != 1 && cfg->n_connect != max_ports)
			bad_option("--connect", "%u entries for %u ports "
				   "(give one, or one per port)",
				   cfg->n_connect, max_ports);
		if (cfg->udp_base)
			bad_option("--udp-ports", "is for udp, not %s",
				   cfg->transport->name);
	}
	if (cfg->packet_io != BENCH_PACKET_IO_AUTO &&
	    cfg->transport != &transport_packet)
		bad_option("--packet-io", "is for tap, not %s",
			   cfg->transport->name);
	if (cfg->transport == &transport_vhost_user) {
		char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

		for (i = 0; i < cfg->n_connect; i++)
			if (vhost_user_path(cfg->connect[i], max_ports - 1,
					    path, sizeof(path)))
				bad_option("--connect", "'%s' is not a socket "
					   "path (at most %zu bytes) or a "
					   "template with one %%d",
					   cfg->connect[i], sizeof(path) - 1);
		if (cfg->n_connect == 1 && max_ports > 1 &&
		    !strstr(cfg->connect[0], "%d"))
			bad_option("--connect", "one vhost-user socket '%s' "
				   "for %u ports: give one per port, or a "
				   "template with %%d", cfg->connect[0],
				   max_ports);
	} else {
		if (cfg->vhost_server)
			bad_option("--vhost-server", "is for vhost-user, not "
				   "%s", cfg->transport->name);
		if (cfg->vhost_ring)
			bad_option("--vhost-ring", "is for vhost-user, not %s",
				   cfg->transport->name);
	}
}
