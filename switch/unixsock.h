/* SPDX-License-Identifier: MIT */
/* unixsock.h - unix stream sockets bound to a path: replacing a stale
 * socket file, binding with a mode, connecting
 *
 * Shared by the QMP listeners (ctl/) and socket chardevs (chardev.h).
 * Messages start with "unix:PATH: ".
 */
#ifndef NH_UNIXSOCK_H
#define NH_UNIXSOCK_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

/**
 * unixsock_path_free() - whether @path may be bound: absent, or a socket
 * nobody serves on any more (then it is removed)
 * @errp:	"exists and is not a socket", "another process is serving on
 *		this socket", or what lstat/connect said
 */
bool unixsock_path_free(const char *path, struct nh_error **errp);

/**
 * unixsock_listen() - a listening, non-blocking unix stream socket at
 * @path, created with @mode and owned by @group (unless (gid_t)-1); it
 * listens only once both are set, so nobody connects in between
 * @dev, @ino:	where the file's identity is stored (for removing only our
 *		own file later); may be NULL
 *
 * A stale socket file is replaced, a live one refused (see above).
 * Return: the socket, or -1 with @errp set.
 */
int unixsock_listen(const char *path, mode_t mode, gid_t group, int backlog,
		    dev_t *dev, ino_t *ino, struct nh_error **errp);

/**
 * unixsock_unlink_own() - remove @path if it is still the file @dev/@ino
 * (a later process may have put its own there)
 */
void unixsock_unlink_own(const char *path, dev_t dev, ino_t ino);

/**
 * unixsock_connect() - a connected, non-blocking unix stream socket
 * Return: the socket, or a negative errno (nothing left open).
 */
int unixsock_connect(const char *path);

#endif /* NH_UNIXSOCK_H */
