/* SPDX-License-Identifier: MIT */
/* backend.h - the provider interface: what a netdev driver implements
 *
 * The core owns this interface; drivers live a floor above it, one file
 * per driver in backends/, each filling one struct backend_ops.  The layer
 * above registers them by QEMU's NetClientDriver name (backend_register(),
 * from backends/registry.c at start-up): the core never names a driver.
 *
 * Life cycle of a netdev and its ports
 *
 *   check     optional: validate options without acquiring anything, so
 *             nethubd can refuse a bad command line before it starts.
 *   open      validate options, acquire resources, make ports with
 *             port_new() (or start listening and make them as peers
 *             arrive).  On failure: fill errp, release everything, return
 *             false; close is not called, and any port left is detached
 *             by the core (with a warning: that is a driver bug).
 *   traffic   the driver hands received frames to port_input(); the switch
 *             calls send() with bursts for each port that is attached and
 *             up.  Ports may come and go (port_new(), port_detach()).
 *   close     release everything.  Called once, after a successful open,
 *             when the netdev is deleted or the daemon stops.  Ports must be
 *             detached before close returns; their memory, and the
 *             driver's, may be freed later, once in-flight I/O has
 *             completed (the struct netdev itself is freed right after
 *             close returns, so deferred work must not touch it).
 *
 * Who owns frames
 *
 *   receive   the driver allocates frames (frame_alloc()), fills them and
 *             gives their references to port_input(), which always takes
 *             them (forwarded or dropped and counted).  Input it could not
 *             turn into a frame is counted with port_count_rx_drop().
 *   send      send() takes over the references of the first N frames it
 *             accepts and returns N; the rest stay the switch's, which
 *             drops and counts them (queue-full).  A frame the driver
 *             accepted and then lost (the medium refused it, the peer went)
 *             is counted with port_count_tx_drop().
 *
 * Flow control: one contract, QEMU's
 *
 *   A driver's send queue is bounded.  When send() leaves it past the
 *   high-water mark the driver calls port_tx_blocked(p) (from inside send()
 *   is fine); while it drains but is still above the low mark,
 *   port_tx_progress(p) now and then; below the low mark, port_tx_ready(p).
 *   Both from the loop.  The switch never polls a driver's queue.  While a
 *   port is blocked its unicast senders are paused through their drivers'
 *   rx_pause op; a port that makes no progress for the stall limit
 *   (port.h) is given up on: its senders resume and frames to it are
 *   dropped and counted until it is ready.  The io engine does the
 *   bookkeeping for channels: io_chan_tx_busy() after io_chan_send(), and
 *   the channel's on_tx_drain callback.
 *
 * What may be called from where
 *
 *   send(), rx_pause() and set_link() run inside the switch's per-burst
 *   loop: they must not detach or free ports, close channels or call
 *   port_input().  A failure found there (a write error, a peer gone) is
 *   handled later, from the loop: io channels report on_error() that way.
 *   Everything else (open, close, the driver's own callbacks) runs from the
 *   loop and may use any port API.
 *
 * A driver includes the core's port, frame, io, options and netdev APIs and
 * never touches the FDB, other ports or the QMP layer.
 */
#ifndef NH_BACKEND_H
#define NH_BACKEND_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"
#include "frame.h"
#include "netdev.h"
#include "port.h"

struct backend_ops {
	/* QEMU's NetClientDriver name: "socket", "tap", ... */
	const char *type;

	/* The netdev never has ports of its own (none, hubport): it does not
	 * keep a hub in existence */
	bool portless;

	/**
	 * open() - start netdev @nd from @opts (the whole netdev_add object,
	 * including "id" and "type"; borrowed for the call).  Required.
	 * Messages name the option and what is wrong with it, as QEMU's do.
	 */
	bool (*open)(struct netdev *nd, const json_t *opts,
		     struct nh_error **errp);

	/**
	 * check() - validate @opts without acquiring anything: option names,
	 * types, ranges, combinations.  May be NULL.  Lets nethubd refuse a
	 * bad command line before it starts anything; open() still checks
	 * what only trying can tell (an address in use, a missing peer).
	 */
	bool (*check)(const json_t *opts, struct nh_error **errp);

	/* close() - release everything; see above.  Required. */
	void (*close)(struct netdev *nd);

	/**
	 * send() - transmit a burst on @p.  Never blocks.  Takes over the
	 * references of the first N frames and returns N; the switch drops
	 * the rest, counted as queue-full.  Calls port_tx_blocked() when its
	 * queue passes high water (see above).  Required.
	 */
	unsigned (*send)(struct port *p, struct frame *const *frames,
			 unsigned n);

	/* rx_pause() - stop (@pause) or restart receiving on @p, for flow
	 * control; bytes or datagrams wait in the kernel meanwhile.  May be
	 * NULL (the port is then never paused) */
	void (*rx_pause)(struct port *p, bool pause);

	/* set_link() - reflect @p's link state on the medium (carrier); may
	 * be NULL where the medium has none */
	void (*set_link)(struct port *p, bool up);

	/* info() - add backend facts to a netdev's query object; may be NULL */
	void (*info)(const struct netdev *nd, json_t *obj);

	/* port_info() - add facts about one port (peer address); may be NULL */
	void (*port_info)(const struct port *p, json_t *obj);
};

/**
 * backend_register() - make @type a known netdev type, driven by @ops
 * @type:	QEMU's NetClientDriver name (or a nethub extension's);
 *		borrowed for the process's life
 * @ops:	the driver, or NULL for a type that is known but not built
 *		into this binary (netdev_add then says so in QEMU's words)
 *
 * Registering a type again replaces its driver.  Called at start-up,
 * before any netdev is added.
 */
void backend_register(const char *type, const struct backend_ops *ops);

/* backend_find() - the registered driver for @type, or NULL */
const struct backend_ops *backend_find(const char *type);

/* backend_type_known() - @type was registered, with a driver or without */
bool backend_type_known(const char *type);

#endif /* NH_BACKEND_H */
