// SPDX-License-Identifier: MIT
/* test_fdb.c - unit tests of the MAC learning table (switch/fdb.c)
 *
 * Drives the table with a fake clock (plain now_ms values) and checks it
 * against hand-worked cases and, over a long seeded random run, against a
 * reference model that keeps one plain record per address.  Deterministic:
 * every random choice comes from a fixed seed.  Must stay fast (~2 s).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fdb.h"
#include "tap.h"

#define AGE_MS 1000

/* test_rand() - splitmix64: small, seedable, good enough for choosing ops */
static uint64_t test_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t test_below(uint64_t *state, uint32_t n)
{
	return (uint32_t)(test_rand(state) % n);
}

static void mac_from_u64(uint64_t v, uint8_t mac[6])
{
	int b;

	for (b = 0; b < 6; b++)
		mac[b] = (uint8_t)(v >> (40 - 8 * b));
}

/* scatter48() - a bijection on 48-bit numbers, so distinct inputs give
 * distinct, well scattered MACs */
static uint64_t scatter48(uint64_t x)
{
	const uint64_t m48 = (1ULL << 48) - 1;

	x = (x * 0x5deece66dULL + 11) & m48;
	x ^= x >> 24;
	return (x * 0x2545f4914f6dULL) & m48;
}

static const uint8_t mac_a[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t mac_b[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
static const uint8_t mac_c[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

static void test_fdb_learns_and_looks_up(void)
{
	struct fdb *fdb = fdb_new(100, 100, AGE_MS);
	static const uint8_t zero[6],
	    bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	struct fdb_stats st;

	CHECK(fdb);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 10), FDB_PORT_NONE);
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 3, 10), FDB_LEARNED);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 10), 3);
	CHECK_EQ(fdb_lookup(fdb, mac_b, 0, 10), FDB_PORT_NONE);
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 3, 20), FDB_REFRESHED);
	CHECK_EQ(fdb_count(fdb), 1);
	CHECK_EQ(fdb_port_count(fdb, 3), 1);
	CHECK_EQ(fdb_port_count(fdb, 4), 0);
	CHECK_EQ(fdb_port_count(fdb, 999999), 0);

	/* the all-zero key must not be mistaken for an empty slot */
	CHECK_EQ(fdb_lookup(fdb, zero, 0, 20), FDB_PORT_NONE);
	CHECK_EQ(fdb_learn(fdb, zero, 0, 0, 20), FDB_LEARNED);
	CHECK_EQ(fdb_lookup(fdb, zero, 0, 20), 0);
	CHECK_EQ(fdb_learn(fdb, bcast, 4095, 7, 20), FDB_LEARNED);
	CHECK_EQ(fdb_lookup(fdb, bcast, 4095, 20), 7);
	CHECK_EQ(fdb_count(fdb), 3);

	fdb_get_stats(fdb, &st);
	CHECK_EQ(st.learned, 3);
	CHECK_EQ(st.moved + st.expired + st.flushed, 0);
	CHECK_EQ(st.full_drops + st.port_full_drops, 0);
	fdb_free(fdb);
	fdb_free(NULL);
}

static void test_fdb_entry_moves_with_mac(void)
{
	struct fdb *fdb = fdb_new(100, 100, AGE_MS);
	struct fdb_stats st;

	CHECK_EQ(fdb_learn(fdb, mac_a, 1, 1, 0), FDB_LEARNED);
	CHECK_EQ(fdb_learn(fdb, mac_a, 1, 2, 5), FDB_MOVED);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 1, 5), 2);
	CHECK_EQ(fdb_port_count(fdb, 1), 0);
	CHECK_EQ(fdb_port_count(fdb, 2), 1);
	CHECK_EQ(fdb_count(fdb), 1);
	CHECK_EQ(fdb_learn(fdb, mac_a, 1, 2, 6), FDB_REFRESHED);
	fdb_get_stats(fdb, &st);
	CHECK_EQ(st.learned, 1);
	CHECK_EQ(st.moved, 1);
	fdb_free(fdb);
}

static void test_fdb_move_to_full_port_forgets_entry(void)
{
	struct fdb *fdb = fdb_new(100, 1, AGE_MS);
	struct fdb_stats st;

	CHECK_EQ(fdb_learn(fdb, mac_b, 0, 2, 0), FDB_LEARNED);
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 1, 0), FDB_LEARNED);
	/* port 2 is full: the stale mapping to port 1 must not survive */
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 2, 1), FDB_PORT_FULL);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 1), FDB_PORT_NONE);
	CHECK_EQ(fdb_port_count(fdb, 1), 0);
	CHECK_EQ(fdb_port_count(fdb, 2), 1);
	CHECK_EQ(fdb_count(fdb), 1);
	fdb_get_stats(fdb, &st);
	CHECK_EQ(st.port_full_drops, 1);
	CHECK_EQ(st.moved, 0);
	fdb_free(fdb);
}

static void test_fdb_vlans_are_separate(void)
{
	struct fdb *fdb = fdb_new(100, 100, AGE_MS);

	CHECK_EQ(fdb_learn(fdb, mac_a, 1, 1, 0), FDB_LEARNED);
	CHECK_EQ(fdb_learn(fdb, mac_a, 2, 2, 0), FDB_LEARNED);
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 3, 0), FDB_LEARNED);
	CHECK_EQ(fdb_learn(fdb, mac_a, 4095, 4, 0), FDB_LEARNED);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 1, 0), 1);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 2, 0), 2);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 0), 3);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 4095, 0), 4);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 3, 0), FDB_PORT_NONE);
	CHECK_EQ(fdb_count(fdb), 4);
	CHECK(fdb_remove(fdb, mac_a, 1));
	CHECK_EQ(fdb_lookup(fdb, mac_a, 1, 0), FDB_PORT_NONE);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 2, 0), 2);
	/* a move on one VLAN leaves the others alone */
	CHECK_EQ(fdb_learn(fdb, mac_a, 2, 9, 1), FDB_MOVED);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 1), 3);
	fdb_free(fdb);
}

struct collected {
	struct fdb_entry_info e[64];
	unsigned n;
};

static void collect(const struct fdb_entry_info *e, void *ctx)
{
	struct collected *c = ctx;

	if (c->n < 64)
		c->e[c->n] = *e;
	c->n++;
}

static void test_fdb_entries_age_out(void)
{
	struct fdb *fdb = fdb_new(100, 100, AGE_MS);
	struct collected c = {.n = 0};
	struct fdb_stats st;

	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 1, 5000), FDB_LEARNED);
	/* live for age_ms - 1 ms, expired at exactly age_ms idle */
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 5000 + AGE_MS - 1), 1);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 5000 + AGE_MS), FDB_PORT_NONE);
	fdb_foreach(fdb, 5000 + AGE_MS, collect, &c);
	CHECK_EQ(c.n, 0);
	/* not reclaimed yet: still held, still counted */
	CHECK_EQ(fdb_count(fdb), 1);
	CHECK_EQ(fdb_port_count(fdb, 1), 1);
	CHECK_EQ(fdb_expire(fdb, 5000 + AGE_MS - 1), 0);
	CHECK_EQ(fdb_count(fdb), 1);
	CHECK_EQ(fdb_expire(fdb, 5000 + AGE_MS), 1);
	CHECK_EQ(fdb_count(fdb), 0);
	CHECK_EQ(fdb_port_count(fdb, 1), 0);
	fdb_get_stats(fdb, &st);
	CHECK_EQ(st.expired, 1);

	/* a shorter age applies to the entries already there */
	CHECK_EQ(fdb_learn(fdb, mac_b, 0, 1, 10000), FDB_LEARNED);
	fdb_set_age(fdb, 10);
	CHECK_EQ(fdb_lookup(fdb, mac_b, 0, 10009), 1);
	CHECK_EQ(fdb_lookup(fdb, mac_b, 0, 10010), FDB_PORT_NONE);
	fdb_free(fdb);
}

static void test_fdb_learn_refreshes_age(void)
{
	struct fdb *fdb = fdb_new(100, 100, AGE_MS);

	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 1, 0), FDB_LEARNED);
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 1, 900), FDB_REFRESHED);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 900 + AGE_MS - 1), 1);
	CHECK_EQ(fdb_expire(fdb, 900 + AGE_MS - 1), 0);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 900 + AGE_MS), FDB_PORT_NONE);
	/* a move refreshes too */
	CHECK_EQ(fdb_learn(fdb, mac_b, 0, 1, 0), FDB_LEARNED);
	CHECK_EQ(fdb_learn(fdb, mac_b, 0, 2, 500), FDB_MOVED);
	CHECK_EQ(fdb_lookup(fdb, mac_b, 0, 1499), 2);
	CHECK_EQ(fdb_lookup(fdb, mac_b, 0, 1500), FDB_PORT_NONE);
	fdb_free(fdb);
}

static void test_fdb_learn_replaces_expired_entry(void)
{
	struct fdb *fdb = fdb_new(100, 100, AGE_MS);
	struct fdb_stats st;

	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 1, 0), FDB_LEARNED);
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 1, AGE_MS), FDB_LEARNED);
	CHECK_EQ(fdb_learn(fdb, mac_b, 0, 1, 0), FDB_LEARNED);
	/* expired on port 1, seen on port 2: new, not moved */
	CHECK_EQ(fdb_learn(fdb, mac_b, 0, 2, AGE_MS), FDB_LEARNED);
	CHECK_EQ(fdb_count(fdb), 2);
	CHECK_EQ(fdb_port_count(fdb, 1), 1);
	CHECK_EQ(fdb_port_count(fdb, 2), 1);
	fdb_get_stats(fdb, &st);
	CHECK_EQ(st.learned, 4);
	CHECK_EQ(st.expired, 2);
	CHECK_EQ(st.moved, 0);
	fdb_free(fdb);
}

