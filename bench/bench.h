/* SPDX-License-Identifier: MIT */
/* bench.h - what nethub-bench's files share: its configuration, ports,
 * workers and results, the bench frame, the transport ops table, and the
 * functions one file offers the others (and tests/unit/test_bench.c)
 *
 * The files (nethub-bench.c is main(); the rest is a library that
 * tests/unit/test_bench.c links too):
 *   options.c		--option parsing into struct bench_cfg, --help
 *   transport.c	the transport table and what every transport uses
 *   transport_udp.c	udp: one datagram per frame (QEMU's socket,udp=)
 *   transport_tcp.c	tcp: length-prefixed stream (QEMU's socket,connect=)
 *   transport_packet.c	"tap": AF_PACKET on any host interface
 *   transport_vde.c	vde: a native port of a VDE switch
 *   transport_vhost_user.c vhost-user: a front-end of a back-end's socket
 *   vring.c		split virtqueues, the front-end's side
 *   pkt_io.c		batched one-frame-per-datagram I/O (packet, vde)
 *   pkt_ring.c		memory-mapped AF_PACKET rings (packet, --packet-io)
 *   setup.c		open the ports, teach the switch every MAC
 *   worker.c		worker threads: the generator and the sink
 *   frame.c		the bench frame, its MACs, and the traffic patterns
 *   measure.c		measurement math: latency histogram, rates, pacing
 *   probe.c		/proc probes: the switch's CPU, UDP socket drops
 *   run.c		one measurement, start to end
 *   report.c		results: table, JSON, progress line
 *   plot.c		a sweep drawn with gnuplot
 *   nethub-bench.c	main(): options, one run per sweep value, reports
 *
 * The per-frame path (a transport's send() and recv(), bench_stamp(),
 * sink_frame()) allocates nothing, logs nothing and makes no syscall per
 * frame: frames go in batches, one clock read stamps a batch.
 */
#ifndef NH_BENCH_H
#define NH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#ifndef NETHUB_VERSION
#define NETHUB_VERSION "dev"
#endif

#define NS_PER_S  1000000000ull
#define NS_PER_MS 1000000ull

/* ---------------------------------------------------------------------- */
/* Measurement math (measure.c)                                            */
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
static inline unsigned lat_bucket(uint64_t ns)
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
uint64_t lat_bucket_low(unsigned b, uint64_t *width);

/* lat_hist_init() - @h empty */
void lat_hist_init(struct lat_hist *h);

/* lat_hist_add() - record one latency of @ns nanoseconds in @h */
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
void lat_hist_merge(struct lat_hist *dst, const struct lat_hist *src);

/**
 * lat_hist_pct() - the @pct-th percentile (0 < pct <= 100)
 *
 * The sample of rank ceil(pct/100 * count) is found by walking the buckets;
 * its bucket's midpoint is returned, clamped to the recorded min and max so
 * that p0+ and p100 are exact.
 * Return: nanoseconds, 0 for an empty histogram
 */
uint64_t lat_hist_pct(const struct lat_hist *h, double pct);

/* rate_per_s() - @count events over @ns nanoseconds, per second */
double rate_per_s(uint64_t count, uint64_t ns);

/* mbit_per_s() - @frames of @size bytes over @ns, in 10^6 bit/s */
double mbit_per_s(uint64_t frames, unsigned size, uint64_t ns);

/* loss_pct() - share of @sent frames that did not arrive, in percent */
double loss_pct(uint64_t sent, uint64_t received);

/* cpu_pct() - @ticks of CPU time (at @hz per second) over @ns wall time */
double cpu_pct(uint64_t ticks, long hz, uint64_t ns);

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
unsigned pace_allowance(double rate, uint64_t t0, uint64_t now, uint64_t sent,
			unsigned burst);

/* pace_next_ns() - when the frame after @sent falls due at @rate (> 0) */
uint64_t pace_next_ns(double rate, uint64_t t0, uint64_t sent);

