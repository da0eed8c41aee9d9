/* SPDX-License-Identifier: MIT */
/* announce.h - announce-self: QEMU's announcement timers and the frames sent
 *
 * After a migration (or a bond fail-over) the network must learn where a
 * guest's MAC and addresses now live.  QEMU's `announce-self` sends, in a
 * number of rounds, a RARP frame from every selected NIC; nethub does the
 * same and, beyond QEMU, a gratuitous ARP request per IPv4 address and an
 * unsolicited neighbour advertisement per IPv6 address it snooped from the
 * NIC (addrsnoop.h).
 *
 * Timing is QEMU's (net/announce.c), checked against QEMU 7.2 on the wire:
 *
 *	round 1 is sent at once, from inside announcer_start();
 *	after round k (k >= 1) the next follows after
 *		initial + (k - 1) * step	ms, clamped to max;
 *	after round `rounds` the timer is gone.
 *
 * So 50/550/5/100 (the migration defaults) sends at 0, 50, 200, 450, 800 ms,
 * initial > max makes every delay max, step 0 makes every delay initial.
 *
 * Timers are keyed by id ("" when none is given).  announce-self with an id
 * that has a running timer replaces it: new parameters, round 1 at once.
 * rounds = 0 cancels the timer of that id (and sends nothing).
 *
 * Parameters: QEMU checks none of them for announce-self.  It accepts
 * negative values and then misbehaves (negative rounds announce forever,
 * negative delays fire in a busy loop), so nethub rejects negative
 * initial, max, rounds and step; everything else is accepted as QEMU
 * does, initial > max and step = 0 included.  An empty `interfaces` list
 * selects no NIC (QEMU: the same); an absent one selects every NIC.
 *
 * The pure part (announce_next_delay(), the frame builders) needs no loop;
 * struct announcer is the libuv glue: one uv_timer_t per id, on the loop's
 * thread only.
 */
#ifndef NH_ANNOUNCE_H
#define NH_ANNOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "error.h"

#define ANNOUNCE_MAX_TIMERS 256 /* ids with a running timer at once */

#define ANNOUNCE_RARP_LEN  60 /* QEMU's RARP, padded to the Ethernet minimum */
#define ANNOUNCE_GARP_LEN  60 /* gratuitous ARP request, padded likewise */
#define ANNOUNCE_NA_LEN	   86 /* 14 Ethernet + 40 IPv6 + 24 NA + 8 option */
#define ANNOUNCE_VLAN_HLEN 4  /* what announce_tag_vlan() adds */
#define ANNOUNCE_FRAME_MAX (ANNOUNCE_NA_LEN + ANNOUNCE_VLAN_HLEN)

/*
 * The arguments of announce-self.  Times in milliseconds.  As an argument
 * the strings are borrowed (announcer_start() copies what it keeps); as
 * given to a round callback they belong to the announcer.
 */
struct announce_params {
	int64_t initial;     /* delay after round 1 */
	int64_t max;	     /* cap on every delay */
	int64_t rounds;	     /* rounds to send; 0 cancels */
	int64_t step;	     /* added to the delay per round */
	bool has_interfaces; /* false: every NIC */
	size_t n_interfaces;
	const char *const *interfaces; /* NIC names (netdev ids) */
	const char *id;		       /* timer key; NULL means "" */
};

/**
 * announce_params_check() - the parameter checks announcer_start() makes
 * @p:		parameters
 * @errp:	"Parameter 'NAME' expects a non-negative value" for the first
 *		negative one of initial, max, rounds, step
 *
 * Return: true if @p is acceptable.
 */
bool announce_params_check(const struct announce_params *p,
			   struct nh_error **errp);

/**
 * announce_params_selects() - whether @p covers the NIC named @nic_name
 *
 * Return: true when @p has no interface list or @nic_name is in it (exact,
 * case-sensitive match, as QEMU's).
 */
bool announce_params_selects(const struct announce_params *p,
			     const char *nic_name);

/**
 * announce_next_delay() - ms to wait after round @rounds_done before the next
 * @p:			checked parameters (none negative)
 * @rounds_done:	rounds sent so far, >= 1
 *
 * initial + (rounds_done - 1) * step, clamped to max; arithmetic overflow
 * saturates and so yields max (QEMU: the same through its "negative" check).
 * Whether a next round exists at all is the caller's business
 * (rounds_done < rounds).
 */
uint64_t announce_next_delay(const struct announce_params *p,
			     uint64_t rounds_done);

