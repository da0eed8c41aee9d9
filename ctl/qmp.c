// SPDX-License-Identifier: MIT
/* qmp.c - the QMP server: control sockets, sessions, dispatch, events
 *
 * Owns the listening sockets and every session on them: their sockets,
 * readers, output queues and the file descriptors clients passed in.
 * Commands themselves live in qmp_cmds.c; argument checking in schema.c.
 *
 * Everything here runs on the daemon's loop, next to the datapath, so
 * nothing here may block or grow without bound: sockets are non-blocking,
 * input is read in bounded slices, and a client that does not read its
 * output is cut off at QMP_MAX_OUTPUT_BYTES.  Nor may clients lock others
 * out: sessions are bounded (struct qmp_limits), one that does not
 * negotiate in time is closed, a new client displaces the oldest session
 * still negotiating, and a refused client is told why, even out of file
 * descriptors (one is kept in reserve for that).
 *
 * Never: refuse or drop a client silently, or let idle connections make
 * QMP unreachable.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "fdname.h"
#include "log.h"
#include "qmp.h"
#include "qmp_internal.h"
#include "qmp_reader.h"
#include "schema.h"

#define QMP_READ_CHUNK	     (64 * 1024) /* bytes per recvmsg */
#define QMP_READS_PER_WAKEUP 4		 /* then let the datapath run */
#define QMP_FDS_PER_MSG	     16		 /* SCM_RIGHTS fds taken per recvmsg */
#define QMP_FDNAME_MAX	     64
#define QMP_ACCEPTS_PER_WAKEUP 32	 /* then let the datapath run */
#define QMP_REFUSAL_LOG_MS   10000	 /* refusals: one log line per this long */
/*
 * A client that sends requests faster than it reads the replies: past the
 * high mark its requests wait (already read ones in a queue, the rest in
 * the socket) until its output drains below the low mark.  The loop never
 * spends more than one such batch on it at a time.
 */
#define QMP_OUTPUT_HIGH	     (256u * 1024)
#define QMP_OUTPUT_LOW	     (64u * 1024)


struct qmp_named_fd {
	char name[QMP_FDNAME_MAX];
	int fd;
};

/* A message read while the session's output was backed up */
struct qmp_queued {
	json_t *req;	/* the request, or NULL for a parse error */
	char *error;	/* that error's text */
	int fd;		/* the SCM_RIGHTS fd that came with it, or -1 */
	struct qmp_queued *next;
};

struct qmp_session {
	int fd;
	uv_poll_t poll;
	int poll_events;
	struct qmp_reader *reader;
	bool negotiated;
	bool closing;
	uv_timer_t handshake; /* closes the session if it does not negotiate */
	unsigned handles;     /* open libuv handles; freed at 0 */
	/* while negotiating: in qmp.pending, oldest first */
	struct qmp_session *pending_prev, *pending_next;
	bool pending;
	unsigned busy;	/* > 0 while its input is being handled */
	int passed_fd;	/* the fd of the message being handled, or -1 */
	int incoming_fd; /* an fd not yet matched with a message, or -1 */
	bool collecting; /* queue every message: a read brought an fd */
	unsigned nqueued;
	struct qmp_named_fd fds[QMP_MAX_FDS];
	unsigned nfds;
	struct qmp_queued *queue, **queue_tail; /* waiting requests */
	char *out;	/* unsent output: out[out_off..out_len) */
	size_t out_len, out_off, out_cap;
	char label[QMP_LABEL_MAX + 32]; /* "qmp " + listener label + " #N" */
	struct qmp_session *prev, *next;
};

static struct {
	uv_loop_t *loop;
	struct qmp_listener **listeners;
	unsigned nlisteners;
	struct qmp_session *sessions;
	unsigned nsessions;
	unsigned next_session_no;
	struct qmp_session *pending_head, *pending_tail; /* not negotiated */
	struct qmp_limits limits;
	int reserve_fd;		 /* /dev/null, given up to refuse a client */
	uint64_t refusal_logged; /* uv_now() of the last refusal logged */
	unsigned refusals;	 /* refusals since then, not logged */
	bool running;
} qmp = { .reserve_fd = -1 };

/* ------------------------------------------------------------- output */

static void session_close(struct qmp_session *s, const char *why);
static void session_update_poll(struct qmp_session *s);
static void on_session_poll(uv_poll_t *h, int status, int events);

