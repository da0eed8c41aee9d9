/* SPDX-License-Identifier: MIT */
/* nethub-bench.c - traffic generator and sink that attaches to a switch as ports
 *
 * nethub-bench opens N ports on a switch (nethubd, QEMU's hub, anything that
 * speaks one of the transports below), teaches the switch every port's MAC
 * address, then sends numbered, timestamped frames from each sending port to
 * its peer for a fixed time and reports what arrived: frames/s offered and
 * delivered, Mbit/s, loss, reordering, one-way latency percentiles, and the
 * CPU the switch process used doing it.
 *
 * Layout of this file:
 *   - measurement math (latency histogram, rates, pacing) - pure functions,
 *     unit tested by tests/unit/test_bench.c, which includes this file;
 *   - the bench frame: Ethernet header + struct bench_hdr + filler;
 *   - transports: one ops table each (udp, tcp), the only code that touches
 *     sockets; a new transport (unix, vhost-user, tap) is one more table;
 *   - workers: one thread each, an epoll loop driving the generator and the
 *     sink of the ports it owns;
 *   - /proc probes (switch CPU, context switches, UDP socket drops);
 *   - options, report, main.
 *
 * The generator must never be the bottleneck: nothing on the per-frame path
 * allocates, logs or makes a syscall of its own.  Frames go out in batches
 * (sendmmsg, or one write() of many length-prefixed frames), one clock read
 * stamps a whole batch, and receiving is recvmmsg or large buffered reads.
 *
 * Only loopback: udp ports bind and send to 127.0.0.1; tcp connects where
 * --connect says, which the scenario scripts keep on 127.0.0.1.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* recvmmsg, sendmmsg, epoll_pwait2 */
#endif
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef NETHUB_VERSION
#define NETHUB_VERSION "dev"
#endif

#define NS_PER_S	 1000000000ull
#define NS_PER_MS	 1000000ull

/* ---------------------------------------------------------------------- */
/* Measurement math                                                        */
/* ---------------------------------------------------------------------- */

/*
 * Latency histogram: log-linear buckets, exact below 2 * LAT_SUB ns, then
 * LAT_SUB buckets per power of two (a relative error under 1/LAT_SUB,
 * about 3 %).  Recording is a few instructions and no allocation; the
 * percentiles come out of the buckets at the end.
 */
#define LAT_SUB_BITS 5
#define LAT_SUB	     (1u << LAT_SUB_BITS)
#define LAT_MAX_EXP  40 /* 2^41 ns (~36 min) and above share the last bucket */
#define LAT_BUCKETS  ((LAT_MAX_EXP - LAT_SUB_BITS + 2) * LAT_SUB)

struct lat_hist {
	uint64_t count;
	uint64_t min_ns, max_ns;
	double sum_ns;
	uint64_t bucket[LAT_BUCKETS];
};

/**
 * lat_bucket() - the histogram bucket of a latency
 * @ns:	latency in nanoseconds
 * Return: bucket index, below LAT_BUCKETS
 */
static unsigned lat_bucket(uint64_t ns)
{
	unsigned e;

	if (ns < 2 * LAT_SUB)
		return (unsigned)ns;
	e = 63 - (unsigned)__builtin_clzll(ns);
	if (e > LAT_MAX_EXP)
		return LAT_BUCKETS - 1;
	return (e - LAT_SUB_BITS + 1) * LAT_SUB +
	       (unsigned)((ns >> (e - LAT_SUB_BITS)) & (LAT_SUB - 1));
}

/**
 * lat_bucket_low() - smallest latency that falls in bucket @b
 * @width:	set to the number of nanosecond values the bucket holds
 */
static uint64_t lat_bucket_low(unsigned b, uint64_t *width)
{
	unsigned e;

	if (b < 2 * LAT_SUB) {
		*width = 1;
		return b;
	}
	e = b / LAT_SUB + LAT_SUB_BITS - 1;
	*width = 1ull << (e - LAT_SUB_BITS);
	return (uint64_t)(LAT_SUB + b % LAT_SUB) << (e - LAT_SUB_BITS);
}

static void lat_hist_init(struct lat_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min_ns = UINT64_MAX;
}

