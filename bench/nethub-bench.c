/* SPDX-License-Identifier: MIT */
/* nethub-bench.c - traffic generator and sink that attaches to a switch as ports
 *
 * nethub-bench opens N ports on a switch (nethubd, QEMU's hub, anything that
 * speaks one of its transports), teaches the switch every port's MAC
 * address, then sends numbered, timestamped frames from each sending port to
 * its peer for a fixed time and reports what arrived: frames/s offered and
 * delivered, Mbit/s, loss, reordering, one-way latency percentiles, and the
 * CPU the switch process used doing it.
 *
 * This file is main(): parse the options, make one run per value of a
 * sweep (--ports or --frame-size list), report each, and draw the sweep.
 * bench.h lists the other files and what each one does.
 *
 * The generator must never be the bottleneck: nothing on the per-frame path
 * allocates, logs or makes a syscall of its own.  Frames go out in batches
 * (sendmmsg, or one write() of many length-prefixed frames), one clock read
 * stamps a whole batch, and receiving is recvmmsg or large buffered reads.
 *
 * Only loopback for udp: its ports bind and send to 127.0.0.1; tcp connects
 * where --connect says, which the scenario scripts keep on 127.0.0.1.
 */
#include <signal.h>
#include <stdlib.h>

#include "bench.h"

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
