/* SPDX-License-Identifier: MIT */
/* virtq.h - guest memory and split virtqueues, as a vhost-user back-end
 * serves them
 *
 * Pure: no sockets, no loop, no logging.  Everything here reads memory a
 * guest (or another process) writes while we read it, so every index,
 * length and address is checked before use, and each descriptor is read
 * once into a local copy before it is checked.
 *
 * Guest memory (struct vq_mem) is a table of regions, each mapped once:
 * guest-physical address, size, the front-end's user address for the same
 * bytes, and our pointer.  Descriptors carry guest-physical addresses; the
 * ring addresses of SET_VRING_ADDR are front-end user addresses.  A range
 * is translated only when it lies wholly inside one region.
 *
 * A split virtqueue (struct virtq) is three areas in guest memory: the
 * descriptor table, the available ring (driver → device) and the used ring
 * (device → driver).  The back-end takes chains from the available ring,
 * reads (TX, guest → switch) or fills (RX, switch → guest) their buffers,
 * and returns them on the used ring.  Used entries are written at once but
 * made visible to the driver only by vq_publish(), once per burst.
 *
 * What is checked, and what a failure costs:
 *   the ring          size a power of two ≤ VQ_SIZE_MAX; each area aligned
 *                     and wholly inside one region (vq_set_addr() refuses);
 *                     an available index more than the size ahead of ours
 *                     or a head index ≥ size: the queue is broken (it
 *                     serves nothing more until it is set up again)
 *   a chain           next < size; at most size descriptors (else a loop);
 *                     an indirect table's length a multiple of 16, at most
 *                     size entries, wholly in one region, not nested and
 *                     not chained (NEXT with INDIRECT); no device-readable
 *                     buffer after a writable one; every buffer wholly in
 *                     one region; at most VQ_SEGS_MAX non-empty buffers.
 *                     A bad chain is returned to the guest unused (length
 *                     0) and its frame dropped: counted malformed.
 *   zero-length       buffers are skipped (they count towards the chain's
 *                     length, so a loop of them is still found)
 *
 * Memory ordering is the virtio one: the available index is read with
 * acquire semantics before the entries it covers; used entries are written
 * (together, by vq_publish()) before the used index is stored with release
 * semantics; a full barrier separates publishing the used index from
 * reading used_event (and turning notifications on from re-reading the
 * available index).  The available
 * index is read again only once the entries it covered are all taken: a
 * line the driver writes all the time is not fetched once per frame.
 *
 * Chains are used in the order they were made available, on both sides,
 * a refused one included (returned at once, length 0): the promise
 * VIRTIO_F_IN_ORDER asks of a device, so a driver may count on it.  What
 * a driver does with that feature changes nothing here: every head is
 * still read from the available ring and checked.
 *
 * The host is assumed little-endian (virtio 1.0 rings are); a big-endian
 * build fails to compile rather than misreading rings.
 */
#ifndef NH_VIRTQ_H
#define NH_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "frame.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtq.c reads little-endian virtio rings in place"
#endif

#define VQ_SIZE_MAX	   32768 /* largest split ring (virtio 1.x) */
#define VQ_MEM_REGIONS_MAX 32	 /* regions of one memory table */
#define VQ_SEGS_MAX	   1024	 /* non-empty buffers of one chain */
#define VQ_SHADOW_MAX	   64	 /* used entries held back, at most */
#define VQ_NET_HDR_LEN	   10	 /* virtio_net_hdr */
#define VQ_NET_HDR_MRG_LEN                                                     \
	12 /* ... with num_buffers (VERSION_1, MRG_RXBUF)                      \
	    */

/* Descriptor and ring flags (virtio 1.x, split rings) */
#define VRING_DESC_F_NEXT	   1
#define VRING_DESC_F_WRITE	   2
#define VRING_DESC_F_INDIRECT	   4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY	   1

struct vring_desc {
	uint64_t addr; /* guest-physical */
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* size entries, then used_event */
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[]; /* size entries, then avail_event */
};

