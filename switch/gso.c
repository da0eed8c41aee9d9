// SPDX-License-Identifier: MIT
/* gso.c - software segmentation and checksum completion (see gso.h)
 *
 * Owns nothing but a counter for IPv6 fragment identifications.  Parses
 * headers that come from outside: every offset is checked against the end
 * of the IP packet, which is checked against the end of the frame, before
 * a byte is read.  Writes only into frames it allocated, or into one its
 * caller says it holds alone.  No allocation but from the frame pool, no
 * logging, no syscalls: it runs on the per-frame path.
 */

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include "gso.h"

#define GSO_ETH_P_IPV4	  0x0800
#define GSO_ETH_P_IPV6	  0x86dd
#define GSO_ETH_P_8021Q	  0x8100
#define GSO_ETH_P_8021AD  0x88a8
#define GSO_VLAN_MAX	  2 /* tags skipped in front of IP (QinQ) */
#define GSO_IP6_EXT_MAX	  8 /* extension headers walked at most */
#define GSO_IP4_HLEN	  20
#define GSO_IP6_HLEN	  40
#define GSO_IP6_FRAG_HLEN 8
#define GSO_IP4_MF	  0x2000
#define GSO_IP4_FRAG_MASK 0x3fff /* MF and the fragment offset */
#define GSO_TCP_HLEN	  20
#define GSO_UDP_HLEN	  8
#define GSO_TCP_CSUM_OFF  16
#define GSO_UDP_CSUM_OFF  6
#define GSO_TCP_FIN	  0x01
#define GSO_TCP_PSH	  0x08
#define GSO_TCP_CWR	  0x80

/* Where the headers of an IP packet in a frame are; all offsets from the
 * frame's first byte, all within [0, end] */
struct gso_layout {
	uint32_t l3;	  /* IPv4 or IPv6 header */
	uint32_t l4;	  /* TCP or UDP header */
	uint32_t hdr_len; /* end of the L4 header: where payload starts */
	uint32_t end;	  /* end of the IP packet (<= frame length) */
	uint8_t proto;	  /* IPPROTO_TCP or IPPROTO_UDP */
	bool ipv6;
};

static uint32_t gso_frag_id;

static inline uint16_t gso_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t gso_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void gso_wr16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void gso_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* -- checksums ------------------------------------------------------------ */

/*
 * The Internet checksum is a one's complement sum of 16-bit words, which
 * comes out the same whatever the byte order it is computed in, as long as
 * the result is stored the way the words were read (RFC 1071).  So words
 * are read in memory order, four bytes at a time, and the folded sum is
 * stored with memcpy.  Pieces summed one after another must each start at
 * an even offset of the checksummed data; only the last may be odd.
 */
static uint64_t gso_csum_add(uint64_t sum, const uint8_t *p, uint32_t len)
{
	while (len >= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		sum += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;

		memcpy(&w, p, 2);
		sum += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint8_t b[2] = {p[0], 0};
		uint16_t w;

		memcpy(&w, b, 2);
		sum += w;
	}
	return sum;
}

static uint16_t gso_csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)sum;
}

/* gso_ip4_csum() - the IPv4 header checksum of the header at @ip */
static void gso_ip4_csum(uint8_t *ip, uint32_t ihl)
{
	uint16_t c;

	ip[10] = ip[11] = 0;
	c = (uint16_t)~gso_csum_fold(gso_csum_add(0, ip, ihl));
	memcpy(ip + 10, &c, 2);
}

/**
 * gso_l4_csum() - the TCP or UDP checksum of the packet described by @lo,
 * in frame bytes @d, whose IP packet ends at @end
 */
static void gso_l4_csum(uint8_t *d, const struct gso_layout *lo, uint32_t end)
{
	uint32_t l4len = end - lo->l4;
	uint32_t field = lo->l4 + (lo->proto == IPPROTO_TCP ? GSO_TCP_CSUM_OFF
							    : GSO_UDP_CSUM_OFF);
	uint8_t ph[40];
	unsigned phlen;
	uint16_t c;

	if (lo->ipv6) {
		memcpy(ph, d + lo->l3 + 8, 32); /* source, destination */
		gso_wr32(ph + 32, l4len);
		ph[36] = ph[37] = ph[38] = 0;
		ph[39] = lo->proto;
		phlen = 40;
	} else {
		memcpy(ph, d + lo->l3 + 12, 8); /* source, destination */
		ph[8] = 0;
		ph[9] = lo->proto;
		gso_wr16(ph + 10, l4len);
		phlen = 12;
	}
	d[field] = d[field + 1] = 0;
	c = (uint16_t)~gso_csum_fold(
	    gso_csum_add(gso_csum_add(0, ph, phlen), d + lo->l4, l4len));
	if (c == 0 && lo->proto == IPPROTO_UDP)
		c = 0xffff; /* zero means "no checksum" in UDP */
	memcpy(d + field, &c, 2);
}

