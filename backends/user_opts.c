// SPDX-License-Identifier: MIT
/* user_opts.c - the user netdev's options: NetdevUserOptions, checked as
 * QEMU checks them, with QEMU's defaults and messages
 *
 * IPv4: net= (or its old spelling ip=, taken as ADDRESS/24) is ADDRESS[/
 * MASK], MASK a prefix length or a dotted quad; without a mask, the
 * class's (QEMU's rule).  Default 10.0.2.0/24.  Within it: host= (.2),
 * dns= (.3), dhcpstart= (.15).  IPv6: ipv6-prefix= (fec0::) /
 * ipv6-prefixlen= (64), ipv6-host= (::2), ipv6-dns= (::3).  The forward
 * rules are parsed here too (user_fwd.c), so a bad one is refused before
 * anything starts.
 *
 * Never: open a socket or start anything.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"
#include "sandbox.h"
#include "user_internal.h"

#define USER_NET_DEFAULT     "10.0.2.0/24"
#define USER_PREFIX6_DEFAULT "fec0::"
#define USER_PREFIX6_LEN     64
#define USER_PREFIX6_MAX     126 /* QEMU's limit */

/* QEMU's NetdevUserOptions, in its order */
static const char *const user_keys[] = {
    "id",
    "type",
    "hostname",
    "restrict",
    "ipv4",
    "ipv6",
    "ip",
    "net",
    "host",
    "tftp",
    "bootfile",
    "dhcpstart",
    "dns",
    "dnssearch[]",
    "domainname",
    "ipv6-prefix",
    "ipv6-prefixlen",
    "ipv6-host",
    "ipv6-dns",
    "smb",
    "smbserver",
    "hostfwd[]",
    "guestfwd[]",
    "tftp-server-name",
    NULL,
};

bool user_str_list(const json_t *opts, const char *key, const char **out,
		   unsigned max, unsigned *n, struct nh_error **errp)
{
	const json_t *v = json_object_get(opts, key);
	size_t i;

	*n = 0;
	if (!v)
		return true;
	if (json_is_string(v)) {
		out[(*n)++] = json_string_value(v);
		return true;
	}
	if (!json_is_array(v)) {
		nh_error_setg(
		    errp, "Invalid parameter type for '%s', expected: array",
		    key);
		return false;
	}
	if (json_array_size(v) > max) {
		nh_error_setg(errp, "Parameter '%s' has more than %u elements",
			      key, max);
		return false;
	}
	for (i = 0; i < json_array_size(v); i++) {
		const json_t *e = json_array_get(v, i);

		if (json_is_object(e))
			e = json_object_get(e, "str");
		if (!json_is_string(e)) {
			nh_error_setg(
			    errp,
			    "Invalid parameter type for '%s[%zu].str', "
			    "expected: string",
			    key, i);
			return false;
		}
		out[(*n)++] = json_string_value(e);
	}
	return true;
}

/* user_class_mask() - QEMU's mask for a net= without one */
static uint32_t user_class_mask(uint32_t a)
{
	if (!(a & 0x80000000u))
		return 0xff000000u; /* class A */
	if ((a & 0xfff00000u) == 0xac100000u)
		return 0xfff00000u; /* 172.16.0.0/12 */
	if ((a & 0xc0000000u) == 0x80000000u)
		return 0xffff0000u; /* class B */
	if ((a & 0xffff0000u) == 0xc0a80000u)
		return 0xffff0000u; /* 192.168.0.0/16 */
	if ((a & 0xffff0000u) == 0xc6120000u)
		return 0xfffe0000u; /* 198.18.0.0/15 */
	if ((a & 0xe0000000u) == 0xe0000000u)
		return 0xffffff00u; /* class C */
	return 0xfffffff0u;
}

static unsigned user_mask_len(uint32_t m)
{
	unsigned n = 0;

	while (n < 32 && (m & (0x80000000u >> n)))
		n++;
	return n;
}

/* user_parse_net() - "ADDRESS[/MASK]" as QEMU reads it; sets the net, the
 * mask and the defaults that follow from them */
static bool user_parse_net(const char *text, struct user_opts *o,
			   struct nh_error **errp)
{
	char addr[64];
	const char *slash = strchr(text, '/');
	struct in_addr net, mask;
	size_t len = slash ? (size_t)(slash - text) : strlen(text);

