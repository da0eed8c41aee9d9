// SPDX-License-Identifier: MIT
/* socket_opts.c - the socket netdev's options: names, combinations and
 * address syntax
 *
 * Exactly one of fd=, listen=, connect=, mcast=, udp=; localaddr= with
 * udp= (mandatory) or mcast=; nethub's extensions reconnect= (with
 * connect=) and udp-any-source= (with udp=).  Messages name the option,
 * as QEMU's do.
 *
 * Owns: nothing; the strings it returns are borrowed from the options.
 *
 * Never: open a socket or touch a descriptor (fd= is only looked at when
 * the netdev opens), or keep anything between calls.
 */

#include <string.h>
#include <sys/socket.h>

#include "opts.h"
#include "socket_internal.h"

bool socket_parse_opts(const json_t *opts, struct socket_opts *o,
		       struct nh_error **errp)
{
	static const char *const known[] = {
	    "id",	 "type",	   "fd",	"listen",
	    "connect",	 "mcast",	   "localaddr", "udp",
	    "reconnect", "udp-any-source", NULL,
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

	if (!!o->fd + !!o->listen + !!o->connect + !!o->mcast + !!o->udp != 1) {
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
	if (opts_has(opts, "udp-any-source")) {
		if (!opts_get_bool(opts, "udp-any-source", &o->udp_any_source,
				   errp))
			return false;
		if (!o->udp) {
			nh_error_setg(errp, "udp-any-source= is only valid "
					    "with udp=");
			return false;
		}
	}
	return true;
}

bool socket_check(const json_t *opts, struct nh_error **errp)
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
