// SPDX-License-Identifier: MIT
/* test_io.c - the I/O engine's contract, proved on each engine
 *
 * Every behaviour test runs three times: on io_uring (multishot receive and
 * provided buffers), on io_uring without multishot (NETHUB_IO_NO_MULTISHOT,
 * the single-shot receive path of pre-6.0 kernels) and on the epoll
 * fallback, each on a fresh uv_loop_t with io_init()/io_shutdown().  Peers
 * are real sockets on 127.0.0.1 or socketpairs.  No test sleeps: the loop
 * runs until a condition holds, under a guard timer, so a bug fails a test
 * instead of hanging it.  After every test all frames must be back in the
 * pool and no callback may have run on a channel after io_chan_close().
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "error.h"
#include "frame.h"
#include "io.h"
#include "log.h"
#include "tap.h"

#define RUN_TIMEOUT_MS 5000
#define FLOOD_MS       1000 /* a flood's length */
#define LOG_MAX	       2048

/* ---- harness -------------------------------------------------------------- */

enum variant {
	V_URING,
	V_URING_SINGLE,
	V_EPOLL,
	V_URING_DEFER,	/* NETHUB_IO_DEFER_TASKRUN=1 (cooperative where the
			 * kernel lacks it) */
};

static const char *const variant_engine[] = {
	[V_URING] = "uring",
	[V_URING_SINGLE] = "uring",
	[V_EPOLL] = "epoll",
	[V_URING_DEFER] = "uring",
};

static struct frame_pool *pool;
static uv_loop_t loop;
static uv_timer_t guard, tick;
static bool timed_out;
static unsigned late_callbacks;	/* callbacks on a channel after close */
static enum variant cur;

static void guard_cb(uv_timer_t *t)
{
	(void)t;
	timed_out = true;
}

static void tick_cb(uv_timer_t *t)
{
	(void)t;
}

static bool setup(enum variant v)
{
	struct nh_error *err = NULL;
	bool ok;

	cur = v;
	late_callbacks = 0;
	uv_loop_init(&loop);
	uv_timer_init(&loop, &guard);
	uv_timer_init(&loop, &tick);
	if (v == V_URING_SINGLE)
		setenv("NETHUB_IO_NO_MULTISHOT", "1", 1);
	if (v == V_URING_DEFER)
		setenv("NETHUB_IO_DEFER_TASKRUN", "1", 1);
	ok = io_init(&loop, v == V_EPOLL ? IO_ENGINE_EPOLL : IO_ENGINE_URING,
		     &err);
	unsetenv("NETHUB_IO_NO_MULTISHOT");
	unsetenv("NETHUB_IO_DEFER_TASKRUN");
	CHECK(ok);
	if (!ok) {
		printf("# io_init: %s\n", err ? err->msg : "?");
		nh_error_free(err);
		return false;
	}
	CHECK(!strcmp(io_engine_name(), variant_engine[v]));
	return true;
}

static void teardown(void)
{
	struct frame_pool_stats ps;

	io_shutdown();
	uv_close((uv_handle_t *)&guard, NULL);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ(uv_loop_close(&loop), 0);
	CHECK_EQ(late_callbacks, 0);
	frame_pool_stats(pool, &ps);
	CHECK_EQ(ps.small_free, ps.small_total);
	CHECK_EQ(ps.large_free, ps.large_total);
}

/* run_until() - turn the loop until @cond(@arg) holds or the guard fires */
static bool run_until(bool (*cond)(void *), void *arg)
{
	timed_out = false;
	uv_update_time(&loop);
	uv_timer_start(&guard, guard_cb, RUN_TIMEOUT_MS, 0);
	while (!cond(arg) && !timed_out)
		uv_run(&loop, UV_RUN_ONCE);
	uv_timer_stop(&guard);
	return cond(arg);
}

/* pump() - one loop turn that waits at most a millisecond.  The tick
 * repeats: if it fired in the turn's timer phase (before the poll), a
 * one-shot would leave the poll waiting for the guard. */
static void pump(void)
{
	uv_update_time(&loop);
	uv_timer_start(&tick, tick_cb, 1, 1);
	uv_run(&loop, UV_RUN_ONCE);
	uv_timer_stop(&tick);
}

/* run_for() - turn the loop for @ms milliseconds (negative tests) */
static void run_for(uint64_t ms)
{
	timed_out = false;
	uv_update_time(&loop);
	uv_timer_start(&guard, guard_cb, ms, 0);
	while (!timed_out)
		uv_run(&loop, UV_RUN_ONCE);
}

/* ---- frames with a checkable pattern -------------------------------------- */

static uint8_t pat(uint32_t seq, size_t i)
{
	return (uint8_t)(seq * 7 + i);
}

static void fill(uint8_t *p, size_t len, uint32_t seq)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pat(seq, i);
	if (len >= 4) {
		p[0] = (uint8_t)(seq >> 24);
		p[1] = (uint8_t)(seq >> 16);
		p[2] = (uint8_t)(seq >> 8);
		p[3] = (uint8_t)seq;
	}
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static bool pattern_ok(const uint8_t *p, size_t len)
{
	uint32_t seq;

	if (len < 4)
		return true;
	seq = be32(p);
	for (size_t i = 4; i < len; i++)
		if (p[i] != pat(seq, i))
			return false;
	return true;
}

static struct frame *mkframe(size_t len, uint32_t seq)
{
	struct frame *f = frame_alloc(len);

	if (f)
		fill(f->data, len, seq);
	return f;
}

/* ---- a test channel ---------------------------------------------------------- */

struct rec {
	uint32_t seq;
	uint32_t len;
	bool truncated, pattern_ok;
};

struct tchan {
	struct io_chan *c;
	bool closed;
	unsigned done_calls, dropped;

	unsigned recv_calls, max_batch, msgs;
	unsigned adjacent;	/* messages right behind the previous one in
				 * memory: segments of one coalesced datagram */
	struct rec log[LOG_MAX];
	struct sockaddr_storage last_src;
	socklen_t last_srclen;
	bool src_null;

	unsigned stream_calls;

	unsigned err_calls;
	int last_err;
	bool close_on_error, close_in_recv;
	struct io_chan *echo;	/* send what is received back out here */
	bool pace;		/* pause while echo's queue is busy, as a
				 * hub pauses an ingress port */
	struct tchan *resume;	/* resume it when this one's queue drained */
	unsigned echo_refused;	/* frames echo's full queue did not take */
	unsigned tx_ready_calls;

	unsigned tx_drop_calls, tx_dropped;
	int tx_drop_err;

	unsigned hdr_len;	/* dgram: bytes of 0xA5 put before frames */
	bool hdr_stream;	/* stream: 4-byte big-endian length */
};

static void t_done(void *opaque, unsigned dropped)
{
	struct tchan *t = opaque;

	t->done_calls++;
	t->dropped = dropped;
}

static void t_close(struct tchan *t)
{
	if (t->closed)
		return;
	t->closed = true;
	io_chan_close(t->c, t_done);
}

static void t_on_recv(struct io_chan *c, const struct io_msg *msgs, unsigned n)
{
	struct tchan *t = io_chan_opaque(c);

	if (t->closed)
		late_callbacks++;
	t->recv_calls++;
	if (n > t->max_batch)
		t->max_batch = n;
	for (unsigned i = 0; i < n; i++) {
		const struct io_msg *m = &msgs[i];

		if (i && m->data == msgs[i - 1].data + msgs[i - 1].len)
			t->adjacent++;
		if (t->msgs < LOG_MAX) {
			struct rec *r = &t->log[t->msgs];

			r->len = (uint32_t)m->len;
			r->seq = m->len >= 4 ? be32(m->data) : 0;
			r->truncated = m->truncated;
			r->pattern_ok = pattern_ok(m->data, m->len);
		}
		t->msgs++;
		t->src_null = m->src == NULL;
		if (m->src && m->srclen <= sizeof(t->last_src)) {
			memcpy(&t->last_src, m->src, m->srclen);
			t->last_srclen = m->srclen;
		}
		if (t->echo) {
			struct frame *f = frame_alloc_copy(m->data, m->len);

			if (f && io_chan_send(t->echo, &f, 1) != 1) {
				frame_unref(f);
				t->echo_refused++;
			}
		}
	}
	if (t->echo && t->pace && io_chan_tx_busy(t->echo))
		io_chan_pause(c);
	if (t->close_in_recv)
		t_close(t);
}

