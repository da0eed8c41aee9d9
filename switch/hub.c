// SPDX-License-Identifier: MIT
/* hub.c - hubs and the forwarding engine
 *
 * A hub is an L2 broadcast domain: its ports, indexed by port number, and a
 * learning table.  hub_input() takes one burst from an ingress port, learns
 * each source, decides each destination (known unicast: one port; broadcast,
 * multicast, unknown unicast: every other port), collects the frames per
 * egress port and then hands each egress port its batch with one send().
 *
 * Flooding shares a frame between egress ports by reference.  Every frame is
 * accounted for: on the ingress port as forwarded or dropped with a reason,
 * on each egress port as sent or dropped with a reason.
 *
 * Never: block, allocate or log per frame, or touch a backend's medium.
 * Knows ports, netdevs and the provider interface as data; calls nothing
 * above it: what captures and NICs need comes through hub_tap and
 * netdev->front.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "clock.h"
#include "fdb.h"
#include "gso.h"
#include "hub.h"
#include "log.h"
#include "netdev.h"
#include "port.h"
#include "rxfilter.h"

static struct hub *hubs;
const struct hub_tap *hub_tap;
static struct hub_config hub_cfg = {
	.fdb_age_ms = FDB_AGE_DEFAULT_S * 1000ull,
	.fdb_max = FDB_MAX_DEFAULT,
	.fdb_port_max = FDB_PORT_MAX_DEFAULT,
	.fdb_netdev_max = FDB_GROUP_MAX_DEFAULT,
};

void hub_configure(const struct hub_config *cfg)
{
	hub_cfg = *cfg;
	for (struct hub *h = hubs; h; h = h->next) {
		fdb_set_age(h->fdb, cfg->fdb_age_ms);
		fdb_set_limits(h->fdb, cfg->fdb_max, cfg->fdb_port_max);
		fdb_set_group_max(h->fdb, cfg->fdb_netdev_max);
	}
}

void hub_get_config(struct hub_config *cfg)
{
	*cfg = hub_cfg;
}

void hub_set_tap(const struct hub_tap *tap)
{
	hub_tap = tap;
}

struct hub *hub_find(int32_t id)
{
	for (struct hub *h = hubs; h; h = h->next)
		if (h->id == id)
			return h;
	return NULL;
}

struct hub *hub_first(void)
{
	return hubs;
}

static struct hub *hub_create(int32_t id)
{
	struct hub *h = calloc(1, sizeof(*h));
	struct hub **tail;

	if (!h)
		abort();
	h->id = id;
	h->fdb = fdb_new(hub_cfg.fdb_max, hub_cfg.fdb_port_max,
			 hub_cfg.fdb_age_ms);
	if (!h->fdb)
		abort();
	fdb_set_group_max(h->fdb, hub_cfg.fdb_netdev_max);
	for (tail = &hubs; *tail; tail = &(*tail)->next)
		;
	*tail = h;
	log_debug("hub %d: created", id);
	return h;
}

/* -- port security: MAC limits and static entries ----------------------- */

/* The FDB group of a netdev's ports: the table only compares the name */
static uint64_t hub_fdb_group(const struct netdev *nd)
{
	return (uint64_t)(uintptr_t)nd;
}

/* hub_fdb_group_join() - put @p, just attached to @h, in its netdev's FDB
 * group, with the netdev's own limit if it has one */
static void hub_fdb_group_join(struct hub *h, struct port *p)
{
	if (!p->netdev)
		return;
	if (!fdb_set_port_group(h->fdb, p->port_no, hub_fdb_group(p->netdev))) {
		log_warn("port %s: out of memory; its netdev's MAC limit "
			 "does not cover it",
			 p->name);
		return;
	}
	if (p->netdev->mac_limit_set)
		fdb_set_group_limit(h->fdb, hub_fdb_group(p->netdev),
				    p->netdev->mac_limit);
}

