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
 *                        peer goes
 *   connect=host:port    one port "ID" while connected; reconnect=SECONDS
 *                        (nethub's extension) retries and reconnects
 *   udp=host:port        one port "ID"; localaddr=host:port is the bind
 *                        address (mandatory); receives from anyone
 *   mcast=group:port     one port "ID"; QEMU's group socket for receiving,
 *                        a second, connected socket for sending, so that our
 *                        own looped-back frames are recognised by their
 *                        exact source address and dropped
 *   fd=N|NAME            an inherited socket, or one passed with QMP getfd
 *                        and named so: connected stream, listening stream,
 *                        connected datagram, or datagram bound to a
 *                        multicast group (re-opened as mcast=, as QEMU does)
 *
 * Stream ports (accepted peers, connect=, fd= streams) tell the switch
 * their far end (port_set_stream_peer()), for the peer events.
 *
 * Owns: the listening socket and its uv_poll_t, a timer (reconnect, accept
 * back-off), the connect attempt in flight, and one struct socket_peer per
 * port (the port and its I/O channels).  Its state outlives close() until
 * every handle's close callback and every channel's done callback has run.
 *
 * Must never: log or allocate per frame, trust a length from a peer before
 * checking it, or touch the struct netdev after close() returned.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "backend.h"
#include "fdname.h"
#include "frame.h"
#include "io.h"
#include "log.h"
#include "netdev.h"
#include "opts.h"
#include "port.h"
#include "sockaddr.h"

#define SOCKET_STREAM_HLEN	 4		/* big-endian frame length */
#define SOCKET_STREAM_MAX_FRAME	 (4096 + 65536) /* QEMU's NET_BUFSIZE */
#define SOCKET_STREAM_BUF	 ((size_t)128 * 1024) /* > max frame + header */
#define SOCKET_CONNECT_WAIT_MS	 5000 /* open's synchronous connect */
#define SOCKET_RECONNECT_MAX_S	 3600
#define SOCKET_ACCEPT_BURST	 16   /* accepts per readiness event */
#define SOCKET_ACCEPT_BACKOFF_MS 1000 /* pause after EMFILE & co */
#define SOCKET_LISTEN_BACKLOG	 64
#define SOCKET_MCAST_TTL	 1
#define SOCKET_UDP4_MAX		 65507 /* 65535 - IPv4 - UDP header */
#define SOCKET_UDP6_MAX		 65527 /* 65535 - UDP header */

enum socket_mode {
	SOCKET_LISTEN,
	SOCKET_CONNECT,
	SOCKET_UDP,
	SOCKET_MCAST,
	SOCKET_FD,
};

static const char *const socket_mode_names[] = {
    [SOCKET_LISTEN] = "listen", [SOCKET_CONNECT] = "connect",
    [SOCKET_UDP] = "udp",	[SOCKET_MCAST] = "mcast",
    [SOCKET_FD] = "fd",
};

struct socket_state;

/* One port and the channels behind it */
struct socket_peer {
	struct socket_state *s;
	struct port *port;	     /* NULL until made */
	struct io_chan *chan;	     /* receives; sends too, except for mcast */
	struct io_chan *txchan;	     /* mcast: the connected send socket */
	unsigned chans_open;	     /* channels whose done callback is due */
	size_t pending;		     /* stream bytes left unparsed, for EOF */
	bool closing;		     /* removed; channels closing */
	char addr[SOCKADDR_STR_MAX]; /* the far end, for port_info */
	struct socket_peer *next;
};

/* An asynchronous connect (reconnect=): its own handle, freed on close */
struct socket_attempt {
	uv_poll_t poll;
	struct socket_state *s;
	int fd;
	int err; /* the outcome: 0 or an errno */
};

/* The backend's state for one netdev (nd->priv) */
struct socket_state {
	char id[NETDEV_ID_MAX]; /* for messages after close */
	struct netdev *nd;	/* NULL once closed */
	enum socket_mode mode;
	unsigned refs; /* open + handles + peers */

	struct sockaddr_any remote; /* connect=, udp=, mcast= */
	char local_str[SOCKADDR_STR_MAX];
	char remote_str[SOCKADDR_STR_MAX];
	char remote_opt[256]; /* connect=: the option, for messages */

	int listen_fd; /* -1 unless listening */
	uv_poll_t listen_poll;
	bool listen_init; /* listen_poll initialised */
	uv_timer_t timer; /* reconnect, accept back-off */
	bool timer_init;
	struct socket_attempt *attempt;

	unsigned reconnect_s; /* 0: off */
	bool connected, ever_connected, fail_logged;

	struct sockaddr_any echo; /* mcast: our send socket's address */
	bool echo_set;

	struct socket_peer *peers;
	unsigned npeers;

	uint64_t protocol_errors, echoes_dropped, reconnects;
};

static void socket_connect_begin(struct socket_state *s);

/* socket_loop() - the daemon's one loop (libuv's default, as daemon.c and
 * clock.c use it); control-path handles live there */
static uv_loop_t *socket_loop(void)
{
	return uv_default_loop();
}

static void socket_unref(struct socket_state *s)
{
	if (--s->refs == 0)
		free(s);
}

/* socket_peer_name() - the port's name for messages, else the netdev's */
static const char *socket_peer_name(const struct socket_peer *peer)
{
	return peer->port ? peer->port->name : peer->s->id;
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

static void socket_peer_remove(struct socket_peer *peer);
static void socket_after_loss(struct socket_state *s, const char *what);

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
			socket_after_loss(s, "protocol error");
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
 * echoes, not as received.
 */
static void socket_on_recv(struct io_chan *c, const struct io_msg *msgs,
			   unsigned n)
{
	struct socket_peer *peer = io_chan_opaque(c);
	struct socket_state *s = peer->s;
	struct frame *burst[FRAME_BURST_MAX];
	struct port *p = peer->port;
	unsigned nb = 0;

	if (!p || peer->closing)
		return;

	for (unsigned i = 0; i < n; i++) {
		const struct io_msg *m = &msgs[i];
		struct frame *f;

		if (s->echo_set && m->src &&
		    sockaddr_same(m->src, m->srclen, sockaddr_sa(&s->echo),
				  s->echo.len)) {
			s->echoes_dropped++;
			continue;
		}
		if (m->truncated || m->len > FRAME_MAX_LEN) {
			port_count_rx_drop(p, PORT_DROP_OVERSIZE, 1, m->len);
			continue;
		}
		if (m->len < FRAME_MIN_LEN) {
			port_count_rx_drop(p, PORT_DROP_MALFORMED, 1, m->len);
			continue;
		}
		f = frame_alloc_copy(m->data, m->len);
		if (!f) {
			port_count_rx_drop(p, PORT_DROP_NO_BUFFER, 1, m->len);
			continue;
		}
		burst[nb++] = f;
		if (nb == FRAME_BURST_MAX) {
			port_input(p, burst, nb);
			nb = 0;
		}
	}
	if (nb)
		port_input(p, burst, nb);
}

/* socket_on_recv_ignore() - mcast send socket: it is connected to the
 * group, so nothing should arrive; whatever does is not a frame for us */
static void socket_on_recv_ignore(struct io_chan *c, const struct io_msg *msgs,
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
 * on its mode (see socket_after_loss()).
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
	socket_after_loss(s, err ? "error" : "peer closed");
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

/**
 * socket_peer_remove() - take a peer's port off the switch at once and
 * close its channels; the memory goes when their done callbacks have run
 * (which may be before this returns: the caller must not touch @peer)
 */
static void socket_peer_remove(struct socket_peer *peer)
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

/**
 * socket_peer_start() - make a port for a socket (or an mcast pair)
 * @s:		the netdev's state (must be open: s->nd set)
 * @suffix:	NULL for a port named "ID", "N" for "ID.N"
 * @fd:		the socket; taken over (closed on failure)
 * @cfg:	its channel; opaque is set here
 * @txfd:	mcast's send socket, taken over, or -1
 * @txcfg:	its channel, or NULL
 * @addr:	the far end, for port_info
 *
 * The channels exist before the port, so the switch may send at once.
 * Return: the peer, or NULL with errp set and nothing left behind.
 */
static struct socket_peer *
socket_peer_start(struct socket_state *s, const char *suffix, int fd,
		  struct io_chan_cfg *cfg, int txfd, struct io_chan_cfg *txcfg,
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
	stream_peer = cfg->kind == IO_CHAN_STREAM &&
		      socket_stream_peer_addr(fd, &far);

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

static void socket_stream_cfg(struct io_chan_cfg *cfg)
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

static void socket_dgram_cfg(struct io_chan_cfg *cfg,
			     const struct sockaddr_any *dest)
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

/* socket_set_nodelay() - frames go out as they come; not for unix sockets */
static void socket_set_nodelay(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* socket_fd_addrs() - a connected socket's far and near ends as text */
static void socket_fd_addrs(int fd, char *peer, char *local, size_t size)
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

/**
 * socket_stream_start() - make the port "ID" for a connected stream socket
 * (connect=, fd=); takes over @fd
 */
static bool socket_stream_start(struct socket_state *s, int fd,
				struct nh_error **errp)
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

/* -- connect= ----------------------------------------------------------- */

static void socket_on_retry(uv_timer_t *t)
{
	socket_connect_begin(t->data);
}

static void socket_schedule_retry(struct socket_state *s)
{
	uv_timer_start(&s->timer, socket_on_retry,
		       (uint64_t)s->reconnect_s * 1000, 0);
}

/**
 * socket_connected() - a connection is up: make its port, log once
 * Takes over @fd.  On failure (no memory, no channel) it tries again later.
 */
static void socket_connected(struct socket_state *s, int fd)
{
	struct nh_error *err = NULL;

	if (!socket_stream_start(s, fd, &err)) {
		log_warn("netdev %s: connected to %s but cannot use it: %s",
			 s->id, s->remote_str, err ? err->msg : "?");
		nh_error_free(err);
		socket_schedule_retry(s);
		return;
	}
	s->connected = true;
	s->fail_logged = false;
	if (s->ever_connected)
		s->reconnects++;
	s->ever_connected = true;
	log_info("netdev %s: connected to %s", s->id, s->remote_str);
}

/* socket_connect_failed() - log the first failure in a row at info, the
 * others at debug, and try again in reconnect= seconds */
static void socket_connect_failed(struct socket_state *s, int err)
{
	if (!s->fail_logged)
		log_info("netdev %s: connect=%s: %s; retrying every %u s",
			 s->id, s->remote_opt, strerror(err), s->reconnect_s);
	else
		log_debug("netdev %s: connect=%s: %s", s->id, s->remote_opt,
			  strerror(err));
	s->fail_logged = true;
	socket_schedule_retry(s);
}

/**
 * socket_on_attempt_closed() - the attempt's handle is closed, so its fd
 * may be closed or handed to a channel (whose engine may watch the same fd
 * with libuv: our handle must be gone first)
 */
static void socket_on_attempt_closed(uv_handle_t *h)
{
	struct socket_attempt *a = h->data;
	struct socket_state *s = a->s;

	if (s->attempt == a)
		s->attempt = NULL;
	if (!s->nd) {
		close(a->fd);
	} else if (a->err) {
		close(a->fd);
		socket_connect_failed(s, a->err);
	} else {
		socket_connected(s, a->fd);
	}
	free(a);
	socket_unref(s);
}

static void socket_on_connect_ready(uv_poll_t *h, int status, int events)
{
	struct socket_attempt *a = h->data;
	socklen_t len = sizeof(a->err);

	/* A refused connection raises POLLERR, which libuv reports as
	 * UV_EBADF: the socket's own error is the one to believe */
	(void)events;
	if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &a->err, &len) < 0)
		a->err = errno;
	else if (!a->err && status < 0)
		a->err = -status;
	uv_close((uv_handle_t *)h, socket_on_attempt_closed);
}

/* socket_stream_socket() - a non-blocking, close-on-exec TCP socket */
static int socket_stream_socket(int family)
{
	return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

/**
 * socket_connect_begin() - start an asynchronous connection (reconnect=)
 *
 * Completion is watched by a uv_poll_t of its own; the outcome is acted on
 * once that handle is closed (socket_on_attempt_closed()).
 */
static void socket_connect_begin(struct socket_state *s)
{
	struct socket_attempt *a;
	int fd, r;

	if (!s->nd || s->connected || s->attempt)
		return;
	fd = socket_stream_socket(s->remote.ss.ss_family);
	if (fd < 0) {
		socket_connect_failed(s, errno);
		return;
	}
	if (connect(fd, sockaddr_sa(&s->remote), s->remote.len) == 0) {
		socket_connected(s, fd);
		return;
	}
	if (errno != EINPROGRESS && errno != EINTR) {
		r = errno;
		close(fd);
		socket_connect_failed(s, r);
		return;
	}

	a = calloc(1, sizeof(*a));
	if (!a) {
		close(fd);
		socket_connect_failed(s, ENOMEM);
		return;
	}
	a->s = s;
	a->fd = fd;
	r = uv_poll_init_socket(socket_loop(), &a->poll, fd);
	if (r < 0) {
		free(a);
		close(fd);
		socket_connect_failed(s, -r);
		return;
	}
	a->poll.data = a;
	s->attempt = a;
	s->refs++; /* dropped in socket_on_attempt_closed() */
	r = uv_poll_start(&a->poll, UV_WRITABLE, socket_on_connect_ready);
	if (r < 0) {
		a->err = -r;
		uv_close((uv_handle_t *)&a->poll, socket_on_attempt_closed);
	}
}

/**
 * socket_connect_sync() - connect at open, waiting at most
 * SOCKET_CONNECT_WAIT_MS for the answer
 * Return: the connected socket, or -errno
 */
static int socket_connect_sync(const struct sockaddr_any *to)
{
	struct timespec start, now;
	int fd, err = 0;
	socklen_t len = sizeof(err);

	fd = socket_stream_socket(to->ss.ss_family);
	if (fd < 0)
		return -errno;
	if (connect(fd, sockaddr_sa(to), to->len) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EINTR) {
		err = errno;
		close(fd);
		return -err;
	}

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		long waited;
		int r;

		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - start.tv_sec) * 1000 +
			 (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited >= SOCKET_CONNECT_WAIT_MS) {
			err = ETIMEDOUT;
			break;
		}
		r = poll(&pfd, 1, (int)(SOCKET_CONNECT_WAIT_MS - waited));
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			err = ETIMEDOUT;
		else if (r < 0 ||
			 getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		break;
	}
	if (err) {
		close(fd);
		return -err;
	}
	return fd;
}

static bool socket_open_connect(struct socket_state *s, const char *text,
				struct nh_error **errp)
{
	int fd;

	if (!sockaddr_parse("connect", text, 0, SOCK_STREAM, &s->remote, errp))
		return false;
	snprintf(s->remote_opt, sizeof(s->remote_opt), "%s", text);
	sockaddr_str(sockaddr_sa(&s->remote), s->remote.len, s->remote_str,
		     sizeof(s->remote_str));

	if (s->reconnect_s) {
		uv_timer_init(socket_loop(), &s->timer);
		s->timer.data = s;
		s->timer_init = true;
		s->refs++;
		socket_connect_begin(s);
		return true;
	}

	fd = socket_connect_sync(&s->remote);
	if (fd < 0) {
		nh_error_setg(errp, "connect=%s: %s", text, strerror(-fd));
		return false;
	}
	if (!socket_stream_start(s, fd, errp))
		return false;
	s->connected = true;
	s->ever_connected = true;
	log_info("netdev %s: connected to %s", s->id, s->remote_str);
	return true;
}

/* -- listen= ------------------------------------------------------------ */

/**
 * socket_accepted() - a new peer: its own port "ID.N", N in accept order
 */
static void socket_accepted(struct socket_state *s, int fd,
			    const struct sockaddr_any *from)
{
	char suffix[16], addr[SOCKADDR_STR_MAX];
	struct nh_error *err = NULL;
	struct socket_peer *peer;
	struct io_chan_cfg cfg;

	sockaddr_str(sockaddr_sa(from), from->len, addr, sizeof(addr));
	if (from->ss.ss_family != AF_UNIX)
		socket_set_nodelay(fd);
	if (s->nd->next_peer == 0)
		s->nd->next_peer = 1;
	snprintf(suffix, sizeof(suffix), "%u", s->nd->next_peer++);

	socket_stream_cfg(&cfg);
	peer = socket_peer_start(s, suffix, fd, &cfg, -1, NULL, addr, &err);
	if (!peer) {
		log_warn("netdev %s: cannot take the connection from %s: %s",
			 s->id, addr, err ? err->msg : "?");
		nh_error_free(err);
		return;
	}
	log_info("port %s: connected from %s", peer->port->name, addr);
}

static void socket_on_accept(uv_poll_t *h, int status, int events);

static void socket_on_accept_resume(uv_timer_t *t)
{
	struct socket_state *s = t->data;

	if (s->nd && s->listen_init)
		uv_poll_start(&s->listen_poll, UV_READABLE, socket_on_accept);
}

/**
 * socket_on_accept() - take up to SOCKET_ACCEPT_BURST waiting connections
 *
 * Out of descriptors or memory, the listening socket would stay readable
 * and spin the loop: stop watching it for SOCKET_ACCEPT_BACKOFF_MS.
 */
static void socket_on_accept(uv_poll_t *h, int status, int events)
{
	struct socket_state *s = h->data;

	(void)events;
	if (status < 0) {
		log_warn("netdev %s: listening socket: %s", s->id,
			 uv_strerror(status));
		return;
	}
	for (unsigned i = 0; i < SOCKET_ACCEPT_BURST; i++) {
		struct sockaddr_any from;
		int fd;

		from.len = sizeof(from.ss);
		fd = accept4(s->listen_fd, (struct sockaddr *)&from.ss,
			     &from.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			socket_accepted(s, fd, &from);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		log_warn("netdev %s: accept: %s; not accepting for %u ms",
			 s->id, strerror(errno), SOCKET_ACCEPT_BACKOFF_MS);
		uv_poll_stop(&s->listen_poll);
		uv_timer_start(&s->timer, socket_on_accept_resume,
			       SOCKET_ACCEPT_BACKOFF_MS, 0);
		return;
	}
}

/**
 * socket_listen_start() - watch listening socket @fd (taken over) for
 * peers; the timer is for the accept back-off
 */
static bool socket_listen_start(struct socket_state *s, int fd,
				struct nh_error **errp)
{
	struct sockaddr_any local;
	int r;

	local.len = sizeof(local.ss);
	if (getsockname(fd, (struct sockaddr *)&local.ss, &local.len) == 0)
		sockaddr_str(sockaddr_sa(&local), local.len, s->local_str,
			     sizeof(s->local_str));

	r = uv_poll_init_socket(socket_loop(), &s->listen_poll, fd);
	if (r < 0) {
		nh_error_setg(errp, "netdev %s: cannot watch the socket: %s",
			      s->id, uv_strerror(r));
		close(fd);
		return false;
	}
	s->listen_poll.data = s;
	s->listen_fd = fd;
	s->listen_init = true;
	s->refs++;
	uv_timer_init(socket_loop(), &s->timer);
	s->timer.data = s;
	s->timer_init = true;
	s->refs++;

	r = uv_poll_start(&s->listen_poll, UV_READABLE, socket_on_accept);
	if (r < 0) {
		nh_error_setg(errp, "netdev %s: cannot watch the socket: %s",
			      s->id, uv_strerror(r));
		return false; /* the caller's teardown closes it */
	}
	return true;
}

static bool socket_open_listen(struct socket_state *s, const char *text,
			       struct nh_error **errp)
{
	struct sockaddr_any addr;
	int fd, one = 1;

	if (!sockaddr_parse("listen", text, SOCKADDR_F_PASSIVE, SOCK_STREAM,
			    &addr, errp))
		return false;
	fd = socket_stream_socket(addr.ss.ss_family);
	if (fd < 0) {
		nh_error_setg(errp, "listen=%s: %s", text, strerror(errno));
		return false;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, sockaddr_sa(&addr), addr.len) < 0 ||
	    listen(fd, SOCKET_LISTEN_BACKLOG) < 0) {
		nh_error_setg(errp, "listen=%s: %s", text, strerror(errno));
		close(fd);
		return false;
	}
	return socket_listen_start(s, fd, errp);
}

/* -- udp= and mcast= ---------------------------------------------------- */

static bool socket_open_udp(struct socket_state *s, const char *text,
			    const char *localaddr, struct nh_error **errp)
{
	struct sockaddr_any local;
	struct io_chan_cfg cfg;
	int fd, one = 1;

	if (!sockaddr_parse("udp", text, 0, SOCK_DGRAM, &s->remote, errp) ||
	    !sockaddr_parse("localaddr", localaddr, SOCKADDR_F_PASSIVE,
			    SOCK_DGRAM, &local, errp))
		return false;
	if (s->remote.ss.ss_family != local.ss.ss_family) {
		nh_error_setg(
		    errp,
		    "udp=%s and localaddr=%s are of different address families",
		    text, localaddr);
		return false;
	}
	sockaddr_str(sockaddr_sa(&s->remote), s->remote.len, s->remote_str,
		     sizeof(s->remote_str));

	fd = socket(local.ss.ss_family,
		    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		nh_error_setg(errp, "udp=%s: %s", text, strerror(errno));
		return false;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, sockaddr_sa(&local), local.len) < 0) {
		nh_error_setg(errp, "localaddr=%s: %s", localaddr,
			      strerror(errno));
		close(fd);
		return false;
	}
	socket_fd_addrs(fd, NULL, s->local_str, sizeof(s->local_str));

	socket_dgram_cfg(&cfg, &s->remote);
	/* Still one frame per datagram on the wire; the kernel just moves
	 * runs of them per call */
	cfg.flags = IO_CHAN_F_UDP_GRO | IO_CHAN_F_UDP_GSO;
	return socket_peer_start(s, NULL, fd, &cfg, -1, NULL, s->remote_str,
				 errp) != NULL;
}

static bool socket_is_multicast(const struct sockaddr_any *a)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;

	return a->ss.ss_family == AF_INET &&
	       IN_MULTICAST(ntohl(sin->sin_addr.s_addr));
}

/**
 * socket_mcast_start() - join @group and make the port "ID"
 * @ifaddr:	the interface to use (localaddr=), or INADDR_ANY
 * @opt:	"mcast=..." or "fd=N", for messages
 *
 * The group socket is QEMU's: SO_REUSEADDR, bound to group:port, a member
 * on @ifaddr, loopback on, so that members on one host hear each other.
 * Frames go out through a second socket bound to an ephemeral port and
 * connected to the group; its address, which getsockname() gives exactly,
 * is the source of our own frames when they come back on the group socket.
 */
static bool socket_mcast_start(struct socket_state *s, struct in_addr ifaddr,
			       const char *opt, struct nh_error **errp)
{
	const struct sockaddr_in *group =
	    (const struct sockaddr_in *)&s->remote.ss;
	struct io_chan_cfg rxcfg, txcfg;
	struct sockaddr_in bindto;
	struct ip_mreq mreq;
	int rx, tx, one = 1, ttl = SOCKET_MCAST_TTL;
	unsigned char loop = 1;
	const char *what;

	sockaddr_str(sockaddr_sa(&s->remote), s->remote.len, s->remote_str,
		     sizeof(s->remote_str));
	rx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (rx < 0) {
		nh_error_setg(errp, "%s: %s", opt, strerror(errno));
		return false;
	}
	memset(&mreq, 0, sizeof(mreq));
	mreq.imr_multiaddr = group->sin_addr;
	mreq.imr_interface = ifaddr;
	what = "bind";
	if (setsockopt(rx, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(rx, sockaddr_sa(&s->remote), s->remote.len) < 0)
		goto fail_rx;
	what = "cannot join the group";
	if (setsockopt(rx, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) <
	    0)
		goto fail_rx;
	what = "IP_MULTICAST_LOOP";
	if (setsockopt(rx, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop)) <
	    0)
		goto fail_rx;

	tx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (tx < 0) {
		what = "socket";
		goto fail_rx;
	}
	memset(&bindto, 0, sizeof(bindto));
	bindto.sin_family = AF_INET;
	bindto.sin_addr = ifaddr;
	what = "send socket";
	if (setsockopt(tx, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop)) <
		0 ||
	    setsockopt(tx, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) <
		0 ||
	    (ifaddr.s_addr != htonl(INADDR_ANY) &&
	     setsockopt(tx, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr,
			sizeof(ifaddr)) < 0) ||
	    bind(tx, (struct sockaddr *)&bindto, sizeof(bindto)) < 0)
		goto fail_tx;
	what = "cannot send to the group";
	if (connect(tx, sockaddr_sa(&s->remote), s->remote.len) < 0)
		goto fail_tx;
	s->echo.len = sizeof(s->echo.ss);
	if (getsockname(tx, (struct sockaddr *)&s->echo.ss, &s->echo.len) < 0)
		goto fail_tx;
	s->echo_set = true;
	sockaddr_str(sockaddr_sa(&s->echo), s->echo.len, s->local_str,
		     sizeof(s->local_str));

	socket_dgram_cfg(&rxcfg, NULL);
	/* GRO coalesces only datagrams of one flow (one source address), so
	 * the echo filter still sees each segment's true source */
	rxcfg.flags = IO_CHAN_F_SRCADDR | IO_CHAN_F_UDP_GRO;
	socket_dgram_cfg(&txcfg, NULL);
	txcfg.on_recv = socket_on_recv_ignore;
	return socket_peer_start(s, NULL, rx, &rxcfg, tx, &txcfg, s->remote_str,
				 errp) != NULL;

fail_tx:
	nh_error_setg(errp, "%s: %s: %s", opt, what, strerror(errno));
	close(tx);
	close(rx);
	return false;
fail_rx:
	nh_error_setg(errp, "%s: %s: %s", opt, what, strerror(errno));
	close(rx);
	return false;
}

