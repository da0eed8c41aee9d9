// SPDX-License-Identifier: MIT
/* vde_client.c - the vde netdev as a client: a port "ID" of a VDE switch
 *
 * sock= is what QEMU's vde netdev takes: a vde_switch socket directory or
 * any vdeplug4 URL.  Two ways in:
 *
 *   native      a directory, or vde://DIR (no sock=: libvdeplug's default
 *               directories, /var/run/vde.ctl then /tmp/vde.ctl).  We
 *               speak the switch protocol (see vde_server.c) ourselves:
 *               our datagram socket is bound in DIR (else in /tmp) with
 *               mode= and group=, the switch's answer names its socket,
 *               ours is connected to it and its file removed.  The data
 *               socket is an io engine channel: batched, no syscall per
 *               frame.
 *   libvdeplug  every other URL (vxvde://, vde://DIR[port], slirp://,
 *               whatever plugins are installed): vde_open() with port=,
 *               group= and mode=, as QEMU calls it; its data descriptor is
 *               watched with a uv_poll_t, frames are read with vde_recv()
 *               into one buffer and sent with vde_send(), one call each:
 *               libvdeplug's interface has no batches.  (libvdeplug loads
 *               its plugins with RTLD_DEEPBIND, which AddressSanitizer
 *               refuses: a sanitizer build takes only native switches.)
 *
 * The port lives as long as the switch keeps the control connection; then
 * the netdev stays, idle, until deleted (the switch's end is logged once).
 *
 * Owns: struct vde_client (nd->priv), its sockets or VDECONN, its handles
 * and channel; the memory goes when the last of them is done.
 *
 * Never: block after open (the handshake at open waits at most
 * VDE_HANDSHAKE_WAIT_MS), log or allocate per frame, touch the netdev
 * after close, or leave our socket file behind.
 */

#include <errno.h>
#include <fcntl.h>
#include <libvdeplug.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "frame.h"
#include "io.h"
#include "log.h"
#include "port.h"
#include "vde_internal.h"

_Static_assert(VDE_MAX_MTU == VDE_MAXMTU, "libvdeplug's MTU changed");

/* AddressSanitizer aborts on libvdeplug's dlopen(RTLD_DEEPBIND) */
#if defined(__SANITIZE_ADDRESS__)
#define VDE_PLUG_USABLE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VDE_PLUG_USABLE 0
#endif
#endif
#ifndef VDE_PLUG_USABLE
#define VDE_PLUG_USABLE 1
#endif

#define VDE_HANDSHAKE_WAIT_MS 5000
#define VDE_BIND_TRIES	      100

struct vde_client {
	struct vde_head head; /* VDE_CLIENT */
	char id[NETDEV_ID_MAX];
	struct netdev *nd; /* NULL once closed */
	struct port *port;
	char url[VDE_URL_MAX]; /* as given ("" for the default) */
	bool native, lost, rx_paused;
	unsigned busy; /* handles and channel whose callback is due */
	uint64_t rx_errors;

	int ctl_fd; /* native: ours; libvdeplug: the connection's */
	uv_poll_t ctl_poll;
	bool ctl_watched;

	struct io_chan *chan; /* native */

	VDECONN *conn; /* libvdeplug */
	uv_poll_t data_poll;
	bool data_watched;
	uint8_t *buf; /* libvdeplug: one datagram and a byte more */
};

/* vde_client_name() - the switch, for messages */
static const char *vde_client_name(const struct vde_client *c)
{
	return c->url[0] ? c->url : "(default)";
}

static void vde_client_done(struct vde_client *c)
{
	if (--c->busy)
		return;
	if (c->conn)
		vde_close(c->conn);
	if (c->port)
		port_free(c->port);
	free(c->buf);
	free(c);
}

static void vde_client_on_closed(uv_handle_t *h)
{
	vde_client_done(h->data);
}

static void vde_client_on_chan_done(void *opaque, unsigned dropped)
{
	struct vde_client *c = opaque;

	if (dropped && c->port)
		port_count_tx_drop(c->port, PORT_DROP_NO_PEER, dropped);
	vde_client_done(c);
}

