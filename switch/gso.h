/* SPDX-License-Identifier: MIT */
/* gso.h - software segmentation and checksums for offloaded frames
 *
 * A frame from a tap with virtio-net headers or from a vhost-user guest
 * that negotiated offloads may be a GSO frame: one large TCP or UDP
 * packet, up to 64 KiB, that stands for the MTU-sized packets it will be
 * cut into (its vnet facts say how: gso_type, gso_size), and whose
 * checksum may be left for the receiver to finish
 * (FRAME_VNET_F_NEEDS_CSUM: csum_start, csum_offset).
 * A port takes the kinds of such frames its medium carries on whole
 * (port->gso_caps, GSO_CAP_* below: a tap with virtio-net headers all of
 * them, a vhost-user guest those its driver accepted); for any other frame
 * the hub calls gso_resolve(), which makes the frames a receiver would
 * have seen on a wire: segments with complete IPv4 header, TCP and UDP
 * checksums.
 *
 * Supported, for IPv4 and IPv6 (with hop-by-hop, routing and destination
 * options headers), behind up to two VLAN tags:
 *   FRAME_GSO_TCPV4, FRAME_GSO_TCPV6  TSO: segments of gso_size payload
 *                      bytes, sequence numbers advanced, IPv4 IDs counted
 *                      up, FIN and PSH only on the last segment, CWR only
 *                      on the first (FRAME_GSO_ECN)
 *   FRAME_GSO_UDP_L4   USO: one UDP datagram of gso_size bytes per segment
 *   FRAME_GSO_UDP      UFO: one UDP datagram sent as IP fragments of
 *                      gso_size bytes (rounded down to a multiple of 8);
 *                      IPv6 gets a fragment header (only when no extension
 *                      header precedes UDP)
 *
 * The vnet facts and the frame's bytes come from outside (the kernel, a
 * guest): every offset and length is checked against the frame before it
 * is used, and a frame whose facts do not match its contents is refused.
 *
 * Never: write into a frame somebody else holds a reference to, or read
 * outside [data, data + len).
 */
#ifndef NH_GSO_H
#define NH_GSO_H

#include <stdbool.h>
#include <stdint.h>

#include "frame.h"

/* Segments one GSO frame may stand for: a 64 KiB TCP frame at the
 * smallest MSS Linux uses (88 bytes) is 745 of them */
#define GSO_SEGS_MAX 1024

/* gso_offloaded() - @f needs gso_resolve() before a port without GSO
 * support may have it: it is a GSO frame, or its checksum is unfinished */
static inline bool gso_offloaded(const struct frame *f)
{
	return f->vnet.gso_type != FRAME_GSO_NONE ||
	       (f->vnet.flags & FRAME_VNET_F_NEEDS_CSUM);
}

/*
 * Kinds of offloaded frames a port may take whole (port->gso_caps).  A
 * frame goes whole only to a port that takes every kind it needs
 * (gso_needs()): a TSO frame with an unfinished checksum needs the TSO
 * kind of its IP version and GSO_CAP_CSUM.
 */
#define GSO_CAP_CSUM 0x01 /* FRAME_VNET_F_NEEDS_CSUM: checksum left open */
#define GSO_CAP_TSO4 0x02 /* FRAME_GSO_TCPV4 */
#define GSO_CAP_TSO6 0x04 /* FRAME_GSO_TCPV6 */
#define GSO_CAP_ECN  0x08 /* TSO with FRAME_GSO_ECN (CWR on the first) */
#define GSO_CAP_UFO  0x10 /* FRAME_GSO_UDP */
#define GSO_CAP_USO  0x20 /* FRAME_GSO_UDP_L4, over IPv4 and IPv6 alike */
#define GSO_CAP_ALL  0x3f

/* gso_needs() - the GSO_CAP_* kinds a port must take to be given @f
 * whole; a GSO type gso_check() does not know needs a kind no port has */
