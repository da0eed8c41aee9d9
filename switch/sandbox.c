// SPDX-License-Identifier: MIT
/* sandbox.c - nethubd's privileges once it serves: its user and
 * capabilities, a seccomp allowlist, Landlock rules on file writes, and
 * the switch that lets scripts and helpers run
 *
 * Order in sandbox_apply(), each step needing the one before:
 *   1. the Landlock ruleset is made while the daemon can still open every
 *      directory it names;
 *   2. no_new_privs (seccomp and Landlock need it without CAP_SYS_ADMIN);
 *   3. the new user: bounding set, groups, gid, uid with PR_SET_KEEPCAPS,
 *      then exactly CAP_NET_ADMIN and CAP_NET_RAW permitted and effective;
 *   4. landlock_restrict_self();
 *   5. the seccomp filter, last, so that steps 3 and 4 need no exception
 *      in it.
 * Landlock and capabilities are raw system calls (no library needed);
 * the filter is built with libseccomp, which knows each architecture's
 * numbers.
 *
 * Never: serve with more power than asked for (a step that fails stops
 * the daemon); kill the daemon for a system call missing from the list
 * (EPERM: the caller reports an error) except execve.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "userfile.h"

/* Landlock rights newer than some installed headers */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

/* Every right that changes the filesystem or runs a program; reads are
 * not restricted (replays, the user database, /proc/thread-self/ns) */
#define SANDBOX_LL_WRITES                                                      \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |          \
	 LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |      \
	 LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |          \
	 LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |          \
	 LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |        \
	 LANDLOCK_ACCESS_FS_MAKE_SYM | LANDLOCK_ACCESS_FS_REFER |              \
	 LANDLOCK_ACCESS_FS_TRUNCATE)
/* Where captures and sockets made at run time may go (chardev-add,
 * stream and dgram servers, vdeserver= directories over QMP): make, write
 * and truncate regular files; make sockets and directories, and remove
 * files (a socket at close, a stale one) */
#define SANDBOX_LL_DATA                                                        \
	(LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG |         \
	 LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_MAKE_SOCK |          \
	 LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE)
/* The directories of the daemon's own files: the same */
#define SANDBOX_LL_OWN SANDBOX_LL_DATA
/* Device files it opens for writing at run time */
static const char *const sandbox_ll_devices[] = {"/dev/net/tun", "/dev/null"};
/* Top-level directories that hold the system rather than data: not
 * writable without --files-dir (/var/tmp is granted on its own) */
static const char *const sandbox_ll_system[] = {
	"bin", "boot", "dev",  "etc",	"lib", "lib32", "lib64",
	"libx32", "proc", "run", "sbin", "sys", "usr", "var",
};

/* The capabilities kept by --user */
static const struct {
	int cap;
	const char *name;
} sandbox_caps[] = {
	{CAP_NET_ADMIN, "cap_net_admin"}, /* taps, TUNSETIFF, bridges */
	{CAP_NET_RAW, "cap_net_raw"},	  /* pcap live capture */
};
#define SANDBOX_NCAPS (sizeof(sandbox_caps) / sizeof(sandbox_caps[0]))

/*
 * The system calls nethubd makes once it serves: libuv's loop and
 * signals, both I/O engines, sockets of every backend, taps, libpcap
 * (live capture and files), jansson, the capture writer threads, the
 * resolver (connect= names), glibc's allocator and threads.
 */
