// SPDX-License-Identifier: MIT
/* test_gso.c - software segmentation and checksum completion of offloaded
 * frames: TSO over IPv4 and IPv6, USO, UFO, NEEDS_CSUM, and malformed
 * headers refused without reading outside the frame.  Checksums are
 * verified with a plain 16-bit big-endian sum written here, not gso.c's. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "gso.h"
#include "tap.h"

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80

static uint8_t pkt[FRAME_MAX_LEN];

/* -- an independent checksum ------------------------------------------- */

static uint64_t ref_sum(const uint8_t *p, size_t len, uint64_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t ref_fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static bool ref_ip4_ok(const uint8_t *ip)
{
	return ref_fold(ref_sum(ip, (ip[0] & 15u) * 4, 0)) == 0xffff;
}

/* the pseudo-header sum of an L4 segment of @l4len bytes */
static uint64_t ref_pseudo(const uint8_t *ip, bool v6, uint8_t proto,
			   size_t l4len)
{
	uint64_t s;

	if (v6)
		s = ref_sum(ip + 8, 32, 0) + (l4len >> 16) + (l4len & 0xffff);
	else
		s = ref_sum(ip + 12, 8, 0) + l4len;
	return s + proto;
}

static bool ref_l4_ok(const uint8_t *ip, bool v6, uint8_t proto,
		      const uint8_t *l4, size_t l4len)
{
	return ref_fold(ref_sum(l4, l4len, ref_pseudo(ip, v6, proto, l4len))) ==
	       0xffff;
}

/* -- building test frames ------------------------------------------------ */

struct spec {
	bool v6;
	bool vlan;	   /* one 802.1Q tag */
	bool hbh;	   /* IPv6 hop-by-hop options header (8 bytes) */
	uint8_t proto;	   /* 6 or 17 */
	unsigned tcp_opts; /* TCP option bytes, a multiple of 4 */
	uint8_t tcp_flags;
	uint32_t payload;
};

struct built {
	size_t len, l3, l4, hdr;
};

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + 3 + (i >> 8));
}

/* build() - a frame as a sender would hand it over, in pkt[] */
static struct built build(const struct spec *s)
{
	struct built b;
	size_t off = 12, l4h;
	uint8_t *p = pkt;

