// SPDX-License-Identifier: MIT
/* socket_dgram.c - the socket netdev's datagram modes: udp= and mcast=
 *
 *   udp=host:port   one port "ID" on a socket bound to localaddr=
 *                   (mandatory), sending to udp=.  Only datagrams from the
 *                   udp= address are taken as frames; others are dropped
 *                   and counted, unless udp-any-source=on (nethub's
 *                   extension; QEMU takes them from anyone).
 *   mcast=group:port  one port "ID"; QEMU's group socket for receiving, a
 *                   second, connected socket for sending, so that our own
 *                   looped-back frames are recognised by their exact
 *                   source address and dropped.
 *
 * Both batch datagrams through the kernel (UDP GRO to receive; GSO to send
 * on udp=); the wire stays one frame per datagram.
 *
 * Owns: nothing beyond open: the sockets go to the peer's channels.
 *
 * Never: connect() the udp= socket (it would make the kernel drop a
 * stranger's datagrams uncounted, and report ICMP errors as receive
 * errors), or touch the netdev after close (s->nd NULL).
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "socket_internal.h"

bool socket_open_udp(struct socket_state *s, const char *text,
		     const char *localaddr, bool any_source,
		     struct nh_error **errp)
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
	if (!any_source) {
		/* The engine reports each datagram's source with it, also
		 * after GRO (which coalesces one source's datagrams only) */
		s->only_from = s->remote;
		s->only_from_set = true;
		cfg.flags |= IO_CHAN_F_SRCADDR;
	}
	return socket_peer_start(s, NULL, fd, &cfg, -1, NULL, s->remote_str,
				 errp) != NULL;
}

bool socket_is_multicast(const struct sockaddr_any *a)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;

	return a->ss.ss_family == AF_INET &&
	       IN_MULTICAST(ntohl(sin->sin_addr.s_addr));
}

/*
 * socket_mcast_start(): the group socket is QEMU's: SO_REUSEADDR, bound to
 * group:port, a member on @ifaddr, loopback on, so that members on one host
 * hear each other.  Frames go out through a second socket bound to an
 * ephemeral port and connected to the group; its address, which
 * getsockname() gives exactly, is the source of our own frames when they
 * come back on the group socket.
 */
bool socket_mcast_start(struct socket_state *s, struct in_addr ifaddr,
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

bool socket_open_mcast(struct socket_state *s, const char *text,
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
