// SPDX-License-Identifier: MIT
/* rxfilter.c - a guest NIC's receive filter: accept, set, query, snoop
 *
 * Owns the fixed tables inside a struct rxfilter and nothing else.  The
 * accept path reads a handful of flags and scans at most 64 packed MAC keys.
 * The snooping parser checks that every byte it reads lies inside the frame
 * and inside the IP packet before reading it, and validates the whole of a
 * message before it changes anything.
 *
 * Never: allocate, log or make a syscall on the per-frame paths
 * (rxfilter_accept(), rxfilter_snoop()); trust a length field; leave a
 * filter half-changed by a rejected set-rx-filter.
 */

#include <stdio.h>
#include <string.h>

#include "opts.h"
#include "rxfilter.h"

#define ETH_ALEN      6
#define ETH_HLEN      14
#define ETH_P_IPV4    0x0800
#define ETH_P_VLAN    0x8100
#define ETH_P_IPV6    0x86dd
#define VLAN_HLEN     4
#define VLAN_VID_MASK 0x0fff

#define MAC_TABLE RXFILTER_MAC_TABLE_ENTRIES

#define IPV4_MIN_HLEN	 20
#define IPV4_FRAG_MASK	 0x3fff /* MF flag and fragment offset */
#define IPPROTO_IGMP_NUM 2

#define IGMP_MIN_LEN   8
#define IGMP_V1_REPORT 0x12
#define IGMP_V2_REPORT 0x16
#define IGMP_V2_LEAVE  0x17
#define IGMP_V3_REPORT 0x22
#define IGMP_V3_HLEN   8

#define IPV6_HLEN	40
#define IPV6_EXT_MAX	8 /* extension headers skipped at most */
#define IPV6_NH_HOPOPTS 0
#define IPV6_NH_ROUTING 43
#define IPV6_NH_DSTOPTS 60
#define IPV6_NH_ICMPV6	58
#define MLD_V1_LEN	24 /* type .. multicast address */
#define MLD_V1_REPORT	131
#define MLD_V1_DONE	132
#define MLD_V2_REPORT	143
#define MLD_V2_HLEN	8

/* Group record types, the same numbers in IGMPv3 and MLDv2 */
#define REC_IS_IN 1
#define REC_IS_EX 2
#define REC_TO_IN 3
#define REC_TO_EX 4
#define REC_ALLOW 5

static const uint8_t igmp_all_hosts[4] = {224, 0, 0, 1};
static const uint8_t mld_all_nodes[16] = {0xff, 0x02, [15] = 0x01};

/* MAC packing: the six bytes in the low 48 bits of a host-order word.  Only
 * equality matters, so the byte order is whatever loads fastest. */
static inline uint64_t mac_key(const uint8_t *p)
{
	uint32_t lo;
	uint16_t hi;

	memcpy(&lo, p, 4);
	memcpy(&hi, p + 4, 2);
	return (uint64_t)lo | (uint64_t)hi << 32;
}

static void mac_unkey(uint64_t k, uint8_t out[ETH_ALEN])
{
	uint32_t lo = (uint32_t)k;
	uint16_t hi = (uint16_t)(k >> 32);

	memcpy(out, &lo, 4);
	memcpy(out + 4, &hi, 2);
}

#define BCAST_KEY 0xffffffffffffULL /* all ones in any byte order */

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline bool vlan_test(const uint32_t *map, unsigned vid)
{
	return map[vid >> 5] & (1u << (vid & 31));
}

/* key_in() - whether @k is among @n keys: one 64-bit compare per entry
 * (about 10 ns for a miss among 32 on a current x86 core) */
static inline bool key_in(const uint64_t *t, unsigned n, uint64_t k)
{
	for (unsigned i = 0; i < n; i++)
		if (t[i] == k)
			return true;
	return false;
}

static void sync_mc_overflow(struct rxfilter *f)
{
	f->multi_overflow = f->mc_table_overflow || f->mc_snoop_overflow;
}