static size_t session_backlog(const struct qmp_session *s)
{
	return s->out_len - s->out_off;
}

/* Write what is queued; false if the session had to be closed */
static bool session_flush(struct qmp_session *s)
{
	while (s->out_off < s->out_len) {
		ssize_t n = send(s->fd, s->out + s->out_off,
				 s->out_len - s->out_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			session_close(s, strerror(errno));
			return false;
		}
		s->out_off += (size_t)n;
	}
	if (s->out_off == s->out_len)
		s->out_off = s->out_len = 0;
	session_update_poll(s);
	return true;
}

/* Queue one message (a line ended by CRLF) and try to send it; steals @msg */
static void session_send(struct qmp_session *s, json_t *msg)
{
	char *text;
	size_t len, need;

	if (s->closing) {
		json_decref(msg);
		return;
	}
	text = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER |
				       JSON_ENCODE_ANY);
	json_decref(msg);
	if (!text) {
		log_err("%s: cannot encode a reply", s->label);
		return;
	}
	len = strlen(text);
	need = s->out_len - s->out_off + len + 2;
	if (need > QMP_MAX_OUTPUT_BYTES) {
		free(text);
		log_warn("%s: client disconnected: it stopped reading "
			 "(%u MiB unsent)",
			 s->label, QMP_MAX_OUTPUT_BYTES >> 20);
		session_close(s, NULL);
		return;
	}
	if (s->out_off > 0 && s->out_off == s->out_len)
		s->out_off = s->out_len = 0;
	if (s->out_len + len + 2 > s->out_cap) {
		/* compact first, then grow */
		if (s->out_off > 0) {
			memmove(s->out, s->out + s->out_off,
				s->out_len - s->out_off);
			s->out_len -= s->out_off;
			s->out_off = 0;
		}
		if (s->out_len + len + 2 > s->out_cap) {
			size_t cap = s->out_cap ? s->out_cap : 4096;

			while (cap < s->out_len + len + 2)
				cap *= 2;
			s->out = realloc(s->out, cap);
			s->out_cap = cap;
		}
	}
	memcpy(s->out + s->out_len, text, len);
	s->out[s->out_len + len] = '\r';
	s->out[s->out_len + len + 1] = '\n';
	s->out_len += len + 2;
	free(text);
	session_flush(s);
}

static json_t *error_reply(const struct nh_error *err)
{
	return json_pack("{s{ssss}}", "error", "class",
			 nh_error_class_name(err->cls), "desc", err->msg);
}

/* Reply to a request: success (@ret stolen) or @err, echoing @id */
static void session_reply(struct qmp_session *s, json_t *ret,
			  const struct nh_error *err, json_t *id)
{
	json_t *msg;

	if (err) {
		json_decref(ret);
		msg = error_reply(err);
	} else {
		msg = json_object();
		json_object_set_new(msg, "return", ret ? ret : json_object());
	}
	if (id)
		json_object_set(msg, "id", id);
	session_send(s, msg);
}

static void session_error(struct qmp_session *s, enum nh_error_class cls,
			  json_t *id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void session_error(struct qmp_session *s, enum nh_error_class cls,
			  json_t *id, const char *fmt, ...)
{
	struct nh_error err = { .cls = cls };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err.msg, sizeof(err.msg), fmt, ap);
	va_end(ap);
	session_reply(s, NULL, &err, id);
}

void qmp_event(const char *name, json_t *data)
{
	struct timeval tv;
	json_t *msg;

	gettimeofday(&tv, NULL);
	msg = json_object();
	json_object_set_new(msg, "event", json_string(name));
	if (data)
		json_object_set_new(msg, "data", data);
	json_object_set_new(msg, "timestamp",
			    json_pack("{sIsI}", "seconds", (json_int_t)tv.tv_sec,
				      "microseconds",
				      (json_int_t)tv.tv_usec));
	for (struct qmp_session *s = qmp.sessions, *next; s; s = next) {
		next = s->next;
		if (s->negotiated && !s->closing)
			session_send(s, json_incref(msg));
	}
	json_decref(msg);
}

/* ------------------------------------------------------------ file descriptors */

int qmp_session_take_passed_fd(struct qmp_session *s)
{
	int fd = s->passed_fd;

	s->passed_fd = -1;
	return fd;
}

