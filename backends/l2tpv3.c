// SPDX-License-Identifier: MIT
/* l2tpv3.c - QEMU's "l2tpv3" netdev: an Ethernet pseudowire (RFC 3931)
 *
 * One port "ID" on one socket: UDP bound to src:srcport (udp=on), or a raw
 * IP socket of protocol 115 bound to src.  Frames go to dst (dst:dstport)
 * behind the header l2tpv3.h draws, written by the channel's tx_header
 * hook; received datagrams are checked in QEMU's order (cookie, then
 * session) and, unlike QEMU, also for the UDP header's type and version
 * and, with counter=on and pincounter=off, for a counter that moves
 * forward.  A datagram that fails a check is dropped and counted, on the
 * port (rx-drops "malformed" or "filtered") and by name on the netdev
 * (query-netdevs: rx-short, rx-bad-header, rx-cookie-mismatch,
 * rx-session-mismatch, rx-counter-mismatch).
 *
 * The counter check takes a peer that restarted (its counter back at 1)
 * after L2TPV3_COUNTER_RESYNC stale counters in a row.
 *
 * Owns: struct l2tpv3_state (nd->priv), its port and channel.  The state
 * outlives close() until the channel's done callback has run.
 *
 * Never: log or allocate per frame, read a header field before checking
 * the datagram is long enough for it, or touch the netdev after close().
 */

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "frame.h"
#include "io.h"
#include "l2tpv3.h"
#include "log.h"
#include "netdev.h"
#include "port.h"
#include "sockaddr.h"

#define L2TPV3_IP4_HLEN_MIN 20
#define L2TPV3_UDP4_MAX	    65507 /* 65535 - IPv4 - UDP header */
#define L2TPV3_UDP6_MAX	    65527 /* 65535 - UDP header */
#define L2TPV3_IP4_MAX	    65515 /* 65535 - IPv4 header */
#define L2TPV3_IP6_MAX	    65535

struct l2tpv3_state {
	char id[NETDEV_ID_MAX]; /* for messages after close */
	struct l2tpv3_opts o;	/* its strings are not kept past open */
	struct sockaddr_any dest;
	struct port *port;
	struct io_chan *chan;
	bool closed;	  /* close() ran */
	bool ip4_raw;	  /* datagrams start with an IPv4 header */
	unsigned refs;	  /* open + channel */

	uint32_t tx_counter;	 /* last counter sent */
	uint32_t rx_counter;	 /* last counter taken */
	bool rx_counter_seen;
	unsigned rx_stale_run;	 /* stale counters in a row */

	char local[SOCKADDR_STR_MAX], remote[SOCKADDR_STR_MAX];

	uint64_t rx_short, rx_bad_header, rx_cookie_mismatch,
	    rx_session_mismatch, rx_counter_mismatch;
};

static void l2tpv3_unref(struct l2tpv3_state *s)
{
	if (--s->refs == 0)
		free(s);
}

static inline uint32_t l2tpv3_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void l2tpv3_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* -- the per-frame path ------------------------------------------------- */

/**
 * l2tpv3_tx_header() - the header for one frame, written when the channel
 * builds its batch, so counters go out in the order the frames do
 */
static unsigned l2tpv3_tx_header(struct io_chan *c, const struct frame *f,
				 uint8_t *hdr)
{
	struct l2tpv3_state *s = io_chan_opaque(c);
	const struct l2tpv3_opts *o = &s->o;

	(void)f;
	memset(hdr, 0, o->hlen);
	if (o->udp)
		l2tpv3_put_be32(hdr, L2TPV3_UDP_WORD);
	l2tpv3_put_be32(hdr + o->session_at, o->txsession);
	if (o->cookie && o->cookie64) {
		l2tpv3_put_be32(hdr + o->cookie_at,
				(uint32_t)(o->txcookie >> 32));
		l2tpv3_put_be32(hdr + o->cookie_at + 4, (uint32_t)o->txcookie);
	} else if (o->cookie) {
		l2tpv3_put_be32(hdr + o->cookie_at, (uint32_t)o->txcookie);
	}
	if (o->counter && !o->pincounter)
		l2tpv3_put_be32(hdr + o->counter_at, ++s->tx_counter);
	return o->hlen;
}

