// SPDX-License-Identifier: MIT
/* test_addrsnoop.c - unit tests of address snooping (switch/addrsnoop.c)
 *
 * Builds the frames a guest sends (ARP, IPv4, IPv6, neighbour discovery,
 * untagged and 802.1Q-tagged) with small helpers of its own, feeds them in
 * with a fake clock, and checks what the table learned.  Every parse is
 * also run on every truncation of its frame, each copied into a heap
 * buffer of exactly that size, so AddressSanitizer catches any read past
 * the end; and on seeded random garbage.
 */

#include <stdlib.h>
#include <string.h>

#include "addrsnoop.h"
#include "tap.h"

static const uint8_t nic_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t other_mac[6] = {0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc};
static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

#define AGE ADDRSNOOP_AGE_MS

/* Frame building */

struct fb {
	uint8_t b[256];
	size_t len;
};

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* fb_eth() - Ethernet header from @src; @vid > 0 adds an 802.1Q tag */
static void fb_eth(struct fb *f, const uint8_t src[6], int vid, unsigned type)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->b, bcast, 6);
	memcpy(f->b + 6, src, 6);
	f->len = 12;
	if (vid >= 0) {
		put16(f->b + 12, 0x8100);
		put16(f->b + 14, (unsigned)vid | 0x6000); /* PCP 3, DEI 0 */
		f->len = 16;
	}
	put16(f->b + f->len, type);
	f->len += 2;
}

static void fb_arp(struct fb *f, const uint8_t src[6], int vid, unsigned op,
		   const uint8_t sha[6], const uint8_t spa[4],
		   const uint8_t tpa[4])
{
	uint8_t *p;

	fb_eth(f, src, vid, 0x0806);
	p = f->b + f->len;
	put16(p, 1);
	put16(p + 2, 0x0800);
	p[4] = 6;
	p[5] = 4;
	put16(p + 6, op);
	memcpy(p + 8, sha, 6);
	memcpy(p + 14, spa, 4);
	memcpy(p + 24, tpa, 4);
	f->len += 28;
}

/* fb_ipv4() - an IPv4/UDP packet with @payload bytes of UDP data */
static void fb_ipv4(struct fb *f, const uint8_t src[6], int vid,
		    const uint8_t saddr[4], size_t payload)
{
	uint8_t *p;

	fb_eth(f, src, vid, 0x0800);
	p = f->b + f->len;
	p[0] = 0x45;
	put16(p + 2, (unsigned)(20 + 8 + payload));
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, saddr, 4);
	p[16] = 192;
	p[17] = 0;
	p[18] = 2;
	p[19] = 1;
	put16(p + 24, (unsigned)(8 + payload));
	f->len += 20 + 8 + payload;
}

/* fb_ipv6() - an IPv6 header with @nh, @hlim and @plen bytes of payload
 * (zero, for the caller to fill); returns the payload */
static uint8_t *fb_ipv6(struct fb *f, const uint8_t src[6], int vid,
			const uint8_t saddr[16], unsigned nh, unsigned hlim,
			size_t plen)
{
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	uint8_t *p;

	fb_eth(f, src, vid, 0x86dd);
	p = f->b + f->len;
	p[0] = 0x60;
	put16(p + 4, (unsigned)plen);
	p[6] = (uint8_t)nh;
	p[7] = (uint8_t)hlim;
	memcpy(p + 8, saddr, 16);
	memcpy(p + 24, all_nodes, 16);
	f->len += 40 + plen;
	return p + 40;
}

/* fb_nd() - a neighbour solicitation (135) or advertisement (136) with a
 * link-layer address option (the checksum is not checked, so left 0) */
static void fb_nd(struct fb *f, const uint8_t src[6], int vid,
		  const uint8_t saddr[16], unsigned type, unsigned flags,
		  const uint8_t target[16], unsigned hlim)
{
	uint8_t *icmp = fb_ipv6(f, src, vid, saddr, 58, hlim, 32);

	icmp[0] = (uint8_t)type;
	icmp[4] = (uint8_t)flags;
	memcpy(icmp + 8, target, 16);
	icmp[24] = type == 135 ? 1 : 2;
	icmp[25] = 1;
	memcpy(icmp + 26, src, 6);
}

/* feed() - addrsnoop_frame() on an exact-size heap copy of @len bytes */
static unsigned feed_len(struct addrsnoop *s, const struct fb *f, size_t len,
			 uint64_t now)
{
	uint8_t *copy = malloc(len ? len : 1);
	unsigned n;

	memcpy(copy, f->b, len);
	n = addrsnoop_frame(s, nic_mac, copy, len, now);
	free(copy);
	return n;
}

static unsigned feed(struct addrsnoop *s, const struct fb *f, uint64_t now)
{
	return feed_len(s, f, f->len, now);
}

