/* SPDX-License-Identifier: MIT */
/* hub.h - a hub: one L2 broadcast domain with its own learning table
 *
 * Hubs are named by an int32 hubid, as in QEMU's hubport, created on first
 * use and removed when they have neither ports nor holders.  hub_input() is
 * the forwarding engine: one burst in, learned, looked up, sorted into
 * per-egress batches, each batch flushed to its port once.
 */
#ifndef NH_HUB_H
#define NH_HUB_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "frame.h"

struct port;
struct fdb;
struct netdev;

struct hub {
	int32_t id;
	struct fdb *fdb;
	struct port **ports;	/* by port number; NULL where free */
	uint32_t nports_cap;	/* length of ports[] */
	uint32_t nports;	/* attached ports */
	unsigned holders;	/* hub_hold() references */
	uint64_t floods;	/* frames flooded */
	struct hub *next;
};

/* Learning defaults for hubs created from now on, and for existing ones */
struct hub_config {
	uint64_t fdb_age_ms;
	uint32_t fdb_max;
	uint32_t fdb_port_max;
	uint32_t fdb_netdev_max;	/* shared by the ports of one netdev */
};
void hub_configure(const struct hub_config *cfg);
void hub_get_config(struct hub_config *cfg);

/* hub_find() - the hub @id, or NULL */
struct hub *hub_find(int32_t id);

/* hub_first() - all hubs, in creation order, through hub->next */
struct hub *hub_first(void);

/* hub_hold() - find or create hub @id and keep it alive until hub_release() */
struct hub *hub_hold(int32_t id);
void hub_release(struct hub *hub);

/* hub_attach() - add @p to hub @id (created if needed); port_no assigned */
void hub_attach(int32_t id, struct port *p);

/* hub_detach() - remove @p from its hub, flushing its FDB entries; the hub
 * goes away if that was its last port and nobody holds it */
void hub_detach(struct port *p);

/**
 * hub_input() - forward a burst that came in on @in
 * @frames:	the references are taken over
 *
 * Return: true if known-unicast frames of it went to a port that is
 * blocked and not stalled (port.h): the caller should pause @in.
 */
bool hub_input(struct hub *hub, struct port *in, struct frame **frames,
	       unsigned n);

/* hub_expire_all() - age every hub's FDB; called once a second */
void hub_expire_all(uint64_t now_ms);

/* hub_flush_port() - drop the learned entries pointing at @p (static ones
 * stay); return how many went (0 when @p is on no hub) */
unsigned hub_flush_port(struct port *p);

/* hub_flush_fdb() - drop all learned entries of @hub; return how many */
unsigned hub_flush_fdb(struct hub *hub);

/* hub_flush_all() - hub_flush_fdb() on every hub; return how many went */
unsigned hub_flush_all(void);

/**
 * hub_info() - @hub as the query-hubs answer describes it:
 * {"id", "ports": [names, by port number], "fdb-entries", "floods",
 *  "fdb-stats": {"learned", "moved", "expired", "flushed", "full-drops",
 *  "port-full-drops", "netdev-full-drops", "evicted"}}
 * @now_ms:	now, on the clock the hub learns with (clock_now_ms());
 *		"fdb-entries" counts the entries alive at that time, as
 *		hub_fdb_json() lists them
 * Return: a new object, the caller owns it
 */
json_t *hub_info(const struct hub *hub, uint64_t now_ms);

/**
 * hub_fdb_json() - @hub's live FDB entries, in table order:
 * [{"mac": "52:54:00:..", "vlan", "port": name, "age": seconds idle,
 *   "static": bool}]; static entries have age 0
 * Return: a new array, the caller owns it
 */
json_t *hub_fdb_json(const struct hub *hub, uint64_t now_ms);

/* hub_port() - the port numbered @port_no, or NULL */
struct port *hub_port(const struct hub *hub, uint32_t port_no);

/* hub_fdb_unpin() - remove the entry for @mac on @vlan if it is at @p (what
 * hub_fdb_add() pinned there) */
void hub_fdb_unpin(struct port *p, const uint8_t mac[6], uint16_t vlan);

/**
 * struct hub_tap - a listener on the datapath (captures): it sees each
 * burst a port received from its medium (@port_rx), each burst a port's
 * backend took from the switch (@port_tx) and each burst entering a hub
 * (@hub_in).  Each callback borrows @frames for the call and runs on the
 * per-frame path: it must not block, allocate, log, or change ports or
 * hubs.
 */
struct hub_tap {
	void (*port_rx)(struct port *p, struct frame *const *frames,
			unsigned n);
	void (*port_tx)(struct port *p, struct frame *const *frames,
			unsigned n);
	void (*hub_in)(const struct hub *h, struct frame *const *frames,
		       unsigned n);
};

/* The tap in effect, or NULL: while NULL the datapath pays one predicted
 * branch per burst for it */
extern const struct hub_tap *hub_tap;

/* hub_set_tap() - install @tap (NULL removes it); one listener at a time */
void hub_set_tap(const struct hub_tap *tap);

/* -- port security: MAC limits and static entries (fdb-* commands) --------
 *
 * Every port of a netdev is in its netdev's FDB group: they share one budget
 * of learned MACs (hub_config.fdb_netdev_max, or the netdev's own).
 */

/**
 * hub_set_port_mac_limit() - the most learned MACs @p may hold; 0 turns
 * learning off on it (static entries still forward), FDB_LIMIT_DEFAULT
 * goes back to fdb_port_max.  Entries above a lowered limit go at once,
 * oldest first.  Lasts while @p is on its hub.
 * Return: false (GenericError) when @p is on no hub or memory ran out.
 */
bool hub_set_port_mac_limit(struct port *p, uint32_t limit,
			    struct nh_error **errp);

/**
 * hub_set_netdev_mac_limit() - the same for the budget every port of @nd
 * shares; kept with @nd, so it holds for ports (peers) that come later
 */
void hub_set_netdev_mac_limit(struct netdev *nd, uint32_t limit);

/**
 * hub_fdb_add() - pin (@mac, @vlan) to @p as a static entry: it never ages,
 * moves or is evicted, and a frame from it elsewhere teaches nothing.
 * Return: false (GenericError) when @p is on no hub, or another port has
 * the address pinned ("MAC X is pinned to port Y"); pinning again to @p
 * succeeds.
 */
bool hub_fdb_add(struct port *p, const uint8_t mac[6], uint16_t vlan,
		 struct nh_error **errp);

/**
 * hub_fdb_del() - remove the entry of (@mac, @vlan) from @hub, static or
 * learned; with @p, only if it is on @p.
 * Return: false (GenericError) when there is no such entry, or it is a
 * NIC's own address (the NIC pins it while it is attached).
 */
bool hub_fdb_del(struct hub *hub, const struct port *p, const uint8_t mac[6],
		 uint16_t vlan, struct nh_error **errp);

#endif /* NH_HUB_H */
