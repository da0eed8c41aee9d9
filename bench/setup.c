/* SPDX-License-Identifier: MIT */
/* setup.c - before nethub-bench measures: open every port, teach the
 * switch where each port and each of its --macs addresses is, and check
 * that every port's frames come through the switch to another port
 *
 * Runs in the main thread with one setup worker (whose sink marks the
 * ports that were heard) before the worker threads start; what it sends
 * is learning frames (BENCH_EPOCH_LEARN), counted per port but in none of
 * the measured figures.  A switch that never forwards a port's frames
 * fails the run here, naming the port, instead of measuring nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>

#include "bench.h"

#define BENCH_LEARN_ROUNDS  3
#define BENCH_LEARN_GAP_MS  50
#define BENCH_SETUP_TIMEOUT_S 5.0
#define BENCH_LEARN_RATE    100000.0 /* MAC learning frames/s, first round */
#define BENCH_LEARN_RATE_MIN 5000.0
#define BENCH_LEARN_BURST   64
#define BENCH_LEARN_QUIET_MS 100
#define BENCH_LEARN_FPS_FLOOR 10000.0 /* learning time budget: frames/s */

static void learn_frame(unsigned idx, uint8_t *buf)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	frame_template(buf, BENCH_LEARN_LEN, idx, bcast);
	hdr_stamp(buf, (uint16_t)idx, BENCH_EPOCH_LEARN, 0, now_ns());
}

/**
 * setup_poll() - receive what the ports have for up to @ms milliseconds
 * (busy-polled transports: what their rings hold after that)
 * @pfd:	one entry per port, events set
 * Return: 0, or -errno after printing which port failed
 */
static int setup_poll(const struct bench_cfg *cfg, struct bench_port **ports,
		      struct pollfd *pfd, int ms)
{
	bool polled = cfg->transport->poll != NULL;
	unsigned i;
	int n, r;

	n = poll(pfd, cfg->ports, ms);
	if (n <= 0 && !polled)
		return 0;
	for (i = 0; i < cfg->ports; i++) {
		if (n > 0 && (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
			r = cfg->transport->recv(ports[i]);
		else if (polled)
			r = cfg->transport->poll(ports[i]);
		else
			continue;
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

int bench_setup(const struct bench_cfg *cfg, struct bench_port **ports,
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
