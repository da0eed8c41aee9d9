// SPDX-License-Identifier: MIT
/* pcap.c - the "pcap" netdev (nethub extension): a host interface joined
 * through libpcap, or a capture file replayed into the switch
 *
 *   ifname=IFACE[,promisc=on|off][,filter=EXPR]
 *       live: libpcap captures what arrives on IFACE (immediate mode,
 *       inbound only, so frames nethub injects are not read back; promisc
 *       on by default; an optional BPF filter run by the kernel) and the
 *       frames the switch sends are injected on the same packet socket,
 *       a burst per sendmmsg().  The port's MTU is the interface's.
 *   file=F.pcap[,rate=FPS][,loop=on|off][,filter=EXPR]
 *       replay: F's frames enter the switch as if received, with the
 *       capture's own timing, at FPS frames a second, or (rate=0) as fast
 *       as the switch takes them, a few bursts per turn of the loop.  With
 *       loop=on the file starts over at its end.  A replay that finished
 *       keeps its port.  Frames sent to a replay port have nothing behind
 *       them: they are counted as tx drops (no-peer).
 *
 * Owns: the pcap handle, the compiled filter, the capture file's
 * descriptor, a poll handle (live), a timer and an idle handle (replay), an
 * idle handle that books send losses after send() returned.  The state
 * outlives close() until the last handle callback has run.
 *
 * Must never: log or allocate per frame, block the loop (reading a file
 * included: a turn reads a bounded number of records), or touch the
 * struct netdev after close() returned.
 */

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#include "backend.h"
#include "frame.h"
#include "log.h"
#include "netdev.h"
#include "opts.h"
#include "port.h"
#include "tapdev.h"
#include "userfile.h"

#define PCAPND_RATE_MAX	     UINT32_MAX /* frames per second */
#define PCAPND_LIVE_ROUNDS   4 /* pcap_dispatch() bursts per readiness */
#define PCAPND_REPLAY_BURSTS 4 /* replayed bursts per turn of the loop */
#define PCAPND_REPLAY_SCAN_MAX                                                 \
	(4 * FRAME_BURST_MAX) /* records looked at                             \
			       * for one frame */
#define NS_PER_S  1000000000ull
#define NS_PER_MS 1000000ull

enum pcapnd_mode {
	PCAPND_MODE_LIVE,
	PCAPND_MODE_REPLAY,
};

/* The options of a pcap netdev (strings borrowed from the object) */
struct pcapnd_opts {
	const char *ifname, *file, *filter;
	bool promisc, loop;
	bool has_rate;
	int64_t rate;
};

/* The backend's state for one netdev (nd->priv) */
struct pcapnd_state {
	char id[NETDEV_ID_MAX]; /* for messages after close */
	struct netdev *nd;	/* NULL once closed */
	struct port *port;
	unsigned refs; /* open + each initialised handle */
	enum pcapnd_mode mode;
	char *ifname, *file, *filter;
	bool promisc;
	pcap_t *pc;
	struct bpf_program prog;
	bool has_prog;
	char *error; /* why live capture or replay stopped, or NULL */

	/* live */
	uv_poll_t poll;
	bool poll_init, polling;
	bool rx_paused;
	unsigned if_mtu;
	struct frame *rx[FRAME_BURST_MAX]; /* burst being built */
	unsigned nrx;

	/* replay */
	int fd; /* the capture file, kept for loops */
	bool has_rate, loop;
	uint64_t rate;
	uv_timer_t timer;
	uv_idle_t idle;
	bool timer_init, idle_init;
	bool link_paused, flow_paused, finished;
	uint64_t paused_at; /* uv_hrtime() when paused */
	uint64_t t0;	    /* uv_hrtime() the schedule counts from */
	uint64_t ts0;	    /* capture time (ns) at t0, timed mode */
	bool ts0_set;
	uint64_t sched; /* frames scheduled since t0, rate mode */
	uint64_t last_due;
	struct frame *pending; /* next frame, not due yet */
	uint64_t pending_due;
	uint64_t pass_frames; /* frames of this pass */
	uint64_t replayed, loops, skipped;
	bool read_warned; /* a bad record was reported (once) */

	/* send losses booked after send() returned (the hub counts what
	 * send() took as sent once it returns) */
	uv_idle_t fix;
	bool fix_init;
	uint64_t tx_lost[PORT_DROP__COUNT];
};

/* -- state --------------------------------------------------------------- */

static void pcapnd_unref(struct pcapnd_state *s)
{
	if (--s->refs)
		return;
	if (s->port)
		port_free(s->port);
	if (s->pending)
		frame_unref(s->pending);
	frame_unref_many(s->rx, s->nrx);
	if (s->has_prog)
		pcap_freecode(&s->prog);
	if (s->pc)
		pcap_close(s->pc);
	if (s->fd >= 0)
		close(s->fd);
	free(s->ifname);
	free(s->file);
	free(s->filter);
	free(s->error);
	free(s);
}

