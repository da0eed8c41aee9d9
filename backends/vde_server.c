// SPDX-License-Identifier: MIT
/* vde_server.c - vdeserver=DIR (nethub's extension): nethub as a VDE
 * switch, so VDE clients (vde_plug, QEMU's -netdev vde, any vdeplug4
 * program) plug into a hub unchanged
 *
 * VDE's switch protocol, as vdeplug4 clients speak it:
 *
 *   1. the client connects a unix stream socket to DIR/ctl and sends one
 *      request: magic 0xfeedface, version 3, type (0, or 1 or port << 8
 *      for a chosen port; all u32 in host order), the sockaddr_un of the
 *      datagram socket it has bound, then its description (up to 128
 *      bytes, no NUL);
 *   2. the switch makes a datagram socket for the port, bound in DIR and
 *      connected to the client's, and answers with its sockaddr_un;
 *   3. each datagram between the two is one Ethernet frame; the port
 *      lives as long as the control connection.
 *
 * Each client is a port "ID.N".  The sockets are made with mode= (default
 * 0700) and, with group=, belong to that group (DIR is made set-group-ID),
 * so other users can be let in.  A client may only name a data socket it owns
 * (the file's owner is the connecting user, or that user is root): nobody can
 * make the switch send frames into a third party's socket.  The data sockets
 * are channels of the io engine (batched, one frame per datagram).
 *
 * Owns: struct vde_server (nd->priv) and struct vde_conn per client, their
 * sockets and the files DIR/ctl and DIR/.nethub-N; both structs outlive
 * close until their handles and channels are done.
 *
 * Never: trust a request's lengths or path, block on a client, log or
 * allocate per frame, or touch the netdev after close.
 */

#include <errno.h>
#include <stddef.h>
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
#include "unixsock.h"
#include "vde_internal.h"

#define VDE_SUN_PATH	   sizeof(((struct sockaddr_un *)0)->sun_path)
#define VDE_REQ_MAX	   (VDE_REQ_HDR + VDE_DESCR_MAX)
#define VDE_LISTEN_BACKLOG 128
#define VDE_HANDSHAKE_MS   5000 /* a client that says nothing is let go */

struct vde_server;

/* One client: its control connection and, after the request, its port */
struct vde_conn {
	struct vde_server *sv;
	int ctl_fd;
	uv_poll_t ctl_poll;
	uv_timer_t timer; /* handshake deadline */
	struct io_chan *chan;
	struct port *port;
	unsigned busy; /* handles and channel whose callback is due */
	bool closing;
	size_t req_len;
	uint8_t req[VDE_REQ_MAX];
	char data_path[VDE_SUN_PATH]; /* our socket for it; "" if none */
	char descr[VDE_DESCR_MAX + 1];
	unsigned asked_port; /* the port the client asked for, 0: any */
	struct vde_conn *next;
};

struct vde_server {
	struct vde_head head; /* VDE_SERVER */
	char id[NETDEV_ID_MAX];
	struct netdev *nd; /* NULL once closed */
	uv_loop_t *loop;
	unsigned refs; /* open + listen handle + clients */
	char dir[VDE_SUN_PATH];
	char ctl_path[VDE_SUN_PATH];
	dev_t ctl_dev;
	ino_t ctl_ino;
	int listen_fd;
	uv_poll_t listen_poll;
	bool listen_init;
	mode_t mode;
	gid_t gid;
	bool gid_set;
	unsigned next_sock; /* N of DIR/.nethub-N */
	struct vde_conn *conns;
	unsigned nconns;
	uint64_t refused; /* bad or unacceptable requests */
};

static void vde_server_unref(struct vde_server *sv)
{
	if (--sv->refs == 0)
		free(sv);
}

/* -- a client's end ------------------------------------------------------ */

static void vde_conn_done(struct vde_conn *cn)
{
	struct vde_server *sv = cn->sv;

	if (--cn->busy)
		return;
	if (cn->port)
		port_free(cn->port);
	free(cn);
	vde_server_unref(sv);
}

