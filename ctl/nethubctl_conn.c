// SPDX-License-Identifier: MIT
/* nethubctl_conn.c - nethubctl's connection to a QMP server
 *
 * Owns the socket and what comes out of it: where the default socket is,
 * connecting within a deadline, finding each JSON object in the byte
 * stream (the server may split or join them any way it likes), the
 * greeting and capabilities negotiation, requests with their replies, and
 * the server's schema once fetched.
 *
 * Never blocks without a deadline unless asked to (the events view); never
 * lets a message grow beyond CTL_MAX_MSG_BYTES; never dies on SIGPIPE.
 */

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "nethubctl.h"

#define CONN_READ_CHUNK	   65536
#define CONN_UNIX_RETRY_MS 10  /* listen backlog full: try again after */
#define CONN_GREETING_MAX  300 /* characters of a bad greeting shown */

struct ctl_conn {
	int fd;
	char *where;	       /* the socket as given, for messages */
	double timeout_s;      /* for each reply */
	unsigned long next_id; /* of the requests we number */
	/* the stream: buf[0..len) read, buf[start..scan) scanned so far */
	char *buf;
	size_t len, cap, start, scan;
	unsigned depth; /* of braces and brackets at scan */
	bool in_string, escaped;
	json_t *schema; /* ctl_schema()'s index, once fetched */
	bool schema_tried;
};

int ctl_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("nethubctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CTL_EXIT_USAGE;
}

int ctl_gone(const char *where)
{
	return ctl_fail("%s: nethubd went away (it closed the connection: "
			"stopped, restarted or crashed)",
			where);
}

double ctl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds until @deadline for poll(): -1 for none, at least 0 */
static int ms_until(double deadline)
{
	double left;

	if (deadline < 0)
		return -1;
	left = (deadline - ctl_now()) * 1000.0;
	if (left <= 0)
		return 0;
	return left > 86400000.0 ? 86400000 : (int)left + 1;
}

void ctl_daemon_socket(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (geteuid() == 0)
		snprintf(buf, size, "/run/nethub/qmp.sock");
	else if (xdg && *xdg)
		snprintf(buf, size, "%s/nethub/qmp.sock", xdg);
	else
		snprintf(buf, size, "/tmp/nethub-%u/qmp.sock",
			 (unsigned)geteuid());
}

void ctl_default_socket(char *buf, size_t size)
{
	const char *env = getenv(CTL_SOCKET_ENV);

	if (env && *env)
		snprintf(buf, size, "%s", env);
	else
		ctl_daemon_socket(buf, size);
}

const char *ctl_where(const struct ctl_conn *c)
{
	return c->where;
}

/* Wait until @fd's non-blocking connect() finished; 0 or an errno */
static int connect_wait(int fd, double deadline)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	socklen_t len = sizeof(int);
	int rc, err = 0;

	do
		rc = poll(&pfd, 1, ms_until(deadline));
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return errno;
	if (rc == 0)
		return ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return errno;
	return err;
}

/* Connect a unix socket; the fd or -errno */
static int connect_unix(const char *path, double deadline)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, err;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (!connect(fd, (struct sockaddr *)&sun, sizeof(sun)))
			return fd;
		err = errno;
		if (err == EINTR)
			continue;
		if (err == EINPROGRESS) {
			err = connect_wait(fd, deadline);
			if (!err)
				return fd;
			break;
		}
		/* a unix socket's full backlog: the server is slow */
		if (err == EAGAIN && ctl_now() < deadline) {
			poll(NULL, 0, CONN_UNIX_RETRY_MS);
			continue;
		}
		if (err == EAGAIN)
			err = ETIMEDOUT;
		break;
	}
	close(fd);
	return -err;
}

/* Connect "HOST:PORT" (HOST may be "[v6]"); the fd or -errno, or -EINVAL
 * with *@why set for a name that does not resolve */
