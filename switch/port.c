// SPDX-License-Identifier: MIT
/* port.c - switch ports: creation, attachment, link state, ingress accounting
 *
 * Owns the port objects and their counters.  Forwarding is the hub's; the
 * medium is the backend's.  Ingress is counted here before anything else can
 * drop a frame, so that every frame a backend hands over is accounted for.
 *
 * Never: call above the core's port/hub/netdev floor (captures and the QMP
 * layer hear through observers and the hub tap, a NIC through its front).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "backend.h"
#include "clock.h"
#include "hub.h"
#include "io.h"
#include "log.h"
#include "netdev.h"
#include "port.h"

static const char *const drop_names[PORT_DROP__COUNT] = {
	[PORT_DROP_LINK_DOWN] = "link-down",
	[PORT_DROP_FILTERED] = "filtered",
	[PORT_DROP_QUEUE_FULL] = "queue-full",
	[PORT_DROP_NO_BUFFER] = "no-buffer",
	[PORT_DROP_MALFORMED] = "malformed",
	[PORT_DROP_OVERSIZE] = "oversize",
	[PORT_DROP_NO_DEST] = "no-dest",
	[PORT_DROP_NO_HUB] = "no-hub",
	[PORT_DROP_NO_PEER] = "no-peer",
	[PORT_DROP_ERROR] = "error",
};

static const struct port_observer *observers[PORT_OBSERVERS_MAX];
static struct port *paused_ports; /* through paused_next */
static uint64_t port_uid_next = 1;

const char *port_drop_name(enum port_drop why)
{
	if ((unsigned)why >= PORT_DROP__COUNT)
		return "unknown";
	return drop_names[why];
}

void port_add_observer(const struct port_observer *obs)
{
	for (unsigned i = 0; i < PORT_OBSERVERS_MAX; i++) {
		if (!observers[i]) {
			observers[i] = obs;
			return;
		}
	}
	log_err("port: too many observers");
}

void port_remove_observer(const struct port_observer *obs)
{
	for (unsigned i = 0; i < PORT_OBSERVERS_MAX; i++)
		if (observers[i] == obs)
			observers[i] = NULL;
}

/* Call member @cb of every observer that has it, with the arguments given */
#define port_notify(cb, ...)                                                   \
	do {                                                                   \
		for (unsigned i_ = 0; i_ < PORT_OBSERVERS_MAX; i_++)           \
			if (observers[i_] && observers[i_]->cb)                \
				observers[i_]->cb(__VA_ARGS__);                \
	} while (0)

void port_notify_netdev_removing(struct netdev *nd)
{
	port_notify(netdev_removing, nd);
}

void port_notify_failover(struct port *p)
{
	if (p->netdev)
		port_notify(failover_negotiated, p);
}

/* Put @p on hub @hubid and tell what stands in front of its netdev */
static void port_attach(struct port *p, int32_t hubid)
{
	struct netdev_front *fr = p->netdev->front;

	hub_attach(hubid, p);
	if (fr && fr->attached)
		fr->attached(fr, p); /* a NIC pins its MAC on its port */
}

void port_move(struct port *p, int32_t hubid)
{
	if (!p->netdev)
		return;
	hub_detach(p);
	port_attach(p, hubid);
}

void port_set_stream_peer(struct port *p, const struct sockaddr *addr,
			  socklen_t len)
{
	if (!p->netdev || p->stream_peer)
		return;
	p->stream_peer = true;
	port_notify(peer_connected, p, addr, len);
}

struct port *port_new(struct netdev *nd, const char *suffix, void *priv)
{
	struct port *p = calloc(1, sizeof(*p));
	struct port **tail;

	if (!p)
		return NULL;
	if (suffix)
		snprintf(p->name, sizeof(p->name), "%s.%s", nd->id, suffix);
	else
		snprintf(p->name, sizeof(p->name), "%s", nd->id);
	p->netdev = nd;
	p->priv = priv;
	p->uid = port_uid_next++;
	p->link_up = true;
	p->mtu = PORT_MTU_DEFAULT;

	/* Keep the netdev's list in creation order: "vms.1" before "vms.2" */
	for (tail = &nd->ports; *tail; tail = &(*tail)->netdev_next)
		;
	*tail = p;
	nd->nports++;

	port_attach(p, nd->hubid);
	log_debug("port %s: attached to hub %d", p->name, nd->hubid);
	port_notify(added, p);
	return p;
}

