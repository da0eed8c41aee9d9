// SPDX-License-Identifier: MIT
/* guest_nic.c - guest NICs: MAC pinning, receive filter, snooping,
 * announcements
 *
 * Owns the list of NICs and each NIC's filter and snooped addresses.  The
 * datapath calls in through the backend's front at two points (the filter
 * on delivery, nic_ingress() on input); the control plane through the rest.  Must never: allocate or
 * log on the per-frame path, talk to the QMP layer other than through the
 * change callback, or look inside its backend's state.
 */

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "announce.h"
#include "clock.h"
#include "fdb.h"
#include "hub.h"
#include "log.h"
#include "netdev.h"
#include "guest_nic.h"
#include "opts.h"
#include "port.h"

static struct nic *nics;
static void (*nic_change_cb)(struct nic *nic);

bool nic_parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		int hi = opts_hex_digit(*s), lo;

		if (hi < 0)
			return false;
		s++;
		lo = opts_hex_digit(*s);
		if (lo >= 0) {
			mac[i] = (uint8_t)(hi << 4 | lo);
			s++;
		} else {
			mac[i] = (uint8_t)hi;
		}
		if (i < 5) {
			if (*s != ':' && *s != '-')
				return false;
			s++;
		}
	}
	return *s == '\0';
}

void nic_default_mac(const char *id, uint8_t mac[6])
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * 16777619u;
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

struct nic *nic_first(void)
{
	return nics;
}

const char *nic_name(const struct nic *nic)
{
	return nic->nd->id;
}

struct nic *nic_from_netdev(const struct netdev *nd)
{
	if (!nd || strcmp(netdev_type(nd), "nic"))
		return NULL;
	return nd->priv;
}

#define nic_of_front(fr) ((struct nic *)((char *)(fr) - offsetof(struct nic, front)))

/* Pin the MAC on @p if it is attached and nothing static holds it */
static void nic_pin(struct nic *nic, struct port *p)
{
	if (p->hub && !hub_fdb_add(p, nic->mac, 0, NULL))
		log_debug("nic %s: MAC already pinned elsewhere on hub %d",
			  nic_name(nic), p->hub->id);
}

/* The front's hooks (netdev.h): what the core tells the NIC */
static void nic_front_attached(struct netdev_front *fr, struct port *p)
{
	nic_pin(nic_of_front(fr), p);
}

static void nic_front_ingress(struct netdev_front *fr,
			      struct frame *const *frames, unsigned n)
{
	nic_ingress(nic_of_front(fr), frames, n);
}

static void nic_release_backend(struct nic *nic);

static void nic_front_gone(struct netdev_front *fr)
{
	struct nic *nic = nic_of_front(fr);

	log_info("nic %s: its netdev %s was deleted", nic_name(nic),
		 nic->backend->id);
	nic_release_backend(nic);
}

struct nic *nic_new(struct netdev *nd, struct netdev *backend,
		    const uint8_t mac[6])
{
	struct nic *nic = calloc(1, sizeof(*nic)), **tail;

	if (!nic)
		return NULL;
	nic->nd = nd;
	nic->backend = backend;
	memcpy(nic->mac, mac, 6);
	snprintf(nic->path, sizeof(nic->path), "/nethub/nic/%s", nd->id);
	nic->event_armed = true;
	rxfilter_init(&nic->filter, mac);
	addrsnoop_init(&nic->addrs);
	for (tail = &nics; *tail; tail = &(*tail)->next)
		;
	*tail = nic;
	nic->front = (struct netdev_front){
		.mac = nic->mac,
		.filter = &nic->filter,
		.ingress = nic_front_ingress,
		.attached = nic_front_attached,
		.gone = nic_front_gone,
	};
	nd->priv = nic;
	nd->hubid = backend->hubid;
	nd->peer = backend;
	backend->peer = nd;
	backend->front = &nic->front;
	for (struct port *p = backend->ports; p; p = p->netdev_next)
		nic_pin(nic, p);
	return nic;
}

static void nic_release_backend(struct nic *nic)
{
	struct netdev *be = nic->backend;

	if (!be)
		return;
	for (struct port *p = be->ports; p; p = p->netdev_next)
		hub_fdb_unpin(p, nic->mac, 0);
	be->front = NULL;
	be->peer = NULL;
	nic->nd->peer = NULL;
	nic->backend = NULL;
}

struct nic *nic_of_backend(const struct netdev *backend)
{
	return backend->front ? nic_of_front(backend->front) : NULL;
}

void nic_free(struct nic *nic)
{
	if (!nic)
		return;
	nic_release_backend(nic);
	for (struct nic **pp = &nics; *pp; pp = &(*pp)->next) {
		if (*pp == nic) {
			*pp = nic->next;
			break;
		}
	}
	if (nic->nd->priv == nic)
		nic->nd->priv = NULL;
	free(nic);
}

