// SPDX-License-Identifier: MIT
/* capture.c - filter-dump captures: the capture list, the data-path hooks
 * that copy frames into each capture's ring, and the writer threads that
 * turn the rings into pcap files with libpcap
 *
 * Owns: every capture, its ring, its writer thread and its file.  The ring
 * is single-producer (the daemon's loop, in the hooks) single-consumer (the
 * capture's writer thread); the two positions are the only state they
 * share besides the writer's counters, which are atomics.
 *
 * Must never: block, allocate or make a system call in a hook; write the
 * pcap format by hand (libpcap does); keep a frame past a hook's return.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "hub.h"
#include "log.h"
#include "netdev.h"
#include "guest_nic.h"
#include "opts.h"
#include "port.h"
#include "userfile.h"

/* What the writer's file is doing */
enum capture_state {
	CAPTURE_WAITING, /* a FIFO without a reader yet: frames are dropped */
	CAPTURE_OPEN,	 /* writing */
	CAPTURE_FAILED,	 /* a write failed: frames are dropped */
};

/* One frame in the ring; its bytes follow, the record is padded to 8.
 * size 0 marks the rest of the ring as unused (the next record is at the
 * ring's start), and so does a tail too short for a header. */
struct capture_rec {
	uint32_t size;	 /* header, data and padding */
	uint32_t caplen; /* bytes kept */
	uint32_t len;	 /* the frame's length */
	uint32_t pad;
	int64_t sec, usec;
};

#define CAPTURE_REC_ALIGN 8u

struct capture {
	char id[NETDEV_ID_MAX];
	char *file;
	char *filter;		/* the expression, or NULL */
	char *target;		/* the netdev argument as given, or NULL */
	struct netdev *netdev;	/* netdev=ID (a NIC's own netdev for a NIC) */
	struct port *port;	/* netdev=ID.N */
	bool on_hub;		/* hubid=N */
	int32_t hubid;
	enum capture_queue queue;
	uint32_t maxlen;
	bool on;		/* status */

	pcap_t *dead;		/* the link type and snaplen for libpcap */
	struct bpf_program prog;
	bool has_prog;

	/* The ring: bytes [head, tail) of the positions are records */
	uint8_t *ring;
	uint32_t ring_size;
	_Atomic uint64_t head;	/* the writer's, read by the hooks */
	_Atomic uint64_t tail;	/* the hooks', read by the writer */

	/* The hooks' counters (loop thread only) */
	uint64_t seen, filtered, dp_dropped;

	/* The writer's side */
	_Atomic int state;	/* enum capture_state */
	_Atomic uint64_t frames, bytes, wr_dropped, pending;
	_Atomic bool stop;
	bool fifo;
	struct userfile uf;	/* where the file is, for a FIFO's (re)open */
	int fd;
	FILE *fp;
	pcap_dumper_t *dumper;
	uint64_t pend_frames, pend_bytes; /* written since the last flush */
	char error[256];	/* valid once state is CAPTURE_FAILED */
	pthread_t thread;
	bool thread_started;
	bool listed;		/* it was started (on the list) */
	pthread_mutex_t lock;
	pthread_cond_t cond;

	struct capture *next;
};

static unsigned capture_active;
static struct capture *captures;

static const char *const queue_names[] = {
	[CAPTURE_QUEUE_ALL] = "all",
	[CAPTURE_QUEUE_RX] = "rx",
	[CAPTURE_QUEUE_TX] = "tx",
};

/* -- the data path --------------------------------------------------------- */

static void capture_now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts); /* vDSO: no system call */
}