/**
 * vde_client_lost() - the switch closed our control connection (or the
 * data socket failed): the port goes, the netdev stays idle
 */
static void vde_client_lost(struct vde_client *c)
{
	if (c->lost || !c->nd)
		return;
	c->lost = true;
	log_warn("netdev %s: the VDE switch %s closed the connection; idle",
		 c->id, vde_client_name(c));
	if (c->ctl_watched)
		uv_poll_stop(&c->ctl_poll);
	if (c->data_watched)
		uv_poll_stop(&c->data_poll);
	if (c->chan)
		io_chan_pause(c->chan);
	if (c->port)
		port_detach(c->port);
}

static void vde_client_on_ctl(uv_poll_t *h, int status, int events)
{
	struct vde_client *c = h->data;
	char b[64];
	ssize_t n;

	if (!c->nd || c->lost)
		return;
	if (status < 0) {
		vde_client_lost(c);
		return;
	}
	/* The switch says nothing after the handshake; EOF is its end */
	n = recv(c->ctl_fd, b, sizeof(b), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
	    (events & UV_DISCONNECT))
		vde_client_lost(c);
}

/* -- native: the data socket as a channel -------------------------------- */

static void vde_client_on_recv(struct io_chan *ch, const struct io_msg *msgs,
			       unsigned n)
{
	struct vde_client *c = io_chan_opaque(ch);

	if (c->nd && !c->lost && c->port)
		vde_input(c->port, msgs, n);
}

static void vde_client_on_error(struct io_chan *ch, int err)
{
	struct vde_client *c = io_chan_opaque(ch);

	if (err)
		c->rx_errors++;
	vde_client_lost(c);
}

static void vde_client_on_tx_drain(struct io_chan *ch, bool ready)
{
	struct vde_client *c = io_chan_opaque(ch);

	if (!c->nd || c->lost || !c->port)
		return;
	if (ready)
		port_tx_ready(c->port);
	else
		port_tx_progress(c->port);
}

static void vde_client_on_tx_drop(struct io_chan *ch, unsigned n, int err)
{
	struct vde_client *c = io_chan_opaque(ch);

	if (c->port)
		port_count_tx_drop(
		    c->port,
		    err == -EMSGSIZE ? PORT_DROP_OVERSIZE : PORT_DROP_ERROR, n);
}

/* -- native: the handshake ------------------------------------------------ */

/**
 * vde_native_dir() - the directory a native switch is in, "" for the
 * default ones, NULL when the URL needs libvdeplug
 */
static const char *vde_native_dir(const char *url)
{
	if (!url)
		return "";
	if (strchr(url, '['))
		return NULL; /* vde://DIR[port]: vdeplug4's own syntax */
	if (!strncmp(url, "vde://", 6))
		return url + 6;
	return strstr(url, "://") ? NULL : url;
}

/**
 * vde_native_bind() - our datagram socket, bound in @dir (the switch's,
 * else /tmp) with the mode and group asked for; its path into @me
 */
static int vde_native_bind(const char *dir, const struct vde_opts *o, gid_t gid,
			   bool gid_set, struct sockaddr_un *me)
{
	const char *dirs[] = {dir, "/tmp"};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	for (size_t d = 0; d < 2; d++) {
		for (unsigned i = 0; i < VDE_BIND_TRIES; i++) {
			mode_t old_mask;
			int n, rc, err;

			memset(me, 0, sizeof(*me));
			me->sun_family = AF_UNIX;
			n = snprintf(me->sun_path, sizeof(me->sun_path),
				     "%s/.nethub-%d-%u", dirs[d], (int)getpid(),
				     i);
			if (n < 0 || (size_t)n >= sizeof(me->sun_path))
				break;
			old_mask = umask(0777 & ~(mode_t)o->mode);
			rc = bind(fd, (struct sockaddr *)me, sizeof(*me));
			err = errno;
			umask(old_mask);
			if (rc == 0) {
				if (gid_set &&
				    chown(me->sun_path, (uid_t)-1, gid) < 0) {
					unlink(me->sun_path);
					close(fd);
					return -1;
				}
				return fd;
			}
			if (err != EADDRINUSE)
				break;
		}
	}
	close(fd);
	errno = EACCES;
	return -1;
}

