// SPDX-License-Identifier: MIT
/* io.c - the datapath I/O engine's common half: engine choice, channels
 *
 * Owns engine selection (io_init: io_uring, else the epoll fallback), the
 * channel table whose slot + generation pairs tag every operation, channel
 * memory, the bounded transmit queue and its accounting, stream
 * reassembly, and the close sequence: an engine reports a channel quiesced,
 * this file closes the fd, and done() runs later from a uv_idle_t, never
 * inside io_chan_close().  The engines (io_uring.c, io_epoll.c) only move
 * bytes.  Nothing here allocates, logs or makes a syscall per frame.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io_internal.h"
#include "log.h"

struct io_core io_core;

static char io_features_none[] = "";

/* ---- channel table ---------------------------------------------------- */

/* io_slot_alloc() - a free slot for @c, growing the table when needed */
static int io_slot_alloc(struct io_chan *c)
{
	uint32_t slot;

	if (!io_core.nfree) {
		uint32_t n = io_core.nslots ? io_core.nslots * 2 : 64;
		struct io_chan **slots;
		uint32_t *gens, *fr;

		if (n > IO_TAG_SLOT_MASK + 1u)
			return -ENFILE;
		slots = realloc(io_core.slots, n * sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		io_core.slots = slots;
		gens = realloc(io_core.gens, n * sizeof(*gens));
		if (!gens)
			return -ENOMEM;
		io_core.gens = gens;
		fr = realloc(io_core.free_slots, n * sizeof(*fr));
		if (!fr)
			return -ENOMEM;
		io_core.free_slots = fr;
		/* Push the new slots so the lowest comes out first */
		for (uint32_t i = n; i-- > io_core.nslots;) {
			io_core.slots[i] = NULL;
			io_core.gens[i] = 1;
			io_core.free_slots[io_core.nfree++] = i;
		}
		io_core.nslots = n;
	}
	slot = io_core.free_slots[--io_core.nfree];
	io_core.slots[slot] = c;
	c->slot = slot;
	c->gen = io_core.gens[slot];
	return 0;
}

/* io_slot_release() - forget @c's slot; later tags for it are stale */
static void io_slot_release(struct io_chan *c)
{
	if (c->slot >= io_core.nslots || io_core.slots[c->slot] != c)
		return;
	io_core.slots[c->slot] = NULL;
	io_core.gens[c->slot] = (io_core.gens[c->slot] + 1) & IO_TAG_GEN_MASK;
	if (!io_core.gens[c->slot])
		io_core.gens[c->slot] = 1;
	io_core.free_slots[io_core.nfree++] = c->slot;
}

/* ---- engine selection --------------------------------------------------- */

bool io_engine_parse(const char *name, enum io_engine *out)
{
	if (!strcmp(name, "auto"))
		*out = IO_ENGINE_AUTO;
	else if (!strcmp(name, "uring") || !strcmp(name, "io_uring"))
		*out = IO_ENGINE_URING;
	else if (!strcmp(name, "epoll"))
		*out = IO_ENGINE_EPOLL;
	else
		return false;
	return true;
}

const char *io_engine_name(void)
{
	return io_core.ops ? io_core.ops->name : "none";
}

const char *io_features(void)
{
	return io_core.ops ? io_core.ops->features() : io_features_none;
}

bool io_init(uv_loop_t *loop, enum io_engine want, struct nh_error **errp)
{
	const struct io_engine_ops *ops = NULL;
	char why[256] = "";

	if (io_core.ops) {
		nh_error_setg(errp, "I/O engine already started (%s)",
			      io_core.ops->name);
		return false;
	}
	memset(&io_core, 0, sizeof(io_core));
	io_core.loop = loop;
	io_core.done_tail = &io_core.done_head;
	io_core.events_tail = &io_core.events_head;

	if (want != IO_ENGINE_EPOLL) {
		if (!io_ur_engine.start(loop, why, sizeof(why))) {
			ops = &io_ur_engine;
			log_info("io: using io_uring (%s)", ops->features());
		} else if (want == IO_ENGINE_URING) {
			nh_error_setg(errp, "io=uring: io_uring is not usable: %s",
				      why);
			return false;
		} else {
			log_info("io: io_uring is not usable (%s); using epoll",
				 why);
		}
	}
	if (!ops) {
		why[0] = '\0';
		if (io_ep_engine.start(loop, why, sizeof(why))) {
			nh_error_setg(errp, "io=epoll: cannot start: %s", why);
			return false;
		}
		ops = &io_ep_engine;
		if (want == IO_ENGINE_EPOLL)
			log_info("io: using epoll (requested)");
	}
	/* Cannot fail on Linux: it only links the handle into the loop */
	uv_idle_init(loop, &io_core.done_idle);
	io_core.idle_open = true;
	io_core.ops = ops;
	return true;
}

static void io_idle_closed(uv_handle_t *h)
{
	(void)h;
	io_core.idle_open = false;
}

void io_shutdown(void)
{
	uv_loop_t *loop = io_core.loop;

	if (!io_core.ops)
		return;
	/* Every channel should be closed by now; close stragglers quietly */
	for (uint32_t i = 0; i < io_core.nslots; i++) {
		struct io_chan *c = io_core.slots[i];

		if (c && !c->closing) {
			log_warn("io: fd %d still open at shutdown", c->fd);
			io_chan_close(c, NULL);
		}
	}
	while (io_core.live)
		uv_run(loop, UV_RUN_ONCE);

	io_core.ops->stop();
	uv_close((uv_handle_t *)&io_core.done_idle, io_idle_closed);
	while (io_core.idle_open)
		uv_run(loop, UV_RUN_ONCE);

	free(io_core.slots);
	free(io_core.gens);
	free(io_core.free_slots);
	memset(&io_core, 0, sizeof(io_core));
}

/* ---- channels ----------------------------------------------------------- */

static void io_chan_free(struct io_chan *c)
{
	free(c->txq);
	free(c->sbuf);
	free(c->shdr);
	free(c->shlen);
	free(c);
}

/* io_chan_check_cfg() - refuse configurations the engines cannot honour */
static bool io_chan_check_cfg(int fd, const struct io_chan_cfg *cfg,
			      struct nh_error **errp)
{
	if (!io_core.ops) {
		nh_error_setg(errp, "I/O engine not started");
		return false;
	}
	if (fd < 0) {
		nh_error_setg(errp, "channel: invalid fd %d", fd);
		return false;
	}
	if (cfg->kind == IO_CHAN_DGRAM) {
		if (!cfg->on_recv) {
			nh_error_setg(errp, "channel fd %d: datagram channel "
				      "without on_recv", fd);
			return false;
		}
		if (cfg->max_msg > IO_MSG_MAX) {
			nh_error_setg(errp, "channel fd %d: max_msg %zu exceeds "
				      "%d bytes", fd, cfg->max_msg, IO_MSG_MAX);
			return false;
		}
		if (cfg->dest &&
		    (cfg->destlen == 0 ||
		     cfg->destlen > sizeof(struct sockaddr_storage))) {
			nh_error_setg(errp, "channel fd %d: bad destination "
				      "address length %u", fd,
				      (unsigned)cfg->destlen);
			return false;
		}
	} else if (cfg->kind == IO_CHAN_STREAM) {
		if (!cfg->on_stream) {
			nh_error_setg(errp, "channel fd %d: stream channel "
				      "without on_stream", fd);
			return false;
		}
		if (cfg->stream_buf && cfg->stream_buf < 64) {
			nh_error_setg(errp, "channel fd %d: stream_buf %zu is "
				      "too small", fd, cfg->stream_buf);
			return false;
		}
	} else {
		nh_error_setg(errp, "channel fd %d: unknown kind %d", fd,
			      (int)cfg->kind);
		return false;
	}
	if (!cfg->on_error) {
		nh_error_setg(errp, "channel fd %d: no on_error callback", fd);
		return false;
	}
	return true;
}

/* io_chan_zero_is_eof() - does a 0-byte read on @fd mean end of stream?
 * It does for streams, read()/write() fds and SEQPACKET sockets; on a
 * datagram socket it is an empty datagram. */
static bool io_chan_zero_is_eof(int fd, const struct io_chan_cfg *cfg)
{
	int type = 0;
	socklen_t len = sizeof(type);

	if (cfg->kind == IO_CHAN_STREAM || (cfg->flags & IO_CHAN_F_RW))
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return false;
	return type == SOCK_SEQPACKET;
}

/* io_chan_udp_offload() - set up the UDP flags; a socket that takes no
 * UDP_GRO just receives plain datagrams */
static void io_chan_udp_offload(struct io_chan *c)
{
	int one = 1, proto = 0;
	socklen_t len = sizeof(proto);

	if (!(c->cfg.flags & (IO_CHAN_F_UDP_GRO | IO_CHAN_F_UDP_GSO)))
		return;
	/* Other sockets would take the UDP control messages silently (a
	 * unix socket ignores them) and glue the frames together */
	if (c->cfg.kind != IO_CHAN_DGRAM || (c->cfg.flags & IO_CHAN_F_RW) ||
	    getsockopt(c->fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) < 0 ||
	    proto != IPPROTO_UDP) {
		c->cfg.flags &= ~(unsigned)(IO_CHAN_F_UDP_GRO |
					    IO_CHAN_F_UDP_GSO);
		return;
	}
	if ((c->cfg.flags & IO_CHAN_F_UDP_GRO) &&
	    setsockopt(c->fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) < 0) {
		log_debug("io: fd %d: no UDP GRO: %s", c->fd, strerror(errno));
		c->cfg.flags &= ~(unsigned)IO_CHAN_F_UDP_GRO;
	}
	if (c->cfg.flags & IO_CHAN_F_UDP_GSO)
		c->gso_max = IO_GSO_BYTES_MAX;
}

struct io_chan *io_chan_open(int fd, const struct io_chan_cfg *cfg,
			     struct nh_error **errp)
{
	struct io_chan *c;
	int err;

	if (!io_chan_check_cfg(fd, cfg, errp))
		return NULL;
	c = calloc(1, io_core.ops->chan_size);
	if (!c)
		goto nomem;
	c->cfg = *cfg;
	c->fd = fd;
	if (cfg->dest) {
		memcpy(&c->dest, cfg->dest, cfg->destlen);
		c->cfg.dest = (const struct sockaddr *)&c->dest;
	} else {
		c->cfg.destlen = 0;
	}
	c->max_msg = cfg->max_msg ? cfg->max_msg : IO_MSG_MAX;
	c->txq_cap = cfg->txq_max ? cfg->txq_max : IO_TXQ_DEFAULT;
	c->eof_on_zero = io_chan_zero_is_eof(fd, cfg);
	io_chan_udp_offload(c);
	c->txq = calloc(c->txq_cap, sizeof(*c->txq));
	if (!c->txq)
		goto nomem;
	if (cfg->kind == IO_CHAN_STREAM) {
		c->scap = cfg->stream_buf ? cfg->stream_buf
					  : IO_STREAM_BUF_DEFAULT;
		c->sbuf = malloc(c->scap);
		c->shdr = calloc(IO_STREAM_GATHER, sizeof(*c->shdr));
		c->shlen = calloc(IO_STREAM_GATHER, sizeof(*c->shlen));
		if (!c->sbuf || !c->shdr || !c->shlen)
			goto nomem;
	}
	err = io_slot_alloc(c);
	if (err) {
		nh_error_setg(errp, "channel fd %d: %s", fd, strerror(-err));
		io_chan_free(c);
		return NULL;
	}
	if (io_core.live++ == 0 && io_core.ops->hold)
		io_core.ops->hold(true);
	err = io_core.ops->chan_start(c, errp);
	if (err) {
		io_slot_release(c);
		io_core.ops->chan_free(c);
		io_chan_free(c);
		if (--io_core.live == 0 && io_core.ops->hold)
			io_core.ops->hold(false);
		return NULL;
	}
	return c;

nomem:
	nh_error_setg(errp, "channel fd %d: out of memory", fd);
	if (c)
		io_chan_free(c);
	return NULL;
}

void *io_chan_opaque(const struct io_chan *c)
{
	return c->cfg.opaque;
}

unsigned io_chan_send(struct io_chan *c, struct frame *const *frames,
		      unsigned n)
{
	unsigned room, k, p;

	if (c->closing || c->tx_dead)
		return 0;
	room = c->txq_cap - c->txq_len;
	k = n < room ? n : room;
	if (!k)
		return 0;
	p = c->txq_head + c->txq_len;
	for (unsigned i = 0; i < k; i++, p++) {
		if (p >= c->txq_cap)
			p -= c->txq_cap;
		c->txq[p] = frames[i];
	}
	c->txq_len += k;
	io_core.ops->chan_kick_tx(c);
	if (!c->tx_waiting && (k < n || c->txq_len >= c->txq_cap / 2)) {
		c->tx_waiting = true;
		c->tx_drain_mark = c->st.tx_msgs + c->st.tx_errors;
	}
	return k;
}

bool io_chan_tx_busy(const struct io_chan *c)
{
	return c->tx_waiting;
}

void io_chan_pause(struct io_chan *c)
{
	if (c->closing || c->paused)
		return;
	c->paused = true;
	io_core.ops->chan_pause(c);
}

void io_chan_resume(struct io_chan *c)
{
	if (c->closing || !c->paused)
		return;
	c->paused = false;
	io_core.ops->chan_resume(c);
}

void io_chan_set_paused(struct io_chan *c, bool pause)
{
	if (pause)
		io_chan_pause(c);
	else
		io_chan_resume(c);
}

void io_chan_get_stats(const struct io_chan *c, struct io_chan_stats *st)
{
	*st = c->st;
	st->txq_len = c->txq_len;
	st->txq_max = c->txq_cap;
}

static void io_events_unlist(struct io_chan *c);

/* io_txq_drop() - drop the queued frames from position @from on */
static void io_txq_drop(struct io_chan *c, unsigned from)
{
	while (c->txq_len > from) {
		unsigned p = c->txq_head + c->txq_len - 1;

		if (p >= c->txq_cap)
			p -= c->txq_cap;
		frame_unref(c->txq[p]);
		c->txq[p] = NULL;
		c->txq_len--;
		c->dropped++;
	}
}

void io_chan_close(struct io_chan *c,
		   void (*done)(void *opaque, unsigned dropped))
{
	if (c->closing) {
		log_debug("io: fd %d: closed twice", c->fd);
		return;
	}
	c->closing = true;
	c->done = done;
	io_events_unlist(c);
	/* Frames no operation holds go now; those in flight when their
	 * operation ends (io_tx_complete or io_chan_quiesced) */
	io_txq_drop(c, c->tx_busy);
	io_core.ops->chan_close(c);
}

/* Take @c off the list of channels with events to report */
static void io_events_unlist(struct io_chan *c)
{
	if (!c->events)
		return;
	c->events = 0;
	for (struct io_chan **pp = &io_core.events_head; *pp;
	     pp = &(*pp)->events_next) {
		if (*pp == c) {
			*pp = c->events_next;
			if (!*pp)
				io_core.events_tail = pp;
			break;
		}
	}
	c->events_next = NULL;
}

static void io_idle_run(uv_idle_t *h);

void io_chan_defer(struct io_chan *c, unsigned ev)
{
	if (c->closing)
		return;
	if (!c->events) {
		c->events_next = NULL;
		*io_core.events_tail = c;
		io_core.events_tail = &c->events_next;
	}
	c->events |= ev;
	uv_idle_start(&io_core.done_idle, io_idle_run);
}

/* Report the deferred events; a channel closed meanwhile was unlisted */
static void io_events_run(void)
{
	while (io_core.events_head) {
		struct io_chan *c = io_core.events_head;
		unsigned ev = c->events;

		io_core.events_head = c->events_next;
		if (!io_core.events_head)
			io_core.events_tail = &io_core.events_head;
		c->events = 0;
		c->events_next = NULL;
		if (ev & IO_EV_FAIL)
			c->cfg.on_error(c, c->fail_err);
		/* on_error may have closed it: freed only by io_idle_run */
		if ((ev & (IO_EV_TX_READY | IO_EV_TX_DRAIN)) && !c->closing &&
		    c->cfg.on_tx_drain)
			c->cfg.on_tx_drain(c, ev & IO_EV_TX_READY);
	}
}

static void io_idle_run(uv_idle_t *h)
{
	(void)h;
	io_events_run();
	while (io_core.done_head) {
		struct io_chan *c = io_core.done_head;

		io_core.done_head = c->done_next;
		if (!io_core.done_head)
			io_core.done_tail = &io_core.done_head;
		if (c->done)
			c->done(c->cfg.opaque, c->dropped);
		io_core.ops->chan_free(c);
		io_chan_free(c);
		if (--io_core.live == 0 && io_core.ops->hold)
			io_core.ops->hold(false);
	}
	if (!io_core.events_head)
		uv_idle_stop(&io_core.done_idle);
}

void io_chan_quiesced(struct io_chan *c)
{
	io_txq_drop(c, 0);
	c->tx_busy = 0;
	if (!(c->cfg.flags & IO_CHAN_F_NOCLOSE) && c->fd >= 0)
		close(c->fd);
	io_slot_release(c);
	c->done_next = NULL;
	*io_core.done_tail = c;
	io_core.done_tail = &c->done_next;
	uv_idle_start(&io_core.done_idle, io_idle_run);
}

void io_chan_fail(struct io_chan *c, int err)
{
	if (c->closing || c->failed)
		return;
	c->failed = true;
	io_core.ops->chan_stop_rx(c);
	if (err)
		log_debug("io: fd %d: channel stopped: %s", c->fd,
			  strerror(-err));
	else
		log_debug("io: fd %d: peer closed the connection", c->fd);
	c->fail_err = err;
	io_chan_defer(c, IO_EV_FAIL);
}

bool io_rx_error_transient(int err)
{
	switch (err) {
	case -EAGAIN:
	case -EINTR:
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -EHOSTUNREACH:
	case -EHOSTDOWN:
	case -ENETUNREACH:
	case -ENETDOWN:
	case -ENETRESET:
	case -EPROTO:
	case -ETIMEDOUT:
	case -EMSGSIZE:
	case -ENOBUFS:
	case -ENOMEM:
		return true;
	default:
		return false;
	}
}

/* ---- UDP segmentation offload ---------------------------------------- */

unsigned io_gro_size(const struct cmsghdr *cm)
{
	int v;

	if (cm->cmsg_level != SOL_UDP || cm->cmsg_type != UDP_GRO ||
	    cm->cmsg_len < CMSG_LEN(sizeof(v)))
		return 0;
	memcpy(&v, CMSG_DATA(cm), sizeof(v));
	return v > 0 ? (unsigned)v : 0;
}

unsigned io_rx_split(const struct io_chan *c, const uint8_t *data, size_t len,
		     bool trunc, unsigned gso, struct io_msg *out,
		     unsigned room, size_t *off)
{
	size_t pos = *off;
	unsigned k = 0;

	/* A plain datagram, or one the kernel cut: one message as it is */
	if (!gso || trunc || gso >= len) {
		if (!room)
			return 0;
		out->data = data;
		out->len = len;
		out->truncated = trunc;
		if (len > c->max_msg) {
			out->len = c->max_msg;
			out->truncated = true;
		}
		out->src = NULL;
		out->srclen = 0;
		*off = 0;
		return 1;
	}
	while (k < room && pos < len) {
		size_t seg = len - pos < gso ? len - pos : gso;
		struct io_msg *m = &out[k++];

		m->data = data + pos;
		m->len = seg > c->max_msg ? c->max_msg : seg;
		m->truncated = seg > c->max_msg;
		m->src = NULL;
		m->srclen = 0;
		pos += seg;
	}
	*off = pos < len ? pos : 0;
	return k;
}

unsigned io_gso_run(const struct io_chan *c, const uint32_t *mlen, unsigned n)
{
	uint32_t seg;
	size_t total;
	unsigned k = 1;

	if (!n)
		return 0;
	seg = mlen[0];
	if (!(c->cfg.flags & IO_CHAN_F_UDP_GSO) || n < 2 || !seg ||
	    seg > c->gso_max)
		return 1;
	total = seg;
	while (k < n && k < IO_GSO_SEGS_MAX && mlen[k] && mlen[k] <= seg &&
	       total + mlen[k] <= IO_GSO_BYTES_MAX) {
		total += mlen[k];
		if (mlen[k++] < seg)
			break; /* a shorter one ends the run */
	}
	return k;
}

void io_gso_cmsg(struct msghdr *mh, void *buf, unsigned size)
{
	struct cmsghdr *cm;
	uint16_t v = (uint16_t)size;

	memset(buf, 0, IO_UDP_CMSG_SPACE);
	mh->msg_control = buf;
	mh->msg_controllen = CMSG_SPACE(sizeof(v));
	cm = CMSG_FIRSTHDR(mh);
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(v));
	memcpy(CMSG_DATA(cm), &v, sizeof(v));
}

