/* SPDX-License-Identifier: MIT */
/* socket_internal.h - what the files of the "socket" netdev share
 *
 * QEMU's socket netdev is one backend (one struct backend_ops, in
 * socket.c) written in several files, one per job:
 *
 *   socket.c          the ops table: open picks the mode, close tears down;
 *                     send, rx_pause and info act on the peers
 *   socket_opts.c     option names, combinations and address syntax
 *   socket_listen.c   listen= (and a listening fd=): accepting peers
 *   socket_connect.c  connect=: connecting, and reconnecting (reconnect=)
 *   socket_dgram.c    udp= and mcast=
 *   socket_fd.c       fd=: adopting a socket, then started as the mode its
 *                     kind of socket belongs to
 *   socket_peer.c     the per-frame path: a port and its I/O channels,
 *                     QEMU's stream framing, datagrams, a peer's end
 *
 * Calls point one way:
 *
 *   socket.c ──▶ socket_opts.c
 *      │
 *      └──▶ socket_listen.c, socket_connect.c, socket_dgram.c, socket_fd.c
 *                 │      (socket_fd.c ──▶ socket_listen.c, socket_dgram.c)
 *                 ▼
 *           socket_peer.c
 *
 * socket_peer.c calls no mode.  When a port goes, what becomes of the
 * netdev is the mode's business: the mode sets socket_state.on_peer_lost
 * at open, and the peer code calls that hook.
 *
 * Lifetime: struct socket_state is reference counted (refs): one for the
 * open netdev, one per libuv handle until its close callback, one per
 * peer until its last channel's done callback.  After close() s->nd is
 * NULL and no file may touch the netdev again.
 */
#ifndef NH_SOCKET_INTERNAL_H
#define NH_SOCKET_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <uv.h>

#include "error.h"
#include "io.h"
#include "netdev.h"
#include "port.h"
#include "sockaddr.h"

#define SOCKET_STREAM_HLEN	 4		/* big-endian frame length */
#define SOCKET_STREAM_MAX_FRAME	 (4096 + 65536) /* QEMU's NET_BUFSIZE */
#define SOCKET_STREAM_BUF	 ((size_t)128 * 1024) /* > max frame + header */
#define SOCKET_CONNECT_WAIT_MS	 5000 /* open's synchronous connect */
#define SOCKET_RECONNECT_MAX_S	 3600
#define SOCKET_ACCEPT_BACKOFF_MS 1000 /* pause after EMFILE & co */
/* Asked of listen(); the kernel clamps it to net.core.somaxconn (4096 by
 * default since Linux 5.4).  A small queue overflows under a burst of
 * connects, and each connect that overflows waits for a SYN retransmit
 * (a second) */
#define SOCKET_LISTEN_BACKLOG 65535
#define SOCKET_MCAST_TTL      1
#define SOCKET_UDP4_MAX	      65507 /* 65535 - IPv4 - UDP header */
#define SOCKET_UDP6_MAX	      65527 /* 65535 - UDP header */

enum socket_mode {
	SOCKET_LISTEN,
	SOCKET_CONNECT,
	SOCKET_UDP,
	SOCKET_MCAST,
	SOCKET_FD,
	SOCKET_DGRAM, /* the dgram netdev */
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
	uv_loop_t *loop;	/* nd->loop, kept past close */
	enum socket_mode mode;
	unsigned refs; /* open + handles + peers */

	/**
	 * on_peer_lost() - set by the mode at open: a port went away (@why:
	 * "peer closed", "error", "protocol error"); what becomes of the
	 * netdev.  Called only while the netdev is open.  NULL: it stays,
	 * idle, without a port (logged once).
	 */
	void (*on_peer_lost)(struct socket_state *s, const char *why);

	struct sockaddr_any remote; /* connect=, udp=, mcast= */
	char local_str[SOCKADDR_STR_MAX];
	char remote_str[SOCKADDR_STR_MAX];
	char remote_opt[256]; /* connect=: "connect=h:p", for messages */

