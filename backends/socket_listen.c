// SPDX-License-Identifier: MIT
/* socket_listen.c - the socket netdev's listen= mode: accepting peers
 *
 * Unlike QEMU, which serves one peer at a time, any number of peers: each
 * accepted connection is its own port "ID.N" (N in accept order), removed
 * when the peer goes, and the netdev keeps listening.  A listening socket
 * passed with fd= is served the same way.
 *
 * Owns: the listening socket and its uv_poll_t, and, in this mode, the
 * state's timer (the back-off after accept fails for want of descriptors
 * or memory).
 *
 * Never: let a burst of connects overflow the kernel's accept queue (a
 * deep backlog, and every waiting connection taken on each readiness),
 * spin the loop on a listening socket it cannot accept from, or touch the
 * netdev after close (s->nd NULL).
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "socket_internal.h"

/* socket_listen_lost() - on_peer_lost for listen=: nothing changes, the
 * netdev keeps listening for peers */
static void socket_listen_lost(struct socket_state *s, const char *why)
{
	(void)s;
	(void)why;
}

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
 * socket_on_accept() - take every waiting connection, until accept()
 * says there is none (EAGAIN)
 *
 * Taking fewer would leave connections queued (SOCKET_LISTEN_BACKLOG, as
 * clamped by net.core.somaxconn) for another loop turn while new ones
 * arrive, and a full queue drops SYNs: the client then waits a second for
 * its retransmit.  The loop ends once accept() has caught up with the
 * handshakes the kernel completes.
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
	while (s->nd) {
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

bool socket_listen_start(struct socket_state *s, int fd, struct nh_error **errp)
{
	struct sockaddr_any local;
	int r;

	local.len = sizeof(local.ss);
	if (getsockname(fd, (struct sockaddr *)&local.ss, &local.len) == 0)
		sockaddr_str(sockaddr_sa(&local), local.len, s->local_str,
			     sizeof(s->local_str));

	r = uv_poll_init_socket(socket_loop(s), &s->listen_poll, fd);
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
	uv_timer_init(socket_loop(s), &s->timer);
	s->timer.data = s;
	s->timer_init = true;
	s->refs++;
	s->on_peer_lost = socket_listen_lost;

	r = uv_poll_start(&s->listen_poll, UV_READABLE, socket_on_accept);
	if (r < 0) {
		nh_error_setg(errp, "netdev %s: cannot watch the socket: %s",
			      s->id, uv_strerror(r));
		return false; /* the caller's teardown closes it */
	}
	return true;
}

bool socket_open_listen(struct socket_state *s, const char *text,
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

static void socket_on_listen_closed(uv_handle_t *h)
{
	socket_unref(h->data);
}

/* The listening socket is closed before this returns, so that netdev_del
 * frees its address at once: uv_close() takes the fd out of the loop's
 * poll set synchronously; only the handle's memory waits for the callback */
void socket_listen_stop(struct socket_state *s)
{
	if (s->listen_init)
		uv_close((uv_handle_t *)&s->listen_poll,
			 socket_on_listen_closed);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		s->listen_fd = -1;
	}
}