void rxfilter_reset(struct rxfilter *f)
{
	uint64_t mac = f->mac;

	memset(f, 0, sizeof(*f));
	f->mac = mac;
	f->promisc = true;
}

void rxfilter_init(struct rxfilter *f, const uint8_t mac[6])
{
	f->mac = mac_key(mac);
	rxfilter_reset(f);
}

bool rxfilter_accept(const struct rxfilter *f, const uint8_t *frame, size_t len)
{
	uint64_t dst;

	if (len < ETH_HLEN)
		return false;
	if (f->promisc)
		return true;
	if (f->vlan_filter && get_be16(frame + 12) == ETH_P_VLAN) {
		if (len < ETH_HLEN + 2 ||
		    !vlan_test(f->vlans, get_be16(frame + 14) & VLAN_VID_MASK))
			return false;
	}
	dst = mac_key(frame);
	if (frame[0] & 1) {
		if (dst == BCAST_KEY)
			return !f->no_bcast;
		if (f->no_multi)
			return false;
		if (f->all_multi || f->multi_overflow)
			return true;
		return key_in(f->table + f->n_uni,
			      (unsigned)(f->n_used - f->n_uni), dst);
	}
	if (f->no_uni)
		return false;
	if (f->all_uni || f->uni_overflow || dst == f->mac)
		return true;
	return key_in(f->table, f->n_uni, dst);
}

/* Table editing (control path and snooping) */

static int table_find(const struct rxfilter *f, unsigned from, unsigned to,
		      uint64_t k)
{
	for (unsigned i = from; i < to; i++)
		if (f->table[i] == k)
			return (int)i;
	return -1;
}

static void table_remove(struct rxfilter *f, unsigned i)
{
	unsigned tail = f->n_used - i - 1u;

	memmove(&f->table[i], &f->table[i + 1], tail * sizeof(f->table[0]));
	memmove(&f->is_explicit[i], &f->is_explicit[i + 1],
		tail * sizeof(f->is_explicit[0]));
	if (i < f->n_uni)
		f->n_uni--;
	f->n_used--;
}

/* observable_equal() - whether query-rx-filter would show @a and @b alike */
static bool observable_equal(const struct rxfilter *a, const struct rxfilter *b)
{
	return a->promisc == b->promisc && a->all_uni == b->all_uni &&
	       a->all_multi == b->all_multi && a->no_uni == b->no_uni &&
	       a->no_multi == b->no_multi && a->no_bcast == b->no_bcast &&
	       a->uni_overflow == b->uni_overflow &&
	       a->multi_overflow == b->multi_overflow &&
	       a->vlan_filter == b->vlan_filter && a->n_uni == b->n_uni &&
	       a->n_used == b->n_used &&
	       !memcmp(a->table, b->table, a->n_used * sizeof(a->table[0])) &&
	       !memcmp(a->vlans, b->vlans, sizeof(a->vlans));
}

/* Snooping: the group list and the multicast part of the table */

/* One snooped frame's work: the filter, the time, whether query output
 * changed */
struct snoop {
	struct rxfilter *f;
	uint64_t now_ms;
	bool changed;
};

static bool expired(uint64_t seen_ms, uint64_t now_ms)
{
	return now_ms >= seen_ms &&
	       now_ms - seen_ms >= RXFILTER_SNOOP_TIMEOUT_MS;
}

static int group_find(const struct rxfilter *f, const uint8_t addr[16])
{
	for (unsigned i = 0; i < f->n_groups; i++)
		if (!memcmp(f->groups[i].addr, addr, 16))
			return (int)i;
	return -1;
}

static bool group_key_used(const struct rxfilter *f, uint64_t k)
{
	for (unsigned i = 0; i < f->n_groups; i++)
		if (f->groups[i].mac_key == k)
			return true;
	return false;
}

