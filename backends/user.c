// SPDX-License-Identifier: MIT
/* user.c - QEMU's "user" netdev: libslirp as one port of a hub
 *
 * One slirp stack (NAT router, DHCP, DNS forwarder, TFTP, forwards) sits
 * on the hub like a guest would: frames to it go to slirp_input(), frames
 * it sends are the port's input, learned and counted as any port's.
 * Every VM on the hub shares it.  user_internal.h says which file does
 * what.
 *
 * Frames from the hub: send() only queues them (bounded, USER_QUEUE_LEN);
 * an idle handle feeds them to slirp from the loop, because slirp answers
 * synchronously (ARP, ICMP, DHCP) and send() may not call port_input().
 * Past USER_QUEUE_HIGH the port is blocked (backend.h's contract); the
 * queue drains in one go, so it is ready again right after.
 *
 * Frames from slirp: libslirp cannot be told to wait, so each frame is
 * copied into a frame and gathered into a burst for port_input(), which
 * takes everything; a frame that finds no buffer is counted as a receive
 * drop (no-buffer).  TCP in slirp recovers from such losses.
 *
 * Several user netdevs on one hub would answer for the same gateway; one
 * whose IPv4 network overlaps another's on the same hub is refused.
 *
 * Owns: the Slirp instance, the queue, the handles (user_loop.c).  Never:
 * call slirp from send(), log per frame, touch the netdev after close().
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "log.h"
#include "netdev.h"
#include "port.h"
#include "user_internal.h"

#define USER_ETH_MIN 60 /* Ethernet's minimum frame, without FCS */

/* -- state --------------------------------------------------------------- */

void user_unref(struct user_state *s)
{
	if (--s->refs)
		return;
	if (s->port)
		port_free(s->port);
	free(s->fds);
	free(s->round);
	free(s->prev);
	free(s);
}

static void user_on_drain_closed(uv_handle_t *h)
{
	user_unref(h->data);
}

/* user_teardown() - the port goes now; slirp and the handles after it.
 * Frames still queued are counted as lost (no peer). */
static void user_teardown(struct user_state *s)
{
	s->nd = NULL;
	if (s->port)
		port_detach(s->port);
	if (s->slirp) {
		Slirp *sl = s->slirp;

		/* its timers go through timer_free, its sockets through
		 * unregister_poll_fd; frames it might still send are dropped
		 * (no port) */
		slirp_cleanup(sl);
		s->slirp = NULL;
	}
	frame_unref_many(s->burst, s->nburst);
	s->nburst = 0;
	while (s->qlen) {
		frame_unref(s->queue[s->qhead]);
		s->qhead = (s->qhead + 1) % USER_QUEUE_LEN;
		s->qlen--;
		if (s->port)
			port_count_tx_drop(s->port, PORT_DROP_NO_PEER, 1);
	}
	user_fwd_stop(s);
	user_loop_close(s);
	if (s->drain_init)
		uv_close((uv_handle_t *)&s->drain, user_on_drain_closed);
	s->drain_init = false;
	user_unref(s);
}

/* -- frames from slirp ----------------------------------------------------- */

void user_flush(struct user_state *s)
{
	unsigned n = s->nburst;

	if (!n)
		return;
	s->nburst = 0;
	if (s->port && s->nd) {
		port_input(s->port, s->burst, n);
		return;
	}
	frame_unref_many(s->burst, n);
}

ssize_t user_send_packet(const void *buf, size_t len, void *opaque)
{
	struct user_state *s = opaque;
	struct frame *f;

	if (!s->port || !s->nd)
		return (ssize_t)len;
	if (len < FRAME_MIN_LEN || len > FRAME_MAX_LEN) {
		port_count_rx_drop(s->port, PORT_DROP_MALFORMED, 1, len);
		return (ssize_t)len;
	}
	f = frame_alloc(len < USER_ETH_MIN ? USER_ETH_MIN : len);
	if (!f) {
		port_count_rx_drop(s->port, PORT_DROP_NO_BUFFER, 1, len);
		return (ssize_t)len;
	}
	memcpy(f->data, buf, len);
	if (len < USER_ETH_MIN)
		memset(f->data + len, 0, USER_ETH_MIN - len);
	s->from_slirp++;
	user_dhcp_snoop(s, buf, len);
	s->burst[s->nburst++] = f;
	if (s->nburst == FRAME_BURST_MAX)
		user_flush(s);
	return (ssize_t)len;
}