static size_t t_on_stream(struct io_chan *c, const uint8_t *d, size_t len)
{
	struct tchan *t = io_chan_opaque(c);
	size_t used = 0;

	if (t->closed)
		late_callbacks++;
	t->stream_calls++;
	/* Whole frames only: [4-byte big-endian length][frame] */
	while (len - used >= 4) {
		uint32_t flen = be32(d + used);

		if (len - used - 4 < flen)
			break;
		if (t->msgs < LOG_MAX) {
			struct rec *r = &t->log[t->msgs];

			r->len = flen;
			r->seq = flen >= 4 ? be32(d + used + 4) : 0;
			r->truncated = false;
			r->pattern_ok = pattern_ok(d + used + 4, flen);
		}
		t->msgs++;
		used += 4 + flen;
	}
	return used;
}

static void t_on_error(struct io_chan *c, int err)
{
	struct tchan *t = io_chan_opaque(c);

	if (t->closed)
		late_callbacks++;
	t->err_calls++;
	t->last_err = err;
	if (t->close_on_error)
		t_close(t);
}

static void t_on_tx_drop(struct io_chan *c, unsigned n, int err)
{
	struct tchan *t = io_chan_opaque(c);

	if (t->closed)
		late_callbacks++;
	t->tx_drop_calls++;
	t->tx_dropped += n;
	t->tx_drop_err = err;
}

static void t_on_tx_drain(struct io_chan *c, bool ready)
{
	struct tchan *t = io_chan_opaque(c);

	if (t->closed)
		late_callbacks++;
	if (!ready)
		return;
	t->tx_ready_calls++;
	if (t->resume && !t->resume->closed)
		io_chan_resume(t->resume->c);
}

static unsigned t_tx_header(struct io_chan *c, const struct frame *f,
			    uint8_t *hdr)
{
	struct tchan *t = io_chan_opaque(c);

	if (t->hdr_stream) {
		hdr[0] = (uint8_t)(f->len >> 24);
		hdr[1] = (uint8_t)(f->len >> 16);
		hdr[2] = (uint8_t)(f->len >> 8);
		hdr[3] = (uint8_t)f->len;
		return 4;
	}
	memset(hdr, 0xa5, t->hdr_len);
	return t->hdr_len;
}

static struct io_chan_cfg dgram_cfg(struct tchan *t, unsigned flags)
{
	struct io_chan_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.kind = IO_CHAN_DGRAM;
	cfg.flags = flags;
	cfg.on_recv = t_on_recv;
	cfg.on_error = t_on_error;
	cfg.on_tx_drop = t_on_tx_drop;
	cfg.on_tx_drain = t_on_tx_drain;
	cfg.tx_header = t_tx_header;
	cfg.opaque = t;
	return cfg;
}

static struct io_chan_cfg stream_cfg(struct tchan *t)
{
	struct io_chan_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.kind = IO_CHAN_STREAM;
	cfg.on_stream = t_on_stream;
	cfg.on_error = t_on_error;
	cfg.on_tx_drop = t_on_tx_drop;
	cfg.tx_header = t_tx_header;
	cfg.opaque = t;
	t->hdr_stream = true;
	return cfg;
}

static bool t_open(struct tchan *t, int fd, const struct io_chan_cfg *cfg)
{
	struct nh_error *err = NULL;

	t->c = io_chan_open(fd, cfg, &err);
	CHECK(t->c != NULL);
	if (!t->c) {
		printf("# io_chan_open: %s\n", err ? err->msg : "?");
		nh_error_free(err);
		close(fd);
		return false;
	}
	return true;
}

static bool cond_done(void *arg)
{
	return ((struct tchan *)arg)->done_calls > 0;
}

/* t_close_wait() - close, and see done() come once, later, from the loop */
static void t_close_wait(struct tchan *t)
{
	if (!t->c)
		return;
	if (!t->closed)
		t_close(t);
	CHECK(run_until(cond_done, t));
	CHECK_EQ(t->done_calls, 1);
}

/* send_frames() - @n frames of @len bytes, seq from @seq0; how many taken */
static unsigned send_frames(struct io_chan *c, unsigned n, size_t len,
			    uint32_t seq0)
{
	struct frame *fr[FRAME_BURST_MAX];
	unsigned taken = 0;

	while (n) {
		unsigned k = n < FRAME_BURST_MAX ? n : FRAME_BURST_MAX, got;

		for (unsigned i = 0; i < k; i++) {
			fr[i] = mkframe(len, seq0 + taken + i);
			CHECK(fr[i] != NULL);
			if (!fr[i])
				return taken;
		}
		got = io_chan_send(c, fr, k);
		frame_unref_many(fr + got, k - got);
		taken += got;
		n -= k;
		if (got < k)
			break;
	}
	return taken;
}

static struct io_chan_stats stats(struct io_chan *c)
{
	struct io_chan_stats st;

	io_chan_get_stats(c, &st);
	return st;
}

/* ---- sockets ------------------------------------------------------------------ */

static int udp_socket(struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	socklen_t len = sizeof(*addr);
	int big = 4 << 20;

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof(*addr)) < 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) < 0) {
		CHECK(!"udp socket");
		return -1;
	}
	/* Room for a whole burst while the loop is not reading */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return fd;
}

static bool pair(int type, int sv[2])
{
	if (socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv)) {
		CHECK(!"socketpair");
		return false;
	}
	return true;
}

struct want {
	struct tchan *t;
	unsigned n;
};

static bool cond_msgs(void *arg)
{
	struct want *w = arg;

	return w->t->msgs >= w->n;
}

static bool cond_errs(void *arg)
{
	return ((struct tchan *)arg)->err_calls > 0;
}

static bool cond_txq_empty(void *arg)
{
	struct tchan *t = arg;

	return stats(t->c).txq_len == 0;
}

/* ---- tests ------------------------------------------------------------------- */

/* A frame goes A -> B with A's destination address; B reports A as the
 * source; B echoes it back to A from inside on_recv. */
static void test_dgram_roundtrip(void)
{
	struct sockaddr_in aa, ba;
	struct tchan a = { 0 }, b = { 0 };
	struct io_chan_cfg cfg;
	struct want w;
	int fa = udp_socket(&aa), fb = udp_socket(&ba);

	cfg = dgram_cfg(&a, 0);
	cfg.dest = (struct sockaddr *)&ba;
	cfg.destlen = sizeof(ba);
	if (!t_open(&a, fa, &cfg))
		return;
	cfg = dgram_cfg(&b, IO_CHAN_F_SRCADDR);
	cfg.dest = (struct sockaddr *)&aa;
	cfg.destlen = sizeof(aa);
	if (!t_open(&b, fb, &cfg))
		return;
	b.echo = b.c;

	CHECK_EQ(send_frames(a.c, 1, 100, 42), 1);
	w.t = &a;
	w.n = 1;
	CHECK(run_until(cond_msgs, &w));
	CHECK_EQ(b.msgs, 1);
	CHECK_EQ(b.log[0].seq, 42);
	CHECK_EQ(b.log[0].len, 100);
	CHECK(b.log[0].pattern_ok);
	CHECK(!b.log[0].truncated);
	CHECK_EQ(b.last_srclen, sizeof(struct sockaddr_in));
	CHECK_EQ(((struct sockaddr_in *)&b.last_src)->sin_port, aa.sin_port);
	CHECK_EQ(((struct sockaddr_in *)&b.last_src)->sin_addr.s_addr,
		 htonl(INADDR_LOOPBACK));
	/* The echo came back to A, which did not ask for sources */
	CHECK_EQ(a.msgs, 1);
	CHECK_EQ(a.log[0].seq, 42);
	CHECK(a.log[0].pattern_ok);
	CHECK(a.src_null);
	CHECK(run_until(cond_txq_empty, &b));
	CHECK_EQ(stats(a.c).tx_msgs, 1);
	CHECK_EQ(stats(a.c).tx_bytes, 100);
	CHECK_EQ(stats(b.c).rx_msgs, 1);
	CHECK_EQ(stats(b.c).rx_bytes, 100);
	CHECK_EQ(stats(b.c).tx_msgs, 1);
	t_close_wait(&a);
	t_close_wait(&b);
	CHECK_EQ(a.dropped, 0);
	CHECK_EQ(a.err_calls + b.err_calls, 0);
}

