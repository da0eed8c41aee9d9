// SPDX-License-Identifier: MIT
/* vhost_user_proto.c - the vhost-user protocol's messages, back-end side
 *
 * Reads messages off the connection (a 12-byte header, a payload of the
 * size it says, file descriptors passed with it), checks each against one
 * table (name, handler, payload size, file descriptors) and answers: a
 * request with a reply of its own gets it, others get REPLY_ACK's u64
 * when the front-end asked for it.  A bad message (wrong size, missing
 * descriptors, values out of range) is refused with an error (REPLY_ACK)
 * or logged, and the connection goes on; only a header that cannot be
 * framed (a size beyond VU_PAYLOAD_MAX, a wrong version) ends it.
 *
 * Live migration: SET_LOG_BASE maps the dirty log (virtq_log.c) and is
 * answered (an empty reply) once LOG_SHMFD is negotiated; SET_FEATURES
 * with LOG_ALL and SET_VRING_ADDR's log flag and address decide what the
 * rings mark in it (vu_log_update()).
 *
 * Never: trust a size, an index or a descriptor count before checking it;
 * keep a passed descriptor nobody took (they are closed after each
 * message); block on the socket (replies are small; a front-end that
 * does not read them is disconnected).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "port.h"
#include "vhost_user.h"

#define VU_MSGS_PER_EVENT 64 /* messages handled per readable event */

enum vu_fds {
	VU_FDS_NONE,	/* none expected (any passed are closed) */
	VU_FDS_VRING,	/* one, unless the payload's bit 8 says none */
	VU_FDS_REGIONS, /* one per region of the payload */
	VU_FDS_ONE,	/* exactly one */
};

struct vu_request {
	uint32_t request;
	const char *name;
	/* Returns 0 or a negative errno; fills m->reply for GET requests.
	 * On error the handler has logged what was wrong. */
	int (*handler)(struct vu_state *s, struct vu_msg *m);
	enum vu_fds fds;
	uint32_t size_min, size_max; /* payload bytes */
	bool replies;		     /* has a reply of its own */
};

/* -- helpers ------------------------------------------------------------ */

static uint64_t vu_u64(const struct vu_msg *m)
{
	uint64_t v;

	memcpy(&v, m->payload, 8);
	return v;
}

static void vu_state_arg(const struct vu_msg *m, uint32_t *index, uint32_t *num)
{
	memcpy(index, m->payload, 4);
	memcpy(num, m->payload + 4, 4);
}

static void vu_reply_u64(struct vu_msg *m, uint64_t v)
{
	memcpy(m->reply, &v, 8);
	m->reply_size = 8;
}

/* vu_take_fd() - the message's first descriptor, now the caller's */
static int vu_take_fd(struct vu_msg *m)
{
	int fd;

	if (!m->nfds)
		return -1;
	fd = m->fds[0];
	memmove(m->fds, m->fds + 1, (m->nfds - 1) * sizeof(int));
	m->nfds--;
	return fd;
}

static int vu_refuse(struct vu_state *s, const char *what, const char *why)
{
	log_warn("netdev %s: vhost-user %s refused: %s", s->id, what, why);
	s->protocol_errors++;
	return -EINVAL;
}

static void vu_log_report(struct vu_state *s);

static int vu_ring_index(struct vu_state *s, const char *what, uint32_t index)
{
	char why[96];

	if (index < s->nrings)
		return 0;
	snprintf(why, sizeof(why),
		 "ring %u does not exist (queues=%u: rings 0 to %u)", index,
		 s->queues, s->nrings - 1);
	return vu_refuse(s, what, why);
}

/* -- handlers ----------------------------------------------------------- */

static int vu_get_features(struct vu_state *s, struct vu_msg *m)
{
	vu_reply_u64(m, s->offered);
	return 0;
}