/* -- frames to slirp ------------------------------------------------------- */

/* user_on_drain() - the queued frames into slirp, from the loop */
static void user_on_drain(uv_idle_t *h)
{
	struct user_state *s = h->data;

	uv_idle_stop(h);
	while (s->qlen && s->slirp) {
		struct frame *f = s->queue[s->qhead];

		s->qhead = (s->qhead + 1) % USER_QUEUE_LEN;
		s->qlen--;
		slirp_input(s->slirp, f->data, (int)f->len);
		frame_unref(f);
		s->to_slirp++;
	}
	user_flush(s);
	user_loop_kick(s);
	if (s->blocked && s->port) {
		s->blocked = false;
		port_tx_ready(s->port);
	}
}

static unsigned user_send(struct port *p, struct frame *const *frames,
			  unsigned n)
{
	struct user_state *s = p->priv;
	unsigned took = 0;

	if (!s || !s->slirp)
		return 0;
	while (took < n && s->qlen < USER_QUEUE_LEN) {
		s->queue[(s->qhead + s->qlen) % USER_QUEUE_LEN] =
		    frames[took++];
		s->qlen++;
	}
	if (took)
		uv_idle_start(&s->drain, user_on_drain);
	if (s->qlen > USER_QUEUE_HIGH && !s->blocked) {
		s->blocked = true;
		port_tx_blocked(p);
	}
	return took;
}

/* -- opening and closing --------------------------------------------------- */

/* user_check_overlap() - another user netdev on @nd's hub with a network
 * that overlaps @o's would answer for the same addresses */
static bool user_check_overlap(const struct netdev *nd,
			       const struct user_opts *o,
			       struct nh_error **errp)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	if (!o->cfg.in_enabled)
		return true;
	for (const struct netdev *x = netdev_first(); x; x = x->next) {
		const struct user_state *t = x->priv;
		uint32_t m;

		if (x == nd || x->ops != nd->ops || !t || !t->ipv4 ||
		    x->hubid != nd->hubid)
			continue;
		m = o->cfg.vnetmask.s_addr & t->mask.s_addr;
		if ((o->cfg.vnetwork.s_addr & m) != (t->net.s_addr & m))
			continue;
		inet_ntop(AF_INET, &o->cfg.vnetwork, a, sizeof(a));
		inet_ntop(AF_INET, &t->net, b, sizeof(b));
		nh_error_setg(errp,
			      "net=%s/%u overlaps the network %s/%u of user "
			      "netdev '%s' on hub %d (give this one another "
			      "net=, or put it on another hub first)",
			      a, o->prefix_len, b, t->prefix_len, x->id,
			      (int)nd->hubid);
		return false;
	}
	return true;
}

/* user_note_config() - what queries and the overlap check show */
static void user_note_config(struct user_state *s, const struct user_opts *o)
{
	s->net = o->cfg.vnetwork;
	s->mask = o->cfg.vnetmask;
	s->host = o->cfg.vhost;
	s->dns = o->cfg.vnameserver;
	s->dhcp = o->cfg.vdhcp_start;
	s->prefix_len = o->prefix_len;
	s->ipv4 = o->cfg.in_enabled;
	s->ipv6 = o->cfg.in6_enabled;
	s->restricted = o->cfg.restricted;
	inet_ntop(AF_INET6, &o->cfg.vprefix_addr6, s->prefix6,
		  sizeof(s->prefix6));
	inet_ntop(AF_INET6, &o->cfg.vhost6, s->host6, sizeof(s->host6));
	inet_ntop(AF_INET6, &o->cfg.vnameserver6, s->dns6, sizeof(s->dns6));
	s->prefix6_len = o->cfg.vprefix_len;
}

static bool user_start(struct user_state *s, const struct user_opts *o,
		       struct nh_error **errp)
{
	uv_idle_init(s->loop, &s->drain);
	s->drain.data = s;
	s->drain_init = true;
	s->refs++;
	if (!user_loop_init(s, errp))
		return false;
	s->slirp = slirp_new(&o->cfg, &user_loop_callbacks, s);
	if (!s->slirp) {
		nh_error_setg(errp,
			      "netdev %s: libslirp refused the "
			      "configuration",
			      s->id);
		return false;
	}
	if (!user_fwd_start(s, o, errp))
		return false;
	s->port = port_new(s->nd, NULL, s);
	if (!s->port) {
		nh_error_setg(errp, "netdev %s: out of memory", s->id);
		return false;
	}
	s->port->mtu = USER_MTU;
	user_loop_kick(s);
	return true;
}

