/* SPDX-License-Identifier: MIT */
/* fdname.h - file descriptors named in options ("fd=3", "fd=myfd")
 *
 * QEMU lets an fd option be a number (an fd the process inherited) or the
 * name given to an fd passed earlier with getfd on the QMP connection that
 * runs the command.  Backends resolve both through fdname_take(); the QMP
 * layer installs a resolver for the session of the command it is running
 * and removes it afterwards, so a name is only ever looked up on its own
 * connection.
 */
#ifndef NH_FDNAME_H
#define NH_FDNAME_H

#include "error.h"

/* typedef fdname_resolver_fn - remove @name from @ctx's fds and return it
 * (ownership passes to the caller); -1 if there is no such name */
typedef int (*fdname_resolver_fn)(void *ctx, const char *name);

/* fdname_set_resolver() - install (or, with NULL, remove) the resolver */
void fdname_set_resolver(fdname_resolver_fn fn, void *ctx);

/**
 * fdname_take() - the fd an option names
 * @value:	a decimal number, or an fd name
 * @option:	the option's name, for errors
 *
 * A number is returned as is: the caller takes it over.  A name is taken
 * from the current QMP session ("File descriptor named 'X' has not been
 * found" when it has no such fd, or when there is no session, as on the
 * command line).  Numbers must be an open descriptor above 2 ("fd=N:
 * not an open file descriptor").
 * Return: the fd, owned by the caller; -1 with errp set.
 */
int fdname_take(const char *value, const char *option,
		struct nh_error **errp);

#endif /* NH_FDNAME_H */