/* now_ns() - CLOCK_MONOTONIC in nanoseconds */
static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
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

/* hdr_stamp() - write the bench header of @frame (after its Ethernet
 * header): sent by port @flow in @epoch, its @seq-th, at @ns */
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

/* ---------------------------------------------------------------------- */
/* Configuration, ports, workers                                           */
/* ---------------------------------------------------------------------- */

#define BENCH_PORTS_MAX	    1024
#define BENCH_BATCH_MAX	    1024 /* UIO_MAXIOV, sendmmsg's limit */
#define BENCH_RX_BATCH	    64
#define BENCH_RX_SLOT_MIN   2048
#define BENCH_RX_ROUNDS	    8 /* rx batches per port per loop turn */
#define BENCH_SWEEP_MAX	    64 /* values in a --ports/--frame-size list */

enum bench_pattern {
	BENCH_PATTERN_PAIRWISE,	  /* 2k -> 2k+1 (and back with --bidir) */
	BENCH_PATTERN_ALL_TO_ALL, /* each port to every other, in turn */
	BENCH_PATTERN_BROADCAST,  /* each port to ff:ff:ff:ff:ff:ff */
	BENCH_PATTERN_IDLE,	  /* attach, learn, send nothing */
};

/* --packet-io: how the tap transport moves frames */
enum bench_packet_io {
	BENCH_PACKET_IO_AUTO, /* not given: sendmmsg/recvmmsg */
	BENCH_PACKET_IO_MMAP, /* PACKET_TX_RING and PACKET_RX_RING */
	BENCH_PACKET_IO_MMSG, /* sendmmsg and recvmmsg */
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
	const char *qmp; /* --qmp: the switch's QMP socket, or NULL */
	bool json;
	bool progress; /* live line on stderr while measuring */
	bool udp_gso; /* batch as UDP GSO sends where the kernel can */
	bool vhost_server; /* vhost-user: listen, the back-end connects */
	unsigned vhost_ring; /* vhost-user: ring entries, 0 = default */
	uint64_t vhost_features; /* vhost-user: virtio features accepted
				  * when offered, besides the transport's
				  * own (offloads, for tests) */
	enum bench_packet_io packet_io; /* tap: rings or mmsg */
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
	uint64_t tx_datagrams; /* udp: datagrams sent (a GSO send is one) */
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

/* ---------------------------------------------------------------------- */
/* Frames and patterns (frame.c)                                           */
/* ---------------------------------------------------------------------- */

/**
 * mac_of() - the @k-th MAC address of bench port @idx:
 * 02:KK:KK:KK:HH:LL, KKKKKK = @k, HHLL = @idx + 1.  Port @idx's first MAC
 * (@k == 0) is 02:00:00:00:HH:LL.  Locally administered, unicast.
 */
void mac_of(unsigned idx, uint32_t k, uint8_t mac[6]);

/* mac_of_port() - bench port @idx's first MAC */
void mac_of_port(unsigned idx, uint8_t mac[6]);

/**
 * frame_template() - fill @buf with a bench frame of @len bytes from port
 * @src to @dst_mac; the header is stamped per send
 */
void frame_template(uint8_t *buf, size_t len, unsigned src,
		    const uint8_t dst_mac[6]);

/* pattern_name() - --pattern's spelling of @pattern */
const char *pattern_name(enum bench_pattern pattern);

/* pattern_find() - --pattern's value; Return: 0 or -1 */
int pattern_find(const char *name, enum bench_pattern *out);

/* pattern_peer() - pairwise: the port @idx sends to, -1 if it only
 * receives */
int pattern_peer(const struct bench_cfg *cfg, unsigned idx);

/* pattern_sends() - does port @idx generate frames in @cfg's pattern? */
bool pattern_sends(const struct bench_cfg *cfg, unsigned idx);

/* pattern_copies() - how many ports should receive each generated frame */
unsigned pattern_copies(const struct bench_cfg *cfg);

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
struct bench_pick bench_pick(const struct bench_cfg *cfg, unsigned src,
			     uint8_t epoch, uint64_t seq);

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
void bench_stamp(const struct bench_port *p, uint8_t *frame, uint8_t epoch,
		 uint64_t seq, uint64_t now);

/**
 * bench_intended() - should frame @seq of @epoch from port @src arrive at
 * port @rx?
 */
bool bench_intended(const struct bench_cfg *cfg, unsigned src, uint8_t epoch,
		    uint64_t seq, unsigned rx);

/* ---------------------------------------------------------------------- */
/* Transports (transport*.c, pkt_io.c)                                     */
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
 *		Called when p->fd is readable (or hung up).
 * poll()	may be NULL.  A busy-polled transport (shared-memory rings
 *		with no fd to wait on): receive what is ready as recv()
 *		does, without any syscall.  The workers (and the setup
 *		phase) call it on every loop turn and never sleep while a
 *		polled port is alive; send() is then retried every turn,
 *		so it returns 0 without setting p->tx_blocked.
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
	int (*poll)(struct bench_port *p);
	void (*close)(struct bench_port *p);
};