/* live counts through the public iteration */
static void count_cb(const struct addrsnoop_entry *e, void *ctx)
{
	(void)e;
	(*(unsigned *)ctx)++;
}

static unsigned n_v4(const struct addrsnoop *s, uint64_t now)
{
	unsigned n = 0;

	addrsnoop_foreach_v4(s, now, count_cb, &n);
	return n;
}

static unsigned n_v6(const struct addrsnoop *s, uint64_t now)
{
	unsigned n = 0;

	addrsnoop_foreach_v6(s, now, count_cb, &n);
	return n;
}

struct find_ctx {
	const uint8_t *addr;
	size_t alen;
	const struct addrsnoop_entry *found;
};

static void find_cb(const struct addrsnoop_entry *e, void *ctx)
{
	struct find_ctx *c = ctx;

	if (!memcmp(e->addr, c->addr, c->alen))
		c->found = e;
}

static const struct addrsnoop_entry *find_v4(const struct addrsnoop *s,
					     const uint8_t a[4], uint64_t now)
{
	struct find_ctx c = {a, 4, NULL};

	addrsnoop_foreach_v4(s, now, find_cb, &c);
	return c.found;
}

static const struct addrsnoop_entry *find_v6(const struct addrsnoop *s,
					     const uint8_t a[16], uint64_t now)
{
	struct find_ctx c = {a, 16, NULL};

	addrsnoop_foreach_v6(s, now, find_cb, &c);
	return c.found;
}

static const uint8_t ip_a[4] = {192, 0, 2, 7};
static const uint8_t ip_b[4] = {10, 1, 2, 3};
static const uint8_t ip0[4] = {0, 0, 0, 0};
static const uint8_t ll_a[16] = {0xfe, 0x80, [8] = 0x50, 0x54, 0x00,
				 0xff, 0xfe, 0x12,	 0x34, 0x56};
static const uint8_t gl_a[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x42};
static const uint8_t gl_b[16] = {0x20, 0x01, 0x0d, 0xb8, [14] = 1, 0x99};
static const uint8_t unspec[16];

/* ARP */

static void test_addrsnoop_arp_request_and_reply_learn_sender(void)
{
	struct addrsnoop s;
	struct fb f;
	const struct addrsnoop_entry *e;

	addrsnoop_init(&s);
	fb_arp(&f, nic_mac, -1, 1, nic_mac, ip_a, ip_b);
	CHECK_EQ(feed(&s, &f, 100), 1);
	CHECK(addrsnoop_has_v4(&s, ip_a, 100));
	CHECK(!addrsnoop_has_v4(&s, ip_b, 100)); /* the target is not ours */
	e = find_v4(&s, ip_a, 100);
	CHECK(e && e->claimed && e->vlan == 0 && e->last_seen_ms == 100);
	fb_arp(&f, nic_mac, -1, 2, nic_mac, ip_b, ip_a);
	CHECK_EQ(feed(&s, &f, 200), 1);
	CHECK(addrsnoop_has_v4(&s, ip_b, 200));
	CHECK_EQ(n_v4(&s, 200), 2);
	CHECK_EQ(n_v6(&s, 200), 0);
	/* a repeat refreshes, it does not add */
	CHECK_EQ(feed(&s, &f, 300), 1);
	CHECK_EQ(n_v4(&s, 300), 2);
	CHECK_EQ(find_v4(&s, ip_b, 300)->last_seen_ms, 300);
}

static void test_addrsnoop_arp_probe_not_learned(void)
{
	struct addrsnoop s;
	struct fb f;

	addrsnoop_init(&s);
	/* RFC 5227 probe: sender 0.0.0.0, target the address wanted */
	fb_arp(&f, nic_mac, -1, 1, nic_mac, ip0, ip_a);
	CHECK_EQ(feed(&s, &f, 1), 0);
	CHECK_EQ(n_v4(&s, 1), 0);
	/* announcement: sender = target */
	fb_arp(&f, nic_mac, -1, 1, nic_mac, ip_a, ip_a);
	CHECK_EQ(feed(&s, &f, 2), 1);
	CHECK(addrsnoop_has_v4(&s, ip_a, 2));
}