static int vu_set_features(struct vu_state *s, struct vu_msg *m)
{
	uint64_t f = vu_u64(m);
	char why[96];

	if (f & ~s->offered) {
		snprintf(why, sizeof(why),
			 "features 0x%llx were not offered (offered 0x%llx)",
			 (unsigned long long)f, (unsigned long long)s->offered);
		return vu_refuse(s, "SET_FEATURES", why);
	}
	/* failover is told once per negotiation: when STANDBY comes, not
	 * each time the front-end repeats its features */
	if ((f & VU_BIT(VU_F_NET_STANDBY)) &&
	    !(s->features_set && (s->features & VU_BIT(VU_F_NET_STANDBY))) &&
	    s->port) {
		s->failovers++;
		log_info("netdev %s: the front-end accepted failover "
			 "(STANDBY)",
			 s->id);
		port_notify_failover(s->port);
	}
	if ((f & VU_BIT(VU_F_LOG_ALL)) && !(s->features & VU_BIT(VU_F_LOG_ALL)))
		log_info("netdev %s: dirty logging on (the front-end migrates)",
			 s->id);
	if (!(f & VU_BIT(VU_F_LOG_ALL)) && (s->features & VU_BIT(VU_F_LOG_ALL)))
		vu_log_report(s);
	s->features = f;
	s->features_set = true;
	vu_features_changed(s);
	vu_log_update(s);
	return 0;
}

static int vu_set_owner(struct vu_state *s, struct vu_msg *m)
{
	(void)s;
	(void)m;
	return 0;
}

static int vu_reset_owner(struct vu_state *s, struct vu_msg *m)
{
	(void)m;
	for (unsigned i = 0; i < s->nrings; i++)
		vu_ring_reset(s, i);
	s->features = 0;
	s->features_set = false;
	vu_features_changed(s);
	vu_log_update(s);
	return 0;
}

/* The layout of one region in SET_MEM_TABLE and ADD/REM_MEM_REG */
struct vu_region {
	uint64_t gpa, size, uaddr, mmap_offset;
};

static int vu_map_region(struct vu_state *s, const char *what,
			 const struct vu_region *r, int fd)
{
	struct nh_error *err = NULL;
	int rc = 0;

	if (!vq_mem_map(&s->mem, r->gpa, r->size, r->uaddr, r->mmap_offset, fd,
			&err)) {
		rc = vu_refuse(s, what, err->msg);
		nh_error_free(err);
	}
	return rc;
}

static int vu_set_mem_table(struct vu_state *s, struct vu_msg *m)
{
	uint32_t n;
	char why[96];
	int rc = 0;

	memcpy(&n, m->payload, 4);
	if (n == 0 || n > VU_FDS_MAX ||
	    m->size != 8 + n * sizeof(struct vu_region)) {
		snprintf(why, sizeof(why),
			 "%u regions in %u bytes (1 to %d regions, 32 bytes "
			 "each after 8)",
			 n, m->size, VU_FDS_MAX);
		return vu_refuse(s, "SET_MEM_TABLE", why);
	}
	if (m->nfds != n) {
		snprintf(why, sizeof(why), "%u regions but %u file descriptors",
			 n, m->nfds);
		return vu_refuse(s, "SET_MEM_TABLE", why);
	}
	vq_mem_clear(&s->mem);
	for (uint32_t i = 0; i < n && !rc; i++) {
		struct vu_region r;

		memcpy(&r, m->payload + 8 + i * sizeof(r), sizeof(r));
		rc = vu_map_region(s, "SET_MEM_TABLE", &r, m->fds[i]);
	}
	if (rc)
		vq_mem_clear(&s->mem); /* all or nothing */
	vu_mem_changed(s);
	return rc;
}

/* vu_mem_has() - whether the table has region @r with all its facts.
 * QEMU before 8.1 sends ADD_MEM_REG and REM_MEM_REG once per queue pair
 * (one vhost device each), the same region again for each: a repeat is
 * taken as done, not as an overlap */
static bool vu_mem_has(const struct vu_state *s, const struct vu_region *r)
{
	for (unsigned i = 0; i < s->mem.n; i++) {
		const struct vq_region *q = &s->mem.r[i];

		if (q->gpa == r->gpa && q->size == r->size &&
		    q->uaddr == r->uaddr && q->mmap_offset == r->mmap_offset)
			return true;
	}
	return false;
}