bool hub_set_port_mac_limit(struct port *p, uint32_t limit,
			    struct nh_error **errp)
{
	if (!p->hub) {
		nh_error_setg(errp, "port %s is on no hub", p->name);
		return false;
	}
	if (!fdb_set_port_limit(p->hub->fdb, p->port_no, limit)) {
		nh_error_setg(errp, "port %s: out of memory", p->name);
		return false;
	}
	return true;
}

void hub_set_netdev_mac_limit(struct netdev *nd, uint32_t limit)
{
	struct hub *h = hub_find(nd->hubid);

	nd->mac_limit_set = limit != FDB_LIMIT_DEFAULT;
	nd->mac_limit = limit;
	/* no port on the hub yet: hub_fdb_group_join() applies it later */
	if (h)
		fdb_set_group_limit(h->fdb, hub_fdb_group(nd), limit);
}

bool hub_fdb_add(struct port *p, const uint8_t mac[6], uint16_t vlan,
		 struct nh_error **errp)
{
	struct fdb_entry_info e;
	char text[18];

	if (!p->hub) {
		nh_error_setg(errp, "port %s is on no hub", p->name);
		return false;
	}
	if (fdb_add_static(p->hub->fdb, mac, vlan, p->port_no))
		return true;
	if (fdb_get(p->hub->fdb, mac, vlan, clock_now_ms(), &e) &&
	    e.is_static) {
		const struct port *owner = hub_port(p->hub, e.port_no);

		nh_error_setg(errp, "MAC %s (VLAN %u) is pinned to port %s",
			      mac_format(mac, text), (unsigned)vlan,
			      owner ? owner->name : "?");
	} else {
		nh_error_setg(errp, "hub %d: out of memory", (int)p->hub->id);
	}
	return false;
}

bool hub_fdb_del(struct hub *h, const struct port *p, const uint8_t mac[6],
		 uint16_t vlan, struct nh_error **errp)
{
	const struct netdev_front *front;
	const struct port *owner;
	struct fdb_entry_info e;
	char text[18];

	if (!fdb_get(h->fdb, mac, vlan, clock_now_ms(), &e) ||
	    (p && e.port_no != p->port_no)) {
		mac_format(mac, text);
		if (p)
			nh_error_setg(errp, "MAC %s (VLAN %u) is not on port %s",
				      text, (unsigned)vlan, p->name);
		else
			nh_error_setg(errp, "MAC %s (VLAN %u) is not on hub %d",
				      text, (unsigned)vlan, (int)h->id);
		return false;
	}
	owner = hub_port(h, e.port_no);
	front = owner && owner->netdev ? owner->netdev->front : NULL;
	if (e.is_static && front && front->mac && owner->netdev->peer &&
	    !memcmp(front->mac, mac, 6)) {
		nh_error_setg(errp, "MAC %s is NIC %s's own address",
			      mac_format(mac, text), owner->netdev->peer->id);
		return false;
	}
	return fdb_remove(h->fdb, mac, vlan);
}

static struct hub *hub_get(int32_t id)
{
	struct hub *h = hub_find(id);

	return h ? h : hub_create(id);
}

/* Remove @h if nothing needs it any more */
static void hub_maybe_remove(struct hub *h)
{
	if (h->nports || h->holders)
		return;
	for (struct hub **pp = &hubs; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	}
	log_debug("hub %d: removed", h->id);
	fdb_free(h->fdb);
	free(h->ports);
	free(h);
}

struct hub *hub_hold(int32_t id)
{
	struct hub *h = hub_get(id);

	h->holders++;
	return h;
}

void hub_release(struct hub *h)
{
	if (h->holders)
		h->holders--;
	hub_maybe_remove(h);
}

