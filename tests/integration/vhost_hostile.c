// SPDX-License-Identifier: MIT
/* vhost_hostile.c - a hostile vhost-user front-end for
 * test_vhost_user_hostile.py, built on nethub-bench's own front-end
 * (bench/transport_vhost_user.c): it opens its ports as the bench does
 * (memory, rings, features), then does harm on command.
 *
 * Usage: vhost_hostile SOCKET [SOCKET...]
 * Every socket gets a healthy front-end (rings of RING entries); port 0
 * is the one harmed.  Commands, one per line on stdin, each answered by
 * one line on stdout "CASE WORD [detail]":
 *   descriptors (on port 0's TX ring, followed by one good frame):
 *     address next-range loop direction short huge-chain  -> "posted"
 *     head-range (an available entry past the ring)       -> "posted"
 *   messages (with REPLY_ACK): the back-end's answer, "refused" (non-zero
 *   ack) or "accepted" (unknown is request 99):
 *     msg-short msg-long mem-no-fd mem-overlap mem-wrap mem-past-eof
 *     mem-too-many kick-no-fd ring-index ring-size unknown
 *   ring-num IDX RING  SET_VRING_NUM of ring RING on port IDX (a ring
 *              index against the back-end's queues=N) -> "refused" or
 *              "accepted"
 *   alive      GET_FEATURES is still answered -> "ok"
 *   cycles N PATH  N front-ends in turn on PATH, each set up whole
 *              (memory table, rings, kicks) and closed -> "done"
 *   huge-size  a header announcing 1 MiB -> "closed" once the back-end
 *              hung up
 *   send IDX N GAP  N good frames from port IDX's TX ring, one every
 *              GAP microseconds -> "sent"
 *   standby PATH on|off  a new front-end on PATH negotiates features
 *              (REPLY_ACK), with VIRTIO_NET_F_STANDBY when "on", twice
 *              (a negotiation repeated), then closes -> "accepted" or
 *              "refused", then "offered" or "not-offered" (whether the
 *              back-end offered STANDBY)
 * Anything that goes wrong on our side is "CASE error WHY".
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench.h"

#define RING		 2048 /* room for a chain longer than VQ_SEGS_MAX */
#define CHAIN_LEN	 1025 /* nethubd takes at most 1024 buffers */
#define PORTS_MAX	 4
#define FRAME_LEN	 64
#define REPLY_MS	 5000
#define VU_VERSION	 1u
#define VU_NEED_REPLY	 0x8u
#define MEM_FILE_SIZE	 (1u << 20)
#define REGIONS_TOO_MANY 40 /* more than nethubd's 32 slots */
#define F_PROTOCOL	 (1ull << 30)
#define F_VERSION_1	 (1ull << 32)
#define F_STANDBY	 (1ull << 62) /* VIRTIO_NET_F_STANDBY */
#define PF_REPLY_ACK	 (1ull << 3)

struct region {
	uint64_t guest_addr, size, user_addr, mmap_offset;
};

static struct bench_port ports[PORTS_MAX];
static unsigned nports;
static uint8_t frame[FRAME_LEN];

/* -- descriptors ------------------------------------------------------- */

static int take_id(struct vring *r, uint16_t *id)
{
	if (vring_tx_reclaim(r) < 0)
		return -EPROTO;
	if (!r->n_free)
		return -ENOBUFS;
	*id = r->free[--r->n_free];
	return 0;
}

static void set_desc(struct vring *r, uint16_t id, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	r->desc[id] = (struct vring_desc){addr, len, flags, next};
}

/* offer() - make @head available as the ring's next entry */
static void offer(struct vring *r, uint16_t head)
{
	if (head < r->num)
		r->busy[head] = 1;
	r->avail->ring[r->avail_idx & (r->num - 1)] = head;
	r->avail_idx++;
}

/* bad_chain() - post the chain @what names, then a good frame (its
 * send publishes both and kicks) */
