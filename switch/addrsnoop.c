// SPDX-License-Identifier: MIT
/* addrsnoop.c - learn a NIC's IPv4 and IPv6 addresses from its own frames
 *
 * Owns nothing but the fixed tables inside a struct addrsnoop.  The parser
 * reads a frame only after checking that every byte it reads lies inside
 * it, and takes a header's length field only when the frame holds that
 * much.
 *
 * Never: allocate, log or make a syscall on the per-frame path; trust a
 * length field; learn from a frame whose source is not the NIC.
 */

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "addrsnoop.h"

#define ETH_HLEN      14
#define ETH_P_IPV4    0x0800
#define ETH_P_ARP     0x0806
#define ETH_P_VLAN    0x8100
#define ETH_P_IPV6    0x86dd
#define VLAN_VID_MASK 0x0fff

#define ARP_LEN	       28 /* Ethernet/IPv4 ARP body */
#define ARP_HTYPE_ETH  1
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY   2

#define IPV4_MIN_HLEN 20
#define IPV6_HLEN     40

#define IPPROTO_ICMPV6_NUM 58
#define ND_HOP_LIMIT	   255
#define ND_MIN_LEN	   24 /* type, code, checksum, 4 bytes, target */
#define ICMPV6_NS	   135
#define ICMPV6_NA	   136
#define NA_FLAG_OVERRIDE   0x20

struct addrsnoop_table {
	struct addrsnoop_entry *e;
	unsigned *n;
	unsigned max;
	size_t alen;
};

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline bool addrsnoop_expired(const struct addrsnoop_entry *e,
				     uint64_t now_ms)
{
	return now_ms >= e->last_seen_ms &&
	       now_ms - e->last_seen_ms >= ADDRSNOOP_AGE_MS;
}

/* ipv4_usable() - could a NIC own @a: not this-network, loopback,
 * multicast, reserved or broadcast */
static bool ipv4_usable(const uint8_t a[4])
{
	return a[0] != 0 && a[0] != 127 && a[0] < 224;
}

/* ipv6_usable() - could a NIC own @a: not ::, ::1, multicast or
 * IPv4-mapped */
static bool ipv6_usable(const uint8_t a[16])
{
	static const uint8_t zero[15];
	static const uint8_t v4mapped[12] = {[10] = 0xff, [11] = 0xff};

	if (a[0] == 0xff)
		return false;
	if (!memcmp(a, zero, 15) && a[15] <= 1)
		return false;
	return memcmp(a, v4mapped, sizeof(v4mapped)) != 0;
}

/* addrsnoop_victim() - the slot a new address takes in a full table, or -1
 * when it is not to be learned */
static int addrsnoop_victim(const struct addrsnoop_table *t, bool claimed,
			    uint64_t now_ms)
{
	int expired = -1, unclaimed = -1, any = -1;

	for (unsigned i = 0; i < *t->n; i++) {
		const struct addrsnoop_entry *e = &t->e[i];

		if (addrsnoop_expired(e, now_ms)) {
			if (expired < 0 ||
			    e->last_seen_ms < t->e[expired].last_seen_ms)
				expired = (int)i;
		} else if (!e->claimed) {
			if (unclaimed < 0 ||
			    e->last_seen_ms < t->e[unclaimed].last_seen_ms)
				unclaimed = (int)i;
		}
		if (any < 0 || e->last_seen_ms < t->e[any].last_seen_ms)
			any = (int)i;
	}
	if (expired >= 0)
		return expired;
	if (unclaimed >= 0)
		return unclaimed;
	return claimed ? any : -1;
}

/* addrsnoop_learn() - record a sighting of @addr; 1 if recorded, else 0 */
static unsigned addrsnoop_learn(const struct addrsnoop_table *t,
				const uint8_t *addr, uint16_t vlan,
				bool claimed, uint64_t now_ms)
{
	struct addrsnoop_entry *e = NULL;
	int slot;

	for (unsigned i = 0; i < *t->n; i++) {
		if (!memcmp(t->e[i].addr, addr, t->alen)) {
			e = &t->e[i];
			if (addrsnoop_expired(e, now_ms))
				e->claimed = false; /* a new life */
			break;
		}
	}
	if (!e) {
		if (*t->n < t->max) {
			e = &t->e[(*t->n)++];
		} else {
			slot = addrsnoop_victim(t, claimed, now_ms);
			if (slot < 0)
				return 0;
			e = &t->e[slot];
		}
		memset(e, 0, sizeof(*e));
		memcpy(e->addr, addr, t->alen);
	}
	e->vlan = vlan;
	e->claimed = e->claimed || claimed;
	e->last_seen_ms = now_ms;
	return 1;
}