static int vu_add_mem_reg(struct vu_state *s, struct vu_msg *m)
{
	struct vu_region r;
	int rc;

	memcpy(&r, m->payload + 8, sizeof(r));
	if (s->queues > 1 && vu_mem_has(s, &r))
		return 0;
	rc = vu_map_region(s, "ADD_MEM_REG", &r, m->fds[0]);
	vu_mem_changed(s);
	return rc;
}

static int vu_rem_mem_reg(struct vu_state *s, struct vu_msg *m)
{
	struct vu_region r;

	memcpy(&r, m->payload + 8, sizeof(r));
	if (!vq_mem_remove(&s->mem, r.gpa, r.size, r.uaddr)) {
		if (s->queues > 1)
			return 0; /* another queue pair's removed it */
		return vu_refuse(s, "REM_MEM_REG", "no such region");
	}
	vu_mem_changed(s);
	return 0;
}

static int vu_get_max_mem_slots(struct vu_state *s, struct vu_msg *m)
{
	(void)s;
	vu_reply_u64(m, VQ_MEM_REGIONS_MAX);
	return 0;
}

static int vu_set_vring_num(struct vu_state *s, struct vu_msg *m)
{
	uint32_t index, num;

	vu_state_arg(m, &index, &num);
	if (vu_ring_index(s, "SET_VRING_NUM", index))
		return -EINVAL;
	if (!num || num > VQ_SIZE_MAX || (num & (num - 1)))
		return vu_refuse(s, "SET_VRING_NUM",
				 "the size is not a power of two up to 32768");
	s->ring[index].num = num;
	return 0;
}

static int vu_set_vring_addr(struct vu_state *s, struct vu_msg *m)
{
	struct {
		uint32_t index, flags;
		uint64_t desc, used, avail, log;
	} a;
	struct vu_ring *r;
	struct nh_error *err = NULL;
	int rc = 0;

	memcpy(&a, m->payload, sizeof(a));
	if (vu_ring_index(s, "SET_VRING_ADDR", a.index))
		return -EINVAL;
	r = &s->ring[a.index];
	r->desc = a.desc;
	r->avail = a.avail;
	r->used = a.used;
	r->addr_given = true;
	if (!vq_set_addr(&r->vq, r->num, a.desc, a.avail, a.used, &err)) {
		rc = vu_refuse(s, "SET_VRING_ADDR", err->msg);
		nh_error_free(err);
		r->addr_given = false;
	}
	r->broken_logged = false;
	vq_set_log_used(&r->vq, a.flags & VU_VRING_F_LOG, a.log);
	vu_log_update(s);
	return rc;
}

static int vu_set_vring_base(struct vu_state *s, struct vu_msg *m)
{
	uint32_t index, num;

	vu_state_arg(m, &index, &num);
	if (vu_ring_index(s, "SET_VRING_BASE", index))
		return -EINVAL;
	if (num > UINT16_MAX)
		return vu_refuse(s, "SET_VRING_BASE", "index above 65535");
	vq_set_base(&s->ring[index].vq, (uint16_t)num);
	return 0;
}

static int vu_get_vring_base(struct vu_state *s, struct vu_msg *m)
{
	uint32_t index, num;
	uint32_t out[2];

	vu_state_arg(m, &index, &num);
	if (vu_ring_index(s, "GET_VRING_BASE", index))
		return -EINVAL;
	vu_ring_stop(s, index);
	out[0] = index;
	out[1] = s->ring[index].vq.last_avail;
	memcpy(m->reply, out, sizeof(out));
	m->reply_size = sizeof(out);
	return 0;
}

/* The u64 of SET_VRING_KICK/CALL/ERR: a ring index and the no-fd bit */
static int vu_vring_fd(struct vu_state *s, struct vu_msg *m, const char *what,
		       unsigned *index, int *fd)
{
	uint64_t v = vu_u64(m);

	*index = v & VU_VRING_IDX;
	*fd = -1;
	if (vu_ring_index(s, what, *index))
		return -EINVAL;
	if (v & VU_VRING_NOFD)
		return 0;
	*fd = vu_take_fd(m);
	return 0;
}

