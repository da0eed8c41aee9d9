/* SPDX-License-Identifier: MIT */
/*
 * transport_vhost_user.c - nethub-bench's vhost-user transport: each bench
 * port is a vhost-user FRONT-END (the role QEMU or DPDK's virtio-user
 * plays) of a back-end's socket: --connect PATH per port, or one template
 * with %d for the port number; --vhost-server listens on PATH instead,
 * for back-ends in client mode.
 *
 * A port owns one memfd, mapped shared, holding its two split rings
 * (queue 0 RX: the back-end writes frames into our buffers; queue 1 TX:
 * we hand it ours) and their buffers; the memory table hands it over as
 * one region whose guest address is our own address.  Frames carry a
 * zeroed virtio_net_hdr (12 bytes with VERSION_1 or MRG_RXBUF, else 10)
 * before the Ethernet frame.  The rings are busy-polled by the worker
 * (the poll op): sending publishes a batch and kicks once, unless the
 * back-end said VRING_USED_F_NO_NOTIFY; receiving reaps the used ring and
 * re-posts the buffers.  No call interrupts are asked for.
 *
 * Owns its ports' sockets, memory and eventfds, and the listening socket
 * file it made with --vhost-server.  Never: allocate, log or make a
 * syscall per frame (a kick is one per batch), or believe an index the
 * back-end wrote without checking it (vring.c checks the used ring).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench.h"

#define VU_MAX_FRAME	  9216u /* jumbo frames */
#define VU_RING_DEFAULT	  256
#define VU_BATCH_DEFAULT  64
#define VU_RETRY_MS	  20
#define VU_REPLY_MS	  5000 /* a busy machine answers slowly */
#define VU_CLOSE_REPLY_MS 1000
#define VU_RX_SLOT_MIN	  (1518u + 4u) /* a buffer holds any plain frame */
#define VU_HDR_MAX	  12

/* message flags */
#define VU_VERSION    1u
#define VU_REPLY      0x4u
#define VU_NEED_REPLY 0x8u

/* feature bits (virtio and vhost-user) */
#define VIRTIO_NET_F_MRG_RXBUF	 15
#define VHOST_USER_F_PROTOCOL_FEATURES 30
#define VIRTIO_F_VERSION_1	 32
#define VU_PROTOCOL_F_REPLY_ACK	 3

#define VU_VRING_NOFD (1u << 8) /* SET_VRING_KICK/CALL: no fd */

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
};

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc, used, avail, log;
};

struct vu_mem_region {
	uint64_t guest_addr, size, user_addr, mmap_offset;
};

struct vu_mem_table {
	uint32_t nregions;
	uint32_t pad;
	struct vu_mem_region region[1];
};

struct vu_port {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool listened; /* we made the socket file at path */
	int memfd;
	uint8_t *mem;
	size_t mem_size;
	int kick[2], call[2]; /* per queue: RX 0, TX 1 */
	struct vring ring[2];
	uint64_t features, protocol;
	size_t hdr_len;
	size_t tx_len; /* TX buffer: the largest header + --frame-size */
	uint8_t *tmpl; /* the frame template, --frame-size bytes */
	uint8_t *tx_dirty; /* per TX descriptor: holds a control frame */
	bool started; /* the back-end has our rings: stop them on close */
	/* a frame spread over several RX buffers (MRG_RXBUF) */
	uint8_t *merge;
	size_t merge_cap, merge_len;
	unsigned merge_left;
	uint64_t rx_errors;
};

/* ---------------------------------------------------------------------- */
/* Messages                                                                */
/* ---------------------------------------------------------------------- */

/* vu_wait() - poll @fd for @events until @deadline (ns); Return: 0,
 * -ETIMEDOUT, -errno */
static int vu_wait(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	uint64_t now = now_ns();
	int r;

	if (now >= deadline)
		return -ETIMEDOUT;
	r = poll(&pfd, 1, (int)((deadline - now + NS_PER_MS - 1) / NS_PER_MS));
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (!r)
		return -ETIMEDOUT;
	return 0;
}

