/* SPDX-License-Identifier: MIT */
/* rxfilter.h - the receive filter of one guest NIC, as virtio-net keeps it
 *
 * A guest's virtio-net driver tells its device which frames it wants: the
 * promiscuous / all-unicast / all-multicast / no-unicast / no-multicast /
 * no-broadcast flags, a 64-entry MAC table shared by unicast entries (first)
 * and multicast entries (after them), and a 4096-bit map of the VLAN IDs it
 * accepts.  nethub keeps the same state per NIC and enforces it on every
 * frame it delivers to the NIC.  It is set by management (set-rx-filter,
 * rxfilter_apply()) and fed by snooping the IGMP / MLD membership reports
 * the NIC sends (rxfilter_snoop()).  Reset state is virtio-net's:
 * promiscuous on, every other flag off, tables empty, VLAN filtering off.
 *
 * Accept order (virtio-net's receive filter), rxfilter_accept():
 *
 *	1. promiscuous: accept.
 *	2. VLAN filtering on and the frame carries an 802.1Q tag (TPID 0x8100
 *	   at offset 12) whose VID (low 12 bits of the TCI) is not in the
 *	   map: drop.  Untagged frames pass this step; so does every frame
 *	   when filtering is off.
 *	3. Destination with the group bit:
 *	   ff:ff:ff:ff:ff:ff: accept unless no-broadcast;
 *	   no-multicast: drop; all-multicast or multicast overflow: accept;
 *	   in the multicast part of the table: accept.
 *	4. Unicast destination: no-unicast: drop; all-unicast or unicast
 *	   overflow: accept; the NIC's own MAC: accept; in the unicast part of
 *	   the table: accept.
 *	5. Else drop.
 *
 * Overflow: when more addresses are set than the table holds, the first
 * ones that fit are kept (unicast has the first claim on the 64 slots,
 * multicast gets the rest), the overflow flag of that kind is set and the
 * filter accepts all addresses of that kind (step 3 / 4), as virtio-net does
 * (virtio-net keeps none of the entries then; nethub keeps what fits so
 * that query output still shows them).  An overflow flag is a property of
 * the table: it is recomputed whenever management sets that table, and the
 * RxState setters do not touch it.
 *
 * State <-> RxFilterInfo (rxfilter_info(), and what rxfilter_apply() takes):
 *
 *	unicast   "none"   no-unicast
 *		  "all"    all-unicast or unicast-overflow (and not no-unicast)
 *		  "normal" otherwise
 *	multicast the same with no-/all-multicast and multicast-overflow
 *	vlan      "all"    VLAN filtering off (every VLAN passes)
 *		  "none"   filtering on and the VLAN map empty
 *		  "normal" filtering on, some VLANs in the map
 *
 *	Applying "none" sets the no- flag and clears the all- flag; "all" the
 *	reverse; "normal" clears both.  vlan "all" turns filtering off (the
 *	map is kept), "none" turns it on and empties the map, "normal" turns
 *	it on.  So applying what query-rx-filter reported reproduces the
 *	state, except an overflow flag: the reported "all" becomes the
 *	all- flag, the tables as listed fit, and the overflow flag reads false
 *	again -- what the filter accepts is the same.
 *
 * broadcast-allowed: QEMU fills RxFilterInfo.broadcast-allowed from its
 * no-broadcast flag, so QEMU reports "true" when broadcasts are REFUSED.
 * nethub reports what the name says: true when broadcast frames are
 * accepted (the reset state), false after set-rx-filter
 * {"broadcast-allowed": false}.  set-rx-filter takes the same meaning, so
 * a query answer applies back unchanged.  (Text for the docs, below.)
 *
 *	**broadcast-allowed**: true when the NIC accepts broadcast frames.
 *	QEMU's virtio-net reports this field inverted (true when it
 *	refuses them); nethub reports, and set-rx-filter takes, the meaning
 *	the name says.  A tool that compares QEMU's answer with nethub's must
 *	negate QEMU's value.
 *
 * Lists in RxFilterInfo: unicast-table and multicast-table in table order
 * (the order they were set or snooped in), vlan-table in ascending order;
 * MACs as lowercase xx:xx:xx:xx:xx:xx.  (QEMU lists all three reversed,
 * and with VLAN filtering off lists all 4096 IDs; nethub lists the map,
 * which applies again once vlan is set back to "normal".)
 *
 * Snooping (rxfilter_snoop(), on frames the NIC SENDS, untagged or with one
 * 802.1Q tag; a frame's source MAC is not looked at: a guest that bridges
 * wants its hosts' groups too):
 *
 *	IGMPv1 / v2 membership report (0x12, 0x16): join the group.
 *	IGMPv2 leave group (0x17): leave the group.
 *	IGMPv3 report (0x22) and MLDv2 report (ICMPv6 143), per group record:
 *	    MODE_IS_EXCLUDE, CHANGE_TO_EXCLUDE: join (exclude mode wants all
 *	    sources but the listed ones);
 *	    MODE_IS_INCLUDE, CHANGE_TO_INCLUDE, ALLOW_NEW_SOURCES with at
 *	    least one source: join (some source is wanted);
 *	    CHANGE_TO_INCLUDE with no source: leave;
 *	    MODE_IS_INCLUDE / ALLOW with no source, BLOCK_OLD_SOURCES, other
 *	    types: nothing (the MAC filter cannot filter by source, so a group
 *	    stays while any of it may be wanted).
 *	MLDv1 report (ICMPv6 131): join; MLDv1 done (132): leave.
 *	Any report (not a leave / done) also joins the all-hosts group of its
 *	protocol: 224.0.0.1 for IGMP, ff02::1 for MLD.  Every multicast host
 *	is a member of those (RFC 1112, RFC 4291) and never reports them, yet
 *	needs them (IGMP queries, router advertisements, neighbour discovery).
 *	Solicited-node groups (ff02::1:ff00:0/104) are reported and snooped
 *	like any group.
 *
 *	IPv4: IGMP must be protocol 2 of an unfragmented packet; options are
 *	skipped by IHL.  IPv6: Hop-by-Hop, Routing and Destination Options
 *	headers (at most 8) are skipped before ICMPv6; a Fragment header
 *	ends the parse.  A group record for an address outside 224.0.0.0/4
 *	(IGMP) or ff00::/8 (MLD) is skipped; a v1/v2 report or leave of
 *	such an address is not a membership message at all.
 *	Checksums are not checked: the report is what the guest's stack
 *	believes it joined.  A packet whose lengths (IP total length, IHL,
 *	payload length, extension header length, record count, source count,
 *	aux length) point past the frame or past the IP packet is ignored
 *	whole; nothing is read beyond @len.
 *
 *	A group maps to its Ethernet MAC (01:00:5e + low 23 bits; 33:33 + low
 *	32 bits).  Snooped groups are remembered by IP address, so a leave of
 *	one group keeps a MAC another joined group (or management) still
 *	needs.  A group not refreshed for RXFILTER_SNOOP_TIMEOUT_MS is removed
 *	by rxfilter_expire().  Entries set by set-rx-filter never expire and
 *	are never removed by a leave.  set-rx-filter's multicast-table
 *	replaces the whole multicast table, snooped groups included (those it
 *	lists become explicit).  When a snooped group finds no room (table or
 *	group list full), multicast overflow is set; it clears on its own
 *	RXFILTER_SNOOP_TIMEOUT_MS after the last such join, when
 *	rxfilter_expire() runs (a group still wanted is reported again
 *	before then and sets it again), or when a multicast-table is set.
 *
 * A struct rxfilter is a plain fixed-size value (embed it in the NIC).
 * Nothing here allocates except rxfilter_info(); nothing makes a syscall or
 * logs.  Time is passed in (ms of a monotonic clock).  Not thread-safe:
 * the NIC's loop thread only.
 */
