// SPDX-License-Identifier: MIT
/* test_user_opts.c - the user netdev's options (QEMU's defaults and
 * messages), its hostfwd/guestfwd rules and the DHCP lease snooping,
 * driven by tables
 */

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "opts.h"
#include "tap.h"
#include "user_internal.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *ip4(struct in_addr a)
{
	static char buf[4][INET_ADDRSTRLEN];
	static unsigned n;
	char *b = buf[n++ % 4];

	inet_ntop(AF_INET, &a, b, INET_ADDRSTRLEN);
	return b;
}

/* parse() - "user,id=u,TEXT" through user_parse_opts(); the error message
 * or "" (the options object stays alive for @o's strings) */
static const char *parse(const char *text, struct user_opts *o, json_t **obj)
{
	static char msg[NH_ERROR_MSG_MAX];
	struct nh_error *err = NULL;
	char full[1024];

	snprintf(full, sizeof(full), "user,id=u%s%s", *text ? "," : "", text);
	*obj = opts_parse(full, "type", &err);
	if (*obj && user_parse_opts(*obj, o, &err))
		return "";
	snprintf(msg, sizeof(msg), "%s", err ? err->msg : "?");
	nh_error_free(err);
	return msg;
}

static void test_user_defaults_are_qemus(void)
{
	struct user_opts o;
	json_t *obj;
	char p6[64];

	CHECK(!strcmp(parse("", &o, &obj), ""));
	CHECK(!strcmp(ip4(o.cfg.vnetwork), "10.0.2.0"));
	CHECK(!strcmp(ip4(o.cfg.vnetmask), "255.255.255.0"));
	CHECK(!strcmp(ip4(o.cfg.vhost), "10.0.2.2"));
	CHECK(!strcmp(ip4(o.cfg.vnameserver), "10.0.2.3"));
	CHECK(!strcmp(ip4(o.cfg.vdhcp_start), "10.0.2.15"));
	CHECK(!strcmp(ip4(o.smbserver), "10.0.2.4"));
	CHECK(o.cfg.in_enabled && o.cfg.in6_enabled && !o.cfg.restricted);
	inet_ntop(AF_INET6, &o.cfg.vprefix_addr6, p6, sizeof(p6));
	CHECK(!strcmp(p6, "fec0::"));
	CHECK_EQ(o.cfg.vprefix_len, 64);
	inet_ntop(AF_INET6, &o.cfg.vhost6, p6, sizeof(p6));
	CHECK(!strcmp(p6, "fec0::2"));
	inet_ntop(AF_INET6, &o.cfg.vnameserver6, p6, sizeof(p6));
	CHECK(!strcmp(p6, "fec0::3"));
	json_decref(obj);
}

