// SPDX-License-Identifier: MIT
/* user_loop.c - libslirp's timers and sockets on the netdev's libuv loop
 *
 * libslirp does not run by itself: it asks its host for timers and tells
 * it, in slirp_pollfds_fill(), which sockets it wants watched and how long
 * it may sleep (its TCP timers); after the wait the host reports what
 * happened with slirp_pollfds_poll().  Here:
 *
 *   sockets   one epoll set per netdev mirrors what the last fill asked
 *             for; the loop watches only the epoll fd (one uv_poll).  Only
 *             changes cost an epoll_ctl(); slirp's unregister_poll_fd,
 *             called before it closes a socket, takes the fd out at once,
 *             so a number the kernel hands out again starts afresh.
 *   filling   after anything that can change slirp's wishes (a frame in,
 *             a poll, a timer, a forward added) the state is dirty; a
 *             uv_prepare refills before the loop sleeps.
 *   timers    slirp's own (IPv6 router advertisements) are uv_timers; its
 *             TCP timers are the fill's timeout, one uv_timer (tick).
 *
 * Nothing runs while nothing happens: an idle netdev wakes once a second
 * at most (slirp's longest timeout), never spins, has no thread.
 *
 * Owns: the epoll fd and the handles.  Never: call slirp from inside a
 * libslirp callback, or keep an fd slirp has let go of.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "port.h"
#include "user_internal.h"

#define USER_EPOLL_BATCH 64 /* events read per wake-up */

/* -- libslirp's callbacks -------------------------------------------------- */

static int64_t user_clock_ns(void *opaque)
{
	return (int64_t)uv_hrtime();
}

static void user_guest_error(const char *msg, void *opaque)
{
	struct user_state *s = opaque;

	/* a guest can repeat it at will: the first is logged, all counted */
	if (!s->guest_errors++)
		log_warn("netdev %s: slirp: %s (further ones are only counted: "
			 "guest-errors)",
			 s->id, msg);
}

static void user_on_timer(uv_timer_t *h)
{
	struct user_timer *t = h->data;
	struct user_state *s = t->s;

	if (!s->slirp)
		return;
	slirp_handle_timer(s->slirp, t->id, t->cb_opaque);
	user_flush(s);
	user_loop_kick(s);
}

static void *user_timer_new(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct user_state *s = opaque;
	struct user_timer *t = calloc(1, sizeof(*t));

	if (!t)
		abort();
	t->s = s;
	t->id = id;
	t->cb_opaque = cb_opaque;
	uv_timer_init(s->loop, &t->h);
	uv_unref((uv_handle_t *)&t->h);
	t->h.data = t;
	s->refs++;
	return t;
}

static void user_on_timer_closed(uv_handle_t *h)
{
	struct user_timer *t = h->data;
	struct user_state *s = t->s;

	free(t);
	user_unref(s);
}

static void user_timer_free(void *timer, void *opaque)
{
	struct user_timer *t = timer;

	if (t)
		uv_close((uv_handle_t *)&t->h, user_on_timer_closed);
}

/* user_timer_mod() - @expire_ms is on user_clock_ns()'s clock, in ms */
static void user_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct user_timer *t = timer;
	int64_t now_ms = (int64_t)(uv_hrtime() / 1000000);

	if (!t)
		return;
	uv_timer_start(&t->h, user_on_timer,
		       expire_ms > now_ms ? (uint64_t)(expire_ms - now_ms) : 0,
		       0);
}

/* user_fd_slot() - the table entry of @fd, grown as needed; NULL for a
 * negative fd */
static struct user_fd *user_fd_slot(struct user_state *s, int fd)
{
	if (fd < 0)
		return NULL;
	if ((unsigned)fd >= s->fds_cap) {
		unsigned cap = s->fds_cap ? s->fds_cap : 64;
		struct user_fd *n;

		while (cap <= (unsigned)fd)
			cap *= 2;
		n = realloc(s->fds, cap * sizeof(*n));
		if (!n)
			abort();
		memset(n + s->fds_cap, 0, (cap - s->fds_cap) * sizeof(*n));
		s->fds = n;
		s->fds_cap = cap;
	}
	return &s->fds[fd];
}

