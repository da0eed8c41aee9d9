// SPDX-License-Identifier: MIT
/* io_epoll.c - the readiness fallback engine: libuv poll + batched syscalls
 *
 * For kernels or containers without a usable io_uring.  Owns one uv_poll_t
 * per channel and the engine's scratch batches: received datagrams are
 * read with recvmmsg() (read() per message for IO_CHAN_F_RW), one on_recv()
 * per batch (UDP GRO messages split into their datagrams, a burst per
 * call); frames are sent straight from io_chan_send() with sendmmsg() (runs
 * of them as one UDP GSO message where the channel asks for it; writev() per
 * frame for F_RW, one gathering sendmsg/writev for streams), and the
 * channel waits for POLLOUT only when the kernel pushes back.
 *
 * Behaves like the io_uring engine: same accounting (io.c's helpers), same
 * callbacks, same ordering.  Must never: keep a scratch batch in use across
 * a callback that may reach it (callbacks come after a flush is complete),
 * close an fd its uv_poll_t still watches (uv_close() comes first: it takes
 * the fd out of the poll set at once), or call back a closing channel.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "io_internal.h"
#include "log.h"

#define IO_EP_RX_ROUNDS	   4	/* receive batches per wakeup, for fairness */
#define IO_EP_RX_STRIDE	   ((IO_MSG_MAX + 1 + 63) & ~63)
#define IO_EP_TX_FRAMES	   (4 * FRAME_BURST_MAX) /* frames per sendmmsg */

struct io_ep_chan {
	struct io_chan c;
	uv_poll_t poll;
	int events;		/* UV_READABLE / UV_WRITABLE being watched */
	bool poll_open;
	bool want_out;		/* the kernel pushed back: wait for POLLOUT */
	bool in_flush;
	struct io_list kick_node; /* on ep.kickq: held bytes to offer */
};

static struct io_ep {
	uv_loop_t *loop;

	/* Resumed streams with bytes held: offered from an idle callback,
	 * never from inside io_chan_resume() */
	uv_idle_t kick;
	bool kick_open;
	struct io_list kickq;

	/* Receive batch: FRAME_BURST_MAX buffers of IO_EP_RX_STRIDE */
	uint8_t *rbuf;
	size_t rbuf_len;
	struct mmsghdr rmm[FRAME_BURST_MAX];
	struct iovec riov[FRAME_BURST_MAX];
	struct sockaddr_storage raddr[FRAME_BURST_MAX];
	struct io_msg rmsg[FRAME_BURST_MAX];
	uint64_t rctl[FRAME_BURST_MAX][IO_UDP_CMSG_SPACE / 8]; /* UDP_GRO */

	/* Transmit batch: up to IO_EP_TX_FRAMES frames in FRAME_BURST_MAX
	 * messages (a UDP GSO message carries several), iovecs in order */
	struct mmsghdr tmm[FRAME_BURST_MAX];
	unsigned tcnt[FRAME_BURST_MAX];		/* frames per message */
	uint64_t tctl[FRAME_BURST_MAX][IO_UDP_CMSG_SPACE / 8];
	struct iovec tiov[2 * IO_EP_TX_FRAMES];
	uint8_t thdr[IO_EP_TX_FRAMES][IO_HDR_MAX];
	uint32_t tlen[IO_EP_TX_FRAMES];		/* header + frame */
	struct iovec siov[IO_STREAM_IOV];
} ep;

static inline struct io_ep_chan *io_ep_chan(struct io_chan *c)
{
	return (struct io_ep_chan *)c;
}

/**
 * io_ep_on_poll_error() - libuv reported @status for the fd
 *
 * libuv turns POLLERR into UV_EBADF, but on a socket POLLERR means a
 * pending error (an ICMP port unreachable on UDP, a reset on TCP) or
 * entries on the error queue.  Fetch the real error (which clears it):
 * datagram channels survive the transient ones, like the io_uring engine.
 */
