/* SPDX-License-Identifier: MIT */
/* vring.c - split virtqueues from the front-end's side, for the
 * vhost-user transport: lay a ring out in shared memory, post buffers,
 * publish them, and take back what the back-end used
 *
 * The back-end shares this memory and may be hostile or broken: every
 * index it writes (used idx, used ids) is checked before it is believed.
 * Never: trust a used entry, allocate or make a syscall on the per-frame
 * path (post, publish, reap).
 */
#include <errno.h>
#include <stdlib.h>

#include "bench.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vring.c writes virtio's little-endian rings in host order"
#endif

#define VRING_ALIGN 4096

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

int vring_layout(unsigned num, struct vring_layout *l)
{
	if (num < VRING_NUM_MIN || num > VRING_NUM_MAX || (num & (num - 1)))
		return -EINVAL;
	l->desc = 0;
	l->avail = (size_t)num * sizeof(struct vring_desc);
	/* flags, idx, ring[num], used_event */
	l->used = align_up(l->avail + (3 + (size_t)num) * sizeof(uint16_t),
			   VRING_ALIGN);
	/* flags, idx, ring[num], avail_event */
	l->size = align_up(l->used + 3 * sizeof(uint16_t) +
				   (size_t)num * sizeof(struct vring_used_elem),
			   VRING_ALIGN);
	return 0;
}

int vring_init(struct vring *r, void *mem, unsigned num, uint8_t *bufs,
	       size_t buf_size, bool writable)
{
	struct vring_layout l;
	unsigned i;

	memset(r, 0, sizeof(*r));
	if (vring_layout(num, &l))
		return -EINVAL;
	r->num = num;
	r->desc = (struct vring_desc *)((uint8_t *)mem + l.desc);
	r->avail = (struct vring_avail *)((uint8_t *)mem + l.avail);
	r->used = (struct vring_used *)((uint8_t *)mem + l.used);
	r->bufs = bufs;
	r->buf_size = buf_size;
	r->writable = writable;
	r->busy = calloc(num, 1);
	r->free = calloc(num, sizeof(*r->free));
	if (!r->busy || !r->free)
		return -ENOMEM;
	if (writable) {
		for (i = 0; i < num; i++)
			vring_post(r, (uint16_t)i, (uint32_t)buf_size);
	} else {
		/* popped from the top: descriptor 0 goes first */
		for (i = 0; i < num; i++)
			r->free[i] = (uint16_t)(num - 1 - i);
		r->n_free = num;
	}
	return 0;
}

void vring_fini(struct vring *r)
{
	free(r->busy);
	free(r->free);
	r->busy = NULL;
	r->free = NULL;
}

bool vring_publish(struct vring *r)
{
	__atomic_store_n(&r->avail->idx, r->avail_idx, __ATOMIC_RELEASE);
	/* the back-end reads avail->idx, then sets or clears NO_NOTIFY:
	 * our store must be seen before we read its flag */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !(__atomic_load_n(&r->used->flags, __ATOMIC_RELAXED) &
		 VRING_USED_F_NO_NOTIFY);
}

int vring_reap(struct vring *r, struct vring_used_elem *out, unsigned max)
{
	uint16_t idx = __atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE);
	uint16_t ready = (uint16_t)(idx - r->last_used);
	unsigned i;

	if (ready > vring_in_flight(r))
		return -EPROTO;
	if (ready > max)
		ready = (uint16_t)max;
	for (i = 0; i < ready; i++) {
		struct vring_used_elem e =
			r->used->ring[(r->last_used + i) & (r->num - 1)];

		if (e.id >= r->num || !r->busy[e.id])
			return -EPROTO;
		r->busy[e.id] = 0;
		out[i] = e;
	}
	r->last_used = (uint16_t)(r->last_used + ready);
	return ready;
}

int vring_tx_reclaim(struct vring *r)
{
	struct vring_used_elem e[64];
	int n, i, total = 0;

	do {
		n = vring_reap(r, e, 64);
		if (n < 0)
			return n;
		for (i = 0; i < n; i++)
			r->free[r->n_free++] = (uint16_t)e[i].id;
		total += n;
	} while (n == 64);
	return total;
}
