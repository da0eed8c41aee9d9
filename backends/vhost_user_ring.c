// SPDX-License-Identifier: MIT
/* vhost_user_ring.c - the vhost-user netdev's datapath: the rings a
 * front-end set up, served (vhost_user.c is the netdev and its
 * connection, vhost_user_proto.c the protocol's messages)
 *
 * Guest → switch: a ring starts on its first kick after SET_VRING_KICK
 * (the kick eventfd is watched by the netdev's loop).  Each transmit ring
 * is drained on its own kicks, in bursts of up to VU_BURST into
 * port_input(), at most VU_TX_BUDGET frames per loop turn (an idle handle
 * continues, with kicks turned off meanwhile); the call eventfd is written once
 * per burst when the guest wants it (EVENT_IDX or NO_INTERRUPT).  While the
 * switch has this port paused (flow control) the ring is left alone and the
 * guest's chains wait in it.  With poll-us=N (nethub) a drained ring is not
 * slept on at once: kicks stay off and the idle handle looks at its available
 * index once per loop turn (other ports are served in between) until N
 * microseconds passed without a frame; then kicks go on and the loop may
 * sleep.
 *
 * Switch → guest: send() copies each frame into the guest's receive
 * buffers (virtq.c) and returns them on the used ring.  With more than one
 * receive ring live (started and enabled) each frame goes to the one its
 * flow hash picks among them (frame_flow_hash()), so a flow stays on one
 * ring, in order; with one, the frames go there without hashing.  When
 * the ring a frame needs has no buffers left, send() takes nothing more,
 * calls port_tx_blocked(), and asks the guest to kick that ring when it
 * posts buffers; a kick on any receive ring calls port_tx_ready().  A guest
 * that never reads is given up on by the stall limit (port.h), so it cannot
 * hold the switch.
 *
 * Offloads: the virtio-net checksum and segmentation features are offered
 * (VU_OFFLOADS).  Those the driver accepted on its receive side
 * (GUEST_CSUM, GUEST_TSO4/6, GUEST_ECN, GUEST_UFO, GUEST_USO4 with USO6)
 * are the port's gso_caps: the hub gives it such frames whole, up to
 * 64 KiB, spread over its buffers (MRG_RXBUF) or in one big chain, and
 * segments or checksums the others in software.  On its transmit side a
 * frame's header is checked by gso_check() and must ask only for what the
 * driver accepted (CSUM, HOST_TSO4/6, HOST_ECN, HOST_UFO, HOST_USO);
 * anything else is dropped, counted malformed.
 *
 * Never: touch guest memory outside virtq.c's checks; log or allocate per
 * frame (a broken ring is logged once); call port_input() or detach the
 * port from inside send() or rx_pause().
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "announce.h"
#include "frame.h"
#include "gso.h"
#include "log.h"
#include "port.h"
#include "vhost_user.h"

#define VU_TX_BUDGET 256 /* guest frames taken per loop turn */

/* Frames taken from a transmit ring per burst into the switch.  Smaller
 * than FRAME_BURST_MAX on purpose: the burst's frames reach the receiving
 * guest (its used index is published) only once the whole burst is
 * through, so a peer that forwards what it receives, another VM or a DPDK
 * application, can start on the first frames while the switch takes the
 * next ones.  With 64 the two took turns: 1.5-2.0 M frames/s each way
 * against 2.0-2.7 M with 32 on the testpmd loop of bench/vhost-user.sh,
 * for 3 % more instructions per frame (bench/cost). */
#define VU_BURST 32
_Static_assert(VU_BURST <= FRAME_BURST_MAX, "a burst fits the hub's");

/* -- rings ---------------------------------------------------------------- */

_Static_assert(2 * VU_QUEUES_MAX <= 32, "tx_again has a bit per ring");

static bool vu_ring_live(const struct vu_ring *r)
{
	return r->started && r->enabled && vq_ready(&r->vq);
}

/* vu_call() - publish used entries; write the call eventfd if wanted */
static void vu_call(struct vu_ring *r)
{
	static const uint64_t one = 1;

	if (vq_publish(&r->vq) && r->call_fd >= 0) {
		r->calls++;
		if (write(r->call_fd, &one, sizeof(one)) < 0) {
			/* EAGAIN: the counter is saturated, the guest has
			 * a notification pending anyway */
		}
	}
}

static void vu_log_broken(struct vu_state *s, unsigned i)
{
	struct vu_ring *r = &s->ring[i];

	if (!r->vq.broken || r->broken_logged)
		return;
	r->broken_logged = true;
	log_warn("netdev %s: ring %u is broken (an available index or head "
		 "out of range): it serves nothing until it is set up again",
		 s->id, i);
}

