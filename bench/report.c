/* SPDX-License-Identifier: MIT */
/* report.c - nethub-bench's results: the run's counters added up
 * (result_merge()), and printed as a table, as one JSON object per run or
 * sweep, and as the live progress line
 *
 * The JSON keys are an interface: bench/core.sh, bench/compare and the
 * integration tests read them, docs/bench.md explains each.  Output only;
 * nothing here changes a result.
 */
#include <inttypes.h>

#include "bench.h"

void result_merge(struct bench_result *res, const struct bench_cfg *cfg,
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

/* The frames the kernel dropped at the switch's input sockets: datagrams
 * times the frames per datagram of the bench's sends, times the copies
 * the pattern expects of each frame */
static uint64_t kernel_in_frames(const struct bench_cfg *cfg,
				 const struct bench_result *r)
{
	return r->drops_ok ? (uint64_t)((double)r->switch_in_drops *
					r->frames_per_datagram *
					pattern_copies(cfg) + 0.5)
			   : 0;
}

/* What the loss is made of; the rows add up to the frames lost */
static long long loss_rest(const struct bench_cfg *cfg,
			   const struct bench_result *r)
{
	return (long long)r->lost - (long long)r->sw_drops_total -
	       (long long)kernel_in_frames(cfg, r);
}

void report_json(FILE *f, const struct bench_cfg *cfg,
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
		cfg->transport->name, pattern_name(cfg->pattern), r->ports,
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
			", \"sink_drops\": %" PRIu64
			", \"frames_per_datagram\": %.2f"
			", \"kernel_in_drop_frames\": %" PRIu64,
			r->switch_in_drops, r->sink_drops,
			r->frames_per_datagram, kernel_in_frames(cfg, r));
	if (r->sw_drops_ok) {
		fprintf(f, ", \"switch_drops\": {");
		for (i = 0; i < r->sw_drops.n; i++)
			fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "",
				r->sw_drops.name[i], r->sw_drops.count[i]);
		fprintf(f, "}, \"switch_drops_total\": %" PRIu64,
			r->sw_drops_total);
	}
	fprintf(f, ", \"sink_missed_frames\": %lld", loss_rest(cfg, r));
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

static void report_loss_table(FILE *f, const struct bench_cfg *cfg,
			      const struct bench_result *r)
{
	unsigned i, shown = 0;

	if (!r->lost && !r->sw_drops_total &&
	    !(r->drops_ok && (r->switch_in_drops || r->sink_drops)))
		return;
	fprintf(f, "  %-12s %14s\n", "lost where", "frames");
	if (r->sw_drops_ok) {
		fprintf(f, "    %-10s %14" PRIu64 "  dropped by the switch",
			"switch", r->sw_drops_total);
		for (i = 0; i < r->sw_drops.n; i++)
			if (r->sw_drops.count[i])
				fprintf(f, "%s%s %" PRIu64,
					shown++ ? ", " : ": ",
					r->sw_drops.name[i],
					r->sw_drops.count[i]);
		fprintf(f, " (its query-netdevs)\n");
	} else {
		fprintf(f, "    %-10s %14s  not known: give --qmp with the "
			"switch's QMP socket\n", "switch", "?");
	}
	if (r->drops_ok)
		fprintf(f, "    %-10s %14" PRIu64 "  the kernel dropped %" PRIu64
			" datagrams at the switch's input sockets, %.1f "
			"frames each\n",
			"kernel", kernel_in_frames(cfg, r),
			r->switch_in_drops, r->frames_per_datagram);
	fprintf(f, "    %-10s %14lld  the rest: the sink missed them",
		"sink", loss_rest(cfg, r));
	if (r->drops_ok)
		fprintf(f, " (the kernel dropped %" PRIu64 " datagrams at "
			"its sockets)", r->sink_drops);
	fprintf(f, ", or still in flight at the end\n");
	fprintf(f, "    %-10s %14" PRIu64 "  frames lost\n", "total",
		r->lost);
}

void report_table(FILE *f, const struct bench_cfg *cfg,
		  const struct bench_result *r)
{
	const struct lat_hist *h = &r->hist;
	double win = (double)r->window_ns / 1e9;
	unsigned i;

	fprintf(f, "nethub-bench %s: %s, %u ports, %s", NETHUB_VERSION,
		cfg->transport->name, r->ports, pattern_name(cfg->pattern));
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
	fprintf(f, ")\n");
	report_loss_table(f, cfg, r);
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

const char *sweep_key(const struct bench_cfg *cfg)
{
	return cfg->sweep == BENCH_SWEEP_PORTS ? "ports" : "frame_size";
}

unsigned sweep_value(const struct bench_cfg *cfg,
		     const struct bench_result *r)
{
	return cfg->sweep == BENCH_SWEEP_PORTS ? r->ports : r->frame_size;
}

void report_sweep_json(FILE *f, const struct bench_cfg *cfg,
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

void report_sweep_table(FILE *f, const struct bench_cfg *cfg,
			const struct bench_result *runs, unsigned n)
{
	unsigned i;

	fprintf(f, "\nsweep over %s (%s, %s):\n", sweep_key(cfg),
		cfg->transport->name, pattern_name(cfg->pattern));
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

void progress_format(char *buf, size_t len, uint64_t elapsed_ns,
		     double duration_s, uint64_t rx_window,
		     uint64_t expected, uint64_t received)
{
	snprintf(buf, len, "nethub-bench: %5.1f/%.1f s  %12.0f frames/s "
		 "delivered  loss %.3f %%",
		 (double)elapsed_ns / 1e9, duration_s,
		 rate_per_s(rx_window, elapsed_ns),
		 loss_pct(expected, received));
}
