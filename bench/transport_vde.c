/* SPDX-License-Identifier: MIT */
/*
 * transport_vde.c - nethub-bench's vde transport: each bench port is a
 * native port of a VDE switch (--connect SOCKDIR[,SOCKDIR...], one for
 * all ports or one per port), as QEMU's -netdev vde makes one.
 *
 * Frames move in batches through pkt_io.c where the data socket allows.
 * Owns its ports' VDE connections and each port's private directory
 * (mkdtemp() under $TMPDIR or /tmp) holding its data socket.  Must never
 * create, change or remove anything in the switch's socket directory,
 * never leave its private directory behind, and never allocate or log on
 * the per-frame path.
 *
 * A plain socket directory is spoken to natively, without libvdeplug
 * (whose dlopen(RTLD_DEEPBIND) AddressSanitizer refuses): a stream
 * connection to SOCKDIR/ctl asks for a port (a version 3 request naming
 * our datagram socket), the switch answers with the address of its
 * datagram socket for that port, and from then on every datagram between
 * the two is one Ethernet frame - batched here with sendmmsg()/recvmmsg(),
 * non-blocking.  The port lives as long as the control connection.
 *
 * A connect string with "://" is a vdeplug4 URL (vxvde://, vde:///...):
 * opened with libvdeplug when built with it, one frame per
 * vde_send()/vde_recv() (batched as above if its data fd turns out to be a
 * connected datagram socket).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef HAVE_VDEPLUG
#include <libvdeplug.h>
#endif

#include "bench.h"

#define VDE_MAX_FRAME	 (1514u + 4u) /* Ethernet + one 802.1Q tag */
#define VDE_RETRY_MS	 20
#define VDE_SOCKBUF	 (4 * 1024 * 1024)
#define VDE_MAGIC	 0xfeedfaceu
#define VDE_VERSION	 3u
#define VDE_DESCR	 "nethub-bench"
#define VDE_DESCR_MAX	 128 /* the switch's limit, NUL included */
/* request_v3: magic, version, type (u32 each), sockaddr_un, description */
#define VDE_REQ_HDR	 (3 * sizeof(uint32_t) + sizeof(struct sockaddr_un))

struct vde_port {
	int ctl;	      /* native: control connection, -1 when none */
	char dir[PATH_MAX];   /* native: private directory, "" when none */
	/* native: our data socket's path, "" when unbound */
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
#ifdef HAVE_VDEPLUG
	VDECONN *conn; /* a URL, through libvdeplug */
#endif
	bool fast; /* batched I/O on a connected datagram fd */
	struct pkt_io *io;
};

static void vde_port_close(struct bench_port *p)
{
	struct vde_port *v = p->tp;

	if (!v) {
		if (p->fd >= 0)
			close(p->fd);
		p->fd = -1;
		return;
	}
#ifdef HAVE_VDEPLUG
	if (v->conn) {
		/* p->fd belongs to the connection */
		vde_close(v->conn);
		p->fd = -1;
	}
#endif
	/* closing the control connection is what frees the switch's port */
	if (v->ctl >= 0)
		close(v->ctl);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (v->sock[0])
		unlink(v->sock);
	if (v->dir[0])
		rmdir(v->dir);
	pkt_io_free(v->io);
	free(v);
	p->tp = NULL;
}

/* vde_retry_wait() - sleep before the next attempt; false when @deadline
 * has passed */
static bool vde_retry_wait(uint64_t deadline)
{
	uint64_t now = now_ns(), ns = VDE_RETRY_MS * NS_PER_MS;

	if (now >= deadline)
		return false;
	if (deadline - now < ns)
		ns = deadline - now;
	usleep((useconds_t)(ns / 1000));
	return true;
}

/*
 * vde_unix_addr() - @a := the AF_UNIX address @dir/@name (@name NULL: @dir)
 *
 * Return: its length for bind()/connect(), 0 when it does not fit.
 */
static socklen_t vde_unix_addr(struct sockaddr_un *a, const char *dir,
			       const char *name)
{
	int n;

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	n = name ? snprintf(a->sun_path, sizeof(a->sun_path), "%s/%s", dir,
			    name)
		 : snprintf(a->sun_path, sizeof(a->sun_path), "%s", dir);
	if (n <= 0 || (size_t)n >= sizeof(a->sun_path))
		return 0;
	return sizeof(*a);
}