	if (len >= sizeof(addr)) {
		nh_error_setg(errp, "Failed to parse netmask");
		return false;
	}
	memcpy(addr, text, len);
	addr[len] = '\0';
	if (!inet_aton(addr, &net)) {
		nh_error_setg(errp, "Failed to parse netmask");
		return false;
	}
	if (!slash) {
		mask.s_addr = htonl(user_class_mask(ntohl(net.s_addr)));
	} else {
		char *end;
		long shift;

		errno = 0;
		shift = strtol(slash + 1, &end, 10);
		if (*end || end == slash + 1) {
			if (!inet_aton(slash + 1, &mask)) {
				nh_error_setg(errp, "Failed to parse netmask "
						    "(trailing chars)");
				return false;
			}
		} else if (errno || shift < 4 || shift > 32) {
			nh_error_setg(errp, "Invalid netmask provided (must be "
					    "in range 4-32)");
			return false;
		} else {
			mask.s_addr =
			    htonl((uint32_t)(0xffffffffull << (32 - shift)));
		}
	}
	net.s_addr &= mask.s_addr;
	o->cfg.vnetwork = net;
	o->cfg.vnetmask = mask;
	o->cfg.vhost.s_addr = net.s_addr | (htonl(0x0202) & ~mask.s_addr);
	o->cfg.vdhcp_start.s_addr = net.s_addr | (htonl(0x020f) & ~mask.s_addr);
	o->cfg.vnameserver.s_addr = net.s_addr | (htonl(0x0203) & ~mask.s_addr);
	o->smbserver.s_addr = net.s_addr | (htonl(0x0204) & ~mask.s_addr);
	o->prefix_len = user_mask_len(ntohl(mask.s_addr));
	return true;
}

/* user_in_net() - @a is inside the configured IPv4 network */
static bool user_in_net(const struct user_opts *o, struct in_addr a)
{
	return (a.s_addr & o->cfg.vnetmask.s_addr) == o->cfg.vnetwork.s_addr;
}

/* user_in_prefix6() - @a shares the first @len bits of @p */
static bool user_in_prefix6(const struct in6_addr *p, const struct in6_addr *a,
			    unsigned len)
{
	unsigned bytes = len / 8, bits = len % 8;

	if (memcmp(p->s6_addr, a->s6_addr, bytes))
		return false;
	if (!bits)
		return true;
	return !((p->s6_addr[bytes] ^ a->s6_addr[bytes]) &
		 (uint8_t)(0xff << (8 - bits)));
}

/* user_parse_ipv4() - net=/ip=, host=, dns=, dhcpstart=, smbserver= */
static bool user_parse_ipv4(const json_t *opts, struct user_opts *o,
			    struct nh_error **errp)
{
	const char *net = NULL, *ip = NULL, *host = NULL, *dns = NULL,
		   *dhcp = NULL, *smbserver = NULL;
	char ipnet[80];

	if (!opts_get_opt_str(opts, "net", &net, errp) ||
	    !opts_get_opt_str(opts, "ip", &ip, errp) ||
	    !opts_get_opt_str(opts, "host", &host, errp) ||
	    !opts_get_opt_str(opts, "dns", &dns, errp) ||
	    !opts_get_opt_str(opts, "dhcpstart", &dhcp, errp) ||
	    !opts_get_opt_str(opts, "smbserver", &smbserver, errp))
		return false;
	if (!o->cfg.in_enabled && (net || ip || host || dns)) {
		nh_error_setg(errp,
			      "IPv4 disabled but netmask/host/dns provided");
		return false;
	}
	if (!net && ip) { /* QEMU: the old ip= is ADDRESS/24 */
		snprintf(ipnet, sizeof(ipnet), "%.63s/24", ip);
		net = ipnet;
	}
	if (!user_parse_net(net ? net : USER_NET_DEFAULT, o, errp))
		return false;
	if (host && !inet_aton(host, &o->cfg.vhost)) {
		nh_error_setg(errp, "Failed to parse host");
		return false;
	}
	if (!user_in_net(o, o->cfg.vhost)) {
		nh_error_setg(errp, "Host doesn't belong to network");
		return false;
	}
	if (dns && !inet_aton(dns, &o->cfg.vnameserver)) {
		nh_error_setg(errp, "Failed to parse DNS");
		return false;
	}
	if (o->cfg.restricted && !user_in_net(o, o->cfg.vnameserver)) {
		nh_error_setg(errp, "DNS doesn't belong to network");
		return false;
	}
	if (o->cfg.vnameserver.s_addr == o->cfg.vhost.s_addr) {
		nh_error_setg(errp, "DNS must be different from host");
		return false;
	}
	if (dhcp && !inet_aton(dhcp, &o->cfg.vdhcp_start)) {
		nh_error_setg(errp, "Failed to parse DHCP start address");
		return false;
	}
	if (!user_in_net(o, o->cfg.vdhcp_start)) {
		nh_error_setg(errp, "DHCP doesn't belong to network");
		return false;
	}
	if (o->cfg.vdhcp_start.s_addr == o->cfg.vhost.s_addr ||
	    o->cfg.vdhcp_start.s_addr == o->cfg.vnameserver.s_addr) {
		nh_error_setg(errp, "DHCP must be different from host and DNS");
		return false;
	}
	if (smbserver && !inet_aton(smbserver, &o->smbserver)) {
		nh_error_setg(errp, "Failed to parse SMB address");
		return false;
	}
	return true;
}

