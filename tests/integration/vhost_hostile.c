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
 *   offload PATH_A PATH_B  two more front-ends: A on PATH_A accepts CSUM,
 *              HOST_TSO4/6 and HOST_ECN (not UFO), B on PATH_B accepts
 *              GUEST_CSUM and GUEST_TSO4, both MRG_RXBUF, buffers of a
 *              plain frame -> "open"
 *   tso LEN MSS HOW  A sends one TCP/IPv4 frame of LEN bytes (flooded),
 *              a GSO frame (TCPV4, gso_size MSS, checksum left open) in a
 *              chain of A's buffers, its virtio_net_hdr as HOW says: good,
 *              hdr-len-low (hdr_len 20: nethubd corrects it), or a bad one
 *              nethubd must drop: gso-size-0, csum-start-beyond,
 *              hdr-len-beyond, type-tcpv6, or from-b: the good frame sent
 *              by B, which accepted no HOST_ offload.  v6: a TCP/IPv6
 *              GSO frame, which B did not accept: B checks the segments
 *              it gets -> "segments N ok|bad".  For good
 *              and hdr-len-low B waits for it -> "got LEN GSO_TYPE
 *              GSO_SIZE HDR_LEN FLAGS NUM_BUFFERS same|differs"; else ->
 *              "sent"
 *   rate SECONDS LEN MSS  a measurement: A sends B (which makes itself
 *              known first) frames of LEN bytes for SECONDS as fast as
 *              nethubd takes them, TCPV4 GSO frames of gso_size MSS when
 *              LEN > 54 + MSS, else plain (checksummed) -> "FRAMES
 *              BYTES NS" (frames sent, bytes B received with their
 *              headers, time)
 *   offload-close  A and B go -> "closed"
 * Anything that goes wrong on our side is "CASE error WHY".
 */

#include <errno.h>
#include <sched.h>
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
#define F_CSUM		 (1ull << 0)
#define F_GUEST_CSUM	 (1ull << 1)
#define F_GUEST_TSO4	 (1ull << 7)
#define F_HOST_TSO4	 (1ull << 11)
#define F_HOST_TSO6	 (1ull << 12)
#define F_HOST_ECN	 (1ull << 13)
#define OFF_FRAME_SIZE	 1514 /* offload ports: buffers of a plain frame */
#define OFF_MAX		 65535
#define OFF_WAIT_MS	 10000

struct region {
	uint64_t guest_addr, size, user_addr, mmap_offset;
};

static struct bench_port ports[PORTS_MAX];
static unsigned nports;
static uint8_t frame[FRAME_LEN];

/* the offload front-ends: 0 sends (A), 1 receives (B) */
static struct bench_port off[2];
static struct bench_cfg off_cfg[2];
static char off_path[2][108];
static char *off_connect[2][1];
static bool off_open;
static uint8_t tso_frame[OFF_MAX], tso_got[OFF_MAX];

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

/* -- offloads ------------------------------------------------------------ */

static void off_close(void)
{
	if (!off_open)
		return;
	transport_vhost_user.close(&off[0]);
	transport_vhost_user.close(&off[1]);
	off_open = false;
}

/* offload_open() - "offload PATH_A PATH_B" */
static int offload_open(const char *spec)
{
	static const uint64_t feat[2] = {
	    F_CSUM | F_HOST_TSO4 | F_HOST_TSO6 | F_HOST_ECN,
	    F_GUEST_CSUM | F_GUEST_TSO4,
	};
	char err[256];

	if (off_open ||
	    sscanf(spec, "offload %107s %107s", off_path[0], off_path[1]) != 2)
		return -EINVAL;
	for (unsigned i = 0; i < 2; i++) {
		off_connect[i][0] = off_path[i];
		off_cfg[i] = (struct bench_cfg){
		    .transport = &transport_vhost_user,
		    .frame_size = OFF_FRAME_SIZE,
		    .vhost_ring = RING,
		    .connect = off_connect[i],
		    .n_connect = 1,
		    .ports = 1,
		    .vhost_features = feat[i],
		};
		off[i] = (struct bench_port){.peer = -1, .cfg = &off_cfg[i]};
		if (transport_vhost_user.open(&off[i],
					      now_ns() + 20 * NS_PER_S, err,
					      sizeof(err))) {
			fprintf(stderr, "vhost_hostile: offload port %u: %s\n",
				i, err);
			if (i)
				transport_vhost_user.close(&off[0]);
			return -EIO;
		}
	}
	off_open = true;
	return 0;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* csum_add() - one's complement sum of @len bytes, big-endian words */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* tso_build() - a TCP/IPv4 frame of @len bytes, flooded (a unicast
 * nobody has); its TCP checksum field holds the pseudo-header's sum, as a
 * sender leaving the checksum to the device does */
