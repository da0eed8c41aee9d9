// SPDX-License-Identifier: MIT
/* nethubctl_capture.c - nethubctl capture: watch a port or a hub live
 *
 * Like ovs-tcpdump: makes a private directory with a FIFO in it, asks
 * nethubd for a filter-dump capture into that FIFO (object-add), reads the
 * pcap stream back with libpcap and either passes it on as pcap (-w FILE,
 * or stdout when it is not a terminal: `| tcpdump -r -`, `| wireshark -k
 * -i -`) or prints one line per frame on a terminal.  It stops on SIGINT,
 * SIGTERM or SIGHUP, after -c frames, when its output's reader goes away,
 * or when nethubd or the capture does; then it asks for the capture's
 * counters (query-captures), removes the capture (object-del) and prints a
 * summary on stderr.
 *
 * Owns the directory, the FIFO, the capture object and its output, and
 * removes all of them on every way out.  Never writes the pcap format by
 * hand (libpcap does), never reads frames it did not get from nethubd, and
 * never uses the connection from two threads at once: after a signal, one
 * thread removes the capture while the main thread drains the FIFO, so
 * what nethubd flushes at object-del still arrives.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nethubctl.h"

#define CAP_SNAPLEN_MAX 262144 /* libpcap's largest snapshot length */
#define CAP_LOOK_S	1.0    /* how often the capture is looked at */
#define CAP_DRAIN_S                                                            \
	2.0 /* after object-del: wait for the FIFO's                           \
	     * end at most this long */
#define CAP_FIFO_NAME	 "capture.pcap"
#define CAP_DIR_TEMPLATE "nethubctl-capture-XXXXXX"
#define CAP_VLAN_DEPTH	 4 /* 802.1Q / 802.1ad tags shown at most */
#define CAP_IPV6_EXT_MAX 8 /* IPv6 extension headers walked at most */

struct cap_opts {
	const char *port;  /* PORT; NULL with --hub */
	bool hub;	   /* --hub given */
	long hubid;	   /* its value */
	char *filter;	   /* the FILTER words joined; NULL: none */
	const char *write; /* -w; NULL: stdout (text on a terminal) */
	const char *queue; /* -q; NULL: the server's default (all) */
	long snaplen;	   /* -S; 0: the server's default */
	long count;	   /* -c; 0: until stopped */
};

/* Why reading ended */
enum cap_end {
	CAP_END_SIGNAL, /* SIGINT, SIGTERM or SIGHUP */
	CAP_END_COUNT,	/* -c frames were passed on */
	CAP_END_OUTPUT, /* the output failed (EPIPE: its reader left) */
	CAP_END_EOF,	/* nethubd closed the FIFO */
	CAP_END_GONE,	/* the capture is not listed any more, or failed */
	CAP_END_ERROR,	/* a failure, printed */
};

struct cap_run {
	const struct cap_opts *o;
	struct ctl_conn *c;
	char id[64];
	char dir[PATH_MAX];
	char fifo[PATH_MAX];
	bool dir_made, fifo_made;
	bool added;	/* the capture exists in nethubd (as far as we know) */
	bool failed;	/* nethubd says it failed (exit 1) */
	bool conn_lost; /* the connection failed (printed): no more QMP */
	int fifo_fd;	/* until libpcap owns it */
	int sig_fd;	/* signalfd of SIGINT, SIGTERM, SIGHUP */
	pcap_t *in;	/* the stream from nethubd */
	FILE *out_fp;	/* -w FILE, opened early; NULL: stdout */
	pcap_dumper_t *dump; /* pcap output; NULL: text */
	bool text, out_dirty, out_is_pipe;
	unsigned long long got; /* frames passed on */
	json_t *info;		/* our query-captures entry, latest */
	bool info_known;	/* the server answers query-captures */
	/* object-del in a thread while the main thread drains the FIFO */
	pthread_t del_thread;
	bool del_started, del_joined;
	int del_pipe[2];
	int del_rc;
};

/* ---- options ---- */

static int cap_parse_int(const char *opt, const char *text, long min, long max,
			 long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (!*text || *end || errno || v < min || v > max)
		return ctl_fail("capture: %s expects a whole number from %ld "
				"to %ld, got '%s'",
				opt, min, max, text);
	*out = v;
	return 0;
}