static void pcapnd_on_handle_closed(uv_handle_t *h)
{
	pcapnd_unref(h->data);
}

static void pcapnd_close_handle(uv_handle_t *h, bool *init)
{
	if (!*init)
		return;
	*init = false;
	uv_close(h, pcapnd_on_handle_closed);
}

/* pcapnd_teardown() - detach the port now, close every handle; the memory
 * (and the pcap handle, whose fd the poll handle watches) goes once the
 * last close callback has run */
static void pcapnd_teardown(struct pcapnd_state *s)
{
	s->nd = NULL;
	if (s->port)
		port_detach(s->port);
	pcapnd_close_handle((uv_handle_t *)&s->poll, &s->poll_init);
	pcapnd_close_handle((uv_handle_t *)&s->timer, &s->timer_init);
	pcapnd_close_handle((uv_handle_t *)&s->idle, &s->idle_init);
	pcapnd_close_handle((uv_handle_t *)&s->fix, &s->fix_init);
	pcapnd_unref(s);
}

static char *pcapnd_strdup(const char *v)
{
	char *d;

	if (!v)
		return NULL;
	d = strdup(v);
	if (!d)
		abort();
	return d;
}

/* pcapnd_stop_with() - live capture or replay stopped for good: say why once */
static void pcapnd_stop_with(struct pcapnd_state *s, const char *why)
{
	if (!s->error) {
		s->error = pcapnd_strdup(why);
		log_warn("netdev %s: %s; it stops", s->id, why);
	}
}

/* -- send losses ---------------------------------------------------------- */

static void pcapnd_on_fix(uv_idle_t *h)
{
	struct pcapnd_state *s = h->data;

	uv_idle_stop(h);
	for (unsigned i = 0; i < PORT_DROP__COUNT; i++) {
		if (s->tx_lost[i] && s->port)
			port_count_tx_drop(s->port, (enum port_drop)i,
					   (unsigned)s->tx_lost[i]);
		s->tx_lost[i] = 0;
	}
}

/* pcapnd_tx_lost() - @n frames send() took were lost for @why; booked on the
 * next turn of the loop, when the hub has counted them as sent */
static void pcapnd_tx_lost(struct pcapnd_state *s, enum port_drop why,
			   unsigned n)
{
	if (!n)
		return;
	s->tx_lost[why] += n;
	if (s->fix_init && !uv_is_active((uv_handle_t *)&s->fix))
		uv_idle_start(&s->fix, pcapnd_on_fix);
}

/* -- live: receiving ------------------------------------------------------ */

static void pcapnd_rx_flush(struct pcapnd_state *s)
{
	unsigned n = s->nrx;

	s->nrx = 0;
	if (n)
		port_input(s->port, s->rx, n);
}

/* pcapnd_on_packet() - one captured frame into the burst being built */
static void pcapnd_on_packet(u_char *user, const struct pcap_pkthdr *h,
			     const u_char *data)
{
	struct pcapnd_state *s = (struct pcapnd_state *)user;
	struct frame *f;

	if (h->caplen < h->len || h->caplen > FRAME_MAX_LEN) {
		port_count_rx_drop(s->port, PORT_DROP_OVERSIZE, 1, h->len);
		return;
	}
	if (h->caplen < FRAME_MIN_LEN) {
		port_count_rx_drop(s->port, PORT_DROP_MALFORMED, 1, h->caplen);
		return;
	}
	f = frame_alloc_copy(data, h->caplen);
	if (!f) {
		port_count_rx_drop(s->port, PORT_DROP_NO_BUFFER, 1, h->caplen);
		return;
	}
	s->rx[s->nrx++] = f;
	if (s->nrx == FRAME_BURST_MAX)
		pcapnd_rx_flush(s);
}

static void pcapnd_live_stop(struct pcapnd_state *s)
{
	if (s->polling)
		uv_poll_stop(&s->poll);
	s->polling = false;
}

static void pcapnd_on_readable(uv_poll_t *h, int status, int events)
{
	struct pcapnd_state *s = h->data;
	char why[PCAP_ERRBUF_SIZE + 64];

	(void)events;
	if (!s->nd || !s->port)
		return;
	if (status < 0) {
		snprintf(why, sizeof(why), "capture on %s failed: %s",
			 s->ifname, uv_strerror(status));
		pcapnd_live_stop(s);
		pcapnd_stop_with(s, why);
		return;
	}
	for (unsigned round = 0; round < PCAPND_LIVE_ROUNDS; round++) {
		int r = pcap_dispatch(s->pc, FRAME_BURST_MAX, pcapnd_on_packet,
				      (u_char *)s);

		pcapnd_rx_flush(s);
		if (r < 0) {
			snprintf(why, sizeof(why), "capture on %s failed: %s",
				 s->ifname, pcap_geterr(s->pc));
			pcapnd_live_stop(s);
			pcapnd_stop_with(s, why);
			return;
		}
		if (r < FRAME_BURST_MAX || !s->polling)
			return;
	}
}