static void test_fdb_global_limit(void)
{
	struct fdb *fdb = fdb_new(3, 100, AGE_MS);
	uint8_t mac[6];
	struct fdb_stats st;
	int i;

	for (i = 0; i < 3; i++) {
		mac_from_u64(0x020000000100ULL + (uint64_t)i, mac);
		CHECK_EQ(fdb_learn(fdb, mac, 0, (uint32_t)i, 0), FDB_LEARNED);
	}
	/* full: one of the three goes (each port holds one: a tie) */
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 7, 0), FDB_EVICTED);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 0), 7);
	CHECK_EQ(fdb_count(fdb), 3);
	fdb_get_stats(fdb, &st);
	CHECK_EQ(st.full_drops, 0);
	CHECK_EQ(st.evicted, 1);
	CHECK_EQ(st.learned, 4);
	/* known addresses still refresh and move when the table is full */
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 7, 1), FDB_REFRESHED);
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 5, 1), FDB_MOVED);
	CHECK_EQ(fdb_count(fdb), 3);
	/* static entries do not count against the limit, and stay */
	CHECK(fdb_add_static(fdb, mac_b, 0, 9));
	CHECK(fdb_add_static(fdb, mac_c, 0, 9));
	CHECK_EQ(fdb_count(fdb), 5);
	for (i = 0; i < 10; i++) {
		mac_from_u64(0x020000000180ULL + (uint64_t)i, mac);
		CHECK_EQ(fdb_learn(fdb, mac, 0, 9, 2), FDB_EVICTED);
	}
	CHECK_EQ(fdb_lookup(fdb, mac_b, 0, 2), 9);
	CHECK_EQ(fdb_lookup(fdb, mac_c, 0, 2), 9);
	CHECK_EQ(fdb_count(fdb), 5);
	fdb_get_stats(fdb, &st);
	CHECK_EQ(st.evicted, 11);
	fdb_free(fdb);
}

static void test_fdb_port_limit(void)
{
	struct fdb *fdb = fdb_new(100, 2, AGE_MS);
	uint8_t mac[6];
	struct fdb_stats st;
	int i;

	for (i = 0; i < 2; i++) {
		mac_from_u64(0x020000000200ULL + (uint64_t)i, mac);
		CHECK_EQ(fdb_learn(fdb, mac, 0, 1, 0), FDB_LEARNED);
	}
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 1, 0), FDB_PORT_FULL);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 0), FDB_PORT_NONE);
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 2, 0), FDB_LEARNED);
	CHECK_EQ(fdb_port_count(fdb, 1), 2);
	CHECK_EQ(fdb_port_count(fdb, 2), 1);
	/* a static entry on a full port is fine */
	CHECK(fdb_add_static(fdb, mac_b, 0, 1));
	fdb_get_stats(fdb, &st);
	CHECK_EQ(st.port_full_drops, 1);
	CHECK_EQ(st.full_drops, 0);
	/* the port's limit is checked before the table's: a port at its
	 * limit evicts nobody */
	fdb_set_limits(fdb, 3, 2);
	CHECK_EQ(fdb_learn(fdb, mac_c, 0, 1, 0), FDB_PORT_FULL);
	fdb_get_stats(fdb, &st);
	CHECK_EQ(st.evicted, 0);
	CHECK_EQ(fdb_count(fdb), 4);
	fdb_free(fdb);
}

static void test_fdb_lowered_limits_keep_entries(void)
{
	struct fdb *fdb = fdb_new(10, 10, AGE_MS);
	uint8_t mac[5][6];
	int i;

	for (i = 0; i < 5; i++) {
		mac_from_u64(0x020000000300ULL + (uint64_t)i, mac[i]);
		CHECK_EQ(fdb_learn(fdb, mac[i], 0, 1, 0), FDB_LEARNED);
	}
	fdb_set_limits(fdb, 3, 2);
	for (i = 0; i < 5; i++) {
		CHECK_EQ(fdb_lookup(fdb, mac[i], 0, 1), 1);
		CHECK_EQ(fdb_learn(fdb, mac[i], 0, 1, 1), FDB_REFRESHED);
	}
	/* over the table's limit: a new address evicts one old one, so the
	 * count does not grow */
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 2, 1), FDB_EVICTED);
	CHECK_EQ(fdb_lookup(fdb, mac[0], 0, 1), FDB_PORT_NONE);
	CHECK_EQ(fdb_count(fdb), 5);
	for (i = 1; i < 3; i++)
		CHECK(fdb_remove(fdb, mac[i], 0));
	CHECK(!fdb_remove(fdb, mac[0], 0));
	CHECK_EQ(fdb_learn(fdb, mac_b, 0, 1, 1), FDB_PORT_FULL);
	/* port 1 holds two, port 2 one: port 1's oldest goes */
	CHECK_EQ(fdb_learn(fdb, mac_b, 0, 2, 1), FDB_EVICTED);
	CHECK_EQ(fdb_lookup(fdb, mac[3], 0, 1), FDB_PORT_NONE);
	CHECK_EQ(fdb_lookup(fdb, mac[4], 0, 1), 1);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 1), 2);
	fdb_free(fdb);
}

/* issue 12: a port flooding made-up source addresses fills the table; an
 * innocent port's new host then evicts one of the flooder's entries, and
 * the flooder's own new addresses evict its own older ones */
static void test_fdb_full_table_evicts_from_fullest_port(void)
{
	struct fdb *fdb = fdb_new(10, 100, AGE_MS);
	uint8_t mac[6];
	struct fdb_stats st;
	int i;

	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 1, 0), FDB_LEARNED);
	CHECK_EQ(fdb_learn(fdb, mac_b, 0, 2, 0), FDB_LEARNED);
	for (i = 0; i < 8; i++) {
		mac_from_u64(0x020000000400ULL + (uint64_t)i, mac);
		CHECK_EQ(fdb_learn(fdb, mac, 0, 3, 1), FDB_LEARNED);
	}
	/* the innocent port 4's host: the flooder's oldest goes */
	CHECK_EQ(fdb_learn(fdb, mac_c, 0, 4, 2), FDB_EVICTED);
	mac_from_u64(0x020000000400ULL, mac);
	CHECK_EQ(fdb_lookup(fdb, mac, 0, 2), FDB_PORT_NONE);
	mac_from_u64(0x020000000401ULL, mac);
	CHECK_EQ(fdb_lookup(fdb, mac, 0, 2), 3);
	CHECK_EQ(fdb_port_count(fdb, 3), 7);
	/* the flood goes on: only the flooder's entries go */
	for (i = 100; i < 1100; i++) {
		mac_from_u64(0x020000000400ULL + (uint64_t)i, mac);
		CHECK_EQ(fdb_learn(fdb, mac, 0, 3, 3), FDB_EVICTED);
	}
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 3), 1);
	CHECK_EQ(fdb_lookup(fdb, mac_b, 0, 3), 2);
	CHECK_EQ(fdb_lookup(fdb, mac_c, 0, 3), 4);
	/* its newest are the ones it keeps */
	CHECK_EQ(fdb_lookup(fdb, mac, 0, 3), 3);
	CHECK_EQ(fdb_port_count(fdb, 3), 7);
	CHECK_EQ(fdb_count(fdb), 10);
	fdb_get_stats(fdb, &st);
	CHECK_EQ(st.evicted, 1001);
	CHECK_EQ(st.full_drops, 0);
	fdb_free(fdb);
}

/* the fullest port is found again as counts change: after port 5 grows
 * past port 3, port 5 pays */
static void test_fdb_eviction_follows_the_fullest_port(void)
{
	struct fdb *fdb = fdb_new(6, 100, AGE_MS);
	uint8_t mac[6];
	int i;

	for (i = 0; i < 4; i++) {
		mac_from_u64(0x020000000500ULL + (uint64_t)i, mac);
		CHECK_EQ(fdb_learn(fdb, mac, 0, 3, 0), FDB_LEARNED);
	}
	for (i = 0; i < 2; i++) {
		mac_from_u64(0x020000000600ULL + (uint64_t)i, mac);
		CHECK_EQ(fdb_learn(fdb, mac, 0, 5, 0), FDB_LEARNED);
	}
	/* port 5 learns: port 3 (4 entries) pays each time until both hold
	 * 3, then they tie, then port 5 is the fullest */
	for (i = 2; i < 6; i++) {
		mac_from_u64(0x020000000600ULL + (uint64_t)i, mac);
		CHECK_EQ(fdb_learn(fdb, mac, 0, 5, 1), FDB_EVICTED);
	}
	CHECK(fdb_port_count(fdb, 3) >= 2);
	CHECK(fdb_port_count(fdb, 5) <= 4);
	CHECK_EQ(fdb_port_count(fdb, 3) + fdb_port_count(fdb, 5), 6);
	for (i = 6; i < 20; i++) {
		mac_from_u64(0x020000000600ULL + (uint64_t)i, mac);
		CHECK_EQ(fdb_learn(fdb, mac, 0, 5, 1), FDB_EVICTED);
		CHECK(fdb_port_count(fdb, 5) <= fdb_port_count(fdb, 3) + 1);
	}
	CHECK_EQ(fdb_port_count(fdb, 3), 3);
	CHECK_EQ(fdb_port_count(fdb, 5), 3);
	fdb_free(fdb);
}

