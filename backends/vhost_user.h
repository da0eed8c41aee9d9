/* SPDX-License-Identifier: MIT */
/* vhost_user.h - the vhost-user netdev's internals, shared by its three
 * files: vhost_user.c (the netdev and its connection), vhost_user_ring.c
 * (its rings' datapath) and vhost_user_proto.c (the protocol's messages)
 *
 * Rings: queues=N gives N queue pairs, rings 0 to 2N - 1; the even ones
 * are receiveqs (switch → guest), the odd ones transmitqs.  Every index
 * a front-end names is checked against nrings before use.
 */
#ifndef NH_VHOST_USER_H
#define NH_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "netdev.h"
#include "virtq.h"

#define VU_RX		   0  /* even rings: receiveqs, switch → guest */
#define VU_TX		   1  /* odd rings: transmitqs, guest → switch */
#define VU_QUEUES_MAX	   16 /* queues=N: queue pairs, at most */
#define VU_HDR_SIZE	   12
#define VU_PAYLOAD_MAX	   4096
#define VU_FDS_MAX	   8
#define VU_VERSION	   1
#define VU_FLAG_VERSION	   0x3
#define VU_FLAG_REPLY	   0x4
#define VU_FLAG_NEED_REPLY 0x8
#define VU_VRING_NOFD	   0x100 /* in SET_VRING_KICK/CALL/ERR */
#define VU_VRING_IDX	   0xff
#define VU_MAX_REQUEST	   64	   /* requests logged as unknown once each */
#define VU_POLL_US_MAX	   1000000 /* poll-us: at most a second */

/* Virtio feature bits */
#define VU_F_NET_CSUM	       0 /* the driver may send NEEDS_CSUM */
#define VU_F_NET_GUEST_CSUM    1 /* ... and may be given it */
#define VU_F_NET_GUEST_TSO4    7
#define VU_F_NET_GUEST_TSO6    8
#define VU_F_NET_GUEST_ECN     9
#define VU_F_NET_GUEST_UFO     10
#define VU_F_NET_HOST_TSO4     11
#define VU_F_NET_HOST_TSO6     12
#define VU_F_NET_HOST_ECN      13
#define VU_F_NET_HOST_UFO      14
#define VU_F_NET_GUEST_USO4    54
#define VU_F_NET_GUEST_USO6    55
#define VU_F_NET_HOST_USO      56
#define VU_F_NET_MTU	       3
#define VU_F_NET_MRG_RXBUF     15
#define VU_F_NET_MQ	       22 /* offered with queues=N > 1 */
#define VU_F_NOTIFY_ON_EMPTY   24
#define VU_F_LOG_ALL	       26
#define VU_F_ANY_LAYOUT	       27
#define VU_F_INDIRECT_DESC     28
#define VU_F_EVENT_IDX	       29
#define VU_F_PROTOCOL_FEATURES 30
#define VU_F_VERSION_1	       32
#define VU_F_IN_ORDER	       35 /* buffers used in the order made available */
#define VU_F_NET_STANDBY       62 /* failover: offered with failover=on */

/* Protocol feature bits */
#define VU_PF_MQ		  0
#define VU_PF_LOG_SHMFD		  1
#define VU_PF_RARP		  2
#define VU_PF_REPLY_ACK		  3
#define VU_PF_MTU		  4
#define VU_PF_CONFIGURE_MEM_SLOTS 15
#define VU_PF_STATUS		  16

#define VU_BIT(n) (1ull << (n))

/* The offloads: what a driver accepts decides what it is given whole
 * (vu_features_changed()) and what it may send */
#define VU_OFFLOADS                                                            \
	(VU_BIT(VU_F_NET_CSUM) | VU_BIT(VU_F_NET_GUEST_CSUM) |                 \
	 VU_BIT(VU_F_NET_GUEST_TSO4) | VU_BIT(VU_F_NET_GUEST_TSO6) |           \
	 VU_BIT(VU_F_NET_GUEST_ECN) | VU_BIT(VU_F_NET_GUEST_UFO) |             \
	 VU_BIT(VU_F_NET_HOST_TSO4) | VU_BIT(VU_F_NET_HOST_TSO6) |             \
	 VU_BIT(VU_F_NET_HOST_ECN) | VU_BIT(VU_F_NET_HOST_UFO) |               \
	 VU_BIT(VU_F_NET_GUEST_USO4) | VU_BIT(VU_F_NET_GUEST_USO6) |           \
	 VU_BIT(VU_F_NET_HOST_USO))
#define VU_FEATURES                                                            \
	(VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_F_NET_MRG_RXBUF) |                 \
	 VU_BIT(VU_F_EVENT_IDX) | VU_BIT(VU_F_INDIRECT_DESC) |                 \
	 VU_BIT(VU_F_PROTOCOL_FEATURES) | VU_BIT(VU_F_ANY_LAYOUT) |            \
	 VU_BIT(VU_F_IN_ORDER) | VU_OFFLOADS)
#define VU_PROTOCOL_FEATURES                                                   \
	(VU_BIT(VU_PF_MQ) | VU_BIT(VU_PF_RARP) | VU_BIT(VU_PF_REPLY_ACK) |     \
	 VU_BIT(VU_PF_CONFIGURE_MEM_SLOTS) | VU_BIT(VU_PF_STATUS) |            \
	 VU_BIT(VU_PF_LOG_SHMFD))

#define VU_REQ_SET_LOG_BASE 6	/* replied to once LOG_SHMFD is negotiated */
#define VU_VRING_F_LOG	    0x1 /* SET_VRING_ADDR flags: log the used ring */

struct vu_state;
struct chardev;