static struct qmp_named_fd *session_find_fd(struct qmp_session *s,
					    const char *name)
{
	for (unsigned i = 0; i < s->nfds; i++)
		if (!strcmp(s->fds[i].name, name))
			return &s->fds[i];
	return NULL;
}

bool qmp_session_add_fd(struct qmp_session *s, const char *name, int fd,
			struct nh_error **errp)
{
	struct qmp_named_fd *nf = session_find_fd(s, name);

	if (strlen(name) >= QMP_FDNAME_MAX) {
		nh_error_setg(errp, "Parameter 'fdname' is longer than %d "
				    "characters", QMP_FDNAME_MAX - 1);
		close(fd);
		return false;
	}
	if (nf) {
		close(nf->fd);
		nf->fd = fd;
		return true;
	}
	if (s->nfds == QMP_MAX_FDS) {
		nh_error_setg(errp, "too many named file descriptors (at most "
				    "%d per connection)", QMP_MAX_FDS);
		close(fd);
		return false;
	}
	nf = &s->fds[s->nfds++];
	snprintf(nf->name, sizeof(nf->name), "%s", name);
	nf->fd = fd;
	return true;
}

int qmp_session_take_fd(struct qmp_session *s, const char *name)
{
	struct qmp_named_fd *nf = session_find_fd(s, name);
	int fd;

	if (!nf)
		return -1;
	fd = nf->fd;
	*nf = s->fds[--s->nfds];
	return fd;
}