static int connect_tcp(const char *hostport, double deadline, const char **why)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL, *ai;
	char host[256];
	const char *colon = strrchr(hostport, ':');
	size_t hlen;
	int fd, err = EINVAL, gai;

	if (!colon || !colon[1])
		return -EINVAL;
	hlen = (size_t)(colon - hostport);
	if (hlen >= 2 && hostport[0] == '[' && hostport[hlen - 1] == ']') {
		hostport++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, hostport, hlen);
	host[hlen] = '\0';
	gai = getaddrinfo(host, colon + 1, &hints, &res);
	if (gai) {
		*why = gai_strerror(gai);
		return -EINVAL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
			err = 0;
		else if (errno == EINPROGRESS || errno == EINTR)
			err = connect_wait(fd, deadline);
		else
			err = errno;
		if (!err) {
			freeaddrinfo(res);
			return fd;
		}
		close(fd);
	}
	freeaddrinfo(res);
	return -err;
}

/* Write all of @data before @deadline; 0 or CTL_EXIT_USAGE (printed) */
static int conn_write(struct ctl_conn *c, const char *data, size_t len,
		      double deadline)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
	ssize_t n;
	int rc;

	while (len > 0) {
		n = send(c->fd, data, len, MSG_NOSIGNAL);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return ctl_gone(c->where);
		if (n < 0 && errno != EAGAIN)
			return ctl_fail("%s: cannot send: %s", c->where,
					strerror(errno));
		rc = poll(&pfd, 1, ms_until(deadline));
		if (rc == 0)
			return ctl_fail("%s: the server takes no input "
					"(timed out after %g s)",
					c->where, c->timeout_s);
		if (rc < 0 && errno != EINTR)
			return ctl_fail("%s: poll: %s", c->where,
					strerror(errno));
	}
	return 0;
}

/* Send one JSON message, newline-terminated */
static int conn_send(struct ctl_conn *c, const json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	size_t len;
	int rc;

	if (!text)
		return ctl_fail("out of memory");
	len = strlen(text);
	text[len] = '\n'; /* replaces the NUL; length is known */
	rc = conn_write(c, text, len + 1, ctl_now() + c->timeout_s);
	free(text);
	return rc;
}

/*
 * Scan what has been read for the end of the next top-level JSON object.
 * Return: 1 with [*@from, *@to) the object's text, 0 if it is incomplete,
 * or CTL_EXIT_USAGE (printed) for a stream that is not JSON objects.
 */
static int conn_scan(struct ctl_conn *c, size_t *from, size_t *to)
{
	while (c->scan < c->len) {
		char ch = c->buf[c->scan++];

		if (c->in_string) {
			if (c->escaped)
				c->escaped = false;
			else if (ch == '\\')
				c->escaped = true;
			else if (ch == '"')
				c->in_string = false;
			continue;
		}
		if (c->depth == 0) {
			if (ch == ' ' || ch == '\t' || ch == '\r' ||
			    ch == '\n') {
				c->start = c->scan;
				continue;
			}
			if (ch != '{')
				return ctl_fail("%s: the server sent something "
						"that is not a JSON object",
						c->where);
		}
		switch (ch) {
		case '"':
			c->in_string = true;
			break;
		case '{':
		case '[':
			c->depth++;
			break;
		case '}':
		case ']':
			if (--c->depth == 0) {
				*from = c->start;
				*to = c->scan;
				return 1;
			}
			break;
		}
	}
	return 0;
}

/* Drop the bytes before @upto from the buffer */
static void conn_consume(struct ctl_conn *c, size_t upto)
{
	memmove(c->buf, c->buf + upto, c->len - upto);
	c->len -= upto;
	c->scan -= upto;
	c->start = c->scan;
}

/* Read what the socket has into the buffer: 0, or CTL_EXIT_USAGE */
static int conn_fill(struct ctl_conn *c)
{
	ssize_t n;

	if (c->cap - c->len < CONN_READ_CHUNK) {
		size_t cap = c->cap ? c->cap * 2 : 2 * CONN_READ_CHUNK;
		char *buf;

		if (c->len > CTL_MAX_MSG_BYTES)
			return ctl_fail("%s: a message from the server is "
					"longer than %u MiB",
					c->where, CTL_MAX_MSG_BYTES >> 20);
		buf = realloc(c->buf, cap);
		if (!buf)
			return ctl_fail("out of memory");
		c->buf = buf;
		c->cap = cap;
	}
	do
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
	while (n < 0 && errno == EINTR);
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return ctl_gone(c->where);
	if (n < 0 && errno != EAGAIN)
		return ctl_fail("%s: cannot receive: %s", c->where,
				strerror(errno));
	if (n > 0)
		c->len += (size_t)n;
	return 0;
}