	/* A unix socket file we made (stream's server), removed at close
	 * if it is still ours */
	char own_path[108];
	dev_t own_dev;
	ino_t own_ino;

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

	/* udp=: datagrams are taken only from this source (the udp= peer)
	 * unless udp-any-source=on */
	struct sockaddr_any only_from;
	bool only_from_set;

	struct socket_peer *peers;
	unsigned npeers;

	uint64_t protocol_errors, echoes_dropped, reconnects;
	uint64_t foreign_dropped; /* udp=: datagrams from another source */
};

/* The options of a socket netdev, as given (strings borrowed from the
 * options object) */
struct socket_opts {
	const char *fd, *listen, *connect, *mcast, *udp, *localaddr;
	int64_t reconnect;   /* 0: not given */
	bool udp_any_source; /* udp-any-source=on */
};

/* socket_loop() - the loop @s's netdev runs on; its handles live there */
static inline uv_loop_t *socket_loop(const struct socket_state *s)
{
	return s->loop;
}

/* socket_unref() - drop a reference on @s; the last one frees it */
static inline void socket_unref(struct socket_state *s)
{
	if (--s->refs == 0)
		free(s);
}

/* -- socket.c: the ops, shared with the stream and dgram netdevs -------- */

/* socket_state_new() - the state of @nd, one reference held by the open
 * netdev, or NULL with errp set */
struct socket_state *socket_state_new(struct netdev *nd, enum socket_mode mode,
				      struct nh_error **errp);

/* socket_teardown() - stop everything, detach every port now; memory goes
 * when the last handle and channel callbacks have run */
void socket_teardown(struct socket_state *s);

void socket_close(struct netdev *nd);
unsigned socket_send(struct port *p, struct frame *const *frames, unsigned n);
void socket_rx_pause(struct port *p, bool pause);
void socket_info(const struct netdev *nd, json_t *obj);
void socket_port_info(const struct port *p, json_t *obj);

/* -- socket_opts.c ------------------------------------------------------ */

/**
 * socket_parse_opts() - the options into @o: known names, types, ranges,
 * the combinations QEMU allows (and nethub's extensions'); no address is
 * resolved.  Return: false with errp naming the option.
 */
bool socket_parse_opts(const json_t *opts, struct socket_opts *o,
		       struct nh_error **errp);

/**
 * socket_check() - the backend's check op: socket_parse_opts() and the
 * syntax of every address, without opening a socket
 */
bool socket_check(const json_t *opts, struct nh_error **errp);

/* -- socket_peer.c: the per-frame path ---------------------------------- */

/**
 * socket_peer_start() - make a port for a socket (or an mcast pair)
 * @s:		the netdev's state (must be open: s->nd set)
 * @suffix:	NULL for a port named "ID", "N" for "ID.N"
 * @fd:		the socket; taken over (closed on failure)
 * @cfg:	its channel (socket_stream_cfg(), socket_dgram_cfg());
 *		opaque is set here
 * @txfd:	mcast's send socket, taken over, or -1
 * @txcfg:	its channel, or NULL
 * @addr:	the far end, for port_info
 *
 * The channels exist before the port, so the switch may send at once.
 * The peer holds a reference on @s until its last channel is done.
 * Return: the peer, or NULL with errp set and nothing left behind.
 */
struct socket_peer *socket_peer_start(struct socket_state *s,
				      const char *suffix, int fd,
				      struct io_chan_cfg *cfg, int txfd,
				      struct io_chan_cfg *txcfg,
				      const char *addr, struct nh_error **errp);

/**
 * socket_peer_remove() - take a peer's port off the switch at once and
 * close its channels; the memory goes when their done callbacks have run
 * (which may be before this returns: the caller must not touch @peer)
 */
void socket_peer_remove(struct socket_peer *peer);

/* socket_stream_cfg() - a stream channel in QEMU's framing */
void socket_stream_cfg(struct io_chan_cfg *cfg);

