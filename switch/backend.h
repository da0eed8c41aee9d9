/* SPDX-License-Identifier: MIT */
/* backend.h - the interface every netdev driver implements
 *
 * The core owns this interface; drivers live a floor above it, one file
 * per driver in backends/, each filling one struct backend_ops.  The layer
 * above registers them by QEMU's NetClientDriver name (backend_register(),
 * from backends/registry.c at start-up): the core never names a driver.
 *
 * Life cycle of a netdev and its ports:
 *
 *   open      validate options, acquire resources, make ports (or start
 *             listening and make them as peers arrive).  On failure: fill
 *             errp, release everything acquired, return false; close is
 *             not called.
 *   traffic   the backend delivers received frames with port_input(); the
 *             switch calls send() with bursts for each port that is attached
 *             and up.
 *   close     release everything.  Called once, after a successful open,
 *             when the netdev is deleted or the daemon stops.  Ports must be
 *             detached (port_detach()) before close returns; their memory,
 *             and the backend's, may be freed later, once in-flight I/O has
 *             completed (the netdev struct itself is freed right after close
 *             returns, so deferred work must not touch it).
 *
 * A backend includes the port, frame, io and options APIs and never touches
 * the FDB, other ports or the QMP layer.
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
	 * the rest, counted as queue-full.  Required.
	 */
	unsigned (*send)(struct port *p, struct frame *const *frames,
			 unsigned n);

	/**
	 * tx_queue() - frames waiting in @p's send queue now; *@cap set to
	 * the queue's size.  May be NULL.  The switch uses it for flow
	 * control: a queue past half full blocks the port (see
	 * port_tx_blocked()) until it has drained to a quarter.
	 */
	unsigned (*tx_queue)(const struct port *p, unsigned *cap);

	/* rx_pause() - stop (@pause) or restart receiving on @p, for flow
	 * control; may be NULL (the port is then never paused) */
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