int gso_csum_complete(struct frame *f)
{
	uint32_t start = f->vnet.csum_start;
	uint32_t field = start + f->vnet.csum_offset;
	uint16_t c;

	if (field + 2 > f->len)
		return -EINVAL;
	c = (uint16_t)~gso_csum_fold(
	    gso_csum_add(0, f->data + start, f->len - start));
	if (c == 0)
		c = 0xffff;
	memcpy(f->data + field, &c, 2);
	memset(&f->vnet, 0, sizeof(f->vnet));
	return 0;
}

/* -- parsing ----------------------------------------------------------------
 */

/* gso_l2() - skip the Ethernet header and VLAN tags: the ethertype of what
 * follows and its offset; false when the frame ends inside them */
static bool gso_l2(const uint8_t *d, uint32_t len, uint16_t *et, uint32_t *off)
{
	uint32_t o = FRAME_ETH_HLEN;
	uint16_t t;

	if (len < FRAME_ETH_HLEN)
		return false;
	t = gso_rd16(d + 12);
	for (unsigned i = 0; i < GSO_VLAN_MAX &&
			     (t == GSO_ETH_P_8021Q || t == GSO_ETH_P_8021AD);
	     i++) {
		if (len - o < FRAME_VLAN_HLEN)
			return false;
		t = gso_rd16(d + o + 2);
		o += FRAME_VLAN_HLEN;
	}
	*et = t;
	*off = o;
	return true;
}

static bool gso_base_tcp(unsigned base)
{
	return base == FRAME_GSO_TCPV4 || base == FRAME_GSO_TCPV6;
}

static bool gso_base_known(unsigned base)
{
	return gso_base_tcp(base) || base == FRAME_GSO_UDP ||
	       base == FRAME_GSO_UDP_L4;
}

/* gso_parse_ip4() - the IPv4 header at @off; not a fragment already */
static int gso_parse_ip4(const uint8_t *d, uint32_t len, uint32_t off,
			 struct gso_layout *lo)
{
	uint32_t ihl, tot;

	if (len - off < GSO_IP4_HLEN || d[off] >> 4 != 4)
		return -EINVAL;
	ihl = (d[off] & 15u) * 4;
	tot = gso_rd16(d + off + 2);
	if (ihl < GSO_IP4_HLEN || tot < ihl || tot > len - off)
		return -EINVAL;
	if (gso_rd16(d + off + 6) & GSO_IP4_FRAG_MASK)
		return -EINVAL;
	lo->ipv6 = false;
	lo->proto = d[off + 9];
	lo->l4 = off + ihl;
	lo->end = off + tot;
	return 0;
}

/**
 * gso_parse_ip6() - the IPv6 header at @off and the extension headers that
 * may sit between it and TCP or UDP: hop-by-hop and destination options.
 * A routing header would change the checksum's pseudo-header destination
 * and a fragment header means the packet is no longer one to segment:
 * both are refused.
 */
static int gso_parse_ip6(const uint8_t *d, uint32_t len, uint32_t off,
			 struct gso_layout *lo)
{
	uint32_t plen, p;
	uint8_t nh;

	if (len - off < GSO_IP6_HLEN || d[off] >> 4 != 6)
		return -EINVAL;
	plen = gso_rd16(d + off + 4);
	if (plen > len - off - GSO_IP6_HLEN)
		return -EINVAL;
	lo->ipv6 = true;
	lo->end = off + GSO_IP6_HLEN + plen;
	nh = d[off + 6];
	p = off + GSO_IP6_HLEN;
	for (unsigned i = 0; nh == IPPROTO_HOPOPTS || nh == IPPROTO_DSTOPTS;
	     i++) {
		uint32_t hl;

		if (i == GSO_IP6_EXT_MAX || lo->end - p < 8)
			return -EINVAL;
		hl = (d[p + 1] + 1u) * 8;
		if (hl > lo->end - p)
			return -EINVAL;
		nh = d[p];
		p += hl;
	}
	lo->proto = nh;
	lo->l4 = p;
	return 0;
}

