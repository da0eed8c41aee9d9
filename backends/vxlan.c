// SPDX-License-Identifier: MIT
/* vxlan.c - the "vxlan" netdev (nethub's extension): one VXLAN VTEP
 *
 * One port "ID".  Its frames go out as VXLAN (RFC 7348): known unicast
 * straight to the VTEP its inner destination MAC was learned from or
 * pinned to; broadcast, multicast and unknown unicast to every flood
 * destination (the remote= VTEPs and those added with vxlan-fdb-add and
 * the all-zero MAC, or the multicast group).  Datagrams received on
 * dstport are frames when the I flag is set and the VNI is ours (reserved
 * bits are ignored); their inner source MAC is learned against the
 * sender's address.  Whatever fails a check is dropped and counted, on the
 * port (rx-drops) and by name on the netdev (query-netdevs: rx-short,
 * rx-bad-flags, rx-vni-mismatch, rx-oversize).
 *
 * MTU: the port's MTU is the underlay's (the path MTU toward the first
 * flood destination, else 1500) less the outer IP, UDP, VXLAN and inner
 * Ethernet headers (50 bytes over IPv4, 70 over IPv6), as the kernel sizes
 * a vxlan device; the hub drops and counts larger frames (tx-drops
 * "oversize").  query-netdevs reports it ("mtu", "underlay-mtu").
 *
 * vxlan_internal.h maps the files and tells how sending is laid out.
 *
 * Owns: struct vxlan_state (nd->priv), its port, receive channel, VTEPs
 * and table; all outlive close() until the last channel is done.
 *
 * Never: log or allocate per frame, read a header before checking the
 * datagram holds it, or touch the netdev after close().
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "clock.h"
#include "hub.h"
#include "log.h"
#include "vxlan.h"
#include "vxlan_internal.h"

void vxlan_unref(struct vxlan_state *s)
{
	if (--s->refs)
		return;
	if (s->port)
		port_free(s->port);
	if (s->fdb)
		fdb_free(s->fdb);
	free(s->batch);
	free(s);
}

/* -- receiving ---------------------------------------------------------- */

/**
 * vxlan_accept() - check one datagram; the inner frame's offset, or 0
 * (dropped and counted)
 */
static size_t vxlan_accept(struct vxlan_state *s, struct port *p,
			   const struct io_msg *m)
{
	const uint8_t *d = m->data;

	if (m->len < VXLAN_HLEN + FRAME_MIN_LEN) {
		s->rx_short++;
		port_count_rx_drop(p, PORT_DROP_MALFORMED, 1, m->len);
		return 0;
	}
	if (m->truncated || m->len - VXLAN_HLEN > FRAME_MAX_LEN) {
		s->rx_oversize++;
		port_count_rx_drop(p, PORT_DROP_OVERSIZE, 1, m->len);
		return 0;
	}
	if (!(d[0] & VXLAN_FLAG_I)) {
		s->rx_bad_flags++;
		port_count_rx_drop(p, PORT_DROP_MALFORMED, 1, m->len);
		return 0;
	}
	if (memcmp(d + 4, s->vni_be, 3)) {
		s->rx_vni_mismatch++;
		port_count_rx_drop(p, PORT_DROP_FILTERED, 1, m->len);
		return 0;
	}
	return VXLAN_HLEN;
}

/* vxlan_learn() - the inner source MAC of @frame is behind @m's sender */
static void vxlan_learn(struct vxlan_state *s, const struct io_msg *m,
			const uint8_t *frame, uint64_t now)
{
	struct vxlan_vtep *v;

	if (!s->o.learning || !m->src || (frame[6] & 1))
		return;
	v = vxlan_vtep_find(s, m->src, m->srclen);
	if (!v) {
		struct nh_error *err = NULL;

		/* A new VTEP: once per sender, not per frame */
		v = vxlan_vtep_get(s, m->src, m->srclen, &err);
		if (!v) {
			s->learn_refused++;
			nh_error_free(err);
			return;
		}
	}
	s->last_src = v;
	vxlan_fdb_learn(s, frame + 6, v, now);
}

