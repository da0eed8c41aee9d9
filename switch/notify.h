/* SPDX-License-Identifier: MIT */
/* notify.h - telling a service manager (systemd) how the daemon is doing
 *
 * systemd's readiness protocol, without libsystemd: a unit with
 * Type=notify starts nethubd with $NOTIFY_SOCKET naming a unix datagram
 * socket, and waits for a "READY=1" datagram on it.  Without the variable
 * every call here does nothing.
 */
#ifndef NH_NOTIFY_H
#define NH_NOTIFY_H

/**
 * notify_open() - connect to the socket $NOTIFY_SOCKET names (a path, or
 * '@' and an abstract name), and unset the variable so that programs
 * nethubd runs do not inherit it.  Called before the daemon confines
 * itself: the socket is kept for the later messages.  A failure is logged
 * as a warning and disables the notifications; the daemon still runs.
 */
void notify_open(void);

/**
 * notify_send() - send one message, e.g. "READY=1" or "STOPPING=1"
 * (newline-separated assignments); nothing if notify_open() found no socket
 */
void notify_send(const char *state);

/* notify_close() - close the socket; later notify_send() calls do nothing */
void notify_close(void);

#endif /* NH_NOTIFY_H */