/* The FILTER words, joined by spaces; NULL when there are none */
static int cap_join(char **words, int n, char **out)
{
	size_t len = 0, k;
	bool empty = true;
	char *s, *p;

	*out = NULL;
	for (int i = 0; i < n; i++) {
		len += strlen(words[i]) + 1;
		empty &= !*words[i];
	}
	if (empty)
		return 0;
	s = malloc(len);
	if (!s)
		return ctl_fail("out of memory");
	p = s;
	for (int i = 0; i < n; i++) {
		k = strlen(words[i]);
		memcpy(p, words[i], k);
		p += k;
		*p++ = i + 1 < n ? ' ' : '\0';
	}
	*out = s;
	return 0;
}

static int cap_parse(int argc, char **argv, struct cap_opts *o)
{
	static const struct option long_opts[] = {
	    {"hub", required_argument, NULL, 'H'},
	    {"write", required_argument, NULL, 'w'},
	    {"queue", required_argument, NULL, 'q'},
	    {"snaplen", required_argument, NULL, 'S'},
	    {"count", required_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	/* GNU getopt permutes: options may follow PORT and the FILTER */
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":w:q:S:c:", long_opts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'H':
			if (cap_parse_int("--hub", optarg, INT32_MIN, INT32_MAX,
					  &o->hubid))
				return CTL_EXIT_USAGE;
			o->hub = true;
			break;
		case 'w':
			if (!*optarg)
				return ctl_fail("capture: -w expects a file "
						"('-': stdout), got ''");
			o->write = optarg;
			break;
		case 'q':
			if (strcmp(optarg, "rx") && strcmp(optarg, "tx") &&
			    strcmp(optarg, "all"))
				return ctl_fail("capture: -q expects rx, tx "
						"or all, got '%s'",
						optarg);
			o->queue = optarg;
			break;
		case 'S':
			if (cap_parse_int("--snaplen", optarg, 1,
					  CAP_SNAPLEN_MAX, &o->snaplen))
				return CTL_EXIT_USAGE;
			break;
		case 'c':
			if (ctl_parse_count("capture --count", optarg,
					    &o->count))
				return CTL_EXIT_USAGE;
			break;
		case ':':
			return ctl_fail("capture: %s expects a value (try "
					"'nethubctl --help')",
					argv[optind - 1]);
		default:
			return ctl_fail("capture: unknown option '%s' (try "
					"'nethubctl --help')",
					argv[optind - 1]);
		}
	}
	if (!o->hub) {
		if (optind == argc)
			return ctl_fail("capture: expected PORT or --hub ID "
					"(try 'nethubctl --help')");
		o->port = argv[optind++];
		if (!*o->port)
			return ctl_fail("capture: PORT is empty");
	}
	if (o->hub && o->queue)
		return ctl_fail("capture: -q does not apply to --hub (a hub "
				"capture sees every frame entering it)");
	return cap_join(argv + optind, argc - optind, &o->filter);
}

/*
 * The FIFO is opened by nethubd, so it must run on this host: refuse a
 * tcp: socket whose host is not a loopback address
 */
static int cap_check_local(const struct ctl_opts *opts)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	char where[4096], host[256];
	const char *hp, *colon;
	size_t hlen;
	bool local = true;

	if (opts->socket)
		snprintf(where, sizeof(where), "%s", opts->socket);
	else
		ctl_default_socket(where, sizeof(where));
	if (strncmp(where, "tcp:", 4))
		return 0;
	hp = where + 4;
	colon = strrchr(hp, ':');
	if (!colon)
		return 0; /* ctl_open() says what is wrong with it */
	hlen = (size_t)(colon - hp);
	if (hlen >= 2 && hp[0] == '[' && hp[hlen - 1] == ']') {
		hp++;
		hlen -= 2;
	}
	if (!hlen || hlen >= sizeof(host))
		return 0;
	memcpy(host, hp, hlen);
	host[hlen] = '\0';
	if (getaddrinfo(host, NULL, &hints, &res))
		return 0;
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *sin =
			    (const struct sockaddr_in *)ai->ai_addr;

			local &= (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
		} else if (ai->ai_family == AF_INET6) {
			const struct sockaddr_in6 *sin6 =
			    (const struct sockaddr_in6 *)ai->ai_addr;
			const uint8_t *a = sin6->sin6_addr.s6_addr;

			local &= IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) ||
				 (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
				  a[12] == 127);
		} else {
			local = false;
		}
	}
	freeaddrinfo(res);
	if (local)
		return 0;
	return ctl_fail("capture: nethubd writes the capture into a FIFO "
			"on its own host, and %s is not this host: run "
			"nethubctl capture there",
			where);
}

