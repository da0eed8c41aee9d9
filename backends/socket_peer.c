// SPDX-License-Identifier: MIT
/* socket_peer.c - the socket netdev's per-frame path: peers and their
 * channels
 *
 * A peer is one port and the I/O channels behind it (one, or mcast's
 * group and send sockets).  This file makes and removes peers, frames and
 * unframes QEMU's wire format (on streams a 4-byte big-endian length
 * before each frame, at most 69632 bytes; on datagrams one raw frame
 * each), filters datagrams by source (mcast's own echoes, udp='s
 * strangers) and counts every frame it cannot deliver.
 *
 * Stream ports (accepted peers, connect=, fd= streams) tell the switch
 * their far end (port_set_stream_peer()), for the peer events.
 *
 * Owns: struct socket_peer, from socket_peer_start() until its last
 * channel's done callback; the peer holds a reference on the state.
 *
 * Never: log or allocate per frame, make a syscall per frame, trust a
 * length from a peer before checking it, or call into a mode (a lost port
 * is reported through s->on_peer_lost).
 */

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "frame.h"
#include "io.h"
#include "log.h"
#include "port.h"
#include "socket_internal.h"

/* socket_peer_name() - the port's name for messages, else the netdev's */
static const char *socket_peer_name(const struct socket_peer *peer)
{
	return peer->port ? peer->port->name : peer->s->id;
}

/**
 * socket_peer_lost() - a port went away: the mode decides what becomes of
 * the netdev (see socket_state.on_peer_lost)
 */
static void socket_peer_lost(struct socket_state *s, const char *why)
{
	if (!s->nd)
		return;
	if (s->on_peer_lost)
		s->on_peer_lost(s, why);
	else
		log_info("netdev %s: no port left (%s); idle", s->id, why);
}

/* -- channels: the per-frame path -------------------------------------- */

/**
 * socket_tx_header() - QEMU's stream framing: the frame length, big-endian
 */
static unsigned socket_tx_header(struct io_chan *c, const struct frame *f,
				 uint8_t *hdr)
{
	uint32_t len = f->len;

	(void)c;
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	return SOCKET_STREAM_HLEN;
}

/**
 * socket_on_stream() - parse as many whole frames as are buffered
 *
 * Each becomes a frame of its own; they go to the switch in bursts of up to
 * FRAME_BURST_MAX.  Lengths are checked before use: above QEMU's maximum the
 * stream cannot be trusted any more and the connection is closed; above
 * what we carry, or below an Ethernet header, the frame is skipped and
 * counted.
 *
 * Return: bytes consumed; a partial frame stays buffered.
 */
static size_t socket_on_stream(struct io_chan *c, const uint8_t *data,
			       size_t len)
{
	struct socket_peer *peer = io_chan_opaque(c);
	struct frame *burst[FRAME_BURST_MAX];
	struct port *p = peer->port;
	unsigned nb = 0;
	size_t off = 0;

	if (!p || peer->closing)
		return len;

	while (len - off >= SOCKET_STREAM_HLEN) {
		const uint8_t *h = data + off;
		uint32_t flen = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
				(uint32_t)h[2] << 8 | (uint32_t)h[3];
		struct frame *f;

		if (flen > SOCKET_STREAM_MAX_FRAME) {
			struct socket_state *s = peer->s;

			if (nb)
				port_input(p, burst, nb);
			port_count_rx_drop(p, PORT_DROP_MALFORMED, 1,
					   len - off);
			s->protocol_errors++;
			log_warn("port %s: frame length %u exceeds %u, closing "
				 "the connection",
				 p->name, flen, SOCKET_STREAM_MAX_FRAME);
			socket_peer_remove(peer); /* may free peer */
			socket_peer_lost(s, "protocol error");
			return len;
		}
		if (len - off - SOCKET_STREAM_HLEN < flen)
			break; /* the rest is still on its way */
		off += SOCKET_STREAM_HLEN + flen;

		if (flen > FRAME_MAX_LEN) {
			port_count_rx_drop(p, PORT_DROP_OVERSIZE, 1, flen);
			continue;
		}
		if (flen < FRAME_MIN_LEN) {
			port_count_rx_drop(p, PORT_DROP_MALFORMED, 1, flen);
			continue;
		}
		f = frame_alloc_copy(h + SOCKET_STREAM_HLEN, flen);
		if (!f) {
			port_count_rx_drop(p, PORT_DROP_NO_BUFFER, 1, flen);
			continue;
		}
		burst[nb++] = f;
		if (nb == FRAME_BURST_MAX) {
			port_input(p, burst, nb);
			nb = 0;
			/* Flow control paused us: the rest waits in the buffer,
			 * offered again on resume */
			if (p->rx_paused)
				break;
		}
	}
	if (nb)
		port_input(p, burst, nb);
	peer->pending = len - off;
	return off;
}