/*
 * vde_private_sock() - port @p's datagram socket, bound in a fresh private
 * directory (recorded in @v so that close removes both)
 *
 * Return: 0, or -errno with @err set.
 */
static int vde_private_sock(struct bench_port *p, struct vde_port *v,
			    char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	struct sockaddr_un a;
	socklen_t alen;
	int n, e;

	if (!tmp || *tmp != '/')
		tmp = "/tmp";
	n = snprintf(v->dir, sizeof(v->dir), "%s/nethub-bench-vde.XXXXXX",
		     tmp);
	if (n <= 0 || (size_t)n >= sizeof(v->dir) || !mkdtemp(v->dir)) {
		e = n > 0 && (size_t)n < sizeof(v->dir) ? errno : ENAMETOOLONG;
		snprintf(err, errlen, "port %u: cannot make a private "
			 "directory in '%s': %s", p->idx, tmp, strerror(e));
		v->dir[0] = '\0';
		return -e;
	}
	alen = vde_unix_addr(&a, v->dir, "port");
	if (!alen) {
		snprintf(err, errlen, "port %u: private socket path in '%s' "
			 "is too long for a Unix socket", p->idx, tmp);
		return -ENAMETOOLONG;
	}
	p->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&a, alen)) {
		e = errno;
		snprintf(err, errlen, "port %u: cannot bind a datagram "
			 "socket at '%s': %s", p->idx, a.sun_path, strerror(e));
		return -e;
	}
	memcpy(v->sock, a.sun_path, sizeof(v->sock));
	return 0;
}

/*
 * vde_ctl_connect() - connect @v->ctl to @where's control socket, retrying
 * until @deadline while there is none or it refuses (a starting switch)
 *
 * Return: 0, or -errno with @err set.
 */
static int vde_ctl_connect(struct bench_port *p, struct vde_port *v,
			   const char *where, uint64_t deadline, char *err,
			   size_t errlen)
{
	struct sockaddr_un a;
	socklen_t alen = vde_unix_addr(&a, where, "ctl");
	int e;

	if (!alen) {
		snprintf(err, errlen, "port %u: VDE socket directory '%s' is "
			 "too long for a Unix socket path", p->idx, where);
		return -ENAMETOOLONG;
	}
	for (;;) {
		v->ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (v->ctl < 0) {
			e = errno;
			break;
		}
		if (!connect(v->ctl, (struct sockaddr *)&a, alen))
			return 0;
		e = errno;
		close(v->ctl);
		v->ctl = -1;
		if (e == EINTR)
			continue;
		if ((e != ENOENT && e != ECONNREFUSED) ||
		    !vde_retry_wait(deadline))
			break;
	}
	snprintf(err, errlen, "port %u: cannot open VDE switch '%s': %s%s",
		 p->idx, where, strerror(e),
		 e == ENOENT || e == ECONNREFUSED
			 ? " (is vde_switch -s running there?)"
			 : "");
	return -e;
}

/*
 * vde_ctl_io() - send or receive all @len bytes of @buf on @fd before
 * @deadline
 *
 * Return: 0, -ECONNRESET on end of stream, -ETIMEDOUT, or -errno.
 */