/* snoop_full() - a joined group found no room: accept all multicast */
static void snoop_full(struct snoop *s)
{
	struct rxfilter *f = s->f;

	s->changed |= !f->multi_overflow;
	f->mc_snoop_overflow = true;
	f->mc_snoop_full_ms = s->now_ms;
	sync_mc_overflow(f);
}

static void snoop_join(struct snoop *s, const uint8_t addr[16], uint64_t k)
{
	struct rxfilter *f = s->f;
	int g = group_find(f, addr);

	if (g < 0) {
		if (f->n_groups == RXFILTER_SNOOP_GROUPS) {
			snoop_full(s);
			return;
		}
		g = (int)f->n_groups++;
		memcpy(f->groups[g].addr, addr, 16);
		f->groups[g].mac_key = k;
	}
	f->groups[g].seen_ms = s->now_ms;
	if (table_find(f, f->n_uni, f->n_used, k) >= 0)
		return;
	if (f->n_used == MAC_TABLE) {
		snoop_full(s);
		return;
	}
	f->table[f->n_used] = k;
	f->is_explicit[f->n_used] = false;
	f->n_used++;
	s->changed = true;
}

/* group_drop() - forget group @g, and its MAC when neither another group
 * nor management wants it; return whether the table changed */
static bool group_drop(struct rxfilter *f, unsigned g)
{
	uint64_t k = f->groups[g].mac_key;
	int i;

	f->groups[g] = f->groups[--f->n_groups];
	if (group_key_used(f, k))
		return false;
	i = table_find(f, f->n_uni, f->n_used, k);
	if (i < 0 || f->is_explicit[i])
		return false;
	table_remove(f, (unsigned)i);
	return true;
}

static void snoop_leave(struct snoop *s, const uint8_t addr[16])
{
	int g = group_find(s->f, addr);

	if (g >= 0)
		s->changed |= group_drop(s->f, (unsigned)g);
}

enum snoop_op { SNOOP_NONE, SNOOP_JOIN, SNOOP_LEAVE };

/* snoop_v4() / snoop_v6() - apply @op to the group at @a (4 / 16 bytes,
 * already checked to lie inside the packet) */
static void snoop_v4(struct snoop *s, enum snoop_op op, const uint8_t *a)
{
	uint8_t addr[16] = {[10] = 0xff, [11] = 0xff};
	uint8_t mac[ETH_ALEN] = {0x01, 0x00, 0x5e};

	if (op == SNOOP_NONE || (a[0] & 0xf0) != 0xe0)
		return; /* not 224.0.0.0/4 */
	memcpy(addr + 12, a, 4);
	mac[3] = a[1] & 0x7f;
	mac[4] = a[2];
	mac[5] = a[3];
	if (op == SNOOP_JOIN)
		snoop_join(s, addr, mac_key(mac));
	else
		snoop_leave(s, addr);
}

static void snoop_v6(struct snoop *s, enum snoop_op op, const uint8_t *a)
{
	uint8_t addr[16];
	uint8_t mac[ETH_ALEN] = {0x33, 0x33};

	if (op == SNOOP_NONE || a[0] != 0xff)
		return; /* not ff00::/8 */
	memcpy(addr, a, 16);
	memcpy(mac + 2, a + 12, 4);
	if (op == SNOOP_JOIN)
		snoop_join(s, addr, mac_key(mac));
	else
		snoop_leave(s, addr);
}

/* record_op() - what an IGMPv3 / MLDv2 group record means (see the header) */
static enum snoop_op record_op(unsigned type, unsigned n_src)
{
	switch (type) {
	case REC_IS_EX:
	case REC_TO_EX:
		return SNOOP_JOIN;
	case REC_IS_IN:
	case REC_ALLOW:
		return n_src ? SNOOP_JOIN : SNOOP_NONE;
	case REC_TO_IN:
		return n_src ? SNOOP_JOIN : SNOOP_LEAVE;
	default:
		return SNOOP_NONE; /* BLOCK_OLD_SOURCES, unknown */
	}
}