static bool socket_open_mcast(struct socket_state *s, const char *text,
			      const char *localaddr, struct nh_error **errp)
{
	const struct sockaddr_in *sin =
	    (const struct sockaddr_in *)&s->remote.ss;
	struct in_addr ifaddr = {.s_addr = htonl(INADDR_ANY)};
	char opt[SOCKADDR_STR_MAX + 8];

	if (!sockaddr_parse("mcast", text, SOCKADDR_F_IPV4, SOCK_DGRAM,
			    &s->remote, errp))
		return false;
	if (!socket_is_multicast(&s->remote)) {
		char ip[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		nh_error_setg(errp, "mcast=: %s is not a multicast address",
			      ip);
		return false;
	}
	if (localaddr &&
	    !sockaddr_parse_ip4("localaddr", localaddr, &ifaddr, errp))
		return false;
	snprintf(opt, sizeof(opt), "mcast=%s", text);
	return socket_mcast_start(s, ifaddr, opt, errp);
}

/* -- fd= ---------------------------------------------------------------- */

/**
 * socket_open_fd() - an inherited or passed socket, owned from here on
 * @value:	fd='s value: a descriptor number, or the name of a
 *		descriptor passed with QMP getfd (see fdname.h)
 *
 * A connected stream is the port "ID", a listening one takes peers as
 * listen= does; a connected datagram socket sends to its peer; a datagram
 * socket bound to a multicast group is replaced by our own group sockets,
 * as QEMU clones it.  Anything else is refused.  A named descriptor was
 * taken from its session and is always ours: closed on any failure.  A
 * numbered one is ours once it is known to be a socket.
 */
static bool socket_open_fd(struct socket_state *s, const char *value,
			   struct nh_error **errp)
{
	bool named = value[0] < '0' || value[0] > '9';
	struct sockaddr_any a;
	struct io_chan_cfg cfg;
	socklen_t len;
	int fd, type, listening = 0, fl;

	fd = fdname_take(value, "fd", errp);
	if (fd < 0)
		return false;
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
		if (errno == ENOTSOCK)
			nh_error_setg(errp, "fd=%s: not a socket", value);
		else
			nh_error_setg(errp, "fd=%s: %s", value,
				      strerror(errno));
		if (named)
			close(fd);
		return false;
	}

	/* Ours from here on */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		nh_error_setg(errp, "fd=%s: %s", value, strerror(errno));
		close(fd);
		return false;
	}

	if (type == SOCK_STREAM) {
		len = sizeof(listening);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
			       &len) == 0 &&
		    listening)
			return socket_listen_start(s, fd, errp);
		a.len = sizeof(a.ss);
		if (getpeername(fd, (struct sockaddr *)&a.ss, &a.len) < 0) {
			nh_error_setg(errp,
				      "fd=%s: stream socket is neither "
				      "connected nor listening",
				      value);
			close(fd);
			return false;
		}
		return socket_stream_start(s, fd, errp);
	}

	if (type == SOCK_DGRAM) {
		a.len = sizeof(a.ss);
		if (getpeername(fd, (struct sockaddr *)&a.ss, &a.len) == 0) {
			sockaddr_str(sockaddr_sa(&a), a.len, s->remote_str,
				     sizeof(s->remote_str));
			socket_fd_addrs(fd, NULL, s->local_str,
					sizeof(s->local_str));
			socket_dgram_cfg(&cfg, NULL);
			return socket_peer_start(s, NULL, fd, &cfg, -1, NULL,
						 s->remote_str, errp) != NULL;
		}
		s->remote.len = sizeof(s->remote.ss);
		if (getsockname(fd, (struct sockaddr *)&s->remote.ss,
				&s->remote.len) == 0 &&
		    socket_is_multicast(&s->remote)) {
			struct in_addr any = {.s_addr = htonl(INADDR_ANY)};
			char opt[32];

			close(fd);
			snprintf(opt, sizeof(opt), "fd=%s", value);
			return socket_mcast_start(s, any, opt, errp);
		}
		nh_error_setg(errp,
			      "fd=%s: datagram socket is neither connected nor "
			      "bound to a multicast group",
			      value);
		close(fd);
		return false;
	}

	nh_error_setg(
	    errp, "fd=%s: socket type %d is neither SOCK_STREAM nor SOCK_DGRAM",
	    value, type);
	close(fd);
	return false;
}