static int vu_send_msg(int fd, uint32_t request, uint32_t flags,
		       const void *payload, uint32_t size, const int *fds,
		       unsigned nfds)
{
	struct vu_hdr h = { .request = request, .flags = flags, .size = size };
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[2] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)payload, .iov_len = size },
	};
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };
	uint64_t deadline = now_ns() + VU_REPLY_MS * NS_PER_MS;
	struct cmsghdr *c;
	ssize_t n;
	int r;

	if (nfds > 8)
		return -EINVAL;
	if (nfds) {
		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.buf;
		m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	for (;;) {
		n = sendmsg(fd, &m, MSG_NOSIGNAL);
		if (n >= 0)
			break;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		r = vu_wait(fd, POLLOUT, deadline);
		if (r)
			return r;
	}
	/* a message this small goes whole into a unix stream socket */
	return (size_t)n == sizeof(h) + size ? 0 : -EMSGSIZE;
}

/* vu_read_full() - @len bytes from @fd by @deadline; Return: 0, -errno,
 * -ECONNRESET at end of stream */
static int vu_read_full(int fd, void *buf, size_t len, uint64_t deadline)
{
	size_t got = 0;
	ssize_t n;
	int r;

	while (got < len) {
		n = recv(fd, (uint8_t *)buf + got, len - got, MSG_DONTWAIT);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (!n)
			return -ECONNRESET;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		r = vu_wait(fd, POLLIN, deadline);
		if (r)
			return r;
	}
	return 0;
}

/*
 * vu_recv_reply() - read the reply to @request: exactly @size bytes of
 * payload into @payload
 * Return: 0; -EPROTO for a reply that is not one (its header says what
 * went wrong in @err); -ETIMEDOUT, -ECONNRESET, -errno
 */
static int vu_recv_reply(int fd, uint32_t request, void *payload,
			 uint32_t size, int timeout_ms, char *err,
			 size_t errlen)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * NS_PER_MS;
	struct vu_hdr h;
	int r;

	r = vu_read_full(fd, &h, sizeof(h), deadline);
	if (r)
		return r;
	if (h.request != request || (h.flags & 3) != VU_VERSION ||
	    !(h.flags & VU_REPLY) || h.size != size) {
		snprintf(err, errlen, "a reply to request %u was request %u, "
			 "flags 0x%x, %u bytes (wanted %u)", request,
			 h.request, h.flags, h.size, size);
		return -EPROTO;
	}
	return vu_read_full(fd, payload, size, deadline);
}

