// SPDX-License-Identifier: MIT
/* hub_bench.c - what forwarding a frame through one hub costs, by table size
 *
 * Two ports on hub 0, each of a netdev whose backend takes every frame it is
 * sent and drops it at once.  Port 1 first announces N/2 source MACs, port 0
 * another N/2; then bursts of 64-byte frames go into port 0 (port_input(),
 * the backends' entry) from its addresses to port 1's, in the order the
 * traffic generator uses (the k-th frame from address k mod N/2 to address
 * k mod N/2 of the other side), and every one is learned, looked up and
 * sent.  The time per frame covers what the switch does for a received
 * burst: building the frames (as a backend copies them in), learning,
 * looking up, egress batching and the (empty) send.
 *
 * The sizes alternate, round after round, so that load from other work on
 * a shared machine falls on all of them alike; each size's median round is
 * reported, and the ratio of the forwarding rate at each size to the rate
 * at the first.  The claim it checks (issue 18): forwarding at 1 M MACs at
 * least 0.8 times as fast as at 1 K.
 *
 * Usage: hub_bench [--rounds N]   (default 7)
 *
 * Never asserts on timings; exits non-zero only if a frame went astray.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "backend.h"
#include "frame.h"
#include "hub.h"
#include "netdev.h"
#include "port.h"

#define BENCH_BURST	64
#define BENCH_FRAMES	(1u << 21) /* frames per timed round and size */
#define BENCH_FRAME_LEN 64
#define BENCH_ROUNDS	7

static const uint32_t bench_sizes[] = {1024, 65536, 1u << 20};
enum { BENCH_NSIZES = sizeof(bench_sizes) / sizeof(bench_sizes[0]) };

static uint64_t bench_sent; /* frames the sink backend took */

static unsigned sink_send(struct port *p, struct frame *const *frames,
			  unsigned n)
{
	(void)p;
	frame_unref_many(frames, n);
	bench_sent += n;
	return n;
}

static bool sink_open(struct netdev *nd, const json_t *o, struct nh_error **e)
{
	(void)nd;
	(void)o;
	(void)e;
	return true;
}

static void sink_close(struct netdev *nd)
{
	(void)nd;
}

static const struct backend_ops sink_ops = {
    .type = "sink",
    .open = sink_open,
    .close = sink_close,
    .send = sink_send,
};

static uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* bench_mac() - address @k of side @side: 02:SS plus a 32-bit index, as
 * nethub-bench numbers its addresses */
static void bench_mac(unsigned side, uint32_t k, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = (uint8_t)side;
	mac[2] = (uint8_t)(k >> 24);
	mac[3] = (uint8_t)(k >> 16);
	mac[4] = (uint8_t)(k >> 8);
	mac[5] = (uint8_t)k;
}

/* bench_burst() - @n frames from side @from's addresses @k.. to the same
 * indices of side @to (broadcast if @to is negative), into @frames */
static void bench_burst(struct frame **frames, unsigned n, unsigned from,
			int to, uint32_t k, uint32_t per_side)
{
	for (unsigned i = 0; i < n; i++) {
		struct frame *f = frame_alloc(BENCH_FRAME_LEN);
		uint32_t a = (k + i) % per_side;

		memset(f->data, 0, BENCH_FRAME_LEN);
		if (to < 0)
			memset(f->data, 0xff, 6);
		else
			bench_mac((unsigned)to, a, f->data);
		bench_mac(from, a, f->data + 6);
		f->data[12] = 0x08;
		frames[i] = f;
	}
}

/* bench_learn() - every address of both sides announced (broadcasts) */
static void bench_learn(struct port **ports, uint32_t per_side)
{
	struct frame *frames[BENCH_BURST];

	for (unsigned side = 0; side < 2; side++)
		for (uint32_t k = 0; k < per_side; k += BENCH_BURST) {
			unsigned n = per_side - k < BENCH_BURST ? per_side - k
								: BENCH_BURST;

			bench_burst(frames, n, side, -1, k, per_side);
			port_input(ports[side], frames, n);
		}
}

