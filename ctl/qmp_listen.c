// SPDX-License-Identifier: MIT
/* qmp_listen.c - QMP control sockets: the -qmp option and opening them
 *
 * Parses "unix:PATH[,...]" and "tcp:HOST:PORT[,...]" and binds the sockets
 * with the permissions asked for; takes over the listening sockets a
 * service manager passes (socket activation).  Owns no state: qmp.c keeps the
 * listeners and serves them.  Never removes a file that is not a dead
 * socket.
 */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "qmp_internal.h"
#include "unixsock.h"

void qmp_listen_config_free(struct qmp_listen_config *lc)
{
	if (!lc)
		return;
	free(lc->path);
	free(lc->host);
	free(lc->port);
	free(lc->group);
	if (lc->kind == QMP_LISTEN_FD && lc->fd >= 0)
		close(lc->fd);
	free(lc);
}

/* Split the next comma-separated item off *p (",," is a literal comma) */
static char *next_item(const char **p)
{
	const char *s = *p;
	size_t len = strlen(s);
	char *out = malloc(len + 1), *o = out;

	while (*s) {
		if (*s == ',') {
			if (s[1] != ',')
				break;
			s++;
		}
		*o++ = *s++;
	}
	*o = '\0';
	*p = *s ? s + 1 : s;
	return out;
}

static bool parse_onoff(const char *v, bool *out)
{
	static const char *const on[] = { "on", "yes", "true" };
	static const char *const off[] = { "off", "no", "false" };

	for (unsigned i = 0; i < 3; i++) {
		if (!strcmp(v, on[i]))
			return *out = true, true;
		if (!strcmp(v, off[i]))
			return *out = false, true;
	}
	return false;
}

/* One "key=value" (or bare flag) of a -qmp option */
static bool parse_listen_option(struct qmp_listen_config *lc, char *item,
				struct nh_error **errp)
{
	char *eq = strchr(item, '=');
	const char *key = item, *val = eq ? eq + 1 : NULL;
	bool b;

	if (eq)
		*eq = '\0';
	if (!strcmp(key, "server") || !strcmp(key, "wait")) {
		bool is_server = key[0] == 's';

		if (!val)
			b = true;
		else if (!parse_onoff(val, &b)) {
			nh_error_setg(errp, "-qmp: %s=%s: expects on or off",
				      key, val);
			return false;
		}
		if (is_server && !b) {
			nh_error_setg(errp, "-qmp: 'server=off' is not "
					    "supported: nethubd only listens");
			return false;
		}
		if (!is_server && b) {
			nh_error_setg(errp, "-qmp: 'wait=on' is not supported: "
					    "nethubd never waits for a client");
			return false;
		}
		return true;
	}
	if (!strcmp(key, "nowait") && !val)
		return true;
	if (!strcmp(key, "remote")) {
		if (lc->kind != QMP_LISTEN_TCP) {
			nh_error_setg(errp, "-qmp: 'remote' applies to tcp "
					    "sockets only");
			return false;
		}
		if (val && !parse_onoff(val, &lc->remote)) {
			nh_error_setg(errp, "-qmp: remote=%s: expects on or off",
				      val);
			return false;
		}
		if (!val)
			lc->remote = true;
		return true;
	}
	if (!strcmp(key, "mode") || !strcmp(key, "group")) {
		if (lc->kind != QMP_LISTEN_UNIX) {
			nh_error_setg(errp, "-qmp: '%s' applies to unix sockets "
					    "only", key);
			return false;
		}
		if (!val || !*val) {
			nh_error_setg(errp, "-qmp: '%s' needs a value", key);
			return false;
		}
	}
	if (!strcmp(key, "mode")) {
		char *end;
		unsigned long m = strtoul(val, &end, 8);

		if (*end || m > 0777 || !isdigit((unsigned char)*val)) {
			nh_error_setg(errp, "-qmp: mode=%s: expects octal "
					    "permission bits such as 0660", val);
			return false;
		}
		lc->mode = (unsigned)m;
		return true;
	}
	if (!strcmp(key, "group")) {
		if (!getgrnam(val)) {
			nh_error_setg(errp, "-qmp: group=%s: no such group", val);
			return false;
		}
		free(lc->group);
		lc->group = strdup(val);
		return true;
	}
	nh_error_setg(errp, "-qmp: unknown option '%s'", key);
	return false;
}