/* Offer one frame to @c: filter it, copy it into the ring or count it */
static void capture_frame(struct capture *c, const struct frame *f,
			  const struct timespec *ts)
{
	uint32_t caplen = f->len < c->maxlen ? f->len : c->maxlen;
	uint32_t need = (uint32_t)(sizeof(struct capture_rec) + caplen +
				   CAPTURE_REC_ALIGN - 1) &
			~(CAPTURE_REC_ALIGN - 1);
	uint64_t tail, head, off, skip = 0;
	struct capture_rec *rec;

	c->seen++;
	if (c->has_prog) {
		struct pcap_pkthdr h = {
			.ts = { .tv_sec = ts->tv_sec,
				.tv_usec = ts->tv_nsec / 1000 },
			.caplen = f->len,
			.len = f->len,
		};

		if (!pcap_offline_filter(&c->prog, &h, f->data)) {
			c->filtered++;
			return;
		}
	}
	if (atomic_load_explicit(&c->state, memory_order_relaxed) !=
	    CAPTURE_OPEN) {
		c->dp_dropped++;
		return;
	}
	tail = atomic_load_explicit(&c->tail, memory_order_relaxed);
	head = atomic_load_explicit(&c->head, memory_order_acquire);
	off = tail % c->ring_size;
	if (c->ring_size - off < need)
		skip = c->ring_size - off;
	if (tail + skip + need - head > c->ring_size) {
		c->dp_dropped++;
		return;
	}
	if (skip >= sizeof(*rec))
		((struct capture_rec *)(c->ring + off))->size = 0;
	rec = (struct capture_rec *)(c->ring + (tail + skip) % c->ring_size);
	rec->size = need;
	rec->caplen = caplen;
	rec->len = f->len;
	rec->sec = ts->tv_sec;
	rec->usec = ts->tv_nsec / 1000;
	memcpy(rec + 1, f->data, caplen);
	atomic_store_explicit(&c->tail, tail + skip + need,
			      memory_order_release);
}

static void capture_burst(struct capture *c, struct frame *const *frames,
			  unsigned n, struct timespec *ts)
{
	if (!ts->tv_sec && !ts->tv_nsec)
		capture_now(ts);
	for (unsigned i = 0; i < n; i++)
		capture_frame(c, frames[i], ts);
}

/* Does @c watch port @p in direction @q (the netdev's view)? */
static bool capture_watches(const struct capture *c, const struct port *p,
			    enum capture_queue q)
{
	if (!c->on || c->on_hub)
		return false;
	if (c->queue != CAPTURE_QUEUE_ALL && c->queue != q)
		return false;
	if (c->port)
		return c->port == p;
	if (!p->netdev)
		return false;
	/* a capture of a NIC sees its backend's ports */
	return p->netdev == c->netdev ||
	       (p->netdev->front && p->netdev->peer == c->netdev);
}

static void capture_port_rx(struct port *p, struct frame *const *frames,
			  unsigned n)
{
	struct timespec ts = { 0, 0 };

	for (struct capture *c = captures; c; c = c->next)
		if (capture_watches(c, p, CAPTURE_QUEUE_TX))
			capture_burst(c, frames, n, &ts);
}

static void capture_port_tx(struct port *p, struct frame *const *frames,
			  unsigned n)
{
	struct timespec ts = { 0, 0 };

	for (struct capture *c = captures; c; c = c->next)
		if (capture_watches(c, p, CAPTURE_QUEUE_RX))
			capture_burst(c, frames, n, &ts);
}

static void capture_hub_in(const struct hub *h, struct frame *const *frames,
		      unsigned n)
{
	struct timespec ts = { 0, 0 };

	for (struct capture *c = captures; c; c = c->next)
		if (c->on && c->on_hub && c->hubid == h->id)
			capture_burst(c, frames, n, &ts);
}

/* -- the writer thread ------------------------------------------------------ */

static void capture_fail(struct capture *c, const char *what, int err)
{
	snprintf(c->error, sizeof(c->error), "%s: %s: %s", c->file, what,
		 strerror(err));
	atomic_store_explicit(&c->state, CAPTURE_FAILED, memory_order_release);
}

/* The FILE's write function: all of @size bytes to the (non-blocking) fd,
 * waiting for a slow reader; a stopping capture waits at most
 * CAPTURE_STOP_WAIT_MS for it */
static ssize_t capture_cookie_write(void *cookie, const char *buf, size_t size)
{
	struct capture *c = cookie;
	unsigned waited_ms = 0;
	size_t done = 0;

	while (done < size) {
		ssize_t n = write(c->fd, buf + done, size - done);
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -1;
		if (atomic_load(&c->stop)) {
			if (waited_ms >= CAPTURE_STOP_WAIT_MS) {
				errno = ETIMEDOUT;
				return -1;
			}
			waited_ms += CAPTURE_FIFO_RETRY_MS;
		}
		poll(&pfd, 1, CAPTURE_FIFO_RETRY_MS);
	}
	return (ssize_t)size;
}