static void test_fdb_static_never_evicted(void)
{
	struct fdb *fdb = fdb_new(2, 100, AGE_MS);
	uint8_t mac[6];
	int i;

	/* the fullest port by far holds static entries only */
	for (i = 0; i < 20; i++) {
		mac_from_u64(0x020000000700ULL + (uint64_t)i, mac);
		CHECK(fdb_add_static(fdb, mac, 0, 1));
	}
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 1, 0), FDB_LEARNED);
	CHECK_EQ(fdb_learn(fdb, mac_b, 0, 2, 0), FDB_LEARNED);
	for (i = 0; i < 50; i++) {
		mac_from_u64(0x020000000800ULL + (uint64_t)i, mac);
		CHECK(fdb_learn(fdb, mac, 0, (uint32_t)(2 + i % 2), 1) ==
		      FDB_EVICTED);
	}
	for (i = 0; i < 20; i++) {
		mac_from_u64(0x020000000700ULL + (uint64_t)i, mac);
		CHECK_EQ(fdb_lookup(fdb, mac, 0, 1), 1);
	}
	CHECK_EQ(fdb_count(fdb), 22);
	/* a static address seen on another port stays where it is pinned */
	mac_from_u64(0x020000000700ULL, mac);
	CHECK_EQ(fdb_learn(fdb, mac, 0, 3, 1), FDB_STATIC);
	CHECK_EQ(fdb_lookup(fdb, mac, 0, 1), 1);
	fdb_free(fdb);
}

/* the ports of one group (one netdev's peers) share one budget */
static void test_fdb_group_limit_shared_by_its_ports(void)
{
	struct fdb *fdb = fdb_new(1000, 100, AGE_MS);
	const uint64_t g = 0xabc;
	struct fdb_stats st;
	uint8_t mac[6];
	int i;

	fdb_set_group_max(fdb, 5);
	CHECK(fdb_set_port_group(fdb, 1, g));
	CHECK(fdb_set_port_group(fdb, 2, g));
	for (i = 0; i < 5; i++) {
		mac_from_u64(0x020000000900ULL + (uint64_t)i, mac);
		CHECK_EQ(fdb_learn(fdb, mac, 0, (uint32_t)(1 + i % 2), 0),
			 FDB_LEARNED);
	}
	CHECK_EQ(fdb_group_count(fdb, g), 5);
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 1, 0), FDB_GROUP_FULL);
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 2, 0), FDB_GROUP_FULL);
	/* a port in no group, and a move within the group, are fine */
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 3, 0), FDB_LEARNED);
	mac_from_u64(0x020000000900ULL, mac);
	CHECK_EQ(fdb_learn(fdb, mac, 0, 2, 0), FDB_MOVED);
	/* a move into the full group is not: the entry is forgotten */
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 1, 0), FDB_GROUP_FULL);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 0), FDB_PORT_NONE);
	fdb_get_stats(fdb, &st);
	CHECK_EQ(st.group_full_drops, 3);
	CHECK_EQ(st.port_full_drops, 0);
	/* a port joining takes its entries along */
	CHECK_EQ(fdb_learn(fdb, mac_b, 0, 3, 0), FDB_LEARNED);
	CHECK(fdb_set_port_group(fdb, 3, g));
	CHECK_EQ(fdb_group_count(fdb, g), 6);
	CHECK(fdb_set_port_group(fdb, 3, FDB_GROUP_NONE));
	CHECK_EQ(fdb_group_count(fdb, g), 5);
	/* its own limit raises it for this group only */
	CHECK(fdb_set_group_limit(fdb, g, 7));
	CHECK_EQ(fdb_learn(fdb, mac_c, 0, 1, 0), FDB_LEARNED);
	/* the group goes with its last port, and its limit with it */
	fdb_forget_port(fdb, 1);
	fdb_forget_port(fdb, 2);
	CHECK_EQ(fdb_group_count(fdb, g), 0);
	CHECK(!fdb_set_group_limit(fdb, g, 7));
	CHECK(fdb_set_port_group(fdb, 1, g));
	for (i = 0; i < 5; i++) {
		mac_from_u64(0x020000000a00ULL + (uint64_t)i, mac);
		CHECK_EQ(fdb_learn(fdb, mac, 0, 1, 0), FDB_LEARNED);
	}
	CHECK_EQ(fdb_learn(fdb, mac_c, 0, 1, 0), FDB_GROUP_FULL);
	fdb_free(fdb);
}

/* port security: a port's own limit; 0 keeps only its static entries */
static void test_fdb_port_mac_limit(void)
{
	struct fdb *fdb = fdb_new(1000, 100, AGE_MS);
	struct fdb_stats st;
	uint8_t mac[5][6];
	int i;

	for (i = 0; i < 5; i++) {
		mac_from_u64(0x020000000b00ULL + (uint64_t)i, mac[i]);
		CHECK_EQ(fdb_learn(fdb, mac[i], 0, 1, (uint64_t)i), FDB_LEARNED);
	}
	CHECK(fdb_add_static(fdb, mac_a, 0, 1));
	/* lowered: the oldest go at once */
	CHECK(fdb_set_port_limit(fdb, 1, 2));
	CHECK_EQ(fdb_port_count(fdb, 1), 2);
	CHECK_EQ(fdb_lookup(fdb, mac[2], 0, 5), FDB_PORT_NONE);
	CHECK_EQ(fdb_lookup(fdb, mac[3], 0, 5), 1);
	CHECK_EQ(fdb_lookup(fdb, mac[4], 0, 5), 1);
	CHECK_EQ(fdb_learn(fdb, mac[0], 0, 1, 5), FDB_PORT_FULL);
	/* 0: nothing learned; the static entry stays and still forwards */
	CHECK(fdb_set_port_limit(fdb, 1, 0));
	CHECK_EQ(fdb_port_count(fdb, 1), 0);
	CHECK_EQ(fdb_learn(fdb, mac[0], 0, 1, 6), FDB_PORT_FULL);
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 1, 6), FDB_STATIC);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 6), 1);
	CHECK(fdb_add_static(fdb, mac_b, 0, 1));
	CHECK_EQ(fdb_lookup(fdb, mac_b, 0, 6), 1);
	/* another port is not affected */
	CHECK_EQ(fdb_learn(fdb, mac[0], 0, 2, 6), FDB_LEARNED);
	fdb_get_stats(fdb, &st);
	CHECK_EQ(st.evicted, 5);
	/* back to the table's limit */
	CHECK(fdb_set_port_limit(fdb, 1, FDB_LIMIT_DEFAULT));
	CHECK_EQ(fdb_learn(fdb, mac[1], 0, 1, 7), FDB_LEARNED);
	/* a port number reused after fdb_forget_port() starts afresh */
	CHECK(fdb_set_port_limit(fdb, 1, 0));
	fdb_forget_port(fdb, 1);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 7), FDB_PORT_NONE);
	CHECK_EQ(fdb_learn(fdb, mac[1], 0, 1, 7), FDB_LEARNED);
	CHECK(!fdb_set_port_limit(fdb, FDB_PORT_NO_LIMIT, 1));
	fdb_free(fdb);
}

/* a group's own limit, lowered, cuts its fullest ports first */
static void test_fdb_group_limit_trims_fullest_port(void)
{
	struct fdb *fdb = fdb_new(1000, 100, AGE_MS);
	const uint64_t g = 77;
	uint8_t mac[6];
	int i;

	CHECK(fdb_set_port_group(fdb, 1, g));
	CHECK(fdb_set_port_group(fdb, 2, g));
	for (i = 0; i < 10; i++) {
		mac_from_u64(0x020000000c00ULL + (uint64_t)i, mac);
		CHECK_EQ(fdb_learn(fdb, mac, 0, 1, 0), FDB_LEARNED);
	}
	for (i = 0; i < 2; i++) {
		mac_from_u64(0x020000000d00ULL + (uint64_t)i, mac);
		CHECK_EQ(fdb_learn(fdb, mac, 0, 2, 0), FDB_LEARNED);
	}
	CHECK(fdb_set_group_limit(fdb, g, 6));
	CHECK_EQ(fdb_group_count(fdb, g), 6);
	CHECK_EQ(fdb_port_count(fdb, 1), 4);
	CHECK_EQ(fdb_port_count(fdb, 2), 2);
	CHECK(fdb_set_group_limit(fdb, g, 0));
	CHECK_EQ(fdb_group_count(fdb, g), 0);
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 2, 0), FDB_GROUP_FULL);
	fdb_free(fdb);
}

/* eviction's lists survive the table growing and clusters shifting: a long
 * flood through a table that grows, then every port's list must hold
 * exactly its count */
