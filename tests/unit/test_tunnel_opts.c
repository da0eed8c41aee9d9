// SPDX-License-Identifier: MIT
/* test_tunnel_opts.c - the l2tpv3 and vxlan netdevs' options, driven by
 * tables: the L2TPv3 header layout each combination gives (QEMU's, quirks
 * included), the vxlan address rules, and every refusal's message
 */

#include <stdio.h>
#include <string.h>

#include "l2tpv3.h"
#include "opts.h"
#include "tap.h"
#include "vxlan_internal.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct l2tpv3_case {
	const char *text;
	const char *error; /* NULL: accepted, with the layout below */
	unsigned session_at, cookie_at, counter_at, hlen;
	bool cookie, cookie64, counter;
};

static const struct l2tpv3_case l2tpv3_cases[] = {
    /* IP: session only */
    {"src=a,dst=b,txsession=1", NULL, 0, 4, 4, 4, false, false, false},
    /* UDP adds the 4-byte version word in front */
    {"src=a,dst=b,udp=on,srcport=1,dstport=2,txsession=1", NULL, 4, 8, 8,
     8, false, false, false},
    /* 32-bit cookie, counter, offset */
    {"src=a,dst=b,udp=on,srcport=1,dstport=2,txsession=1,txcookie=1,"
     "rxcookie=2,counter=on,offset=3",
     NULL, 4, 8, 12, 19, true, false, true},
    /* QEMU: any mention of cookie64 selects 64-bit cookies */
    {"src=a,dst=b,txsession=1,txcookie=1,rxcookie=2,cookie64=off", NULL, 0,
     4, 12, 12, true, true, false},
    /* QEMU: pincounter alone puts no counter word on the wire */
    {"src=a,dst=b,txsession=1,pincounter=on", NULL, 0, 4, 4, 4, false,
     false, false},
    {"src=a,dst=b,txsession=1,pincounter=on,counter=on", NULL, 0, 4, 4, 8,
     false, false, true},
    {"src=a,dst=b,txsession=1,offset=256", NULL, 0, 4, 4, 260, false,
     false, false},
    {.text = "src=a,dst=b,txsession=1,offset=257",
     .error = "offset must be less than 256 bytes"},
    {.text = "src=a,dst=b",
     .error = "Parameter 'txsession' is missing"},
    {.text = "dst=b,txsession=1",
     .error = "Parameter 'src' is missing"},
    {.text = "src=a,dst=b,txsession=1,txcookie=1",
     .error = "require both 'rxcookie' and 'txcookie' or neither"},
    {.text = "src=a,dst=b,txsession=1,udp=on,dstport=1",
     .error = "need both src and dst port for udp"},
    {.text = "src=a,dst=b,txsession=1,srcport=1",
     .error = "srcport is only valid with udp=on"},
    {.text = "src=a,dst=b,txsession=1,txcookie=0x100000000,rxcookie=1",
     .error = "txcookie does not fit in 32 bits; cookie64=on makes cookies 64 bits "
     "long"},
    {.text = "src=a,dst=b,txsession=1,txcookie=-1,rxcookie=1",
     .error = "Parameter 'txcookie' expects uint64"},
    {.text = "src=a,dst=b,txsession=4294967296",
     .error = "Parameter 'txsession' expects a value between 0 and 4294967295"},
    {.text = "src=a,dst=b,txsession=1,bogus=1",
     .error = "Parameter 'bogus' is unexpected"},
};

static json_t *parse(const char *text)
{
	struct nh_error *err = NULL;
	json_t *o = opts_parse(text, NULL, &err);

	CHECK(o != NULL);
	if (!o) {
		printf("#   %s: %s\n", text, err->msg);
		nh_error_free(err);
	}
	return o;
}

/* check_outcome() - accepted iff @want is NULL, else refused with it */
static bool check_outcome(bool ok, struct nh_error *err, const char *want,
			  const char *text)
{
	if (want) {
		CHECK(!ok && err && !strcmp(err->msg, want));
		if (ok || !err || strcmp(err->msg, want))
			printf("#   %s: got '%s', want '%s'\n", text,
			       err ? err->msg : "(accepted)", want);
	} else {
		CHECK(ok);
		if (!ok)
			printf("#   %s: %s\n", text, err ? err->msg : "?");
	}
	nh_error_free(err);
	return ok && !want;
}

