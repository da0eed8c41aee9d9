// SPDX-License-Identifier: MIT
/*
 * transport_tap.c - nethub-bench's tap transport: each bench port is an
 * AF_PACKET socket on a host interface (--connect IF0,IF1,...), the kernel
 * side of whatever the switch under test holds: a tap that nethubd or
 * vde_switch opened, or a veth whose peer is a Linux bridge or OVS port.
 * Also the batched datagram I/O (struct pkt_io) that the vde transport
 * shares.
 *
 * #included by nethub-bench.c just before its transports[] table; it
 * uses that file's port, frame and sink definitions.  It owns its ports'
 * sockets and buffers and the interface settings it makes (up, IPv6 off).
 * It must never touch an interface it was not given, never add an address
 * or a route, and never allocate or log on the per-frame path.
 */
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/ioctl.h>

#ifndef PACKET_QDISC_BYPASS
#define PACKET_QDISC_BYPASS 20
#endif
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define TAP_MAX_FRAME	     (65535u + 14u) /* largest MTU + header */
#define TAP_BATCH	     64
#define TAP_SOCKBUF	     (16 * 1024 * 1024) /* bytes, each way */
#define TAP_CARRIER_WAIT_MS  1000
#define TAP_CARRIER_STEP_MS  20

/* ---------------------------------------------------------------------- */
/* Batched datagram I/O: one frame per datagram, sendmmsg and recvmmsg     */
/* ---------------------------------------------------------------------- */

/*
 * struct pkt_io - a port's send and receive batches on a socket that
 * carries one Ethernet frame per datagram and needs no address per send
 * (a bound AF_PACKET socket, a connected AF_UNIX datagram socket)
 */
struct pkt_io {
	unsigned batch;	 /* frames per sendmmsg */
	uint8_t *tx_buf; /* batch frame templates, frame_size apart */
	struct mmsghdr *tx_msgs;
	struct iovec *tx_iov;
	size_t rx_slot;	 /* bytes per receive buffer */
	uint8_t *rx_buf; /* BENCH_RX_BATCH slots */
	struct mmsghdr rx_msgs[BENCH_RX_BATCH];
	struct iovec rx_iov[BENCH_RX_BATCH];
};

/* pkt_io_free() - release @io's buffers and @io itself; NULL is fine */
static void pkt_io_free(struct pkt_io *io)
{
	if (!io)
		return;
	free(io->tx_buf);
	free(io->tx_msgs);
	free(io->tx_iov);
	free(io->rx_buf);
	free(io);
}

/**
 * pkt_io_new() - batches for port @p: frame templates to its peer, and
 * receive buffers of @rx_slot bytes (raised to --frame-size and to
 * BENCH_RX_SLOT_MIN)
 * Return: the batches (caller frees with pkt_io_free()), NULL when out of
 * memory
 */
static struct pkt_io *pkt_io_new(const struct bench_port *p, size_t rx_slot)
{
	size_t fs = p->cfg->frame_size;
	struct pkt_io *io = calloc(1, sizeof(*io));
	uint8_t dst[6];
	unsigned i;

	if (!io)
		return NULL;
	io->batch = port_batch(p, TAP_BATCH);
	if (rx_slot < fs)
		rx_slot = fs;
	if (rx_slot < BENCH_RX_SLOT_MIN)
		rx_slot = BENCH_RX_SLOT_MIN;
	io->rx_slot = rx_slot;
	io->tx_buf = malloc(io->batch * fs);
	io->tx_msgs = calloc(io->batch, sizeof(*io->tx_msgs));
	io->tx_iov = calloc(io->batch, sizeof(*io->tx_iov));
	io->rx_buf = malloc(rx_slot * BENCH_RX_BATCH);
	if (!io->tx_buf || !io->tx_msgs || !io->tx_iov || !io->rx_buf) {
		pkt_io_free(io);
		return NULL;
	}
	port_peer_mac(p, dst);
	for (i = 0; i < io->batch; i++) {
		frame_template(io->tx_buf + i * fs, fs, p->idx, dst);
		io->tx_iov[i].iov_base = io->tx_buf + i * fs;
		io->tx_iov[i].iov_len = fs;
		io->tx_msgs[i].msg_hdr.msg_iov = &io->tx_iov[i];
		io->tx_msgs[i].msg_hdr.msg_iovlen = 1;
	}
	for (i = 0; i < BENCH_RX_BATCH; i++) {
		io->rx_iov[i].iov_base = io->rx_buf + i * rx_slot;
		io->rx_iov[i].iov_len = rx_slot;
		io->rx_msgs[i].msg_hdr.msg_iov = &io->rx_iov[i];
		io->rx_msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return io;
}

/**
 * pkt_io_send() - stamp and send up to @n generator frames of @p on @fd
 *
 * EAGAIN (socket buffer full) waits for EPOLLOUT; ENOBUFS (the device's
 * queue is full, PACKET_QDISC_BYPASS) is retried on the next turn.  Frames
 * the kernel refused are not counted as sent and are stamped again.
 * Return: frames sent, 0 when pushed back, -errno on a port error
 */
static int pkt_io_send(struct bench_port *p, struct pkt_io *io, int fd,
		       unsigned n, uint8_t epoch, uint64_t now)
{
	size_t fs = p->cfg->frame_size;
	unsigned i;
	int r;

	if (n > io->batch)
		n = io->batch;
	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		bench_stamp(p, io->tx_buf + i * fs, epoch, p->tx_seq + i, now);
	r = sendmmsg(fd, io->tx_msgs, n, MSG_DONTWAIT);
	if (r >= 0)
		return r;
	switch (errno) {
	case EAGAIN:
		p->tx_blocked = true;
		return 0;
	case ENOBUFS:
	case EINTR:
		return 0;
	default:
		p->tx_errors++;
		return -errno;
	}
}

/**
 * pkt_io_recv() - receive what is ready on @fd for @p, at most
 * BENCH_RX_ROUNDS batches, through sink_frame()
 * Return: frames received, -errno on a port error
 */
static int pkt_io_recv(struct bench_port *p, struct pkt_io *io, int fd)
{
	int total = 0, r, i;
	unsigned round;
	uint64_t now;

	for (round = 0; round < BENCH_RX_ROUNDS; round++) {
		r = recvmmsg(fd, io->rx_msgs, BENCH_RX_BATCH, MSG_DONTWAIT,
			     NULL);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -errno;
		}
		now = now_ns();
		for (i = 0; i < r; i++)
			sink_frame(p->w, p, io->rx_buf + (size_t)i * io->rx_slot,
				   io->rx_msgs[i].msg_len, now);
		total += r;
		if (r < BENCH_RX_BATCH)
			break;
	}
	return total;
}