static void test_fdb_eviction_lists_survive_growth(void)
{
	enum { MAX = 5000, N = 40000, PORTS = 16 };
	struct fdb *fdb = fdb_new(MAX, MAX, AGE_MS);
	uint64_t rng = 12;
	struct fdb_stats st;
	uint8_t mac[6];
	unsigned bad = 0, total = 0, got;
	uint32_t i, p;

	for (i = 0; i < N; i++) {
		/* port p floods p times as much as port 0 */
		uint32_t port = test_below(&rng, PORTS * (PORTS + 1) / 2), q;

		for (q = 0; port > q; q++)
			port -= q + 1;
		mac_from_u64(scatter48(i), mac);
		got = fdb_learn(fdb, mac, (uint16_t)(i & 7), q, 1);
		bad += got != FDB_LEARNED && got != FDB_EVICTED;
		if (i % 7 == 0) { /* churn: deletes shift clusters */
			mac_from_u64(scatter48(i / 2), mac);
			fdb_remove(fdb, mac, (uint16_t)((i / 2) & 7));
		}
	}
	CHECK_EQ(bad, 0);
	fdb_get_stats(fdb, &st);
	CHECK(st.evicted > 0);
	for (p = 0; p < PORTS; p++) {
		uint32_t n = fdb_port_count(fdb, p);

		total += n;
		CHECK_EQ(fdb_flush_port(fdb, p, false), n);
	}
	CHECK(total > 0);
	CHECK_EQ(fdb_count(fdb), 0);
	fdb_free(fdb);
}

static void test_fdb_refuses_absurd_port_numbers(void)
{
	struct fdb *fdb = fdb_new(100, 100, AGE_MS);

	CHECK_EQ(fdb_learn(fdb, mac_a, 0, FDB_PORT_NO_LIMIT, 0), FDB_PORT_FULL);
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, UINT32_MAX, 0), FDB_PORT_FULL);
	CHECK_EQ(fdb_count(fdb), 0);
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, FDB_PORT_NO_LIMIT - 1, 0),
		 FDB_LEARNED);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 0), FDB_PORT_NO_LIMIT - 1);
	CHECK_EQ(fdb_port_count(fdb, FDB_PORT_NO_LIMIT - 1), 1);
	CHECK(!fdb_add_static(fdb, mac_b, 0, FDB_PORT_NO_LIMIT));
	/* a static entry on port 0 must not answer to port 1 << 20 */
	CHECK(fdb_add_static(fdb, mac_b, 0, 0));
	CHECK_EQ(fdb_learn(fdb, mac_b, 0, FDB_PORT_NO_LIMIT, 0), FDB_PORT_FULL);
	CHECK_EQ(fdb_lookup(fdb, mac_b, 0, 0), 0);
	fdb_free(fdb);
}

static void test_fdb_flush_port_keeps_static(void)
{
	struct fdb *fdb = fdb_new(100, 100, AGE_MS);
	uint8_t mac[6];
	struct fdb_stats st;
	int i;

	for (i = 0; i < 5; i++) {
		mac_from_u64(0x020000000400ULL + (uint64_t)i, mac);
		CHECK_EQ(fdb_learn(fdb, mac, 0, i < 3 ? 1 : 2, 0), FDB_LEARNED);
	}
	CHECK(fdb_add_static(fdb, mac_a, 0, 1));
	CHECK_EQ(fdb_flush_port(fdb, 1, false), 3);
	CHECK_EQ(fdb_port_count(fdb, 1), 0);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 0), 1);
	CHECK_EQ(fdb_lookup(fdb, mac, 0, 0), 2);
	CHECK_EQ(fdb_count(fdb), 3);
	CHECK_EQ(fdb_flush_port(fdb, 1, true), 1);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 0), FDB_PORT_NONE);
	CHECK_EQ(fdb_flush_port(fdb, 7, true), 0);

	/* fdb_flush() takes every learned entry and no static one */
	CHECK(fdb_add_static(fdb, mac_b, 3, 4));
	CHECK_EQ(fdb_flush(fdb), 2);
	CHECK_EQ(fdb_count(fdb), 1);
	CHECK_EQ(fdb_lookup(fdb, mac_b, 3, 0), 4);
	CHECK_EQ(fdb_flush(fdb), 0);
	fdb_get_stats(fdb, &st);
	CHECK_EQ(st.flushed, 6);
	fdb_free(fdb);
}

static void test_fdb_static_wins_over_learning(void)
{
	struct fdb *fdb = fdb_new(100, 100, AGE_MS);
	struct fdb_stats st;

	CHECK(fdb_add_static(fdb, mac_a, 0, 1));
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 2, 0), FDB_STATIC);
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 1, 0), FDB_STATIC);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 0), 1);
	/* never ages */
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 100 * AGE_MS), 1);
	CHECK_EQ(fdb_expire(fdb, 100 * AGE_MS), 0);
	/* another port may not take it; the same port is idempotent */
	CHECK(!fdb_add_static(fdb, mac_a, 0, 2));
	CHECK(fdb_add_static(fdb, mac_a, 0, 1));
	CHECK_EQ(fdb_count(fdb), 1);
	CHECK_EQ(fdb_port_count(fdb, 1), 0);
	fdb_get_stats(fdb, &st);
	CHECK_EQ(st.learned + st.moved, 0);
	/* removable like any entry, and learnable afterwards */
	CHECK(fdb_remove(fdb, mac_a, 0));
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 2, 0), FDB_LEARNED);
	fdb_free(fdb);
}

static void test_fdb_static_replaces_learned_entry(void)
{
	struct fdb *fdb = fdb_new(100, 100, AGE_MS);
	struct collected c = {.n = 0};

	CHECK_EQ(fdb_learn(fdb, mac_a, 5, 2, 300), FDB_LEARNED);
	CHECK_EQ(fdb_port_count(fdb, 2), 1);
	CHECK(fdb_add_static(fdb, mac_a, 5, 3));
	CHECK_EQ(fdb_port_count(fdb, 2), 0);
	CHECK_EQ(fdb_port_count(fdb, 3), 0);
	CHECK_EQ(fdb_count(fdb), 1);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 5, 300), 3);
	fdb_foreach(fdb, 300, collect, &c);
	CHECK_EQ(c.n, 1);
	CHECK(c.e[0].is_static);
	CHECK_EQ(c.e[0].last_seen_ms, 0);
	CHECK_EQ(c.e[0].port_no, 3);
	fdb_free(fdb);
}

static void test_fdb_foreach_reports_live_entries(void)
{
	struct fdb *fdb = fdb_new(100, 100, AGE_MS);
	struct collected c = {.n = 0};
	unsigned i, seen = 0;

	CHECK_EQ(fdb_learn(fdb, mac_a, 5, 1, 100), FDB_LEARNED);
	CHECK_EQ(fdb_learn(fdb, mac_b, 4095, 2, 500), FDB_LEARNED);
	CHECK(fdb_add_static(fdb, mac_c, 0, 3));
	fdb_foreach(fdb, 100 + AGE_MS, collect, &c);
	CHECK_EQ(c.n, 2);
	for (i = 0; i < c.n && i < 64; i++) {
		const struct fdb_entry_info *e = &c.e[i];

		if (!memcmp(e->mac, mac_b, 6)) {
			CHECK_EQ(e->vlan, 4095);
			CHECK_EQ(e->port_no, 2);
			CHECK_EQ(e->last_seen_ms, 500);
			CHECK(!e->is_static);
			seen |= 1;
		} else if (!memcmp(e->mac, mac_c, 6)) {
			CHECK_EQ(e->vlan, 0);
			CHECK_EQ(e->port_no, 3);
			CHECK_EQ(e->last_seen_ms, 0);
			CHECK(e->is_static);
			seen |= 2;
		}
	}
	CHECK_EQ(seen, 3);
	fdb_free(fdb);
}

/*
 * 716 keys fill the smallest table (1024 slots) as far as it goes ungrown,
 * which makes long clusters; over 128 tables, about half have a cluster
 * that wraps past the last slot and a deletion that shifts entries back
 * across the wrap.  Expiring in 16 waves makes the sweep delete from the
 * middle, the start and the wrapped tail of clusters; after each wave every
 * survivor must still be found and every victim be gone.
 */
static void test_fdb_expire_with_wraparound_cluster(void)
{
	enum { KEYS = 716, WAVES = 16, TABLES = 128 };
	static uint8_t mac[KEYS][6];
	static uint64_t seen_at[KEYS];
	uint64_t rng = 42;
	int t, w, k;

	for (t = 0; t < TABLES; t++) {
		struct fdb *fdb = fdb_new(KEYS, KEYS, AGE_MS);
		unsigned want = KEYS;

		for (k = 0; k < KEYS; k++) {
			mac_from_u64(
			    scatter48((uint64_t)t * KEYS + (uint64_t)k),
			    mac[k]);
			seen_at[k] = 100 * test_below(&rng, WAVES);
			CHECK_EQ(fdb_learn(fdb, mac[k], 1, (uint32_t)k % 4,
					   seen_at[k]),
				 FDB_LEARNED);
		}
		for (w = 0; w < WAVES; w++) {
			uint64_t now = AGE_MS + 100 * (uint64_t)w;
			unsigned gone = 0;

			for (k = 0; k < KEYS; k++)
				gone += seen_at[k] == 100 * (uint64_t)w;
			CHECK_EQ(fdb_expire(fdb, now), gone);
			want -= gone;
			CHECK_EQ(fdb_count(fdb), want);
			for (k = 0; k < KEYS; k++) {
				uint32_t port = fdb_lookup(fdb, mac[k], 1, 0);

				if (seen_at[k] > 100 * (uint64_t)w)
					CHECK_EQ(port, (uint32_t)k % 4);
				else
					CHECK_EQ(port, FDB_PORT_NONE);
			}
		}
		CHECK_EQ(fdb_count(fdb), 0);
		fdb_free(fdb);
	}
}

