/* SPDX-License-Identifier: MIT */
/* test_bench.c - nethub-bench's measurement math: latency histogram,
 * percentiles, rates, pacing, the bench frame header and the sink's loss
 * and reorder accounting; the patterns' MAC choice, broadcast loss,
 * sweep lists, the JSON and table reports and the plot files; the
 * vhost-user front-end's split rings (posting, publishing, reaping, a
 * back-end's bad used entries) and its socket path templates.
 *
 * It links nethub-bench's library (everything but main()) and calls the
 * functions bench/bench.h declares.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "tap.h"

static void test_lat_bucket_exact_below_64_ns(void)
{
	uint64_t v, width;

	for (v = 0; v < 2 * LAT_SUB; v++) {
		CHECK_EQ(lat_bucket_low(lat_bucket(v), &width), v);
		CHECK_EQ(width, 1);
	}
}

static void test_lat_bucket_holds_value_within_3_percent(void)
{
	uint64_t v, low, width, x = 88172645463325252ull;
	unsigned i;

	for (i = 0; i < 100000; i++) {
		/* xorshift: values spread over every power of two */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = x >> (x % 40 + 24); /* below 2^40 */
		low = lat_bucket_low(lat_bucket(v), &width);
		CHECK(low <= v && v < low + width);
		CHECK(width == 1 || (double)width / (double)low <= 1.0 / 32);
		CHECK(lat_bucket(v) < LAT_BUCKETS);
	}
	CHECK_EQ(lat_bucket(UINT64_MAX), LAT_BUCKETS - 1);
}

static void test_lat_bucket_is_monotonic(void)
{
	uint64_t v;
	unsigned prev = 0;

	for (v = 0; v < (1u << 20); v += 7) {
		CHECK(lat_bucket(v) >= prev);
		prev = lat_bucket(v);
	}
}

static void test_lat_hist_percentiles_of_1_to_100(void)
{
	struct lat_hist h;
	uint64_t v;

	lat_hist_init(&h);
	for (v = 1; v <= 100; v++)
		lat_hist_add(&h, v);
	CHECK_EQ(h.count, 100);
	CHECK_EQ(lat_hist_pct(&h, 50), 50);
	/* 99 falls in the 2-wide bucket [98, 100) */
	CHECK(lat_hist_pct(&h, 99) >= 98 && lat_hist_pct(&h, 99) <= 99);
	CHECK_EQ(lat_hist_pct(&h, 100), 100);
	CHECK_EQ(lat_hist_pct(&h, 0.001), 1);
	CHECK_EQ(h.min_ns, 1);
	CHECK_EQ(h.max_ns, 100);
	CHECK(fabs(h.sum_ns / (double)h.count - 50.5) < 1e-9);
}

static void test_lat_hist_p99_of_large_values_within_3_percent(void)
{
	struct lat_hist h;
	uint64_t v, p;

	lat_hist_init(&h);
	for (v = 1; v <= 10000; v++)
		lat_hist_add(&h, v * 1000); /* 1 us .. 10 ms */
	p = lat_hist_pct(&h, 99);
	CHECK(fabs((double)p - 9900000.0) / 9900000.0 < 1.0 / 32);
	p = lat_hist_pct(&h, 50);
	CHECK(fabs((double)p - 5000000.0) / 5000000.0 < 1.0 / 32);
}

static void test_lat_hist_merge_equals_one_histogram(void)
{
	struct lat_hist a, b, all;
	uint64_t v;

	lat_hist_init(&a);
	lat_hist_init(&b);
	lat_hist_init(&all);
	for (v = 0; v < 5000; v++) {
		lat_hist_add(v % 3 ? &a : &b, v * 37);
		lat_hist_add(&all, v * 37);
	}
	lat_hist_merge(&a, &b);
	CHECK_EQ(a.count, all.count);
	CHECK_EQ(a.min_ns, all.min_ns);
	CHECK_EQ(a.max_ns, all.max_ns);
	CHECK(memcmp(a.bucket, all.bucket, sizeof(a.bucket)) == 0);
	CHECK_EQ(lat_hist_pct(&a, 99), lat_hist_pct(&all, 99));
}

static void test_lat_hist_empty_reports_zero(void)
{
	struct lat_hist h;

	lat_hist_init(&h);
	CHECK_EQ(lat_hist_pct(&h, 50), 0);
	CHECK_EQ(lat_hist_pct(&h, 99), 0);
}

static void test_rates_and_bandwidth(void)
{
	CHECK(fabs(rate_per_s(1000000, NS_PER_S) - 1e6) < 1e-6);
	CHECK(fabs(rate_per_s(300, 3 * NS_PER_S) - 100) < 1e-9);
	CHECK_EQ(rate_per_s(5, 0), 0);
	/* 1 Mframe/s of 64 bytes is 512 Mbit/s; of 1500 bytes 12 Gbit/s */
	CHECK(fabs(mbit_per_s(1000000, 64, NS_PER_S) - 512.0) < 1e-6);
	CHECK(fabs(mbit_per_s(2000000, 1500, 2 * NS_PER_S) - 12000.0) < 1e-6);
}

static void test_loss_pct(void)
{
	CHECK_EQ(loss_pct(0, 0), 0);
	CHECK_EQ(loss_pct(100, 100), 0);
	CHECK_EQ(loss_pct(100, 120), 0); /* never negative */
	CHECK(fabs(loss_pct(1000, 900) - 10.0) < 1e-9);
	CHECK(fabs(loss_pct(3, 0) - 100.0) < 1e-9);
}

static void test_cpu_pct_from_ticks(void)
{
	CHECK(fabs(cpu_pct(150, 100, 3 * NS_PER_S) - 50.0) < 1e-9);
	CHECK(fabs(cpu_pct(300, 100, 3 * NS_PER_S) - 100.0) < 1e-9);
	CHECK_EQ(cpu_pct(10, 100, 0), 0);
	CHECK_EQ(cpu_pct(10, 0, NS_PER_S), 0);
}

static void test_pace_allowance_follows_the_rate(void)
{
	uint64_t t0 = 5 * NS_PER_S;

	/* 1000 frames/s: 10 due after 10 ms */
	CHECK_EQ(pace_allowance(1000, t0, t0 + 10 * NS_PER_MS, 0, 64), 10);
	CHECK_EQ(pace_allowance(1000, t0, t0 + 10 * NS_PER_MS, 4, 64), 6);
	CHECK_EQ(pace_allowance(1000, t0, t0 + 10 * NS_PER_MS, 10, 64), 0);
	CHECK_EQ(pace_allowance(1000, t0, t0 + 10 * NS_PER_MS, 11, 64), 0);
	/* a sender that fell behind catches up one burst at a time */
	CHECK_EQ(pace_allowance(1000, t0, t0 + NS_PER_S, 0, 64), 64);
	CHECK_EQ(pace_allowance(1000, t0, t0 - 1, 0, 64), 0);
	CHECK_EQ(pace_allowance(1000, t0, t0 + 999999, 0, 64), 0);
	/* unlimited */
	CHECK_EQ(pace_allowance(0, t0, t0, 123456, 64), 64);
}

