// SPDX-License-Identifier: MIT
/* vhost_user.c - QEMU's "vhost-user" netdev: nethub as the vhost-user
 * back-end of a guest's virtio-net device (or of DPDK's virtio-user)
 *
 * -netdev vhost-user,id=ID,chardev=CHR[,vhostforce=on|off][,queues=N]
 *         [,failover=on|off][,poll-us=N]
 *
 * The chardev (chardev.h) gives a unix stream connection to the
 * front-end; vhost_user_proto.c speaks the protocol on it, and
 * vhost_user_ring.c serves the rings it sets up (the datapath, and what
 * the protocol does to rings): queues=N queue pairs (1 to VU_QUEUES_MAX),
 * ring 2q the guest's receive queue q (switch → guest), ring 2q + 1 its
 * transmit queue q (guest → switch).  A front-end may use fewer pairs
 * than N: QEMU enables only those its guest turned on (ethtool -L).
 * Each connection is one port named like the netdev; when the front-end
 * goes, the port is detached, guest memory unmapped and every descriptor
 * closed, and the chardev waits for the next front-end (server) or
 * reconnects (client), which gets a fresh port.
 *
 * failover=on (nethub) offers VIRTIO_NET_F_STANDBY; a front-end that
 * accepts it is told to the port's observers (FAILOVER_NEGOTIATED), once
 * per negotiation.  Without it the bit is not offered, and refused.
 *
 * Owns: the connection's socket and kick watches (allocated per watch),
 * the call and err eventfds, the guest memory mappings, an idle handle.
 * The state outlives close() until the last handle's close callback ran.
 *
 * Never: touch guest memory (that is virtq.c's, through the rings).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "backend.h"
#include "chardev.h"
#include "frame.h"
#include "log.h"
#include "netdev.h"
#include "opts.h"
#include "port.h"
#include "vhost_user.h"

static const char *const vu_keys[] = {"id",	    "type",   "chardev",
				      "vhostforce", "queues", "failover",
				      "poll-us",    NULL};

/* -- references ----------------------------------------------------------- */

static void vu_unref(struct vu_state *s)
{
	if (--s->refs)
		return;
	free(s->ring);
	free(s);
}

static void vu_on_watch_closed(uv_handle_t *h)
{
	struct vu_watch *w = h->data;
	struct vu_state *s = w->s;

	close(w->fd);
	free(w);
	vu_unref(s);
}

struct vu_watch *vu_watch_new(struct vu_state *s, int fd, uv_poll_cb cb,
			      unsigned ring)
{
	struct vu_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	if (uv_poll_init(s->loop, &w->poll, fd)) {
		free(w);
		return NULL;
	}
	w->poll.data = w;
	w->s = s;
	w->fd = fd;
	w->ring = ring;
	s->refs++;
	uv_poll_start(&w->poll, UV_READABLE, cb);
	return w;
}

void vu_watch_close(struct vu_watch *w)
{
	if (!w)
		return;
	uv_poll_stop(&w->poll);
	uv_close((uv_handle_t *)&w->poll, vu_on_watch_closed);
}

/* -- the connection ----------------------------------------------------- */

static void vu_on_sock(uv_poll_t *h, int status, int events)
{
	struct vu_watch *w = h->data;

	(void)events;
	if (status < 0) {
		vu_disconnect(w->s, "the connection failed");
		return;
	}
	vu_proto_on_readable(w->s);
}

static void vu_conn_reset(struct vu_state *s)
{
	for (unsigned i = 0; i < s->nrings; i++) {
		s->ring[i].call_fd = s->ring[i].err_fd = -1;
		vq_init(&s->ring[i].vq, &s->mem);
	}
	s->features = s->protocol_features = 0;
	s->features_set = false;
	s->rx_caps = s->tx_caps = 0;
	s->status = 0;
	s->mtu = 0;
	s->in_len = 0;
	s->in_nfds = 0;
	s->rx_blocked = false;
	s->tx_paused = false;
	s->tx_again = 0;
	s->unknown_logged = 0;
}

/* chardev callback: a front-end connected; @fd is ours */
static void vu_on_connected(void *ctx, int fd)
{
	struct vu_state *s = ctx;

	if (s->sock || !s->nd) {
		close(fd);
		if (s->cd)
			chardev_disconnected(s->cd);
		return;
	}
	vu_conn_reset(s);
	s->sock = vu_watch_new(s, fd, vu_on_sock, 0);
	if (!s->sock) {
		close(fd);
		chardev_disconnected(s->cd);
		return;
	}
	s->port = port_new(s->nd, NULL, s);
	if (!s->port) {
		vu_disconnect(s, "no memory for a port");
		return;
	}
	s->connections++;
	log_info("netdev %s: vhost-user front-end connected", s->id);
}