static int capture_cookie_close(void *cookie)
{
	struct capture *c = cookie;
	int ret = close(c->fd);

	c->fd = -1;
	return ret;
}

/* Wrap the open fd in a FILE and start the pcap file on it */
static bool capture_open_dumper(struct capture *c)
{
	cookie_io_functions_t io = {
		.write = capture_cookie_write,
		.close = capture_cookie_close,
	};

	c->fp = fopencookie(c, "w", io);
	if (!c->fp) {
		close(c->fd);
		c->fd = -1;
		return false;
	}
	c->dumper = pcap_dump_fopen(c->dead, c->fp);
	if (!c->dumper) {
		fclose(c->fp);
		c->fp = NULL;
		errno = EIO;
		return false;
	}
	return true;
}

/* Writer: try once to open a FIFO that had no reader (by its name in the
 * directory found at the start, not following a symbolic link) */
static void capture_try_fifo(struct capture *c)
{
	int fd = userfile_open(&c->uf, USERFILE_WRITE | USERFILE_FIFO, NULL,
			       NULL);

	if (fd < 0) {
		if (fd != -ENXIO) /* ENXIO: no reader yet */
			capture_fail(c, "cannot open", -fd);
		return;
	}
	c->fd = fd;
	if (!capture_open_dumper(c) || pcap_dump_flush(c->dumper)) {
		capture_fail(c, "cannot write", errno ? errno : EIO);
		return;
	}
	atomic_store_explicit(&c->state, CAPTURE_OPEN, memory_order_release);
}

/* Writer: flush what pcap_dump() buffered; the frames count once the
 * bytes left the process, or as dropped when they could not */
static void capture_flush(struct capture *c)
{
	if (!c->pend_frames)
		return;
	if (atomic_load(&c->state) == CAPTURE_OPEN &&
	    pcap_dump_flush(c->dumper) == 0) {
		atomic_fetch_add(&c->frames, c->pend_frames);
		atomic_fetch_add(&c->bytes, c->pend_bytes);
	} else {
		if (atomic_load(&c->state) == CAPTURE_OPEN)
			capture_fail(c, "write failed", errno ? errno : EIO);
		atomic_fetch_add(&c->wr_dropped, c->pend_frames);
	}
	c->pend_frames = c->pend_bytes = 0;
}

/* Writer: take every record in the ring; false if it was empty */
static bool capture_drain(struct capture *c)
{
	uint64_t head = atomic_load_explicit(&c->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&c->tail, memory_order_acquire);
	unsigned n = 0;

	if (head == tail)
		return false;
	atomic_store(&c->pending, 1);
	while (head != tail) {
		uint64_t off = head % c->ring_size;
		const struct capture_rec *rec =
			(const struct capture_rec *)(c->ring + off);
		struct pcap_pkthdr h;

		if (c->ring_size - off < sizeof(*rec) || rec->size == 0) {
			head += c->ring_size - off; /* wrap */
			continue;
		}
		if (atomic_load_explicit(&c->state, memory_order_relaxed) ==
		    CAPTURE_OPEN) {
			h.ts.tv_sec = rec->sec;
			h.ts.tv_usec = rec->usec;
			h.caplen = rec->caplen;
			h.len = rec->len;
			pcap_dump((u_char *)c->dumper, &h,
				  (const u_char *)(rec + 1));
			c->pend_frames++;
			c->pend_bytes += rec->len;
			if (ferror(c->fp)) {
				capture_fail(c, "write failed",
					     errno ? errno : EIO);
				capture_flush(c);
			}
		} else {
			atomic_fetch_add(&c->wr_dropped, 1);
		}
		head += rec->size;
		/* hand space back now and then, not per record */
		if (++n % 64 == 0)
			atomic_store_explicit(&c->head, head,
					      memory_order_release);
	}
	capture_flush(c);
	atomic_store_explicit(&c->head, head, memory_order_release);
	atomic_store(&c->pending, 0);
	return true;
}

