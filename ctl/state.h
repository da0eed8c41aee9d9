/* SPDX-License-Identifier: MIT */
/* state.h - the state file: runtime changes kept across restarts
 *
 * What QMP clients change at run time (netdevs and chardevs added, links
 * set, static FDB entries, MAC limits, rx filters, port aliases) is kept
 * as the list of QMP commands that rebuild it, one JSON object per line:
 *
 *   {"execute": "netdev_add", "arguments": {"type": "socket", ...}}
 *
 * The list is a model of the live configuration, not a log: a command
 * that undoes or replaces an earlier one (netdev_del, chardev-remove,
 * fdb-del, a second set_link of the same name) takes the earlier one out.
 * After every change the whole file is rewritten (a temporary file beside
 * it, fsync, rename), so a crash leaves the old or the new file, never a
 * mix.  At start-up the file is read and checked line by line before
 * anything starts (a bad line is an error naming FILE:LINE), then replayed
 * through the same QMP command handlers once the command line's netdevs
 * are up.  Details, and how the command line and the state interplay:
 * docs/usage.md ("Saved state").
 */
#ifndef NH_STATE_H
#define NH_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "error.h"

/**
 * state_load() - read and check the state file @path
 *
 * A missing file is an empty state.  Every line must be a JSON object
 * {"execute": CMD, "arguments": {...}} with CMD one of the commands the
 * state keeps and arguments that pass the schema; blank lines and lines
 * starting with '#' are skipped.  Nothing is run yet.
 * Return: false with "PATH:LINE: what is wrong" (or why the file cannot be
 * read) in errp.
 */
bool state_load(const char *path, struct nh_error **errp);

/**
 * state_restore() - replay the loaded state, then keep it up to date
 *
 * Runs each command through the QMP command table.  A netdev or chardev
 * whose id the command line already made is skipped (the command line
 * wins; logged, and dropped from the state).  A setting of a port that
 * does not exist yet but whose netdev does (a listening netdev's peer
 * "ID.N") waits until a port of that name appears.
 * Return: false with "PATH:LINE: CMD: the command's error" if a command
 * fails (start-up fails then).
 */
bool state_restore(uv_loop_t *loop, struct nh_error **errp);

/**
 * state_save() - write the state file now (atomically)
 * Return: false with the reason, naming the file.
 */
bool state_save(struct nh_error **errp);

/**
 * state_note() - a QMP command succeeded: update the state and save it
 * @command, @args: the command and its arguments (borrowed)
 *
 * Commands the state does not keep are ignored.  A failure to save is
 * logged (the command itself has taken effect).
 */
void state_note(const char *command, const json_t *args);

/* state_stop() - stop following changes (at shutdown, before the netdevs
 * are taken down: their removal is not a change to keep) */
void state_stop(void);

/* state_path() - the state file in use, or NULL */
const char *state_path(void);

#endif /* NH_STATE_H */
