// SPDX-License-Identifier: MIT
/* tap.c - QEMU's "tap" and "bridge" netdevs: a host tap interface as a port
 *
 * How the tap is had (exactly one way per netdev):
 *   ifname=NAME|TEMPLATE  create the tap (default template "tap%d") or
 *                         attach to an existing one; queues=N opens N
 *                         queues of one multiqueue device; script= and
 *                         downscript= run with the interface name (QEMU's
 *                         /etc/qemu-ifup and /etc/qemu-ifdown when they
 *                         exist, "no" for none); br=BR without helper=
 *                         (nethub's extension) puts it on bridge BR
 *   fd=N|NAME, fds=A:B..  taps opened by someone else: inherited, or
 *                         passed with QMP getfd
 *   helper=PROG [br=BR]   a bridge helper makes the tap and passes it back
 *   type bridge           br=BR (default br0) through helper= when given,
 *                         else directly: nethub makes the tap and adds it
 *                         to the bridge itself (needs CAP_NET_ADMIN)
 *
 * All queues are one port, named like the netdev.  Each queue is an I/O
 * channel (IO_CHAN_DGRAM, read/write: one frame per call); frames are sent
 * on the queue their flow hashes to, so a flow stays in order.
 *
 * With virtio-net headers (vnet_hdr, on by default where the kernel has
 * them) the tap is told to hand over checksum-offloaded and GSO frames (up
 * to 64 KiB): each received frame keeps its header's facts (checked by
 * gso_check()), the port takes such frames whole (port->gso_caps: every
 * kind the kernel parses on a write; USO only where it also gives USO,
 * Linux 6.2 on), and frames it sends carry their facts in the header.
 * The header is the 12-byte virtio 1.0 layout (TUNSETVNETHDRSZ 12; 10 on
 * kernels that refuse it).
 *
 * The port's MTU is the interface's, re-read every TAP_MTU_POLL_MS (the
 * interface may be changed, or moved to another network namespace, after
 * nethub made it).  set_link sets the carrier.  poll-us=N keeps the event
 * loop spinning for N microseconds after each received burst before it
 * sleeps again.  vhost*= are refused: in-kernel vhost-net accelerates a
 * guest's virtio-net device, and nethub has none.
 *
 * Owns: the queue channels, their fds, an MTU timer, a busy-poll idle
 * handle, the device namespace socket.  The state outlives close() until
 * the last channel and handle callback has run.
 *
 * Must never: log or allocate per frame, trust a header from the kernel
 * before checking it, or touch the struct netdev after close() returned.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "backend.h"
#include "fdname.h"
#include "frame.h"
#include "gso.h"
#include "io.h"
#include "log.h"
#include "netdev.h"
#include "opts.h"
#include "port.h"
#include "sandbox.h"
#include "tapdev.h"

#define TAP_QUEUES_MAX	       256 /* the kernel's limit per device */
#define TAP_SCRIPT_DEFAULT     "/etc/qemu-ifup"
#define TAP_DOWNSCRIPT_DEFAULT "/etc/qemu-ifdown"
#define TAP_BRIDGE_DEFAULT     "br0"
#define TAP_MTU_POLL_MS	       1000
#define TAP_MTU_UNKNOWN	       PORT_MTU_DEFAULT

enum tap_mode {
	TAP_MODE_IFNAME,
	TAP_MODE_FD,
	TAP_MODE_FDS,
	TAP_MODE_HELPER,
	TAP_MODE_BRIDGE, /* type bridge without helper= */
};

static const char *const tap_mode_names[] = {
    [TAP_MODE_IFNAME] = "ifname", [TAP_MODE_FD] = "fd",
    [TAP_MODE_FDS] = "fds",	  [TAP_MODE_HELPER] = "helper",
    [TAP_MODE_BRIDGE] = "bridge",
};

/* The options of a tap or bridge netdev (strings borrowed from the object) */
struct tap_opts {
	const char *ifname, *fd, *fds, *script, *downscript, *br, *helper;
	bool has_vnet_hdr, vnet_hdr;
	bool has_sndbuf;
	uint64_t sndbuf;
	bool has_queues;
	int64_t queues;
	int64_t poll_us;
	bool bridge; /* type "bridge" */
};

struct tap_state;

/* One queue: a file of the tap device and its channel */
struct tap_queue {
	struct tap_state *s;
	struct io_chan *chan; /* NULL until made, and once closing */
	int fd;		      /* -1 once the channel owns it and closes */
	bool busy;	      /* its send queue said busy (io_chan_tx_busy) */
};

/* The backend's state for one netdev (nd->priv) */
struct tap_state {
	char id[NETDEV_ID_MAX]; /* for messages after close */
	struct netdev *nd;	/* NULL once closed */
	struct port *port;
	unsigned refs; /* open + channels + handles */
	unsigned nbusy; /* queues whose send queue is busy */
	enum tap_mode mode;
	char ifname[IFNAMSIZ];
	char *script, *downscript, *helper, *br; /* as used, for info */
	unsigned vnet_hlen;			 /* 0: no vnet header */
	unsigned offloads;			 /* TAPDEV_F_* */
	int sndbuf;
	uint32_t poll_us;
	bool gone;    /* the device failed: port removed */
	bool carrier; /* what set_link last set */
	bool carrier_warned;

	struct tap_queue *q;
	unsigned nq;

	struct tapdev_ns ns;
	uv_timer_t mtu_timer;
	bool timer_init;
	uv_idle_t busy;
	bool busy_init;
	uint64_t last_rx_ns;

