/* SPDX-License-Identifier: MIT */
/* user_internal.h - what the files of the "user" netdev share
 *
 * QEMU's user-mode network (libslirp) as one port of a hub: the whole
 * segment shares one slirp stack (one DHCP server, one DNS forwarder, one
 * NAT), where QEMU gives each VM its own.  One backend (one struct
 * backend_ops, in user.c) in several files:
 *
 *   user.c        the ops table, open and close, the port: frames from the
 *                 hub wait in a bounded queue and go to slirp_input() from
 *                 the loop; frames slirp sends become port input
 *   user_opts.c   the options: NetdevUserOptions with QEMU's defaults,
 *                 checks and messages, into a SlirpConfig
 *   user_loop.c   libslirp's timers and sockets on the netdev's libuv loop
 *                 (SlirpCb, slirp_pollfds_fill/poll through an epoll set)
 *   user_fwd.c    hostfwd= / guestfwd= / smb=: parsing in QEMU's syntax,
 *                 setting up, the run-time hostfwd_add / hostfwd_remove
 *   user_dhcp.c   the DHCP leases slirp handed out, snooped from its ACKs
 *
 * Lifetime: struct user_state is reference counted (refs): one for the
 * open netdev, one per libuv handle until its close callback.  After
 * close() s->nd is NULL and s->slirp is gone.
 */
#ifndef NH_USER_INTERNAL_H
#define NH_USER_INTERNAL_H

#include <jansson.h>
#include <slirp/libslirp.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "error.h"
#include "frame.h"
#include "netdev.h"

#define USER_FWD_MAX	   64	/* hostfwd rules, and guestfwd rules */
#define USER_RULE_MAX	   512	/* bytes of one rule */
#define USER_DNSSEARCH_MAX 32	/* dnssearch= domains */
#define USER_NAME_MAX	   255	/* QEMU's limit on hostname=, domainname= */
#define USER_LEASES_MAX	   16	/* slirp's DHCP pool (NB_BOOTP_CLIENTS) */
#define USER_QUEUE_LEN	   512	/* frames waiting for slirp_input() */
#define USER_QUEUE_HIGH	   384	/* past this the port is blocked */
#define USER_MTU	   1500 /* slirp's interface MTU (IF_MTU_DEFAULT) */
#define USER_SMBD	   "/usr/sbin/smbd" /* QEMU's CONFIG_SMBD_COMMAND */

/* The options, checked; strings borrowed from the options object */
struct user_opts {
	SlirpConfig cfg;
	const char *dnssearch[USER_DNSSEARCH_MAX + 1]; /* NULL-ended */
	const char *hostfwd[USER_FWD_MAX];
	unsigned nhostfwd;
	const char *guestfwd[USER_FWD_MAX];
	unsigned nguestfwd;
	const char *smb;	  /* directory, or NULL */
	struct in_addr smbserver; /* default: the net's .4 */
	unsigned prefix_len;	  /* of cfg.vnetmask */
};

/* A host forwarding rule, parsed */
struct user_hostfwd {
	bool udp;
	struct in_addr haddr, gaddr; /* 0: any / slirp's first DHCP address */
	int hport, gport;
	char rule[USER_RULE_MAX]; /* as given, for queries */
};

/* A guest forwarding rule, parsed */
struct user_guestfwd {
	struct in_addr server; /* 0: the net's .4 (libslirp's default) */
	int port;
	char cmd[USER_RULE_MAX]; /* after "cmd:" */
	char rule[USER_RULE_MAX];
};

/* One DHCP lease seen leaving slirp */
struct user_lease {
	uint8_t mac[6];
	struct in_addr ip;
	uint64_t at_ms; /* clock_now_ms() of the last ACK */
	bool used;
};

/* One libslirp timer (timer_new_opaque) */
struct user_timer {
	uv_timer_t h;
	struct user_state *s;
	SlirpTimerId id;
	void *cb_opaque;
};

/* What the epoll set knows of one fd slirp polls (indexed by fd) */
struct user_fd {
	bool in_set;	 /* in the epoll set */
	uint32_t events; /* the EPOLL* it is registered for */
	uint32_t gen;	 /* the fill round that last asked for it */
	int idx;	 /* its index in that round */
};

/* One entry of the current fill round */
struct user_pollfd {
	int fd;
	int revents; /* SLIRP_POLL_* */
};

/* The backend's state for one netdev (nd->priv) */
struct user_state {
	char id[NETDEV_ID_MAX];
	struct netdev *nd; /* NULL once closed */
	uv_loop_t *loop;   /* the netdev's, for handles made later */
	struct port *port;
	Slirp *slirp;
	unsigned refs;

	/* what was configured, for queries and checks */
	struct in_addr net, mask, host, dns, dhcp;
	unsigned prefix_len;
	bool ipv4, ipv6, restricted;
	char prefix6[64], host6[64], dns6[64];
	unsigned prefix6_len;

