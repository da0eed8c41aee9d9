// SPDX-License-Identifier: MIT
/* test_metrics.c - metrics_text(): Prometheus text from query-netdevs and
 * query-hubs answers (families once, labels escaped, only numbers)
 */

#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "tap.h"

static char *render(const char *netdevs, const char *hubs)
{
	json_t *n = json_loads(netdevs, 0, NULL),
	       *h = json_loads(hubs, 0, NULL);
	char *text = metrics_text(n, h);

	json_decref(n);
	json_decref(h);
	return text;
}

/* How many times @needle occurs in @hay */
static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static const char two_ports[] =
    "[{\"id\": \"vms\", \"type\": \"socket\", \"hub\": 0, \"link\": true,"
    " \"info\": {\"mode\": \"listen\", \"peers\": 2,"
    "            \"ring\": {\"size\": 256}},"
    " \"ports\": ["
    "  {\"name\": \"vms.1\", \"hub\": 0, \"link\": true, \"mtu\": 65521,"
    "   \"peer\": \"127.0.0.1:1\","
    "   \"stats\": {\"rx-frames\": 5, \"tx-frames\": 7,"
    "              \"rx-drops\": {\"queue-full\": 1, \"filtered\": 0}}},"
    "  {\"name\": \"vms.2\", \"hub\": 0, \"link\": false, \"mtu\": 1514,"
    "   \"stats\": {\"rx-frames\": 9, \"tx-frames\": 0,"
    "              \"rx-drops\": {\"queue-full\": 3, \"filtered\": 2}}}]}]";

static void test_metrics_each_family_once_with_its_samples(void)
{
	char *t = render(two_ports, "[{\"id\": 0, \"fdb-entries\": 2, "
				    "\"floods\": 4, \"fdb-stats\": "
				    "{\"learned\": 2}}]");

	CHECK(t != NULL);
	if (!t)
		return;
	CHECK_EQ(count(t, "# TYPE nethub_port_rx_frames_total counter\n"), 1);
	CHECK_EQ(count(t, "# HELP nethub_port_rx_frames_total "), 1);
	CHECK(strstr(t, "nethub_port_rx_frames_total{netdev=\"vms\","
			"port=\"vms.1\",hub=\"0\"} 5\n"));
	CHECK(strstr(t, "nethub_port_rx_frames_total{netdev=\"vms\","
			"port=\"vms.2\",hub=\"0\"} 9\n"));
	CHECK(strstr(t, "nethub_port_rx_drops_total{netdev=\"vms\","
			"port=\"vms.2\",hub=\"0\",reason=\"filtered\"} 2\n"));
	CHECK(strstr(t, "nethub_port_link_up{netdev=\"vms\",port=\"vms.2\","
			"hub=\"0\"} 0\n"));
	CHECK(strstr(t, "nethub_port_mtu_bytes{netdev=\"vms\",port=\"vms.1\","
			"hub=\"0\"} 65521\n"));
	CHECK(strstr(t, "nethub_netdev_driver_peers{netdev=\"vms\","
			"type=\"socket\"} 2\n"));
	CHECK(strstr(t, "nethub_netdev_driver_ring_size{netdev=\"vms\","
			"type=\"socket\"} 256\n"));
	CHECK(strstr(t, "nethub_hub_floods_total{hub=\"0\"} 4\n"));
	CHECK(strstr(t, "nethub_hub_fdb_learned_total{hub=\"0\"} 2\n"));
	/* strings are not samples */
	CHECK(!strstr(t, "mode"));
	CHECK(!strstr(t, "127.0.0.1"));
	/* the samples of a family follow its TYPE line, together */
	CHECK(strstr(t, "# TYPE nethub_port_rx_frames_total counter\n"
			"nethub_port_rx_frames_total{netdev=\"vms\","
			"port=\"vms.1\",hub=\"0\"} 5\n"
			"nethub_port_rx_frames_total{netdev=\"vms\","
			"port=\"vms.2\",hub=\"0\"} 9\n"));
	free(t);
}

static void test_metrics_label_values_are_escaped(void)
{
	char *t = render("[{\"id\": \"a\\\"b\\\\c\\nd\", \"type\": \"x\", "
			 "\"link\": true, \"ports\": []}]",
			 "[]");

	CHECK(t != NULL);
	if (!t)
		return;
	CHECK(strstr(t, "nethub_netdev_link_up{netdev=\"a\\\"b\\\\c\\nd\","
			"type=\"x\"} 1\n"));
	free(t);
}

static void test_metrics_of_nothing_is_empty(void)
{
	char *t = render("[]", "[]");

	CHECK(t != NULL && !strcmp(t, ""));
	free(t);
}

int main(void)
{
	TAP_RUN(test_metrics_each_family_once_with_its_samples);
	TAP_RUN(test_metrics_label_values_are_escaped);
	TAP_RUN(test_metrics_of_nothing_is_empty);
	return tap_done();
}
