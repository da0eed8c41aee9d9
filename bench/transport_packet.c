/* SPDX-License-Identifier: MIT */
/* transport_packet.c - nethub-bench's "tap" transport (--transport tap, or
 * its other name packet): each bench port is an AF_PACKET socket on a host
 * interface (--connect IF0,IF1,...), the kernel side of whatever the
 * switch under test holds: a tap that nethubd or vde_switch opened, or a
 * veth whose peer is a Linux bridge or OVS port.  Any interface works; it
 * need not be a tap (backends/tap.c is nethubd's tap backend, unrelated).
 *
 * Frames move in batches through pkt_ring.c's mapped rings (--packet-io
 * mmap, the default where the kernel sets them up) or pkt_io.c's
 * sendmmsg/recvmmsg (--packet-io mmsg, and the fallback).  It owns its
 * ports' sockets, rings and buffers and the interface settings it makes
 * (up, IPv6 off).  It must never touch an interface it was not given,
 * never add an address or a route, and never allocate or log on the
 * per-frame path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bench.h"

#ifndef PACKET_QDISC_BYPASS
#define PACKET_QDISC_BYPASS 20
#endif
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define BENCH_PACKET_MAX_FRAME	    (65535u + 14u) /* largest MTU + header */
#define BENCH_PACKET_SOCKBUF	    (16 * 1024 * 1024) /* bytes, each way */
#define BENCH_PACKET_CARRIER_WAIT_MS 1000
#define BENCH_PACKET_CARRIER_STEP_MS 20

struct packet_port {
	char ifname[IFNAMSIZ];
	unsigned mtu;
	struct pkt_io *io;     /* --packet-io mmsg, else NULL */
	struct pkt_ring *ring; /* --packet-io mmap, else NULL */
};

static void packet_close(struct bench_port *p)
{
	struct packet_port *t = p->tp;
	struct tpacket_stats st;
	socklen_t len = sizeof(st);

	if (t && p->fd >= 0 &&
	    !getsockopt(p->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) &&
	    st.tp_drops)
		fprintf(stderr,
			"nethub-bench: interface '%s': the kernel dropped %u "
			"frames for the bench (its receive buffer was full)\n",
			t->ifname, st.tp_drops);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (!t)
		return;
	pkt_io_free(t->io);
	pkt_ring_free(t->ring);
	free(t);
	p->tp = NULL;
}

/* packet_ipv6_off() - no autoconfiguration, ND or MLD frames from the kernel
 * on @ifname; best effort (IPv6 may be absent altogether) */
static void packet_ipv6_off(const char *ifname)
{
	char path[96];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 ifname);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, "1\n", 2) != 2) {
		/* nothing else to do: the sink counts any frames as foreign */
	}
	close(fd);
}

/**
 * packet_bring_up() - set @ifname up (IPv6 off first, so that it says nothing
 * when it comes up) and wait a moment for its carrier
 * @fd:		any socket, for the interface ioctls
 * Return: 0, or -errno with @err filled
 */
static int packet_bring_up(int fd, const char *ifname, char *err, size_t errlen)
{
	struct ifreq ifr;
	unsigned waited;
	int e;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		e = errno;
		snprintf(err, errlen, "interface '%s': %s", ifname,
			 strerror(e));
		return -e;
	}
	if (!(ifr.ifr_flags & IFF_UP)) {
		packet_ipv6_off(ifname);
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr)) {
			e = errno;
			snprintf(err, errlen,
				 "interface '%s' is down and cannot be brought "
				 "up: %s",
				 ifname, strerror(e));
			return -e;
		}
	} else {
		packet_ipv6_off(ifname);
	}
	/* a tap nobody holds, or a veth whose peer is down, has no carrier:
	 * learning then times out and says so; give a starting switch a
	 * moment first */
	for (waited = 0; waited < BENCH_PACKET_CARRIER_WAIT_MS;
	     waited += BENCH_PACKET_CARRIER_STEP_MS) {
		if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 &&
		    (ifr.ifr_flags & IFF_RUNNING))
			return 0;
		usleep(BENCH_PACKET_CARRIER_STEP_MS * 1000);
	}
	fprintf(stderr, "nethub-bench: interface '%s' has no carrier (does "
		"the switch hold its other end?)\n", ifname);
	return 0;
}

/**
 * packet_check_connect() - the --connect list names one interface per port,
 * each once, each a possible interface name
 * Return: 0, or -EINVAL with @err filled
 */
static int packet_check_connect(const struct bench_port *p, char *err,
			     size_t errlen)
{
	const struct bench_cfg *cfg = p->cfg;
	const char *name;
	unsigned i;

	if (cfg->n_connect != cfg->ports) {
		snprintf(err, errlen,
			 "--connect: tap needs one interface per port: %u "
			 "given for %u ports",
			 cfg->n_connect, cfg->ports);
		return -EINVAL;
	}
	name = cfg->connect[p->idx];
	if (!*name || strlen(name) >= IFNAMSIZ || strchr(name, '/')) {
		snprintf(err, errlen,
			 "--connect: '%s' is not an interface name", name);
		return -EINVAL;
	}
	for (i = 0; i < p->idx; i++)
		if (!strcmp(cfg->connect[i], name)) {
			snprintf(err, errlen,
				 "--connect: interface '%s' is given for ports "
				 "%u and %u",
				 name, i, p->idx);
			return -EINVAL;
		}
	return 0;
}