/**
 * gso_parse() - the headers of @f, which must be those GSO type @base
 * segments: TCP over IPv4 (TCPV4) or IPv6 (TCPV6), UDP over either
 */
static int gso_parse(const struct frame *f, unsigned base,
		     struct gso_layout *lo)
{
	const uint8_t *d = f->data;
	uint32_t off, thl;
	uint16_t et;
	int r;

	if (!gso_l2(d, f->len, &et, &off))
		return -EINVAL;
	if (et == GSO_ETH_P_IPV4 && base != FRAME_GSO_TCPV6)
		r = gso_parse_ip4(d, f->len, off, lo);
	else if (et == GSO_ETH_P_IPV6 && base != FRAME_GSO_TCPV4)
		r = gso_parse_ip6(d, f->len, off, lo);
	else
		r = -EINVAL;
	if (r)
		return r;
	lo->l3 = off;

	if (gso_base_tcp(base)) {
		if (lo->proto != IPPROTO_TCP || lo->end - lo->l4 < GSO_TCP_HLEN)
			return -EINVAL;
		thl = (d[lo->l4 + 12] >> 4) * 4u;
		if (thl < GSO_TCP_HLEN || thl > lo->end - lo->l4)
			return -EINVAL;
		lo->hdr_len = lo->l4 + thl;
		return 0;
	}
	if (lo->proto != IPPROTO_UDP || lo->end - lo->l4 < GSO_UDP_HLEN)
		return -EINVAL;
	lo->hdr_len = lo->l4 + GSO_UDP_HLEN;
	if (base == FRAME_GSO_UDP) {
		/* Fragments: IPv4 options would have to be sorted into
		 * copied and not copied ones, IPv6 extension headers into
		 * the unfragmentable part and the rest; neither occurs in
		 * practice, both are refused */
		if (lo->l4 - lo->l3 != (lo->ipv6 ? GSO_IP6_HLEN : GSO_IP4_HLEN))
			return -EINVAL;
	}
	return 0;
}

/* gso_ufo_frag() - UFO: the fragment payload size, a multiple of 8 */
static uint32_t gso_ufo_frag(uint16_t gso_size)
{
	return gso_size & ~7u;
}

/* gso_nsegs() - segments @f stands for, or 0 if @gso_size cannot cut it */
static uint32_t gso_nsegs(const struct gso_layout *lo, unsigned base,
			  uint16_t gso_size)
{
	uint32_t size = gso_size, bytes = lo->end - lo->hdr_len;

	if (base == FRAME_GSO_UDP) {
		size = gso_ufo_frag(gso_size);
		bytes = lo->end - lo->l4;
	}
	if (!size)
		return 0;
	return bytes ? (bytes + size - 1) / size : 1;
}

int gso_check(struct frame *f)
{
	struct frame_vnet *v = &f->vnet;
	unsigned base = v->gso_type & ~FRAME_GSO_ECN;
	struct gso_layout lo;
	uint32_t n;

	v->flags &= FRAME_VNET_F_NEEDS_CSUM | FRAME_VNET_F_DATA_VALID;
	if ((v->flags & FRAME_VNET_F_NEEDS_CSUM) &&
	    (uint32_t)v->csum_start + v->csum_offset + 2 > f->len)
		return -EINVAL;
	if (v->gso_type == FRAME_GSO_NONE) {
		v->gso_size = 0;
		v->hdr_len = 0;
		return 0;
	}
	if (!gso_base_known(base) || !v->gso_size || v->hdr_len > f->len)
		return -EINVAL;
	if ((v->gso_type & FRAME_GSO_ECN) && !gso_base_tcp(base))
		return -EINVAL;
	if (gso_parse(f, base, &lo))
		return -EINVAL;
	n = gso_nsegs(&lo, base, v->gso_size);
	if (!n || n > GSO_SEGS_MAX)
		return -EINVAL;
	v->hdr_len = (uint16_t)lo.hdr_len;
	return 0;
}

uint32_t gso_wire_len(const struct frame *f)
{
	const struct frame_vnet *v = &f->vnet;
	unsigned base = v->gso_type & ~FRAME_GSO_ECN;
	uint32_t w, off, longest;
	uint16_t et;

	if (v->gso_type == FRAME_GSO_NONE)
		return f->len;
	if (base != FRAME_GSO_UDP) {
		w = (uint32_t)v->hdr_len + v->gso_size;
	} else if (gso_l2(f->data, f->len, &et, &off) && et == GSO_ETH_P_IPV6) {
		/* a fragment header takes the UDP header's 8 bytes; even a
		 * datagram that fits one fragment gets one, and so grows */
		w = (uint32_t)v->hdr_len + gso_ufo_frag(v->gso_size);
		longest = f->len + GSO_IP6_FRAG_HLEN;
		return w < longest ? w : longest;
	} else {
		/* IPv4: the UDP header is part of the first fragment */
		w = (uint32_t)v->hdr_len + gso_ufo_frag(v->gso_size);
		w = w >= GSO_UDP_HLEN ? w - GSO_UDP_HLEN : 0;
	}
	return w < f->len ? w : f->len;
}

