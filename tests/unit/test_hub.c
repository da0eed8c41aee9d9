// SPDX-License-Identifier: MIT
/* test_hub.c - forwarding decisions and accounting of hubs and ports
 *
 * Ports here belong to netdevs of a recording backend made by hand: what a
 * port is sent stays in its record until the test looks.
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "backend.h"
#include "clock.h"
#include "fdb.h"
#include "gso.h"
#include "hub.h"
#include "log.h"
#include "netdev.h"
#include "port.h"
#include "tap.h"

#define REC_MAX 512

struct rec {
	struct frame *got[REC_MAX];
	unsigned n;
	bool paused;	   /* what rx_pause() said last */
	unsigned pauses;   /* how often it was paused */
	unsigned accept_max; /* send() takes at most this many per call */
};

static uint64_t fake_now = 1000;

static uint64_t fake_clock(void)
{
	return fake_now;
}

static unsigned rec_send(struct port *p, struct frame *const *frames,
			 unsigned n)
{
	struct rec *r = p->priv;
	unsigned k = n < r->accept_max ? n : r->accept_max;

	for (unsigned i = 0; i < k && r->n < REC_MAX; i++)
		r->got[r->n++] = frames[i];
	return k;
}

static void rec_rx_pause(struct port *p, bool pause)
{
	struct rec *r = p->priv;

	r->paused = pause;
	r->pauses += pause;
}

static bool rec_open(struct netdev *nd, const json_t *o, struct nh_error **e)
{
	return true;
}

static void rec_close(struct netdev *nd)
{
}

static const struct backend_ops rec_ops = {
	.type = "rec",
	.open = rec_open,
	.close = rec_close,
	.send = rec_send,
	.rx_pause = rec_rx_pause,
};

static struct netdev nds[8];
static struct rec recs[8];
static struct port *ports[8];
static struct frame_pool *pool;

/* Four ports "p0".."p3" on hub @hubid */
static void setup(int32_t hubid, unsigned nports)
{
	pool = frame_pool_new(1024, 8);
	frame_pool_set_current(pool);
	clock_set_source(fake_clock);
	memset(nds, 0, sizeof(nds));
	memset(recs, 0, sizeof(recs));
	for (unsigned i = 0; i < nports; i++) {
		snprintf(nds[i].id, sizeof(nds[i].id), "p%u", i);
		nds[i].ops = &rec_ops;
		nds[i].hubid = hubid;
		nds[i].loop = uv_default_loop();
		nds[i].link_up = true;
		recs[i].accept_max = REC_MAX;
		ports[i] = port_new(&nds[i], NULL, &recs[i]);
	}
}

static void rec_clear(unsigned i)
{
	frame_unref_many(recs[i].got, recs[i].n);
	recs[i].n = 0;
}

static void teardown(unsigned nports)
{
	struct frame_pool_stats st;

	for (unsigned i = 0; i < nports; i++) {
		rec_clear(i);
		port_free(ports[i]);
	}
	frame_pool_stats(pool, &st);
	CHECK_EQ(st.small_free, st.small_total); /* no frame leaked */
	frame_pool_free(pool);
	clock_set_source(NULL);
}

static const uint8_t MAC_BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void mac_of(unsigned i, uint8_t *mac)
{
	static const uint8_t base[6] = { 0x52, 0x54, 0, 0, 0, 0 };

	memcpy(mac, base, 6);
	mac[5] = (uint8_t)(i + 1);
}

/* Send one frame into port @in from host @src to @dst (VLAN @vlan, 0: none) */
static void send_frame(unsigned in, const uint8_t *dst, unsigned src,
		       uint16_t vlan, size_t len)
{
	struct frame *f = frame_alloc(len);
	uint8_t *d = f->data;

	memset(d, 0, len);
	memcpy(d, dst, 6);
	mac_of(src, d + 6);
	if (vlan) {
		d[12] = 0x81;
		d[13] = 0x00;
		d[14] = (uint8_t)(vlan >> 8);
		d[15] = (uint8_t)vlan;
		d[16] = 0x08;
	} else {
		d[12] = 0x08;
	}
	port_input(ports[in], &f, 1);
}

static void send_to_host(unsigned in, unsigned dst_host, unsigned src)
{
	uint8_t dst[6];

	mac_of(dst_host, dst);
	send_frame(in, dst, src, 0, 64);
}

