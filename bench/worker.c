/* SPDX-License-Identifier: MIT */
/* worker.c - nethub-bench's worker threads: each drives the generator and
 * the sink of the ports it owns from one epoll loop
 *
 * The generator sends each sending port's frames in batches, as fast as
 * the transport takes them or paced to the port's share of --rate, until
 * the run's clock says stop; the sink accounts every received frame
 * (sink_frame(), which the setup phase's receiving uses too).  A worker
 * owns its ports' sink counters and its flow table outright; other
 * threads only read them, relaxed, for the progress line.
 *
 * Ports of a busy-polled transport (vhost-user's rings) are polled every
 * loop turn, and then the loop does not sleep.
 *
 * Never: allocate, log or make a syscall of its own per frame (one clock
 * read per batch, one epoll_pwait2() per loop turn), or touch a port of
 * another worker.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bench.h"

#define BENCH_DRAIN_QUIET_MS 100
#define BENCH_IDLE_WAIT_MS  10
/* a port whose device refused frames (a full tap queue: the switch has
 * not read yet) tries again this soon: nothing tells when there is room */
#define BENCH_RETRY_WAIT_NS 200000

/* ---------------------------------------------------------------------- */
/* Sink                                                                     */
/* ---------------------------------------------------------------------- */

void sink_frame(struct bench_worker *w, struct bench_port *rxp,
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

/* ---------------------------------------------------------------------- */
/* Generator and worker loop                                               */
/* ---------------------------------------------------------------------- */

void sleep_until(uint64_t t)
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

void *worker_main(void *arg)
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
		bool progressed = false, backlog = false, polled = false;
		bool retry = false;

		for (i = 0; i < w->n_mine; i++) {
			struct bench_port *p = w->mine[i];

			if (!p->dead && p->cfg->transport->poll) {
				int r = p->cfg->transport->poll(p);

				polled = true;
				if (r < 0)
					port_fail(p, r);
			}
			if (p->dead || !p->sends)
				continue;
			if (!p->tx_blocked &&
			    worker_send(w, p, i, now, &next_due) > 0)
				progressed = true;
			backlog |= p->tx_backlog && !p->dead;
			retry |= p->tx_backlog && !p->tx_blocked && !p->dead;
		}

		if (now >= clk->t_end && !backlog &&
		    (now >= clk->t_stop ||
		     now - (w->last_rx_ns > clk->t_end ? w->last_rx_ns
						       : clk->t_end) >=
			     BENCH_DRAIN_QUIET_MS * NS_PER_MS))
			break;
		if (now >= clk->t_stop)
			break;

		if (progressed || polled)
			wait = 0;
		else if (next_due != UINT64_MAX)
			wait = next_due > now ? next_due - now : 0;
		else
			wait = BENCH_IDLE_WAIT_MS * NS_PER_MS;
		if (retry && wait > BENCH_RETRY_WAIT_NS)
			wait = BENCH_RETRY_WAIT_NS;
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

int worker_init(struct bench_worker *w, unsigned id,
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

void worker_free(struct bench_worker *w)
{
	if (w->epfd >= 0)
		close(w->epfd);
	w->epfd = -1;
	free(w->mine);
	free(w->flows);
	w->mine = NULL;
	w->flows = NULL;
}

int worker_adopt(struct bench_worker *w, struct bench_port *p)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = w->n_mine };

	p->w = w;
	w->mine[w->n_mine++] = p;
	if (p->dead)
		return 0;
	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, p->fd, &ev) ? -errno : 0;
}