static void test_addrsnoop_arp_of_others_or_odd_ignored(void)
{
	struct addrsnoop s;
	struct fb f;
	static const uint8_t mcast[4] = {224, 0, 0, 1};

	addrsnoop_init(&s);
	/* another station's ARP, or ours claiming another sender MAC */
	fb_arp(&f, other_mac, -1, 1, other_mac, ip_a, ip_b);
	CHECK_EQ(feed(&s, &f, 1), 0);
	fb_arp(&f, nic_mac, -1, 1, other_mac, ip_a, ip_b);
	CHECK_EQ(feed(&s, &f, 1), 0);
	fb_arp(&f, other_mac, -1, 1, nic_mac, ip_a, ip_b);
	CHECK_EQ(feed(&s, &f, 1), 0);
	/* RARP opcodes, other hardware or protocol types, lengths */
	fb_arp(&f, nic_mac, -1, 3, nic_mac, ip_a, ip_b);
	CHECK_EQ(feed(&s, &f, 1), 0);
	fb_arp(&f, nic_mac, -1, 1, nic_mac, ip_a, ip_b);
	f.b[15] = 6; /* htype 6 (IEEE 802) */
	CHECK_EQ(feed(&s, &f, 1), 0);
	fb_arp(&f, nic_mac, -1, 1, nic_mac, ip_a, ip_b);
	f.b[16] = 0x86; /* ptype 0x86dd */
	f.b[17] = 0xdd;
	CHECK_EQ(feed(&s, &f, 1), 0);
	fb_arp(&f, nic_mac, -1, 1, nic_mac, ip_a, ip_b);
	f.b[19] = 16; /* plen */
	CHECK_EQ(feed(&s, &f, 1), 0);
	fb_arp(&f, nic_mac, -1, 1, nic_mac, mcast, ip_b);
	CHECK_EQ(feed(&s, &f, 1), 0);
	/* the same frame as RARP ethertype */
	fb_arp(&f, nic_mac, -1, 1, nic_mac, ip_a, ip_b);
	put16(f.b + 12, 0x8035);
	CHECK_EQ(feed(&s, &f, 1), 0);
	CHECK_EQ(n_v4(&s, 1), 0);
}

/* IPv4 */

static void test_addrsnoop_ipv4_source_learned(void)
{
	struct addrsnoop s;
	struct fb f;
	const struct addrsnoop_entry *e;
	static const uint8_t linklocal[4] = {169, 254, 1, 2};

	addrsnoop_init(&s);
	fb_ipv4(&f, nic_mac, -1, ip_a, 10);
	CHECK_EQ(feed(&s, &f, 5), 1);
	e = find_v4(&s, ip_a, 5);
	CHECK(e && !e->claimed);
	/* padded to the Ethernet minimum: total length < frame, fine */
	fb_ipv4(&f, nic_mac, -1, linklocal, 0);
	f.len = 60;
	CHECK_EQ(feed(&s, &f, 5), 1);
	CHECK(addrsnoop_has_v4(&s, linklocal, 5));
	/* an ARP sighting later claims it */
	fb_arp(&f, nic_mac, -1, 1, nic_mac, ip_a, ip_b);
	CHECK_EQ(feed(&s, &f, 6), 1);
	e = find_v4(&s, ip_a, 6);
	CHECK(e && e->claimed);
	/* and a later plain packet does not unclaim it */
	fb_ipv4(&f, nic_mac, -1, ip_a, 10);
	CHECK_EQ(feed(&s, &f, 7), 1);
	CHECK(find_v4(&s, ip_a, 7)->claimed);
	/* a packet from another MAC teaches nothing */
	fb_ipv4(&f, other_mac, -1, ip_b, 10);
	CHECK_EQ(feed(&s, &f, 8), 0);
	CHECK_EQ(n_v4(&s, 8), 2);
}

static void test_addrsnoop_ipv4_non_unicast_sources_ignored(void)
{
	static const uint8_t bad[][4] = {
	    {0, 0, 0, 0},	  {0, 1, 2, 3},	  {127, 0, 0, 1},
	    {224, 0, 0, 251},	  {239, 1, 1, 1}, {240, 0, 0, 1},
	    {255, 255, 255, 255},
	};
	struct addrsnoop s;
	struct fb f;

	addrsnoop_init(&s);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fb_ipv4(&f, nic_mac, -1, bad[i], 4);
		CHECK_EQ(feed(&s, &f, 1), 0);
	}
	CHECK_EQ(n_v4(&s, 1), 0);
}

static void test_addrsnoop_ipv4_lying_headers_ignored(void)
{
	struct addrsnoop s;
	struct fb f;

	addrsnoop_init(&s);
	fb_ipv4(&f, nic_mac, -1, ip_a, 10);
	f.b[14] = 0x44; /* IHL 4: shorter than the minimum */
	CHECK_EQ(feed(&s, &f, 1), 0);
	fb_ipv4(&f, nic_mac, -1, ip_a, 10);
	f.b[14] = 0x4f; /* IHL 15 = 60 bytes > total length 38 */
	CHECK_EQ(feed(&s, &f, 1), 0);
	fb_ipv4(&f, nic_mac, -1, ip_a, 10);
	put16(f.b + 16, 39); /* total length one past the frame */
	CHECK_EQ(feed(&s, &f, 1), 0);
	fb_ipv4(&f, nic_mac, -1, ip_a, 10);
	put16(f.b + 16, 19); /* total length below the header */
	CHECK_EQ(feed(&s, &f, 1), 0);
	fb_ipv4(&f, nic_mac, -1, ip_a, 10);
	f.b[14] = 0x65; /* version 6 in an IPv4 ethertype */
	CHECK_EQ(feed(&s, &f, 1), 0);
	CHECK_EQ(n_v4(&s, 1), 0);
	/* with options: IHL 6, total length counts them */
	fb_ipv4(&f, nic_mac, -1, ip_a, 10);
	f.b[14] = 0x46;
	CHECK_EQ(feed(&s, &f, 1), 1);
}