/**
 * vu_poll_window() - whether an empty transmit ring is polled on rather
 * than slept on: poll-us after it last gave frames
 * @taken:	frames this drain took (they restart the window)
 */
static bool vu_poll_window(struct vu_state *s, struct vu_ring *r,
			   unsigned taken)
{
	uint64_t now;

	if (!s->poll_ns)
		return false;
	now = uv_hrtime();
	if (taken)
		r->poll_last_ns = now;
	return now - r->poll_last_ns < s->poll_ns;
}

/* vu_tx_accept() - @f, just taken from the TX ring, asks only for the
 * offloads the driver accepted; DATA_VALID (a checksum the receiver
 * checked) means nothing on a driver's transmit side and is cleared */
static inline bool vu_tx_accept(const struct vu_state *s, struct frame *f)
{
	f->vnet.flags &= (uint8_t)~FRAME_VNET_F_DATA_VALID;
	return gso_takes(s->tx_caps, f);
}

/**
 * vu_tx_drain() - take up to VU_TX_BUDGET frames from the guest's transmit
 * ring @i into the switch
 * Return: true when the idle handle should call again: frames are left
 * for another turn, or the ring is polled (poll-us) with kicks off.
 */
static bool vu_tx_drain(struct vu_state *s, unsigned i)
{
	struct vu_ring *r = &s->ring[i];
	struct frame *burst[VU_BURST];
	bool polled = r->polling;
	bool quiet = polled; /* kicks are off */
	unsigned taken = 0;

	r->polling = false;
	if (!s->port || !r->started || !vq_ready(&r->vq))
		return false;
	if (polled) {
		s->polls++;
		if (vq_pending(&r->vq))
			s->poll_hits++;
	}
	for (;;) {
		unsigned nb = 0;
		bool empty = false;

		if (s->tx_paused)
			return false; /* resumed through rx_pause */
		while (nb < VU_BURST && taken < VU_TX_BUDGET) {
			struct frame *f;
			int rc = vq_tx_pop(&r->vq, &f);

			if (rc == 1 && vu_tx_accept(s, f)) {
				burst[nb++] = f;
				taken++;
				continue;
			}
			if (rc == 1) {
				frame_unref(f);
				rc = -EINVAL;
			}
			if (rc == 0 || rc == -EIO) {
				empty = true;
				break;
			}
			taken++;
			port_count_rx_drop(s->port,
					   rc == -ENOBUFS ? PORT_DROP_NO_BUFFER
							  : PORT_DROP_MALFORMED,
					   1, 0);
		}
		if (nb && !r->enabled) {
			/* a started but disabled ring discards */
			port_count_rx_drop(s->port, PORT_DROP_LINK_DOWN, nb, 0);
			frame_unref_many(burst, nb);
		} else if (nb) {
			r->frames += nb;
			port_input(s->port, burst, nb);
		}
		vu_call(r);
		if (r->vq.broken) {
			vu_log_broken(s, i);
			return false;
		}
		if (!s->port)
			return false;
		if (empty && vu_poll_window(s, r, taken)) {
			/* poll-us: kicks stay off, the idle handle looks
			 * again next turn */
			if (!quiet)
				vq_enable_notify(&r->vq, false);
			r->polling = true;
			return true;
		}
		if (empty) {
			/* kicks on again; chains that came meanwhile are
			 * taken now rather than waiting for a kick */
			quiet = false;
			if (!vq_enable_notify(&r->vq, true))
				return false;
			if (taken >= VU_TX_BUDGET)
				break;
			continue;
		}
		if (taken >= VU_TX_BUDGET)
			break;
	}
	vq_enable_notify(&r->vq, false);
	return true;
}

/* The idle handle: a blocked receive ring that has buffers again says
 * ready; the transmit rings in tx_again are drained further */
static void vu_on_idle(uv_idle_t *h)
{
	struct vu_state *s = h->data;
	uint32_t rings = s->tx_again, again = 0;

	if (s->rx_blocked && s->port &&
	    vq_pending(&s->ring[s->rx_blocked_on].vq)) {
		s->rx_blocked = false;
		port_tx_ready(s->port);
	}
	s->tx_again = 0;
	for (; rings; rings &= rings - 1) { /* each bit set, lowest first */
		unsigned i = (unsigned)__builtin_ctz(rings);

		if (vu_tx_drain(s, i))
			again |= 1u << i;
	}
	s->tx_again |= again; /* with any a drain's callees asked for */
	if (!s->tx_again) {
		uv_idle_stop(&s->idle);
		s->idle_on = false;
	}
}