	memset(pkt, 0, 256);
	memcpy(p, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	if (s->vlan) {
		wr16(p + off, 0x8100);
		wr16(p + off + 2, 42);
		off += 4;
	}
	wr16(p + off, s->v6 ? 0x86dd : 0x0800);
	b.l3 = off + 2;
	l4h = s->proto == 6 ? 20 + s->tcp_opts : 8;
	if (s->v6) {
		uint8_t *ip = p + b.l3;
		size_t ext = s->hbh ? 8 : 0;

		ip[0] = 0x60;
		wr16(ip + 4, (unsigned)(ext + l4h + s->payload));
		ip[6] = s->hbh ? 0 : s->proto;
		ip[7] = 64;
		memcpy(ip + 8,
		       "\xfd\x00\x00\x00\x00\x00\x00\x00"
		       "\x00\x00\x00\x00\x00\x00\x00\x01",
		       16);
		memcpy(ip + 24,
		       "\xfd\x00\x00\x00\x00\x00\x00\x00"
		       "\x00\x00\x00\x00\x00\x00\x00\x02",
		       16);
		b.l4 = b.l3 + 40;
		if (s->hbh) {
			p[b.l4] = s->proto;
			p[b.l4 + 1] = 0;
			p[b.l4 + 2] = 1; /* PadN */
			p[b.l4 + 3] = 4;
			b.l4 += 8;
		}
	} else {
		uint8_t *ip = p + b.l3;

		ip[0] = 0x45;
		wr16(ip + 2, (unsigned)(20 + l4h + s->payload));
		wr16(ip + 4, 0x1234);
		wr16(ip + 6, 0x4000); /* DF */
		ip[8] = 64;
		ip[9] = s->proto;
		memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
		b.l4 = b.l3 + 20;
	}
	if (s->proto == 6) {
		uint8_t *t = p + b.l4;

		wr16(t, 40000);
		wr16(t + 2, 5201);
		memcpy(t + 4, "\xff\xff\xf0\x00", 4); /* seq wraps */
		memcpy(t + 8, "\x00\x00\x00\x07", 4);
		t[12] = (uint8_t)((5 + s->tcp_opts / 4) << 4);
		t[13] = s->tcp_flags;
		wr16(t + 14, 512);
		for (unsigned i = 0; i < s->tcp_opts; i++)
			t[20 + i] = 1; /* NOP */
	} else {
		uint8_t *u = p + b.l4;

		wr16(u, 40000);
		wr16(u + 2, 5201);
		wr16(u + 4, (unsigned)(8 + s->payload));
	}
	b.hdr = b.l4 + l4h;
	for (size_t i = 0; i < s->payload; i++)
		p[b.hdr + i] = pattern(i);
	b.len = b.hdr + s->payload;
	if (!s->v6)
		CHECK(b.len - b.l3 <= 0xffff);
	return b;
}

/* set_partial() - what a sender leaving the checksum to us writes: the
 * pseudo-header sum, not inverted, in the checksum field */
static void set_partial(const struct spec *s, const struct built *b)
{
	size_t l4len = b->len - b->l4;
	unsigned field = (unsigned)b->l4 + (s->proto == 6 ? 16 : 6);

	wr16(pkt + field, 0);
	wr16(pkt + field,
	     ref_fold(ref_pseudo(pkt + b->l3, s->v6, s->proto, l4len)));
}

static struct frame *mkframe(const struct spec *s, const struct built *b,
			     uint8_t gso_type, uint16_t gso_size,
			     bool needs_csum)
{
	struct frame *f = frame_alloc_copy(pkt, b->len);

	if (!f)
		abort();
	f->vnet.gso_type = gso_type;
	f->vnet.gso_size = gso_size;
	if (needs_csum) {
		f->vnet.flags = FRAME_VNET_F_NEEDS_CSUM;
		f->vnet.csum_start = (uint16_t)b->l4;
		f->vnet.csum_offset = s->proto == 6 ? 16 : 6;
	}
	return f;
}

static struct frame_pool *pool;

static unsigned pool_free_total(void)
{
	struct frame_pool_stats st;

	frame_pool_stats(pool, &st);
	return st.small_free + st.large_free;
}

/* -- TSO ------------------------------------------------------------------- */

static void test_gso_tcp4_segments_have_sizes_seqs_ids_and_checksums(void)
{
	struct spec s = {.proto = 6,
			 .tcp_flags = TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR,
			 .payload = 10000};
	struct built b = build(&s);
	struct frame *f, *segs[GSO_SEGS_MAX];
	unsigned free0 = pool_free_total();
	uint32_t seq0 = rd32(pkt + b.l4 + 4);
	int n;

	set_partial(&s, &b);
	f = mkframe(&s, &b, FRAME_GSO_TCPV4 | FRAME_GSO_ECN, 1448, true);
	f->vnet.hdr_len = 9; /* a wrong hint: gso_check() puts it right */
	CHECK_EQ(gso_check(f), 0);
	CHECK_EQ(f->vnet.hdr_len, 54);
	CHECK_EQ(gso_wire_len(f), 54 + 1448);
	CHECK(gso_offloaded(f));

	n = gso_resolve(f, segs, GSO_SEGS_MAX);
	CHECK_EQ(n, 7);
	for (int i = 0; i < n; i++) {
		const uint8_t *d = segs[i]->data;
		const uint8_t *ip = d + b.l3, *t = d + b.l4;
		uint32_t chunk = i < 6 ? 1448 : 10000 - 6 * 1448;

		CHECK_EQ(segs[i]->len, 54 + chunk);
		CHECK_EQ(segs[i]->vnet.gso_type, 0);
		CHECK_EQ(segs[i]->vnet.flags, 0);
		CHECK(memcmp(d, pkt, b.l3) == 0); /* Ethernet header */
		CHECK_EQ(rd16(ip + 2), 40 + chunk);
		CHECK_EQ(rd16(ip + 4), 0x1234 + i);
		CHECK_EQ(rd16(ip + 6), 0x4000);
		CHECK(ref_ip4_ok(ip));
		CHECK_EQ(rd32(t + 4), (uint32_t)(seq0 + (uint32_t)i * 1448));
		CHECK(ref_l4_ok(ip, false, 6, t, 20 + chunk));
		CHECK_EQ(!!(t[13] & TCP_CWR), i == 0);
		CHECK_EQ(!!(t[13] & (TCP_FIN | TCP_PSH)), i == n - 1);
		CHECK(t[13] & TCP_ACK);
		CHECK(memcmp(d + 54, pkt + b.hdr + (size_t)i * 1448, chunk) ==
		      0);
	}
	if (n > 0)
		frame_unref_many(segs, (unsigned)n);
	CHECK_EQ(pool_free_total(), free0);
}

static void test_gso_tcp6_with_vlan_options_and_hop_by_hop(void)
{
	struct spec s = {.v6 = true,
			 .vlan = true,
			 .hbh = true,
			 .proto = 6,
			 .tcp_opts = 12,
			 .tcp_flags = TCP_ACK,
			 .payload = 5000};
	struct built b = build(&s);
	struct frame *f, *segs[GSO_SEGS_MAX];
	uint32_t seq0 = rd32(pkt + b.l4 + 4);
	int n;

	CHECK_EQ(b.hdr, 18 + 40 + 8 + 32);
	f = mkframe(&s, &b, FRAME_GSO_TCPV6, 1000, true);
	CHECK_EQ(gso_check(f), 0);
	CHECK_EQ(f->vnet.hdr_len, b.hdr);
	CHECK_EQ(gso_wire_len(f), b.hdr + 1000);

	n = gso_resolve(f, segs, GSO_SEGS_MAX);
	CHECK_EQ(n, 5);
	for (int i = 0; i < n; i++) {
		const uint8_t *d = segs[i]->data, *ip = d + b.l3;

		CHECK_EQ(segs[i]->len, b.hdr + 1000);
		CHECK_EQ(rd16(d + 12), 0x8100);
		CHECK_EQ(rd16(d + 14), 42);
		CHECK_EQ(rd16(ip + 4), 8 + 32 + 1000);
		CHECK_EQ(d[b.l3 + 40], 6); /* hop-by-hop kept, next is TCP */
		CHECK_EQ(rd32(d + b.l4 + 4),
			 (uint32_t)(seq0 + (uint32_t)i * 1000));
		CHECK(ref_l4_ok(ip, true, 6, d + b.l4, 32 + 1000));
		CHECK(memcmp(d + b.hdr, pkt + b.hdr + (size_t)i * 1000, 1000) ==
		      0);
	}
	if (n > 0)
		frame_unref_many(segs, (unsigned)n);
}

static void test_gso_frame_within_one_segment_is_checksummed(void)
{
	struct spec s = {
	    .proto = 6, .tcp_flags = TCP_ACK | TCP_PSH, .payload = 300};
	struct built b = build(&s);
	struct frame *f = mkframe(&s, &b, FRAME_GSO_TCPV4, 1448, true),
		     *segs[4];
	int n;

	CHECK_EQ(gso_check(f), 0);
	CHECK_EQ(gso_wire_len(f), b.len);
	n = gso_resolve(f, segs, 4);
	CHECK_EQ(n, 1);
	if (n == 1) {
		CHECK_EQ(segs[0]->len, b.len);
		CHECK(ref_l4_ok(segs[0]->data + b.l3, false, 6,
				segs[0]->data + b.l4, 20 + 300));
		CHECK(segs[0]->data[b.l4 + 13] & TCP_PSH);
		frame_unref(segs[0]);
	}
}

/* -- USO and UFO ----------------------------------------------------------- */

static void check_uso(bool v6)
{
	struct spec s = {.v6 = v6, .proto = 17, .payload = 3000};
	struct built b = build(&s);
	struct frame *f = mkframe(&s, &b, FRAME_GSO_UDP_L4, 1200, true);
	struct frame *segs[8];
	int n;

	CHECK_EQ(gso_check(f), 0);
	CHECK_EQ(gso_wire_len(f), b.hdr + 1200);
	n = gso_resolve(f, segs, 8);
	CHECK_EQ(n, 3);
	for (int i = 0; i < n; i++) {
		const uint8_t *d = segs[i]->data, *ip = d + b.l3;
		uint32_t chunk = i < 2 ? 1200 : 600;

		CHECK_EQ(segs[i]->len, b.hdr + chunk);
		CHECK_EQ(rd16(d + b.l4 + 4), 8 + chunk);
		if (v6) {
			CHECK_EQ(rd16(ip + 4), 8 + chunk);
		} else {
			CHECK_EQ(rd16(ip + 2), 28 + chunk);
			CHECK_EQ(rd16(ip + 4), 0x1234 + i);
			CHECK(ref_ip4_ok(ip));
		}
		CHECK(rd16(d + b.l4 + 6) != 0);
		CHECK(ref_l4_ok(ip, v6, 17, d + b.l4, 8 + chunk));
		CHECK(memcmp(d + b.hdr, pkt + b.hdr + (size_t)i * 1200,
			     chunk) == 0);
	}
	if (n > 0)
		frame_unref_many(segs, (unsigned)n);
}

static void test_gso_udp_l4_segments_ipv4_and_ipv6(void)
{
	check_uso(false);
	check_uso(true);
}

static void test_gso_ufo_ipv4_fragments_reassemble(void)
{
	struct spec s = {.proto = 17, .payload = 4000};
	struct built b = build(&s);
	struct frame *f, *segs[8];
	static uint8_t dgram[8 + 4000];
	size_t got = 0;
	int n;

	f = mkframe(&s, &b, FRAME_GSO_UDP, 1485, true); /* rounds to 1480 */
	CHECK_EQ(gso_check(f), 0);
	CHECK_EQ(gso_wire_len(f), b.l4 + 1480);
	n = gso_resolve(f, segs, 8);
	CHECK_EQ(n, 3);
	for (int i = 0; i < n; i++) {
		const uint8_t *d = segs[i]->data, *ip = d + b.l3;
		size_t chunk = i < 2 ? 1480 : 4008 - 2960;
		unsigned frag = rd16(ip + 6);

		CHECK_EQ(segs[i]->len, b.l4 + chunk);
		CHECK_EQ(rd16(ip + 2), 20 + chunk);
		CHECK_EQ(rd16(ip + 4), 0x1234); /* one datagram, one ID */
		CHECK_EQ((frag & 0x1fff) * 8, (unsigned)i * 1480);
		CHECK_EQ(!!(frag & 0x2000), i < n - 1);
		CHECK(ref_ip4_ok(ip));
		if (got + chunk <= sizeof(dgram))
			memcpy(dgram + got, d + b.l4, chunk);
		got += chunk;
	}
	CHECK_EQ(got, sizeof(dgram));
	CHECK_EQ(rd16(dgram + 4), 4008);
	CHECK(ref_l4_ok(pkt + b.l3, false, 17, dgram, sizeof(dgram)));
	CHECK(memcmp(dgram + 8, pkt + b.hdr, 4000) == 0);
	if (n > 0)
		frame_unref_many(segs, (unsigned)n);
}

static void test_gso_ufo_ipv6_gets_fragment_headers(void)
{
	struct spec s = {.v6 = true, .proto = 17, .payload = 3000};
	struct built b = build(&s);
	struct frame *f, *segs[8];
	static uint8_t dgram[8 + 3000];
	uint32_t id = 0;
	size_t got = 0;
	int n;

	f = mkframe(&s, &b, FRAME_GSO_UDP, 1448, true);
	CHECK_EQ(gso_check(f), 0);
	CHECK_EQ(gso_wire_len(f), b.l4 + 8 + 1448);
	n = gso_resolve(f, segs, 8);
	CHECK_EQ(n, 3);
	for (int i = 0; i < n; i++) {
		const uint8_t *d = segs[i]->data, *ip = d + b.l3;
		const uint8_t *fh = d + b.l4;
		size_t chunk = i < 2 ? 1448 : 3008 - 2896;

		CHECK_EQ(segs[i]->len, b.l4 + 8 + chunk);
		CHECK_EQ(ip[6], 44);
		CHECK_EQ(rd16(ip + 4), 8 + chunk);
		CHECK_EQ(fh[0], 17);
		CHECK_EQ(rd16(fh + 2) & ~7u, (unsigned)i * 1448);
		CHECK_EQ(rd16(fh + 2) & 1u, i < n - 1);
		if (i == 0)
			id = rd32(fh + 4);
		CHECK_EQ(rd32(fh + 4), id);
		if (got + chunk <= sizeof(dgram))
			memcpy(dgram + got, fh + 8, chunk);
		got += chunk;
	}
	CHECK_EQ(got, sizeof(dgram));
	CHECK(ref_l4_ok(pkt + b.l3, true, 17, dgram, sizeof(dgram)));
	CHECK(memcmp(dgram + 8, pkt + b.hdr, 3000) == 0);
	if (n > 0)
		frame_unref_many(segs, (unsigned)n);
}

/* Found by fuzz_frames: a datagram within one fragment still gets a
 * fragment header, 8 bytes more than the frame; the MTU check must see it */
static void test_gso_ufo_ipv6_single_fragment_counts_its_header(void)
{
	struct spec s = {.v6 = true, .proto = 17, .payload = 1000};
	struct built b = build(&s);
	struct frame *f, *segs[2];
	int n;

	f = mkframe(&s, &b, FRAME_GSO_UDP, 1448, true);
	CHECK_EQ(gso_check(f), 0);
	CHECK_EQ(gso_wire_len(f), b.len + 8);
	n = gso_resolve(f, segs, 2);
	CHECK_EQ(n, 1);
	if (n == 1) {
		CHECK_EQ(segs[0]->len, b.len + 8);
		frame_unref(segs[0]);
	}
}

/* -- checksum completion ------------------------------------------------- */

static void test_gso_needs_csum_completed_in_place_when_exclusive(void)
{
	struct spec s = {.proto = 6, .tcp_flags = TCP_ACK, .payload = 777};
	struct built b = build(&s);
	struct frame *f, *out[2];
	int n;

	set_partial(&s, &b);
	f = mkframe(&s, &b, FRAME_GSO_NONE, 0, true);
	CHECK_EQ(gso_check(f), 0);
	CHECK(gso_offloaded(f));
	CHECK_EQ(gso_wire_len(f), b.len);
	n = gso_resolve(f, out, 2);
	CHECK_EQ(n, 1);
	if (n == 1) {
		CHECK(out[0] == f);
		CHECK_EQ(out[0]->vnet.flags, 0);
		CHECK(ref_l4_ok(f->data + b.l3, false, 6, f->data + b.l4,
				20 + 777));
		frame_unref(out[0]);
	}
}

static void test_gso_needs_csum_completed_in_copy_when_shared(void)
{
	struct spec s = {.v6 = true, .proto = 17, .payload = 101};
	struct built b = build(&s);
	struct frame *f, *out[2];
	uint16_t partial;
	int n;

	set_partial(&s, &b);
	partial = rd16(pkt + b.l4 + 6);
	f = mkframe(&s, &b, FRAME_GSO_NONE, 0, true);
	frame_ref(f); /* another port holds it too */
	n = gso_resolve(f, out, 2);
	CHECK_EQ(n, 1);
	CHECK_EQ(f->refs, 1);
	CHECK_EQ(rd16(f->data + b.l4 + 6), partial); /* untouched */
	CHECK(f->vnet.flags & FRAME_VNET_F_NEEDS_CSUM);
	if (n == 1) {
		CHECK(out[0] != f);
		CHECK(ref_l4_ok(out[0]->data + b.l3, true, 17,
				out[0]->data + b.l4, 8 + 101));
		frame_unref(out[0]);
	}
	frame_unref(f);
}

static void test_gso_plain_frame_passes_through(void)
{
	struct spec s = {.proto = 6, .tcp_flags = TCP_ACK, .payload = 10};
	struct built b = build(&s);
	struct frame *f = mkframe(&s, &b, FRAME_GSO_NONE, 0, false), *out[1];

	f->vnet.flags = FRAME_VNET_F_DATA_VALID | 0x40; /* unknown bit */
	CHECK_EQ(gso_check(f), 0);
	CHECK_EQ(f->vnet.flags, FRAME_VNET_F_DATA_VALID);
	CHECK(!gso_offloaded(f));
	CHECK_EQ(gso_resolve(f, out, 1), 1);
	CHECK(out[0] == f);
	CHECK(memcmp(f->data, pkt, b.len) == 0);
	frame_unref(f);
}

static void test_gso_pool_exhaustion_leaves_nothing_behind(void)
{
	struct frame_pool *small = frame_pool_new(4, 1), *saved = pool;
	struct spec s = {.proto = 6, .tcp_flags = TCP_ACK, .payload = 9000};
	struct built b = build(&s);
	struct frame_pool_stats st;
	struct frame *f, *segs[16];

	frame_pool_set_current(small);
	f = mkframe(&s, &b, FRAME_GSO_TCPV4, 1000, true); /* the large buffer */
	CHECK_EQ(gso_resolve(f, segs, 16), -ENOBUFS);	  /* 9 > 4 small */
	frame_pool_stats(small, &st);
	CHECK_EQ(st.small_free, 4);
	CHECK_EQ(st.large_free, 1);

	f = mkframe(&s, &b, FRAME_GSO_TCPV4, 1000, true);
	CHECK_EQ(gso_resolve(f, segs, 3), -E2BIG);
	frame_pool_stats(small, &st);
	CHECK_EQ(st.small_free + st.large_free, 5);
	frame_pool_free(small);
	frame_pool_set_current(saved);
}

/* -- malformed input ------------------------------------------------------ */

/* A frame whose data is a heap block of exactly its length, so that the
 * sanitizer sees any read past the end */
struct exact {
	uint8_t *mem;
	struct frame f; /* last: struct frame ends in a flexible array */
};

static void exact_init(struct exact *e, const uint8_t *src, size_t len,
		       const struct frame_vnet *v)
{
	memset(&e->f, 0, sizeof(e->f));
	e->mem = malloc(len ? len : 1);
	if (!e->mem)
		abort();
	if (len)
		memcpy(e->mem, src, len);
	e->f.data = e->mem;
	e->f.len = (uint32_t)len;
	e->f.refs = 1;
	e->f.vnet = *v;
}

/* try_all() - gso_check() and gso_segment() on an exact copy; the number
 * of segments, or the error */
static int try_all(const uint8_t *src, size_t len, const struct frame_vnet *v,
		   int *check)
{
	struct frame *segs[GSO_SEGS_MAX];
	struct exact e;
	int n;

	exact_init(&e, src, len, v);
	n = gso_segment(&e.f, segs, GSO_SEGS_MAX);
	if (n > 0) {
		for (int i = 0; i < n; i++)
			CHECK(segs[i]->len <= len);
		frame_unref_many(segs, (unsigned)n);
	}
	*check = gso_check(&e.f);
	free(e.mem);
	return n;
}

struct bad_case {
	const char *what;
	struct spec s;
	uint8_t gso_type;
	uint16_t gso_size;
	void (*mangle)(const struct built *b, struct frame_vnet *v);
	int segment_err; /* what gso_segment() says */
};

static void m_none(const struct built *b, struct frame_vnet *v)
{
	(void)b;
	(void)v;
}
static void m_csum_start_beyond(const struct built *b, struct frame_vnet *v)
{
	v->flags = FRAME_VNET_F_NEEDS_CSUM;
	v->csum_start = (uint16_t)b->len;
	v->csum_offset = 0;
}
static void m_csum_offset_beyond(const struct built *b, struct frame_vnet *v)
{
	v->flags = FRAME_VNET_F_NEEDS_CSUM;
	v->csum_start = (uint16_t)(b->len - 3);
	v->csum_offset = 2;
}
static void m_hdr_len_beyond(const struct built *b, struct frame_vnet *v)
{
	v->hdr_len = (uint16_t)(b->len + 1);
}
static void m_csum_offset_huge(const struct built *b, struct frame_vnet *v)
{
	v->flags = FRAME_VNET_F_NEEDS_CSUM;
	v->csum_start = (uint16_t)b->l4;
	v->csum_offset = 0xffff;
}
static void m_ihl_lies(const struct built *b, struct frame_vnet *v)
{
	(void)v;
	pkt[b->l3] = 0x4f;
}
static void m_ihl_short(const struct built *b, struct frame_vnet *v)
{
	(void)v;
	pkt[b->l3] = 0x44;
}
static void m_tot_len_beyond(const struct built *b, struct frame_vnet *v)
{
	(void)v;
	wr16(pkt + b->l3 + 2, (unsigned)(b->len - b->l3 + 1));
}
static void m_tot_len_below_ihl(const struct built *b, struct frame_vnet *v)
{
	(void)v;
	wr16(pkt + b->l3 + 2, 19);
}
static void m_doff_lies(const struct built *b, struct frame_vnet *v)
{
	(void)v;
	pkt[b->l4 + 12] = 0xf0;
}
static void m_doff_short(const struct built *b, struct frame_vnet *v)
{
	(void)v;
	pkt[b->l4 + 12] = 0x20;
}
static void m_ip4_fragment(const struct built *b, struct frame_vnet *v)
{
	(void)v;
	wr16(pkt + b->l3 + 6, 0x2000);
}
static void m_ip6_plen_beyond(const struct built *b, struct frame_vnet *v)
{
	(void)v;
	wr16(pkt + b->l3 + 4, (unsigned)(b->len - b->l3 - 40 + 1));
}
static void m_ip6_ext_len_beyond(const struct built *b, struct frame_vnet *v)
{
	(void)v;
	pkt[b->l3 + 41] = 200; /* hop-by-hop of 1608 bytes */
}
static void m_ip6_routing(const struct built *b, struct frame_vnet *v)
{
	(void)v;
	pkt[b->l3 + 6] = 43;
}
static void m_ip_version_lies(const struct built *b, struct frame_vnet *v)
{
	(void)v;
	pkt[b->l3] = (uint8_t)((pkt[b->l3] & 0x0f) | 0x70);
}
static void m_proto_udp(const struct built *b, struct frame_vnet *v)
{
	(void)v;
	pkt[b->l3 + 9] = 17;
}

static const struct bad_case bad_cases[] = {
    {"csum_start beyond the frame",
     {.proto = 6, .payload = 100},
     FRAME_GSO_NONE,
     0,
     m_csum_start_beyond,
     -EINVAL},
    {"csum field past the end",
     {.proto = 6, .payload = 100},
     FRAME_GSO_NONE,
     0,
     m_csum_offset_beyond,
     -EINVAL},
    {"csum_offset 65535",
     {.proto = 6, .payload = 100},
     FRAME_GSO_TCPV4,
     50,
     m_csum_offset_huge,
     2},
    {"hdr_len past the end of the frame (segmenting ignores it)",
     {.proto = 6, .payload = 100},
     FRAME_GSO_TCPV4,
     50,
     m_hdr_len_beyond,
     2},
    {"gso_size 0",
     {.proto = 6, .payload = 4000},
     FRAME_GSO_TCPV4,
     0,
     m_none,
     -EINVAL},
    {"unknown GSO type 2",
     {.proto = 6, .payload = 4000},
     2,
     1000,
     m_none,
     -EINVAL},
    {"ECN on UDP",
     {.proto = 17, .payload = 4000},
     FRAME_GSO_UDP_L4 | FRAME_GSO_ECN,
     1000,
     m_none,
     -EINVAL},
    {"IPv4 ihl longer than the packet",
     {.proto = 6, .payload = 0},
     FRAME_GSO_TCPV4,
     1000,
     m_ihl_lies,
     -EINVAL},
    {"IPv4 ihl below 5",
     {.proto = 6, .payload = 100},
     FRAME_GSO_TCPV4,
     50,
     m_ihl_short,
     -EINVAL},
    {"IPv4 total length past the frame",
     {.proto = 6, .payload = 100},
     FRAME_GSO_TCPV4,
     50,
     m_tot_len_beyond,
     -EINVAL},
    {"IPv4 total length below ihl",
     {.proto = 6, .payload = 100},
     FRAME_GSO_TCPV4,
     50,
     m_tot_len_below_ihl,
     -EINVAL},
    {"TCP data offset past the packet",
     {.proto = 6, .payload = 10},
     FRAME_GSO_TCPV4,
     5,
     m_doff_lies,
     -EINVAL},
    {"TCP data offset below 5",
     {.proto = 6, .payload = 100},
     FRAME_GSO_TCPV4,
     50,
     m_doff_short,
     -EINVAL},
    {"IPv4 fragment",
     {.proto = 6, .payload = 100},
     FRAME_GSO_TCPV4,
     50,
     m_ip4_fragment,
     -EINVAL},
    {"TCPV4 on an IPv6 packet",
     {.v6 = true, .proto = 6, .payload = 100},
     FRAME_GSO_TCPV4,
     50,
     m_none,
     -EINVAL},
    {"TCPV6 on an IPv4 packet",
     {.proto = 6, .payload = 100},
     FRAME_GSO_TCPV6,
     50,
     m_none,
     -EINVAL},
    {"TCPV4 on a UDP packet",
     {.proto = 6, .payload = 100},
     FRAME_GSO_TCPV4,
     50,
     m_proto_udp,
     -EINVAL},
    {"IPv6 payload length past the frame",
     {.v6 = true, .proto = 6, .payload = 100},
     FRAME_GSO_TCPV6,
     50,
     m_ip6_plen_beyond,
     -EINVAL},
    {"IPv6 extension header past the packet",
     {.v6 = true, .hbh = true, .proto = 6, .payload = 100},
     FRAME_GSO_TCPV6,
     50,
     m_ip6_ext_len_beyond,
     -EINVAL},
    {"IPv6 routing header",
     {.v6 = true, .proto = 6, .payload = 100},
     FRAME_GSO_TCPV6,
     50,
     m_ip6_routing,
     -EINVAL},
    {"IP version field lies",
     {.proto = 6, .payload = 100},
     FRAME_GSO_TCPV4,
     50,
     m_ip_version_lies,
     -EINVAL},
    {"UFO fragment size below 8",
     {.proto = 17, .payload = 100},
     FRAME_GSO_UDP,
     7,
     m_none,
     -EINVAL},
    {"UFO behind IPv6 options",
     {.v6 = true, .hbh = true, .proto = 17, .payload = 100},
     FRAME_GSO_UDP,
     64,
     m_none,
     -EINVAL},
    {"more segments than GSO_SEGS_MAX",
     {.proto = 17, .payload = 60000},
     FRAME_GSO_UDP_L4,
     10,
     m_none,
     -E2BIG},
};

static void test_gso_malformed_headers_are_refused(void)
{
	unsigned free0 = pool_free_total();

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct built b = build(&c->s);
		struct frame_vnet v = {.gso_type = c->gso_type,
				       .gso_size = c->gso_size};
		int n, check;

		c->mangle(&b, &v);
		n = try_all(pkt, b.len, &v, &check);
		if (n != c->segment_err || (c->segment_err < 0 && check == 0) ||
		    (c->segment_err > 0 && check != -EINVAL))
			printf("# case '%s': segment %d, check %d\n", c->what,
			       n, check);
		CHECK_EQ(n, c->segment_err);
		CHECK_EQ(check, -EINVAL);
	}
	CHECK_EQ(pool_free_total(), free0);
}