void vu_disconnect(struct vu_state *s, const char *why)
{
	if (!s->sock)
		return;
	log_info("netdev %s: vhost-user front-end gone: %s", s->id, why);
	for (unsigned i = 0; i < s->nrings; i++)
		vu_ring_reset(s, i);
	vu_watch_close(s->sock);
	s->sock = NULL;
	for (unsigned i = 0; i < s->in_nfds; i++)
		close(s->in_fds[i]);
	s->in_nfds = 0;
	if (s->port) {
		port_free(s->port);
		s->port = NULL;
	}
	vq_mem_clear(&s->mem);
	vu_log_close(s);
	if (s->idle_on) {
		uv_idle_stop(&s->idle);
		s->idle_on = false;
	}
	s->tx_again = 0;
	if (s->cd)
		chardev_disconnected(s->cd);
}

/* -- the netdev ---------------------------------------------------------- */

static bool vu_check(const json_t *opts, struct nh_error **errp)
{
	int64_t queues = 1, poll_us = 0;
	bool force = false, failover = false;

	if (!opts_check_keys(opts, vu_keys, errp) ||
	    !opts_get_int(opts, "queues", INT64_MIN, INT64_MAX, &queues,
			  errp) ||
	    !opts_get_bool(opts, "vhostforce", &force, errp) ||
	    !opts_get_bool(opts, "failover", &failover, errp) ||
	    !opts_get_int(opts, "poll-us", 0, VU_POLL_US_MAX, &poll_us, errp))
		return false;
	if (!opts_has(opts, "chardev")) {
		nh_error_setg(errp, "Parameter 'chardev' is missing");
		return false;
	}
	if (!opts_get_str(opts, "chardev", NULL, errp))
		return false;
	if (queues < 1 || queues > VU_QUEUES_MAX) {
		nh_error_setg(errp,
			      "queues=%lld: the number of queue pairs must be "
			      "1 to %d",
			      (long long)queues, VU_QUEUES_MAX);
		return false;
	}
	return true;
}

static void vu_on_idle_closed(uv_handle_t *h)
{
	vu_unref(h->data);
}

static bool vu_open(struct netdev *nd, const json_t *opts,
		    struct nh_error **errp)
{
	struct vu_state *s;
	struct chardev *cd;
	const char *name;
	int64_t poll_us = 0, queues = 1;
	bool failover = false;

	if (!vu_check(opts, errp))
		return false;
	opts_get_int(opts, "queues", 1, VU_QUEUES_MAX, &queues, NULL);
	opts_get_bool(opts, "failover", &failover, NULL);
	opts_get_int(opts, "poll-us", 0, VU_POLL_US_MAX, &poll_us, NULL);
	name = opts_get_str(opts, "chardev", NULL, NULL);
	cd = chardev_find(name);
	if (!cd) {
		nh_error_setg(errp, "chardev \"%s\" not found", name);
		return false;
	}
	s = calloc(1, sizeof(*s));
	if (s)
		s->ring = calloc(2 * (size_t)queues, sizeof(*s->ring));
	if (!s || !s->ring) {
		free(s);
		nh_error_setg(errp, "out of memory");
		return false;
	}
	s->queues = (unsigned)queues;
	s->nrings = 2 * s->queues;
	snprintf(s->id, sizeof(s->id), "%s", nd->id);
	s->nd = nd;
	s->loop = nd->loop;
	s->refs = 1;
	s->offered = VU_FEATURES;
	if (failover)
		s->offered |= VU_BIT(VU_F_NET_STANDBY);
	if (s->queues > 1)
		s->offered |= VU_BIT(VU_F_NET_MQ);
	s->offered |= VU_BIT(VU_F_LOG_ALL); /* live migration */
	s->log_fd = -1;
	s->poll_ns = (uint64_t)poll_us * 1000;
	for (unsigned i = 0; i < s->nrings; i++) {
		s->ring[i].call_fd = s->ring[i].err_fd = -1;
		vq_init(&s->ring[i].vq, &s->mem);
	}
	uv_idle_init(s->loop, &s->idle);
	s->idle.data = s;
	s->idle_init = true;
	s->refs++;
	nd->priv = s;
	s->cd = cd; /* a pending connection is handed over inside attach */
	if (!chardev_attach(cd, vu_on_connected, s, errp)) {
		s->cd = NULL;
		nd->priv = NULL;
		s->nd = NULL;
		uv_close((uv_handle_t *)&s->idle, vu_on_idle_closed);
		vu_unref(s);
		return false;
	}
	log_info("netdev %s: vhost-user on chardev %s (%s %s)", s->id,
		 chardev_id(cd),
		 chardev_is_server(cd) ? "listening at" : "connecting to",
		 chardev_path(cd));
	return true;
}