	uint64_t rx_gso, rx_csum; /* offloaded frames received */
	uint64_t tx_lost;	  /* taken from the hub but not queued */
};

/* -- state --------------------------------------------------------------- */

static void tap_unref(struct tap_state *s)
{
	if (--s->refs)
		return;
	if (s->port)
		port_free(s->port);
	tapdev_ns_close(&s->ns);
	free(s->q);
	free(s->script);
	free(s->downscript);
	free(s->helper);
	free(s->br);
	free(s);
}

static void tap_chan_done(void *opaque, unsigned dropped)
{
	struct tap_queue *q = opaque;
	struct tap_state *s = q->s;

	if (dropped && s->port)
		port_count_tx_drop(s->port, PORT_DROP_NO_PEER, dropped);
	tap_unref(s);
}

/* tap_close_queues() - close every channel (their done callbacks drop
 * their references) and the fds no channel owns yet */
static void tap_close_queues(struct tap_state *s)
{
	for (unsigned i = 0; i < s->nq; i++) {
		struct tap_queue *q = &s->q[i];
		struct io_chan *c = q->chan;

		q->chan = NULL;
		if (c)
			io_chan_close(c, tap_chan_done);
		else if (q->fd >= 0)
			close(q->fd);
		q->fd = -1;
	}
}

static void tap_on_handle_closed(uv_handle_t *h)
{
	tap_unref(h->data);
}

/* tap_teardown() - detach the port now, close everything; the memory goes
 * once the last channel and handle callback has run */
static void tap_teardown(struct tap_state *s)
{
	s->nd = NULL;
	if (s->port)
		port_detach(s->port);
	tap_close_queues(s);
	if (s->timer_init)
		uv_close((uv_handle_t *)&s->mtu_timer, tap_on_handle_closed);
	if (s->busy_init)
		uv_close((uv_handle_t *)&s->busy, tap_on_handle_closed);
	tap_unref(s);
}

/* tap_gone() - the device failed under us (deleted, detached): the port
 * goes, the netdev stays, idle */
static void tap_gone(struct tap_state *s, int err)
{
	if (s->gone)
		return;
	s->gone = true;
	log_warn("netdev %s: tap %s: %s; the port is removed", s->id, s->ifname,
		 err ? strerror(-err) : "end of file");
	if (s->port)
		port_detach(s->port);
	tap_close_queues(s);
	if (s->timer_init)
		uv_timer_stop(&s->mtu_timer);
}

/* -- the per-frame path -------------------------------------------------- */

/* tap_vnet_parse() - a received virtio-net header into @f's facts; the
 * kernel writes it in host byte order (legacy tun, no TUNSETVNETLE) */
static void tap_vnet_parse(const uint8_t *h, struct frame *f)
{
	f->vnet.flags = h[0];
	f->vnet.gso_type = h[1];
	memcpy(&f->vnet.hdr_len, h + 2, 2);
	memcpy(&f->vnet.gso_size, h + 4, 2);
	memcpy(&f->vnet.csum_start, h + 6, 2);
	memcpy(&f->vnet.csum_offset, h + 8, 2);
}

/* tap_tx_header() - the virtio-net header in front of a frame we write */
static unsigned tap_tx_header(struct io_chan *c, const struct frame *f,
			      uint8_t *hdr)
{
	const struct tap_queue *q = io_chan_opaque(c);
	unsigned hl = q->s->vnet_hlen;

	memset(hdr, 0, hl);
	hdr[0] =
	    f->vnet.flags & (FRAME_VNET_F_NEEDS_CSUM | FRAME_VNET_F_DATA_VALID);
	hdr[1] = f->vnet.gso_type;
	memcpy(hdr + 2, &f->vnet.hdr_len, 2);
	memcpy(hdr + 4, &f->vnet.gso_size, 2);
	memcpy(hdr + 6, &f->vnet.csum_start, 2);
	memcpy(hdr + 8, &f->vnet.csum_offset, 2);
	return hl;
}

static void tap_busy_poll(struct tap_state *s);

/**
 * tap_on_recv() - frames from the host: one per read, behind the vnet
 * header when there is one; the header's facts are checked against the
 * frame before the switch sees it
 */
static void tap_on_recv(struct io_chan *c, const struct io_msg *msgs,
			unsigned n)
{
	struct tap_queue *q = io_chan_opaque(c);
	struct tap_state *s = q->s;
	struct frame *burst[FRAME_BURST_MAX];
	struct port *p = s->port;
	unsigned hl = s->vnet_hlen, nb = 0;

	if (!p || !s->nd || s->gone)
		return;
	for (unsigned i = 0; i < n; i++) {
		const struct io_msg *m = &msgs[i];
		struct frame *f;
		size_t len;

		if (m->len < hl) {
			port_count_rx_drop(p, PORT_DROP_MALFORMED, 1, m->len);
			continue;
		}
		len = m->len - hl;
		if (m->truncated || len > FRAME_MAX_LEN) {
			port_count_rx_drop(p, PORT_DROP_OVERSIZE, 1, len);
			continue;
		}
		if (len < FRAME_MIN_LEN) {
			port_count_rx_drop(p, PORT_DROP_MALFORMED, 1, len);
			continue;
		}
		f = frame_alloc_copy(m->data + hl, len);
		if (!f) {
			port_count_rx_drop(p, PORT_DROP_NO_BUFFER, 1, len);
			continue;
		}
		if (hl) {
			tap_vnet_parse(m->data, f);
			if (gso_check(f)) {
				port_count_rx_drop(p, PORT_DROP_MALFORMED, 1,
						   len);
				frame_unref(f);
				continue;
			}
			if (f->vnet.gso_type != FRAME_GSO_NONE)
				s->rx_gso++;
			else if (f->vnet.flags & FRAME_VNET_F_NEEDS_CSUM)
				s->rx_csum++;
		}
		burst[nb++] = f;
		if (nb == FRAME_BURST_MAX) {
			port_input(p, burst, nb);
			nb = 0;
		}
	}
	if (nb)
		port_input(p, burst, nb);
	if (s->poll_us)
		tap_busy_poll(s);
}