static void test_gso_short_frames_never_read_past_the_end(void)
{
	static const struct spec specs[] = {
	    {.v6 = true,
	     .vlan = true,
	     .hbh = true,
	     .proto = 6,
	     .tcp_opts = 12,
	     .payload = 600},
	    {.proto = 6, .payload = 600},
	    {.proto = 17, .payload = 600},
	    {.v6 = true, .proto = 17, .payload = 600},
	};
	static const uint8_t types[] = {FRAME_GSO_TCPV6, FRAME_GSO_TCPV4,
					FRAME_GSO_UDP, FRAME_GSO_UDP};
	unsigned free0 = pool_free_total();

	for (size_t k = 0; k < 4; k++) {
		struct built b = build(&specs[k]);
		struct frame_vnet v = {.gso_type = types[k], .gso_size = 200};
		unsigned ok = 0;

		/* Every truncation: the headers still claim the full length */
		for (size_t len = 0; len <= b.len; len++) {
			int check, n = try_all(pkt, len, &v, &check);

			if (len < b.len) {
				CHECK(n < 0);
				CHECK_EQ(check, -EINVAL);
			} else {
				ok += n > 0 && check == 0;
			}
		}
		CHECK_EQ(ok, 1);
	}
	CHECK_EQ(pool_free_total(), free0);
}