bool qmp_session_close_fd(struct qmp_session *s, const char *name)
{
	int fd = qmp_session_take_fd(s, name);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static int session_resolve_fd(void *ctx, const char *name)
{
	return qmp_session_take_fd(ctx, name);
}

/* ------------------------------------------------------------ dispatch */

static void session_pending_remove(struct qmp_session *s)
{
	if (!s->pending)
		return;
	if (s->pending_prev)
		s->pending_prev->pending_next = s->pending_next;
	else
		qmp.pending_head = s->pending_next;
	if (s->pending_next)
		s->pending_next->pending_prev = s->pending_prev;
	else
		qmp.pending_tail = s->pending_prev;
	s->pending_prev = s->pending_next = NULL;
	s->pending = false;
}

static void session_pending_add(struct qmp_session *s)
{
	s->pending_prev = qmp.pending_tail;
	s->pending_next = NULL;
	if (qmp.pending_tail)
		qmp.pending_tail->pending_next = s;
	else
		qmp.pending_head = s;
	qmp.pending_tail = s;
	s->pending = true;
}

/* qmp_capabilities: the only command while negotiating */
static void negotiate(struct qmp_session *s, const json_t *args, json_t *id)
{
	struct nh_error *err = NULL;
	const json_t *enable = json_object_get(args, "enable");
	size_t i;
	json_t *cap;

	if (!schema_check_args("qmp_capabilities", args, &err)) {
		session_reply(s, NULL, err, id);
		nh_error_free(err);
		return;
	}
	/* nethubd offers no capability, so any asked for is refused */
	json_array_foreach(enable, i, cap) {
		session_error(s, NH_ERR_GENERIC, id,
			      "Capability %s not available",
			      json_string_value(cap));
		return;
	}
	s->negotiated = true;
	session_pending_remove(s);
	if (qmp.limits.handshake_timeout_s)
		uv_timer_stop(&s->handshake);
	session_reply(s, NULL, NULL, id);
}

/*
 * The request envelope, checked as QEMU does: member by member, then
 * 'execute'.  Return the command name, or NULL after replying with the
 * error.
 */
static const char *check_request(struct qmp_session *s, json_t *req,
				 json_t *id)
{
	const char *key;
	json_t *val;

	json_object_foreach(req, key, val) {
		if (!strcmp(key, "execute")) {
			if (!json_is_string(val)) {
				session_error(s, NH_ERR_GENERIC, id,
					      "QMP input member 'execute' must "
					      "be a string");
				return NULL;
			}
		} else if (!strcmp(key, "arguments")) {
			if (!json_is_object(val)) {
				session_error(s, NH_ERR_GENERIC, id,
					      "QMP input member 'arguments' "
					      "must be an object");
				return NULL;
			}
		} else if (strcmp(key, "id")) {
			/* "exec-oob" included: out-of-band is not offered */
			session_error(s, NH_ERR_GENERIC, id,
				      "QMP input member '%s' is unexpected",
				      key);
			return NULL;
		}
	}
	val = json_object_get(req, "execute");
	if (!val) {
		session_error(s, NH_ERR_GENERIC, id,
			      "QMP input lacks member 'execute'");
		return NULL;
	}
	return json_string_value(val);
}

static void (*qmp_change_hook)(const char *name, const json_t *args);

void qmp_set_change_hook(void (*fn)(const char *name, const json_t *args))
{
	qmp_change_hook = fn;
}

static void run_command(struct qmp_session *s, const char *name,
			json_t *args, json_t *id)
{
	const struct qmp_command *cmd = qmp_command_find(name);
	struct nh_error *err = NULL;
	json_t *ret = NULL;
	bool ok;

	if (!cmd) {
		session_error(s, NH_ERR_COMMAND_NOT_FOUND, id,
			      "The command %s has not been found", name);
		return;
	}
	if (!schema_check_args(name, args, &err)) {
		session_reply(s, NULL, err, id);
		nh_error_free(err);
		return;
	}
	fdname_set_resolver(session_resolve_fd, s);
	ok = cmd->handler(s, args, &ret, &err);
	fdname_set_resolver(NULL, NULL);
	if (ok) {
		if (qmp_change_hook)
			qmp_change_hook(name, args);
		session_reply(s, ret, NULL, id);
	} else {
		session_reply(s, ret, err, id);
		nh_error_free(err);
	}
}

static void handle_message(struct qmp_session *s, json_t *req,
			   const char *error, int fd);

/*
 * The reader's callback: handle the message now, or queue it behind a
 * backlog (or while the read it came in brought a file descriptor: the fd
 * belongs to the last message of that read, known only once it is parsed).
 * A message completed later than the read that brought an fd gets it.
 */
static void on_message(void *ctx, json_t *req, const char *error)
{
	struct qmp_session *s = ctx;
	struct qmp_queued *q;
	int fd = -1;

	if (s->closing) {
		json_decref(req);
		return;
	}
	if (!s->collecting) {
		fd = s->incoming_fd;
		s->incoming_fd = -1;
	}
	if (!s->collecting && !s->queue &&
	    session_backlog(s) <= QMP_OUTPUT_HIGH) {
		handle_message(s, req, error, fd);
		return;
	}
	q = calloc(1, sizeof(*q));
	q->req = req;
	q->error = req ? NULL : strdup(error);
	q->fd = fd;
	*s->queue_tail = q;
	s->queue_tail = &q->next;
	s->nqueued++;
}

/* The last queued message, if it was queued after @before others */
static struct qmp_queued *queue_last_since(struct qmp_session *s,
					   unsigned before)
{
	struct qmp_queued *q = s->queue;

	if (s->nqueued <= before)
		return NULL;
	while (q && q->next)
		q = q->next;
	return q;
}

/* Handle queued requests while the output stays below the high mark */
static void session_run_queue(struct qmp_session *s)
{
	s->busy++;
	while (s->queue && !s->closing &&
	       session_backlog(s) <= QMP_OUTPUT_HIGH) {
		struct qmp_queued *q = s->queue;

		s->queue = q->next;
		if (!s->queue)
			s->queue_tail = &s->queue;
		s->nqueued--;
		handle_message(s, q->req, q->error, q->fd);
		free(q->error);
		free(q);
	}
	s->busy--;
}

static void session_drop_queue(struct qmp_session *s)
{
	while (s->queue) {
		struct qmp_queued *q = s->queue;

		s->queue = q->next;
		json_decref(q->req);
		free(q->error);
		if (q->fd >= 0)
			close(q->fd);
		free(q);
	}
	s->queue_tail = &s->queue;
	s->nqueued = 0;
}

static void handle_message(struct qmp_session *s, json_t *req,
			   const char *error, int fd)
{
	json_t *id, *args;
	const char *name;

	s->passed_fd = fd;
	if (s->closing) {
		json_decref(req);
		goto out;
	}
	if (!req) {
		session_error(s, NH_ERR_GENERIC, NULL, "%s", error);
		goto out;
	}
	if (!json_is_object(req)) {
		session_error(s, NH_ERR_GENERIC, NULL,
			      "QMP input must be a JSON object");
		json_decref(req);
		goto out;
	}
	id = json_object_get(req, "id");
	name = check_request(s, req, id);
	if (name) {
		args = json_object_get(req, "arguments");
		if (args)
			json_incref(args);
		else
			args = json_object();
		if (!s->negotiated) {
			if (!strcmp(name, "qmp_capabilities"))
				negotiate(s, args, id);
			else
				session_error(s, NH_ERR_COMMAND_NOT_FOUND, id,
					      "Expecting capabilities "
					      "negotiation with "
					      "'qmp_capabilities'");
		} else if (!strcmp(name, "qmp_capabilities")) {
			session_error(s, NH_ERR_COMMAND_NOT_FOUND, id,
				      "Capabilities negotiation is already "
				      "complete, command ignored");
		} else {
			run_command(s, name, args, id);
		}
		json_decref(args);
	}
	json_decref(req);
out:
	/* a passed fd belongs to the message it came with */
	if (s->passed_fd >= 0) {
		close(s->passed_fd);
		s->passed_fd = -1;
	}
}

/* ------------------------------------------------------------ sessions */

static void session_free(uv_handle_t *h)
{
	struct qmp_session *s = h->data;

	if (--s->handles > 0)
		return;
	close(s->fd);
	free(s);
}

/* Take the session down now, or once its input handling returns */
static void session_close(struct qmp_session *s, const char *why)
{
	if (!s->closing) {
		s->closing = true;
		if (why)
			log_debug("%s: closed: %s", s->label, why);
		else
			log_debug("%s: closed", s->label);
	}
	if (s->busy)
		return;
	if (s->prev)
		s->prev->next = s->next;
	else if (qmp.sessions == s)
		qmp.sessions = s->next;
	else
		return; /* already unlinked */
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	qmp.nsessions--;
	session_pending_remove(s);
	qmp_reader_free(s->reader);
	s->reader = NULL;
	session_drop_queue(s);
	if (s->passed_fd >= 0)
		close(s->passed_fd);
	if (s->incoming_fd >= 0)
		close(s->incoming_fd);
	s->passed_fd = s->incoming_fd = -1;
	for (unsigned i = 0; i < s->nfds; i++)
		close(s->fds[i].fd);
	s->nfds = 0;
	free(s->out);
	s->out = NULL;
	uv_close((uv_handle_t *)&s->poll, session_free);
	uv_close((uv_handle_t *)&s->handshake, session_free);
}

static void session_update_poll(struct qmp_session *s)
{
	int want = 0;

	if (s->closing)
		return;
	if (!s->queue && session_backlog(s) <= QMP_OUTPUT_HIGH)
		want |= UV_READABLE;
	if (s->out_off < s->out_len)
		want |= UV_WRITABLE;
	if (want != s->poll_events) {
		s->poll_events = want;
		uv_poll_start(&s->poll, want, on_session_poll);
	}
}

/* Keep the last fd a read brought (as incoming_fd), close the others;
 * return whether it brought any */
static bool take_passed_fds(struct qmp_session *s, struct msghdr *mh)
{
	bool got = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c;
	     c = CMSG_NXTHDR(mh, c)) {
		size_t n;
		int *fds;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, &fds[i], sizeof(fd));
			if (s->incoming_fd >= 0)
				close(s->incoming_fd);
			s->incoming_fd = fd;
			got = true;
		}
	}
	return got;
}