/* tap_on_tx_drop() - frames the tap refused: EIO while the interface is
 * down counts as link-down, the rest as errors */
static void tap_on_tx_drop(struct io_chan *c, unsigned n, int err)
{
	struct tap_queue *q = io_chan_opaque(c);
	struct tap_state *s = q->s;

	if (!s->port)
		return;
	if (err == -EIO)
		port_count_tx_drop(s->port, PORT_DROP_LINK_DOWN, n);
	else if (err == -EMSGSIZE)
		port_count_tx_drop(s->port, PORT_DROP_OVERSIZE, n);
	else
		port_count_tx_drop(s->port, PORT_DROP_ERROR, n);
}

static void tap_on_error(struct io_chan *c, int err)
{
	struct tap_queue *q = io_chan_opaque(c);

	tap_gone(q->s, err);
}

/* tap_queue_room() - frames @q's channel can still queue */
static unsigned tap_queue_room(const struct tap_queue *q)
{
	struct io_chan_stats st;

	if (!q->chan)
		return 0;
	io_chan_get_stats(q->chan, &st);
	return st.txq_max > st.txq_len ? st.txq_max - st.txq_len : 0;
}

/**
 * tap_send_mq() - spread a burst over the queues by flow
 *
 * The switch's contract is "the first N frames are taken": the longest
 * prefix of the burst whose frames all fit their queues is taken, each
 * queue getting its frames in order.
 */
static unsigned tap_send_mq(struct tap_state *s, struct frame *const *frames,
			    unsigned n)
{
	struct frame *part[FRAME_BURST_MAX];
	uint16_t qi[FRAME_BURST_MAX];
	unsigned room[TAP_QUEUES_MAX];
	bool seen[TAP_QUEUES_MAX];
	unsigned k;

	if (n > FRAME_BURST_MAX)
		n = FRAME_BURST_MAX;
	memset(seen, 0, s->nq * sizeof(seen[0]));
	for (k = 0; k < n; k++) {
		unsigned i = frame_flow_hash(frames[k]) % s->nq;

		if (!seen[i]) {
			seen[i] = true;
			room[i] = tap_queue_room(&s->q[i]);
		}
		if (!room[i])
			break;
		room[i]--;
		qi[k] = (uint16_t)i;
	}
	memset(seen, 0, s->nq * sizeof(seen[0]));
	for (unsigned a = 0; a < k; a++) {
		unsigned i = qi[a], np = 0, took;

		if (seen[i])
			continue;
		seen[i] = true;
		for (unsigned b = a; b < k; b++)
			if (qi[b] == i)
				part[np++] = frames[b];
		took = io_chan_send(s->q[i].chan, part, np);
		if (took < np) {
			/* cannot happen (room was checked): never leak */
			s->tx_lost += np - took;
			frame_unref_many(part + took, np - took);
		}
	}
	return k;
}

/* Flow control: the port is blocked while any queue is busy, ready once
 * none is (the contract of backend.h) */
static void tap_note_busy(struct tap_state *s)
{
	for (unsigned i = 0; i < s->nq; i++) {
		struct tap_queue *q = &s->q[i];

		if (!q->busy && q->chan && io_chan_tx_busy(q->chan)) {
			q->busy = true;
			if (s->nbusy++ == 0)
				port_tx_blocked(s->port);
		}
	}
}

static void tap_on_tx_drain(struct io_chan *c, bool ready)
{
	struct tap_queue *q = io_chan_opaque(c);
	struct tap_state *s = q->s;

	if (!q->busy || !s->port || s->gone)
		return;
	if (!ready) {
		port_tx_progress(s->port);
		return;
	}
	q->busy = false;
	if (--s->nbusy == 0)
		port_tx_ready(s->port);
}

static unsigned tap_send(struct port *p, struct frame *const *frames,
			 unsigned n)
{
	struct tap_state *s = p->priv;
	unsigned took;

	if (!s || s->gone || !s->nq || !s->q[0].chan)
		return 0;
	if (s->nq == 1)
		took = io_chan_send(s->q[0].chan, frames, n);
	else
		took = tap_send_mq(s, frames, n);
	tap_note_busy(s);
	return took;
}

static void tap_rx_pause(struct port *p, bool pause)
{
	struct tap_state *s = p->priv;

	if (!s || s->gone)
		return;
	for (unsigned i = 0; i < s->nq; i++) {
		if (s->q[i].chan)
			io_chan_set_paused(s->q[i].chan, pause);
	}
}

/* -- busy polling, MTU, carrier ----------------------------------------- */

static void tap_on_busy(uv_idle_t *h)
{
	struct tap_state *s = h->data;

	if (uv_hrtime() - s->last_rx_ns > (uint64_t)s->poll_us * 1000)
		uv_idle_stop(h);
}

