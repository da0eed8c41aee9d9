// SPDX-License-Identifier: MIT
/* stream.c - QEMU 7.2's "stream" and "dgram" netdevs (nethub extensions
 * of the reference schema), on the socket backend
 *
 *   stream,addr.type=inet|unix|fd,...,server=on|off[,reconnect=S]
 *        QEMU's socket stream framing (a 4-byte big-endian length before
 *        each frame).  server=on listens, and unlike QEMU takes any
 *        number of clients, each its own port "ID.N", as socket,listen=
 *        does; server=off connects (the port "ID"), and with reconnect=
 *        retries and reconnects every that many seconds.
 *   dgram,local.type=inet|unix|fd,...,remote.type=inet|unix,...
 *        one frame per datagram, from the local address to the remote
 *        one; frames are taken from any sender, as QEMU takes them.
 *
 * Unix sockets may be paths or abstract names.  A path nethub makes (a
 * stream server's, a dgram's local one) is created with mode= (nethub's
 * extension, default 0700), so other users' VMs can be let in; a stale
 * socket file is replaced, a live one refused; ours is removed at close.
 *
 * Owns: nothing of its own: the socket backend's state (nd->priv) and its
 * ops (socket.c) serve these netdevs once they are open.
 *
 * Never: replace a file that is not a dead socket, or leave a socket we
 * made behind on failure.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"
#include "opts.h"
#include "socket_internal.h"
#include "stream_internal.h"
#include "unixsock.h"

#define STREAM_MODE_DEFAULT 0700

struct stream_opts {
	struct stream_addr addr;   /* stream */
	struct stream_addr local;  /* dgram */
	struct stream_addr remote; /* dgram */
	bool has_remote;
	bool server;
	int64_t reconnect;
	int64_t mode;
};

/* stream_mode_opt() - mode= (octal, as a file mode), for a unix path only */
static bool stream_mode_opt(const json_t *opts, const struct stream_addr *a,
			    bool makes_file, int64_t *mode,
			    struct nh_error **errp)
{
	*mode = STREAM_MODE_DEFAULT;
	if (!opts_has(opts, "mode"))
		return true;
	if (!opts_get_int(opts, "mode", 0, 0777, mode, errp))
		return false;
	if (!makes_file || a->type != STREAM_ADDR_UNIX || a->abstract) {
		nh_error_setg(errp, "mode= is only valid where nethub makes a "
				    "unix socket file");
		return false;
	}
	return true;
}

static bool stream_parse(const json_t *opts, struct stream_opts *o,
			 struct nh_error **errp)
{
	static const char *const known[] = {
	    "id", "type", "server", "reconnect", "mode", NULL,
	};
	static const char *const addrs[] = {"addr", NULL};

	memset(o, 0, sizeof(*o));
	if (!stream_check_keys(opts, known, addrs, errp) ||
	    !opts_get_bool(opts, "server", &o->server, errp) ||
	    !opts_get_int(opts, "reconnect", 0, SOCKET_RECONNECT_MAX_S,
			  &o->reconnect, errp))
		return false;
	if (!stream_addr_parse(opts, "addr", o->server ? SOCKADDR_F_PASSIVE : 0,
			       SOCK_STREAM, &o->addr, errp))
		return false;
	if (o->reconnect && (o->server || o->addr.type == STREAM_ADDR_FD)) {
		nh_error_setg(errp, "reconnect= is only valid with server=off "
				    "and an inet or unix address");
		return false;
	}
	return stream_mode_opt(opts, &o->addr, o->server, &o->mode, errp);
}

static bool stream_check(const json_t *opts, struct nh_error **errp)
{
	struct stream_opts o;

	return stream_parse(opts, &o, errp);
}

static bool dgram_parse(const json_t *opts, struct stream_opts *o,
			struct nh_error **errp)
{
	static const char *const known[] = {"id", "type", "mode", NULL};
	static const char *const addrs[] = {"local", "remote", NULL};
	json_t *remote;