static int vde_ctl_io(int fd, void *buf, size_t len, bool out,
		      uint64_t deadline)
{
	uint8_t *b = buf;
	size_t done = 0;
	struct pollfd pfd = { .fd = fd, .events = out ? POLLOUT : POLLIN };
	uint64_t now;
	ssize_t r;
	int ms;

	while (done < len) {
		now = now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		ms = (int)((deadline - now) / NS_PER_MS) + 1;
		r = poll(&pfd, 1, ms);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		r = out ? send(fd, b + done, len - done,
			       MSG_NOSIGNAL | MSG_DONTWAIT)
			: recv(fd, b + done, len - done, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ECONNRESET;
		done += (size_t)r;
	}
	return 0;
}

/*
 * vde_native_open() - port @p as a port of the vde_switch whose socket
 * directory is @where, without libvdeplug
 *
 * Return: 0, or -errno with @err set (what it made is left in @v for
 * vde_port_close()).
 */
static int vde_native_open(struct bench_port *p, struct vde_port *v,
			   const char *where, uint64_t deadline, char *err,
			   size_t errlen)
{
	uint8_t req[VDE_REQ_HDR + VDE_DESCR_MAX];
	uint32_t w[3] = { VDE_MAGIC, VDE_VERSION, 0 /* any free port */ };
	size_t dlen = sizeof(VDE_DESCR); /* with its NUL */
	struct sockaddr_un me, sw;
	int e;

	e = vde_private_sock(p, v, err, errlen);
	if (e)
		return e;
	e = vde_ctl_connect(p, v, where, deadline, err, errlen);
	if (e)
		return e;
	/* the request in the switch's own byte order, as libvdeplug sends */
	vde_unix_addr(&me, v->sock, NULL);
	memcpy(req, w, sizeof(w));
	memcpy(req + sizeof(w), &me, sizeof(me));
	memcpy(req + VDE_REQ_HDR, VDE_DESCR, dlen);
	e = vde_ctl_io(v->ctl, req, VDE_REQ_HDR + dlen, true, deadline);
	if (!e)
		e = vde_ctl_io(v->ctl, &sw, sizeof(sw), false, deadline);
	if (e) {
		snprintf(err, errlen, "port %u: VDE switch '%s' %s: %s",
			 p->idx, where,
			 e == -ECONNRESET ? "closed the control connection "
					    "instead of giving a port"
					  : "did not give a port",
			 strerror(-e));
		return e;
	}
	/* the answer is the switch's: check it before using it */
	if (sw.sun_family != AF_UNIX || !sw.sun_path[0] ||
	    !memchr(sw.sun_path, '\0', sizeof(sw.sun_path))) {
		snprintf(err, errlen, "port %u: VDE switch '%s' answered "
			 "with no usable data socket address", p->idx, where);
		return -EPROTO;
	}
	if (connect(p->fd, (struct sockaddr *)&sw, sizeof(sw))) {
		e = errno;
		snprintf(err, errlen, "port %u: cannot connect to VDE switch "
			 "'%s' data socket '%s': %s", p->idx, where,
			 sw.sun_path, strerror(e));
		return -e;
	}
	v->fast = true;
	return 0;
}

#ifdef HAVE_VDEPLUG
/* vde_fd_is_plain() - @fd is an AF_UNIX datagram socket with a peer */
static bool vde_fd_is_plain(int fd)
{
	struct sockaddr_un a;
	socklen_t alen = sizeof(a);
	int v;
	socklen_t vlen = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &vlen) || v != AF_UNIX)
		return false;
	vlen = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vlen) || v != SOCK_DGRAM)
		return false;
	return getpeername(fd, (struct sockaddr *)&a, &alen) == 0 &&
	       alen > sizeof(sa_family_t);
}

/* vde_url_open() - port @p through libvdeplug, for the vdeplug4 URL @where */
static int vde_url_open(struct bench_port *p, struct vde_port *v,
			char *where, uint64_t deadline, char *err,
			size_t errlen)
{
	struct vde_open_args args = { .port = 0 };
	int e;

	for (;;) {
		errno = 0;
		v->conn = vde_open(where, VDE_DESCR, &args);
		if (v->conn)
			break;
		e = errno ? errno : EIO;
		if ((e != ENOENT && e != ECONNREFUSED) ||
		    !vde_retry_wait(deadline)) {
			snprintf(err, errlen,
				 "port %u: cannot open VDE switch '%s': %s%s",
				 p->idx, where, strerror(e),
				 e == ENOENT || e == ECONNREFUSED
					 ? " (is the VDE network there?)"
					 : "");
			return -e;
		}
	}
	p->fd = vde_datafd(v->conn);
	if (p->fd < 0) {
		snprintf(err, errlen, "port %u: VDE switch '%s' gave no data "
			 "socket", p->idx, where);
		return -EIO;
	}
	v->fast = vde_fd_is_plain(p->fd);
	return 0;
}
#endif

