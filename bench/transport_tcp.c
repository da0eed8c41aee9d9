/* SPDX-License-Identifier: MIT */
/* transport_tcp.c - nethub-bench's tcp transport: a stream of 4-byte
 * big-endian lengths and frames, QEMU's -netdev socket,connect=/listen=
 *
 * Each bench port is one connection to --connect's HOST:PORT, retried
 * while a starting switch refuses it.  A batch is one write() of many
 * framed frames; what the kernel does not take stays in the port's
 * backlog and goes first next time, so the stream never tears a frame.
 * Receiving is large buffered reads, split into frames here.  Owns its
 * ports' sockets and buffers; never allocates or logs on the per-frame
 * path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

#define BENCH_TCP_WRITE_MAX (256 * 1024) /* bytes per write() batch */
#define BENCH_TCP_RXBUF	    (512 * 1024)

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

const struct bench_transport transport_tcp = {
	.name = "tcp",
	.max_frame = BENCH_TCP_MAX,
	.open = tcp_open,
	.send = tcp_send,
	.send_ctrl = tcp_send_ctrl,
	.recv = tcp_recv,
	.close = tcp_close,
};
