// SPDX-License-Identifier: MIT
/* announce.c - announce-self: the delay schedule, its timers, its frames
 *
 * Owns the announcer's timers: one heap entry per id holding a uv_timer_t,
 * a private copy of its parameters and how many rounds it sent.  An entry
 * leaves the id list the moment it is cancelled or finishes, but its memory
 * is freed only by the timer handle's close callback (libuv's close rule).
 *
 * The frame builders are pure functions over caller buffers.
 *
 * Never: send frames itself (the round callback does), touch a NIC or a
 * port, or run a round after its timer was cancelled or replaced.
 */

#include <stdlib.h>
#include <string.h>

#include "announce.h"

#define ETH_P_IPV4 0x0800
#define ETH_P_ARP  0x0806
#define ETH_P_RARP 0x8035
#define ETH_P_IPV6 0x86dd
#define ETH_P_VLAN 0x8100

#define ARP_HTYPE_ETHER	     1
#define ARP_OP_REQUEST	     1
#define ARP_OP_REVERSE_REQ   3
#define IPPROTO_ICMPV6_NUM   58
#define ND_HOP_LIMIT	     255
#define ICMPV6_NA	     136
#define NA_FLAG_OVERRIDE     0x20 /* flags octet: R 0x80, S 0x40, O 0x20 */
#define ND_OPT_TARGET_LLADDR 2
#define NA_ICMP_LEN	     32 /* NA header 24 + link-layer option 8 */

struct announce_timer {
	uv_timer_t timer; /* .data points back here */
	struct announcer *owner;
	struct announce_timer *next;   /* the owner's list of live timers */
	struct announce_params params; /* strings point into the fields below */
	char *id;
	char **ifaces;
	uint64_t done; /* rounds sent under these params */
	uint64_t gen;  /* bumped when the params are replaced */
	bool closing;
};

struct announcer {
	uv_loop_t *loop;
	announce_round_fn *round;
	void *ctx;
	struct announce_timer *timers;
	unsigned count;
};

bool announce_params_check(const struct announce_params *p,
			   struct nh_error **errp)
{
	const struct {
		const char *name;
		int64_t val;
	} fields[] = {
	    {"initial", p->initial},
	    {"max", p->max},
	    {"rounds", p->rounds},
	    {"step", p->step},
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (fields[i].val < 0) {
			nh_error_setg(errp,
				      "Parameter '%s' expects a non-negative "
				      "value",
				      fields[i].name);
			return false;
		}
	}
	return true;
}

bool announce_params_selects(const struct announce_params *p,
			     const char *nic_name)
{
	if (!p->has_interfaces)
		return true;
	for (size_t i = 0; p->interfaces && i < p->n_interfaces; i++) {
		if (p->interfaces[i] && !strcmp(p->interfaces[i], nic_name))
			return true;
	}
	return false;
}

uint64_t announce_next_delay(const struct announce_params *p,
			     uint64_t rounds_done)
{
	uint64_t n = rounds_done ? rounds_done - 1 : 0;
	uint64_t initial = p->initial > 0 ? (uint64_t)p->initial : 0;
	uint64_t step = p->step > 0 ? (uint64_t)p->step : 0;
	uint64_t max = p->max > 0 ? (uint64_t)p->max : 0;
	uint64_t d;

	if (step && n > (UINT64_MAX - initial) / step)
		d = UINT64_MAX;
	else
		d = initial + n * step;
	return d > max ? max : d;
}

/* The private copy of a timer's parameters */

/* announce_n_ifaces() - how many interface names @p really carries */
static size_t announce_n_ifaces(const struct announce_params *p)
{
	return p->has_interfaces && p->interfaces ? p->n_interfaces : 0;
}

static void announce_strings_free(char *id, char **ifaces, size_t n)
{
	if (ifaces) {
		for (size_t i = 0; i < n; i++)
			free(ifaces[i]);
		free(ifaces);
	}
	free(id);
}

/* announce_strings_dup() - copy @p's id and interface names; false if
 * memory cannot be had (nothing is left allocated then) */