static int bad_chain(struct bench_port *p, const char *what)
{
	struct vring *r = vhost_user_ring(p, 1);
	uint64_t buf;
	uint16_t id, next, head;
	int e;

	e = take_id(r, &id);
	if (e)
		return e;
	buf = (uint64_t)(uintptr_t)vring_buf(r, id);
	memset(vring_buf(r, id), 0, 12);
	memcpy(vring_buf(r, id) + 12, frame, FRAME_LEN);
	head = id;
	if (!strcmp(what, "address"))
		set_desc(r, id, 8, 12 + FRAME_LEN, 0, 0);
	else if (!strcmp(what, "next-range"))
		set_desc(r, id, buf, 12, VRING_DESC_F_NEXT,
			 (uint16_t)(r->num + 7));
	else if (!strcmp(what, "loop")) /* empty: no buffer limit first */
		set_desc(r, id, buf, 0, VRING_DESC_F_NEXT, id);
	else if (!strcmp(what, "direction"))
		set_desc(r, id, buf, 12 + FRAME_LEN, VRING_DESC_F_WRITE, 0);
	else if (!strcmp(what, "short"))
		set_desc(r, id, buf, 4, 0, 0);
	else if (!strcmp(what, "huge-chain")) {
		/* CHAIN_LEN one-byte buffers; the ids after the head are
		 * never returned (a back-end returns heads), we have plenty */
		for (unsigned i = 1; i < CHAIN_LEN; i++) {
			e = take_id(r, &next);
			if (e)
				return e;
			set_desc(r, id, buf + (i - 1) % 76, 1,
				 VRING_DESC_F_NEXT, next);
			id = next;
		}
		set_desc(r, id, buf, 1, 0, 0);
	} else if (!strcmp(what, "head-range")) {
		r->free[r->n_free++] = id; /* not used after all */
		head = (uint16_t)(r->num + 3);
	} else {
		return -EINVAL;
	}
	offer(r, head);
	return transport_vhost_user.send_ctrl(p, frame, FRAME_LEN);
}

/* -- messages ---------------------------------------------------------- */

/* ask() - @request with REPLY_ACK; 1 refused, 0 accepted, -errno */
static int ask(struct bench_port *p, uint32_t request, const void *payload,
	       uint32_t size, const int *fds, unsigned nfds)
{
	uint64_t ack = 0;
	int e;

	e = vhost_user_send_msg(p, request, VU_VERSION | VU_NEED_REPLY, payload,
				size, fds, nfds);
	if (!e)
		e = vhost_user_recv_reply(p, request, &ack, sizeof(ack),
					  REPLY_MS);
	return e ? e : ack != 0;
}

static int mem_table(struct bench_port *p, const struct region *rg, uint32_t n,
		     uint32_t claimed, const int *fds, unsigned nfds)
{
	static uint8_t msg[8 + REGIONS_TOO_MANY * sizeof(struct region)];
	uint32_t hdr[2] = {claimed, 0};

	memcpy(msg, hdr, sizeof(hdr));
	memcpy(msg + 8, rg, n * sizeof(*rg));
	return ask(p, VHOST_USER_SET_MEM_TABLE, msg,
		   (uint32_t)(8 + n * sizeof(*rg)), fds, nfds);
}

static int bad_message(struct bench_port *p, const char *what, int memfd)
{
	struct region rg[REGIONS_TOO_MANY];
	uint64_t base = 0x7f0000000000ull, u64 = 0;
	uint32_t st[4] = {1, 256, 0, 0};
	int fds[8];

	for (unsigned i = 0; i < REGIONS_TOO_MANY; i++)
		rg[i] = (struct region){base + i * MEM_FILE_SIZE, MEM_FILE_SIZE,
					base + i * MEM_FILE_SIZE, 0};
	for (unsigned i = 0; i < 8; i++)
		fds[i] = memfd;
	if (!strcmp(what, "msg-short"))
		return ask(p, VHOST_USER_SET_FEATURES, &u64, 4, NULL, 0);
	if (!strcmp(what, "msg-long"))
		return ask(p, VHOST_USER_SET_VRING_NUM, st, sizeof(st), NULL,
			   0);
	if (!strcmp(what, "mem-no-fd"))
		return mem_table(p, rg, 1, 1, NULL, 0);
	if (!strcmp(what, "mem-overlap")) {
		rg[1].guest_addr = base + MEM_FILE_SIZE / 2;
		return mem_table(p, rg, 2, 2, fds, 2);
	}
	if (!strcmp(what, "mem-wrap")) {
		rg[0].guest_addr = ~0ull - 4095;
		rg[0].size = 8192;
		return mem_table(p, rg, 1, 1, fds, 1);
	}
	if (!strcmp(what, "mem-past-eof")) {
		rg[0].size = 4ull * MEM_FILE_SIZE;
		return mem_table(p, rg, 1, 1, fds, 1);
	}
	if (!strcmp(what, "mem-too-many"))
		return mem_table(p, rg, REGIONS_TOO_MANY, REGIONS_TOO_MANY, fds,
				 8);
	if (!strcmp(what, "kick-no-fd")) {
		u64 = 1; /* ring 1, and no "no fd" flag */
		return ask(p, VHOST_USER_SET_VRING_KICK, &u64, sizeof(u64),
			   NULL, 0);
	}
	if (!strcmp(what, "ring-index")) {
		st[0] = 7;
		return ask(p, VHOST_USER_SET_VRING_NUM, st, 8, NULL, 0);
	}
	if (!strcmp(what, "ring-size")) {
		st[1] = 6;
		return ask(p, VHOST_USER_SET_VRING_NUM, st, 8, NULL, 0);
	}
	if (!strcmp(what, "unknown"))
		return ask(p, 99, NULL, 0, NULL, 0);
	return -EINVAL;
}