/* -- ops ---------------------------------------------------------------- */

static void socket_on_listen_closed(uv_handle_t *h)
{
	struct socket_state *s = h->data;

	close(s->listen_fd);
	s->listen_fd = -1;
	socket_unref(s);
}

static void socket_on_timer_closed(uv_handle_t *h)
{
	socket_unref(h->data);
}

/**
 * socket_teardown() - stop everything, detach every port now; memory goes
 * when the last handle and channel callbacks have run
 */
static void socket_teardown(struct socket_state *s)
{
	s->nd = NULL;
	if (s->listen_init)
		uv_close((uv_handle_t *)&s->listen_poll,
			 socket_on_listen_closed);
	if (s->timer_init)
		uv_close((uv_handle_t *)&s->timer, socket_on_timer_closed);
	if (s->attempt && !uv_is_closing((uv_handle_t *)&s->attempt->poll))
		uv_close((uv_handle_t *)&s->attempt->poll,
			 socket_on_attempt_closed);
	s->attempt = NULL;
	while (s->peers)
		socket_peer_remove(s->peers);
	socket_unref(s);
}

/**
 * socket_after_loss() - a port went away: what becomes of the netdev
 *
 * listen= keeps listening; connect= with reconnect= tries again in
 * reconnect= seconds; otherwise the netdev stays, idle, without a port.
 */
