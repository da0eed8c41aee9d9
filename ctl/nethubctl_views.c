// SPDX-License-Identifier: MIT
/* nethubctl_views.c - the readable views: show, fdb, events
 *
 * show: every hub with its ports (netdev, type, link, MTU, peer, learned
 * MACs), from query-hubs, query-netdevs and query-fdb, laid out like
 * `ovs-vsctl show`.  fdb: the MAC tables as columns.  events: every event
 * as one line of JSON, as it arrives.
 *
 * Reads what the server answers and prints it; asks for nothing else.
 * Missing members (an older or other server) leave a line out rather than
 * failing the view.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nethubctl.h"

#define VIEW_HUBS_MAX 4096 /* distinct hubs shown by show */

/* Reset getopt for a view's own words (@argv[0] is the view's name) */
static void view_getopt_reset(void)
{
	optind = 0;
}

/* Complain about words a view does not take */
static int view_extra(const char *view, int argc, char **argv)
{
	if (optind < argc)
		return ctl_fail("%s: unexpected '%s' (try 'nethubctl --help')",
				view, argv[optind]);
	return 0;
}

/* ---- show ---- */

/* Does the sorted set @ids[0..*n) have @id; add it if not */
static void hub_set_add(long long *ids, size_t *n, long long id)
{
	size_t i = 0;

	while (i < *n && ids[i] < id)
		i++;
	if ((i < *n && ids[i] == id) || *n == VIEW_HUBS_MAX)
		return;
	memmove(ids + i + 1, ids + i, (*n - i) * sizeof(*ids));
	ids[i] = id;
	(*n)++;
}

/* The hub a port is on: its own "hub", else its netdev's; -1 for none */
static long long port_hub(const json_t *nd, const json_t *port)
{
	long long hub = ctl_json_int(json_object_get(port, "hub"), -1);

	return hub >= 0 ? hub : ctl_json_int(json_object_get(nd, "hub"), -1);
}

/* "TYPE, key=value, ..." of a netdev: its type and options */
static void netdev_summary(const json_t *nd, char *buf, size_t size)
{
	const json_t *opts = json_object_get(nd, "options"), *v;
	const char *k;
	size_t len;

	snprintf(buf, size, "%s",
		 ctl_json_str(json_object_get(nd, "type"), "?"));
	json_object_foreach ((json_t *)opts, k, v) {
		char *text = NULL;

		if (!strcmp(k, "id") || !strcmp(k, "type"))
			continue;
		len = strlen(buf);
		if (json_is_string(v))
			snprintf(buf + len, size - len, ", %s=%s", k,
				 json_string_value(v));
		else if (json_is_boolean(v))
			snprintf(buf + len, size - len, ", %s=%s", k,
				 json_is_true(v) ? "on" : "off");
		else if ((text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)))
			snprintf(buf + len, size - len, ", %s=%s", k, text);
		free(text);
	}
}

/* Learned entries of hub @hub in query-fdb's answer (for port @port, or
 * all if NULL); -1 when there is no answer */
static long long fdb_count(const json_t *fdb, long long hub, const char *port)
{
	const json_t *h, *e;
	long long n = 0;
	size_t i, j;

	if (!json_is_array(fdb))
		return -1;
	json_array_foreach (fdb, i, h) {
		if (ctl_json_int(json_object_get(h, "hubid"), -1) != hub)
			continue;
		json_array_foreach (json_object_get(h, "entries"), j, e)
			if (!port ||
			    !strcmp(
				ctl_json_str(json_object_get(e, "port"), ""),
				port))
				n++;
	}
	return n;
}

/* The query-hubs entry of @hub, or NULL */
static const json_t *hub_entry(const json_t *hubs, long long hub)
{
	const json_t *h;
	size_t i;

	json_array_foreach (hubs, i, h)
		if (ctl_json_int(json_object_get(h, "id"), -1) == hub)
			return h;
	return NULL;
}

