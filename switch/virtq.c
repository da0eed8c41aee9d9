// SPDX-License-Identifier: MIT
/* virtq.c - guest memory tables and split virtqueues (see virtq.h)
 *
 * Owns the mappings of a memory table (vq_mem_map() maps, vq_mem_clear()
 * and vq_mem_remove() unmap).  A queue owns nothing: its rings live in
 * guest memory and its memory table is borrowed.
 *
 * Never: read a descriptor field twice (it is copied, then checked), use
 * an index or address from guest memory before checking it, allocate or
 * log per frame.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "gso.h"
#include "virtq.h"

#define VQ_DESC_ALIGN  16
#define VQ_AVAIL_ALIGN 2
#define VQ_USED_ALIGN  4

static const char *const vq_fault_names[VQ_FAULT__COUNT] = {
    [VQ_FAULT_NEXT_RANGE] = "next-range",
    [VQ_FAULT_LOOP] = "loop",
    [VQ_FAULT_INDIRECT_LEN] = "indirect-length",
    [VQ_FAULT_INDIRECT_NESTED] = "indirect-nested",
    [VQ_FAULT_READ_AFTER_WRITE] = "read-after-write",
    [VQ_FAULT_ADDR] = "address",
    [VQ_FAULT_DIRECTION] = "direction",
    [VQ_FAULT_SHORT] = "length",
    [VQ_FAULT_TOO_MANY_SEGS] = "too-many-buffers",
};

const char *vq_fault_name(enum vq_fault why)
{
	return why < VQ_FAULT__COUNT ? vq_fault_names[why] : "?";
}

/* -- memory tables ----------------------------------------------------- */

/* [a, a + alen) and [b, b + blen) share a byte; neither wraps */
static bool vq_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* vq_mem_check() - the facts of a new region, before anything is mapped */
static bool vq_mem_check(const struct vq_mem *m, uint64_t gpa, uint64_t size,
			 uint64_t uaddr, struct nh_error **errp)
{
	if (m->n >= VQ_MEM_REGIONS_MAX) {
		nh_error_setg(errp, "too many memory regions (at most %d)",
			      VQ_MEM_REGIONS_MAX);
		return false;
	}
	if (!size) {
		nh_error_setg(errp, "memory region at 0x%llx has size 0",
			      (unsigned long long)gpa);
		return false;
	}
	if (size - 1 > UINT64_MAX - gpa || size - 1 > UINT64_MAX - uaddr ||
	    size > SIZE_MAX) {
		nh_error_setg(errp,
			      "memory region at 0x%llx of 0x%llx bytes wraps "
			      "around the address space",
			      (unsigned long long)gpa,
			      (unsigned long long)size);
		return false;
	}
	for (unsigned i = 0; i < m->n; i++) {
		const struct vq_region *r = &m->r[i];

		if (vq_overlap(gpa, size, r->gpa, r->size) ||
		    vq_overlap(uaddr, size, r->uaddr, r->size)) {
			nh_error_setg(errp,
				      "memory region at 0x%llx overlaps the "
				      "region at 0x%llx",
				      (unsigned long long)gpa,
				      (unsigned long long)r->gpa);
			return false;
		}
	}
	return true;
}

static void vq_mem_append(struct vq_mem *m, uint64_t gpa, uint64_t size,
			  uint64_t uaddr, uint64_t offset, uint8_t *host,
			  void *map, size_t map_len)
{
	m->r[m->n++] = (struct vq_region){
	    .gpa = gpa,
	    .size = size,
	    .uaddr = uaddr,
	    .mmap_offset = offset,
	    .host = host,
	    .map = map,
	    .map_len = map_len,
	};
}

/**
 * vq_fd_seal_shrink() - keep a memfd from shrinking under our mapping: a
 * front-end that truncated its guest memory would have us read past the
 * file's end, which is SIGBUS.  QEMU seals its memfds (seal=on, its
 * default); for one that allows sealing but is not sealed, we add the
 * seal.  Return: whether the file can no longer shrink.
 */
bool vq_fd_seal_shrink(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals < 0)
		return false; /* not a memfd (hugetlbfs, a plain file) */
	if (!(seals & F_SEAL_SHRINK) && !(seals & F_SEAL_SEAL))
		fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
	seals = fcntl(fd, F_GET_SEALS);
	return seals >= 0 && (seals & F_SEAL_SHRINK);
}

bool vq_mem_add_host(struct vq_mem *m, uint64_t gpa, uint64_t size,
		     uint64_t uaddr, void *host, struct nh_error **errp)
{
	if (!vq_mem_check(m, gpa, size, uaddr, errp))
		return false;
	vq_mem_append(m, gpa, size, uaddr, 0, host, NULL, 0);
	return true;
}

