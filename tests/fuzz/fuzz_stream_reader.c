// SPDX-License-Identifier: MIT
/* fuzz_stream_reader.c - libFuzzer target for the socket netdev's stream
 * framing (QEMU's 4-byte big-endian length before each frame)
 *
 * The whole receive path runs as in the daemon: a socket netdev made with
 * fd= on one end of a socketpair, the epoll engine reading into the
 * channel's stream buffer (io_stream_deliver()) and socket_on_stream()
 * cutting frames out of it.  The input's first byte picks how the rest is
 * cut into writes (at most 128 cuts); after each write the loop runs until the
 * netdev has read everything, so every cut point is a point where the reader
 * sees a partial header or frame.  Checked against a model of the framing
 * computed from the whole input:
 *   - the port counts exactly the records whose length and data arrived,
 *     each with its announced length (rx_bytes), the oversized ones
 *     (65535 < length <= 69632) as oversize drops and those shorter than an
 *     Ethernet header (or than a VLAN tag after TPID 0x8100: the hub's
 *     part) as malformed drops;
 *   - a length above 69632 ends the connection (the port goes, one more
 *     malformed drop counted) and nothing after it is read as a frame;
 *     without one the port stays;
 *   - rx_frames = rx_forwarded + the drops, and every frame buffer is back
 *     in the pool at the end.
 * Built with tests/fuzz/standalone.c where libFuzzer is not available.
 */

#include <errno.h>
#include <jansson.h>
#include <linux/sockios.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "fdname.h"
#include "frame.h"
#include "io.h"
#include "log.h"
#include "netdev.h"
#include "port.h"
#include "registry.h"

#define FUZZ_ID		 "fz"
#define FUZZ_FD_NAME	 "fuzzfd" /* fd=, as if passed with getfd */
#define FUZZ_HLEN	 4
#define FUZZ_MAX_FRAME	 (4096 + 65536) /* QEMU's NET_BUFSIZE */
#define FUZZ_PUMP_ROUNDS 10000		/* loop turns to read one write */
#define FUZZ_PIECES_MAX	 128		/* cut points; the rest goes whole */
#define FUZZ_POOL_SMALL	 1024
#define FUZZ_POOL_LARGE	 128

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the framing rules say the port must count for a stream */
struct fuzz_model {
	uint64_t frames, bytes;	   /* handed to the switch */
	uint64_t short_n, short_b; /* < Ethernet header: malformed */
	uint64_t over_n, over_b;   /* > FRAME_MAX_LEN: oversize */
	uint64_t vlan_short;	   /* 802.1Q TPID without a tag: the
				    * hub counts them malformed */
	bool bad;		   /* a length above the maximum */
};

static struct frame_pool *pool;
static struct port_stats removed_stats;
static bool removed;
static int pass_fd = -1; /* the fd FUZZ_FD_NAME stands for, once */

static void fuzz_fail(const char *what, unsigned long long got,
		      unsigned long long want)
{
	fprintf(stderr, "fuzz_stream_reader: %s: got %llu, expected %llu\n",
		what, got, want);
	abort();
}

static void fuzz_on_removed(struct port *p)
{
	if (strcmp(p->name, FUZZ_ID))
		return;
	removed_stats = p->stats;
	removed = true;
}

/* The getfd resolver: FUZZ_FD_NAME is the netdev's end of the socketpair */
static int fuzz_resolve_fd(void *ctx, const char *name)
{
	int fd = pass_fd;

	(void)ctx;
	if (strcmp(name, FUZZ_FD_NAME))
		return -1;
	pass_fd = -1;
	return fd;
}

static const struct port_observer fuzz_observer = {
    .removed = fuzz_on_removed,
};

static void fuzz_setup(void)
{
	struct nh_error *err = NULL;

	log_set_level(LOG_LEVEL_ERROR);
	pool = frame_pool_new(FUZZ_POOL_SMALL, FUZZ_POOL_LARGE);
	if (!pool)
		abort();
	frame_pool_set_current(pool);
	if (!io_init(uv_default_loop(), IO_ENGINE_EPOLL, &err)) {
		fprintf(stderr, "fuzz_stream_reader: io_init: %s\n",
			err ? err->msg : "?");
		abort();
	}
	port_add_observer(&fuzz_observer);
	backends_register_all();
	fdname_set_resolver(fuzz_resolve_fd, NULL);
}

static void fuzz_model_run(const uint8_t *d, size_t n, struct fuzz_model *m)
{
	size_t off = 0;

	memset(m, 0, sizeof(*m));
	while (n - off >= FUZZ_HLEN) {
		uint32_t flen = (uint32_t)d[off] << 24 |
				(uint32_t)d[off + 1] << 16 |
				(uint32_t)d[off + 2] << 8 | d[off + 3];

		if (flen > FUZZ_MAX_FRAME) {
			m->bad = true;
			return;
		}
		if (n - off - FUZZ_HLEN < flen)
			return;
		off += FUZZ_HLEN + flen;
		if (flen > FRAME_MAX_LEN) {
			m->over_n++;
			m->over_b += flen;
		} else if (flen < FRAME_MIN_LEN) {
			m->short_n++;
			m->short_b += flen;
		} else {
			m->frames++;
			m->bytes += flen;
			if (d[off - flen + 12] == 0x81 &&
			    d[off - flen + 13] == 0x00 &&
			    flen < FRAME_ETH_HLEN + FRAME_VLAN_HLEN)
				m->vlan_short++;
		}
	}
}