/* One mapped region of guest memory */
struct vq_region {
	uint64_t gpa;	      /* guest-physical address of its first byte */
	uint64_t size;	      /* bytes */
	uint64_t uaddr;	      /* the front-end's user address of it */
	uint64_t mmap_offset; /* where it starts in the file */
	uint8_t *host;	      /* our address of its first byte */
	void *map;	      /* what vq_mem_clear() unmaps; NULL: not ours */
	bool sealed;	      /* its memfd cannot shrink (F_SEAL_SHRINK) */
	size_t map_len;
};

/* A memory table: up to VQ_MEM_REGIONS_MAX regions, none overlapping */
struct vq_mem {
	struct vq_region r[VQ_MEM_REGIONS_MAX];
	unsigned n;
};

/**
 * vq_mem_map() - map a region a front-end passed (SET_MEM_TABLE,
 * ADD_MEM_REG) and add it to @m
 * @fd:		the region's file; borrowed (the caller closes it: a mapping
 *		does not need it)
 * A memfd that allows sealing is sealed against shrinking (F_SEAL_SHRINK):
 * a front-end that truncated it would make our reads past its end SIGBUS.
 *
 * @errp:	which of the region's facts is wrong: zero size, a range that
 *		wraps, a file shorter than offset + size, an overlap with a
 *		region already in the table, a full table, or a mapping the
 *		kernel refused ("... must be shared memory")
 *
 * Return: true when the region was mapped and added.
 */
bool vq_mem_map(struct vq_mem *m, uint64_t gpa, uint64_t size, uint64_t uaddr,
		uint64_t mmap_offset, int fd, struct nh_error **errp);

/**
 * vq_mem_add_host() - add a region already in our address space (tests,
 * fuzzing): the same checks as vq_mem_map(), without a file
 */
bool vq_mem_add_host(struct vq_mem *m, uint64_t gpa, uint64_t size,
		     uint64_t uaddr, void *host, struct nh_error **errp);

/**
 * vq_mem_remove() - unmap and remove the region with @gpa, @size and
 * @uaddr (REM_MEM_REG)
 * Return: false when no region has exactly those facts.
 */
bool vq_mem_remove(struct vq_mem *m, uint64_t gpa, uint64_t size,
		   uint64_t uaddr);

/* vq_mem_clear() - unmap every region; @m is empty afterwards */
void vq_mem_clear(struct vq_mem *m);

/* vq_mem_sealed() - regions whose file cannot shrink under the mapping
 * (a memfd sealed against it: vq_mem_map() adds the seal where it can) */
unsigned vq_mem_sealed(const struct vq_mem *m);

/* vq_mem_bytes() - the sum of the regions' sizes */
uint64_t vq_mem_bytes(const struct vq_mem *m);

/**
 * vq_gpa() - our pointer to guest-physical [@gpa, @gpa + @len)
 * Return: NULL unless the range lies wholly inside one region (a zero
 * @len still needs @gpa inside one).
 */
void *vq_gpa(const struct vq_mem *m, uint64_t gpa, uint64_t len);

/* vq_uva() - the same for a range of the front-end's user addresses */
void *vq_uva(const struct vq_mem *m, uint64_t uva, uint64_t len);

/* vq_fd_seal_shrink() - keep the memfd @fd from shrinking under a mapping
 * of it (F_SEAL_SHRINK, added when the file allows it).  Return: whether
 * it can no longer shrink. */
bool vq_fd_seal_shrink(int fd);

/*
 * The dirty log (live migration).  While a front-end migrates its guest it
 * gives a shared bitmap (SET_LOG_BASE) with one bit per VQ_LOG_PAGE bytes of
 * guest-physical memory, bit n of byte k for page 8k + n, and asks, with
 * LOG_ALL, that every page the back-end writes be marked there: receive
 * buffers, used ring entries, the used index and flags, avail_event.  The
 * front-end clears bits as it copies pages, so a bit is set after the
 * bytes it covers were written (release order) and with an atomic or.
 *
 * A queue logs only while q->log is set (the back-end sets it when both
 * LOG_ALL is negotiated and a log is mapped): one predictable branch per
 * buffer otherwise.  A page beyond the bitmap is not marked; it is counted.
 */
#define VQ_LOG_PAGE 4096