static void pcapnd_live_start(struct pcapnd_state *s)
{
	if (s->polling || !s->poll_init || s->error || s->rx_paused)
		return;
	if (uv_poll_start(&s->poll, UV_READABLE, pcapnd_on_readable) == 0)
		s->polling = true;
}

/* -- live: sending -------------------------------------------------------- */

static enum port_drop pcapnd_send_reason(int err)
{
	switch (err) {
	case EAGAIN:
	case ENOBUFS:
		return PORT_DROP_QUEUE_FULL;
	case ENETDOWN:
	case ENXIO:
	case ENODEV:
		return PORT_DROP_LINK_DOWN;
	case EMSGSIZE:
		return PORT_DROP_OVERSIZE;
	default:
		return PORT_DROP_ERROR;
	}
}

/**
 * pcapnd_live_send() - inject a burst on libpcap's packet socket: one
 * sendmmsg() per burst (libpcap's pcap_inject() is a send() on the same
 * socket).  Frames longer than the interface takes, and those the kernel
 * refuses, are taken and booked as lost.
 */
static unsigned pcapnd_live_send(struct pcapnd_state *s,
				 struct frame *const *frames, unsigned n)
{
	struct mmsghdr msgs[FRAME_BURST_MAX];
	struct iovec iov[FRAME_BURST_MAX];
	unsigned k = 0, done = 0;
	int fd = pcap_get_selectable_fd(s->pc);

	for (unsigned i = 0; i < n; i++) {
		const struct frame *f = frames[i];
		uint32_t max = s->if_mtu + FRAME_ETH_HLEN;

		if (frame_ethertype(f) == 0x8100)
			max += FRAME_VLAN_HLEN;
		if (f->len > max) {
			pcapnd_tx_lost(s, PORT_DROP_OVERSIZE, 1);
			continue;
		}
		iov[k].iov_base = f->data;
		iov[k].iov_len = f->len;
		memset(&msgs[k], 0, sizeof(msgs[k]));
		msgs[k].msg_hdr.msg_iov = &iov[k];
		msgs[k].msg_hdr.msg_iovlen = 1;
		k++;
	}
	while (done < k) {
		int r = sendmmsg(fd, msgs + done, k - done, MSG_DONTWAIT);

		if (r > 0) {
			done += (unsigned)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			/* the device queue is full: the rest would be too */
			pcapnd_tx_lost(s, PORT_DROP_QUEUE_FULL, k - done);
			break;
		}
		/* the first frame is refused: count it, go on after it */
		pcapnd_tx_lost(s, pcapnd_send_reason(r < 0 ? errno : EIO), 1);
		done++;
	}
	frame_unref_many(frames, n);
	return n;
}

/* -- replay ---------------------------------------------------------------- */

/* pcapnd_is_ethernet() - @pc's link type is Ethernet; else an error naming
 * the option @key=@value and the link type libpcap found */
static bool pcapnd_is_ethernet(pcap_t *pc, const char *key, const char *value,
			       struct nh_error **errp)
{
	int dlt = pcap_datalink(pc);
	const char *name = pcap_datalink_val_to_name(dlt);
	const char *desc = pcap_datalink_val_to_description(dlt);

	if (dlt == DLT_EN10MB)
		return true;
	nh_error_setg(errp, "%s=%s: link type %s (%s) is not Ethernet", key,
		      value, name ? name : "?", desc ? desc : "unknown");
	return false;
}

/* pcapnd_replay_pass() - (re)open the capture at its start on a duplicate of
 * the file's descriptor (the file may be gone from the directory by now) */