static inline void lat_hist_add(struct lat_hist *h, uint64_t ns)
{
	h->bucket[lat_bucket(ns)]++;
	h->count++;
	h->sum_ns += (double)ns;
	if (ns < h->min_ns)
		h->min_ns = ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

/* lat_hist_merge() - add @src's samples to @dst */
static void lat_hist_merge(struct lat_hist *dst, const struct lat_hist *src)
{
	unsigned i;

	for (i = 0; i < LAT_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	if (src->min_ns < dst->min_ns)
		dst->min_ns = src->min_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
}

/**
 * lat_hist_pct() - the @pct-th percentile (0 < pct <= 100)
 *
 * The sample of rank ceil(pct/100 * count) is found by walking the buckets;
 * its bucket's midpoint is returned, clamped to the recorded min and max so
 * that p0+ and p100 are exact.
 * Return: nanoseconds, 0 for an empty histogram
 */
static uint64_t lat_hist_pct(const struct lat_hist *h, double pct)
{
	uint64_t rank, seen = 0, low, width, v;
	unsigned i;

	if (!h->count)
		return 0;
	rank = (uint64_t)ceil(pct / 100.0 * (double)h->count);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (i = 0; i < LAT_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank)
			break;
	}
	low = lat_bucket_low(i, &width);
	v = low + (width - 1) / 2;
	if (v < h->min_ns)
		v = h->min_ns;
	if (v > h->max_ns)
		v = h->max_ns;
	return v;
}

/* rate_per_s() - @count events over @ns nanoseconds, per second */
static double rate_per_s(uint64_t count, uint64_t ns)
{
	return ns ? (double)count * 1e9 / (double)ns : 0.0;
}

/* mbit_per_s() - @frames of @size bytes over @ns, in 10^6 bit/s */
static double mbit_per_s(uint64_t frames, unsigned size, uint64_t ns)
{
	return rate_per_s(frames, ns) * size * 8.0 / 1e6;
}

/* loss_pct() - share of @sent frames that did not arrive, in percent */
static double loss_pct(uint64_t sent, uint64_t received)
{
	if (!sent || received >= sent)
		return 0.0;
	return 100.0 * (double)(sent - received) / (double)sent;
}

/* cpu_pct() - @ticks of CPU time (at @hz per second) over @ns wall time */
static double cpu_pct(uint64_t ticks, long hz, uint64_t ns)
{
	if (!ns || hz <= 0)
		return 0.0;
	return 100.0 * (double)ticks / (double)hz * 1e9 / (double)ns;
}

/**
 * pace_allowance() - how many frames a paced sender may send now
 * @rate:	frames per second, 0 or less for unlimited
 * @t0:		when pacing started (ns)
 * @now:	the time now (ns)
 * @sent:	frames sent since @t0
 * @burst:	most frames to allow at once
 *
 * A sender at @rate is due floor(rate * (now - t0)) frames by @now.
 * Return: frames due and not yet sent, at most @burst
 */
static unsigned pace_allowance(double rate, uint64_t t0, uint64_t now,
			       uint64_t sent, unsigned burst)
{
	double due;
	uint64_t n;

	if (rate <= 0)
		return burst;
	if (now <= t0)
		return 0;
	due = floor(rate * (double)(now - t0) / 1e9);
	if (due <= (double)sent)
		return 0;
	n = (uint64_t)due - sent;
	return n > burst ? burst : (unsigned)n;
}

/* pace_next_ns() - when the frame after @sent falls due at @rate (> 0) */
static uint64_t pace_next_ns(double rate, uint64_t t0, uint64_t sent)
{
	return t0 + (uint64_t)ceil((double)(sent + 1) * 1e9 / rate);
}

/* ---------------------------------------------------------------------- */
/* The bench frame                                                          */
/* ---------------------------------------------------------------------- */

/*
 * dst MAC, src MAC, ethertype BENCH_ETHERTYPE (IEEE local experimental 1),
 * then struct bench_hdr in host byte order (sender and sink are one
 * process), then filler up to --frame-size.  Frame sizes are Ethernet
 * frame bytes as a switch port carries them: header included, no FCS.
 */
#define ETH_HLEN	   14
#define BENCH_ETHERTYPE	   0x88b5
#define BENCH_MAGIC	   0x4e484231u /* "NHB1" */
#define BENCH_EPOCH_WARMUP 0
#define BENCH_EPOCH_MEASURE 1
#define BENCH_EPOCH_LEARN  2
#define BENCH_LEARN_LEN	   60 /* learning frames: minimum Ethernet size */

struct bench_hdr {
	uint32_t magic;
	uint16_t flow;	/* index of the sending port */
	uint8_t epoch;	/* BENCH_EPOCH_* */
	uint8_t pad;
	uint64_t seq;	/* per flow, from 0, +1 per frame */
	uint64_t tx_ns; /* CLOCK_MONOTONIC when its batch was sent */
};

#define BENCH_FRAME_MIN	 (ETH_HLEN + (unsigned)sizeof(struct bench_hdr))
#define BENCH_UDP_MAX	 65507u /* largest IPv4 UDP payload */
#define BENCH_TCP_MAX	 69632u /* QEMU's stream frame limit, 4096 + 65536 */

static inline void hdr_stamp(uint8_t *frame, uint16_t flow, uint8_t epoch,
			     uint64_t seq, uint64_t ns)
{
	struct bench_hdr h = {
		.magic = BENCH_MAGIC,
		.flow = flow,
		.epoch = epoch,
		.seq = seq,
		.tx_ns = ns,
	};

	memcpy(frame + ETH_HLEN, &h, sizeof(h));
}

/**
 * hdr_parse() - find the bench header in a received frame
 * Return: true and @h filled when @frame is a bench frame
 */
static inline bool hdr_parse(const uint8_t *frame, size_t len,
			     struct bench_hdr *h)
{
	if (len < BENCH_FRAME_MIN || frame[12] != (BENCH_ETHERTYPE >> 8) ||
	    frame[13] != (BENCH_ETHERTYPE & 0xff))
		return false;
	memcpy(h, frame + ETH_HLEN, sizeof(*h));
	return h->magic == BENCH_MAGIC;
}

/**
 * mac_of() - the @k-th MAC address of bench port @idx:
 * 02:KK:KK:KK:HH:LL, KKKKKK = @k, HHLL = @idx + 1.  Port @idx's first MAC
 * (@k == 0) is 02:00:00:00:HH:LL.  Locally administered, unicast.
 */
static void mac_of(unsigned idx, uint32_t k, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = (uint8_t)(k >> 16);
	mac[2] = (uint8_t)(k >> 8);
	mac[3] = (uint8_t)k;
	mac[4] = (uint8_t)((idx + 1) >> 8);
	mac[5] = (uint8_t)(idx + 1);
}

/* mac_of_port() - bench port @idx's first MAC */
static void mac_of_port(unsigned idx, uint8_t mac[6])
{
	mac_of(idx, 0, mac);
}

/**
 * frame_template() - fill @buf with a bench frame of @len bytes from port
 * @src to @dst_mac; the header is stamped per send
 */
static void frame_template(uint8_t *buf, size_t len, unsigned src,
			   const uint8_t dst_mac[6])
{
	size_t i;

	memcpy(buf, dst_mac, 6);
	mac_of_port(src, buf + 6);
	buf[12] = BENCH_ETHERTYPE >> 8;
	buf[13] = BENCH_ETHERTYPE & 0xff;
	for (i = ETH_HLEN; i < len; i++)
		buf[i] = (uint8_t)(i * 7);
}

/* ---------------------------------------------------------------------- */
/* Configuration, ports, workers                                           */
/* ---------------------------------------------------------------------- */

#define BENCH_PORTS_MAX	    1024
#define BENCH_THREADS_MAX   64
#define BENCH_BATCH_MAX	    1024 /* UIO_MAXIOV, sendmmsg's limit */
#define BENCH_UDP_BATCH	    64
#define BENCH_TCP_WRITE_MAX (256 * 1024) /* bytes per write() batch */
#define BENCH_RX_BATCH	    64
#define BENCH_RX_SLOT_MIN   2048
#define BENCH_RX_ROUNDS	    8 /* rx batches per port per loop turn */
#define BENCH_TCP_RXBUF	    (512 * 1024)
#define BENCH_SOCKBUF	    (4 * 1024 * 1024) /* bench socket buffers */
#define BENCH_LEARN_ROUNDS  3
#define BENCH_LEARN_GAP_MS  50
#define BENCH_SETUP_TIMEOUT_S 5.0
#define BENCH_DRAIN_QUIET_MS 100
#define BENCH_DRAIN_MAX_S   1.0
#define BENCH_IDLE_WAIT_MS  10

#define BENCH_MACS_MAX	    (1u << 20) /* --macs, per port */
#define BENCH_MACS_TOTAL    (1u << 21) /* --macs times --ports */
#define BENCH_SWEEP_MAX	    64 /* values in a --ports/--frame-size list */
#define BENCH_LEARN_RATE    100000.0 /* MAC learning frames/s, first round */
#define BENCH_LEARN_RATE_MIN 5000.0
#define BENCH_LEARN_BURST   64
#define BENCH_LEARN_QUIET_MS 100
#define BENCH_LEARN_FPS_FLOOR 10000.0 /* learning time budget: frames/s */
#define BENCH_PROGRESS_NS   NS_PER_S

enum bench_pattern {
	BENCH_PATTERN_PAIRWISE,	  /* 2k -> 2k+1 (and back with --bidir) */
	BENCH_PATTERN_ALL_TO_ALL, /* each port to every other, in turn */
	BENCH_PATTERN_BROADCAST,  /* each port to ff:ff:ff:ff:ff:ff */
	BENCH_PATTERN_IDLE,	  /* attach, learn, send nothing */
};

static const char *const pattern_names[] = {
	[BENCH_PATTERN_PAIRWISE] = "pairwise",
	[BENCH_PATTERN_ALL_TO_ALL] = "all-to-all",
	[BENCH_PATTERN_BROADCAST] = "broadcast",
	[BENCH_PATTERN_IDLE] = "idle",
};

enum bench_sweep {
	BENCH_SWEEP_NONE,
	BENCH_SWEEP_PORTS,
	BENCH_SWEEP_FRAME_SIZE,
};

struct bench_transport;

struct bench_cfg {
	const struct bench_transport *transport;
	char **connect; /* one per port, or one for all */
	unsigned n_connect;
	unsigned udp_base;
	unsigned ports;
	unsigned frame_size;
	double duration_s;
	double warmup_s;
	enum bench_pattern pattern;
	unsigned macs; /* source MACs per port, and destination MACs */
	bool bidir;
	double rate_fps; /* total offered, 0 = as fast as possible */
	unsigned batch;	 /* frames per send call, 0 = transport default */
	unsigned threads;
	pid_t switch_pid; /* 0 = none */
	bool json;
	bool progress; /* live line on stderr while measuring */
	bool udp_gso; /* batch as UDP GSO sends where the kernel can */
	const char *label;
	const char *plot; /* --plot FILE.svg|FILE.png, sweeps only */

	/* a sweep: one run per value of --ports or --frame-size */
	enum bench_sweep sweep;
	unsigned sweep_vals[BENCH_SWEEP_MAX];
	unsigned n_sweep;
};

/* The run's clock, fixed before the workers start; read-only afterwards */
struct bench_clock {
	uint64_t t_start; /* warm-up begins */
	uint64_t t_meas;  /* measurement window begins */
	uint64_t t_end;	  /* senders stop */
	uint64_t t_stop;  /* sinks give up draining */
};

/* Receive-side state of one flow (one sending port), per worker */
struct flow_rx {
	uint64_t frames[2]; /* by epoch: warm-up, measured */
	uint64_t reordered; /* arrived after a higher sequence number */
};

struct bench_worker;

struct bench_port {
	unsigned idx;
	int fd;
	int peer; /* pairwise: the port this one sends to; else -1 */
	bool sends; /* the pattern has this port generate frames */
	const struct bench_cfg *cfg;
	struct bench_worker *w;
	void *tp; /* the transport's per-port state */

	/* generator */
	uint64_t tx_seq;
	uint64_t tx_frames[3]; /* by epoch: warm-up, measured, learning */
	uint64_t tx_errors;    /* frames the kernel refused */
	double pace_rate;      /* this sender's share of --rate */
	uint64_t pace_t0;
	uint64_t pace_sent;
	bool tx_blocked;       /* waiting for EPOLLOUT */
	bool tx_backlog;       /* transport holds bytes not yet written */

	/* sink; only the worker that owns the port writes these */
	bool learned; /* a learning frame from this port came through */
	bool dead;
	int err;
	uint64_t rx_total;  /* every frame received, from open to close */
	uint64_t rx_window; /* bench frames received inside the window */
	uint64_t *rx_next; /* per sending port: highest seq seen + 1 */
	uint16_t udp_local_port, udp_switch_port;
};

struct bench_worker {
	unsigned id;
	bool setup; /* the setup phase's worker: learning frames count */
	const struct bench_cfg *cfg;
	const struct bench_clock *clk;
	struct bench_port **ports; /* all ports, indexed by port number */
	struct bench_port **mine;  /* the ports this worker drives */
	unsigned n_mine;
	int epfd;
	pthread_t thread;

	struct flow_rx *flows; /* indexed by sending port */
	struct lat_hist hist;  /* measured frames only */
	uint64_t rx_window;    /* frames received inside the window */
	uint64_t rx_misdelivered; /* bench frames at a port not their peer */
	uint64_t rx_foreign;   /* frames that are not bench frames */
	uint64_t rx_learn;
	uint64_t last_rx_ns;
};

/* pattern_peer() - pairwise: the port @idx sends to, -1 if it only
 * receives */
static int pattern_peer(const struct bench_cfg *cfg, unsigned idx)
{
	if (idx % 2 == 0)
		return idx + 1 < cfg->ports ? (int)idx + 1 : -1;
	return cfg->bidir ? (int)idx - 1 : -1;
}

/* pattern_sends() - does port @idx generate frames in @cfg's pattern? */
static bool pattern_sends(const struct bench_cfg *cfg, unsigned idx)
{
	switch (cfg->pattern) {
	case BENCH_PATTERN_PAIRWISE:
		return pattern_peer(cfg, idx) >= 0;
	case BENCH_PATTERN_ALL_TO_ALL:
	case BENCH_PATTERN_BROADCAST:
		return cfg->ports >= 2;
	case BENCH_PATTERN_IDLE:
		break;
	}
	return false;
}

/* pattern_copies() - how many ports should receive each generated frame */
static unsigned pattern_copies(const struct bench_cfg *cfg)
{
	if (cfg->pattern == BENCH_PATTERN_BROADCAST)
		return cfg->ports ? cfg->ports - 1 : 0;
	return cfg->pattern == BENCH_PATTERN_IDLE ? 0 : 1;
}

/* Where the @seq-th frame of a port goes, and from which of its MACs */
struct bench_pick {
	int dst;       /* destination port, -1 for broadcast */
	uint32_t dst_k; /* index of the destination port's MAC */
	uint32_t src_k; /* index of the sending port's MAC */
};

/**
 * bench_pick() - the addresses of port @src's @seq-th frame of @epoch
 *
 * The source MAC cycles through the port's --macs addresses with @seq.
 * pairwise: to the peer's MAC of the same index.  all-to-all: to the other
 * ports in turn (seq mod ports-1, skipping @src), and each time round to
 * the next of their MACs, so every (port, MAC) is addressed.  broadcast:
 * ff:ff:ff:ff:ff:ff.  Learning frames (BENCH_EPOCH_LEARN) go to the next
 * port's first MAC, which the switch already knows, so they are forwarded
 * once rather than flooded.
 */
static struct bench_pick bench_pick(const struct bench_cfg *cfg, unsigned src,
				    uint8_t epoch, uint64_t seq)
{
	uint32_t n = cfg->macs ? cfg->macs : 1;
	struct bench_pick pk = {
		.dst = -1,
		.src_k = (uint32_t)(seq % n),
	};
	unsigned others = cfg->ports > 1 ? cfg->ports - 1 : 1, d;

	if (epoch == BENCH_EPOCH_LEARN || cfg->pattern == BENCH_PATTERN_IDLE) {
		pk.dst = (int)((src + 1) % cfg->ports);
		return pk;
	}
	switch (cfg->pattern) {
	case BENCH_PATTERN_PAIRWISE:
		pk.dst = pattern_peer(cfg, src);
		pk.dst_k = pk.src_k;
		break;
	case BENCH_PATTERN_ALL_TO_ALL:
		d = (unsigned)(seq % others);
		pk.dst = (int)(d < src ? d : d + 1);
		pk.dst_k = (uint32_t)((seq / others) % n);
		break;
	case BENCH_PATTERN_BROADCAST:
	case BENCH_PATTERN_IDLE:
		break;
	}
	return pk;
}

/**
 * bench_stamp() - write the @seq-th generator frame of port @p into @frame
 * (a frame_template() copy of --frame-size bytes): its MACs as the pattern
 * and the MAC count choose them for @seq, and its bench header
 * @epoch:	BENCH_EPOCH_WARMUP, BENCH_EPOCH_MEASURE or BENCH_EPOCH_LEARN
 * @now:	send time of the batch (CLOCK_MONOTONIC ns)
 *
 * Every transport calls this for every generated frame; it depends only on
 * its arguments, so a frame the kernel pushed back may be stamped again.
 */
static inline void bench_stamp(const struct bench_port *p, uint8_t *frame,
			       uint8_t epoch, uint64_t seq, uint64_t now)
{
	struct bench_pick pk = bench_pick(p->cfg, p->idx, epoch, seq);

	if (pk.dst < 0)
		memset(frame, 0xff, 6);
	else
		mac_of((unsigned)pk.dst, pk.dst_k, frame);
	mac_of(p->idx, pk.src_k, frame + 6);
	hdr_stamp(frame, (uint16_t)p->idx, epoch, seq, now);
}

/**
 * bench_intended() - should frame @seq of @epoch from port @src arrive at
 * port @rx?
 */
static bool bench_intended(const struct bench_cfg *cfg, unsigned src,
			   uint8_t epoch, uint64_t seq, unsigned rx)
{
	struct bench_pick pk;

	if (rx == src)
		return false;
	pk = bench_pick(cfg, src, epoch, seq);
	return pk.dst < 0 || (unsigned)pk.dst == rx;
}

/* ---------------------------------------------------------------------- */
/* Sink                                                                     */
/* ---------------------------------------------------------------------- */

/**
 * sink_frame() - account one received frame
 * @w:		the worker that received it
 * @rxp:	the port it arrived on
 * @now:	receive time of its batch (CLOCK_MONOTONIC ns)
 *
 * Every frame counts in @rxp's total (a switch's own per-port counters
 * see the same frames).  Bench frames of the warm-up and measured epochs
 * that the pattern meant for @rxp count for their flow; others are
 * misdelivered.  Learning frames mark their sender as learned.
 */
static inline void sink_frame(struct bench_worker *w, struct bench_port *rxp,
			      const uint8_t *frame, size_t len, uint64_t now)
{
	const struct bench_cfg *cfg = w->cfg;
	struct bench_hdr h;
	struct flow_rx *f;
	uint64_t *next;

	rxp->rx_total++;
	if (!hdr_parse(frame, len, &h) || h.flow >= cfg->ports ||
	    h.epoch > BENCH_EPOCH_LEARN) {
		w->rx_foreign++;
		return;
	}
	if (h.epoch == BENCH_EPOCH_LEARN) {
		w->rx_learn++;
		if (w->setup && h.flow != rxp->idx)
			w->ports[h.flow]->learned = true;
		return;
	}
	if (!bench_intended(cfg, h.flow, h.epoch, h.seq, rxp->idx)) {
		w->rx_misdelivered++;
		return;
	}
	w->last_rx_ns = now;
	if (now >= w->clk->t_meas && now < w->clk->t_end) {
		w->rx_window++;
		rxp->rx_window++;
	}
	f = &w->flows[h.flow];
	f->frames[h.epoch]++;
	/* order is per (sender, receiver): one sender's frames to
	 * different ports travel independently */
	if (rxp->rx_next) {
		next = &rxp->rx_next[h.flow];
		if (h.seq < *next)
			f->reordered++;
		else
			*next = h.seq + 1;
	}
	if (h.epoch == BENCH_EPOCH_MEASURE)
		lat_hist_add(&w->hist, now > h.tx_ns ? now - h.tx_ns : 0);
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------------- */
/* Transports                                                               */
/* ---------------------------------------------------------------------- */

/*
 * A transport connects one bench port to the switch and moves frames.
 * Every op works on a non-blocking fd and returns -errno on failure.
 *
 * open()	set up p->fd and p->tp for port p->idx; fill @err on failure.
 *		Retries what a switch still starting would refuse until
 *		@deadline (ns).
 * send()	stamp and send up to @n generator frames of epoch @epoch,
 *		first finishing any backlog; @n == 0 only flushes.  Return
 *		frames taken (counted as sent), 0 when the kernel pushes back
 *		(sets p->tx_blocked to wait for EPOLLOUT).
 * send_ctrl()	send one control frame (learning), best effort.
 * recv()	receive what is ready, at most BENCH_RX_ROUNDS batches,
 *		calling sink_frame() per frame.  Return frames, 0 when
 *		nothing was ready, -errno on error or end of stream.
 * close()	release the fd and p->tp.
 */
struct bench_transport {
	const char *name;
	unsigned max_frame; /* largest --frame-size it carries */
	int (*open)(struct bench_port *p, uint64_t deadline, char *err,
		    size_t errlen);
	int (*send)(struct bench_port *p, unsigned n, uint8_t epoch,
		    uint64_t now);
	int (*send_ctrl)(struct bench_port *p, const uint8_t *frame,
			 size_t len);
	int (*recv)(struct bench_port *p);
	void (*close)(struct bench_port *p);
};

static void sock_bufs(int fd)
{
	int sz = BENCH_SOCKBUF;

	/* FORCE needs CAP_NET_ADMIN; without it the sysctl maximum applies */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

static int fcntl_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static unsigned port_batch(const struct bench_port *p, unsigned dflt)
{
	unsigned b = p->cfg->batch ? p->cfg->batch : dflt;

	return b > BENCH_BATCH_MAX ? BENCH_BATCH_MAX : b;
}

static void port_peer_mac(const struct bench_port *p, uint8_t mac[6])
{
	if (p->peer >= 0)
		mac_of_port((unsigned)p->peer, mac);
	else
		memset(mac, 0xff, 6);
}

/* -- udp: one frame per datagram, QEMU's -netdev socket,udp= ------------- */

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#define BENCH_GSO_SEGS_MAX 64 /* UDP_MAX_SEGMENTS in older kernels */
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#define BENCH_GRO_SLOT 65536 /* a coalesced receive: up to 64 KiB */

struct udp_port {
	unsigned batch;
	unsigned gso_segs; /* frames per GSO send, 0: sendmmsg */
	struct msghdr gso_msg;
	struct iovec gso_iov;
	union {
		char buf[64]; /* room for CMSG_SPACE(sizeof(uint16_t)) */
		size_t align; /* cmsghdr alignment */
	} gso_cmsg;
	uint8_t *tx_buf; /* batch frames, frame_size apart */
	struct mmsghdr *tx_msgs;
	struct iovec *tx_iov;
	size_t rx_slot;
	uint8_t *rx_buf; /* BENCH_RX_BATCH slots */
	struct mmsghdr rx_msgs[BENCH_RX_BATCH];
	struct iovec rx_iov[BENCH_RX_BATCH];
	bool gro; /* UDP_GRO on: a message may hold a run of datagrams */
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} rx_cmsg[BENCH_RX_BATCH];
};

static void udp_close(struct bench_port *p)
{
	struct udp_port *u = p->tp;

	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (!u)
		return;
	free(u->tx_buf);
	free(u->tx_msgs);
	free(u->tx_iov);
	free(u->rx_buf);
	free(u);
	p->tp = NULL;
}

/*
 * udp_gso_setup() - send a batch as one UDP GSO datagram when the kernel
 * can: the sender's stack then runs once per batch instead of once per
 * frame, and the receiving socket (the switch's) still gets one datagram
 * per frame, split on the way in.  This keeps the generator well ahead of
 * the switch on a two-core machine.
 */
static void udp_gso_setup(struct bench_port *p, struct udp_port *u)
{
	unsigned fs = p->cfg->frame_size, segs = BENCH_GSO_SEGS_MAX;
	struct cmsghdr *cm;
	int probe = (int)fs, off = 0;
	uint16_t sz = (uint16_t)fs;

	if (fs > UINT16_MAX ||
	    setsockopt(p->fd, SOL_UDP, UDP_SEGMENT, &probe, sizeof(probe)))
		return;
	(void)setsockopt(p->fd, SOL_UDP, UDP_SEGMENT, &off, sizeof(off));
	if (segs > BENCH_UDP_MAX / fs)
		segs = BENCH_UDP_MAX / fs;
	if (segs > u->batch)
		segs = u->batch;
	if (segs < 2)
		return;
	u->gso_segs = segs;
	u->gso_iov.iov_base = u->tx_buf;
	u->gso_msg.msg_iov = &u->gso_iov;
	u->gso_msg.msg_iovlen = 1;
	u->gso_msg.msg_control = u->gso_cmsg.buf;
	u->gso_msg.msg_controllen = CMSG_SPACE(sizeof(sz));
	cm = CMSG_FIRSTHDR(&u->gso_msg);
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(sz));
	memcpy(CMSG_DATA(cm), &sz, sizeof(sz));
}

static int udp_open(struct bench_port *p, uint64_t deadline, char *err,
		    size_t errlen)
{
	unsigned fs = p->cfg->frame_size, i;
	struct sockaddr_in a = { .sin_family = AF_INET };
	uint8_t dst[6];
	struct udp_port *u;
	int fd;

	(void)deadline;
	p->udp_local_port = (uint16_t)(p->cfg->udp_base + 2 * p->idx);
	p->udp_switch_port = (uint16_t)(p->udp_local_port + 1);
	u = calloc(1, sizeof(*u));
	if (!u)
		goto nomem;
	p->tp = u;
	u->batch = port_batch(p, BENCH_UDP_BATCH);
	u->tx_buf = malloc((size_t)u->batch * fs);
	u->tx_msgs = calloc(u->batch, sizeof(*u->tx_msgs));
	u->tx_iov = calloc(u->batch, sizeof(*u->tx_iov));
	if (!u->tx_buf || !u->tx_msgs || !u->tx_iov)
		goto nomem;
	port_peer_mac(p, dst);
	for (i = 0; i < u->batch; i++) {
		frame_template(u->tx_buf + (size_t)i * fs, fs, p->idx, dst);
		u->tx_iov[i].iov_base = u->tx_buf + (size_t)i * fs;
		u->tx_iov[i].iov_len = fs;
		u->tx_msgs[i].msg_hdr.msg_iov = &u->tx_iov[i];
		u->tx_msgs[i].msg_hdr.msg_iovlen = 1;
	}

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	p->fd = fd;
	sock_bufs(fd);
	/* A switch that sends runs of datagrams with GSO gets them to us as
	 * one message each; without GRO the kernel would split them again */
	u->gro = !setsockopt(fd, SOL_UDP, UDP_GRO, &(int){ 1 }, sizeof(int));
	u->rx_slot = fs > BENCH_RX_SLOT_MIN ? fs : BENCH_RX_SLOT_MIN;
	if (u->gro && u->rx_slot < BENCH_GRO_SLOT)
		u->rx_slot = BENCH_GRO_SLOT;
	u->rx_buf = malloc(u->rx_slot * BENCH_RX_BATCH);
	if (!u->rx_buf)
		goto nomem;
	for (i = 0; i < BENCH_RX_BATCH; i++) {
		u->rx_iov[i].iov_base = u->rx_buf + i * u->rx_slot;
		u->rx_iov[i].iov_len = u->rx_slot;
		u->rx_msgs[i].msg_hdr.msg_iov = &u->rx_iov[i];
		u->rx_msgs[i].msg_hdr.msg_iovlen = 1;
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(p->udp_local_port);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		int e = errno;

		snprintf(err, errlen, "port %u: bind 127.0.0.1:%u: %s", p->idx,
			 p->udp_local_port, strerror(e));
		return -e;
	}
	a.sin_port = htons(p->udp_switch_port);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		int e = errno;

		snprintf(err, errlen, "port %u: connect 127.0.0.1:%u: %s",
			 p->idx, p->udp_switch_port, strerror(e));
		return -e;
	}
	if (p->cfg->udp_gso)
		udp_gso_setup(p, u);
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

static int udp_send_gso(struct bench_port *p, struct udp_port *u, unsigned n)
{
	ssize_t r;

	u->gso_iov.iov_len = (size_t)n * p->cfg->frame_size;
	r = sendmsg(p->fd, &u->gso_msg, MSG_DONTWAIT);
	return r < 0 ? -1 : (int)n;
}

static int udp_send(struct bench_port *p, unsigned n, uint8_t epoch,
		    uint64_t now)
{
	struct udp_port *u = p->tp;
	unsigned i;
	int r;

	if (n > (u->gso_segs ? u->gso_segs : u->batch))
		n = u->gso_segs ? u->gso_segs : u->batch;
	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		bench_stamp(p, u->tx_buf + (size_t)i * p->cfg->frame_size,
			    epoch, p->tx_seq + i, now);
	if (u->gso_segs && n > 1)
		r = udp_send_gso(p, u, n);
	else
		r = sendmmsg(p->fd, u->tx_msgs, n, MSG_DONTWAIT);
	if (r < 0) {
		if (errno == EAGAIN || errno == ENOBUFS) {
			p->tx_blocked = errno == EAGAIN;
			return 0;
		}
		/* ECONNREFUSED: an earlier datagram found nobody bound */
		p->tx_errors++;
		return errno == ECONNREFUSED ? 0 : -errno;
	}
	return r;
}

static int udp_send_ctrl(struct bench_port *p, const uint8_t *frame,
			 size_t len)
{
	return send(p->fd, frame, len, MSG_DONTWAIT) < 0 ? -errno : 0;
}

/* udp_gro_size() - the datagram size of a coalesced message, 0 if it is one
 * datagram */
static size_t udp_gro_size(const struct msghdr *mh)
{
	for (const struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
	     cm = CMSG_NXTHDR((struct msghdr *)mh, (struct cmsghdr *)cm)) {
		int seg;

		if (cm->cmsg_level != SOL_UDP || cm->cmsg_type != UDP_GRO ||
		    cm->cmsg_len < CMSG_LEN(sizeof(seg)))
			continue;
		memcpy(&seg, CMSG_DATA(cm), sizeof(seg));
		return seg > 0 ? (size_t)seg : 0;
	}
	return 0;
}

static int udp_recv(struct bench_port *p)
{
	struct udp_port *u = p->tp;
	int total = 0, r, i;
	unsigned round;
	uint64_t now;

	for (round = 0; round < BENCH_RX_ROUNDS; round++) {
		for (i = 0; u->gro && i < BENCH_RX_BATCH; i++) {
			u->rx_msgs[i].msg_hdr.msg_control = u->rx_cmsg[i].buf;
			u->rx_msgs[i].msg_hdr.msg_controllen =
			    sizeof(u->rx_cmsg[i].buf);
		}
		r = recvmmsg(p->fd, u->rx_msgs, BENCH_RX_BATCH, MSG_DONTWAIT,
			     NULL);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			/* ECONNREFUSED: the switch was not there yet */
			if (errno == ECONNREFUSED)
				continue;
			return -errno;
		}
		now = now_ns();
		for (i = 0; i < r; i++) {
			const uint8_t *d = u->rx_buf + (size_t)i * u->rx_slot;
			size_t len = u->rx_msgs[i].msg_len, seg = 0, off;

			if (u->gro)
				seg = udp_gro_size(&u->rx_msgs[i].msg_hdr);
			if (!seg || seg >= len) {
				sink_frame(p->w, p, d, len, now);
				total++;
				continue;
			}
			for (off = 0; off < len; off += seg, total++)
				sink_frame(p->w, p, d + off,
					   len - off < seg ? len - off : seg,
					   now);
		}
		if (r < BENCH_RX_BATCH)
			break;
	}
	return total;
}

