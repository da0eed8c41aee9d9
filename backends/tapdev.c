// SPDX-License-Identifier: MIT
/* tapdev.c - tap devices, bridges, and the programs run around them
 *
 * Owns nothing between calls but what the caller keeps (a struct
 * tapdev_ns).  Children (scripts, the bridge helper) are run and waited
 * for synchronously, bounded by TAPDEV_CHILD_TIMEOUT_MS, as QEMU runs them
 * during netdev_add; they inherit no descriptor of ours but the one they
 * are given.
 *
 * Must never: leave the thread in another network namespace, leave a child
 * unreaped, or leak a descriptor on an error path.
 */

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "tapdev.h"

#define TAPDEV_TUN_PATH	     "/dev/net/tun"
#define TAPDEV_NETNS_SELF    "/proc/thread-self/ns/net"
#define TAPDEV_TEMPLATE	     "tap%d"
#define TAPDEV_WAIT_SLICE_MS 10 /* waitpid polling without a pidfd */
#define TAPDEV_FD_SCAN_MAX                                                     \
	65536 /* fds marked close-on-exec one by one                           \
	       * when close_range() is missing */
#define TAPDEV_BRIDGE_MAC0 0xfe

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* -- devices ------------------------------------------------------------- */

unsigned tapdev_features(void)
{
	static unsigned features;
	static bool known;
	int fd;

	if (known)
		return features;
	fd = open(TAPDEV_TUN_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (ioctl(fd, TUNGETFEATURES, &features) < 0)
		features = IFF_TAP | IFF_NO_PI; /* older than TUNGETFEATURES */
	close(fd);
	known = true;
	return features;
}

/* This process's user name for a message (its number if it has none) */
static const char *tapdev_user_name(void)
{
	static char num[16];
	const struct passwd *pw = getpwuid(geteuid());

	if (pw)
		return pw->pw_name;
	snprintf(num, sizeof(num), "%u", (unsigned)geteuid());
	return num;
}

bool tapdev_may_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data))
		return true; /* cannot tell: let the kernel answer */
	return data[CAP_NET_ADMIN / 32].effective &
	       (1u << (CAP_NET_ADMIN % 32));
}

int tapdev_open(const char *name, unsigned flags, char ifname[IFNAMSIZ],
		struct nh_error **errp)
{
	const char *want = name && *name ? name : TAPDEV_TEMPLATE;
	struct ifreq ifr;
	int fd, err;

	fd = open(TAPDEV_TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		nh_error_setg(errp, "could not open %s: %s", TAPDEV_TUN_PATH,
			      strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | flags);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", want);
	if (ioctl(fd, TUNSETIFF, &ifr) == 0)
		goto done;
	err = errno;
	/* An existing multiqueue tap refuses a single-queue attach */
	if (err == EINVAL && !(flags & IFF_MULTI_QUEUE) && !strchr(want, '%') &&
	    (tapdev_features() & IFF_MULTI_QUEUE)) {
		ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_MULTI_QUEUE);
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", want);
		if (ioctl(fd, TUNSETIFF, &ifr) == 0)
			goto done;
	}
	if (err == EINVAL && !strchr(want, '%') && if_nametoindex(want))
		nh_error_setg(errp,
			      "could not configure %s (%s): %s (an interface "
			      "of that name exists and is not a tap with "
			      "these flags)",
			      TAPDEV_TUN_PATH, want, strerror(err));
	else if (err == EPERM && !strchr(want, '%') && if_nametoindex(want))
		nh_error_setg(errp,
			      "could not configure %s (%s): %s (the tap %s "
			      "belongs to another user or group; as root, "
			      "'ip tuntap add dev NAME mode tap user %s' makes "
			      "one for this user)",
			      TAPDEV_TUN_PATH, want, strerror(err), want,
			      tapdev_user_name());
	else if (err == EPERM)
		nh_error_setg(errp,
			      "could not configure %s (%s): %s (creating a tap "
			      "needs CAP_NET_ADMIN, i.e. root; without it, use a "
			      "tap made for this user beforehand: as root, 'ip "
			      "tuntap add dev NAME mode tap user %s', then "
			      "ifname=NAME)",
			      TAPDEV_TUN_PATH, want, strerror(err),
			      tapdev_user_name());
	else
		nh_error_setg(errp, "could not configure %s (%s): %s",
			      TAPDEV_TUN_PATH, want, strerror(err));
	close(fd);
	return -1;
done:
	memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
	ifname[IFNAMSIZ - 1] = '\0';
	return fd;
}

