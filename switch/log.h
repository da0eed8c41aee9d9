/* SPDX-License-Identifier: MIT */
/* log.h - the one logging module: levels, to stderr or syslog
 *
 * Messages say what happened and to what ("port vms.2: peer closed the
 * connection"), once, never per frame.  No trailing newline in formats.
 */
#ifndef NH_LOG_H
#define NH_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* log_set_level() - messages above @level are discarded */
void log_set_level(enum log_level level);

/* log_level_parse() - "error", "warn", "info" or "debug"; false if unknown */
bool log_level_parse(const char *name, enum log_level *level);

/* log_to_syslog() - send messages to syslog (after daemonizing) */
void log_to_syslog(bool on);

/**
 * log_hold() - keep info and debug messages back until log_release(), so a
 * start-up that fails prints only its error; errors and warnings still go
 * out at once
 */
void log_hold(void);

/* log_release() - end log_hold(): print what was held if @emit, else drop it */
void log_release(bool emit);

/* log_msg() - emit one message at @level */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif /* NH_LOG_H */