static const struct bench_transport transport_udp = {
	.name = "udp",
	.max_frame = BENCH_UDP_MAX,
	.open = udp_open,
	.send = udp_send,
	.send_ctrl = udp_send_ctrl,
	.recv = udp_recv,
	.close = udp_close,
};

/* -- tcp: 4-byte big-endian length + frame, QEMU's -netdev socket,listen= - */

struct tcp_port {
	unsigned batch;
	size_t framed; /* 4 + frame_size */
	uint8_t *tmpl; /* one framed frame */
	uint8_t *tx_buf;
	size_t tx_len, tx_off; /* backlog is tx_buf[tx_off, tx_len) */
	uint8_t *rx_buf;
	size_t rx_len;
};

static void tcp_close(struct bench_port *p)
{
	struct tcp_port *t = p->tp;

	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (!t)
		return;
	free(t->tmpl);
	free(t->tx_buf);
	free(t->rx_buf);
	free(t);
	p->tp = NULL;
}

/* parse_hostport() - "HOST:PORT" (IPv4 literal or "localhost") */
static int parse_hostport(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host) || colon == s)
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || !colon[1] || !port || port > 65535)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -EINVAL;
}

static int tcp_open(struct bench_port *p, uint64_t deadline, char *err,
		    size_t errlen)
{
	const struct bench_cfg *cfg = p->cfg;
	const char *where = cfg->connect[cfg->n_connect == 1 ? 0 : p->idx];
	struct sockaddr_in a;
	struct tcp_port *t;
	uint8_t dst[6];
	uint32_t be;
	int fd, one = 1, e;
	unsigned dflt, i;

	if (parse_hostport(where, &a)) {
		snprintf(err, errlen, "--connect: '%s' is not IPV4:PORT", where);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		goto nomem;
	p->tp = t;
	t->framed = 4 + (size_t)cfg->frame_size;
	dflt = (unsigned)(BENCH_TCP_WRITE_MAX / t->framed);
	t->batch = port_batch(p, dflt ? dflt : 1);
	t->tmpl = malloc(t->framed);
	t->tx_buf = malloc(t->framed * t->batch);
	t->rx_buf = malloc(BENCH_TCP_RXBUF);
	if (!t->tmpl || !t->tx_buf || !t->rx_buf)
		goto nomem;
	be = htonl(cfg->frame_size);
	memcpy(t->tmpl, &be, 4);
	port_peer_mac(p, dst);
	frame_template(t->tmpl + 4, cfg->frame_size, p->idx, dst);
	for (i = 0; i < t->batch; i++)
		memcpy(t->tx_buf + (size_t)i * t->framed, t->tmpl, t->framed);

	for (;;) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			snprintf(err, errlen, "socket: %s", strerror(errno));
			return -errno;
		}
		if (!connect(fd, (struct sockaddr *)&a, sizeof(a)))
			break;
		e = errno;
		close(fd);
		if (e != ECONNREFUSED || now_ns() >= deadline) {
			snprintf(err, errlen, "port %u: connect %s: %s",
				 p->idx, where, strerror(e));
			return -e;
		}
		usleep(20000);
	}
	p->fd = fd;
	/* socket buffers stay auto-tuned, as for any QEMU stream peer */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	e = fcntl_nonblock(fd);
	if (e) {
		snprintf(err, errlen, "fcntl: %s", strerror(-e));
		return e;
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

/* tcp_flush() - write the backlog; 1 when empty, 0 when the kernel pushed
 * back, -errno on error */
static int tcp_flush(struct bench_port *p, struct tcp_port *t)
{
	ssize_t w;

	while (t->tx_off < t->tx_len) {
		w = write(p->fd, t->tx_buf + t->tx_off, t->tx_len - t->tx_off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				p->tx_blocked = true;
				return 0;
			}
			return -errno;
		}
		t->tx_off += (size_t)w;
	}
	t->tx_off = t->tx_len = 0;
	p->tx_backlog = false;
	return 1;
}

static int tcp_send(struct bench_port *p, unsigned n, uint8_t epoch,
		    uint64_t now)
{
	struct tcp_port *t = p->tp;
	unsigned i;
	int r;

	r = tcp_flush(p, t);
	if (r <= 0 || !n)
		return r < 0 ? r : 0;
	if (n > t->batch)
		n = t->batch;
	/* tx_buf holds batch copies of the template since open: only the
	 * bench headers change */
	for (i = 0; i < n; i++)
		bench_stamp(p, t->tx_buf + (size_t)i * t->framed + 4, epoch,
			    p->tx_seq + i, now);
	/* the frames are committed to the stream: what the kernel does not
	 * take now stays in the backlog and goes first next time */
	t->tx_len = (size_t)n * t->framed;
	t->tx_off = 0;
	p->tx_backlog = true;
	r = tcp_flush(p, t);
	return r < 0 ? r : (int)n;
}