bool vq_mem_map(struct vq_mem *m, uint64_t gpa, uint64_t size, uint64_t uaddr,
		uint64_t mmap_offset, int fd, struct nh_error **errp)
{
	struct stat st;
	uint64_t end, align;
	void *map;

	if (!vq_mem_check(m, gpa, size, uaddr, errp))
		return false;
	if (mmap_offset > UINT64_MAX - size) {
		nh_error_setg(errp,
			      "memory region at 0x%llx: offset 0x%llx + size "
			      "0x%llx overflows",
			      (unsigned long long)gpa,
			      (unsigned long long)mmap_offset,
			      (unsigned long long)size);
		return false;
	}
	end = mmap_offset + size;
	if (fstat(fd, &st) < 0) {
		nh_error_setg(errp, "memory region at 0x%llx: bad file: %s",
			      (unsigned long long)gpa, strerror(errno));
		return false;
	}
	/* Touching a mapping past the end of its file is SIGBUS: refuse a
	 * file too short for the region now */
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < end) {
		nh_error_setg(errp,
			      "memory region at 0x%llx: its file has 0x%llx "
			      "bytes, fewer than offset + size (0x%llx)",
			      (unsigned long long)gpa,
			      (unsigned long long)st.st_size,
			      (unsigned long long)end);
		return false;
	}
	/* hugetlbfs wants whole huge pages; st_blksize is the page size */
	align = st.st_blksize > 0 ? (uint64_t)st.st_blksize : 4096;
	if (end > UINT64_MAX - align || end + align > SIZE_MAX) {
		nh_error_setg(errp, "memory region at 0x%llx is too large",
			      (unsigned long long)gpa);
		return false;
	}
	end = (end + align - 1) / align * align;
	map = mmap(NULL, (size_t)end, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (map == MAP_FAILED) {
		nh_error_setg(errp,
			      "memory region at 0x%llx cannot be mapped (%s): "
			      "guest memory must be shared (share=on, memfd or "
			      "hugepages)",
			      (unsigned long long)gpa, strerror(errno));
		return false;
	}
	vq_mem_append(m, gpa, size, uaddr, mmap_offset,
		      (uint8_t *)map + mmap_offset, map, (size_t)end);
	m->r[m->n - 1].sealed = vq_fd_seal_shrink(fd);
	return true;
}

static void vq_region_unmap(struct vq_region *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	r->map = NULL;
}

bool vq_mem_remove(struct vq_mem *m, uint64_t gpa, uint64_t size,
		   uint64_t uaddr)
{
	for (unsigned i = 0; i < m->n; i++) {
		struct vq_region *r = &m->r[i];

		if (r->gpa != gpa || r->size != size || r->uaddr != uaddr)
			continue;
		vq_region_unmap(r);
		m->r[i] = m->r[--m->n];
		return true;
	}
	return false;
}

void vq_mem_clear(struct vq_mem *m)
{
	for (unsigned i = 0; i < m->n; i++)
		vq_region_unmap(&m->r[i]);
	m->n = 0;
}

unsigned vq_mem_sealed(const struct vq_mem *m)
{
	unsigned n = 0;

	for (unsigned i = 0; i < m->n; i++)
		n += m->r[i].sealed;
	return n;
}

uint64_t vq_mem_bytes(const struct vq_mem *m)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < m->n; i++)
		sum += m->r[i].size;
	return sum;
}

void *vq_gpa(const struct vq_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct vq_region *r = &m->r[i];
		uint64_t off;

		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		if (off < r->size && len <= r->size - off)
			return r->host + off;
	}
	return NULL;
}

/**
 * vq_buf() - vq_gpa() for a buffer of @q: the region the last buffer was
 * in is tried first (a guest's buffers are mostly in one), with the same
 * checks
 */
static inline __attribute__((always_inline)) void *
vq_buf(struct virtq *q, uint64_t gpa, uint64_t len)
{
	const struct vq_mem *m = q->mem;
	const struct vq_region *r;
	uint64_t off;

	if (q->hint < m->n) {
		r = &m->r[q->hint];
		off = gpa - r->gpa;
		if (gpa >= r->gpa && off < r->size && len <= r->size - off)
			return r->host + off;
	}
	for (unsigned i = 0; i < m->n; i++) {
		r = &m->r[i];
		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		if (off < r->size && len <= r->size - off) {
			q->hint = i;
			return r->host + off;
		}
	}
	return NULL;
}

void *vq_uva(const struct vq_mem *m, uint64_t uva, uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct vq_region *r = &m->r[i];
		uint64_t off;

		if (uva < r->uaddr)
			continue;
		off = uva - r->uaddr;
		if (off < r->size && len <= r->size - off)
			return r->host + off;
	}
	return NULL;
}

