// SPDX-License-Identifier: MIT
/* notify.c - the service manager's readiness protocol ($NOTIFY_SOCKET)
 *
 * Owns one unix datagram socket, connected at start-up to the address the
 * service manager passed, over which nethubd says "READY=1" once it serves
 * and "STOPPING=1" when it shuts down.  systemd reads the sender's
 * credentials, so nothing but the text is sent.
 *
 * Never: let a manager that cannot be told stop the daemon; leave
 * $NOTIFY_SOCKET for the programs nethubd runs (they would speak for it).
 */

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

static int notify_fd = -1;

void notify_open(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len;
	socklen_t salen;

	if (!path)
		return;
	len = strlen(path);
	if (len < 2 || len >= sizeof(sa.sun_path) ||
	    (path[0] != '/' && path[0] != '@')) {
		log_warn("NOTIFY_SOCKET '%s' is not a socket path or an "
			 "abstract name (@NAME); not telling the service "
			 "manager when ready",
			 path);
		unsetenv("NOTIFY_SOCKET");
		return;
	}
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract: no terminating NUL */
	else
		len++;
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify_fd < 0 ||
	    connect(notify_fd, (struct sockaddr *)&sa, salen)) {
		log_warn("NOTIFY_SOCKET %s: cannot connect: %s; not telling "
			 "the service manager when ready",
			 path, strerror(errno));
		notify_close();
	}
	unsetenv("NOTIFY_SOCKET");
}

void notify_send(const char *state)
{
	if (notify_fd < 0)
		return;
	if (send(notify_fd, state, strlen(state), MSG_NOSIGNAL) < 0)
		log_warn("NOTIFY_SOCKET: cannot send '%s': %s", state,
			 strerror(errno));
}

void notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}