static int tcp_send_ctrl(struct bench_port *p, const uint8_t *frame,
			 size_t len)
{
	uint8_t buf[4 + BENCH_LEARN_LEN];
	uint32_t be = htonl((uint32_t)len);

	if (len > BENCH_LEARN_LEN)
		return -EMSGSIZE;
	memcpy(buf, &be, 4);
	memcpy(buf + 4, frame, len);
	/* an empty socket at setup takes a small write whole */
	return write(p->fd, buf, 4 + len) == (ssize_t)(4 + len) ? 0 : -EAGAIN;
}

static int tcp_recv(struct bench_port *p)
{
	struct tcp_port *t = p->tp;
	int total = 0;
	unsigned round;
	size_t off;
	ssize_t r;
	uint64_t now;

	for (round = 0; round < BENCH_RX_ROUNDS; round++) {
		r = read(p->fd, t->rx_buf + t->rx_len,
			 BENCH_TCP_RXBUF - t->rx_len);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -errno;
		}
		if (r == 0)
			return -ECONNRESET;
		now = now_ns();
		t->rx_len += (size_t)r;
		off = 0;
		while (t->rx_len - off >= 4) {
			uint32_t be, len;

			memcpy(&be, t->rx_buf + off, 4);
			len = ntohl(be);
			if (len > BENCH_TCP_MAX)
				return -EPROTO;
			if (t->rx_len - off - 4 < len)
				break;
			sink_frame(p->w, p, t->rx_buf + off + 4, len, now);
			off += 4 + (size_t)len;
			total++;
		}
		/* leaves less than 4 + BENCH_TCP_MAX bytes: room to read */
		memmove(t->rx_buf, t->rx_buf + off, t->rx_len - off);
		t->rx_len -= off;
	}
	return total;
}

static const struct bench_transport transport_tcp = {
	.name = "tcp",
	.max_frame = BENCH_TCP_MAX,
	.open = tcp_open,
	.send = tcp_send,
	.send_ctrl = tcp_send_ctrl,
	.recv = tcp_recv,
	.close = tcp_close,
};

/* -- tap: AF_PACKET on a host interface; vde: a native VDE switch port -- */

#include "transport_tap.c"
#include "transport_vde.c"

static const struct bench_transport *const transports[] = {
	&transport_udp,
	&transport_tcp,
	&transport_tap,
	&transport_vde,
};

static const struct bench_transport *transport_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(transports) / sizeof(transports[0]); i++)
		if (!strcmp(transports[i]->name, name))
			return transports[i];
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* /proc probes: what the switch process spent, where UDP dropped          */
/* ---------------------------------------------------------------------- */

struct proc_sample {
	bool ok;
	uint64_t ticks; /* utime + stime of all threads, clock ticks */
	uint64_t ctxsw; /* voluntary + involuntary, summed over threads */
};

static int proc_read(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = 0;
	return 0;
}

/* proc_ctxsw() - context switches of every thread of @pid */
static uint64_t proc_ctxsw(pid_t pid)
{
	char path[300], buf[4096], *l;
	struct dirent *de;
	uint64_t sum = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status",
			 (int)pid, de->d_name);
		if (proc_read(path, buf, sizeof(buf)))
			continue;
		for (l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : l) {
			if (!strncmp(l, "voluntary_ctxt_switches:", 24))
				sum += strtoull(l + 24, NULL, 10);
			else if (!strncmp(l, "nonvoluntary_ctxt_switches:", 27))
				sum += strtoull(l + 27, NULL, 10);
		}
	}
	closedir(d);
	return sum;
}

/* proc_sample_pid() - CPU time and context switches of process @pid */
static struct proc_sample proc_sample_pid(pid_t pid)
{
	struct proc_sample s = { 0 };
	unsigned long ut, st;
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (proc_read(path, buf, sizeof(buf)))
		return s;
	p = strrchr(buf, ')');
	/* after "comm)": state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%lu %lu", &ut, &st) != 2)
		return s;
	s.ticks = (uint64_t)ut + st;
	s.ctxsw = proc_ctxsw(pid);
	s.ok = true;
	return s;
}

/* host_busy_ticks() - CPU ticks all CPUs spent busy since boot (not idle,
 * not waiting for I/O), from /proc/stat; 0 when unreadable */
static uint64_t host_busy_ticks(void)
{
	unsigned long long v[8] = { 0 };
	char buf[512];

	if (proc_read("/proc/stat", buf, sizeof(buf)) ||
	    sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		return 0;
	/* user nice system idle iowait irq softirq steal */
	return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

/**
 * udp_drops() - the kernel's drop counters of loopback UDP sockets
 * @is_switch:	bitmap (65536 bits) of the switch's local ports
 * @is_bench:	bitmap of the bench's local ports
 * Return: 0 and the two sums, or -errno when /proc/net/udp is unreadable
 */
static int udp_drops(const uint8_t *is_switch, const uint8_t *is_bench,
		     uint64_t *sw, uint64_t *bench)
{
	FILE *f = fopen("/proc/net/udp", "re");
	char line[512], *last;
	unsigned lport;

	*sw = *bench = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		uint64_t drops;
		size_t n;

		if (sscanf(line, " %*u: %*x:%x", &lport) != 1 || lport > 65535)
			continue;
		n = strlen(line);
		while (n && isspace((unsigned char)line[n - 1]))
			line[--n] = 0;
		last = strrchr(line, ' ');
		if (!last)
			continue;
		drops = strtoull(last + 1, NULL, 10);
		if (is_switch[lport / 8] & (1u << (lport % 8)))
			*sw += drops;
		if (is_bench[lport / 8] & (1u << (lport % 8)))
			*bench += drops;
	}
	fclose(f);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Workers                                                                  */
/* ---------------------------------------------------------------------- */

static void sleep_until(uint64_t t)
{
	struct timespec ts = {
		.tv_sec = (time_t)(t / NS_PER_S),
		.tv_nsec = (long)(t % NS_PER_S),
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static void port_fail(struct bench_port *p, int err)
{
	if (p->dead)
		return;
	p->dead = true;
	p->err = err;
	if (p->w && p->w->epfd >= 0)
		epoll_ctl(p->w->epfd, EPOLL_CTL_DEL, p->fd, NULL);
}

static void port_want_out(struct bench_worker *w, struct bench_port *p,
			  unsigned slot, bool out)
{
	struct epoll_event ev = {
		.events = EPOLLIN | (out ? EPOLLOUT : 0),
		.data.u32 = slot,
	};

	if (!p->dead)
		epoll_ctl(w->epfd, EPOLL_CTL_MOD, p->fd, &ev);
}

/* worker_send() - one generator step for @p; Return: frames sent */
static int worker_send(struct bench_worker *w, struct bench_port *p,
		       unsigned slot, uint64_t now, uint64_t *next_due)
{
	const struct bench_clock *clk = w->clk;
	uint8_t epoch = now >= clk->t_meas ? BENCH_EPOCH_MEASURE
					   : BENCH_EPOCH_WARMUP;
	unsigned n = 0;
	int r;

	if (now < clk->t_end) {
		n = pace_allowance(p->pace_rate, p->pace_t0, now,
				   p->pace_sent, BENCH_BATCH_MAX);
		if (!n && p->pace_rate > 0) {
			uint64_t due = pace_next_ns(p->pace_rate, p->pace_t0,
						    p->pace_sent);

			if (due < *next_due)
				*next_due = due;
		}
	}
	if (!n && !p->tx_backlog)
		return 0;
	r = p->cfg->transport->send(p, n, epoch, now);
	if (r < 0) {
		port_fail(p, r);
		return 0;
	}
	p->tx_seq += (unsigned)r;
	p->tx_frames[epoch] += (unsigned)r;
	p->pace_sent += (unsigned)r;
	if (p->tx_blocked)
		port_want_out(w, p, slot, true);
	return r;
}

static void *worker_main(void *arg)
{
	struct bench_worker *w = arg;
	const struct bench_clock *clk = w->clk;
	struct epoll_event ev[64];
	struct timespec ts;
	unsigned i;
	int n;

	sleep_until(clk->t_start);
	w->last_rx_ns = clk->t_end;
	for (;;) {
		uint64_t now = now_ns(), next_due = UINT64_MAX, wait;
		bool progressed = false, backlog = false;

		for (i = 0; i < w->n_mine; i++) {
			struct bench_port *p = w->mine[i];

			if (p->dead || !p->sends)
				continue;
			if (!p->tx_blocked &&
			    worker_send(w, p, i, now, &next_due) > 0)
				progressed = true;
			backlog |= p->tx_backlog && !p->dead;
		}

		if (now >= clk->t_end && !backlog &&
		    (now >= clk->t_stop ||
		     now - (w->last_rx_ns > clk->t_end ? w->last_rx_ns
						       : clk->t_end) >=
			     BENCH_DRAIN_QUIET_MS * NS_PER_MS))
			break;
		if (now >= clk->t_stop)
			break;

		if (progressed)
			wait = 0;
		else if (next_due != UINT64_MAX)
			wait = next_due > now ? next_due - now : 0;
		else
			wait = BENCH_IDLE_WAIT_MS * NS_PER_MS;
		if (now < clk->t_end && clk->t_end - now < wait)
			wait = clk->t_end - now;
		ts.tv_sec = (time_t)(wait / NS_PER_S);
		ts.tv_nsec = (long)(wait % NS_PER_S);
		n = epoll_pwait2(w->epfd, ev, 64, &ts, NULL);
		if (n < 0 && errno == ENOSYS) {
			n = epoll_wait(w->epfd, ev, 64,
				       (int)((wait + NS_PER_MS - 1) / NS_PER_MS));
		}
		for (i = 0; n > 0 && i < (unsigned)n; i++) {
			unsigned slot = ev[i].data.u32;
			struct bench_port *p = w->mine[slot];
			int r;

			if (p->dead)
				continue;
			if (ev[i].events & EPOLLOUT) {
				p->tx_blocked = false;
				port_want_out(w, p, slot, false);
			}
			if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
				r = p->cfg->transport->recv(p);
				if (r < 0)
					port_fail(p, r);
			}
		}
	}
	return NULL;
}

static int worker_init(struct bench_worker *w, unsigned id,
		       const struct bench_cfg *cfg,
		       const struct bench_clock *clk,
		       struct bench_port **ports)
{
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->cfg = cfg;
	w->clk = clk;
	w->ports = ports;
	w->epfd = -1;
	w->mine = calloc(cfg->ports, sizeof(*w->mine));
	w->flows = calloc(cfg->ports, sizeof(*w->flows));
	if (!w->mine || !w->flows)
		return -ENOMEM;
	lat_hist_init(&w->hist);
	return 0;
}

static void worker_free(struct bench_worker *w)
{
	if (w->epfd >= 0)
		close(w->epfd);
	w->epfd = -1;
	free(w->mine);
	free(w->flows);
	w->mine = NULL;
	w->flows = NULL;
}

/* worker_adopt() - move port @p to worker @w and watch its fd */
static int worker_adopt(struct bench_worker *w, struct bench_port *p)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = w->n_mine };

	p->w = w;
	w->mine[w->n_mine++] = p;
	if (p->dead)
		return 0;
	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, p->fd, &ev) ? -errno : 0;
}

/* ---------------------------------------------------------------------- */
/* Setup: open the ports, teach the switch every MAC, check the wiring     */
/* ---------------------------------------------------------------------- */

static void learn_frame(unsigned idx, uint8_t *buf)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	frame_template(buf, BENCH_LEARN_LEN, idx, bcast);
	hdr_stamp(buf, (uint16_t)idx, BENCH_EPOCH_LEARN, 0, now_ns());
}

/**
 * setup_poll() - receive what the ports have for up to @ms milliseconds
 * @pfd:	one entry per port, events set
 * Return: 0, or -errno after printing which port failed
 */
static int setup_poll(const struct bench_cfg *cfg, struct bench_port **ports,
		      struct pollfd *pfd, int ms)
{
	unsigned i;
	int r;

	if (poll(pfd, cfg->ports, ms) <= 0)
		return 0;
	for (i = 0; i < cfg->ports; i++) {
		if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
			continue;
		r = cfg->transport->recv(ports[i]);
		if (r < 0) {
			fprintf(stderr, "nethub-bench: port %u: %s while "
				"learning\n", i,
				r == -ECONNRESET ? "the switch closed the "
						   "connection"
						 : strerror(-r));
			return r;
		}
	}
	return 0;
}

/* setup_quiet() - receive until no learning frame came for @quiet_ms or
 * until @until (ns) */
static int setup_quiet(const struct bench_cfg *cfg, struct bench_port **ports,
		       struct bench_worker *sw, struct pollfd *pfd,
		       unsigned quiet_ms, uint64_t until)
{
	uint64_t seen = sw->rx_learn, quiet_end;
	int r;

	quiet_end = now_ns() + quiet_ms * NS_PER_MS;
	while (now_ns() < quiet_end && now_ns() < until) {
		r = setup_poll(cfg, ports, pfd, 5);
		if (r)
			return r;
		if (sw->rx_learn != seen) {
			seen = sw->rx_learn;
			quiet_end = now_ns() + quiet_ms * NS_PER_MS;
		}
	}
	return 0;
}

/**
 * setup_flush() - send what the transports still hold back, so that the
 * workers start with empty backlogs and no port waiting for EPOLLOUT
 * Return: 0, or -errno
 */
static int setup_flush(const struct bench_cfg *cfg, struct bench_port **ports,
		       struct pollfd *pfd, uint64_t deadline)
{
	unsigned i;
	int r;

	for (i = 0; i < cfg->ports; i++) {
		struct bench_port *p = ports[i];

		while (p->tx_backlog || p->tx_blocked) {
			p->tx_blocked = false;
			r = cfg->transport->send(p, 0, BENCH_EPOCH_LEARN,
						 now_ns());
			if (r < 0)
				return r;
			if (!p->tx_backlog)
				break;
			if (now_ns() >= deadline)
				return -ETIMEDOUT;
			/* the switch reads as we receive its output */
			r = setup_poll(cfg, ports, pfd, 1);
			if (r)
				return r;
		}
		p->tx_blocked = false;
	}
	return 0;
}

