// SPDX-License-Identifier: MIT
/* fdname.c - resolve fd options: inherited numbers and getfd names
 *
 * Owns the current resolver (installed by the QMP layer around one
 * command) and the list of descriptors the process inherited, noted
 * before main() runs.  A number names one of those, once: never a
 * descriptor nethubd opened itself (its sockets, its epoll or io_uring
 * fds), which a client could otherwise make a backend take over and close.
 * Never keeps a descriptor itself: what it returns belongs to the caller.
 */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fdname.h"

#define FDNAME_INHERITED_MAX 256

static fdname_resolver_fn resolver;
static void *resolver_ctx;

/* Descriptors above 2 open when the process started, not taken yet */
static int inherited[FDNAME_INHERITED_MAX];
static unsigned ninherited;

__attribute__((constructor)) static void fdname_note_inherited(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) && ninherited < FDNAME_INHERITED_MAX) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (*end || end == e->d_name || fd <= 2 || fd > INT32_MAX ||
		    fd == dirfd(d))
			continue;
		inherited[ninherited++] = (int)fd;
	}
	closedir(d);
}

/* Take @fd off the inherited list; false if it is not on it */
static bool take_inherited(int fd)
{
	for (unsigned i = 0; i < ninherited; i++) {
		if (inherited[i] == fd) {
			inherited[i] = inherited[--ninherited];
			return true;
		}
	}
	return false;
}

void fdname_set_resolver(fdname_resolver_fn fn, void *ctx)
{
	resolver = fn;
	resolver_ctx = fn ? ctx : NULL;
}

int fdname_take(const char *value, const char *option,
		struct nh_error **errp)
{
	if (!value || !*value) {
		nh_error_setg(errp, "Parameter '%s' expects a file descriptor "
				    "number or name", option);
		return -1;
	}
	if (isdigit((unsigned char)value[0])) {
		char *end;
		long fd;

		errno = 0;
		fd = strtol(value, &end, 10);
		if (*end || errno || fd > INT32_MAX) {
			nh_error_setg(errp, "%s=%s: not a file descriptor number",
				      option, value);
			return -1;
		}
		if (fd <= 2 || fcntl((int)fd, F_GETFD) < 0) {
			nh_error_setg(errp, "%s=%s: not an open file descriptor",
				      option, value);
			return -1;
		}
		if (!take_inherited((int)fd)) {
			nh_error_setg(errp, "%s=%s: not a descriptor nethubd "
					    "inherited (or one already taken)",
				      option, value);
			return -1;
		}
		return (int)fd;
	}
	if (resolver) {
		int fd = resolver(resolver_ctx, value);

		if (fd >= 0)
			return fd;
	}
	nh_error_setg(errp, "File descriptor named '%s' has not been found",
		      value);
	return -1;
}
