// SPDX-License-Identifier: MIT
/* registry.c - the drivers of this build, by QEMU's NetClientDriver name
 *
 * Every type of the schema's NetClientDriver enum is registered with the
 * core; those whose driver is compiled in with its ops.  vmnet-* exist only
 * on macOS and are not registered on Linux, as in QEMU.  "pcap" and
 * "vxlan" are nethub's own; "stream" and "dgram" are QEMU 7.2's, newer
 * than the reference schema.
 */

#include <stddef.h>

#include "backend.h"
#include "registry.h"

extern const struct backend_ops bridge_backend;
extern const struct backend_ops dgram_backend;
extern const struct backend_ops hubport_backend;
extern const struct backend_ops l2tpv3_backend;
extern const struct backend_ops netmap_backend;
extern const struct backend_ops nic_backend;
extern const struct backend_ops pcap_backend;
extern const struct backend_ops none_backend;
extern const struct backend_ops socket_backend;
extern const struct backend_ops stream_backend;
extern const struct backend_ops tap_backend;
extern const struct backend_ops user_backend;
extern const struct backend_ops vhost_user_backend;
extern const struct backend_ops vxlan_backend;
extern const struct backend_ops vhost_vdpa_backend;
#ifdef NH_HAVE_VDE
extern const struct backend_ops vde_backend;
#define VDE_BACKEND (&vde_backend)
#else
#define VDE_BACKEND NULL
#endif

static const struct {
	const char *type;
	const struct backend_ops *ops; /* NULL: not compiled in */
} backend_table[] = {
	{ "none", &none_backend },
	{ "nic", &nic_backend },
	{ "user", &user_backend },
	{ "tap", &tap_backend },
	{ "l2tpv3", &l2tpv3_backend },
	{ "socket", &socket_backend },
	{ "vde", VDE_BACKEND },
	{ "bridge", &bridge_backend },
	{ "hubport", &hubport_backend },
	{ "netmap", &netmap_backend }, /* refuses, saying what it needs */
	{ "vhost-user", &vhost_user_backend },
	{ "vhost-vdpa", &vhost_vdpa_backend }, /* the same */
	{ "pcap", &pcap_backend }, /* nethub extension */
	{ "stream", &stream_backend }, /* QEMU 7.2's; an extension here */
	{ "dgram", &dgram_backend },   /* QEMU 7.2's; an extension here */
	{ "vxlan", &vxlan_backend }, /* nethub extension */
};

void backends_register_all(void)
{
	for (size_t i = 0; i < sizeof(backend_table) / sizeof(backend_table[0]);
	     i++)
		backend_register(backend_table[i].type, backend_table[i].ops);
}