static inline unsigned gso_needs(const struct frame *f)
{
	unsigned need = 0;

	switch (f->vnet.gso_type & ~FRAME_GSO_ECN) {
	case FRAME_GSO_NONE:
		break;
	case FRAME_GSO_TCPV4:
		need = GSO_CAP_TSO4;
		break;
	case FRAME_GSO_TCPV6:
		need = GSO_CAP_TSO6;
		break;
	case FRAME_GSO_UDP:
		need = GSO_CAP_UFO;
		break;
	case FRAME_GSO_UDP_L4:
		need = GSO_CAP_USO;
		break;
	default:
		need = ~GSO_CAP_ALL;
		break;
	}
	if (f->vnet.gso_type & FRAME_GSO_ECN)
		need |= GSO_CAP_ECN;
	if (f->vnet.flags & FRAME_VNET_F_NEEDS_CSUM)
		need |= GSO_CAP_CSUM;
	return need;
}

/* gso_takes() - a port with @caps (GSO_CAP_*) may be given @f as it is */
static inline bool gso_takes(unsigned caps, const struct frame *f)
{
	return !(gso_needs(f) & ~caps);
}

/**
 * gso_check() - validate @f's vnet facts against its contents, at ingress
 * @f:		a frame just received, with the vnet facts its medium gave
 *
 * Unknown flag bits are cleared; a frame that is not GSO gets gso_size and
 * hdr_len zero.  For a GSO frame, the headers are parsed (Ethernet, VLAN
 * tags, IPv4 or IPv6 and extension headers, TCP or UDP) and must match the
 * GSO type; a hdr_len claiming more than the frame is refused, any other
 * is replaced: hdr_len is set to the true length of the headers, which
 * gso_wire_len() relies on; gso_size must be non-zero and the frame must
 * not stand for more than GSO_SEGS_MAX segments.  With NEEDS_CSUM, the
 * checksum field (csum_start + csum_offset, two bytes) must lie inside the
 * frame.
 *
 * Backends call it on every frame with vnet facts before port_input().
 * Return: 0, or -EINVAL when the frame is malformed (drop it, counted).
 */
int gso_check(struct frame *f);

/**
 * gso_wire_len() - the length of the longest frame @f stands for on a wire:
 * its own length, or, for a GSO frame (checked by gso_check()), the length
 * of its largest segment.  Ports' MTUs are compared with this.
 */
uint32_t gso_wire_len(const struct frame *f);

/**
 * gso_segment() - cut GSO frame @f into segments with complete checksums
 * @f:		a GSO frame; only read (it may be shared)
 * @out:	receives the segments, new frames with one reference each
 *		and no vnet facts
 * @max:	room in @out
 *
 * Headers are parsed again here: @f need not have been through
 * gso_check().  Segment frames come from this thread's pool.
 * Return: the number of segments, or -EINVAL (malformed, or not a GSO
 * frame), -E2BIG (more than @max segments), -ENOBUFS (the pool ran out);
 * on error nothing is left in @out.
 */
int gso_segment(const struct frame *f, struct frame **out, unsigned max);

/**
 * gso_csum_complete() - finish a NEEDS_CSUM frame's checksum in place
 * @f:		a frame only the caller holds
 *
 * Sums from csum_start to the end of the frame (the field at csum_offset
 * holds the pseudo-header sum the sender left there) and stores the result
 * (0xffff for a zero sum, as Linux does); clears the vnet facts.
 * Return: 0, or -EINVAL when the field lies outside the frame.
 */
int gso_csum_complete(struct frame *f);

/**
 * gso_resolve() - the frames a port without offloads gets for @f
 * @f:		a frame whose reference the caller gives up
 * @out:	receives the frames, one reference each, no vnet facts
 * @max:	room in @out (at least 1)
 *
 * A GSO frame becomes its segments; a frame whose checksum is unfinished
 * gets it finished (in place when @f is the caller's alone, else in a
 * copy); any other frame is passed through as it is.
 * Return: how many frames are in @out, or -EINVAL, -E2BIG, -ENOBUFS (see
 * gso_segment()), with @f released and nothing in @out.
 */
int gso_resolve(struct frame *f, struct frame **out, unsigned max);

#endif /* NH_GSO_H */
