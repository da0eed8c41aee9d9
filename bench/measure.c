/* SPDX-License-Identifier: MIT */
/* measure.c - nethub-bench's measurement math: the latency histogram and
 * its percentiles, rates, loss and CPU shares, and the pacing of a sender
 * held to --rate
 *
 * Pure functions of their arguments: no I/O, no clock, no allocation, so
 * tests/unit/test_bench.c checks them with made-up figures.
 */
#include <math.h>

#include "bench.h"

uint64_t lat_bucket_low(unsigned b, uint64_t *width)
{
	unsigned e;

	if (b < 2 * LAT_SUB) {
		*width = 1;
		return b;
	}
	e = b / LAT_SUB + LAT_SUB_BITS - 1;
	*width = 1ull << (e - LAT_SUB_BITS);
	return (uint64_t)(LAT_SUB + b % LAT_SUB) << (e - LAT_SUB_BITS);
}

void lat_hist_init(struct lat_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min_ns = UINT64_MAX;
}

void lat_hist_merge(struct lat_hist *dst, const struct lat_hist *src)
{
	unsigned i;

	for (i = 0; i < LAT_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	if (src->min_ns < dst->min_ns)
		dst->min_ns = src->min_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
}

uint64_t lat_hist_pct(const struct lat_hist *h, double pct)
{
	uint64_t rank, seen = 0, low, width, v;
	unsigned i;

	if (!h->count)
		return 0;
	rank = (uint64_t)ceil(pct / 100.0 * (double)h->count);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (i = 0; i < LAT_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank)
			break;
	}
	low = lat_bucket_low(i, &width);
	v = low + (width - 1) / 2;
	if (v < h->min_ns)
		v = h->min_ns;
	if (v > h->max_ns)
		v = h->max_ns;
	return v;
}

double rate_per_s(uint64_t count, uint64_t ns)
{
	return ns ? (double)count * 1e9 / (double)ns : 0.0;
}

double mbit_per_s(uint64_t frames, unsigned size, uint64_t ns)
{
	return rate_per_s(frames, ns) * size * 8.0 / 1e6;
}

double loss_pct(uint64_t sent, uint64_t received)
{
	if (!sent || received >= sent)
		return 0.0;
	return 100.0 * (double)(sent - received) / (double)sent;
}

double cpu_pct(uint64_t ticks, long hz, uint64_t ns)
{
	if (!ns || hz <= 0)
		return 0.0;
	return 100.0 * (double)ticks / (double)hz * 1e9 / (double)ns;
}

unsigned pace_allowance(double rate, uint64_t t0, uint64_t now, uint64_t sent,
			unsigned burst)
{
	double due;
	uint64_t n;

	if (rate <= 0)
		return burst;
	if (now <= t0)
		return 0;
	due = floor(rate * (double)(now - t0) / 1e9);
	if (due <= (double)sent)
		return 0;
	n = (uint64_t)due - sent;
	return n > burst ? burst : (unsigned)n;
}

uint64_t pace_next_ns(double rate, uint64_t t0, uint64_t sent)
{
	return t0 + (uint64_t)ceil((double)(sent + 1) * 1e9 / rate);
}