static void capture_nap(struct capture *c, unsigned ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += (long)ms * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&c->lock);
	if (!atomic_load(&c->stop))
		pthread_cond_timedwait(&c->cond, &c->lock, &until);
	pthread_mutex_unlock(&c->lock);
}

static void *capture_writer(void *arg)
{
	struct capture *c = arg;
	unsigned since_try = CAPTURE_FIFO_RETRY_MS;

	for (;;) {
		if (atomic_load(&c->state) == CAPTURE_WAITING &&
		    since_try >= CAPTURE_FIFO_RETRY_MS &&
		    !atomic_load(&c->stop)) {
			capture_try_fifo(c);
			since_try = 0;
		}
		if (capture_drain(c))
			continue;
		if (atomic_load(&c->stop))
			break;
		capture_nap(c, CAPTURE_IDLE_WAIT_MS);
		since_try += CAPTURE_IDLE_WAIT_MS;
	}
	return NULL;
}

/* -- life cycle --------------------------------------------------------------- */

static void capture_free(struct capture *c)
{
	if (c->thread_started) {
		pthread_mutex_lock(&c->lock);
		atomic_store(&c->stop, true);
		pthread_cond_signal(&c->cond);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->thread, NULL);
	}
	if (c->dumper)
		pcap_dump_close(c->dumper); /* flushes, closes fp and fd */
	else if (c->fp)
		fclose(c->fp);
	else if (c->fd >= 0)
		close(c->fd);
	if (atomic_load(&c->state) == CAPTURE_FAILED)
		log_warn("capture %s: %s", c->id, c->error);
	if (c->listed)
		log_info("capture %s: stopped; %llu frames written to %s, "
			 "%llu dropped",
			 c->id, (unsigned long long)atomic_load(&c->frames),
			 c->file,
			 (unsigned long long)(c->dp_dropped +
					      atomic_load(&c->wr_dropped)));
	if (c->has_prog)
		pcap_freecode(&c->prog);
	if (c->dead)
		pcap_close(c->dead);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	userfile_release(&c->uf);
	free(c->ring);
	free(c->file);
	free(c->filter);
	free(c->target);
	free(c);
}

struct capture *capture_find(const char *id)
{
	for (struct capture *c = captures; c; c = c->next)
		if (!strcmp(c->id, id))
			return c;
	return NULL;
}

static void capture_port_removed(struct port *p);
static void capture_netdev_removed(struct netdev *nd);

static const struct hub_tap capture_tap = {
	.port_rx = capture_port_rx,
	.port_tx = capture_port_tx,
	.hub_in = capture_hub_in,
};
static const struct port_observer capture_observer = {
	.removed = capture_port_removed,
	.netdev_removing = capture_netdev_removed,
};

unsigned capture_count(void)
{
	return capture_active;
}

/* The first capture starts listening to the datapath and to ports and
 * netdevs going; the last one stops */
static void capture_listen(bool on)
{
	if (on) {
		hub_set_tap(&capture_tap);
		port_add_observer(&capture_observer);
	} else {
		hub_set_tap(NULL);
		port_remove_observer(&capture_observer);
	}
}

/* Take @c off the list and free it (its file flushed and closed) */
static void capture_remove(struct capture *c)
{
	for (struct capture **pp = &captures; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			if (--capture_active == 0)
				capture_listen(false);
			break;
		}
	}
	capture_free(c); /* logs what it wrote */
}

bool capture_del(const char *id, struct nh_error **errp)
{
	struct capture *c = capture_find(id);

	if (!c) {
		nh_error_setg(errp, "object '%s' not found", id);
		return false;
	}
	capture_remove(c);
	return true;
}

void capture_del_all(void)
{
	while (captures)
		capture_remove(captures);
}

static void capture_port_removed(struct port *p)
{
	struct capture *c = captures, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->port == p)
			capture_remove(c);
	}
}

static void capture_netdev_removed(struct netdev *nd)
{
	struct capture *c = captures, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->netdev == nd || (c->port && c->port->netdev == nd))
			capture_remove(c);
	}
}

/* -- options -------------------------------------------------------------------- */

static const char *const capture_keys[] = {
	"qom-type", "id",     "netdev",	  "hubid",  "file",   "maxlen",
	"queue",    "status", "position", "insert", "filter", "overwrite",
	NULL,
};

