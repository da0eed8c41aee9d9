/* SPDX-License-Identifier: MIT */
/* nethubctl.h - the parts of nethubctl, the command-line QMP client
 *
 * nethubctl is a pure client: it links jansson and nothing of the daemon.
 * It speaks to nethubd (or to any QMP server, QEMU included) over one
 * control socket:
 *
 *   nethubctl_conn.c   the connection: where the socket is, connect and
 *                      reply timeouts, finding JSON messages in the stream,
 *                      the greeting and capabilities negotiation, commands
 *                      and events
 *   nethubctl_args.c   KEY=VALUE arguments turned into a typed JSON object,
 *                      by the command's argument type in the server's
 *                      query-qmp-schema
 *   nethubctl_views.c  the readable views: show, fdb, events
 *   nethubctl_top.c    the live per-port rate view: top
 *   nethubctl_capture.c  a live capture of a port or hub: capture
 *   nethubctl.c        main(): options, help, one-shot commands
 *
 * Error convention: a function that can fail returns an exit status (0 on
 * success, CTL_EXIT_QMP or CTL_EXIT_USAGE on failure) and has printed the
 * reason on stderr by then, so a caller only passes the status up.
 */
#ifndef NH_NETHUBCTL_H
#define NH_NETHUBCTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CTL_EXIT_OK    0    /* the command succeeded */
#define CTL_EXIT_QMP   1    /* the server answered with a QMP error */
#define CTL_EXIT_USAGE 2    /* bad usage, or no usable connection */
#define CTL_TIMED_OUT  (-1) /* ctl_recv(): the deadline passed (quiet) */

#define CTL_TIMEOUT_DEFAULT_S 10.0	   /* connect, and each reply */
#define CTL_MAX_MSG_BYTES     (64u << 20)  /* one message from the server */
#define CTL_SOCKET_ENV	      "NETHUB_QMP" /* the default socket */

/* What every subcommand is given: the global options */
struct ctl_opts {
	const char *socket; /* -s; NULL: $NETHUB_QMP or the default */
	double timeout_s;   /* --timeout: connect and each reply */
	bool dry_run;	    /* -n: print the request, do not send it */
};

struct ctl_conn;

/**
 * ctl_fail() - print "nethubctl: <message>" on stderr
 * Return: CTL_EXIT_USAGE, to be returned by the caller.
 */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ctl_now() - seconds of the monotonic clock */
double ctl_now(void);

/**
 * ctl_gone() - say that nethubd at @where went away (the one message top,
 * events, capture and every command end with when the connection closes)
 * Return: CTL_EXIT_USAGE.
 */
int ctl_gone(const char *where);

/**
 * ctl_parse_seconds() - a duration option: a non-negative decimal number
 * of seconds, at most a day; @min_s is the smallest allowed
 * Return: 0 with *@out set, or CTL_EXIT_USAGE (printed, naming @opt).
 */
int ctl_parse_seconds(const char *opt, const char *text, double min_s,
		      double *out);

/**
 * ctl_parse_count() - a whole number from 1 to 2^31-1 for option @opt
 * Return: 0 with *@out set, or CTL_EXIT_USAGE (printed).
 */
int ctl_parse_count(const char *opt, const char *text, long *out);

/* ---- the connection (nethubctl_conn.c) ---- */

/**
 * ctl_daemon_socket() - the QMP socket of nethubd's default configuration:
 * /run/nethub/qmp.sock for root, else $XDG_RUNTIME_DIR/nethub/qmp.sock, or
 * /tmp/nethub-UID/qmp.sock without XDG_RUNTIME_DIR.  Written to @buf
 * (truncated to @size).
 */
void ctl_daemon_socket(char *buf, size_t size);

/* ctl_default_socket() - the socket used without -s: $NETHUB_QMP if set,
 * else ctl_daemon_socket() */
void ctl_default_socket(char *buf, size_t size);

/**
 * ctl_open() - connect, read the greeting, negotiate capabilities
 * @opts:	the socket ("PATH", "unix:PATH" or "tcp:HOST:PORT", HOST may be
 *		a bracketed IPv6 address) and the timeout for each step
 * @out:	the connection, closed with ctl_close()
 * Return: 0, or CTL_EXIT_USAGE (printed: which socket, what failed).
 */
int ctl_open(const struct ctl_opts *opts, struct ctl_conn **out);

/* ctl_close() - close the connection and free it; NULL is fine */
void ctl_close(struct ctl_conn *c);

/* ctl_where() - the socket as the user knows it, for messages */
const char *ctl_where(const struct ctl_conn *c);

/**
 * ctl_recv() - the next message from the server, whatever it is
 * @deadline:	a ctl_now() time to give up at; negative: wait for ever
 * @msg:	the message (a JSON object), caller frees
 * Return: 0; CTL_TIMED_OUT (nothing printed) when @deadline passed; or
 * CTL_EXIT_USAGE (printed) when the connection failed or the server sent
 * something that is not a JSON object.
 */
