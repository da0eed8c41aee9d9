// SPDX-License-Identifier: MIT
/* vde.c - QEMU's "vde" netdev: a port of a VDE switch, and (vdeserver=,
 * nethub's extension) nethub as a VDE switch
 *
 * Client: sock= is handed to libvdeplug's vde_open() as QEMU does, so
 * every vdeplug4 URL works (a vde_switch socket directory, vde:///DIR,
 * vxvde://, and whatever plugins are installed); port=, group= and mode=
 * are vde_open()'s arguments (mode= defaults to QEMU's 0700).  The
 * connection is the port "ID".  Its data descriptor is watched with a
 * uv_poll_t; frames are read with vde_recv() into one receive buffer and
 * copied into pool frames, sent with vde_send().  libvdeplug's interface
 * is one call per frame: the only way that works for every plugin.  When
 * the switch closes the control connection the port goes and the netdev
 * stays, idle, until deleted.
 *
 * Server: see vde_server.c.  This file is the ops table for both roles.
 *
 * Owns: struct vde_client (nd->priv), the VDECONN, the two poll handles;
 * the client's memory goes when both handles' close callbacks have run.
 *
 * Never: block (the data descriptor is made non-blocking), log or
 * allocate per frame, or touch the netdev after close.
 */

#include <errno.h>
#include <fcntl.h>
#include <libvdeplug.h>
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

_Static_assert(VDE_MAX_MTU == VDE_MAXMTU, "libvdeplug's MTU changed");

struct vde_client {
	struct vde_head head; /* VDE_CLIENT */
	char id[NETDEV_ID_MAX];
	struct netdev *nd; /* NULL once closed */
	VDECONN *conn;
	struct port *port; /* NULL once the switch went away */
	uv_poll_t data_poll, ctl_poll;
	bool ctl_watched; /* ctl_poll initialised (the URL has a ctl fd) */
	unsigned handles; /* poll handles whose close callback is due */
	bool rx_paused, lost;
	char url[256]; /* as given, for messages and info */
	uint64_t rx_errors;
	/* one datagram, and a byte more to see that one was too long */
	uint8_t buf[VDE_FRAME_MAX + 1];
};

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
	if (o->sock && strlen(o->sock) >= sizeof(((struct vde_client *)0)->url)) {
		nh_error_setg(errp, "sock= is too long (at most %zu bytes)",
			      sizeof(((struct vde_client *)0)->url) - 1);
		return false;
	}
	return true;
}

static bool vde_check(const json_t *opts, struct nh_error **errp)
{
	struct vde_opts o;

	return vde_parse_opts(opts, &o, errp);
}

/* -- the client's per-frame path ----------------------------------------- */

/**
 * vde_client_recv() - read what the data descriptor holds, in bursts of
 * up to FRAME_BURST_MAX frames, until it would block
 */
static void vde_client_recv(struct vde_client *c)
{
	struct frame *burst[FRAME_BURST_MAX];
	struct port *p = c->port;
	unsigned nb = 0;

	for (;;) {
		ssize_t n = vde_recv(c->conn, c->buf, sizeof(c->buf), 0);
		struct frame *f;

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				c->rx_errors++;
			break;
		}
		if ((size_t)n > VDE_FRAME_MAX) {
			port_count_rx_drop(p, PORT_DROP_OVERSIZE, 1, (size_t)n);
			continue;
		}
		if (n < FRAME_MIN_LEN) {
			port_count_rx_drop(p, PORT_DROP_MALFORMED, 1, (size_t)n);
			continue;
		}
		f = frame_alloc_copy(c->buf, (size_t)n);
		if (!f) {
			port_count_rx_drop(p, PORT_DROP_NO_BUFFER, 1, (size_t)n);
			continue;
		}
		burst[nb++] = f;
		if (nb == FRAME_BURST_MAX) {
			port_input(p, burst, nb);
			nb = 0;
			if (p->rx_paused || c->rx_paused)
				break; /* flow control: the rest waits */
		}
	}
	if (nb)
		port_input(p, burst, nb);
}

