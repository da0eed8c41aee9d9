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
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 7, 0), FDB_FULL);
	CHECK_EQ(fdb_lookup(fdb, mac_a, 0, 0), FDB_PORT_NONE);
	fdb_get_stats(fdb, &st);
	CHECK_EQ(st.full_drops, 1);
	CHECK_EQ(st.learned, 3);
	/* known addresses still refresh and move when the table is full */
	CHECK_EQ(fdb_learn(fdb, mac, 0, 2, 1), FDB_REFRESHED);
	CHECK_EQ(fdb_learn(fdb, mac, 0, 5, 1), FDB_MOVED);
	/* static entries do not count against the limit */
	CHECK(fdb_add_static(fdb, mac_b, 0, 9));
	CHECK(fdb_add_static(fdb, mac_c, 0, 9));
	CHECK_EQ(fdb_count(fdb), 5);
	CHECK(fdb_remove(fdb, mac, 0));
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 7, 2), FDB_LEARNED);
	CHECK_EQ(fdb_learn(fdb, mac, 0, 7, 2), FDB_FULL);
	/* expired but unreclaimed entries still count, until fdb_expire() */
	CHECK_EQ(fdb_learn(fdb, mac, 0, 7, 2 + AGE_MS), FDB_FULL);
	CHECK_EQ(fdb_expire(fdb, 2 + AGE_MS), 3);
	CHECK_EQ(fdb_learn(fdb, mac, 0, 7, 2 + AGE_MS), FDB_LEARNED);
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
	/* the global limit is checked first */
	fdb_set_limits(fdb, 3, 2);
	CHECK_EQ(fdb_learn(fdb, mac_c, 0, 1, 0), FDB_FULL);
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
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 2, 1), FDB_FULL);
	for (i = 0; i < 3; i++)
		CHECK(fdb_remove(fdb, mac[i], 0));
	CHECK(!fdb_remove(fdb, mac[0], 0));
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 1, 1), FDB_PORT_FULL);
	CHECK_EQ(fdb_learn(fdb, mac_a, 0, 2, 1), FDB_LEARNED);
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
	mac_from_u64(scatter48(N), mac);
	CHECK_EQ(fdb_learn(fdb, mac, 0, 0, 1), FDB_FULL);

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
 * The reference model: one record per address, found by its index; every
 * rule of fdb.h written out the obvious way.
 */

#define MODEL_PORTS 8
#define MODEL_VLANS 3

static const uint16_t model_vlan[MODEL_VLANS] = {0, 7, 4095};

struct model_entry {
	bool present, is_static;
	uint32_t port;
	uint64_t seen;
};

struct model {
	struct model_entry *e;
	uint32_t nkeys;
	uint32_t used, learned, port_learned[MODEL_PORTS];
	uint32_t max_entries, port_max;
	uint64_t age;
	struct fdb_stats st;
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
	}
	e->present = false;
	m->used--;
}

static enum fdb_learn_result model_learn(struct model *m, uint32_t id,
					 uint32_t port, uint64_t now)
{
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
		} else if (m->port_learned[port] >= m->port_max) {
			model_drop(m, e);
			m->st.port_full_drops++;
			return FDB_PORT_FULL;
		} else {
			m->port_learned[e->port]--;
			m->port_learned[port]++;
			e->port = port;
			e->seen = now;
			m->st.moved++;
			return FDB_MOVED;
		}
	}
	if (m->learned >= m->max_entries) {
		m->st.full_drops++;
		return FDB_FULL;
	}
	if (m->port_learned[port] >= m->port_max) {
		m->st.port_full_drops++;
		return FDB_PORT_FULL;
	}
	*e = (struct model_entry){.present = true, .port = port, .seen = now};
	m->used++;
	m->learned++;
	m->port_learned[port]++;
	m->st.learned++;
	return FDB_LEARNED;
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
	uint32_t nkeys, max_entries, port_max;
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
		      unsigned outcomes[FDB_PORT_FULL + 1])
{
	struct fdb *fdb = fdb_new(cfg->max_entries, cfg->port_max, cfg->age_ms);
	struct model m = {
	    .nkeys = cfg->nkeys,
	    .max_entries = cfg->max_entries,
	    .port_max = cfg->port_max,
	    .age = cfg->age_ms,
	};
	uint64_t rng = cfg->seed, now = 1;
	unsigned op = 0, kind = 0, p;

	m.e = calloc(cfg->nkeys, sizeof(*m.e));
	if (!fdb || !m.e) {
		CHECK(!"out of memory");
		goto out;
	}
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
			MODEL_CHECK_EQ(res, model_learn(&m, id, port, now));
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
			fdb_set_limits(fdb, m.max_entries, m.port_max);
			fdb_set_age(fdb, m.age);
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
		fdb_get_stats(fdb, &st);
		MODEL_CHECK_EQ(st.learned, m.st.learned);
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
	     .age_ms = 6000,
	     .ops = 100000,
	     .max_step_ms = 6,
	     .sweep_per_mille = 25,
	     .seed = 1},
	    /* a table that grows through several sizes */
	    {.nkeys = 36000,
	     .max_entries = 24000,
	     .port_max = 5000,
	     .age_ms = 200000,
	     .ops = 100000,
	     .max_step_ms = 4,
	     .sweep_per_mille = 3,
	     .seed = 2},
	};
	unsigned outcomes[FDB_PORT_FULL + 1] = {0};
	unsigned c, r;

	for (c = 0; c < sizeof(cfgs) / sizeof(cfgs[0]); c++)
		model_run(&cfgs[c], outcomes);
	/* the run must have reached every answer fdb_learn() can give */
	for (r = 0; r <= FDB_PORT_FULL; r++) {
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
	TAP_RUN(test_fdb_grows_to_100k);
	TAP_RUN(test_fdb_matches_reference_model);
	return tap_done();
}