static void vu_idle_start(struct vu_state *s)
{
	if (!s->idle_init || s->idle_on)
		return;
	s->idle_on = true;
	uv_idle_start(&s->idle, vu_on_idle);
}

/* vu_tx_again() - have the idle handle drain the transmit rings in @rings
 * (a bit per index) from the loop */
static void vu_tx_again(struct vu_state *s, uint32_t rings)
{
	s->tx_again |= rings;
	vu_idle_start(s);
}

/* vu_tx_rings() - a bit for each transmit ring */
static uint32_t vu_tx_rings(const struct vu_state *s)
{
	uint32_t all = s->nrings >= 32 ? ~0u : (1u << s->nrings) - 1;

	return all & 0xaaaaaaaau;
}

/* A kick: the ring starts (first one), TX drains, RX has buffers again */
static void vu_on_kick(uv_poll_t *h, int status, int events)
{
	struct vu_watch *w = h->data;
	struct vu_state *s = w->s;
	struct vu_ring *r = &s->ring[w->ring];
	uint64_t v;

	(void)events;
	if (status < 0 || read(w->fd, &v, sizeof(v)) < 0) {
		if (status < 0 || (errno != EAGAIN && errno != EINTR)) {
			log_warn("netdev %s: ring %u: kick descriptor failed; "
				 "no longer watched",
				 s->id, w->ring);
			uv_poll_stop(h);
		}
		return;
	}
	r->kicks++;
	r->started = true;
	if (vu_ring_is_rx(w->ring)) {
		if (s->rx_blocked && s->port) {
			s->rx_blocked = false;
			port_tx_ready(s->port);
		}
		return;
	}
	if (vu_tx_drain(s, w->ring))
		vu_tx_again(s, 1u << w->ring);
}

bool vu_ring_set_kick(struct vu_state *s, unsigned i, int fd)
{
	struct vu_ring *r = &s->ring[i];
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	vu_watch_close(r->kick);
	r->kick = vu_watch_new(s, fd, vu_on_kick, i);
	if (!r->kick) {
		close(fd);
		log_warn("netdev %s: ring %u: cannot watch its kick "
			 "descriptor",
			 s->id, i);
		return false;
	}
	/* without PROTOCOL_FEATURES, rings are enabled at once */
	if (!(s->features & VU_BIT(VU_F_PROTOCOL_FEATURES)))
		r->enabled = true;
	/* A ring starts on its first kick.  Chains already available count
	 * as one: a guest resumed after GET_VRING_BASE (QMP stop, cont)
	 * kicked its receive ring long ago and will not again until it
	 * receives something */
	r->started = vq_pending(&r->vq) > 0;
	r->rx_kicks = true; /* the flags as a new ring has them */
	if (r->started && !vu_ring_is_rx(i))
		vu_tx_again(s, 1u << i);
	return true;
}

void vu_ring_stop(struct vu_state *s, unsigned i)
{
	struct vu_ring *r = &s->ring[i];

	if (vq_ready(&r->vq))
		vu_call(r);
	r->started = false;
	if (!vu_ring_is_rx(i) && s->poll_ns) {
		/* kicks back on: polling may have left them off, and a ring
		 * started again as it is (QMP stop, cont) must kick */
		vq_enable_notify(&r->vq, true);
		r->polling = false;
	}
	vu_watch_close(r->kick);
	r->kick = NULL;
	if (vu_ring_is_rx(i) && s->rx_blocked && s->port) {
		/* a stopped ring takes nothing: drops, not backpressure */
		s->rx_blocked = false;
		port_tx_ready(s->port);
	}
}

void vu_ring_reset(struct vu_state *s, unsigned i)
{
	struct vu_ring *r = &s->ring[i];

	vu_ring_stop(s, i);
	if (r->call_fd >= 0)
		close(r->call_fd);
	if (r->err_fd >= 0)
		close(r->err_fd);
	r->call_fd = r->err_fd = -1;
	vq_init(&r->vq, &s->mem);
	r->num = 0;
	r->addr_given = false;
	r->enabled = false;
	r->broken_logged = false;
}

void vu_ring_set_enabled(struct vu_state *s, unsigned i, bool on)
{
	struct vu_ring *r = &s->ring[i];

	if (r->enabled == on)
		return;
	r->enabled = on;
	if (vu_ring_is_rx(i) && s->rx_blocked && s->port) {
		/* the receive rings frames spread over changed: the next
		 * send() finds where they go now */
		s->rx_blocked = false;
		port_tx_ready(s->port);
	}
}