int ctl_recv(struct ctl_conn *c, double deadline, json_t **msg);

/**
 * ctl_request() - send one request and wait for its reply, skipping
 * events that arrive before it
 * @req:	{"execute": ..., "arguments"?: ..., "id"?: ...}, borrowed; an
 *		"id" is added to the copy sent when it has none
 * @ret:	on success, the "return" value (new reference)
 * @error:	on a QMP error, the "error" object (new reference)
 * Return: 0 (*@ret set); CTL_EXIT_QMP (*@error set, nothing printed); or
 * CTL_EXIT_USAGE (printed: connection failure, no reply within the
 * timeout, a reply that is neither).
 */
int ctl_request(struct ctl_conn *c, const json_t *req, json_t **ret,
		json_t **error);

/**
 * ctl_call() - run @command with @args (stolen; NULL for none)
 * Like ctl_request(), but a QMP error is printed ("error: CLASS: desc").
 * Return: 0 with *@ret set, CTL_EXIT_QMP or CTL_EXIT_USAGE.
 */
int ctl_call(struct ctl_conn *c, const char *command, json_t *args,
	     json_t **ret);

/* ctl_print_qmp_error() - "error: CLASS: desc" on stderr */
void ctl_print_qmp_error(const json_t *error);

/**
 * ctl_schema() - the server's query-qmp-schema, as an object from each
 * SchemaInfo's name to the SchemaInfo; fetched once per connection.
 * Return: borrowed; NULL if the server would not give it (a QMP error:
 * the caller falls back) — a connection failure is CTL_EXIT_USAGE in
 * *@rc (printed), else *@rc is 0.
 */
const json_t *ctl_schema(struct ctl_conn *c, int *rc);

/* ---- arguments (nethubctl_args.c) ---- */

/**
 * ctl_args_build() - the arguments object of @command from KEY=VALUE words
 * @schema:	ctl_schema()'s index, or NULL: every value is then a string
 * @words:	@n words "KEY=VALUE"; KEY may be a path "a.b.c"; a numeric
 *		segment indexes a list ("dns.0=..."); a KEY given twice makes
 *		a list
 * @out:	the object (new reference; {} for no words)
 *
 * Each value is typed by the schema member it names: int (decimal or 0x
 * hex), number, bool (on/off, yes/no, true/false), str and enums as
 * strings, 'any' as JSON when it parses, objects and lists as JSON text
 * when the value starts with '{' or '['.  Flat unions pick their variant's
 * members by the discriminator's value.  A KEY the type does not have is
 * an error listing the ones it has — unless the union's discriminator is
 * missing or unknown, or the command is not in the schema: then the
 * server's own error is the better answer, and the values go as strings.
 * Return: 0, or CTL_EXIT_USAGE (printed, naming the command and the key).
 */
int ctl_args_build(const json_t *schema, const char *command,
		   char *const *words, int n, json_t **out);

/* ---- views (nethubctl_views.c, nethubctl_top.c) ----
 *
 * Each takes the words after its name (@argv[0] is the view's name),
 * parses its own options, connects and runs.  Return: an exit status.
 */
/**
 * ctl_args_absolute() - make the file names in @command's arguments that
 * nethubd opens (netdev_add's and object-add's file=, chardev-add's path)
 * absolute, from nethubctl's current directory, so that a relative name
 * means what it means to the caller and not to nethubd
 * Return: 0, or CTL_EXIT_USAGE (printed).
 */
int ctl_args_absolute(const char *command, json_t *args);

int ctl_show_main(const struct ctl_opts *opts, int argc, char **argv);
int ctl_fdb_main(const struct ctl_opts *opts, int argc, char **argv);
int ctl_events_main(const struct ctl_opts *opts, int argc, char **argv);
int ctl_top_main(const struct ctl_opts *opts, int argc, char **argv);

/**
 * ctl_capture_main() - capture PORT|--hub ID [FILTER...] [-w FILE] [-q Q]
 * [-S N] [-c N]: a filter-dump into a private FIFO, streamed as pcap to
 * FILE or stdout, or as text lines on a terminal, until a signal, -c
 * frames, a closed output or the end of nethubd or the capture; then the
 * capture is removed, the FIFO and its directory too, and a summary goes
 * to stderr.  Blocks SIGINT, SIGTERM and SIGHUP and ignores SIGPIPE.
 * Return: 0; CTL_EXIT_QMP when nethubd refused the capture or it failed;
 * CTL_EXIT_USAGE for bad usage, a remote (tcp:) nethubd, a FIFO that could
 * not be made, a lost connection.
 */
int ctl_capture_main(const struct ctl_opts *opts, int argc, char **argv);

/* ---- helpers for the views ---- */

/* ctl_json_int() - @v as an integer if it is one, else @dflt */
long long ctl_json_int(const json_t *v, long long dflt);

/* ctl_json_str() - @v as a string if it is one, else @dflt */
const char *ctl_json_str(const json_t *v, const char *dflt);

#endif /* NH_NETHUBCTL_H */
