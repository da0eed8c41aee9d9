// SPDX-License-Identifier: MIT
/* io_uring.c - the io_uring engine: one ring per loop carries the datapath
 *
 * Owns the ring, its registered eventfd (watched by a uv_poll_t), the
 * uv_prepare_t that submits once per loop iteration, the provided-buffer
 * ring shared by all datagram channels, and each channel's in-flight
 * operations.  Every SQE's user_data is a tag (kind, slot, generation; see
 * io_internal.h), dispatched in io_ur_dispatch() and nowhere else.
 *
 * How channels move data:
 *   dgram socket  one multishot recvmsg into the provided-buffer ring (or,
 *                 without multishot, IO_UR_RX_NSLOTS single-shot recvmsgs
 *                 into private buffers); the receive completions of one
 *                 drain round (IO_UR_RX_ROUND frames at most, so that
 *                 receiving never runs ahead of sending: io_ur_drain()) are
 *                 delivered as one on_recv() per channel, then the buffers
 *                 go straight back (a UDP GRO message, split into its
 *                 datagrams, gives its buffer back with the last of them).
 *                 Sends: one batch of non-blocking SENDMSGs per channel in
 *                 flight (one per run of frames with UDP GSO), issued in
 *                 order; a frame the kernel has no room for (-EAGAIN)
 *                 stays queued and the channel waits for POLLOUT, then
 *                 sends linked chains (so a later frame cannot overtake
 *                 it) until it is calm again.
 *   dgram F_RW    one multishot read into the provided-buffer ring (6.7+;
 *                 else single-shot reads into private buffers); WRITEVs,
 *                 batched like the sends above.
 *   stream        one recv into the channel's buffer; one gathering
 *                 SENDMSG/WRITEV in flight, short writes resumed in place.
 *
 * Each drain round ends with one io_uring_enter() that submits the round's
 * sends and reaps what completed meanwhile (io_ur_submit_reap()).  The loop
 * may sleep only when nothing put off is still due (io_ur_more_due()): no
 * wake-up announces it.
 *
 * A channel's fd is also registered in the ring's fixed-file table at the
 * index of its slot (while the slot is below IO_UR_FIXED_FILES), which saves
 * a file lookup and reference per operation.
 *
 * Must never: put a pointer in user_data, submit per frame (submission is
 * batched in the prepare callback), free a channel (io.c does, after every
 * CQE for it came back), or run a callback for a closing channel.
 */

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "io_internal.h"
#include "log.h"

#define IO_UR_SQ_ENTRIES   4096
#define IO_UR_CQ_ENTRIES   16384
#define IO_UR_CQE_BATCH	   256		/* CQEs taken from the ring at once */
#define IO_UR_RX_ROUND	   256		/* frames received per round, before
					 * the sends they made are submitted:
					 * a quarter of a transmit queue */
#define IO_UR_DRAIN_BATCHES 16		/* CQE batches per drain, each one
					 * followed by its sends */
#define IO_UR_BUF_COUNT	   256		/* provided buffers, a power of two */
#define IO_UR_BUF_SIZE	   (68 * 1024)	/* recvmsg_out + name + message */
#define IO_UR_BGID	   1		/* the datagram buffer group */
#define IO_UR_RX_NSLOTS	   8		/* single-shot receives per channel */
#define IO_UR_TX_CHAIN_MAX 256		/* dgram sends per channel in flight */
#define IO_UR_CANCEL_TRIES 8		/* cancel rounds before just waiting */
#define IO_UR_SETTLE_MS	   500		/* a closing channel's wait for its
					 * cancelled operations */
#define IO_UR_WORK_PASSES  16		/* work-list passes per prepare */
#define IO_UR_FIXED_FILES  4096		/* registered file table: slot = index */
#define IO_UR_CALM_BATCHES 32		/* send batches without -EAGAIN before
					 * a channel stops linking its sends */

/* Stable uapi value (Linux 6.7); liburing 2.3's header predates it.  Only
 * used when the opcode probe says the kernel has it. */
#ifdef IORING_OP_READ_MULTISHOT
#define IO_UR_OP_READ_MULTISHOT IORING_OP_READ_MULTISHOT
#else
#define IO_UR_OP_READ_MULTISHOT 49
#endif

_Static_assert(IO_UR_BUF_SIZE >= sizeof(struct io_uring_recvmsg_out) +
					 sizeof(struct sockaddr_storage) +
					 IO_UDP_CMSG_SPACE + IO_MSG_MAX + 1,
	       "a provided buffer must hold the largest message");
_Static_assert(IO_UR_TX_CHAIN_MAX <= 256 && IO_UR_RX_NSLOTS <= 256,
	       "indexes must fit the tag");

/* Operation kinds in the tag; 0 is never used */
enum io_ur_kind {
	IO_UR_RECV = 1,	 /* multishot recvmsg/read, slot receive, stream recv */
	IO_UR_SEND,	 /* dgram send (idx: chain position), stream write */
	IO_UR_POLL_IN,	 /* wait for POLLIN after a receive said -EAGAIN */
	IO_UR_POLL_OUT,	 /* wait for POLLOUT after a send said -EAGAIN */
	IO_UR_CANCEL,
};

enum io_ur_rx_mode {
	IO_UR_RX_MSHOT,		/* multishot recvmsg, provided buffers */
	IO_UR_RX_MSHOT_READ,	/* multishot read (F_RW), provided buffers */
	IO_UR_RX_SLOTS,
	IO_UR_RX_STREAM,
};

/* Work for the prepare callback */
#define IO_UR_W_RX	1u /* arm receives */
#define IO_UR_W_TX	2u /* start a send */
#define IO_UR_W_DELIVER 4u /* offer held stream bytes (after resume) */
#define IO_UR_W_CANCEL	8u /* cancel again what should not run */

enum io_ur_slot_state {
	IO_UR_SLOT_IDLE,
	IO_UR_SLOT_INFLIGHT,
	IO_UR_SLOT_HELD, /* data waits in the batch for on_recv() */
};

/* rb_ref of a message whose buffer goes back with a later one (the
 * segments of one coalesced message share it; the last one returns it) */
#define IO_UR_NOREF 0xffffu

struct io_ur_rxslot {
	struct msghdr mh;
	struct iovec iov;
	struct sockaddr_storage addr;
	uint64_t ctl[IO_UDP_CMSG_SPACE / 8];	/* UDP_GRO */
	uint8_t *buf;
	enum io_ur_slot_state state;
};

/* One dgram send in flight: one frame, or a run of them (UDP GSO).  Its
 * iovecs, headers and control message live in the channel until the
 * whole batch has completed. */
struct io_ur_txslot {
	struct msghdr mh;
	uint64_t ctl[IO_UDP_CMSG_SPACE / 8];	/* UDP_SEGMENT */
	unsigned first, nframes;	/* positions in the queue */
	int res;
};

struct io_ur_chan {
	struct io_chan c;
	enum io_ur_rx_mode rx_mode;
	unsigned inflight;	 /* operations whose last CQE is still due */
	bool quiesced;
	bool fixed;		 /* fd registered at index c.slot */
	bool mshot_armed;	 /* multishot recvmsg in flight */
	bool srx_busy;		 /* stream receive in flight */
	bool poll_in, poll_out;	 /* readiness waits in flight */
	unsigned rx_busy;	 /* slots with a receive in flight */
	unsigned cancel_tries;
	struct msghdr mshot_mh;	 /* multishot template: the name length */

	/* Received this CQE batch, delivered at its end (or when full) */
	struct io_msg *rb;
	uint16_t *rb_ref;	 /* buffer id (multishot) or slot index */
	unsigned rb_n;
	struct io_list rb_node;

	struct io_ur_rxslot *rxs;
	unsigned nrxs;
	uint8_t *rxmem;
	size_t rxmem_len;

	/* Transmit: one batch (dgram) or one write (stream) in flight;
	 * tx_chain counts its operations, c.tx_busy its frames */
	unsigned tx_chain, tx_cqes;
	bool tx_linked;		 /* the batch in flight is a linked chain */
	bool tx_pressure;	 /* -EAGAIN seen lately: link the sends */
	bool tx_blocking;	 /* the fd refused RWF_NOWAIT */
	unsigned tx_calm;	 /* batches since the last -EAGAIN */
	struct io_ur_txslot *txs;
	unsigned ntxs;		 /* operations per batch */
	unsigned ntxf;		 /* frames per batch: the whole queue, so
				  * one batch can empty it (with UDP GSO,
				  * 64 frames go in one operation) */
	struct iovec *tiov;	 /* 2 * ntxf, filled in order */
	uint8_t (*thdr)[IO_HDR_MAX]; /* per frame of the batch */
	uint32_t *tlen;		 /* per frame: header + frame */
	struct msghdr smh;
	struct iovec *siov;

	struct io_list work_node;
	unsigned work;
};