/* vu_rx_caps() - what a driver with features @f may be given whole: virtio
 * makes every GSO kind depend on GUEST_CSUM, and ECN on a TSO one; USO is
 * one kind here, taken when both its IP versions are */
static unsigned vu_rx_caps(uint64_t f)
{
	unsigned c = GSO_CAP_CSUM;

	if (!(f & VU_BIT(VU_F_NET_GUEST_CSUM)))
		return 0;
	if (f & VU_BIT(VU_F_NET_GUEST_TSO4))
		c |= GSO_CAP_TSO4;
	if (f & VU_BIT(VU_F_NET_GUEST_TSO6))
		c |= GSO_CAP_TSO6;
	if ((f & VU_BIT(VU_F_NET_GUEST_ECN)) &&
	    (c & (GSO_CAP_TSO4 | GSO_CAP_TSO6)))
		c |= GSO_CAP_ECN;
	if (f & VU_BIT(VU_F_NET_GUEST_UFO))
		c |= GSO_CAP_UFO;
	if ((f & VU_BIT(VU_F_NET_GUEST_USO4)) &&
	    (f & VU_BIT(VU_F_NET_GUEST_USO6)))
		c |= GSO_CAP_USO;
	return c;
}

/* vu_tx_caps() - what a driver with features @f may send: the same rules
 * on the host side (CSUM, HOST_*) */
static unsigned vu_tx_caps(uint64_t f)
{
	unsigned c = GSO_CAP_CSUM;

	if (!(f & VU_BIT(VU_F_NET_CSUM)))
		return 0;
	if (f & VU_BIT(VU_F_NET_HOST_TSO4))
		c |= GSO_CAP_TSO4;
	if (f & VU_BIT(VU_F_NET_HOST_TSO6))
		c |= GSO_CAP_TSO6;
	if ((f & VU_BIT(VU_F_NET_HOST_ECN)) &&
	    (c & (GSO_CAP_TSO4 | GSO_CAP_TSO6)))
		c |= GSO_CAP_ECN;
	if (f & VU_BIT(VU_F_NET_HOST_UFO))
		c |= GSO_CAP_UFO;
	if (f & VU_BIT(VU_F_NET_HOST_USO))
		c |= GSO_CAP_USO;
	return c;
}

void vu_features_changed(struct vu_state *s)
{
	bool mrg = s->features & VU_BIT(VU_F_NET_MRG_RXBUF);
	bool v1 = s->features & VU_BIT(VU_F_VERSION_1);

	for (unsigned i = 0; i < s->nrings; i++) {
		struct virtq *q = &s->ring[i].vq;

		q->event_idx = s->features & VU_BIT(VU_F_EVENT_IDX);
		q->mrg_rxbuf = mrg;
		q->guest_csum = s->features & VU_BIT(VU_F_NET_GUEST_CSUM);
		q->hdr_len = mrg || v1 ? VQ_NET_HDR_MRG_LEN : VQ_NET_HDR_LEN;
		/* without PROTOCOL_FEATURES, rings are enabled */
		if (s->features_set &&
		    !(s->features & VU_BIT(VU_F_PROTOCOL_FEATURES)))
			s->ring[i].enabled = true;
	}
	s->rx_caps = vu_rx_caps(s->features);
	s->tx_caps = vu_tx_caps(s->features);
	if (s->port)
		s->port->gso_caps = s->rx_caps;
}

void vu_mem_changed(struct vu_state *s)
{
	for (unsigned i = 0; i < s->nrings; i++) {
		struct vu_ring *r = &s->ring[i];

		if (!r->addr_given)
			continue;
		if (!vq_set_addr(&r->vq, r->num, r->desc, r->avail, r->used,
				 NULL) &&
		    s->mem.n)
			log_warn("netdev %s: ring %u is not in the new memory "
				 "table; it is stopped",
				 s->id, i);
	}
}

void vu_send_rarp(struct vu_state *s, const uint8_t mac[6])
{
	uint8_t buf[ANNOUNCE_RARP_LEN];
	struct frame *f;

	if (!s->port)
		return;
	announce_rarp(buf, mac);
	f = frame_alloc_copy(buf, sizeof(buf));
	if (!f) {
		port_count_rx_drop(s->port, PORT_DROP_NO_BUFFER, 1,
				   sizeof(buf));
		return;
	}
	port_input(s->port, &f, 1);
}

/* -- switch → guest ------------------------------------------------------ */

/* vu_rx_blocked() - receive ring @i has no buffers for the next frame:
 * the port waits, and the guest is asked to kick @i when it posts some */