static bool pcapnd_replay_pass(struct pcapnd_state *s, struct nh_error **errp)
{
	char eb[PCAP_ERRBUF_SIZE] = "";
	FILE *fp;
	int fd;

	if (s->pc) {
		pcap_close(s->pc);
		s->pc = NULL;
	}
	fd = dup(s->fd);
	if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0 || !(fp = fdopen(fd, "rb"))) {
		nh_error_setg(errp, "file=%s: cannot read: %s", s->file,
			      strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	s->pc = pcap_fopen_offline_with_tstamp_precision(
	    fp, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!s->pc) {
		fclose(fp);
		nh_error_setg(errp,
			      "file=%s: not a capture file libpcap reads: "
			      "%s",
			      s->file, eb);
		return false;
	}
	if (!pcapnd_is_ethernet(s->pc, "file", s->file, errp))
		return false;
	s->pass_frames = 0;
	s->ts0_set = false;
	return true;
}

/* pcapnd_replay_due() - when the frame captured at @ts (ns) is due */
static uint64_t pcapnd_replay_due(struct pcapnd_state *s, uint64_t ts)
{
	uint64_t due;

	if (s->has_rate && !s->rate)
		return 0;
	if (s->has_rate) {
		uint64_t n = s->sched++;

		due = s->t0 + n / s->rate * NS_PER_S +
		      n % s->rate * NS_PER_S / s->rate;
	} else {
		if (!s->ts0_set) {
			/* each pass keeps its own timing, from now on */
			s->ts0_set = true;
			s->ts0 = ts;
			s->t0 = uv_hrtime();
			if (s->t0 < s->last_due)
				s->t0 = s->last_due;
		}
		due = s->t0 + (ts > s->ts0 ? ts - s->ts0 : 0);
	}
	if (due < s->last_due)
		due = s->last_due; /* timestamps that go back: at once */
	s->last_due = due;
	return due;
}

enum pcapnd_fetch {
	PCAPND_FETCH_GOT,   /* s->pending holds the next frame */
	PCAPND_FETCH_LATER, /* looked at enough records for this turn */
	PCAPND_FETCH_END,   /* the replay finished */
};

/* pcapnd_replay_next_pass() - the end of a pass: over again, or finished */
static bool pcapnd_replay_next_pass(struct pcapnd_state *s)
{
	struct nh_error *err = NULL;
	bool empty = !s->pass_frames;

	s->loops++;
	if (!s->loop)
		return false;
	if (empty) {
		pcapnd_stop_with(s, "a whole pass of the file gave no frame");
		return false;
	}
	if (!pcapnd_replay_pass(s, &err)) {
		pcapnd_stop_with(s,
				 err ? err->msg : "cannot read the file again");
		nh_error_free(err);
		return false;
	}
	return true;
}

/* pcapnd_replay_fetch() - read records until one is a frame for the switch */
static enum pcapnd_fetch pcapnd_replay_fetch(struct pcapnd_state *s)
{
	for (unsigned scan = 0; scan < PCAPND_REPLAY_SCAN_MAX; scan++) {
		struct pcap_pkthdr *h;
		const u_char *data;
		struct frame *f;
		int r = pcap_next_ex(s->pc, &h, &data);

		if (r == PCAP_ERROR_BREAK) {
			if (!pcapnd_replay_next_pass(s))
				return PCAPND_FETCH_END;
			continue;
		}
		if (r != 1) {
			char why[PCAP_ERRBUF_SIZE + 64];

			/* a truncated last record is the usual case */
			if (!s->read_warned) {
				s->read_warned = true;
				snprintf(why, sizeof(why), "file=%s: %s",
					 s->file, pcap_geterr(s->pc));
				log_warn("netdev %s: %s", s->id, why);
			}
			if (!pcapnd_replay_next_pass(s))
				return PCAPND_FETCH_END;
			continue;
		}
		if (s->has_prog && !pcap_offline_filter(&s->prog, h, data)) {
			s->skipped++;
			continue;
		}
		s->pass_frames++;
		if (h->caplen > FRAME_MAX_LEN) {
			port_count_rx_drop(s->port, PORT_DROP_OVERSIZE, 1,
					   h->caplen);
			continue;
		}
		if (h->caplen < h->len || h->caplen < FRAME_MIN_LEN) {
			/* cut short by the capture's snap length */
			port_count_rx_drop(s->port, PORT_DROP_MALFORMED, 1,
					   h->caplen);
			continue;
		}
		f = frame_alloc_copy(data, h->caplen);
		if (!f) {
			port_count_rx_drop(s->port, PORT_DROP_NO_BUFFER, 1,
					   h->caplen);
			continue;
		}
		s->pending = f;
		s->pending_due =
		    pcapnd_replay_due(s, (uint64_t)h->ts.tv_sec * NS_PER_S +
					     (uint64_t)h->ts.tv_usec);
		return PCAPND_FETCH_GOT;
	}
	return PCAPND_FETCH_LATER;
}

static bool pcapnd_replay_paused(const struct pcapnd_state *s)
{
	return s->link_paused || s->flow_paused;
}

static void pcapnd_replay_schedule(struct pcapnd_state *s, bool more);

/**
 * pcapnd_replay_run() - hand the switch what is due, a few bursts at most,
 * then yield: the idle handle brings us back on the next turn of the loop
 * when more is due already, the timer when the next frame is
 */
static void pcapnd_replay_run(struct pcapnd_state *s)
{
	struct frame *burst[FRAME_BURST_MAX];
	uint64_t now = uv_hrtime();
	enum pcapnd_fetch r = PCAPND_FETCH_GOT;

	for (unsigned b = 0; b < PCAPND_REPLAY_BURSTS; b++) {
		unsigned nb = 0;

		while (nb < FRAME_BURST_MAX) {
			if (!s->pending) {
				r = pcapnd_replay_fetch(s);
				if (r != PCAPND_FETCH_GOT)
					break;
			}
			if (s->pending_due > now)
				break;
			burst[nb++] = s->pending;
			s->pending = NULL;
		}
		s->replayed += nb;
		if (nb)
			port_input(s->port, burst, nb);
		if (!s->nd || pcapnd_replay_paused(s) ||
		    r == PCAPND_FETCH_END || nb < FRAME_BURST_MAX)
			break;
	}
	if (r == PCAPND_FETCH_END && !s->pending) {
		s->finished = true;
		log_info("netdev %s: replay of %s finished: %llu frames, "
			 "%llu passes",
			 s->id, s->file, (unsigned long long)s->replayed,
			 (unsigned long long)s->loops);
	}
	pcapnd_replay_schedule(s, r == PCAPND_FETCH_LATER || !s->pending ||
				      s->pending_due <= now);
}

static void pcapnd_on_timer(uv_timer_t *t)
{
	pcapnd_replay_run(t->data);
}

static void pcapnd_on_idle(uv_idle_t *h)
{
	pcapnd_replay_run(h->data);
}

/* pcapnd_replay_schedule() - when to run next: at once (@more), when the
 * pending frame is due, or never (finished, paused, closed) */
static void pcapnd_replay_schedule(struct pcapnd_state *s, bool more)
{
	uint64_t now, wait_ms;

	if (!s->nd || s->finished || pcapnd_replay_paused(s) || s->error) {
		if (s->idle_init)
			uv_idle_stop(&s->idle);
		if (s->timer_init)
			uv_timer_stop(&s->timer);
		return;
	}
	if (more) {
		uv_timer_stop(&s->timer);
		uv_idle_start(&s->idle, pcapnd_on_idle);
		return;
	}
	uv_idle_stop(&s->idle);
	now = uv_hrtime();
	wait_ms = s->pending_due > now
		      ? (s->pending_due - now + NS_PER_MS - 1) / NS_PER_MS
		      : 0;
	uv_timer_start(&s->timer, pcapnd_on_timer, wait_ms, 0);
}

/* pcapnd_replay_pause() - stop (@pause) or go on; the schedule moves by the
 * time spent paused, so the capture's timing and the rate hold */
static void pcapnd_replay_pause(struct pcapnd_state *s, bool *flag, bool pause)
{
	bool was = pcapnd_replay_paused(s);

	*flag = pause;
	if (was == pcapnd_replay_paused(s))
		return;
	if (!was) {
		s->paused_at = uv_hrtime();
	} else {
		uint64_t d = uv_hrtime() - s->paused_at;

		s->t0 += d;
		s->last_due += d;
		if (s->pending && s->pending_due)
			s->pending_due += d;
	}
	pcapnd_replay_schedule(s, true);
}

/* -- ops: the data path --------------------------------------------------- */

static unsigned pcapnd_send(struct port *p, struct frame *const *frames,
			    unsigned n)
{
	struct pcapnd_state *s = p->priv;

	if (!s || !s->nd)
		return 0;
	if (s->mode == PCAPND_MODE_LIVE && !s->error)
		return pcapnd_live_send(s, frames, n);
	/* a replay has nothing behind it; a failed capture neither */
	pcapnd_tx_lost(s, PORT_DROP_NO_PEER, n);
	frame_unref_many(frames, n);
	return n;
}

static void pcapnd_rx_pause(struct port *p, bool pause)
{
	struct pcapnd_state *s = p->priv;

	if (!s || !s->nd)
		return;
	if (s->mode == PCAPND_MODE_REPLAY) {
		pcapnd_replay_pause(s, &s->flow_paused, pause);
		return;
	}
	s->rx_paused = pause;
	if (pause)
		pcapnd_live_stop(s);
	else
		pcapnd_live_start(s);
}

/* pcapnd_set_link() - a replay waits while its link is down; a live port
 * leaves the host interface alone (its carrier is not nethub's to set):
 * what it captures meanwhile is counted as link-down by the switch */
static void pcapnd_set_link(struct port *p, bool up)
{
	struct pcapnd_state *s = p->priv;

	if (!s || !s->nd || s->mode != PCAPND_MODE_REPLAY)
		return;
	pcapnd_replay_pause(s, &s->link_paused, !up);
}

/* -- options --------------------------------------------------------------- */

/* pcapnd_check_filter() - compile @expr for Ethernet frames, on a handle
 * that captures nothing, into @prog (when given) */
static bool pcapnd_check_filter(const char *expr, struct bpf_program *prog,
				struct nh_error **errp)
{
	struct bpf_program tmp;
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, FRAME_MAX_LEN);
	bool ok;

	if (!dead) {
		nh_error_setg(errp, "filter=%s: out of memory", expr);
		return false;
	}
	ok = pcap_compile(dead, prog ? prog : &tmp, expr, 1,
			  PCAP_NETMASK_UNKNOWN) == 0;
	if (!ok)
		nh_error_setg(errp, "filter=%s: %s", expr, pcap_geterr(dead));
	else if (!prog)
		pcap_freecode(&tmp);
	pcap_close(dead);
	return ok;
}

