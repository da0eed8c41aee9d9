// SPDX-License-Identifier: MIT
/* netdev.c - netdev objects: add, delete, find, link state, hub placement
 *
 * Owns the list of netdevs and the rules QEMU applies to them (identifier
 * syntax, duplicate ids, unknown or missing backends).  Talks to a backend
 * only through its ops table, to a NIC only through netdev->front, and to
 * captures only through the port observers (port.h).
 *
 * Never: look inside a backend's state, or name a driver.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "clock.h"
#include "fdb.h"
#include "hub.h"
#include "log.h"
#include "netdev.h"
#include "opts.h"
#include "port.h"

static struct netdev *netdevs;
bool netdev_valid_id(const char *id)
{
	size_t len = strlen(id);

	if (!len || len >= NETDEV_ID_MAX)
		return false;
	if (!((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z')))
		return false;
	for (size_t i = 1; i < len; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_'))
			return false;
	}
	return true;
}

struct netdev *netdev_first(void)
{
	return netdevs;
}

const char *netdev_type(const struct netdev *nd)
{
	return nd->ops->type;
}

struct netdev *netdev_find(const char *id)
{
	for (struct netdev *nd = netdevs; nd; nd = nd->next)
		if (!strcmp(nd->id, id))
			return nd;
	return NULL;
}

static void netdev_unlink(struct netdev *nd)
{
	for (struct netdev **pp = &netdevs; *pp; pp = &(*pp)->next) {
		if (*pp == nd) {
			*pp = nd->next;
			return;
		}
	}
}

/* Detach whatever ports a backend left behind: a backend bug, but the
 * switch must not keep forwarding to a netdev that no longer exists */
static void netdev_detach_leftovers(struct netdev *nd)
{
	while (nd->ports) {
		struct port *p = nd->ports;

		log_warn("netdev %s: backend left port %s attached", nd->id,
			 p->name);
		port_detach(p);
	}
}

/* The checks common to netdev_check() and netdev_add(); the backend on
 * success */
static const struct backend_ops *netdev_check_common(const json_t *args,
						     struct nh_error **errp)
{
	const struct backend_ops *ops;
	const char *id, *type;

	if (!json_is_object(args)) {
		nh_error_setg(errp, "Invalid parameter type for 'netdev', "
				    "expected: object");
		return NULL;
	}
	if (!opts_has(args, "type")) {
		nh_error_setg(errp, "Parameter 'type' is missing");
		return NULL;
	}
	type = opts_get_str(args, "type", NULL, errp);
	if (!type)
		return NULL;
	if (!opts_has(args, "id")) {
		nh_error_setg(errp, "Parameter 'id' is missing");
		return NULL;
	}
	id = opts_get_str(args, "id", NULL, errp);
	if (!id)
		return NULL;
	if (!backend_type_known(type)) {
		nh_error_setg(errp, "Parameter 'type' does not accept value '%s'",
			      type);
		return NULL;
	}
	if (!netdev_valid_id(id)) {
		nh_error_setg(errp, "Parameter 'id' expects an identifier");
		return NULL;
	}
	if (netdev_find(id)) {
		nh_error_setg(errp, "Duplicate ID '%s'", id);
		return NULL;
	}
	ops = backend_find(type);
	if (!ops) {
		nh_error_setg(errp,
			      "network backend '%s' is not compiled into this "
			      "binary",
			      type);
		return NULL;
	}
	return ops;
}

bool netdev_check(const json_t *args, struct nh_error **errp)
{
	const struct backend_ops *ops = netdev_check_common(args, errp);

	if (!ops)
		return false;
	return !ops->check || ops->check(args, errp);
}

struct netdev *netdev_add(uv_loop_t *loop, const json_t *args,
			  struct nh_error **errp)
{
	const struct backend_ops *ops = netdev_check_common(args, errp);
	struct nh_error *err = NULL;
	struct netdev *nd, **tail;

