/* SPDX-License-Identifier: MIT */
/* addrsnoop.h - a NIC's IP addresses, learned from the frames it sends
 *
 * announce-self sends, beyond QEMU's RARP, a gratuitous ARP per IPv4 address
 * and an unsolicited neighbour advertisement per IPv6 address of a NIC.  The
 * switch does not configure guests, so it learns their addresses by looking
 * at what each NIC sends.  Only frames whose Ethernet source is the NIC's
 * MAC count, untagged or with one 802.1Q tag (other tags: ignored).
 *
 * What is learned:
 *
 *	ARP (request or reply, Ethernet/IPv4) with sender hardware address =
 *	the NIC's MAC: the sender protocol address.  A probe (sender address
 *	0.0.0.0, RFC 5227) claims nothing and is not learned, nor is its
 *	target; an announcement (sender = target) is learned.
 *	IPv4 packets: the source address.
 *	IPv6 packets: the source address, link-local included; so a
 *	neighbour solicitation teaches its source, and one from :: (duplicate
 *	address detection) teaches nothing (its target is never learned).
 *	Neighbour advertisements (hop limit 255, code 0) with the Override
 *	flag: the target address.  Without Override it may be a proxy
 *	answering for another host, so only the source counts.
 *
 * Never learned, as not an address of the NIC: IPv4 0.0.0.0/8, 127/8,
 * multicast 224/4, 240/4 (with 255.255.255.255); IPv6 ::, ::1, multicast
 * ff00::/8, IPv4-mapped ::ffff:0:0/96.  Truncated frames and headers whose
 * lengths point past the frame are ignored whole (so is a GSO frame whose
 * IP length field is 0: the next ordinary frame teaches the same).
 *
 * A guest that routes also sends packets with other hosts' source addresses.
 * Addresses seen in ARP or neighbour discovery are therefore marked
 * "claimed".  When a table is full, a new address replaces an expired entry,
 * else the oldest unclaimed one; a claimed newcomer replaces the oldest
 * claimed entry when all are claimed, an unclaimed newcomer is then not
 * learned.  An address is forgotten ADDRSNOOP_AGE_MS after it was last
 * seen; a sighting refreshes it (and records its VLAN anew).
 *
 * A struct addrsnoop is a plain fixed-size value (embed it in the NIC):
 * nothing here allocates, except addrsnoop_info().  Time is passed in
 * (ms of a monotonic clock), so tests use a fake clock.  Not thread-safe:
 * the NIC's loop thread only.
 */
#ifndef NH_ADDRSNOOP_H
#define NH_ADDRSNOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define ADDRSNOOP_MAX_V4 8		     /* IPv4 addresses per NIC */
#define ADDRSNOOP_MAX_V6 16		     /* IPv6 addresses per NIC */
#define ADDRSNOOP_AGE_MS (10 * 60 * 1000ULL) /* unseen so long: forgotten */

/* One learned address, as the table keeps it and as iteration shows it */
struct addrsnoop_entry {
	uint8_t addr[16]; /* IPv4 in the first 4 bytes; network order */
	uint16_t vlan;	  /* VLAN ID of the last sighting; 0 untagged */
	bool claimed;	  /* ever seen in ARP / neighbour discovery */
	uint64_t last_seen_ms;
};

struct addrsnoop {
	unsigned n_v4, n_v6; /* slots in use, live or expired */
	struct addrsnoop_entry v4[ADDRSNOOP_MAX_V4];
	struct addrsnoop_entry v6[ADDRSNOOP_MAX_V6];
};

/* addrsnoop_init() - an empty table; addrsnoop_clear() - forget everything */
void addrsnoop_init(struct addrsnoop *s);
void addrsnoop_clear(struct addrsnoop *s);

/**
 * addrsnoop_frame() - learn from one frame the NIC sent
 * @s:		the NIC's table
 * @mac:	the NIC's MAC
 * @frame:	the frame, from its Ethernet header on
 * @len:	its length
 * @now_ms:	the time of the sighting
 *
 * The per-frame path: no allocation, no syscall, no logging; frames of
 * other ethertypes or other source MACs cost a few compares.
 *
 * Return: how many addresses the frame taught or refreshed (0, 1 or 2).
 */
unsigned addrsnoop_frame(struct addrsnoop *s, const uint8_t mac[6],
			 const uint8_t *frame, size_t len, uint64_t now_ms);

/* addrsnoop_expire() - drop entries not seen for ADDRSNOOP_AGE_MS;
 * return how many went */
unsigned addrsnoop_expire(struct addrsnoop *s, uint64_t now_ms);

/**
 * addrsnoop_foreach_v4() / addrsnoop_foreach_v6() - call @cb for each live
 * (not expired) address, in ascending address order; @cb must not change @s
 */
void addrsnoop_foreach_v4(const struct addrsnoop *s, uint64_t now_ms,
			  void (*cb)(const struct addrsnoop_entry *e,
				     void *ctx),
			  void *ctx);
void addrsnoop_foreach_v6(const struct addrsnoop *s, uint64_t now_ms,
			  void (*cb)(const struct addrsnoop_entry *e,
				     void *ctx),
			  void *ctx);

/* addrsnoop_has_v4() / addrsnoop_has_v6() - whether @addr is a live entry */
bool addrsnoop_has_v4(const struct addrsnoop *s, const uint8_t addr[4],
		      uint64_t now_ms);
bool addrsnoop_has_v6(const struct addrsnoop *s, const uint8_t addr[16],
		      uint64_t now_ms);

/**
 * addrsnoop_info() - the live addresses as JSON, for query output
 *
 * {"ipv4": ["192.0.2.7", ...], "ipv6": ["fe80::1", ...]}, each list in
 * ascending address order, IPv6 in RFC 5952 text.
 * Return: a new reference (caller decrefs), NULL only when memory cannot be
 * had.
 */
json_t *addrsnoop_info(const struct addrsnoop *s, uint64_t now_ms);

#endif /* NH_ADDRSNOOP_H */
