/* SPDX-License-Identifier: MIT */
/* transport_udp.c - nethub-bench's udp transport: one Ethernet frame per
 * UDP datagram on 127.0.0.1, QEMU's -netdev socket,udp=...,localaddr=
 *
 * Bench port i binds 127.0.0.1:BASE+2i and sends to 127.0.0.1:BASE+2i+1
 * (--udp-ports BASE).  A batch goes out as one UDP GSO send where the
 * kernel can (else sendmmsg()), and comes in with recvmmsg(), with UDP GRO
 * on so that a switch's GSO runs arrive as one message each.  Owns its
 * ports' sockets and batch buffers; never allocates or logs on the
 * per-frame path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

#define BENCH_UDP_BATCH 64 /* frames per send call */
#define BENCH_SOCKBUF	(4 * 1024 * 1024) /* bytes, each way */

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#define BENCH_GSO_SEGS_MAX 64 /* UDP_MAX_SEGMENTS in older kernels */
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#define BENCH_GRO_SLOT 65536 /* a coalesced receive: up to 64 KiB */

struct udp_port {
	unsigned batch;
	unsigned gso_segs; /* frames per GSO send, 0: sendmmsg */
	struct msghdr gso_msg;
	struct iovec gso_iov;
	union {
		char buf[64]; /* room for CMSG_SPACE(sizeof(uint16_t)) */
		size_t align; /* cmsghdr alignment */
	} gso_cmsg;
	uint8_t *tx_buf; /* batch frames, frame_size apart */
	struct mmsghdr *tx_msgs;
	struct iovec *tx_iov;
	size_t rx_slot;
	uint8_t *rx_buf; /* BENCH_RX_BATCH slots */
	struct mmsghdr rx_msgs[BENCH_RX_BATCH];
	struct iovec rx_iov[BENCH_RX_BATCH];
	bool gro; /* UDP_GRO on: a message may hold a run of datagrams */
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} rx_cmsg[BENCH_RX_BATCH];
};

static void udp_close(struct bench_port *p)
{
	struct udp_port *u = p->tp;

	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (!u)
		return;
	free(u->tx_buf);
	free(u->tx_msgs);
	free(u->tx_iov);
	free(u->rx_buf);
	free(u);
	p->tp = NULL;
}

/*
 * udp_gso_setup() - send a batch as one UDP GSO datagram when the kernel
 * can: the sender's stack then runs once per batch instead of once per
 * frame, and the receiving socket (the switch's) still gets one datagram
 * per frame, split on the way in.  This keeps the generator well ahead of
 * the switch on a two-core machine.
 */
static void udp_gso_setup(struct bench_port *p, struct udp_port *u)
{
	unsigned fs = p->cfg->frame_size, segs = BENCH_GSO_SEGS_MAX;
	struct cmsghdr *cm;
	int probe = (int)fs, off = 0;
	uint16_t sz = (uint16_t)fs;

	if (fs > UINT16_MAX ||
	    setsockopt(p->fd, SOL_UDP, UDP_SEGMENT, &probe, sizeof(probe)))
		return;
	(void)setsockopt(p->fd, SOL_UDP, UDP_SEGMENT, &off, sizeof(off));
	if (segs > BENCH_UDP_MAX / fs)
		segs = BENCH_UDP_MAX / fs;
	if (segs > u->batch)
		segs = u->batch;
	if (segs < 2)
		return;
	u->gso_segs = segs;
	u->gso_iov.iov_base = u->tx_buf;
	u->gso_msg.msg_iov = &u->gso_iov;
	u->gso_msg.msg_iovlen = 1;
	u->gso_msg.msg_control = u->gso_cmsg.buf;
	u->gso_msg.msg_controllen = CMSG_SPACE(sizeof(sz));
	cm = CMSG_FIRSTHDR(&u->gso_msg);
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(sz));
	memcpy(CMSG_DATA(cm), &sz, sizeof(sz));
}

static int udp_open(struct bench_port *p, uint64_t deadline, char *err,
		    size_t errlen)
{
	unsigned fs = p->cfg->frame_size, i;
	struct sockaddr_in a = { .sin_family = AF_INET };
	uint8_t dst[6];
	struct udp_port *u;
	int fd;

	(void)deadline;
	p->udp_local_port = (uint16_t)(p->cfg->udp_base + 2 * p->idx);
	p->udp_switch_port = (uint16_t)(p->udp_local_port + 1);
	u = calloc(1, sizeof(*u));
	if (!u)
		goto nomem;
	p->tp = u;
	u->batch = port_batch(p, BENCH_UDP_BATCH);
	u->tx_buf = malloc((size_t)u->batch * fs);
	u->tx_msgs = calloc(u->batch, sizeof(*u->tx_msgs));
	u->tx_iov = calloc(u->batch, sizeof(*u->tx_iov));
	if (!u->tx_buf || !u->tx_msgs || !u->tx_iov)
		goto nomem;
	port_peer_mac(p, dst);
	for (i = 0; i < u->batch; i++) {
		frame_template(u->tx_buf + (size_t)i * fs, fs, p->idx, dst);
		u->tx_iov[i].iov_base = u->tx_buf + (size_t)i * fs;
		u->tx_iov[i].iov_len = fs;
		u->tx_msgs[i].msg_hdr.msg_iov = &u->tx_iov[i];
		u->tx_msgs[i].msg_hdr.msg_iovlen = 1;
	}

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	p->fd = fd;
	sock_bufs(fd, BENCH_SOCKBUF);
	/* A switch that sends runs of datagrams with GSO gets them to us as
	 * one message each; without GRO the kernel would split them again */
	u->gro = !setsockopt(fd, SOL_UDP, UDP_GRO, &(int){ 1 }, sizeof(int));
	u->rx_slot = fs > BENCH_RX_SLOT_MIN ? fs : BENCH_RX_SLOT_MIN;
	if (u->gro && u->rx_slot < BENCH_GRO_SLOT)
		u->rx_slot = BENCH_GRO_SLOT;
	u->rx_buf = malloc(u->rx_slot * BENCH_RX_BATCH);
	if (!u->rx_buf)
		goto nomem;
	for (i = 0; i < BENCH_RX_BATCH; i++) {
		u->rx_iov[i].iov_base = u->rx_buf + i * u->rx_slot;
		u->rx_iov[i].iov_len = u->rx_slot;
		u->rx_msgs[i].msg_hdr.msg_iov = &u->rx_iov[i];
		u->rx_msgs[i].msg_hdr.msg_iovlen = 1;
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(p->udp_local_port);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		int e = errno;

		snprintf(err, errlen, "port %u: bind 127.0.0.1:%u: %s", p->idx,
			 p->udp_local_port, strerror(e));
		return -e;
	}
	a.sin_port = htons(p->udp_switch_port);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		int e = errno;

		snprintf(err, errlen, "port %u: connect 127.0.0.1:%u: %s",
			 p->idx, p->udp_switch_port, strerror(e));
		return -e;
	}
	if (p->cfg->udp_gso)
		udp_gso_setup(p, u);
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