static bool announce_strings_dup(const struct announce_params *p, char **id,
				 char ***ifaces)
{
	*ifaces = NULL;
	*id = strdup(p->id ? p->id : "");
	if (!*id)
		return false;
	if (!announce_n_ifaces(p))
		return true;
	*ifaces = calloc(p->n_interfaces, sizeof(**ifaces));
	if (!*ifaces)
		goto fail;
	for (size_t i = 0; i < p->n_interfaces; i++) {
		(*ifaces)[i] = strdup(p->interfaces[i] ? p->interfaces[i] : "");
		if (!(*ifaces)[i])
			goto fail;
	}
	return true;
fail:
	announce_strings_free(*id, *ifaces, announce_n_ifaces(p));
	*id = NULL;
	*ifaces = NULL;
	return false;
}

static void announce_timer_set_params(struct announce_timer *at,
				      const struct announce_params *p, char *id,
				      char **ifaces)
{
	announce_strings_free(at->id, at->ifaces, at->params.n_interfaces);
	at->params = *p;
	at->id = id;
	at->ifaces = ifaces;
	at->params.id = id;
	at->params.n_interfaces = announce_n_ifaces(p);
	at->params.interfaces = (const char *const *)ifaces;
	at->done = 0;
	at->gen++;
}

/* The timers */

static void announce_timer_closed(uv_handle_t *h)
{
	struct announce_timer *at = h->data;

	announce_strings_free(at->id, at->ifaces, at->params.n_interfaces);
	free(at);
}

/* announce_timer_remove() - take @at off its owner's list and close it */
static void announce_timer_remove(struct announce_timer *at)
{
	struct announcer *a = at->owner;

	for (struct announce_timer **pp = &a->timers; *pp; pp = &(*pp)->next) {
		if (*pp == at) {
			*pp = at->next;
			break;
		}
	}
	a->count--;
	at->next = NULL;
	at->closing = true;
	uv_close((uv_handle_t *)&at->timer, announce_timer_closed);
}

static void announce_timer_fired(uv_timer_t *t);

/* announce_timer_round() - send the next round of @at and arm the one after */
static void announce_timer_round(struct announce_timer *at)
{
	struct announcer *a = at->owner;
	uint64_t gen = at->gen;

	at->done++;
	a->round(a->ctx, &at->params, at->done);
	/* the callback may have cancelled or replaced this very timer */
	if (at->closing || at->gen != gen)
		return;
	if (at->done >= (uint64_t)at->params.rounds) {
		announce_timer_remove(at);
		return;
	}
	uv_timer_start(&at->timer, announce_timer_fired,
		       announce_next_delay(&at->params, at->done), 0);
}

static void announce_timer_fired(uv_timer_t *t)
{
	announce_timer_round(t->data);
}

static struct announce_timer *announce_timer_find(struct announcer *a,
						  const char *id)
{
	for (struct announce_timer *at = a->timers; at; at = at->next) {
		if (!strcmp(at->id, id))
			return at;
	}
	return NULL;
}

struct announcer *announcer_new(uv_loop_t *loop, announce_round_fn *round,
				void *ctx)
{
	struct announcer *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->loop = loop;
	a->round = round;
	a->ctx = ctx;
	return a;
}

void announcer_free(struct announcer *a)
{
	if (!a)
		return;
	announcer_cancel_all(a);
	free(a);
}

bool announcer_start(struct announcer *a, const struct announce_params *p,
		     struct nh_error **errp)
{
	struct announce_timer *at;
	char *id, **ifaces;

	if (!announce_params_check(p, errp))
		return false;
	at = announce_timer_find(a, p->id ? p->id : "");
	if (p->rounds == 0) {
		if (at)
			announce_timer_remove(at);
		return true;
	}
	if (!at && a->count >= ANNOUNCE_MAX_TIMERS) {
		nh_error_setg(errp,
			      "Too many announce timers running (at most %u)",
			      ANNOUNCE_MAX_TIMERS);
		return false;
	}
	if (!announce_strings_dup(p, &id, &ifaces)) {
		nh_error_setg(errp, "announce-self: out of memory");
		return false;
	}
	if (!at) {
		at = calloc(1, sizeof(*at));
		if (!at || uv_timer_init(a->loop, &at->timer)) {
			free(at);
			announce_strings_free(id, ifaces, announce_n_ifaces(p));
			nh_error_setg(errp, "announce-self: cannot create a "
					    "timer");
			return false;
		}
		at->timer.data = at;
		at->owner = a;
		at->next = a->timers;
		a->timers = at;
		a->count++;
	} else {
		uv_timer_stop(&at->timer);
	}
	announce_timer_set_params(at, p, id, ifaces);
	announce_timer_round(at);
	return true;
}

