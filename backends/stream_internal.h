/* SPDX-License-Identifier: MIT */
/* stream_internal.h - what the stream and dgram netdevs share
 *
 * QEMU 7.2's stream and dgram netdevs are the socket netdev's wire
 * formats with SocketAddress options.  nethub builds them on the socket
 * backend (socket_internal.h): the same state, peers, framing, listening
 * and reconnecting code; these files add the options and the opening:
 *
 *   stream_addr.c  SocketAddress options, nested (QMP) or flat (keyval)
 *   stream.c       the two ops tables; opening each kind of address
 */
#ifndef NH_STREAM_INTERNAL_H
#define NH_STREAM_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"
#include "sockaddr.h"

enum stream_addr_type {
	STREAM_ADDR_INET,
	STREAM_ADDR_UNIX,
	STREAM_ADDR_FD,
};

/* One SocketAddress option, read and resolved */
struct stream_addr {
	enum stream_addr_type type;
	struct sockaddr_any sa;	     /* inet, unix */
	const char *path;	     /* unix: borrowed from the options */
	bool abstract;		     /* unix: in the abstract namespace */
	const char *fd;		     /* fd: the number or name, borrowed */
	char text[SOCKADDR_STR_MAX]; /* "unix:/p", "h:p", "fd:3" */
};

/**
 * stream_addr_members() - the members of address option @name of @opts:
 * its nested object, or its flat "NAME.KEY" keys gathered into a new one
 * Return: a new reference, or NULL when the option is absent
 */
json_t *stream_addr_members(const json_t *opts, const char *name);

/**
 * stream_addr_parse() - address option @name into @a
 * @flags, @socktype:	as sockaddr_parse() takes them (inet addresses)
 * Return: false with errp naming the member ("Parameter 'addr.path' is
 * missing", "Parameter 'addr.type' does not accept value 'x'").
 */
bool stream_addr_parse(const json_t *opts, const char *name, unsigned flags,
		       int socktype, struct stream_addr *a,
		       struct nh_error **errp);

/**
 * stream_check_keys() - every key of @opts is one of @known, or an
 * address option of @addrs, nested ("addr") or flat ("addr.path")
 * Error: "Parameter 'X' is unexpected"
 */
bool stream_check_keys(const json_t *opts, const char *const *known,
		       const char *const *addrs, struct nh_error **errp);

#endif /* NH_STREAM_INTERNAL_H */
