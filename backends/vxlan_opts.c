// SPDX-License-Identifier: MIT
/* vxlan_opts.c - the vxlan netdev's options
 *
 *   vni=N            0..16777215, required
 *   local=ADDR       the underlay address to send from and receive on
 *   remote=ADDR      a VTEP on the flood list; several as a JSON list
 *                    ("remote": ["a", "b"]) or, on the command line, the
 *                    key repeated (remote=A,remote=B) or QEMU's list
 *                    syntax remote.0=A,remote.1=B
 *   group=MCAST      a multicast group as the flood destination (and
 *                    joined to receive)
 *   dstport=N        the UDP port, both ways (default 4789)
 *   ttl=N            1..255 (default 64, 1 toward a group)
 *   learning=on|off  learn inner source MACs (default on)
 *
 * Addresses are numeric and of one family (IPv4 or IPv6).
 *
 * Owns: nothing.  Never: open a socket or resolve a name.
 */

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "vxlan_internal.h"

bool vxlan_parse_ip(const char *opt, const char *text, struct sockaddr_any *out,
		    struct nh_error **errp)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

	memset(out, 0, sizeof(*out));
	if (text && inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		out->len = sizeof(*sin);
		return true;
	}
	if (text && inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		out->len = sizeof(*sin6);
		return true;
	}
	nh_error_setg(errp, "%s=: IP address expected, got '%s'", opt,
		      text ? text : "");
	return false;
}

/* vxlan_is_multicast() - an IPv4 or IPv6 multicast address */
static bool vxlan_is_multicast(const struct sockaddr_any *a)
{
	if (a->ss.ss_family == AF_INET)
		return IN_MULTICAST(ntohl(
		    ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr));
	return IN6_IS_ADDR_MULTICAST(
	    &((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
}

/* vxlan_add_remote() - one remote= address */
static bool vxlan_add_remote(struct vxlan_opts *o, const char *opt,
			     const json_t *v, struct nh_error **errp)
{
	struct sockaddr_any *a;

	if (!json_is_string(v)) {
		nh_error_setg(errp,
			      "Invalid parameter type for '%s', expected: "
			      "string",
			      opt);
		return false;
	}
	if (o->nremote == VXLAN_REMOTES_MAX) {
		nh_error_setg(errp, "remote=: at most %d addresses",
			      VXLAN_REMOTES_MAX);
		return false;
	}
	a = &o->remote[o->nremote];
	if (!vxlan_parse_ip("remote", json_string_value(v), a, errp))
		return false;
	if (vxlan_is_multicast(a)) {
		nh_error_setg(errp,
			      "remote=: %s is a multicast address (use group=)",
			      json_string_value(v));
		return false;
	}
	o->nremote++;
	return true;
}

/**
 * vxlan_parse_remotes() - "remote" (a string or a list of strings) and
 * "remote.N" keys, in order
 */
static bool vxlan_parse_remotes(const json_t *opts, struct vxlan_opts *o,
				struct nh_error **errp)
{
	const json_t *r = json_object_get(opts, "remote"), *v;
	const char *key;
	size_t i;

	if (json_is_array(r)) {
		json_array_foreach(r, i, v)
			if (!vxlan_add_remote(o, "remote", v, errp))
				return false;
	} else if (r && !vxlan_add_remote(o, "remote", r, errp)) {
		return false;
	}
	json_object_foreach((json_t *)opts, key, v) {
		char *end;

		if (strncmp(key, "remote.", 7))
			continue;
		strtoul(key + 7, &end, 10);
		if (!key[7] || *end) {
			nh_error_setg(errp, "Parameter '%s' is unexpected", key);
			return false;
		}
		if (!vxlan_add_remote(o, key, v, errp))
			return false;
	}
	return true;
}

/* vxlan_known_keys() - every key but remote.N (checked above) */
static bool vxlan_known_keys(const json_t *opts, struct nh_error **errp)
{
	static const char *const known[] = {
	    "id",  "type",    "vni", "local",	 "remote",
	    "group", "dstport", "ttl", "learning", NULL,
	};
	const char *key;
	const json_t *v;

	json_object_foreach((json_t *)opts, key, v) {
		bool ok = !strncmp(key, "remote.", 7);

		for (unsigned i = 0; !ok && known[i]; i++)
			ok = !strcmp(key, known[i]);
		if (!ok) {
			nh_error_setg(errp, "Parameter '%s' is unexpected", key);
			return false;
		}
		if (strcmp(key, "remote") && opts_repeated(v, key, errp))
			return false;
	}
	return true;
}

/* vxlan_family() - every address of one family; the family */
static bool vxlan_family(struct vxlan_opts *o, struct nh_error **errp)
{
	const struct sockaddr_any *first = NULL;
	const char *what = NULL;

	if (o->local_set)
		first = &o->local, what = "local=";
	else if (o->group_set)
		first = &o->group, what = "group=";
	else if (o->nremote)
		first = &o->remote[0], what = "remote=";
	o->family = first ? first->ss.ss_family : AF_INET;
	if (o->group_set && o->group.ss.ss_family != o->family)
		goto mixed;
	for (unsigned i = 0; i < o->nremote; i++)
		if (o->remote[i].ss.ss_family != o->family)
			goto mixed;
	return true;
mixed:
	nh_error_setg(errp, "addresses of different families: %s is IPv%d",
		      what, o->family == AF_INET ? 4 : 6);
	return false;
}

bool vxlan_parse_opts(const json_t *opts, struct vxlan_opts *o,
		      struct nh_error **errp)
{
	const char *local = NULL, *group = NULL;
	int64_t vni, port = VXLAN_PORT_DEFAULT, ttl = 0;

	memset(o, 0, sizeof(*o));
	o->learning = true;
	if (!vxlan_known_keys(opts, errp))
		return false;
	if (!opts_has(opts, "vni")) {
		nh_error_setg(errp, "Parameter 'vni' is missing");
		return false;
	}
	if (!opts_get_int(opts, "vni", 0, VXLAN_VNI_MAX, &vni, errp) ||
	    !opts_get_int(opts, "dstport", 1, UINT16_MAX, &port, errp) ||
	    !opts_get_int(opts, "ttl", 1, 255, &ttl, errp) ||
	    !opts_get_bool(opts, "learning", &o->learning, errp) ||
	    !opts_get_opt_str(opts, "local", &local, errp) ||
	    !opts_get_opt_str(opts, "group", &group, errp))
		return false;
	o->vni = (uint32_t)vni;
	o->dstport = (uint16_t)port;
	o->ttl = (int)ttl;
	if (local) {
		if (!vxlan_parse_ip("local", local, &o->local, errp))
			return false;
		if (vxlan_is_multicast(&o->local)) {
			nh_error_setg(errp, "local=: %s is a multicast address",
				      local);
			return false;
		}
		o->local_set = true;
	}
	if (group) {
		if (!vxlan_parse_ip("group", group, &o->group, errp))
			return false;
		if (!vxlan_is_multicast(&o->group)) {
			nh_error_setg(errp,
				      "group=: %s is not a multicast address",
				      group);
			return false;
		}
		o->group_set = true;
	}
	if (!vxlan_parse_remotes(opts, o, errp))
		return false;
	if (o->group_set && o->nremote) {
		nh_error_setg(errp, "group= and remote= exclude each other");
		return false;
	}
	return vxlan_family(o, errp);
}

bool vxlan_check(const json_t *opts, struct nh_error **errp)
{
	struct vxlan_opts o;

	return vxlan_parse_opts(opts, &o, errp);
}