static void test_hub_floods_unknown_unicast_to_all_but_ingress(void)
{
	setup(0, 4);
	send_to_host(0, 9, 0);
	CHECK_EQ(recs[0].n, 0);
	CHECK_EQ(recs[1].n, 1);
	CHECK_EQ(recs[2].n, 1);
	CHECK_EQ(recs[3].n, 1);
	/* one shared buffer, one reference per egress port */
	CHECK(recs[1].got[0] == recs[2].got[0]);
	CHECK_EQ(recs[1].got[0]->refs, 3);
	teardown(4);
}

static void test_hub_known_unicast_goes_to_one_port(void)
{
	setup(0, 4);
	send_to_host(2, 9, 2); /* host 2 learned on port 2 */
	for (unsigned i = 0; i < 4; i++)
		rec_clear(i);
	send_to_host(0, 2, 0);
	CHECK_EQ(recs[1].n, 0);
	CHECK_EQ(recs[2].n, 1);
	CHECK_EQ(recs[3].n, 0);
	teardown(4);
}

static void test_hub_broadcast_and_multicast_flood(void)
{
	static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0, 0, 1 };

	setup(0, 3);
	send_frame(1, MAC_BCAST, 1, 0, 64);
	send_frame(1, mcast, 1, 0, 64);
	CHECK_EQ(recs[0].n, 2);
	CHECK_EQ(recs[1].n, 0);
	CHECK_EQ(recs[2].n, 2);
	teardown(3);
}

static void test_hub_never_sends_back_to_ingress(void)
{
	setup(0, 2);
	send_to_host(0, 9, 0);
	send_to_host(0, 0, 5); /* destination learned on the ingress port */
	CHECK_EQ(recs[0].n, 0);
	CHECK_EQ(recs[1].n, 1);
	CHECK_EQ(ports[0]->stats.rx_drops[PORT_DROP_NO_DEST], 1);
	teardown(2);
}

static void test_hub_alone_on_hub_counts_no_dest(void)
{
	setup(7, 1);
	send_frame(0, MAC_BCAST, 0, 0, 64);
	CHECK_EQ(ports[0]->stats.rx_frames, 1);
	CHECK_EQ(ports[0]->stats.rx_drops[PORT_DROP_NO_DEST], 1);
	CHECK_EQ(ports[0]->stats.rx_forwarded, 0);
	teardown(1);
}

static void test_hub_counts_runt_as_malformed(void)
{
	setup(0, 2);
	send_frame(0, MAC_BCAST, 0, 0, 13);
	send_frame(0, MAC_BCAST, 0, 0, 17);
	/* 17 bytes with a VLAN tag type: the tag itself is cut */
	{
		struct frame *f = frame_alloc(16);

		memset(f->data, 0xff, 6);
		memset(f->data + 6, 2, 6);
		f->data[12] = 0x81;
		f->data[13] = 0;
		port_input(ports[0], &f, 1);
	}
	CHECK_EQ(ports[0]->stats.rx_drops[PORT_DROP_MALFORMED], 2);
	CHECK_EQ(recs[1].n, 1);
	teardown(2);
}

static void test_hub_vlans_learn_separately(void)
{
	uint8_t h5[6];

	setup(0, 3);
	mac_of(5, h5);
	send_frame(1, MAC_BCAST, 5, 10, 64); /* host 5 on VLAN 10 at port 1 */
	send_frame(2, MAC_BCAST, 5, 20, 64); /* and on VLAN 20 at port 2 */
	for (unsigned i = 0; i < 3; i++)
		rec_clear(i);
	send_frame(0, h5, 0, 10, 64);
	send_frame(0, h5, 0, 20, 64);
	send_frame(0, h5, 0, 0, 64); /* untagged: unknown, floods */
	CHECK_EQ(recs[1].n, 2);
	CHECK_EQ(recs[2].n, 2);
	/* tagged frames pass unchanged */
	CHECK_EQ(frame_vlan(recs[1].got[0]), 10);
	CHECK_EQ(frame_vlan(recs[2].got[0]), 20);
	teardown(3);
}

static void test_hub_entry_moves_with_mac(void)
{
	setup(0, 3);
	send_to_host(1, 9, 5);
	send_to_host(2, 9, 5); /* host 5 moved to port 2 */
	for (unsigned i = 0; i < 3; i++)
		rec_clear(i);
	send_to_host(0, 5, 0);
	CHECK_EQ(recs[1].n, 0);
	CHECK_EQ(recs[2].n, 1);
	teardown(3);
}