static void vde_conn_on_handle_closed(uv_handle_t *h)
{
	vde_conn_done(h->data);
}

static void vde_conn_on_chan_done(void *opaque, unsigned dropped)
{
	struct vde_conn *cn = opaque;

	if (dropped && cn->port)
		port_count_tx_drop(cn->port, PORT_DROP_NO_PEER, dropped);
	vde_conn_done(cn);
}

/**
 * vde_conn_remove() - the client is gone (or refused): its port leaves
 * the hub now, its sockets close, its data socket's file goes
 */
static void vde_conn_remove(struct vde_conn *cn)
{
	struct vde_server *sv = cn->sv;
	struct io_chan *c = cn->chan;

	if (cn->closing)
		return;
	cn->closing = true;
	for (struct vde_conn **pp = &sv->conns; *pp; pp = &(*pp)->next) {
		if (*pp == cn) {
			*pp = cn->next;
			sv->nconns--;
			break;
		}
	}
	if (cn->port)
		port_detach(cn->port);
	if (cn->data_path[0])
		unlink(cn->data_path);
	uv_close((uv_handle_t *)&cn->timer, vde_conn_on_handle_closed);
	uv_close((uv_handle_t *)&cn->ctl_poll, vde_conn_on_handle_closed);
	close(cn->ctl_fd);
	cn->chan = NULL;
	if (c)
		io_chan_close(c, vde_conn_on_chan_done); /* may free cn */
}

/* vde_conn_name() - the port's name, or the netdev's before it has one */
static const char *vde_conn_name(const struct vde_conn *cn)
{
	return cn->port ? cn->port->name : cn->sv->id;
}

/* -- the per-frame path: a client's data socket -------------------------- */

static void vde_conn_on_recv(struct io_chan *c, const struct io_msg *msgs,
			     unsigned n)
{
	struct vde_conn *cn = io_chan_opaque(c);

	if (cn->port && !cn->closing)
		vde_input(cn->port, msgs, n);
}

static void vde_conn_on_error(struct io_chan *c, int err)
{
	struct vde_conn *cn = io_chan_opaque(c);

	if (cn->closing)
		return;
	log_warn("port %s: data socket: %s", vde_conn_name(cn),
		 err ? strerror(-err) : "closed");
	vde_conn_remove(cn);
}

static void vde_conn_on_tx_drain(struct io_chan *c, bool ready)
{
	struct vde_conn *cn = io_chan_opaque(c);

	if (!cn->port || cn->closing)
		return;
	if (ready)
		port_tx_ready(cn->port);
	else
		port_tx_progress(cn->port);
}

/* The client's socket went away (ECONNREFUSED) or is full past our
 * queue: frames lost, counted; the control connection decides its end */
static void vde_conn_on_tx_drop(struct io_chan *c, unsigned n, int err)
{
	struct vde_conn *cn = io_chan_opaque(c);

	if (cn->port)
		port_count_tx_drop(
		    cn->port,
		    err == -EMSGSIZE ? PORT_DROP_OVERSIZE : PORT_DROP_ERROR, n);
}

unsigned vde_server_send(struct port *p, struct frame *const *frames,
			 unsigned n)
{
	struct vde_conn *cn = p->priv;

	if (!cn || cn->closing || !cn->chan)
		return 0;
	return port_chan_send(p, cn->chan, frames, n);
}

void vde_server_rx_pause(struct port *p, bool pause)
{
	struct vde_conn *cn = p->priv;

	if (cn && !cn->closing && cn->chan)
		io_chan_set_paused(cn->chan, pause);
}

/* -- the handshake -------------------------------------------------------- */

/**
 * vde_conn_check_request() - the request in cn->req (vde_request_parse())
 * names a data socket the connecting user owns
 * Return: the client's data socket address, or false with @why set
 */
