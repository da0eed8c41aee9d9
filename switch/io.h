/* SPDX-License-Identifier: MIT */
/* io.h - the datapath's I/O engine: io_uring, or a readiness fallback
 *
 * Backends move frames through channels.  A channel wraps one non-blocking
 * fd and is one of two kinds:
 *
 *   IO_CHAN_DGRAM   one frame (plus an optional backend header) per message:
 *                   UDP and unix datagram sockets, tap devices (with
 *                   IO_CHAN_F_RW: read()/write() instead of recvmsg/sendmsg)
 *   IO_CHAN_STREAM  a byte stream (TCP, unix stream): received bytes are
 *                   handed to the backend, which parses and consumes them
 *
 * Two engines implement channels with the same behaviour:
 *
 *   uring  One io_uring per loop.  Submissions queue up while the loop turns
 *          and are submitted once, right before libuv would block (a
 *          uv_prepare_t); completions are drained when the ring's registered
 *          eventfd (watched by a uv_poll_t) fires.  Datagram receive uses a
 *          provided-buffer ring and multishot recvmsg where the kernel has
 *          them (probed at start-up), single-shot operations otherwise.
 *   epoll  A uv_poll_t per fd; recvmmsg/readv to receive, sendmmsg/writev to
 *          send, in batches, straight from io_chan_send() (one syscall per
 *          burst), waiting for POLLOUT only when the kernel pushes back.
 *
 * Every submitted operation carries a tag (kind, channel slot, generation)
 * dispatched in one place, so a completion for a channel that has since been
 * closed is recognised and ignored.
 *
 * Received data is borrowed by the callbacks for the duration of the call;
 * the backend copies what it keeps into frames.  Frames queued for sending
 * are referenced by the channel until the kernel has taken them.
 */
#ifndef NH_IO_H
#define NH_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "error.h"
#include "frame.h"

enum io_engine {
	IO_ENGINE_AUTO,
	IO_ENGINE_URING,
	IO_ENGINE_EPOLL,
};

/**
 * io_init() - start the engine on @loop
 * @want:	IO_ENGINE_AUTO picks io_uring and falls back to epoll when
 *		io_uring is missing or refused (ENOSYS, EPERM,
 *		kernel.io_uring_disabled), logging which it picked and why;
 *		IO_ENGINE_URING fails instead of falling back.
 * Return: false with errp set when the wanted engine cannot start.
 */
bool io_init(uv_loop_t *loop, enum io_engine want, struct nh_error **errp);

/* io_shutdown() - stop the engine; every channel must be closed already.
 * Runs @loop until the engine's handles are closed. */
void io_shutdown(void);

/* io_engine_name() - "uring" or "epoll", the engine in use */
const char *io_engine_name(void);

/* io_engine_parse() - "auto", "uring" (or "io_uring"), "epoll" */
bool io_engine_parse(const char *name, enum io_engine *out);

/* io_features() - a short human list of what the engine found, for logs
 * ("multishot recvmsg, provided buffers") */
const char *io_features(void);

enum io_chan_kind {
	IO_CHAN_DGRAM,
	IO_CHAN_STREAM,
};

#define IO_CHAN_F_RW	  0x1 /* read()/write() instead of socket calls */
#define IO_CHAN_F_SRCADDR 0x2 /* report each datagram's source address */
#define IO_CHAN_F_NOCLOSE 0x4 /* io_chan_close() leaves the fd open */
/* UDP sockets only.  The wire stays one frame per datagram; these change
 * how many datagrams cross the kernel per call. */
#define IO_CHAN_F_UDP_GRO 0x8 /* receive coalesced (UDP_GRO); the engine
			       * splits them: on_recv() sees datagrams */
#define IO_CHAN_F_UDP_GSO 0x10 /* send runs of equal-length messages as one
				* UDP_SEGMENT send; dropped for the channel
				* if the kernel refuses it */

/* Largest per-frame header a channel adds, and the room a received message
 * has beside a whole frame (IO_MSG_MAX): L2TPv3's header is up to 20 bytes
 * plus QEMU's offset= of up to 256, and a raw IPv4 socket also receives
 * the IP header (up to 60) */
#define IO_HDR_MAX	  336
#define IO_TXQ_DEFAULT	  1024 /* frames a channel queues for sending */
#define IO_STREAM_BUF_DEFAULT (256 * 1024)

struct io_chan;

/* One received datagram, borrowed for the callback */
struct io_msg {
	const uint8_t *data;
	size_t len;
	bool truncated;			/* longer than max_msg: data cut */
	const struct sockaddr *src;	/* with IO_CHAN_F_SRCADDR, else NULL */
	socklen_t srclen;
};

struct io_chan_cfg {
	enum io_chan_kind kind;
	unsigned flags;			/* IO_CHAN_F_* */

	/* dgram: destination for unconnected sockets (udp=, mcast=); NULL
	 * when the socket is connected or is a tap */
	const struct sockaddr *dest;
	socklen_t destlen;