extern const struct bench_transport transport_udp;    /* transport_udp.c */
extern const struct bench_transport transport_tcp;    /* transport_tcp.c */
extern const struct bench_transport transport_packet; /* "tap" */
extern const struct bench_transport transport_vde;    /* transport_vde.c */
extern const struct bench_transport transport_vhost_user;

/**
 * transport_find() - the transport --transport @name means: udp, tcp, tap
 * (also spelt packet), vde or vhost-user
 * Return: its ops table, NULL for an unknown name
 */
const struct bench_transport *transport_find(const char *name);

/* sock_bufs() - ask for @bytes of socket buffer each way on @fd (past the
 * sysctl limit where CAP_NET_ADMIN allows); best effort */
void sock_bufs(int fd, int bytes);

/* fcntl_nonblock() - set O_NONBLOCK on @fd; Return: 0 or -errno */
int fcntl_nonblock(int fd);

/* port_batch() - frames per send call for @p: --batch, else @dflt, at
 * most BENCH_BATCH_MAX */
unsigned port_batch(const struct bench_port *p, unsigned dflt);

/* port_peer_mac() - the destination MAC of @p's frame templates: its
 * pairwise peer's first MAC, else broadcast (bench_stamp() sets the
 * pattern's per frame) */
void port_peer_mac(const struct bench_port *p, uint8_t mac[6]);

/*
 * struct pkt_io - a port's send and receive batches on a socket that
 * carries one Ethernet frame per datagram and needs no address per send
 * (a bound AF_PACKET socket, a connected AF_UNIX datagram socket)
 */
struct pkt_io {
	unsigned batch;	 /* frames per sendmmsg */
	uint8_t *tx_buf; /* batch frame templates, frame_size apart */
	struct mmsghdr *tx_msgs;
	struct iovec *tx_iov;
	size_t rx_slot;	 /* bytes per receive buffer */
	uint8_t *rx_buf; /* BENCH_RX_BATCH slots */
	struct mmsghdr rx_msgs[BENCH_RX_BATCH];
	struct iovec rx_iov[BENCH_RX_BATCH];
};

/**
 * pkt_io_new() - batches for port @p: frame templates to its peer, and
 * receive buffers of @rx_slot bytes (raised to --frame-size and to
 * BENCH_RX_SLOT_MIN)
 * Return: the batches (caller frees with pkt_io_free()), NULL when out of
 * memory
 */
struct pkt_io *pkt_io_new(const struct bench_port *p, size_t rx_slot);

/* pkt_io_free() - release @io's buffers and @io itself; NULL is fine */
void pkt_io_free(struct pkt_io *io);

/**
 * pkt_io_send() - stamp and send up to @n generator frames of @p on @fd
 *
 * EAGAIN (socket buffer full) waits for EPOLLOUT; ENOBUFS (the device's
 * queue is full, PACKET_QDISC_BYPASS) is retried on the next turn.  Frames
 * the kernel refused are not counted as sent and are stamped again.
 * Return: frames sent, 0 when pushed back, -errno on a port error
 */
