// SPDX-License-Identifier: MIT
/* nethubctl.c - nethubctl's main(): options, help, one-shot commands
 *
 * Reads the global options, then hands the rest of the command line to a
 * view (show, fdb, events, top) or to capture, or runs it as one QMP
 * command: KEY=VALUE words typed by the server's schema, or a whole
 * request as JSON.  Prints
 * the answer as JSON on stdout; a QMP error as "error: CLASS: desc" on
 * stderr (exit 1); usage and connection problems as "nethubctl: ..." on
 * stderr (exit 2).
 *
 * A pure client: it never links the daemon's code.
 */

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nethubctl.h"

#define CTL_JSON_STDIN_MAX (16u << 20) /* --json -: bytes read at most */
#define CTL_SECONDS_MAX	   86400.0

static const char usage_text[] =
    "Usage: nethubctl [OPTION]... COMMAND [KEY=VALUE]...\n"
    "       nethubctl [OPTION]... --json REQUEST\n"
    "       nethubctl [OPTION]... show | fdb [HUB] | events | top\n"
    "       nethubctl [OPTION]... capture PORT|--hub ID [FILTER]... "
    "[CAPTURE OPTION]...\n"
    "Talk to nethubd, or any QMP server, over its QMP control socket.\n"
    "\n"
    "Commands:\n"
    "  COMMAND [KEY=VALUE]...\n"
    "                  run a QMP command (query-commands lists them) and\n"
    "                  print its answer as JSON.  Values are typed by the\n"
    "                  server's schema: integers (decimal or 0x hex),\n"
    "                  booleans (on/off, yes/no, true/false), numbers,\n"
    "                  strings.  a.b=V sets member b of object a; l.0=V\n"
    "                  l.1=V (or l=V twice) make a list; a value starting\n"
    "                  with '{' or '[' is JSON text.  For example:\n"
    "                    nethubctl netdev_add type=socket id=s1 listen=:5556\n"
    "  --json REQUEST  send REQUEST, a whole QMP request as JSON,\n"
    "                  {\"execute\": COMMAND, \"arguments\": {...}} (\"-\": "
    "read\n"
    "                  it from stdin), and print its answer\n"
    "  show [--help]   hubs and their ports: netdev, type, link, MTU, peer\n"
    "                  address, learned MACs, aliases (--help: what\n"
    "                  each field means)\n"
    "  fdb [HUB]       the MAC tables: MAC, VLAN, PORT, AGE (s), STATIC\n"
    "  events [--pretty] [--count N] [--timeout S] [--event NAME]...\n"
    "                  print events as they arrive, one JSON object a line\n"
    "                  (--pretty: indented); stop after N events (exit 1 if\n"
    "                  --timeout S ends the wait first) or after S seconds;\n"
    "                  --event: only events of these names\n"
    "  top [--interval S] [--once | --iterations N]\n"
    "                  per-port frames/s, bit/s and drops/s, refreshed every\n"
    "                  S seconds (default 1) until interrupted; print N\n"
    "                  tables and exit with --iterations N (--once: one)\n"
    "  capture PORT|--hub ID [FILTER]... [-w FILE] [-q rx|tx|all]\n"
    "          [-S N] [-c N]\n"
    "                  capture the frames of PORT (a netdev, a NIC or an\n"
    "                  accepted port ID.N) or of every port of hub ID,\n"
    "                  through a FIFO that nethubd writes (so nethubd must\n"
    "                  run on this host); FILTER: a pcap-filter expression\n"
    "                  as tcpdump takes it.  On a terminal, one line per\n"
    "                  frame; else pcap on stdout (| tcpdump -r -,\n"
    "                  | wireshark -k -i -).  Stops on Ctrl-C, removes the\n"
    "                  capture and prints what it saw on stderr\n"
    "    -w, --write FILE   write pcap to FILE (\"-\": stdout)\n"
    "    -q, --queue Q      rx: frames sent to PORT, tx: frames from it,\n"
    "                       all (default)\n"
    "    -S, --snaplen N    keep at most N bytes of each frame (default\n"
    "                       65536)\n"
    "    -c, --count N      stop after N frames\n"
    "  help            show this help\n"
    "\n"
    "Options:\n"
    "  -s, --socket SOCKET\n"
    "                  the QMP socket: PATH, unix:PATH or tcp:HOST:PORT\n"
    "                  (default: $" CTL_SOCKET_ENV ", else %s)\n"
    "  -t, --timeout S give up connecting, or waiting for a reply, after S\n"
    "                  seconds (default %g)\n"
    "  -n, --dry-run   print the request a command would send, its values\n"
    "                  typed, instead of sending it\n"
    "  -h, --help      show this help and exit\n"
    "  -V, --version   show the version and exit\n"
    "\n"
    "Exit status: 0 done; 1 the server answered with an error; 2 bad usage\n"
    "or no usable connection.  See docs/nethubctl.md.\n";