static void vu_close(struct netdev *nd)
{
	struct vu_state *s = nd->priv;
	struct chardev *cd = s->cd;

	vu_disconnect(s, "netdev removed");
	s->cd = NULL;
	if (cd)
		chardev_detach(cd);
	s->nd = NULL;
	nd->priv = NULL;
	uv_close((uv_handle_t *)&s->idle, vu_on_idle_closed);
	vu_unref(s);
}

/* vu_caps_json() - GSO_CAP_* kinds by name */
static json_t *vu_caps_json(unsigned caps)
{
	static const char *const names[] = {"csum", "tso4", "tso6",
					    "ecn",  "ufo",  "uso"};
	json_t *list = json_array();

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (caps & (1u << i))
			json_array_append_new(list, json_string(names[i]));
	return list;
}

static json_t *vu_features_json(uint64_t f)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)f);
	return json_string(buf);
}

static void vu_info(const struct netdev *nd, json_t *obj)
{
	const struct vu_state *s = nd->priv;
	json_t *rings = json_array();

	json_object_set_new(obj, "chardev",
			    json_string(s->cd ? chardev_id(s->cd) : ""));
	json_object_set_new(obj, "connected", json_boolean(s->sock != NULL));
	json_object_set_new(obj, "connections", json_integer(s->connections));
	json_object_set_new(obj, "queues", json_integer(s->queues));
	json_object_set_new(obj, "offered", vu_features_json(s->offered));
	json_object_set_new(obj, "features", vu_features_json(s->features));
	json_object_set_new(obj, "rx-offloads", vu_caps_json(s->rx_caps));
	json_object_set_new(obj, "tx-offloads", vu_caps_json(s->tx_caps));
	json_object_set_new(
	    obj, "failover",
	    json_boolean(s->offered & VU_BIT(VU_F_NET_STANDBY)));
	json_object_set_new(obj, "failovers", json_integer(s->failovers));
	json_object_set_new(obj, "poll-us",
			    json_integer((json_int_t)(s->poll_ns / 1000)));
	json_object_set_new(obj, "polls", json_integer(s->polls));
	json_object_set_new(obj, "poll-hits", json_integer(s->poll_hits));
	json_object_set_new(obj, "protocol-features",
			    vu_features_json(s->protocol_features));
	json_object_set_new(obj, "status", json_integer(s->status));
	json_object_set_new(obj, "memory-regions", json_integer(s->mem.n));
	json_object_set_new(obj, "memory-sealed",
			    json_integer(vq_mem_sealed(&s->mem)));
	json_object_set_new(obj, "memory-bytes",
			    json_integer(vq_mem_bytes(&s->mem)));
	json_object_set_new(
	    obj, "logging",
	    json_boolean(s->ring[VU_RX].vq.log || s->ring[VU_TX].vq.log));
	json_object_set_new(obj, "log-bytes", json_integer(s->log.bytes));
	json_object_set_new(obj, "log-pages", json_integer(s->log.pages));
	json_object_set_new(obj, "log-beyond", json_integer(s->log.beyond));
	json_object_set_new(obj, "messages", json_integer(s->messages));
	json_object_set_new(obj, "protocol-errors",
			    json_integer(s->protocol_errors));
	for (unsigned i = 0; i < s->nrings; i++) {
		const struct vu_ring *r = &s->ring[i];
		json_t *faults = json_object();
		json_t *ro;

		for (unsigned k = 0; k < VQ_FAULT__COUNT; k++)
			if (r->vq.faults[k])
				json_object_set_new(
				    faults, vq_fault_name((enum vq_fault)k),
				    json_integer(r->vq.faults[k]));
		ro = json_pack(
		    "{s:i,s:i,s:s,s:i,s:b,s:b,s:b,s:i,s:i,s:i,s:i,s:i,s:o}",
		    "index", (json_int_t)i, "queue", (json_int_t)(i / 2),
		    "direction", vu_ring_is_rx(i) ? "rx" : "tx", "size",
		    (json_int_t)r->vq.size, "started", r->started, "enabled",
		    r->enabled, "broken", r->vq.broken, "last-avail",
		    (json_int_t)r->vq.last_avail, "used",
		    (json_int_t)r->vq.published, "kicks", (json_int_t)r->kicks,
		    "calls", (json_int_t)r->calls, "frames",
		    (json_int_t)r->frames, "faults", faults);
		json_array_append_new(rings, ro);
	}
	json_object_set_new(obj, "rings", rings);
}

const struct backend_ops vhost_user_backend = {
    .type = "vhost-user",
    .check = vu_check,
    .open = vu_open,
    .close = vu_close,
    .send = vu_send,
    .rx_pause = vu_rx_pause,
    .info = vu_info,
};
