/* SPDX-License-Identifier: MIT */
/* pkt_ring.c - memory-mapped frame I/O for nethub-bench's packet ("tap")
 * transport: one AF_PACKET socket with a TPACKET_V3 receive ring of blocks
 * and a transmit ring of frames (--packet-io mmap)
 *
 * Sending writes frames into free transmit slots and hands them to the
 * kernel with one send(fd, NULL, 0) per batch; a slot is written again only
 * once the kernel marked it available.  Receiving walks the blocks the
 * kernel retired (full, or after BENCH_RING_RX_TOV_MS) in place and gives
 * them back.  Every offset and length read from the ring is checked against
 * the block it lies in: the ring is memory the kernel writes.
 * Never allocates, logs or makes more than one syscall per batch.
 */
#include <errno.h>
#include <linux/if_packet.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "bench.h"

#define BENCH_RING_RX_BLOCK   (256u * 1024u) /* bytes, or what a frame needs */
#define BENCH_RING_RX_BLOCKS  32
#define BENCH_RING_RX_TOV_MS  1 /* a partly filled block retires after this */
#define BENCH_RING_RX_FRAME   2048u /* nominal; V3 packs frames by length */
#define BENCH_RING_TX_BLOCK   (64u * 1024u)
#define BENCH_RING_TX_FRAMES  2048u /* wanted slots */
#define BENCH_RING_TX_BYTES   (16u * 1024u * 1024u) /* at most */
#define BENCH_RING_RX_SLACK   128u /* headers before a frame in its block */
#define BENCH_RING_BATCH      256 /* frames per send(), unless --batch */

/* pow2_at_least() - the smallest power of two >= @v and >= @min */
static size_t pow2_at_least(size_t v, size_t min)
{
	size_t s = min;

	while (s < v)
		s <<= 1;
	return s;
}

static inline uint32_t slot_status(const volatile uint32_t *st)
{
	return __atomic_load_n(st, __ATOMIC_ACQUIRE);
}

static inline void slot_give(volatile uint32_t *st, uint32_t v)
{
	__atomic_store_n(st, v, __ATOMIC_RELEASE);
}

static struct tpacket3_hdr *tx_slot(const struct pkt_ring *r, unsigned i)
{
	/* frames do not straddle blocks: a block ends in a gap when the
	 * frame size does not divide it */
	return (struct tpacket3_hdr *)(r->tx +
				       (size_t)(i / r->tx_per_block) *
					       r->tx_block_size +
				       (size_t)(i % r->tx_per_block) *
					       r->tx_frame_size);
}

void pkt_ring_free(struct pkt_ring *r)
{
	if (!r)
		return;
	if (r->map)
		munmap(r->map, r->map_len);
	free(r->tx_dirty);
	free(r->tmpl);
	free(r);
}