/* -- queue set-up ------------------------------------------------------ */

void vq_init(struct virtq *q, const struct vq_mem *mem)
{
	memset(q, 0, offsetof(struct virtq, segs));
	q->mem = mem;
	q->hdr_len = VQ_NET_HDR_LEN;
}

/* The bytes of each area for @num entries, with the event fields */
static uint64_t vq_desc_bytes(uint32_t num)
{
	return (uint64_t)num * sizeof(struct vring_desc);
}

static uint64_t vq_avail_bytes(uint32_t num)
{
	return 4 + 2 * (uint64_t)num + 2;
}

static uint64_t vq_used_bytes(uint32_t num)
{
	return 4 + 8 * (uint64_t)num + 2;
}

/* vq_translate() - our pointers to @q's areas; false if one is unmapped */
static bool vq_translate(struct virtq *q, uint32_t num, const char **what)
{
	void *d = vq_uva(q->mem, q->desc_uva, vq_desc_bytes(num));
	void *a = vq_uva(q->mem, q->avail_uva, vq_avail_bytes(num));
	void *u = vq_uva(q->mem, q->used_uva, vq_used_bytes(num));

	*what = !d ? "descriptor table" : !a ? "available ring" : "used ring";
	if (!d || !a || !u)
		return false;
	q->desc = d;
	q->avail = a;
	q->used = u;
	return true;
}

bool vq_set_addr(struct virtq *q, uint32_t num, uint64_t desc_uva,
		 uint64_t avail_uva, uint64_t used_uva, struct nh_error **errp)
{
	const char *what;

	if (!num || num > VQ_SIZE_MAX || (num & (num - 1))) {
		nh_error_setg(errp,
			      "ring size %u is not a power of two from 1 to %d",
			      num, VQ_SIZE_MAX);
		return false;
	}
	if (desc_uva % VQ_DESC_ALIGN || avail_uva % VQ_AVAIL_ALIGN ||
	    used_uva % VQ_USED_ALIGN) {
		nh_error_setg(errp,
			      "ring areas misaligned (descriptors 0x%llx, "
			      "available 0x%llx, used 0x%llx)",
			      (unsigned long long)desc_uva,
			      (unsigned long long)avail_uva,
			      (unsigned long long)used_uva);
		return false;
	}
	q->desc_uva = desc_uva;
	q->avail_uva = avail_uva;
	q->used_uva = used_uva;
	if (!vq_translate(q, num, &what)) {
		q->size = 0;
		nh_error_setg(errp,
			      "the %s of a %u-entry ring does not lie wholly "
			      "inside one memory region",
			      what, num);
		return false;
	}
	q->size = num;
	q->broken = false;
	return true;
}

bool vq_remap(struct virtq *q)
{
	const char *what;

	if (!q->size)
		return false;
	if (!vq_translate(q, q->size, &what))
		q->size = 0;
	return q->size != 0;
}

void vq_set_log_used(struct virtq *q, bool on, uint64_t gpa)
{
	q->log_used = on;
	q->used_gpa = gpa;
}

void vq_set_base(struct virtq *q, uint16_t idx)
{
	q->last_avail = idx;
	q->avail_seen = idx;
	q->used_idx = idx;
	q->published = idx;
	q->nshadow = 0;
}

static void vq_break(struct virtq *q)
{
	if (!q->broken)
		q->broken_count++;
	q->broken = true;
}

/* -- the dirty log: called only while q->log is set ---------------------- */

/* vq_log_used() - mark @len bytes at offset @off of the used ring */
static __attribute__((noinline, cold)) void
vq_log_used(struct virtq *q, uint64_t off, uint64_t len)
{
	if (q->log_used)
		vq_log_mark(q->log, q->used_gpa + off, len);
}

/* vq_log_host() - mark the guest pages of our bytes [@p, @p + @len),
 * found back through the region they lie in */
static __attribute__((noinline, cold)) void
vq_log_host(struct virtq *q, const uint8_t *p, uint64_t len)
{
	const struct vq_mem *m = q->mem;
	uintptr_t at = (uintptr_t)p;

	for (unsigned i = 0; i < m->n; i++) {
		const struct vq_region *r = &m->r[i];
		uintptr_t base = (uintptr_t)r->host;

		if (at >= base && at - base < r->size) {
			vq_log_mark(q->log, r->gpa + (at - base), len);
			return;
		}
	}
}

/* vq_log_segs() - mark the first @n bytes of q->segs */
static __attribute__((noinline, cold)) void vq_log_segs(struct virtq *q,
							uint64_t n)
{
	for (unsigned i = 0; i < q->nsegs && n; i++) {
		uint64_t len = q->segs[i].len < n ? q->segs[i].len : n;

		vq_log_host(q, q->segs[i].p, len);
		n -= len;
	}
}