/* pcapnd_parse_opts() - every check that needs no resources */
static bool pcapnd_parse_opts(const json_t *opts, struct pcapnd_opts *o,
			      struct nh_error **errp)
{
	static const char *const known[] = {
	    "id",     "type", "ifname", "file", "promisc",
	    "filter", "rate", "loop",	NULL,
	};

	memset(o, 0, sizeof(*o));
	o->promisc = true;
	if (!opts_check_keys(opts, known, errp) ||
	    !opts_get_opt_str(opts, "ifname", &o->ifname, errp) ||
	    !opts_get_opt_str(opts, "file", &o->file, errp) ||
	    !opts_get_opt_str(opts, "filter", &o->filter, errp) ||
	    !opts_get_bool(opts, "promisc", &o->promisc, errp) ||
	    !opts_get_bool(opts, "loop", &o->loop, errp) ||
	    !opts_get_int(opts, "rate", 0, PCAPND_RATE_MAX, &o->rate, errp))
		return false;
	o->has_rate = opts_has(opts, "rate");
	if (!!o->ifname == !!o->file) {
		nh_error_setg(errp, "exactly one of ifname= or file= is "
				    "required");
		return false;
	}
	if (o->ifname) {
		if (o->has_rate || opts_has(opts, "loop")) {
			nh_error_setg(errp, "%s= is only valid with file=",
				      o->has_rate ? "rate" : "loop");
			return false;
		}
		if (!tapdev_check_ifname(o->ifname)) {
			nh_error_setg(errp,
				      "Parameter 'ifname' expects an interface "
				      "name: 1 to %d bytes without '/', ':' or "
				      "white space",
				      IFNAMSIZ - 1);
			return false;
		}
	} else {
		if (opts_has(opts, "promisc")) {
			nh_error_setg(errp,
				      "promisc= is only valid with ifname=");
			return false;
		}
		if (!*o->file) {
			nh_error_setg(errp, "Parameter 'file' expects a file "
					    "name");
			return false;
		}
	}
	if (o->filter && !pcapnd_check_filter(o->filter, NULL, errp))
		return false;
	return true;
}