	memset(o, 0, sizeof(*o));
	if (!stream_check_keys(opts, known, addrs, errp) ||
	    !stream_addr_parse(opts, "local", SOCKADDR_F_PASSIVE, SOCK_DGRAM,
			       &o->local, errp))
		return false;
	remote = stream_addr_members(opts, "remote");
	o->has_remote = remote != NULL;
	json_decref(remote);
	if (o->local.type == STREAM_ADDR_FD) {
		if (o->has_remote) {
			nh_error_setg(errp, "remote= is not valid with "
					    "local.type=fd");
			return false;
		}
	} else if (!o->has_remote) {
		nh_error_setg(errp, "Parameter 'remote' is missing (dgram "
				    "needs local= and remote=)");
		return false;
	} else {
		if (!stream_addr_parse(opts, "remote", 0, SOCK_DGRAM,
				       &o->remote, errp))
			return false;
		if (o->remote.type == STREAM_ADDR_FD) {
			nh_error_setg(errp, "remote.type=fd is not valid");
			return false;
		}
		if (o->remote.sa.ss.ss_family != o->local.sa.ss.ss_family) {
			nh_error_setg(errp,
				      "local=%s and remote=%s are of "
				      "different address families",
				      o->local.text, o->remote.text);
			return false;
		}
		if (socket_is_multicast(&o->remote.sa)) {
			nh_error_setg(errp,
				      "remote=%s: multicast is not "
				      "supported by dgram here; use "
				      "socket,mcast=",
				      o->remote.text);
			return false;
		}
	}
	return stream_mode_opt(opts, &o->local, true, &o->mode, errp);
}

static bool dgram_check(const json_t *opts, struct nh_error **errp)
{
	struct stream_opts o;

	return dgram_parse(opts, &o, errp);
}

/* -- opening ------------------------------------------------------------ */

/**
 * stream_unix_path_free() - a datagram socket file may be bound at @path:
 * absent, or a socket nobody receives on (then removed)
 */
static bool stream_unix_path_free(const struct stream_addr *a,
				  struct nh_error **errp)
{
	struct stat st;
	int fd, rc, err;

	if (lstat(a->path, &st) < 0)
		return true; /* bind() tells what else is wrong */
	if (!S_ISSOCK(st.st_mode)) {
		nh_error_setg(errp, "%s: exists and is not a socket", a->text);
		return false;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		nh_error_setg(errp, "%s: %s", a->text, strerror(errno));
		return false;
	}
	rc = connect(fd, sockaddr_sa(&a->sa), a->sa.len);
	err = errno;
	close(fd);
	if (rc == 0 || err != ECONNREFUSED) {
		nh_error_setg(errp, "%s: %s", a->text,
			      rc == 0 ? "another process is using this socket"
				      : strerror(err));
		return false;
	}
	unlink(a->path);
	return true;
}

/**
 * stream_bind() - a non-blocking socket of @type bound to @a; a unix path
 * is made with @mode and recorded in @s as ours
 * Return: the socket, or -1 with errp set
 */
static int stream_bind(struct socket_state *s, const struct stream_addr *a,
		       int type, mode_t mode, struct nh_error **errp)
{
	bool path = a->type == STREAM_ADDR_UNIX && !a->abstract;
	int fd, one = 1, rc, err;
	mode_t old_mask = 0;
	struct stat st;

	if (path && type == SOCK_DGRAM && !stream_unix_path_free(a, errp))
		return -1;
	fd = socket(a->sa.ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		nh_error_setg(errp, "%s: %s", a->text, strerror(errno));
		return -1;
	}
	if (a->type == STREAM_ADDR_INET && type == SOCK_STREAM)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				 sizeof(one));
	if (path)
		old_mask = umask(0777 & ~mode);
	rc = bind(fd, sockaddr_sa(&a->sa), a->sa.len);
	err = errno;
	if (path)
		umask(old_mask);
	if (rc < 0) {
		nh_error_setg(errp, "%s: %s", a->text, strerror(err));
		close(fd);
		return -1;
	}
	if (path && lstat(a->path, &st) == 0) {
		snprintf(s->own_path, sizeof(s->own_path), "%s", a->path);
		s->own_dev = st.st_dev;
		s->own_ino = st.st_ino;
	}
	return fd;
}

/* stream_listen() - server=on: listen at the address, peers as ports */
static bool stream_listen(struct socket_state *s, const struct stream_opts *o,
			  struct nh_error **errp)
{
	const struct stream_addr *a = &o->addr;
	struct nh_error *err = NULL;
	int fd;