/* The object-add arguments; caller owns */
static json_t *cap_args(const struct cap_run *r, const char *file)
{
	const struct cap_opts *o = r->o;
	json_t *a = json_pack("{ssssss}", "qom-type", "filter-dump", "id",
			      r->id, "file", file);

	if (!a)
		return NULL;
	if (o->hub)
		json_object_set_new(a, "hubid", json_integer(o->hubid));
	else
		json_object_set_new(a, "netdev", json_string(o->port));
	if (o->queue)
		json_object_set_new(a, "queue", json_string(o->queue));
	if (o->snaplen)
		json_object_set_new(a, "maxlen", json_integer(o->snaplen));
	if (o->filter)
		json_object_set_new(a, "filter", json_string(o->filter));
	return a;
}

/* ---- setting up ---- */

/* Open -w FILE now, so that a file we cannot write is an error before
 * anything is asked of nethubd */
static int cap_open_output(struct cap_run *r)
{
	const char *w = r->o->write;
	struct stat st;

	if (!w) {
		r->text = isatty(STDOUT_FILENO);
	} else if (strcmp(w, "-")) {
		r->out_fp = fopen(w, "wbe");
		if (!r->out_fp)
			return ctl_fail("capture: cannot write %s: %s", w,
					strerror(errno));
	}
	if (!r->text && !r->out_fp && !fstat(STDOUT_FILENO, &st) &&
	    (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		r->out_is_pipe = true; /* poll it: its reader may leave */
	return 0;
}

/* Signals become readable on a signalfd (and stay blocked in every
 * thread); a closed output is an EPIPE error, not a death */
static int cap_signals(struct cap_run *r)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return ctl_fail("capture: sigprocmask: %s", strerror(errno));
	r->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (r->sig_fd < 0)
		return ctl_fail("capture: signalfd: %s", strerror(errno));
	return 0;
}

/* The private directory and the FIFO, opened for reading */
static int cap_make_fifo(struct cap_run *r)
{
	const char *tmp = getenv("TMPDIR");

	if (!tmp || !*tmp)
		tmp = "/tmp";
	if (strlen(tmp) + sizeof("/" CAP_DIR_TEMPLATE "/" CAP_FIFO_NAME) >
	    sizeof(r->fifo))
		return ctl_fail("capture: the temporary directory's name is "
				"too long: %s",
				tmp);
	snprintf(r->dir, sizeof(r->dir), "%s/" CAP_DIR_TEMPLATE, tmp);
	if (!mkdtemp(r->dir)) /* mode 0700 */
		return ctl_fail("capture: cannot create the FIFO's "
				"directory in %s: %s",
				tmp, strerror(errno));
	r->dir_made = true;
	if (snprintf(r->fifo, sizeof(r->fifo), "%s/" CAP_FIFO_NAME, r->dir) < 0)
		return ctl_fail("out of memory");
	if (mkfifo(r->fifo, 0600))
		return ctl_fail("capture: cannot create the FIFO %s: %s",
				r->fifo, strerror(errno));
	r->fifo_made = true;
	/* without blocking: nethubd is the writer, and not there yet */
	r->fifo_fd = open(r->fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (r->fifo_fd < 0)
		return ctl_fail("capture: cannot open the FIFO %s: %s", r->fifo,
				strerror(errno));
	return 0;
}

/*
 * A capture of all the queues of a netdev with several ports (the peers of
 * a listening socket) sees a frame between two of them twice: entering the
 * switch from one (tx queue) and leaving it to the other (rx queue).  Say
 * so once at the start, and how to see each frame once.
 */
static void cap_note_twice(struct cap_run *r)
{
	json_t *netdevs = NULL, *nd;
	size_t i, nports = 0;

	if (r->o->hub || (r->o->queue && strcmp(r->o->queue, "all")) ||
	    ctl_call(r->c, "query-netdevs", NULL, &netdevs))
		return;
	json_array_foreach (netdevs, i, nd)
		if (!strcmp(ctl_json_str(json_object_get(nd, "id"), ""),
			    r->o->port))
			nports = json_array_size(json_object_get(nd, "ports"));
	json_decref(netdevs);
	if (nports > 1)
		fprintf(stderr,
			"nethubctl: note: %s has %zu ports: a frame between two "
			"of them is captured twice, as it leaves one and as it "
			"reaches the other (-q tx shows each frame once)\n",
			r->o->port, nports);
}

static int cap_add(struct cap_run *r)
{
	json_t *args = cap_args(r, r->fifo), *ret = NULL;
	int rc;

	if (!args)
		return ctl_fail("out of memory");
	rc = ctl_call(r->c, "object-add", args, &ret);
	json_decref(ret);
	if (!rc) {
		r->added = true;
		cap_note_twice(r);
	}
	return rc;
}

/* ---- the capture's state in nethubd ---- */

/*
 * query-captures: our entry into r->info (NULL: not listed).
 * Return: 0; CTL_EXIT_QMP when the server has no query-captures (quiet:
 * r->info_known stays false); CTL_EXIT_USAGE (printed) when the
 * connection failed.
 */
static int cap_look(struct cap_run *r)
{
	json_t *req = json_pack("{ss}", "execute", "query-captures");
	json_t *ret = NULL, *error = NULL, *e;
	size_t i;
	int rc;

	if (!req)
		return ctl_fail("out of memory");
	rc = ctl_request(r->c, req, &ret, &error);
	json_decref(req);
	json_decref(error);
	if (rc) {
		r->conn_lost |= rc == CTL_EXIT_USAGE;
		json_decref(ret);
		return rc;
	}
	r->info_known = true;
	json_decref(r->info);
	r->info = NULL;
	json_array_foreach (ret, i, e)
		if (!strcmp(ctl_json_str(json_object_get(e, "id"), ""), r->id))
			r->info = json_incref(e);
	json_decref(ret);
	return 0;
}

/* The capture is over on nethubd's side: not listed, or failed (said) */
static bool cap_is_gone(struct cap_run *r)
{
	const char *err;

	if (!r->info_known)
		return false;
	if (!r->info) {
		fprintf(stderr,
			"nethubctl: the capture %s was removed by "
			"nethubd (did what it watched go away?)\n",
			r->id);
		r->added = false;
		return true;
	}
	err = ctl_json_str(json_object_get(r->info, "error"), NULL);
	if (err) {
		fprintf(stderr, "nethubctl: the capture %s failed: %s\n", r->id,
			err);
		r->failed = true;
		return true;
	}
	return false;
}

/* object-del, after the counters for the summary (@look; else they were
 * taken already).  Return: an exit status (printed) */
static int cap_remove(struct cap_run *r, bool look)
{
	json_t *ret = NULL;
	int rc = look ? cap_look(r) : 0;

	if (rc == CTL_EXIT_USAGE)
		return rc;
	if (r->info_known && !r->info) {
		if (look)
			fprintf(stderr,
				"nethubctl: the capture %s was "
				"removed by nethubd (did what it "
				"watched go away?)\n",
				r->id);
		r->added = false;
		return 0;
	}
	rc = ctl_call(r->c, "object-del", json_pack("{ss}", "id", r->id), &ret);
	json_decref(ret);
	r->conn_lost |= rc == CTL_EXIT_USAGE;
	if (!rc)
		r->added = false;
	return rc;
}

static void *cap_remove_thread(void *arg)
{
	struct cap_run *r = arg;
	ssize_t n;

	r->del_rc = cap_remove(r, true);
	do
		n = write(r->del_pipe[1], "x", 1);
	while (n < 0 && errno == EINTR);
	return NULL;
}

/* Start cap_remove() in a thread; false if it could not start (then the
 * caller removes the capture itself) */
static bool cap_remove_async(struct cap_run *r)
{
	if (pipe2(r->del_pipe, O_CLOEXEC | O_NONBLOCK)) {
		r->del_pipe[0] = r->del_pipe[1] = -1;
		return false;
	}
	if (pthread_create(&r->del_thread, NULL, cap_remove_thread, r))
		return false;
	r->del_started = true;
	return true;
}

/* ---- a frame as a line of text ---- */

static unsigned be16(const u_char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static void fmt_mac(const u_char *m, char *buf, size_t size)
{
	snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
}

/* Transport protocol @proto at @p (@n bytes; @first: the first fragment,
 * which has its ports): " TCP 1234 > 80", " ICMP echo request" */
static void fmt_l4(unsigned proto, const u_char *p, size_t n, bool first,
		   char *buf, size_t size)
{
	static const struct {
		unsigned proto;
		const char *name;
		bool ports;
	} protos[] = {
	    {1, "ICMP", false},	   {2, "IGMP", false},	{6, "TCP", true},
	    {17, "UDP", true},	   {47, "GRE", false},	{50, "ESP", false},
	    {58, "ICMPv6", false}, {132, "SCTP", true},
	};
	const char *name = NULL;
	bool ports = false;
	int len;

	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (protos[i].proto == proto) {
			name = protos[i].name;
			ports = protos[i].ports;
		}
	}
	if (!name) {
		snprintf(buf, size, " proto %u", proto);
		return;
	}
	len = snprintf(buf, size, " %s", name);
	if (len < 0 || (size_t)len >= size || !first)
		return;
	if (ports && n >= 4) {
		snprintf(buf + len, size - (size_t)len, " %u > %u", be16(p),
			 be16(p + 2));
	} else if (n >= 1 && (proto == 1 || proto == 58)) {
		unsigned type = p[0];
		const char *what = NULL;

		if (proto == 1)
			what = type == 8   ? "echo request"
			       : type == 0 ? "echo reply"
					   : NULL;
		else
			what = type == 128   ? "echo request"
			       : type == 129 ? "echo reply"
			       : type == 133 ? "router solicitation"
			       : type == 134 ? "router advertisement"
			       : type == 135 ? "neighbor solicitation"
			       : type == 136 ? "neighbor advertisement"
					     : NULL;
		if (what)
			snprintf(buf + len, size - (size_t)len, " %s", what);
		else
			snprintf(buf + len, size - (size_t)len, " type %u",
				 type);
	}
}

static void fmt_ipv4(const u_char *p, size_t n, char *buf, size_t size)
{
	char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN], l4[64];
	size_t ihl = n ? (size_t)(p[0] & 15) * 4 : 0;

	if (n < 20 || p[0] >> 4 != 4 || ihl < 20) {
		snprintf(buf, size, "IPv4 (truncated)");
		return;
	}
	inet_ntop(AF_INET, p + 12, src, sizeof(src));
	inet_ntop(AF_INET, p + 16, dst, sizeof(dst));
	fmt_l4(p[9], p + (ihl < n ? ihl : n), ihl < n ? n - ihl : 0,
	       (be16(p + 6) & 0x1fff) == 0, l4, sizeof(l4));
	snprintf(buf, size, "IPv4 %s > %s%s", src, dst, l4);
}

static void fmt_ipv6(const u_char *p, size_t n, char *buf, size_t size)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], l4[64];
	unsigned next;
	size_t off = 40;
	bool first = true;

	if (n < 40 || p[0] >> 4 != 6) {
		snprintf(buf, size, "IPv6 (truncated)");
		return;
	}
	inet_ntop(AF_INET6, p + 8, src, sizeof(src));
	inet_ntop(AF_INET6, p + 24, dst, sizeof(dst));
	next = p[6];
	/* hop-by-hop, routing, destination options and fragment headers */
	for (int i = 0; i < CAP_IPV6_EXT_MAX && off + 8 <= n; i++) {
		if (next == 0 || next == 43 || next == 60) {
			next = p[off];
			off += ((size_t)p[off + 1] + 1) * 8;
		} else if (next == 44) {
			next = p[off];
			first = (be16(p + off + 2) & 0xfff8) == 0;
			off += 8;
		} else {
			break;
		}
	}
	fmt_l4(next, p + (off < n ? off : n), off < n ? n - off : 0, first, l4,
	       sizeof(l4));
	snprintf(buf, size, "IPv6 %s > %s%s", src, dst, l4);
}

