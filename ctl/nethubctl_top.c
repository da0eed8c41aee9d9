// SPDX-License-Identifier: MIT
/* nethubctl_top.c - the live per-port view: top
 *
 * Samples query-netdevs every interval over one connection and shows, for
 * every port, its link and the rates between the last two samples: frames
 * and bits per second each way, drops per second, and the drops since the
 * port was created.  On a terminal the table is redrawn in place (ANSI);
 * otherwise, and with --once / --iterations, tables are printed one after
 * the other for scripts.
 *
 * Owns its two samples; reads nothing but query-netdevs' port counters.
 */

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nethubctl.h"

#define TOP_INTERVAL_DEFAULT_S 1.0
#define TOP_INTERVAL_MIN_S     0.05

/* One port's counters in one sample */
struct top_port {
	char *key;	  /* "NETDEV/PORT": unique even if names clash */
	const char *name; /* the port part of key */
	long long hub;	  /* -1: none */
	bool link;
	uint64_t rx_frames, tx_frames, rx_bytes, tx_bytes, drops;
	char who[80];	  /* its alias, else the MACs learned on it */
};

struct top_sample {
	struct top_port *ports;
	size_t n;
	double t; /* ctl_now() when the answer arrived */
};

struct top_opts {
	double interval_s;
	long iterations; /* 0: until interrupted */
};

static uint64_t counter(const json_t *stats, const char *name)
{
	long long v = ctl_json_int(json_object_get(stats, name), 0);

	return v > 0 ? (uint64_t)v : 0;
}

/* The sum of a {reason: count} object */
static uint64_t drops_sum(const json_t *drops)
{
	const char *k;
	json_t *v;
	uint64_t sum = 0;

	json_object_foreach ((json_t *)drops, k, v)
		if (json_integer_value(v) > 0)
			sum += (uint64_t)json_integer_value(v);
	return sum;
}

static void sample_free(struct top_sample *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->ports[i].key);
	free(s->ports);
	s->ports = NULL;
	s->n = 0;
}

/* Who is behind @port: its alias, else its first learned MAC ("+N" more),
 * else "-" */
static void port_who(const json_t *port, char *buf, size_t size)
{
	const char *alias = ctl_json_str(json_object_get(port, "alias"), NULL);
	const json_t *macs = json_object_get(port, "macs");
	size_t n = json_array_size(macs);

	if (alias)
		snprintf(buf, size, "%s", alias);
	else if (n > 1)
		snprintf(buf, size, "%s+%zu",
			 ctl_json_str(json_array_get(macs, 0), "?"), n - 1);
	else if (n == 1)
		snprintf(buf, size, "%s",
			 ctl_json_str(json_array_get(macs, 0), "?"));
	else
		snprintf(buf, size, "-");
}

/* Fill @s from query-netdevs */
static int sample_take(struct ctl_conn *c, struct top_sample *s)
{
	json_t *netdevs = NULL, *nd, *port, *stats;
	size_t i, j, n = 0;
	int rc = ctl_call(c, "query-netdevs", NULL, &netdevs);

	if (rc)
		return rc;
	s->t = ctl_now();
	json_array_foreach (netdevs, i, nd)
		n += json_array_size(json_object_get(nd, "ports"));
	s->ports = calloc(n ? n : 1, sizeof(*s->ports));
	if (!s->ports) {
		json_decref(netdevs);
		return ctl_fail("out of memory");
	}
	json_array_foreach (netdevs, i, nd) {
		const char *id = ctl_json_str(json_object_get(nd, "id"), "?");
		long long nd_hub = ctl_json_int(json_object_get(nd, "hub"), -1);

		json_array_foreach (json_object_get(nd, "ports"), j, port) {
			struct top_port *p = &s->ports[s->n];
			const char *name =
			    ctl_json_str(json_object_get(port, "name"), "?");

			if (asprintf(&p->key, "%s/%s", id, name) < 0) {
				p->key = NULL;
				json_decref(netdevs);
				return ctl_fail("out of memory");
			}
			s->n++;
			p->name = p->key + strlen(id) + 1;
			p->hub =
			    ctl_json_int(json_object_get(port, "hub"), nd_hub);
			p->link = json_is_true(json_object_get(port, "link"));
			port_who(port, p->who, sizeof(p->who));
			stats = json_object_get(port, "stats");
			p->rx_frames = counter(stats, "rx-frames");
			p->tx_frames = counter(stats, "tx-frames");
			p->rx_bytes = counter(stats, "rx-bytes");
			p->tx_bytes = counter(stats, "tx-bytes");
			p->drops =
			    drops_sum(json_object_get(stats, "rx-drops")) +
			    drops_sum(json_object_get(stats, "tx-drops"));
		}
	}
	json_decref(netdevs);
	return 0;
}

/* The same port in the previous sample, or NULL (a new port) */
static const struct top_port *sample_find(const struct top_sample *s,
					  const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->ports[i].key, key))
			return &s->ports[i];
	return NULL;
}

/* Per second of a counter's growth; a counter that went back (the port
 * was re-created) counts from zero */
static double rate(uint64_t now, uint64_t before, double dt)
{
	return (double)(now >= before ? now - before : now) / dt;
}