static int vu_set_vring_kick(struct vu_state *s, struct vu_msg *m)
{
	unsigned i;
	int fd;

	if (vu_vring_fd(s, m, "SET_VRING_KICK", &i, &fd))
		return -EINVAL;
	if (fd < 0)
		return vu_refuse(s, "SET_VRING_KICK",
				 "a ring without a kick descriptor would need "
				 "polling, which nethub does not do");
	return vu_ring_set_kick(s, i, fd) ? 0 : -EINVAL;
}

static int vu_set_vring_call(struct vu_state *s, struct vu_msg *m)
{
	unsigned i;
	int fd;

	if (vu_vring_fd(s, m, "SET_VRING_CALL", &i, &fd))
		return -EINVAL;
	if (s->ring[i].call_fd >= 0)
		close(s->ring[i].call_fd);
	s->ring[i].call_fd = fd;
	return 0;
}

static int vu_set_vring_err(struct vu_state *s, struct vu_msg *m)
{
	unsigned i;
	int fd;

	if (vu_vring_fd(s, m, "SET_VRING_ERR", &i, &fd))
		return -EINVAL;
	if (s->ring[i].err_fd >= 0)
		close(s->ring[i].err_fd);
	s->ring[i].err_fd = fd;
	return 0;
}

static int vu_get_protocol_features(struct vu_state *s, struct vu_msg *m)
{
	(void)s;
	vu_reply_u64(m, VU_PROTOCOL_FEATURES);
	return 0;
}

static int vu_set_protocol_features(struct vu_state *s, struct vu_msg *m)
{
	uint64_t f = vu_u64(m);

	if (f & ~VU_PROTOCOL_FEATURES)
		return vu_refuse(s, "SET_PROTOCOL_FEATURES",
				 "protocol features that were not offered");
	s->protocol_features = f;
	return 0;
}

static int vu_get_queue_num(struct vu_state *s, struct vu_msg *m)
{
	vu_reply_u64(m, s->queues);
	return 0;
}

static int vu_set_vring_enable(struct vu_state *s, struct vu_msg *m)
{
	uint32_t index, num;

	vu_state_arg(m, &index, &num);
	if (vu_ring_index(s, "SET_VRING_ENABLE", index))
		return -EINVAL;
	if (num > 1)
		return vu_refuse(s, "SET_VRING_ENABLE", "not 0 or 1");
	vu_ring_set_enabled(s, index, num);
	return 0;
}

static int vu_send_rarp_msg(struct vu_state *s, struct vu_msg *m)
{
	uint8_t mac[6];

	memcpy(mac, m->payload, 6);
	vu_send_rarp(s, mac);
	return 0;
}

static int vu_net_set_mtu(struct vu_state *s, struct vu_msg *m)
{
	uint64_t mtu = vu_u64(m);

	if (mtu < 68 || mtu > PORT_MTU_DEFAULT)
		return vu_refuse(s, "NET_SET_MTU", "MTU out of range");
	s->mtu = (uint32_t)mtu;
	if (s->port)
		s->port->mtu = s->mtu;
	return 0;
}

static int vu_set_status(struct vu_state *s, struct vu_msg *m)
{
	s->status = vu_u64(m) & 0xff;
	return 0;
}

static int vu_get_status(struct vu_state *s, struct vu_msg *m)
{
	vu_reply_u64(m, s->status);
	return 0;
}

/* -- dirty logging (live migration) ------------------------------------- */

/* vu_log_report() - logging ends: what it marked, and what it could not */
static void vu_log_report(struct vu_state *s)
{
	log_info("netdev %s: dirty logging off (%llu pages marked so far)",
		 s->id, (unsigned long long)s->log.pages);
	if (s->log.beyond)
		log_warn("netdev %s: %llu writes to pages past the end of the "
			 "dirty log were not marked (the front-end's log is "
			 "smaller than its memory)",
			 s->id, (unsigned long long)s->log.beyond);
}