static void socket_after_loss(struct socket_state *s, const char *what)
{
	if (!s->nd)
		return;
	switch (s->mode) {
	case SOCKET_LISTEN:
		break;
	case SOCKET_CONNECT:
		s->connected = false;
		s->local_str[0] = '\0';
		if (s->reconnect_s) {
			log_info("netdev %s: disconnected from %s (%s); "
				 "reconnecting every %u s",
				 s->id, s->remote_str, what, s->reconnect_s);
			socket_schedule_retry(s);
		} else {
			log_info("netdev %s: disconnected from %s (%s); idle, "
				 "no reconnect=",
				 s->id, s->remote_str, what);
		}
		break;
	default:
		if (!s->listen_init)
			log_info("netdev %s: no port left (%s); idle", s->id,
				 what);
		break;
	}
}

/* opts_get_opt_str() - string option @key into *@out (NULL when absent) */
/* The options of a socket netdev, as strings (borrowed from the object) */
struct socket_opts {
	const char *fd, *listen, *connect, *mcast, *udp, *localaddr;
	int64_t reconnect;
};

/* socket_parse_opts() - the option checks that need no resources */
static bool socket_parse_opts(const json_t *opts, struct socket_opts *o,
			      struct nh_error **errp)
{
	static const char *const known[] = {
	    "id",    "type",	  "fd",	 "listen",    "connect",
	    "mcast", "localaddr", "udp", "reconnect", NULL,
	};