static struct addrsnoop_table addrsnoop_v4(struct addrsnoop *s)
{
	return (struct addrsnoop_table){s->v4, &s->n_v4, ADDRSNOOP_MAX_V4, 4};
}

static struct addrsnoop_table addrsnoop_v6(struct addrsnoop *s)
{
	return (struct addrsnoop_table){s->v6, &s->n_v6, ADDRSNOOP_MAX_V6, 16};
}

void addrsnoop_init(struct addrsnoop *s)
{
	memset(s, 0, sizeof(*s));
}

void addrsnoop_clear(struct addrsnoop *s)
{
	addrsnoop_init(s);
}

/* The parsers: @p is the layer-3 header, @len the bytes from it on */

static unsigned addrsnoop_arp(struct addrsnoop *s, const uint8_t mac[6],
			      const uint8_t *p, size_t len, uint16_t vlan,
			      uint64_t now_ms)
{
	struct addrsnoop_table t;
	uint16_t op;

	if (len < ARP_LEN || get_be16(p) != ARP_HTYPE_ETH ||
	    get_be16(p + 2) != ETH_P_IPV4 || p[4] != 6 || p[5] != 4)
		return 0;
	op = get_be16(p + 6);
	if (op != ARP_OP_REQUEST && op != ARP_OP_REPLY)
		return 0;
	/* sender hardware address at 8, sender protocol address at 14 */
	if (memcmp(p + 8, mac, 6) || !ipv4_usable(p + 14))
		return 0;
	t = addrsnoop_v4(s);
	return addrsnoop_learn(&t, p + 14, vlan, true, now_ms);
}

static unsigned addrsnoop_ipv4(struct addrsnoop *s, const uint8_t *p,
			       size_t len, uint16_t vlan, uint64_t now_ms)
{
	size_t hlen, tot;
	struct addrsnoop_table t = addrsnoop_v4(s);

	if (len < IPV4_MIN_HLEN || p[0] >> 4 != 4)
		return 0;
	hlen = (size_t)(p[0] & 0x0f) * 4;
	tot = get_be16(p + 2);
	if (hlen < IPV4_MIN_HLEN || tot < hlen || tot > len)
		return 0;
	if (!ipv4_usable(p + 12))
		return 0;
	return addrsnoop_learn(&t, p + 12, vlan, false, now_ms);
}

static unsigned addrsnoop_ipv6(struct addrsnoop *s, const uint8_t *p,
			       size_t len, uint16_t vlan, uint64_t now_ms)
{
	struct addrsnoop_table t = addrsnoop_v6(s);
	const uint8_t *icmp;
	bool nd = false, na_override = false;
	size_t plen;
	unsigned n = 0;

	if (len < IPV6_HLEN || p[0] >> 4 != 6)
		return 0;
	plen = get_be16(p + 4);
	if (plen > len - IPV6_HLEN)
		return 0;
	icmp = p + IPV6_HLEN;
	if (p[6] == IPPROTO_ICMPV6_NUM && p[7] == ND_HOP_LIMIT &&
	    plen >= ND_MIN_LEN && icmp[1] == 0 &&
	    (icmp[0] == ICMPV6_NS || icmp[0] == ICMPV6_NA)) {
		nd = true;
		na_override =
		    icmp[0] == ICMPV6_NA && (icmp[4] & NA_FLAG_OVERRIDE);
	}
	if (ipv6_usable(p + 8))
		n += addrsnoop_learn(&t, p + 8, vlan, nd, now_ms);
	if (na_override && ipv6_usable(icmp + 8) && memcmp(icmp + 8, p + 8, 16))
		n += addrsnoop_learn(&t, icmp + 8, vlan, true, now_ms);
	return n;
}

unsigned addrsnoop_frame(struct addrsnoop *s, const uint8_t mac[6],
			 const uint8_t *frame, size_t len, uint64_t now_ms)
{
	size_t off = 12;
	uint16_t type, vlan = 0;

	if (len < ETH_HLEN || memcmp(frame + 6, mac, 6))
		return 0;
	type = get_be16(frame + off);
	if (type == ETH_P_VLAN) {
		if (len < ETH_HLEN + 4)
			return 0;
		vlan = get_be16(frame + off + 2) & VLAN_VID_MASK;
		off += 4;
		type = get_be16(frame + off);
	}
	off += 2;
	switch (type) {
	case ETH_P_IPV4:
		return addrsnoop_ipv4(s, frame + off, len - off, vlan, now_ms);
	case ETH_P_IPV6:
		return addrsnoop_ipv6(s, frame + off, len - off, vlan, now_ms);
	case ETH_P_ARP:
		return addrsnoop_arp(s, mac, frame + off, len - off, vlan,
				     now_ms);
	default:
		return 0;
	}
}

