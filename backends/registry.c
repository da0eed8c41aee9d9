// SPDX-License-Identifier: MIT
/* registry.c - the drivers of this build, by QEMU's NetClientDriver name
 *
 * Every type of the schema's NetClientDriver enum is registered with the
 * core; those whose driver is compiled in with its ops.  vmnet-* exist only
 * on macOS and are not registered on Linux, as in QEMU.  "pcap" and
 * "vxlan" are nethub's own.
 */

#include <stddef.h>

#include "backend.h"
#include "registry.h"

extern const struct backend_ops bridge_backend;
extern const struct backend_ops hubport_backend;
extern const struct backend_ops l2tpv3_backend;
extern const struct backend_ops nic_backend;
extern const struct backend_ops pcap_backend;
extern const struct backend_ops none_backend;
extern const struct backend_ops socket_backend;
extern const struct backend_ops tap_backend;
extern const struct backend_ops vhost_user_backend;
extern const struct backend_ops vxlan_backend;

static const struct {
	const char *type;
	const struct backend_ops *ops; /* NULL: not compiled in */
} backend_table[] = {
	{ "none", &none_backend },
	{ "nic", &nic_backend },
	{ "user", NULL },
	{ "tap", &tap_backend },
	{ "l2tpv3", &l2tpv3_backend },
	{ "socket", &socket_backend },
	{ "vde", NULL },
	{ "bridge", &bridge_backend },
	{ "hubport", &hubport_backend },
	{ "netmap", NULL },
	{ "vhost-user", &vhost_user_backend },
	{ "vhost-vdpa", NULL },
	{ "pcap", &pcap_backend }, /* nethub extension */
	{ "vxlan", &vxlan_backend }, /* nethub extension */
};

void backends_register_all(void)
{
	for (size_t i = 0; i < sizeof(backend_table) / sizeof(backend_table[0]);
	     i++)
		backend_register(backend_table[i].type, backend_table[i].ops);
}
