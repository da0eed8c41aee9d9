// SPDX-License-Identifier: MIT
/* fuzz_frames.c - libFuzzer target for the parsers that read frames from
 * guests and peers: VLAN tags (frame.h), address snooping (addrsnoop.c),
 * IGMP / MLD snooping and the receive filter (rxfilter.c), and the
 * virtio-net facts of offloaded frames with software segmentation (gso.c)
 *
 * Input: a mode byte, the ten bytes of a virtio-net header (flags,
 * gso_type, hdr_len, gso_size, csum_start, csum_offset; big-endian), then
 * the frame.  The frame is handed to each parser in a buffer of exactly its
 * length (ASan sees a read past it).  Checked, besides "no crash, no leak":
 *   - frame_vlan() is 0 for an untagged (neither 0x8100 nor 0x88a8) or
 *     too-short frame, else <= 4095;
 *   - addrsnoop learns at most 2 addresses per frame, never one of the
 *     ranges it must not learn, keeps its lists sorted and within bounds,
 *     and forgets everything once it aged out;
 *   - rxfilter: frames shorter than an Ethernet header are refused, a
 *     promiscuous filter takes every other; the multicast table stays
 *     within its 64 slots and snooped groups all go once they expired;
 *   - gso: a frame gso_check() accepted is never refused as malformed by
 *     gso_resolve(); no frame gso_resolve() makes is longer than
 *     gso_wire_len() said (the hub's MTU check relies on it); resolved
 *     frames carry no vnet facts (nor need resolving again); segments
 *     carry valid IPv4 header checksums and, for TSO and USO, valid
 *     TCP / UDP checksums; a shared frame is never written;
 *     the same holds for frames that skipped gso_check() except the
 *     length bound; every frame is back in the pool afterwards.
 * Built with tests/fuzz/standalone.c where libFuzzer is not available.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrsnoop.h"
#include "frame.h"
#include "gso.h"
#include "rxfilter.h"

#define FUZZ_VNET_BYTES	  10
#define FUZZ_NOW_MS	  1000
#define FUZZ_POOL_SMALL	  (GSO_SEGS_MAX + 256)
#define FUZZ_POOL_LARGE	  128
#define FUZZ_ETH_P_8021Q  0x8100
#define FUZZ_ETH_P_8021AD 0x88a8
#define FUZZ_ETH_P_IPV4	  0x0800
#define FUZZ_ETH_P_IPV6	  0x86dd

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct frame_pool *pool;
static struct frame *segs[GSO_SEGS_MAX];

static void fuzz_fail(const char *what, long long got, long long want)
{
	fprintf(stderr, "fuzz_frames: %s: got %lld, expected %lld\n", what, got,
		want);
	abort();
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* -- VLAN ------------------------------------------------------------------ */

static void fuzz_vlan(const uint8_t *buf, size_t len)
{
	struct frame *f;
	uint16_t vid;

	if (len < FRAME_ETH_HLEN)
		return;
	f = frame_alloc_copy(buf, len);
	if (!f)
		fuzz_fail("no frame for the VLAN check", 0, 1);
	vid = frame_vlan(f);
	if (vid > 4095)
		fuzz_fail("VLAN ID", vid, 4095);
	/* one rule for both outer tag types (frame.h) */
	if (vid && ((frame_ethertype(f) != FUZZ_ETH_P_8021Q &&
		     frame_ethertype(f) != FUZZ_ETH_P_8021AD) ||
		    len < FRAME_ETH_HLEN + FRAME_VLAN_HLEN))
		fuzz_fail("a VLAN ID for an untagged frame", vid, 0);
	frame_unref(f);
}

/* -- addrsnoop ------------------------------------------------------------- */

struct fuzz_order {
	const uint8_t *prev;
	size_t alen;
	unsigned n;
	bool v6;
};

static bool fuzz_v4_forbidden(const uint8_t *a)
{
	return a[0] == 0 || a[0] == 127 || a[0] >= 224;
}

static bool fuzz_v6_forbidden(const uint8_t *a)
{
	static const uint8_t zero[16], mapped[12] = {[10] = 0xff, [11] = 0xff};

	if (a[0] == 0xff || !memcmp(a, mapped, sizeof(mapped)))
		return true;
	if (!memcmp(a, zero, 15))
		return a[15] <= 1; /* :: and ::1 */
	return false;
}