static void session_read(struct qmp_session *s)
{
	static char buf[QMP_READ_CHUNK];
	union {
		char space[CMSG_SPACE(QMP_FDS_PER_MSG * sizeof(int))];
		struct cmsghdr align;
	} ctl;

	s->busy++;
	for (unsigned i = 0; i < QMP_READS_PER_WAKEUP && !s->closing &&
			     !s->queue && session_backlog(s) <= QMP_OUTPUT_HIGH;
	     i++) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = ctl.space,
			.msg_controllen = sizeof(ctl.space),
		};
		ssize_t n = recvmsg(s->fd, &mh, MSG_CMSG_CLOEXEC);
		struct qmp_queued *last;
		unsigned before;
		bool got_fd;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				session_close(s, strerror(errno));
			break;
		}
		got_fd = take_passed_fds(s, &mh);
		if (mh.msg_flags & MSG_CTRUNC)
			log_warn("%s: more file descriptors than %d in one "
				 "message; the rest were dropped",
				 s->label, QMP_FDS_PER_MSG);
		if (n == 0) {
			session_close(s, "the client hung up");
			break;
		}
		if (!got_fd) {
			qmp_reader_feed(s->reader, buf, (size_t)n, on_message,
					s);
			continue;
		}
		/* the fd goes with the last message this read completes */
		before = s->nqueued;
		s->collecting = true;
		qmp_reader_feed(s->reader, buf, (size_t)n, on_message, s);
		s->collecting = false;
		last = queue_last_since(s, before);
		if (last) {
			last->fd = s->incoming_fd;
			s->incoming_fd = -1;
		}
		session_run_queue(s);
	}
	s->busy--;
	if (s->closing)
		session_close(s, NULL);
	else
		session_update_poll(s);
}

