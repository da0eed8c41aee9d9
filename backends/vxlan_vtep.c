// SPDX-License-Identifier: MIT
/* vxlan_vtep.c - the vxlan netdev's remote VTEPs and their send channels
 *
 * Each remote VTEP (a remote= address, one learned from a datagram, one
 * named by vxlan-fdb-add, or the multicast group) has a send channel of
 * its own to its address: the io engine batches per channel.  The header
 * in front of each frame is written here, when the channel builds its
 * batch: on a raw socket the UDP header (source port from the inner flow's
 * hash, checksum zero over IPv4, the kernel's over IPv6) and then the
 * VXLAN header (I flag, VNI); on a UDP socket the VXLAN header alone.
 *
 * VTEPs stay until the netdev closes (at most VXLAN_VTEP_MAX).
 *
 * Owns: the VTEPs and their sockets.  Never: receive on a send socket
 * (a drop-all filter keeps its queue empty), allocate per frame.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "vxlan_internal.h"

/* vxlan_srcport() - the outer source port for @f: its flow hash scaled
 * into the kernel's default range, as udp_flow_src_port() does */
static uint16_t vxlan_srcport(const struct frame *f)
{
	uint32_t h = frame_flow_hash(f);

	return (uint16_t)(VXLAN_SRCPORT_MIN +
			  (((uint64_t)h * (VXLAN_SRCPORT_MAX -
					   VXLAN_SRCPORT_MIN)) >>
			   32));
}

static unsigned vxlan_tx_header(struct io_chan *c, const struct frame *f,
				uint8_t *hdr)
{
	struct vxlan_vtep *v = io_chan_opaque(c);
	struct vxlan_state *s = v->s;
	uint8_t *vx = hdr;

	if (v->raw) {
		uint16_t sport = vxlan_srcport(f);
		uint32_t ulen = VXLAN_UDP_HLEN + VXLAN_HLEN + f->len;

		hdr[0] = (uint8_t)(sport >> 8);
		hdr[1] = (uint8_t)sport;
		hdr[2] = (uint8_t)(s->o.dstport >> 8);
		hdr[3] = (uint8_t)s->o.dstport;
		hdr[4] = (uint8_t)(ulen >> 8);
		hdr[5] = (uint8_t)ulen;
		hdr[6] = 0; /* IPv4: no checksum (RFC 7348 5); */
		hdr[7] = 0; /* IPv6: the kernel's (IPV6_CHECKSUM) */
		vx = hdr + VXLAN_UDP_HLEN;
	}
	vx[0] = VXLAN_FLAG_I;
	vx[1] = vx[2] = vx[3] = 0;
	memcpy(vx + 4, s->vni_be, 3);
	vx[7] = 0;
	return (unsigned)(vx - hdr) + VXLAN_HLEN;
}

/* Send channels receive nothing; anything that does arrive is dropped */
static void vxlan_vtep_on_recv(struct io_chan *c, const struct io_msg *msgs,
			       unsigned n)
{
	(void)c;
	(void)msgs;
	(void)n;
}

static void vxlan_vtep_on_error(struct io_chan *c, int err)
{
	struct vxlan_vtep *v = io_chan_opaque(c);

	/* Sending goes on (send errors arrive through on_tx_drop); only its
	 * receiving, which nothing needs, stopped */
	log_warn("netdev %s: VTEP %s: %s", v->s->id, v->str,
		 err ? strerror(-err) : "closed");
}

static void vxlan_vtep_on_tx_drop(struct io_chan *c, unsigned n, int err)
{
	struct vxlan_vtep *v = io_chan_opaque(c);

	if (v->s->port)
		port_count_tx_drop(v->s->port,
				   err == -EMSGSIZE ? PORT_DROP_OVERSIZE
						    : PORT_DROP_ERROR,
				   n);
}

static void vxlan_vtep_on_tx_drain(struct io_chan *c, bool ready)
{
	struct vxlan_vtep *v = io_chan_opaque(c);
	struct vxlan_state *s = v->s;

	if (!s->nd || !s->port)
		return;
	if (ready)
		port_tx_ready(s->port);
	else
		port_tx_progress(s->port);
}

static void vxlan_vtep_done(void *opaque, unsigned dropped)
{
	struct vxlan_vtep *v = opaque;
	struct vxlan_state *s = v->s;

	if (dropped && s->port)
		port_count_tx_drop(s->port, PORT_DROP_NO_PEER, dropped);
	free(v);
	vxlan_unref(s);
}

/* vxlan_drop_all() - a socket filter that keeps no datagram */
static int vxlan_drop_all(int fd)
{
	struct sock_filter code[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
	struct sock_fprog prog = {.len = 1, .filter = code};

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
			  sizeof(prog));
}

/**
 * vxlan_send_socket() - a send socket: raw IPPROTO_UDP if s->raw_tx, else
 * UDP; bound to local= when given; TTL or hop limit set
 * Return: the fd, or -errno
 */
