// SPDX-License-Identifier: MIT
/* unixsock.c - unix stream sockets bound to a path (see unixsock.h)
 *
 * Owns nothing.  Never removes a file that is not a dead socket.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "unixsock.h"

static bool unixsock_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return false;
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return true;
}

bool unixsock_path_free(const char *path, struct nh_error **errp)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, rc;

	if (!unixsock_addr(path, &sa)) {
		nh_error_setg(errp,
			      "unix:%s: path too long (at most %zu bytes)",
			      path, sizeof(sa.sun_path) - 1);
		return false;
	}
	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return true;
		nh_error_setg(errp, "unix:%s: %s", path, strerror(errno));
		return false;
	}
	if (!S_ISSOCK(st.st_mode)) {
		nh_error_setg(errp, "unix:%s: exists and is not a socket",
			      path);
		return false;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	rc = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (fd >= 0)
		close(fd);
	if (rc == 0) {
		nh_error_setg(errp,
			      "unix:%s: another process is serving on "
			      "this socket",
			      path);
		return false;
	}
	if (errno != ECONNREFUSED) {
		nh_error_setg(errp, "unix:%s: %s", path, strerror(errno));
		return false;
	}
	log_info("unix:%s: replacing a stale socket", path);
	unlink(path);
	return true;
}

int unixsock_listen(const char *path, mode_t mode, gid_t group, int backlog,
		    dev_t *dev, ino_t *ino, struct nh_error **errp)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old_mask;
	int fd, rc;

	if (!unixsock_path_free(path, errp))
		return -1;
	unixsock_addr(path, &sa);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		nh_error_setg(errp, "unix:%s: socket: %s", path,
			      strerror(errno));
		return -1;
	}
	/* created with its final mode: never connectable by others */
	old_mask = umask(0777 & ~mode);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (rc) {
		nh_error_setg(errp, "unix:%s: cannot bind: %s", path,
			      strerror(errno));
		close(fd);
		return -1;
	}
	/* not listening yet: nobody connects before the group is right */
	if (group != (gid_t)-1 && lchown(path, (uid_t)-1, group)) {
		nh_error_setg(errp,
			      "unix:%s: cannot give the socket to group %u: "
			      "%s",
			      path, (unsigned)group, strerror(errno));
		unlink(path);
		close(fd);
		return -1;
	}
	if (listen(fd, backlog) < 0) {
		nh_error_setg(errp, "unix:%s: listen: %s", path,
			      strerror(errno));
		unlink(path);
		close(fd);
		return -1;
	}
	if (!stat(path, &st)) {
		if (dev)
			*dev = st.st_dev;
		if (ino)
			*ino = st.st_ino;
	}
	return fd;
}

void unixsock_unlink_own(const char *path, dev_t dev, ino_t ino)
{
	struct stat st;

	if (!lstat(path, &st) && S_ISSOCK(st.st_mode) && st.st_dev == dev &&
	    st.st_ino == ino)
		unlink(path);
}

int unixsock_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd, err;

	if (!unixsock_addr(path, &sa))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}