static void test_pace_next_is_when_allowance_grows(void)
{
	uint64_t t0 = 1000, next;
	uint64_t sent;

	CHECK_EQ(pace_next_ns(1000, t0, 10), t0 + 11 * NS_PER_MS);
	for (sent = 0; sent < 1000; sent += 37) {
		next = pace_next_ns(333333, t0, sent);
		CHECK_EQ(pace_allowance(333333, t0, next - 1, sent, 64), 0);
		CHECK(pace_allowance(333333, t0, next, sent, 64) >= 1);
	}
}

static void test_bench_frame_round_trips(void)
{
	uint8_t f[64], dst[6];
	struct bench_hdr h;

	mac_of_port(1, dst);
	frame_template(f, sizeof(f), 0, dst);
	hdr_stamp(f, 7, BENCH_EPOCH_MEASURE, 123456789012ull, 42);
	CHECK(hdr_parse(f, sizeof(f), &h));
	CHECK_EQ(h.flow, 7);
	CHECK_EQ(h.epoch, BENCH_EPOCH_MEASURE);
	CHECK(h.seq == 123456789012ull);
	CHECK_EQ(h.tx_ns, 42);
	CHECK(memcmp(f, dst, 6) == 0);
	CHECK_EQ(f[11], 1); /* src 02:00:00:00:00:01 is port 0 */
	CHECK_EQ(f[6], 0x02);
	CHECK_EQ(f[12], 0x88);
	CHECK_EQ(f[13], 0xb5);
}

static void test_bench_frame_rejects_others(void)
{
	uint8_t f[64];
	struct bench_hdr h;

	memset(f, 0xff, 6);
	frame_template(f, sizeof(f), 0, f);
	hdr_stamp(f, 0, 0, 0, 0);
	CHECK(!hdr_parse(f, BENCH_FRAME_MIN - 1, &h));
	f[13] = 0x00; /* another ethertype */
	CHECK(!hdr_parse(f, sizeof(f), &h));
	f[13] = 0xb5;
	f[ETH_HLEN] ^= 1; /* bad magic */
	CHECK(!hdr_parse(f, sizeof(f), &h));
}

static void test_sink_counts_reorder_misdelivery_and_window(void)
{
	struct bench_cfg cfg = { .ports = 2, .macs = 1 };
	uint64_t next0[2] = { 0 }, next1[2] = { 0 };
	struct bench_port p0 = { .idx = 0, .peer = 1, .cfg = &cfg,
				 .rx_next = next0 };
	struct bench_port p1 = { .idx = 1, .peer = -1, .cfg = &cfg,
				 .rx_next = next1 };
	struct bench_port *ports[2] = { &p0, &p1 };
	struct bench_clock clk = { .t_meas = 1000, .t_end = 2000 };
	struct bench_worker w;
	static const uint64_t seqs[] = { 0, 1, 3, 2, 4 };
	uint8_t f[64], dst[6];
	unsigned i;

	CHECK_EQ(worker_init(&w, 0, &cfg, &clk, ports), 0);
	mac_of_port(1, dst);
	frame_template(f, sizeof(f), 0, dst);
	for (i = 0; i < 5; i++) {
		hdr_stamp(f, 0, BENCH_EPOCH_MEASURE, seqs[i], 1000);
		sink_frame(&w, &p1, f, sizeof(f), 1500 + i);
	}
	CHECK_EQ(w.flows[0].frames[1], 5);
	CHECK_EQ(w.flows[0].reordered, 1); /* 2 came after 3 */
	CHECK_EQ(p1.rx_next[0], 5);
	CHECK_EQ(p1.rx_total, 5);
	CHECK_EQ(p1.rx_window, 5);
	CHECK_EQ(w.rx_window, 5);
	CHECK_EQ(w.hist.count, 5);
	CHECK_EQ(w.hist.min_ns, 500);

	/* a frame of flow 0 arriving back at port 0 is misdelivered */
	sink_frame(&w, &p0, f, sizeof(f), 1600);
	CHECK_EQ(w.rx_misdelivered, 1);
	/* warm-up frames count, but not for latency; after t_end: not in
	 * the window */
	hdr_stamp(f, 0, BENCH_EPOCH_WARMUP, 5, 900);
	sink_frame(&w, &p1, f, sizeof(f), 2500);
	CHECK_EQ(w.flows[0].frames[0], 1);
	CHECK_EQ(w.rx_window, 5);
	CHECK_EQ(w.hist.count, 5);
	/* learning frames mark their sender as learned, in the setup
	 * phase, when another port heard them */
	hdr_stamp(f, 0, BENCH_EPOCH_LEARN, 0, 0);
	sink_frame(&w, &p1, f, sizeof(f), 3000);
	CHECK(!p0.learned);
	w.setup = true;
	sink_frame(&w, &p0, f, sizeof(f), 3000);
	CHECK(!p0.learned);
	sink_frame(&w, &p1, f, sizeof(f), 3000);
	CHECK(p0.learned);
	CHECK_EQ(w.rx_learn, 3);
	f[12] = 0x08;
	sink_frame(&w, &p1, f, sizeof(f), 3000);
	CHECK_EQ(w.rx_foreign, 1);
	/* every frame counts in the port's total, whatever it is */
	CHECK_EQ(p1.rx_total, 9);
	CHECK_EQ(p0.rx_total, 2);
	free(w.mine);
	free(w.flows);
}

static void test_mac_of_keeps_the_first_mac_and_spreads_the_others(void)
{
	uint8_t m[6];

	mac_of(0, 0, m);
	CHECK(!memcmp(m, "\x02\x00\x00\x00\x00\x01", 6));
	mac_of(1023, (1u << 20) - 1, m);
	CHECK(!memcmp(m, "\x02\x0f\xff\xff\x04\x00", 6));
	CHECK_EQ(m[0] & 1, 0); /* unicast */
}

