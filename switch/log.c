// SPDX-License-Identifier: MIT
/* log.c - levelled logging to stderr (with a timestamp) or syslog */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

#define LOG_LINE_MAX	1024
#define LOG_HELD_MAX	128 /* messages kept back at most; later ones drop */

static enum log_level log_threshold = LOG_LEVEL_INFO;
static bool log_syslog;
static bool log_holding;
static struct {
	enum log_level level;
	char *line;
} log_held[LOG_HELD_MAX];
static unsigned log_held_n;

static const char *const log_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

void log_set_level(enum log_level level)
{
	log_threshold = level;
}

bool log_level_parse(const char *name, enum log_level *level)
{
	for (unsigned i = 0; i < sizeof(log_names) / sizeof(log_names[0]);
	     i++) {
		if (!strcmp(name, log_names[i])) {
			*level = (enum log_level)i;
			return true;
		}
	}
	if (!strcmp(name, "warning")) {
		*level = LOG_LEVEL_WARN;
		return true;
	}
	return false;
}

void log_to_syslog(bool on)
{
	if (on && !log_syslog)
		openlog("nethubd", LOG_PID, LOG_DAEMON);
	log_syslog = on;
}

static void log_emit(enum log_level level, const char *line);

void log_hold(void)
{
	log_holding = true;
}

void log_release(bool emit)
{
	log_holding = false;
	for (unsigned i = 0; i < log_held_n; i++) {
		if (emit)
			log_emit(log_held[i].level, log_held[i].line);
		free(log_held[i].line);
	}
	log_held_n = 0;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	if (log_holding && level >= LOG_LEVEL_INFO) {
		if (log_held_n < LOG_HELD_MAX) {
			log_held[log_held_n].level = level;
			log_held[log_held_n].line = strdup(line);
			if (log_held[log_held_n].line)
				log_held_n++;
		}
		return;
	}
	log_emit(level, line);
}

static void log_emit(enum log_level level, const char *line)
{
	static const int prio[] = {
		[LOG_LEVEL_ERROR] = LOG_ERR,
		[LOG_LEVEL_WARN] = LOG_WARNING,
		[LOG_LEVEL_INFO] = LOG_INFO,
		[LOG_LEVEL_DEBUG] = LOG_DEBUG,
	};
	if (log_syslog) {
		syslog(prio[level], "%s", line);
	} else {
		struct timespec ts;
		struct tm tm;
		char when[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld nethubd %s: %s\n", when,
			ts.tv_nsec / 1000000, log_names[level], line);
	}
}