int pkt_io_send(struct bench_port *p, struct pkt_io *io, int fd, unsigned n,
		uint8_t epoch, uint64_t now);

/**
 * pkt_io_recv() - receive what is ready on @fd for @p, at most
 * BENCH_RX_ROUNDS batches, through sink_frame()
 * Return: frames received, -errno on a port error
 */
int pkt_io_recv(struct bench_port *p, struct pkt_io *io, int fd);

/*
 * struct pkt_ring - a packet socket's TPACKET_V3 rings, mapped: a receive
 * ring of blocks the kernel fills and retires, then a transmit ring of
 * frame slots (header, then the frame at tx_data) we fill
 */
struct pkt_ring {
	uint8_t *map; /* the receive ring, the transmit ring after it */
	size_t map_len;
	size_t frame_size; /* --frame-size */
	unsigned batch;	   /* most frames per send() */
	uint8_t *tmpl;	   /* a frame_template() of frame_size bytes */

	uint8_t *rx;
	size_t rx_block_size;
	unsigned rx_blocks;
	unsigned rx_cur; /* next block to read */

	uint8_t *tx;
	size_t tx_frame_size; /* bytes per slot */
	size_t tx_block_size; /* slots lie in blocks of this many bytes */
	unsigned tx_per_block; /* slots per block */
	size_t tx_data;	      /* the frame's offset in its slot */
	size_t tx_max_len;    /* largest frame a slot holds */
	unsigned tx_frames;   /* slots */
	unsigned tx_head;     /* next slot to fill */
	unsigned tx_tail;     /* oldest slot the kernel may not have taken */
	unsigned tx_waiting;  /* slots from tx_tail to tx_head */
	uint8_t *tx_dirty;    /* per slot: holds a control frame, not the
			       * template's filler */
};

/**
 * pkt_ring_new() - map receive and transmit rings on the packet socket
 * @fd of port @p (before bind), receive blocks big enough for frames of
 * @max_rx_frame bytes; every transmit slot gets @p's frame template
 * Return: the rings (pkt_ring_free()), or NULL with @err naming the step
 * that failed and errno set; @fd may then hold part of the set-up (close
 * it rather than use it for anything else)
 */
struct pkt_ring *pkt_ring_new(const struct bench_port *p, int fd,
			      size_t max_rx_frame, char *err, size_t errlen);

/* pkt_ring_free() - unmap @r's rings and free @r; NULL is fine */
void pkt_ring_free(struct pkt_ring *r);

/**
 * pkt_ring_send() - stamp up to @n generator frames of @p into free
 * transmit slots and send them with one send() on @fd
 *
 * A slot is written only when the kernel has handed it back.  No free slot
 * with none waiting for a send() waits for EPOLLOUT (p->tx_blocked); slots
 * the device refused (ENOBUFS) stay handed over and go first with the next
 * call's send(), which writes no new frame until they went (p->tx_backlog).
 * Frames written are counted as sent: they are sent, late or not at all
 * only if the port closes first.
 * Return: frames written, 0 when the ring is full, -errno on a port error
 */
int pkt_ring_send(struct bench_port *p, struct pkt_ring *r, int fd,
		  unsigned n, uint8_t epoch, uint64_t now);

/* pkt_ring_send_ctrl() - one control frame through @r's transmit ring;
 * Return: 0, -EAGAIN when no slot is free, -EMSGSIZE, -errno */
int pkt_ring_send_ctrl(struct pkt_ring *r, int fd, const uint8_t *frame,
		       size_t len);

/**
 * pkt_ring_recv() - the frames of every block the kernel retired, through
 * sink_frame(), each block given back after; at most one lap of the ring
 * Return: frames received
 */
int pkt_ring_recv(struct bench_port *p, struct pkt_ring *r);