void announcer_cancel_all(struct announcer *a)
{
	while (a->timers)
		announce_timer_remove(a->timers);
}

unsigned announcer_count(const struct announcer *a)
{
	return a->count;
}

/* The frames */

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* announce_arp() - the ARP frame both RARP and GARP are: broadcast,
 * Ethernet/IPv4 addresses, zero padding to 60 bytes */
static size_t announce_arp(uint8_t buf[60], uint16_t ethertype, uint16_t op,
			   const uint8_t sha[6], const uint8_t spa[4],
			   const uint8_t tha[6], const uint8_t tpa[4])
{
	memset(buf, 0, 60);
	memset(buf, 0xff, 6);
	memcpy(buf + 6, sha, 6);
	put_be16(buf + 12, ethertype);
	put_be16(buf + 14, ARP_HTYPE_ETHER);
	put_be16(buf + 16, ETH_P_IPV4);
	buf[18] = 6;
	buf[19] = 4;
	put_be16(buf + 20, op);
	memcpy(buf + 22, sha, 6);
	memcpy(buf + 28, spa, 4);
	memcpy(buf + 32, tha, 6);
	memcpy(buf + 38, tpa, 4);
	return 60;
}

size_t announce_rarp(uint8_t buf[ANNOUNCE_RARP_LEN], const uint8_t mac[6])
{
	static const uint8_t zero4[4];

	return announce_arp(buf, ETH_P_RARP, ARP_OP_REVERSE_REQ, mac, zero4,
			    mac, zero4);
}

size_t announce_garp(uint8_t buf[ANNOUNCE_GARP_LEN], const uint8_t mac[6],
		     const uint8_t ipv4[4])
{
	static const uint8_t zero6[6];

	return announce_arp(buf, ETH_P_ARP, ARP_OP_REQUEST, mac, ipv4, zero6,
			    ipv4);
}

/* csum_add() - add @len bytes (even) as big-endian 16-bit words to @sum */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	return sum;
}

size_t announce_na(uint8_t buf[ANNOUNCE_NA_LEN], const uint8_t mac[6],
		   const uint8_t ipv6[16])
{
	static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	uint8_t *ip6 = buf + 14, *icmp = ip6 + 40;
	uint32_t sum;

	memset(buf, 0, ANNOUNCE_NA_LEN);
	memcpy(buf, all_nodes_mac, 6);
	memcpy(buf + 6, mac, 6);
	put_be16(buf + 12, ETH_P_IPV6);

	ip6[0] = 0x60; /* version 6, traffic class and flow label 0 */
	put_be16(ip6 + 4, NA_ICMP_LEN);
	ip6[6] = IPPROTO_ICMPV6_NUM;
	ip6[7] = ND_HOP_LIMIT;
	memcpy(ip6 + 8, ipv6, 16);
	memcpy(ip6 + 24, all_nodes, 16);

	icmp[0] = ICMPV6_NA;
	icmp[4] = NA_FLAG_OVERRIDE;
	memcpy(icmp + 8, ipv6, 16);
	icmp[24] = ND_OPT_TARGET_LLADDR;
	icmp[25] = 1; /* option length in units of 8 bytes */
	memcpy(icmp + 26, mac, 6);

	/* pseudo-header: addresses, upper-layer length, next header */
	sum = csum_add(0, ip6 + 8, 32);
	sum += NA_ICMP_LEN + IPPROTO_ICMPV6_NUM;
	sum = csum_add(sum, icmp, NA_ICMP_LEN);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put_be16(icmp + 2, (uint16_t)~sum);
	return ANNOUNCE_NA_LEN;
}

size_t announce_tag_vlan(uint8_t *buf, size_t len, size_t cap, uint16_t vid)
{
	if (len < 14 || cap < len + ANNOUNCE_VLAN_HLEN || vid < 1 || vid > 4094)
		return 0;
	memmove(buf + 16, buf + 12, len - 12);
	put_be16(buf + 12, ETH_P_VLAN);
	put_be16(buf + 14, vid);
	return len + ANNOUNCE_VLAN_HLEN;
}