static void vxlan_on_recv(struct io_chan *c, const struct io_msg *msgs,
			  unsigned n)
{
	struct vxlan_state *s = io_chan_opaque(c);
	struct port *p = s->port;
	struct port_burst b = {.p = p};
	uint64_t now = clock_now_ms();

	if (!s->nd || !p)
		return;
	for (unsigned i = 0; i < n; i++) {
		const struct io_msg *m = &msgs[i];
		size_t off = vxlan_accept(s, p, m);

		if (!off)
			continue;
		vxlan_learn(s, m, m->data + off, now);
		port_burst_add(&b, m->data + off, m->len - off, FRAME_MAX_LEN,
			       false);
	}
	port_burst_end(&b);
}

static void vxlan_rx_done(void *opaque, unsigned dropped)
{
	(void)dropped;
	vxlan_unref(opaque);
}

static void vxlan_on_rx_error(struct io_chan *c, int err)
{
	struct vxlan_state *s = io_chan_opaque(c);

	if (!s->nd)
		return;
	log_warn("netdev %s: receiving stopped: %s", s->id,
		 err ? strerror(-err) : "socket closed");
	s->rx = NULL;
	io_chan_close(c, vxlan_rx_done);
}

/* -- sending ------------------------------------------------------------ */

/* vxlan_queue() - add @f (whose reference the caller gives) to @v's batch */
static inline void vxlan_queue(struct vxlan_state *s, struct vxlan_vtep *v,
			       struct frame *f)
{
	s->batch[v->index][s->nbatch[v->index]++] = f;
}

/* vxlan_flood() - @f to every flood destination; false if there is none */
static bool vxlan_flood(struct vxlan_state *s, struct frame *f)
{
	bool first = true;

	for (unsigned i = 0; i < s->nvteps; i++) {
		if (!s->vteps[i]->flood)
			continue;
		if (!first)
			frame_ref(f);
		first = false;
		vxlan_queue(s, s->vteps[i], f);
	}
	return !first;
}

/* vxlan_send_burst() - up to FRAME_BURST_MAX frames, sorted per VTEP, each
 * VTEP's batch sent with one io_chan_send(); true if a channel is busy */
static bool vxlan_send_burst(struct vxlan_state *s, struct port *p,
			     struct frame *const *frames, unsigned n,
			     uint64_t now)
{
	bool busy = false;

	memset(s->nbatch, 0, sizeof(s->nbatch[0]) * s->nvteps);
	for (unsigned i = 0; i < n; i++) {
		struct frame *f = frames[i];
		struct vxlan_vtep *v = NULL;

		if (!(f->data[0] & 1))
			v = vxlan_fdb_lookup(s, f->data, now);
		if (v) {
			vxlan_queue(s, v, f);
		} else if (vxlan_flood(s, f)) {
			s->tx_flooded++;
		} else {
			s->tx_no_vtep++;
			port_count_tx_drop(p, PORT_DROP_NO_DEST, 1);
			frame_unref(f);
		}
	}
	for (unsigned i = 0; i < s->nvteps; i++) {
		struct vxlan_vtep *v = s->vteps[i];
		unsigned nb = s->nbatch[i], took;

		if (!nb)
			continue;
		took = v->chan ? io_chan_send(v->chan, s->batch[i], nb) : 0;
		if (took < nb) {
			port_count_tx_drop(p, PORT_DROP_QUEUE_FULL, nb - took);
			frame_unref_many(s->batch[i] + took, nb - took);
		}
		if (v->chan && io_chan_tx_busy(v->chan))
			busy = true;
	}
	return busy;
}

/**
 * vxlan_send() - takes every frame: those a VTEP's queue cannot hold are
 * counted (queue-full) here, since one frame may go to several VTEPs
 */
