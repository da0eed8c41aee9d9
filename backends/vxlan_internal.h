/* SPDX-License-Identifier: MIT */
/* vxlan_internal.h - what the files of the "vxlan" netdev share
 *
 * The vxlan netdev (nethub's extension) is one VTEP: one port "ID" whose
 * frames travel as VXLAN (RFC 7348) over UDP to other VTEPs.
 *
 *   vxlan.c       the ops table; open and close; the receive path (checks,
 *                 learning) and the send path (a frame to its VTEP, or to
 *                 every flood destination)
 *   vxlan_opts.c  options: vni, local, remote (one or a list), group,
 *                 dstport, ttl, learning
 *   vxlan_vtep.c  remote VTEPs: one send channel each, the outer UDP and
 *                 VXLAN headers written per frame
 *   vxlan_fdb.c   the MAC -> VTEP table: learned entries (aged like the
 *                 hub's), static ones (vxlan-fdb-add), the flood list
 *
 * Sending: each VTEP has a socket of its own, so that the io engine, which
 * sends a channel's frames to one destination, batches per VTEP.  Where
 * nethub may (CAP_NET_RAW) it is a raw IPPROTO_UDP socket and the UDP
 * header is ours: the source port then comes from the inner flow's hash,
 * as the kernel's vxlan picks it (within 32768-60999), so fabrics spread
 * flows.  Otherwise it is a UDP socket on an ephemeral port (one source
 * port per VTEP).  Send sockets receive nothing (a drop-all socket filter).
 * Receiving is one UDP socket bound to dstport.
 *
 * Lifetime: struct vxlan_state is reference counted: one for the open
 * netdev, one per channel until its done callback.  The port is freed with
 * the state, so late channel callbacks may still count on it.
 */
#ifndef NH_VXLAN_INTERNAL_H
#define NH_VXLAN_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "fdb.h"
#include "frame.h"
#include "io.h"
#include "netdev.h"
#include "port.h"
#include "sockaddr.h"

#define VXLAN_PORT_DEFAULT	4789	/* IANA */
#define VXLAN_HLEN		8
#define VXLAN_FLAG_I		0x08	/* the VNI is valid */
#define VXLAN_VNI_MAX		0xffffff
#define VXLAN_UDP_HLEN		8
#define VXLAN_TTL_DEFAULT	64
#define VXLAN_TTL_MCAST_DEFAULT 1
#define VXLAN_REMOTES_MAX	32	/* remote= entries */
#define VXLAN_VTEP_MAX		64	/* remote VTEPs known at once */
#define VXLAN_FDB_MAX		4096	/* learned inner MACs */
#define VXLAN_SRCPORT_MIN	32768	/* the kernel's default range for */
#define VXLAN_SRCPORT_MAX	61000	/* the outer source port (max excl.) */
#define VXLAN_UNDERLAY_MTU_DEFAULT 1500 /* when no route tells */
/* Socket buffers: a burst of a fast TCP flow must not overflow the
 * receive queue between two turns of the loop */
#define VXLAN_SOCKBUF		(8 * 1024 * 1024)

/* Options, checked; addresses resolved (no port in them) */
struct vxlan_opts {
	uint32_t vni;
	int family;			/* AF_INET or AF_INET6 */
	struct sockaddr_any local;	/* port 0; family AF_UNSPEC if unset */
	bool local_set;
	struct sockaddr_any remote[VXLAN_REMOTES_MAX];
	unsigned nremote;
	struct sockaddr_any group;
	bool group_set;
	uint16_t dstport;
	int ttl;			/* 0: the defaults above */
	bool learning;
};

struct vxlan_state;

/* One remote VTEP (or the multicast group) */
struct vxlan_vtep {
	struct vxlan_state *s;
	struct sockaddr_any addr;	/* where datagrams go */
	struct io_chan *chan;		/* NULL once closed */
	bool flood;			/* on the flood list */
	bool raw;			/* we write the UDP header */
	uint32_t index;			/* in s->vteps, the FDB's port_no */
	char str[SOCKADDR_STR_MAX];	/* the address, for listings */
};