/* ARP and RARP over Ethernet and IPv4 */
static void fmt_arp(const char *name, const u_char *p, size_t n, char *buf,
		    size_t size)
{
	char spa[INET_ADDRSTRLEN], tpa[INET_ADDRSTRLEN], sha[18];
	unsigned op;

	if (n < 28 || be16(p) != 1 || be16(p + 2) != 0x0800 || p[4] != 6 ||
	    p[5] != 4) {
		snprintf(buf, size, "%s%s", name, n < 8 ? " (truncated)" : "");
		return;
	}
	op = be16(p + 6);
	fmt_mac(p + 8, sha, sizeof(sha));
	inet_ntop(AF_INET, p + 14, spa, sizeof(spa));
	inet_ntop(AF_INET, p + 24, tpa, sizeof(tpa));
	if (op == 1)
		snprintf(buf, size, "%s who-has %s tell %s", name, tpa, spa);
	else if (op == 2)
		snprintf(buf, size, "%s reply %s is-at %s", name, spa, sha);
	else if (op == 3)
		snprintf(buf, size, "%s reverse request who-is %s", name, sha);
	else
		snprintf(buf, size, "%s op %u", name, op);
}

/* One line: time, src > dst MAC, VLAN tags, what it carries, length */
static void cap_print(const struct pcap_pkthdr *h, const u_char *d)
{
	char clock[16], src[18], dst[18], what[192];
	time_t sec = h->ts.tv_sec;
	size_t n = h->caplen, off = 14;
	unsigned type;
	struct tm tm;

	localtime_r(&sec, &tm);
	strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	printf("%s.%06ld ", clock, (long)h->ts.tv_usec);
	if (n < 14) {
		printf("[%zu bytes captured], length %u\n", n, h->len);
		return;
	}
	fmt_mac(d + 6, src, sizeof(src));
	fmt_mac(d, dst, sizeof(dst));
	printf("%s > %s", src, dst);
	type = be16(d + 12);
	for (int i = 0; i < CAP_VLAN_DEPTH &&
			(type == 0x8100 || type == 0x88a8) && off + 4 <= n;
	     i++) {
		printf(", vlan %u", be16(d + off) & 0xfff);
		type = be16(d + off + 2);
		off += 4;
	}
	if (type == 0x0800)
		fmt_ipv4(d + off, n - off, what, sizeof(what));
	else if (type == 0x86dd)
		fmt_ipv6(d + off, n - off, what, sizeof(what));
	else if (type == 0x0806)
		fmt_arp("ARP", d + off, n - off, what, sizeof(what));
	else if (type == 0x8035)
		fmt_arp("RARP", d + off, n - off, what, sizeof(what));
	else if (type < 0x0600)
		snprintf(what, sizeof(what), "802.3 length %u", type);
	else
		snprintf(what, sizeof(what), "ethertype 0x%04x", type);
	printf(", %s, length %u\n", what, h->len);
}