static void io_ep_on_poll_error(struct io_ep_chan *ec, int status)
{
	struct io_chan *c = &ec->c;
	int soerr = 0, err = status;
	socklen_t len = sizeof(soerr);

	if (status == UV_EBADF &&
	    !getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len)) {
		err = -soerr;
		if (!err) {
			/* Only the error queue (IP_RECVERR): empty it */
			uint8_t b[256];
			struct iovec iov = { b, sizeof(b) };
			struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

			for (int i = 0; i < FRAME_BURST_MAX; i++)
				if (recvmsg(c->fd, &mh,
					    MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
					break;
			return;
		}
	}
	if (c->cfg.kind == IO_CHAN_DGRAM && io_rx_error_transient(err)) {
		c->st.rx_errors++;
		return;
	}
	io_chan_fail(c, err);
}

static void io_ep_poll_cb(uv_poll_t *h, int status, int events);

/* io_ep_update() - watch what the channel needs now */
static void io_ep_update(struct io_ep_chan *ec)
{
	struct io_chan *c = &ec->c;
	int ev = 0;

	if (c->closing || !ec->poll_open)
		return;
	if (io_chan_rx_allowed(c))
		ev |= UV_READABLE;
	if (ec->want_out && c->txq_len && !c->tx_dead)
		ev |= UV_WRITABLE;
	if (ev == ec->events)
		return;
	ec->events = ev;
	if (ev)
		uv_poll_start(&ec->poll, ev, io_ep_poll_cb);
	else
		uv_poll_stop(&ec->poll);
}

/* ---- receive ------------------------------------------------------------- */

/* io_ep_rx_fail() - a receive failed with @err: carry on or stop */
static bool io_ep_rx_error(struct io_chan *c, int err)
{
	if (err == -EAGAIN || err == -EWOULDBLOCK)
		return false;
	if (c->cfg.kind == IO_CHAN_DGRAM && io_rx_error_transient(err)) {
		if (err != -EINTR)
			c->st.rx_errors++;
		return true;
	}
	io_chan_fail(c, err);
	return false;
}

/* io_ep_rx_deliver() - @n messages of @msgs to on_recv() */
static void io_ep_rx_deliver(struct io_chan *c, const struct io_msg *msgs,
			     unsigned n)
{
	uint64_t bytes = 0;

	if (!n || c->closing || c->failed)
		return;
	for (unsigned i = 0; i < n; i++)
		bytes += msgs[i].len;
	c->st.rx_msgs += n;
	c->st.rx_bytes += bytes;
	c->cfg.on_recv(c, msgs, n);
}

/* io_ep_rx_msg() - fill rmsg[@i] from a receive of @len bytes */
static void io_ep_rx_msg(struct io_chan *c, unsigned i, size_t len,
			 bool trunc)
{
	struct io_msg *m = &ep.rmsg[i];

	m->data = ep.rbuf + (size_t)i * IO_EP_RX_STRIDE;
	m->len = len;
	m->truncated = trunc;
	if (len > c->max_msg) {
		m->len = c->max_msg;
		m->truncated = true;
	}
	if ((c->cfg.flags & IO_CHAN_F_SRCADDR) &&
	    !(c->cfg.flags & IO_CHAN_F_RW)) {
		m->src = (const struct sockaddr *)&ep.raddr[i];
		m->srclen = ep.rmm[i].msg_hdr.msg_namelen;
	} else {
		m->src = NULL;
		m->srclen = 0;
	}
}

/* io_ep_msg_gro() - the UDP_GRO segment size of received message @mh */
static unsigned io_ep_msg_gro(struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
	     cm = CMSG_NXTHDR(mh, cm)) {
		unsigned gso = io_gro_size(cm);

		if (gso)
			return gso;
	}
	return 0;
}

/**
 * io_ep_rx_gro() - deliver @r received messages, coalesced ones split
 *
 * Segments are gathered in a second array and handed over a burst at a
 * time; the receive buffers stay untouched meanwhile (only this function
 * reads into them, and it does not nest).
 * Return: false if the channel stopped during a callback.
 */
static bool io_ep_rx_gro(struct io_chan *c, unsigned r)
{
	struct io_msg *seg = ep.rmsg;
	bool srcaddr = c->cfg.flags & IO_CHAN_F_SRCADDR;
	unsigned k = 0;

	for (unsigned i = 0; i < r; i++) {
		struct msghdr *mh = &ep.rmm[i].msg_hdr;
		const uint8_t *data = ep.rbuf + (size_t)i * IO_EP_RX_STRIDE;
		unsigned gso = io_ep_msg_gro(mh);
		size_t off = 0;

		do {
			unsigned got = io_rx_split(
				c, data, ep.rmm[i].msg_len,
				(mh->msg_flags & MSG_TRUNC) != 0, gso, seg + k,
				FRAME_BURST_MAX - k, &off);

			for (unsigned j = k; srcaddr && j < k + got; j++) {
				seg[j].src =
					(const struct sockaddr *)&ep.raddr[i];
				seg[j].srclen = mh->msg_namelen;
			}
			k += got;
			if (k == FRAME_BURST_MAX) {
				io_ep_rx_deliver(c, seg, k);
				k = 0;
				if (c->closing || c->failed)
					return false;
			}
		} while (off);
	}
	io_ep_rx_deliver(c, seg, k);
	return !c->closing && !c->failed;
}