struct vq_log {
	uint8_t *bitmap; /* NULL: no log mapped */
	uint64_t bytes;	 /* of the bitmap: it covers bytes * 8 pages */
	void *map;	 /* what vq_log_unmap() unmaps */
	size_t map_len;
	uint64_t pages;	 /* bits this side set (were clear) */
	uint64_t beyond; /* writes to pages past the bitmap, not marked */
};

/**
 * vq_log_map() - map the dirty log a front-end passed (SET_LOG_BASE): the
 * bitmap is @size bytes at @offset in file @fd (borrowed); a log already
 * mapped in @l is unmapped first when the new one is good
 * @errp:	zero size, offset + size overflowing, a file shorter than
 *		offset + size, or a mapping the kernel refused
 * Counters are kept.  Return: true when the new log is in place.
 */
bool vq_log_map(struct vq_log *l, int fd, uint64_t size, uint64_t offset,
		struct nh_error **errp);

/* vq_log_unmap() - no log any more (counters are kept) */
void vq_log_unmap(struct vq_log *l);

/* vq_log_mark() - mark the pages of guest-physical [@gpa, @gpa + @len) */
void vq_log_mark(struct vq_log *l, uint64_t gpa, uint64_t len);

/* Why a chain or a queue was refused; counted per queue */
enum vq_fault {
	VQ_FAULT_NEXT_RANGE,   /* next ≥ size (or ≥ the indirect table's) */
	VQ_FAULT_LOOP,	       /* more descriptors than the table holds */
	VQ_FAULT_INDIRECT_LEN, /* not a multiple of 16, empty or too long */
	VQ_FAULT_INDIRECT_NESTED,  /* indirect inside indirect, or with NEXT */
	VQ_FAULT_READ_AFTER_WRITE, /* a readable buffer after a writable one */
	VQ_FAULT_ADDR,		   /* a buffer or table not in one region */
	VQ_FAULT_DIRECTION,	   /* writable in a TX chain, readable in RX */
	VQ_FAULT_SHORT,		   /* shorter than the header + an Ethernet
				    * header, or longer than FRAME_MAX_LEN */
	VQ_FAULT_TOO_MANY_SEGS,	   /* more than VQ_SEGS_MAX buffers */
	VQ_FAULT__COUNT
};

/* vq_fault_name() - "next-range", "loop", ... */
const char *vq_fault_name(enum vq_fault why);

/* One buffer of a chain, translated */
struct vq_seg {
	uint8_t *p;
	uint32_t len;
};

struct virtq {
	const struct vq_mem *mem; /* borrowed */
	uint32_t size;		  /* 0: not set up */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_uva, avail_uva, used_uva; /* as given, to re-translate */

	uint16_t last_avail; /* next available entry to take */
	uint16_t avail_seen; /* the available index as last read: entries
			      * up to it are taken without reading it again */
	uint16_t used_idx;   /* next used entry to write (not yet visible) */
	uint16_t published;  /* used index the driver can see */
	uint16_t warmed;     /* avail_seen when the prefetch pipeline was
			      * last started (virtq.c, "Prefetching") */

	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool mrg_rxbuf; /* VIRTIO_NET_F_MRG_RXBUF: RX frames may span chains */
	bool guest_csum; /* VIRTIO_NET_F_GUEST_CSUM: RX headers carry the
			  * frame's checksum flags (else 0, as virtio asks) */
	unsigned hdr_len; /* virtio_net_hdr length: 10 or 12 */
	bool broken;	  /* the ring itself is unusable */
	unsigned hint;	  /* the memory region the last buffer was in */

	uint64_t faults[VQ_FAULT__COUNT];
	uint64_t broken_count; /* times it broke */

	/* the dirty log: NULL when writes are not logged (borrowed); the
	 * used ring is logged only with log_used, at used_gpa */
	struct vq_log *log;
	bool log_used;
	uint64_t used_gpa;

	/* Used entries not yet in the ring: they are written out together,
	 * when published (or when VQ_SHADOW_MAX are waiting), so a line of
	 * the used ring the driver reads is written once per burst, not
	 * once per frame while the driver polls it.  They are the last
	 * nshadow entries before used_idx. */
	struct vring_used_elem shadow[VQ_SHADOW_MAX];
	unsigned nshadow;

	/* Scratch for the chain being read: no allocation per frame */
	struct vq_seg segs[VQ_SEGS_MAX];
	unsigned nsegs;
	uint64_t seg_bytes;
};

