// SPDX-License-Identifier: MIT
/* socket.c - QEMU's "socket" netdev: TCP listen/connect, UDP, multicast, fd=
 *
 * Wire format (QEMU's): on TCP, each frame is a 4-byte big-endian length
 * and the Ethernet frame, no vnet header, at most 69632 bytes; on UDP and
 * multicast, one raw frame per datagram.
 *
 * Modes (exactly one of fd=, listen=, connect=, mcast=, udp=):
 *   listen=[host]:port   unlike QEMU, any number of peers; each accepted
 *                        connection is its own port "ID.N", removed when the
 *                        peer goes (socket_listen.c)
 *   connect=host:port    one port "ID" while connected; reconnect=SECONDS
 *                        (nethub's extension) retries and reconnects
 *                        (socket_connect.c)
 *   udp=host:port        one port "ID"; localaddr=host:port is the bind
 *                        address (mandatory); takes datagrams only from
 *                        udp= unless udp-any-source=on (nethub's extension)
 *   mcast=group:port     one port "ID"; our own looped-back frames are
 *                        dropped (both in socket_dgram.c)
 *   fd=N|NAME            an inherited socket, or one passed with QMP getfd
 *                        and named so, served as its kind (socket_fd.c)
 *
 * This file is the backend's ops table: open parses the options
 * (socket_opts.c) and starts the mode; close tears everything down; send,
 * rx_pause and the info ops act on the peers, whose per-frame
 * path is socket_peer.c.  socket_internal.h maps the files and what they
 * share.
 *
 * Owns: struct socket_state (nd->priv) and the reference open holds on it;
 * the state's timer handle, which the modes start.  The state outlives
 * close() until every handle's close callback and every channel's done
 * callback has run.
 *
 * Never: log or allocate per frame, or touch the struct netdev after
 * close() returned.
 */

#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "backend.h"
#include "frame.h"
#include "io.h"
#include "log.h"
#include "netdev.h"
#include "port.h"
#include "socket_internal.h"
#include "unixsock.h"

static const char *const socket_mode_names[] = {
    [SOCKET_LISTEN] = "listen", [SOCKET_CONNECT] = "connect",
    [SOCKET_UDP] = "udp",	[SOCKET_MCAST] = "mcast",
    [SOCKET_FD] = "fd",		[SOCKET_DGRAM] = "dgram",
};

static void socket_on_timer_closed(uv_handle_t *h)
{
	socket_unref(h->data);
}

void socket_teardown(struct socket_state *s)
{
	s->nd = NULL;
	socket_listen_stop(s);
	if (s->own_path[0])
		unixsock_unlink_own(s->own_path, s->own_dev, s->own_ino);
	if (s->timer_init)
		uv_close((uv_handle_t *)&s->timer, socket_on_timer_closed);
	socket_connect_stop(s);
	while (s->peers)
		socket_peer_remove(s->peers);
	socket_unref(s);
}

struct socket_state *socket_state_new(struct netdev *nd, enum socket_mode mode,
				      struct nh_error **errp)
{
	struct socket_state *s = calloc(1, sizeof(*s));

	if (!s) {
		nh_error_setg(errp, "netdev %s: out of memory", nd->id);
		return NULL;
	}
	s->refs = 1;
	s->nd = nd;
	s->loop = nd->loop;
	s->mode = mode;
	snprintf(s->id, sizeof(s->id), "%s", nd->id);
	s->listen_fd = -1;
	nd->priv = s;
	return s;
}

static bool socket_open(struct netdev *nd, const json_t *opts,
			struct nh_error **errp)
{
	struct socket_state *s;
	struct socket_opts o;
	bool ok;

	if (!socket_check(opts, errp) || !socket_parse_opts(opts, &o, errp))
		return false;

	s = socket_state_new(nd,
			     o.listen	 ? SOCKET_LISTEN
			     : o.connect ? SOCKET_CONNECT
			     : o.udp	 ? SOCKET_UDP
			     : o.mcast	 ? SOCKET_MCAST
					 : SOCKET_FD,
			     errp);
	if (!s)
		return false;
	s->reconnect_s = (unsigned)o.reconnect;

	if (o.listen)
		ok = socket_open_listen(s, o.listen, errp);
	else if (o.connect)
		ok = socket_open_connect(s, o.connect, errp);
	else if (o.udp)
		ok = socket_open_udp(s, o.udp, o.localaddr, o.udp_any_source,
				     errp);
	else if (o.mcast)
		ok = socket_open_mcast(s, o.mcast, o.localaddr, errp);
	else
		ok = socket_open_fd(s, o.fd, errp);
	if (!ok) {
		nd->priv = NULL;
		socket_teardown(s);
		return false;
	}
	if (s->mode == SOCKET_LISTEN || s->listen_init)
		log_info("netdev %s: listening on %s", s->id, s->local_str);
	return true;
}

void socket_close(struct netdev *nd)
{
	struct socket_state *s = nd->priv;

	nd->priv = NULL;
	if (s)
		socket_teardown(s);
}

unsigned socket_send(struct port *p, struct frame *const *frames, unsigned n)
{
	struct socket_peer *peer = p->priv;
	struct io_chan *c;

	if (!peer || peer->closing)
		return 0;
	c = peer->txchan ? peer->txchan : peer->chan;
	if (!c)
		return 0;
	return port_chan_send(p, c, frames, n);
}

void socket_rx_pause(struct port *p, bool pause)
{
	struct socket_peer *peer = p->priv;

	if (peer && !peer->closing && peer->chan)
		io_chan_set_paused(peer->chan, pause);
}

void socket_info(const struct netdev *nd, json_t *obj)
{
	const struct socket_state *s = nd->priv;

	if (!s)
		return;
	json_object_set_new(obj, "mode",
			    json_string(socket_mode_names[s->mode]));
	if (s->local_str[0])
		json_object_set_new(obj, "local", json_string(s->local_str));
	if (s->remote_str[0])
		json_object_set_new(obj, "remote", json_string(s->remote_str));
	if (s->mode == SOCKET_CONNECT) {
		json_object_set_new(obj, "connected",
				    json_boolean(s->connected));
		json_object_set_new(obj, "reconnect",
				    json_integer(s->reconnect_s));
	}
	if (s->mode == SOCKET_UDP) {
		json_object_set_new(obj, "udp-any-source",
				    json_boolean(!s->only_from_set));
		json_object_set_new(
		    obj, "foreign-source-dropped",
		    json_integer((json_int_t)s->foreign_dropped));
	}
	json_object_set_new(obj, "peers", json_integer(s->npeers));
	json_object_set_new(obj, "protocol-errors",
			    json_integer((json_int_t)s->protocol_errors));
	json_object_set_new(obj, "echoes-dropped",
			    json_integer((json_int_t)s->echoes_dropped));
	json_object_set_new(obj, "reconnects",
			    json_integer((json_int_t)s->reconnects));
}

void socket_port_info(const struct port *p, json_t *obj)
{
	const struct socket_peer *peer = p->priv;

	if (peer && peer->addr[0])
		json_object_set_new(obj, "peer", json_string(peer->addr));
}

const struct backend_ops socket_backend = {
    .type = "socket",
    .check = socket_check,
    .open = socket_open,
    .close = socket_close,
    .send = socket_send,
    .rx_pause = socket_rx_pause,
    .set_link = NULL,
    .info = socket_info,
    .port_info = socket_port_info,
};