struct pkt_ring *pkt_ring_new(const struct bench_port *p, int fd,
			      size_t max_rx_frame, char *err, size_t errlen)
{
	size_t fs = p->cfg->frame_size, tx_len = fs;
	struct tpacket_req3 rx = { 0 }, tx = { 0 };
	int version = TPACKET_V3, one = 1;
	unsigned per_block, i;
	struct pkt_ring *r;
	const char *what;
	uint8_t dst[6];
	int e;

	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (tx_len < BENCH_LEARN_LEN)
		tx_len = BENCH_LEARN_LEN;
	r->frame_size = fs;
	r->batch = port_batch(p, BENCH_RING_BATCH);
	r->tx_data = TPACKET3_HDRLEN - sizeof(struct sockaddr_ll);
	r->tx_frame_size = TPACKET_ALIGN(r->tx_data + tx_len);
	r->tx_max_len = r->tx_frame_size - r->tx_data;
	r->rx_block_size = pow2_at_least(TPACKET_ALIGN(max_rx_frame) +
					 BENCH_RING_RX_SLACK,
					 BENCH_RING_RX_BLOCK);
	r->rx_blocks = BENCH_RING_RX_BLOCKS;

	rx.tp_block_size = (unsigned)r->rx_block_size;
	rx.tp_block_nr = r->rx_blocks;
	rx.tp_frame_size = BENCH_RING_RX_FRAME;
	rx.tp_frame_nr = r->rx_blocks *
			 (unsigned)(r->rx_block_size / BENCH_RING_RX_FRAME);
	rx.tp_retire_blk_tov = BENCH_RING_RX_TOV_MS;

	tx.tp_block_size = (unsigned)pow2_at_least(r->tx_frame_size,
						   BENCH_RING_TX_BLOCK);
	per_block = tx.tp_block_size / (unsigned)r->tx_frame_size;
	tx.tp_block_nr = (BENCH_RING_TX_FRAMES + per_block - 1) / per_block;
	if ((size_t)tx.tp_block_nr * tx.tp_block_size > BENCH_RING_TX_BYTES)
		tx.tp_block_nr = BENCH_RING_TX_BYTES / tx.tp_block_size;
	if (!tx.tp_block_nr)
		tx.tp_block_nr = 1;
	tx.tp_frame_size = (unsigned)r->tx_frame_size;
	tx.tp_frame_nr = tx.tp_block_nr * per_block;
	r->tx_frames = tx.tp_frame_nr;
	r->tx_per_block = per_block;
	r->tx_block_size = tx.tp_block_size;

	what = "PACKET_VERSION TPACKET_V3";
	if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version,
		       sizeof(version)))
		goto fail;
	/* a frame the kernel cannot send is skipped, not left blocking the
	 * ring */
	what = "PACKET_LOSS";
	if (setsockopt(fd, SOL_PACKET, PACKET_LOSS, &one, sizeof(one)))
		goto fail;
	what = "PACKET_RX_RING";
	if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof(rx)))
		goto fail;
	what = "PACKET_TX_RING (TPACKET_V3 needs kernel 4.11)";
	if (setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof(tx)))
		goto fail;
	what = "mmap";
	r->map_len = r->rx_block_size * r->rx_blocks +
		     (size_t)tx.tp_block_size * tx.tp_block_nr;
	r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fd, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		goto fail;
	}
	r->rx = r->map;
	r->tx = r->map + r->rx_block_size * r->rx_blocks;

	r->tmpl = malloc(fs);
	r->tx_dirty = calloc(r->tx_frames, 1);
	if (!r->tmpl || !r->tx_dirty) {
		pkt_ring_free(r);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	port_peer_mac(p, dst);
	frame_template(r->tmpl, fs, p->idx, dst);
	for (i = 0; i < r->tx_frames; i++)
		memcpy((uint8_t *)tx_slot(r, i) + r->tx_data, r->tmpl, fs);
	return r;
fail:
	e = errno;
	pkt_ring_free(r);
	snprintf(err, errlen, "%s: %s", what, strerror(e));
	errno = e;
	return NULL;
}

/**
 * ring_reap() - move the tail past the slots the kernel has taken: every
 * slot from the tail that is no longer a send request
 * Return: true when slots handed over are still waiting for the kernel
 */
static bool ring_reap(struct pkt_ring *r)
{
	while (r->tx_waiting &&
	       slot_status(&tx_slot(r, r->tx_tail)->tp_status) !=
		       TP_STATUS_SEND_REQUEST) {
		r->tx_tail = (r->tx_tail + 1) % r->tx_frames;
		r->tx_waiting--;
	}
	return r->tx_waiting != 0;
}

/* ring_flush() - one send() for every slot handed over; Return: 0, or
 * -errno for an error that is not the kernel pushing back */
static int ring_flush(struct bench_port *p, struct pkt_ring *r, int fd)
{
	if (send(fd, NULL, 0, MSG_DONTWAIT) >= 0)
		return 0;
	switch (errno) {
	case EAGAIN:
	case ENOBUFS: /* the device's queue is full: the refused slot stays
		       * a send request, and is sent by the next flush */
	case EINTR:
		return 0;
	default:
		p->tx_errors++;
		return -errno;
	}
}

