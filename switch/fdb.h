/* SPDX-License-Identifier: MIT */
/* fdb.h - the MAC learning table of one hub
 *
 * An open-addressing hash keyed by (VLAN, MAC) that maps a source address to
 * the hub port number it was last seen on.  Entries age out (default
 * FDB_AGE_DEFAULT_S) and an address seen on another port moves there.
 * Static entries (a NIC's own MAC, an address pinned by fdb-add) never age,
 * never move, are never evicted and do not count against the limits.
 *
 * Limits on learned entries, checked in this order when an address is new:
 *   - per port: the table's port_max, or the port's own (fdb_set_port_limit();
 *     0 turns learning off on the port: only static entries stay);
 *   - per group: ports the caller puts in one group (the hub: the ports of
 *     one netdev, such as every peer of a listening socket) share the
 *     table's group_max, or the group's own (fdb_set_group_limit());
 *   - per table: max_entries.  A full table does not refuse a new address:
 *     it evicts the oldest learned entry of the port that holds the most
 *     learned entries (Open vSwitch's rule), so a port flooding the table
 *     with made-up addresses loses its own entries, not its neighbours'.
 * The first two refuse the address (counted); the port keeps what it has.
 *
 * The table knows nothing of ports beyond their numbers: the hub maps a port
 * number to its port.  Time is passed in by the caller (milliseconds of a
 * monotonic clock), so tests drive it with a fake clock.
 *
 * Lookups and learning are O(1) and allocate nothing once a port's records
 * exist; the table grows (by rehashing, off the per-frame fast path only when
 * it must) up to the size the global limit needs.  The burst calls
 * (fdb_learn_burst(), fdb_lookup_burst(), fdb_forward_burst() for both) do
 * the same work for a burst of
 * addresses with the table's cache misses overlapped: the per-frame path
 * should use them.
 */
#ifndef NH_FDB_H
#define NH_FDB_H

#include <stdbool.h>
#include <stdint.h>

#define FDB_AGE_DEFAULT_S	300
#define FDB_MAX_DEFAULT		65536
#define FDB_PORT_MAX_DEFAULT	8192
#define FDB_GROUP_MAX_DEFAULT	16384
#define FDB_LIMIT_DEFAULT	UINT32_MAX /* a port's or group's own limit:
					    * none, the table's applies */
#define FDB_GROUP_NONE		0	   /* the group of a port in none */
#define FDB_PORT_NONE		UINT32_MAX /* lookup miss */
#define FDB_PORT_NO_LIMIT	(1u << 20) /* port numbers must be below this */

struct fdb;

enum fdb_learn_result {
	FDB_REFRESHED,	    /* known on this port: timestamp updated */
	FDB_LEARNED,	    /* new entry */
	FDB_MOVED,	    /* known on another port: now on this one */
	FDB_STATIC,	    /* a static entry owns the address: unchanged */
	FDB_FULL,	    /* global limit reached: not learned */
	FDB_PORT_FULL,	    /* this port's limit reached: not learned */
	FDB_GROUP_FULL,	    /* its group's limit reached: not learned */
	FDB_EVICTED,	    /* new entry; the table was full, so another
			     * learned entry was evicted to make room */
};

struct fdb_entry_info {
	uint8_t mac[6];
	uint16_t vlan;
	uint32_t port_no;
	uint64_t last_seen_ms;	/* 0 for static entries */
	bool is_static;
};

struct fdb_stats {
	uint64_t learned, moved, expired, flushed, full_drops, port_full_drops;
	uint64_t group_full_drops; /* refused: the port's group at its limit */
	uint64_t evicted;	   /* removed to make room, or to bring a port
				    * or group down to a lowered limit */
};

/**
 * fdb_new() - an empty table
 * @max_entries:	global limit on learned entries (>= 1)
 * @port_max:		limit on learned entries per port (>= 1)
 * @age_ms:		idle time after which a learned entry expires (>= 1)
 *
 * Return: the table; NULL only when memory cannot be had.
 */
struct fdb *fdb_new(uint32_t max_entries, uint32_t port_max, uint64_t age_ms);
void fdb_free(struct fdb *fdb);