/**
 * socket_on_recv() - datagrams: one frame each
 *
 * On the multicast group socket, datagrams whose source is our own send
 * socket are our frames looped back by the kernel: dropped, counted as
 * echoes, not as received.  On udp= (unless udp-any-source=on) only the
 * configured peer's datagrams are frames; anyone else's are received and
 * dropped, counted as filtered on the port and as foreign on the netdev.
 * The engine gives each datagram's source (IO_CHAN_F_SRCADDR), also for
 * datagrams it split out of a GRO batch (one flow, one source): comparing
 * costs no syscall.
 */
static void socket_on_recv(struct io_chan *c, const struct io_msg *msgs,
			   unsigned n)
{
	struct socket_peer *peer = io_chan_opaque(c);
	struct socket_state *s = peer->s;
	struct port *p = peer->port;
	struct port_burst b = {.p = p};

	if (!p || peer->closing)
		return;

	for (unsigned i = 0; i < n; i++) {
		const struct io_msg *m = &msgs[i];

		if (s->echo_set && m->src &&
		    sockaddr_same(m->src, m->srclen, sockaddr_sa(&s->echo),
				  s->echo.len)) {
			s->echoes_dropped++;
			continue;
		}
		/* No source given cannot be told from a stranger */
		if (s->only_from_set &&
		    (!m->src || !sockaddr_same(m->src, m->srclen,
					       sockaddr_sa(&s->only_from),
					       s->only_from.len))) {
			s->foreign_dropped++;
			port_count_rx_drop(p, PORT_DROP_FILTERED, 1, m->len);
			continue;
		}
		port_burst_add(&b, m->data, m->len, FRAME_MAX_LEN,
			       m->truncated);
	}
	port_burst_end(&b);
}

void socket_on_recv_ignore(struct io_chan *c, const struct io_msg *msgs,
			   unsigned n)
{
	(void)c;
	(void)msgs;
	(void)n;
}

/* socket_on_tx_drop() - frames the kernel refused; a datagram too long
 * for the medium (a VLAN-tagged frame at the MTU) is oversize, the rest
 * are errors (ECONNREFUSED from a connected UDP peer, ENETUNREACH) */
/* The send queue drains after io_chan_tx_busy() (backend.h's contract) */
static void socket_on_tx_drain(struct io_chan *c, bool ready)
{
	struct socket_peer *peer = io_chan_opaque(c);

	if (!peer->port || peer->closing)
		return;
	if (ready)
		port_tx_ready(peer->port);
	else
		port_tx_progress(peer->port);
}

static void socket_on_tx_drop(struct io_chan *c, unsigned n, int err)
{
	struct socket_peer *peer = io_chan_opaque(c);

	if (peer->port)
		port_count_tx_drop(
		    peer->port,
		    err == -EMSGSIZE ? PORT_DROP_OVERSIZE : PORT_DROP_ERROR, n);
}

/**
 * socket_on_error() - a channel stopped: end of stream or an error
 *
 * A stream that ends inside a frame lost that frame: counted malformed and
 * as a protocol error.  The port goes; what happens to the netdev depends
 * on its mode (s->on_peer_lost).
 */
