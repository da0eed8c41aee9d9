/* SPDX-License-Identifier: MIT */
/* sockaddr.h - "host:port" option values to socket addresses and back
 *
 * The address syntax of QEMU's socket, stream and dgram netdevs:
 *
 *   host:port      an IPv4 address or a host name (resolved with
 *                  getaddrinfo, first answer wins)
 *   [v6addr]:port  an IPv6 address, in brackets
 *   :port          no host: 0.0.0.0, as QEMU's parse_host_port() does
 *
 * Errors name the option: "listen=: host:port expected, got 'foo'".
 * Resolution may block (getaddrinfo): control path only.
 */
#ifndef NH_SOCKADDR_H
#define NH_SOCKADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "error.h"

/* Room for "[v6addr%scope]:port" and a unix path, with the NUL */
#define SOCKADDR_STR_MAX 128

#define SOCKADDR_F_PASSIVE 0x1 /* an address to bind: port 0 allowed */
#define SOCKADDR_F_IPV4	   0x2 /* IPv4 only (multicast, QEMU's udp) */

/* A resolved address with its length */
struct sockaddr_any {
	struct sockaddr_storage ss;
	socklen_t len;
};

static inline const struct sockaddr *sockaddr_sa(const struct sockaddr_any *a)
{
	return (const struct sockaddr *)&a->ss;
}

/**
 * sockaddr_parse() - parse "host:port" of option @opt
 * @opt:	option name for messages, without '=' ("listen")
 * @text:	the option's value
 * @flags:	SOCKADDR_F_*
 * @socktype:	SOCK_STREAM or SOCK_DGRAM, a hint for host name lookups
 * @out:	the address
 *
 * Return: false with errp set ("listen=: host:port expected, got 'foo'",
 * "connect=: port number expected after ':', got 'h:x'", "connect=: cannot
 * resolve host 'h': Name or service not known").
 */
bool sockaddr_parse(const char *opt, const char *text, unsigned flags,
		    int socktype, struct sockaddr_any *out,
		    struct nh_error **errp);

/**
 * sockaddr_parse_ip4() - a bare IPv4 address (mcast's localaddr=)
 * Return: false with errp "localaddr=: IPv4 address expected, got 'x'"
 */
bool sockaddr_parse_ip4(const char *opt, const char *text, struct in_addr *out,
			struct nh_error **errp);

/**
 * sockaddr_str() - "1.2.3.4:5", "[::1]:5", a unix path or "unix"
 * Return: @buf (always NUL-terminated; "?" for an unknown family)
 */
const char *sockaddr_str(const struct sockaddr *sa, socklen_t len, char *buf,
			 size_t size);

/**
 * sockaddr_same() - same family, address and port (IPv4, IPv6); cheap
 * enough to call per datagram
 */
bool sockaddr_same(const struct sockaddr *a, socklen_t alen,
		   const struct sockaddr *b, socklen_t blen);

#endif /* NH_SOCKADDR_H */