static void test_hub_link_down_drops_and_flushes(void)
{
	setup(0, 3);
	send_to_host(2, 9, 2);
	port_set_link(ports[2], false);
	for (unsigned i = 0; i < 3; i++)
		rec_clear(i);
	/* host 2 was flushed: unknown, floods; port 2 is down: counted */
	send_to_host(0, 2, 0);
	CHECK_EQ(recs[1].n, 1);
	CHECK_EQ(recs[2].n, 0);
	CHECK_EQ(ports[2]->stats.tx_drops[PORT_DROP_LINK_DOWN], 1);
	/* what a down port receives is dropped too */
	send_to_host(2, 0, 2);
	CHECK_EQ(ports[2]->stats.rx_drops[PORT_DROP_LINK_DOWN], 1);
	CHECK_EQ(recs[0].n, 0);
	port_set_link(ports[2], true);
	send_to_host(2, 0, 2);
	CHECK_EQ(recs[0].n, 1);
	teardown(3);
}

static void test_hub_netdev_link_down_covers_its_ports(void)
{
	setup(0, 2);
	nds[1].link_up = false;
	send_to_host(0, 9, 0);
	CHECK_EQ(recs[1].n, 0);
	CHECK_EQ(ports[1]->stats.tx_drops[PORT_DROP_LINK_DOWN], 1);
	teardown(2);
}

static void test_hub_oversize_for_mtu_is_counted(void)
{
	setup(0, 3);
	ports[2]->mtu = 1500;
	send_frame(0, MAC_BCAST, 0, 0, 1514);
	send_frame(0, MAC_BCAST, 0, 0, 1515);
	send_frame(0, MAC_BCAST, 0, 100, 1518); /* tagged: 4 more allowed */
	CHECK_EQ(recs[1].n, 3);
	CHECK_EQ(recs[2].n, 2);
	CHECK_EQ(ports[2]->stats.tx_drops[PORT_DROP_OVERSIZE], 1);
	teardown(3);
}

/* A TCP frame of @payload bytes over IPv4 or IPv6 from host @src, its
 * checksum left open, GSO type @gso_type with MSS @mss; checked as a
 * backend checks what it receives */
static struct frame *tcp_frame(bool v6, uint8_t gso_type, uint16_t mss,
			       unsigned payload, unsigned src)
{
	unsigned l3 = FRAME_ETH_HLEN, l4 = l3 + (v6 ? 40 : 20);
	unsigned len = l4 + 20 + payload;
	struct frame *f = frame_alloc(len);
	uint8_t *d = f->data;

	memset(d, 0, len);
	memcpy(d, MAC_BCAST, 6);
	mac_of(src, d + 6);
	if (v6) {
		d[12] = 0x86;
		d[13] = 0xdd;
		d[l3] = 0x60;
		d[l3 + 4] = (uint8_t)((len - l4) >> 8);
		d[l3 + 5] = (uint8_t)(len - l4);
		d[l3 + 6] = 6; /* TCP */
		d[l3 + 7] = 64;
	} else {
		d[12] = 0x08;
		d[l3] = 0x45;
		d[l3 + 2] = (uint8_t)((len - l3) >> 8);
		d[l3 + 3] = (uint8_t)(len - l3);
		d[l3 + 8] = 64;
		d[l3 + 9] = 6;
	}
	d[l4 + 12] = 5 << 4; /* data offset */
	for (unsigned i = 0; i < payload; i++)
		d[l4 + 20 + i] = (uint8_t)i;
	f->vnet.flags = FRAME_VNET_F_NEEDS_CSUM;
	f->vnet.csum_start = (uint16_t)l4;
	f->vnet.csum_offset = 16;
	f->vnet.gso_type = gso_type;
	f->vnet.gso_size = mss;
	CHECK_EQ(gso_check(f), 0);
	return f;
}

/* port @i got @n frames; with @whole, one frame still offloaded */
static void check_got(unsigned i, unsigned n, bool whole)
{
	CHECK_EQ(recs[i].n, n);
	for (unsigned k = 0; k < recs[i].n; k++)
		CHECK_EQ(gso_offloaded(recs[i].got[k]), whole);
	rec_clear(i);
}