void hub_attach(int32_t id, struct port *p)
{
	struct hub *h = hub_get(id);
	uint32_t no;

	/* Lowest free number: keeps the table dense for the FDB's counters */
	for (no = 0; no < h->nports_cap && h->ports[no]; no++)
		;
	if (no == h->nports_cap) {
		uint32_t cap = h->nports_cap ? h->nports_cap * 2 : 8;
		struct port **ports = realloc(h->ports, cap * sizeof(*ports));

		if (!ports)
			abort();
		memset(ports + h->nports_cap, 0,
		       (cap - h->nports_cap) * sizeof(*ports));
		h->ports = ports;
		h->nports_cap = cap;
	}
	h->ports[no] = p;
	h->nports++;
	p->port_no = no;
	p->hub = h;
	hub_fdb_group_join(h, p);
}

void hub_detach(struct port *p)
{
	struct hub *h = p->hub;

	if (!h)
		return;
	/* its entries, static too, its own limit and its group */
	fdb_forget_port(h->fdb, p->port_no);
	/* A port detached mid-burst may still have a batch: drop it, counted */
	if (p->txq_len) {
		p->stats.tx_drops[PORT_DROP_LINK_DOWN] += p->txq_len;
		frame_unref_many(p->txq, p->txq_len);
		p->txq_len = 0;
	}
	h->ports[p->port_no] = NULL;
	h->nports--;
	p->hub = NULL;
	hub_maybe_remove(h);
}

struct port *hub_port(const struct hub *h, uint32_t port_no)
{
	return port_no < h->nports_cap ? h->ports[port_no] : NULL;
}

void hub_fdb_unpin(struct port *p, const uint8_t mac[6], uint16_t vlan)
{
	if (p->hub && fdb_lookup(p->hub->fdb, mac, vlan, clock_now_ms()) ==
			  p->port_no)
		fdb_remove(p->hub->fdb, mac, vlan);
}

unsigned hub_flush_port(struct port *p)
{
	return p->hub ? fdb_flush_port(p->hub->fdb, p->port_no, false) : 0;
}

unsigned hub_flush_fdb(struct hub *h)
{
	return fdb_flush(h->fdb);
}

unsigned hub_flush_all(void)
{
	unsigned n = 0;

	for (struct hub *h = hubs; h; h = h->next)
		n += fdb_flush(h->fdb);
	return n;
}

/* What hub_fdb_json()'s and hub_info()'s walks over the table carry */
struct hub_fdb_walk {
	const struct hub *hub;
	uint64_t now_ms;
	json_t *entries; /* NULL: only count */
	uint64_t count;
};

static void hub_fdb_entry(const struct fdb_entry_info *e, void *ctx)
{
	struct hub_fdb_walk *w = ctx;
	const struct port *p;
	uint64_t idle_s = 0;
	char mac[18];
	json_t *o;

	w->count++;
	if (!w->entries)
		return;
	p = hub_port(w->hub, e->port_no);
	if (!e->is_static && w->now_ms > e->last_seen_ms)
		idle_s = (w->now_ms - e->last_seen_ms) / 1000;
	o = json_pack("{ss sI ss sI sb}", "mac", mac_format(e->mac, mac),
		      "vlan", (json_int_t)e->vlan, "port", p ? p->name : "?",
		      "age", (json_int_t)idle_s, "static", e->is_static);
	json_array_append_new(w->entries, o);
}

json_t *hub_fdb_json(const struct hub *h, uint64_t now_ms)
{
	struct hub_fdb_walk w = { h, now_ms, json_array(), 0 };

	fdb_foreach(h->fdb, now_ms, hub_fdb_entry, &w);
	return w.entries;
}