/* 500 frames arrive whole and in order, several per on_recv() */
static void test_dgram_burst_in_order(void)
{
	struct sockaddr_in aa, ba;
	struct tchan a = { 0 }, b = { 0 };
	struct io_chan_cfg cfg;
	struct want w = { &b, 500 };
	unsigned sent = 0;
	bool in_order = true;
	int fa = udp_socket(&aa), fb = udp_socket(&ba);

	cfg = dgram_cfg(&a, 0);
	cfg.dest = (struct sockaddr *)&ba;
	cfg.destlen = sizeof(ba);
	if (!t_open(&a, fa, &cfg))
		return;
	cfg = dgram_cfg(&b, 0);
	if (!t_open(&b, fb, &cfg))
		return;
	/* Two sends per loop turn, as a hub would after two bursts */
	while (sent < 500) {
		sent += send_frames(a.c, 50, 200, sent);
		sent += send_frames(a.c, 50, 200, sent);
		pump();
	}
	CHECK(run_until(cond_msgs, &w));
	CHECK_EQ(b.msgs, 500);
	for (unsigned i = 0; i < 500 && i < b.msgs; i++)
		if (b.log[i].seq != i || !b.log[i].pattern_ok ||
		    b.log[i].len != 200)
			in_order = false;
	CHECK(in_order);
	CHECK(b.max_batch > 1);
	CHECK(b.recv_calls < 500);
	CHECK(b.max_batch <= FRAME_BURST_MAX);
	CHECK(run_until(cond_txq_empty, &a));
	CHECK_EQ(stats(a.c).tx_msgs, 500);
	t_close_wait(&a);
	t_close_wait(&b);
}

/* tx_header bytes go out in front of each frame, in the same datagram */
static void test_dgram_tx_header(void)
{
	struct sockaddr_in aa, ba;
	struct tchan a = { 0 };
	struct io_chan_cfg cfg;
	uint8_t buf[256];
	ssize_t r = -1;
	int fa = udp_socket(&aa), fb = udp_socket(&ba);

	a.hdr_len = 12;
	cfg = dgram_cfg(&a, 0);
	cfg.dest = (struct sockaddr *)&ba;
	cfg.destlen = sizeof(ba);
	if (!t_open(&a, fa, &cfg))
		return;
	CHECK_EQ(send_frames(a.c, 1, 60, 7), 1);
	CHECK(run_until(cond_txq_empty, &a));
	for (int i = 0; i < 1000 && r < 0; i++) {
		r = recv(fb, buf, sizeof(buf), MSG_DONTWAIT);
		if (r < 0)
			pump();
	}
	CHECK_EQ(r, 72);
	for (int i = 0; i < 12; i++)
		CHECK_EQ(buf[i], 0xa5);
	CHECK_EQ(be32(buf + 12), 7);
	CHECK(pattern_ok(buf + 12, 60));
	CHECK_EQ(stats(a.c).tx_bytes, 72);
	t_close_wait(&a);
	close(fb);
}

/* Longer than max_msg: cut and flagged.  The largest UDP datagram fits the
 * default max_msg whole. */
static void test_dgram_truncated(void)
{
	struct sockaddr_in aa, ba, ca;
	struct tchan a = { 0 }, b = { 0 };
	struct io_chan_cfg cfg;
	struct want w = { &a, 2 };
	static uint8_t big[65507];
	int fa = udp_socket(&aa), fb = udp_socket(&ba), fc = udp_socket(&ca);

	cfg = dgram_cfg(&a, 0);
	cfg.max_msg = 100;
	if (!t_open(&a, fa, &cfg))
		return;
	cfg = dgram_cfg(&b, 0);
	if (!t_open(&b, fb, &cfg))
		return;
	fill(big, sizeof(big), 3);
	CHECK_EQ(sendto(fc, big, 300, 0, (struct sockaddr *)&aa, sizeof(aa)),
		 300);
	CHECK_EQ(sendto(fc, big, 50, 0, (struct sockaddr *)&aa, sizeof(aa)),
		 50);
	CHECK_EQ(sendto(fc, big, sizeof(big), 0, (struct sockaddr *)&ba,
			sizeof(ba)),
		 (ssize_t)sizeof(big));
	CHECK(run_until(cond_msgs, &w));
	CHECK_EQ(a.log[0].len, 100);
	CHECK(a.log[0].truncated);
	CHECK(a.log[0].pattern_ok);
	CHECK_EQ(a.log[1].len, 50);
	CHECK(!a.log[1].truncated);
	w.t = &b;
	w.n = 1;
	CHECK(run_until(cond_msgs, &w));
	CHECK_EQ(b.log[0].len, sizeof(big));
	CHECK(!b.log[0].truncated);
	CHECK(b.log[0].pattern_ok);
	t_close_wait(&a);
	t_close_wait(&b);
	close(fc);
}

/* read()/write() channel (as for a tap) over a SOCK_DGRAM socketpair */
static void test_rw_dgram(void)
{
	struct tchan a = { 0 };
	struct io_chan_cfg cfg;
	struct want w = { &a, 3 };
	uint8_t buf[512];
	int sv[2];

	if (!pair(SOCK_DGRAM, sv))
		return;
	a.hdr_len = 10; /* like a virtio-net header */
	cfg = dgram_cfg(&a, IO_CHAN_F_RW);
	cfg.max_msg = 300;
	if (!t_open(&a, sv[0], &cfg))
		return;
	for (uint32_t i = 0; i < 2; i++) {
		fill(buf, 64, i);
		CHECK_EQ(write(sv[1], buf, 64), 64);
	}
	fill(buf, 400, 2);
	CHECK_EQ(write(sv[1], buf, 400), 400);
	CHECK(run_until(cond_msgs, &w));
	CHECK_EQ(a.log[0].seq, 0);
	CHECK_EQ(a.log[1].seq, 1);
	CHECK_EQ(a.log[1].len, 64);
	CHECK(!a.log[1].truncated);
	CHECK_EQ(a.log[2].len, 300);
	CHECK(a.log[2].truncated);
	CHECK(a.src_null);

	CHECK_EQ(send_frames(a.c, 3, 80, 10), 3);
	CHECK(run_until(cond_txq_empty, &a));
	for (uint32_t i = 0; i < 3; i++) {
		ssize_t r = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT);

		CHECK_EQ(r, 90);
		CHECK_EQ(buf[0], 0xa5);
		CHECK_EQ(be32(buf + 10), 10 + i);
		CHECK(pattern_ok(buf + 10, 80));
	}
	CHECK_EQ(stats(a.c).tx_msgs, 3);
	t_close_wait(&a);
	close(sv[1]);
}

/* peer_write() - write @len bytes in @chunk pieces, letting the channel
 * read each piece before the next, so frames arrive split across reads */
static void peer_write(int fd, struct tchan *t, const uint8_t *p, size_t len,
		       size_t chunk)
{
	while (len) {
		size_t n = len < chunk ? len : chunk;
		uint64_t before = stats(t->c).rx_bytes;
		ssize_t r = send(fd, p, n, MSG_DONTWAIT);

		if (r < 0) {
			CHECK(errno == EAGAIN);
			if (errno != EAGAIN)
				return;
			pump();
			continue;
		}
		p += r;
		len -= (size_t)r;
		timed_out = false;
		uv_timer_start(&guard, guard_cb, RUN_TIMEOUT_MS, 0);
		while (stats(t->c).rx_bytes == before && !timed_out)
			uv_run(&loop, UV_RUN_ONCE);
		uv_timer_stop(&guard);
	}
}

/* peer_read() - read @len bytes, turning the loop meanwhile, @step at most
 * per read (a slow reader) */
static size_t peer_read(int fd, uint8_t *buf, size_t len, size_t step)
{
	size_t got = 0;

	timed_out = false;
	uv_timer_start(&guard, guard_cb, RUN_TIMEOUT_MS * 2, 0);
	while (got < len && !timed_out) {
		size_t want = len - got < step ? len - got : step;
		ssize_t r = recv(fd, buf + got, want, MSG_DONTWAIT);

		if (r > 0)
			got += (size_t)r;
		else if (r == 0)
			break;
		pump();
	}
	uv_timer_stop(&guard);
	return got;
}

/* check_stream() - @buf holds @n [len][frame] records, seq from 0 */
static bool check_stream(const uint8_t *buf, size_t len, unsigned n,
			 const size_t *sizes)
{
	size_t off = 0;

	for (unsigned i = 0; i < n; i++) {
		uint32_t flen;

		if (len - off < 4)
			return false;
		flen = be32(buf + off);
		if (flen != sizes[i] || len - off - 4 < flen ||
		    (flen >= 4 && be32(buf + off + 4) != i) ||
		    !pattern_ok(buf + off + 4, flen))
			return false;
		off += 4 + flen;
	}
	return off == len;
}

/* Stream framing both ways: length-prefixed frames, up to 65535 bytes,
 * arriving in odd-sized pieces; on_stream() takes whole frames only */