/* "HOST:PORT" or "[V6]:PORT"; every address is 0.0.0.0 or ::, never "" */
static bool parse_host_port(struct qmp_listen_config *lc, const char *s,
			    struct nh_error **errp)
{
	const char *colon;
	size_t hlen;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':') {
			nh_error_setg(errp, "-qmp tcp:%s: expects [ADDRESS]:PORT",
				      s);
			return false;
		}
		lc->host = strndup(s + 1, (size_t)(close - s - 1));
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			nh_error_setg(errp, "-qmp tcp:%s: expects HOST:PORT", s);
			return false;
		}
		hlen = (size_t)(colon - s);
		lc->host = strndup(s, hlen);
	}
	if (!*lc->host) {
		nh_error_setg(errp, "-qmp tcp:%s: the host address is empty "
				    "(0.0.0.0 or :: listen on every address)",
			      s);
		return false;
	}
	lc->port = strdup(colon + 1);
	if (!*lc->port || strspn(lc->port, "0123456789") != strlen(lc->port) ||
	    atol(lc->port) > 65535) {
		nh_error_setg(errp, "-qmp tcp:%s: '%s' is not a port number", s,
			      lc->port);
		return false;
	}
	return true;
}

struct qmp_listen_config *qmp_listen_parse(const char *text,
					   struct nh_error **errp)
{
	struct qmp_listen_config *lc = calloc(1, sizeof(*lc));
	const char *p;
	char *addr;
	bool ok = true;

	lc->mode = 0600;
	lc->fd = -1;
	if (!strncmp(text, "unix:", 5)) {
		lc->kind = QMP_LISTEN_UNIX;
		p = text + 5;
	} else if (!strncmp(text, "tcp:", 4)) {
		lc->kind = QMP_LISTEN_TCP;
		p = text + 4;
	} else {
		nh_error_setg(errp, "-qmp %s: expects unix:PATH or "
				    "tcp:HOST:PORT", text);
		qmp_listen_config_free(lc);
		return NULL;
	}
	addr = next_item(&p);
	if (lc->kind == QMP_LISTEN_UNIX) {
		if (!*addr) {
			nh_error_setg(errp, "-qmp %s: the socket path is empty",
				      text);
			ok = false;
		} else if (strlen(addr) >= sizeof(((struct sockaddr_un *)0)
							  ->sun_path)) {
			nh_error_setg(errp, "-qmp unix:%s: path too long (at "
					    "most %zu bytes)", addr,
				      sizeof(((struct sockaddr_un *)0)->sun_path) -
					      1);
			ok = false;
		}
		lc->path = addr;
	} else {
		ok = parse_host_port(lc, addr, errp);
		free(addr);
	}
	while (ok && *p) {
		char *item = next_item(&p);

		ok = parse_listen_option(lc, item, errp);
		free(item);
	}
	if (!ok) {
		qmp_listen_config_free(lc);
		return NULL;
	}
	return lc;
}

/* ------------------------------------------------------------ sockets */

int qmp_listen_unix(struct qmp_listener *l, struct nh_error **errp)
{
	const struct qmp_listen_config *lc = l->lc;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old_mask;
	gid_t gid = (gid_t)-1;
	int fd, rc;

	if (!unixsock_path_free(lc->path, errp))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		nh_error_setg(errp, "unix:%s: socket: %s", lc->path,
			      strerror(errno));
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", lc->path);
	/* created with its final mode: never connectable by others */
	old_mask = umask(0777 & ~lc->mode);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (rc) {
		nh_error_setg(errp, "unix:%s: cannot bind: %s", lc->path,
			      strerror(errno));
		close(fd);
		return -1;
	}
	if (lc->group) {
		const struct group *gr = getgrnam(lc->group);

		gid = gr ? gr->gr_gid : (gid_t)-1;
	}
	if (chmod(lc->path, lc->mode) ||
	    (gid != (gid_t)-1 && chown(lc->path, (uid_t)-1, gid))) {
		nh_error_setg(errp, "unix:%s: cannot set mode/group: %s",
			      lc->path, strerror(errno));
		unlink(lc->path);
		close(fd);
		return -1;
	}
	if (!stat(lc->path, &st)) {
		l->dev = st.st_dev;
		l->ino = st.st_ino;
	}
	return fd;
}