void nic_set_change_cb(void (*cb)(struct nic *nic))
{
	nic_change_cb = cb;
}

/* The filter changed: tell the listener once until it is read again */
static void nic_changed(struct nic *nic)
{
	if (!nic->event_armed)
		return;
	nic->event_armed = false;
	if (nic_change_cb)
		nic_change_cb(nic);
}

void nic_ingress(struct nic *nic, struct frame *const *frames, unsigned n)
{
	uint64_t now = clock_now_ms();

	for (unsigned i = 0; i < n; i++) {
		const struct frame *f = frames[i];
		bool changed = false;

		if (rxfilter_snoop(&nic->filter, f->data, f->len, now,
				   &changed) &&
		    changed)
			nic_changed(nic);
		addrsnoop_frame(&nic->addrs, nic->mac, f->data, f->len, now);
	}
}

json_t *nic_query_rx_filter(struct nic *nic)
{
	json_t *info = rxfilter_info(&nic->filter, nic_name(nic));

	if (info)
		nic->event_armed = true;
	return info;
}

bool nic_set_rx_filter(struct nic *nic, const json_t *args,
		       struct nh_error **errp)
{
	bool changed = false;

	if (!rxfilter_apply(&nic->filter, args, &changed, errp))
		return false;
	if (changed)
		nic_changed(nic);
	return true;
}

void nic_expire_all(uint64_t now_ms)
{
	for (struct nic *nic = nics; nic; nic = nic->next) {
		bool changed = false;

		rxfilter_expire(&nic->filter, now_ms, &changed);
		if (changed)
			nic_changed(nic);
		addrsnoop_expire(&nic->addrs, now_ms);
	}
}

/* The frames of one announce round, gathered before they are sent */
struct nic_round {
	const struct nic *nic;
	struct port *port;
	struct frame *frames[1 + ADDRSNOOP_MAX_V4 + ADDRSNOOP_MAX_V6];
	unsigned n;
};

static void nic_round_add(struct nic_round *r, uint8_t *buf, size_t len,
			  uint16_t vlan)
{
	struct frame *f;

	if (vlan) {
		size_t tagged = announce_tag_vlan(buf, len, ANNOUNCE_FRAME_MAX,
						  vlan);

		if (tagged)
			len = tagged;
	}
	f = frame_alloc_copy(buf, len);
	if (!f) {
		port_count_rx_drop(r->port, PORT_DROP_NO_BUFFER, 1, len);
		return;
	}
	r->frames[r->n++] = f;
}

static void nic_round_v4(const struct addrsnoop_entry *e, void *ctx)
{
	struct nic_round *r = ctx;
	uint8_t buf[ANNOUNCE_FRAME_MAX];

	nic_round_add(r, buf, announce_garp(buf, r->nic->mac, e->addr),
		      e->vlan);
}

static void nic_round_v6(const struct addrsnoop_entry *e, void *ctx)
{
	struct nic_round *r = ctx;
	uint8_t buf[ANNOUNCE_FRAME_MAX];

	nic_round_add(r, buf, announce_na(buf, r->nic->mac, e->addr), e->vlan);
}

unsigned nic_announce(struct nic *nic)
{
	struct nic_round r = { .nic = nic };
	uint8_t buf[ANNOUNCE_FRAME_MAX];
	uint64_t now = clock_now_ms();

	r.port = nic->backend ? nic->backend->ports : NULL;
	if (!r.port)
		return 0;
	nic_round_add(&r, buf, announce_rarp(buf, nic->mac), 0);
	addrsnoop_foreach_v4(&nic->addrs, now, nic_round_v4, &r);
	addrsnoop_foreach_v6(&nic->addrs, now, nic_round_v6, &r);
	if (r.n)
		port_input(r.port, r.frames, r.n);
	return r.n;
}

json_t *nic_addresses(const struct nic *nic)
{
	return addrsnoop_info(&nic->addrs, clock_now_ms());
}

void nic_info(const struct nic *nic, json_t *obj)
{
	static const char *const kept[] = { "model", "addr" };
	int64_t vectors;
	char mac[18];

	json_object_set_new(obj, "mac", json_string(mac_format(nic->mac, mac)));
	if (nic->backend)
		json_object_set_new(obj, "netdev",
				    json_string(nic->backend->id));
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		json_t *v = json_object_get(nic->nd->opts, kept[i]);

		if (v)
			json_object_set_new(obj, kept[i], json_deep_copy(v));
	}
	/* vectors as a number, whether given as one or as text */
	if (opts_has(nic->nd->opts, "vectors") &&
	    opts_get_int(nic->nd->opts, "vectors", 0, UINT32_MAX, &vectors,
			 NULL))
		json_object_set_new(obj, "vectors", json_integer(vectors));
	json_object_set_new(obj, "path", json_string(nic->path));
	json_object_set_new(obj, "addresses", nic_addresses(nic));
}