	/* dgram: largest message received whole (header + frame); longer
	 * ones are delivered with truncated set.  0: IO header + FRAME_MAX_LEN */
	size_t max_msg;
	/* stream: receive buffer size; 0: IO_STREAM_BUF_DEFAULT */
	size_t stream_buf;
	/* frames queued for sending at most; 0: IO_TXQ_DEFAULT */
	unsigned txq_max;

	/**
	 * on_recv() - dgram: a batch of received messages (up to
	 * FRAME_BURST_MAX).  The backend builds frames and calls port_input().
	 */
	void (*on_recv)(struct io_chan *c, const struct io_msg *msgs,
			unsigned n);

	/**
	 * on_stream() - stream: @len bytes are buffered at @data.  Return how
	 * many were consumed; the rest is kept and offered again with more.
	 * When the buffer is full and nothing is consumed, the channel
	 * reports -EMSGSIZE through on_error().
	 */
	size_t (*on_stream)(struct io_chan *c, const uint8_t *data,
			    size_t len);

	/**
	 * on_error() - the channel stopped: 0 for end of stream (peer closed),
	 * else -errno.  Receiving has stopped; the backend closes the channel
	 * (typically from here).  Called at most once, always from the loop,
	 * never from inside io_chan_send() or another callback: a backend may
	 * detach its port here without pulling it from under the switch.
	 */
	void (*on_error)(struct io_chan *c, int err);

	/**
	 * on_tx_drain() - optional: the send queue, which io_chan_send() had
	 * left busy (io_chan_tx_busy()), is draining: @ready once it is down
	 * to a quarter (no longer busy), else each time another eighth of
	 * its size went out while still busy (the peer is slow, not stuck).
	 * Called from the loop, like on_error().
	 */
	void (*on_tx_drain)(struct io_chan *c, bool ready);

	/**
	 * on_tx_drop() - optional: @n frames that io_chan_send() had taken
	 * were lost because the kernel refused them with @err (-errno), e.g.
	 * ECONNREFUSED on a UDP socket; the backend counts them.  A stream
	 * write error is reported through on_error() instead.
	 */
	void (*on_tx_drop)(struct io_chan *c, unsigned n, int err);

	/**
	 * tx_header() - optional: write the header to put in front of @f
	 * into @hdr (at most IO_HDR_MAX bytes) and return its length.  Stream
	 * framing (QEMU's 4-byte length), virtio-net headers, L2TPv3 headers.
	 */
	unsigned (*tx_header)(struct io_chan *c, const struct frame *f,
			      uint8_t *hdr);

	void *opaque;			/* the backend's, see io_chan_opaque() */
};

/**
 * io_chan_open() - start a channel on @fd (non-blocking), receiving at once
 * Return: the channel, or NULL with errp set.  The channel owns @fd (closes
 * it in io_chan_close) unless IO_CHAN_F_NOCLOSE.
 */
struct io_chan *io_chan_open(int fd, const struct io_chan_cfg *cfg,
			     struct nh_error **errp);

/* io_chan_opaque() - cfg->opaque */
void *io_chan_opaque(const struct io_chan *c);

/**
 * io_chan_send() - queue frames for sending, in order
 * Return: how many of @frames were taken (their references with them); the
 * rest did not fit in the queue and are still the caller's.
 */
unsigned io_chan_send(struct io_chan *c, struct frame *const *frames,
		      unsigned n);

/**
 * io_chan_tx_busy() - the last io_chan_send() left the queue at least half
 * full, or could not take everything: stop offering more until
 * on_tx_drain() says ready (the flow-control contract of backend.h)
 */
bool io_chan_tx_busy(const struct io_chan *c);

/**
 * io_chan_pause(), io_chan_resume() - stop and restart receiving (flow
 * control); bytes or datagrams stay in the kernel meanwhile
 */
void io_chan_pause(struct io_chan *c);
void io_chan_resume(struct io_chan *c);

/* io_chan_set_paused() - io_chan_pause() or io_chan_resume(), as a
 * backend's rx_pause op is asked */
void io_chan_set_paused(struct io_chan *c, bool pause);

struct io_chan_stats {
	uint64_t rx_msgs, rx_bytes;	/* datagrams (dgram; GRO segments
					 * each) / bytes (stream) */
	uint64_t tx_msgs, tx_bytes;	/* frames written, bytes incl headers */
	uint64_t tx_errors;		/* frames the kernel refused */
	uint64_t rx_errors;		/* dgram receive errors survived
					 * (e.g. ECONNREFUSED from ICMP) */
	unsigned txq_len;		/* frames waiting now */
	unsigned txq_max;		/* frames it queues at most */
};
void io_chan_get_stats(const struct io_chan *c, struct io_chan_stats *st);

/**
 * io_chan_close() - stop the channel; no callback runs afterwards except
 * @done, which is called once every in-flight operation has completed and
 * the fd is closed (for the backend to free what the operations used, e.g.
 * the port).  Frames still queued are dropped and reported through
 * @done's @dropped so the backend can count them.
 */
void io_chan_close(struct io_chan *c,
		   void (*done)(void *opaque, unsigned dropped));

#endif /* NH_IO_H */