static void test_stream_framing(void)
{
	static const size_t sizes[] = { 60, 1, 65535, 1514, 9000, 65535, 14 };
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	static const size_t chunks[] = { 7, 4093, 1, 13, 65536 };
	struct tchan a = { 0 };
	struct io_chan_cfg cfg;
	struct want w = { &a, N };
	static uint8_t buf[N * (65535 + 4)];
	size_t total = 0;
	bool ok = true;
	int sv[2];

	if (!pair(SOCK_STREAM, sv))
		return;
	cfg = stream_cfg(&a);
	if (!t_open(&a, sv[0], &cfg))
		return;
	for (unsigned i = 0; i < N; i++) {
		buf[total] = (uint8_t)(sizes[i] >> 24);
		buf[total + 1] = (uint8_t)(sizes[i] >> 16);
		buf[total + 2] = (uint8_t)(sizes[i] >> 8);
		buf[total + 3] = (uint8_t)sizes[i];
		fill(buf + total + 4, sizes[i], i);
		total += 4 + sizes[i];
	}
	for (size_t off = 0, k = 0; off < total; k++) {
		size_t n = chunks[k % 5];

		if (n > total - off)
			n = total - off;
		peer_write(sv[1], &a, buf + off, n, n);
		off += n;
	}
	CHECK(run_until(cond_msgs, &w));
	CHECK_EQ(a.msgs, N);
	for (unsigned i = 0; i < N && i < a.msgs; i++)
		if (a.log[i].len != sizes[i] || !a.log[i].pattern_ok ||
		    (sizes[i] >= 4 && a.log[i].seq != i))
			ok = false;
	CHECK(ok);
	CHECK(a.stream_calls > N);
	CHECK_EQ(stats(a.c).rx_bytes, total);

	/* And back: the channel frames with its 4-byte header */
	for (unsigned i = 0; i < N; i++) {
		struct frame *f = mkframe(sizes[i], i);

		CHECK_EQ(io_chan_send(a.c, &f, 1), 1);
	}
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(peer_read(sv[1], buf, total, 65536), total);
	CHECK(check_stream(buf, total, N, sizes));
	CHECK(run_until(cond_txq_empty, &a));
	CHECK_EQ(stats(a.c).tx_msgs, N);
	CHECK_EQ(stats(a.c).tx_bytes, total);
	t_close_wait(&a);
	CHECK_EQ(a.err_calls, 0);
	close(sv[1]);
}

/* The peer hangs up: on_error(0), once; the backend closes from there */
static void test_stream_eof(void)
{
	struct tchan a = { 0 };
	struct io_chan_cfg cfg;
	uint8_t rec[8] = { 0, 0, 0, 4, 0, 0, 0, 0 };
	struct want w = { &a, 1 };
	int sv[2];

	if (!pair(SOCK_STREAM, sv))
		return;
	cfg = stream_cfg(&a);
	a.close_on_error = true;
	if (!t_open(&a, sv[0], &cfg))
		return;
	CHECK_EQ(write(sv[1], rec, sizeof(rec)), sizeof(rec));
	CHECK(run_until(cond_msgs, &w));
	close(sv[1]);
	CHECK(run_until(cond_errs, &a));
	CHECK_EQ(a.err_calls, 1);
	CHECK_EQ(a.last_err, 0);
	CHECK(run_until(cond_done, &a));
	CHECK_EQ(a.done_calls, 1);
	CHECK_EQ(a.msgs, 1);
}

/* Many large frames through small socket buffers to a slow reader: writes
 * come up short and resume at the right byte; everything arrives in order */
static void test_stream_short_writes(void)
{
	enum { N = 40, LEN = 60000 };
	static size_t sizes[N];
	static uint8_t buf[N * (LEN + 4)];
	struct tchan a = { 0 };
	struct io_chan_cfg cfg;
	size_t total = N * (LEN + 4);
	int small = 4096, sv[2];

	if (!pair(SOCK_STREAM, sv))
		return;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	cfg = stream_cfg(&a);
	if (!t_open(&a, sv[0], &cfg))
		return;
	for (unsigned i = 0; i < N; i++)
		sizes[i] = LEN;
	CHECK_EQ(send_frames(a.c, N, LEN, 0), N);
	CHECK(stats(a.c).txq_len > 0); /* the kernel could not take it all */
	CHECK_EQ(peer_read(sv[1], buf, total, 3001), total);
	CHECK(check_stream(buf, total, N, sizes));
	CHECK(run_until(cond_txq_empty, &a));
	CHECK_EQ(stats(a.c).tx_msgs, N);
	CHECK_EQ(stats(a.c).tx_bytes, total);
	t_close_wait(&a);
	CHECK_EQ(a.dropped, 0);
	close(sv[1]);
}

/* The queue is bounded by txq_max: io_chan_send() takes what fits */
static void test_txq_max_bound(void)
{
	struct sockaddr_in aa, ba;
	struct tchan a = { 0 }, s = { 0 };
	struct io_chan_cfg cfg;
	unsigned taken = 0, got;
	int small = 4096, sv[2];
	int fa = udp_socket(&aa), fb = udp_socket(&ba);

	cfg = dgram_cfg(&a, 0);
	cfg.txq_max = 8;
	cfg.dest = (struct sockaddr *)&ba;
	cfg.destlen = sizeof(ba);
	if (!t_open(&a, fa, &cfg))
		return;
	CHECK_EQ(send_frames(a.c, 20, 64, 0), 8);
	CHECK(run_until(cond_txq_empty, &a));
	CHECK_EQ(stats(a.c).tx_msgs, 8);
	t_close_wait(&a);
	close(fb);

	/* A stream whose peer does not read fills up and stays full */
	if (!pair(SOCK_STREAM, sv))
		return;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	cfg = stream_cfg(&s);
	cfg.txq_max = 8;
	if (!t_open(&s, sv[0], &cfg))
		return;
	for (int i = 0; i < 200; i++) {
		got = send_frames(s.c, 1, 30000, taken);
		taken += got;
		if (!got && stats(s.c).txq_len == 8)
			break;
		pump();
	}
	CHECK_EQ(stats(s.c).txq_len, 8);
	CHECK_EQ(send_frames(s.c, 1, 100, 999), 0);
	CHECK(taken >= 8);
	/* Closing drops what is queued, the write in flight included */
	t_close(&s);
	CHECK_EQ(s.done_calls, 0); /* never from inside io_chan_close() */
	CHECK(run_until(cond_done, &s));
	CHECK_EQ(s.done_calls, 1);
	CHECK(s.dropped >= 1 && s.dropped <= 8);
	close(sv[1]);
}

/* Closing with receives and sends in flight, from inside on_recv(): done
 * once, later; no callback after the close; every frame back */
static void test_close_in_flight(void)
{
	struct sockaddr_in aa, ba;
	struct tchan a = { 0 }, b = { 0 };
	struct io_chan_cfg cfg;
	struct want w = { &b, 1 };
	int fa = udp_socket(&aa), fb = udp_socket(&ba);

	cfg = dgram_cfg(&a, 0);
	cfg.dest = (struct sockaddr *)&ba;
	cfg.destlen = sizeof(ba);
	if (!t_open(&a, fa, &cfg))
		return;
	cfg = dgram_cfg(&b, 0);
	cfg.dest = (struct sockaddr *)&aa;
	cfg.destlen = sizeof(aa);
	if (!t_open(&b, fb, &cfg))
		return;
	b.close_in_recv = true;
	CHECK_EQ(send_frames(a.c, 100, 500, 0), 100);
	CHECK(run_until(cond_msgs, &w));
	CHECK_EQ(b.recv_calls, 1);
	CHECK(run_until(cond_done, &b));
	run_for(20);
	CHECK_EQ(b.recv_calls, 1);
	CHECK_EQ(b.done_calls, 1);

	/* Frames queued (never started) and a receive in flight */
	CHECK_EQ(send_frames(a.c, 100, 500, 0), 100);
	t_close(&a);
	CHECK_EQ(a.done_calls, 0);
	CHECK(run_until(cond_done, &a));
	CHECK_EQ(a.done_calls, 1);
	/* Epoll sent them at once; io_uring had not submitted them yet */
	CHECK(a.dropped == 0 || a.dropped == 100);
	CHECK_EQ(a.dropped, cur == V_EPOLL ? 0 : 100);
}

/* A connected UDP socket whose peer is gone: the kernel refuses sends with
 * ECONNREFUSED (on_tx_drop), and receive errors do not stop the channel.
 * The socket reports the ICMP error to whichever call comes first, so
 * receiving is paused while the sends are checked. */