static struct io_ur {
	struct io_uring ring;
	int efd;
	uv_poll_t efd_poll;
	uv_prepare_t prepare;
	uv_idle_t idle;		/* runs while something is due that no
				 * wake-up will announce: io_ur_more_due() */
	unsigned handles_open;
	bool draining;
	bool backlog;		/* the last drain stopped at its budget */

	/* Receive completions taken from the ring but not handled yet (the
	 * round's frame budget was spent), oldest first, and the frames
	 * received in this round */
	struct io_uring_cqe rxw[IO_UR_CQE_BATCH];
	unsigned rxw_n;
	unsigned rx_round;

	/* What the probe found */
	bool mshot;		/* multishot recvmsg + provided buffers */
	bool read_mshot;	/* multishot read too (6.7+) */
	bool cancel_fd_all;	/* IORING_ASYNC_CANCEL_FD | _ALL */
	bool fixed_files;	/* a sparse fixed-file table is registered */
	unsigned kver_major, kver_minor;

	/* The provided-buffer ring */
	struct io_uring_buf_ring *br;
	size_t br_len;
	uint8_t *bufs;
	size_t bufs_len;
	int br_mask;
	unsigned br_added;	/* buffers added, not yet published */
	bool br_registered;

	struct io_list work;	/* channels with work for the prepare cb */
	struct io_list rxq;	/* channels with a batch to deliver */
	char features[256];
} ur;

static inline struct io_ur_chan *io_ur_chan(struct io_chan *c)
{
	return (struct io_ur_chan *)c;
}

/* io_ur_uses_bufs() - does @uc receive into the provided-buffer ring? */
static inline bool io_ur_uses_bufs(const struct io_ur_chan *uc)
{
	return uc->rx_mode == IO_UR_RX_MSHOT ||
	       uc->rx_mode == IO_UR_RX_MSHOT_READ;
}

/* ---- buffers and submission queue -------------------------------------- */

/* io_ur_buf_put() - give provided buffer @bid back (published by flush) */
static void io_ur_buf_put(unsigned bid)
{
	io_uring_buf_ring_add(ur.br, ur.bufs + (size_t)bid * IO_UR_BUF_SIZE,
			      IO_UR_BUF_SIZE, (unsigned short)bid, ur.br_mask,
			      (int)ur.br_added++);
}

static void io_ur_buf_flush(void)
{
	if (ur.br_added) {
		io_uring_buf_ring_advance(ur.br, (int)ur.br_added);
		ur.br_added = 0;
	}
}

/* io_ur_submit_ret() - what a submission returned; logs a real failure */
static void io_ur_submit_ret(int ret)
{
	if (ret < 0 && ret != -EAGAIN && ret != -EBUSY && ret != -EINTR)
		log_warn("io: io_uring_submit: %s", strerror(-ret));
}

/* io_ur_submit() - hand the queued SQEs to the kernel */
static void io_ur_submit(void)
{
	io_ur_buf_flush();
	io_ur_submit_ret(io_uring_submit(&ur.ring));
}

/*
 * io_ur_submit_reap() - hand the queued SQEs to the kernel and, in the same
 * system call, let it run the completions waiting to be posted (deferred
 * task work: the receives that became ready since the last call), so that
 * the CQEs they make can be peeked without another io_uring_enter()
 */
static void io_ur_submit_reap(void)
{
	io_ur_buf_flush();
	/* Cooperative task work runs at every system call's return anyway */
	if (!(ur.ring.flags & IORING_SETUP_DEFER_TASKRUN))
		io_ur_submit_ret(io_uring_submit(&ur.ring));
	else
		io_ur_submit_ret(io_uring_submit_and_get_events(&ur.ring));
}

/* io_ur_sqe() - a free SQE; submits first if the queue is full */
static struct io_uring_sqe *io_ur_sqe(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ur.ring);

	if (!sqe) {
		io_ur_submit();
		sqe = io_uring_get_sqe(&ur.ring);
	}
	return sqe;
}

/* io_ur_sqe_fd() - point @sqe at @uc's registered file, if it has one;
 * called right after each io_uring_prep_*() on the channel's fd */
static inline void io_ur_sqe_fd(struct io_uring_sqe *sqe,
				const struct io_ur_chan *uc)
{
	if (uc->fixed) {
		sqe->fd = (int)uc->c.slot;
		sqe->flags |= IOSQE_FIXED_FILE;
	}
}

/* io_ur_work() - let the prepare callback do @bits for @uc */
static void io_ur_work(struct io_ur_chan *uc, unsigned bits)
{
	uc->work |= bits;
	if (!io_list_linked(&uc->work_node))
		io_list_add_tail(&ur.work, &uc->work_node);
}

/* io_ur_cancel_op() - cancel the operation tagged @tag of @uc */
static bool io_ur_cancel_op(struct io_ur_chan *uc, uint64_t tag)
{
	struct io_uring_sqe *sqe = io_ur_sqe();

	if (!sqe)
		return false;
	io_uring_prep_cancel64(sqe, tag, 0);
	sqe->user_data = io_tag(IO_UR_CANCEL, 0, &uc->c);
	uc->inflight++;
	return true;
}

static void io_ur_poll(struct io_ur_chan *uc, bool out)
{
	struct io_uring_sqe *sqe;
	bool *armed = out ? &uc->poll_out : &uc->poll_in;

	if (*armed)
		return;
	sqe = io_ur_sqe();
	if (!sqe) {
		io_ur_work(uc, out ? IO_UR_W_TX : IO_UR_W_RX);
		return;
	}
	io_uring_prep_poll_add(sqe, uc->c.fd, out ? POLLOUT : POLLIN);
	io_ur_sqe_fd(sqe, uc);
	sqe->user_data = io_tag(out ? IO_UR_POLL_OUT : IO_UR_POLL_IN, 0,
				&uc->c);
	*armed = true;
	uc->inflight++;
}

/* ---- receive ------------------------------------------------------------- */

static bool io_ur_slot_arm(struct io_ur_chan *uc, unsigned i)
{
	struct io_chan *c = &uc->c;
	struct io_ur_rxslot *s = &uc->rxs[i];
	struct io_uring_sqe *sqe = io_ur_sqe();

	if (!sqe)
		return false;
	if (c->cfg.flags & IO_CHAN_F_RW) {
		io_uring_prep_read(sqe, c->fd, s->buf,
				   (unsigned)io_rx_buflen(c), (uint64_t)-1);
	} else {
		s->mh.msg_namelen = (c->cfg.flags & IO_CHAN_F_SRCADDR)
					    ? sizeof(s->addr)
					    : 0;
		s->mh.msg_flags = 0;
		if (c->cfg.flags & IO_CHAN_F_UDP_GRO) {
			memset(s->ctl, 0, sizeof(s->ctl));
			s->mh.msg_control = s->ctl;
			s->mh.msg_controllen = sizeof(s->ctl);
		}
		io_uring_prep_recvmsg(sqe, c->fd, &s->mh, 0);
	}
	io_ur_sqe_fd(sqe, uc);
	sqe->user_data = io_tag(IO_UR_RECV, i, c);
	s->state = IO_UR_SLOT_INFLIGHT;
	uc->rx_busy++;
	uc->inflight++;
	return true;
}

/* io_ur_rx_arm() - put receives in flight, as many as the mode wants */
static void io_ur_rx_arm(struct io_ur_chan *uc)
{
	struct io_chan *c = &uc->c;
	struct io_uring_sqe *sqe;

	if (!io_chan_rx_allowed(c) || uc->poll_in)
		return;
	switch (uc->rx_mode) {
	case IO_UR_RX_MSHOT:
		if (uc->mshot_armed)
			return;
		sqe = io_ur_sqe();
		if (!sqe)
			break;
		io_uring_prep_recvmsg_multishot(sqe, c->fd, &uc->mshot_mh, 0);
		io_ur_sqe_fd(sqe, uc);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = IO_UR_BGID;
		sqe->user_data = io_tag(IO_UR_RECV, 0, c);
		uc->mshot_armed = true;
		uc->inflight++;
		return;
	case IO_UR_RX_MSHOT_READ:
		if (uc->mshot_armed)
			return;
		sqe = io_ur_sqe();
		if (!sqe)
			break;
		/* Length 0: each read fills one provided buffer */
		io_uring_prep_rw(IO_UR_OP_READ_MULTISHOT, sqe, c->fd, NULL, 0, 0);
		io_ur_sqe_fd(sqe, uc);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = IO_UR_BGID;
		sqe->user_data = io_tag(IO_UR_RECV, 0, c);
		uc->mshot_armed = true;
		uc->inflight++;
		return;
	case IO_UR_RX_SLOTS:
		for (unsigned i = 0; i < uc->nrxs; i++)
			if (uc->rxs[i].state == IO_UR_SLOT_IDLE &&
			    !io_ur_slot_arm(uc, i))
				goto retry;
		return;
	case IO_UR_RX_STREAM:
		if (uc->srx_busy || c->slen >= c->scap)
			return;
		sqe = io_ur_sqe();
		if (!sqe)
			break;
		if (c->cfg.flags & IO_CHAN_F_RW)
			io_uring_prep_read(sqe, c->fd, c->sbuf + c->slen,
					   (unsigned)(c->scap - c->slen),
					   (uint64_t)-1);
		else
			io_uring_prep_recv(sqe, c->fd, c->sbuf + c->slen,
					   c->scap - c->slen, 0);
		io_ur_sqe_fd(sqe, uc);
		sqe->user_data = io_tag(IO_UR_RECV, 0, c);
		uc->srx_busy = true;
		uc->inflight++;
		return;
	}
retry:
	io_ur_work(uc, IO_UR_W_RX);
}

