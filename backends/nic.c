// SPDX-License-Identifier: MIT
/* nic.c - the "nic" netdev: a guest NIC in front of another netdev
 *
 * `-netdev nic,id=ID,netdev=BACKEND[,macaddr=MAC][,model=M][,addr=A]
 * [,vectors=N]`.  The NIC itself (MAC pin, filter, snooping) is
 * switch/nic.c; this file checks the options and ties the NIC's life to the
 * netdev's.  A nic has no ports of its own: its backend's ports carry it.
 * Deleting the nic leaves the backend as a plain netdev.
 */

#include <string.h>

#include "backend.h"
#include "guest_nic.h"
#include "opts.h"

static bool nic_check(const json_t *opts, struct nh_error **errp)
{
	static const char *const keys[] = { "id",    "type", "netdev",
					    "macaddr", "model", "addr",
					    "vectors", NULL };
	int64_t vectors;
	uint8_t mac[6];

	if (!opts_check_keys(opts, keys, errp))
		return false;
	if (!opts_has(opts, "netdev")) {
		nh_error_setg(errp, "Parameter 'netdev' is missing");
		return false;
	}
	if (!opts_get_str(opts, "netdev", NULL, errp))
		return false;
	if (opts_has(opts, "model") && !opts_get_str(opts, "model", NULL, errp))
		return false;
	if (opts_has(opts, "addr") && !opts_get_str(opts, "addr", NULL, errp))
		return false;
	if (opts_has(opts, "macaddr")) {
		const char *s = opts_get_str(opts, "macaddr", NULL, errp);

		if (!s)
			return false;
		if (!nic_parse_mac(s, mac)) {
			nh_error_setg(errp,
				      "invalid syntax for ethernet address");
			return false;
		}
		if (mac[0] & 1) {
			nh_error_setg(errp, "NIC cannot have multicast MAC "
					    "address (odd 1st byte)");
			return false;
		}
	}
	if (!opts_get_int(opts, "vectors", 0, UINT32_MAX, &vectors, errp))
		return false;
	if (opts_has(opts, "vectors") && vectors > 0x7ffffff) {
		nh_error_setg(errp, "invalid # of vectors: %lld",
			      (long long)vectors);
		return false;
	}
	return true;
}

static bool nic_open(struct netdev *nd, const json_t *opts,
		     struct nh_error **errp)
{
	const char *name;
	struct netdev *be;
	uint8_t mac[6];

	if (!nic_check(opts, errp))
		return false;
	name = opts_get_str(opts, "netdev", NULL, NULL);
	be = netdev_find(name);
	if (!be || be == nd) {
		nh_error_setg(errp, "netdev '%s' not found", name);
		return false;
	}
	if (be->ops == nd->ops || be->ops->portless) {
		nh_error_setg(errp,
			      "netdev '%s' is a %s: a NIC fronts a backend "
			      "that has ports",
			      name, netdev_type(be));
		return false;
	}
	if (nic_of_backend(be)) {
		nh_error_setg(errp, "netdev '%s' is already in use by NIC '%s'",
			      name, nic_name(nic_of_backend(be)));
		return false;
	}
	if (opts_has(opts, "macaddr"))
		nic_parse_mac(opts_get_str(opts, "macaddr", NULL, NULL), mac);
	else
		nic_default_mac(nd->id, mac);
	if (!nic_new(nd, be, mac)) {
		nh_error_setg(errp, "nic '%s': out of memory", nd->id);
		return false;
	}
	return true;
}

static void nic_close(struct netdev *nd)
{
	nic_free(nic_from_netdev(nd));
}

static unsigned nic_send(struct port *p, struct frame *const *frames,
			 unsigned n)
{
	(void)p;
	(void)frames;
	(void)n;
	return 0; /* never called: a nic has no ports */
}

static void nic_backend_info(const struct netdev *nd, json_t *obj)
{
	const struct nic *nic = nic_from_netdev(nd);

	if (nic)
		nic_info(nic, obj);
}

const struct backend_ops nic_backend = {
	.type = "nic",
	.portless = true,
	.check = nic_check,
	.open = nic_open,
	.close = nic_close,
	.send = nic_send,
	.info = nic_backend_info,
};
