// SPDX-License-Identifier: MIT
/* fdb_bench.c - how long one MAC table lookup and one refresh take
 *
 * For tables of 1K, 10K, 64K, 100K and 1M learned entries, times hit
 * lookups, miss lookups and refreshes (an address seen again on its own
 * port, what fdb_learn() does for almost every frame) over addresses drawn
 * at random from the table, so each operation lands somewhere else in
 * memory: one call per address, and then in bursts of BENCH_BURST through
 * fdb_lookup_burst() and fdb_learn_burst(), as the hub calls them.  The
 * claim it checks: the cost per operation in bursts stays roughly flat from
 * 1K to 1M entries, the table's memory waits overlapping within a burst.
 *
 * Then, with the table full, times learning new addresses: each one evicts
 * the oldest entry of the fullest port (what a flood of made-up source
 * MACs costs the switch).
 *
 * Usage: fdb_bench [--json]   (a table on stdout, or one JSON object)
 *
 * Standalone: needs only switch/fdb.c.  Never asserts on timings.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fdb.h"

#define BENCH_QUERIES (1u << 21) /* operations per timed run */
#define BENCH_RUNS    3		 /* timed runs; the fastest counts */
#define BENCH_PORTS   64
#define BENCH_VLANS   4
#define BENCH_BURST   64 /* frames that share one clock reading */
#define BENCH_AGE_MS  (3600u * 1000u)

struct bench_query {
	uint8_t mac[6];
	uint16_t vlan;
	uint32_t port_no;
};

struct bench_result {
	uint32_t entries;
	double learn_new_ns, lookup_hit_ns, lookup_miss_ns, refresh_ns;
	double learn_evict_ns;
	double burst_hit_ns, burst_miss_ns, burst_refresh_ns;
};

/* results are folded in here so no timed call can be optimised away */
static volatile uint64_t bench_sink;

static uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t bench_rand(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* bench_query_of() - the @i-th address: distinct for distinct @i and
 * spread over the whole 48 bits, as real vendor MACs are not */
static void bench_query_of(uint64_t i, struct bench_query *q)
{
	uint64_t x = (i * 0x5deece66dULL + 11) & ((1ULL << 48) - 1);
	int b;

	x ^= x >> 24;
	x = (x * 0x2545f4914f6dULL) & ((1ULL << 48) - 1);
	for (b = 0; b < 6; b++)
		q->mac[b] = (uint8_t)(x >> (40 - 8 * b));
	q->vlan = (uint16_t)(i % BENCH_VLANS);
	q->port_no = (uint32_t)(i % BENCH_PORTS);
}

static double bench_lookups(const struct fdb *fdb, const struct bench_query *qs,
			    uint64_t now_ms)
{
	uint64_t t0 = bench_now_ns(), sum = 0;
	uint32_t i;

	for (i = 0; i < BENCH_QUERIES; i++)
		sum += fdb_lookup(fdb, qs[i].mac, qs[i].vlan, now_ms);
	bench_sink += sum;
	return (double)(bench_now_ns() - t0) / BENCH_QUERIES;
}

static double bench_refreshes(struct fdb *fdb, const struct bench_query *qs,
			      uint64_t now_ms)
{
	uint64_t t0 = bench_now_ns(), sum = 0;
	uint32_t i;

	for (i = 0; i < BENCH_QUERIES; i++)
		sum += fdb_learn(fdb, qs[i].mac, qs[i].vlan, qs[i].port_no,
				 now_ms + i / BENCH_BURST);
	bench_sink += sum;
	return (double)(bench_now_ns() - t0) / BENCH_QUERIES;
}

/* bench_burst_of() - the addresses of @qs[0..BENCH_BURST) as the burst
 * calls take them */
static void bench_burst_of(const struct bench_query *qs,
			   const uint8_t *macs[BENCH_BURST],
			   uint16_t vlans[BENCH_BURST])
{
	for (unsigned k = 0; k < BENCH_BURST; k++) {
		macs[k] = qs[k].mac;
		vlans[k] = qs[k].vlan;
	}
}

static double bench_lookup_bursts(const struct fdb *fdb,
				  const struct bench_query *qs, uint64_t now_ms)
{
	uint64_t t0 = bench_now_ns(), sum = 0;
	const uint8_t *macs[BENCH_BURST];
	uint16_t vlans[BENCH_BURST];
	uint32_t ports[BENCH_BURST];

	for (uint32_t i = 0; i < BENCH_QUERIES; i += BENCH_BURST) {
		bench_burst_of(qs + i, macs, vlans);
		fdb_lookup_burst(fdb, macs, vlans, BENCH_BURST, now_ms, ports);
		sum += ports[0];
	}
	bench_sink += sum;
	return (double)(bench_now_ns() - t0) / BENCH_QUERIES;
}

/* bench_refresh_bursts() - as bench_refreshes(), in bursts whose addresses
 * all belong to one port (the first's), as a switch receives a burst from
 * one port: see bench_size() */
static double bench_refresh_bursts(struct fdb *fdb,
				   const struct bench_query *qs,
				   uint64_t now_ms)
{
	uint64_t t0 = bench_now_ns(), sum = 0;
	enum fdb_learn_result res[BENCH_BURST];
	const uint8_t *macs[BENCH_BURST];
	uint16_t vlans[BENCH_BURST];

	for (uint32_t i = 0; i < BENCH_QUERIES; i += BENCH_BURST) {
		bench_burst_of(qs + i, macs, vlans);
		fdb_learn_burst(fdb, macs, vlans, BENCH_BURST, qs[i].port_no,
				now_ms + i / BENCH_BURST, res);
		sum += res[0];
	}
	bench_sink += sum;
	return (double)(bench_now_ns() - t0) / BENCH_QUERIES;
}

static double bench_min(double a, double b)
{
	return a < b ? a : b;
}

/**
 * bench_size() - fill a table with @entries addresses and time it
 * @entries:	how many addresses to learn (also the table's limits)
 * @hits:	scratch for BENCH_QUERIES queries
 * @misses:	scratch for BENCH_QUERIES queries
 * @bursts:	scratch for BENCH_QUERIES queries
 * @res:	filled with the fastest of BENCH_RUNS runs of each operation
 *
 * Return: 0, or -1 if memory ran out or an address was not learned.
 */
static int bench_size(uint32_t entries, struct bench_query *hits,
		      struct bench_query *misses, struct bench_query *bursts,
		      struct bench_result *res)
{
	struct fdb *fdb = fdb_new(entries, entries, BENCH_AGE_MS);
	uint64_t rng = 0x2545f4914f6cdd1dULL ^ entries, now_ms = 1000, t0;
	struct bench_query q;
	uint32_t i;
	int run;

	if (!fdb)
		return -1;
	t0 = bench_now_ns();
	for (i = 0; i < entries; i++) {
		bench_query_of(i, &q);
		if (fdb_learn(fdb, q.mac, q.vlan, q.port_no, now_ms) !=
		    FDB_LEARNED) {
			fdb_free(fdb);
			return -1;
		}
	}
	res->entries = entries;
	res->learn_new_ns = (double)(bench_now_ns() - t0) / entries;

	for (i = 0; i < BENCH_QUERIES; i++) {
		bench_query_of(bench_rand(&rng) % entries, &hits[i]);
		/* indices above the table's never were learned */
		bench_query_of(entries + bench_rand(&rng) % entries,
			       &misses[i]);
	}
	/* hits again, but each burst's all of one port: the i-th address
	 * is on port i % BENCH_PORTS */
	for (i = 0; i < BENCH_QUERIES; i++) {
		uint32_t port = (i / BENCH_BURST) % BENCH_PORTS;
		uint32_t r = (uint32_t)(bench_rand(&rng) % entries);

		r = r - r % BENCH_PORTS + port;
		if (r >= entries)
			r -= BENCH_PORTS;
		bench_query_of(r, &bursts[i]);
	}

	res->lookup_hit_ns = res->lookup_miss_ns = res->refresh_ns = 1e30;
	res->burst_hit_ns = res->burst_miss_ns = res->burst_refresh_ns = 1e30;
	bench_lookups(fdb, hits, now_ms); /* warm caches and the CPU up */
	for (run = 0; run < BENCH_RUNS; run++) {
		res->lookup_hit_ns = bench_min(
		    res->lookup_hit_ns, bench_lookups(fdb, hits, now_ms));
		res->lookup_miss_ns = bench_min(
		    res->lookup_miss_ns, bench_lookups(fdb, misses, now_ms));
		res->refresh_ns = bench_min(res->refresh_ns,
					    bench_refreshes(fdb, hits, now_ms));
		now_ms += BENCH_QUERIES / BENCH_BURST;
		res->burst_hit_ns = bench_min(
		    res->burst_hit_ns, bench_lookup_bursts(fdb, hits, now_ms));
		res->burst_miss_ns =
		    bench_min(res->burst_miss_ns,
			      bench_lookup_bursts(fdb, misses, now_ms));
		res->burst_refresh_ns =
		    bench_min(res->burst_refresh_ns,
			      bench_refresh_bursts(fdb, bursts, now_ms));
		now_ms += BENCH_QUERIES / BENCH_BURST;
	}

	/* a full table: every new address evicts one; indices above the
	 * misses' never were looked up */
	t0 = bench_now_ns();
	for (i = 0; i < entries; i++) {
		bench_query_of(2ull * entries + i, &q);
		if (fdb_learn(fdb, q.mac, q.vlan, q.port_no, now_ms) !=
		    FDB_EVICTED) {
			fdb_free(fdb);
			return -1;
		}
	}
	res->learn_evict_ns = (double)(bench_now_ns() - t0) / entries;
	if (fdb_count(fdb) != entries) {
		fdb_free(fdb);
		return -1;
	}
	fdb_free(fdb);
	return 0;
}

int main(int argc, char **argv)
{
	static const uint32_t sizes[] = {1000, 10000, 65536, 100000, 1000000};
	enum { NSIZES = sizeof(sizes) / sizeof(sizes[0]) };
	struct bench_result res[NSIZES];
	struct bench_query *hits, *misses, *bursts;
	bool json = argc > 1 && !strcmp(argv[1], "--json");
	unsigned s;

	if (argc > 2 || (argc == 2 && !json)) {
		fprintf(stderr, "usage: %s [--json]\n", argv[0]);
		return 2;
	}
	hits = calloc(BENCH_QUERIES, sizeof(*hits));
	misses = calloc(BENCH_QUERIES, sizeof(*misses));
	bursts = calloc(BENCH_QUERIES, sizeof(*bursts));
	for (s = 0; hits && misses && bursts && s < NSIZES; s++) {
		if (bench_size(sizes[s], hits, misses, bursts, &res[s]))
			break;
	}
	free(hits);
	free(misses);
	free(bursts);
	if (s < NSIZES) {
		fprintf(stderr,
			"fdb_bench: %u entries: out of memory, "
			"not learned or not evicted\n",
			sizes[s]);
		return 1;
	}

	if (json) {
		printf("{\"bench\": \"fdb\", \"unit\": \"ns/op\", "
		       "\"queries_per_run\": %u, \"results\": [",
		       BENCH_QUERIES);
		for (s = 0; s < NSIZES; s++)
			printf(
			    "%s\n  {\"entries\": %u, \"lookup_hit_ns\": %.2f, "
			    "\"lookup_miss_ns\": %.2f, "
			    "\"learn_refresh_ns\": %.2f, "
			    "\"learn_new_ns\": %.2f, "
			    "\"learn_evict_ns\": %.2f, "
			    "\"burst_lookup_hit_ns\": %.2f, "
			    "\"burst_lookup_miss_ns\": %.2f, "
			    "\"burst_learn_refresh_ns\": %.2f}",
			    s ? "," : "", res[s].entries, res[s].lookup_hit_ns,
			    res[s].lookup_miss_ns, res[s].refresh_ns,
			    res[s].learn_new_ns, res[s].learn_evict_ns,
			    res[s].burst_hit_ns, res[s].burst_miss_ns,
			    res[s].burst_refresh_ns);
		printf("\n]}\n");
		return 0;
	}
	printf("fdb_bench: ns per operation, random addresses, best of %d "
	       "runs of %u\n\n",
	       BENCH_RUNS, BENCH_QUERIES);
	printf("%10s %11s %11s %13s %11s %11s %11s %11s %13s\n", "entries",
	       "lookup hit", "lookup miss", "learn refresh", "learn new",
	       "learn evict", "burst hit", "burst miss", "burst refresh");
	for (s = 0; s < NSIZES; s++)
		printf("%10u %11.1f %11.1f %13.1f %11.1f %11.1f %11.1f %11.1f "
		       "%13.1f\n",
		       res[s].entries, res[s].lookup_hit_ns,
		       res[s].lookup_miss_ns, res[s].refresh_ns,
		       res[s].learn_new_ns, res[s].learn_evict_ns,
		       res[s].burst_hit_ns, res[s].burst_miss_ns,
		       res[s].burst_refresh_ns);
	return 0;
}