static void test_pick_pairwise_cycles_every_mac(void)
{
	struct bench_cfg cfg = { .ports = 4, .macs = 5,
				 .pattern = BENCH_PATTERN_PAIRWISE };
	unsigned seen_src = 0, seen_dst = 0;
	struct bench_pick pk;
	uint64_t seq;

	for (seq = 0; seq < 10; seq++) {
		pk = bench_pick(&cfg, 2, BENCH_EPOCH_MEASURE, seq);
		CHECK_EQ(pk.dst, 3);
		CHECK(pk.src_k < 5 && pk.dst_k < 5);
		seen_src |= 1u << pk.src_k;
		seen_dst |= 1u << pk.dst_k;
	}
	CHECK_EQ(seen_src, 0x1f);
	CHECK_EQ(seen_dst, 0x1f);
	/* seq 1<<40 and beyond: still in range */
	pk = bench_pick(&cfg, 0, BENCH_EPOCH_MEASURE, (1ull << 40) + 3);
	CHECK_EQ(pk.src_k, ((1ull << 40) + 3) % 5);
	CHECK_EQ(pattern_peer(&cfg, 1), -1);
	cfg.bidir = true;
	CHECK_EQ(bench_pick(&cfg, 3, BENCH_EPOCH_WARMUP, 7).dst, 2);
	CHECK_EQ(pattern_peer(&cfg, 0), 1);
	/* one MAC: always the first */
	cfg.macs = 1;
	pk = bench_pick(&cfg, 0, BENCH_EPOCH_MEASURE, 12345);
	CHECK_EQ(pk.src_k, 0);
	CHECK_EQ(pk.dst_k, 0);
}

static void test_pick_all_to_all_covers_every_peer_and_mac(void)
{
	struct bench_cfg cfg = { .ports = 5, .macs = 3,
				 .pattern = BENCH_PATTERN_ALL_TO_ALL };
	unsigned src, hits[5][3], d, k, src_seen;
	struct bench_pick pk;
	uint64_t seq;

	for (src = 0; src < 5; src++) {
		memset(hits, 0, sizeof(hits));
		src_seen = 0;
		/* (ports - 1) * macs frames reach every (port, MAC) once */
		for (seq = 0; seq < 4 * 3; seq++) {
			pk = bench_pick(&cfg, src, BENCH_EPOCH_MEASURE, seq);
			CHECK(pk.dst >= 0 && pk.dst < 5);
			CHECK(pk.dst != (int)src);
			CHECK(pk.dst_k < 3);
			hits[pk.dst][pk.dst_k]++;
			src_seen |= 1u << pk.src_k;
			CHECK(bench_intended(&cfg, src, BENCH_EPOCH_MEASURE,
					     seq, (unsigned)pk.dst));
			CHECK(!bench_intended(&cfg, src, BENCH_EPOCH_MEASURE,
					      seq, (unsigned)(pk.dst + 1) % 5)
			      || (unsigned)(pk.dst + 1) % 5 == src);
		}
		for (d = 0; d < 5; d++)
			for (k = 0; k < 3; k++)
				CHECK_EQ(hits[d][k], d == src ? 0 : 1);
		CHECK_EQ(src_seen, 7);
	}
	/* consecutive frames go to different ports in turn */
	CHECK_EQ(bench_pick(&cfg, 2, BENCH_EPOCH_MEASURE, 0).dst, 0);
	CHECK_EQ(bench_pick(&cfg, 2, BENCH_EPOCH_MEASURE, 1).dst, 1);
	CHECK_EQ(bench_pick(&cfg, 2, BENCH_EPOCH_MEASURE, 2).dst, 3);
	CHECK_EQ(bench_pick(&cfg, 2, BENCH_EPOCH_MEASURE, 3).dst, 4);
}

static void test_pick_broadcast_and_learning(void)
{
	struct bench_cfg cfg = { .ports = 3, .macs = 4,
				 .pattern = BENCH_PATTERN_BROADCAST };
	struct bench_pick pk;
	unsigned seen = 0;
	uint64_t seq;

	for (seq = 0; seq < 8; seq++) {
		pk = bench_pick(&cfg, 1, BENCH_EPOCH_MEASURE, seq);
		CHECK_EQ(pk.dst, -1);
		seen |= 1u << pk.src_k;
	}
	CHECK_EQ(seen, 0xf);
	CHECK(bench_intended(&cfg, 1, BENCH_EPOCH_MEASURE, 5, 0));
	CHECK(bench_intended(&cfg, 1, BENCH_EPOCH_MEASURE, 5, 2));
	CHECK(!bench_intended(&cfg, 1, BENCH_EPOCH_MEASURE, 5, 1));
	/* learning: every MAC once per @macs frames, to the next port's
	 * first MAC, never to itself */
	seen = 0;
	for (seq = 0; seq < 4; seq++) {
		pk = bench_pick(&cfg, 2, BENCH_EPOCH_LEARN, seq);
		CHECK_EQ(pk.dst, 0);
		CHECK_EQ(pk.dst_k, 0);
		seen |= 1u << pk.src_k;
	}
	CHECK_EQ(seen, 0xf);
}

static void test_stamp_writes_the_picked_macs(void)
{
	struct bench_cfg cfg = { .ports = 4, .macs = 70000,
				 .pattern = BENCH_PATTERN_ALL_TO_ALL };
	struct bench_port p = { .idx = 1, .cfg = &cfg };
	uint8_t f[64], dst[6], src[6];
	struct bench_hdr h;

	mac_of_port(2, dst);
	frame_template(f, sizeof(f), 1, dst);
	/* seq 3 * 66000 + 2: to port 3 (the third other), its MAC 66000 */
	bench_stamp(&p, f, BENCH_EPOCH_MEASURE, 3 * 66000 + 2, 99);
	mac_of(3, 66000, dst);
	mac_of(1, (3 * 66000 + 2) % 70000, src);
	CHECK(!memcmp(f, dst, 6));
	CHECK(!memcmp(f + 6, src, 6));
	CHECK(hdr_parse(f, sizeof(f), &h));
	CHECK_EQ(h.flow, 1);
	CHECK_EQ(h.seq, 3 * 66000 + 2);
	CHECK_EQ(h.tx_ns, 99);
	cfg.pattern = BENCH_PATTERN_BROADCAST;
	bench_stamp(&p, f, BENCH_EPOCH_WARMUP, 1, 0);
	CHECK(!memcmp(f, "\xff\xff\xff\xff\xff\xff", 6));
	CHECK(f[ETH_HLEN + 64 - ETH_HLEN - 1] == (uint8_t)(63 * 7));
}

/* a worker and ports for sink tests: @n ports of @cfg */
struct sink_fixture {
	struct bench_port p[4];
	struct bench_port *ports[4];
	uint64_t next[4][4];
	struct bench_clock clk;
	struct bench_worker w;
};