/* A required string option */
static const char *capture_req_str(const json_t *args, const char *key,
				   struct nh_error **errp)
{
	if (!opts_has(args, key)) {
		nh_error_setg(errp, "Parameter '%s' is missing", key);
		return NULL;
	}
	return opts_get_str(args, key, NULL, errp);
}

/* Where the capture looks: netdev (a netdev, a NIC, an accepted port) or
 * hubid */
static bool capture_parse_target(struct capture *c, const json_t *args,
				 struct nh_error **errp)
{
	const char *name;
	int64_t hubid;

	if (opts_has(args, "hubid")) {
		if (opts_has(args, "netdev")) {
			nh_error_setg(errp, "Parameters 'netdev' and 'hubid' "
					    "are mutually exclusive");
			return false;
		}
		if (!opts_get_int(args, "hubid", INT32_MIN, INT32_MAX, &hubid,
				  errp))
			return false;
		if (!hub_find((int32_t)hubid)) {
			nh_error_setg(errp, "hub %lld does not exist",
				      (long long)hubid);
			return false;
		}
		c->on_hub = true;
		c->hubid = (int32_t)hubid;
		return true;
	}
	name = capture_req_str(args, "netdev", errp);
	if (!name)
		return false;
	c->netdev = netdev_find(name);
	if (!c->netdev) {
		struct port *p = port_find(name);

		/* an accepted port: "ID.N", not the netdev's only port */
		if (p && p->netdev && strcmp(p->name, p->netdev->id))
			c->port = p;
	}
	if (!c->netdev && !c->port) {
		nh_error_setg(errp, "Parameter 'netdev' expects a network "
				    "backend id");
		return false;
	}
	c->target = strdup(name);
	return true;
}

/* QEMU's netfilter properties: queue, status, position, insert */
static bool capture_parse_netfilter(struct capture *c, const json_t *args,
				    struct nh_error **errp)
{
	const char *queue, *status, *position, *insert;
	int64_t maxlen = CAPTURE_MAXLEN_DEFAULT;

	if (!opts_get_int(args, "maxlen", 0, UINT32_MAX, &maxlen, errp))
		return false;
	if (maxlen == 0) {
		nh_error_setg(errp, "Property 'filter-dump.maxlen' doesn't take "
				    "value '0'");
		return false;
	}
	c->maxlen = (uint32_t)maxlen;

	queue = opts_get_str(args, "queue", "all", errp);
	if (!queue)
		return false;
	for (c->queue = CAPTURE_QUEUE_ALL; c->queue <= CAPTURE_QUEUE_TX;
	     c->queue++)
		if (!strcmp(queue, queue_names[c->queue]))
			break;
	if (c->queue > CAPTURE_QUEUE_TX) {
		nh_error_setg(errp, "Parameter 'queue' does not accept value "
				    "'%s'",
			      queue);
		return false;
	}

	status = opts_get_str(args, "status", "on", errp);
	if (!status)
		return false;
	if (strcmp(status, "on") && strcmp(status, "off")) {
		nh_error_setg(errp, "Invalid value for netfilter status, "
				    "should be 'on' or 'off'");
		return false;
	}
	c->on = !strcmp(status, "on");

	insert = opts_get_str(args, "insert", "behind", errp);
	if (!insert)
		return false;
	if (strcmp(insert, "before") && strcmp(insert, "behind")) {
		nh_error_setg(errp, "Invalid value for netfilter insert, "
				    "should be 'before' or 'behind'");
		return false;
	}

	/* Captures change no frame: the position only has to make sense */
	position = opts_get_str(args, "position", "tail", errp);
	if (!position)
		return false;
	if (strcmp(position, "head") && strcmp(position, "tail")) {
		if (strncmp(position, "id=", 3)) {
			nh_error_setg(errp, "Parameter 'position' expects "
					    "'head', 'tail' or 'id=<id>'");
			return false;
		}
		if (!capture_find(position + 3)) {
			nh_error_setg(errp, "filter '%s' not found",
				      position + 3);
			return false;
		}
	}
	return true;
}