/* What show's fields mean: show --help */
static const char show_legend[] =
	"Usage: nethubctl show\n"
	"Every hub with its ports, then the netdevs without ports.\n"
	"\n"
	"Hub N              a learning switch of its own (QEMU's hubid)\n"
	"  MACs             addresses in the hub's table (learned and static)\n"
	"  floods           frames the hub sent to every port but the sender's:\n"
	"                   broadcast, multicast, and unicast to an address not\n"
	"                   learned yet (a few at start are normal; many mean\n"
	"                   a host the hub never hears from)\n"
	"  Port \"NAME\" (ALIAS) [MAC...]\n"
	"                   a port: the netdev's id, or ID.N for the Nth peer of\n"
	"                   a listening netdev; ALIAS as set with\n"
	"                   port-set-alias; the MACs learned on it (the VM\n"
	"                   behind it)\n"
	"    netdev         the netdev it belongs to, its type and options\n"
	"    link           up: frames pass; down: set_link, or its netdev's\n"
	"    mtu            the largest Ethernet payload it takes, in bytes, as\n"
	"                   'ip link' counts MTU (1500 on a usual LAN); the\n"
	"                   largest whole frame is 14 bytes more (18 with a\n"
	"                   VLAN tag).  Socket netdevs take 65521: frames up\n"
	"                   to 64 KiB\n"
	"    peer           the far end's address (stream sockets)\n"
	"    MACs           addresses learned on this port\n"
	"  Netdev \"ID\" (...): no ports\n"
	"                   a listening netdev nobody is connected to, or one\n"
	"                   whose connection is down\n";

/* " (ALIAS) [MAC MAC]" after a port's name, from query-netdevs */
static void port_label(const json_t *port, char *buf, size_t size)
{
	const json_t *macs = json_object_get(port, "macs"), *m;
	const char *alias = ctl_json_str(json_object_get(port, "alias"), NULL);
	size_t i, len;

	buf[0] = '\0';
	if (alias)
		snprintf(buf, size, " (%s)", alias);
	if (!json_array_size(macs))
		return;
	len = strlen(buf);
	snprintf(buf + len, size - len, " [");
	json_array_foreach (macs, i, m) {
		len = strlen(buf);
		snprintf(buf + len, size - len, "%s%s", i ? " " : "",
			 ctl_json_str(m, "?"));
	}
	len = strlen(buf);
	snprintf(buf + len, size - len, "]");
}

static void show_port(const json_t *nd, const json_t *port, const json_t *fdb,
		      long long hub)
{
	const char *name = ctl_json_str(json_object_get(port, "name"), "?");
	const json_t *link = json_object_get(port, "link");
	const json_t *peer = json_object_get(port, "peer");
	long long mtu = ctl_json_int(json_object_get(port, "mtu"), -1);
	long long macs = hub >= 0 ? fdb_count(fdb, hub, name) : -1;
	char summary[1024], label[256];

	netdev_summary(nd, summary, sizeof(summary));
	port_label(port, label, sizeof(label));
	printf("    Port \"%s\"%s\n", name, label);
	printf("        netdev: %s (%s)\n",
	       ctl_json_str(json_object_get(nd, "id"), "?"), summary);
	if (json_is_boolean(link))
		printf("        link: %s\n",
		       json_is_true(link) ? "up" : "down");
	if (mtu >= 0)
		printf("        mtu: %lld (largest frame %lld bytes, %lld with "
		       "a VLAN tag)\n",
		       mtu, mtu + 14, mtu + 18);
	if (json_is_string(peer))
		printf("        peer: %s\n", json_string_value(peer));
	if (macs >= 0)
		printf("        MACs: %lld\n", macs);
}

/* Everything on hub @hub (-1: the ports and netdevs on no hub) */
static void show_hub(long long hub, const json_t *hubs, const json_t *netdevs,
		     const json_t *fdb)
{
	const json_t *h = hub >= 0 ? hub_entry(hubs, hub) : NULL;
	const json_t *nd, *port, *ports;
	long long macs = fdb_count(fdb, hub, NULL);
	char summary[1024];
	size_t i, j;

	if (hub < 0)
		printf("Not on a hub\n");
	else
		printf("Hub %lld\n", hub);
	if (macs < 0)
		macs = ctl_json_int(json_object_get(h, "fdb-entries"), -1);
	if (hub >= 0 && macs >= 0)
		printf("    MACs: %lld\n", macs);
	if (json_is_integer(json_object_get(h, "floods")))
		printf("    floods: %lld\n",
		       ctl_json_int(json_object_get(h, "floods"), 0));
	json_array_foreach (netdevs, i, nd) {
		ports = json_object_get(nd, "ports");
		json_array_foreach (ports, j, port)
			if (port_hub(nd, port) == hub)
				show_port(nd, port, fdb, hub);
	}
	/* netdevs without ports (a listening socket nobody connected to) */
	json_array_foreach (netdevs, i, nd) {
		if (json_array_size(json_object_get(nd, "ports")) ||
		    ctl_json_int(json_object_get(nd, "hub"), -1) != hub)
			continue;
		netdev_summary(nd, summary, sizeof(summary));
		printf("    Netdev \"%s\" (%s): no ports%s\n",
		       ctl_json_str(json_object_get(nd, "id"), "?"), summary,
		       json_is_false(json_object_get(nd, "link"))
			   ? ", link down"
			   : "");
	}
}