static void sink_fixture_init(struct sink_fixture *fx,
			      const struct bench_cfg *cfg)
{
	unsigned i;

	memset(fx, 0, sizeof(*fx));
	fx->clk.t_meas = 1000;
	fx->clk.t_end = 2000;
	for (i = 0; i < cfg->ports; i++) {
		fx->p[i].idx = i;
		fx->p[i].cfg = cfg;
		fx->p[i].peer = -1;
		fx->p[i].sends = pattern_sends(cfg, i);
		fx->p[i].rx_next = fx->next[i];
		fx->ports[i] = &fx->p[i];
	}
	CHECK_EQ(worker_init(&fx->w, 0, cfg, &fx->clk, fx->ports), 0);
}

/* deliver frame @seq of port @src to port @rx at time 1500 */
static void sink_fixture_rx(struct sink_fixture *fx, unsigned src,
			    uint64_t seq, unsigned rx)
{
	uint8_t f[64];

	frame_template(f, sizeof(f), src, (const uint8_t *)"\xff\xff\xff"
							  "\xff\xff\xff");
	bench_stamp(&fx->p[src], f, BENCH_EPOCH_MEASURE, seq, 1200);
	sink_frame(&fx->w, &fx->p[rx], f, sizeof(f), 1500);
}

static void test_broadcast_loss_counts_every_receiver(void)
{
	struct bench_cfg cfg = { .ports = 3, .macs = 1,
				 .pattern = BENCH_PATTERN_BROADCAST };
	struct port_result pp[3];
	struct bench_result res;
	struct sink_fixture fx;
	uint64_t seq;

	sink_fixture_init(&fx, &cfg);
	CHECK_EQ(pattern_copies(&cfg), 2);
	/* port 0 sends 10 broadcasts: port 1 gets all, port 2 misses 3 */
	for (seq = 0; seq < 10; seq++) {
		sink_fixture_rx(&fx, 0, seq, 1);
		if (seq % 3)
			sink_fixture_rx(&fx, 0, seq, 2);
	}
	/* its own copy coming back is misdelivered */
	sink_fixture_rx(&fx, 0, 10, 0);
	fx.p[0].tx_frames[BENCH_EPOCH_MEASURE] = 10;
	fx.p[0].tx_frames[BENCH_EPOCH_LEARN] = 3;
	fx.p[0].tx_frames[BENCH_EPOCH_WARMUP] = 5;
	memset(&res, 0, sizeof(res));
	memset(pp, 0, sizeof(pp));
	res.pp = pp;
	result_merge(&res, &cfg, fx.ports, &fx.w, 1);
	CHECK_EQ(res.tx_frames, 10);
	CHECK_EQ(res.expected, 20);
	CHECK_EQ(res.rx_frames, 16);
	CHECK_EQ(res.lost, 4);
	CHECK(fabs(loss_pct(res.expected, res.rx_frames) - 20.0) < 1e-9);
	CHECK_EQ(res.misdelivered, 1);
	CHECK_EQ(res.reordered, 0); /* each receiver in order */
	CHECK_EQ(res.flows, 3);
	CHECK_EQ(pp[0].sent_total, 18);
	CHECK_EQ(pp[0].expected, 20);
	CHECK_EQ(pp[0].delivered, 16);
	CHECK_EQ(pp[1].received_total, 10);
	CHECK_EQ(pp[2].received_total, 6);
	CHECK_EQ(pp[0].received_total, 1);
	CHECK_EQ(pp[1].rx_window, 10);
	worker_free(&fx.w);
}

static void test_all_to_all_sink_checks_the_destination(void)
{
	struct bench_cfg cfg = { .ports = 4, .macs = 2,
				 .pattern = BENCH_PATTERN_ALL_TO_ALL };
	struct sink_fixture fx;
	struct bench_pick pk;
	uint64_t seq;

	sink_fixture_init(&fx, &cfg);
	for (seq = 0; seq < 12; seq++) {
		pk = bench_pick(&cfg, 3, BENCH_EPOCH_MEASURE, seq);
		sink_fixture_rx(&fx, 3, seq, (unsigned)pk.dst);
	}
	CHECK_EQ(fx.w.flows[3].frames[1], 12);
	CHECK_EQ(fx.w.rx_misdelivered, 0);
	CHECK_EQ(fx.w.flows[3].reordered, 0);
	/* seq 0 goes to port 0: at port 1 it is misdelivered */
	sink_fixture_rx(&fx, 3, 0, 1);
	CHECK_EQ(fx.w.rx_misdelivered, 1);
	/* an old frame at the same receiver is reordered */
	sink_fixture_rx(&fx, 3, 3, 0);
	CHECK_EQ(fx.w.flows[3].reordered, 1);
	worker_free(&fx.w);
}

static void test_pattern_senders_and_rate_share(void)
{
	struct bench_cfg cfg = { .ports = 6, .macs = 1 };
	unsigned i, senders;
	uint64_t t0 = NS_PER_S, sent[6] = { 0 }, total = 0, t;
	static const struct {
		enum bench_pattern pat;
		bool bidir;
		unsigned senders, copies;
	} cases[] = {
		{ BENCH_PATTERN_PAIRWISE, false, 3, 1 },
		{ BENCH_PATTERN_PAIRWISE, true, 6, 1 },
		{ BENCH_PATTERN_ALL_TO_ALL, false, 6, 1 },
		{ BENCH_PATTERN_BROADCAST, false, 6, 5 },
		{ BENCH_PATTERN_IDLE, false, 0, 0 },
	};
	unsigned c;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		cfg.pattern = cases[c].pat;
		cfg.bidir = cases[c].bidir;
		senders = 0;
		for (i = 0; i < 6; i++)
			senders += pattern_sends(&cfg, i);
		CHECK_EQ(senders, cases[c].senders);
		CHECK_EQ(pattern_copies(&cfg), cases[c].copies);
	}
	/* --rate 30000 over 3 pairwise senders: each paced at 10000/s
	 * sends 10000 in a second, 30000 in total */
	cfg.pattern = BENCH_PATTERN_PAIRWISE;
	cfg.bidir = false;
	for (t = t0; t <= t0 + NS_PER_S; t += 250 * 1000) {
		for (i = 0; i < 6; i += 2)
			sent[i] += pace_allowance(30000.0 / 3, t0, t, sent[i],
						  BENCH_BATCH_MAX);
	}
	for (i = 0; i < 6; i++)
		total += sent[i];
	CHECK_EQ(sent[0], 10000);
	CHECK_EQ(total, 30000);
}