/* io_ur_cancel_rx() - cancel the receives in flight (pause, failure) */
static void io_ur_cancel_rx(struct io_ur_chan *uc)
{
	struct io_chan *c = &uc->c;
	bool ok = true;

	if (uc->mshot_armed || uc->srx_busy)
		ok = io_ur_cancel_op(uc, io_tag(IO_UR_RECV, 0, c));
	for (unsigned i = 0; ok && i < uc->nrxs; i++)
		if (uc->rxs[i].state == IO_UR_SLOT_INFLIGHT)
			ok = io_ur_cancel_op(uc, io_tag(IO_UR_RECV, i, c));
	if (ok && uc->poll_in)
		ok = io_ur_cancel_op(uc, io_tag(IO_UR_POLL_IN, 0, c));
	if (!ok)
		io_ur_work(uc, IO_UR_W_CANCEL);
}

static bool io_ur_rx_active(const struct io_ur_chan *uc)
{
	return uc->mshot_armed || uc->srx_busy || uc->rx_busy || uc->poll_in;
}

/**
 * io_ur_deliver() - hand @uc's batch to on_recv(), then recycle it
 *
 * Provided buffers go back to the ring; slots are re-armed.  A closing or
 * failed channel gets no callback, but its buffers are recycled all the
 * same.  Datagrams already received when the channel was paused are still
 * delivered: they are out of the kernel and the buffers are shared.
 */
static void io_ur_deliver(struct io_ur_chan *uc)
{
	struct io_chan *c = &uc->c;
	unsigned n = uc->rb_n;

	io_list_del(&uc->rb_node);
	if (!n)
		return;
	if (!c->closing && !c->failed) {
		uint64_t bytes = 0;

		for (unsigned i = 0; i < n; i++)
			bytes += uc->rb[i].len;
		c->st.rx_msgs += n;
		c->st.rx_bytes += bytes;
		c->cfg.on_recv(c, uc->rb, n);
	}
	/* Nothing can add to the batch during the callback: only the drain
	 * does, and it does not nest */
	uc->rb_n = 0;
	if (io_ur_uses_bufs(uc)) {
		for (unsigned i = 0; i < n; i++)
			if (uc->rb_ref[i] != IO_UR_NOREF)
				io_ur_buf_put(uc->rb_ref[i]);
		io_ur_buf_flush();
		return;
	}
	for (unsigned i = 0; i < n; i++)
		if (uc->rb_ref[i] != IO_UR_NOREF)
			uc->rxs[uc->rb_ref[i]].state = IO_UR_SLOT_IDLE;
	io_ur_rx_arm(uc);
}

static void io_ur_deliver_all(void)
{
	while (!io_list_empty(&ur.rxq))
		io_ur_deliver(io_container_of(ur.rxq.next, struct io_ur_chan,
					      rb_node));
	io_ur_buf_flush();
}

/* io_ur_rx_release() - buffer or slot @ref is free again, undelivered */
static void io_ur_rx_release(struct io_ur_chan *uc, unsigned ref)
{
	if (io_ur_uses_bufs(uc))
		io_ur_buf_put(ref);
	else
		uc->rxs[ref].state = IO_UR_SLOT_IDLE;
}

/**
 * io_ur_rx_push() - add a received message's datagrams to the batch
 * @gso:	UDP_GRO segment size, 0 for one plain datagram
 * @ref:	its provided buffer or slot, released with the last datagram
 *
 * A full batch is delivered at once, so a coalesced message may span two
 * batches (its buffer stays held in between); if the channel stops in a
 * callback the rest is dropped and the buffer released.
 */
static void io_ur_rx_push(struct io_ur_chan *uc, const uint8_t *data,
			  size_t len, bool trunc, unsigned gso,
			  const struct sockaddr *src, socklen_t srclen,
			  unsigned ref)
{
	struct io_chan *c = &uc->c;
	size_t off = 0;

	do {
		unsigned got, n0 = uc->rb_n;

		if (c->closing || c->failed) {
			io_ur_rx_release(uc, ref);
			return;
		}
		got = io_rx_split(c, data, len, trunc, gso, &uc->rb[n0],
				  FRAME_BURST_MAX - n0, &off);
		for (unsigned j = n0; j < n0 + got; j++) {
			uc->rb[j].src = src;
			uc->rb[j].srclen = srclen;
			uc->rb_ref[j] = (uint16_t)IO_UR_NOREF;
		}
		if (!off)
			uc->rb_ref[n0 + got - 1] = (uint16_t)ref;
		uc->rb_n += got;
		ur.rx_round += got;
		if (!n0)
			io_list_add_tail(&ur.rxq, &uc->rb_node);
		if (uc->rb_n == FRAME_BURST_MAX)
			io_ur_deliver(uc);
	} while (off);
}

/* io_ur_rx_error() - a receive ended with @res; decide what follows */
static void io_ur_rx_error(struct io_ur_chan *uc, int res)
{
	struct io_chan *c = &uc->c;

	if (res == -ECANCELED || c->closing || c->failed)
		return;
	if (res == -EAGAIN) {
		/* A file that refuses to wait: wait with a poll instead */
		io_ur_poll(uc, false);
		return;
	}
	if (res == -ENOBUFS && io_ur_uses_bufs(uc))
		return; /* the ring ran dry; re-armed once buffers are back */
	if (uc->rx_mode != IO_UR_RX_STREAM && io_rx_error_transient(res)) {
		c->st.rx_errors++;
		return;
	}
	io_ur_deliver(uc);
	io_chan_fail(c, res);
}

/* io_ur_mshot_msg() - find the message in provided buffer @bid: behind the
 * recvmsg_out header, the name and the control messages for recvmsg (a
 * UDP_GRO one gives *@gso), at the start for read.
 * Return: false if the buffer does not hold a valid message. */
static bool io_ur_mshot_msg(struct io_ur_chan *uc, unsigned bid, int res,
			    struct io_msg *m, unsigned *gso)
{
	uint8_t *buf = ur.bufs + (size_t)bid * IO_UR_BUF_SIZE;
	struct io_uring_recvmsg_out *o;

	m->src = NULL;
	m->srclen = 0;
	m->truncated = false;
	if (uc->rx_mode == IO_UR_RX_MSHOT_READ) {
		m->data = buf;
		m->len = (size_t)res;
		return true;
	}
	o = io_uring_recvmsg_validate(buf, res, &uc->mshot_mh);
	if (!o)
		return false;
	m->data = io_uring_recvmsg_payload(o, &uc->mshot_mh);
	m->len = io_uring_recvmsg_payload_length(o, res, &uc->mshot_mh);
	m->truncated = (o->flags & MSG_TRUNC) != 0;
	if (uc->mshot_mh.msg_controllen) {
		for (struct cmsghdr *cm = io_uring_recvmsg_cmsg_firsthdr(
			     o, &uc->mshot_mh);
		     cm && !*gso;
		     cm = io_uring_recvmsg_cmsg_nexthdr(o, &uc->mshot_mh, cm))
			*gso = io_gro_size(cm);
	}
	if (uc->c.cfg.flags & IO_CHAN_F_SRCADDR) {
		m->src = io_uring_recvmsg_name(o);
		m->srclen = o->namelen < uc->mshot_mh.msg_namelen
				    ? o->namelen
				    : uc->mshot_mh.msg_namelen;
	}
	return true;
}

static void io_ur_on_mshot(struct io_ur_chan *uc,
			   const struct io_uring_cqe *cqe)
{
	struct io_chan *c = &uc->c;
	int res = cqe->res;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		uc->mshot_armed = false;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		unsigned gso = 0;
		struct io_msg m;

		if (res < 0 || c->closing || c->failed ||
		    !io_ur_mshot_msg(uc, bid, res, &m, &gso)) {
			io_ur_buf_put(bid);
		} else if (!m.len && c->eof_on_zero) {
			io_ur_buf_put(bid);
			io_ur_deliver(uc);
			io_chan_fail(c, 0);
		} else {
			io_ur_rx_push(uc, m.data, m.len, m.truncated, gso,
				      m.src, m.srclen, bid);
		}
	} else if (res == 0 && uc->rx_mode == IO_UR_RX_MSHOT_READ &&
		   !c->closing) {
		/* A read of nothing: end of file */
		io_ur_deliver(uc);
		io_chan_fail(c, 0);
	}
	if (res < 0)
		io_ur_rx_error(uc, res);
	/* Re-armed by the prepare callback, after this batch's buffers are
	 * back in the ring (that is what cures -ENOBUFS) */
	if (!uc->mshot_armed && io_chan_rx_allowed(c))
		io_ur_work(uc, IO_UR_W_RX);
}