static void on_session_poll(uv_poll_t *h, int status, int events)
{
	struct qmp_session *s = h->data;

	if (status < 0) {
		session_close(s, uv_strerror(status));
		return;
	}
	if ((events & UV_WRITABLE) && !session_flush(s))
		return;
	if (s->queue && session_backlog(s) <= QMP_OUTPUT_LOW) {
		session_run_queue(s);
		if (s->closing) {
			session_close(s, NULL);
			return;
		}
		session_update_poll(s);
	}
	if ((events & UV_READABLE) && !s->queue)
		session_read(s);
}

static void session_greet(struct qmp_session *s)
{
	const struct qmp_command *qv = qmp_command_find("query-version");
	json_t *version = NULL;

	if (qv)
		qv->handler(NULL, NULL, &version, NULL);
	session_send(s, json_pack("{s{s o s[]}}", "QMP", "version",
				  version ? version : json_object(),
				  "capabilities"));
}

/*
 * Log a refused or displaced client, at most once per QMP_REFUSAL_LOG_MS
 * (a flood of connections must not flood the log), with a count of those
 * not logged since.
 */
static void log_refusal(const char *label, const char *what)
{
	uint64_t now = uv_now(qmp.loop);

	if (qmp.refusal_logged &&
	    now - qmp.refusal_logged < QMP_REFUSAL_LOG_MS) {
		qmp.refusals++;
		return;
	}
	if (qmp.refusals)
		log_warn("%s: %s (and %u more since the last such message)",
			 label, what, qmp.refusals);
	else
		log_warn("%s: %s", label, what);
	qmp.refusal_logged = now ? now : 1;
	qmp.refusals = 0;
}

/* Tell a client we do not serve why, in one QMP error line, and close it */
static void refuse_client(struct qmp_listener *l, int fd, const char *desc)
{
	struct nh_error err = { .cls = NH_ERR_GENERIC };
	char line[sizeof(err.msg) * 2 + 64];
	json_t *msg;
	char *text;

	snprintf(err.msg, sizeof(err.msg), "%s", desc);
	msg = error_reply(&err);
	text = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(msg);
	if (text) {
		int len = snprintf(line, sizeof(line), "%s\r\n", text);

		/* one short line into an empty socket buffer: best effort */
		if (len > 0 && (size_t)len < sizeof(line))
			(void)send(fd, line, (size_t)len,
				   MSG_DONTWAIT | MSG_NOSIGNAL);
		free(text);
	}
	close(fd);
	log_refusal(l->label, desc);
}

static void on_handshake_timeout(uv_timer_t *t)
{
	struct qmp_session *s = t->data;

	session_error(s, NH_ERR_GENERIC, NULL,
		      "Capabilities negotiation was not completed within %u "
		      "s (--qmp-handshake-timeout); closing the connection",
		      qmp.limits.handshake_timeout_s);
	session_close(s, "no capabilities negotiation in time");
}

/*
 * At the session limit: close the oldest session still negotiating to make
 * room; a client that negotiates promptly is never displaced by idle
 * connections opened after it.  False if every session has negotiated.
 */
static bool make_room(void)
{
	struct qmp_session *old = qmp.pending_head;
	char what[sizeof(old->label) + 128];

	if (!old)
		return false;
	session_error(old, NH_ERR_GENERIC, NULL,
		      "Closed to make room for a new client: %u sessions are "
		      "open (--qmp-max-sessions) and this one has not "
		      "negotiated capabilities",
		      qmp.limits.max_sessions);
	snprintf(what, sizeof(what),
		 "%u sessions open (--qmp-max-sessions): closed %s, which had "
		 "not negotiated, to make room",
		 qmp.limits.max_sessions, old->label);
	log_refusal("qmp", what);
	session_close(old, "closed to make room for a new client");
	return true;
}