/* IPv6 */

static void test_addrsnoop_ipv6_source_learned(void)
{
	struct addrsnoop s;
	struct fb f;
	uint8_t *udp;

	addrsnoop_init(&s);
	udp = fb_ipv6(&f, nic_mac, -1, ll_a, 17, 64, 8);
	udp[5] = 8;
	CHECK_EQ(feed(&s, &f, 1), 1);
	CHECK(addrsnoop_has_v6(&s, ll_a, 1));
	CHECK(!find_v6(&s, ll_a, 1)->claimed);
	fb_ipv6(&f, nic_mac, -1, gl_a, 59, 64, 0); /* no next header */
	CHECK_EQ(feed(&s, &f, 2), 1);
	CHECK(addrsnoop_has_v6(&s, gl_a, 2));
	CHECK_EQ(n_v6(&s, 2), 2);
	CHECK_EQ(n_v4(&s, 2), 0);
	fb_ipv6(&f, other_mac, -1, gl_b, 59, 64, 0);
	CHECK_EQ(feed(&s, &f, 3), 0);
}

static void test_addrsnoop_ipv6_non_unicast_sources_ignored(void)
{
	static const uint8_t bad[][16] = {
	    {0},
	    {[15] = 1},
	    {0xff, 0x02, [15] = 1},
	    {0xff, 0x05, [15] = 2},
	    {[10] = 0xff, [11] = 0xff, 192, 0, 2, 7},
	};
	struct addrsnoop s;
	struct fb f;

	addrsnoop_init(&s);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fb_ipv6(&f, nic_mac, -1, bad[i], 59, 64, 0);
		CHECK_EQ(feed(&s, &f, 1), 0);
	}
	CHECK_EQ(n_v6(&s, 1), 0);
}

static void test_addrsnoop_ipv6_lying_headers_ignored(void)
{
	struct addrsnoop s;
	struct fb f;

	addrsnoop_init(&s);
	fb_ipv6(&f, nic_mac, -1, gl_a, 59, 64, 8);
	put16(f.b + 18, 9); /* payload length one past the frame */
	CHECK_EQ(feed(&s, &f, 1), 0);
	fb_ipv6(&f, nic_mac, -1, gl_a, 59, 64, 8);
	f.b[14] = 0x40; /* version 4 */
	CHECK_EQ(feed(&s, &f, 1), 0);
	CHECK_EQ(n_v6(&s, 1), 0);
	/* an NA whose payload length cuts the message: only the source */
	fb_nd(&f, nic_mac, -1, ll_a, 136, 0x20, gl_a, 255);
	put16(f.b + 18, 23);
	CHECK_EQ(feed(&s, &f, 1), 1);
	CHECK(!addrsnoop_has_v6(&s, gl_a, 1));
	CHECK(!find_v6(&s, ll_a, 1)->claimed);
}

/* Neighbour discovery */

static void test_addrsnoop_ns_learns_source_dad_nothing(void)
{
	struct addrsnoop s;
	struct fb f;

	addrsnoop_init(&s);
	/* duplicate address detection: from ::, target tentative */
	fb_nd(&f, nic_mac, -1, unspec, 135, 0, gl_a, 255);
	CHECK_EQ(feed(&s, &f, 1), 0);
	CHECK_EQ(n_v6(&s, 1), 0);
	/* address resolution from a link-local address */
	fb_nd(&f, nic_mac, -1, ll_a, 135, 0, gl_b, 255);
	CHECK_EQ(feed(&s, &f, 2), 1);
	CHECK(addrsnoop_has_v6(&s, ll_a, 2));
	CHECK(find_v6(&s, ll_a, 2)->claimed);
	CHECK(!addrsnoop_has_v6(&s, gl_b, 2)); /* an NS target is not ours */
}

static void test_addrsnoop_na_override_learns_target(void)
{
	struct addrsnoop s;
	struct fb f;
	const struct addrsnoop_entry *e;

	addrsnoop_init(&s);
	/* unsolicited NA from the address itself: one address */
	fb_nd(&f, nic_mac, -1, gl_a, 136, 0x20, gl_a, 255);
	CHECK_EQ(feed(&s, &f, 1), 1);
	e = find_v6(&s, gl_a, 1);
	CHECK(e && e->claimed);
	/* solicited NA from the link-local for a global target: both */
	fb_nd(&f, nic_mac, -1, ll_a, 136, 0x60, gl_b, 255);
	CHECK_EQ(feed(&s, &f, 2), 2);
	CHECK(find_v6(&s, gl_b, 2) && find_v6(&s, gl_b, 2)->claimed);
	CHECK(find_v6(&s, ll_a, 2) && find_v6(&s, ll_a, 2)->claimed);
	CHECK_EQ(n_v6(&s, 2), 3);
}

