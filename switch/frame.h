/* SPDX-License-Identifier: MIT */
/* frame.h - Ethernet frames in preallocated, reference-counted buffers
 *
 * Frames come from per-thread pools of two sizes: small buffers for frames up
 * to FRAME_SMALL_CAP bytes (any MTU-sized frame) and large ones for jumbo and
 * GSO frames up to FRAME_MAX_LEN.  Nothing on the per-frame path mallocs.
 *
 * Ownership: frame_alloc() returns a frame holding one reference, owned by
 * the caller.  Whoever holds a reference either passes it on (port_input(),
 * a backend's send() for the frames it accepts) or drops it with
 * frame_unref().  Flooding shares one frame between egress ports by taking a
 * reference per port; a frame with more than one reference is read-only.
 *
 * Reference counts are not atomic: a frame never leaves its loop's thread.
 */
#ifndef NH_FRAME_H
#define NH_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_BURST_MAX	  64	 /* frames moved in one burst */
#define FRAME_HEADROOM	  64	 /* bytes free in front of data for headers */
#define FRAME_SMALL_CAP	  2048	 /* data bytes of a small buffer */
#define FRAME_MAX_LEN	  65535	 /* largest frame carried (jumbo, GSO) */
#define FRAME_ETH_HLEN	  14	 /* dst, src, ethertype */
#define FRAME_VLAN_HLEN	  4	 /* one 802.1Q or 802.1ad tag */
#define FRAME_ETH_P_8021Q  0x8100 /* TPID of a customer VLAN tag */
#define FRAME_ETH_P_8021AD 0x88a8 /* TPID of a service VLAN tag (QinQ) */
#define FRAME_MIN_LEN	  FRAME_ETH_HLEN

/* Default pool sizes for a datapath thread */
#define FRAME_POOL_SMALL_DEFAULT 16384
#define FRAME_POOL_LARGE_DEFAULT 512

/*
 * The virtio-net header facts of a frame, host-endian: what a GSO frame from
 * a tap or vhost-user port says about its segmentation and checksum.  All
 * zero (FRAME_GSO_NONE, no flags) for an ordinary frame.
 */
#define FRAME_VNET_F_NEEDS_CSUM 1
#define FRAME_VNET_F_DATA_VALID 2
#define FRAME_GSO_NONE		0
#define FRAME_GSO_TCPV4		1
#define FRAME_GSO_UDP		3
#define FRAME_GSO_TCPV6		4
#define FRAME_GSO_UDP_L4	5
#define FRAME_GSO_ECN		0x80