static void session_new(struct qmp_listener *l, int fd)
{
	struct qmp_session *s;

	if (qmp.nsessions >= qmp.limits.max_sessions && !make_room()) {
		char desc[160];

		snprintf(desc, sizeof(desc),
			 "Too many QMP sessions: %u are open, the most "
			 "nethubd serves at once (--qmp-max-sessions)",
			 qmp.limits.max_sessions);
		refuse_client(l, fd, desc);
		return;
	}
	s = calloc(1, sizeof(*s));
	s->fd = fd;
	s->passed_fd = s->incoming_fd = -1;
	s->queue_tail = &s->queue;
	s->reader = qmp_reader_new(0, 0);
	snprintf(s->label, sizeof(s->label), "qmp %s #%u", l->label,
		 ++qmp.next_session_no);
	if (uv_poll_init(qmp.loop, &s->poll, fd)) {
		log_warn("%s: cannot watch the connection", s->label);
		qmp_reader_free(s->reader);
		close(fd);
		free(s);
		return;
	}
	uv_timer_init(qmp.loop, &s->handshake);
	s->handles = 2;
	s->poll.data = s;
	s->handshake.data = s;
	if (qmp.limits.handshake_timeout_s)
		uv_timer_start(&s->handshake, on_handshake_timeout,
			       qmp.limits.handshake_timeout_s * 1000ull, 0);
	s->next = qmp.sessions;
	if (qmp.sessions)
		qmp.sessions->prev = s;
	qmp.sessions = s;
	qmp.nsessions++;
	session_pending_add(s);
	log_debug("%s: client connected", s->label);
	session_update_poll(s);
	session_greet(s);
}

/* ------------------------------------------------------------ listeners */

static void on_listener_poll(uv_poll_t *h, int status, int events);