static unsigned vxlan_send(struct port *p, struct frame *const *frames,
			   unsigned n)
{
	struct vxlan_state *s = p->priv;
	uint64_t now = clock_now_ms();
	bool busy = false;

	if (!s || !s->nd)
		return 0;
	for (unsigned done = 0; done < n; done += FRAME_BURST_MAX) {
		unsigned k = n - done < FRAME_BURST_MAX ? n - done
							 : FRAME_BURST_MAX;

		busy |= vxlan_send_burst(s, p, frames + done, k, now);
	}
	if (busy)
		port_tx_blocked(p);
	return n;
}

static void vxlan_rx_pause(struct port *p, bool pause)
{
	struct vxlan_state *s = p->priv;

	if (s && s->rx)
		io_chan_set_paused(s->rx, pause);
}

/* -- opening ------------------------------------------------------------ */

/* vxlan_with_port() - @a with UDP port @port */
static struct sockaddr_any vxlan_with_port(const struct sockaddr_any *a,
					   int family, uint16_t port)
{
	struct sockaddr_any r;

	if (a && a->ss.ss_family == family) {
		r = *a;
	} else {
		memset(&r, 0, sizeof(r));
		r.ss.ss_family = (sa_family_t)family;
		r.len = family == AF_INET ? sizeof(struct sockaddr_in)
					  : sizeof(struct sockaddr_in6);
	}
	if (family == AF_INET)
		((struct sockaddr_in *)&r.ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&r.ss)->sin6_port = htons(port);
	return r;
}

/* vxlan_join() - receive the group's datagrams on @fd */
static int vxlan_join(const struct vxlan_opts *o, int fd)
{
	if (o->family == AF_INET) {
		struct ip_mreq mr = {
		    .imr_multiaddr =
			((const struct sockaddr_in *)&o->group.ss)->sin_addr,
		};

		if (o->local_set)
			mr.imr_interface =
			    ((const struct sockaddr_in *)&o->local.ss)
				->sin_addr;
		return setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr,
				  sizeof(mr));
	} else {
		struct ipv6_mreq mr = {
		    .ipv6mr_multiaddr =
			((const struct sockaddr_in6 *)&o->group.ss)->sin6_addr,
		};

		return setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr,
				  sizeof(mr));
	}
}

void vxlan_big_buffer(int fd, int force, int plain)
{
	int size = VXLAN_SOCKBUF;

	/* As root the kernel's rmem_max/wmem_max need not stand in the way;
	 * otherwise the largest they allow */
	if (setsockopt(fd, SOL_SOCKET, force, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, plain, &size, sizeof(size));
}

/* vxlan_open_rx() - the receive socket on dstport, and its channel */
static bool vxlan_open_rx(struct vxlan_state *s, struct nh_error **errp)
{
	const struct vxlan_opts *o = &s->o;
	struct sockaddr_any at = vxlan_with_port(
	    o->local_set && !o->group_set ? &o->local : NULL, o->family,
	    o->dstport);
	char where[SOCKADDR_STR_MAX];
	struct io_chan_cfg cfg;
	int fd, one = 1;

	sockaddr_str(sockaddr_sa(&at), at.len, where, sizeof(where));
	fd = socket(o->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		nh_error_setg(errp, "UDP socket: %s", strerror(errno));
		return false;
	}
	if ((o->family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) <
		 0) ||
	    bind(fd, sockaddr_sa(&at), at.len) < 0) {
		nh_error_setg(errp, "dstport=%u: cannot bind %s: %s",
			      o->dstport, where, strerror(errno));
		close(fd);
		return false;
	}
	vxlan_big_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF);
	if (o->group_set && vxlan_join(o, fd) < 0) {
		nh_error_setg(errp, "group=: cannot join: %s",
			      strerror(errno));
		close(fd);
		return false;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.kind = IO_CHAN_DGRAM;
	cfg.flags = IO_CHAN_F_SRCADDR | IO_CHAN_F_UDP_GRO;
	cfg.on_recv = vxlan_on_recv;
	cfg.on_error = vxlan_on_rx_error;
	cfg.opaque = s;
	s->rx = io_chan_open(fd, &cfg, errp);
	if (!s->rx) {
		close(fd);
		return false;
	}
	s->refs++; /* dropped by vxlan_rx_done() */
	return true;
}