static int vxlan_send_socket(struct vxlan_state *s, bool mcast)
{
	const struct vxlan_opts *o = &s->o;
	int fam = o->family, six = 6, ttl, fd, off = 0;
	bool v6 = fam == AF_INET6;

	ttl = o->ttl ? o->ttl
	      : mcast ? VXLAN_TTL_MCAST_DEFAULT
		      : VXLAN_TTL_DEFAULT;
	fd = socket(fam,
		    (s->raw_tx ? SOCK_RAW : SOCK_DGRAM) | SOCK_NONBLOCK |
			SOCK_CLOEXEC,
		    s->raw_tx ? IPPROTO_UDP : 0);
	if (fd < 0)
		return -errno;
	if (vxlan_drop_all(fd) < 0)
		goto fail;
	vxlan_big_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF);
	if (o->local_set && bind(fd, sockaddr_sa(&o->local), o->local.len) < 0)
		goto fail;
	if (s->raw_tx && v6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_CHECKSUM, &six, sizeof(six)) < 0)
		goto fail;
	if (v6 ? setsockopt(fd, IPPROTO_IPV6,
			    mcast ? IPV6_MULTICAST_HOPS : IPV6_UNICAST_HOPS,
			    &ttl, sizeof(ttl))
	       : setsockopt(fd, IPPROTO_IP,
			    mcast ? IP_MULTICAST_TTL : IP_TTL, &ttl,
			    sizeof(ttl)))
		goto fail;
	if (mcast &&
	    (v6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &off,
			     sizeof(off))
		: setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &off,
			     sizeof(off))))
		goto fail;
	if (mcast && !v6 && o->local_set &&
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF,
		       &((const struct sockaddr_in *)&o->local.ss)->sin_addr,
		       sizeof(struct in_addr)) < 0)
		goto fail;
	return fd;
fail:
	off = -errno;
	close(fd);
	return off;
}

/* vxlan_same_ip() - same family and address; ports ignored */
static bool vxlan_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr,
			       sizeof(struct in6_addr));
	return false;
}

struct vxlan_vtep *vxlan_vtep_find(struct vxlan_state *s,
				   const struct sockaddr *ip, socklen_t len)
{
	(void)len;
	if (s->last_src && vxlan_same_ip(sockaddr_sa(&s->last_src->addr), ip))
		return s->last_src;
	for (unsigned i = 0; i < s->nvteps; i++)
		if (vxlan_same_ip(sockaddr_sa(&s->vteps[i]->addr), ip))
			return s->vteps[i];
	return NULL;
}

/* vxlan_ip_str() - the address without a port */
static void vxlan_ip_str(const struct sockaddr *sa, char *buf, size_t size)
{
	const void *a = sa->sa_family == AF_INET
			    ? (const void *)&((const struct sockaddr_in *)sa)
				  ->sin_addr
			    : (const void *)&((const struct sockaddr_in6 *)sa)
				  ->sin6_addr;

	if (!inet_ntop(sa->sa_family, a, buf, (socklen_t)size))
		snprintf(buf, size, "?");
}

struct vxlan_vtep *vxlan_vtep_get(struct vxlan_state *s,
				  const struct sockaddr *ip, socklen_t len,
				  struct nh_error **errp)
{
	struct vxlan_vtep *v = vxlan_vtep_find(s, ip, len);
	struct io_chan_cfg cfg;
	bool mcast;
	int fd;

	if (v)
		return v;
	if (ip->sa_family != s->o.family) {
		nh_error_setg(errp, "netdev %s: the underlay is IPv%d", s->id,
			      s->o.family == AF_INET ? 4 : 6);
		return NULL;
	}
	if (s->nvteps == VXLAN_VTEP_MAX) {
		nh_error_setg(errp, "netdev %s: too many VTEPs (%d)", s->id,
			      VXLAN_VTEP_MAX);
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		nh_error_setg(errp, "netdev %s: out of memory", s->id);
		return NULL;
	}
	v->s = s;
	v->raw = s->raw_tx;
	memcpy(&v->addr.ss, ip, len);
	v->addr.len = len;
	/* A raw socket's destination has no port (IPv6 refuses one) */
	if (ip->sa_family == AF_INET)
		((struct sockaddr_in *)&v->addr.ss)->sin_port =
		    v->raw ? 0 : htons(s->o.dstport);
	else
		((struct sockaddr_in6 *)&v->addr.ss)->sin6_port =
		    v->raw ? 0 : htons(s->o.dstport);
	vxlan_ip_str(ip, v->str, sizeof(v->str));
	mcast = s->o.group_set && vxlan_same_ip(sockaddr_sa(&s->o.group), ip);

	fd = vxlan_send_socket(s, mcast);
	if (fd < 0) {
		nh_error_setg(errp, "netdev %s: VTEP %s: %s", s->id, v->str,
			      strerror(-fd));
		free(v);
		return NULL;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.kind = IO_CHAN_DGRAM;
	if (!v->raw) /* one source port: runs can go out as one GSO send */
		cfg.flags = IO_CHAN_F_UDP_GSO;
	cfg.dest = sockaddr_sa(&v->addr);
	cfg.destlen = v->addr.len;
	cfg.on_recv = vxlan_vtep_on_recv;
	cfg.on_error = vxlan_vtep_on_error;
	cfg.on_tx_drop = vxlan_vtep_on_tx_drop;
	cfg.on_tx_drain = vxlan_vtep_on_tx_drain;
	cfg.tx_header = vxlan_tx_header;
	cfg.opaque = v;
	v->chan = io_chan_open(fd, &cfg, errp);
	if (!v->chan) {
		close(fd);
		free(v);
		return NULL;
	}
	s->refs++; /* dropped by vxlan_vtep_done() */
	v->index = s->nvteps;
	s->vteps[s->nvteps++] = v;
	return v;
}

void vxlan_vtep_close_all(struct vxlan_state *s)
{
	unsigned n = s->nvteps;

	s->nvteps = 0;
	s->last_src = NULL;
	for (unsigned i = 0; i < n; i++) {
		struct vxlan_vtep *v = s->vteps[i];
		struct io_chan *c = v->chan;

		s->vteps[i] = NULL;
		v->chan = NULL;
		if (c)
			io_chan_close(c, vxlan_vtep_done);
	}
}