int tapdev_query(int fd, char ifname[IFNAMSIZ], unsigned *flags)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return -errno;
	memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
	ifname[IFNAMSIZ - 1] = '\0';
	*flags = (unsigned short)ifr.ifr_flags;
	return 0;
}

bool tapdev_set_vnet(int fd, unsigned *hlen, unsigned *offloads,
		     struct nh_error **errp)
{
	/* Richest first: the kernel refuses bits it does not know */
	static const unsigned tries[] = {
	    TAPDEV_F_CSUM | TAPDEV_F_TSO4 | TAPDEV_F_TSO6 | TAPDEV_F_TSO_ECN |
		TAPDEV_F_UFO | TAPDEV_F_USO4 | TAPDEV_F_USO6,
	    TAPDEV_F_CSUM | TAPDEV_F_TSO4 | TAPDEV_F_TSO6 | TAPDEV_F_TSO_ECN |
		TAPDEV_F_UFO,
	    TAPDEV_F_CSUM | TAPDEV_F_TSO4 | TAPDEV_F_TSO6 | TAPDEV_F_TSO_ECN,
	    TAPDEV_F_CSUM | TAPDEV_F_TSO4 | TAPDEV_F_TSO6,
	    TAPDEV_F_CSUM,
	};
	int hl = TAPDEV_VNET_HLEN;

	if (ioctl(fd, TUNSETVNETHDRSZ, &hl) < 0) {
		hl = TAPDEV_VNET_HLEN_LEGACY;
		if (ioctl(fd, TUNSETVNETHDRSZ, &hl) < 0) {
			nh_error_setg(errp, "TUNSETVNETHDRSZ ioctl failed: %s",
				      strerror(errno));
			return false;
		}
	}
	*hlen = (unsigned)hl;
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)tries[i]) == 0) {
			*offloads = tries[i];
			return true;
		}
	}
	nh_error_setg(errp, "TUNSETOFFLOAD ioctl failed: %s", strerror(errno));
	return false;
}

bool tapdev_set_sndbuf(int fd, int sndbuf, struct nh_error **errp)
{
	if (ioctl(fd, TUNSETSNDBUF, &sndbuf) == 0)
		return true;
	nh_error_setg(errp, "TUNSETSNDBUF ioctl failed: %s", strerror(errno));
	return false;
}

int tapdev_set_carrier(int fd, bool on)
{
	int v = on;

	return ioctl(fd, TUNSETCARRIER, &v) < 0 ? -errno : 0;
}

bool tapdev_check_ifname(const char *name)
{
	size_t n = strlen(name);

	if (!n || n >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] == '/' || name[i] == ':' || name[i] <= ' ' ||
		    name[i] == 0x7f)
			return false;
	return true;
}

/* -- the interface, wherever its namespace is ------------------------- */

void tapdev_ns_init(struct tapdev_ns *ns)
{
	ns->sock = -1;
	ns->ino = 0;
}

void tapdev_ns_close(struct tapdev_ns *ns)
{
	if (ns->sock >= 0)
		close(ns->sock);
	tapdev_ns_init(ns);
}

static int tapdev_ioctl_socket(void)
{
	return socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

/**
 * tapdev_socket_in() - a socket in the namespace @nsfd (inode @ino): our
 * thread enters it just long enough to make the socket, which stays there
 * Return: the socket, or -1 (no permission to enter).
 */
static int tapdev_socket_in(int nsfd, uint64_t ino)
{
	struct stat self;
	int back, s;

	if (stat(TAPDEV_NETNS_SELF, &self) == 0 && (uint64_t)self.st_ino == ino)
		return tapdev_ioctl_socket();
	back = open(TAPDEV_NETNS_SELF, O_RDONLY | O_CLOEXEC);
	if (back < 0)
		return -1;
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		close(back);
		return -1;
	}
	s = tapdev_ioctl_socket();
	if (setns(back, CLONE_NEWNET) < 0) {
		/* Everything made from now on would be in the wrong place */
		log_err("tap: cannot return to our network namespace: %s",
			strerror(errno));
		abort();
	}
	close(back);
	return s;
}