static void test_gso_mangled_headers_never_crash(void)
{
	static const struct spec specs[] = {
	    {.v6 = true, .hbh = true, .proto = 6, .payload = 900},
	    {.vlan = true, .proto = 6, .tcp_opts = 8, .payload = 900},
	    {.proto = 17, .payload = 900},
	    {.v6 = true, .proto = 17, .payload = 900},
	};
	static const uint8_t types[] = {FRAME_GSO_TCPV6, FRAME_GSO_TCPV4,
					FRAME_GSO_UDP, FRAME_GSO_UDP_L4};
	static uint8_t orig[2048];
	unsigned free0 = pool_free_total();
	uint32_t rnd = 12345;

	for (unsigned iter = 0; iter < 20000; iter++) {
		size_t k = iter % 4;
		struct built b = build(&specs[k]);
		struct frame_vnet v = {.gso_type = types[k], .gso_size = 100};
		int check;

		memcpy(orig, pkt, b.len);
		/* flip up to four bytes among the headers, sometimes the
		 * vnet facts too */
		for (unsigned j = 0; j < 1 + iter % 4; j++) {
			rnd = rnd * 1103515245u + 12345u;
			pkt[(rnd >> 8) % (b.hdr + 2)] ^= (uint8_t)(rnd >> 24);
		}
		if (iter % 7 == 0) {
			rnd = rnd * 1103515245u + 12345u;
			v.gso_size = (uint16_t)(rnd >> 16);
			v.flags = FRAME_VNET_F_NEEDS_CSUM;
			v.csum_start = (uint16_t)(rnd >> 3);
			v.csum_offset = (uint16_t)(rnd >> 9);
		}
		try_all(pkt, b.len, &v, &check);
	}
	CHECK_EQ(pool_free_total(), free0);
}