static void test_hub_offloads_go_whole_only_where_every_kind_is_taken(void)
{
	struct frame *f;

	setup(0, 5);
	ports[1]->gso_caps = 0;				 /* none */
	ports[2]->gso_caps = GSO_CAP_CSUM | GSO_CAP_TSO4; /* IPv4 TSO */
	ports[3]->gso_caps = GSO_CAP_CSUM | GSO_CAP_TSO6; /* IPv6 TSO */
	ports[4]->gso_caps = GSO_CAP_ALL;

	/* TSO over IPv4, 4000 bytes at MSS 1000: four segments */
	f = tcp_frame(false, FRAME_GSO_TCPV4, 1000, 4000, 0);
	port_input(ports[0], &f, 1);
	check_got(1, 4, false);
	check_got(2, 1, true);
	check_got(3, 4, false);
	check_got(4, 1, true);
	CHECK_EQ(ports[3]->stats.tx_gso_frames, 1);
	CHECK_EQ(ports[3]->stats.tx_gso_segments, 4);
	CHECK_EQ(ports[2]->stats.tx_gso_frames, 0);

	/* TSO over IPv6: the other way round */
	f = tcp_frame(true, FRAME_GSO_TCPV6, 1000, 2500, 0);
	port_input(ports[0], &f, 1);
	check_got(1, 3, false);
	check_got(2, 3, false);
	check_got(3, 1, true);
	check_got(4, 1, true);

	/* ECN asks for one more kind than TSO4 */
	f = tcp_frame(false, FRAME_GSO_TCPV4 | FRAME_GSO_ECN, 1000, 2000, 0);
	port_input(ports[0], &f, 1);
	check_got(2, 2, false);
	check_got(4, 1, true);
	rec_clear(1);
	rec_clear(3);

	/* a checksum left open, no GSO: finished for the port without */
	f = tcp_frame(false, FRAME_GSO_NONE, 0, 100, 0);
	port_input(ports[0], &f, 1);
	check_got(1, 1, false);
	check_got(2, 1, true);
	check_got(3, 1, true);
	check_got(4, 1, true);

	/* a UDP GSO kind nobody but "all" takes: gso_needs() says so */
	f = tcp_frame(false, FRAME_GSO_NONE, 0, 10, 0);
	f->vnet.gso_type = FRAME_GSO_UDP_L4;
	CHECK_EQ(gso_needs(f), GSO_CAP_USO | GSO_CAP_CSUM);
	CHECK(!gso_takes(GSO_CAP_ALL & ~GSO_CAP_USO, f));
	CHECK(gso_takes(GSO_CAP_ALL, f));
	f->vnet.gso_type = 2; /* not a GSO type: no port takes it */
	CHECK(!gso_takes(GSO_CAP_ALL, f));
	frame_unref(f);
	teardown(5);
}

static void test_hub_queue_full_is_counted(void)
{
	struct frame *burst[10];

	setup(0, 2);
	recs[1].accept_max = 4;
	for (unsigned i = 0; i < 10; i++) {
		burst[i] = frame_alloc(64);
		memset(burst[i]->data, 0xff, 6);
		mac_of(0, burst[i]->data + 6);
	}
	port_input(ports[0], burst, 10);
	CHECK_EQ(recs[1].n, 4);
	CHECK_EQ(ports[1]->stats.tx_frames, 4);
	CHECK_EQ(ports[1]->stats.tx_drops[PORT_DROP_QUEUE_FULL], 6);
	teardown(2);
}

static void test_hub_bursts_longer_than_64_are_split(void)
{
	struct frame *burst[200];

	setup(0, 2);
	for (unsigned i = 0; i < 200; i++) {
		burst[i] = frame_alloc(64);
		memset(burst[i]->data, 0xff, 6);
		mac_of(0, burst[i]->data + 6);
		burst[i]->data[20] = (uint8_t)i;
	}
	port_input(ports[0], burst, 200);
	CHECK_EQ(recs[1].n, 200);
	for (unsigned i = 0; i < recs[1].n; i++)
		CHECK_EQ(recs[1].got[i]->data[20], (uint8_t)i); /* in order */
	teardown(2);
}

/* A burst's sources are all learned before its destinations are looked
 * up, and a destination shared by consecutive frames is looked up once: a
 * host that a burst shows behind the ingress port is there for every frame
 * of that burst (frames to it went out where they came from: none is sent
 * to where the host was) */