/* ---- reading ---- */

/* The FIFO has the pcap file header: hand the FIFO to libpcap */
static int cap_start_reading(struct cap_run *r)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "", what[300];
	int flags = fcntl(r->fifo_fd, F_GETFL);
	FILE *fp;

	/* libpcap reads whole records: block for the rest of one */
	if (flags < 0 || fcntl(r->fifo_fd, F_SETFL, flags & ~O_NONBLOCK))
		return ctl_fail("capture: fcntl: %s", strerror(errno));
	fp = fdopen(r->fifo_fd, "rb");
	if (!fp)
		return ctl_fail("capture: fdopen: %s", strerror(errno));
	r->fifo_fd = -1; /* fp's now */
	/* unbuffered: poll() on the fd then tells whether a frame is there */
	setvbuf(fp, NULL, _IONBF, 0);
	r->in = pcap_fopen_offline(fp, errbuf);
	if (!r->in) {
		fclose(fp);
		return ctl_fail("capture: nethubd's stream is not pcap: %s",
				errbuf);
	}
	if (!r->text) {
		r->dump =
		    pcap_dump_fopen(r->in, r->out_fp ? r->out_fp : stdout);
		if (!r->dump)
			return ctl_fail("capture: cannot write %s: %s",
					r->out_fp ? r->o->write : "stdout",
					pcap_geterr(r->in));
		r->out_fp = NULL; /* the dumper's now */
	}
	if (r->o->hub)
		snprintf(what, sizeof(what), "hub %ld", r->o->hubid);
	else
		snprintf(what, sizeof(what), "%s", r->o->port);
	fprintf(stderr,
		"nethubctl: capturing on %s%s%s%s, snapshot length %d%s%s "
		"(Ctrl-C to stop)\n",
		what, r->o->queue ? " (queue " : "",
		r->o->queue ? r->o->queue : "", r->o->queue ? ")" : "",
		pcap_snapshot(r->in), r->o->filter ? ", filter: " : "",
		r->o->filter ? r->o->filter : "");
	return 0;
}