/* bench_round() - forward BENCH_FRAMES frames from port 0 to port 1;
 * return ns per frame, or a negative number if some did not arrive */
static double bench_round(struct port **ports, uint32_t per_side,
			  uint32_t *next)
{
	struct frame *frames[BENCH_BURST];
	uint64_t sent = bench_sent, t0 = bench_now_ns();

	for (uint32_t i = 0; i < BENCH_FRAMES; i += BENCH_BURST) {
		bench_burst(frames, BENCH_BURST, 0, 1, *next, per_side);
		*next = (*next + BENCH_BURST) % per_side;
		port_input(ports[0], frames, BENCH_BURST);
	}
	if (bench_sent - sent != BENCH_FRAMES)
		return -1;
	return (double)(bench_now_ns() - t0) / BENCH_FRAMES;
}

static int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	static struct netdev nds[BENCH_NSIZES][2];
	struct port *ports[BENCH_NSIZES][2];
	double ns[BENCH_NSIZES][64], med[BENCH_NSIZES];
	uint32_t next[BENCH_NSIZES] = {0};
	struct hub_config cfg;
	struct frame_pool *pool;
	int rounds = BENCH_ROUNDS;

	if (argc == 3 && !strcmp(argv[1], "--rounds"))
		rounds = atoi(argv[2]);
	if ((argc != 1 && argc != 3) || rounds < 1 || rounds > 64) {
		fprintf(stderr, "usage: %s [--rounds N (1-64)]\n", argv[0]);
		return 2;
	}
	pool = frame_pool_new(4 * BENCH_BURST, 0);
	frame_pool_set_current(pool);
	hub_get_config(&cfg);
	cfg.fdb_max = cfg.fdb_port_max = cfg.fdb_netdev_max = 1u << 21;
	hub_configure(&cfg);
	/* one hub per size, all alive at once: hub s, ports "sS.0" "sS.1" */
	for (unsigned s = 0; s < BENCH_NSIZES; s++) {
		for (unsigned i = 0; i < 2; i++) {
			struct netdev *nd = &nds[s][i];

			snprintf(nd->id, sizeof(nd->id), "s%u.%u", s, i);
			nd->ops = &sink_ops;
			nd->hubid = (int32_t)s;
			nd->loop = uv_default_loop();
			nd->link_up = true;
			ports[s][i] = port_new(nd, NULL, NULL);
		}
		bench_learn(ports[s], bench_sizes[s] / 2);
	}
	for (int r = 0; r < rounds; r++)
		for (unsigned s = 0; s < BENCH_NSIZES; s++) {
			ns[s][r] =
			    bench_round(ports[s], bench_sizes[s] / 2, &next[s]);
			if (ns[s][r] < 0) {
				fprintf(stderr,
					"hub_bench: %u MACs: frames lost\n",
					bench_sizes[s]);
				return 1;
			}
		}
	printf("hub_bench: ns per forwarded 64-byte frame, bursts of %d, "
	       "median of %d rounds of %u frames\n\n",
	       BENCH_BURST, rounds, BENCH_FRAMES);
	printf("%10s %10s %10s %14s %12s\n", "MACs", "median", "best",
	       "frames/s", "rate / 1st");
	for (unsigned s = 0; s < BENCH_NSIZES; s++) {
		qsort(ns[s], (size_t)rounds, sizeof(double), bench_cmp);
		med[s] = ns[s][rounds / 2];
		printf("%10u %10.1f %10.1f %14.0f %12.2f\n", bench_sizes[s],
		       med[s], ns[s][0], 1e9 / med[s], med[0] / med[s]);
	}
	for (unsigned s = 0; s < BENCH_NSIZES; s++)
		for (unsigned i = 0; i < 2; i++)
			port_free(ports[s][i]);
	frame_pool_free(pool);
	return 0;
}
