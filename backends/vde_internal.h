/* SPDX-License-Identifier: MIT */
/* vde_internal.h - what the files of the "vde" netdev share
 *
 * The vde netdev is one backend (one struct backend_ops, in vde.c) in two
 * roles, picked by the options:
 *
 *   vde.c         the ops table, the options, the frames a datagram
 *                 carries (vde_input())
 *   vde_client.c  a port of a VDE switch: natively for a switch's socket
 *                 directory, through libvdeplug for any other vdeplug4 URL
 *   vde_server.c  vdeserver=PATH (nethub's extension): nethub is the VDE
 *                 switch; each client is a port "ID.N"
 *   vde_proto.c   the port request both speak (no libvdeplug, no I/O)
 *
 * vde.c calls the other two by role; they call only vde_input().  Both keep
 * their state in nd->priv behind the common head struct vde_head, whose role
 * field says which struct it is.
 */
#ifndef NH_VDE_INTERNAL_H
#define NH_VDE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "error.h"
#include "io.h"
#include "netdev.h"
#include "port.h"

#define VDE_MAX_MTU	 9216			/* VDE_MAXMTU of libvdeplug.h */
#define VDE_FRAME_MAX	 (VDE_MAX_MTU + 14 + 4) /* + Ethernet + 802.1Q */
#define VDE_DESCR	 "nethub"
#define VDE_MODE_DEFAULT 0700 /* QEMU's mode for its port's socket */
#define VDE_URL_MAX	 256

/* VDE's switch protocol (see vde_server.c) */
#define VDE_MAGIC	    0xfeedfaceu
#define VDE_VERSION	    3u
#define VDE_REQ_NEW_CONTROL 0u
#define VDE_REQ_NEW_PORT0   1u
#define VDE_DESCR_MAX	    128
/* magic, version, type (u32 each, host order), then a sockaddr_un */
#define VDE_REQ_HDR (3 * 4 + sizeof(struct sockaddr_un))

enum vde_role {
	VDE_CLIENT,
	VDE_SERVER,
};

/* The first member of either role's state (nd->priv) */
struct vde_head {
	enum vde_role role;
};

/* The options of a vde netdev, as given (strings borrowed) */
struct vde_opts {
	const char *sock;      /* client: the switch's URL or directory */
	const char *group;     /* the group of our socket(s) */
	const char *vdeserver; /* server: the directory to serve in */
	int64_t port;	       /* client: the switch port to ask for */
	int64_t mode;	       /* permission bits of our socket(s) */
};

/**
 * vde_parse_opts() - the options into @o: known names, ranges, and which
 * go with which role.  Return: false with errp naming the option.
 */
bool vde_parse_opts(const json_t *opts, struct vde_opts *o,
		    struct nh_error **errp);

/* A client's port request, as read (vde_proto.c) */
struct vde_request {
	struct sockaddr_un sock;       /* the client's data socket */
	unsigned port;		       /* the port asked for; 0: any */
	char descr[VDE_DESCR_MAX + 1]; /* printable ASCII, '?' for the rest */
};

/**
 * vde_request_build() - the request for data socket @sock into @buf
 * Return: its length, 0 if @size is too small
 */
size_t vde_request_build(uint8_t *buf, size_t size,
			 const struct sockaddr_un *sock, unsigned port,
			 const char *descr);

/**
 * vde_request_parse() - @len bytes of a request into @r
 * Return: false with @why ("not a VDE request (bad magic)", "unsupported
 * VDE protocol version (3 expected)", "unknown request type", "bad data
 * socket address", "request cut short")
 */
bool vde_request_parse(const uint8_t *buf, size_t len, struct vde_request *r,
		       const char **why);

/**
 * vde_input() - datagrams of a VDE port into frames for @p: longer than
 * VDE_FRAME_MAX counted oversize, shorter than Ethernet malformed
 */
void vde_input(struct port *p, const struct io_msg *msgs, unsigned n);

/* -- vde_client.c -------------------------------------------------------- */

/* vde_client_open() - plug @nd into the switch of @o->sock; sets
 * nd->priv.  Return: false with errp naming the switch */
bool vde_client_open(struct netdev *nd, const struct vde_opts *o,
		     struct nh_error **errp);
void vde_client_close(struct netdev *nd);
unsigned vde_client_send(struct port *p, struct frame *const *frames,
			 unsigned n);
void vde_client_rx_pause(struct port *p, bool pause);
void vde_client_info(const struct netdev *nd, json_t *obj);

/* vde_group() - group= as a name or a number */
bool vde_group(const char *name, gid_t *gid);

/* -- vde_server.c -------------------------------------------------------- */

/**
 * vde_server_open() - serve VDE's protocol in @o->vdeserver for @nd: the
 * control socket PATH/ctl, created with @o->mode (and @o->group); each
 * client becomes a port "ID.N".  Sets nd->priv.
 * Return: false with errp set and nothing left behind.
 */
bool vde_server_open(struct netdev *nd, const struct vde_opts *o,
		     struct nh_error **errp);

/* vde_server_close() - stop serving, detach every port, remove our
 * sockets; memory goes when the last handle has closed */
void vde_server_close(struct netdev *nd);

/* The per-frame and info ops for a server netdev's ports */
unsigned vde_server_send(struct port *p, struct frame *const *frames,
			 unsigned n);
void vde_server_rx_pause(struct port *p, bool pause);
void vde_server_info(const struct netdev *nd, json_t *obj);
void vde_server_port_info(const struct port *p, json_t *obj);

#endif /* NH_VDE_INTERNAL_H */