static void socket_on_error(struct io_chan *c, int err)
{
	struct socket_peer *peer = io_chan_opaque(c);
	struct socket_state *s = peer->s;
	const char *name = socket_peer_name(peer);

	if (peer->closing)
		return;
	if (err == 0 && peer->pending) {
		if (peer->port)
			port_count_rx_drop(peer->port, PORT_DROP_MALFORMED, 1,
					   peer->pending);
		s->protocol_errors++;
		log_warn("port %s: peer closed the connection in the middle of "
			 "a frame (%zu bytes pending)",
			 name, peer->pending);
	} else if (err == 0) {
		log_info("port %s: peer closed the connection", name);
	} else {
		log_warn("port %s: %s", name, strerror(-err));
	}
	socket_peer_remove(peer); /* may free peer */
	socket_peer_lost(s, err ? "error" : "peer closed");
}

void socket_stream_cfg(struct io_chan_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kind = IO_CHAN_STREAM;
	cfg->stream_buf = SOCKET_STREAM_BUF;
	cfg->on_stream = socket_on_stream;
	cfg->on_error = socket_on_error;
	cfg->on_tx_drop = socket_on_tx_drop;
	cfg->on_tx_drain = socket_on_tx_drain;
	cfg->tx_header = socket_tx_header;
}

void socket_dgram_cfg(struct io_chan_cfg *cfg, const struct sockaddr_any *dest)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kind = IO_CHAN_DGRAM;
	if (dest) {
		cfg->dest = sockaddr_sa(dest);
		cfg->destlen = dest->len;
	}
	cfg->on_recv = socket_on_recv;
	cfg->on_error = socket_on_error;
	cfg->on_tx_drop = socket_on_tx_drop;
	cfg->on_tx_drain = socket_on_tx_drain;
}

/* -- peers: a port and its channels ------------------------------------ */

/**
 * socket_chan_done() - a channel's last callback; the last one frees the
 * peer, its port, and our reference on the state
 */
static void socket_chan_done(void *opaque, unsigned dropped)
{
	struct socket_peer *peer = opaque;
	struct socket_state *s = peer->s;

	if (dropped && peer->port)
		port_count_tx_drop(peer->port, PORT_DROP_NO_PEER, dropped);
	if (--peer->chans_open)
		return;
	if (peer->port)
		port_free(peer->port);
	free(peer);
	socket_unref(s);
}

/* socket_peer_close_chans() - close both channels; done frees the peer */
static void socket_peer_close_chans(struct socket_peer *peer)
{
	struct io_chan *c = peer->chan, *t = peer->txchan;

	peer->chan = NULL;
	peer->txchan = NULL;
	if (c)
		io_chan_close(c, socket_chan_done);
	if (t)
		io_chan_close(t, socket_chan_done); /* may free peer */
}

void socket_peer_remove(struct socket_peer *peer)
{
	struct socket_state *s = peer->s;
	struct socket_peer **pp;

	if (peer->closing)
		return;
	peer->closing = true;
	for (pp = &s->peers; *pp; pp = &(*pp)->next) {
		if (*pp == peer) {
			*pp = peer->next;
			s->npeers--;
			break;
		}
	}
	if (peer->port)
		port_detach(peer->port);
	socket_peer_close_chans(peer);
}

/**
 * socket_dgram_mtu() - a datagram carries at most 65507 bytes over IPv4,
 * 65527 over IPv6: the port's MTU says so, and the hub counts larger
 * frames as oversize instead of offering them
 */
static void socket_dgram_mtu(struct port *p, int fd)
{
	struct sockaddr_storage ss = {.ss_family = AF_UNSPEC};
	socklen_t len = sizeof(ss);
	uint32_t max;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET)
		max = SOCKET_UDP4_MAX;
	else if (ss.ss_family == AF_INET6)
		max = SOCKET_UDP6_MAX;
	else
		return;
	if (p->mtu > max - FRAME_ETH_HLEN)
		p->mtu = max - FRAME_ETH_HLEN;
}

/**
 * socket_stream_peer_addr() - the far end of stream socket @fd, as the
 * port's observers hear of it: the peer's address; for a unix peer without
 * a name (a client that did not bind), the socket's own path, as QEMU
 * reports it.  False if the socket cannot tell (it is then not announced).
 */