/**
 * setup_learn_macs() - teach the switch every port's --macs source MACs
 *
 * Each round sends one learning frame from each of every port's MACs
 * (each to the next port's first MAC, which the switch knows by now, so
 * nothing floods), paced at @rate frames/s in total, receiving meanwhile.
 * A round in which every learning frame came through the switch means it
 * saw every MAC; a round that lost some is repeated at half the rate, up
 * to BENCH_LEARN_ROUNDS rounds and until @deadline.
 * Return: 0 (after a warning when some frames never came through), or
 * -errno when a port failed
 */
static int setup_learn_macs(const struct bench_cfg *cfg,
			    struct bench_port **ports, struct bench_worker *sw,
			    struct pollfd *pfd, uint64_t deadline)
{
	uint64_t per_port = cfg->macs, expect = per_port * cfg->ports, got = 0;
	double rate = BENCH_LEARN_RATE;
	unsigned round, i;
	int r;

	for (round = 0; round < BENCH_LEARN_ROUNDS; round++) {
		uint64_t before = sw->rx_learn, t0 = now_ns(), k;

		for (i = 0; i < cfg->ports; i++) {
			ports[i]->tx_seq = 0;
			ports[i]->tx_blocked = false;
		}
		/* all ports advance together through their MACs, k each */
		for (k = 0; k < per_port && now_ns() < deadline;) {
			unsigned n = pace_allowance(rate / cfg->ports, t0,
						    now_ns(), k,
						    BENCH_LEARN_BURST);
			unsigned want = n < per_port - k ? n
							 : (unsigned)(per_port - k);
			unsigned least = want;

			for (i = 0; want && i < cfg->ports; i++) {
				struct bench_port *p = ports[i];
				uint64_t ahead = p->tx_seq - k;
				uint64_t left = want > ahead ? want - ahead : 0;

				while (left && !p->tx_blocked) {
					r = cfg->transport->send(
						p, (unsigned)left,
						BENCH_EPOCH_LEARN, now_ns());
					if (r < 0)
						return r;
					if (!r)
						break;
					p->tx_seq += (unsigned)r;
					p->tx_frames[BENCH_EPOCH_LEARN] +=
						(unsigned)r;
					left -= (unsigned)r;
				}
				if (p->tx_seq - k < least)
					least = (unsigned)(p->tx_seq - k);
			}
			k += least;
			r = setup_poll(cfg, ports, pfd, least ? 0 : 1);
			if (r)
				return r;
			for (i = 0; i < cfg->ports; i++)
				ports[i]->tx_blocked = false;
		}
		r = setup_flush(cfg, ports, pfd, deadline);
		if (r)
			return r;
		r = setup_quiet(cfg, ports, sw, pfd, BENCH_LEARN_QUIET_MS,
				deadline);
		if (r)
			return r;
		got = sw->rx_learn - before;
		if (got >= expect)
			return 0;
		if (now_ns() >= deadline)
			break;
		rate /= 2;
		if (rate < BENCH_LEARN_RATE_MIN)
			rate = BENCH_LEARN_RATE_MIN;
	}
	fprintf(stderr, "nethub-bench: warning: only %" PRIu64 " of %" PRIu64
		" MAC learning frames came through the switch in the last "
		"round; it may not know every MAC\n", got, expect);
	return 0;
}

/**
 * bench_setup() - open the ports, teach the switch where every port (and
 * every one of its MACs) is, and check that each port's frames come
 * through the switch to another port
 * Return: 0, or -errno after printing what went wrong
 */
static int bench_setup(const struct bench_cfg *cfg, struct bench_port **ports,
		       struct bench_worker *sw)
{
	uint64_t deadline = now_ns() +
			    (uint64_t)(BENCH_SETUP_TIMEOUT_S * NS_PER_S);
	uint8_t frame[BENCH_LEARN_LEN];
	struct pollfd *pfd;
	char err[256];
	unsigned i, round;
	bool all;
	int r;

	for (i = 0; i < cfg->ports; i++) {
		ports[i]->w = sw;
		r = cfg->transport->open(ports[i], deadline, err, sizeof(err));
		if (r) {
			fprintf(stderr, "nethub-bench: %s\n", err);
			return r;
		}
	}
	pfd = calloc(cfg->ports, sizeof(*pfd));
	if (!pfd)
		return -ENOMEM;
	for (i = 0; i < cfg->ports; i++) {
		pfd[i].fd = ports[i]->fd;
		pfd[i].events = POLLIN;
	}
	/* every port broadcasts from its first MAC, so the switch learns
	 * where each port is, until each one was heard by another port */
	for (round = 0;; round++) {
		for (i = 0; i < cfg->ports; i++) {
			learn_frame(i, frame);
			if (!cfg->transport->send_ctrl(ports[i], frame,
						       sizeof(frame)))
				ports[i]->tx_frames[BENCH_EPOCH_LEARN]++;
		}
		r = setup_quiet(cfg, ports, sw, pfd, BENCH_LEARN_GAP_MS,
				now_ns() + BENCH_LEARN_GAP_MS * NS_PER_MS);
		if (r)
			goto out;
		all = true;
		for (i = 0; i < cfg->ports; i++)
			if (!ports[i]->learned)
				all = false;
		if (all && round + 1 >= BENCH_LEARN_ROUNDS)
			break;
		if (now_ns() >= deadline) {
			for (i = 0; i < cfg->ports; i++)
				if (!ports[i]->learned)
					fprintf(stderr,
						"nethub-bench: no other port "
						"heard port %u through the "
						"switch in %.0f s (is it up, "
						"and are all ports on one "
						"hub?)\n",
						i, BENCH_SETUP_TIMEOUT_S);
			r = -ETIMEDOUT;
			goto out;
		}
	}
	/* the learning rounds' last frames are in by now */
	r = setup_quiet(cfg, ports, sw, pfd, BENCH_LEARN_GAP_MS, deadline);
	if (r || cfg->macs <= 1)
		goto out;
	/* the other MACs: a time budget that grows with their number */
	deadline = now_ns() +
		   (uint64_t)(BENCH_SETUP_TIMEOUT_S * NS_PER_S) +
		   (uint64_t)((double)cfg->macs * cfg->ports /
			      BENCH_LEARN_FPS_FLOOR * 1e9);
	r = setup_learn_macs(cfg, ports, sw, pfd, deadline);
out:
	for (i = 0; i < cfg->ports; i++)
		ports[i]->tx_seq = 0;
	free(pfd);
	return r;
}

/* ---------------------------------------------------------------------- */
/* Results                                                                  */
/* ---------------------------------------------------------------------- */

/* One port's figures: everything it sent and received in the run, and
 * its share of the measurement window */
struct port_result {
	uint64_t sent_total;	 /* learning, warm-up and measured frames */
	uint64_t received_total; /* every frame that arrived, any kind */
	uint64_t tx_frames;	 /* measured frames it sent */
	uint64_t rx_window;	 /* bench frames it received in the window */
	uint64_t expected;	 /* copies of its measured frames due */
	uint64_t delivered;	 /* of those, arrived (after the drain) */
};

struct bench_result {
	unsigned ports, frame_size; /* this run's (a sweep varies them) */
	uint64_t window_ns;
	uint64_t tx_frames, rx_frames; /* measured epoch, after the drain */
	uint64_t expected;	       /* tx_frames times the copies due */
	uint64_t rx_window;	       /* any epoch, received in the window */
	uint64_t lost, reordered, misdelivered, foreign, tx_errors;
	unsigned flows, port_errors;
	struct lat_hist hist;
	struct port_result *pp; /* ports entries */

	bool sw_ok;
	uint64_t sw_ticks, sw_ctxsw;
	double sw_cpu_pct;
	double bench_cpu_pct;
	double other_cpu_pct; /* the rest of the host: noise */

	bool drops_ok;
	uint64_t switch_in_drops, sink_drops;
};

/**
 * result_merge() - add up the ports' and workers' counters into @res
 * (whose pp array has cfg->ports entries)
 */
static void result_merge(struct bench_result *res, const struct bench_cfg *cfg,
			 struct bench_port **ports, struct bench_worker *ws,
			 unsigned n_workers)
{
	unsigned i, k, copies = pattern_copies(cfg);

	res->ports = cfg->ports;
	res->frame_size = cfg->frame_size;
	for (i = 0; i < cfg->ports; i++) {
		const struct bench_port *p = ports[i];
		struct port_result *pp = &res->pp[i];

		if (p->sends)
			res->flows++;
		pp->sent_total = p->tx_frames[BENCH_EPOCH_WARMUP] +
				 p->tx_frames[BENCH_EPOCH_MEASURE] +
				 p->tx_frames[BENCH_EPOCH_LEARN];
		pp->received_total = p->rx_total;
		pp->tx_frames = p->tx_frames[BENCH_EPOCH_MEASURE];
		pp->rx_window = p->rx_window;
		pp->expected = pp->tx_frames * copies;
		res->tx_frames += pp->tx_frames;
		res->tx_errors += p->tx_errors;
		if (p->dead)
			res->port_errors++;
	}
	lat_hist_init(&res->hist);
	for (k = 0; k < n_workers; k++) {
		const struct bench_worker *w = &ws[k];

		for (i = 0; i < cfg->ports; i++) {
			res->pp[i].delivered += w->flows[i].frames[1];
			res->rx_frames += w->flows[i].frames[1];
			res->reordered += w->flows[i].reordered;
		}
		res->rx_window += w->rx_window;
		res->misdelivered += w->rx_misdelivered;
		res->foreign += w->rx_foreign;
		lat_hist_merge(&res->hist, &w->hist);
	}
	res->expected = res->tx_frames * copies;
	res->lost = res->expected > res->rx_frames
			    ? res->expected - res->rx_frames
			    : 0;
}

static double us(uint64_t ns)
{
	return (double)ns / 1e3;
}

/* switch_ns_per_frame() - switch CPU time per delivered frame */
static double switch_ns_per_frame(const struct bench_result *r)
{
	return r->rx_window ? r->sw_cpu_pct / 100.0 * (double)r->window_ns /
				      (double)r->rx_window
			    : 0.0;
}

/**
 * report_json() - @r as one JSON object on one line (no newline)
 *
 * Keys are stable: scripts (bench/core.sh, bench/compare, the integration
 * test) read them.  docs/bench.md lists and explains each.
 */
static void report_json(FILE *f, const struct bench_cfg *cfg,
			const struct bench_result *r)
{
	const struct lat_hist *h = &r->hist;
	unsigned i;

	fprintf(f, "{\"tool\": \"nethub-bench\", \"version\": \"%s\"",
		NETHUB_VERSION);
	if (cfg->label)
		fprintf(f, ", \"label\": \"%s\"", cfg->label);
	fprintf(f, ", \"transport\": \"%s\", \"pattern\": \"%s\""
		", \"ports\": %u, \"flows\": %u, \"macs\": %u, \"bidir\": %s"
		", \"frame_size\": %u, \"duration_s\": %.3f"
		", \"warmup_s\": %.3f, \"rate_limit_fps\": %.0f",
		cfg->transport->name, pattern_names[cfg->pattern], r->ports,
		r->flows, cfg->macs, cfg->bidir ? "true" : "false",
		r->frame_size, (double)r->window_ns / 1e9, cfg->warmup_s,
		cfg->rate_fps);
	fprintf(f, ", \"tx_frames\": %" PRIu64 ", \"rx_frames\": %" PRIu64
		", \"expected_frames\": %" PRIu64
		", \"rx_window_frames\": %" PRIu64,
		r->tx_frames, r->rx_frames, r->expected, r->rx_window);
	fprintf(f, ", \"offered_fps\": %.0f, \"delivered_fps\": %.0f"
		", \"offered_mbps\": %.3f, \"delivered_mbps\": %.3f",
		rate_per_s(r->tx_frames, r->window_ns),
		rate_per_s(r->rx_window, r->window_ns),
		mbit_per_s(r->tx_frames, r->frame_size, r->window_ns),
		mbit_per_s(r->rx_window, r->frame_size, r->window_ns));
	fprintf(f, ", \"lost_frames\": %" PRIu64 ", \"loss_pct\": %.3f"
		", \"reordered\": %" PRIu64 ", \"misdelivered\": %" PRIu64
		", \"foreign\": %" PRIu64 ", \"tx_errors\": %" PRIu64
		", \"port_errors\": %u",
		r->lost, loss_pct(r->expected, r->rx_frames), r->reordered,
		r->misdelivered, r->foreign, r->tx_errors, r->port_errors);
	fprintf(f, ", \"lat_samples\": %" PRIu64 ", \"lat_min_us\": %.1f"
		", \"lat_p50_us\": %.1f, \"lat_p99_us\": %.1f"
		", \"lat_max_us\": %.1f, \"lat_mean_us\": %.1f",
		h->count, us(h->count ? h->min_ns : 0),
		us(lat_hist_pct(h, 50)), us(lat_hist_pct(h, 99)),
		us(h->max_ns), h->count ? h->sum_ns / (double)h->count / 1e3
					: 0.0);
	if (r->drops_ok)
		fprintf(f, ", \"switch_in_drops\": %" PRIu64
			", \"sink_drops\": %" PRIu64,
			r->switch_in_drops, r->sink_drops);
	if (cfg->switch_pid) {
		fprintf(f, ", \"switch_pid\": %d", (int)cfg->switch_pid);
		if (r->sw_ok)
			fprintf(f, ", \"switch_cpu_pct\": %.1f"
				", \"switch_ns_per_frame\": %.0f"
				", \"switch_ctxsw\": %" PRIu64,
				r->sw_cpu_pct, switch_ns_per_frame(r),
				r->sw_ctxsw);
	}
	fprintf(f, ", \"bench_cpu_pct\": %.1f, \"other_cpu_pct\": %.1f",
		r->bench_cpu_pct, r->other_cpu_pct);
	fprintf(f, ", \"per_port\": [");
	for (i = 0; i < r->ports; i++) {
		const struct port_result *pp = &r->pp[i];

		fprintf(f, "%s{\"port\": %u, \"sent_total\": %" PRIu64
			", \"received_total\": %" PRIu64
			", \"tx_fps\": %.1f, \"rx_fps\": %.1f"
			", \"loss_pct\": %.3f}",
			i ? ", " : "", i, pp->sent_total, pp->received_total,
			rate_per_s(pp->tx_frames, r->window_ns),
			rate_per_s(pp->rx_window, r->window_ns),
			loss_pct(pp->expected, pp->delivered));
	}
	fprintf(f, "]}");
}

