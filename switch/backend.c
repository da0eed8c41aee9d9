// SPDX-License-Identifier: MIT
/* backend.c - the table of netdev drivers the core knows, by type name
 *
 * The core defines the provider interface (backend.h) and keeps this table;
 * the layer above fills it at start-up (backends/registry.c, called from
 * nethubd's main), so the core never names a driver.
 *
 * Never: include a backend's header or call a driver other than through
 * its ops table.
 */

#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "log.h"

#define BACKEND_TYPES_MAX 32

static struct {
	const char *type;
	const struct backend_ops *ops; /* NULL: known, not built in */
} backend_types[BACKEND_TYPES_MAX];
static unsigned backend_ntypes;

static int backend_slot(const char *type)
{
	for (unsigned i = 0; i < backend_ntypes; i++)
		if (!strcmp(backend_types[i].type, type))
			return (int)i;
	return -1;
}

void backend_register(const char *type, const struct backend_ops *ops)
{
	int i = backend_slot(type);

	if (i < 0) {
		if (backend_ntypes == BACKEND_TYPES_MAX) {
			log_err("backend %s: too many netdev types", type);
			return;
		}
		i = (int)backend_ntypes++;
		backend_types[i].type = type;
	}
	backend_types[i].ops = ops;
}

const struct backend_ops *backend_find(const char *type)
{
	int i = backend_slot(type);

	return i < 0 ? NULL : backend_types[i].ops;
}

bool backend_type_known(const char *type)
{
	return backend_slot(type) >= 0;
}