/* tap_busy_poll() - after a burst: while the idle handle is active the
 * loop does not sleep, so the next frames are picked up as soon as they
 * come; it stops poll-us microseconds after the last burst */
static void tap_busy_poll(struct tap_state *s)
{
	s->last_rx_ns = uv_hrtime();
	if (s->busy_init && !uv_is_active((uv_handle_t *)&s->busy))
		uv_idle_start(&s->busy, tap_on_busy);
}

/* tap_mtu_update() - read the interface's MTU (and name) into the port */
static void tap_mtu_update(struct tap_state *s, bool first)
{
	char name[IFNAMSIZ];
	unsigned mtu;
	int r;

	if (s->gone || !s->port || s->q[0].fd < 0)
		return;
	r = tapdev_mtu(s->q[0].fd, &s->ns, name, &mtu);
	if (r < 0) {
		if (first)
			log_warn("netdev %s: cannot read the MTU of %s (%s); "
				 "frames of any size are sent to it",
				 s->id, s->ifname, strerror(-r));
		return;
	}
	if (strcmp(name, s->ifname)) {
		if (!first)
			log_info("netdev %s: tap %s is now %s", s->id,
				 s->ifname, name);
		memcpy(s->ifname, name, sizeof(s->ifname));
	}
	if (mtu != s->port->mtu) {
		if (!first)
			log_info("port %s: MTU of %s is now %u", s->port->name,
				 s->ifname, mtu);
		s->port->mtu = mtu;
	}
}

static void tap_on_mtu_timer(uv_timer_t *t)
{
	tap_mtu_update(t->data, false);
}

static void tap_set_link(struct port *p, bool up)
{
	struct tap_state *s = p->priv;
	int r;

	if (!s || s->gone || s->q[0].fd < 0)
		return;
	s->carrier = up;
	r = tapdev_set_carrier(s->q[0].fd, up);
	if (r < 0 && !s->carrier_warned) {
		s->carrier_warned = true;
		log_warn("netdev %s: cannot set the carrier of %s: %s", s->id,
			 s->ifname, strerror(-r));
	}
}

/* -- options -------------------------------------------------------------- */

/* tap_refuse_vhost() - vhost*= options ask for in-kernel vhost-net */
static bool tap_refuse_vhost(const json_t *opts, struct nh_error **errp)
{
	static const char *const flags[] = {"vhost", "vhostforce"};
	static const char *const fds[] = {"vhostfd", "vhostfds"};
	static const char why[] =
	    "in-kernel vhost-net accelerates a guest's virtio-net device, "
	    "and nethub has no guest device for it to accelerate (nethub "
	    "moves the tap's frames itself)";

	for (size_t i = 0; i < 2; i++) {
		bool on = false;

		if (!opts_get_bool(opts, flags[i], &on, errp))
			return false;
		if (on) {
			nh_error_setg(errp, "%s=on is not supported: %s",
				      flags[i], why);
			return false;
		}
		if (opts_has(opts, fds[i])) {
			nh_error_setg(errp, "%s= is not supported: %s", fds[i],
				      why);
			return false;
		}
	}
	return true;
}

static bool tap_check_name(const char *key, const char *v,
			   struct nh_error **errp)
{
	if (tapdev_check_ifname(v))
		return true;
	nh_error_setg(errp,
		      "Parameter '%s' expects an interface name: 1 to %d bytes "
		      "without '/', ':' or white space",
		      key, IFNAMSIZ - 1);
	return false;
}

/* tap_fds_count() - the number of descriptors in fds=, all non-empty */
static bool tap_fds_count(const char *fds, unsigned *count,
			  struct nh_error **errp)
{
	unsigned n = 1;
	const char *p = fds;

	for (const char *c = fds;; c++) {
		if (*c != ':' && *c)
			continue;
		if (c == p) {
			nh_error_setg(
			    errp, "fds=%s: empty file descriptor in the list",
			    fds);
			return false;
		}
		if (!*c)
			break;
		p = c + 1;
		n++;
	}
	if (n > TAP_QUEUES_MAX) {
		nh_error_setg(errp, "fds=: more than %d file descriptors",
			      TAP_QUEUES_MAX);
		return false;
	}
	*count = n;
	return true;
}

/* tap_check_programs() - script=, downscript= and helper= run programs:
 * only with --allow-run ("no" and "" run nothing) */
static bool tap_check_programs(const struct tap_opts *o,
			       struct nh_error **errp)
{
	if (o->script && *o->script && strcmp(o->script, "no") &&
	    !sandbox_check_run("script", o->script, errp))
		return false;
	if (o->downscript && *o->downscript && strcmp(o->downscript, "no") &&
	    !sandbox_check_run("downscript", o->downscript, errp))
		return false;
	return !o->helper || sandbox_check_run("helper", o->helper, errp);
}

/* tap_parse_opts() - the checks of a tap netdev that need no resources */
static bool tap_parse_opts(const json_t *opts, struct tap_opts *o,
			   struct nh_error **errp)
{
	static const char *const known[] = {
	    "id",	"type",	      "ifname",	 "fd",	     "fds",
	    "script",	"downscript", "br",	 "helper",   "sndbuf",
	    "vnet_hdr", "vhost",      "vhostfd", "vhostfds", "vhostforce",
	    "queues",	"poll-us",    NULL,
	};
	unsigned nfds;