	memset(o, 0, sizeof(*o));
	if (!opts_check_keys(opts, known, errp))
		return false;
	if (!opts_get_opt_str(opts, "fd", &o->fd, errp) ||
	    !opts_get_opt_str(opts, "listen", &o->listen, errp) ||
	    !opts_get_opt_str(opts, "connect", &o->connect, errp) ||
	    !opts_get_opt_str(opts, "mcast", &o->mcast, errp) ||
	    !opts_get_opt_str(opts, "udp", &o->udp, errp) ||
	    !opts_get_opt_str(opts, "localaddr", &o->localaddr, errp))
		return false;

	if (!!o->fd + !!o->listen + !!o->connect + !!o->mcast + !!o->udp !=
	    1) {
		nh_error_setg(errp, "exactly one of listen=, connect=, mcast= "
				    "or udp= is required (or fd= alone)");
		return false;
	}
	if (o->localaddr && !o->mcast && !o->udp) {
		nh_error_setg(errp,
			      "localaddr= is only valid with mcast= or udp=");
		return false;
	}
	if (o->udp && !o->localaddr) {
		nh_error_setg(errp, "localaddr= is mandatory with udp=");
		return false;
	}
	if (opts_has(opts, "reconnect")) {
		if (!opts_get_int(opts, "reconnect", 0, SOCKET_RECONNECT_MAX_S,
				  &o->reconnect, errp))
			return false;
		if (!o->connect) {
			nh_error_setg(errp,
				      "reconnect= is only valid with connect=");
			return false;
		}
	}
	return true;
}

