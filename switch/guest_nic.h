/* SPDX-License-Identifier: MIT */
/* guest_nic.h - guest NICs: a MAC, a receive filter and snooped addresses
 * in front of a backend netdev (the module's prefix is nic_)
 *
 * A netdev of type "nic" (backends/nic.c) stands for a guest's NIC in front
 * of another netdev, its backend: the backend's port(s) carry the guest's
 * traffic, so what the backend receives is what the NIC sends, and what the
 * switch delivers to the backend's ports is what the NIC receives.  The pair
 * is one switch port (a listening backend's peers are each one).  While
 * the NIC exists the backend's netdev carries its front (netdev->front,
 * netdev.h), through which the core calls the NIC, and the two netdevs are
 * each other's peer (one link); the NIC netdev has no ports of its own.
 *
 * While it exists a NIC:
 *	- pins its MAC as a static FDB entry on its backend's first attached
 *	  port (VLAN 0), re-pinned whenever that port is (re)attached;
 *	- filters every frame delivered to its backend's ports with its
 *	  receive filter (rxfilter.h); the hub counts refusals as "filtered";
 *	- snoops the frames its backend receives: IGMP / MLD membership for
 *	  the filter, ARP / IP sources for announce-self (addrsnoop.h);
 *	- announces itself on request (nic_announce()).
 *
 * Filter changes (set-rx-filter, snooped joins and leaves, expiry) call the
 * change callback (nic_set_change_cb()) once, then not again until
 * nic_query_rx_filter() reads the filter: QEMU's NIC_RX_FILTER_CHANGED rule.
 *
 * Everything here runs on the daemon's loop.  The per-frame functions
 * (the front's filter and nic_ingress()) never allocate or log.
 */
#ifndef NH_NIC_H
#define NH_NIC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "addrsnoop.h"
#include "error.h"
#include "frame.h"
#include "netdev.h"
#include "rxfilter.h"

struct netdev;
struct port;

#define NIC_PATH_MAX 160

struct nic {
	struct netdev *nd;	/* the "nic" netdev */
	struct netdev *backend; /* the netdev it fronts; NULL once deleted */
	uint8_t mac[6];
	char path[NIC_PATH_MAX]; /* "/nethub/nic/ID", the event's path */
	bool event_armed;	 /* the next filter change calls back */
	struct netdev_front front; /* the backend's ->front while it has one */
	struct rxfilter filter;
	struct addrsnoop addrs;
	struct nic *next;
};

/**
 * nic_parse_mac() - "xx:xx:xx:xx:xx:xx" (or with '-'), hex digits of any
 * case, one or two per byte, as QEMU's net_parse_macaddr() takes them
 * Return: true with @mac filled, false on anything else.
 */
bool nic_parse_mac(const char *s, uint8_t mac[6]);

/**
 * nic_default_mac() - the MAC of a NIC created without macaddr
 *
 * 52:54:00 (the prefix QEMU gives its NICs) followed by the low 24 bits of
 * the 32-bit FNV-1a hash of @id: stable over restarts for the same id.
 */
void nic_default_mac(const char *id, uint8_t mac[6]);

/**
 * nic_new() - put a NIC with @mac in front of @backend
 * @nd:		the nic netdev (its priv is set to the NIC)
 * @backend:	the netdev it fronts; must have no NIC yet
 *
 * @nd's hub becomes the backend's.  Return: the NIC, NULL without memory.
 */
struct nic *nic_new(struct netdev *nd, struct netdev *backend,
		    const uint8_t mac[6]);

/* nic_free() - unpin the MAC, release the backend (it goes on as a plain
 * netdev), free; NULL is fine */
void nic_free(struct nic *nic);

/* nic_from_netdev() - the NIC a "nic" netdev stands for; NULL for other
 * netdevs */
struct nic *nic_from_netdev(const struct netdev *nd);

/* nic_of_backend() - the NIC in front of @backend, or NULL */
struct nic *nic_of_backend(const struct netdev *backend);

/* nic_first() - every NIC, through ->next, in creation order */
struct nic *nic_first(void);

/* nic_name() - the NIC's netdev id */
const char *nic_name(const struct nic *nic);

/* nic_ingress() - snoop @n frames the NIC sent (its backend received) */
void nic_ingress(struct nic *nic, struct frame *const *frames, unsigned n);

/* nic_set_change_cb() - who hears of filter changes (one listener; NULL
 * for none) */
void nic_set_change_cb(void (*cb)(struct nic *nic));

/**
 * nic_query_rx_filter() - the filter as RxFilterInfo; re-arms the change
 * callback.  Return: a new reference, NULL without memory.
 */
json_t *nic_query_rx_filter(struct nic *nic);

/**
 * nic_set_rx_filter() - set-rx-filter: apply @args (rxfilter_apply());
 * a change calls back.  Return: false with the reason on bad input.
 */
bool nic_set_rx_filter(struct nic *nic, const json_t *args,
		       struct nh_error **errp);

/* nic_expire_all() - age snooped groups and addresses of every NIC (a few
 * times a minute) */
void nic_expire_all(uint64_t now_ms);

/**
 * nic_announce() - one announce-self round for @nic: QEMU's RARP from its
 * MAC, then a gratuitous ARP per snooped IPv4 and an unsolicited neighbour
 * advertisement per snooped IPv6 address (tagged with the VLAN it was seen
 * on), handed to the switch as input of the backend's first port, as if
 * the NIC had sent them.
 * Return: frames handed over (0 without a backend port).
 */
unsigned nic_announce(struct nic *nic);

/* nic_info() - the nic netdev's facts for query-netdevs: mac, netdev,
 * model, addr, vectors, addresses; added to @obj */
void nic_info(const struct nic *nic, json_t *obj);

/* nic_addresses() - {"ipv4": [...], "ipv6": [...]} snooped; new reference */
json_t *nic_addresses(const struct nic *nic);

#endif /* NH_NIC_H */