void vu_log_update(struct vu_state *s)
{
	struct vq_log *log = NULL;

	if ((s->features & VU_BIT(VU_F_LOG_ALL)) && s->log.bitmap)
		log = &s->log;
	for (unsigned i = 0; i < s->nrings; i++)
		s->ring[i].vq.log = log;
}

void vu_log_close(struct vu_state *s)
{
	vq_log_unmap(&s->log);
	if (s->log_fd >= 0)
		close(s->log_fd);
	s->log_fd = -1;
	vu_log_update(s);
}

/* SET_LOG_BASE: {u64 size, u64 offset} of the bitmap in the passed file;
 * with LOG_SHMFD the front-end waits for a reply (vu_handle() gives it) */
static int vu_set_log_base(struct vu_state *s, struct vu_msg *m)
{
	struct nh_error *err = NULL;
	uint64_t size, offset;
	int rc = 0;

	if (!(s->protocol_features & VU_BIT(VU_PF_LOG_SHMFD)))
		return vu_refuse(s, "SET_LOG_BASE",
				 "LOG_SHMFD was not negotiated (a log in the "
				 "front-end's own memory cannot be shared)");
	memcpy(&size, m->payload, 8);
	memcpy(&offset, m->payload + 8, 8);
	if (!vq_log_map(&s->log, m->fds[0], size, offset, &err)) {
		rc = vu_refuse(s, "SET_LOG_BASE", err->msg);
		nh_error_free(err);
	} else {
		log_info("netdev %s: dirty log of %llu bytes (guest memory "
			 "up to %llu MiB)",
			 s->id, (unsigned long long)size,
			 (unsigned long long)(size * 8 * VQ_LOG_PAGE >> 20));
	}
	vu_log_update(s);
	return rc;
}

/* SET_LOG_FD: an eventfd, held until replaced or the connection ends.
 * nethub does not write it: QEMU reads the bitmap when it syncs */
static int vu_set_log_fd(struct vu_state *s, struct vu_msg *m)
{
	int fd = vu_take_fd(m);

	if (s->log_fd >= 0)
		close(s->log_fd);
	s->log_fd = fd;
	return 0;
}

#define VU_STATE_SIZE 8
#define VU_U64_SIZE   8

static const struct vu_request vu_requests[] = {
    {1, "GET_FEATURES", vu_get_features, VU_FDS_NONE, 0, 0, true},
    {2, "SET_FEATURES", vu_set_features, VU_FDS_NONE, 8, 8, false},
    {3, "SET_OWNER", vu_set_owner, VU_FDS_NONE, 0, 0, false},
    {4, "RESET_OWNER", vu_reset_owner, VU_FDS_NONE, 0, 8, false},
    {5, "SET_MEM_TABLE", vu_set_mem_table, VU_FDS_REGIONS, 8 + 32,
     8 + 32 * VU_FDS_MAX, false},
    {VU_REQ_SET_LOG_BASE, "SET_LOG_BASE", vu_set_log_base, VU_FDS_ONE, 16, 16,
     false},
    {7, "SET_LOG_FD", vu_set_log_fd, VU_FDS_ONE, 0, 8, false},
    {8, "SET_VRING_NUM", vu_set_vring_num, VU_FDS_NONE, 8, 8, false},
    {9, "SET_VRING_ADDR", vu_set_vring_addr, VU_FDS_NONE, 40, 40, false},
    {10, "SET_VRING_BASE", vu_set_vring_base, VU_FDS_NONE, 8, 8, false},
    {11, "GET_VRING_BASE", vu_get_vring_base, VU_FDS_NONE, 8, 8, true},
    {12, "SET_VRING_KICK", vu_set_vring_kick, VU_FDS_VRING, 8, 8, false},
    {13, "SET_VRING_CALL", vu_set_vring_call, VU_FDS_VRING, 8, 8, false},
    {14, "SET_VRING_ERR", vu_set_vring_err, VU_FDS_VRING, 8, 8, false},
    {15, "GET_PROTOCOL_FEATURES", vu_get_protocol_features, VU_FDS_NONE, 0, 0,
     true},
    {16, "SET_PROTOCOL_FEATURES", vu_set_protocol_features, VU_FDS_NONE, 8, 8,
     false},
    {17, "GET_QUEUE_NUM", vu_get_queue_num, VU_FDS_NONE, 0, 0, true},
    {18, "SET_VRING_ENABLE", vu_set_vring_enable, VU_FDS_NONE, 8, 8, false},
    {19, "SEND_RARP", vu_send_rarp_msg, VU_FDS_NONE, 8, 8, false},
    {20, "NET_SET_MTU", vu_net_set_mtu, VU_FDS_NONE, 8, 8, false},
    {36, "GET_MAX_MEM_SLOTS", vu_get_max_mem_slots, VU_FDS_NONE, 0, 0, true},
    {37, "ADD_MEM_REG", vu_add_mem_reg, VU_FDS_ONE, 40, 40, false},
    {38, "REM_MEM_REG", vu_rem_mem_reg, VU_FDS_NONE, 40, 40, false},
    {39, "SET_STATUS", vu_set_status, VU_FDS_NONE, 8, 8, false},
    {40, "GET_STATUS", vu_get_status, VU_FDS_NONE, 0, 0, true},
};