static void test_hub_learning_within_a_burst_is_seen(void)
{
	struct frame *burst[4];
	uint8_t h5[6];

	setup(0, 3);
	send_to_host(2, 9, 5); /* host 5 on port 2 */
	for (unsigned i = 0; i < 3; i++)
		rec_clear(i);
	mac_of(5, h5);
	for (unsigned i = 0; i < 4; i++) {
		burst[i] = frame_alloc(64);
		memset(burst[i]->data, 0, 64);
		burst[i]->data[12] = 0x08;
		burst[i]->data[20] = (uint8_t)i;
	}
	memcpy(burst[0]->data, h5, 6); /* to host 5 */
	mac_of(0, burst[0]->data + 6);
	memcpy(burst[1]->data, MAC_BCAST, 6); /* host 5 now behind port 0 */
	mac_of(5, burst[1]->data + 6);
	memcpy(burst[2]->data, h5, 6); /* to host 5, twice */
	mac_of(0, burst[2]->data + 6);
	memcpy(burst[3]->data, h5, 6);
	mac_of(0, burst[3]->data + 6);
	port_input(ports[0], burst, 4);
	CHECK_EQ(recs[2].n, 1); /* only the broadcast */
	CHECK_EQ(recs[2].got[0]->data[20], 1);
	CHECK_EQ(recs[1].n, 1);
	CHECK_EQ(ports[0]->stats.rx_drops[PORT_DROP_NO_DEST], 3);

	/* host 5 back on port 2: the next burst's frames to it follow */
	send_to_host(2, 9, 5);
	for (unsigned i = 0; i < 3; i++)
		rec_clear(i);
	for (unsigned i = 0; i < 2; i++) {
		burst[i] = frame_alloc(64);
		memset(burst[i]->data, 0, 64);
		burst[i]->data[12] = 0x08;
		memcpy(burst[i]->data, h5, 6);
		mac_of(0, burst[i]->data + 6);
	}
	port_input(ports[0], burst, 2);
	CHECK_EQ(recs[2].n, 2);
	CHECK_EQ(recs[1].n, 0);
	teardown(3);
}

static void test_hub_learned_entries_age_out(void)
{
	struct hub_config cfg, old;

	hub_get_config(&old);
	cfg = old;
	cfg.fdb_age_ms = 5000;
	hub_configure(&cfg);
	setup(0, 3);
	send_to_host(2, 9, 2);
	for (unsigned i = 0; i < 3; i++)
		rec_clear(i);
	fake_now += 6000;
	hub_expire_all(fake_now);
	send_to_host(0, 2, 0);
	CHECK_EQ(recs[1].n, 1); /* flooded again */
	teardown(3);
	hub_configure(&old);
}

static void test_hub_detach_flushes_and_removes_empty_hub(void)
{
	setup(42, 2);
	send_to_host(1, 9, 1);
	CHECK(hub_find(42) != NULL);
	CHECK_EQ(fdb_count(hub_find(42)->fdb), 1);
	port_detach(ports[1]);
	CHECK_EQ(fdb_count(hub_find(42)->fdb), 0);
	port_detach(ports[0]);
	CHECK(hub_find(42) == NULL);
	teardown(2);
}

static void test_hub_accounting_adds_up(void)
{
	uint64_t offers[4] = { 0 }, delivered[4] = { 0 };

	setup(0, 4);
	recs[3].accept_max = 1;
	ports[2]->mtu = 100;
	srand(7);
	for (unsigned i = 0; i < 2000; i++) {
		unsigned in = (unsigned)rand() % 4, dst = (unsigned)rand() % 6;
		size_t len = (size_t)(rand() % 3 ? 64 : 1000);

		if (rand() % 10 == 0)
			port_set_link(ports[in], rand() % 2);
		if (dst == 5)
			send_frame(in, MAC_BCAST, in, 0, len);
		else
			send_to_host(in, dst, in);
		for (unsigned k = 0; k < 4; k++) {
			delivered[k] += recs[k].n;
			rec_clear(k);
		}
	}
	for (unsigned k = 0; k < 4; k++) {
		const struct port_stats *s = &ports[k]->stats;
		uint64_t rx_drops = 0, tx_drops = 0;

		for (unsigned r = 0; r < PORT_DROP__COUNT; r++) {
			rx_drops += s->rx_drops[r];
			tx_drops += s->tx_drops[r];
		}
		CHECK_EQ(s->rx_frames, s->rx_forwarded + rx_drops);
		CHECK_EQ(s->tx_frames, delivered[k]);
		offers[k] = s->tx_frames + tx_drops;
	}
	/* every forwarded frame was offered to at least one port */
	CHECK(offers[0] + offers[1] + offers[2] + offers[3] >=
	      ports[0]->stats.rx_forwarded + ports[1]->stats.rx_forwarded +
		      ports[2]->stats.rx_forwarded +
		      ports[3]->stats.rx_forwarded);
	teardown(4);
}