	memset(o, 0, sizeof(*o));
	o->queues = 1;
	if (!opts_check_keys(opts, known, errp) ||
	    !tap_refuse_vhost(opts, errp))
		return false;
	if (!opts_get_opt_str(opts, "ifname", &o->ifname, errp) ||
	    !opts_get_opt_str(opts, "fd", &o->fd, errp) ||
	    !opts_get_opt_str(opts, "fds", &o->fds, errp) ||
	    !opts_get_opt_str(opts, "script", &o->script, errp) ||
	    !opts_get_opt_str(opts, "downscript", &o->downscript, errp) ||
	    !opts_get_opt_str(opts, "br", &o->br, errp) ||
	    !opts_get_opt_str(opts, "helper", &o->helper, errp))
		return false;
	o->has_vnet_hdr = opts_has(opts, "vnet_hdr");
	o->has_sndbuf = opts_has(opts, "sndbuf");
	o->has_queues = opts_has(opts, "queues");
	if (!opts_get_bool(opts, "vnet_hdr", &o->vnet_hdr, errp) ||
	    !opts_get_size(opts, "sndbuf", &o->sndbuf, errp) ||
	    !opts_get_int(opts, "queues", 1, TAP_QUEUES_MAX, &o->queues,
			  errp) ||
	    !opts_get_int(opts, "poll-us", 0, UINT32_MAX, &o->poll_us, errp))
		return false;

	if (o->fd) {
		if (o->ifname || o->script || o->downscript ||
		    o->has_vnet_hdr || o->helper || o->has_queues || o->fds) {
			nh_error_setg(errp,
				      "ifname=, script=, downscript=, "
				      "vnet_hdr=, helper=, queues=, fds=, "
				      "and vhostfds= are invalid with fd=");
			return false;
		}
	} else if (o->fds) {
		if (o->ifname || o->script || o->downscript ||
		    o->has_vnet_hdr || o->helper || o->has_queues) {
			nh_error_setg(errp, "ifname=, script=, downscript=, "
					    "vnet_hdr=, helper=, queues=, and "
					    "vhostfd= are invalid with fds=");
			return false;
		}
		if (!tap_fds_count(o->fds, &nfds, errp))
			return false;
	} else if (o->helper) {
		if (o->ifname || o->script || o->downscript ||
		    o->has_vnet_hdr || o->has_queues) {
			nh_error_setg(errp, "ifname=, script=, downscript=, "
					    "vnet_hdr=, queues=, and vhostfds= "
					    "are invalid with helper=");
			return false;
		}
	}
	if (o->br && (o->fd || o->fds)) {
		nh_error_setg(errp,
			      "br= is invalid with %s=", o->fd ? "fd" : "fds");
		return false;
	}
	if (o->ifname && !tap_check_name("ifname", o->ifname, errp))
		return false;
	if (o->br && !tap_check_name("br", o->br, errp))
		return false;
	if (o->helper && !*o->helper) {
		nh_error_setg(errp, "Parameter 'helper' expects a program");
		return false;
	}
	return tap_check_programs(o, errp);
}

static bool tap_check(const json_t *opts, struct nh_error **errp)
{
	struct tap_opts o;

	return tap_parse_opts(opts, &o, errp);
}

/* bridge_parse_opts() - type bridge: br= and helper= only */
static bool bridge_parse_opts(const json_t *opts, struct tap_opts *o,
			      struct nh_error **errp)
{
	static const char *const known[] = {"id", "type", "br", "helper", NULL};

	memset(o, 0, sizeof(*o));
	o->queues = 1;
	o->bridge = true;
	if (!opts_check_keys(opts, known, errp) ||
	    !opts_get_opt_str(opts, "br", &o->br, errp) ||
	    !opts_get_opt_str(opts, "helper", &o->helper, errp))
		return false;
	if (!o->br)
		o->br = TAP_BRIDGE_DEFAULT;
	if (!tap_check_name("br", o->br, errp))
		return false;
	if (o->helper && !*o->helper) {
		nh_error_setg(errp, "Parameter 'helper' expects a program");
		return false;
	}
	return tap_check_programs(o, errp);
}

static bool bridge_check(const json_t *opts, struct nh_error **errp)
{
	struct tap_opts o;

	return bridge_parse_opts(opts, &o, errp);
}

/* -- opening -------------------------------------------------------------- */

/* tap_script_path() - the script to run: @given unless "no" or empty, else
 * QEMU's default when it exists and --allow-run was given (without it, it
 * is skipped with a log line, once); NULL for none */
static const char *tap_script_path(const char *given, const char *dflt)
{
	static bool told;

	if (given)
		return *given && strcmp(given, "no") ? given : NULL;
	if (access(dflt, F_OK))
		return NULL;
	if (sandbox_run_allowed())
		return dflt;
	if (!told)
		log_info("tap: not running the default script %s: running "
			 "programs is disabled (start nethubd with "
			 "--allow-run, or give script=no)",
			 dflt);
	told = true;
	return NULL;
}

static char *tap_strdup(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		abort();
	return d;
}

/**
 * tap_take_fd() - a tap opened elsewhere (fd=, fds=, helper): it must be a
 * tap (not a tun) without packet information; made ours, non-blocking
 * @what:	"fd=3", "fds=a:b", "bridge helper", for messages
 * @owned:	the descriptor is ours whatever happens (a getfd name, the
 *		helper's): closed on failure.  A numbered descriptor becomes
 *		ours once it is known to be a tap.
 * Return: 0 with *@vnet set (IFF_VNET_HDR), or -1 with errp.
 */
