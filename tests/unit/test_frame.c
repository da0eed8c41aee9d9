// SPDX-License-Identifier: MIT
/* test_frame.c - frame pools: size classes, exhaustion, reference counts;
 * the Ethernet and VLAN header helpers */

#include <stdbool.h>
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

/* One frame's outer header and what the helpers must say about it */
struct vlan_case {
	const char *what;
	uint16_t tpid;	 /* ethertype at bytes 12-13 */
	uint16_t tci;	 /* bytes 14-15 */
	uint32_t len;	 /* frame length */
	bool tagged;	 /* frame_is_tagged() */
	uint16_t vlan;	 /* frame_vlan() */
};

static const struct vlan_case vlan_cases[] = {
	{ "802.1Q", 0x8100, 10, 64, true, 10 },
	{ "802.1ad outer tag (QinQ)", 0x88a8, 20, 64, true, 20 },
	{ "802.1Q, priority and DEI bits set", 0x8100, 0xf00a, 64, true, 10 },
	{ "802.1ad, priority and DEI bits set", 0x88a8, 0xb0c8, 64, true,
	  0x0c8 },
	{ "802.1Q, highest VID", 0x8100, 0x0fff, 64, true, 4095 },
	{ "802.1Q, priority tag only", 0x8100, 0x6000, 64, true, 0 },
	{ "IPv4", 0x0800, 0x4500, 64, false, 0 },
	{ "old QinQ TPID 0x9100 (not a tag here)", 0x9100, 30, 64, false, 0 },
	{ "802.1Q cut inside the tag", 0x8100, 10, 16, true, 0 },
	{ "802.1ad cut inside the tag", 0x88a8, 10, 17, true, 0 },
	{ "802.1Q tag with nothing after it", 0x8100, 10, 18, true, 10 },
	{ "802.1ad tag with nothing after it", 0x88a8, 10, 18, true, 10 },
	{ "802.1ad, header only", 0x88a8, 10, 14, true, 0 },
};

static void test_frame_vlan_same_rule_for_8021q_and_8021ad(void)
{
	struct frame_pool *pool = pool_setup(2, 0);

	for (size_t i = 0; i < sizeof(vlan_cases) / sizeof(vlan_cases[0]);
	     i++) {
		const struct vlan_case *c = &vlan_cases[i];
		uint8_t bytes[64] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				      2,    0,	  0,	0,    0,    1 };
		struct frame *f;

		bytes[12] = (uint8_t)(c->tpid >> 8);
		bytes[13] = (uint8_t)c->tpid;
		bytes[14] = (uint8_t)(c->tci >> 8);
		bytes[15] = (uint8_t)c->tci;
		/* a QinQ frame's inner tag must not be what is read */
		bytes[16] = 0x81;
		bytes[17] = 0x00;
		bytes[18] = 0x0f;
		bytes[19] = 0xfe;
		f = frame_alloc_copy(bytes, c->len);
		CHECK(f != NULL);
		if (!f)
			continue;
		CHECK_EQ(frame_is_tagged(f), c->tagged);
		CHECK_EQ(frame_vlan(f), c->vlan);
		if (frame_is_tagged(f) != c->tagged || frame_vlan(f) != c->vlan)
			printf("# in case '%s'\n", c->what);
		frame_unref(f);
	}
	frame_pool_free(pool);
}

int main(void)
{
	TAP_RUN(test_frame_alloc_returns_buffer_to_pool);
	TAP_RUN(test_frame_jumbo_uses_large_class);
	TAP_RUN(test_frame_exhaustion_is_counted_not_fatal);
	TAP_RUN(test_frame_shared_until_last_reference);
	TAP_RUN(test_frame_vlan_and_mac_helpers);
	TAP_RUN(test_frame_vlan_same_rule_for_8021q_and_8021ad);
	return tap_done();
}
