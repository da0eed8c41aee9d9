// SPDX-License-Identifier: MIT
/* hubport.c - the "hubport" netdev: puts another netdev on hub `hubid`
 *
 * QEMU's hubport is a port of an internal hub peered with a backend.  In
 * nethub every netdev's ports already live on a hub (hub 0 by default), so a
 * hubport with `netdev=X` moves X's ports to hub `hubid`, and deleting the
 * hubport puts X back on hub 0.  A hubport without `netdev` only makes sure
 * the hub exists while the hubport does.  A hubport has no ports of its own.
 */

#include "backend.h"
#include "hub.h"
#include "opts.h"

static bool hubport_check(const json_t *opts, struct nh_error **errp)
{
	static const char *const keys[] = { "id", "type", "hubid", "netdev",
					    NULL };
	int64_t hubid;

	if (!opts_check_keys(opts, keys, errp))
		return false;
	if (!opts_has(opts, "hubid")) {
		nh_error_setg(errp, "Parameter 'hubid' is missing");
		return false;
	}
	if (!opts_get_int(opts, "hubid", INT32_MIN, INT32_MAX, &hubid, errp))
		return false;
	return !opts_has(opts, "netdev") ||
	       opts_get_str(opts, "netdev", NULL, errp);
}

static bool hubport_open(struct netdev *nd, const json_t *opts,
			 struct nh_error **errp)
{
	struct netdev *target = NULL;
	int64_t hubid = 0;

	if (!hubport_check(opts, errp))
		return false;
	opts_get_int(opts, "hubid", INT32_MIN, INT32_MAX, &hubid, NULL);
	if (opts_has(opts, "netdev")) {
		const char *name = opts_get_str(opts, "netdev", NULL, NULL);

		target = netdev_find(name);
		if (!target) {
			nh_error_setg(errp, "netdev '%s' not found", name);
			return false;
		}
		if (target == nd || target->ops == nd->ops) {
			nh_error_setg(errp,
				      "netdev '%s' is a hubport: a hubport "
				      "names a backend",
				      name);
			return false;
		}
		if (target->attached_by) {
			nh_error_setg(errp,
				      "netdev '%s' is already on hub %d through "
				      "hubport '%s'",
				      name, target->hubid,
				      target->attached_by->id);
			return false;
		}
	}
	nd->hubid = (int32_t)hubid;
	nd->priv = hub_hold(nd->hubid);
	if (target) {
		nd->attaches = target;
		netdev_move_to_hub(target, nd->hubid, nd);
	}
	return true;
}

static void hubport_close(struct netdev *nd)
{
	if (nd->attaches) {
		netdev_move_to_hub(nd->attaches, 0, NULL);
		nd->attaches = NULL;
	}
	hub_release(nd->priv);
	nd->priv = NULL;
}

static unsigned hubport_send(struct port *p, struct frame *const *frames,
			     unsigned n)
{
	(void)p;
	(void)frames;
	(void)n;
	return 0; /* never called: a hubport has no ports */
}

static void hubport_info(const struct netdev *nd, json_t *obj)
{
	json_object_set_new(obj, "hubid", json_integer(nd->hubid));
	if (nd->attaches)
		json_object_set_new(obj, "netdev",
				    json_string(nd->attaches->id));
}

const struct backend_ops hubport_backend = {
	.type = "hubport",
	.portless = true,
	.check = hubport_check,
	.open = hubport_open,
	.close = hubport_close,
	.send = hubport_send,
	.info = hubport_info,
};