/* Flush the output; false when it failed (said, unless its reader left) */
static bool cap_flush(struct cap_run *r)
{
	FILE *f = r->dump ? pcap_dump_file(r->dump) : stdout;
	int err;

	if (!r->out_dirty)
		return true;
	r->out_dirty = false;
	if (!fflush(f) && !ferror(f))
		return true;
	err = errno;
	if (err != EPIPE)
		ctl_fail("capture: cannot write %s: %s",
			 r->dump && r->o->write && strcmp(r->o->write, "-")
			     ? r->o->write
			     : "stdout",
			 strerror(err));
	return false;
}

/* Take one record from the FIFO: -1 to go on, else why to stop */
static int cap_read_one(struct cap_run *r)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc = pcap_next_ex(r->in, &h, &data);

	if (rc == PCAP_ERROR_BREAK)
		return CAP_END_EOF;
	if (rc != 1) {
		ctl_fail("capture: reading nethubd's stream: %s",
			 pcap_geterr(r->in));
		return CAP_END_ERROR;
	}
	if (r->dump)
		pcap_dump((u_char *)r->dump, h, data);
	else
		cap_print(h, data);
	r->out_dirty = true;
	r->got++;
	if (r->o->count && r->got >= (unsigned long long)r->o->count)
		return CAP_END_COUNT;
	return -1;
}