/* huge_size() - a header announcing 1 MiB: wait for the hang-up */
static int huge_size(struct bench_port *p)
{
	uint32_t h[3] = {VHOST_USER_SET_OWNER, VU_VERSION, 1u << 20};
	uint64_t u;
	int e;

	if (send(p->fd, h, sizeof(h), MSG_NOSIGNAL) != sizeof(h))
		return -errno;
	e = vhost_user_recv_reply(p, VHOST_USER_GET_FEATURES, &u, sizeof(u),
				  REPLY_MS);
	return e == -ECONNRESET ? 0 : e ? e : -EPROTO;
}

/* cycles() - @n whole front-ends on @path, one after the other */
static int cycles(const char *spec)
{
	struct bench_cfg cfg = {
	    .transport = &transport_vhost_user,
	    .frame_size = FRAME_LEN,
	    .n_connect = 1,
	    .ports = 1,
	};
	char path[108], err[256];
	char *connect[1] = {path};
	unsigned n;

	if (sscanf(spec, "cycles %u %107s", &n, path) != 2)
		return -EINVAL;
	cfg.connect = connect;
	for (unsigned i = 0; i < n; i++) {
		struct bench_port p = {.peer = -1, .cfg = &cfg};

		if (transport_vhost_user.open(&p, now_ns() + 10 * NS_PER_S, err,
					      sizeof(err))) {
			fprintf(stderr, "vhost_hostile: cycle %u: %s\n", i,
				err);
			return -EIO;
		}
		transport_vhost_user.close(&p);
	}
	return 0;
}

/* standby() - "standby PATH on|off": features negotiated on a fresh
 * connection; *offered says whether STANDBY was offered.  1 refused, 0
 * accepted, -errno */
static int standby(const char *spec, bool *offered)
{
	struct bench_port p = {.fd = -1, .peer = -1};
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	uint64_t feat = 0, proto = 0, want;
	char path[108], onoff[4];
	int e;

	if (sscanf(spec, "standby %107s %3s", path, onoff) != 2)
		return -EINVAL;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	p.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p.fd < 0)
		return -errno;
	if (connect(p.fd, (struct sockaddr *)&a, sizeof(a))) {
		e = -errno;
		goto out;
	}
	e = vhost_user_send_msg(&p, VHOST_USER_GET_FEATURES, VU_VERSION, NULL,
				0, NULL, 0);
	if (!e)
		e = vhost_user_recv_reply(&p, VHOST_USER_GET_FEATURES, &feat,
					  sizeof(feat), REPLY_MS);
	if (!e)
		e = vhost_user_send_msg(&p, VHOST_USER_GET_PROTOCOL_FEATURES,
					VU_VERSION, NULL, 0, NULL, 0);
	if (!e)
		e = vhost_user_recv_reply(&p, VHOST_USER_GET_PROTOCOL_FEATURES,
					  &proto, sizeof(proto), REPLY_MS);
	if (e)
		goto out;
	if (!(proto & PF_REPLY_ACK)) {
		e = -EPROTO;
		goto out;
	}
	/* REPLY_ACK holds from the message after this one */
	proto = PF_REPLY_ACK;
	e = vhost_user_send_msg(&p, VHOST_USER_SET_PROTOCOL_FEATURES,
				VU_VERSION, &proto, sizeof(proto), NULL, 0);
	if (!e)
		e = ask(&p, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
	if (e) {
		e = e > 0 ? -EPROTO : e;
		goto out;
	}
	*offered = feat & F_STANDBY;
	want = (feat & (F_PROTOCOL | F_VERSION_1)) |
	       (!strcmp(onoff, "on") ? F_STANDBY : 0);
	/* twice: a front-end repeating its features is one negotiation */
	e = ask(&p, VHOST_USER_SET_FEATURES, &want, sizeof(want), NULL, 0);
	if (!e)
		e = ask(&p, VHOST_USER_SET_FEATURES, &want, sizeof(want), NULL,
			0);
out:
	close(p.fd);
	return e;
}