int tapdev_mtu(int fd, struct tapdev_ns *ns, char ifname[IFNAMSIZ],
	       unsigned *mtu)
{
	struct ifreq ifr;
	unsigned flags;
	int nsfd, r;

	r = tapdev_query(fd, ifname, &flags);
	if (r < 0)
		return r;
	nsfd = ioctl(fd, TUNGETDEVNETNS);
	if (nsfd >= 0) {
		struct stat st;

		if (fstat(nsfd, &st) == 0 &&
		    (ns->sock < 0 || (uint64_t)st.st_ino != ns->ino)) {
			int s = tapdev_socket_in(nsfd, (uint64_t)st.st_ino);

			if (s >= 0) {
				tapdev_ns_close(ns);
				ns->sock = s;
				ns->ino = (uint64_t)st.st_ino;
			}
		}
		close(nsfd);
	}
	if (ns->sock < 0) {
		ns->sock = tapdev_ioctl_socket();
		if (ns->sock < 0)
			return -errno;
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, IFNAMSIZ);
	if (ioctl(ns->sock, SIOCGIFMTU, &ifr) < 0)
		return -errno;
	*mtu = (unsigned)ifr.ifr_mtu;
	return 0;
}

/* -- bridges ------------------------------------------------------------- */

bool tapdev_bridge_exists(const char *br, struct nh_error **errp)
{
	char path[64];
	struct stat st;

	if (!tapdev_check_ifname(br)) {
		nh_error_setg(errp, "'%s' is not a valid bridge name", br);
		return false;
	}
	if (!if_nametoindex(br)) {
		nh_error_setg(errp, "bridge '%s' does not exist", br);
		return false;
	}
	snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", br);
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		nh_error_setg(errp, "'%s' is not a bridge", br);
		return false;
	}
	return true;
}

bool tapdev_bridge_attach(const char *br, const char *ifname,
			  struct nh_error **errp)
{
	struct ifreq ifr;
	unsigned idx;
	int s, mtu;
	const char *what;

	if (!tapdev_bridge_exists(br, errp))
		return false;
	idx = if_nametoindex(ifname);
	s = tapdev_ioctl_socket();
	if (!idx || s < 0) {
		nh_error_setg(errp, "cannot add %s to bridge '%s': %s", ifname,
			      br, strerror(idx ? errno : ENODEV));
		if (s >= 0)
			close(s);
		return false;
	}

	what = "cannot read the bridge's MTU";
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", br);
	if (ioctl(s, SIOCGIFMTU, &ifr) < 0)
		goto fail;
	mtu = ifr.ifr_mtu;
	what = "cannot set its MTU";
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_mtu = mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
		goto fail;

	what = "cannot set its MAC address";
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0)
		goto fail;
	ifr.ifr_hwaddr.sa_data[0] = (char)TAPDEV_BRIDGE_MAC0;
	if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0)
		goto fail;

	what = NULL;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", br);
	ifr.ifr_ifindex = (int)idx;
	if (ioctl(s, SIOCBRADDIF, &ifr) < 0)
		goto fail;

	what = "cannot bring it up";
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		goto fail;
	ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP);
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		goto fail;
	close(s);
	return true;

fail:
	if (what)
		nh_error_setg(errp, "cannot add %s to bridge '%s': %s: %s",
			      ifname, br, what, strerror(errno));
	else
		nh_error_setg(errp, "cannot add %s to bridge '%s': %s", ifname,
			      br, strerror(errno));
	close(s);
	return false;
}

/* -- children ------------------------------------------------------------ */

struct tapdev_child {
	pid_t pid;
	int out;    /* read end of its stdout and stderr, -1 once at EOF */
	int status; /* waitpid()'s */
	bool timed_out;
	char output[TAPDEV_CHILD_OUTPUT_MAX + 1];
	size_t outlen;
};