static bool pcapnd_check(const json_t *opts, struct nh_error **errp)
{
	struct pcapnd_opts o;

	return pcapnd_parse_opts(opts, &o, errp);
}

/* -- opening --------------------------------------------------------------- */

/* pcapnd_if_mtu() - the interface's MTU, asked on libpcap's socket */
static unsigned pcapnd_if_mtu(struct pcapnd_state *s)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", s->ifname);
	if (ioctl(pcap_get_selectable_fd(s->pc), SIOCGIFMTU, &ifr) < 0 ||
	    ifr.ifr_mtu <= 0) {
		log_warn("netdev %s: cannot read the MTU of %s (%s); frames of "
			 "any size are sent to it",
			 s->id, s->ifname, strerror(errno));
		return PORT_MTU_DEFAULT;
	}
	return (unsigned)ifr.ifr_mtu;
}

/* pcapnd_activate_error() - pcap_activate()'s failure @r as a message */
static void pcapnd_activate_error(struct pcapnd_state *s, int r,
				  struct nh_error **errp)
{
	const char *msg = pcap_geterr(s->pc);

	if (!msg || !*msg)
		msg = pcap_statustostr(r);
	switch (r) {
	case PCAP_ERROR_NO_SUCH_DEVICE:
		nh_error_setg(errp, "ifname=%s: no such interface (%s)",
			      s->ifname, msg);
		break;
	case PCAP_ERROR_PERM_DENIED:
	case PCAP_ERROR_PROMISC_PERM_DENIED:
		nh_error_setg(errp,
			      "ifname=%s: live capture needs root "
			      "(CAP_NET_RAW): %s",
			      s->ifname, msg);
		break;
	default:
		nh_error_setg(errp, "ifname=%s: cannot capture: %s", s->ifname,
			      msg);
	}
}

/**
 * pcapnd_open_live() - a capture of the interface, inbound only, immediate,
 * non-blocking, filtered; its MTU; its descriptor watched on the loop
 */
static bool pcapnd_open_live(struct pcapnd_state *s,
			     const struct pcapnd_opts *o,
			     struct nh_error **errp)
{
	char eb[PCAP_ERRBUF_SIZE] = "";
	int r, fd;