/*
 * records() - the @n group records of an IGMPv3 / MLDv2 report at @p, @len
 * bytes: with @s NULL, check that all of them lie inside; else apply them
 * (only after a successful check).  @alen: the address size, 4 or 16.
 */
static bool records(struct snoop *s, const uint8_t *p, size_t len, unsigned n,
		    size_t alen)
{
	size_t off = 0, rlen;
	unsigned n_src;

	for (unsigned r = 0; r < n; r++) {
		if (len - off < 4 + alen)
			return false;
		n_src = get_be16(p + off + 2);
		rlen = 4 + alen + n_src * alen + (size_t)p[off + 1] * 4;
		if (rlen > len - off)
			return false;
		if (s && alen == 4)
			snoop_v4(s, record_op(p[off], n_src), p + off + 4);
		else if (s)
			snoop_v6(s, record_op(p[off], n_src), p + off + 4);
		off += rlen;
	}
	return true;
}

/* snoop_igmp() - @p: the IGMP message, @len bytes as the IP header bounds
 * it */
static bool snoop_igmp(struct snoop *s, const uint8_t *p, size_t len)
{
	unsigned n;

	if (len < IGMP_MIN_LEN)
		return false;
	switch (p[0]) {
	case IGMP_V1_REPORT:
	case IGMP_V2_REPORT:
		if ((p[4] & 0xf0) != 0xe0)
			return false; /* a report of no group */
		snoop_v4(s, SNOOP_JOIN, p + 4);
		break;
	case IGMP_V2_LEAVE:
		if ((p[4] & 0xf0) != 0xe0)
			return false;
		snoop_v4(s, SNOOP_LEAVE, p + 4);
		return true;
	case IGMP_V3_REPORT:
		n = get_be16(p + 6);
		if (!records(NULL, p + IGMP_V3_HLEN, len - IGMP_V3_HLEN, n, 4))
			return false;
		records(s, p + IGMP_V3_HLEN, len - IGMP_V3_HLEN, n, 4);
		break;
	default:
		return false; /* queries and anything else */
	}
	snoop_v4(s, SNOOP_JOIN, igmp_all_hosts);
	return true;
}

/* snoop_mld() - @p: the ICMPv6 message, @len bytes as the IPv6 header
 * bounds it */
static bool snoop_mld(struct snoop *s, const uint8_t *p, size_t len)
{
	unsigned n;

	if (len < 4)
		return false;
	switch (p[0]) {
	case MLD_V1_REPORT:
		if (len < MLD_V1_LEN || p[8] != 0xff)
			return false; /* short, or a report of no group */
		snoop_v6(s, SNOOP_JOIN, p + 8);
		break;
	case MLD_V1_DONE:
		if (len < MLD_V1_LEN || p[8] != 0xff)
			return false;
		snoop_v6(s, SNOOP_LEAVE, p + 8);
		return true;
	case MLD_V2_REPORT:
		if (len < MLD_V2_HLEN)
			return false;
		n = get_be16(p + 6);
		if (!records(NULL, p + MLD_V2_HLEN, len - MLD_V2_HLEN, n, 16))
			return false;
		records(s, p + MLD_V2_HLEN, len - MLD_V2_HLEN, n, 16);
		break;
	default:
		return false; /* queries, neighbour discovery, ... */
	}
	snoop_v6(s, SNOOP_JOIN, mld_all_nodes);
	return true;
}

static bool snoop_ipv4(struct snoop *s, const uint8_t *p, size_t len)
{
	size_t ihl, total;

	if (len < IPV4_MIN_HLEN || p[0] >> 4 != 4)
		return false;
	if (p[9] != IPPROTO_IGMP_NUM || (get_be16(p + 6) & IPV4_FRAG_MASK))
		return false;
	ihl = (size_t)(p[0] & 0x0f) * 4;
	total = get_be16(p + 2);
	if (ihl < IPV4_MIN_HLEN || total < ihl || total > len)
		return false;
	return snoop_igmp(s, p + ihl, total - ihl);
}