static void test_addrsnoop_na_without_override_or_bad_hlim(void)
{
	struct addrsnoop s;
	struct fb f;
	static const uint8_t mcast[16] = {0xff, 0x02, [15] = 1};

	addrsnoop_init(&s);
	/* no Override (a proxy's answer): the target is not learned */
	fb_nd(&f, nic_mac, -1, ll_a, 136, 0x40, gl_a, 255);
	CHECK_EQ(feed(&s, &f, 1), 1);
	CHECK(!addrsnoop_has_v6(&s, gl_a, 1));
	CHECK(find_v6(&s, ll_a, 1)->claimed);
	/* hop limit not 255: not neighbour discovery, source only */
	addrsnoop_init(&s);
	fb_nd(&f, nic_mac, -1, ll_a, 136, 0x20, gl_a, 64);
	CHECK_EQ(feed(&s, &f, 1), 1);
	CHECK(!addrsnoop_has_v6(&s, gl_a, 1));
	CHECK(!find_v6(&s, ll_a, 1)->claimed);
	/* code not 0: the same */
	fb_nd(&f, nic_mac, -1, ll_a, 136, 0x20, gl_a, 255);
	f.b[55] = 1;
	CHECK_EQ(feed(&s, &f, 1), 1);
	CHECK(!addrsnoop_has_v6(&s, gl_a, 1));
	/* a multicast target is never an address */
	fb_nd(&f, nic_mac, -1, ll_a, 136, 0x20, mcast, 255);
	CHECK_EQ(feed(&s, &f, 1), 1);
	CHECK_EQ(n_v6(&s, 1), 1);
	/* an NA behind an extension header is not looked into */
	fb_nd(&f, nic_mac, -1, ll_a, 136, 0x20, gl_a, 255);
	f.b[20] = 0; /* next header: hop-by-hop */
	CHECK_EQ(feed(&s, &f, 1), 1);
	CHECK(!addrsnoop_has_v6(&s, gl_a, 1));
}

/* VLAN tags */

static void test_addrsnoop_tagged_frames(void)
{
	struct addrsnoop s;
	struct fb f;
	const struct addrsnoop_entry *e;

	addrsnoop_init(&s);
	fb_arp(&f, nic_mac, 10, 1, nic_mac, ip_a, ip_b);
	CHECK_EQ(feed(&s, &f, 1), 1);
	e = find_v4(&s, ip_a, 1);
	CHECK(e && e->vlan == 10 && e->claimed);
	fb_ipv4(&f, nic_mac, 4094, ip_b, 4);
	CHECK_EQ(feed(&s, &f, 1), 1);
	CHECK_EQ(find_v4(&s, ip_b, 1)->vlan, 4094);
	fb_nd(&f, nic_mac, 20, ll_a, 136, 0x20, gl_a, 255);
	CHECK_EQ(feed(&s, &f, 1), 2);
	CHECK_EQ(find_v6(&s, gl_a, 1)->vlan, 20);
	/* priority-tagged (VID 0) counts as untagged */
	fb_ipv6(&f, nic_mac, 0, gl_b, 59, 64, 0);
	CHECK_EQ(feed(&s, &f, 1), 1);
	CHECK_EQ(find_v6(&s, gl_b, 1)->vlan, 0);
	/* the VLAN of the latest sighting wins */
	fb_arp(&f, nic_mac, -1, 2, nic_mac, ip_a, ip_b);
	CHECK_EQ(feed(&s, &f, 2), 1);
	CHECK_EQ(find_v4(&s, ip_a, 2)->vlan, 0);
	/* two tags (QinQ) are not looked into */
	addrsnoop_init(&s);
	fb_eth(&f, nic_mac, 10, 0x8100);
	put16(f.b + f.len, 20);
	put16(f.b + f.len + 2, 0x0800);
	f.len += 4;
	{
		struct fb ip;

		fb_ipv4(&ip, nic_mac, -1, ip_a, 4);
		memcpy(f.b + f.len, ip.b + 14, ip.len - 14);
		f.len += ip.len - 14;
	}
	CHECK_EQ(feed(&s, &f, 1), 0);
	CHECK_EQ(n_v4(&s, 1), 0);
}

static void test_addrsnoop_other_ethertypes_ignored(void)
{
	static const unsigned types[] = {0x88cc, 0x8035, 0x88a8, 0x0842,
					 0x0600, 0x0000, 0xffff};
	struct addrsnoop s;
	struct fb f;

	addrsnoop_init(&s);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		fb_ipv4(&f, nic_mac, -1, ip_a, 20);
		put16(f.b + 12, types[i]);
		CHECK_EQ(feed(&s, &f, 1), 0);
	}
	CHECK_EQ(n_v4(&s, 1) + n_v6(&s, 1), 0);
}