static void io_ur_on_slot(struct io_ur_chan *uc, unsigned idx, int res)
{
	struct io_chan *c = &uc->c;
	struct io_ur_rxslot *s;

	if (idx >= uc->nrxs)
		return;
	s = &uc->rxs[idx];
	s->state = IO_UR_SLOT_IDLE;
	uc->rx_busy--;
	if (c->closing || c->failed)
		return;
	if (res > 0 || (res == 0 && !c->eof_on_zero)) {
		const struct sockaddr *src = NULL;
		socklen_t srclen = 0;
		unsigned gso = 0;
		bool trunc = false;

		if (!(c->cfg.flags & IO_CHAN_F_RW)) {
			trunc = (s->mh.msg_flags & MSG_TRUNC) != 0;
			if (c->cfg.flags & IO_CHAN_F_SRCADDR) {
				src = (const struct sockaddr *)&s->addr;
				srclen = s->mh.msg_namelen;
			}
		}
		if (c->cfg.flags & IO_CHAN_F_UDP_GRO) {
			for (struct cmsghdr *cm = CMSG_FIRSTHDR(&s->mh);
			     cm && !gso; cm = CMSG_NXTHDR(&s->mh, cm))
				gso = io_gro_size(cm);
		}
		s->state = IO_UR_SLOT_HELD;
		io_ur_rx_push(uc, s->buf, (size_t)res, trunc, gso, src,
			      srclen, idx);
		return;
	}
	if (res == 0) {
		io_ur_deliver(uc);
		io_chan_fail(c, 0);
		return;
	}
	io_ur_rx_error(uc, res);
	if (io_chan_rx_allowed(c))
		io_ur_work(uc, IO_UR_W_RX);
}

/* io_ur_on_stream_rx() - the stream receive completed.  The buffer is
 * only ever compacted here or with no receive in flight, since the
 * kernel writes at the offset it was given. */
static void io_ur_on_stream_rx(struct io_ur_chan *uc, int res)
{
	struct io_chan *c = &uc->c;

	uc->srx_busy = false;
	if (c->closing || c->failed)
		return;
	if (res > 0) {
		c->slen += (size_t)res;
		c->st.rx_bytes += (uint64_t)res;
	} else if (res == 0) {
		io_chan_fail(c, 0);
		return;
	} else if (res != -ECANCELED && res != -EINTR) {
		io_ur_rx_error(uc, res);
		return;
	}
	/* Nothing happens while paused; a resume that came while this
	 * receive was being cancelled finds its bytes offered here */
	io_stream_deliver(c);
	io_ur_rx_arm(uc);
}

/* ---- transmit ------------------------------------------------------------ */

/**
 * io_ur_tx_dgram() - put the queued frames in flight
 *
 * One non-blocking SENDMSG (WRITEV for F_RW) per frame, [header][frame],
 * or, with IO_CHAN_F_UDP_GSO, per run of equal-length frames (io_gso_run)
 * with a UDP_SEGMENT control message.  The kernel issues them in order
 * within the submission, so they leave in order; only when a send meets a
 * full socket could a later one overtake it.  So after an -EAGAIN the
 * channel links its sends (a failed link cancels the rest, which stay
 * queued) until IO_UR_CALM_BATCHES batches went through without one.  One
 * batch per channel is in flight; frames queued meanwhile wait for it.
 */
