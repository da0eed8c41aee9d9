/* SPDX-License-Identifier: MIT */
/* metrics.h - nethub's counters in Prometheus' text exposition format
 *
 * One rendering, used by `nethubctl metrics` (from QMP answers) and by
 * nethubd's -metrics HTTP endpoint (from the live state), so a scrape and
 * the command print the same families, names and labels.
 */
#ifndef NH_METRICS_H
#define NH_METRICS_H

#include <jansson.h>

/* The Content-Type of the text format */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/**
 * metrics_text() - every number in @netdevs (query-netdevs' return value)
 * and @hubs (query-hubs') as Prometheus samples
 *
 * Port counters become nethub_port_<counter>_total{netdev,port,hub} (drops
 * by reason: nethub_port_rx_drops_total{...,reason}); hub counters
 * nethub_hub_*{hub}; the numbers a netdev's driver reports in its "info"
 * nethub_netdev_driver_<key>{netdev,type}.  Each family has its # HELP and
 * # TYPE lines once, its samples after them.  Members that are not
 * numbers or booleans (names, addresses) are left out.
 * Return: the text (caller frees), or NULL if out of memory.
 */
char *metrics_text(const json_t *netdevs, const json_t *hubs);

#endif /* NH_METRICS_H */