static const char *const sandbox_syscalls[] = {
	/* memory, threads, time */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "futex",
	"futex_waitv", "set_robust_list", "get_robust_list", "rseq",
	"set_tid_address", "clone", "clone3", "exit", "exit_group",
	"gettid", "getpid", "getppid", "tgkill", "tkill", "sched_yield",
	"sched_getaffinity", "getrandom", "clock_gettime", "clock_getres",
	"clock_nanosleep", "nanosleep", "gettimeofday", "time", "uname",
	"sysinfo", "getrlimit", "prlimit64", "getrusage", "prctl",
	"arch_prctl", "restart_syscall", "membarrier",
	/* identity (reading it) */
	"getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
	"getgroups", "capget",
	/* signals */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
	"rt_sigtimedwait", "sigaltstack", "kill",
	/* files */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv",
	"pwritev", "preadv2", "pwritev2", "open", "openat", "openat2",
	"close", "close_range", "dup", "dup2", "dup3", "fcntl", "ioctl",
	"lseek", "fstat", "stat", "lstat", "newfstatat", "statx", "fstatfs",
	"statfs", "access", "faccessat", "faccessat2", "readlink",
	"readlinkat", "getdents64", "getcwd", "rename", "renameat",
	"renameat2", "unlink", "unlinkat", "mkdir", "mkdirat", "ftruncate", "fsync", "fdatasync",
	"fchmod", "umask", "lchown", "fchownat", /* chardev x-group */ "pipe", "pipe2", "eventfd2", "timerfd_create",
	"timerfd_settime", "timerfd_gettime", "signalfd4", "memfd_create",
	/* waiting */
	"poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1",
	"epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
	/* io_uring (its operations themselves are not seen by seccomp) */
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	/* sockets */
	"socket", "socketpair", "bind", "listen", "accept", "accept4",
	"connect", "shutdown", "getsockname", "getpeername", "setsockopt",
	"getsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg",
	"recvmmsg",
	/* a tap moved to another network namespace (tapdev_mtu) */
	"setns",
};

/* What the sanitizers' runtimes add (LeakSanitizer stops the world with
 * ptrace from a cloned task, reads /proc/self/maps...) */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZED 1
#endif
#endif
#ifdef SANDBOX_SANITIZED
static const char *const sandbox_sanitizer_syscalls[] = {
	"ptrace", "wait4", "waitid", "process_vm_readv", "getpgid", "getdents",
	"sched_getparam", "sched_getscheduler",
};
#endif

static struct {
	bool allow_run;
} sb;

void sandbox_set_allow_run(bool on)
{
	sb.allow_run = on;
}

bool sandbox_run_allowed(void)
{
	return sb.allow_run;
}

bool sandbox_check_run(const char *opt, const char *prog,
		       struct nh_error **errp)
{
	if (sb.allow_run)
		return true;
	nh_error_setg(errp,
		      "%s=%s: running programs is disabled; start nethubd "
		      "with --allow-run",
		      opt, prog);
	return false;
}

/* -- the user ----------------------------------------------------------- */

/* A whole decimal id, or false */
static bool sandbox_parse_id(const char *s, unsigned long *id)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*id = strtoul(s, &end, 10);
	return !*end && !errno && *id < (unsigned long)(uid_t)-1;
}

bool sandbox_parse_user(const char *spec, struct sandbox_user *u,
			struct nh_error **errp)
{
	const char *colon = strchr(spec, ':');
	char name[SANDBOX_USER_NAME_MAX];
	struct passwd *pw;
	unsigned long id;

	memset(u, 0, sizeof(*u));
	if (colon ? (size_t)(colon - spec) >= sizeof(name)
		  : strlen(spec) >= sizeof(name)) {
		nh_error_setg(errp, "--user %s: the name is too long", spec);
		return false;
	}
	snprintf(name, sizeof(name), "%.*s",
		 (int)(colon ? colon - spec : (long)strlen(spec)), spec);
	if (!*name) {
		nh_error_setg(errp, "--user %s: expects USER[:GROUP]", spec);
		return false;
	}
	pw = sandbox_parse_id(name, &id) ? getpwuid((uid_t)id)
					 : getpwnam(name);
	if (!pw) {
		nh_error_setg(errp, "--user %s: no such user '%s'", spec, name);
		return false;
	}
	snprintf(u->name, sizeof(u->name), "%s", pw->pw_name);
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	if (colon) {
		struct group *gr = sandbox_parse_id(colon + 1, &id)
					   ? getgrgid((gid_t)id)
					   : getgrnam(colon + 1);

		if (!*(colon + 1) || !gr) {
			nh_error_setg(errp, "--user %s: no such group '%s'",
				      spec, colon + 1);
			return false;
		}
		u->gid = gr->gr_gid;
		u->group_given = true;
	}
	return true;
}

