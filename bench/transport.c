/* SPDX-License-Identifier: MIT */
/* transport.c - nethub-bench's table of transports (--transport), and the
 * small helpers every transport's open() uses
 *
 * Each transport is one file filling one struct bench_transport (bench.h
 * documents the ops); this file only names them.  A new transport is one
 * more file and one more line in transports[].
 */
#include <errno.h>
#include <fcntl.h>

#include "bench.h"

static const struct bench_transport *const transports[] = {
	&transport_udp,
	&transport_tcp,
	&transport_packet,
	&transport_vde,
	&transport_vhost_user,
};

/* Other names a transport answers to: "packet" says what "tap" really is,
 * AF_PACKET on any interface; reports keep the table's name */
static const struct {
	const char *name;
	const struct bench_transport *transport;
} transport_aliases[] = {
	{ "packet", &transport_packet },
};

const struct bench_transport *transport_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(transports) / sizeof(transports[0]); i++)
		if (!strcmp(transports[i]->name, name))
			return transports[i];
	for (i = 0; i < sizeof(transport_aliases) / sizeof(transport_aliases[0]);
	     i++)
		if (!strcmp(transport_aliases[i].name, name))
			return transport_aliases[i].transport;
	return NULL;
}

void sock_bufs(int fd, int bytes)
{
	int sz = bytes;

	/* FORCE needs CAP_NET_ADMIN; without it the sysctl maximum applies */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

int fcntl_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

unsigned port_batch(const struct bench_port *p, unsigned dflt)
{
	unsigned b = p->cfg->batch ? p->cfg->batch : dflt;

	return b > BENCH_BATCH_MAX ? BENCH_BATCH_MAX : b;
}

void port_peer_mac(const struct bench_port *p, uint8_t mac[6])
{
	if (p->peer >= 0)
		mac_of_port((unsigned)p->peer, mac);
	else
		memset(mac, 0xff, 6);
}
