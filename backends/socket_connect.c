// SPDX-License-Identifier: MIT
/* socket_connect.c - the socket netdev's connect= mode: connecting to a
 * TCP listener, and reconnecting (reconnect=, nethub's extension)
 *
 * Without reconnect=, open connects synchronously (waiting at most
 * SOCKET_CONNECT_WAIT_MS) and fails when the peer cannot be reached; a
 * lost connection leaves the netdev idle.  With it, open starts an
 * asynchronous attempt and succeeds; failed attempts and lost connections
 * are retried every reconnect= seconds.  The connection is the port "ID".
 *
 * Owns: the attempt in flight (struct socket_attempt, its uv_poll_t and
 * socket) and, in this mode, the state's timer.
 *
 * Never: block the loop after open, log every failed attempt at info
 * (the first of a run only), or touch the netdev after close (s->nd NULL).
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "socket_internal.h"

static void socket_connect_begin(struct socket_state *s);

static void socket_on_retry(uv_timer_t *t)
{
	socket_connect_begin(t->data);
}

static void socket_schedule_retry(struct socket_state *s)
{
	uv_timer_start(&s->timer, socket_on_retry,
		       (uint64_t)s->reconnect_s * 1000, 0);
}

/**
 * socket_connect_lost() - on_peer_lost for connect=: reconnect in
 * reconnect= seconds, or stay idle without reconnect=
 */
static void socket_connect_lost(struct socket_state *s, const char *why)
{
	s->connected = false;
	s->local_str[0] = '\0';
	if (s->reconnect_s) {
		log_info("netdev %s: disconnected from %s (%s); "
			 "reconnecting every %u s",
			 s->id, s->remote_str, why, s->reconnect_s);
		socket_schedule_retry(s);
	} else {
		log_info("netdev %s: disconnected from %s (%s); idle, "
			 "no reconnect=",
			 s->id, s->remote_str, why);
	}
}

/**
 * socket_connected() - a connection is up: make its port, log once
 * Takes over @fd.  On failure (no memory, no channel) it tries again later.
 */
static void socket_connected(struct socket_state *s, int fd)
{
	struct nh_error *err = NULL;

	if (!socket_stream_start(s, fd, &err)) {
		log_warn("netdev %s: connected to %s but cannot use it: %s",
			 s->id, s->remote_str, err ? err->msg : "?");
		nh_error_free(err);
		socket_schedule_retry(s);
		return;
	}
	s->connected = true;
	s->fail_logged = false;
	if (s->ever_connected)
		s->reconnects++;
	s->ever_connected = true;
	log_info("netdev %s: connected to %s", s->id, s->remote_str);
}

/* socket_connect_failed() - log the first failure in a row at info, the
 * others at debug, and try again in reconnect= seconds */
static void socket_connect_failed(struct socket_state *s, int err)
{
	if (!s->fail_logged)
		log_info("netdev %s: %s: %s; retrying every %u s",
			 s->id, s->remote_opt, strerror(err), s->reconnect_s);
	else
		log_debug("netdev %s: %s: %s", s->id, s->remote_opt,
			  strerror(err));
	s->fail_logged = true;
	socket_schedule_retry(s);
}

/**
 * socket_on_attempt_closed() - the attempt's handle is closed, so its fd
 * may be closed or handed to a channel (whose engine may watch the same fd
 * with libuv: our handle must be gone first)
 */
static void socket_on_attempt_closed(uv_handle_t *h)
{
	struct socket_attempt *a = h->data;
	struct socket_state *s = a->s;

	if (s->attempt == a)
		s->attempt = NULL;
	if (!s->nd) {
		close(a->fd);
	} else if (a->err) {
		close(a->fd);
		socket_connect_failed(s, a->err);
	} else {
		socket_connected(s, a->fd);
	}
	free(a);
	socket_unref(s);
}

static void socket_on_connect_ready(uv_poll_t *h, int status, int events)
{
	struct socket_attempt *a = h->data;
	socklen_t len = sizeof(a->err);

	/* A refused connection raises POLLERR, which libuv reports as
	 * UV_EBADF: the socket's own error is the one to believe */
	(void)events;
	if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &a->err, &len) < 0)
		a->err = errno;
	else if (!a->err && status < 0)
		a->err = -status;
	uv_close((uv_handle_t *)h, socket_on_attempt_closed);
}

