/* SPDX-License-Identifier: MIT */
/* port.h - a switch port: one attachment of a netdev to a hub
 *
 * A netdev has zero or more ports.  Most backends make exactly one, named
 * like the netdev; a listening backend makes one per accepted peer, named
 * "ID.N".  A port belongs to the hub of its netdev while it is attached.
 *
 * Life cycle, seen from a backend:
 *   port_new()      creates the port and attaches it to its netdev's hub;
 *                   traffic may flow from now on (send() may be called).
 *   port_input()    hands received frames to the switch.
 *   port_detach()   takes it off its hub: send() is never called again, the
 *                   FDB entries pointing at it are flushed.  The port is still
 *                   allocated, its counters readable.
 *   port_free()     frees it; call only once nothing (an in-flight io_uring
 *                   operation, a libuv handle) can still reach it.
 *
 * Accounting: every frame a backend receives is either forwarded or counted
 * in rx_drops[reason]; every frame the hub offers a port is either taken by
 * the backend (tx_frames) or counted in tx_drops[reason].  Per port:
 *   rx_frames = rx_forwarded + sum(rx_drops)
 * and over a hub, for each forwarded frame, one offer per destination port.
 */
#ifndef NH_PORT_H
#define NH_PORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "frame.h"

struct netdev;
struct hub;
struct backend_ops;

/* Why a frame was dropped; names in port_drop_name() */
enum port_drop {
	PORT_DROP_LINK_DOWN,  /* sender's or receiver's link is down */
	PORT_DROP_FILTERED,   /* the receiver's rx filter refused it */
	PORT_DROP_QUEUE_FULL, /* the receiver's queue was full */
	PORT_DROP_NO_BUFFER,  /* no frame buffer was free */
	PORT_DROP_MALFORMED,  /* too short, bad header, bad length */
	PORT_DROP_OVERSIZE,   /* larger than the receiver's MTU */
	PORT_DROP_NO_DEST,    /* nowhere to go: alone on the hub, or the
			       * destination was learned on the sender */
	PORT_DROP_NO_HUB,     /* the port is not attached to a hub */
	PORT_DROP_NO_PEER,    /* the port has nothing behind it */
	PORT_DROP_ERROR,      /* the medium failed the send */
	PORT_DROP__COUNT
};

/* port_drop_name() - "link-down", "filtered", "queue-full", ... */
const char *port_drop_name(enum port_drop why);

struct port_stats {
	uint64_t rx_frames, rx_bytes;	   /* received from the backend */
	uint64_t rx_forwarded;		   /* of those, handed to the hub */
	uint64_t tx_frames, tx_bytes;	   /* taken by the backend */
	uint64_t rx_drops[PORT_DROP__COUNT];
	uint64_t tx_drops[PORT_DROP__COUNT];
	/* Offered GSO frames the hub segmented for this port, and the
	 * segments they became (each one counted in tx_frames or tx_drops):
	 * offers = tx_frames + sum(tx_drops) - tx_gso_segments + tx_gso_frames */
	uint64_t tx_gso_frames, tx_gso_segments;
	/* Times the port was marked stalled (blocked past the stall limit) */
	uint64_t tx_stalls;
};

#define PORT_NAME_MAX	 160
#define PORT_ALIAS_MAX	 64 /* port-set-alias, with its NUL */
#define PORT_MTU_DEFAULT (FRAME_MAX_LEN - FRAME_ETH_HLEN)
#define PORT_STALL_DEFAULT_MS 100 /* longest a stuck port slows senders */
#define PORT_STALL_MAX_MS 60000

struct port {
	char name[PORT_NAME_MAX];
	char alias[PORT_ALIAS_MAX]; /* a person's name for it, or "" */
	struct netdev *netdev;	/* owner; NULL once detached */
	struct hub *hub;	/* NULL while not attached */
	uint32_t port_no;	/* index in the hub; FDB value */
	uint64_t uid;		/* unique over the process's life */
	void *priv;		/* the backend's state for this port */
	bool link_up;		/* this port's own link (set_link on it) */
	uint32_t mtu;		/* largest payload it sends (L2 frame minus
				 * Ethernet and one VLAN header) */
	unsigned gso_caps;	/* GSO_CAP_* (gso.h): offloaded frames it
				 * takes whole; others are resolved first */
	struct port_stats stats;