static void fuzz_snooped(const struct addrsnoop_entry *e, void *ctx)
{
	struct fuzz_order *o = ctx;

	if (o->v6 ? fuzz_v6_forbidden(e->addr) : fuzz_v4_forbidden(e->addr))
		fuzz_fail("an address that must not be learned", o->v6, 0);
	if (o->prev && memcmp(o->prev, e->addr, o->alen) >= 0)
		fuzz_fail("addresses out of order", o->n, 0);
	if (e->vlan > 4095)
		fuzz_fail("snooped VLAN ID", e->vlan, 4095);
	o->prev = e->addr;
	o->n++;
}

static void fuzz_addrsnoop(const uint8_t *buf, size_t len)
{
	struct fuzz_order o4 = {.alen = 4}, o6 = {.alen = 16, .v6 = true};
	struct addrsnoop s;
	unsigned n;
	json_t *info;

	if (len < FRAME_ETH_HLEN)
		return;
	addrsnoop_init(&s);
	/* the NIC's MAC is the frame's source: only its frames teach */
	n = addrsnoop_frame(&s, buf + 6, buf, len, FUZZ_NOW_MS);
	if (n > 2)
		fuzz_fail("addresses taught by one frame", n, 2);
	if (addrsnoop_frame(&s, buf + 6, buf, len, FUZZ_NOW_MS + 1) != n)
		fuzz_fail("the same frame teaches differently", n, n);
	addrsnoop_foreach_v4(&s, FUZZ_NOW_MS + 1, fuzz_snooped, &o4);
	addrsnoop_foreach_v6(&s, FUZZ_NOW_MS + 1, fuzz_snooped, &o6);
	if (o4.n + o6.n != n)
		fuzz_fail("addresses listed after one frame", o4.n + o6.n, n);
	info = addrsnoop_info(&s, FUZZ_NOW_MS + 1);
	if (!info || json_array_size(json_object_get(info, "ipv4")) != o4.n ||
	    json_array_size(json_object_get(info, "ipv6")) != o6.n)
		fuzz_fail("addrsnoop_info() lists", 0, o4.n + o6.n);
	json_decref(info);
	if (addrsnoop_expire(&s, FUZZ_NOW_MS + 2 + ADDRSNOOP_AGE_MS) != n)
		fuzz_fail("addresses expired", 0, n);
}

/* -- rxfilter -------------------------------------------------------------- */

static const char *const fuzz_rx_setups[] = {
    "{}", /* reset state: promiscuous */
    "{\"promiscuous\": false}",
    "{\"promiscuous\": false, \"vlan\": \"normal\", "
    "\"vlan-table\": [0, 5, 42, 4095]}",
    "{\"promiscuous\": false, \"unicast\": \"none\", "
    "\"broadcast-allowed\": false}",
};

static void fuzz_rxfilter(const uint8_t *buf, size_t len, uint8_t mode)
{
	static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	unsigned setup = mode & 3;
	struct rxfilter f;
	json_t *args, *info;
	bool changed, acc;
	size_t mc;

	rxfilter_init(&f, mac);
	args = json_loads(fuzz_rx_setups[setup], 0, NULL);
	if (!args || !rxfilter_apply(&f, args, NULL, NULL))
		fuzz_fail("rxfilter setup", setup, 0);
	json_decref(args);

	rxfilter_snoop(&f, buf, len, FUZZ_NOW_MS, &changed);
	acc = rxfilter_accept(&f, buf, len);
	if (len < FRAME_ETH_HLEN && acc)
		fuzz_fail("a runt accepted", (long long)len, FRAME_ETH_HLEN);
	if (len >= FRAME_ETH_HLEN && setup == 0 && !acc)
		fuzz_fail("promiscuous filter refused a frame", 0, 1);

	info = rxfilter_info(&f, "fz");
	mc = json_array_size(json_object_get(info, "multicast-table"));
	if (!info || mc > RXFILTER_MAC_TABLE_ENTRIES)
		fuzz_fail("multicast table entries", (long long)mc,
			  RXFILTER_MAC_TABLE_ENTRIES);
	json_decref(info);

	/* nothing here was set by management: all snooped, all expire */
	rxfilter_expire(&f, FUZZ_NOW_MS + RXFILTER_SNOOP_TIMEOUT_MS + 1, NULL);
	info = rxfilter_info(&f, "fz");
	mc = json_array_size(json_object_get(info, "multicast-table"));
	if (!info || mc ||
	    json_is_true(json_object_get(info, "multicast-overflow")))
		fuzz_fail("snooped groups left after expiry", (long long)mc, 0);
	json_decref(info);
}