/* A socket slirp just made: whatever the number meant before is gone */
static void user_register_fd(int fd, void *opaque)
{
	struct user_fd *e = user_fd_slot(opaque, fd);

	if (e)
		e->in_set = false;
}

/* A socket slirp is about to close: out of the set while it is open */
static void user_unregister_fd(int fd, void *opaque)
{
	struct user_state *s = opaque;
	struct user_fd *e = user_fd_slot(s, fd);

	if (!e || !e->in_set)
		return;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
	e->in_set = false;
}

/* slirp_socket_can_recv() may have changed: refill */
static void user_notify(void *opaque)
{
	user_loop_kick(opaque);
}

const SlirpCb user_loop_callbacks = {
    .send_packet = user_send_packet,
    .guest_error = user_guest_error,
    .clock_get_ns = user_clock_ns,
    .timer_free = user_timer_free,
    .timer_mod = user_timer_mod,
    .register_poll_fd = user_register_fd,
    .unregister_poll_fd = user_unregister_fd,
    .notify = user_notify,
    .timer_new_opaque = user_timer_new,
};

/* -- filling and polling --------------------------------------------------- */

static uint32_t user_to_epoll(int events)
{
	uint32_t e = 0;

	if (events & SLIRP_POLL_IN)
		e |= EPOLLIN;
	if (events & SLIRP_POLL_OUT)
		e |= EPOLLOUT;
	if (events & SLIRP_POLL_PRI)
		e |= EPOLLPRI;
	return e;
}

static int user_from_epoll(uint32_t e)
{
	int r = 0;

	if (e & EPOLLIN)
		r |= SLIRP_POLL_IN;
	if (e & EPOLLOUT)
		r |= SLIRP_POLL_OUT;
	if (e & EPOLLPRI)
		r |= SLIRP_POLL_PRI;
	if (e & EPOLLERR)
		r |= SLIRP_POLL_ERR;
	if (e & EPOLLHUP)
		r |= SLIRP_POLL_HUP;
	return r;
}

/* user_round_grow() - room for one more entry in the current round */
static void user_round_grow(struct user_state *s)
{
	unsigned cap;
	struct user_pollfd *n;

	if (s->nround < s->round_cap)
		return;
	cap = s->round_cap ? s->round_cap * 2 : 32;
	n = realloc(s->round, cap * sizeof(*n));
	if (!n)
		abort();
	s->round = n;
	s->round_cap = cap;
}

/* user_add_poll() - slirp_pollfds_fill() wants @fd watched for @events:
 * the epoll set is told only what changed */
static int user_add_poll(int fd, int events, void *opaque)
{
	struct user_state *s = opaque;
	struct user_fd *e = user_fd_slot(s, fd);
	uint32_t want = user_to_epoll(events);
	struct epoll_event ev;

	if (!e)
		return -1;
	user_round_grow(s);
	if (!e->in_set || e->events != want) {
		memset(&ev, 0, sizeof(ev));
		ev.events = want;
		ev.data.fd = fd;
		if (epoll_ctl(s->epfd,
			      e->in_set ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd,
			      &ev)) {
			/* the set knew better: a closed number came back, or
			 * an fd we had lost track of */
			if (errno == ENOENT)
				epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
			else if (errno == EEXIST)
				epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev);
		}
		e->in_set = true;
		e->events = want;
	}
	e->gen = s->gen;
	e->idx = (int)s->nround;
	s->round[s->nround].fd = fd;
	s->round[s->nround].revents = 0;
	return (int)s->nround++;
}

static void user_on_tick_cb(uv_timer_t *h);

static int user_get_revents(int idx, void *opaque)
{
	struct user_state *s = opaque;

	if (idx < 0 || (unsigned)idx >= s->nround)
		return 0;
	return s->round[idx].revents;
}

/**
 * user_fill() - a new round: what slirp wants watched, and how long it may
 * sleep.  Fds of the last round it no longer wants leave the set, so a
 * socket nobody reads cannot keep the loop awake.
 */