/*
 * socket_check() - everything that can be told without opening a socket:
 * option names and combinations, and address syntax
 */
static bool socket_check(const json_t *opts, struct nh_error **errp)
{
	struct sockaddr_any addr;
	struct socket_opts o;

	if (!socket_parse_opts(opts, &o, errp))
		return false;
	if (o.listen)
		return sockaddr_parse("listen", o.listen, SOCKADDR_F_PASSIVE,
				      SOCK_STREAM, &addr, errp);
	if (o.connect)
		return sockaddr_parse("connect", o.connect, 0, SOCK_STREAM,
				      &addr, errp);
	if (o.udp)
		return sockaddr_parse("udp", o.udp, 0, SOCK_DGRAM, &addr,
				      errp) &&
		       sockaddr_parse("localaddr", o.localaddr,
				      SOCKADDR_F_PASSIVE, SOCK_DGRAM, &addr,
				      errp);
	if (o.mcast)
		return sockaddr_parse("mcast", o.mcast, 0, SOCK_DGRAM, &addr,
				      errp);
	return true;
}

static bool socket_open(struct netdev *nd, const json_t *opts,
			struct nh_error **errp)
{
	const char *fd, *listen_s, *connect_s, *mcast, *udp, *localaddr;
	struct socket_state *s;
	struct socket_opts o;
	int64_t reconnect;
	bool ok;