static void tso_build(size_t len)
{
	uint8_t *d = tso_frame, *ip = d + 14, *tcp = d + 34;
	uint32_t ph;

	memset(d, 0, len);
	memcpy(d, "\x02\x00\x00\x00\x00\x77\x02\xaa\x00\x00\x00\x0a"
		  "\x08\x00",
	       14);
	ip[0] = 0x45;
	put16(ip + 2, (unsigned)(len - 14));
	put16(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	put16(ip + 10, (uint16_t)~csum_fold(csum_add(0, ip, 20)));
	put16(tcp, 1234);
	put16(tcp + 2, 5678);
	memcpy(tcp + 4, "\x00\x00\x03\xe8", 4); /* seq 1000 */
	tcp[12] = 5 << 4;
	tcp[13] = 0x18; /* ACK, PSH */
	put16(tcp + 14, 65535);
	for (size_t i = 54; i < len; i++)
		d[i] = (uint8_t)(i * 7);
	ph = csum_add(0, ip + 12, 8) + 6 + (uint32_t)(len - 34);
	put16(tcp + 16, csum_fold(ph));
}

/* tso_build6() - the same over IPv6: a TCP/IPv6 frame of @len bytes */
static void tso_build6(size_t len)
{
	uint8_t *d = tso_frame, *ip = d + 14, *tcp = d + 54;
	uint32_t ph;

	memset(d, 0, len);
	memcpy(d, "\x02\x00\x00\x00\x00\x77\x02\xaa\x00\x00\x00\x0a"
		  "\x86\xdd",
	       14);
	ip[0] = 0x60;
	put16(ip + 4, (unsigned)(len - 54));
	ip[6] = 6;
	ip[7] = 64;
	ip[8] = ip[24] = 0xfd;
	ip[23] = 1;
	ip[39] = 2;
	put16(tcp, 1234);
	put16(tcp + 2, 5678);
	memcpy(tcp + 4, "\x00\x00\x03\xe8", 4);
	tcp[12] = 5 << 4;
	tcp[13] = 0x18;
	put16(tcp + 14, 65535);
	for (size_t i = 74; i < len; i++)
		d[i] = (uint8_t)(i * 7);
	ph = csum_add(0, ip + 8, 32) + 6 + (uint32_t)(len - 54);
	put16(tcp + 16, csum_fold(ph));
}

/* seg6_ok() - segment @i of tso_build6()'s frame cut at @mss, as B got
 * it (@hdr, @f, @len): no offload left, its TCP checksum right, its
 * sequence number and payload where they belong */
static bool seg6_ok(const uint8_t *hdr, const uint8_t *f, size_t len,
		    unsigned i, unsigned mss)
{
	uint32_t sum, seq = 1000 + i * mss;

	if (hdr[0] || hdr[1] || len < 74 || len > 74 + (size_t)mss)
		return false;
	sum = csum_add(0, f + 22, 32) + 6 + (uint32_t)(len - 54);
	if (csum_fold(csum_add(sum, f + 54, len - 54)) != 0xffff)
		return false;
	if (f[58] != (uint8_t)(seq >> 24) || f[59] != (uint8_t)(seq >> 16) ||
	    f[60] != (uint8_t)(seq >> 8) || f[61] != (uint8_t)seq)
		return false;
	for (size_t k = 74; k < len; k++)
		if (f[k] != (uint8_t)((k + (size_t)i * mss) * 7))
			return false;
	return true;
}

/* tso_reclaim() - the chains nethubd is done with on offload port @i's
 * TX ring: every descriptor of each chain is free again (we wrote the
 * descriptors; nethubd returns heads) */
static int tso_reclaim(unsigned i)
{
	struct vring *r = vhost_user_ring(&off[i], 1);
	struct vring_used_elem e[64];
	int n;

	while ((n = vring_reap(r, e, 64)) > 0) {
		for (int k = 0; k < n; k++) {
			uint16_t id = (uint16_t)e[k].id;

			for (unsigned m = 0; m < r->num; m++) {
				r->free[r->n_free++] = id;
				if (!(r->desc[id].flags & VRING_DESC_F_NEXT))
					break;
				id = r->desc[id].next;
			}
		}
	}
	return n;
}

/* tso_post() - @len bytes of header and frame as a chain of TX buffers
 * of offload port @i, published (kicked with @kick); -ENOBUFS when the
 * ring has no room for it yet */
static int tso_post(unsigned i, const uint8_t *hdr, const uint8_t *f,
		    size_t len, bool kick)
{
	struct vring *r = vhost_user_ring(&off[i], 1);
	size_t total = 12 + len, done = 0;
	uint16_t head = 0, prev = 0, id;

	if (r->n_free < (total + r->buf_size - 1) / r->buf_size)
		return -ENOBUFS;
	while (done < total) {
		size_t n = total - done < r->buf_size ? total - done
						       : r->buf_size;
		uint8_t *b;

		id = r->free[--r->n_free];
		b = vring_buf(r, id);
		for (size_t k = 0; k < n; k++) {
			size_t at = done + k;

			b[k] = at < 12 ? hdr[at] : f[at - 12];
		}
		set_desc(r, id, (uint64_t)(uintptr_t)b, (uint32_t)n, 0, 0);
		if (done)
			set_desc(r, prev, r->desc[prev].addr,
				 r->desc[prev].len, VRING_DESC_F_NEXT, id);
		else
			head = id;
		prev = id;
		done += n;
	}
	offer(r, head);
	if (vring_publish(r) || kick)
		vhost_user_kick(&off[i], 1);
	return 0;
}

/* tso_recv() - the next frame of at least @min bytes on B's RX ring, its
 * header in @hdr, its buffers in *@nbufs; shorter ones are skipped */
static int tso_recv(size_t min, uint8_t hdr[12], size_t *len,
		    unsigned *nbufs)
{
	struct vring *r = vhost_user_ring(&off[1], 0);
	uint64_t deadline = now_ns() + OFF_WAIT_MS * NS_PER_MS;
	unsigned left = 0;

	*len = 0;
	for (;;) {
		struct vring_used_elem e;
		const uint8_t *b;
		size_t n;
		int k = vring_reap(r, &e, 1);

		if (k < 0)
			return k;
		if (!k) {
			if (now_ns() > deadline)
				return -ETIMEDOUT;
			usleep(1000);
			continue;
		}
		b = vring_buf(r, (uint16_t)e.id);
		n = e.len;
		if (n > r->buf_size)
			return -EPROTO;
		if (!left) { /* a frame's first buffer */
			if (n < 12)
				return -EPROTO;
			memcpy(hdr, b, 12);
			left = (unsigned)(hdr[10] | hdr[11] << 8);
			if (!left)
				return -EPROTO;
			*nbufs = left;
			*len = 0;
			b += 12;
			n -= 12;
		}
		if (n > sizeof(tso_got) - *len)
			return -EPROTO;
		memcpy(tso_got + *len, b, n);
		*len += n;
		vring_post(r, (uint16_t)e.id, (uint32_t)r->buf_size);
		if (vring_publish(r))
			vhost_user_kick(&off[1], 0);
		if (!--left && *len >= min)
			return 0;
	}
}

/* tso6() - "tso LEN MSS v6": a TCPV6 GSO frame from A, which B did not
 * accept (GUEST_TSO6): B must get it as segments -> "segments N ok|bad" */
static int tso6(unsigned len, unsigned mss, char *word, size_t wlen)
{
	unsigned n = (len - 74 + mss - 1) / mss, good = 0, nbufs;
	uint8_t hdr[12] = {1, 4}, got[12];
	size_t glen;
	uint16_t v = 74;
	int e;

	tso_build6(len);
	memcpy(hdr + 2, &v, 2);
	v = (uint16_t)mss;
	memcpy(hdr + 4, &v, 2);
	v = 54;
	memcpy(hdr + 6, &v, 2);
	v = 16;
	memcpy(hdr + 8, &v, 2);
	e = tso_reclaim(0);
	if (!e)
		e = tso_post(0, hdr, tso_frame, len, true);
	for (unsigned i = 0; !e && i < n; i++) {
		e = tso_recv(75, got, &glen, &nbufs);
		if (!e && seg6_ok(got, tso_got, glen, i, mss))
			good++;
	}
	snprintf(word, wlen, "segments %u %s", n, good == n ? "ok" : "bad");
	return e;
}

/* tso() - "tso LEN MSS HOW"; writes the answer's words to @word */
static int tso(const char *spec, char *word, size_t wlen)
{
	uint8_t hdr[12] = {0}, got[12];
	unsigned len, mss, nbufs = 0;
	char how[32];
	size_t glen;
	uint16_t v;
	bool wait;
	int e;

	if (!off_open ||
	    sscanf(spec, "tso %u %u %31s", &len, &mss, how) != 3 ||
	    len < 75 || len > OFF_MAX || !mss)
		return -EINVAL;
	if (!strcmp(how, "v6"))
		return tso6(len, mss, word, wlen);
	tso_build(len);
	hdr[0] = 1; /* NEEDS_CSUM */
	hdr[1] = 1; /* TCPV4 */
	v = 54;
	memcpy(hdr + 2, &v, 2);
	v = (uint16_t)mss;
	memcpy(hdr + 4, &v, 2);
	v = 34;
	memcpy(hdr + 6, &v, 2);
	v = 16;
	memcpy(hdr + 8, &v, 2);
	wait = !strcmp(how, "good") || !strcmp(how, "hdr-len-low");
	if (!strcmp(how, "hdr-len-low")) {
		v = 20;
		memcpy(hdr + 2, &v, 2);
	} else if (!strcmp(how, "gso-size-0")) {
		hdr[4] = hdr[5] = 0;
	} else if (!strcmp(how, "csum-start-beyond")) {
		v = (uint16_t)(len - 1);
		memcpy(hdr + 6, &v, 2);
	} else if (!strcmp(how, "hdr-len-beyond")) {
		v = (uint16_t)(len + 1);
		memcpy(hdr + 2, &v, 2);
	} else if (!strcmp(how, "type-tcpv6")) {
		hdr[1] = 4;
	} else if (strcmp(how, "good") && strcmp(how, "from-b")) {
		return -EINVAL;
	}
	e = tso_reclaim(!strcmp(how, "from-b"));
	if (!e)
		e = tso_post(!strcmp(how, "from-b"), hdr, tso_frame, len, true);
	if (e || !wait) {
		snprintf(word, wlen, "sent");
		return e;
	}
	e = tso_recv(len, got, &glen, &nbufs);
	if (e)
		return e;
	snprintf(word, wlen, "got %zu %u %u %u %u %u %s", glen, got[1],
		 (unsigned)(got[4] | got[5] << 8),
		 (unsigned)(got[2] | got[3] << 8), got[0], nbufs,
		 glen == len && !memcmp(tso_got, tso_frame, len) ? "same"
								 : "differs");
	return 0;
}

/* rx_count() - take what B's RX ring holds, its buffers posted again;
 * adds the bytes nethubd wrote (virtio_net_hdrs included) to *@bytes */
static int rx_count(uint64_t *bytes)
{
	struct vring *r = vhost_user_ring(&off[1], 0);
	struct vring_used_elem e[64];
	int n;

	while ((n = vring_reap(r, e, 64)) > 0) {
		for (int k = 0; k < n; k++) {
			if (e[k].len > r->buf_size)
				return -EPROTO;
			*bytes += e[k].len;
			vring_post(r, (uint16_t)e[k].id, (uint32_t)r->buf_size);
		}
		if (vring_publish(r))
			vhost_user_kick(&off[1], 0);
	}
	return n;
}

/* tso_rate() - "rate SECONDS LEN MSS": A sends B (learned first) frames
 * of LEN bytes for SECONDS, as fast as they are taken: TCPV4 GSO frames
 * of gso_size MSS when LEN > 54 + MSS, else plain ones with their
 * checksums done; B takes them.  Answers "FRAMES BYTES NS": frames A had
 * taken and bytes B received (headers included) */
static int tso_rate(const char *spec, char *word, size_t wlen)
{
	static const uint8_t mac_b[6] = {0x02, 0xbb, 0, 0, 0, 0x0b};
	uint8_t hello[64] = {0}, hdr[12] = {0};
	uint64_t sent = 0, bytes = 0, t0, end;
	unsigned secs, len, mss;
	uint16_t v;
	int e;

	if (!off_open || sscanf(spec, "rate %u %u %u", &secs, &len, &mss) != 3 ||
	    len < 60 || len > OFF_MAX || !secs || !mss)
		return -EINVAL;
	/* B says who it is: A's frames to it are then unicast */
	memcpy(hello, "\xff\xff\xff\xff\xff\xff", 6);
	memcpy(hello + 6, mac_b, 6);
	memcpy(hello + 12, "\x88\xb5", 2);
	e = transport_vhost_user.send_ctrl(&off[1], hello, sizeof(hello));
	if (e)
		return e;
	usleep(100000);
	tso_build(len);
	memcpy(tso_frame, mac_b, 6);
	if (len > 54 + mss) {
		hdr[0] = 1;
		hdr[1] = 1;
		v = 54;
		memcpy(hdr + 2, &v, 2);
		v = (uint16_t)mss;
		memcpy(hdr + 4, &v, 2);
		v = 34;
		memcpy(hdr + 6, &v, 2);
		v = 16;
		memcpy(hdr + 8, &v, 2);
	} else { /* a plain frame: its TCP checksum done */
		uint8_t *tcp = tso_frame + 34;
		uint32_t sum = csum_add(0, tso_frame + 26, 8) + 6 + (len - 34);

		tcp[16] = tcp[17] = 0;
		put16(tcp + 16, (uint16_t)~csum_fold(csum_add(sum, tcp,
							      len - 34)));
	}
	e = rx_count(&bytes);
	if (e < 0)
		return e;
	bytes = 0;
	t0 = now_ns();
	end = t0 + secs * NS_PER_S;
	while (now_ns() < end) {
		unsigned posted = 0;

		e = tso_reclaim(0);
		if (e < 0)
			return e;
		while (posted < 32 &&
		       !tso_post(0, hdr, tso_frame, len, false))
			posted++;
		if (posted)
			vhost_user_kick(&off[0], 1);
		sent += posted;
		e = rx_count(&bytes);
		if (e < 0)
			return e;
		if (!posted)
			sched_yield();
	}
	end = now_ns();
	snprintf(word, wlen, "%llu %llu %llu", (unsigned long long)sent,
		 (unsigned long long)bytes, (unsigned long long)(end - t0));
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
		} else if (!strncmp(line, "offload ", 8)) {
			answer("offload", "open", offload_open(line));
		} else if (!strcmp(line, "offload-close")) {
			off_close();
			answer(line, "closed", 0);
		} else if (!strncmp(line, "rate ", 5)) {
			char word[128];

			e = tso_rate(line, word, sizeof(word));
			answer("rate", word, e);
		} else if (!strncmp(line, "tso ", 4)) {
			char word[128];

			e = tso(line, word, sizeof(word));
			answer("tso", word, e);
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
	off_close();
	for (unsigned i = 0; i < nports; i++)
		transport_vhost_user.close(&ports[i]);
	close(memfd);
	return 0;
}