/* ---------------------------------------------------------------------- */
/* Split virtqueues, the front-end's side (vring.c)                        */
/* ---------------------------------------------------------------------- */

/*
 * A split virtqueue as the virtio spec lays it out: a descriptor table
 * (16 bytes per entry), the available ring the front-end writes (flags,
 * idx, ring[num], used_event) and the used ring the back-end writes
 * (flags, idx, ring[num] of {id, len}, avail_event).  Little-endian on
 * the wire; the bench runs on little-endian hosts only (checked in
 * vring.c).  Addresses in descriptors and in SET_VRING_ADDR are our own
 * user addresses: the memory table maps guest address = user address.
 *
 * The bench gives descriptor i the fixed buffer bufs + i * buf_size, one
 * descriptor per frame (no chains, no indirect tables): the RX ring posts
 * every descriptor writable and re-posts each as it comes back; the TX
 * ring keeps a stack of free descriptor ids.
 */
#define VRING_DESC_F_NEXT	   1
#define VRING_DESC_F_WRITE	   2
#define VRING_DESC_F_INDIRECT	   4
#define VRING_USED_F_NO_NOTIFY	   1 /* back-end: no kicks needed */
#define VRING_AVAIL_F_NO_INTERRUPT 1 /* front-end: no calls wanted */
#define VRING_NUM_MIN		   2
#define VRING_NUM_MAX		   32768 /* the split ring's limit */

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* num entries, then used_event */
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[]; /* num entries, then avail_event */
};

/* Where the parts of one ring of @num entries lie, from its start */
struct vring_layout {
	size_t desc, avail, used; /* byte offsets */
	size_t size;		  /* the whole ring, a multiple of 4096 */
};

struct vring {
	unsigned num; /* entries, a power of two */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint8_t *bufs;	 /* descriptor i's buffer: bufs + i * buf_size */
	size_t buf_size;
	bool writable;	 /* RX: the back-end writes the buffers */
	uint16_t avail_idx; /* next avail index we publish */
	uint16_t last_used; /* next used entry we read */
	uint16_t *free;	 /* TX: free descriptor ids (a stack), private */
	unsigned n_free;
	uint8_t *busy;	 /* per descriptor: posted, not yet reaped; private */
};

/**
 * vring_layout() - the layout of a ring of @num entries: the descriptor
 * table at 0, the available ring after it (2-byte aligned), the used ring
 * on the next 4096-byte boundary (the legacy layout's alignment, which
 * every back-end accepts), the whole rounded up to 4096
 * Return: 0, or -EINVAL when @num is not a power of two in
 * [VRING_NUM_MIN, VRING_NUM_MAX]
 */
int vring_layout(unsigned num, struct vring_layout *l);

/**
 * vring_init() - @r over @mem (vring_layout(@num)'s size, zeroed, ours)
 * with @num buffers of @buf_size bytes at @bufs
 * @writable:	an RX ring: every descriptor is posted at once, writable
 *		(published by the first vring_publish()); else a TX ring
 *		with every descriptor free
 * Return: 0, -EINVAL for a bad @num, -ENOMEM; vring_fini() frees what
 * it allocated (its private tables), also after a failure
 */
int vring_init(struct vring *r, void *mem, unsigned num, uint8_t *bufs,
	       size_t buf_size, bool writable);

/* vring_fini() - free @r's private tables (not its memory) */
void vring_fini(struct vring *r);

/* vring_buf() - descriptor @id's buffer */
static inline uint8_t *vring_buf(const struct vring *r, uint16_t id)
{
	return r->bufs + (size_t)id * r->buf_size;
}

/**
 * vring_post() - make descriptor @id (its buffer, @len bytes) available,
 * unpublished until vring_publish()
 */
static inline void vring_post(struct vring *r, uint16_t id, uint32_t len)
{
	struct vring_desc *d = &r->desc[id];

	d->addr = (uint64_t)(uintptr_t)vring_buf(r, id);
	d->len = len;
	d->flags = r->writable ? VRING_DESC_F_WRITE : 0;
	d->next = 0;
	r->busy[id] = 1;
	r->avail->ring[r->avail_idx & (r->num - 1)] = id;
	r->avail_idx++;
}