struct frame_vnet {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

struct frame_pool;

struct frame {
	uint8_t *data;		 /* first byte of the Ethernet header */
	uint32_t len;		 /* bytes of frame at data */
	uint32_t refs;		 /* holders of this frame */
	struct frame_vnet vnet;	 /* offload facts; zero when none */
	struct frame_pool *pool; /* where it goes back to */
	struct frame *next_free; /* pool's free list link */
	uint32_t cap;		 /* bytes of buffer after FRAME_HEADROOM */
	bool large;		 /* from the large class */
	uint8_t buf[] __attribute__((aligned(64)));
};

/**
 * frame_pool_new() - preallocate a pool
 * @n_small:	small buffers (FRAME_SMALL_CAP data bytes each)
 * @n_large:	large buffers (FRAME_MAX_LEN data bytes each)
 *
 * Return: the pool, or NULL when memory cannot be had.  Buffer memory is
 * reserved at once; pages are committed by the kernel as they are written.
 */
struct frame_pool *frame_pool_new(unsigned n_small, unsigned n_large);

/* frame_pool_free() - free a pool; every frame must have been returned */
void frame_pool_free(struct frame_pool *pool);

/* frame_pool_set_current() - the pool frame_alloc() uses on this thread */
void frame_pool_set_current(struct frame_pool *pool);

struct frame_pool_stats {
	unsigned small_total, small_free;
	unsigned large_total, large_free;
	uint64_t alloc_failures; /* frame_alloc() calls that found none free */
};
void frame_pool_stats(const struct frame_pool *pool,
		      struct frame_pool_stats *st);

/**
 * frame_alloc() - a buffer for a frame of @len bytes from this thread's pool
 * @len:	frame length, at most FRAME_MAX_LEN
 *
 * Return: a frame with one reference, data at the buffer's start plus
 * FRAME_HEADROOM, len set, vnet zeroed; NULL if @len is too long or the pool
 * is exhausted (the caller counts the drop as no-buffer).
 */
struct frame *frame_alloc(size_t len);

/* frame_alloc_copy() - frame_alloc() and copy @len bytes from @src */
struct frame *frame_alloc_copy(const void *src, size_t len);

static inline void frame_ref(struct frame *f)
{
	f->refs++;
}

/* frame_unref() - drop one reference; the last one returns the buffer */
void frame_unref(struct frame *f);

/* frame_unref_many() - frame_unref() each of @n frames */
void frame_unref_many(struct frame *const *frames, unsigned n);

/**
 * frame_flow_hash() - a hash of @f's flow: the addresses and ports of IPv4
 * and IPv6 TCP and UDP (behind one VLAN tag too), else the MAC addresses;
 * reads only within the frame.  Frames of one flow hash alike, so a flow
 * sent on the queue (tap) or outer source port (vxlan) its hash picks stays
 * in order.
 */
uint32_t frame_flow_hash(const struct frame *f);

/* frame_headroom() - bytes free in front of data */
static inline size_t frame_headroom(const struct frame *f)
{
	return (size_t)(f->data - f->buf);
}

/* Ethernet helpers: the frame must be at least FRAME_ETH_HLEN long */
static inline const uint8_t *frame_dst(const struct frame *f)
{
	return f->data;
}
static inline const uint8_t *frame_src(const struct frame *f)
{
	return f->data + 6;
}
static inline uint16_t frame_ethertype(const struct frame *f)
{
	return (uint16_t)(f->data[12] << 8 | f->data[13]);
}

/**
 * frame_is_tagged() - the frame's outer ethertype is a VLAN tag's TPID:
 * 802.1Q (0x8100) or 802.1ad (0x88a8)
 *
 * The one answer to "is this frame VLAN-tagged" for the hub: which VLAN it
 * learns and looks up on (frame_vlan()), whether a tag's bytes are missing
 * (a tagged frame shorter than FRAME_ETH_HLEN + FRAME_VLAN_HLEN is
 * malformed), and the one tag a port's MTU allows on top of it.
 */
static inline bool frame_is_tagged(const struct frame *f)
{
	uint16_t type = frame_ethertype(f);

	return type == FRAME_ETH_P_8021Q || type == FRAME_ETH_P_8021AD;
}

/**
 * frame_vlan() - the VLAN ID of a frame's outer tag, 0 when untagged
 *
 * The outer tag counts, 802.1Q or 802.1ad alike: a QinQ frame (0x88a8
 * outer, 0x8100 inner) is on its service VLAN.  The priority and DEI bits
 * are not part of the ID.  A tagged frame too short to hold its tag is
 * reported as untagged; the hub counts it malformed.
 */
static inline uint16_t frame_vlan(const struct frame *f)
{
	if (!frame_is_tagged(f) || f->len < FRAME_ETH_HLEN + FRAME_VLAN_HLEN)
		return 0;
	return (uint16_t)((f->data[14] << 8 | f->data[15]) & 0x0fff);
}

static inline bool mac_is_multicast(const uint8_t *mac)
{
	return mac[0] & 1;
}
static inline bool mac_is_broadcast(const uint8_t *mac)
{
	return (mac[0] & mac[1] & mac[2] & mac[3] & mac[4] & mac[5]) == 0xff;
}
static inline bool mac_is_zero(const uint8_t *mac)
{
	return (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0;
}

/* mac_format() - @mac as "xx:xx:xx:xx:xx:xx" into @buf (18 bytes);
 * returns @buf */
char *mac_format(const uint8_t *mac, char *buf);

#endif /* NH_FRAME_H */