/* fdb_set_limits() - change limits; entries above a new limit stay until they age */
void fdb_set_limits(struct fdb *fdb, uint32_t max_entries, uint32_t port_max);
void fdb_set_age(struct fdb *fdb, uint64_t age_ms);

/* fdb_set_group_max() - the limit of groups without one of their own (>= 1;
 * default FDB_GROUP_MAX_DEFAULT); entries above it stay until they age */
void fdb_set_group_max(struct fdb *fdb, uint32_t group_max);

/**
 * fdb_set_port_group() - put @port_no in the group named @group
 * @group:	any number the caller names a group by (the hub: its netdev's
 *		address); FDB_GROUP_NONE takes the port out of every group
 *
 * The port's learned entries go with it.  A group exists while it has
 * ports; its own limit goes with its last port.
 * Return: false if @port_no is at or above FDB_PORT_NO_LIMIT or memory
 * cannot be had (the port is then in no group).
 */
bool fdb_set_port_group(struct fdb *fdb, uint32_t port_no, uint64_t group);

/**
 * fdb_set_port_limit() - give @port_no a limit of its own on learned entries
 * @limit:	0 (learn nothing), a count, or FDB_LIMIT_DEFAULT (the table's
 *		port_max again)
 *
 * A port holding more than @limit loses its oldest learned entries at once
 * (counted as evicted).  The limit lasts until fdb_forget_port().
 * Return: false if @port_no is at or above FDB_PORT_NO_LIMIT or memory
 * cannot be had.
 */
bool fdb_set_port_limit(struct fdb *fdb, uint32_t port_no, uint32_t limit);

/**
 * fdb_set_group_limit() - give group @group a limit of its own, as
 * fdb_set_port_limit() does for a port; a group over it loses the oldest
 * entries of its fullest ports first
 * Return: false if no port is in @group (nothing is kept for it).
 */
bool fdb_set_group_limit(struct fdb *fdb, uint64_t group, uint32_t limit);

/**
 * fdb_learn() - record that (@mac, @vlan) was seen as a source on @port_no
 *
 * Multicast source addresses are the caller's to reject; the table does not
 * look at the address bits.  An expired entry found on the way is replaced.
 * @vlan is a 12-bit VLAN ID (higher bits are ignored).  A @port_no at or
 * above FDB_PORT_NO_LIMIT is refused first, with FDB_PORT_FULL.  A static
 * entry answers FDB_STATIC, on its own port too.  A live entry seen on a port
 * that is at its limit is forgotten (its old port is wrong now; flooding
 * reaches the new one): FDB_PORT_FULL, or FDB_GROUP_FULL for its group.
 * A new address is checked against its port's limit, then its group's, and
 * then, when the table is full, evicts (see the top of this file).
 */
enum fdb_learn_result fdb_learn(struct fdb *fdb, const uint8_t mac[6],
				uint16_t vlan, uint32_t port_no,
				uint64_t now_ms);

/**
 * fdb_lookup() - the port (@mac, @vlan) was learned on
 *
 * Return: the port number, or FDB_PORT_NONE if unknown or expired (an
 * expired entry is treated as absent; fdb_expire() reclaims it).
 */
uint32_t fdb_lookup(const struct fdb *fdb, const uint8_t mac[6], uint16_t vlan,
		    uint64_t now_ms);

/* the most addresses a burst call hashes before it looks any up (longer
 * bursts are taken this many at a time) */
#define FDB_BURST_MAX		64

/**
 * fdb_learn_burst() - fdb_learn() for @n source addresses seen on @port_no
 * @macs:	the addresses; a NULL one is skipped (the caller's multicast
 *		or malformed frames)
 * @vlans:	their VLAN IDs, as fdb_learn()'s @vlan
 * @res:	NULL, or @n results, one per address as fdb_learn() answers
 *		(a skipped address's is not written)
 *
 * Same effect as calling fdb_learn() on each address in order, faster on a
 * table bigger than the caches: every address is hashed and its slots are
 * prefetched before the first is learned.  Learning one address may evict
 * or move others, or grow the table; the rest of the burst sees that, just
 * as successive fdb_learn() calls would.
 */