/* Keep one descriptor in reserve (see accept_refusing()) */
static void reserve_fill(void)
{
	if (qmp.reserve_fd < 0)
		qmp.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/*
 * accept() failed with EMFILE/ENFILE: nethubd is out of descriptors.  Give
 * up the reserve for a moment to accept the client, tell it why it is not
 * served and close it, rather than leave it hanging in the backlog.
 * Return: 1 a client was refused, 0 none was waiting, -1 no reserve (or
 * still no descriptor): the caller backs off.
 */
static int accept_refusing(struct qmp_listener *l, int why)
{
	char desc[160];
	int fd, err;

	if (qmp.reserve_fd < 0)
		return -1;
	close(qmp.reserve_fd);
	qmp.reserve_fd = -1;
	fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	err = errno;
	if (fd >= 0) {
		snprintf(desc, sizeof(desc),
			 "nethubd is out of file descriptors (%s); QMP "
			 "cannot take a new connection now, try again later",
			 strerror(why));
		refuse_client(l, fd, desc);
	}
	reserve_fill();
	if (qmp.reserve_fd < 0)
		log_warn("%s: cannot keep a descriptor in reserve: %s",
			 l->label, strerror(errno));
	if (fd >= 0)
		return 1;
	return err == EAGAIN || err == EWOULDBLOCK ? 0 : -1;
}

static void on_listener_retry(uv_timer_t *t)
{
	struct qmp_listener *l = t->data;

	reserve_fill();
	uv_poll_start(&l->poll, UV_READABLE, on_listener_poll);
}

static void on_listener_poll(uv_poll_t *h, int status, int events)
{
	struct qmp_listener *l = h->data;

	(void)events;
	if (status < 0) {
		log_warn("%s: %s", l->label, uv_strerror(status));
		return;
	}
	reserve_fill();
	for (unsigned i = 0; i < QMP_ACCEPTS_PER_WAKEUP; i++) {
		int fd = accept4(l->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			int err = errno, rc;

			if (err == EINTR || err == ECONNABORTED)
				continue;
			if (err == EAGAIN || err == EWOULDBLOCK)
				return;
			if (err == EMFILE || err == ENFILE) {
				rc = accept_refusing(l, err);
				if (rc > 0)
					continue;
				if (rc == 0)
					return;
			}
			/* out of fds or memory, without a reserve: the socket
			 * stays readable, so stop watching it for a while */
			log_warn("%s: accept: %s; trying again in %d ms",
				 l->label, strerror(err),
				 QMP_ACCEPT_RETRY_MS);
			uv_poll_stop(&l->poll);
			uv_timer_start(&l->retry, on_listener_retry,
				       QMP_ACCEPT_RETRY_MS, 0);
			return;
		}
		session_new(l, fd);
	}
}

static void listener_free(uv_handle_t *h)
{
	struct qmp_listener *l = h->data;

	if (--l->handles == 0)
		free(l);
}

/* Stop listening, remove the socket file, free @l (once its handle closed) */
static void listener_close(struct qmp_listener *l)
{
	struct stat st;

	if (l->fd >= 0) {
		close(l->fd);
		if (l->lc->kind == QMP_LISTEN_UNIX && !stat(l->lc->path, &st) &&
		    st.st_dev == l->dev && st.st_ino == l->ino)
			unlink(l->lc->path);
	}
	if (l->handles == 0) {
		free(l);
		return;
	}
	uv_close((uv_handle_t *)&l->poll, listener_free);
	uv_close((uv_handle_t *)&l->retry, listener_free);
}

static bool listener_open(struct qmp_listener *l, struct nh_error **errp)
{
	const struct qmp_listen_config *lc = l->lc;

	if (lc->kind == QMP_LISTEN_UNIX) {
		snprintf(l->label, sizeof(l->label), "unix:%s", lc->path);
		l->fd = qmp_listen_unix(l, errp);
	} else {
		snprintf(l->label, sizeof(l->label),
			 strchr(lc->host, ':') ? "tcp:[%s]:%s" : "tcp:%s:%s",
			 lc->host, lc->port);
		l->fd = qmp_listen_tcp(l, errp);
	}
	if (l->fd < 0)
		return false;
	if (listen(l->fd, QMP_LISTEN_BACKLOG) ||
	    uv_poll_init(qmp.loop, &l->poll, l->fd)) {
		nh_error_setg(errp, "%s: cannot listen: %s", l->label,
			      strerror(errno));
		return false;
	}
	uv_timer_init(qmp.loop, &l->retry);
	l->handles = 2;
	l->poll.data = l;
	l->retry.data = l;
	uv_poll_start(&l->poll, UV_READABLE, on_listener_poll);
	log_info("QMP on %s", l->label);
	return true;
}

static void qmp_close_listeners(void)
{
	for (unsigned i = 0; i < qmp.nlisteners; i++)
		listener_close(qmp.listeners[i]);
	free(qmp.listeners);
	qmp.listeners = NULL;
	qmp.nlisteners = 0;
}

bool qmp_start(uv_loop_t *loop, struct qmp_listen_config *const *lcs,
	       unsigned n, const struct qmp_limits *limits,
	       struct nh_error **errp)
{
	if (!schema_init(errp))
		return false;
	qmp.loop = loop;
	qmp.limits = limits ? *limits : (struct qmp_limits){
		.max_sessions = QMP_MAX_SESSIONS_DEFAULT,
		.handshake_timeout_s = QMP_HANDSHAKE_TIMEOUT_DEFAULT_S,
	};
	if (qmp.limits.max_sessions == 0)
		qmp.limits.max_sessions = 1;
	reserve_fill();
	if (qmp.reserve_fd < 0)
		log_warn("QMP: cannot keep a descriptor in reserve: %s",
			 strerror(errno));
	qmp.listeners = calloc(n ? n : 1, sizeof(*qmp.listeners));
	for (unsigned i = 0; i < n; i++) {
		struct qmp_listener *l = calloc(1, sizeof(*l));

		l->lc = lcs[i];
		l->fd = -1;
		qmp.listeners[qmp.nlisteners++] = l;
		if (!listener_open(l, errp)) {
			qmp_close_listeners();
			schema_fini();
			close(qmp.reserve_fd);
			qmp.reserve_fd = -1;
			return false;
		}
	}
	qmp_cmds_init(loop);
	qmp.running = true;
	return true;
}

void qmp_stop(void)
{
	if (!qmp.running)
		return;
	qmp.running = false;
	qmp_cmds_fini();
	while (qmp.sessions) {
		struct qmp_session *s = qmp.sessions;

		/* the last replies (quit's) go out if the socket takes them */
		if (s->out_off < s->out_len)
			(void)send(s->fd, s->out + s->out_off,
				   s->out_len - s->out_off,
				   MSG_NOSIGNAL | MSG_DONTWAIT);
		s->busy = 0;
		session_close(s, "shutting down");
	}
	qmp_close_listeners();
	schema_fini();
	if (qmp.reserve_fd >= 0)
		close(qmp.reserve_fd);
	qmp.reserve_fd = -1;
}