static void test_dgram_econnrefused(void)
{
	struct sockaddr_in aa, ba;
	struct tchan a = { 0 };
	struct io_chan_cfg cfg;
	struct want w = { &a, 1 };
	struct io_chan_stats st;
	uint8_t msg[64];
	int fa = udp_socket(&aa), fb = udp_socket(&ba);
	unsigned sent = 0;

	CHECK_EQ(connect(fa, (struct sockaddr *)&ba, sizeof(ba)), 0);
	close(fb);
	cfg = dgram_cfg(&a, 0);
	if (!t_open(&a, fa, &cfg))
		return;
	io_chan_pause(a.c);
	run_for(5);
	for (int round = 0; round < 20 && !a.tx_drop_calls; round++) {
		sent += send_frames(a.c, 2, 64, sent);
		CHECK(run_until(cond_txq_empty, &a));
	}
	CHECK(a.tx_drop_calls > 0);
	CHECK_EQ(a.tx_drop_err, -ECONNREFUSED);
	st = stats(a.c);
	CHECK_EQ(st.tx_errors, a.tx_dropped);
	CHECK_EQ(st.tx_msgs + st.tx_errors, sent);

	/* Receiving again while errors may still come (the kernel rate-limits
	 * ICMP, so how many is not ours to say): counted, survived */
	io_chan_resume(a.c);
	for (int round = 0; round < 4; round++) {
		sent += send_frames(a.c, 2, 64, sent);
		CHECK(run_until(cond_txq_empty, &a));
		pump();
	}
	st = stats(a.c);
	CHECK_EQ(st.tx_msgs + st.tx_errors, sent);
	CHECK_EQ(st.tx_errors, a.tx_dropped);
	CHECK_EQ(a.err_calls, 0);

	/* A refusal meant for a receive: provoke one with a datagram sent
	 * past the engine; retried, as ICMP errors are rate-limited */
	fill(msg, sizeof(msg), 1);
	for (int i = 0; i < 200 && !stats(a.c).rx_errors; i++) {
		if (send(fa, msg, sizeof(msg), MSG_DONTWAIT) < 0)
			CHECK(errno == ECONNREFUSED);
		run_for(2);
	}
	CHECK(stats(a.c).rx_errors > 0);
	CHECK_EQ(a.err_calls, 0);

	/* The peer's port comes back and talks: still receiving */
	fb = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK_EQ(bind(fb, (struct sockaddr *)&ba, sizeof(ba)), 0);
	fill(msg, sizeof(msg), 77);
	CHECK_EQ(sendto(fb, msg, sizeof(msg), 0, (struct sockaddr *)&aa,
			sizeof(aa)),
		 (ssize_t)sizeof(msg));
	CHECK(run_until(cond_msgs, &w));
	CHECK_EQ(a.log[0].seq, 77);
	CHECK_EQ(a.err_calls, 0);
	t_close_wait(&a);
	close(fb);
}

/* Paused channels leave data in the kernel; resumed ones get all of it */
static void test_pause_resume(void)
{
	struct sockaddr_in aa, ca;
	struct tchan a = { 0 }, s = { 0 };
	struct io_chan_cfg cfg;
	struct want w = { &a, 5 };
	uint8_t msg[100], rec[68];
	int fa = udp_socket(&aa), fc = udp_socket(&ca), sv[2];

	cfg = dgram_cfg(&a, 0);
	if (!t_open(&a, fa, &cfg))
		return;
	io_chan_pause(a.c);
	run_for(10);
	for (uint32_t i = 0; i < 5; i++) {
		fill(msg, sizeof(msg), i);
		CHECK_EQ(sendto(fc, msg, sizeof(msg), 0, (struct sockaddr *)&aa,
				sizeof(aa)),
			 (ssize_t)sizeof(msg));
	}
	run_for(30);
	CHECK_EQ(a.msgs, 0);
	io_chan_resume(a.c);
	CHECK_EQ(a.msgs, 0); /* not from inside io_chan_resume() */
	CHECK(run_until(cond_msgs, &w));
	CHECK_EQ(a.msgs, 5);
	CHECK_EQ(a.log[4].seq, 4);
	t_close_wait(&a);
	close(fc);

	/* A stream: bytes stay put while paused, and come after */
	if (!pair(SOCK_STREAM, sv))
		return;
	cfg = stream_cfg(&s);
	if (!t_open(&s, sv[0], &cfg))
		return;
	io_chan_pause(s.c);
	run_for(10);
	rec[0] = rec[1] = rec[2] = 0;
	rec[3] = 64;
	fill(rec + 4, 64, 9);
	CHECK_EQ(write(sv[1], rec, sizeof(rec)), sizeof(rec));
	run_for(30);
	CHECK_EQ(s.msgs, 0);
	io_chan_resume(s.c);
	CHECK_EQ(s.msgs, 0);
	w.t = &s;
	w.n = 1;
	CHECK(run_until(cond_msgs, &w));
	CHECK_EQ(s.log[0].seq, 9);
	CHECK(s.log[0].pattern_ok);
	/* Pause and resume straight away: nothing lost */
	io_chan_pause(s.c);
	io_chan_resume(s.c);
	fill(rec + 4, 64, 10);
	CHECK_EQ(write(sv[1], rec, sizeof(rec)), sizeof(rec));
	w.n = 2;
	CHECK(run_until(cond_msgs, &w));
	CHECK_EQ(s.log[1].seq, 10);
	t_close_wait(&s);
	close(sv[1]);
}

/* Bad configurations are refused with an error, and the fd left alone */
static void test_open_errors(void)
{
	struct tchan a = { 0 };
	struct io_chan_cfg cfg = dgram_cfg(&a, 0);
	struct nh_error *err = NULL;
	int sv[2];

	if (!pair(SOCK_DGRAM, sv))
		return;
	cfg.max_msg = IO_HDR_MAX + FRAME_MAX_LEN + 1;
	CHECK(io_chan_open(sv[0], &cfg, &err) == NULL);
	CHECK(err && strstr(err->msg, "max_msg"));
	nh_error_free(err);
	err = NULL;
	cfg = dgram_cfg(&a, 0);
	cfg.on_recv = NULL;
	CHECK(io_chan_open(sv[0], &cfg, &err) == NULL);
	CHECK(err != NULL);
	nh_error_free(err);
	CHECK_EQ(fcntl(sv[0], F_GETFD) >= 0, 1);
	close(sv[0]);
	close(sv[1]);
}


/* ---- UDP GSO / GRO ------------------------------------------------------------- */

/* gso_sendmsg() - one sendmsg() from @fd to @to carrying @n frames: @n - 1
 * of @size bytes and a last one of @last bytes, seq from @seq0, cut by the
 * kernel (UDP_SEGMENT of @size) */
static ssize_t gso_sendmsg(int fd, const struct sockaddr_in *to, unsigned n,
			   size_t size, size_t last, uint32_t seq0)
{
	static uint8_t buf[65000];
	union {
		struct cmsghdr cm;
		uint8_t b[CMSG_SPACE(sizeof(uint16_t))];
	} ctl;
	struct iovec iov;
	struct msghdr mh;
	uint16_t gso = (uint16_t)size;
	size_t len = (n - 1) * size + last;

	if (len > sizeof(buf))
		return -1;
	for (unsigned i = 0; i < n; i++)
		fill(buf + i * size, i + 1 < n ? size : last, seq0 + i);
	memset(&ctl, 0, sizeof(ctl));
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = buf;
	iov.iov_len = len;
	mh.msg_name = (void *)to;
	mh.msg_namelen = sizeof(*to);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.b;
	mh.msg_controllen = sizeof(ctl.b);
	ctl.cm.cmsg_level = SOL_UDP;
	ctl.cm.cmsg_type = UDP_SEGMENT;
	ctl.cm.cmsg_len = CMSG_LEN(sizeof(gso));
	memcpy(CMSG_DATA(&ctl.cm), &gso, sizeof(gso));
	return sendmsg(fd, &mh, 0);
}

/* A GSO peer's coalesced datagrams come out of a GRO channel as the
 * datagrams they were, in order, also across on_recv() calls (40 + 41
 * segments: the second message spans two bursts); the source address is
 * every segment's; rx_msgs counts datagrams */