/* Run @command without arguments; a QMP error leaves *@ret NULL and is
 * not fatal when @optional */
static int show_query(struct ctl_conn *c, const char *command, bool optional,
		      json_t **ret)
{
	json_t *req = json_pack("{ss}", "execute", command), *error = NULL;
	int rc = ctl_request(c, req, ret, &error);

	json_decref(req);
	if (rc == CTL_EXIT_QMP && optional)
		rc = 0;
	else if (rc == CTL_EXIT_QMP)
		ctl_print_qmp_error(error);
	json_decref(error);
	return rc;
}

int ctl_show_main(const struct ctl_opts *opts, int argc, char **argv)
{
	static const struct option long_opts[] = {
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	struct ctl_conn *c = NULL;
	json_t *netdevs = NULL, *hubs = NULL, *fdb = NULL, *nd, *port;
	long long *ids = NULL;
	size_t nids = 0, i, j;
	bool unhubbed = false;
	int rc, opt;

	view_getopt_reset();
	opt = getopt_long(argc, argv, "+h", long_opts, NULL);
	if (opt == 'h') {
		fputs(show_legend, stdout);
		return 0;
	}
	if (opt != -1)
		return ctl_fail("show takes no options but --help");
	rc = view_extra("show", argc, argv);
	if (!rc)
		rc = ctl_open(opts, &c);
	if (!rc)
		rc = show_query(c, "query-netdevs", false, &netdevs);
	if (!rc)
		rc = show_query(c, "query-hubs", true, &hubs);
	if (!rc)
		rc = show_query(c, "query-fdb", true, &fdb);
	if (!rc && !(ids = calloc(VIEW_HUBS_MAX, sizeof(*ids))))
		rc = ctl_fail("out of memory");
	if (rc)
		goto out;
	json_array_foreach (hubs, i, nd)
		if (ctl_json_int(json_object_get(nd, "id"), -1) >= 0)
			hub_set_add(ids, &nids,
				    ctl_json_int(json_object_get(nd, "id"), 0));
	json_array_foreach (netdevs, i, nd) {
		long long hub = ctl_json_int(json_object_get(nd, "hub"), -1);

		if (!json_array_size(json_object_get(nd, "ports"))) {
			if (hub >= 0)
				hub_set_add(ids, &nids, hub);
			else
				unhubbed = true;
		}
		json_array_foreach (json_object_get(nd, "ports"), j, port) {
			hub = port_hub(nd, port);
			if (hub >= 0)
				hub_set_add(ids, &nids, hub);
			else
				unhubbed = true;
		}
	}
	for (i = 0; i < nids; i++)
		show_hub(ids[i], hubs, netdevs, fdb);
	if (unhubbed)
		show_hub(-1, hubs, netdevs, fdb);
	if (!nids && !unhubbed)
		printf("No netdevs\n");
out:
	free(ids);
	json_decref(netdevs);
	json_decref(hubs);
	json_decref(fdb);
	ctl_close(c);
	return rc;
}

/* ---- fdb ---- */

static void fdb_print_hub(const json_t *h)
{
	const json_t *entries = json_object_get(h, "entries"), *e;
	size_t i, width = 4;

	printf("Hub %lld\n", ctl_json_int(json_object_get(h, "hubid"), -1));
	if (!json_array_size(entries)) {
		printf("  (no entries)\n");
		return;
	}
	json_array_foreach (entries, i, e) {
		size_t len =
		    strlen(ctl_json_str(json_object_get(e, "port"), "-"));

		width = len > width ? len : width;
	}
	printf("  %-17s  %4s  %-*s  %6s  %s\n", "MAC", "VLAN", (int)width,
	       "PORT", "AGE", "STATIC");
	json_array_foreach (entries, i, e) {
		printf("  %-17s  %4lld  %-*s  %6lld  %s\n",
		       ctl_json_str(json_object_get(e, "mac"), "?"),
		       ctl_json_int(json_object_get(e, "vlan"), 0), (int)width,
		       ctl_json_str(json_object_get(e, "port"), "-"),
		       ctl_json_int(json_object_get(e, "age"), 0),
		       json_is_true(json_object_get(e, "static")) ? "yes"
								  : "no");
	}
}

int ctl_fdb_main(const struct ctl_opts *opts, int argc, char **argv)
{
	static const struct option long_opts[] = {{NULL, 0, NULL, 0}};
	struct ctl_conn *c = NULL;
	json_t *args = NULL, *ret = NULL, *h;
	long hub;
	char *end;
	size_t i;
	int rc;

	view_getopt_reset();
	if (getopt_long(argc, argv, "+", long_opts, NULL) != -1)
		return ctl_fail("fdb takes no options");
	if (optind < argc) {
		hub = strtol(argv[optind], &end, 10);
		if (!*argv[optind] || *end || hub < 0 || hub > 0x7fffffffL)
			return ctl_fail("fdb: HUB is a hub number, got '%s'",
					argv[optind]);
		args = json_pack("{sI}", "hubid", (json_int_t)hub);
		optind++;
	}
	rc = view_extra("fdb", argc, argv);
	if (!rc)
		rc = ctl_open(opts, &c);
	if (!rc)
		rc = ctl_call(c, "query-fdb", json_incref(args), &ret);
	json_decref(args);
	if (!rc && !json_array_size(ret))
		printf("No hubs\n");
	json_array_foreach (rc ? NULL : ret, i, h) {
		if (i)
			putchar('\n');
		fdb_print_hub(h);
	}
	json_decref(ret);
	ctl_close(c);
	return rc;
}

/* ---- events ---- */

struct events_opts {
	bool pretty;
	long count;	  /* 0: no limit */
	double timeout_s; /* 0: none */
	char **names;	  /* --event filters */
	int nnames;
};

static bool events_wanted(const struct events_opts *eo, const json_t *ev)
{
	const char *name = ctl_json_str(json_object_get(ev, "event"), "");

	if (!eo->nnames)
		return true;
	for (int i = 0; i < eo->nnames; i++)
		if (!strcmp(eo->names[i], name))
			return true;
	return false;
}

static int events_parse(int argc, char **argv, struct events_opts *eo)
{
	static const struct option long_opts[] = {
	    {"pretty", no_argument, NULL, 'p'},
	    {"count", required_argument, NULL, 'n'},
	    {"timeout", required_argument, NULL, 't'},
	    {"event", required_argument, NULL, 'e'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	view_getopt_reset();
	while ((opt = getopt_long(argc, argv, "+pn:t:e:", long_opts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'p':
			eo->pretty = true;
			break;
		case 'n':
			if (ctl_parse_count("events --count", optarg,
					    &eo->count))
				return CTL_EXIT_USAGE;
			break;
		case 't':
			if (ctl_parse_seconds("events --timeout", optarg, 0,
					      &eo->timeout_s))
				return CTL_EXIT_USAGE;
			break;
		case 'e':
			eo->names[eo->nnames++] = optarg;
			break;
		default:
			return ctl_fail("events: see 'nethubctl --help'");
		}
	}
	return view_extra("events", argc, argv);
}

int ctl_events_main(const struct ctl_opts *opts, int argc, char **argv)
{
	struct events_opts eo = {.names = calloc((size_t)argc, sizeof(char *))};
	struct ctl_conn *c = NULL;
	json_t *ev;
	double deadline = -1;
	long seen = 0;
	char *text;
	int rc;

	if (!eo.names)
		return ctl_fail("out of memory");
	rc = events_parse(argc, argv, &eo);
	if (!rc)
		rc = ctl_open(opts, &c);
	if (rc)
		goto out;
	/* on stderr, so a script can wait for it before causing events */
	fprintf(stderr, "nethubctl: listening for events on %s\n",
		ctl_where(c));
	if (eo.timeout_s > 0)
		deadline = ctl_now() + eo.timeout_s;
	while (!eo.count || seen < eo.count) {
		rc = ctl_recv(c, deadline, &ev);
		if (rc == CTL_TIMED_OUT) {
			rc = 0;
			if (eo.count) {
				ctl_fail(
				    "events: %ld of %ld events within %g s",
				    seen, eo.count, eo.timeout_s);
				rc = CTL_EXIT_QMP; /* not what was asked */
			}
			break;
		}
		if (rc)
			break;
		if (json_object_get(ev, "event") && events_wanted(&eo, ev)) {
			text = json_dumps(ev, eo.pretty ? JSON_INDENT(2) : 0);
			if (text)
				puts(text);
			free(text);
			fflush(stdout);
			seen++;
		}
		json_decref(ev);
	}
out:
	free(eo.names);
	ctl_close(c);
	return rc;
}