/* -- gso ------------------------------------------------------------------- */

static uint64_t fuzz_sum(const uint8_t *p, size_t len, uint64_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += rd16(p + i);
	if (len & 1)
		sum += (uint64_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fuzz_fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* fuzz_l3() - where the IP header of @d starts (VLAN tags skipped as
 * gso.c does: up to two of 802.1Q / 802.1ad); 0 when none */
static size_t fuzz_l3(const uint8_t *d, size_t len, uint16_t *et)
{
	size_t off = FRAME_ETH_HLEN;

	if (len < FRAME_ETH_HLEN)
		return 0;
	*et = rd16(d + 12);
	for (int i = 0;
	     i < 2 && (*et == FUZZ_ETH_P_8021Q || *et == FUZZ_ETH_P_8021AD);
	     i++) {
		if (len - off < FRAME_VLAN_HLEN)
			return 0;
		*et = rd16(d + off + 2);
		off += FRAME_VLAN_HLEN;
	}
	return off;
}

/**
 * fuzz_check_segment() - the checksums of one segment gso made
 * @l4sum:	also check the TCP / UDP checksum (TSO, USO)
 */
static void fuzz_check_segment(const struct frame *g, bool l4sum)
{
	const uint8_t *d = g->data;
	size_t l3, l4, end;
	uint64_t ph;
	uint16_t et;
	uint8_t proto;

	l3 = fuzz_l3(d, g->len, &et);
	if (!l3)
		fuzz_fail("a segment without its L2 header", g->len, 0);
	if (et == FUZZ_ETH_P_IPV4) {
		size_t ihl = (d[l3] & 15u) * 4;

		if (g->len - l3 < 20 || g->len - l3 < ihl)
			fuzz_fail("a segment cut in its IPv4 header", g->len,
				  (long long)(l3 + ihl));
		if (fuzz_fold(fuzz_sum(d + l3, ihl, 0)) != 0xffff)
			fuzz_fail("IPv4 header checksum", 0, 0xffff);
		end = l3 + rd16(d + l3 + 2);
		l4 = l3 + ihl;
		proto = d[l3 + 9];
		ph = fuzz_sum(d + l3 + 12, 8, 0) + proto;
	} else if (et == FUZZ_ETH_P_IPV6) {
		if (g->len - l3 < 40)
			fuzz_fail("a segment cut in its IPv6 header", g->len,
				  (long long)(l3 + 40));
		end = l3 + 40 + rd16(d + l3 + 4);
		if (end > g->len)
			fuzz_fail("a segment's IPv6 length past its end",
				  (long long)end, g->len);
		proto = d[l3 + 6];
		l4 = l3 + 40;
		/* hop-by-hop and destination options, as gso.c takes them */
		while ((proto == 0 || proto == 60) && l4 + 8 <= end) {
			proto = d[l4];
			l4 += (d[l4 + 1] + 1u) * 8;
		}
		ph = fuzz_sum(d + l3 + 8, 32, 0) + proto;
	} else {
		fuzz_fail("a segment that is not IP", et, FUZZ_ETH_P_IPV4);
		return;
	}
	if (end > g->len || l4 > end)
		fuzz_fail("a segment's IP length past its end", (long long)end,
			  g->len);
	if (!l4sum)
		return;
	ph += end - l4;
	if (fuzz_fold(fuzz_sum(d + l4, end - l4, ph)) != 0xffff)
		fuzz_fail("TCP / UDP checksum", proto, 0xffff);
}

/**
 * fuzz_resolve() - gso_resolve() on a fresh frame of @buf with @vnet
 * @check:	run gso_check() first, as backends do
 * @shared:	another holder keeps a reference meanwhile
 */
static void fuzz_resolve(const uint8_t *buf, size_t len,
			 const struct frame_vnet *vnet, bool check, bool shared)
{
	struct frame *f = frame_alloc_copy(buf, len);
	uint32_t wire = FRAME_MAX_LEN;
	unsigned base;
	bool gso, l4sum, offloaded;
	uint8_t *before = NULL;
	int n;

	if (!f)
		fuzz_fail("no frame for gso", 0, 1);
	f->vnet = *vnet;
	if (check) {
		if (gso_check(f)) {
			frame_unref(f);
			return;
		}
		/* an IPv6 fragment header may add 8 bytes to the frame */
		wire = gso_wire_len(f);
		if (wire > f->len + 8)
			fuzz_fail("gso_wire_len() past the frame", wire,
				  f->len + 8);
	}
	gso = f->vnet.gso_type != FRAME_GSO_NONE;
	offloaded = gso_offloaded(f);
	base = f->vnet.gso_type & ~FRAME_GSO_ECN;
	l4sum = gso && base != FRAME_GSO_UDP;
	if (shared) {
		before = malloc(f->len);
		if (!before)
			abort();
		memcpy(before, f->data, f->len);
		frame_ref(f);
	}

	n = gso_resolve(f, segs, GSO_SEGS_MAX);
	if (check && n == -EINVAL)
		fuzz_fail("gso_resolve() refused what gso_check() took", n, 1);
	if (n == -ENOBUFS)
		fuzz_fail("the pool ran out", n, 1);
	for (int i = 0; i < n; i++) {
		struct frame *g = segs[i];
		static const struct frame_vnet none;

		/* a frame passed through as it was keeps its facts */
		if (gso_offloaded(g) ||
		    (offloaded && memcmp(&g->vnet, &none, sizeof(none))))
			fuzz_fail("vnet facts left on a resolved frame", i, 0);
		if (g->len > wire)
			fuzz_fail("a frame longer than gso_wire_len()", g->len,
				  wire);
		if (gso)
			fuzz_check_segment(g, l4sum);
		frame_unref(g);
	}
	if (shared) {
		if (memcmp(before, f->data, f->len))
			fuzz_fail("gso_resolve() wrote into a shared frame", 0,
				  0);
		frame_unref(f);
		free(before);
	}
}

static void fuzz_gso(const uint8_t *vh, const uint8_t *buf, size_t len,
		     uint8_t mode)
{
	struct frame_vnet v = {
	    .flags = vh[0],
	    .gso_type = vh[1],
	    .hdr_len = rd16(vh + 2),
	    .gso_size = rd16(vh + 4),
	    .csum_start = rd16(vh + 6),
	    .csum_offset = rd16(vh + 8),
	};
	struct frame_pool_stats st;

	if (len > FRAME_MAX_LEN)
		return;
	fuzz_resolve(buf, len, &v, false, mode & 4);
	fuzz_resolve(buf, len, &v, true, mode & 8);
	frame_pool_stats(pool, &st);
	if (st.small_free != st.small_total || st.large_free != st.large_total)
		fuzz_fail("frames not back in the pool",
			  st.small_free + st.large_free,
			  st.small_total + st.large_total);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t vh[FUZZ_VNET_BYTES], mode;
	uint8_t *buf;
	size_t len;

	if (!pool) {
		pool = frame_pool_new(FUZZ_POOL_SMALL, FUZZ_POOL_LARGE);
		if (!pool)
			abort();
		frame_pool_set_current(pool);
	}
	if (size < 1 + FUZZ_VNET_BYTES)
		return 0;
	mode = data[0];
	memcpy(vh, data + 1, FUZZ_VNET_BYTES);
	len = size - 1 - FUZZ_VNET_BYTES;
	/* exactly the frame's bytes, so that a read past it is caught */
	buf = malloc(len ? len : 1);
	if (!buf)
		abort();
	memcpy(buf, data + 1 + FUZZ_VNET_BYTES, len);

	fuzz_vlan(buf, len);
	fuzz_addrsnoop(buf, len);
	fuzz_rxfilter(buf, len, mode);
	fuzz_gso(vh, buf, len, mode);
	free(buf);
	return 0;
}