int main(void)
{
	pool = frame_pool_new(4096, 64);
	frame_pool_set_current(pool);

	TAP_RUN(test_gso_tcp4_segments_have_sizes_seqs_ids_and_checksums);
	TAP_RUN(test_gso_tcp6_with_vlan_options_and_hop_by_hop);
	TAP_RUN(test_gso_frame_within_one_segment_is_checksummed);
	TAP_RUN(test_gso_udp_l4_segments_ipv4_and_ipv6);
	TAP_RUN(test_gso_ufo_ipv4_fragments_reassemble);
	TAP_RUN(test_gso_ufo_ipv6_gets_fragment_headers);
	TAP_RUN(test_gso_ufo_ipv6_single_fragment_counts_its_header);
	TAP_RUN(test_gso_needs_csum_completed_in_place_when_exclusive);
	TAP_RUN(test_gso_needs_csum_completed_in_copy_when_shared);
	TAP_RUN(test_gso_plain_frame_passes_through);
	TAP_RUN(test_gso_pool_exhaustion_leaves_nothing_behind);
	TAP_RUN(test_gso_malformed_headers_are_refused);
	TAP_RUN(test_gso_short_frames_never_read_past_the_end);
	TAP_RUN(test_gso_mangled_headers_never_crash);

	frame_pool_set_current(NULL);
	frame_pool_free(pool);
	return tap_done();
}
