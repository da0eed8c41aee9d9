/* SPDX-License-Identifier: MIT */
/* pkt_io.c - batched frame I/O for nethub-bench's transports whose socket
 * carries one Ethernet frame per datagram and needs no address per send:
 * the packet ("tap") transport's bound AF_PACKET sockets and the vde
 * transport's connected AF_UNIX datagram sockets
 *
 * struct pkt_io (bench.h) holds a port's frame templates and receive
 * slots, made once at open; a batch is one sendmmsg() or recvmmsg().
 * Never allocates, logs or makes a syscall per frame.
 */
#include <errno.h>
#include <stdlib.h>

#include "bench.h"

#define PKT_IO_BATCH 64 /* frames per sendmmsg, unless --batch */

void pkt_io_free(struct pkt_io *io)
{
	if (!io)
		return;
	free(io->tx_buf);
	free(io->tx_msgs);
	free(io->tx_iov);
	free(io->rx_buf);
	free(io);
}

struct pkt_io *pkt_io_new(const struct bench_port *p, size_t rx_slot)
{
	size_t fs = p->cfg->frame_size;
	struct pkt_io *io = calloc(1, sizeof(*io));
	uint8_t dst[6];
	unsigned i;

	if (!io)
		return NULL;
	io->batch = port_batch(p, PKT_IO_BATCH);
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

int pkt_io_send(struct bench_port *p, struct pkt_io *io, int fd,
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

int pkt_io_recv(struct bench_port *p, struct pkt_io *io, int fd)
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