int ctl_recv(struct ctl_conn *c, double deadline, json_t **msg)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	size_t from = 0, to = 0;
	json_error_t jerr;
	int rc;

	for (;;) {
		rc = conn_scan(c, &from, &to);
		if (rc == 1)
			break;
		if (rc)
			return rc;
		rc = poll(&pfd, 1, ms_until(deadline));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return ctl_fail("%s: poll: %s", c->where,
					strerror(errno));
		if (rc == 0)
			return CTL_TIMED_OUT;
		rc = conn_fill(c);
		if (rc)
			return rc;
	}
	*msg = json_loadb(c->buf + from, to - from, 0, &jerr);
	conn_consume(c, to);
	if (!*msg)
		return ctl_fail("%s: the server sent bad JSON: %s", c->where,
				jerr.text);
	if (!json_is_object(*msg)) {
		json_decref(*msg);
		*msg = NULL;
		return ctl_fail("%s: the server sent something that is not a "
				"JSON object",
				c->where);
	}
	return 0;
}

void ctl_print_qmp_error(const json_t *error)
{
	fprintf(
	    stderr, "error: %s: %s\n",
	    ctl_json_str(json_object_get(error, "class"), "GenericError"),
	    ctl_json_str(json_object_get(error, "desc"), "(no description)"));
}

int ctl_request(struct ctl_conn *c, const json_t *req, json_t **ret,
		json_t **error)
{
	const char *command =
	    ctl_json_str(json_object_get(req, "execute"), "?");
	json_t *msg = json_deep_copy(req), *id, *reply = NULL, *rid;
	double deadline;
	int rc;

	*ret = NULL;
	*error = NULL;
	if (!msg)
		return ctl_fail("out of memory");
	id = json_object_get(msg, "id");
	if (!id) {
		id = json_sprintf("nethubctl-%lu", ++c->next_id);
		json_object_set_new(msg, "id", id);
	}
	rc = conn_send(c, msg);
	deadline = ctl_now() + c->timeout_s;
	while (!rc) {
		rc = ctl_recv(c, deadline, &reply);
		if (rc == CTL_TIMED_OUT)
			rc = ctl_fail("%s: no reply to '%s' within %g s",
				      c->where, command, c->timeout_s);
		if (rc)
			break;
		if (json_object_get(reply, "event")) {
			json_decref(reply);
			reply = NULL;
			continue;
		}
		/* replies to input the server could not read carry no id */
		rid = json_object_get(reply, "id");
		if (rid && !json_equal(rid, id)) {
			rc = ctl_fail("%s: a reply to another request arrived",
				      c->where);
			break;
		}
		*ret = json_incref(json_object_get(reply, "return"));
		*error = json_incref(json_object_get(reply, "error"));
		if (*ret || json_is_object(*error))
			rc = *ret ? 0 : CTL_EXIT_QMP;
		else
			rc = ctl_fail("%s: a reply with neither 'return' nor "
				      "an 'error' object",
				      c->where);
		break;
	}
	if (rc == CTL_EXIT_USAGE) {
		json_decref(*ret);
		json_decref(*error);
		*ret = *error = NULL;
	}
	json_decref(reply);
	json_decref(msg);
	return rc;
}

int ctl_call(struct ctl_conn *c, const char *command, json_t *args,
	     json_t **ret)
{
	json_t *req = json_pack("{ss}", "execute", command), *error = NULL;
	int rc;

	if (args)
		json_object_set_new(req, "arguments", args);
	rc = ctl_request(c, req, ret, &error);
	json_decref(req);
	if (rc == CTL_EXIT_QMP)
		ctl_print_qmp_error(error);
	json_decref(error);
	return rc;
}