	/* The hub's egress batch for the burst being forwarded */
	struct frame *txq[FRAME_BURST_MAX];
	unsigned txq_len;
	struct port *txq_next;	/* hub's list of ports with a batch */
	bool txq_listed;

	struct port *netdev_next; /* the netdev's list of ports */

	/* Flow control (see port_tx_blocked()) */
	bool tx_blocked;	/* its backend's send queue is past high water */
	bool tx_stalled;	/* blocked past the stall limit: senders go on */
	uint64_t blocked_at_ms;	/* when it was blocked */
	bool txq_unicast;	/* this burst's batch holds known-unicast frames */
	bool rx_paused;		/* its backend was told to stop receiving */
	struct port *paused_next; /* list of paused ports */
	struct port *blocked_next; /* list of blocked ports */

	bool stream_peer;	/* port_set_stream_peer() was called */
};

/**
 * port_new() - create a port of @nd and attach it to @nd's hub
 * @nd:		owning netdev
 * @suffix:	NULL for a port named like the netdev, or "N" for "ID.N"
 * @priv:	backend state, stored in port->priv
 *
 * Return: the port; NULL only if memory cannot be had.
 */
struct port *port_new(struct netdev *nd, const char *suffix, void *priv);

/* port_detach() - take @p off its hub and its netdev; idempotent */
void port_detach(struct port *p);

/* port_move() - take @p off its hub and attach it to hub @hubid (its
 * netdev was moved there by a hubport) */
void port_move(struct port *p, int32_t hubid);

/* port_free() - detach if needed and free @p */
void port_free(struct port *p);

/**
 * port_input() - hand a burst of received frames to the switch
 * @p:		the port they came in on
 * @frames:	up to FRAME_BURST_MAX frames; the references are taken over
 * @n:		how many
 *
 * Counts them, drops them (counted) when the link is down or the port has no
 * hub, and otherwise forwards them.  Never fails.
 */
void port_input(struct port *p, struct frame **frames, unsigned n);

/**
 * struct port_burst - received frames gathered for port_input(), for a
 * backend that copies each datagram or record into a frame
 */
struct port_burst {
	struct port *p;
	unsigned n;
	struct frame *f[FRAME_BURST_MAX];
};

/**
 * port_burst_add() - copy @len bytes at @data into a frame of @b's burst,
 * handed to port_input() whenever the burst is full
 * @max:	the largest frame the medium carries
 * @truncated:	the receive cut it short (then it is oversize)
 *
 * Longer than @max or truncated, shorter than an Ethernet header, or no
 * buffer: dropped and counted on the port (oversize, malformed, no-buffer).
 * Return: whether the frame was added.
 */
bool port_burst_add(struct port_burst *b, const void *data, size_t len,
		    size_t max, bool truncated);

/* port_burst_end() - hand what @b gathered to port_input() */
void port_burst_end(struct port_burst *b);

/**
 * port_count_rx_drop() - count frames a backend received but could not turn
 * into frames (no buffer, malformed input, oversize); they count as received
 */
void port_count_rx_drop(struct port *p, enum port_drop why, unsigned n,
			uint64_t bytes);

/**
 * port_count_tx_drop() - count frames a backend took from send() but then
 * lost (the medium refused them, the connection went away): they move from
 * tx_frames to tx_drops[@why], so tx_frames stays "frames actually sent"
 */
void port_count_tx_drop(struct port *p, enum port_drop why, unsigned n);

/* port_is_up() - the port's link and its netdev's link are both up */
bool port_is_up(const struct port *p);

/* port_set_link() - set this port's own link; calls the backend's set_link
 * and flushes the port's learned addresses when going down */
void port_set_link(struct port *p, bool up);

/**
 * port_tx_blocked(), port_tx_ready() - flow control, called by a backend
 * (the contract is in backend.h)
 *
 * A backend calls port_tx_blocked() when its send queue for @p passes its
 * high-water mark (from inside send() is fine), and port_tx_ready() from
 * the loop once it has drained below its low mark.  While an egress port
 * is blocked, an ingress port that sends it known-unicast frames is paused
 * (its backend's rx_pause op) until the blocked port is ready again: a
 * point-to-point flow slows down to the receiver's pace instead of losing
 * frames, as QEMU's peers do.  The wait is bounded: a port that made no
 * progress (port_tx_progress()) for the stall limit
 * (port_set_stall_limit()) is marked stalled, its
 * senders resume, and what it cannot take is dropped and counted as
 * queue-full until it is ready again.  Flooded frames never pause anyone.
 */