static int tap_take_fd(struct tap_state *s, unsigned qidx, int fd,
		       const char *what, bool owned, bool *vnet,
		       struct nh_error **errp)
{
	char name[IFNAMSIZ];
	unsigned flags;
	int r, fl;

	r = tapdev_query(fd, name, &flags);
	if (r < 0) {
		nh_error_setg(errp,
			      "%s: not a tap file descriptor (TUNGETIFF: "
			      "%s)",
			      what, strerror(-r));
		goto fail;
	}
	owned = true;
	if (!(flags & IFF_TAP)) {
		nh_error_setg(errp,
			      "%s: %s is a tun device (IP packets); a tap "
			      "is needed",
			      what, name);
		goto fail;
	}
	if (!(flags & IFF_NO_PI)) {
		nh_error_setg(errp, "%s: %s was opened without IFF_NO_PI", what,
			      name);
		goto fail;
	}
	if (qidx && strcmp(name, s->ifname)) {
		nh_error_setg(errp,
			      "%s: the descriptors belong to different "
			      "devices (%s, %s)",
			      what, s->ifname, name);
		goto fail;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		nh_error_setg(errp, "%s: Can't use file descriptor %d: %s",
			      what, fd, strerror(errno));
		goto fail;
	}
	memcpy(s->ifname, name, sizeof(s->ifname));
	*vnet = flags & IFF_VNET_HDR;
	s->q[qidx].fd = fd;
	return 0;
fail:
	if (owned)
		close(fd);
	return -1;
}

/* tap_open_fd() - fd=: one queue */
static bool tap_open_fd(struct tap_state *s, const char *value, bool *vnet,
			struct nh_error **errp)
{
	char what[64];
	int fd = fdname_take(value, "fd", errp);

	if (fd < 0)
		return false;
	snprintf(what, sizeof(what), "fd=%s", value);
	return tap_take_fd(s, 0, fd, what, value[0] < '0' || value[0] > '9',
			   vnet, errp) == 0;
}

/* tap_open_fds() - fds=A:B:...: one queue each, all of one device, all
 * with or all without virtio-net headers */
static bool tap_open_fds(struct tap_state *s, const char *list, bool *vnet,
			 struct nh_error **errp)
{
	const char *p = list;

	for (unsigned i = 0; i < s->nq; i++) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char value[128], what[160];
		bool v;
		int fd;

		if (len >= sizeof(value)) {
			nh_error_setg(errp, "fds=: '%.*s...' is too long", 16,
				      p);
			return false;
		}
		memcpy(value, p, len);
		value[len] = '\0';
		p += len + 1;
		snprintf(what, sizeof(what), "fds=%s", value);
		fd = fdname_take(value, "fds", errp);
		if (fd < 0)
			return false;
		for (unsigned j = 0; j < i; j++) {
			if (s->q[j].fd == fd) {
				nh_error_setg(
				    errp, "%s: descriptor %d is given twice",
				    what, fd);
				return false; /* q[j] closes it */
			}
		}
		if (tap_take_fd(s, i, fd, what,
				value[0] < '0' || value[0] > '9', &v, errp) < 0)
			return false;
		if (i && v != *vnet) {
			nh_error_setg(
			    errp, "vnet_hdr not consistent across given tap "
				  "fds");
			return false;
		}
		*vnet = v;
	}
	return true;
}

/**
 * tap_open_ifname() - create or attach: one file per queue, the first one
 * naming the device for the others.  The bridge, if any, must exist before
 * anything is made.
 */
static bool tap_open_ifname(struct tap_state *s, const struct tap_opts *o,
			    bool *vnet, struct nh_error **errp)
{
	unsigned features = tapdev_features(), flags = 0;

	if (o->has_vnet_hdr && o->vnet_hdr && features &&
	    !(features & IFF_VNET_HDR)) {
		nh_error_setg(errp,
			      "vnet_hdr=1 requested, but no kernel support "
			      "for IFF_VNET_HDR available");
		return false;
	}
	if (s->nq > 1 && features && !(features & IFF_MULTI_QUEUE)) {
		nh_error_setg(errp,
			      "multiqueue required, but no kernel support "
			      "for IFF_MULTI_QUEUE available");
		return false;
	}
	if (o->br && !tapdev_bridge_exists(o->br, errp))
		return false;
	if (o->bridge && !tapdev_may_admin()) {
		nh_error_setg(errp,
			      "joining bridge '%s' needs CAP_NET_ADMIN, i.e. "
			      "root; without it, QEMU's setuid bridge helper "
			      "can do it: helper=/usr/lib/qemu/qemu-bridge-helper"
			      " (with --allow-run, and 'allow %s' in "
			      "/etc/qemu/bridge.conf)",
			      o->br, o->br);
		return false;
	}
	*vnet = o->has_vnet_hdr ? o->vnet_hdr : (features & IFF_VNET_HDR) != 0;
	if (*vnet)
		flags |= IFF_VNET_HDR;
	if (s->nq > 1)
		flags |= IFF_MULTI_QUEUE;
	for (unsigned i = 0; i < s->nq; i++) {
		char name[IFNAMSIZ];
		int fd =
		    tapdev_open(i ? s->ifname : o->ifname, flags, name, errp);

		if (fd < 0)
			return false;
		s->q[i].fd = fd;
		if (!i)
			memcpy(s->ifname, name, sizeof(s->ifname));
	}
	return true;
}