static void test_udp_gro_split(void)
{
	struct sockaddr_in ba, ca;
	struct tchan b = { 0 };
	struct io_chan_cfg cfg;
	struct want w = { &b, 82 };
	bool ok = true;
	int fb = udp_socket(&ba), fc = udp_socket(&ca);

	cfg = dgram_cfg(&b, IO_CHAN_F_UDP_GRO | IO_CHAN_F_SRCADDR);
	if (!t_open(&b, fb, &cfg))
		return;
	/* Both are queued before the loop runs, so they come in one batch */
	CHECK_EQ(gso_sendmsg(fc, &ba, 40, 100, 100, 0), 4000);
	CHECK_EQ(gso_sendmsg(fc, &ba, 41, 300, 37, 40), 40 * 300 + 37);
	CHECK_EQ(sendto(fc, "\0\0\0\x51xyz", 8, 0, (struct sockaddr *)&ba,
			sizeof(ba)), 8);
	CHECK(run_until(cond_msgs, &w));
	CHECK_EQ(b.msgs, 82);
	for (unsigned i = 0; i < 81 && i < b.msgs; i++) {
		uint32_t want_len = i < 40 ? 100 : i < 80 ? 300 : 37;

		if (b.log[i].seq != i || b.log[i].len != want_len ||
		    !b.log[i].pattern_ok || b.log[i].truncated) {
			printf("# datagram %u: seq %u len %u\n", i,
			       b.log[i].seq, b.log[i].len);
			ok = false;
		}
	}
	CHECK(ok);
	CHECK_EQ(b.log[81].len, 8);
	CHECK_EQ(b.log[81].seq, 0x51);
	CHECK(b.max_batch <= FRAME_BURST_MAX);
	/* They really came coalesced: segments side by side in one buffer */
	CHECK(b.adjacent >= 70);
	CHECK_EQ(((struct sockaddr_in *)&b.last_src)->sin_port, ca.sin_port);
	CHECK_EQ(stats(b.c).rx_msgs, 82);
	CHECK_EQ(stats(b.c).rx_bytes, 4000 + 40 * 300 + 37 + 8);
	t_close_wait(&b);
	CHECK_EQ(b.err_calls, 0);
	close(fc);
}

/* One size of a GSO test: @n frames of @len */
struct gso_run {
	unsigned n;
	size_t len;
};

static const struct gso_run gso_mix[] = {
	{ 70, 200 },  /* more than IO_GSO_SEGS_MAX */
	{ 1, 150 },   /* a shorter one ends the run */
	{ 3, 100 },   { 1, 50 }, { 1, 1400 }, /* a longer one starts anew */
	{ 30, 3000 }, /* more than IO_GSO_BYTES_MAX */
	{ 5, 60 },
};

/* gso_send_mix() - queue gso_mix through @c, in one go; frames taken */
static unsigned gso_send_mix(struct io_chan *c, unsigned *total,
			     uint64_t *bytes, unsigned hdr)
{
	unsigned seq = 0, taken = 0;

	*bytes = 0;
	for (unsigned i = 0; i < sizeof(gso_mix) / sizeof(gso_mix[0]); i++) {
		taken += send_frames(c, gso_mix[i].n, gso_mix[i].len, seq);
		seq += gso_mix[i].n;
		*bytes += gso_mix[i].n * (gso_mix[i].len + hdr);
	}
	*total = seq;
	return taken;
}

/* gso_read_check() - read @total datagrams from plain socket @fd: each the
 * next of gso_mix, behind @hdr header bytes */
static void gso_read_check(int fd, unsigned total, unsigned hdr)
{
	static uint8_t buf[65536];
	unsigned got = 0, bad = 0, seq = 0;

	for (unsigned i = 0; i < sizeof(gso_mix) / sizeof(gso_mix[0]); i++)
		for (unsigned j = 0; j < gso_mix[i].n; j++, seq++) {
			ssize_t r = -1;

			for (int k = 0; k < 2000 && r < 0; k++) {
				r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
				if (r < 0)
					pump();
			}
			if (r < 0)
				break;
			got++;
			if ((size_t)r != gso_mix[i].len + hdr ||
			    be32(buf + hdr) != seq ||
			    !pattern_ok(buf + hdr, (size_t)r - hdr)) {
				if (bad++ < 5)
					printf("# datagram %u: %zd bytes, seq "
					       "%u\n", seq, r, be32(buf + hdr));
			}
		}
	CHECK_EQ(got, total);
	CHECK_EQ(bad, 0);
	CHECK_EQ(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
}

/*
 * gso_send_check() - send the mixed runs of gso_send_mix() through a GSO
 * channel with @hdr_len bytes of header to a plain socket, which must get
 * them as separate datagrams of their sizes, in order, counted per frame.
 * @refuse:	make the kernel refuse GSO on the channel's socket (no UDP
 *		checksums: EINVAL), so the frames must go one by one instead
 */
static void gso_send_check(unsigned hdr_len, bool refuse)
{
	struct sockaddr_in aa, ba;
	struct tchan a = { 0 };
	struct io_chan_cfg cfg;
	unsigned total;
	uint64_t bytes;
	int one = 1, fa = udp_socket(&aa), fb = udp_socket(&ba);

	if (refuse)
		CHECK_EQ(setsockopt(fa, SOL_SOCKET, SO_NO_CHECK, &one,
				    sizeof(one)), 0);
	a.hdr_len = hdr_len;
	cfg = dgram_cfg(&a, IO_CHAN_F_UDP_GSO);
	cfg.dest = (struct sockaddr *)&ba;
	cfg.destlen = sizeof(ba);
	if (!t_open(&a, fa, &cfg))
		return;
	CHECK_EQ(gso_send_mix(a.c, &total, &bytes, hdr_len), total);
	CHECK(run_until(cond_txq_empty, &a));
	gso_read_check(fb, total, hdr_len);
	CHECK_EQ(stats(a.c).tx_msgs, total);
	CHECK_EQ(stats(a.c).tx_bytes, bytes);
	CHECK_EQ(stats(a.c).tx_errors, 0);
	t_close_wait(&a);
	CHECK_EQ(a.err_calls + a.tx_drop_calls, 0);
	close(fb);
}

/* Frames through a GSO channel reach a plain socket as separate datagrams
 * of their sizes, in order; counted per frame */
static void test_udp_gso_send(void)
{
	gso_send_check(4, false);
}

/* A socket that refuses GSO sends the same frames one by one instead,
 * losing none */
static void test_udp_gso_refused(void)
{
	gso_send_check(0, true);
}

/* GSO channel to GRO channel: runs cross the kernel coalesced both ways
 * and come out as the frames that went in */
static void test_udp_gso_to_gro(void)
{
	struct sockaddr_in aa, ba;
	struct tchan a = { 0 }, b = { 0 };
	struct io_chan_cfg cfg;
	struct want w = { &b, 300 };
	bool ok = true;
	int fa = udp_socket(&aa), fb = udp_socket(&ba);

	cfg = dgram_cfg(&a, IO_CHAN_F_UDP_GSO);
	cfg.dest = (struct sockaddr *)&ba;
	cfg.destlen = sizeof(ba);
	if (!t_open(&a, fa, &cfg))
		return;
	cfg = dgram_cfg(&b, IO_CHAN_F_UDP_GRO);
	if (!t_open(&b, fb, &cfg))
		return;
	CHECK_EQ(send_frames(a.c, 250, 64, 0), 250);
	CHECK_EQ(send_frames(a.c, 50, 1500, 250), 50);
	CHECK(run_until(cond_msgs, &w));
	CHECK_EQ(b.msgs, 300);
	for (unsigned i = 0; i < 300 && i < b.msgs; i++)
		if (b.log[i].seq != i || !b.log[i].pattern_ok ||
		    b.log[i].len != (i < 250 ? 64u : 1500u))
			ok = false;
	CHECK(ok);
	CHECK(b.adjacent > 200);
	CHECK_EQ(stats(a.c).tx_msgs, 300);
	CHECK_EQ(stats(b.c).rx_msgs, 300);
	t_close_wait(&a);
	t_close_wait(&b);
}

/* The flags are for UDP: a unix datagram channel ignores them */
static void test_udp_flags_not_udp(void)
{
	struct tchan a = { 0 }, b = { 0 };
	struct io_chan_cfg cfg;
	struct want w = { &b, 3 };
	int sv[2];

	if (!pair(SOCK_DGRAM, sv))
		return;
	cfg = dgram_cfg(&a, IO_CHAN_F_UDP_GSO | IO_CHAN_F_UDP_GRO);
	if (!t_open(&a, sv[0], &cfg))
		return;
	cfg = dgram_cfg(&b, IO_CHAN_F_UDP_GRO);
	if (!t_open(&b, sv[1], &cfg))
		return;
	CHECK_EQ(send_frames(a.c, 3, 80, 5), 3);
	CHECK(run_until(cond_msgs, &w));
	CHECK_EQ(b.msgs, 3);
	for (unsigned i = 0; i < 3 && i < b.msgs; i++) {
		CHECK_EQ(b.log[i].len, 80);
		CHECK_EQ(b.log[i].seq, 5 + i);
	}
	t_close_wait(&a);
	t_close_wait(&b);
}

/* ---- a backlog bigger than a round ------------------------------------- */

#define BACKLOG_GSO_MSGS 40	/* coalesced sends of BACKLOG_GSO_SEGS each */
#define BACKLOG_GSO_SEGS 64
#define BACKLOG_PLAIN	 1200	/* plain datagrams at most (room allowing) */

/* A forwarder's frames: delivered at the far end or refused on the way */
struct fwd_want {
	struct tchan *fwd, *dst;
	unsigned n;
};

static bool cond_forwarded(void *arg)
{
	struct fwd_want *w = arg;

	return w->dst->msgs + w->fwd->echo_refused >= w->n;
}

/* rcv_room() - plain 64-byte datagrams @fd's receive buffer surely holds
 * (a loopback datagram costs its buffer about 1 KiB; 2 counted) */
static unsigned rcv_room(int fd)
{
	int v = 0;
	socklen_t l = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &l) < 0 || v < 0)
		return 0;
	return (unsigned)v / 2048;
}