/* @v with an SI suffix in at most 7 characters: 950, 12.3k, 1.5G */
static void fmt_si(double v, char *buf, size_t size)
{
	static const char suffix[] = "kMGTPE";
	int i = -1;

	if (v < 999.5) {
		snprintf(buf, size, "%.0f", v);
		return;
	}
	while (v >= 999.5 && i < (int)sizeof(suffix) - 2) {
		v /= 1000.0;
		i++;
	}
	snprintf(buf, size, "%.*f%c", v < 99.95 ? 1 : 0, v, suffix[i]);
}

/* One table: rates between @prev and @cur */
static void top_print(const struct top_sample *prev,
		      const struct top_sample *cur)
{
	static const struct top_port none = {0};
	double dt = cur->t - prev->t;
	size_t width = 4;
	char rxf[16], txf[16], rxb[16], txb[16], dps[16], hub[24];

	if (dt <= 0)
		dt = 1e-6;
	for (size_t i = 0; i < cur->n; i++)
		if (strlen(cur->ports[i].name) > width)
			width = strlen(cur->ports[i].name);
	printf("%-4s  %-*s  %-4s  %8s  %8s  %8s  %8s  %8s  %10s  %s\n", "HUB",
	       (int)width, "PORT", "LINK", "RX f/s", "TX f/s", "RX bit/s",
	       "TX bit/s", "DROPS/s", "DROPS", "WHO");
	for (size_t i = 0; i < cur->n; i++) {
		const struct top_port *p = &cur->ports[i];
		const struct top_port *q = sample_find(prev, p->key);

		if (!q)
			q = &none;
		fmt_si(rate(p->rx_frames, q->rx_frames, dt), rxf, sizeof(rxf));
		fmt_si(rate(p->tx_frames, q->tx_frames, dt), txf, sizeof(txf));
		fmt_si(8 * rate(p->rx_bytes, q->rx_bytes, dt), rxb,
		       sizeof(rxb));
		fmt_si(8 * rate(p->tx_bytes, q->tx_bytes, dt), txb,
		       sizeof(txb));
		fmt_si(rate(p->drops, q->drops, dt), dps, sizeof(dps));
		if (p->hub >= 0)
			snprintf(hub, sizeof(hub), "%lld", p->hub);
		else
			snprintf(hub, sizeof(hub), "-");
		printf("%-4s  %-*s  %-4s  %8s  %8s  %8s  %8s  %8s  %10llu  %s\n",
		       hub, (int)width, p->name, p->link ? "up" : "down", rxf,
		       txf, rxb, txb, dps, (unsigned long long)p->drops,
		       p->who);
	}
	if (!cur->n)
		printf("(no ports)\n");
}

/* Sleep until the ctl_now() time @t */
static void sleep_until(double t)
{
	struct timespec ts;
	double left;

	while ((left = t - ctl_now()) > 0) {
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		if (nanosleep(&ts, NULL) && errno != EINTR)
			return;
	}
}

static int top_parse(int argc, char **argv, struct top_opts *to)
{
	static const struct option long_opts[] = {
	    {"interval", required_argument, NULL, 'i'},
	    {"once", no_argument, NULL, '1'},
	    {"iterations", required_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+i:1n:", long_opts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'i':
			if (ctl_parse_seconds("top --interval", optarg,
					      TOP_INTERVAL_MIN_S,
					      &to->interval_s))
				return CTL_EXIT_USAGE;
			break;
		case '1':
			to->iterations = 1;
			break;
		case 'n':
			if (ctl_parse_count("top --iterations", optarg,
					    &to->iterations))
				return CTL_EXIT_USAGE;
			break;
		default:
			return ctl_fail("top: see 'nethubctl --help'");
		}
	}
	if (optind < argc)
		return ctl_fail("top: unexpected '%s' (try 'nethubctl --help')",
				argv[optind]);
	return 0;
}

int ctl_top_main(const struct ctl_opts *opts, int argc, char **argv)
{
	struct top_opts to = {.interval_s = TOP_INTERVAL_DEFAULT_S};
	struct top_sample prev = {0}, cur = {0};
	struct ctl_conn *c = NULL;
	bool live;
	char clock[16];
	time_t now;
	int rc;

	rc = top_parse(argc, argv, &to);
	if (!rc)
		rc = ctl_open(opts, &c);
	if (!rc)
		rc = sample_take(c, &prev);
	/* a terminal gets a redrawn screen, unless a count was asked for */
	live = !rc && !to.iterations && isatty(STDOUT_FILENO);
	for (long i = 0; !rc && (!to.iterations || i < to.iterations); i++) {
		sleep_until(prev.t + to.interval_s);
		rc = sample_take(c, &cur);
		if (rc)
			break;
		if (live) {
			now = time(NULL);
			strftime(clock, sizeof(clock), "%H:%M:%S",
				 localtime(&now));
			printf("\033[H\033[2Jnethubctl top: %s, every %g s, %s "
			       "(Ctrl-C to quit)\n\n",
			       ctl_where(c), to.interval_s, clock);
		} else if (i) {
			putchar('\n');
		}
		top_print(&prev, &cur);
		fflush(stdout);
		sample_free(&prev);
		prev = cur;
		cur = (struct top_sample){0};
	}
	sample_free(&prev);
	sample_free(&cur);
	ctl_close(c);
	return rc;
}