/**
 * vring_publish() - let the back-end see what was posted (a release store
 * of avail->idx)
 * Return: true when it wants a kick for it (it did not set
 * VRING_USED_F_NO_NOTIFY)
 */
bool vring_publish(struct vring *r);

/**
 * vring_reap() - take up to @max entries the back-end has used
 * @out:	receives them, in the order used
 * Return: entries taken, or -EPROTO when the back-end used an id that is
 * not a descriptor of the ring or not posted, or published more entries
 * than are in flight
 */
int vring_reap(struct vring *r, struct vring_used_elem *out, unsigned max);

/**
 * vring_tx_reclaim() - TX: return the descriptors the back-end is done
 * with to the free stack
 * Return: how many, or -EPROTO (as vring_reap())
 */
int vring_tx_reclaim(struct vring *r);

/* vring_in_flight() - descriptors posted and not yet reaped */
static inline unsigned vring_in_flight(const struct vring *r)
{
	return (uint16_t)(r->avail_idx - r->last_used);
}

/* ---------------------------------------------------------------------- */
/* vhost-user front-end (transport_vhost_user.c)                           */
/* ---------------------------------------------------------------------- */

/* Requests (the message header's u32 request) the front-end sends */
enum vhost_user_request {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_SET_VRING_ENABLE = 18,
};

/**
 * vhost_user_path() - the socket path of port @idx from a --connect
 * entry @tmpl: @tmpl itself, or with its one "%d" replaced by @idx
 * @out:	receives the path, @len bytes at most (NUL included)
 * Return: 0; -EINVAL when @tmpl is empty or holds a '%' other than one
 * "%d"; -ENAMETOOLONG when the path does not fit
 */
int vhost_user_path(const char *tmpl, unsigned idx, char *out, size_t len);

/*
 * For hostile tests of a back-end: a port opened by the vhost-user
 * transport can say more than the bench does.  These are control-path
 * calls (they may block, up to a few seconds), for a port no worker is
 * running; the port's own traffic goes on through its rings as before.
 */

/**
 * vhost_user_send_msg() - send one raw message on @p's socket: header
 * {@request, @flags, @size}, @size bytes of @payload, and @nfds (at most
 * 8) descriptors by SCM_RIGHTS; nothing checks that it makes sense
 * Return: 0 or -errno
 */
int vhost_user_send_msg(struct bench_port *p, uint32_t request,
			uint32_t flags, const void *payload, uint32_t size,
			const int *fds, unsigned nfds);

/**
 * vhost_user_recv_reply() - read a reply to @request of exactly @size
 * bytes into @payload, waiting up to @timeout_ms
 * Return: 0; -EPROTO for a header that does not fit; -ETIMEDOUT;
 * -ECONNRESET when the back-end closed the connection; -errno
 */
int vhost_user_recv_reply(struct bench_port *p, uint32_t request,
			  void *payload, uint32_t size, int timeout_ms);

/**
 * vhost_user_ring() - @p's ring @queue (0 RX, 1 TX), to corrupt at will:
 * write its descriptors (r->desc[id]: addr, len, flags, next) or its
 * avail ring, and publish (vring_publish()); the back-end polls, and the
 * port's next send() kicks.  The memory is shared with the back-end.
 * Return: the ring, NULL when @p is not a vhost-user port or @queue > 1
 */
struct vring *vhost_user_ring(struct bench_port *p, unsigned queue);

/* vhost_user_kick() - kick @p's ring @queue (after vring_publish() asked
 * for it, or to be sure) */
void vhost_user_kick(struct bench_port *p, unsigned queue);

/* ---------------------------------------------------------------------- */
/* Workers: generator and sink (worker.c); setup (setup.c)                 */
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
void sink_frame(struct bench_worker *w, struct bench_port *rxp,
		const uint8_t *frame, size_t len, uint64_t now);