	if (!socket_check(opts, errp) || !socket_parse_opts(opts, &o, errp))
		return false;
	fd = o.fd;
	listen_s = o.listen;
	connect_s = o.connect;
	mcast = o.mcast;
	udp = o.udp;
	localaddr = o.localaddr;
	reconnect = o.reconnect;

	s = calloc(1, sizeof(*s));
	if (!s) {
		nh_error_setg(errp, "netdev %s: out of memory", nd->id);
		return false;
	}
	s->refs = 1;
	s->nd = nd;
	snprintf(s->id, sizeof(s->id), "%s", nd->id);
	s->listen_fd = -1;
	s->reconnect_s = (unsigned)reconnect;
	nd->priv = s;

	if (listen_s) {
		s->mode = SOCKET_LISTEN;
		ok = socket_open_listen(s, listen_s, errp);
	} else if (connect_s) {
		s->mode = SOCKET_CONNECT;
		ok = socket_open_connect(s, connect_s, errp);
	} else if (udp) {
		s->mode = SOCKET_UDP;
		ok = socket_open_udp(s, udp, localaddr, errp);
	} else if (mcast) {
		s->mode = SOCKET_MCAST;
		ok = socket_open_mcast(s, mcast, localaddr, errp);
	} else {
		s->mode = SOCKET_FD;
		ok = socket_open_fd(s, fd, errp);
	}
	if (!ok) {
		nd->priv = NULL;
		socket_teardown(s);
		return false;
	}
	if (s->mode == SOCKET_LISTEN || s->listen_init)
		log_info("netdev %s: listening on %s", s->id, s->local_str);
	return true;
}