/* user_parse_ipv6() - ipv6-prefix=, ipv6-prefixlen=, ipv6-host=, ipv6-dns= */
static bool user_parse_ipv6(const json_t *opts, struct user_opts *o,
			    struct nh_error **errp)
{
	const char *prefix = NULL, *host = NULL, *dns = NULL;
	int64_t len = USER_PREFIX6_LEN;

	if (!opts_get_opt_str(opts, "ipv6-prefix", &prefix, errp) ||
	    !opts_get_opt_str(opts, "ipv6-host", &host, errp) ||
	    !opts_get_opt_str(opts, "ipv6-dns", &dns, errp))
		return false;
	if (!o->cfg.in6_enabled &&
	    (prefix || host || dns || opts_has(opts, "ipv6-prefixlen"))) {
		nh_error_setg(errp, "IPv6 disabled but prefix/host6/dns6 "
				    "provided");
		return false;
	}
	if (!opts_get_int(opts, "ipv6-prefixlen", INT64_MIN, INT64_MAX, &len,
			  errp))
		return false;
	if (len < 0 || len > USER_PREFIX6_MAX) {
		nh_error_setg(errp, "Invalid IPv6 prefix provided (IPv6 prefix "
				    "length must be between 0 and 126)");
		return false;
	}
	o->cfg.vprefix_len = (uint8_t)len;
	if (inet_pton(AF_INET6, prefix ? prefix : USER_PREFIX6_DEFAULT,
		      &o->cfg.vprefix_addr6) != 1) {
		nh_error_setg(errp, "Failed to parse IPv6 prefix");
		return false;
	}
	if (host) {
		if (inet_pton(AF_INET6, host, &o->cfg.vhost6) != 1) {
			nh_error_setg(errp, "Failed to parse IPv6 host");
			return false;
		}
		if (!user_in_prefix6(&o->cfg.vprefix_addr6, &o->cfg.vhost6,
				     o->cfg.vprefix_len)) {
			nh_error_setg(errp,
				      "IPv6 Host doesn't belong to network");
			return false;
		}
	} else {
		o->cfg.vhost6 = o->cfg.vprefix_addr6;
		o->cfg.vhost6.s6_addr[15] |= 2;
	}
	if (dns) {
		if (inet_pton(AF_INET6, dns, &o->cfg.vnameserver6) != 1) {
			nh_error_setg(errp, "Failed to parse IPv6 DNS");
			return false;
		}
		if (o->cfg.restricted && !user_in_prefix6(&o->cfg.vprefix_addr6,
							  &o->cfg.vnameserver6,
							  o->cfg.vprefix_len)) {
			nh_error_setg(errp,
				      "IPv6 DNS doesn't belong to network");
			return false;
		}
	} else {
		o->cfg.vnameserver6 = o->cfg.vprefix_addr6;
		o->cfg.vnameserver6.s6_addr[15] |= 3;
	}
	return true;
}

/* user_parse_names() - hostname=, domainname=, dnssearch=, tftp*=,
 * bootfile= */
static bool user_parse_names(const json_t *opts, struct user_opts *o,
			     struct nh_error **errp)
{
	unsigned n;