json_t *hub_info(const struct hub *h, uint64_t now_ms)
{
	struct hub_fdb_walk w = { h, now_ms, NULL, 0 };
	json_t *ports = json_array();
	struct fdb_stats fs;

	for (uint32_t i = 0; i < h->nports_cap; i++)
		if (h->ports[i])
			json_array_append_new(ports,
					      json_string(h->ports[i]->name));
	fdb_foreach(h->fdb, now_ms, hub_fdb_entry, &w);
	fdb_get_stats(h->fdb, &fs);
	return json_pack(
		"{si so sI sI s{sI sI sI sI sI sI sI sI}}", "id", (int)h->id,
		"ports", ports, "fdb-entries", (json_int_t)w.count, "floods",
		(json_int_t)h->floods, "fdb-stats", "learned",
		(json_int_t)fs.learned, "moved", (json_int_t)fs.moved,
		"expired", (json_int_t)fs.expired, "flushed",
		(json_int_t)fs.flushed, "full-drops", (json_int_t)fs.full_drops,
		"port-full-drops", (json_int_t)fs.port_full_drops,
		"netdev-full-drops", (json_int_t)fs.group_full_drops,
		"evicted", (json_int_t)fs.evicted);
}

void hub_expire_all(uint64_t now_ms)
{
	for (struct hub *h = hubs; h; h = h->next)
		fdb_expire(h->fdb, now_ms);
}

/* Add @f (a reference the caller gives) to @out's batch */
static inline void hub_enqueue(struct port *out, struct frame *f,
			       struct port **pending)
{
	out->txq[out->txq_len++] = f;
	if (!out->txq_listed) {
		out->txq_listed = true;
		out->txq_next = *pending;
		*pending = out;
	}
}

/* The largest frame @out accepts: its MTU plus Ethernet and VLAN headers;
 * a GSO frame is measured by the largest segment it stands for */
static inline bool hub_fits_mtu(const struct port *out, const struct frame *f)
{
	uint32_t max = out->mtu + FRAME_ETH_HLEN;
	uint32_t len = f->vnet.gso_type == FRAME_GSO_NONE ? f->len
							  : gso_wire_len(f);

	if (frame_is_tagged(f))
		max += FRAME_VLAN_HLEN;
	return len <= max;
}

/* Give @out's backend @k frames; what it does not take is counted */
static void hub_send(struct port *out, struct frame **batch, unsigned k)
{
	const struct hub_tap *tap = hub_tap;
	uint64_t bytes = 0;
	unsigned sent;

	/* A backend may free what it takes within send(): a capture keeps
	 * the batch alive until it has seen which frames were taken */
	if (__builtin_expect(tap != NULL, 0))
		for (unsigned i = 0; i < k; i++)
			frame_ref(batch[i]);
	sent = out->netdev->ops->send(out, batch, k);
	if (sent > k)
		sent = k;
	for (unsigned i = 0; i < sent; i++)
		bytes += batch[i]->len;
	out->stats.tx_frames += sent;
	out->stats.tx_bytes += bytes;
	if (__builtin_expect(tap != NULL, 0))
		tap->port_tx(out, batch, sent); /* what the netdev is sent */
	if (sent < k) {
		out->stats.tx_drops[PORT_DROP_QUEUE_FULL] += k - sent;
		frame_unref_many(batch + sent, k - sent);
	}
	if (__builtin_expect(tap != NULL, 0))
		frame_unref_many(batch, k);
}

/* Append @f to @out's send batch, sending the batch first when it is full */
static void hub_batch_add(struct port *out, struct frame **batch, unsigned *k,
			  struct frame *f)
{
	if (*k == FRAME_BURST_MAX) {
		hub_send(out, batch, *k);
		*k = 0;
	}
	batch[(*k)++] = f;
}

/* Hand one egress port its batch; everything not sent is counted.  A port
 * gets an offloaded frame whole only when it takes every kind of offload
 * the frame needs (out->gso_caps, gso_takes()); else it gets it segmented
 * and checksummed: one offer then becomes several frames on the medium,
 * counted in tx_gso_frames and tx_gso_segments.  No send() can take the port away
 * meanwhile (backend.h), so the loop needs no re-entrancy guard. */