/**
 * socket_dgram_cfg() - a datagram channel, one frame per datagram
 * @dest:	where to send on an unconnected socket (udp=), or NULL
 *
 * With IO_CHAN_F_SRCADDR in cfg->flags, datagrams from our own mcast
 * send socket (s->echo) and, for udp=, from anyone but s->only_from are
 * dropped and counted.
 */
void socket_dgram_cfg(struct io_chan_cfg *cfg, const struct sockaddr_any *dest);

/**
 * socket_on_recv_ignore() - on_recv for mcast's send socket: it is
 * connected to the group, so nothing should arrive; whatever does is not
 * a frame for us
 */
void socket_on_recv_ignore(struct io_chan *c, const struct io_msg *msgs,
			   unsigned n);

/**
 * socket_stream_start() - make the port "ID" for a connected stream socket
 * (connect=, fd=); takes over @fd.  Sets s->local_str, and s->remote_str
 * unless the mode is connect= (which names its peer as configured).
 */
bool socket_stream_start(struct socket_state *s, int fd,
			 struct nh_error **errp);

/* socket_set_nodelay() - frames go out as they come; not for unix sockets */
void socket_set_nodelay(int fd);

/* socket_fd_addrs() - a socket's far and near ends as text; either buffer
 * may be NULL; "?" and "" when the socket cannot tell */
void socket_fd_addrs(int fd, char *peer, char *local, size_t size);

/* -- the modes ---------------------------------------------------------- */

/* socket_stream_socket() - a non-blocking, close-on-exec TCP socket */
static inline int socket_stream_socket(int family)
{
	return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

/* socket_listen.c: listen=HOST:PORT (@text) */
bool socket_open_listen(struct socket_state *s, const char *text,
			struct nh_error **errp);

/**
 * socket_listen_start() - watch listening socket @fd (taken over) for
 * peers, each made a port "ID.N"; sets up the timer for the accept
 * back-off.  On failure @fd is closed, or left for socket_listen_stop().
 */
bool socket_listen_start(struct socket_state *s, int fd,
			 struct nh_error **errp);

/* socket_listen_stop() - stop accepting; the listening socket is closed
 * when its handle is (teardown) */
void socket_listen_stop(struct socket_state *s);

/* socket_connect.c: connect=HOST:PORT (@text); with s->reconnect_s set,
 * starts even when the peer cannot be reached */
bool socket_open_connect(struct socket_state *s, const char *text,
			 struct nh_error **errp);

/**
 * socket_connect_start() - connect to s->remote (set by the caller: TCP or
 * unix), as connect= does; @label names the address in messages
 * ("connect=h:p", "addr=unix:/p")
 */
bool socket_connect_start(struct socket_state *s, const char *label,
			  struct nh_error **errp);

/* socket_connect_stop() - abandon a connect attempt in flight (teardown) */
void socket_connect_stop(struct socket_state *s);

/* socket_dgram.c: udp=@text,localaddr=@localaddr; @any_source: take
 * datagrams from every source, not only from the udp= address */
bool socket_open_udp(struct socket_state *s, const char *text,
		     const char *localaddr, bool any_source,
		     struct nh_error **errp);

/* socket_dgram.c: mcast=@text[,localaddr=@localaddr] */
bool socket_open_mcast(struct socket_state *s, const char *text,
		       const char *localaddr, struct nh_error **errp);

/**
 * socket_mcast_start() - join the group in s->remote and make the port
 * "ID"
 * @ifaddr:	the interface to use (localaddr=), or INADDR_ANY
 * @opt:	"mcast=..." or "fd=N", for messages
 */
bool socket_mcast_start(struct socket_state *s, struct in_addr ifaddr,
			const char *opt, struct nh_error **errp);

/* socket_is_multicast() - an IPv4 multicast address */
bool socket_is_multicast(const struct sockaddr_any *a);

/* socket_fd.c: fd=N or fd=NAME (@value), see socket_fd.c */
bool socket_open_fd(struct socket_state *s, const char *value,
		    struct nh_error **errp);

#endif /* NH_SOCKET_INTERNAL_H */