static void test_fdb_grows_to_100k(void)
{
	enum { N = 100000, PORTS = 32 };
	struct fdb *fdb = fdb_new(N, N, AGE_MS);
	uint8_t mac[6];
	unsigned bad = 0, p;
	uint32_t i;

	for (i = 0; i < N; i++) {
		mac_from_u64(scatter48(i), mac);
		bad += fdb_learn(fdb, mac, (uint16_t)(i & 0xfff), i % PORTS,
				 1) != FDB_LEARNED;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(fdb_count(fdb), N);
	for (p = 0; p < PORTS; p++)
		CHECK_EQ(fdb_port_count(fdb, p), N / PORTS);

	for (i = 0; i < N; i++) {
		mac_from_u64(scatter48(i), mac);
		bad +=
		    fdb_lookup(fdb, mac, (uint16_t)(i & 0xfff), 2) != i % PORTS;
		bad += fdb_lookup(fdb, mac, (uint16_t)((i + 1) & 0xfff), 2) !=
		       FDB_PORT_NONE;
	}
	CHECK_EQ(bad, 0);
	for (i = 0; i < N; i += 2) {
		mac_from_u64(scatter48(i), mac);
		bad += !fdb_remove(fdb, mac, (uint16_t)(i & 0xfff));
	}
	CHECK_EQ(fdb_count(fdb), N / 2);
	for (i = 0; i < N; i++) {
		mac_from_u64(scatter48(i), mac);
		bad += fdb_lookup(fdb, mac, (uint16_t)(i & 0xfff), 2) !=
		       (i % 2 ? i % PORTS : FDB_PORT_NONE);
	}
	CHECK_EQ(bad, 0);
	fdb_free(fdb);
}

/*
 * Bursts: fdb_learn_burst(), fdb_lookup_burst() and fdb_forward_burst()
 * must answer exactly as
 * fdb_learn() and fdb_lookup() called one address after another, even when
 * an address early in a burst evicts, moves, expires or grows the table
 * under the addresses after it (their slots were prefetched, not found).
 */

/* burst_pool_mac() - the @k-th address of a test's pool */
static void burst_pool_mac(uint32_t k, uint8_t mac[6])
{
	mac_from_u64(scatter48(k), mac);
}

static void test_fdb_burst_learn_sees_its_own_evictions(void)
{
	struct fdb *fdb = fdb_new(4, 100, AGE_MS);
	uint8_t pool[6][6];
	const uint8_t *macs[6];
	uint16_t vlans[6] = {0};
	enum fdb_learn_result res[6];
	uint32_t ports[6];
	int k;

	for (k = 0; k < 5; k++) {
		burst_pool_mac((uint32_t)k, pool[k]);
		macs[k] = pool[k];
	}
	/* A B C D fill the table, E evicts A (the oldest of the only
	 * port), and A coming back in the same burst evicts B */
	macs[5] = pool[0];
	fdb_learn_burst(fdb, macs, vlans, 6, 1, 10, res);
	for (k = 0; k < 4; k++)
		CHECK_EQ(res[k], FDB_LEARNED);
	CHECK_EQ(res[4], FDB_EVICTED);
	CHECK_EQ(res[5], FDB_EVICTED);
	fdb_lookup_burst(fdb, macs, vlans, 5, 10, ports);
	CHECK_EQ(ports[0], 1);
	CHECK_EQ(ports[1], FDB_PORT_NONE);
	CHECK_EQ(ports[2], 1);
	CHECK_EQ(ports[3], 1);
	CHECK_EQ(ports[4], 1);
	CHECK_EQ(fdb_count(fdb), 4);

	/* on another port, C moves; the same address twice in one burst is
	 * moved, then refreshed */
	macs[0] = pool[2];
	macs[1] = pool[2];
	fdb_learn_burst(fdb, macs, vlans, 2, 2, 11, res);
	CHECK_EQ(res[0], FDB_MOVED);
	CHECK_EQ(res[1], FDB_REFRESHED);
	CHECK_EQ(fdb_lookup(fdb, pool[2], 0, 11), 2);
	fdb_free(fdb);
}

static void test_fdb_burst_skips_absent_addresses(void)
{
	struct fdb *fdb = fdb_new(100, 100, AGE_MS);
	const uint8_t *macs[3] = {mac_a, NULL, mac_b};
	uint16_t vlans[3] = {5, 5, 5};
	enum fdb_learn_result res[3] = {FDB_FULL, FDB_FULL, FDB_FULL};
	uint32_t ports[3] = {0, 0, 0};

	fdb_learn_burst(fdb, macs, vlans, 3, 7, 1, res);
	CHECK_EQ(res[0], FDB_LEARNED);
	CHECK_EQ(res[1], FDB_FULL); /* not written */
	CHECK_EQ(res[2], FDB_LEARNED);
	CHECK_EQ(fdb_count(fdb), 2);
	fdb_lookup_burst(fdb, macs, vlans, 3, 1, ports);
	CHECK_EQ(ports[0], 7);
	CHECK_EQ(ports[1], FDB_PORT_NONE);
	CHECK_EQ(ports[2], 7);
	/* results NULL: learning still happens */
	fdb_learn_burst(fdb, macs, vlans, 3, 8, 2, NULL);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 5, 2), 8);
	/* expired entries answer no port, as fdb_lookup() does */
	fdb_lookup_burst(fdb, macs, vlans, 3, 2 + AGE_MS, ports);
	CHECK_EQ(ports[0], FDB_PORT_NONE);
	CHECK_EQ(ports[2], FDB_PORT_NONE);
	fdb_free(fdb);
}

/* burst_check_same() - the two tables answer alike for every address of
 * the pool, one by one and in bursts; return how many answers differed */
static unsigned burst_check_same(const struct fdb *a, const struct fdb *b,
				 uint32_t npool, uint16_t nvlans, uint64_t now)
{
	enum { CHUNK = 100 }; /* longer than FDB_BURST_MAX */
	const uint8_t *macs[CHUNK];
	uint8_t pool[CHUNK][6];
	uint16_t vlans[CHUNK];
	uint32_t ports[CHUNK];
	unsigned bad = 0;

	for (uint32_t k0 = 0; k0 < npool; k0 += CHUNK) {
		uint32_t n = npool - k0 < CHUNK ? npool - k0 : CHUNK;

		for (uint32_t j = 0; j < n; j++) {
			burst_pool_mac(k0 + j, pool[j]);
			macs[j] = pool[j];
			vlans[j] = (uint16_t)((k0 + j) % nvlans);
		}
		fdb_lookup_burst(a, macs, vlans, n, now, ports);
		for (uint32_t j = 0; j < n; j++)
			bad +=
			    ports[j] != fdb_lookup(b, macs[j], vlans[j], now);
	}
	bad += fdb_count(a) != fdb_count(b);
	return bad;
}

/**
 * burst_run() - random bursts into two tables, one through the burst
 * calls and one a call per address, with statics, removals, expiry and
 * flushes in between; both must answer alike throughout
 */
static void burst_run(uint32_t max_entries, uint32_t port_max, uint32_t npool,
		      unsigned rounds, uint32_t max_step_ms, uint64_t seed)
{
	enum { PORTS = 6, MAXB = 150, NVLANS = 3 };
	struct fdb *a = fdb_new(max_entries, port_max, AGE_MS);
	struct fdb *b = fdb_new(max_entries, port_max, AGE_MS);
	uint8_t pool[MAXB][6];
	const uint8_t *macs[MAXB];
	uint16_t vlans[MAXB];
	enum fdb_learn_result res[MAXB];
	struct fdb_stats sa, sb;
	uint64_t rng = seed, drng = ~seed, now = 1;
	unsigned bad = 0;

	fdb_set_port_group(a, 4, 99);
	fdb_set_port_group(b, 4, 99);
	fdb_set_port_group(a, 5, 99);
	fdb_set_port_group(b, 5, 99);
	fdb_set_group_limit(a, 99, port_max * 3 / 2);
	fdb_set_group_limit(b, 99, port_max * 3 / 2);
	for (unsigned r = 0; r < rounds; r++) {
		uint32_t n = 1 + test_below(&rng, MAXB);
		uint32_t port = test_below(&rng, PORTS);
		uint32_t op = test_below(&rng, 100);

		for (uint32_t j = 0; j < n; j++) {
			uint32_t k = test_below(&rng, npool);

			burst_pool_mac(k, pool[j]);
			/* a few absent: multicast sources the hub skips */
			macs[j] = test_below(&rng, 20) ? pool[j] : NULL;
			vlans[j] = (uint16_t)(k % NVLANS);
		}
		if (r % 2) {
			/* as the hub does it: learn, then look up others */
			const uint8_t *dsts[MAXB];
			uint8_t dpool[MAXB][6];
			uint32_t ports[MAXB];

			for (uint32_t j = 0; j < n; j++) {
				/* a stream of their own: the sources are
				 * the same as in the other rounds */
				uint32_t k = test_below(&drng, npool);

				burst_pool_mac(k, dpool[j]);
				dsts[j] = test_below(&drng, 20) ? dpool[j]
								: NULL;
			}
			fdb_forward_burst(a, macs, dsts, vlans, n, port, now,
					  ports);
			for (uint32_t j = 0; j < n; j++)
				if (macs[j])
					fdb_learn(b, macs[j], vlans[j], port,
						  now);
			for (uint32_t j = 0; j < n; j++)
				bad += ports[j] !=
				       (dsts[j] ? fdb_lookup(b, dsts[j],
							     vlans[j], now)
						: FDB_PORT_NONE);
		} else {
			fdb_learn_burst(a, macs, vlans, n, port, now, res);
			for (uint32_t j = 0; j < n; j++)
				if (macs[j])
					bad += res[j] !=
					       fdb_learn(b, macs[j], vlans[j],
							 port, now);
		}
		if (op < 5) { /* pin or unpin an address */
			uint8_t mac[6];
			uint32_t k = test_below(&rng, npool);

			burst_pool_mac(k, mac);
			if (op < 3)
				bad +=
				    fdb_add_static(a, mac, k % NVLANS, port) !=
				    fdb_add_static(b, mac, k % NVLANS, port);
			else
				bad += fdb_remove(a, mac, k % NVLANS) !=
				       fdb_remove(b, mac, k % NVLANS);
		} else if (op < 7) {
			bad += fdb_expire(a, now) != fdb_expire(b, now);
		} else if (op == 7) {
			bad += fdb_flush_port(a, port, false) !=
			       fdb_flush_port(b, port, false);
		}
		now += test_below(&rng, max_step_ms);
		if (r % (rounds / 10) == rounds / 10 - 1)
			bad += burst_check_same(a, b, npool, NVLANS, now);
	}
	bad += burst_check_same(a, b, npool, NVLANS, now);
	fdb_get_stats(a, &sa);
	fdb_get_stats(b, &sb);
	CHECK(!memcmp(&sa, &sb, sizeof(sa)));
	CHECK(sa.evicted > 0);
	CHECK(sa.moved > 0);
	CHECK(sa.expired > 0);
	CHECK_EQ(bad, 0);
	fdb_free(a);
	fdb_free(b);
}

