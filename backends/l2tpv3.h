/* SPDX-License-Identifier: MIT */
/* l2tpv3.h - what the files of the "l2tpv3" netdev share
 *
 *   l2tpv3_opts.c  option names, types, combinations (QEMU's rules) and
 *                  the header layout they give
 *   l2tpv3.c       the ops table: the socket, its channel, the header on
 *                  each frame sent, the checks on each datagram received
 *
 * The header, as QEMU's net/l2tpv3.c lays it out (all big-endian):
 *
 *   udp=on only:   00 03 00 00  (T=0: data, version 3)
 *   always:        session id (4 bytes): txsession sent, rxsession checked
 *   with cookies:  cookie (4 bytes, or 8 with cookie64)
 *   counter=on:    counter (4 bytes): 1, 2, 3 ... or 0 with pincounter=on
 *   offset=N:      N bytes, sent as zeros, skipped on receipt
 *
 * then the Ethernet frame.  Over IP (udp=off) the datagram is IP protocol
 * 115 on a raw socket; an IPv4 raw socket also receives the IP header.
 */
#ifndef NH_L2TPV3_H
#define NH_L2TPV3_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define L2TPV3_IPPROTO	     115	/* IANA: L2TPv3 over IP */
#define L2TPV3_UDP_WORD	     0x00030000u /* T=0, version 3 */
#define L2TPV3_OFFSET_MAX    256	/* QEMU's limit on offset= */
#define L2TPV3_COUNTER_RESYNC 64	/* stale counters in a row before the
					 * peer is taken to have restarted */

/* The options of one l2tpv3 netdev, checked; strings borrowed */
struct l2tpv3_opts {
	const char *src, *dst;
	const char *srcport, *dstport; /* NULL unless udp=on */
	bool ipv6, udp;
	bool cookie, cookie64;	       /* cookies in use; 8 bytes long */
	bool counter;		       /* a counter word is on the wire */
	bool pincounter;	       /* ... and it is always 0 */
	uint64_t txcookie, rxcookie;
	uint32_t txsession, rxsession;
	uint32_t offset;

	/* the layout these give (bytes from the start of the header) */
	unsigned session_at, cookie_at, counter_at;
	unsigned hlen; /* the whole header, offset= included */
};

/**
 * l2tpv3_parse_opts() - the options into @o, checked as QEMU checks them
 * (txsession required; txcookie and rxcookie both or neither; srcport and
 * dstport with udp=on; offset at most 256), and the header layout.  Like
 * QEMU, any mention of cookie64 (even cookie64=off) selects 64-bit
 * cookies; a 32-bit cookie that does not fit is refused.
 * Return: false with errp naming the option.
 */
bool l2tpv3_parse_opts(const json_t *opts, struct l2tpv3_opts *o,
		       struct nh_error **errp);

/* l2tpv3_check() - the backend's check op: l2tpv3_parse_opts() alone */
bool l2tpv3_check(const json_t *opts, struct nh_error **errp);

#endif /* NH_L2TPV3_H */
