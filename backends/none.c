// SPDX-License-Identifier: MIT
/* none.c - the "none" netdev: accepted, as in QEMU, and carries nothing
 *
 * It makes no port, so no frame ever reaches it.
 */

#include "backend.h"
#include "opts.h"

static bool none_check(const json_t *opts, struct nh_error **errp)
{
	static const char *const keys[] = { "id", "type", NULL };

	return opts_check_keys(opts, keys, errp);
}

static bool none_open(struct netdev *nd, const json_t *opts,
		      struct nh_error **errp)
{
	(void)nd;
	return none_check(opts, errp);
}

static void none_close(struct netdev *nd)
{
	(void)nd;
}

static unsigned none_send(struct port *p, struct frame *const *frames,
			  unsigned n)
{
	(void)p;
	(void)frames;
	(void)n;
	return 0; /* never called: none has no ports */
}

const struct backend_ops none_backend = {
	.type = "none",
	.portless = true,
	.check = none_check,
	.open = none_open,
	.close = none_close,
	.send = none_send,
};