static void vde_client_on_data(uv_poll_t *h, int status, int events)
{
	struct vde_client *c = h->data;

	if (!c->nd || !c->port)
		return;
	if (status < 0) {
		c->rx_errors++;
		return;
	}
	if (events & UV_READABLE)
		vde_client_recv(c);
}

/**
 * vde_client_lost() - the switch closed our control connection: the port
 * goes, the netdev stays idle
 */
static void vde_client_lost(struct vde_client *c)
{
	if (c->lost)
		return;
	c->lost = true;
	log_warn("netdev %s: the VDE switch at %s closed the connection; "
		 "idle",
		 c->id, c->url[0] ? c->url : "(default)");
	uv_poll_stop(&c->data_poll);
	if (c->ctl_watched)
		uv_poll_stop(&c->ctl_poll);
	if (c->port)
		port_detach(c->port);
}

static void vde_client_on_ctl(uv_poll_t *h, int status, int events)
{
	struct vde_client *c = h->data;
	char b[64];
	ssize_t n;

	if (!c->nd)
		return;
	if (status < 0) {
		vde_client_lost(c);
		return;
	}
	/* The switch says nothing after the handshake; EOF is its end */
	n = recv(vde_ctlfd(c->conn), b, sizeof(b), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
	    (events & UV_DISCONNECT))
		vde_client_lost(c);
}

static unsigned vde_client_send(struct vde_client *c, struct port *p,
				struct frame *const *frames, unsigned n)
{
	unsigned i;

	if (c->lost)
		return 0;
	for (i = 0; i < n; i++) {
		struct frame *f = frames[i];

		if (f->len > VDE_FRAME_MAX) {
			port_count_tx_drop(p, PORT_DROP_OVERSIZE, 1);
			frame_unref(f);
			continue;
		}
		if (vde_send(c->conn, f->data, f->len, 0) < 0) {
			/* A full socket: the rest stays the switch's,
			 * counted queue-full */
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == ENOBUFS)
				break;
			port_count_tx_drop(p, PORT_DROP_ERROR, 1);
		}
		frame_unref(f);
	}
	return i;
}

/* -- the client's life cycle -------------------------------------------- */

static void vde_client_on_closed(uv_handle_t *h)
{
	struct vde_client *c = h->data;

	if (--c->handles)
		return;
	vde_close(c->conn);
	if (c->port)
		port_free(c->port);
	free(c);
}

static void vde_client_teardown(struct vde_client *c)
{
	c->nd = NULL;
	if (c->port && !c->lost)
		port_detach(c->port);
	if (c->ctl_watched)
		uv_close((uv_handle_t *)&c->ctl_poll, vde_client_on_closed);
	uv_close((uv_handle_t *)&c->data_poll, vde_client_on_closed);
}

static bool vde_client_open(struct netdev *nd, const struct vde_opts *o,
			    struct nh_error **errp)
{
	struct vde_open_args args = {
	    .port = (int)o->port,
	    .group = (char *)o->group,
	    .mode = (mode_t)o->mode,
	};
	struct vde_client *c = calloc(1, sizeof(*c));
	int dfd, cfd, fl, rc;

	if (!c) {
		nh_error_setg(errp, "netdev %s: out of memory", nd->id);
		return false;
	}
	c->head.role = VDE_CLIENT;
	c->nd = nd;
	snprintf(c->id, sizeof(c->id), "%s", nd->id);
	snprintf(c->url, sizeof(c->url), "%s", o->sock ? o->sock : "");