void fdb_learn_burst(struct fdb *fdb, const uint8_t *const macs[],
		     const uint16_t vlans[], unsigned n, uint32_t port_no,
		     uint64_t now_ms, enum fdb_learn_result res[]);

/**
 * fdb_lookup_burst() - fdb_lookup() for @n addresses, answers into @ports
 * @macs:	the addresses; a NULL one answers FDB_PORT_NONE
 * @vlans:	their VLAN IDs
 * @ports:	@n answers, as fdb_lookup()'s
 *
 * Prefetches every address's slots before the first lookup, as
 * fdb_learn_burst() does.
 */
void fdb_lookup_burst(const struct fdb *fdb, const uint8_t *const macs[],
		      const uint16_t vlans[], unsigned n, uint64_t now_ms,
		      uint32_t ports[]);

/**
 * fdb_forward_burst() - what a switch does with a received burst: learn
 * its sources on @port_no, then look its destinations up
 * @srcs:	sources to learn, as fdb_learn_burst()'s @macs
 * @dsts:	destinations to look up, as fdb_lookup_burst()'s @macs
 * @vlans:	the VLAN ID of each frame, for both
 * @ports:	@n answers for @dsts
 *
 * The same as fdb_learn_burst() and then fdb_lookup_burst(), but both
 * sets of slots are prefetched before the first learn: twice the misses
 * in flight at once, and the lookups' lines have the whole learning pass
 * to arrive.
 */
void fdb_forward_burst(struct fdb *fdb, const uint8_t *const srcs[],
		       const uint8_t *const dsts[], const uint16_t vlans[],
		       unsigned n, uint32_t port_no, uint64_t now_ms,
		       uint32_t ports[]);

/**
 * fdb_add_static() - pin (@mac, @vlan) to @port_no; replaces a learned entry
 * Return: false only if another static entry holds the address on another port
 * (or @port_no is at or above FDB_PORT_NO_LIMIT, or memory cannot be had).
 */
bool fdb_add_static(struct fdb *fdb, const uint8_t mac[6], uint16_t vlan,
		    uint32_t port_no);

/* fdb_remove() - delete one entry, static or learned; false if absent */
bool fdb_remove(struct fdb *fdb, const uint8_t mac[6], uint16_t vlan);

/* fdb_flush_port() - delete the learned entries of @port_no (static stay
 * unless @with_static); return how many went */
unsigned fdb_flush_port(struct fdb *fdb, uint32_t port_no, bool with_static);

/* fdb_forget_port() - @port_no leaves the table: every entry of it (static
 * too) is deleted, its own limit and its group are forgotten; return how
 * many entries went */
unsigned fdb_forget_port(struct fdb *fdb, uint32_t port_no);

/* fdb_flush() - delete every learned entry; return how many went */
unsigned fdb_flush(struct fdb *fdb);

/* fdb_expire() - delete learned entries idle for longer than the age;
 * return how many went */
unsigned fdb_expire(struct fdb *fdb, uint64_t now_ms);

/* fdb_count() - entries in the table (learned + static);
 * fdb_port_count() - learned entries of one port;
 * fdb_group_count() - learned entries of one group's ports */
uint32_t fdb_count(const struct fdb *fdb);
uint32_t fdb_port_count(const struct fdb *fdb, uint32_t port_no);
uint32_t fdb_group_count(const struct fdb *fdb, uint64_t group);

/**
 * fdb_get() - the entry of (@mac, @vlan), static or live learned, into *@e
 * Return: false if there is none (or it expired)
 */
bool fdb_get(const struct fdb *fdb, const uint8_t mac[6], uint16_t vlan,
	     uint64_t now_ms, struct fdb_entry_info *e);

void fdb_get_stats(const struct fdb *fdb, struct fdb_stats *st);

/**
 * fdb_foreach() - call @cb for each live entry (learned entries that expired
 * but were not reclaimed yet are skipped); @cb must not change the table
 */
void fdb_foreach(const struct fdb *fdb, uint64_t now_ms,
		 void (*cb)(const struct fdb_entry_info *e, void *ctx),
		 void *ctx);

#endif /* NH_FDB_H */