	if (!ops)
		return NULL;
	nd = calloc(1, sizeof(*nd));
	if (!nd)
		abort();
	snprintf(nd->id, sizeof(nd->id), "%s",
		 json_string_value(json_object_get(args, "id")));
	nd->ops = ops;
	nd->loop = loop;
	nd->opts = json_deep_copy(args);
	nd->link_up = true;
	nd->next_peer = 1;
	/* Listed before open: ports made during open must be findable */
	for (tail = &netdevs; *tail; tail = &(*tail)->next)
		;
	*tail = nd;

	if (!ops->open(nd, args, &err)) {
		if (!err)
			nh_error_setg(&err, "Device '%s' could not be initialized",
				      nd->id);
		netdev_detach_leftovers(nd);
		netdev_unlink(nd);
		json_decref(nd->opts);
		free(nd);
		if (errp)
			*errp = err;
		else
			nh_error_free(err);
		return NULL;
	}
	/* A hub with a netdev on it exists even while no peer is connected */
	if (!ops->portless)
		nd->hub_held = hub_hold(nd->hubid);
	log_info("netdev %s: %s backend started on hub %d", nd->id, ops->type,
		 nd->hubid);
	return nd;
}

static void netdev_destroy(struct netdev *nd)
{
	/* Whoever named this netdev no longer has it to move */
	if (nd->attached_by)
		nd->attached_by->attaches = NULL;
	/* A NIC in front of it stays, without a backend (as in QEMU) */
	if (nd->front)
		nd->front->gone(nd->front);
	/* Its captures end first, as QEMU removes a netdev's filters */
	port_notify_netdev_removing(nd);
	nd->ops->close(nd);
	netdev_detach_leftovers(nd);
	if (nd->hub_held)
		hub_release(nd->hub_held);
	netdev_unlink(nd);
	log_info("netdev %s: removed", nd->id);
	json_decref(nd->opts);
	free(nd);
}

bool netdev_del(const char *id, struct nh_error **errp)
{
	struct netdev *nd = netdev_find(id);

	if (!nd) {
		nh_error_set(errp, NH_ERR_DEVICE_NOT_FOUND,
			     "Device '%s' not found", id);
		return false;
	}
	netdev_destroy(nd);
	return true;
}

void netdev_del_all(void)
{
	while (netdevs) {
		struct netdev *last = netdevs;

		while (last->next)
			last = last->next;
		netdev_destroy(last);
	}
}

static void netdev_apply_link(struct netdev *nd, bool up)
{
	bool was = nd->link_up;

	nd->link_up = up;
	for (struct port *p = nd->ports; p; p = p->netdev_next) {
		if (nd->ops->set_link)
			nd->ops->set_link(p, port_is_up(p));
		if (!port_is_up(p))
			hub_flush_port(p);
	}
	if (was != up)
		log_info("netdev %s: link %s", nd->id, up ? "up" : "down");
}

bool netdev_set_link(const char *name, bool up, struct nh_error **errp)
{
	struct netdev *nd = netdev_find(name);
	struct port *p;

	if (nd) {
		netdev_apply_link(nd, up);
		/* A NIC and its backend share one link: QEMU sets a NIC
		 * peer's too, and nethub the backend of a NIC as well */
		if (nd->peer)
			netdev_apply_link(nd->peer, up);
		return true;
	}
	p = port_find(name);
	if (p) {
		port_set_link(p, up);
		return true;
	}
	nh_error_set(errp, NH_ERR_DEVICE_NOT_FOUND, "Device '%s' not found",
		     name);
	return false;
}

void netdev_move_to_hub(struct netdev *nd, int32_t hubid, struct netdev *by)
{
	nd->attached_by = by;
	if (nd->hubid == hubid)
		return;
	nd->hubid = hubid;
	/* A hubport naming a NIC moves the backend's ports */
	if (nd->ops->portless && nd->peer)
		netdev_move_to_hub(nd->peer, hubid, NULL);
	if (nd->hub_held) {
		struct hub *old = nd->hub_held;

		nd->hub_held = hub_hold(hubid);
		hub_release(old);
	}
	for (struct port *p = nd->ports; p; p = p->netdev_next)
		port_move(p, hubid);
	log_info("netdev %s: moved to hub %d", nd->id, hubid);
}