#ifndef NH_RXFILTER_H
#define NH_RXFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

#define RXFILTER_MAC_TABLE_ENTRIES 64	/* shared unicast + multicast slots */
#define RXFILTER_VLAN_IDS	   4096 /* VLAN map size, in IDs (bits) */
#define RXFILTER_SNOOP_GROUPS	   64	/* snooped IP groups remembered */
/* A snooped group unrefreshed this long is dropped: IGMP's default group
 * membership interval (robustness 2 * query interval 125 s + 10 s) */
#define RXFILTER_SNOOP_TIMEOUT_MS (260 * 1000ULL)

/* One snooped group; internal to rxfilter.c */
struct rxfilter_group {
	uint8_t addr[16]; /* IPv6, or IPv4-mapped ::ffff:a.b.c.d */
	uint64_t mac_key; /* its Ethernet MAC, packed as the table keeps it */
	uint64_t seen_ms; /* last report */
};

/*
 * The filter.  Read the fields only through the functions below; they are
 * public so that the struct can be embedded.  The fields rxfilter_accept()
 * reads come first and are compact: MACs are packed in uint64_t keys.
 */
struct rxfilter {
	bool promisc, all_uni, all_multi, no_uni, no_multi, no_bcast;
	bool uni_overflow, multi_overflow; /* as enforced and reported */
	bool vlan_filter;		   /* off: every VLAN passes */
	uint8_t n_uni;			   /* table[0, n_uni): unicast */
	uint8_t n_used;			   /* table[n_uni, n_used): multicast */
	uint64_t mac;			   /* main MAC, packed */
	uint64_t table[RXFILTER_MAC_TABLE_ENTRIES];
	uint32_t vlans[RXFILTER_VLAN_IDS / 32];

