/* SPDX-License-Identifier: MIT */
/* io_internal.h - what io.c shares with the two engines (io_uring.c, io_epoll.c)
 *
 * io.c owns the parts that must behave the same whatever the engine: the
 * channel table (slot + generation tags), channel memory, the transmit
 * queue and its accounting, stream reassembly, the close sequence (fd close,
 * deferred done callback, memory freed last).  An engine fills one
 * struct io_engine_ops and moves bytes; it never frees a channel and never
 * calls done() itself.  Nothing here is part of the public API.
 *
 * Callback rule shared by both engines: a backend callback may call
 * io_chan_send(), io_chan_pause/resume() and io_chan_close() on any channel,
 * including the one being called back.  So after every callback an engine
 * re-reads the channel state (closing, failed, paused) before touching it,
 * and never keeps engine-wide scratch arrays in use across a callback that
 * could reach the same arrays.
 */
#ifndef NH_IO_INTERNAL_H
#define NH_IO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/udp.h>
#include <uv.h>

#include "io.h"

/* Largest message a channel may ask to receive whole */
#define IO_MSG_MAX	  (IO_HDR_MAX + FRAME_MAX_LEN)
/* Frames gathered into one stream write (two iovecs each) */
#define IO_STREAM_GATHER  64
#define IO_STREAM_IOV	  (2 * IO_STREAM_GATHER)

/* UDP segmentation offload (IO_CHAN_F_UDP_GSO): one send carries at most
 * this many datagrams and payload bytes */
#define IO_GSO_SEGS_MAX	  64
#define IO_GSO_BYTES_MAX  65000
/* Control buffer for one UDP_SEGMENT (u16) or UDP_GRO (int) cmsg */
#define IO_UDP_CMSG_SPACE CMSG_SPACE(sizeof(int))

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* A tiny intrusive doubly-linked list, for the engines' work lists */
struct io_list {
	struct io_list *next, *prev;
};

static inline void io_list_init(struct io_list *l)
{
	l->next = l->prev = l;
}

static inline bool io_list_empty(const struct io_list *l)
{
	return l->next == l;
}

static inline bool io_list_linked(const struct io_list *n)
{
	return n->next != NULL && n->next != n;
}