static int udp_send_gso(struct bench_port *p, struct udp_port *u, unsigned n)
{
	ssize_t r;

	u->gso_iov.iov_len = (size_t)n * p->cfg->frame_size;
	r = sendmsg(p->fd, &u->gso_msg, MSG_DONTWAIT);
	return r < 0 ? -1 : (int)n;
}

static int udp_send(struct bench_port *p, unsigned n, uint8_t epoch,
		    uint64_t now)
{
	struct udp_port *u = p->tp;
	unsigned i;
	int r;

	if (n > (u->gso_segs ? u->gso_segs : u->batch))
		n = u->gso_segs ? u->gso_segs : u->batch;
	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		bench_stamp(p, u->tx_buf + (size_t)i * p->cfg->frame_size,
			    epoch, p->tx_seq + i, now);
	if (u->gso_segs && n > 1)
		r = udp_send_gso(p, u, n);
	else
		r = sendmmsg(p->fd, u->tx_msgs, n, MSG_DONTWAIT);
	if (r < 0) {
		if (errno == EAGAIN || errno == ENOBUFS) {
			p->tx_blocked = errno == EAGAIN;
			return 0;
		}
		/* ECONNREFUSED: an earlier datagram found nobody bound */
		p->tx_errors++;
		return errno == ECONNREFUSED ? 0 : -errno;
	}
	p->tx_datagrams += u->gso_segs && n > 1 ? 1 : (uint64_t)r;
	return r;
}

static int udp_send_ctrl(struct bench_port *p, const uint8_t *frame,
			 size_t len)
{
	return send(p->fd, frame, len, MSG_DONTWAIT) < 0 ? -errno : 0;
}

/* udp_gro_size() - the datagram size of a coalesced message, 0 if it is one
 * datagram */
static size_t udp_gro_size(const struct msghdr *mh)
{
	for (const struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
	     cm = CMSG_NXTHDR((struct msghdr *)mh, (struct cmsghdr *)cm)) {
		int seg;

		if (cm->cmsg_level != SOL_UDP || cm->cmsg_type != UDP_GRO ||
		    cm->cmsg_len < CMSG_LEN(sizeof(seg)))
			continue;
		memcpy(&seg, CMSG_DATA(cm), sizeof(seg));
		return seg > 0 ? (size_t)seg : 0;
	}
	return 0;
}

static int udp_recv(struct bench_port *p)
{
	struct udp_port *u = p->tp;
	int total = 0, r, i;
	unsigned round;
	uint64_t now;

	for (round = 0; round < BENCH_RX_ROUNDS; round++) {
		for (i = 0; u->gro && i < BENCH_RX_BATCH; i++) {
			u->rx_msgs[i].msg_hdr.msg_control = u->rx_cmsg[i].buf;
			u->rx_msgs[i].msg_hdr.msg_controllen =
			    sizeof(u->rx_cmsg[i].buf);
		}
		r = recvmmsg(p->fd, u->rx_msgs, BENCH_RX_BATCH, MSG_DONTWAIT,
			     NULL);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			/* ECONNREFUSED: the switch was not there yet */
			if (errno == ECONNREFUSED)
				continue;
			return -errno;
		}
		now = now_ns();
		for (i = 0; i < r; i++) {
			const uint8_t *d = u->rx_buf + (size_t)i * u->rx_slot;
			size_t len = u->rx_msgs[i].msg_len, seg = 0, off;

			if (u->gro)
				seg = udp_gro_size(&u->rx_msgs[i].msg_hdr);
			if (!seg || seg >= len) {
				sink_frame(p->w, p, d, len, now);
				total++;
				continue;
			}
			for (off = 0; off < len; off += seg, total++)
				sink_frame(p->w, p, d + off,
					   len - off < seg ? len - off : seg,
					   now);
		}
		if (r < BENCH_RX_BATCH)
			break;
	}
	return total;
}

const struct bench_transport transport_udp = {
	.name = "udp",
	.max_frame = BENCH_UDP_MAX,
	.open = udp_open,
	.send = udp_send,
	.send_ctrl = udp_send_ctrl,
	.recv = udp_recv,
	.close = udp_close,
};