static int vde_port_open(struct bench_port *p, uint64_t deadline, char *err,
			 size_t errlen)
{
	const struct bench_cfg *cfg = p->cfg;
	char *where = cfg->connect[cfg->n_connect == 1 ? 0 : p->idx];
	struct vde_port *v;
	int e, sz = VDE_SOCKBUF;

	if (!*where) {
		snprintf(err, errlen, "--connect: empty VDE socket directory");
		return -EINVAL;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	v->ctl = -1;
	p->tp = v;
	if (strstr(where, "://")) {
#ifdef HAVE_VDEPLUG
		e = vde_url_open(p, v, where, deadline, err, errlen);
#else
		snprintf(err, errlen, "port %u: VDE URL '%s' needs libvdeplug, "
			 "and this nethub-bench was built without it (a plain "
			 "socket directory works)", p->idx, where);
		e = -EPROTONOSUPPORT;
#endif
	} else {
		e = vde_native_open(p, v, where, deadline, err, errlen);
	}
	if (e)
		goto fail;
	e = fcntl_nonblock(p->fd);
	if (e) {
		snprintf(err, errlen, "port %u: fcntl: %s", p->idx,
			 strerror(-e));
		goto fail;
	}
	if (v->fast) {
		(void)setsockopt(p->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		(void)setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	v->io = pkt_io_new(p, VDE_MAX_FRAME);
	if (!v->io) {
		snprintf(err, errlen, "out of memory");
		e = -ENOMEM;
		goto fail;
	}
	return 0;
fail:
	vde_port_close(p);
	return e;
}

/* vde_send1() - send one frame on @p without blocking: a URL's through
 * libvdeplug, else on the connected datagram socket */
static ssize_t vde_send1(struct bench_port *p, struct vde_port *v,
			 const void *f, size_t len)
{
#ifdef HAVE_VDEPLUG
	if (v->conn)
		return vde_send(v->conn, f, len, MSG_DONTWAIT);
#else
	(void)v;
#endif
	return send(p->fd, f, len, MSG_DONTWAIT);
}

/* vde_send_slow() - one vde_send() per frame, for URLs that are not a
 * connected datagram socket */
static int vde_send_slow(struct bench_port *p, struct vde_port *v, unsigned n,
			 uint8_t epoch, uint64_t now)
{
	size_t fs = p->cfg->frame_size;
	unsigned i;

	if (n > v->io->batch)
		n = v->io->batch;
	for (i = 0; i < n; i++) {
		uint8_t *f = v->io->tx_buf + i * fs;

		bench_stamp(p, f, epoch, p->tx_seq + i, now);
		if (vde_send1(p, v, f, fs) < 0) {
			if (errno == EAGAIN) {
				p->tx_blocked = true;
				break;
			}
			if (errno == ENOBUFS || errno == EINTR)
				break;
			if (!i) {
				p->tx_errors++;
				return -errno;
			}
			break;
		}
	}
	return (int)i;
}

static int vde_port_send(struct bench_port *p, unsigned n, uint8_t epoch,
			 uint64_t now)
{
	struct vde_port *v = p->tp;

	if (v->fast)
		return pkt_io_send(p, v->io, p->fd, n, epoch, now);
	return vde_send_slow(p, v, n, epoch, now);
}

static int vde_port_send_ctrl(struct bench_port *p, const uint8_t *frame,
			      size_t len)
{
	struct vde_port *v = p->tp;

	return vde_send1(p, v, frame, len) < 0 ? -errno : 0;
}

/* vde_recv1() - receive one frame on @p without blocking (see vde_send1()) */
static ssize_t vde_recv1(struct bench_port *p, struct vde_port *v, void *buf,
			 size_t len)
{
#ifdef HAVE_VDEPLUG
	if (v->conn)
		return vde_recv(v->conn, buf, len, MSG_DONTWAIT);
#else
	(void)v;
#endif
	return recv(p->fd, buf, len, MSG_DONTWAIT);
}

static int vde_port_recv(struct bench_port *p)
{
	struct vde_port *v = p->tp;
	int total = 0;
	ssize_t r;

	if (v->fast)
		return pkt_io_recv(p, v->io, p->fd);
	while (total < BENCH_RX_ROUNDS * BENCH_RX_BATCH) {
		r = vde_recv1(p, v, v->io->rx_buf, v->io->rx_slot);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -errno;
		}
		if (r == 0)
			return -ECONNRESET;
		sink_frame(p->w, p, v->io->rx_buf, (size_t)r, now_ns());
		total++;
	}
	return total;
}

const struct bench_transport transport_vde = {
	.name = "vde",
	.max_frame = VDE_MAX_FRAME,
	.open = vde_port_open,
	.send = vde_port_send,
	.send_ctrl = vde_port_send_ctrl,
	.recv = vde_port_recv,
	.close = vde_port_close,
};