static void test_hub_blocked_unicast_receiver_pauses_its_sender(void)
{
	setup(0, 3);
	send_to_host(1, 9, 1); /* host 1 learned on port 1 */
	port_tx_blocked(ports[1]);
	send_to_host(0, 1, 0);
	CHECK(recs[0].paused);
	CHECK_EQ(recs[1].n, 1); /* the frame still went: the queue has room */
	/* flooding into a blocked port pauses nobody */
	send_frame(2, MAC_BCAST, 2, 0, 64);
	CHECK(!recs[2].paused);
	port_tx_ready(ports[1]);
	CHECK(!recs[0].paused);
	CHECK_EQ(recs[0].pauses, 1);
	/* a blocked port going away releases those it held back */
	port_tx_blocked(ports[1]);
	send_to_host(0, 1, 0);
	CHECK(recs[0].paused);
	port_detach(ports[1]);
	CHECK(!recs[0].paused);
	teardown(3);
}

static void no_timer_cb(uv_timer_t *t)
{
	(void)t;
}

/* A receiver blocked past the stall limit stops holding its senders back:
 * they resume, it is counted as stalled, and readiness clears it */
static void test_hub_stalled_receiver_releases_its_senders(void)
{
	uint32_t limit = port_stall_limit();
	uv_timer_t alive; /* the stall timer does not keep a loop alive */

	uv_timer_init(uv_default_loop(), &alive);
	uv_timer_start(&alive, no_timer_cb, 1000, 0);
	setup(0, 3);
	port_set_stall_limit(20);
	send_to_host(1, 9, 1); /* host 1 learned on port 1 */
	port_tx_blocked(ports[1]);
	send_to_host(0, 1, 0);
	CHECK(recs[0].paused);
	fake_now += 25; /* the limit passes; the loop's timer notices */
	for (int i = 0; i < 100 && !ports[1]->tx_stalled; i++)
		uv_run(uv_default_loop(), UV_RUN_NOWAIT), usleep(1000);
	CHECK(ports[1]->tx_stalled);
	CHECK(!recs[0].paused);
	CHECK_EQ(ports[1]->stats.tx_stalls, 1);
	/* a stalled receiver pauses nobody; its frames still go as far as
	 * its queue takes them */
	send_to_host(0, 1, 0);
	CHECK(!recs[0].paused);
	CHECK_EQ(recs[1].n, 2);
	port_tx_ready(ports[1]);
	CHECK(!ports[1]->tx_stalled && !ports[1]->tx_blocked);
	/* blocked again: it slows its senders again, for the limit */
	port_tx_blocked(ports[1]);
	send_to_host(0, 1, 0);
	CHECK(recs[0].paused);
	port_tx_ready(ports[1]);
	port_set_stall_limit(limit);
	teardown(3);
	uv_close((uv_handle_t *)&alive, NULL);
	uv_run(uv_default_loop(), UV_RUN_NOWAIT);
}

int main(void)
{
	log_set_level(LOG_LEVEL_ERROR);
	TAP_RUN(test_hub_floods_unknown_unicast_to_all_but_ingress);
	TAP_RUN(test_hub_known_unicast_goes_to_one_port);
	TAP_RUN(test_hub_broadcast_and_multicast_flood);
	TAP_RUN(test_hub_never_sends_back_to_ingress);
	TAP_RUN(test_hub_alone_on_hub_counts_no_dest);
	TAP_RUN(test_hub_counts_runt_as_malformed);
	TAP_RUN(test_hub_vlans_learn_separately);
	TAP_RUN(test_hub_entry_moves_with_mac);
	TAP_RUN(test_hub_link_down_drops_and_flushes);
	TAP_RUN(test_hub_netdev_link_down_covers_its_ports);
	TAP_RUN(test_hub_oversize_for_mtu_is_counted);
	TAP_RUN(test_hub_offloads_go_whole_only_where_every_kind_is_taken);
	TAP_RUN(test_hub_queue_full_is_counted);
	TAP_RUN(test_hub_bursts_longer_than_64_are_split);
	TAP_RUN(test_hub_learning_within_a_burst_is_seen);
	TAP_RUN(test_hub_learned_entries_age_out);
	TAP_RUN(test_hub_detach_flushes_and_removes_empty_hub);
	TAP_RUN(test_hub_accounting_adds_up);
	TAP_RUN(test_hub_blocked_unicast_receiver_pauses_its_sender);
	TAP_RUN(test_hub_stalled_receiver_releases_its_senders);
	return tap_done();
}