static void test_uint_list_parse(void)
{
	unsigned v[BENCH_SWEEP_MAX];
	char err[128];
	char many[512] = "";
	unsigned i;

	CHECK_EQ(uint_list_parse("64", 32, 1500, v, 8, err, sizeof(err)), 1);
	CHECK_EQ(v[0], 64);
	CHECK_EQ(uint_list_parse("64,128,256,512,1024,1500", 32, 1500, v, 8,
				 err, sizeof(err)), 6);
	CHECK_EQ(v[0], 64);
	CHECK_EQ(v[5], 1500);
	CHECK_EQ(uint_list_parse("2,4,8,16", 2, 1024, v, 8, err, sizeof(err)),
		 4);
	CHECK_EQ(v[3], 16);
	CHECK_EQ(uint_list_parse("64,,128", 32, 1500, v, 8, err, sizeof(err)),
		 -1);
	CHECK(strstr(err, "comma-separated") != NULL);
	CHECK_EQ(uint_list_parse("64,", 32, 1500, v, 8, err, sizeof(err)), -1);
	CHECK_EQ(uint_list_parse("", 32, 1500, v, 8, err, sizeof(err)), -1);
	CHECK_EQ(uint_list_parse("64,2000", 32, 1500, v, 8, err, sizeof(err)),
		 -1);
	CHECK(strstr(err, "'2000'") != NULL);
	CHECK_EQ(uint_list_parse("64,-1", 32, 1500, v, 8, err, sizeof(err)),
		 -1);
	CHECK_EQ(uint_list_parse("64,+1", 1, 1500, v, 8, err, sizeof(err)),
		 -1);
	CHECK_EQ(uint_list_parse("1e3", 1, 1500, v, 8, err, sizeof(err)), -1);
	CHECK_EQ(uint_list_parse("99999999999999999999", 1, 1500, v, 8, err,
				 sizeof(err)), -1);
	for (i = 0; i < 9; i++)
		strcat(many, i ? ",64" : "64");
	CHECK_EQ(uint_list_parse(many, 32, 1500, v, 8, err, sizeof(err)), -1);
	CHECK(strstr(err, "more than 8") != NULL);
}

/* a two-port pairwise result as a run would make it */
static void fake_result(struct bench_result *r, struct port_result *pp,
			unsigned frame_size)
{
	memset(r, 0, sizeof(*r));
	memset(pp, 0, 2 * sizeof(*pp));
	r->ports = 2;
	r->frame_size = frame_size;
	r->window_ns = 2 * NS_PER_S;
	r->tx_frames = r->expected = 2000;
	r->rx_frames = 1990;
	r->rx_window = 1980;
	r->lost = 10;
	r->flows = 1;
	lat_hist_init(&r->hist);
	lat_hist_add(&r->hist, 10000);
	r->pp = pp;
	pp[0] = (struct port_result){ .sent_total = 2503,
				      .received_total = 3,
				      .tx_frames = 2000,
				      .expected = 2000,
				      .delivered = 1990 };
	pp[1] = (struct port_result){ .sent_total = 3,
				      .received_total = 2493,
				      .rx_window = 1980 };
}

static char *capture_json(const struct bench_cfg *cfg,
			  const struct bench_result *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	report_json(f, cfg, r);
	fclose(f);
	return buf;
}

/* balanced() - brackets and braces outside strings nest properly */
static bool balanced(const char *s)
{
	char stack[64];
	unsigned depth = 0;
	bool in_str = false;

	for (; *s; s++) {
		if (in_str) {
			in_str = *s != '"';
			continue;
		}
		if (*s == '"')
			in_str = true;
		else if (*s == '{' || *s == '[') {
			if (depth == sizeof(stack))
				return false;
			stack[depth++] = *s;
		} else if (*s == '}' || *s == ']') {
			if (!depth || stack[--depth] != (*s == '}' ? '{' : '['))
				return false;
		}
	}
	return !depth && !in_str;
}

static void test_report_json_has_every_key_and_per_port(void)
{
	struct bench_cfg cfg = { .transport = &transport_udp, .ports = 2,
				 .macs = 1, .warmup_s = 0.5,
				 .switch_pid = 1234, .label = "x y" };
	struct port_result pp[2];
	struct bench_result r;
	static const char *const keys[] = {
		"\"tool\": \"nethub-bench\"", "\"label\": \"x y\"",
		"\"transport\": \"udp\"", "\"pattern\": \"pairwise\"",
		"\"ports\": 2", "\"flows\": 1", "\"macs\": 1",
		"\"bidir\": false", "\"frame_size\": 128",
		"\"duration_s\": 2.000", "\"warmup_s\": 0.500",
		"\"tx_frames\": 2000", "\"rx_frames\": 1990",
		"\"expected_frames\": 2000", "\"rx_window_frames\": 1980",
		"\"offered_fps\": 1000", "\"delivered_fps\": 990",
		"\"offered_mbps\": 1.024", "\"delivered_mbps\": 1.014",
		"\"lost_frames\": 10", "\"loss_pct\": 0.500",
		"\"lat_samples\": 1", "\"lat_p50_us\": 10.0",
		"\"lat_p99_us\": 10.0", "\"switch_pid\": 1234",
		"\"switch_cpu_pct\": 25.0", "\"switch_ctxsw\": 7",
		"\"bench_cpu_pct\"", "\"other_cpu_pct\"",
		"\"per_port\": [{\"port\": 0, \"sent_total\": 2503, "
		"\"received_total\": 3, \"tx_fps\": 1000.0, "
		"\"rx_fps\": 0.0, \"loss_pct\": 0.500}, "
		"{\"port\": 1, \"sent_total\": 3, \"received_total\": 2493, "
		"\"tx_fps\": 0.0, \"rx_fps\": 990.0, \"loss_pct\": 0.000}]}",
	};
	unsigned i;
	char *js;

	fake_result(&r, pp, 128);
	r.sw_ok = true;
	r.sw_cpu_pct = 25;
	r.sw_ctxsw = 7;
	js = capture_json(&cfg, &r);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strstr(js, keys[i])) {
			CHECK(!"a key is missing");
			printf("# missing %s in %s\n", keys[i], js);
		}
	CHECK(js[0] == '{');
	CHECK(balanced(js));
	CHECK(strchr(js, '\n') == NULL); /* one line */
	free(js);

	/* broadcast says so; no switch pid, no switch keys */
	cfg.pattern = BENCH_PATTERN_BROADCAST;
	cfg.switch_pid = 0;
	cfg.label = NULL;
	js = capture_json(&cfg, &r);
	CHECK(strstr(js, "\"pattern\": \"broadcast\"") != NULL);
	CHECK(strstr(js, "switch_cpu_pct") == NULL);
	CHECK(strstr(js, "\"label\"") == NULL);
	free(js);
}