/*
 * Flow control (the contract is in backend.h).  A backend says a port is
 * blocked when its send queue passes high water and ready when it drained.
 * While an egress port is blocked, an ingress port whose burst put
 * known-unicast frames into it is paused (its backend's rx_pause op), so a
 * point-to-point flow runs at the receiver's pace without loss.  The pause
 * is bounded: a port blocked for longer than the stall limit is marked
 * stalled, its senders resume, and what it cannot take is dropped and
 * counted (queue-full) until it is ready again.  A paused VM or a hung peer
 * thus slows the ports talking to it for at most the limit, never longer.
 */
static uint32_t port_stall_ms = PORT_STALL_DEFAULT_MS;
static struct port *blocked_ports; /* through blocked_next */
static uv_timer_t stall_timer;
static bool stall_timer_init;

void port_set_stall_limit(uint32_t ms)
{
	port_stall_ms = ms;
}

uint32_t port_stall_limit(void)
{
	return port_stall_ms;
}

static void port_unlist_paused(struct port *p)
{
	for (struct port **pp = &paused_ports; *pp; pp = &(*pp)->paused_next) {
		if (*pp == p) {
			*pp = p->paused_next;
			break;
		}
	}
	p->paused_next = NULL;
	p->rx_paused = false;
}

void port_rx_pause(struct port *p)
{
	if (p->rx_paused || !p->netdev || !p->netdev->ops->rx_pause)
		return;
	p->rx_paused = true;
	p->paused_next = paused_ports;
	paused_ports = p;
	p->netdev->ops->rx_pause(p, true);
}

/* Restart every paused port: those still facing a blocked port pause again
 * at their next burst */
static void port_resume_all(void)
{
	while (paused_ports) {
		struct port *p = paused_ports;

		port_unlist_paused(p);
		if (p->netdev && p->netdev->ops->rx_pause)
			p->netdev->ops->rx_pause(p, false);
	}
}

static void port_unlist_blocked(struct port *p)
{
	for (struct port **pp = &blocked_ports; *pp;
	     pp = &(*pp)->blocked_next) {
		if (*pp == p) {
			*pp = p->blocked_next;
			break;
		}
	}
	p->blocked_next = NULL;
}

static void port_on_stall_timer(uv_timer_t *t);

/* Arm the timer for the earliest blocked port that is not stalled yet */
static void port_stall_timer_arm(void)
{
	uint64_t now = clock_now_ms(), due = UINT64_MAX;

	for (struct port *p = blocked_ports; p; p = p->blocked_next)
		if (!p->tx_stalled && p->blocked_at_ms + port_stall_ms < due)
			due = p->blocked_at_ms + port_stall_ms;
	if (due == UINT64_MAX) {
		uv_timer_stop(&stall_timer);
		return;
	}
	uv_timer_start(&stall_timer, port_on_stall_timer,
		       due > now ? due - now : 0, 0);
}

static void port_on_stall_timer(uv_timer_t *t)
{
	uint64_t now = clock_now_ms();
	bool stalled = false;

	(void)t;
	for (struct port *p = blocked_ports; p; p = p->blocked_next) {
		if (p->tx_stalled || p->blocked_at_ms + port_stall_ms > now)
			continue;
		p->tx_stalled = true;
		p->stats.tx_stalls++;
		stalled = true;
		log_info("port %s: not draining for %u ms; frames to it are "
			 "dropped until it does", p->name, port_stall_ms);
	}
	if (stalled)
		port_resume_all();
	port_stall_timer_arm();
}

void port_tx_blocked(struct port *p)
{
	if (p->tx_blocked || !p->netdev)
		return;
	p->tx_blocked = true;
	p->blocked_at_ms = clock_now_ms();
	p->blocked_next = blocked_ports;
	blocked_ports = p;
	if (!stall_timer_init) {
		uv_timer_init(p->netdev->loop, &stall_timer);
		uv_unref((uv_handle_t *)&stall_timer);
		stall_timer_init = true;
	}
	if (port_stall_ms == 0) {
		p->tx_stalled = true; /* no waiting at all: drop at once */
		return;
	}
	if (!uv_is_active((uv_handle_t *)&stall_timer))
		port_stall_timer_arm();
}

void port_tx_progress(struct port *p)
{
	/* a slow receiver is not a stuck one: its wait starts again */
	if (p->tx_blocked && !p->tx_stalled)
		p->blocked_at_ms = clock_now_ms();
}

void port_tx_ready(struct port *p)
{
	if (!p->tx_blocked)
		return;
	if (p->tx_stalled)
		log_info("port %s: draining again", p->name);
	p->tx_blocked = false;
	p->tx_stalled = false;
	port_unlist_blocked(p);
	port_resume_all();
	if (stall_timer_init)
		port_stall_timer_arm();
}

void port_shutdown(void)
{
	if (stall_timer_init) {
		uv_close((uv_handle_t *)&stall_timer, NULL);
		stall_timer_init = false;
	}
}