bool io_gso_refused(struct io_chan *c, int err, size_t size)
{
	if (err != -EINVAL && err != -EIO && err != -EOPNOTSUPP)
		return false;
	/* Another send of the same batch already said so */
	if (!(c->cfg.flags & IO_CHAN_F_UDP_GSO) || size > c->gso_max)
		return true;
	if (!c->gso_good) {
		log_debug("io: fd %d: the kernel refuses UDP GSO (%s); sending "
			  "datagrams one by one", c->fd, strerror(-err));
		c->cfg.flags &= ~(unsigned)IO_CHAN_F_UDP_GSO;
		c->gso_max = 0;
	} else {
		log_debug("io: fd %d: UDP GSO refused for %zu-byte datagrams "
			  "(%s); sending those one by one", c->fd, size,
			  strerror(-err));
		c->gso_max = size - 1;
	}
	return true;
}

/* ---- transmit accounting -------------------------------------------- */

void io_tx_account(struct io_chan *c, struct frame *f, int res,
		   struct io_tx_drops *drops)
{
	frame_unref(f);
	if (res >= 0) {
		c->st.tx_msgs++;
		c->st.tx_bytes += (uint64_t)res;
	} else if (c->closing) {
		c->dropped++;
	} else {
		c->st.tx_errors++;
		if (!drops->n++)
			drops->err = res;
	}
}