static bool snoop_ipv6(struct snoop *s, const uint8_t *p, size_t len)
{
	size_t plen, hlen;
	unsigned nh;

	if (len < IPV6_HLEN || p[0] >> 4 != 6)
		return false;
	plen = get_be16(p + 4); /* 0 (a jumbogram) is too short below */
	if (plen > len - IPV6_HLEN)
		return false;
	nh = p[6];
	p += IPV6_HLEN;
	for (unsigned i = 0; i < IPV6_EXT_MAX && nh != IPV6_NH_ICMPV6; i++) {
		/* a fragment, an upper layer, no next header: not MLD */
		if (nh != IPV6_NH_HOPOPTS && nh != IPV6_NH_ROUTING &&
		    nh != IPV6_NH_DSTOPTS)
			return false;
		if (plen < 8)
			return false;
		hlen = ((size_t)p[1] + 1) * 8;
		if (hlen > plen)
			return false;
		nh = p[0];
		p += hlen;
		plen -= hlen;
	}
	if (nh != IPV6_NH_ICMPV6)
		return false;
	return snoop_mld(s, p, plen);
}

bool rxfilter_snoop(struct rxfilter *f, const uint8_t *frame, size_t len,
		    uint64_t now_ms, bool *changed)
{
	struct snoop s = {.f = f, .now_ms = now_ms};
	size_t off = ETH_HLEN;
	unsigned type;
	bool ok = false;

	if (len >= ETH_HLEN) {
		type = get_be16(frame + 12);
		if (type == ETH_P_VLAN && len >= ETH_HLEN + VLAN_HLEN) {
			type = get_be16(frame + 16);
			off += VLAN_HLEN;
		}
		if (type == ETH_P_IPV4)
			ok = snoop_ipv4(&s, frame + off, len - off);
		else if (type == ETH_P_IPV6)
			ok = snoop_ipv6(&s, frame + off, len - off);
	}
	if (changed)
		*changed = s.changed;
	return ok;
}

unsigned rxfilter_expire(struct rxfilter *f, uint64_t now_ms, bool *changed)
{
	bool chg = false, was = f->multi_overflow;
	unsigned n = 0;

	for (unsigned i = 0; i < f->n_groups;) {
		if (expired(f->groups[i].seen_ms, now_ms)) {
			chg |= group_drop(f, i); /* moves the last one to i */
			n++;
		} else {
			i++;
		}
	}
	if (f->mc_snoop_overflow && expired(f->mc_snoop_full_ms, now_ms)) {
		f->mc_snoop_overflow = false;
		sync_mc_overflow(f);
		chg |= was != f->multi_overflow;
	}
	if (changed)
		*changed = chg;
	return n;
}

/* set-rx-filter */

#define VALUE_SHOWN "%.64s" /* how much of a bad string an error echoes */

enum rx_state { RX_ABSENT = -1, RX_NORMAL, RX_NONE, RX_ALL };

static const char *const rx_state_names[] = {"normal", "none", "all"};

/* Addresses parsed from one table member, unique, in order */
struct mac_list {
	uint64_t key[MAC_TABLE];
	bool is_explicit[MAC_TABLE];
	unsigned n;
	bool overflow; /* more unique addresses than MAC_TABLE */
};

static bool get_bool(const json_t *args, const char *name, bool *given,
		     bool *out, struct nh_error **errp)
{
	const json_t *v = json_object_get(args, name);

	*given = v != NULL;
	if (!v)
		return true;
	if (!json_is_boolean(v)) {
		nh_error_setg(errp,
			      "Invalid parameter type for '%s', expected: "
			      "boolean",
			      name);
		return false;
	}
	*out = json_is_true(v);
	return true;
}