/* tapdev_fd_above2() - @fd itself, or a close-on-exec copy of it above the
 * standard descriptors (a daemon with stdio closed may get 0..2 for new
 * fds, which the child's stdio would then overwrite) */
static int tapdev_fd_above2(int fd)
{
	int nfd;

	if (fd < 0 || fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

/* tapdev_cloexec_all() - in the child: every fd from 3 up closes at exec
 * (only async-signal-safe calls here) */
static void tapdev_cloexec_all(void)
{
	struct rlimit rl;
	long max = TAPDEV_FD_SCAN_MAX;

	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < max)
		max = (long)rl.rlim_cur;
	for (long fd = 3; fd < max; fd++)
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
}

/* tapdev_child_exec() - in the child: stdio, descriptors, signals, exec;
 * an exec failure is reported through @ex as an errno */
static void tapdev_child_exec(const char *path, char *const argv[], int keep_fd,
			      int devnull, int out, int ex)
{
	struct sigaction dfl;
	sigset_t none;
	int err;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	sigaction(SIGPIPE, &dfl, NULL);
	if (dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		goto fail;
	tapdev_cloexec_all();
	if (keep_fd >= 0 && fcntl(keep_fd, F_SETFD, 0) < 0)
		goto fail;
	execv(path, argv);
fail:
	err = errno;
	if (write(ex, &err, sizeof(err)) < 0)
		_exit(127);
	_exit(127);
}

/**
 * tapdev_spawn() - start @path with @argv; @keep_fd (or -1) is inherited
 * Return: false with errp "could not launch WHAT PATH: ERR" when the
 * program could not be started at all.
 */
static bool tapdev_spawn(const char *what, const char *path, char *const argv[],
			 int keep_fd, struct tapdev_child *ch,
			 struct nh_error **errp)
{
	int outp[2] = {-1, -1}, exp[2] = {-1, -1}, devnull, err = 0;
	ssize_t n;

	memset(ch, 0, sizeof(*ch));
	ch->out = -1;
	if (!sandbox_run_allowed()) { /* tap.c refuses first; a safety net */
		nh_error_setg(errp, "could not launch %s %s: running programs "
				    "is disabled; start nethubd with --allow-run",
			      what, path);
		return false;
	}
	devnull = tapdev_fd_above2(open("/dev/null", O_RDONLY | O_CLOEXEC));
	if (devnull < 0 || pipe2(outp, O_CLOEXEC) < 0 ||
	    pipe2(exp, O_CLOEXEC) < 0) {
		err = errno;
		goto fail;
	}
	outp[0] = tapdev_fd_above2(outp[0]);
	outp[1] = tapdev_fd_above2(outp[1]);
	exp[0] = tapdev_fd_above2(exp[0]);
	exp[1] = tapdev_fd_above2(exp[1]);
	if (outp[0] < 0 || outp[1] < 0 || exp[0] < 0 || exp[1] < 0) {
		err = errno;
		goto fail;
	}
	ch->pid = fork();
	if (ch->pid < 0) {
		err = errno;
		goto fail;
	}
	if (ch->pid == 0)
		tapdev_child_exec(path, argv, keep_fd, devnull, outp[1],
				  exp[1]);

	close(devnull);
	close(outp[1]);
	close(exp[1]);
	ch->out = outp[0];
	fcntl(ch->out, F_SETFL, O_NONBLOCK);
	/* EOF: exec worked (the pipe is close-on-exec); else its errno */
	do
		n = read(exp[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(exp[0]);
	if (n == (ssize_t)sizeof(err)) {
		while (waitpid(ch->pid, NULL, 0) < 0 && errno == EINTR)
			;
		close(ch->out);
		ch->out = -1;
		nh_error_setg(errp, "could not launch %s %s: %s", what, path,
			      strerror(err));
		return false;
	}
	return true;

fail:
	nh_error_setg(errp, "could not launch %s %s: %s", what, path,
		      strerror(err));
	if (devnull >= 0)
		close(devnull);
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (exp[i] >= 0)
			close(exp[i]);
	}
	return false;
}

static uint64_t tapdev_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* tapdev_read_output() - take what the child wrote; keep the start */
static void tapdev_read_output(struct tapdev_child *ch)
{
	char buf[4096];

	while (ch->out >= 0) {
		ssize_t n = read(ch->out, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return; /* EAGAIN: nothing more for now */
		if (n == 0) {
			close(ch->out);
			ch->out = -1;
			return;
		}
		if (ch->outlen < TAPDEV_CHILD_OUTPUT_MAX) {
			size_t k = TAPDEV_CHILD_OUTPUT_MAX - ch->outlen;

			if ((size_t)n < k)
				k = (size_t)n;
			memcpy(ch->output + ch->outlen, buf, k);
			ch->outlen += k;
		}
	}
}

/**
 * tapdev_wait() - wait for the child to exit, reading its output meanwhile
 *
 * A pidfd says when it exits (its output pipe may stay open in a daemon
 * it started); without one, waitpid() is polled.  Past the timeout it is
 * killed.  Its output is made one printable line.
 */
static void tapdev_wait(struct tapdev_child *ch)
{
	uint64_t deadline = tapdev_now_ms() + TAPDEV_CHILD_TIMEOUT_MS;
	int pidfd = (int)syscall(SYS_pidfd_open, ch->pid, 0);

	for (;;) {
		struct pollfd pf[2];
		uint64_t now = tapdev_now_ms();
		nfds_t n = 0;
		int r, wait_ms;

		r = waitpid(ch->pid, &ch->status, WNOHANG);
		if (r == ch->pid || (r < 0 && errno != EINTR))
			break;
		if (now >= deadline) {
			ch->timed_out = true;
			kill(ch->pid, SIGKILL);
			while (waitpid(ch->pid, &ch->status, 0) < 0 &&
			       errno == EINTR)
				;
			break;
		}
		wait_ms = (int)(deadline - now);
		if (pidfd >= 0)
			pf[n++] =
			    (struct pollfd){.fd = pidfd, .events = POLLIN};
		else if (wait_ms > TAPDEV_WAIT_SLICE_MS)
			wait_ms = TAPDEV_WAIT_SLICE_MS;
		if (ch->out >= 0)
			pf[n++] =
			    (struct pollfd){.fd = ch->out, .events = POLLIN};
		if (poll(pf, n, wait_ms) > 0)
			tapdev_read_output(ch);
	}
	tapdev_read_output(ch);
	if (ch->out >= 0)
		close(ch->out);
	ch->out = -1;
	if (pidfd >= 0)
		close(pidfd);

	while (ch->outlen && (ch->output[ch->outlen - 1] == '\n' ||
			      ch->output[ch->outlen - 1] == ' ' ||
			      ch->output[ch->outlen - 1] == '\r'))
		ch->outlen--;
	for (size_t i = 0; i < ch->outlen; i++)
		if ((unsigned char)ch->output[i] < ' ')
			ch->output[i] = ' ';
	ch->output[ch->outlen] = '\0';
}

/* tapdev_child_failed() - how the child ended, unless it exited 0: "failed
 * with status N", "was killed by signal N", "did not finish within S s" */
static bool tapdev_child_failed(const struct tapdev_child *ch, char *how,
				size_t size)
{
	if (ch->timed_out)
		snprintf(how, size, "did not finish within %d s",
			 TAPDEV_CHILD_TIMEOUT_MS / 1000);
	else if (WIFEXITED(ch->status) && WEXITSTATUS(ch->status) == 0)
		return false;
	else if (WIFEXITED(ch->status))
		snprintf(how, size, "failed with status %d",
			 WEXITSTATUS(ch->status));
	else if (WIFSIGNALED(ch->status))
		snprintf(how, size, "was killed by signal %d",
			 WTERMSIG(ch->status));
	else
		snprintf(how, size, "failed");
	return true;
}

bool tapdev_run_script(const char *script, const char *ifname, int keep_fd,
		       struct nh_error **errp)
{
	char *argv[] = {(char *)script, (char *)ifname, NULL};
	struct tapdev_child ch;
	char how[64];

	if (!tapdev_spawn("network script", script, argv, keep_fd, &ch, errp))
		return false;
	tapdev_wait(&ch);
	if (tapdev_child_failed(&ch, how, sizeof(how))) {
		nh_error_setg(errp, "network script %s %s%s%s", script, how,
			      ch.outlen ? ": " : "", ch.output);
		return false;
	}
	if (ch.outlen)
		log_info("tap %s: %s: %s", ifname, script, ch.output);
	return true;
}

/**
 * tapdev_recv_fd() - the descriptor the helper sent, or -1 with *@why
 * saying what came instead.  Extra descriptors are closed.
 */
static int tapdev_recv_fd(int sock, const char **why)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} u;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *cm;
	char byte;
	ssize_t n;
	int fd = -1;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = &byte;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	do
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		*why = errno == EAGAIN ? "the helper sent nothing"
				       : strerror(errno);
		return -1;
	}
	if (n == 0) {
		*why = "the helper sent nothing";
		return -1;
	}
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t nfds;

		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len < CMSG_LEN(0))
			continue;
		nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfds; i++) {
			int got;

			memcpy(&got, CMSG_DATA(cm) + i * sizeof(int),
			       sizeof(int));
			if (fd < 0)
				fd = got;
			else
				close(got);
		}
	}
	if (fd >= 0 && (mh.msg_flags & MSG_CTRUNC)) {
		close(fd);
		*why = "the helper sent too many descriptors";
		return -1;
	}
	if (fd < 0)
		*why = "the helper sent no descriptor";
	return fd;
}