const json_t *ctl_schema(struct ctl_conn *c, int *rc)
{
	json_t *req, *ret = NULL, *error = NULL, *info;
	size_t i;

	*rc = 0;
	if (c->schema_tried)
		return c->schema;
	c->schema_tried = true;
	req = json_pack("{ss}", "execute", "query-qmp-schema");
	*rc = ctl_request(c, req, &ret, &error);
	json_decref(req);
	json_decref(error);
	if (*rc == CTL_EXIT_QMP)
		*rc = 0; /* the server has no schema: the caller falls back */
	if (*rc || !json_is_array(ret)) {
		json_decref(ret);
		return NULL;
	}
	c->schema = json_object();
	json_array_foreach (ret, i, info) {
		const char *name =
		    ctl_json_str(json_object_get(info, "name"), NULL);
		if (json_is_object(info) && name)
			json_object_set(c->schema, name, info);
	}
	json_decref(ret);
	return c->schema;
}

/* Connect to @where (a path, unix:PATH or tcp:HOST:PORT) */
static int conn_connect(struct ctl_conn *c, bool is_default)
{
	double deadline = ctl_now() + c->timeout_s;
	const char *why = NULL;
	int fd;

	if (!strncmp(c->where, "tcp:", 4)) {
		fd = connect_tcp(c->where + 4, deadline, &why);
		if (fd == -EINVAL && !why)
			return ctl_fail("%s: expected tcp:HOST:PORT", c->where);
	} else {
		fd = connect_unix(strncmp(c->where, "unix:", 5) ? c->where
								: c->where + 5,
				  deadline);
	}
	if (fd >= 0) {
		c->fd = fd;
		return 0;
	}
	if (why)
		return ctl_fail("cannot connect to %s: %s", c->where, why);
	return ctl_fail("cannot connect to %s: %s%s", c->where, strerror(-fd),
			is_default && (fd == -ENOENT || fd == -ECONNREFUSED)
			    ? " (is nethubd running? use -s SOCKET or "
			      "set $" CTL_SOCKET_ENV ")"
			    : "");
}

int ctl_open(const struct ctl_opts *opts, struct ctl_conn **out)
{
	struct ctl_conn *c = calloc(1, sizeof(*c));
	char where[4096];
	json_t *greeting = NULL, *ret = NULL;
	int rc;

	*out = NULL;
	if (!c)
		return ctl_fail("out of memory");
	c->fd = -1;
	c->timeout_s = opts->timeout_s;
	if (opts->socket)
		snprintf(where, sizeof(where), "%s", opts->socket);
	else
		ctl_default_socket(where, sizeof(where));
	c->where = strdup(where);
	if (!c->where) {
		free(c);
		return ctl_fail("out of memory");
	}
	rc = conn_connect(c, !opts->socket);
	if (!rc) {
		rc = ctl_recv(c, ctl_now() + c->timeout_s, &greeting);
		if (rc == CTL_TIMED_OUT)
			rc = ctl_fail("%s: no QMP greeting within %g s",
				      c->where, c->timeout_s);
	}
	if (!rc && !json_is_object(json_object_get(greeting, "QMP"))) {
		char *text = json_dumps(greeting, JSON_COMPACT);

		rc = ctl_fail("%s: not a QMP server (it said %.*s)", c->where,
			      CONN_GREETING_MAX, text ? text : "?");
		free(text);
	}
	json_decref(greeting);
	if (!rc) {
		rc = ctl_call(c, "qmp_capabilities", NULL, &ret);
		json_decref(ret);
		if (rc == CTL_EXIT_QMP)
			rc = ctl_fail("%s: capabilities negotiation failed",
				      c->where);
	}
	if (rc) {
		ctl_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

void ctl_close(struct ctl_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	json_decref(c->schema);
	free(c->buf);
	free(c->where);
	free(c);
}

long long ctl_json_int(const json_t *v, long long dflt)
{
	return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

const char *ctl_json_str(const json_t *v, const char *dflt)
{
	return json_is_string(v) ? json_string_value(v) : dflt;
}
