// SPDX-License-Identifier: MIT
/* l2tpv3_opts.c - the l2tpv3 netdev's options and the header they lay out
 *
 * QEMU's NetdevL2TPv3Options, with QEMU's rules and messages where QEMU has
 * them; nethub refuses, in addition, a 32-bit cookie that does not fit in
 * 32 bits (QEMU would cut it, and then never match it on receipt).
 *
 * Owns: nothing; the strings it returns are borrowed from the options.
 *
 * Never: resolve an address or open a socket.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "l2tpv3.h"
#include "opts.h"

/**
 * l2tpv3_get_u64() - a uint64 option: a JSON integer (a negative one wraps,
 * as in QEMU) or a decimal, 0x hex or 0 octal string
 * Return: true with *@out untouched when absent
 */
static bool l2tpv3_get_u64(const json_t *opts, const char *key, uint64_t *out,
			   struct nh_error **errp)
{
	const json_t *v = json_object_get(opts, key);
	const char *s;
	char *end;
	unsigned long long n;

	if (!v)
		return true;
	if (json_is_integer(v)) {
		*out = (uint64_t)json_integer_value(v);
		return true;
	}
	s = json_string_value(v);
	if (!s) {
		nh_error_setg(errp,
			      "Invalid parameter type for '%s', expected: "
			      "integer",
			      key);
		return false;
	}
	errno = 0;
	n = strtoull(s, &end, 0);
	if (!*s || *end || errno || strchr(s, '-')) {
		nh_error_setg(errp, "Parameter '%s' expects uint64", key);
		return false;
	}
	*out = n;
	return true;
}

/* l2tpv3_get_u32() - a uint32 option; *@set says whether it was given */
static bool l2tpv3_get_u32(const json_t *opts, const char *key, uint32_t *out,
			   bool *set, struct nh_error **errp)
{
	int64_t v;

	*set = opts_has(opts, key);
	if (!*set)
		return true;
	if (!opts_get_int(opts, key, 0, UINT32_MAX, &v, errp))
		return false;
	*out = (uint32_t)v;
	return true;
}

/* l2tpv3_layout() - where each field sits, as QEMU places them */
static void l2tpv3_layout(struct l2tpv3_opts *o)
{
	unsigned at = o->udp ? 4 : 0;

	o->session_at = at;
	at += 4;
	o->cookie_at = at;
	if (o->cookie)
		at += o->cookie64 ? 8 : 4;
	o->counter_at = at;
	if (o->counter)
		at += 4;
	o->hlen = at + o->offset;
}

bool l2tpv3_parse_opts(const json_t *opts, struct l2tpv3_opts *o,
		       struct nh_error **errp)
{
	static const char *const known[] = {
	    "id",	"type",	      "src",	    "dst",	  "srcport",
	    "dstport",	"ipv6",	      "udp",	    "cookie64",	  "counter",
	    "pincounter", "txcookie", "rxcookie",  "txsession", "rxsession",
	    "offset",	NULL,
	};
	bool counter = false, set;

	memset(o, 0, sizeof(*o));
	if (!opts_check_keys(opts, known, errp))
		return false;
	if (!opts_get_opt_str(opts, "src", &o->src, errp) ||
	    !opts_get_opt_str(opts, "dst", &o->dst, errp) ||
	    !opts_get_opt_str(opts, "srcport", &o->srcport, errp) ||
	    !opts_get_opt_str(opts, "dstport", &o->dstport, errp) ||
	    !opts_get_bool(opts, "ipv6", &o->ipv6, errp) ||
	    !opts_get_bool(opts, "udp", &o->udp, errp) ||
	    !opts_get_bool(opts, "cookie64", &o->cookie64, errp) ||
	    !opts_get_bool(opts, "counter", &counter, errp) ||
	    !opts_get_bool(opts, "pincounter", &o->pincounter, errp) ||
	    !l2tpv3_get_u64(opts, "txcookie", &o->txcookie, errp) ||
	    !l2tpv3_get_u64(opts, "rxcookie", &o->rxcookie, errp))
		return false;
	if (!o->src) {
		nh_error_setg(errp, "Parameter 'src' is missing");
		return false;
	}
	if (!o->dst) {
		nh_error_setg(errp, "Parameter 'dst' is missing");
		return false;
	}
	if (!l2tpv3_get_u32(opts, "txsession", &o->txsession, &set, errp))
		return false;
	if (!set) {
		nh_error_setg(errp, "Parameter 'txsession' is missing");
		return false;
	}
	o->rxsession = o->txsession;
	if (!l2tpv3_get_u32(opts, "rxsession", &o->rxsession, &set, errp) ||
	    !l2tpv3_get_u32(opts, "offset", &o->offset, &set, errp))
		return false;
	if (o->offset > L2TPV3_OFFSET_MAX) {
		nh_error_setg(errp, "offset must be less than 256 bytes");
		return false;
	}

	if (opts_has(opts, "txcookie") != opts_has(opts, "rxcookie")) {
		nh_error_setg(errp,
			      "require both 'rxcookie' and 'txcookie' or neither");
		return false;
	}
	o->cookie = opts_has(opts, "txcookie");
	/* QEMU: "has_cookie64 || cookie64", so cookie64=off means on too */
	o->cookie64 = opts_has(opts, "cookie64");
	if (o->cookie && !o->cookie64 &&
	    (o->txcookie > UINT32_MAX || o->rxcookie > UINT32_MAX)) {
		nh_error_setg(errp, "%s does not fit in 32 bits; cookie64=on "
				    "makes cookies 64 bits long",
			      o->txcookie > UINT32_MAX ? "txcookie"
						       : "rxcookie");
		return false;
	}

	if (o->udp && !(o->srcport && o->dstport)) {
		nh_error_setg(errp, "need both src and dst port for udp");
		return false;
	}
	if (!o->udp && (o->srcport || o->dstport)) {
		nh_error_setg(errp, "%s is only valid with udp=on",
			      o->srcport ? "srcport" : "dstport");
		return false;
	}

	/* QEMU puts a counter word on the wire only for counter=on;
	 * pincounter=on alone writes it past the header it sends */
	o->counter = counter;
	l2tpv3_layout(o);
	return true;
}

bool l2tpv3_check(const json_t *opts, struct nh_error **errp)
{
	struct l2tpv3_opts o;

	return l2tpv3_parse_opts(opts, &o, errp);
}
