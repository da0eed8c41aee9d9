// SPDX-License-Identifier: MIT
/* userfile.c - opening the files users name, without being led astray
 *
 * A capture given "file=/proc/sys/kernel/hostname", "file=/etc/passwd" or
 * a symbolic link planted in /tmp must not write where the daemon's
 * privileges reach and the user's would not.  See userfile.h for the
 * rules; docs/security.md for why.
 *
 * Owns: the --files-dir descriptor (for the life of the process).
 *
 * Never: follow a symbolic link in the last component, truncate a file
 * before checking what was opened, resolve a path outside --files-dir
 * when it is set.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "userfile.h"

/* Pseudo filesystems whose files are kernel interfaces, not data (some
 * magic numbers are missing from older headers) */
#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif
#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
#ifndef BINFMTFS_MAGIC
#define BINFMTFS_MAGIC 0x42494e4d
#endif
#ifndef CONFIGFS_MAGIC
#define CONFIGFS_MAGIC 0x62656570
#endif
#ifndef FUSECTL_SUPER_MAGIC
#define FUSECTL_SUPER_MAGIC 0x65735543
#endif

static const unsigned long userfile_pseudo_fs[] = {
	PROC_SUPER_MAGIC,    SYSFS_MAGIC,	  DEBUGFS_MAGIC,
	TRACEFS_MAGIC,	     SECURITYFS_MAGIC,	  CGROUP_SUPER_MAGIC,
	CGROUP2_SUPER_MAGIC, BPF_FS_MAGIC,	  BINFMTFS_MAGIC,
	CONFIGFS_MAGIC,	     EFIVARFS_MAGIC,	  PSTOREFS_MAGIC,
	SELINUX_MAGIC,	     SMACK_MAGIC,	  FUSECTL_SUPER_MAGIC,
	DEVPTS_SUPER_MAGIC,
};

#define USERFILE_MODE 0644 /* of a file made here (as tcpdump -w) */

static struct {
	int fd;	    /* --files-dir, O_PATH; -1 without */
	char *path; /* its canonical path */
} root = {.fd = -1};

bool userfile_set_root(const char *dir, struct nh_error **errp)
{
	char *real = realpath(dir, NULL);
	int fd;

	if (!real) {
		nh_error_setg(errp, "--files-dir %s: %s", dir, strerror(errno));
		return false;
	}
	fd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		nh_error_setg(errp, "--files-dir %s: %s", dir, strerror(errno));
		free(real);
		return false;
	}
	if (root.fd >= 0)
		close(root.fd);
	free(root.path);
	root.fd = fd;
	root.path = real;
	return true;
}

const char *userfile_root(void)
{
	return root.path;
}

static bool userfile_fs_is_pseudo(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs))
		return false; /* the open or fstat that follows says more */
	for (size_t i = 0; i < sizeof(userfile_pseudo_fs) /
				       sizeof(userfile_pseudo_fs[0]);
	     i++)
		if ((unsigned long)sfs.f_type == userfile_pseudo_fs[i])
			return true;
	return false;
}

/* @dir (a path's directory part) beneath --files-dir: the directory
 * relative to the root, or NULL when an absolute @dir is not beneath it */
static const char *userfile_beneath(const char *dir)
{
	size_t n = strlen(root.path);

	if (dir[0] != '/')
		return dir;
	if (n == 1) /* --files-dir / */
		return dir[1] ? dir + 1 : ".";
	if (strncmp(dir, root.path, n) || (dir[n] && dir[n] != '/'))
		return NULL;
	while (dir[n] == '/')
		n++;
	return dir[n] ? dir + n : ".";
}

/* Open the directory @dir confined beneath --files-dir */
static int userfile_open_beneath(const char *dir, struct nh_error **errp)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	const char *rel = userfile_beneath(dir);
	long fd;

	if (!rel) {
		nh_error_setg(errp, "outside --files-dir %s", root.path);
		return -1;
	}
	fd = syscall(SYS_openat2, root.fd, rel, &how, sizeof(how));
	if (fd >= 0)
		return (int)fd;
	if (errno == EXDEV)
		nh_error_setg(errp, "outside --files-dir %s (or across a "
				    "mount point)",
			      root.path);
	else if (errno == ELOOP)
		nh_error_setg(errp, "a directory on the path is a symbolic "
				    "link (--files-dir follows none)");
	else if (errno == ENOSYS)
		nh_error_setg(errp, "--files-dir needs openat2 (Linux 5.6)");
	else
		nh_error_setg(errp, "%s", strerror(errno));
	return -1;
}