/* report_table() - @r as a readable table */
static void report_table(FILE *f, const struct bench_cfg *cfg,
			 const struct bench_result *r)
{
	const struct lat_hist *h = &r->hist;
	double win = (double)r->window_ns / 1e9;
	unsigned i;

	fprintf(f, "nethub-bench %s: %s, %u ports, %s", NETHUB_VERSION,
		cfg->transport->name, r->ports, pattern_names[cfg->pattern]);
	if (cfg->bidir)
		fprintf(f, " both ways");
	fprintf(f, " (%u sending), %u MAC%s per port, %u-byte frames, "
		"%.1f s after %.1f s warm-up, ", r->flows, cfg->macs,
		cfg->macs == 1 ? "" : "s", r->frame_size, win, cfg->warmup_s);
	if (cfg->rate_fps > 0)
		fprintf(f, "rate %.0f frames/s\n", cfg->rate_fps);
	else
		fprintf(f, "rate unlimited\n");
	fprintf(f, "  %-12s %14s %12s %14s\n", "", "frames/s", "Mbit/s",
		"frames");
	fprintf(f, "  %-12s %14.0f %12.1f %14" PRIu64 "\n", "offered",
		rate_per_s(r->tx_frames, r->window_ns),
		mbit_per_s(r->tx_frames, r->frame_size, r->window_ns),
		r->tx_frames);
	fprintf(f, "  %-12s %14.0f %12.1f %14" PRIu64 "\n", "delivered",
		rate_per_s(r->rx_window, r->window_ns),
		mbit_per_s(r->rx_window, r->frame_size, r->window_ns),
		r->rx_window);
	fprintf(f, "  %-12s %.3f %% (%" PRIu64 " of %" PRIu64 " frames",
		"loss", loss_pct(r->expected, r->rx_frames), r->lost,
		r->expected);
	if (cfg->pattern == BENCH_PATTERN_BROADCAST)
		fprintf(f, ": %" PRIu64 " sent times %u receivers",
			r->tx_frames, pattern_copies(cfg));
	if (r->drops_ok)
		fprintf(f, "; socket drops: switch input %" PRIu64
			", bench sink %" PRIu64,
			r->switch_in_drops, r->sink_drops);
	fprintf(f, ")\n");
	fprintf(f, "  %-12s %" PRIu64 " reordered, %" PRIu64
		" misdelivered, %" PRIu64 " foreign, %" PRIu64
		" send errors\n",
		"anomalies", r->reordered, r->misdelivered, r->foreign,
		r->tx_errors);
	fprintf(f, "  %-12s min %.1f  p50 %.1f  p99 %.1f  max %.1f us "
		"(%" PRIu64 " samples%s)\n",
		"latency", us(h->count ? h->min_ns : 0),
		us(lat_hist_pct(h, 50)), us(lat_hist_pct(h, 99)),
		us(h->max_ns), h->count,
		cfg->rate_fps > 0 || !r->tx_frames
			? ""
			: "; at overload: mostly queueing");
	if (cfg->switch_pid && r->sw_ok)
		fprintf(f, "  %-12s %.1f %% of a CPU (pid %d), %.0f ns per "
			"delivered frame, %" PRIu64 " context switches "
			"(%.1f/s)\n",
			"switch cpu", r->sw_cpu_pct, (int)cfg->switch_pid,
			switch_ns_per_frame(r), r->sw_ctxsw,
			rate_per_s(r->sw_ctxsw, r->window_ns));
	else if (cfg->switch_pid)
		fprintf(f, "  %-12s pid %d could not be read\n", "switch cpu",
			(int)cfg->switch_pid);
	fprintf(f, "  %-12s %.1f %% of a CPU\n", "bench cpu",
		r->bench_cpu_pct);
	fprintf(f, "  %-12s %.1f %% of a CPU used by everything else on the "
		"host%s\n", "other load", r->other_cpu_pct,
		r->other_cpu_pct > 20 ? " (noisy: compare with care)" : "");
	fprintf(f, "  %-6s %14s %14s %10s %14s %14s\n", "port", "tx frames/s",
		"rx frames/s", "loss %", "sent total", "received total");
	for (i = 0; i < r->ports; i++) {
		const struct port_result *pp = &r->pp[i];

		fprintf(f, "  %-6u %14.0f %14.0f %10.3f %14" PRIu64
			" %14" PRIu64 "\n", i,
			rate_per_s(pp->tx_frames, r->window_ns),
			rate_per_s(pp->rx_window, r->window_ns),
			loss_pct(pp->expected, pp->delivered),
			pp->sent_total, pp->received_total);
	}
}

static const char *sweep_key(const struct bench_cfg *cfg)
{
	return cfg->sweep == BENCH_SWEEP_PORTS ? "ports" : "frame_size";
}

static unsigned sweep_value(const struct bench_cfg *cfg,
			    const struct bench_result *r)
{
	return cfg->sweep == BENCH_SWEEP_PORTS ? r->ports : r->frame_size;
}

/* report_sweep_json() - a sweep's @n runs as one JSON object */
static void report_sweep_json(FILE *f, const struct bench_cfg *cfg,
			      const struct bench_result *runs, unsigned n)
{
	unsigned i;

	fprintf(f, "{\"tool\": \"nethub-bench\", \"version\": \"%s\", "
		"\"sweep\": \"%s\", \"runs\": [", NETHUB_VERSION,
		sweep_key(cfg));
	for (i = 0; i < n; i++) {
		fputs(i ? ",\n  " : "\n  ", f);
		report_json(f, cfg, &runs[i]);
	}
	fprintf(f, "]}\n");
}

/* report_sweep_table() - one line per run of a sweep */
static void report_sweep_table(FILE *f, const struct bench_cfg *cfg,
			       const struct bench_result *runs, unsigned n)
{
	unsigned i;

	fprintf(f, "\nsweep over %s (%s, %s):\n", sweep_key(cfg),
		cfg->transport->name, pattern_names[cfg->pattern]);
	fprintf(f, "  %10s %14s %14s %10s %10s %10s %10s\n", sweep_key(cfg),
		"offered fps", "delivered fps", "Gbit/s", "loss %",
		"p50 us", "p99 us");
	for (i = 0; i < n; i++) {
		const struct bench_result *r = &runs[i];

		fprintf(f, "  %10u %14.0f %14.0f %10.3f %10.3f %10.1f "
			"%10.1f\n", sweep_value(cfg, r),
			rate_per_s(r->tx_frames, r->window_ns),
			rate_per_s(r->rx_window, r->window_ns),
			mbit_per_s(r->rx_window, r->frame_size,
				   r->window_ns) / 1e3,
			loss_pct(r->expected, r->rx_frames),
			us(lat_hist_pct(&r->hist, 50)),
			us(lat_hist_pct(&r->hist, 99)));
	}
}

/**
 * progress_format() - the live progress line
 * @elapsed_ns:	time since the measurement window began
 * @rx_window:	frames delivered in the window so far
 * @expected:	copies of the measured frames sent so far that are due
 * @received:	measured frames received so far
 */
static void progress_format(char *buf, size_t len, uint64_t elapsed_ns,
			    double duration_s, uint64_t rx_window,
			    uint64_t expected, uint64_t received)
{
	snprintf(buf, len, "nethub-bench: %5.1f/%.1f s  %12.0f frames/s "
		 "delivered  loss %.3f %%",
		 (double)elapsed_ns / 1e9, duration_s,
		 rate_per_s(rx_window, elapsed_ns),
		 loss_pct(expected, received));
}

/* ---------------------------------------------------------------------- */
/* Plots (gnuplot)                                                          */
/* ---------------------------------------------------------------------- */

/**
 * plot_data() - the data file gnuplot plots: a comment naming the
 * columns, then per run: swept value, delivered frames/s, delivered
 * Gbit/s, offered frames/s, loss %
 */
static void plot_data(FILE *f, const struct bench_cfg *cfg,
		      const struct bench_result *runs, unsigned n)
{
	unsigned i;

	fprintf(f, "# %s delivered_fps delivered_gbps offered_fps loss_pct\n",
		sweep_key(cfg));
	for (i = 0; i < n; i++) {
		const struct bench_result *r = &runs[i];

		fprintf(f, "%u %.0f %.6f %.0f %.3f\n", sweep_value(cfg, r),
			rate_per_s(r->rx_window, r->window_ns),
			mbit_per_s(r->rx_window, r->frame_size,
				   r->window_ns) / 1e3,
			rate_per_s(r->tx_frames, r->window_ns),
			loss_pct(r->expected, r->rx_frames));
	}
}

/* gp_quote() - @s as a single-quoted gnuplot string */
static void gp_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

/* plot_is_png() - does --plot @path ask for PNG (else SVG)? */
static bool plot_is_png(const char *path)
{
	size_t n = strlen(path);

	return n >= 4 && !strcasecmp(path + n - 4, ".png");
}

/**
 * plot_script() - the gnuplot script drawing @data_path (@n runs) into
 * @out_path: delivered frames/s on the left axis, Gbit/s on the right,
 * against the swept value (a log2 axis when the values span 8x or more)
 */
static void plot_script(FILE *f, const struct bench_cfg *cfg,
			const struct bench_result *runs, unsigned n,
			const char *data_path, const char *out_path)
{
	unsigned i, lo = UINT_MAX, hi = 0, v;
	char title[256];

	snprintf(title, sizeof(title), "nethub-bench: %s, %s%s%s",
		 cfg->transport->name, pattern_names[cfg->pattern],
		 cfg->label ? ", " : "", cfg->label ? cfg->label : "");
	if (plot_is_png(out_path))
		fprintf(f, "set terminal pngcairo size 900,540\n");
	else
		fprintf(f, "set terminal svg size 900,540 dynamic\n");
	fprintf(f, "set output ");
	gp_quote(f, out_path);
	fprintf(f, "\nset title ");
	gp_quote(f, title);
	fprintf(f, " noenhanced\nset xlabel '%s'\n",
		cfg->sweep == BENCH_SWEEP_PORTS ? "ports"
						 : "frame size (bytes)");
	fprintf(f, "set ylabel 'delivered frames/s'\n"
		"set y2label 'delivered Gbit/s'\n"
		"set ytics nomirror\nset y2tics\n"
		"set yrange [0:*]\nset y2range [0:*]\n"
		"set grid\nset key below\n");
	fprintf(f, "set xtics (");
	for (i = 0; i < n; i++) {
		v = sweep_value(cfg, &runs[i]);
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
		fprintf(f, "%s%u", i ? ", " : "", v);
	}
	fprintf(f, ")\n");
	if (n && hi >= 8 * (uint64_t)lo)
		fprintf(f, "set logscale x 2\n");
	fprintf(f, "plot ");
	gp_quote(f, data_path);
	fprintf(f, " using 1:2 axes x1y1 with linespoints lw 2 pt 7 "
		"title 'frames/s', \\\n     ");
	gp_quote(f, data_path);
	fprintf(f, " using 1:3 axes x1y2 with linespoints lw 2 pt 5 "
		"title 'Gbit/s'\n");
}

/* find_in_path() - is there an executable @name in $PATH? */
static bool find_in_path(const char *name)
{
	const char *path = getenv("PATH"), *p, *end;
	char buf[PATH_MAX];

	if (!path)
		return false;
	for (p = path; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		if (snprintf(buf, sizeof(buf), "%.*s/%s", (int)(end - p), p,
			     name) < (int)sizeof(buf) &&
		    end > p && access(buf, X_OK) == 0)
			return true;
	}
	return false;
}

/**
 * plot_run() - write the data and script to temporary files, run gnuplot
 * on them, remove them
 * Return: 0, or -1 after printing what went wrong
 */
static int plot_run(const struct bench_cfg *cfg,
		    const struct bench_result *runs, unsigned n)
{
	const char *tmp = getenv("TMPDIR");
	char data[PATH_MAX], script[PATH_MAX];
	FILE *df = NULL, *sf = NULL;
	int dfd = -1, sfd = -1, status, ret = -1;
	bool have_script = false;
	pid_t pid;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(data, sizeof(data), "%s/nethub-bench-data.XXXXXX", tmp);
	snprintf(script, sizeof(script), "%s/nethub-bench-plot.XXXXXX", tmp);
	dfd = mkstemp(data);
	if (dfd < 0) {
		fprintf(stderr, "nethub-bench: --plot: %s: %s\n", data,
			strerror(errno));
		return -1;
	}
	sfd = mkstemp(script);
	if (sfd < 0) {
		fprintf(stderr, "nethub-bench: --plot: %s: %s\n", script,
			strerror(errno));
		goto out;
	}
	have_script = true;
	df = fdopen(dfd, "w");
	if (df)
		dfd = -1;
	sf = df ? fdopen(sfd, "w") : NULL;
	if (sf)
		sfd = -1;
	if (!df || !sf) {
		fprintf(stderr, "nethub-bench: --plot: %s\n", strerror(errno));
		goto out;
	}
	plot_data(df, cfg, runs, n);
	plot_script(sf, cfg, runs, n, data, cfg->plot);
	if (fclose(df) | fclose(sf)) {
		df = sf = NULL;
		fprintf(stderr, "nethub-bench: --plot: writing %s: %s\n", tmp,
			strerror(errno));
		goto out;
	}
	df = sf = NULL;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "nethub-bench: --plot: fork: %s\n",
			strerror(errno));
		goto out;
	}
	if (!pid) {
		execlp("gnuplot", "gnuplot", script, (char *)NULL);
		fprintf(stderr, "nethub-bench: --plot: gnuplot: %s\n",
			strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "nethub-bench: --plot: gnuplot failed; %s was "
			"not written\n", cfg->plot);
		goto out;
	}
	ret = 0;