/* io_ep_rx_dgram_sock() - one recvmmsg() batch; false when drained */
static bool io_ep_rx_dgram_sock(struct io_chan *c)
{
	bool srcaddr = c->cfg.flags & IO_CHAN_F_SRCADDR;
	bool gro = c->cfg.flags & IO_CHAN_F_UDP_GRO;
	size_t buflen = io_rx_buflen(c);
	unsigned n = 0;
	bool eof = false;
	int r;

	for (unsigned i = 0; i < FRAME_BURST_MAX; i++) {
		struct msghdr *mh = &ep.rmm[i].msg_hdr;

		ep.riov[i].iov_base = ep.rbuf + (size_t)i * IO_EP_RX_STRIDE;
		ep.riov[i].iov_len = buflen;
		mh->msg_name = srcaddr ? &ep.raddr[i] : NULL;
		mh->msg_namelen = srcaddr ? sizeof(ep.raddr[i]) : 0;
		mh->msg_iov = &ep.riov[i];
		mh->msg_iovlen = 1;
		mh->msg_control = gro ? ep.rctl[i] : NULL;
		mh->msg_controllen = gro ? sizeof(ep.rctl[i]) : 0;
		mh->msg_flags = 0;
	}
	do
		r = recvmmsg(c->fd, ep.rmm, FRAME_BURST_MAX, MSG_DONTWAIT,
			     NULL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return io_ep_rx_error(c, -errno);
	if (gro)
		return io_ep_rx_gro(c, (unsigned)r) && r == FRAME_BURST_MAX;
	for (; n < (unsigned)r; n++) {
		size_t len = ep.rmm[n].msg_len;

		if (!len && c->eof_on_zero) {
			eof = true;
			break;
		}
		io_ep_rx_msg(c, n, len,
			     ep.rmm[n].msg_hdr.msg_flags & MSG_TRUNC);
	}
	io_ep_rx_deliver(c, ep.rmsg, n);
	if (eof) {
		io_chan_fail(c, 0);
		return false;
	}
	return r == FRAME_BURST_MAX;
}

/* io_ep_rx_dgram_rw() - read() up to a burst; false when drained */
static bool io_ep_rx_dgram_rw(struct io_chan *c)
{
	unsigned n = 0;
	bool more = true, eof = false;
	int err = 0;

	while (n < FRAME_BURST_MAX) {
		ssize_t r = read(c->fd, ep.rbuf + (size_t)n * IO_EP_RX_STRIDE,
				 c->max_msg + 1);

		if (r > 0) {
			io_ep_rx_msg(c, n++, (size_t)r, false);
			continue;
		}
		if (r == 0) {
			eof = true;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			more = false;
		} else {
			err = -errno;
		}
		break;
	}
	io_ep_rx_deliver(c, ep.rmsg, n);
	if (eof) {
		io_chan_fail(c, 0);
		return false;
	}
	if (err)
		return io_ep_rx_error(c, err);
	return more;
}

/* io_ep_rx_stream() - read into the stream buffer; false when drained */
static bool io_ep_rx_stream(struct io_chan *c)
{
	size_t room = c->scap - c->slen;
	ssize_t r;

	do
		r = read(c->fd, c->sbuf + c->slen, room);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return io_ep_rx_error(c, -errno);
	if (r == 0) {
		io_chan_fail(c, 0);
		return false;
	}
	c->slen += (size_t)r;
	c->st.rx_bytes += (uint64_t)r;
	io_stream_deliver(c);
	return (size_t)r == room;
}

static void io_ep_on_readable(struct io_ep_chan *ec)
{
	struct io_chan *c = &ec->c;

	for (unsigned round = 0; round < IO_EP_RX_ROUNDS; round++) {
		bool more;

		if (!io_chan_rx_allowed(c))
			return;
		if (c->cfg.kind == IO_CHAN_STREAM)
			more = io_ep_rx_stream(c);
		else if (c->cfg.flags & IO_CHAN_F_RW)
			more = io_ep_rx_dgram_rw(c);
		else
			more = io_ep_rx_dgram_sock(c);
		if (!more)
			return;
	}
}

/* ---- transmit ------------------------------------------------------------ */

/**
 * io_ep_tx_build() - messages for the next sendmmsg() of the queue
 *
 * Headers and lengths of up to IO_EP_TX_FRAMES frames first, then one
 * message per frame, or per run of frames with IO_CHAN_F_UDP_GSO
 * (io_gso_run: a UDP_SEGMENT control message says where to cut).
 * Return: messages built; tcnt[] says how many frames each carries.
 */
static unsigned io_ep_tx_build(struct io_chan *c)
{
	unsigned nf = c->txq_len < IO_EP_TX_FRAMES ? c->txq_len
						   : IO_EP_TX_FRAMES;
	unsigned nm = 0, fi = 0, vi = 0;

	for (unsigned i = 0; i < nf; i++) {
		struct frame *f = io_txq_at(c, i);

		ep.tlen[i] = io_tx_header(c, f, ep.thdr[i]) + f->len;
	}
	while (fi < nf && nm < FRAME_BURST_MAX) {
		struct msghdr *mh = &ep.tmm[nm].msg_hdr;
		unsigned run = io_gso_run(c, ep.tlen + fi, nf - fi);

		memset(mh, 0, sizeof(*mh));
		if (c->cfg.destlen) {
			mh->msg_name = &c->dest;
			mh->msg_namelen = c->cfg.destlen;
		}
		mh->msg_iov = &ep.tiov[vi];
		for (unsigned j = fi; j < fi + run; j++) {
			struct frame *f = io_txq_at(c, j);
			unsigned hlen = ep.tlen[j] - f->len;

			if (hlen) {
				ep.tiov[vi].iov_base = ep.thdr[j];
				ep.tiov[vi++].iov_len = hlen;
			}
			ep.tiov[vi].iov_base = f->data;
			ep.tiov[vi++].iov_len = f->len;
		}
		mh->msg_iovlen = (size_t)(&ep.tiov[vi] - mh->msg_iov);
		if (run > 1)
			io_gso_cmsg(mh, ep.tctl[nm], ep.tlen[fi]);
		ep.tcnt[nm++] = run;
		fi += run;
	}
	return nm;
}

/* io_ep_tx_dgram_sock() - sendmmsg() the queue, a batch at a time */
static int io_ep_tx_dgram_sock(struct io_ep_chan *ec, struct io_tx_drops *dr)
{
	struct io_chan *c = &ec->c;

	while (c->txq_len) {
		unsigned n = io_ep_tx_build(c), fi = 0;
		int r, err;

		r = sendmmsg(c->fd, ep.tmm, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r > 0) {
			for (int i = 0; i < r; i++) {
				if (ep.tcnt[i] > 1 && ep.tlen[fi] > c->gso_good)
					c->gso_good = ep.tlen[fi];
				for (unsigned j = 0; j < ep.tcnt[i]; j++)
					io_tx_complete(c, (int)ep.tlen[fi++],
						       dr);
			}
			continue;
		}
		err = -errno;
		if (err == -EINTR)
			continue;
		if (err == -EAGAIN || err == -EWOULDBLOCK)
			return -EAGAIN;
		/* The head message was refused; the rest may well go */
		if (ep.tcnt[0] > 1 && io_gso_refused(c, err, ep.tlen[0]))
			continue;
		for (unsigned j = 0; j < ep.tcnt[0]; j++)
			io_tx_complete(c, err, dr);
	}
	return 0;
}

/* io_ep_tx_dgram_rw() - writev() each queued frame */
static int io_ep_tx_dgram_rw(struct io_ep_chan *ec, struct io_tx_drops *dr)
{
	struct io_chan *c = &ec->c;

	while (c->txq_len) {
		struct frame *f = io_txq_at(c, 0);
		unsigned hlen = io_tx_header(c, f, ep.thdr[0]);
		unsigned cnt = 0;
		ssize_t r;

		if (hlen) {
			ep.tiov[cnt].iov_base = ep.thdr[0];
			ep.tiov[cnt++].iov_len = hlen;
		}
		ep.tiov[cnt].iov_base = f->data;
		ep.tiov[cnt++].iov_len = f->len;
		r = writev(c->fd, ep.tiov, (int)cnt);
		if (r >= 0) {
			io_tx_complete(c, (int)r, dr);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -EAGAIN;
		io_tx_complete(c, -errno, dr);
	}
	return 0;
}

/* io_ep_tx_stream() - gathering writes until the queue is empty or the
 * kernel is full; a write error is returned for on_error() */
static int io_ep_tx_stream(struct io_ep_chan *ec)
{
	struct io_chan *c = &ec->c;

	while (c->txq_len) {
		unsigned nf, cnt;
		size_t bytes;
		ssize_t r;

		cnt = io_stream_gather(c, ep.siov, IO_STREAM_GATHER, &nf,
				       &bytes);
		if (!bytes) {
			io_stream_wrote(c, 0);
			continue;
		}
		if (c->cfg.flags & IO_CHAN_F_RW) {
			r = writev(c->fd, ep.siov, (int)cnt);
		} else {
			struct msghdr mh;

			memset(&mh, 0, sizeof(mh));
			mh.msg_iov = ep.siov;
			mh.msg_iovlen = cnt;
			r = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		}
		if (r < 0) {
			c->tx_gathered = 0;
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return -EAGAIN;
			return -errno;
		}
		io_stream_wrote(c, (size_t)r);
		if ((size_t)r < bytes)
			return -EAGAIN; /* the socket buffer is full */
	}
	return 0;
}

/**
 * io_ep_flush() - write what the queue holds, as far as the kernel takes it
 *
 * Callbacks (on_tx_drop, on_error) run only once the scratch batches are
 * no longer needed, so a backend may send again from them.
 */
static void io_ep_flush(struct io_ep_chan *ec)
{
	struct io_chan *c = &ec->c;
	struct io_tx_drops drops = { 0, 0 };
	int err;

	if (ec->in_flush || c->closing || c->tx_dead)
		return;
	ec->in_flush = true;
	if (c->cfg.kind == IO_CHAN_STREAM)
		err = io_ep_tx_stream(ec);
	else if (c->cfg.flags & IO_CHAN_F_RW)
		err = io_ep_tx_dgram_rw(ec, &drops);
	else
		err = io_ep_tx_dgram_sock(ec, &drops);
	ec->in_flush = false;
	ec->want_out = err == -EAGAIN;
	if (err && err != -EAGAIN)
		c->tx_dead = true;
	io_ep_update(ec);
	io_tx_report(c, &drops);
	if (err && err != -EAGAIN)
		io_chan_fail(c, err);
}

static void io_ep_poll_cb(uv_poll_t *h, int status, int events)
{
	struct io_ep_chan *ec = io_container_of(h, struct io_ep_chan, poll);
	struct io_chan *c = &ec->c;

	if (c->closing)
		return;
	if (status < 0) {
		/* libuv stopped the handle: watch again if we carry on */
		ec->events = 0;
		io_ep_on_poll_error(ec, status);
		io_ep_update(ec);
		return;
	}
	if (events & UV_WRITABLE)
		io_ep_flush(ec);
	if ((events & UV_READABLE) && !c->closing)
		io_ep_on_readable(ec);
	io_ep_update(ec);
}

/* ---- channel operations ---------------------------------------------------- */

static int io_ep_chan_start(struct io_chan *c, struct nh_error **errp)
{
	struct io_ep_chan *ec = io_ep_chan(c);
	int err = uv_poll_init(ep.loop, &ec->poll, c->fd);

	io_list_init(&ec->kick_node);
	if (err) {
		nh_error_setg(errp, "channel fd %d: cannot poll it: %s", c->fd,
			      uv_strerror(err));
		return err;
	}
	ec->poll_open = true;
	io_ep_update(ec);
	return 0;
}

static void io_ep_chan_kick_tx(struct io_chan *c)
{
	struct io_ep_chan *ec = io_ep_chan(c);

	/* While waiting for POLLOUT the kernel is full: let it drain */
	if (!ec->want_out)
		io_ep_flush(ec);
}

static void io_ep_chan_pause(struct io_chan *c)
{
	io_ep_update(io_ep_chan(c));
}

static void io_ep_kick_cb(uv_idle_t *h)
{
	struct io_list batch;

	(void)h;
	if (!io_list_empty(&ep.kickq)) {
		batch = ep.kickq;
		batch.next->prev = &batch;
		batch.prev->next = &batch;
		io_list_init(&ep.kickq);
		while (!io_list_empty(&batch)) {
			struct io_ep_chan *ec = io_container_of(
				batch.next, struct io_ep_chan, kick_node);

			io_list_del(&ec->kick_node);
			if (ec->c.closing || !ec->c.slen)
				continue;
			io_stream_deliver(&ec->c);
			io_ep_update(ec);
		}
	}
	if (io_list_empty(&ep.kickq))
		uv_idle_stop(&ep.kick);
}

static void io_ep_chan_resume(struct io_chan *c)
{
	struct io_ep_chan *ec = io_ep_chan(c);

	/* Bytes that came before the pause wait in the buffer */
	if (c->cfg.kind == IO_CHAN_STREAM && c->slen &&
	    !io_list_linked(&ec->kick_node)) {
		io_list_add_tail(&ep.kickq, &ec->kick_node);
		uv_idle_start(&ep.kick, io_ep_kick_cb);
	}
	io_ep_update(ec);
}

static void io_ep_chan_stop_rx(struct io_chan *c)
{
	io_ep_update(io_ep_chan(c));
}

static void io_ep_closed(uv_handle_t *h)
{
	struct io_ep_chan *ec =
		io_container_of((uv_poll_t *)h, struct io_ep_chan, poll);

	ec->poll_open = false;
	io_chan_quiesced(&ec->c);
}

static void io_ep_chan_close(struct io_chan *c)
{
	struct io_ep_chan *ec = io_ep_chan(c);

	/* Nothing is ever in flight here.  uv_close() takes the fd out of
	 * the loop's poll set at once, so the fd can go now: whoever closed
	 * the channel may reuse its address or device straight away.  done()
	 * runs once the handle is closed, from the loop. */
	uv_close((uv_handle_t *)&ec->poll, io_ep_closed);
	if (!(c->cfg.flags & IO_CHAN_F_NOCLOSE) && c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

static void io_ep_chan_free(struct io_chan *c)
{
	io_list_del(&io_ep_chan(c)->kick_node);
}

/* ---- engine ------------------------------------------------------------------ */

static int io_ep_start(uv_loop_t *loop, char *why, size_t whylen)
{
	memset(&ep, 0, sizeof(ep));
	ep.loop = loop;
	io_list_init(&ep.kickq);
	/* Reserved, not committed: only big datagrams touch most of it */
	ep.rbuf_len = (size_t)FRAME_BURST_MAX * IO_EP_RX_STRIDE;
	ep.rbuf = mmap(NULL, ep.rbuf_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ep.rbuf == MAP_FAILED) {
		ep.rbuf = NULL;
		snprintf(why, whylen, "cannot map receive buffers");
		return -ENOMEM;
	}
	uv_idle_init(loop, &ep.kick);
	ep.kick_open = true;
	return 0;
}

static void io_ep_kick_closed(uv_handle_t *h)
{
	(void)h;
	ep.kick_open = false;
}

static void io_ep_stop(void)
{
	uv_close((uv_handle_t *)&ep.kick, io_ep_kick_closed);
	while (ep.kick_open)
		uv_run(ep.loop, UV_RUN_ONCE);
	if (ep.rbuf)
		munmap(ep.rbuf, ep.rbuf_len);
	ep.rbuf = NULL;
}

static const char *io_ep_features(void)
{
	return "recvmmsg/sendmmsg batches, UDP GSO/GRO, gathering stream "
	       "writes";
}

const struct io_engine_ops io_ep_engine = {
	.name = "epoll",
	.chan_size = sizeof(struct io_ep_chan),
	.start = io_ep_start,
	.stop = io_ep_stop,
	.features = io_ep_features,
	.hold = NULL,
	.chan_start = io_ep_chan_start,
	.chan_kick_tx = io_ep_chan_kick_tx,
	.chan_pause = io_ep_chan_pause,
	.chan_resume = io_ep_chan_resume,
	.chan_stop_rx = io_ep_chan_stop_rx,
	.chan_close = io_ep_chan_close,
	.chan_free = io_ep_chan_free,
};