	s->pc = pcap_create(o->ifname, eb);
	if (!s->pc) {
		nh_error_setg(errp, "ifname=%s: %s", o->ifname, eb);
		return false;
	}
	/* MTU-sized frames plus a VLAN tag; anything longer (a GSO frame
	 * from a veth) is cut short and counted oversize */
	if (pcap_set_snaplen(s->pc, FRAME_SMALL_CAP) ||
	    pcap_set_promisc(s->pc, o->promisc) ||
	    pcap_set_immediate_mode(s->pc, 1)) {
		nh_error_setg(errp, "ifname=%s: cannot configure the capture",
			      o->ifname);
		return false;
	}
	r = pcap_activate(s->pc);
	if (r < 0) {
		pcapnd_activate_error(s, r, errp);
		return false;
	}
	if (r > 0)
		log_warn("netdev %s: %s: %s", s->id, o->ifname,
			 pcap_geterr(s->pc));
	if (!pcapnd_is_ethernet(s->pc, "ifname", o->ifname, errp))
		return false;
	s->if_mtu = pcapnd_if_mtu(s);
	if (s->if_mtu + FRAME_ETH_HLEN + FRAME_VLAN_HLEN > FRAME_SMALL_CAP) {
		/* a jumbo MTU: capture that much (activated handles cannot
		 * change their snap length, so start over) */
		pcap_close(s->pc);
		s->pc = pcap_create(o->ifname, eb);
		if (!s->pc ||
		    pcap_set_snaplen(s->pc, (int)(s->if_mtu + FRAME_ETH_HLEN +
						  FRAME_VLAN_HLEN)) ||
		    pcap_set_promisc(s->pc, o->promisc) ||
		    pcap_set_immediate_mode(s->pc, 1) ||
		    (r = pcap_activate(s->pc)) < 0) {
			if (s->pc)
				pcapnd_activate_error(s, r, errp);
			else
				nh_error_setg(errp, "ifname=%s: %s", o->ifname,
					      eb);
			return false;
		}
	}
	if (pcap_setnonblock(s->pc, 1, eb) < 0) {
		nh_error_setg(errp, "ifname=%s: %s", o->ifname, eb);
		return false;
	}
	if (pcap_setdirection(s->pc, PCAP_D_IN) < 0) {
		nh_error_setg(errp,
			      "ifname=%s: cannot capture inbound frames only: "
			      "%s",
			      o->ifname, pcap_geterr(s->pc));
		return false;
	}
	if (o->filter) {
		if (pcap_compile(s->pc, &s->prog, o->filter, 1,
				 PCAP_NETMASK_UNKNOWN) < 0) {
			nh_error_setg(errp, "filter=%s: %s", o->filter,
				      pcap_geterr(s->pc));
			return false;
		}
		s->has_prog = true;
		if (pcap_setfilter(s->pc, &s->prog) < 0) {
			nh_error_setg(errp, "filter=%s: %s", o->filter,
				      pcap_geterr(s->pc));
			return false;
		}
	}
	fd = pcap_get_selectable_fd(s->pc);
	if (fd < 0) {
		nh_error_setg(errp, "ifname=%s: no descriptor to wait on",
			      o->ifname);
		return false;
	}
	r = uv_poll_init(s->nd->loop, &s->poll, fd);
	if (r < 0) {
		nh_error_setg(errp, "netdev %s: cannot watch the capture: %s",
			      s->id, uv_strerror(r));
		return false;
	}
	s->poll.data = s;
	s->poll_init = true;
	s->refs++;
	return true;
}

/* pcapnd_open_replay() - the file, checked by reading its header */
static bool pcapnd_open_replay(struct pcapnd_state *s,
			       const struct pcapnd_opts *o,
			       struct nh_error **errp)
{
	struct userfile uf;

	/* userfile.h: no symbolic link, a regular file, beneath --files-dir
	 * if given */
	if (userfile_locate(&uf, o->file, errp)) {
		s->fd = userfile_open(&uf, USERFILE_READ, NULL, errp);
		userfile_release(&uf);
	}
	if (s->fd < 0) {
		s->fd = -1;
		nh_error_prepend(errp, "file=%s: cannot open: ", o->file);
		return false;
	}
	if (!pcapnd_replay_pass(s, errp))
		return false;
	if (o->filter) {
		if (!pcapnd_check_filter(o->filter, &s->prog, errp))
			return false;
		s->has_prog = true;
	}
	uv_timer_init(s->nd->loop, &s->timer);
	s->timer.data = s;
	s->timer_init = true;
	s->refs++;
	uv_idle_init(s->nd->loop, &s->idle);
	s->idle.data = s;
	s->idle_init = true;
	s->refs++;
	return true;
}