/**
 * vq_init() - an unset queue on memory table @mem (borrowed: it must
 * outlive the queue's use); features off, header 10 bytes
 */
void vq_init(struct virtq *q, const struct vq_mem *mem);

/**
 * vq_set_addr() - set up @q: @num entries, areas at the front-end's user
 * addresses @desc_uva, @avail_uva, @used_uva
 * @errp:	the size is not a power of two in 1..VQ_SIZE_MAX, or an area
 *		is misaligned (descriptors 16, available ring 2, used 4) or
 *		not wholly inside one region
 *
 * Indices are kept (SET_VRING_BASE sets them); the queue is no longer
 * broken.  Return: true when the rings are usable.
 */
bool vq_set_addr(struct virtq *q, uint32_t num, uint64_t desc_uva,
		 uint64_t avail_uva, uint64_t used_uva, struct nh_error **errp);

/**
 * vq_remap() - translate the ring addresses again after the memory table
 * changed; a ring no longer mapped leaves @q unset (size 0)
 * Return: true when the rings are usable.
 */
bool vq_remap(struct virtq *q);

/* vq_set_base() - SET_VRING_BASE: the next available entry is @idx, and
 * the used index continues from it */
void vq_set_base(struct virtq *q, uint16_t idx);

/* vq_set_log_used() - with @on, the used ring's writes are logged as
 * guest-physical @gpa on (SET_VRING_ADDR's VHOST_VRING_F_LOG and log
 * address); they go to the log only while q->log is set too */
void vq_set_log_used(struct virtq *q, bool on, uint64_t gpa);

/* vq_ready() - set up and not broken */
static inline bool vq_ready(const struct virtq *q)
{
	return q->size && !q->broken;
}

/**
 * vq_pending() - available chains not taken yet; 0 for a queue not ready.
 * An available index more than the size ahead breaks the queue (0).
 */
unsigned vq_pending(struct virtq *q);

/**
 * vq_tx_pop() - take one chain from a TX queue (guest → switch) and gather
 * it into a frame
 * @fp:		the frame, with its virtio_net_hdr facts in ->vnet (checked
 *		with gso_check()); the caller owns it
 *
 * The chain is returned on the used ring (length 0) whatever happened to
 * it.  Return: 1 with *@fp; 0 when nothing is available; -EINVAL when the
 * chain or its frame was malformed (counted in q->faults, or by
 * gso_check()); -ENOBUFS when the pool had no frame; -EIO when the queue
 * is not ready or just broke.
 */
int vq_tx_pop(struct virtq *q, struct frame **fp);

/**
 * vq_rx_push() - copy frame @f into the guest's buffers on an RX queue
 * (switch → guest), behind a virtio_net_hdr with @f's facts
 *
 * With MRG_RXBUF the frame may fill several chains (num_buffers says how
 * many; a 64 KiB GSO frame may take dozens); without, it needs one chain
 * large enough.  The header's flags are @f's only with q->guest_csum.  Return: 0 when it was
 * delivered; -EAGAIN when the guest has not posted enough buffers (nothing
 * was taken: try again after its next kick); -EMSGSIZE when the frame can
 * never fit the chain offered (nothing taken; drop the frame); -EINVAL when
 * a chain was malformed (returned unused, frame not delivered); -EIO when
 * the queue is not ready or just broke.
 */
int vq_rx_push(struct virtq *q, const struct frame *f);

/**
 * vq_publish() - make the used entries written since the last call visible
 * to the driver
 * Return: true when the driver wants to be notified of them (the call
 * eventfd should be written): EVENT_IDX's used_event, else the available
 * ring's NO_INTERRUPT flag.
 */
bool vq_publish(struct virtq *q);

/**
 * vq_enable_notify() - ask the driver to kick again when it adds chains
 * (@on), or tell it kicks are not needed (VRING_USED_F_NO_NOTIFY; with
 * EVENT_IDX, avail_event is simply not advanced)
 *
 * Return: with @on, whether chains arrived meanwhile (check again before
 * sleeping: the driver may have added some before it saw the request).
 */
bool vq_enable_notify(struct virtq *q, bool on);

#endif /* NH_VIRTQ_H */