/* -- segmentation ------------------------------------------------------------
 */

/**
 * gso_seg_l4() - TSO and USO: each segment is the headers and the next
 * gso_size bytes of payload, its lengths, sequence number, IPv4 ID and
 * checksums made to match
 */
static int gso_seg_l4(const struct frame *f, const struct gso_layout *lo,
		      struct frame **out, unsigned max)
{
	const uint8_t *d = f->data;
	uint32_t mss = f->vnet.gso_size, hl = lo->hdr_len;
	uint32_t payload = lo->end - hl;
	uint32_t n = payload ? (payload + mss - 1) / mss : 1;
	bool tcp = lo->proto == IPPROTO_TCP;
	uint32_t seq = tcp ? gso_rd32(d + lo->l4 + 4) : 0;
	uint16_t id = lo->ipv6 ? 0 : gso_rd16(d + lo->l3 + 4);

	if (n > max)
		return -E2BIG;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t off = i * mss;
		uint32_t chunk = payload - off < mss ? payload - off : mss;
		uint32_t len = hl + chunk;
		struct frame *g = frame_alloc(len);
		uint8_t *s;

		if (!g) {
			frame_unref_many(out, i);
			return -ENOBUFS;
		}
		s = g->data;
		memcpy(s, d, hl);
		memcpy(s + hl, d + hl + off, chunk);
		if (lo->ipv6) {
			gso_wr16(s + lo->l3 + 4, len - lo->l3 - GSO_IP6_HLEN);
		} else {
			gso_wr16(s + lo->l3 + 2, len - lo->l3);
			gso_wr16(s + lo->l3 + 4, (uint16_t)(id + i));
			gso_ip4_csum(s + lo->l3, lo->l4 - lo->l3);
		}
		if (tcp) {
			uint8_t *flags = s + lo->l4 + 13;

			gso_wr32(s + lo->l4 + 4, seq + off);
			if (i > 0)
				*flags &= (uint8_t)~GSO_TCP_CWR;
			if (i + 1 < n)
				*flags &=
				    (uint8_t) ~(GSO_TCP_FIN | GSO_TCP_PSH);
		} else {
			gso_wr16(s + lo->l4 + 4, len - lo->l4);
		}
		gso_l4_csum(s, lo, len);
		out[i] = g;
	}
	return (int)n;
}

/* gso_next_frag_id() - an IPv6 fragment identification; a counter started
 * at a time-dependent value, so a restarted switch does not reuse the
 * last run's */
static uint32_t gso_next_frag_id(void)
{
	if (!gso_frag_id) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		gso_frag_id = (uint32_t)(ts.tv_nsec ^ ts.tv_sec) | 1u;
	}
	return gso_frag_id++;
}

/**
 * gso_seg_ufo() - UFO: the UDP datagram, its checksum finished over the
 * whole of it when the sender left it to us, goes out as IP fragments
 */
static int gso_seg_ufo(const struct frame *f, const struct gso_layout *lo,
		       struct frame **out, unsigned max)
{
	const uint8_t *d = f->data;
	uint32_t fs = gso_ufo_frag(f->vnet.gso_size);
	uint32_t bytes = lo->end - lo->l4; /* UDP header and data */
	uint32_t n = (bytes + fs - 1) / fs;
	uint32_t fhl = lo->ipv6 ? lo->l4 + GSO_IP6_FRAG_HLEN : lo->l4;
	uint16_t id4 = lo->ipv6 ? 0 : gso_rd16(d + lo->l3 + 4);
	uint32_t id6 = lo->ipv6 ? gso_next_frag_id() : 0;
	uint8_t udp[GSO_UDP_HLEN];