/**
 * vxlan_underlay_mtu() - the path MTU toward the first flood destination,
 * as a connected UDP socket learns it from the route; else 1500
 */
static uint32_t vxlan_underlay_mtu(const struct vxlan_opts *o)
{
	const struct sockaddr_any *to =
	    o->group_set ? &o->group : o->nremote ? &o->remote[0] : NULL;
	struct sockaddr_any a;
	int fd, mtu = 0;
	socklen_t len = sizeof(mtu);

	if (!to)
		return VXLAN_UNDERLAY_MTU_DEFAULT;
	a = vxlan_with_port(to, o->family, o->dstport);
	fd = socket(o->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return VXLAN_UNDERLAY_MTU_DEFAULT;
	if (connect(fd, sockaddr_sa(&a), a.len) < 0 ||
	    getsockopt(fd, o->family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
		       o->family == AF_INET ? IP_MTU : IPV6_MTU, &mtu,
		       &len) < 0 ||
	    mtu <= 0)
		mtu = VXLAN_UNDERLAY_MTU_DEFAULT;
	close(fd);
	return (uint32_t)mtu;
}

/* vxlan_can_raw() - may we send from raw UDP sockets (CAP_NET_RAW)? */
static bool vxlan_can_raw(int family)
{
	int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* vxlan_flood_vteps() - the remote= VTEPs, or the group */
static bool vxlan_flood_vteps(struct vxlan_state *s, struct nh_error **errp)
{
	const struct vxlan_opts *o = &s->o;
	struct vxlan_vtep *v;

	if (o->group_set) {
		v = vxlan_vtep_get(s, sockaddr_sa(&o->group), o->group.len,
				   errp);
		if (!v)
			return false;
		v->flood = true;
	}
	for (unsigned i = 0; i < o->nremote; i++) {
		v = vxlan_vtep_get(s, sockaddr_sa(&o->remote[i]),
				   o->remote[i].len, errp);
		if (!v)
			return false;
		v->flood = true;
	}
	return true;
}

/* vxlan_teardown() - detach the port now, close every channel; the state
 * goes with the last of them */
static void vxlan_teardown(struct vxlan_state *s)
{
	struct io_chan *rx = s->rx;

	s->nd = NULL;
	s->rx = NULL;
	if (s->port)
		port_detach(s->port);
	if (rx)
		io_chan_close(rx, vxlan_rx_done);
	vxlan_vtep_close_all(s);
	vxlan_unref(s);
}

static bool vxlan_open(struct netdev *nd, const json_t *opts,
		       struct nh_error **errp)
{
	struct vxlan_state *s = calloc(1, sizeof(*s));
	struct hub_config hc;
	uint32_t overhead, mtu;

	if (!s) {
		nh_error_setg(errp, "netdev %s: out of memory", nd->id);
		return false;
	}
	snprintf(s->id, sizeof(s->id), "%s", nd->id);
	s->refs = 1;
	s->nd = nd;
	if (!vxlan_parse_opts(opts, &s->o, errp))
		goto fail;
	s->vni_be[0] = (uint8_t)(s->o.vni >> 16);
	s->vni_be[1] = (uint8_t)(s->o.vni >> 8);
	s->vni_be[2] = (uint8_t)s->o.vni;
	s->batch = calloc(VXLAN_VTEP_MAX, sizeof(*s->batch));
	hub_get_config(&hc); /* learned entries age as the hubs' do */
	s->fdb = fdb_new(VXLAN_FDB_MAX, VXLAN_FDB_MAX,
			 hc.fdb_age_ms ? hc.fdb_age_ms
				       : (uint64_t)FDB_AGE_DEFAULT_S * 1000);
	if (!s->batch || !s->fdb) {
		nh_error_setg(errp, "netdev %s: out of memory", nd->id);
		goto fail;
	}
	s->raw_tx = vxlan_can_raw(s->o.family);
	if (!vxlan_open_rx(s, errp) || !vxlan_flood_vteps(s, errp))
		goto fail;

	s->port = port_new(nd, NULL, s);
	if (!s->port) {
		nh_error_setg(errp, "netdev %s: out of memory", nd->id);
		goto fail;
	}
	s->underlay_mtu = vxlan_underlay_mtu(&s->o);
	overhead = (s->o.family == AF_INET ? 20 : 40) + VXLAN_UDP_HLEN +
		   VXLAN_HLEN + FRAME_ETH_HLEN;
	mtu = s->underlay_mtu > overhead + 68 ? s->underlay_mtu - overhead
					      : 68;
	if (s->port->mtu > mtu)
		s->port->mtu = mtu;
	nd->priv = s;
	log_info("netdev %s: VXLAN VNI %u on UDP port %u, %u flood "
		 "destination(s), MTU %u%s",
		 s->id, s->o.vni, s->o.dstport, s->nvteps, s->port->mtu,
		 s->raw_tx ? "" : " (no CAP_NET_RAW: one source port per VTEP)");
	return true;

fail:
	vxlan_teardown(s);
	return false;
}

static void vxlan_close(struct netdev *nd)
{
	struct vxlan_state *s = nd->priv;

	nd->priv = NULL;
	if (s)
		vxlan_teardown(s);
}

static void vxlan_info(const struct netdev *nd, json_t *obj)
{
	const struct vxlan_state *s = nd->priv;
	char buf[SOCKADDR_STR_MAX];
	json_t *flood;

	if (!s)
		return;
	json_object_set_new(obj, "vni", json_integer(s->o.vni));
	json_object_set_new(obj, "dstport", json_integer(s->o.dstport));
	if (s->o.local_set) {
		inet_ntop(s->o.family,
			  s->o.family == AF_INET
			      ? (const void *)&((const struct sockaddr_in *)&s
						    ->o.local.ss)
				    ->sin_addr
			      : (const void *)&((const struct sockaddr_in6 *)&s
						    ->o.local.ss)
				    ->sin6_addr,
			  buf, sizeof(buf));
		json_object_set_new(obj, "local", json_string(buf));
	}
	flood = json_array();
	for (unsigned i = 0; i < s->nvteps; i++)
		if (s->vteps[i]->flood)
			json_array_append_new(flood,
					      json_string(s->vteps[i]->str));
	json_object_set_new(obj, "flood", flood);
	json_object_set_new(obj, "learning", json_boolean(s->o.learning));
	json_object_set_new(obj, "srcport-from-flow-hash",
			    json_boolean(s->raw_tx));
	json_object_set_new(obj, "underlay-mtu", json_integer(s->underlay_mtu));
	if (s->port)
		json_object_set_new(obj, "mtu", json_integer(s->port->mtu));
	json_object_set_new(obj, "vteps", json_integer(s->nvteps));
	json_object_set_new(obj, "fdb-entries",
			    json_integer(fdb_count(s->fdb)));
	json_object_set_new(obj, "rx-short",
			    json_integer((json_int_t)s->rx_short));
	json_object_set_new(obj, "rx-bad-flags",
			    json_integer((json_int_t)s->rx_bad_flags));
	json_object_set_new(obj, "rx-vni-mismatch",
			    json_integer((json_int_t)s->rx_vni_mismatch));
	json_object_set_new(obj, "rx-oversize",
			    json_integer((json_int_t)s->rx_oversize));
	json_object_set_new(obj, "learn-refused",
			    json_integer((json_int_t)s->learn_refused));
	json_object_set_new(obj, "tx-flooded",
			    json_integer((json_int_t)s->tx_flooded));
	json_object_set_new(obj, "tx-no-destination",
			    json_integer((json_int_t)s->tx_no_vtep));
}

const struct backend_ops vxlan_backend = {
    .type = "vxlan",
    .check = vxlan_check,
    .open = vxlan_open,
    .close = vxlan_close,
    .send = vxlan_send,
    .rx_pause = vxlan_rx_pause,
    .info = vxlan_info,
};