/* packet_socket() - a non-blocking AF_PACKET socket that hears nothing
 * until bound; Return: the fd, or -errno with @err filled */
static int packet_socket(const char *ifname, char *err, size_t errlen)
{
	int fd, e;

	/* protocol 0: nothing arrives until bind() names the interface */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		return fd;
	e = errno;
	snprintf(err, errlen, "interface '%s': AF_PACKET socket: %s%s",
		 ifname, strerror(e),
		 e == EPERM ? " (the tap transport needs root, or "
			      "CAP_NET_RAW and CAP_NET_ADMIN)"
			    : "");
	return -e;
}

/**
 * packet_rings() - --packet-io mmap: map rings on p->fd
 * The default stays sendmmsg/recvmmsg: measured here, the rings delivered
 * no more through a switch (a tap refuses what its queue cannot take, so
 * the switch is what limits the row either way), cost the switch a few
 * per cent more CPU per frame and add up to a block's wait to latency.
 * Return: 0, or -errno with @err filled
 */
static int packet_rings(struct bench_port *p, char *err, size_t errlen)
{
	struct packet_port *t = p->tp;
	char why[160];

	if (p->cfg->packet_io != BENCH_PACKET_IO_MMAP)
		return 0;
	t->ring = pkt_ring_new(p, p->fd, t->mtu + ETH_HLEN, why, sizeof(why));
	if (t->ring)
		return 0;
	snprintf(err, errlen, "interface '%s': --packet-io mmap: %s", t->ifname,
		 why);
	return errno ? -errno : -ENOMEM;
}

static int packet_open(struct bench_port *p, uint64_t deadline, char *err,
		    size_t errlen)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	unsigned fs = p->cfg->frame_size;
	struct packet_port *t;
	struct ifreq ifr;
	int fd, e, one = 1;

	(void)deadline; /* the interface exists or it does not */
	e = packet_check_connect(p, err, errlen);
	if (e)
		return e;
	t = calloc(1, sizeof(*t));
	if (!t)
		goto nomem;
	p->tp = t;
	snprintf(t->ifname, sizeof(t->ifname), "%s", p->cfg->connect[p->idx]);

	fd = packet_socket(t->ifname, err, errlen);
	if (fd < 0)
		return fd;
	p->fd = fd;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->ifname);
	if (ioctl(fd, SIOCGIFINDEX, &ifr)) {
		e = errno;
		snprintf(err, errlen, "interface '%s': %s", t->ifname,
			 e == ENODEV ? "no such interface" : strerror(e));
		return -e;
	}
	sll.sll_ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFMTU, &ifr)) {
		e = errno;
		snprintf(err, errlen, "interface '%s': MTU: %s", t->ifname,
			 strerror(e));
		return -e;
	}
	t->mtu = (unsigned)ifr.ifr_mtu;
	if (fs > t->mtu + ETH_HLEN) {
		snprintf(err, errlen,
			 "--frame-size: %u is more than interface '%s' carries "
			 "(MTU %u + %u)",
			 fs, t->ifname, t->mtu, ETH_HLEN);
		return -EMSGSIZE;
	}
	e = packet_bring_up(fd, t->ifname, err, errlen);
	if (e)
		return e;
	e = packet_rings(p, err, errlen);
	if (e)
		return e;
	fd = p->fd;

	/* not our own frames back; straight to the driver, so that a full
	 * device queue pushes back (ENOBUFS) instead of dropping unseen */
	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
		       sizeof(one))) {
		e = errno;
		snprintf(err, errlen,
			 "interface '%s': PACKET_IGNORE_OUTGOING: %s (kernel "
			 "4.20 or later needed)",
			 t->ifname, strerror(e));
		return -e;
	}
	(void)setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one,
			 sizeof(one));
	sock_bufs(fd, BENCH_PACKET_SOCKBUF);
	sll.sll_protocol = htons(ETH_P_ALL);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		e = errno;
		snprintf(err, errlen, "interface '%s': bind: %s", t->ifname,
			 strerror(e));
		return -e;
	}
	if (t->ring)
		return 0;
	t->io = pkt_io_new(p, t->mtu + ETH_HLEN);
	if (!t->io)
		goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

static int packet_send(struct bench_port *p, unsigned n, uint8_t epoch,
		    uint64_t now)
{
	struct packet_port *t = p->tp;

	if (t->ring)
		return pkt_ring_send(p, t->ring, p->fd, n, epoch, now);
	return pkt_io_send(p, t->io, p->fd, n, epoch, now);
}

static int packet_send_ctrl(struct bench_port *p, const uint8_t *frame,
			 size_t len)
{
	struct packet_port *t = p->tp;

	/* with a transmit ring, every send() sends the ring's slots */
	if (t->ring)
		return pkt_ring_send_ctrl(t->ring, p->fd, frame, len);
	return send(p->fd, frame, len, MSG_DONTWAIT) < 0 ? -errno : 0;
}

static int packet_recv(struct bench_port *p)
{
	struct packet_port *t = p->tp;

	if (t->ring)
		return pkt_ring_recv(p, t->ring);
	return pkt_io_recv(p, t->io, p->fd);
}

const struct bench_transport transport_packet = {
	.name = "tap",
	.max_frame = BENCH_PACKET_MAX_FRAME,
	.open = packet_open,
	.send = packet_send,
	.send_ctrl = packet_send_ctrl,
	.recv = packet_recv,
	.close = packet_close,
};
