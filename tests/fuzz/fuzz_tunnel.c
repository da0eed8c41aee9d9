// SPDX-License-Identifier: MIT
/* fuzz_tunnel.c - libFuzzer target for the tunnel netdevs' receive checks
 * (l2tpv3 over UDP, vxlan)
 *
 * The receive path runs as in the daemon: an l2tpv3 netdev (64-bit
 * cookies, counter, offset) on hub 0 and a vxlan netdev (VNI 42, learning)
 * on hub 1, both on loopback UDP ports, the epoll engine receiving.  The
 * input's first byte picks the netdev; the rest is one datagram sent to
 * it.  Checked against a model of each header's rules:
 *   - the port counts the datagram once (rx_frames + 1), whatever it is;
 *   - one that fails a check is dropped as the rules say (malformed:
 *     short, bad UDP word, no I flag; filtered: cookie, session, counter,
 *     VNI), one that passes is not dropped by the tunnel;
 *   - every frame buffer is back in the pool afterwards.
 * Built with tests/fuzz/standalone.c where libFuzzer is not available.
 */

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "frame.h"
#include "io.h"
#include "log.h"
#include "netdev.h"
#include "port.h"
#include "registry.h"

#define FUZZ_PUMP_ROUNDS 10000
#define FUZZ_DGRAM_MAX	 65000
#define FUZZ_L2_HLEN	 (4 + 4 + 8 + 4 + 2) /* word, session, cookie64,
					      * counter, offset=2 */
#define FUZZ_L2_SESSION	 2
#define FUZZ_L2_COOKIE	 0x0102030405060708ull
#define FUZZ_VNI	 42

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum fuzz_verdict { FUZZ_PASS, FUZZ_MALFORMED, FUZZ_FILTERED };

static struct frame_pool *pool;
static int tx_fd = -1;
static uint16_t l2_port, vx_port;

/* the model's view of the l2tpv3 counter check */
static struct {
	bool seen;
	uint32_t last;
	unsigned stale;
} ctr;

static void fuzz_fail(const char *what, unsigned long long got,
		      unsigned long long want)
{
	fprintf(stderr, "fuzz_tunnel: %s: got %llu, expected %llu\n", what,
		got, want);
	abort();
}

/* fuzz_free_port() - a UDP port nobody holds now */
static uint16_t fuzz_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		abort();
	close(fd);
	return ntohs(a.sin_port);
}

static void fuzz_add(json_t *args)
{
	struct nh_error *err = NULL;

	if (!netdev_add(uv_default_loop(), args, &err)) {
		fprintf(stderr, "fuzz_tunnel: netdev_add: %s\n",
			err ? err->msg : "?");
		abort();
	}
	json_decref(args);
}