/* tap_configure() - vnet header and offloads, send buffer, on each queue */
static bool tap_configure(struct tap_state *s, const struct tap_opts *o,
			  bool vnet, struct nh_error **errp)
{
	uint64_t sb = o->has_sndbuf ? o->sndbuf : INT_MAX;

	/* QEMU's rule: 0 and anything above INT_MAX mean "no limit" */
	s->sndbuf = sb && sb <= INT_MAX ? (int)sb : INT_MAX;
	for (unsigned i = 0; i < s->nq; i++) {
		int fd = s->q[i].fd;
		struct nh_error *err = NULL;

		if (vnet &&
		    !tapdev_set_vnet(fd, &s->vnet_hlen, &s->offloads, errp))
			return false;
		if (!tapdev_set_sndbuf(fd, s->sndbuf, &err)) {
			if (o->has_sndbuf) {
				*errp = err;
				return false;
			}
			nh_error_free(err);
		}
	}
	return true;
}

/* tap_start() - channels, the port, the timers: the tap goes live */
static bool tap_start(struct tap_state *s, struct nh_error **errp)
{
	struct io_chan_cfg cfg;
	int r;

	for (unsigned i = 0; i < s->nq; i++) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.kind = IO_CHAN_DGRAM;
		cfg.flags = IO_CHAN_F_RW;
		cfg.max_msg = s->vnet_hlen + FRAME_MAX_LEN;
		cfg.on_recv = tap_on_recv;
		cfg.on_error = tap_on_error;
		cfg.on_tx_drop = tap_on_tx_drop;
		cfg.on_tx_drain = tap_on_tx_drain;
		cfg.tx_header = s->vnet_hlen ? tap_tx_header : NULL;
		cfg.opaque = &s->q[i];
		s->q[i].chan = io_chan_open(s->q[i].fd, &cfg, errp);
		if (!s->q[i].chan)
			return false; /* the fd is still q's: closed by teardown
				       */
		s->refs++;	      /* dropped by tap_chan_done() */
	}

	s->port = port_new(s->nd, NULL, s);
	if (!s->port) {
		nh_error_setg(errp, "netdev %s: out of memory", s->id);
		return false;
	}
	if (s->vnet_hlen)
		s->port->gso_caps = s->offloads & TAPDEV_F_USO4
					? GSO_CAP_ALL
					: GSO_CAP_ALL & ~GSO_CAP_USO;
	s->port->mtu = TAP_MTU_UNKNOWN;
	tap_mtu_update(s, true);
	s->carrier = true;
	(void)tapdev_set_carrier(s->q[0].fd, true); /* a previous owner's */

	uv_timer_init(s->nd->loop, &s->mtu_timer);
	s->mtu_timer.data = s;
	s->timer_init = true;
	s->refs++;
	uv_unref((uv_handle_t *)&s->mtu_timer);
	r = uv_timer_start(&s->mtu_timer, tap_on_mtu_timer, TAP_MTU_POLL_MS,
			   TAP_MTU_POLL_MS);
	if (r < 0)
		log_warn("netdev %s: MTU changes of %s go unnoticed: %s", s->id,
			 s->ifname, uv_strerror(r));
	if (s->poll_us) {
		uv_idle_init(s->nd->loop, &s->busy);
		s->busy.data = s;
		s->busy_init = true;
		s->refs++;
	}
	return true;
}

/**
 * tap_open_common() - open a tap or bridge netdev from its checked options
 *
 * Order: the device (and, for ifname=, its up script), its configuration,
 * the bridge, then the port.  A failure anywhere releases everything made
 * so far: fds, channels, the port.  The up script's work is not undone
 * (QEMU does not run the downscript for a netdev that failed either).
 */
static bool tap_open_common(struct netdev *nd, const struct tap_opts *o,
			    struct nh_error **errp)
{
	struct tap_state *s = calloc(1, sizeof(*s));
	const char *script = NULL, *downscript = NULL;
	bool vnet = false, ok;
	unsigned nq = 1;

	if (!s) {
		nh_error_setg(errp, "netdev %s: out of memory", nd->id);
		return false;
	}
	s->refs = 1;
	s->nd = nd;
	snprintf(s->id, sizeof(s->id), "%s", nd->id);
	tapdev_ns_init(&s->ns);
	s->poll_us = (uint32_t)o->poll_us;
	if (o->fds && !tap_fds_count(o->fds, &nq, errp)) {
		free(s);
		return false;
	}
	if (!o->fds)
		nq = (unsigned)o->queues;
	s->q = calloc(nq, sizeof(*s->q));
	if (!s->q) {
		free(s);
		nh_error_setg(errp, "netdev %s: out of memory", nd->id);
		return false;
	}
	s->nq = nq;
	for (unsigned i = 0; i < nq; i++) {
		s->q[i].s = s;
		s->q[i].fd = -1;
	}