void io_tx_complete(struct io_chan *c, int res, struct io_tx_drops *drops)
{
	struct frame *f = c->txq[c->txq_head];

	c->txq[c->txq_head] = NULL;
	if (c->tx_busy)
		c->tx_busy--;
	io_tx_account(c, f, res, drops);
	io_txq_advance(c, 1);
}

void io_tx_report(struct io_chan *c, const struct io_tx_drops *drops)
{
	if (!drops->n || c->closing)
		return;
	if (c->cfg.on_tx_drop)
		c->cfg.on_tx_drop(c, drops->n, drops->err);
}

/* ---- stream framing --------------------------------------------------- */

unsigned io_stream_gather(struct io_chan *c, struct iovec *iov,
			  unsigned max_frames, unsigned *nframes,
			  size_t *bytes)
{
	unsigned n = c->txq_len < max_frames ? c->txq_len : max_frames;
	unsigned cnt = 0;
	size_t total = 0;

	for (unsigned i = 0; i < n; i++) {
		struct frame *f = io_txq_at(c, i);
		size_t skip = i == 0 ? c->tx_off : 0;
		size_t hlen;

		/* The head frame keeps the header it was first written with */
		if (i > 0 || c->tx_off == 0)
			c->shlen[i] = (uint16_t)io_tx_header(c, f, c->shdr[i]);
		hlen = c->shlen[i];
		if (skip < hlen) {
			iov[cnt].iov_base = c->shdr[i] + skip;
			iov[cnt].iov_len = hlen - skip;
			total += hlen - skip;
			cnt++;
			skip = 0;
		} else {
			skip -= hlen;
		}
		if (skip < f->len) {
			iov[cnt].iov_base = f->data + skip;
			iov[cnt].iov_len = f->len - skip;
			total += f->len - skip;
			cnt++;
		}
	}
	c->tx_gathered = n;
	*nframes = n;
	*bytes = total;
	return cnt;
}