void port_detach(struct port *p)
{
	struct netdev *nd = p->netdev;

	if (!nd)
		return;
	if (p->rx_paused)
		port_unlist_paused(p);
	port_tx_ready(p);
	if (p->stream_peer) {
		p->stream_peer = false;
		port_notify(peer_disconnected, p);
	}
	port_notify(removed, p); /* a capture of this port ends with it */
	if (p->hub)
		hub_detach(p);
	for (struct port **pp = &nd->ports; *pp; pp = &(*pp)->netdev_next) {
		if (*pp == p) {
			*pp = p->netdev_next;
			nd->nports--;
			break;
		}
	}
	p->netdev_next = NULL;
	p->netdev = NULL;
}

void port_free(struct port *p)
{
	if (!p)
		return;
	port_detach(p);
	free(p);
}

void port_input(struct port *p, struct frame **frames, unsigned n)
{
	uint64_t bytes = 0;
	enum port_drop why;

	for (unsigned i = 0; i < n; i++)
		bytes += frames[i]->len;
	p->stats.rx_frames += n;
	p->stats.rx_bytes += bytes;
	if (__builtin_expect(hub_tap != NULL, 0))
		hub_tap->port_rx(p, frames, n); /* what the netdev sends */

	if (!p->hub)
		why = PORT_DROP_NO_HUB;
	else if (!port_is_up(p))
		why = PORT_DROP_LINK_DOWN;
	else {
		struct netdev_front *fr = p->netdev ? p->netdev->front : NULL;

		if (fr && fr->ingress) /* what the NIC sends */
			fr->ingress(fr, frames, n);
		/* A point-to-point flow into a blocked port: slow its sender */
		if (hub_input(p->hub, p, frames, n) && p->netdev)
			port_rx_pause(p);
		return;
	}
	p->stats.rx_drops[why] += n;
	frame_unref_many(frames, n);
}

void port_count_rx_drop(struct port *p, enum port_drop why, unsigned n,
			uint64_t bytes)
{
	p->stats.rx_frames += n;
	p->stats.rx_bytes += bytes;
	p->stats.rx_drops[why] += n;
}

void port_count_tx_drop(struct port *p, enum port_drop why, unsigned n)
{
	p->stats.tx_frames -= n <= p->stats.tx_frames ? n : p->stats.tx_frames;
	p->stats.tx_drops[why] += n;
}

bool port_is_up(const struct port *p)
{
	return p->link_up && (!p->netdev || p->netdev->link_up);
}

void port_set_link(struct port *p, bool up)
{
	bool was_up = port_is_up(p);

	p->link_up = up;
	if (p->netdev && p->netdev->ops->set_link)
		p->netdev->ops->set_link(p, port_is_up(p));
	if (was_up && !port_is_up(p) && p->hub)
		hub_flush_port(p);
	if (was_up != port_is_up(p))
		log_info("port %s: link %s", p->name,
			 port_is_up(p) ? "up" : "down");
}

struct port *port_first(void)
{
	for (struct netdev *nd = netdev_first(); nd; nd = nd->next)
		if (nd->ports)
			return nd->ports;
	return NULL;
}

struct port *port_next(const struct port *p)
{
	if (p->netdev_next)
		return p->netdev_next;
	if (!p->netdev)
		return NULL;
	for (struct netdev *nd = p->netdev->next; nd; nd = nd->next)
		if (nd->ports)
			return nd->ports;
	return NULL;
}

struct port *port_find(const char *name)
{
	for (struct port *p = port_first(); p; p = port_next(p))
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

unsigned port_chan_send(struct port *p, struct io_chan *c,
			struct frame *const *frames, unsigned n)
{
	unsigned took = io_chan_send(c, frames, n);

	if (io_chan_tx_busy(c)) /* backend.h's flow-control contract */
		port_tx_blocked(p);
	return took;
}

bool port_burst_add(struct port_burst *b, const void *data, size_t len,
		    size_t max, bool truncated)
{
	struct frame *f;

	if (truncated || len > max) {
		port_count_rx_drop(b->p, PORT_DROP_OVERSIZE, 1, len);
		return false;
	}
	if (len < FRAME_MIN_LEN) {
		port_count_rx_drop(b->p, PORT_DROP_MALFORMED, 1, len);
		return false;
	}
	f = frame_alloc_copy(data, len);
	if (!f) {
		port_count_rx_drop(b->p, PORT_DROP_NO_BUFFER, 1, len);
		return false;
	}
	b->f[b->n++] = f;
	if (b->n == FRAME_BURST_MAX)
		port_burst_end(b);
	return true;
}

void port_burst_end(struct port_burst *b)
{
	if (b->n)
		port_input(b->p, b->f, b->n);
	b->n = 0;
}