static bool vde_conn_check_request(struct vde_conn *cn, struct sockaddr_un *to,
				   const char **why)
{
	struct vde_request r;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct stat st;

	if (!vde_request_parse(cn->req, cn->req_len, &r, why))
		return false;
	cn->asked_port = r.port;
	memcpy(cn->descr, r.descr, sizeof(cn->descr));
	*to = r.sock;
	if (getsockopt(cn->ctl_fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) ||
	    lstat(to->sun_path, &st) || !S_ISSOCK(st.st_mode) ||
	    (cred.uid != 0 && st.st_uid != cred.uid)) {
		*why = "the data socket is not the client's own";
		return false;
	}
	return true;
}

/**
 * vde_conn_make_port() - our datagram socket for the client, connected
 * to its own; the answer; the port
 */
static bool vde_conn_make_port(struct vde_conn *cn,
			       const struct sockaddr_un *to, const char **why)
{
	struct vde_server *sv = cn->sv;
	struct nh_error *err = NULL;
	struct sockaddr_un me = {.sun_family = AF_UNIX};
	struct io_chan_cfg cfg;
	char suffix[16];
	mode_t old_mask;
	int fd, n, rc;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*why = "cannot make a data socket";
		return false;
	}
	n = snprintf(me.sun_path, sizeof(me.sun_path), "%s/.nethub-%u", sv->dir,
		     sv->next_sock++);
	if (n < 0 || (size_t)n >= sizeof(me.sun_path)) {
		close(fd);
		*why = "data socket path too long";
		return false;
	}
	unlink(me.sun_path); /* a leftover of an earlier run */
	old_mask = umask(0777 & ~sv->mode);
	rc = bind(fd, (struct sockaddr *)&me, sizeof(me));
	umask(old_mask);
	if (rc < 0) {
		close(fd);
		*why = "cannot bind a data socket";
		return false;
	}
	/* group=: DIR is set-group-ID, so the file is the group's already */
	snprintf(cn->data_path, sizeof(cn->data_path), "%s", me.sun_path);
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0) {
		close(fd);
		*why = "cannot reach the client's data socket";
		return false;
	}
	if (send(cn->ctl_fd, &me, sizeof(me), MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    (ssize_t)sizeof(me)) {
		close(fd);
		*why = "cannot answer the request";
		return false;
	}

	memset(&cfg, 0, sizeof(cfg));
	cfg.kind = IO_CHAN_DGRAM;
	cfg.max_msg = VDE_FRAME_MAX;
	cfg.on_recv = vde_conn_on_recv;
	cfg.on_error = vde_conn_on_error;
	cfg.on_tx_drain = vde_conn_on_tx_drain;
	cfg.on_tx_drop = vde_conn_on_tx_drop;
	cfg.opaque = cn;
	cn->chan = io_chan_open(fd, &cfg, &err);
	if (!cn->chan) {
		close(fd);
		nh_error_free(err);
		*why = "cannot start the data channel";
		return false;
	}
	cn->busy++;

	if (sv->nd->next_peer == 0)
		sv->nd->next_peer = 1;
	snprintf(suffix, sizeof(suffix), "%u", sv->nd->next_peer++);
	cn->port = port_new(sv->nd, suffix, cn);
	if (!cn->port) {
		*why = "out of memory";
		return false;
	}
	cn->port->mtu = VDE_MAX_MTU;
	return true;
}

/**
 * vde_conn_on_ctl() - the control connection: the request, then nothing
 * but its end
 */
