/* SPDX-License-Identifier: MIT */
/* tapdev.h - Linux tap devices and the programs QEMU runs around them
 *
 * The control-path half of the tap and bridge backends (backends/tap.c):
 * creating or attaching to a tap with /dev/net/tun, asking an open tap fd
 * what it is, virtio-net headers and offloads, carrier, the interface's
 * MTU (wherever its network namespace is), joining a Linux bridge, and
 * running the ifup/ifdown scripts and the bridge helper the way QEMU does.
 * Nothing here is on the per-frame path.
 *
 * Error messages follow QEMU's net/tap.c and tap-linux.c where QEMU has
 * one ("could not configure /dev/net/tun (tap0): ...", "network script
 * ... failed with status N", "bridge helper failed").
 */
#ifndef NH_TAPDEV_H
#define NH_TAPDEV_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* The virtio-net header nethub uses: virtio 1.0's, with num_buffers (the
 * layout vhost-user guests use too) */
#define TAPDEV_VNET_HLEN 12
/* The legacy header without num_buffers, for kernels refusing 12 */
#define TAPDEV_VNET_HLEN_LEGACY 10

/* Offload bits of TUNSETOFFLOAD; USO (Linux 6.2) may be missing from the
 * installed headers */
#define TAPDEV_F_CSUM	 0x01
#define TAPDEV_F_TSO4	 0x02
#define TAPDEV_F_TSO6	 0x04
#define TAPDEV_F_TSO_ECN 0x08
#define TAPDEV_F_UFO	 0x10
#define TAPDEV_F_USO4	 0x20
#define TAPDEV_F_USO6	 0x40

/* How long a script or helper may run before it is killed */
#define TAPDEV_CHILD_TIMEOUT_MS 30000
/* Bytes of a failed script's or helper's output quoted in the error */
#define TAPDEV_CHILD_OUTPUT_MAX 512

/**
 * tapdev_features() - the IFF_* flags TUNSETIFF accepts here (TUNGETFEATURES)
 * Return: the flags, or 0 when /dev/net/tun cannot be opened.
 */
unsigned tapdev_features(void);

/**
 * tapdev_open() - create a tap, or attach to the existing one named @name
 * @name:	an interface name or a template with "%d"; NULL or "" for
 *		"tap%d"
 * @flags:	IFF_VNET_HDR and/or IFF_MULTI_QUEUE (IFF_TAP and IFF_NO_PI
 *		are implied)
 * @ifname:	receives the interface's name
 *
 * The fd is non-blocking and close-on-exec.  An existing multiqueue tap is
 * attached to even when IFF_MULTI_QUEUE was not asked for.
 * Return: the fd, or -1 with errp: "could not open /dev/net/tun: ERR",
 * "could not configure /dev/net/tun (NAME): ERR".
 */
int tapdev_open(const char *name, unsigned flags, char ifname[IFNAMSIZ],
		struct nh_error **errp);

/**
 * tapdev_query() - what an open fd is: its interface name and IFF_* flags
 * (TUNGETIFF)
 * Return: 0, or -errno (ENOTTY, EBADFD: not a tun/tap fd, or detached).
 */
int tapdev_query(int fd, char ifname[IFNAMSIZ], unsigned *flags);

/**
 * tapdev_set_vnet() - use virtio-net headers on @fd and enable offloads
 * @hlen:	receives the header length set: TAPDEV_VNET_HLEN, or
 *		TAPDEV_VNET_HLEN_LEGACY on kernels that refuse 12
 * @offloads:	receives the TUNSETOFFLOAD bits the kernel took: checksum,
 *		TSO4/6 with ECN, UFO and USO4/6 where it has them
 * Return: false with errp when no header length or no checksum offload
 * can be set.
 */
bool tapdev_set_vnet(int fd, unsigned *hlen, unsigned *offloads,
		     struct nh_error **errp);

/* tapdev_set_sndbuf() - TUNSETSNDBUF; false with errp "TUNSETSNDBUF ioctl
 * failed: ERR" */