static inline void io_list_add_tail(struct io_list *head, struct io_list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static inline void io_list_del(struct io_list *n)
{
	if (!io_list_linked(n))
		return;
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

#define io_container_of(ptr, type, member)                                    \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* A channel: the part both engines share.  Engines embed it first in their
 * own channel struct (ops->chan_size says how big that is). */
struct io_chan {
	struct io_chan_cfg cfg;		/* copy; cfg.dest points at dest */
	struct sockaddr_storage dest;
	int fd;
	uint32_t slot, gen;		/* tag of this channel's operations */

	bool closing;			/* io_chan_close() called */
	bool failed;			/* on_error() reported; no more rx */
	bool paused;			/* io_chan_pause() in effect */
	bool tx_dead;			/* stream write failed: send takes none */
	bool eof_on_zero;		/* a 0-byte read means end of stream */
	bool tx_waiting;		/* io_chan_tx_busy(): tell when drained */
	uint64_t tx_drain_mark;		/* frames done at the last report */

	/* Events for the backend, reported from the loop (io_chan_defer()) */
	unsigned events;		/* IO_EV_* */
	int fail_err;			/* on_error()'s argument */
	struct io_chan *events_next;

	size_t max_msg;			/* dgram: largest message received whole */
	/* dgram with IO_CHAN_F_UDP_GSO: longest message sent segmented (the
	 * kernel refused a longer one); longest one a segmented send has
	 * worked for (0: none yet) */
	size_t gso_max, gso_good;

	/* Transmit queue: a ring of frame references, oldest at txq_head.
	 * The first tx_busy of them belong to an operation in flight. */
	struct frame **txq;
	unsigned txq_cap, txq_head, txq_len, tx_busy;

	/* Stream transmit: bytes of the head frame (header + data) already
	 * written, and the headers of the frames of the current gather
	 * (index 0 is always the head frame's). */
	size_t tx_off;
	unsigned tx_gathered;		/* frames in the last gather */
	uint8_t (*shdr)[IO_HDR_MAX];
	uint16_t *shlen;

	/* Stream receive buffer */
	uint8_t *sbuf;
	size_t scap, slen;

	struct io_chan_stats st;

	void (*done)(void *opaque, unsigned dropped);
	unsigned dropped;
	struct io_chan *done_next;
};

/* One engine.  io.c calls these; the chan_* ones only on open channels. */
struct io_engine_ops {
	const char *name;
	size_t chan_size;
	/* start(): bring the engine up on @loop; on failure return -errno and
	 * describe the reason in @why */
	int (*start)(uv_loop_t *loop, char *why, size_t whylen);
	/* stop(): every channel is gone; close handles (running the loop
	 * until they are closed) and free everything */
	void (*stop)(void);
	const char *(*features)(void);
	/* hold(): io.c has channels (true) or none (false); the engine keeps
	 * the loop alive accordingly */
	void (*hold)(bool on);

	/* chan_start(): allocate engine state, begin receiving */
	int (*chan_start)(struct io_chan *c, struct nh_error **errp);
	/* chan_kick_tx(): frames were appended to the transmit queue */
	void (*chan_kick_tx)(struct io_chan *c);
	void (*chan_pause)(struct io_chan *c);
	void (*chan_resume)(struct io_chan *c);
	/* chan_stop_rx(): the channel failed; receive nothing more */
	void (*chan_stop_rx)(struct io_chan *c);
	/* chan_close(): cancel everything; call io_chan_quiesced() once no
	 * operation or handle refers to the channel any more */
	void (*chan_close)(struct io_chan *c);
	/* chan_free(): release engine-private memory (after done ran) */
	void (*chan_free)(struct io_chan *c);
};

extern const struct io_engine_ops io_ur_engine;
extern const struct io_engine_ops io_ep_engine;

/* The engine state common to both, one per loop */
struct io_core {
	uv_loop_t *loop;
	const struct io_engine_ops *ops;
	struct io_chan **slots;		/* slot -> channel, NULL when free */
	uint32_t *gens;			/* generation of each slot */
	uint32_t *free_slots;
	uint32_t nslots, nfree;
	unsigned live;			/* channels not yet freed */
	struct io_chan *done_head, **done_tail;
	struct io_chan *events_head, **events_tail; /* io_chan_defer() */
	uv_idle_t done_idle;
	bool idle_open;
};

extern struct io_core io_core;

/*
 * Operation tags: what every io_uring operation carries in user_data.
 *
 *   bits 63..56  operation kind (engine-defined, never 0)
 *   bits 55..48  index within the channel (rx slot, tx chain position)
 *   bits 47..24  generation of the channel's slot
 *   bits 23..0   slot
 */
#define IO_TAG_SLOT_MASK 0xffffffu
#define IO_TAG_GEN_MASK	 0xffffffu

static inline uint64_t io_tag(unsigned kind, unsigned idx,
			      const struct io_chan *c)
{
	return (uint64_t)(kind & 0xff) << 56 | (uint64_t)(idx & 0xff) << 48 |
	       (uint64_t)(c->gen & IO_TAG_GEN_MASK) << 24 |
	       (uint64_t)(c->slot & IO_TAG_SLOT_MASK);
}

static inline unsigned io_tag_kind(uint64_t tag)
{
	return (unsigned)(tag >> 56);
}

static inline unsigned io_tag_idx(uint64_t tag)
{
	return (unsigned)(tag >> 48) & 0xff;
}

/* io_chan_by_tag() - the live channel a tag names, or NULL if stale */
static inline struct io_chan *io_chan_by_tag(uint64_t tag)
{
	uint32_t slot = (uint32_t)(tag & IO_TAG_SLOT_MASK);
	uint32_t gen = (uint32_t)(tag >> 24) & IO_TAG_GEN_MASK;
	struct io_chan *c;

	if (slot >= io_core.nslots)
		return NULL;
	c = io_core.slots[slot];
	if (!c || (c->gen & IO_TAG_GEN_MASK) != gen)
		return NULL;
	return c;
}

/* io_chan_rx_allowed() - may the engine receive for @c now? */
static inline bool io_chan_rx_allowed(const struct io_chan *c)
{
	return !c->closing && !c->failed && !c->paused;
}

/* io_txq_at() - the frame @i places behind the transmit queue's head */
static inline struct frame *io_txq_at(const struct io_chan *c, unsigned i)
{
	unsigned p = c->txq_head + i;

	if (p >= c->txq_cap)
		p -= c->txq_cap;
	return c->txq[p];
}

/* io_tx_header() - the channel's header for @f into @hdr; its length */
static inline unsigned io_tx_header(struct io_chan *c, const struct frame *f,
				    uint8_t *hdr)
{
	unsigned n;

	if (!c->cfg.tx_header)
		return 0;
	n = c->cfg.tx_header(c, f, hdr);
	return n > IO_HDR_MAX ? IO_HDR_MAX : n;
}

/* Failed transmissions gathered during one flush, reported after it */
struct io_tx_drops {
	unsigned n;
	int err;		/* the first error seen */
};

/* io_txq_set() - put @f at position @i behind the queue's head */
static inline void io_txq_set(struct io_chan *c, unsigned i, struct frame *f)
{
	unsigned p = c->txq_head + i;

	if (p >= c->txq_cap)
		p -= c->txq_cap;
	c->txq[p] = f;
}

#define IO_EV_FAIL	0x1 /* on_error(fail_err) */
#define IO_EV_TX_READY	0x2 /* on_tx_drain(ready) */
#define IO_EV_TX_DRAIN	0x4 /* on_tx_drain(not yet ready) */

/**
 * io_chan_defer() - report @ev (IO_EV_*) to the backend from the loop, so
 * that no callback runs inside io_chan_send() or inside another callback
 */
void io_chan_defer(struct io_chan *c, unsigned ev);

/* io_tx_check_ready() - the queue shrank: if it was busy, tell the backend
 * (deferred) that it is ready again, or that it is making progress */
static inline void io_tx_check_ready(struct io_chan *c)
{
	uint64_t done;

	if (__builtin_expect(!c->tx_waiting, 1))
		return;
	if (c->txq_len <= c->txq_cap / 4) {
		c->tx_waiting = false;
		io_chan_defer(c, IO_EV_TX_READY);
		return;
	}
	done = c->st.tx_msgs + c->st.tx_errors;
	if (done - c->tx_drain_mark >= c->txq_cap / 8) {
		c->tx_drain_mark = done;
		io_chan_defer(c, IO_EV_TX_DRAIN);
	}
}

/* io_txq_advance() - forget the first @n positions of the queue (their
 * frames were accounted for or moved) */
static inline void io_txq_advance(struct io_chan *c, unsigned n)
{
	c->txq_head += n;
	if (c->txq_head >= c->txq_cap)
		c->txq_head -= c->txq_cap;
	c->txq_len -= n;
	io_tx_check_ready(c);
}

/**
 * io_tx_account() - the kernel is done with @f: count it and drop it
 * @res:	bytes the kernel took (header included), or -errno
 * @drops:	where a refused frame is counted for io_tx_report()
 *
 * Sent, refused (reported through on_tx_drop), or, once the channel is
 * closing, dropped for done().  Takes the queue's reference.
 */
void io_tx_account(struct io_chan *c, struct frame *f, int res,
		   struct io_tx_drops *drops);

/**
 * io_tx_complete() - the head frame of @c's queue is finished
 * @c:		the channel
 * @res:	bytes the kernel took (header included), or -errno
 * @drops:	where a refused frame is counted for io_tx_report()
 *
 * Pops the frame, drops its reference and counts it: sent, refused (the
 * backend hears of it through on_tx_drop), or, once the channel is
 * closing, dropped for done().
 */
void io_tx_complete(struct io_chan *c, int res, struct io_tx_drops *drops);

/* io_tx_report() - tell the backend about @drops (unless closing) */
void io_tx_report(struct io_chan *c, const struct io_tx_drops *drops);

/**
 * io_stream_gather() - iovecs for the next stream write
 * @c:		stream channel
 * @iov:	at least 2 * @max_frames entries
 * @max_frames:	frames to gather at most (<= IO_STREAM_GATHER)
 * @bytes:	total length of the iovecs
 *
 * Starts at the queue's head, tx_off bytes into it.  Headers are written
 * into c->shdr.  Return: iovecs filled; *@nframes frames involved.
 */
unsigned io_stream_gather(struct io_chan *c, struct iovec *iov,
			  unsigned max_frames, unsigned *nframes,
			  size_t *bytes);

/* io_stream_wrote() - @bytes of the last gather were written; complete the
 * frames they cover and remember where the next write resumes */
void io_stream_wrote(struct io_chan *c, size_t bytes);

/**
 * io_stream_deliver() - offer the buffered stream bytes to on_stream()
 *
 * Calls on_stream() while it consumes and bytes remain, then moves the
 * leftover to the front.  A full buffer that nothing was taken from fails
 * the channel with -EMSGSIZE.  Does nothing while paused or stopped.
 */
void io_stream_deliver(struct io_chan *c);

/**
 * io_chan_fail() - the channel stopped receiving for good
 * @err:	0 for end of stream, else -errno
 *
 * Stops the engine's receiving and reports @err through on_error(), once,
 * from the loop; nothing happens on a closing or already failed channel.
 */
void io_chan_fail(struct io_chan *c, int err);

/**
 * io_chan_quiesced() - the engine is done with @c
 *
 * No operation is in flight and no handle refers to @c.  Drops what is
 * still queued (counted in done's @dropped), closes the fd unless
 * IO_CHAN_F_NOCLOSE, frees the slot, and schedules done() and the memory's
 * release on the loop.
 */
void io_chan_quiesced(struct io_chan *c);

/* io_rx_buflen() - bytes a datagram receive asks for: a coalesced (GRO)
 * message may be as long as any datagram, whatever max_msg says */
static inline size_t io_rx_buflen(const struct io_chan *c)
{
	return (c->cfg.flags & IO_CHAN_F_UDP_GRO) ? IO_MSG_MAX + 1
						  : c->max_msg + 1;
}

/**
 * io_gro_size() - the segment size a UDP_GRO control message carries
 * Return: the size, or 0 if @cm is another control message.
 */
unsigned io_gro_size(const struct cmsghdr *cm);

/**
 * io_rx_split() - cut one received message into the datagrams it holds
 * @c:		the channel
 * @data:	the message (@len bytes; @trunc: the kernel cut it)
 * @gso:	segment size from UDP_GRO, 0 for a plain datagram
 * @out:	@room entries at most
 * @off:	in: where the previous call stopped (0 at first); out: where
 *		this one stopped, 0 once the message is consumed
 *
 * Fills @out with the segments (@gso bytes each, the last may be shorter),
 * each cut to max_msg with truncated set when longer; src is left to the
 * caller.  Return: entries filled.
 */
unsigned io_rx_split(const struct io_chan *c, const uint8_t *data, size_t len,
		     bool trunc, unsigned gso, struct io_msg *out,
		     unsigned room, size_t *off);

/**
 * io_gso_run() - how many messages, from the first of @mlen, go in one send
 * @mlen:	lengths (header + frame) of the @n next queued messages
 *
 * With IO_CHAN_F_UDP_GSO: a run of equal lengths, possibly ended by one
 * shorter message, within IO_GSO_SEGS_MAX, IO_GSO_BYTES_MAX and gso_max.
 * Return: 1 for a plain send, more for a UDP_SEGMENT send, 0 if @n is 0.
 */
unsigned io_gso_run(const struct io_chan *c, const uint32_t *mlen, unsigned n);

/* io_gso_cmsg() - put a UDP_SEGMENT of @size in @mh, using @buf
 * (IO_UDP_CMSG_SPACE bytes, 8-byte aligned) */
void io_gso_cmsg(struct msghdr *mh, void *buf, unsigned size);

/**
 * io_gso_refused() - a segmented send of @size-byte messages failed: @err
 * Return: true if the kernel refused the segmentation (EINVAL, EIO,
 * EOPNOTSUPP): the group must go again unsegmented, which this arranges
 * (never again on this channel if no segmented send has worked yet, else
 * not for messages this long).  false: a plain error for every frame.
 */
bool io_gso_refused(struct io_chan *c, int err, size_t size);

/* io_rx_error_transient() - may a datagram channel carry on after @err? */
bool io_rx_error_transient(int err);

#endif /* NH_IO_INTERNAL_H */
