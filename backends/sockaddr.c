// SPDX-License-Identifier: MIT
/* sockaddr.c - host:port option values to socket addresses, and back
 *
 * Owns nothing: pure parsing and formatting for the socket-family backends.
 * Must never be called on the per-frame path except sockaddr_same(); the
 * parser may block in getaddrinfo().
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "sockaddr.h"

#define SOCKADDR_HOST_MAX 256

/* sockaddr_parse_port() - decimal 0..65535, nothing else */
static bool sockaddr_parse_port(const char *s, unsigned *port)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return false;
	*port = (unsigned)v;
	return true;
}

/* sockaddr_resolve() - numeric address or host name to @out (port unset) */
static bool sockaddr_resolve(const char *opt, const char *host, unsigned flags,
			     int socktype, struct sockaddr_any *out,
			     struct nh_error **errp)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
	struct addrinfo hints, *res, *ai;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!*host) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		out->len = sizeof(*sin);
		return true;
	}
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		out->len = sizeof(*sin);
		return true;
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = (flags & SOCKADDR_F_IPV4) ? AF_INET : AF_UNSPEC;
	hints.ai_socktype = socktype;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc) {
		nh_error_setg(
		    errp, "%s=: cannot resolve host '%s': %s", opt, host,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return false;
	}
	/* Prefer IPv4, as QEMU (gethostbyname) does: "localhost" is
	 * 127.0.0.1 even where ::1 is listed first */
	for (ai = res; ai; ai = ai->ai_next)
		if (ai->ai_family == AF_INET)
			break;
	if (!ai)
		ai = res;
	if (!ai || ai->ai_addrlen > sizeof(out->ss)) {
		if (res)
			freeaddrinfo(res);
		nh_error_setg(errp, "%s=: cannot use the address of host '%s'",
			      opt, host);
		return false;
	}
	memcpy(&out->ss, ai->ai_addr, ai->ai_addrlen);
	out->len = ai->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

bool sockaddr_parse(const char *opt, const char *text, unsigned flags,
		    int socktype, struct sockaddr_any *out,
		    struct nh_error **errp)
{
	char host[SOCKADDR_HOST_MAX];
	const char *portstr;
	bool bracketed = text[0] == '[';
	unsigned port;
	size_t hlen;

	if (bracketed) {
		/* [v6addr]:port */
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			goto bad_form;
		hlen = (size_t)(close - text - 1);
		if (hlen >= sizeof(host))
			goto bad_form;
		memcpy(host, text + 1, hlen);
		portstr = close + 2;
	} else {
		const char *colon = strrchr(text, ':');

		if (!colon)
			goto bad_form;
		hlen = (size_t)(colon - text);
		if (memchr(text, ':', hlen)) {
			nh_error_setg(errp,
				      "%s=: host:port expected, got '%s' (an "
				      "IPv6 address goes in brackets: "
				      "[::1]:port)",
				      opt, text);
			return false;
		}
		if (hlen >= sizeof(host))
			goto bad_form;
		memcpy(host, text, hlen);
		portstr = colon + 1;
	}
	host[hlen] = '\0';

	if (!sockaddr_parse_port(portstr, &port)) {
		nh_error_setg(errp,
			      "%s=: port number (0 to 65535) expected after "
			      "':', got '%s'",
			      opt, text);
		return false;
	}
	if (port == 0 && !(flags & SOCKADDR_F_PASSIVE)) {
		nh_error_setg(errp, "%s=: port 0 is not valid here, got '%s'",
			      opt, text);
		return false;
	}

	if (bracketed) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

		if (flags & SOCKADDR_F_IPV4) {
			nh_error_setg(errp,
				      "%s=: IPv4 address expected, got '%s'",
				      opt, text);
			return false;
		}
		memset(out, 0, sizeof(*out));
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			nh_error_setg(
			    errp, "%s=: '%s' is not an IPv6 address, in '%s'",
			    opt, host, text);
			return false;
		}
		sin6->sin6_family = AF_INET6;
		out->len = sizeof(*sin6);
	} else if (!sockaddr_resolve(opt, host, flags, socktype, out, errp)) {
		return false;
	}

	if (out->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&out->ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&out->ss)->sin6_port = htons(port);
	return true;

bad_form:
	nh_error_setg(errp, "%s=: host:port expected, got '%s'", opt, text);
	return false;
}

bool sockaddr_parse_ip4(const char *opt, const char *text, struct in_addr *out,
			struct nh_error **errp)
{
	if (inet_pton(AF_INET, text, out) != 1) {
		nh_error_setg(errp, "%s=: IPv4 address expected, got '%s'", opt,
			      text);
		return false;
	}
	return true;
}

const char *sockaddr_str(const struct sockaddr *sa, socklen_t len, char *buf,
			 size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(buf, size, "%s:%u", ip, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6 &&
		   len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, size, "[%s]:%u", ip, ntohs(sin6->sin6_port));
	} else if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
		size_t plen = len > offsetof(struct sockaddr_un, sun_path)
				  ? len - offsetof(struct sockaddr_un, sun_path)
				  : 0;

		if (plen && sun->sun_path[0])
			snprintf(buf, size, "%.*s",
				 (int)strnlen(sun->sun_path, plen),
				 sun->sun_path);
		else
			snprintf(buf, size, "unix");
	} else {
		snprintf(buf, size, "?");
	}
	return buf;
}

bool sockaddr_same(const struct sockaddr *a, socklen_t alen,
		   const struct sockaddr *b, socklen_t blen)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;

		return alen >= sizeof(*x) && blen >= sizeof(*y) &&
		       x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;

		return alen >= sizeof(*x) && blen >= sizeof(*y) &&
		       x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr,
			       sizeof(x->sin6_addr));
	}
	return false;
}