/* A watched file descriptor (the socket, a kick eventfd): allocated per
 * watch so that a closing handle never aliases a new one */
struct vu_watch {
	uv_poll_t poll;
	struct vu_state *s;
	int fd;
	unsigned ring; /* for kicks */
};

/* One ring: ring 2q is queue pair q's receiveq, 2q + 1 its transmitq */
struct vu_ring {
	struct virtq vq;
	uint32_t num;		    /* SET_VRING_NUM */
	bool addr_given;	    /* SET_VRING_ADDR was accepted */
	uint64_t desc, avail, used; /* as given */
	struct vu_watch *kick;	    /* NULL: no kick fd */
	int call_fd, err_fd;	    /* -1: none */
	bool started;  /* kicked since SET_VRING_KICK, not stopped */
	bool enabled;  /* SET_VRING_ENABLE */
	bool rx_kicks; /* RX: the guest was asked to kick (blocked) */
	bool polling;  /* TX: empty, kicks off, polled from idle */
	/* TX: when it last gave frames (poll-us) */
	uint64_t poll_last_ns;
	uint64_t kicks, calls;
	uint64_t frames; /* TX: taken from the guest; RX: given to it */
	bool broken_logged;
};

/* One message, as read */
struct vu_msg {
	uint32_t request, flags, size;
	uint8_t payload[VU_PAYLOAD_MAX];
	int fds[VU_FDS_MAX];
	unsigned nfds;
	/* the reply, for requests that have one */
	uint8_t reply[VU_PAYLOAD_MAX];
	uint32_t reply_size;
};

struct vu_state {
	char id[NETDEV_ID_MAX]; /* for messages after close */
	struct netdev *nd;	/* NULL once closed */
	uv_loop_t *loop;
	struct chardev *cd;
	unsigned refs; /* open + watches + handles */

	/* the connection (one at a time) */
	struct vu_watch *sock; /* NULL: not connected */
	struct port *port;
	uint8_t in[VU_HDR_SIZE + VU_PAYLOAD_MAX];
	uint32_t in_len;
	int in_fds[VU_FDS_MAX];
	unsigned in_nfds;
	struct vu_msg msg;

	struct vq_mem mem;
	/* queues=N: N queue pairs, nrings = 2N rings allocated with the
	 * state */
	struct vu_ring *ring;
	unsigned queues, nrings;
	uint64_t offered; /* VU_FEATURES, and STANDBY with failover=on */
	uint64_t features, protocol_features;
	bool features_set;
	unsigned rx_caps; /* GSO_CAP_*: what the driver is given whole */
	unsigned tx_caps; /* GSO_CAP_*: what it may send; the rest is refused */
	uint64_t status;
	uint32_t mtu;
	bool rx_blocked; /* port_tx_blocked() said, ready not yet */
	bool tx_paused;	 /* the switch paused our ingress */
	uv_idle_t idle;	 /* drains TX beyond one turn's budget */
	bool idle_init, idle_on;
	/* the receive ring that was full (rx_blocked) */
	unsigned rx_blocked_on;
	/* the transmit rings (a bit per index) the idle handle drains */
	uint32_t tx_again;
	uint64_t poll_ns; /* poll-us: 0, sleep as soon as TX is empty */
	uint64_t polls, poll_hits; /* idle turns polling; those with frames */
	uint64_t unknown_logged;   /* requests logged unknown; 63 up: bit 63 */

	uint64_t connections, messages, protocol_errors;
	uint64_t failovers; /* STANDBY negotiations (events sent) */

	/* live migration's dirty log (SET_LOG_BASE; its counters are kept
	 * across connections) and SET_LOG_FD's eventfd (-1: none) */
	struct vq_log log;
	int log_fd;
};

/* vu_ring_is_rx() - whether ring @i is a receiveq (switch → guest) */
static inline bool vu_ring_is_rx(unsigned i)
{
	return (i & 1) == VU_RX;
}

/* vu_proto_on_readable() - read and handle what the front-end sent */
void vu_proto_on_readable(struct vu_state *s);

/* vu_disconnect() - drop the connection: port detached, memory unmapped,
 * fds closed; the chardev listens or reconnects again */
void vu_disconnect(struct vu_state *s, const char *why);

/* vu_watch_new() - watch @fd for reading with @cb; NULL on failure (the
 * fd is then still the caller's) */
struct vu_watch *vu_watch_new(struct vu_state *s, int fd, uv_poll_cb cb,
			      unsigned ring);

/* vu_watch_close() - stop and close; the fd is closed with the handle */
void vu_watch_close(struct vu_watch *w);

/* vu_send(), vu_rx_pause() - the port's send and rx_pause (backend.h) */
unsigned vu_send(struct port *p, struct frame *const *frames, unsigned n);
void vu_rx_pause(struct port *p, bool pause);

/* vu_ring_* - what the protocol does to rings (vhost_user_ring.c) */
bool vu_ring_set_kick(struct vu_state *s, unsigned i, int fd);
void vu_ring_stop(struct vu_state *s, unsigned i);
void vu_ring_reset(struct vu_state *s, unsigned i);
void vu_ring_set_enabled(struct vu_state *s, unsigned i, bool on);
void vu_send_rarp(struct vu_state *s, const uint8_t mac[6]);
void vu_features_changed(struct vu_state *s);
void vu_mem_changed(struct vu_state *s);

/* vu_log_update() - the rings log their writes while LOG_ALL is
 * negotiated and a log is mapped, and not otherwise (vhost_user_proto.c) */
void vu_log_update(struct vu_state *s);

/* vu_log_close() - unmap the dirty log and close SET_LOG_FD's eventfd */
void vu_log_close(struct vu_state *s);

#endif /* NH_VHOST_USER_H */