static const char *vu_request_name(uint32_t request)
{
	static const char *const names[] = {
		[VHOST_USER_GET_FEATURES] = "GET_FEATURES",
		[VHOST_USER_SET_FEATURES] = "SET_FEATURES",
		[VHOST_USER_SET_OWNER] = "SET_OWNER",
		[VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
		[VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
		[VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
		[VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
		[VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
		[VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
		[VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
		[VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
		[VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
		[VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	};

	if (request < sizeof(names) / sizeof(names[0]) && names[request])
		return names[request];
	return "request";
}

/*
 * vu_set() - a request that answers nothing unless REPLY_ACK was
 * negotiated, in which case we ask for its u64 ack and check it is 0
 * Return: 0, or -errno with @err saying which request failed how
 */
static int vu_set(struct bench_port *p, uint32_t request, const void *payload,
		  uint32_t size, const int *fds, unsigned nfds, char *err,
		  size_t errlen)
{
	struct vu_port *v = p->tp;
	bool ack = v->protocol & (1ull << VU_PROTOCOL_F_REPLY_ACK);
	uint64_t status;
	char why[160] = "";
	int r;

	r = vu_send_msg(p->fd, request, VU_VERSION | (ack ? VU_NEED_REPLY : 0),
			payload, size, fds, nfds);
	if (!r && ack)
		r = vu_recv_reply(p->fd, request, &status, sizeof(status),
				  VU_REPLY_MS, why, sizeof(why));
	if (r) {
		snprintf(err, errlen, "port %u: vhost-user %s on '%s': %s%s%s",
			 p->idx, vu_request_name(request), v->path,
			 r == -ECONNRESET ? "the back-end closed the connection"
			 : r == -ETIMEDOUT ? "no reply" : strerror(-r),
			 why[0] ? ": " : "", why);
		return r;
	}
	if (ack && status) {
		snprintf(err, errlen, "port %u: vhost-user back-end at '%s' "
			 "refused %s (status %llu)", p->idx, v->path,
			 vu_request_name(request), (unsigned long long)status);
		return -EPROTO;
	}
	return 0;
}

/* vu_get_u64() - a GET_* request answered by a u64 */
static int vu_get_u64(struct bench_port *p, uint32_t request, uint64_t *out,
		      char *err, size_t errlen)
{
	struct vu_port *v = p->tp;
	char why[160] = "";
	int r;

	r = vu_send_msg(p->fd, request, VU_VERSION, NULL, 0, NULL, 0);
	if (!r)
		r = vu_recv_reply(p->fd, request, out, sizeof(*out),
				  VU_REPLY_MS, why, sizeof(why));
	if (r)
		snprintf(err, errlen, "port %u: vhost-user %s on '%s': %s%s%s",
			 p->idx, vu_request_name(request), v->path,
			 r == -ECONNRESET ? "the back-end closed the connection"
			 : r == -ETIMEDOUT ? "no reply" : strerror(-r),
			 why[0] ? ": " : "", why);
	return r;
}

int vhost_user_send_msg(struct bench_port *p, uint32_t request,
			uint32_t flags, const void *payload, uint32_t size,
			const int *fds, unsigned nfds)
{
	return vu_send_msg(p->fd, request, flags, payload, size, fds, nfds);
}

int vhost_user_recv_reply(struct bench_port *p, uint32_t request,
			  void *payload, uint32_t size, int timeout_ms)
{
	char why[160];

	return vu_recv_reply(p->fd, request, payload, size, timeout_ms, why,
			     sizeof(why));
}

struct vring *vhost_user_ring(struct bench_port *p, unsigned queue)
{
	struct vu_port *v = p->tp;

	return v && queue < 2 ? &v->ring[queue] : NULL;
}

static void vu_kick(int fd);

void vhost_user_kick(struct bench_port *p, unsigned queue)
{
	struct vu_port *v = p->tp;

	if (v && queue < 2)
		vu_kick(v->kick[queue]);
}

/* ---------------------------------------------------------------------- */
/* Opening: socket, memory, negotiation                                    */
/* ---------------------------------------------------------------------- */

int vhost_user_path(const char *tmpl, unsigned idx, char *out, size_t len)
{
	const char *pct = strchr(tmpl, '%');
	int n;

	if (!pct)
		n = snprintf(out, len, "%s", tmpl);
	else if (pct[1] != 'd' || strchr(pct + 2, '%'))
		return -EINVAL;
	else
		n = snprintf(out, len, "%.*s%u%s", (int)(pct - tmpl), tmpl,
			     idx, pct + 2);
	if (n <= 0)
		return -EINVAL;
	if ((size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

static void vu_close(struct bench_port *p)
{
	struct vu_port *v = p->tp;
	struct vu_vring_state st;
	char why[160];
	unsigned q;

	if (v && v->started && p->fd >= 0) {
		/* stop the rings, so that the back-end lets go of our memory */
		for (q = 0; q < 2; q++) {
			st = (struct vu_vring_state){ .index = q };
			if (vu_send_msg(p->fd, VHOST_USER_GET_VRING_BASE,
					VU_VERSION, &st, sizeof(st), NULL, 0) ||
			    vu_recv_reply(p->fd, VHOST_USER_GET_VRING_BASE,
					  &st, sizeof(st), VU_CLOSE_REPLY_MS,
					  why, sizeof(why)))
				break;
		}
	}
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (!v)
		return;
	if (v->listened)
		unlink(v->path);
	for (q = 0; q < 2; q++) {
		if (v->kick[q] >= 0)
			close(v->kick[q]);
		if (v->call[q] >= 0)
			close(v->call[q]);
		vring_fini(&v->ring[q]);
	}
	if (v->mem)
		munmap(v->mem, v->mem_size);
	if (v->memfd >= 0)
		close(v->memfd);
	free(v->tmpl);
	free(v->tx_dirty);
	free(v->merge);
	free(v);
	p->tp = NULL;
}

static socklen_t vu_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, path, strlen(path) + 1);
	return sizeof(*a);
}

/* vu_connect() - connect to the back-end at v->path, retrying while it
 * is not there yet, until @deadline */
static int vu_connect(struct bench_port *p, struct vu_port *v,
		      uint64_t deadline, char *err, size_t errlen)
{
	struct sockaddr_un a;
	socklen_t alen = vu_addr(&a, v->path);
	int fd, e;

	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    0);
		if (fd < 0) {
			e = errno;
			break;
		}
		if (!connect(fd, (struct sockaddr *)&a, alen)) {
			p->fd = fd;
			return 0;
		}
		e = errno;
		close(fd);
		if ((e != ENOENT && e != ECONNREFUSED && e != EAGAIN) ||
		    now_ns() >= deadline)
			break;
		usleep(VU_RETRY_MS * 1000);
	}
	snprintf(err, errlen, "port %u: cannot connect to a vhost-user "
		 "back-end at '%s': %s (is it listening there, or does it "
		 "connect as a client: --vhost-server?)", p->idx, v->path,
		 strerror(e));
	return -e;
}

/* vu_listen() - listen at v->path and take one back-end's connection
 * by @deadline */
static int vu_listen(struct bench_port *p, struct vu_port *v,
		     uint64_t deadline, char *err, size_t errlen)
{
	struct sockaddr_un a;
	socklen_t alen = vu_addr(&a, v->path);
	int lfd, fd, e, r;

	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		e = errno;
		snprintf(err, errlen, "port %u: socket: %s", p->idx,
			 strerror(e));
		return -e;
	}
	if (bind(lfd, (struct sockaddr *)&a, alen) || listen(lfd, 1)) {
		e = errno;
		close(lfd);
		snprintf(err, errlen, "port %u: cannot listen at '%s': %s%s",
			 p->idx, v->path, strerror(e),
			 e == EADDRINUSE ? " (remove it first)" : "");
		return -e;
	}
	v->listened = true;
	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			break;
		e = errno;
		if (e != EAGAIN && e != EINTR) {
			close(lfd);
			snprintf(err, errlen, "port %u: accept at '%s': %s",
				 p->idx, v->path, strerror(e));
			return -e;
		}
		r = vu_wait(lfd, POLLIN, deadline);
		if (r) {
			close(lfd);
			snprintf(err, errlen, "port %u: no vhost-user "
				 "back-end connected to '%s' in time",
				 p->idx, v->path);
			return r;
		}
	}
	close(lfd);
	p->fd = fd;
	return 0;
}

/*
 * vu_memory() - the port's shared memory: RX ring, TX ring, RX buffers,
 * TX buffers, each on a 4096-byte boundary, in one memfd
 */
static int vu_memory(struct bench_port *p, struct vu_port *v, unsigned num,
		     size_t rx_slot, char *err, size_t errlen)
{
	struct vring_layout l;
	size_t rx_bufs, tx_bufs, off;
	int e, r;

	if (vring_layout(num, &l)) {
		snprintf(err, errlen, "port %u: a ring of %u entries", p->idx,
			 num);
		return -EINVAL;
	}
	rx_bufs = ((size_t)num * rx_slot + 4095) & ~(size_t)4095;
	tx_bufs = ((size_t)num * v->tx_len + 4095) & ~(size_t)4095;
	v->mem_size = 2 * l.size + rx_bufs + tx_bufs;
	v->memfd = memfd_create("nethub-bench-vhost", MFD_CLOEXEC);
	if (v->memfd < 0 || ftruncate(v->memfd, (off_t)v->mem_size)) {
		e = errno;
		snprintf(err, errlen, "port %u: shared memory (memfd of %zu "
			 "bytes): %s", p->idx, v->mem_size, strerror(e));
		return -e;
	}
	v->mem = mmap(NULL, v->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->memfd, 0);
	if (v->mem == MAP_FAILED) {
		e = errno;
		v->mem = NULL;
		snprintf(err, errlen, "port %u: mmap of %zu bytes: %s", p->idx,
			 v->mem_size, strerror(e));
		return -e;
	}
	off = 2 * l.size;
	r = vring_init(&v->ring[0], v->mem, num, v->mem + off, rx_slot, true);
	if (!r)
		r = vring_init(&v->ring[1], v->mem + l.size, num,
			       v->mem + off + rx_bufs, v->tx_len, false);
	if (r) {
		snprintf(err, errlen, "port %u: %s", p->idx, strerror(-r));
		return r;
	}
	/* we poll: no call interrupts, please */
	v->ring[0].avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	v->ring[1].avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	return 0;
}

/* vu_negotiate() - features, owner, memory, then each queue */
static int vu_negotiate(struct bench_port *p, struct vu_port *v, char *err,
			size_t errlen)
{
	uint64_t offered, want, proto = 0;
	struct vu_mem_table mt = { .nregions = 1 };
	struct vu_vring_state st;
	struct vu_vring_addr va;
	unsigned q;
	int r;

	r = vu_get_u64(p, VHOST_USER_GET_FEATURES, &offered, err, errlen);
	if (r)
		return r;
	want = offered & ((1ull << VIRTIO_F_VERSION_1) |
			  (1ull << VIRTIO_NET_F_MRG_RXBUF) |
			  (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |
			  p->cfg->vhost_features);
	if (want & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)) {
		r = vu_get_u64(p, VHOST_USER_GET_PROTOCOL_FEATURES, &proto,
			       err, errlen);
		if (r)
			return r;
		proto &= 1ull << VU_PROTOCOL_F_REPLY_ACK;
		r = vu_set(p, VHOST_USER_SET_PROTOCOL_FEATURES, &proto,
			   sizeof(proto), NULL, 0, err, errlen);
		if (r)
			return r;
		v->protocol = proto;
	}
	r = vu_set(p, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0, err, errlen);
	if (!r)
		r = vu_set(p, VHOST_USER_SET_FEATURES, &want, sizeof(want),
			   NULL, 0, err, errlen);
	if (r)
		return r;
	v->features = want;

	mt.region[0] = (struct vu_mem_region){
		.guest_addr = (uint64_t)(uintptr_t)v->mem,
		.size = v->mem_size,
		.user_addr = (uint64_t)(uintptr_t)v->mem,
		.mmap_offset = 0,
	};
	r = vu_set(p, VHOST_USER_SET_MEM_TABLE, &mt, sizeof(mt), &v->memfd, 1,
		   err, errlen);
	if (r)
		return r;
	v->started = true;
	for (q = 0; q < 2 && !r; q++) {
		struct vring *ring = &v->ring[q];
		uint64_t idx = q;

		st = (struct vu_vring_state){ .index = q, .num = ring->num };
		r = vu_set(p, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL,
			   0, err, errlen);
		st.num = 0;
		if (!r)
			r = vu_set(p, VHOST_USER_SET_VRING_BASE, &st,
				   sizeof(st), NULL, 0, err, errlen);
		va = (struct vu_vring_addr){
			.index = q,
			.desc = (uint64_t)(uintptr_t)ring->desc,
			.used = (uint64_t)(uintptr_t)ring->used,
			.avail = (uint64_t)(uintptr_t)ring->avail,
		};
		if (!r)
			r = vu_set(p, VHOST_USER_SET_VRING_ADDR, &va,
				   sizeof(va), NULL, 0, err, errlen);
		if (!r)
			r = vu_set(p, VHOST_USER_SET_VRING_KICK, &idx,
				   sizeof(idx), &v->kick[q], 1, err, errlen);
		if (!r)
			r = vu_set(p, VHOST_USER_SET_VRING_CALL, &idx,
				   sizeof(idx), &v->call[q], 1, err, errlen);
	}
	/* with PROTOCOL_FEATURES the rings start disabled */
	for (q = 0; q < 2 && !r; q++) {
		st = (struct vu_vring_state){ .index = q, .num = 1 };
		if (v->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES))
			r = vu_set(p, VHOST_USER_SET_VRING_ENABLE, &st,
				   sizeof(st), NULL, 0, err, errlen);
	}
	return r;
}

static void vu_kick(int fd)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is near overflow: a kick is pending */
	(void)!write(fd, &one, sizeof(one));
}

static int vu_open(struct bench_port *p, uint64_t deadline, char *err,
		   size_t errlen)
{
	const struct bench_cfg *cfg = p->cfg;
	const char *tmpl = cfg->connect[cfg->n_connect == 1 ? 0 : p->idx];
	unsigned num = cfg->vhost_ring ? cfg->vhost_ring : VU_RING_DEFAULT;
	uint8_t peer_mac[6];
	struct vu_port *v;
	size_t rx_slot, frame_max;
	unsigned q, i;
	int r;

	p->fd = -1;
	v = calloc(1, sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "port %u: out of memory", p->idx);
		return -ENOMEM;
	}
	v->memfd = -1;
	for (q = 0; q < 2; q++)
		v->kick[q] = v->call[q] = -1;
	p->tp = v;
	if (vhost_user_path(tmpl, p->idx, v->path, sizeof(v->path))) {
		snprintf(err, errlen, "port %u: '%s' is not a socket path or "
			 "a template with one %%d", p->idx, tmpl);
		r = -EINVAL;
		goto fail;
	}
	r = cfg->vhost_server ? vu_listen(p, v, deadline, err, errlen)
			      : vu_connect(p, v, deadline, err, errlen);
	if (r)
		goto fail;

	/* the header's size is known after SET_FEATURES; size buffers for
	 * the larger one */
	v->tx_len = VU_HDR_MAX + cfg->frame_size;
	frame_max = cfg->frame_size > VU_RX_SLOT_MIN ? cfg->frame_size
						      : VU_RX_SLOT_MIN;
	rx_slot = (VU_HDR_MAX + frame_max + 63) & ~(size_t)63;
	v->tmpl = malloc(cfg->frame_size);
	v->tx_dirty = calloc(num, 1);
	v->merge_cap = rx_slot;
	v->merge = malloc(v->merge_cap);
	if (!v->tmpl || !v->tx_dirty || !v->merge) {
		snprintf(err, errlen, "port %u: out of memory", p->idx);
		r = -ENOMEM;
		goto fail;
	}
	for (q = 0; q < 2; q++) {
		v->kick[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		v->call[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (v->kick[q] < 0 || v->call[q] < 0) {
			r = -errno;
			snprintf(err, errlen, "port %u: eventfd: %s", p->idx,
				 strerror(-r));
			goto fail;
		}
	}
	r = vu_memory(p, v, num, rx_slot, err, errlen);
	if (r)
		goto fail;
	r = vu_negotiate(p, v, err, errlen);
	if (r)
		goto fail;
	v->hdr_len = v->features & ((1ull << VIRTIO_F_VERSION_1) |
				    (1ull << VIRTIO_NET_F_MRG_RXBUF))
			     ? 12 : 10;

	/* every TX buffer: a zeroed header, then the frame template */
	port_peer_mac(p, peer_mac);
	frame_template(v->tmpl, cfg->frame_size, p->idx, peer_mac);
	for (i = 0; i < num; i++)
		memcpy(vring_buf(&v->ring[1], (uint16_t)i) + v->hdr_len,
		       v->tmpl, cfg->frame_size);
	/* the RX ring is stocked; a ring starts on its first kick */
	vring_publish(&v->ring[0]);
	vu_kick(v->kick[0]);
	vu_kick(v->kick[1]);
	return 0;
fail:
	vu_close(p);
	return r;
}

/* ---------------------------------------------------------------------- */
/* Frames                                                                  */
/* ---------------------------------------------------------------------- */

static int vu_send(struct bench_port *p, unsigned n, uint8_t epoch,
		   uint64_t now)
{
	struct vu_port *v = p->tp;
	struct vring *r = &v->ring[1];
	size_t fs = p->cfg->frame_size;
	unsigned i;

	if (vring_tx_reclaim(r) < 0)
		return -EPROTO;
	if (n > port_batch(p, VU_BATCH_DEFAULT))
		n = port_batch(p, VU_BATCH_DEFAULT);
	if (n > r->n_free)
		n = r->n_free;
	for (i = 0; i < n; i++) {
		uint16_t id = r->free[--r->n_free];
		uint8_t *frame = vring_buf(r, id) + v->hdr_len;

		if (v->tx_dirty[id]) {
			memcpy(frame, v->tmpl, fs);
			v->tx_dirty[id] = 0;
		}
		bench_stamp(p, frame, epoch, p->tx_seq + i, now);
		vring_post(r, id, (uint32_t)(v->hdr_len + fs));
	}
	if (n && vring_publish(r))
		vu_kick(v->kick[1]);
	return (int)n;
}

static int vu_send_ctrl(struct bench_port *p, const uint8_t *frame,
			size_t len)
{
	struct vu_port *v = p->tp;
	struct vring *r = &v->ring[1];
	uint16_t id;

	if (vring_tx_reclaim(r) < 0)
		return -EPROTO;
	if (!r->n_free)
		return -EAGAIN;
	if (len > p->cfg->frame_size)
		return -EMSGSIZE;
	id = r->free[--r->n_free];
	memcpy(vring_buf(r, id) + v->hdr_len, frame, len);
	v->tx_dirty[id] = 1;
	vring_post(r, id, (uint32_t)(v->hdr_len + len));
	if (vring_publish(r))
		vu_kick(v->kick[1]);
	return 0;
}

/*
 * vu_rx_one() - account what the back-end wrote into RX buffer @e; a
 * frame spread over several buffers (num_buffers > 1, MRG_RXBUF) is
 * gathered first
 * Return: frames completed (0 or 1), -EPROTO for a length the buffer
 * cannot hold
 */
static int vu_rx_one(struct bench_port *p, struct vu_port *v,
		     const struct vring_used_elem *e, uint64_t now)
{
	struct vring *r = &v->ring[0];
	const uint8_t *buf = vring_buf(r, (uint16_t)e->id);
	uint16_t nbufs;

	if (e->len > r->buf_size)
		return -EPROTO;
	if (v->merge_left) {
		if (e->len > v->merge_cap - v->merge_len)
			return -EPROTO;
		memcpy(v->merge + v->merge_len, buf, e->len);
		v->merge_len += e->len;
		if (--v->merge_left)
			return 0;
		sink_frame(p->w, p, v->merge, v->merge_len, now);
		return 1;
	}
	if (e->len < v->hdr_len)
		return -EPROTO;
	nbufs = 1;
	if (v->features & (1ull << VIRTIO_NET_F_MRG_RXBUF))
		memcpy(&nbufs, buf + 10, sizeof(nbufs));
	if (nbufs > 1) {
		v->merge_len = e->len - v->hdr_len;
		memcpy(v->merge, buf + v->hdr_len, v->merge_len);
		v->merge_left = nbufs - 1u;
		return 0;
	}
	sink_frame(p->w, p, buf + v->hdr_len, e->len - v->hdr_len, now);
	return 1;
}

static int vu_poll(struct bench_port *p)
{
	struct vring_used_elem e[BENCH_RX_BATCH];
	struct vu_port *v = p->tp;
	struct vring *r = &v->ring[0];
	unsigned round;
	int total = 0, n, i, f;

	for (round = 0; round < BENCH_RX_ROUNDS; round++) {
		uint64_t now;

		n = vring_reap(r, e, BENCH_RX_BATCH);
		if (n <= 0) {
			if (n < 0)
				return n;
			break;
		}
		now = now_ns();
		for (i = 0; i < n; i++) {
			f = vu_rx_one(p, v, &e[i], now);
			if (f < 0)
				return f;
			total += f;
			vring_post(r, (uint16_t)e[i].id, (uint32_t)r->buf_size);
		}
	}
	if (total && vring_publish(r))
		vu_kick(v->kick[0]);
	return total;
}

/* vu_recv() - the socket has news: back-ends speak only when asked, so
 * it is the end of the connection or a protocol error; then the rings */
static int vu_recv(struct bench_port *p)
{
	uint8_t b[64];
	ssize_t n = recv(p->fd, b, sizeof(b), MSG_DONTWAIT);

	if (!n)
		return -ECONNRESET;
	if (n > 0)
		return -EPROTO;
	if (errno != EAGAIN && errno != EINTR)
		return -errno;
	return vu_poll(p);
}

const struct bench_transport transport_vhost_user = {
	.name = "vhost-user",
	.max_frame = VU_MAX_FRAME,
	.open = vu_open,
	.send = vu_send,
	.send_ctrl = vu_send_ctrl,
	.recv = vu_recv,
	.poll = vu_poll,
	.close = vu_close,
};