static void hub_egress(struct port *out)
{
	struct frame *batch[FRAME_BURST_MAX];
	const struct netdev_front *front = out->netdev->front;
	const struct rxfilter *filter = front ? front->filter : NULL;
	unsigned n = out->txq_len, k = 0;

	out->txq_len = 0;
	out->txq_listed = false;
	if (!port_is_up(out)) {
		out->stats.tx_drops[PORT_DROP_LINK_DOWN] += n;
		frame_unref_many(out->txq, n);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		struct frame *f = out->txq[i], *segs[GSO_SEGS_MAX];
		bool gso = f->vnet.gso_type != FRAME_GSO_NONE;
		int ns;

		/* A port with a NIC in front gets what its filter takes */
		if (filter && !rxfilter_accept(filter, f->data, f->len)) {
			out->stats.tx_drops[PORT_DROP_FILTERED]++;
			frame_unref(f);
			continue;
		}
		if (!hub_fits_mtu(out, f)) {
			out->stats.tx_drops[PORT_DROP_OVERSIZE]++;
			frame_unref(f);
			continue;
		}
		if (!gso_offloaded(f) || gso_takes(out->gso_caps, f)) {
			hub_batch_add(out, batch, &k, f);
			continue;
		}
		ns = gso_resolve(f, segs, GSO_SEGS_MAX);
		if (ns < 0) {
			out->stats.tx_drops[ns == -ENOBUFS ? PORT_DROP_NO_BUFFER
							   : PORT_DROP_MALFORMED]++;
			continue;
		}
		if (gso) { /* segmented, not only checksummed */
			out->stats.tx_gso_frames++;
			out->stats.tx_gso_segments += (unsigned)ns;
		}
		for (int j = 0; j < ns; j++)
			hub_batch_add(out, batch, &k, segs[j]);
	}
	if (k)
		hub_send(out, batch, k);
}

/* hub_frame_short() - whether @f is too short for its Ethernet header */
static bool hub_frame_short(const struct frame *f)
{
	return f->len < FRAME_ETH_HLEN ||
	       (frame_is_tagged(f) &&
		f->len < FRAME_ETH_HLEN + FRAME_VLAN_HLEN);
}

/* (VLAN, MAC) as one comparable word; never 0.  The MAC is read as a
 * 4-byte and a 2-byte load: copied into the word's memory, its 6 bytes
 * would be read back in one 8-byte load, which no store forwards to (a
 * stall each time, a tenth of what the hub spent per frame) */
static inline uint64_t hub_mac_key(const uint8_t *mac, uint16_t vlan)
{
	uint32_t lo;
	uint16_t hi;

	memcpy(&lo, mac, 4);
	memcpy(&hi, mac + 4, 2);
	return lo | (uint64_t)hi << 32 | (uint64_t)vlan << 48 | 1ull << 63;
}

/* hub_burst_addresses() - the addresses of @n frames, as the FDB's burst
 * calls take them
 * @srcs:	the source to learn of each frame; NULL where there is none (a
 *		short frame, a multicast or zero source) or where it is the
 *		previous frame's (a burst is mostly one flow: learning it again
 *		at the same clock reading changes nothing)
 * @dsts:	the destination of each frame; NULL where there is none (a
 *		short frame, a multicast destination)
 * @looks:	the destinations to look up: @dsts, but NULL where it is the
 *		previous frame's (whose answer it takes: the table does not
 *		change between the lookups of a burst)
 */
