/* SPDX-License-Identifier: MIT */
/* run.c - one nethub-bench measurement, start to end: set up the ports
 * (setup.c), start the worker threads on a common clock, wait out the
 * warm-up and the window with the progress line, let the sinks drain,
 * sample /proc at both ends of the window (probe.c), add up the results
 * and close everything
 *
 * Owns the run's ports and workers: all are made and freed here, also
 * when the run fails halfway.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

#define BENCH_DRAIN_MAX_S   1.0
#define BENCH_PROGRESS_NS   NS_PER_S

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

/* The switch's drops between @q0 and @q1, by reason, into @res */
static void switch_drops_delta(struct bench_result *res,
			       const struct switch_drops *q0,
			       const struct switch_drops *q1)
{
	struct switch_drops *d = &res->sw_drops;

	*d = *q1;
	res->sw_drops_total = 0;
	for (unsigned i = 0; i < d->n; i++) {
		for (unsigned j = 0; j < q0->n; j++)
			if (!strcmp(q0->name[j], d->name[i]))
				d->count[i] = d->count[i] >= q0->count[j]
						      ? d->count[i] - q0->count[j]
						      : 0;
		res->sw_drops_total += d->count[i];
	}
	res->sw_drops_ok = true;
}

/* Frames per datagram of the bench's UDP sends, all epochs (a GSO send is
 * one datagram of many frames): turns the kernel's datagram drops into
 * frames; 1 when nothing was counted */
static double frames_per_datagram(const struct bench_cfg *cfg,
				  struct bench_port **ports)
{
	uint64_t frames = 0, datagrams = 0;

	for (unsigned i = 0; i < cfg->ports; i++) {
		for (unsigned e = 0; e < 3; e++)
			frames += ports[i]->tx_frames[e];
		datagrams += ports[i]->tx_datagrams;
	}
	return datagrams ? (double)frames / (double)datagrams : 1.0;
}

int bench_run(const struct bench_cfg *cfg, struct bench_result *res)
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
	bool drops0, qmp0;
	static struct switch_drops q0, q1;
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
	qmp0 = cfg->qmp && !switch_drops_read(cfg->qmp, &q0);
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
	if (qmp0 && !switch_drops_read(cfg->qmp, &q1))
		switch_drops_delta(res, &q0, &q1);
	res->frames_per_datagram = frames_per_datagram(cfg, ports);

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