static bool addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
		       (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
			in6->sin6_addr.s6_addr[12] == 127);
	}
	return false;
}

int qmp_listen_tcp(struct qmp_listener *l, struct nh_error **errp)
{
	const struct qmp_listen_config *lc = l->lc;
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE,
	};
	struct addrinfo *res;
	int fd, one = 1, rc;

	rc = getaddrinfo(lc->host, lc->port, &hints, &res);
	if (rc) {
		nh_error_setg(errp, "%s: %s", l->label, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, res->ai_addr, res->ai_addrlen)) {
		nh_error_setg(errp, "%s: cannot bind: %s", l->label,
			      strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	if (!addr_is_loopback(res->ai_addr)) {
		if (!lc->remote) {
			nh_error_setg(errp, "%s: not a loopback address; QMP has "
					    "no authentication, so serving it "
					    "to other hosts needs remote=on",
				      l->label);
			close(fd);
			freeaddrinfo(res);
			return -1;
		}
		log_warn("%s: QMP has no authentication, and this address is "
			 "reachable from other hosts (remote=on)",
			 l->label);
	}
	freeaddrinfo(res);
	return fd;
}

/* What @fd is bound to, for the log: "unix:PATH" or "tcp:ADDR:PORT" */
static char *inherited_name(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN], name[QMP_LABEL_MAX];
	const struct sockaddr_un *un = (const void *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		len = 0;
	if (len > 0 && ss.ss_family == AF_UNIX && un->sun_path[0])
		snprintf(name, sizeof(name), "unix:%.*s",
			 (int)(len - offsetof(struct sockaddr_un, sun_path)),
			 un->sun_path);
	else if (len > 0 && ss.ss_family == AF_INET)
		snprintf(name, sizeof(name), "tcp:%s:%u",
			 inet_ntop(AF_INET,
				   &((const struct sockaddr_in *)&ss)->sin_addr,
				   host, sizeof(host)),
			 ntohs(((const struct sockaddr_in *)&ss)->sin_port));
	else if (len > 0 && ss.ss_family == AF_INET6)
		snprintf(name, sizeof(name), "tcp:[%s]:%u",
			 inet_ntop(AF_INET6,
				   &((const struct sockaddr_in6 *)&ss)->sin6_addr,
				   host, sizeof(host)),
			 ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port));
	else
		snprintf(name, sizeof(name), "fd %d", fd);
	return strdup(name);
}

struct qmp_listen_config *qmp_listen_inherit(int fd, struct nh_error **errp)
{
	struct qmp_listen_config *lc;
	int type = 0, listening = 0, flags;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len)) {
		nh_error_setg(errp, "LISTEN_FDS: fd %d: %s", fd,
			      strerror(errno));
		return NULL;
	}
	if (type != SOCK_STREAM) {
		nh_error_setg(errp, "LISTEN_FDS: fd %d is not a stream socket",
			      fd);
		return NULL;
	}
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) ||
	    !listening) {
		nh_error_setg(errp, "LISTEN_FDS: socket fd %d is not listening",
			      fd);
		return NULL;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC)) {
		nh_error_setg(errp, "LISTEN_FDS: fd %d: %s", fd,
			      strerror(errno));
		return NULL;
	}
	lc = calloc(1, sizeof(*lc));
	lc->kind = QMP_LISTEN_FD;
	lc->fd = fd;
	lc->path = inherited_name(fd);
	return lc;
}