void sandbox_add_own_file(struct sandbox_config *cfg, const char *path)
{
	if (path && cfg->nown_files < SANDBOX_OWN_FILES_MAX)
		cfg->own_files[cfg->nown_files++] = path;
}

static bool sandbox_cap_kept(int cap)
{
	for (size_t i = 0; i < SANDBOX_NCAPS; i++)
		if (sandbox_caps[i].cap == cap)
			return true;
	return false;
}

/*
 * Become @u, keeping only sandbox_caps[] (as OVS's --user): the bounding
 * set loses the rest while CAP_SETPCAP is still there, PR_SET_KEEPCAPS
 * carries the permitted set across setresuid(), capset() then makes
 * exactly the kept ones permitted and effective.
 */
static bool sandbox_change_user(const struct sandbox_user *u,
				struct nh_error **errp)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	uid_t r, e, s;
	int cap;

	for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (!sandbox_cap_kept(cap) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)) {
			nh_error_setg(errp, "--user: cannot drop capability "
					    "%d from the bounding set: %s",
				      cap, strerror(errno));
			return false;
		}
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if ((u->group_given ? setgroups(1, &u->gid)
			    : initgroups(u->name, u->gid)) ||
	    setresgid(u->gid, u->gid, u->gid)) {
		nh_error_setg(errp, "--user: cannot change the group to %u: %s",
			      (unsigned)u->gid, strerror(errno));
		return false;
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) ||
	    setresuid(u->uid, u->uid, u->uid) ||
	    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)) {
		nh_error_setg(errp, "--user: cannot change the user to %s: %s",
			      u->name, strerror(errno));
		return false;
	}
	memset(data, 0, sizeof(data));
	for (size_t i = 0; i < SANDBOX_NCAPS; i++) {
		cap = sandbox_caps[i].cap;
		data[cap / 32].permitted |= 1u << (cap % 32);
		data[cap / 32].effective |= 1u << (cap % 32);
	}
	if (syscall(SYS_capset, &hdr, data)) {
		nh_error_setg(errp, "--user: cannot keep the network "
				    "capabilities: %s",
			      strerror(errno));
		return false;
	}
	/* As OVS checks: there must be no way back */
	if (getresuid(&r, &e, &s) || r != u->uid || e != u->uid ||
	    s != u->uid || setuid(0) == 0) {
		nh_error_setg(errp, "--user: the user did not change");
		return false;
	}
	return true;
}

/* -- Landlock ------------------------------------------------------------ */