void io_stream_wrote(struct io_chan *c, size_t bytes)
{
	unsigned i = 0;

	c->st.tx_bytes += bytes;
	/* Bounded by the gather: only its frames have their headers known */
	for (; i < c->tx_gathered && c->txq_len; i++) {
		struct frame *f = c->txq[c->txq_head];
		size_t seg = (size_t)c->shlen[i] + f->len - c->tx_off;

		if (bytes < seg) {
			c->tx_off += bytes;
			break;
		}
		bytes -= seg;
		c->tx_off = 0;
		c->txq[c->txq_head] = NULL;
		if (++c->txq_head == c->txq_cap)
			c->txq_head = 0;
		c->txq_len--;
		frame_unref(f);
		c->st.tx_msgs++;
	}
	io_tx_check_ready(c);
	/* The new head's header moves to index 0 if it is partly written */
	if (i && i < c->tx_gathered && c->tx_off) {
		memcpy(c->shdr[0], c->shdr[i], c->shlen[i]);
		c->shlen[0] = c->shlen[i];
	}
	c->tx_gathered = 0;
	c->tx_busy = 0;
}

void io_stream_deliver(struct io_chan *c)
{
	size_t off = 0;

	while (off < c->slen && io_chan_rx_allowed(c)) {
		size_t used = c->cfg.on_stream(c, c->sbuf + off, c->slen - off);

		if (used > c->slen - off)
			used = c->slen - off;
		if (!used)
			break;
		off += used;
	}
	if (off) {
		memmove(c->sbuf, c->sbuf + off, c->slen - off);
		c->slen -= off;
	}
	if (c->slen == c->scap && io_chan_rx_allowed(c))
		io_chan_fail(c, -EMSGSIZE);
}