/* backlog_plain() - plain datagrams to send besides the coalesced ones: as
 * many as @fd's receive buffer surely has room for (a coalesced message
 * counted as 8), at most BACKLOG_PLAIN */
static unsigned backlog_plain(int fd)
{
	unsigned room = rcv_room(fd), gso = BACKLOG_GSO_MSGS * 8;

	if (room <= gso)
		return 0;
	room -= gso;
	return room < BACKLOG_PLAIN ? room : BACKLOG_PLAIN;
}

/* backlog_send() - queue a burst at @to all at once, the loop not running:
 * BACKLOG_GSO_MSGS coalesced messages (as a GSO peer sends; a GRO socket
 * keeps them whole), then @plain single datagrams.  Return: frames sent. */
static unsigned backlog_send(int fd, const struct sockaddr_in *to,
			     unsigned plain, uint32_t seq0)
{
	unsigned n = 0;
	uint8_t msg[64];

	for (unsigned i = 0; i < BACKLOG_GSO_MSGS; i++) {
		ssize_t r = gso_sendmsg(fd, to, BACKLOG_GSO_SEGS, 64, 64,
					seq0 + n);

		CHECK_EQ(r, BACKLOG_GSO_SEGS * 64);
		n += BACKLOG_GSO_SEGS;
	}
	for (unsigned i = 0; i < plain; i++, n++) {
		fill(msg, sizeof(msg), seq0 + n);
		CHECK_EQ(sendto(fd, msg, sizeof(msg), 0,
				(const struct sockaddr *)to, sizeof(*to)),
			 (ssize_t)sizeof(msg));
	}
	return n;
}

/* in_order() - did @t log 64-byte frames intact, seq0, seq0 + 1, ... (or,
 * with @gaps, in rising order from seq0 on)? */
static bool in_order(const struct tchan *t, uint32_t seq0, bool gaps)
{
	for (unsigned i = 0; i < t->msgs && i < LOG_MAX; i++) {
		const struct rec *r = &t->log[i];
		bool seq_ok = gaps ? r->seq >= seq0 + i &&
					     (!i || r->seq > r[-1].seq)
				   : r->seq == seq0 + i;

		if (!seq_ok || r->len != 64 || !r->pattern_ok) {
			printf("# frame %u: seq %u len %u\n", i, r->seq, r->len);
			return false;
		}
	}
	return true;
}

/*
 * Far more datagrams wait than one round of the io_uring engine handles
 * (256 frames; the rest of the completions wait in the engine), then the
 * sender stops: every one comes, in order, with no further input.  A loop
 * that went to sleep with completions still waiting would wait for the
 * guard timer and fail here.  Done four times, the channel left idle in
 * between, so that each burst finds the engine at rest.
 */
static void test_dgram_backlog_drains(void)
{
	struct sockaddr_in ba, ca;
	struct tchan b = { 0 };
	struct io_chan_cfg cfg;
	struct want w = { &b, 0 };
	int fb = udp_socket(&ba), fc = udp_socket(&ca);
	unsigned plain = backlog_plain(fb);

	cfg = dgram_cfg(&b, IO_CHAN_F_UDP_GRO | IO_CHAN_F_SRCADDR);
	if (!t_open(&b, fb, &cfg))
		return;
	for (unsigned round = 0; round < 4; round++) {
		b.msgs = 0;
		w.n = backlog_send(fc, &ba, plain, round << 16);
		CHECK(w.n > 4 * 256);
		CHECK(run_until(cond_msgs, &w));
		CHECK_EQ(b.msgs, w.n);
		CHECK(in_order(&b, round << 16, false));
		/* Nothing more than was sent */
		run_for(5);
		CHECK_EQ(b.msgs, w.n);
	}
	CHECK_EQ(b.err_calls, 0);
	t_close_wait(&b);
	close(fc);
}

/*
 * The same backlog through a hub-like forwarder: B sends each frame on to
 * A (a bounded queue towards D), pauses itself while A's queue is busy and
 * is resumed from A's on_tx_drain(ready), as a switch slows an ingress
 * port behind a blocked egress port.  However the pauses fall on the
 * engine's rounds, every frame is accounted for with no further input:
 * it reaches D, in order, or A's full queue refused it (frames received
 * before a pause are still delivered, and may find the queue full).
 */
static void test_dgram_backlog_paced_forward(void)
{
	struct sockaddr_in aa, ba, ca, da;
	struct tchan a = { 0 }, b = { 0 }, d = { 0 };
	struct io_chan_cfg cfg;
	struct fwd_want w = { &b, &d, 0 };
	int fa = udp_socket(&aa), fb = udp_socket(&ba), fc = udp_socket(&ca);
	int fd = udp_socket(&da);
	unsigned plain = backlog_plain(fb);

	cfg = dgram_cfg(&d, IO_CHAN_F_UDP_GRO);
	if (!t_open(&d, fd, &cfg))
		return;
	cfg = dgram_cfg(&a, IO_CHAN_F_UDP_GSO);
	cfg.txq_max = 256;
	cfg.dest = (struct sockaddr *)&da;
	cfg.destlen = sizeof(da);
	if (!t_open(&a, fa, &cfg))
		return;
	cfg = dgram_cfg(&b, IO_CHAN_F_UDP_GRO | IO_CHAN_F_SRCADDR);
	if (!t_open(&b, fb, &cfg))
		return;
	b.echo = a.c;
	b.pace = true;
	a.resume = &b;
	for (unsigned round = 0; round < 4; round++) {
		d.msgs = 0;
		b.echo_refused = 0;
		w.n = backlog_send(fc, &ba, plain, round << 16);
		CHECK(run_until(cond_forwarded, &w));
		CHECK_EQ(d.msgs + b.echo_refused, w.n);
		CHECK(d.msgs > 0);
		CHECK(in_order(&d, round << 16, true));
		CHECK(run_until(cond_txq_empty, &a));
	}
	CHECK_EQ(a.tx_dropped + a.err_calls + b.err_calls + d.err_calls, 0);
	t_close_wait(&b);
	t_close_wait(&a);
	t_close_wait(&d);
	close(fc);
}

/* inq_empty() - has the kernel nothing left to receive on @fd? */
static bool inq_empty(int fd)
{
	uint8_t b;

	return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
	       (errno == EAGAIN || errno == EWOULDBLOCK);
}

struct settle_want {
	struct tchan *out;
	int in_fd, out_fd;
};

/* cond_settled() - the kernel holds nothing more for the receiver or the
 * far end, and the forwarder's queue is empty.  Checked only when the
 * loop wakes, so a loop that sleeps with work due fails it. */
static bool cond_settled(void *arg)
{
	struct settle_want *w = arg;

	return inq_empty(w->in_fd) && inq_empty(w->out_fd) &&
	       !stats(w->out->c).txq_len;
}

/*
 * A peer in another process floods B (as a load generator does: faster
 * than B forwards, so its socket overflows and the kernel drops) for a
 * while, then stops.  Whatever the kernel still holds for B then is
 * received and forwarded, with no further input: B's socket empties.
 */