static void test_user_net_forms(void)
{
	static const struct {
		const char *text, *net, *mask, *host, *dhcp;
	} cases[] = {
	    {"net=192.168.76.0/24", "192.168.76.0", "255.255.255.0",
	     "192.168.76.2", "192.168.76.15"},
	    {"net=10.9.0.0/16", "10.9.0.0", "255.255.0.0", "10.9.2.2",
	     "10.9.2.15"},
	    {"net=172.20.5.0", "172.16.0.0", "255.240.0.0", "172.16.2.2",
	     "172.16.2.15"},
	    {"net=10.1.2.0/255.255.255.0", "10.1.2.0", "255.255.255.0",
	     "10.1.2.2", "10.1.2.15"},
	    {"ip=10.7.7.7", "10.7.7.0", "255.255.255.0", "10.7.7.2",
	     "10.7.7.15"},
	    {"net=10.1.2.0/24,host=10.1.2.1,dhcpstart=10.1.2.100", "10.1.2.0",
	     "255.255.255.0", "10.1.2.1", "10.1.2.100"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct user_opts o;
		json_t *obj;
		const char *e = parse(cases[i].text, &o, &obj);

		CHECK(!strcmp(e, ""));
		if (*e) {
			printf("#   %s: %s\n", cases[i].text, e);
			continue;
		}
		CHECK(!strcmp(ip4(o.cfg.vnetwork), cases[i].net));
		CHECK(!strcmp(ip4(o.cfg.vnetmask), cases[i].mask));
		CHECK(!strcmp(ip4(o.cfg.vhost), cases[i].host));
		CHECK(!strcmp(ip4(o.cfg.vdhcp_start), cases[i].dhcp));
		json_decref(obj);
	}
}

static void test_user_bad_options_say_what(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"net=10.0.2.0/3", "Invalid netmask provided (must be in range "
			       "4-32)"},
	    {"net=10.0.2.0/255.x", "Failed to parse netmask (trailing "
				   "chars)"},
	    {"net=nonsense", "Failed to parse netmask"},
	    {"host=10.0.3.2", "Host doesn't belong to network"},
	    {"host=bad", "Failed to parse host"},
	    {"dns=10.0.2.2", "DNS must be different from host"},
	    {"dns=x", "Failed to parse DNS"},
	    {"restrict=on,dns=8.8.8.8", "DNS doesn't belong to network"},
	    {"dhcpstart=10.0.3.15", "DHCP doesn't belong to network"},
	    {"dhcpstart=10.0.2.3", "DHCP must be different from host and "
				   "DNS"},
	    {"dhcpstart=x", "Failed to parse DHCP start address"},
	    {"ipv4=off,ipv6=off", "IPv4 and IPv6 disabled"},
	    {"ipv4=off,net=10.0.0.0/8", "IPv4 disabled but netmask/host/dns "
					"provided"},
	    {"ipv6=off,ipv6-prefix=fd00::", "IPv6 disabled but prefix/host6/"
					    "dns6 provided"},
	    {"ipv6-prefixlen=127", "Invalid IPv6 prefix provided (IPv6 prefix "
				   "length must be between 0 and 126)"},
	    {"ipv6-prefix=fd00::x", "Failed to parse IPv6 prefix"},
	    {"ipv6-host=fd00::2", "IPv6 Host doesn't belong to network"},
	    {"ipv6-dns=zz", "Failed to parse IPv6 DNS"},
	    {"domainname=", "'domainname' parameter cannot be empty"},
	    {"restrict=maybe", "Parameter 'restrict' expects 'on' or 'off'"},
	    {"bogus=1", "Parameter 'bogus' is unexpected"},
	    {"hostfwd=tcp", "Invalid host forwarding rule 'tcp' (No : "
			    "separators)"},
	    {"hostfwd=sctp::1-:2", "Invalid host forwarding rule 'sctp::1-:2' "
				   "(Bad protocol name)"},
	    {"hostfwd=tcp:1", "Invalid host forwarding rule 'tcp:1' (Missing "
			      ": separator)"},
	    {"hostfwd=tcp::70000-:2", "Invalid host forwarding rule "
				      "'tcp::70000-:2' (Bad host port)"},
	    {"hostfwd=tcp::1-2", "Invalid host forwarding rule 'tcp::1-2' "
				 "(Missing guest address)"},
	    {"hostfwd=tcp::1-x:2", "Invalid host forwarding rule 'tcp::1-x:2' "
				   "(Bad guest address)"},
	    {"hostfwd=tcp::1-:0", "Invalid host forwarding rule 'tcp::1-:0' "
				  "(Bad guest port)"},
	    {"guestfwd=udp:10.0.2.9:1-cmd:x", "Invalid guest forwarding rule "
					      "'udp:10.0.2.9:1-cmd:x'"},
	    {"guestfwd=tcp:10.0.2.9:0-cmd:x", "Invalid guest forwarding rule "
					      "'tcp:10.0.2.9:0-cmd:x'"},
	    {"guestfwd=tcp:10.0.2.9:80-cmd:", "Invalid guest forwarding rule "
					      "'tcp:10.0.2.9:80-cmd:'"},
	    {"guestfwd=tcp:10.0.2.9:80-cd0", "guestfwd 'tcp:10.0.2.9:80-cd0': "
					     "forwarding to a chardev ('cd0') "
					     "is not supported by nethub; use "
					     "cmd:COMMAND"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct user_opts o;
		json_t *obj = NULL;
		const char *want = cases[i].want;
		const char *e = parse(cases[i].text, &o, &obj);

		if (strcmp(e, want)) {
			CHECK(!strcmp(e, want));
			printf("#   %s\n#   got:  '%s'\n#   want: '%s'\n",
			       cases[i].text, e, want);
		}
		json_decref(obj);
	}
}

static void test_user_hostfwd_rules(void)
{
	static const struct {
		const char *rule;
		bool udp;
		const char *haddr, *gaddr;
		int hport, gport;
	} cases[] = {
	    {"tcp:127.0.0.1:2222-:22", false, "127.0.0.1", "0.0.0.0", 2222, 22},
	    {"::8080-10.0.2.16:80", false, "0.0.0.0", "10.0.2.16", 8080, 80},
	    {"udp::5353-10.0.2.15:53", true, "0.0.0.0", "10.0.2.15", 5353, 53},
	    {"tcp::0x10-:0x11", false, "0.0.0.0", "0.0.0.0", 16, 17},
	    {"tcp::0-:1", false, "0.0.0.0", "0.0.0.0", 0, 1},
	};
	struct user_hostfwd f;
	struct nh_error *err = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		CHECK(user_hostfwd_parse(cases[i].rule, &f, &err));
		CHECK(err == NULL);
		CHECK_EQ(f.udp, cases[i].udp);
		CHECK(!strcmp(ip4(f.haddr), cases[i].haddr));
		CHECK(!strcmp(ip4(f.gaddr), cases[i].gaddr));
		CHECK_EQ(f.hport, cases[i].hport);
		CHECK_EQ(f.gport, cases[i].gport);
		CHECK(!strcmp(f.rule, cases[i].rule));
	}
	CHECK(!user_hostfwd_parse("tcp:1.2.3.x:1-:2", &f, &err));
	CHECK(err && !strcmp(err->msg, "Invalid host forwarding rule "
				       "'tcp:1.2.3.x:1-:2' (Bad host "
				       "address)"));
	nh_error_free(err);
}