/* vde_recv_all() - @len bytes of the switch's answer, waiting at most
 * VDE_HANDSHAKE_WAIT_MS; false with errno set */
static bool vde_recv_all(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, VDE_HANDSHAKE_WAIT_MS) <= 0) {
			errno = ETIMEDOUT;
			return false;
		}
		n = recv(fd, (char *)buf + got, len - got, 0);
		if (n == 0)
			errno = ECONNREFUSED;
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/**
 * vde_native_connect() - ask the switch in @dir for a port
 * Return: the connected data socket with c->ctl_fd set, or -1 with errno
 */
static int vde_native_connect(struct vde_client *c, const char *dir,
			      const struct vde_opts *o, gid_t gid, bool gid_set)
{
	uint8_t req[VDE_REQ_HDR + VDE_DESCR_MAX];
	struct sockaddr_un ctl = {.sun_family = AF_UNIX}, me, sw;
	char abs[PATH_MAX];
	size_t rlen;
	int fd, n, err;

	n = snprintf(ctl.sun_path, sizeof(ctl.sun_path), "%s/ctl", dir);
	if (n < 0 || (size_t)n >= sizeof(ctl.sun_path) || !realpath(dir, abs)) {
		errno = n < 0 || (size_t)n >= sizeof(ctl.sun_path)
			    ? ENAMETOOLONG
			    : errno;
		return -1;
	}
	c->ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->ctl_fd < 0)
		return -1;
	if (connect(c->ctl_fd, (struct sockaddr *)&ctl, sizeof(ctl)) < 0)
		goto fail;
	fd = vde_native_bind(abs, o, gid, gid_set, &me);
	if (fd < 0)
		goto fail;
	rlen = vde_request_build(req, sizeof(req), &me, (unsigned)o->port,
				 VDE_DESCR);
	if (send(c->ctl_fd, req, rlen, MSG_NOSIGNAL) < 0 ||
	    !vde_recv_all(c->ctl_fd, &sw, sizeof(sw)) ||
	    sw.sun_family != AF_UNIX ||
	    connect(fd, (struct sockaddr *)&sw, sizeof(sw)) < 0) {
		err = errno;
		unlink(me.sun_path);
		close(fd);
		errno = err;
		goto fail;
	}
	unlink(me.sun_path); /* connected: the file has done its job */
	(void)fcntl(c->ctl_fd, F_SETFL, O_NONBLOCK);
	return fd;
fail:
	err = errno;
	close(c->ctl_fd);
	c->ctl_fd = -1;
	errno = err;
	return -1;
}

/**
 * vde_native_open() - the native way in; the default directories in
 * turn when no sock= was given
 */