/* sleep_until() - sleep until CLOCK_MONOTONIC reads @t (ns) */
void sleep_until(uint64_t t);

/**
 * worker_init() - @w as worker @id of a run over @ports, driving none of
 * them yet; its epfd is -1 (the caller makes one for a worker thread)
 * Return: 0, or -ENOMEM (free what was made with worker_free())
 */
int worker_init(struct bench_worker *w, unsigned id,
		const struct bench_cfg *cfg, const struct bench_clock *clk,
		struct bench_port **ports);

/* worker_free() - close @w's epfd and free its tables (not its ports) */
void worker_free(struct bench_worker *w);

/* worker_adopt() - move port @p to worker @w and watch its fd;
 * Return: 0 or -errno */
int worker_adopt(struct bench_worker *w, struct bench_port *p);

/**
 * worker_main() - a worker thread (@arg: its struct bench_worker): from
 * clk->t_start, send its ports' frames as the pattern and pacing say
 * until t_end, receive until the drain is over, then return NULL
 */
void *worker_main(void *arg);

/**
 * bench_setup() - open the ports, teach the switch where every port (and
 * every one of its MACs) is, and check that each port's frames come
 * through the switch to another port
 * @sw:		the setup worker, whose sink counts learning frames
 * Return: 0, or -errno after printing what went wrong
 */
int bench_setup(const struct bench_cfg *cfg, struct bench_port **ports,
		struct bench_worker *sw);

/* ---------------------------------------------------------------------- */
/* /proc probes (probe.c)                                                  */
/* ---------------------------------------------------------------------- */

struct proc_sample {
	bool ok;
	uint64_t ticks; /* utime + stime of all threads, clock ticks */
	uint64_t ctxsw; /* voluntary + involuntary, summed over threads */
};

/* proc_sample_pid() - CPU time and context switches of process @pid */
struct proc_sample proc_sample_pid(pid_t pid);

/* host_busy_ticks() - CPU ticks all CPUs spent busy since boot (not idle,
 * not waiting for I/O), from /proc/stat; 0 when unreadable */
uint64_t host_busy_ticks(void);

/**
 * udp_drops() - the kernel's drop counters of loopback UDP sockets
 * @is_switch:	bitmap (65536 bits) of the switch's local ports
 * @is_bench:	bitmap of the bench's local ports
 * Return: 0 and the two sums, or -errno when /proc/net/udp is unreadable
 */
int udp_drops(const uint8_t *is_switch, const uint8_t *is_bench, uint64_t *sw,
	      uint64_t *bench);

/* The switch's drops by reason, summed over its ports (switch_qmp.c) */
#define SWITCH_DROP_REASONS_MAX 16
struct switch_drops {
	unsigned n;
	char name[SWITCH_DROP_REASONS_MAX][24];
	uint64_t count[SWITCH_DROP_REASONS_MAX];
};

/**
 * switch_drops_read() - query-netdevs over the QMP unix socket @path:
 * every port's rx-drops and tx-drops, added up by reason
 * Return: 0, or -1 when the socket or the answer did not serve (nothing
 * printed: the report leaves the switch's drops out)
 */
int switch_drops_read(const char *path, struct switch_drops *d);

/* ---------------------------------------------------------------------- */
/* Results (report.c, plot.c) and one run (run.c)                          */
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
	uint64_t switch_in_drops, sink_drops; /* kernel drops, datagrams */
	double frames_per_datagram;	      /* of the bench's sends */

	/* --qmp: the switch's own drops in the window, by reason */
	bool sw_drops_ok;
	struct switch_drops sw_drops;
	uint64_t sw_drops_total;
};

/**
 * bench_run() - one measurement with @cfg: open the ports, learn, warm up,
 * measure, drain, close
 * @res:	filled in; res->pp is allocated (free it with free())
 * Return: 0; 1 when a port failed during the run (@res is still valid);
 * -1 when the run could not be made (after printing why)
 */