/* Milliseconds until @t for poll(), at least 0 */
static int ms_until(double t)
{
	double left = (t - ctl_now()) * 1000.0;

	return left <= 0 ? 0 : left > 60000.0 ? 60000 : (int)left + 1;
}

/*
 * Read until something says stop.  On a signal the capture is removed in
 * a thread meanwhile (what nethubd flushes still arrives), and reading
 * goes on until nethubd closes the FIFO.
 */
static enum cap_end cap_loop(struct cap_run *r)
{
	double next_look = ctl_now() + CAP_LOOK_S, drain_until = -1;
	enum cap_end end = CAP_END_SIGNAL;
	bool draining = false;

	for (;;) {
		struct pollfd pfd[4] = {
		    {.fd = r->sig_fd, .events = POLLIN},
		    {.fd = r->in ? fileno(pcap_file(r->in)) : r->fifo_fd,
		     .events = POLLIN},
		    {.fd =
			 r->del_started && !r->del_joined ? r->del_pipe[0] : -1,
		     .events = POLLIN},
		    {.fd = r->out_is_pipe ? STDOUT_FILENO : -1},
		};
		struct signalfd_siginfo si;
		double until = drain_until >= 0 ? drain_until : next_look;
		int n, c;

		n = poll(pfd, 4, 0);
		if (n == 0) {
			/* nothing waiting: pass on what we have */
			if (!cap_flush(r))
				return CAP_END_OUTPUT;
			n = poll(pfd, 4,
				 draining && drain_until < 0 ? -1
							     : ms_until(until));
		}
		if (n < 0 && errno != EINTR) {
			ctl_fail("capture: poll: %s", strerror(errno));
			return CAP_END_ERROR;
		}
		if (n > 0 && pfd[0].revents &&
		    read(r->sig_fd, &si, sizeof(si)) == sizeof(si)) {
			if (draining || !r->in)
				return end; /* a second signal: stop now */
			/* remove the capture, and read what is left */
			if (!cap_remove_async(r))
				return end;
			draining = true;
			continue;
		}
		if (n > 0 && pfd[3].revents)
			return CAP_END_OUTPUT; /* our reader left */
		if (n > 0 && pfd[1].revents) {
			if (!r->in) {
				if (cap_start_reading(r))
					return CAP_END_ERROR;
				continue;
			}
			c = cap_read_one(r);
			if (c == CAP_END_EOF && draining)
				return end;
			if (c >= 0)
				return (enum cap_end)c;
			continue;
		}
		if (n > 0 && pfd[2].revents && !r->del_joined) {
			/* object-del answered: the FIFO ends soon */
			pthread_join(r->del_thread, NULL);
			r->del_joined = true;
			if (r->del_rc)
				return end;
			drain_until = ctl_now() + CAP_DRAIN_S;
			continue;
		}
		if (drain_until >= 0 && ctl_now() >= drain_until)
			return end; /* nethubd did not close it in time */
		if (!draining && ctl_now() >= next_look) {
			int rc = cap_look(r);

			if (rc == CTL_EXIT_USAGE)
				return CAP_END_ERROR;
			if (cap_is_gone(r))
				return CAP_END_GONE;
			next_look = ctl_now() + CAP_LOOK_S;
		}
	}
}

/* ---- ending ---- */

static void cap_close_input(struct cap_run *r)
{
	if (r->in)
		pcap_close(r->in); /* closes the FIFO */
	r->in = NULL;
	if (r->fifo_fd >= 0)
		close(r->fifo_fd);
	r->fifo_fd = -1;
}

