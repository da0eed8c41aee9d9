/* SPDX-License-Identifier: MIT */
/* userfile.h - opening the files a user names: capture files (filter-dump
 * file=) and replayed captures (pcap netdev file=)
 *
 * Such paths come from QMP clients, who may be trusted less than the
 * daemon (which may run as root).  So:
 *   - the last component is never followed when it is a symbolic link;
 *   - only a regular file on a disk-like filesystem (not procfs, sysfs and
 *     their kin, whose "regular files" are kernel settings) or a FIFO is
 *     opened, checked again with fstat()/fstatfs() on what was opened;
 *   - an existing file is written over only when the caller says so;
 *   - with --files-dir DIR (userfile_set_root()) every path is resolved
 *     beneath DIR with no symbolic link and no mount point on the way
 *     (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV):
 *     a relative path is taken from DIR, an absolute one must name a file
 *     beneath DIR.
 *
 * Error messages are the reason alone ("not a regular file or FIFO");
 * callers put the file's name and their own words in front.
 */
#ifndef NH_USERFILE_H
#define NH_USERFILE_H

#include <stdbool.h>

#include "error.h"

/* How userfile_open() opens */
enum userfile_how {
	USERFILE_READ = 0,	     /* an existing regular file, read-only */
	USERFILE_WRITE = 1 << 0,     /* write-only; a missing file is made
				      * (mode 0644), an existing regular
				      * file is refused... */
	USERFILE_OVERWRITE = 1 << 1, /* ...unless this: it is truncated */
	USERFILE_FIFO = 1 << 2,	     /* a FIFO is taken too (non-blocking) */
};

/**
 * struct userfile - a file named by a user, located: the directory it is
 * in (held open, so that the name is found there again however the path
 * above it changes) and its name there
 */
struct userfile {
	int dirfd;  /* O_PATH; -1 when not located */
	char *name; /* the last component; caller frees with userfile_release() */
};

/**
 * userfile_set_root() - confine every path beneath @dir (--files-dir)
 * Return: false with errp "--files-dir DIR: ERR" when @dir is not a
 * directory that can be opened.  Called once, before anything is opened.
 */
bool userfile_set_root(const char *dir, struct nh_error **errp);

/* userfile_root() - the --files-dir directory (resolved), or NULL */
const char *userfile_root(void);

/**
 * userfile_locate() - find the directory @path's file is in
 * Return: false with errp (the reason: "No such file or directory",
 * "outside --files-dir DIR", "a directory on the path is a symbolic link
 * (--files-dir follows none)"); @uf is then released.
 */
bool userfile_locate(struct userfile *uf, const char *path,
		     struct nh_error **errp);

/**
 * userfile_open() - open the located file
 * @how:	enum userfile_how bits
 * @is_fifo:	receives whether it is a FIFO; may be NULL
 *
 * Return: the fd (close-on-exec, non-blocking); -ENXIO for a FIFO opened
 * with USERFILE_WRITE that has no reader yet (errp untouched: try again
 * later); another negative errno with errp: "is a symbolic link (not
 * followed)", "not a regular file or FIFO", "file exists (overwrite=on
 * replaces it)", the system's reason.
 */
int userfile_open(const struct userfile *uf, unsigned how, bool *is_fifo,
		  struct nh_error **errp);

/* userfile_release() - close and free what userfile_locate() took */
void userfile_release(struct userfile *uf);

#endif /* NH_USERFILE_H */