int pkt_ring_send(struct bench_port *p, struct pkt_ring *r, int fd,
		  unsigned n, uint8_t epoch, uint64_t now)
{
	struct tpacket3_hdr *h;
	unsigned k = 0;
	uint8_t *f;
	int e;

	/* frames the device refused go first, and nothing new is written
	 * behind them: the ring is no queue whose wait would count as the
	 * switch's latency */
	if (ring_reap(r)) {
		e = ring_flush(p, r, fd);
		if (e)
			return e;
		p->tx_backlog = ring_reap(r);
		if (p->tx_backlog)
			return 0;
	}
	if (n > r->batch)
		n = r->batch;
	for (k = 0; k < n; k++) {
		h = tx_slot(r, r->tx_head);
		if (slot_status(&h->tp_status) != TP_STATUS_AVAILABLE)
			break;
		f = (uint8_t *)h + r->tx_data;
		if (r->tx_dirty[r->tx_head]) {
			memcpy(f, r->tmpl, r->frame_size);
			r->tx_dirty[r->tx_head] = 0;
		}
		bench_stamp(p, f, epoch, p->tx_seq + k, now);
		h->tp_len = (uint32_t)r->frame_size;
		h->tp_snaplen = (uint32_t)r->frame_size;
		slot_give(&h->tp_status, TP_STATUS_SEND_REQUEST);
		r->tx_head = (r->tx_head + 1) % r->tx_frames;
		r->tx_waiting++;
	}
	if (k) {
		e = ring_flush(p, r, fd);
		if (e)
			return e;
	}
	p->tx_backlog = ring_reap(r);
	/* every slot is the kernel's and none waits for a send(): it hands
	 * one back, and says so with EPOLLOUT, once the device took it */
	if (k < n && !p->tx_backlog)
		p->tx_blocked = true;
	return (int)k;
}

int pkt_ring_send_ctrl(struct pkt_ring *r, int fd, const uint8_t *frame,
		       size_t len)
{
	struct tpacket3_hdr *h = tx_slot(r, r->tx_head);

	if (len > r->tx_max_len)
		return -EMSGSIZE;
	ring_reap(r);
	if (slot_status(&h->tp_status) != TP_STATUS_AVAILABLE)
		return -EAGAIN;
	memcpy((uint8_t *)h + r->tx_data, frame, len);
	r->tx_dirty[r->tx_head] = 1;
	h->tp_len = (uint32_t)len;
	h->tp_snaplen = (uint32_t)len;
	slot_give(&h->tp_status, TP_STATUS_SEND_REQUEST);
	r->tx_head = (r->tx_head + 1) % r->tx_frames;
	r->tx_waiting++;
	if (send(fd, NULL, 0, MSG_DONTWAIT) < 0 && errno != EAGAIN &&
	    errno != ENOBUFS && errno != EINTR)
		return -errno;
	return 0;
}

/**
 * rx_block() - give every frame of retired block @b to the sink
 * Return: frames; a block whose headers do not add up is given up where
 * they stop making sense
 */
static int rx_block(struct bench_port *p, const struct pkt_ring *r,
		    const uint8_t *b, uint64_t now)
{
	const struct tpacket_block_desc *bd = (const void *)b;
	size_t bs = r->rx_block_size, off, mac, snap, next;
	uint32_t n = bd->hdr.bh1.num_pkts, k;
	struct tpacket3_hdr h;

	off = bd->hdr.bh1.offset_to_first_pkt;
	if (off < sizeof(*bd))
		return 0;
	for (k = 0; k < n; k++) {
		if (off > bs || bs - off < sizeof(h))
			break;
		memcpy(&h, b + off, sizeof(h));
		mac = h.tp_mac;
		snap = h.tp_snaplen;
		if (mac < sizeof(h) || mac > bs - off || snap > bs - off - mac)
			break;
		sink_frame(p->w, p, b + off + mac, snap, now);
		next = h.tp_next_offset;
		if (next < sizeof(h))
			return (int)k + 1;
		off += next;
	}
	return (int)k;
}

int pkt_ring_recv(struct bench_port *p, struct pkt_ring *r)
{
	struct tpacket_block_desc *bd;
	unsigned blocks;
	uint64_t now = 0;
	int total = 0;

	for (blocks = 0; blocks < r->rx_blocks; blocks++) {
		bd = (struct tpacket_block_desc *)(r->rx + (size_t)r->rx_cur *
							   r->rx_block_size);
		if (!(slot_status(&bd->hdr.bh1.block_status) & TP_STATUS_USER))
			break;
		if (!now)
			now = now_ns();
		total += rx_block(p, r, (const uint8_t *)bd, now);
		slot_give(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL);
		r->rx_cur = (r->rx_cur + 1) % r->rx_blocks;
	}
	return total;
}