/**
 * l2tpv3_counter_ok() - the counter moved forward (serial arithmetic, so
 * it may wrap), or the peer evidently restarted
 */
static bool l2tpv3_counter_ok(struct l2tpv3_state *s, uint32_t counter)
{
	if (!s->rx_counter_seen || (int32_t)(counter - s->rx_counter) > 0 ||
	    ++s->rx_stale_run >= L2TPV3_COUNTER_RESYNC) {
		s->rx_counter = counter;
		s->rx_counter_seen = true;
		s->rx_stale_run = 0;
		return true;
	}
	return false;
}

/**
 * l2tpv3_unwrap() - check one datagram; on success *@frame and *@flen are
 * the Ethernet frame inside it.  Counts what it refuses.
 */
static bool l2tpv3_unwrap(struct l2tpv3_state *s, struct port *p,
			  const struct io_msg *m, const uint8_t **frame,
			  size_t *flen)
{
	const struct l2tpv3_opts *o = &s->o;
	const uint8_t *d = m->data;
	size_t len = m->len;

	if (m->truncated) {
		port_count_rx_drop(p, PORT_DROP_OVERSIZE, 1, m->len);
		return false;
	}
	if (s->ip4_raw) {
		size_t ihl = len ? (size_t)(d[0] & 0x0f) * 4 : 0;

		if (ihl < L2TPV3_IP4_HLEN_MIN || ihl > len)
			goto short_msg;
		d += ihl;
		len -= ihl;
	}
	if (len < (size_t)o->hlen + FRAME_MIN_LEN)
		goto short_msg;
	if (o->udp && ((d[0] & 0x80) || (d[1] & 0x0f) != 3)) {
		s->rx_bad_header++;
		port_count_rx_drop(p, PORT_DROP_MALFORMED, 1, m->len);
		return false;
	}
	if (o->cookie) {
		uint64_t cookie = l2tpv3_be32(d + o->cookie_at);

		if (o->cookie64)
			cookie = cookie << 32 | l2tpv3_be32(d + o->cookie_at + 4);
		if (cookie != o->rxcookie) {
			s->rx_cookie_mismatch++;
			goto filtered;
		}
	}
	if (l2tpv3_be32(d + o->session_at) != o->rxsession) {
		s->rx_session_mismatch++;
		goto filtered;
	}
	if (o->counter && !o->pincounter &&
	    !l2tpv3_counter_ok(s, l2tpv3_be32(d + o->counter_at))) {
		s->rx_counter_mismatch++;
		goto filtered;
	}
	*frame = d + o->hlen;
	*flen = len - o->hlen;
	return true;

short_msg:
	s->rx_short++;
	port_count_rx_drop(p, PORT_DROP_MALFORMED, 1, m->len);
	return false;
filtered:
	port_count_rx_drop(p, PORT_DROP_FILTERED, 1, m->len);
	return false;
}

static void l2tpv3_on_recv(struct io_chan *c, const struct io_msg *msgs,
			   unsigned n)
{
	struct l2tpv3_state *s = io_chan_opaque(c);
	struct port *p = s->port;
	struct port_burst b = {.p = p};

	if (!p || s->closed)
		return;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *data;
		size_t len;

		if (l2tpv3_unwrap(s, p, &msgs[i], &data, &len))
			port_burst_add(&b, data, len, FRAME_MAX_LEN, false);
	}
	port_burst_end(&b);
}

static void l2tpv3_on_tx_drop(struct io_chan *c, unsigned n, int err)
{
	struct l2tpv3_state *s = io_chan_opaque(c);

	if (s->port)
		port_count_tx_drop(
		    s->port,
		    err == -EMSGSIZE ? PORT_DROP_OVERSIZE : PORT_DROP_ERROR, n);
}

static void l2tpv3_on_tx_drain(struct io_chan *c, bool ready)
{
	struct l2tpv3_state *s = io_chan_opaque(c);

	if (!s->port || s->closed)
		return;
	if (ready)
		port_tx_ready(s->port);
	else
		port_tx_progress(s->port);
}

/* l2tpv3_chan_done() - the channel's last callback: the port and our
 * reference go */
static void l2tpv3_chan_done(void *opaque, unsigned dropped)
{
	struct l2tpv3_state *s = opaque;

	if (s->port) {
		if (dropped)
			port_count_tx_drop(s->port, PORT_DROP_NO_PEER, dropped);
		port_free(s->port);
		s->port = NULL;
	}
	l2tpv3_unref(s);
}