#define VQ_USED_ELEM_OFF(q, i)                                                 \
	(offsetof(struct vring_used, ring) +                                   \
	 (uint64_t)((i) & ((q)->size - 1)) * sizeof(struct vring_used_elem))

/* -- rings -------------------------------------------------------------- */

unsigned vq_pending(struct virtq *q)
{
	uint16_t idx, n;

	if (!vq_ready(q))
		return 0;
	idx = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
	n = (uint16_t)(idx - q->last_avail);
	if (n > q->size) {
		vq_break(q);
		return 0;
	}
	q->avail_seen = idx;
	return n;
}

/*
 * Prefetching.  The driver wrote the descriptors and buffers of the chains
 * we are about to take on another CPU: each is a line to fetch from there,
 * and a chain's buffer address is known only once its descriptor is in.
 * So the fetches are pipelined in two stages, each far enough ahead that
 * no miss is waited for: while one chain is copied, the descriptor of the
 * chain VQ_PREFETCH_DESC places on is fetched, and the first buffer of the
 * chain VQ_PREFETCH_BUF places on, whose descriptor an earlier call
 * fetched.  Only what the available index read last covers is looked at:
 * reading it again would fetch the line the driver is writing.  These are
 * hints: an address is translated (checked) like any other, and nothing
 * is read from a buffer.
 *
 * A receive buffer is about to be written, so its lines are fetched for
 * writing (PREFETCHW): fetched to be read, a line the driver's CPU holds
 * is shared, and the first store waits for a second round trip that takes
 * it away from there.  With the two vCPUs 230 ns apart that wait was most
 * of the switch's time: PREFETCHW took the testpmd loop of
 * bench/vhost-user.sh from 2.7-3.6 M to 4.4-4.6 M frames/s each way.
 * The compiler emits it only for CPUs known to have it, and Debian builds
 * for any x86-64: so the CPU is asked once, at start.
 *
 * The distances are for that 230 ns: a chain takes ~100 ns here, so a
 * buffer fetched 3 chains ahead was still on its way when it was copied;
 * 6 ahead gave 5-15 % more (with 12 for the descriptors, which must come
 * first).  docs/performance.md has the runs.
 */
#define VQ_PREFETCH_DESC 12
#define VQ_PREFETCH_BUF	 6

static bool vq_has_prefetchw;

__attribute__((constructor)) static void vq_probe_cpu(void)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned a, b, c, d;

	if (__get_cpuid(0x80000001, &a, &b, &c, &d))
		vq_has_prefetchw = c & bit_PRFCHW;
#endif
}

/* vq_prefetch_line() - the line at @p, to be written (@write) or read */
static inline __attribute__((always_inline)) void
vq_prefetch_line(const void *p, bool write)
{
#if defined(__x86_64__) || defined(__i386__)
	if (write && vq_has_prefetchw) {
		__asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
		return;
	}
#endif
	if (write)
		__builtin_prefetch(p, 1);
	else
		__builtin_prefetch(p, 0);
}

/* vq_head_ahead() - the head of the chain @ahead places on from the next
 * one, as the driver wrote it: check it against the size before use */
static inline __attribute__((always_inline)) uint16_t
vq_head_ahead(const struct virtq *q, uint16_t ahead)
{
	return __atomic_load_n(
	    &q->avail->ring[(uint16_t)(q->last_avail + ahead) & (q->size - 1)],
	    __ATOMIC_RELAXED);
}

/* vq_prefetch_desc() - the descriptor of the chain @ahead places on */
static inline __attribute__((always_inline)) void
vq_prefetch_desc(const struct virtq *q, uint16_t ahead)
{
	uint16_t head = vq_head_ahead(q, ahead);

	if (head < q->size)
		__builtin_prefetch(&q->desc[head], 0);
}

/* vq_prefetch_buf() - the first buffer of the chain @ahead places on */
static inline __attribute__((always_inline)) void
vq_prefetch_buf(struct virtq *q, uint16_t ahead, bool write)
{
	uint16_t head = vq_head_ahead(q, ahead);
	struct vring_desc d;
	const uint8_t *p;

	if (head >= q->size)
		return;
	memcpy(&d, &q->desc[head], sizeof(d));
	if ((d.flags & VRING_DESC_F_INDIRECT) || !d.len)
		return;
	p = vq_buf(q, d.addr, d.len);
	if (!p)
		return;
	vq_prefetch_line(p, write);
	if (d.len > 64)
		vq_prefetch_line(p + 64, write);
}