static void socket_close(struct netdev *nd)
{
	struct socket_state *s = nd->priv;

	nd->priv = NULL;
	if (s)
		socket_teardown(s);
}

static unsigned socket_send(struct port *p, struct frame *const *frames,
			    unsigned n)
{
	struct socket_peer *peer = p->priv;
	struct io_chan *c;
	unsigned took;

	if (!peer || peer->closing)
		return 0;
	c = peer->txchan ? peer->txchan : peer->chan;
	if (!c)
		return 0;
	took = io_chan_send(c, frames, n);
	if (io_chan_tx_busy(c))
		port_tx_blocked(p);
	return took;
}

static void socket_rx_pause(struct port *p, bool pause)
{
	struct socket_peer *peer = p->priv;

	if (!peer || peer->closing || !peer->chan)
		return;
	if (pause)
		io_chan_pause(peer->chan);
	else
		io_chan_resume(peer->chan);
}

static void socket_info(const struct netdev *nd, json_t *obj)
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
	json_object_set_new(obj, "peers", json_integer(s->npeers));
	json_object_set_new(obj, "protocol-errors",
			    json_integer((json_int_t)s->protocol_errors));
	json_object_set_new(obj, "echoes-dropped",
			    json_integer((json_int_t)s->echoes_dropped));
	json_object_set_new(obj, "reconnects",
			    json_integer((json_int_t)s->reconnects));
}

static void socket_port_info(const struct port *p, json_t *obj)
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
