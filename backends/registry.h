/* SPDX-License-Identifier: MIT */
/* registry.h - the netdev drivers built into this binary */
#ifndef NH_REGISTRY_H
#define NH_REGISTRY_H

/**
 * backends_register_all() - register every netdev type of the schema with
 * the core (backend_register()): the built-in drivers with their ops, the
 * others as known but not compiled in.  Call once at start-up, before any
 * netdev is added.
 */
void backends_register_all(void);

#endif /* NH_REGISTRY_H */