static void test_user_guestfwd_rules(void)
{
	struct user_guestfwd g;
	struct nh_error *err = NULL;

	CHECK(user_guestfwd_parse("tcp:10.0.2.100:4444-cmd:echo hi there", &g,
				  &err));
	CHECK(!strcmp(ip4(g.server), "10.0.2.100"));
	CHECK_EQ(g.port, 4444);
	CHECK(!strcmp(g.cmd, "echo hi there"));
	CHECK(user_guestfwd_parse("::80-cmd:x", &g, &err));
	CHECK_EQ(g.server.s_addr, 0);
	CHECK(err == NULL);
}

static void test_user_lists_take_strings_and_qemus_string_objects(void)
{
	const char *out[4];
	unsigned n;
	struct nh_error *err = NULL;
	json_t *o = json_pack("{s[{ss}s]s[i]}", "hostfwd", "str", "tcp::1-:2",
			      "udp::3-:4", "guestfwd", 5);

	CHECK(user_str_list(o, "hostfwd", out, 4, &n, &err));
	CHECK_EQ(n, 2);
	CHECK(!strcmp(out[0], "tcp::1-:2") && !strcmp(out[1], "udp::3-:4"));
	CHECK(!user_str_list(o, "hostfwd", out, 1, &n, &err));
	CHECK(err && !strcmp(err->msg, "Parameter 'hostfwd' has more than 1 "
				       "elements"));
	nh_error_free(err);
	err = NULL;
	CHECK(!user_str_list(o, "guestfwd", out, 4, &n, &err));
	CHECK(err && !strcmp(err->msg, "Invalid parameter type for "
				       "'guestfwd[0].str', expected: string"));
	nh_error_free(err);
	json_decref(o);
}

/* dhcp_frame() - a DHCP reply from slirp of @type for @mac / @ip */
static size_t dhcp_frame(uint8_t *f, uint8_t type, const uint8_t *mac,
			 const char *ip)
{
	size_t len = 14 + 20 + 8 + 240 + 4;
	uint8_t *b = f + 42;

	memset(f, 0, len);
	f[12] = 0x08;
	f[14] = 0x45;
	f[23] = 17;
	f[34] = 0;
	f[35] = 67;
	f[36] = 0;
	f[37] = 68;
	b[0] = 2;
	inet_pton(AF_INET, ip, b + 16);
	memcpy(b + 28, mac, 6);
	b[236] = 99, b[237] = 130, b[238] = 83, b[239] = 99;
	b[240] = 53, b[241] = 1, b[242] = type, b[243] = 255;
	return len;
}

static void test_user_leases_come_from_acks(void)
{
	static struct user_state s;
	static const uint8_t m1[6] = {2, 0, 0, 0, 0, 1},
			     m2[6] = {2, 0, 0, 0, 0, 2};
	uint8_t f[400];
	json_t *obj = json_object(), *l;
	size_t len;

	len = dhcp_frame(f, 2 /* OFFER */, m1, "10.0.2.15");
	user_dhcp_snoop(&s, f, len);
	len = dhcp_frame(f, 5 /* ACK */, m1, "10.0.2.15");
	user_dhcp_snoop(&s, f, len - 10); /* cut short: ignored */
	user_dhcp_info(&s, obj);
	CHECK_EQ(json_array_size(json_object_get(obj, "leases")), 0);
	user_dhcp_snoop(&s, f, len);
	len = dhcp_frame(f, 5, m2, "10.0.2.16");
	user_dhcp_snoop(&s, f, len);
	len = dhcp_frame(f, 5, m1, "10.0.2.15"); /* renewal: same entry */
	user_dhcp_snoop(&s, f, len);
	user_dhcp_info(&s, obj);
	l = json_object_get(obj, "leases");
	CHECK_EQ(json_array_size(l), 2);
	CHECK(!strcmp(
	    json_string_value(json_object_get(json_array_get(l, 0), "mac")),
	    "02:00:00:00:00:01"));
	CHECK(!strcmp(
	    json_string_value(json_object_get(json_array_get(l, 1), "ip")),
	    "10.0.2.16"));
	json_decref(obj);
}

int main(void)
{
	TAP_RUN(test_user_defaults_are_qemus);
	TAP_RUN(test_user_net_forms);
	TAP_RUN(test_user_bad_options_say_what);
	TAP_RUN(test_user_hostfwd_rules);
	TAP_RUN(test_user_guestfwd_rules);
	TAP_RUN(test_user_lists_take_strings_and_qemus_string_objects);
	TAP_RUN(test_user_leases_come_from_acks);
	return tap_done();
}