/* The BPF program of the filter option (nethub), compiled by libpcap */
static bool capture_parse_filter(struct capture *c, const json_t *args,
				 struct nh_error **errp)
{
	const char *expr = NULL;

	if (!opts_get_opt_str(args, "filter", &expr, errp))
		return false;
	if (!expr)
		return true;
	if (pcap_compile(c->dead, &c->prog, expr, 1, PCAP_NETMASK_UNKNOWN)) {
		nh_error_setg(errp, "Parameter 'filter': %s: %s", expr,
			      pcap_geterr(c->dead));
		return false;
	}
	c->has_prog = true;
	c->filter = strdup(expr);
	return true;
}

/*
 * Open the file (userfile.h: no symbolic link, a regular file or a FIFO,
 * an existing file replaced only with overwrite=on, beneath --files-dir
 * if given): a regular file now (its errors are the command's), a FIFO
 * now if it has a reader, else by the writer once a reader is there
 */
static bool capture_open_file(struct capture *c, const json_t *args,
			      struct nh_error **errp)
{
	unsigned how = USERFILE_WRITE | USERFILE_FIFO;
	bool overwrite = false;
	int fd;

	if (!opts_get_bool(args, "overwrite", &overwrite, errp))
		return false;
	if (overwrite)
		how |= USERFILE_OVERWRITE;
	if (!userfile_locate(&c->uf, c->file, errp)) {
		nh_error_prepend(errp, "net dump: can't open %s: ", c->file);
		return false;
	}
	fd = userfile_open(&c->uf, how, &c->fifo, errp);
	if (fd == -ENXIO) {
		c->fifo = true;
		atomic_store(&c->state, CAPTURE_WAITING);
		return true;
	}
	if (fd < 0) {
		nh_error_prepend(errp, "net dump: can't open %s: ", c->file);
		return false;
	}
	c->fd = fd;
	errno = 0;
	if (!capture_open_dumper(c) || pcap_dump_flush(c->dumper)) {
		nh_error_setg(errp, "net dump: can't open %s: %s", c->file,
			      strerror(errno ? errno : EIO));
		return false;
	}
	atomic_store(&c->state, CAPTURE_OPEN);
	return true;
}

static bool capture_start_writer(struct capture *c, struct nh_error **errp)
{
	sigset_t all, old;
	int err;

	/* Signals are the loop's; SIGPIPE from a write must stay with the
	 * writer (blocked: the write fails with EPIPE) */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&c->thread, NULL, capture_writer, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		nh_error_setg(errp, "capture %s: cannot start its writer: %s",
			      c->id, strerror(err));
		return false;
	}
	c->thread_started = true;
	return true;
}

static struct capture *capture_new(void)
{
	struct capture *c = calloc(1, sizeof(*c));
	pthread_condattr_t ca;

	if (!c)
		abort();
	c->fd = -1;
	c->uf.dirfd = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	return c;
}


/*
 * @file as query-captures shows it: absolute.  A relative name is taken
 * from --files-dir, else from nethubd's working directory, as opening it
 * was; errors keep naming the file as the user gave it.  NULL when out of
 * memory.
 */
static char *capture_absolute(const char *file)
{
	const char *base = userfile_root();
	char cwd[PATH_MAX], *out;

	if (file[0] == '/' || (!base && !getcwd(cwd, sizeof(cwd))))
		return strdup(file);
	if (asprintf(&out, "%s/%s", base ? base : cwd, file) < 0)
		return NULL;
	return out;
}

struct capture *capture_add(const json_t *args, struct nh_error **errp)
{
	struct capture *c, **tail;
	const char *type, *id, *file;

	if (!json_is_object(args)) {
		nh_error_setg(errp, "Invalid parameter type for 'object', "
				    "expected: object");
		return NULL;
	}
	if (!opts_check_keys(args, capture_keys, errp))
		return NULL;
	type = capture_req_str(args, "qom-type", errp);
	if (!type)
		return NULL;
	if (strcmp(type, "filter-dump")) {
		nh_error_setg(errp, "Parameter 'qom-type' does not accept value "
				    "'%s'",
			      type);
		return NULL;
	}
	id = capture_req_str(args, "id", errp);
	if (!id)
		return NULL;
	if (!netdev_valid_id(id)) {
		nh_error_setg(errp, "Parameter 'id' expects an identifier");
		return NULL;
	}
	if (capture_find(id)) {
		nh_error_setg(errp, "attempt to add duplicate property '%s' to "
				    "object (type 'container')",
			      id);
		return NULL;
	}