static long sandbox_ll_add(int ruleset, int fd, uint64_t access)
{
	struct landlock_path_beneath_attr pb = {
		.allowed_access = access,
		.parent_fd = fd,
	};

	return syscall(SYS_landlock_add_rule, ruleset,
		       LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
}

/* Allow @access beneath @path (not following a last symbolic link when
 * @nofollow); a path that does not exist is skipped */
static bool sandbox_ll_allow(int ruleset, const char *path, uint64_t access,
			     uint64_t handled, bool nofollow,
			     struct nh_error **errp)
{
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
	long rc;

	if (fd < 0)
		return true;
	if (fstat(fd, &st) || (nofollow && !S_ISDIR(st.st_mode))) {
		close(fd);
		return true;
	}
	if (!S_ISDIR(st.st_mode)) /* a file: only file rights apply */
		access &= LANDLOCK_ACCESS_FS_EXECUTE |
			  LANDLOCK_ACCESS_FS_WRITE_FILE |
			  LANDLOCK_ACCESS_FS_READ_FILE |
			  LANDLOCK_ACCESS_FS_TRUNCATE;
	rc = sandbox_ll_add(ruleset, fd, access & handled);
	close(fd);
	if (rc) {
		nh_error_setg(errp, "Landlock: cannot add a rule for %s: %s",
			      path, strerror(errno));
		return false;
	}
	return true;
}

/* Without --files-dir: every top-level directory that is not the
 * system's (sandbox_ll_system[]), and /var/tmp */
static bool sandbox_ll_allow_data(int ruleset, uint64_t handled,
				  struct nh_error **errp)
{
	DIR *root = opendir("/");
	struct dirent *de;
	char path[NAME_MAX + 2];
	bool ok = true;

	if (!root) {
		nh_error_setg(errp, "Landlock: cannot list /: %s",
			      strerror(errno));
		return false;
	}
	while (ok && (de = readdir(root))) {
		bool system = !strcmp(de->d_name, ".") ||
			      !strcmp(de->d_name, "..");

		for (size_t i = 0; !system && i < sizeof(sandbox_ll_system) /
							 sizeof(sandbox_ll_system[0]);
		     i++)
			system = !strcmp(de->d_name, sandbox_ll_system[i]);
		if (system)
			continue;
		snprintf(path, sizeof(path), "/%s", de->d_name);
		ok = sandbox_ll_allow(ruleset, path, SANDBOX_LL_DATA, handled,
				      true, errp);
	}
	closedir(root);
	return ok && sandbox_ll_allow(ruleset, "/var/tmp", SANDBOX_LL_DATA,
				      handled, true, errp);
}

/* The directory of @path, into @dir */
static void sandbox_dirname(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, size, ".");
	else if (slash == path)
		snprintf(dir, size, "/");
	else
		snprintf(dir, size, "%.*s", (int)(slash - path), path);
}

/*
 * The ruleset: writes are handled (refused unless a rule allows them),
 * reads are not.  Return: its fd; -1 with a log line when the kernel has
 * no Landlock; -2 with errp on a real failure.  *abi receives the ABI.
 */
static int sandbox_ll_prepare(const struct sandbox_config *cfg, int *abi,
			      struct nh_error **errp)
{
	struct landlock_ruleset_attr attr = {0};
	char dir[4096];
	bool ok;
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0,
			 LANDLOCK_CREATE_RULESET_VERSION);
	int fd;

	if (v < 1) {
		log_info("sandbox: no Landlock in this kernel (%s): file "
			 "writes are not restricted",
			 strerror(errno));
		return -1;
	}
	*abi = (int)v;
	attr.handled_access_fs = SANDBOX_LL_WRITES;
	if (v < 2)
		attr.handled_access_fs &= ~LANDLOCK_ACCESS_FS_REFER;
	if (v < 3)
		attr.handled_access_fs &= ~LANDLOCK_ACCESS_FS_TRUNCATE;
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd < 0) {
		nh_error_setg(errp, "Landlock: cannot create a ruleset: %s",
			      strerror(errno));
		return -2;
	}
	if (userfile_root())
		ok = sandbox_ll_allow(fd, userfile_root(), SANDBOX_LL_DATA,
				      attr.handled_access_fs, false, errp);
	else
		ok = sandbox_ll_allow_data(fd, attr.handled_access_fs, errp);
	for (size_t i = 0; ok && i < sizeof(sandbox_ll_devices) /
					     sizeof(sandbox_ll_devices[0]);
	     i++)
		ok = sandbox_ll_allow(fd, sandbox_ll_devices[i],
				      LANDLOCK_ACCESS_FS_WRITE_FILE,
				      attr.handled_access_fs, false, errp);
	for (unsigned i = 0; ok && i < cfg->nown_files; i++) {
		sandbox_dirname(cfg->own_files[i], dir, sizeof(dir));
		ok = sandbox_ll_allow(fd, dir, SANDBOX_LL_OWN,
				      attr.handled_access_fs, false, errp);
	}
	if (!ok) {
		close(fd);
		return -2;
	}
	return fd;
}

/* -- seccomp ------------------------------------------------------------- */

