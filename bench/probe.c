/* SPDX-License-Identifier: MIT */
/* probe.c - what nethub-bench reads from /proc around the measurement
 * window: the CPU time and context switches of the switch process (all its
 * threads), the host's busy CPU time, and the drop counters of the
 * loopback UDP sockets on both sides
 *
 * Read-only, and only before and after the window, never during it.  A
 * file that cannot be read makes the figure absent, not the run fail.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>

#include "bench.h"

static int proc_read(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = 0;
	return 0;
}

/* proc_ctxsw() - context switches of every thread of @pid */
static uint64_t proc_ctxsw(pid_t pid)
{
	char path[300], buf[4096], *l;
	struct dirent *de;
	uint64_t sum = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status",
			 (int)pid, de->d_name);
		if (proc_read(path, buf, sizeof(buf)))
			continue;
		for (l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : l) {
			if (!strncmp(l, "voluntary_ctxt_switches:", 24))
				sum += strtoull(l + 24, NULL, 10);
			else if (!strncmp(l, "nonvoluntary_ctxt_switches:", 27))
				sum += strtoull(l + 27, NULL, 10);
		}
	}
	closedir(d);
	return sum;
}

struct proc_sample proc_sample_pid(pid_t pid)
{
	struct proc_sample s = { 0 };
	unsigned long ut, st;
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (proc_read(path, buf, sizeof(buf)))
		return s;
	p = strrchr(buf, ')');
	/* after "comm)": state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%lu %lu", &ut, &st) != 2)
		return s;
	s.ticks = (uint64_t)ut + st;
	s.ctxsw = proc_ctxsw(pid);
	s.ok = true;
	return s;
}

uint64_t host_busy_ticks(void)
{
	unsigned long long v[8] = { 0 };
	char buf[512];

	if (proc_read("/proc/stat", buf, sizeof(buf)) ||
	    sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		return 0;
	/* user nice system idle iowait irq softirq steal */
	return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

int udp_drops(const uint8_t *is_switch, const uint8_t *is_bench,
	      uint64_t *sw, uint64_t *bench)
{
	FILE *f = fopen("/proc/net/udp", "re");
	char line[512], *last;
	unsigned lport;

	*sw = *bench = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		uint64_t drops;
		size_t n;

		if (sscanf(line, " %*u: %*x:%x", &lport) != 1 || lport > 65535)
			continue;
		n = strlen(line);
		while (n && isspace((unsigned char)line[n - 1]))
			line[--n] = 0;
		last = strrchr(line, ' ');
		if (!last)
			continue;
		drops = strtoull(last + 1, NULL, 10);
		if (is_switch[lport / 8] & (1u << (lport % 8)))
			*sw += drops;
		if (is_bench[lport / 8] & (1u << (lport % 8)))
			*bench += drops;
	}
	fclose(f);
	return 0;
}
