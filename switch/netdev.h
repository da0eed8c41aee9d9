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

#include "error.h"

struct backend_ops;
struct nic;
struct port;

#define NETDEV_ID_MAX 128

struct netdev {
	char id[NETDEV_ID_MAX];
	const struct backend_ops *ops;
	json_t *opts;		   /* the netdev_add arguments, owned */
	int32_t hubid;		   /* the hub its ports are on */
	struct netdev *attached_by; /* hubport that set hubid, or NULL */
	struct netdev *attaches;   /* for a hubport: the netdev it names */
	struct hub *hub_held;	   /* the hub it keeps in existence */
	bool link_up;
	struct nic *nic;	   /* the NIC in front of it (nic.h), or NULL */
	struct port *ports;	   /* list through port->netdev_next */
	unsigned nports;
	unsigned next_peer;	   /* next N for "ID.N" port names */
	bool mac_limit_set;	   /* its ports share mac_limit learned MACs */
	uint32_t mac_limit;	   /* instead of fdb_netdev_max (hub.h) */
	void *priv;		   /* the backend's state */
	struct netdev *next;
};

/**
 * netdev_valid_id() - QEMU's identifier rule: a letter, then letters, digits,
 * '-', '.', '_'; at most NETDEV_ID_MAX - 1 bytes
 */
bool netdev_valid_id(const char *id);

/**
 * netdev_add() - create a netdev from netdev_add arguments
 * @args:	a JSON object {"id", "type", options...}; borrowed (copied)
 *
 * Errors are QEMU's: "Parameter 'id' expects an identifier",
 * "Duplicate ID 'X'", "network backend 'X' is not compiled into this
 * binary", the backend's own messages, else "Device 'X' could not be
 * initialized".  On failure nothing is left behind.
 */
struct netdev *netdev_add(const json_t *args, struct nh_error **errp);

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
 */
void netdev_move_to_hub(struct netdev *nd, int32_t hubid, struct netdev *by);

/* netdev_info() - a JSON object describing @nd and its ports, with
 * counters, for queries and the state dump; caller owns */
json_t *netdev_info(const struct netdev *nd);

/* port_info() - a JSON object describing one port, with its counters */
json_t *port_info(const struct port *p);

/* mac_format() - "xx:xx:xx:xx:xx:xx" into @buf (18 bytes) */
char *mac_format(const uint8_t *mac, char *buf);

#endif /* NH_NETDEV_H */