int tapdev_run_helper(const char *helper, const char *br,
		      struct nh_error **errp)
{
	char fdarg[32], *brarg = NULL, *cmd = NULL, how[64];
	struct tapdev_child ch;
	const char *why = "";
	int sv[2], fd = -1;
	bool ok;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		nh_error_setg(errp, "socketpair() failed: %s", strerror(errno));
		return -1;
	}
	sv[0] = tapdev_fd_above2(sv[0]);
	sv[1] = tapdev_fd_above2(sv[1]);
	if (sv[0] < 0 || sv[1] < 0) {
		nh_error_setg(errp, "socketpair() failed: %s", strerror(errno));
		goto out;
	}
	snprintf(fdarg, sizeof(fdarg), "--fd=%d", sv[1]);
	if (asprintf(&brarg, "--br=%s", br) < 0) {
		brarg = NULL;
		goto nomem;
	}
	if (strpbrk(helper, " \t")) {
		/* A command line: the shell runs it, --br= added unless the
		 * command has its own */
		char *argv[] = {"sh", "-c", NULL, NULL};

		if (asprintf(&cmd, "%s --use-vnet %s %s", helper, fdarg,
			     strstr(helper, "--br=") ? "" : brarg) < 0) {
			cmd = NULL;
			goto nomem;
		}
		argv[2] = cmd;
		ok = tapdev_spawn("bridge helper", "/bin/sh", argv, sv[1], &ch,
				  errp);
	} else {
		char *argv[] = {(char *)helper, "--use-vnet", fdarg, brarg,
				NULL};

		ok = tapdev_spawn("bridge helper", helper, argv, sv[1], &ch,
				  errp);
	}
	close(sv[1]);
	sv[1] = -1;
	if (!ok)
		goto out;
	tapdev_wait(&ch);
	fd = tapdev_recv_fd(sv[0], &why);
	if (tapdev_child_failed(&ch, how, sizeof(how))) {
		nh_error_setg(errp, "bridge helper failed: %s %s%s%s", helper,
			      how, ch.outlen ? ": " : "", ch.output);
		if (fd >= 0)
			close(fd);
		fd = -1;
		goto out;
	}
	if (fd < 0) {
		nh_error_setg(errp, "failed to recv file descriptor: %s%s%s",
			      why, ch.outlen ? ": " : "", ch.output);
		goto out;
	}
	fd = tapdev_fd_above2(fd);
	if (fd < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		nh_error_setg(errp, "Failed to set FD nonblocking: %s",
			      strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	goto out;

nomem:
	nh_error_setg(errp, "bridge helper: out of memory");
out:
	free(brarg);
	free(cmd);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return fd;
}
