// SPDX-License-Identifier: MIT
/* vde.c - QEMU's "vde" netdev: a port of a VDE switch (vde_client.c),
 * or (vdeserver=, nethub's extension) nethub as a VDE switch
 * (vde_server.c)
 *
 * This file is the ops table of both roles, their options, and the
 * per-frame step they share: datagrams into frames (vde_input()).
 * vde_internal.h maps the files.
 *
 * Owns: nothing; each role owns its state (nd->priv).
 *
 * Never: log or allocate per frame (frames come from the pool).
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#include "backend.h"
#include "frame.h"
#include "log.h"
#include "opts.h"
#include "port.h"
#include "vde_internal.h"

bool vde_parse_opts(const json_t *opts, struct vde_opts *o,
		    struct nh_error **errp)
{
	static const char *const known[] = {
	    "id", "type", "sock", "port", "group", "mode", "vdeserver", NULL,
	};

	memset(o, 0, sizeof(*o));
	o->mode = VDE_MODE_DEFAULT;
	if (!opts_check_keys(opts, known, errp) ||
	    !opts_get_opt_str(opts, "sock", &o->sock, errp) ||
	    !opts_get_opt_str(opts, "group", &o->group, errp) ||
	    !opts_get_opt_str(opts, "vdeserver", &o->vdeserver, errp) ||
	    !opts_get_int(opts, "port", 0, UINT16_MAX, &o->port, errp) ||
	    !opts_get_int(opts, "mode", 0, 07777, &o->mode, errp))
		return false;
	if (o->vdeserver && (o->sock || opts_has(opts, "port"))) {
		nh_error_setg(errp, "vdeserver= cannot be combined with %s",
			      o->sock ? "sock=" : "port=");
		return false;
	}
	if (o->vdeserver && !o->vdeserver[0]) {
		nh_error_setg(errp, "vdeserver= needs a directory");
		return false;
	}
	if (o->sock && strlen(o->sock) >= VDE_URL_MAX) {
		nh_error_setg(errp, "sock= is too long (at most %d bytes)",
			      VDE_URL_MAX - 1);
		return false;
	}
	return true;
}

bool vde_group(const char *name, gid_t *gid)
{
	struct group *g = getgrnam(name);
	char *end;
	unsigned long v;

	if (g) {
		*gid = g->gr_gid;
		return true;
	}
	errno = 0;
	v = strtoul(name, &end, 10);
	if (!*name || *end || errno || v >= (gid_t)-1)
		return false;
	*gid = (gid_t)v;
	return true;
}

static bool vde_check(const json_t *opts, struct nh_error **errp)
{
	struct vde_opts o;

	return vde_parse_opts(opts, &o, errp);
}

void vde_input(struct port *p, const struct io_msg *msgs, unsigned n)
{
	struct port_burst b = {.p = p};

	for (unsigned i = 0; i < n; i++)
		port_burst_add(&b, msgs[i].data, msgs[i].len, VDE_FRAME_MAX,
			       msgs[i].truncated);
	port_burst_end(&b);
}

/* -- the ops table: either role ------------------------------------------ */

static bool vde_netdev_open(struct netdev *nd, const json_t *opts,
			    struct nh_error **errp)
{
	struct vde_opts o;

	if (!vde_parse_opts(opts, &o, errp))
		return false;
	if (o.vdeserver)
		return vde_server_open(nd, &o, errp);
	return vde_client_open(nd, &o, errp);
}

static void vde_netdev_close(struct netdev *nd)
{
	struct vde_head *h = nd->priv;

	if (!h)
		return;
	if (h->role == VDE_SERVER) {
		vde_server_close(nd);
		return;
	}
	vde_client_close(nd);
}

static unsigned vde_netdev_send(struct port *p, struct frame *const *frames,
				unsigned n)
{
	struct vde_head *h = p->netdev ? p->netdev->priv : NULL;

	if (!h)
		return 0;
	if (h->role == VDE_SERVER)
		return vde_server_send(p, frames, n);
	return vde_client_send(p, frames, n);
}

static void vde_netdev_rx_pause(struct port *p, bool pause)
{
	struct vde_head *h = p->netdev ? p->netdev->priv : NULL;

	if (h && h->role == VDE_SERVER)
		vde_server_rx_pause(p, pause);
	else if (h)
		vde_client_rx_pause(p, pause);
}

static void vde_netdev_info(const struct netdev *nd, json_t *obj)
{
	const struct vde_head *h = nd->priv;

	if (h && h->role == VDE_SERVER)
		vde_server_info(nd, obj);
	else if (h)
		vde_client_info(nd, obj);
}

static void vde_netdev_port_info(const struct port *p, json_t *obj)
{
	const struct vde_head *h = p->netdev ? p->netdev->priv : NULL;

	if (h && h->role == VDE_SERVER)
		vde_server_port_info(p, obj);
}

const struct backend_ops vde_backend = {
    .type = "vde",
    .check = vde_check,
    .open = vde_netdev_open,
    .close = vde_netdev_close,
    .send = vde_netdev_send,
    .rx_pause = vde_netdev_rx_pause,
    .set_link = NULL,
    .info = vde_netdev_info,
    .port_info = vde_netdev_port_info,
};