static json_t *drops_json(const uint64_t *drops)
{
	json_t *o = json_object();

	for (unsigned i = 0; i < PORT_DROP__COUNT; i++)
		json_object_set_new(o, port_drop_name((enum port_drop)i),
				    json_integer((json_int_t)drops[i]));
	return o;
}

/* The addresses learned on a port, at most PORT_INFO_MACS_MAX of them */
#define PORT_INFO_MACS_MAX 8

struct port_macs {
	uint32_t port_no;
	json_t *list;
};

static void port_macs_add(const struct fdb_entry_info *e, void *ctx)
{
	struct port_macs *pm = ctx;
	char text[18];

	if (e->port_no != pm->port_no || e->is_static ||
	    json_array_size(pm->list) >= PORT_INFO_MACS_MAX)
		return;
	snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x",
		 e->mac[0], e->mac[1], e->mac[2], e->mac[3], e->mac[4],
		 e->mac[5]);
	json_array_append_new(pm->list, json_string(text));
}

json_t *port_info(const struct port *p)
{
	const struct port_stats *s = &p->stats;
	json_t *o = json_object(), *st = json_object();

	json_object_set_new(o, "name", json_string(p->name));
	if (p->alias[0])
		json_object_set_new(o, "alias", json_string(p->alias));
	if (p->hub) {
		struct port_macs pm = { p->port_no, json_array() };

		json_object_set_new(o, "hub", json_integer(p->hub->id));
		fdb_foreach(p->hub->fdb, clock_now_ms(), port_macs_add, &pm);
		json_object_set_new(o, "macs", pm.list);
	}
	json_object_set_new(o, "link", json_boolean(port_is_up(p)));
	json_object_set_new(o, "mtu", json_integer(p->mtu));
	json_object_set_new(st, "rx-frames", json_integer((json_int_t)s->rx_frames));
	json_object_set_new(st, "rx-bytes", json_integer((json_int_t)s->rx_bytes));
	json_object_set_new(st, "rx-forwarded",
			    json_integer((json_int_t)s->rx_forwarded));
	json_object_set_new(st, "tx-frames", json_integer((json_int_t)s->tx_frames));
	json_object_set_new(st, "tx-bytes", json_integer((json_int_t)s->tx_bytes));
	json_object_set_new(st, "tx-gso-frames",
			    json_integer((json_int_t)s->tx_gso_frames));
	json_object_set_new(st, "tx-gso-segments",
			    json_integer((json_int_t)s->tx_gso_segments));
	json_object_set_new(st, "tx-stalls",
			    json_integer((json_int_t)s->tx_stalls));
	json_object_set_new(st, "rx-drops", drops_json(s->rx_drops));
	json_object_set_new(st, "tx-drops", drops_json(s->tx_drops));
	json_object_set_new(o, "stats", st);
	if (p->netdev && p->netdev->ops->port_info)
		p->netdev->ops->port_info(p, o);
	return o;
}

json_t *netdev_info(const struct netdev *nd)
{
	json_t *o = json_object(), *info = json_object(), *ports = json_array();

	json_object_set_new(o, "id", json_string(nd->id));
	json_object_set_new(o, "type", json_string(nd->ops->type));
	json_object_set_new(o, "hub", json_integer(nd->hubid));
	json_object_set_new(o, "link", json_boolean(nd->link_up));
	json_object_set_new(o, "options", json_deep_copy(nd->opts));
	if (nd->attached_by)
		json_object_set_new(o, "attached-by",
				    json_string(nd->attached_by->id));
	if (nd->ops->info)
		nd->ops->info(nd, info);
	json_object_set_new(o, "info", info);
	for (const struct port *p = nd->ports; p; p = p->netdev_next)
		json_array_append_new(ports, port_info(p));
	json_object_set_new(o, "ports", ports);
	return o;
}