static bool pcapnd_open(struct netdev *nd, const json_t *opts,
			struct nh_error **errp)
{
	struct pcapnd_state *s;
	struct pcapnd_opts o;
	bool ok;

	if (!pcapnd_parse_opts(opts, &o, errp))
		return false;
	s = calloc(1, sizeof(*s));
	if (!s) {
		nh_error_setg(errp, "netdev %s: out of memory", nd->id);
		return false;
	}
	s->refs = 1;
	s->nd = nd;
	s->fd = -1;
	snprintf(s->id, sizeof(s->id), "%s", nd->id);
	s->mode = o.ifname ? PCAPND_MODE_LIVE : PCAPND_MODE_REPLAY;
	s->ifname = pcapnd_strdup(o.ifname);
	s->file = pcapnd_strdup(o.file);
	s->filter = pcapnd_strdup(o.filter);
	s->promisc = o.promisc;
	s->has_rate = o.has_rate;
	s->rate = (uint64_t)o.rate;
	s->loop = o.loop;

	uv_idle_init(s->nd->loop, &s->fix);
	s->fix.data = s;
	s->fix_init = true;
	s->refs++;

	ok = s->mode == PCAPND_MODE_LIVE ? pcapnd_open_live(s, &o, errp)
					 : pcapnd_open_replay(s, &o, errp);
	if (ok) {
		s->port = port_new(nd, NULL, s);
		if (!s->port) {
			nh_error_setg(errp, "netdev %s: out of memory", nd->id);
			ok = false;
		}
	}
	if (!ok) {
		pcapnd_teardown(s);
		return false;
	}
	nd->priv = s;
	if (s->mode == PCAPND_MODE_LIVE) {
		s->port->mtu = s->if_mtu;
		pcapnd_live_start(s);
		log_info("netdev %s: capturing on %s (promisc %s%s%s)", s->id,
			 s->ifname, s->promisc ? "on" : "off",
			 s->filter ? ", filter " : "",
			 s->filter ? s->filter : "");
	} else {
		s->link_paused = !port_is_up(s->port);
		s->t0 = uv_hrtime();
		pcapnd_replay_schedule(s, true);
		log_info("netdev %s: replaying %s", s->id, s->file);
	}
	return true;
}

static void pcapnd_close_netdev(struct netdev *nd)
{
	struct pcapnd_state *s = nd->priv;

	nd->priv = NULL;
	if (s)
		pcapnd_teardown(s);
}

/* -- queries --------------------------------------------------------------- */

static void pcapnd_info(const struct netdev *nd, json_t *obj)
{
	struct pcapnd_state *s = nd->priv;

	if (!s)
		return;
	json_object_set_new(
	    obj, "mode",
	    json_string(s->mode == PCAPND_MODE_LIVE ? "live" : "replay"));
	if (s->filter)
		json_object_set_new(obj, "filter", json_string(s->filter));
	if (s->error)
		json_object_set_new(obj, "error", json_string(s->error));
	if (s->mode == PCAPND_MODE_LIVE) {
		struct pcap_stat ps;

		json_object_set_new(obj, "ifname", json_string(s->ifname));
		json_object_set_new(obj, "promisc", json_boolean(s->promisc));
		json_object_set_new(obj, "capturing", json_boolean(s->polling));
		memset(&ps, 0, sizeof(ps));
		if (s->pc && pcap_stats(s->pc, &ps) == 0) {
			json_object_set_new(obj, "ps-recv",
					    json_integer(ps.ps_recv));
			json_object_set_new(obj, "ps-drop",
					    json_integer(ps.ps_drop));
			json_object_set_new(obj, "ps-ifdrop",
					    json_integer(ps.ps_ifdrop));
		}
		return;
	}
	json_object_set_new(obj, "file", json_string(s->file));
	if (s->has_rate)
		json_object_set_new(obj, "rate",
				    json_integer((json_int_t)s->rate));
	json_object_set_new(obj, "loop", json_boolean(s->loop));
	json_object_set_new(obj, "frames-replayed",
			    json_integer((json_int_t)s->replayed));
	json_object_set_new(obj, "frames-skipped",
			    json_integer((json_int_t)s->skipped));
	json_object_set_new(obj, "loops", json_integer((json_int_t)s->loops));
	json_object_set_new(obj, "finished", json_boolean(s->finished));
	json_object_set_new(obj, "paused",
			    json_boolean(pcapnd_replay_paused(s)));
}

const struct backend_ops pcap_backend = {
    .type = "pcap",
    .check = pcapnd_check,
    .open = pcapnd_open,
    .close = pcapnd_close_netdev,
    .send = pcapnd_send,
    .rx_pause = pcapnd_rx_pause,
    .set_link = pcapnd_set_link,
    .info = pcapnd_info,
};