	/* Control and snooping state */
	bool is_explicit[RXFILTER_MAC_TABLE_ENTRIES]; /* set by apply */
	bool mc_table_overflow;	   /* a set multicast table did not fit */
	bool mc_snoop_overflow;	   /* a snooped group found no room ... */
	uint64_t mc_snoop_full_ms; /* ... last at this time */
	unsigned n_groups;
	struct rxfilter_group groups[RXFILTER_SNOOP_GROUPS];
};

/**
 * rxfilter_init() - a filter in reset state for a NIC with MAC @mac
 * @f:		the filter (any contents)
 * @mac:	the NIC's own MAC (main-mac), copied
 */
void rxfilter_init(struct rxfilter *f, const uint8_t mac[6]);

/**
 * rxfilter_reset() - back to reset state, as a virtio-net device reset:
 * promiscuous on, other flags off, tables and snooped groups emptied, VLAN
 * filtering off.  The main MAC stays.
 */
void rxfilter_reset(struct rxfilter *f);

/**
 * rxfilter_accept() - whether the NIC wants a frame, in virtio-net's order
 * @f:		the NIC's filter
 * @frame:	the frame, from its Ethernet header on
 * @len:	its length
 *
 * The per-frame path: no allocation, no syscall; O(1) but for a scan of
 * at most RXFILTER_MAC_TABLE_ENTRIES packed keys.  Frames shorter than an
 * Ethernet header (14 bytes) are refused (the caller counts them).  A
 * frame with TPID 0x8100 but too short for its TCI (< 16 bytes) is refused
 * when VLAN filtering is on and promiscuous mode is off.
 *
 * Return: true to deliver, false to drop (count it as filtered).
 */
bool rxfilter_accept(const struct rxfilter *f, const uint8_t *frame,
		     size_t len);