/* Bounds */

static void check_truncations(const struct fb *f, const char *what)
{
	struct addrsnoop s;
	unsigned bad = 0;

	for (size_t len = 0; len < f->len; len++) {
		addrsnoop_init(&s);
		if (feed_len(&s, f, len, 1) || n_v4(&s, 1) || n_v6(&s, 1))
			bad++;
	}
	if (bad)
		printf("# %s: %u truncations learned something\n", what, bad);
	CHECK_EQ(bad, 0);
	addrsnoop_init(&s);
	CHECK(feed(&s, f, 1) >= 1); /* whole, it teaches */
}

static void test_addrsnoop_truncated_at_every_length(void)
{
	struct fb f;

	fb_arp(&f, nic_mac, -1, 1, nic_mac, ip_a, ip_b);
	check_truncations(&f, "arp");
	fb_arp(&f, nic_mac, 5, 2, nic_mac, ip_a, ip_b);
	check_truncations(&f, "tagged arp");
	fb_ipv4(&f, nic_mac, -1, ip_a, 0);
	check_truncations(&f, "ipv4");
	fb_ipv4(&f, nic_mac, 7, ip_a, 3);
	check_truncations(&f, "tagged ipv4");
	fb_ipv6(&f, nic_mac, -1, gl_a, 59, 64, 0);
	check_truncations(&f, "ipv6");
	fb_nd(&f, nic_mac, -1, ll_a, 136, 0x20, gl_a, 255);
	check_truncations(&f, "na");
	fb_nd(&f, nic_mac, 9, ll_a, 135, 0, gl_a, 255);
	check_truncations(&f, "tagged ns");
}

