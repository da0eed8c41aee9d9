/* SPDX-License-Identifier: MIT */
/* plot.c - a sweep drawn with gnuplot (--plot FILE.svg|FILE.png):
 * delivered frames/s and Gbit/s against the swept --ports or --frame-size
 *
 * Writes a data file and a script to $TMPDIR, runs gnuplot on them and
 * removes both; never leaves a temporary file behind, and never runs
 * gnuplot through a shell.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

void plot_data(FILE *f, const struct bench_cfg *cfg,
	       const struct bench_result *runs, unsigned n)
{
	unsigned i;

	fprintf(f, "# %s delivered_fps delivered_gbps offered_fps loss_pct\n",
		sweep_key(cfg));
	for (i = 0; i < n; i++) {
		const struct bench_result *r = &runs[i];

		fprintf(f, "%u %.0f %.6f %.0f %.3f\n", sweep_value(cfg, r),
			rate_per_s(r->rx_window, r->window_ns),
			mbit_per_s(r->rx_window, r->frame_size,
				   r->window_ns) / 1e3,
			rate_per_s(r->tx_frames, r->window_ns),
			loss_pct(r->expected, r->rx_frames));
	}
}

/* gp_quote() - @s as a single-quoted gnuplot string */
static void gp_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

/* plot_is_png() - does --plot @path ask for PNG (else SVG)? */
static bool plot_is_png(const char *path)
{
	size_t n = strlen(path);

	return n >= 4 && !strcasecmp(path + n - 4, ".png");
}

void plot_script(FILE *f, const struct bench_cfg *cfg,
		 const struct bench_result *runs, unsigned n,
		 const char *data_path, const char *out_path)
{
	unsigned i, lo = UINT_MAX, hi = 0, v;
	char title[256];

	snprintf(title, sizeof(title), "nethub-bench: %s, %s%s%s",
		 cfg->transport->name, pattern_name(cfg->pattern),
		 cfg->label ? ", " : "", cfg->label ? cfg->label : "");
	if (plot_is_png(out_path))
		fprintf(f, "set terminal pngcairo size 900,540\n");
	else
		fprintf(f, "set terminal svg size 900,540 dynamic\n");
	fprintf(f, "set output ");
	gp_quote(f, out_path);
	fprintf(f, "\nset title ");
	gp_quote(f, title);
	fprintf(f, " noenhanced\nset xlabel '%s'\n",
		cfg->sweep == BENCH_SWEEP_PORTS ? "ports"
						 : "frame size (bytes)");
	fprintf(f, "set ylabel 'delivered frames/s'\n"
		"set y2label 'delivered Gbit/s'\n"
		"set ytics nomirror\nset y2tics\n"
		"set yrange [0:*]\nset y2range [0:*]\n"
		"set grid\nset key below\n");
	fprintf(f, "set xtics (");
	for (i = 0; i < n; i++) {
		v = sweep_value(cfg, &runs[i]);
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
		fprintf(f, "%s%u", i ? ", " : "", v);
	}
	fprintf(f, ")\n");
	if (n && hi >= 8 * (uint64_t)lo)
		fprintf(f, "set logscale x 2\n");
	fprintf(f, "plot ");
	gp_quote(f, data_path);
	fprintf(f, " using 1:2 axes x1y1 with linespoints lw 2 pt 7 "
		"title 'frames/s', \\\n     ");
	gp_quote(f, data_path);
	fprintf(f, " using 1:3 axes x1y2 with linespoints lw 2 pt 5 "
		"title 'Gbit/s'\n");
}

bool find_in_path(const char *name)
{
	const char *path = getenv("PATH"), *p, *end;
	char buf[PATH_MAX];

	if (!path)
		return false;
	for (p = path; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		if (snprintf(buf, sizeof(buf), "%.*s/%s", (int)(end - p), p,
			     name) < (int)sizeof(buf) &&
		    end > p && access(buf, X_OK) == 0)
			return true;
	}
	return false;
}

int plot_run(const struct bench_cfg *cfg,
	     const struct bench_result *runs, unsigned n)
{
	const char *tmp = getenv("TMPDIR");
	char data[PATH_MAX], script[PATH_MAX];
	FILE *df = NULL, *sf = NULL;
	int dfd = -1, sfd = -1, status, ret = -1;
	bool have_script = false;
	pid_t pid;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(data, sizeof(data), "%s/nethub-bench-data.XXXXXX", tmp);
	snprintf(script, sizeof(script), "%s/nethub-bench-plot.XXXXXX", tmp);
	dfd = mkstemp(data);
	if (dfd < 0) {
		fprintf(stderr, "nethub-bench: --plot: %s: %s\n", data,
			strerror(errno));
		return -1;
	}
	sfd = mkstemp(script);
	if (sfd < 0) {
		fprintf(stderr, "nethub-bench: --plot: %s: %s\n", script,
			strerror(errno));
		goto out;
	}
	have_script = true;
	df = fdopen(dfd, "w");
	if (df)
		dfd = -1;
	sf = df ? fdopen(sfd, "w") : NULL;
	if (sf)
		sfd = -1;
	if (!df || !sf) {
		fprintf(stderr, "nethub-bench: --plot: %s\n", strerror(errno));
		goto out;
	}
	plot_data(df, cfg, runs, n);
	plot_script(sf, cfg, runs, n, data, cfg->plot);
	if (fclose(df) | fclose(sf)) {
		df = sf = NULL;
		fprintf(stderr, "nethub-bench: --plot: writing %s: %s\n", tmp,
			strerror(errno));
		goto out;
	}
	df = sf = NULL;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "nethub-bench: --plot: fork: %s\n",
			strerror(errno));
		goto out;
	}
	if (!pid) {
		execlp("gnuplot", "gnuplot", script, (char *)NULL);
		fprintf(stderr, "nethub-bench: --plot: gnuplot: %s\n",
			strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "nethub-bench: --plot: gnuplot failed; %s was "
			"not written\n", cfg->plot);
		goto out;
	}
	ret = 0;
out:
	if (df)
		fclose(df);
	if (sf)
		fclose(sf);
	if (dfd >= 0)
		close(dfd);
	if (sfd >= 0)
		close(sfd);
	unlink(data);
	if (have_script)
		unlink(script);
	return ret;
}