/**
 * rxfilter_apply() - set-rx-filter: validate and apply the given members
 * @f:		the NIC's filter
 * @args:	a JSON object with any of promiscuous (bool), unicast,
 *		multicast, vlan (RxState: "normal" | "none" | "all", mapped as
 *		above), broadcast-allowed (bool, true = accept broadcast),
 *		unicast-table, multicast-table (lists of "xx:xx:xx:xx:xx:xx",
 *		any case), vlan-table (list of ints 0..4095).  Members not
 *		given stay as they are; other members (name, and the read-only
 *		RxFilterInfo members main-mac, unicast-overflow,
 *		multicast-overflow) are not looked at -- the QMP layer checks
 *		the argument set against the schema.  NULL applies nothing.
 * @changed:	set to whether anything query-rx-filter shows changed (false
 *		on error); may be NULL
 * @errp:	error on invalid input
 *
 * All or nothing: on error @f is untouched.  unicast-table entries must be
 * unicast and multicast-table entries multicast; duplicates are kept once;
 * more than fits sets the overflow flag (see above).  A given table
 * replaces that whole table; its entries never expire.  vlan "none"
 * together with a non-empty vlan-table is an error.
 *
 * Errors (GenericError) name the member and the bad value:
 *	"Invalid parameter type for 'unicast-table[2]', expected: string"
 *	"Parameter 'vlan' does not accept value 'some'"
 *	"set-rx-filter: 'unicast-table' entry 3: '01:00:5e:00:00:01' is a
 *	 multicast address" (entries counted from 0, as JSON array indices)
 *	"set-rx-filter: 'multicast-table' entry 0: '52:54:00:12:34:56' is not
 *	 a multicast address"
 *	"set-rx-filter: 'unicast-table' entry 1: 'zz' is not a MAC address"
 *	"set-rx-filter: 'vlan-table' entry 0: 4096 is not a VLAN ID (0-4095)"
 *	"set-rx-filter: 'vlan' is 'none' but 'vlan-table' is not empty"
 *
 * Return: true on success.
 */
bool rxfilter_apply(struct rxfilter *f, const json_t *args, bool *changed,
		    struct nh_error **errp);

/**
 * rxfilter_info() - the filter as QEMU's RxFilterInfo
 * @f:		the filter
 * @name:	the NIC's name (the "name" member); NULL reads as ""
 *
 * {"name", "promiscuous", "multicast", "unicast", "vlan",
 *  "broadcast-allowed", "multicast-overflow", "unicast-overflow",
 *  "main-mac", "vlan-table", "unicast-table", "multicast-table"}, with the
 * mappings and list orders described above.
 *
 * Return: a new reference (caller decrefs); NULL only when memory cannot
 * be had.
 */
json_t *rxfilter_info(const struct rxfilter *f, const char *name);

/**
 * rxfilter_snoop() - learn multicast membership from a frame the NIC sent
 * @f:		the NIC's filter
 * @frame:	the frame, from its Ethernet header on
 * @len:	its length
 * @now_ms:	the time it was sent
 * @changed:	set to whether anything query-rx-filter shows changed; may
 *		be NULL
 *
 * Called on every frame the NIC sends; frames that are not IGMP or MLD cost
 * a few compares.  No allocation, no syscall.  Rules: see above.
 *
 * Return: true when the frame was a well-formed IGMP / MLD membership
 * report, leave or done (whether or not it changed anything).
 */
bool rxfilter_snoop(struct rxfilter *f, const uint8_t *frame, size_t len,
		    uint64_t now_ms, bool *changed);

/**
 * rxfilter_expire() - drop snooped groups not reported for
 * RXFILTER_SNOOP_TIMEOUT_MS, and a snooping overflow as old
 * @f:		the NIC's filter
 * @now_ms:	the time now (same clock as rxfilter_snoop())
 * @changed:	set to whether anything query-rx-filter shows changed; may
 *		be NULL
 *
 * A MAC leaves the table when no live group maps to it and management did
 * not set it.  Call it every few seconds; it is O(groups + table).
 *
 * Return: how many groups were dropped.
 */
unsigned rxfilter_expire(struct rxfilter *f, uint64_t now_ms, bool *changed);

#endif /* NH_RXFILTER_H */