/* send_frames() - "send IDX N GAP": a trickle of good frames */
static int ring_num(const char *spec)
{
	unsigned idx, ring;
	uint32_t st[2];

	if (sscanf(spec, "ring-num %u %u", &idx, &ring) != 2 || idx >= nports)
		return -EINVAL;
	st[0] = ring;
	st[1] = 8;
	return ask(&ports[idx], VHOST_USER_SET_VRING_NUM, st, sizeof(st), NULL,
		   0);
}

static int send_frames(const char *spec)
{
	unsigned idx, n, gap, waits = 0;
	int e;

	if (sscanf(spec, "send %u %u %u", &idx, &n, &gap) != 3 || idx >= nports)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		e = transport_vhost_user.send_ctrl(&ports[idx], frame,
						   FRAME_LEN);
		if (e == -EAGAIN) { /* the ring is full: wait for the used */
			if (++waits > REPLY_MS)
				return -ETIMEDOUT;
			usleep(1000);
			i--;
			continue;
		}
		if (e)
			return e;
		if (gap)
			usleep(gap);
	}
	return 0;
}

static void answer(const char *what, const char *word, int e)
{
	if (e < 0)
		printf("%s error %s\n", what, strerror(-e));
	else
		printf("%s %s\n", what, word);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct bench_cfg cfg = {
	    .transport = &transport_vhost_user,
	    .frame_size = FRAME_LEN,
	    .vhost_ring = RING,
	};
	char line[128], err[256];
	int memfd;

	if (argc < 2 || argc - 1 > PORTS_MAX) {
		fprintf(stderr,
			"usage: vhost_hostile SOCKET [SOCKET...] "
			"(at most %d)\n",
			PORTS_MAX);
		return 2;
	}
	/* a unicast nobody has: flooded to the switch's other ports */
	memcpy(frame,
	       "\x02\x00\x00\x00\x00\x99\x02\xaa\x00\x00\x00\x01"
	       "\x88\xb5",
	       14);
	memcpy(frame + 14, "vhost_hostile", 13);
	cfg.connect = argv + 1;
	cfg.n_connect = (unsigned)argc - 1;
	cfg.ports = cfg.n_connect;
	for (nports = 0; nports < cfg.n_connect; nports++) {
		struct bench_port *p = &ports[nports];

		p->idx = nports;
		p->peer = -1;
		p->cfg = &cfg;
		if (transport_vhost_user.open(p, now_ns() + 20 * NS_PER_S, err,
					      sizeof(err))) {
			fprintf(stderr, "vhost_hostile: %s\n", err);
			return 1;
		}
	}
	memfd = memfd_create("vhost-hostile", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, MEM_FILE_SIZE)) {
		perror("vhost_hostile: memfd");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		struct bench_port *p = &ports[0];
		uint64_t u;
		int e;

		line[strcspn(line, "\n")] = 0;
		if (!strcmp(line, "alive")) {
			e = vhost_user_send_msg(p, VHOST_USER_GET_FEATURES,
						VU_VERSION, NULL, 0, NULL, 0);
			if (!e)
				e = vhost_user_recv_reply(
				    p, VHOST_USER_GET_FEATURES, &u, sizeof(u),
				    REPLY_MS);
			answer(line, "ok", e);
		} else if (!strncmp(line, "cycles ", 7)) {
			answer("cycles", "done", cycles(line));
		} else if (!strncmp(line, "send ", 5)) {
			answer("send", "sent", send_frames(line));
		} else if (!strncmp(line, "standby ", 8)) {
			bool offered = false;
			char word[32];

			e = standby(line, &offered);
			snprintf(word, sizeof(word), "%s %s",
				 e == 1 ? "refused" : "accepted",
				 offered ? "offered" : "not-offered");
			answer("standby", word, e);
		} else if (!strncmp(line, "ring-num ", 9)) {
			e = ring_num(line);
			answer("ring-num", e == 1 ? "refused" : "accepted", e);
		} else if (!strcmp(line, "huge-size")) {
			answer(line, "closed", huge_size(p));
		} else if (!strncmp(line, "msg-", 4) ||
			   !strncmp(line, "mem-", 4) ||
			   !strncmp(line, "ring-", 5) ||
			   !strcmp(line, "kick-no-fd") ||
			   !strcmp(line, "unknown")) {
			e = bad_message(p, line, memfd);
			answer(line, e == 1 ? "refused" : "accepted", e);
		} else {
			answer(line, "posted", bad_chain(p, line));
		}
	}
	for (unsigned i = 0; i < nports; i++)
		transport_vhost_user.close(&ports[i]);
	close(memfd);
	return 0;
}