static void io_ur_tx_dgram(struct io_ur_chan *uc)
{
	struct io_chan *c = &uc->c;
	unsigned nf = c->txq_len < uc->ntxf ? c->txq_len : uc->ntxf;
	unsigned space, ns = 0, fi = 0, vi = 0;
	bool link = uc->tx_pressure;

	if (uc->tx_chain || uc->poll_out || !nf)
		return;
	space = io_uring_sq_space_left(&ur.ring);
	if (!space) {
		/* Full of other channels' operations: hand those over first
		 * (queueing this channel's work again would only spend every
		 * pass of io_ur_run_work() on the same full queue) */
		io_ur_submit();
		space = io_uring_sq_space_left(&ur.ring);
	}
	if (!space) {
		io_ur_work(uc, IO_UR_W_TX);
		return;
	}
	if (space > uc->ntxs)
		space = uc->ntxs;
	/* One frame per operation without segmentation */
	if (!(c->cfg.flags & IO_CHAN_F_UDP_GSO) && nf > space)
		nf = space;
	/* The operations first: one per frame or run of frames.  A run of a
	 * size not yet known to work is linked with what follows, so if the
	 * kernel refuses it nothing later overtakes it while it goes again
	 * unsegmented. */
	for (unsigned i = 0; i < nf; i++) {
		struct frame *f = io_txq_at(c, i);

		uc->tlen[i] = io_tx_header(c, f, uc->thdr[i]) + f->len;
	}
	while (fi < nf && ns < space) {
		struct io_ur_txslot *t = &uc->txs[ns++];

		t->first = fi;
		t->nframes = (c->cfg.flags & IO_CHAN_F_RW)
				     ? 1
				     : io_gso_run(c, uc->tlen + fi, nf - fi);
		if (t->nframes > 1 && uc->tlen[fi] > c->gso_good)
			link = true;
		fi += t->nframes;
	}
	/* A chain split over two submissions would lose its ordering */
	if (link && io_uring_sq_space_left(&ur.ring) < ns)
		io_ur_submit();
	for (unsigned i = 0; i < ns; i++) {
		struct io_ur_txslot *t = &uc->txs[i];
		struct iovec *iov = &uc->tiov[vi];
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ur.ring);

		for (unsigned j = t->first; j < t->first + t->nframes; j++) {
			struct frame *f = io_txq_at(c, j);
			unsigned hlen = uc->tlen[j] - f->len;

			if (hlen) {
				uc->tiov[vi].iov_base = uc->thdr[j];
				uc->tiov[vi++].iov_len = hlen;
			}
			uc->tiov[vi].iov_base = f->data;
			uc->tiov[vi++].iov_len = f->len;
		}
		if (c->cfg.flags & IO_CHAN_F_RW) {
			io_uring_prep_writev(sqe, c->fd, iov,
					     (unsigned)(&uc->tiov[vi] - iov),
					     (uint64_t)-1);
			if (!uc->tx_blocking)
				sqe->rw_flags = RWF_NOWAIT;
		} else {
			memset(&t->mh, 0, sizeof(t->mh));
			if (c->cfg.destlen) {
				t->mh.msg_name = &c->dest;
				t->mh.msg_namelen = c->cfg.destlen;
			}
			t->mh.msg_iov = iov;
			t->mh.msg_iovlen = (size_t)(&uc->tiov[vi] - iov);
			if (t->nframes > 1)
				io_gso_cmsg(&t->mh, t->ctl,
					    uc->tlen[t->first]);
			io_uring_prep_sendmsg(sqe, c->fd, &t->mh,
					      MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		io_ur_sqe_fd(sqe, uc);
		sqe->user_data = io_tag(IO_UR_SEND, i, c);
		if (link && i + 1 < ns)
			sqe->flags |= IOSQE_IO_LINK;
		t->res = 0;
	}
	uc->inflight += ns;
	uc->tx_chain = ns;
	uc->tx_cqes = 0;
	uc->tx_linked = link;
	c->tx_busy = fi;
}

/* io_ur_tx_keep() - should the frame whose send ended with @r go again?
 * Yes if there was no room, the call was interrupted or cancelled by a
 * broken link; also when closing (io_chan_quiesced() counts it dropped). */
static bool io_ur_tx_keep(struct io_ur_chan *uc, int r)
{
	if (r >= 0)
		return false;
	if (uc->c.closing || r == -EAGAIN || r == -EINTR)
		return true;
	if (r == -ECANCELED && uc->tx_linked)
		return true;
	/* The fd does not take RWF_NOWAIT: send again, blocking */
	if (r == -EOPNOTSUPP && (uc->c.cfg.flags & IO_CHAN_F_RW) &&
	    !uc->tx_blocking) {
		uc->tx_blocking = true;
		return true;
	}
	return false;
}

/**
 * io_ur_on_dgram_sent() - one send of the batch completed
 *
 * When the whole batch is in: frames sent are counted, frames the kernel
 * refused are dropped and reported, and the others (io_ur_tx_keep) stay at
 * the head of the queue, in their order, to go with the next batch.
 */
static void io_ur_on_dgram_sent(struct io_ur_chan *uc, unsigned idx, int res)
{
	struct io_chan *c = &uc->c;
	struct io_tx_drops drops = { 0, 0 };
	bool again = false;
	unsigned keep;

	if (idx >= uc->tx_chain)
		return;
	uc->txs[idx].res = res;
	if (++uc->tx_cqes < uc->tx_chain)
		return;
	keep = c->tx_busy;
	/* Backwards, so the kept frames settle, in order, at the end of the
	 * batch's positions, and the front holds only finished ones */
	for (unsigned i = uc->tx_chain; i-- > 0;) {
		const struct io_ur_txslot *t = &uc->txs[i];
		int r = t->res;
		bool kept;

		if (r == -EAGAIN)
			again = true;
		if (r >= 0 && t->nframes > 1 &&
		    uc->tlen[t->first] > c->gso_good)
			c->gso_good = uc->tlen[t->first];
		kept = io_ur_tx_keep(uc, r) ||
		       (r < 0 && t->nframes > 1 && !c->closing &&
			io_gso_refused(c, r, uc->tlen[t->first]));
		for (unsigned j = t->first + t->nframes; j-- > t->first;) {
			struct frame *f = io_txq_at(c, j);

			if (kept)
				io_txq_set(c, --keep, f);
			else
				io_tx_account(c, f,
					      r >= 0 ? (int)uc->tlen[j] : r,
					      &drops);
		}
	}
	uc->tx_chain = 0;
	io_txq_advance(c, keep);
	c->tx_busy = 0;
	if (again) {
		uc->tx_pressure = true;
		uc->tx_calm = 0;
		if (!c->closing)
			io_ur_poll(uc, true);
	} else if (uc->tx_pressure && ++uc->tx_calm >= IO_UR_CALM_BATCHES) {
		uc->tx_pressure = false;
	}
	io_tx_report(c, &drops);
	if (!c->closing && c->txq_len && !uc->poll_out)
		io_ur_work(uc, IO_UR_W_TX);
}

/* io_ur_tx_stream() - one gathering write of the queued frames */
static void io_ur_tx_stream(struct io_ur_chan *uc)
{
	struct io_chan *c = &uc->c;
	struct io_uring_sqe *sqe;
	unsigned cnt, nf;
	size_t bytes;

	if (uc->tx_chain || uc->poll_out || !c->txq_len || c->tx_dead)
		return;
	sqe = io_ur_sqe();
	if (!sqe) {
		io_ur_work(uc, IO_UR_W_TX);
		return;
	}
	cnt = io_stream_gather(c, uc->siov, IO_STREAM_GATHER, &nf, &bytes);
	if (!bytes) {
		/* Only empty frames: nothing to write, they are done */
		io_uring_prep_nop(sqe);
		sqe->user_data = io_tag(IO_UR_SEND, 0, c);
		uc->inflight++;
		uc->tx_chain = 1;
		c->tx_busy = nf;
		return;
	}
	if (c->cfg.flags & IO_CHAN_F_RW) {
		io_uring_prep_writev(sqe, c->fd, uc->siov, cnt, (uint64_t)-1);
	} else {
		memset(&uc->smh, 0, sizeof(uc->smh));
		uc->smh.msg_iov = uc->siov;
		uc->smh.msg_iovlen = cnt;
		io_uring_prep_sendmsg(sqe, c->fd, &uc->smh, MSG_NOSIGNAL);
	}
	io_ur_sqe_fd(sqe, uc);
	sqe->user_data = io_tag(IO_UR_SEND, 0, c);
	uc->inflight++;
	uc->tx_chain = 1;
	c->tx_busy = nf;
}

static void io_ur_on_stream_sent(struct io_ur_chan *uc, int res)
{
	struct io_chan *c = &uc->c;

	uc->tx_chain = 0;
	if (res >= 0)
		io_stream_wrote(c, (size_t)res);
	c->tx_busy = 0;
	c->tx_gathered = 0;
	if (c->closing)
		return;
	if (res == -EAGAIN) {
		io_ur_poll(uc, true);
	} else if (res < 0 && res != -EINTR) {
		c->tx_dead = true;
		io_chan_fail(c, res);
		return;
	}
	if (c->txq_len && !uc->poll_out)
		io_ur_work(uc, IO_UR_W_TX);
}

static void io_ur_tx_start(struct io_ur_chan *uc)
{
	if (uc->c.closing)
		return;
	if (uc->c.cfg.kind == IO_CHAN_STREAM)
		io_ur_tx_stream(uc);
	else
		io_ur_tx_dgram(uc);
}

/* ---- close ---------------------------------------------------------------- */

static void io_ur_quiesce(struct io_ur_chan *uc)
{
	if (uc->quiesced)
		return;
	uc->quiesced = true;
	io_list_del(&uc->work_node);
	uc->work = 0;
	/* The table holds a reference to the file: let it go before the fd
	 * is closed, and before the slot (the index) is reused */
	if (uc->fixed) {
		int none = -1;

		io_uring_register_files_update(&ur.ring, uc->c.slot, &none, 1);
		uc->fixed = false;
	}
	io_chan_quiesced(&uc->c);
}

/* io_ur_cancel_all() - cancel every operation of a closing channel */
static void io_ur_cancel_all(struct io_ur_chan *uc)
{
	struct io_chan *c = &uc->c;
	struct io_uring_sqe *sqe;
	bool ok = true;

	uc->cancel_tries++;
	if (ur.cancel_fd_all) {
		sqe = io_ur_sqe();
		if (sqe) {
			if (uc->fixed)
				io_uring_prep_cancel_fd(sqe, (int)c->slot,
					IORING_ASYNC_CANCEL_ALL |
					IORING_ASYNC_CANCEL_FD_FIXED);
			else
				io_uring_prep_cancel_fd(sqe, c->fd,
					IORING_ASYNC_CANCEL_ALL);
			sqe->user_data = io_tag(IO_UR_CANCEL, 0, c);
			uc->inflight++;
			return;
		}
		ok = false;
	} else {
		io_ur_cancel_rx(uc);
		for (unsigned i = 0; ok && i < uc->tx_chain; i++)
			ok = io_ur_cancel_op(uc, io_tag(IO_UR_SEND, i, c));
		if (ok && uc->poll_out)
			ok = io_ur_cancel_op(uc, io_tag(IO_UR_POLL_OUT, 0, c));
	}
	if (!ok)
		io_ur_work(uc, IO_UR_W_CANCEL);
}

/* io_ur_cancel_due() - cancel again what should have stopped but did not
 * (an operation can slip past a cancel while the kernel is between two
 * of its steps) */
static void io_ur_cancel_due(struct io_ur_chan *uc)
{
	if (uc->quiesced || uc->cancel_tries >= IO_UR_CANCEL_TRIES)
		return;
	if (uc->c.closing) {
		if (uc->inflight)
			io_ur_cancel_all(uc);
	} else if (!io_chan_rx_allowed(&uc->c) && io_ur_rx_active(uc)) {
		uc->cancel_tries++;
		io_ur_cancel_rx(uc);
	}
}

/* ---- completion dispatch ------------------------------------------------ */

/**
 * io_ur_dispatch() - the one place a CQE is looked at
 *
 * Decodes the tag; a stale one (no such channel any more) is ignored, but
 * a provided buffer it carries still goes back to the ring.
 */
static void io_ur_dispatch(const struct io_uring_cqe *cqe)
{
	struct io_chan *c = io_chan_by_tag(cqe->user_data);
	unsigned idx = io_tag_idx(cqe->user_data);
	struct io_ur_chan *uc;

	if (!c) {
		if (cqe->flags & IORING_CQE_F_BUFFER)
			io_ur_buf_put(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		return;
	}
	uc = io_ur_chan(c);
	if (!(cqe->flags & IORING_CQE_F_MORE) && uc->inflight)
		uc->inflight--;
	switch (io_tag_kind(cqe->user_data)) {
	case IO_UR_RECV:
		if (io_ur_uses_bufs(uc))
			io_ur_on_mshot(uc, cqe);
		else if (uc->rx_mode == IO_UR_RX_SLOTS)
			io_ur_on_slot(uc, idx, cqe->res);
		else
			io_ur_on_stream_rx(uc, cqe->res);
		break;
	case IO_UR_SEND:
		if (c->cfg.kind == IO_CHAN_STREAM)
			io_ur_on_stream_sent(uc, cqe->res);
		else
			io_ur_on_dgram_sent(uc, idx, cqe->res);
		break;
	case IO_UR_POLL_IN:
		uc->poll_in = false;
		if (io_chan_rx_allowed(c))
			io_ur_work(uc, IO_UR_W_RX);
		break;
	case IO_UR_POLL_OUT:
		uc->poll_out = false;
		if (!c->closing)
			io_ur_work(uc, IO_UR_W_TX);
		break;
	case IO_UR_CANCEL:
		if (!uc->quiesced && uc->inflight &&
		    (c->closing ||
		     (!io_chan_rx_allowed(c) && io_ur_rx_active(uc))))
			io_ur_work(uc, IO_UR_W_CANCEL);
		break;
	default:
		break;
	}
	if (c->closing && !uc->inflight)
		io_ur_quiesce(uc);
}

static void io_ur_run_work(void);

/* io_ur_rx_paced() - is @cqe a datagram receive, handled within a round's
 * frame budget?  (A stream has one receive in flight, re-armed only once
 * its bytes were delivered: it cannot run ahead of its sends.) */
static bool io_ur_rx_paced(const struct io_uring_cqe *cqe)
{
	const struct io_chan *c;

	if (io_tag_kind(cqe->user_data) != IO_UR_RECV)
		return false;
	c = io_chan_by_tag(cqe->user_data);
	return c && c->cfg.kind != IO_CHAN_STREAM;
}

/*
 * io_ur_rx_round() - handle the waiting receive completions, oldest first,
 * until this round's frames reach IO_UR_RX_ROUND
 */
static void io_ur_rx_round(void)
{
	unsigned i = 0;

	ur.rx_round = 0;
	while (i < ur.rxw_n && ur.rx_round < IO_UR_RX_ROUND)
		io_ur_dispatch(&ur.rxw[i++]);
	ur.rxw_n -= i;
	if (ur.rxw_n && i)
		memmove(ur.rxw, ur.rxw + i, ur.rxw_n * sizeof(ur.rxw[0]));
}

/*
 * io_ur_drain() - handle the CQEs there are, round by round, at most
 * IO_UR_DRAIN_BATCHES rounds.
 *
 * Receiving must not run ahead of sending: multishot receives keep
 * producing CQEs while a sender keeps sending, and with UDP GRO one CQE is
 * up to 64 frames, so a batch of CQEs can hold more frames than an egress
 * queue takes; what does not fit is dropped after it cost a receive and a
 * forwarding decision.  So each round takes every CQE the ring has and
 * handles the others (send completions above all, which free the channels'
 * batches) at once, but receive completions only up to IO_UR_RX_ROUND
 * frames; the rest wait in ur.rxw for the next round.  Then the round's
 * sends are started and submitted, in the same io_uring_enter() that reaps
 * what the kernel completed meanwhile.  What the budget leaves is taken on
 * the next turn of the loop, which io_ur_more_due() keeps from sleeping.
 * ur.rxw holds at most IO_UR_CQE_BATCH CQEs: the ring is read only as far
 * as it has room.
 */
static void io_ur_drain(void)
{
	struct io_uring_cqe *cqes[IO_UR_CQE_BATCH];
	unsigned n, rounds = 0;

	if (ur.draining)
		return;
	ur.draining = true;
	while (rounds < IO_UR_DRAIN_BATCHES) {
		unsigned room = IO_UR_CQE_BATCH - ur.rxw_n;

		/* peek_batch also flushes an overflowed CQ and, when the
		 * kernel flags it, pending task work */
		n = room ? io_uring_peek_batch_cqe(&ur.ring, cqes, room) : 0;
		if (!n && !ur.rxw_n)
			break;
		for (unsigned i = 0; i < n; i++) {
			if (io_ur_rx_paced(cqes[i]))
				ur.rxw[ur.rxw_n++] = *cqes[i];
			else
				io_ur_dispatch(cqes[i]);
		}
		io_uring_cq_advance(&ur.ring, n);
		io_ur_rx_round();
		io_ur_deliver_all();
		rounds++;
		io_ur_run_work();
		if (io_uring_sq_ready(&ur.ring))
			io_ur_submit_reap();
		else
			io_ur_buf_flush();
	}
	ur.backlog = rounds == IO_UR_DRAIN_BATCHES;
	ur.draining = false;
}

/* io_ur_run_work() - do what channels asked for during this iteration */
static void io_ur_run_work(void)
{
	for (unsigned pass = 0;
	     pass < IO_UR_WORK_PASSES && !io_list_empty(&ur.work); pass++) {
		struct io_list batch;

		/* Take the list as it is; work queued meanwhile is the next
		 * pass's, so a channel that cannot get an SQE cannot spin */
		batch = ur.work;
		batch.next->prev = &batch;
		batch.prev->next = &batch;
		io_list_init(&ur.work);
		while (!io_list_empty(&batch)) {
			struct io_ur_chan *uc = io_container_of(
				batch.next, struct io_ur_chan, work_node);
			unsigned w = uc->work;

			io_list_del(&uc->work_node);
			uc->work = 0;
			if (w & IO_UR_W_CANCEL)
				io_ur_cancel_due(uc);
			if (uc->c.closing)
				continue;
			if ((w & IO_UR_W_DELIVER) && uc->c.slen &&
			    !uc->srx_busy)
				io_stream_deliver(&uc->c);
			if (w & (IO_UR_W_RX | IO_UR_W_DELIVER))
				io_ur_rx_arm(uc);
			if (w & IO_UR_W_TX)
				io_ur_tx_start(uc);
		}
	}
}

static void io_ur_idle_cb(uv_idle_t *h);

/*
 * io_ur_more_due() - must the loop turn again before it may sleep?
 *
 * Between turns the loop sleeps in epoll_wait() until an fd wakes it; for
 * the ring that is its eventfd, which the kernel signals when it posts a
 * CQE (with deferred task run: when its list of completions to run goes
 * from empty to non-empty).  Nothing signals what was put off, by this
 * engine or by the kernel, so each such state is a reason to turn again
 * at once, and none may be left to a later wake-up:
 *   - the last drain stopped at its round limit (ur.backlog), receive
 *     completions wait in ur.rxw for a round's budget, or batches wait
 *     for on_recv();
 *   - CQEs are in the ring, posted after the drain last looked;
 *   - the kernel holds completions it has not posted: IORING_SQ_CQ_OVERFLOW
 *     (it moves them to the ring only when asked), and, with deferred task
 *     run, IORING_SQ_TASKRUN: the kernel runs a bounded number of them per
 *     io_uring_enter() and flags the rest, but its eventfd signal came with
 *     the first of them, so neither the rest nor those queued behind them
 *     will signal again;
 *   - channels still have work queued (one found the submission queue
 *     full), or SQEs are unsubmitted (the kernel refused the submission
 *     for now: -EAGAIN, -EBUSY): a receive re-armed there never completes,
 *     so nothing would ever wake the loop for that channel.
 * Cooperative task run needs no flag test: its task work runs when any
 * system call returns, epoll_wait() included, and the CQEs it posts signal
 * the eventfd.
 */
static bool io_ur_more_due(void)
{
	unsigned held = IORING_SQ_CQ_OVERFLOW;

	if (ur.ring.flags & IORING_SETUP_DEFER_TASKRUN)
		held |= IORING_SQ_TASKRUN;
	return ur.backlog || ur.rxw_n || !io_list_empty(&ur.rxq) ||
	       !io_list_empty(&ur.work) || io_uring_sq_ready(&ur.ring) ||
	       io_uring_cq_ready(&ur.ring) ||
	       (IO_URING_READ_ONCE(*ur.ring.sq.kflags) & held);
}

/* io_ur_turn() - drain, start what channels asked for, submit; keep the
 * loop from sleeping while anything is due (io_ur_more_due()) */
static void io_ur_turn(void)
{
	io_ur_drain();
	io_ur_run_work();
	io_ur_buf_flush();
	if (io_uring_sq_ready(&ur.ring))
		io_ur_submit();
	if (io_ur_more_due())
		uv_idle_start(&ur.idle, io_ur_idle_cb);
	else
		uv_idle_stop(&ur.idle);
}

static void io_ur_prepare_cb(uv_prepare_t *h)
{
	(void)h;
	io_ur_turn();
}

static void io_ur_idle_cb(uv_idle_t *h)
{
	(void)h;
	io_ur_turn();
}

static void io_ur_efd_cb(uv_poll_t *h, int status, int events)
{
	uint64_t v;
	ssize_t r;

	(void)h;
	(void)status;
	(void)events;
	/* Reset the eventfd before draining so no completion is missed */
	r = read(ur.efd, &v, sizeof(v));
	(void)r;
	io_ur_drain();
	/* A drain that left something due (its budget hit, say): submit the
	 * sends it produced now, and keep the loop turning */
	if (io_ur_more_due())
		io_ur_turn();
}

/* ---- channel operations ---------------------------------------------------- */

static int io_ur_rx_slots_init(struct io_ur_chan *uc)
{
	struct io_chan *c = &uc->c;
	size_t stride = (io_rx_buflen(c) + 63) & ~(size_t)63;

	uc->nrxs = IO_UR_RX_NSLOTS;
	uc->rxs = calloc(uc->nrxs, sizeof(*uc->rxs));
	if (!uc->rxs)
		return -ENOMEM;
	/* Reserved, not committed: pages are touched only by big messages */
	uc->rxmem_len = stride * uc->nrxs;
	uc->rxmem = mmap(NULL, uc->rxmem_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (uc->rxmem == MAP_FAILED) {
		uc->rxmem = NULL;
		return -ENOMEM;
	}
	for (unsigned i = 0; i < uc->nrxs; i++) {
		struct io_ur_rxslot *s = &uc->rxs[i];

		s->buf = uc->rxmem + i * stride;
		s->iov.iov_base = s->buf;
		s->iov.iov_len = io_rx_buflen(c);
		s->mh.msg_iov = &s->iov;
		s->mh.msg_iovlen = 1;
		if (c->cfg.flags & IO_CHAN_F_SRCADDR)
			s->mh.msg_name = &s->addr;
	}
	return 0;
}

static int io_ur_chan_start(struct io_chan *c, struct nh_error **errp)
{
	struct io_ur_chan *uc = io_ur_chan(c);
	int err = 0;

	io_list_init(&uc->rb_node);
	io_list_init(&uc->work_node);
	if (c->cfg.kind == IO_CHAN_STREAM) {
		uc->rx_mode = IO_UR_RX_STREAM;
		uc->siov = calloc(IO_STREAM_IOV, sizeof(*uc->siov));
		if (!uc->siov)
			err = -ENOMEM;
	} else {
		uc->rb = calloc(FRAME_BURST_MAX, sizeof(*uc->rb));
		uc->rb_ref = calloc(FRAME_BURST_MAX, sizeof(*uc->rb_ref));
		uc->ntxs = c->txq_cap < IO_UR_TX_CHAIN_MAX ? c->txq_cap
							   : IO_UR_TX_CHAIN_MAX;
		uc->ntxf = (c->cfg.flags & IO_CHAN_F_UDP_GSO) ? c->txq_cap
							      : uc->ntxs;
		uc->txs = calloc(uc->ntxs, sizeof(*uc->txs));
		uc->tiov = calloc(2 * (size_t)uc->ntxf, sizeof(*uc->tiov));
		uc->thdr = calloc(uc->ntxf, sizeof(*uc->thdr));
		uc->tlen = calloc(uc->ntxf, sizeof(*uc->tlen));
		if (!uc->rb || !uc->rb_ref || !uc->txs || !uc->tiov ||
		    !uc->thdr || !uc->tlen) {
			err = -ENOMEM;
		} else if (ur.mshot && !(c->cfg.flags & IO_CHAN_F_RW)) {
			uc->rx_mode = IO_UR_RX_MSHOT;
			if (c->cfg.flags & IO_CHAN_F_SRCADDR)
				uc->mshot_mh.msg_namelen =
					sizeof(struct sockaddr_storage);
			if (c->cfg.flags & IO_CHAN_F_UDP_GRO)
				uc->mshot_mh.msg_controllen =
					IO_UDP_CMSG_SPACE;
		} else if (ur.read_mshot && (c->cfg.flags & IO_CHAN_F_RW)) {
			uc->rx_mode = IO_UR_RX_MSHOT_READ;
		} else {
			uc->rx_mode = IO_UR_RX_SLOTS;
			err = io_ur_rx_slots_init(uc);
		}
	}
	if (err) {
		nh_error_setg(errp, "channel fd %d: %s", c->fd, strerror(-err));
		return err;
	}
	if (ur.fixed_files && c->slot < IO_UR_FIXED_FILES)
		uc->fixed = io_uring_register_files_update(&ur.ring, c->slot,
							   &c->fd, 1) == 1;
	io_ur_rx_arm(uc);
	return 0;
}

static void io_ur_chan_kick_tx(struct io_chan *c)
{
	io_ur_work(io_ur_chan(c), IO_UR_W_TX);
}

/* Pausing and stopping for good both cancel the receives in flight; what
 * tells them apart (c->paused, c->failed) lives in io.c */
static void io_ur_chan_pause(struct io_chan *c)
{
	struct io_ur_chan *uc = io_ur_chan(c);

	uc->cancel_tries = 0;
	io_ur_cancel_rx(uc);
}

static void io_ur_chan_resume(struct io_chan *c)
{
	io_ur_work(io_ur_chan(c), IO_UR_W_DELIVER);
}

/*
 * io_ur_settle() - wait, a bounded time, until the cancelled operations of
 * closing @uc have completed and its fd is closed, so that io_chan_close()
 * returns with the fd gone: a deleted netdev's tap name or address can be
 * used again at once.  Other channels' completions that arrive meanwhile
 * are handled as the loop would.  Not from inside a drain (a completion
 * closing a channel): that one quiesces on a later turn, as it always may.
 */
static void io_ur_settle(struct io_ur_chan *uc)
{
	uint64_t until = uv_hrtime() + IO_UR_SETTLE_MS * 1000000ull;

	if (ur.draining)
		return;
	while (!uc->quiesced && uv_hrtime() < until) {
		struct __kernel_timespec ts = { .tv_nsec = 1000000 };
		struct io_uring_cqe *cqe;

		io_ur_run_work();
		io_ur_submit();
		io_uring_wait_cqe_timeout(&ur.ring, &cqe, &ts);
		io_ur_drain();
	}
}

static void io_ur_chan_close(struct io_chan *c)
{
	struct io_ur_chan *uc = io_ur_chan(c);

	io_list_del(&uc->work_node);
	uc->work = 0;
	if (!uc->inflight) {
		io_ur_quiesce(uc);
		return;
	}
	uc->cancel_tries = 0;
	io_ur_cancel_all(uc);
	io_ur_settle(uc);
}

static void io_ur_chan_free(struct io_chan *c)
{
	struct io_ur_chan *uc = io_ur_chan(c);

	io_list_del(&uc->rb_node);
	io_list_del(&uc->work_node);
	free(uc->rb);
	free(uc->rb_ref);
	free(uc->txs);
	free(uc->tiov);
	free(uc->thdr);
	free(uc->tlen);
	free(uc->rxs);
	free(uc->siov);
	if (uc->rxmem)
		munmap(uc->rxmem, uc->rxmem_len);
}

static void io_ur_hold(bool on)
{
	if (on)
		uv_ref((uv_handle_t *)&ur.efd_poll);
	else
		uv_unref((uv_handle_t *)&ur.efd_poll);
}

/* ---- start-up: setup, probe, buffers ----------------------------------- */

/* io_ur_sysctl_disabled() - kernel.io_uring_disabled: 0 allowed, 1 only
 * for members of kernel.io_uring_group, 2 disabled; 0 when absent */
static int io_ur_sysctl_disabled(void)
{
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
	int v = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%d", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/*
 * io_ur_setup() - create the ring with the best flags the kernel takes
 * @defer:	try IORING_SETUP_DEFER_TASKRUN first (6.1+): completions are
 *		run only when the loop asks for them (io_ur_submit_reap(), a
 *		peek that finds the task-run flag set).  It costs ~10 % less
 *		CPU per frame, but on a busy host the switch then sleeps
 *		until the eventfd wakes it and delivered 0.7x what the
 *		cooperative mode does (docs/performance.md), so it is off
 *		unless asked for.
 */
static int io_ur_setup(bool defer)
{
	static const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL |
			IORING_SETUP_CQSIZE,
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN |
			IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL |
			IORING_SETUP_CQSIZE,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL |
			IORING_SETUP_CQSIZE,
		IORING_SETUP_CQSIZE,
		0,
	};
	int ret = -EINVAL;

	for (unsigned i = defer ? 0 : 1; i < sizeof(tries) / sizeof(tries[0]);
	     i++) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		p.flags = tries[i];
		p.cq_entries = IO_UR_CQ_ENTRIES;
		ret = io_uring_queue_init_params(IO_UR_SQ_ENTRIES, &ur.ring,
						 &p);
		if (ret != -EINVAL)
			return ret;
	}
	return ret;
}

/* io_ur_probe_ops() - NULL if the kernel has every opcode we use, else the
 * name of one it lacks */
static const char *io_ur_probe_ops(void)
{
	static const struct {
		int op;
		const char *name;
	} need[] = {
		{ IORING_OP_RECVMSG, "RECVMSG" }, { IORING_OP_SENDMSG, "SENDMSG" },
		{ IORING_OP_READ, "READ" },	  { IORING_OP_WRITEV, "WRITEV" },
		{ IORING_OP_RECV, "RECV" },	  { IORING_OP_POLL_ADD, "POLL_ADD" },
		{ IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL" },
	};
	struct io_uring_probe *probe = io_uring_get_probe_ring(&ur.ring);
	const char *missing = NULL;

	if (!probe)
		return "the opcode probe";
	for (unsigned i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!io_uring_opcode_supported(probe, need[i].op)) {
			missing = need[i].name;
			break;
		}
	io_uring_free_probe(probe);
	return missing;
}

/* io_ur_probe_cancel_fd() - does the kernel cancel by fd, all matches?
 * (5.19+): try it on the eventfd, which has nothing in flight */
static bool io_ur_probe_cancel_fd(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ur.ring);
	struct io_uring_cqe *cqe;
	bool ok = false;

	if (!sqe)
		return false;
	io_uring_prep_cancel_fd(sqe, ur.efd, IORING_ASYNC_CANCEL_ALL);
	sqe->user_data = 0; /* kind 0: never a channel's */
	if (io_uring_submit_and_wait(&ur.ring, 1) < 0)
		return false;
	if (!io_uring_peek_cqe(&ur.ring, &cqe)) {
		ok = cqe->res >= 0;
		io_uring_cqe_seen(&ur.ring, cqe);
	}
	return ok;
}

static int io_ur_bufs_init(void)
{
	struct io_uring_buf_reg reg;
	int ret;

	ur.br_len = IO_UR_BUF_COUNT * sizeof(struct io_uring_buf);
	ur.br = mmap(NULL, ur.br_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ur.br == MAP_FAILED) {
		ur.br = NULL;
		return -ENOMEM;
	}
	/* 17 MiB reserved; the kernel commits only the pages it writes */
	ur.bufs_len = (size_t)IO_UR_BUF_COUNT * IO_UR_BUF_SIZE;
	ur.bufs = mmap(NULL, ur.bufs_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ur.bufs == MAP_FAILED) {
		ur.bufs = NULL;
		return -ENOMEM;
	}
	io_uring_buf_ring_init(ur.br);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)ur.br;
	reg.ring_entries = IO_UR_BUF_COUNT;
	reg.bgid = IO_UR_BGID;
	ret = io_uring_register_buf_ring(&ur.ring, &reg, 0);
	if (ret)
		return ret;
	ur.br_registered = true;
	ur.br_mask = io_uring_buf_ring_mask(IO_UR_BUF_COUNT);
	for (unsigned i = 0; i < IO_UR_BUF_COUNT; i++)
		io_ur_buf_put(i);
	io_ur_buf_flush();
	return 0;
}

static void io_ur_bufs_fini(void)
{
	if (ur.br_registered)
		io_uring_unregister_buf_ring(&ur.ring, IO_UR_BGID);
	ur.br_registered = false;
	if (ur.br)
		munmap(ur.br, ur.br_len);
	if (ur.bufs)
		munmap(ur.bufs, ur.bufs_len);
	ur.br = NULL;
	ur.bufs = NULL;
}

static bool io_ur_env_set(const char *name)
{
	const char *v = getenv(name);

	return v && !strcmp(v, "1");
}

static void io_ur_features_build(void)
{
	unsigned fl = ur.ring.flags;

	snprintf(ur.features, sizeof(ur.features),
		 "kernel %u.%u; %s%s; batched dgram sends, UDP GSO/GRO; "
		 "%s%s%s%s",
		 ur.kver_major, ur.kver_minor,
		 ur.mshot ? "multishot recvmsg, provided buffer ring"
			  : "single-shot receives",
		 ur.read_mshot ? ", multishot read" : "",
		 ur.cancel_fd_all ? "cancel by fd" : "cancel by tag",
		 ur.fixed_files ? ", registered files" : "",
		 fl & IORING_SETUP_SINGLE_ISSUER ? ", single issuer" : "",
		 fl & IORING_SETUP_DEFER_TASKRUN ? ", deferred task run"
		 : fl & IORING_SETUP_COOP_TASKRUN ? ", cooperative task run"
						  : "");
}

/**
 * io_ur_start() - set up the ring, probe it, and hook it into @loop
 *
 * Test hooks (environment, "1" to enable):
 *   NETHUB_IO_FORCE_FAIL_URING  act as if io_uring_queue_init() returned
 *                               -EPERM (a seccomp-filtered container), so
 *                               the epoll fallback can be tested anywhere
 *   NETHUB_IO_NO_MULTISHOT      skip multishot receive and provided
 *                               buffers, as on a pre-6.0 kernel
 *   NETHUB_IO_DEFER_TASKRUN     try IORING_SETUP_DEFER_TASKRUN (an
 *                               experiment: see io_ur_setup())
 *
 * Return: 0, or -errno with the reason in @why.
 */
static int io_ur_start(uv_loop_t *loop, char *why, size_t whylen)
{
	struct utsname uts;
	const char *missing;
	int disabled, err;

	memset(&ur, 0, sizeof(ur));
	ur.efd = -1;
	io_list_init(&ur.work);
	io_list_init(&ur.rxq);

	if (io_ur_env_set("NETHUB_IO_FORCE_FAIL_URING")) {
		snprintf(why, whylen, "io_uring_queue_init: %s (forced by "
			 "NETHUB_IO_FORCE_FAIL_URING=1)", strerror(EPERM));
		return -EPERM;
	}
	disabled = io_ur_sysctl_disabled();
	if (disabled >= 2) {
		snprintf(why, whylen, "disabled by kernel.io_uring_disabled=%d",
			 disabled);
		return -EPERM;
	}
	err = io_ur_setup(io_ur_env_set("NETHUB_IO_DEFER_TASKRUN"));
	if (err) {
		snprintf(why, whylen, "io_uring_queue_init: %s%s",
			 strerror(-err),
			 disabled == 1 ? " (kernel.io_uring_disabled=1 allows "
					 "only kernel.io_uring_group)"
				       : "");
		return err;
	}
	if (!(ur.ring.features & IORING_FEAT_NODROP) ||
	    !(ur.ring.features & IORING_FEAT_FAST_POLL)) {
		snprintf(why, whylen, "the kernel's io_uring lacks fast poll "
			 "or no-drop completions (5.7 or later needed)");
		err = -EOPNOTSUPP;
		goto fail;
	}
	missing = io_ur_probe_ops();
	if (missing) {
		snprintf(why, whylen, "the kernel's io_uring lacks %s", missing);
		err = -EOPNOTSUPP;
		goto fail;
	}
	if (!uname(&uts) &&
	    sscanf(uts.release, "%u.%u", &ur.kver_major, &ur.kver_minor) != 2)
		ur.kver_major = ur.kver_minor = 0;

	ur.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ur.efd < 0) {
		err = -errno;
		snprintf(why, whylen, "eventfd: %s", strerror(-err));
		goto fail;
	}
	err = io_uring_register_eventfd(&ur.ring, ur.efd);
	if (err) {
		snprintf(why, whylen, "io_uring_register_eventfd: %s",
			 strerror(-err));
		goto fail;
	}
	ur.cancel_fd_all = io_ur_probe_cancel_fd();
	/* Multishot recvmsg came with 6.0; provided-buffer rings with 5.19 */
	if (ur.kver_major >= 6 && !io_ur_env_set("NETHUB_IO_NO_MULTISHOT")) {
		err = io_ur_bufs_init();
		if (err) {
			log_debug("io: no provided-buffer ring (%s); using "
				  "single-shot receives", strerror(-err));
			io_ur_bufs_fini();
		} else {
			struct io_uring_probe *probe;

			ur.mshot = true;
			probe = io_uring_get_probe_ring(&ur.ring);
			ur.read_mshot = probe && io_uring_opcode_supported(
					probe, IO_UR_OP_READ_MULTISHOT);
			if (probe)
				io_uring_free_probe(probe);
		}
	}
	/* Sparse tables came with 5.19, cancelling by fixed fd with 6.0 */
	ur.fixed_files = ur.kver_major >= 6 && ur.cancel_fd_all &&
			 !io_uring_register_files_sparse(&ur.ring,
							 IO_UR_FIXED_FILES);
	/* Saves a file lookup per io_uring_enter(); fine to lack (< 5.18) */
	io_uring_register_ring_fd(&ur.ring);

	uv_poll_init(loop, &ur.efd_poll, ur.efd);
	uv_poll_start(&ur.efd_poll, UV_READABLE, io_ur_efd_cb);
	uv_unref((uv_handle_t *)&ur.efd_poll);
	uv_prepare_init(loop, &ur.prepare);
	uv_prepare_start(&ur.prepare, io_ur_prepare_cb);
	uv_unref((uv_handle_t *)&ur.prepare);
	uv_idle_init(loop, &ur.idle);
	uv_unref((uv_handle_t *)&ur.idle);
	ur.handles_open = 3;
	io_ur_features_build();
	return 0;

fail:
	io_ur_bufs_fini();
	io_uring_queue_exit(&ur.ring);
	if (ur.efd >= 0)
		close(ur.efd);
	ur.efd = -1;
	return err;
}