static void fuzz_setup(void)
{
	struct nh_error *err = NULL;
	char port[8], dport[8];

	log_set_level(LOG_LEVEL_ERROR);
	pool = frame_pool_new(1024, 128);
	if (!pool)
		abort();
	frame_pool_set_current(pool);
	if (!io_init(uv_default_loop(), IO_ENGINE_EPOLL, &err))
		abort();
	backends_register_all();
	l2_port = fuzz_free_port();
	vx_port = fuzz_free_port();
	snprintf(port, sizeof(port), "%u", l2_port);
	snprintf(dport, sizeof(dport), "%u", fuzz_free_port());
	fuzz_add(json_pack("{ss ss ss ss sb ss ss si si sb sb sI sI si}",
			   "type", "l2tpv3", "id", "fl", "src", "127.0.0.1",
			   "dst", "127.0.0.1", "udp", 1, "srcport", port,
			   "dstport", dport, "txsession", 1, "rxsession",
			   FUZZ_L2_SESSION, "cookie64", 1, "counter", 1,
			   "txcookie", (json_int_t)1, "rxcookie",
			   (json_int_t)FUZZ_L2_COOKIE, "offset", 2));
	fuzz_add(json_pack("{ss ss si ss si}", "type", "vxlan", "id", "fv",
			   "vni", FUZZ_VNI, "local", "127.0.0.1", "dstport",
			   (int)vx_port));
	fuzz_add(json_pack("{ss ss si ss}", "type", "hubport", "id", "hp",
			   "hubid", 1, "netdev", "fv"));
	tx_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (tx_fd < 0)
		abort();
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static enum fuzz_verdict fuzz_model_l2tpv3(const uint8_t *d, size_t n)
{
	uint64_t cookie;
	uint32_t c;

	if (n < FUZZ_L2_HLEN + FRAME_ETH_HLEN)
		return FUZZ_MALFORMED;
	if ((d[0] & 0x80) || (d[1] & 0x0f) != 3)
		return FUZZ_MALFORMED;
	cookie = (uint64_t)be32(d + 8) << 32 | be32(d + 12);
	if (cookie != FUZZ_L2_COOKIE || be32(d + 4) != FUZZ_L2_SESSION)
		return FUZZ_FILTERED;
	c = be32(d + 16);
	if (!ctr.seen || (int32_t)(c - ctr.last) > 0 || ++ctr.stale >= 64) {
		ctr.seen = true;
		ctr.last = c;
		ctr.stale = 0;
		return FUZZ_PASS;
	}
	return FUZZ_FILTERED;
}

static enum fuzz_verdict fuzz_model_vxlan(const uint8_t *d, size_t n)
{
	if (n < 8 + FRAME_ETH_HLEN || !(d[0] & 0x08))
		return FUZZ_MALFORMED;
	if (d[4] != 0 || d[5] != 0 || d[6] != FUZZ_VNI)
		return FUZZ_FILTERED;
	return FUZZ_PASS;
}

/* fuzz_pump() - run the loop until @p counted one more datagram */
static void fuzz_pump(const struct port *p, uint64_t before)
{
	for (unsigned i = 0; i < FUZZ_PUMP_ROUNDS; i++) {
		uv_run(uv_default_loop(), UV_RUN_NOWAIT);
		if (p->stats.rx_frames > before)
			return;
	}
	fuzz_fail("the datagram was never counted", p->stats.rx_frames,
		  before + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct frame_pool_stats ps;
	struct port_stats st;
	enum fuzz_verdict v;
	struct port *p;
	bool vx;

	if (!pool)
		fuzz_setup();
	if (size == 0)
		return 0;
	vx = data[0] & 1;
	data++;
	size = size - 1 > FUZZ_DGRAM_MAX ? FUZZ_DGRAM_MAX : size - 1;
	p = port_find(vx ? "fv" : "fl");
	if (!p)
		abort();
	st = p->stats;
	to.sin_port = htons(vx ? vx_port : l2_port);
	if (sendto(tx_fd, data, size, 0, (struct sockaddr *)&to, sizeof(to)) !=
	    (ssize_t)size)
		abort();
	fuzz_pump(p, st.rx_frames);
	v = vx ? fuzz_model_vxlan(data, size) : fuzz_model_l2tpv3(data, size);

	if (p->stats.rx_frames != st.rx_frames + 1)
		fuzz_fail("datagrams counted", p->stats.rx_frames - st.rx_frames,
			  1);
	if (p->stats.rx_drops[PORT_DROP_FILTERED] !=
	    st.rx_drops[PORT_DROP_FILTERED] + (v == FUZZ_FILTERED))
		fuzz_fail("filtered drops",
			  p->stats.rx_drops[PORT_DROP_FILTERED] -
			      st.rx_drops[PORT_DROP_FILTERED],
			  v == FUZZ_FILTERED);
	/* the hub counts a short 802.1Q frame malformed too */
	if (v == FUZZ_MALFORMED && p->stats.rx_drops[PORT_DROP_MALFORMED] !=
				       st.rx_drops[PORT_DROP_MALFORMED] + 1)
		fuzz_fail("malformed drops",
			  p->stats.rx_drops[PORT_DROP_MALFORMED] -
			      st.rx_drops[PORT_DROP_MALFORMED],
			  1);
	if (p->stats.rx_drops[PORT_DROP_OVERSIZE] !=
	    st.rx_drops[PORT_DROP_OVERSIZE])
		fuzz_fail("oversize drops",
			  p->stats.rx_drops[PORT_DROP_OVERSIZE] -
			      st.rx_drops[PORT_DROP_OVERSIZE],
			  0);

	for (unsigned i = 0; i < 16; i++)
		uv_run(uv_default_loop(), UV_RUN_NOWAIT);
	frame_pool_stats(pool, &ps);
	if (ps.small_free != ps.small_total || ps.large_free != ps.large_total)
		fuzz_fail("frames not back in the pool",
			  ps.small_free + ps.large_free,
			  ps.small_total + ps.large_total);
	return 0;
}