void port_tx_blocked(struct port *p);
void port_tx_ready(struct port *p);

struct io_chan;

/**
 * port_chan_send() - a backend's send() for a port whose frames go out on
 * one io channel @c: what io_chan_send() took, and @p blocked when the
 * channel says busy (io_chan_tx_busy()); the channel's on_tx_drain then
 * calls port_tx_ready()
 */
unsigned port_chan_send(struct port *p, struct io_chan *c,
			struct frame *const *frames, unsigned n);

/* port_tx_progress() - the blocked port @p is draining, slowly: a backend
 * calls it, from the loop, each time a good part of its queue went out
 * while still above the low mark.  The stall limit counts from the last
 * progress, so a slow receiver keeps its senders paused (lossless) while a
 * stopped one is given up on. */
void port_tx_progress(struct port *p);

/* port_set_stall_limit() - how long (ms) a blocked port may slow its
 * senders; 0 never pauses a sender.  port_stall_limit() reads it. */
void port_set_stall_limit(uint32_t ms);
uint32_t port_stall_limit(void);

/* port_shutdown() - close the flow-control timer (daemon shutdown) */
void port_shutdown(void);

/* port_rx_pause() - pause @p's receiving until a blocked port is ready
 * (no-op if its backend cannot pause) */
void port_rx_pause(struct port *p);

/* port_find() - a port by name ("ID" or "ID.N"); NULL if none */
struct port *port_find(const char *name);

/* port_first(), port_next() - every port of every netdev */
struct port *port_first(void);
struct port *port_next(const struct port *p);

/**
 * struct port_observer - who wants to hear of ports (and their netdevs)
 * coming and going
 * @added:		a port was made and attached (port_new())
 * @removed:		a port is being detached (port_detach()); it is still
 *			named and on its hub during the call
 * @peer_connected:	the port is a stream connection to @addr (see
 *			port_set_stream_peer()); called once, after @added
 * @peer_disconnected:	that connection's port is being detached; called
 *			before @removed
 * @netdev_removing:	netdev @nd is being deleted; its ports are still
 *			attached (netdev_del(), port_notify_netdev_removing())
 * @failover_negotiated: the front-end of @p's netdev (a guest's device)
 *			accepted the failover standby feature
 *			(port_notify_failover())
 *
 * Any member may be NULL.  Callbacks run on the daemon's loop, on the
 * control path; they must not add, detach or free ports.  Up to
 * PORT_OBSERVERS_MAX observers at once (the QMP layer's events, captures).
 */
struct port_observer {
	void (*added)(struct port *p);
	void (*removed)(struct port *p);
	void (*peer_connected)(struct port *p, const struct sockaddr *addr,
			       socklen_t len);
	void (*peer_disconnected)(struct port *p);
	void (*netdev_removing)(struct netdev *nd);
	void (*failover_negotiated)(struct port *p);
};
#define PORT_OBSERVERS_MAX 4
void port_add_observer(const struct port_observer *obs);
void port_remove_observer(const struct port_observer *obs);

/* port_notify_netdev_removing() - tell the observers @nd is being deleted
 * (netdev.c, before it closes the netdev) */
void port_notify_netdev_removing(struct netdev *nd);

/* port_notify_failover() - a backend says the front-end of @p accepted
 * failover (VIRTIO_NET_F_STANDBY); once per negotiation */
void port_notify_failover(struct port *p);

/**
 * port_set_stream_peer() - a backend says @p stands for one stream
 * connection (an accepted or made TCP/unix connection)
 * @addr:	the far end; for a unix peer without a name, the socket's own
 *		path (what QEMU reports); borrowed for the call
 *
 * Call once, right after port_new().  The observer hears of it now and, when
 * the port is detached, hears that the peer went (peer_disconnected) without
 * the backend having to say so.  Datagram ports do not call it: they have
 * no connection that comes and goes.
 */
void port_set_stream_peer(struct port *p, const struct sockaddr *addr,
			  socklen_t len);

#endif /* NH_PORT_H */