static void test_report_sweep_json_wraps_the_runs(void)
{
	struct bench_cfg cfg = { .transport = &transport_udp, .ports = 2,
				 .macs = 1, .sweep = BENCH_SWEEP_FRAME_SIZE };
	struct port_result pp[2][2];
	struct bench_result runs[2];
	char *buf = NULL, *second;
	size_t len = 0;
	FILE *f;

	fake_result(&runs[0], pp[0], 64);
	fake_result(&runs[1], pp[1], 1500);
	f = open_memstream(&buf, &len);
	report_sweep_json(f, &cfg, runs, 2);
	fclose(f);
	CHECK(!strncmp(buf, "{\"tool\": \"nethub-bench\"", 23));
	CHECK(strstr(buf, "\"sweep\": \"frame_size\", \"runs\": [") != NULL);
	CHECK(balanced(buf));
	second = strstr(buf, "\"frame_size\": 1500");
	CHECK(second != NULL);
	CHECK(strstr(buf, "\"frame_size\": 64") < second);
	CHECK(len > 2 && !strcmp(buf + len - 3, "]}\n"));
	free(buf);
}

static void test_report_table_has_a_line_per_port(void)
{
	struct bench_cfg cfg = { .transport = &transport_udp, .ports = 2,
				 .macs = 1 };
	struct port_result pp[2];
	struct bench_result r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	fake_result(&r, pp, 64);
	f = open_memstream(&buf, &len);
	report_table(f, &cfg, &r);
	fclose(f);
	CHECK(strstr(buf, "udp, 2 ports, pairwise (1 sending)") != NULL);
	CHECK(strstr(buf, "tx frames/s") != NULL);
	/* port 0: 1000 tx/s, 0 rx/s, 0.5 % of its frames lost */
	CHECK(strstr(buf, "  0                1000              0      "
			  "0.500           2503              3\n") != NULL);
	CHECK(strstr(buf, "  1                   0            990      "
			  "0.000              3           2493\n") != NULL);
	free(buf);
}

/* lost = switch drops (by reason) + kernel drops in frames + the rest */
static void test_report_loss_breakdown_adds_up(void)
{
	struct bench_cfg cfg = { .transport = &transport_udp, .ports = 2,
				 .macs = 1 };
	struct port_result pp[2];
	struct bench_result r;
	char *buf = NULL, *json;
	size_t len = 0;
	FILE *f;

	fake_result(&r, pp, 64);
	r.lost = 1000;
	r.sw_drops_ok = true;
	r.sw_drops.n = 2;
	strcpy(r.sw_drops.name[0], "queue-full");
	r.sw_drops.count[0] = 700;
	strcpy(r.sw_drops.name[1], "no-buffer");
	r.sw_drops.count[1] = 0;
	r.sw_drops_total = 700;
	r.drops_ok = true;
	r.switch_in_drops = 4; /* datagrams of 64 frames: 256 frames */
	r.sink_drops = 1;
	r.frames_per_datagram = 64.0;
	f = open_memstream(&buf, &len);
	report_table(f, &cfg, &r);
	fclose(f);
	CHECK(strstr(buf, "    switch                700  dropped by the "
			  "switch: queue-full 700 (its query-netdevs)\n") !=
	      NULL);
	CHECK(strstr(buf, "    kernel                256  the kernel dropped 4 "
			  "datagrams") != NULL);
	CHECK(strstr(buf, "    sink                   44  the rest") != NULL);
	CHECK(strstr(buf, "    total                1000  frames lost\n") !=
	      NULL);
	free(buf);
	json = capture_json(&cfg, &r);
	CHECK(strstr(json, "\"switch_drops\": {\"queue-full\": 700, "
			   "\"no-buffer\": 0}, \"switch_drops_total\": 700") !=
	      NULL);
	CHECK(strstr(json, "\"kernel_in_drop_frames\": 256") != NULL);
	CHECK(strstr(json, "\"sink_missed_frames\": 44") != NULL);
	free(json);
}

static void test_plot_files(void)
{
	struct bench_cfg cfg = { .transport = &transport_tcp, .ports = 2,
				 .macs = 1, .sweep = BENCH_SWEEP_FRAME_SIZE,
				 .pattern = BENCH_PATTERN_ALL_TO_ALL,
				 .label = "lab" };
	struct port_result pp[2][2];
	struct bench_result runs[2];
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	fake_result(&runs[0], pp[0], 64);
	fake_result(&runs[1], pp[1], 1500);
	runs[1].rx_window = 2000000; /* 1 Mframe/s of 1500 bytes: 12 Gbit/s */
	runs[1].rx_frames = runs[1].expected;
	f = open_memstream(&buf, &len);
	plot_data(f, &cfg, runs, 2);
	fclose(f);
	CHECK(!strcmp(buf, "# frame_size delivered_fps delivered_gbps "
		       "offered_fps loss_pct\n"
		       "64 990 0.000507 1000 0.500\n"
		       "1500 1000000 12.000000 1000 0.000\n"));
	free(buf);

	buf = NULL;
	f = open_memstream(&buf, &len);
	plot_script(f, &cfg, runs, 2, "/tmp/d", "/x/it's.svg");
	fclose(f);
	CHECK(strstr(buf, "set terminal svg") != NULL);
	CHECK(strstr(buf, "set output '/x/it''s.svg'\n") != NULL);
	CHECK(strstr(buf, "set title 'nethub-bench: tcp, all-to-all, lab'")
	      != NULL);
	CHECK(strstr(buf, "set xtics (64, 1500)\n") != NULL);
	CHECK(strstr(buf, "set logscale x 2\n") != NULL);
	CHECK(strstr(buf, "'/tmp/d' using 1:2 axes x1y1") != NULL);
	CHECK(strstr(buf, "'/tmp/d' using 1:3 axes x1y2") != NULL);
	CHECK(strstr(buf, "set y2tics") != NULL);
	free(buf);

	buf = NULL;
	cfg.sweep = BENCH_SWEEP_PORTS;
	f = open_memstream(&buf, &len);
	plot_script(f, &cfg, runs, 2, "/tmp/d", "/x/out.PNG");
	fclose(f);
	CHECK(strstr(buf, "set terminal pngcairo") != NULL);
	CHECK(strstr(buf, "set xlabel 'ports'") != NULL);
	/* both runs have 2 ports: no log axis */
	CHECK(strstr(buf, "logscale") == NULL);
	free(buf);
}

static void test_progress_line(void)
{
	char line[160];

	progress_format(line, sizeof(line), 2 * NS_PER_S, 5.0, 3000000,
			1000, 990);
	CHECK(strstr(line, "  2.0/5.0 s") != NULL);
	CHECK(strstr(line, "1500000 frames/s delivered") != NULL);
	CHECK(strstr(line, "loss 1.000 %") != NULL);
}

