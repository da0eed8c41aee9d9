// SPDX-License-Identifier: MIT
/* vde_proto.c - VDE's port request, written (vde_client.c) and read
 * (vde_server.c)
 *
 * The request a client sends on its control connection, vdeplug4's
 * version 3: magic 0xfeedface, version 3, type (0; 1 for "port 0";
 * or port << 8), u32 each in host order; the sockaddr_un of the client's
 * datagram socket; its description, up to 128 bytes, without a NUL.
 *
 * Owns: nothing.  Never: read past the bytes it was given, or let a
 * description hold anything but printable ASCII.
 */

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "vde_internal.h"

static uint32_t vde_get_u32(const uint8_t *b)
{
	uint32_t v;

	memcpy(&v, b, sizeof(v)); /* host order, as VDE sends it */
	return v;
}

size_t vde_request_build(uint8_t *buf, size_t size,
			 const struct sockaddr_un *sock, unsigned port,
			 const char *descr)
{
	uint32_t hdr[3] = {VDE_MAGIC, VDE_VERSION,
			   VDE_REQ_NEW_CONTROL | (uint32_t)port << 8};
	size_t dlen = strnlen(descr, VDE_DESCR_MAX);

	if (size < VDE_REQ_HDR + dlen)
		return 0;
	memcpy(buf, hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), sock, sizeof(*sock));
	memcpy(buf + VDE_REQ_HDR, descr, dlen);
	return VDE_REQ_HDR + dlen;
}

bool vde_request_parse(const uint8_t *buf, size_t len, struct vde_request *r,
		       const char **why)
{
	uint32_t type;
	size_t dlen;

	memset(r, 0, sizeof(*r));
	if (len < VDE_REQ_HDR) {
		*why = "request cut short";
		return false;
	}
	if (vde_get_u32(buf) != VDE_MAGIC) {
		*why = "not a VDE request (bad magic)";
		return false;
	}
	if (vde_get_u32(buf + 4) != VDE_VERSION) {
		*why = "unsupported VDE protocol version (3 expected)";
		return false;
	}
	type = vde_get_u32(buf + 8);
	if ((type & 0xff) != VDE_REQ_NEW_CONTROL &&
	    (type & 0xff) != VDE_REQ_NEW_PORT0) {
		*why = "unknown request type";
		return false;
	}
	r->port = type >> 8;
	memcpy(&r->sock, buf + 12, sizeof(r->sock));
	if (r->sock.sun_family != AF_UNIX || !r->sock.sun_path[0] ||
	    !memchr(r->sock.sun_path, '\0', sizeof(r->sock.sun_path))) {
		*why = "bad data socket address";
		return false;
	}
	dlen = len - VDE_REQ_HDR;
	if (dlen > VDE_DESCR_MAX)
		dlen = VDE_DESCR_MAX;
	memcpy(r->descr, buf + VDE_REQ_HDR, dlen);
	r->descr[dlen] = '\0';
	dlen = strlen(r->descr);
	for (size_t i = 0; i < dlen; i++)
		if ((unsigned char)r->descr[i] < 0x20 ||
		    (unsigned char)r->descr[i] >= 0x7f)
			r->descr[i] = '?';
	return true;
}