/*
 * One round of one timer: the switch sends, for every NIC @p selects, the
 * frames of that round.  @round_no counts from 1 to p->rounds.  @p and its
 * strings are the announcer's, valid until the callback returns or calls an
 * announcer function, whichever comes first.  The callback may call
 * announcer_start() (even for the same id) and announcer_cancel_all();
 * it must not call announcer_free().
 */
typedef void announce_round_fn(void *ctx, const struct announce_params *p,
			       uint64_t round_no);

struct announcer;

/**
 * announcer_new() - an announcer with no timers
 * @loop:	the loop its timers run on (borrowed; must outlive it)
 * @round:	called for every round of every timer
 * @ctx:	passed to @round
 *
 * Return: the announcer, or NULL when memory cannot be had.
 */
struct announcer *announcer_new(uv_loop_t *loop, announce_round_fn *round,
				void *ctx);

/**
 * announcer_free() - cancel every timer and free the announcer
 *
 * The timers' handles are closed, and their memory is freed by their close
 * callbacks: the loop must run once more before uv_loop_close() (the
 * daemon's teardown does).  Call it before anything closes all of a loop's
 * handles blindly (uv_walk + uv_close with no callback), or the timers'
 * memory leaks.  NULL is fine.
 */
void announcer_free(struct announcer *a);

/**
 * announcer_start() - what announce-self does
 * @a:		announcer
 * @p:		parameters, borrowed; checked with announce_params_check()
 * @errp:	bad parameters (see announce_params_check()), "Too many
 *		announce timers running (at most 256)", or out of memory
 *
 * rounds = 0 cancels the timer of p->id, if any.  Otherwise the timer of
 * p->id (new, or the running one, replaced) sends round 1 before this
 * returns, then the rest on the loop.  On error nothing changed.
 *
 * Return: true on success.
 */
bool announcer_start(struct announcer *a, const struct announce_params *p,
		     struct nh_error **errp);

/* announcer_cancel_all() - stop every timer; no round runs after it */
void announcer_cancel_all(struct announcer *a);

/* announcer_count() - ids with a running timer */
unsigned announcer_count(const struct announcer *a);

/**
 * announce_rarp() - QEMU's announcement frame for @mac
 * @buf:	ANNOUNCE_RARP_LEN bytes
 *
 * Broadcast RARP "request reverse" (op 3), sender and target hardware
 * address @mac, protocol addresses 0.0.0.0, zero padding.
 * Return: ANNOUNCE_RARP_LEN.
 */
size_t announce_rarp(uint8_t buf[ANNOUNCE_RARP_LEN], const uint8_t mac[6]);

/**
 * announce_garp() - a gratuitous ARP request claiming @ipv4 for @mac
 * @buf:	ANNOUNCE_GARP_LEN bytes
 * @ipv4:	the address, network byte order
 *
 * Broadcast ARP request (op 1), sender @mac/@ipv4, target hardware address
 * zero and target protocol address @ipv4 (Linux's arp_notify frame), zero
 * padding.  Return: ANNOUNCE_GARP_LEN.
 */
size_t announce_garp(uint8_t buf[ANNOUNCE_GARP_LEN], const uint8_t mac[6],
		     const uint8_t ipv4[4]);

/**
 * announce_na() - an unsolicited neighbour advertisement of @ipv6 at @mac
 * @buf:	ANNOUNCE_NA_LEN bytes
 * @ipv6:	the address, network byte order
 *
 * To 33:33:00:00:00:01 / ff02::1 from @mac / @ipv6, hop limit 255, Override
 * set, Solicited and Router clear, target @ipv6, a target link-layer
 * address option with @mac, ICMPv6 checksum filled in (the frame Linux
 * sends with ndisc_notify).  Return: ANNOUNCE_NA_LEN.
 */
size_t announce_na(uint8_t buf[ANNOUNCE_NA_LEN], const uint8_t mac[6],
		   const uint8_t ipv6[16]);

/**
 * announce_tag_vlan() - insert an 802.1Q tag (TPID 0x8100, priority 0)
 * after the source MAC of a frame built above
 * @buf:	frame of @len bytes in a buffer of @cap bytes
 * @vid:	VLAN ID, 1..4094
 *
 * Return: the new length, @len + ANNOUNCE_VLAN_HLEN, or 0 (nothing
 * changed) when @len < 14, @cap is too small or @vid is out of range.
 */
size_t announce_tag_vlan(uint8_t *buf, size_t len, size_t cap, uint16_t vid);

#endif /* NH_ANNOUNCE_H */
