/* SPDX-License-Identifier: MIT */
/* capture.h - filter-dump captures: frames of a netdev, a port or a hub
 * written to a pcap file (or FIFO) by libpcap
 *
 * A capture is QEMU's filter-dump object: made by object-add (or -object),
 * removed by object-del, by the removal of what it watches, or at shutdown.
 * What it watches, and which frames (the netdev's point of view, as QEMU's
 * "queue" property says it):
 *
 *   netdev=ID		every port of netdev ID, present and future; for a
 *			NIC, the ports of the netdev behind it
 *   netdev=ID.N	one accepted port
 *   queue=tx		frames the netdev sends: what its ports receive from
 *			their medium (port_input(); the port's rx counters)
 *   queue=rx		frames sent to the netdev: what its ports' backends
 *			took from the switch (the port's tx counters), after
 *			a NIC's rx filter
 *   queue=all		both, in the order they passed
 *   hubid=N		(nethub) every frame entering hub N (hub_input())
 *
 * Data path: while a capture exists the module listens on the hub tap
 * (hub.h), called once per burst.  Per frame it runs the capture's BPF filter
 * (if any) and copy up to maxlen bytes with a timestamp into the capture's
 * bounded ring; a full ring, a FIFO without reader and a failed capture
 * count the frame as dropped.  They never block, allocate or make a system
 * call.  A writer thread per capture drains the ring into the file with
 * libpcap (pcap_dump()), opening a FIFO there, so a slow reader costs
 * capture drops and never forwarding.
 *
 * Accounting, per capture, once its ring is drained:
 *   frames seen = frames (written) + filtered + dropped
 *
 * A capture ends with what it watches: the module observes ports and
 * netdevs going (port_add_observer()) while a
 * capture exists, as QEMU removes a netdev's filters with the netdev.
 *
 * Everything but the tap runs on the control path of the daemon's loop.
 */
#ifndef NH_CAPTURE_H
#define NH_CAPTURE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "frame.h"

struct port;
struct hub;
struct netdev;
struct capture;

#define CAPTURE_MAXLEN_DEFAULT	65536		 /* QEMU's default snaplen */
#define CAPTURE_RING_BYTES	(4u * 1024 * 1024) /* per capture */
#define CAPTURE_IDLE_WAIT_MS	5   /* writer's nap while its ring is empty */
#define CAPTURE_FIFO_RETRY_MS	50  /* writer's retry of a reader-less FIFO */
#define CAPTURE_STOP_WAIT_MS	500 /* how long a stopping capture waits for
				     * a FIFO reader to take what is left */

/* Which frames, as QEMU's NetFilterDirection names them */
enum capture_queue {
	CAPTURE_QUEUE_ALL,
	CAPTURE_QUEUE_RX,
	CAPTURE_QUEUE_TX,
};

/* Counters of one capture (capture_get_stats()) */
struct capture_stats {
	uint64_t seen;	   /* frames offered to it while it was on */
	uint64_t frames;   /* written to the file */
	uint64_t bytes;	   /* their original lengths */
	uint64_t filtered; /* did not match the filter */
	uint64_t dropped;  /* ring full, no reader, write error */
};

/* capture_count() - how many captures exist */
unsigned capture_count(void);

/**
 * capture_add() - create and start a capture from object-add arguments
 * @args:	{"qom-type": "filter-dump", "id", "netdev" | "hubid", "file",
 *		"maxlen"?, "queue"?, "status"?, "position"?, "insert"?,
 *		"filter"?}; values may be JSON-typed (QMP) or strings (the
 *		-object keyval form); borrowed
 *
 * Errors (QEMU's text where QEMU has one): "Parameter 'X' is missing",
 * "Parameter 'X' is unexpected", "Parameter 'id' expects an identifier",
 * "attempt to add duplicate property 'ID' to object (type 'container')",
 * "Parameter 'netdev' expects a network backend id", "hub N does not
 * exist", "Property 'filter-dump.maxlen' doesn't take value '0'",
 * "Parameter 'queue' does not accept value 'X'", "Invalid value for
 * netfilter status, should be 'on' or 'off'", "filter 'X' not found" (a
 * position=id=X naming no capture), "Parameter 'filter': EXPR: LIBPCAP'S
 * MESSAGE", "net dump: can't open FILE: STRERROR".  On failure nothing
 * was created.
 *
 * Return: the capture (owned by the capture list), or NULL.
 */
struct capture *capture_add(const json_t *args, struct nh_error **errp);

/**
 * capture_del() - stop capture @id: drain its ring, flush and close the
 * file, then free it.  Error: "object 'ID' not found".
 */
bool capture_del(const char *id, struct nh_error **errp);

/* capture_del_all() - capture_del() every capture (shutdown) */
void capture_del_all(void);

/* capture_find() - by id, or NULL */
struct capture *capture_find(const char *id);

/**
 * capture_info() - @c as query-captures' CaptureInfo: {"id", "netdev"? |
 * "hubid"?, "file", "queue", "maxlen", "filter"?, "status", "frames",
 * "bytes", "filtered", "dropped", "error"?}; caller owns
 */
json_t *capture_info(const struct capture *c);

/* capture_query() - every capture's capture_info(), in creation order */
json_t *capture_query(void);

/* capture_get_stats() - @c's counters now */
void capture_get_stats(const struct capture *c, struct capture_stats *st);

/**
 * capture_sync() - wait until @c's writer has taken everything in its ring
 * (written, or dropped), at most @timeout_ms; false on timeout.  For tests
 * and for readers of the counters that want them settled.
 */
bool capture_sync(struct capture *c, unsigned timeout_ms);

#endif /* NH_CAPTURE_H */