static const struct vu_request *vu_request_find(uint32_t request)
{
	for (size_t i = 0; i < sizeof(vu_requests) / sizeof(vu_requests[0]);
	     i++)
		if (vu_requests[i].request == request)
			return &vu_requests[i];
	return NULL;
}

/* -- framing ------------------------------------------------------------ */

/* vu_send_reply() - header + @size bytes; false when it could not go */
static bool vu_send_reply(struct vu_state *s, uint32_t request,
			  const void *payload, uint32_t size)
{
	uint8_t buf[VU_HDR_SIZE + VU_PAYLOAD_MAX];
	uint32_t flags = VU_VERSION | VU_FLAG_REPLY;
	ssize_t n;

	memcpy(buf, &request, 4);
	memcpy(buf + 4, &flags, 4);
	memcpy(buf + 8, &size, 4);
	memcpy(buf + VU_HDR_SIZE, payload, size);
	n = send(s->sock->fd, buf, VU_HDR_SIZE + size,
		 MSG_NOSIGNAL | MSG_DONTWAIT);
	return n == (ssize_t)(VU_HDR_SIZE + size);
}

/* vu_fds_ok() - whether @m carries the descriptors @rq expects */
static bool vu_fds_ok(const struct vu_request *rq, const struct vu_msg *m)
{
	switch (rq->fds) {
	case VU_FDS_NONE:
		return true; /* extra ones are closed */
	case VU_FDS_ONE:
		return m->nfds == 1;
	case VU_FDS_VRING:
		return (vu_u64(m) & VU_VRING_NOFD) ? m->nfds == 0
						   : m->nfds == 1;
	case VU_FDS_REGIONS:
		return true; /* the handler compares with the regions */
	}
	return false;
}