/* l2tpv3_stop() - detach the port and close the channel */
static void l2tpv3_stop(struct l2tpv3_state *s)
{
	struct io_chan *c = s->chan;

	s->chan = NULL;
	if (s->port)
		port_detach(s->port);
	if (c)
		io_chan_close(c, l2tpv3_chan_done);
}

/* The socket failed for good: the netdev stays, idle, without its port */
static void l2tpv3_on_error(struct io_chan *c, int err)
{
	struct l2tpv3_state *s = io_chan_opaque(c);

	if (s->closed)
		return;
	log_warn("netdev %s: %s; the tunnel is down", s->id,
		 err ? strerror(-err) : "socket closed");
	l2tpv3_stop(s);
}

/* -- control path ------------------------------------------------------- */

/* l2tpv3_resolve() - @host (and @port with udp=on) of option @opt */
static bool l2tpv3_resolve(const struct l2tpv3_opts *o, const char *opt,
			   const char *host, const char *port,
			   struct sockaddr_any *out, struct nh_error **errp)
{
	struct addrinfo hints, *res = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = o->ipv6 ? AF_INET6 : AF_INET;
	hints.ai_socktype = o->udp ? SOCK_DGRAM : SOCK_RAW;
	hints.ai_protocol = o->udp ? 0 : L2TPV3_IPPROTO;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc || !res) {
		nh_error_setg(errp, "could not resolve %s '%s'%s%s: %s", opt,
			      host, port ? " port " : "", port ? port : "",
			      gai_strerror(rc));
		if (res)
			freeaddrinfo(res);
		return false;
	}
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

/* l2tpv3_socket() - the bound socket, or -1 with errp set */
static int l2tpv3_socket(struct l2tpv3_state *s, struct nh_error **errp)
{
	const struct l2tpv3_opts *o = &s->o;
	struct sockaddr_any local;
	int fd;

	if (!l2tpv3_resolve(o, "src", o->src, o->srcport, &local, errp) ||
	    !l2tpv3_resolve(o, "dst", o->dst, o->dstport, &s->dest, errp))
		return -1;
	fd = socket(local.ss.ss_family,
		    (o->udp ? SOCK_DGRAM : SOCK_RAW) | SOCK_NONBLOCK |
			SOCK_CLOEXEC,
		    o->udp ? 0 : L2TPV3_IPPROTO);
	if (fd < 0) {
		nh_error_setg(errp, "%s socket: %s%s",
			      o->udp ? "UDP" : "raw IP (protocol 115)",
			      strerror(errno),
			      !o->udp && errno == EPERM
				  ? " (needs CAP_NET_RAW; or use udp=on)"
				  : "");
		return -1;
	}
	/* No SO_REUSEADDR: a port another socket holds is an error to
	 * report, not one to share */
	if (bind(fd, sockaddr_sa(&local), local.len) < 0) {
		nh_error_setg(errp, "could not bind to src %s%s%s: %s", o->src,
			      o->udp ? " port " : "", o->udp ? o->srcport : "",
			      strerror(errno));
		close(fd);
		return -1;
	}
	sockaddr_str(sockaddr_sa(&local), local.len, s->local,
		     sizeof(s->local));
	sockaddr_str(sockaddr_sa(&s->dest), s->dest.len, s->remote,
		     sizeof(s->remote));
	return fd;
}

/* l2tpv3_mtu() - the largest frame payload one datagram carries */
static uint32_t l2tpv3_mtu(const struct l2tpv3_opts *o)
{
	uint32_t max = o->udp ? (o->ipv6 ? L2TPV3_UDP6_MAX : L2TPV3_UDP4_MAX)
			      : (o->ipv6 ? L2TPV3_IP6_MAX : L2TPV3_IP4_MAX);

	return max - o->hlen - FRAME_ETH_HLEN;
}

static bool l2tpv3_open(struct netdev *nd, const json_t *opts,
			struct nh_error **errp)
{
	struct l2tpv3_state *s = calloc(1, sizeof(*s));
	struct io_chan_cfg cfg;
	int fd;