/**
 * socket_connect_begin() - start an asynchronous connection (reconnect=)
 *
 * Completion is watched by a uv_poll_t of its own; the outcome is acted on
 * once that handle is closed (socket_on_attempt_closed()).
 */
static void socket_connect_begin(struct socket_state *s)
{
	struct socket_attempt *a;
	int fd, r;

	if (!s->nd || s->connected || s->attempt)
		return;
	fd = socket_stream_socket(s->remote.ss.ss_family);
	if (fd < 0) {
		socket_connect_failed(s, errno);
		return;
	}
	if (connect(fd, sockaddr_sa(&s->remote), s->remote.len) == 0) {
		socket_connected(s, fd);
		return;
	}
	if (errno != EINPROGRESS && errno != EINTR) {
		r = errno;
		close(fd);
		socket_connect_failed(s, r);
		return;
	}

	a = calloc(1, sizeof(*a));
	if (!a) {
		close(fd);
		socket_connect_failed(s, ENOMEM);
		return;
	}
	a->s = s;
	a->fd = fd;
	r = uv_poll_init_socket(socket_loop(s), &a->poll, fd);
	if (r < 0) {
		free(a);
		close(fd);
		socket_connect_failed(s, -r);
		return;
	}
	a->poll.data = a;
	s->attempt = a;
	s->refs++; /* dropped in socket_on_attempt_closed() */
	r = uv_poll_start(&a->poll, UV_WRITABLE, socket_on_connect_ready);
	if (r < 0) {
		a->err = -r;
		uv_close((uv_handle_t *)&a->poll, socket_on_attempt_closed);
	}
}

void socket_connect_stop(struct socket_state *s)
{
	if (s->attempt && !uv_is_closing((uv_handle_t *)&s->attempt->poll))
		uv_close((uv_handle_t *)&s->attempt->poll,
			 socket_on_attempt_closed);
	s->attempt = NULL;
}

/**
 * socket_connect_sync() - connect at open, waiting at most
 * SOCKET_CONNECT_WAIT_MS for the answer
 * Return: the connected socket, or -errno
 */
static int socket_connect_sync(const struct sockaddr_any *to)
{
	struct timespec start, now;
	int fd, err = 0;
	socklen_t len = sizeof(err);

	fd = socket_stream_socket(to->ss.ss_family);
	if (fd < 0)
		return -errno;
	if (connect(fd, sockaddr_sa(to), to->len) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EINTR) {
		err = errno;
		close(fd);
		return -err;
	}

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		long waited;
		int r;

		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - start.tv_sec) * 1000 +
			 (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited >= SOCKET_CONNECT_WAIT_MS) {
			err = ETIMEDOUT;
			break;
		}
		r = poll(&pfd, 1, (int)(SOCKET_CONNECT_WAIT_MS - waited));
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			err = ETIMEDOUT;
		else if (r < 0 ||
			 getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		break;
	}
	if (err) {
		close(fd);
		return -err;
	}
	return fd;
}

bool socket_open_connect(struct socket_state *s, const char *text,
			 struct nh_error **errp)
{
	char label[sizeof(s->remote_opt)];

	if (!sockaddr_parse("connect", text, 0, SOCK_STREAM, &s->remote, errp))
		return false;
	snprintf(label, sizeof(label), "connect=%s", text);
	return socket_connect_start(s, label, errp);
}

bool socket_connect_start(struct socket_state *s, const char *label,
			  struct nh_error **errp)
{
	int fd;

	snprintf(s->remote_opt, sizeof(s->remote_opt), "%s", label);
	sockaddr_str(sockaddr_sa(&s->remote), s->remote.len, s->remote_str,
		     sizeof(s->remote_str));
	s->on_peer_lost = socket_connect_lost;

	if (s->reconnect_s) {
		uv_timer_init(socket_loop(s), &s->timer);
		s->timer.data = s;
		s->timer_init = true;
		s->refs++;
		socket_connect_begin(s);
		return true;
	}

	fd = socket_connect_sync(&s->remote);
	if (fd < 0) {
		nh_error_setg(errp, "%s: %s", label, strerror(-fd));
		return false;
	}
	if (!socket_stream_start(s, fd, errp))
		return false;
	s->connected = true;
	s->ever_connected = true;
	log_info("netdev %s: connected to %s", s->id, s->remote_str);
	return true;
}