struct vxlan_state {
	char id[NETDEV_ID_MAX];
	struct netdev *nd;		/* NULL once closed */
	struct port *port;
	struct io_chan *rx;
	unsigned refs;
	struct vxlan_opts o;
	uint8_t vni_be[3];		/* the VNI as it is on the wire */
	bool raw_tx;			/* VTEP sockets are raw (see above) */
	uint32_t underlay_mtu;

	struct vxlan_vtep *vteps[VXLAN_VTEP_MAX];
	unsigned nvteps;
	struct vxlan_vtep *last_src;	/* the VTEP of the last datagram */
	struct fdb *fdb;		/* MAC -> vtep index */

	/* send path scratch: the burst sorted per VTEP */
	struct frame *(*batch)[FRAME_BURST_MAX];
	unsigned nbatch[VXLAN_VTEP_MAX];

	uint64_t rx_short, rx_bad_flags, rx_vni_mismatch, rx_oversize;
	uint64_t learn_refused, tx_no_vtep, tx_flooded;
};

/* -- vxlan_opts.c ------------------------------------------------------- */

/**
 * vxlan_parse_opts() - the options into @o; addresses are numeric IPv4 or
 * IPv6 (no host names: nothing here blocks)
 * Return: false with errp naming the option
 */
bool vxlan_parse_opts(const json_t *opts, struct vxlan_opts *o,
		      struct nh_error **errp);

/* vxlan_check() - the backend's check op */
bool vxlan_check(const json_t *opts, struct nh_error **errp);

/**
 * vxlan_parse_ip() - a numeric address of option @opt into @out (port 0)
 * Return: false with errp "remote=: IP address expected, got 'x'"
 */
bool vxlan_parse_ip(const char *opt, const char *text, struct sockaddr_any *out,
		    struct nh_error **errp);

/**
 * vxlan_big_buffer() - make @fd's buffer VXLAN_SOCKBUF: option @force
 * (SO_RCVBUFFORCE, SO_SNDBUFFORCE: root) or else @plain, within the
 * kernel's limit
 */
void vxlan_big_buffer(int fd, int force, int plain);

/* -- vxlan_vtep.c ------------------------------------------------------- */

/**
 * vxlan_vtep_find() - the VTEP at @ip (address compared, port not), or
 * NULL
 */
struct vxlan_vtep *vxlan_vtep_find(struct vxlan_state *s,
				   const struct sockaddr *ip, socklen_t len);

/**
 * vxlan_vtep_get() - vxlan_vtep_find(), or a new VTEP with its channel
 * Return: NULL with errp set when the table is full or the socket fails
 */
struct vxlan_vtep *vxlan_vtep_get(struct vxlan_state *s,
				  const struct sockaddr *ip, socklen_t len,
				  struct nh_error **errp);

/* vxlan_vtep_close_all() - close every VTEP's channel (teardown) */
void vxlan_vtep_close_all(struct vxlan_state *s);

/* vxlan_unref() - drop a reference on @s; the last one frees it */
void vxlan_unref(struct vxlan_state *s);

/* -- vxlan_fdb.c -------------------------------------------------------- */

/* vxlan_fdb_lookup() - the VTEP inner @mac was learned from or pinned to */
struct vxlan_vtep *vxlan_fdb_lookup(struct vxlan_state *s,
				    const uint8_t *mac, uint64_t now);

/* vxlan_fdb_learn() - inner source @mac came from @v (unless learning=off;
 * counts what the table refuses) */
void vxlan_fdb_learn(struct vxlan_state *s, const uint8_t *mac,
		     struct vxlan_vtep *v, uint64_t now);

#endif /* NH_VXLAN_INTERNAL_H */