out:
	if (df)
		fclose(df);
	if (sf)
		fclose(sf);
	if (dfd >= 0)
		close(dfd);
	if (sfd >= 0)
		close(sfd);
	unlink(data);
	if (have_script)
		unlink(script);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Options                                                                  */
/* ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: nethub-bench [--transport udp|tcp|tap|vde] [OPTION]...\n"
		"Attach N ports to a switch, send frames between them in a "
		"pattern and\nreport frames/s, loss, latency and the switch's "
		"CPU use (docs/bench.md).\n\n"
		"  --transport T          udp (default), tcp, tap or vde\n"
		"  --udp-ports BASE       udp: port i binds 127.0.0.1:BASE+2i "
		"and sends to\n"
		"                         127.0.0.1:BASE+2i+1 (the switch's "
		"localaddr=)\n"
		"  --connect LIST         tcp: HOST:PORT; tap: interface "
		"names; vde: socket\n"
		"                         directory; one for all ports or "
		"one per port\n"
		"  --ports N|N,N,...      ports (default 2); a list sweeps "
		"(one run per value)\n"
		"  --frame-size B|B,B,... Ethernet frame, header included, "
		"no FCS (default 64);\n"
		"                         a list sweeps\n"
		"  --macs N               source MACs per port, and "
		"destination MACs (default 1)\n"
		"  --pattern P            pairwise (2k to 2k+1, default), "
		"all-to-all,\n"
		"                         broadcast or idle (send nothing)\n"
		"  --bidir                pairwise: port 2k+1 sends to 2k "
		"as well\n"
		"  --duration S           measured seconds (default 5)\n"
		"  --warmup S             seconds of traffic before measuring "
		"(default 1)\n"
		"  --rate FPS             total offered frames/s (default: as "
		"fast as possible)\n"
		"  --batch N              frames per send call (udp 64, tcp "
		"up to 256 KiB)\n"
		"  --threads N            worker threads (default 1)\n"
		"  --no-gso               udp: sendmmsg, not UDP GSO sends\n"
		"  --switch-pid PID       report that process's CPU use and "
		"context switches\n"
		"  --label TEXT           carried into the JSON output and "
		"plot title\n"
		"  --json                 JSON instead of the table\n"
		"  --progress, --no-progress\n"
		"                         a live line on stderr each second "
		"(default: on a tty)\n"
		"  --plot FILE.svg|FILE.png\n"
		"                         draw a sweep with gnuplot\n"
		"  --help, --version\n");
}

static void __attribute__((noreturn, format(printf, 2, 3)))
bad_option(const char *opt, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "nethub-bench: %s: ", opt);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* parse_uint() - a whole decimal number in [min, max]; Return: 0 or -1 */
static int parse_uint(const char *s, unsigned min, unsigned max,
		      unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || s[0] == '+' ||
	    isspace((unsigned char)s[0]) || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static unsigned opt_uint(const char *opt, const char *s, unsigned min,
			 unsigned max)
{
	unsigned v;

	if (parse_uint(s, min, max, &v))
		bad_option(opt, "'%s' is not a whole number from %u to %u", s,
			   min, max);
	return v;
}

/**
 * uint_list_parse() - "N" or "N,N,..." with each N in [min, max]
 * @vals:	receives the values, at most @cap of them
 * @err:	says what is wrong on failure
 * Return: the number of values (>= 1), or -1
 */
static int uint_list_parse(const char *s, unsigned min, unsigned max,
			   unsigned *vals, unsigned cap, char *err,
			   size_t errlen)
{
	char item[32];
	const char *p = s, *comma;
	unsigned n = 0;
	size_t len;

	for (;;) {
		comma = strchr(p, ',');
		len = comma ? (size_t)(comma - p) : strlen(p);
		if (!len || len >= sizeof(item)) {
			snprintf(err, errlen, "'%s' is not a number or a "
				 "comma-separated list of numbers", s);
			return -1;
		}
		memcpy(item, p, len);
		item[len] = 0;
		if (n == cap) {
			snprintf(err, errlen, "more than %u values in '%s'",
				 cap, s);
			return -1;
		}
		if (parse_uint(item, min, max, &vals[n])) {
			snprintf(err, errlen, "'%s' is not a whole number "
				 "from %u to %u", item, min, max);
			return -1;
		}
		n++;
		if (!comma)
			return (int)n;
		p = comma + 1;
	}
}

static double opt_double(const char *opt, const char *s, double min,
			 double max)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max))
		bad_option(opt, "'%s' is not a number from %g to %g", s, min,
			   max);
	return v;
}

static void split_connect(struct bench_cfg *cfg, char *list)
{
	char *tok, *save = NULL;

	cfg->n_connect = 0;
	free(cfg->connect);
	cfg->connect = calloc(BENCH_PORTS_MAX, sizeof(*cfg->connect));
	if (!cfg->connect)
		bad_option("--connect", "out of memory");
	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (cfg->n_connect == BENCH_PORTS_MAX)
			bad_option("--connect", "more than %u entries",
				   BENCH_PORTS_MAX);
		cfg->connect[cfg->n_connect++] = tok;
	}
	if (!cfg->n_connect)
		bad_option("--connect", "is empty");
}

/* pattern_find() - --pattern's value; Return: 0 or -1 */
static int pattern_find(const char *name, enum bench_pattern *out)
{
	unsigned i;

	for (i = 0; i < sizeof(pattern_names) / sizeof(pattern_names[0]); i++)
		if (!strcmp(pattern_names[i], name)) {
			*out = (enum bench_pattern)i;
			return 0;
		}
	return -1;
}

/**
 * cfg_check_ports() - can a run with @ports ports go ahead?
 * Return: NULL, or what is wrong with --ports (a static string)
 */
static const char *cfg_check_ports(const struct bench_cfg *cfg,
				   unsigned ports)
{
	if (cfg->pattern == BENCH_PATTERN_PAIRWISE && ports % 2)
		return "is odd; pairwise needs pairs";
	if ((uint64_t)cfg->macs * ports > BENCH_MACS_TOTAL)
		return "times --macs passes 2097152 MACs in total";
	if (cfg->threads > ports)
		return "is fewer than --threads";
	if (cfg->n_connect > 1 && cfg->n_connect < ports)
		return "is more than --connect's entries";
	return NULL;
}

static void parse_options(struct bench_cfg *cfg, int argc, char **argv)
{
	enum {
		O_TRANSPORT = 256, O_CONNECT, O_UDP_PORTS, O_PORTS,
		O_FRAME_SIZE, O_DURATION, O_WARMUP, O_PATTERN, O_BIDIR,
		O_RATE, O_BATCH, O_THREADS, O_SWITCH_PID, O_LABEL, O_JSON,
		O_NO_GSO, O_MACS, O_PROGRESS, O_NO_PROGRESS, O_PLOT, O_HELP,
		O_VERSION,
	};
	static const struct option longopts[] = {
		{ "transport", required_argument, NULL, O_TRANSPORT },
		{ "connect", required_argument, NULL, O_CONNECT },
		{ "udp-ports", required_argument, NULL, O_UDP_PORTS },
		{ "ports", required_argument, NULL, O_PORTS },
		{ "frame-size", required_argument, NULL, O_FRAME_SIZE },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "warmup", required_argument, NULL, O_WARMUP },
		{ "pattern", required_argument, NULL, O_PATTERN },
		{ "bidir", no_argument, NULL, O_BIDIR },
		{ "rate", required_argument, NULL, O_RATE },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "switch-pid", required_argument, NULL, O_SWITCH_PID },
		{ "label", required_argument, NULL, O_LABEL },
		{ "json", no_argument, NULL, O_JSON },
		{ "no-gso", no_argument, NULL, O_NO_GSO },
		{ "macs", required_argument, NULL, O_MACS },
		{ "progress", no_argument, NULL, O_PROGRESS },
		{ "no-progress", no_argument, NULL, O_NO_PROGRESS },
		{ "plot", required_argument, NULL, O_PLOT },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	unsigned ports_vals[BENCH_SWEEP_MAX], fs_vals[BENCH_SWEEP_MAX];
	int n_ports = 0, n_fs = 0, progress = -1;
	unsigned max_frame, i, max_ports;
	const char *l, *why;
	char err[128];
	int c;

	memset(cfg, 0, sizeof(*cfg));
	cfg->transport = &transport_udp;
	cfg->ports = 2;
	cfg->frame_size = 64;
	cfg->duration_s = 5;
	cfg->warmup_s = 1;
	cfg->threads = 1;
	cfg->macs = 1;
	cfg->udp_gso = true;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_TRANSPORT:
			cfg->transport = transport_find(optarg);
			if (!cfg->transport)
				bad_option("--transport",
					   "'%s' is not one of udp, tcp, tap, vde", optarg);
			break;
		case O_CONNECT:
			split_connect(cfg, optarg);
			break;
		case O_UDP_PORTS:
			cfg->udp_base = opt_uint("--udp-ports", optarg, 1,
						 65534);
			break;
		case O_PORTS:
			n_ports = uint_list_parse(optarg, 2, BENCH_PORTS_MAX,
						  ports_vals, BENCH_SWEEP_MAX,
						  err, sizeof(err));
			if (n_ports < 0)
				bad_option("--ports", "%s", err);
			break;
		case O_FRAME_SIZE:
			n_fs = uint_list_parse(optarg, BENCH_FRAME_MIN,
					       BENCH_TCP_MAX, fs_vals,
					       BENCH_SWEEP_MAX, err,
					       sizeof(err));
			if (n_fs < 0)
				bad_option("--frame-size", "%s", err);
			break;
		case O_DURATION:
			cfg->duration_s = opt_double("--duration", optarg,
						     0.1, 3600);
			break;
		case O_WARMUP:
			cfg->warmup_s = opt_double("--warmup", optarg, 0,
						   3600);
			break;
		case O_PATTERN:
			if (pattern_find(optarg, &cfg->pattern))
				bad_option("--pattern",
					   "'%s' is not one of pairwise, "
					   "all-to-all, broadcast, idle",
					   optarg);
			break;
		case O_BIDIR:
			cfg->bidir = true;
			break;
		case O_RATE:
			cfg->rate_fps = opt_double("--rate", optarg, 0, 1e9);
			break;
		case O_BATCH:
			cfg->batch = opt_uint("--batch", optarg, 1,
					      BENCH_BATCH_MAX);
			break;
		case O_THREADS:
			cfg->threads = opt_uint("--threads", optarg, 1,
						BENCH_THREADS_MAX);
			break;
		case O_SWITCH_PID:
			cfg->switch_pid = (pid_t)opt_uint("--switch-pid",
							  optarg, 1, INT_MAX);
			break;
		case O_LABEL:
			for (l = optarg; *l; l++)
				if (*l == '"' || *l == '\\' ||
				    (unsigned char)*l < 0x20)
					bad_option("--label",
						   "quotes, backslashes and "
						   "control characters are "
						   "not allowed");
			if (strlen(optarg) > 200)
				bad_option("--label", "longer than 200 "
					   "characters");
			cfg->label = optarg;
			break;
		case O_JSON:
			cfg->json = true;
			break;
		case O_NO_GSO:
			cfg->udp_gso = false;
			break;
		case O_MACS:
			cfg->macs = opt_uint("--macs", optarg, 1,
					     BENCH_MACS_MAX);
			break;
		case O_PROGRESS:
			progress = 1;
			break;
		case O_NO_PROGRESS:
			progress = 0;
			break;
		case O_PLOT:
			if (!*optarg)
				bad_option("--plot", "is empty");
			cfg->plot = optarg;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		case O_VERSION:
			printf("nethub-bench %s\n", NETHUB_VERSION);
			exit(0);
		default:
			usage(stderr);
			exit(1);
		}
	}
	if (optind < argc)
		bad_option(argv[optind], "unexpected argument");
	cfg->progress = progress < 0 ? isatty(STDERR_FILENO) : progress;

	if (n_ports > 1 && n_fs > 1)
		bad_option("--ports", "a list sweeps, and so does "
			   "--frame-size's: sweep one at a time");
	if (n_ports > 1) {
		cfg->sweep = BENCH_SWEEP_PORTS;
		cfg->n_sweep = (unsigned)n_ports;
		memcpy(cfg->sweep_vals, ports_vals, sizeof(ports_vals));
	} else if (n_fs > 1) {
		cfg->sweep = BENCH_SWEEP_FRAME_SIZE;
		cfg->n_sweep = (unsigned)n_fs;
		memcpy(cfg->sweep_vals, fs_vals, sizeof(fs_vals));
	}
	if (n_ports)
		cfg->ports = ports_vals[0];
	if (n_fs)
		cfg->frame_size = fs_vals[0];

	/* every run of a sweep must be possible */
	max_ports = cfg->ports;
	max_frame = cfg->transport->max_frame;
	for (i = 0; i < cfg->n_sweep || i == 0; i++) {
		unsigned ports = cfg->sweep == BENCH_SWEEP_PORTS
					 ? cfg->sweep_vals[i] : cfg->ports;
		unsigned fs = cfg->sweep == BENCH_SWEEP_FRAME_SIZE
				      ? cfg->sweep_vals[i] : cfg->frame_size;

		why = cfg_check_ports(cfg, ports);
		if (why)
			bad_option("--ports", "%u %s", ports, why);
		if (fs > max_frame)
			bad_option("--frame-size", "%u is more than %s "
				   "carries (%u)", fs, cfg->transport->name,
				   max_frame);
		if (ports > max_ports)
			max_ports = ports;
	}
	if (cfg->bidir && cfg->pattern != BENCH_PATTERN_PAIRWISE)
		bad_option("--bidir", "is for --pattern pairwise; %s sends "
			   "every way already",
			   pattern_names[cfg->pattern]);
	if (cfg->pattern == BENCH_PATTERN_IDLE && cfg->rate_fps > 0)
		bad_option("--rate", "--pattern idle sends nothing");
	if (cfg->plot) {
		if (!cfg->sweep)
			bad_option("--plot", "draws a sweep: give --ports or "
				   "--frame-size a list of values");
		l = strrchr(cfg->plot, '.');
		if (!l || (strcasecmp(l, ".svg") && strcasecmp(l, ".png")))
			bad_option("--plot", "'%s' does not end in .svg or "
				   ".png", cfg->plot);
		if (!find_in_path("gnuplot"))
			bad_option("--plot", "gnuplot is not in PATH (Debian: "
				   "apt-get install gnuplot-nox)");
	}
	if (cfg->transport == &transport_udp) {
		if (!cfg->udp_base)
			bad_option("--udp-ports", "is required with udp");
		if (cfg->udp_base + 2 * max_ports - 1 > 65535)
			bad_option("--udp-ports", "%u + 2 * %u ports passes "
				   "65535", cfg->udp_base, max_ports);
		if (cfg->n_connect)
			bad_option("--connect", "is for tcp, tap and vde, not "
				   "udp");
	} else {
		if (!cfg->n_connect)
			bad_option("--connect", "is required with %s",
				   cfg->transport->name);
		if (cfg->n_connect != 1 && cfg->n_connect != max_ports)
			bad_option("--connect", "%u entries for %u ports "
				   "(give one, or one per port)",
				   cfg->n_connect, max_ports);
		if (cfg->udp_base)
			bad_option("--udp-ports", "is for udp, not %s",
				   cfg->transport->name);
	}
}