	if (o->fd) {
		s->mode = TAP_MODE_FD;
		ok = tap_open_fd(s, o->fd, &vnet, errp);
	} else if (o->fds) {
		s->mode = TAP_MODE_FDS;
		ok = tap_open_fds(s, o->fds, &vnet, errp);
	} else if (o->helper) {
		const char *br = o->br ? o->br : TAP_BRIDGE_DEFAULT;
		int fd = tapdev_run_helper(o->helper, br, errp);

		s->mode = TAP_MODE_HELPER;
		s->helper = tap_strdup(o->helper);
		s->br = tap_strdup(br);
		ok = fd >= 0 && tap_take_fd(s, 0, fd, "bridge helper", true,
					    &vnet, errp) == 0;
	} else {
		s->mode = o->bridge ? TAP_MODE_BRIDGE : TAP_MODE_IFNAME;
		s->br = tap_strdup(o->br);
		if (!o->bridge) {
			script = tap_script_path(o->script, TAP_SCRIPT_DEFAULT);
			downscript = tap_script_path(o->downscript,
						     TAP_DOWNSCRIPT_DEFAULT);
		}
		ok = tap_open_ifname(s, o, &vnet, errp);
	}
	ok = ok && tap_configure(s, o, vnet, errp);
	if (ok && script) {
		s->script = tap_strdup(script);
		ok = tapdev_run_script(script, s->ifname, s->q[0].fd, errp);
	}
	if (ok && s->br && s->mode != TAP_MODE_HELPER)
		ok = tapdev_bridge_attach(s->br, s->ifname, errp);
	ok = ok && tap_start(s, errp);
	if (!ok) {
		tap_teardown(s);
		return false;
	}
	s->downscript = tap_strdup(downscript);
	nd->priv = s;
	log_info("netdev %s: tap %s (%s, %u queue%s, %s)", s->id, s->ifname,
		 tap_mode_names[s->mode], s->nq, s->nq == 1 ? "" : "s",
		 s->vnet_hlen ? "offloads on" : "no vnet header");
	return true;
}

static bool tap_open(struct netdev *nd, const json_t *opts,
		     struct nh_error **errp)
{
	struct tap_opts o;

	return tap_parse_opts(opts, &o, errp) && tap_open_common(nd, &o, errp);
}

static bool bridge_open(struct netdev *nd, const json_t *opts,
			struct nh_error **errp)
{
	struct tap_opts o;

	return bridge_parse_opts(opts, &o, errp) &&
	       tap_open_common(nd, &o, errp);
}

/* tap_close() - the downscript first, while the device still exists (the
 * fd keeps it), then everything else */
static void tap_close(struct netdev *nd)
{
	struct tap_state *s = nd->priv;
	struct nh_error *err = NULL;

	nd->priv = NULL;
	if (!s)
		return;
	if (s->downscript &&
	    !tapdev_run_script(s->downscript, s->ifname, s->q[0].fd, &err)) {
		log_warn("netdev %s: %s", s->id, err ? err->msg : "?");
		nh_error_free(err);
	}
	tap_teardown(s);
}

/* -- queries --------------------------------------------------------------- */

static void tap_info(const struct netdev *nd, json_t *obj)
{
	static const struct {
		unsigned bit;
		const char *name;
	} offs[] = {
	    {TAPDEV_F_CSUM, "csum"}, {TAPDEV_F_TSO4, "tso4"},
	    {TAPDEV_F_TSO6, "tso6"}, {TAPDEV_F_TSO_ECN, "tso-ecn"},
	    {TAPDEV_F_UFO, "ufo"},   {TAPDEV_F_USO4, "uso4"},
	    {TAPDEV_F_USO6, "uso6"},
	};
	const struct tap_state *s = nd->priv;
	json_t *list;

	if (!s)
		return;
	json_object_set_new(obj, "ifname", json_string(s->ifname));
	json_object_set_new(obj, "mode", json_string(tap_mode_names[s->mode]));
	json_object_set_new(obj, "queues", json_integer(s->nq));
	json_object_set_new(obj, "vnet-hdr", json_integer(s->vnet_hlen));
	list = json_array();
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		if (s->offloads & offs[i].bit)
			json_array_append_new(list, json_string(offs[i].name));
	json_object_set_new(obj, "offloads", list);
	json_object_set_new(obj, "sndbuf", json_integer(s->sndbuf));
	json_object_set_new(obj, "poll-us", json_integer(s->poll_us));
	json_object_set_new(obj, "carrier", json_boolean(s->carrier));
	json_object_set_new(obj, "gone", json_boolean(s->gone));
	if (s->script)
		json_object_set_new(obj, "script", json_string(s->script));
	if (s->downscript)
		json_object_set_new(obj, "downscript",
				    json_string(s->downscript));
	if (s->helper)
		json_object_set_new(obj, "helper", json_string(s->helper));
	if (s->br)
		json_object_set_new(obj, "br", json_string(s->br));
	json_object_set_new(obj, "rx-gso-frames",
			    json_integer((json_int_t)s->rx_gso));
	json_object_set_new(obj, "rx-csum-frames",
			    json_integer((json_int_t)s->rx_csum));
	json_object_set_new(obj, "tx-lost",
			    json_integer((json_int_t)s->tx_lost));
	list = json_array();
	for (unsigned i = 0; i < s->nq; i++) {
		struct io_chan_stats st;

		if (!s->q[i].chan)
			continue;
		io_chan_get_stats(s->q[i].chan, &st);
		json_array_append_new(list, json_pack("{sI sI}", "rx-frames",
						      (json_int_t)st.rx_msgs,
						      "tx-frames",
						      (json_int_t)st.tx_msgs));
	}
	json_object_set_new(obj, "queue-stats", list);
}

const struct backend_ops tap_backend = {
    .type = "tap",
    .check = tap_check,
    .open = tap_open,
    .close = tap_close,
    .send = tap_send,
    .rx_pause = tap_rx_pause,
    .set_link = tap_set_link,
    .info = tap_info,
};

const struct backend_ops bridge_backend = {
    .type = "bridge",
    .check = bridge_check,
    .open = bridge_open,
    .close = tap_close,
    .send = tap_send,
    .rx_pause = tap_rx_pause,
    .set_link = tap_set_link,
    .info = tap_info,
};
