// SPDX-License-Identifier: MIT
/* nethubctl_metrics.c - `nethubctl metrics`: every counter of a running
 * nethubd in Prometheus' text format, as its -metrics endpoint serves them
 *
 * Asks query-netdevs and query-hubs and renders the answers with
 * metrics_text(), the code the daemon's endpoint uses: a file for
 * node_exporter's textfile collector, or a look without an HTTP server.
 */

#include <stdio.h>
#include <stdlib.h>

#include "metrics.h"
#include "nethubctl.h"

int ctl_metrics_main(const struct ctl_opts *opts, int argc, char **argv)
{
	struct ctl_conn *c = NULL;
	json_t *netdevs = NULL, *hubs = NULL;
	char *text;
	int rc;

	if (argc > 1)
		return ctl_fail("metrics: unexpected '%s' (try 'nethubctl "
				"--help')",
				argv[1]);
	rc = ctl_open(opts, &c);
	if (!rc)
		rc = ctl_call(c, "query-netdevs", NULL, &netdevs);
	if (!rc)
		rc = ctl_call(c, "query-hubs", NULL, &hubs);
	if (!rc) {
		text = metrics_text(netdevs, hubs);
		if (!text)
			rc = ctl_fail("out of memory");
		else
			fputs(text, stdout);
		free(text);
	}
	json_decref(netdevs);
	json_decref(hubs);
	ctl_close(c);
	return rc;
}