static void test_l2tpv3_options_give_qemus_header_layout(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(l2tpv3_cases); i++) {
		const struct l2tpv3_case *c = &l2tpv3_cases[i];
		struct nh_error *err = NULL;
		struct l2tpv3_opts o;
		json_t *opts = parse(c->text);
		bool ok;

		if (!opts)
			continue;
		ok = l2tpv3_parse_opts(opts, &o, &err);
		if (check_outcome(ok, err, c->error, c->text)) {
			CHECK_EQ(o.session_at, c->session_at);
			CHECK_EQ(o.cookie_at, c->cookie_at);
			CHECK_EQ(o.counter_at, c->counter_at);
			CHECK_EQ(o.hlen, c->hlen);
			CHECK_EQ(o.cookie, c->cookie);
			CHECK_EQ(o.cookie64, c->cookie64);
			CHECK_EQ(o.counter, c->counter);
		}
		json_decref(opts);
	}
}

struct vxlan_case {
	const char *text; /* keyval, or JSON */
	const char *error;
	unsigned nremote;
	int family;
};

static const struct vxlan_case vxlan_cases[] = {
    {"vni=42", NULL, 0, AF_INET},
    {"vni=0,remote=10.0.0.1", NULL, 1, AF_INET},
    {"vni=16777215,remote.0=10.0.0.1,remote.1=10.0.0.2", NULL, 2, AF_INET},
    {"{\"vni\": 1, \"remote\": [\"fd00::1\", \"fd00::2\"]}", NULL, 2,
     AF_INET6},
    {"vni=1,remote=10.0.0.1,remote.7=10.0.0.2", NULL, 2, AF_INET},
    {"vni=1,remote=10.0.0.1,remote=10.0.0.2,remote=10.0.0.3", NULL, 3,
     AF_INET},
    {"vni=1,local=fd00::1,group=ff05::1", NULL, 0, AF_INET6},
    {.text = "",
     .error = "Parameter 'vni' is missing"},
    {.text = "vni=16777216",
     .error = "Parameter 'vni' expects a value between 0 and 16777215"},
    {.text = "vni=1,remote=host.example",
     .error = "remote=: IP address expected, got "
				  "'host.example'"},
    {.text = "vni=1,remote=239.0.0.1",
     .error = "remote=: 239.0.0.1 is a multicast address (use group=)"},
    {.text = "vni=1,group=10.0.0.1",
     .error = "group=: 10.0.0.1 is not a multicast address"},
    {.text = "vni=1,local=10.0.0.1,remote=fd00::1",
     .error = "addresses of different families: local= is IPv4"},
    {.text = "vni=1,group=239.1.1.1,remote=10.0.0.1",
     .error = "group= and remote= exclude each other"},
    {.text = "vni=1,local=10.0.0.1,local=10.0.0.2",
     .error = "Parameter 'local' is duplicated"},
    {.text = "vni=1,remote.x=10.0.0.1",
     .error = "Parameter 'remote.x' is unexpected"},
    {.text = "vni=1,ttl=0",
     .error = "Parameter 'ttl' expects a value between 1 and 255"},
    {.text = "vni=1,dstport=0",
     .error = "Parameter 'dstport' expects a value between 1 and 65535"},
    {.text = "{\"vni\": 1, \"remote\": [1]}",
     .error = "Invalid parameter type for 'remote', expected: string"},
    {.text = "vni=1,learn=off",
     .error = "Parameter 'learn' is unexpected"},
};

static void test_vxlan_options_and_their_refusals(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(vxlan_cases); i++) {
		const struct vxlan_case *c = &vxlan_cases[i];
		struct nh_error *err = NULL;
		struct vxlan_opts o;
		json_t *opts = parse(c->text);
		bool ok;

		if (!opts)
			continue;
		ok = vxlan_parse_opts(opts, &o, &err);
		if (check_outcome(ok, err, c->error, c->text)) {
			CHECK_EQ(o.nremote, c->nremote);
			CHECK_EQ(o.family, c->family);
			CHECK_EQ(o.dstport, VXLAN_PORT_DEFAULT);
			CHECK(o.learning);
		}
		json_decref(opts);
	}
}

int main(void)
{
	TAP_RUN(test_l2tpv3_options_give_qemus_header_layout);
	TAP_RUN(test_vxlan_options_and_their_refusals);
	return tap_done();
}
