/* SPDX-License-Identifier: MIT */
/* sandbox.h - what nethubd may still do once it serves: which user it
 * runs as and with which capabilities, which system calls it makes
 * (seccomp), where it may write files (Landlock), whether it runs programs
 *
 * nethubd needs root (or CAP_NET_ADMIN) for what it sets up, and QMP can
 * set up more at run time, so the daemon cannot simply drop everything.
 * What it does instead, once the configured netdevs and the QMP sockets
 * are up (sandbox_apply(), called by the daemon through a hook):
 *
 *   --user USER[:GROUP]  become USER (its groups, or GROUP alone), keeping
 *                        CAP_NET_ADMIN (taps, bridges) and CAP_NET_RAW
 *                        (pcap live capture) and no other capability
 *   --sandbox on         (default) a seccomp allowlist of the system calls
 *                        a switch makes (anything else fails with EPERM;
 *                        execve kills) and Landlock rules on file writes,
 *                        each where the kernel has it
 *   --allow-run          scripts and helpers may run (off by default;
 *                        sandbox_check_run()).  The seccomp filter and
 *                        the Landlock domain are inherited by whatever is
 *                        run, so with --allow-run they are not applied.
 *
 * docs/security.md explains the choices.
 */
#ifndef NH_SANDBOX_H
#define NH_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

#define SANDBOX_OWN_FILES_MAX 16
#define SANDBOX_USER_NAME_MAX 64

/* --user, resolved at start-up (the user database is read once, early) */
struct sandbox_user {
	char name[SANDBOX_USER_NAME_MAX];
	uid_t uid;
	gid_t gid;
	bool group_given; /* USER:GROUP: GROUP is the only group */
};

struct sandbox_config {
	bool change_user;
	struct sandbox_user user;
	bool confine; /* --sandbox on: seccomp and Landlock */
	/* Files the daemon itself makes, replaces or removes while it runs
	 * (pidfile, stats file, unix QMP sockets): Landlock lets it do that
	 * in their directories */
	const char *own_files[SANDBOX_OWN_FILES_MAX];
	unsigned nown_files;
};

/**
 * sandbox_parse_user() - "USER[:GROUP]" (names or numbers) into @u
 * Return: false with errp "--user X: no such user 'X'" (or group).
 */
bool sandbox_parse_user(const char *spec, struct sandbox_user *u,
			struct nh_error **errp);

/* sandbox_add_own_file() - see struct sandbox_config; NULL is ignored */
void sandbox_add_own_file(struct sandbox_config *cfg, const char *path);

/**
 * sandbox_apply() - drop to cfg->user, then confine (Landlock, seccomp)
 *
 * Called once, on the loop's thread, before any other thread exists
 * (capture writers are started after it).  Landlock or seccomp missing
 * from the kernel is a log line, not an error.
 * Return: false with errp when something asked for cannot be done (the
 * daemon then stops: it must not serve with more power than it was told).
 */
bool sandbox_apply(const struct sandbox_config *cfg, struct nh_error **errp);

/* sandbox_set_allow_run() - --allow-run: programs may be run */
void sandbox_set_allow_run(bool on);

/* sandbox_run_allowed() - whether --allow-run was given */
bool sandbox_run_allowed(void);

/**
 * sandbox_check_run() - may option @opt run program @prog?
 * Return: true with --allow-run; else false with errp "OPT=PROG: running
 * programs is disabled; start nethubd with --allow-run".
 */
bool sandbox_check_run(const char *opt, const char *prog,
		       struct nh_error **errp);

#endif /* NH_SANDBOX_H */