/**
 * vq_prefetch_start() - the pipeline's first stages, for the chains an
 * available index just read brought: their first descriptors, then the
 * first buffers
 * @n:	chains the index covers
 */
static void vq_prefetch_start(struct virtq *q, unsigned n, bool write)
{
	for (unsigned i = 0; i < n && i < VQ_PREFETCH_DESC; i++)
		vq_prefetch_desc(q, (uint16_t)i);
	for (unsigned i = 0; i < n && i < VQ_PREFETCH_BUF; i++)
		vq_prefetch_buf(q, (uint16_t)i, write);
}

/* vq_prefetch_next() - one step of the pipeline, once a chain is taken */
static inline __attribute__((always_inline)) void
vq_prefetch_next(struct virtq *q, bool write)
{
	uint16_t ahead = (uint16_t)(q->avail_seen - q->last_avail);

	if (ahead > q->size)
		return;
	if (ahead > VQ_PREFETCH_DESC - 1)
		vq_prefetch_desc(q, VQ_PREFETCH_DESC - 1);
	if (ahead > VQ_PREFETCH_BUF - 1)
		vq_prefetch_buf(q, VQ_PREFETCH_BUF - 1, write);
}

/**
 * vq_avail() - chains available: those the index read last still covers,
 * else vq_pending() (the index read again); a new index starts the
 * prefetch pipeline for the chains it brought
 * @write:	the buffers will be written (RX) rather than read (TX)
 */
static inline unsigned vq_avail(struct virtq *q, bool write)
{
	uint16_t n = (uint16_t)(q->avail_seen - q->last_avail);

	if (!n || n > q->size)
		n = (uint16_t)vq_pending(q);
	if (n && q->warmed != q->avail_seen) {
		q->warmed = q->avail_seen;
		vq_prefetch_start(q, n, write);
	}
	return n;
}

/* vq_next_head() - the head of the next available chain, taken; -1 when
 * it is out of range (the queue broke) */
static int vq_next_head(struct virtq *q)
{
	uint16_t head = __atomic_load_n(
	    &q->avail->ring[q->last_avail & (q->size - 1)], __ATOMIC_RELAXED);

	if (head >= q->size) {
		vq_break(q);
		return -1;
	}
	q->last_avail++;
	return head;
}

/* vq_used_flush() - write the held-back used entries into the ring (not
 * yet visible: the used index is not moved) */
static void vq_used_flush(struct virtq *q)
{
	uint16_t from = (uint16_t)(q->used_idx - q->nshadow);
	unsigned at = from & (q->size - 1);
	unsigned first = q->size - at; /* entries before the ring wraps */

	if (!q->nshadow)
		return;
	if (first > q->nshadow)
		first = q->nshadow;
	memcpy(&q->used->ring[at], q->shadow, first * sizeof(q->shadow[0]));
	memcpy(&q->used->ring[0], q->shadow + first,
	       (q->nshadow - first) * sizeof(q->shadow[0]));
	if (__builtin_expect(q->log != NULL, 0)) {
		vq_log_used(q, VQ_USED_ELEM_OFF(q, from),
			    first * sizeof(q->shadow[0]));
		if (q->nshadow > first)
			vq_log_used(q, VQ_USED_ELEM_OFF(q, 0),
				    (q->nshadow - first) *
					sizeof(q->shadow[0]));
	}
	q->nshadow = 0;
}

static void vq_used_put(struct virtq *q, uint16_t id, uint32_t len)
{
	if (q->nshadow == VQ_SHADOW_MAX)
		vq_used_flush(q);
	q->shadow[q->nshadow++] = (struct vring_used_elem){id, len};
	q->used_idx++;
}

/* vq_used_zero() - used entry @u, taken but not yet published, now
 * returns its chain unused (length 0) */
static void vq_used_zero(struct virtq *q, uint16_t u)
{
	uint16_t back = (uint16_t)(q->used_idx - u); /* 1: the last */

	if (back <= q->nshadow) {
		q->shadow[q->nshadow - back].len = 0;
		return;
	}
	q->used->ring[u & (q->size - 1)].len = 0;
	if (q->log)
		vq_log_used(q, VQ_USED_ELEM_OFF(q, u),
			    sizeof(struct vring_used_elem));
}

/* vq_used_unput() - forget the used entries from @u on (not published) */
static void vq_used_unput(struct virtq *q, uint16_t u)
{
	uint16_t back = (uint16_t)(q->used_idx - u);

	/* entries flushed meanwhile stay in the ring, past the index, and
	 * are written over later */
	q->nshadow = back < q->nshadow ? q->nshadow - back : 0;
	q->used_idx = u;
}

