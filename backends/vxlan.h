/* SPDX-License-Identifier: MIT */
/* vxlan.h - what QMP may ask of a vxlan netdev: its MAC -> VTEP table
 *
 * The commands vxlan-fdb-add and vxlan-fdb-del, and query-fdb's listing,
 * call these; ctl/ finds the netdev, these check the rest.
 */
#ifndef NH_VXLAN_H
#define NH_VXLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "netdev.h"

/* netdev_is_vxlan() - @nd is a vxlan netdev (and open) */
bool netdev_is_vxlan(const struct netdev *nd);

/**
 * vxlan_fdb_add() - send frames for inner @mac to the VTEP at @remote (an
 * IP address of the underlay's family) as a static entry; the all-zero
 * MAC adds @remote to the flood list instead, as `bridge fdb append
 * 00:00:00:00:00:00 dst IP` does for the kernel's vxlan
 * Return: false with errp ("remote=: IP address expected, got 'x'",
 * "too many VTEPs (64)", "... is a multicast address")
 */
bool vxlan_fdb_add(struct netdev *nd, const uint8_t mac[6], const char *remote,
		   struct nh_error **errp);

/**
 * vxlan_fdb_del() - forget inner @mac (static or learned); for the
 * all-zero MAC, take @remote off the flood list
 * Return: false with errp when there was no such entry
 */
bool vxlan_fdb_del(struct netdev *nd, const uint8_t mac[6], const char *remote,
		   struct nh_error **errp);

/**
 * vxlan_fdb_json() - the table: [{"netdev", "mac", "remote", "age",
 * "static"}], flood destinations as static entries of MAC
 * 00:00:00:00:00:00; caller owns
 */
json_t *vxlan_fdb_json(const struct netdev *nd, uint64_t now_ms);

#endif /* NH_VXLAN_H */
