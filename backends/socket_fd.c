// SPDX-License-Identifier: MIT
/* socket_fd.c - the socket netdev's fd= mode: adopting an open socket
 *
 * fd=N names an inherited descriptor, fd=NAME one passed with QMP getfd
 * (see fdname.h).  What kind of socket it is decides how it is served: a
 * connected stream is the port "ID"; a listening stream takes peers as
 * listen= does (socket_listen.c); a connected datagram socket sends to its
 * peer; a datagram socket bound to a multicast group is replaced by our
 * own group sockets, as QEMU clones it (socket_dgram.c).
 *
 * Owns: the descriptor from the moment it is known to be a socket (a
 * named one from the start) until it is handed to a channel or a
 * listening handle.
 *
 * Never: leave a descriptor it owns open on failure, close a numbered
 * descriptor that is not a socket (it is not ours), or touch the netdev
 * after close (s->nd NULL).
 */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdname.h"
#include "socket_internal.h"

/* socket_open_dgram_fd() - a datagram socket given with fd=@value */
static bool socket_open_dgram_fd(struct socket_state *s, int fd,
				 const char *value, struct nh_error **errp)
{
	struct sockaddr_any a;
	struct io_chan_cfg cfg;

	a.len = sizeof(a.ss);
	if (getpeername(fd, (struct sockaddr *)&a.ss, &a.len) == 0) {
		sockaddr_str(sockaddr_sa(&a), a.len, s->remote_str,
			     sizeof(s->remote_str));
		socket_fd_addrs(fd, NULL, s->local_str, sizeof(s->local_str));
		socket_dgram_cfg(&cfg, NULL);
		return socket_peer_start(s, NULL, fd, &cfg, -1, NULL,
					 s->remote_str, errp) != NULL;
	}
	s->remote.len = sizeof(s->remote.ss);
	if (getsockname(fd, (struct sockaddr *)&s->remote.ss, &s->remote.len) ==
		0 &&
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

/**
 * socket_open_fd() - an inherited or passed socket, owned from here on
 * @value:	fd='s value: a descriptor number, or the name of a
 *		descriptor passed with QMP getfd (see fdname.h)
 *
 * Anything but a stream or datagram socket is refused.  A named
 * descriptor was taken from its session and is always ours: closed on any
 * failure.  A numbered one is ours once it is known to be a socket.
 */
bool socket_open_fd(struct socket_state *s, const char *value,
		    struct nh_error **errp)
{
	bool named = value[0] < '0' || value[0] > '9';
	struct sockaddr_any a;
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
	if (type == SOCK_DGRAM)
		return socket_open_dgram_fd(s, fd, value, errp);

	nh_error_setg(
	    errp, "fd=%s: socket type %d is neither SOCK_STREAM nor SOCK_DGRAM",
	    value, type);
	close(fd);
	return false;
}