/* A small deterministic generator for write sizes */
static uint32_t fuzz_next(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return *state >> 16;
}

static size_t fuzz_piece(uint8_t mode, uint32_t *state, size_t left,
			 unsigned nth)
{
	size_t piece;

	switch (nth < FUZZ_PIECES_MAX ? mode & 3 : 3) {
	case 0:
		piece = 1 + fuzz_next(state) % 5; /* headers cut everywhere */
		break;
	case 1:
		piece = 1 + fuzz_next(state) % 64;
		break;
	case 2:
		piece = 1 + fuzz_next(state) % 9000;
		break;
	default:
		piece = left;
		break;
	}
	return piece < left ? piece : left;
}

/* fuzz_pump() - run the loop until the netdev read all that was written
 * to @rfd (or its port went) */
static void fuzz_pump(int rfd)
{
	for (unsigned i = 0; i < FUZZ_PUMP_ROUNDS && !removed; i++) {
		int queued = 0;

		uv_run(uv_default_loop(), UV_RUN_NOWAIT);
		if (removed || ioctl(rfd, SIOCINQ, &queued) < 0 || !queued)
			return;
	}
	if (!removed)
		fuzz_fail("the netdev stopped reading", 0, 0);
}

static void fuzz_write(int wfd, int rfd, const uint8_t *d, size_t n)
{
	while (n && !removed) {
		ssize_t r = send(wfd, d, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (r < 0 && errno == EAGAIN) {
			fuzz_pump(rfd);
			continue;
		}
		if (r < 0)
			return; /* the netdev closed its end */
		d += r;
		n -= (size_t)r;
	}
	fuzz_pump(rfd);
}

static void fuzz_check(const struct port_stats *st, const struct fuzz_model *m)
{
	uint64_t drops = 0;
	uint64_t bad = m->bad ? 1 : 0;

	for (unsigned i = 0; i < PORT_DROP__COUNT; i++)
		drops += st->rx_drops[i];
	if (st->rx_frames != st->rx_forwarded + drops)
		fuzz_fail("rx_frames != rx_forwarded + drops", st->rx_frames,
			  st->rx_forwarded + drops);
	if (st->rx_frames != m->frames + m->short_n + m->over_n + bad)
		fuzz_fail("rx_frames", st->rx_frames,
			  m->frames + m->short_n + m->over_n + bad);
	if (st->rx_drops[PORT_DROP_OVERSIZE] != m->over_n)
		fuzz_fail("oversize drops", st->rx_drops[PORT_DROP_OVERSIZE],
			  m->over_n);
	if (st->rx_drops[PORT_DROP_MALFORMED] !=
	    m->short_n + m->vlan_short + bad)
		fuzz_fail("malformed drops", st->rx_drops[PORT_DROP_MALFORMED],
			  m->short_n + m->vlan_short + bad);
	if (st->rx_drops[PORT_DROP_NO_BUFFER])
		fuzz_fail("no-buffer drops", st->rx_drops[PORT_DROP_NO_BUFFER],
			  0);
	/* the drop for a bad length counts the bytes left in the buffer,
	 * which depend on the cuts: compare bytes only without one */
	if (!m->bad && st->rx_bytes != m->bytes + m->short_b + m->over_b)
		fuzz_fail("rx_bytes", st->rx_bytes,
			  m->bytes + m->short_b + m->over_b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_pool_stats ps;
	struct nh_error *err = NULL;
	struct fuzz_model model;
	struct port_stats st;
	uint32_t state;
	struct port *p;
	json_t *args;
	size_t off = 0;
	uint8_t mode;
	int sv[2];

	if (!pool)
		fuzz_setup();
	if (size == 0)
		return 0;
	mode = data[0];
	state = mode;
	data++;
	size--;
	fuzz_model_run(data, size, &model);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	pass_fd = sv[0];
	args = json_pack("{ss ss ss}", "type", "socket", "id", FUZZ_ID, "fd",
			 FUZZ_FD_NAME);
	removed = false;
	if (!netdev_add(uv_default_loop(), args, &err)) {
		fprintf(stderr, "fuzz_stream_reader: netdev_add: %s\n",
			err ? err->msg : "?");
		abort();
	}
	json_decref(args);

	for (unsigned nth = 0; off < size && !removed; nth++) {
		size_t piece = fuzz_piece(mode, &state, size - off, nth);

		fuzz_write(sv[1], sv[0], data + off, piece);
		off += piece;
	}

	p = port_find(FUZZ_ID);
	if (model.bad != removed)
		fuzz_fail("connection closed", removed, model.bad);
	if (!removed && !p)
		fuzz_fail("the port is gone without a removal", 0, 1);
	st = removed ? removed_stats : p->stats;
	fuzz_check(&st, &model);

	if (!netdev_del(FUZZ_ID, &err))
		abort();
	close(sv[1]);
	for (unsigned i = 0; i < 16; i++)
		uv_run(uv_default_loop(), UV_RUN_NOWAIT);
	frame_pool_stats(pool, &ps);
	if (ps.small_free != ps.small_total || ps.large_free != ps.large_total)
		fuzz_fail("frames not back in the pool",
			  ps.small_free + ps.large_free,
			  ps.small_total + ps.large_total);
	return 0;
}