/* vq_fault() - count @why; returns -EINVAL for the caller */
static int vq_fault(struct virtq *q, enum vq_fault why)
{
	q->faults[why]++;
	return -EINVAL;
}

/* vq_chain_walk() - vq_chain_read() of any chain; @d is the copy of the
 * head descriptor @head already read */
static __attribute__((noinline)) int vq_chain_walk(struct virtq *q,
						   uint16_t head, bool writable,
						   struct vring_desc d)
{
	const uint8_t *table = (const uint8_t *)q->desc;
	uint32_t table_len = q->size, idx = head, walked = 0;
	bool indirect = false, saw_write = false;
	void *p;

	q->nsegs = 0;
	q->seg_bytes = 0;
	for (;;) {
		if (idx >= table_len)
			return vq_fault(q, VQ_FAULT_NEXT_RANGE);
		if (++walked > table_len)
			return vq_fault(q, VQ_FAULT_LOOP);
		if (walked > 1 || indirect)
			memcpy(&d, table + (size_t)idx * sizeof(d), sizeof(d));
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (indirect || (d.flags & VRING_DESC_F_NEXT))
				return vq_fault(q, VQ_FAULT_INDIRECT_NESTED);
			if (!d.len || d.len % sizeof(d) ||
			    d.len / sizeof(d) > q->size)
				return vq_fault(q, VQ_FAULT_INDIRECT_LEN);
			table = vq_buf(q, d.addr, d.len);
			if (!table)
				return vq_fault(q, VQ_FAULT_ADDR);
			table_len = d.len / sizeof(d);
			idx = 0;
			walked = 0;
			indirect = true;
			continue;
		}
		if (d.flags & VRING_DESC_F_WRITE)
			saw_write = true;
		else if (saw_write)
			return vq_fault(q, VQ_FAULT_READ_AFTER_WRITE);
		if (!!(d.flags & VRING_DESC_F_WRITE) != writable)
			return vq_fault(q, VQ_FAULT_DIRECTION);
		if (d.len) {
			p = vq_buf(q, d.addr, d.len);
			if (!p)
				return vq_fault(q, VQ_FAULT_ADDR);
			if (q->nsegs == VQ_SEGS_MAX)
				return vq_fault(q, VQ_FAULT_TOO_MANY_SEGS);
			q->segs[q->nsegs++] = (struct vq_seg){p, d.len};
			q->seg_bytes += d.len;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		idx = d.next;
	}
}

/**
 * vq_chain_read() - walk chain @head, checking every descriptor, into
 * q->segs (non-empty buffers only) and q->seg_bytes
 * @writable:	the buffers must all be device-writable (RX), else all
 *		readable (TX)
 *
 * Return: 0, or -EINVAL with the fault counted.
 */
static int vq_chain_read(struct virtq *q, uint16_t head, bool writable)
{
	struct vring_desc d;
	void *p;

	/* One copy of each descriptor: the guest may change it.  The head
	 * (< size: vq_next_head() checked it) is read here, and a chain of
	 * just one buffer, the usual one, is done at once */
	memcpy(&d, &q->desc[head], sizeof(d));
	if ((d.flags & (VRING_DESC_F_NEXT | VRING_DESC_F_INDIRECT)) || !d.len ||
	    !!(d.flags & VRING_DESC_F_WRITE) != writable)
		return vq_chain_walk(q, head, writable, d);
	p = vq_buf(q, d.addr, d.len);
	if (!p)
		return vq_fault(q, VQ_FAULT_ADDR);
	q->segs[0] = (struct vq_seg){p, d.len};
	q->nsegs = 1;
	q->seg_bytes = d.len;
	return 0;
}

/* -- TX: guest → switch ------------------------------------------------- */

/* vq_hdr_copy() - a virtio_net_hdr of @q's length, in sizes the compiler
 * copies inline */
static inline void vq_hdr_copy(const struct virtq *q, uint8_t *to,
			       const uint8_t *from)
{
	if (q->hdr_len == VQ_NET_HDR_MRG_LEN)
		memcpy(to, from, VQ_NET_HDR_MRG_LEN);
	else
		memcpy(to, from, VQ_NET_HDR_LEN);
}

static void vq_hdr_parse(const uint8_t *h, struct frame *f)
{
	f->vnet.flags = h[0];
	f->vnet.gso_type = h[1];
	memcpy(&f->vnet.hdr_len, h + 2, 2);
	memcpy(&f->vnet.gso_size, h + 4, 2);
	memcpy(&f->vnet.csum_start, h + 6, 2);
	memcpy(&f->vnet.csum_offset, h + 8, 2);
}

/* vq_gather() - copy q->segs: the first @hlen bytes to @hdr, the rest to
 * @out (q->seg_bytes - @hlen bytes) */