/* vu_handle() - one whole message; false when the connection must end */
static bool vu_handle(struct vu_state *s, struct vu_msg *m)
{
	const struct vu_request *rq = vu_request_find(m->request);
	bool ack = (m->flags & VU_FLAG_NEED_REPLY) &&
		   (s->protocol_features & VU_BIT(VU_PF_REPLY_ACK));
	/* SET_LOG_BASE has a reply (empty) only with LOG_SHMFD */
	bool replies =
	    rq &&
	    (rq->replies || (rq->request == VU_REQ_SET_LOG_BASE &&
			     (s->protocol_features & VU_BIT(VU_PF_LOG_SHMFD))));
	char why[128];
	int rc;

	s->messages++;
	m->reply_size = 0;
	if (!rq) {
		/* requests from VU_MAX_REQUEST - 1 up share the last bit */
		unsigned bit = m->request < VU_MAX_REQUEST ? m->request
							   : VU_MAX_REQUEST - 1;

		if (!(s->unknown_logged & VU_BIT(bit))) {
			s->unknown_logged |= VU_BIT(bit);
			log_warn("netdev %s: vhost-user request %u is not "
				 "supported%s",
				 s->id, m->request, ack ? "" : " (ignored)");
		}
		rc = -ENOTSUP;
	} else if (m->size < rq->size_min || m->size > rq->size_max) {
		snprintf(why, sizeof(why),
			 "payload of %u bytes (expected %u to %u)", m->size,
			 rq->size_min, rq->size_max);
		rc = vu_refuse(s, rq->name, why);
	} else if (!vu_fds_ok(rq, m)) {
		snprintf(why, sizeof(why), "%u file descriptors passed",
			 m->nfds);
		rc = vu_refuse(s, rq->name, why);
	} else {
		rc = rq->handler(s, m);
	}
	if (replies) {
		if (rc) {
			/* the front-end waits for an answer: one it can
			 * tell from a real one is not there, so end */
			return false;
		}
		return vu_send_reply(s, m->request, m->reply, m->reply_size);
	}
	if (ack) {
		uint64_t v = rc ? 1 : 0;

		return vu_send_reply(s, m->request, &v, sizeof(v));
	}
	return true;
}

static void vu_close_fds(int *fds, unsigned *n)
{
	for (unsigned i = 0; i < *n; i++)
		close(fds[i]);
	*n = 0;
}

/* vu_read_some() - read toward the current message; 1 when bytes came,
 * 0 for none yet (EAGAIN), -1 when the connection ended */
static int vu_read_some(struct vu_state *s, uint32_t want)
{
	char cbuf[CMSG_SPACE(sizeof(int) * VU_FDS_MAX)];
	struct iovec iov = {s->in + s->in_len, want - s->in_len};
	struct msghdr mh = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = cbuf,
	    .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	ssize_t n;

	n = recvmsg(s->sock->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		unsigned k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (unsigned i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (s->in_nfds < VU_FDS_MAX)
				s->in_fds[s->in_nfds++] = fd;
			else
				close(fd);
		}
	}
	if (n == 0)
		return -1;
	s->in_len += (uint32_t)n;
	return 1;
}

void vu_proto_on_readable(struct vu_state *s)
{
	struct vu_msg *m = &s->msg;

	for (unsigned done = 0; done < VU_MSGS_PER_EVENT && s->sock;) {
		uint32_t want = VU_HDR_SIZE, flags, size;
		int rc;

		if (s->in_len >= VU_HDR_SIZE) {
			memcpy(&size, s->in + 8, 4);
			want += size;
		}
		rc = vu_read_some(s, want);
		if (rc < 0) {
			vu_disconnect(s, "the front-end closed the connection");
			return;
		}
		if (rc == 0)
			return;
		if (s->in_len < VU_HDR_SIZE)
			continue;
		memcpy(&flags, s->in + 4, 4);
		memcpy(&size, s->in + 8, 4);
		if ((flags & VU_FLAG_VERSION) != VU_VERSION ||
		    size > VU_PAYLOAD_MAX) {
			s->protocol_errors++;
			log_warn("netdev %s: vhost-user message with version "
				 "%u and size %u: not the protocol, closing",
				 s->id, flags & VU_FLAG_VERSION, size);
			vu_disconnect(s, "protocol error");
			return;
		}
		if (s->in_len < VU_HDR_SIZE + size)
			continue;
		memcpy(&m->request, s->in, 4);
		m->flags = flags;
		m->size = size;
		memset(m->payload, 0, sizeof(m->payload));
		memcpy(m->payload, s->in + VU_HDR_SIZE, size);
		memcpy(m->fds, s->in_fds, s->in_nfds * sizeof(int));
		m->nfds = s->in_nfds;
		s->in_nfds = 0;
		s->in_len = 0;
		done++;
		if (!vu_handle(s, m)) {
			vu_close_fds(m->fds, &m->nfds);
			vu_disconnect(s, "a reply could not be given");
			return;
		}
		vu_close_fds(m->fds, &m->nfds);
	}
}
