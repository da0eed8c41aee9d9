// SPDX-License-Identifier: MIT
/* unavailable.c - netmap and vhost-vdpa: types nethub has no driver for,
 * which also need something of the host; refused saying what that is and
 * whether this host has it
 *
 * QEMU's "not compiled into this binary" tells a user nothing they can act
 * on for these two: netmap needs the netmap kernel module (/dev/netmap),
 * vhost-vdpa a vDPA device (/dev/vhost-vdpa-N, from the vhost_vdpa module
 * and `vdpa dev add`).  The refusal names the requirement and looks for
 * it, so the user knows whether the host or nethub is what is missing.
 *
 * Never: open, create or keep anything; both ops refuse every netdev.
 */

#include <glob.h>
#include <unistd.h>

#include "backend.h"

#define NETMAP_DEVICE	"/dev/netmap"
#define VHOST_VDPA_GLOB "/dev/vhost-vdpa-*"

static bool netmap_device_present(void)
{
	return access(NETMAP_DEVICE, F_OK) == 0;
}

static bool vdpa_device_present(void)
{
	glob_t g;
	bool found =
	    glob(VHOST_VDPA_GLOB, GLOB_NOSORT, NULL, &g) == 0 && g.gl_pathc > 0;

	globfree(&g);
	return found;
}

static bool netmap_refuse(const json_t *opts, struct nh_error **errp)
{
	(void)opts;
	if (!netmap_device_present())
		nh_error_setg(errp,
			      "network backend 'netmap' needs the netmap "
			      "kernel module (" NETMAP_DEVICE "), which this "
			      "host lacks; nethub has no netmap driver either "
			      "(use tap, socket or vhost-user)");
	else
		nh_error_setg(errp,
			      "network backend 'netmap': this host has the "
			      "netmap kernel module (" NETMAP_DEVICE "), but "
			      "this "
			      "nethubd has no netmap driver (use tap, socket "
			      "or vhost-user)");
	return false;
}

static bool vdpa_refuse(const json_t *opts, struct nh_error **errp)
{
	(void)opts;
	if (!vdpa_device_present())
		nh_error_setg(errp,
			      "network backend 'vhost-vdpa' needs a vDPA "
			      "device (" VHOST_VDPA_GLOB ", from the "
			      "vhost_vdpa kernel module and 'vdpa dev add'), "
			      "which this host lacks; nethub has no vhost-vdpa "
			      "driver either (use vhost-user)");
	else
		nh_error_setg(errp,
			      "network backend 'vhost-vdpa': this host has "
			      "a vDPA device (" VHOST_VDPA_GLOB "), but this "
			      "nethubd has no vhost-vdpa driver (use "
			      "vhost-user)");
	return false;
}

static bool netmap_open(struct netdev *nd, const json_t *opts,
			struct nh_error **errp)
{
	(void)nd;
	return netmap_refuse(opts, errp);
}

static bool vdpa_open(struct netdev *nd, const json_t *opts,
		      struct nh_error **errp)
{
	(void)nd;
	return vdpa_refuse(opts, errp);
}

static void unavailable_close(struct netdev *nd)
{
	(void)nd;
}

static unsigned unavailable_send(struct port *p, struct frame *const *frames,
				 unsigned n)
{
	(void)p;
	(void)frames;
	(void)n;
	return 0; /* never called: open always fails */
}

const struct backend_ops netmap_backend = {
    .type = "netmap",
    .check = netmap_refuse,
    .open = netmap_open,
    .close = unavailable_close,
    .send = unavailable_send,
};

const struct backend_ops vhost_vdpa_backend = {
    .type = "vhost-vdpa",
    .check = vdpa_refuse,
    .open = vdpa_open,
    .close = unavailable_close,
    .send = unavailable_send,
};