static void usage(FILE *to)
{
	char where[4096];

	ctl_daemon_socket(where, sizeof(where));
	fprintf(to, usage_text, where, CTL_TIMEOUT_DEFAULT_S);
}

int ctl_parse_seconds(const char *opt, const char *text, double min_s,
		      double *out)
{
	char *end;
	double v = strtod(text, &end);

	if (!*text || *end || !isfinite(v) || v < min_s ||
	    v > CTL_SECONDS_MAX || (min_s == 0 && v <= 0))
		return ctl_fail("%s expects a number of seconds from %g to %g, "
				"got '%s'",
				opt, min_s, CTL_SECONDS_MAX, text);
	*out = v;
	return 0;
}

int ctl_parse_count(const char *opt, const char *text, long *out)
{
	char *end;
	long v = strtol(text, &end, 10);

	if (!*text || *end || v < 1 || v > 0x7fffffffL)
		return ctl_fail("%s expects a whole number from 1 to %ld, got "
				"'%s'",
				opt, 0x7fffffffL, text);
	*out = v;
	return 0;
}

/* Print a command's answer, 2-space indented */
static int print_return(const json_t *ret)
{
	char *text = json_dumps(ret, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (!text)
		return ctl_fail("out of memory");
	puts(text);
	free(text);
	return 0;
}

/* Read all of stdin (for --json -); caller frees */
static char *read_stdin(void)
{
	size_t len = 0, cap = 4096, n;
	char *buf = malloc(cap), *nbuf;

	while (buf) {
		if (cap - len < 2) {
			nbuf = cap < CTL_JSON_STDIN_MAX ? realloc(buf, cap * 2)
							: NULL;
			if (!nbuf) {
				free(buf);
				return NULL;
			}
			buf = nbuf;
			cap *= 2;
		}
		n = fread(buf + len, 1, cap - len - 1, stdin);
		len += n;
		if (n == 0)
			break;
	}
	if (buf)
		buf[len] = '\0';
	return buf;
}

/* Run one whole request (--json) */
static int run_json(const struct ctl_opts *opts, const char *text)
{
	struct ctl_conn *c = NULL;
	json_t *req, *ret = NULL, *error = NULL;
	json_error_t jerr;
	char *input = NULL;
	int rc;

	if (!strcmp(text, "-")) {
		input = read_stdin();
		if (!input)
			return ctl_fail(
			    "--json -: cannot read the request from "
			    "stdin");
		text = input;
	}
	req = json_loads(text, 0, &jerr);
	free(input);
	if (!req)
		return ctl_fail("--json: bad JSON: %s", jerr.text);
	if (!json_is_object(req) ||
	    !json_is_string(json_object_get(req, "execute"))) {
		json_decref(req);
		return ctl_fail("--json: expected a QMP request, {\"execute\": "
				"COMMAND, \"arguments\": {...}}");
	}
	if (opts->dry_run) {
		rc = print_return(req);
		json_decref(req);
		return rc;
	}
	rc = ctl_open(opts, &c);
	if (!rc)
		rc = ctl_request(c, req, &ret, &error);
	if (rc == CTL_EXIT_QMP)
		ctl_print_qmp_error(error);
	if (!rc)
		rc = print_return(ret);
	json_decref(ret);
	json_decref(error);
	json_decref(req);
	ctl_close(c);
	return rc;
}

/* Run COMMAND with KEY=VALUE words */
static int run_command(const struct ctl_opts *opts, const char *command,
		       char *const *words, int n)
{
	struct ctl_conn *c = NULL;
	const json_t *schema = NULL;
	json_t *args = NULL, *ret = NULL;
	int rc;

	rc = ctl_open(opts, &c);
	if (!rc && n > 0)
		schema = ctl_schema(c, &rc);
	if (!rc && n > 0)
		rc = ctl_args_build(schema, command, words, n, &args);
	/* a remote nethubd (tcp:) does not share our file system */
	if (!rc && strncmp(ctl_where(c), "tcp:", 4))
		rc = ctl_args_absolute(command, args);
	if (!rc && opts->dry_run) {
		ret = json_pack("{ss}", "execute", command);
		if (args)
			json_object_set_new(ret, "arguments", args);
	} else if (!rc) {
		rc = ctl_call(c, command, args, &ret);
	}
	if (!rc)
		rc = print_return(ret);
	json_decref(ret);
	ctl_close(c);
	return rc;
}

static const struct {
	const char *name;
	int (*main)(const struct ctl_opts *opts, int argc, char **argv);
} views[] = {
    {"show", ctl_show_main},
    {"fdb", ctl_fdb_main},
    {"events", ctl_events_main},
    {"top", ctl_top_main},
    /* not a view, but run the same way */
    {"capture", ctl_capture_main},
};

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"timeout", required_argument, NULL, 't'},
	    {"json", required_argument, NULL, 'j'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct ctl_opts opts = {.timeout_s = CTL_TIMEOUT_DEFAULT_S};
	const char *json = NULL, *command;
	int opt;

	/* '+': options end at COMMAND; what follows is the command's */
	while ((opt = getopt_long(argc, argv, "+s:t:nhV", long_opts, NULL)) !=
	       -1) {
		switch (opt) {
		case 's':
			if (!*optarg)
				return ctl_fail("-s expects a socket, got ''");
			opts.socket = optarg;
			break;
		case 't':
			if (ctl_parse_seconds("--timeout", optarg, 0,
					      &opts.timeout_s))
				return CTL_EXIT_USAGE;
			break;
		case 'j':
			json = optarg;
			break;
		case 'n':
			opts.dry_run = true;
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("nethubctl %s\n", NETHUB_VERSION);
			return CTL_EXIT_OK;
		default:
			fputs("Try 'nethubctl --help'.\n", stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (json) {
		if (optind < argc)
			return ctl_fail("--json takes the whole request: "
					"unexpected '%s'",
					argv[optind]);
		return run_json(&opts, json);
	}
	if (optind == argc) {
		ctl_fail("no command given");
		fputs("Usage: nethubctl [OPTION]... COMMAND [KEY=VALUE]...\n"
		      "Try 'nethubctl --help'.\n",
		      stderr);
		return CTL_EXIT_USAGE;
	}
	command = argv[optind];
	if (!strcmp(command, "help")) {
		usage(stdout);
		return CTL_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++)
		if (!strcmp(command, views[i].name))
			return views[i].main(&opts, argc - optind,
					     argv + optind);
	if (command[0] == '-')
		return ctl_fail("unknown option '%s' (try 'nethubctl --help')",
				command);
	return run_command(&opts, command, argv + optind + 1,
			   argc - optind - 1);
}