/* ---------------------------------------------------------------------- */
/* One run                                                                  */
/* ---------------------------------------------------------------------- */

static uint64_t self_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_utime.tv_sec * 1000000 +
	       (uint64_t)ru.ru_utime.tv_usec +
	       (uint64_t)ru.ru_stime.tv_sec * 1000000 +
	       (uint64_t)ru.ru_stime.tv_usec;
}

static uint64_t load_u64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/**
 * progress_show() - print the live line for the window so far (the
 * workers are running: their counters are read without stopping them)
 */
static void progress_show(const struct bench_cfg *cfg,
			  struct bench_port **ports, struct bench_worker *ws,
			  uint64_t elapsed, bool tty)
{
	uint64_t rx_window = 0, tx = 0, rx = 0;
	unsigned i, k;
	char line[160];

	for (k = 0; k < cfg->threads; k++) {
		rx_window += load_u64(&ws[k].rx_window);
		for (i = 0; i < cfg->ports; i++)
			rx += load_u64(&ws[k].flows[i].frames[1]);
	}
	for (i = 0; i < cfg->ports; i++)
		tx += load_u64(&ports[i]->tx_frames[BENCH_EPOCH_MEASURE]);
	progress_format(line, sizeof(line), elapsed, cfg->duration_s,
			rx_window, tx * pattern_copies(cfg), rx);
	fprintf(stderr, tty ? "\r%s\033[K" : "%s\n", line);
}

/* measure() - wait out the window, showing progress; sample the /proc
 * figures at both ends */
static void measure(const struct bench_cfg *cfg, const struct bench_clock *clk,
		    struct bench_port **ports, struct bench_worker *ws,
		    struct proc_sample *sw0, struct proc_sample *sw1)
{
	bool tty = isatty(STDERR_FILENO);
	uint64_t t;

	sleep_until(clk->t_meas);
	if (cfg->switch_pid)
		*sw0 = proc_sample_pid(cfg->switch_pid);
	for (t = clk->t_meas + BENCH_PROGRESS_NS; cfg->progress;
	     t += BENCH_PROGRESS_NS) {
		sleep_until(t < clk->t_end ? t : clk->t_end);
		if (t >= clk->t_end)
			break;
		progress_show(cfg, ports, ws, t - clk->t_meas, tty);
	}
	sleep_until(clk->t_end);
	if (cfg->switch_pid)
		*sw1 = proc_sample_pid(cfg->switch_pid);
	if (cfg->progress && tty)
		fprintf(stderr, "\r\033[K");
}

/**
 * bench_run() - one measurement with @cfg: open the ports, learn, warm up,
 * measure, drain, close
 * @res:	filled in; res->pp is allocated (free it with free())
 * Return: 0; 1 when a port failed during the run (@res is still valid);
 * -1 when the run could not be made (after printing why)
 */
static int bench_run(const struct bench_cfg *cfg, struct bench_result *res)
{
	static uint8_t sw_ports[8192], bench_ports[8192];
	struct proc_sample sw0 = { 0 }, sw1 = { 0 };
	struct bench_worker setup_w, *ws = NULL;
	struct bench_port **ports = NULL;
	struct bench_clock clk;
	uint64_t cpu0, cpu1, d0s = 0, d0b = 0, d1s, d1b, host0, host1;
	long hz = sysconf(_SC_CLK_TCK);
	double busy_pct;
	unsigned i, senders = 0, n_ws = 0;
	bool drops0;
	int r, status = -1;

	memset(res, 0, sizeof(*res));
	memset(&clk, 0, sizeof(clk));
	memset(sw_ports, 0, sizeof(sw_ports));
	memset(bench_ports, 0, sizeof(bench_ports));
	memset(&setup_w, 0, sizeof(setup_w));
	setup_w.epfd = -1;
	res->pp = calloc(cfg->ports, sizeof(*res->pp));
	ports = calloc(cfg->ports, sizeof(*ports));
	ws = calloc(cfg->threads, sizeof(*ws));
	if (!res->pp || !ports || !ws)
		goto nomem;
	for (i = 0; i < cfg->threads; i++)
		ws[i].epfd = -1;
	for (i = 0; i < cfg->ports; i++) {
		struct bench_port *p = calloc(1, sizeof(*p));

		if (!p)
			goto nomem;
		ports[i] = p;
		p->idx = i;
		p->fd = -1;
		p->cfg = cfg;
		p->peer = cfg->pattern == BENCH_PATTERN_PAIRWISE
				  ? pattern_peer(cfg, i) : -1;
		p->sends = pattern_sends(cfg, i);
		p->rx_next = calloc(cfg->ports, sizeof(*p->rx_next));
		if (!p->rx_next)
			goto nomem;
		senders += p->sends;
	}

	if (worker_init(&setup_w, 0, cfg, &clk, ports))
		goto nomem;
	setup_w.setup = true;
	if (bench_setup(cfg, ports, &setup_w))
		goto out;

	for (i = 0; i < cfg->threads; i++, n_ws++) {
		if (worker_init(&ws[i], i, cfg, &clk, ports))
			goto nomem;
		ws[i].epfd = epoll_create1(EPOLL_CLOEXEC);
		if (ws[i].epfd < 0) {
			perror("nethub-bench: epoll_create1");
			goto out;
		}
	}
	for (i = 0; i < cfg->ports; i++) {
		if (worker_adopt(&ws[i % cfg->threads], ports[i])) {
			perror("nethub-bench: epoll_ctl");
			goto out;
		}
		if (cfg->transport == &transport_udp) {
			uint16_t s = ports[i]->udp_switch_port,
				 b = ports[i]->udp_local_port;

			sw_ports[s / 8] |= (uint8_t)(1u << (s % 8));
			bench_ports[b / 8] |= (uint8_t)(1u << (b % 8));
		}
	}

	clk.t_start = now_ns() + 20 * NS_PER_MS;
	clk.t_meas = clk.t_start + (uint64_t)(cfg->warmup_s * 1e9);
	clk.t_end = clk.t_meas + (uint64_t)(cfg->duration_s * 1e9);
	clk.t_stop = clk.t_end + (uint64_t)(BENCH_DRAIN_MAX_S * 1e9);
	for (i = 0; i < cfg->ports; i++) {
		ports[i]->pace_t0 = clk.t_start;
		ports[i]->pace_rate = cfg->rate_fps > 0 && ports[i]->sends
					      ? cfg->rate_fps / senders
					      : 0;
	}
	for (i = 0; i < cfg->threads; i++) {
		r = pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]);
		if (r) {
			fprintf(stderr, "nethub-bench: pthread_create: %s\n",
				strerror(r));
			/* the started ones stop by themselves at t_stop */
			while (i--)
				pthread_join(ws[i].thread, NULL);
			goto out;
		}
	}

	sleep_until(clk.t_meas);
	cpu0 = self_cpu_us();
	host0 = host_busy_ticks();
	drops0 = cfg->transport == &transport_udp &&
		 !udp_drops(sw_ports, bench_ports, &d0s, &d0b);
	measure(cfg, &clk, ports, ws, &sw0, &sw1);
	if (sw0.ok && sw1.ok) {
		res->sw_ok = true;
		res->sw_ticks = sw1.ticks - sw0.ticks;
		res->sw_ctxsw = sw1.ctxsw - sw0.ctxsw;
	}
	cpu1 = self_cpu_us();
	host1 = host_busy_ticks();
	for (i = 0; i < cfg->threads; i++)
		pthread_join(ws[i].thread, NULL);
	if (drops0 && !udp_drops(sw_ports, bench_ports, &d1s, &d1b)) {
		res->drops_ok = true;
		res->switch_in_drops = d1s - d0s;
		res->sink_drops = d1b - d0b;
	}

	res->window_ns = clk.t_end - clk.t_meas;
	result_merge(res, cfg, ports, ws, cfg->threads);
	if (res->sw_ok)
		res->sw_cpu_pct = cpu_pct(res->sw_ticks, hz, res->window_ns);
	res->bench_cpu_pct = 100.0 * (double)(cpu1 - cpu0) * 1e3 /
			     (double)res->window_ns;
	busy_pct = host0 && host1 ? cpu_pct(host1 - host0, hz, res->window_ns)
				  : 0.0;
	res->other_cpu_pct = busy_pct - res->bench_cpu_pct - res->sw_cpu_pct;
	if (res->other_cpu_pct < 0)
		res->other_cpu_pct = 0;
	status = 0;
	for (i = 0; i < cfg->ports; i++) {
		if (ports[i]->dead) {
			fprintf(stderr, "nethub-bench: port %u: %s\n", i,
				ports[i]->err == -ECONNRESET
					? "the switch closed the connection"
					: strerror(-ports[i]->err));
			status = 1;
		}
	}
	goto out;
nomem:
	fprintf(stderr, "nethub-bench: out of memory\n");
out:
	for (i = 0; ports && i < cfg->ports; i++) {
		if (!ports[i])
			continue;
		if (ports[i]->fd >= 0 || ports[i]->tp)
			cfg->transport->close(ports[i]);
		free(ports[i]->rx_next);
		free(ports[i]);
	}
	worker_free(&setup_w);
	for (i = 0; ws && i < n_ws; i++)
		worker_free(&ws[i]);
	free(ports);
	free(ws);
	if (status < 0) {
		free(res->pp);
		res->pp = NULL;
	}
	return status;
}

/* ---------------------------------------------------------------------- */
/* main                                                                     */
/* ---------------------------------------------------------------------- */

int main(int argc, char **argv);

int main(int argc, char **argv)
{
	struct bench_result *runs;
	unsigned i, n;
	struct bench_cfg cfg;
	int r, status = 0;

	parse_options(&cfg, argc, argv);
	signal(SIGPIPE, SIG_IGN);

	n = cfg.sweep ? cfg.n_sweep : 1;
	runs = calloc(n, sizeof(*runs));
	if (!runs) {
		fprintf(stderr, "nethub-bench: out of memory\n");
		return 1;
	}
	for (i = 0; i < n; i++) {
		struct bench_cfg run = cfg;

		if (cfg.sweep == BENCH_SWEEP_PORTS) {
			run.ports = cfg.sweep_vals[i];
			/* one --connect entry per port: this run's first */
			if (run.n_connect > 1)
				run.n_connect = run.ports;
		} else if (cfg.sweep == BENCH_SWEEP_FRAME_SIZE) {
			run.frame_size = cfg.sweep_vals[i];
		}
		if (cfg.sweep && cfg.progress)
			fprintf(stderr, "nethub-bench: run %u of %u: %s %u\n",
				i + 1, n, sweep_key(&cfg),
				cfg.sweep_vals[i]);
		r = bench_run(&run, &runs[i]);
		if (r < 0) {
			status = 1;
			n = i;
			break;
		}
		if (r)
			status = 1;
		if (!cfg.json) {
			report_table(stdout, &run, &runs[i]);
			fflush(stdout);
		}
	}
	if (n && cfg.json) {
		if (cfg.sweep)
			report_sweep_json(stdout, &cfg, runs, n);
		else {
			report_json(stdout, &cfg, &runs[0]);
			fputc('\n', stdout);
		}
	} else if (n > 1 && !cfg.json) {
		report_sweep_table(stdout, &cfg, runs, n);
	}
	if (cfg.plot && n == cfg.n_sweep && plot_run(&cfg, runs, n))
		status = 1;
	for (i = 0; i < n; i++)
		free(runs[i].pp);
	free(runs);
	free(cfg.connect);
	return status;
}
