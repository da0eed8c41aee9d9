/* SPDX-License-Identifier: MIT */
/* netdev.h - netdevs: backend instances made by -netdev / netdev_add
 *
 * A netdev has an id, a type (QEMU's NetClientDriver name), its options as
 * given, a link state and the ports its backend made.  Its ports live on the
 * netdev's hub: hub 0, unless a hubport netdev names it.
 */
#ifndef NH_NETDEV_H
#define NH_NETDEV_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "error.h"

struct backend_ops;
struct frame;
struct netdev_front;
struct port;
struct rxfilter;

#define NETDEV_ID_MAX 128

struct netdev {
	char id[NETDEV_ID_MAX];
	const struct backend_ops *ops;
	uv_loop_t *loop;	   /* the loop its ports and handles run on */
	json_t *opts;		   /* the netdev_add arguments, owned */
	int32_t hubid;		   /* the hub its ports are on */
	struct netdev *attached_by; /* hubport that set hubid, or NULL */
	struct netdev *attaches;   /* for a hubport: the netdev it names */
	struct hub *hub_held;	   /* the hub it keeps in existence */
	bool link_up;
	struct netdev *peer;	   /* shares its link: a NIC and its backend */
	struct netdev_front *front; /* what stands in front of its ports */
	struct port *ports;	   /* list through port->netdev_next */
	unsigned nports;
	unsigned next_peer;	   /* next N for "ID.N" port names */
	bool mac_limit_set;	   /* its ports share mac_limit learned MACs */
	uint32_t mac_limit;	   /* instead of fdb_netdev_max (hub.h) */
	void *priv;		   /* the backend's state */
	struct netdev *next;
};

/**
 * struct netdev_front - what stands in front of a netdev's ports: a guest
 * NIC (guest_nic.h).  The core calls it at fixed points; its owner sets
 * and clears netdev->front.
 * @mac:	its own address (pinned on the netdev's port; fdb-del refuses
 *		to remove it), or NULL
 * @filter:	frames delivered to the netdev's ports must pass it
 *		(rxfilter_accept()); refusals count as "filtered"; NULL: all
 * @ingress:	sees each burst the netdev's ports received, before the hub
 *		does; per-frame path (no allocation, no log)
 * @attached:	one of the netdev's ports was attached to a hub
 * @gone:	the netdev is being deleted: let go of it (clear ->front)
 */
struct netdev_front {
	const uint8_t *mac;
	const struct rxfilter *filter;
	void (*ingress)(struct netdev_front *fr, struct frame *const *frames,
			unsigned n);
	void (*attached)(struct netdev_front *fr, struct port *p);
	void (*gone)(struct netdev_front *fr);
};

/**
 * netdev_valid_id() - QEMU's identifier rule: a letter, then letters, digits,
 * '-', '.', '_'; at most NETDEV_ID_MAX - 1 bytes
 */
bool netdev_valid_id(const char *id);

/**
 * netdev_add() - create a netdev from netdev_add arguments
 * @loop:	the loop its backend runs on
 * @args:	a JSON object {"id", "type", options...}; borrowed (copied)
 *
 * Errors are QEMU's: "Parameter 'id' expects an identifier",
 * "Duplicate ID 'X'", "network backend 'X' is not compiled into this
 * binary", the backend's own messages, else "Device 'X' could not be
 * initialized".  On failure nothing is left behind.
 */
struct netdev *netdev_add(uv_loop_t *loop, const json_t *args,
			  struct nh_error **errp);

/**
 * netdev_check() - everything netdev_add() would check before opening: the
 * type, the id (syntax, not in use), and the backend's option check
 */
bool netdev_check(const json_t *args, struct nh_error **errp);

/* netdev_del() - close and remove netdev @id; DeviceNotFound if none */
bool netdev_del(const char *id, struct nh_error **errp);

/* netdev_del_all() - remove every netdev, hubports first (shutdown) */
void netdev_del_all(void);

/* netdev_type() - @nd's NetClientDriver name: "socket", "hubport", ... */
const char *netdev_type(const struct netdev *nd);

/* netdev_find() - by id, or NULL */
struct netdev *netdev_find(const char *id);

/* netdev_first() - all netdevs in creation order, through ->next */
struct netdev *netdev_first(void);

/**
 * netdev_set_link() - set_link on a netdev id or a port name ("ID.N")
 * Return: false with DeviceNotFound "Device 'X' not found" if neither exists
 */
bool netdev_set_link(const char *name, bool up, struct nh_error **errp);

/**
 * netdev_move_to_hub() - put @nd's ports (present and future) on @hubid
 * @by:		the hubport doing it, or NULL when reverting to hub 0
 *
 * A netdev without ports of its own (a NIC) moves its peer's.
 */
void netdev_move_to_hub(struct netdev *nd, int32_t hubid, struct netdev *by);

/* netdev_info() - a JSON object describing @nd and its ports, with
 * counters, for queries and the state dump; caller owns */
json_t *netdev_info(const struct netdev *nd);

/* port_info() - a JSON object describing one port, with its counters */
json_t *port_info(const struct port *p);

#endif /* NH_NETDEV_H */