static bool vde_native_open(struct vde_client *c, const char *dir,
			    const struct vde_opts *o, struct nh_error **errp)
{
	static const char *const defaults[] = {"/var/run/vde.ctl",
					       "/tmp/vde.ctl"};
	struct nh_error *err = NULL;
	struct io_chan_cfg cfg;
	bool gid_set = false;
	gid_t gid = 0;
	int fd = -1;

	if (o->group && !vde_group(o->group, &gid)) {
		nh_error_setg(errp, "group=%s: no such group", o->group);
		return false;
	}
	gid_set = o->group != NULL;
	if (dir[0]) {
		fd = vde_native_connect(c, dir, o, gid, gid_set);
	} else {
		for (size_t i = 0; fd < 0 && i < 2; i++)
			fd =
			    vde_native_connect(c, defaults[i], o, gid, gid_set);
	}
	if (fd < 0) {
		nh_error_setg(errp,
			      "netdev %s: could not open VDE switch "
			      "'%s': %s",
			      c->id, vde_client_name(c), strerror(errno));
		return false;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.kind = IO_CHAN_DGRAM;
	cfg.max_msg = VDE_FRAME_MAX;
	cfg.on_recv = vde_client_on_recv;
	cfg.on_error = vde_client_on_error;
	cfg.on_tx_drain = vde_client_on_tx_drain;
	cfg.on_tx_drop = vde_client_on_tx_drop;
	cfg.opaque = c;
	c->chan = io_chan_open(fd, &cfg, &err);
	if (!c->chan) {
		nh_error_setg(errp, "netdev %s: %s", c->id,
			      err ? err->msg : "cannot start the channel");
		nh_error_free(err);
		close(fd);
		close(c->ctl_fd);
		c->ctl_fd = -1;
		return false;
	}
	c->busy++;
	c->native = true;
	return true;
}

/* -- libvdeplug ----------------------------------------------------------- */

/**
 * vde_plug_recv() - read what the data descriptor holds, in bursts of up
 * to FRAME_BURST_MAX datagrams, until it would block
 */
static void vde_plug_recv(struct vde_client *c)
{
	struct io_msg msgs[FRAME_BURST_MAX];
	unsigned n = 0;

	/* one buffer: each datagram becomes a frame before the next read */
	for (;;) {
		ssize_t len = vde_recv(c->conn, c->buf, VDE_FRAME_MAX + 1, 0);

		if (len < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				c->rx_errors++;
			break;
		}
		memset(&msgs[n], 0, sizeof(msgs[n]));
		msgs[n].data = c->buf;
		msgs[n].len = (size_t)len;
		msgs[n].truncated = (size_t)len > VDE_FRAME_MAX;
		vde_input(c->port, &msgs[n], 1);
		if (c->port->rx_paused || c->rx_paused ||
		    ++n == FRAME_BURST_MAX)
			break; /* flow control, or fairness: more next turn */
	}
}

static void vde_plug_on_data(uv_poll_t *h, int status, int events)
{
	struct vde_client *c = h->data;

	if (!c->nd || c->lost || !c->port)
		return;
	if (status < 0)
		c->rx_errors++;
	else if (events & UV_READABLE)
		vde_plug_recv(c);
}

static bool vde_plug_open(struct vde_client *c, const struct vde_opts *o,
			  struct nh_error **errp)
{
	struct vde_open_args args = {
	    .port = (int)o->port,
	    .group = (char *)o->group,
	    .mode = (mode_t)o->mode,
	};
	int dfd, fl, rc;

	if (!VDE_PLUG_USABLE) {
		nh_error_setg(errp,
			      "netdev %s: sock=%s needs libvdeplug's "
			      "plugins, which this AddressSanitizer build "
			      "cannot load; only VDE switch directories "
			      "(vde://DIR) work here",
			      c->id, c->url);
		return false;
	}
	c->buf = malloc(VDE_FRAME_MAX + 1);
	if (!c->buf) {
		nh_error_setg(errp, "netdev %s: out of memory", c->id);
		return false;
	}
	errno = 0;
	c->conn = vde_open(c->url, VDE_DESCR, &args);
	if (!c->conn) {
		nh_error_setg(errp,
			      "netdev %s: could not open VDE switch '%s': "
			      "%s",
			      c->id, vde_client_name(c),
			      errno ? strerror(errno) : "refused");
		return false;
	}
	dfd = vde_datafd(c->conn);
	fl = dfd >= 0 ? fcntl(dfd, F_GETFL) : -1;
	if (fl < 0 || fcntl(dfd, F_SETFL, fl | O_NONBLOCK) < 0) {
		nh_error_setg(errp,
			      "netdev %s: VDE switch '%s' gave no usable "
			      "data socket",
			      c->id, c->url);
		return false;
	}
	rc = uv_poll_init(c->nd->loop, &c->data_poll, dfd);
	if (rc < 0) {
		nh_error_setg(errp,
			      "netdev %s: cannot watch the VDE socket: %s",
			      c->id, uv_strerror(rc));
		return false;
	}
	c->data_poll.data = c;
	c->data_watched = true;
	c->busy++;
	c->ctl_fd = vde_ctlfd(c->conn);
	if (c->ctl_fd == dfd)
		c->ctl_fd = -1; /* one descriptor: watched as data */
	return true;
}

/* -- the life cycle ------------------------------------------------------- */

static void vde_client_teardown(struct vde_client *c)
{
	struct io_chan *ch = c->chan;

	c->nd = NULL;
	if (c->port && !c->lost)
		port_detach(c->port);
	c->busy++; /* hold c until everything below is started */
	if (c->ctl_watched)
		uv_close((uv_handle_t *)&c->ctl_poll, vde_client_on_closed);
	if (c->native && c->ctl_fd >= 0)
		close(c->ctl_fd);
	if (c->data_watched)
		uv_close((uv_handle_t *)&c->data_poll, vde_client_on_closed);
	c->chan = NULL;
	if (ch)
		io_chan_close(ch, vde_client_on_chan_done);
	vde_client_done(c);
}

bool vde_client_open(struct netdev *nd, const struct vde_opts *o,
		     struct nh_error **errp)
{
	struct vde_client *c = calloc(1, sizeof(*c));
	const char *dir;
	bool ok;

	if (!c) {
		nh_error_setg(errp, "netdev %s: out of memory", nd->id);
		return false;
	}
	c->head.role = VDE_CLIENT;
	c->nd = nd;
	c->ctl_fd = -1;
	snprintf(c->id, sizeof(c->id), "%s", nd->id);
	snprintf(c->url, sizeof(c->url), "%s", o->sock ? o->sock : "");
	dir = vde_native_dir(o->sock);
	ok = dir ? vde_native_open(c, dir, o, errp) : vde_plug_open(c, o, errp);
	if (ok && c->ctl_fd >= 0) {
		if (uv_poll_init_socket(nd->loop, &c->ctl_poll, c->ctl_fd) ==
		    0) {
			c->ctl_poll.data = c;
			c->ctl_watched = true;
			c->busy++;
		}
	}
	if (ok) {
		c->port = port_new(nd, NULL, c);
		if (!c->port)
			nh_error_setg(errp, "netdev %s: out of memory", nd->id);
		ok = c->port != NULL;
	}
	if (!ok) {
		vde_client_teardown(c);
		return false;
	}
	c->port->mtu = VDE_MAX_MTU;
	nd->priv = c;
	if (c->data_watched)
		uv_poll_start(&c->data_poll, UV_READABLE, vde_plug_on_data);
	if (c->ctl_watched)
		uv_poll_start(&c->ctl_poll, UV_READABLE | UV_DISCONNECT,
			      vde_client_on_ctl);
	log_info("netdev %s: connected to VDE switch %s%s", nd->id,
		 vde_client_name(c), c->native ? "" : " (libvdeplug)");
	return true;
}

void vde_client_close(struct netdev *nd)
{
	struct vde_client *c = nd->priv;

	nd->priv = NULL;
	vde_client_teardown(c);
}

unsigned vde_client_send(struct port *p, struct frame *const *frames,
			 unsigned n)
{
	struct vde_client *c = p->priv;
	unsigned i;

	if (!c || c->lost)
		return 0;
	if (c->native)
		return port_chan_send(p, c->chan, frames, n);
	for (i = 0; i < n; i++) {
		struct frame *f = frames[i];

		if (f->len > VDE_FRAME_MAX) {
			port_count_tx_drop(p, PORT_DROP_OVERSIZE, 1);
		} else if (vde_send(c->conn, f->data, f->len, 0) < 0) {
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

void vde_client_rx_pause(struct port *p, bool pause)
{
	struct vde_client *c = p->priv;

	if (!c || c->lost || c->rx_paused == pause)
		return;
	c->rx_paused = pause;
	if (c->native && pause)
		io_chan_pause(c->chan);
	else if (c->native)
		io_chan_resume(c->chan);
	else if (pause)
		uv_poll_stop(&c->data_poll);
	else
		uv_poll_start(&c->data_poll, UV_READABLE, vde_plug_on_data);
}

void vde_client_info(const struct netdev *nd, json_t *obj)
{
	const struct vde_client *c = nd->priv;

	json_object_set_new(obj, "mode", json_string("client"));
	json_object_set_new(obj, "sock", json_string(c->url));
	json_object_set_new(obj, "transport",
			    json_string(c->native ? "native" : "libvdeplug"));
	json_object_set_new(obj, "connected", json_boolean(!c->lost));
	json_object_set_new(obj, "rx-errors",
			    json_integer((json_int_t)c->rx_errors));
}