static void io_ur_handle_closed(uv_handle_t *h)
{
	(void)h;
	ur.handles_open--;
}

static void io_ur_stop(void)
{
	uv_close((uv_handle_t *)&ur.efd_poll, io_ur_handle_closed);
	uv_close((uv_handle_t *)&ur.prepare, io_ur_handle_closed);
	uv_close((uv_handle_t *)&ur.idle, io_ur_handle_closed);
	while (ur.handles_open)
		uv_run(io_core.loop, UV_RUN_ONCE);
	io_ur_bufs_fini();
	io_uring_queue_exit(&ur.ring);
	close(ur.efd);
	ur.efd = -1;
}

static const char *io_ur_features(void)
{
	return ur.features;
}

const struct io_engine_ops io_ur_engine = {
	.name = "uring",
	.chan_size = sizeof(struct io_ur_chan),
	.start = io_ur_start,
	.stop = io_ur_stop,
	.features = io_ur_features,
	.hold = io_ur_hold,
	.chan_start = io_ur_chan_start,
	.chan_kick_tx = io_ur_chan_kick_tx,
	.chan_pause = io_ur_chan_pause,
	.chan_resume = io_ur_chan_resume,
	.chan_stop_rx = io_ur_chan_pause,
	.chan_close = io_ur_chan_close,
	.chan_free = io_ur_chan_free,
};