int bench_run(const struct bench_cfg *cfg, struct bench_result *res);

/**
 * result_merge() - add up the ports' and workers' counters into @res
 * (whose pp array has cfg->ports entries)
 */
void result_merge(struct bench_result *res, const struct bench_cfg *cfg,
		  struct bench_port **ports, struct bench_worker *ws,
		  unsigned n_workers);

/**
 * report_json() - @r as one JSON object on one line (no newline)
 *
 * Keys are stable: scripts (bench/core.sh, bench/compare, the integration
 * test) read them.  docs/bench.md lists and explains each.
 */
void report_json(FILE *f, const struct bench_cfg *cfg,
		 const struct bench_result *r);

/* report_table() - @r as a readable table */
void report_table(FILE *f, const struct bench_cfg *cfg,
		  const struct bench_result *r);

/* sweep_key() - the swept value's name: "ports" or "frame_size" */
const char *sweep_key(const struct bench_cfg *cfg);

/* sweep_value() - the swept value of run @r */
unsigned sweep_value(const struct bench_cfg *cfg, const struct bench_result *r);

/* report_sweep_json() - a sweep's @n runs as one JSON object */
void report_sweep_json(FILE *f, const struct bench_cfg *cfg,
		       const struct bench_result *runs, unsigned n);

/* report_sweep_table() - one line per run of a sweep */
void report_sweep_table(FILE *f, const struct bench_cfg *cfg,
			const struct bench_result *runs, unsigned n);

/**
 * progress_format() - the live progress line
 * @elapsed_ns:	time since the measurement window began
 * @rx_window:	frames delivered in the window so far
 * @expected:	copies of the measured frames sent so far that are due
 * @received:	measured frames received so far
 */
void progress_format(char *buf, size_t len, uint64_t elapsed_ns,
		     double duration_s, uint64_t rx_window, uint64_t expected,
		     uint64_t received);

/**
 * plot_data() - the data file gnuplot plots: a comment naming the
 * columns, then per run: swept value, delivered frames/s, delivered
 * Gbit/s, offered frames/s, loss %
 */
void plot_data(FILE *f, const struct bench_cfg *cfg,
	       const struct bench_result *runs, unsigned n);

/**
 * plot_script() - the gnuplot script drawing @data_path (@n runs) into
 * @out_path: delivered frames/s on the left axis, Gbit/s on the right,
 * against the swept value (a log2 axis when the values span 8x or more)
 */
void plot_script(FILE *f, const struct bench_cfg *cfg,
		 const struct bench_result *runs, unsigned n,
		 const char *data_path, const char *out_path);

/**
 * plot_run() - write the data and script to temporary files, run gnuplot
 * on them (drawing cfg->plot), remove them
 * Return: 0, or -1 after printing what went wrong
 */
int plot_run(const struct bench_cfg *cfg, const struct bench_result *runs,
	     unsigned n);

/* find_in_path() - is there an executable @name in $PATH? */
bool find_in_path(const char *name);

/* ---------------------------------------------------------------------- */
/* Options (options.c)                                                     */
/* ---------------------------------------------------------------------- */

/**
 * parse_options() - @cfg from the command line, every value checked
 * against the others; --help and --version print and exit(0), a bad
 * value prints what is wrong with which option and exit(1)
 */
void parse_options(struct bench_cfg *cfg, int argc, char **argv);

/**
 * uint_list_parse() - "N" or "N,N,..." with each N in [min, max]
 * @vals:	receives the values, at most @cap of them
 * @err:	says what is wrong on failure
 * Return: the number of values (>= 1), or -1
 */
int uint_list_parse(const char *s, unsigned min, unsigned max,
		    unsigned *vals, unsigned cap, char *err, size_t errlen);

/**
 * cfg_check_ports() - can a run with @ports ports go ahead?
 * Return: NULL, or what is wrong with --ports (a static string)
 */
const char *cfg_check_ports(const struct bench_cfg *cfg, unsigned ports);

#endif /* NH_BENCH_H */
