// SPDX-License-Identifier: MIT
/* test_announce.c - unit tests of announce-self (switch/announce.c)
 *
 * The schedule is checked twice: as pure arithmetic (announce_next_delay())
 * and on a real libuv loop, where every round's time is taken with
 * uv_hrtime() and must lie within [expected - 1 ms, expected + TIME_TOL_MS]
 * (libuv's clock has millisecond steps; the upper slack absorbs a loaded
 * machine and sanitizers).  The expected values are what QEMU 7.2 sent on
 * the wire for the same parameters.  The frames are compared byte for byte
 * with frames captured from QEMU (RARP) and from Linux (gratuitous ARP with
 * arp_notify, unsolicited NA with ndisc_notify).  Runs in about 1.5 s.
 */

#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "announce.h"
#include "tap.h"

#define TIME_TOL_MS 60
#define MAX_CALLS   64

static const uint8_t mac_a[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

/* The pure schedule */

/* send_times() - when each round of @p goes out, from the first at 0 */
static void send_times(const struct announce_params *p, uint64_t *t, unsigned n)
{
	t[0] = 0;
	for (unsigned k = 1; k < n; k++)
		t[k] = t[k - 1] + announce_next_delay(p, k);
}

static struct announce_params params4(int64_t initial, int64_t max,
				      int64_t rounds, int64_t step)
{
	return (struct announce_params){
	    .initial = initial, .max = max, .rounds = rounds, .step = step};
}

static void test_announce_schedule_of_migration_defaults(void)
{
	struct announce_params p = params4(50, 550, 5, 100);
	static const uint64_t want[5] = {0, 50, 200, 450, 800};
	uint64_t t[5];

	send_times(&p, t, 5);
	for (unsigned i = 0; i < 5; i++)
		CHECK_EQ(t[i], want[i]);
}

static void test_announce_delay_clamped_to_max(void)
{
	struct announce_params p = params4(10, 35, 6, 10);
	struct announce_params big = params4(300, 100, 3, 50);
	static const uint64_t want[6] = {0, 10, 30, 60, 95, 130};
	uint64_t t[6];

	send_times(&p, t, 6);
	for (unsigned i = 0; i < 6; i++)
		CHECK_EQ(t[i], want[i]);
	/* initial above max: every delay is max (QEMU: 0, 100, 200) */
	CHECK_EQ(announce_next_delay(&big, 1), 100);
	CHECK_EQ(announce_next_delay(&big, 2), 100);
	/* max 0: back to back */
	p.max = 0;
	CHECK_EQ(announce_next_delay(&p, 1), 0);
	CHECK_EQ(announce_next_delay(&p, 5), 0);
}

static void test_announce_delay_step_zero_is_constant(void)
{
	struct announce_params p = params4(30, 1000, 4, 0);

	CHECK_EQ(announce_next_delay(&p, 1), 30);
	CHECK_EQ(announce_next_delay(&p, 2), 30);
	CHECK_EQ(announce_next_delay(&p, 1000000), 30);
}

static void test_announce_delay_overflow_saturates_to_max(void)
{
	struct announce_params p = params4(INT64_MAX, 777, 10, INT64_MAX);

	CHECK_EQ(announce_next_delay(&p, 1), 777);
	CHECK_EQ(announce_next_delay(&p, 3), 777);
	CHECK_EQ(announce_next_delay(&p, UINT64_MAX), 777);
	p = params4(5, INT64_MAX, 10, INT64_MAX / 2);
	CHECK_EQ(announce_next_delay(&p, 2), 5 + INT64_MAX / 2);
	CHECK_EQ(announce_next_delay(&p, 4), INT64_MAX);
}

static void test_announce_params_negative_rejected(void)
{
	static const char *const names[4] = {"initial", "max", "rounds",
					     "step"};
	struct announce_params ok = params4(0, 0, 0, 0);

	CHECK(announce_params_check(&ok, NULL));
	ok = params4(600, 10, 3, 0); /* initial > max, step 0: QEMU's too */
	CHECK(announce_params_check(&ok, NULL));
	for (int i = 0; i < 4; i++) {
		struct announce_params p = params4(50, 550, 5, 100);
		struct nh_error *err = NULL;
		char want[96];

		if (i == 0)
			p.initial = -1;
		else if (i == 1)
			p.max = -5;
		else if (i == 2)
			p.rounds = -1;
		else
			p.step = INT64_MIN;
		CHECK(!announce_params_check(&p, &err));
		CHECK(err);
		snprintf(want, sizeof(want),
			 "Parameter '%s' expects a non-negative value",
			 names[i]);
		CHECK(err && !strcmp(err->msg, want));
		CHECK(err && err->cls == NH_ERR_GENERIC);
		nh_error_free(err);
	}
}

static void test_announce_interfaces_select_nics(void)
{
	static const char *const list[2] = {"nic0", "vm2.net"};
	struct announce_params p = params4(1, 1, 1, 1);

	CHECK(announce_params_selects(&p, "anything"));
	p.has_interfaces = true; /* present but empty: nothing */
	CHECK(!announce_params_selects(&p, "nic0"));
	p.interfaces = list;
	p.n_interfaces = 2;
	CHECK(announce_params_selects(&p, "nic0"));
	CHECK(announce_params_selects(&p, "vm2.net"));
	CHECK(!announce_params_selects(&p, "NIC0"));
	CHECK(!announce_params_selects(&p, "nic"));
	CHECK(!announce_params_selects(&p, ""));
}

/* The timers on a real loop */

struct call {
	char id[16];
	char iface[16]; /* the first interface name, "" when none */
	uint64_t round_no;
	int64_t rounds;
	uint64_t at_ms;
};

struct recorder {
	uv_loop_t loop;
	struct announcer *an;
	uint64_t t0_ns;
	unsigned n;
	struct call calls[MAX_CALLS];
	/* an action a round may take (reentrancy tests) */
	const char *act_id;
	uint64_t act_round;
	int act; /* 1: restart act_id with act_params, 2: cancel all */
	struct announce_params act_params;
};

static uint64_t rec_now_ms(const struct recorder *r)
{
	return (uv_hrtime() - r->t0_ns) / 1000000;
}

static void rec_round(void *ctx, const struct announce_params *p,
		      uint64_t round_no)
{
	struct recorder *r = ctx;
	struct call *c;

	if (r->n < MAX_CALLS) {
		c = &r->calls[r->n];
		snprintf(c->id, sizeof(c->id), "%s", p->id);
		snprintf(c->iface, sizeof(c->iface), "%s",
			 p->has_interfaces && p->n_interfaces ? p->interfaces[0]
							      : "");
		c->round_no = round_no;
		c->rounds = p->rounds;
		c->at_ms = rec_now_ms(r);
	}
	r->n++;
	if (r->act && !strcmp(p->id, r->act_id) && round_no == r->act_round) {
		int act = r->act;

		r->act = 0;
		if (act == 1)
			CHECK(announcer_start(r->an, &r->act_params, NULL));
		else
			announcer_cancel_all(r->an);
	}
}

static void rec_init(struct recorder *r)
{
	memset(r, 0, sizeof(*r));
	CHECK_EQ(uv_loop_init(&r->loop), 0);
	r->an = announcer_new(&r->loop, rec_round, r);
	CHECK(r->an);
	uv_update_time(&r->loop);
	r->t0_ns = uv_hrtime();
}

/* rec_fini() - free the announcer, let the closes complete, close the loop:
 * uv_loop_close() fails if any handle was left open */
static void rec_fini(struct recorder *r)
{
	announcer_free(r->an);
	CHECK_EQ(uv_run(&r->loop, UV_RUN_DEFAULT), 0);
	CHECK_EQ(uv_loop_close(&r->loop), 0);
}

/* rec_times() - the times and round numbers of id's calls, in order */
static unsigned rec_times(const struct recorder *r, const char *id,
			  uint64_t *at, uint64_t *round_no, unsigned max)
{
	unsigned k = 0;

	for (unsigned i = 0; i < r->n && i < MAX_CALLS; i++) {
		if (strcmp(r->calls[i].id, id) || k >= max)
			continue;
		at[k] = r->calls[i].at_ms;
		round_no[k] = r->calls[i].round_no;
		k++;
	}
	return k;
}

static bool near(uint64_t got, uint64_t want)
{
	return got + 1 >= want && got <= want + TIME_TOL_MS;
}

static void check_schedule(const struct recorder *r, const char *id,
			   const uint64_t *want, unsigned n)
{
	uint64_t at[MAX_CALLS], no[MAX_CALLS];
	unsigned got = rec_times(r, id, at, no, MAX_CALLS);

	CHECK_EQ(got, n);
	for (unsigned i = 0; i < n && i < got; i++) {
		if (!near(at[i], want[i]))
			printf("# id '%s' round %u at %llu ms, want %llu\n", id,
			       i + 1, (unsigned long long)at[i],
			       (unsigned long long)want[i]);
		CHECK(near(at[i], want[i]));
		CHECK_EQ(no[i], i + 1);
	}
}

static void test_announcer_runs_qemu_schedule_ids_concurrently(void)
{
	struct recorder r;
	struct announce_params a = params4(50, 550, 5, 100);
	struct announce_params b = params4(20, 1000, 3, 0);
	struct announce_params d = params4(300, 100, 3, 50);
	static const uint64_t want_a[5] = {0, 50, 200, 450, 800};
	static const uint64_t want_b[3] = {0, 20, 40};
	static const uint64_t want_d[3] = {0, 100, 200};

	rec_init(&r);
	a.id = "a";
	b.id = "b";
	d.id = NULL; /* the default id "" */
	CHECK(announcer_start(r.an, &a, NULL));
	/* round 1 went out from inside announcer_start() */
	CHECK_EQ(r.n, 1);
	CHECK(announcer_start(r.an, &b, NULL));
	CHECK(announcer_start(r.an, &d, NULL));
	CHECK_EQ(r.n, 3);
	CHECK_EQ(announcer_count(r.an), 3);
	CHECK_EQ(uv_run(&r.loop, UV_RUN_DEFAULT), 0);
	CHECK_EQ(announcer_count(r.an), 0);
	check_schedule(&r, "a", want_a, 5);
	check_schedule(&r, "b", want_b, 3);
	check_schedule(&r, "", want_d, 3);
	CHECK_EQ(r.n, 11);
	rec_fini(&r);
}

static void test_announcer_one_round_sends_once(void)
{
	struct recorder r;
	struct announce_params p = params4(10, 10, 1, 10);

	rec_init(&r);
	CHECK(announcer_start(r.an, &p, NULL));
	CHECK_EQ(r.n, 1);
	CHECK_EQ(r.calls[0].round_no, 1);
	CHECK(!strcmp(r.calls[0].id, ""));
	/* finished already: no timer left for the loop */
	CHECK_EQ(announcer_count(r.an), 0);
	CHECK_EQ(uv_run(&r.loop, UV_RUN_DEFAULT), 0);
	CHECK_EQ(r.n, 1);
	rec_fini(&r);
}

/* A helper timer that runs announcer_start() later in the loop */
struct later {
	uv_timer_t t;
	struct recorder *r;
	struct announce_params p;
	uint64_t fired_ms;
};

static void later_fire(uv_timer_t *t)
{
	struct later *l = t->data;

	l->fired_ms = rec_now_ms(l->r);
	CHECK(announcer_start(l->r->an, &l->p, NULL));
	uv_close((uv_handle_t *)t, NULL);
}

static void later_start(struct later *l, struct recorder *r, uint64_t ms)
{
	l->r = r;
	uv_timer_init(&r->loop, &l->t);
	l->t.data = l;
	uv_timer_start(&l->t, later_fire, ms, 0);
}

static void test_announcer_rounds_zero_cancels(void)
{
	struct recorder r;
	struct announce_params p = params4(10, 10, 100, 0);
	struct later l = {0};
	uint64_t at[MAX_CALLS], no[MAX_CALLS];
	unsigned n;

	rec_init(&r);
	/* rounds 0 for an id with no timer: nothing happens, no error */
	p.rounds = 0;
	p.id = "x";
	CHECK(announcer_start(r.an, &p, NULL));
	CHECK_EQ(r.n, 0);
	CHECK_EQ(announcer_count(r.an), 0);

	p.rounds = 100;
	CHECK(announcer_start(r.an, &p, NULL));
	l.p = params4(0, 0, 0, 0);
	l.p.id = "x";
	later_start(&l, &r, 35);
	CHECK_EQ(uv_run(&r.loop, UV_RUN_DEFAULT), 0);
	CHECK_EQ(announcer_count(r.an), 0);
	n = rec_times(&r, "x", at, no, MAX_CALLS);
	CHECK(n >= 2 && n <= 5); /* 0, 10, 20, 30 ms; fewer on a stalled box */
	for (unsigned i = 0; i < n; i++)
		CHECK(at[i] <= l.fired_ms);
	rec_fini(&r);
}

static void test_announcer_same_id_replaces(void)
{
	struct recorder r;
	static const char *const old_if[1] = {"old"};
	static const char *const new_if[1] = {"new"};
	struct announce_params p = params4(10, 10, 100, 0);
	struct later l = {0};
	unsigned n_old = 0, n_new = 0;
	uint64_t last_old = 0, new_at[2] = {0};

	rec_init(&r);
	p.id = "r";
	p.has_interfaces = true;
	p.interfaces = old_if;
	p.n_interfaces = 1;
	CHECK(announcer_start(r.an, &p, NULL));
	l.p = params4(15, 15, 2, 0);
	l.p.id = "r";
	l.p.has_interfaces = true;
	l.p.interfaces = new_if;
	l.p.n_interfaces = 1;
	later_start(&l, &r, 25);
	CHECK_EQ(uv_run(&r.loop, UV_RUN_DEFAULT), 0);
	for (unsigned i = 0; i < r.n && i < MAX_CALLS; i++) {
		const struct call *c = &r.calls[i];

		CHECK(!strcmp(c->id, "r"));
		if (!strcmp(c->iface, "old")) {
			CHECK_EQ(c->round_no, n_old + 1);
			CHECK_EQ(c->rounds, 100);
			last_old = c->at_ms;
			CHECK_EQ(n_new, 0); /* never after the replacement */
			n_old++;
		} else {
			CHECK(!strcmp(c->iface, "new"));
			CHECK_EQ(c->rounds, 2);
			CHECK_EQ(c->round_no, n_new + 1);
			if (n_new < 2)
				new_at[n_new] = c->at_ms;
			n_new++;
		}
	}
	CHECK(n_old >= 1 && n_old <= 3); /* 0, 10, 20 ms */
	CHECK(last_old <= l.fired_ms);
	CHECK_EQ(n_new, 2);
	/* the replacement's round 1 at once, round 2 after its own initial */
	CHECK(new_at[0] >= l.fired_ms && new_at[0] <= l.fired_ms + 1);
	CHECK(near(new_at[1], l.fired_ms + 15));
	CHECK_EQ(announcer_count(r.an), 0);
	rec_fini(&r);
}

static void test_announcer_cancel_all_stops_everything(void)
{
	struct recorder r;
	struct announce_params p = params4(5, 5, 1000, 0);
	static const char *const ids[3] = {"", "one", "two"};

	rec_init(&r);
	for (int i = 0; i < 3; i++) {
		p.id = ids[i];
		CHECK(announcer_start(r.an, &p, NULL));
	}
	CHECK_EQ(announcer_count(r.an), 3);
	CHECK_EQ(r.n, 3);
	announcer_cancel_all(r.an);
	CHECK_EQ(announcer_count(r.an), 0);
	/* the loop only completes the closes, and no round runs */
	CHECK_EQ(uv_run(&r.loop, UV_RUN_DEFAULT), 0);
	CHECK_EQ(r.n, 3);
	/* the announcer still works afterwards */
	p.rounds = 2;
	CHECK(announcer_start(r.an, &p, NULL));
	CHECK_EQ(uv_run(&r.loop, UV_RUN_DEFAULT), 0);
	CHECK_EQ(r.n, 5);
	rec_fini(&r);
}

static void test_announcer_free_with_running_timers(void)
{
	struct recorder r;
	struct announce_params p = params4(5, 5, 1000, 0);

	rec_init(&r);
	p.id = "a";
	CHECK(announcer_start(r.an, &p, NULL));
	p.id = "b";
	CHECK(announcer_start(r.an, &p, NULL));
	CHECK_EQ(uv_run(&r.loop, UV_RUN_ONCE), 1);
	rec_fini(&r); /* frees with two timers armed; ASan checks the rest */
	CHECK(r.n >= 2);
}

static void test_announcer_limits_timers(void)
{
	struct recorder r;
	struct announce_params p = params4(100000, 100000, 2, 0);
	struct nh_error *err = NULL;
	char id[16];

	rec_init(&r);
	for (int i = 0; i < ANNOUNCE_MAX_TIMERS; i++) {
		snprintf(id, sizeof(id), "t%d", i);
		p.id = id;
		CHECK(announcer_start(r.an, &p, NULL));
	}
	CHECK_EQ(announcer_count(r.an), ANNOUNCE_MAX_TIMERS);
	p.id = "one too many";
	CHECK(!announcer_start(r.an, &p, &err));
	CHECK(err && !strcmp(err->msg, "Too many announce timers running "
				       "(at most 256)"));
	nh_error_free(err);
	CHECK_EQ(r.n, ANNOUNCE_MAX_TIMERS); /* the refused one sent nothing */
	/* replacing a running id is still fine when full */
	p.id = "t7";
	CHECK(announcer_start(r.an, &p, NULL));
	/* and so is a new id once one is cancelled */
	p.id = "t8";
	p.rounds = 0;
	CHECK(announcer_start(r.an, &p, NULL));
	p.id = "fits now";
	p.rounds = 2;
	CHECK(announcer_start(r.an, &p, NULL));
	CHECK_EQ(announcer_count(r.an), ANNOUNCE_MAX_TIMERS);
	rec_fini(&r);
}

static void test_announcer_bad_params_change_nothing(void)
{
	struct recorder r;
	struct announce_params p = params4(5, 5, 3, 0);
	struct nh_error *err = NULL;

	rec_init(&r);
	p.id = "k";
	CHECK(announcer_start(r.an, &p, NULL));
	p.rounds = -1; /* QEMU would announce forever; nethub refuses */
	CHECK(!announcer_start(r.an, &p, &err));
	CHECK(err && !strcmp(err->msg, "Parameter 'rounds' expects a "
				       "non-negative value"));
	nh_error_free(err);
	CHECK_EQ(announcer_count(r.an), 1);
	CHECK_EQ(uv_run(&r.loop, UV_RUN_DEFAULT), 0);
	CHECK_EQ(r.n, 3); /* the first timer ran to its end */
	rec_fini(&r);
}

static void test_announcer_copies_params(void)
{
	struct recorder r;
	char id[8] = "orig", name[8] = "nicA";
	const char *list[1] = {name};
	struct announce_params p = params4(5, 5, 2, 0);

	rec_init(&r);
	p.id = id;
	p.has_interfaces = true;
	p.interfaces = list;
	p.n_interfaces = 1;
	CHECK(announcer_start(r.an, &p, NULL));
	strcpy(id, "gone");
	strcpy(name, "gone");
	list[0] = NULL;
	CHECK_EQ(uv_run(&r.loop, UV_RUN_DEFAULT), 0);
	CHECK_EQ(r.n, 2);
	CHECK(!strcmp(r.calls[1].id, "orig"));
	CHECK(!strcmp(r.calls[1].iface, "nicA"));
	rec_fini(&r);
}

static void test_announcer_round_may_replace_or_cancel(void)
{
	struct recorder r;
	struct announce_params p = params4(5, 5, 10, 0);

	/* round 2 of "re" restarts "re" with 2 rounds: 2 + 2 calls */
	rec_init(&r);
	p.id = "re";
	r.act = 1;
	r.act_id = "re";
	r.act_round = 2;
	r.act_params = params4(5, 5, 2, 0);
	r.act_params.id = "re";
	CHECK(announcer_start(r.an, &p, NULL));
	CHECK_EQ(uv_run(&r.loop, UV_RUN_DEFAULT), 0);
	CHECK_EQ(r.n, 4);
	CHECK_EQ(r.calls[2].round_no, 1);
	CHECK_EQ(r.calls[2].rounds, 2);
	CHECK_EQ(r.calls[3].round_no, 2);
	rec_fini(&r);

	/* round 3 of "c" cancels everything, "c" included */
	rec_init(&r);
	p.id = "c";
	r.act = 2;
	r.act_id = "c";
	r.act_round = 3;
	CHECK(announcer_start(r.an, &p, NULL));
	p.id = "other";
	p.initial = p.max = 1000;
	CHECK(announcer_start(r.an, &p, NULL));
	CHECK_EQ(uv_run(&r.loop, UV_RUN_DEFAULT), 0);
	CHECK_EQ(r.n, 4); /* c: 1, 2, 3; other: 1 */
	CHECK_EQ(announcer_count(r.an), 0);
	rec_fini(&r);

	/* the last round restarting its own id with rounds 0 is a no-op */
	rec_init(&r);
	p = params4(1, 1, 1, 0);
	p.id = "z";
	r.act = 1;
	r.act_id = "z";
	r.act_round = 1;
	r.act_params = params4(0, 0, 0, 0);
	r.act_params.id = "z";
	CHECK(announcer_start(r.an, &p, NULL));
	CHECK_EQ(announcer_count(r.an), 0);
	CHECK_EQ(uv_run(&r.loop, UV_RUN_DEFAULT), 0);
	CHECK_EQ(r.n, 1);
	rec_fini(&r);
}

/* The frames */

static void unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

/* Sent by QEMU 7.2 (announce-self, virtio-net mac=52:54:00:12:34:56) */
static const char qemu_rarp_hex[] =
    "ffffffffffff525400123456803500010800060400035254001234560000"
    "000052540012345600000000000000000000000000000000000000000000";

/* Sent by Linux 6.x (arp_notify, 192.0.2.7), 42 bytes before padding */
static const char linux_garp_hex[] =
    "ffffffffffff52540012345608060001080006040001525400123456c000"
    "0207000000000000c0000207";

/* Sent by Linux (ndisc_notify) for 2001:db8::42 and fe80::5054:ff:fe12:3456 */
static const char linux_na_global_hex[] =
    "33330000000152540012345686dd6000000000203aff20010db800000000"
    "0000000000000042ff0200000000000000000000000000018800"
    "73ed2000000020010db80000000000000000000000420201525400123456";
static const char linux_na_ll_hex[] =
    "33330000000152540012345686dd6000000000203afffe80000000000000"
    "505400fffe123456ff0200000000000000000000000000018800"
    "cb6820000000fe80000000000000505400fffe1234560201525400123456";

static void test_announce_rarp_matches_qemu(void)
{
	uint8_t want[60], buf[ANNOUNCE_RARP_LEN];

	unhex(qemu_rarp_hex, want, 60);
	memset(buf, 0xa5, sizeof(buf));
	CHECK_EQ(announce_rarp(buf, mac_a), 60);
	CHECK(!memcmp(buf, want, 60));
}

static void test_announce_garp_matches_linux(void)
{
	static const uint8_t ip[4] = {192, 0, 2, 7};
	uint8_t want[60] = {0}, buf[ANNOUNCE_GARP_LEN];

	unhex(linux_garp_hex, want, 42);
	memset(buf, 0xa5, sizeof(buf));
	CHECK_EQ(announce_garp(buf, mac_a, ip), 60);
	CHECK(!memcmp(buf, want, 60));
}

static void test_announce_na_matches_linux(void)
{
	static const uint8_t global[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x42};
	static const uint8_t ll[16] = {0xfe, 0x80, [8] = 0x50, 0x54, 0x00,
				       0xff, 0xfe, 0x12,       0x34, 0x56};
	uint8_t want[86], buf[ANNOUNCE_NA_LEN];

	unhex(linux_na_global_hex, want, 86);
	memset(buf, 0xa5, sizeof(buf));
	CHECK_EQ(announce_na(buf, mac_a, global), 86);
	CHECK(!memcmp(buf, want, 86));
	unhex(linux_na_ll_hex, want, 86);
	CHECK_EQ(announce_na(buf, mac_a, ll), 86);
	CHECK(!memcmp(buf, want, 86));
}

/* na_checksum_ok() - an independent check: the one's complement sum of the
 * pseudo-header and the whole ICMPv6 message, checksum included, is 0xffff */
static bool na_checksum_ok(const uint8_t *f)
{
	uint64_t sum = 0;
	unsigned plen = (unsigned)(f[18] << 8 | f[19]);

	for (unsigned i = 22; i < 54; i += 2) /* source and destination */
		sum += (unsigned)(f[i] << 8 | f[i + 1]);
	sum += plen;
	sum += f[20]; /* next header */
	for (unsigned i = 54; i < 54 + plen; i += 2)
		sum += (unsigned)(f[i] << 8 | f[i + 1]);
	while (sum > 0xffff)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static void test_announce_na_fields_and_checksum(void)
{
	uint64_t seed = 0x1234567;
	uint8_t buf[ANNOUNCE_NA_LEN], addr[16], mac[6];

	for (int n = 0; n < 2000; n++) {
		for (int i = 0; i < 16; i++) {
			seed = seed * 6364136223846793005ULL +
			       1442695040888963407ULL;
			addr[i] = (uint8_t)(seed >> 56);
			if (i < 6)
				mac[i] = (uint8_t)(seed >> 48);
		}
		CHECK_EQ(announce_na(buf, mac, addr), ANNOUNCE_NA_LEN);
		if (!na_checksum_ok(buf)) {
			CHECK(!"NA checksum");
			break;
		}
		CHECK(!memcmp(buf + 6, mac, 6));
		CHECK(!memcmp(buf + 22, addr, 16)); /* IPv6 source */
		CHECK(!memcmp(buf + 62, addr, 16)); /* target */
		CHECK(!memcmp(buf + 80, mac, 6));   /* link-layer option */
	}
	/* the fixed fields, spelled out */
	CHECK_EQ(buf[12] << 8 | buf[13], 0x86dd);
	CHECK_EQ(buf[14], 0x60);
	CHECK_EQ(buf[18] << 8 | buf[19], 32);
	CHECK_EQ(buf[20], 58);
	CHECK_EQ(buf[21], 255);
	CHECK_EQ(buf[38], 0xff);
	CHECK_EQ(buf[39], 0x02);
	CHECK_EQ(buf[53], 0x01);
	CHECK_EQ(buf[54], 136);
	CHECK_EQ(buf[55], 0);
	CHECK_EQ(buf[58], 0x20); /* Override; not Router, not Solicited */
	CHECK_EQ(buf[78], 2);
	CHECK_EQ(buf[79], 1);
}

static void test_announce_tag_vlan(void)
{
	uint8_t plain[ANNOUNCE_RARP_LEN], buf[ANNOUNCE_FRAME_MAX];

	announce_rarp(plain, mac_a);
	memcpy(buf, plain, sizeof(plain));
	CHECK_EQ(announce_tag_vlan(buf, 60, sizeof(buf), 10), 64);
	CHECK(!memcmp(buf, plain, 12));
	CHECK_EQ(buf[12], 0x81);
	CHECK_EQ(buf[13], 0x00);
	CHECK_EQ(buf[14], 0x00);
	CHECK_EQ(buf[15], 10);
	CHECK(!memcmp(buf + 16, plain + 12, 48));
	/* VID 4094 fits the 12 bits; 0 and 4095 are not VLANs */
	memcpy(buf, plain, sizeof(plain));
	CHECK_EQ(announce_tag_vlan(buf, 60, sizeof(buf), 4094), 64);
	CHECK_EQ(buf[14], 0x0f);
	CHECK_EQ(buf[15], 0xfe);
	memcpy(buf, plain, sizeof(plain));
	CHECK_EQ(announce_tag_vlan(buf, 60, sizeof(buf), 0), 0);
	CHECK_EQ(announce_tag_vlan(buf, 60, sizeof(buf), 4095), 0);
	CHECK_EQ(announce_tag_vlan(buf, 60, 63, 10), 0);
	CHECK_EQ(announce_tag_vlan(buf, 13, sizeof(buf), 10), 0);
	CHECK(!memcmp(buf, plain, 60)); /* refusals change nothing */
	/* the largest frame still fits ANNOUNCE_FRAME_MAX */
	announce_na(buf, mac_a, (const uint8_t[16]){0xfe, 0x80, [15] = 1});
	CHECK_EQ(announce_tag_vlan(buf, ANNOUNCE_NA_LEN, sizeof(buf), 7),
		 ANNOUNCE_FRAME_MAX);
}

int main(void)
{
	TAP_RUN(test_announce_schedule_of_migration_defaults);
	TAP_RUN(test_announce_delay_clamped_to_max);
	TAP_RUN(test_announce_delay_step_zero_is_constant);
	TAP_RUN(test_announce_delay_overflow_saturates_to_max);
	TAP_RUN(test_announce_params_negative_rejected);
	TAP_RUN(test_announce_interfaces_select_nics);
	TAP_RUN(test_announcer_runs_qemu_schedule_ids_concurrently);
	TAP_RUN(test_announcer_one_round_sends_once);
	TAP_RUN(test_announcer_rounds_zero_cancels);
	TAP_RUN(test_announcer_same_id_replaces);
	TAP_RUN(test_announcer_cancel_all_stops_everything);
	TAP_RUN(test_announcer_free_with_running_timers);
	TAP_RUN(test_announcer_limits_timers);
	TAP_RUN(test_announcer_bad_params_change_nothing);
	TAP_RUN(test_announcer_copies_params);
	TAP_RUN(test_announcer_round_may_replace_or_cancel);
	TAP_RUN(test_announce_rarp_matches_qemu);
	TAP_RUN(test_announce_garp_matches_linux);
	TAP_RUN(test_announce_na_matches_linux);
	TAP_RUN(test_announce_na_fields_and_checksum);
	TAP_RUN(test_announce_tag_vlan);
	return tap_done();
}
