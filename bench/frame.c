/* SPDX-License-Identifier: MIT */
/* frame.c - the bench frame nethub-bench sends, and where each one goes
 *
 * A bench frame is an Ethernet header, struct bench_hdr (flow, epoch,
 * sequence number, send time) and filler; bench.h has the layout and the
 * inline hdr_stamp()/hdr_parse().  Here: the MAC addresses of the bench
 * ports, frame templates, and the traffic patterns (--pattern, --macs),
 * which decide each frame's source and destination MACs when it is
 * stamped and whether a received frame reached a port it was meant for.
 *
 * Everything here depends only on its arguments (the sender and the sink
 * agree on a frame's destination without keeping any state), and
 * bench_stamp() and bench_intended() run per frame: nothing here may
 * allocate, log or make a syscall.
 */
#include <string.h>

#include "bench.h"

void mac_of(unsigned idx, uint32_t k, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = (uint8_t)(k >> 16);
	mac[2] = (uint8_t)(k >> 8);
	mac[3] = (uint8_t)k;
	mac[4] = (uint8_t)((idx + 1) >> 8);
	mac[5] = (uint8_t)(idx + 1);
}

void mac_of_port(unsigned idx, uint8_t mac[6])
{
	mac_of(idx, 0, mac);
}

void frame_template(uint8_t *buf, size_t len, unsigned src,
		    const uint8_t dst_mac[6])
{
	size_t i;

	memcpy(buf, dst_mac, 6);
	mac_of_port(src, buf + 6);
	buf[12] = BENCH_ETHERTYPE >> 8;
	buf[13] = BENCH_ETHERTYPE & 0xff;
	for (i = ETH_HLEN; i < len; i++)
		buf[i] = (uint8_t)(i * 7);
}

/* ---------------------------------------------------------------------- */
/* Patterns: who sends to whom                                             */
/* ---------------------------------------------------------------------- */

static const char *const pattern_names[] = {
	[BENCH_PATTERN_PAIRWISE] = "pairwise",
	[BENCH_PATTERN_ALL_TO_ALL] = "all-to-all",
	[BENCH_PATTERN_BROADCAST] = "broadcast",
	[BENCH_PATTERN_IDLE] = "idle",
};

const char *pattern_name(enum bench_pattern pattern)
{
	return pattern_names[pattern];
}

int pattern_find(const char *name, enum bench_pattern *out)
{
	unsigned i;

	for (i = 0; i < sizeof(pattern_names) / sizeof(pattern_names[0]); i++)
		if (!strcmp(pattern_names[i], name)) {
			*out = (enum bench_pattern)i;
			return 0;
		}
	return -1;
}

int pattern_peer(const struct bench_cfg *cfg, unsigned idx)
{
	if (idx % 2 == 0)
		return idx + 1 < cfg->ports ? (int)idx + 1 : -1;
	return cfg->bidir ? (int)idx - 1 : -1;
}

bool pattern_sends(const struct bench_cfg *cfg, unsigned idx)
{
	switch (cfg->pattern) {
	case BENCH_PATTERN_PAIRWISE:
		return pattern_peer(cfg, idx) >= 0;
	case BENCH_PATTERN_ALL_TO_ALL:
	case BENCH_PATTERN_BROADCAST:
		return cfg->ports >= 2;
	case BENCH_PATTERN_IDLE:
		break;
	}
	return false;
}

unsigned pattern_copies(const struct bench_cfg *cfg)
{
	if (cfg->pattern == BENCH_PATTERN_BROADCAST)
		return cfg->ports ? cfg->ports - 1 : 0;
	return cfg->pattern == BENCH_PATTERN_IDLE ? 0 : 1;
}

struct bench_pick bench_pick(const struct bench_cfg *cfg, unsigned src,
			     uint8_t epoch, uint64_t seq)
{
	uint32_t n = cfg->macs ? cfg->macs : 1;
	struct bench_pick pk = {
		.dst = -1,
		.src_k = (uint32_t)(seq % n),
	};
	unsigned others = cfg->ports > 1 ? cfg->ports - 1 : 1, d;

	if (epoch == BENCH_EPOCH_LEARN || cfg->pattern == BENCH_PATTERN_IDLE) {
		pk.dst = (int)((src + 1) % cfg->ports);
		return pk;
	}
	switch (cfg->pattern) {
	case BENCH_PATTERN_PAIRWISE:
		pk.dst = pattern_peer(cfg, src);
		pk.dst_k = pk.src_k;
		break;
	case BENCH_PATTERN_ALL_TO_ALL:
		d = (unsigned)(seq % others);
		pk.dst = (int)(d < src ? d : d + 1);
		pk.dst_k = (uint32_t)((seq / others) % n);
		break;
	case BENCH_PATTERN_BROADCAST:
	case BENCH_PATTERN_IDLE:
		break;
	}
	return pk;
}

void bench_stamp(const struct bench_port *p, uint8_t *frame,
		 uint8_t epoch, uint64_t seq, uint64_t now)
{
	struct bench_pick pk = bench_pick(p->cfg, p->idx, epoch, seq);

	if (pk.dst < 0)
		memset(frame, 0xff, 6);
	else
		mac_of((unsigned)pk.dst, pk.dst_k, frame);
	mac_of(p->idx, pk.src_k, frame + 6);
	hdr_stamp(frame, (uint16_t)p->idx, epoch, seq, now);
}

bool bench_intended(const struct bench_cfg *cfg, unsigned src,
		    uint8_t epoch, uint64_t seq, unsigned rx)
{
	struct bench_pick pk;

	if (rx == src)
		return false;
	pk = bench_pick(cfg, src, epoch, seq);
	return pk.dst < 0 || (unsigned)pk.dst == rx;
}
