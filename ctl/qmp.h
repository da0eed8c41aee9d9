/* SPDX-License-Identifier: MIT */
/* qmp.h - the QMP server: control sockets, sessions, dispatch, events
 *
 * nethubd speaks QEMU's Machine Protocol on one or more control sockets
 * (-qmp unix:PATH / -qmp tcp:HOST:PORT).  Each connection is a session:
 * greeting, capabilities negotiation, then commands answered one at a
 * time, in order, and events broadcast to every negotiated session.
 *
 * Sessions run on the daemon's loop and never block it: sockets are
 * non-blocking, a session's unsent output is buffered up to
 * QMP_MAX_OUTPUT_BYTES, and a client that stops reading beyond that is
 * disconnected (logged) rather than allowed to hold memory or the loop.
 *
 * Commands dispatch from one table (struct qmp_command, in qmp_cmds.c);
 * their arguments are validated against the schema (schema.h) before the
 * handler runs, so a handler sees arguments of the right names and types.
 */
#ifndef NH_QMP_H
#define NH_QMP_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "error.h"

#define QMP_MAX_OUTPUT_BYTES (16u << 20) /* unsent output per session */
#define QMP_MAX_FDS	     64		 /* getfd names per session */

/*
 * How many clients QMP serves and how long one may take to negotiate.
 *
 * A session that has not completed capabilities negotiation within
 * handshake_timeout_s is sent an error and closed, so connections that
 * never send a byte cannot hold slots for good.  At max_sessions (over all
 * sockets), a new client closes the oldest session that has not
 * negotiated yet (it is sent an error saying why); if every session has
 * negotiated, the new client is sent one error line naming the limit and
 * closed.  Out of file descriptors, a new client gets the same kind of
 * line (one descriptor is kept in reserve to accept and refuse it).
 */
struct qmp_limits {
	unsigned max_sessions;	      /* at once, over all sockets */
	unsigned handshake_timeout_s; /* 0: no timeout */
};

#define QMP_MAX_SESSIONS_DEFAULT      64
#define QMP_MAX_SESSIONS_MAX	      65536
#define QMP_HANDSHAKE_TIMEOUT_DEFAULT_S 10
#define QMP_HANDSHAKE_TIMEOUT_MAX_S   86400

struct qmp_session;

/* A -qmp option, parsed */
struct qmp_listen_config {
	enum { QMP_LISTEN_UNIX, QMP_LISTEN_TCP } kind;
	char *path;	/* unix: socket path */
	char *host;	/* tcp: address, numeric or a name */
	char *port;	/* tcp: port */
	unsigned mode;	/* unix: permission bits, default 0600 */
	char *group;	/* unix: group owner, or NULL */
	bool remote;	/* tcp: remote=on, an address other than loopback
			 * may be served */
};

/**
 * qmp_listen_parse() - parse the value of a -qmp option
 * @text:	"unix:PATH[,server=on][,wait=off][,mode=0660][,group=NAME]"
 *		or "tcp:HOST:PORT[,server=on][,wait=off][,remote=on]"
 * Errors name the part that is wrong ("-qmp: unknown option 'x'",
 * "-qmp: 'wait=on' is not supported: nethubd never waits for a client").
 * Return: the config, caller frees with qmp_listen_config_free(); NULL on
 * error.
 */
struct qmp_listen_config *qmp_listen_parse(const char *text,
					   struct nh_error **errp);
void qmp_listen_config_free(struct qmp_listen_config *lc);

/**
 * qmp_start() - open the control sockets and start serving
 * @limits:	sessions and negotiation timeout; NULL for the defaults
 * A unix socket path that exists and is a socket nobody listens on is
 * replaced; anything else there is an error.  TCP on an address other than
 * loopback (127.0.0.0/8, ::1) is an error naming remote=on unless the
 * config has it, and then logs a warning (QMP has no authentication).
 * Return: false with the reason if any socket could not be opened (none is
 * left open then).
 */
bool qmp_start(uv_loop_t *loop, struct qmp_listen_config *const *lcs,
	       unsigned n, const struct qmp_limits *limits,
	       struct nh_error **errp);

/* qmp_stop() - close every session and socket, remove the socket files */
void qmp_stop(void);

/**
 * qmp_event() - broadcast an event to every negotiated session
 * @name:	e.g. "NIC_RX_FILTER_CHANGED"
 * @data:	its data object, or NULL; the reference is stolen
 * Adds the timestamp.  Sessions still negotiating do not get it.
 */
void qmp_event(const char *name, json_t *data);

/* ---- for command handlers ---- */

/**
 * qmp_session_take_passed_fd() - the fd that arrived (SCM_RIGHTS) with the
 * message being handled; the caller owns it afterwards.  -1 if none.
 */
int qmp_session_take_passed_fd(struct qmp_session *s);

/**
 * qmp_session_add_fd() - keep @fd under @name (getfd); an fd already under
 * that name is closed and replaced.  Takes ownership of @fd.
 * Return: false ("too many named file descriptors") when the session holds
 * QMP_MAX_FDS already; @fd is closed then.
 */
bool qmp_session_add_fd(struct qmp_session *s, const char *name, int fd,
			struct nh_error **errp);

/**
 * qmp_session_take_fd() - remove the fd named @name and return it (the
 * caller owns it); -1 if the session has no such name
 */
int qmp_session_take_fd(struct qmp_session *s, const char *name);

/* qmp_session_close_fd() - closefd: false if there is no such name */
bool qmp_session_close_fd(struct qmp_session *s, const char *name);

/* ---- the command table (qmp_cmds.c) ---- */

/**
 * typedef qmp_handler_fn - run one command
 * @s:		the session it came on
 * @args:	the arguments, validated against the schema (never NULL: {}
 *		when the client sent none); borrowed
 * @ret:	on success, set to the return value (a new reference); a
 *		handler that leaves it NULL answers {}
 * Return: true on success; false with *errp set on failure.
 */
typedef bool (*qmp_handler_fn)(struct qmp_session *s, const json_t *args,
			       json_t **ret, struct nh_error **errp);

struct qmp_command {
	const char *name;
	qmp_handler_fn handler;
};

/* Every command nethubd runs, NULL-terminated; the schema lists the same */
extern const struct qmp_command qmp_commands[];

/* qmp_command_find() - a command by name, or NULL */
const struct qmp_command *qmp_command_find(const char *name);

/**
 * qmp_command_run() - run command @name as if a client had sent it, with
 * no session (no fds to pass, nothing to reply to): the state file's
 * replay.  Arguments are checked against the schema first; a netdev is
 * added on @loop.  Does not call the change hook.
 * Return: false with the command's error.
 */
bool qmp_command_run(uv_loop_t *loop, const char *name, const json_t *args,
		     struct nh_error **errp);

/**
 * qmp_set_change_hook() - call @fn after each command a client ran
 * successfully, with its name and arguments (borrowed); NULL: none.  The
 * state file follows the configuration this way (state.h).
 */
void qmp_set_change_hook(void (*fn)(const char *name, const json_t *args));

/* qmp_cmds_init() / qmp_cmds_fini() - hook events into the core (peers
 * coming and going) at start, unhook at stop; called by qmp_start/qmp_stop */
void qmp_cmds_init(uv_loop_t *loop);
void qmp_cmds_fini(void);

#endif /* NH_QMP_H */