	/* sockets and timers (user_loop.c) */
	int epfd;
	uv_poll_t epoll_h;
	uv_timer_t tick;      /* slirp's TCP timers: the fill timeout */
	uv_prepare_t prepare; /* fills the epoll set when dirty */
	bool loop_init;
	bool dirty; /* slirp may want other fds or events */
	struct user_fd *fds;
	unsigned fds_cap;
	struct user_pollfd *round, *prev; /* this fill's fds, the last's */
	unsigned nround, round_cap, nprev, prev_cap;
	uint32_t gen;

	/* frames from the hub, waiting for slirp_input() (user.c) */
	struct frame *queue[USER_QUEUE_LEN];
	unsigned qhead, qlen;
	uv_idle_t drain;
	bool drain_init;
	bool blocked;

	/* frames from slirp, gathered into a burst for port_input() */
	struct frame *burst[FRAME_BURST_MAX];
	unsigned nburst;

	/* forwards (user_fwd.c) */
	struct user_hostfwd hostfwd[USER_FWD_MAX];
	unsigned nhostfwd;
	struct user_guestfwd guestfwd[USER_FWD_MAX];
	unsigned nguestfwd;
	char *smb_dir; /* the temporary smbd configuration directory */

	struct user_lease leases[USER_LEASES_MAX];

	uint64_t to_slirp, from_slirp, guest_errors;
};

/* user_opts.c */

/**
 * user_parse_opts() - check a user netdev's options (@opts borrowed; @o's
 * strings point into it) and fill @o with QEMU's defaults for the rest
 * Return: false with QEMU's message ("Failed to parse netmask", "DHCP
 * doesn't belong to network", "Invalid host forwarding rule '...' (...)")
 */
bool user_parse_opts(const json_t *opts, struct user_opts *o,
		     struct nh_error **errp);

/* user_str_list() - a list option: a string (keyval: one element), or a
 * JSON array of {"str": S} (QEMU's [String]) or of strings; at most @max */
bool user_str_list(const json_t *opts, const char *key, const char **out,
		   unsigned max, unsigned *n, struct nh_error **errp);

/* user_fwd.c */

/* user_hostfwd_parse() - "[tcp|udp]:[hostaddr]:hostport-[guestaddr]:
 * guestport" into @f; QEMU's "Invalid host forwarding rule" messages */
bool user_hostfwd_parse(const char *rule, struct user_hostfwd *f,
			struct nh_error **errp);

/* user_guestfwd_parse() - "[tcp]:[server]:port-cmd:COMMAND" into @g;
 * chardev targets are refused (nethub has no chardev for a byte stream) */
bool user_guestfwd_parse(const char *rule, struct user_guestfwd *g,
			 struct nh_error **errp);

/* user_fwd_start() - set up every hostfwd, guestfwd and smb of @o on the
 * running slirp; false with errp at the first one that fails */
bool user_fwd_start(struct user_state *s, const struct user_opts *o,
		    struct nh_error **errp);

/* user_fwd_stop() - what user_fwd_start() left on disk (smb's directory) */
void user_fwd_stop(struct user_state *s);

/* user_fwd_info() - "hostfwd" and "guestfwd" arrays into @obj */
void user_fwd_info(const struct user_state *s, json_t *obj);

/* user_loop.c */

/* user_loop_callbacks - the SlirpCb for slirp_new(); opaque: the state */
extern const SlirpCb user_loop_callbacks;

/* user_loop_init() - the epoll set and its handles; before slirp_new() */
bool user_loop_init(struct user_state *s, struct nh_error **errp);

/* user_loop_close() - close the handles (each drops a reference once its
 * close callback ran); after slirp_cleanup() */
void user_loop_close(struct user_state *s);

/* user_loop_kick() - slirp's state changed: refill its fds before the
 * loop sleeps again */
void user_loop_kick(struct user_state *s);

/* user.c */

/* user_send_packet() - SlirpCb.send_packet: a frame from slirp to the hub */
ssize_t user_send_packet(const void *buf, size_t len, void *opaque);

/* user_flush() - hand the frames slirp sent so far to the hub */
void user_flush(struct user_state *s);

/* user_unref() - drop a reference; the last one frees @s */
void user_unref(struct user_state *s);

/* user_dhcp.c */

/* user_dhcp_snoop() - note a DHCP ACK in a frame slirp sends (per frame:
 * no allocation, no log) */
void user_dhcp_snoop(struct user_state *s, const uint8_t *d, size_t len);

/* user_dhcp_info() - the "leases" array into @obj */
void user_dhcp_info(const struct user_state *s, json_t *obj);

#endif /* NH_USER_INTERNAL_H */