static bool sandbox_allow_list(scmp_filter_ctx ctx, const char *const *names,
			       size_t n, struct nh_error **errp)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		int rc;

		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc) {
			nh_error_setg(errp, "seccomp: cannot allow %s: %s",
				      names[i], strerror(-rc));
			return false;
		}
	}
	return true;
}

/* The allowlist: EPERM for anything else, death for execve/execveat */
static bool sandbox_seccomp(struct nh_error **errp)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int rc;

	if (!ctx) {
		nh_error_setg(errp, "seccomp: cannot make a filter");
		return false;
	}
	if (!sandbox_allow_list(ctx, sandbox_syscalls,
				sizeof(sandbox_syscalls) /
					sizeof(sandbox_syscalls[0]),
				errp))
		goto fail;
#ifdef SANDBOX_SANITIZED
	if (!sandbox_allow_list(ctx, sandbox_sanitizer_syscalls,
				sizeof(sandbox_sanitizer_syscalls) /
					sizeof(sandbox_sanitizer_syscalls[0]),
				errp))
		goto fail;
#endif
	rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(execve), 0);
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS,
				      SCMP_SYS(execveat), 0);
	if (!rc) /* every thread, should a library have started one */
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!rc)
		rc = seccomp_load(ctx);
	if (rc) {
		if (rc == -EINVAL || rc == -ENOSYS || rc == -EOPNOTSUPP) {
			log_info("sandbox: seccomp is not available (%s): "
				 "system calls are not restricted",
				 strerror(-rc));
			seccomp_release(ctx);
			return true;
		}
		nh_error_setg(errp, "seccomp: cannot load the filter: %s",
			      strerror(-rc));
		goto fail;
	}
	seccomp_release(ctx);
	return true;
fail:
	seccomp_release(ctx);
	return false;
}

/* -- all of it ----------------------------------------------------------- */

bool sandbox_apply(const struct sandbox_config *cfg, struct nh_error **errp)
{
	bool confine = cfg->confine && !sb.allow_run;
	int ruleset = -1, abi = 0;
	char caps[64] = "";

	if (cfg->confine && sb.allow_run)
		log_info("sandbox: --allow-run: no seccomp filter and no "
			 "Landlock rules (the programs run would inherit them)");
	if (confine) {
		ruleset = sandbox_ll_prepare(cfg, &abi, errp);
		if (ruleset == -2)
			return false;
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
			nh_error_setg(errp, "sandbox: no_new_privs: %s",
				      strerror(errno));
			goto fail;
		}
	}
	if (cfg->change_user) {
		if (!sandbox_change_user(&cfg->user, errp))
			goto fail;
		for (size_t i = 0; i < SANDBOX_NCAPS; i++)
			snprintf(caps + strlen(caps), sizeof(caps) - strlen(caps),
				 "%s%s", i ? "," : "", sandbox_caps[i].name);
		log_info("sandbox: running as %s (uid %u, gid %u) with %s",
			 cfg->user.name, (unsigned)cfg->user.uid,
			 (unsigned)cfg->user.gid, caps);
	}
	if (ruleset >= 0) {
		if (syscall(SYS_landlock_restrict_self, ruleset, 0)) {
			nh_error_setg(errp, "Landlock: cannot restrict: %s",
				      strerror(errno));
			goto fail;
		}
		close(ruleset);
		ruleset = -1;
		log_info("sandbox: Landlock ABI %d: files written only in %s",
			 abi,
			 userfile_root() ? userfile_root()
					 : "data directories (not /etc, /usr, "
					   "/proc, /sys, /dev, /run, /var...)");
	}
	if (confine) {
		if (!sandbox_seccomp(errp))
			return false;
		log_info("sandbox: seccomp allowlist of %zu system calls",
			 sizeof(sandbox_syscalls) / sizeof(sandbox_syscalls[0]));
	}
	return true;
fail:
	if (ruleset >= 0)
		close(ruleset);
	return false;
}