static void hub_burst_addresses(struct frame **frames, unsigned n,
				const uint8_t **srcs, const uint8_t **dsts,
				const uint8_t **looks, uint16_t *vlans)
{
	uint64_t last_src = 0, last_dst = 0;

	for (unsigned i = 0; i < n; i++) {
		const struct frame *f = frames[i];
		uint64_t k;

		srcs[i] = dsts[i] = looks[i] = NULL;
		vlans[i] = 0;
		if (hub_frame_short(f)) {
			last_dst = 0;
			continue;
		}
		vlans[i] = frame_vlan(f);
		srcs[i] = frame_src(f);
		if (mac_is_multicast(srcs[i]) || mac_is_zero(srcs[i])) {
			srcs[i] = NULL;
		} else {
			k = hub_mac_key(srcs[i], vlans[i]);
			if (k == last_src)
				srcs[i] = NULL;
			last_src = k;
		}
		dsts[i] = frame_dst(f);
		if (mac_is_multicast(dsts[i])) {
			dsts[i] = NULL;
			last_dst = 0;
			continue;
		}
		k = hub_mac_key(dsts[i], vlans[i]);
		looks[i] = k == last_dst ? NULL : dsts[i];
		last_dst = k;
	}
}

/* Forward at most FRAME_BURST_MAX frames: every egress batch then fits.
 * The burst's sources are learned, then its destinations looked up, in
 * one FDB call (which overlaps the table's memory accesses); so a frame
 * to an address that a later frame of the same burst comes from is
 * already known to be on the ingress port.
 * Return: known-unicast frames went to a blocked, not stalled port. */
static bool hub_input_burst(struct hub *h, struct port *in,
			    struct frame **frames, unsigned n)
{
	const uint8_t *srcs[FRAME_BURST_MAX], *dsts[FRAME_BURST_MAX];
	const uint8_t *looks[FRAME_BURST_MAX];
	uint16_t vlans[FRAME_BURST_MAX];
	uint32_t dst_ports[FRAME_BURST_MAX];
	uint64_t now = clock_now_ms();
	struct port *pending = NULL;
	bool pause = false;

	hub_burst_addresses(frames, n, srcs, dsts, looks, vlans);
	fdb_forward_burst(h->fdb, srcs, looks, vlans, n, in->port_no, now,
			  dst_ports);
	for (unsigned i = 1; i < n; i++)
		if (dsts[i] && !looks[i])
			dst_ports[i] = dst_ports[i - 1];

	for (unsigned i = 0; i < n; i++) {
		struct frame *f = frames[i];
		unsigned fanout = 0;

		if (hub_frame_short(f)) {
			in->stats.rx_drops[PORT_DROP_MALFORMED]++;
			frame_unref(f);
			continue;
		}
		if (dsts[i]) {
			struct port *out = hub_port(h, dst_ports[i]);

			if (out == in) {
				in->stats.rx_drops[PORT_DROP_NO_DEST]++;
				frame_unref(f);
				continue;
			}
			if (out) {
				in->stats.rx_forwarded++;
				out->txq_unicast = true;
				hub_enqueue(out, f, &pending);
				continue;
			}
		}

		/* Flood: one reference per egress port, ours dropped after */
		for (uint32_t no = 0; no < h->nports_cap; no++) {
			struct port *out = h->ports[no];

			if (!out || out == in)
				continue;
			frame_ref(f);
			hub_enqueue(out, f, &pending);
			fanout++;
		}
		if (fanout) {
			in->stats.rx_forwarded++;
			h->floods++;
		} else {
			in->stats.rx_drops[PORT_DROP_NO_DEST]++;
		}
		frame_unref(f);
	}

	while (pending) {
		struct port *out = pending;
		bool unicast = out->txq_unicast;

		pending = out->txq_next;
		out->txq_next = NULL;
		out->txq_unicast = false;
		hub_egress(out);
		/* A point-to-point flow into a full queue: slow its sender */
		if (unicast && out->tx_blocked && !out->tx_stalled)
			pause = true;
	}
	return pause;
}

bool hub_input(struct hub *h, struct port *in, struct frame **frames,
	       unsigned n)
{
	bool pause = false;

	if (__builtin_expect(hub_tap != NULL, 0))
		hub_tap->hub_in(h, frames, n);
	while (n) {
		unsigned k = n < FRAME_BURST_MAX ? n : FRAME_BURST_MAX;

		pause |= hub_input_burst(h, in, frames, k);
		frames += k;
		n -= k;
	}
	return pause;
}