static void vq_gather(const struct virtq *q, uint8_t *hdr, unsigned hlen,
		      uint8_t *out)
{
	for (unsigned i = 0; i < q->nsegs; i++) {
		const uint8_t *p = q->segs[i].p;
		uint32_t len = q->segs[i].len;

		if (hlen) {
			uint32_t n = len < hlen ? len : hlen;

			memcpy(hdr, p, n);
			hdr += n;
			hlen -= n;
			p += n;
			len -= n;
		}
		memcpy(out, p, len);
		out += len;
	}
}

int vq_tx_pop(struct virtq *q, struct frame **fp)
{
	uint8_t hdr[VQ_NET_HDR_MRG_LEN];
	struct frame *f;
	uint64_t flen;
	int head, rc;

	*fp = NULL;
	if (!vq_ready(q))
		return -EIO;
	if (!vq_avail(q, false))
		return q->broken ? -EIO : 0;
	head = vq_next_head(q);
	if (head < 0)
		return -EIO;
	rc = vq_chain_read(q, (uint16_t)head, false);
	if (!rc && (q->seg_bytes < q->hdr_len + FRAME_ETH_HLEN ||
		    q->seg_bytes - q->hdr_len > FRAME_MAX_LEN))
		rc = vq_fault(q, VQ_FAULT_SHORT);
	if (rc) {
		vq_used_put(q, (uint16_t)head, 0);
		return rc;
	}
	flen = q->seg_bytes - q->hdr_len;
	vq_prefetch_next(q, false);
	f = frame_alloc((size_t)flen);
	if (!f) {
		vq_used_put(q, (uint16_t)head, 0);
		return -ENOBUFS;
	}
	if (q->nsegs == 1) { /* header and frame in one buffer */
		vq_hdr_copy(q, hdr, q->segs[0].p);
		memcpy(f->data, q->segs[0].p + q->hdr_len, (size_t)flen);
	} else {
		vq_gather(q, hdr, q->hdr_len, f->data);
	}
	vq_used_put(q, (uint16_t)head, 0);
	vq_hdr_parse(hdr, f);
	if (gso_check(f)) {
		frame_unref(f);
		return -EINVAL;
	}
	*fp = f;
	return 1;
}

/* -- RX: switch → guest ------------------------------------------------- */

/* Where the bytes of header + frame come from while they are scattered */
struct vq_src {
	const uint8_t *part[2];
	uint32_t len[2];
	unsigned i;
	uint32_t off;
	uint64_t done;	 /* bytes copied so far */
	uint8_t *nb[2];	 /* where num_buffers' two bytes landed */
	unsigned nb_off; /* num_buffers' offset in the header; 0: none */
};

/* vq_scatter() - copy up to q->seg_bytes of @s into q->segs; returns
 * the bytes copied */
static uint32_t vq_scatter(const struct virtq *q, struct vq_src *s)
{
	uint32_t total = 0;

	for (unsigned i = 0; i < q->nsegs && s->i < 2; i++) {
		uint8_t *p = q->segs[i].p;
		uint32_t room = q->segs[i].len;

		while (room && s->i < 2) {
			uint32_t left = s->len[s->i] - s->off;
			uint32_t n = left < room ? left : room;

			memcpy(p, s->part[s->i] + s->off, n);
			/* num_buffers is filled in once known */
			if (s->i == 0 && s->nb_off) {
				for (unsigned k = 0; k < 2; k++) {
					uint32_t at = s->nb_off + k;

					if (at >= s->off && at < s->off + n)
						s->nb[k] = p + (at - s->off);
				}
			}
			p += n;
			room -= n;
			s->off += n;
			s->done += n;
			total += n;
			if (s->off == s->len[s->i]) {
				s->i++;
				s->off = 0;
			}
		}
	}
	return total;
}

static void vq_hdr_build(const struct virtq *q, const struct frame *f,
			 uint8_t *h)
{
	memset(h, 0, VQ_NET_HDR_MRG_LEN);
	if (q->guest_csum)
		h[0] = f->vnet.flags &
		       (FRAME_VNET_F_NEEDS_CSUM | FRAME_VNET_F_DATA_VALID);
	h[1] = f->vnet.gso_type;
	memcpy(h + 2, &f->vnet.hdr_len, 2);
	memcpy(h + 4, &f->vnet.gso_size, 2);
	memcpy(h + 6, &f->vnet.csum_start, 2);
	memcpy(h + 8, &f->vnet.csum_offset, 2);
	if (q->hdr_len == VQ_NET_HDR_MRG_LEN)
		h[10] = 1; /* num_buffers, little-endian */
}