bool userfile_locate(struct userfile *uf, const char *path,
		     struct nh_error **errp)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	char dir[PATH_MAX];

	uf->dirfd = -1;
	uf->name = NULL;
	if (!*path) {
		nh_error_setg(errp, "empty file name");
		return false;
	}
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
		nh_error_setg(errp, "%s", strerror(EISDIR));
		return false;
	}
	if (strlen(name) > NAME_MAX ||
	    (slash && (size_t)(slash - path) >= sizeof(dir))) {
		nh_error_setg(errp, "%s", strerror(ENAMETOOLONG));
		return false;
	}
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);

	if (root.fd >= 0) {
		uf->dirfd = userfile_open_beneath(dir, errp);
	} else {
		uf->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (uf->dirfd < 0)
			nh_error_setg(errp, "%s", strerror(errno));
	}
	if (uf->dirfd < 0)
		return false;
	uf->name = strdup(name);
	if (!uf->name) {
		nh_error_setg(errp, "out of memory");
		userfile_release(uf);
		return false;
	}
	return true;
}

/* Whether an opened (or about to be opened) file of mode @mode may be
 * used; errp names the reason when not */
static bool userfile_kind_ok(mode_t mode, unsigned how, struct nh_error **errp)
{
	if (S_ISREG(mode) || (S_ISFIFO(mode) && (how & USERFILE_FIFO)))
		return true;
	if (S_ISLNK(mode))
		nh_error_setg(errp, "is a symbolic link (not followed)");
	else if (S_ISDIR(mode))
		nh_error_setg(errp, "%s", strerror(EISDIR));
	else
		nh_error_setg(errp, (how & USERFILE_FIFO)
					    ? "not a regular file or FIFO"
					    : "not a regular file");
	return false;
}

int userfile_open(const struct userfile *uf, unsigned how, bool *is_fifo,
		  struct nh_error **errp)
{
	bool write = how & USERFILE_WRITE, exists = true;
	struct stat st, got;
	int flags, fd, err;

	if (userfile_fs_is_pseudo(uf->dirfd)) {
		nh_error_setg(errp, (how & USERFILE_FIFO)
					    ? "not a regular file or FIFO"
					    : "not a regular file");
		return -EINVAL;
	}
	if (fstatat(uf->dirfd, uf->name, &st, AT_SYMLINK_NOFOLLOW)) {
		err = errno;
		if (err != ENOENT || !write) {
			nh_error_setg(errp, "%s", strerror(err));
			return -err;
		}
		exists = false;
	}
	if (exists && !userfile_kind_ok(st.st_mode, how, errp))
		return -EINVAL;
	if (exists && S_ISREG(st.st_mode) && write &&
	    !(how & USERFILE_OVERWRITE)) {
		nh_error_setg(errp, "file exists (overwrite=on replaces it)");
		return -EEXIST;
	}

	/* No O_TRUNC: what is opened is checked before anything changes */
	flags = O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
		(write ? O_WRONLY : O_RDONLY) |
		(exists ? 0 : O_CREAT | O_EXCL);
	fd = openat(uf->dirfd, uf->name, flags, USERFILE_MODE);
	if (fd < 0) {
		err = errno;
		if (err == ENXIO && exists && S_ISFIFO(st.st_mode))
			return -ENXIO; /* a FIFO without a reader */
		if (err == ELOOP)
			nh_error_setg(errp, "is a symbolic link (not followed)");
		else if (err == EEXIST)
			nh_error_setg(errp,
				      "file exists (overwrite=on replaces it)");
		else
			nh_error_setg(errp, "%s", strerror(err));
		return -err;
	}
	if (fstat(fd, &got) || !userfile_kind_ok(got.st_mode, how, errp) ||
	    userfile_fs_is_pseudo(fd) ||
	    (exists && (got.st_dev != st.st_dev || got.st_ino != st.st_ino))) {
		/* kind_ok() has said why, or it is a kernel interface, or
		 * it was replaced between the look and the open */
		nh_error_setg(errp, (how & USERFILE_FIFO)
					    ? "not a regular file or FIFO"
					    : "not a regular file");
		close(fd);
		return -EINVAL;
	}
	if (exists && write && S_ISREG(got.st_mode) && ftruncate(fd, 0)) {
		err = errno;
		nh_error_setg(errp, "cannot truncate: %s", strerror(err));
		close(fd);
		return -err;
	}
	if (is_fifo)
		*is_fifo = S_ISFIFO(got.st_mode);
	return fd;
}

void userfile_release(struct userfile *uf)
{
	if (uf->dirfd >= 0)
		close(uf->dirfd);
	uf->dirfd = -1;
	free(uf->name);
	uf->name = NULL;
}
