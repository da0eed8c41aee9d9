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
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "clock.h"
#include "fdb.h"
#include "hub.h"
#include "log.h"
#include "netdev.h"
#include "port.h"

static struct hub *hubs;
static struct hub_config hub_cfg = {
	.fdb_age_ms = FDB_AGE_DEFAULT_S * 1000ull,
	.fdb_max = FDB_MAX_DEFAULT,
	.fdb_port_max = FDB_PORT_MAX_DEFAULT,
};

void hub_configure(const struct hub_config *cfg)
{
	hub_cfg = *cfg;
	for (struct hub *h = hubs; h; h = h->next) {
		fdb_set_age(h->fdb, cfg->fdb_age_ms);
		fdb_set_limits(h->fdb, cfg->fdb_max, cfg->fdb_port_max);
	}
}

void hub_get_config(struct hub_config *cfg)
{
	*cfg = hub_cfg;
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
	for (tail = &hubs; *tail; tail = &(*tail)->next)
		;
	*tail = h;
	log_debug("hub %d: created", id);
	return h;
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
}

void hub_detach(struct port *p)
{
	struct hub *h = p->hub;

	if (!h)
		return;
	fdb_flush_port(h->fdb, p->port_no, true);
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

void hub_flush_port(struct port *p)
{
	if (p->hub)
		fdb_flush_port(p->hub->fdb, p->port_no, false);
}

unsigned hub_flush_fdb(struct hub *h)
{
	return fdb_flush(h->fdb);
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

/* The largest frame @out accepts: its MTU plus Ethernet and VLAN headers */
static inline bool hub_fits_mtu(const struct port *out, const struct frame *f)
{
	uint32_t hdr = FRAME_ETH_HLEN;

	if (f->len <= out->mtu + hdr)
		return true;
	if (frame_ethertype(f) == 0x8100 &&
	    f->len <= out->mtu + hdr + FRAME_VLAN_HLEN)
		return true;
	/* A GSO frame is segmented to fit by whoever takes it whole */
	return f->vnet.gso_type != FRAME_GSO_NONE && out->gso;
}

/* Hand one egress port its batch; everything not sent is counted */
static void hub_flush_egress(struct hub *h, struct port *out)
{
	struct frame *batch[FRAME_BURST_MAX];
	unsigned n = out->txq_len, k = 0, sent;
	uint64_t bytes = 0;

	out->txq_len = 0;
	out->txq_listed = false;
	if (out->hub != h || !out->netdev) {
		/* detached while we were sorting: hub_detach() counted it */
		return;
	}
	if (!port_is_up(out)) {
		out->stats.tx_drops[PORT_DROP_LINK_DOWN] += n;
		frame_unref_many(out->txq, n);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		struct frame *f = out->txq[i];

		if (hub_fits_mtu(out, f)) {
			batch[k++] = f;
		} else {
			out->stats.tx_drops[PORT_DROP_OVERSIZE]++;
			frame_unref(f);
		}
	}
	if (!k)
		return;
	sent = out->netdev->ops->send(out, batch, k);
	if (sent > k)
		sent = k;
	for (unsigned i = 0; i < sent; i++)
		bytes += batch[i]->len;
	out->stats.tx_frames += sent;
	out->stats.tx_bytes += bytes;
	port_tx_check(out);
	if (sent < k) {
		out->stats.tx_drops[PORT_DROP_QUEUE_FULL] += k - sent;
		frame_unref_many(batch + sent, k - sent);
	}
}

/* Forward at most FRAME_BURST_MAX frames: every egress batch then fits */
static void hub_input_burst(struct hub *h, struct port *in,
			    struct frame **frames, unsigned n)
{
	uint64_t now = clock_now_ms();
	struct port *pending = NULL;

	for (unsigned i = 0; i < n; i++) {
		struct frame *f = frames[i];
		const uint8_t *src, *dst;
		unsigned fanout = 0;
		uint16_t vlan;

		if (f->len < FRAME_ETH_HLEN ||
		    (frame_ethertype(f) == 0x8100 &&
		     f->len < FRAME_ETH_HLEN + FRAME_VLAN_HLEN)) {
			in->stats.rx_drops[PORT_DROP_MALFORMED]++;
			frame_unref(f);
			continue;
		}
		src = frame_src(f);
		dst = frame_dst(f);
		vlan = frame_vlan(f);
		if (!mac_is_multicast(src) && !mac_is_zero(src))
			fdb_learn(h->fdb, src, vlan, in->port_no, now);

		if (!mac_is_multicast(dst)) {
			uint32_t no = fdb_lookup(h->fdb, dst, vlan, now);
			struct port *out = hub_port(h, no);

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
		hub_flush_egress(h, out);
		/* A point-to-point flow into a full queue: slow its sender */
		if (unicast && out->tx_blocked && in->hub == h)
			port_rx_pause(in);
	}
}

void hub_input(struct hub *h, struct port *in, struct frame **frames,
	       unsigned n)
{
	/* A send() may end a connection and with it ports, even the last one
	 * of this hub: hold the hub until the whole input is forwarded */
	h->holders++;
	while (n) {
		unsigned k = n < FRAME_BURST_MAX ? n : FRAME_BURST_MAX;

		if (in->hub != h) {
			in->stats.rx_drops[PORT_DROP_NO_HUB] += n;
			frame_unref_many(frames, n);
			break;
		}
		hub_input_burst(h, in, frames, k);
		frames += k;
		n -= k;
	}
	hub_release(h);
}