	c = capture_new();
	snprintf(c->id, sizeof(c->id), "%s", id);
	if (!capture_parse_target(c, args, errp) ||
	    !capture_parse_netfilter(c, args, errp))
		goto fail;
	file = capture_req_str(args, "file", errp);
	if (!file)
		goto fail;
	c->file = strdup(file);
	c->dead = pcap_open_dead(DLT_EN10MB, (int)(c->maxlen > INT32_MAX
							 ? INT32_MAX
							 : c->maxlen));
	c->ring_size = CAPTURE_RING_BYTES;
	c->ring = malloc(c->ring_size);
	if (!c->file || !c->dead || !c->ring) {
		nh_error_setg(errp, "capture %s: out of memory", id);
		goto fail;
	}
	if (!capture_parse_filter(c, args, errp) ||
	    !capture_open_file(c, args, errp) ||
	    !capture_start_writer(c, errp))
		goto fail;

	for (tail = &captures; *tail; tail = &(*tail)->next)
		;
	*tail = c;
	c->listed = true;
	if (capture_active++ == 0)
		capture_listen(true);
	if (c->on_hub)
		log_info("capture %s: hub %d to %s", c->id, c->hubid, c->file);
	else
		log_info("capture %s: %s (queue %s) to %s", c->id, c->target,
			 queue_names[c->queue], c->file);
	return c;

fail:
	/* A file made here is left empty rather than removed: the path was
	 * the user's to give, it may have been there before */
	capture_free(c);
	return NULL;
}

/* -- queries ---------------------------------------------------------------------- */

void capture_get_stats(const struct capture *c, struct capture_stats *st)
{
	st->seen = c->seen;
	st->frames = atomic_load(&c->frames);
	st->bytes = atomic_load(&c->bytes);
	st->filtered = c->filtered;
	st->dropped = c->dp_dropped + atomic_load(&c->wr_dropped);
}

json_t *capture_info(const struct capture *c)
{
	struct capture_stats st;
	json_t *o = json_object();
	char *shown;

	capture_get_stats(c, &st);
	json_object_set_new(o, "id", json_string(c->id));
	if (c->on_hub)
		json_object_set_new(o, "hubid", json_integer(c->hubid));
	else
		json_object_set_new(o, "netdev", json_string(c->target));
	shown = capture_absolute(c->file);
	json_object_set_new(o, "file", json_string(shown ? shown : c->file));
	free(shown);
	json_object_set_new(o, "queue", json_string(queue_names[c->queue]));
	json_object_set_new(o, "maxlen", json_integer(c->maxlen));
	if (c->filter)
		json_object_set_new(o, "filter", json_string(c->filter));
	json_object_set_new(o, "status", json_string(c->on ? "on" : "off"));
	json_object_set_new(o, "frames", json_integer((json_int_t)st.frames));
	json_object_set_new(o, "bytes", json_integer((json_int_t)st.bytes));
	json_object_set_new(o, "filtered",
			    json_integer((json_int_t)st.filtered));
	json_object_set_new(o, "dropped",
			    json_integer((json_int_t)st.dropped));
	if (atomic_load_explicit(&c->state, memory_order_acquire) ==
	    CAPTURE_FAILED)
		json_object_set_new(o, "error", json_string(c->error));
	return o;
}

json_t *capture_query(void)
{
	json_t *list = json_array();

	for (const struct capture *c = captures; c; c = c->next)
		json_array_append_new(list, capture_info(c));
	return list;
}

bool capture_sync(struct capture *c, unsigned timeout_ms)
{
	struct timespec nap = { 0, 1000000 };

	for (unsigned waited = 0;; waited++) {
		if (atomic_load(&c->head) == atomic_load(&c->tail) &&
		    !atomic_load(&c->pending))
			return true;
		if (waited >= timeout_ms)
			return false;
		nanosleep(&nap, NULL);
	}
}
