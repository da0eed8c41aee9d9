/* SPDX-License-Identifier: MIT */
/* user.h - what the control layer may ask of a running "user" netdev
 *
 * QEMU has these as HMP commands; nethub serves them as QMP commands
 * (hostfwd_add, hostfwd_remove: nethub extensions).
 */
#ifndef NH_USER_H
#define NH_USER_H

#include <stdbool.h>

#include "error.h"

/**
 * user_hostfwd_add() - add a host forwarding rule to user netdev @id
 * @rule:	"[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport"
 *
 * Errors: DeviceNotFound "Device 'X' not found"; "netdev 'X' is not a user
 * netdev"; "Invalid host forwarding rule 'R' (WHY)"; "Could not set up
 * host forwarding rule 'R': STRERROR" (the port is in use...).
 */
bool user_hostfwd_add(const char *id, const char *rule, struct nh_error **errp);

/**
 * user_hostfwd_remove() - remove the rule listening on a host port
 * @rule:	"[tcp|udp]:[hostaddr]:hostport", or a whole rule as given to
 *		user_hostfwd_add()
 *
 * Errors: as above, "invalid format: 'R' (...)", "host forwarding rule for
 * R not found".
 */
bool user_hostfwd_remove(const char *id, const char *rule,
			 struct nh_error **errp);

#endif /* NH_USER_H */