static void test_cfg_check_ports(void)
{
	struct bench_cfg cfg = { .macs = 1, .threads = 1 };

	CHECK(cfg_check_ports(&cfg, 3) != NULL); /* pairwise: odd */
	CHECK(cfg_check_ports(&cfg, 4) == NULL);
	cfg.pattern = BENCH_PATTERN_BROADCAST;
	CHECK(cfg_check_ports(&cfg, 3) == NULL);
	cfg.macs = 1u << 20;
	CHECK(cfg_check_ports(&cfg, 2) == NULL);
	CHECK(cfg_check_ports(&cfg, 3) != NULL); /* 3 Mi MACs */
	cfg.macs = 1;
	cfg.threads = 4;
	CHECK(cfg_check_ports(&cfg, 3) != NULL);
	cfg.threads = 1;
	cfg.n_connect = 4;
	CHECK(cfg_check_ports(&cfg, 8) != NULL);
	CHECK(cfg_check_ports(&cfg, 4) == NULL);
	CHECK(cfg_check_ports(&cfg, 2) == NULL); /* a sweep's first ones */
}

static void test_transport_names_and_the_packet_alias(void)
{
	static const char *const names[] = { "udp", "tcp", "tap", "vde",
					       "vhost-user" };
	unsigned i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		CHECK(transport_find(names[i]) != NULL);
		CHECK(!strcmp(transport_find(names[i])->name, names[i]));
	}
	/* "packet" is the AF_PACKET transport, reported as "tap" */
	CHECK(transport_find("packet") == &transport_packet);
	CHECK(transport_find("tap") == &transport_packet);
	CHECK(!strcmp(transport_find("packet")->name, "tap"));
	CHECK(transport_find("udp") == &transport_udp);
	CHECK(transport_find("") == NULL);
	CHECK(transport_find("Tap") == NULL);
	CHECK(transport_find("af_packet") == NULL);
}

static void test_vring_layout_aligns_and_rejects_bad_sizes(void)
{
	static const unsigned bad[] = { 0, 1, 3, 100, 65536, 32769 };
	struct vring_layout l;
	unsigned num, i;

	for (num = VRING_NUM_MIN; num <= VRING_NUM_MAX; num *= 2) {
		CHECK_EQ(vring_layout(num, &l), 0);
		CHECK_EQ(l.desc, 0);
		CHECK_EQ(l.avail, (size_t)num * 16);
		/* avail: flags, idx, ring, used_event fit before used */
		CHECK(l.avail + 4 + 2 * (size_t)num + 2 <= l.used);
		CHECK_EQ(l.used % 4096, 0);
		CHECK(l.used + 4 + 8 * (size_t)num + 2 <= l.size);
		CHECK_EQ(l.size % 4096, 0);
	}
	CHECK_EQ(vring_layout(256, &l), 0);
	CHECK_EQ(l.avail, 4096);
	CHECK_EQ(l.used, 8192);
	CHECK_EQ(l.size, 12288);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(vring_layout(bad[i], &l), -EINVAL);
}

/* a back-end's side of the test: use @n avail entries of @r in order,
 * writing @len into each used entry */
static void backend_use(struct vring *r, uint16_t *last_avail, unsigned n,
			uint32_t len)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		uint16_t id = r->avail->ring[*last_avail & (r->num - 1)];

		r->used->ring[r->used->idx & (r->num - 1)] =
			(struct vring_used_elem){ .id = id, .len = len };
		r->used->idx++;
		(*last_avail)++;
	}
}

static void test_vring_rx_posts_every_buffer_writable(void)
{
	struct vring_layout l;
	struct vring r;
	uint8_t *mem, *bufs;
	struct vring_used_elem e[8];
	uint16_t last_avail = 0;
	unsigned i;

	CHECK_EQ(vring_layout(8, &l), 0);
	mem = calloc(1, l.size);
	bufs = calloc(8, 100);
	CHECK_EQ(vring_init(&r, mem, 8, bufs, 100, true), 0);
	/* posted, but unpublished until vring_publish() */
	CHECK_EQ(r.avail->idx, 0);
	CHECK_EQ(vring_in_flight(&r), 8);
	CHECK(vring_publish(&r));
	CHECK_EQ(r.avail->idx, 8);
	for (i = 0; i < 8; i++) {
		CHECK_EQ(r.avail->ring[i], i);
		CHECK_EQ(r.desc[i].addr, (uint64_t)(uintptr_t)(bufs + i * 100));
		CHECK_EQ(r.desc[i].len, 100);
		CHECK_EQ(r.desc[i].flags, VRING_DESC_F_WRITE);
	}
	/* nothing used yet */
	CHECK_EQ(vring_reap(&r, e, 8), 0);
	backend_use(&r, &last_avail, 3, 60);
	CHECK_EQ(vring_reap(&r, e, 2), 2); /* at most max */
	CHECK_EQ(e[0].id, 0);
	CHECK_EQ(e[1].id, 1);
	CHECK_EQ(e[1].len, 60);
	CHECK_EQ(vring_reap(&r, e, 8), 1);
	CHECK_EQ(e[0].id, 2);
	CHECK_EQ(vring_in_flight(&r), 5);
	/* re-posted buffers go round the ring again, past index 65535 */
	for (i = 0; i < 70000; i++) {
		vring_post(&r, (uint16_t)e[0].id, 100);
		CHECK_EQ(vring_in_flight(&r), 6);
		vring_publish(&r);
		backend_use(&r, &last_avail, 1, 60);
		CHECK_EQ(vring_reap(&r, e, 8), 1);
	}
	CHECK_EQ(r.avail->idx, (uint16_t)(8 + 70000));
	/* a back-end that asks us not to kick */
	r.used->flags = VRING_USED_F_NO_NOTIFY;
	vring_post(&r, (uint16_t)e[0].id, 100);
	CHECK(!vring_publish(&r));
	vring_fini(&r);
	free(mem);
	free(bufs);
}

static void test_vring_tx_frees_what_was_used(void)
{
	struct vring_layout l;
	struct vring r;
	uint8_t *mem, *bufs;
	uint16_t last_avail = 0, id;
	unsigned i;

	CHECK_EQ(vring_layout(4, &l), 0);
	mem = calloc(1, l.size);
	bufs = calloc(4, 64);
	CHECK_EQ(vring_init(&r, mem, 4, bufs, 64, false), 0);
	CHECK_EQ(r.n_free, 4);
	CHECK_EQ(vring_in_flight(&r), 0);
	CHECK(vring_publish(&r));
	CHECK_EQ(r.avail->idx, 0);
	for (i = 0; i < 4; i++) {
		id = r.free[--r.n_free];
		CHECK_EQ(id, i); /* descriptor 0 first */
		vring_post(&r, id, 50);
		CHECK_EQ(r.desc[id].flags, 0); /* readable */
		CHECK_EQ(r.desc[id].len, 50);
	}
	vring_publish(&r);
	CHECK_EQ(vring_tx_reclaim(&r), 0);
	backend_use(&r, &last_avail, 3, 0);
	CHECK_EQ(vring_tx_reclaim(&r), 3);
	CHECK_EQ(r.n_free, 3);
	CHECK_EQ(vring_in_flight(&r), 1);
	backend_use(&r, &last_avail, 1, 0);
	CHECK_EQ(vring_tx_reclaim(&r), 1);
	CHECK_EQ(r.n_free, 4);
	vring_fini(&r);
	free(mem);
	free(bufs);
}