static uint64_t rnd(uint64_t *st)
{
	uint64_t z = (*st += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void test_addrsnoop_random_garbage_is_safe(void)
{
	static const unsigned types[] = {0x0800, 0x0806, 0x86dd, 0x8100};
	struct addrsnoop s;
	struct fb f;
	uint64_t st = 42;

	addrsnoop_init(&s);
	for (int n = 0; n < 50000; n++) {
		size_t len = rnd(&st) % 120;

		memset(&f, 0, sizeof(f));
		for (size_t i = 0; i < len; i++)
			f.b[i] = (uint8_t)rnd(&st);
		if (len >= 14) {
			memcpy(f.b + 6, nic_mac, 6);
			put16(f.b + 12, types[rnd(&st) % 4]);
			if (len >= 18 && f.b[12] == 0x81)
				put16(f.b + 16, types[rnd(&st) % 3]);
			if (len > 14 && f.b[13] != 0x06)
				f.b[f.b[12] == 0x81 ? 18 : 14] =
				    (rnd(&st) & 1) ? 0x45 : 0x60;
		}
		f.len = len;
		(void)feed(&s, &f, (uint64_t)n);
		CHECK(s.n_v4 <= ADDRSNOOP_MAX_V4 && s.n_v6 <= ADDRSNOOP_MAX_V6);
	}
	/* random sources of valid-looking packets were learned, bounded */
	CHECK(s.n_v4 > 0 && s.n_v6 > 0);
}

/* Table size, replacement and ageing */

static void test_addrsnoop_full_table_replaces_oldest(void)
{
	struct addrsnoop s;
	struct fb f;
	uint8_t ip[4] = {10, 0, 0, 0};

	addrsnoop_init(&s);
	for (unsigned i = 1; i <= ADDRSNOOP_MAX_V4; i++) {
		ip[3] = (uint8_t)i;
		fb_ipv4(&f, nic_mac, -1, ip, 0);
		CHECK_EQ(feed(&s, &f, i), 1);
	}
	CHECK_EQ(n_v4(&s, 10), ADDRSNOOP_MAX_V4);
	/* refresh 10.0.0.1: 10.0.0.2 is now the oldest */
	ip[3] = 1;
	fb_ipv4(&f, nic_mac, -1, ip, 0);
	CHECK_EQ(feed(&s, &f, 20), 1);
	ip[3] = 100;
	fb_ipv4(&f, nic_mac, -1, ip, 0);
	CHECK_EQ(feed(&s, &f, 21), 1);
	CHECK_EQ(n_v4(&s, 21), ADDRSNOOP_MAX_V4);
	CHECK(addrsnoop_has_v4(&s, ip, 21));
	ip[3] = 2;
	CHECK(!addrsnoop_has_v4(&s, ip, 21));
	ip[3] = 1;
	CHECK(addrsnoop_has_v4(&s, ip, 21));
	ip[3] = 3;
	CHECK(addrsnoop_has_v4(&s, ip, 21));
}

static void test_addrsnoop_claimed_addresses_outlive_forwarded(void)
{
	struct addrsnoop s;
	struct fb f;
	uint8_t ip[4] = {10, 0, 0, 0}, fwd[4] = {198, 51, 100, 0};

	addrsnoop_init(&s);
	/* the router's own address (ARP), then forwarded sources */
	fb_arp(&f, nic_mac, -1, 1, nic_mac, ip_a, ip_b);
	CHECK_EQ(feed(&s, &f, 1), 1);
	for (unsigned i = 0; i < 100; i++) {
		fwd[3] = (uint8_t)i;
		fb_ipv4(&f, nic_mac, -1, fwd, 0);
		CHECK_EQ(feed(&s, &f, 2 + i), 1);
	}
	CHECK_EQ(n_v4(&s, 200), ADDRSNOOP_MAX_V4);
	CHECK(addrsnoop_has_v4(&s, ip_a, 200)); /* never evicted */

	/* all claimed: an unclaimed newcomer is not learned ... */
	addrsnoop_init(&s);
	for (unsigned i = 1; i <= ADDRSNOOP_MAX_V4; i++) {
		ip[3] = (uint8_t)i;
		fb_arp(&f, nic_mac, -1, 1, nic_mac, ip, ip_b);
		CHECK_EQ(feed(&s, &f, i), 1);
	}
	fb_ipv4(&f, nic_mac, -1, fwd, 0);
	CHECK_EQ(feed(&s, &f, 50), 0);
	CHECK(!addrsnoop_has_v4(&s, fwd, 50));
	/* ... a claimed one replaces the oldest claimed */
	fb_arp(&f, nic_mac, -1, 1, nic_mac, fwd, ip_b);
	CHECK_EQ(feed(&s, &f, 51), 1);
	CHECK(addrsnoop_has_v4(&s, fwd, 51));
	ip[3] = 1;
	CHECK(!addrsnoop_has_v4(&s, ip, 51));
	ip[3] = 2;
	CHECK(addrsnoop_has_v4(&s, ip, 51));
}

static void test_addrsnoop_full_table_reuses_expired_first(void)
{
	struct addrsnoop s;
	struct fb f;
	uint8_t ip[4] = {10, 0, 0, 0};
	uint64_t now = 10 * AGE;

	addrsnoop_init(&s);
	/* 10.0.0.5 is seen long before the rest, all claimed */
	for (unsigned i = 1; i <= ADDRSNOOP_MAX_V4; i++) {
		ip[3] = (uint8_t)i;
		fb_arp(&f, nic_mac, -1, 1, nic_mac, ip, ip_b);
		CHECK_EQ(feed(&s, &f, i == 5 ? now - AGE : now - 10 + i), 1);
	}
	CHECK_EQ(n_v4(&s, now), ADDRSNOOP_MAX_V4 - 1);
	/* an unclaimed newcomer takes the expired slot */
	fb_ipv4(&f, nic_mac, -1, ip_a, 0);
	CHECK_EQ(feed(&s, &f, now), 1);
	CHECK(addrsnoop_has_v4(&s, ip_a, now));
	CHECK_EQ(s.n_v4, ADDRSNOOP_MAX_V4);
	CHECK_EQ(n_v4(&s, now), ADDRSNOOP_MAX_V4);
}

static void test_addrsnoop_v6_table_bounded(void)
{
	struct addrsnoop s;
	struct fb f;
	uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8};

	addrsnoop_init(&s);
	for (unsigned i = 1; i <= ADDRSNOOP_MAX_V6 + 5; i++) {
		a[15] = (uint8_t)i;
		fb_ipv6(&f, nic_mac, -1, a, 59, 64, 0);
		CHECK_EQ(feed(&s, &f, i), 1);
	}
	CHECK_EQ(n_v6(&s, 100), ADDRSNOOP_MAX_V6);
	for (unsigned i = 1; i <= ADDRSNOOP_MAX_V6 + 5; i++) {
		a[15] = (uint8_t)i;
		CHECK_EQ(addrsnoop_has_v6(&s, a, 100), i > 5);
	}
}

static void test_addrsnoop_ageing(void)
{
	struct addrsnoop s;
	struct fb f;

	addrsnoop_init(&s);
	fb_ipv4(&f, nic_mac, -1, ip_a, 0);
	CHECK_EQ(feed(&s, &f, 1000), 1);
	fb_ipv6(&f, nic_mac, -1, gl_a, 59, 64, 0);
	CHECK_EQ(feed(&s, &f, 2000), 1);
	CHECK(addrsnoop_has_v4(&s, ip_a, 1000 + AGE - 1));
	CHECK(!addrsnoop_has_v4(&s, ip_a, 1000 + AGE));
	CHECK_EQ(n_v4(&s, 1000 + AGE), 0);
	CHECK_EQ(addrsnoop_expire(&s, 1000 + AGE - 1), 0);
	CHECK_EQ(addrsnoop_expire(&s, 1000 + AGE), 1);
	CHECK_EQ(s.n_v4, 0);
	CHECK(addrsnoop_has_v6(&s, gl_a, 1000 + AGE));
	/* a sighting restarts the clock */
	CHECK_EQ(feed(&s, &f, 2000 + AGE - 1), 1);
	CHECK_EQ(addrsnoop_expire(&s, 2000 + AGE), 0);
	CHECK(addrsnoop_has_v6(&s, gl_a, 2000 + 2 * AGE - 2));
	CHECK_EQ(addrsnoop_expire(&s, 2000 + 2 * AGE - 1), 1);
	CHECK_EQ(n_v6(&s, 2000 + 2 * AGE - 1), 0);
	/* an expired claimed entry comes back unclaimed */
	fb_arp(&f, nic_mac, -1, 1, nic_mac, ip_a, ip_b);
	CHECK_EQ(feed(&s, &f, 0), 1);
	fb_ipv4(&f, nic_mac, -1, ip_a, 0);
	CHECK_EQ(feed(&s, &f, AGE), 1);
	CHECK(!find_v4(&s, ip_a, AGE)->claimed);
	/* clear forgets all */
	addrsnoop_clear(&s);
	CHECK_EQ(n_v4(&s, AGE) + n_v6(&s, AGE), 0);
}

/* Output */

static void test_addrsnoop_info_json(void)
{
	struct addrsnoop s;
	struct fb f;
	json_t *j;
	char *text;

	addrsnoop_init(&s);
	j = addrsnoop_info(&s, 1);
	text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	CHECK(text && !strcmp(text, "{\"ipv4\":[],\"ipv6\":[]}"));
	free(text);
	json_decref(j);

	fb_ipv4(&f, nic_mac, -1, ip_a, 0);
	feed(&s, &f, 1);
	fb_arp(&f, nic_mac, -1, 1, nic_mac, ip_b, ip_a);
	feed(&s, &f, 2);
	fb_nd(&f, nic_mac, -1, ll_a, 136, 0x20, gl_a, 255);
	feed(&s, &f, 3);
	fb_ipv6(&f, nic_mac, -1, gl_b, 59, 64, 0);
	feed(&s, &f, AGE + 3); /* the others, seen at 1..3, ... */
	j = addrsnoop_info(&s, 3);
	text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	CHECK(text && !strcmp(text, "{\"ipv4\":[\"10.1.2.3\",\"192.0.2.7\"],"
				    "\"ipv6\":[\"2001:db8::42\","
				    "\"2001:db8::199\","
				    "\"fe80::5054:ff:fe12:3456\"]}"));
	free(text);
	json_decref(j);
	/* ... have expired by then */
	j = addrsnoop_info(&s, AGE + 3);
	text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	CHECK(text && !strcmp(text, "{\"ipv4\":[],"
				    "\"ipv6\":[\"2001:db8::199\"]}"));
	free(text);
	json_decref(j);
}

int main(void)
{
	TAP_RUN(test_addrsnoop_arp_request_and_reply_learn_sender);
	TAP_RUN(test_addrsnoop_arp_probe_not_learned);
	TAP_RUN(test_addrsnoop_arp_of_others_or_odd_ignored);
	TAP_RUN(test_addrsnoop_ipv4_source_learned);
	TAP_RUN(test_addrsnoop_ipv4_non_unicast_sources_ignored);
	TAP_RUN(test_addrsnoop_ipv4_lying_headers_ignored);
	TAP_RUN(test_addrsnoop_ipv6_source_learned);
	TAP_RUN(test_addrsnoop_ipv6_non_unicast_sources_ignored);
	TAP_RUN(test_addrsnoop_ipv6_lying_headers_ignored);
	TAP_RUN(test_addrsnoop_ns_learns_source_dad_nothing);
	TAP_RUN(test_addrsnoop_na_override_learns_target);
	TAP_RUN(test_addrsnoop_na_without_override_or_bad_hlim);
	TAP_RUN(test_addrsnoop_tagged_frames);
	TAP_RUN(test_addrsnoop_other_ethertypes_ignored);
	TAP_RUN(test_addrsnoop_truncated_at_every_length);
	TAP_RUN(test_addrsnoop_random_garbage_is_safe);
	TAP_RUN(test_addrsnoop_full_table_replaces_oldest);
	TAP_RUN(test_addrsnoop_claimed_addresses_outlive_forwarded);
	TAP_RUN(test_addrsnoop_full_table_reuses_expired_first);
	TAP_RUN(test_addrsnoop_v6_table_bounded);
	TAP_RUN(test_addrsnoop_ageing);
	TAP_RUN(test_addrsnoop_info_json);
	return tap_done();
}
