// SPDX-License-Identifier: MIT
/* test_frame.c - frame pools: size classes, exhaustion, reference counts */

#include <string.h>

#include "frame.h"
#include "tap.h"

static struct frame_pool *pool_setup(unsigned small, unsigned large)
{
	struct frame_pool *pool = frame_pool_new(small, large);

	frame_pool_set_current(pool);
	return pool;
}

static void test_frame_alloc_returns_buffer_to_pool(void)
{
	struct frame_pool *pool = pool_setup(4, 2);
	struct frame_pool_stats st;
	struct frame *f = frame_alloc(60);

	CHECK(f != NULL);
	CHECK_EQ(f->len, 60);
	CHECK_EQ(f->refs, 1);
	CHECK(!f->large);
	CHECK_EQ(frame_headroom(f), FRAME_HEADROOM);
	frame_pool_stats(pool, &st);
	CHECK_EQ(st.small_free, 3);
	frame_unref(f);
	frame_pool_stats(pool, &st);
	CHECK_EQ(st.small_free, 4);
	frame_pool_free(pool);
}

static void test_frame_jumbo_uses_large_class(void)
{
	struct frame_pool *pool = pool_setup(4, 2);
	struct frame *f = frame_alloc(9000), *g = frame_alloc(FRAME_MAX_LEN);

	CHECK(f && f->large && f->cap >= 9000);
	CHECK(g && g->large);
	/* the whole data area is writable */
	if (g)
		memset(g->data, 0xab, FRAME_MAX_LEN);
	CHECK(frame_alloc(FRAME_MAX_LEN + 1) == NULL);
	if (f)
		frame_unref(f);
	if (g)
		frame_unref(g);
	frame_pool_free(pool);
}

static void test_frame_exhaustion_is_counted_not_fatal(void)
{
	struct frame_pool *pool = pool_setup(2, 1);
	struct frame_pool_stats st;
	struct frame *a = frame_alloc(64), *b = frame_alloc(64);
	struct frame *c = frame_alloc(64); /* small ran dry: large class */
	struct frame *d = frame_alloc(64);

	CHECK(a && b && c);
	CHECK(c && c->large);
	CHECK(d == NULL);
	frame_pool_stats(pool, &st);
	CHECK_EQ(st.alloc_failures, 1);
	frame_unref(a);
	d = frame_alloc(64);
	CHECK(d != NULL && d == a);
	frame_unref(b);
	frame_unref(c);
	frame_unref(d);
	frame_pool_stats(pool, &st);
	CHECK_EQ(st.small_free, 2);
	CHECK_EQ(st.large_free, 1);
	frame_pool_free(pool);
}

static void test_frame_shared_until_last_reference(void)
{
	struct frame_pool *pool = pool_setup(2, 0);
	struct frame_pool_stats st;
	static const uint8_t bytes[20] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	struct frame *f = frame_alloc_copy(bytes, sizeof(bytes));

	CHECK(f && !memcmp(f->data, bytes, sizeof(bytes)));
	frame_ref(f);
	frame_ref(f);
	frame_unref(f);
	frame_unref(f);
	frame_pool_stats(pool, &st);
	CHECK_EQ(st.small_free, 1);
	frame_unref(f);
	frame_pool_stats(pool, &st);
	CHECK_EQ(st.small_free, 2);
	frame_pool_free(pool);
}

static void test_frame_vlan_and_mac_helpers(void)
{
	struct frame_pool *pool = pool_setup(2, 0);
	uint8_t tagged[64] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0,
			       0,    1,    0x81, 0x00, 0x20, 0x0a, 0x08, 0x00 };
	struct frame *f = frame_alloc_copy(tagged, sizeof(tagged));

	CHECK_EQ(frame_vlan(f), 10);
	CHECK(mac_is_broadcast(frame_dst(f)));
	CHECK(mac_is_multicast(frame_dst(f)));
	CHECK(!mac_is_multicast(frame_src(f)));
	f->len = 16; /* too short for its tag: reported untagged */
	CHECK_EQ(frame_vlan(f), 0);
	frame_unref(f);
	frame_pool_free(pool);
}

int main(void)
{
	TAP_RUN(test_frame_alloc_returns_buffer_to_pool);
	TAP_RUN(test_frame_jumbo_uses_large_class);
	TAP_RUN(test_frame_exhaustion_is_counted_not_fatal);
	TAP_RUN(test_frame_shared_until_last_reference);
	TAP_RUN(test_frame_vlan_and_mac_helpers);
	return tap_done();
}
