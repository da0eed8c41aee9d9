// SPDX-License-Identifier: MIT
/* frame.c - preallocated frame pools: two size classes, free lists, refcounts
 *
 * A pool is two contiguous arrays of fixed-size buffers, mapped once.  Each
 * buffer is a struct frame header, FRAME_HEADROOM bytes of headroom and the
 * data area.  Allocation pops a free list; the last frame_unref() pushes the
 * buffer back.  Nothing here ever calls malloc on the per-frame path.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "frame.h"

struct frame_class {
	uint8_t *base;		/* mapping */
	size_t map_len;
	size_t stride;		/* bytes per buffer */
	unsigned total, free_count;
	struct frame *free_list;
};

struct frame_pool {
	struct frame_class small, large;
	uint64_t alloc_failures;
};

static __thread struct frame_pool *pool_current;

static size_t align_up(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

static bool class_init(struct frame_pool *pool, struct frame_class *cls,
		       unsigned n, size_t data_cap, bool large)
{
	cls->stride = align_up(sizeof(struct frame) + FRAME_HEADROOM + data_cap,
			       64);
	cls->total = n;
	cls->free_count = 0;
	cls->free_list = NULL;
	if (!n)
		return true;
	cls->map_len = cls->stride * n;
	cls->base = mmap(NULL, cls->map_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (cls->base == MAP_FAILED) {
		cls->base = NULL;
		return false;
	}
	/* Push in reverse so the first allocations use the lowest addresses */
	for (unsigned i = n; i-- > 0;) {
		struct frame *f = (struct frame *)(cls->base + i * cls->stride);

		f->pool = pool;
		f->large = large;
		f->cap = (uint32_t)data_cap;
		f->refs = 0;
		f->next_free = cls->free_list;
		cls->free_list = f;
		cls->free_count++;
	}
	return true;
}

static void class_fini(struct frame_class *cls)
{
	if (cls->base)
		munmap(cls->base, cls->map_len);
	cls->base = NULL;
}

struct frame_pool *frame_pool_new(unsigned n_small, unsigned n_large)
{
	struct frame_pool *pool = calloc(1, sizeof(*pool));

	if (!pool)
		return NULL;
	if (!class_init(pool, &pool->small, n_small, FRAME_SMALL_CAP, false) ||
	    !class_init(pool, &pool->large, n_large, FRAME_MAX_LEN, true)) {
		frame_pool_free(pool);
		return NULL;
	}
	return pool;
}

void frame_pool_free(struct frame_pool *pool)
{
	if (!pool)
		return;
	if (pool_current == pool)
		pool_current = NULL;
	class_fini(&pool->small);
	class_fini(&pool->large);
	free(pool);
}

void frame_pool_set_current(struct frame_pool *pool)
{
	pool_current = pool;
}

void frame_pool_stats(const struct frame_pool *pool,
		      struct frame_pool_stats *st)
{
	st->small_total = pool->small.total;
	st->small_free = pool->small.free_count;
	st->large_total = pool->large.total;
	st->large_free = pool->large.free_count;
	st->alloc_failures = pool->alloc_failures;
}

static struct frame *class_pop(struct frame_class *cls)
{
	struct frame *f = cls->free_list;

	if (f) {
		cls->free_list = f->next_free;
		cls->free_count--;
	}
	return f;
}

struct frame *frame_alloc(size_t len)
{
	struct frame_pool *pool = pool_current;
	struct frame *f = NULL;

	if (!pool || len > FRAME_MAX_LEN)
		return NULL;
	if (len <= FRAME_SMALL_CAP)
		f = class_pop(&pool->small);
	if (!f) /* jumbo, or the small class ran dry */
		f = class_pop(&pool->large);
	if (!f) {
		pool->alloc_failures++;
		return NULL;
	}
	f->refs = 1;
	f->data = f->buf + FRAME_HEADROOM;
	f->len = (uint32_t)len;
	memset(&f->vnet, 0, sizeof(f->vnet));
	f->next_free = NULL;
	return f;
}

struct frame *frame_alloc_copy(const void *src, size_t len)
{
	struct frame *f = frame_alloc(len);

	if (f)
		memcpy(f->data, src, len);
	return f;
}

void frame_unref(struct frame *f)
{
	struct frame_class *cls;

	if (--f->refs)
		return;
	cls = f->large ? &f->pool->large : &f->pool->small;
	f->next_free = cls->free_list;
	cls->free_list = f;
	cls->free_count++;
}

void frame_unref_many(struct frame *const *frames, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		frame_unref(frames[i]);
}

char *mac_format(const uint8_t *mac, char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

uint32_t frame_flow_hash(const struct frame *f)
{
	const uint8_t *d = f->data;
	uint32_t len = f->len, off = 12, h = 0x811c9dc5u, n = 12, from = 0;
	uint16_t et;

	if (len < FRAME_ETH_HLEN)
		return 0;
	et = (uint16_t)(d[12] << 8 | d[13]);
	if (et == 0x8100 && len >= 18) {
		et = (uint16_t)(d[16] << 8 | d[17]);
		off = 16;
	}
	off += 2;
	if (et == 0x0800 && len >= off + 20) {
		bool first = !((d[off + 6] << 8 | d[off + 7]) & 0x1fff);
		uint8_t proto = d[off + 9];

		from = off + 12;
		n = 8;
		/* without options the ports follow the addresses */
		if (d[off] == 0x45 && first && (proto == 6 || proto == 17) &&
		    len >= off + 24)
			n += 4;
	} else if (et == 0x86dd && len >= off + 40) {
		uint8_t nh = d[off + 6];

		from = off + 8;
		n = 32;
		if ((nh == 6 || nh == 17) && len >= off + 44)
			n += 4;
	}
	for (uint32_t i = 0; i < n; i++)
		h = (h ^ d[from + i]) * 0x01000193u;
	return h ^ (h >> 16);
}