static void test_dgram_flood_then_stop(void)
{
	struct sockaddr_in aa, ba, ca, da;
	struct tchan a = { 0 }, b = { 0 }, d = { 0 };
	struct io_chan_cfg cfg;
	struct settle_want w = { &a, -1, -1 };
	int fa = udp_socket(&aa), fb = udp_socket(&ba), fc = udp_socket(&ca);
	int fd = udp_socket(&da), status = 0;
	pid_t pid;

	cfg = dgram_cfg(&d, IO_CHAN_F_UDP_GRO);
	if (!t_open(&d, fd, &cfg))
		return;
	cfg = dgram_cfg(&a, IO_CHAN_F_UDP_GSO);
	cfg.dest = (struct sockaddr *)&da;
	cfg.destlen = sizeof(da);
	if (!t_open(&a, fa, &cfg))
		return;
	cfg = dgram_cfg(&b, IO_CHAN_F_UDP_GRO | IO_CHAN_F_UDP_GSO |
				    IO_CHAN_F_SRCADDR);
	if (!t_open(&b, fb, &cfg))
		return;
	w.in_fd = fb;
	w.out_fd = fd;
	b.echo = a.c;
	b.pace = true;
	a.resume = &b;
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		uint64_t end = uv_hrtime() + FLOOD_MS * 1000000ull;
		uint8_t msg[64];
		uint32_t seq = 0;

		while (uv_hrtime() < end) {
			for (unsigned i = 0; i < 64; i++, seq++) {
				fill(msg, sizeof(msg), seq);
				if (sendto(fc, msg, sizeof(msg), 0,
					   (struct sockaddr *)&ba,
					   sizeof(ba)) < 0 &&
				    errno != EAGAIN && errno != ENOBUFS)
					_exit(1);
			}
			if (gso_sendmsg(fc, &ba, 64, 64, 64, seq) < 0 &&
			    errno != EAGAIN && errno != ENOBUFS)
				_exit(1);
			seq += 64;
		}
		_exit(0);
	}
	close(fc);
	while (pid > 0 && waitpid(pid, &status, WNOHANG) == 0)
		pump();
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(b.msgs > 0);
	CHECK(run_until(cond_settled, &w));
	CHECK(d.msgs > 0);
	t_close_wait(&b);
	t_close_wait(&a);
	t_close_wait(&d);
}

/* ---- engine selection (once, not per engine) ------------------------------ */

static void test_auto_falls_back_to_epoll(void)
{
	struct nh_error *err = NULL;
	uv_loop_t l;

	uv_loop_init(&l);
	setenv("NETHUB_IO_FORCE_FAIL_URING", "1", 1);
	CHECK(io_init(&l, IO_ENGINE_AUTO, &err));
	CHECK(err == NULL);
	CHECK(!strcmp(io_engine_name(), "epoll"));
	io_shutdown();

	CHECK(!io_init(&l, IO_ENGINE_URING, &err));
	CHECK(err != NULL);
	if (err) {
		CHECK(strstr(err->msg, "io_uring") != NULL);
		CHECK(strstr(err->msg, "NETHUB_IO_FORCE_FAIL_URING") != NULL);
		CHECK_EQ(err->cls, NH_ERR_GENERIC);
	}
	nh_error_free(err);
	unsetenv("NETHUB_IO_FORCE_FAIL_URING");

	/* Without the hook, auto picks io_uring here */
	err = NULL;
	CHECK(io_init(&l, IO_ENGINE_AUTO, &err));
	CHECK(!strcmp(io_engine_name(), "uring"));
	CHECK(strlen(io_features()) > 0);
	io_shutdown();
	CHECK_EQ(uv_loop_close(&l), 0);
}

static void test_engine_parse(void)
{
	enum io_engine e;

	CHECK(io_engine_parse("auto", &e) && e == IO_ENGINE_AUTO);
	CHECK(io_engine_parse("uring", &e) && e == IO_ENGINE_URING);
	CHECK(io_engine_parse("io_uring", &e) && e == IO_ENGINE_URING);
	CHECK(io_engine_parse("epoll", &e) && e == IO_ENGINE_EPOLL);
	CHECK(!io_engine_parse("poll", &e));
}

/* ---- per-engine runs ------------------------------------------------------------ */

#define PER_ENGINE(t)                                                         \
	static void t##_uring(void)                                           \
	{                                                                     \
		if (setup(V_URING))                                           \
			t();                                                  \
		teardown();                                                   \
	}                                                                     \
	static void t##_uring_single(void)                                    \
	{                                                                     \
		if (setup(V_URING_SINGLE))                                    \
			t();                                                  \
		teardown();                                                   \
	}                                                                     \
	static void t##_epoll(void)                                           \
	{                                                                     \
		if (setup(V_EPOLL))                                           \
			t();                                                  \
		teardown();                                                   \
	}

/* The backlog tests run on the deferred task run ring too, whose kernel
 * side defers most (io_ur_more_due()) */
#define PER_ENGINE_DEFER(t)                                                   \
	PER_ENGINE(t)                                                         \
	static void t##_uring_defer(void)                                     \
	{                                                                     \
		if (setup(V_URING_DEFER))                                     \
			t();                                                  \
		teardown();                                                   \
	}

/* TEST_ONLY=substring runs the matching tests only (for debugging) */
static bool selected(const char *name)
{
	const char *only = getenv("TEST_ONLY");

	return !only || strstr(name, only);
}

#define RUN(fn)                                                               \
	do {                                                                  \
		if (selected(#fn))                                            \
			TAP_RUN(fn);                                          \
	} while (0)

#define RUN_PER_ENGINE(t)                                                     \
	do {                                                                  \
		RUN(t##_uring);                                               \
		RUN(t##_uring_single);                                        \
		RUN(t##_epoll);                                               \
	} while (0)

#define RUN_PER_ENGINE_DEFER(t)                                               \
	do {                                                                  \
		RUN_PER_ENGINE(t);                                            \
		RUN(t##_uring_defer);                                         \
	} while (0)

PER_ENGINE(test_dgram_roundtrip)
PER_ENGINE(test_dgram_burst_in_order)
PER_ENGINE(test_dgram_tx_header)
PER_ENGINE(test_dgram_truncated)
PER_ENGINE(test_rw_dgram)
PER_ENGINE(test_stream_framing)
PER_ENGINE(test_stream_eof)
PER_ENGINE(test_stream_short_writes)
PER_ENGINE(test_txq_max_bound)
PER_ENGINE(test_close_in_flight)
PER_ENGINE(test_dgram_econnrefused)
PER_ENGINE(test_pause_resume)
PER_ENGINE(test_open_errors)
PER_ENGINE(test_udp_gro_split)
PER_ENGINE(test_udp_gso_send)
PER_ENGINE(test_udp_gso_refused)
PER_ENGINE(test_udp_gso_to_gro)
PER_ENGINE(test_udp_flags_not_udp)
PER_ENGINE_DEFER(test_dgram_backlog_drains)
PER_ENGINE_DEFER(test_dgram_backlog_paced_forward)
PER_ENGINE_DEFER(test_dgram_flood_then_stop)

int main(void)
{
	log_set_level(LOG_LEVEL_WARN);
	pool = frame_pool_new(4096, 256);
	if (!pool) {
		printf("Bail out! no frame pool\n");
		return 1;
	}
	frame_pool_set_current(pool);

	RUN(test_engine_parse);
	RUN(test_auto_falls_back_to_epoll);
	RUN_PER_ENGINE(test_dgram_roundtrip);
	RUN_PER_ENGINE(test_dgram_burst_in_order);
	RUN_PER_ENGINE(test_dgram_tx_header);
	RUN_PER_ENGINE(test_dgram_truncated);
	RUN_PER_ENGINE(test_rw_dgram);
	RUN_PER_ENGINE(test_stream_framing);
	RUN_PER_ENGINE(test_stream_eof);
	RUN_PER_ENGINE(test_stream_short_writes);
	RUN_PER_ENGINE(test_txq_max_bound);
	RUN_PER_ENGINE(test_close_in_flight);
	RUN_PER_ENGINE(test_dgram_econnrefused);
	RUN_PER_ENGINE(test_pause_resume);
	RUN_PER_ENGINE(test_open_errors);
	RUN_PER_ENGINE(test_udp_gro_split);
	RUN_PER_ENGINE(test_udp_gso_send);
	RUN_PER_ENGINE(test_udp_gso_refused);
	RUN_PER_ENGINE(test_udp_gso_to_gro);
	RUN_PER_ENGINE(test_udp_flags_not_udp);
	RUN_PER_ENGINE_DEFER(test_dgram_backlog_drains);
	RUN_PER_ENGINE_DEFER(test_dgram_backlog_paced_forward);
	RUN_PER_ENGINE_DEFER(test_dgram_flood_then_stop);

	frame_pool_free(pool);
	return tap_done();
}