static void vu_rx_blocked(struct vu_state *s, struct port *p, unsigned i)
{
	struct vu_ring *r = &s->ring[i];

	s->rx_blocked = true;
	s->rx_blocked_on = i;
	port_tx_blocked(p);
	r->rx_kicks = true;
	/* buffers posted before the guest saw the request: the idle handle
	 * says ready from the loop */
	if (vq_enable_notify(&r->vq, true))
		vu_idle_start(s);
}

/* vu_send_ring() - frames to the one live receive ring @ri: in order, as
 * many as its buffers take */
static unsigned vu_send_ring(struct vu_state *s, struct port *p, unsigned ri,
			     struct frame *const *frames, unsigned n)
{
	struct vu_ring *r = &s->ring[ri];
	unsigned i, lost = 0, oversize = 0;

	for (i = 0; i < n; i++) {
		int rc = vq_rx_push(&r->vq, frames[i]);

		if (rc == -EAGAIN)
			break;
		if (rc == -EMSGSIZE)
			oversize++;
		else if (rc)
			lost++;
		frame_unref(frames[i]);
	}
	r->frames += i - oversize - lost;
	vu_call(r);
	if (oversize)
		port_count_tx_drop(p, PORT_DROP_OVERSIZE, oversize);
	if (lost)
		port_count_tx_drop(p, PORT_DROP_ERROR, lost);
	if (r->vq.broken) {
		/* nothing more can be delivered until it is set up again;
		 * logged from the loop (the next kick or the TX side) */
		port_count_tx_drop(p, PORT_DROP_ERROR, n - i);
		frame_unref_many(frames + i, n - i);
		return n;
	}
	if (i < n && !s->rx_blocked) {
		vu_rx_blocked(s, p, ri);
	} else if (i == n && r->rx_kicks && !s->rx_blocked) {
		/* buffers are there: the guest need not kick for more */
		r->rx_kicks = false;
		vq_enable_notify(&r->vq, false);
	}
	return i;
}

/**
 * vu_send_spread() - frames over the @nlive live receive rings @live by
 * flow hash: a flow's frames all go to one ring, in order
 *
 * The switch's contract is "the first N frames are taken": frames are
 * pushed in order until one's ring is full; that ring blocks the port.
 * A ring that broke drops the frames hashed to it (counted), as a single
 * broken ring does.
 */
static unsigned vu_send_spread(struct vu_state *s, struct port *p,
			       const uint8_t *live, unsigned nlive,
			       struct frame *const *frames, unsigned n)
{
	unsigned i, lost = 0, oversize = 0, full = s->nrings;
	uint32_t given = 0; /* rings that took frames (bit = index) */

	for (i = 0; i < n; i++) {
		unsigned ri = live[frame_flow_hash(frames[i]) % nlive];
		int rc = vq_rx_push(&s->ring[ri].vq, frames[i]);

		if (rc == -EAGAIN) {
			full = ri;
			break;
		}
		given |= 1u << ri;
		if (rc == -EMSGSIZE)
			oversize++;
		else if (rc)
			lost++;
		else
			s->ring[ri].frames++;
		frame_unref(frames[i]);
	}
	for (; given; given &= given - 1) {
		unsigned ri = (unsigned)__builtin_ctz(given);
		struct vu_ring *r = &s->ring[ri];

		vu_call(r);
		if (ri != full && r->rx_kicks && !s->rx_blocked) {
			/* buffers are there: no kick needed for more */
			r->rx_kicks = false;
			vq_enable_notify(&r->vq, false);
		}
	}
	if (oversize)
		port_count_tx_drop(p, PORT_DROP_OVERSIZE, oversize);
	if (lost)
		port_count_tx_drop(p, PORT_DROP_ERROR, lost);
	if (i < n && !s->rx_blocked)
		vu_rx_blocked(s, p, full);
	return i;
}

unsigned vu_send(struct port *p, struct frame *const *frames, unsigned n)
{
	struct vu_state *s = p->priv;
	uint8_t live[VU_QUEUES_MAX];
	unsigned nlive = 0;

	for (unsigned ri = VU_RX; ri < s->nrings; ri += 2)
		if (vu_ring_live(&s->ring[ri]))
			live[nlive++] = (uint8_t)ri;
	if (nlive == 1)
		return vu_send_ring(s, p, live[0], frames, n);
	if (nlive)
		return vu_send_spread(s, p, live, nlive, frames, n);
	port_count_tx_drop(p, PORT_DROP_NO_PEER, n);
	frame_unref_many(frames, n);
	return n;
}

void vu_rx_pause(struct port *p, bool pause)
{
	struct vu_state *s = p->priv;

	s->tx_paused = pause;
	if (!pause) /* drain from the loop, not from here */
		vu_tx_again(s, vu_tx_rings(s));
}