static void vde_conn_on_ctl(uv_poll_t *h, int status, int events)
{
	struct vde_conn *cn = h->data;
	struct sockaddr_un to;
	const char *why = NULL;
	uint8_t sink[256];
	ssize_t n;

	(void)events;
	if (cn->closing || !cn->sv->nd)
		return;
	if (status < 0) {
		vde_conn_remove(cn);
		return;
	}
	if (cn->port) {
		/* After the handshake a client says nothing; EOF ends it */
		n = recv(cn->ctl_fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
			return;
		log_info("port %s: VDE client '%s' left", cn->port->name,
			 cn->descr);
		vde_conn_remove(cn);
		return;
	}
	n = recv(cn->ctl_fd, cn->req + cn->req_len,
		 sizeof(cn->req) - cn->req_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		vde_conn_remove(cn);
		return;
	}
	cn->req_len += (size_t)n;
	if (cn->req_len < VDE_REQ_HDR)
		return; /* the rest of the request is on its way */
	uv_timer_stop(&cn->timer);
	if (!vde_conn_check_request(cn, &to, &why) ||
	    !vde_conn_make_port(cn, &to, &why)) {
		cn->sv->refused++;
		log_warn("netdev %s: VDE client refused: %s", cn->sv->id, why);
		vde_conn_remove(cn);
		return;
	}
	log_info("port %s: VDE client '%s' connected", cn->port->name,
		 cn->descr);
}

static void vde_conn_on_timeout(uv_timer_t *t)
{
	struct vde_conn *cn = t->data;

	if (cn->closing || cn->port)
		return;
	cn->sv->refused++;
	log_warn("netdev %s: VDE client sent no request in %u ms; dropped",
		 cn->sv->id, VDE_HANDSHAKE_MS);
	vde_conn_remove(cn);
}

/* -- the control socket --------------------------------------------------- */

static void vde_server_accepted(struct vde_server *sv, int fd)
{
	struct vde_conn *cn = calloc(1, sizeof(*cn));

	if (!cn || uv_poll_init_socket(sv->loop, &cn->ctl_poll, fd) < 0) {
		log_warn("netdev %s: cannot take a VDE client: out of "
			 "resources",
			 sv->id);
		free(cn);
		close(fd);
		return;
	}
	cn->sv = sv;
	cn->ctl_fd = fd;
	cn->ctl_poll.data = cn;
	uv_timer_init(sv->loop, &cn->timer);
	cn->timer.data = cn;
	cn->busy = 2; /* the two handles */
	sv->refs++;
	cn->next = sv->conns;
	sv->conns = cn;
	sv->nconns++;
	uv_poll_start(&cn->ctl_poll, UV_READABLE, vde_conn_on_ctl);
	uv_timer_start(&cn->timer, vde_conn_on_timeout, VDE_HANDSHAKE_MS, 0);
}

static void vde_server_on_accept(uv_poll_t *h, int status, int events)
{
	struct vde_server *sv = h->data;

	(void)events;
	if (status < 0)
		return;
	while (sv->nd) {
		int fd = accept4(sv->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			vde_server_accepted(sv, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_warn("netdev %s: accept on %s: %s", sv->id,
				 sv->ctl_path, strerror(errno));
		return;
	}
}

static void vde_server_on_listen_closed(uv_handle_t *h)
{
	vde_server_unref(h->data);
}

/**
 * vde_server_dir() - DIR exists as a directory, made with @mode (and x
 * where r is given) when it does not.  With @gid, DIR is given to that
 * group and made set-group-ID: the sockets made in it later (when the
 * sandbox allows no chown) are the group's from the start.
 */
static bool vde_server_dir(const char *dir, mode_t mode, const gid_t *gid,
			   struct nh_error **errp)
{
	mode_t dmode = 0700 | mode | ((mode & 0444) >> 2);
	struct stat st;

	if (mkdir(dir, dmode) == 0) {
		chmod(dir, dmode); /* past the umask */
	} else if (errno != EEXIST) {
		nh_error_setg(errp,
			      "vdeserver=%s: cannot make the directory: "
			      "%s",
			      dir, strerror(errno));
		return false;
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		nh_error_setg(errp,
			      "vdeserver=%s: exists and is not a "
			      "directory",
			      dir);
		return false;
	}
	if (gid && (chown(dir, (uid_t)-1, *gid) < 0 ||
		    chmod(dir, (st.st_mode & 07777) | S_ISGID) < 0)) {
		nh_error_setg(errp,
			      "vdeserver=%s: cannot give it to the group: "
			      "%s",
			      dir, strerror(errno));
		return false;
	}
	return true;
}

bool vde_server_open(struct netdev *nd, const struct vde_opts *o,
		     struct nh_error **errp)
{
	struct vde_server *sv;
	struct nh_error *err = NULL;
	int n;

	sv = calloc(1, sizeof(*sv));
	if (!sv) {
		nh_error_setg(errp, "netdev %s: out of memory", nd->id);
		return false;
	}
	sv->head.role = VDE_SERVER;
	sv->refs = 1;
	sv->nd = nd;
	sv->loop = nd->loop;
	sv->listen_fd = -1;
	sv->mode = (mode_t)o->mode;
	snprintf(sv->id, sizeof(sv->id), "%s", nd->id);
	n = snprintf(sv->ctl_path, sizeof(sv->ctl_path), "%s/ctl",
		     o->vdeserver);
	/* room for the data sockets' names, too */
	if (n < 0 || (size_t)n + 16 >= sizeof(sv->ctl_path)) {
		nh_error_setg(errp,
			      "vdeserver=%s: path too long for a unix "
			      "socket",
			      o->vdeserver);
		free(sv);
		return false;
	}
	snprintf(sv->dir, sizeof(sv->dir), "%s", o->vdeserver);
	if (o->group) {
		if (!vde_group(o->group, &sv->gid)) {
			nh_error_setg(errp, "group=%s: no such group",
				      o->group);
			free(sv);
			return false;
		}
		sv->gid_set = true;
	}
	if (!vde_server_dir(sv->dir, sv->mode, sv->gid_set ? &sv->gid : NULL,
			    errp)) {
		free(sv);
		return false;
	}
	sv->listen_fd =
	    unixsock_listen(sv->ctl_path, sv->mode, (gid_t)-1,
			    VDE_LISTEN_BACKLOG,
			    &sv->ctl_dev, &sv->ctl_ino, &err);
	if (sv->listen_fd < 0) {
		nh_error_setg(errp, "vdeserver=%s: %s", sv->dir,
			      err ? err->msg : "cannot listen");
		nh_error_free(err);
		free(sv);
		return false;
	}
	if ((sv->gid_set && chown(sv->ctl_path, (uid_t)-1, sv->gid) < 0) ||
	    uv_poll_init_socket(sv->loop, &sv->listen_poll, sv->listen_fd) <
		0) {
		nh_error_setg(errp, "vdeserver=%s: %s", sv->dir,
			      strerror(errno));
		unixsock_unlink_own(sv->ctl_path, sv->ctl_dev, sv->ctl_ino);
		close(sv->listen_fd);
		free(sv);
		return false;
	}
	sv->listen_poll.data = sv;
	sv->listen_init = true;
	sv->refs++;
	nd->priv = sv;
	uv_poll_start(&sv->listen_poll, UV_READABLE, vde_server_on_accept);
	log_info("netdev %s: VDE switch on %s", nd->id, sv->ctl_path);
	return true;
}

void vde_server_close(struct netdev *nd)
{
	struct vde_server *sv = nd->priv;

	nd->priv = NULL;
	sv->nd = NULL;
	if (sv->listen_init)
		uv_close((uv_handle_t *)&sv->listen_poll,
			 vde_server_on_listen_closed);
	if (sv->listen_fd >= 0) {
		close(sv->listen_fd);
		unixsock_unlink_own(sv->ctl_path, sv->ctl_dev, sv->ctl_ino);
	}
	while (sv->conns)
		vde_conn_remove(sv->conns);
	vde_server_unref(sv);
}

void vde_server_info(const struct netdev *nd, json_t *obj)
{
	const struct vde_server *sv = nd->priv;

	json_object_set_new(obj, "mode", json_string("server"));
	json_object_set_new(obj, "vdeserver", json_string(sv->dir));
	json_object_set_new(obj, "clients", json_integer(sv->nconns));
	json_object_set_new(obj, "refused",
			    json_integer((json_int_t)sv->refused));
}

void vde_server_port_info(const struct port *p, json_t *obj)
{
	const struct vde_conn *cn = p->priv;

	if (!cn)
		return;
	json_object_set_new(obj, "peer", json_string(cn->descr));
	if (cn->asked_port)
		json_object_set_new(obj, "vde-port",
				    json_integer(cn->asked_port));
}