int vq_rx_push(struct virtq *q, const struct frame *f)
{
	uint8_t hdr[VQ_NET_HDR_MRG_LEN];
	uint16_t saved_avail = q->last_avail, saved_used = q->used_idx;
	uint64_t total = q->hdr_len + (uint64_t)f->len;
	unsigned pending, nbufs = 0;
	bool spread = false; /* s is in use: the frame spans buffers */
	struct vq_src s;
	int head, rc;

	if (!vq_ready(q))
		return -EIO;
	pending = vq_avail(q, true);
	if (q->broken)
		return -EIO;
	vq_hdr_build(q, f, hdr);

	do {
		uint32_t n;

		/* a frame spanning chains may need more than the index
		 * read last covered */
		if (!pending && !(pending = vq_pending(q))) {
			q->last_avail = saved_avail;
			vq_used_unput(q, saved_used);
			return q->broken ? -EIO : -EAGAIN;
		}
		head = vq_next_head(q);
		if (head < 0)
			return -EIO;
		pending--;
		rc = vq_chain_read(q, (uint16_t)head, true);
		if (rc) {
			/* Give back what this frame took, unused */
			for (uint16_t u = saved_used; u != q->used_idx; u++)
				vq_used_zero(q, u);
			vq_used_put(q, (uint16_t)head, 0);
			return rc;
		}
		if (!q->mrg_rxbuf && q->seg_bytes < total) {
			q->last_avail = saved_avail;
			return -EMSGSIZE;
		}
		vq_prefetch_next(q, true);
		if (!spread) {
			if (q->nsegs && q->segs[0].len >= total) {
				/* the whole frame fits the first buffer:
				 * num_buffers is 1 as built */
				vq_hdr_copy(q, q->segs[0].p, hdr);
				memcpy(q->segs[0].p + q->hdr_len, f->data,
				       f->len);
				if (__builtin_expect(q->log != NULL, 0))
					vq_log_host(q, q->segs[0].p, total);
				vq_used_put(q, (uint16_t)head, (uint32_t)total);
				return 0;
			}
			s = (struct vq_src){
			    .part = {hdr, f->data},
			    .len = {q->hdr_len, f->len},
			    .nb_off = q->mrg_rxbuf ? VQ_NET_HDR_LEN : 0,
			};
			spread = true;
		}
		n = vq_scatter(q, &s);
		if (__builtin_expect(q->log != NULL, 0))
			vq_log_segs(q, n);
		vq_used_put(q, (uint16_t)head, n);
		nbufs++;
	} while (s.done < total);
	if (q->mrg_rxbuf && s.nb[0] && s.nb[1]) {
		*s.nb[0] = (uint8_t)nbufs;
		*s.nb[1] = (uint8_t)(nbufs >> 8);
		if (q->log) { /* written after their pages were marked */
			vq_log_host(q, s.nb[0], 1);
			vq_log_host(q, s.nb[1], 1);
		}
	}
	return 0;
}

/* -- notifications ------------------------------------------------------ */

bool vq_publish(struct virtq *q)
{
	uint16_t old = q->published, now = q->used_idx, event;

	if (!q->size || old == now)
		return false;
	vq_used_flush(q);
	__atomic_store_n(&q->used->idx, now, __ATOMIC_RELEASE);
	q->published = now;
	if (__builtin_expect(q->log != NULL, 0))
		vq_log_used(q, offsetof(struct vring_used, idx),
			    sizeof(q->used->idx));
	/* The driver's flags and used_event are read after it can see the
	 * new index: it may have changed them in between */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (q->event_idx) {
		event =
		    __atomic_load_n(&q->avail->ring[q->size], __ATOMIC_RELAXED);
		return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
	}
	return !(__atomic_load_n(&q->avail->flags, __ATOMIC_RELAXED) &
		 VRING_AVAIL_F_NO_INTERRUPT);
}

bool vq_enable_notify(struct virtq *q, bool on)
{
	uint16_t *avail_event;

	if (!vq_ready(q))
		return false;
	avail_event = (uint16_t *)&q->used->ring[q->size];
	if (q->event_idx) {
		if (on)
			__atomic_store_n(avail_event, q->last_avail,
					 __ATOMIC_RELAXED);
		if (on && q->log)
			vq_log_used(q,
				    VQ_USED_ELEM_OFF(q, 0) +
					(uint64_t)q->size *
					    sizeof(struct vring_used_elem),
				    sizeof(*avail_event));
	} else {
		__atomic_store_n(&q->used->flags,
				 on ? 0 : VRING_USED_F_NO_NOTIFY,
				 __ATOMIC_RELAXED);
		if (q->log)
			vq_log_used(q, offsetof(struct vring_used, flags),
				    sizeof(q->used->flags));
	}
	if (!on)
		return false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_pending(q) != 0;
}