	errno = 0;
	c->conn = vde_open(o->sock ? c->url : NULL, VDE_DESCR, &args);
	if (!c->conn) {
		nh_error_setg(errp, "netdev %s: could not open VDE switch '%s': "
				    "%s",
			      nd->id, c->url[0] ? c->url : "(default)",
			      errno ? strerror(errno) : "refused");
		free(c);
		return false;
	}
	dfd = vde_datafd(c->conn);
	cfd = vde_ctlfd(c->conn);
	fl = dfd >= 0 ? fcntl(dfd, F_GETFL) : -1;
	if (fl < 0 || fcntl(dfd, F_SETFL, fl | O_NONBLOCK) < 0) {
		nh_error_setg(errp, "netdev %s: VDE switch '%s' gave no usable "
				    "data socket",
			      nd->id, c->url);
		vde_close(c->conn);
		free(c);
		return false;
	}
	rc = uv_poll_init(nd->loop, &c->data_poll, dfd);
	if (rc == 0 && cfd >= 0 && cfd != dfd) {
		rc = uv_poll_init(nd->loop, &c->ctl_poll, cfd);
		if (rc < 0) {
			c->handles = 1;
			c->data_poll.data = c;
			uv_close((uv_handle_t *)&c->data_poll,
				 vde_client_on_closed);
		} else {
			c->ctl_watched = true;
		}
	}
	if (rc < 0) {
		nh_error_setg(errp, "netdev %s: cannot watch the VDE socket: %s",
			      nd->id, uv_strerror(rc));
		if (!c->handles) {
			vde_close(c->conn);
			free(c);
		}
		return false;
	}
	c->data_poll.data = c;
	c->ctl_poll.data = c;
	c->handles = c->ctl_watched ? 2 : 1;
	nd->priv = c;

	c->port = port_new(nd, NULL, c);
	if (!c->port) {
		nh_error_setg(errp, "netdev %s: out of memory", nd->id);
		nd->priv = NULL;
		vde_client_teardown(c);
		return false;
	}
	c->port->mtu = VDE_MAX_MTU;
	uv_poll_start(&c->data_poll, UV_READABLE, vde_client_on_data);
	if (c->ctl_watched)
		uv_poll_start(&c->ctl_poll, UV_READABLE | UV_DISCONNECT,
			      vde_client_on_ctl);
	log_info("netdev %s: connected to VDE switch %s", nd->id,
		 c->url[0] ? c->url : "(default)");
	return true;
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
	nd->priv = NULL;
	vde_client_teardown((struct vde_client *)h);
}

static unsigned vde_netdev_send(struct port *p, struct frame *const *frames,
				unsigned n)
{
	struct vde_head *h = p->netdev ? p->netdev->priv : NULL;

	if (!h)
		return 0;
	if (h->role == VDE_SERVER)
		return vde_server_send(p, frames, n);
	return vde_client_send((struct vde_client *)h, p, frames, n);
}

static void vde_netdev_rx_pause(struct port *p, bool pause)
{
	struct vde_head *h = p->netdev ? p->netdev->priv : NULL;
	struct vde_client *c;

	if (!h)
		return;
	if (h->role == VDE_SERVER) {
		vde_server_rx_pause(p, pause);
		return;
	}
	c = (struct vde_client *)h;
	if (c->lost || c->rx_paused == pause)
		return;
	c->rx_paused = pause;
	if (pause)
		uv_poll_stop(&c->data_poll);
	else
		uv_poll_start(&c->data_poll, UV_READABLE, vde_client_on_data);
}

static void vde_netdev_info(const struct netdev *nd, json_t *obj)
{
	const struct vde_head *h = nd->priv;
	const struct vde_client *c;

	if (!h)
		return;
	if (h->role == VDE_SERVER) {
		vde_server_info(nd, obj);
		return;
	}
	c = (const struct vde_client *)h;
	json_object_set_new(obj, "mode", json_string("client"));
	json_object_set_new(obj, "sock", json_string(c->url));
	json_object_set_new(obj, "connected", json_boolean(!c->lost));
	json_object_set_new(obj, "rx-errors",
			    json_integer((json_int_t)c->rx_errors));
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