static bool user_open(struct netdev *nd, const json_t *opts,
		      struct nh_error **errp)
{
	char net[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN];
	struct user_opts o;
	struct user_state *s;

	if (!user_parse_opts(opts, &o, errp) ||
	    !user_check_overlap(nd, &o, errp))
		return false;
	s = calloc(1, sizeof(*s));
	if (!s) {
		nh_error_setg(errp, "netdev %s: out of memory", nd->id);
		return false;
	}
	s->refs = 1;
	s->nd = nd;
	s->loop = nd->loop;
	s->epfd = -1;
	snprintf(s->id, sizeof(s->id), "%s", nd->id);
	user_note_config(s, &o);
	if (!user_start(s, &o, errp)) {
		user_teardown(s);
		return false;
	}
	nd->priv = s;
	inet_ntop(AF_INET, &s->net, net, sizeof(net));
	inet_ntop(AF_INET, &s->host, gw, sizeof(gw));
	log_info("netdev %s: user network %s/%u (gateway %s), IPv6 %s, "
		 "libslirp %s%s",
		 s->id, net, s->prefix_len, gw, s->ipv6 ? s->prefix6 : "off",
		 slirp_version_string(), s->restricted ? ", restricted" : "");
	return true;
}

static bool user_check(const json_t *opts, struct nh_error **errp)
{
	struct user_opts o;

	return user_parse_opts(opts, &o, errp);
}

static void user_close(struct netdev *nd)
{
	struct user_state *s = nd->priv;

	nd->priv = NULL;
	if (s)
		user_teardown(s);
}

/* -- queries -----------------------------------------------------------------
 */

/* user_connections() - slirp's own table of sockets, one string a line */
static json_t *user_connections(const struct user_state *s)
{
	json_t *list = json_array();
	char *text, *line, *save = NULL;

	if (!s->slirp)
		return list;
	text = slirp_connection_info(s->slirp);
	if (!text)
		return list;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		json_array_append_new(list, json_string(line));
	free(text); /* g_free() is free() since GLib 2.46 */
	return list;
}

static void user_info(const struct netdev *nd, json_t *obj)
{
	const struct user_state *s = nd->priv;
	char net[INET_ADDRSTRLEN + 4], a[INET_ADDRSTRLEN];

	if (!s)
		return;
	json_object_set_new(obj, "ipv4", json_boolean(s->ipv4));
	json_object_set_new(obj, "ipv6", json_boolean(s->ipv6));
	json_object_set_new(obj, "restrict", json_boolean(s->restricted));
	if (s->ipv4) {
		inet_ntop(AF_INET, &s->net, a, sizeof(a));
		snprintf(net, sizeof(net), "%s/%u", a, s->prefix_len);
		json_object_set_new(obj, "net", json_string(net));
		inet_ntop(AF_INET, &s->host, a, sizeof(a));
		json_object_set_new(obj, "host", json_string(a));
		inet_ntop(AF_INET, &s->dns, a, sizeof(a));
		json_object_set_new(obj, "dns", json_string(a));
		inet_ntop(AF_INET, &s->dhcp, a, sizeof(a));
		json_object_set_new(obj, "dhcpstart", json_string(a));
	}
	if (s->ipv6) {
		json_object_set_new(obj, "ipv6-prefix",
				    json_string(s->prefix6));
		json_object_set_new(obj, "ipv6-prefixlen",
				    json_integer(s->prefix6_len));
		json_object_set_new(obj, "ipv6-host", json_string(s->host6));
		json_object_set_new(obj, "ipv6-dns", json_string(s->dns6));
	}
	user_fwd_info(s, obj);
	user_dhcp_info(s, obj);
	json_object_set_new(obj, "frames-to-slirp",
			    json_integer((json_int_t)s->to_slirp));
	json_object_set_new(obj, "frames-from-slirp",
			    json_integer((json_int_t)s->from_slirp));
	json_object_set_new(obj, "guest-errors",
			    json_integer((json_int_t)s->guest_errors));
	json_object_set_new(obj, "connections", user_connections(s));
	json_object_set_new(obj, "libslirp",
			    json_string(slirp_version_string()));
}

const struct backend_ops user_backend = {
    .type = "user",
    .check = user_check,
    .open = user_open,
    .close = user_close,
    .send = user_send,
    .info = user_info,
};
