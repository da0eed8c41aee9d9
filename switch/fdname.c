// SPDX-License-Identifier: MIT
/* PLACEHOLDER - replaced by the QMP server helper */
#include <stddef.h>
#include "fdname.h"
void fdname_set_resolver(fdname_resolver_fn fn, void *ctx) { (void)fn; (void)ctx; }
int fdname_take(const char *value, const char *option, struct nh_error **errp) { (void)value; nh_error_setg(errp, "%s: not yet", option); return -1; }