	if (!opts_get_opt_str(opts, "hostname", &o->cfg.vhostname, errp) ||
	    !opts_get_opt_str(opts, "domainname", &o->cfg.vdomainname, errp) ||
	    !opts_get_opt_str(opts, "tftp", &o->cfg.tftp_path, errp) ||
	    !opts_get_opt_str(opts, "bootfile", &o->cfg.bootfile, errp) ||
	    !opts_get_opt_str(opts, "tftp-server-name",
			      &o->cfg.tftp_server_name, errp))
		return false;
	if (o->cfg.vdomainname && !*o->cfg.vdomainname) {
		nh_error_setg(errp, "'domainname' parameter cannot be empty");
		return false;
	}
	if (o->cfg.vdomainname && strlen(o->cfg.vdomainname) > USER_NAME_MAX) {
		nh_error_setg(errp,
			      "'domainname' parameter cannot exceed 255 bytes");
		return false;
	}
	if (o->cfg.vhostname && strlen(o->cfg.vhostname) > USER_NAME_MAX) {
		nh_error_setg(errp,
			      "'vhostname' parameter cannot exceed 255 bytes");
		return false;
	}
	if (o->cfg.tftp_server_name &&
	    strlen(o->cfg.tftp_server_name) > USER_NAME_MAX) {
		nh_error_setg(errp, "'tftp-server-name' parameter cannot "
				    "exceed 255 bytes");
		return false;
	}
	if (!user_str_list(opts, "dnssearch", o->dnssearch, USER_DNSSEARCH_MAX,
			   &n, errp))
		return false;
	for (unsigned i = 0; i < n; i++) {
		size_t len = strlen(o->dnssearch[i]);

		if (!len || len > USER_NAME_MAX ||
		    strspn(
			o->dnssearch[i],
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"0123456789-.") != len) {
			nh_error_setg(errp,
				      "'dnssearch' parameter: '%s' is not a "
				      "domain name",
				      o->dnssearch[i]);
			return false;
		}
	}
	o->dnssearch[n] = NULL;
	o->cfg.vdnssearch = n ? o->dnssearch : NULL;
	return true;
}

/* user_parse_fwd() - the forward lists and smb=, syntax only (whether a
 * port is free is found out when they are set up) */
static bool user_parse_fwd(const json_t *opts, struct user_opts *o,
			   struct nh_error **errp)
{
	struct user_hostfwd hf;
	struct user_guestfwd gf;

	if (!user_str_list(opts, "hostfwd", o->hostfwd, USER_FWD_MAX,
			   &o->nhostfwd, errp) ||
	    !user_str_list(opts, "guestfwd", o->guestfwd, USER_FWD_MAX,
			   &o->nguestfwd, errp) ||
	    !opts_get_opt_str(opts, "smb", &o->smb, errp))
		return false;
	for (unsigned i = 0; i < o->nhostfwd; i++)
		if (!user_hostfwd_parse(o->hostfwd[i], &hf, errp))
			return false;
	for (unsigned i = 0; i < o->nguestfwd; i++)
		if (!user_guestfwd_parse(o->guestfwd[i], &gf, errp))
			return false;
	if (o->nguestfwd && !sandbox_run_allowed()) {
		nh_error_setg(errp,
			      "guestfwd: 'cmd:' runs a program for each "
			      "connection, and running programs is disabled "
			      "(start nethubd with --allow-run)");
		return false;
	}
	if (o->smb) {
		if (access(USER_SMBD, F_OK)) {
			nh_error_setg(errp,
				      "could not find '%s', please install it",
				      USER_SMBD);
			return false;
		}
		if (!sandbox_run_allowed()) {
			nh_error_setg(errp, "smb: smbd is a program run for "
					    "each connection, and running "
					    "programs is disabled (start "
					    "nethubd with --allow-run)");
			return false;
		}
		if (*o->smb != '/' || access(o->smb, R_OK | X_OK)) {
			nh_error_setg(errp,
				      "smb: '%s' is not a readable directory "
				      "given by its absolute path",
				      o->smb);
			return false;
		}
	}
	return true;
}

bool user_parse_opts(const json_t *opts, struct user_opts *o,
		     struct nh_error **errp)
{
	bool restricted = false, ipv4 = true, ipv6 = true;

	memset(o, 0, sizeof(*o));
	if (!opts_check_keys(opts, user_keys, errp) ||
	    !opts_get_bool(opts, "restrict", &restricted, errp) ||
	    !opts_get_bool(opts, "ipv4", &ipv4, errp) ||
	    !opts_get_bool(opts, "ipv6", &ipv6, errp))
		return false;
	if (!ipv4 && !ipv6) {
		nh_error_setg(errp, "IPv4 and IPv6 disabled");
		return false;
	}
	o->cfg.version = 4;
	o->cfg.restricted = restricted;
	o->cfg.in_enabled = ipv4;
	o->cfg.in6_enabled = ipv6;
	o->cfg.if_mtu = USER_MTU;
	o->cfg.if_mru = USER_MTU;
	return user_parse_ipv4(opts, o, errp) &&
	       user_parse_ipv6(opts, o, errp) &&
	       user_parse_names(opts, o, errp) && user_parse_fwd(opts, o, errp);
}