static bool get_state(const json_t *args, const char *name, enum rx_state *out,
		      struct nh_error **errp)
{
	const json_t *v = json_object_get(args, name);
	const char *s;

	*out = RX_ABSENT;
	if (!v)
		return true;
	s = json_string_value(v);
	if (!s) {
		nh_error_setg(errp,
			      "Invalid parameter type for '%s', expected: "
			      "string",
			      name);
		return false;
	}
	for (int i = RX_NORMAL; i <= RX_ALL; i++) {
		if (!strcmp(s, rx_state_names[i])) {
			*out = (enum rx_state)i;
			return true;
		}
	}
	nh_error_setg(errp,
		      "Parameter '%s' does not accept value '" VALUE_SHOWN "'",
		      name, s);
	return false;
}

/* parse_mac() - "xx:xx:xx:xx:xx:xx", hex digits in either case */
static bool parse_mac(const char *s, uint8_t mac[ETH_ALEN])
{
	if (strlen(s) != 3 * ETH_ALEN - 1)
		return false;
	for (int i = 0; i < ETH_ALEN; i++) {
		int hi = opts_hex_digit(s[3 * i]), lo = opts_hex_digit(s[3 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		if (i < ETH_ALEN - 1 && s[3 * i + 2] != ':')
			return false;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool get_array(const json_t *args, const char *name, const json_t **out,
		      struct nh_error **errp)
{
	const json_t *v = json_object_get(args, name);

	*out = NULL;
	if (!v)
		return true;
	if (!json_is_array(v)) {
		nh_error_setg(errp,
			      "Invalid parameter type for '%s', expected: "
			      "array",
			      name);
		return false;
	}
	*out = v;
	return true;
}

/* get_macs() - the member @name as a list of unicast (@multicast false) or
 * multicast addresses */
static bool get_macs(const json_t *args, const char *name, bool multicast,
		     bool *given, struct mac_list *l, struct nh_error **errp)
{
	const json_t *arr, *v;
	uint8_t mac[ETH_ALEN];
	const char *s;
	uint64_t k;
	size_t i;

	if (!get_array(args, name, &arr, errp))
		return false;
	*given = arr != NULL;
	l->n = 0;
	l->overflow = false;
	json_array_foreach (arr, i, v) {
		s = json_string_value(v);
		if (!s) {
			nh_error_setg(errp,
				      "Invalid parameter type for '%s[%zu]', "
				      "expected: string",
				      name, i);
			return false;
		}
		if (!parse_mac(s, mac)) {
			nh_error_setg(errp,
				      "set-rx-filter: '%s' entry %zu: "
				      "'" VALUE_SHOWN "' is not a MAC address",
				      name, i, s);
			return false;
		}
		if ((bool)(mac[0] & 1) != multicast) {
			nh_error_setg(errp,
				      "set-rx-filter: '%s' entry %zu: "
				      "'%s' is %s multicast address",
				      name, i, s, multicast ? "not a" : "a");
			return false;
		}
		k = mac_key(mac);
		if (key_in(l->key, l->n, k))
			continue;
		if (l->n == MAC_TABLE) {
			l->overflow = true;
			continue;
		}
		l->is_explicit[l->n] = true;
		l->key[l->n++] = k;
	}
	return true;
}

static bool get_vlans(const json_t *args, bool *given, bool *nonempty,
		      uint32_t map[RXFILTER_VLAN_IDS / 32],
		      struct nh_error **errp)
{
	const json_t *arr, *v;
	json_int_t vid;
	size_t i;

	if (!get_array(args, "vlan-table", &arr, errp))
		return false;
	*given = arr != NULL;
	*nonempty = json_array_size(arr) > 0;
	memset(map, 0, RXFILTER_VLAN_IDS / 8);
	json_array_foreach (arr, i, v) {
		if (!json_is_integer(v)) {
			nh_error_setg(errp,
				      "Invalid parameter type for "
				      "'vlan-table[%zu]', expected: integer",
				      i);
			return false;
		}
		vid = json_integer_value(v);
		if (vid < 0 || vid >= RXFILTER_VLAN_IDS) {
			nh_error_setg(errp,
				      "set-rx-filter: 'vlan-table' entry %zu: "
				      "%" JSON_INTEGER_FORMAT
				      " is not a VLAN ID (0-%d)",
				      i, vid, RXFILTER_VLAN_IDS - 1);
			return false;
		}
		map[vid >> 5] |= 1u << (vid & 31);
	}
	return true;
}

static void set_state(enum rx_state st, bool *no, bool *all)
{
	if (st == RX_ABSENT)
		return;
	*no = st == RX_NONE;
	*all = st == RX_ALL;
}

/* current_macs() - the unicast or multicast part of @f's table as a list */
static void current_macs(const struct rxfilter *f, bool multicast,
			 struct mac_list *l)
{
	unsigned from = multicast ? f->n_uni : 0;
	unsigned to = multicast ? f->n_used : f->n_uni;

	l->n = to - from;
	memcpy(l->key, f->table + from, l->n * sizeof(l->key[0]));
	memcpy(l->is_explicit, f->is_explicit + from,
	       l->n * sizeof(l->is_explicit[0]));
	l->overflow = multicast ? f->mc_table_overflow : f->uni_overflow;
}

bool rxfilter_apply(struct rxfilter *f, const json_t *args, bool *changed,
		    struct nh_error **errp)
{
	struct rxfilter next; /* built whole, committed only when valid */
	struct mac_list uni, multi;
	enum rx_state st_uni, st_multi, st_vlan;
	bool promisc = false, bcast = true;
	bool g_promisc, g_bcast, g_uni, g_multi, g_vlan;
	bool vlan_nonempty;
	uint32_t vlans[RXFILTER_VLAN_IDS / 32];
	unsigned room;

	if (changed)
		*changed = false;
	if (!args)
		return true;
	if (!json_is_object(args)) {
		nh_error_setg(errp,
			      "QMP input member 'arguments' must be an object");
		return false;
	}
	if (!get_bool(args, "promiscuous", &g_promisc, &promisc, errp) ||
	    !get_state(args, "unicast", &st_uni, errp) ||
	    !get_state(args, "multicast", &st_multi, errp) ||
	    !get_state(args, "vlan", &st_vlan, errp) ||
	    !get_bool(args, "broadcast-allowed", &g_bcast, &bcast, errp) ||
	    !get_macs(args, "unicast-table", false, &g_uni, &uni, errp) ||
	    !get_macs(args, "multicast-table", true, &g_multi, &multi, errp) ||
	    !get_vlans(args, &g_vlan, &vlan_nonempty, vlans, errp))
		return false;
	if (st_vlan == RX_NONE && vlan_nonempty) {
		nh_error_setg(errp, "set-rx-filter: 'vlan' is 'none' but "
				    "'vlan-table' is not empty");
		return false;
	}

	/* Valid: build the new state, then compare and commit */
	next = *f;
	if (g_promisc)
		next.promisc = promisc;
	if (g_bcast)
		next.no_bcast = !bcast;
	set_state(st_uni, &next.no_uni, &next.all_uni);
	set_state(st_multi, &next.no_multi, &next.all_multi);

	if (!g_uni)
		current_macs(f, false, &uni);
	if (!g_multi)
		current_macs(f, true, &multi);
	next.n_uni = (uint8_t)uni.n;
	next.uni_overflow = uni.overflow;
	memcpy(next.table, uni.key, uni.n * sizeof(uni.key[0]));
	memcpy(next.is_explicit, uni.is_explicit,
	       uni.n * sizeof(uni.is_explicit[0]));
	room = MAC_TABLE - uni.n;
	next.mc_table_overflow = multi.overflow || multi.n > room;
	if (multi.n > room)
		multi.n = room;
	memcpy(next.table + uni.n, multi.key, multi.n * sizeof(multi.key[0]));
	memcpy(next.is_explicit + uni.n, multi.is_explicit,
	       multi.n * sizeof(multi.is_explicit[0]));
	next.n_used = (uint8_t)(uni.n + multi.n);
	if (g_multi) {
		next.n_groups = 0;
		next.mc_snoop_overflow = false;
	}
	sync_mc_overflow(&next);

	if (g_vlan)
		memcpy(next.vlans, vlans, sizeof(next.vlans));
	if (st_vlan == RX_NONE)
		memset(next.vlans, 0, sizeof(next.vlans));
	if (st_vlan != RX_ABSENT)
		next.vlan_filter = st_vlan != RX_ALL;

	if (changed)
		*changed = !observable_equal(f, &next);
	*f = next;
	return true;
}

/* query-rx-filter */

static const char *uni_state(const struct rxfilter *f)
{
	if (f->no_uni)
		return "none";
	return f->all_uni || f->uni_overflow ? "all" : "normal";
}

static const char *multi_state(const struct rxfilter *f)
{
	if (f->no_multi)
		return "none";
	return f->all_multi || f->multi_overflow ? "all" : "normal";
}

static bool vlans_empty(const struct rxfilter *f)
{
	for (unsigned i = 0; i < RXFILTER_VLAN_IDS / 32; i++)
		if (f->vlans[i])
			return false;
	return true;
}

static const char *vlan_state(const struct rxfilter *f)
{
	if (!f->vlan_filter)
		return "all";
	return vlans_empty(f) ? "none" : "normal";
}

static json_t *mac_string(uint64_t k)
{
	uint8_t m[ETH_ALEN];
	char buf[3 * ETH_ALEN];

	mac_unkey(k, m);
	snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
		 m[2], m[3], m[4], m[5]);
	return json_string(buf);
}

static json_t *mac_array(const struct rxfilter *f, unsigned from, unsigned to)
{
	json_t *a = json_array();

	for (unsigned i = from; a && i < to; i++) {
		if (json_array_append_new(a, mac_string(f->table[i]))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *vlan_array(const struct rxfilter *f)
{
	json_t *a = json_array();

	for (unsigned vid = 0; a && vid < RXFILTER_VLAN_IDS; vid++) {
		if (!f->vlans[vid >> 5]) {
			vid |= 31; /* skip an empty word */
			continue;
		}
		if (vlan_test(f->vlans, vid) &&
		    json_array_append_new(a, json_integer(vid))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *rxfilter_info(const struct rxfilter *f, const char *name)
{
	json_t *o = json_object();
	int err = !o;

	if (err)
		return NULL;
	err |= json_object_set_new(o, "name", json_string(name ? name : ""));
	err |= json_object_set_new(o, "promiscuous", json_boolean(f->promisc));
	err |= json_object_set_new(o, "multicast", json_string(multi_state(f)));
	err |= json_object_set_new(o, "unicast", json_string(uni_state(f)));
	err |= json_object_set_new(o, "vlan", json_string(vlan_state(f)));
	/* The meaning the name says, not QEMU's inverted value (header) */
	err |= json_object_set_new(o, "broadcast-allowed",
				   json_boolean(!f->no_bcast));
	err |= json_object_set_new(o, "multicast-overflow",
				   json_boolean(f->multi_overflow));
	err |= json_object_set_new(o, "unicast-overflow",
				   json_boolean(f->uni_overflow));
	err |= json_object_set_new(o, "main-mac", mac_string(f->mac));
	err |= json_object_set_new(o, "vlan-table", vlan_array(f));
	err |=
	    json_object_set_new(o, "unicast-table", mac_array(f, 0, f->n_uni));
	err |= json_object_set_new(o, "multicast-table",
				   mac_array(f, f->n_uni, f->n_used));
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}