static unsigned addrsnoop_expire_table(const struct addrsnoop_table *t,
				       uint64_t now_ms)
{
	unsigned gone = 0;

	for (unsigned i = 0; i < *t->n;) {
		if (addrsnoop_expired(&t->e[i], now_ms)) {
			t->e[i] = t->e[--*t->n];
			memset(&t->e[*t->n], 0, sizeof(t->e[0]));
			gone++;
		} else {
			i++;
		}
	}
	return gone;
}

unsigned addrsnoop_expire(struct addrsnoop *s, uint64_t now_ms)
{
	struct addrsnoop_table t4 = addrsnoop_v4(s), t6 = addrsnoop_v6(s);

	return addrsnoop_expire_table(&t4, now_ms) +
	       addrsnoop_expire_table(&t6, now_ms);
}

/* addrsnoop_sorted() - indexes of the live entries in ascending address
 * order into @idx (room for @n); return how many */
static unsigned addrsnoop_sorted(const struct addrsnoop_entry *e, unsigned n,
				 size_t alen, uint64_t now_ms, unsigned *idx)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		unsigned j = k;

		if (addrsnoop_expired(&e[i], now_ms))
			continue;
		while (j > 0 &&
		       memcmp(e[idx[j - 1]].addr, e[i].addr, alen) > 0) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = i;
		k++;
	}
	return k;
}

void addrsnoop_foreach_v4(const struct addrsnoop *s, uint64_t now_ms,
			  void (*cb)(const struct addrsnoop_entry *e,
				     void *ctx),
			  void *ctx)
{
	unsigned idx[ADDRSNOOP_MAX_V4];
	unsigned n = addrsnoop_sorted(s->v4, s->n_v4, 4, now_ms, idx);

	for (unsigned i = 0; i < n; i++)
		cb(&s->v4[idx[i]], ctx);
}

void addrsnoop_foreach_v6(const struct addrsnoop *s, uint64_t now_ms,
			  void (*cb)(const struct addrsnoop_entry *e,
				     void *ctx),
			  void *ctx)
{
	unsigned idx[ADDRSNOOP_MAX_V6];
	unsigned n = addrsnoop_sorted(s->v6, s->n_v6, 16, now_ms, idx);

	for (unsigned i = 0; i < n; i++)
		cb(&s->v6[idx[i]], ctx);
}

static bool addrsnoop_has(const struct addrsnoop_entry *e, unsigned n,
			  const uint8_t *addr, size_t alen, uint64_t now_ms)
{
	for (unsigned i = 0; i < n; i++) {
		if (!memcmp(e[i].addr, addr, alen))
			return !addrsnoop_expired(&e[i], now_ms);
	}
	return false;
}

bool addrsnoop_has_v4(const struct addrsnoop *s, const uint8_t addr[4],
		      uint64_t now_ms)
{
	return addrsnoop_has(s->v4, s->n_v4, addr, 4, now_ms);
}

bool addrsnoop_has_v6(const struct addrsnoop *s, const uint8_t addr[16],
		      uint64_t now_ms)
{
	return addrsnoop_has(s->v6, s->n_v6, addr, 16, now_ms);
}

struct addrsnoop_text_ctx {
	json_t *arr;
	int af;
	bool failed;
};

/* addrsnoop_append_text() - add the text form of @e to the context's array */
static void addrsnoop_append_text(const struct addrsnoop_entry *e, void *ctx)
{
	struct addrsnoop_text_ctx *c = ctx;
	char buf[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->af, e->addr, buf, sizeof(buf)) ||
	    json_array_append_new(c->arr, json_string(buf)))
		c->failed = true;
}

json_t *addrsnoop_info(const struct addrsnoop *s, uint64_t now_ms)
{
	struct addrsnoop_text_ctx v4 = {json_array(), AF_INET, false};
	struct addrsnoop_text_ctx v6 = {json_array(), AF_INET6, false};
	json_t *o = json_object();

	if (!o || !v4.arr || !v6.arr)
		goto fail;
	addrsnoop_foreach_v4(s, now_ms, addrsnoop_append_text, &v4);
	addrsnoop_foreach_v6(s, now_ms, addrsnoop_append_text, &v6);
	if (v4.failed || v6.failed || json_object_set(o, "ipv4", v4.arr) ||
	    json_object_set(o, "ipv6", v6.arr))
		goto fail;
	json_decref(v4.arr);
	json_decref(v6.arr);
	return o;
fail:
	json_decref(v4.arr);
	json_decref(v6.arr);
	json_decref(o);
	return NULL;
}