	if (n > max)
		return -E2BIG;
	memcpy(udp, d + lo->l4, GSO_UDP_HLEN);
	if (f->vnet.flags & FRAME_VNET_F_NEEDS_CSUM) {
		/* The whole datagram's checksum: pseudo-header, our copy of
		 * the UDP header with its length made right, the data */
		uint8_t ph[40];
		unsigned phlen;
		uint16_t c;

		gso_wr16(udp + 4, bytes);
		udp[6] = udp[7] = 0;
		if (lo->ipv6) {
			memcpy(ph, d + lo->l3 + 8, 32);
			gso_wr32(ph + 32, bytes);
			ph[36] = ph[37] = ph[38] = 0;
			ph[39] = IPPROTO_UDP;
			phlen = 40;
		} else {
			memcpy(ph, d + lo->l3 + 12, 8);
			ph[8] = 0;
			ph[9] = IPPROTO_UDP;
			gso_wr16(ph + 10, bytes);
			phlen = 12;
		}
		c = (uint16_t)~gso_csum_fold(gso_csum_add(
		    gso_csum_add(gso_csum_add(0, ph, phlen), udp, GSO_UDP_HLEN),
		    d + lo->l4 + GSO_UDP_HLEN, bytes - GSO_UDP_HLEN));
		if (c == 0)
			c = 0xffff;
		memcpy(udp + 6, &c, 2);
	}

	for (uint32_t i = 0; i < n; i++) {
		uint32_t off = i * fs;
		uint32_t chunk = bytes - off < fs ? bytes - off : fs;
		uint32_t len = fhl + chunk;
		bool more = i + 1 < n;
		struct frame *g = frame_alloc(len);
		uint8_t *s;

		if (!g) {
			frame_unref_many(out, i);
			return -ENOBUFS;
		}
		s = g->data;
		memcpy(s, d, lo->l4);
		if (i == 0) {
			memcpy(s + fhl, udp, GSO_UDP_HLEN);
			memcpy(s + fhl + GSO_UDP_HLEN,
			       d + lo->l4 + GSO_UDP_HLEN, chunk - GSO_UDP_HLEN);
		} else {
			memcpy(s + fhl, d + lo->l4 + off, chunk);
		}
		if (lo->ipv6) {
			uint8_t *fh = s + lo->l4;

			s[lo->l3 + 6] = IPPROTO_FRAGMENT;
			gso_wr16(s + lo->l3 + 4, len - lo->l3 - GSO_IP6_HLEN);
			fh[0] = IPPROTO_UDP;
			fh[1] = 0;
			gso_wr16(fh + 2, off | (more ? 1u : 0u));
			gso_wr32(fh + 4, id6);
		} else {
			gso_wr16(s + lo->l3 + 2, len - lo->l3);
			gso_wr16(s + lo->l3 + 4, id4);
			gso_wr16(s + lo->l3 + 6,
				 (off >> 3) | (more ? GSO_IP4_MF : 0u));
			gso_ip4_csum(s + lo->l3, lo->l4 - lo->l3);
		}
		out[i] = g;
	}
	return (int)n;
}

int gso_segment(const struct frame *f, struct frame **out, unsigned max)
{
	unsigned base = f->vnet.gso_type & ~FRAME_GSO_ECN;
	struct gso_layout lo;

	if (f->vnet.gso_type == FRAME_GSO_NONE || !gso_base_known(base) ||
	    !f->vnet.gso_size ||
	    ((f->vnet.gso_type & FRAME_GSO_ECN) && !gso_base_tcp(base)))
		return -EINVAL;
	if (gso_parse(f, base, &lo) || !gso_nsegs(&lo, base, f->vnet.gso_size))
		return -EINVAL;
	if (base == FRAME_GSO_UDP)
		return gso_seg_ufo(f, &lo, out, max);
	return gso_seg_l4(f, &lo, out, max);
}

int gso_resolve(struct frame *f, struct frame **out, unsigned max)
{
	struct frame *g = f;
	int n;

	if (!max) {
		frame_unref(f);
		return -E2BIG;
	}
	if (f->vnet.gso_type != FRAME_GSO_NONE) {
		n = gso_segment(f, out, max);
		frame_unref(f);
		return n;
	}
	if (!(f->vnet.flags & FRAME_VNET_F_NEEDS_CSUM)) {
		out[0] = f;
		return 1;
	}
	if (f->refs > 1) {
		/* shared with other ports: finish the checksum in a copy */
		g = frame_alloc_copy(f->data, f->len);
		if (g)
			g->vnet = f->vnet;
		frame_unref(f);
		if (!g)
			return -ENOBUFS;
	}
	if (gso_csum_complete(g)) {
		frame_unref(g);
		return -EINVAL;
	}
	out[0] = g;
	return 1;
}