static void user_fill(struct user_state *s)
{
	uint32_t timeout = UINT32_MAX;
	struct user_pollfd *t;
	unsigned tn;

	if (!s->slirp)
		return;
	/* the last round becomes prev; the new one is written over the old
	 * prev's memory */
	t = s->prev;
	s->prev = s->round;
	s->round = t;
	tn = s->prev_cap;
	s->prev_cap = s->round_cap;
	s->round_cap = tn;
	s->nprev = s->nround;
	s->nround = 0;
	s->dirty = false;
	s->gen++;
	slirp_pollfds_fill(s->slirp, &timeout, user_add_poll, s);
	for (unsigned i = 0; i < s->nprev; i++) {
		struct user_fd *e = user_fd_slot(s, s->prev[i].fd);

		if (e && e->in_set && e->gen != s->gen) {
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->prev[i].fd, NULL);
			e->in_set = false;
		}
	}
	if (timeout == UINT32_MAX)
		uv_timer_stop(&s->tick);
	else
		uv_timer_start(&s->tick, user_on_tick_cb, timeout, 0);
}

/* user_poll() - what the epoll set says, to slirp; then the frames it
 * sent go out and the next fill is due */
static void user_poll(struct user_state *s)
{
	struct epoll_event ev[USER_EPOLL_BATCH];
	int n;

	if (!s->slirp)
		return;
	if (s->dirty)
		user_fill(s);
	n = epoll_wait(s->epfd, ev, USER_EPOLL_BATCH, 0);
	for (int i = 0; i < n; i++) {
		int fd = ev[i].data.fd;
		struct user_fd *e;

		if (fd < 0 || (unsigned)fd >= s->fds_cap)
			continue;
		e = &s->fds[fd];
		if (e->gen == s->gen && (unsigned)e->idx < s->nround &&
		    s->round[e->idx].fd == fd)
			s->round[e->idx].revents |=
			    user_from_epoll(ev[i].events);
	}
	slirp_pollfds_poll(s->slirp, n < 0, user_get_revents, s);
	for (unsigned i = 0; i < s->nround; i++)
		s->round[i].revents = 0;
	user_flush(s);
	user_loop_kick(s);
}

static void user_on_epoll(uv_poll_t *h, int status, int events)
{
	user_poll(h->data);
}

static void user_on_tick_cb(uv_timer_t *h)
{
	user_poll(h->data);
}

static void user_on_prepare(uv_prepare_t *h)
{
	struct user_state *s = h->data;

	if (s->dirty)
		user_fill(s);
}

void user_loop_kick(struct user_state *s)
{
	s->dirty = true;
}

static void user_on_loop_closed(uv_handle_t *h)
{
	user_unref(h->data);
}

/* the epoll fd goes once libuv no longer watches it */
static void user_on_epoll_closed(uv_handle_t *h)
{
	struct user_state *s = h->data;

	close(s->epfd);
	s->epfd = -1;
	user_unref(s);
}

bool user_loop_init(struct user_state *s, struct nh_error **errp)
{
	int r;

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		nh_error_setg(errp, "netdev %s: epoll_create1: %s", s->id,
			      strerror(errno));
		return false;
	}
	r = uv_poll_init(s->loop, &s->epoll_h, s->epfd);
	if (r < 0) {
		nh_error_setg(errp, "netdev %s: uv_poll_init: %s", s->id,
			      uv_strerror(r));
		close(s->epfd);
		s->epfd = -1;
		return false;
	}
	s->epoll_h.data = s;
	uv_timer_init(s->loop, &s->tick);
	s->tick.data = s;
	uv_unref((uv_handle_t *)&s->tick);
	uv_prepare_init(s->loop, &s->prepare);
	s->prepare.data = s;
	uv_unref((uv_handle_t *)&s->prepare);
	s->loop_init = true;
	s->refs += 3; /* dropped by the three close callbacks */
	uv_prepare_start(&s->prepare, user_on_prepare);
	r = uv_poll_start(&s->epoll_h, UV_READABLE, user_on_epoll);
	if (r < 0) {
		nh_error_setg(errp, "netdev %s: uv_poll_start: %s", s->id,
			      uv_strerror(r));
		return false;
	}
	return true;
}

void user_loop_close(struct user_state *s)
{
	if (!s->loop_init) {
		if (s->epfd >= 0)
			close(s->epfd);
		s->epfd = -1;
		return;
	}
	s->loop_init = false;
	uv_close((uv_handle_t *)&s->epoll_h, user_on_epoll_closed);
	uv_close((uv_handle_t *)&s->tick, user_on_loop_closed);
	uv_close((uv_handle_t *)&s->prepare, user_on_loop_closed);
}