/* Everything we made goes; the capture too, if it is still there and
 * nobody removed it yet.  Return: @rc, or the removal's failure. */
static int cap_cleanup(struct cap_run *r, int rc, enum cap_end end)
{
	bool counted = end == CAP_END_SIGNAL || end == CAP_END_COUNT ||
		       end == CAP_END_OUTPUT;
	int del_rc = 0;

	if (r->del_started) {
		if (!r->del_joined) {
			/* stopped reading early (a second signal): nethubd
			 * must not wait for us to read what is left */
			cap_close_input(r);
			pthread_join(r->del_thread, NULL);
		}
		r->del_joined = true;
		del_rc = r->del_rc;
	} else if (r->added && !r->conn_lost) {
		/* the counters before the FIFO closes (a closed FIFO is an
		 * error to nethubd); after a failure or the FIFO's end,
		 * whether the capture (and nethubd) is still there */
		if (counted)
			cap_look(r);
		cap_close_input(r);
		if (!r->conn_lost)
			del_rc = cap_remove(r, !counted && end != CAP_END_GONE);
	}
	if (r->conn_lost) /* said by the connection (ctl_gone()) */
		del_rc = CTL_EXIT_USAGE;
	if (!del_rc && r->failed)
		del_rc = CTL_EXIT_QMP;
	if (r->dump) {
		pcap_dump_flush(r->dump);
		pcap_dump_close(r->dump);
	} else if (r->text) {
		fflush(stdout);
	}
	r->dump = NULL;
	if (r->out_fp)
		fclose(r->out_fp);
	cap_close_input(r);
	if (r->fifo_made && unlink(r->fifo))
		ctl_fail("capture: cannot remove %s: %s", r->fifo,
			 strerror(errno));
	if (r->dir_made && rmdir(r->dir))
		ctl_fail("capture: cannot remove %s: %s", r->dir,
			 strerror(errno));
	if (r->del_pipe[0] >= 0)
		close(r->del_pipe[0]);
	if (r->del_pipe[1] >= 0)
		close(r->del_pipe[1]);
	if (r->sig_fd >= 0)
		close(r->sig_fd);
	return rc ? rc : del_rc;
}

/* The summary on stderr */
static void cap_summary(const struct cap_run *r)
{
	fprintf(stderr, "nethubctl: %llu frame%s captured", r->got,
		r->got == 1 ? "" : "s");
	if (r->info)
		fprintf(stderr, ", %lld filtered, %lld dropped by the switch",
			ctl_json_int(json_object_get(r->info, "filtered"), 0),
			ctl_json_int(json_object_get(r->info, "dropped"), 0));
	fputc('\n', stderr);
}

int ctl_capture_main(const struct ctl_opts *opts, int argc, char **argv)
{
	struct cap_opts o = {0};
	struct cap_run r = {
	    .o = &o, .fifo_fd = -1, .sig_fd = -1, .del_pipe = {-1, -1}};
	enum cap_end end = CAP_END_ERROR;
	bool started;
	int rc;

	snprintf(r.id, sizeof(r.id), "nethubctl-capture-%ld", (long)getpid());
	rc = cap_parse(argc, argv, &o);
	if (!rc && opts->dry_run) {
		json_t *req =
		    json_pack("{ssso}", "execute", "object-add", "arguments",
			      cap_args(&r, "$TMPDIR/" CAP_DIR_TEMPLATE
					   "/" CAP_FIFO_NAME));
		char *text = req ? json_dumps(req, JSON_INDENT(2)) : NULL;

		if (text)
			puts(text);
		else
			rc = ctl_fail("out of memory");
		free(text);
		json_decref(req);
		free(o.filter);
		return rc;
	}
	if (!rc)
		rc = cap_check_local(opts);
	if (!rc)
		rc = cap_open_output(&r);
	if (!rc)
		rc = cap_signals(&r);
	if (!rc)
		rc = ctl_open(opts, &r.c);
	if (!rc)
		rc = cap_make_fifo(&r);
	if (!rc)
		rc = cap_add(&r);
	started = !rc;
	if (!rc) {
		end = cap_loop(&r);
		if (end == CAP_END_ERROR)
			rc = CTL_EXIT_USAGE;
	}
	rc = cap_cleanup(&r, rc, end);
	if (started)
		cap_summary(&r);
	json_decref(r.info);
	ctl_close(r.c);
	free(o.filter);
	return rc;
}
