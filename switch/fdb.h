/* SPDX-License-Identifier: MIT */
/* fdb.h - the MAC learning table of one hub
 *
 * An open-addressing hash keyed by (VLAN, MAC) that maps a source address to
 * the hub port number it was last seen on.  Entries age out (default
 * FDB_AGE_DEFAULT_S), the table holds at most a global number of learned
 * entries and at most a per-port number for each port, and an address seen on
 * another port moves there.  Static entries (a NIC's own MAC) never age, never
 * move and do not count against the limits.
 *
 * The table knows nothing of ports beyond their numbers: the hub maps a port
 * number to its port.  Time is passed in by the caller (milliseconds of a
 * monotonic clock), so tests drive it with a fake clock.
 *
 * Lookups and learning are O(1) and allocate nothing; the table grows (by
 * rehashing, off the per-frame fast path only when it must) up to the size
 * the global limit needs.
 */
#ifndef NH_FDB_H
#define NH_FDB_H

#include <stdbool.h>
#include <stdint.h>

#define FDB_AGE_DEFAULT_S	300
#define FDB_MAX_DEFAULT		65536
#define FDB_PORT_MAX_DEFAULT	8192
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

/**
 * fdb_learn() - record that (@mac, @vlan) was seen as a source on @port_no
 *
 * Multicast source addresses are the caller's to reject; the table does not
 * look at the address bits.  An expired entry found on the way is replaced.
 * @vlan is a 12-bit VLAN ID (higher bits are ignored).  A @port_no at or
 * above FDB_PORT_NO_LIMIT is refused first, with FDB_PORT_FULL.  A static
 * entry answers FDB_STATIC, on its own port too.  A live entry seen on a port
 * that is at its limit is forgotten (its old port is wrong now; flooding
 * reaches the new one): FDB_PORT_FULL.  The global limit is checked first.
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

/* fdb_flush() - delete every learned entry; return how many went */
unsigned fdb_flush(struct fdb *fdb);

/* fdb_expire() - delete learned entries idle for longer than the age;
 * return how many went */
unsigned fdb_expire(struct fdb *fdb, uint64_t now_ms);

/* fdb_count() - entries in the table (learned + static);
 * fdb_port_count() - learned entries of one port */
uint32_t fdb_count(const struct fdb *fdb);
uint32_t fdb_port_count(const struct fdb *fdb, uint32_t port_no);

void fdb_get_stats(const struct fdb *fdb, struct fdb_stats *st);

/**
 * fdb_foreach() - call @cb for each live entry (learned entries that expired
 * but were not reclaimed yet are skipped); @cb must not change the table
 */
void fdb_foreach(const struct fdb *fdb, uint64_t now_ms,
		 void (*cb)(const struct fdb_entry_info *e, void *ctx),
		 void *ctx);

#endif /* NH_FDB_H */