bool tapdev_set_sndbuf(int fd, int sndbuf, struct nh_error **errp);

/* tapdev_set_carrier() - TUNSETCARRIER: what the host sees as the link
 * (NO-CARRIER when off).  Return: 0 or -errno. */
int tapdev_set_carrier(int fd, bool on);

/**
 * struct tapdev_ns - a socket in the network namespace a tap lives in, for
 * interface ioctls; follows the device when it moves to another namespace
 */
struct tapdev_ns {
	int sock;     /* -1 until needed */
	uint64_t ino; /* the namespace's inode; 0 for our own */
};

void tapdev_ns_init(struct tapdev_ns *ns);
void tapdev_ns_close(struct tapdev_ns *ns);

/**
 * tapdev_mtu() - the MTU and current name of the interface behind @fd,
 * wherever it is: a tap moved into another network namespace is found
 * there (TUNGETDEVNETNS; entering a namespace needs CAP_SYS_ADMIN, without
 * it only an interface in our own namespace is found)
 * Return: 0, or -errno.
 */
int tapdev_mtu(int fd, struct tapdev_ns *ns, char ifname[IFNAMSIZ],
	       unsigned *mtu);

/**
 * tapdev_check_ifname() - an interface name the kernel would take: 1 to
 * IFNAMSIZ - 1 bytes, not "." or "..", no '/', ':' or white space
 */
bool tapdev_check_ifname(const char *name);

/**
 * tapdev_may_admin() - does this process hold CAP_NET_ADMIN (create taps,
 * join bridges)?  true when it cannot tell.
 */
bool tapdev_may_admin(void);

/**
 * tapdev_bridge_attach() - put interface @ifname (ours, in our namespace)
 * on Linux bridge @br and bring it up, as qemu-bridge-helper does: the
 * interface takes the bridge's MTU and a MAC address starting with 0xfe,
 * so that the bridge never adopts it as its own.  Needs CAP_NET_ADMIN.
 * Return: false with errp: "bridge 'BR' does not exist", "'BR' is not a
 * bridge", "cannot add IFNAME to bridge 'BR': ERR".
 */
bool tapdev_bridge_attach(const char *br, const char *ifname,
			  struct nh_error **errp);

/* tapdev_bridge_exists() - @br is a Linux bridge in our namespace; errp
 * says why not, as tapdev_bridge_attach() would */
bool tapdev_bridge_exists(const char *br, struct nh_error **errp);

/**
 * tapdev_run_script() - run "SCRIPT IFNAME" and wait for it, as QEMU's
 * launch_script(): the child keeps @keep_fd (the tap) and stdin, stdout,
 * stderr, nothing else.  Its output is captured (stdin is /dev/null); the
 * start of it is quoted when it fails.
 * Return: false with errp: "could not launch network script S: ERR",
 * "network script S failed with status N[: OUTPUT]" (N: its exit status),
 * "network script S was killed by signal N", "network script S did not
 * finish within 30 s".
 */
bool tapdev_run_script(const char *script, const char *ifname, int keep_fd,
		       struct nh_error **errp);

/**
 * tapdev_run_helper() - run a bridge helper and take the tap fd it passes
 * @helper:	a path, run as "HELPER --use-vnet --fd=N --br=BR"; if it
 *		contains a space or tab, a command run with /bin/sh -c, with
 *		--br= added unless it has one (QEMU's rules)
 * @br:		the bridge
 *
 * The helper gets one end of a unix socketpair and sends the tap fd back
 * with SCM_RIGHTS and one data byte, then exits 0.
 * Return: the fd (non-blocking, close-on-exec), or -1 with errp:
 * "failed to recv file descriptor: WHY[: OUTPUT]", "bridge helper
 * failed: H failed with status N[: OUTPUT]" (or "was killed by signal N",
 * "did not finish within 30 s"), "could not launch bridge helper H: ERR".
 */
int tapdev_run_helper(const char *helper, const char *br,
		      struct nh_error **errp);

#endif /* NH_TAPDEV_H */