	if (a->type == STREAM_ADDR_UNIX && !a->abstract) {
		fd = unixsock_listen(a->path, (mode_t)o->mode, (gid_t)-1,
				     SOCKET_LISTEN_BACKLOG, &s->own_dev,
				     &s->own_ino, &err);
		if (fd < 0) {
			nh_error_setg(errp, "addr: %s",
				      err ? err->msg : "cannot listen");
			nh_error_free(err);
			return false;
		}
		snprintf(s->own_path, sizeof(s->own_path), "%s", a->path);
	} else {
		fd = stream_bind(s, a, SOCK_STREAM, 0, errp);
		if (fd < 0)
			return false;
		if (listen(fd, SOCKET_LISTEN_BACKLOG) < 0) {
			nh_error_setg(errp, "%s: %s", a->text, strerror(errno));
			close(fd);
			return false;
		}
	}
	if (!socket_listen_start(s, fd, errp))
		return false;
	if (a->type == STREAM_ADDR_UNIX)
		snprintf(s->local_str, sizeof(s->local_str), "%s", a->text);
	return true;
}

static bool stream_open(struct netdev *nd, const json_t *opts,
			struct nh_error **errp)
{
	struct socket_state *s;
	struct stream_opts o;
	char label[sizeof(o.addr.text) + 8];
	bool ok;

	if (!stream_parse(opts, &o, errp))
		return false;
	s = socket_state_new(nd,
			     o.addr.type == STREAM_ADDR_FD ? SOCKET_FD
			     : o.server			   ? SOCKET_LISTEN
							   : SOCKET_CONNECT,
			     errp);
	if (!s)
		return false;
	s->reconnect_s = (unsigned)o.reconnect;
	if (o.addr.type == STREAM_ADDR_FD) {
		ok = socket_open_fd(s, o.addr.fd, errp);
	} else if (o.server) {
		ok = stream_listen(s, &o, errp);
	} else {
		s->remote = o.addr.sa;
		snprintf(label, sizeof(label), "addr=%s", o.addr.text);
		ok = socket_connect_start(s, label, errp);
	}
	if (!ok) {
		nd->priv = NULL;
		socket_teardown(s);
		return false;
	}
	if (s->mode == SOCKET_LISTEN)
		log_info("netdev %s: listening on %s", s->id, s->local_str);
	return true;
}

static bool dgram_open(struct netdev *nd, const json_t *opts,
		       struct nh_error **errp)
{
	struct socket_state *s;
	struct stream_opts o;
	struct io_chan_cfg cfg;
	int fd;

	if (!dgram_parse(opts, &o, errp))
		return false;
	s = socket_state_new(
	    nd, o.local.type == STREAM_ADDR_FD ? SOCKET_FD : SOCKET_DGRAM,
	    errp);
	if (!s)
		return false;
	if (o.local.type == STREAM_ADDR_FD) {
		if (socket_open_fd(s, o.local.fd, errp))
			return true;
		goto fail;
	}
	fd = stream_bind(s, &o.local, SOCK_DGRAM, (mode_t)o.mode, errp);
	if (fd < 0)
		goto fail;
	s->remote = o.remote.sa;
	snprintf(s->local_str, sizeof(s->local_str), "%s", o.local.text);
	snprintf(s->remote_str, sizeof(s->remote_str), "%s", o.remote.text);
	socket_dgram_cfg(&cfg, &s->remote);
	if (o.local.type == STREAM_ADDR_INET)
		cfg.flags = IO_CHAN_F_UDP_GRO | IO_CHAN_F_UDP_GSO;
	if (socket_peer_start(s, NULL, fd, &cfg, -1, NULL, o.remote.text, errp))
		return true;
fail:
	nd->priv = NULL;
	socket_teardown(s);
	return false;
}

const struct backend_ops stream_backend = {
    .type = "stream",
    .check = stream_check,
    .open = stream_open,
    .close = socket_close,
    .send = socket_send,
    .rx_pause = socket_rx_pause,
    .info = socket_info,
    .port_info = socket_port_info,
};

const struct backend_ops dgram_backend = {
    .type = "dgram",
    .check = dgram_check,
    .open = dgram_open,
    .close = socket_close,
    .send = socket_send,
    .rx_pause = socket_rx_pause,
    .info = socket_info,
    .port_info = socket_port_info,
};
