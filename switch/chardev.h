/* SPDX-License-Identifier: MIT */
/* chardev.h - character devices: QEMU's socket chardev with a unix path
 *
 * A chardev is a named way to get one stream connection; a backend (the
 * vhost-user netdev) uses it by id.  Made by -chardev or QMP chardev-add
 * with QEMU's arguments, removed by chardev-remove unless a user holds it.
 *
 *   server=on   nethub listens at the path (socket file mode 0600 unless
 *               the nethub extension x-mode says otherwise; a stale file is
 *               replaced, a live one refused) and serves one peer at a
 *               time: while a peer is connected the next waits in the
 *               listen backlog, as with QEMU
 *   server=off  nethub connects to the path; when that fails or the peer
 *               goes it tries again every reconnect= seconds (0: never;
 *               then a first connection that fails fails chardev-add)
 *
 * wait= is accepted and ignored: nethubd never waits for a peer before it
 * starts.  Only the unix address family is supported.
 *
 * A user attaches (chardev_attach()) and is handed each connection's fd
 * through its callback; it owns that fd, and when it closes it calls
 * chardev_disconnected(), after which the chardev listens or reconnects
 * again.  All on the daemon's loop.
 */
#ifndef NH_CHARDEV_H
#define NH_CHARDEV_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "error.h"

#define CHARDEV_ID_MAX 128

struct chardev;

/* A new connection: @fd belongs to the user from now on */
typedef void chardev_connected_fn(void *ctx, int fd);

/**
 * chardev_add() - create a chardev from chardev-add arguments
 * @args:	{"id", "backend": {"type": "socket", "data": {"addr":
 *		{"type": "unix", "data": {"path"}}, "server"?, "wait"?,
 *		"reconnect"?, "x-mode"?}}}; borrowed
 * @errp:	"Parameter 'id' expects an identifier", "Chardev 'X' already
 *		exists", an unsupported backend or address type, the socket's
 *		error ("Failed to connect to 'PATH': ...")
 */
bool chardev_add(uv_loop_t *loop, const json_t *args, struct nh_error **errp);

/**
 * chardev_parse_cli() - QEMU's -chardev socket,id=ID,path=PATH[,server=on|
 * off][,wait=on|off][,reconnect=SECONDS] as chardev-add arguments
 * Return: a new object (caller owns), or NULL with @errp.
 */
json_t *chardev_parse_cli(const char *spec, struct nh_error **errp);

/* chardev_check() - chardev_add()'s argument checks, opening nothing */
bool chardev_check(const json_t *args, struct nh_error **errp);

/**
 * chardev_remove() - close chardev @id and remove its socket file
 * @errp:	"Chardev 'X' not found", "Chardev 'X' is busy" (a netdev uses
 *		it)
 */
bool chardev_remove(const char *id, struct nh_error **errp);

/* chardev_remove_all() - close every chardev (shutdown, after netdevs) */
void chardev_remove_all(void);

/* chardev_query() - query-chardev's answer: [{label, filename,
 * frontend-open}]; caller owns */
json_t *chardev_query(void);

/* chardev_find() - by id, or NULL */
struct chardev *chardev_find(const char *id);

/* chardev_id(), chardev_path(), chardev_is_server() - facts for info */
const char *chardev_id(const struct chardev *cd);
const char *chardev_path(const struct chardev *cd);
bool chardev_is_server(const struct chardev *cd);

/**
 * chardev_attach() - become @cd's user: @fn is called with each
 * connection (a pending one at once, before this returns)
 * @errp:	"Chardev 'X' is busy" when it has a user already
 */
bool chardev_attach(struct chardev *cd, chardev_connected_fn *fn, void *ctx,
		    struct nh_error **errp);

/* chardev_detach() - stop being @cd's user; a connection it was handed is
 * still the user's to close (then call chardev_disconnected() first) */
void chardev_detach(struct chardev *cd);

/* chardev_disconnected() - the user closed the connection it was handed:
 * listen (server) or reconnect (client, reconnect > 0) again */
void chardev_disconnected(struct chardev *cd);

#endif /* NH_CHARDEV_H */
