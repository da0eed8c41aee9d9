/* SPDX-License-Identifier: MIT */
/* test_bench.c - nethub-bench's measurement math: latency histogram,
 * percentiles, rates, pacing, the bench frame header and the sink's loss
 * and reorder accounting.
 *
 * nethub-bench is one self-contained program, so this test includes its
 * source with main() renamed and calls the static functions directly.
 */
#define main bench_main
#include "../../bench/nethub-bench.c"
#undef main

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
	struct bench_port p0 = { .idx = 0, .peer = 1 };
	struct bench_port p1 = { .idx = 1, .peer = -1 };
	struct bench_port *ports[2] = { &p0, &p1 };
	struct bench_cfg cfg = { .ports = 2 };
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
	CHECK_EQ(w.flows[0].next_seq, 5);
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
	/* learning frames mark the wiring as working */
	hdr_stamp(f, 0, BENCH_EPOCH_LEARN, 0, 0);
	CHECK(!p1.heard_peer);
	sink_frame(&w, &p1, f, sizeof(f), 3000);
	CHECK(p1.heard_peer);
	f[12] = 0x08;
	sink_frame(&w, &p1, f, sizeof(f), 3000);
	CHECK_EQ(w.rx_foreign, 1);
	free(w.mine);
	free(w.flows);
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
	return tap_done();
}
