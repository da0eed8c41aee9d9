// SPDX-License-Identifier: MIT
/* user_dhcp.c - the DHCP leases a user netdev's slirp handed out
 *
 * libslirp keeps its lease table to itself (slirp_connection_info() lists
 * sockets, not leases), so the leases are read off the wire: every DHCP
 * ACK slirp sends (UDP 67 -> 68, BOOTP reply, option 53 = 5) records the
 * client's hardware address and the address it got.  One entry per MAC,
 * at most USER_LEASES_MAX (slirp's own pool size); a full table forgets
 * the oldest ACK.
 *
 * Never: allocate or log (it runs on every frame slirp sends), read past
 * the frame.
 */

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "user_internal.h"

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define BOOTP_REPLY	 2
#define BOOTP_YIADDR	 16 /* offsets in the BOOTP message */
#define BOOTP_CHADDR	 28
#define BOOTP_COOKIE	 236
#define BOOTP_OPTIONS	 240
#define DHCP_OPT_PAD	 0
#define DHCP_OPT_END	 255
#define DHCP_OPT_TYPE	 53
#define DHCP_ACK	 5

/* user_dhcp_is_ack() - the options of @b (@len bytes of BOOTP) say ACK */
static bool user_dhcp_is_ack(const uint8_t *b, size_t len)
{
	static const uint8_t cookie[4] = {99, 130, 83, 99};
	size_t i = BOOTP_OPTIONS;

	if (len < BOOTP_OPTIONS || memcmp(b + BOOTP_COOKIE, cookie, 4))
		return false;
	while (i < len && b[i] != DHCP_OPT_END) {
		if (b[i] == DHCP_OPT_PAD) {
			i++;
			continue;
		}
		if (i + 1 >= len || i + 2 + b[i + 1] > len)
			return false;
		if (b[i] == DHCP_OPT_TYPE && b[i + 1] == 1)
			return b[i + 2] == DHCP_ACK;
		i += 2 + (size_t)b[i + 1];
	}
	return false;
}

static void user_dhcp_note(struct user_state *s, const uint8_t *mac,
			   const uint8_t *ip)
{
	struct user_lease *slot = NULL, *oldest = &s->leases[0];

	for (unsigned i = 0; i < USER_LEASES_MAX; i++) {
		struct user_lease *l = &s->leases[i];

		if (l->used && !memcmp(l->mac, mac, 6)) {
			slot = l;
			break;
		}
		if (!l->used && !slot)
			slot = l;
		if (l->at_ms < oldest->at_ms)
			oldest = l;
	}
	if (!slot)
		slot = oldest;
	memcpy(slot->mac, mac, 6);
	memcpy(&slot->ip, ip, 4);
	slot->at_ms = clock_now_ms();
	slot->used = true;
}

void user_dhcp_snoop(struct user_state *s, const uint8_t *d, size_t len)
{
	size_t ihl, udp, bootp;

	/* Ethernet, IPv4, UDP, unfragmented: what slirp's bootp.c sends */
	if (len < FRAME_ETH_HLEN + 20 + 8 + BOOTP_OPTIONS || d[12] != 0x08 ||
	    d[13] != 0x00 || (d[14] >> 4) != 4 || d[23] != 17)
		return;
	ihl = (size_t)(d[14] & 0x0f) * 4;
	udp = FRAME_ETH_HLEN + ihl;
	if (ihl < 20 || udp + 8 > len)
		return;
	if ((d[udp] << 8 | d[udp + 1]) != DHCP_SERVER_PORT ||
	    (d[udp + 2] << 8 | d[udp + 3]) != DHCP_CLIENT_PORT)
		return;
	bootp = udp + 8;
	if (d[bootp] != BOOTP_REPLY ||
	    !user_dhcp_is_ack(d + bootp, len - bootp))
		return;
	user_dhcp_note(s, d + bootp + BOOTP_CHADDR, d + bootp + BOOTP_YIADDR);
}

void user_dhcp_info(const struct user_state *s, json_t *obj)
{
	json_t *list = json_array();
	uint64_t now = clock_now_ms();

	for (unsigned i = 0; i < USER_LEASES_MAX; i++) {
		const struct user_lease *l = &s->leases[i];
		char mac[18], ip[INET_ADDRSTRLEN];

		if (!l->used)
			continue;
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
			 l->mac[0], l->mac[1], l->mac[2], l->mac[3], l->mac[4],
			 l->mac[5]);
		inet_ntop(AF_INET, &l->ip, ip, sizeof(ip));
		json_array_append_new(
		    list, json_pack("{ss ss sI}", "mac", mac, "ip", ip, "age-s",
				    (json_int_t)((now - l->at_ms) / 1000)));
	}
	json_object_set_new(obj, "leases", list);
}