static void test_fdb_burst_matches_single_calls(void)
{
	/* crowded: the smallest table at its load limit, long clusters,
	 * evictions and port limits inside bursts */
	burst_run(700, 200, 2000, 3000, AGE_MS / 20, 11);
	/* growing: bursts that grow the table under themselves */
	burst_run(20000, 8000, 30000, 1500, AGE_MS / 300, 12);
	/* big enough for the bursts to prefetch (fdb.c's
	 * FDB_PREFETCH_MIN_SLOTS), reached by growing in mid-burst */
	burst_run(30000, 30000, 200000, 2500, AGE_MS / 250, 13);
}

/* a table full at its load limit: every address collides with others in
 * its cluster; lookups in bursts find each, before and after half go */
static void test_fdb_burst_lookup_in_crowded_table(void)
{
	enum { N = 700, B = 64 };
	struct fdb *fdb = fdb_new(N, N, AGE_MS);
	uint8_t pool[B][6];
	const uint8_t *macs[B];
	uint16_t vlans[B] = {0};
	uint32_t ports[B];
	unsigned bad = 0;
	uint8_t mac[6];

	for (uint32_t k = 0; k < N; k++) {
		burst_pool_mac(k, mac);
		bad += fdb_learn(fdb, mac, 0, k % 7, 1) != FDB_LEARNED;
	}
	for (uint32_t k = 0; k < N; k += 2) { /* holes in every cluster */
		burst_pool_mac(k, mac);
		bad += !fdb_remove(fdb, mac, 0);
	}
	/* hits, misses (never learned or removed), and one address many
	 * times in one burst */
	for (uint32_t k0 = 0; k0 < 2 * N; k0 += B) {
		for (uint32_t j = 0; j < B; j++) {
			uint32_t k = j % 8 == 7 ? 1 : k0 + j;

			burst_pool_mac(k, pool[j]);
			macs[j] = pool[j];
		}
		fdb_lookup_burst(fdb, macs, vlans, B, 2, ports);
		for (uint32_t j = 0; j < B; j++) {
			uint32_t k = j % 8 == 7 ? 1 : k0 + j;
			uint32_t want = k < N && k % 2 ? k % 7 : FDB_PORT_NONE;

			bad += ports[j] != want;
		}
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(fdb_count(fdb), N / 2);
	fdb_free(fdb);
}

/* a million entries learned in bursts age out in one fdb_expire() pass
 * each: half, then the rest; the timed part must stay well within the
 * test's timeout, also under the sanitizers */
static void test_fdb_ages_a_million_entries(void)
{
	enum { N = 1 << 20, PORTS = 64, B = 64 };
	struct fdb *fdb = fdb_new(N, N, AGE_MS);
	uint8_t pool[B][6];
	const uint8_t *macs[B];
	uint16_t vlans[B];
	uint32_t ports[B];
	unsigned bad = 0;

	/* burst k holds addresses k*B.. of port k % PORTS; the first half
	 * learned at 0, the second at AGE_MS / 2 */
	for (uint32_t k0 = 0; k0 < N; k0 += B) {
		for (uint32_t j = 0; j < B; j++) {
			burst_pool_mac(k0 + j, pool[j]);
			macs[j] = pool[j];
			vlans[j] = (uint16_t)((k0 + j) & 0xfff);
		}
		fdb_learn_burst(fdb, macs, vlans, B, (k0 / B) % PORTS,
				k0 < N / 2 ? 0 : AGE_MS / 2, NULL);
	}
	CHECK_EQ(fdb_count(fdb), N);
	CHECK_EQ(fdb_port_count(fdb, 3), N / PORTS);
	CHECK_EQ(fdb_expire(fdb, AGE_MS - 1), 0);
	CHECK_EQ(fdb_expire(fdb, AGE_MS), N / 2);
	CHECK_EQ(fdb_count(fdb), N / 2);
	CHECK_EQ(fdb_port_count(fdb, 3), N / PORTS / 2);
	/* a sample of each half: gone, and still there */
	for (uint32_t k0 = 0; k0 < N; k0 += N / 16) {
		for (uint32_t j = 0; j < B; j++) {
			burst_pool_mac(k0 + j, pool[j]);
			macs[j] = pool[j];
			vlans[j] = (uint16_t)((k0 + j) & 0xfff);
		}
		fdb_lookup_burst(fdb, macs, vlans, B, AGE_MS, ports);
		for (uint32_t j = 0; j < B; j++)
			bad += ports[j] !=
			       (k0 < N / 2 ? FDB_PORT_NONE : (k0 / B) % PORTS);
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(fdb_expire(fdb, AGE_MS + AGE_MS / 2), N / 2);
	CHECK_EQ(fdb_count(fdb), 0);
	fdb_free(fdb);
}

/*
 * The reference model: one record per address, found by its index; every
 * rule of fdb.h written out the obvious way.
 */

#define MODEL_PORTS  8
#define MODEL_VLANS  3
#define MODEL_GROUPS 3 /* ports 0..5 are in group port % 3, 6 and 7 in none */
#define MODEL_NO_GROUP MODEL_GROUPS

static uint32_t model_group_of(uint32_t port)
{
	return port < 2 * MODEL_GROUPS ? port % MODEL_GROUPS : MODEL_NO_GROUP;
}

/* the name the table knows a model group by */
static uint64_t model_group_name(uint32_t g)
{
	return 0x1000 + g;
}

static const uint16_t model_vlan[MODEL_VLANS] = {0, 7, 4095};

struct model_entry {
	bool present, is_static;
	uint32_t port;
	uint64_t seen;
	uint64_t joined; /* when it came to its port, in model operations */
};

struct model {
	struct model_entry *e;
	uint32_t nkeys;
	uint32_t used, learned, port_learned[MODEL_PORTS];
	uint32_t group_learned[MODEL_GROUPS + 1];
	uint32_t max_entries, port_max, group_max;
	uint32_t port_limit[MODEL_PORTS], group_limit[MODEL_GROUPS];
	uint64_t age, seq;
	struct fdb_stats st;
	bool victim_unclear; /* an eviction found no single victim */
};

/* an address index's MAC: the index in the low four octets (so an entry
 * reported by fdb_foreach() leads back to it), VLAN by index % 3 */
static void model_addr(uint32_t id, uint8_t mac[6], uint16_t *vlan)
{
	uint32_t n = id / MODEL_VLANS;

	mac[0] = n ? 0x02 : 0; /* address 0 is 00:00:00:00:00:00, VLAN 0 */
	mac[1] = (uint8_t)(n * 37);
	mac[2] = (uint8_t)(n >> 24);
	mac[3] = (uint8_t)(n >> 16);
	mac[4] = (uint8_t)(n >> 8);
	mac[5] = (uint8_t)n;
	*vlan = model_vlan[id % MODEL_VLANS];
}

static uint32_t model_id(const struct fdb_entry_info *info)
{
	uint32_t n = (uint32_t)info->mac[2] << 24 |
		     (uint32_t)info->mac[3] << 16 |
		     (uint32_t)info->mac[4] << 8 | info->mac[5];
	uint32_t v;

	for (v = 0; v < MODEL_VLANS; v++) {
		if (model_vlan[v] == info->vlan)
			break;
	}
	return n * MODEL_VLANS + v;
}

static bool model_expired(const struct model *m, const struct model_entry *e,
			  uint64_t now)
{
	return !e->is_static && now >= e->seen && now - e->seen >= m->age;
}

static bool model_live(const struct model *m, const struct model_entry *e,
		       uint64_t now)
{
	return e->present && !model_expired(m, e, now);
}

static void model_drop(struct model *m, struct model_entry *e)
{
	if (!e->is_static) {
		m->learned--;
		m->port_learned[e->port]--;
		m->group_learned[model_group_of(e->port)]--;
	}
	e->present = false;
	m->used--;
}

/* model_join() - learned entry @e counts on @port, as its newest */
static void model_join(struct model *m, struct model_entry *e, uint32_t port)
{
	e->port = port;
	e->joined = ++m->seq;
	m->learned++;
	m->port_learned[port]++;
	m->group_learned[model_group_of(port)]++;
}

static uint32_t model_port_limit(const struct model *m, uint32_t port)
{
	return m->port_limit[port] == FDB_LIMIT_DEFAULT ? m->port_max
							: m->port_limit[port];
}

static bool model_group_full(const struct model *m, uint32_t port)
{
	uint32_t g = model_group_of(port), max;

	if (g == MODEL_NO_GROUP)
		return false;
	max = m->group_limit[g] == FDB_LIMIT_DEFAULT ? m->group_max
						     : m->group_limit[g];
	return m->group_learned[g] >= max;
}

/* model_oldest() - the learned entry that came to @port first, or NULL */
static struct model_entry *model_oldest(struct model *m, uint32_t port)
{
	struct model_entry *best = NULL;

	for (uint32_t id = 0; id < m->nkeys; id++) {
		struct model_entry *e = &m->e[id];

		if (e->present && !e->is_static && e->port == port &&
		    (!best || e->joined < best->joined))
			best = e;
	}
	return best;
}

static void model_addr(uint32_t id, uint8_t mac[6], uint16_t *vlan);

/**
 * model_evict() - what a full table does for a new address: the oldest
 * entry of a port holding the most goes.  Between ports that tie, the rule
 * does not say: the one the table dropped is found by asking it (with a
 * time at which the entry would still be live), and it must be exactly one
 * of the candidates.
 */
static void model_evict(struct model *m, const struct fdb *fdb)
{
	struct model_entry *victim = NULL;
	uint32_t most = 0, p, gone = 0;

	for (p = 0; p < MODEL_PORTS; p++)
		if (m->port_learned[p] > most)
			most = m->port_learned[p];
	for (p = 0; p < MODEL_PORTS; p++) {
		struct model_entry *e;
		struct fdb_entry_info info;
		uint8_t mac[6];
		uint16_t vlan;

		if (m->port_learned[p] != most)
			continue;
		e = model_oldest(m, p);
		model_addr((uint32_t)(e - m->e), mac, &vlan);
		if (!fdb_get(fdb, mac, vlan, e->seen, &info)) {
			victim = e;
			gone++;
		}
	}
	if (gone != 1) {
		m->victim_unclear = true;
		return;
	}
	model_drop(m, victim);
	m->st.evicted++;
}

/* model_trim_port() - drop the oldest entries of @port above @max */
static void model_trim_port(struct model *m, uint32_t port, uint32_t max)
{
	while (m->port_learned[port] > max) {
		model_drop(m, model_oldest(m, port));
		m->st.evicted++;
	}
}

/* model_trim_group() - fdb_set_group_limit()'s cut: the fullest port
 * (the lowest numbered of a tie) down to one below the next fullest */
static void model_trim_group(struct model *m, uint32_t g, uint32_t max)
{
	while (m->group_learned[g] > max) {
		uint32_t over = m->group_learned[g] - max, first = 0;
		uint32_t most = 0, second = 0, n;

		for (uint32_t p = 0; p < MODEL_PORTS; p++) {
			uint32_t c = m->port_learned[p];

			if (model_group_of(p) != g)
				continue;
			if (c > most) {
				second = most;
				most = c;
				first = p;
			} else if (c > second) {
				second = c;
			}
		}
		n = most - second + 1;
		n = n > most ? most : n;
		n = n > over ? over : n;
		model_trim_port(m, first, m->port_learned[first] - n);
	}
}

static enum fdb_learn_result model_learn(struct model *m,
					 const struct fdb *fdb, uint32_t id,
					 uint32_t port, uint64_t now)
{
	enum fdb_learn_result res = FDB_LEARNED;

	struct model_entry *e = &m->e[id];

	if (port >= FDB_PORT_NO_LIMIT) {
		m->st.port_full_drops++;
		return FDB_PORT_FULL;
	}
	if (e->present) {
		if (e->is_static)
			return FDB_STATIC;
		if (model_expired(m, e, now)) {
			model_drop(m, e);
			m->st.expired++;
		} else if (e->port == port) {
			e->seen = now;
			return FDB_REFRESHED;
		} else if (m->port_learned[port] >= model_port_limit(m, port)) {
			model_drop(m, e);
			m->st.port_full_drops++;
			return FDB_PORT_FULL;
		} else if (model_group_of(e->port) != model_group_of(port) &&
			   model_group_full(m, port)) {
			model_drop(m, e);
			m->st.group_full_drops++;
			return FDB_GROUP_FULL;
		} else {
			model_drop(m, e);
			m->used++;
			e->present = true;
			model_join(m, e, port);
			e->seen = now;
			m->st.moved++;
			return FDB_MOVED;
		}
	}
	if (m->port_learned[port] >= model_port_limit(m, port)) {
		m->st.port_full_drops++;
		return FDB_PORT_FULL;
	}
	if (model_group_full(m, port)) {
		m->st.group_full_drops++;
		return FDB_GROUP_FULL;
	}
	if (m->learned >= m->max_entries) {
		model_evict(m, fdb);
		res = FDB_EVICTED;
	}
	*e = (struct model_entry){.present = true, .seen = now};
	model_join(m, e, port);
	m->used++;
	m->st.learned++;
	return res;
}

static bool model_add_static(struct model *m, uint32_t id, uint32_t port)
{
	struct model_entry *e = &m->e[id];

	if (port >= FDB_PORT_NO_LIMIT)
		return false;
	if (e->present && e->is_static)
		return e->port == port;
	if (e->present)
		model_drop(m, e);
	*e = (struct model_entry){
	    .present = true, .is_static = true, .port = port};
	m->used++;
	return true;
}

/* model_sweep() - drop entries: of @port (any port if > MODEL_PORTS),
 * static ones too if @with_static, only expired ones if @now is set */
static unsigned model_sweep(struct model *m, uint32_t port, bool with_static,
			    const uint64_t *now)
{
	unsigned n = 0;
	uint32_t id;

	for (id = 0; id < m->nkeys; id++) {
		struct model_entry *e = &m->e[id];

		if (!e->present || (e->is_static && !with_static))
			continue;
		if (port < MODEL_PORTS && e->port != port)
			continue;
		if (now && !model_expired(m, e, *now))
			continue;
		model_drop(m, e);
		n++;
	}
	return n;
}

struct model_walk {
	const struct model *m;
	uint64_t now;
	unsigned n, bad;
};

static void model_check_entry(const struct fdb_entry_info *info, void *ctx)
{
	struct model_walk *w = ctx;
	uint32_t id = model_id(info);
	const struct model_entry *e;

	w->n++;
	if (id >= w->m->nkeys) {
		w->bad++;
		return;
	}
	e = &w->m->e[id];
	if (!model_live(w->m, e, w->now) || e->port != info->port_no ||
	    e->is_static != info->is_static ||
	    (e->is_static ? 0 : e->seen) != info->last_seen_ms)
		w->bad++;
}

struct model_config {
	uint32_t nkeys, max_entries, port_max, group_max;
	uint64_t age_ms;
	unsigned ops, max_step_ms;
	unsigned sweep_per_mille; /* how often to expire or flush */
	uint64_t seed;
};

#define MODEL_CHECK_EQ(a, b)                                                   \
	do {                                                                   \
		if ((long long)(a) != (long long)(b)) {                        \
			CHECK_EQ(a, b);                                        \
			printf("# ... at op %u, kind %u\n", op, kind);         \
			goto out;                                              \
		}                                                              \
	} while (0)

/**
 * model_run() - random operations on the table and the model in step
 * @cfg:	sizes, limits, how fast time runs, how many operations
 * @outcomes:	counts of each fdb_learn() answer, added to
 *
 * Every answer, the counts and the stats are compared after every
 * operation; the first difference fails the test and ends the run.
 */
static void model_run(const struct model_config *cfg,
		      unsigned outcomes[FDB_EVICTED + 1])
{
	struct fdb *fdb = fdb_new(cfg->max_entries, cfg->port_max, cfg->age_ms);
	struct model m = {
	    .nkeys = cfg->nkeys,
	    .max_entries = cfg->max_entries,
	    .port_max = cfg->port_max,
	    .group_max = cfg->group_max,
	    .age = cfg->age_ms,
	};
	uint64_t rng = cfg->seed, now = 1;
	unsigned op = 0, kind = 0, p;

	m.e = calloc(cfg->nkeys, sizeof(*m.e));
	if (!fdb || !m.e) {
		CHECK(!"out of memory");
		goto out;
	}
	fdb_set_group_max(fdb, cfg->group_max);
	for (p = 0; p < MODEL_PORTS; p++) {
		m.port_limit[p] = FDB_LIMIT_DEFAULT;
		if (model_group_of(p) != MODEL_NO_GROUP)
			CHECK(fdb_set_port_group(
			    fdb, p, model_group_name(model_group_of(p))));
	}
	for (p = 0; p < MODEL_GROUPS; p++)
		m.group_limit[p] = FDB_LIMIT_DEFAULT;
	for (op = 0; op < cfg->ops; op++) {
		/* most traffic comes from a few busy addresses */
		uint32_t id = test_below(
		    &rng, test_below(&rng, 4) ? cfg->nkeys / 8 : cfg->nkeys);
		/* and mostly from the port they were on before */
		uint32_t port = test_below(&rng, 8)
				    ? id % MODEL_PORTS
				    : test_below(&rng, MODEL_PORTS);
		uint32_t r = test_below(&rng, 1000);
		struct fdb_stats st;
		uint8_t mac[6];
		uint16_t vlan;

		now += test_below(&rng, cfg->max_step_ms + 1);
		model_addr(id, mac, &vlan);
		if (r < 480) {
			enum fdb_learn_result res;

			kind = 0;
			if (test_below(&rng, 500) == 0)
				port = FDB_PORT_NO_LIMIT + port;
			res = fdb_learn(fdb, mac, vlan, port, now);
			MODEL_CHECK_EQ(res,
				       model_learn(&m, fdb, id, port, now));
			MODEL_CHECK_EQ(m.victim_unclear, false);
			outcomes[res]++;
		} else if (r < 780) {
			const struct model_entry *e = &m.e[id];

			kind = 1;
			MODEL_CHECK_EQ(fdb_lookup(fdb, mac, vlan, now),
				       model_live(&m, e, now) ? e->port
							      : FDB_PORT_NONE);
		} else if (r < 820) {
			bool had = m.e[id].present;

			kind = 2;
			if (had)
				model_drop(&m, &m.e[id]);
			MODEL_CHECK_EQ(fdb_remove(fdb, mac, vlan), had);
		} else if (r < 840) {
			kind = 3;
			if (test_below(&rng, 50) == 0)
				port = FDB_PORT_NO_LIMIT;
			MODEL_CHECK_EQ(fdb_add_static(fdb, mac, vlan, port),
				       model_add_static(&m, id, port));
		} else if (r < 843) {
			kind = 4;
			m.max_entries =
			    1 + test_below(&rng, cfg->max_entries * 3 / 2);
			m.port_max =
			    1 + test_below(&rng, cfg->port_max * 3 / 2);
			m.age = 1 + test_below(&rng, (uint32_t)cfg->age_ms * 2);
			m.group_max =
			    1 + test_below(&rng, cfg->group_max * 3 / 2);
			fdb_set_limits(fdb, m.max_entries, m.port_max);
			fdb_set_group_max(fdb, m.group_max);
			fdb_set_age(fdb, m.age);
		} else if (r < 845) {
			/* a port's own limit: none, 0 (no learning), or any */
			uint32_t lim = test_below(&rng, 3) == 0
					   ? FDB_LIMIT_DEFAULT
					   : test_below(&rng, cfg->port_max);

			kind = 10;
			port %= MODEL_PORTS;
			m.port_limit[port] = lim;
			if (lim != FDB_LIMIT_DEFAULT)
				model_trim_port(&m, port, lim);
			MODEL_CHECK_EQ(fdb_set_port_limit(fdb, port, lim), true);
		} else if (r < 847) {
			uint32_t g = port % MODEL_GROUPS;
			uint32_t lim = test_below(&rng, 3) == 0
					   ? FDB_LIMIT_DEFAULT
					   : test_below(&rng, cfg->group_max);

			kind = 11;
			m.group_limit[g] = lim;
			if (lim != FDB_LIMIT_DEFAULT)
				model_trim_group(&m, g, lim);
			MODEL_CHECK_EQ(fdb_set_group_limit(
					   fdb, model_group_name(g), lim),
				       true);
		} else if (r < 843 + cfg->sweep_per_mille) {
			unsigned got, want;
			uint32_t which = test_below(&rng, 10);

			kind = 5 + (which < 6 ? 0 : which < 9 ? 1 : 2);
			if (which < 6) {
				got = fdb_expire(fdb, now);
				want = model_sweep(&m, MODEL_PORTS + 1, false,
						   &now);
				m.st.expired += want;
			} else if (which < 9) {
				bool with_static = which == 8;

				got = fdb_flush_port(fdb, port, with_static);
				want = model_sweep(&m, port, with_static, NULL);
				m.st.flushed += want;
			} else {
				got = fdb_flush(fdb);
				want = model_sweep(&m, MODEL_PORTS + 1, false,
						   NULL);
				m.st.flushed += want;
			}
			MODEL_CHECK_EQ(got, want);
		} else if (r < 853 + cfg->sweep_per_mille) {
			struct model_walk w = {.m = &m, .now = now};
			unsigned live = 0;
			uint32_t k;

			kind = 8;
			for (k = 0; k < m.nkeys; k++)
				live += model_live(&m, &m.e[k], now);
			fdb_foreach(fdb, now, model_check_entry, &w);
			MODEL_CHECK_EQ(w.bad, 0);
			MODEL_CHECK_EQ(w.n, live);
		} else {
			kind = 9;
			/* a quiet moment: time passes with no traffic */
			now += test_below(&rng, (uint32_t)cfg->age_ms / 64);
		}

		MODEL_CHECK_EQ(fdb_count(fdb), m.used);
		for (p = 0; p < MODEL_PORTS; p++)
			MODEL_CHECK_EQ(fdb_port_count(fdb, p),
				       m.port_learned[p]);
		for (p = 0; p < MODEL_GROUPS; p++)
			MODEL_CHECK_EQ(fdb_group_count(fdb, model_group_name(p)),
				       m.group_learned[p]);
		fdb_get_stats(fdb, &st);
		MODEL_CHECK_EQ(st.learned, m.st.learned);
		MODEL_CHECK_EQ(st.evicted, m.st.evicted);
		MODEL_CHECK_EQ(st.group_full_drops, m.st.group_full_drops);
		MODEL_CHECK_EQ(st.moved, m.st.moved);
		MODEL_CHECK_EQ(st.expired, m.st.expired);
		MODEL_CHECK_EQ(st.flushed, m.st.flushed);
		MODEL_CHECK_EQ(st.full_drops, m.st.full_drops);
		MODEL_CHECK_EQ(st.port_full_drops, m.st.port_full_drops);
	}
out:
	free(m.e);
	fdb_free(fdb);
}

static void test_fdb_matches_reference_model(void)
{
	static const struct model_config cfgs[] = {
	    /* a crowded smallest table: limits, moves, wrapped clusters */
	    {.nkeys = 1500,
	     .max_entries = 600,
	     .port_max = 120,
	     .group_max = 200,
	     .age_ms = 6000,
	     .ops = 100000,
	     .max_step_ms = 6,
	     .sweep_per_mille = 25,
	     .seed = 1},
	    /* a table that grows through several sizes */
	    {.nkeys = 36000,
	     .max_entries = 24000,
	     .port_max = 5000,
	     .group_max = 8000,
	     .age_ms = 200000,
	     .ops = 100000,
	     .max_step_ms = 4,
	     .sweep_per_mille = 3,
	     .seed = 2},
	};
	unsigned outcomes[FDB_EVICTED + 1] = {0};
	unsigned c, r;

	for (c = 0; c < sizeof(cfgs) / sizeof(cfgs[0]); c++)
		model_run(&cfgs[c], outcomes);
	/* the run must have reached every answer fdb_learn() can give but
	 * FDB_FULL (memory ran out) */
	for (r = 0; r <= FDB_EVICTED; r++) {
		if (r == FDB_FULL)
			continue;
		printf("# learn answer %u: %u times\n", r, outcomes[r]);
		CHECK(outcomes[r] > 0);
	}
}

int main(void)
{
	TAP_RUN(test_fdb_learns_and_looks_up);
	TAP_RUN(test_fdb_entry_moves_with_mac);
	TAP_RUN(test_fdb_move_to_full_port_forgets_entry);
	TAP_RUN(test_fdb_vlans_are_separate);
	TAP_RUN(test_fdb_entries_age_out);
	TAP_RUN(test_fdb_learn_refreshes_age);
	TAP_RUN(test_fdb_learn_replaces_expired_entry);
	TAP_RUN(test_fdb_global_limit);
	TAP_RUN(test_fdb_port_limit);
	TAP_RUN(test_fdb_lowered_limits_keep_entries);
	TAP_RUN(test_fdb_refuses_absurd_port_numbers);
	TAP_RUN(test_fdb_flush_port_keeps_static);
	TAP_RUN(test_fdb_static_wins_over_learning);
	TAP_RUN(test_fdb_static_replaces_learned_entry);
	TAP_RUN(test_fdb_foreach_reports_live_entries);
	TAP_RUN(test_fdb_expire_with_wraparound_cluster);
	TAP_RUN(test_fdb_full_table_evicts_from_fullest_port);
	TAP_RUN(test_fdb_eviction_follows_the_fullest_port);
	TAP_RUN(test_fdb_static_never_evicted);
	TAP_RUN(test_fdb_group_limit_shared_by_its_ports);
	TAP_RUN(test_fdb_port_mac_limit);
	TAP_RUN(test_fdb_group_limit_trims_fullest_port);
	TAP_RUN(test_fdb_eviction_lists_survive_growth);
	TAP_RUN(test_fdb_grows_to_100k);
	TAP_RUN(test_fdb_burst_learn_sees_its_own_evictions);
	TAP_RUN(test_fdb_burst_skips_absent_addresses);
	TAP_RUN(test_fdb_burst_matches_single_calls);
	TAP_RUN(test_fdb_burst_lookup_in_crowded_table);
	TAP_RUN(test_fdb_ages_a_million_entries);
	TAP_RUN(test_fdb_matches_reference_model);
	return tap_done();
}