	if (!s) {
		nh_error_setg(errp, "netdev %s: out of memory", nd->id);
		return false;
	}
	snprintf(s->id, sizeof(s->id), "%s", nd->id);
	s->refs = 1;
	if (!l2tpv3_parse_opts(opts, &s->o, errp))
		goto fail;
	fd = l2tpv3_socket(s, errp);
	/* the options' strings are not ours to keep */
	s->o.src = s->o.dst = s->o.srcport = s->o.dstport = NULL;
	if (fd < 0)
		goto fail;
	s->ip4_raw = !s->o.udp && !s->o.ipv6;

	memset(&cfg, 0, sizeof(cfg));
	cfg.kind = IO_CHAN_DGRAM;
	cfg.dest = sockaddr_sa(&s->dest);
	cfg.destlen = s->dest.len;
	if (s->o.udp)
		cfg.flags = IO_CHAN_F_UDP_GRO | IO_CHAN_F_UDP_GSO;
	cfg.on_recv = l2tpv3_on_recv;
	cfg.on_error = l2tpv3_on_error;
	cfg.on_tx_drop = l2tpv3_on_tx_drop;
	cfg.on_tx_drain = l2tpv3_on_tx_drain;
	cfg.tx_header = l2tpv3_tx_header;
	cfg.opaque = s;
	s->chan = io_chan_open(fd, &cfg, errp);
	if (!s->chan) {
		close(fd);
		goto fail;
	}
	s->refs++; /* dropped by l2tpv3_chan_done() */
	s->port = port_new(nd, NULL, s);
	if (!s->port) {
		nh_error_setg(errp, "netdev %s: out of memory", nd->id);
		s->closed = true;
		l2tpv3_stop(s);
		goto fail;
	}
	if (s->port->mtu > l2tpv3_mtu(&s->o))
		s->port->mtu = l2tpv3_mtu(&s->o);
	nd->priv = s;
	log_info("netdev %s: l2tpv3 %s -> %s over %s, session %u/%u", s->id,
		 s->local, s->remote, s->o.udp ? "UDP" : "IP", s->o.txsession,
		 s->o.rxsession);
	return true;

fail:
	l2tpv3_unref(s);
	return false;
}

static void l2tpv3_close(struct netdev *nd)
{
	struct l2tpv3_state *s = nd->priv;

	nd->priv = NULL;
	if (!s)
		return;
	s->closed = true;
	l2tpv3_stop(s);
	l2tpv3_unref(s);
}

static unsigned l2tpv3_send(struct port *p, struct frame *const *frames,
			    unsigned n)
{
	struct l2tpv3_state *s = p->priv;

	return s && s->chan ? port_chan_send(p, s->chan, frames, n) : 0;
}

static void l2tpv3_rx_pause(struct port *p, bool pause)
{
	struct l2tpv3_state *s = p->priv;

	if (s && s->chan)
		io_chan_set_paused(s->chan, pause);
}

static void l2tpv3_info(const struct netdev *nd, json_t *obj)
{
	const struct l2tpv3_state *s = nd->priv;
	const struct l2tpv3_opts *o;

	if (!s)
		return;
	o = &s->o;
	json_object_set_new(obj, "local", json_string(s->local));
	json_object_set_new(obj, "remote", json_string(s->remote));
	json_object_set_new(obj, "udp", json_boolean(o->udp));
	json_object_set_new(obj, "header-bytes", json_integer(o->hlen));
	json_object_set_new(obj, "tunnel-up", json_boolean(s->chan != NULL));
	json_object_set_new(obj, "rx-short",
			    json_integer((json_int_t)s->rx_short));
	json_object_set_new(obj, "rx-bad-header",
			    json_integer((json_int_t)s->rx_bad_header));
	json_object_set_new(obj, "rx-cookie-mismatch",
			    json_integer((json_int_t)s->rx_cookie_mismatch));
	json_object_set_new(obj, "rx-session-mismatch",
			    json_integer((json_int_t)s->rx_session_mismatch));
	json_object_set_new(obj, "rx-counter-mismatch",
			    json_integer((json_int_t)s->rx_counter_mismatch));
}

const struct backend_ops l2tpv3_backend = {
    .type = "l2tpv3",
    .check = l2tpv3_check,
    .open = l2tpv3_open,
    .close = l2tpv3_close,
    .send = l2tpv3_send,
    .rx_pause = l2tpv3_rx_pause,
    .info = l2tpv3_info,
};
