// SPDX-License-Identifier: MIT
/* vxlan_fdb.c - the vxlan netdev's inner MAC -> remote VTEP table
 *
 * The table is the core's FDB structure (fdb.h) with a VTEP's index for
 * the port number and VLAN 0 for every entry (the kernel's vxlan keeps
 * one table per device, not per VLAN): learned entries age as the hubs'
 * do (--fdb-age), move when a MAC shows up behind another VTEP,
 * and are bounded (VXLAN_FDB_MAX); static entries (vxlan-fdb-add) never
 * age or move.  The flood list is the VTEPs marked flood: the remote=
 * addresses or the group, and those added with the all-zero MAC.
 *
 * Owns: nothing beyond the state's table.  Never: log per frame.
 */

#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "vxlan.h"
#include "vxlan_internal.h"

extern const struct backend_ops vxlan_backend;

static const uint8_t vxlan_zero_mac[6];

struct vxlan_vtep *vxlan_fdb_lookup(struct vxlan_state *s,
				    const uint8_t *mac, uint64_t now)
{
	uint32_t i = fdb_lookup(s->fdb, mac, 0, now);

	return i < s->nvteps ? s->vteps[i] : NULL;
}

void vxlan_fdb_learn(struct vxlan_state *s, const uint8_t *mac,
		     struct vxlan_vtep *v, uint64_t now)
{
	enum fdb_learn_result r;

	if (!s->o.learning || (mac[0] & 1))
		return;
	r = fdb_learn(s->fdb, mac, 0, v->index, now);
	if (r == FDB_FULL || r == FDB_PORT_FULL || r == FDB_GROUP_FULL)
		s->learn_refused++;
}

bool netdev_is_vxlan(const struct netdev *nd)
{
	return nd && nd->ops == &vxlan_backend && nd->priv;
}

/* vxlan_remote() - the VTEP for option text @remote, made if new */
static struct vxlan_vtep *vxlan_remote(struct vxlan_state *s,
				       const char *remote,
				       struct nh_error **errp)
{
	struct sockaddr_any a;

	if (!vxlan_parse_ip("remote", remote, &a, errp))
		return NULL;
	if (a.ss.ss_family == AF_INET
		? IN_MULTICAST(ntohl(
		      ((struct sockaddr_in *)&a.ss)->sin_addr.s_addr))
		: IN6_IS_ADDR_MULTICAST(
		      &((struct sockaddr_in6 *)&a.ss)->sin6_addr)) {
		nh_error_setg(errp, "remote=: %s is a multicast address",
			      remote);
		return NULL;
	}
	return vxlan_vtep_get(s, sockaddr_sa(&a), a.len, errp);
}

bool vxlan_fdb_add(struct netdev *nd, const uint8_t mac[6], const char *remote,
		   struct nh_error **errp)
{
	struct vxlan_state *s = nd->priv;
	struct vxlan_vtep *v;

	if (!netdev_is_vxlan(nd)) {
		nh_error_setg(errp, "netdev %s is not a vxlan netdev", nd->id);
		return false;
	}
	if (mac[0] & 1 && memcmp(mac, vxlan_zero_mac, 6)) {
		nh_error_setg(errp, "mac: a unicast address (or "
				    "00:00:00:00:00:00 for the flood list) "
				    "expected");
		return false;
	}
	v = vxlan_remote(s, remote, errp);
	if (!v)
		return false;
	if (!memcmp(mac, vxlan_zero_mac, 6)) {
		v->flood = true;
		return true;
	}
	if (!fdb_add_static(s->fdb, mac, 0, v->index)) {
		nh_error_setg(errp, "netdev %s: the table cannot take %s",
			      nd->id, remote);
		return false;
	}
	return true;
}

bool vxlan_fdb_del(struct netdev *nd, const uint8_t mac[6], const char *remote,
		   struct nh_error **errp)
{
	struct vxlan_state *s = nd->priv;
	struct sockaddr_any a;
	struct vxlan_vtep *v;

	if (!netdev_is_vxlan(nd)) {
		nh_error_setg(errp, "netdev %s is not a vxlan netdev", nd->id);
		return false;
	}
	if (memcmp(mac, vxlan_zero_mac, 6)) {
		if (!fdb_remove(s->fdb, mac, 0)) {
			nh_error_setg(errp, "netdev %s has no entry for that "
					    "MAC address",
				      nd->id);
			return false;
		}
		return true;
	}
	if (!remote) {
		nh_error_setg(errp, "'remote' is required with the MAC "
				    "00:00:00:00:00:00");
		return false;
	}
	if (!vxlan_parse_ip("remote", remote, &a, errp))
		return false;
	v = vxlan_vtep_find(s, sockaddr_sa(&a), a.len);
	if (!v || !v->flood) {
		nh_error_setg(errp, "netdev %s: %s is not on the flood list",
			      nd->id, remote);
		return false;
	}
	v->flood = false;
	return true;
}

struct vxlan_json_ctx {
	const struct vxlan_state *s;
	json_t *list;
	uint64_t now;
};

static void vxlan_json_entry(const struct fdb_entry_info *e, void *opaque)
{
	struct vxlan_json_ctx *ctx = opaque;
	const struct vxlan_state *s = ctx->s;
	char mac[18];

	if (e->port_no >= s->nvteps)
		return;
	json_array_append_new(
	    ctx->list,
	    json_pack("{ss ss ss sI sb}", "netdev", s->id, "mac",
		      mac_format(e->mac, mac), "remote",
		      s->vteps[e->port_no]->str, "age",
		      (json_int_t)(e->is_static
				       ? 0
				       : (ctx->now - e->last_seen_ms) / 1000),
		      "static", e->is_static));
}

json_t *vxlan_fdb_json(const struct netdev *nd, uint64_t now_ms)
{
	struct vxlan_json_ctx ctx = {nd->priv, json_array(), now_ms};
	const struct vxlan_state *s = nd->priv;

	if (!netdev_is_vxlan(nd))
		return ctx.list;
	for (unsigned i = 0; i < s->nvteps; i++)
		if (s->vteps[i]->flood)
			json_array_append_new(
			    ctx.list,
			    json_pack("{ss ss ss si sb}", "netdev", s->id,
				      "mac", "00:00:00:00:00:00", "remote",
				      s->vteps[i]->str, "age", 0, "static",
				      1));
	fdb_expire(s->fdb, now_ms);
	fdb_foreach(s->fdb, now_ms, vxlan_json_entry, &ctx);
	return ctx.list;
}