static void test_vring_refuses_a_bad_backend(void)
{
	struct vring_layout l;
	struct vring r;
	uint8_t mem[16384], bufs[4 * 64];
	struct vring_used_elem e[4];
	uint16_t last_avail = 0;

	CHECK_EQ(vring_layout(4, &l), 0);
	CHECK(l.size <= sizeof(mem));
	/* an id past the ring */
	memset(mem, 0, sizeof(mem));
	CHECK_EQ(vring_init(&r, mem, 4, bufs, 64, true), 0);
	vring_publish(&r);
	r.used->ring[0] = (struct vring_used_elem){ .id = 4, .len = 10 };
	r.used->idx = 1;
	CHECK_EQ(vring_reap(&r, e, 4), -EPROTO);
	vring_fini(&r);
	/* an id used twice */
	memset(mem, 0, sizeof(mem));
	CHECK_EQ(vring_init(&r, mem, 4, bufs, 64, true), 0);
	vring_publish(&r);
	r.used->ring[0] = (struct vring_used_elem){ .id = 2 };
	r.used->ring[1] = (struct vring_used_elem){ .id = 2 };
	r.used->idx = 2;
	CHECK_EQ(vring_reap(&r, e, 4), -EPROTO);
	vring_fini(&r);
	/* more used than in flight */
	memset(mem, 0, sizeof(mem));
	CHECK_EQ(vring_init(&r, mem, 4, bufs, 64, false), 0);
	vring_post(&r, r.free[--r.n_free], 10);
	vring_publish(&r);
	backend_use(&r, &last_avail, 1, 0);
	r.used->idx = 2;
	CHECK_EQ(vring_tx_reclaim(&r), -EPROTO);
	vring_fini(&r);
	/* a used idx far ahead (wrapped backwards) */
	memset(mem, 0, sizeof(mem));
	CHECK_EQ(vring_init(&r, mem, 4, bufs, 64, true), 0);
	vring_publish(&r);
	r.used->idx = 0xffff;
	CHECK_EQ(vring_reap(&r, e, 4), -EPROTO);
	vring_fini(&r);
}

static void test_vhost_user_path_template(void)
{
	char out[108];

	CHECK_EQ(vhost_user_path("/run/vh.sock", 3, out, sizeof(out)), 0);
	CHECK(!strcmp(out, "/run/vh.sock"));
	CHECK_EQ(vhost_user_path("/run/vh%d.sock", 12, out, sizeof(out)), 0);
	CHECK(!strcmp(out, "/run/vh12.sock"));
	CHECK_EQ(vhost_user_path("%d", 0, out, sizeof(out)), 0);
	CHECK(!strcmp(out, "0"));
	CHECK_EQ(vhost_user_path("/run/%s", 0, out, sizeof(out)), -EINVAL);
	CHECK_EQ(vhost_user_path("/run/%d-%d", 0, out, sizeof(out)), -EINVAL);
	CHECK_EQ(vhost_user_path("/run/%d%%", 0, out, sizeof(out)), -EINVAL);
	CHECK_EQ(vhost_user_path("/run/vh%", 0, out, sizeof(out)), -EINVAL);
	CHECK_EQ(vhost_user_path("/run/vh%d", 1000, out, 10), -ENAMETOOLONG);
	CHECK_EQ(vhost_user_path("/run/vh%d", 100, out, 11), 0);
	CHECK(!strcmp(out, "/run/vh100"));
	CHECK_EQ(vhost_user_path("/run/vh%d", 100, out, 10), -ENAMETOOLONG);
	CHECK_EQ(vhost_user_path("", 0, out, sizeof(out)), -EINVAL);
}

int main(void)
{
	TAP_RUN(test_lat_bucket_exact_below_64_ns);
	TAP_RUN(test_lat_bucket_holds_value_within_3_percent);
	TAP_RUN(test_lat_bucket_is_monotonic);
	TAP_RUN(test_lat_hist_percentiles_of_1_to_100);
	TAP_RUN(test_lat_hist_p99_of_large_values_within_3_percent);
	TAP_RUN(test_lat_hist_merge_equals_one_histogram);
	TAP_RUN(test_lat_hist_empty_reports_zero);
	TAP_RUN(test_rates_and_bandwidth);
	TAP_RUN(test_loss_pct);
	TAP_RUN(test_cpu_pct_from_ticks);
	TAP_RUN(test_pace_allowance_follows_the_rate);
	TAP_RUN(test_pace_next_is_when_allowance_grows);
	TAP_RUN(test_bench_frame_round_trips);
	TAP_RUN(test_bench_frame_rejects_others);
	TAP_RUN(test_sink_counts_reorder_misdelivery_and_window);
	TAP_RUN(test_mac_of_keeps_the_first_mac_and_spreads_the_others);
	TAP_RUN(test_pick_pairwise_cycles_every_mac);
	TAP_RUN(test_pick_all_to_all_covers_every_peer_and_mac);
	TAP_RUN(test_pick_broadcast_and_learning);
	TAP_RUN(test_stamp_writes_the_picked_macs);
	TAP_RUN(test_broadcast_loss_counts_every_receiver);
	TAP_RUN(test_all_to_all_sink_checks_the_destination);
	TAP_RUN(test_pattern_senders_and_rate_share);
	TAP_RUN(test_uint_list_parse);
	TAP_RUN(test_report_json_has_every_key_and_per_port);
	TAP_RUN(test_report_sweep_json_wraps_the_runs);
	TAP_RUN(test_report_table_has_a_line_per_port);
	TAP_RUN(test_report_loss_breakdown_adds_up);
	TAP_RUN(test_plot_files);
	TAP_RUN(test_progress_line);
	TAP_RUN(test_cfg_check_ports);
	TAP_RUN(test_transport_names_and_the_packet_alias);
	TAP_RUN(test_vring_layout_aligns_and_rejects_bad_sizes);
	TAP_RUN(test_vring_rx_posts_every_buffer_writable);
	TAP_RUN(test_vring_tx_frees_what_was_used);
	TAP_RUN(test_vring_refuses_a_bad_backend);
	TAP_RUN(test_vhost_user_path_template);
	return tap_done();
}