/* ---------------------------------------------------------------------- */
/* tap: AF_PACKET on a host interface                                      */
/* ---------------------------------------------------------------------- */

struct tap_port {
	char ifname[IFNAMSIZ];
	unsigned mtu;
	struct pkt_io *io;
};

static void tap_close(struct bench_port *p)
{
	struct tap_port *t = p->tp;
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
	free(t);
	p->tp = NULL;
}

/* tap_ipv6_off() - no autoconfiguration, ND or MLD frames from the kernel
 * on @ifname; best effort (IPv6 may be absent altogether) */
static void tap_ipv6_off(const char *ifname)
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
 * tap_bring_up() - set @ifname up (IPv6 off first, so that it says nothing
 * when it comes up) and wait a moment for its carrier
 * @fd:		any socket, for the interface ioctls
 * Return: 0, or -errno with @err filled
 */
static int tap_bring_up(int fd, const char *ifname, char *err, size_t errlen)
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
		tap_ipv6_off(ifname);
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
		tap_ipv6_off(ifname);
	}
	/* a tap nobody holds, or a veth whose peer is down, has no carrier:
	 * learning then times out and says so; give a starting switch a
	 * moment first */
	for (waited = 0; waited < TAP_CARRIER_WAIT_MS;
	     waited += TAP_CARRIER_STEP_MS) {
		if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 &&
		    (ifr.ifr_flags & IFF_RUNNING))
			return 0;
		usleep(TAP_CARRIER_STEP_MS * 1000);
	}
	fprintf(stderr, "nethub-bench: interface '%s' has no carrier (does "
		"the switch hold its other end?)\n", ifname);
	return 0;
}

/**
 * tap_check_connect() - the --connect list names one interface per port,
 * each once, each a possible interface name
 * Return: 0, or -EINVAL with @err filled
 */
static int tap_check_connect(const struct bench_port *p, char *err,
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

static void tap_sock_bufs(int fd)
{
	int sz = TAP_SOCKBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

static int tap_open(struct bench_port *p, uint64_t deadline, char *err,
		    size_t errlen)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	unsigned fs = p->cfg->frame_size;
	struct tap_port *t;
	struct ifreq ifr;
	int fd, e, one = 1;

	(void)deadline; /* the interface exists or it does not */
	e = tap_check_connect(p, err, errlen);
	if (e)
		return e;
	t = calloc(1, sizeof(*t));
	if (!t)
		goto nomem;
	p->tp = t;
	snprintf(t->ifname, sizeof(t->ifname), "%s", p->cfg->connect[p->idx]);

	/* protocol 0: nothing arrives until bind() names the interface */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "interface '%s': AF_PACKET socket: %s%s",
			 t->ifname, strerror(e),
			 e == EPERM ? " (the tap transport needs root, or "
				      "CAP_NET_RAW and CAP_NET_ADMIN)"
				    : "");
		return -e;
	}
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
	e = tap_bring_up(fd, t->ifname, err, errlen);
	if (e)
		return e;

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
	tap_sock_bufs(fd);
	sll.sll_protocol = htons(ETH_P_ALL);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		e = errno;
		snprintf(err, errlen, "interface '%s': bind: %s", t->ifname,
			 strerror(e));
		return -e;
	}
	t->io = pkt_io_new(p, t->mtu + ETH_HLEN);
	if (!t->io)
		goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

static int tap_send(struct bench_port *p, unsigned n, uint8_t epoch,
		    uint64_t now)
{
	struct tap_port *t = p->tp;

	return pkt_io_send(p, t->io, p->fd, n, epoch, now);
}

static int tap_send_ctrl(struct bench_port *p, const uint8_t *frame,
			 size_t len)
{
	return send(p->fd, frame, len, MSG_DONTWAIT) < 0 ? -errno : 0;
}

static int tap_recv(struct bench_port *p)
{
	struct tap_port *t = p->tp;

	return pkt_io_recv(p, t->io, p->fd);
}

static const struct bench_transport transport_tap = {
	.name = "tap",
	.max_frame = TAP_MAX_FRAME,
	.open = tap_open,
	.send = tap_send,
	.send_ctrl = tap_send_ctrl,
	.recv = tap_recv,
	.close = tap_close,
};