static bool socket_stream_peer_addr(int fd, struct sockaddr_any *a)
{
	a->len = sizeof(a->ss);
	if (getpeername(fd, (struct sockaddr *)&a->ss, &a->len) < 0)
		return false;
	if (a->ss.ss_family == AF_UNIX &&
	    a->len <= offsetof(struct sockaddr_un, sun_path)) {
		a->len = sizeof(a->ss);
		if (getsockname(fd, (struct sockaddr *)&a->ss, &a->len) < 0)
			return false;
	}
	return true;
}

struct socket_peer *socket_peer_start(struct socket_state *s,
				      const char *suffix, int fd,
				      struct io_chan_cfg *cfg, int txfd,
				      struct io_chan_cfg *txcfg,
				      const char *addr, struct nh_error **errp)
{
	struct socket_peer *peer = calloc(1, sizeof(*peer));
	struct sockaddr_any far;
	bool stream_peer;

	if (!peer) {
		nh_error_setg(errp, "netdev %s: out of memory", s->id);
		close(fd);
		if (txfd >= 0)
			close(txfd);
		return NULL;
	}
	peer->s = s;
	snprintf(peer->addr, sizeof(peer->addr), "%s", addr);
	stream_peer =
	    cfg->kind == IO_CHAN_STREAM && socket_stream_peer_addr(fd, &far);

	cfg->opaque = peer;
	peer->chan = io_chan_open(fd, cfg, errp);
	if (!peer->chan) {
		close(fd);
		if (txfd >= 0)
			close(txfd);
		free(peer);
		return NULL;
	}
	peer->chans_open = 1;
	s->refs++; /* dropped by the last socket_chan_done() */

	if (txfd >= 0) {
		txcfg->opaque = peer;
		peer->txchan = io_chan_open(txfd, txcfg, errp);
		if (!peer->txchan) {
			close(txfd);
			goto undo;
		}
		peer->chans_open++;
	}

	peer->port = port_new(s->nd, suffix, peer);
	if (!peer->port) {
		nh_error_setg(errp, "netdev %s: out of memory", s->id);
		goto undo;
	}
	if (cfg->kind == IO_CHAN_DGRAM)
		socket_dgram_mtu(peer->port, fd);
	peer->next = s->peers;
	s->peers = peer;
	s->npeers++;
	if (stream_peer)
		port_set_stream_peer(peer->port, sockaddr_sa(&far), far.len);
	return peer;

undo:
	peer->closing = true;
	socket_peer_close_chans(peer);
	return NULL;
}

void socket_set_nodelay(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void socket_fd_addrs(int fd, char *peer, char *local, size_t size)
{
	struct sockaddr_any a;

	a.len = sizeof(a.ss);
	if (peer && getpeername(fd, (struct sockaddr *)&a.ss, &a.len) == 0)
		sockaddr_str(sockaddr_sa(&a), a.len, peer, size);
	else if (peer)
		snprintf(peer, size, "?");
	a.len = sizeof(a.ss);
	if (local && getsockname(fd, (struct sockaddr *)&a.ss, &a.len) == 0)
		sockaddr_str(sockaddr_sa(&a), a.len, local, size);
	else if (local)
		local[0] = '\0';
}

bool socket_stream_start(struct socket_state *s, int fd, struct nh_error **errp)
{
	char peer[SOCKADDR_STR_MAX], local[SOCKADDR_STR_MAX];
	struct io_chan_cfg cfg;

	socket_set_nodelay(fd);
	socket_fd_addrs(fd, peer, local, sizeof(peer));
	socket_stream_cfg(&cfg);
	if (!socket_peer_start(s, NULL, fd, &cfg, -1, NULL, peer, errp))
		return false;
	snprintf(s->local_str, sizeof(s->local_str), "%s", local);
	if (s->mode != SOCKET_CONNECT)
		snprintf(s->remote_str, sizeof(s->remote_str), "%s", peer);
	return true;
}
